/* ppo.c — see ppo.h for the contract. */
#include "nn/ppo.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const float out_gain[PPO_OUT] = {0.01f, 0.01f, 1.0f};

/* Carves n bytes (rounded up to 16) from *p. */
static void *carve(unsigned char **p, size_t n)
{
    void *r = *p;
    *p += (n + 15) & ~(size_t)15;
    return r;
}

int ppo_init(ppo_agent *a, const ppo_shape *s, uint64_t seed, uint32_t agent,
             ms_err *e)
{
    memset(a, 0, sizeof *a);
    if (s->max_samples < 1 || s->max_samples > (1 << 28))
        return ms_fail(e, MS_EINPUT, "ppo: max_samples %d (allowed 1..%d)",
                       s->max_samples, 1 << 28);
    if (s->max_minibatch < 1 || s->max_minibatch > MLP_MAX_BATCH)
        return ms_fail(e, MS_EINPUT, "ppo: max_minibatch %d (allowed 1..%d)",
                       s->max_minibatch, MLP_MAX_BATCH);
    if (s->max_act_batch < 1 || s->max_act_batch > MLP_MAX_BATCH)
        return ms_fail(e, MS_EINPUT, "ppo: max_act_batch %d (allowed 1..%d)",
                       s->max_act_batch, MLP_MAX_BATCH);
    int nb = s->max_minibatch > s->max_act_batch ? s->max_minibatch
                                                 : s->max_act_batch;
    int rc = mlp_init(&a->net, s->obs_dim, s->hidden, s->n_hidden, PPO_OUT,
                      s->act, nb, out_gain, seed, agent, e);
    if (rc)
        return rc;
    rc = adam_init(&a->opt, a->net.n_params, e);
    if (rc) {
        ppo_release(a);
        return rc;
    }
    if (ms_rng_seed(&a->shuffle, seed, MS_STREAM_SHUFFLE, agent)) {
        ppo_release(a);
        return ms_fail(e, MS_EIO, "%s", MS_RNG_SEED_FAILED);
    }
    a->obs_dim = s->obs_dim;
    a->max_samples = s->max_samples;
    a->max_minibatch = s->max_minibatch;
    a->act_chunk = s->max_act_batch;

    size_t ns = (size_t)s->max_samples, mb = (size_t)s->max_minibatch;
    size_t sizes[10] = {
        ns * sizeof(int), ns, ns,
        mb * (size_t)s->obs_dim * sizeof(float), mb * sizeof(int),
        mb * sizeof(float), mb * sizeof(float), mb * sizeof(float),
        (size_t)nb * PPO_OUT * sizeof(float), mb * PPO_OUT * sizeof(float)};
    size_t total = 0;
    for (int i = 0; i < 10; i++)
        total += (sizes[i] + 15) & ~(size_t)15;
    a->mem = calloc(1, total);
    if (!a->mem) {
        ppo_release(a);
        return ms_fail(e, MS_EIO, "ppo: out of memory for %zu bytes of scratch", total);
    }
    unsigned char *p = a->mem;
    a->perm = carve(&p, sizes[0]);
    a->used = carve(&p, sizes[1]);
    a->chg = carve(&p, sizes[2]);
    a->mb_obs = carve(&p, sizes[3]);
    a->mb_action = carve(&p, sizes[4]);
    a->mb_old_logp = carve(&p, sizes[5]);
    a->mb_adv = carve(&p, sizes[6]);
    a->mb_ret = carve(&p, sizes[7]);
    a->out = carve(&p, sizes[8]);
    a->dout = carve(&p, sizes[9]);
    return MS_OK;
}

void ppo_release(ppo_agent *a)
{
    if (!a)
        return;
    mlp_release(&a->net);
    adam_release(&a->opt);
    free(a->mem);
    memset(a, 0, sizeof *a);
}

/* log pi(0), log pi(1) for logits l0, l1, in double (stable log-softmax).
 * NaN logits give NaN. */
