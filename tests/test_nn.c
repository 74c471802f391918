/* test_nn.c — nn/mlp and nn/adam: kernels, gradients, learning, blobs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "nn/adam.h"
#include "nn/blascore.h"
#include "nn/mlp.h"
#include "base/rng.h"
#include "tests/check.h"

static void fill_normal(ms_rng *r, float *x, size_t n, double scale)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(ms_rng_normal(r) * scale);
}

static double max_abs(const float *x, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs(x[i]) > m)
            m = fabs(x[i]);
    return m;
}

/* Largest |a-b| relative to max(1, max|a|). */
static double max_rel_diff(const float *a, const float *b, size_t n)
{
    double d = 0, s = 1.0;
    for (size_t i = 0; i < n; i++) {
        if (fabs(a[i] - b[i]) > d || a[i] != a[i] || b[i] != b[i])
            d = a[i] != a[i] || b[i] != b[i] ? INFINITY : fabs(a[i] - b[i]);
        if (fabs(a[i]) > s)
            s = fabs(a[i]);
    }
    return d / s;
}

static void test_nn_linear_naive_vs_blas(void)
{
    static const int shapes[][3] = {{1, 7, 13}, {257, 7, 13}, {257, 13, 7},
                                    {1, 1, 1},  {33, 64, 3},  {257, 9, 64}};
    ms_rng r;
    ms_rng_seed(&r, 11, MS_STREAM_INIT, 0);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int n = shapes[s][0], in = shapes[s][1], out = shapes[s][2];
        size_t nx = (size_t)n * in, ny = (size_t)n * out, nw = (size_t)out * in;
        float *x = malloc(nx * 4), *W = malloc(nw * 4), *b = malloc(out * 4);
        float *y1 = malloc(ny * 4), *y2 = malloc(ny * 4), *dy = malloc(ny * 4);
        float *dx1 = malloc(nx * 4), *dx2 = malloc(nx * 4);
        float *dW1 = malloc(nw * 4), *dW2 = malloc(nw * 4);
        float *db1 = malloc(out * 4), *db2 = malloc(out * 4);
        fill_normal(&r, x, nx, 1);
        fill_normal(&r, W, nw, 0.5);
        fill_normal(&r, b, out, 1);
        fill_normal(&r, dy, ny, 1);
        mlp_linear_forward(y1, x, W, b, n, in, out);
        mlp_linear_forward_naive(y2, x, W, b, n, in, out);
        CHECK(max_rel_diff(y2, y1, ny) < 1e-5, "forward %dx%dx%d differs by %g", n,
              in, out, max_rel_diff(y2, y1, ny));
        mlp_linear_backward(dx1, dW1, db1, dy, x, W, n, in, out);
        mlp_linear_backward_naive(dx2, dW2, db2, dy, x, W, n, in, out);
        CHECK(max_rel_diff(dx2, dx1, nx) < 1e-5, "dx %dx%dx%d: %g", n, in, out,
              max_rel_diff(dx2, dx1, nx));
        CHECK(max_rel_diff(dW2, dW1, nw) < 1e-5, "dW %dx%dx%d: %g", n, in, out,
              max_rel_diff(dW2, dW1, nw));
        CHECK(max_rel_diff(db2, db1, out) < 1e-5, "db %dx%dx%d: %g", n, in, out,
              max_rel_diff(db2, db1, out));
        CHECK(max_abs(y1, ny) > 0.1 && max_abs(dW1, nw) > 0.1, "degenerate data");
        /* dx == NULL skips the input gradient but still fills dW, db */
        memset(dW1, 0, nw * 4);
        mlp_linear_backward(NULL, dW1, db1, dy, x, W, n, in, out);
        CHECK(max_rel_diff(dW2, dW1, nw) < 1e-5, "dW without dx");
        free(x), free(W), free(b), free(y1), free(y2), free(dy), free(dx1),
            free(dx2), free(dW1), free(dW2), free(db1), free(db2);
    }
}

