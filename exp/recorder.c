#include "exp/recorder.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/clock.h"
#include "exp/defence.h"
#include "ledger/writer.h"

#define MAX_KEYS MS_MAX_KEY_GENERATIONS /* ms_config_finish bounds a run's generations */

/* The queue between the step loop and the lake's thread ([telemetry]
 * writer_threads = 1): bounded, allocated once. */
#define RECORDER_QUEUE_BYTES ((size_t)16 << 20)

struct recorder {
    lake *L;
    lake_writer *w;          /* every lake call goes through it, in order */
    double seconds;          /* CLOCK_MONOTONIC time spent recording... */
    double step_seconds;     /* ...of which inside the step loop's sink */
    const ms_config *c;
    int envs;
    lk_value *vals;          /* envs * 4 rows * LK_MAX_COLS */
    char *text;              /* envs * 3 observation JSON arrays */
    unsigned char *digests;  /* envs * 32 */
    char rules_json[1u << MS_NRULE][160];
    /* aggregates: [agent][class] over the current window */
    int64_t window_start;
    int window_open;
    int64_t agg_samples[MS_NAGENT][MS_NCLASS], agg_chose[MS_NAGENT][MS_NCLASS], agg_eff[MS_NAGENT][MS_NCLASS];
    double agg_reward[MS_NAGENT][MS_NCLASS], agg_credit[MS_NAGENT][MS_NCLASS];
    /* key generations seen, in order */
    int nkeys;
    char key_id[MAX_KEYS][MS_KEY_ID_MAX + 1];
    char key_fp[MAX_KEYS][33], bkey_fp[MAX_KEYS][33];
    int64_t key_first[MAX_KEYS], key_last[MAX_KEYS];
    int keys_written; /* generations whose hmac_keys rows are in the lake */
    const unsigned char *flag; /* [envs] the defence's flags of the step (exp/defence.h), or NULL */
    const double *flag_score;
    int64_t steps_taken; /* simulation steps recorded so far: the ledger label
                            of operational entries (behavioural ones carry
                            their own step) */
};

double recorder_seconds(const recorder *r) { return r ? r->seconds : 0.0; }
double recorder_step_seconds(const recorder *r) { return r ? r->step_seconds : 0.0; }

int recorder_init(recorder **out, lake *L, const ms_config *c, ms_err *e)
{
    *out = NULL;
    recorder *r = calloc(1, sizeof *r);
    if (!r)
        return ms_fail(e, MS_EIO, "out of memory");
    r->L = L;
    r->c = c;
    r->envs = c->envs;
    /* The largest append: one step's observations or credit (envs x 3
     * rows), or one aggregate window (3 agents x 4 classes). */
    size_t rows = (size_t)c->envs * (MS_NAGENT + 1); /* + a defence flag per mailbox */
    if (rows < MS_NAGENT * MS_NCLASS)
        rows = MS_NAGENT * MS_NCLASS;
    r->vals = calloc(rows * LK_MAX_COLS, sizeof *r->vals);
    r->text = malloc(rows * 256);
    r->digests = malloc((size_t)c->envs * 32);
    if (!r->vals || !r->text || !r->digests) {
        recorder_free(r);
        return ms_fail(e, MS_EIO, "out of memory for the recorder");
    }
    /* JSON arrays of fired rule names, one per subset of rules. */
    for (unsigned m = 0; m < (1u << MS_NRULE); m++) {
        char *p = r->rules_json[m];
        char *end = r->rules_json[m] + sizeof r->rules_json[m];
        p += snprintf(p, (size_t)(end - p), "[");
        for (int k = 0; k < MS_NRULE; k++)
            if (m & (1u << k))
                p += snprintf(p, (size_t)(end - p), "%s\"%s\"", p[-1] == '[' ? "" : ",", ms_rule_names[k]);
        snprintf(p, (size_t)(end - p), "]");
    }
    int rc = lakew_init(&r->w, L, c->writer_threads, RECORDER_QUEUE_BYTES, e);
    if (!rc)
        rc = lakew_begin(r->w, e);
    if (rc) {
        recorder_free(r);
        return rc;
    }
    *out = r;
    return MS_OK;
}

