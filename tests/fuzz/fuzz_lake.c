/* fuzz_lake — lake_verify (ledger/verify.c) on structure-aware mutations of
 * real lakes.
 *
 * Setup (once per process, in a private /tmp/fuzz-lake-XXXXXX): a fresh
 * keyring (random keys, never kept) and four base lakes of a tiny run made
 * by exp_run: 0 completed and signed, 1 interrupted and signed, 2 a signed
 * run copied while it was running (its data in PATH-wal, as a kill -9
 * leaves it), 3 completed with the development key (no checkpoints). Each
 * must verify before anything is fuzzed.
 *
 * Input: a mutation plan. Byte 0: the base (bits 0-1); bit 2: re-chain after
 * the SQL edits (tests/tools/rechain.c: every hash, commitment and runs
 * total recomputed, as a forger with the source can); bit 3: the re-chain
 * also deletes the checkpoints (which a forger cannot re-sign); bit 4: SQL
 * edits stay in PATH-wal instead of being checkpointed into the file. Then
 * up to 8 operations, each an opcode byte and its arguments (fuzz_reader:
 * missing bytes read as 0):
 *   SQL, through SQLite on the copy (append-only triggers dropped first,
 *   restored after; an edit SQLite refuses is skipped):
 *     SET table row column value   a value of any type, or a nudge (+-d)
 *     DELETE table row / DUP table row (insert a copy of the row)
 *     COUNT  runs.ledger_rows, runs.row_counts or a ledger n_rows nudged
 *     SCHEMA an sqlite_schema entry: a byte changed, text appended, the
 *            entry deleted, or an extra object created
 *     TAIL   the last k ledger entries removed with their rows, salts and
 *            later checkpoints, the runs row fixed to match (the truncation
 *            a chain cannot reveal, SPEC §5)
 *   raw bytes, after SQLite has closed the file:
 *     RAW    bytes overwritten at an offset of the file or its WAL
 *     PAGE   a page (or WAL frame) zeroed, copied over another, or swapped
 *     TRUNC  the file or its WAL cut
 *     SIDE   a -journal beside the lake, another base's WAL, or the WAL
 *            removed
 *
 * Then lake_verify three ways: no key (r0), the keyring's verifier (r1), and
 * the verifier with the base's final external checkpoint (r2; bases 0 and
 * 1). Properties:
 *   - never a crash or sanitizer report (libFuzzer -timeout bounds a hang);
 *   - verify never creates, removes or changes a file in the directory;
 *   - a status in {OK, EINPUT, ECHECK, EIO} with a message on failure;
 *   - r0 OK on content that differs from what the run wrote (what the chain
 *     covers, read independently through SQLite) only after a re-chain or
 *     when the lake is a prefix of the run (a truncated tail: the chain
 *     alone cannot tell, SPEC §5);
 *   - r1 OK and authenticated only on the run's content, its checkpoints
 *     and status, or a prefix of it (a running lake cut after a checkpoint,
 *     runs row rewritten to match: the documented limit, which an external
 *     checkpoint reveals); a complete re-chain without the key must not be
 *     authenticated;
 *   - r2 OK only on a lake holding the run's chain (its first S entries,
 *     S the external checkpoint's size = the run's entries), the identity
 *     unchanged: a checkpoint proves nothing about the runs row's status or
 *     the checkpoint rows, and a chain may go on past it.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "exp/experiment.h"
#include "keys/keyring.h"
#include "ledger/note.h"
#include "ledger/schema.h"
#include "ledger/verify.h"
#include "tests/fuzz/fuzz.h"
#include "tests/tools/rechain.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NBASE 4
#define PAGE 16384
#define WAL_HDR 32
#define FRAME (24 + PAGE)

/* ---- content: what the run wrote, read independently ------------------ */

/* The views compared; each is the rows of one query, serialised. */
enum { V_IDENTITY, V_DERIVED, V_STATUS, V_LEDGER, V_SALTS, V_CHECKPOINTS, V_EVENT0, NVIEW = V_EVENT0 + LKT_COUNT };

typedef struct view {
    size_t nrows;
    size_t *off;   /* nrows + 1 offsets into data */
    char *data;
    size_t len, cap, offcap;
} view;

typedef struct content {
    int ok; /* 0: SQLite could not read it all */
    view v[NVIEW];
} content;

static void view_free(view *v)
{
    free(v->off);
    free(v->data);
    memset(v, 0, sizeof *v);
}

static void content_free(content *c)
{
    for (int i = 0; i < NVIEW; i++)
        view_free(&c->v[i]);
    c->ok = 0;
}

static void put(view *v, const void *p, size_t n)
{
    if (v->len + n > v->cap) {
        size_t cap = v->cap ? v->cap : 4096;
        while (cap < v->len + n)
            cap *= 2;
        char *d = realloc(v->data, cap);
        FUZZ_REQUIRE(d, "out of memory");
        v->data = d;
        v->cap = cap;
    }
    if (n)
        memcpy(v->data + v->len, p, n);
    v->len += n;
}

