/* lake_attack — the attacker of the trust tests (tests/trust.sh).
 *
 * It holds what SPEC §5's attacker holds: the lake file, the binary's
 * source (ledger/canon.h documents every hashed byte) and the sqlite3
 * library; not the keyring. It rewrites a lake so that its chain is
 * consistent again after an edit:
 *
 *   lake_attack rechain DB [--drop-checkpoints]
 *     recomputes config_sha256 and the genesis from the stored config text,
 *     every behavioural entry's commitment from its stored salt and rows,
 *     every entry hash in order, and runs.head_hash / ledger_rows /
 *     row_counts; with --drop-checkpoints also deletes every checkpoint row
 *     (a forger cannot re-sign them without the key).
 *
 * Append-only triggers are dropped and re-created with their exact text, so
 * the schema check passes. Exit 0 done, 2 could not.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "ledger/canon.h"
#include "ledger/schema.h"

static sqlite3 *db;

static void die(const char *what)
{
    fprintf(stderr, "lake_attack: %s: %s\n", what, db ? sqlite3_errmsg(db) : "?");
    exit(2);
}

static void exec(const char *sql)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        die(sql);
}

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

int main(int argc, char **argv)
{
    if (argc < 3 || strcmp(argv[1], "rechain") || (argc == 4 && strcmp(argv[3], "--drop-checkpoints")) || argc > 4) {
        fprintf(stderr, "usage: lake_attack rechain DB [--drop-checkpoints]\n");
        return 2;
    }
    int drop_cp = argc == 4;
    if (sqlite3_open(argv[2], &db) != SQLITE_OK)
        die("open");
    ms_err e;
    lk_hasher h, hc;
    lk_buf buf = {0};
    if (lk_hasher_init(&h, &e) || lk_hasher_init(&hc, &e))
        die(e.msg);
    exec("BEGIN");
    /* Keep every trigger's text; drop them all; re-create at the end. */
    sqlite3_stmt *st;
    char *trig[64];
    int ntrig = 0;
    if (sqlite3_prepare_v2(db, "SELECT name, sql FROM sqlite_schema WHERE type = 'trigger'", -1, &st, NULL))
        die("triggers");
    while (sqlite3_step(st) == SQLITE_ROW && ntrig < 64) {
        char drop[256];
        snprintf(drop, sizeof drop, "DROP TRIGGER \"%s\"", sqlite3_column_text(st, 0));
        trig[ntrig++] = strdup((const char *)sqlite3_column_text(st, 1));
        sqlite3_exec(db, drop, NULL, NULL, NULL);
    }
    sqlite3_finalize(st);
    if (drop_cp)
        exec("DELETE FROM checkpoints");

    /* The runs row: identity, config hash, genesis. */
    lk_value run[LKR_NCOLS];
    char q[4096];
    size_t k = (size_t)snprintf(q, sizeof q, "SELECT ");
    for (int c = 0; c < LKR_NCOLS; c++)
        k += (size_t)snprintf(q + k, sizeof q - k, "%s%s", c ? "," : "", lk_runs_columns[c].name);
    snprintf(q + k, sizeof q - k, " FROM runs");
    sqlite3_stmt *rs;
    if (sqlite3_prepare_v2(db, q, -1, &rs, NULL) || sqlite3_step(rs) != SQLITE_ROW)
        die("runs");
    for (int c = 0; c < LKR_NCOLS; c++)
        run[c] = col(rs, c);
    unsigned char cfg[32], head[32];
    char hex[65];
    lk_sha256(&h, run[LKR_CONFIG_TEXT].p, run[LKR_CONFIG_TEXT].n, cfg, &e);
    ms_hex(cfg, 32, hex);
    run[LKR_CONFIG_SHA256] = lk_text(hex);
    lk_genesis(&h, run[LKR_RUN_ID].p, run[LKR_RUN_ID].n, run[LKR_CONFIG_TEXT].p, run[LKR_CONFIG_TEXT].n,
               (uint64_t)run[LKR_SEED].i, head, &e);
    char genesis[65];
    ms_hex(head, 32, genesis);
    sqlite3_stmt *up;
    if (sqlite3_prepare_v2(db, "UPDATE runs SET config_sha256 = ?1, genesis = ?2", -1, &up, NULL))
        die("prepare");
    sqlite3_bind_text(up, 1, hex, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(up, 2, genesis, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(up) != SQLITE_DONE)
        die("update runs");
    sqlite3_finalize(up);

    /* Every entry, in order. */
    sqlite3_stmt *led, *salt, *upd;
    if (sqlite3_prepare_v2(db, "SELECT seq, tbl, step, first_rowid, n_rows FROM ledger ORDER BY seq", -1, &led, NULL) ||
        sqlite3_prepare_v2(db, "SELECT salt FROM salts WHERE seq = ?1", -1, &salt, NULL) ||
        sqlite3_prepare_v2(db, "UPDATE ledger SET commitment = ?1, hash = ?2 WHERE seq = ?3", -1, &upd, NULL))
        die("prepare");
    int64_t n = 0, rows[LKT_COUNT] = {0};
    while (sqlite3_step(led) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(led, 0), step = sqlite3_column_int64(led, 2),
                first = sqlite3_column_int64(led, 3), nr = sqlite3_column_int64(led, 4);
        const char *tbl = (const char *)sqlite3_column_text(led, 1);
        int kind = lk_runs_entry_find(tbl, strlen(tbl)), t = kind >= 0 ? -1 : lk_table_find(tbl, strlen(tbl));
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
            sqlite3_stmt *r;
            if (sqlite3_prepare_v2(db, q, -1, &r, NULL))
                die("rows");
            while (sqlite3_step(r) == SQLITE_ROW) {
                lk_value v[LK_MAX_COLS];
                for (int c = 0; c < T->ncols; c++)
                    v[c] = col(r, c);
                lk_put_row(&buf, v, T->ncols, &e);
            }
            sqlite3_finalize(r);
            rows[t] += nr;
        }
        int salted = t >= 0 && lk_table_salted(t), committed = t >= 0;
        if (committed) {
            lk_hash_begin(&hc, &e);
            if (salted) {
                sqlite3_reset(salt);
                sqlite3_bind_int64(salt, 1, seq);
                if (sqlite3_step(salt) != SQLITE_ROW)
                    die("salt");
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
        if (sqlite3_step(upd) != SQLITE_DONE)
            die("update ledger");
        n = seq;
    }
    sqlite3_finalize(led);
    sqlite3_finalize(salt);
    sqlite3_finalize(upd);
    sqlite3_finalize(rs);
    char counts[1024];
    lk_row_counts_json(rows, counts, sizeof counts);
    ms_hex(head, 32, hex);
    if (sqlite3_prepare_v2(db, "UPDATE runs SET head_hash = ?1, ledger_rows = ?2, row_counts = ?3", -1, &up, NULL))
        die("prepare");
    sqlite3_bind_text(up, 1, hex, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(up, 2, n);
    sqlite3_bind_text(up, 3, counts, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(up) != SQLITE_DONE)
        die("update runs");
    sqlite3_finalize(up);
    for (int i = 0; i < ntrig; i++) {
        exec(trig[i]);
        free(trig[i]);
    }
    exec("COMMIT");
    sqlite3_close(db);
    lk_buf_release(&buf);
    lk_hasher_release(&h);
    lk_hasher_release(&hc);
    printf("rechained %lld entries, head %s\n", (long long)n, hex);
    return 0;
}
