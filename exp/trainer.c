#include "exp/trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>
#include <openssl/evp.h>

#include "base/clock.h"
#include "exp/comm.h"
#include "exp/defence.h"
#include "exp/surveil.h"
#include "ledger/verify.h"

struct trainer {
    const ms_config *cfg;
    recorder *rec;
    /* The run's processes (exp/comm.h): this one steps the config's
     * mailboxes first .. first + N - 1 (all of them with one process). */
    ms_comm *comm;
    int first;
    ppo_reduce reduce[MS_NAGENT]; /* the agents' (nn/ppo.h); used when size > 1 */
    int *reduce_mb;               /* [size] */
    int *reduce_n[MS_NAGENT];     /* [size] each */
    char (*sha_all)[MS_NAGENT][65]; /* [size]: every process's parameter hashes */
    ms_sim sim, eval_sim, report_sim; /* training, gate and report streams */
    ppo_agent agent[MS_NAGENT];
    ppo_hparams hp;
    ms_rng *policy_rng; /* [envs] */
    int T, N, greedy;   /* greedy: the policy stage acts greedily (evaluation) */

    /* Rollout, T x N rows, time-major (row = t * N + env). */
    int t;
    float *obs[MS_NAGENT];      /* rows x obs_dim */
    int *action[MS_NAGENT];
    float *logp[MS_NAGENT], *value[MS_NAGENT], *reward[MS_NAGENT];
    unsigned char *changed[MS_NAGENT];
    unsigned char *consumed[MS_NAGENT]; /* row was in a step the optimizer took */
    int64_t stop_at;                    /* trainer_stop_at (0: none) */
    unsigned char *valid, *episode_end;
    double *glob_reward, *glob_raw; /* rows */
    int64_t *row_step;              /* T: sim step index of each rollout row */
    /* update scratch */
    float *next_value, *adv, *ret, *boot;
    unsigned char *cut;
    /* each agent's batch (its samples compacted), all three held at once:
     * the agents update together (ppo_update_group) */
    int *index[MS_NAGENT];          /* sample -> row */
    float *c_obs[MS_NAGENT], *c_logp[MS_NAGENT], *c_adv[MS_NAGENT], *c_ret[MS_NAGENT];
    int *c_action[MS_NAGENT];
    unsigned char *c_changed[MS_NAGENT];
    credit_row *credit_rows;        /* rows x 3 */
    /* act scratch */
    double *u;
    int *act_i;
    float *act_logp, *act_prob, *act_value;

    /* gate */
    void *incumbent[MS_NAGENT];
    size_t state_size[MS_NAGENT];
    void *blob[MS_NAGENT];
    size_t blob_size[MS_NAGENT];
    double best_score;
    int64_t next_update_id, first_pending_update, eval_id, snapshot_id;
    int updates_since_gate;
    ppo_report reports[MS_NAGENT];
    char sha_before[MS_NAGENT][65], sha_after[MS_NAGENT][65];

    /* tests: sees every sample's rewards before the update (trainer.h) */
    void (*reward_hook)(void *ctx, int excluded, float *r_get, float *r_open, float *r_bin);
    void *reward_hook_ctx;
    void (*update_hook)(void *ctx, trainer *t, int64_t update_id);
    void *update_hook_ctx;
    /* the defence (NULL when [train] defence = off) and its step flags */
    defence *def;
    unsigned char *flag; /* [envs] detector id, 0 = none */
    double *flag_score;  /* [envs] */
    /* surveillance */
    int frozen[MS_NAGENT];
    int have_incumbent_stats;
    surv_measure inc; /* the incumbent's, on the gate episodes */

    trainer_status status;
    trainer_times times;
};

/* What a gate evaluation shows about each agent (surveillance). */
typedef struct gate_stats {
    int64_t n;
    double entropy[MS_NAGENT], p1[MS_NAGENT];
    int64_t nonfinite[MS_NAGENT];
    int64_t harm, harmful;   /* phishing and malware messages let through; seen */
    double harm_reward;      /* reward earned on those let through */
    double stop_reward;      /* reward earned on those stopped (quarantined or ignored) */
} gate_stats;

static int gate_stats_record(void *ctx, const ms_step *s, ms_err *e)
{
    (void)e;
    gate_stats *g = ctx;
    for (int i = 0; i < s->envs; i++) {
        g->n++;
        for (int a = 0; a < MS_NAGENT; a++) {
            double p = s->prob1[i * MS_NAGENT + a];
            if (!isfinite(p)) {
                g->nonfinite[a]++;
                continue;
            }
            g->p1[a] += p;
            if (p > 0 && p < 1)
                g->entropy[a] += -(p * log(p) + (1 - p) * log(1 - p));
        }
        const ms_result *r = &s->res[i];
        int cls = s->msg[i].cls;
        if (cls == MS_CLASS_PHISHING || cls == MS_CLASS_MALWARE) {
            int through = r->outcome == MS_OUTCOME_DELIVERED || r->outcome == MS_OUTCOME_PREVIEWED;
            g->harmful++;
            g->harm += through;
            *(through ? &g->harm_reward : &g->stop_reward) += r->reward;
        }
    }
    return MS_OK;
}

#define ALLOC(ptr, count) ((ptr) = calloc((size_t)(count), sizeof *(ptr)))

/* ---- policy stage: sampled (training) or greedy (evaluation) ---- */