static void test_nn_act_simd_vs_scalar(void)
{
    enum { N = 8 * 37 + 5 };
    static float x[N], y1[N], y2[N], dy[N], d1[N], d2[N];
    ms_rng r;
    ms_rng_seed(&r, 12, MS_STREAM_INIT, 0);
    fill_normal(&r, x, N, 3);
    x[0] = 0, x[1] = 20, x[2] = -20, x[3] = 1e-6f, x[N - 1] = -0.5f;
    fill_normal(&r, dy, N, 1);
    int simd = mlp_cpu_simd();
    mlp_act_forward(MLP_TANH, simd, y1, x, N);
    mlp_act_forward_naive(MLP_TANH, y2, x, N);
    double worst = 0;
    for (int i = 0; i < N; i++)
        if (fabs(y1[i] - y2[i]) > worst)
            worst = fabs(y1[i] - y2[i]);
    CHECK(worst <= 4e-7, "vector tanh differs from tanhf by %g", worst);
    CHECK(y1[1] == 1.0f && y1[2] == -1.0f && y1[0] == 0.0f, "tanh edge values");
    CHECK(fabsf(y1[N - 1] - tanhf(-0.5f)) < 1e-7f, "tail element (padding path)");
    /* in place gives the same bits */
    memcpy(y2, x, sizeof x);
    mlp_act_forward(MLP_TANH, simd, y2, y2, N);
    CHECK(memcmp(y1, y2, sizeof y1) == 0, "in-place tanh differs");
    /* position independence: element i alone == element i in the batch */
    for (int i = N - 13; i < N; i++) {
        float one;
        mlp_act_forward(MLP_TANH, simd, &one, x + i, 1);
        CHECK(memcmp(&one, y1 + i, 4) == 0, "tanh of element %d depends on position", i);
    }
    mlp_act_backward(MLP_TANH, d1, dy, y1, N);
    mlp_act_backward_naive(MLP_TANH, d2, dy, y1, N);
    CHECK(memcmp(d1, d2, sizeof d1) == 0, "tanh backward kernels differ");
    mlp_act_forward(MLP_RELU, simd, y1, x, N);
    mlp_act_forward_naive(MLP_RELU, y2, x, N);
    CHECK(memcmp(y1, y2, sizeof y1) == 0, "relu kernels differ");
    CHECK(y1[2] == 0.0f && y1[1] == 20.0f, "relu values");
    mlp_act_backward(MLP_RELU, d1, dy, y1, N);
    mlp_act_backward_naive(MLP_RELU, d2, dy, y1, N);
    int eq = 1; /* by value: the naive kernel may give -0 where the fast gives 0 */
    for (int i = 0; i < N; i++)
        eq &= d1[i] == d2[i];
    CHECK(eq, "relu backward kernels differ");
    float nan = NAN, o;
    mlp_act_forward(MLP_RELU, simd, &o, &nan, 1);
    CHECK(isnan(o), "relu must pass NaN through");
    mlp_act_forward(MLP_TANH, simd, &o, &nan, 1);
    CHECK(isnan(o), "tanh must pass NaN through");
}

/* ---- finite differences ---- */

typedef double (*loss_fn)(void *ctx);

/* Central differences on p[0..n-1] vs analytic an[]; counts elements with
 * |fd - an| > atol + rtol*max(|fd|, |an|), reporting the first few when
 * verbose. */
static int fd_check_v(float *p, const float *an, size_t n, loss_fn f, void *ctx,
                      float eps, double atol, double rtol, const char *what,
                      int verbose)
{
    int bad = 0;
    for (size_t j = 0; j < n; j++) {
        float keep = p[j];
        p[j] = keep + eps;
        double lp = f(ctx);
        p[j] = keep - eps;
        double lm = f(ctx);
        p[j] = keep;
        double fd = (lp - lm) / (2.0 * (double)eps);
        double tol = atol + rtol * fmax(fabs(fd), fabs(an[j]));
        if (!(fabs(fd - an[j]) <= tol)) {
            if (verbose && bad < 5)
                fprintf(stderr, "  %s[%zu]: analytic %g, numeric %g\n", what, j,
                        an[j], fd);
            bad++;
        }
    }
    return bad;
}

static int fd_check(float *p, const float *an, size_t n, loss_fn f, void *ctx,
                    float eps, double atol, double rtol, const char *what)
{
    return fd_check_v(p, an, n, f, ctx, eps, atol, rtol, what, 1);
}

typedef struct lin_ctx {
    float *x, *W, *b, *y;
    const float *c;
    int n, in, out;
} lin_ctx;

static double lin_loss(void *v)
{
    lin_ctx *c = v;
    mlp_linear_forward(c->y, c->x, c->W, c->b, c->n, c->in, c->out);
    double s = 0;
    for (int i = 0; i < c->n * c->out; i++)
        s += (double)c->c[i] * c->y[i];
    return s;
}

static void test_nn_linear_gradcheck(void)
{
    enum { n = 5, in = 7, out = 13 };
    float x[n * in], W[out * in], b[out], y[n * out], c[n * out];
    float dx[n * in], dW[out * in], db[out];
    ms_rng r;
    ms_rng_seed(&r, 13, MS_STREAM_INIT, 0);
    fill_normal(&r, x, n * in, 1);
    fill_normal(&r, W, out * in, 0.5);
    fill_normal(&r, b, out, 1);
    fill_normal(&r, c, n * out, 1);
    lin_ctx ctx = {x, W, b, y, c, n, in, out};
    mlp_linear_backward(dx, dW, db, c, x, W, n, in, out);
    CHECK(fd_check(W, dW, out * in, lin_loss, &ctx, 1e-2f, 1e-3, 1e-3, "dW") == 0, "dW");
    CHECK(fd_check(b, db, out, lin_loss, &ctx, 1e-2f, 1e-3, 1e-3, "db") == 0, "db");
    CHECK(fd_check(x, dx, n * in, lin_loss, &ctx, 1e-2f, 1e-3, 1e-3, "dx") == 0, "dx");
    /* the check can fail: a wrong gradient is caught */
    dW[3] += 0.05f;
    CHECK(fd_check_v(W, dW, out * in, lin_loss, &ctx, 1e-2f, 1e-3, 1e-3, "dW*", 0) == 1,
          "a perturbed gradient must be detected");
}

