/* verify.c — lake verification (contract in verify.h). */
#include "ledger/verify.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/b64.h"
#include "ledger/merkle.h"
#include "ledger/reader.h"
#include "ledger/rovfs.h"

/* Hash the row buffer once it holds this much. */
#define FLUSH_BYTES (256u * 1024u)
/* Bound on checkpoint rows read from a hostile file (a checkpoint every
 * entry of a billion-entry lake would exceed it; marlsim writes one per
 * checkpoint_every entries). */
#define MAX_CHECKPOINTS (1 << 22)
/* Bound on tombstones and purges rows read into memory (at most one
 * tombstone per ledger entry). */
#define MAX_TOMBSTONES (1 << 26)
#define MAX_PURGES (1 << 20)

/* A tombstones row, as read (hostile until matched with the chain). */
typedef struct tomb_info {
    int64_t rowid, purge_id, seq, step, first, n;
    int t;                            /* its table */
    unsigned char commit[LK_HASH_LEN];
    int used;                         /* matched a ledger entry */
} tomb_info;

typedef struct cp_info {
    int64_t size;
    unsigned char root[LK_HASH_LEN];
    char status[16];  /* "" periodic */
} cp_info;

typedef struct walk_state {
    int64_t entries;
    int64_t covered[LKT_COUNT];
    int64_t salted;           /* salted entries whose salt is present */
    unsigned char head[LK_HASH_LEN];
    int sealed;
    ms_merkle_acc tree;
    /* roots wanted at tree sizes, in increasing order */
    const cp_info *want;
    int64_t nwant, next;
    int64_t ext_size;         /* the external checkpoint's size (-1 none) */
    unsigned char ext_root[LK_HASH_LEN];
    int ext_match;            /* 1 once the lake's root at ext_size matched */
    unsigned char (*hashes)[LK_HASH_LEN];
    int64_t hcap;
    /* purges */
    tomb_info *tomb;          /* every tombstones row, sorted by seq */
    int64_t ntomb;
    int64_t purged[LKT_COUNT];/* rows whose entries a tombstone names */
    int64_t purged_entries;
    int in_purges;            /* a purge entry was walked: only purge entries follow */
    int64_t purge_entries;    /* entries of purges (tombstones, purges) */
    int prev_tombstones;      /* the previous entry was a tombstones entry */
    int last_opt_purged;      /* the last optimizer_steps entry's rows were purged */
    int64_t last_opt_step;    /* the last optimizer_steps entry's step label (chained) */
    int xcls;                 /* runs.exported_class (-1: not an export) */
} walk_state;

/* The decimal number at p[0..n) (its leading digits, at most 9), or 0. */
static int64_t leading_int(const char *p, size_t n)
{
    int64_t v = 0;
    for (size_t k = 0; k < n && k < 9 && p[k] >= '0' && p[k] <= '9'; k++)
        v = v * 10 + (p[k] - '0');
    return v;
}

/* N of a shard's build facts (chained by the runs.build entry), which end
 * with ,"ranks":N (exp/experiment.c); 0 for a lake of one process. */
static int shard_ranks(const lk_value *facts)
{
    if (facts->type != LK_TEXT)
        return 0;
    const char *p = facts->p, *f = memmem(p, facts->n, "\"ranks\":", 8);
    int64_t n = f ? leading_int(f + 8, facts->n - (size_t)(f + 8 - p)) : 0;
    return n > 1 ? (int)n : 0;
}

static int fail_at(lake_verify_report *rep, const char *table, int64_t seq, ms_err *e, int status,
                   const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int fail_at(lake_verify_report *rep, const char *table, int64_t seq, ms_err *e, int status,
                   const char *fmt, ...)
{
    lk_copy_str(rep->table, sizeof rep->table, table);
    rep->seq = seq;
    va_list ap;
    va_start(ap, fmt);
    ms_vfail(e, status, fmt, ap);
    va_end(ap);
    return status;
}

/* Hashes the rows of an event-table entry into `body` and checks them. */
static int walk_rows(lk_reader *R, int t, int64_t seq, int64_t step, int64_t first, int64_t n, lk_hasher *body,
                     lake_verify_report *rep, ms_err *e)
{
    const lk_table *T = &lk_tables[t];
    sqlite3_stmt *st;
    lk_value v[LK_MAX_COLS];
    char where[160];
    int rc = lk_rows_stmt(R, t, &st, e);
    if (rc)
        return rc;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, first);
    sqlite3_bind_int64(st, 2, first + n - 1);
    int64_t i = 0;
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t rowid = sqlite3_column_int64(st, 0);
        for (int c = 0; c < T->ncols; c++)
            if (lk_col_value(st, c + 1, &v[c]))
                return ms_fail(e, MS_EIO, "%s: out of memory reading %s", R->path, T->name);
        lk_describe_row(where, sizeof where, T, v, rowid);
        if (rowid != first + i || i >= n)
            return fail_at(rep, T->name, seq, e, MS_ECHECK,
                           "%s step %" PRId64 ": rowid %" PRId64 ", covered by ledger seq %" PRId64
                           ", is missing (rows were deleted)",
                           T->name, step, first + i, seq);
        if (T->digest_col >= 0) {
            const lk_value *src = &v[T->digest_src], *dig = &v[T->digest_col];
            unsigned char d[LK_HASH_LEN];
            char hex[LK_HEX_LEN + 1];
            int ok;
            if (src->type != T->cols[T->digest_src].type) {
                ok = 0;
            } else {
                if ((rc = lk_sha256(&R->hd, src->p, src->n, d, e)))
                    return rc;
                ms_hex(d, LK_HASH_LEN, hex);
                ok = T->digest_hex
                         ? dig->type == LK_TEXT && dig->n == LK_HEX_LEN && memcmp(dig->p, hex, LK_HEX_LEN) == 0
                         : dig->type == LK_BLOB && dig->n == LK_HASH_LEN && memcmp(dig->p, d, LK_HASH_LEN) == 0;
            }
            if (!ok)
                return fail_at(rep, T->name, seq, e, MS_ECHECK, "%s: %s column differs from SHA-256(%s)", where,
                               T->cols[T->digest_col].name, T->cols[T->digest_src].name);
        }
        if ((rc = lk_put_row(&R->buf, v, T->ncols, e)))
            return rc;
        if (R->buf.len >= FLUSH_BYTES) {
            if ((rc = lk_hash_add(body, R->buf.p, R->buf.len, e)))
                return rc;
            R->buf.len = 0;
        }
        i++;
    }
    if (s != SQLITE_DONE)
        return lk_sqlerr(R, s, T->name, e);
    if (i < n)
        return fail_at(rep, T->name, seq, e, MS_ECHECK,
                       "%s step %" PRId64 ": rowid %" PRId64 ", covered by ledger seq %" PRId64
                       ", is missing (rows were deleted)",
                       T->name, step, first + i, seq);
    return MS_OK;
}

/* After entry `seq` joined the tree: compares the roots wanted at this size. */
static int tree_grew(walk_state *w, lake_verify_report *rep, ms_err *e)
{
    unsigned char root[LK_HASH_LEN];
    int have = 0, rc;
    while (w->next < w->nwant && w->want[w->next].size == w->entries) {
        if (!have && (rc = ms_merkle_acc_root(&w->tree, root, e)))
            return rc;
        have = 1;
        if (memcmp(root, w->want[w->next].root, LK_HASH_LEN) != 0)
            return fail_at(rep, "checkpoints", w->entries, e, MS_ECHECK,
                           "checkpoint %" PRId64 " (tree size %" PRId64 ") states a root the ledger does not have: "
                           "the ledger's first %" PRId64 " entries were rewritten after it was signed",
                           w->next + 1, w->entries, w->entries);
        w->next++;
    }
    if (w->ext_size == w->entries) {
        if (!have && (rc = ms_merkle_acc_root(&w->tree, root, e)))
            return rc;
        if (memcmp(root, w->ext_root, LK_HASH_LEN) != 0)
            return fail_at(rep, "ledger", w->entries, e, MS_ECHECK,
                           "the lake's tree at size %" PRId64 " differs from the given checkpoint's root: the lake "
                           "was rewritten since that checkpoint was signed", w->entries);
        w->ext_match = 1;
    }
    return MS_OK;
}

