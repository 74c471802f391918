/* lifecycle.h — the data lifecycle of a lake (SPEC §5): purge and export.
 *
 * Classes. Every event table has a telemetry class (ledger/schema.h,
 * v_table_classes): behavioural (environment_states, agent_observations,
 * joint_actions, di_credit_assignment, behaviour_aggregates; their entries'
 * salts go with them), security (anomalies, hmac_keys, poison_truth,
 * tombstones) and operational (optimizer_steps, evaluations,
 * policy_snapshots, purges). tombstones and purges are never purged.
 *
 * Purge (lake_purge). For each class asked for, the payload of every
 * ledger entry of that class's tables whose step label is below the class's
 * cut-off (and that no earlier purge removed) is removed: its rows and its
 * salt. In one SQLite transaction on a writer with secure_delete on
 * (ledger/lake.h, lake_reopen), the purge
 *   - deletes them and inserts one tombstones row per entry (purge id, seq,
 *     table, step, rowid range, the entry's commitment);
 *   - inserts one purges row per class it removed something of (purge id,
 *     class, cut-off, the policy text, entries, rows);
 *   - appends two chained entries, tombstones then purges (their step label
 *     is the largest step label of the lake's event entries), through the
 *     canonical encoding of ledger/canon.h;
 *   - frees the emptied pages (incremental vacuum) and, with a signer, signs
 *     a checkpoint over the new tree size stating the run's status, so the
 *     newest checkpoint still says how the run ended;
 *   - updates the runs row (head, ledger_rows, row_counts = rows present)
 *     and commits; then writes PATH.checkpoint atomically;
 * then truncates the WAL (PRAGMA wal_checkpoint(TRUNCATE)). Killed at any
 * moment it leaves the old lake or the purged one, both verifying. A reader
 * that holds the WAL makes the truncation fail: report->scrubbed = 0 (the
 * purged bytes may still be in PATH-wal); the next lake_purge, even one with
 * nothing new to remove, retries it and rewrites PATH.checkpoint.
 * Nothing to remove: nothing is appended or signed.
 *
 * Refusals: MS_ECHECK when the lake does not verify (tampered, signed by
 * another key than opts->trusted) or is not authenticated by it (a
 * non-development lake without a valid final checkpoint); MS_EINPUT for a
 * running lake (its writer may be alive: purge finished lakes only —
 * completed, interrupted or failed), an export, a non-development lake
 * without trusted and signer (purge re-signs), a development-key lake with a
 * signer, or bad options; MS_EIO when SQLite, libcrypto or the file system
 * failed (the transaction rolled back: the old lake), including a lake that
 * changed between verification and purge.
 *
 * Export (lake_export). A new lake at out holding the payloads of class cls
 * only: a page-for-page copy of the verified source (SQLite's backup API,
 * which keeps rowids; VACUUM INTO renumbers the rowids of tables with gaps,
 * which a purged source has), put in WAL mode, from which every entry of
 * the other classes is removed as a purge would, but with tombstones of
 * purge id 0 that no ledger entry covers and nothing appended or signed
 * (runs.exported_class = cls). Its ledger, tree and checkpoints are the
 * source's, so lake_verify checks it on its own and against the source's
 * checkpoint file. Built beside out (out.exporting-XXXXXX) and moved into
 * place (link, or rename over out when overwrite), verified first (a
 * crash leaves at most that out.exporting-XXXXXX file). No
 * export holds key material (no lake does: salts are HMAC outputs, never
 * the key). Refusals: MS_ECHECK for a source that does not verify (or, with
 * trusted, is not authenticated and not a development-key lake); MS_EINPUT
 * for an export as source, an existing out (or its -wal/-shm) without
 * overwrite, out naming the source or one of its side files, a bad class.
 */
#ifndef MS_LEDGER_LIFECYCLE_H
#define MS_LEDGER_LIFECYCLE_H

#include <stdint.h>

#include "base/err.h"
#include "ledger/note.h"
#include "ledger/schema.h"
#include "ledger/verify.h"

typedef struct lake_purge_opts {
    int64_t before[3];        /* per class (LK_OPERATIONAL...): cut-off step; -1: not purged */
    const char *policy[3];    /* per purged class: purges.policy (how it was asked for) */
    const ms_note_verifier *trusted; /* the key that signed the lake; NULL only for a development-key lake */
    const ms_note_signer *signer;    /* the same key's signer; NULL only for a development-key lake */
} lake_purge_opts;

typedef struct lake_purge_report {
    lake_verify_report verified;      /* the lake as verified before the purge */
    int64_t purge_id[3];              /* per class: the purge made (0: nothing of it removed) */
    int64_t entries[3], rows[3];      /* per class: removed */
    int64_t t_entries[LKT_COUNT], t_rows[LKT_COUNT]; /* per table: removed */
    int64_t entries_total, rows_total;
    int64_t first_seq, last_seq;      /* the chained entries appended (0 when none) */
    int64_t cp_size;                  /* the checkpoint signed (0: none) */
    char cp_root[64];
    char head[65];                    /* the lake's head afterwards */
    int64_t bytes_before, bytes_after; /* lake file + WAL */
    int scrubbed;                     /* 1: the WAL was truncated */
    int unsigned_;                    /* on MS_ECHECK: intact, but not authenticated by the trusted key */
} lake_purge_report;

int lake_purge(const char *path, const lake_purge_opts *o, lake_purge_report *r, ms_err *e);

/* The cut-off (lake_purge_opts.before) a retention of `keep` simulation
 * steps gives a run of `steps` steps (0 .. steps-1; operational rows written
 * after the last one are labelled steps): keep 0 removes everything (steps
 * + 1), keep >= steps nothing (0), else steps - keep. `purge --policy-from`
 * and `audit`'s retention check share it. keep must not be MS_RETAIN_KEEP. */
int64_t lake_retention_before(int64_t keep, int64_t steps);

typedef struct lake_export_report {
    lake_verify_report source, out;   /* the source as verified; the export as verified */
    int64_t entries, rows;            /* removed (payloads of the other classes) */
    int64_t t_entries[LKT_COUNT], t_rows[LKT_COUNT];
    int64_t bytes;                    /* size of the export */
    int unsigned_;                    /* on MS_ECHECK: intact, but not authenticated by the trusted key */
} lake_export_report;

int lake_export(const char *src, const char *out, int cls, const ms_note_verifier *trusted, int overwrite,
                lake_export_report *r, ms_err *e);

#endif