static int trainer_act(void *ctx, ms_step *s, ms_err *e)
{
    (void)e;
    trainer *tr = ctx;
    double t0 = ms_now();
    int n = s->envs;
    for (int a = 0; a < MS_NAGENT; a++) {
        const double *u = NULL;
        if (!tr->greedy) {
            /* One uniform per mailbox per agent from that mailbox's stream,
             * drawn whether or not the broadcast was accepted, so the stream
             * position never depends on tampering or batch layout. */
            for (int i = 0; i < n; i++)
                tr->u[i] = ms_rng_uniform(&tr->policy_rng[i * MS_NAGENT + a]);
            u = tr->u;
        }
        ppo_act(&tr->agent[a], s->obs[a], n, u, tr->act_i, tr->act_logp, tr->act_prob, tr->act_value);
        for (int i = 0; i < n; i++) {
            s->act[i * MS_NAGENT + a] = (unsigned char)tr->act_i[i];
            s->prob1[i * MS_NAGENT + a] = tr->act_prob[i];
        }
        if (!tr->greedy) {
            size_t row = (size_t)tr->t * (size_t)n;
            int d = s->obs_dim[a];
            memcpy(tr->obs[a] + row * (size_t)d, s->obs[a], sizeof(float) * (size_t)n * (size_t)d);
            memcpy(tr->action[a] + row, tr->act_i, sizeof(int) * (size_t)n);
            memcpy(tr->logp[a] + row, tr->act_logp, sizeof(float) * (size_t)n);
            memcpy(tr->value[a] + row, tr->act_value, sizeof(float) * (size_t)n);
        }
    }
    if (!tr->greedy) /* greedy acting is part of the gate evaluation's time */
        tr->times.act += ms_now() - t0;
    return MS_OK;
}

/* ---- sink: the rollout buffer ---- */

static int trainer_record(void *ctx, const ms_step *s, ms_err *e)
{
    (void)e;
    trainer *tr = ctx;
    int n = s->envs;
    size_t row = (size_t)tr->t * (size_t)n;
    tr->row_step[tr->t] = s->step;
    for (int i = 0; i < n; i++) {
        size_t r = row + (size_t)i;
        for (int a = 0; a < MS_NAGENT; a++)
            tr->reward[a][r] = (float)s->credit[i * MS_NAGENT + a];
        /* The defence judges what a learner sees; a flagged sample, like a
         * rejected broadcast, never trains (valid = 0: excluded from the
         * batch, and its reward never reaches another sample's return). */
        int valid = s->reject[i] == 0;
        tr->flag[i] = 0;
        tr->flag_score[i] = 0;
        if (valid && tr->def) {
            int d = defence_judge(tr->def, s, i, &tr->flag_score[i]);
            if (d) {
                tr->flag[i] = (unsigned char)d;
                valid = 0;
            }
        }
        tr->valid[r] = (unsigned char)valid;
        if (tr->reward_hook)
            tr->reward_hook(tr->reward_hook_ctx, !valid, &tr->reward[0][r], &tr->reward[1][r], &tr->reward[2][r]);
        /* Scoring against the ground truth, for the report only. */
        tr->status.forged += s->forged[i];
        tr->status.flagged += tr->flag[i] != 0;
        tr->status.flagged_forged += tr->flag[i] != 0 && s->forged[i];
        tr->status.backdoor_samples += s->msg[i].backdoor;
        tr->episode_end[r] = s->episode_end[i];
        tr->glob_reward[r] = s->res[i].reward;
        tr->glob_raw[r] = s->res[i].raw;
        tr->status.rejected += s->reject[i] != 0;
        tr->status.poisoned += s->poison[i] != 0;
        tr->status.poisoned_rejected += s->poison[i] != 0 && s->reject[i] != 0;
    }
    tr->t++;
    return MS_OK;
}

/* ---- evaluation and gate ---- */

/* With several processes: every process's tally (and gate statistics, when
 * g is not NULL) summed in rank order, on every process (exp/comm.h). */
static int sum_evaluation(trainer *tr, ms_tally *t, gate_stats *g, ms_err *e)
{
    if (comm_size(tr->comm) == 1)
        return MS_OK;
    enum { NO = MS_NCLASS * MS_NOUTCOME_TALLY };
    int64_t x[1 + NO + 1 + MS_NRULE + 2 + 1 + MS_NAGENT + 2];
    double d[2 + 2 * MS_NAGENT + 2];
    size_t nx = 0, nd = 0;
    x[nx++] = t->env_steps;
    memcpy(x + nx, t->outcomes, sizeof t->outcomes);
    nx += NO;
    x[nx++] = t->rejected;
    memcpy(x + nx, t->rule_hits, sizeof t->rule_hits);
    nx += MS_NRULE;
    x[nx++] = t->backdoor_seen;
    x[nx++] = t->backdoor_delivered;
    d[nd++] = t->reward_sum;
    d[nd++] = t->reward_raw_sum;
    if (g) {
        x[nx++] = g->n;
        memcpy(x + nx, g->nonfinite, sizeof g->nonfinite);
        nx += MS_NAGENT;
        x[nx++] = g->harm;
        x[nx++] = g->harmful;
        memcpy(d + nd, g->entropy, sizeof g->entropy);
        nd += MS_NAGENT;
        memcpy(d + nd, g->p1, sizeof g->p1);
        nd += MS_NAGENT;
        d[nd++] = g->harm_reward;
        d[nd++] = g->stop_reward;
    }
    int rc = comm_sum_i64(tr->comm, x, nx, e);
    if (!rc)
        rc = comm_sum(tr->comm, NULL, 0, d, nd, e);
    if (rc)
        return rc;
    nx = nd = 0;
    t->env_steps = x[nx++];
    memcpy(t->outcomes, x + nx, sizeof t->outcomes);
    nx += NO;
    t->rejected = x[nx++];
    memcpy(t->rule_hits, x + nx, sizeof t->rule_hits);
    nx += MS_NRULE;
    t->backdoor_seen = x[nx++];
    t->backdoor_delivered = x[nx++];
    t->reward_sum = d[nd++];
    t->reward_raw_sum = d[nd++];
    if (g) {
        g->n = x[nx++];
        memcpy(g->nonfinite, x + nx, sizeof g->nonfinite);
        nx += MS_NAGENT;
        g->harm = x[nx++];
        g->harmful = x[nx++];
        memcpy(g->entropy, d + nd, sizeof g->entropy);
        nd += MS_NAGENT;
        memcpy(g->p1, d + nd, sizeof g->p1);
        nd += MS_NAGENT;
        g->harm_reward = d[nd++];
        g->stop_reward = d[nd++];
    }
    return MS_OK;
}