static void log_softmax2(double l0, double l1, double *lp0, double *lp1)
{
    double mx = l0 > l1 ? l0 : l1;
    double lse = mx + log(exp(l0 - mx) + exp(l1 - mx));
    *lp0 = l0 - lse;
    *lp1 = l1 - lse;
}

void ppo_heads(const float *out, int n, const double *u, int *action,
               float *logp, float *prob1, float *value)
{
    for (int i = 0; i < n; i++) {
        const float *o = out + (size_t)i * PPO_OUT;
        double lp0, lp1;
        log_softmax2(o[0], o[1], &lp0, &lp1);
        double p1 = exp(lp1);
        int act = u ? (u[i] < p1) : (o[1] > o[0]);
        if (action)
            action[i] = act;
        if (logp)
            logp[i] = (float)(act ? lp1 : lp0);
        if (prob1)
            prob1[i] = (float)p1;
        if (value)
            value[i] = o[2];
    }
}

/* Standard deviation of the value targets; floored so that a constant
 * return does not blow the normalised targets up. */
static double vn_sd(const ppo_value_norm *vn)
{
    double var = vn->count > 0 ? vn->m2 / vn->count : 1.0;
    double sd = sqrt(var);
    return sd < 1e-2 ? 1e-2 : sd;
}

void ppo_act(ppo_agent *a, const float *obs, int n, const double *u,
             int *action, float *logp, float *prob1, float *value)
{
    double sd = vn_sd(&a->vn), mean = a->vn.mean;
    for (int s = 0; s < n; s += a->act_chunk) {
        int k = n - s < a->act_chunk ? n - s : a->act_chunk;
        mlp_forward(&a->net, obs + (size_t)s * a->obs_dim, k, a->out);
        ppo_heads(a->out, k, u ? u + s : NULL, action ? action + s : NULL,
                  logp ? logp + s : NULL, prob1 ? prob1 + s : NULL,
                  value ? value + s : NULL);
        if (value)
            for (int i = 0; i < k; i++)
                value[s + i] = (float)(value[s + i] * sd + mean);
    }
}

void ppo_gae(int T, int N, const float *reward, const float *value,
             const float *next_value, const unsigned char *cut, float gamma,
             float lambda, float *adv, float *ret)
{
    for (int t = T - 1; t >= 0; t--)
        for (int i = 0; i < N; i++) {
            size_t k = (size_t)t * N + i;
            double delta = (double)reward[k] + (double)gamma * next_value[k] -
                           value[k];
            double a = delta;
            if (t < T - 1 && !cut[k])
                a += (double)gamma * lambda * adv[k + (size_t)N];
            adv[k] = (float)a;
            ret[k] = (float)(a + value[k]);
        }
}

void ppo_loss_grad(ppo_agent *a, const ppo_batch *mb, const ppo_hparams *h,
                   ppo_loss *out)
{
    int m = mb->n;
    mlp_forward(&a->net, mb->obs, m, a->out);
    const double inv_m = 1.0 / m, clip = h->clip, ent = h->entropy,
                 vc = h->value_coef;
    double s_pol = 0, s_val = 0, s_ent = 0, s_kl = 0, s_clip = 0;
    for (int i = 0; i < m; i++) {
        const float *o = a->out + (size_t)i * PPO_OUT;
        float *d = a->dout + (size_t)i * PPO_OUT;
        double lp[2];
        log_softmax2(o[0], o[1], &lp[0], &lp[1]);
        double p[2] = {exp(lp[0]), exp(lp[1])};
        int act = mb->action[i];
        double dlogp = lp[act] - mb->old_logp[i];
        double r = exp(dlogp), A = mb->adv[i];
        double rc = r < 1.0 - clip ? 1.0 - clip : r > 1.0 + clip ? 1.0 + clip : r;
        double s1 = r * A, s2 = rc * A;
        /* L_pol_i = -min(s1, s2); d/dlogp = -A r on the unclipped branch */
        double pol, g_logp;
        if (s1 <= s2) {
            pol = -s1;
            g_logp = -A * r;
        } else {
            pol = -s2;
            g_logp = 0.0;
        }
        if (!(s1 <= s2) && !(s1 > s2)) /* NaN: keep it visible */
            pol = s1 + s2;
        double H = -(p[0] * lp[0] + p[1] * lp[1]);
        double V = o[2], R = mb->ret[i];
        s_pol += pol;
        s_val += 0.5 * (V - R) * (V - R);
        s_ent += H;
        s_kl += (r - 1.0) - dlogp;
        s_clip += fabs(r - 1.0) > clip;
        for (int k = 0; k < 2; k++) {
            /* dlogp_a/dl_k = [k==a] - p_k;  dH/dl_k = -p_k (log p_k + H) */
            double g = g_logp * ((k == act) - p[k]) + ent * p[k] * (lp[k] + H);
            d[k] = (float)(g * inv_m);
        }
        d[2] = (float)(vc * (V - R) * inv_m);
    }
    out->policy_loss = s_pol * inv_m;
    out->value_loss = s_val * inv_m;
    out->entropy = s_ent * inv_m;
    out->approx_kl = s_kl * inv_m;
    out->clip_frac = s_clip * inv_m;
    out->loss = out->policy_loss + vc * out->value_loss - ent * out->entropy;
    mlp_backward(&a->net, a->dout, m);
}

