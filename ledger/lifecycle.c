/* lifecycle.c — purge and export (contract in lifecycle.h). The bytes and
 * hashes are lake.c's: this module decides what to remove and calls the
 * writer's removal primitives (ledger/lake.h). */
#include "ledger/lifecycle.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "base/b64.h"
#include "base/file.h"
#include "ledger/lake.h"
#include "ledger/rovfs.h"

/* One ledger entry whose payload is to be removed. */
typedef struct victim {
    int64_t seq, step, first, n;
    int t;
    unsigned char commit[LK_HASH_LEN];
} victim;

typedef struct victims {
    victim *v;
    int64_t n, cap;
} victims;

static int64_t file_bytes(const char *path)
{
    struct stat sb;
    char wal[MS_PATH_MAX + 16];
    int64_t n = stat(path, &sb) == 0 ? (int64_t)sb.st_size : 0;
    snprintf(wal, sizeof wal, "%s-wal", path);
    if (stat(wal, &sb) == 0)
        n += (int64_t)sb.st_size;
    return n;
}

static int sqlerr(sqlite3 *db, const char *what, ms_err *e)
{
    return ms_fail(e, MS_EIO, "lake: %s: %s", what, db ? sqlite3_errmsg(db) : "?");
}

/* Appends to out every entry of the classes in `classes` (bit k = class k)
 * whose step is below before[class] and that no tombstone names yet. */
static int plan(sqlite3 *db, unsigned classes, const int64_t before[3], victims *out, ms_err *e)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT seq, tbl, step, first_rowid, n_rows, commitment FROM ledger "
                           "WHERE seq NOT IN (SELECT seq FROM tombstones) ORDER BY seq",
                           -1, &st, NULL) != SQLITE_OK)
        return sqlerr(db, "plan", e);
    int s, rc = MS_OK;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        const char *tbl = (const char *)sqlite3_column_text(st, 1);
        int t = tbl ? lk_table_find(tbl, strlen(tbl)) : -1;
        if (t < 0 || !lk_table_purgeable(t))
            continue; /* runs entries, tombstones, purges */
        int cls = lk_tables[t].tclass;
        int64_t step = sqlite3_column_int64(st, 2);
        if (!(classes & (1u << cls)) || step >= before[cls])
            continue;
        if (sqlite3_column_bytes(st, 5) != LK_HASH_LEN) {
            rc = ms_fail(e, MS_EIO, "lake: ledger seq %lld has no commitment", (long long)sqlite3_column_int64(st, 0));
            break;
        }
        if (out->n == out->cap) {
            int64_t ncap = out->cap ? 2 * out->cap : 1024;
            victim *p = realloc(out->v, (size_t)ncap * sizeof *p);
            if (!p) {
                rc = ms_fail(e, MS_EIO, "lake: out of memory");
                break;
            }
            out->v = p;
            out->cap = ncap;
        }
        victim *v = &out->v[out->n++];
        v->seq = sqlite3_column_int64(st, 0);
        v->t = t;
        v->step = step;
        v->first = sqlite3_column_int64(st, 3);
        v->n = sqlite3_column_int64(st, 4);
        memcpy(v->commit, sqlite3_column_blob(st, 5), LK_HASH_LEN);
    }
    if (!rc && s != SQLITE_DONE)
        rc = sqlerr(db, "plan", e);
    sqlite3_finalize(st);
    return rc;
}

/* The first column of sql's first row, or dflt when the query fails or gives
 * NULL: callers pick a dflt no real answer can be, and check for it. */
static int64_t query_i64(sqlite3 *db, const char *sql, int64_t dflt)
{
    sqlite3_stmt *st;
    int64_t v = dflt;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
            v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    return v;
}

/* Removes every victim (rows and salt), counting per table, and fills the
 * tombstone values (7 per victim; purge_ids[k] is victim k's purge). */
static int remove_all(lake *L, const victims *vs, const int64_t *purge_ids, lk_value *vals, int64_t t_entries[],
                      int64_t t_rows[], ms_err *e)
{
    int rc;
    for (int64_t k = 0; k < vs->n; k++) {
        const victim *v = &vs->v[k];
        if ((rc = lake_remove_entry(L, v->t, v->seq, v->first, v->n, e)))
            return rc;
        t_entries[v->t]++;
        t_rows[v->t] += v->n;
        lk_value *r = vals + k * 7;
        r[0] = lk_int(purge_ids[k]);
        r[1] = lk_int(v->seq);
        r[2] = lk_text(lk_tables[v->t].name);
        r[3] = lk_int(v->step);
        r[4] = lk_int(v->first);
        r[5] = lk_int(v->n);
        r[6] = lk_blob(v->commit, LK_HASH_LEN);
    }
    return MS_OK;
}