/* Greedy play of `episodes` episodes per mailbox of sim (gate or report). */
static int play(trainer *tr, ms_sim *sim, int episodes, ms_tally *tally, ms_err *e)
{
    double t0 = ms_now();
    ms_policy stage = {trainer_act, tr};
    tr->greedy = 1;
    int rc = ms_evaluate(sim, &stage, episodes, NULL, 0, tally, e);
    tr->greedy = 0;
    if (!rc)
        rc = sum_evaluation(tr, tally, NULL, e);
    tr->times.eval += ms_now() - t0;
    return rc;
}

static int evaluate(trainer *tr, double *score, gate_stats *g, ms_err *e)
{
    ms_tally tally;
    double t0 = ms_now();
    ms_policy stage = {trainer_act, tr};
    ms_sink extra = {gate_stats_record, g};
    memset(g, 0, sizeof *g);
    tr->greedy = 1;
    int rc = ms_evaluate(&tr->eval_sim, &stage, tr->cfg->eval_episodes, &extra, 1, &tally, e);
    tr->greedy = 0;
    if (!rc)
        rc = sum_evaluation(tr, &tally, g, e);
    tr->times.eval += ms_now() - t0;
    *score = tally.env_steps ? tally.reward_sum / (double)tally.env_steps : 0.0;
    for (int a = 0; a < MS_NAGENT && g->n; a++) {
        g->entropy[a] /= (double)g->n;
        g->p1[a] /= (double)g->n;
    }
    return rc;
}

static int params_finite(const ppo_agent *a)
{
    for (size_t k = 0; k < a->net.n_params; k++)
        if (!isfinite(a->net.params[k]))
            return 0;
    return 1;
}

/* The measure surveil.h judges, from a gate evaluation. */
static void measure(const trainer *tr, const gate_stats *g, double score, surv_measure *m)
{
    for (int a = 0; a < MS_NAGENT; a++) {
        m->entropy[a] = g->entropy[a];
        m->p1[a] = g->p1[a];
        m->nonfinite[a] = g->nonfinite[a];
        m->params_finite[a] = params_finite(&tr->agent[a]);
    }
    m->harm = g->harmful ? (double)g->harm / (double)g->harmful : 0;
    int64_t stopped = g->harmful - g->harm;
    m->harm_reward = g->harm ? g->harm_reward / (double)g->harm : NAN;
    m->stop_reward = stopped ? g->stop_reward / (double)stopped : NAN;
    m->score = score;
}

/* Surveillance (SPEC §7) of this gate's candidate: records every finding;
 * the agents to suspend come back as a bit set. */
static int surveil(trainer *tr, int64_t update_id, double score, const gate_stats *g, unsigned *suspend,
                   ms_err *e)
{
    surv_measure m;
    surv_finding f[SURV_MAX_FINDINGS];
    measure(tr, g, score, &m);
    int n = surv_findings(tr->cfg, &m, tr->have_incumbent_stats ? &tr->inc : NULL, tr->best_score, tr->frozen, f);
    *suspend = 0;
    for (int k = 0; k < n; k++) {
        if (f[k].suspend)
            *suspend |= 1u << f[k].agent;
        tr->status.surveillance_events++;
        tr->status.surveillance_by[f[k].detector]++;
        int rc = tr->rec ? recorder_surveillance(tr->rec, tr->eval_id, update_id, f[k].agent,
                                                 surv_detector_names[f[k].detector],
                                                 f[k].critical ? "critical" : "warning", f[k].value, f[k].threshold,
                                                 f[k].suspend ? "suspended" : "recorded", f[k].detail, e)
                         : MS_OK;
        if (rc)
            return rc;
    }
    return MS_OK;
}

static int snapshot_incumbent(trainer *tr, int64_t update_id, ms_err *e)
{
    for (int a = 0; a < MS_NAGENT; a++) {
        ppo_state_save(&tr->agent[a], tr->incumbent[a]);
        int rc = mlp_to_blob(&tr->agent[a].net, tr->blob[a], tr->blob_size[a], e);
        if (rc)
            return rc;
        char hex[65];
        if ((rc = trainer_params_hex(tr, a, hex, e)))
            return rc;
        /* The snapshot row's sha256 is of the blob it stores (verify
         * re-derives it); the parameter hash is in optimizer_steps. */
        if (tr->rec) {
            unsigned char md[32];
            if ((rc = ms_sha256(tr->blob[a], tr->blob_size[a], md, e)))
                return rc;
            ms_hex(md, 32, hex);
            rc = recorder_snapshot(tr->rec, ++tr->snapshot_id, tr->eval_id, update_id, a, hex, tr->blob[a],
                                   tr->blob_size[a], e);
            if (rc)
                return rc;
        }
    }
    return MS_OK;
}


static void keep_incumbent_stats(trainer *tr, const gate_stats *g, double score)
{
    if (!g->n)
        return;
    measure(tr, g, score, &tr->inc);
    tr->have_incumbent_stats = 1;
}

