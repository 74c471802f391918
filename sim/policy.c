#include "sim/policy.h"

#include <stdlib.h>
#include <string.h>

const char *const ms_ref_names[MS_NREF] = {"random", "heuristic", "oracle"};

int ms_ref_policy_init(ms_ref_policy *p, int kind, const ms_config *c, uint64_t seed, ms_err *e)
{
    memset(p, 0, sizeof *p);
    p->kind = kind;
    p->cfg = c;
    p->envs = c->envs;
    if (kind == MS_REF_RANDOM) {
        p->rng = calloc((size_t)c->envs, sizeof *p->rng);
        if (!p->rng)
            return ms_fail(e, MS_EIO, "out of memory");
        for (int i = 0; i < c->envs; i++)
            if (ms_rng_seed(&p->rng[i], seed, MS_STREAM_REF_POLICY, (uint64_t)i)) {
                free(p->rng);
                p->rng = NULL;
                return ms_fail(e, MS_EIO, "%s", MS_RNG_SEED_FAILED);
            }
    }
    return MS_OK;
}

void ms_ref_policy_release(ms_ref_policy *p)
{
    free(p->rng);
    p->rng = NULL;
}

static int ref_act(void *ctx, ms_step *s, ms_err *e)
{
    (void)e;
    ms_ref_policy *p = ctx;
    for (int i = 0; i < s->envs; i++) {
        unsigned char *a = s->act + (size_t)i * MS_NAGENT;
        float *pr = s->prob1 + (size_t)i * MS_NAGENT;
        if (p->kind == MS_REF_RANDOM) {
            for (int k = 0; k < MS_NAGENT; k++) {
                a[k] = (unsigned char)ms_rng_bernoulli(&p->rng[i], 0.5);
                pr[k] = 0.5f;
            }
            continue;
        }
        if (p->kind == MS_REF_HEURISTIC) {
            const float *f = s->feat + (size_t)i * MS_NFEAT;
            int q = f[MS_F_THREAT_INTEL_HIT] > 0.5f || f[MS_F_URL_MISMATCH] > 0.5f || f[MS_F_SANDBOX_SCORE] > 0.5f;
            a[MS_AGENT_GET] = (unsigned char)!q;
            a[MS_AGENT_OPEN] = (unsigned char)!q;
            a[MS_AGENT_BIN] = (unsigned char)q;
        } else {
            const ms_msg *m = &s->msg[i];
            ms_facts f = {m->cls, m->f[MS_F_THREAT_INTEL_HIT] != 0, m->f[MS_F_COMPROMISED] != 0, 0};
            double best = 0;
            int best_j = -1;
            for (int j = 0; j < 1 << MS_NAGENT; j++) {
                unsigned char cand[MS_NAGENT] = {(unsigned char)(j & 1), (unsigned char)(j >> 1 & 1),
                                                 (unsigned char)(j >> 2 & 1)};
                ms_result r;
                ms_rules_apply(p->cfg, &f, cand, &r);
                if (best_j < 0 || r.reward > best) {
                    best = r.reward;
                    best_j = j;
                }
            }
            for (int k = 0; k < MS_NAGENT; k++)
                a[k] = (unsigned char)(best_j >> k & 1);
        }
        for (int k = 0; k < MS_NAGENT; k++)
            pr[k] = a[k];
    }
    return MS_OK;
}

ms_policy ms_ref_policy_stage(ms_ref_policy *p)
{
    ms_policy st = {ref_act, p};
    return st;
}

static int tally_record(void *ctx, const ms_step *s, ms_err *e)
{
    (void)e;
    ms_tally *t = ctx;
    for (int i = 0; i < s->envs; i++) {
        const ms_result *r = &s->res[i];
        t->env_steps++;
        t->reward_sum += r->reward;
        t->reward_raw_sum += r->raw;
        int col = s->reject[i] ? MS_NOUTCOME : r->outcome;
        t->outcomes[s->msg[i].cls][col]++;
        t->rejected += s->reject[i] != 0;
        if (s->msg[i].backdoor) {
            t->backdoor_seen++;
            t->backdoor_delivered += r->outcome == MS_OUTCOME_DELIVERED || r->outcome == MS_OUTCOME_PREVIEWED;
        }
        for (int k = 0; k < MS_NRULE; k++)
            t->rule_hits[k] += (r->fired >> k) & 1;
    }
    return MS_OK;
}

ms_sink ms_tally_sink(ms_tally *t)
{
    ms_sink k = {tally_record, t};
    return k;
}

int ms_evaluate(ms_sim *sim, const ms_policy *policy, int episodes, const ms_sink *extra, int nextra,
                ms_tally *t, ms_err *e)
{
    enum { MAX_SINKS = 8 };
    ms_sink sinks[MAX_SINKS];
    if (nextra > MAX_SINKS - 1)
        return ms_fail(e, MS_EINPUT, "too many evaluation sinks");
    memset(t, 0, sizeof *t);
    sinks[0] = ms_tally_sink(t);
    for (int k = 0; k < nextra; k++)
        sinks[1 + k] = extra[k];
    int rc = ms_sim_reset(sim, e);
    int64_t steps = (int64_t)episodes * sim->cfg->episode_len;
    for (int64_t k = 0; k < steps && !rc; k++)
        rc = ms_sim_step(sim, policy, sinks, 1 + nextra, e);
    return rc;
}
