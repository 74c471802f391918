/* adam.h — the Adam optimizer over one flat parameter buffer.
 *
 * Adam (Kingma & Ba) with bias correction, beta1 0.9, beta2 0.999, eps 1e-5,
 * plus global gradient-norm clipping. Per element, for step t (1-based):
 *   g  = grad * scale,   scale = min(1, grad_clip / ||grad||_2)
 *   m  = b1 m + (1-b1) g;   v = b2 v + (1-b2) g^2
 *   p -= (lr / (1 - b1^t)) * m / (sqrt(v / (1 - b2^t)) + eps)
 * The norm is accumulated in double in buffer order; the update runs in
 * float32 in buffer order, so results are bit-reproducible.
 *
 * Safety: a step whose gradient holds NaN or Inf anywhere (equivalently whose
 * norm is not finite) is SKIPPED — parameters, moments and t untouched — and
 * reported. A step reports whether it changed any parameter's value (each new
 * value is compared with the old one as it is written; a step with lr 0, or
 * one too small to move any float, changes nothing).
 *
 * Ownership: adam_init allocates the moment buffers (2 x n floats); the
 * caller owns the parameters and gradients. adam_step allocates nothing.
 */
#ifndef MS_NN_ADAM_H
#define MS_NN_ADAM_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef struct adam {
    size_t n;        /* parameters */
    float beta1, beta2, eps;
    uint64_t t;      /* steps taken (skipped steps do not count) */
    float *m, *v;    /* first and second moments, n each */
} adam;

typedef struct adam_stat {
    double grad_norm; /* ||grad||_2 before clipping; NaN/Inf when non-finite */
    double scale;     /* clip factor applied (1 when not clipped or skipped) */
    int skipped;      /* 1: non-finite gradient, nothing touched */
    int changed;      /* 1: at least one parameter now has a different value */
} adam_stat;

/* Moments zeroed, t = 0. MS_OK; MS_EINPUT if n is 0; MS_EIO if out of
 * memory (then *o holds nothing to release). */
int adam_init(adam *o, size_t n, ms_err *e);

/* Frees the moments and zeroes *o; NULL or zeroed is fine. */
void adam_release(adam *o);

/* One step on params (n) with grads (n), both caller-owned. Preconditions:
 * lr finite and >= 0; grad_clip >= 0 (0 = no clipping). Fills *st (not
 * NULL). Never fails; a non-finite gradient sets st->skipped. */
void adam_step(adam *o, float *params, const float *grads, float lr,
               float grad_clip, adam_stat *st);

/* ---- snapshot for gate rollback ----
 * A snapshot is the in-memory image (native byte order, not a file format)
 * of a small header, t, the parameters, m and v. Restoring it puts all of
 * them back byte for byte. */
size_t adam_state_size(const adam *o);

/* Writes the snapshot of o and params (n floats) into buf, which must hold
 * adam_state_size(o) bytes. */
void adam_save(const adam *o, const float *params, void *buf);

/* Restores o and params from a snapshot. MS_OK; MS_EINPUT (nothing changed)
 * if size or the header does not match this optimizer's n. */
int adam_restore(adam *o, float *params, const void *buf, size_t size,
                 ms_err *e);

#endif
