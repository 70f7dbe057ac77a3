#include "cli/commands.h"

#include <stddef.h>
#include <stdio.h>
#include <unistd.h>
#include <string.h>

#include "cli/client.h"
#include "util/config.h"
#include "util/log.h"

const struct cli_command cli_commands[] = {
    {"serve", cmd_serve, "serve [--host H] [--port P]   run the HTTP server"},
    {"migrate", cmd_migrate, "migrate                        apply pending schema migrations"},
    {"config", cmd_config, "config check|docs              validate and print the configuration"},
    {"backup", cmd_backup, "backup FILE                    consistent online copy of the database"},
    {"restore", cmd_restore,
     "restore FILE [--force]         replace the (stopped) database with a backup"},
    {"admin", cmd_admin, "admin <command>                administration (forge admin help)"},
    {"reindex", cmd_reindex,
     "reindex                        re-embed every capsule and rebuild the vector index"},
    {"version", cmd_version, "version                        print the version"},
    /* the client (src/cli/spec.c has their options and help) */
    {"register", cli_client_main, "register [URL]                 create an account and log in"},
    {"login", cli_client_main, "login [URL]                    log in to a Forge server"},
    {"logout", cli_client_main, "logout                         end the session"},
    {"whoami", cli_client_main, "whoami                         the current account"},
    {"status", cli_client_main, "status                         server and session state"},
    {"capsule", cli_client_main, "capsule <command>              create, read, change capsules"},
    {"search", cli_client_main, "search QUERY                   search capsules"},
    {"import", cli_client_main, "import PATH...                 import Markdown/text files"},
    {"export", cli_client_main, "export DIR                     write capsules as files"},
    {"proposal", cli_client_main, "proposal <command>             governance proposals"},
    {"completion", cli_client_main, "completion bash|zsh            shell completion script"},
    {"mcp", cli_client_main, "mcp                            MCP server over stdio (AI agents)"},
    {"graph", cli_client_main, "graph <command>                typed edges: neighbors, paths"},
    {"overlay", cli_client_main, "overlay <command>              register, run, manage overlays"},
    {NULL, NULL, NULL},
};

const struct cli_command cli_admin_commands[] = {
    {"create-user", cmd_admin_create_user,
     "admin create-user --email E [--role R]... [--trust T] [--display-name N]  (password: "
     "FORGE_ADMIN_PASSWORD or stdin)"},
    {"audit-verify", cmd_admin_audit_verify,
     "admin audit-verify [--json]    verify the audit hash chain (exit 1 when tampered)"},
    {"retention", cmd_admin_retention,
     "admin retention [--dry-run] [--json]  apply the RETENTION_* purges once (dry run: counts "
     "only)"},
    {"encrypt-existing", cmd_admin_encrypt_existing,
     "admin encrypt-existing [--batch N]  seal personal data stored before encryption at rest"},
    {"rotate-master-key", cmd_admin_rotate_master_key,
     "admin rotate-master-key        re-wrap every data key under FORGE_MASTER_KEY_NEW (online, "
     "resumable)"},
    {"keys-status", cmd_admin_keys_status,
     "admin keys-status              KEK version, data key count, rotation state (JSON)"},
    {"export-user", cmd_admin_export_user,
     "admin export-user ID|EMAIL [--out FILE]  a user's data as JSON (GDPR access/portability)"},
    {NULL, NULL, NULL},
};

int cmd_admin(int argc, char **argv)
{
    if (argc >= 2)
        for (const struct cli_command *c = cli_admin_commands; c->name; c++)
            if (strcmp(c->name, argv[1]) == 0)
                return c->run(argc - 1, argv + 1);
    int help = argc >= 2 && (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0);
    if (argc >= 2 && !help)
        fprintf(stderr, "forge admin: unknown command '%s'\n", argv[1]);
    fprintf(help ? stdout : stderr, "usage: forge admin <command>\n\ncommands:\n");
    for (const struct cli_command *c = cli_admin_commands; c->name; c++)
        fprintf(help ? stdout : stderr, "  %s\n", c->usage);
    return help ? 0 : 2;
}

int cli_load_config(struct fg_config *cfg)
{
    char err[512];
    if (fg_config_load(cfg, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "forge: configuration error: %s\n", err);
        fg_config_free(cfg);
        return 2;
    }
    int json =
        cfg->log_format == 1 || (cfg->log_format == 0 && cfg->environment != FG_ENV_DEVELOPMENT);
    fg_log_init(cfg->debug ? FG_LOG_DEBUG : (enum fg_log_level)cfg->log_level, json);
    /* a command's standard output is its result (JSON, exports); `forge serve` logs to stdout */
    fg_log_set_fd(STDERR_FILENO);
    return 0;
}

int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("forge %s\n", FORGE_VERSION);
    return 0;
}