static int gate(trainer *tr, int64_t update_id, const char **decision, ms_err *e)
{
    double score;
    gate_stats g = {0};
    int rc = evaluate(tr, &score, &g, e);
    if (rc)
        return rc;
    const ms_config *c = tr->cfg;
    int64_t episodes = (int64_t)c->eval_episodes * c->envs;
    double best = tr->best_score;
    tr->eval_id++;
    tr->status.gates++;
    unsigned suspend = 0;
    if ((rc = surveil(tr, update_id, score, &g, &suspend, e)))
        return rc;
    /* A candidate with a critical finding is never promoted: every agent
     * goes back to the incumbent and the implicated ones stay frozen. */
    for (int a = 0; a < MS_NAGENT; a++)
        if (suspend & (1u << a)) {
            tr->frozen[a] = 1;
            tr->status.frozen |= 1u << a;
            tr->status.suspended++;
        }
    if (!suspend && score >= best - c->tolerance) {
        *decision = "promoted";
        if (tr->rec && (rc = recorder_evaluation(tr->rec, tr->eval_id, update_id, tr->status.env_steps, episodes,
                                                 score, &best, c->tolerance, *decision, -1, -1, e)))
            return rc;
        if (score > tr->best_score)
            tr->best_score = score;
        tr->status.eval_score = score;
        keep_incumbent_stats(tr, &g, score);
        rc = snapshot_incumbent(tr, update_id, e);
    } else {
        *decision = "rolled_back";
        if (tr->rec && (rc = recorder_evaluation(tr->rec, tr->eval_id, update_id, tr->status.env_steps, episodes,
                                                 score, &best, c->tolerance, *decision, tr->first_pending_update,
                                                 update_id, e)))
            return rc;
        for (int a = 0; a < MS_NAGENT && !rc; a++)
            rc = ppo_state_restore(&tr->agent[a], tr->incumbent[a], tr->state_size[a], e);
    }
    tr->status.last_decision = *decision;
    tr->updates_since_gate = 0;
    tr->first_pending_update = update_id + 1;
    return rc;
}

int trainer_params_hex(const trainer *t, int agent, char hex[65], ms_err *e)
{
    unsigned char md[32];
    int rc = mlp_params_sha256(&t->agent[agent].net, md, e);
    if (!rc)
        ms_hex(md, 32, hex);
    return rc;
}

/* ---- the update ---- */

/* Credit rows of the rollout's first `rows_t` steps; update_id < 0 = none. */
static int emit_credit(trainer *tr, int rows_t, int64_t update_id, ms_err *e)
{
    if (!tr->rec)
        return MS_OK;
    int N = tr->N, k = 0;
    for (int t = 0; t < rows_t; t++)
        for (int i = 0; i < N; i++) {
            size_t r = (size_t)t * (size_t)N + (size_t)i;
            for (int a = 0; a < MS_NAGENT; a++) {
                credit_row *cr = &tr->credit_rows[k++];
                cr->step = tr->row_step[t];
                cr->env = tr->first + i;
                cr->agent = a;
                cr->valid = tr->valid[r];
                cr->reward = tr->glob_reward[r];
                cr->reward_raw = tr->glob_raw[r];
                cr->credit = tr->reward[a][r];
                cr->update_id = update_id >= 0 && tr->consumed[a][r] ? update_id : -1;
                cr->policy_updated = update_id >= 0 && tr->changed[a][r] &&
                                     strcmp(tr->sha_before[a], tr->sha_after[a]) != 0;
            }
        }
    return recorder_credit(tr->rec, tr->credit_rows, k, e);
}

/* With several processes: every process must hold the parameters rank 0
 * holds after an update (the combined gradients make them identical; this
 * checks it, 3 x 65 bytes per process and update). */
static int check_same_params(trainer *tr, int64_t update_id, ms_err *e)
{
    int size = comm_size(tr->comm);
    if (size == 1)
        return MS_OK;
    char (*all)[MS_NAGENT][65] = tr->sha_all;
    int rc = comm_allgather(tr->comm, tr->sha_after, sizeof tr->sha_after, all, e);
    for (int r = 1; !rc && r < size; r++)
        if (memcmp(all[r], all[0], sizeof all[0]))
            rc = ms_fail(e, MS_EIO, "rank %d's parameters differ from rank 0's after update %lld (the ranks "
                         "diverged: a build or OpenBLAS core that differs between them?)", r, (long long)update_id);
    return rc;
}

