/* marlsim.c — the public API (contract in api/marlsim.h): a thin layer of
 * opaque handles over sim/, nn/, ledger/, keys/ and exp/. It adds no logic
 * of its own beyond copying results out: the environment is ms_sim with a
 * policy stage that applies the caller's actions, the policy is the lake's
 * promoted networks with PPO's greedy head, the experiment is exp_run. */
#include "api/marlsim.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/rng.h"
#include "base/version.h"
#include "exp/experiment.h"
#include "keys/keyring.h"
#include "ledger/note.h"
#include "ledger/verify.h"
#include "nn/mlp.h"
#include "nn/ppo.h"
#include "sim/bcast.h"
#include "sim/config.h"
#include "sim/policy.h"
#include "sim/sim.h"

/* The public values are the library's (compared as int: distinct enums). */
#define SAME(a, b) ((int)(a) == (int)(b))
_Static_assert(SAME(MARLSIM_OK, MS_OK) && SAME(MARLSIM_EINPUT, MS_EINPUT) && SAME(MARLSIM_ECHECK, MS_ECHECK) &&
                   SAME(MARLSIM_EIO, MS_EIO),
               "public status values are the library's");
_Static_assert(SAME(MARLSIM_NAGENT, MS_NAGENT) && SAME(MARLSIM_AGENT_GET, MS_AGENT_GET) &&
                   SAME(MARLSIM_AGENT_OPEN, MS_AGENT_OPEN) && SAME(MARLSIM_AGENT_BIN, MS_AGENT_BIN),
               "public agent indices are the library's");
_Static_assert(SAME(MARLSIM_REF_RANDOM, MS_REF_RANDOM) && SAME(MARLSIM_REF_HEURISTIC, MS_REF_HEURISTIC) &&
                   SAME(MARLSIM_REF_ORACLE, MS_REF_ORACLE),
               "public reference policies are the library's");
_Static_assert(MS_NRULE <= 32, "a rules mask fits in uint32_t");

/* ---- status, version, names ---- */

const char *marlsim_version(void)
{
    return MS_VERSION;
}

int marlsim_api_version(void)
{
    return MARLSIM_API_VERSION;
}

const char *marlsim_status_name(int status)
{
    switch (status) {
    case MARLSIM_OK: return "ok";
    case MARLSIM_EINPUT: return "bad input";
    case MARLSIM_ECHECK: return "check failed";
    case MARLSIM_EIO: return "I/O failure";
    default: return "unknown status";
    }
}

static const char *const stream_names[] = {"train", "gate", "report"};
static const uint32_t stream_ids[] = {MS_STREAM_ENV, MS_STREAM_GATE, MS_STREAM_REPORT};
#define NSTREAM (int)(sizeof stream_names / sizeof stream_names[0])

typedef struct name_list {
    const char *const *names;
    int n;
} name_list;

static name_list names_of(int kind)
{
    switch (kind) {
    case MARLSIM_NAMES_AGENT: return (name_list){ms_agent_names, MS_NAGENT};
    case MARLSIM_NAMES_ACTION: return (name_list){ms_action_names, MS_NAGENT};
    case MARLSIM_NAMES_CLASS: return (name_list){ms_class_names, MS_NCLASS};
    case MARLSIM_NAMES_OUTCOME: return (name_list){ms_outcome_names, MS_NOUTCOME};
    case MARLSIM_NAMES_RULE: return (name_list){ms_rule_names, MS_NRULE};
    case MARLSIM_NAMES_REJECT: return (name_list){ms_bcast_reason_names, MS_BCAST_NREASON};
    case MARLSIM_NAMES_POISON: return (name_list){ms_poison_names, MS_NPOISON};
    case MARLSIM_NAMES_FEATURE: return (name_list){ms_feature_names, MS_NFEAT};
    case MARLSIM_NAMES_REFERENCE: return (name_list){ms_ref_names, MS_NREF};
    case MARLSIM_NAMES_STREAM: return (name_list){stream_names, NSTREAM};
    default: return (name_list){NULL, -1};
    }
}

const char *marlsim_name(int kind, int i)
{
    name_list l = names_of(kind);
    return i >= 0 && i < l.n ? l.names[i] : NULL;
}

int marlsim_name_count(int kind)
{
    return names_of(kind).n;
}

