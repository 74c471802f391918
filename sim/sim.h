/* sim.h — the step loop: `envs` mailboxes advanced together, one design for
 * training, evaluation and benchmarks.
 *
 * One call of ms_sim_step() runs, for every mailbox:
 *   generate → pseudonymise + broadcast (canonical JSON + MAC) → [tampering
 *   in transit, when poison_rate > 0] → validate + extract each agent's
 *   observation from the bytes → POLICY STAGE (plug-in: chooses actions for
 *   the whole batch) → rules engine + credit → mailbox consequences → SINK
 *   STAGES (plug-ins: trainer buffer, ledger writer, evaluation tally, ...).
 * At-source poisoning: messages of adversarial campaigns (msg->backdoor,
 * env.h) and, on the training stream only, with probability [sim]
 * feedback_poison each, a forged outcome feedback: the rules engine scores
 * the message as benign (res, credit; no compromise booked) while the
 * mailbox lives with the true outcome (quarantine set, compromise). A draw
 * whose forged reward equals the honest one is no forgery (forged = 0).
 * Rejected broadcasts are held (rule broadcast_rejected_hold), their actions
 * are recorded as 0 with probability 0, and `reject` says why, so a learner
 * excludes them and a ledger counts them as anomalies.
 *
 * Memory: everything is allocated by ms_sim_init; ms_sim_step allocates
 * nothing. The ms_step it hands to stages is owned by the sim and valid until
 * the next step.
 */
#ifndef MS_SIM_H
#define MS_SIM_H

#include <stdint.h>

#include "sim/bcast.h"
#include "sim/config.h"
#include "sim/env.h"
#include "sim/pseudo.h"
#include "sim/rules.h"

#define MS_OBS_MAX 27 /* observe = all: 9 + 8 + 10 */
extern const int ms_modality_dim[MS_NAGENT]; /* 9, 8, 10 */

/* The feature (MS_F_*, ms_feature_names) at position k of agent a's
 * observation under `observe` (MS_OBSERVE_*), as ms_sim_observe fills it:
 * the agent's modality, then the shared features; with observe = all every
 * agent's block in agent order (the shared features once per block). -1
 * when a or k is out of range. */
int ms_obs_feature(int agent, int observe, int k);

/* One vector step, structure-of-arrays over mailboxes. */
typedef struct ms_step {
    int64_t step;             /* vector steps taken by this sim before this one */
    int envs;
    int first;                /* the config's mailbox index of mailbox 0 here
                                 (0 unless a range of them: ms_sim_init_range) */
    const ms_keys *keys;      /* key generation that pseudonymised this step */
    ms_msg *msg;              /* [envs] ground truth (sinks may read; policies
                                 other than the oracle must not) */
    char *bcast;              /* [envs][MS_BCAST_MAX] bytes as received */
    int *bcast_len;           /* [envs] */
    unsigned char *poison;    /* [envs] 0, or 1 + MS_POISON_* applied in transit */
    unsigned char *forged;    /* [envs] 1: the outcome feedback of this backdoor
                                 message was forged to benign (training
                                 stream only; ground truth, never visible to
                                 agents): res/credit are the forged ones,
                                 whose reward differs from the honest one */
    unsigned char *reject;    /* [envs] MS_BCAST_OK or the rejection reason */
    float *feat;              /* [envs][MS_NFEAT] features parsed from the bytes */
    float *obs[MS_NAGENT];    /* [envs][obs_dim[a]] observation each agent used */
    int obs_dim[MS_NAGENT];
    unsigned char *act;       /* [envs][3] chosen actions (policy stage fills) */
    float *prob1;             /* [envs][3] probability the policy gave action 1 */
    ms_facts *facts;          /* [envs] */
    ms_result *res;           /* [envs] rules outcome */
    double *credit;           /* [envs][3] credit under [train] credit */
    unsigned char *episode_end; /* [envs] 1 if the time limit ended the episode */
} ms_step;

/* The policy stage fills s->act and s->prob1 for every mailbox; it may skip
 * mailboxes with s->reject[i] != 0 (the loop overwrites those). */
typedef struct ms_policy {
    int (*act)(void *ctx, ms_step *s, ms_err *e);
    void *ctx;
} ms_policy;

/* A sink sees the finished step. */
typedef struct ms_sink {
    int (*record)(void *ctx, const ms_step *s, ms_err *e);
    void *ctx;
} ms_sink;

typedef struct ms_sim {
    const ms_config *cfg;
    int envs;         /* mailboxes stepped here: the config's first .. first + envs - 1 */
    int first;
    uint32_t stream;
    uint64_t stream_seed;
    ms_mailbox *mb;
    ms_key_source ks;
    int key_index;    /* the run's key generation in use (0, 1, ... at rotations) */
    ms_keys keys;
    ms_hmac pseudo_mac, send_mac, recv_mac;
    ms_pseudonyms pn;
    uint64_t *seq_sent, *seq_accepted;
    char *prev_bcast; /* last bytes sent per mailbox (replay material) */
    int *prev_len;
    ms_rng *poison_rng;
    ms_rng *feedback_rng; /* forged feedback draws, training stream only */
    int trigger;          /* the backdoor trigger link of eval_seed */
    int episodes;     /* episodes completed (all mailboxes are in step) */
    int observed;     /* 1: s holds the next, not yet acted-on, messages */
    ms_step s;
} ms_sim;

/* stream: MS_STREAM_ENV (training; seed = [run] seed), MS_STREAM_GATE (gate
 * episodes; seed = ms_gate_seed(eval_seed, run seed)) or MS_STREAM_REPORT
 * (report episodes; seed = [gate] eval_seed alone). ks says where the key generations come from (copied;
 * a keyring it names must outlive the sim); NULL = the public evaluation
 * keys of the stream's seed (pseudo.h), for held-out streams, whose mail
 * is never recorded. Errors: MS_EIO (memory, libcrypto); a key source's
 * MS_EINPUT / MS_ECHECK (a missing or destroyed generation). */
int ms_sim_init(ms_sim *sim, const ms_config *c, uint32_t stream, const ms_key_source *ks, ms_err *e);
/* The same for mailboxes first .. first + count - 1 of the config's envs
 * only (one process of a run split across processes, SPEC §11): mailbox i
 * here is the config's mailbox first + i, keyed by that index in every
 * stream (sim/env.h, base/rng.h), broadcast as that env and pseudonymised
 * with its recipient, so its messages are the ones ms_sim_init's mailbox
 * first + i gets, whichever process steps it. MS_EINPUT for a range outside
 * 0 .. envs - 1 or an empty one. ms_sim_init = the range 0, envs. */
int ms_sim_init_range(ms_sim *sim, const ms_config *c, uint32_t stream, const ms_key_source *ks, int first,
                      int count, ms_err *e);
/* Back to the first step of the stream (evaluation replays the same
 * held-out episodes every time). */
int ms_sim_reset(ms_sim *sim, ms_err *e);
int ms_sim_step(ms_sim *sim, const ms_policy *policy, const ms_sink *sinks, int nsinks, ms_err *e);
/* The first half of a step on its own: generates, broadcasts and validates
 * the next messages so that s->feat/obs/reject hold the next observations
 * (a learner bootstraps its value estimate from them at a rollout's end).
 * The following ms_sim_step acts on exactly these messages. Idempotent. */
int ms_sim_observe(ms_sim *sim, ms_err *e);
void ms_sim_release(ms_sim *sim);

#endif
