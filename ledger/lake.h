/* lake.h — the telemetry lake writer (SPEC §5).
 *
 * A lake is one SQLite file per run in WAL mode with the schema of
 * ledger/schema.h. This module is its only writer: one connection, opened by
 * lake_create() and released by lake_close(). The caller appends batches of
 * rows of one event table; each lake_append() inserts them with prepared
 * statements and adds one ledger entry whose hash covers every row's
 * canonical bytes (ledger/canon.h), chained to the previous entry.
 *
 * Transactions: the caller groups appends with lake_begin() / lake_commit()
 * (e.g. once per rollout). lake_commit() also moves runs.head_hash,
 * runs.ledger_rows, runs.row_counts and runs.env_steps forward inside the
 * same transaction, so a crash at any moment (kill -9; a power loss, within
 * what SQLite's WAL guarantees at the chosen synchronous level: "normal" may
 * lose the last commits, never consistency) leaves a lake whose committed
 * prefix verifies, with status 'running'. An append outside
 * lake_begin/lake_commit is its own transaction.
 *
 * Checkpoints (SPEC §5): with a signer, every checkpoint_every-th entry
 * (tree sizes that are multiples of it) gets a checkpoint row inside the
 * transaction that appends it: a C2SP tlog-checkpoint (origin, tree size,
 * base64 RFC 6962 root over the entry hashes) signed as a C2SP signed note;
 * lake_finish adds the final one with a "status: <status>" extension line.
 * They are statements about the chain, not entries in it: an interrupted
 * run's chain is a prefix of the completed run's.
 *
 * Outcomes of every call (besides MS_OK):
 *   MS_EINPUT  bad arguments or a value the lake refuses (wrong type for the
 *              column, NULL in a NOT NULL column, a non-finite REAL — SQLite
 *              would store NaN as NULL, which could not re-hash — a NUL byte
 *              in TEXT, a value over LK_MAX_VALUE, a digest column that is not
 *              the SHA-256 of its source, a call in the wrong state). Nothing
 *              was written; the open transaction, if any, stays usable.
 *   MS_EIO     SQLite or libcrypto failed. The open transaction has been
 *              rolled back (the file keeps its last committed prefix) and the
 *              handle is broken: append/begin/commit fail with MS_EIO from
 *              then on; lake_finish() may still record a final status (it
 *              continues from the last committed state); lake_close() works.
 *
 * Ownership: the caller owns everything it passes in (lake_run_info strings
 * are copied; lk_value payloads only need to live during the call). The lake
 * owns its handle until lake_close(). Not thread-safe: one thread per lake.
 */
#ifndef MS_LEDGER_LAKE_H
#define MS_LEDGER_LAKE_H

#include <stdint.h>

#include "ledger/canon.h"
#include "ledger/merkle.h"
#include "ledger/schema.h"
#include "base/err.h"

typedef struct lake lake;
struct ms_note_signer;

typedef struct lake_run_info {
    const char *run_id;        /* required, non-empty, at most 256 bytes */
    const char *name;          /* [run] name */
    uint64_t seed;
    const char *config_text;   /* canonical configuration text */
    const char *config_sha256; /* 64 lowercase hex digits; must equal SHA-256(config_text) */
    const char *version;       /* marlsim version */
    const char *build_facts;   /* a JSON document */
    const char *key_ids;       /* a JSON array of the key ids the run uses */
    int dev_key;               /* 1 when the development key is used */
    const char *origin;        /* checkpoint origin; NULL = "marlsim/<run_id>" */
    const unsigned char *commit_key; /* 32 bytes: keys the salts of the event
                                  entries (ledger/canon.h); copied into an
                                  HMAC context, never stored */
    const struct ms_note_signer *signer; /* signs checkpoints (ledger/note.h);
                                  NULL = no checkpoints (development key) */
    int64_t checkpoint_every;  /* ledger entries between checkpoints, >= 1 */
    int checkpoint_file;       /* 1: also write the newest checkpoint
                                  atomically to PATH.checkpoint */
    const char *started_at;    /* wall clock (never hashed); NULL = now, UTC */
    const char *synchronous;   /* "off" | "normal" | "full" | "extra"; NULL = "normal" */
} lake_run_info;

/* Creates the lake at path and returns it in *out. Refuses an existing file
 * (or a stale path-wal / path-shm) with MS_EINPUT unless overwrite, in which
 * case it is replaced. Sets every pragma explicitly (journal_mode=WAL,
 * checked; synchronous; application_id; user_version; foreign_keys=ON;
 * trusted_schema=OFF; SQLITE_DBCONFIG_DEFENSIVE), creates the schema and
 * inserts the runs row with status 'running', the genesis hash, and the
 * ledger's first two entries (runs.identity, runs.build) — all in a private
 * file beside it (path.creating-XXXXXX) that is then moved into place in
 * one step (link(), which refuses an existing path, or rename() over it
 * when overwriting). So at path there is, at every moment, either nothing
 * (or the old file) or a complete lake that verifies as an empty prefix; a
 * crash during creation leaves at most a .creating-XXXXXX file.
 * Errors: MS_EINPUT (bad info: missing field, config hash mismatch, invalid
 * JSON, unknown synchronous, checkpoint_every < 1; existing file), MS_EIO
 * (the file could not be created, written or moved; libcrypto failed). On
 * error *out is NULL and every file this call created is removed. */