/* The distinct tables of the victims, for lake_remove_begin. */
static int victim_tables(const victims *vs, int tables[LKT_COUNT])
{
    int seen[LKT_COUNT] = {0}, n = 0;
    for (int64_t k = 0; k < vs->n; k++)
        seen[vs->v[k].t] = 1;
    for (int t = 0; t < LKT_COUNT; t++)
        if (seen[t])
            tables[n++] = t;
    return n;
}

/* PATH.checkpoint = the lake's newest checkpoint, when it has one and the
 * file says something else (a purge killed between its commit and the
 * file, or an older file). */
static int refresh_checkpoint_file(lake *L, const char *path, ms_err *e)
{
    sqlite3 *db = lake_db_(L);
    sqlite3_stmt *st;
    int rc = MS_OK;
    if (sqlite3_prepare_v2(db, "SELECT note FROM checkpoints ORDER BY cp_id DESC LIMIT 1", -1, &st, NULL) != SQLITE_OK)
        return sqlerr(db, "checkpoints", e);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_TEXT) {
        const char *note = (const char *)sqlite3_column_text(st, 0);
        size_t n = (size_t)sqlite3_column_bytes(st, 0);
        char p[MS_PATH_MAX + 32];
        snprintf(p, sizeof p, "%s.checkpoint", path);
        FILE *f = fopen(p, "rb");
        char old[MS_NOTE_MAX + 1];
        size_t got = f ? fread(old, 1, sizeof old, f) : 0;
        if (f)
            fclose(f);
        if (got != n || memcmp(old, note, n) != 0)
            rc = ms_write_atomic(p, note, n, 0644, 1, e);
    }
    sqlite3_finalize(st);
    return rc;
}

