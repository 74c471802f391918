/* reader.c — the read-only lake handle (contract in reader.h). */
#include "ledger/reader.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ledger/rovfs.h"

/* Bound on sqlite_schema objects read from a hostile file. */
#define MAX_SCHEMA_OBJECTS 4096

/* ---- errors and small helpers ------------------------------------------ */

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

int lk_sqlerr(lk_reader *R, int rc, const char *what, ms_err *e)
{
    int st = sql_status(rc);
    const char *msg = R->db ? sqlite3_errmsg(R->db) : sqlite3_errstr(rc);
    /* A schema that does not parse is a malformed file too. */
    if (st == MS_EIO && rc == SQLITE_ERROR && strstr(msg, "malformed"))
        st = MS_EINPUT;
    if (st == MS_EINPUT)
        return ms_fail(e, st, "%s: malformed or truncated lake (%s: SQLite: %s)", R->path, what, msg);
    return ms_fail(e, st, "%s: %s: SQLite: %s", R->path, what, msg);
}

int lk_prep(lk_reader *R, const char *sql, sqlite3_stmt **st, ms_err *e)
{
    int rc = sqlite3_prepare_v2(R->db, sql, -1, st, NULL);
    if (rc != SQLITE_OK) {
        *st = NULL;
        return lk_sqlerr(R, rc, "prepare", e);
    }
    return MS_OK;
}

void lk_copy_str(char *dst, size_t n, const char *src)
{
    size_t k = 0;
    if (!n)
        return;
    for (; src && src[k] && k + 1 < n; k++)
        dst[k] = src[k];
    dst[k] = '\0';
}

void lk_safe_text(char *out, size_t n, const lk_value *v)
{
    size_t k = 0;
    if (!n)
        return;
    if (v->type != LK_TEXT) {
        lk_copy_str(out, n, v->type == LK_NULL ? "NULL" : "?");
        return;
    }
    const unsigned char *p = v->p;
    for (size_t i = 0; i < v->n && k + 1 < n; i++)
        out[k++] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
    out[k] = '\0';
}

void lk_describe_row(char *out, size_t n, const lk_table *T, const lk_value *v, int64_t rowid)
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
        lk_safe_text(a, sizeof a, &v[T->agent_col]);
        snprintf(out + k, n - (size_t)k, " agent %s", a);
    }
}

char *lk_text_dup(const lk_value *v)
{
    if (v->type != LK_TEXT || memchr(v->p, 0, v->n))
        return NULL;
    char *s = malloc(v->n + 1);
    if (s) {
        memcpy(s, v->p, v->n);
        s[v->n] = 0;
    }
    return s;
}

int lk_vtext_is(const lk_value *v, const char *s)
{
    return v->type == LK_TEXT && v->n == strlen(s) && memcmp(v->p, s, v->n) == 0;
}

int lk_config_setting(const char *text, size_t n, const char *section, const char *key, const char **val,
                      size_t *vlen)
{
    size_t sl = strlen(section), kl = strlen(key);
    int in = 0;
    for (const char *p = text, *end = text + n; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (len > 0 && p[0] == '[')
            in = len == sl + 2 && !memcmp(p + 1, section, sl) && p[sl + 1] == ']';
        else if (in && len >= kl + 3 && !memcmp(p, key, kl) && !memcmp(p + kl, " = ", 3)) {
            *val = p + kl + 3;
            *vlen = len - kl - 3;
            return 1;
        }
        p += len + 1;
    }
    return 0;
}

