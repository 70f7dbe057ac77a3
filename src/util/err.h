/* Project-wide error codes. Every fallible function returns one; FG_OK is 0. */
#ifndef FG_ERR_H
#define FG_ERR_H

enum fg_err {
    FG_OK = 0,
    FG_EINVAL,     /* bad input (validation) */
    FG_ENOMEM,     /* allocation refused by a limit */
    FG_EIO,        /* file or network I/O */
    FG_EDB,        /* store failure */
    FG_ENOTFOUND,  /* no such resource */
    FG_ECONFLICT,  /* state conflict (duplicate, live children, ...) */
    FG_EFORBIDDEN, /* authenticated but not allowed */
    FG_EUNAUTH,    /* not authenticated */
    FG_ELIMIT,     /* a limit was exceeded */
    FG_EUNAVAIL,   /* dependency unavailable (store, embedder, ...) */
    FG_ETIMEOUT,   /* deadline passed */
    FG_EINTERNAL,  /* invariant broken */
};

/** Short stable name of an error code ("invalid", "not_found", ...). Never NULL. */
const char *fg_err_name(enum fg_err e);

#endif
