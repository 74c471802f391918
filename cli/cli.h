/* cli.h — the command layer: the only code that prints to the user and
 * chooses exit codes (0 success, 1 a check failed, 2 bad usage, bad input
 * or an I/O failure; 130 / 143 after SIGINT / SIGTERM). */
#ifndef MS_CLI_H
#define MS_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "base/version.h"
#include "sim/config.h"

enum { EXIT_OK = 0, EXIT_CHECK = 1, EXIT_USAGE = 2, EXIT_SIGINT = 130, EXIT_SIGTERM = 143 };

int cmd_run(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_reproduce(int argc, char **argv);
int cmd_keys(int argc, char **argv);
int cmd_prove(int argc, char **argv);
int cmd_purge(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_card(int argc, char **argv);
int cmd_approve(int argc, char **argv);
int cmd_release(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_compare(int argc, char **argv);

/* The options of every command; which ones a command accepts is a set of
 * CLI_OPT_* bits. Every option with a value takes it as `--opt value` or
 * `--opt=value`. */
enum {
    CLI_OPT_JSON = 1 << 0, CLI_OPT_QUIET = 1 << 1, CLI_OPT_FORCE = 1 << 2, CLI_OPT_SEED = 1 << 3,
    CLI_OPT_OUT = 1 << 4, CLI_OPT_SET = 1 << 5, CLI_OPT_POLICY = 1 << 6, CLI_OPT_KEYRING = 1 << 7,
    CLI_OPT_PUBKEY = 1 << 8, CLI_OPT_CHECKPOINT = 1 << 9, CLI_OPT_ALLOW_INCOMPLETE = 1 << 10,
    CLI_OPT_ENTRY = 1 << 11, CLI_OPT_SIZE = 1 << 12, CLI_OPT_FROM = 1 << 13, CLI_OPT_TO = 1 << 14,
    CLI_OPT_CHECK = 1 << 15, CLI_OPT_NAME = 1 << 16, CLI_OPT_EPISODES = 1 << 17, CLI_OPT_POLICY_FROM = 1 << 18,
    CLI_OPT_CLASS = 1 << 19, CLI_OPT_BEFORE_STEP = 1 << 20, CLI_OPT_AS = 1 << 21, CLI_OPT_APPROVERS = 1 << 22,
    CLI_OPT_APPROVAL = 1 << 23, CLI_OPT_RELEASE = 1 << 24, CLI_OPT_RESUME = 1 << 25
};
#define CLI_MAX_SETS 256
#define CLI_MAX_POS 16 /* compare takes up to 16 lakes */
#define CLI_MAX_APPROVALS 8 /* --approval may repeat (release needs exactly two) */
typedef struct cli_args {
    const char *file;  /* the first positional argument */
    const char *pos[CLI_MAX_POS];
    int npos;
    const char *seed, *out, *policy, *keyring, *pubkey, *checkpoint, *entry, *size, *from, *to, *check, *name,
        *episodes, *policy_from, *cls, *before_step, *as, *approvers, *release, *resume;
    char *sets[CLI_MAX_SETS];
    const char *approvals[CLI_MAX_APPROVALS];
    int napprovals;
    int nsets, json, quiet, force, allow_incomplete;
} cli_args;

/* Parses argv[1..argc) (argv[0] is the command) with between min_pos and
 * max_pos positional arguments. Returns -1 after printing usage for --help
 * (exit 0), EXIT_USAGE after printing what is wrong, or EXIT_OK. `what`
 * names the positional argument for a missing one. */
int cli_parse(int argc, char **argv, unsigned allowed, const char *usage, const char *what, int min_pos,
              int max_pos, cli_args *a);
/* The common case: exactly one positional argument. */
int cli_parse_args(int argc, char **argv, unsigned allowed, const char *usage, const char *what, cli_args *a);

/* Prints "marlsim: msg" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "marlsim: msg" on stderr (a notice, not an error). */
void cli_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Usage error: prints the message and the command's usage, returns 2. */
int cli_usage(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The process's argv, set by main (for re-executing under a pinned core). */
extern char **cli_argv;

/* Makes OpenBLAS run core `want` (nn/blascore.h names). When it already
 * does: EXIT_OK. Else, the first time: sets OPENBLAS_CORETYPE (OpenBLAS
 * reads it only when it loads) and re-executes this binary with the same
 * arguments (never returns on success). When the re-executed process still
 * runs another core, or the CPU lacks what `want` needs: prints why and
 * returns 2. Call before anything is written. `why` names the setting
 * ("[train] blas_core = auto", "the core the lake was recorded with"). */
int cli_pin_blas_core(const char *want, const char *why);

/* Maps a library status to an exit code (MS_ECHECK → 1, others → 2). */
int cli_exit_for(int status);

/* Loads the config file, applies --seed (if not NULL) and every --set, and
 * runs the cross-key checks. Prints the error and returns 2 on failure. */
int cli_load_config(ms_config *c, const char *path, char **sets, int nsets, const char *seed);

struct exp_result;
struct ms_keyring;
/* Runs the experiment c into a new lake at path (replacing one only when
 * force) with key material kr (first_gen: exp_options) and SIGINT/SIGTERM
 * handling, progress as show_progress says (CLI_PROGRESS_*). interrupt_at > 0 replays an
 * interruption after that many env-steps; reproduce (CLI_RUN_* flags)
 * selects the reproduction's checkpoint origin, and with CLI_RUN_UNSIGNED
 * signs nothing; resume (not NULL) continues the lake at path
 * (exp_resume_prepare). Prints errors; returns the exit code
 * (130/143 when a signal interrupted it). res->status is "" when no lake
 * was created. */
enum { CLI_RUN_REPRODUCE = 1, CLI_RUN_UNSIGNED = 2 };
/* show_progress of cli_run_experiment: nothing, a bar (a terminal), lines. */
enum { CLI_PROGRESS_NONE, CLI_PROGRESS_BAR, CLI_PROGRESS_LINES };
/* The mode for stderr: none with --quiet, else a bar on a terminal, else lines. */
int cli_progress_mode(int quiet);
struct exp_resume_info;
int cli_run_experiment(const ms_config *c, const char *path, int force, int show_progress, int64_t interrupt_at,
                       const struct ms_keyring *kr, int first_gen, int reproduce,
                       const struct exp_resume_info *resume, struct exp_result *res);
/* The processes the next cli_run_experiment runs with (SPEC §11; exp/comm.h)
 * and the manifest rank 0 then writes; NULL, NULL: one process. */
struct ms_comm;
void cli_set_comm(struct ms_comm *comm, const char *manifest);

/* JSON string literal of s on f. */
void cli_json_string(FILE *f, const char *s);
/* On stdout, the members (no braces) of an approval's statement: run id,
 * checkpoint, evaluation, config hash, snapshots, run key (approve, release). */
struct gov_statement;
void cli_statement_json(const struct gov_statement *st);
/* On stdout, {"file", "outcome": "refused", "why"} (approve, release). */
void cli_refused_json(const char *file, const char *why);

/* ---- keys ---- */
struct ms_note_verifier;
enum {
    CLI_KR_CREATE,   /* create the per-user default keyring when it is missing (with a notice) */
    CLI_KR_EXISTING, /* the resolved keyring must exist */
    CLI_KR_OPTIONAL  /* no keyring at all is fine when the resolution ends at a missing default */
};
/* Resolves (--keyring opt, [keys] keyring cfg, MARLSIM_KEYRING, the
 * per-user default) and loads the keyring; `dev` gives the development
 * keyring of dev_seed (with a notice on stderr). *kr = NULL only with
 * CLI_KR_OPTIONAL and no keyring. Prints errors; returns the exit code. */
int cli_keyring(const char *opt, const char *cfg, uint64_t dev_seed, int mode, struct ms_keyring **kr);
/* The trusted key for checking lakes: --pubkey (a verifier key, or a file
 * holding one on its first line), else the keyring's signing key (--keyring,
 * MARLSIM_KEYRING, the per-user default if it exists). *have = 0 when there
 * is none (or only the development key): the caller reports
 * UNAUTHENTICATED. kr_out (may be NULL) receives the keyring used, if any
 * (caller frees). Prints errors; returns the exit code. */
int cli_trusted_key(const char *pubkey, const char *keyring, struct ms_note_verifier *v, int *have,
                    struct ms_keyring **kr_out);
struct lake_verify_opts;
/* For commands that read lakes (report, compare): the trusted key of
 * --pubkey or --keyring (refusing both, with usage) through cli_trusted_key
 * into *trusted, and *vo = {trusted, or NULL when there is none: the
 * verdict says UNAUTHENTICATED}. Prints errors; returns the exit code. */
int cli_lake_trust(const cli_args *a, const char *usage, struct ms_note_verifier *trusted,
                   struct lake_verify_opts *vo);
/* Reads a whole small file (at most max bytes) into a malloc'd,
 * NUL-terminated buffer. Prints errors; returns the exit code. */
int cli_read_file(const char *path, size_t max, char **out, size_t *n);

#endif
