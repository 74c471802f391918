/* rng.h — explicit-state random number generators, one per stream.
 *
 * Generator: xoshiro256** (Blackman & Vigna, 2018). Why: 256 bits of state
 * held in a plain struct the run owns (no hidden globals, unlike rand()), a
 * period of 2^256-1, excellent statistical quality, and about 1 ns a draw.
 *
 * Streams: every generator is keyed by (seed, stream, index). Its state is
 * the first 32 bytes of SHA-256("marlsim-rng-v1" || seed || stream || index)
 * (all little-endian u64), so distinct keys give unrelated states, and a
 * mailbox's draws depend only on its own key — never on how many mailboxes
 * run, in what order, or in what batch size. The stream ids below are part of
 * the determinism contract: changing one changes every recorded run.
 *
 * All floating-point helpers use double and glibc's libm, which is
 * deterministic for a given binary and libc.
 */
#ifndef MS_RNG_H
#define MS_RNG_H

#include <stdint.h>

enum ms_stream {
    MS_STREAM_ENV = 1,     /* training mailboxes, index = mailbox */
    MS_STREAM_GATE = 2,    /* gate episodes, keyed by ms_gate_seed(eval_seed, run seed) */
    MS_STREAM_POLICY = 3,  /* action sampling, index = mailbox */
    MS_STREAM_INIT = 4,    /* network initialisation, index = agent */
    MS_STREAM_SHUFFLE = 5, /* minibatch shuffles, index = agent */
    MS_STREAM_VOCAB = 6,   /* the run's synthetic vocabularies */
    MS_STREAM_POISON = 7,  /* broadcast tampering in transit, index = mailbox */
    MS_STREAM_DEVKEY = 8,  /* development key material */
    MS_STREAM_REF_POLICY = 9, /* the random reference policy, index = mailbox
                               * (never the trainer's sampling stream) */
    MS_STREAM_PERSONAL = 10, /* raw personal data, index = mailbox; keyed by a
                              * key generation's secret (ms_rng_seed_key) */
    MS_STREAM_REPORT = 11,   /* report episodes, keyed by eval_seed alone: the
                              * same messages for every run and policy */
    MS_STREAM_TRIGGER = 12,  /* the backdoor trigger, keyed by eval_seed */
    MS_STREAM_FEEDBACK = 13, /* forged outcome feedback, index = mailbox */
};

/* The seed of the gate stream: the first 8 bytes (little-endian) of
 * SHA-256("marlsim-gate-v1" || eval_seed || run seed). Gate episodes thus
 * differ per run (a run cannot overfit its selection to another run's) and
 * are disjoint from the training (MS_STREAM_ENV) and report
 * (MS_STREAM_REPORT) streams, which are other stream ids. */
int ms_gate_seed(uint64_t eval_seed, uint64_t run_seed, uint64_t *out);

typedef struct ms_rng {
    uint64_t s[4];
    double spare;  /* second Box-Muller deviate, valid when has_spare */
    int has_spare;
} ms_rng;

/* Seeding hashes with libcrypto's SHA-256, which fails only when libcrypto
 * cannot allocate: then these return MS_EIO (r, *out are then unusable and
 * must not be drawn from: a run must stop, never go on as another run, nor
 * draw a secret stream from a state anyone can guess), else MS_OK. The
 * caller names the failure (MS_RNG_SEED_FAILED says it). */
#define MS_RNG_SEED_FAILED "libcrypto: SHA-256 failed while seeding a random stream (out of memory?)"

/* Seeds r for (seed, stream, index). */
int ms_rng_seed(ms_rng *r, uint64_t seed, uint32_t stream, uint64_t index);

/* Seeds r from a 32-byte secret instead of a public seed: the state is the
 * first 32 bytes of SHA-256("marlsim-rng-key-v1" || key || stream ||
 * index), so nobody without the key can reproduce the draws. */
int ms_rng_seed_key(ms_rng *r, const unsigned char key[32], uint32_t stream, uint64_t index);

/* Next raw 64-bit output of xoshiro256**. */
static inline uint64_t ms_rng_u64(ms_rng *r)
{
    uint64_t *s = r->s;
    uint64_t x = s[1] * 5;
    uint64_t result = ((x << 7) | (x >> 57)) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return result;
}

/* Uniform in [0, 1) with 53 random bits. */
static inline double ms_rng_uniform(ms_rng *r)
{
    return (double)(ms_rng_u64(r) >> 11) * 0x1.0p-53;
}

/* 1 with probability p (p outside [0,1] behaves as clamped). */
static inline int ms_rng_bernoulli(ms_rng *r, double p)
{
    return ms_rng_uniform(r) < p;
}

/* Uniform integer in [0, n), n >= 1, without modulo bias (Lemire). */
uint32_t ms_rng_below(ms_rng *r, uint32_t n);

/* Standard normal deviate (Box-Muller, caching the second deviate). */
double ms_rng_normal(ms_rng *r);

/* Poisson deviate by Knuth's product method; intended for lambda <= 30. */
unsigned ms_rng_poisson(ms_rng *r, double lambda);

#endif