int ppo_check_hparams(const ppo_agent *a, const ppo_hparams *h, ms_err *e)
{
    if (!isfinite(h->lr) || h->lr < 0)
        return ms_fail(e, MS_EINPUT, "ppo: lr %g (must be finite and >= 0)", h->lr);
    if (!(h->clip > 0 && h->clip < 1))
        return ms_fail(e, MS_EINPUT, "ppo: clip %g (must be in (0, 1))", h->clip);
    if (!isfinite(h->entropy) || h->entropy < 0)
        return ms_fail(e, MS_EINPUT, "ppo: entropy %g (must be finite and >= 0)",
                       h->entropy);
    if (!isfinite(h->value_coef) || h->value_coef < 0)
        return ms_fail(e, MS_EINPUT, "ppo: value_coef %g (must be finite and >= 0)",
                       h->value_coef);
    if (!isfinite(h->grad_clip) || h->grad_clip < 0)
        return ms_fail(e, MS_EINPUT, "ppo: grad_clip %g (must be finite and >= 0)",
                       h->grad_clip);
    if (h->epochs < 1 || h->epochs > PPO_MAX_EPOCHS)
        return ms_fail(e, MS_EINPUT, "ppo: epochs %d (allowed 1..%d)", h->epochs,
                       PPO_MAX_EPOCHS);
    if (h->minibatch < 1 || h->minibatch > a->max_minibatch)
        return ms_fail(e, MS_EINPUT, "ppo: minibatch %d (allowed 1..%d)",
                       h->minibatch, a->max_minibatch);
    return MS_OK;
}

/* ---- updates: one agent, or several in lockstep ----
 * An update runs as a pass per agent: pass_begin (value statistics, the
 * number of minibatches), then for each step s (epoch s / nmb, minibatch
 * s % nmb) pass_grad (this process's gradient), the combination over the
 * processes (with ppo_reduce) and pass_apply (the optimizer step), then
 * pass_end. The agents of a group are independent: interleaving their steps
 * changes nothing in any of them, and lets one collective carry every
 * agent's gradient of a step. */

/* Every agent of a group uses the same processes (or none). */
static int same_processes(const ppo_reduce *x, const ppo_reduce *y)
{
    if (!x || !y)
        return !x && !y;
    return x->ranks == y->ranks && x->sum == y->sum && x->gather_n == y->gather_n && x->ctx == y->ctx &&
           x->n != y->n;
}

/* Everything a pass could refuse, checked before any agent changes. */
static int pass_check(const ppo_agent *a, const ppo_batch *b, const ppo_hparams *h, ms_err *e)
{
    int rc = ppo_check_hparams(a, h, e);
    if (rc)
        return rc;
    if (b->n < 0 || b->n > a->max_samples)
        return ms_fail(e, MS_EINPUT, "ppo: batch of %d samples (allowed 0..%d)", b->n, a->max_samples);
    for (int i = 0; i < b->n; i++)
        if (b->action[i] != 0 && b->action[i] != 1)
            return ms_fail(e, MS_EINPUT, "ppo: sample %d has action %d (not 0/1)", i, b->action[i]);
    return MS_OK;
}

