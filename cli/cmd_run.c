/* marlsim run: train, record everything in a lake, print a summary. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "base/clock.h"
#include "cli/cli.h"
#include "exp/comm.h"
#include "exp/experiment.h"
#include "exp/manifest.h"
#include "keys/keyring.h"
#include "ledger/verify.h"
#include "nn/blascore.h"

static const char usage[] =
    "usage: marlsim run CONFIG.ini [--seed N] [--out PATH.db] [--set section.key=value]... [--keyring K]\n"
    "                  [--force] [--quiet] [--json]\n"
    "       marlsim run --resume RUN.db [--keyring K] [--quiet] [--json]\n"
    "\n"
    "Trains GET, OPEN and BIN with PPO for [run] env_steps env-steps and records\n"
    "every broadcast, observation, action and credit assignment in a hash-chained\n"
    "SQLite lake (default runs/<name>-s<seed>-<first 8 hex digits of the config\n"
    "hash>.db), with signed checkpoints (RFC\n"
    "6962 tree heads) every [telemetry] checkpoint_every ledger entries and at the\n"
    "end; the newest is also written to PATH.db.checkpoint: keep it elsewhere.\n"
    "An existing lake is never overwritten unless --force is given. Before it\n"
    "starts, the run estimates the lake's size (about 900 bytes per env-step\n"
    "at full telemetry, 900 / sample_every + 8 at sampled, 8 at aggregate),\n"
    "says it when it is 1 GB or more, and refuses (exit 2) when the file system\n"
    "lacks room for it.\n"
    "\n"
    "Keys: --keyring K, else [keys] keyring, else $MARLSIM_KEYRING, else your\n"
    "keyring ${XDG_DATA_HOME:-~/.local/share}/marlsim/keyring (created on first\n"
    "use). K is a path, cmd:COMMAND (its output is the keyring) or dev (the\n"
    "development key derived from the seed: nothing signed, lake marked dev_key).\n"
    "\n"
    "Progress goes to stderr: a bar on a terminal, else a line every 10 %% or\n"
    "30 s (--quiet silences both); the summary goes to stdout, as JSON with --json. SIGINT/SIGTERM stop at the next\n"
    "rollout boundary; the lake is marked interrupted (exit 130 / 143).\n"
    "\n"
    "--resume RUN.db continues an interrupted, failed or killed run: the lake is\n"
    "verified (with your keyring's key, which must be the one that signed it),\n"
    "its stored config re-run from the start under its recorded OpenBLAS core,\n"
    "every ledger entry it holds recomputed and compared (a lake that does not\n"
    "hold what the run computes is refused, exit 1, and left as it was), and the\n"
    "run continued from its last committed step: the finished lake has the\n"
    "ledger (head hash) of a run that was never stopped. A completed, purged or\n"
    "exported lake has nothing to resume (exit 2); so has one another process\n"
    "holds (its run is still going).\n"
    "\n"
    "Under mpirun (mpirun -np N marlsim run CONFIG.ini, Open MPI; SPEC §11) the N\n"
    "processes split the mailboxes, combine their gradients in rank order and\n"
    "keep identical parameters; each writes the shard PATH.rank-K-of-N.db (PATH\n"
    "without .db) and rank 0 the manifest PATH.manifest, signed, binding every\n"
    "shard's ledger under one Merkle root: marlsim verify PATH.manifest checks\n"
    "them all. Every rank must run the same OpenBLAS core (exit 2 otherwise).\n"
    "With -np 1 the run is the plain one (PATH, no manifest). Only rank 0 prints.\n"
    "A shard cannot be resumed. Without mpirun, MPI is never started.\n";

static volatile sig_atomic_t stop_requested;
/* run under mpirun with several processes: the world and the manifest's path */
static ms_comm *cli_comm;
static const char *cli_manifest;

void cli_set_comm(ms_comm *comm, const char *manifest)
{
    cli_comm = comm;
    cli_manifest = manifest;
}

static void on_signal(int sig)
{
    stop_requested = sig;
}

typedef struct progress_ctx {
    double t0, last_line;
    int mode;      /* CLI_PROGRESS_* */
    int last_tenth; /* lines: the last tenth of the run reported */
} progress_ctx;

/* On a terminal a bar redrawn in place; elsewhere (a batch job's log) a
 * plain line every 10 % of the run or 30 s, whichever comes first. */