/* ---- configuration ---- */

struct marlsim_config {
    ms_config c;
    ms_err err;
};

/* A fresh handle's error reads "" (not NULL) until something fails. */
#define NEW_HANDLE(type, out)                                                                                     \
    do {                                                                                                          \
        *(out) = calloc(1, sizeof(type));                                                                         \
        if (!*(out))                                                                                              \
            return MARLSIM_EIO;                                                                                   \
    } while (0)

int marlsim_config_create(marlsim_config **out, const char *path, const char *text, const char *const *sets,
                          int nsets)
{
    if (!out)
        return MARLSIM_EINPUT;
    NEW_HANDLE(marlsim_config, out);
    marlsim_config *h = *out;
    ms_config_defaults(&h->c);
    int rc = MS_OK;
    if (nsets < 0 || (nsets > 0 && !sets))
        return ms_fail(&h->err, MS_EINPUT, "config: %d overrides but no list of them", nsets);
    if (path)
        rc = ms_config_load(&h->c, path, &h->err);
    else if (text)
        rc = ms_config_load_string(&h->c, text, "config text", &h->err);
    for (int i = 0; i < nsets && !rc; i++)
        rc = sets[i] ? ms_config_set(&h->c, sets[i], &h->err)
                     : ms_fail(&h->err, MS_EINPUT, "config: override %d is NULL", i);
    return rc;
}

int marlsim_config_set(marlsim_config *c, const char *assignment)
{
    if (!c)
        return MARLSIM_EINPUT;
    if (!assignment)
        return ms_fail(&c->err, MS_EINPUT, "config: the override is NULL");
    return ms_config_set(&c->c, assignment, &c->err);
}

int marlsim_config_check(marlsim_config *c)
{
    if (!c)
        return MARLSIM_EINPUT;
    return ms_config_finish(&c->c, &c->err);
}

int marlsim_config_render(marlsim_config *c, char *buf, size_t cap, size_t *len)
{
    if (!c)
        return MARLSIM_EINPUT;
    if (!buf && cap)
        return ms_fail(&c->err, MS_EINPUT, "config: no buffer for %zu bytes", cap);
    char tmp[1];
    size_t need = ms_config_render(&c->c, buf ? buf : tmp, buf ? cap : sizeof tmp);
    if (len)
        *len = need;
    if (need >= cap)
        return ms_fail(&c->err, MS_EINPUT, "config: the canonical text needs %zu bytes, the buffer holds %zu",
                       need + 1, cap);
    return MARLSIM_OK;
}

int marlsim_config_hash(marlsim_config *c, char hex[65])
{
    if (!c)
        return MARLSIM_EINPUT;
    if (!hex)
        return ms_fail(&c->err, MS_EINPUT, "config: no buffer for the hash");
    if (ms_config_hash(&c->c, hex))
        return ms_fail(&c->err, MS_EIO, "libcrypto: SHA-256 failed (out of memory?)");
    return MARLSIM_OK;
}

const char *marlsim_config_error(const marlsim_config *c)
{
    return c ? c->err.msg : "no config handle";
}

void marlsim_config_free(marlsim_config *c)
{
    free(c);
}

/* ---- environment ---- */

struct marlsim_env {
    ms_config cfg;   /* the env's own copy (the sim and policies point into it) */
    int stream;      /* MARLSIM_STREAM_* */
    uint64_t seed;   /* the reset seed */
    int ready;       /* sim and ref[] are initialised */
    ms_sim sim;
    ms_ref_policy ref[MS_NREF];
    const uint8_t *pending; /* the caller's actions during a step */
    ms_err err;
};

/* Policy stage: the caller's joint actions, as given. */
static int caller_act(void *ctx, ms_step *s, ms_err *e)
{
    (void)e;
    const marlsim_env *env = ctx;
    size_t n = (size_t)s->envs * MS_NAGENT;
    memcpy(s->act, env->pending, n);
    for (size_t k = 0; k < n; k++)
        s->prob1[k] = (float)s->act[k];
    return MS_OK;
}

static void env_release(marlsim_env *env)
{
    if (!env->ready)
        return;
    ms_sim_release(&env->sim);
    for (int k = 0; k < MS_NREF; k++)
        ms_ref_policy_release(&env->ref[k]);
    env->ready = 0;
}

