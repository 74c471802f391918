/* read.c — readers of a lake: the runs row, the promoted policy, the entry
 * hashes (contracts in verify.h). */
#include "ledger/verify.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/reader.h"

int lake_read_run(const char *path, lake_run_meta *m, ms_err *e)
{
    lk_reader R;
    lk_runs_row run;
    char tbl[32];
    memset(m, 0, sizeof *m);
    int rc = lk_reader_open(&R, path, tbl, e);
    if (rc)
        return rc;
    rc = lk_read_runs(&R, &run, e);
    lk_reader_close(&R);
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

/* After verification every row is the chain's: the incumbent is the
 * snapshot set of the last evaluation that promoted (or was the baseline). */
int lk_read_promoted(lk_reader *R, const char *const *agents, int nagents, lake_policy_blob *out, ms_err *e)
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
    sqlite3_stmt *st;
    if ((rc = lk_prep(R,
                      "SELECT params, sha256, snapshot_id, update_id FROM policy_snapshots WHERE eval_id = ?1 AND "
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

typedef struct policy_ctx {
    const char *const *agents;
    int nagents;
    lake_policy_blob *out;
} policy_ctx;

static int policy_then(lk_reader *R, void *ctx, ms_err *e)
{
    policy_ctx *c = ctx;
    return lk_read_promoted(R, c->agents, c->nagents, c->out, e);
}

static void policy_undo(void *ctx)
{
    policy_ctx *c = ctx;
    lake_policy_release(c->out, c->nagents);
}

int lake_read_policy(const char *path, const lake_verify_opts *opts, const char *const *agents, int nagents,
                     lake_policy_blob *out, lake_verify_report *rep, ms_err *e)
{
    memset(out, 0, sizeof *out * (size_t)nagents);
    policy_ctx c = {agents, nagents, out};
    return lk_verified(path, opts, rep, NULL, policy_then, policy_undo, &c, e);
}

int lake_read_entry_hashes(const char *path, const lake_verify_opts *opts, unsigned char (**hashes)[32],
                           lake_verify_report *rep, ms_err *e)
{
    return lk_verified(path, opts, rep, hashes, NULL, NULL, NULL, e);
}
