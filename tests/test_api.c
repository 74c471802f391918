/* Tests of the public API (api/marlsim.h): names, configs, the environment
 * against the step loop and `marlsim eval`'s evaluation, determinism,
 * policies from a lake against eval --policy RUN.db, experiments. */
#include "tests/check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/marlsim.h"
#include "base/version.h"
#include "exp/trainer.h"
#include "sim/policy.h"
#include "sim/sim.h"

/* A small environment: 8 mailboxes, short episodes, 2 report episodes. */
static const char *const small_sets[] = {"sim.envs=8", "sim.episode_len=16", "gate.report_episodes=2",
                                         "sim.campaign_rate=0.2"};
#define NSMALL (int)(sizeof small_sets / sizeof small_sets[0])

static marlsim_config *small_config(void)
{
    marlsim_config *c = NULL;
    int rc = marlsim_config_create(&c, "configs/default.ini", NULL, small_sets, NSMALL);
    CHECK(rc == MARLSIM_OK && c, "config: %d %s", rc, marlsim_config_error(c));
    return c;
}

/* The same configuration through the library's own functions (the
 * handle is opaque). */
static int lib_config(ms_config *mc, const char *path, const char *text, const char *const *sets, int n,
                      const char *extra)
{
    ms_err e;
    ms_config_defaults(mc);
    int rc = path ? ms_config_load(mc, path, &e) : text ? ms_config_load_string(mc, text, "text", &e) : 0;
    for (int i = 0; i < n && !rc; i++)
        rc = ms_config_set(mc, sets[i], &e);
    if (!rc && extra)
        rc = ms_config_set(mc, extra, &e);
    CHECK(!rc, "library config: %s", e.msg);
    return rc;
}

static void api_names(void)
{
    CHECK(!strcmp(marlsim_version(), MS_VERSION), "version %s", marlsim_version());
    CHECK(marlsim_api_version() == MARLSIM_API_VERSION, "api version");
    CHECK(marlsim_name_count(MARLSIM_NAMES_AGENT) == 3 && !strcmp(marlsim_name(MARLSIM_NAMES_AGENT, 2), "BIN"),
          "agents");
    CHECK(!strcmp(marlsim_name(MARLSIM_NAMES_ACTION, 1), "OPEN_SAFE_PREVIEW"), "actions");
    CHECK(marlsim_name_count(MARLSIM_NAMES_CLASS) == 4 && !strcmp(marlsim_name(MARLSIM_NAMES_CLASS, 3), "malware"),
          "classes");
    CHECK(marlsim_name_count(MARLSIM_NAMES_RULE) == MS_NRULE && marlsim_name_count(MARLSIM_NAMES_FEATURE) == 21,
          "rules, features");
    CHECK(!strcmp(marlsim_name(MARLSIM_NAMES_STREAM, MARLSIM_STREAM_REPORT), "report"), "streams");
    CHECK(!strcmp(marlsim_name(MARLSIM_NAMES_REFERENCE, MARLSIM_REF_ORACLE), "oracle"), "references");
    CHECK(marlsim_name(MARLSIM_NAMES_CLASS, 4) == NULL && marlsim_name(MARLSIM_NAMES_CLASS, -1) == NULL,
          "out of range");
    CHECK(marlsim_name_count(99) == -1 && marlsim_name(99, 0) == NULL, "unknown kind");
    CHECK(!strcmp(marlsim_status_name(MARLSIM_ECHECK), "check failed"), "status name");
}