static int keep_hash(walk_state *w, const unsigned char hash[LK_HASH_LEN], ms_err *e)
{
    if (w->entries > w->hcap) { /* entries already counts this one */
        int64_t ncap = w->hcap ? 2 * w->hcap : 4096;
        void *p = realloc(w->hashes, (size_t)ncap * LK_HASH_LEN);
        if (!p)
            return ms_fail(e, MS_EIO, "lake: out of memory for %" PRId64 " entry hashes", ncap);
        w->hashes = p;
        w->hcap = ncap;
    }
    memcpy(w->hashes[w->entries - 1], hash, LK_HASH_LEN);
    return MS_OK;
}

static int tomb_cmp(const void *a, const void *b)
{
    const tomb_info *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq ? 1 : (x->rowid > y->rowid) - (x->rowid < y->rowid);
}

/* The tombstone naming entry seq, or NULL. */
static tomb_info *tomb_find(walk_state *w, int64_t seq)
{
    int64_t lo = 0, hi = w->ntomb;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (w->tomb[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < w->ntomb && w->tomb[lo].seq == seq ? &w->tomb[lo] : NULL;
}

/* Reads every tombstones row: well-formed, one per ledger entry. They are
 * matched with the chain while it is walked (and the chained ones re-hashed
 * as rows of their own entries). */
static int load_tombstones(lk_reader *R, walk_state *w, lake_verify_report *rep, ms_err *e)
{
    int64_t cnt = 0;
    int rc = lk_query_int(R, "SELECT COUNT(*) FROM tombstones", &cnt, e);
    if (rc)
        return rc;
    if (cnt > MAX_TOMBSTONES)
        return fail_at(rep, "tombstones", 0, e, MS_ECHECK, "tombstones: more than %d rows", MAX_TOMBSTONES);
    if (!cnt)
        return MS_OK;
    w->tomb = calloc((size_t)cnt, sizeof *w->tomb);
    if (!w->tomb)
        return ms_fail(e, MS_EIO, "%s: out of memory for %" PRId64 " tombstones", R->path, cnt);
    sqlite3_stmt *st;
    if ((rc = lk_prep(R, "SELECT rowid, purge_id, seq, tbl, step, first_rowid, n_rows, commitment FROM tombstones",
                      &st, e)))
        return rc;
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        lk_value c[8];
        for (int k = 0; k < 8; k++)
            if (lk_col_value(st, k, &c[k])) {
                sqlite3_finalize(st);
                return ms_fail(e, MS_EIO, "%s: out of memory", R->path);
            }
        int t = c[3].type == LK_TEXT ? lk_table_find(c[3].p, c[3].n) : -1;
        if (w->ntomb >= cnt || c[0].type != LK_INT || c[1].type != LK_INT || c[2].type != LK_INT || t < 0 ||
            c[4].type != LK_INT || c[5].type != LK_INT || c[6].type != LK_INT || c[7].type != LK_BLOB ||
            c[7].n != LK_HASH_LEN || c[1].i < 0 || c[6].i < 1) {
            sqlite3_finalize(st);
            return fail_at(rep, "tombstones", 0, e, MS_ECHECK, "tombstones rowid %" PRId64 ": malformed row",
                           c[0].type == LK_INT ? c[0].i : -1);
        }
        tomb_info *x = &w->tomb[w->ntomb++];
        x->rowid = c[0].i;
        x->purge_id = c[1].i;
        x->seq = c[2].i;
        x->t = t;
        x->step = c[4].i;
        x->first = c[5].i;
        x->n = c[6].i;
        memcpy(x->commit, c[7].p, LK_HASH_LEN);
    }
    sqlite3_finalize(st);
    if (s != SQLITE_DONE)
        return lk_sqlerr(R, s, "tombstones", e);
    qsort(w->tomb, (size_t)w->ntomb, sizeof *w->tomb, tomb_cmp);
    for (int64_t k = 1; k < w->ntomb; k++)
        if (w->tomb[k].seq == w->tomb[k - 1].seq)
            return fail_at(rep, "tombstones", w->tomb[k].seq, e, MS_ECHECK,
                           "tombstones: two rows name ledger seq %" PRId64 " (rowids %" PRId64 " and %" PRId64 ")",
                           w->tomb[k].seq, w->tomb[k - 1].rowid, w->tomb[k].rowid);
    return MS_OK;
}

/* An entry a tombstone names: its rows and salt must be gone, the
 * tombstone must repeat the entry (table, step, rowids, commitment). */
static int check_purged(lk_reader *R, sqlite3_stmt *salt_st, tomb_info *tb, int t, int64_t seq, int64_t step,
                        int64_t first, int64_t n, const lk_value *commit, lake_verify_report *rep, ms_err *e)
{
    const char *tn = lk_tables[t].name;
    if (tb->t != t || tb->step != step || tb->first != first || tb->n != n ||
        memcmp(tb->commit, commit->p, LK_HASH_LEN) != 0 || !lk_table_purgeable(t))
        return fail_at(rep, "tombstones", seq, e, MS_ECHECK,
                       "tombstones rowid %" PRId64 " names ledger seq %" PRId64 " (%s step %" PRId64 ", rowids %" PRId64
                       "..%" PRId64 ") but does not repeat its table, step, rowids and commitment%s",
                       tb->rowid, seq, tn, step, first, first + n - 1,
                       lk_table_purgeable(t) ? "" : " (and that table is never purged)");
    char q[160];
    int64_t left = 0;
    snprintf(q, sizeof q, "SELECT COUNT(*) FROM %s WHERE rowid BETWEEN %" PRId64 " AND %" PRId64, tn, first,
             first + n - 1);
    int rc = lk_query_int(R, q, &left, e);
    if (rc)
        return rc;
    if (left)
        return fail_at(rep, tn, seq, e, MS_ECHECK,
                       "ledger seq %" PRId64 " (%s step %" PRId64 "): a tombstone says purge %" PRId64
                       " removed its %" PRId64 " rows, but %" PRId64 " of them are there",
                       seq, tn, step, tb->purge_id, n, left);
    if (lk_table_salted(t)) {
        sqlite3_reset(salt_st);
        sqlite3_bind_int64(salt_st, 1, seq);
        int ss = sqlite3_step(salt_st);
        if (ss == SQLITE_ROW)
            return fail_at(rep, "salts", seq, e, MS_ECHECK,
                           "ledger seq %" PRId64 " (%s step %" PRId64 "): purged, but its salt is still there", seq,
                           tn, step);
        if (ss != SQLITE_DONE)
            return lk_sqlerr(R, ss, "salts", e);
    }
    tb->used = 1;
    return MS_OK;
}

static int walk_ledger(lk_reader *R, const lk_runs_row *run, walk_state *w, int keep, lake_verify_report *rep,
                       ms_err *e)
{
    sqlite3_stmt *st, *salt_st = NULL;
    int rc = lk_prep(R, "SELECT seq, tbl, step, first_rowid, n_rows, commitment, hash FROM ledger ORDER BY seq",
                     &st, e);
    if (rc)
        return rc;
    if ((rc = lk_prep(R, "SELECT salt FROM salts WHERE seq = ?1", &salt_st, e))) {
        sqlite3_finalize(st);
        return rc;
    }
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t expect = w->entries + 1;
        lk_value c[7];
        for (int k = 0; k < 7; k++)
            if (lk_col_value(st, k, &c[k])) {
                rc = ms_fail(e, MS_EIO, "%s: out of memory", R->path);
                goto out;
            }
        if (c[0].type != LK_INT || c[1].type != LK_TEXT || c[2].type != LK_INT || c[3].type != LK_INT ||
            c[4].type != LK_INT || (c[5].type != LK_NULL && c[5].type != LK_BLOB) || c[6].type != LK_BLOB) {
            rc = fail_at(rep, "ledger", expect, e, MS_ECHECK,
                         "ledger seq %" PRId64 ": malformed entry (wrong column types)", expect);
            goto out;
        }
        if (c[0].i != expect) {
            rc = fail_at(rep, "ledger", expect, e, MS_ECHECK,
                         "ledger: entry seq %" PRId64 " found where seq %" PRId64
                         " was expected (entries missing or renumbered)",
                         c[0].i, expect);
            goto out;
        }
        char tname[40];
        lk_safe_text(tname, sizeof tname, &c[1]);
        int64_t step = c[2].i, first = c[3].i, n = c[4].i;
        int kind = lk_runs_entry_find(c[1].p, c[1].n);
        int t = kind >= 0 ? -1 : lk_table_find(c[1].p, c[1].n);
        if (kind < 0 && t < 0) {
            rc = fail_at(rep, "ledger", expect, e, MS_ECHECK, "ledger seq %" PRId64 ": unknown table '%s'", expect,
                         tname);
            goto out;
        }
        /* The run's entries, then (a finished run only) purges: pairs of a
         * tombstones and a purges entry, and nothing else after them. */
        int is_purge = lk_table_is_purge(t);
        if (!is_purge && (w->sealed || w->in_purges)) {
            rc = fail_at(rep, "ledger", expect, e, MS_ECHECK, "ledger seq %" PRId64 " (%s) follows the %s", expect,
                         tname, w->in_purges ? "lake's purges: only purges may follow the end of a run"
                                             : "seal of the completed run");
            goto out;
        }
        if ((t == LKT_PURGES) != w->prev_tombstones) {
            rc = fail_at(rep, "ledger", expect, e, MS_ECHECK,
                         "ledger seq %" PRId64 " (%s): a purge appends a tombstones entry and then a purges entry, "
                         "nothing in between", expect, tname);
            goto out;
        }
        w->prev_tombstones = t == LKT_TOMBSTONES;
        w->in_purges |= is_purge;
        w->purge_entries += is_purge != 0;
        /* The runs entries have fixed places: identity first, build second,
         * the seal (if any) last. */
        int want_kind = expect == 1 ? LK_RUNS_IDENTITY : expect == 2 ? LK_RUNS_BUILD : -1;
        if (kind != want_kind && !(kind == LK_RUNS_SEAL && expect > 2)) {
            rc = fail_at(rep, "ledger", expect, e, MS_ECHECK,
                         "ledger seq %" PRId64 " is %s, expected %s", expect, tname,
                         want_kind >= 0 ? lk_runs_entries[want_kind].tbl : "an event table or the seal");
            goto out;
        }
        if (kind >= 0 ? (first != run->rowid || n != 1 || (kind != LK_RUNS_SEAL && step != 0))
                      : (n < 1 || n > INT32_MAX || first != w->covered[t] + 1)) {
            rc = fail_at(rep, tname, expect, e, MS_ECHECK,
                         "ledger seq %" PRId64 " (%s step %" PRId64 "): covers rowids %" PRId64 "..+%" PRId64
                         ", expected a contiguous range from rowid %" PRId64,
                         expect, tname, step, first, n, kind >= 0 ? run->rowid : w->covered[t] + 1);
            goto out;
        }
        /* Every event entry commits to its rows (salted but for the purges'
         * own tables); the runs entries hash their columns directly. */
        int salted = t >= 0 && lk_table_salted(t), committed = t >= 0;
        if (committed != (c[5].type == LK_BLOB) || (committed && c[5].n != LK_HASH_LEN)) {
            rc = fail_at(rep, tname, expect, e, MS_ECHECK, "ledger seq %" PRId64 " (%s): %s", expect, tname,
                         committed ? "an event entry without a 32-byte commitment"
                                   : "a commitment on an entry over the runs row");
            goto out;
        }
        /* prev || header || body */
        tomb_info *tb = NULL;
        unsigned char hdr[96];
        const char *tbl = kind >= 0 ? lk_runs_entries[kind].tbl : lk_tables[t].name;
        uint32_t ncols = kind >= 0 ? (uint32_t)lk_runs_entries[kind].ncols : (uint32_t)lk_tables[t].ncols;
        size_t hn = lk_entry_header(hdr, expect, tbl, step, first, (uint32_t)n, ncols);
        R->buf.len = 0;
        if ((rc = lk_hash_begin(&R->h, e)) || (rc = lk_hash_add(&R->h, w->head, LK_HASH_LEN, e)) ||
            (rc = lk_hash_add(&R->h, hdr, hn, e)))
            goto out;
        if (kind >= 0) {
            const lk_runs_entry *RE = &lk_runs_entries[kind];
            lk_value sv[LKR_NCOLS];
            for (int k = 0; k < RE->ncols; k++)
                sv[k] = run->v[RE->cols[k]];
            if ((rc = lk_put_row(&R->buf, sv, RE->ncols, e)) || (rc = lk_hash_add(&R->h, R->buf.p, R->buf.len, e)))
                goto out;
        } else if ((tb = tomb_find(w, expect)) != NULL) {
            /* purged: the chain checks through the stored commitment */
            if ((rc = check_purged(R, salt_st, tb, t, expect, step, first, n, &c[5], rep, e)) ||
                (rc = lk_hash_add(&R->h, c[5].p, LK_HASH_LEN, e)))
                goto out;
            w->purged[t] += n;
            w->purged_entries++;
        } else if (w->xcls >= 0 && lk_table_purgeable(t) && lk_tables[t].tclass != w->xcls) {
            rc = fail_at(rep, tname, expect, e, MS_ECHECK,
                         "ledger seq %" PRId64 " (%s step %" PRId64 "): the lake says it is an export of class %s, but "
                         "it holds this %s payload", expect, tname, step, lk_class_names[w->xcls],
                         lk_class_names[lk_tables[t].tclass]);
            goto out;
        } else {
            lk_value salt = lk_null();
            if (salted) {
                sqlite3_reset(salt_st);
                sqlite3_bind_int64(salt_st, 1, expect);
                int ss = sqlite3_step(salt_st);
                if (ss != SQLITE_ROW && ss != SQLITE_DONE) {
                    rc = lk_sqlerr(R, ss, "salts", e);
                    goto out;
                }
                if (ss != SQLITE_ROW || lk_col_value(salt_st, 0, &salt) != MS_OK || salt.type != LK_BLOB ||
                    salt.n != LK_HASH_LEN) {
                    rc = fail_at(rep, tname, expect, e, MS_ECHECK,
                                 "ledger seq %" PRId64 " (%s step %" PRId64 "): its salt is %s", expect, tname, step,
                                 ss == SQLITE_DONE ? "missing (and no purge removed it)" : "not 32 bytes");
                    goto out;
                }
                w->salted++;
            }
            unsigned char commit[LK_HASH_LEN];
            if ((rc = lk_hash_begin(&R->hc, e)) || (salted && (rc = lk_hash_add(&R->hc, salt.p, LK_HASH_LEN, e))) ||
                (rc = walk_rows(R, t, expect, step, first, n, &R->hc, rep, e)) ||
                (rc = lk_hash_add(&R->hc, R->buf.p, R->buf.len, e)) || (rc = lk_hash_end(&R->hc, commit, e)))
                goto out;
            if (memcmp(commit, c[5].p, LK_HASH_LEN) != 0) {
                rc = fail_at(rep, tname, expect, e, MS_ECHECK,
                             "ledger seq %" PRId64 " (%s step %" PRId64 ", rowids %" PRId64 "..%" PRId64
                             "): the rows%s differ from the entry's commitment",
                             expect, tname, step, first, first + n - 1, salted ? " and salt" : "");
                goto out;
            }
            if ((rc = lk_hash_add(&R->h, c[5].p, LK_HASH_LEN, e)))
                goto out;
            /* A chained tombstone names an earlier entry, removed by a purge. */
            if (t == LKT_TOMBSTONES) {
                char q[200];
                int64_t bad = 0;
                snprintf(q, sizeof q, "SELECT COUNT(*) FROM tombstones WHERE rowid BETWEEN %" PRId64 " AND %" PRId64
                         " AND (seq >= %" PRId64 " OR purge_id < 1)", first, first + n - 1, expect);
                if ((rc = lk_query_int(R, q, &bad, e)))
                    goto out;
                if (bad) {
                    rc = fail_at(rep, "tombstones", expect, e, MS_ECHECK,
                                 "ledger seq %" PRId64 " (tombstones): %" PRId64 " of its rows name no earlier entry "
                                 "or no purge", expect, bad);
                    goto out;
                }
            }
        }
        if (t == LKT_OPTIMIZER_STEPS) {
            w->last_opt_purged = tb != NULL;
            w->last_opt_step = step;
        }
        unsigned char hash[LK_HASH_LEN];
        if ((rc = lk_hash_end(&R->h, hash, e)))
            goto out;
        R->buf.len = 0;
        if (c[6].n != LK_HASH_LEN || memcmp(c[6].p, hash, LK_HASH_LEN) != 0) {
            if (kind == LK_RUNS_SEAL)
                rc = fail_at(rep, "runs", expect, e, MS_ECHECK,
                             "ledger seq %" PRId64 " (runs seal): hash differs: the runs row (status, env_steps "
                             "or final reward) changed after the run completed", expect);
            else if (kind >= 0)
                rc = fail_at(rep, "runs", expect, e, MS_ECHECK,
                             "ledger seq %" PRId64 " (%s): hash differs: the run's %s in the runs row changed",
                             expect, tbl, kind == LK_RUNS_IDENTITY ? "identity (id, name, seed, config hash, "
                                                                     "version, key ids or dev-key flag)"
                                                                   : "build facts");
            else
                rc = fail_at(rep, tbl, expect, e, MS_ECHECK,
                             "ledger seq %" PRId64 " (%s step %" PRId64 ", rowids %" PRId64 "..%" PRId64
                             "): hash differs from the stored one",
                             expect, tbl, step, first, first + n - 1);
            goto out;
        }
        memcpy(w->head, hash, LK_HASH_LEN);
        w->entries = expect;
        if (kind == LK_RUNS_SEAL)
            w->sealed = 1;
        else if (t >= 0)
            w->covered[t] += n;
        unsigned char leaf[LK_HASH_LEN];
        if ((rc = ms_merkle_leaf_hash(hash, LK_HASH_LEN, leaf, e)) || (rc = ms_merkle_acc_push(&w->tree, leaf, e)) ||
            (rc = tree_grew(w, rep, e)) || (keep && (rc = keep_hash(w, hash, e))))
            goto out;
    }
    if (s != SQLITE_DONE)
        rc = lk_sqlerr(R, s, "ledger", e);
    if (!rc && w->entries < 2)
        rc = fail_at(rep, "ledger", w->entries + 1, e, MS_ECHECK,
                     "ledger: the identity and build entries are missing (%" PRId64 " entries)", w->entries);
out:
    sqlite3_finalize(st);
    sqlite3_finalize(salt_st);
    return rc;
}

