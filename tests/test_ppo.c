/* test_ppo.c — nn/ppo: heads, GAE, loss gradients, learning, safety. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/ppo.h"
#include "base/rng.h"
#include "tests/check.h"

static const ppo_hparams base_hp = {
    .lr = 3e-3f, .clip = 0.2f, .entropy = 0.01f, .value_coef = 0.5f,
    .grad_clip = 0.5f, .epochs = 4, .minibatch = 64};

static int make_agent(ppo_agent *a, int obs_dim, const int *hidden, int n_hidden,
                      int max_samples, int max_mb, int max_act, uint64_t seed)
{
    ppo_shape s = {obs_dim, hidden, n_hidden, MLP_TANH, max_samples, max_mb, max_act};
    ms_err e;
    int rc = ppo_init(a, &s, seed, 0, &e);
    if (rc)
        fprintf(stderr, "  ppo_init: %s\n", e.msg);
    return rc;
}

static void hash_of(const ppo_agent *a, unsigned char h[32])
{
    ms_err e;
    mlp_params_sha256(&a->net, h, &e);
}

/* A synthetic batch: random observations, actions sampled from the agent,
 * random advantages and returns. Arrays owned by the struct. */
typedef struct syn {
    ppo_batch b;
    float *obs, *logp, *adv, *ret;
    int *act;
    double *u;
} syn;

static void syn_make(syn *s, ppo_agent *a, int n, uint64_t seed)
{
    int d = a->obs_dim;
    s->obs = malloc((size_t)n * d * 4);
    s->logp = malloc((size_t)n * 4);
    s->adv = malloc((size_t)n * 4);
    s->ret = malloc((size_t)n * 4);
    s->act = malloc((size_t)n * sizeof(int));
    s->u = malloc((size_t)n * sizeof(double));
    ms_rng r;
    ms_rng_seed(&r, seed, MS_STREAM_ENV, 0);
    for (int i = 0; i < n * d; i++)
        s->obs[i] = (float)ms_rng_normal(&r);
    for (int i = 0; i < n; i++) {
        s->u[i] = ms_rng_uniform(&r);
        s->adv[i] = (float)ms_rng_normal(&r);
        s->ret[i] = (float)ms_rng_normal(&r);
    }
    ppo_act(a, s->obs, n, s->u, s->act, s->logp, NULL, NULL);
    s->b = (ppo_batch){n, s->obs, s->act, s->logp, s->adv, s->ret};
}

static void syn_free(syn *s)
{
    free(s->obs), free(s->logp), free(s->adv), free(s->ret), free(s->act), free(s->u);
}

static void test_ppo_heads(void)
{
    /* logits (0, 0): p1 = .5; (1, 3): p1 = sigmoid(2); (2, -1) */
    float out[4 * 3] = {0, 0, 0.5f, 1, 3, -1, 2, -1, 7, NAN, 0, 1};
    double u[4] = {0.49, 0.9, 0.04, 0.1};
    int act[4];
    float lp[4], p1[4], v[4];
    ppo_heads(out, 4, u, act, lp, p1, v);
    double s2 = 1 / (1 + exp(-2.0)), s3 = 1 / (1 + exp(3.0));
    CHECK(fabsf(p1[0] - 0.5f) < 1e-7f && fabs(p1[1] - s2) < 1e-7 && fabs(p1[2] - s3) < 1e-7,
          "p1 %g %g %g", p1[0], p1[1], p1[2]);
    CHECK(act[0] == 1 && act[1] == 0 && act[2] == 1, "sampled actions %d %d %d", act[0],
          act[1], act[2]);
    CHECK(fabs(lp[0] - log(0.5)) < 1e-7 && fabs(lp[1] - log(1 - s2)) < 1e-6 &&
              fabs(lp[2] - log(s3)) < 1e-6,
          "logp %g %g %g", lp[0], lp[1], lp[2]);
    CHECK(v[0] == 0.5f && v[1] == -1 && v[2] == 7, "values");
    CHECK(act[3] == 0 && isnan(p1[3]) && isnan(lp[3]), "NaN logits: action 0, NaN prob");
    ppo_heads(out, 3, NULL, act, NULL, NULL, NULL);
    CHECK(act[0] == 0 && act[1] == 1 && act[2] == 0, "greedy (tie -> 0): %d %d %d",
          act[0], act[1], act[2]);
}

