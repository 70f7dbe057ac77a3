/*
 * Subcommands of the `forge` binary. Each takes argc/argv after the command name and returns the
 * process exit code: 0 success, 1 failure, 2 bad usage or configuration.
 */
#ifndef CLI_COMMANDS_H
#define CLI_COMMANDS_H

struct fg_config;

struct cli_command {
    const char *name; /* "serve", "config", "admin", ... */
    int (*run)(int argc, char **argv);
    const char *usage; /* one line */
};

/** NULL-terminated table (cli/commands.c). */
extern const struct cli_command cli_commands[];

int cmd_serve(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_reindex(int argc, char **argv); /* cli/reindex.c */
int cmd_backup(int argc, char **argv);  /* cli/backup.c */
int cmd_restore(int argc, char **argv); /* cli/backup.c */
int cmd_admin(int argc, char **argv);   /* dispatches to cli_admin_commands */

/** `forge admin <name>` subcommands, NULL-terminated (cli/commands.c); argv[0] is the name. */
extern const struct cli_command cli_admin_commands[];
int cmd_admin_audit_verify(int argc, char **argv); /* cli/admin_audit.c */
int cmd_admin_retention(int argc, char **argv);    /* cli/admin_retention.c */
int cmd_admin_create_user(int argc, char **argv);  /* cli/admin.c */
int cmd_admin_export_user(int argc, char **argv);  /* cli/admin_privacy.c */
struct fg_config;
/** After `forge restore`: re-applies the erasure ledger (cli/admin_privacy.c). 0 ok, 1 failed. */
int cli_privacy_reapply(struct fg_config *cfg);

int cmd_admin_encrypt_existing(int argc, char **argv);  /* cli/admin_crypt.c */
int cmd_admin_rotate_master_key(int argc, char **argv); /* cli/admin_crypt.c */
int cmd_admin_keys_status(int argc, char **argv);       /* cli/admin_crypt.c */

/** Loads configuration and initialises logging; prints "forge: VAR: message" and returns 2 on
 * error. */
int cli_load_config(struct fg_config *cfg);

#endif
