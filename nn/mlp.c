/* mlp.c — see mlp.h for the contract. */
#include "nn/mlp.h"

#include <cblas.h>
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/rng.h"

static const unsigned char blob_magic[8] = {'M', 'S', 'M', 'L', 'P', 0, 'v', '1'};

/* ---------------------------------------------------------------- kernels */

void mlp_linear_forward(float *y, const float *x, const float *W,
                        const float *b, int n, int in, int out)
{
    for (int i = 0; i < n; i++)
        memcpy(y + (size_t)i * out, b, (size_t)out * sizeof *y);
    /* y (n x out) += x (n x in) * W^T (W is out x in) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, x,
                in, W, in, 1.0f, y, out);
}

void mlp_linear_forward_naive(float *y, const float *x, const float *W,
                              const float *b, int n, int in, int out)
{
    for (int i = 0; i < n; i++)
        for (int o = 0; o < out; o++) {
            double s = b[o];
            for (int k = 0; k < in; k++)
                s += (double)x[(size_t)i * in + k] * W[(size_t)o * in + k];
            y[(size_t)i * out + o] = (float)s;
        }
}

void mlp_linear_backward(float *dx, float *dW, float *db, const float *dy,
                         const float *x, const float *W, int n, int in,
                         int out)
{
    /* dW (out x in) = dy^T (out x n) * x (n x in) */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, n, 1.0f, dy,
                out, x, in, 0.0f, dW, in);
    /* db = column sums of dy, rows in order (deterministic) */
    memcpy(db, dy, (size_t)out * sizeof *db);
    for (int i = 1; i < n; i++) {
        const float *r = dy + (size_t)i * out;
        for (int o = 0; o < out; o++)
            db[o] += r[o];
    }
    /* dx (n x in) = dy (n x out) * W (out x in) */
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, in, out,
                    1.0f, dy, out, W, in, 0.0f, dx, in);
}

void mlp_linear_backward_naive(float *dx, float *dW, float *db,
                               const float *dy, const float *x,
                               const float *W, int n, int in, int out)
{
    for (int o = 0; o < out; o++) {
        double sb = 0;
        for (int i = 0; i < n; i++)
            sb += dy[(size_t)i * out + o];
        db[o] = (float)sb;
        for (int k = 0; k < in; k++) {
            double s = 0;
            for (int i = 0; i < n; i++)
                s += (double)dy[(size_t)i * out + o] * x[(size_t)i * in + k];
            dW[(size_t)o * in + k] = (float)s;
        }
    }
    if (!dx)
        return;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < in; k++) {
            double s = 0;
            for (int o = 0; o < out; o++)
                s += (double)dy[(size_t)i * out + o] * W[(size_t)o * in + k];
            dx[(size_t)i * in + k] = (float)s;
        }
}

int mlp_cpu_simd(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") ? 1 : 0;
}

/* glibc libmvec's 8-lane tanhf (x86_64 vector ABI, ISA 'd' = AVX2). Declared
 * at file scope with the target attribute: clang (the fuzz build) refuses a
 * call passing __m256 to a declaration that lacks AVX, as the block-scope one
 * did; GCC's code is the same either way. */
__attribute__((target("avx2"))) __m256 _ZGVdN8v_tanhf(__m256);

/* The tail is padded to a full vector so every element takes the same code
 * path, whatever its position in the buffer. */
__attribute__((target("avx2"))) static void tanh_avx2(float *y, const float *x,
                                                      size_t len)
{
    size_t i = 0;
    for (; i + 8 <= len; i += 8)
        _mm256_storeu_ps(y + i, _ZGVdN8v_tanhf(_mm256_loadu_ps(x + i)));
    if (i < len) {
        float t[8] = {0};
        memcpy(t, x + i, (len - i) * sizeof *t);
        _mm256_storeu_ps(t, _ZGVdN8v_tanhf(_mm256_loadu_ps(t)));
        memcpy(y + i, t, (len - i) * sizeof *t);
    }
}

