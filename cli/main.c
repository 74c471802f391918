/* marlsim — entry point: dispatches to the commands of SPEC §2. */
#include <string.h>

#include "cli/cli.h"

static const char usage[] =
    "usage: marlsim COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  run CONFIG.ini [--seed N] [--out PATH.db] [--set section.key=value]... [--keyring K] [--force] [--quiet] [--json]\n"
    "                       train the three agents, recording everything in a signed lake\n"
    "  eval [CONFIG.ini] --policy random|heuristic|oracle|RUN.db|RELEASE [--approvers FILE] [--set ...] [--json]\n"
    "                       greedy play of the held-out evaluation episodes\n"
    "  verify RUN.db [--checkpoint FILE] [--pubkey KEY | --keyring K] [--allow-incomplete] [--json]\n"
    "                       re-derive every hash and check the signed checkpoints\n"
    "  prove RUN.db --entry I [--size N] | --from N1 --to N2;  prove --check PROOF\n"
    "                       RFC 6962 inclusion and consistency proofs\n"
    "  reproduce RUN.db [--out PATH.db] [--force] [--keyring K]\n"
    "                       re-run a lake's config and seed and compare ledgers row by row\n"
    "  purge RUN.db (--policy-from CONFIG.ini | --class CLASS --before-step N) [--keyring K] [--json]\n"
    "                       remove payloads, leaving tombstones; chained and signed\n"
    "  export RUN.db --class CLASS --out PATH.db [--force] [--pubkey KEY | --keyring K] [--json]\n"
    "                       a lake with one class's payloads that verifies on its own\n"
    "  keys init|rotate|list|pubkey|destroy GEN [--keyring K]\n"
    "                       the keyring: key generations and the signing key\n"
    "  audit RUN.db [--pubkey KEY | --keyring K] [--release FILE --approvers FILE] [--json]\n"
    "                       compliance checks: findings with a severity, one outcome\n"
    "  card RUN.db [--out FILE.md] [--pubkey KEY | --keyring K]\n"
    "                       a model card (Markdown) from the verified lake alone\n"
    "  approve RUN.db --as NAME --keyring K [--pubkey RUNKEY] [--out FILE]\n"
    "                       sign an approval of the run's promoted policy\n"
    "  release RUN.db --approvers FILE --approval A --approval B [--pubkey RUNKEY] [--out FILE]\n"
    "                       bundle the policy with two approvals (four eyes)\n"
    "  report RUN.db [--out FILE.html] [--pubkey KEY | --keyring K] [--json]\n"
    "                       one self-contained HTML file: learning curve, outcomes, rules, credit, ...\n"
    "  compare A.db B.db [C.db ...] [--pubkey KEY | --keyring K] [--json]\n"
    "                       runs side by side: config keys that differ, scores, curves, rule hits, speed\n"
    "\n"
    "  marlsim help COMMAND | marlsim COMMAND --help   details of one command\n"
    "  marlsim --version\n"
    "\n"
    "exit codes: 0 success, 1 a check failed, 2 bad usage, bad input or I/O failure,\n"
    "130/143 a run stopped by SIGINT/SIGTERM (after committing)\n";

typedef struct command {
    const char *name;
    int (*fn)(int, char **);
} command;

static const command commands[] = {{"run", cmd_run},       {"eval", cmd_eval}, {"verify", cmd_verify},
                                   {"reproduce", cmd_reproduce}, {"keys", cmd_keys}, {"prove", cmd_prove},
                                   {"purge", cmd_purge},     {"export", cmd_export}, {"audit", cmd_audit},
                                   {"card", cmd_card},       {"approve", cmd_approve}, {"release", cmd_release},
                                   {"report", cmd_report},   {"compare", cmd_compare}};
#define NCOMMANDS (int)(sizeof commands / sizeof commands[0])

int main(int argc, char **argv)
{
    cli_argv = argv;
    if (argc < 2)
        return cli_usage(usage, "missing command");
    const char *cmd = argv[1];
    if (!strcmp(cmd, "help") && argc == 3) { /* help COMMAND = COMMAND --help */
        for (int k = 0; k < NCOMMANDS; k++)
            if (!strcmp(argv[2], commands[k].name)) {
                char *args[] = {argv[2], "--help", NULL};
                return commands[k].fn(2, args);
            }
        return cli_usage(usage, "help: unknown command '%s'", argv[2]);
    }
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
    for (int k = 0; k < NCOMMANDS; k++)
        if (!strcmp(cmd, commands[k].name))
            return commands[k].fn(argc - 1, argv + 1);
    return cli_usage(usage, "unknown command '%s'", cmd);
}
