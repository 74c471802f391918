/* ppo.h — PPO (clipped surrogate) for one agent with a binary action.
 *
 * Network: ONE mlp (shared trunk) with 3 outputs per sample,
 *   out[0] = logit of action 0, out[1] = logit of action 1, out[2] = V(obs).
 * Output-layer gains at init: 0.01 for the two logits (near-uniform initial
 * policy), 1.0 for the value. pi = softmax(out[0..1]).
 *
 * Loss on a minibatch of m samples (means over the minibatch):
 *   r_i   = exp(log pi(a_i|o_i) - old_logp_i)
 *   L_pol = -mean(min(r_i A_i, clip(r_i, 1-eps, 1+eps) A_i))
 *   L_val = mean(0.5 (V(o_i) - R_i)^2)
 *   H     = mean(-sum_k pi_k log pi_k)
 *   L     = L_pol + value_coef * L_val - entropy * H
 * Value normalisation (as MAPPO's ValueNorm): out[2] predicts the return in
 * units of the running statistics of all returns trained on so far,
 * V = out[2] * sd + mean. Returns here are ~1/(1-gamma) times the reward, so
 * without it the value loss would dominate the shared trunk's gradients and
 * starve the policy; with it both terms are O(1). ppo_act reports V in
 * return units; ppo_update folds the batch's returns into the statistics
 * before its first epoch and regresses out[2] on (R - mean) / sd. The
 * statistics are part of the learning state (save/restore).
 * differentiated by hand through the softmax and back through mlp_backward
 * (where the two terms of the min are equal the unclipped branch's gradient
 * is used), then one Adam step with global gradient-norm clipping.
 * All loss arithmetic is in double, in sample order (deterministic).
 *
 * Randomness: initial weights from (seed, MS_STREAM_INIT, agent); minibatch
 * shuffles from the agent's own generator (seed, MS_STREAM_SHUFFLE, agent);
 * action sampling uses uniforms the caller passes in (so the caller keeps one
 * policy stream per mailbox).
 *
 * Ownership: ppo_init allocates the network, the optimizer and every scratch
 * buffer (sized by ppo_shape); ppo_act and ppo_update allocate nothing. The
 * caller owns every array passed in. An agent is not safe for concurrent
 * use; distinct agents are independent.
 *
 * Evaluating a stored policy (mlp_init_from_blob): run mlp_forward into an
 * n x 3 buffer and pass it to ppo_heads — the same arithmetic as ppo_act.
 */
#ifndef MS_NN_PPO_H
#define MS_NN_PPO_H

#include <stddef.h>
#include <stdint.h>

#include "nn/adam.h"
#include "nn/mlp.h"
#include "base/err.h"
#include "base/rng.h"

enum { PPO_OUT = 3, PPO_MAX_EPOCHS = 1000, PPO_MAX_GROUP = 8 };

typedef struct ppo_shape {
    int obs_dim;          /* observation features, 1..MLP_MAX_WIDTH */
    const int *hidden;    /* n_hidden widths (copied by ppo_init) */
    int n_hidden;         /* 1..MLP_MAX_HIDDEN */
    mlp_act act;          /* hidden activation */
    int max_samples;      /* largest batch ppo_update accepts, >= 1 */
    int max_minibatch;    /* largest hparams.minibatch, >= 1 */
    int max_act_batch;    /* ppo_act processes obs in chunks of this, >= 1 */
} ppo_shape;

typedef struct ppo_hparams {
    float lr;             /* Adam step size, finite, >= 0 */
    float clip;           /* ratio clip eps, in (0, 1) */
    float entropy;        /* entropy bonus coefficient, finite, >= 0 */
    float value_coef;     /* value loss coefficient, finite, >= 0 */
    float grad_clip;      /* global grad-norm clip, >= 0 (0 = off) */
    int epochs;           /* passes over the batch, 1..PPO_MAX_EPOCHS */
    int minibatch;        /* samples per optimizer step, 1..max_minibatch */
} ppo_hparams;

