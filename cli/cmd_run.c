/* marlsim run: train, record everything in a lake, print a summary. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cblas.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "cli/cli.h"
#include "cli/record.h"
#include "cli/train.h"
#include "ledger/lake.h"

static const char usage[] =
    "usage: marlsim run CONFIG.ini [--seed N] [--out PATH.db] [--set section.key=value]... [--force] [--quiet] [--json]\n"
    "\n"
    "Trains GET, OPEN and BIN with PPO for [run] env_steps env-steps and records\n"
    "every broadcast, observation, action and credit assignment in a hash-chained\n"
    "SQLite lake (default runs/<name>-s<seed>.db). An existing lake is never\n"
    "overwritten unless --force is given. Progress goes to stderr on a terminal\n"
    "(--quiet silences it); the summary goes to stdout, as JSON with --json.\n"
    "SIGINT/SIGTERM stop at the next step boundary; the lake is marked interrupted.\n";

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

typedef struct progress_ctx {
    double t0;
    int enabled;
} progress_ctx;

static void progress(const trainer_status *st, void *ctx)
{
    progress_ctx *p = ctx;
    if (!p->enabled)
        return;
    double el = cli_now() - p->t0, rate = el > 0 ? (double)st->env_steps / el : 0;
    double eta = rate > 0 ? (double)(st->total_env_steps - st->env_steps) / rate : 0;
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

void cli_build_facts(const ms_config *c, char *buf, size_t n)
{
    openblas_set_num_threads(c->blas_threads);
    snprintf(buf, n,
             "{\"marlsim\":\"%s\",\"compiler\":\"gcc %s\",\"sqlite\":\"%s\",\"openssl\":\"%s\","
             "\"openblas\":\"%s\",\"openblas_core\":\"%s\",\"blas_threads\":%d,\"simd_tanh\":%d}",
             MARLSIM_VERSION, __VERSION__, sqlite3_libversion(), OpenSSL_version(OPENSSL_VERSION),
             openblas_get_config(), openblas_get_corename(), openblas_get_num_threads(), mlp_cpu_simd());
}

int cli_run_experiment(const ms_config *c, const char *path, int force, int show_progress, int64_t interrupt_at,
                       cli_run_result *res)
{
    ms_err e;
    memset(res, 0, sizeof *res);
    snprintf(res->db, sizeof res->db, "%s", path);
    char text[MS_CONFIG_TEXT_MAX], facts[1024];
    ms_config_render(c, text, sizeof text);
    ms_config_hash(c, res->config_sha256);
    cli_build_facts(c, facts, sizeof facts);

    /* The run id names the experiment and its key material, deterministically:
     * identical runs have identical lakes. */
    ms_keys keys;
    int rc = ms_keys_dev(&keys, c->seed, 0, &e);
    if (rc) {
        cli_error("%s", e.msg);
        return EXIT_USAGE;
    }
    char idsrc[256];
    int idn = snprintf(idsrc, sizeof idsrc, "marlsim-run-v1|%s|%s", res->config_sha256, keys.fingerprint);
    unsigned char md[32];
    EVP_Digest(idsrc, (size_t)idn, md, NULL, EVP_sha256(), NULL);
    ms_hex(md, 16, res->run_id);
    fprintf(stderr, "marlsim: no [keys] keyring: using a development key derived from the seed (key %s); "
                    "the lake is marked dev_key\n", keys.key_id);

    char key_ids[64];
    snprintf(key_ids, sizeof key_ids, "[\"%s\"]", keys.key_id);
    static const char *const sync_names[] = {"off", "normal", "full", "extra"};
    lake_run_info info = {.run_id = res->run_id, .name = c->name, .seed = c->seed, .config_text = text,
                          .config_sha256 = res->config_sha256, .version = MARLSIM_VERSION, .build_facts = facts,
                          .key_ids = key_ids, .dev_key = 1, .started_at = NULL,
                          .synchronous = sync_names[c->synchronous]};
    lake *L = NULL;
    recorder *rec = NULL;
    trainer *tr = NULL;
    rc = lake_create(&L, path, &info, force, &e);
    if (rc) {
        cli_error("%s", e.msg);
        return EXIT_USAGE;
    }
    rc = recorder_init(&rec, L, c, &e);
    if (!rc)
        rc = trainer_init(&tr, c, rec, &e);
    if (!rc)
        trainer_stop_at(tr, interrupt_at);

    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    stop_requested = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    progress_ctx pc = {cli_now(), show_progress};
    int interrupted = 0;
    if (!rc)
        rc = trainer_run(tr, &stop_requested, progress, &pc, &interrupted, &e);
    double elapsed = cli_now() - pc.t0;
    if (show_progress)
        fputc('\n', stderr);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);

    const char *status = rc ? "failed" : interrupted ? "interrupted" : "completed";
    if (tr) {
        const trainer_status *st = trainer_get_status(tr);
        res->env_steps = st->env_steps;
        res->eval_reward = st->eval_score;
        res->updates = st->updates;
        res->gates = st->gates;
        res->rejected = st->rejected;
        res->poisoned = st->poisoned;
        res->poisoned_rejected = st->poisoned_rejected;
        const trainer_times *tt = trainer_get_times(tr);
        res->t_env = tt->env;
        res->t_act = tt->act;
        res->t_update = tt->update;
        res->t_eval = tt->eval;
        res->t_record = recorder_seconds(rec);
        res->t_record_in_env = recorder_step_seconds(rec);
    }
    res->seconds = elapsed;
    ms_err fe;
    int frc = lake_finish(L, status, res->env_steps, res->eval_reward, tr != NULL && !rc, &fe);
    if (!frc)
        snprintf(res->head_hash, sizeof res->head_hash, "%s", lake_head_hex(L));
    /* When the lake could not be finished, it says what it last committed. */
    snprintf(res->status, sizeof res->status, "%s", frc ? "running" : status);
    trainer_free(tr);
    recorder_free(rec);
    lake_close(L);
    if (rc)
        cli_error("%s%s", e.msg, frc ? "" : " (the lake is marked failed)");
    if (frc)
        cli_error("%s (the lake could not be finished: it stays 'running' at its last commit; "
                  "marlsim verify %s shows how far it got)", fe.msg, path);
    if (rc)
        return cli_exit_for(rc) == EXIT_OK ? EXIT_USAGE : cli_exit_for(rc);
    return frc ? EXIT_USAGE : EXIT_OK;
}

