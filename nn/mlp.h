/* mlp.h — a multilayer perceptron with batched forward and backward passes.
 *
 * Layout (after karpathy/llm.c): each network owns ONE parameter buffer and
 * ONE gradient buffer of n_params floats each. Linear layer l (l = 0 ..
 * n_layers-1) maps sizes[l] -> sizes[l+1] and occupies, in order,
 *   W_l  sizes[l+1] x sizes[l] floats, row-major (row = output unit)
 *   b_l  sizes[l+1] floats
 * with layer 0 first. sizes[0] = in, sizes[n_layers] = out. Hidden layers
 * apply the activation (tanh or relu) after the affine map; the output layer
 * is linear. The gradient buffer has exactly the same layout.
 *
 * Batches are row-major: x is n x in (sample i is x[i*in .. i*in+in-1]), y is
 * n x out. Products go through cblas_sgemm (OpenBLAS); a naive reference
 * kernel sits beside every fast kernel so tests can compare them.
 *
 * Numerics: float32 throughout, no fast-math. Results are bit-reproducible for
 * the same binary, OpenBLAS core and thread count. tanh uses glibc's libmvec
 * AVX2 kernel (_ZGVdN8v_tanhf) when the CPU has AVX2 — decided once in
 * mlp_init — and scalar tanhf otherwise; the two may differ in the last ulp,
 * which is why the CPU's AVX2 support belongs to "the same machine" in the
 * determinism contract.
 *
 * Ownership: mlp_init/mlp_init_from_blob allocate everything the network
 * needs for batches of up to max_batch samples (parameters, gradients,
 * activation scratch); forward/backward allocate nothing. mlp_release frees
 * it. Callers own x, y and dy. A struct mlp is not safe for concurrent use
 * (forward stores activations in it); distinct networks are independent.
 */
#ifndef MS_NN_MLP_H
#define MS_NN_MLP_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

enum {
    MLP_MAX_HIDDEN = 4,     /* hidden layers: 1 .. MLP_MAX_HIDDEN */
    MLP_MAX_WIDTH = 4096,   /* in, out and every hidden width: 1 .. this */
    MLP_MAX_BATCH = 1 << 20 /* max_batch: 1 .. this */
};

typedef enum mlp_act { MLP_TANH = 1, MLP_RELU = 2 } mlp_act;

typedef struct mlp {
    int n_layers;                     /* linear layers = hidden layers + 1 */
    int sizes[MLP_MAX_HIDDEN + 2];    /* sizes[0] = in ... sizes[n_layers] = out */
    mlp_act act;
    int simd;                         /* 1: AVX2 libmvec tanh (set at init) */
    int max_batch;
    size_t n_params;
    size_t w_off[MLP_MAX_HIDDEN + 1]; /* offset of W_l in params/grads */
    size_t b_off[MLP_MAX_HIDDEN + 1]; /* offset of b_l */
    float *params;                    /* n_params */
    float *grads;                     /* n_params, same layout */
    /* Scratch, allocated at init. xin: the last forward's input (max_batch x
     * in). h[l]: output of hidden layer l after activation (max_batch x
     * sizes[l+1]). d0/d1: backward ping-pong (max_batch x widest hidden). */
    float *xin;
    float *h[MLP_MAX_HIDDEN];
    float *d0, *d1;
    float *mem;                       /* the single scratch allocation */
} mlp;

/* Builds a network in -> hidden[0] -> ... -> hidden[n_hidden-1] -> out.
 * Weights come from ms_rng stream (seed, MS_STREAM_INIT, index): W_l entries
 * are N(0,1) * gain, gain = sqrt(2/(fan_in+fan_out)) for tanh nets (Glorot)
 * and sqrt(2/fan_in) for relu nets (He); the output layer's row r is further
 * multiplied by out_gain[r] (out_gain may be NULL = all 1; e.g. policy logits
 * 0.01, value 1). Biases start at 0. Draw order: layer 0 first, W row-major.
 * Outcomes: MS_OK, *m ready; MS_EINPUT if a size, n_hidden, act or max_batch
 * is out of range or an out_gain is not finite (message names it); MS_EIO if
 * memory runs out. On failure *m holds nothing to release (mlp_release on it
 * is harmless). */
int mlp_init(mlp *m, int in, const int *hidden, int n_hidden, int out,
             mlp_act act, int max_batch, const float *out_gain,
             uint64_t seed, uint32_t index, ms_err *e);

/* Frees everything mlp_init allocated and zeroes *m; NULL or a zeroed or
 * already released mlp is fine. */
void mlp_release(mlp *m);

static inline int mlp_in(const mlp *m) { return m->sizes[0]; }
static inline int mlp_out(const mlp *m) { return m->sizes[m->n_layers]; }