/* n samples; every array has n entries (obs n x obs_dim, row-major). */
typedef struct ppo_batch {
    int n;
    const float *obs;
    const int *action;     /* 0 or 1 */
    const float *old_logp; /* log pi_old(action | obs) from ppo_act */
    const float *adv;      /* advantages (ppo_gae); normalised per minibatch */
    const float *ret;      /* value targets (ppo_gae) */
} ppo_batch;

/* Loss terms of one minibatch (means over its samples). */
typedef struct ppo_loss {
    double loss;          /* L as above */
    double policy_loss;   /* L_pol */
    double value_loss;    /* L_val (without value_coef) */
    double entropy;       /* H */
    double approx_kl;     /* mean((r-1) - log r), >= 0, estimates KL(old||new) */
    double clip_frac;     /* fraction of samples with |r - 1| > clip */
} ppo_loss;

typedef struct ppo_report {
    /* Means over the optimizer steps TAKEN (0 when none was): */
    double policy_loss, value_loss, entropy, approx_kl, clip_frac;
    double grad_norm;      /* pre-clip global gradient norm */
    int steps;             /* optimizer steps taken */
    int steps_changed;     /* taken steps that changed some parameter */
    int skipped_nonfinite; /* minibatches skipped: non-finite loss or gradient */
    int samples_used;      /* distinct samples in at least one taken step */
    int samples_changed;   /* samples whose consumed_changed flag is 1 */
} ppo_report;

/* Running statistics of every value target (return) the agent has been
 * trained on: count, mean and sum of squared deviations (Chan et al.'s
 * parallel update, in double, in batch order). */
typedef struct ppo_value_norm {
    double count, mean, m2;
} ppo_value_norm;

/* Data-parallel training (SPEC §11; exp/trainer.c plugs in exp/comm.h):
 * `ranks` processes each hold their own samples and one copy of the agent;
 * ppo_update then combines, over all processes, the value-target statistics
 * and every minibatch's gradient and loss terms, so that every process takes
 * the same optimizer steps and keeps identical parameters. Process r's
 * minibatches hold minibatch[r] of its samples; an epoch has as many
 * minibatches as the process needing most (one with none left contributes
 * nothing to that step). A minibatch's gradient is the sample-weighted mean
 * of the processes' gradients: each scales its own by m_r / M (M = the
 * step's samples over all processes) and sum() adds them in a fixed order.
 * Advantages are normalised per process's minibatch. The callbacks must be
 * called by every process with the same sizes (MPI collectives); they
 * return MS_OK or an error that ppo_update returns. sum() adds, element by
 * element over the processes, nseg float vectors f[j] of nf[j] elements
 * (in float) and nd doubles (in double), all in one message: an update of
 * a group (ppo_update_group) sums every agent's gradient of a step at once.
 * All arrays are the caller's; every agent has its own n. NULL (the
 * default): one process, and ppo_update computes exactly what it always
 * computed. */
typedef struct ppo_reduce {
    int ranks;
    const int *minibatch;  /* [ranks] */
    int *n;                /* [ranks] scratch: every process's batch size */
    int (*gather_n)(void *ctx, int mine, int *all, ms_err *e);
    int (*sum)(void *ctx, float *const *f, const size_t *nf, int nseg, double *d, size_t nd, ms_err *e);
    void *ctx;
} ppo_reduce;

/* An update in progress (ppo.c's own: callers never read it). */
typedef struct ppo_pass {
    const ppo_batch *b;
    int n, nmb, steps;     /* samples here; minibatches per epoch; steps */
    double vsd, vmean;     /* value statistics the targets are scaled by */
    ppo_value_norm vn_before;
    double s_pol, s_val, s_ent, s_kl, s_clip, s_norm;
    int k, m;              /* the step's minibatch and its samples here */
    const int *idx;        /* their indices (into perm) */
    ppo_loss l;            /* their loss terms (combined, with reduce) */
} ppo_pass;