static int update(trainer *tr, int final, ms_err *e)
{
    double t0 = ms_now();
    const ms_config *c = tr->cfg;
    int T = tr->T, N = tr->N, rc;
    size_t rows = (size_t)T * (size_t)N;
    int64_t update_id = ++tr->next_update_id;
    ms_step *s = &tr->sim.s;

    /* The next observations, valued by the parameters that made the rollout. */
    if ((rc = ms_sim_observe(&tr->sim, e)))
        return rc;
    double sum = 0;
    for (size_t r = 0; r < rows; r++)
        sum += tr->glob_reward[r];
    tr->status.recent_reward = sum / (double)rows;

    /* next_value per row (ppo_gae's contract), with two stand-ins:
     *  - at a time-limit end the mailbox has already been reset, so the
     *    bootstrap is V of the next episode's first observation, not of the
     *    (never generated) next message of the ended episode. Messages are
     *    drawn independently of the past; only the mailbox context features
     *    (time, compromise, quarantine rate, domain set) differ. It still
     *    bootstraps (a truncation is never treated as a termination);
     *  - when the next broadcast was rejected, its observation is not
     *    trusted: the row bootstraps from its own value and cuts the trace. */
    ppo_agent *group[MS_NAGENT];
    ppo_batch batch[MS_NAGENT];
    const ppo_batch *bp[MS_NAGENT];
    int n[MS_NAGENT];
    for (int a = 0; a < MS_NAGENT; a++) {
        ppo_agent *ag = &tr->agent[a];
        ppo_act(ag, s->obs[a], N, NULL, NULL, NULL, NULL, tr->boot);
        for (int t = 0; t < T; t++)
            for (int i = 0; i < N; i++) {
                size_t r = (size_t)t * (size_t)N + (size_t)i;
                float own = tr->value[a][r];
                int next_valid = t + 1 < T ? tr->valid[r + (size_t)N] : s->reject[i] == 0;
                float next = t + 1 < T ? tr->value[a][r + (size_t)N] : tr->boot[i];
                tr->next_value[r] = next_valid ? next : own;
                tr->cut[r] = (unsigned char)(tr->episode_end[r] || !next_valid || t + 1 == T);
            }
        ppo_gae(T, N, tr->reward[a], tr->value[a], tr->next_value, tr->cut, (float)c->gamma, (float)c->lambda,
                tr->adv, tr->ret);
        int d = s->obs_dim[a], k = 0;
        for (size_t r = 0; r < rows; r++) {
            if (!tr->valid[r])
                continue;
            tr->index[a][k] = (int)r;
            memcpy(tr->c_obs[a] + (size_t)k * (size_t)d, tr->obs[a] + r * (size_t)d, sizeof(float) * (size_t)d);
            tr->c_action[a][k] = tr->action[a][r];
            tr->c_logp[a][k] = tr->logp[a][r];
            tr->c_adv[a][k] = tr->adv[r];
            tr->c_ret[a][k] = tr->ret[r];
            k++;
        }
        n[a] = k;
        if ((rc = trainer_params_hex(tr, a, tr->sha_before[a], e)))
            return rc;
        /* A suspended agent is frozen: no optimizer step from now on (its
         * row says so: 0 samples, 0 steps, parameters unchanged). */
        batch[a] = (ppo_batch){tr->frozen[a] ? 0 : k, tr->c_obs[a], tr->c_action[a], tr->c_logp[a], tr->c_adv[a],
                               tr->c_ret[a]};
        bp[a] = &batch[a];
        group[a] = ag;
    }
    /* The three updates in lockstep: each agent ends as its own ppo_update
     * would leave it, and with several processes one sum per minibatch
     * carries all three gradients (nn/ppo.h). */
    if ((rc = ppo_update_group(group, bp, MS_NAGENT, &tr->hp, tr->reports, tr->c_changed, e)))
        return rc;
    for (int a = 0; a < MS_NAGENT; a++) {
        if ((rc = trainer_params_hex(tr, a, tr->sha_after[a], e)))
            return rc;
        memset(tr->changed[a], 0, rows);
        memset(tr->consumed[a], 0, rows);
        for (int k = 0; k < n[a]; k++) {
            tr->changed[a][tr->index[a][k]] = tr->c_changed[a][k];
            tr->consumed[a][tr->index[a][k]] = tr->agent[a].used[k];
        }
    }
    if (tr->update_hook)
        tr->update_hook(tr->update_hook_ctx, tr, update_id);
    if ((rc = check_same_params(tr, update_id, e)))
        return rc;
    tr->status.updates++;
    tr->updates_since_gate++;
    tr->times.update += ms_now() - t0;

    const char *decision = NULL;
    if (tr->updates_since_gate >= c->gate_every || final)
        if ((rc = gate(tr, update_id, &decision, e)))
            return rc;
    if (tr->rec) {
        for (int a = 0; a < MS_NAGENT; a++)
            if ((rc = recorder_optimizer(tr->rec, update_id, a, tr->status.env_steps, tr->sha_before[a],
                                         tr->sha_after[a], &tr->reports[a], decision, e)))
                return rc;
        if ((rc = emit_credit(tr, T, update_id, e)) || (rc = recorder_commit(tr->rec, tr->status.env_steps, e)))
            return rc;
    }
    tr->t = 0;
    return MS_OK;
}

/* ---- lifecycle ---- */

int trainer_init(trainer **out, const ms_config *c, recorder *rec, const ms_key_source *ks, ms_err *e)
{
    return trainer_init_comm(out, c, rec, ks, comm_single(), e);
}

static int sum_cb(void *ctx, float *const *f, const size_t *nf, int nseg, double *d, size_t nd, ms_err *e)
{
    return comm_sumv(ctx, f, nf, nseg, d, nd, e);
}

static int gather_n_cb(void *ctx, int mine, int *all, ms_err *e)
{
    return comm_allgather(ctx, &mine, sizeof mine, all, e);
}

/* The agents' ppo_reduce over the processes (only when there are several). */
static int init_reduce(trainer *tr, ms_err *e)
{
    int size = comm_size(tr->comm), first, count;
    if (size == 1)
        return MS_OK;
    if (!ALLOC(tr->reduce_mb, size) || !ALLOC(tr->sha_all, size))
        return ms_fail(e, MS_EIO, "out of memory");
    for (int r = 0; r < size; r++) {
        comm_share(tr->cfg->minibatch, r, size, &first, &count);
        tr->reduce_mb[r] = count;
    }
    /* one step's sum: every agent's gradient (floats, 8-byte aligned after)
     * and 6 loss terms each */
    size_t largest = 0;
    for (int a = 0; a < MS_NAGENT; a++) {
        if (!ALLOC(tr->reduce_n[a], size))
            return ms_fail(e, MS_EIO, "out of memory");
        tr->reduce[a] = (ppo_reduce){size, tr->reduce_mb, tr->reduce_n[a], gather_n_cb, sum_cb, tr->comm};
        tr->agent[a].reduce = &tr->reduce[a];
        largest += tr->agent[a].net.n_params * sizeof(float);
    }
    largest = ((largest + 7) & ~(size_t)7) + MS_NAGENT * 6 * sizeof(double);
    /* the largest message first: the hot path then allocates nothing */
    return comm_reserve(tr->comm, largest, e);
}

