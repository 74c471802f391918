/* reader.h — the read-only lake handle shared by verify, diff, the readers
 * and purge/export's checks. Internal to ledger/ and gov/ (audit and
 * release read a verified lake in the snapshot verify checked; the other
 * folders use verify.h): it says how a hostile file is opened and read.
 *
 * lk_reader_open, in order, each failure MS_EINPUT unless said otherwise,
 * with a message naming the file:
 *   - missing, not a regular file, empty; not an SQLite database; a page
 *     size SQLite never writes;
 *   - not in WAL mode (header bytes 18-19 are not 2): MS_ECHECK (every
 *     marlsim lake is; another writer rewrote it);
 *   - a rollback journal beside it (PATH-journal, non-empty): MS_ECHECK (a
 *     marlsim lake never has one; another program was writing it, and
 *     other readers would see its rollback);
 *   - without a WAL the file must be exactly the header's page count x page
 *     size (a shorter file is truncated, a longer one carries bytes SQLite
 *     ignores); with a WAL, a whole number of pages;
 *   - opened through the read-only VFS (rovfs.h): nothing is ever created
 *     or changed, and every committed WAL frame is seen;
 *   - SQLITE_DBCONFIG_DEFENSIVE, trusted_schema off, query_only, a length
 *     limit, one read transaction for everything that follows (a
 *     consistent snapshot);
 *   - application_id (not a marlsim lake), user_version (unsupported
 *     schema version);
 *   - the schema: sqlite_schema must hold exactly the objects of the
 *     schema script, same types, same CREATE text byte for byte; besides
 *     them only the table sqlite_stat1 (ANALYZE) is tolerated: MS_ECHECK.
 * The lake is named to SQLite by its realpath: a name that starts with
 * "file:" is never read as a URI (which could name another file or VFS),
 * and the -wal and -journal checked are those beside the real file. After
 * opening, the files SQLite holds (ledger/rovfs.h) must be the ones the
 * pre-checks looked at (device and inode): a rename between check and
 * open is refused (MS_EIO).
 * lk_reader_unchanged: MS_OK when the file and its WAL are as they were at
 * open (size, mtime, inode), both under their names and as the files
 * SQLite holds; else MS_EIO saying a writer changed the lake while it was
 * read, so nothing read can be trusted as a verdict.
 */
#ifndef MS_LEDGER_READER_H
#define MS_LEDGER_READER_H

#include <stdint.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "ledger/canon.h"
#include "ledger/schema.h"

#define LK_HEX_LEN (2 * LK_HASH_LEN)

typedef struct lk_reader {
    const char *path;      /* as the caller named it (messages) */
    char real[4096];       /* realpath(path): what is checked and opened (never a URI) */
    sqlite3 *db;
    sqlite3_stmt *rows[LKT_COUNT]; /* covered-range readers, prepared lazily */
    lk_hasher h, hd, hc;
    lk_buf buf;
    struct stat st_db, st_wal;
    int has_wal;
} lk_reader;

/* The runs row, copied out of SQLite (values point into store). */
typedef struct lk_runs_row {
    int64_t rowid;
    lk_value v[LKR_NCOLS];
    char *store;
} lk_runs_row;

/* table (32 bytes) receives the table implicated by a schema mismatch. */
int lk_reader_open(lk_reader *R, const char *path, char table[32], ms_err *e);
void lk_reader_close(lk_reader *R);
int lk_reader_unchanged(const lk_reader *R, ms_err *e);

/* An SQLite failure while reading: malformed files are MS_EINPUT. */
int lk_sqlerr(lk_reader *R, int rc, const char *what, ms_err *e);
int lk_prep(lk_reader *R, const char *sql, sqlite3_stmt **st, ms_err *e);
/* A one-row, one-integer query. */
int lk_query_int(lk_reader *R, const char *sql, int64_t *out, ms_err *e);
/* v <- column i of st. MS_EIO when SQLite could not materialise it. */
int lk_col_value(sqlite3_stmt *st, int i, lk_value *v);
/* The reader of covered rowid ranges of table t: SELECT rowid, cols...
 * WHERE rowid BETWEEN ?1 AND ?2 ORDER BY rowid. */
int lk_rows_stmt(lk_reader *R, int t, sqlite3_stmt **out, ms_err *e);
/* Reads the single runs row and checks its columns' types (MS_ECHECK). */
int lk_read_runs(lk_reader *R, lk_runs_row *run, ms_err *e);

/* Printable, bounded rendering of a hostile TEXT value. */
void lk_safe_text(char *out, size_t n, const lk_value *v);
/* A malloc'd NUL-terminated copy of a TEXT value (NULL when v is not TEXT,
 * holds a NUL byte, or memory ran out); the caller frees. */
char *lk_text_dup(const lk_value *v);
/* Bounded copy (truncates; always terminated when n > 0). */
void lk_copy_str(char *dst, size_t n, const char *src);
/* "table step 12 env 3 agent OPEN" (or "table <col0> N", or "table rowid N"). */
void lk_describe_row(char *out, size_t n, const lk_table *T, const lk_value *v, int64_t rowid);
int lk_vtext_is(const lk_value *v, const char *s);
/* The value of `key = value` in [section] of a config text as the lake
 * stores it (the canonical rendering: a "[section]" line, then "key =
 * value" lines), within text[0..n): *val points into text, *vlen is its
 * length. 1 when found, 0 when the section or key is absent. */
int lk_config_setting(const char *text, size_t n, const char *section, const char *key, const char **val,
                      size_t *vlen);

/* The whole of lake_verify (verify.h) on an opened reader, so that callers
 * read what they verified in the same snapshot. hashes, when not NULL,
 * receives the entry hashes (malloc'd, rep->entries of them). */
struct lake_verify_opts;
struct lake_verify_report;
int lk_verify_open(lk_reader *R, const struct lake_verify_opts *opts, struct lake_verify_report *rep,
                   unsigned char (**hashes)[LK_HASH_LEN], ms_err *e);

/* Opens path, verifies it (lk_verify_open, rep zeroed first), runs then(R,
 * ctx) when not NULL, checks that the files did not change meanwhile, and
 * closes: what `then` reads is what was verified. On any failure the
 * hashes (if asked for) are freed and *hashes is NULL; `then` undoes its
 * own work through undo(ctx) when it succeeded but the files changed. */
int lk_verified(const char *path, const struct lake_verify_opts *opts, struct lake_verify_report *rep,
                unsigned char (**hashes)[LK_HASH_LEN], int (*then)(lk_reader *R, void *ctx, ms_err *e),
                void (*undo)(void *ctx), void *ctx, ms_err *e);

/* On a verified reader: the snapshots of the last evaluation whose decision
 * is 'baseline' or 'promoted', one per agent name (lake_read_policy's
 * outcomes, verify.h); out[] released on failure. signed_size >= 0: that
 * evaluation and its snapshots must lie within the first signed_size
 * ledger entries (what a trusted key signed), else MS_ECHECK; -1: no such
 * requirement (no trusted key, or one already known to cover everything). */
struct lake_policy_blob;
int lk_read_promoted(lk_reader *R, const char *const *agents, int nagents, int64_t signed_size,
                     struct lake_policy_blob *out, ms_err *e);

#endif