static void fill_obs(const marlsim_env *env, marlsim_batch *out)
{
    if (!out)
        return;
    const ms_step *s = &env->sim.s;
    for (int a = 0; a < MS_NAGENT; a++)
        if (out->obs[a])
            memcpy(out->obs[a], s->obs[a], sizeof(float) * (size_t)s->envs * (size_t)s->obs_dim[a]);
    if (out->obs_rejected)
        memcpy(out->obs_rejected, s->reject, (size_t)s->envs);
}

/* (Re)starts the stream with seed: the config's seed of the stream is
 * replaced, the sim and the reference policies are made anew. */
static int env_start(marlsim_env *env, uint64_t seed)
{
    env_release(env);
    if (env->stream == MARLSIM_STREAM_REPORT)
        env->cfg.eval_seed = seed;
    else
        env->cfg.seed = seed;
    env->seed = seed;
    memset(&env->ref, 0, sizeof env->ref);
    int rc = ms_sim_init(&env->sim, &env->cfg, stream_ids[env->stream], NULL, &env->err);
    if (rc)
        return rc;
    for (int k = 0; k < MS_NREF && !rc; k++)
        rc = ms_ref_policy_init(&env->ref[k], k, &env->cfg, seed, &env->err);
    if (!rc)
        rc = ms_sim_observe(&env->sim, &env->err);
    if (rc) { /* releasing a policy that was never initialised (zeroed) is harmless */
        ms_sim_release(&env->sim);
        for (int k = 0; k < MS_NREF; k++)
            ms_ref_policy_release(&env->ref[k]);
        return rc;
    }
    env->ready = 1;
    return MS_OK;
}

int marlsim_env_create(marlsim_env **out, const marlsim_config *c, int stream, int envs)
{
    if (!out)
        return MARLSIM_EINPUT;
    NEW_HANDLE(marlsim_env, out);
    marlsim_env *env = *out;
    if (!c)
        return ms_fail(&env->err, MS_EINPUT, "env: no config");
    if (stream < 0 || stream >= NSTREAM)
        return ms_fail(&env->err, MS_EINPUT, "env: stream %d: allowed: 0 (train), 1 (gate), 2 (report)", stream);
    if (envs < 0 || envs > 4096)
        return ms_fail(&env->err, MS_EINPUT, "env: %d mailboxes: allowed: 0 ([sim] envs) or 1..4096", envs);
    env->cfg = c->c;
    if (envs)
        env->cfg.envs = envs;
    env->stream = stream;
    return env_start(env, stream == MARLSIM_STREAM_REPORT ? env->cfg.eval_seed : env->cfg.seed);
}

int marlsim_env_num_envs(const marlsim_env *env)
{
    return env ? env->cfg.envs : 0;
}

int marlsim_env_episode_len(const marlsim_env *env)
{
    return env ? env->cfg.episode_len : 0;
}

int marlsim_env_obs_dim(const marlsim_env *env, int agent)
{
    if (!env || agent < 0 || agent >= MS_NAGENT)
        return -1;
    return env->cfg.observe == MS_OBSERVE_ALL ? MS_OBS_MAX : ms_modality_dim[agent];
}

const char *marlsim_env_feature_name(const marlsim_env *env, int agent, int k)
{
    int f = env ? ms_obs_feature(agent, env->cfg.observe, k) : -1;
    return f < 0 ? NULL : ms_feature_names[f];
}

uint64_t marlsim_env_seed(const marlsim_env *env)
{
    return env ? env->seed : 0;
}

static int env_usable(marlsim_env *env)
{
    if (!env->ready)
        return ms_fail(&env->err, MS_EINPUT, "env: not usable after a failed create or reset (%s)",
                       "reset it with a seed");
    return MS_OK;
}

int marlsim_env_reset(marlsim_env *env, uint64_t seed, marlsim_batch *out)
{
    if (!env)
        return MARLSIM_EINPUT;
    int rc = env_start(env, seed);
    if (!rc)
        fill_obs(env, out);
    return rc;
}

#define COPY_OUT(field, expr)                                                                                     \
    do {                                                                                                          \
        if (out->field)                                                                                           \
            for (int i = 0; i < n; i++)                                                                           \
                out->field[i] = (expr);                                                                           \
    } while (0)