static void test_ppo_gae_by_hand(void)
{
    /* T = 3 steps, N = 2 environments, gamma .9, lambda .8 (gl = .72).
     * env 0: continues, continues, rollout end (bootstrap V = 2.0)
     * env 1: t=0 TRUNCATED (bootstrap from V(s1) = 1.5, cut), t=1 continues,
     *        t=2 TERMINATES (next value 0, cut) */
    const float r[6] = {1, 0, 0.5f, -1, 1, 1};
    const float v[6] = {0.2f, 0.4f, 0.3f, 0.6f, 0.6f, -0.2f};
    const float nv[6] = {0.3f, 1.5f, 0.6f, -0.2f, 2.0f, 0.0f};
    /* env 0's last row is left uncut: row T-1 must be treated as cut anyway */
    const unsigned char cut[6] = {0, 1, 0, 0, 0, 1};
    float adv[6], ret[6];
    ppo_gae(3, 2, r, v, nv, cut, 0.9f, 0.8f, adv, ret);
    double g = 0.9, gl = 0.9 * 0.8;
    /* env 0: times at indices 0, 2, 4 */
    double d02 = 1 + g * 2.0 - 0.6, d01 = 0.5 + g * 0.6 - 0.3, d00 = 1 + g * 0.3 - 0.2;
    double a02 = d02, a01 = d01 + gl * a02, a00 = d00 + gl * a01;
    /* env 1: indices 1, 3, 5 */
    double d12 = 1 + g * 0 - (-0.2), d11 = -1 + g * -0.2 - 0.6, d10 = 0 + g * 1.5 - 0.4;
    double a12 = d12, a11 = d11 + gl * a12, a10 = d10; /* cut after t=0 */
    double want[6] = {a00, a10, a01, a11, a02, a12};
    for (int k = 0; k < 6; k++) {
        CHECK(fabs(adv[k] - want[k]) < 1e-5, "adv[%d] = %g, want %g", k, adv[k], want[k]);
        CHECK(fabs(ret[k] - (want[k] + v[k])) < 1e-5, "ret[%d]", k);
    }
    /* the truncated step bootstraps: its advantage uses 0.9*1.5, not 0 */
    CHECK(fabs(adv[1] - (0.9 * 1.5 - 0.4)) < 1e-6, "truncation must bootstrap");
    /* lambda = 1, gamma = 1, no cuts: A_t = sum of future rewards + bootstrap - V */
    const float r1[3] = {1, 2, 3}, v1[3] = {0.5f, 0.25f, 1}, nv1[3] = {0.25f, 1, 4};
    const unsigned char c1[3] = {0, 0, 1};
    float a1[3], t1[3];
    ppo_gae(3, 1, r1, v1, nv1, c1, 1.0f, 1.0f, a1, t1);
    CHECK(fabsf(t1[0] - 10.0f) < 1e-6f && fabsf(t1[1] - 9.0f) < 1e-6f &&
              fabsf(t1[2] - 7.0f) < 1e-6f,
          "Monte-Carlo returns %g %g %g", t1[0], t1[1], t1[2]);
}

/* ---- PPO loss gradient check ---- */

typedef struct loss_ctx {
    ppo_agent *a;
    const ppo_batch *mb;
    const ppo_hparams *h;
} loss_ctx;

static double ppo_loss_value(loss_ctx *c)
{
    ppo_loss l;
    ppo_loss_grad(c->a, c->mb, c->h, &l);
    return l.loss;
}

/* Returns failures; fills |grad| sums for actor rows and the value row of the
 * output layer. */
static int ppo_fd(ppo_agent *a, const ppo_batch *mb, const ppo_hparams *h,
                  double *actor_g, double *critic_g, const char *what)
{
    loss_ctx c = {a, mb, h};
    ppo_loss l;
    ppo_loss_grad(a, mb, h, &l);
    size_t n = a->net.n_params;
    float *an = malloc(n * 4);
    memcpy(an, a->net.grads, n * 4);
    double gmax = 0;
    for (size_t j = 0; j < n; j++)
        gmax = fmax(gmax, fabs(an[j]));
    int bad = 0;
    float *p = a->net.params;
    for (size_t j = 0; j < n; j++) {
        const float eps = 1e-3f;
        float keep = p[j];
        p[j] = keep + eps;
        double lp = ppo_loss_value(&c);
        p[j] = keep - eps;
        double lm = ppo_loss_value(&c);
        p[j] = keep;
        double fd = (lp - lm) / (2.0 * eps);
        double tol = 2e-3 * gmax + 2e-2 * fmax(fabs(fd), fabs(an[j]));
        if (!(fabs(fd - an[j]) <= tol)) {
            if (bad < 5)
                fprintf(stderr, "  %s: param %zu analytic %g numeric %g\n", what, j, an[j],
                        fd);
            bad++;
        }
    }
    int L = a->net.n_layers - 1, fi = a->net.sizes[L];
    const float *Wg = an + a->net.w_off[L];
    *actor_g = *critic_g = 0;
    for (int k = 0; k < fi; k++) {
        *actor_g += fabs(Wg[k]) + fabs(Wg[fi + k]);
        *critic_g += fabs(Wg[2 * fi + k]);
    }
    free(an);
    return bad;
}

