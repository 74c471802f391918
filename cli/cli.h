/* cli.h — the command layer: the only code that prints to the user and
 * chooses exit codes (0 success, 1 a check failed, 2 bad usage or input). */
#ifndef MS_CLI_H
#define MS_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "base/version.h"
#include "sim/config.h"


enum { EXIT_OK = 0, EXIT_CHECK = 1, EXIT_USAGE = 2 };

int cmd_run(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_reproduce(int argc, char **argv);

/* The options of every command; which ones a command accepts is a set of
 * CLI_OPT_* bits. */
enum { CLI_OPT_JSON = 1, CLI_OPT_QUIET = 2, CLI_OPT_FORCE = 4, CLI_OPT_SEED = 8, CLI_OPT_OUT = 16,
       CLI_OPT_SET = 32, CLI_OPT_POLICY = 64 };
#define CLI_MAX_SETS 256
typedef struct cli_args {
    const char *file;  /* the one positional argument */
    const char *seed, *out, *policy;
    char *sets[CLI_MAX_SETS];
    int nsets, json, quiet, force;
} cli_args;

/* Parses argv[1..argc) (argv[0] is the command). Returns -1 after printing
 * usage for --help (exit 0), EXIT_USAGE after printing what is wrong, or
 * EXIT_OK. `what` names the positional argument for a missing one. */
int cli_parse_args(int argc, char **argv, unsigned allowed, const char *usage, const char *what, cli_args *a);

/* Prints "marlsim: msg" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Usage error: prints the message and the command's usage, returns 2. */
int cli_usage(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Maps a library status to an exit code (MS_ECHECK → 1, others → 2). */
int cli_exit_for(int status);

/* Loads the config file, applies --seed (if not NULL) and every --set, and
 * runs the cross-key checks. Prints the error and returns 2 on failure. */
int cli_load_config(ms_config *c, const char *path, char **sets, int nsets, const char *seed);

struct exp_result;
/* Runs the experiment c into a new lake at path (replacing one only when
 * force) with SIGINT/SIGTERM handling and a progress bar when
 * show_progress. interrupt_at > 0 replays an interruption after that many
 * env-steps. Prints errors; returns the exit code. res->status is "" when no
 * lake was created. */
int cli_run_experiment(const ms_config *c, const char *path, int force, int show_progress, int64_t interrupt_at,
                       struct exp_result *res);

/* JSON string literal of s on f. */
void cli_json_string(FILE *f, const char *s);

#endif