typedef struct ppo_agent {
    const ppo_reduce *reduce; /* NULL: one process (see ppo_reduce) */
    ppo_pass pass;         /* ppo_update's state while it runs */
    mlp net;
    adam opt;
    ms_rng shuffle;        /* (seed, MS_STREAM_SHUFFLE, agent) */
    ppo_value_norm vn;     /* statistics of the value targets (see top) */
    int obs_dim, max_samples, max_minibatch, act_chunk;
    /* scratch, one allocation (mem) */
    int *perm;             /* max_samples */
    unsigned char *used;   /* max_samples */
    unsigned char *chg;    /* max_samples */
    float *mb_obs;         /* max_minibatch x obs_dim */
    int *mb_action;        /* max_minibatch */
    float *mb_old_logp, *mb_adv, *mb_ret; /* max_minibatch each */
    float *out;            /* max(max_minibatch, act_chunk) x PPO_OUT */
    float *dout;           /* max_minibatch x PPO_OUT */
    void *mem;
} ppo_agent;

/* Builds the agent: network obs_dim -> hidden... -> 3 (see top), Adam, the
 * shuffle generator and scratch. MS_OK; MS_EINPUT for a shape out of range
 * (message names it); MS_EIO when out of memory. On failure *a holds nothing
 * to release. */
int ppo_init(ppo_agent *a, const ppo_shape *s, uint64_t seed, uint32_t agent,
             ms_err *e);

/* Frees everything and zeroes *a; NULL or zeroed is fine. */
void ppo_release(ppo_agent *a);

/* Turns network outputs out (n x 3) into a policy decision per sample:
 * p1 = pi(1) (softmax in double); if u != NULL, action_i = (u_i < p1_i)
 * (u_i uniform in [0,1)); if u == NULL greedy: action 1 iff logit1 > logit0
 * (ties and NaN -> 0). logp_i = log pi(action_i). Any of action, logp,
 * prob1, value may be NULL (not written). Non-finite outputs give NaN
 * logp/prob1 (detectable) and action 0. */
void ppo_heads(const float *out, int n, const double *u, int *action,
               float *logp, float *prob1, float *value);

/* Batched forward of obs (n x obs_dim, n >= 1, any size: processed in chunks
 * of max_act_batch) followed by ppo_heads. Results do not depend on the
 * chunking beyond what sgemm does for different batch sizes. */
void ppo_act(ppo_agent *a, const float *obs, int n, const double *u,
             int *action, float *logp, float *prob1, float *value);

/* Generalised advantage estimation. Arrays are T x N, time-major: entry
 * (t, i) is at [t*N + i], i = environment/mailbox, t = step of the rollout.
 *   value[t,i]      V(s_t) as recorded when acting.
 *   next_value[t,i] the value of the state AFTER step t, built by the caller:
 *                   - value[t+1,i] when the episode continues inside the
 *                     rollout (cut = 0);
 *                   - V(s_{t+1}) of the next observation (the caller's
 *                     best available one) when step t was cut by a time
 *                     limit (truncation) or is the last step of the
 *                     rollout: truncation BOOTSTRAPS, never 0;
 *                   - 0 only when step t ended the episode by a true
 *                     termination.
 *   cut[t,i]        1 if the trace ends after step t (termination,
 *                   truncation, or the episode otherwise not continuing at
 *                   row t+1); 0 if row t+1 continues the same episode. Row
 *                   T-1 is always treated as cut.
 * Computes, for t = T-1 down to 0 (in double, stored as float):
 *   delta_t = r_t + gamma * next_value_t - value_t
 *   A_t     = delta_t + gamma * lambda * (1 - cut_t) * A_{t+1}
 *   ret_t   = A_t + value_t
 * adv and ret are caller-owned T x N outputs (must not alias the inputs). */