static void api_config(void)
{
    marlsim_config *c = small_config();
    char hex[65], text[MS_CONFIG_TEXT_MAX];
    size_t len = 0;
    CHECK(marlsim_config_render(c, text, sizeof text, &len) == MARLSIM_OK && len == strlen(text), "render");
    CHECK(strstr(text, "envs = 8\n") != NULL, "the override is in the canonical text");
    CHECK(marlsim_config_hash(c, hex) == MARLSIM_OK && strlen(hex) == 64, "hash");
    /* The same config through the library's own functions. */
    ms_config mc;
    int rc = lib_config(&mc, "configs/default.ini", NULL, small_sets, NSMALL, NULL);
    char want[65];
    ms_config_hash(&mc, want);
    CHECK(!rc && !strcmp(hex, want), "hash %s, library %s", hex, want);
    char tiny[8];
    CHECK(marlsim_config_render(c, tiny, sizeof tiny, &len) == MARLSIM_EINPUT && len > sizeof tiny &&
              strlen(tiny) == sizeof tiny - 1,
          "a short buffer is an error, terminated");
    CHECK(marlsim_config_set(c, "sim.envs=0") == MARLSIM_EINPUT && strstr(marlsim_config_error(c), "envs"),
          "a bad override names the key: %s", marlsim_config_error(c));
    /* minibatch 256 > 4 mailboxes x rollout 32: only training refuses it. */
    CHECK(marlsim_config_check(c) == MARLSIM_OK && marlsim_config_set(c, "sim.envs=4") == MARLSIM_OK, "check");
    CHECK(marlsim_config_check(c) == MARLSIM_EINPUT && strstr(marlsim_config_error(c), "minibatch"),
          "cross-key check: %s", marlsim_config_error(c));
    marlsim_config_free(c);

    marlsim_config *bad = NULL;
    rc = marlsim_config_create(&bad, "/nonexistent/x.ini", NULL, NULL, 0);
    CHECK(rc == MARLSIM_EINPUT && bad && strstr(marlsim_config_error(bad), "/nonexistent/x.ini"),
          "a missing file: a handle with the error: %s", marlsim_config_error(bad));
    marlsim_config_free(bad);
    rc = marlsim_config_create(&bad, NULL, "[sim]\nenvs = 3\nnope = 1\n", NULL, 0);
    CHECK(rc == MARLSIM_EINPUT && strstr(marlsim_config_error(bad), ":3:"), "text errors name the line: %s",
          marlsim_config_error(bad));
    marlsim_config_free(bad);
}

/* ms_obs_feature says what ms_sim_observe puts where, in both layouts. */
static void api_feature_order(void)
{
    for (int observe = MS_OBSERVE_MODALITY; observe <= MS_OBSERVE_ALL; observe++) {
        ms_config c;
        ms_config_defaults(&c);
        c.envs = 4;
        c.observe = observe;
        ms_sim sim;
        ms_err e;
        if (ms_sim_init(&sim, &c, MS_STREAM_REPORT, NULL, &e) || ms_sim_observe(&sim, &e)) {
            CHECK(0, "sim: %s", e.msg);
            return;
        }
        int bad = 0;
        for (int a = 0; a < MS_NAGENT; a++) {
            int dim = sim.s.obs_dim[a];
            CHECK(ms_obs_feature(a, observe, dim) == -1 && ms_obs_feature(a, observe, -1) == -1, "range");
            for (int i = 0; i < c.envs; i++)
                for (int k = 0; k < dim; k++) {
                    int f = ms_obs_feature(a, observe, k);
                    bad += f < 0 || sim.s.obs[a][i * dim + k] != sim.s.feat[i * MS_NFEAT + f];
                }
        }
        CHECK(!bad, "observe %d: %d observation elements are not the feature named", observe, bad);
        ms_sim_release(&sim);
    }
    marlsim_config *c = small_config();
    marlsim_env *env = NULL;
    CHECK(marlsim_env_create(&env, c, MARLSIM_STREAM_TRAIN, 0) == MARLSIM_OK, "env: %s", marlsim_env_error(env));
    CHECK(marlsim_env_obs_dim(env, 0) == 9 && marlsim_env_obs_dim(env, 1) == 8 && marlsim_env_obs_dim(env, 2) == 10,
          "dims");
    CHECK(!strcmp(marlsim_env_feature_name(env, MARLSIM_AGENT_BIN, 0), "att_none") &&
              !strcmp(marlsim_env_feature_name(env, MARLSIM_AGENT_GET, 8), "t_frac") &&
              marlsim_env_feature_name(env, MARLSIM_AGENT_OPEN, 8) == NULL,
          "names");
    marlsim_env_free(env);
    marlsim_config_free(c);
}