static void end_row(view *v)
{
    if (v->nrows + 2 > v->offcap) {
        size_t cap = v->offcap ? 2 * v->offcap : 64;
        size_t *o = realloc(v->off, cap * sizeof *o);
        FUZZ_REQUIRE(o, "out of memory");
        v->off = o;
        v->offcap = cap;
        if (v->nrows == 0)
            v->off[0] = 0;
    }
    v->off[++v->nrows] = v->len;
}

static int run_view(sqlite3 *db, const char *sql, view *v)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (!v->off) {
        v->off = malloc(64 * sizeof *v->off);
        FUZZ_REQUIRE(v->off, "out of memory");
        v->offcap = 64;
        v->off[0] = 0;
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int nc = sqlite3_column_count(st);
        for (int i = 0; i < nc; i++) {
            unsigned char t = (unsigned char)sqlite3_column_type(st, i);
            put(v, &t, 1);
            if (t == SQLITE_INTEGER) {
                sqlite3_int64 x = sqlite3_column_int64(st, i);
                put(v, &x, sizeof x);
            } else if (t == SQLITE_FLOAT) {
                double x = sqlite3_column_double(st, i);
                put(v, &x, sizeof x);
            } else if (t == SQLITE_TEXT || t == SQLITE_BLOB) {
                const void *p = t == SQLITE_TEXT ? (const void *)sqlite3_column_text(st, i) : sqlite3_column_blob(st, i);
                uint32_t n = (uint32_t)sqlite3_column_bytes(st, i);
                put(v, &n, sizeof n);
                put(v, p, n);
            }
        }
        end_row(v);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Runs columns the chain covers: the identity and build entries', the
 * config text behind config_sha256, and the genesis. */
static void runs_cols(int entry_mask, char *out, size_t cap)
{
    size_t k = 0;
    out[0] = 0;
    for (int en = 0; en < LK_RUNS_NENTRY; en++)
        if (entry_mask & (1 << en))
            for (int c = 0; c < lk_runs_entries[en].ncols; c++)
                k += (size_t)snprintf(out + k, cap - k, "%s%s", k ? "," : "",
                                      lk_runs_columns[lk_runs_entries[en].cols[c]].name);
}

/* A lake's file and the files SQLite keeps beside it. */
static const char *const lake_sfx[] = {"", "-wal", "-shm", "-journal"};

/* Removes the lake db and its -wal, -shm and -journal, where they are. */
static void unlink_lake(const char *db)
{
    for (int i = 0; i < 4; i++) {
        char q[1100];
        snprintf(q, sizeof q, "%s%s", db, lake_sfx[i]);
        unlink(q); /* absent is fine */
    }
}

/* Reads the content of the lake db (+ its WAL, when there) through SQLite
 * on a private copy, so nothing beside the lake is touched. sealed: the base
 * is a completed run (its seal covers status, env_steps, eval_reward). */
static void read_content(const char *db, const char *copy_dir, int sealed, content *c)
{
    memset(c, 0, sizeof *c);
    char p[512], w[512], src[1024];
    snprintf(p, sizeof p, "%s/read.db", copy_dir);
    snprintf(w, sizeof w, "%s/read.db-wal", copy_dir);
    unlink_lake(p); /* stale copies: none may survive */
    if (fuzz_copy_file(db, p))
        return;
    snprintf(src, sizeof src, "%s-wal", db);
    if (access(src, F_OK) == 0 && fuzz_copy_file(src, w))
        return;
    sqlite3 *h = NULL;
    if (sqlite3_open_v2(p, &h, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        sqlite3_close(h);
        return;
    }
    char cols[1024], sql[2048];
    int bad = 0;
    runs_cols(1 << LK_RUNS_IDENTITY | 1 << LK_RUNS_BUILD, cols, sizeof cols);
    snprintf(sql, sizeof sql, "SELECT %s, config_text, genesis FROM runs", cols);
    bad |= run_view(h, sql, &c->v[V_IDENTITY]);
    runs_cols(sealed ? 1 << LK_RUNS_SEAL : 0, cols, sizeof cols);
    snprintf(sql, sizeof sql, "SELECT head_hash, ledger_rows, row_counts%s%s FROM runs", cols[0] ? "," : "", cols);
    bad |= run_view(h, sql, &c->v[V_DERIVED]);
    bad |= run_view(h, "SELECT status FROM runs", &c->v[V_STATUS]);
    bad |= run_view(h, "SELECT rowid, * FROM ledger ORDER BY rowid", &c->v[V_LEDGER]);
    bad |= run_view(h, "SELECT rowid, * FROM salts ORDER BY rowid", &c->v[V_SALTS]);
    /* A checkpoint is its signed text: signature lines by other keys do not
     * change what it states (ledger/note.h). */
    bad |= run_view(h,
                    "SELECT cp_id, tree_size, status, substr(note, 1, instr(note, char(10, 10))) FROM checkpoints "
                    "ORDER BY rowid",
                    &c->v[V_CHECKPOINTS]);
    for (int t = 0; t < LKT_COUNT; t++) {
        snprintf(sql, sizeof sql, "SELECT rowid, * FROM %s ORDER BY rowid", lk_tables[t].name);
        bad |= run_view(h, sql, &c->v[V_EVENT0 + t]);
    }
    sqlite3_close(h);
    c->ok = !bad;
}

static int row_eq(const view *a, size_t i, const view *b, size_t j)
{
    size_t na = a->off[i + 1] - a->off[i], nb = b->off[j + 1] - b->off[j];
    return na == nb && !memcmp(a->data + a->off[i], b->data + b->off[j], na);
}

/* 1: m's rows are the first rows of b's (all of them when exact). */
static int view_prefix(const view *m, const view *b, int exact)
{
    if (m->nrows > b->nrows || (exact && m->nrows != b->nrows))
        return 0;
    for (size_t i = 0; i < m->nrows; i++)
        if (!row_eq(m, i, b, i))
            return 0;
    return 1;
}

/* ---- the bases ----------------------------------------------------------- */

static char dir[256];
static ms_keyring *kr;
static ms_note_verifier trusted;
static content base_content[NBASE];
static int base_sealed[NBASE] = {1, 0, 0, 1};
static char *base_cp[NBASE]; /* the final external checkpoint (bases 0, 1) */
static size_t base_cp_len[NBASE];
static int ready;

static void path_of(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

static void tiny(ms_config *c)
{
    fuzz_tiny_config(c);
    c->writer_threads = 0; /* copy_running copies a quiescent lake: no writer thread behind it */
}

/* Base 2: the files of a running lake, copied at its second update. */
static int progress_calls;
static void copy_running(const trainer_status *st, void *ctx)
{
    (void)st;
    const char *run = ctx;
    if (++progress_calls != 2)
        return;
    char src[600], dst[600];
    static const char *const sfx[] = {"", "-wal", ".checkpoint"};
    for (int i = 0; i < 3; i++) {
        snprintf(src, sizeof src, "%s%s", run, sfx[i]);
        char name[64];
        snprintf(name, sizeof name, "base2.db%s", sfx[i]);
        path_of(dst, sizeof dst, name);
        FUZZ_REQUIRE(fuzz_copy_file(src, dst) == 0, "setup: copy %s", src);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *d = fuzz_scratch_dir("lake");
    FUZZ_REQUIRE(d, "setup: mkdtemp: %s", strerror(errno));
    snprintf(dir, sizeof dir, "%s", d);
    char kpath[512], p[512], w[512];
    path_of(kpath, sizeof kpath, "keyring");
    path_of(w, sizeof w, "w");
    FUZZ_REQUIRE(mkdir(w, 0700) == 0, "setup: mkdir");
    ms_err e;
    ms_keyring_source src = {MS_KEYRING_FILE, "", "fuzz"};
    snprintf(src.spec, sizeof src.spec, "%s", kpath);
    FUZZ_REQUIRE(ms_keyring_create(kpath, "fuzz", &e) == MS_OK && ms_keyring_load(&src, &kr, &e) == MS_OK,
                 "setup: %s", e.msg);
    snprintf(trusted.name, sizeof trusted.name, "fuzz");
    FUZZ_REQUIRE(ms_keyring_public_key(kr, trusted.pub, &e) == MS_OK &&
                     ms_note_key_id(trusted.name, trusted.pub, trusted.key_id, &e) == MS_OK,
                 "setup: %s", e.msg);
    ms_keyring *dev = NULL;
    FUZZ_REQUIRE(ms_keyring_dev(1, &dev, &e) == MS_OK, "setup: %s", e.msg);
    ms_config c;
    tiny(&c);
    for (int b = 0; b < NBASE; b++) {
        char name[32];
        snprintf(name, sizeof name, b == 2 ? "run2.db" : "base%d.db", b);
        path_of(p, sizeof p, name);
        exp_options o = {.path = p, .overwrite = 1, .kr = b == 3 ? dev : kr, .first_gen = -1};
        if (b == 1)
            o.interrupt_at = 64;
        if (b == 2) {
            o.progress = copy_running;
            o.progress_ctx = p;
        }
        exp_result res;
        FUZZ_REQUIRE(exp_run(&c, &o, &res, &e) == MS_OK, "setup: base %d: %s", b, e.msg);
        if (b == 2)
            FUZZ_REQUIRE(progress_calls >= 2, "setup: the tiny run has %d updates", progress_calls);
        snprintf(name, sizeof name, "base%d.db", b);
        path_of(p, sizeof p, name);
        read_content(p, dir, base_sealed[b], &base_content[b]);
        FUZZ_REQUIRE(base_content[b].ok, "setup: base %d unreadable", b);
        lake_verify_opts vo = {.trusted = b == 3 ? NULL : &trusted};
        lake_verify_report rep;
        FUZZ_REQUIRE(lake_verify(p, &vo, &rep, &e) == MS_OK, "setup: base %d does not verify: %s", b, e.msg);
        /* Base 3 has the development key; base 2 is a running lake copied
         * between two checkpoints, intact but not authenticated (its last
         * entries follow the newest signed checkpoint: ledger/verify.h). */
        FUZZ_REQUIRE(b >= 2 || rep.authenticated, "setup: base %d not authenticated: %s", b, rep.unsigned_why);
        if (b < 2) {
            char cp[600];
            snprintf(cp, sizeof cp, "%s.checkpoint", p);
            base_cp[b] = fuzz_read_file(cp, &base_cp_len[b]);
            FUZZ_REQUIRE(base_cp[b], "setup: no %s", cp);
        }
    }
    ms_keyring_free(dev);
    ready = 1;
    return 0;
}

/* ---- the plan -------------------------------------------------------------- */

enum { OP_SET, OP_DELETE, OP_DUP, OP_COUNT, OP_SCHEMA, OP_TAIL, OP_RAW, OP_PAGE, OP_TRUNC, OP_SIDE, NOP };
#define MAX_OPS 8

static const char *table_name(unsigned k)
{
    static const char *const extra[] = {"runs", "ledger", "salts", "checkpoints"};
    k %= 4 + LKT_COUNT;
    return k < 4 ? extra[k] : lk_tables[k - 4].name;
}

/* rowid of the k-th row (mod count) of tbl, or 0 when it has none. */
static int64_t pick_row(sqlite3 *db, const char *tbl, unsigned k)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT rowid FROM \"%s\" ORDER BY rowid LIMIT 1 OFFSET (?1 %% max(1, (SELECT count(*) FROM \"%s\")))",
             tbl, tbl);
    sqlite3_stmt *st;
    int64_t r = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_int64(st, 1, k);
    if (sqlite3_step(st) == SQLITE_ROW)
        r = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return r;
}

/* Name of column k (mod count) of tbl into out; 0, or -1. */
static int pick_col(sqlite3 *db, const char *tbl, unsigned k, char out[64])
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT * FROM \"%s\" LIMIT 0", tbl);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    int n = sqlite3_column_count(st);
    int rc = -1;
    if (n > 0) {
        snprintf(out, 64, "%s", sqlite3_column_name(st, (int)(k % (unsigned)n)));
        rc = 0;
    }
    sqlite3_finalize(st);
    return rc;
}

