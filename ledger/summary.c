/* summary.c — the figures of a verified lake (contract in summary.h). */
#include "ledger/summary.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/b64.h"
#include "ledger/reader.h"

/* ---- reading helpers ---------------------------------------------------- */

/* Column i as printable text (lk_safe_text); "" for NULL when null_empty. */
static void col_text(sqlite3_stmt *st, int i, char *out, size_t n, int null_empty)
{
    lk_value v;
    if (sqlite3_column_type(st, i) == SQLITE_NULL && null_empty) {
        out[0] = '\0';
        return;
    }
    if (sqlite3_column_type(st, i) != SQLITE_TEXT) {
        /* A number where text belongs (a hostile lake): its text form. */
        const unsigned char *t = sqlite3_column_text(st, i);
        v = lk_textn((const char *)t, t ? (size_t)sqlite3_column_bytes(st, i) : 0);
        if (!t)
            v = lk_null();
    } else if (lk_col_value(st, i, &v)) {
        v = lk_null();
    }
    lk_safe_text(out, n, &v);
}

static int col_has(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) != SQLITE_NULL;
}

/* One row of a list query into the list's next element. */
typedef void (*row_fn)(sqlite3_stmt *st, void *elem);

/* Runs sql and appends one element of size sz per row (at most
 * LS_ROWS_MAX) to *arr / *n; *total (may be NULL) counts every row. */
static int read_list(lk_reader *R, const char *sql, size_t sz, row_fn fn, void **arr, int *n, int64_t *total,
                     ms_err *e)
{
    sqlite3_stmt *st;
    int rc = lk_prep(R, sql, &st, e);
    if (rc)
        return rc;
    int cap = 0, s;
    int64_t all = 0;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        all++;
        if (*n >= LS_ROWS_MAX)
            continue;
        if (*n == cap) {
            int ncap = cap ? 2 * cap : 16;
            void *p = realloc(*arr, (size_t)ncap * sz);
            if (!p) {
                sqlite3_finalize(st);
                return ms_fail(e, MS_EIO, "%s: out of memory reading the lake", R->path);
            }
            *arr = p;
            cap = ncap;
        }
        char *elem = (char *)*arr + (size_t)*n * sz;
        memset(elem, 0, sz);
        fn(st, elem);
        (*n)++;
    }
    if (s != SQLITE_DONE)
        rc = lk_sqlerr(R, s, sql, e);
    sqlite3_finalize(st);
    if (total)
        *total = all;
    return rc;
}

static void row_gate(sqlite3_stmt *st, void *p)
{
    ls_gate *g = p;
    /* evaluations: eval_id, update_id, env_steps, candidate_score,
     * best_score, tolerance, decision, undone_first, undone_last */
    g->eval_id = sqlite3_column_int64(st, 0);
    g->has_update = col_has(st, 1);
    g->update_id = sqlite3_column_int64(st, 1);
    g->env_steps = sqlite3_column_int64(st, 2);
    g->candidate = sqlite3_column_double(st, 3);
    g->has_best = col_has(st, 4);
    g->best = sqlite3_column_double(st, 4);
    g->tolerance = sqlite3_column_double(st, 5);
    col_text(st, 6, g->decision, sizeof g->decision, 0);
    g->has_undone = col_has(st, 7) && col_has(st, 8);
    g->undone_first = sqlite3_column_int64(st, 7);
    g->undone_last = sqlite3_column_int64(st, 8);
}

static void row_surv(sqlite3_stmt *st, void *p)
{
    ls_surv *s = p;
    s->eval_id = sqlite3_column_int64(st, 0);
    s->update_id = sqlite3_column_int64(st, 1);
    col_text(st, 2, s->agent, sizeof s->agent, 0);
    col_text(st, 3, s->detector, sizeof s->detector, 0);
    col_text(st, 4, s->severity, sizeof s->severity, 0);
    s->has_value = col_has(st, 5);
    s->value = sqlite3_column_double(st, 5);
    s->has_threshold = col_has(st, 6);
    s->threshold = sqlite3_column_double(st, 6);
    col_text(st, 7, s->action, sizeof s->action, 0);
    col_text(st, 8, s->detail, sizeof s->detail, 1);
}