/* What one whole run of a reference policy on an env gives, tallied as
 * ms_evaluate does. */
typedef struct play {
    ms_tally t;
    double first_rewards[8];
} play;

static int play_reference(marlsim_env *env, int policy, int steps, play *p)
{
    int n = marlsim_env_num_envs(env);
    uint8_t *act = malloc((size_t)n * 3), *cls = malloc((size_t)n), *outcome = malloc((size_t)n),
            *rejected = malloc((size_t)n);
    double *reward = malloc(sizeof(double) * (size_t)n), *raw = malloc(sizeof(double) * (size_t)n);
    uint32_t *rules = malloc(sizeof(uint32_t) * (size_t)n);
    memset(p, 0, sizeof *p);
    marlsim_batch b = {.reward = reward, .reward_raw = raw, .cls = cls, .outcome = outcome, .rules = rules,
                       .rejected = rejected};
    int rc = act && cls && outcome && rejected && reward && raw && rules ? marlsim_env_reset(env, marlsim_env_seed(env), NULL) : -9;
    for (int k = 0; k < steps && !rc; k++) {
        rc = marlsim_env_reference_actions(env, policy, act, NULL);
        if (!rc)
            rc = marlsim_env_step(env, act, &b);
        for (int i = 0; !rc && i < n; i++) {
            p->t.env_steps++;
            p->t.reward_sum += reward[i];
            p->t.reward_raw_sum += raw[i];
            p->t.outcomes[cls[i]][rejected[i] ? MS_NOUTCOME : outcome[i]]++;
            p->t.rejected += rejected[i] != 0;
            for (int r = 0; r < MS_NRULE; r++)
                p->t.rule_hits[r] += (rules[i] >> r) & 1;
        }
        if (!rc && k < 8)
            p->first_rewards[k] = reward[0];
    }
    free(act), free(cls), free(outcome), free(rejected), free(reward), free(raw), free(rules);
    return rc;
}

static int same_tally(const ms_tally *a, const ms_tally *b)
{
    return a->env_steps == b->env_steps && a->reward_sum == b->reward_sum && a->reward_raw_sum == b->reward_raw_sum &&
           !memcmp(a->outcomes, b->outcomes, sizeof a->outcomes) && a->rejected == b->rejected &&
           !memcmp(a->rule_hits, b->rule_hits, sizeof a->rule_hits);
}

/* The API's report stream with each reference policy is `marlsim eval`'s
 * evaluation (ms_evaluate on the report stream), to the last bit. */
static void api_env_is_eval(void)
{
    marlsim_config *c = small_config();
    int rc = marlsim_config_set(c, "sim.poison_rate=0.05"); /* held messages too */
    ms_config mc;
    rc = rc ? rc : lib_config(&mc, "configs/default.ini", NULL, small_sets, NSMALL, "sim.poison_rate=0.05");
    CHECK(!rc, "set");
    for (int kind = 0; kind < MS_NREF; kind++) {
        marlsim_env *env = NULL;
        rc = marlsim_env_create(&env, c, MARLSIM_STREAM_REPORT, 0);
        CHECK(!rc, "env: %s", marlsim_env_error(env));
        play p;
        rc = rc ? rc : play_reference(env, kind, mc.report_episodes * mc.episode_len, &p);
        CHECK(!rc, "play: %s", marlsim_env_error(env));
        ms_sim sim;
        ms_ref_policy ref;
        ms_tally t;
        ms_err e;
        rc = ms_ref_policy_init(&ref, kind, &mc, mc.eval_seed, &e);
        if (!rc && !(rc = ms_sim_init(&sim, &mc, MS_STREAM_REPORT, NULL, &e))) {
            ms_policy stage = ms_ref_policy_stage(&ref);
            rc = ms_evaluate(&sim, &stage, mc.report_episodes, NULL, 0, &t, &e);
            ms_sim_release(&sim);
        }
        ms_ref_policy_release(&ref);
        CHECK(!rc, "evaluate: %s", e.msg);
        CHECK(!rc && same_tally(&p.t, &t) && t.rejected > 0, "%s: API %.17g over %lld steps, eval %.17g over %lld",
              ms_ref_names[kind], p.t.reward_sum, (long long)p.t.env_steps, t.reward_sum, (long long)t.env_steps);
        marlsim_env_free(env);
    }
    marlsim_config_free(c);
}