typedef struct act_ctx {
    mlp_act act;
    float *x, *y;
    const float *c;
    int n;
} act_ctx;

static double act_loss(void *v)
{
    act_ctx *c = v;
    mlp_act_forward(c->act, mlp_cpu_simd(), c->y, c->x, (size_t)c->n);
    double s = 0;
    for (int i = 0; i < c->n; i++)
        s += (double)c->c[i] * c->y[i];
    return s;
}

static void test_nn_act_gradcheck(void)
{
    enum { n = 64 };
    float x[n], y[n], c[n], dx[n];
    ms_rng r;
    ms_rng_seed(&r, 14, MS_STREAM_INIT, 0);
    for (int a = MLP_TANH; a <= MLP_RELU; a++) {
        fill_normal(&r, x, n, 1.5);
        fill_normal(&r, c, n, 1);
        for (int i = 0; i < n; i++) /* keep relu away from its kink */
            if (fabsf(x[i]) < 0.05f)
                x[i] = x[i] < 0 ? -0.1f : 0.1f;
        act_ctx ctx = {(mlp_act)a, x, y, c, n};
        act_loss(&ctx);
        mlp_act_backward((mlp_act)a, dx, c, y, n);
        CHECK(fd_check(x, dx, n, act_loss, &ctx, 1e-3f, 2e-4, 2e-3,
                       a == MLP_TANH ? "tanh" : "relu") == 0,
              "activation %d gradient", a);
        CHECK(max_abs(dx, n) > 0.1, "degenerate");
    }
}

/* Sum of c * network(x) evaluated in double from parameters P (the mlp's
 * layout): the finite-difference reference for mlp_backward. */
static double ref_loss(const mlp *m, const double *P, const float *x,
                       const float *c, int n)
{
    double a[64], b[64];
    double s = 0;
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < m->sizes[0]; k++)
            a[k] = x[i * m->sizes[0] + k];
        for (int l = 0; l < m->n_layers; l++) {
            int fi = m->sizes[l], fo = m->sizes[l + 1];
            for (int o = 0; o < fo; o++) {
                double z = P[m->b_off[l] + o];
                for (int k = 0; k < fi; k++)
                    z += P[m->w_off[l] + (size_t)o * fi + k] * a[k];
                if (l < m->n_layers - 1)
                    z = m->act == MLP_TANH ? tanh(z) : (z < 0 ? 0 : z);
                b[o] = z;
            }
            memcpy(a, b, sizeof(double) * fo);
        }
        for (int o = 0; o < m->sizes[m->n_layers]; o++)
            s += c[i * m->sizes[m->n_layers] + o] * a[o];
    }
    return s;
}

static void test_nn_mlp_gradcheck(void)
{
    static const int hidden[] = {7, 6};
    enum { n = 4, in = 5, out = 3 };
    float x[n * in], c[n * out], y[n * out];
    ms_rng r;
    ms_rng_seed(&r, 15, MS_STREAM_INIT, 0);
    fill_normal(&r, x, n * in, 1);
    fill_normal(&r, c, n * out, 1);
    for (int a = MLP_TANH; a <= MLP_RELU; a++) {
        mlp m;
        ms_err e;
        CHECK(mlp_init(&m, in, hidden, 2, out, (mlp_act)a, n, NULL, 7, 0, &e) == MS_OK,
              "%s", e.msg);
        /* nonzero biases so every parameter matters */
        for (int l = 0; l < m.n_layers; l++)
            fill_normal(&r, m.params + m.b_off[l], m.sizes[l + 1], 0.3);
        mlp_forward(&m, x, n, y);
        mlp_backward(&m, c, n);
        size_t np = m.n_params;
        double *P = malloc(np * sizeof *P);
        for (size_t j = 0; j < np; j++)
            P[j] = m.params[j];
        /* forward agrees with the double reference */
        double sy = 0;
        for (int i = 0; i < n * out; i++)
            sy += (double)c[i] * y[i];
        CHECK(fabs(sy - ref_loss(&m, P, x, c, n)) < 1e-5 * (1 + fabs(sy)), "forward");
        /* double-precision central differences: step 1e-6 is far below any
         * relu kink distance and far above double rounding */
        int bad = 0, nz = 0;
        double gmax = max_abs(m.grads, np);
        for (size_t j = 0; j < np; j++) {
            double keep = P[j], h = 1e-6;
            P[j] = keep + h;
            double lp = ref_loss(&m, P, x, c, n);
            P[j] = keep - h;
            double lm = ref_loss(&m, P, x, c, n);
            P[j] = keep;
            double fd = (lp - lm) / (2 * h), an = m.grads[j];
            if (!(fabs(fd - an) <= 1e-5 * gmax + 1e-4 * fabs(fd))) {
                if (bad < 5)
                    fprintf(stderr, "  act %d param %zu: analytic %g numeric %g\n", a, j,
                            an, fd);
                bad++;
            }
            nz += an != 0;
        }
        CHECK(bad == 0, "mlp gradient (activation %d): %d mismatches", a, bad);
        CHECK(nz > (int)np / 2, "too few nonzero gradients: %d", nz);
        /* backward overwrites: a second call gives the same gradient */
        float *an = malloc(np * 4);
        memcpy(an, m.grads, np * 4);
        mlp_forward(&m, x, n, y);
        mlp_backward(&m, c, n);
        CHECK(memcmp(an, m.grads, np * 4) == 0, "backward must overwrite grads");
        mlp_zero_grad(&m);
        CHECK(max_abs(m.grads, np) == 0, "zero_grad");
        free(an);
        free(P);
        mlp_release(&m);
    }
}

