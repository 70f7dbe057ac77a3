/*
 * Fuzz target `config` (src/util/config.c): the .env parser and every variable's value parser.
 * The input is written to a private file and loaded as the env file (FORGE_ENV_FILE semantics);
 * a loaded configuration is printed (secrets masked) and freed. Each "NAME=value" line is also
 * checked alone with fg_config_check and applied with fg_config_set to a default configuration.
 * Invariant: a failure always comes with a non-empty, NUL-terminated message.
 */
#include "fuzz_common.h"
#include "util/config.h"

static FILE *devnull;
static char path[600];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    devnull = fopen("/dev/null", "w");
    snprintf(path, sizeof path, "%s/env", fuzz_tmpdir());
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024 || !devnull)
        return 0;
    if (!path[0])
        LLVMFuzzerInitialize(NULL, NULL);
    if (fuzz_write_file(path, data, size) != 0)
        return 0;
    struct fg_config c;
    char err[512];
    err[0] = '\0';
    if (fg_config_load(&c, path, err, sizeof err) == 0) {
        fg_config_print(&c, devnull);
        char v[256];
        (void)fg_config_get(&c, "PORT", v, sizeof v);
        /* Apply each line on top of the loaded configuration too. */
        char *text = fuzz_strndup(data, size), *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            char *eq = strchr(line, '=');
            if (!eq)
                continue;
            *eq = '\0';
            char e2[256];
            e2[0] = '\0';
            if (fg_config_check(line, eq + 1, e2, sizeof e2) != 0)
                FUZZ_ASSERT(e2[0] != '\0' && memchr(e2, '\0', sizeof e2));
            e2[0] = '\0';
            if (fg_config_set(&c, line, eq + 1, e2, sizeof e2) != 0)
                FUZZ_ASSERT(e2[0] != '\0');
            if (fg_config_get(&c, line, v, sizeof v) == 0)
                FUZZ_ASSERT(memchr(v, '\0', sizeof v) != NULL);
        }
        free(text);
        fg_config_free(&c);
    } else {
        FUZZ_ASSERT(err[0] != '\0' && memchr(err, '\0', sizeof err) != NULL);
    }
    return 0;
}
