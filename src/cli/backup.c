/*
 * `forge backup FILE` and `forge restore FILE [--force]` (docs/operations/backup.md).
 *
 * backup: an online, consistent copy through the store's backup operation (SQLite backup API in
 * one read transaction: the server keeps serving writes meanwhile), written next to FILE and
 * renamed into place, then checked with PRAGMA integrity_check.
 * restore: SQLite: refuses while any forge process has the database open, refuses to
 * replace an existing database without --force, checks FILE before and the copy after copying,
 * and swaps the file in atomically (store_sqlite_restore in store/sqlite/sqlite.c).
 * PostgreSQL: FILE is a `forge backup` dump (pg_dump custom format) loaded with pg_restore
 * --clean --if-exists in one transaction (store_pg_restore in store/pg/pg.c); it replaces every
 * Forge table of the DATABASE_URL database, so it always needs --force. Stop the servers first:
 * PostgreSQL lets the restore run beside them, but their in-memory indexes would not know.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "core/crypt.h"
#include "store/keys.h"
#include "store/store.h"
#include "util/config.h"

/* store/sqlite/sqlite.c */
enum fg_err store_sqlite_check_file(const char *path, char *err, size_t errlen);
enum fg_err store_sqlite_restore(const char *src, const char *dst, int force, char *err,
                                 size_t errlen);
/* store/pg/pg.c */
enum fg_err store_pg_restore(const char *url_with_pw, const char *path, char *err, size_t errlen);
/* store/sqlite/keys.c, store/pg/keys.c: the key store (store/keys.h) */
enum fg_err store_keystore_sqlite_restore(const char *src, const char *dst, int force, char *err,
                                          size_t errlen);
enum fg_err store_keystore_pg_restore(const char *url_with_pw, const char *path, char *err,
                                      size_t errlen);

/* 1 when `url` names a PostgreSQL database. */
static int is_pg_url(const char *url)
{
    return strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0;
}

/* forge restore on PostgreSQL (see the comment at the top). Never prints the URL: it may hold
 * the password. */