typedef struct purge_row {
    int64_t before, entries, rows, seen_entries, seen_rows;
    int cls;
} purge_row;

/* After the walk: the purges table, every tombstone's purge (or export),
 * and the report's purge figures. */
static int check_purges(lk_reader *R, const lk_runs_row *run, walk_state *w, lake_verify_report *rep, ms_err *e)
{
    int xcls = -1;
    const lk_value *xv = &run->v[LKR_EXPORTED_CLASS];
    if (xv->type == LK_TEXT) {
        if ((xcls = lk_class_find(xv->p, xv->n)) < 0)
            return fail_at(rep, "runs", 0, e, MS_ECHECK, "runs: exported_class is not a telemetry class");
        lk_copy_str(rep->exported_class, sizeof rep->exported_class, lk_class_names[xcls]);
    }
    if (w->prev_tombstones)
        return fail_at(rep, "ledger", w->entries, e, MS_ECHECK,
                       "ledger: the last entry is a purge's tombstones without its purges entry");
    int64_t np = 0;
    int rc = lk_query_int(R, "SELECT COUNT(*) FROM purges", &np, e);
    if (rc)
        return rc;
    if (np > MAX_PURGES)
        return fail_at(rep, "purges", 0, e, MS_ECHECK, "purges: more than %d rows", MAX_PURGES);
    purge_row *P = calloc((size_t)(np ? np : 1), sizeof *P);
    if (!P)
        return ms_fail(e, MS_EIO, "%s: out of memory", R->path);
    sqlite3_stmt *st;
    if ((rc = lk_prep(R, "SELECT purge_id, class, before_step, entries, rows FROM purges ORDER BY rowid", &st, e))) {
        free(P);
        return rc;
    }
    int64_t k = 0;
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        lk_value c[5];
        for (int j = 0; j < 5; j++)
            if (lk_col_value(st, j, &c[j]))
                rc = ms_fail(e, MS_EIO, "%s: out of memory", R->path);
        int cls = !rc && c[1].type == LK_TEXT ? lk_class_find(c[1].p, c[1].n) : -1;
        if (!rc && (k >= np || c[0].type != LK_INT || c[0].i != k + 1 || cls < 0 || c[2].type != LK_INT ||
                    c[3].type != LK_INT || c[4].type != LK_INT))
            rc = fail_at(rep, "purges", k + 1, e, MS_ECHECK,
                         "purges: row %" PRId64 " is malformed (purge ids run 1, 2, 3, ...; class one of "
                         "operational, security, behavioural)", k + 1);
        if (rc)
            break;
        P[k] = (purge_row){.before = c[2].i, .entries = c[3].i, .rows = c[4].i, .cls = cls};
        if (k < LAKE_VERIFY_MAX_PURGES) {
            lake_purge_info *pi = &rep->purges[k];
            pi->purge_id = k + 1;
            pi->before_step = c[2].i;
            pi->entries = c[3].i;
            pi->rows = c[4].i;
            lk_copy_str(pi->cls, sizeof pi->cls, lk_class_names[cls]);
        }
        k++;
    }
    sqlite3_finalize(st);
    if (!rc && s != SQLITE_DONE)
        rc = lk_sqlerr(R, s, "purges", e);
    rep->npurges = k;
    for (int64_t i = 0; !rc && i < w->ntomb; i++) {
        const tomb_info *tb = &w->tomb[i];
        const lk_table *T = &lk_tables[tb->t];
        if (!tb->used) {
            rc = fail_at(rep, "tombstones", tb->seq, e, MS_ECHECK,
                         "tombstones rowid %" PRId64 " names ledger seq %" PRId64 ", which is not an entry of %s",
                         tb->rowid, tb->seq, T->name);
        } else if (tb->rowid <= w->covered[LKT_TOMBSTONES]) { /* chained: a purge's */
            purge_row *p = tb->purge_id >= 1 && tb->purge_id <= k ? &P[tb->purge_id - 1] : NULL;
            if (!p)
                rc = fail_at(rep, "tombstones", tb->seq, e, MS_ECHECK,
                             "tombstones rowid %" PRId64 " names purge %" PRId64 ", which the purges table does not "
                             "record", tb->rowid, tb->purge_id);
            else if (T->tclass != p->cls || tb->step >= p->before)
                rc = fail_at(rep, "tombstones", tb->seq, e, MS_ECHECK,
                             "tombstones rowid %" PRId64 " (%s, %s, step %" PRId64 ") is not what purge %" PRId64
                             " removes (class %s, steps before %" PRId64 ")", tb->rowid, T->name,
                             lk_class_names[T->tclass], tb->step, tb->purge_id, lk_class_names[p->cls], p->before);
            else {
                p->seen_entries++;
                p->seen_rows += tb->n;
            }
        } else if (xcls < 0 || tb->purge_id != 0 || T->tclass == xcls) {
            rc = fail_at(rep, "tombstones", tb->seq, e, MS_ECHECK,
                         "tombstones rowid %" PRId64 " (ledger seq %" PRId64 ", %s): no ledger entry covers it, and it "
                         "is not an export's (purge id 0, runs.exported_class set, a table of another class)",
                         tb->rowid, tb->seq, T->name);
        } else {
            rep->export_entries++;
            rep->export_rows += tb->n;
        }
    }
    for (int64_t i = 0; !rc && i < k; i++)
        if (P[i].seen_entries != P[i].entries || P[i].seen_rows != P[i].rows)
            rc = fail_at(rep, "purges", i + 1, e, MS_ECHECK,
                         "purges: purge %" PRId64 " says it removed %" PRId64 " entries (%" PRId64 " rows); its "
                         "tombstones say %" PRId64 " (%" PRId64 ")", i + 1, P[i].entries, P[i].rows,
                         P[i].seen_entries, P[i].seen_rows);
    free(P);
    return rc;
}

