/* schema.h — the telemetry lake's schema, version 4 (SPEC §5).
 *
 * One static description of every table, shared by the writer (lake.c), the
 * verifier (verify.c) and the canonical encoding (canon.c), so the three can
 * never disagree about a table's columns, their order or their types. The
 * SQL that creates a lake is generated from it (lk_schema_script), with the
 * documentation embedded as comments inside each CREATE statement, so that
 * `sqlite3 RUN.db .schema` documents the lake.
 *
 * File identity: PRAGMA application_id = LK_APPLICATION_ID ("MARL") and
 * PRAGMA user_version = LK_SCHEMA_VERSION. A file with another application id
 * is not a marlsim lake; another user_version is a schema this build cannot
 * read. Changing a table, column, type, trigger or view below is a new schema
 * version (the verifier compares the stored CREATE text byte for byte).
 *
 * Besides the event tables: `runs` (one row), `ledger` (the chain), `salts`
 * (the salt of each event-table entry but the purges' own, removed with its
 * payload by a purge or an export), `checkpoints` (signed tree heads: statements about the chain, not
 * entries in it) and the view v_table_classes (every table's telemetry
 * class).
 *
 * Event tables (lk_tables[], indexed by LKT_*) are STRICT, append-only
 * (BEFORE UPDATE / BEFORE DELETE triggers RAISE(ABORT, '<table> is
 * append-only')) and every row of them enters the hash chain (ledger/canon.h).
 * Their implicit rowids run 1, 2, 3, ... in append order; the ledger covers
 * them as contiguous rowid ranges. `runs` (one row, lk_runs_columns[]) is the
 * only mutable table; `ledger` holds the chain. Column order of each event
 * table (the order lake_append() expects values in):
 *
 *   environment_states    step, env, broadcast
 *   agent_observations    step, env, agent, schema_version, obs
 *   joint_actions         step, env, class, a_get, a_open, a_bin, p_get,
 *                         p_open, p_bin, e_get, e_open, e_bin, rules,
 *                         reward, reward_raw
 *   di_credit_assignment  step, env, agent, reward, reward_raw, credit,
 *                         method, valid, update_id, policy_updated
 *   optimizer_steps       update_id, agent, env_steps, params_sha256_before,
 *                         params_sha256_after, policy_loss, value_loss,
 *                         entropy, approx_kl, clip_frac, grad_norm, samples,
 *                         steps, skipped_nonfinite, gate
 *   evaluations           eval_id, update_id, env_steps, episodes,
 *                         candidate_score, best_score, tolerance, decision,
 *                         undone_first, undone_last
 *   policy_snapshots      snapshot_id, eval_id, update_id, agent, sha256,
 *                         params
 *   anomalies             step, env, agent, detector, reason, score, detail
 *   hmac_keys             key_id, purpose, fingerprint, first_step, last_step
 *   poison_truth          step, env, threat, kind
 *   surveillance_events   eval_id, update_id, agent, detector, severity,
 *                         value, threshold, action, detail
 *   behaviour_aggregates  window_start, window_steps, agent, class, samples,
 *                         chose_1, effective_1, reward_sum, credit_sum
 *   tombstones            purge_id, seq, tbl, step, first_rowid, n_rows,
 *                         commitment
 *   purges                purge_id, class, before_step, policy, entries, rows
 *
 * tombstones and purges are written by `marlsim purge` only (ledger/
 * lifecycle.h): one tombstone per ledger entry whose rows (and salt) a purge
 * removed, naming the entry and repeating its commitment, and one purges
 * row per purge; both are chained like every event table and never purged
 * themselves (lk_table_purgeable). An export (lake_export) adds tombstones
 * with purge_id 0 that no ledger entry covers; runs.exported_class says it
 * is one.
 *
 * Which columns may be NULL is in lk_tables[] (`nullable`); the generated
 * CREATE text says NOT NULL for the others. One column is a digest that the
 * writer and the verifier both re-derive: policy_snapshots.sha256 (64
 * lowercase hex digits) = SHA-256(params) (digest_col; v2 had a second,
 * environment_states.sha256).
 *
 * Schema v4 against v3: every purgeable table's entries are salted
 * commitments, not only the behavioural ones (lk_table_salted). In v3 a
 * security or operational entry committed to SHA-256(rows) alone, so its
 * tombstone in a purged lake, or in an export of another class (an
 * analyst's behavioural export), let anyone confirm guesses of a
 * low-entropy payload (poisoning ground truth: env, threat, kind) against
 * it. The salts table now holds one salt per such entry (+0.2 bytes per
 * env-step at full telemetry) and is of class operational: a salt goes
 * with its entry's payload, whatever the class.
 *
 * Schema v3 against v2 (bytes per env-step at full telemetry, issue 12;
 * each a deviation from the letter of SPEC §5, which lists the columns):
 *   - di_credit_assignment has no `class` column: the message class of a
 *     credit row is joint_actions.class of the same (step, env) (the two
 *     are written from the same message, at the same steps under every
 *     telemetry level, and purged and exported together as behavioural
 *     data); v_credit_by_class joins them. (-3 x ~7 bytes per env-step)
 *   - reward_raw (joint_actions and di_credit_assignment) is NULL where
 *     the reward clip did not bind, i.e. where it equals reward;
 *     COALESCE(reward_raw, reward) is the raw reward in every row. SPEC's
 *     default table never reaches the clip, so it is NULL almost always.
 *     (-4 x 8 bytes per env-step)
 *   - environment_states.broadcast holds broadcast format v2 (sim/bcast.h):
 *     pseudonyms are 22 base64url symbols without the "<key_id>:" prefix
 *     SPEC §1 describes (the broadcast names its key once, in "kid"), and
 *     the MAC is 43 base64url symbols instead of 64 hex digits. The same
 *     128-bit pseudonyms and 256-bit MAC, spelt shorter. (-96 bytes per
 *     broadcast with all five pseudonyms and key id "dev0")
 *   - environment_states has no sha256 column (SPEC §5 lists "its
 *     SHA-256"): it was SHA-256(broadcast), which verify never trusted (it
 *     re-hashes the bytes, and the salted ledger commitment covers them);
 *     an unsalted digest of personal data that a purge had to remove with
 *     it. (-33 bytes per env-step)
 *   - joint_actions has no outcome column (SPEC §5 does not list one): it
 *     is a function of the effective actions (SPEC §4: quarantined when
 *     e_bin, else previewed when e_get and e_open, delivered when e_get,
 *     ignored otherwise; sim/rules.c), which the view v_joint_actions adds
 *     back to every row; v_outcomes and the model card read it there.
 *     (-10 bytes per env-step)
 */