static void print_summary(const ms_config *c, const cli_run_result *r, int json)
{
    double sps = r->seconds > 0 ? (double)r->env_steps / r->seconds : 0;
    if (json) {
        printf("{\"run_id\":\"%s\",\"config_sha256\":\"%s\",\"seed\":%llu,\"status\":\"%s\",\"env_steps\":%lld,"
               "\"seconds\":%.3f,\"steps_per_second\":%.1f,\"eval_reward_per_step\":%.6f,\"updates\":%lld,"
               "\"gates\":%lld,\"rejected_broadcasts\":%lld",
               r->run_id, r->config_sha256, (unsigned long long)c->seed, r->status, (long long)r->env_steps,
               r->seconds, sps, r->eval_reward, (long long)r->updates, (long long)r->gates, (long long)r->rejected);
        if (c->poison_rate > 0)
            printf(",\"detection\":{\"poisoned\":%lld,\"detected\":%lld}", (long long)r->poisoned,
                   (long long)r->poisoned_rejected);
        printf(",\"head_hash\":");
        if (r->head_hash[0])
            printf("\"%s\"", r->head_hash);
        else
            printf("null");
        printf(",\"db\":");
        cli_json_string(stdout, r->db);
        printf("}\n");
        return;
    }
    printf("run_id: %s\n", r->run_id);
    printf("status: %s\n", r->status);
    printf("config_sha256: %s\n", r->config_sha256);
    printf("seed: %llu\n", (unsigned long long)c->seed);
    printf("env_steps: %lld\n", (long long)r->env_steps);
    printf("steps_per_second: %.0f\n", sps);
    printf("eval_reward_per_step: %.4f (greedy, %d held-out episodes x %d mailboxes)\n", r->eval_reward,
           c->eval_episodes, c->envs);
    printf("updates: %lld, gate evaluations: %lld\n", (long long)r->updates, (long long)r->gates);
    printf("rejected_broadcasts: %lld\n", (long long)r->rejected);
    if (c->poison_rate > 0)
        printf("detection: %lld of %lld tampered broadcasts rejected\n", (long long)r->poisoned_rejected,
               (long long)r->poisoned);
    printf("head_hash: %s\n", r->head_hash[0] ? r->head_hash : "(none)");
    printf("db: %s\n", r->db);
}

int cli_default_out(const ms_config *c, const char *out, char *path, size_t n)
{
    if (out) {
        snprintf(path, n, "%s", out);
        return EXIT_OK;
    }
    if (c->out[0]) {
        snprintf(path, n, "%s", c->out);
        return EXIT_OK;
    }
    if (mkdir("runs", 0777) && errno != EEXIST) {
        cli_error("cannot create runs/: %s", strerror(errno));
        return EXIT_USAGE;
    }
    snprintf(path, n, "runs/%s-s%llu.db", c->name, (unsigned long long)c->seed);
    return EXIT_OK;
}

int cmd_run(int argc, char **argv)
{
    cli_args a;
    int rc = cli_parse_args(argc, argv, CLI_OPT_JSON | CLI_OPT_QUIET | CLI_OPT_FORCE | CLI_OPT_SEED | CLI_OPT_OUT |
                            CLI_OPT_SET, usage, "CONFIG.ini", &a);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    ms_config c;
    rc = cli_load_config(&c, a.file, a.sets, a.nsets, a.seed);
    if (rc)
        return rc;
    char path[MS_PATH_MAX + 64];
    if ((rc = cli_default_out(&c, a.out, path, sizeof path)))
        return rc;
    cli_run_result res;
    rc = cli_run_experiment(&c, path, a.force, !a.quiet && isatty(2), 0, &res);
    if (res.status[0])
        print_summary(&c, &res, a.json);
    return rc;
}
