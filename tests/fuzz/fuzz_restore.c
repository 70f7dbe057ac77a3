/*
 * Fuzz target `restore` (src/store/sqlite/sqlite.c): `forge restore` input. The input is written
 * as a backup file and handed to store_sqlite_restore (integrity check, Forge-database check,
 * copy through the backup API, check of the copy, swap into place); a restored database is then
 * opened by the SQLite store, which runs the migration checks (a database from a newer Forge or
 * with unknown migrations is refused) and migrates it.
 * Invariants: every refusal comes with a message; a restored file passes
 * store_sqlite_check_file; nothing crashes or leaks on a hostile database file.
 */
#include "fuzz_common.h"
#include "store/store.h"
#include "util/config.h"
#include "util/log.h"

enum fg_err store_sqlite_check_file(const char *path, char *err, size_t errlen);
enum fg_err store_sqlite_restore(const char *src, const char *dst, int force, char *err,
                                 size_t errlen);
enum fg_err store_sqlite_open(const char *path, const struct fg_config *cfg, struct store **out,
                              char *err, size_t errlen);

static char src[600], dst[600];
static struct fg_config cfg;
static int have_cfg;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fg_log_init(FG_LOG_ERROR, 0); /* no "migration_applied" line per input */
    snprintf(src, sizeof src, "%s/backup.db", fuzz_tmpdir());
    snprintf(dst, sizeof dst, "%s/forge.db", fuzz_tmpdir());
    char err[256];
    have_cfg = fg_config_load(&cfg, "/dev/null", err, sizeof err) == 0;
    if (!have_cfg)
        fprintf(stderr, "fuzz_restore: config: %s\n", err);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!src[0])
        LLVMFuzzerInitialize(NULL, NULL);
    if (size > 4 * 1024 * 1024 || !have_cfg)
        return 0;
    if (fuzz_write_file(src, data, size) != 0)
        return 0;
    char err[1024] = "";
    enum fg_err e = store_sqlite_restore(src, dst, 1, err, sizeof err);
    if (e != FG_OK) {
        FUZZ_ASSERT(err[0] != '\0');
        return 0;
    }
    err[0] = '\0';
    FUZZ_ASSERT(store_sqlite_check_file(dst, err, sizeof err) == FG_OK);
    struct store *st = NULL;
    err[0] = '\0';
    if (store_sqlite_open(dst, &cfg, &st, err, sizeof err) == FG_OK) {
        FUZZ_ASSERT(st != NULL);
        int applied = 0;
        (void)st->ops->migrate(st, &applied); /* refusals (newer or foreign schema) are fine */
        store_close(st);
    } else {
        FUZZ_ASSERT(err[0] != '\0');
    }
    remove(dst);
    return 0;
}