static void exec_ignore(sqlite3 *db, const char *sql)
{
    /* The plan may ask for what SQLite refuses (a type a STRICT column
     * rejects, a duplicate key): such an edit is simply not made. */
    (void)sqlite3_exec(db, sql, NULL, NULL, NULL);
}

static void op_set(sqlite3 *db, fuzz_reader *r)
{
    const char *tbl = table_name(fuzz_u8(r));
    unsigned rk = fuzz_u16(r), ck = fuzz_u8(r), kind = fuzz_u8(r) % 6;
    char col[64];
    int64_t row = pick_row(db, tbl, rk);
    if (pick_col(db, tbl, ck, col))
        return;
    char sql[256];
    if (kind == 5)
        snprintf(sql, sizeof sql, "UPDATE \"%s\" SET \"%s\" = \"%s\" + ?1 WHERE rowid = ?2", tbl, col, col);
    else
        snprintf(sql, sizeof sql, "UPDATE \"%s\" SET \"%s\" = ?1 WHERE rowid = ?2", tbl, col);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return;
    const uint8_t *b;
    size_t n;
    switch (kind) {
    case 0: sqlite3_bind_null(st, 1); break;
    case 1: sqlite3_bind_int64(st, 1, (int64_t)(int32_t)fuzz_u32(r)); break;
    case 2: {
        uint64_t bits = (uint64_t)fuzz_u32(r) << 32 | fuzz_u32(r);
        double v;
        memcpy(&v, &bits, sizeof v);
        sqlite3_bind_double(st, 1, v);
        break;
    }
    case 3:
        fuzz_bytes(r, 64, &b, &n);
        sqlite3_bind_text(st, 1, (const char *)b, (int)n, SQLITE_TRANSIENT);
        break;
    case 4:
        fuzz_bytes(r, 64, &b, &n);
        sqlite3_bind_blob(st, 1, b, (int)n, SQLITE_TRANSIENT);
        break;
    default: sqlite3_bind_int64(st, 1, (int64_t)(int8_t)fuzz_u8(r)); break;
    }
    sqlite3_bind_int64(st, 2, row);
    (void)sqlite3_step(st); /* refused edits are skipped (exec_ignore) */
    sqlite3_finalize(st);
}