/* Folds the batch's returns (with R: every process's) into the value
 * statistics (parallel mean/variance update), whose targets the pass then
 * trains on; counts the minibatches per epoch (with R: as many as the
 * process needing most) and resets the bookkeeping. A pass with nothing to
 * train on (no sample anywhere) has no steps. The critic's output is
 * de-normalised with these statistics, so they are part of the parameters:
 * a pass that takes no step puts them back (pass_end). */
static int pass_begin(ppo_agent *a, const ppo_batch *b, const ppo_hparams *h, ms_err *e)
{
    const ppo_reduce *R = a->reduce;
    ppo_pass *p = &a->pass;
    int n = b->n, rc;
    memset(p, 0, sizeof *p);
    p->b = b;
    p->n = n;
    p->vn_before = a->vn;
    if (n == 0 && !R)
        return MS_OK;
    double cnt = n, bm = 0, bm2 = 0;
    for (int i = 0; i < n; i++)
        bm += b->ret[i];
    if (R) {
        double d[2] = {cnt, bm};
        if ((rc = R->sum(R->ctx, NULL, NULL, 0, d, 2, e)))
            return rc;
        cnt = d[0];
        bm = d[1];
        if (cnt == 0)
            return MS_OK;
    }
    bm /= cnt;
    for (int i = 0; i < n; i++)
        bm2 += (b->ret[i] - bm) * (b->ret[i] - bm);
    if (R && (rc = R->sum(R->ctx, NULL, NULL, 0, &bm2, 1, e)))
        return rc;
    if (isfinite(bm) && isfinite(bm2)) {
        ppo_value_norm *vn = &a->vn;
        double tot = vn->count + cnt, delta = bm - vn->mean;
        vn->m2 += bm2 + delta * delta * vn->count * cnt / tot;
        vn->mean += delta * cnt / tot;
        vn->count = tot;
    }
    p->vsd = vn_sd(&a->vn);
    p->vmean = a->vn.mean;
    p->nmb = (n + h->minibatch - 1) / h->minibatch;
    if (R) {
        if ((rc = R->gather_n(R->ctx, n, R->n, e)))
            return rc;
        for (int r = 0; r < R->ranks; r++) {
            int k = (R->n[r] + R->minibatch[r] - 1) / R->minibatch[r];
            p->nmb = k > p->nmb ? k : p->nmb;
        }
    }
    p->steps = h->epochs * p->nmb;
    memset(a->used, 0, (size_t)n);
    memset(a->chg, 0, (size_t)n);
    for (int i = 0; i < n; i++)
        a->perm[i] = i;
    return MS_OK;
}

/* Step s's gradient and loss terms on this process's minibatch (a new
 * epoch reshuffles first: Fisher-Yates, a->shuffle). Advantages are
 * normalised to (A - mean)/(std + 1e-8) over the minibatch (population
 * std). A process with no sample left in this step contributes a zero
 * gradient and zero loss terms. */