static void test_ppo_loss_gradcheck(void)
{
    static const int hidden[] = {8, 8};
    enum { m = 16, d = 4 };
    ppo_agent a;
    if (make_agent(&a, d, hidden, 2, m, m, m, 21)) {
        CHECK(0, "init");
        return;
    }
    /* larger logit weights so the policy is far from uniform */
    int L = a.net.n_layers - 1;
    for (int k = 0; k < 2 * 8; k++)
        a.net.params[a.net.w_off[L] + k] *= 80.0f;
    float obs[m * d], old_logp[m], adv[m], ret[m], logp[m], value[m], p1[m];
    int act[m];
    double u[m];
    ms_rng r;
    ms_rng_seed(&r, 22, MS_STREAM_ENV, 0);
    for (int i = 0; i < m * d; i++)
        obs[i] = (float)ms_rng_normal(&r);
    for (int i = 0; i < m; i++)
        u[i] = ms_rng_uniform(&r);
    ppo_act(&a, obs, m, u, act, logp, p1, value);
    /* log-ratios well inside or well outside the clip range [ln .8, ln 1.2] */
    static const double offs[4] = {-0.6, -0.05, 0.05, 0.6};
    for (int i = 0; i < m; i++)
        old_logp[i] = logp[i] - (float)(offs[i % 4] + 0.01 * ms_rng_normal(&r));
    ppo_batch mb = {m, obs, act, old_logp, adv, ret};
    double ag, cg;

    /* value-dominated: large value errors, tiny advantages */
    ppo_hparams h = base_hp;
    h.value_coef = 1.0f;
    h.entropy = 0.01f;
    for (int i = 0; i < m; i++) {
        adv[i] = (float)(0.01 * ms_rng_normal(&r));
        ret[i] = value[i] + (float)(2.0 * ms_rng_normal(&r));
    }
    ppo_loss l;
    ppo_loss_grad(&a, &mb, &h, &l);
    CHECK(l.value_loss > 100 * fabs(l.policy_loss), "value must dominate: %g vs %g",
          l.value_loss, l.policy_loss);
    CHECK(ppo_fd(&a, &mb, &h, &ag, &cg, "value-dominated") == 0, "value-dominated grads");
    CHECK(cg > 10 * ag, "critic gradient should dominate (%g vs %g)", cg, ag);

    /* policy-dominated: big advantages of both signs, returns = values */
    h.value_coef = 0.01f;
    h.entropy = 0.05f;
    for (int i = 0; i < m; i++) {
        adv[i] = (float)(2.0 * ms_rng_normal(&r));
        ret[i] = value[i] + (float)(0.01 * ms_rng_normal(&r));
    }
    ppo_loss_grad(&a, &mb, &h, &l);
    CHECK(l.clip_frac > 0.3 && l.clip_frac < 0.7, "clip_frac %g: want both clipped and "
          "unclipped ratios", l.clip_frac);
    CHECK(fabs(l.policy_loss) > 100 * h.value_coef * l.value_loss,
          "policy must dominate: %g vs %g", l.policy_loss, l.value_loss);
    /* every reported term against a hand computation from ppo_act's outputs */
    double w_pol = 0, w_val = 0, w_ent = 0, w_kl = 0, w_clip = 0;
    for (int i = 0; i < m; i++) {
        double ratio = exp((double)logp[i] - old_logp[i]), A = adv[i];
        double rc = fmin(fmax(ratio, 0.8), 1.2), q = p1[i];
        w_pol -= fmin(ratio * A, rc * A) / m;
        w_val += 0.5 * (value[i] - ret[i]) * (value[i] - ret[i]) / m;
        w_ent -= (q * log(q) + (1 - q) * log(1 - q)) / m;
        w_kl += (ratio - 1 - log(ratio)) / m;
        w_clip += (fabs(ratio - 1) > 0.2) / (double)m;
    }
    CHECK(fabs(l.policy_loss - w_pol) < 1e-4 * (1 + fabs(w_pol)), "policy loss %g, want %g",
          l.policy_loss, w_pol);
    CHECK(fabs(l.value_loss - w_val) < 1e-5, "value loss %g, want %g", l.value_loss, w_val);
    CHECK(fabs(l.entropy - w_ent) < 1e-5 && l.entropy < log(2.0) - 1e-3,
          "entropy %g, want %g", l.entropy, w_ent);
    CHECK(fabs(l.approx_kl - w_kl) < 1e-4 && l.approx_kl > 0, "kl %g, want %g",
          l.approx_kl, w_kl);
    CHECK(l.clip_frac == w_clip, "clip_frac %g, want %g", l.clip_frac, w_clip);
    CHECK(fabs(l.loss - (w_pol + 0.01 * w_val - 0.05 * w_ent)) < 1e-4 * (1 + fabs(l.loss)),
          "total loss %g", l.loss);
    CHECK(ppo_fd(&a, &mb, &h, &ag, &cg, "policy-dominated") == 0, "policy-dominated grads");
    CHECK(ag > 10 * cg, "actor gradient should dominate (%g vs %g)", ag, cg);

    /* clipped samples contribute no policy gradient: with entropy 0 and value
     * 0, zeroing the advantage of every clipped-and-pessimistic sample changes
     * nothing */
    h.value_coef = 0;
    h.entropy = 0;
    ppo_loss_grad(&a, &mb, &h, &l);
    size_t n = a.net.n_params;
    float *g1 = malloc(n * 4);
    memcpy(g1, a.net.grads, n * 4);
    int zeroed = 0;
    for (int i = 0; i < m; i++) {
        double ratio = exp(logp[i] - old_logp[i]);
        if ((ratio > 1.2 && adv[i] > 0) || (ratio < 0.8 && adv[i] < 0)) {
            adv[i] = 0;
            zeroed++;
        }
    }
    ppo_loss_grad(&a, &mb, &h, &l);
    double diff = 0;
    for (size_t j = 0; j < n; j++)
        diff = fmax(diff, fabs(g1[j] - a.net.grads[j]));
    CHECK(zeroed > 0 && diff < 1e-6, "clipped samples leaked gradient (%d zeroed, %g)",
          zeroed, diff);
    free(g1);
    ppo_release(&a);
}