static void api_env_determinism(void)
{
    marlsim_config *c = small_config();
    marlsim_env *a = NULL, *b = NULL, *one = NULL;
    int rc = marlsim_env_create(&a, c, MARLSIM_STREAM_TRAIN, 0);
    rc = rc ? rc : marlsim_env_create(&b, c, MARLSIM_STREAM_TRAIN, 0);
    rc = rc ? rc : marlsim_env_create(&one, c, MARLSIM_STREAM_TRAIN, 1);
    CHECK(!rc && marlsim_env_num_envs(one) == 1, "create");
    if (rc)
        goto out;
    play pa, pb, p7, pone;
    int steps = 3 * marlsim_env_episode_len(a);
    CHECK(!play_reference(a, MARLSIM_REF_RANDOM, steps, &pa) && !play_reference(b, MARLSIM_REF_RANDOM, steps, &pb),
          "play");
    CHECK(same_tally(&pa.t, &pb.t) && pa.t.reward_sum != 0, "the same seed gives the same run");
    CHECK(!marlsim_env_reset(b, 7, NULL) && marlsim_env_seed(b) == 7, "reset 7");
    CHECK(!play_reference(b, MARLSIM_REF_RANDOM, steps, &p7), "play 7");
    CHECK(!same_tally(&pa.t, &p7.t), "another seed, another run");
    CHECK(!marlsim_env_reset(b, 1, NULL) && !play_reference(b, MARLSIM_REF_RANDOM, steps, &pb) &&
              same_tally(&pa.t, &pb.t),
          "back to seed 1: the first run again");
    /* Mailbox 0 does not depend on how many mailboxes there are (the
     * heuristic acts on each mailbox's own features). */
    CHECK(!play_reference(a, MARLSIM_REF_HEURISTIC, steps, &pa) &&
              !play_reference(one, MARLSIM_REF_HEURISTIC, steps, &pone),
          "play heuristic");
    CHECK(!memcmp(pa.first_rewards, pone.first_rewards, sizeof pa.first_rewards), "mailbox 0 alone is mailbox 0");

    /* An action that is not 0 or 1 steps nothing. */
    uint8_t act[8 * 3] = {0};
    act[5] = 2;
    double r1[8], r2[8];
    marlsim_batch out1 = {.reward = r1}, out2 = {.reward = r2};
    CHECK(marlsim_env_reset(a, 3, NULL) == MARLSIM_OK && marlsim_env_reset(b, 3, NULL) == MARLSIM_OK, "reset");
    rc = marlsim_env_step(a, act, &out1);
    CHECK(rc == MARLSIM_EINPUT && strstr(marlsim_env_error(a), "mailbox 1, agent BIN"), "bad action: %s",
          marlsim_env_error(a));
    act[5] = 1;
    CHECK(!marlsim_env_step(a, act, &out1) && !marlsim_env_step(b, act, &out2) && !memcmp(r1, r2, sizeof r1),
          "after a refused step the env is where it was");
    CHECK(marlsim_env_reference_actions(a, 3, act, NULL) == MARLSIM_EINPUT, "unknown reference policy");
out:
    marlsim_env_free(a);
    marlsim_env_free(b);
    marlsim_env_free(one);
    marlsim_config_free(c);
}

/* Episodes end by truncation, every mailbox at once, after episode_len
 * steps; observations carry t_frac. */