/* ---- opening ----------------------------------------------------------- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* File-level checks before SQLite sees the file. */
static int precheck(lk_reader *R, const char *path, ms_err *e)
{
    struct stat sb, jb;
    unsigned char h[100];
    if (!realpath(path, R->real))
        return ms_fail(e, MS_EINPUT, "%s: %s", path, errno == ENOENT ? "no such file" : strerror(errno));
    if (stat(R->real, &sb) != 0)
        return ms_fail(e, MS_EINPUT, "%s: %s", path, errno == ENOENT ? "no such file" : strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return ms_fail(e, MS_EINPUT, "%s: not a regular file", path);
    if (sb.st_size == 0)
        return ms_fail(e, MS_EINPUT, "%s: empty file, not a marlsim lake", path);
    int fd = open(R->real, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
    if (fd < 0)
        return ms_fail(e, MS_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    /* pread may return fewer bytes than asked (the fault sweep's short
     * reads), and a read error is an I/O failure, not a verdict on the file. */
    size_t got = 0;
    int rerr = 0;
    while (got < sizeof h) {
        ssize_t n = pread(fd, h + got, sizeof h - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rerr = errno;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (rerr)
        return ms_fail(e, MS_EIO, "%s: cannot read: %s", path, strerror(rerr));
    if (got != sizeof h || memcmp(h, "SQLite format 3", 16) != 0)
        return ms_fail(e, MS_EINPUT, "%s: not an SQLite database, so not a marlsim lake", path);
    uint32_t psz = (uint32_t)h[16] << 8 | h[17];
    if (psz == 1)
        psz = 65536;
    if (psz < 512 || (psz & (psz - 1)))
        return ms_fail(e, MS_EINPUT, "%s: malformed SQLite header (page size %u)", path, psz);
    if (h[18] != 2 || h[19] != 2)
        return ms_fail(e, MS_ECHECK,
                       "%s: not in WAL mode (header bytes 18-19 are %u, %u): every marlsim lake is, so another "
                       "program rewrote it", path, h[18], h[19]);

    char side[4096 + 16];
    snprintf(side, sizeof side, "%s-journal", R->real);
    if (stat(side, &jb) == 0 && jb.st_size > 0)
        return ms_fail(e, MS_ECHECK,
                       "%s: a rollback journal (%s) is beside it: a marlsim lake never has one; another program "
                       "was writing it, and readers that roll it back see other data", path, side);
    snprintf(side, sizeof side, "%s-wal", R->real);
    R->has_wal = lstat(side, &R->st_wal) == 0;
    if (R->has_wal && !S_ISREG(R->st_wal.st_mode))
        return ms_fail(e, MS_EINPUT, "%s: its WAL %s is not a regular file (a symlink, FIFO or device): refused",
                       path, side);
    if (!R->has_wal) {
        /* Without a WAL the main file holds exactly the pages the header
         * counts (SQLite keeps the in-header size valid when bytes 24 and
         * 92 agree). */
        uint32_t pages = be32(h + 28);
        uint64_t need = (uint64_t)pages * psz;
        if (be32(h + 92) == be32(h + 24) && pages && need != (uint64_t)sb.st_size) {
            if (need > (uint64_t)sb.st_size)
                return ms_fail(e, MS_EINPUT, "%s: truncated: %lld bytes, its header says %u pages of %u bytes",
                               path, (long long)sb.st_size, pages, psz);
            return ms_fail(e, MS_EINPUT,
                           "%s: malformed: %lld bytes, but its header says %u pages of %u bytes (bytes appended "
                           "that SQLite ignores)", path, (long long)sb.st_size, pages, psz);
        }
    }
    /* A partial last page beside a WAL holding frames is what a checkpoint
     * cut short leaves (a write that hit a full disk; the fault sweep's torn
     * writes): SQLite reads those pages from the WAL and ignores the tail,
     * and the next checkpoint rewrites it. Without frames it is damage. */
    int wal_frames = R->has_wal && R->st_wal.st_size > 32;
    if ((uint64_t)sb.st_size % psz != 0 && !wal_frames)
        return ms_fail(e, MS_EINPUT,
                       "%s: malformed: %lld bytes is not a whole number of %u-byte pages (truncated, or bytes "
                       "appended)", path, (long long)sb.st_size, psz);
    R->st_db = sb;
    return MS_OK;
}

int lk_query_int(lk_reader *R, const char *sql, int64_t *out, ms_err *e)
{
    sqlite3_stmt *st;
    int rc = lk_prep(R, sql, &st, e);
    if (rc)
        return rc;
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return MS_OK;
    }
    rc = lk_sqlerr(R, s == SQLITE_DONE ? SQLITE_CORRUPT : s, sql, e);
    sqlite3_finalize(st);
    return rc;
}

static int text_eq(const unsigned char *a, int na, const unsigned char *b, int nb)
{
    return na == nb && (na == 0 || memcmp(a, b, (size_t)na) == 0);
}

/* sqlite_schema of R must equal the schema script's, object by object. */
static int check_schema(lk_reader *R, char table[32], ms_err *e)
{
    sqlite3 *mem = NULL;
    sqlite3_stmt *exp = NULL, *look = NULL, *all = NULL, *elook = NULL;
    char *sql = NULL;
    int rc = lk_schema_script(&sql, e);
    if (rc)
        return rc;
    if (sqlite3_open_v2(":memory:", &mem, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
        sqlite3_exec(mem, sql, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(mem, "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY rowid", -1, &exp,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(mem, "SELECT type FROM sqlite_schema WHERE name = ?1", -1, &elook, NULL) !=
            SQLITE_OK) {
        rc = ms_fail(e, MS_EIO, "lake: cannot build the reference schema: %s",
                     mem ? sqlite3_errmsg(mem) : "out of memory");
        goto out;
    }
    if ((rc = lk_prep(R, "SELECT type, sql FROM sqlite_schema WHERE name = ?1", &look, e)) ||
        (rc = lk_prep(R, "SELECT type, name, tbl_name FROM sqlite_schema", &all, e)))
        goto out;

    /* Every expected object, as the same type, with the same text. */
    int s;
    while ((s = sqlite3_step(exp)) == SQLITE_ROW) {
        const char *type = (const char *)sqlite3_column_text(exp, 0);
        const char *name = (const char *)sqlite3_column_text(exp, 1);
        const char *tbl = (const char *)sqlite3_column_text(exp, 2);
        lk_copy_str(table, 32, tbl);
        sqlite3_reset(look);
        sqlite3_bind_text(look, 1, name, -1, SQLITE_STATIC);
        int ls = sqlite3_step(look);
        if (ls == SQLITE_DONE) {
            rc = ms_fail(e, MS_ECHECK, "schema: %s %s is missing%s", type, name,
                         strcmp(type, "trigger") == 0 ? " (it keeps its table append-only: tampering)" : "");
            goto out;
        }
        if (ls != SQLITE_ROW) {
            rc = lk_sqlerr(R, ls, "read sqlite_schema", e);
            goto out;
        }
        const unsigned char *ltype = sqlite3_column_text(look, 0);
        const unsigned char *lsql = sqlite3_column_text(look, 1);
        const unsigned char *esql = sqlite3_column_text(exp, 3);
        /* A NULL from sqlite3_column_text can be SQLite out of memory: that
         * is no verdict on the schema (the fault sweep's failed allocations
         * were reported as tampering). */
        if (sqlite3_errcode(R->db) == SQLITE_NOMEM || sqlite3_errcode(mem) == SQLITE_NOMEM || !type || !name) {
            rc = ms_fail(e, MS_EIO, "lake: comparing the schema: SQLite is out of memory");
            goto out;
        }
        if (!ltype || strcmp((const char *)ltype, type) != 0) {
            char lt[16];
            lk_value v = lk_textn((const char *)ltype, ltype ? (size_t)sqlite3_column_bytes(look, 0) : 0);
            lk_safe_text(lt, sizeof lt, &v);
            rc = ms_fail(e, MS_ECHECK, "schema: %s is a %s, expected a %s", name, lt, type);
            goto out;
        }
        int nl = sqlite3_column_bytes(look, 1);
        int ne = sqlite3_column_bytes(exp, 3);
        if ((lsql == NULL) != (esql == NULL) || !text_eq(lsql, nl, esql, ne)) {
            rc = ms_fail(e, MS_ECHECK, "schema: the CREATE text of %s %s differs from marlsim lake schema v%d",
                         type, name, LK_SCHEMA_VERSION);
            goto out;
        }
    }
    if (s != SQLITE_DONE) {
        rc = ms_fail(e, MS_EIO, "lake: reference schema: %s", sqlite3_errmsg(mem));
        goto out;
    }

    /* Nothing else (the table sqlite_stat1 of ANALYZE aside). */
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
            continue; /* cannot be looked up; counted as missing above */
        sqlite3_reset(elook);
        sqlite3_bind_text(elook, 1, name, -1, SQLITE_STATIC);
        int es = sqlite3_step(elook);
        if (es == SQLITE_ROW)
            continue;
        if (es != SQLITE_DONE) { /* out of memory, not an unexpected object (the fault sweep) */
            rc = ms_fail(e, MS_EIO, "lake: reference schema: %s", sqlite3_errmsg(mem));
            goto out;
        }
        if (strcmp(type, "table") == 0 && strcmp(name, "sqlite_stat1") == 0)
            continue;
        char nm[64], tb[40], ty[16];
        lk_value v = lk_text(name);
        lk_safe_text(nm, sizeof nm, &v);
        v = lk_text(tbl);
        lk_safe_text(tb, sizeof tb, &v);
        v = lk_text(type);
        lk_safe_text(ty, sizeof ty, &v);
        lk_copy_str(table, 32, tb);
        rc = ms_fail(e, MS_ECHECK, "schema: unexpected %s %s on %s (not part of marlsim lake schema v%d%s)", ty, nm,
                     tb, LK_SCHEMA_VERSION,
                     strncmp(nm, "sqlite_stat", 11) == 0 ? "; only sqlite_stat1 is tolerated" : "");
        goto out;
    }
    if (s != SQLITE_DONE) {
        rc = lk_sqlerr(R, s, "read sqlite_schema", e);
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

static int same_file(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* The files SQLite holds are the ones pre-checked (device and inode), and
 * unchanged when full. */
static int held_as_checked(const lk_reader *R, int full)
{
    struct stat a, w;
    if (lk_rovfs_fstat(R->db, 0, &a) != 0 || a.st_ino != R->st_db.st_ino || a.st_dev != R->st_db.st_dev ||
        (full && !same_file(&a, &R->st_db)))
        return 0;
    int held_wal = lk_rovfs_fstat(R->db, 1, &w) == 0;
    if (held_wal != R->has_wal)
        return 0;
    return !held_wal || (w.st_ino == R->st_wal.st_ino && w.st_dev == R->st_wal.st_dev && (!full || same_file(&w, &R->st_wal)));
}

void lk_reader_close(lk_reader *R)
{
    for (int t = 0; t < LKT_COUNT; t++)
        sqlite3_finalize(R->rows[t]);
    if (R->db) {
        if (!sqlite3_get_autocommit(R->db))
            sqlite3_exec(R->db, "COMMIT", NULL, NULL, NULL); /* ends a read: nothing to report */
        sqlite3_close(R->db);
    }
    lk_hasher_release(&R->h);
    lk_hasher_release(&R->hd);
    lk_hasher_release(&R->hc);
    lk_buf_release(&R->buf);
    memset(R, 0, sizeof *R);
}

int lk_reader_open(lk_reader *R, const char *path, char table[32], ms_err *e)
{
    int rc;
    memset(R, 0, sizeof *R);
    R->path = path;
    table[0] = 0;
    if (!path)
        return ms_fail(e, MS_EINPUT, "lake: no path");
    if ((rc = precheck(R, path, e)))
        return rc;
    const char *vfs;
    if ((rc = lk_rovfs(&vfs, e)) || (rc = lk_hasher_init(&R->h, e)) || (rc = lk_hasher_init(&R->hd, e)) ||
        (rc = lk_hasher_init(&R->hc, e))) {
        lk_reader_close(R);
        return rc;
    }
    int o = sqlite3_open_v2(R->real, &R->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, vfs);
    if (o != SQLITE_OK) {
        /* An I/O error or no memory is the system failing, not a bad file
         * (the fault sweep's failed read of the header). */
        int sys = (o & 0xff) == SQLITE_IOERR || (o & 0xff) == SQLITE_NOMEM;
        rc = ms_fail(e, sys ? MS_EIO : MS_EINPUT, "%s: cannot open as SQLite: %s", path,
                     R->db ? sqlite3_errmsg(R->db) : sqlite3_errstr(o));
        lk_reader_close(R);
        R->path = path;
        return rc;
    }
    sqlite3_extended_result_codes(R->db, 1);
    int on = -1;
    if (sqlite3_db_config(R->db, SQLITE_DBCONFIG_DEFENSIVE, 1, &on) != SQLITE_OK || on != 1 ||
        sqlite3_db_config(R->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, &on) != SQLITE_OK || on != 0 ||
        sqlite3_db_config(R->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, &on) != SQLITE_OK || on != 1) {
        lk_reader_close(R);
        return ms_fail(e, MS_EIO, "%s: cannot enable SQLite defensive mode", path);
    }
    sqlite3_limit(R->db, SQLITE_LIMIT_LENGTH, (int)LK_MAX_VALUE + 65536);
    int64_t app = 0, ver = 0;
    /* Temporary tables, indices and sorts in memory: the read-only VFS opens
     * no file but the lake and its WAL, and a GROUP BY or join over a full
     * lake (audit, card, report) would otherwise fail with "unable to open
     * database file" when SQLite wants a temp file. */
    if (sqlite3_exec(R->db, "PRAGMA temp_store = MEMORY; PRAGMA query_only = 1; BEGIN", NULL, NULL, NULL) !=
        SQLITE_OK) {
        rc = lk_sqlerr(R, sqlite3_extended_errcode(R->db), "begin", e);
        lk_reader_close(R);
        return rc;
    }
    if ((rc = lk_query_int(R, "PRAGMA application_id", &app, e)) ||
        (rc = lk_query_int(R, "PRAGMA user_version", &ver, e))) {
        lk_reader_close(R);
        return rc;
    }
    if (!held_as_checked(R, 0)) {
        lk_reader_close(R);
        return ms_fail(e, MS_EIO, "%s: the file (or its WAL) was replaced between the checks and the opening: "
                       "nothing read; read it again when nothing is moving it", path);
    }
    if (app != LK_APPLICATION_ID) {
        lk_reader_close(R);
        return ms_fail(e, MS_EINPUT, "%s: not a marlsim lake (application_id 0x%08" PRIx32 ", expected 0x%08x)",
                       path, (uint32_t)app, LK_APPLICATION_ID);
    }
    if (ver != LK_SCHEMA_VERSION) {
        lk_reader_close(R);
        return ms_fail(e, MS_EINPUT, "%s: unsupported lake schema version %" PRId64 " (this build reads %d)", path,
                       ver, LK_SCHEMA_VERSION);
    }
    if ((rc = check_schema(R, table, e))) {
        lk_reader_close(R);
        return rc;
    }
    return MS_OK;
}

int lk_reader_unchanged(const lk_reader *R, ms_err *e)
{
    struct stat a, w;
    char side[4096 + 16];
    snprintf(side, sizeof side, "%s-wal", R->real);
    int has_wal = lstat(side, &w) == 0;
    if (stat(R->real, &a) != 0 || !same_file(&a, &R->st_db) || has_wal != R->has_wal ||
        (has_wal && !same_file(&w, &R->st_wal)) || !held_as_checked(R, 1))
        return ms_fail(e, MS_EIO,
                       "%s: the lake changed while it was being read (its writer is running?): nothing can be "
                       "concluded; read it again when the run has ended", R->path);
    return MS_OK;
}

/* ---- reading rows ------------------------------------------------------ */

int lk_col_value(sqlite3_stmt *st, int i, lk_value *v)
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

int lk_rows_stmt(lk_reader *R, int t, sqlite3_stmt **out, ms_err *e)
{
    if (!R->rows[t]) {
        const lk_table *T = &lk_tables[t];
        char q[1024];
        size_t k = (size_t)snprintf(q, sizeof q, "SELECT rowid");
        for (int c = 0; c < T->ncols; c++)
            k += (size_t)snprintf(q + k, sizeof q - k, ", %s", T->cols[c].name);
        snprintf(q + k, sizeof q - k, " FROM %s WHERE rowid BETWEEN ?1 AND ?2 ORDER BY rowid", T->name);
        int rc = lk_prep(R, q, &R->rows[t], e);
        if (rc)
            return rc;
    }
    *out = R->rows[t];
    return MS_OK;
}

/* Copies columns [first, first + n) of the current row of st into dst and
 * one malloc'd block (*store). */
static int own_values(sqlite3_stmt *st, int first, int n, lk_value *dst, char **store, ms_err *e)
{
    size_t total = 0;
    for (int c = 0; c < n; c++) {
        if (lk_col_value(st, first + c, &dst[c]))
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

int lk_read_runs(lk_reader *R, lk_runs_row *run, ms_err *e)
{
    sqlite3_stmt *st;
    memset(run, 0, sizeof *run);
    char q[512];
    size_t k = (size_t)snprintf(q, sizeof q, "SELECT rowid");
    for (int c = 0; c < LKR_NCOLS; c++)
        k += (size_t)snprintf(q + k, sizeof q - k, ", %s", lk_runs_columns[c].name);
    snprintf(q + k, sizeof q - k, " FROM runs");
    int rc = lk_prep(R, q, &st, e);
    if (rc)
        return rc;
    int s = sqlite3_step(st);
    if (s == SQLITE_DONE) {
        sqlite3_finalize(st);
        return ms_fail(e, MS_ECHECK, "runs: the table holds no row");
    }
    if (s != SQLITE_ROW) {
        rc = lk_sqlerr(R, s, "read runs", e);
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
            rc = lk_sqlerr(R, s, "read runs", e);
    }
    sqlite3_finalize(st);
    for (int c = 0; !rc && c < LKR_NCOLS; c++) {
        const lk_value *v = &run->v[c];
        if (v->type == LK_NULL ? !lk_runs_columns[c].nullable : v->type != lk_runs_columns[c].type)
            rc = ms_fail(e, MS_ECHECK, "runs: column %s holds a value of the wrong type", lk_runs_columns[c].name);
    }
    if (rc) {
        free(run->store);
        run->store = NULL;
    }
    return rc;
}