/* Two-armed bandit: arm `better` pays 1, the other 0.2, both with noise. */
static void bandit(int better)
{
    static const int hidden[] = {16};
    enum { n = 128 };
    ppo_agent a;
    if (make_agent(&a, 1, hidden, 1, n, 64, n, 31 + better)) {
        CHECK(0, "init");
        return;
    }
    float obs[n], logp[n], value[n], rew[n], adv[n], ret[n], zero[n];
    unsigned char cut[n];
    int act[n];
    double u[n];
    ms_rng r;
    ms_rng_seed(&r, 32, MS_STREAM_ENV, (uint64_t)better);
    for (int i = 0; i < n; i++)
        obs[i] = 1.0f, zero[i] = 0, cut[i] = 1;
    float p1;
    ppo_act(&a, obs, 1, NULL, NULL, NULL, &p1, NULL);
    CHECK(fabsf(p1 - 0.5f) < 0.05f, "initial policy should be near uniform: %g", p1);
    ppo_hparams h = base_hp;
    h.lr = 0.01f;
    ms_err e;
    for (int it = 0; it < 40; it++) {
        for (int i = 0; i < n; i++)
            u[i] = ms_rng_uniform(&r);
        ppo_act(&a, obs, n, u, act, logp, NULL, value);
        for (int i = 0; i < n; i++)
            rew[i] = (float)((act[i] == better ? 1.0 : 0.2) + 0.3 * ms_rng_normal(&r));
        /* one-step episodes: each terminates, next value 0 */
        ppo_gae(1, n, rew, value, zero, cut, 0.95f, 0.9f, adv, ret);
        ppo_batch b = {n, obs, act, logp, adv, ret};
        ppo_report rep;
        CHECK(ppo_update(&a, &b, &h, &rep, NULL, &e) == MS_OK, "%s", e.msg);
    }
    int greedy;
    float v;
    ppo_act(&a, obs, 1, NULL, &greedy, NULL, &p1, &v);
    double pb = better ? p1 : 1 - p1;
    CHECK(greedy == better, "greedy arm %d, better is %d", greedy, better);
    CHECK(pb > 0.9, "p(better arm) = %g", pb);
    CHECK(fabsf(v - 1.0f) < 0.25f, "value %g should approach the better payoff", v);
    ppo_release(&a);
}

static void test_ppo_bandit(void)
{
    bandit(1);
    bandit(0);
}

static void test_ppo_rollback_exact(void)
{
    static const int hidden[] = {32, 32};
    ppo_agent a;
    if (make_agent(&a, 9, hidden, 2, 256, 64, 256, 41)) {
        CHECK(0, "init");
        return;
    }
    syn s;
    syn_make(&s, &a, 256, 42);
    ppo_report rep;
    ms_err e;
    CHECK(ppo_update(&a, &s.b, &base_hp, &rep, NULL, &e) == MS_OK, "%s", e.msg);
    CHECK(rep.steps == 16 && rep.steps_changed == 16, "steps %d", rep.steps);
    size_t sz = ppo_state_size(&a), np = a.net.n_params;
    unsigned char *snap = malloc(sz);
    ppo_state_save(&a, snap);
    float *p0 = malloc(np * 4), *m0 = malloc(np * 4), *v0 = malloc(np * 4);
    memcpy(p0, a.net.params, np * 4);
    memcpy(m0, a.opt.m, np * 4);
    memcpy(v0, a.opt.v, np * 4);
    uint64_t t0 = a.opt.t;
    ppo_value_norm vn0 = a.vn;
    for (int k = 0; k < 2; k++)
        CHECK(ppo_update(&a, &s.b, &base_hp, &rep, NULL, &e) == MS_OK, "%s", e.msg);
    CHECK(memcmp(p0, a.net.params, np * 4) != 0 && memcmp(m0, a.opt.m, np * 4) != 0 &&
              a.opt.t == t0 + 32 && a.vn.count != vn0.count,
          "updates should have moved the state");
    CHECK(ppo_state_restore(&a, snap, sz - 4, &e) == MS_EINPUT, "short snapshot");
    CHECK(ppo_state_restore(&a, snap, sz, &e) == MS_OK, "%s", e.msg);
    CHECK(memcmp(p0, a.net.params, np * 4) == 0, "params not restored byte-for-byte");
    CHECK(memcmp(m0, a.opt.m, np * 4) == 0 && memcmp(v0, a.opt.v, np * 4) == 0,
          "Adam moments not restored byte-for-byte");
    CHECK(a.opt.t == t0, "Adam t not restored");
    CHECK(memcmp(&a.vn, &vn0, sizeof vn0) == 0, "value statistics not restored");
    /* a snapshot from another shape is refused */
    static const int other[] = {16};
    ppo_agent b;
    if (make_agent(&b, 9, other, 1, 16, 16, 16, 1) == 0) {
        CHECK(ppo_state_restore(&b, snap, sz, &e) == MS_EINPUT, "foreign snapshot accepted");
        ppo_release(&b);
    }
    free(snap), free(p0), free(m0), free(v0);
    syn_free(&s);
    ppo_release(&a);
}