static void op_row(sqlite3 *db, fuzz_reader *r, int dup)
{
    const char *tbl = table_name(fuzz_u8(r));
    int64_t row = pick_row(db, tbl, fuzz_u16(r));
    char sql[256];
    if (dup)
        snprintf(sql, sizeof sql, "INSERT INTO \"%s\" SELECT * FROM \"%s\" WHERE rowid = %lld", tbl, tbl,
                 (long long)row);
    else
        snprintf(sql, sizeof sql, "DELETE FROM \"%s\" WHERE rowid = %lld", tbl, (long long)row);
    exec_ignore(db, sql);
}

static void op_count(sqlite3 *db, fuzz_reader *r)
{
    unsigned what = fuzz_u8(r) % 3;
    int d = (int8_t)fuzz_u8(r);
    char sql[256];
    if (what == 0)
        snprintf(sql, sizeof sql, "UPDATE runs SET ledger_rows = ledger_rows + %d", d);
    else if (what == 1)
        snprintf(sql, sizeof sql,
                 "UPDATE runs SET row_counts = json_set(row_counts, '$.%s', json_extract(row_counts, '$.%s') + %d)",
                 lk_tables[(unsigned)fuzz_u8(r) % LKT_COUNT].name, lk_tables[0].name, d);
    else
        snprintf(sql, sizeof sql, "UPDATE ledger SET n_rows = n_rows + %d WHERE seq = %lld", d,
                 (long long)pick_row(db, "ledger", fuzz_u16(r)));
    exec_ignore(db, sql);
}