int trainer_init_comm(trainer **out, const ms_config *c, recorder *rec, const ms_key_source *ks, ms_comm *comm,
                      ms_err *e)
{
    *out = NULL;
    int size = comm_size(comm), rank = comm_rank(comm);
    if (size > MS_COMM_MAX_RANKS || c->envs < size || c->minibatch < size)
        return ms_fail(e, MS_EINPUT, "a run of %d processes needs [sim] envs and [train] minibatch of at least %d "
                       "(one mailbox and one sample of a minibatch per process; at most %d processes): they are "
                       "%d and %d", size, size, MS_COMM_MAX_RANKS, c->envs, c->minibatch);
    trainer *tr = calloc(1, sizeof *tr);
    if (!tr)
        return ms_fail(e, MS_EIO, "out of memory");
    tr->cfg = c;
    tr->rec = rec;
    tr->comm = comm;
    tr->T = c->rollout;
    comm_share(c->envs, rank, size, &tr->first, &tr->N);
    size_t rows = (size_t)tr->T * (size_t)tr->N;
    openblas_set_num_threads(c->blas_threads);

    int rc = ms_sim_init_range(&tr->sim, c, MS_STREAM_ENV, ks, tr->first, tr->N, e);
    if (!rc && (rc = ms_sim_init_range(&tr->eval_sim, c, MS_STREAM_GATE, NULL, tr->first, tr->N, e))) {
        ms_sim_release(&tr->sim);
        free(tr);
        return rc;
    }
    if (!rc && (rc = ms_sim_init_range(&tr->report_sim, c, MS_STREAM_REPORT, NULL, tr->first, tr->N, e))) {
        ms_sim_release(&tr->sim);
        ms_sim_release(&tr->eval_sim);
        free(tr);
        return rc;
    }
    if (rc) {
        free(tr);
        return rc;
    }
    int mb_first, mb_share;
    comm_share(c->minibatch, rank, size, &mb_first, &mb_share); /* this process's part of a minibatch */
    tr->hp = (ppo_hparams){(float)c->lr, (float)c->clip, (float)c->entropy, (float)c->value_coef,
                           (float)c->grad_clip, c->epochs, mb_share};
    for (int a = 0; a < MS_NAGENT && !rc; a++) {
        int d = tr->sim.s.obs_dim[a];
        ppo_shape shape = {d, c->hidden, c->n_hidden, c->activation == MS_ACT_RELU ? MLP_RELU : MLP_TANH,
                           (int)rows, c->minibatch, tr->N};
        rc = ppo_init(&tr->agent[a], &shape, c->seed, (uint32_t)a, e);
        if (!rc)
            rc = ppo_check_hparams(&tr->agent[a], &tr->hp, e);
    }
    if (rc) {
        trainer_free(tr);
        return rc;
    }
    int ok = ALLOC(tr->policy_rng, (size_t)tr->N * MS_NAGENT) && ALLOC(tr->valid, rows) &&
             ALLOC(tr->episode_end, rows) && ALLOC(tr->glob_reward, rows) &&
             ALLOC(tr->glob_raw, rows) && ALLOC(tr->row_step, tr->T) && ALLOC(tr->next_value, rows) &&
             ALLOC(tr->adv, rows) && ALLOC(tr->ret, rows) && ALLOC(tr->boot, tr->N) && ALLOC(tr->cut, rows) &&
             ALLOC(tr->credit_rows, rows * MS_NAGENT) && ALLOC(tr->u, tr->N) &&
             ALLOC(tr->act_i, tr->N) && ALLOC(tr->act_logp, tr->N) && ALLOC(tr->act_prob, tr->N) &&
             ALLOC(tr->act_value, tr->N);
    for (int a = 0; ok && a < MS_NAGENT; a++) {
        tr->state_size[a] = ppo_state_size(&tr->agent[a]);
        tr->blob_size[a] = mlp_blob_size(&tr->agent[a].net);
        ok = ALLOC(tr->obs[a], rows * (size_t)tr->sim.s.obs_dim[a]) && ALLOC(tr->action[a], rows) &&
             ALLOC(tr->logp[a], rows) && ALLOC(tr->value[a], rows) && ALLOC(tr->reward[a], rows) &&
             ALLOC(tr->changed[a], rows) && ALLOC(tr->consumed[a], rows) && ALLOC(tr->index[a], rows) &&
             ALLOC(tr->c_obs[a], rows * (size_t)tr->sim.s.obs_dim[a]) && ALLOC(tr->c_logp[a], rows) &&
             ALLOC(tr->c_adv[a], rows) && ALLOC(tr->c_ret[a], rows) && ALLOC(tr->c_action[a], rows) &&
             ALLOC(tr->c_changed[a], rows) && (tr->incumbent[a] = malloc(tr->state_size[a])) &&
             (tr->blob[a] = malloc(tr->blob_size[a]));
    }
    ok = ok && ALLOC(tr->flag, tr->N) && ALLOC(tr->flag_score, tr->N);
    if (ok && c->defence && (rc = defence_init(&tr->def, c, e))) {
        trainer_free(tr);
        return rc;
    }
    if (!ok) {
        trainer_free(tr);
        return ms_fail(e, MS_EIO, "out of memory for the trainer");
    }
    if ((rc = init_reduce(tr, e))) {
        trainer_free(tr);
        return rc;
    }
    if (rec)
        recorder_defence_flags(rec, tr->flag, tr->flag_score);
    /* One policy stream per (mailbox, agent), keyed by the config's mailbox
     * index. */
    for (int i = 0; i < tr->N; i++)
        for (int a = 0; a < MS_NAGENT; a++)
            if (ms_rng_seed(&tr->policy_rng[i * MS_NAGENT + a], c->seed, MS_STREAM_POLICY,
                            (uint64_t)(tr->first + i) * MS_NAGENT + (uint64_t)a)) {
                trainer_free(tr);
                return ms_fail(e, MS_EIO, "%s", MS_RNG_SEED_FAILED);
            }
    tr->status.total_env_steps = ms_config_run_steps(c);
    tr->status.last_decision = "none";
    *out = tr;
    return MS_OK;
}

