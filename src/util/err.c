#include "util/err.h"

const char *fg_err_name(enum fg_err e)
{
    switch (e) {
    case FG_OK:
        return "ok";
    case FG_EINVAL:
        return "invalid";
    case FG_ENOMEM:
        return "no_memory";
    case FG_EIO:
        return "io";
    case FG_EDB:
        return "store";
    case FG_ENOTFOUND:
        return "not_found";
    case FG_ECONFLICT:
        return "conflict";
    case FG_EFORBIDDEN:
        return "forbidden";
    case FG_EUNAUTH:
        return "unauthenticated";
    case FG_ELIMIT:
        return "limit";
    case FG_EUNAVAIL:
        return "unavailable";
    case FG_ETIMEOUT:
        return "timeout";
    case FG_EINTERNAL:
        return "internal";
    }
    return "unknown";
}