int lake_create(lake **out, const char *path, const lake_run_info *info, int overwrite,
                ms_err *e);

/* Opens a transaction (MS_EINPUT if one is open or the lake is finished). */
int lake_begin(lake *L, ms_err *e);

/* Appends n_rows rows to event table `table` (LKT_*): vals is row-major,
 * n_rows x lk_tables[table].ncols values in schema column order. Adds one
 * ledger entry labelled `step` (normally the env-step the rows belong to).
 * n_rows == 0 is a no-op. All values are checked before anything is
 * written. tombstones and purges are appended only by a purge (a lake from
 * lake_reopen, which appends nothing else): MS_EINPUT otherwise. */
int lake_append(lake *L, int table, int64_t step, int n_rows, const lk_value *vals, ms_err *e);

/* Updates the runs row (head, counts, env_steps) and commits; then, when
 * the transaction made a checkpoint and info.checkpoint_file, writes the
 * newest one to PATH.checkpoint (atomically; a failure there is MS_EIO and
 * breaks the handle, the lake itself keeps the commit). */
int lake_commit(lake *L, ms_err *e);

/* Progress recorded in runs.env_steps at the next commit. */
void lake_set_env_steps(lake *L, int64_t env_steps);

/* Ends the run. status "completed": records env_steps, the final
 * evaluation reward (NULL unless has_eval; must be finite) and finished_at,
 * appends the seal entry (ledger/canon.h), joining the open transaction,
 * and a final checkpoint stating the status. "interrupted" or "failed":
 * rolls back the open transaction (the lake keeps its last commit, so a
 * resumed run continues from a clean prefix), records the status, the
 * committed env_steps (the argument is ignored), the reward when given, and
 * a final checkpoint at the committed tree size stating the status; no
 * chain entry is added. Afterwards the lake accepts no more appends. Works
 * after an MS_EIO broke the handle (it continues from the last commit). */
int lake_finish(lake *L, const char *status, int64_t env_steps, double eval_reward,
                int has_eval, ms_err *e);

/* runs.status as of the last commit: "running" until lake_finish's commit
 * lands, then its status — also when lake_finish returned MS_EIO only
 * because PATH.checkpoint could not be written afterwards (the lake is
 * finished then; the fault sweep's failed fsync of that file made a run
 * report 'running' for a lake that says 'completed'). */
const char *lake_status(const lake *L);

/* 1 once lake_finish's commit has landed: also when lake_finish returned
 * MS_EIO only because PATH.checkpoint could not be written afterwards. */
int lake_finished(const lake *L);

/* env_steps as of the last commit (what a non-completed finish records). */
int64_t lake_committed_env_steps(const lake *L);

/* The newest checkpoint: tree size and root (base64) — of the last commit
 * or finish. 0 / "" when there is none (development key, or none yet). */
int64_t lake_checkpoint(const lake *L, char root_b64[64]);

/* Hash of the last ledger entry appended (committed or not), or the genesis,
 * as 64 lowercase hex digits. Valid until the next call on L. */
const char *lake_head_hex(lake *L);

/* Rows appended so far to event table `table` (committed or not). */
int64_t lake_rows(const lake *L, int table);

/* ---- Resuming an unfinished run ----------------------------------------
 *
 * lake_resume opens the lake at path of an interrupted, failed or killed
 * (status running) run, which the caller has just verified and whose
 * entry hashes it read (lake_read_verified), as the writer of the same run
 * (in: what lake_create was given; the same checks). The run is then
 * replayed from its start through the ordinary calls (lake_begin,
 * lake_append, lake_commit, lake_finish): for each of the `entries`
 * entries the lake holds, the entry is computed as usual and compared with
 * the verified hash — MS_ECHECK names the first that differs (another
 * build, OpenBLAS core or key material; the lake keeps what it had) — and
 * nothing is written. The first entry past them marks the run running
 * again and appends as lake_create's handle would, continuing the chain,
 * the checkpoint ids and the periodic checkpoints; the finished lake has
 * the ledger of a run that was never stopped (its file differs by the
 * checkpoints that stated the interruptions). A run that ends (interrupted,
 * failed) before writing leaves the lake exactly as it was.
 * Outcomes: MS_OK and *out; MS_EINPUT for a completed, purged or exported
 * lake, bad info, or one another process holds (every writer — run,
 * resume, purge — takes an exclusive flock on the file for its lifetime);
 * MS_EIO when the lake is not the verified one any more, or on I/O. */