static void op_schema(sqlite3 *db, fuzz_reader *r)
{
    unsigned what = fuzz_u8(r) % 4;
    int64_t row = pick_row(db, "sqlite_schema", fuzz_u8(r));
    exec_ignore(db, "PRAGMA writable_schema = ON");
    char sql[512];
    const uint8_t *b;
    size_t n;
    if (what == 0) {
        unsigned at = fuzz_u16(r);
        uint8_t c = fuzz_u8(r);
        snprintf(sql, sizeof sql,
                 "UPDATE sqlite_schema SET sql = substr(sql, 1, %u %% max(1, length(sql))) || char(%u) || "
                 "substr(sql, 2 + %u %% max(1, length(sql))) WHERE rowid = %lld",
                 at, c ? c : 32, at, (long long)row);
        exec_ignore(db, sql);
    } else if (what == 1) {
        fuzz_bytes(r, 48, &b, &n);
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db, "UPDATE sqlite_schema SET sql = sql || ?1 WHERE rowid = ?2", -1, &st, NULL) ==
            SQLITE_OK) {
            sqlite3_bind_text(st, 1, (const char *)b, (int)n, SQLITE_TRANSIENT);
            sqlite3_bind_int64(st, 2, row);
            (void)sqlite3_step(st); /* refused edits are skipped */
            sqlite3_finalize(st);
        }
    } else if (what == 2) {
        snprintf(sql, sizeof sql, "DELETE FROM sqlite_schema WHERE rowid = %lld", (long long)row);
        exec_ignore(db, sql);
    } else {
        static const char *const extra[] = {
            "CREATE TABLE extra(x)",
            "CREATE INDEX extra_i ON ledger(step)",
            "CREATE VIEW extra_v AS SELECT 1",
            "CREATE TRIGGER extra_t AFTER INSERT ON ledger BEGIN SELECT 1; END",
            "CREATE TEMP TABLE t(x)",
        };
        exec_ignore(db, extra[fuzz_u8(r) % 5]);
    }
    exec_ignore(db, "PRAGMA writable_schema = OFF");
}

/* The last k entries go, with their rows, salts and the checkpoints past
 * the cut; the runs row is made to match (head, counts, ledger_rows). */
static void op_tail(sqlite3 *db, fuzz_reader *r)
{
    int k = 1 + fuzz_u8(r) % 64;
    char sql[512];
    for (int t = 0; t < LKT_COUNT; t++) {
        snprintf(sql, sizeof sql,
                 "DELETE FROM %s WHERE rowid >= (SELECT min(first_rowid) FROM ledger WHERE tbl = '%s' AND seq > "
                 "(SELECT max(seq) - %d FROM ledger))",
                 lk_tables[t].name, lk_tables[t].name, k);
        exec_ignore(db, sql);
    }
    snprintf(sql, sizeof sql, "DELETE FROM salts WHERE seq > (SELECT max(seq) - %d FROM ledger)", k);
    exec_ignore(db, sql);
    snprintf(sql, sizeof sql, "DELETE FROM ledger WHERE seq > (SELECT max(seq) - %d FROM ledger)", k);
    exec_ignore(db, sql);
    exec_ignore(db, "DELETE FROM checkpoints WHERE tree_size > (SELECT max(seq) FROM ledger)");
    exec_ignore(db, "UPDATE runs SET ledger_rows = (SELECT max(seq) FROM ledger), head_hash = (SELECT lower(hex(hash)) "
                    "FROM ledger ORDER BY seq DESC LIMIT 1)");
    char set[2048];
    size_t n = (size_t)snprintf(set, sizeof set, "UPDATE runs SET row_counts = json_object(");
    for (int t = 0; t < LKT_COUNT; t++)
        n += (size_t)snprintf(set + n, sizeof set - n, "%s'%s', (SELECT count(*) FROM %s)", t ? "," : "",
                              lk_tables[t].name, lk_tables[t].name);
    snprintf(set + n, sizeof set - n, ")");
    exec_ignore(db, set);
    if (fuzz_u8(r) & 1) /* and say the run is still running */
        exec_ignore(db, "UPDATE runs SET status = 'running', finished_at = NULL");
}

