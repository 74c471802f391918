/* train.h — the training loop: three PPO agents on the step loop, gated
 * updates, truthful records (SPEC §7).
 *
 * The trainer is a policy stage (sampled actions, with one policy stream per
 * mailbox: (seed, MS_STREAM_POLICY, mailbox)) and a sink (the rollout
 * buffer) plugged into the same ms_sim step loop that evaluation uses, with
 * greedy actions, on the evaluation stream.
 *
 * Every `rollout` steps each agent gets one PPO update on the samples of that
 * rollout whose broadcast passed validation (rejected ones never enter a
 * batch), with the credit [train] credit routes to it as reward:
 *   - GAE: within an episode next_value = V(next observation); at the time
 *     limit (a truncation) the trace is cut but the target still bootstraps
 *     from V of the mailbox's next observation (the first message of the
 *     next episode: the message process restarts with the same law, so it
 *     is the available estimate of the continuation); at the rollout's end
 *     from V of the next observation, computed with the same parameters that
 *     produced the rollout; before a rejected broadcast the trace is cut and
 *     bootstraps from the step's own value. Nothing terminates.
 *   - policy_updated of a sample = 1 only if an optimizer step whose
 *     minibatch held it changed the parameters AND the agent's parameter
 *     hash differs after the update; a skipped (non-finite) step changes
 *     nothing and is counted in the optimizer_steps row.
 * Gate: every `[gate] every` updates (and after the last update) the joint
 * candidate is evaluated greedily on the gate episodes (MS_STREAM_GATE); it
 * is promoted if
 * its score >= best promoted score - tolerance, otherwise all three agents'
 * parameters and Adam state are restored byte for byte to the incumbent and
 * the evaluation row names the updates undone. The initial policy is
 * evaluated first as the baseline incumbent. A completed run then plays
 * the report episodes (MS_STREAM_REPORT, [gate] report_episodes per
 * mailbox) with the policy it leaves: its final figure, never used to
 * select anything.
 */
#ifndef MS_EXP_TRAINER_H
#define MS_EXP_TRAINER_H

#include <signal.h>
#include <stdint.h>

#include "exp/recorder.h"
#include "exp/surveil.h"
#include "sim/policy.h"
#include "ledger/verify.h"
#include "nn/ppo.h"
#include "sim/policy.h"

typedef struct trainer_status {
    int64_t env_steps, total_env_steps, updates, gates;
    double recent_reward;      /* mean reward per env-step of the last rollout */
    double eval_score;         /* gate score of the incumbent (gate episodes) */
    int has_report;            /* the run completed and was scored: */
    double report_score;       /* mean reward per env-step on the report episodes */
    ms_tally report;           /* their outcomes and rule hits */
    const char *last_decision; /* "baseline", "promoted", "rolled_back" */
    int64_t rejected;          /* rejected broadcasts so far */
    int64_t poisoned, poisoned_rejected;
    /* Poisoning at source, scored against the ground truth (for the report
     * only: nothing the trainer decides reads it): */
    int64_t forged;            /* samples whose feedback was forged */
    int64_t flagged;           /* samples the defence excluded */
    int64_t flagged_forged;    /* ... of which forged */
    int64_t backdoor_samples;  /* training messages of backdoor campaigns */
    int64_t surveillance_events, suspended; /* findings; agents suspended */
    int64_t surveillance_by[SURV_NDETECTOR]; /* findings per detector (surv_detector_names) */
    unsigned frozen;             /* bit a: agent a is suspended and frozen */
} trainer_status;

typedef struct trainer trainer;

/* Timing split for benchmarks (seconds, CLOCK_MONOTONIC; never hashed):
 * env = the step loop without the policy stage (simulator, broadcast,
 * validation, rules and sinks, i.e. telemetry when it is on); act = policy
 * forward passes while training; update = GAE + PPO updates; eval = gate
 * evaluations. */
typedef struct trainer_times {
    double env, act, update, eval;
} trainer_times;

/* rec may be NULL (no telemetry). ks: the run's key generations
 * (sim/pseudo.h; copied, its keyring must outlive the trainer); the
 * held-out streams use their public evaluation keys. */