static void relu_fwd(float *y, const float *x, size_t len)
{
    for (size_t i = 0; i < len; i++)
        y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

void mlp_act_forward_naive(mlp_act act, float *y, const float *x, size_t len)
{
    if (act == MLP_TANH)
        for (size_t i = 0; i < len; i++)
            y[i] = tanhf(x[i]);
    else
        relu_fwd(y, x, len);
}

void mlp_act_forward(mlp_act act, int simd, float *y, const float *x,
                     size_t len)
{
    if (act == MLP_TANH && simd)
        tanh_avx2(y, x, len);
    else
        mlp_act_forward_naive(act, y, x, len);
}

void mlp_act_backward(mlp_act act, float *dx, const float *dy, const float *y,
                      size_t len)
{
    if (act == MLP_TANH)
        for (size_t i = 0; i < len; i++)
            dx[i] = dy[i] * (1.0f - y[i] * y[i]);
    else
        for (size_t i = 0; i < len; i++)
            dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

void mlp_act_backward_naive(mlp_act act, float *dx, const float *dy,
                            const float *y, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        float d;
        if (act == MLP_TANH)
            d = 1.0f - y[i] * y[i];
        else
            d = y[i] > 0.0f ? 1.0f : 0.0f;
        dx[i] = dy[i] * d;
    }
}

/* ------------------------------------------------------------ the network */

static int check_shape(int in, const int *hidden, int n_hidden, int out,
                       int act, int max_batch, ms_err *e)
{
    if (n_hidden < 1 || n_hidden > MLP_MAX_HIDDEN)
        return ms_fail(e, MS_EINPUT, "mlp: %d hidden layers (allowed 1..%d)",
                       n_hidden, MLP_MAX_HIDDEN);
    if (in < 1 || in > MLP_MAX_WIDTH)
        return ms_fail(e, MS_EINPUT, "mlp: input size %d (allowed 1..%d)", in,
                       MLP_MAX_WIDTH);
    if (out < 1 || out > MLP_MAX_WIDTH)
        return ms_fail(e, MS_EINPUT, "mlp: output size %d (allowed 1..%d)",
                       out, MLP_MAX_WIDTH);
    for (int l = 0; l < n_hidden; l++)
        if (hidden[l] < 1 || hidden[l] > MLP_MAX_WIDTH)
            return ms_fail(e, MS_EINPUT,
                           "mlp: hidden layer %d has width %d (allowed 1..%d)",
                           l + 1, hidden[l], MLP_MAX_WIDTH);
    if (act != MLP_TANH && act != MLP_RELU)
        return ms_fail(e, MS_EINPUT, "mlp: unknown activation %d", act);
    if (max_batch < 1 || max_batch > MLP_MAX_BATCH)
        return ms_fail(e, MS_EINPUT, "mlp: max_batch %d (allowed 1..%d)",
                       max_batch, MLP_MAX_BATCH);
    return MS_OK;
}

static size_t count_params(int in, const int *hidden, int n_hidden, int out)
{
    size_t n = 0, prev = (size_t)in;
    for (int l = 0; l <= n_hidden; l++) {
        size_t w = (size_t)(l < n_hidden ? hidden[l] : out);
        n += w * prev + w;
        prev = w;
    }
    return n;
}

/* Lays out and allocates a network; parameters and gradients are zero. */
static int mlp_alloc(mlp *m, int in, const int *hidden, int n_hidden, int out,
                     mlp_act act, int max_batch, ms_err *e)
{
    memset(m, 0, sizeof *m);
    int rc = check_shape(in, hidden, n_hidden, out, (int)act, max_batch, e);
    if (rc)
        return rc;
    m->n_layers = n_hidden + 1;
    m->sizes[0] = in;
    for (int l = 0; l < n_hidden; l++)
        m->sizes[l + 1] = hidden[l];
    m->sizes[m->n_layers] = out;
    m->act = act;
    m->simd = mlp_cpu_simd();
    m->max_batch = max_batch;
    size_t off = 0;
    int maxw = 1;
    for (int l = 0; l < m->n_layers; l++) {
        size_t fi = (size_t)m->sizes[l], fo = (size_t)m->sizes[l + 1];
        m->w_off[l] = off;
        off += fo * fi;
        m->b_off[l] = off;
        off += fo;
    }
    m->n_params = off;
    for (int l = 0; l < n_hidden; l++)
        if (hidden[l] > maxw)
            maxw = hidden[l];
    size_t mb = (size_t)max_batch, scratch = mb * (size_t)in + 2 * mb * (size_t)maxw;
    for (int l = 0; l < n_hidden; l++)
        scratch += mb * (size_t)hidden[l];
    m->params = calloc(m->n_params, sizeof(float));
    m->grads = calloc(m->n_params, sizeof(float));
    m->mem = calloc(scratch, sizeof(float));
    if (!m->params || !m->grads || !m->mem) {
        mlp_release(m);
        return ms_fail(e, MS_EIO, "mlp: out of memory (%zu parameters, %zu scratch floats)",
                       off, scratch);
    }
    float *p = m->mem;
    m->xin = p;
    p += mb * (size_t)in;
    for (int l = 0; l < n_hidden; l++) {
        m->h[l] = p;
        p += mb * (size_t)hidden[l];
    }
    m->d0 = p;
    p += mb * (size_t)maxw;
    m->d1 = p;
    return MS_OK;
}

int mlp_init(mlp *m, int in, const int *hidden, int n_hidden, int out,
             mlp_act act, int max_batch, const float *out_gain,
             uint64_t seed, uint32_t index, ms_err *e)
{
    if (out_gain && out >= 1 && out <= MLP_MAX_WIDTH)
        for (int r = 0; r < out; r++)
            if (!isfinite(out_gain[r])) {
                memset(m, 0, sizeof *m);
                return ms_fail(e, MS_EINPUT, "mlp: output gain %d is not finite", r);
            }
    int rc = mlp_alloc(m, in, hidden, n_hidden, out, act, max_batch, e);
    if (rc)
        return rc;
    ms_rng r;
    if (ms_rng_seed(&r, seed, MS_STREAM_INIT, index)) {
        mlp_release(m);
        return ms_fail(e, MS_EIO, "%s", MS_RNG_SEED_FAILED);
    }
    for (int l = 0; l < m->n_layers; l++) {
        int fi = m->sizes[l], fo = m->sizes[l + 1];
        double gain = act == MLP_RELU ? sqrt(2.0 / fi) : sqrt(2.0 / (fi + fo));
        float *W = m->params + m->w_off[l];
        for (int o = 0; o < fo; o++) {
            double g = gain;
            if (l == m->n_layers - 1 && out_gain)
                g *= out_gain[o];
            for (int k = 0; k < fi; k++)
                W[(size_t)o * fi + k] = (float)(ms_rng_normal(&r) * g);
        }
        /* biases stay 0 from calloc */
    }
    return MS_OK;
}

void mlp_release(mlp *m)
{
    if (!m)
        return;
    free(m->params);
    free(m->grads);
    free(m->mem);
    memset(m, 0, sizeof *m);
}

void mlp_forward(mlp *m, const float *x, int n, float *y)
{
    memcpy(m->xin, x, (size_t)n * m->sizes[0] * sizeof *x);
    const float *cur = m->xin;
    for (int l = 0; l < m->n_layers; l++) {
        int last = l == m->n_layers - 1;
        float *o = last ? y : m->h[l];
        mlp_linear_forward(o, cur, m->params + m->w_off[l],
                           m->params + m->b_off[l], n, m->sizes[l],
                           m->sizes[l + 1]);
        if (!last)
            mlp_act_forward(m->act, m->simd, o, o,
                            (size_t)n * m->sizes[l + 1]);
        cur = o;
    }
}

void mlp_backward(mlp *m, const float *dy, int n)
{
    const float *g = dy;
    float *bufs[2] = {m->d0, m->d1};
    int which = 0;
    for (int l = m->n_layers - 1; l >= 0; l--) {
        const float *x = l == 0 ? m->xin : m->h[l - 1];
        float *dx = l == 0 ? NULL : bufs[which];
        mlp_linear_backward(dx, m->grads + m->w_off[l], m->grads + m->b_off[l],
                            g, x, m->params + m->w_off[l], n, m->sizes[l],
                            m->sizes[l + 1]);
        if (dx) {
            mlp_act_backward(m->act, dx, dx, m->h[l - 1],
                             (size_t)n * m->sizes[l]);
            g = dx;
            which ^= 1;
        }
    }
}

void mlp_zero_grad(mlp *m)
{
    memset(m->grads, 0, m->n_params * sizeof *m->grads);
}

/* ---------------------------------------------------------- hashing, blob */

static int host_is_le(void)
{
    const uint32_t one = 1;
    unsigned char c;
    memcpy(&c, &one, 1);
    return c == 1;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Writes n floats as little-endian bytes. */
static void floats_to_le(unsigned char *dst, const float *src, size_t n)
{
    if (host_is_le()) {
        memcpy(dst, src, n * sizeof *src);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, src + i, 4);
        put_u32(dst + 4 * i, u);
    }
}

static void floats_from_le(float *dst, const unsigned char *src, size_t n)
{
    if (host_is_le()) {
        memcpy(dst, src, n * sizeof *dst);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t u = get_u32(src + 4 * i);
        memcpy(dst + i, &u, 4);
    }
}

int mlp_params_sha256(const mlp *m, unsigned char out[32], ms_err *e)
{
    if (host_is_le()) {
        if (!EVP_Digest(m->params, m->n_params * sizeof(float), out, NULL,
                        EVP_sha256(), NULL))
            return ms_fail(e, MS_EIO, "mlp: SHA-256 failed in libcrypto");
        return MS_OK;
    }
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    unsigned char chunk[1024];
    for (size_t i = 0; ok && i < m->n_params; i += 256) {
        size_t k = m->n_params - i < 256 ? m->n_params - i : 256;
        floats_to_le(chunk, m->params + i, k);
        ok = EVP_DigestUpdate(c, chunk, 4 * k);
    }
    ok = ok && EVP_DigestFinal_ex(c, out, NULL);
    EVP_MD_CTX_free(c);
    return ok ? MS_OK : ms_fail(e, MS_EIO, "mlp: SHA-256 failed in libcrypto");
}

size_t mlp_blob_size(const mlp *m)
{
    return MLP_BLOB_HEADER + 4 * m->n_params + 32;
}

int mlp_to_blob(const mlp *m, void *buf, size_t cap, ms_err *e)
{
    size_t need = mlp_blob_size(m);
    if (cap < need)
        return ms_fail(e, MS_EINPUT, "mlp: blob buffer of %zu bytes, need %zu",
                       cap, need);
    unsigned char *p = buf;
    memset(p, 0, MLP_BLOB_HEADER);
    memcpy(p, blob_magic, 8);
    put_u32(p + 8, (uint32_t)m->act);
    put_u32(p + 12, (uint32_t)(m->n_layers - 1));
    put_u32(p + 16, (uint32_t)m->sizes[0]);
    for (int l = 0; l < m->n_layers - 1; l++)
        put_u32(p + 20 + 4 * l, (uint32_t)m->sizes[l + 1]);
    put_u32(p + 36, (uint32_t)m->sizes[m->n_layers]);
    put_u64(p + 40, (uint64_t)m->n_params);
    floats_to_le(p + MLP_BLOB_HEADER, m->params, m->n_params);
    size_t body = MLP_BLOB_HEADER + 4 * m->n_params;
    if (!EVP_Digest(p, body, p + body, NULL, EVP_sha256(), NULL))
        return ms_fail(e, MS_EIO, "mlp: SHA-256 failed in libcrypto");
    return MS_OK;
}

int mlp_init_from_blob(mlp *m, const void *blob, size_t size, int max_batch,
                       ms_err *e)
{
    memset(m, 0, sizeof *m);
    const unsigned char *p = blob;
    if (!blob || size < MLP_BLOB_HEADER + 32)
        return ms_fail(e, MS_EINPUT,
                       "policy blob: %zu bytes, shorter than the %d-byte minimum",
                       blob ? size : 0, MLP_BLOB_HEADER + 32);
    if (memcmp(p, blob_magic, 8) != 0)
        return ms_fail(e, MS_EINPUT, "policy blob: bad magic (not a marlsim MLP v1)");
    uint32_t act = get_u32(p + 8), nh = get_u32(p + 12);
    uint32_t in = get_u32(p + 16), out = get_u32(p + 36);
    if (act != MLP_TANH && act != MLP_RELU)
        return ms_fail(e, MS_EINPUT, "policy blob: unknown activation %u", act);
    if (nh < 1 || nh > MLP_MAX_HIDDEN)
        return ms_fail(e, MS_EINPUT, "policy blob: %u hidden layers (allowed 1..%d)",
                       nh, MLP_MAX_HIDDEN);
    if (in < 1 || in > MLP_MAX_WIDTH || out < 1 || out > MLP_MAX_WIDTH)
        return ms_fail(e, MS_EINPUT,
                       "policy blob: input/output sizes %u/%u (allowed 1..%d)",
                       in, out, MLP_MAX_WIDTH);
    int hidden[MLP_MAX_HIDDEN];
    for (uint32_t l = 0; l < MLP_MAX_HIDDEN; l++) {
        uint32_t w = get_u32(p + 20 + 4 * l);
        if (l < nh && (w < 1 || w > MLP_MAX_WIDTH))
            return ms_fail(e, MS_EINPUT,
                           "policy blob: hidden layer %u has width %u (allowed 1..%d)",
                           l + 1, w, MLP_MAX_WIDTH);
        if (l >= nh && w != 0)
            return ms_fail(e, MS_EINPUT,
                           "policy blob: unused hidden slot %u is %u, not 0", l + 1, w);
        hidden[l] = (int)w;
    }
    size_t n = count_params((int)in, hidden, (int)nh, (int)out);
    uint64_t claimed = get_u64(p + 40);
    if (claimed != (uint64_t)n)
        return ms_fail(e, MS_EINPUT,
                       "policy blob: header says %llu parameters, shapes give %zu",
                       (unsigned long long)claimed, n);
    size_t need = MLP_BLOB_HEADER + 4 * n + 32;
    if (size != need)
        return ms_fail(e, MS_EINPUT, "policy blob: %zu bytes, shapes need exactly %zu",
                       size, need);
    unsigned char md[32];
    if (!EVP_Digest(p, need - 32, md, NULL, EVP_sha256(), NULL))
        return ms_fail(e, MS_EIO, "policy blob: SHA-256 failed in libcrypto");
    if (memcmp(md, p + need - 32, 32) != 0)
        return ms_fail(e, MS_EINPUT, "policy blob: checksum mismatch (corrupted)");
    int rc = mlp_alloc(m, (int)in, hidden, (int)nh, (int)out, (mlp_act)act,
                       max_batch, e);
    if (rc)
        return rc;
    floats_from_le(m->params, p + MLP_BLOB_HEADER, n);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(m->params[i])) {
            mlp_release(m);
            return ms_fail(e, MS_EINPUT, "policy blob: parameter %zu is not finite", i);
        }
    return MS_OK;
}