static void test_ppo_nonfinite_skipped(void)
{
    static const int hidden[] = {16};
    enum { n = 32 };
    ppo_agent a;
    if (make_agent(&a, 5, hidden, 1, n, n, n, 51)) {
        CHECK(0, "init");
        return;
    }
    syn s;
    syn_make(&s, &a, n, 52);
    unsigned char h0[32], h1[32], flags[n];
    ppo_report rep;
    ms_err e;
    ppo_hparams h = base_hp;
    h.minibatch = n; /* one minibatch: the poisoned sample is in every step */
    for (int kind = 0; kind < 3; kind++) {
        float *slot = kind == 0 ? &s.obs[7 * 5 + 2] : kind == 1 ? &s.adv[7] : &s.ret[7];
        float keep = *slot;
        *slot = kind == 1 ? INFINITY : NAN;
        hash_of(&a, h0);
        uint64_t t0 = a.opt.t;
        ppo_value_norm vn0 = a.vn;
        memset(flags, 0xAA, n);
        CHECK(ppo_update(&a, &s.b, &h, &rep, flags, &e) == MS_OK, "%s", e.msg);
        hash_of(&a, h1);
        CHECK(memcmp(h0, h1, 32) == 0 && a.opt.t == t0, "kind %d: params or Adam touched",
              kind);
        /* (the critic reads through the value statistics: they are parameters too) */
        CHECK(memcmp(&a.vn, &vn0, sizeof vn0) == 0, "kind %d: value statistics touched", kind);
        CHECK(rep.skipped_nonfinite == h.epochs && rep.steps == 0 && rep.samples_used == 0,
              "kind %d: skipped %d steps %d", kind, rep.skipped_nonfinite, rep.steps);
        int any = 0;
        for (int i = 0; i < n; i++)
            any |= flags[i];
        CHECK(!any && rep.samples_changed == 0, "kind %d: consumed_changed set", kind);
        *slot = keep;
    }
    /* several minibatches: only those holding the NaN sample are skipped */
    h.minibatch = 8;
    h.epochs = 8; /* so no other sample shares every minibatch with it */
    s.obs[7 * 5] = NAN;
    CHECK(ppo_update(&a, &s.b, &h, &rep, flags, &e) == MS_OK, "%s", e.msg);
    CHECK(rep.skipped_nonfinite == h.epochs && rep.steps == 3 * h.epochs,
          "skipped %d, steps %d", rep.skipped_nonfinite, rep.steps);
    CHECK(flags[7] == 0, "the NaN sample never changed the policy");
    CHECK(rep.samples_changed == n - 1 && rep.samples_used == n - 1,
          "changed %d used %d", rep.samples_changed, rep.samples_used);
    int finite = 1;
    for (size_t j = 0; j < a.net.n_params; j++)
        finite &= isfinite(a.net.params[j]) != 0;
    CHECK(finite, "params went non-finite");
    syn_free(&s);
    ppo_release(&a);
}

static void test_ppo_consumed_flags(void)
{
    static const int hidden[] = {8};
    enum { n = 10 };
    ppo_agent a;
    if (make_agent(&a, 3, hidden, 1, n, 4, n, 61)) {
        CHECK(0, "init");
        return;
    }
    syn s;
    syn_make(&s, &a, n, 62);
    unsigned char flags[n], h0[32], h1[32];
    ppo_report rep;
    ms_err e;
    ppo_hparams h = base_hp;
    h.minibatch = 4; /* 4 + 4 + 2: the partial minibatch is included */
    h.epochs = 2;
    h.lr = 0;
    hash_of(&a, h0);
    CHECK(ppo_update(&a, &s.b, &h, &rep, flags, &e) == MS_OK, "%s", e.msg);
    hash_of(&a, h1);
    int any = 0;
    for (int i = 0; i < n; i++)
        any |= flags[i];
    CHECK(rep.steps == 6 && rep.steps_changed == 0 && rep.samples_used == n && !any &&
              memcmp(h0, h1, 32) == 0,
          "lr 0: steps %d changed %d used %d", rep.steps, rep.steps_changed,
          rep.samples_used);
    CHECK(rep.grad_norm > 0 && rep.entropy > 0.6 && rep.value_loss > 0, "report terms");
    h.lr = 1e-3f;
    CHECK(ppo_update(&a, &s.b, &h, &rep, flags, &e) == MS_OK, "%s", e.msg);
    int all = 1;
    for (int i = 0; i < n; i++)
        all &= flags[i] == 1;
    CHECK(all && rep.samples_changed == n && rep.steps_changed == 6, "flags after real steps");
    /* empty batch is a no-op */
    ppo_batch empty = {0, NULL, NULL, NULL, NULL, NULL};
    CHECK(ppo_update(&a, &empty, &h, &rep, NULL, &e) == MS_OK && rep.steps == 0, "n 0");
    syn_free(&s);
    ppo_release(&a);
}

/* Advantages are normalised per minibatch: an affine rescaling a*A + b
 * (a > 0) of the batch's advantages leaves the update (nearly) unchanged. */