int trainer_init(trainer **out, const ms_config *c, recorder *rec, const ms_key_source *ks, ms_err *e);
/* The same for one of the processes of a run (SPEC §11; exp/comm.h): it
 * steps its share of the config's mailboxes (comm_share: rank r of n gets
 * a contiguous range, every stream keyed by the config's mailbox index),
 * takes its share of each minibatch, and combines with the others, in rank
 * order, the agents' gradients and value statistics (nn/ppo.h ppo_reduce),
 * the gate and report evaluations (each process plays its mailboxes'
 * episodes) and, at the end, the counts of trainer_status; it stops at the
 * rollout boundary where any process was asked to; after every update it
 * checks that every process holds rank 0's parameters (MS_EIO otherwise).
 * What each process records (rec) is its mailboxes' rows and the run's
 * updates, evaluations and snapshots, identical on every process but for
 * the samples counted. The defence (exp/defence.h) learns each sender's
 * history from the process's own mailboxes. With comm_single() it is
 * trainer_init. MS_EINPUT when [sim] envs or [train] minibatch is smaller
 * than the number of processes. Every process must call every trainer
 * function that the others call (collectives). */
struct ms_comm;
int trainer_init_comm(trainer **out, const ms_config *c, recorder *rec, const ms_key_source *ks,
                      struct ms_comm *comm, ms_err *e);
void trainer_free(trainer *t);

/* Tests only: hook sees (and may change) every sample's per-agent reward
 * right after it is recorded, with excluded = 1 for a sample that will not
 * train (rejected or flagged). Shows, by behaviour, that excluded samples'
 * rewards reach no update. NULL removes it. */
void trainer_set_reward_hook(trainer *t, void (*hook)(void *ctx, int excluded, float *r_get, float *r_open,
                                                      float *r_bin),
                             void *ctx);

/* Tests only: hook runs after every update's optimizer steps, before its
 * gate, and may change any agent's parameters through trainer_params_mut
 * (e.g. plant a non-finite value the surveillance must catch). NULL
 * removes it. */
void trainer_set_update_hook(trainer *t, void (*hook)(void *ctx, trainer *t, int64_t update_id), void *ctx);
/* Tests only: agent a's live parameters and their count. */
float *trainer_params_mut(trainer *t, int agent, size_t *n);

/* Makes trainer_run behave as if *stop became nonzero once env_steps
 * env-steps have been taken (0: never), so that reproduce can replay an
 * interrupted run exactly. */
void trainer_stop_at(trainer *t, int64_t env_steps);

/* Runs to the configured env-steps, or until *stop becomes nonzero (checked
 * at every rollout boundary, right after the lake committed the rollout;
 * then *interrupted = 1 and nothing more is recorded). progress, if not
 * NULL, is called after every rollout. On completion the recorder's open
 * aggregate window and key generation are flushed and committed. */
int trainer_run(trainer *t, volatile sig_atomic_t *stop, void (*progress)(const trainer_status *, void *),
                void *progress_ctx, int *interrupted, ms_err *e);

const trainer_status *trainer_get_status(const trainer *t);
const trainer_times *trainer_get_times(const trainer *t);
/* SHA-256 (hex) of agent a's current parameters. */
int trainer_params_hex(const trainer *t, int agent, char hex[65], ms_err *e);

/* eval --policy RUN.db: verifies the lake (lake_read_policy with vo, so a
 * tampered lake is refused before anything is evaluated: MS_ECHECK), loads
 * the policy the verified chain records as last promoted (snapshots in
 * info[MS_NAGENT], blobs released) and plays the report episodes of config
 * c (report_episodes per mailbox). rep receives the verification report. */
int train_eval_lake_policy(const ms_config *c, const char *db, const lake_verify_opts *vo, ms_tally *t,
                           lake_policy_blob info[MS_NAGENT], lake_verify_report *rep, ms_err *e);
/* The same play with the agents' parameters given (nn/'s blobs: those of
 * lake_read_verified, or of a checked release, gov/release.h); `what`
 * names them in messages.
 * MS_EINPUT when a blob is malformed or its input size is not this
 * config's. The blobs stay the caller's. */
int train_eval_blobs(const ms_config *c, const char *what, const lake_policy_blob info[MS_NAGENT], ms_tally *t,
                     ms_err *e);

#endif