/* COUNT(*) of every event table vs coverage, then the runs summary. */
static int check_totals(lk_reader *R, const lk_runs_row *run, const walk_state *w, lake_verify_report *rep,
                        ms_err *e)
{
    char q[160];
    int rc;
    int64_t present[LKT_COUNT];
    for (int t = 0; t < LKT_COUNT; t++) {
        int64_t cnt = 0, want = w->covered[t] - w->purged[t] + (t == LKT_TOMBSTONES ? rep->export_entries : 0);
        present[t] = want;
        snprintf(q, sizeof q, "SELECT COUNT(*) FROM %s", lk_tables[t].name);
        if ((rc = lk_query_int(R, q, &cnt, e)))
            return rc;
        if (cnt != want)
            return fail_at(rep, lk_tables[t].name, 0, e, MS_ECHECK,
                           "%s: %" PRId64 " rows, ledger covers %" PRId64 "%s%s", lk_tables[t].name, cnt,
                           want, w->purged[t] ? " that no purge removed" : "",
                           cnt > want ? " (rows were inserted)" : "");
    }
    int64_t nsalts = 0;
    if ((rc = lk_query_int(R, "SELECT COUNT(*) FROM salts", &nsalts, e)))
        return rc;
    if (nsalts != w->salted)
        return fail_at(rep, "salts", 0, e, MS_ECHECK,
                       "salts: %" PRId64 " rows, but %" PRId64 " behavioural entries use one (salts were inserted)",
                       nsalts, w->salted);
    const lk_value *v = run->v;
    if (v[LKR_LEDGER_ROWS].i != w->entries)
        return fail_at(rep, "runs", 0, e, MS_ECHECK,
                       "runs: ledger_rows says %" PRId64 " entries, the ledger holds %" PRId64
                       " (the ledger tail was removed or added to)",
                       v[LKR_LEDGER_ROWS].i, w->entries);
    char head[LK_HEX_LEN + 1];
    ms_hex(w->head, LK_HASH_LEN, head);
    if (!lk_vtext_is(&v[LKR_HEAD_HASH], head))
        return fail_at(rep, "runs", w->entries, e, MS_ECHECK,
                       "runs: head_hash is not the hash of the ledger's last entry (seq %" PRId64
                       "): the ledger tail was removed or rewritten",
                       w->entries);
    char want[1024];
    lk_row_counts_json(present, want, sizeof want);
    if (!lk_vtext_is(&v[LKR_ROW_COUNTS], want))
        return fail_at(rep, "runs", 0, e, MS_ECHECK, "runs: row_counts is not the counts the tables hold (%s)", want);
    /* An unsealed run's progress is unchained: it must be the last update's,
     * read from its row or, when a purge removed that row, from its entry's
     * chained step label times the run's mailboxes (the label of an update
     * is the simulation steps taken; a purge with --policy-from measures
     * retention from this figure, so it must not be forgeable). */
    if (!w->sealed && !w->last_opt_purged) {
        int64_t last = 0;
        if ((rc = lk_query_int(R, "SELECT COALESCE(MAX(env_steps), 0) FROM optimizer_steps", &last, e)))
            return rc;
        if (v[LKR_ENV_STEPS].i != last)
            return fail_at(rep, "runs", 0, e, MS_ECHECK,
                           "runs: env_steps says %" PRId64 ", but the last update recorded is at %" PRId64
                           " env-steps", v[LKR_ENV_STEPS].i, last);
    } else if (!w->sealed) {
        const char *val = NULL;
        size_t vl = 0;
        int64_t envs = 0;
        if (lk_config_setting((const char *)v[LKR_CONFIG_TEXT].p, v[LKR_CONFIG_TEXT].n, "sim", "envs", &val, &vl))
            envs = leading_int(val, vl);
        if (envs < 1)
            return fail_at(rep, "runs", 0, e, MS_ECHECK, "runs: config_text states no [sim] envs");
        if (v[LKR_ENV_STEPS].i != w->last_opt_step * envs)
            return fail_at(rep, "runs", 0, e, MS_ECHECK,
                           "runs: env_steps says %" PRId64 ", but the last update (its rows purged) was at step %"
                           PRId64 " of %" PRId64 " mailboxes: %" PRId64 " env-steps", v[LKR_ENV_STEPS].i,
                           w->last_opt_step, envs, w->last_opt_step * envs);
    }
    return MS_OK;
}

