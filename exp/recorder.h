/* record.h — the lake recorder: turns what the step loop and the trainer
 * produce into lake rows (ledger/lake.h), obeying [telemetry] level.
 *
 * Behavioural tables (environment_states, agent_observations, joint_actions,
 * di_credit_assignment) follow the level: full = every step; sampled = steps
 * whose index is a multiple of sample_every; aggregate = none of them, but
 * one behaviour_aggregates row per (window of sample_every steps, agent,
 * class). Operational and security rows (optimizer_steps, evaluations,
 * policy_snapshots, anomalies, poison_truth, hmac_keys) are always complete.
 *
 * Ledger labels (the `step` of each entry, what purge --before-step
 * compares): behavioural and security rows carry the simulation step they
 * belong to (an aggregate window its first step, a key generation the step
 * it was first used); operational rows (optimizer steps, evaluations,
 * snapshots) the number of simulation steps taken when they were written.
 *
 * Transactions: the recorder keeps one transaction open; recorder_commit()
 * commits it (with the runs row's head and counts) and opens the next, so a
 * crash loses at most the rows since the last commit and never leaves a
 * half-written commit. A NULL recorder is valid everywhere and records
 * nothing (telemetry off, used by benchmarks).
 */
#ifndef MS_EXP_RECORDER_H
#define MS_EXP_RECORDER_H

#include <stdint.h>

#include "ledger/lake.h"
#include "nn/ppo.h"
#include "sim/sim.h"

typedef struct recorder recorder;

/* One di_credit_assignment row. update_id < 0 is NULL (no update used it). */
typedef struct credit_row {
    int64_t step;
    int env, agent;
    uint8_t cls, valid, policy_updated;
    double reward, reward_raw, credit;
    int64_t update_id;
} credit_row;

/* Takes the lake (not owned) and the config (not owned). */
int recorder_init(recorder **out, lake *L, const ms_config *c, ms_err *e);
void recorder_free(recorder *r);

/* Sink for the training sim's steps. */
ms_sink recorder_step_sink(recorder *r);

/* The defence's per-step flags ([envs] detector ids of exp/defence.h, 0 =
 * none, and scores), which the step sink writes as anomalies rows; the
 * trainer fills them before the recorder's sink runs. NULL: none. */
void recorder_defence_flags(recorder *r, const unsigned char *flag, const double *score);

/* One surveillance_events row. */
int recorder_surveillance(recorder *r, int64_t eval_id, int64_t update_id, int agent, const char *detector,
                          const char *severity, double value, double threshold, const char *action,
                          const char *detail, ms_err *e);

int recorder_credit(recorder *r, const credit_row *rows, int n, ms_err *e);
int recorder_optimizer(recorder *r, int64_t update_id, int agent, int64_t env_steps, const char *sha_before,
                       const char *sha_after, const ppo_report *rep, const char *gate, ms_err *e);
/* best_score NULL = baseline; undone_first < 0 = NULL. */
int recorder_evaluation(recorder *r, int64_t eval_id, int64_t update_id, int64_t env_steps, int64_t episodes,
                        double candidate, const double *best_score, double tolerance, const char *decision,
                        int64_t undone_first, int64_t undone_last, ms_err *e);
int recorder_snapshot(recorder *r, int64_t snapshot_id, int64_t eval_id, int64_t update_id, int agent,
                      const char *sha_hex, const void *blob, size_t n, ms_err *e);
/* Flushes the open aggregate window and the open key generation's
 * hmac_keys rows (closed generations are written when the next one starts).
 * Call at the end of a completed or interrupted run; calling it again
 * writes nothing twice. */
int recorder_flush(recorder *r, int64_t last_step, ms_err *e);
/* Records env_steps progress, commits, and opens the next transaction. */
int recorder_commit(recorder *r, int64_t env_steps, ms_err *e);
/* With [telemetry] writer_threads = 1 the lake's work (encoding, hashing,
 * SQLite) runs on a thread behind a bounded queue (ledger/writer.h), in
 * the order of the calls above, so the lake is byte for byte the one the
 * synchronous recorder writes; a failure there comes back from a later
 * call. recorder_sync waits until the lake has done everything queued and
 * returns its first failure: call it before using the lake directly
 * (lake_finish). */
int recorder_sync(recorder *r, ms_err *e);
/* Seconds the lake's thread spent writing (0 without one); after sync. */
double recorder_writer_seconds(const recorder *r);

/* Seconds spent building rows and writing them (for benchmarks). */
double recorder_seconds(const recorder *r);
/* The part of it spent in the step sink (inside the step loop's time). */
double recorder_step_seconds(const recorder *r);

#endif
