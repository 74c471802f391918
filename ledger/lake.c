/* lake.c — the lake writer (contract in lake.h). */
#include "ledger/lake.h"
#include "ledger/rovfs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "base/b64.h"
#include "base/file.h"
#include "base/hmac.h"
#include "ledger/note.h"

enum { ST_IDLE, ST_TX, ST_BROKEN, ST_FINISHED };

/* Longest lake path handled, side-file suffixes included. */
#define MS_LAKE_PATH_MAX 4096

/* Flush the row buffer into the hash once it holds this much. */
#define FLUSH_BYTES (256u * 1024u)

/* A checkpoint note fits here (origin, size, root, status, signature). */
#define CP_NOTE_MAX 2048

/* Ledger state that moves forward on append and is restored on rollback. */
typedef struct chain_state {
    int64_t seq;
    unsigned char head[LK_HASH_LEN];
    int64_t rows[LKT_COUNT];     /* rows appended (the ledger covers rowids 1..rows) */
    int64_t present[LKT_COUNT];  /* rows the table holds (rows less purged, plus an
                                    export's unchained tombstones): runs.row_counts */
    ms_merkle_acc tree;  /* RFC 6962 compact range over the entry hashes */
    int64_t cp_count;    /* checkpoint rows */
    int64_t cp_size;     /* tree size of the newest checkpoint (0 = none) */
    unsigned char cp_root[LK_HASH_LEN];
    int64_t env_steps;   /* runs.env_steps as of this state */
} chain_state;

struct lake {
    sqlite3 *db;
    sqlite3_stmt *ins[LKT_COUNT];
    sqlite3_stmt *ins_ledger, *ins_salt, *ins_cp, *upd_runs, *fin_runs, *tx_begin, *tx_commit,
        *tx_rollback;
    lk_hasher h;   /* entry hashes */
    lk_hasher hd;  /* digest columns */
    lk_hasher hc;  /* commitments of event entries */
    ms_hmac salt_mac; /* keyed with the commitment key */
    lk_buf buf;    /* canonical row bytes of the current append */
    int state;
    chain_state cur, committed;
    unsigned char genesis[LK_HASH_LEN];
    int64_t env_steps;
    /* copies of lake_run_info strings */
    char *run_id, *name, *config_text, *config_sha256, *version, *build_facts, *key_ids, *origin;
    char *path;
    uint64_t seed;
    int dev_key;
    const ms_note_signer *signer;
    int64_t cp_every;
    int cp_file;
    char cp_note[CP_NOTE_MAX]; /* the newest checkpoint made in the open transaction */
    size_t cp_note_len;        /* 0 = none pending for the file */
    char head_hex[2 * LK_HASH_LEN + 1];
    char status[16], finishing[16]; /* runs.status as committed; lake_finish's, until it commits */
    int fin_committed;         /* lake_finish's commit landed */
    /* A lake reopened for removals (lake_reopen): appends only purge entries. */
    int reopened;
    char *trig_sql[LKT_COUNT + 1]; /* DELETE triggers dropped by lake_remove_begin */
    int ntrig;
    /* A resumed lake (lake_resume): its first replay_n entries exist; the
     * run recomputes them, compares each with the verified hash and writes
     * nothing until it passes them ("replay"). */
    unsigned char (*replay)[LK_HASH_LEN];
    int64_t replay_n;
    int vtx;                   /* a transaction opened while replaying: no SQL yet */
    int live;                  /* the resumed run has written (status running again) */
    int lock_fd;               /* flock on the lake while a writer holds it (-1 none) */
};

/* ---- helpers ----------------------------------------------------------- */

static int sqlfail(lake *L, ms_err *e, const char *what)
{
    return ms_fail(e, MS_EIO, "lake: %s: %s", what, L->db ? sqlite3_errmsg(L->db) : "?");
}