int marlsim_env_step(marlsim_env *env, const uint8_t *actions, marlsim_batch *out)
{
    if (!env)
        return MARLSIM_EINPUT;
    int rc = env_usable(env);
    if (rc)
        return rc;
    if (!actions)
        return ms_fail(&env->err, MS_EINPUT, "env step: no actions");
    int n = env->cfg.envs;
    for (int i = 0; i < n; i++)
        for (int a = 0; a < MS_NAGENT; a++)
            if (actions[i * MS_NAGENT + a] > 1)
                return ms_fail(&env->err, MS_EINPUT, "env step: mailbox %d, agent %s: action %d; allowed: 0 or 1", i,
                               ms_agent_names[a], actions[i * MS_NAGENT + a]);
    env->pending = actions;
    ms_policy stage = {caller_act, env};
    rc = ms_sim_step(&env->sim, &stage, NULL, 0, &env->err);
    env->pending = NULL;
    if (rc) {
        env_release(env); /* a half-taken step leaves nothing to continue from */
        return rc;
    }
    const ms_step *s = &env->sim.s;
    if (out) {
        /* The step's results first: observing the next messages
         * overwrites the messages, their rejections and tampering. */
        COPY_OUT(reward, s->res[i].reward);
        COPY_OUT(reward_raw, s->res[i].raw);
        COPY_OUT(outcome, s->res[i].outcome);
        COPY_OUT(rules, s->res[i].fired);
        COPY_OUT(rejected, s->reject[i]);
        COPY_OUT(truncated, s->episode_end[i]);
        COPY_OUT(compromise, s->res[i].compromise);
        COPY_OUT(cls, s->msg[i].cls);
        COPY_OUT(poisoned, s->poison[i]);
        COPY_OUT(backdoor, s->msg[i].backdoor);
        COPY_OUT(forged, s->forged[i]);
        if (out->credit)
            memcpy(out->credit, s->credit, sizeof(double) * (size_t)n * MS_NAGENT);
        if (out->actions)
            memcpy(out->actions, s->act, (size_t)n * MS_NAGENT);
        if (out->effective)
            for (int i = 0; i < n; i++)
                memcpy(out->effective + (size_t)i * MS_NAGENT, s->res[i].eff, MS_NAGENT);
    }
    if ((rc = ms_sim_observe(&env->sim, &env->err))) {
        env_release(env);
        return rc;
    }
    fill_obs(env, out);
    return MS_OK;
}

int marlsim_env_reference_actions(marlsim_env *env, int policy, uint8_t *actions, float *prob1)
{
    if (!env)
        return MARLSIM_EINPUT;
    int rc = env_usable(env);
    if (rc)
        return rc;
    if (policy < 0 || policy >= MS_NREF)
        return ms_fail(&env->err, MS_EINPUT, "env: reference policy %d; allowed: 0 (random), 1 (heuristic), "
                       "2 (oracle)", policy);
    if (!actions)
        return ms_fail(&env->err, MS_EINPUT, "env: no buffer for the actions");
    ms_step *s = &env->sim.s;
    ms_policy stage = ms_ref_policy_stage(&env->ref[policy]);
    if ((rc = stage.act(stage.ctx, s, &env->err)))
        return rc;
    size_t n = (size_t)s->envs * MS_NAGENT;
    memcpy(actions, s->act, n);
    if (prob1)
        memcpy(prob1, s->prob1, sizeof(float) * n);
    return MS_OK;
}

const char *marlsim_env_error(const marlsim_env *env)
{
    return env ? env->err.msg : "no env handle";
}

void marlsim_env_free(marlsim_env *env)
{
    if (!env)
        return;
    env_release(env);
    free(env);
}

/* ---- policies from a lake ---- */

enum { POLICY_CHUNK = 1024 }; /* observations per forward pass */

struct marlsim_policy {
    mlp net[MS_NAGENT];
    float out[POLICY_CHUNK * PPO_OUT], prob[POLICY_CHUNK];
    int act[POLICY_CHUNK];
    marlsim_policy_info info;
    ms_err err;
};

