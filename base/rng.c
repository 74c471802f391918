#include "base/rng.h"

#include "base/err.h"

#include <math.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

static void put_u64le(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* The state from SHA-256 of in[0..n); MS_EIO when libcrypto failed (out of
 * memory), leaving r zeroed: never a state derived from anything else. */
static int seed_from(ms_rng *r, const unsigned char *in, size_t n)
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (EVP_Digest(in, n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != sizeof md) {
        memset(r, 0, sizeof *r);
        return MS_EIO;
    }
    for (int i = 0; i < 4; i++) {
        uint64_t v = 0;
        for (int b = 0; b < 8; b++)
            v |= (uint64_t)md[8 * i + b] << (8 * b);
        r->s[i] = v;
    }
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3]))
        r->s[0] = 0x9e3779b97f4a7c15ull; /* xoshiro's one forbidden state */
    r->spare = 0;
    r->has_spare = 0;
    OPENSSL_cleanse(md, sizeof md);
    return MS_OK;
}

int ms_rng_seed(ms_rng *r, uint64_t seed, uint32_t stream, uint64_t index)
{
    static const char tag[] = "marlsim-rng-v1";
    unsigned char in[sizeof tag - 1 + 24];
    memcpy(in, tag, sizeof tag - 1);
    put_u64le(in + sizeof tag - 1, seed);
    put_u64le(in + sizeof tag - 1 + 8, stream);
    put_u64le(in + sizeof tag - 1 + 16, index);
    return seed_from(r, in, sizeof in);
}

int ms_gate_seed(uint64_t eval_seed, uint64_t run_seed, uint64_t *out)
{
    static const char tag[] = "marlsim-gate-v1";
    unsigned char in[sizeof tag - 1 + 16], md[32];
    unsigned int n = 0;
    memcpy(in, tag, sizeof tag - 1);
    put_u64le(in + sizeof tag - 1, eval_seed);
    put_u64le(in + sizeof tag + 7, run_seed);
    if (EVP_Digest(in, sizeof in, md, &n, EVP_sha256(), NULL) != 1 || n != sizeof md)
        return MS_EIO;
    uint64_t v = 0;
    for (int b = 0; b < 8; b++)
        v |= (uint64_t)md[b] << (8 * b);
    *out = v;
    return MS_OK;
}

int ms_rng_seed_key(ms_rng *r, const unsigned char key[32], uint32_t stream, uint64_t index)
{
    static const char tag[] = "marlsim-rng-key-v1";
    unsigned char in[sizeof tag - 1 + 32 + 16];
    memcpy(in, tag, sizeof tag - 1);
    memcpy(in + sizeof tag - 1, key, 32);
    put_u64le(in + sizeof tag - 1 + 32, stream);
    put_u64le(in + sizeof tag - 1 + 40, index);
    int rc = seed_from(r, in, sizeof in);
    OPENSSL_cleanse(in, sizeof in);
    return rc;
}

uint32_t ms_rng_below(ms_rng *r, uint32_t n)
{
    uint64_t m = (uint64_t)(uint32_t)(ms_rng_u64(r) >> 32) * n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        uint32_t threshold = (uint32_t)-n % n;
        while (low < threshold) {
            m = (uint64_t)(uint32_t)(ms_rng_u64(r) >> 32) * n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

double ms_rng_normal(ms_rng *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    /* 1 - u is in (0, 1], so log never sees 0. */
    double u1 = 1.0 - ms_rng_uniform(r);
    double u2 = ms_rng_uniform(r);
    double rad = sqrt(-2.0 * log(u1));
    double th = 6.283185307179586 * u2;
    r->spare = rad * sin(th);
    r->has_spare = 1;
    return rad * cos(th);
}

unsigned ms_rng_poisson(ms_rng *r, double lambda)
{
    double limit = exp(-lambda), prod = ms_rng_uniform(r);
    unsigned k = 0;
    while (prod > limit && k < 1000) {
        prod *= ms_rng_uniform(r);
        k++;
    }
    return k;
}