static void progress(const trainer_status *st, void *ctx)
{
    progress_ctx *p = ctx;
    if (p->mode == CLI_PROGRESS_NONE)
        return;
    double now = ms_now(), el = now - p->t0, rate = el > 0 ? (double)st->env_steps / el : 0;
    double eta = rate > 0 ? (double)(st->total_env_steps - st->env_steps) / rate : 0;
    if (p->mode == CLI_PROGRESS_LINES) {
        int tenth = st->total_env_steps ? (int)(10 * st->env_steps / st->total_env_steps) : 10;
        if (tenth <= p->last_tenth && now - p->last_line < 30)
            return;
        p->last_tenth = tenth;
        p->last_line = now;
        fprintf(stderr, "marlsim: %3d%%  %lld/%lld env-steps  %.0f steps/s  ETA %.0fs  reward %.3f  gate %s (%.3f)\n",
                st->total_env_steps ? (int)(100 * st->env_steps / st->total_env_steps) : 100,
                (long long)st->env_steps, (long long)st->total_env_steps, rate, eta, st->recent_reward,
                st->last_decision, st->eval_score);
        return;
    }
    int width = 24, done = st->total_env_steps ? (int)(width * st->env_steps / st->total_env_steps) : width;
    char bar[32];
    for (int i = 0; i < width; i++)
        bar[i] = i < done ? '=' : ' ';
    bar[width] = 0;
    fprintf(stderr, "\r[%s] %lld/%lld env-steps  %.0f steps/s  ETA %.0fs  reward %.3f  gate %s (%.3f)   ", bar,
            (long long)st->env_steps, (long long)st->total_env_steps, rate, eta, st->recent_reward,
            st->last_decision, st->eval_score);
    fflush(stderr);
}

int cli_progress_mode(int quiet)
{
    return quiet ? CLI_PROGRESS_NONE : isatty(2) ? CLI_PROGRESS_BAR : CLI_PROGRESS_LINES;
}

/* SPEC §2: the lake's size estimated before a run starts, said when it is
 * large, and the run refused (exit 2) when the file system holding path has
 * less room (a resumed lake counts what it already holds). A directory that
 * cannot be examined is left to the lake's own errors. */
static int check_room(const ms_config *c, const char *path, int quiet)
{
    char dir[MS_PATH_MAX + 64];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        slash[slash == dir] = '\0'; /* "/x.db" keeps "/" */
    struct statvfs fs;
    if (statvfs(dir, &fs) != 0)
        return EXIT_OK;
    double need = exp_estimate_lake_bytes(c), room = (double)fs.f_bavail * (double)fs.f_frsize;
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
        room += (double)st.st_size; /* replaced (--force) or continued (--resume) */
    static const char *const level[] = {"full", "sampled", "aggregate"};
    const double gb = 1e9;
    if (need > room) {
        cli_error("not enough room for the lake: at %s telemetry this run needs about %.1f GB, and the file system "
                  "holding %s has %.1f GB free; lower [telemetry] level (sampled, aggregate) or [run] env_steps, or "
                  "write elsewhere with --out", level[c->level], need / gb, dir, room / gb);
        return EXIT_USAGE;
    }
    if (!quiet && need >= gb)
        cli_notice("the lake will need about %.1f GB (%s telemetry); %.1f GB free in %s", need / gb, level[c->level],
                   room / gb, dir);
    return EXIT_OK;
}

int cli_run_experiment(const ms_config *c, const char *path, int force, int show_progress, int64_t interrupt_at,
                       const ms_keyring *kr, int first_gen, int reproduce, const exp_resume_info *resume,
                       exp_result *res)
{
    memset(res, 0, sizeof *res);
    int room = check_room(c, path, show_progress == CLI_PROGRESS_NONE);
    if (room)
        return room;
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    stop_requested = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    progress_ctx pc = {ms_now(), ms_now(), show_progress, 0};
    exp_options o = {.path = path, .overwrite = force, .kr = kr, .first_gen = first_gen, .comm = cli_comm,
                     .manifest = cli_manifest,
                     .reproduce = (reproduce & CLI_RUN_REPRODUCE) != 0,
                     .sign_nothing = (reproduce & CLI_RUN_UNSIGNED) != 0, .resume = resume, .interrupt_at = interrupt_at, .stop = &stop_requested, .progress = progress,
                     .progress_ctx = &pc};
    ms_err e;
    int rc = exp_run(c, &o, res, &e);
    if (show_progress == CLI_PROGRESS_BAR && res->status[0])
        fputc('\n', stderr);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (rc) {
        cli_error("%s", e.msg);
        return cli_exit_for(rc);
    }
    if (!strcmp(res->status, "interrupted") && stop_requested)
        return stop_requested == SIGTERM ? EXIT_SIGTERM : EXIT_SIGINT;
    return EXIT_OK;
}

