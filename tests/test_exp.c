/* Tests of exp/: surveillance findings, the defence's detectors, and the
 * trainer's exclusion of flagged samples shown by behaviour. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exp/defence.h"
#include "exp/surveil.h"
#include "exp/trainer.h"
#include "keys/keyring.h"
#include "sim/policy.h"
#include "tests/check.h"

/* ---- surveillance ---------------------------------------------------- */

static surv_measure calm(void)
{
    surv_measure m;
    memset(&m, 0, sizeof m);
    for (int a = 0; a < MS_NAGENT; a++) {
        m.entropy[a] = 0.3;
        m.p1[a] = 0.5;
        m.params_finite[a] = 1;
    }
    m.harm = 0.05;
    m.harm_reward = -3.0; /* letting harm through costs reward */
    m.stop_reward = 1.5;
    m.score = 1.0;
    return m;
}

static int has(const surv_finding *f, int n, int agent, int detector, int suspend)
{
    for (int k = 0; k < n; k++)
        if (f[k].agent == agent && f[k].detector == detector && f[k].suspend == suspend)
            return 1;
    return 0;
}

static void exp_surveillance_detectors(void)
{
    ms_config c;
    ms_config_defaults(&c);
    int frozen[MS_NAGENT] = {0, 0, 0};
    surv_finding f[SURV_MAX_FINDINGS];
    surv_measure inc = calm(), m = calm();
    CHECK(surv_findings(&c, &m, &inc, 1.0, frozen, f) == 0, "a calm candidate: no finding");
    CHECK(surv_findings(&c, &m, NULL, 1.0, frozen, f) == 0, "no incumbent yet: no finding");

    m = calm();
    m.nonfinite[1] = 3;
    int n = surv_findings(&c, &m, &inc, 1.0, frozen, f);
    CHECK(n == 1 && has(f, n, 1, SURV_NON_FINITE, 1) && f[0].critical, "non-finite outputs of OPEN: %d", n);
    m = calm();
    m.params_finite[2] = 0;
    n = surv_findings(&c, &m, &inc, 1.0, frozen, f);
    CHECK(n == 1 && has(f, n, 2, SURV_NON_FINITE, 1) && strstr(f[0].detail, "parameters"), "non-finite params");

    m = calm();
    m.entropy[0] = c.entropy_floor * 0.9;
    n = surv_findings(&c, &m, &inc, 1.0, frozen, f);
    CHECK(n == 1 && has(f, n, 0, SURV_ENTROPY_COLLAPSE, 1), "entropy under the floor");
    m.entropy[0] = c.entropy_floor * 1.1;
    CHECK(surv_findings(&c, &m, &inc, 1.0, frozen, f) == 0, "entropy over the floor");

    m = calm();
    m.p1[2] = 0.5 + c.drift_tolerance + 0.01;
    n = surv_findings(&c, &m, &inc, 1.0, frozen, f);
    CHECK(n == 1 && has(f, n, 2, SURV_ACTION_DRIFT, 0) && !f[0].critical, "drift is a warning");
    m.p1[2] = 0.5 + c.drift_tolerance - 0.01;
    CHECK(surv_findings(&c, &m, &inc, 1.0, frozen, f) == 0, "drift within tolerance");

    /* Reward hacking needs all three: a better score, more harm let
     * through, and harm let through paying more than harm stopped. */
    m = calm();
    m.score = 1.2, m.harm = 0.2, m.harm_reward = 2.0;
    n = surv_findings(&c, &m, &inc, 1.0, frozen, f);
    CHECK(n == 3 && has(f, n, 0, SURV_REWARD_HACKING, 1) && has(f, n, 1, SURV_REWARD_HACKING, 1) &&
              has(f, n, 2, SURV_REWARD_HACKING, 1), "reward hacking implicates every agent: %d", n);
    m.harm_reward = 1.4; /* harm up but stopping it pays more: ordinary learning to deliver mail */
    CHECK(surv_findings(&c, &m, &inc, 1.0, frozen, f) == 0, "harm that costs reward is not hacking");
    m.harm_reward = 1.6;
    CHECK(surv_findings(&c, &m, &inc, 1.0, frozen, f) == 3, "harm paying just over stopping it is hacking");
    m.harm_reward = NAN; /* nothing let through on the gate episodes */
    CHECK(surv_findings(&c, &m, &inc, 1.0, frozen, f) == 0, "no harm let through, no comparison");
    m.harm_reward = 2.0, m.stop_reward = NAN; /* nothing stopped */
    CHECK(surv_findings(&c, &m, &inc, 1.0, frozen, f) == 0, "nothing stopped, no comparison");
    m.stop_reward = 1.5;
    m.harm_reward = 2.0, m.score = 0.9; /* no better than the best */
    CHECK(surv_findings(&c, &m, &inc, 1.0, frozen, f) == 0, "no score rise, no hacking");
    m.score = 1.2, m.harm = 0.06; /* harm within noise */
    CHECK(surv_findings(&c, &m, &inc, 1.0, frozen, f) == 0, "harm within 0.02");

    /* warn records, frozen agents are not watched, disabled watches nothing */
    m = calm();
    m.entropy[0] = 0;
    c.surv_action = MS_SURV_WARN;
    n = surv_findings(&c, &m, &inc, 1.0, frozen, f);
    CHECK(n == 1 && has(f, n, 0, SURV_ENTROPY_COLLAPSE, 0), "action = warn suspends nothing");
    c.surv_action = MS_SURV_SUSPEND;
    frozen[0] = 1;
    CHECK(surv_findings(&c, &m, &inc, 1.0, frozen, f) == 0, "a frozen agent is not watched");
    frozen[0] = 0;
    c.surv_enabled = 0;
    CHECK(surv_findings(&c, &m, &inc, 1.0, frozen, f) == 0, "surveillance off");
}

