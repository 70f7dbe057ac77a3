/* forge: server, admin tool and client in one binary. Argument dispatch only. */
#include <stdio.h>
#include <string.h>

#include "cli/client.h"
#include "cli/commands.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: forge <command> [options]\n\ncommands:\n");
    for (const struct cli_command *c = cli_commands; c->name; c++)
        fprintf(out, "  %s\n", c->usage);
    fprintf(out, "\nforge help COMMAND shows a command's options and exit codes (forge help "
                 "--man: the man page).\n");
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "help") == 0)
        return cli_help_main(argc - 1, argv + 1);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0)
        return cmd_version(0, NULL);
    for (const struct cli_command *c = cli_commands; c->name; c++)
        if (strcmp(c->name, argv[1]) == 0)
            return c->run(argc - 1, argv + 1);
    fprintf(stderr, "forge: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
