/*
 * cmd_pending — subcommands named by DESIGN.md whose capabilities have not landed yet (verify:
 * issue 6).  They answer --help with what they will do and otherwise fail
 * clearly with exit code 1, so scripts never mistake them for success.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static int pending(int argc, char **argv, const char *usage, const char *what)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage, stdout);
            return 0;
        }
    fprintf(stderr, "setm %s: not available in this version yet (%s)\n", argv[0], what);
    return 1;
}

int cli_verify(int argc, char **argv)
{
    return pending(argc, argv,
                   "usage: setm verify OUT.h5\n"
                   "  re-check every block, Merkle root and balance of a run (not available yet)\n",
                   "verification arrives with the chain tables");
}