/* A raw operation, decoded when the plan is read, applied once SQLite has
 * closed the file. */
typedef struct raw_plan {
    int op, is_wal;
    unsigned what, a, b, how;
    uint32_t at;
    const uint8_t *bytes;
    size_t nbytes;
} raw_plan;

static void raw_decode(int op, fuzz_reader *r, raw_plan *p)
{
    memset(p, 0, sizeof *p);
    p->op = op;
    p->is_wal = fuzz_u8(r) & 1;
    switch (op) {
    case OP_SIDE:
        p->what = fuzz_u8(r) % 3;
        if (p->what == 0)
            fuzz_bytes(r, 64, &p->bytes, &p->nbytes);
        break;
    case OP_RAW:
        p->at = fuzz_u32(r);
        fuzz_bytes(r, 32, &p->bytes, &p->nbytes);
        break;
    case OP_PAGE:
        p->a = fuzz_u8(r);
        p->b = fuzz_u8(r);
        p->how = fuzz_u8(r) % 3;
        break;
    default: /* OP_TRUNC */
        p->at = fuzz_u32(r);
        break;
    }
}

static void raw_apply(const raw_plan *p, const char *db, int base)
{
    char wal[800], target[800];
    snprintf(wal, sizeof wal, "%s-wal", db);
    snprintf(target, sizeof target, "%s", p->is_wal ? wal : db);
    if (p->op == OP_SIDE) {
        if (p->what == 0) {
            char j[800];
            snprintf(j, sizeof j, "%s-journal", db);
            FUZZ_REQUIRE(fuzz_write_file(j, p->bytes, p->nbytes) == 0, "write %s", j);
        } else if (p->what == 1) {
            char other[512];
            snprintf(other, sizeof other, "%s/base2.db-wal", dir);
            if (base != 2)
                FUZZ_REQUIRE(fuzz_copy_file(other, wal) == 0, "copy %s", other);
        } else {
            unlink(wal); /* may be absent */
        }
        return;
    }
    size_t n;
    char *buf = fuzz_read_file(target, &n);
    if (!buf || n == 0) { /* no WAL (or an empty one) to change */
        free(buf);
        return;
    }
    if (p->op == OP_RAW) {
        size_t at = p->at % n;
        for (size_t i = 0; i < p->nbytes && at + i < n; i++)
            buf[at + i] = (char)p->bytes[i];
    } else if (p->op == OP_PAGE) {
        size_t unit = p->is_wal ? FRAME : PAGE, first = p->is_wal ? WAL_HDR : 0;
        size_t np = n > first ? (n - first) / unit : 0;
        if (np) {
            char *pa = buf + first + (p->a % np) * unit, *pb = buf + first + (p->b % np) * unit;
            if (p->how == 0) {
                memset(pa, 0, unit);
            } else if (p->how == 1) {
                memmove(pa, pb, unit);
            } else if (pa != pb) {
                char *t = malloc(unit);
                FUZZ_REQUIRE(t, "out of memory");
                memcpy(t, pa, unit);
                memcpy(pa, pb, unit);
                memcpy(pb, t, unit);
                free(t);
            }
        }
    } else {
        n = p->at % (n + 1);
    }
    FUZZ_REQUIRE(fuzz_write_file(target, buf, n) == 0, "write %s", target);
    free(buf);
}

/* ---- the directory, before and after verify ------------------------------ */

typedef struct dirstate {
    char text[4096];
} dirstate;