static void test_ppo_adv_normalised(void)
{
    static const int hidden[] = {16};
    enum { n = 64 };
    ppo_agent a, b;
    if (make_agent(&a, 4, hidden, 1, n, 16, n, 75) || make_agent(&b, 4, hidden, 1, n, 16, n, 75)) {
        CHECK(0, "init");
        return;
    }
    syn s;
    syn_make(&s, &a, n, 76);
    float adv2[n];
    for (int i = 0; i < n; i++)
        adv2[i] = 100.0f * s.adv[i] + 5.0f;
    ppo_batch b2 = s.b;
    b2.adv = adv2;
    ppo_hparams h = base_hp;
    h.minibatch = 16;
    ppo_report ra, rb;
    ms_err e;
    CHECK(ppo_update(&a, &s.b, &h, &ra, NULL, &e) == MS_OK, "%s", e.msg);
    CHECK(ppo_update(&b, &b2, &h, &rb, NULL, &e) == MS_OK, "%s", e.msg);
    double diff = 0;
    for (size_t j = 0; j < a.net.n_params; j++)
        diff = fmax(diff, fabs(a.net.params[j] - b.net.params[j]));
    CHECK(ra.steps_changed == 16 && rb.steps_changed == 16, "steps");
    CHECK(diff < 1e-4, "rescaled advantages changed the update by %g", diff);
    CHECK(fabs(ra.policy_loss - rb.policy_loss) < 1e-4, "policy loss %g vs %g",
          ra.policy_loss, rb.policy_loss);
    syn_free(&s);
    ppo_release(&a);
    ppo_release(&b);
}

static void test_ppo_update_rejects(void)
{
    static const int hidden[] = {8};
    enum { n = 16 };
    ppo_agent a;
    if (make_agent(&a, 3, hidden, 1, n, 8, n, 71)) {
        CHECK(0, "init");
        return;
    }
    syn s;
    syn_make(&s, &a, n, 72);
    unsigned char h0[32], h1[32];
    ppo_report rep;
    ms_err e;
    hash_of(&a, h0);
    ms_rng shuf = a.shuffle;
    ppo_hparams bad[7];
    for (int k = 0; k < 7; k++)
        bad[k] = base_hp, bad[k].minibatch = 8;
    bad[0].lr = NAN;
    bad[1].clip = 0;
    bad[2].entropy = -1;
    bad[3].value_coef = INFINITY;
    bad[4].grad_clip = -0.5f;
    bad[5].epochs = 0;
    bad[6].minibatch = 9; /* > max_minibatch */
    for (int k = 0; k < 7; k++)
        CHECK(ppo_update(&a, &s.b, &bad[k], &rep, NULL, &e) == MS_EINPUT && e.msg[0],
              "bad hparams %d accepted", k);
    ppo_hparams h = base_hp;
    h.minibatch = 8;
    s.act[3] = 2;
    CHECK(ppo_update(&a, &s.b, &h, &rep, NULL, &e) == MS_EINPUT && strstr(e.msg, "action"),
          "action 2 accepted");
    s.act[3] = 0;
    ppo_batch big = s.b;
    big.n = n + 1;
    CHECK(ppo_update(&a, &big, &h, &rep, NULL, &e) == MS_EINPUT, "oversized batch accepted");
    hash_of(&a, h1);
    CHECK(memcmp(h0, h1, 32) == 0 && a.opt.t == 0 &&
              memcmp(&shuf.s, &a.shuffle.s, sizeof shuf.s) == 0,
          "a rejected update changed state");
    /* bad shapes at init */
    ppo_agent b;
    ppo_shape sh = {3, hidden, 1, MLP_TANH, 0, 8, 8};
    CHECK(ppo_init(&b, &sh, 1, 0, &e) == MS_EINPUT, "max_samples 0 accepted");
    sh.max_samples = 8, sh.obs_dim = 0;
    CHECK(ppo_init(&b, &sh, 1, 0, &e) == MS_EINPUT, "obs_dim 0 accepted");
    syn_free(&s);
    ppo_release(&a);
}

/* A stand-in for two processes holding the same samples (ppo_reduce): both
 * report this process's batch size, and every sum is x + x over the
 * segments laid end to end, as exp/comm.c lays them out. Counts the sums. */
typedef struct twin {
    int sums, segments;
    float buf[4096];
} twin;

static int twin_gather(void *ctx, int mine, int *all, ms_err *e)
{
    (void)ctx, (void)e;
    all[0] = all[1] = mine;
    return MS_OK;
}

static int twin_sum(void *ctx, float *const *f, const size_t *nf, int nseg, double *d, size_t nd, ms_err *e)
{
    twin *t = ctx;
    size_t at = 0;
    for (int j = 0; j < nseg; j++) {
        if (at + nf[j] > sizeof t->buf / sizeof t->buf[0])
            return ms_fail(e, MS_EIO, "twin: message too large");
        memcpy(t->buf + at, f[j], nf[j] * sizeof(float));
        at += nf[j];
    }
    for (size_t q = 0; q < at; q++)
        t->buf[q] = t->buf[q] + t->buf[q];
    at = 0;
    for (int j = 0; j < nseg; j++) {
        memcpy(f[j], t->buf + at, nf[j] * sizeof(float));
        at += nf[j];
    }
    for (size_t q = 0; q < nd; q++)
        d[q] = d[q] + d[q];
    t->sums++;
    t->segments += nseg;
    return MS_OK;
}