int lake_purge(const char *path, const lake_purge_opts *o, lake_purge_report *r, ms_err *e)
{
    memset(r, 0, sizeof *r);
    unsigned classes = 0;
    for (int c = 0; c < 3; c++) {
        if (o->before[c] < -1)
            return ms_fail(e, MS_EINPUT, "purge: cut-off step %lld of class %s (allowed: >= 0)",
                           (long long)o->before[c], lk_class_names[c]);
        if (o->before[c] >= 0)
            classes |= 1u << c;
    }
    if (!classes)
        return ms_fail(e, MS_EINPUT, "purge: no class to purge");
    if ((o->trusted == NULL) != (o->signer == NULL))
        return ms_fail(e, MS_EINPUT, "purge: the trusted key and the signer come together");

    /* 1. Verify (refusing what does not), keeping the entry hashes. */
    unsigned char (*hashes)[32] = NULL;
    lake_verify_opts vo = {.trusted = o->trusted};
    int rc = lake_read_entry_hashes(path, &vo, &hashes, &r->verified, e);
    if (rc)
        return rc;
    const lake_verify_report *v = &r->verified;
    if (!strcmp(v->status, "running"))
        rc = ms_fail(e, MS_EINPUT, "%s: the run is still running, or was killed (status running): its writer may "
                     "be alive, so purge only touches finished lakes (completed, interrupted or failed)", path);
    else if (v->exported_class[0])
        rc = ms_fail(e, MS_EINPUT, "%s is an export (class %s): purge the original lake and export it again", path,
                     v->exported_class);
    else if (v->dev_key && o->signer)
        rc = ms_fail(e, MS_EINPUT, "%s was made with the development key: it is purged with the development key "
                     "(which signs nothing), not with a signing keyring", path);
    else if (!v->dev_key && !o->signer)
        rc = ms_fail(e, MS_EINPUT, "%s is signed: purging it appends a signed checkpoint, so it needs the keyring "
                     "whose signing key signed it", path);
    else if (!v->dev_key && !v->authenticated) {
        r->unsigned_ = 1;
        rc = ms_fail(e, MS_ECHECK, "%s is not signed by the trusted key (%s): purge refuses a lake it cannot vouch "
                     "for", path, v->unsigned_why[0] ? v->unsigned_why : "no valid final checkpoint");
    }
    if (rc) {
        free(hashes);
        return rc;
    }
    r->bytes_before = file_bytes(path);

    /* 2. Reopen as a writer and decide what goes. */
    lake *L = NULL;
    lake_reopen_info ri = {.hashes = (const unsigned char(*)[LK_HASH_LEN])hashes, .entries = v->entries,
                           .signer = o->signer, .checkpoint_file = o->signer != NULL};
    rc = lake_reopen(&L, path, &ri, e);
    free(hashes);
    if (rc)
        return rc;
    sqlite3 *db = lake_db_(L);
    victims vs = {0};
    lk_value *vals = NULL;
    int64_t *pids = NULL;
    rc = plan(db, classes, o->before, &vs, e);
    if (!rc && vs.n) {
        /* 3. One transaction: rows and salts out, tombstones and the purges
         * rows in, two chained entries, a signed checkpoint. */
        int tables[LKT_COUNT], nt = victim_tables(&vs, tables);
        /* The purge entries' step label (ledger/canon.h); a lake with
         * victims has event entries, so only a failed query gives -1 (a
         * silent 0 would chain a purge no fault-free run makes). */
        int64_t label = query_i64(db, "SELECT MAX(step) FROM ledger WHERE tbl NOT LIKE 'runs.%'", -1);
        if (label < 0)
            rc = sqlerr(db, "ledger", e);
        vals = calloc((size_t)vs.n * 7, sizeof *vals);
        pids = calloc((size_t)vs.n, sizeof *pids);
        if (!rc && (!vals || !pids || vs.n > INT32_MAX))
            rc = ms_fail(e, MS_EIO, "purge: out of memory");
        if (!rc)
            rc = lake_remove_begin(L, tables, nt, e);
        int64_t next = 0;
        if (!rc)
            next = query_i64(db, "SELECT COALESCE(MAX(purge_id), 0) FROM purges", -1) + 1;
        if (!rc && next < 1)
            rc = sqlerr(db, "purges", e);
        lk_value prow[3 * 6];
        int np = 0;
        for (int c = 0; c < 3 && !rc; c++) {
            int64_t ent = 0, rows = 0;
            for (int64_t k = 0; k < vs.n; k++)
                if (lk_tables[vs.v[k].t].tclass == c) {
                    pids[k] = next;
                    ent++;
                    rows += vs.v[k].n;
                }
            if (!ent)
                continue;
            r->purge_id[c] = next;
            r->entries[c] = ent;
            r->rows[c] = rows;
            lk_value *p = prow + np * 6;
            p[0] = lk_int(next);
            p[1] = lk_text(lk_class_names[c]);
            p[2] = lk_int(o->before[c]);
            p[3] = lk_text(o->policy[c] ? o->policy[c] : "");
            p[4] = lk_int(ent);
            p[5] = lk_int(rows);
            np++;
            next++;
        }
        /* Tombstones in purge order (class by class), each purge's in seq order. */
        if (!rc) {
            victim *sorted = malloc((size_t)vs.n * sizeof *sorted);
            int64_t *spids = malloc((size_t)vs.n * sizeof *spids);
            if (!sorted || !spids) {
                rc = ms_fail(e, MS_EIO, "purge: out of memory");
            } else {
                int64_t m = 0;
                for (int c = 0; c < 3; c++)
                    for (int64_t k = 0; k < vs.n; k++)
                        if (lk_tables[vs.v[k].t].tclass == c) {
                            sorted[m] = vs.v[k];
                            spids[m++] = pids[k];
                        }
                memcpy(vs.v, sorted, (size_t)vs.n * sizeof *sorted);
                memcpy(pids, spids, (size_t)vs.n * sizeof *spids);
            }
            free(sorted);
            free(spids);
        }
        if (!rc)
            rc = remove_all(L, &vs, pids, vals, r->t_entries, r->t_rows, e);
        if (!rc)
            rc = lake_append(L, LKT_TOMBSTONES, label, (int)vs.n, vals, e);
        if (!rc)
            rc = lake_append(L, LKT_PURGES, label, np, prow, e);
        if (!rc)
            rc = lake_remove_commit(L, o->signer != NULL, e);
        if (!rc) {
            r->last_seq = lake_entries(L);
            r->first_seq = r->last_seq - 1;
            r->entries_total = vs.n;
            for (int c = 0; c < 3; c++)
                r->rows_total += r->rows[c];
            r->cp_size = lake_checkpoint(L, r->cp_root);
        }
    }
    /* 4. The bytes leave the WAL (also finishing an earlier purge's job). */
    if (!rc)
        rc = lake_scrub(L, &r->scrubbed, e);
    if (!rc && o->signer)
        rc = refresh_checkpoint_file(L, path, e);
    if (!rc)
        snprintf(r->head, sizeof r->head, "%s", lake_head_hex(L));
    lake_close(L);
    free(vs.v);
    free(vals);
    free(pids);
    r->bytes_after = file_bytes(path);
    return rc;
}