/* mlp_forward equals composition of naive kernels; results of a batch do not
 * depend on batch position for a row processed alone (within sgemm rounding). */
static void test_nn_mlp_forward_vs_naive(void)
{
    static const int hidden[] = {13, 7};
    enum { n = 257, in = 9, out = 3 };
    mlp m;
    ms_err e;
    CHECK(mlp_init(&m, in, hidden, 2, out, MLP_TANH, n, NULL, 3, 1, &e) == MS_OK, "%s",
          e.msg);
    float *x = malloc(n * in * 4), *y = malloc(n * out * 4), *y2 = malloc(n * out * 4);
    float *h1 = malloc(n * 13 * 4), *h2 = malloc(n * 7 * 4);
    ms_rng r;
    ms_rng_seed(&r, 16, MS_STREAM_INIT, 0);
    fill_normal(&r, x, n * in, 1);
    mlp_forward(&m, x, n, y);
    const float *P = m.params;
    mlp_linear_forward_naive(h1, x, P + m.w_off[0], P + m.b_off[0], n, in, 13);
    mlp_act_forward_naive(MLP_TANH, h1, h1, n * 13);
    mlp_linear_forward_naive(h2, h1, P + m.w_off[1], P + m.b_off[1], n, 13, 7);
    mlp_act_forward_naive(MLP_TANH, h2, h2, n * 7);
    mlp_linear_forward_naive(y2, h2, P + m.w_off[2], P + m.b_off[2], n, 7, out);
    CHECK(max_rel_diff(y2, y, n * out) < 1e-5, "mlp vs naive: %g",
          max_rel_diff(y2, y, n * out));
    CHECK(max_abs(y, n * out) > 0.05, "degenerate output");
    CHECK(m.n_params == (size_t)(13 * 9 + 13 + 7 * 13 + 7 + 3 * 7 + 3), "n_params %zu",
          m.n_params);
    free(x), free(y), free(y2), free(h1), free(h2);
    mlp_release(&m);
}