/* SQLite's own structural check of every b-tree page (also STRICT types,
 * NOT NULL and CHECK constraints). */
static int quick_check_once(lk_reader *R, int *transient, ms_err *e)
{
    sqlite3_stmt *st;
    int rc = lk_prep(R, "PRAGMA quick_check(1)", &st, e);
    if (rc)
        return rc;
    int io0 = lk_rovfs_io_errors(R->db);
    int s = sqlite3_step(st);
    if (s != SQLITE_ROW) {
        rc = lk_sqlerr(R, s == SQLITE_DONE ? SQLITE_CORRUPT : s, "quick_check", e);
    } else {
        const unsigned char *t = sqlite3_column_text(st, 0);
        if (!t || strcmp((const char *)t, "ok") != 0) {
            char msg[200];
            lk_value v = lk_text((const char *)t);
            lk_safe_text(msg, sizeof msg, &v);
            /* "unable to get the page. error code=N": the pager failed to
             * read (I/O error, out of memory), which says nothing about the
             * file (the fault sweep's failed reads were called malformed). */
            const char *ec = strstr((const char *)t, "error code=");
            int code = ec ? (int)(strtol(ec + 11, NULL, 10) & 0xff) : 0; /* no digits: 0, no code */
            /* Other reports carry no code ("Failed to read ptrmap key=N":
             * the fault sweep's failed read during a purge's verification):
             * a read the VFS saw fail says the same. */
            if (code == SQLITE_IOERR || code == SQLITE_NOMEM || lk_rovfs_io_errors(R->db) > io0)
                rc = ms_fail(e, MS_EIO, "%s: cannot read the lake (SQLite quick_check: %s)", R->path, msg);
            else {
                rc = ms_fail(e, MS_EINPUT, "%s: malformed lake (SQLite quick_check: %s)", R->path, msg);
                *transient = 1;
            }
        }
    }
    sqlite3_finalize(st);
    return rc;
}