static int exec_sql(lake *L, const char *sql, ms_err *e)
{
    char *msg = NULL;
    if (sqlite3_exec(L->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = ms_fail(e, MS_EIO, "lake: %s: %s", sql, msg ? msg : sqlite3_errmsg(L->db));
        sqlite3_free(msg);
        return rc;
    }
    return MS_OK;
}

static int prep(lake *L, const char *sql, sqlite3_stmt **st, ms_err *e)
{
    if (sqlite3_prepare_v3(L->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
        return sqlfail(L, e, "prepare");
    return MS_OK;
}

/* Runs a prepared statement that returns no rows, then resets it. */
static int run_stmt(lake *L, sqlite3_stmt *st, const char *what, ms_err *e)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sqlfail(L, e, what);
    return MS_OK;
}

static char *dup_str(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

static void utc_now(char out[32])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int bind_value(sqlite3_stmt *st, int idx, const lk_value *v)
{
    static const char empty[1] = "";
    switch (v->type) {
    case LK_INT: return sqlite3_bind_int64(st, idx, v->i);
    case LK_REAL: return sqlite3_bind_double(st, idx, v->r);
    case LK_TEXT:
        return sqlite3_bind_text(st, idx, v->n ? (const char *)v->p : empty, (int)v->n,
                                 SQLITE_STATIC);
    case LK_BLOB:
        return sqlite3_bind_blob(st, idx, v->n ? v->p : empty, (int)v->n, SQLITE_STATIC);
    default: return sqlite3_bind_null(st, idx);
    }
}

static const char *type_word(int t)
{
    switch (t) {
    case LK_NULL: return "NULL";
    case LK_INT: return "INTEGER";
    case LK_REAL: return "REAL";
    case LK_TEXT: return "TEXT";
    case LK_BLOB: return "BLOB";
    default: return "an unknown type";
    }
}

/* Checks one value against its column; MS_EINPUT naming table/row/column. */
static int check_value(const char *tbl, int row, const lk_column *col, const lk_value *v,
                       ms_err *e)
{
    if (v->type == LK_NULL) {
        if (!col->nullable)
            return ms_fail(e, MS_EINPUT, "lake: %s row %d: column %s must not be NULL", tbl,
                           row, col->name);
        return MS_OK;
    }
    if (v->type != col->type)
        return ms_fail(e, MS_EINPUT, "lake: %s row %d: column %s is %s, got %s", tbl, row,
                       col->name, type_word(col->type), type_word(v->type));
    if (v->type == LK_REAL && !isfinite(v->r))
        return ms_fail(e, MS_EINPUT,
                       "lake: %s row %d: column %s is not finite (%g); the lake stores only "
                       "finite REALs",
                       tbl, row, col->name, v->r);
    if (v->type == LK_TEXT || v->type == LK_BLOB) {
        if (v->n > LK_MAX_VALUE)
            return ms_fail(e, MS_EINPUT, "lake: %s row %d: column %s holds %zu bytes (max %u)",
                           tbl, row, col->name, v->n, LK_MAX_VALUE);
        if (v->n && !v->p)
            return ms_fail(e, MS_EINPUT, "lake: %s row %d: column %s has length %zu but no data",
                           tbl, row, col->name, v->n);
        if (v->type == LK_TEXT && v->n && memchr(v->p, 0, v->n))
            return ms_fail(e, MS_EINPUT, "lake: %s row %d: column %s contains a NUL byte", tbl,
                           row, col->name);
    }
    return MS_OK;
}

/* MS_OK when s is valid JSON, MS_EINPUT (e says which field) when it is
 * not, MS_EIO when SQLite could not tell (out of memory: the fault sweep's
 * failed allocation here was reported as "not valid JSON", bad input). */
static int check_json(lake *L, const char *s, const char *field, ms_err *e)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(L->db, "SELECT json_valid(?1)", -1, &st, NULL) != SQLITE_OK)
        return sqlfail(L, e, "prepare json_valid");
    int known = sqlite3_bind_text(st, 1, s, -1, SQLITE_STATIC) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
                sqlite3_column_type(st, 0) == SQLITE_INTEGER;
    int valid = known && sqlite3_column_int(st, 0) == 1;
    int rc = !known  ? sqlfail(L, e, "json_valid")
             : valid ? MS_OK
                     : ms_fail(e, MS_EINPUT, "lake: %s is not valid JSON", field);
    sqlite3_finalize(st);
    return rc;
}

/* ---- transactions ------------------------------------------------------ */

/* Rolls back the open transaction and restores the committed chain state. */
static void roll_back(lake *L)
{
    if (!sqlite3_get_autocommit(L->db)) {
        sqlite3_step(L->tx_rollback);
        sqlite3_reset(L->tx_rollback);
    }
    L->cur = L->committed;
    L->cp_note_len = 0;
    L->vtx = 0;
    ms_hex(L->cur.head, LK_HASH_LEN, L->head_hex);
}

/* Marks the handle broken after an SQLite/libcrypto failure. */
static int broken(lake *L, int rc)
{
    roll_back(L);
    L->state = ST_BROKEN;
    return rc;
}

static int state_check(lake *L, ms_err *e)
{
    if (!L)
        return ms_fail(e, MS_EINPUT, "lake: no lake");
    if (L->state == ST_BROKEN)
        return ms_fail(e, MS_EIO, "lake: unusable after an earlier error (last commit kept)");
    if (L->state == ST_FINISHED)
        return ms_fail(e, MS_EINPUT, "lake: the run is finished; nothing more can be appended");
    return MS_OK;
}

/* 1 while the next entry is one a resumed lake already holds. */
static int replaying(const lake *L)
{
    return L->cur.seq < L->replay_n;
}

/* Before the first write past the replayed prefix: the transaction that
 * was opened while replaying becomes a real one, and the first time the
 * run is marked running again. */
static int go_live(lake *L, ms_err *e)
{
    if (replaying(L))
        return MS_OK;
    if (L->vtx) {
        if (run_stmt(L, L->tx_begin, "BEGIN", e))
            return MS_EIO;
        L->vtx = 0;
    }
    if (L->replay_n && !L->live) {
        int rc = exec_sql(L, "UPDATE runs SET status = 'running', finished_at = NULL", e);
        if (rc)
            return rc;
        L->live = 1;
    }
    return MS_OK;
}

int lake_begin(lake *L, ms_err *e)
{
    int rc = state_check(L, e);
    if (rc)
        return rc;
    if (L->state == ST_TX)
        return ms_fail(e, MS_EINPUT, "lake: a transaction is already open");
    if (replaying(L))
        L->vtx = 1;
    else if (run_stmt(L, L->tx_begin, "BEGIN", e) || go_live(L, e))
        return broken(L, MS_EIO);
    L->state = ST_TX;
    return MS_OK;
}

/* Binds and runs the runs-row update of lake_commit (inside the tx). */
static int update_runs(lake *L, ms_err *e)
{
    char counts[1024], head[2 * LK_HASH_LEN + 1];
    lk_row_counts_json(L->cur.present, counts, sizeof counts);
    ms_hex(L->cur.head, LK_HASH_LEN, head);
    L->cur.env_steps = L->env_steps;
    sqlite3_stmt *st = L->upd_runs;
    int b = sqlite3_bind_text(st, 1, head, -1, SQLITE_TRANSIENT);
    b |= sqlite3_bind_int64(st, 2, L->cur.seq);
    b |= sqlite3_bind_text(st, 3, counts, -1, SQLITE_TRANSIENT);
    b |= sqlite3_bind_int64(st, 4, L->env_steps);
    b |= sqlite3_bind_text(st, 5, L->run_id, -1, SQLITE_STATIC);
    if (b != SQLITE_OK)
        return sqlfail(L, e, "bind runs update");
    int rc = run_stmt(L, st, "update runs", e);
    if (!rc && sqlite3_changes(L->db) != 1)
        rc = ms_fail(e, MS_EIO, "lake: the runs row is missing");
    return rc;
}

/* PATH.checkpoint, when this lake writes one. */
static int write_cp_file(lake *L, ms_err *e)
{
    if (!L->cp_file || !L->cp_note_len)
        return MS_OK;
    char p[MS_LAKE_PATH_MAX];
    snprintf(p, sizeof p, "%s.checkpoint", L->path);
    int rc = ms_write_atomic(p, L->cp_note, L->cp_note_len, 0644, 1, e);
    L->cp_note_len = 0;
    return rc;
}

static int commit_now(lake *L, ms_err *e)
{
    if (L->vtx) { /* replayed entries only: they are already in the lake */
        L->vtx = 0;
        L->committed = L->cur;
        L->state = ST_IDLE;
        return MS_OK;
    }
    if (update_runs(L, e) || run_stmt(L, L->tx_commit, "COMMIT", e))
        return broken(L, MS_EIO);
    L->committed = L->cur;
    L->state = ST_IDLE;
    if (L->finishing[0]) {
        memcpy(L->status, L->finishing, sizeof L->status);
        L->fin_committed = 1;
    } else if (L->live) {
        snprintf(L->status, sizeof L->status, "running"); /* go_live's update of a resumed lake */
    }
    if (write_cp_file(L, e)) {
        L->state = ST_BROKEN;
        return MS_EIO;
    }
    return MS_OK;
}

int lake_commit(lake *L, ms_err *e)
{
    int rc = state_check(L, e);
    if (rc)
        return rc;
    if (L->state != ST_TX)
        return ms_fail(e, MS_EINPUT, "lake: no transaction is open");
    return commit_now(L, e);
}

/* ---- append ------------------------------------------------------------ */

/* Makes checkpoint number cur.cp_count + 1 over the current tree, with an
 * optional status line, inserts its row and keeps its note for the file. */
static int make_checkpoint(lake *L, const char *status, ms_err *e)
{
    if (!L->signer)
        return MS_OK;
    unsigned char root[LK_HASH_LEN];
    char body[1024], ext[64];
    const char *exts[1] = {ext};
    size_t blen = 0, nlen = 0;
    int rc = ms_merkle_acc_root(&L->cur.tree, root, e);
    if (status)
        snprintf(ext, sizeof ext, "status: %s", status);
    if (!rc)
        rc = ms_checkpoint_format(L->origin, (uint64_t)L->cur.seq, root, exts, status ? 1 : 0, body, sizeof body,
                                  &blen, e);
    if (!rc)
        rc = ms_note_sign(body, blen, L->signer, L->cp_note, sizeof L->cp_note, &nlen, e);
    if (rc)
        return rc == MS_EINPUT ? MS_EIO : rc; /* our own text: a refusal is an internal failure */
    sqlite3_stmt *st = L->ins_cp;
    int b = sqlite3_bind_int64(st, 1, L->cur.cp_count + 1);
    b |= sqlite3_bind_int64(st, 2, L->cur.seq);
    b |= status ? sqlite3_bind_text(st, 3, status, -1, SQLITE_STATIC) : sqlite3_bind_null(st, 3);
    b |= sqlite3_bind_text(st, 4, L->cp_note, (int)nlen, SQLITE_STATIC);
    if (b != SQLITE_OK)
        return sqlfail(L, e, "bind checkpoint");
    if (run_stmt(L, st, "insert checkpoint", e))
        return MS_EIO;
    L->cur.cp_count++;
    L->cur.cp_size = L->cur.seq;
    memcpy(L->cur.cp_root, root, LK_HASH_LEN);
    L->cp_note_len = nlen;
    return MS_OK;
}

/* What an entry's body is (ledger/canon.h). */
enum { BODY_ROWS, BODY_COMMIT, BODY_SALTED };

/* Hashes the entry (its rows already hashed into L->h for a runs entry, or
 * into the commitment L->hc for an event entry) and inserts it, with its
 * commitment and salt. */
static int add_entry(lake *L, const char *tbl, int64_t step, int64_t first_rowid,
                     uint32_t n_rows, int kind, const unsigned char salt[LK_HASH_LEN], ms_err *e)
{
    unsigned char hash[LK_HASH_LEN], commit[LK_HASH_LEN];
    const int committed = kind != BODY_ROWS, salted = kind == BODY_SALTED;
    lk_hasher *body = committed ? &L->hc : &L->h;
    if (lk_hash_add(body, L->buf.p, L->buf.len, e))
        return MS_EIO;
    L->buf.len = 0;
    if (committed && (lk_hash_end(&L->hc, commit, e) || lk_hash_add(&L->h, commit, LK_HASH_LEN, e)))
        return MS_EIO;
    if (lk_hash_end(&L->h, hash, e))
        return MS_EIO;
    int64_t seq = L->cur.seq + 1;
    if (seq <= L->replay_n) {
        if (memcmp(hash, L->replay[seq - 1], LK_HASH_LEN))
            return ms_fail(e, MS_ECHECK,
                           "lake: the resumed run diverges from %s at ledger entry %" PRId64 " (%s, step %" PRId64
                           "): %s", L->path, seq, tbl, step,
                           seq <= 2 ? "the run's identity or build facts differ (another binary, library or "
                                      "config)"
                                    : "the lake does not hold what this run computes (another build, OpenBLAS core "
                                      "or key material, or an altered lake)");
        unsigned char leaf[LK_HASH_LEN];
        if (ms_merkle_leaf_hash(hash, LK_HASH_LEN, leaf, e) || ms_merkle_acc_push(&L->cur.tree, leaf, e))
            return MS_EIO;
        L->cur.seq = seq;
        memcpy(L->cur.head, hash, LK_HASH_LEN);
        return MS_OK; /* the entry, its salt and any checkpoint at it are in the lake */
    }
    if (go_live(L, e))
        return MS_EIO;
    sqlite3_stmt *st = L->ins_ledger;
    int b = sqlite3_bind_int64(st, 1, seq);
    b |= sqlite3_bind_text(st, 2, tbl, -1, SQLITE_STATIC);
    b |= sqlite3_bind_int64(st, 3, step);
    b |= sqlite3_bind_int64(st, 4, first_rowid);
    b |= sqlite3_bind_int64(st, 5, n_rows);
    b |= committed ? sqlite3_bind_blob(st, 6, commit, LK_HASH_LEN, SQLITE_STATIC) : sqlite3_bind_null(st, 6);
    b |= sqlite3_bind_blob(st, 7, hash, LK_HASH_LEN, SQLITE_STATIC);
    if (b != SQLITE_OK)
        return sqlfail(L, e, "bind ledger");
    if (run_stmt(L, st, "insert ledger", e))
        return MS_EIO;
    if (salted) {
        st = L->ins_salt;
        b = sqlite3_bind_int64(st, 1, seq);
        b |= sqlite3_bind_blob(st, 2, salt, LK_HASH_LEN, SQLITE_STATIC);
        if (b != SQLITE_OK)
            return sqlfail(L, e, "bind salt");
        if (run_stmt(L, st, "insert salt", e))
            return MS_EIO;
    }
    unsigned char leaf[LK_HASH_LEN];
    if (ms_merkle_leaf_hash(hash, LK_HASH_LEN, leaf, e) || ms_merkle_acc_push(&L->cur.tree, leaf, e))
        return MS_EIO;
    L->cur.seq = seq;
    memcpy(L->cur.head, hash, LK_HASH_LEN);
    if (L->signer && seq % L->cp_every == 0)
        return make_checkpoint(L, NULL, e);
    return MS_OK;
}

/* Starts the entry hash: previous hash || header; for an event entry also
 * its commitment: [salt ||] (rows follow). */
static int start_entry(lake *L, const char *tbl, int64_t step, int64_t first_rowid,
                       uint32_t n_rows, uint32_t ncols, int kind, unsigned char salt[LK_HASH_LEN],
                       ms_err *e)
{
    unsigned char hdr[64 + 32];
    size_t hn = lk_entry_header(hdr, L->cur.seq + 1, tbl, step, first_rowid, n_rows, ncols);
    L->buf.len = 0;
    if (lk_hash_begin(&L->h, e) || lk_hash_add(&L->h, L->cur.head, LK_HASH_LEN, e) ||
        lk_hash_add(&L->h, hdr, hn, e))
        return MS_EIO;
    if (kind != BODY_ROWS && lk_hash_begin(&L->hc, e))
        return MS_EIO;
    if (kind == BODY_SALTED && (lk_salt(&L->salt_mac, L->run_id, L->cur.seq + 1, salt, e) ||
                                lk_hash_add(&L->hc, salt, LK_HASH_LEN, e)))
        return MS_EIO;
    return MS_OK;
}

static int check_digest(lake *L, const lk_table *T, int row, const lk_value *v, ms_err *e)
{
    unsigned char d[LK_HASH_LEN];
    const lk_value *src = &v[T->digest_src], *dig = &v[T->digest_col];
    if (lk_sha256(&L->hd, src->p, src->n, d, e))
        return MS_EIO;
    if (T->digest_hex) {
        char hex[2 * LK_HASH_LEN + 1];
        ms_hex(d, LK_HASH_LEN, hex);
        if (dig->n != 2 * LK_HASH_LEN || memcmp(dig->p, hex, 2 * LK_HASH_LEN) != 0)
            return ms_fail(e, MS_EINPUT,
                           "lake: %s row %d: %s must be SHA-256(%s) in lowercase hex (%s)",
                           T->name, row, T->cols[T->digest_col].name,
                           T->cols[T->digest_src].name, hex);
    } else if (dig->n != LK_HASH_LEN || memcmp(dig->p, d, LK_HASH_LEN) != 0) {
        return ms_fail(e, MS_EINPUT, "lake: %s row %d: %s must be the 32-byte SHA-256(%s)",
                       T->name, row, T->cols[T->digest_col].name, T->cols[T->digest_src].name);
    }
    return MS_OK;
}

int lake_append(lake *L, int table, int64_t step, int n_rows, const lk_value *vals, ms_err *e)
{
    int rc = state_check(L, e);
    if (rc)
        return rc;
    if (table < 0 || table >= LKT_COUNT)
        return ms_fail(e, MS_EINPUT, "lake: no event table %d", table);
    const lk_table *T = &lk_tables[table];
    if (n_rows < 0 || (n_rows > 0 && !vals))
        return ms_fail(e, MS_EINPUT, "lake: %s: bad row count %d", T->name, n_rows);
    if (L->reopened != lk_table_is_purge(table))
        return ms_fail(e, MS_EINPUT, "lake: %s entries %s", T->name,
                       L->reopened ? "cannot be appended to a finished lake (only a purge's)"
                                   : "are appended by a purge only");
    if (n_rows == 0)
        return MS_OK;
    const int nc = T->ncols;

    /* 1. Validate everything before writing anything. */
    for (int r = 0; r < n_rows; r++) {
        const lk_value *v = vals + (size_t)r * (size_t)nc;
        uint64_t row_bytes = 0;
        for (int c = 0; c < nc; c++) {
            if ((rc = check_value(T->name, r, &T->cols[c], &v[c], e)))
                return rc;
            row_bytes += lk_value_size(&v[c]);
        }
        if (row_bytes > UINT32_MAX)
            return ms_fail(e, MS_EINPUT, "lake: %s row %d: %llu bytes is too large for one row",
                           T->name, r, (unsigned long long)row_bytes);
        if (T->digest_col >= 0 && (rc = check_digest(L, T, r, v, e)))
            return rc;
    }

    int own_tx = L->state == ST_IDLE;
    if (own_tx && (rc = lake_begin(L, e)))
        return rc;

    /* 2. Insert, encode, hash. */
    const int64_t first = L->cur.rows[table] + 1;
    const int kind = lk_table_salted(table) ? BODY_SALTED : BODY_COMMIT;
    lk_hasher *body = &L->hc;
    unsigned char salt[LK_HASH_LEN];
    if (start_entry(L, T->name, step, first, (uint32_t)n_rows, (uint32_t)nc, kind, salt, e))
        return broken(L, MS_EIO);
    sqlite3_stmt *st = L->ins[table];
    const int replayed = replaying(L); /* its rows are in the lake: hash only */
    if (!replayed && go_live(L, e))
        return broken(L, MS_EIO);
    for (int r = 0; r < n_rows; r++) {
        const lk_value *v = vals + (size_t)r * (size_t)nc;
        if (!replayed) {
            int b = SQLITE_OK;
            for (int c = 0; c < nc; c++)
                b |= bind_value(st, c + 1, &v[c]);
            if (b != SQLITE_OK) {
                sqlfail(L, e, "bind");
                return broken(L, MS_EIO);
            }
            int s = sqlite3_step(st);
            sqlite3_reset(st);
            if (s != SQLITE_DONE) {
                ms_fail(e, MS_EIO, "lake: insert into %s: %s", T->name, sqlite3_errmsg(L->db));
                return broken(L, MS_EIO);
            }
            if (sqlite3_last_insert_rowid(L->db) != first + r) {
                ms_fail(e, MS_EIO, "lake: %s: rowid %lld, expected %lld (table not append-only?)", T->name,
                        (long long)sqlite3_last_insert_rowid(L->db), (long long)(first + r));
                return broken(L, MS_EIO);
            }
        }
        if (lk_put_row(&L->buf, v, nc, e))
            return broken(L, MS_EIO);
        if (L->buf.len >= FLUSH_BYTES) {
            if (lk_hash_add(body, L->buf.p, L->buf.len, e))
                return broken(L, MS_EIO);
            L->buf.len = 0;
        }
    }
    if ((rc = add_entry(L, T->name, step, first, (uint32_t)n_rows, kind, salt, e)))
        return broken(L, rc == MS_ECHECK ? MS_ECHECK : MS_EIO);
    L->cur.rows[table] += n_rows;
    L->cur.present[table] += n_rows;
    ms_hex(L->cur.head, LK_HASH_LEN, L->head_hex);

    if (own_tx)
        return commit_now(L, e);
    return MS_OK;
}

/* ---- create ------------------------------------------------------------ */

static const char *const sync_names[] = {"off", "normal", "full", "extra"};

static int refuse_existing(const char *path, ms_err *e)
{
    return ms_fail(e, MS_EINPUT, "lake: %s already exists (refusing to overwrite it; --force replaces it)", path);
}

static int remove_file(const char *p, ms_err *e)
{
    if (unlink(p) != 0 && errno != ENOENT)
        return ms_fail(e, MS_EINPUT, "lake: cannot remove %s: %s", p, strerror(errno));
    return MS_OK;
}

/* The lake's side files: path-wal and path-shm. */
static const char *const side_suffix[2] = {"-wal", "-shm"};

/* Refuses an existing lake (or a stale side file) unless overwrite. Only a
 * check for a clear early message: place_file() decides atomically. */
static int check_path(const char *path, int overwrite, ms_err *e)
{
    char side[MS_LAKE_PATH_MAX];
    struct stat sb;
    if (strlen(path) + 32 > sizeof side)
        return ms_fail(e, MS_EINPUT, "lake: path too long: %s", path);
    if (lstat(path, &sb) == 0) {
        if (S_ISDIR(sb.st_mode))
            return ms_fail(e, MS_EINPUT, "lake: %s is a directory", path);
        if (!overwrite)
            return refuse_existing(path, e);
    }
    for (int k = 0; k < 2 && !overwrite; k++) {
        snprintf(side, sizeof side, "%s%s", path, side_suffix[k]);
        if (lstat(side, &sb) == 0)
            return ms_fail(e, MS_EINPUT,
                           "lake: stale %s exists without its lake (remove it, or --force to replace it)", side);
    }
    return MS_OK;
}

static void remove_with_sides(const char *path)
{
    char side[MS_LAKE_PATH_MAX + 8];
    unlink(path);
    for (int k = 0; k < 2; k++) {
        snprintf(side, sizeof side, "%s%s", path, side_suffix[k]);
        unlink(side);
    }
    /* Before journal_mode=WAL the private file has a rollback journal, which
     * a write failing for good (a full disk, in the fault sweep) leaves. */
    snprintf(side, sizeof side, "%s-journal", path);
    unlink(side);
}

void lake_remove_files_(const char *path)
{
    remove_with_sides(path);
}

static int check_info(const lake_run_info *in, int *sync, ms_err *e)
{
    if (!in || !in->run_id || !*in->run_id || !in->name || !in->config_text ||
        !in->config_sha256 || !in->version || !in->build_facts || !in->key_ids || !in->commit_key)
        return ms_fail(e, MS_EINPUT,
                       "lake: run info needs run_id, name, config_text, config_sha256, "
                       "version, build_facts, key_ids and the commitment key");
    if (strlen(in->run_id) > 256)
        return ms_fail(e, MS_EINPUT, "lake: run id longer than 256 bytes");
    if (in->origin) { /* what verify accepts: marlsim/<run_id>[/reproduce] */
        size_t rl = strlen(in->run_id), ol = strlen(in->origin);
        if (strncmp(in->origin, "marlsim/", 8) || ol < 8 + rl || memcmp(in->origin + 8, in->run_id, rl) ||
            (ol != 8 + rl && strcmp(in->origin + 8 + rl, "/reproduce")))
            return ms_fail(e, MS_EINPUT, "lake: origin must be marlsim/<run_id> or marlsim/<run_id>/reproduce");
    }
    if (in->signer && in->checkpoint_every < 1)
        return ms_fail(e, MS_EINPUT, "lake: checkpoint_every %lld (allowed: >= 1)",
                       (long long)in->checkpoint_every);
    *sync = 1;
    if (in->synchronous) {
        *sync = -1;
        for (int k = 0; k < 4; k++)
            if (strcmp(in->synchronous, sync_names[k]) == 0)
                *sync = k;
        if (*sync < 0)
            return ms_fail(e, MS_EINPUT,
                           "lake: synchronous = '%s' (allowed: off, normal, full, extra)",
                           in->synchronous);
    }
    return MS_OK;
}

/* Opens L->db on an existing file with the writer's connection settings:
 * defensive mode, trusted_schema off, foreign keys, synchronous. */
static int open_conn(lake *L, const char *path, int sync, ms_err *e)
{
    char name[4096 + 8];
    int rc = lk_sqlite_name(path, name, sizeof name, e);
    if (rc)
        return rc;
    if (sqlite3_open_v2(name, &L->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
        return sqlfail(L, e, "open");
    sqlite3_extended_result_codes(L->db, 1);
    int on = -1;
    if (sqlite3_db_config(L->db, SQLITE_DBCONFIG_DEFENSIVE, 1, &on) != SQLITE_OK || on != 1 ||
        sqlite3_db_config(L->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, &on) != SQLITE_OK || on != 0)
        return ms_fail(e, MS_EIO, "lake: cannot enable SQLite defensive mode");
    char pragmas[256];
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA trusted_schema = OFF; PRAGMA foreign_keys = ON; PRAGMA synchronous = %s;",
             sync_names[sync]);
    return exec_sql(L, pragmas, e);
}

/* Runs a journal_mode pragma (a query or a change) and says whether the
 * resulting mode is WAL. */
static int journal_is_wal(lake *L, const char *pragma, int *wal, ms_err *e)
{
    sqlite3_stmt *st;
    int rc = prep(L, pragma, &st, e);
    if (rc)
        return rc;
    *wal = sqlite3_step(st) == SQLITE_ROW &&
           sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
    sqlite3_finalize(st);
    return MS_OK;
}

static void finalize_stmts(lake *L)
{
    for (int t = 0; t < LKT_COUNT; t++) {
        sqlite3_finalize(L->ins[t]);
        L->ins[t] = NULL;
    }
    sqlite3_stmt **all[] = {&L->ins_ledger, &L->ins_salt, &L->ins_cp, &L->upd_runs, &L->fin_runs,
                            &L->tx_begin, &L->tx_commit, &L->tx_rollback};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) {
        sqlite3_finalize(*all[k]);
        *all[k] = NULL;
    }
}

static void close_conn(lake *L)
{
    finalize_stmts(L);
    sqlite3_close(L->db);
    L->db = NULL;
}

/* The writer's prepared statements on L->db. */
static int prepare_stmts(lake *L, ms_err *e)
{
    char q[1024];
    int rc;
    for (int t = 0; t < LKT_COUNT; t++) {
        const lk_table *T = &lk_tables[t];
        size_t k = (size_t)snprintf(q, sizeof q, "INSERT INTO %s VALUES (", T->name);
        for (int c = 0; c < T->ncols; c++)
            k += (size_t)snprintf(q + k, sizeof q - k, "%s?%d", c ? "," : "", c + 1);
        snprintf(q + k, sizeof q - k, ")");
        if ((rc = prep(L, q, &L->ins[t], e)))
            return rc;
    }
    if ((rc = prep(L, "INSERT INTO ledger VALUES (?1,?2,?3,?4,?5,?6,?7)", &L->ins_ledger, e)) ||
        (rc = prep(L, "INSERT INTO salts VALUES (?1,?2)", &L->ins_salt, e)) ||
        (rc = prep(L, "INSERT INTO checkpoints VALUES (?1,?2,?3,?4)", &L->ins_cp, e)) ||
        (rc = prep(L,
                   "UPDATE runs SET head_hash = ?1, ledger_rows = ?2, row_counts = ?3, "
                   "env_steps = ?4 WHERE run_id = ?5",
                   &L->upd_runs, e)) ||
        (rc = prep(L,
                   "UPDATE runs SET status = ?1, eval_reward_per_step = ?2, finished_at = ?3, "
                   "env_steps = ?4 WHERE run_id = ?5",
                   &L->fin_runs, e)) ||
        (rc = prep(L, "BEGIN IMMEDIATE", &L->tx_begin, e)) ||
        (rc = prep(L, "COMMIT", &L->tx_commit, e)) ||
        (rc = prep(L, "ROLLBACK", &L->tx_rollback, e)))
        return rc;
    return MS_OK;
}

/* The runs row's values as the ledger's runs entries see them. */
static void runs_values(const lake *L, const char *status, int64_t env_steps, double eval_reward, int has_eval,
                        lk_value all[LKR_NCOLS])
{
    for (int c = 0; c < LKR_NCOLS; c++)
        all[c] = lk_null();
    all[LKR_RUN_ID] = lk_text(L->run_id);
    all[LKR_NAME] = lk_text(L->name);
    all[LKR_SEED] = lk_int((int64_t)L->seed);
    all[LKR_CONFIG_TEXT] = lk_text(L->config_text);
    all[LKR_CONFIG_SHA256] = lk_text(L->config_sha256);
    all[LKR_VERSION] = lk_text(L->version);
    all[LKR_BUILD_FACTS] = lk_text(L->build_facts);
    all[LKR_KEY_IDS] = lk_text(L->key_ids);
    all[LKR_DEV_KEY] = lk_int(L->dev_key);
    all[LKR_ORIGIN] = lk_text(L->origin);
    all[LKR_STATUS] = lk_text(status);
    all[LKR_ENV_STEPS] = lk_int(env_steps);
    all[LKR_EVAL_REWARD] = has_eval ? lk_real(eval_reward) : lk_null();
}

/* Appends ledger entry `kind` (LK_RUNS_*) over the runs row (rowid 1). */
static int runs_entry(lake *L, int kind, int64_t step, const lk_value all[LKR_NCOLS], ms_err *e)
{
    const lk_runs_entry *R = &lk_runs_entries[kind];
    lk_value row[LKR_NCOLS];
    for (int k = 0; k < R->ncols; k++)
        row[k] = all[R->cols[k]];
    unsigned char unused[LK_HASH_LEN];
    if (start_entry(L, R->tbl, step, 1, 1, (uint32_t)R->ncols, BODY_ROWS, unused, e) ||
        lk_put_row(&L->buf, row, R->ncols, e))
        return MS_EIO;
    return add_entry(L, R->tbl, step, 1, 1, BODY_ROWS, NULL, e); /* MS_ECHECK: a replay diverges */
}

/* Phase 1 of creation: the new lake's first committed state — file
 * pragmas, WAL mode, schema, the runs row with the genesis and the
 * identity and build entries — built in the private file tmp and closed
 * (closing the last connection checkpoints the WAL into the file and
 * removes it), so that the file placed at the lake's path is a complete,
 * verifiable empty run from its first byte on. */
static int build_file(lake *L, const char *tmp, const lake_run_info *in, int sync, ms_err *e)
{
    int rc;
    if ((rc = open_conn(L, tmp, sync, e)))
        return rc;
    char pragmas[256];
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA page_size = 16384; PRAGMA auto_vacuum = INCREMENTAL; PRAGMA encoding = 'UTF-8'; "
             "PRAGMA application_id = %d; PRAGMA user_version = %d;",
             LK_APPLICATION_ID, LK_SCHEMA_VERSION);
    if ((rc = exec_sql(L, pragmas, e)))
        return rc;

    int wal;
    if ((rc = journal_is_wal(L, "PRAGMA journal_mode = WAL", &wal, e)))
        return rc;
    if (!wal)
        return ms_fail(e, MS_EIO, "lake: %s: SQLite refused journal_mode=WAL", tmp);
    sqlite3_stmt *st;

    if ((rc = check_json(L, in->build_facts, "build_facts", e)) || (rc = check_json(L, in->key_ids, "key_ids", e)))
        return rc;

    char *sql = NULL;
    if ((rc = lk_schema_script(&sql, e)))
        return rc;
    rc = exec_sql(L, "BEGIN IMMEDIATE", e);
    if (!rc)
        rc = exec_sql(L, sql, e);
    free(sql);
    if (rc)
        return rc;

    /* The runs row. */
    char genesis_hex[2 * LK_HASH_LEN + 1], now[32], counts[1024];
    ms_hex(L->genesis, LK_HASH_LEN, genesis_hex);
    lk_row_counts_json(L->cur.rows, counts, sizeof counts);
    if (!in->started_at)
        utc_now(now);
    if ((rc = prep(L, "INSERT INTO runs VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,'running',?11,?11,0,"
                      "?12,0,NULL,?13,NULL,NULL)",
                   &st, e)))
        return rc;
    int b = sqlite3_bind_text(st, 1, in->run_id, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(st, 2, in->name, -1, SQLITE_STATIC);
    b |= sqlite3_bind_int64(st, 3, (int64_t)in->seed);
    b |= sqlite3_bind_text(st, 4, in->config_text, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(st, 5, in->config_sha256, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(st, 6, in->version, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(st, 7, in->build_facts, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(st, 8, in->key_ids, -1, SQLITE_STATIC);
    b |= sqlite3_bind_int64(st, 9, in->dev_key ? 1 : 0);
    b |= sqlite3_bind_text(st, 10, L->origin, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(st, 11, genesis_hex, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(st, 12, counts, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(st, 13, in->started_at ? in->started_at : now, -1, SQLITE_STATIC);
    int s = b == SQLITE_OK ? sqlite3_step(st) : SQLITE_ERROR;
    sqlite3_finalize(st);
    if (s != SQLITE_DONE || sqlite3_last_insert_rowid(L->db) != 1)
        return sqlfail(L, e, "insert runs");

    /* The identity and build entries, then the runs row's head. */
    lk_value all[LKR_NCOLS];
    runs_values(L, "running", 0, 0, 0, all);
    if ((rc = prepare_stmts(L, e)) || (rc = runs_entry(L, LK_RUNS_IDENTITY, 0, all, e)) ||
        (rc = runs_entry(L, LK_RUNS_BUILD, 0, all, e)) || (rc = update_runs(L, e)))
        return rc;
    finalize_stmts(L);
    if ((rc = exec_sql(L, "COMMIT", e)))
        return rc;
    L->committed = L->cur;
    /* Everything into the file itself before it is moved into place: the
     * implicit checkpoint of sqlite3_close reports no failure, and a WAL
     * kept under the private name does not follow the file (the fault
     * sweep: a read, write or truncate failing there placed a lake whose
     * first transaction was left behind in PATH.creating-XXXXXX-wal). */
    if ((rc = prep(L, "PRAGMA wal_checkpoint(TRUNCATE)", &st, e)))
        return rc;
    int ck = sqlite3_step(st);
    int ck_ok = ck == SQLITE_ROW && sqlite3_column_int(st, 0) == 0 &&
                sqlite3_column_int(st, 1) == sqlite3_column_int(st, 2);
    sqlite3_finalize(st);
    if (!ck_ok)
        return ms_fail(e, MS_EIO, "lake: %s: cannot move the new lake's first transaction out of its WAL: %s", tmp,
                       sqlite3_errmsg(L->db));
    if (sqlite3_close(L->db) != SQLITE_OK)
        return sqlfail(L, e, "close");
    L->db = NULL;
    return MS_OK;
}

/* Phase 2: moves tmp to path in one step — link(), which fails if path
 * exists, or rename() over it when overwriting (its stale side files are
 * removed first, so SQLite never pairs the new file with an old WAL). */
static int place_file(const char *tmp, const char *path, int overwrite, ms_err *e)
{
    return lake_place_file_(tmp, path, overwrite, e);
}

int lake_place_file_(const char *tmp, const char *path, int overwrite, ms_err *e)
{
    if (overwrite) {
        char side[MS_LAKE_PATH_MAX];
        for (int k = 0; k < 2; k++) {
            snprintf(side, sizeof side, "%s%s", path, side_suffix[k]);
            if (remove_file(side, e))
                return MS_EINPUT;
        }
        if (rename(tmp, path) != 0)
            return ms_fail(e, MS_EIO, "lake: cannot move %s to %s: %s", tmp, path, strerror(errno));
        return MS_OK;
    }
    if (link(tmp, path) == 0) {
        unlink(tmp); /* the lake is in place; the private name only goes */
        return MS_OK;
    }
    int err = errno;
    struct stat sb;
    if (err == EEXIST || lstat(path, &sb) == 0)
        return refuse_existing(path, e);
    if (err != EPERM && err != ENOTSUP && err != EOPNOTSUPP && err != EMLINK)
        return ms_fail(e, MS_EIO, "lake: cannot create %s: %s", path, strerror(err));
    /* A filesystem without hard links: checked above, then moved. */
    if (rename(tmp, path) != 0)
        return ms_fail(e, MS_EIO, "lake: cannot move %s to %s: %s", tmp, path, strerror(errno));
    return MS_OK;
}

/* Phase 3: the writer's connection on the placed lake, and its prepared
 * statements. */
/* One writer per lake: an advisory flock on the file for as long as the
 * handle lives (SQLite's own locks are fcntl locks and do not see it). A
 * killed writer's lock goes with its process. */
static int take_lock(lake *L, const char *path, ms_err *e)
{
    L->lock_fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (L->lock_fd < 0)
        return ms_fail(e, MS_EIO, "lake: cannot open %s: %s", path, strerror(errno));
    if (flock(L->lock_fd, LOCK_EX | LOCK_NB) != 0)
        return ms_fail(e, errno == EWOULDBLOCK ? MS_EINPUT : MS_EIO,
                       "lake: %s is held by another marlsim process (its run is still going, or a resume or "
                       "purge of it): %s", path, errno == EWOULDBLOCK ? "try again when it has ended" : strerror(errno));
    return MS_OK;
}

static int open_writer(lake *L, const char *path, int sync, ms_err *e)
{
    int rc;
    if ((rc = take_lock(L, path, e)) || (rc = open_conn(L, path, sync, e)))
        return rc;
    int wal;
    if ((rc = journal_is_wal(L, "PRAGMA journal_mode", &wal, e)))
        return rc;
    if (!wal)
        return ms_fail(e, MS_EIO, "lake: %s is not in WAL mode after creation", path);
    return prepare_stmts(L, e);
}

/* A handle with nothing open (lock_fd -1), or NULL. */
static lake *new_handle(void)
{
    lake *L = calloc(1, sizeof *L);
    if (L)
        L->lock_fd = -1;
    return L;
}

/* The handle of a run described by in (checked by check_info): its strings
 * copied, hashers keyed, the config hash checked, the genesis made; the
 * chain state empty. MS_OK and *out, or the failure (*out NULL). */
static int init_handle(lake **out, const char *path, const lake_run_info *in, ms_err *e)
{
    int rc;
    lake *L = new_handle();
    *out = L;
    if (!L)
        return ms_fail(e, MS_EIO, "lake: out of memory");
    char origin[300];
    snprintf(origin, sizeof origin, "marlsim/%s", in->run_id);
    L->run_id = dup_str(in->run_id);
    L->name = dup_str(in->name);
    L->config_text = dup_str(in->config_text);
    L->config_sha256 = dup_str(in->config_sha256);
    L->version = dup_str(in->version);
    L->build_facts = dup_str(in->build_facts);
    L->key_ids = dup_str(in->key_ids);
    L->origin = dup_str(in->origin ? in->origin : origin);
    L->path = dup_str(path);
    L->seed = in->seed;
    L->dev_key = in->dev_key ? 1 : 0;
    L->signer = in->signer;
    L->cp_every = in->checkpoint_every;
    L->cp_file = in->checkpoint_file;
    ms_merkle_acc_init(&L->cur.tree);
    if (!L->run_id || !L->name || !L->config_text || !L->config_sha256 || !L->version ||
        !L->build_facts || !L->key_ids || !L->origin || !L->path) {
        lake_close(L);
        *out = NULL;
        return ms_fail(e, MS_EIO, "lake: out of memory");
    }
    if ((rc = lk_hasher_init(&L->h, e)) || (rc = lk_hasher_init(&L->hd, e)) || (rc = lk_hasher_init(&L->hc, e)) ||
        (rc = ms_hmac_init(&L->salt_mac, e)) || (rc = ms_hmac_setkey(&L->salt_mac, in->commit_key, 32, e))) {
        lake_close(L);
        *out = NULL;
        return rc;
    }

    /* The config hash must be the one verify will recompute. */
    unsigned char d[LK_HASH_LEN];
    char hex[2 * LK_HASH_LEN + 1];
    if ((rc = lk_sha256(&L->hd, in->config_text, strlen(in->config_text), d, e))) {
        lake_close(L);
        *out = NULL;
        return rc;
    }
    ms_hex(d, LK_HASH_LEN, hex);
    if (strcmp(hex, in->config_sha256) != 0) {
        lake_close(L);
        *out = NULL;
        return ms_fail(e, MS_EINPUT, "lake: config_sha256 %s is not SHA-256(config_text) = %s",
                       in->config_sha256, hex);
    }
    if ((rc = lk_genesis(&L->hd, in->run_id, strlen(in->run_id), in->config_text,
                         strlen(in->config_text), in->seed, L->genesis, e))) {
        lake_close(L);
        *out = NULL;
        return rc;
    }
    memcpy(L->cur.head, L->genesis, LK_HASH_LEN);
    L->committed = L->cur;
    ms_hex(L->cur.head, LK_HASH_LEN, L->head_hex);
    return MS_OK;

}

int lake_create(lake **out, const char *path, const lake_run_info *in, int overwrite, ms_err *e)
{
    int sync, rc;
    *out = NULL;
    if (!path || !*path)
        return ms_fail(e, MS_EINPUT, "lake: no path");
    if ((rc = check_info(in, &sync, e)) || (rc = check_path(path, overwrite, e)))
        return rc;

    lake *L;
    if ((rc = init_handle(&L, path, in, e)) || !L) /* !L only with rc set (said for gcc -fanalyzer) */
        return rc ? rc : MS_EIO;

    /* Built beside the lake (same directory, so the move is one rename) under
     * a name no run uses; a crash before the move leaves only that. */
    char tmp[MS_LAKE_PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.creating-XXXXXX", path);
    int fd = mkstemp(tmp); /* a fresh name: clobbers nothing, and no leftover blocks it */
    if (fd < 0) {
        lake_close(L);
        return ms_fail(e, MS_EIO, "lake: cannot create %s: %s", path, strerror(errno));
    }
    mode_t mask = umask(0);
    umask(mask);
    if (fchmod(fd, 0644 & ~mask) != 0) { /* as SQLite would create it */
        rc = ms_fail(e, MS_EIO, "lake: cannot set the mode of %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        lake_close(L);
        return rc;
    }
    close(fd);
    if ((rc = build_file(L, tmp, in, sync, e))) {
        if (L->db)
            close_conn(L);
        remove_with_sides(tmp);
    } else if ((rc = place_file(tmp, path, overwrite, e))) {
        remove_with_sides(tmp);
    } else {
        /* The private name is gone (linked or renamed); a -wal or -shm SQLite
         * could not delete under it goes too, not left beside the lake. */
        remove_with_sides(tmp);
        if ((rc = open_writer(L, path, sync, e))) {
            lake_close(L);
            remove_with_sides(path);
            return rc;
        }
    }
    if (rc) {
        lake_close(L);
        return rc;
    }
    L->state = ST_IDLE;
    snprintf(L->status, sizeof L->status, "running");
    *out = L;
    return MS_OK;
}

/* ---- finish / accessors / close --------------------------------------- */

void lake_set_env_steps(lake *L, int64_t env_steps)
{
    if (L)
        L->env_steps = env_steps;
}

int64_t lake_committed_env_steps(const lake *L)
{
    return L ? L->committed.env_steps : 0;
}

int64_t lake_checkpoint(const lake *L, char root_b64[64])
{
    root_b64[0] = 0;
    if (!L || !L->committed.cp_size)
        return 0;
    ms_b64_encode(L->committed.cp_root, LK_HASH_LEN, root_b64);
    return L->committed.cp_size;
}

int lake_finish(lake *L, const char *status, int64_t env_steps, double eval_reward,
                int has_eval, ms_err *e)
{
    if (!L)
        return ms_fail(e, MS_EINPUT, "lake: no lake");
    if (L->state == ST_FINISHED)
        return ms_fail(e, MS_EINPUT, "lake: the run is already finished");
    if (!status || (strcmp(status, "completed") && strcmp(status, "interrupted") &&
                    strcmp(status, "failed")))
        return ms_fail(e, MS_EINPUT,
                       "lake: final status '%s' (allowed: completed, interrupted, failed)",
                       status ? status : "(null)");
    if (has_eval && !isfinite(eval_reward))
        return ms_fail(e, MS_EINPUT, "lake: final evaluation reward is not finite");
    int completed = strcmp(status, "completed") == 0;
    if (completed && L->state == ST_BROKEN)
        return ms_fail(e, MS_EINPUT, "lake: a run whose lake failed cannot be completed");
    if (L->replay_n && !L->live && !completed) {
        /* A resumed run that ended while replaying wrote nothing: the lake
         * stays exactly as it was (its status, its final checkpoint). */
        roll_back(L);
        L->state = ST_FINISHED;
        return MS_OK;
    }
    /* Only a completed run keeps what the open transaction holds; any other
     * end keeps the last commit, a clean prefix to resume from. */
    if (L->state == ST_BROKEN || (!completed && L->state == ST_TX)) {
        roll_back(L);
        L->state = ST_IDLE;
    }
    if (!completed)
        env_steps = L->committed.env_steps;
    L->env_steps = env_steps;
    if (L->state == ST_IDLE && run_stmt(L, L->tx_begin, "BEGIN", e))
        return broken(L, MS_EIO);
    L->state = ST_TX;

    char now[32];
    utc_now(now);
    sqlite3_stmt *st = L->fin_runs;
    int b = sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
    b |= has_eval ? sqlite3_bind_double(st, 2, eval_reward) : sqlite3_bind_null(st, 2);
    b |= sqlite3_bind_text(st, 3, now, -1, SQLITE_STATIC);
    b |= sqlite3_bind_int64(st, 4, env_steps);
    b |= sqlite3_bind_text(st, 5, L->run_id, -1, SQLITE_STATIC);
    if (b != SQLITE_OK) {
        sqlfail(L, e, "bind finish");
        return broken(L, MS_EIO);
    }
    if (run_stmt(L, st, "finish runs", e))
        return broken(L, MS_EIO);
    if (completed) {
        lk_value all[LKR_NCOLS];
        runs_values(L, status, env_steps, eval_reward, has_eval, all);
        if (runs_entry(L, LK_RUNS_SEAL, env_steps, all, e))
            return broken(L, MS_EIO);
    }
    if (make_checkpoint(L, status, e))
        return broken(L, MS_EIO);
    ms_hex(L->cur.head, LK_HASH_LEN, L->head_hex);
    snprintf(L->finishing, sizeof L->finishing, "%s", status);
    int rc = commit_now(L, e);
    L->finishing[0] = 0;
    if (rc)
        return rc;
    L->state = ST_FINISHED;
    return MS_OK;
}

const char *lake_status(const lake *L)
{
    return L ? L->status : "";
}

int lake_finished(const lake *L)
{
    return L && L->fin_committed;
}

const char *lake_head_hex(lake *L)
{
    return L ? L->head_hex : "";
}

int64_t lake_rows(const lake *L, int table)
{
    if (!L || table < 0 || table >= LKT_COUNT)
        return 0;
    return L->cur.rows[table];
}

void lake_close(lake *L)
{
    if (!L)
        return;
    if (L->db) {
        if (!sqlite3_get_autocommit(L->db))
            sqlite3_exec(L->db, "ROLLBACK", NULL, NULL, NULL); /* closing: nothing to report */
        close_conn(L);
    }
    lk_hasher_release(&L->h);
    lk_hasher_release(&L->hd);
    lk_hasher_release(&L->hc);
    ms_hmac_release(&L->salt_mac);
    lk_buf_release(&L->buf);
    for (int k = 0; k < L->ntrig; k++)
        free(L->trig_sql[k]);
    if (L->lock_fd >= 0)
        close(L->lock_fd); /* releases the writer's flock */
    free(L->replay);
    free(L->run_id);
    free(L->name);
    free(L->config_text);
    free(L->config_sha256);
    free(L->version);
    free(L->build_facts);
    free(L->key_ids);
    free(L->origin);
    free(L->path);
    free(L);
}

/* ---- reopening for removals (purge, export) ---------------------------- */

struct sqlite3 *lake_db_(lake *L)
{
    return L ? L->db : NULL;
}

/* One text column of the runs row (malloc'd copy; NULL when absent). */
static char *runs_text(lake *L, const char *col)
{
    char q[96];
    sqlite3_stmt *st;
    char *out = NULL;
    snprintf(q, sizeof q, "SELECT %s FROM runs", col);
    if (sqlite3_prepare_v2(L->db, q, -1, &st, NULL) != SQLITE_OK)
        return NULL;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_TEXT)
        out = dup_str((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return out;
}

static int query_i64(lake *L, const char *sql, int64_t *out, ms_err *e)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(L->db, sql, -1, &st, NULL) != SQLITE_OK)
        return sqlfail(L, e, "prepare");
    int s = sqlite3_step(st);
    *out = s == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return s == SQLITE_ROW ? MS_OK : sqlfail(L, e, sql);
}

/* The chain state of a verified lake: seq, head and the Merkle accumulator
 * from the entry hashes, rows appended (the ledger's coverage) and present
 * per table, checkpoints so far, env_steps. */
static int restore_state(lake *L, const lake_reopen_info *in, ms_err *e)
{
    chain_state *c = &L->cur;
    ms_merkle_acc_init(&c->tree);
    for (int64_t k = 0; k < in->entries; k++) {
        unsigned char leaf[LK_HASH_LEN];
        if (ms_merkle_leaf_hash(in->hashes[k], LK_HASH_LEN, leaf, e) || ms_merkle_acc_push(&c->tree, leaf, e))
            return MS_EIO;
    }
    c->seq = in->entries;
    memcpy(c->head, in->entries ? in->hashes[in->entries - 1] : L->genesis, LK_HASH_LEN);
    int rc;
    for (int t = 0; t < LKT_COUNT; t++) {
        char q[160];
        snprintf(q, sizeof q, "SELECT COALESCE(SUM(n_rows), 0) FROM ledger WHERE tbl = '%s'", lk_tables[t].name);
        if ((rc = query_i64(L, q, &c->rows[t], e)))
            return rc;
        snprintf(q, sizeof q, "SELECT COUNT(*) FROM %s", lk_tables[t].name);
        if ((rc = query_i64(L, q, &c->present[t], e)))
            return rc;
    }
    if ((rc = query_i64(L, "SELECT COUNT(*) FROM checkpoints", &c->cp_count, e)) ||
        (rc = query_i64(L, "SELECT env_steps FROM runs", &c->env_steps, e)))
        return rc;
    L->env_steps = c->env_steps;
    L->committed = L->cur;
    ms_hex(c->head, LK_HASH_LEN, L->head_hex);
    return MS_OK;
}

int lake_reopen(lake **out, const char *path, const lake_reopen_info *in, ms_err *e)
{
    *out = NULL;
    if (!path || !in || (in->entries > 0 && !in->hashes) || in->entries < 0)
        return ms_fail(e, MS_EINPUT, "lake: reopen needs a path and the verified entry hashes");
    lake *L = new_handle();
    if (!L)
        return ms_fail(e, MS_EIO, "lake: out of memory");
    L->reopened = 1;
    L->signer = in->signer;
    L->cp_every = INT64_MAX; /* no periodic checkpoint: one at the end */
    L->cp_file = in->checkpoint_file;
    L->path = dup_str(path);
    int rc;
    if (!L->path) {
        lake_close(L);
        return ms_fail(e, MS_EIO, "lake: out of memory");
    }
    if ((rc = lk_hasher_init(&L->h, e)) || (rc = lk_hasher_init(&L->hd, e)) || (rc = lk_hasher_init(&L->hc, e)) ||
        (rc = ms_hmac_init(&L->salt_mac, e)) || (rc = take_lock(L, path, e)) || (rc = open_conn(L, path, 2, e))) {
        lake_close(L);
        return rc;
    }
    sqlite3_busy_timeout(L->db, 1000);
    int wal;
    if ((rc = journal_is_wal(L, "PRAGMA journal_mode", &wal, e)) || (rc = exec_sql(L, "PRAGMA secure_delete = ON", e))) {
        lake_close(L);
        return rc;
    }
    if (!wal) {
        lake_close(L);
        return ms_fail(e, MS_EINPUT, "lake: %s is not in WAL mode", path);
    }
    L->run_id = runs_text(L, "run_id");
    L->origin = runs_text(L, "origin");
    char *status = runs_text(L, "status");
    if (!L->run_id || !L->origin || !status) {
        free(status);
        lake_close(L);
        return ms_fail(e, MS_EIO, "lake: %s: cannot read the runs row", path);
    }
    int status_fits = strlen(status) < sizeof L->status;
    if (status_fits)
        memcpy(L->status, status, strlen(status) + 1);
    free(status);
    if (!status_fits) {
        lake_close(L);
        return ms_fail(e, MS_EINPUT, "lake: %s: runs.status is not a run status", path);
    }
    if ((rc = prepare_stmts(L, e)) || (rc = restore_state(L, in, e))) {
        lake_close(L);
        return rc;
    }
    L->state = ST_IDLE;
    *out = L;
    return MS_OK;
}

int lake_remove_begin(lake *L, const int tables[], int ntables, ms_err *e)
{
    int rc;
    if (!L || !L->reopened || L->state != ST_IDLE || ntables < 0 || ntables > LKT_COUNT)
        return ms_fail(e, MS_EINPUT, "lake: removals need a reopened lake with no open transaction");
    for (int k = 0; k < L->ntrig; k++)
        free(L->trig_sql[k]);
    L->ntrig = 0;
    if (run_stmt(L, L->tx_begin, "BEGIN", e))
        return MS_EIO;
    L->state = ST_TX;
    /* The lake must still be the one that was verified. */
    char *head = runs_text(L, "head_hash");
    int64_t n = -1;
    rc = query_i64(L, "SELECT ledger_rows FROM runs", &n, e);
    int same = !rc && head && n == L->cur.seq && !strcmp(head, L->head_hex);
    free(head);
    if (rc)
        return broken(L, rc);
    if (!same) {
        roll_back(L);
        L->state = ST_IDLE;
        return ms_fail(e, MS_EIO, "lake: %s changed since it was verified (another writer?): nothing removed", L->path);
    }
    /* The DELETE triggers of the tables that lose rows, and of salts, are
     * dropped for this transaction only and re-created with their exact
     * text before it commits. */
    for (int k = 0; k <= ntables; k++) {
        const char *t = k < ntables ? lk_tables[tables[k]].name : "salts";
        if (k < ntables && !lk_table_purgeable(tables[k]))
            return broken(L, ms_fail(e, MS_EINPUT, "lake: %s is never purged", t));
        char q[160], *sql = NULL;
        sqlite3_stmt *st;
        snprintf(q, sizeof q, "SELECT sql FROM sqlite_schema WHERE type = 'trigger' AND name = '%s_no_delete'", t);
        if (sqlite3_prepare_v2(L->db, q, -1, &st, NULL) != SQLITE_OK)
            return broken(L, sqlfail(L, e, "prepare"));
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
            sql = dup_str((const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        if (!sql)
            return broken(L, ms_fail(e, MS_EIO, "lake: the trigger %s_no_delete is missing", t));
        L->trig_sql[L->ntrig++] = sql;
        snprintf(q, sizeof q, "DROP TRIGGER %s_no_delete", t);
        if ((rc = exec_sql(L, q, e)))
            return broken(L, rc);
    }
    return MS_OK;
}

int lake_remove_entry(lake *L, int table, int64_t seq, int64_t first_rowid, int64_t n_rows, ms_err *e)
{
    if (!L || !L->reopened || L->state != ST_TX || !lk_table_purgeable(table) || first_rowid < 1 || n_rows < 1)
        return ms_fail(e, MS_EINPUT, "lake: bad removal (table %d, seq %lld)", table, (long long)seq);
    char q[160];
    sqlite3_stmt *st;
    snprintf(q, sizeof q, "DELETE FROM %s WHERE rowid BETWEEN ?1 AND ?2", lk_tables[table].name);
    if (sqlite3_prepare_v2(L->db, q, -1, &st, NULL) != SQLITE_OK)
        return broken(L, sqlfail(L, e, "prepare"));
    sqlite3_bind_int64(st, 1, first_rowid);
    sqlite3_bind_int64(st, 2, first_rowid + n_rows - 1);
    int s = sqlite3_step(st);
    sqlite3_finalize(st);
    if (s != SQLITE_DONE)
        return broken(L, sqlfail(L, e, "delete"));
    if (sqlite3_changes64(L->db) != n_rows)
        return broken(L, ms_fail(e, MS_EIO, "lake: ledger seq %lld: %lld of its %lld rows of %s were present",
                                 (long long)seq, (long long)sqlite3_changes64(L->db), (long long)n_rows,
                                 lk_tables[table].name));
    if (lk_table_salted(table)) {
        if (sqlite3_prepare_v2(L->db, "DELETE FROM salts WHERE seq = ?1", -1, &st, NULL) != SQLITE_OK)
            return broken(L, sqlfail(L, e, "prepare"));
        sqlite3_bind_int64(st, 1, seq);
        s = sqlite3_step(st);
        sqlite3_finalize(st);
        if (s != SQLITE_DONE)
            return broken(L, sqlfail(L, e, "delete salt"));
        if (sqlite3_changes64(L->db) != 1)
            return broken(L, ms_fail(e, MS_EIO, "lake: ledger seq %lld has no salt to remove", (long long)seq));
    }
    L->cur.present[table] -= n_rows;
    return MS_OK;
}

int lake_insert_unchained(lake *L, int table, int n_rows, const lk_value *vals, ms_err *e)
{
    if (!L || !L->reopened || L->state != ST_TX || table != LKT_TOMBSTONES || n_rows < 0 || (n_rows && !vals))
        return ms_fail(e, MS_EINPUT, "lake: only an export's tombstones are inserted outside the chain");
    const lk_table *T = &lk_tables[table];
    int rc;
    for (int r = 0; r < n_rows; r++)
        for (int c = 0; c < T->ncols; c++)
            if ((rc = check_value(T->name, r, &T->cols[c], &vals[(size_t)r * (size_t)T->ncols + (size_t)c], e)))
                return rc;
    sqlite3_stmt *st = L->ins[table];
    for (int r = 0; r < n_rows; r++) {
        int b = SQLITE_OK;
        for (int c = 0; c < T->ncols; c++)
            b |= bind_value(st, c + 1, &vals[(size_t)r * (size_t)T->ncols + (size_t)c]);
        if (b != SQLITE_OK)
            return broken(L, sqlfail(L, e, "bind"));
        if (run_stmt(L, st, "insert tombstone", e))
            return broken(L, MS_EIO);
    }
    L->cur.present[table] += n_rows;
    return MS_OK;
}

int lake_set_exported_class(lake *L, int cls, ms_err *e)
{
    if (!L || !L->reopened || L->state != ST_TX || cls < 0 || cls > 2)
        return ms_fail(e, MS_EINPUT, "lake: bad exported class");
    char q[96];
    snprintf(q, sizeof q, "UPDATE runs SET exported_class = '%s'", lk_class_names[cls]);
    int rc = exec_sql(L, q, e);
    return rc ? broken(L, rc) : MS_OK;
}

int lake_remove_commit(lake *L, int checkpoint, ms_err *e)
{
    if (!L || !L->reopened || L->state != ST_TX)
        return ms_fail(e, MS_EINPUT, "lake: no removal transaction is open");
    int rc;
    for (int k = 0; k < L->ntrig; k++) {
        if ((rc = exec_sql(L, L->trig_sql[k], e)))
            return broken(L, rc);
        free(L->trig_sql[k]);
        L->trig_sql[k] = NULL;
    }
    L->ntrig = 0;
    /* Free pages (zeroed by secure_delete) leave the file: the lake is made
     * with auto_vacuum = INCREMENTAL, which moves pages, never rowids. */
    if ((rc = exec_sql(L, "PRAGMA incremental_vacuum", e)))
        return broken(L, rc);
    if (checkpoint && make_checkpoint(L, L->status, e))
        return broken(L, MS_EIO);
    ms_hex(L->cur.head, LK_HASH_LEN, L->head_hex);
    return commit_now(L, e);
}

int lake_scrub(lake *L, int *done, ms_err *e)
{
    *done = 0;
    if (!L || !L->db)
        return ms_fail(e, MS_EINPUT, "lake: no lake");
    int busy = 0, frames = 0, moved = 0;
    int s = sqlite3_wal_checkpoint_v2(L->db, "main", SQLITE_CHECKPOINT_TRUNCATE, &frames, &moved);
    if (s == SQLITE_BUSY || s == SQLITE_LOCKED)
        busy = 1;
    else if (s != SQLITE_OK)
        return sqlfail(L, e, "wal_checkpoint(TRUNCATE)");
    *done = !busy;
    return MS_OK;
}

int64_t lake_entries(const lake *L)
{
    return L ? L->committed.seq : 0;
}

int lake_tree_root(const lake *L, unsigned char root[LK_HASH_LEN], int64_t *size, ms_err *e)
{
    *size = L->committed.seq;
    return ms_merkle_acc_root(&L->committed.tree, root, e);
}

/* ---- resuming an unfinished run ---------------------------------------- */

int lake_resume(lake **out, const char *path, const lake_run_info *in, const unsigned char (*hashes)[LK_HASH_LEN],
                int64_t entries, ms_err *e)
{
    int sync, rc;
    *out = NULL;
    if (!path || !hashes || entries < 2)
        return ms_fail(e, MS_EINPUT, "lake: resume needs a path and the verified entry hashes (at least 2)");
    if ((rc = check_info(in, &sync, e)))
        return rc;
    lake *L;
    if ((rc = init_handle(&L, path, in, e)) || !L) /* !L only with rc set (said for gcc -fanalyzer) */
        return rc ? rc : MS_EIO;
    int64_t n = -1, purges = -1, cps = 0, newest = 0;
    char *head = NULL, *status = NULL, *xcls = NULL;
    if ((rc = open_writer(L, path, sync, e)) || (rc = query_i64(L, "SELECT ledger_rows FROM runs", &n, e)) ||
        (rc = query_i64(L, "SELECT COUNT(*) FROM purges", &purges, e)) ||
        (rc = query_i64(L, "SELECT COALESCE(MAX(cp_id), 0) FROM checkpoints", &cps, e)) ||
        (rc = query_i64(L, "SELECT COALESCE(MAX(tree_size), 0) FROM checkpoints", &newest, e)))
        goto fail;
    head = runs_text(L, "head_hash");
    status = runs_text(L, "status");
    xcls = runs_text(L, "exported_class");
    char want[2 * LK_HASH_LEN + 1];
    ms_hex(hashes[entries - 1], LK_HASH_LEN, want);
    if (!head || !status || n != entries || strcmp(head, want)) {
        rc = ms_fail(e, MS_EIO, "lake: %s changed since it was verified (another writer?): nothing resumed", path);
        goto fail;
    }
    if (!strcmp(status, "completed") || purges || xcls || newest > entries) {
        rc = ms_fail(e, MS_EINPUT, "lake: %s %s: there is nothing to resume", path,
                     !strcmp(status, "completed") ? "completed" : purges ? "was purged (its run's data is gone)"
                     : xcls ? "is an export" : "has a checkpoint beyond its ledger");
        goto fail;
    }
    L->replay = malloc((size_t)entries * LK_HASH_LEN);
    if (!L->replay) {
        rc = ms_fail(e, MS_EIO, "lake: out of memory");
        goto fail;
    }
    memcpy(L->replay, hashes, (size_t)entries * LK_HASH_LEN);
    L->replay_n = entries;
    /* runs.status stays the lake's until the resumed run writes. */
    snprintf(L->status, sizeof L->status, "%s", status);
    /* The checkpoints it holds stay; new ones follow them. Their root is
     * the tree's at the newest one's size. */
    L->cur.cp_count = cps;
    if (newest) {
        ms_merkle_acc acc;
        ms_merkle_acc_init(&acc);
        for (int64_t k = 0; k < newest && !rc; k++) {
            unsigned char leaf[LK_HASH_LEN];
            rc = ms_merkle_leaf_hash(hashes[k], LK_HASH_LEN, leaf, e) || ms_merkle_acc_push(&acc, leaf, e) ? MS_EIO
                                                                                                         : MS_OK;
        }
        if (rc || (rc = ms_merkle_acc_root(&acc, L->cur.cp_root, e)))
            goto fail;
        L->cur.cp_size = newest;
    }
    L->committed = L->cur;
    /* The run's first two entries, as lake_create writes them: replayed. */
    lk_value all[LKR_NCOLS];
    runs_values(L, "running", 0, 0, 0, all);
    L->state = ST_TX;
    L->vtx = 1;
    if ((rc = runs_entry(L, LK_RUNS_IDENTITY, 0, all, e)) || (rc = runs_entry(L, LK_RUNS_BUILD, 0, all, e)) ||
        (rc = commit_now(L, e)))
        goto fail;
    free(head);
    free(status);
    free(xcls);
    L->state = ST_IDLE;
    *out = L;
    return MS_OK;
fail:
    free(head);
    free(status);
    free(xcls);
    lake_close(L);
    return rc;
}

int lake_wrote(const lake *L)
{
    return L && (!L->replay_n || L->live);
}

int lake_check_unheld(const char *path, ms_err *e)
{
    lake probe;
    memset(&probe, 0, sizeof probe);
    int rc = take_lock(&probe, path, e);
    if (probe.lock_fd >= 0)
        close(probe.lock_fd); /* only a probe: released at once */
    return rc;
}