void recorder_free(recorder *r)
{
    if (!r)
        return;
    lakew_free(r->w);
    free(r->vals);
    free(r->text);
    free(r->digests);
    free(r);
}

static int keep_behaviour(const recorder *r, int64_t step)
{
    switch (r->c->level) {
    case MS_LEVEL_FULL: return 1;
    case MS_LEVEL_SAMPLED: return step % r->c->sample_every == 0;
    default: return 0;
    }
}

static int flush_window(recorder *r, ms_err *e)
{
    if (!r->window_open)
        return MS_OK;
    lk_value *v = r->vals;
    int n = 0;
    for (int a = 0; a < MS_NAGENT; a++)
        for (int k = 0; k < MS_NCLASS; k++) {
            if (!r->agg_samples[a][k])
                continue;
            *v++ = lk_int(r->window_start);
            *v++ = lk_int(r->c->sample_every);
            *v++ = lk_text(ms_agent_names[a]);
            *v++ = lk_text(ms_class_names[k]);
            *v++ = lk_int(r->agg_samples[a][k]);
            *v++ = lk_int(r->agg_chose[a][k]);
            *v++ = lk_int(r->agg_eff[a][k]);
            *v++ = lk_real(r->agg_reward[a][k]);
            *v++ = lk_real(r->agg_credit[a][k]);
            n++;
        }
    memset(r->agg_samples, 0, sizeof r->agg_samples);
    memset(r->agg_chose, 0, sizeof r->agg_chose);
    memset(r->agg_eff, 0, sizeof r->agg_eff);
    memset(r->agg_reward, 0, sizeof r->agg_reward);
    memset(r->agg_credit, 0, sizeof r->agg_credit);
    r->window_open = 0;
    return lakew_append(r->w, LKT_BEHAVIOUR_AGGREGATES, r->window_start, n, r->vals, e);
}

static int aggregate(recorder *r, const ms_step *s, ms_err *e)
{
    int every = r->c->sample_every;
    if (!r->window_open) {
        r->window_start = s->step - s->step % every;
        r->window_open = 1;
    }
    for (int i = 0; i < s->envs; i++) {
        int k = s->msg[i].cls;
        for (int a = 0; a < MS_NAGENT; a++) {
            r->agg_samples[a][k]++;
            r->agg_chose[a][k] += s->act[i * MS_NAGENT + a];
            r->agg_eff[a][k] += s->res[i].eff[a];
            r->agg_reward[a][k] += s->res[i].reward;
            r->agg_credit[a][k] += s->credit[i * MS_NAGENT + a];
        }
    }
    if (s->step % every == every - 1)
        return flush_window(r, e);
    return MS_OK;
}

/* Appends the hmac_keys rows of the generations not yet written, up to (not
 * including) generation `upto`; the open one (the last) ends at last_step.
 * (runs.key_ids names every generation the run uses from its start: it is
 * part of the identity entry.) */
static int write_keys(recorder *r, int upto, int64_t last_step, ms_err *e)
{
    int rc;
    for (int i = r->keys_written; i < upto; i++) {
        int64_t last = i + 1 < r->nkeys ? r->key_last[i] : last_step;
        lk_value v[2][5] = {
            {lk_text(r->key_id[i]), lk_text("pseudonym"), lk_text(r->key_fp[i]), lk_int(r->key_first[i]),
             lk_int(last)},
            {lk_text(r->key_id[i]), lk_text("broadcast"), lk_text(r->bkey_fp[i]), lk_int(r->key_first[i]),
             lk_int(last)}};
        if ((rc = lakew_append(r->w, LKT_HMAC_KEYS, r->key_first[i], 2, &v[0][0], e)))
            return rc;
        r->keys_written = i + 1;
    }
    return MS_OK;
}

/* Follows the key generations; a new one closes the previous one, whose
 * rows are written at once. */