/* a / b, or -1 (printed as null / n/a) when b is 0. */
static double ratio(int64_t a, int64_t b)
{
    return b ? (double)a / (double)b : -1;
}

static void json_ratio(const char *key, double v)
{
    if (v < 0)
        printf(",\"%s\":null", key);
    else
        printf(",\"%s\":%.4f", key, v);
}

static void text_ratio(const char *key, double v)
{
    if (v < 0)
        printf(" %s n/a", key);
    else
        printf(" %s %.3f", key, v);
}

/* SPEC §4.1: per threat injected, detected, precision, recall; backdoor
 * success at the report evaluation. */
static void print_poisoning(const ms_config *c, const exp_result *r, int json)
{
    int64_t t_inj = r->st.poisoned, t_det = r->st.rejected, t_tp = r->st.poisoned_rejected;
    int64_t s_inj = r->st.forged, s_det = r->st.flagged, s_tp = r->st.flagged_forged;
    double bd = r->st.has_report ? ratio(r->st.report.backdoor_delivered, r->st.report.backdoor_seen) : -1;
    if (json) {
        printf(",\"poisoning\":{\"defence\":\"%s\",\"transit\":{\"injected\":%lld,\"detected\":%lld",
               c->defence ? "on" : "off", (long long)t_inj, (long long)t_det);
        json_ratio("precision", ratio(t_tp, t_det));
        json_ratio("recall", ratio(t_tp, t_inj));
        printf("},\"source\":{\"injected\":%lld,\"detected\":%lld,\"backdoor_messages\":%lld", (long long)s_inj,
               (long long)s_det, (long long)r->st.backdoor_samples);
        json_ratio("precision", ratio(s_tp, s_det));
        json_ratio("recall", ratio(s_tp, s_inj));
        printf("}");
        json_ratio("flagged_share", ratio(s_det, r->env_steps));
        json_ratio("backdoor_success_rate", bd);
        printf("}");
        return;
    }
    printf("poisoning (defence %s): transit injected %lld detected %lld", c->defence ? "on" : "off", (long long)t_inj,
           (long long)t_det);
    text_ratio("precision", ratio(t_tp, t_det));
    text_ratio("recall", ratio(t_tp, t_inj));
    printf("; source injected %lld detected %lld", (long long)s_inj, (long long)s_det);
    text_ratio("precision", ratio(s_tp, s_det));
    text_ratio("recall", ratio(s_tp, s_inj));
    printf("; %.2f%% of samples flagged;", 100.0 * (double)s_det / (double)(r->env_steps ? r->env_steps : 1));
    text_ratio("backdoor success at the report", bd);
    printf("\n");
}

static void print_summary(const ms_config *c, const exp_result *r, int json)
{
    double sps = r->seconds > 0 ? (double)r->env_steps / r->seconds : 0;
    if (json) {
        printf("{\"run_id\":\"%s\",\"config_sha256\":\"%s\",\"seed\":%llu,\"status\":\"%s\",\"env_steps\":%lld,"
               "\"seconds\":%.3f,\"steps_per_second\":%.1f,\"eval_reward_per_step\":%.6f,\"updates\":%lld,"
               "\"gates\":%lld,\"rejected_broadcasts\":%lld,\"dev_key\":%s,\"key_ids\":%s",
               r->run_id, r->config_sha256, (unsigned long long)c->seed, r->status, (long long)r->env_steps,
               r->seconds, sps, r->eval_reward, (long long)r->st.updates, (long long)r->st.gates, (long long)r->st.rejected,
               r->dev_key ? "true" : "false", r->key_ids);
        print_poisoning(c, r, 1);
        printf(",\"surveillance\":{\"events\":%lld,\"suspended\":%lld}", (long long)r->st.surveillance_events,
               (long long)r->st.suspended);
        printf(",\"head_hash\":");
        if (r->head_hash[0])
            printf("\"%s\"", r->head_hash);
        else
            printf("null");
        if (r->checkpoint_size)
            printf(",\"checkpoint_size\":%lld,\"checkpoint_root\":\"%s\",\"signer\":", (long long)r->checkpoint_size,
                   r->checkpoint_root);
        else
            printf(",\"checkpoint_size\":null,\"checkpoint_root\":null,\"signer\":");
        if (r->signer[0])
            cli_json_string(stdout, r->signer);
        else
            printf("null");
        printf(",\"db\":");
        cli_json_string(stdout, r->db);
        if (r->ranks > 1) {
            printf(",\"ranks\":%d,\"manifest\":", r->ranks);
            cli_json_string(stdout, r->manifest);
            printf(",\"manifest_root\":\"%s\"", r->manifest_root);
        }
        printf("}\n");
        return;
    }
    printf("run_id: %s\n", r->run_id);
    printf("status: %s\n", r->status);
    printf("config_sha256: %s\n", r->config_sha256);
    printf("seed: %llu\n", (unsigned long long)c->seed);
    printf("env_steps: %lld\n", (long long)r->env_steps);
    printf("steps_per_second: %.0f\n", sps);
    if (r->st.has_report)
        printf("eval_reward_per_step: %.4f (the policy it leaves, greedy, on %d report episodes x %d mailboxes)\n",
               r->eval_reward, c->report_episodes, c->envs);
    else
        printf("eval_reward_per_step: %.4f (the incumbent's gate score; a run that did not complete is not "
               "reported)\n", r->eval_reward);
    printf("updates: %lld, gate evaluations: %lld\n", (long long)r->st.updates, (long long)r->st.gates);
    printf("rejected_broadcasts: %lld\n", (long long)r->st.rejected);
    print_poisoning(c, r, 0);
    printf("surveillance: %lld finding%s, %lld agent%s suspended\n", (long long)r->st.surveillance_events,
           r->st.surveillance_events == 1 ? "" : "s", (long long)r->st.suspended, r->st.suspended == 1 ? "" : "s");
    printf("keys: %s%s\n", r->key_ids, r->dev_key ? " (development key: unsigned, for tests and demos only)" : "");
    printf("head_hash: %s\n", r->head_hash[0] ? r->head_hash : "(none)");
    if (r->checkpoint_size)
        printf("checkpoint: size %lld, root %s, signed by %s (%s.checkpoint)\n", (long long)r->checkpoint_size,
               r->checkpoint_root, r->signer, r->db);
    else
        printf("checkpoint: none (the development key signs nothing)\n");
    printf("db: %s\n", r->db);
    if (r->ranks > 1)
        printf("ranks: %d (db, head and checkpoint above are rank 0's shard)\nmanifest: %s (root %s; marlsim verify "
               "%s checks every shard)\n", r->ranks, r->manifest, r->manifest_root, r->manifest);
}