#ifndef MS_LEDGER_SCHEMA_H
#define MS_LEDGER_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define LK_APPLICATION_ID 0x4D41524C /* "MARL" */
#define LK_SCHEMA_VERSION 4
#define LK_MAX_COLS 16

/* Value / column types. The numbers are the tag bytes of the canonical
 * encoding (ledger/canon.h) and are part of the hash contract. */
enum { LK_NULL = 0, LK_INT = 1, LK_REAL = 2, LK_TEXT = 3, LK_BLOB = 4 };

/* Telemetry classes (SPEC §5). */
enum { LK_OPERATIONAL, LK_SECURITY, LK_BEHAVIOURAL };

/* Event tables, in schema order. */
enum {
    LKT_ENVIRONMENT_STATES,
    LKT_AGENT_OBSERVATIONS,
    LKT_JOINT_ACTIONS,
    LKT_DI_CREDIT_ASSIGNMENT,
    LKT_OPTIMIZER_STEPS,
    LKT_EVALUATIONS,
    LKT_POLICY_SNAPSHOTS,
    LKT_ANOMALIES,
    LKT_HMAC_KEYS,
    LKT_POISON_TRUTH,
    LKT_SURVEILLANCE_EVENTS,
    LKT_BEHAVIOUR_AGGREGATES,
    LKT_TOMBSTONES,
    LKT_PURGES,
    LKT_COUNT
};

typedef struct lk_column {
    const char *name;
    int type;      /* LK_INT, LK_REAL, LK_TEXT or LK_BLOB */
    int nullable;  /* 1: NULL allowed; 0: NOT NULL */
    const char *doc;
} lk_column;

