/* rechain.c — see rechain.h. */
#include "tests/tools/rechain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "ledger/canon.h"
#include "ledger/schema.h"

static lk_value col(sqlite3_stmt *st, int i)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER: return lk_int(sqlite3_column_int64(st, i));
    case SQLITE_FLOAT: return lk_real(sqlite3_column_double(st, i));
    case SQLITE_TEXT: return lk_textn((const char *)sqlite3_column_text(st, i), (size_t)sqlite3_column_bytes(st, i));
    case SQLITE_BLOB: return lk_blob(sqlite3_column_blob(st, i), (size_t)sqlite3_column_bytes(st, i));
    default: return lk_null();
    }
}

typedef struct rc_state {
    sqlite3 *db;
    char *err;
    size_t errcap;
    int failed;
} rc_state;

static int fail(rc_state *s, const char *what)
{
    if (!s->failed)
        snprintf(s->err, s->errcap, "%s: %s", what, sqlite3_errmsg(s->db));
    s->failed = 1;
    return -1;
}

static int exec(rc_state *s, const char *sql)
{
    return sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : fail(s, sql);
}

/* The walk itself, inside the open transaction. */
static int walk(rc_state *s, int drop_cp, int64_t *entries, char head_out[65])
{
    sqlite3 *db = s->db;
    ms_err e;
    lk_hasher h, hc;
    lk_buf buf = {0};
    int rc = -1, ntrig = 0;
    char *trig[64];
    sqlite3_stmt *st = NULL, *rs = NULL, *up = NULL, *led = NULL, *salt = NULL, *upd = NULL, *r = NULL;
    if (lk_hasher_init(&h, &e) || lk_hasher_init(&hc, &e)) {
        snprintf(s->err, s->errcap, "%s", e.msg);
        return -1;
    }
    /* Keep every trigger's text; drop them all; re-create at the end. */
    if (sqlite3_prepare_v2(db, "SELECT name, sql FROM sqlite_schema WHERE type = 'trigger'", -1, &st, NULL)) {
        fail(s, "triggers");
        goto out;
    }
    while (sqlite3_step(st) == SQLITE_ROW && ntrig < 64) {
        const unsigned char *name = sqlite3_column_text(st, 0), *sql = sqlite3_column_text(st, 1);
        if (!name || !sql)
            continue;
        char *drop = sqlite3_mprintf("DROP TRIGGER \"%w\"", (const char *)name);
        trig[ntrig] = strdup((const char *)sql);
        if (!drop || !trig[ntrig]) {
            sqlite3_free(drop);
            free(trig[ntrig]);
            snprintf(s->err, s->errcap, "out of memory");
            goto out;
        }
        ntrig++;
        sqlite3_exec(db, drop, NULL, NULL, NULL); /* a trigger that will not drop fails the updates below */
        sqlite3_free(drop);
    }
    sqlite3_finalize(st);
    st = NULL;
    if (drop_cp && exec(s, "DELETE FROM checkpoints"))
        goto out;

    /* The runs row: identity, config hash, genesis. */
    lk_value run[LKR_NCOLS];
    char q[4096];
    size_t k = (size_t)snprintf(q, sizeof q, "SELECT ");
    for (int c = 0; c < LKR_NCOLS; c++)
        k += (size_t)snprintf(q + k, sizeof q - k, "%s%s", c ? "," : "", lk_runs_columns[c].name);
    snprintf(q + k, sizeof q - k, " FROM runs");
    if (sqlite3_prepare_v2(db, q, -1, &rs, NULL) || sqlite3_step(rs) != SQLITE_ROW) {
        fail(s, "runs");
        goto out;
    }
    for (int c = 0; c < LKR_NCOLS; c++)
        run[c] = col(rs, c);
    if (run[LKR_CONFIG_TEXT].type != LK_TEXT || run[LKR_RUN_ID].type != LK_TEXT || run[LKR_SEED].type != LK_INT) {
        snprintf(s->err, s->errcap, "runs: run_id, config_text or seed of the wrong type");
        goto out;
    }
    unsigned char cfg[32], head[32];
    char hex[65];
    lk_sha256(&h, run[LKR_CONFIG_TEXT].p, run[LKR_CONFIG_TEXT].n, cfg, &e);
    ms_hex(cfg, 32, hex);
    run[LKR_CONFIG_SHA256] = lk_text(hex);
    lk_genesis(&h, run[LKR_RUN_ID].p, run[LKR_RUN_ID].n, run[LKR_CONFIG_TEXT].p, run[LKR_CONFIG_TEXT].n,
               (uint64_t)run[LKR_SEED].i, head, &e);
    char genesis[65];
    ms_hex(head, 32, genesis);
    if (sqlite3_prepare_v2(db, "UPDATE runs SET config_sha256 = ?1, genesis = ?2", -1, &up, NULL)) {
        fail(s, "prepare");
        goto out;
    }
    sqlite3_bind_text(up, 1, hex, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(up, 2, genesis, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(up) != SQLITE_DONE) {
        fail(s, "update runs");
        goto out;
    }
    sqlite3_finalize(up);
    up = NULL;

    /* Every entry, in order. */
    if (sqlite3_prepare_v2(db, "SELECT seq, tbl, step, first_rowid, n_rows FROM ledger ORDER BY seq", -1, &led,
                           NULL) ||
        sqlite3_prepare_v2(db, "SELECT salt FROM salts WHERE seq = ?1", -1, &salt, NULL) ||
        sqlite3_prepare_v2(db, "UPDATE ledger SET commitment = ?1, hash = ?2 WHERE seq = ?3", -1, &upd, NULL)) {
        fail(s, "prepare");
        goto out;
    }
    int64_t n = 0, rows[LKT_COUNT] = {0};
    int src;
    while ((src = sqlite3_step(led)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(led, 0), step = sqlite3_column_int64(led, 2),
                first = sqlite3_column_int64(led, 3), nr = sqlite3_column_int64(led, 4);
        const char *tbl = (const char *)sqlite3_column_text(led, 1);
        if (!tbl) {
            snprintf(s->err, s->errcap, "ledger entry %lld has no table", (long long)seq);
            goto out;
        }
        int kind = lk_runs_entry_find(tbl, strlen(tbl)), t = kind >= 0 ? -1 : lk_table_find(tbl, strlen(tbl));
        if (kind < 0 && t < 0) {
            snprintf(s->err, s->errcap, "ledger entry %lld names an unknown table", (long long)seq);
            goto out;
        }
        unsigned char hdr[128], commit[32];
        int ncols = kind >= 0 ? lk_runs_entries[kind].ncols : lk_tables[t].ncols;
        size_t hn = lk_entry_header(hdr, seq, tbl, step, first, (uint32_t)nr, (uint32_t)ncols);
        buf.len = 0;
        if (kind >= 0) {
            lk_value v[LKR_NCOLS];
            for (int c = 0; c < ncols; c++)
                v[c] = run[lk_runs_entries[kind].cols[c]];
            lk_put_row(&buf, v, ncols, &e);
        } else {
            const lk_table *T = &lk_tables[t];
            k = (size_t)snprintf(q, sizeof q, "SELECT ");
            for (int c = 0; c < T->ncols; c++)
                k += (size_t)snprintf(q + k, sizeof q - k, "%s%s", c ? "," : "", T->cols[c].name);
            snprintf(q + k, sizeof q - k, " FROM %s WHERE rowid BETWEEN %lld AND %lld ORDER BY rowid", T->name,
                     (long long)first, (long long)(first + nr - 1));
            if (sqlite3_prepare_v2(db, q, -1, &r, NULL)) {
                fail(s, "rows");
                goto out;
            }
            while (sqlite3_step(r) == SQLITE_ROW) {
                lk_value v[LK_MAX_COLS];
                for (int c = 0; c < T->ncols; c++)
                    v[c] = col(r, c);
                lk_put_row(&buf, v, T->ncols, &e);
            }
            sqlite3_finalize(r);
            r = NULL;
            rows[t] += nr;
        }
        int salted = t >= 0 && lk_table_salted(t), committed = t >= 0;
        if (committed) {
            lk_hash_begin(&hc, &e);
            if (salted) {
                sqlite3_reset(salt);
                sqlite3_bind_int64(salt, 1, seq);
                if (sqlite3_step(salt) != SQLITE_ROW || sqlite3_column_bytes(salt, 0) != 32) {
                    snprintf(s->err, s->errcap, "entry %lld has no 32-byte salt", (long long)seq);
                    goto out;
                }
                lk_hash_add(&hc, sqlite3_column_blob(salt, 0), 32, &e);
            }
            lk_hash_add(&hc, buf.p, buf.len, &e);
            lk_hash_end(&hc, commit, &e);
        }
        lk_hash_begin(&h, &e);
        lk_hash_add(&h, head, 32, &e);
        lk_hash_add(&h, hdr, hn, &e);
        if (committed)
            lk_hash_add(&h, commit, 32, &e);
        else
            lk_hash_add(&h, buf.p, buf.len, &e);
        lk_hash_end(&h, head, &e);
        sqlite3_reset(upd);
        if (committed)
            sqlite3_bind_blob(upd, 1, commit, 32, SQLITE_TRANSIENT);
        else
            sqlite3_bind_null(upd, 1);
        sqlite3_bind_blob(upd, 2, head, 32, SQLITE_TRANSIENT);
        sqlite3_bind_int64(upd, 3, seq);
        if (sqlite3_step(upd) != SQLITE_DONE) {
            fail(s, "update ledger");
            goto out;
        }
        n = seq;
    }
    if (src != SQLITE_DONE) {
        fail(s, "ledger");
        goto out;
    }
    char counts[1024];
    lk_row_counts_json(rows, counts, sizeof counts);
    ms_hex(head, 32, hex);
    if (sqlite3_prepare_v2(db, "UPDATE runs SET head_hash = ?1, ledger_rows = ?2, row_counts = ?3", -1, &up, NULL)) {
        fail(s, "prepare");
        goto out;
    }
    sqlite3_bind_text(up, 1, hex, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(up, 2, n);
    sqlite3_bind_text(up, 3, counts, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(up) != SQLITE_DONE) {
        fail(s, "update runs");
        goto out;
    }
    for (int i = 0; i < ntrig; i++)
        if (exec(s, trig[i]))
            goto out;
    if (entries)
        *entries = n;
    if (head_out)
        memcpy(head_out, hex, 65);
    rc = 0;
out:
    for (int i = 0; i < ntrig; i++)
        free(trig[i]);
    sqlite3_finalize(st);
    sqlite3_finalize(rs);
    sqlite3_finalize(up);
    sqlite3_finalize(led);
    sqlite3_finalize(salt);
    sqlite3_finalize(upd);
    sqlite3_finalize(r);
    lk_buf_release(&buf);
    lk_hasher_release(&h);
    lk_hasher_release(&hc);
    return rc;
}

int lake_rechain(sqlite3 *db, int drop_checkpoints, int64_t *entries, char head[65], char *err, size_t errcap)
{
    rc_state s = {db, err, errcap, 0};
    err[0] = 0;
    if (exec(&s, "BEGIN"))
        return -1;
    if (walk(&s, drop_checkpoints, entries, head)) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL); /* already failing: the first error is the one reported */
        return -1;
    }
    return exec(&s, "COMMIT");
}
