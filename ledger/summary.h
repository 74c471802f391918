/* summary.h — the figures of a verified lake, for what people read about a
 * finished run (`marlsim report`, `marlsim compare`).
 *
 * lake_summary_read verifies the lake (lake_verify with opts, verify.h) and
 * then, in the same read snapshot, reads the runs row and the lake's views
 * and operational / security tables into a lake_summary: what is read is
 * what was verified. The file is hostile input: every text copied out of it
 * is bounded and made printable ASCII (bytes outside 0x20-0x7e become '?',
 * NULL becomes "NULL"; lk_safe_text), so a consumer may quote it, but must
 * still escape it for its own format (HTML, JSON); nothing read is ever a
 * path, a key or an instruction. Lists are read in the views' order, at most
 * LS_ROWS_MAX rows each (the *_total fields count them all).
 *
 * What each part holds (SPEC §5 views and tables). The views' GROUP BY
 * needs SQLite's temporary storage, which the read-only handle does not
 * have (and which grows with a behavioural table: a row per step), so the
 * grouped figures are the views' own, summed here in one pass over the
 * table in memory proportional to the groups (at most 1024 groups, else
 * MS_EINPUT), grouped by their printable text and sorted as the view sorts:
 *   gates       v_gate_decisions' rows: evaluations in append order
 *   outcomes    v_outcomes (class, outcome, n)           joint_actions
 *   rules       v_rule_hits (rule, "", n)                joint_actions
 *   credit      v_credit_by_class                        di_credit_assignment
 *   actions     behaviour_aggregates summed per (agent, class) over windows
 *   anomalies   v_anomalies_by_reason (detector, reason, n)
 *   surv        surveillance_events in append order
 *   keys        hmac_keys in append order
 *   cps         checkpoints in cp_id order, each note parsed (the chain
 *               check already tied its size and root to the ledger)
 *   poison      counts over poison_truth and anomalies (below)
 * Under `[telemetry] level = aggregate` the behavioural tables are empty
 * (outcomes, rules, credit: none) and actions holds what the aggregates
 * keep; under `sampled` they hold every n-th step.
 *
 * Outcomes: MS_OK and *s filled (release with lake_summary_release); every
 * lake_verify outcome (rep filled as lake_verify fills it; *s empty); MS_EIO
 * out of memory or an SQLite failure; MS_EINPUT when a verified but hostile
 * lake holds what a view cannot read (e.g. a rules column that is not JSON),
 * naming the view. rep may be NULL.
 */
#ifndef MS_LEDGER_SUMMARY_H
#define MS_LEDGER_SUMMARY_H

#include <stdint.h>

#include "base/err.h"
#include "ledger/note.h"
#include "ledger/verify.h"

#define LS_TEXT 80      /* a name, a class, a reason */
#define LS_DETAIL 240   /* a detail sentence, a build fact */
#define LS_ROWS_MAX 10000

typedef struct ls_gate {
    int64_t eval_id, update_id, env_steps, undone_first, undone_last;
    double candidate, best, tolerance;
    int has_update, has_best, has_undone;
    char decision[LS_TEXT];
} ls_gate;

/* A count keyed by one or two texts (b is "" for one). */
typedef struct ls_count {
    char a[LS_TEXT], b[LS_TEXT];
    int64_t n;
} ls_count;

typedef struct ls_credit {
    char agent[LS_TEXT], cls[LS_TEXT];
    int64_t samples;
    double mean_credit, mean_reward;
    int has_credit; /* 0: every credit of the group was NULL */
} ls_credit;

/* behaviour_aggregates summed over its windows. */
typedef struct ls_action {
    char agent[LS_TEXT], cls[LS_TEXT];
    int64_t samples, chose_1, effective_1;
    double reward_sum, credit_sum;
} ls_action;

typedef struct ls_surv {
    int64_t eval_id, update_id;
    char agent[LS_TEXT], detector[LS_TEXT], severity[LS_TEXT], action[LS_TEXT], detail[LS_DETAIL];
    double value, threshold;
    int has_value, has_threshold;
} ls_surv;