typedef struct lk_table {
    const char *name;
    int tclass;               /* LK_OPERATIONAL | LK_SECURITY | LK_BEHAVIOURAL */
    const char *doc;          /* one or more lines, '\n'-separated */
    int ncols;
    const lk_column *cols;
    /* Columns that name a row in messages (-1 when the table has none). */
    int step_col, env_col, agent_col;
    /* Digest column re-derived by writer and verifier (-1 when none):
     * cols[digest_col] = SHA-256(cols[digest_src]), as a 32-byte BLOB or,
     * when digest_hex, as 64 lowercase hex digits in TEXT. */
    int digest_col, digest_src, digest_hex;
} lk_table;

extern const lk_table lk_tables[LKT_COUNT];

/* The `runs` table's columns in order, and which of them the final ledger
 * entry (the seal, see ledger/canon.h) covers. */
enum {
    LKR_RUN_ID, LKR_NAME, LKR_SEED, LKR_CONFIG_TEXT, LKR_CONFIG_SHA256,
    LKR_VERSION, LKR_BUILD_FACTS, LKR_KEY_IDS, LKR_DEV_KEY, LKR_ORIGIN,
    LKR_STATUS, LKR_GENESIS, LKR_HEAD_HASH, LKR_LEDGER_ROWS, LKR_ROW_COUNTS,
    LKR_ENV_STEPS, LKR_EVAL_REWARD, LKR_STARTED_AT, LKR_FINISHED_AT,
    LKR_EXPORTED_CLASS, LKR_NCOLS
};
extern const lk_column lk_runs_columns[LKR_NCOLS];

/* The three ledger entries over the runs row (ledger/canon.h): the
 * identity (the chain's first entry), the build facts (its second) and the
 * seal (the last entry of a completed run). Each covers the listed runs
 * columns, in this order. */
enum { LK_RUNS_IDENTITY, LK_RUNS_BUILD, LK_RUNS_SEAL, LK_RUNS_NENTRY };
typedef struct lk_runs_entry {
    const char *tbl; /* the ledger's tbl value: "runs.identity", "runs.build", "runs.seal" */
    int ncols;
    const int *cols; /* indexes into lk_runs_columns */
} lk_runs_entry;
extern const lk_runs_entry lk_runs_entries[LK_RUNS_NENTRY];
/* Index into lk_runs_entries of the entry called exactly name[0..len), or -1. */
int lk_runs_entry_find(const char *name, size_t len);

/* Every purgeable table's entries are salted commitments (ledger/canon.h;
 * schema v4): a tombstone, in a purged lake or in an export of another
 * class, must not let anyone confirm a guess of the payload it replaced.
 * The purges' own entries (tombstones, purges) are never removed and need
 * none. */
static inline int lk_table_salted(int t) { return t >= 0 && t < LKT_TOMBSTONES; }
/* Every event table but tombstones and purges (what keeps a purged lake
 * verifiable) may have its payloads purged. */
static inline int lk_table_purgeable(int t) { return t >= 0 && t < LKT_TOMBSTONES; }
/* 1 for the tables of the entries a purge appends. */
static inline int lk_table_is_purge(int t) { return t == LKT_TOMBSTONES || t == LKT_PURGES; }

/* "{"environment_states":N,...}": the runs.row_counts text for these
 * counts, the one rendering the writer stores and the verifier compares.
 * Returns the length (snprintf-like). */
size_t lk_row_counts_json(const int64_t rows[LKT_COUNT], char *out, size_t n);

/* Telemetry class names: "operational", "security", "behavioural". */
extern const char *const lk_class_names[3];
/* The class called exactly name[0..len), or -1. */
int lk_class_find(const char *name, size_t len);

/* Index of the event table called exactly name[0..len) (no NUL needed), or
 * -1. Safe on hostile input. */
int lk_table_find(const char *name, size_t len);

/* Builds the whole creation script (tables, triggers, views; no pragmas)
 * into a malloc'd NUL-terminated string the caller frees. Deterministic.
 * Returns MS_OK or MS_EIO (out of memory). */
int lk_schema_script(char **sql, ms_err *e);

#endif