static void row_key(sqlite3_stmt *st, void *p)
{
    ls_key *k = p;
    col_text(st, 0, k->key_id, sizeof k->key_id, 0);
    col_text(st, 1, k->purpose, sizeof k->purpose, 0);
    col_text(st, 2, k->fingerprint, sizeof k->fingerprint, 0);
    k->has_first = col_has(st, 3);
    k->first_step = sqlite3_column_int64(st, 3);
    k->has_last = col_has(st, 4);
    k->last_step = sqlite3_column_int64(st, 4);
}

static void row_pair(sqlite3_stmt *st, void *p)
{
    ls_pair *b = p;
    col_text(st, 0, b->key, sizeof b->key, 0);
    col_text(st, 1, b->value, sizeof b->value, 0);
}

/* Checkpoint rows: the verifier tied each note's size and root to the
 * chain; here the note is parsed again only to show its root and signer. */
static void row_checkpoint(sqlite3_stmt *st, void *p)
{
    ls_checkpoint *c = p;
    c->cp_id = sqlite3_column_int64(st, 0);
    c->tree_size = sqlite3_column_int64(st, 1);
    col_text(st, 2, c->status, sizeof c->status, 1);
    const char *note = (const char *)sqlite3_column_text(st, 3);
    size_t nn = note ? (size_t)sqlite3_column_bytes(st, 3) : 0, tl;
    char name[MS_NOTE_NAME_MAX + 1];
    unsigned char id[4];
    ms_checkpoint cp;
    snprintf(c->root, sizeof c->root, "?");
    snprintf(c->signer, sizeof c->signer, "?");
    if (note && ms_note_parse(note, nn, &tl, name, id, NULL) == MS_OK) {
        snprintf(c->signer, sizeof c->signer, "%s+%02x%02x%02x%02x", name, id[0], id[1], id[2], id[3]);
        if (ms_checkpoint_parse(note, tl, &cp, NULL) == MS_OK)
            ms_b64_encode(cp.root, sizeof cp.root, c->root);
    }
}

/* ---- streamed GROUP BY -------------------------------------------------
 * The views' GROUP BY, DISTINCT and joins make SQLite sort through temporary
 * storage, which the read-only handle does not have (and which would grow
 * with the table: a behavioural table holds a row per step). So the groups
 * are summed here in one pass over the rows, in memory proportional to the
 * number of groups, and sorted as the views sort them. */

#define GROUPS_MAX 1024

typedef struct grp {
    char a[LS_TEXT], b[LS_TEXT];
    int64_t n, i[3];
    double d[2];
} grp;

typedef struct groups {
    grp *v;
    int n, cap;
} groups;

typedef void (*add_fn)(sqlite3_stmt *st, grp *g);

/* The group (a, b) of g, added when new (last: the previous row's group,
 * tried first), or, with e filled, MS_EINPUT (negative, as every ms_err
 * code) past GROUPS_MAX groups, naming what, or MS_EIO out of memory. */
static int group_of(lk_reader *R, const char *what, groups *g, int last, const char *a, const char *b, ms_err *e)
{
    int k = last >= 0 && !strcmp(g->v[last].a, a) && !strcmp(g->v[last].b, b) ? last : -1;
    for (int j = 0; k < 0 && j < g->n; j++)
        if (!strcmp(g->v[j].a, a) && !strcmp(g->v[j].b, b))
            k = j;
    if (k >= 0)
        return k;
    if (g->n == GROUPS_MAX) {
        return ms_fail(e, MS_EINPUT, "%s: %s: more than %d distinct groups (a lake this build wrote has a handful)",
                        R->path, what, GROUPS_MAX);
    }
    if (g->n == g->cap) {
        int ncap = g->cap ? 2 * g->cap : 16;
        grp *p = realloc(g->v, (size_t)ncap * sizeof *p);
        if (!p) {
            return ms_fail(e, MS_EIO, "%s: out of memory reading %s", R->path, what);
        }
        g->v = p;
        g->cap = ncap;
    }
    k = g->n++;
    memset(&g->v[k], 0, sizeof g->v[k]);
    snprintf(g->v[k].a, sizeof g->v[k].a, "%s", a);
    snprintf(g->v[k].b, sizeof g->v[k].b, "%s", b);
    return k;
}