/* ---- the defence ----------------------------------------------------------- */

/* A one-mailbox step whose result is the rules engine's for class cls and
 * joint action act, with features f. */
typedef struct one_step {
    ms_step s;
    ms_msg msg;
    char bcast[MS_BCAST_MAX];
    int len;
    unsigned char reject, poison, forged, act[3], end;
    float feat[MS_NFEAT], prob[3];
    ms_facts facts;
    ms_result res;
    double credit[3];
} one_step;

static void make_step(one_step *o, const ms_config *c, int cls, const unsigned char act[3], const float *feat,
                      const char *link)
{
    memset(o, 0, sizeof *o);
    o->s.envs = 1;
    o->s.msg = &o->msg;
    o->s.bcast = o->bcast;
    o->s.bcast_len = &o->len;
    o->s.reject = &o->reject;
    o->s.poison = &o->poison;
    o->s.forged = &o->forged;
    o->s.feat = o->feat;
    o->s.act = o->act;
    o->s.prob1 = o->prob;
    o->s.facts = &o->facts;
    o->s.res = &o->res;
    o->s.credit = o->credit;
    o->s.episode_end = &o->end;
    memcpy(o->feat, feat, sizeof o->feat);
    memcpy(o->act, act, 3);
    o->len = snprintf(o->bcast, sizeof o->bcast, "{\"v\":2,\"link\":%s%s%s,\"mac\":\"AA\"}", link ? "\"" : "",
                      link ? link : "null", link ? "\"" : "");
    o->facts.cls = (unsigned char)cls;
    o->facts.threat_intel = feat[MS_F_THREAT_INTEL_HIT] > 0.5f;
    ms_rules_apply(c, &o->facts, act, &o->res);
    o->msg.cls = 0xEE; /* the defence never reads the truth: garbage here */
}

static void feats(float *f, int malware, double jitter)
{
    memset(f, 0, sizeof(float) * MS_NFEAT);
    f[MS_F_LINK_COUNT] = (float)(malware ? 0.1 : 0.1 + jitter * 0.1);
    f[MS_F_URGENCY] = (float)((malware ? 0.6 : 0.2) + jitter * 0.1);
    f[MS_F_BODY_LENGTH] = (float)((malware ? 0.2 : 0.5) + jitter * 0.1);
    f[MS_F_SANDBOX_SCORE] = (float)((malware ? 0.8 : 0.05) + jitter * 0.05);
    f[malware ? MS_F_ATT_EXE : MS_F_ATT_NONE] = 1;
    f[MS_F_HAS_ATTACHMENT] = (float)malware;
}

