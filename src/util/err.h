/* Project-wide error codes. Every fallible function returns one; FG_OK is 0. */
#ifndef FG_ERR_H
#define FG_ERR_H

#include <stddef.h>

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

/**
 * Why a call failed: the one details structure every module fills next to its enum fg_err, and
 * the one src/api/error.c turns into a {"code","message","details"} reply. Zero it before the
 * call; a module sets only the members its error needs (the rest keep their "absent" value).
 */
struct fg_why {
    const char *field;   /* FG_EINVAL: the field at fault (NULL: "body") */
    const char *what;    /* FG_ENOTFOUND: what is missing (NULL: "resource") */
    char message[320];   /* text for the client ("": the code's default text) */
    const char *rule;    /* FG_EFORBIDDEN / FG_ECONFLICT: the rule that refused */
    int required_trust;  /* rule "trust" */
    int actual_trust;    /* rule "trust"; < 0: not reported */
    long long children;  /* rule "live_children" */
    size_t position;     /* FG_EINVAL on a query's syntax: 1-based character (0: none) */
    const char *edge_id; /* FG_ECONFLICT on a duplicate edge: the edge that exists */
};

/** Short stable name of an error code ("invalid", "not_found", ...). Never NULL. */
const char *fg_err_name(enum fg_err e);

#endif
