/* verify.h — checking, comparing and reading lakes (SPEC §2 verify, reproduce,
 * eval --policy RUN.db).
 *
 * Every function here treats the file as hostile. It opens it read-only
 * (SQLITE_OPEN_READONLY; with no -wal file beside it — a cleanly closed lake —
 * also immutable, so not even a -shm is created; with a -wal file — a live or
 * killed writer — through the WAL, so every committed frame is seen), turns on
 * SQLITE_DBCONFIG_DEFENSIVE and trusted_schema=OFF, reads inside one read
 * transaction (a consistent snapshot), bounds every loop by what it has read,
 * and never writes.
 *
 * Opening checks, common to all functions, in order (all MS_EINPUT, message
 * naming the file): missing or non-regular file; empty file; not an SQLite
 * database; a file shorter than its header says (truncated); SQLite reports
 * the file malformed (also later, mid-walk); application_id is not
 * LK_APPLICATION_ID (not a marlsim lake); user_version is not
 * LK_SCHEMA_VERSION (unsupported schema version). Then the schema check
 * (MS_ECHECK): sqlite_schema must hold exactly the objects the schema script
 * creates — every table as a table, every trigger and view — with the same
 * CREATE text byte for byte (an attacker cannot swap a table for a view,
 * drop an append-only trigger or add a trigger or view); only sqlite_stat*
 * tables (from ANALYZE) are tolerated in addition. MS_EIO: SQLite or
 * libcrypto failed for another reason (out of memory, I/O error).
 */
#ifndef MS_LEDGER_VERIFY_H
#define MS_LEDGER_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/schema.h"
#include "base/err.h"

typedef struct lake_verify_report {
    int64_t rows[LKT_COUNT]; /* rows per event table (each ledger-covered) */
    int64_t total_rows;      /* sum of rows[] */
    int64_t entries;         /* ledger entries, the seal included */
    int64_t env_steps;       /* runs.env_steps */
    char status[16];         /* runs.status */
    int sealed;              /* the last entry is the seal of a finished run */
    int complete;            /* status 'completed': the whole run is here */
    char head[65];           /* hash of the last entry (= runs.head_hash) */
    char genesis[65];
    /* On MS_ECHECK: what is implicated ("" / 0 when nothing specific). */
    char table[32];
    int64_t seq;
} lake_verify_report;

/* Re-derives every hash of the lake at path from its stored bytes (never
 * trusting a stored hash) and checks its structure:
 *   - SQLite's PRAGMA quick_check passes (every b-tree page well formed, also
 *     pages the walk never reads; a failure is MS_EINPUT, malformed);
 *   - runs holds one row; config_sha256 = SHA-256(config_text); genesis =
 *     the genesis of (run_id, config_text, seed) (ledger/canon.h);
 *   - ledger seq runs 1..N without gaps; each entry names an event table (or
 *     'runs' for the seal, which must be last and present iff the status is
 *     not 'running'); the entries of each table cover rowids 1, 2, 3, ...
 *     contiguously; every covered row exists; environment_states.sha256 =
 *     SHA-256(broadcast) and policy_snapshots.sha256 = SHA-256(params) per
 *     row; every entry hash recomputes;
 *   - COUNT(*) of every event table = rows the ledger covers = runs.row_counts;
 *     runs.ledger_rows = N; runs.head_hash = the last entry's hash.
 * Returns MS_OK and fills rep (complete = 0 for a running / interrupted /
 * failed run: an intact but incomplete prefix), MS_ECHECK with the first
 * broken thing in e (table, key such as step/env/agent or seq, what differs)
 * and rep->table / rep->seq, or an opening error above. rep may be NULL.
 *
 * What a hash chain cannot reveal: someone with write access who removes the
 * tail of an unfinished run and rewrites runs.head_hash / counts to match, or
 * rewrites everything from some entry on. A finished run's seal protects its
 * runs row; an external checkpoint protects the rest. */
int lake_verify(const char *path, lake_verify_report *rep, ms_err *e);

typedef struct lake_diff_report {
    int identical;          /* 1: same entries, same rows, in the same order */
    int prefix;             /* with LAKE_DIFF_PREFIX: a ended first (identical
                             * then means a's entries are b's first ones) */
    int same_genesis;       /* run_id, config_text and seed give the same genesis */
    int64_t entries_a, entries_b;
    /* The first difference (when !identical): */
    int64_t seq;            /* ledger entry */
    char table[32];         /* table of a's entry ("runs" for the seal) */
    int64_t step;           /* the row's step (entry step when the table has none) */
    int64_t env;            /* -1 when the table has no env column */
    char agent[16];         /* "" when the table has no agent column */
    char what[400];         /* one sentence saying what differs */
} lake_diff_report;

/* Compares the lakes a and b ledger entry by ledger entry, and inside the
 * first differing entry row by row (canonical row bytes, ledger/canon.h),
 * reporting the first divergent row — or a differing entry header, row count
 * or entry count. Compares what the ledgers cover, not the hashes (so lakes
 * whose run ids differ still compare by content); run lake_verify on each to
 * trust them. The seals' version and build_facts columns are not compared
 * (the same run on another build is still the same run; its head hash
 * differs only through them). With LAKE_DIFF_PREFIX in flags, a may be an
 * unfinished run: its seal (if any) is ignored and a ending before b is
 * not a difference (d->prefix = 1). Returns MS_OK with d filled (identical
 * or not), an opening error, or MS_ECHECK when a lake's ledger is not
 * walkable (unknown table, covered row missing). */
enum { LAKE_DIFF_PREFIX = 1 };
int lake_diff(const char *a, const char *b, unsigned flags, lake_diff_report *d, ms_err *e);

/* The runs row. Strings are NUL-terminated and owned by m (one block);
 * started_at / finished_at may be NULL. Release with lake_run_meta_release. */
typedef struct lake_run_meta {
    char *run_id, *name, *config_text, *config_sha256, *version, *build_facts, *key_ids;
    char *status, *genesis, *head_hash, *row_counts, *started_at, *finished_at;
    uint64_t seed;
    int dev_key;
    int64_t ledger_rows, env_steps;
    double eval_reward;
    int has_eval;
    char *store_; /* private */
} lake_run_meta;

/* Reads the runs row after the opening checks. Does not verify the chain:
 * call lake_verify first when the content must be trusted. MS_ECHECK when
 * runs does not hold exactly one well-typed row. */
int lake_read_run(const char *path, lake_run_meta *m, ms_err *e);
void lake_run_meta_release(lake_run_meta *m);

/* The parameters of agent's latest promoted policy: the policy_snapshots row
 * with the greatest snapshot_id among those whose eval_id is NULL or names an
 * evaluation whose decision is 'baseline' or 'promoted'. Checks that its
 * sha256 = SHA-256(params) (MS_ECHECK otherwise) and returns a malloc'd copy
 * of params in *blob (caller frees), its size in *n and the hex digest in
 * sha_hex. MS_EINPUT when the lake holds no such snapshot. */
int lake_read_snapshot(const char *path, const char *agent, void **blob, size_t *n,
                       char sha_hex[65], ms_err *e);

#endif
