/* verify.h — checking, comparing and reading lakes (SPEC §2 verify,
 * reproduce, prove, eval --policy RUN.db).
 *
 * Every function here treats the file as hostile: it opens it through the
 * read-only handle of ledger/reader.h (nothing is ever created or changed
 * beside the lake, -shm included; every committed WAL frame is seen; one
 * consistent read snapshot), bounds every loop by what it has read, never
 * trusts a stored hash, never writes, and never takes an instruction from
 * the lake (a key, a path, a command). A key that vouches for a lake comes
 * from the caller (opts->trusted), never from the lake.
 *
 * Opening errors, common to all functions (reader.h): MS_EINPUT for a file
 * that cannot be checked (missing, not a regular file, not an SQLite
 * database, truncated or malformed, not a marlsim lake, unsupported schema
 * version); MS_ECHECK for a marlsim lake that was visibly altered (not in
 * WAL mode, a rollback journal beside it, a schema that differs from the
 * one this build writes, an unexpected object); MS_EIO when SQLite or
 * libcrypto failed, or the file changed while it was read.
 */
#ifndef MS_LEDGER_VERIFY_H
#define MS_LEDGER_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "ledger/note.h"
#include "ledger/schema.h"

typedef struct lake_verify_opts {
    /* The key trusted to have signed the lake's checkpoints (the caller's
     * --pubkey, keyring or the user's resolved keyring); NULL: none, the
     * chain alone is checked and the report says unauthenticated. */
    const ms_note_verifier *trusted;
    /* A checkpoint kept elsewhere (a signed note, e.g. an old
     * RUN.db.checkpoint), checked against the lake; NULL: none. Needs
     * trusted (MS_EINPUT otherwise). */
    const char *checkpoint;
    size_t checkpoint_len;
    /* Called for every key id the lake's identity names, unless the lake
     * uses the development key: MS_OK when the caller's keyring has that
     * generation, else an error (MS_EINPUT naming it) that verify returns.
     * NULL: not checked. */
    int (*check_key_id)(void *ctx, const char *key_id, ms_err *e);
    void *check_ctx;
} lake_verify_opts;

/* One purge as the verified lake records it (purges table). */
typedef struct lake_purge_info {
    int64_t purge_id, before_step, entries, rows;
    char cls[16];            /* its class */
} lake_purge_info;
#define LAKE_VERIFY_MAX_PURGES 32

typedef struct lake_verify_report {
    int64_t rows[LKT_COUNT]; /* rows per event table that the lake holds */
    int64_t total_rows;      /* sum of rows[] */
    /* Purges (SPEC §5): what they removed, checked through the tombstones. */
    int64_t purged_rows[LKT_COUNT]; /* rows removed per table (purges and an export) */
    int64_t purged_entries;  /* ledger entries whose rows were removed (tombstones) */
    int64_t npurges;         /* purges recorded; the first LAKE_VERIFY_MAX_PURGES in purges[] */
    lake_purge_info purges[LAKE_VERIFY_MAX_PURGES];
    char exported_class[16]; /* "" unless the lake is an export (runs.exported_class) */
    int64_t export_entries, export_rows; /* removed by the export (tombstones of purge id 0) */
    int64_t entries;         /* ledger entries */
    int64_t env_steps;       /* runs.env_steps */
    char status[16];         /* runs.status */
    char run_id[64];
    char origin[300];
    int dev_key;
    int shard_of;            /* > 1: the lake is one process's shard of a run of
                                that many processes (its build facts, chained,
                                say "ranks"): its own mailboxes only, the run
                                is its manifest; 0 otherwise */
    int sealed;              /* the chain ends with the seal of a completed run */
    int complete;            /* status 'completed' */
    char head[65];           /* hash of the last entry (= runs.head_hash) */
    char genesis[65];
    /* Checkpoints in the lake: */
    int64_t checkpoints;     /* rows in the checkpoints table (all checked
                                against the chain: origin, size, root) */
    int authenticated;       /* 1: a trusted key verified every checkpoint
                                and the newest covers every entry and the
                                status (below) */
    int64_t signed_size;     /* with a trusted key: the ledger entries its
                                checkpoints vouch for (all of them when
                                authenticated; the prefix up to the newest
                                checkpoint of a running or killed run; 0) */
    char unsigned_why[160];  /* with a trusted key but not authenticated: why
                                (a development-key lake; a run killed before
                                its first checkpoint; an unsigned tail) */
    int foreign;             /* on MS_ECHECK: a checkpoint is signed, but not
                                by the trusted key (another keyring's lake,
                                or a forgery) */
    int64_t cp_size;         /* newest checkpoint: tree size, root (base64), */
    char cp_root[64];        /* stated status ("" for a periodic one) */
    char cp_status[16];
    char signer[160];        /* name+keyid of the lake's first signature ("" none) */
    /* The external checkpoint, when given: */
    int64_t ext_size;
    /* On MS_ECHECK: what is implicated ("" / 0 when nothing specific). */
    char table[32];
    int64_t seq;
} lake_verify_report;