/* run --resume RUN.db */
static int resume(const cli_args *a)
{
    const char *db = a->resume;
    if (a->file || a->nsets || a->seed || a->out || a->force)
        return cli_usage(usage, "--resume takes the lake alone (and --keyring, --quiet, --json): its config, seed "
                                "and path are the lake's");
    ms_err e;
    lake_run_meta m0;
    int rc = lake_read_run(db, &m0, &e); /* which key material: the verified read follows */
    if (rc) {
        cli_error("%s", e.msg);
        return cli_exit_for(rc);
    }
    int dev = 0;
    int first = exp_first_generation(m0.key_ids, &dev);
    uint64_t seed = m0.seed;
    lake_run_meta_release(&m0);
    if (first < 0) {
        printf("TAMPERED %s\nruns.key_ids is not a list of key ids marlsim writes\n", db);
        return EXIT_CHECK;
    }
    ms_keyring *kr = NULL;
    if (dev) {
        if (ms_keyring_dev(seed, &kr, &e)) {
            cli_error("%s", e.msg);
            return EXIT_USAGE;
        }
    } else if ((rc = cli_keyring(a->keyring, NULL, 0, CLI_KR_EXISTING, &kr))) {
        return rc;
    }
    exp_resume_info ri;
    if ((rc = exp_resume_prepare(db, kr, &ri, &e))) {
        if (rc == MS_ECHECK)
            printf("REFUSED %s\n%s\nnothing was resumed\n", db, e.msg);
        else
            cli_error("%s", e.msg);
        ms_keyring_free(kr);
        return cli_exit_for(rc);
    }
    /* The replay runs under the core the lake was made with. */
    int known = 0;
    for (int k = 1; nn_blas_core_names[k]; k++)
        known |= !strcmp(ri.core, nn_blas_core_names[k]);
    if (!known) {
        cli_error("%s: its build facts name no OpenBLAS core marlsim knows ('%s'): it cannot be replayed", db,
                  ri.core);
        exp_resume_release(&ri);
        ms_keyring_free(kr);
        return EXIT_USAGE;
    }
    if (strcmp(ri.core, nn_blas_core_current())) {
        char core[64];
        snprintf(core, sizeof core, "%s", ri.core);
        exp_resume_release(&ri);
        ms_keyring_free(kr);
        return cli_pin_blas_core(core, "the lake, recorded under it,");
    }
    if (!a->quiet)
        cli_notice("resuming %s (%s at %lld env-steps): replaying its %lld ledger entries, then continuing", db,
                   ri.status, (long long)ri.env_steps, (long long)ri.entries);
    exp_result res;
    rc = cli_run_experiment(&ri.c, db, 0, cli_progress_mode(a->quiet), 0, kr, ri.first_gen, 0, &ri, &res);
    if (res.status[0])
        print_summary(&ri.c, &res, a->json);
    exp_resume_release(&ri);
    ms_keyring_free(kr);
    return rc;
}