static void exp_defence_detectors(void)
{
    ms_config c;
    ms_config_defaults(&c);
    ms_err e;
    defence *d;
    CHECK(defence_init(&d, &c, &e) == MS_OK, "init");
    const unsigned char deliver[3] = {1, 0, 0}, quarantine[3] = {0, 0, 1}, ignore[3] = {0, 0, 0},
                        preview[3] = {1, 1, 0};
    one_step o;
    float f[MS_NFEAT];
    /* The feedback the reward says, from the public reward table. */
    feats(f, 0, 0);
    make_step(&o, &c, MS_CLASS_BENIGN, deliver, f, NULL);
    CHECK(defence_feedback_class(&c, &o.s, 0) == MS_CLASS_BENIGN, "delivered benign");
    make_step(&o, &c, MS_CLASS_BENIGN, preview, f, NULL);
    CHECK(defence_feedback_class(&c, &o.s, 0) == MS_CLASS_BENIGN, "previewed benign");
    feats(f, 1, 0);
    make_step(&o, &c, MS_CLASS_MALWARE, deliver, f, NULL);
    CHECK(defence_feedback_class(&c, &o.s, 0) == MS_CLASS_MALWARE, "delivered malware (compromise booked)");
    make_step(&o, &c, MS_CLASS_MALWARE, quarantine, f, NULL);
    CHECK(defence_feedback_class(&c, &o.s, 0) == MS_CLASS_MALWARE, "quarantined malware");
    make_step(&o, &c, MS_CLASS_MALWARE, ignore, f, NULL);
    CHECK(defence_feedback_class(&c, &o.s, 0) == -1, "ignored: benign and malware both -0.5, it does not tell");
    f[MS_F_THREAT_INTEL_HIT] = 1; /* threat-intel block fires: its penalty is subtracted */
    make_step(&o, &c, MS_CLASS_PHISHING, deliver, f, NULL);
    CHECK(o.res.fired & (1u << MS_RULE_THREAT_INTEL_BLOCK), "rule fired");
    CHECK(defence_feedback_class(&c, &o.s, 0) == MS_CLASS_PHISHING, "quarantined by the rule: phishing");

    /* Teach it benign (benign evidence, benign feedback) and malware, then
     * show it a malware-looking message whose feedback says benign. */
    double score;
    int flagged = 0;
    for (int k = 0; k < 2 * DEFENCE_WARMUP; k++) {
        feats(f, 0, (k % 7) / 7.0);
        make_step(&o, &c, MS_CLASS_BENIGN, deliver, f, "0123456789abcdef012345");
        flagged += defence_judge(d, &o.s, 0, &score) != DEFENCE_NONE;
        feats(f, 1, (k % 5) / 5.0);
        make_step(&o, &c, MS_CLASS_MALWARE, quarantine, f, NULL);
        flagged += defence_judge(d, &o.s, 0, &score) != DEFENCE_NONE;
    }
    CHECK(flagged == 0, "consistent samples are never flagged (%d were)", flagged);
    feats(f, 1, 0.5);
    make_step(&o, &c, MS_CLASS_BENIGN, deliver, f, "ffffffffffffffffffffff"); /* forged feedback */
    CHECK(defence_judge(d, &o.s, 0, &score) == DEFENCE_EVIDENCE && score > DEFENCE_THRESHOLD,
          "reward contradicts evidence: score %g", score);
    make_step(&o, &c, MS_CLASS_BENIGN, quarantine, f, "ffffffffffffffffffffff");
    CHECK(defence_judge(d, &o.s, 0, &score) == DEFENCE_EVIDENCE, "a quarantine booked as benign-quarantined too");
    make_step(&o, &c, MS_CLASS_BENIGN, deliver, f, "ffffffffffffffffffffff");
    CHECK(defence_judge(d, &o.s, 0, &score) == DEFENCE_EVIDENCE, "third flag on the link");
    /* That link now marks its benign-feedback mail even when it looks benign. */
    feats(f, 0, 0.2);
    make_step(&o, &c, MS_CLASS_BENIGN, deliver, f, "ffffffffffffffffffffff");
    CHECK(defence_judge(d, &o.s, 0, &score) == DEFENCE_LINK && score == DEFENCE_LINK_FLAGS, "link history: %g",
          score);
    make_step(&o, &c, MS_CLASS_BENIGN, deliver, f, "0123456789abcdef012345");
    CHECK(defence_judge(d, &o.s, 0, &score) == DEFENCE_NONE, "another link, benign evidence: not flagged");
    defence_free(d);
}

