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
#include "keys/keyring.h"
#include "ledger/lake.h"
#include "ledger/note.h"


void exp_build_facts(const ms_config *c, char *buf, size_t n)
{
    openblas_set_num_threads(c->blas_threads);
    snprintf(buf, n,
             "{\"marlsim\":\"%s\",\"compiler\":\"gcc %s\",\"sqlite\":\"%s\",\"openssl\":\"%s\","
             "\"openblas\":\"%s\",\"openblas_core\":\"%s\",\"blas_threads\":%d,\"simd_tanh\":%d}",
             MS_VERSION, __VERSION__, sqlite3_libversion(), OpenSSL_version(OPENSSL_VERSION),
             openblas_get_config(), openblas_get_corename(), openblas_get_num_threads(), mlp_cpu_simd());
}

/* Signs with the keyring's Ed25519 key (ledger/note.h's signer). */
static int sign_with_keyring(void *ctx, const void *msg, size_t n, unsigned char sig[64], ms_err *e)
{
    return ms_keyring_sign(ctx, msg, n, sig, e);
}

/* Which keyring generations the run uses: ngen consecutive ones from
 * *first (chosen when *first < 0), every one present and not destroyed. */
static int choose_generations(const ms_keyring *kr, int ngen, int *first, ms_err *e)
{
    if (ms_keyring_is_dev(kr)) {
        if (*first < 0)
            *first = 0;
        return MS_OK;
    }
    int have = ms_keyring_generations(kr);
    if (*first < 0) {
        if (have < ngen)
            return ms_fail(e, MS_EINPUT, "the run needs %d key generations ([keys] rotate_every_episodes), the keyring %s "
                           "holds %d: run `marlsim keys rotate` %d more time%s (a run never writes the keyring)", ngen,
                           ms_keyring_origin(kr), have, ngen - have, ngen - have == 1 ? "" : "s");
        *first = have - ngen;
    }
    for (int g = *first; g < *first + ngen; g++) {
        ms_key_generation info;
        int rc = ms_keyring_generation(kr, g, &info, e);
        if (rc)
            return rc;
        if (info.destroyed)
            return ms_fail(e, MS_ECHECK, "key generation %d (%s) of keyring %s was destroyed: its key is gone, so no run "
                           "can use it any more%s", g, info.key_id, ms_keyring_origin(kr),
                           *first + ngen == have ? "; run `marlsim keys rotate` to add a fresh one" : "");
    }
    return MS_OK;
}

int exp_identity(const ms_config *c, const ms_keyring *kr, int first_gen, exp_identity_t *id, ms_err *e)
{
    memset(id, 0, sizeof *id);
    int ngen = ms_config_key_generations(c), first = first_gen, rc;
    /* The config hash through ms_sha256, which reports a libcrypto failure:
     * ms_config_hash cannot, and the fault sweep's failed allocation there
     * gave a hash of zeros that lake_create refused as bad input. */
    char text[MS_CONFIG_TEXT_MAX];
    size_t tn = ms_config_render(c, text, sizeof text);
    unsigned char md0[32];
    if ((rc = ms_sha256(text, tn < sizeof text ? tn : sizeof text - 1, md0, e)))
        return rc;
    ms_hex(md0, 32, id->config_sha256);
    if ((rc = choose_generations(kr, ngen, &first, e)))
        return rc;
    id->first_gen = first;
    id->ngen = ngen;
    id->dev_key = ms_keyring_is_dev(kr);
    size_t kl = (size_t)snprintf(id->key_ids, sizeof id->key_ids, "[");
    ms_key_generation g0;
    for (int g = first; g < first + ngen; g++) {
        ms_key_generation info;
        if ((rc = ms_keyring_generation(kr, g, &info, e)))
            return rc;
        if (g == first)
            g0 = info;
        kl += (size_t)snprintf(id->key_ids + kl, kl < sizeof id->key_ids ? sizeof id->key_ids - kl : 0,
                               "%s\"%s\"", g > first ? "," : "", info.key_id);
    }
    if (kl + 2 > sizeof id->key_ids)
        return ms_fail(e, MS_EINPUT, "experiment: %d key ids do not fit the lake's identity", ngen);
    snprintf(id->key_ids + kl, sizeof id->key_ids - kl, "]");
    char pub_hex[65] = "dev";
    if (ms_keyring_can_sign(kr)) {
        unsigned char pub[32];
        const char *name = ms_keyring_signer_name(kr);
        if ((rc = ms_keyring_public_key(kr, pub, e)) || (rc = ms_note_key_id(name, pub, id->signer_key_id, e)) ||
            (rc = ms_note_verifier_format(name, pub, id->signer, sizeof id->signer, e)))
            return rc;
        ms_hex(pub, 32, pub_hex);
    }
    char idsrc[512];
    int idn = snprintf(idsrc, sizeof idsrc, "marlsim-run-v2|%s|%s|%s", id->config_sha256, g0.fingerprint, pub_hex);
    unsigned char md[32];
    if ((rc = ms_sha256(idsrc, (size_t)idn, md, e)))
        return rc;
    ms_hex(md, 16, id->run_id);
    return MS_OK;
}

