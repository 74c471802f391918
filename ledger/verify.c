/* verify.c — read-only checking, diffing and reading of lakes (see verify.h). */
#include "ledger/verify.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "ledger/canon.h"

#define HEX_LEN (2 * LK_HASH_LEN)
/* Bound on sqlite_schema objects read from a hostile file. */
#define MAX_SCHEMA_OBJECTS 4096
/* Hash the row buffer once it holds this much. */
#define FLUSH_BYTES (256u * 1024u)

/* A read-only lake. */
typedef struct rd {
    const char *path;
    sqlite3 *db;
    sqlite3_stmt *rows[LKT_COUNT]; /* covered-range readers, prepared lazily */
    lk_hasher h, hd;
    lk_buf buf;
} rd;

/* The runs row, copied out of SQLite (values point into store). */
typedef struct runs_row {
    int64_t rowid;
    lk_value v[LKR_NCOLS];
    char *store;
} runs_row;

/* ---- errors ------------------------------------------------------------ */

static int sql_status(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_FORMAT:
    case SQLITE_TOOBIG:
    case SQLITE_CANTOPEN:
    case SQLITE_EMPTY:
        return MS_EINPUT;
    case SQLITE_IOERR:
        return rc == SQLITE_IOERR_SHORT_READ ? MS_EINPUT : MS_EIO;
    default:
        return MS_EIO;
    }
}

/* An SQLite failure while reading R: malformed files are MS_EINPUT. */
static int sqlerr(rd *R, int rc, const char *what, ms_err *e)
{
    int st = sql_status(rc);
    const char *msg = R->db ? sqlite3_errmsg(R->db) : sqlite3_errstr(rc);
    /* A schema that does not parse is a malformed file too. */
    if (st == MS_EIO && rc == SQLITE_ERROR && strstr(msg, "malformed"))
        st = MS_EINPUT;
    if (st == MS_EINPUT)
        return ms_fail(e, st, "%s: malformed or truncated lake (%s: SQLite: %s)", R->path, what,
                       msg);
    return ms_fail(e, st, "%s: %s: SQLite: %s", R->path, what, msg);
}

static int prep(rd *R, const char *sql, sqlite3_stmt **st, ms_err *e)
{
    int rc = sqlite3_prepare_v2(R->db, sql, -1, st, NULL);
    if (rc != SQLITE_OK) {
        *st = NULL;
        return sqlerr(R, rc, "prepare", e);
    }
    return MS_OK;
}

/* Bounded copy (truncates; always terminated when n > 0). */
static void copy_str(char *dst, size_t n, const char *src)
{
    size_t k = 0;
    if (!n)
        return;
    for (; src && src[k] && k + 1 < n; k++)
        dst[k] = src[k];
    dst[k] = '\0';
}

/* Printable, bounded rendering of a hostile TEXT value. */
static void safe_text(char *out, size_t n, const lk_value *v)
{
    size_t k = 0;
    if (v->type != LK_TEXT) {
        copy_str(out, n, v->type == LK_NULL ? "NULL" : "?");
        return;
    }
    const unsigned char *p = v->p;
    for (size_t i = 0; i < v->n && k + 1 < n; i++)
        out[k++] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
    out[k] = '\0';
}

/* "table step 12 env 3 agent OPEN" (or "table <col0> N", or "table rowid N"). */
static void describe_row(char *out, size_t n, const lk_table *T, const lk_value *v,
                         int64_t rowid)
{
    int k = snprintf(out, n, "%s", T->name);
    int key = T->step_col >= 0 ? T->step_col : (T->cols[0].type == LK_INT ? 0 : -1);
    if (key >= 0 && v[key].type == LK_INT)
        k += snprintf(out + k, n - (size_t)k, " %s %" PRId64, T->cols[key].name, v[key].i);
    else
        k += snprintf(out + k, n - (size_t)k, " rowid %" PRId64, rowid);
    if (T->env_col >= 0 && v[T->env_col].type == LK_INT && (size_t)k < n)
        k += snprintf(out + k, n - (size_t)k, " env %" PRId64, v[T->env_col].i);
    if (T->agent_col >= 0 && (size_t)k < n) {
        char a[16];
        safe_text(a, sizeof a, &v[T->agent_col]);
        snprintf(out + k, n - (size_t)k, " agent %s", a);
    }
}

/* ---- opening ----------------------------------------------------------- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* File-level checks before SQLite sees the file. */
static int precheck(const char *path, int *has_wal, ms_err *e)
{
    struct stat sb, wb;
    unsigned char h[100];
    if (stat(path, &sb) != 0)
        return ms_fail(e, MS_EINPUT, "%s: %s", path,
                       errno == ENOENT ? "no such file" : strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return ms_fail(e, MS_EINPUT, "%s: not a regular file", path);
    if (sb.st_size == 0)
        return ms_fail(e, MS_EINPUT, "%s: empty file, not a marlsim lake", path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ms_fail(e, MS_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    ssize_t got = pread(fd, h, sizeof h, 0);
    close(fd);
    if (got != (ssize_t)sizeof h || memcmp(h, "SQLite format 3", 16) != 0)
        return ms_fail(e, MS_EINPUT, "%s: not an SQLite database, so not a marlsim lake", path);
    uint32_t psz = (uint32_t)h[16] << 8 | h[17];
    if (psz == 1)
        psz = 65536;
    if (psz < 512 || (psz & (psz - 1)))
        return ms_fail(e, MS_EINPUT, "%s: malformed SQLite header (page size %u)", path, psz);

    char wal[4096];
    if (snprintf(wal, sizeof wal, "%s-wal", path) >= (int)sizeof wal)
        return ms_fail(e, MS_EINPUT, "%s: path too long", path);
    *has_wal = stat(wal, &wb) == 0;
    if (!*has_wal) {
        /* Without a WAL the main file holds every page the header counts. */
        uint32_t pages = be32(h + 28);
        uint64_t need = (uint64_t)pages * psz;
        if (pages && be32(h + 92) == be32(h + 24) && need > (uint64_t)sb.st_size)
            return ms_fail(e, MS_EINPUT,
                           "%s: truncated: %lld bytes, its header says %u pages of %u bytes",
                           path, (long long)sb.st_size, pages, psz);
        if ((uint64_t)sb.st_size % psz != 0)
            return ms_fail(e, MS_EINPUT,
                           "%s: malformed: %lld bytes is not a whole number of %u-byte pages "
                           "(truncated, or bytes appended)", path, (long long)sb.st_size, psz);
    }
    return MS_OK;
}

/* "file:" URI for path, percent-encoded. */
static int make_uri(char *out, size_t n, const char *path, int immutable)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t k = 0;
    const char *pre = "file:";
    while (*pre && k < n)
        out[k++] = *pre++;
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if (k + 4 > n)
            return -1;
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '/' || *p == '.' || *p == '_' || *p == '-' || *p == '~') {
            out[k++] = (char)*p;
        } else {
            out[k++] = '%';
            out[k++] = hex[*p >> 4];
            out[k++] = hex[*p & 15];
        }
    }
    int m = snprintf(out + k, n - k, "?mode=ro%s", immutable ? "&immutable=1" : "");
    return m < 0 || (size_t)m >= n - k ? -1 : 0;
}