/* ---- export -------------------------------------------------------------- */

/* A page-for-page copy of src (read through the read-only VFS: nothing is
 * created beside it) into the empty file dst, then put in WAL mode. */
static int copy_lake(const char *src, const char *dst, ms_err *e)
{
    const char *vfs;
    sqlite3 *s = NULL, *d = NULL;
    char sname[4096 + 8], dname[4096 + 8];
    int rc = lk_rovfs(&vfs, e);
    if (rc || (rc = lk_sqlite_name(src, sname, sizeof sname, e)) || (rc = lk_sqlite_name(dst, dname, sizeof dname, e)))
        return rc;
    if (sqlite3_open_v2(sname, &s, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, vfs) != SQLITE_OK) {
        rc = sqlerr(s, src, e);
        goto out;
    }
    if (sqlite3_open_v2(dname, &d, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        rc = sqlerr(d, dst, e);
        goto out;
    }
    sqlite3_backup *b = sqlite3_backup_init(d, "main", s, "main");
    if (!b) {
        rc = sqlerr(d, "backup", e);
        goto out;
    }
    int st = sqlite3_backup_step(b, -1);
    int fin = sqlite3_backup_finish(b);
    if (st != SQLITE_DONE || fin != SQLITE_OK) {
        rc = ms_fail(e, MS_EIO, "export: copying %s: %s", src, sqlite3_errstr(st != SQLITE_DONE ? st : fin));
        goto out;
    }
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(d, "PRAGMA journal_mode = WAL", -1, &q, NULL) != SQLITE_OK) {
        rc = sqlerr(d, "journal_mode", e);
        goto out;
    }
    int wal = sqlite3_step(q) == SQLITE_ROW && !sqlite3_stricmp((const char *)sqlite3_column_text(q, 0), "wal");
    sqlite3_finalize(q);
    if (!wal)
        rc = ms_fail(e, MS_EIO, "export: SQLite refused journal_mode=WAL on %s", dst);
out:
    sqlite3_close(s);
    if (d && sqlite3_close(d) != SQLITE_OK && !rc)
        rc = ms_fail(e, MS_EIO, "export: closing %s failed", dst);
    return rc;
}

/* out must not be src or one of its side files (by name or by identity). */
static int check_out(const char *src, const char *out, int overwrite, ms_err *e)
{
    struct stat so, sd;
    int exists = stat(out, &so) == 0;
    static const char *const sides[] = {"", "-wal", "-shm", ".checkpoint"};
    for (int k = 0; k < 4; k++) {
        char p[MS_PATH_MAX + 16];
        snprintf(p, sizeof p, "%s%s", src, sides[k]);
        if (!strcmp(p, out) || (exists && stat(p, &sd) == 0 && sd.st_dev == so.st_dev && sd.st_ino == so.st_ino))
            return ms_fail(e, MS_EINPUT, "export: --out %s is %s", out,
                           k ? "a side file of the lake being exported" : "the lake being exported");
    }
    if (exists && S_ISDIR(so.st_mode))
        return ms_fail(e, MS_EINPUT, "export: %s is a directory", out);
    if (!overwrite) {
        if (exists)
            return ms_fail(e, MS_EINPUT, "export: %s already exists (refusing to overwrite it; --force replaces it)",
                           out);
        for (int k = 1; k < 3; k++) {
            char p[MS_PATH_MAX + 16];
            snprintf(p, sizeof p, "%s%s", out, sides[k]);
            if (lstat(p, &sd) == 0)
                return ms_fail(e, MS_EINPUT, "export: stale %s exists without its lake (remove it, or --force)", p);
        }
    }
    return MS_OK;
}

