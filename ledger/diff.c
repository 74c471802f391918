/* diff.c — comparing two lakes ledger entry by ledger entry (contract in
 * verify.h, lake_diff). */
#include "ledger/verify.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/reader.h"

/* ---- diff -------------------------------------------------------------- */

typedef struct diff_side {
    lk_reader R;
    lk_runs_row run;
    sqlite3_stmt *led;
    const char *name; /* "a" / "b" in messages */
    int64_t *purged;  /* seqs a tombstone names (rows purged), sorted */
    int64_t npurged;
} diff_side;

/* The seqs of the entries whose rows were purged (tombstones). */
static int load_purged(diff_side *s, ms_err *e)
{
    int64_t n = 0;
    int rc = lk_query_int(&s->R, "SELECT COUNT(*) FROM tombstones", &n, e);
    if (rc || !n)
        return rc;
    if (n > (1 << 26))
        return ms_fail(e, MS_ECHECK, "%s: too many tombstones", s->R.path);
    s->purged = malloc((size_t)n * sizeof *s->purged);
    if (!s->purged)
        return ms_fail(e, MS_EIO, "lake diff: out of memory");
    sqlite3_stmt *st;
    if ((rc = lk_prep(&s->R, "SELECT seq FROM tombstones ORDER BY seq", &st, e)))
        return rc;
    while (s->npurged < n && sqlite3_step(st) == SQLITE_ROW)
        s->purged[s->npurged++] = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return MS_OK;
}