int marlsim_policy_load(marlsim_policy **out, const char *lake_path, const char *pubkey)
{
    if (!out)
        return MARLSIM_EINPUT;
    NEW_HANDLE(marlsim_policy, out);
    marlsim_policy *p = *out;
    if (!lake_path)
        return ms_fail(&p->err, MS_EINPUT, "policy: no lake path");
    ms_note_verifier trusted;
    lake_verify_opts vo = {0};
    if (pubkey) {
        int rc = ms_note_verifier_parse(pubkey, strlen(pubkey), &trusted, &p->err);
        if (rc)
            return rc;
        vo.trusted = &trusted;
    }
    lake_policy_blob blob[MS_NAGENT];
    lake_verify_report rep;
    int rc = lake_read_policy(lake_path, &vo, ms_agent_names, MS_NAGENT, blob, &rep, &p->err);
    if (rc)
        return rc;
    marlsim_policy_info *in = &p->info;
    snprintf(in->run_id, sizeof in->run_id, "%s", rep.run_id);
    in->authenticated = rep.authenticated;
    in->complete = rep.complete;
    in->eval_id = blob[0].eval_id;
    in->update_id = blob[0].update_id;
    for (int a = 0; a < MS_NAGENT && !rc; a++) {
        in->snapshot_id[a] = blob[a].snapshot_id;
        memcpy(in->sha256[a], blob[a].sha256, sizeof in->sha256[a]);
        rc = mlp_init_from_blob(&p->net[a], blob[a].blob, blob[a].n, POLICY_CHUNK, &p->err);
        if (!rc && mlp_out(&p->net[a]) != PPO_OUT)
            rc = ms_fail(&p->err, MS_EINPUT, "%s: the %s snapshot has %d outputs, not a policy's %d", lake_path,
                         ms_agent_names[a], mlp_out(&p->net[a]), PPO_OUT);
        in->obs_dim[a] = rc ? 0 : mlp_in(&p->net[a]);
    }
    lake_policy_release(blob, MS_NAGENT);
    if (rc)
        for (int a = 0; a < MS_NAGENT; a++)
            mlp_release(&p->net[a]);
    return rc;
}

int marlsim_policy_info_get(const marlsim_policy *p, marlsim_policy_info *info)
{
    if (!p || !info || !p->info.obs_dim[0])
        return MARLSIM_EINPUT;
    *info = p->info;
    return MARLSIM_OK;
}

int marlsim_policy_act(marlsim_policy *p, const float *const obs[MARLSIM_NAGENT], int n, uint8_t *actions,
                       float *prob1)
{
    if (!p)
        return MARLSIM_EINPUT;
    if (!p->info.obs_dim[0])
        return ms_fail(&p->err, MS_EINPUT, "policy: not loaded");
    if (!obs || !actions || n < 0)
        return ms_fail(&p->err, MS_EINPUT, "policy act: no observations or no buffer for the actions");
    for (int a = 0; a < MS_NAGENT; a++)
        if (!obs[a])
            return ms_fail(&p->err, MS_EINPUT, "policy act: no observations for %s", ms_agent_names[a]);
    for (int first = 0; first < n; first += POLICY_CHUNK) {
        int m = n - first < POLICY_CHUNK ? n - first : POLICY_CHUNK;
        for (int a = 0; a < MS_NAGENT; a++) {
            mlp_forward(&p->net[a], obs[a] + (size_t)first * (size_t)p->info.obs_dim[a], m, p->out);
            ppo_heads(p->out, m, NULL, p->act, NULL, p->prob, NULL);
            for (int i = 0; i < m; i++) {
                actions[(size_t)(first + i) * MS_NAGENT + a] = (uint8_t)p->act[i];
                if (prob1)
                    prob1[(size_t)(first + i) * MS_NAGENT + a] = p->prob[i];
            }
        }
    }
    return MARLSIM_OK;
}

const char *marlsim_policy_error(const marlsim_policy *p)
{
    return p ? p->err.msg : "no policy handle";
}

void marlsim_policy_free(marlsim_policy *p)
{
    if (!p)
        return;
    for (int a = 0; a < MS_NAGENT; a++)
        mlp_release(&p->net[a]);
    free(p);
}

/* ---- experiments ---- */

struct marlsim_experiment {
    ms_config cfg;
    int ok; /* the config passed the cross-key checks */
    volatile sig_atomic_t stop;
    void (*cb)(const marlsim_progress *, void *);
    void *cb_ctx;
    ms_err err;
};