int lake_resume(lake **out, const char *path, const lake_run_info *in, const unsigned char (*hashes)[LK_HASH_LEN],
                int64_t entries, ms_err *e);
/* MS_OK when no writer (run, resume, purge) holds the lake at path now;
 * MS_EINPUT saying one does; MS_EIO when it cannot be opened. */
int lake_check_unheld(const char *path, ms_err *e);

/* 0 for a resumed lake that has not written yet (still replaying, or it
 * ended before its first write: the lake is as it was); else 1. */
int lake_wrote(const lake *L);

/* ---- Removing payloads: purge and export (ledger/lifecycle.h) ----------
 *
 * lake_reopen opens an existing lake that the caller has just verified
 * (lake_read_entry_hashes) as a writer with PRAGMA secure_delete = ON and
 * synchronous = FULL, and restores the chain state from the verified entry
 * hashes: seq, head, the RFC 6962 accumulator, rows appended per table (the
 * ledger's coverage) and present, checkpoints so far, env_steps. Such a
 * lake accepts only lake_append of tombstones and purges (the purge's own
 * chained entries), inside a removal transaction:
 *
 *   lake_remove_begin    BEGIN IMMEDIATE; checks runs.head_hash and
 *                        ledger_rows are still the verified ones (else
 *                        MS_EIO: another writer); drops the DELETE triggers
 *                        of `tables` and of salts for this transaction
 *   lake_remove_entry    deletes the rows of one ledger entry (all of them,
 *                        else MS_EIO) and, for a salted table, its salt
 *   lake_insert_unchained  an export's tombstones (no ledger entry)
 *   lake_set_exported_class  runs.exported_class (an export)
 *   lake_remove_commit   re-creates the triggers with their exact text,
 *                        frees the emptied pages (PRAGMA incremental_vacuum:
 *                        lakes are made with auto_vacuum = INCREMENTAL,
 *                        which moves pages, never rowids), with checkpoint
 *                        and a signer signs a checkpoint over the new tree
 *                        stating runs.status, updates the runs row (head,
 *                        ledger_rows, row_counts = rows present) and
 *                        commits; then writes PATH.checkpoint as
 *                        lake_commit does.
 *   lake_scrub           PRAGMA wal_checkpoint(TRUNCATE) after the commit:
 *                        *done = 0 when a reader holds the WAL (BUSY after
 *                        a second's wait), so its frames stay.
 * Any failure rolls the transaction back (the lake keeps its last commit)
 * and breaks the handle, as for lake_append. */
typedef struct lake_reopen_info {
    const unsigned char (*hashes)[LK_HASH_LEN]; /* the verified entry hashes, seq = index + 1 */
    int64_t entries;
    const struct ms_note_signer *signer; /* re-signs; NULL: no checkpoint (development key, export) */
    int checkpoint_file;                 /* 1: the newest checkpoint also goes to PATH.checkpoint */
} lake_reopen_info;
int lake_reopen(lake **out, const char *path, const lake_reopen_info *in, ms_err *e);
int lake_remove_begin(lake *L, const int tables[], int ntables, ms_err *e);
int lake_remove_entry(lake *L, int table, int64_t seq, int64_t first_rowid, int64_t n_rows, ms_err *e);
int lake_insert_unchained(lake *L, int table, int n_rows, const lk_value *vals, ms_err *e);
int lake_set_exported_class(lake *L, int cls, ms_err *e);
int lake_remove_commit(lake *L, int checkpoint, ms_err *e);
int lake_scrub(lake *L, int *done, ms_err *e);
/* Ledger entries committed. */
int64_t lake_entries(const lake *L);
/* After lake_finish: the RFC 6962 root over every entry (what a final
 * checkpoint states, also for a development-key lake, which has none) and
 * the entry count. MS_OK, MS_EIO (libcrypto). */
int lake_tree_root(const lake *L, unsigned char root[LK_HASH_LEN], int64_t *size, ms_err *e);
/* The writer's connection (ledger/lifecycle.c reads the ledger through it
 * inside the removal transaction). Internal to ledger/. */
struct sqlite3;
struct sqlite3 *lake_db_(lake *L);
/* Lake creation's last step, for an export built beside its path: moves
 * tmp to path in one step (link(), refusing an existing path, or rename()
 * over it when overwrite, after removing its stale -wal/-shm). */
int lake_place_file_(const char *tmp, const char *path, int overwrite, ms_err *e);
/* Removes path, path-wal and path-shm (what a failed build leaves). */
void lake_remove_files_(const char *path);

/* Releases everything. An open transaction is rolled back: closing without
 * lake_finish() leaves the status last committed ('running'), which is how a
 * crash looks. L may be NULL. */
void lake_close(lake *L);

#endif
