/* experiment.c — see experiment.h. */
#include "exp/experiment.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cblas.h>
#include <openssl/crypto.h>
#include <sqlite3.h>

#include "base/clock.h"
#include "base/hash.h"
#include "exp/comm.h"
#include "exp/manifest.h"
#include "exp/recorder.h"
#include "keys/keyring.h"
#include "ledger/lake.h"
#include "ledger/note.h"
#include "ledger/verify.h"


void exp_build_facts(const ms_config *c, char *buf, size_t n)
{
    openblas_set_num_threads(c->blas_threads);
    snprintf(buf, n,
             "{\"marlsim\":\"%s\",\"compiler\":\"gcc %s\",\"sqlite\":\"%s\",\"openssl\":\"%s\","
             "\"openblas\":\"%s\",\"openblas_core\":\"%s\",\"blas_threads\":%d,\"simd_tanh\":%d}",
             MS_VERSION, __VERSION__, sqlite3_libversion(), OpenSSL_version(OPENSSL_VERSION),
             openblas_get_config(), openblas_get_corename(), openblas_get_num_threads(), mlp_cpu_simd());
}

void exp_json_field(const char *json, const char *key, char *out, size_t n)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = json ? strstr(json, pat) : NULL;
    out[0] = 0;
    if (!p)
        return;
    p += strlen(pat);
    int quoted = *p == '"';
    p += quoted;
    size_t k = 0;
    while (*p && k + 1 < n && (quoted ? *p != '"' : (*p != ',' && *p != '}')))
        out[k++] = *p++;
    out[k] = 0;
}

int exp_first_generation(const char *key_ids, int *dev)
{
    const char *p = key_ids;
    if (!p || strncmp(p, "[\"", 2))
        return -1;
    p += 2;
    *dev = !strncmp(p, "dev", 3);
    p += *dev ? 3 : (*p == 'k' ? 1 : 0);
    if (p[-1] != 'k' && !*dev)
        return -1;
    char *end;
    long g = strtol(p, &end, 10);
    if (end == p || *end != '"' || g < 0 || g > 1000000)
        return -1;
    return (int)g;
}

void exp_resume_release(exp_resume_info *info)
{
    if (!info)
        return;
    free(info->hashes);
    info->hashes = NULL;
}