int marlsim_experiment_create(marlsim_experiment **out, const marlsim_config *c)
{
    if (!out)
        return MARLSIM_EINPUT;
    NEW_HANDLE(marlsim_experiment, out);
    marlsim_experiment *x = *out;
    if (!c)
        return ms_fail(&x->err, MS_EINPUT, "experiment: no config");
    x->cfg = c->c;
    int rc = ms_config_finish(&x->cfg, &x->err);
    x->ok = !rc;
    return rc;
}

void marlsim_experiment_set_progress(marlsim_experiment *x, void (*cb)(const marlsim_progress *, void *), void *ctx)
{
    if (!x)
        return;
    x->cb = cb;
    x->cb_ctx = ctx;
}

static void progress_adapter(const trainer_status *st, void *ctx)
{
    const marlsim_experiment *x = ctx;
    if (!x->cb)
        return;
    marlsim_progress p = {st->env_steps, st->total_env_steps, st->updates, st->gates, st->recent_reward,
                          st->eval_score, st->last_decision};
    x->cb(&p, x->cb_ctx);
}

/* The keyring a run uses: keyring, else [keys] keyring, MARLSIM_KEYRING or
 * the per-user default (keys/keyring.h); dev = the seed's development key. */
static int run_keyring(const marlsim_experiment *x, const char *keyring, ms_keyring **kr, ms_err *e)
{
    ms_keyring_source src;
    int rc = ms_keyring_resolve(keyring, x->cfg.keyring[0] ? x->cfg.keyring : NULL, &src, e);
    if (rc)
        return rc;
    return src.kind == MS_KEYRING_DEV ? ms_keyring_dev(x->cfg.seed, kr, e) : ms_keyring_load(&src, kr, e);
}

int marlsim_experiment_run(marlsim_experiment *x, const char *out_path, const char *keyring, int overwrite,
                           marlsim_run_result *res)
{
    if (!x)
        return MARLSIM_EINPUT;
    if (res)
        memset(res, 0, sizeof *res);
    if (!x->ok)
        return ms_fail(&x->err, MS_EINPUT, "experiment: its config did not pass the checks (%s)",
                       "create it anew");
    char path[MS_PATH_MAX + 64];
    int rc = exp_default_out(&x->cfg, out_path, path, sizeof path, &x->err);
    if (rc)
        return rc;
    ms_keyring *kr = NULL;
    if ((rc = run_keyring(x, keyring, &kr, &x->err)))
        return rc;
    x->stop = 0;
    exp_options o = {.path = path, .overwrite = overwrite != 0, .kr = kr, .first_gen = -1, .stop = &x->stop,
                     .progress = progress_adapter, .progress_ctx = x};
    exp_result r;
    memset(&r, 0, sizeof r);
    rc = exp_run(&x->cfg, &o, &r, &x->err);
    ms_keyring_free(kr);
    if (res) {
        snprintf(res->run_id, sizeof res->run_id, "%s", r.run_id);
        snprintf(res->config_sha256, sizeof res->config_sha256, "%s", r.config_sha256);
        snprintf(res->head_hash, sizeof res->head_hash, "%s", r.head_hash);
        snprintf(res->status, sizeof res->status, "%s", r.status);
        snprintf(res->path, sizeof res->path, "%s", r.status[0] ? r.db : "");
        res->dev_key = r.dev_key;
        res->env_steps = r.env_steps;
        res->updates = r.st.updates;
        res->gates = r.st.gates;
        res->seconds = r.seconds;
        res->has_report = r.st.has_report;
        res->report_score = r.st.has_report ? r.st.report_score : 0.0;
        res->checkpoint_size = r.checkpoint_size;
        snprintf(res->checkpoint_root, sizeof res->checkpoint_root, "%s", r.checkpoint_root);
        snprintf(res->signer, sizeof res->signer, "%s", r.signer);
    }
    return rc;
}

void marlsim_experiment_stop(marlsim_experiment *x)
{
    if (x)
        x->stop = 1;
}

const char *marlsim_experiment_error(const marlsim_experiment *x)
{
    return x ? x->err.msg : "no experiment handle";
}

void marlsim_experiment_free(marlsim_experiment *x)
{
    free(x);
}
