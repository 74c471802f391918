/* read.c — readers of a lake: the runs row, the promoted policy, the entry
 * hashes (contracts in verify.h). */
#include "ledger/verify.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/reader.h"

/* The runs row of an open reader into m (m owns a copy). */
static int read_meta(lk_reader *R, lake_run_meta *m, ms_err *e)
{
    lk_runs_row run;
    memset(m, 0, sizeof *m);
    int rc = lk_read_runs(R, &run, e);
    if (rc)
        return rc;
    const lk_value *v = run.v;
#define S(f, c) m->f = v[c].type == LK_TEXT ? (char *)v[c].p : NULL
    S(run_id, LKR_RUN_ID);
    S(name, LKR_NAME);
    S(config_text, LKR_CONFIG_TEXT);
    S(config_sha256, LKR_CONFIG_SHA256);
    S(version, LKR_VERSION);
    S(build_facts, LKR_BUILD_FACTS);
    S(key_ids, LKR_KEY_IDS);
    S(origin, LKR_ORIGIN);
    S(status, LKR_STATUS);
    S(genesis, LKR_GENESIS);
    S(head_hash, LKR_HEAD_HASH);
    S(row_counts, LKR_ROW_COUNTS);
    S(started_at, LKR_STARTED_AT);
    S(finished_at, LKR_FINISHED_AT);
#undef S
    m->seed = (uint64_t)v[LKR_SEED].i;
    m->dev_key = (int)v[LKR_DEV_KEY].i;
    m->ledger_rows = v[LKR_LEDGER_ROWS].i;
    m->env_steps = v[LKR_ENV_STEPS].i;
    m->has_eval = v[LKR_EVAL_REWARD].type == LK_REAL;
    m->eval_reward = m->has_eval ? v[LKR_EVAL_REWARD].r : 0.0;
    m->store_ = run.store;
    return MS_OK;
}

int lake_read_run(const char *path, lake_run_meta *m, ms_err *e)
{
    lk_reader R;
    char tbl[32];
    memset(m, 0, sizeof *m);
    int rc = lk_reader_open(&R, path, tbl, e);
    if (rc)
        return rc;
    rc = read_meta(&R, m, e);
    lk_reader_close(&R);
    return rc;
}

void lake_run_meta_release(lake_run_meta *m)
{
    if (!m)
        return;
    free(m->store_);
    memset(m, 0, sizeof *m);
}

void lake_policy_release(lake_policy_blob *p, int n)
{
    for (int i = 0; p && i < n; i++) {
        free(p[i].blob);
        memset(&p[i], 0, sizeof p[i]);
    }
}

/* The ledger entry (seq) that holds row `rowid` of table tbl, or 0. */
static int entry_of(lk_reader *R, const char *tbl, int64_t rowid, int64_t *seq, ms_err *e)
{
    sqlite3_stmt *st;
    int rc = lk_prep(R,
                     "SELECT seq FROM ledger WHERE tbl = ?1 AND first_rowid <= ?2 AND ?2 < first_rowid + n_rows "
                     "ORDER BY seq LIMIT 1",
                     &st, e);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, tbl, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, rowid);
    int s = sqlite3_step(st);
    *seq = s == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    rc = s == SQLITE_ROW || s == SQLITE_DONE ? MS_OK : lk_sqlerr(R, s, "ledger", e);
    sqlite3_finalize(st);
    return rc;
}

/* With a trusted key, the rows a reader acts on must be vouched for by a
 * signed checkpoint: their entries within the signed prefix (signed_size
 * entries; a negative size: no trusted key, nothing to require). */
static int require_signed(lk_reader *R, const char *tbl, int64_t rowid, int64_t signed_size, const char *what,
                          ms_err *e)
{
    if (signed_size < 0)
        return MS_OK;
    int64_t seq = 0;
    int rc = entry_of(R, tbl, rowid, &seq, e);
    if (rc)
        return rc;
    if (!seq || seq > signed_size)
        return ms_fail(e, MS_ECHECK,
                       "%s: %s (ledger entry %" PRId64 ") comes after the newest checkpoint the trusted key signed "
                       "(it covers %" PRId64 " entries): nothing vouches for it yet (a running or killed run; or a "
                       "forged tail)", R->path, what, seq, signed_size);
    return MS_OK;
}

/* After verification every row is the chain's: the incumbent is the
 * snapshot set of the last evaluation that promoted (or was the baseline).
 * signed_size >= 0: that evaluation and its snapshots must lie within the
 * signed prefix (require_signed). */