/* run under mpirun (SPEC §11): after the OpenBLAS core is pinned (a
 * re-exec must come before MPI_Init). */
static int run_mpi(const ms_config *c, const cli_args *a, const char *out)
{
    ms_comm *comm;
    ms_err e;
    if (comm_mpi_init(&comm, &e)) {
        cli_error("%s", e.msg);
        return EXIT_USAGE;
    }
    int rank = comm_rank(comm), ranks = comm_size(comm), rc;
    char base[MS_PATH_MAX + 64], shard[MS_PATH_MAX + 160], manifest[MS_PATH_MAX + 160];
    const char *path = out;
    if (ranks > 1) {
        if (manifest_base(out, base, sizeof base, &e)) {
            cli_error("%s", e.msg);
            comm_finalize(comm);
            return EXIT_USAGE;
        }
        manifest_shard_path(base, rank, ranks, shard, sizeof shard);
        manifest_path(base, manifest, sizeof manifest);
        path = shard;
        /* An existing manifest binds the shards of another run (perhaps of
         * another N, whose shards no run here would replace): never
         * replaced without --force. Rank 0 looks; every rank hears. */
        struct stat sb;
        int exists = rank == 0 && !a->force && lstat(manifest, &sb) == 0;
        if (comm_max_int(comm, &exists, &e) || exists) {
            if (rank == 0 && exists)
                cli_error("%s already exists: the manifest of an earlier run, binding its shards; marlsim never "
                          "replaces one (--force replaces it)", manifest);
            else if (rank == 0)
                cli_error("%s", e.msg);
            comm_finalize(comm);
            return EXIT_USAGE;
        }
        cli_set_comm(comm, manifest);
    }
    ms_keyring *kr;
    if ((rc = cli_keyring(a->keyring, c->keyring, c->seed, CLI_KR_CREATE, &kr))) {
        comm_abort(comm, rc); /* the others may wait for this one */
        comm_finalize(comm);
        return rc;
    }
    exp_result res;
    rc = cli_run_experiment(c, path, a->force, rank ? CLI_PROGRESS_NONE : cli_progress_mode(a->quiet), 0, kr, -1, 0,
                            NULL, &res);
    ms_keyring_free(kr);
    if (rc && rc != EXIT_SIGINT && rc != EXIT_SIGTERM && ranks > 1 && res.status[0])
        comm_abort(comm, rc); /* failed mid-run: the other ranks wait in a collective */
    if (rank == 0 && res.status[0])
        print_summary(c, &res, a->json);
    cli_set_comm(NULL, NULL);
    comm_finalize(comm);
    return rc;
}

int cmd_run(int argc, char **argv)
{
    cli_args a;
    int rc = cli_parse(argc, argv, CLI_OPT_JSON | CLI_OPT_QUIET | CLI_OPT_FORCE | CLI_OPT_SEED | CLI_OPT_OUT |
                       CLI_OPT_SET | CLI_OPT_KEYRING | CLI_OPT_RESUME, usage, "CONFIG.ini", 0, 1, &a);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    if (a.resume)
        return resume(&a);
    if (!a.file)
        return cli_usage(usage, "missing CONFIG.ini");
    ms_config c;
    rc = cli_load_config(&c, a.file, a.sets, a.nsets, a.seed);
    if (rc)
        return rc;
    if ((rc = cli_pin_blas_core(nn_blas_core_wanted(c.blas_core), c.blas_core ? "[train] blas_core"
                                                                              : "[train] blas_core = auto")))
        return rc;
    char path[MS_PATH_MAX + 64];
    ms_err e;
    if (exp_default_out(&c, a.out, path, sizeof path, &e)) {
        cli_error("%s", e.msg);
        return EXIT_USAGE;
    }
    ms_keyring *kr;
    if ((rc = cli_keyring(a.keyring, c.keyring, c.seed, CLI_KR_CREATE, &kr)))
        return rc;
    exp_result res;
    if (comm_launched_by_mpirun()) {
        ms_keyring_free(kr);
        return run_mpi(&c, &a, path);
    }
    rc = cli_run_experiment(&c, path, a.force, cli_progress_mode(a.quiet), 0, kr, -1, 0, NULL, &res);
    ms_keyring_free(kr);
    if (res.status[0])
        print_summary(&c, &res, a.json);
    return rc;
}
