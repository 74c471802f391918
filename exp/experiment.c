/* experiment.c — see experiment.h. */
#include "exp/experiment.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cblas.h>
#include <openssl/crypto.h>
#include <sqlite3.h>

#include "base/clock.h"
#include "exp/recorder.h"
#include "ledger/lake.h"


void exp_build_facts(const ms_config *c, char *buf, size_t n)
{
    openblas_set_num_threads(c->blas_threads);
    snprintf(buf, n,
             "{\"marlsim\":\"%s\",\"compiler\":\"gcc %s\",\"sqlite\":\"%s\",\"openssl\":\"%s\","
             "\"openblas\":\"%s\",\"openblas_core\":\"%s\",\"blas_threads\":%d,\"simd_tanh\":%d}",
             MS_VERSION, __VERSION__, sqlite3_libversion(), OpenSSL_version(OPENSSL_VERSION),
             openblas_get_config(), openblas_get_corename(), openblas_get_num_threads(), mlp_cpu_simd());
}

int exp_run(const ms_config *c, const exp_options *o, exp_result *res, ms_err *e)
{
    memset(res, 0, sizeof *res);
    snprintf(res->db, sizeof res->db, "%s", o->path);
    char text[MS_CONFIG_TEXT_MAX], facts[1024];
    ms_config_render(c, text, sizeof text);
    ms_config_hash(c, res->config_sha256);
    exp_build_facts(c, facts, sizeof facts);

    /* The run id names the experiment and its key material, deterministically:
     * identical runs have identical lakes. */
    ms_keys keys;
    int rc = ms_keys_dev(&keys, c->seed, 0, e);
    if (rc)
        return rc;
    char idsrc[256];
    int idn = snprintf(idsrc, sizeof idsrc, "marlsim-run-v1|%s|%s", res->config_sha256, keys.fingerprint);
    unsigned char md[32];
    if ((rc = ms_sha256(idsrc, (size_t)idn, md, e)))
        return rc;
    ms_hex(md, 16, res->run_id);

    char key_ids[64];
    snprintf(key_ids, sizeof key_ids, "[\"%s\"]", keys.key_id);
    static const char *const sync_names[] = {"off", "normal", "full", "extra"};
    lake_run_info info = {.run_id = res->run_id, .name = c->name, .seed = c->seed, .config_text = text,
                          .config_sha256 = res->config_sha256, .version = MS_VERSION, .build_facts = facts,
                          .key_ids = key_ids, .dev_key = 1, .started_at = NULL,
                          .synchronous = sync_names[c->synchronous]};
    lake *L = NULL;
    recorder *rec = NULL;
    trainer *tr = NULL;
    if ((rc = lake_create(&L, o->path, &info, o->overwrite, e)))
        return rc;
    rc = recorder_init(&rec, L, c, e);
    if (!rc)
        rc = trainer_init(&tr, c, rec, e);
    if (!rc)
        trainer_stop_at(tr, o->interrupt_at);

    double t0 = ms_now();
    int interrupted = 0;
    if (!rc)
        rc = trainer_run(tr, o->stop, o->progress, o->progress_ctx, &interrupted, e);
    double elapsed = ms_now() - t0;

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
    if (rc) {
        char msg[sizeof e->msg];
        snprintf(msg, sizeof msg, "%s", e->msg);
        if (!frc)
            return ms_fail(e, rc, "%s (the lake is marked failed)", msg);
        return ms_fail(e, rc, "%s; and the lake could not be finished (%s): it stays 'running' at its last "
                       "commit", msg, fe.msg);
    }
    if (frc)
        return ms_fail(e, frc, "%s (the lake could not be finished: it stays 'running' at its last commit; "
                       "marlsim verify %s shows how far it got)", fe.msg, o->path);
    return MS_OK;
}

int exp_default_out(const ms_config *c, const char *out, char *path, size_t n, ms_err *e)
{
    if (out) {
        snprintf(path, n, "%s", out);
        return MS_OK;
    }
    if (c->out[0]) {
        snprintf(path, n, "%s", c->out);
        return MS_OK;
    }
    if (mkdir("runs", 0777) && errno != EEXIST)
        return ms_fail(e, MS_EIO, "cannot create runs/: %s", strerror(errno));
    snprintf(path, n, "runs/%s-s%llu.db", c->name, (unsigned long long)c->seed);
    return MS_OK;
}