int exp_resume_prepare(const char *path, const ms_keyring *kr, exp_resume_info *info, ms_err *e)
{
    memset(info, 0, sizeof *info);
    /* The trusted key is the keyring's: the continuation is signed by it,
     * so it must be the key that signed what is continued. */
    ms_note_verifier trusted;
    lake_verify_opts vo = {0};
    int rc;
    if (ms_keyring_can_sign(kr)) {
        unsigned char pub[32];
        const char *name = ms_keyring_signer_name(kr);
        if ((rc = ms_keyring_public_key(kr, pub, e)) || (rc = ms_note_key_id(name, pub, trusted.key_id, e)))
            return rc;
        snprintf(trusted.name, sizeof trusted.name, "%s", name);
        memcpy(trusted.pub, pub, 32);
        vo.trusted = &trusted;
    }
    lake_run_meta m;
    lake_verify_report rep;
    if ((rc = lake_check_unheld(path, e)) ||
        (rc = lake_read_verified(path, &vo, &m, NULL, 0, NULL, &info->hashes, &rep, e)))
        return rc;
    char origin[MS_PATH_MAX + 32];
    snprintf(origin, sizeof origin, "%s:runs.config_text", path);
    int dev = 0;
    info->first_gen = exp_first_generation(m.key_ids, &dev);
    info->entries = rep.entries;
    info->signed_size = rep.signed_size;
    info->env_steps = m.env_steps;
    snprintf(info->run_id, sizeof info->run_id, "%s", m.run_id ? m.run_id : "");
    snprintf(info->status, sizeof info->status, "%s", m.status ? m.status : "");
    snprintf(info->origin, sizeof info->origin, "%s", m.origin ? m.origin : "");
    exp_json_field(m.build_facts, "openblas_core", info->core, sizeof info->core);
    char ranks[16];
    exp_json_field(m.build_facts, "ranks", ranks, sizeof ranks);
    if (ranks[0])
        rc = ms_fail(e, MS_EINPUT, "%s: a shard of a run of %s processes: resuming one is not supported (run it "
                     "again)", path, ranks);
    else if (!strcmp(info->status, "completed"))
        rc = ms_fail(e, MS_EINPUT, "%s: the run completed: there is nothing to resume", path);
    else if (rep.npurges || rep.exported_class[0])
        rc = ms_fail(e, MS_EINPUT, "%s: %s: there is nothing to resume", path,
                     rep.exported_class[0] ? "an export" : "it was purged (the run's data is gone)");
    else if (info->first_gen < 0 || dev != m.dev_key)
        rc = ms_fail(e, MS_ECHECK, "%s: runs.key_ids is not a list of key ids marlsim writes", path);
    else if (vo.trusted && !m.dev_key && !rep.signed_size)
        rc = ms_fail(e, MS_ECHECK, "%s: the keyring's key cannot vouch for it (%s): a continuation would sign "
                     "it; run its config again instead (it stopped before anything was signed)",
                     path, rep.unsigned_why);
    else if (m.dev_key != ms_keyring_is_dev(kr))
        rc = ms_fail(e, MS_EINPUT, "%s: %s", path,
                     m.dev_key ? "a development-key lake is resumed with the development keyring (--keyring dev)"
                               : "a keyring-signed lake cannot be resumed with the development keyring");
    if (!rc) {
        ms_config_defaults(&info->c);
        rc = ms_config_load_stored(&info->c, m.config_text, origin, e);
    }
    if (!rc && info->c.seed != m.seed)
        rc = ms_fail(e, MS_EINPUT, "%s: runs.seed differs from its stored config's seed", path);
    exp_identity_t id;
    if (!rc && (rc = exp_identity(&info->c, kr, info->first_gen, &id, e)) == MS_ECHECK)
        rc = ms_fail(e, MS_EINPUT, "%s: the run can no longer be resumed (crypto-shredding): %s", path, e->msg);
    if (!rc && strcmp(id.run_id, info->run_id))
        rc = ms_fail(e, MS_EINPUT, "%s: keyring %s is not the one the run used (with it the run id would be %s, "
                     "the lake's is %.40s)", path, ms_keyring_origin(kr), id.run_id, info->run_id);
    lake_run_meta_release(&m);
    if (rc)
        exp_resume_release(info);
    return rc;
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

/* Before a run of several processes writes anything: they agree with rank
 * 0 on the config, the identity and the OpenBLAS core (experiment.h). */
static int agree(ms_comm *comm, const ms_config *c, const exp_identity_t *id, ms_err *e)
{
    int ranks = comm_size(comm), rank = comm_rank(comm);
    struct {
        char config[65], run_id[33], core[64];
    } mine, root;
    memset(&mine, 0, sizeof mine);
    snprintf(mine.config, sizeof mine.config, "%s", id->config_sha256);
    snprintf(mine.run_id, sizeof mine.run_id, "%s", id->run_id);
    snprintf(mine.core, sizeof mine.core, "%s", openblas_get_corename());
    root = mine;
    int rc = comm_bcast(comm, &root, sizeof root, e);
    if (rc)
        return rc;
    int differs = strcmp(mine.core, root.core) ? 1 : strcmp(mine.config, root.config) ? 2
                : strcmp(mine.run_id, root.run_id)                                     ? 3 : 0;
    int worst = differs;
    if ((rc = comm_max_int(comm, &worst, e)))
        return rc;
    if (differs == 1)
        return ms_fail(e, MS_EINPUT, "rank %d runs OpenBLAS core %s, rank 0 runs %s: every rank of a run must run the "
                       "same core (SPEC §11; pin it with [train] blas_core)", rank, mine.core, root.core);
    if (differs == 2)
        return ms_fail(e, MS_EINPUT, "rank %d's config (hash %.12s) is not rank 0's (%.12s): every rank runs the same "
                       "config", rank, mine.config, root.config);
    if (differs == 3)
        return ms_fail(e, MS_EINPUT, "rank %d's run id is not rank 0's: every rank must use the same keyring", rank);
    if (worst)
        return ms_fail(e, MS_EINPUT, "rank %d: another rank's OpenBLAS core, config or keyring differs from rank 0's "
                       "(its message says which)", rank);
    if (ranks > MS_MANIFEST_MAX_RANKS || c->envs < ranks || c->minibatch < ranks)
        return ms_fail(e, MS_EINPUT, "a run of %d processes needs [sim] envs and [train] minibatch of at least %d "
                       "(they are %d and %d) and at most %d processes", ranks, ranks, c->envs, c->minibatch,
                       MS_MANIFEST_MAX_RANKS);
    return MS_OK;
}

/* After a run of several processes: every shard's ledger size and root to
 * rank 0, which writes the manifest. */
static int write_manifest(ms_comm *comm, lake *L, const exp_options *o, const ms_note_signer *signer,
                          exp_result *res, ms_err *e)
{
    int ranks = comm_size(comm);
    manifest_shard mine, *all = calloc((size_t)ranks, sizeof *all);
    if (!all)
        return ms_fail(e, MS_EIO, "out of memory");
    memset(&mine, 0, sizeof mine);
    int rc = lake_tree_root(L, mine.root, &mine.size, e);
    if (!rc)
        rc = comm_allgather(comm, &mine, sizeof mine, all, e);
    if (!rc && comm_rank(comm) == 0) {
        rc = manifest_write(o->manifest, res->run_id, res->config_sha256, res->status, res->env_steps, ranks, all,
                            signer, res->manifest_root, e);
        if (!rc)
            snprintf(res->manifest, sizeof res->manifest, "%s", o->manifest);
    }
    free(all);
    return rc;
}

int exp_run(const ms_config *c, const exp_options *o, exp_result *res, ms_err *e)
{
    memset(res, 0, sizeof *res);
    snprintf(res->db, sizeof res->db, "%s", o->path);
    ms_comm *comm = o->comm ? o->comm : comm_single();
    int ranks = comm_size(comm);
    res->ranks = ranks;
    char text[MS_CONFIG_TEXT_MAX], facts[1024];
    ms_config_render(c, text, sizeof text);
    exp_build_facts(c, facts, sizeof facts);
    size_t fl = strlen(facts);
    if (ranks > 1 && fl > 1) /* the build facts say how many processes made the shard */
        snprintf(facts + fl - 1, sizeof facts - (fl - 1), ",\"mpi\":\"%s\",\"ranks\":%d}", comm_library(comm),
                 ranks);
    if (!o->kr)
        return ms_fail(e, MS_EINPUT, "experiment: no key material");

    /* The generations, the signer and the run id. */
    exp_identity_t id;
    int rc = exp_identity(c, o->kr, o->first_gen, &id, e);
    if (!rc && ranks > 1)
        rc = agree(comm, c, &id, e);
    if (!rc && ranks > 1 && !o->manifest)
        rc = ms_fail(e, MS_EINPUT, "experiment: a run of several processes needs a manifest path");
    if (!rc && ranks > 1) /* the shard's own run id (bound into its chain) */
        rc = manifest_shard_id(id.run_id, comm_rank(comm), ranks, res->shard_id, e);
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
    if (ms_keyring_can_sign(o->kr) && !o->sign_nothing) {
        signer.name = ms_keyring_signer_name(o->kr);
        memcpy(signer.key_id, id.signer_key_id, 4);
        signer.sign = sign_with_keyring;
        signer.ctx = (void *)o->kr;
    }
    const char *key_ids = id.key_ids;
    char origin[160];
    if (o->resume)
        snprintf(origin, sizeof origin, "%s", o->resume->origin); /* a reproduction's, too */
    else
        snprintf(origin, sizeof origin, "marlsim/%s%s", ranks > 1 ? res->shard_id : res->run_id,
                 o->reproduce ? "/reproduce" : "");
    unsigned char commit_key[32];
    if ((rc = ms_keyring_commit_key(o->kr, commit_key, e)))
        return rc;

    static const char *const sync_names[] = {"off", "normal", "full", "extra"};
    lake_run_info info = {.run_id = ranks > 1 ? res->shard_id : res->run_id, .name = c->name, .seed = c->seed, .config_text = text,
                          .config_sha256 = res->config_sha256, .version = MS_VERSION, .build_facts = facts,
                          .key_ids = key_ids, .dev_key = res->dev_key, .origin = origin, .commit_key = commit_key,
                          .signer = signer.sign ? &signer : NULL, .checkpoint_every = c->checkpoint_every,
                          .checkpoint_file = 1, .started_at = NULL, .synchronous = sync_names[c->synchronous]};
    lake *L = NULL;
    recorder *rec = NULL;
    trainer *tr = NULL;
    rc = o->resume ? lake_resume(&L, o->path, &info, (const unsigned char (*)[32])o->resume->hashes,
                                 o->resume->entries, e)
                   : lake_create(&L, o->path, &info, o->overwrite, e);
    OPENSSL_cleanse(commit_key, sizeof commit_key);
    if (ranks > 1) { /* every shard was created, or none runs */
        int failed = rc != 0;
        ms_err ae;
        int arc = comm_max_int(comm, &failed, &ae);
        if (!rc && (arc || failed))
            rc = arc ? arc : ms_fail(e, MS_EINPUT, "rank %d: another rank could not create its shard (its message "
                                     "says why)", comm_rank(comm));
        if (arc && !rc)
            *e = ae;
    }
    if (rc && !L)
        return rc;
    if (!rc)
        rc = recorder_init(&rec, L, c, e);
    if (!rc)
        rc = trainer_init_comm(&tr, c, rec, &ks, comm, e);
    if (!rc)
        trainer_stop_at(tr, o->interrupt_at);

    double t0 = ms_now();
    int interrupted = 0;
    if (!rc)
        rc = trainer_run(tr, o->stop, o->progress, o->progress_ctx, &interrupted, e);
    /* The lake's thread finishes what was queued (its first failure, if
     * any, fails the run); the run's time includes it. */
    ms_err se;
    int src = recorder_sync(rec, &se);
    if (src && !rc) {
        rc = src;
        *e = se;
    }
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
        res->t_writer = recorder_writer_seconds(rec);
    }
    res->seconds = elapsed;
    ms_err fe;
    int frc = lake_finish(L, status, res->env_steps, res->eval_reward, res->st.has_report && !rc, &fe);
    /* A finish whose commit landed but whose PATH.checkpoint could not be
     * written leaves a finished lake: say what the lake holds. */
    int finished = !frc || lake_finished(L);
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
    if (o->resume && !lake_wrote(L)) { /* it ended while replaying: the lake is as it was */
        ms_hex(o->resume->hashes[o->resume->entries - 1], 32, res->head_hash);
        res->env_steps = o->resume->env_steps;
        snprintf(res->status, sizeof res->status, "%s", o->resume->status);
    }
    int mrc = !rc && !frc && ranks > 1 ? write_manifest(comm, L, o, signer.sign ? &signer : NULL, res, e) : MS_OK;
    trainer_free(tr);
    recorder_free(rec);
    lake_close(L);
    if (mrc) /* the shard is finished; the manifest is not */
        return mrc;
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

double exp_estimate_lake_bytes(const ms_config *c)
{
    double per_step = c->level == MS_LEVEL_FULL      ? EXP_BYTES_FULL
                      : c->level == MS_LEVEL_SAMPLED ? (double)EXP_BYTES_FULL / (c->sample_every > 0 ? c->sample_every : 1) +
                                                           EXP_BYTES_AGGREGATE
                                                     : EXP_BYTES_AGGREGATE;
    double steps = (double)ms_config_run_steps(c);
    double wal = steps * per_step < EXP_BYTES_WAL ? steps * per_step : EXP_BYTES_WAL;
    return steps * per_step + wal + EXP_BYTES_FIXED;
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
    /* The config hash in the name: runs of a sweep (--set) never overwrite
     * one another. */
    char text[MS_CONFIG_TEXT_MAX], hex[65];
    unsigned char md[32];
    ms_config_render(c, text, sizeof text);
    int rc = ms_sha256(text, strlen(text), md, e);
    if (rc)
        return rc;
    ms_hex(md, 4, hex);
    snprintf(path, n, "runs/%s-s%llu-%s.db", c->name, (unsigned long long)c->seed, hex);
    return MS_OK;
}