/* Re-derives every hash of the lake at path from its stored bytes and
 * checks its structure:
 *   - SQLite's PRAGMA quick_check passes (every b-tree page well formed);
 *   - runs holds one row; config_sha256 = SHA-256(config_text); genesis =
 *     the genesis of (run_id, config_text, seed); origin is marlsim/<run_id>
 *     or marlsim/<run_id>/reproduce;
 *   - ledger seq runs 1..N without gaps; entry 1 is runs.identity, entry 2
 *     runs.build, runs.seal present iff the status is 'completed' and
 *     followed by purge entries only; every other entry names an event
 *     table and covers its rowids 1, 2, 3, ... contiguously; every covered
 *     row exists, unless a tombstone names the entry (below);
 *     environment_states.sha256 and policy_snapshots.sha256 re-derived per
 *     row; an event entry's commitment re-derived from its [salt and] rows;
 *     every entry hash recomputes;
 *   - purges (ledger/lifecycle.h): an entry whose rows are gone must have
 *     exactly one tombstone matching its seq, table, step, rowid range and
 *     stored commitment, none of its rows and no salt left (some rows
 *     missing is tampering); the chain then checks through the stored
 *     commitment. Purge entries come in pairs (tombstones, then purges),
 *     only after every entry of the run (nothing else follows them) and
 *     only in a finished lake; a chained tombstone names an earlier entry
 *     and a purge the purges table records, whose entries and rows are its
 *     tombstones', whose class is their tables' and whose cut-off is above
 *     their steps; purge ids run 1, 2, 3, ... Tombstones no entry covers
 *     are an export's: purge id 0, runs.exported_class set, naming tables
 *     of other classes only; an export holds no payload of another class
 *     (tombstones and purges aside); rep->exported_class says so;
 *   - COUNT(*) of every event table = rows the ledger covers, less those
 *     purged, plus an export's tombstones = runs.row_counts; runs.ledger_rows
 *     = N; runs.head_hash = the last entry's hash; salts holds exactly the
 *     salted entries not purged; an unsealed run's env_steps is that of its
 *     last update (0 before one; not checked once that update's entry is
 *     purged);
 *   - every checkpoint row: a well-formed signed note whose body's origin is
 *     runs.origin, whose size and status are the row's, sizes increasing,
 *     size <= N, and whose root is the RFC 6962 root of the first `size`
 *     entry hashes; with opts->trusted also signed by that key;
 *   - with opts->trusted: a finished run (completed, interrupted, failed)
 *     must hold checkpoints and its newest must cover all N entries and state
 *     runs.status; then rep->authenticated. A development-key lake, or a
 *     running one killed before its first checkpoint, is intact but not
 *     authenticated (rep->unsigned_why says which): the caller decides (the
 *     CLI fails it: the trusted key cannot vouch for it);
 *   - with opts->checkpoint: signed by the trusted key, same origin, its
 *     size at most N (else "truncated") and its root the lake's root at
 *     that size (else "rewritten");
 *   - then opts->check_key_id for every key id of the identity.
 * Returns MS_OK and fills rep (complete = 0 for a running / interrupted /
 * failed run: an intact but incomplete prefix; authenticated = 0 without a
 * trusted key), MS_ECHECK with the first broken thing in e (table, key such
 * as step/env/agent or seq, what differs; never a recomputed hash an
 * attacker could paste) and rep->table / rep->seq, MS_EINPUT for a checkpoint
 * without a trusted key or a malformed external checkpoint, or an opening
 * error above. rep may be NULL.
 *
 * What a chain cannot reveal: someone with write access who removes the
 * tail of an unfinished run and rewrites the runs row to match, or rewrites
 * everything and re-chains. The signed checkpoints reveal the second (to a
 * verifier with the trusted key); a checkpoint kept elsewhere reveals both. */
int lake_verify(const char *path, const lake_verify_opts *opts, lake_verify_report *rep, ms_err *e);