/* ppo_update_group: three agents with batches of different sizes (so their
 * updates take different numbers of steps, one none at all) end exactly
 * as three ppo_update calls leave them, alone and over (stand-in)
 * processes, where the group needs one sum per step for all agents. */
static void test_ppo_group(void)
{
    static const int hidden[] = {12};
    enum { G = 3, max_n = 200 };
    static const int sizes[G] = {200, 70, 0};
    static const int dims[G] = {5, 3, 4};
    ppo_hparams h = base_hp;
    h.minibatch = 32;
    h.epochs = 3;
    for (int with_reduce = 0; with_reduce < 2; with_reduce++) {
        ppo_agent solo[G], grp[G];
        syn s[G];
        int ok = 1;
        for (int g = 0; g < G; g++)
            ok &= !make_agent(&solo[g], dims[g], hidden, 1, max_n, 32, max_n, 300 + (uint64_t)g) &&
                  !make_agent(&grp[g], dims[g], hidden, 1, max_n, 32, max_n, 300 + (uint64_t)g);
        if (!ok) {
            CHECK(0, "init");
            return;
        }
        static const int mb2[2] = {32, 32};
        int n_solo[G][2], n_grp[G][2];
        twin tw_solo = {0}, tw_grp = {0};
        ppo_reduce rs[G], rg[G];
        for (int g = 0; g < G; g++) {
            syn_make(&s[g], &solo[g], sizes[g] ? sizes[g] : 1, 310 + (uint64_t)g);
            s[g].b.n = sizes[g];
            rs[g] = (ppo_reduce){2, mb2, n_solo[g], twin_gather, twin_sum, &tw_solo};
            rg[g] = (ppo_reduce){2, mb2, n_grp[g], twin_gather, twin_sum, &tw_grp};
            if (with_reduce) {
                solo[g].reduce = &rs[g];
                grp[g].reduce = &rg[g];
            }
        }
        ppo_report rsolo[G], rgrp[G];
        unsigned char cs[G][max_n], cg[G][max_n];
        ms_err e;
        for (int g = 0; g < G; g++)
            CHECK(ppo_update(&solo[g], &s[g].b, &h, &rsolo[g], cs[g], &e) == MS_OK, "%s", e.msg);
        ppo_agent *ga[G] = {&grp[0], &grp[1], &grp[2]};
        const ppo_batch *gb[G] = {&s[0].b, &s[1].b, &s[2].b};
        unsigned char *gc[G] = {cg[0], cg[1], cg[2]};
        CHECK(ppo_update_group(ga, gb, G, &h, rgrp, gc, &e) == MS_OK, "%s", e.msg);
        for (int g = 0; g < G; g++) {
            unsigned char h1[32], h2[32];
            hash_of(&solo[g], h1);
            hash_of(&grp[g], h2);
            CHECK(!memcmp(h1, h2, 32) && !memcmp(&solo[g].vn, &grp[g].vn, sizeof solo[g].vn) &&
                      solo[g].opt.t == grp[g].opt.t && !memcmp(&rsolo[g], &rgrp[g], sizeof rsolo[g]) &&
                      !memcmp(cs[g], cg[g], (size_t)sizes[g]),
                  "reduce %d, agent %d: the group's update differs from ppo_update's", with_reduce, g);
        }
        CHECK(rgrp[0].steps == 3 * 7 && rgrp[1].steps == 3 * 3 && rgrp[2].steps == 0,
              "steps %d %d %d, want 21 9 0", rgrp[0].steps, rgrp[1].steps, rgrp[2].steps);
        if (with_reduce) {
            /* per agent 2 sums of value statistics (none for the agent with
             * no sample anywhere: its count is 0 after the first) */
            CHECK(tw_solo.sums == 21 + 9 + 2 + 2 + 1, "ppo_update: %d sums", tw_solo.sums);
            CHECK(tw_grp.sums == 21 + 2 + 2 + 1 && tw_grp.segments == 21 + 9,
                  "ppo_update_group: %d sums of %d gradients, want 26 of 30", tw_grp.sums, tw_grp.segments);
        }
        for (int g = 0; g < G; g++) {
            syn_free(&s[g]);
            ppo_release(&solo[g]);
            ppo_release(&grp[g]);
        }
    }
    /* refusals, nothing changed */
    ppo_agent a, b;
    if (make_agent(&a, 3, hidden, 1, 16, 8, 16, 320) || make_agent(&b, 3, hidden, 1, 16, 8, 16, 321)) {
        CHECK(0, "init");
        return;
    }
    syn s;
    syn_make(&s, &a, 16, 322);
    ppo_hparams h8 = base_hp;
    h8.minibatch = 8;
    ppo_report rep[2];
    ms_err e;
    ppo_agent *twice[2] = {&a, &a}, *pair[2] = {&a, &b};
    const ppo_batch *bb[2] = {&s.b, &s.b};
    unsigned char h0[32], h1[32];
    hash_of(&a, h0);
    CHECK(ppo_update_group(pair, bb, 0, &h8, rep, NULL, &e) == MS_EINPUT, "a group of 0 accepted");
    CHECK(ppo_update_group(twice, bb, 2, &h8, rep, NULL, &e) == MS_EINPUT && strstr(e.msg, "again"),
          "one agent twice accepted");
    int nn[2];
    static const int mb2[2] = {8, 8};
    twin tw = {0};
    ppo_reduce r = {2, mb2, nn, twin_gather, twin_sum, &tw};
    b.reduce = &r;
    CHECK(ppo_update_group(pair, bb, 2, &h8, rep, NULL, &e) == MS_EINPUT && tw.sums == 0,
          "agents combining over different processes accepted");
    s.act[5] = 7;
    b.reduce = NULL;
    CHECK(ppo_update_group(pair, bb, 2, &h8, rep, NULL, &e) == MS_EINPUT && strstr(e.msg, "action"),
          "a bad action in the second agent's batch accepted");
    hash_of(&a, h1);
    CHECK(!memcmp(h0, h1, 32) && a.opt.t == 0 && b.opt.t == 0, "a refused group update changed an agent");
    syn_free(&s);
    ppo_release(&a);
    ppo_release(&b);
}