static void pass_grad(ppo_agent *a, const ppo_hparams *h, int s)
{
    ppo_pass *p = &a->pass;
    const ppo_batch *b = p->b;
    int n = p->n, k = s % p->nmb;
    size_t d = (size_t)a->obs_dim;
    if (k == 0)
        for (int i = n - 1; i > 0; i--) {
            int j = (int)ms_rng_below(&a->shuffle, (uint32_t)i + 1);
            int t = a->perm[i];
            a->perm[i] = a->perm[j];
            a->perm[j] = t;
        }
    int start = k * h->minibatch;
    int m = n - start < h->minibatch ? n - start : h->minibatch;
    p->k = k;
    p->m = m < 0 ? 0 : m;
    p->idx = a->perm + (m > 0 ? start : 0);
    p->l = (ppo_loss){0};
    if (p->m == 0) {
        mlp_zero_grad(&a->net);
        return;
    }
    const int *idx = p->idx;
    double mean = 0, var = 0;
    for (int q = 0; q < m; q++) {
        int i = idx[q];
        memcpy(a->mb_obs + (size_t)q * d, b->obs + (size_t)i * d, d * sizeof(float));
        a->mb_action[q] = b->action[i];
        a->mb_old_logp[q] = b->old_logp[i];
        a->mb_ret[q] = (float)((b->ret[i] - p->vmean) / p->vsd);
        mean += b->adv[i];
    }
    mean /= m;
    for (int q = 0; q < m; q++) {
        double x = b->adv[idx[q]] - mean;
        var += x * x;
    }
    double sd = sqrt(var / m) + 1e-8;
    for (int q = 0; q < m; q++)
        a->mb_adv[q] = (float)((b->adv[idx[q]] - mean) / sd);
    ppo_batch mb = {m, a->mb_obs, a->mb_action, a->mb_old_logp, a->mb_adv, a->mb_ret};
    ppo_loss_grad(a, &mb, h, &p->l);
}

/* With R: this process's share of the step's combined gradient, its
 * gradient and loss terms weighted by m / M (M = the step's samples over
 * all processes); the loss terms go to t[0..6). */
static void pass_weigh(ppo_agent *a, double *t)
{
    const ppo_reduce *R = a->reduce;
    ppo_pass *p = &a->pass;
    double M = 0;
    for (int r = 0; r < R->ranks; r++) {
        int left = R->n[r] - p->k * R->minibatch[r];
        M += left <= 0 ? 0 : left < R->minibatch[r] ? left : R->minibatch[r];
    }
    double w = M > 0 ? p->m / M : 0;
    float wf = (float)w;
    for (size_t q = 0; q < a->net.n_params; q++)
        a->net.grads[q] *= wf;
    const ppo_loss *l = &p->l;
    double x[6] = {l->loss * w, l->policy_loss * w, l->value_loss * w, l->entropy * w, l->approx_kl * w,
                   l->clip_frac * w};
    memcpy(t, x, sizeof x);
}

/* The optimizer step on the (combined) gradient: adam_step(lr, grad_clip),
 * skipped when the loss or the gradient is not finite. */
static void pass_apply(ppo_agent *a, const ppo_hparams *h, ppo_report *rep)
{
    ppo_pass *p = &a->pass;
    const ppo_loss *l = &p->l;
    if (!isfinite(l->loss)) {
        rep->skipped_nonfinite++;
        return;
    }
    adam_stat st;
    adam_step(&a->opt, a->net.params, a->net.grads, h->lr, h->grad_clip, &st);
    if (st.skipped) {
        rep->skipped_nonfinite++;
        return;
    }
    rep->steps++;
    rep->steps_changed += st.changed;
    p->s_pol += l->policy_loss;
    p->s_val += l->value_loss;
    p->s_ent += l->entropy;
    p->s_kl += l->approx_kl;
    p->s_clip += l->clip_frac;
    p->s_norm += st.grad_norm;
    for (int q = 0; q < p->m; q++) {
        a->used[p->idx[q]] = 1;
        if (st.changed)
            a->chg[p->idx[q]] = 1;
    }
}

static void pass_end(ppo_agent *a, ppo_report *rep, unsigned char *consumed_changed)
{
    ppo_pass *p = &a->pass;
    if (!rep->steps)
        a->vn = p->vn_before;
    if (rep->steps) {
        double inv = 1.0 / rep->steps;
        rep->policy_loss = p->s_pol * inv;
        rep->value_loss = p->s_val * inv;
        rep->entropy = p->s_ent * inv;
        rep->approx_kl = p->s_kl * inv;
        rep->clip_frac = p->s_clip * inv;
        rep->grad_norm = p->s_norm * inv;
    }
    for (int i = 0; i < p->n; i++) {
        rep->samples_used += a->used[i];
        rep->samples_changed += a->chg[i];
    }
    if (consumed_changed)
        memcpy(consumed_changed, a->chg, (size_t)p->n);
}