static int track_key(recorder *r, const ms_keys *k, int64_t step, ms_err *e)
{
    if (r->nkeys && !strcmp(r->key_id[r->nkeys - 1], k->key_id)) {
        r->key_last[r->nkeys - 1] = step;
        return MS_OK;
    }
    assert(r->nkeys < MAX_KEYS && "ms_config_finish bounds the key generations");
    int i = r->nkeys++;
    snprintf(r->key_id[i], sizeof r->key_id[i], "%s", k->key_id);
    snprintf(r->key_fp[i], sizeof r->key_fp[i], "%s", k->fingerprint);
    unsigned char md[32];
    int rc = ms_sha256(k->broadcast_key, 32, md, e);
    if (rc)
        return rc;
    ms_hex(md, 16, r->bkey_fp[i]);
    r->key_first[i] = r->key_last[i] = step;
    return write_keys(r, i, step, e);
}

static int record_step_rows(recorder *r, const ms_step *s, ms_err *e);

static int record_step(void *ctx, const ms_step *s, ms_err *e)
{
    recorder *r = ctx;
    r->steps_taken = s->step + 1;
    double t0 = ms_now();
    int rc = record_step_rows(r, s, e);
    double dt = ms_now() - t0;
    r->seconds += dt;
    r->step_seconds += dt;
    return rc;
}

/* env columns hold the mailbox's index in the config (s->first + i: a
 * process of an MPI run steps a range of them). */
static int record_step_rows(recorder *r, const ms_step *s, ms_err *e)
{
    int n = s->envs, rc;
    int64_t step = s->step;
    if ((rc = track_key(r, s->keys, step, e)))
        return rc;

    /* Security data is always complete. */
    /* Ground truth of poisoning (for scoring detection; agents never see it). */
    lk_value *v = r->vals;
    int rows = 0;
    for (int i = 0; i < n; i++) {
        if (s->poison[i]) {
            *v++ = lk_int(step);
            *v++ = lk_int(s->first + i);
            *v++ = lk_text("transit");
            *v++ = lk_text(ms_poison_names[s->poison[i] - 1]);
            rows++;
        }
        if (s->msg[i].backdoor) {
            *v++ = lk_int(step);
            *v++ = lk_int(s->first + i);
            *v++ = lk_text("source");
            *v++ = lk_text(s->forged[i] ? "forged_feedback" : "backdoor");
            rows++;
        }
    }
    if ((rc = lakew_append(r->w, LKT_POISON_TRUTH, step, rows, r->vals, e)))
        return rc;
    v = r->vals;
    rows = 0;
    for (int i = 0; i < n; i++) {
        if (s->reject[i])
            for (int a = 0; a < MS_NAGENT; a++) {
                *v++ = lk_int(step);
                *v++ = lk_int(s->first + i);
                *v++ = lk_text(ms_agent_names[a]);
                *v++ = lk_text("broadcast_validator");
                *v++ = lk_text(ms_bcast_reason_names[s->reject[i]]);
                *v++ = lk_null();
                *v++ = lk_text("held: excluded from training");
                rows++;
            }
        if (r->flag && r->flag[i]) {
            *v++ = lk_int(step);
            *v++ = lk_int(s->first + i);
            *v++ = lk_null();
            *v++ = lk_text(defence_detector_names[r->flag[i]]);
            *v++ = lk_text("excluded_from_training");
            *v++ = lk_real(r->flag_score[i]);
            *v++ = lk_null();
            rows++;
        }
    }
    if ((rc = lakew_append(r->w, LKT_ANOMALIES, step, rows, r->vals, e)))
        return rc;

    if (r->c->level == MS_LEVEL_AGGREGATE)
        return aggregate(r, s, e);
    if (!keep_behaviour(r, step))
        return MS_OK;

    v = r->vals;
    for (int i = 0; i < n; i++) {
        const char *b = s->bcast + (size_t)i * MS_BCAST_MAX;
        unsigned char *md = r->digests + (size_t)i * 32;
        if ((rc = ms_sha256(b, (size_t)s->bcast_len[i], md, e)))
            return rc;
        *v++ = lk_int(step);
        *v++ = lk_int(s->first + i);
        *v++ = lk_textn(b, (size_t)s->bcast_len[i]);
        *v++ = lk_blob(md, 32);
    }
    if ((rc = lakew_append(r->w, LKT_ENVIRONMENT_STATES, step, n, r->vals, e)))
        return rc;

    /* Observations as the agents used them: the broadcast's decimals. Only
     * accepted broadcasts were observed. */
    v = r->vals;
    rows = 0;
    char *t = r->text;
    for (int i = 0; i < n; i++) {
        if (s->reject[i])
            continue;
        for (int a = 0; a < MS_NAGENT; a++) {
            const float *o = s->obs[a] + (size_t)i * (size_t)s->obs_dim[a];
            char *start = t;
            *t++ = '[';
            for (int j = 0; j < s->obs_dim[a]; j++) {
                if (j)
                    *t++ = ',';
                t = ms_put_micro(t, (int32_t)lrint((double)o[j] * MS_MICRO));
            }
            *t++ = ']';
            *v++ = lk_int(step);
            *v++ = lk_int(s->first + i);
            *v++ = lk_text(ms_agent_names[a]);
            *v++ = lk_int(1);
            *v++ = lk_textn(start, (size_t)(t - start));
            rows++;
        }
    }
    if ((rc = lakew_append(r->w, LKT_AGENT_OBSERVATIONS, step, rows, r->vals, e)))
        return rc;

    v = r->vals;
    for (int i = 0; i < n; i++) {
        const unsigned char *act = s->act + (size_t)i * MS_NAGENT;
        const float *p = s->prob1 + (size_t)i * MS_NAGENT;
        const ms_result *res = &s->res[i];
        *v++ = lk_int(step);
        *v++ = lk_int(s->first + i);
        *v++ = lk_text(ms_class_names[s->msg[i].cls]);
        for (int a = 0; a < MS_NAGENT; a++)
            *v++ = lk_int(act[a]);
        for (int a = 0; a < MS_NAGENT; a++)
            *v++ = lk_real(p[a]);
        for (int a = 0; a < MS_NAGENT; a++)
            *v++ = lk_int(res->eff[a]);
        *v++ = lk_text(ms_outcome_names[res->outcome]);
        *v++ = lk_text(r->rules_json[res->fired]);
        *v++ = lk_real(res->reward);
        *v++ = lk_real(res->raw);
    }
    return lakew_append(r->w, LKT_JOINT_ACTIONS, step, n, r->vals, e);
}