/* Runs sql; the first nkeys (1 or 2) columns name the group, add() sums
 * the row into it. More than GROUPS_MAX groups: MS_EINPUT naming what. */
static int stream_groups(lk_reader *R, const char *sql, const char *what, int nkeys, add_fn add, groups *g,
                         ms_err *e)
{
    sqlite3_stmt *st;
    int rc = lk_prep(R, sql, &st, e), s;
    if (rc)
        return rc;
    char a[LS_TEXT], b[LS_TEXT] = "";
    int last = -1;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        col_text(st, 0, a, sizeof a, 0);
        if (nkeys > 1)
            col_text(st, 1, b, sizeof b, 0);
        int k = group_of(R, what, g, last, a, b, e);
        if (k < 0) {
            sqlite3_finalize(st);
            return k;
        }
        last = k;
        g->v[k].n++;
        if (add)
            add(st, &g->v[k]);
    }
    if (s != SQLITE_DONE)
        rc = lk_sqlerr(R, s, what, e);
    sqlite3_finalize(st);
    return rc;
}

/* v_credit_by_class: COUNT(*), AVG(credit) over non-NULL credits, AVG(reward). */
static void add_credit(sqlite3_stmt *st, grp *g)
{
    if (col_has(st, 2)) {
        g->i[0]++;
        g->d[0] += sqlite3_column_double(st, 2);
    }
    g->d[1] += sqlite3_column_double(st, 3);
}

/* behaviour_aggregates summed: samples, chose_1, effective_1, reward_sum, credit_sum. */
static void add_aggregate(sqlite3_stmt *st, grp *g)
{
    for (int k = 0; k < 3; k++)
        g->i[k] += sqlite3_column_int64(st, 2 + k);
    g->d[0] += sqlite3_column_double(st, 5);
    g->d[1] += sqlite3_column_double(st, 6);
}

static int by_keys(const void *x, const void *y)
{
    const grp *a = x, *b = y;
    int c = strcmp(a->a, b->a);
    return c ? c : strcmp(a->b, b->b);
}

/* ORDER BY n DESC, then the keys (v_rule_hits, v_anomalies_by_reason). */
static int by_count(const void *x, const void *y)
{
    const grp *a = x, *b = y;
    return a->n != b->n ? (a->n < b->n ? 1 : -1) : by_keys(x, y);
}

/* GET, OPEN, BIN, then others; benign, spam, phishing, malware, then others. */
static int rank(const char *s, const char *const *order, int n)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(s, order[i]))
            return i;
    return n;
}

static int by_agent_class(const void *x, const void *y)
{
    static const char *const agents[] = {"GET", "OPEN", "BIN"};
    static const char *const classes[] = {"benign", "spam", "phishing", "malware"};
    const grp *a = x, *b = y;
    int c = rank(a->a, agents, 3) - rank(b->a, agents, 3);
    if (!c)
        c = strcmp(a->a, b->a);
    if (!c)
        c = rank(a->b, classes, 4) - rank(b->b, classes, 4);
    return c ? c : strcmp(a->b, b->b);
}

/* qsort of a group list that may be empty (and then NULL). */
static void sort_groups(groups *g, int (*cmp)(const void *, const void *))
{
    if (g->n > 1)
        qsort(g->v, (size_t)g->n, sizeof *g->v, cmp);
}