static void test_nn_init_contract(void)
{
    static const int h64[] = {64, 64}, bad[] = {64, 0};
    mlp a, b;
    ms_err e;
    unsigned char ha[32], hb[32];
    CHECK(mlp_init(&a, 9, h64, 2, 3, MLP_TANH, 8, NULL, 42, 0, &e) == MS_OK, "%s", e.msg);
    CHECK(mlp_init(&b, 9, h64, 2, 3, MLP_TANH, 8, NULL, 42, 0, &e) == MS_OK, "%s", e.msg);
    mlp_params_sha256(&a, ha, &e);
    mlp_params_sha256(&b, hb, &e);
    CHECK(memcmp(ha, hb, 32) == 0, "same key must give the same weights");
    mlp_release(&b);
    CHECK(mlp_init(&b, 9, h64, 2, 3, MLP_TANH, 8, NULL, 42, 1, &e) == MS_OK, "%s", e.msg);
    mlp_params_sha256(&b, hb, &e);
    CHECK(memcmp(ha, hb, 32) != 0, "another agent index must give other weights");
    /* the hash is SHA-256 of the little-endian parameter bytes */
    unsigned char ref[32];
    EVP_Digest(a.params, a.n_params * 4, ref, NULL, EVP_sha256(), NULL);
    CHECK(memcmp(ref, ha, 32) == 0, "hash is not SHA-256 of the parameter bytes");
    /* initial scale: Glorot for the first layer, biases 0 */
    double ss = 0;
    for (int i = 0; i < 64 * 9; i++)
        ss += (double)a.params[i] * a.params[i];
    double sd = sqrt(ss / (64 * 9)), want = sqrt(2.0 / (9 + 64));
    CHECK(fabs(sd - want) < 0.15 * want, "layer-0 std %g, want about %g", sd, want);
    CHECK(max_abs(a.params + a.b_off[0], 64) == 0, "biases must start at 0");
    mlp_release(&b);
    /* out_gain scales output rows */
    static const float g[3] = {0.01f, 0.01f, 1.0f};
    CHECK(mlp_init(&b, 9, h64, 2, 3, MLP_TANH, 8, g, 42, 0, &e) == MS_OK, "%s", e.msg);
    const float *wa = a.params + a.w_off[2], *wb = b.params + b.w_off[2];
    CHECK(fabsf(wb[5] - 0.01f * wa[5]) <= 1e-6f * fabsf(wa[5]) + 1e-12f &&
              wb[128 + 7] == wa[128 + 7],
          "output gains not applied");
    mlp_release(&b);
    mlp_release(&a);
    /* rejections */
    CHECK(mlp_init(&a, 9, bad, 2, 3, MLP_TANH, 8, NULL, 1, 0, &e) == MS_EINPUT &&
              strstr(e.msg, "width"),
          "zero width: %s", e.msg);
    CHECK(mlp_init(&a, 9, h64, 5, 3, MLP_TANH, 8, NULL, 1, 0, &e) == MS_EINPUT,
          "5 hidden layers");
    CHECK(mlp_init(&a, 9, h64, 2, 3, (mlp_act)7, 8, NULL, 1, 0, &e) == MS_EINPUT,
          "bad activation");
    CHECK(mlp_init(&a, 0, h64, 2, 3, MLP_TANH, 8, NULL, 1, 0, &e) == MS_EINPUT, "in 0");
    CHECK(mlp_init(&a, 9, h64, 2, 3, MLP_TANH, 0, NULL, 1, 0, &e) == MS_EINPUT,
          "max_batch 0");
    CHECK(a.params == NULL, "failed init must leave nothing allocated");
    mlp_release(&a); /* harmless */
}

/* Fit XOR with 2-8-1 tanh, MSE, Adam. */
static void test_nn_xor_overfit(void)
{
    static const float x[8] = {0, 0, 0, 1, 1, 0, 1, 1}, t[4] = {-1, 1, 1, -1};
    static const int hidden[] = {8};
    mlp m;
    adam o;
    ms_err e;
    CHECK(mlp_init(&m, 2, hidden, 1, 1, MLP_TANH, 4, NULL, 5, 0, &e) == MS_OK, "%s", e.msg);
    CHECK(adam_init(&o, m.n_params, &e) == MS_OK, "%s", e.msg);
    float y[4], dy[4];
    double first = -1, loss = 0;
    int changed = 0;
    for (int it = 0; it < 600; it++) {
        mlp_forward(&m, x, 4, y);
        loss = 0;
        for (int i = 0; i < 4; i++) {
            loss += 0.25 * (y[i] - t[i]) * (y[i] - t[i]);
            dy[i] = 0.5f * (y[i] - t[i]);
        }
        if (first < 0)
            first = loss;
        mlp_backward(&m, dy, 4);
        adam_stat st;
        adam_step(&o, m.params, m.grads, 0.03f, 0, &st);
        changed += st.changed;
    }
    CHECK(first > 0.5, "initial loss %g suspiciously low", first);
    CHECK(loss < 1e-3, "XOR not fitted: loss %g", loss);
    CHECK(changed == 600 && o.t == 600, "every step should change params");
    adam_release(&o);
    mlp_release(&m);
}