int lake_export(const char *src, const char *out, int cls, const ms_note_verifier *trusted, int overwrite,
                lake_export_report *r, ms_err *e)
{
    memset(r, 0, sizeof *r);
    if (cls < 0 || cls > 2)
        return ms_fail(e, MS_EINPUT, "export: no such class");
    if (!out || !*out || strlen(out) > MS_PATH_MAX)
        return ms_fail(e, MS_EINPUT, "export: bad output path");
    int rc = check_out(src, out, overwrite, e);
    if (rc)
        return rc;
    unsigned char (*hashes)[32] = NULL;
    lake_verify_opts vo = {.trusted = trusted};
    if ((rc = lake_read_entry_hashes(src, &vo, &hashes, &r->source, e)))
        return rc;
    const lake_verify_report *v = &r->source;
    if (v->exported_class[0])
        rc = ms_fail(e, MS_EINPUT, "%s is already an export (class %s): export from the original lake", src,
                     v->exported_class);
    else if (trusted && !v->authenticated && !v->dev_key) {
        r->unsigned_ = 1;
        rc = ms_fail(e, MS_ECHECK, "%s is not signed by the trusted key (%s): export refuses a lake it cannot "
                     "vouch for", src, v->unsigned_why[0] ? v->unsigned_why : "no valid final checkpoint");
    }
    if (rc) {
        free(hashes);
        return rc;
    }

    /* Built beside out under a fresh name, moved into place complete. */
    char tmp[MS_PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s.exporting-XXXXXX", out);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        free(hashes);
        return ms_fail(e, MS_EIO, "export: cannot create %s: %s", tmp, strerror(errno));
    }
    mode_t mask = umask(0);
    umask(mask);
    if (fchmod(fd, 0644 & ~mask) != 0) {
        rc = ms_fail(e, MS_EIO, "export: cannot set the mode of %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        free(hashes);
        return rc;
    }
    close(fd);
    lake *L = NULL;
    victims vs = {0};
    lk_value *vals = NULL;
    int64_t *pids = NULL;
    rc = copy_lake(src, tmp, e);
    if (!rc) {
        lake_reopen_info ri = {.hashes = (const unsigned char(*)[LK_HASH_LEN])hashes, .entries = v->entries};
        rc = lake_reopen(&L, tmp, &ri, e);
    }
    free(hashes);
    hashes = NULL;
    if (!rc) {
        int64_t before[3] = {INT64_MAX, INT64_MAX, INT64_MAX};
        rc = plan(lake_db_(L), 7u & ~(1u << cls), before, &vs, e);
    }
    if (!rc) {
        int tables[LKT_COUNT], nt = victim_tables(&vs, tables);
        vals = calloc((size_t)(vs.n ? vs.n : 1) * 7, sizeof *vals);
        pids = calloc((size_t)(vs.n ? vs.n : 1), sizeof *pids); /* purge id 0: the export's */
        if (!vals || !pids || vs.n > INT32_MAX)
            rc = ms_fail(e, MS_EIO, "export: out of memory");
        if (!rc)
            rc = lake_remove_begin(L, tables, nt, e);
        if (!rc)
            rc = remove_all(L, &vs, pids, vals, r->t_entries, r->t_rows, e);
        if (!rc)
            rc = lake_insert_unchained(L, LKT_TOMBSTONES, (int)vs.n, vals, e);
        if (!rc)
            rc = lake_set_exported_class(L, cls, e);
        if (!rc)
            rc = lake_remove_commit(L, 0, e);
        int done = 0;
        if (!rc)
            rc = lake_scrub(L, &done, e);
        if (!rc && !done)
            rc = ms_fail(e, MS_EIO, "export: %s: its WAL could not be truncated", tmp);
        r->entries = vs.n;
        for (int t = 0; t < LKT_COUNT; t++)
            r->rows += r->t_rows[t];
    }
    lake_close(L);
    free(vs.v);
    free(vals);
    free(pids);
    /* The export must verify on its own before it is placed. */
    if (!rc) {
        lake_verify_opts xo = {.trusted = trusted};
        rc = lake_verify(tmp, &xo, &r->out, e);
        if (rc == MS_ECHECK) {
            char msg[sizeof e->msg];
            snprintf(msg, sizeof msg, "%s", e->msg);
            rc = ms_fail(e, MS_EIO, "export: the export does not verify (%s): nothing written", msg);
        }
    }
    if (!rc) {
        r->bytes = file_bytes(tmp);
        rc = lake_place_file_(tmp, out, overwrite, e);
    }
    if (rc)
        lake_remove_files_(tmp);
    return rc;
}

int64_t lake_retention_before(int64_t keep, int64_t steps)
{
    return keep == 0 ? steps + 1 : keep >= steps ? 0 : steps - keep;
}