static int is_purged(const diff_side *s, int64_t seq)
{
    int64_t lo = 0, hi = s->npurged;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (s->purged[mid] < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->npurged && s->purged[lo] == seq;
}

/* Next ledger entry of s: 1 = got one, 0 = end, <0 = error. *t is the
 * event table, or -1 - LK_RUNS_* for an entry over the runs row. c[5] is
 * the commitment (NULL for runs entries). */
static int next_entry(diff_side *s, lk_value c[6], int *t, ms_err *e)
{
    int st = sqlite3_step(s->led);
    if (st == SQLITE_DONE)
        return 0;
    if (st != SQLITE_ROW)
        return lk_sqlerr(&s->R, st, "ledger", e);
    for (int k = 0; k < 6; k++)
        if (lk_col_value(s->led, k, &c[k]))
            return ms_fail(e, MS_EIO, "%s: out of memory", s->R.path);
    if (c[0].type != LK_INT || c[1].type != LK_TEXT || c[2].type != LK_INT || c[3].type != LK_INT ||
        c[4].type != LK_INT || c[4].i < 1 || c[4].i > INT32_MAX)
        return ms_fail(e, MS_ECHECK, "%s: ledger entry %s is malformed", s->R.path,
                       c[0].type == LK_INT ? "(bad columns)" : "(bad seq)");
    int kind = lk_runs_entry_find(c[1].p, c[1].n);
    *t = kind >= 0 ? -1 - kind : lk_table_find(c[1].p, c[1].n);
    if (kind < 0 && *t < 0) {
        char tn[40];
        lk_safe_text(tn, sizeof tn, &c[1]);
        return ms_fail(e, MS_ECHECK, "%s: ledger seq %" PRId64 " names unknown table '%s'",
                       s->R.path, c[0].i, tn);
    }
    return 1;
}

/* The purges of a lake come after every entry of its run and are not part
 * of the run: called at s's first purge entry, counts it and the rest
 * (which must all be purge entries: verify enforces it). */
static int count_purges(diff_side *s, int64_t *n, ms_err *e)
{
    lk_value c[6];
    int t;
    *n = 1;
    for (;;) {
        int g = next_entry(s, c, &t, e);
        if (g <= 0)
            return g;
        if (!lk_table_is_purge(t))
            return ms_fail(e, MS_ECHECK, "%s: ledger seq %" PRId64 " follows the lake's purges", s->R.path, c[0].i);
        ++*n;
    }
}

static void diff_at_row(lake_diff_report *d, const lk_table *T, const lk_value *v,
                        int64_t entry_step)
{
    d->step = T->step_col >= 0 && v[T->step_col].type == LK_INT ? v[T->step_col].i : entry_step;
    d->env = T->env_col >= 0 && v[T->env_col].type == LK_INT ? v[T->env_col].i : -1;
    if (T->agent_col >= 0)
        lk_safe_text(d->agent, sizeof d->agent, &v[T->agent_col]);
}

/* Compares the covered rows of one entry; sets d when they differ. */
static int diff_rows(diff_side *A, diff_side *B, int t, int64_t seq, int64_t step, const lk_value *ca,
                     const lk_value *cb, lake_diff_report *d, ms_err *e)
{
    const lk_table *T = &lk_tables[t];
    sqlite3_stmt *sa, *sb;
    int rc;
    if ((rc = lk_rows_stmt(&A->R, t, &sa, e)) || (rc = lk_rows_stmt(&B->R, t, &sb, e)))
        return rc;
    sqlite3_reset(sa);
    sqlite3_reset(sb);
    sqlite3_bind_int64(sa, 1, ca[3].i);
    sqlite3_bind_int64(sa, 2, ca[3].i + ca[4].i - 1);
    sqlite3_bind_int64(sb, 1, cb[3].i);
    sqlite3_bind_int64(sb, 2, cb[3].i + cb[4].i - 1);
    lk_value va[LK_MAX_COLS], vb[LK_MAX_COLS];
    int64_t i = 0;
    for (;; i++) {
        int ra = sqlite3_step(sa), rb = sqlite3_step(sb);
        if (ra != SQLITE_ROW && ra != SQLITE_DONE)
            return lk_sqlerr(&A->R, ra, T->name, e);
        if (rb != SQLITE_ROW && rb != SQLITE_DONE)
            return lk_sqlerr(&B->R, rb, T->name, e);
        if (ra == SQLITE_ROW && sqlite3_column_int64(sa, 0) != ca[3].i + i)
            return ms_fail(e, MS_ECHECK, "%s: %s rowid %" PRId64 " (ledger seq %" PRId64 ") is missing",
                           A->R.path, T->name, ca[3].i + i, seq);
        if (rb == SQLITE_ROW && sqlite3_column_int64(sb, 0) != cb[3].i + i)
            return ms_fail(e, MS_ECHECK, "%s: %s rowid %" PRId64 " (ledger seq %" PRId64 ") is missing",
                           B->R.path, T->name, cb[3].i + i, seq);
        if (ra == SQLITE_DONE && i < ca[4].i)
            return ms_fail(e, MS_ECHECK, "%s: %s rowid %" PRId64 " (ledger seq %" PRId64 ") is missing",
                           A->R.path, T->name, ca[3].i + i, seq);
        if (rb == SQLITE_DONE && i < cb[4].i)
            return ms_fail(e, MS_ECHECK, "%s: %s rowid %" PRId64 " (ledger seq %" PRId64 ") is missing",
                           B->R.path, T->name, cb[3].i + i, seq);
        if (ra == SQLITE_DONE || rb == SQLITE_DONE)
            break;
        for (int c = 0; c < T->ncols; c++)
            if (lk_col_value(sa, c + 1, &va[c]) || lk_col_value(sb, c + 1, &vb[c]))
                return ms_fail(e, MS_EIO, "lake diff: out of memory");
        for (int c = 0; c < T->ncols; c++) {
            unsigned char xa[9], xb[9];
            size_t na = lk_value_size(&va[c]), nb = lk_value_size(&vb[c]);
            int same = na == nb;
            if (same && (va[c].type == LK_INT || va[c].type == LK_REAL || va[c].type == LK_NULL)) {
                lk_put_value(xa, &va[c]);
                lk_put_value(xb, &vb[c]);
                same = memcmp(xa, xb, na) == 0;
            } else if (same) {
                same = va[c].type == vb[c].type && (va[c].n == 0 || memcmp(va[c].p, vb[c].p, va[c].n) == 0);
            }
            if (!same) {
                char where[160];
                d->identical = 0;
                d->seq = seq;
                lk_copy_str(d->table, sizeof d->table, T->name);
                diff_at_row(d, T, va, step);
                lk_describe_row(where, sizeof where, T, va, ca[3].i + i);
                snprintf(d->what, sizeof d->what, "%s (ledger seq %" PRId64 "): column %s differs",
                         where, seq, T->cols[c].name);
                return MS_OK;
            }
        }
    }
    if (ca[4].i != cb[4].i) {
        d->identical = 0;
        d->seq = seq;
        lk_copy_str(d->table, sizeof d->table, T->name);
        d->step = step;
        snprintf(d->what, sizeof d->what,
                 "ledger seq %" PRId64 " (%s step %" PRId64 "): a has %" PRId64 " rows, b has %" PRId64,
                 seq, T->name, step, ca[4].i, cb[4].i);
    }
    return MS_OK;
}

int lake_diff(const char *a, const char *b, unsigned flags, lake_diff_report *d, ms_err *e)
{
    diff_side A, B;
    char tbl[32];
    int rc;
    memset(d, 0, sizeof *d);
    memset(&A, 0, sizeof A);
    memset(&B, 0, sizeof B);
    d->env = -1;
    d->step = -1;
    if ((rc = lk_reader_open(&A.R, a, tbl, e)))
        return rc;
    if ((rc = lk_reader_open(&B.R, b, tbl, e))) {
        lk_reader_close(&A.R);
        return rc;
    }
    if ((rc = lk_read_runs(&A.R, &A.run, e)) || (rc = lk_read_runs(&B.R, &B.run, e)))
        goto out;
    /* Genesis of each, recomputed. */
    unsigned char ga[LK_HASH_LEN], gb[LK_HASH_LEN];
    const lk_value *va = A.run.v, *vb = B.run.v;
    if ((rc = lk_genesis(&A.R.hd, va[LKR_RUN_ID].p, va[LKR_RUN_ID].n, va[LKR_CONFIG_TEXT].p,
                         va[LKR_CONFIG_TEXT].n, (uint64_t)va[LKR_SEED].i, ga, e)) ||
        (rc = lk_genesis(&B.R.hd, vb[LKR_RUN_ID].p, vb[LKR_RUN_ID].n, vb[LKR_CONFIG_TEXT].p,
                         vb[LKR_CONFIG_TEXT].n, (uint64_t)vb[LKR_SEED].i, gb, e)))
        goto out;
    d->same_genesis = memcmp(ga, gb, LK_HASH_LEN) == 0;

    static const char q[] = "SELECT seq, tbl, step, first_rowid, n_rows, commitment FROM ledger ORDER BY seq";
    if ((rc = lk_prep(&A.R, q, &A.led, e)) || (rc = lk_prep(&B.R, q, &B.led, e)) || (rc = load_purged(&A, e)) ||
        (rc = load_purged(&B, e)))
        goto out;
    d->identical = 1;
    for (int64_t seq = 1;; seq++) {
        lk_value ca[6], cb[6];
        int ta = -1, tb = -1;
        int ga_ = next_entry(&A, ca, &ta, e);
        if (ga_ < 0) {
            rc = ga_;
            goto out;
        }
        if (ga_ && lk_table_is_purge(ta)) { /* a's run ended; its purges are not compared */
            if ((rc = count_purges(&A, &d->purge_entries_a, e)))
                goto out;
            ga_ = 0;
        }
        int gb_ = next_entry(&B, cb, &tb, e);
        if (gb_ < 0) {
            rc = gb_;
            goto out;
        }
        if (gb_ && lk_table_is_purge(tb)) {
            if ((rc = count_purges(&B, &d->purge_entries_b, e)))
                goto out;
            gb_ = 0;
        }
        if (ga_)
            d->entries_a = seq;
        if (gb_)
            d->entries_b = seq;
        if (!ga_ || !gb_) {
            if (!ga_ && gb_ && (flags & LAKE_DIFF_PREFIX)) {
                d->prefix = 1;
                int64_t more = seq;
                lk_value cx[6];
                int tx, g;
                while ((g = next_entry(&B, cx, &tx, e)) == 1 && !lk_table_is_purge(tx) && more < INT64_MAX)
                    more++;
                if (g < 0) {
                    rc = g;
                    goto out;
                }
                d->entries_b = more;
            } else if (ga_ != gb_) {
                /* One ledger is longer: count the rest of it. */
                diff_side *L = ga_ ? &A : &B;
                const lk_value *c = ga_ ? ca : cb;
                int t = ga_ ? ta : tb;
                d->identical = 0;
                d->seq = seq;
                lk_copy_str(d->table, sizeof d->table, t >= 0 ? lk_tables[t].name : lk_runs_entries[-1 - t].tbl);
                d->step = c[2].i;
                int64_t more = seq;
                lk_value cx[6];
                int tx, g;
                while ((g = next_entry(L, cx, &tx, e)) == 1 && !lk_table_is_purge(tx) && more < INT64_MAX)
                    more++;
                if (g < 0) {
                    rc = g;
                    goto out;
                }
                *(ga_ ? &d->entries_a : &d->entries_b) = more;
                snprintf(d->what, sizeof d->what,
                         "entry-count difference: a has %" PRId64 " ledger entries, b has %" PRId64
                         " (first extra: seq %" PRId64 ", %s step %" PRId64 ")",
                         d->entries_a, d->entries_b, seq, d->table, d->step);
            }
            break;
        }
        if (ca[0].i != seq || cb[0].i != seq) {
            rc = ms_fail(e, MS_ECHECK, "%s: ledger seq %" PRId64 " is missing",
                         (ca[0].i != seq ? A.R.path : B.R.path), seq);
            goto out;
        }
        if (ta != tb) {
            char na[40], nb[40];
            lk_safe_text(na, sizeof na, &ca[1]);
            lk_safe_text(nb, sizeof nb, &cb[1]);
            d->identical = 0;
            d->seq = seq;
            lk_copy_str(d->table, sizeof d->table, na);
            d->step = ca[2].i;
            snprintf(d->what, sizeof d->what,
                     "ledger seq %" PRId64 ": a appended %s step %" PRId64 " (%" PRId64
                     " rows), b appended %s step %" PRId64 " (%" PRId64 " rows)",
                     seq, na, ca[2].i, ca[4].i, nb, cb[2].i, cb[4].i);
            break;
        }
        if (ta < 0) { /* both over the runs row: compare the covered columns */
            int kind = -1 - ta;
            const lk_runs_entry *RE = &lk_runs_entries[kind];
            for (int k = 0; k < RE->ncols; k++) {
                int col = RE->cols[k];
                const lk_value *x = &va[col], *y = &vb[col];
                unsigned char bx[9], by[9];
                int same = x->type == y->type;
                if (same && (x->type == LK_TEXT || x->type == LK_BLOB))
                    same = x->n == y->n && (!x->n || memcmp(x->p, y->p, x->n) == 0);
                else if (same) {
                    lk_put_value(bx, x);
                    lk_put_value(by, y);
                    same = memcmp(bx, by, lk_value_size(x)) == 0;
                }
                if (same)
                    continue;
                if (col == LKR_VERSION || col == LKR_BUILD_FACTS) {
                    /* the build, not the run: reported, not divergence */
                    char xs[80], ys[80];
                    lk_safe_text(xs, sizeof xs, x);
                    lk_safe_text(ys, sizeof ys, y);
                    if (!d->build_differs)
                        snprintf(d->build_what, sizeof d->build_what, "%s differs: %s%.80s vs %.80s",
                                 lk_runs_columns[col].name, col == LKR_VERSION ? "marlsim " : "", xs, ys);
                    d->build_differs = 1;
                    continue;
                }
                d->identical = 0;
                d->seq = seq;
                lk_copy_str(d->table, sizeof d->table, RE->tbl);
                d->step = ca[2].i;
                snprintf(d->what, sizeof d->what, "ledger seq %" PRId64 " (%s): column %s differs", seq, RE->tbl,
                         lk_runs_columns[col].name);
                break;
            }
        } else if (is_purged(&A, seq) || is_purged(&B, seq)) {
            /* Rows purged: the same header and commitment are the same rows
             * (with the same salt: the same keyring and run). */
            int pa = is_purged(&A, seq);
            d->purged_a += pa;
            d->purged_b += is_purged(&B, seq);
            if (ca[3].i != cb[3].i || ca[4].i != cb[4].i || ca[5].type != LK_BLOB || cb[5].type != LK_BLOB ||
                ca[5].n != LK_HASH_LEN || cb[5].n != LK_HASH_LEN || memcmp(ca[5].p, cb[5].p, LK_HASH_LEN) != 0) {
                d->identical = 0;
                d->seq = seq;
                lk_copy_str(d->table, sizeof d->table, lk_tables[ta].name);
                d->step = ca[2].i;
                snprintf(d->what, sizeof d->what,
                         "ledger seq %" PRId64 " (%s step %" PRId64 "): the rows %s purged; their commitment differs "
                         "from the other lake's (compared by commitment only)", seq, lk_tables[ta].name, ca[2].i,
                         pa ? "a" : "b");
            }
        } else if ((rc = diff_rows(&A, &B, ta, seq, ca[2].i, ca, cb, d, e))) {
            goto out;
        }
        if (!d->identical)
            break;
        if (ca[2].i != cb[2].i) {
            d->identical = 0;
            d->seq = seq;
            const char *tn = ta >= 0 ? lk_tables[ta].name : lk_runs_entries[-1 - ta].tbl;
            lk_copy_str(d->table, sizeof d->table, tn);
            d->step = ca[2].i;
            snprintf(d->what, sizeof d->what,
                     "ledger seq %" PRId64 " (%s): entry step %" PRId64 " in a, %" PRId64 " in b", seq,
                     tn, ca[2].i, cb[2].i);
            break;
        }
    }
    rc = MS_OK;
out:
    sqlite3_finalize(A.led);
    sqlite3_finalize(B.led);
    free(A.run.store);
    free(B.run.store);
    free(A.purged);
    free(B.purged);
    lk_reader_close(&A.R);
    lk_reader_close(&B.R);
    return rc;
}