static void test_nn_adam_step_math(void)
{
    adam o;
    ms_err e;
    float p[4] = {0, 1, -1, 2}, g[4] = {0.5f, -2, 0, 1e-3f};
    CHECK(adam_init(&o, 4, &e) == MS_OK, "%s", e.msg);
    adam_stat st;
    adam_step(&o, p, g, 0.1f, 0, &st);
    /* first step: m^ = g, v^ = g^2 => p -= lr * g / (|g| + eps) */
    float want[4] = {0, 1, -1, 2};
    for (int i = 0; i < 4; i++)
        want[i] -= (float)(0.1 * g[i] / (fabs(g[i]) + 1e-5));
    for (int i = 0; i < 4; i++)
        CHECK(fabsf(p[i] - want[i]) < 1e-6f, "p[%d] = %g, want %g", i, p[i], want[i]);
    CHECK(o.t == 1 && st.changed && !st.skipped, "t/changed");
    CHECK(fabs(st.grad_norm - sqrt(0.25 + 4 + 1e-6)) < 1e-6, "norm %g", st.grad_norm);
    /* lr 0: a real step (t advances, moments move) that changes nothing */
    float keep[4];
    memcpy(keep, p, sizeof p);
    adam_step(&o, p, g, 0.0f, 0, &st);
    CHECK(!st.changed && !st.skipped && o.t == 2 && memcmp(keep, p, sizeof p) == 0,
          "lr 0 must change nothing");
    /* clipping: norm 10 clipped to 1 scales the gradient by 0.1 */
    adam_release(&o);
    CHECK(adam_init(&o, 4, &e) == MS_OK, "%s", e.msg);
    float g2[4] = {6, 8, 0, 0};
    adam_step(&o, p, g2, 0.1f, 1.0f, &st);
    CHECK(fabs(st.grad_norm - 10) < 1e-9 && fabs(st.scale - 0.1) < 1e-9,
          "clip: norm %g scale %g", st.grad_norm, st.scale);
    CHECK(fabsf(o.m[0] - 0.1f * 0.6f) < 1e-7f && fabsf(o.m[1] - 0.1f * 0.8f) < 1e-7f,
          "moments must see the clipped gradient: %g %g", o.m[0], o.m[1]);
    adam_step(&o, p, g2, 0.1f, 20.0f, &st);
    CHECK(st.scale == 1.0, "no clipping under the threshold");
    adam_release(&o);
    /* second step, by hand: the bias corrections no longer cancel */
    CHECK(adam_init(&o, 4, &e) == MS_OK, "%s", e.msg);
    float q[4] = {0.5f, -0.5f, 1, 0}, g1[4] = {1, -2, 0.25f, 3}, gb[4] = {-1, 0.5f, 0.25f, 0};
    double qw[4], m2[4], v2[4];
    const double B1 = 0.9f, B2 = 0.999f; /* the float constants Adam uses */
    for (int i = 0; i < 4; i++) {
        double m1 = (1 - B1) * g1[i], v1 = (1 - B2) * g1[i] * g1[i];
        double p1 = q[i] - 0.05 * (m1 / (1 - B1)) / (sqrt(v1 / (1 - B2)) + 1e-5);
        m2[i] = B1 * m1 + (1 - B1) * gb[i];
        v2[i] = B2 * v1 + (1 - B2) * gb[i] * gb[i];
        qw[i] = p1 - 0.05 / (1 - B1 * B1) * m2[i] / (sqrt(v2[i] / (1 - B2 * B2)) + 1e-5);
    }
    adam_step(&o, q, g1, 0.05f, 0, &st);
    adam_step(&o, q, gb, 0.05f, 0, &st);
    for (int i = 0; i < 4; i++)
        CHECK(fabs(q[i] - qw[i]) < 2e-6 && fabs(o.m[i] - m2[i]) < 1e-6 && fabs(o.v[i] - v2[i]) <= 1e-6 * v2[i],
              "step 2, p[%d] = %.7g, want %.7g (m %g/%g, v %g/%g)", i, q[i], qw[i], o.m[i], m2[i], o.v[i], v2[i]);
    adam_release(&o);
    CHECK(adam_init(&o, 0, &e) == MS_EINPUT, "n 0 must be rejected");
}

static void test_nn_adam_nonfinite_skipped(void)
{
    enum { n = 50 };
    adam o;
    ms_err e;
    float p[n], g[n], p0[n], m0[n], v0[n];
    ms_rng r;
    ms_rng_seed(&r, 17, MS_STREAM_INIT, 0);
    fill_normal(&r, p, n, 1);
    fill_normal(&r, g, n, 1);
    CHECK(adam_init(&o, n, &e) == MS_OK, "%s", e.msg);
    adam_stat st;
    adam_step(&o, p, g, 0.01f, 0.5f, &st);
    CHECK(st.changed, "setup step");
    static const float bad[] = {NAN, INFINITY, -INFINITY};
    for (int k = 0; k < 3; k++) {
        memcpy(p0, p, sizeof p), memcpy(m0, o.m, sizeof m0), memcpy(v0, o.v, sizeof v0);
        float keep = g[n - 1];
        g[n - 1] = bad[k];
        adam_step(&o, p, g, 0.01f, 0.5f, &st);
        g[n - 1] = keep;
        CHECK(st.skipped && !st.changed && !isfinite(st.grad_norm), "case %d not skipped", k);
        CHECK(memcmp(p0, p, sizeof p) == 0 && memcmp(m0, o.m, sizeof m0) == 0 &&
                  memcmp(v0, o.v, sizeof v0) == 0 && o.t == 1,
              "case %d: skipped step touched state", k);
    }
    adam_release(&o);
}