static int restore_pg(const struct fg_config *cfg, const char *file, int force)
{
    struct stat sb;
    char err[1024];
    if (stat(file, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fprintf(stderr, "forge restore: cannot read '%s'\n", file);
        return 1;
    }
    if (!force) {
        fprintf(stderr, "forge restore: restoring replaces every Forge table in the PostgreSQL "
                        "database of DATABASE_URL; run again with --force\n");
        return 1;
    }
    if (store_pg_restore(cfg->database_url, file, err, sizeof err) != FG_OK) {
        fprintf(stderr, "forge restore: %s\n", err);
        return 1;
    }
    printf("forge restore: %s restored into the PostgreSQL database of DATABASE_URL\n", file);
    return 0;
}

/* The file of a sqlite:// DATABASE_URL (as store_open reads it), or NULL for other stores. */
static const char *sqlite_path(const char *url)
{
    if (strncmp(url, "sqlite://", 9) != 0)
        return NULL;
    const char *p = url + 9;
    if (strncmp(p, "/./", 3) == 0 || strncmp(p, "/../", 4) == 0)
        p++;
    return p;
}

/* `forge backup --keys FILE`: the key store alone (docs/operations/backup.md, "Key store"). */
static int backup_keys(const char *file)
{
    struct fg_config cfg;
    int rc = cli_load_config(&cfg);
    if (rc)
        return rc;
    char err[1024];
    rc = 1;
    if (fg_crypt_open(&cfg, err, sizeof err) != 0) {
        fprintf(stderr, "forge backup --keys: %s\n", err);
    } else {
        struct store_keystore *ks = fg_crypt_keystore();
        long long n = 0;
        ks->ops->count(ks, &n);
        if (ks->ops->backup(ks, file, err, sizeof err) != FG_OK) {
            fprintf(stderr, "forge backup --keys: %s\n", err);
        } else {
            printf("forge backup: wrote the key store to %s (%lld data keys; store it apart from "
                   "the data backups)\n",
                   file, n);
            rc = 0;
        }
        fg_crypt_close();
    }
    fg_config_free(&cfg);
    return rc;
}

/* `forge restore --keys FILE [--force]`. */
static int restore_keys(const char *file, int force)
{
    struct fg_config cfg;
    int rc = cli_load_config(&cfg);
    if (rc)
        return rc;
    char err[1024], path[4096];
    enum fg_err e;
    store_keystore_sqlite_path(cfg.database_url, path, sizeof path);
    if (path[0]) {
        e = store_keystore_sqlite_restore(file, path, force, err, sizeof err);
    } else if (!force) {
        snprintf(err, sizeof err,
                 "restoring replaces the forge_keys schema of the DATABASE_URL "
                 "database; run again with --force");
        e = FG_EINVAL;
    } else {
        e = store_keystore_pg_restore(cfg.database_url, file, err, sizeof err);
    }
    if (e != FG_OK) {
        fprintf(stderr, "forge restore --keys: %s\n", err);
        rc = 1;
    } else {
        printf("forge restore: key store restored from %s\n", file);
    }
    fg_config_free(&cfg);
    return rc;
}

int cmd_backup(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--keys") == 0 && argv[2][0] != '-')
        return backup_keys(argv[2]);
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: forge backup FILE | forge backup --keys FILE\n");
        return 2;
    }
    const char *file = argv[1];
    struct fg_config cfg;
    int rc = cli_load_config(&cfg);
    if (rc)
        return rc;
    char err[1024];
    struct store *st = NULL;
    const char *db = sqlite_path(cfg.database_url);
    struct stat sb;
    rc = 1;
    if (db && stat(db, &sb) != 0) {
        fprintf(stderr, "forge backup: no database at '%s'\n", db);
        goto out;
    }
    if (store_open(&cfg, &st, err, sizeof err) != FG_OK) {
        fprintf(stderr, "forge backup: %s\n", err);
        goto out;
    }
    enum fg_err e = st->ops->backup(st, file, err, sizeof err);
    store_close(st);
    if (e != FG_OK) {
        fprintf(stderr, "forge backup: %s\n", err);
        goto out;
    }
    if (db && store_sqlite_check_file(file, err, sizeof err) != FG_OK) {
        fprintf(stderr, "forge backup: the copy is damaged: %s\n", err);
        goto out;
    }
    long long size = stat(file, &sb) == 0 ? (long long)sb.st_size : -1;
    printf("forge backup: wrote %s (%lld bytes)%s\n", file, size, db ? ", integrity_check ok" : "");
    printf("forge backup: the key store is not in this file: back it up with forge backup --keys "
           "(docs/operations/backup.md)\n");
    rc = 0;
out:
    fg_config_free(&cfg);
    return rc;
}

int cmd_restore(int argc, char **argv)
{
    const char *file = NULL;
    int force = 0, keys = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--keys") == 0) {
            keys = 1;
        } else if (strcmp(argv[i], "--force") == 0) {
            force = 1;
        } else if (argv[i][0] != '-' && !file) {
            file = argv[i];
        } else {
            file = NULL;
            break;
        }
    }
    if (!file) {
        fprintf(stderr, "usage: forge restore [--keys] FILE [--force]\n");
        return 2;
    }
    if (keys)
        return restore_keys(file, force);
    struct fg_config cfg;
    int rc = cli_load_config(&cfg);
    if (rc)
        return rc;
    const char *db = sqlite_path(cfg.database_url);
    if (!db && is_pg_url(cfg.database_url)) {
        rc = restore_pg(&cfg, file, force);
        if (rc == 0) /* erasures newer than the backup are applied again before serving */
            rc = cli_privacy_reapply(&cfg);
        fg_config_free(&cfg);
        return rc;
    }
    if (!db) {
        fprintf(stderr, "forge restore: unsupported DATABASE_URL scheme\n");
        fg_config_free(&cfg);
        return 2;
    }
    char err[1024];
    enum fg_err e = store_sqlite_restore(file, db, force, err, sizeof err);
    if (e != FG_OK) {
        fprintf(stderr, "forge restore: %s\n", err);
        rc = 1;
    } else {
        printf("forge restore: %s restored into %s (integrity_check ok)\n", file, db);
        rc = cli_privacy_reapply(&cfg); /* erasures newer than the backup, before serving */
    }
    fg_config_free(&cfg);
    return rc;
}