static void snap(const char *d, dirstate *s)
{
    s->text[0] = 0;
    DIR *h = opendir(d);
    FUZZ_REQUIRE(h, "opendir %s", d);
    char names[16][256];
    int n = 0;
    struct dirent *de;
    while ((de = readdir(h)) && n < 16)
        if (de->d_name[0] != '.')
            snprintf(names[n++], 256, "%s", de->d_name);
    closedir(h);
    qsort(names, (size_t)n, sizeof names[0], (int (*)(const void *, const void *))strcmp);
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        char p[1100];
        struct stat sb;
        snprintf(p, sizeof p, "%.700s/%.255s", d, names[i]);
        if (lstat(p, &sb) != 0)
            continue;
        k += (size_t)snprintf(s->text + k, sizeof s->text - k, "%s %lld %lld.%09ld %o\n", names[i],
                              (long long)sb.st_size, (long long)sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec,
                              (unsigned)sb.st_mode);
        if (k >= sizeof s->text)
            break;
    }
}

/* ---- one input ------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready || size < 1 || size > 4096)
        return 0;
    fuzz_reader r = {data, size, 0};
    uint8_t flags = fuzz_u8(&r);
    int base = flags & 3, rechain = (flags >> 2) & 1, drop_cp = (flags >> 3) & 1, keep_wal = (flags >> 4) & 1;
    char wd[512], db[768], src[768];
    snprintf(wd, sizeof wd, "%s/w", dir);
    snprintf(db, sizeof db, "%s/lake.db", wd);
    unlink_lake(db); /* the previous input's files, where there are */
    for (int i = 0; i < 2; i++) {
        char q[800];
        snprintf(src, sizeof src, "%s/base%d.db%s", dir, base, lake_sfx[i]);
        snprintf(q, sizeof q, "%s%s", db, lake_sfx[i]);
        if (access(src, F_OK) == 0)
            FUZZ_REQUIRE(fuzz_copy_file(src, q) == 0, "copy %s", src);
    }

    int nops = 0, rechained = 0;
    sqlite3 *h = NULL;
    char *trig[64];
    int ntrig = 0;
    raw_plan raw[MAX_OPS];
    int nraw = 0;
    while (fuzz_left(&r) && nops < MAX_OPS) {
        int op = fuzz_u8(&r) % NOP;
        nops++;
        if (op >= OP_RAW) {
            raw_decode(op, &r, &raw[nraw++]);
            continue;
        }
        if (!h) {
            if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
                sqlite3_close(h);
                h = NULL;
                break;
            }
            if (keep_wal) {
                int on = 1;
                sqlite3_db_config(h, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, &on);
                sqlite3_file_control(h, "main", SQLITE_FCNTL_PERSIST_WAL, &on);
            }
            sqlite3_stmt *st;
            if (sqlite3_prepare_v2(h, "SELECT name, sql FROM sqlite_schema WHERE type = 'trigger'", -1, &st,
                                   NULL) == SQLITE_OK) {
                while (sqlite3_step(st) == SQLITE_ROW && ntrig < 64) {
                    const char *nm = (const char *)sqlite3_column_text(st, 0),
                               *sq = (const char *)sqlite3_column_text(st, 1);
                    if (!nm || !sq)
                        continue;
                    trig[ntrig] = strdup(sq);
                    FUZZ_REQUIRE(trig[ntrig], "out of memory");
                    ntrig++;
                }
                sqlite3_finalize(st);
                for (int i = 0; i < ntrig; i++) {
                    /* the trigger's name is its 3rd word: CREATE TRIGGER name */
                    char nm[128] = "";
                    if (sscanf(trig[i], "CREATE TRIGGER %127s", nm) == 1) {
                        char drop[200];
                        snprintf(drop, sizeof drop, "DROP TRIGGER %s", nm);
                        exec_ignore(h, drop);
                    }
                }
            }
        }
        switch (op) {
        case OP_SET: op_set(h, &r); break;
        case OP_DELETE: op_row(h, &r, 0); break;
        case OP_DUP: op_row(h, &r, 1); break;
        case OP_COUNT: op_count(h, &r); break;
        case OP_SCHEMA: op_schema(h, &r); break;
        default: op_tail(h, &r); break;
        }
    }
    if (h) {
        for (int i = 0; i < ntrig; i++) {
            exec_ignore(h, trig[i]);
            free(trig[i]);
        }
    }
    if (rechain) {
        if (!h && sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
            sqlite3_close(h);
            h = NULL;
        }
        if (h) {
            char err[256];
            if (keep_wal) {
                int on = 1;
                sqlite3_db_config(h, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, &on);
                sqlite3_file_control(h, "main", SQLITE_FCNTL_PERSIST_WAL, &on);
            }
            /* A lake too damaged to walk is simply not rechained (and the
             * oracle then allows nothing a re-chain would). */
            rechained = lake_rechain(h, drop_cp, NULL, NULL, err, sizeof err) == 0;
        }
    }
    if (h)
        sqlite3_close(h);
    /* What the forger's re-chain produced, before any raw byte changes: the
     * only content a no-key OK may then stand for. */
    char pre[600];
    snprintf(pre, sizeof pre, "%s/pre.db", dir);
    if (rechained && nraw) {
        char pw[620], dw[800];
        snprintf(pw, sizeof pw, "%s-wal", pre);
        snprintf(dw, sizeof dw, "%s-wal", db);
        unlink(pw); /* a stale one, where there is */
        FUZZ_REQUIRE(fuzz_copy_file(db, pre) == 0, "copy %s", db);
        if (access(dw, F_OK) == 0)
            FUZZ_REQUIRE(fuzz_copy_file(dw, pw) == 0, "copy %s", dw);
    }
    for (int i = 0; i < nraw; i++)
        raw_apply(&raw[i], db, base);

    /* Verify three ways; nothing in the directory may change. */
    dirstate before, after;
    snap(wd, &before);
    lake_verify_opts o0 = {0}, o1 = {.trusted = &trusted},
                     o2 = {.trusted = &trusted, .checkpoint = base_cp[base], .checkpoint_len = base_cp_len[base]};
    lake_verify_report rep[3];
    ms_err e[3];
    int rc[3];
    rc[0] = lake_verify(db, &o0, &rep[0], &e[0]);
    rc[1] = lake_verify(db, &o1, &rep[1], &e[1]);
    rc[2] = base_cp[base] ? lake_verify(db, &o2, &rep[2], &e[2]) : MS_EINPUT;
    snap(wd, &after);
    FUZZ_REQUIRE(!strcmp(before.text, after.text), "verify changed the directory:\n%s--\n%s", before.text,
                 after.text);
    for (int i = 0; i < 3; i++) {
        FUZZ_REQUIRE(rc[i] == MS_OK || rc[i] == MS_EINPUT || rc[i] == MS_ECHECK || rc[i] == MS_EIO,
                     "verify %d returned %d", i, rc[i]);
        FUZZ_REQUIRE(rc[i] == MS_OK || e[i].msg[0] || (i == 2 && !base_cp[base]), "verify %d: no message", i);
    }
    if (rc[0] && rc[1] && rc[2])
        return 0;

    content m;
    read_content(db, dir, base_sealed[base], &m);
    const content *b = &base_content[base];
    int same_chain = m.ok, same_signed, prefix = m.ok;
    for (int v = 0; v < NVIEW && m.ok; v++) {
        int chain_view = v != V_STATUS && v != V_CHECKPOINTS;
        int eq = view_prefix(&m.v[v], &b->v[v], 1);
        if (chain_view && !eq)
            same_chain = 0;
        /* A prefix: the same identity, every chained table cut at some
         * point, the runs totals and status rewritten to match. */
        if (v == V_IDENTITY && !eq)
            prefix = 0;
        if (v != V_IDENTITY && v != V_DERIVED && v != V_STATUS && !view_prefix(&m.v[v], &b->v[v], 0))
            prefix = 0;
    }
    same_signed = same_chain && m.ok && view_prefix(&m.v[V_STATUS], &b->v[V_STATUS], 1) &&
                  view_prefix(&m.v[V_CHECKPOINTS], &b->v[V_CHECKPOINTS], 1);
    const char *why = m.ok ? "differs" : "is unreadable through SQLite";
    int forged = 0; /* the content is exactly what the re-chain made */
    if (rc[0] == MS_OK && !same_chain && !prefix && rechained) {
        forged = 1;
        if (nraw) {
            content f;
            read_content(pre, dir, base_sealed[base], &f);
            for (int v = 0; v < NVIEW; v++)
                if (v != V_STATUS && v != V_CHECKPOINTS && (!f.ok || !view_prefix(&m.v[v], &f.v[v], 1)))
                    forged = 0;
            content_free(&f);
        }
    }
    if (rc[0] == MS_OK)
        FUZZ_REQUIRE(same_chain || forged || prefix, "verify (no key) says OK, but the lake's content %s (base %d)",
                     why, base);
    if (rc[1] == MS_OK && rep[1].authenticated)
        FUZZ_REQUIRE(same_signed || prefix, "verify (trusted key) says OK, authenticated, but the content %s (base %d)",
                     why, base);
    /* An external checkpoint proves the first S entries, nothing about the
     * runs row's status or the checkpoint rows (a copy of the same run taken
     * before its interruption was recorded, or a resumed run that has added
     * nothing yet, is 'running' at the same size). So: the run's chain,
     * possibly continued. (Found by the fuzzer: base 1 with base 2's WAL,
     * the same run copied just before its interrupt, verifies; rightly.) */
    int extends = m.ok && view_prefix(&m.v[V_IDENTITY], &b->v[V_IDENTITY], 1);
    for (int v = V_LEDGER; v < NVIEW && extends; v++)
        if (v != V_CHECKPOINTS && !view_prefix(&b->v[v], &m.v[v], 0))
            extends = 0;
    if (rc[2] == MS_OK)
        FUZZ_REQUIRE(extends, "verify with the final external checkpoint says OK, but the run's chain %s (base %d)",
                     m.ok ? "is not in the lake" : why, base);
    content_free(&m);
    return 0;
}
