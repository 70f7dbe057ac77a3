/* Opens the key store that belongs to DATABASE_URL (store/keys.h). */
#include "store/keys.h"

#include <stdio.h>
#include <string.h>

#include "util/config.h"

enum fg_err store_keystore_sqlite_open(const char *path, struct store_keystore **out, char *err,
                                       size_t errlen);
enum fg_err store_keystore_pg_open(const char *url, struct store_keystore **out, char *err,
                                   size_t errlen);

void store_keystore_sqlite_path(const char *url, char *out, size_t cap)
{
    out[0] = '\0';
    if (strncmp(url, "sqlite://", 9) != 0)
        return;
    const char *path = url + 9; /* as store_open: sqlite:///abs, sqlite:///./rel */
    if (strncmp(path, "/./", 3) == 0 || strncmp(path, "/../", 4) == 0)
        path++;
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(out, cap, "keys.db");
    else
        snprintf(out, cap, "%.*s/keys.db", (int)(slash - path), path);
}

enum fg_err store_keystore_open(const struct fg_config *cfg, struct store_keystore **out, char *err,
                                size_t errlen)
{
    const char *url = cfg->database_url;
    *out = NULL;
    if (strncmp(url, "sqlite://", 9) == 0) {
        char path[4096];
        store_keystore_sqlite_path(url, path, sizeof path);
        return store_keystore_sqlite_open(path, out, err, errlen);
    }
    if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0)
        return store_keystore_pg_open(url, out, err, errlen);
    snprintf(err, errlen, "DATABASE_URL: unsupported scheme (sqlite:// or postgresql://)");
    return FG_EINVAL;
}