void trainer_free(trainer *tr)
{
    if (!tr)
        return;
    for (int a = 0; a < MS_NAGENT; a++) {
        ppo_release(&tr->agent[a]);
        free(tr->obs[a]);
        free(tr->action[a]);
        free(tr->logp[a]);
        free(tr->value[a]);
        free(tr->reward[a]);
        free(tr->changed[a]);
        free(tr->consumed[a]);
        free(tr->incumbent[a]);
        free(tr->blob[a]);
        free(tr->index[a]);
        free(tr->c_obs[a]);
        free(tr->c_logp[a]);
        free(tr->c_adv[a]);
        free(tr->c_ret[a]);
        free(tr->c_action[a]);
        free(tr->c_changed[a]);
        free(tr->reduce_n[a]);
    }
    ms_sim_release(&tr->sim);
    ms_sim_release(&tr->eval_sim);
    ms_sim_release(&tr->report_sim);
    free(tr->policy_rng);
    free(tr->valid);
    free(tr->episode_end);
    free(tr->glob_reward);
    free(tr->glob_raw);
    free(tr->row_step);
    free(tr->next_value);
    free(tr->adv);
    free(tr->ret);
    free(tr->boot);
    free(tr->cut);
    free(tr->credit_rows);
    free(tr->u);
    free(tr->act_i);
    free(tr->act_logp);
    free(tr->act_prob);
    free(tr->act_value);
    free(tr->flag);
    free(tr->flag_score);
    free(tr->reduce_mb);
    free(tr->sha_all);
    defence_free(tr->def);
    free(tr);
}

static int run_loop(trainer *tr, volatile sig_atomic_t *stop, void (*progress)(const trainer_status *, void *),
                    void *progress_ctx, int *interrupted, ms_err *e)
{
    const ms_config *c = tr->cfg;
    *interrupted = 0;
    /* Baseline: the initial policy is the first incumbent. */
    double score;
    gate_stats g = {0};
    int rc = evaluate(tr, &score, &g, e);
    if (rc)
        return rc;
    keep_incumbent_stats(tr, &g, score);
    tr->best_score = score;
    tr->status.eval_score = score;
    tr->status.last_decision = "baseline";
    tr->eval_id = 1;
    tr->first_pending_update = 1;
    if (tr->rec && (rc = recorder_evaluation(tr->rec, 1, 0, 0, (int64_t)c->eval_episodes * c->envs, score, NULL,
                                             c->tolerance, "baseline", -1, -1, e)))
        return rc;
    if ((rc = snapshot_incumbent(tr, 0, e)))
        return rc;
    if (tr->rec && (rc = recorder_commit(tr->rec, tr->status.env_steps, e)))
        return rc;

    ms_policy stage = {trainer_act, tr};
    ms_sink sinks[2];
    int nsinks = 0;
    sinks[nsinks++] = (ms_sink){trainer_record, tr};
    if (tr->rec)
        sinks[nsinks++] = recorder_step_sink(tr->rec);
    int64_t total_steps = tr->status.total_env_steps / c->envs;
    for (int64_t k = 0; k < total_steps; k++) {
        double t0 = ms_now(), act0 = tr->times.act;
        if ((rc = ms_sim_step(&tr->sim, &stage, sinks, nsinks, e)))
            return rc;
        tr->times.env += ms_now() - t0 - (tr->times.act - act0);
        tr->status.env_steps += c->envs;
        if (tr->t == tr->T) {
            if ((rc = update(tr, k + 1 == total_steps, e)))
                return rc;
            if (progress)
                progress(&tr->status, progress_ctx);
        }
        /* An interruption takes effect at a rollout boundary, where the lake
         * has just committed: it adds nothing an uninterrupted run would not
         * have there, so the chain stays a prefix of the uninterrupted one
         * and a resumed run continues it exactly. */
        int stop_now = (stop && *stop) || (tr->stop_at > 0 && tr->status.env_steps >= tr->stop_at);
        /* Every process stops at the same boundary (a signal may reach
         * them at different moments). */
        if (tr->t == 0 && k + 1 < total_steps && comm_size(tr->comm) > 1 &&
            (rc = comm_max_int(tr->comm, &stop_now, e)))
            return rc;
        if (stop_now && tr->t == 0 && k + 1 < total_steps) {
            *interrupted = 1;
            break;
        }
    }
    return MS_OK;
}

/* With several processes: the run's counts of rejected, poisoned, forged
 * and flagged samples (each process counted its mailboxes'), on every
 * process. */
static int sum_counts(trainer *tr, ms_err *e)
{
    if (comm_size(tr->comm) == 1)
        return MS_OK;
    trainer_status *st = &tr->status;
    int64_t *f[] = {&st->rejected, &st->poisoned, &st->poisoned_rejected, &st->forged,
                    &st->flagged, &st->flagged_forged, &st->backdoor_samples};
    enum { NF = sizeof f / sizeof f[0] };
    int64_t x[NF];
    for (int k = 0; k < NF; k++)
        x[k] = *f[k];
    int rc = comm_sum_i64(tr->comm, x, NF, e);
    for (int k = 0; !rc && k < NF; k++)
        *f[k] = x[k];
    return rc;
}