static void api_env_truncation(void)
{
    marlsim_config *c = small_config();
    marlsim_env *env = NULL;
    int rc = marlsim_env_create(&env, c, MARLSIM_STREAM_GATE, 0);
    CHECK(!rc, "env: %s", marlsim_env_error(env));
    int n = marlsim_env_num_envs(env), len = marlsim_env_episode_len(env), bad = 0, ends = 0;
    uint8_t act[8 * 3], trunc[8];
    float obs[3][8 * 10];
    marlsim_batch b = {.obs = {obs[0], obs[1], obs[2]}, .truncated = trunc};
    CHECK(!marlsim_env_reset(env, 5, &b) && obs[0][8] == 0.0f, "t_frac starts at 0");
    for (int k = 1; !rc && k <= 2 * len; k++) {
        rc = marlsim_env_reference_actions(env, MARLSIM_REF_HEURISTIC, act, NULL);
        rc = rc ? rc : marlsim_env_step(env, act, &b);
        for (int i = 0; i < n; i++) {
            bad += trunc[i] != (k % len == 0);
            ends += trunc[i];
        }
        bad += fabsf(obs[0][8] - (float)(k % len) / (float)len) > 1e-6f;
    }
    CHECK(!rc && !bad && ends == 2 * n, "truncations: %d wrong, %d ends", bad, ends);
    marlsim_env_free(env);
    marlsim_config_free(c);
}