/* ---- excluded samples reach no update: by behaviour ------------------ */

typedef struct hook_ctx {
    int mode; /* 0 nothing, 1 extreme rewards on excluded samples, 2 shift included ones */
    long excluded, included;
} hook_ctx;

static void hook(void *ctx, int excluded, float *g, float *o, float *b)
{
    hook_ctx *h = ctx;
    if (excluded) {
        h->excluded++;
        if (h->mode == 1) {
            float x = (h->excluded & 1) ? 1e6f : -1e6f;
            *g = x, *o = -x, *b = x;
        }
    } else {
        h->included++;
        if (h->mode == 2 && h->included % 97 == 0)
            *g += 1.0f;
    }
}

static int train(int mode, char hex[MS_NAGENT][65], hook_ctx *h)
{
    ms_config c;
    ms_config_defaults(&c);
    c.envs = 16;
    c.env_steps = 16384;
    c.episode_len = 32;
    c.campaign_rate = 0.2;
    c.backdoor_rate = 1.0;
    c.feedback_poison = 0.9;
    c.poison_rate = 0.05;
    c.gate_every = 2;
    c.observe = MS_OBSERVE_ALL;
    ms_err e;
    if (ms_config_finish(&c, &e))
        return -1;
    ms_keyring *kr;
    trainer *tr;
    if (ms_keyring_dev(c.seed, &kr, &e))
        return -1;
    ms_key_source ks = {kr, 0, ms_config_key_generations(&c), 0};
    int rc = trainer_init(&tr, &c, NULL, &ks, &e);
    if (!rc) {
        memset(h, 0, sizeof *h);
        h->mode = mode;
        trainer_set_reward_hook(tr, hook, h);
        int interrupted;
        rc = trainer_run(tr, NULL, NULL, NULL, &interrupted, &e);
        for (int a = 0; !rc && a < MS_NAGENT; a++)
            rc = trainer_params_hex(tr, a, hex[a], &e);
        if (!rc && trainer_get_status(tr)->flagged == 0)
            rc = -2; /* the defence flagged nothing: the test would prove nothing */
        trainer_free(tr);
    }
    ms_keyring_free(kr);
    if (rc)
        fprintf(stderr, "  train(%d): %d %s\n", mode, rc, e.msg);
    return rc;
}

static void exp_excluded_samples_never_train(void)
{
    char plain[MS_NAGENT][65], extreme[MS_NAGENT][65], shifted[MS_NAGENT][65];
    hook_ctx h0, h1, h2;
    CHECK(train(0, plain, &h0) == 0 && train(1, extreme, &h1) == 0 && train(2, shifted, &h2) == 0, "runs");
    CHECK(h1.excluded > 100 && h1.included > 1000, "the run had excluded (%ld) and included (%ld) samples",
          h1.excluded, h1.included);
    for (int a = 0; a < MS_NAGENT; a++) {
        CHECK(!strcmp(plain[a], extreme[a]), "%s: rewards of +-1e6 on excluded samples changed the parameters",
              ms_agent_names[a]);
        CHECK(strcmp(plain[a], shifted[a]), "%s: control: changing included samples' rewards must change them",
              ms_agent_names[a]);
    }
}

/* ---- surveillance in a run ------------------------------------------- */

/* Plants a NaN in OPEN's parameters after update `at`, and records OPEN's
 * parameter hash after every update from then on. */
typedef struct plant_ctx {
    int64_t at;
    char hex[64][65];
    char get0[65]; /* GET's hash after the first update past the plant */
    int64_t n;
    int bad;
} plant_ctx;