int ppo_update_group(ppo_agent *const *a, const ppo_batch *const *b, int count, const ppo_hparams *h,
                     ppo_report *rep, unsigned char *const *consumed_changed, ms_err *e)
{
    if (count < 1 || count > PPO_MAX_GROUP)
        return ms_fail(e, MS_EINPUT, "ppo: a group of %d agents (allowed 1..%d)", count, PPO_MAX_GROUP);
    const ppo_reduce *R = a[0]->reduce;
    int rc;
    for (int g = 0; g < count; g++) {
        memset(&rep[g], 0, sizeof rep[g]);
        for (int x = 0; x < g; x++)
            if (a[x] == a[g])
                return ms_fail(e, MS_EINPUT, "ppo: agent %d of the group is agent %d again", g, x);
        if (g > 0 && !same_processes(R, a[g]->reduce))
            return ms_fail(e, MS_EINPUT, "ppo: agent %d of the group combines over other processes than "
                           "agent 0 (or shares its scratch)", g);
        if ((rc = pass_check(a[g], b[g], h, e)))
            return rc;
    }
    int steps = 0;
    for (int g = 0; g < count; g++) {
        if ((rc = pass_begin(a[g], b[g], h, e)))
            return rc;
        steps = a[g]->pass.steps > steps ? a[g]->pass.steps : steps;
    }
    /* every agent with a step s left, in group order; with R one sum
     * carries all their gradients and loss terms (every process has the
     * same steps: they come from the gathered batch sizes) */
    float *f[PPO_MAX_GROUP];
    size_t nf[PPO_MAX_GROUP];
    double t[6 * PPO_MAX_GROUP];
    for (int s = 0; s < steps; s++) {
        int live = 0;
        for (int g = 0; g < count; g++) {
            if (s >= a[g]->pass.steps)
                continue;
            pass_grad(a[g], h, s);
            if (R) {
                pass_weigh(a[g], t + 6 * live);
                f[live] = a[g]->net.grads;
                nf[live] = a[g]->net.n_params;
            }
            live++;
        }
        if (R && (rc = R->sum(R->ctx, f, nf, live, t, 6 * (size_t)live, e)))
            return rc;
        for (int g = 0, j = 0; g < count; g++) {
            if (s >= a[g]->pass.steps)
                continue;
            if (R) {
                const double *x = t + 6 * j++;
                a[g]->pass.l = (ppo_loss){x[0], x[1], x[2], x[3], x[4], x[5]};
            }
            pass_apply(a[g], h, &rep[g]);
        }
    }
    for (int g = 0; g < count; g++)
        pass_end(a[g], &rep[g], consumed_changed ? consumed_changed[g] : NULL);
    return MS_OK;
}

int ppo_update(ppo_agent *a, const ppo_batch *b, const ppo_hparams *h,
               ppo_report *rep, unsigned char *consumed_changed, ms_err *e)
{
    return ppo_update_group(&a, &b, 1, h, rep, &consumed_changed, e);
}

/* Snapshot image: the value statistics, then Adam's (params, m, v, t). */
size_t ppo_state_size(const ppo_agent *a)
{
    return sizeof(ppo_value_norm) + adam_state_size(&a->opt);
}

void ppo_state_save(const ppo_agent *a, void *buf)
{
    memcpy(buf, &a->vn, sizeof a->vn);
    adam_save(&a->opt, a->net.params, (char *)buf + sizeof a->vn);
}

int ppo_state_restore(ppo_agent *a, const void *buf, size_t size, ms_err *e)
{
    if (size < sizeof a->vn)
        return ms_fail(e, MS_EINPUT, "ppo: snapshot of %zu bytes is too small", size);
    int rc = adam_restore(&a->opt, a->net.params, (const char *)buf + sizeof a->vn,
                          size - sizeof a->vn, e);
    if (!rc)
        memcpy(&a->vn, buf, sizeof a->vn);
    return rc;
}