void recorder_defence_flags(recorder *r, const unsigned char *flag, const double *score)
{
    r->flag = flag;
    r->flag_score = score;
}

int recorder_surveillance(recorder *r, int64_t eval_id, int64_t update_id, int agent, const char *detector,
                          const char *severity, double value, double threshold, const char *action,
                          const char *detail, ms_err *e)
{
    lk_value v[9] = {lk_int(eval_id), lk_int(update_id), lk_text(ms_agent_names[agent]), lk_text(detector),
                     lk_text(severity), isfinite(value) ? lk_real(value) : lk_null(),
                     isfinite(threshold) ? lk_real(threshold) : lk_null(), lk_text(action),
                     detail ? lk_text(detail) : lk_null()};
    return lakew_append(r->w, LKT_SURVEILLANCE_EVENTS, r->steps_taken, 1, v, e);
}

ms_sink recorder_step_sink(recorder *r)
{
    ms_sink k = {record_step, r};
    return k;
}

static int credit_rows(recorder *r, const credit_row *rows, int n, ms_err *e);

int recorder_credit(recorder *r, const credit_row *rows, int n, ms_err *e)
{
    double t0 = ms_now();
    int rc = credit_rows(r, rows, n, e);
    r->seconds += ms_now() - t0;
    return rc;
}