static int pragma_int(rd *R, const char *sql, int64_t *out, ms_err *e)
{
    sqlite3_stmt *st;
    int rc = prep(R, sql, &st, e);
    if (rc)
        return rc;
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return MS_OK;
    }
    rc = sqlerr(R, s == SQLITE_DONE ? SQLITE_CORRUPT : s, sql, e);
    sqlite3_finalize(st);
    return rc;
}

static int text_eq(const unsigned char *a, int na, const unsigned char *b, int nb)
{
    return na == nb && (na == 0 || memcmp(a, b, (size_t)na) == 0);
}

/* sqlite_schema of R must equal the schema script's, object by object. */
static int check_schema(rd *R, char table[32], ms_err *e)
{
    sqlite3 *mem = NULL;
    sqlite3_stmt *exp = NULL, *look = NULL, *all = NULL, *elook = NULL;
    char *sql = NULL;
    int rc = lk_schema_script(&sql, e);
    if (rc)
        return rc;
    if (sqlite3_open_v2(":memory:", &mem, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(mem, sql, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(mem, "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY rowid",
                           -1, &exp, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(mem, "SELECT type FROM sqlite_schema WHERE name = ?1", -1, &elook,
                           NULL) != SQLITE_OK) {
        rc = ms_fail(e, MS_EIO, "lake: cannot build the reference schema: %s",
                     mem ? sqlite3_errmsg(mem) : "out of memory");
        goto out;
    }
    if ((rc = prep(R, "SELECT type, sql FROM sqlite_schema WHERE name = ?1", &look, e)) ||
        (rc = prep(R, "SELECT type, name, tbl_name FROM sqlite_schema", &all, e)))
        goto out;

    /* Every expected object, as the same type, with the same text. */
    int s;
    while ((s = sqlite3_step(exp)) == SQLITE_ROW) {
        const char *type = (const char *)sqlite3_column_text(exp, 0);
        const char *name = (const char *)sqlite3_column_text(exp, 1);
        const char *tbl = (const char *)sqlite3_column_text(exp, 2);
        copy_str(table, 32, tbl);
        sqlite3_reset(look);
        sqlite3_bind_text(look, 1, name, -1, SQLITE_STATIC);
        int ls = sqlite3_step(look);
        if (ls == SQLITE_DONE) {
            rc = ms_fail(e, MS_ECHECK, "schema: %s %s is missing%s", type, name,
                         strcmp(type, "trigger") == 0
                             ? " (it keeps its table append-only: tampering)"
                             : "");
            goto out;
        }
        if (ls != SQLITE_ROW) {
            rc = sqlerr(R, ls, "read sqlite_schema", e);
            goto out;
        }
        const unsigned char *ltype = sqlite3_column_text(look, 0);
        if (!ltype || strcmp((const char *)ltype, type) != 0) {
            char lt[16];
            lk_value v = lk_textn((const char *)ltype, ltype ? (size_t)sqlite3_column_bytes(look, 0) : 0);
            safe_text(lt, sizeof lt, &v);
            rc = ms_fail(e, MS_ECHECK, "schema: %s is a %s, expected a %s", name, lt, type);
            goto out;
        }
        const unsigned char *lsql = sqlite3_column_text(look, 1);
        int nl = sqlite3_column_bytes(look, 1);
        const unsigned char *esql = sqlite3_column_text(exp, 3);
        int ne = sqlite3_column_bytes(exp, 3);
        if ((lsql == NULL) != (esql == NULL) || !text_eq(lsql, nl, esql, ne)) {
            rc = ms_fail(e, MS_ECHECK,
                         "schema: the CREATE text of %s %s differs from marlsim lake schema v%d",
                         type, name, LK_SCHEMA_VERSION);
            goto out;
        }
    }
    if (s != SQLITE_DONE) {
        rc = ms_fail(e, MS_EIO, "lake: reference schema: %s", sqlite3_errmsg(mem));
        goto out;
    }

    /* Nothing else (sqlite_stat* from ANALYZE aside). */
    int seen = 0;
    while ((s = sqlite3_step(all)) == SQLITE_ROW) {
        if (++seen > MAX_SCHEMA_OBJECTS) {
            rc = ms_fail(e, MS_ECHECK, "schema: more than %d objects", MAX_SCHEMA_OBJECTS);
            goto out;
        }
        const char *type = (const char *)sqlite3_column_text(all, 0);
        const char *name = (const char *)sqlite3_column_text(all, 1);
        const char *tbl = (const char *)sqlite3_column_text(all, 2);
        if (!name || !type)
            continue; /* cannot be looked up; counted as missing below */
        sqlite3_reset(elook);
        sqlite3_bind_text(elook, 1, name, -1, SQLITE_STATIC);
        if (sqlite3_step(elook) == SQLITE_ROW)
            continue;
        if (strcmp(type, "table") == 0 && strncmp(name, "sqlite_stat", 11) == 0)
            continue;
        char nm[64], tb[40], ty[16];
        lk_value v = lk_text(name);
        safe_text(nm, sizeof nm, &v);
        v = lk_text(tbl);
        safe_text(tb, sizeof tb, &v);
        v = lk_text(type);
        safe_text(ty, sizeof ty, &v);
        copy_str(table, 32, tb);
        rc = ms_fail(e, MS_ECHECK, "schema: unexpected %s %s on %s (not part of marlsim lake schema v%d)",
                     ty, nm, tb, LK_SCHEMA_VERSION);
        goto out;
    }
    if (s != SQLITE_DONE) {
        rc = sqlerr(R, s, "read sqlite_schema", e);
        goto out;
    }
    table[0] = '\0';
    rc = MS_OK;
out:
    sqlite3_finalize(exp);
    sqlite3_finalize(elook);
    sqlite3_finalize(look);
    sqlite3_finalize(all);
    sqlite3_close(mem);
    free(sql);
    return rc;
}

static void rd_close(rd *R)
{
    for (int t = 0; t < LKT_COUNT; t++)
        sqlite3_finalize(R->rows[t]);
    if (R->db) {
        if (!sqlite3_get_autocommit(R->db))
            sqlite3_exec(R->db, "COMMIT", NULL, NULL, NULL);
        sqlite3_close(R->db);
    }
    lk_hasher_release(&R->h);
    lk_hasher_release(&R->hd);
    lk_buf_release(&R->buf);
    memset(R, 0, sizeof *R);
}

/* Opens path read-only and runs the opening checks of verify.h. table (32
 * bytes) receives the table implicated by a schema mismatch. */
static int rd_open(rd *R, const char *path, char table[32], ms_err *e)
{
    int has_wal = 0, rc;
    memset(R, 0, sizeof *R);
    R->path = path;
    if (!path)
        return ms_fail(e, MS_EINPUT, "lake: no path");
    if ((rc = precheck(path, &has_wal, e)))
        return rc;
    if ((rc = lk_hasher_init(&R->h, e)) || (rc = lk_hasher_init(&R->hd, e))) {
        rd_close(R);
        return rc;
    }
    size_t ulen = strlen(path) * 3 + 64;
    char *uri = malloc(ulen);
    if (!uri || make_uri(uri, ulen, path, !has_wal) != 0) {
        free(uri);
        rd_close(R);
        return ms_fail(e, MS_EIO, "%s: out of memory", path);
    }
    int o = sqlite3_open_v2(uri, &R->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX,
                            NULL);
    free(uri);
    if (o != SQLITE_OK) {
        rc = ms_fail(e, MS_EINPUT, "%s: cannot open as SQLite: %s", path,
                     R->db ? sqlite3_errmsg(R->db) : sqlite3_errstr(o));
        rd_close(R);
        return rc;
    }
    sqlite3_extended_result_codes(R->db, 1);
    int on = -1;
    if (sqlite3_db_config(R->db, SQLITE_DBCONFIG_DEFENSIVE, 1, &on) != SQLITE_OK || on != 1 ||
        sqlite3_db_config(R->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, &on) != SQLITE_OK || on != 0) {
        rd_close(R);
        return ms_fail(e, MS_EIO, "%s: cannot enable SQLite defensive mode", path);
    }
    sqlite3_limit(R->db, SQLITE_LIMIT_LENGTH, (int)LK_MAX_VALUE + 65536);
    int64_t app = 0, ver = 0;
    if (sqlite3_exec(R->db, "PRAGMA query_only = 1; BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        rc = sqlerr(R, sqlite3_extended_errcode(R->db), "begin", e);
        rd_close(R);
        return rc;
    }
    if ((rc = pragma_int(R, "PRAGMA application_id", &app, e)) ||
        (rc = pragma_int(R, "PRAGMA user_version", &ver, e))) {
        rd_close(R);
        return rc;
    }
    if (app != LK_APPLICATION_ID) {
        rd_close(R);
        return ms_fail(e, MS_EINPUT,
                       "%s: not a marlsim lake (application_id 0x%08" PRIx32 ", expected 0x%08x)",
                       path, (uint32_t)app, LK_APPLICATION_ID);
    }
    if (ver != LK_SCHEMA_VERSION) {
        rd_close(R);
        return ms_fail(e, MS_EINPUT,
                       "%s: unsupported lake schema version %" PRId64 " (this build reads %d)",
                       path, ver, LK_SCHEMA_VERSION);
    }
    if ((rc = check_schema(R, table, e))) {
        rd_close(R);
        return rc;
    }
    return MS_OK;
}

/* ---- reading rows ------------------------------------------------------ */

/* v <- column i of st. MS_EIO when SQLite could not materialise it. */
static int col_value(sqlite3_stmt *st, int i, lk_value *v)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER: *v = lk_int(sqlite3_column_int64(st, i)); return MS_OK;
    case SQLITE_FLOAT: *v = lk_real(sqlite3_column_double(st, i)); return MS_OK;
    case SQLITE_TEXT: {
        const unsigned char *p = sqlite3_column_text(st, i);
        int n = sqlite3_column_bytes(st, i);
        *v = lk_textn((const char *)p, (size_t)n);
        return p || !n ? MS_OK : MS_EIO;
    }
    case SQLITE_BLOB: {
        const void *p = sqlite3_column_blob(st, i);
        int n = sqlite3_column_bytes(st, i);
        *v = lk_blob(p, (size_t)n);
        return p || !n ? MS_OK : MS_EIO;
    }
    default: *v = lk_null(); return MS_OK;
    }
}

/* The reader of covered rowid ranges of table t. */
static int rows_stmt(rd *R, int t, sqlite3_stmt **out, ms_err *e)
{
    if (!R->rows[t]) {
        const lk_table *T = &lk_tables[t];
        char q[1024];
        size_t k = (size_t)snprintf(q, sizeof q, "SELECT rowid");
        for (int c = 0; c < T->ncols; c++)
            k += (size_t)snprintf(q + k, sizeof q - k, ", %s", T->cols[c].name);
        snprintf(q + k, sizeof q - k, " FROM %s WHERE rowid BETWEEN ?1 AND ?2 ORDER BY rowid",
                 T->name);
        int rc = prep(R, q, &R->rows[t], e);
        if (rc)
            return rc;
    }
    *out = R->rows[t];
    return MS_OK;
}

/* Copies columns [first, first + n) of the current row of st into dst and
 * one malloc'd block (*store). */
static int own_values(sqlite3_stmt *st, int first, int n, lk_value *dst, char **store,
                      ms_err *e)
{
    size_t total = 0;
    for (int c = 0; c < n; c++) {
        if (col_value(st, first + c, &dst[c]))
            return ms_fail(e, MS_EIO, "lake: out of memory reading a value");
        if (dst[c].type == LK_TEXT || dst[c].type == LK_BLOB)
            total += dst[c].n + 1;
    }
    char *p = malloc(total ? total : 1);
    if (!p)
        return ms_fail(e, MS_EIO, "lake: out of memory");
    *store = p;
    for (int c = 0; c < n; c++) {
        if (dst[c].type == LK_TEXT || dst[c].type == LK_BLOB) {
            if (dst[c].n)
                memcpy(p, dst[c].p, dst[c].n);
            p[dst[c].n] = '\0';
            dst[c].p = p;
            p += dst[c].n + 1;
        }
    }
    return MS_OK;
}

static const char runs_select[] =
    "SELECT rowid, run_id, name, seed, config_text, config_sha256, version, build_facts, "
    "key_ids, dev_key, status, genesis, head_hash, ledger_rows, row_counts, env_steps, "
    "eval_reward_per_step, started_at, finished_at FROM runs";

/* Reads the single runs row and checks its columns' types. */
static int read_runs(rd *R, runs_row *run, ms_err *e)
{
    sqlite3_stmt *st;
    memset(run, 0, sizeof *run);
    int rc = prep(R, runs_select, &st, e);
    if (rc)
        return rc;
    int s = sqlite3_step(st);
    if (s == SQLITE_DONE) {
        sqlite3_finalize(st);
        return ms_fail(e, MS_ECHECK, "runs: the table holds no row");
    }
    if (s != SQLITE_ROW) {
        rc = sqlerr(R, s, "read runs", e);
        sqlite3_finalize(st);
        return rc;
    }
    run->rowid = sqlite3_column_int64(st, 0);
    rc = own_values(st, 1, LKR_NCOLS, run->v, &run->store, e);
    if (!rc) {
        s = sqlite3_step(st);
        if (s == SQLITE_ROW)
            rc = ms_fail(e, MS_ECHECK, "runs: the table holds more than one row");
        else if (s != SQLITE_DONE)
            rc = sqlerr(R, s, "read runs", e);
    }
    sqlite3_finalize(st);
    for (int c = 0; !rc && c < LKR_NCOLS; c++) {
        const lk_value *v = &run->v[c];
        if (v->type == LK_NULL ? !lk_runs_columns[c].nullable
                               : v->type != lk_runs_columns[c].type)
            rc = ms_fail(e, MS_ECHECK, "runs: column %s holds a value of the wrong type",
                         lk_runs_columns[c].name);
    }
    if (rc) {
        free(run->store);
        run->store = NULL;
    }
    return rc;
}

static int vtext_is(const lk_value *v, const char *s)
{
    return v->type == LK_TEXT && v->n == strlen(s) && memcmp(v->p, s, v->n) == 0;
}

/* ---- verify ------------------------------------------------------------ */

typedef struct walk_state {
    int64_t entries;
    int64_t covered[LKT_COUNT];
    unsigned char head[LK_HASH_LEN];
    int sealed;
} walk_state;

static int fail_at(lake_verify_report *rep, const char *table, int64_t seq, ms_err *e, int status,
                   const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int fail_at(lake_verify_report *rep, const char *table, int64_t seq, ms_err *e, int status,
                   const char *fmt, ...)
{
    copy_str(rep->table, sizeof rep->table, table);
    rep->seq = seq;
    va_list ap;
    va_start(ap, fmt);
    ms_vfail(e, status, fmt, ap);
    va_end(ap);
    return status;
}

/* Hashes the rows of an event-table entry and checks them. */
static int walk_rows(rd *R, int t, int64_t seq, int64_t step, int64_t first, int64_t n,
                     lake_verify_report *rep, ms_err *e)
{
    const lk_table *T = &lk_tables[t];
    sqlite3_stmt *st;
    lk_value v[LK_MAX_COLS];
    char where[160];
    int rc = rows_stmt(R, t, &st, e);
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
            if (col_value(st, c + 1, &v[c]))
                return ms_fail(e, MS_EIO, "%s: out of memory reading %s", R->path, T->name);
        describe_row(where, sizeof where, T, v, rowid);
        if (rowid != first + i || i >= n)
            return fail_at(rep, T->name, seq, e, MS_ECHECK,
                           "%s step %" PRId64 ": rowid %" PRId64 ", covered by ledger seq %" PRId64
                           ", is missing (rows were deleted)",
                           T->name, step, first + i, seq);
        if (T->digest_col >= 0) {
            const lk_value *src = &v[T->digest_src], *dig = &v[T->digest_col];
            unsigned char d[LK_HASH_LEN];
            char hex[HEX_LEN + 1];
            int ok;
            if (src->type != T->cols[T->digest_src].type) {
                ok = 0;
            } else {
                if ((rc = lk_sha256(&R->hd, src->p, src->n, d, e)))
                    return rc;
                ms_hex(d, LK_HASH_LEN, hex);
                ok = T->digest_hex
                         ? dig->type == LK_TEXT && dig->n == HEX_LEN && memcmp(dig->p, hex, HEX_LEN) == 0
                         : dig->type == LK_BLOB && dig->n == LK_HASH_LEN &&
                               memcmp(dig->p, d, LK_HASH_LEN) == 0;
            }
            if (!ok)
                return fail_at(rep, T->name, seq, e, MS_ECHECK,
                               "%s: %s column differs from SHA-256(%s)", where,
                               T->cols[T->digest_col].name, T->cols[T->digest_src].name);
        }
        if ((rc = lk_put_row(&R->buf, v, T->ncols, e)))
            return rc;
        if (R->buf.len >= FLUSH_BYTES) {
            if ((rc = lk_hash_add(&R->h, R->buf.p, R->buf.len, e)))
                return rc;
            R->buf.len = 0;
        }
        i++;
    }
    if (s != SQLITE_DONE)
        return sqlerr(R, s, T->name, e);
    if (i < n)
        return fail_at(rep, T->name, seq, e, MS_ECHECK,
                       "%s step %" PRId64 ": rowid %" PRId64 ", covered by ledger seq %" PRId64
                       ", is missing (rows were deleted)",
                       T->name, step, first + i, seq);
    return MS_OK;
}

static int walk_ledger(rd *R, const runs_row *run, walk_state *w, lake_verify_report *rep,
                       ms_err *e)
{
    sqlite3_stmt *st;
    int rc = prep(R, "SELECT seq, tbl, step, first_rowid, n_rows, hash FROM ledger ORDER BY seq",
                  &st, e);
    if (rc)
        return rc;
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t expect = w->entries + 1;
        lk_value c[6];
        for (int k = 0; k < 6; k++)
            if (col_value(st, k, &c[k])) {
                rc = ms_fail(e, MS_EIO, "%s: out of memory", R->path);
                goto out;
            }
        if (c[0].type != LK_INT || c[1].type != LK_TEXT || c[2].type != LK_INT ||
            c[3].type != LK_INT || c[4].type != LK_INT || c[5].type != LK_BLOB) {
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
        safe_text(tname, sizeof tname, &c[1]);
        if (w->sealed) {
            rc = fail_at(rep, "ledger", expect, e, MS_ECHECK,
                         "ledger seq %" PRId64 " (%s) follows the seal of the finished run",
                         expect, tname);
            goto out;
        }
        int64_t step = c[2].i, first = c[3].i, n = c[4].i;
        int seal = vtext_is(&c[1], "runs");
        int t = seal ? -1 : lk_table_find(c[1].p, c[1].n);
        if (!seal && t < 0) {
            rc = fail_at(rep, "ledger", expect, e, MS_ECHECK,
                         "ledger seq %" PRId64 ": unknown table '%s'", expect, tname);
            goto out;
        }
        if (seal ? (first != run->rowid || n != 1)
                 : (n < 1 || n > INT32_MAX || first != w->covered[t] + 1)) {
            rc = fail_at(rep, tname, expect, e, MS_ECHECK,
                         "ledger seq %" PRId64 " (%s step %" PRId64 "): covers rowids %" PRId64
                         "..+%" PRId64 ", expected a contiguous range from rowid %" PRId64,
                         expect, tname, step, first, n, seal ? run->rowid : w->covered[t] + 1);
            goto out;
        }
        /* prev || header || rows */
        unsigned char hdr[96];
        const char *tbl = seal ? "runs" : lk_tables[t].name;
        uint32_t ncols = seal ? LK_SEAL_NCOLS : (uint32_t)lk_tables[t].ncols;
        size_t hn = lk_entry_header(hdr, expect, tbl, step, first, (uint32_t)n, ncols);
        R->buf.len = 0;
        if ((rc = lk_hash_begin(&R->h, e)) || (rc = lk_hash_add(&R->h, w->head, LK_HASH_LEN, e)) ||
            (rc = lk_hash_add(&R->h, hdr, hn, e)))
            goto out;
        if (seal) {
            lk_value sv[LK_SEAL_NCOLS];
            for (int k = 0; k < LK_SEAL_NCOLS; k++)
                sv[k] = run->v[lk_seal_columns[k]];
            rc = lk_put_row(&R->buf, sv, LK_SEAL_NCOLS, e);
        } else {
            rc = walk_rows(R, t, expect, step, first, n, rep, e);
        }
        if (rc)
            goto out;
        unsigned char hash[LK_HASH_LEN];
        if ((rc = lk_hash_add(&R->h, R->buf.p, R->buf.len, e)) || (rc = lk_hash_end(&R->h, hash, e)))
            goto out;
        R->buf.len = 0;
        if (c[5].n != LK_HASH_LEN || memcmp(c[5].p, hash, LK_HASH_LEN) != 0) {
            char stored[HEX_LEN + 1] = "(not 32 bytes)", recomputed[HEX_LEN + 1];
            if (c[5].n == LK_HASH_LEN)
                ms_hex(c[5].p, LK_HASH_LEN, stored);
            ms_hex(hash, LK_HASH_LEN, recomputed);
            if (seal)
                rc = fail_at(rep, "runs", expect, e, MS_ECHECK,
                             "ledger seq %" PRId64 " (runs seal): hash differs (stored %s, "
                             "recomputed %s): the runs row (status, name, version, build facts, "
                             "key ids, env_steps or final reward) changed after the run finished",
                             expect, stored, recomputed);
            else
                rc = fail_at(rep, tbl, expect, e, MS_ECHECK,
                             "ledger seq %" PRId64 " (%s step %" PRId64 ", rowids %" PRId64
                             "..%" PRId64 "): hash differs (stored %s, recomputed %s)",
                             expect, tbl, step, first, first + n - 1, stored, recomputed);
            goto out;
        }
        memcpy(w->head, hash, LK_HASH_LEN);
        w->entries = expect;
        if (seal)
            w->sealed = 1;
        else
            w->covered[t] += n;
    }
    if (s != SQLITE_DONE)
        rc = sqlerr(R, s, "ledger", e);
out:
    sqlite3_finalize(st);
    return rc;
}

/* COUNT(*) of every event table vs coverage, then the runs summary. */
static int check_totals(rd *R, const runs_row *run, const walk_state *w, lake_verify_report *rep,
                        ms_err *e)
{
    char q[160];
    int rc;
    for (int t = 0; t < LKT_COUNT; t++) {
        int64_t cnt = 0;
        snprintf(q, sizeof q, "SELECT COUNT(*) FROM %s", lk_tables[t].name);
        if ((rc = pragma_int(R, q, &cnt, e)))
            return rc;
        if (cnt != w->covered[t])
            return fail_at(rep, lk_tables[t].name, 0, e, MS_ECHECK,
                           "%s: %" PRId64 " rows, ledger covers %" PRId64 "%s", lk_tables[t].name,
                           cnt, w->covered[t], cnt > w->covered[t] ? " (rows were inserted)" : "");
    }
    const lk_value *v = run->v;
    if (v[LKR_LEDGER_ROWS].i != w->entries)
        return fail_at(rep, "runs", 0, e, MS_ECHECK,
                       "runs: ledger_rows says %" PRId64 " entries, the ledger holds %" PRId64
                       " (the ledger tail was removed or added to)",
                       v[LKR_LEDGER_ROWS].i, w->entries);
    char head[HEX_LEN + 1];
    ms_hex(w->head, LK_HASH_LEN, head);
    if (!vtext_is(&v[LKR_HEAD_HASH], head)) {
        char stored[HEX_LEN + 1];
        safe_text(stored, sizeof stored, &v[LKR_HEAD_HASH]);
        return fail_at(rep, "runs", w->entries, e, MS_ECHECK,
                       "runs: head_hash %s is not the hash of the ledger's last entry (seq %" PRId64
                       ": %s): the ledger tail was removed or rewritten",
                       stored, w->entries, head);
    }
    /* row_counts must be exactly what the writer renders for these counts. */
    char want[1024];
    size_t k = (size_t)snprintf(want, sizeof want, "{");
    for (int t = 0; t < LKT_COUNT; t++)
        k += (size_t)snprintf(want + k, sizeof want - k, "%s\"%s\":%" PRId64, t ? "," : "",
                              lk_tables[t].name, w->covered[t]);
    snprintf(want + k, sizeof want - k, "}");
    if (!vtext_is(&v[LKR_ROW_COUNTS], want)) {
        /* Name the first table whose count differs, if the JSON says so. */
        sqlite3_stmt *st;
        if ((rc = prep(R, "SELECT json_extract(?1, ?2)", &st, e)))
            return rc;
        for (int t = 0; t < LKT_COUNT; t++) {
            char path[64];
            snprintf(path, sizeof path, "$.%s", lk_tables[t].name);
            sqlite3_reset(st);
            sqlite3_bind_text(st, 1, v[LKR_ROW_COUNTS].p, (int)v[LKR_ROW_COUNTS].n, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, path, -1, SQLITE_STATIC);
            int s = sqlite3_step(st);
            if (s == SQLITE_ROW && (sqlite3_column_type(st, 0) != SQLITE_INTEGER ||
                                    sqlite3_column_int64(st, 0) != w->covered[t])) {
                char said[32];
                copy_str(said, sizeof said, (const char *)sqlite3_column_text(st, 0));
                sqlite3_finalize(st);
                return fail_at(rep, lk_tables[t].name, 0, e, MS_ECHECK,
                               "runs: row_counts says %s has %s rows, the table holds %" PRId64,
                               lk_tables[t].name, said[0] ? said : "no", w->covered[t]);
            }
            if (s != SQLITE_ROW)
                break; /* not JSON at all */
        }
        sqlite3_finalize(st);
        return fail_at(rep, "runs", 0, e, MS_ECHECK,
                       "runs: row_counts is not the counts the tables hold (%s)", want);
    }
    return MS_OK;
}

/* SQLite's own structural check of every b-tree page (also STRICT types,
 * NOT NULL and CHECK constraints): a page the data walk never reads, such as
 * an index, must not be garbage either. */
static int quick_check(rd *R, ms_err *e)
{
    sqlite3_stmt *st;
    int rc = prep(R, "PRAGMA quick_check(1)", &st, e);
    if (rc)
        return rc;
    int s = sqlite3_step(st);
    if (s != SQLITE_ROW) {
        rc = sqlerr(R, s == SQLITE_DONE ? SQLITE_CORRUPT : s, "quick_check", e);
    } else {
        const unsigned char *t = sqlite3_column_text(st, 0);
        if (!t || strcmp((const char *)t, "ok") != 0) {
            char msg[200];
            lk_value v = lk_text((const char *)t);
            safe_text(msg, sizeof msg, &v);
            rc = ms_fail(e, MS_EINPUT, "%s: malformed lake (SQLite quick_check: %s)", R->path, msg);
        }
    }
    sqlite3_finalize(st);
    return rc;
}

int lake_verify(const char *path, lake_verify_report *rep, ms_err *e)
{
    lake_verify_report tmp;
    if (!rep)
        rep = &tmp;
    memset(rep, 0, sizeof *rep);
    rd R;
    runs_row run = {0};
    walk_state w;
    memset(&w, 0, sizeof w);
    int rc = rd_open(&R, path, rep->table, e);
    if (rc)
        return rc;
    if ((rc = quick_check(&R, e)))
        goto out;
    if ((rc = read_runs(&R, &run, e))) {
        copy_str(rep->table, sizeof rep->table, "runs");
        goto out;
    }
    const lk_value *v = run.v;
    static const char *const statuses[] = {"running", "completed", "interrupted", "failed"};
    int st = -1;
    for (int k = 0; k < 4; k++)
        if (vtext_is(&v[LKR_STATUS], statuses[k]))
            st = k;
    if (st < 0) {
        rc = fail_at(rep, "runs", 0, e, MS_ECHECK, "runs: status is not one of running, "
                                                   "completed, interrupted, failed");
        goto out;
    }
    copy_str(rep->status, sizeof rep->status, statuses[st]);

    /* Identity: never trust the stored hashes. */
    unsigned char d[LK_HASH_LEN];
    char hex[HEX_LEN + 1], stored[HEX_LEN + 1];
    if ((rc = lk_sha256(&R.hd, v[LKR_CONFIG_TEXT].p, v[LKR_CONFIG_TEXT].n, d, e)))
        goto out;
    ms_hex(d, LK_HASH_LEN, hex);
    if (!vtext_is(&v[LKR_CONFIG_SHA256], hex)) {
        safe_text(stored, sizeof stored, &v[LKR_CONFIG_SHA256]);
        rc = fail_at(rep, "runs", 0, e, MS_ECHECK,
                     "runs: config_sha256 differs from SHA-256(config_text) (stored %s, "
                     "recomputed %s): config_text or its hash was changed",
                     stored, hex);
        goto out;
    }
    if ((rc = lk_genesis(&R.hd, v[LKR_RUN_ID].p, v[LKR_RUN_ID].n, v[LKR_CONFIG_TEXT].p,
                         v[LKR_CONFIG_TEXT].n, (uint64_t)v[LKR_SEED].i, w.head, e)))
        goto out;
    ms_hex(w.head, LK_HASH_LEN, rep->genesis);
    if (!vtext_is(&v[LKR_GENESIS], rep->genesis)) {
        safe_text(stored, sizeof stored, &v[LKR_GENESIS]);
        rc = fail_at(rep, "runs", 0, e, MS_ECHECK,
                     "runs: genesis differs from the hash of run_id, config_text and seed "
                     "(stored %s, recomputed %s): the run's identity (e.g. its seed) was changed",
                     stored, rep->genesis);
        goto out;
    }

    if ((rc = walk_ledger(&R, &run, &w, rep, e)))
        goto out;
    if (st != 0 && !w.sealed) {
        rc = fail_at(rep, "runs", w.entries, e, MS_ECHECK,
                     "runs: status is '%s' but the ledger has no seal: the run never finished "
                     "that way, or the ledger tail was removed",
                     statuses[st]);
        goto out;
    }
    if (st == 0 && w.sealed) {
        rc = fail_at(rep, "runs", w.entries, e, MS_ECHECK,
                     "runs: status is 'running' but the ledger is sealed (the run finished)");
        goto out;
    }
    if ((rc = check_totals(&R, &run, &w, rep, e)))
        goto out;

    for (int t = 0; t < LKT_COUNT; t++) {
        rep->rows[t] = w.covered[t];
        rep->total_rows += w.covered[t];
    }
    rep->entries = w.entries;
    rep->env_steps = v[LKR_ENV_STEPS].i;
    rep->sealed = w.sealed;
    rep->complete = st == 1;
    ms_hex(w.head, LK_HASH_LEN, rep->head);
    rep->table[0] = '\0';
    rep->seq = 0;
out:
    free(run.store);
    rd_close(&R);
    return rc;
}

/* ---- diff -------------------------------------------------------------- */

typedef struct diff_side {
    rd R;
    runs_row run;
    sqlite3_stmt *led;
    const char *name; /* "a" / "b" in messages */
} diff_side;

/* Next ledger entry of s: 1 = got one, 0 = end, <0 = error. */
static int next_entry(diff_side *s, lk_value c[5], int *t, ms_err *e)
{
    int st = sqlite3_step(s->led);
    if (st == SQLITE_DONE)
        return 0;
    if (st != SQLITE_ROW)
        return sqlerr(&s->R, st, "ledger", e);
    for (int k = 0; k < 5; k++)
        if (col_value(s->led, k, &c[k]))
            return ms_fail(e, MS_EIO, "%s: out of memory", s->R.path);
    if (c[0].type != LK_INT || c[1].type != LK_TEXT || c[2].type != LK_INT || c[3].type != LK_INT ||
        c[4].type != LK_INT || c[4].i < 1 || c[4].i > INT32_MAX)
        return ms_fail(e, MS_ECHECK, "%s: ledger entry %s is malformed", s->R.path,
                       c[0].type == LK_INT ? "(bad columns)" : "(bad seq)");
    *t = vtext_is(&c[1], "runs") ? -1 : lk_table_find(c[1].p, c[1].n);
    if (*t < 0 && !vtext_is(&c[1], "runs")) {
        char tn[40];
        safe_text(tn, sizeof tn, &c[1]);
        return ms_fail(e, MS_ECHECK, "%s: ledger seq %" PRId64 " names unknown table '%s'",
                       s->R.path, c[0].i, tn);
    }
    return 1;
}

static void diff_at_row(lake_diff_report *d, const lk_table *T, const lk_value *v,
                        int64_t entry_step)
{
    d->step = T->step_col >= 0 && v[T->step_col].type == LK_INT ? v[T->step_col].i : entry_step;
    d->env = T->env_col >= 0 && v[T->env_col].type == LK_INT ? v[T->env_col].i : -1;
    if (T->agent_col >= 0)
        safe_text(d->agent, sizeof d->agent, &v[T->agent_col]);
}

/* Compares the covered rows of one entry; sets d when they differ. */
static int diff_rows(diff_side *A, diff_side *B, int t, int64_t seq, int64_t step, const lk_value *ca,
                     const lk_value *cb, lake_diff_report *d, ms_err *e)
{
    const lk_table *T = &lk_tables[t];
    sqlite3_stmt *sa, *sb;
    int rc;
    if ((rc = rows_stmt(&A->R, t, &sa, e)) || (rc = rows_stmt(&B->R, t, &sb, e)))
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
            return sqlerr(&A->R, ra, T->name, e);
        if (rb != SQLITE_ROW && rb != SQLITE_DONE)
            return sqlerr(&B->R, rb, T->name, e);
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
            if (col_value(sa, c + 1, &va[c]) || col_value(sb, c + 1, &vb[c]))
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
                copy_str(d->table, sizeof d->table, T->name);
                diff_at_row(d, T, va, step);
                describe_row(where, sizeof where, T, va, ca[3].i + i);
                snprintf(d->what, sizeof d->what, "%s (ledger seq %" PRId64 "): column %s differs",
                         where, seq, T->cols[c].name);
                return MS_OK;
            }
        }
    }
    if (ca[4].i != cb[4].i) {
        d->identical = 0;
        d->seq = seq;
        copy_str(d->table, sizeof d->table, T->name);
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
    if ((rc = rd_open(&A.R, a, tbl, e)))
        return rc;
    if ((rc = rd_open(&B.R, b, tbl, e))) {
        rd_close(&A.R);
        return rc;
    }
    if ((rc = read_runs(&A.R, &A.run, e)) || (rc = read_runs(&B.R, &B.run, e)))
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

    static const char q[] = "SELECT seq, tbl, step, first_rowid, n_rows FROM ledger ORDER BY seq";
    if ((rc = prep(&A.R, q, &A.led, e)) || (rc = prep(&B.R, q, &B.led, e)))
        goto out;
    d->identical = 1;
    for (int64_t seq = 1;; seq++) {
        lk_value ca[5], cb[5];
        int ta = -1, tb = -1;
        int ga_ = next_entry(&A, ca, &ta, e);
        if (ga_ < 0) {
            rc = ga_;
            goto out;
        }
        if (ga_ && ta < 0 && (flags & LAKE_DIFF_PREFIX))
            ga_ = 0; /* an unfinished run's seal ends its prefix */
        int gb_ = next_entry(&B, cb, &tb, e);
        if (gb_ < 0) {
            rc = gb_;
            goto out;
        }
        if (ga_)
            d->entries_a = seq;
        if (gb_)
            d->entries_b = seq;
        if (!ga_ || !gb_) {
            if (!ga_ && gb_ && (flags & LAKE_DIFF_PREFIX)) {
                d->prefix = 1;
                int64_t more = seq;
                while (sqlite3_step(B.led) == SQLITE_ROW && more < INT64_MAX)
                    more++;
                d->entries_b = more;
            } else if (ga_ != gb_) {
                /* One ledger is longer: count the rest of it. */
                diff_side *L = ga_ ? &A : &B;
                const lk_value *c = ga_ ? ca : cb;
                int t = ga_ ? ta : tb;
                d->identical = 0;
                d->seq = seq;
                copy_str(d->table, sizeof d->table, t >= 0 ? lk_tables[t].name : "runs");
                d->step = c[2].i;
                int64_t more = seq;
                while (sqlite3_step(L->led) == SQLITE_ROW && more < INT64_MAX)
                    more++;
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
            safe_text(na, sizeof na, &ca[1]);
            safe_text(nb, sizeof nb, &cb[1]);
            d->identical = 0;
            d->seq = seq;
            copy_str(d->table, sizeof d->table, na);
            d->step = ca[2].i;
            snprintf(d->what, sizeof d->what,
                     "ledger seq %" PRId64 ": a appended %s step %" PRId64 " (%" PRId64
                     " rows), b appended %s step %" PRId64 " (%" PRId64 " rows)",
                     seq, na, ca[2].i, ca[4].i, nb, cb[2].i, cb[4].i);
            break;
        }
        if (ta < 0) { /* both seals: compare the sealed runs columns */
            for (int k = 0; k < LK_SEAL_NCOLS; k++) {
                if (lk_seal_columns[k] == LKR_VERSION || lk_seal_columns[k] == LKR_BUILD_FACTS)
                    continue; /* the build, not the run */
                const lk_value *x = &va[lk_seal_columns[k]], *y = &vb[lk_seal_columns[k]];
                unsigned char bx[9], by[9];
                int same = x->type == y->type;
                if (same && (x->type == LK_TEXT || x->type == LK_BLOB))
                    same = x->n == y->n && (!x->n || memcmp(x->p, y->p, x->n) == 0);
                else if (same) {
                    lk_put_value(bx, x);
                    lk_put_value(by, y);
                    same = memcmp(bx, by, lk_value_size(x)) == 0;
                }
                if (!same) {
                    d->identical = 0;
                    d->seq = seq;
                    copy_str(d->table, sizeof d->table, "runs");
                    d->step = ca[2].i;
                    snprintf(d->what, sizeof d->what,
                             "ledger seq %" PRId64 " (runs seal): column %s differs", seq,
                             lk_runs_columns[lk_seal_columns[k]].name);
                    break;
                }
            }
        } else if ((rc = diff_rows(&A, &B, ta, seq, ca[2].i, ca, cb, d, e))) {
            goto out;
        }
        if (!d->identical)
            break;
        if (ca[2].i != cb[2].i) {
            d->identical = 0;
            d->seq = seq;
            copy_str(d->table, sizeof d->table, lk_tables[ta].name);
            d->step = ca[2].i;
            snprintf(d->what, sizeof d->what,
                     "ledger seq %" PRId64 " (%s): entry step %" PRId64 " in a, %" PRId64 " in b", seq,
                     lk_tables[ta].name, ca[2].i, cb[2].i);
            break;
        }
    }
    rc = MS_OK;
out:
    sqlite3_finalize(A.led);
    sqlite3_finalize(B.led);
    free(A.run.store);
    free(B.run.store);
    rd_close(&A.R);
    rd_close(&B.R);
    return rc;
}

/* ---- readers ----------------------------------------------------------- */

int lake_read_run(const char *path, lake_run_meta *m, ms_err *e)
{
    rd R;
    runs_row run;
    char tbl[32];
    memset(m, 0, sizeof *m);
    int rc = rd_open(&R, path, tbl, e);
    if (rc)
        return rc;
    rc = read_runs(&R, &run, e);
    rd_close(&R);
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

int lake_read_snapshot(const char *path, const char *agent, void **blob, size_t *n,
                       char sha_hex[65], ms_err *e)
{
    rd R;
    char tbl[32];
    sqlite3_stmt *st = NULL;
    *blob = NULL;
    *n = 0;
    sha_hex[0] = '\0';
    if (!agent)
        return ms_fail(e, MS_EINPUT, "lake: no agent");
    int rc = rd_open(&R, path, tbl, e);
    if (rc)
        return rc;
    if ((rc = prep(&R,
                   "SELECT s.params, s.sha256, s.snapshot_id FROM policy_snapshots AS s "
                   "LEFT JOIN evaluations AS v ON v.eval_id = s.eval_id "
                   "WHERE s.agent = ?1 AND (s.eval_id IS NULL OR v.decision IN "
                   "('baseline', 'promoted')) ORDER BY s.snapshot_id DESC, s.rowid DESC LIMIT 1",
                   &st, e)))
        goto out;
    sqlite3_bind_text(st, 1, agent, -1, SQLITE_STATIC);
    int s = sqlite3_step(st);
    if (s == SQLITE_DONE) {
        rc = ms_fail(e, MS_EINPUT, "%s: no promoted policy snapshot for agent %s", path, agent);
        goto out;
    }
    if (s != SQLITE_ROW) {
        rc = sqlerr(&R, s, "policy_snapshots", e);
        goto out;
    }
    lk_value p, h;
    if (col_value(st, 0, &p) || col_value(st, 1, &h)) {
        rc = ms_fail(e, MS_EIO, "%s: out of memory", path);
        goto out;
    }
    int64_t id = sqlite3_column_int64(st, 2);
    unsigned char d[LK_HASH_LEN];
    char hex[HEX_LEN + 1];
    if (p.type != LK_BLOB) {
        rc = ms_fail(e, MS_ECHECK, "policy_snapshots snapshot_id %" PRId64 " agent %s: params is not a BLOB",
                     id, agent);
        goto out;
    }
    if ((rc = lk_sha256(&R.hd, p.p, p.n, d, e)))
        goto out;
    ms_hex(d, LK_HASH_LEN, hex);
    if (!vtext_is(&h, hex)) {
        rc = ms_fail(e, MS_ECHECK,
                     "policy_snapshots snapshot_id %" PRId64 " agent %s: sha256 differs from "
                     "SHA-256(params) (recomputed %s)",
                     id, agent, hex);
        goto out;
    }
    void *copy = malloc(p.n ? p.n : 1);
    if (!copy) {
        rc = ms_fail(e, MS_EIO, "%s: out of memory (%zu bytes)", path, p.n);
        goto out;
    }
    if (p.n)
        memcpy(copy, p.p, p.n);
    *blob = copy;
    *n = p.n;
    memcpy(sha_hex, hex, HEX_LEN + 1);
    rc = MS_OK;
out:
    sqlite3_finalize(st);
    rd_close(&R);
    return rc;
}