static int mkdir_tmp(char dir[64])
{
    snprintf(dir, 64, "/tmp/lib-apitest-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static void stop_at_first(const marlsim_progress *p, void *ctx)
{
    if (p->env_steps > 0 && p->updates >= 1)
        marlsim_experiment_stop(ctx);
}

/* A tiny run through the API; its policy, loaded through the API, plays
 * the report episodes exactly as eval --policy RUN.db does. */
static void api_experiment_and_policy(void)
{
    char dir[64], db[128], path[128];
    if (mkdir_tmp(dir)) {
        CHECK(0, "mkdtemp");
        return;
    }
    snprintf(db, sizeof db, "%s/tiny.db", dir);
    static const char *const sets[] = {"sim.envs=8",       "sim.episode_len=16", "run.env_steps=1024",
                                       "train.minibatch=64", "gate.every=1",       "gate.report_episodes=2",
                                       "gate.eval_episodes=1"};
    marlsim_config *c = NULL;
    marlsim_experiment *x = NULL;
    int rc = marlsim_config_create(&c, NULL, "[run]\nname = tiny\n", sets, 7);
    ms_config mc;
    rc = rc ? rc : lib_config(&mc, NULL, "[run]\nname = tiny\n", sets, 7, NULL);
    rc = rc ? rc : marlsim_experiment_create(&x, c);
    CHECK(!rc, "experiment: %s / %s", marlsim_config_error(c), marlsim_experiment_error(x));
    marlsim_run_result res;
    rc = rc ? rc : marlsim_experiment_run(x, db, "dev", 0, &res);
    CHECK(!rc && !strcmp(res.status, "completed") && res.has_report && res.dev_key && strlen(res.run_id) == 32 &&
              res.env_steps == 1024 && !strcmp(res.path, db),
          "run: %d %s, status %s", rc, marlsim_experiment_error(x), res.status);
    rc = marlsim_experiment_run(x, db, "dev", 0, &res);
    CHECK(rc == MARLSIM_EINPUT && res.status[0] == 0, "an existing db is kept: %s", marlsim_experiment_error(x));
    snprintf(path, sizeof path, "%s/stopped.db", dir);
    marlsim_experiment_set_progress(x, stop_at_first, x);
    rc = marlsim_experiment_run(x, path, "dev", 0, &res);
    CHECK(!rc && !strcmp(res.status, "interrupted") && res.env_steps < 1024, "stop: %d %s, %s %lld", rc,
          marlsim_experiment_error(x), res.status, (long long)res.env_steps);
    snprintf(path, sizeof path, "%s/no-keyring", dir);
    rc = marlsim_experiment_run(x, NULL, path, 0, &res);
    CHECK(rc == MARLSIM_EINPUT && strstr(marlsim_experiment_error(x), "keys init"), "a missing keyring: %s",
          marlsim_experiment_error(x));
    marlsim_experiment_free(x);

    marlsim_policy *p = NULL;
    rc = marlsim_policy_load(&p, db, NULL);
    marlsim_policy_info info;
    CHECK(!rc && !marlsim_policy_info_get(p, &info) && !info.authenticated && info.complete &&
              info.obs_dim[2] == 10 && strlen(info.sha256[1]) == 64,
          "load: %s", marlsim_policy_error(p));
    /* Greedy play of the report episodes through the API ... */
    marlsim_env *env = NULL;
    rc = rc ? rc : marlsim_env_create(&env, c, MARLSIM_STREAM_REPORT, 0);
    ms_tally mine;
    memset(&mine, 0, sizeof mine);
    float obs[3][8 * 10];
    uint8_t act[8 * 3], cls[8], outcome[8], rejected[8];
    double reward[8];
    marlsim_batch b = {.obs = {obs[0], obs[1], obs[2]}, .reward = reward, .cls = cls, .outcome = outcome,
                       .rejected = rejected};
    rc = rc ? rc : marlsim_env_reset(env, marlsim_env_seed(env), &b);
    for (int k = 0; !rc && k < 2 * 16; k++) {
        const float *const o[3] = {obs[0], obs[1], obs[2]};
        rc = marlsim_policy_act(p, o, 8, act, NULL);
        rc = rc ? rc : marlsim_env_step(env, act, &b);
        for (int i = 0; !rc && i < 8; i++) {
            mine.env_steps++;
            mine.reward_sum += reward[i];
            mine.outcomes[cls[i]][rejected[i] ? MS_NOUTCOME : outcome[i]]++;
        }
    }
    CHECK(!rc, "play: %s %s", marlsim_policy_error(p), marlsim_env_error(env));
    /* ... is eval --policy RUN.db's. */
    ms_tally t;
    lake_policy_blob blobs[MS_NAGENT];
    lake_verify_report rep;
    lake_verify_opts vo = {0};
    ms_err e;
    rc = train_eval_lake_policy(&mc, db, &vo, &t, blobs, &rep, &e);
    CHECK(!rc && t.env_steps == mine.env_steps && t.reward_sum == mine.reward_sum &&
              !memcmp(t.outcomes, mine.outcomes, sizeof t.outcomes),
          "eval %.17g, API %.17g (%s)", t.reward_sum, mine.reward_sum, rc ? e.msg : "");
    CHECK(!rc && blobs[0].snapshot_id == info.snapshot_id[0] && !strcmp(blobs[2].sha256, info.sha256[2]),
          "the same snapshots");
    marlsim_env_free(env);
    marlsim_policy_free(p);

    /* Not a db; a db that is not whole. */
    p = NULL;
    snprintf(path, sizeof path, "%s/not-a-db.db", dir);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs("hello\n", f);
        fclose(f);
    }
    rc = marlsim_policy_load(&p, path, NULL);
    CHECK(rc == MARLSIM_EINPUT && strstr(marlsim_policy_error(p), "not-a-db.db"), "not a db: %s",
          marlsim_policy_error(p));
    marlsim_policy_free(p);
    rc = marlsim_policy_load(&p, db, "nobody+00000000+AQ==");
    CHECK(rc == MARLSIM_EINPUT, "a malformed key: %s", marlsim_policy_error(p));
    marlsim_policy_free(p);
    marlsim_config_free(c);

    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "cleanup"); /* lint-allow: removes the test's own mkdtemp directory, a fixed command */
}

void suite_api(void)
{
    RUN(api_names);
    RUN(api_config);
    RUN(api_feature_order);
    RUN(api_env_is_eval);
    RUN(api_env_determinism);
    RUN(api_env_truncation);
    RUN(api_experiment_and_policy);
}