typedef struct lake_diff_report {
    int identical;          /* 1: same entries, same rows, in the same order */
    int prefix;             /* with LAKE_DIFF_PREFIX: a ended first (identical
                             * then means a's entries are b's first ones) */
    int same_genesis;       /* run_id, config_text and seed give the same genesis */
    int build_differs;      /* the build facts or version differ (reported, not
                               counted as divergence) */
    char build_what[200];
    int64_t entries_a, entries_b;
    int64_t purged_a, purged_b; /* entries whose rows a (b) purged: compared
                               through their commitments only */
    int64_t purge_entries_a, purge_entries_b; /* the purges' own entries at the
                               end of a (b): not part of the run, not compared */
    /* The first difference (when !identical): */
    int64_t seq;            /* ledger entry */
    char table[32];         /* table of a's entry (or runs.*) */
    int64_t step;           /* the row's step (entry step when the table has none) */
    int64_t env;            /* -1 when the table has no env column */
    char agent[16];         /* "" when the table has no agent column */
    char what[400];         /* one sentence saying what differs */
} lake_diff_report;

/* Compares the lakes a and b ledger entry by ledger entry, and inside the
 * first differing entry row by row (canonical row bytes), reporting the
 * first divergent row — or a differing entry header, row count or entry
 * count. Compares what the ledgers cover, not the hashes; run lake_verify on
 * each to trust them. The build entry and the identity's version are not
 * compared as divergence (the same run on another build is still the same
 * run) but reported in build_differs. Entries whose rows a (or b) has
 * purged are compared by header and commitment (equal salts and rows give
 * equal commitments; counted in purged_a / purged_b), and the purges' own
 * entries at the end of a lake are not part of its run (counted in
 * purge_entries_a / _b, never compared).
 * With LAKE_DIFF_PREFIX in flags, a may be an unfinished run: a ending
 * before b is not a difference (d->prefix = 1). Returns MS_OK with d filled
 * (identical or not), an opening error, or MS_ECHECK when a lake's ledger is
 * not walkable (unknown table, covered row missing). */
enum { LAKE_DIFF_PREFIX = 1 };
int lake_diff(const char *a, const char *b, unsigned flags, lake_diff_report *d, ms_err *e);

/* The runs row. Strings are NUL-terminated and owned by m (one block);
 * started_at / finished_at may be NULL. Release with lake_run_meta_release. */
typedef struct lake_run_meta {
    char *run_id, *name, *config_text, *config_sha256, *version, *build_facts, *key_ids, *origin;
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

/* The promoted policy of a lake, as the verified chain records it. */
typedef struct lake_policy_blob {
    void *blob;             /* malloc'd parameters (nn/'s serialisation) */
    size_t n;
    char sha256[65];        /* SHA-256(blob), re-derived */
    int64_t snapshot_id, eval_id, update_id;
} lake_policy_blob;

/* Verifies the lake (lake_verify with opts, in the same read snapshot, so
 * what is loaded is what was verified) and loads, for each of the
 * nagents agent names, the snapshot of the last evaluation whose decision is
 * 'baseline' or 'promoted' — the incumbent the run left. MS_OK and out[i]
 * filled (release with lake_policy_release); the lake_verify outcomes
 * (rep filled); MS_EINPUT when no evaluation promoted a policy (the run
 * stopped before its baseline) or a purge removed the evaluations or the
 * snapshot; MS_ECHECK when the verified chain does not record exactly one
 * snapshot per agent for it. */
int lake_read_policy(const char *path, const lake_verify_opts *opts, const char *const *agents, int nagents,
                     lake_policy_blob *out, lake_verify_report *rep, ms_err *e);

/* lake_verify with opts, then, in the same read snapshot (so nothing can
 * replace the file between the verdict and the reads): the runs row into
 * m (when m is not NULL; release it), the promoted policy as
 * lake_read_policy (when out is not NULL) and the entry hashes as
 * lake_read_entry_hashes (when hashes is not NULL; free it). With a trusted key in opts the
 * promoting evaluation and its snapshots must lie within the entries its
 * checkpoints sign (rep->signed_size), else MS_ECHECK: the unsigned tail
 * of a running or killed lake is anyone's. The outcomes of lake_verify and
 * lake_read_policy; on failure nothing is left to release. */
int lake_read_verified(const char *path, const lake_verify_opts *opts, lake_run_meta *m, const char *const *agents,
                       int nagents, lake_policy_blob *out, unsigned char (**hashes)[32], lake_verify_report *rep,
                       ms_err *e);
void lake_policy_release(lake_policy_blob *p, int n);

/* The ledger's entry hashes, after verification (lake_verify with opts, in
 * the same snapshot): *hashes is a malloc'd array of rep->entries hashes of
 * 32 bytes (entry seq = index + 1). */
int lake_read_entry_hashes(const char *path, const lake_verify_opts *opts, unsigned char (**hashes)[32],
                           lake_verify_report *rep, ms_err *e);

#endif