typedef struct ls_key {
    char key_id[LS_TEXT], purpose[LS_TEXT], fingerprint[LS_TEXT];
    int64_t first_step, last_step;
    int has_first, has_last;
} ls_key;

typedef struct ls_checkpoint {
    int64_t cp_id, tree_size;
    char status[LS_TEXT];                  /* "" for a periodic checkpoint */
    char root[48];                         /* base64 */
    char signer[MS_NOTE_NAME_MAX + 10];    /* NAME+8hex of the first signature line */
} ls_checkpoint;

typedef struct ls_pair {
    char key[LS_TEXT], value[LS_DETAIL];
} ls_pair;

/* SPEC §4.1's figures, from the ground truth and the detections:
 *   transit_injected    poison_truth rows with threat 'transit'
 *   transit_detected    broadcasts (step, env) a broadcast_validator anomaly
 *                       rejected; transit_caught: those that were injected
 *   source_injected     poison_truth rows of kind 'forged_feedback'
 *   backdoor_messages   poison_truth rows with threat 'source'
 *   flagged             defence anomalies (agent NULL: one per sample);
 *                       flagged_forged: those at a forged_feedback (step, env) */
typedef struct ls_poison {
    int64_t transit_injected, transit_detected, transit_caught;
    int64_t source_injected, backdoor_messages, flagged, flagged_forged;
} ls_poison;

typedef struct lake_summary {
    /* The runs row (printable copies). */
    char run_id[LS_TEXT], name[LS_TEXT], config_sha256[LS_TEXT], version[LS_TEXT], status[LS_TEXT];
    char origin[300], head_hash[LS_TEXT], key_ids[LS_DETAIL];
    char started_at[LS_TEXT], finished_at[LS_TEXT]; /* "" when NULL (wall clock, never hashed) */
    uint64_t seed;
    int64_t env_steps, ledger_rows;
    int dev_key, has_eval;
    double eval_reward; /* the run's final report figure (has_eval) */
    char *config_text;  /* malloc'd, the stored canonical config: HOSTILE
                           (parse with ms_config_load_stored, never print raw) */
    /* Build facts: the JSON object's members when it is one, else raw
     * (printable) in build_raw. */
    ls_pair *build;
    int nbuild;
    char build_raw[LS_DETAIL];
    int64_t updates;    /* MAX(update_id) of optimizer_steps (0: none) */

    ls_gate *gates;
    ls_count *outcomes, *rules, *anomalies;
    ls_credit *credit;
    ls_action *actions;
    ls_surv *surv;
    ls_key *keys;
    ls_checkpoint *cps;
    int ngates, noutcomes, nrules, nanomalies, ncredit, nactions, nsurv, nkeys, ncps;
    int64_t gates_total, surv_total, cps_total; /* rows in the table (lists stop at LS_ROWS_MAX) */
    ls_poison poison;
} lake_summary;

int lake_summary_read(const char *path, const lake_verify_opts *opts, lake_summary *s, lake_verify_report *rep,
                      ms_err *e);
void lake_summary_release(lake_summary *s);

/* Wall-clock seconds between started_at and finished_at (UTC stamps
 * "YYYY-MM-DDTHH:MM:SSZ", never hashed, so unauthenticated): 1 and
 * *seconds when both are present, well formed and in order; 0 otherwise
 * (the lake does not record how long the run took). */
int lake_summary_wall_seconds(const lake_summary *s, int64_t *seconds);

/* The verdict word `marlsim verify` gives a lake lake_verify accepted
 * (MS_OK): "UNSIGNED" when a trusted key was used (trusted != 0) but its
 * checkpoints vouch for none of the lake (rep->signed_size 0;
 * rep->unsigned_why says why), else "INCOMPLETE" when the run did not
 * complete (a running or killed run's signed prefix may be shorter than the
 * lake: rep->signed_size), else "OK" when authenticated, else
 * "UNAUTHENTICATED". */
const char *lake_verdict(const lake_verify_report *rep, int trusted);

#endif