/* A malformed verdict is believed only when a second check repeats it: an
 * allocation SQLite could not make inside the check is reported the same
 * way as a damaged page (no code, no failed read), and does not repeat. */
static int quick_check(lk_reader *R, ms_err *e)
{
    int transient = 0;
    int rc = quick_check_once(R, &transient, e);
    if (!transient)
        return rc;
    ms_err e2;
    int again = 0;
    int rc2 = quick_check_once(R, &again, &e2);
    if (rc2 == MS_EINPUT && again && !strcmp(e2.msg, e->msg))
        return rc;
    char first[sizeof e->msg];
    snprintf(first, sizeof first, "%s", e->msg);
    return ms_fail(e, MS_EIO, "%s: cannot read the lake: SQLite's quick_check failed once, not when repeated (%.200s)",
                   R->path, first);
}

/* Parses one signed checkpoint note: structure, and with a trusted key its
 * signature; the body into cp. what names it in messages. */
/* A malformed note is MS_ECHECK in the lake (a marlsim lake never holds
 * one) and MS_EINPUT for the caller's file (external). */
static int open_checkpoint(const char *note, size_t n, const ms_note_verifier *trusted, const char *what,
                           int external, ms_checkpoint *cp, char signer[160], lake_verify_report *rep, ms_err *e)
{
    size_t text_len = 0;
    char first_name[MS_NOTE_NAME_MAX + 1];
    unsigned char first_id[4];
    ms_err pe;
    const int malformed = external ? MS_EINPUT : MS_ECHECK;
    int rc = ms_note_parse(note, n, &text_len, first_name, first_id, &pe);
    if (rc)
        return fail_at(rep, "checkpoints", 0, e, rc == MS_EINPUT ? malformed : rc, "%s: %s", what, pe.msg);
    if (signer) {
        char id[9];
        ms_hex(first_id, 4, id);
        snprintf(signer, 160, "%s+%s", first_name, id);
    }
    if (trusted) {
        rc = ms_note_open(note, n, trusted, &text_len, &pe);
        if (rc) {
            char id[9];
            ms_hex(first_id, 4, id);
            rep->foreign = rc == MS_ECHECK;
            return fail_at(rep, "checkpoints", 0, e, rc == MS_EIO ? MS_EIO : MS_ECHECK,
                           "%s is not signed by the trusted key %s+%02x%02x%02x%02x (signed by %s+%s): another "
                           "keyring made this lake, or its checkpoints were forged",
                           what, trusted->name, trusted->key_id[0], trusted->key_id[1], trusted->key_id[2],
                           trusted->key_id[3], first_name, id);
        }
    }
    rc = ms_checkpoint_parse(note, text_len, cp, &pe);
    if (rc)
        return fail_at(rep, "checkpoints", 0, e, rc == MS_EINPUT ? malformed : rc, "%s: %s", what, pe.msg);
    return MS_OK;
}

/* The status a checkpoint body states ("" when none); MS_ECHECK for an
 * extension line that is not a status. */
static int cp_status_of(const ms_checkpoint *cp, char out[16])
{
    out[0] = 0;
    for (int k = 0; k < cp->next; k++) {
        static const char *const st[] = {"completed", "interrupted", "failed"};
        int found = 0;
        for (int j = 0; j < 3 && !found; j++) {
            char line[32];
            snprintf(line, sizeof line, "status: %s", st[j]);
            if (!strcmp(cp->ext[k], line)) {
                if (out[0])
                    return MS_ECHECK;
                snprintf(out, 16, "%s", st[j]);
                found = 1;
            }
        }
        if (!found)
            return MS_ECHECK;
    }
    return MS_OK;
}

/* Reads and checks every checkpoint row (not yet against the tree). */
static int read_checkpoints(lk_reader *R, const lk_runs_row *run, const lake_verify_opts *o, cp_info **out,
                            int64_t *nout, lake_verify_report *rep, ms_err *e)
{
    sqlite3_stmt *st;
    cp_info *cps = NULL;
    int64_t n = 0, cap = 0;
    int rc = lk_prep(R, "SELECT cp_id, tree_size, status, note FROM checkpoints ORDER BY cp_id", &st, e);
    if (rc)
        return rc;
    int s;
    char origin[300];
    lk_safe_text(origin, sizeof origin, &run->v[LKR_ORIGIN]);
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        lk_value c[4];
        for (int k = 0; k < 4; k++)
            if (lk_col_value(st, k, &c[k])) {
                rc = ms_fail(e, MS_EIO, "%s: out of memory", R->path);
                goto out;
            }
        char what[64];
        snprintf(what, sizeof what, "checkpoint %" PRId64, n + 1);
        if (c[0].type != LK_INT || c[0].i != n + 1 || c[1].type != LK_INT || c[3].type != LK_TEXT ||
            (c[2].type != LK_NULL && c[2].type != LK_TEXT) || c[3].n > MS_NOTE_MAX) {
            rc = fail_at(rep, "checkpoints", n + 1, e, MS_ECHECK, "%s: malformed row (ids, types or size)", what);
            goto out;
        }
        if (n >= MAX_CHECKPOINTS) {
            rc = fail_at(rep, "checkpoints", n + 1, e, MS_ECHECK, "checkpoints: more than %d rows", MAX_CHECKPOINTS);
            goto out;
        }
        ms_checkpoint cp;
        if ((rc = open_checkpoint(c[3].p, c[3].n, o ? o->trusted : NULL, what, 0, &cp, n ? NULL : rep->signer, rep,
                                  e)))
            goto out;
        char status[16];
        if (strcmp(cp.origin, origin) != 0 || (int64_t)cp.size != c[1].i || cp_status_of(&cp, status) != MS_OK ||
            (c[2].type == LK_NULL ? status[0] != 0 : !lk_vtext_is(&c[2], status)) || cp.size > INT64_MAX) {
            rc = fail_at(rep, "checkpoints", n + 1, e, MS_ECHECK,
                         "%s: its signed text does not match the lake (origin, tree size or status)", what);
            goto out;
        }
        if (n && (int64_t)cp.size < cps[n - 1].size) {
            rc = fail_at(rep, "checkpoints", n + 1, e, MS_ECHECK, "%s: tree size %" PRIu64 " is smaller than the "
                         "previous checkpoint's: checkpoints of another chain", what, cp.size);
            goto out;
        }
        if (n == cap) {
            int64_t ncap = cap ? 2 * cap : 64;
            cp_info *p = realloc(cps, (size_t)ncap * sizeof *p);
            if (!p) {
                rc = ms_fail(e, MS_EIO, "%s: out of memory", R->path);
                goto out;
            }
            cps = p;
            cap = ncap;
        }
        cps[n].size = (int64_t)cp.size;
        memcpy(cps[n].root, cp.root, LK_HASH_LEN);
        snprintf(cps[n].status, sizeof cps[n].status, "%s", status);
        n++;
    }
    if (s != SQLITE_DONE)
        rc = lk_sqlerr(R, s, "checkpoints", e);
out:
    sqlite3_finalize(st);
    if (rc) {
        free(cps);
        return rc;
    }
    *out = cps;
    *nout = n;
    return MS_OK;
}

/* [telemetry] checkpoint_every of a stored canonical config text (its
 * format is fixed: "checkpoint_every = N" on a line of its own), or
 * INT64_MAX when the text does not say. */
static int64_t stored_checkpoint_every(const lk_value *text)
{
    static const char key[] = "\ncheckpoint_every = ";
    const char *p = text->p, *end = p + text->n;
    for (; p && p + sizeof key - 1 < end; p++) {
        p = memchr(p, '\n', (size_t)(end - p));
        if (!p || (size_t)(end - p) < sizeof key - 1)
            break;
        if (memcmp(p, key, sizeof key - 1) == 0) {
            int64_t v = 0;
            const char *q = p + sizeof key - 1;
            for (; q < end && *q >= '0' && *q <= '9' && v < INT64_MAX / 10; q++)
                v = v * 10 + (*q - '0');
            return v > 0 ? v : INT64_MAX;
        }
    }
    return INT64_MAX;
}

