/* adam.c — see adam.h for the contract. */
#include "nn/adam.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char snap_magic[8] = {'M', 'S', 'A', 'D', 'A', 'M', 0, '1'};
enum { SNAP_HEADER = 8 + 8 + 8 }; /* magic, n, t */

int adam_init(adam *o, size_t n, ms_err *e)
{
    memset(o, 0, sizeof *o);
    if (n == 0)
        return ms_fail(e, MS_EINPUT, "adam: no parameters to optimise");
    o->m = calloc(n, sizeof *o->m);
    o->v = calloc(n, sizeof *o->v);
    if (!o->m || !o->v) {
        adam_release(o);
        return ms_fail(e, MS_EIO, "adam: out of memory for %zu parameters", n);
    }
    o->n = n;
    o->beta1 = 0.9f;
    o->beta2 = 0.999f;
    o->eps = 1e-5f;
    return MS_OK;
}

void adam_release(adam *o)
{
    if (!o)
        return;
    free(o->m);
    free(o->v);
    memset(o, 0, sizeof *o);
}

void adam_step(adam *o, float *params, const float *grads, float lr,
               float grad_clip, adam_stat *st)
{
    size_t n = o->n;
    /* Squares of floats cannot overflow a double, so the sum is finite
     * exactly when every gradient is. */
    double ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (double)grads[i] * grads[i];
    double norm = sqrt(ss);
    st->grad_norm = norm;
    st->scale = 1.0;
    st->changed = 0;
    st->skipped = 0;
    if (!isfinite(norm)) {
        st->skipped = 1;
        return;
    }
    if (grad_clip > 0 && norm > grad_clip)
        st->scale = grad_clip / norm;
    o->t++;
    const float b1 = o->beta1, b2 = o->beta2, eps = o->eps;
    const float scale = (float)st->scale;
    const float step = (float)(lr / (1.0 - pow(b1, (double)o->t)));
    const float inv_bc2 = (float)(1.0 / (1.0 - pow(b2, (double)o->t)));
    float *m = o->m, *v = o->v;
    int changed = 0;
    for (size_t i = 0; i < n; i++) {
        float g = grads[i] * scale;
        m[i] = b1 * m[i] + (1.0f - b1) * g;
        v[i] = b2 * v[i] + (1.0f - b2) * (g * g);
        float p = params[i];
        float q = p - step * m[i] / (sqrtf(v[i] * inv_bc2) + eps);
        changed |= q != p;
        params[i] = q;
    }
    st->changed = changed;
}

size_t adam_state_size(const adam *o)
{
    return SNAP_HEADER + 3 * o->n * sizeof(float);
}

void adam_save(const adam *o, const float *params, void *buf)
{
    unsigned char *p = buf;
    uint64_t n = o->n;
    memcpy(p, snap_magic, 8);
    memcpy(p + 8, &n, 8);
    memcpy(p + 16, &o->t, 8);
    p += SNAP_HEADER;
    memcpy(p, params, o->n * sizeof(float));
    p += o->n * sizeof(float);
    memcpy(p, o->m, o->n * sizeof(float));
    p += o->n * sizeof(float);
    memcpy(p, o->v, o->n * sizeof(float));
}

int adam_restore(adam *o, float *params, const void *buf, size_t size,
                 ms_err *e)
{
    const unsigned char *p = buf;
    uint64_t n;
    if (size != adam_state_size(o))
        return ms_fail(e, MS_EINPUT, "adam: snapshot of %zu bytes, expected %zu",
                       size, adam_state_size(o));
    memcpy(&n, p + 8, 8);
    if (memcmp(p, snap_magic, 8) != 0 || n != o->n)
        return ms_fail(e, MS_EINPUT,
                       "adam: snapshot is not of this optimizer (%zu parameters)",
                       o->n);
    memcpy(&o->t, p + 16, 8);
    p += SNAP_HEADER;
    memcpy(params, p, o->n * sizeof(float));
    p += o->n * sizeof(float);
    memcpy(o->m, p, o->n * sizeof(float));
    p += o->n * sizeof(float);
    memcpy(o->v, p, o->n * sizeof(float));
    return MS_OK;
}
