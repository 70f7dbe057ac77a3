#include "cli/commands.h"

#include <stddef.h>
#include <stdio.h>

#include "util/config.h"
#include "util/log.h"

const struct cli_command cli_commands[] = {
    {"serve", cmd_serve, "serve [--host H] [--port P]   run the HTTP server"},
    {"migrate", cmd_migrate, "migrate                        apply pending schema migrations"},
    {"config", cmd_config, "config check|docs              validate and print the configuration"},
    {"version", cmd_version, "version                        print the version"},
    {NULL, NULL, NULL},
};

int cli_load_config(struct fg_config *cfg)
{
    char err[512];
    if (fg_config_load(cfg, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "forge: configuration error: %s\n", err);
        fg_config_free(cfg);
        return 2;
    }
    int json = cfg->log_format == 1 || (cfg->log_format == 0 && cfg->environment != FG_ENV_DEVELOPMENT);
    fg_log_init((enum fg_log_level)cfg->log_level, json);
    return 0;
}

int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("forge %s\n", FORGE_VERSION);
    return 0;
}