int trainer_run(trainer *tr, volatile sig_atomic_t *stop, void (*progress)(const trainer_status *, void *),
                void *progress_ctx, int *interrupted, ms_err *e)
{
    int rc = run_loop(tr, stop, progress, progress_ctx, interrupted, e);
    if (!rc)
        rc = sum_counts(tr, e);
    /* After a failure or an interruption nothing more is appended: the lake
     * then holds exactly what an uninterrupted run holds at that point. */
    if (rc || *interrupted)
        return rc;
    /* The run's final figure: the policy it leaves (the last promoted: a
     * gate follows the last update) on the report episodes, which no
     * selection ever saw. */
    if ((rc = play(tr, &tr->report_sim, tr->cfg->report_episodes, &tr->status.report, e)))
        return rc;
    tr->status.report_score = tr->status.report.env_steps
                                  ? tr->status.report.reward_sum / (double)tr->status.report.env_steps
                                  : 0.0;
    tr->status.has_report = 1;
    if (!tr->rec)
        return MS_OK;
    if ((rc = recorder_flush(tr->rec, tr->sim.s.step - 1, e)))
        return rc;
    return recorder_commit(tr->rec, tr->status.env_steps, e);
}

void trainer_stop_at(trainer *t, int64_t env_steps) { t->stop_at = env_steps; }

void trainer_set_update_hook(trainer *t, void (*hook)(void *, trainer *, int64_t), void *ctx)
{
    t->update_hook = hook;
    t->update_hook_ctx = ctx;
}

float *trainer_params_mut(trainer *t, int agent, size_t *n)
{
    *n = t->agent[agent].net.n_params;
    return t->agent[agent].net.params;
}

void trainer_set_reward_hook(trainer *t, void (*hook)(void *, int, float *, float *, float *), void *ctx)
{
    t->reward_hook = hook;
    t->reward_hook_ctx = ctx;
}

const trainer_status *trainer_get_status(const trainer *t) { return &t->status; }
const trainer_times *trainer_get_times(const trainer *t) { return &t->times; }

/* ---- eval --policy RUN.db ---- */

typedef struct lake_policy {
    mlp net[MS_NAGENT];
    float *out;
    int *act;
    float *prob;
} lake_policy;

static int lake_policy_act(void *ctx, ms_step *s, ms_err *e)
{
    (void)e;
    lake_policy *p = ctx;
    for (int a = 0; a < MS_NAGENT; a++) {
        mlp_forward(&p->net[a], s->obs[a], s->envs, p->out);
        ppo_heads(p->out, s->envs, NULL, p->act, NULL, p->prob, NULL);
        for (int i = 0; i < s->envs; i++) {
            s->act[i * MS_NAGENT + a] = (unsigned char)p->act[i];
            s->prob1[i * MS_NAGENT + a] = p->prob[i];
        }
    }
    return MS_OK;
}

int train_eval_lake_policy(const ms_config *c, const char *db, const lake_verify_opts *vo, ms_tally *t,
                           lake_policy_blob info[MS_NAGENT], lake_verify_report *rep, ms_err *e)
{
    int rc = lake_read_policy(db, vo, ms_agent_names, MS_NAGENT, info, rep, e);
    if (rc)
        return rc;
    rc = train_eval_blobs(c, db, info, t, e);
    for (int a = 0; a < MS_NAGENT; a++) {
        free(info[a].blob); /* the identity (ids, sha256) stays for the caller */
        info[a].blob = NULL;
    }
    return rc;
}

int train_eval_blobs(const ms_config *c, const char *what, const lake_policy_blob info[MS_NAGENT], ms_tally *t,
                     ms_err *e)
{
    lake_policy p;
    memset(&p, 0, sizeof p);
    openblas_set_num_threads(c->blas_threads);
    int rc = MS_OK;
    int dims[MS_NAGENT];
    for (int a = 0; a < MS_NAGENT; a++)
        dims[a] = c->observe == MS_OBSERVE_ALL ? MS_OBS_MAX : ms_modality_dim[a];
    for (int a = 0; a < MS_NAGENT && !rc; a++) {
        rc = mlp_init_from_blob(&p.net[a], info[a].blob, info[a].n, c->envs, e);
        if (!rc && (mlp_in(&p.net[a]) != dims[a] || mlp_out(&p.net[a]) != PPO_OUT))
            rc = ms_fail(e, MS_EINPUT, "%s: the %s policy takes %d inputs, but this config's observations have %d "
                         "([agents] observe must match the run's)", what, ms_agent_names[a], mlp_in(&p.net[a]), dims[a]);
    }
    if (!rc && !(ALLOC(p.out, (size_t)c->envs * PPO_OUT) && ALLOC(p.act, c->envs) && ALLOC(p.prob, c->envs)))
        rc = ms_fail(e, MS_EIO, "out of memory");
    if (!rc) {
        ms_sim sim;
        rc = ms_sim_init(&sim, c, MS_STREAM_REPORT, NULL, e);
        if (!rc) {
            ms_policy stage = {lake_policy_act, &p};
            rc = ms_evaluate(&sim, &stage, c->report_episodes, NULL, 0, t, e);
            ms_sim_release(&sim);
        }
    }
    for (int a = 0; a < MS_NAGENT; a++)
        mlp_release(&p.net[a]);
    free(p.out);
    free(p.act);
    free(p.prob);
    return rc;
}
