/* `forge import` and `forge export`. */
#include <stdio.h>

#include "cli/cmds.h"

int cli_import(struct cli_ctx *c, struct cli_args *a)
{
    (void)c;
    (void)a;
    return CLI_EXIT_USAGE;
}

int cli_export(struct cli_ctx *c, struct cli_args *a)
{
    (void)c;
    (void)a;
    return CLI_EXIT_USAGE;
}