static int to_counts(groups *g, int (*cmp)(const void *, const void *), ls_count **out, int *n)
{
    sort_groups(g, cmp);
    *out = calloc((size_t)g->n + 1, sizeof **out);
    if (!*out)
        return -1;
    for (int k = 0; k < g->n; k++) {
        memcpy((*out)[k].a, g->v[k].a, LS_TEXT);
        memcpy((*out)[k].b, g->v[k].b, LS_TEXT);
        (*out)[k].n = g->v[k].n;
    }
    *n = g->n;
    return 0;
}

static int read_groups(lk_reader *R, lake_summary *s, ms_err *e)
{
    groups go = {0}, gr = {0}, gc = {0}, ga = {0}, gn = {0};
    int rc = stream_groups(R, "SELECT class, outcome FROM v_joint_actions", "v_outcomes", 2, NULL, &go, e);
    if (!rc)
        rc = stream_groups(R, "SELECT r.value FROM joint_actions AS j, json_each(j.rules) AS r", "v_rule_hits", 1,
                           NULL, &gr, e);
    if (!rc)
        rc = stream_groups(R,
                           "SELECT d.agent, j.class, d.credit, d.reward FROM di_credit_assignment AS d JOIN "
                           "joint_actions AS j ON j.step = d.step AND j.env = d.env",
                           "v_credit_by_class", 2, add_credit, &gc, e);
    if (!rc)
        rc = stream_groups(R, "SELECT agent, class, samples, chose_1, effective_1, reward_sum, credit_sum FROM "
                           "behaviour_aggregates", "behaviour_aggregates", 2, add_aggregate, &ga, e);
    if (!rc)
        rc = stream_groups(R, "SELECT detector, reason FROM anomalies", "v_anomalies_by_reason", 2, NULL, &gn, e);
    if (!rc && (to_counts(&go, by_keys, &s->outcomes, &s->noutcomes) ||
                to_counts(&gr, by_count, &s->rules, &s->nrules) ||
                to_counts(&gn, by_count, &s->anomalies, &s->nanomalies)))
        rc = ms_fail(e, MS_EIO, "%s: out of memory", R->path);
    if (!rc) {
        sort_groups(&gc, by_keys);
        sort_groups(&ga, by_agent_class);
        s->credit = calloc((size_t)gc.n + 1, sizeof *s->credit);
        s->actions = calloc((size_t)ga.n + 1, sizeof *s->actions);
        if (!s->credit || !s->actions)
            rc = ms_fail(e, MS_EIO, "%s: out of memory", R->path);
    }
    for (int k = 0; !rc && k < gc.n; k++) {
        ls_credit *c = &s->credit[s->ncredit++];
        memcpy(c->agent, gc.v[k].a, LS_TEXT);
        memcpy(c->cls, gc.v[k].b, LS_TEXT);
        c->samples = gc.v[k].n;
        c->has_credit = gc.v[k].i[0] > 0;
        c->mean_credit = c->has_credit ? gc.v[k].d[0] / (double)gc.v[k].i[0] : 0.0;
        c->mean_reward = gc.v[k].d[1] / (double)gc.v[k].n;
    }
    for (int k = 0; !rc && k < ga.n; k++) {
        ls_action *a = &s->actions[s->nactions++];
        memcpy(a->agent, ga.v[k].a, LS_TEXT);
        memcpy(a->cls, ga.v[k].b, LS_TEXT);
        a->samples = ga.v[k].i[0];
        a->chose_1 = ga.v[k].i[1];
        a->effective_1 = ga.v[k].i[2];
        a->reward_sum = ga.v[k].d[0];
        a->credit_sum = ga.v[k].d[1];
    }
    free(go.v);
    free(gr.v);
    free(gc.v);
    free(ga.v);
    free(gn.v);
    return rc;
}

/* ---- poisoning ------------------------------------------------------------
 * Each figure one query; the joins on (step, env) use SQLite's automatic
 * indexes (in the reader's in-memory temp storage). */