static void test_nn_adam_snapshot(void)
{
    enum { n = 40 };
    adam o;
    ms_err e;
    float p[n], g[n];
    ms_rng r;
    ms_rng_seed(&r, 18, MS_STREAM_INIT, 0);
    fill_normal(&r, p, n, 1);
    CHECK(adam_init(&o, n, &e) == MS_OK, "%s", e.msg);
    adam_stat st;
    for (int i = 0; i < 3; i++) {
        fill_normal(&r, g, n, 1);
        adam_step(&o, p, g, 0.01f, 0, &st);
    }
    size_t sz = adam_state_size(&o);
    unsigned char *snap = malloc(sz), *snap2 = malloc(sz);
    adam_save(&o, p, snap);
    float p0[n], m0[n], v0[n];
    memcpy(p0, p, sizeof p), memcpy(m0, o.m, sizeof m0), memcpy(v0, o.v, sizeof v0);
    for (int i = 0; i < 4; i++) {
        fill_normal(&r, g, n, 1);
        adam_step(&o, p, g, 0.01f, 0, &st);
    }
    CHECK(memcmp(p0, p, sizeof p) != 0 && o.t == 7, "state should have moved");
    CHECK(adam_restore(&o, p, snap, sz - 1, &e) == MS_EINPUT, "short snapshot accepted");
    CHECK(o.t == 7, "failed restore changed state");
    CHECK(adam_restore(&o, p, snap, sz, &e) == MS_OK, "%s", e.msg);
    CHECK(memcmp(p0, p, sizeof p) == 0 && memcmp(m0, o.m, sizeof m0) == 0 &&
              memcmp(v0, o.v, sizeof v0) == 0 && o.t == 3,
          "restore is not byte-exact");
    adam_save(&o, p, snap2);
    CHECK(memcmp(snap, snap2, sz) == 0, "re-saved snapshot differs");
    free(snap), free(snap2);
    adam_release(&o);
}

