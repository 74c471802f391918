/* policy.h — reference policies and held-out evaluation.
 *
 * Reference policies (SPEC §4), each an ms_policy stage:
 *   random     every agent picks 0/1 with probability 1/2 from its own
 *              per-mailbox stream (MS_STREAM_REF_POLICY keyed by the given
 *              seed: separate from the trainer's MS_STREAM_POLICY);
 *   heuristic  QUARANTINE if threat intel, url_mismatch or sandbox_score >
 *              0.5 (read from the validated broadcast), else GET + preview;
 *   oracle     knows the class: plays the joint action with the highest
 *              reward under the rules engine for the true message (ties go
 *              to the lowest action index, GET = bit 0, OPEN = 1, BIN = 2).
 *
 * ms_evaluate plays `episodes` whole episodes on every mailbox of an
 * evaluation sim from its first step (so every call sees the same held-out
 * episodes) and tallies reward and outcomes.
 */
#ifndef MS_POLICY_H
#define MS_POLICY_H

#include "sim/sim.h"

enum { MS_REF_RANDOM, MS_REF_HEURISTIC, MS_REF_ORACLE, MS_NREF };
extern const char *const ms_ref_names[MS_NREF];

typedef struct ms_ref_policy {
    int kind;
    const ms_config *cfg;
    ms_rng *rng; /* [envs], random only */
    int envs;
} ms_ref_policy;

/* kind: MS_REF_*. seed keys the random policy's streams. */
int ms_ref_policy_init(ms_ref_policy *p, int kind, const ms_config *c, uint64_t seed, ms_err *e);
ms_policy ms_ref_policy_stage(ms_ref_policy *p);
void ms_ref_policy_release(ms_ref_policy *p);

#define MS_NOUTCOME_TALLY (MS_NOUTCOME + 1) /* + held (rejected broadcast) */
typedef struct ms_tally {
    int64_t env_steps;
    double reward_sum, reward_raw_sum;
    int64_t outcomes[MS_NCLASS][MS_NOUTCOME_TALLY];
    int64_t rejected, rule_hits[MS_NRULE];
    int64_t backdoor_seen, backdoor_delivered; /* trigger malware, and how much of it was delivered */
} ms_tally;

/* Sink that adds a step to an ms_tally. */
ms_sink ms_tally_sink(ms_tally *t);

/* Resets sim, plays episodes × episode_len steps with policy (plus any
 * extra sinks), fills t. Returns MS_OK or the first stage error. */
int ms_evaluate(ms_sim *sim, const ms_policy *policy, int episodes, const ms_sink *extra, int nextra,
                ms_tally *t, ms_err *e);

#endif
