/* marlsim — entry point: dispatches to the commands of SPEC §2. */
#include <string.h>

#include "cli/cli.h"

static const char usage[] =
    "usage: marlsim COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  run CONFIG.ini [--seed N] [--out PATH.db] [--set section.key=value]... [--force] [--quiet] [--json]\n"
    "                       train the three agents, recording everything in a lake\n"
    "  eval CONFIG.ini --policy random|heuristic|oracle|RUN.db [--set ...] [--json]\n"
    "                       greedy play of the held-out evaluation episodes\n"
    "  verify RUN.db        re-derive every hash of a lake (exit 0 intact, 1 tampered, 2 unreadable)\n"
    "  reproduce RUN.db [--out PATH.db] [--force]\n"
    "                       re-run a lake's config and seed and compare ledgers row by row\n"
    "\n"
    "  marlsim COMMAND --help   details of one command\n"
    "  marlsim --version\n"
    "\n"
    "exit codes: 0 success, 1 a check failed, 2 bad usage or bad input\n";

int main(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage(usage, "missing command");
    const char *cmd = argv[1];
    int global = !strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help") || !strcmp(cmd, "--version");
    if (global && argc > 2)
        return cli_usage(usage, "%s takes no arguments (got '%s')", cmd, argv[2]);
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(usage, stdout);
        return EXIT_OK;
    }
    if (!strcmp(cmd, "--version")) {
        printf("marlsim %s\n", MS_VERSION);
        return EXIT_OK;
    }
    if (!strcmp(cmd, "run"))
        return cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "eval"))
        return cmd_eval(argc - 1, argv + 1);
    if (!strcmp(cmd, "verify"))
        return cmd_verify(argc - 1, argv + 1);
    if (!strcmp(cmd, "reproduce"))
        return cmd_reproduce(argc - 1, argv + 1);
    return cli_usage(usage, "unknown command '%s'", cmd);
}