static void test_nn_blob_roundtrip(void)
{
    static const int hidden[] = {16, 5, 3};
    mlp a, b;
    ms_err e;
    CHECK(mlp_init(&a, 6, hidden, 3, 3, MLP_RELU, 4, NULL, 9, 2, &e) == MS_OK, "%s", e.msg);
    for (int l = 0; l < a.n_layers; l++) /* biases nonzero to exercise them */
        for (int k = 0; k < a.sizes[l + 1]; k++)
            a.params[a.b_off[l] + k] = 0.01f * (k + l);
    size_t sz = mlp_blob_size(&a);
    CHECK(sz == MLP_BLOB_HEADER + 4 * a.n_params + 32, "size %zu", sz);
    unsigned char *blob = malloc(sz);
    CHECK(mlp_to_blob(&a, blob, sz - 1, &e) == MS_EINPUT, "short buffer accepted");
    CHECK(mlp_to_blob(&a, blob, sz, &e) == MS_OK, "%s", e.msg);
    CHECK(mlp_init_from_blob(&b, blob, sz, 2, &e) == MS_OK, "%s", e.msg);
    unsigned char ha[32], hb[32];
    mlp_params_sha256(&a, ha, &e);
    mlp_params_sha256(&b, hb, &e);
    CHECK(memcmp(ha, hb, 32) == 0, "parameters differ after round trip");
    CHECK(b.n_layers == 4 && b.sizes[0] == 6 && b.sizes[1] == 16 && b.sizes[3] == 3 &&
              b.act == MLP_RELU && b.max_batch == 2,
          "shape differs after round trip");
    float x[12] = {1, -2, 3, 0.5f, 0, 1, -1, 2, 0, 0, 1, 3}, ya[6], yb[6];
    mlp_forward(&a, x, 2, ya);
    mlp_forward(&b, x, 2, yb);
    CHECK(memcmp(ya, yb, sizeof ya) == 0, "loaded network computes differently");
    mlp_release(&b);
    free(blob);
    mlp_release(&a);
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void reseal(unsigned char *blob, size_t sz)
{
    EVP_Digest(blob, sz - 32, blob + sz - 32, NULL, EVP_sha256(), NULL);
}

static void test_nn_blob_rejects_corruption(void)
{
    static const int hidden[] = {8, 4};
    mlp a, b;
    ms_err e;
    CHECK(mlp_init(&a, 5, hidden, 2, 3, MLP_TANH, 4, NULL, 1, 0, &e) == MS_OK, "%s", e.msg);
    size_t sz = mlp_blob_size(&a);
    unsigned char *good = malloc(sz + 8), *bad = malloc(sz + 8);
    CHECK(mlp_to_blob(&a, good, sz, &e) == MS_OK, "%s", e.msg);
    memset(good + sz, 0, 8);
    struct {
        const char *name, *want; /* want: a word the message must contain */
        size_t size;
        int off;                 /* byte to change, -1 none */
        uint32_t val;            /* new u32 at off (or byte xor when flip) */
        int flip, seal;
    } cases[] = {
        {"empty", "bytes", 0, -1, 0, 0, 0},
        {"header only", "bytes", MLP_BLOB_HEADER, -1, 0, 0, 0},
        {"truncated", "bytes", sz - 1, -1, 0, 0, 1},
        {"extended", "bytes", sz + 1, -1, 0, 0, 1},
        {"magic", "magic", sz, 0, 'X', 1, 1},
        {"activation", "activation", sz, 8, 3, 0, 1},
        {"no hidden", "hidden", sz, 12, 0, 0, 1},
        {"5 hidden", "hidden", sz, 12, 5, 0, 1},
        {"in 0", "sizes", sz, 16, 0, 0, 1},
        {"width 0", "width", sz, 20, 0, 0, 1},
        {"width 5000", "width", sz, 24, 5000, 0, 1},
        {"unused slot", "unused", sz, 28, 7, 0, 1},
        {"out huge", "sizes", sz, 36, 1u << 31, 0, 1},
        {"width changed", "parameters", sz, 20, 9, 0, 1},
        {"n_params", "parameters", sz, 40, 1, 1, 1},
        {"flipped param", "checksum", sz, MLP_BLOB_HEADER + 17, 0x10, 1, 0},
        {"flipped checksum", "checksum", sz, (int)sz - 3, 0x01, 1, 0},
        {"NaN param", "finite", sz, MLP_BLOB_HEADER + 8, 0x7fc00000u, 0, 1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        memcpy(bad, good, sz + 8);
        if (cases[k].off >= 0) {
            if (cases[k].flip)
                bad[cases[k].off] ^= (unsigned char)cases[k].val;
            else
                put32(bad + cases[k].off, cases[k].val);
        }
        if (cases[k].seal && cases[k].size >= MLP_BLOB_HEADER + 32)
            reseal(bad, cases[k].size);
        e.msg[0] = 0;
        int rc = mlp_init_from_blob(&b, bad, cases[k].size, 4, &e);
        CHECK(rc == MS_EINPUT, "%s: accepted (rc %d)", cases[k].name, rc);
        CHECK(strstr(e.msg, cases[k].want) != NULL, "%s: message '%s' lacks '%s'",
              cases[k].name, e.msg, cases[k].want);
        CHECK(b.params == NULL, "%s: left an allocation", cases[k].name);
    }
    CHECK(mlp_init_from_blob(&b, good, sz, 0, &e) == MS_EINPUT, "max_batch 0 accepted");
    CHECK(mlp_init_from_blob(&b, NULL, sz, 4, &e) == MS_EINPUT, "NULL accepted");
    CHECK(mlp_init_from_blob(&b, good, sz, 4, &e) == MS_OK, "good blob rejected: %s",
          e.msg);
    mlp_release(&b);
    free(good), free(bad);
    mlp_release(&a);
}

/* The core table: auto is the first supported core of the fastest-first
 * table (Zen aside), indices name the table's cores, unknown names are
 * refused. */
static void test_nn_blas_core_table(void)
{
    const char *a = nn_blas_core_auto();
    CHECK(nn_blas_core_supported(a), "auto picks %s, which the CPU supports", a);
    CHECK(!strcmp(nn_blas_core_wanted(0), a), "index 0 is auto");
    int first = 0, n = 0;
    for (int k = 1; nn_blas_core_names[k]; k++, n++) {
        if (!first && strcmp(nn_blas_core_names[k], "Zen") && nn_blas_core_supported(nn_blas_core_names[k])) {
            first = k;
            CHECK(!strcmp(nn_blas_core_names[k], a), "auto is the first supported core (%s), not %s",
                  nn_blas_core_names[k], a);
        }
        CHECK(!strcmp(nn_blas_core_wanted(k), nn_blas_core_names[k]), "index %d names %s", k, nn_blas_core_names[k]);
    }
    CHECK(n == 8 && !strcmp(nn_blas_core_names[0], "auto") && !strcmp(nn_blas_core_names[n], "Prescott"),
          "auto, then 8 cores ending with the baseline Prescott");
    CHECK(nn_blas_core_supported("Prescott"), "every x86-64 CPU marlsim runs on has SSE3");
    CHECK(!nn_blas_core_supported("auto") && !nn_blas_core_supported("Pentium") && !nn_blas_core_supported("haswell"),
          "auto, unknown and misspelt names are no core");
    CHECK(nn_blas_core_current() && nn_blas_core_current()[0], "OpenBLAS names its core");
}

void suite_nn(void)
{
    RUN(test_nn_linear_naive_vs_blas);
    RUN(test_nn_act_simd_vs_scalar);
    RUN(test_nn_linear_gradcheck);
    RUN(test_nn_act_gradcheck);
    RUN(test_nn_mlp_gradcheck);
    RUN(test_nn_mlp_forward_vs_naive);
    RUN(test_nn_init_contract);
    RUN(test_nn_xor_overfit);
    RUN(test_nn_adam_step_math);
    RUN(test_nn_adam_nonfinite_skipped);
    RUN(test_nn_adam_snapshot);
    RUN(test_nn_blob_roundtrip);
    RUN(test_nn_blob_rejects_corruption);
    RUN(test_nn_blas_core_table);
}