int lk_verify_open(lk_reader *R, const lake_verify_opts *o, lake_verify_report *rep,
                   unsigned char (**hashes)[LK_HASH_LEN], ms_err *e)
{
    lk_runs_row run = {0};
    walk_state w;
    cp_info *cps = NULL;
    int64_t ncp = 0;
    memset(&w, 0, sizeof w);
    w.ext_size = -1;
    ms_merkle_acc_init(&w.tree);
    if (hashes)
        *hashes = NULL;
    int rc;
    if (o && o->checkpoint && !o->trusted)
        return ms_fail(e, MS_EINPUT, "a checkpoint can only be checked with a trusted key (--pubkey or --keyring)");
    if ((rc = quick_check(R, e)))
        goto out;
    if ((rc = lk_read_runs(R, &run, e))) {
        lk_copy_str(rep->table, sizeof rep->table, "runs");
        goto out;
    }
    const lk_value *v = run.v;
    static const char *const statuses[] = {"running", "completed", "interrupted", "failed"};
    int st = -1;
    for (int k = 0; k < 4; k++)
        if (lk_vtext_is(&v[LKR_STATUS], statuses[k]))
            st = k;
    if (st < 0) {
        rc = fail_at(rep, "runs", 0, e, MS_ECHECK, "runs: status is not one of running, completed, interrupted, failed");
        goto out;
    }
    lk_copy_str(rep->status, sizeof rep->status, statuses[st]);
    lk_safe_text(rep->run_id, sizeof rep->run_id, &v[LKR_RUN_ID]);
    lk_safe_text(rep->origin, sizeof rep->origin, &v[LKR_ORIGIN]);
    rep->dev_key = v[LKR_DEV_KEY].i != 0;
    rep->shard_of = shard_ranks(&v[LKR_BUILD_FACTS]);

    /* Identity: never trust the stored hashes. */
    unsigned char d[LK_HASH_LEN];
    char hex[LK_HEX_LEN + 1];
    if ((rc = lk_sha256(&R->hd, v[LKR_CONFIG_TEXT].p, v[LKR_CONFIG_TEXT].n, d, e)))
        goto out;
    ms_hex(d, LK_HASH_LEN, hex);
    if (!lk_vtext_is(&v[LKR_CONFIG_SHA256], hex)) {
        rc = fail_at(rep, "runs", 0, e, MS_ECHECK,
                     "runs: config_sha256 differs from SHA-256(config_text): config_text or its hash was changed");
        goto out;
    }
    if ((rc = lk_genesis(&R->hd, v[LKR_RUN_ID].p, v[LKR_RUN_ID].n, v[LKR_CONFIG_TEXT].p, v[LKR_CONFIG_TEXT].n,
                         (uint64_t)v[LKR_SEED].i, w.head, e)))
        goto out;
    ms_hex(w.head, LK_HASH_LEN, rep->genesis);
    if (!lk_vtext_is(&v[LKR_GENESIS], rep->genesis)) {
        rc = fail_at(rep, "runs", 0, e, MS_ECHECK,
                     "runs: genesis differs from the hash of run_id, config_text and seed: the run's identity (e.g. "
                     "its seed) was changed");
        goto out;
    }
    char origin[300], rid[260];
    lk_safe_text(rid, sizeof rid, &v[LKR_RUN_ID]);
    snprintf(origin, sizeof origin, "marlsim/%s", rid);
    size_t ol = strlen(origin);
    if (!lk_vtext_is(&v[LKR_ORIGIN], origin) &&
        !(v[LKR_ORIGIN].n == ol + 10 && !memcmp(v[LKR_ORIGIN].p, origin, ol) &&
          !memcmp((const char *)v[LKR_ORIGIN].p + ol, "/reproduce", 10))) {
        rc = fail_at(rep, "runs", 0, e, MS_ECHECK, "runs: origin is neither %s nor %s/reproduce", origin, origin);
        goto out;
    }

    /* Checkpoints: read and check their text first; their roots are
     * compared while the ledger is walked. */
    if ((rc = read_checkpoints(R, &run, o, &cps, &ncp, rep, e)))
        goto out;
    w.want = cps;
    w.nwant = ncp;
    if (o && o->checkpoint) {
        ms_checkpoint cp;
        if ((rc = open_checkpoint(o->checkpoint, o->checkpoint_len, o->trusted, "the given checkpoint", 1, &cp, NULL,
                                  rep, e)))
            goto out;
        if (strcmp(cp.origin, rep->origin) != 0) {
            char co[300];
            lk_value cv = lk_text(cp.origin);
            lk_safe_text(co, sizeof co, &cv);
            rc = fail_at(rep, "checkpoints", 0, e, MS_ECHECK,
                         "the given checkpoint is for %s, this lake is %s: another run (seed, config or keyring)",
                         co, rep->origin);
            goto out;
        }
        if (cp.size > INT64_MAX) {
            rc = fail_at(rep, "checkpoints", 0, e, MS_ECHECK, "the given checkpoint's tree size is out of range");
            goto out;
        }
        w.ext_size = (int64_t)cp.size;
        rep->ext_size = w.ext_size;
        memcpy(w.ext_root, cp.root, LK_HASH_LEN);
    }

    if (w.ext_size == 0) { /* the empty tree */
        unsigned char root[LK_HASH_LEN];
        if ((rc = ms_merkle_acc_root(&w.tree, root, e)))
            goto out;
        if (memcmp(root, w.ext_root, LK_HASH_LEN)) {
            rc = fail_at(rep, "ledger", 0, e, MS_ECHECK, "the given checkpoint's empty tree has a wrong root");
            goto out;
        }
        w.ext_match = 1;
    }
    w.xcls = v[LKR_EXPORTED_CLASS].type == LK_TEXT ? lk_class_find(v[LKR_EXPORTED_CLASS].p, v[LKR_EXPORTED_CLASS].n) : -1;
    if ((rc = load_tombstones(R, &w, rep, e)) || (rc = walk_ledger(R, &run, &w, hashes != NULL, rep, e)))
        goto out;
    if (w.next < w.nwant) {
        rc = fail_at(rep, "checkpoints", w.next + 1, e, MS_ECHECK,
                     "checkpoint %" PRId64 " covers %" PRId64 " entries, but the ledger holds %" PRId64
                     ": the ledger's tail was removed", w.next + 1, w.want[w.next].size, w.entries);
        goto out;
    }
    if (w.ext_size > w.entries) {
        rc = fail_at(rep, "ledger", w.entries, e, MS_ECHECK,
                     "truncated: the given checkpoint commits to %" PRId64 " ledger entries, the lake holds %" PRId64,
                     w.ext_size, w.entries);
        goto out;
    }
    if (st == 1 && !w.sealed) {
        rc = fail_at(rep, "runs", w.entries, e, MS_ECHECK,
                     "runs: status is 'completed' but the ledger has no seal: the run never completed, or the "
                     "ledger tail was removed");
        goto out;
    }
    if (st != 1 && w.sealed) {
        rc = fail_at(rep, "runs", w.entries, e, MS_ECHECK, "runs: status is '%s' but the ledger is sealed (the run "
                     "completed)", statuses[st]);
        goto out;
    }
    if (w.in_purges && st == 0) {
        rc = fail_at(rep, "runs", w.entries, e, MS_ECHECK,
                     "runs: status is 'running', but the ledger holds purges (a purge only follows the end of a run)");
        goto out;
    }
    if ((rc = check_purges(R, &run, &w, rep, e)) || (rc = check_totals(R, &run, &w, rep, e)))
        goto out;

    /* What the newest checkpoint says about how the run ended. */
    if (ncp) {
        rep->cp_size = cps[ncp - 1].size;
        ms_b64_encode(cps[ncp - 1].root, LK_HASH_LEN, rep->cp_root);
        snprintf(rep->cp_status, sizeof rep->cp_status, "%s", cps[ncp - 1].status);
    }
    rep->checkpoints = ncp;
    /* A running lake's newest checkpoint states no end — or an earlier
     * interruption the run was resumed from (run --resume): then entries
     * follow it, committed with the status turned back to running. */
    int resumed_from = (!strcmp(rep->cp_status, "interrupted") || !strcmp(rep->cp_status, "failed")) &&
                       rep->cp_size < w.entries;
    int final_ok = st == 0 ? rep->cp_status[0] == 0 || resumed_from
                           : rep->cp_size == w.entries && !strcmp(rep->cp_status, statuses[st]);
    if (ncp && !final_ok && st != 0) {
        rc = fail_at(rep, "runs", w.entries, e, MS_ECHECK,
                     "runs: status is '%s', but the newest checkpoint (tree size %" PRId64 ") %s%s", statuses[st],
                     rep->cp_size, rep->cp_status[0] ? "states " : "states no final status",
                     rep->cp_status);
        goto out;
    }
    if (ncp && st == 0 && !final_ok) {
        rc = fail_at(rep, "runs", w.entries, e, MS_ECHECK,
                     "runs: status is 'running', but the newest checkpoint states the run %s", rep->cp_status);
        goto out;
    }
    /* Periodic checkpoints (no status) stand exactly at every
     * checkpoint_every-th entry of the run, none missing, none repeated: the
     * writer signs each in the transaction of the entry that reaches it, so
     * any committed prefix holds all of its own. Checkpoints with a status
     * (an end, an interruption, a purge) may stand anywhere. */
    if (ncp) {
        int64_t every = stored_checkpoint_every(&v[LKR_CONFIG_TEXT]);
        for (int64_t k = 0; k < ncp && every == INT64_MAX; k++)
            if (!cps[k].status[0])
                every = cps[k].size; /* a config that does not say (lake_create's callers other than runs) */
        int64_t want = every, run_entries = w.entries - w.purge_entries;
        for (int64_t k = 0; k < ncp; k++) {
            if (cps[k].status[0])
                continue;
            if (cps[k].size != want) {
                rc = fail_at(rep, "checkpoints", k + 1, e, MS_ECHECK,
                             "checkpoint %" PRId64 " (tree size %" PRId64 ") is not where the run signs its periodic "
                             "checkpoints (the next is due at %" PRId64 ", every %" PRId64 " entries): checkpoints "
                             "were removed, repeated or added", k + 1, cps[k].size, want, every);
                goto out;
            }
            want += every;
        }
        if (every != INT64_MAX && want <= run_entries) {
            rc = fail_at(rep, "checkpoints", 0, e, MS_ECHECK,
                         "the checkpoint at tree size %" PRId64 " is missing (the run signs one every %" PRId64
                         " entries and holds %" PRId64 "): it was removed", want, every, run_entries);
            goto out;
        }
    }
    if (o && o->trusted) {
        if (rep->dev_key) {
            snprintf(rep->unsigned_why, sizeof rep->unsigned_why,
                     "the lake was made with the development key, which signs nothing");
        } else if (!ncp && st == 0 && w.entries >= stored_checkpoint_every(&v[LKR_CONFIG_TEXT])) {
            rc = fail_at(rep, "checkpoints", 0, e, MS_ECHECK,
                         "the lake holds %lld entries but no signed checkpoint, although its config makes one every "
                         "%lld: they were removed", (long long)w.entries,
                         (long long)stored_checkpoint_every(&v[LKR_CONFIG_TEXT]));
            goto out;
        } else if (!ncp && st == 0) {
            snprintf(rep->unsigned_why, sizeof rep->unsigned_why,
                     "the run stopped before its first signed checkpoint (after %lld entries)",
                     (long long)w.entries);
        } else if (!ncp) {
            rc = fail_at(rep, "checkpoints", 0, e, MS_ECHECK,
                         "the lake holds no signed checkpoint, yet its run ended (%s): a marlsim lake with a signing "
                         "key always has one; they were removed", statuses[st]);
            goto out;
        } else if (st != 0 && !final_ok) {
            rc = fail_at(rep, "checkpoints", ncp, e, MS_ECHECK, "the newest checkpoint does not state the run's end");
            goto out;
        } else if (rep->cp_size < w.entries) {
            /* A running (or killed) run: the trusted key vouches for the
             * signed prefix only; the tail could be anyone's. */
            rep->signed_size = rep->cp_size;
            snprintf(rep->unsigned_why, sizeof rep->unsigned_why,
                     "entries %lld to %lld come after the newest signed checkpoint (the run is running, or was "
                     "killed)", (long long)rep->cp_size + 1, (long long)w.entries);
        } else {
            rep->authenticated = 1;
            rep->signed_size = w.entries;
        }
    }
    if (o && o->check_key_id && !rep->dev_key) {
        sqlite3_stmt *ks;
        if ((rc = lk_prep(R, "SELECT value FROM json_each(?1)", &ks, e)))
            goto out;
        sqlite3_bind_text(ks, 1, v[LKR_KEY_IDS].p, (int)v[LKR_KEY_IDS].n, SQLITE_STATIC);
        int s2, count = 0;
        while (!rc && (s2 = sqlite3_step(ks)) == SQLITE_ROW && count++ < 1 << 20) {
            const unsigned char *kid = sqlite3_column_text(ks, 0);
            char safe[64];
            lk_value kv = lk_text((const char *)kid);
            lk_safe_text(safe, sizeof safe, &kv);
            rc = o->check_key_id(o->check_ctx, safe, e);
        }
        sqlite3_finalize(ks);
        if (rc)
            goto out;
    }

    for (int t = 0; t < LKT_COUNT; t++) {
        rep->rows[t] = w.covered[t] - w.purged[t] + (t == LKT_TOMBSTONES ? rep->export_entries : 0);
        rep->total_rows += rep->rows[t];
        rep->purged_rows[t] = w.purged[t];
    }
    rep->purged_entries = w.purged_entries;
    rep->entries = w.entries;
    rep->env_steps = v[LKR_ENV_STEPS].i;
    rep->sealed = w.sealed;
    rep->complete = st == 1;
    ms_hex(w.head, LK_HASH_LEN, rep->head);
    rep->table[0] = '\0';
    rep->seq = 0;
    if (hashes) {
        *hashes = w.hashes;
        w.hashes = NULL;
    }
out:
    free(w.hashes);
    free(w.tomb);
    free(cps);
    free(run.store);
    return rc;
}

int lk_verified(const char *path, const lake_verify_opts *opts, lake_verify_report *rep,
                unsigned char (**hashes)[LK_HASH_LEN], int (*then)(lk_reader *R, void *ctx, ms_err *e),
                void (*undo)(void *ctx), void *ctx, ms_err *e)
{
    lake_verify_report tmp;
    if (!rep)
        rep = &tmp;
    memset(rep, 0, sizeof *rep);
    if (hashes)
        *hashes = NULL;
    lk_reader R;
    int rc = lk_reader_open(&R, path, rep->table, e);
    if (rc)
        return rc;
    rc = lk_verify_open(&R, opts, rep, hashes, e);
    int did = 0;
    if (!rc && then && !(rc = then(&R, ctx, e)))
        did = 1;
    if (!rc && (rc = lk_reader_unchanged(&R, e)) && did && undo)
        undo(ctx);
    if (rc && hashes) {
        free(*hashes);
        *hashes = NULL;
    }
    lk_reader_close(&R);
    return rc;
}

int lake_verify(const char *path, const lake_verify_opts *opts, lake_verify_report *rep, ms_err *e)
{
    return lk_verified(path, opts, rep, NULL, NULL, NULL, NULL, e);
}