int exp_run(const ms_config *c, const exp_options *o, exp_result *res, ms_err *e)
{
    memset(res, 0, sizeof *res);
    snprintf(res->db, sizeof res->db, "%s", o->path);
    char text[MS_CONFIG_TEXT_MAX], facts[1024];
    ms_config_render(c, text, sizeof text);
    exp_build_facts(c, facts, sizeof facts);
    if (!o->kr)
        return ms_fail(e, MS_EINPUT, "experiment: no key material");

    /* The generations, the signer and the run id. */
    exp_identity_t id;
    int rc = exp_identity(c, o->kr, o->first_gen, &id, e);
    if (rc)
        return rc;
    ms_key_source ks = {o->kr, id.first_gen, id.ngen, 0};
    snprintf(res->run_id, sizeof res->run_id, "%s", id.run_id);
    snprintf(res->config_sha256, sizeof res->config_sha256, "%s", id.config_sha256);
    size_t kn = strlen(id.key_ids); /* a long list is cut: the lake has it whole */
    kn = kn < sizeof res->key_ids - 1 ? kn : sizeof res->key_ids - 1;
    memcpy(res->key_ids, id.key_ids, kn);
    res->key_ids[kn] = 0;
    snprintf(res->signer, sizeof res->signer, "%s", id.signer);
    res->dev_key = id.dev_key;
    ms_note_signer signer = {0};
    if (ms_keyring_can_sign(o->kr)) {
        signer.name = ms_keyring_signer_name(o->kr);
        memcpy(signer.key_id, id.signer_key_id, 4);
        signer.sign = sign_with_keyring;
        signer.ctx = (void *)o->kr;
    }
    const char *key_ids = id.key_ids;
    char origin[128];
    snprintf(origin, sizeof origin, "marlsim/%s%s", res->run_id, o->reproduce ? "/reproduce" : "");
    unsigned char commit_key[32];
    if ((rc = ms_keyring_commit_key(o->kr, commit_key, e)))
        return rc;

    static const char *const sync_names[] = {"off", "normal", "full", "extra"};
    lake_run_info info = {.run_id = res->run_id, .name = c->name, .seed = c->seed, .config_text = text,
                          .config_sha256 = res->config_sha256, .version = MS_VERSION, .build_facts = facts,
                          .key_ids = key_ids, .dev_key = res->dev_key, .origin = origin, .commit_key = commit_key,
                          .signer = signer.sign ? &signer : NULL, .checkpoint_every = c->checkpoint_every,
                          .checkpoint_file = 1, .started_at = NULL, .synchronous = sync_names[c->synchronous]};
    lake *L = NULL;
    recorder *rec = NULL;
    trainer *tr = NULL;
    rc = lake_create(&L, o->path, &info, o->overwrite, e);
    OPENSSL_cleanse(commit_key, sizeof commit_key);
    if (rc)
        return rc;
    rc = recorder_init(&rec, L, c, e);
    if (!rc)
        rc = trainer_init(&tr, c, rec, &ks, e);
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
        res->eval_reward = st->has_report ? st->report_score : st->eval_score;
        res->st = *st;
        res->t = *trainer_get_times(tr);
        res->t_record = recorder_seconds(rec);
        res->t_record_in_env = recorder_step_seconds(rec);
    }
    res->seconds = elapsed;
    ms_err fe;
    int frc = lake_finish(L, status, res->env_steps, res->eval_reward, res->st.has_report && !rc, &fe);
    /* A finish whose commit landed but whose PATH.checkpoint could not be
     * written leaves a finished lake: say what the lake holds. */
    int finished = !frc || strcmp(lake_status(L), "running") != 0;
    if (finished) {
        snprintf(res->head_hash, sizeof res->head_hash, "%s", lake_head_hex(L));
        res->checkpoint_size = lake_checkpoint(L, res->checkpoint_root);
    }
    /* What the lake holds, finished or not: a finish that failed (the fault
     * sweep: a disk full at the end of a run) reported the trainer's
     * env-steps, more than the lake had committed. */
    res->env_steps = lake_committed_env_steps(L);
    /* When the lake could not be finished, it says what it last committed. */
    snprintf(res->status, sizeof res->status, "%s", lake_status(L));
    trainer_free(tr);
    recorder_free(rec);
    lake_close(L);
    if (rc) {
        char msg[sizeof e->msg];
        snprintf(msg, sizeof msg, "%s", e->msg);
        if (finished)
            return ms_fail(e, rc, "%s (the lake is marked failed%s)", msg, frc ? "; its .checkpoint file is not" : "");
        return ms_fail(e, rc, "%s; and the lake could not be finished (%s): it stays 'running' at its last "
                       "commit", msg, fe.msg);
    }
    if (frc && finished)
        return ms_fail(e, frc, "%s (the lake is %s; only its .checkpoint file is out of date)", fe.msg,
                       res->status);
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