int lk_read_promoted(lk_reader *R, const char *const *agents, int nagents, int64_t signed_size,
                     lake_policy_blob *out, ms_err *e)
{
    int64_t eval_id = 0;
    int rc = lk_query_int(R,
                          "SELECT COALESCE(MAX(eval_id), 0) FROM evaluations WHERE decision IN ('baseline', "
                          "'promoted')",
                          &eval_id, e);
    if (rc)
        return rc;
    /* After verification a missing evaluation or snapshot is a purged one
     * (or one that never was): say which. */
    int64_t purged = 0;
    if ((rc = lk_query_int(R,
                           "SELECT COUNT(*) FROM tombstones WHERE tbl IN ('evaluations', 'policy_snapshots')",
                           &purged, e)))
        return rc;
    if (!eval_id && purged)
        return ms_fail(e, MS_EINPUT, "%s: its evaluations were purged (SELECT * FROM purges): it no longer says which "
                       "policy it promoted", R->path);
    if (!eval_id)
        return ms_fail(e, MS_EINPUT, "%s: no evaluation promoted a policy (the run stopped before its baseline)",
                       R->path);
    int64_t eval_rowid = 0;
    char q[128];
    snprintf(q, sizeof q, "SELECT MAX(rowid) FROM evaluations WHERE eval_id = %" PRId64, eval_id);
    if ((rc = lk_query_int(R, q, &eval_rowid, e)) ||
        (rc = require_signed(R, "evaluations", eval_rowid, signed_size, "the evaluation that promoted the policy", e)))
        return rc;
    sqlite3_stmt *st;
    if ((rc = lk_prep(R,
                      "SELECT params, sha256, snapshot_id, update_id, rowid FROM policy_snapshots WHERE eval_id = ?1 AND "
                      "agent = ?2 ORDER BY rowid",
                      &st, e)))
        return rc;
    for (int a = 0; a < nagents && !rc; a++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, eval_id);
        sqlite3_bind_text(st, 2, agents[a], -1, SQLITE_STATIC);
        int s = sqlite3_step(st);
        if (s == SQLITE_DONE && purged) {
            rc = ms_fail(e, MS_EINPUT, "%s: the snapshot of agent %s that evaluation %" PRId64 " promoted was purged "
                         "(SELECT * FROM purges): there is no policy to load", R->path, agents[a], eval_id);
            break;
        }
        if (s != SQLITE_ROW) {
            rc = s == SQLITE_DONE ? ms_fail(e, MS_ECHECK,
                                            "%s: evaluation %" PRId64 " promoted a policy but the chain records no "
                                            "snapshot of agent %s for it", R->path, eval_id, agents[a])
                                  : lk_sqlerr(R, s, "policy_snapshots", e);
            break;
        }
        if ((rc = require_signed(R, "policy_snapshots", sqlite3_column_int64(st, 4), signed_size,
                                 "the promoted snapshot", e)))
            break;
        lk_value p, h;
        if (lk_col_value(st, 0, &p) || lk_col_value(st, 1, &h) || p.type != LK_BLOB || h.type != LK_TEXT) {
            rc = ms_fail(e, MS_ECHECK, "%s: the snapshot of agent %s is malformed", R->path, agents[a]);
            break;
        }
        unsigned char d[LK_HASH_LEN];
        char hex[LK_HEX_LEN + 1];
        if ((rc = lk_sha256(&R->hd, p.p, p.n, d, e)))
            break;
        ms_hex(d, LK_HASH_LEN, hex);
        if (!lk_vtext_is(&h, hex)) {
            rc = ms_fail(e, MS_ECHECK, "%s: the snapshot of agent %s differs from its sha256", R->path, agents[a]);
            break;
        }
        out[a].snapshot_id = sqlite3_column_int64(st, 2);
        out[a].update_id = sqlite3_column_int64(st, 3);
        out[a].eval_id = eval_id;
        memcpy(out[a].sha256, hex, sizeof hex);
        out[a].blob = malloc(p.n ? p.n : 1);
        if (!out[a].blob) {
            rc = ms_fail(e, MS_EIO, "%s: out of memory (%zu bytes)", R->path, p.n);
            break;
        }
        if (p.n)
            memcpy(out[a].blob, p.p, p.n);
        out[a].n = p.n;
        if (sqlite3_step(st) == SQLITE_ROW)
            rc = ms_fail(e, MS_ECHECK, "%s: evaluation %" PRId64 " has more than one snapshot of agent %s", R->path,
                         eval_id, agents[a]);
    }
    sqlite3_finalize(st);
    if (rc)
        lake_policy_release(out, nagents);
    return rc;
}

/* One read snapshot: verify, then the runs row and the promoted policy, so
 * what is returned is what was verified (nothing can swap the file between
 * a verification and a read). */
typedef struct verified_ctx {
    const lake_verify_opts *opts;
    const lake_verify_report *rep;
    lake_run_meta *m;
    const char *const *agents;
    int nagents;
    lake_policy_blob *out;
} verified_ctx;

static int verified_then(lk_reader *R, void *ctx, ms_err *e)
{
    verified_ctx *c = ctx;
    int rc = MS_OK;
    if (c->m)
        rc = read_meta(R, c->m, e);
    int64_t signed_size = c->opts && c->opts->trusted ? c->rep->signed_size : -1;
    if (!rc && c->out && (rc = lk_read_promoted(R, c->agents, c->nagents, signed_size, c->out, e)) && c->m)
        lake_run_meta_release(c->m);
    return rc;
}

static void verified_undo(void *ctx)
{
    verified_ctx *c = ctx;
    if (c->out)
        lake_policy_release(c->out, c->nagents);
    if (c->m)
        lake_run_meta_release(c->m);
}

int lake_read_verified(const char *path, const lake_verify_opts *opts, lake_run_meta *m, const char *const *agents,
                       int nagents, lake_policy_blob *out, unsigned char (**hashes)[32], lake_verify_report *rep,
                       ms_err *e)
{
    lake_verify_report tmp;
    if (!rep)
        rep = &tmp;
    if (out)
        memset(out, 0, sizeof *out * (size_t)nagents);
    if (m)
        memset(m, 0, sizeof *m);
    verified_ctx c = {opts, rep, m, agents, nagents, out};
    return lk_verified(path, opts, rep, hashes, verified_then, verified_undo, &c, e);
}

int lake_read_policy(const char *path, const lake_verify_opts *opts, const char *const *agents, int nagents,
                     lake_policy_blob *out, lake_verify_report *rep, ms_err *e)
{
    return lake_read_verified(path, opts, NULL, agents, nagents, out, NULL, rep, e);
}

int lake_read_entry_hashes(const char *path, const lake_verify_opts *opts, unsigned char (**hashes)[32],
                           lake_verify_report *rep, ms_err *e)
{
    return lk_verified(path, opts, rep, hashes, NULL, NULL, NULL, e);
}