static int credit_rows(recorder *r, const credit_row *rows, int n, ms_err *e)
{
    if (r->c->level == MS_LEVEL_AGGREGATE)
        return MS_OK;
    /* Rows arrive grouped by step; one ledger entry per step. */
    int k = 0;
    while (k < n) {
        int64_t step = rows[k].step;
        lk_value *v = r->vals;
        int m = 0;
        for (; k < n && rows[k].step == step; k++) {
            if (!keep_behaviour(r, step))
                continue;
            const credit_row *cr = &rows[k];
            *v++ = lk_int(step);
            *v++ = lk_int(cr->env);
            *v++ = lk_text(ms_agent_names[cr->agent]);
            *v++ = lk_text(ms_class_names[cr->cls]);
            *v++ = lk_real(cr->reward);
            *v++ = lk_real(cr->reward_raw);
            *v++ = lk_real(cr->credit);
            *v++ = lk_text(ms_credit_names[r->c->credit]);
            *v++ = lk_int(cr->valid);
            *v++ = cr->update_id >= 0 ? lk_int(cr->update_id) : lk_null();
            *v++ = lk_int(cr->policy_updated);
            m++;
        }
        int rc = lakew_append(r->w, LKT_DI_CREDIT_ASSIGNMENT, step, m, r->vals, e);
        if (rc)
            return rc;
    }
    return MS_OK;
}

/* Non-finite figures (a skipped step's loss) are stored as NULL: SQLite
 * cannot keep NaN, and the skip itself is counted in skipped_nonfinite. */
static lk_value finite_or_null(double x)
{
    return isfinite(x) ? lk_real(x) : lk_null();
}

int recorder_optimizer(recorder *r, int64_t update_id, int agent, int64_t env_steps, const char *sha_before,
                       const char *sha_after, const ppo_report *rep, const char *gate, ms_err *e)
{
    lk_value v[15] = {
        lk_int(update_id), lk_text(ms_agent_names[agent]), lk_int(env_steps), lk_text(sha_before), lk_text(sha_after),
        finite_or_null(rep->policy_loss), finite_or_null(rep->value_loss), finite_or_null(rep->entropy),
        finite_or_null(rep->approx_kl), finite_or_null(rep->clip_frac), finite_or_null(rep->grad_norm),
        lk_int(rep->samples_used), lk_int(rep->steps), lk_int(rep->skipped_nonfinite),
        gate ? lk_text(gate) : lk_null()};
    return lakew_append(r->w, LKT_OPTIMIZER_STEPS, r->steps_taken, 1, v, e);
}

int recorder_evaluation(recorder *r, int64_t eval_id, int64_t update_id, int64_t env_steps, int64_t episodes,
                        double candidate, const double *best_score, double tolerance, const char *decision,
                        int64_t undone_first, int64_t undone_last, ms_err *e)
{
    lk_value v[10] = {
        lk_int(eval_id), lk_int(update_id), lk_int(env_steps), lk_int(episodes), lk_real(candidate),
        best_score ? lk_real(*best_score) : lk_null(), lk_real(tolerance), lk_text(decision),
        undone_first >= 0 ? lk_int(undone_first) : lk_null(), undone_first >= 0 ? lk_int(undone_last) : lk_null()};
    return lakew_append(r->w, LKT_EVALUATIONS, r->steps_taken, 1, v, e);
}

int recorder_snapshot(recorder *r, int64_t snapshot_id, int64_t eval_id, int64_t update_id, int agent,
                      const char *sha_hex, const void *blob, size_t n, ms_err *e)
{
    lk_value v[6] = {lk_int(snapshot_id), lk_int(eval_id), lk_int(update_id), lk_text(ms_agent_names[agent]),
                     lk_text(sha_hex), lk_blob(blob, n)};
    return lakew_append(r->w, LKT_POLICY_SNAPSHOTS, r->steps_taken, 1, v, e);
}

int recorder_flush(recorder *r, int64_t last_step, ms_err *e)
{
    int rc = flush_window(r, e);
    if (rc)
        return rc;
    return write_keys(r, r->nkeys, last_step, e);
}

int recorder_commit(recorder *r, int64_t env_steps, ms_err *e)
{
    double t0 = ms_now();
    int rc = lakew_commit_next(r->w, env_steps, e);
    r->seconds += ms_now() - t0;
    return rc;
}

int recorder_sync(recorder *r, ms_err *e)
{
    return r ? lakew_sync(r->w, e) : MS_OK;
}

double recorder_writer_seconds(const recorder *r)
{
    return r ? lakew_seconds(r->w) : 0.0;
}
