#include "store/store.h"

#include <stdio.h>
#include <string.h>

#include "core/crypt.h"
#include "util/config.h"

enum fg_err store_sqlite_open(const char *path, const struct fg_config *cfg, struct store **out,
                              char *err, size_t errlen);
enum fg_err store_pg_open(const char *url, const struct fg_config *cfg, struct store **out,
                          char *err, size_t errlen);

static enum fg_err store_open_backend(const struct fg_config *cfg, struct store **out, char *err,
                                      size_t errlen)
{
    const char *url = cfg->database_url;
    *out = NULL;
    if (strncmp(url, "sqlite://", 9) == 0) {
        /* sqlite:///var/lib/forge/forge.db is absolute; sqlite:///./data/forge.db is relative */
        const char *path = url + 9;
        if (strncmp(path, "/./", 3) == 0 || strncmp(path, "/../", 4) == 0)
            path++;
        return store_sqlite_open(path, cfg, out, err, errlen);
    }
    if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0) {
        return store_pg_open(url, cfg, out, err, errlen);
    }
    snprintf(err, errlen, "DATABASE_URL: unsupported scheme (sqlite:// or postgresql://)");
    return FG_EINVAL;
}

/* Every store is opened with its key store and wrapped by the crypt decorator (core/crypt.h):
 * personal columns are sealed on write and opened on read for every caller. */
enum fg_err store_open(const struct fg_config *cfg, struct store **out, char *err, size_t errlen)
{
    enum fg_err e = store_open_backend(cfg, out, err, errlen);
    if (e != FG_OK)
        return e;
    if (fg_crypt_open(cfg, err, errlen) != 0) {
        store_close(*out);
        *out = NULL;
        return FG_EINVAL;
    }
    fg_crypt_wrap_store(*out);
    return FG_OK;
}