static void test_ppo_act_chunking(void)
{
    static const int hidden[] = {16, 16};
    enum { n = 300 };
    ppo_agent a, b;
    if (make_agent(&a, 6, hidden, 2, 8, 8, 7, 81) || make_agent(&b, 6, hidden, 2, 8, 8, 512, 81)) {
        CHECK(0, "init");
        return;
    }
    syn s;
    syn_make(&s, &a, n, 82);
    int act2[n];
    float lp2[n], p1a[n], p1b[n], va[n], vb[n];
    ppo_act(&a, s.obs, n, s.u, s.act, s.logp, p1a, va);
    ppo_act(&b, s.obs, n, s.u, act2, lp2, p1b, vb);
    double worst = 0;
    int same = 1, consistent = 1;
    for (int i = 0; i < n; i++) {
        worst = fmax(worst, fabs(p1a[i] - p1b[i]));
        worst = fmax(worst, fabs(va[i] - vb[i]));
        same &= s.act[i] == act2[i];
        consistent &= s.act[i] == (s.u[i] < p1a[i]) &&
                      fabsf(s.logp[i] - logf(s.act[i] ? p1a[i] : 1 - p1a[i])) < 1e-4f;
    }
    CHECK(worst < 1e-6, "chunk size changed outputs by %g", worst);
    CHECK(same, "chunk size changed sampled actions");
    CHECK(consistent, "actions/logp inconsistent with prob1 and u");
    syn_free(&s);
    ppo_release(&a);
    ppo_release(&b);
}

/* Two identical training sequences give identical parameters, also when
 * OpenBLAS uses 2 threads instead of 1. */
static void train_hash(int threads, unsigned char h[32])
{
    static const int hidden[] = {64, 64};
    enum { n = 1024 };
    openblas_set_num_threads(threads);
    ppo_agent a;
    if (make_agent(&a, 9, hidden, 2, n, 256, n, 91)) {
        CHECK(0, "init");
        return;
    }
    ppo_hparams hp = base_hp;
    hp.minibatch = 256;
    hp.epochs = 2;
    ms_err e;
    for (int k = 0; k < 3; k++) {
        syn s;
        syn_make(&s, &a, n, 92 + (uint64_t)k);
        ppo_report rep;
        CHECK(ppo_update(&a, &s.b, &hp, &rep, NULL, &e) == MS_OK, "%s", e.msg);
        CHECK(rep.steps_changed == 8, "steps changed %d", rep.steps_changed);
        syn_free(&s);
    }
    CHECK(openblas_get_num_threads() == threads, "OpenBLAS runs %d threads, wanted %d",
          openblas_get_num_threads(), threads);
    hash_of(&a, h);
    ppo_release(&a);
}

static void test_ppo_determinism(void)
{
    unsigned char h1[32], h1b[32], h2[32];
    train_hash(1, h1);
    train_hash(1, h1b);
    train_hash(2, h2);
    openblas_set_num_threads(1);
    CHECK(memcmp(h1, h1b, 32) == 0, "same sequence, different parameters");
    CHECK(memcmp(h1, h2, 32) == 0, "1 vs 2 OpenBLAS threads differ");
    /* and a different seed does give different parameters */
    static const int hidden[] = {64, 64};
    ppo_agent a;
    if (make_agent(&a, 9, hidden, 2, 8, 8, 8, 90) == 0) {
        unsigned char h3[32];
        hash_of(&a, h3);
        CHECK(memcmp(h1, h3, 32) != 0, "seed ignored");
        ppo_release(&a);
    }
}

void suite_ppo(void)
{
    RUN(test_ppo_heads);
    RUN(test_ppo_gae_by_hand);
    RUN(test_ppo_loss_gradcheck);
    RUN(test_ppo_bandit);
    RUN(test_ppo_rollback_exact);
    RUN(test_ppo_nonfinite_skipped);
    RUN(test_ppo_consumed_flags);
    RUN(test_ppo_adv_normalised);
    RUN(test_ppo_update_rejects);
    RUN(test_ppo_group);
    RUN(test_ppo_act_chunking);
    RUN(test_ppo_determinism);
}