void ppo_gae(int T, int N, const float *reward, const float *value,
             const float *next_value, const unsigned char *cut, float gamma,
             float lambda, float *adv, float *ret);

/* Forward + loss + backward on ONE minibatch mb (1 <= mb->n <=
 * max_minibatch, actions 0/1 — caller's precondition), using mb->adv AS
 * GIVEN (no normalisation). Leaves dL/dparams in a->net.grads and fills *out.
 * Does not touch the parameters or the optimizer. A non-finite input shows up
 * as a non-finite out->loss. */
void ppo_loss_grad(ppo_agent *a, const ppo_batch *mb, const ppo_hparams *h,
                   ppo_loss *out);

/* MS_OK if h is usable with this agent, else MS_EINPUT naming the field. */
int ppo_check_hparams(const ppo_agent *a, const ppo_hparams *h, ms_err *e);

/* One PPO update on batch b (with a->reduce: this process's part of it;
 * h->minibatch must then be a->reduce->minibatch[this rank]). For each of h->epochs epochs the sample order is
 * reshuffled (Fisher-Yates, a->shuffle) and cut into consecutive minibatches
 * of h->minibatch samples; the last, partial minibatch of an epoch is
 * INCLUDED (every sample is visited once per epoch). Per minibatch:
 * advantages normalised to (A - mean)/(std + 1e-8) (population std),
 * ppo_loss_grad, then adam_step(lr, grad_clip). A minibatch whose loss or
 * gradient is not finite is skipped — parameters and Adam state untouched —
 * and counted in rep->skipped_nonfinite.
 * consumed_changed (n flags, may be NULL) is set: 1 iff some taken step
 * whose minibatch contained sample i changed at least one parameter.
 * Outcomes: MS_OK with *rep filled (b->n == 0 is a no-op); MS_EINPUT with
 * nothing changed (not even the shuffle generator) if the hparams are bad,
 * b->n > max_samples or < 0, or an action is not 0/1. */
int ppo_update(ppo_agent *a, const ppo_batch *b, const ppo_hparams *h,
               ppo_report *rep, unsigned char *consumed_changed, ms_err *e);

/* ppo_update of count distinct agents (1..PPO_MAX_GROUP) with the same
 * hparams, agent g on batch b[g] (rep[g]; consumed_changed NULL or
 * consumed_changed[g] NULL: not written), with their steps interleaved:
 * step s of every agent that has one, in group order, then step s + 1.
 * Each agent ends exactly as ppo_update would leave it (agents share
 * nothing); what the interleaving buys is, with ppo_reduce, ONE sum per
 * step for every agent's gradient and loss terms instead of one per agent
 * (the agents must then combine over the same processes, each with its own
 * n scratch). Outcomes as ppo_update's; MS_EINPUT (no agent changed) also
 * for a count out of range, an agent twice, or agents whose reduce differ
 * in processes. An error from a ppo_reduce callback (MS_EIO) can leave
 * agents part-way through the update: the caller abandons the run. */
int ppo_update_group(ppo_agent *const *a, const ppo_batch *const *b, int count, const ppo_hparams *h,
                     ppo_report *rep, unsigned char *const *consumed_changed, ms_err *e);

/* ---- learning-state snapshot for gate rollback ----
 * Parameters + Adam state (m, v, t), restored byte for byte (an in-memory
 * image, not a file format). The shuffle generator is NOT part of it: after
 * a rollback the agent keeps drawing fresh shuffles. Use mlp_to_blob for a
 * portable policy. */
size_t ppo_state_size(const ppo_agent *a);
void ppo_state_save(const ppo_agent *a, void *buf);
/* MS_OK; MS_EINPUT (nothing changed) if buf is not a snapshot of this agent's
 * shape. */
int ppo_state_restore(ppo_agent *a, const void *buf, size_t size, ms_err *e);

#endif