static int read_poison(lk_reader *R, ls_poison *p, ms_err *e)
{
    static const char *const sql[7] = {
        "SELECT count(*) FROM poison_truth WHERE threat = 'transit'",
        "SELECT count(*) FROM (SELECT DISTINCT step, env FROM anomalies WHERE detector = 'broadcast_validator')",
        ("SELECT count(*) FROM (SELECT DISTINCT step, env FROM anomalies WHERE detector = 'broadcast_validator') d"
         " WHERE EXISTS (SELECT 1 FROM poison_truth t WHERE t.threat = 'transit' AND t.step = d.step"
         " AND t.env = d.env)"),
        "SELECT count(*) FROM poison_truth WHERE kind = 'forged_feedback'",
        "SELECT count(*) FROM poison_truth WHERE threat = 'source'",
        "SELECT count(*) FROM anomalies WHERE agent IS NULL",
        ("SELECT count(*) FROM anomalies a WHERE agent IS NULL AND EXISTS (SELECT 1 FROM poison_truth t"
         " WHERE t.kind = 'forged_feedback' AND t.step = a.step AND t.env = a.env)")};
    int64_t *out[7] = {&p->transit_injected, &p->transit_detected, &p->transit_caught, &p->source_injected,
                       &p->backdoor_messages, &p->flagged, &p->flagged_forged};
    int rc = MS_OK;
    for (int i = 0; !rc && i < 7; i++)
        rc = lk_query_int(R, sql[i], out[i], e);
    return rc;
}

/* ---- the runs row ------------------------------------------------------- */

static void safe_copy(char *out, size_t n, const lk_value *v, int null_empty)
{
    if (v->type == LK_NULL && null_empty)
        out[0] = '\0';
    else
        lk_safe_text(out, n, v);
}

static int read_run(lk_reader *R, lake_summary *s, ms_err *e)
{
    lk_runs_row run;
    int rc = lk_read_runs(R, &run, e);
    if (rc)
        return rc;
    const lk_value *v = run.v;
    safe_copy(s->run_id, sizeof s->run_id, &v[LKR_RUN_ID], 0);
    safe_copy(s->name, sizeof s->name, &v[LKR_NAME], 0);
    safe_copy(s->config_sha256, sizeof s->config_sha256, &v[LKR_CONFIG_SHA256], 0);
    safe_copy(s->version, sizeof s->version, &v[LKR_VERSION], 0);
    safe_copy(s->status, sizeof s->status, &v[LKR_STATUS], 0);
    safe_copy(s->origin, sizeof s->origin, &v[LKR_ORIGIN], 0);
    safe_copy(s->head_hash, sizeof s->head_hash, &v[LKR_HEAD_HASH], 0);
    safe_copy(s->key_ids, sizeof s->key_ids, &v[LKR_KEY_IDS], 0);
    safe_copy(s->started_at, sizeof s->started_at, &v[LKR_STARTED_AT], 1);
    safe_copy(s->finished_at, sizeof s->finished_at, &v[LKR_FINISHED_AT], 1);
    safe_copy(s->build_raw, sizeof s->build_raw, &v[LKR_BUILD_FACTS], 0);
    s->seed = (uint64_t)v[LKR_SEED].i;
    s->env_steps = v[LKR_ENV_STEPS].i;
    s->ledger_rows = v[LKR_LEDGER_ROWS].i;
    s->dev_key = (int)v[LKR_DEV_KEY].i;
    s->has_eval = v[LKR_EVAL_REWARD].type == LK_REAL;
    s->eval_reward = s->has_eval ? v[LKR_EVAL_REWARD].r : 0.0;
    const lk_value *ct = &v[LKR_CONFIG_TEXT];
    s->config_text = malloc(ct->n + 1);
    if (!s->config_text) {
        free(run.store);
        return ms_fail(e, MS_EIO, "%s: out of memory reading the config", R->path);
    }
    memcpy(s->config_text, ct->p, ct->n);
    s->config_text[ct->n] = '\0';
    free(run.store);
    return MS_OK;
}

/* ---- the whole summary -------------------------------------------------- */

#define LIST(sql, fn, arr, n, total) \
    read_list(R, sql, sizeof *(arr), fn, (void **)&(arr), &(n), total, e)