/* y (n x out) = network(x (n x in)), 1 <= n <= max_batch (caller's
 * precondition). Keeps a copy of x and the hidden activations for
 * mlp_backward. x and y must not overlap. Non-finite inputs propagate to
 * outputs (relu passes NaN through). */
void mlp_forward(mlp *m, const float *x, int n, float *y);

/* Given dy = dL/dy (n x out) for the batch of the LAST mlp_forward (same n),
 * OVERWRITES m->grads with dL/dparams (dL summed over the batch — scale dy
 * for a mean). Nothing needs zeroing first. Uses m->d0/d1 as scratch. */
void mlp_backward(mlp *m, const float *dy, int n);

/* Sets every gradient to 0 (for callers that build gradients by hand). */
void mlp_zero_grad(mlp *m);

/* SHA-256 over the n_params parameter floats as little-endian IEEE-754 bytes,
 * in buffer order. MS_OK, or MS_EIO if libcrypto fails. */
int mlp_params_sha256(const mlp *m, unsigned char out[32], ms_err *e);

/* ---- serialisation (a promoted policy stored as a SQLite BLOB) ----
 * Blob layout, all integers little-endian:
 *   0   8  magic "MSMLP\0v1"
 *   8   4  u32 activation (1 tanh, 2 relu)
 *   12  4  u32 n_hidden (1..4)
 *   16  4  u32 in
 *   20 16  u32 hidden[4] (entries past n_hidden are 0)
 *   36  4  u32 out
 *   40  8  u64 n_params (must match the shapes)
 *   48  4*n_params  parameters, float32 little-endian, buffer order
 *   ... 32 SHA-256 of every preceding byte of the blob
 */
enum { MLP_BLOB_HEADER = 48 };

/* Exact size in bytes of m's blob. */
size_t mlp_blob_size(const mlp *m);

/* Writes the blob into buf (cap bytes). MS_OK; MS_EINPUT if cap is smaller
 * than mlp_blob_size(m); MS_EIO if libcrypto fails. */
int mlp_to_blob(const mlp *m, void *buf, size_t cap, ms_err *e);

/* Builds *m from a blob that may come from a hostile file: every header
 * field, the exact size, the checksum and finiteness of every parameter are
 * checked before use. Gradients start at 0; max_batch as in mlp_init.
 * Outcomes: MS_OK; MS_EINPUT with a message naming the first problem
 * (truncated, bad magic, bad activation/shape, size mismatch, checksum
 * mismatch, non-finite parameter, bad max_batch); MS_EIO on memory or
 * libcrypto failure. On failure *m holds nothing to release. */
int mlp_init_from_blob(mlp *m, const void *blob, size_t size, int max_batch,
                       ms_err *e);

/* ---- layer kernels (used by mlp_forward/backward; public for tests) ----
 * Linear: y (n x out) = x (n x in) W^T + b, W out x in row-major. */
void mlp_linear_forward(float *y, const float *x, const float *W,
                        const float *b, int n, int in, int out);
void mlp_linear_forward_naive(float *y, const float *x, const float *W,
                              const float *b, int n, int in, int out);

/* Given dy (n x out) and the forward's x: OVERWRITES dW (out x in) = dy^T x,
 * db (out) = column sums of dy, and dx (n x in) = dy W unless dx is NULL. */
void mlp_linear_backward(float *dx, float *dW, float *db, const float *dy,
                         const float *x, const float *W, int n, int in,
                         int out);
void mlp_linear_backward_naive(float *dx, float *dW, float *db,
                               const float *dy, const float *x,
                               const float *W, int n, int in, int out);

/* Activation of len elements, y = act(x); y == x (in place) is allowed.
 * simd: nonzero to use the AVX2 libmvec tanh — pass it only when
 * mlp_cpu_simd() said 1 (mlp_init stores that answer in m->simd), else 0
 * for scalar tanhf. relu(x) = x < 0 ? 0 : x, so NaN stays NaN. */
void mlp_act_forward(mlp_act act, int simd, float *y, const float *x,
                     size_t len);
void mlp_act_forward_naive(mlp_act act, float *y, const float *x, size_t len);

/* dx = dy * act'(.) expressed through the forward OUTPUT y: tanh 1 - y^2,
 * relu (y > 0). dx == dy (in place) is allowed. */
void mlp_act_backward(mlp_act act, float *dx, const float *dy, const float *y,
                      size_t len);
void mlp_act_backward_naive(mlp_act act, float *dx, const float *dy,
                            const float *y, size_t len);

/* 1 if this CPU can run the AVX2 tanh kernel, else 0. */
int mlp_cpu_simd(void);

#endif