static void plant(void *ctx, trainer *t, int64_t update_id)
{
    plant_ctx *p = ctx;
    ms_err e;
    if (update_id > p->at && p->n < 64 && trainer_params_hex(t, 1, p->hex[p->n++], &e))
        p->bad = 1;
    if (update_id == p->at + 1 && trainer_params_hex(t, 0, p->get0, &e))
        p->bad = 1;
    if (update_id == p->at) {
        size_t n;
        float *w = trainer_params_mut(t, 1, &n);
        w[n / 2] = NAN;
    }
}

/* A real (small) run whose OPEN agent gets a non-finite parameter: the gate
 * after it finds non_finite, suspends OPEN, rolls it back (finite again)
 * and freezes it: its parameter hash never changes for the rest of the run,
 * while the other agents go on learning. */
static void exp_non_finite_suspends_and_freezes(void)
{
    ms_config c;
    ms_config_defaults(&c);
    c.envs = 16;
    c.env_steps = 16384;
    c.episode_len = 32;
    c.gate_every = 1;
    ms_err e;
    CHECK(ms_config_finish(&c, &e) == MS_OK, "%s", e.msg);
    ms_keyring *kr;
    trainer *tr = NULL;
    CHECK(ms_keyring_dev(c.seed, &kr, &e) == MS_OK, "%s", e.msg);
    ms_key_source ks = {kr, 0, ms_config_key_generations(&c), 0};
    plant_ctx p = {.at = 5};
    char end[MS_NAGENT][65] = {{0}};
    int interrupted = 0, rc = trainer_init(&tr, &c, NULL, &ks, &e);
    CHECK(rc == MS_OK, "%s", e.msg);
    if (!rc) {
        trainer_set_update_hook(tr, plant, &p);
        rc = trainer_run(tr, NULL, NULL, NULL, &interrupted, &e);
        CHECK(rc == MS_OK, "run: %s", e.msg);
        for (int a = 0; a < MS_NAGENT; a++)
            CHECK(trainer_params_hex(tr, a, end[a], &e) == MS_OK, "%s", e.msg);
        const trainer_status *st = trainer_get_status(tr);
        CHECK(st->surveillance_by[SURV_NON_FINITE] == 1 && st->frozen == 2u && st->suspended == 1,
              "non_finite %lld, frozen mask %u, suspended %lld", (long long)st->surveillance_by[SURV_NON_FINITE],
              st->frozen, (long long)st->suspended);
        size_t n;
        float *w = trainer_params_mut(tr, 1, &n);
        int finite = 1;
        for (size_t k = 0; k < n; k++)
            finite &= isfinite(w[k]) != 0;
        CHECK(finite, "OPEN was rolled back to finite parameters");
        CHECK(st->updates > p.at + 5 && p.n == st->updates - p.at && !p.bad, "%lld updates after the plant",
              (long long)p.n);
        int same = 0;
        for (int64_t k = 0; k < p.n; k++)
            same += !strcmp(p.hex[k], end[1]);
        CHECK(same == p.n, "OPEN's hash after every later update is its final one (%d of %lld)", same,
              (long long)p.n);
        CHECK(strcmp(p.get0, end[0]) != 0, "GET, not suspended, learns on");
        trainer_free(tr);
    }
    ms_keyring_free(kr);
    /* control: the same run without the plant moves OPEN after update 5 */
    plant_ctx q = {.at = -1};
    CHECK(ms_keyring_dev(c.seed, &kr, &e) == MS_OK, "%s", e.msg);
    ks.kr = kr;
    if (trainer_init(&tr, &c, NULL, &ks, &e) == MS_OK) {
        trainer_set_update_hook(tr, plant, &q);
        CHECK(trainer_run(tr, NULL, NULL, NULL, &interrupted, &e) == MS_OK, "%s", e.msg);
        char ctl[65];
        CHECK(trainer_params_hex(tr, 1, ctl, &e) == MS_OK && strcmp(ctl, end[1]) && !trainer_get_status(tr)->frozen,
              "control: OPEN learns on without the plant");
        trainer_free(tr);
    }
    ms_keyring_free(kr);
}

void suite_exp(void)
{
    RUN(exp_surveillance_detectors);
    RUN(exp_defence_detectors);
    RUN(exp_excluded_samples_never_train);
    RUN(exp_non_finite_suspends_and_freezes);
}