static int gather(lk_reader *R, void *ctx, ms_err *e)
{
    lake_summary *s = ctx;
    int rc = read_run(R, s, e);
    /* Build facts: a JSON object's members, read by SQLite's JSON parser. */
    if (!rc)
        rc = LIST("SELECT key, CASE WHEN type IN ('object', 'array') THEN json(value) ELSE value END"
                  " FROM runs, json_each(runs.build_facts)"
                  " WHERE json_valid(runs.build_facts) AND json_type(runs.build_facts) = 'object'",
                  row_pair, s->build, s->nbuild, NULL);
    if (!rc)
        rc = lk_query_int(R, "SELECT COALESCE(MAX(update_id), 0) FROM optimizer_steps", &s->updates, e);
    /* In append order (rowid: no sort), which is v_gate_decisions' eval_id order. */
    if (!rc)
        rc = LIST("SELECT eval_id, update_id, env_steps, candidate_score, best_score, tolerance, decision,"
                  " undone_first, undone_last FROM evaluations ORDER BY rowid",
                  row_gate, s->gates, s->ngates, &s->gates_total);
    if (!rc)
        rc = read_groups(R, s, e);
    if (!rc)
        rc = LIST("SELECT eval_id, update_id, agent, detector, severity, value, threshold, action, detail"
                  " FROM surveillance_events ORDER BY rowid",
                  row_surv, s->surv, s->nsurv, &s->surv_total);
    if (!rc)
        rc = LIST("SELECT key_id, purpose, fingerprint, first_step, last_step FROM hmac_keys ORDER BY rowid",
                  row_key, s->keys, s->nkeys, NULL);
    if (!rc)
        rc = LIST("SELECT cp_id, tree_size, status, note FROM checkpoints ORDER BY cp_id", row_checkpoint, s->cps,
                  s->ncps, &s->cps_total);
    if (!rc)
        rc = read_poison(R, &s->poison, e);
    if (rc)
        lake_summary_release(s);
    return rc;
}

static void undo(void *ctx)
{
    lake_summary_release(ctx);
}

int lake_summary_read(const char *path, const lake_verify_opts *opts, lake_summary *s, lake_verify_report *rep,
                      ms_err *e)
{
    memset(s, 0, sizeof *s);
    return lk_verified(path, opts, rep, NULL, gather, undo, s, e);
}

void lake_summary_release(lake_summary *s)
{
    if (!s)
        return;
    free(s->config_text);
    free(s->build);
    free(s->gates);
    free(s->outcomes);
    free(s->rules);
    free(s->anomalies);
    free(s->credit);
    free(s->actions);
    free(s->surv);
    free(s->keys);
    free(s->cps);
    memset(s, 0, sizeof *s);
}

/* Seconds since the epoch of a strict "YYYY-MM-DDTHH:MM:SSZ"; -1 if not. */
static int64_t utc_seconds(const char *t)
{
    int Y, M, D, h, m, sec, n = -1;
    if (strlen(t) != 20 || sscanf(t, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &Y, &M, &D, &h, &m, &sec, &n) != 6 || n != 20)
        return -1;
    if (Y < 1970 || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60 || h < 0 || m < 0 || sec < 0)
        return -1;
    struct tm tm = {.tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D, .tm_hour = h, .tm_min = m, .tm_sec = sec};
    time_t x = timegm(&tm);
    return x == (time_t)-1 ? -1 : (int64_t)x;
}

int lake_summary_wall_seconds(const lake_summary *s, int64_t *seconds)
{
    int64_t a = utc_seconds(s->started_at), b = utc_seconds(s->finished_at);
    if (a < 0 || b < a)
        return 0;
    *seconds = b - a;
    return 1;
}

const char *lake_verdict(const lake_verify_report *rep, int trusted)
{
    if (trusted && !rep->signed_size)
        return "UNSIGNED";
    if (!rep->complete)
        return "INCOMPLETE";
    return rep->authenticated ? "OK" : "UNAUTHENTICATED";
}
