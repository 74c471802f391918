/* test_sim.c — sim/rng, sim/env, sim/rules, sim/pseudo, sim/sim, sim/policy.
 *
 * Expected values are independent of the code under test: published test
 * vectors (xoshiro256** from state {1,2,3,4}, RFC 4231 HMAC-SHA-256), the
 * documented derivations recomputed with libcrypto directly, the SPEC §4
 * tables with analytic means, and a re-implementation of the SPEC §4 rules
 * written here from the text. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "base/b64.h"
#include "keys/keyring.h"
#include "sim/config.h"
#include "sim/env.h"
#include "sim/policy.h"
#include "sim/pseudo.h"
#include "base/rng.h"
#include "sim/rules.h"
#include "sim/sim.h"
#include "tests/check.h"

/* ---------------------------------------------------------------- RNG ---- */

static uint64_t ref_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* xoshiro256** as published by Blackman & Vigna (xoshiro256starstar.c). */
static uint64_t ref_next(uint64_t s[4])
{
    const uint64_t result = ref_rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = ref_rotl(s[3], 45);
    return result;
}

static void test_rng_known_values(void)
{
    /* Published outputs of the reference implementation from {1,2,3,4}. */
    static const uint64_t published[10] = {
        11520u, 0u, 1509978240u, 1215971899390074240u, 1216172134540287360u,
        607988272756665600u, 16172922978634559625u, 8476171486693032832u,
        10595114339597558777u, 2904607092377533576u};
    ms_rng r = {{1, 2, 3, 4}, 0, 0};
    for (int i = 0; i < 10; i++) {
        uint64_t v = ms_rng_u64(&r);
        CHECK(v == published[i], "output %d: %llu, want %llu", i, (unsigned long long)v, (unsigned long long)published[i]);
    }
    /* The reference recurrence from an arbitrary hand-set state. */
    uint64_t s[4] = {0x0123456789abcdefull, 0xfedcba9876543210ull, 0xdeadbeefcafebabeull, 0x1ull};
    ms_rng q;
    memcpy(q.s, s, sizeof s);
    q.has_spare = 0;
    int bad = 0;
    for (int i = 0; i < 100000; i++)
        bad += ms_rng_u64(&q) != ref_next(s);
    CHECK(bad == 0, "%d of 100000 outputs differ from the reference recurrence", bad);
    CHECK(!memcmp(q.s, s, sizeof s), "state after 100000 steps differs");

    /* ms_rng_uniform is the top 53 bits scaled by 2^-53. */
    ms_rng a = {{5, 6, 7, 8}, 0, 0}, b = a;
    for (int i = 0; i < 1000; i++) {
        double u = ms_rng_uniform(&a);
        uint64_t raw = ms_rng_u64(&b);
        CHECK(u == (double)(raw >> 11) / 9007199254740992.0 && u >= 0 && u < 1, "uniform %d", i);
    }
    /* Bernoulli with p outside [0,1] behaves as clamped. */
    int ones = 0;
    for (int i = 0; i < 1000; i++)
        ones += ms_rng_bernoulli(&a, -0.5) + ms_rng_bernoulli(&a, 1.5);
    CHECK(ones == 1000, "clamped bernoulli gave %d ones of 1000", ones);
}

/* The documented seeding: state = first 32 bytes of
 * SHA-256("marlsim-rng-v1" || seed || stream || index), little-endian u64s. */
static void test_rng_seeding(void)
{
    static const struct {
        uint64_t seed;
        uint32_t stream;
        uint64_t index;
    } keys[] = {{0, 0, 0}, {1, MS_STREAM_ENV, 0}, {1, MS_STREAM_ENV, 1}, {1, MS_STREAM_GATE, 0},
                {123456789, MS_STREAM_POLICY, 63}, {UINT64_MAX, 0xffffffffu, UINT64_MAX}};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        unsigned char in[14 + 24], md[32];
        memcpy(in, "marlsim-rng-v1", 14);
        uint64_t vals[3] = {keys[k].seed, keys[k].stream, keys[k].index};
        for (int j = 0; j < 3; j++)
            for (int b = 0; b < 8; b++)
                in[14 + 8 * j + b] = (unsigned char)(vals[j] >> (8 * b));
        unsigned int mdlen = 0;
        EVP_Digest(in, sizeof in, md, &mdlen, EVP_sha256(), NULL);
        uint64_t want[4];
        for (int i = 0; i < 4; i++) {
            want[i] = 0;
            for (int b = 0; b < 8; b++)
                want[i] |= (uint64_t)md[8 * i + b] << (8 * b);
        }
        ms_rng r;
        ms_rng_seed(&r, keys[k].seed, keys[k].stream, keys[k].index);
        CHECK(!memcmp(r.s, want, sizeof want), "key %zu: state is not the documented SHA-256 derivation", k);
        CHECK(r.has_spare == 0, "fresh generator has no cached normal");
    }

    /* Same key: same sequence. Any key component changed: different. */
    ms_rng a, b, c, d, e;
    ms_rng_seed(&a, 42, MS_STREAM_ENV, 3);
    ms_rng_seed(&b, 42, MS_STREAM_ENV, 3);
    ms_rng_seed(&c, 42, MS_STREAM_GATE, 3);
    ms_rng_seed(&d, 42, MS_STREAM_ENV, 4);
    ms_rng_seed(&e, 43, MS_STREAM_ENV, 3);
    int same_ab = 0, same_ac = 0, same_ad = 0, same_ae = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t va = ms_rng_u64(&a);
        same_ab += va == ms_rng_u64(&b);
        same_ac += va == ms_rng_u64(&c);
        same_ad += va == ms_rng_u64(&d);
        same_ae += va == ms_rng_u64(&e);
    }
    CHECK(same_ab == 1000, "same key diverged (%d equal)", same_ab);
    CHECK(same_ac == 0 && same_ad == 0 && same_ae == 0, "different keys agree on %d/%d/%d outputs", same_ac, same_ad, same_ae);
}

static void test_rng_below_unbiased(void)
{
    ms_rng r;
    ms_rng_seed(&r, 7, 99, 0);
    enum { N = 300000 };
    int count[3] = {0, 0, 0}, out_of_range = 0;
    for (int i = 0; i < N; i++) {
        uint32_t v = ms_rng_below(&r, 3);
        if (v >= 3)
            out_of_range++;
        else
            count[v]++;
    }
    double se = sqrt(N * (1.0 / 3) * (2.0 / 3));
    for (int k = 0; k < 3; k++)
        CHECK(fabs(count[k] - N / 3.0) < 5 * se, "below(3): value %d drawn %d times of %d", k, count[k], N);
    CHECK(out_of_range == 0, "below(3) returned >= 3");

    /* n = 3·2^30: a plain modulo would put half the mass in the lowest
     * third (values below 2^30 get two preimages); unbiased gives 1/3. */
    /* A multiply-shift without the rejection step is biased the other way:
     * v = floor(x·3/4) gives values divisible by 3 two preimages of four. */
    const uint32_t n = 0xC0000000u;
    int low = 0, div3 = 0;
    out_of_range = 0;
    for (int i = 0; i < N; i++) {
        uint32_t v = ms_rng_below(&r, n);
        low += v < n / 3;
        div3 += v % 3 == 0;
        out_of_range += v >= n;
    }
    CHECK(fabs(low - N / 3.0) < 5 * se, "below(3<<30): lowest third drawn %d of %d (modulo bias?)", low, N);
    CHECK(fabs(div3 - N / 3.0) < 5 * se, "below(3<<30): multiples of 3 drawn %d of %d (multiply-shift bias?)", div3, N);
    CHECK(out_of_range == 0, "below(3<<30) out of range");
    int nonzero = 0;
    for (int i = 0; i < 1000; i++)
        nonzero += ms_rng_below(&r, 1) != 0;
    CHECK(nonzero == 0, "below(1) must be 0");
    /* Every value of a small range is hit, and only those. */
    int seen[7] = {0};
    for (int i = 0; i < 7000; i++) {
        uint32_t v = ms_rng_below(&r, 7);
        if (v < 7)
            seen[v]++;
    }
    for (int k = 0; k < 7; k++)
        CHECK(seen[k] > 800 && seen[k] < 1200, "below(7) value %d: %d", k, seen[k]);
}

static void test_rng_normal_poisson(void)
{
    ms_rng r;
    ms_rng_seed(&r, 11, 98, 0);
    enum { N = 100000 };
    double sum = 0, sq = 0;
    int within1 = 0;
    for (int i = 0; i < N; i++) {
        double x = ms_rng_normal(&r);
        CHECK(isfinite(x), "normal draw %d not finite", i);
        sum += x;
        sq += x * x;
        within1 += fabs(x) < 1;
    }
    double mean = sum / N, sd = sqrt(sq / N - mean * mean);
    CHECK(fabs(mean) < 5 / sqrt((double)N), "normal mean %g", mean);
    CHECK(fabs(sd - 1) < 5 / sqrt(2.0 * N), "normal sd %g", sd);
    double p1 = erf(1 / sqrt(2.0));
    CHECK(fabs(within1 / (double)N - p1) < 5 * sqrt(p1 * (1 - p1) / N), "P(|x|<1) = %g, want %g", within1 / (double)N, p1);

    for (int li = 0; li < 3; li++) {
        double lambda = li == 0 ? 1 : li == 1 ? 3 : 4;
        double s = 0, s2 = 0;
        for (int i = 0; i < N; i++) {
            double k = ms_rng_poisson(&r, lambda);
            s += k;
            s2 += k * k;
        }
        double m = s / N, v = s2 / N - m * m;
        CHECK(fabs(m - lambda) < 5 * sqrt(lambda / N), "poisson(%g) mean %g", lambda, m);
        CHECK(fabs(v - lambda) < 0.05 * lambda, "poisson(%g) variance %g", lambda, v);
    }
}

/* -------------------------------------------------------- environment ---- */

/* SPEC §4 feature table, typed in from the spec. */
static const double SPEC_MU_REP[4] = {.80, .40, .35, .30}, SPEC_MU_AGE[4] = {.70, .40, .20, .25};
static const double SPEC_P_SPF[4] = {.95, .60, .40, .50}, SPEC_P_DKIM[4] = {.90, .50, .30, .40};
static const double SPEC_P_KNOWN[4] = {.60, .05, .10, .05}, SPEC_LAMBDA[4] = {1, 4, 3, 1};
static const double SPEC_P_URL[4] = {.02, .20, .70, .30}, SPEC_MU_URG[4] = {.20, .50, .75, .60};
static const double SPEC_P_ATT[4] = {.30, .10, .20, .90}, SPEC_MU_BODY[4] = {.50, .40, .30, .20};
static const double SPEC_KIND[4][4] = {{.80, .05, .02, .13}, {.50, .10, .10, .30}, {.60, .20, .05, .15}, {.10, .40, .30, .20}};
static const double SPEC_MU_SANDBOX[4] = {.10, .20, .40, .80}, SPEC_P_TI[4] = {.001, .02, .25, .35};

static double Phi(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }
static double phi(double x) { return exp(-0.5 * x * x) / sqrt(2 * M_PI); }

/* E[clamp(N(mu, sd), 0, 1)]. */
static double clamped_normal_mean(double mu, double sd)
{
    double a = (0 - mu) / sd, b = (1 - mu) / sd;
    return (1 - Phi(b)) + mu * (Phi(b) - Phi(a)) + sd * (phi(a) - phi(b));
}

/* E[min(Poisson(l)/10, 1)]. */
static double link_mean(double l)
{
    double p = exp(-l), cdf = 0, m = 0;
    for (int k = 0; k < 10; k++) {
        m += k / 10.0 * p;
        cdf += p;
        p *= l / (k + 1);
    }
    return m + (1 - cdf);
}

typedef struct acc {
    double n, s, s2;
} acc;
static void acc_add(acc *a, double x)
{
    a->n++;
    a->s += x;
    a->s2 += x * x;
}
/* Mean of a against `want` within 5 standard errors (variance from the
 * sample, or p(1-p) for a Bernoulli when bern_p >= 0). */
static void check_mean(const char *what, int cls, const acc *a, double want, double bern_p)
{
    double m = a->s / a->n, var = bern_p >= 0 ? bern_p * (1 - bern_p) : a->s2 / a->n - m * m;
    double tol = 5 * sqrt(var / a->n) + 2e-6;
    CHECK(a->n > 1000 && fabs(m - want) <= tol, "%s | %s: mean %.6f, want %.6f (tol %.2g, n %.0f)", what,
          ms_class_names[cls], m, want, tol, a->n);
}

static void test_env_statistics(void)
{
    ms_config c;
    ms_config_defaults(&c);
    c.campaign_rate = 0; /* classes follow the priors */
    ms_mailbox m;
    ms_mailbox_init(&m, 2024, MS_STREAM_ENV, 0);
    enum { N = 1000000 };
    static acc feat[MS_NCLASS][MS_NFEAT], sandbox_att[MS_NCLASS], sandbox_none[MS_NCLASS];
    static double kind[MS_NCLASS][4];
    static int domain_count[MS_VOCAB_DOMAINS];
    memset(feat, 0, sizeof feat);
    memset(sandbox_att, 0, sizeof sandbox_att);
    memset(sandbox_none, 0, sizeof sandbox_none);
    memset(kind, 0, sizeof kind);
    memset(domain_count, 0, sizeof domain_count);
    double ncls[MS_NCLASS] = {0};
    int bad_range = 0, bad_onehot = 0, bad_binary = 0, bad_ids = 0, bad_shared = 0;
    for (int i = 0; i < N; i++) {
        ms_msg msg;
        ms_mailbox_generate(&m, &c, 0, &msg);
        int k = msg.cls;
        if (k >= MS_NCLASS) {
            bad_ids++;
            continue;
        }
        ncls[k]++;
        for (int f = 0; f < MS_NFEAT; f++) {
            bad_range += msg.f[f] < 0 || msg.f[f] > MS_MICRO;
            acc_add(&feat[k][f], msg.f[f] / 1e6);
        }
        int ones = 0, which = -1;
        for (int f = MS_F_ATT_NONE; f <= MS_F_ATT_ARCHIVE; f++) {
            bad_binary += msg.f[f] != 0 && msg.f[f] != MS_MICRO;
            if (msg.f[f] == MS_MICRO)
                ones++, which = f;
        }
        bad_onehot += ones != 1 || (which == MS_F_ATT_NONE) != (msg.f[MS_F_HAS_ATTACHMENT] == 0);
        static const int binary[] = {MS_F_SPF_PASS, MS_F_DKIM_PASS, MS_F_KNOWN_SENDER, MS_F_URL_MISMATCH,
                                     MS_F_HAS_ATTACHMENT, MS_F_THREAT_INTEL_HIT};
        for (size_t j = 0; j < sizeof binary / sizeof binary[0]; j++)
            bad_binary += msg.f[binary[j]] != 0 && msg.f[binary[j]] != MS_MICRO;
        if (msg.f[MS_F_HAS_ATTACHMENT]) {
            kind[k][which - MS_F_ATT_DOC]++;
            acc_add(&sandbox_att[k], msg.f[MS_F_SANDBOX_SCORE] / 1e6);
        } else {
            acc_add(&sandbox_none[k], msg.f[MS_F_SANDBOX_SCORE] / 1e6);
        }
        bad_ids += (msg.attach >= 0) != (msg.f[MS_F_HAS_ATTACHMENT] != 0) || msg.attach >= MS_VOCAB_ATTACH;
        bad_ids += (msg.link >= 0) != (msg.f[MS_F_LINK_COUNT] != 0) || msg.link >= MS_VOCAB_LINKS;
        bad_ids += msg.domain >= MS_VOCAB_DOMAINS || msg.sender % MS_VOCAB_DOMAINS != msg.domain ||
                   msg.sender / MS_VOCAB_DOMAINS >= MS_VOCAB_LOCALS || msg.subject >= MS_VOCAB_SUBJECTS;
        bad_ids += msg.from_campaign != 0;
        if (msg.domain < MS_VOCAB_DOMAINS)
            domain_count[msg.domain]++;
        /* Without advance: t = 0, nothing quarantined, never compromised. */
        bad_shared += msg.f[MS_F_DOMAIN_PREV_QUARANTINED] || msg.f[MS_F_COMPROMISED] ||
                      msg.f[MS_F_RECENT_QUARANTINE_RATE] || msg.f[MS_F_T_FRAC] || msg.t != 0;
    }
    CHECK(bad_range == 0, "%d features outside [0, 1e6]", bad_range);
    CHECK(bad_onehot == 0, "%d attachment one-hots inconsistent", bad_onehot);
    CHECK(bad_binary == 0, "%d Bernoulli features not 0/1", bad_binary);
    CHECK(bad_ids == 0, "%d messages with inconsistent vocabulary indices", bad_ids);
    CHECK(bad_shared == 0, "%d messages with nonzero shared state", bad_shared);

    for (int k = 0; k < MS_NCLASS; k++) {
        double p = c.priors[k], se = sqrt(p * (1 - p) / N);
        CHECK(fabs(ncls[k] / N - p) < 4 * se, "class %s frequency %.5f, prior %.2f", ms_class_names[k], ncls[k] / N, p);
    }
    for (int k = 0; k < MS_NCLASS; k++) {
        check_mean("sender_reputation", k, &feat[k][MS_F_SENDER_REPUTATION], clamped_normal_mean(SPEC_MU_REP[k], .15), -1);
        check_mean("domain_age", k, &feat[k][MS_F_DOMAIN_AGE], clamped_normal_mean(SPEC_MU_AGE[k], .20), -1);
        check_mean("spf_pass", k, &feat[k][MS_F_SPF_PASS], SPEC_P_SPF[k], SPEC_P_SPF[k]);
        check_mean("dkim_pass", k, &feat[k][MS_F_DKIM_PASS], SPEC_P_DKIM[k], SPEC_P_DKIM[k]);
        check_mean("known_sender", k, &feat[k][MS_F_KNOWN_SENDER], SPEC_P_KNOWN[k], SPEC_P_KNOWN[k]);
        check_mean("link_count", k, &feat[k][MS_F_LINK_COUNT], link_mean(SPEC_LAMBDA[k]), -1);
        check_mean("url_mismatch", k, &feat[k][MS_F_URL_MISMATCH], SPEC_P_URL[k], SPEC_P_URL[k]);
        check_mean("urgency", k, &feat[k][MS_F_URGENCY], clamped_normal_mean(SPEC_MU_URG[k], .15), -1);
        check_mean("has_attachment", k, &feat[k][MS_F_HAS_ATTACHMENT], SPEC_P_ATT[k], SPEC_P_ATT[k]);
        check_mean("body_length", k, &feat[k][MS_F_BODY_LENGTH], clamped_normal_mean(SPEC_MU_BODY[k], .20), -1);
        check_mean("threat_intel_hit", k, &feat[k][MS_F_THREAT_INTEL_HIT], SPEC_P_TI[k], SPEC_P_TI[k]);
        check_mean("att_none", k, &feat[k][MS_F_ATT_NONE], 1 - SPEC_P_ATT[k], SPEC_P_ATT[k]);
        check_mean("sandbox_score | attachment", k, &sandbox_att[k], clamped_normal_mean(SPEC_MU_SANDBOX[k], .20), -1);
        check_mean("sandbox_score | none", k, &sandbox_none[k], clamped_normal_mean(.05, .05), -1);
        double natt = kind[k][0] + kind[k][1] + kind[k][2] + kind[k][3];
        for (int j = 0; j < 4; j++) {
            double p = SPEC_KIND[k][j], se = sqrt(p * (1 - p) / natt);
            CHECK(fabs(kind[k][j] / natt - p) < 5 * se, "attachment kind %d | %s: %.4f, want %.2f (n %.0f)", j,
                  ms_class_names[k], kind[k][j] / natt, p, natt);
        }
    }
    /* Sender domains: uniform over the 512 of the vocabulary. */
    double expect = (double)N / MS_VOCAB_DOMAINS, sd = sqrt(expect);
    int off = 0;
    for (int d = 0; d < MS_VOCAB_DOMAINS; d++)
        off += fabs(domain_count[d] - expect) > 6 * sd;
    CHECK(off == 0, "%d sender domains far from uniform", off);
}

/* Campaigns: start with campaign_rate, 60/40 phishing/malware, last a
 * uniform 5..20 steps, own 60 % of their messages which reuse the domain. */
static void test_env_campaigns(void)
{
    ms_config c;
    ms_config_defaults(&c);
    c.campaign_rate = 0.25;
    c.episode_len = 100000; /* no truncation inside the sample */
    ms_mailbox m;
    ms_mailbox_init(&m, 5, MS_STREAM_ENV, 1);
    int phishing = 0, malware = 0, started = 0, bad_domain = 0, bad_class = 0, dur_min = 99, dur_max = 0;
    double dur_sum = 0, in_campaign = 0, owned = 0, idle_steps = 0;
    int dur_count[21] = {0};
    int cur = 0, cur_len = 0;
    for (int i = 0; i < 90000; i++) {
        int before = m.campaign;
        ms_msg msg;
        ms_mailbox_generate(&m, &c, 0, &msg);
        if (before == MS_CAMPAIGN_NONE) {
            idle_steps++;
            if (m.campaign != MS_CAMPAIGN_NONE) {
                started++;
                phishing += m.campaign == MS_CAMPAIGN_PHISHING;
                malware += m.campaign == MS_CAMPAIGN_MALWARE;
                cur = 1;
                cur_len = 0;
            }
        }
        if (m.campaign != MS_CAMPAIGN_NONE) {
            in_campaign++;
            cur_len++;
            if (msg.from_campaign) {
                owned++;
                bad_domain += msg.domain != m.campaign_domain || msg.sender % MS_VOCAB_DOMAINS != (unsigned)m.campaign_domain;
                bad_class += msg.cls != (m.campaign == MS_CAMPAIGN_PHISHING ? MS_CLASS_PHISHING : MS_CLASS_MALWARE);
            }
        } else {
            bad_class += msg.from_campaign != 0;
        }
        ms_mailbox_advance(&m, &c, &msg, 0, 0);
        if (cur && m.campaign == MS_CAMPAIGN_NONE) {
            cur = 0;
            dur_sum += cur_len;
            dur_min = cur_len < dur_min ? cur_len : dur_min;
            dur_max = cur_len > dur_max ? cur_len : dur_max;
            if (cur_len <= 20)
                dur_count[cur_len]++;
        }
    }
    CHECK(bad_domain == 0, "%d campaign messages not from the campaign domain", bad_domain);
    CHECK(bad_class == 0, "%d campaign messages of the wrong class", bad_class);
    CHECK(started > 5000, "campaigns started: %d", started);
    double ended = 0;
    for (int d = 0; d <= 20; d++)
        ended += dur_count[d];
    CHECK(dur_min == 5 && dur_max == 20, "campaign length range [%d, %d], want [5, 20]", dur_min, dur_max);
    CHECK(fabs(dur_sum / ended - 12.5) < 5 * sqrt((16 * 16 - 1) / 12.0 / ended), "mean campaign length %.3f", dur_sum / ended);
    for (int d = 5; d <= 20; d++)
        CHECK(fabs(dur_count[d] / ended - 1 / 16.0) < 5 * sqrt(1 / 16.0 * 15 / 16.0 / ended), "length %d: %.4f", d,
              dur_count[d] / ended);
    double pp = phishing / (double)started;
    CHECK(fabs(pp - 0.6) < 5 * sqrt(0.24 / started), "phishing share of campaigns %.4f, want 0.6", pp);
    CHECK(phishing + malware == started, "%d phishing + %d malware campaigns of %d started: another kind", phishing,
          malware, started);
    CHECK(fabs(started / idle_steps - c.campaign_rate) < 5 * sqrt(0.25 * 0.75 / idle_steps), "start rate %.4f per idle step",
          started / idle_steps);
    CHECK(fabs(owned / in_campaign - 0.6) < 5 * sqrt(0.24 / in_campaign), "campaign share of messages %.4f, want 0.6",
          owned / in_campaign);
}

/* Mailbox consequences over episodes: compromise window, quarantined-domain
 * set, quarantine EMA, time fraction, truncation and reset. */
static void test_env_mailbox_dynamics(void)
{
    ms_config c;
    ms_config_defaults(&c);
    c.episode_len = 50;
    c.campaign_rate = 0.1;
    ms_mailbox m;
    ms_mailbox_init(&m, 77, MS_STREAM_ENV, 2);
    int infect[3][3] = {{5, 8, -1}, {-1, -1, -1}, {45, -1, -1}}; /* infections by episode */
    int bad_comp = 0, bad_t = 0, bad_dom = 0, bad_ema = 0, bad_end = 0, saw_prev_q = 0;
    for (int ep = 0; ep < 3; ep++) {
        unsigned char qset[MS_VOCAB_DOMAINS] = {0};
        double ema = 0;
        for (int t = 0; t < c.episode_len; t++) {
            ms_msg msg;
            ms_mailbox_generate(&m, &c, 0, &msg);
            bad_t += msg.t != t || msg.f[MS_F_T_FRAC] != (int32_t)lround((double)t / c.episode_len * 1e6);
            /* compromised iff infected at some s < t with t - s <= 10 */
            int comp = 0;
            for (int j = 0; j < 3; j++)
                if (infect[ep][j] >= 0 && infect[ep][j] < t && t - infect[ep][j] <= 10)
                    comp = 1;
            bad_comp += (msg.f[MS_F_COMPROMISED] == MS_MICRO) != comp;
            bad_dom += (msg.f[MS_F_DOMAIN_PREV_QUARANTINED] == MS_MICRO) != qset[msg.domain];
            saw_prev_q += qset[msg.domain];
            bad_ema += fabs(msg.f[MS_F_RECENT_QUARANTINE_RATE] / 1e6 - ema) > 6e-7;
            int q = (t * 7 + ep) % 3 == 0;
            int infected = t == infect[ep][0] || t == infect[ep][1] || t == infect[ep][2];
            if (q)
                qset[msg.domain] = 1;
            ema = 0.9 * ema + 0.1 * q;
            int end = ms_mailbox_advance(&m, &c, &msg, q, infected);
            bad_end += end != (t == c.episode_len - 1);
        }
    }
    CHECK(bad_t == 0, "%d steps with wrong t / t_frac", bad_t);
    CHECK(bad_comp == 0, "%d steps with wrong compromised flag", bad_comp);
    CHECK(bad_dom == 0, "%d steps with wrong domain_prev_quarantined", bad_dom);
    CHECK(saw_prev_q > 0, "the quarantined-domain feature was never exercised");
    CHECK(bad_ema == 0, "%d steps with wrong quarantine EMA", bad_ema);
    CHECK(bad_end == 0, "%d wrong episode ends", bad_end);
    CHECK(m.episode == 3 && m.t == 0 && m.campaign == MS_CAMPAIGN_NONE, "after 3 episodes: episode %d t %d", m.episode, m.t);
}

/* -------------------------------------------------------------- rules ---- */

/* SPEC §4 business reward: delivered, previewed (extra), quarantined, ignored. */
static const double SPEC_REWARD[4][4] = {
    {1.0, 0.5, -2.0, -0.5}, {-0.3, -0.2, 0.5, 0.0}, {-2.0, -1.0, 1.5, -0.2}, {-4.0, -1.0, 2.0, -0.5}};

typedef struct ref_result {
    int eff[3], outcome, compromise;
    unsigned fired;
    double business, pen[3], comp_cost, raw;
    double term[3]; /* rules credit before scaling */
} ref_result;

/* SPEC §4, written from the text (plus rule 0 of rules.h: a rejected
 * broadcast holds the message). act bits: GET, OPEN, BIN. */
static ref_result ref_rules(int cls, int ti, int comp, int rej, int g, int o, int b)
{
    ref_result r;
    memset(&r, 0, sizeof r);
    if (rej) {
        r.fired |= 1u << 0;
        g = 0, o = 0, b = 1;
    }
    if (ti && !b) { /* threat_intel_block */
        r.fired |= 1u << 1;
        b = 1;
        r.pen[2] += -0.5;
    }
    if (o && !g) { /* preview_requires_fetch */
        r.fired |= 1u << 2;
        o = 0;
        r.pen[1] += -0.1;
    }
    if (o && b) { /* quarantine_supersedes_preview */
        r.fired |= 1u << 3;
        o = 0;
        r.pen[1] += -0.05;
    }
    if (o && comp) { /* compromised_lockdown, no penalty */
        r.fired |= 1u << 4;
        o = 0;
    }
    r.eff[0] = g, r.eff[1] = o, r.eff[2] = b;
    r.term[0] = r.pen[0], r.term[1] = r.pen[1], r.term[2] = r.pen[2];
    if (b) {
        r.outcome = MS_OUTCOME_QUARANTINED;
        r.business = SPEC_REWARD[cls][2];
        r.term[2] += SPEC_REWARD[cls][2];
    } else if (g) {
        r.outcome = o ? MS_OUTCOME_PREVIEWED : MS_OUTCOME_DELIVERED;
        r.business = SPEC_REWARD[cls][0] + (o ? SPEC_REWARD[cls][1] : 0);
        r.term[0] += SPEC_REWARD[cls][0];
        r.term[1] += o ? SPEC_REWARD[cls][1] : 0;
        if (cls == MS_CLASS_MALWARE) {
            r.compromise = 1;
            r.comp_cost = -2.0;
            r.term[0] += -2.0;
        }
    } else {
        r.outcome = MS_OUTCOME_IGNORED;
        r.business = SPEC_REWARD[cls][3];
        r.term[0] += SPEC_REWARD[cls][3];
    }
    r.raw = r.business + r.pen[0] + r.pen[1] + r.pen[2] + r.comp_cost;
    return r;
}

static double clip(double x, double c) { return x > c ? c : x < -c ? -c : x; }

static void test_rules_truth_table(void)
{
    ms_config c;
    ms_config_defaults(&c);
    int cases = 0;
    double max_abs = 0;
    for (int cls = 0; cls < MS_NCLASS; cls++)
        for (int ti = 0; ti < 2; ti++)
            for (int comp = 0; comp < 2; comp++)
                for (int rej = 0; rej < 2; rej++)
                    for (int a = 0; a < 8; a++) {
                        unsigned char act[3] = {a & 1, a >> 1 & 1, a >> 2 & 1};
                        ms_facts f = {(unsigned char)cls, (unsigned char)ti, (unsigned char)comp, (unsigned char)rej};
                        ms_result r;
                        ms_rules_apply(&c, &f, act, &r);
                        ref_result x = ref_rules(cls, ti, comp, rej, act[0], act[1], act[2]);
                        cases++;
                        char where[96];
                        snprintf(where, sizeof where, "%s ti=%d comp=%d rej=%d act=(%d,%d,%d)", ms_class_names[cls], ti,
                                 comp, rej, act[0], act[1], act[2]);
                        CHECK(r.eff[0] == x.eff[0] && r.eff[1] == x.eff[1] && r.eff[2] == x.eff[2],
                              "%s: effective (%d,%d,%d), want (%d,%d,%d)", where, r.eff[0], r.eff[1], r.eff[2], x.eff[0],
                              x.eff[1], x.eff[2]);
                        CHECK(r.outcome == x.outcome, "%s: outcome %s, want %s", where, ms_outcome_names[r.outcome],
                              ms_outcome_names[x.outcome]);
                        CHECK(r.fired == x.fired, "%s: fired %#x, want %#x", where, r.fired, x.fired);
                        CHECK(r.compromise == x.compromise && r.compromise_cost == x.comp_cost, "%s: compromise %d %g",
                              where, r.compromise, r.compromise_cost);
                        CHECK(fabs(r.business - x.business) < 1e-12, "%s: business %g, want %g", where, r.business, x.business);
                        for (int i = 0; i < 3; i++)
                            CHECK(fabs(r.penalty[i] - x.pen[i]) < 1e-12, "%s: penalty[%s] %g, want %g", where,
                                  ms_agent_names[i], r.penalty[i], x.pen[i]);
                        CHECK(fabs(r.raw - x.raw) < 1e-12, "%s: raw %g, want %g", where, r.raw, x.raw);
                        CHECK(r.reward == clip(r.raw, 8.0), "%s: reward %g for raw %g", where, r.reward, r.raw);
                        /* Postcondition: never a preview of a quarantined or unfetched message. */
                        CHECK(!r.eff[1] || (r.eff[0] && !r.eff[2]), "%s: effective preview not allowed", where);
                        if (fabs(r.raw) > max_abs)
                            max_abs = fabs(r.raw);
                    }
    CHECK(cases == 256, "cases %d", cases);
    CHECK(max_abs < 8.0, "the default table reaches |raw| = %g >= reward_clip 8", max_abs);

    /* Spot values from the SPEC text. */
    ms_facts mal = {MS_CLASS_MALWARE, 0, 0, 0};
    ms_result r;
    ms_rules_apply(&c, &mal, (const unsigned char[3]){1, 0, 0}, &r);
    CHECK(r.raw == -6.0 && r.compromise, "malware delivered: -4 - 2 = %g", r.raw);
    ms_rules_apply(&c, &mal, (const unsigned char[3]){1, 1, 0}, &r);
    CHECK(fabs(r.raw + 7.0) < 1e-12, "malware previewed: -4 - 1 - 2 = %g", r.raw);
    ms_facts ben = {MS_CLASS_BENIGN, 0, 0, 0};
    ms_rules_apply(&c, &ben, (const unsigned char[3]){1, 1, 0}, &r);
    CHECK(r.raw == 1.5 && r.outcome == MS_OUTCOME_PREVIEWED, "benign previewed: %g", r.raw);
}

static void test_rules_clipping(void)
{
    ms_config c;
    ms_config_defaults(&c);
    c.reward_clip = 1.0;
    int binding = 0;
    for (int cls = 0; cls < MS_NCLASS; cls++)
        for (int ti = 0; ti < 2; ti++)
            for (int comp = 0; comp < 2; comp++)
                for (int a = 0; a < 8; a++) {
                    unsigned char act[3] = {a & 1, a >> 1 & 1, a >> 2 & 1};
                    ms_facts f = {(unsigned char)cls, (unsigned char)ti, (unsigned char)comp, 0};
                    ms_result r;
                    ms_rules_apply(&c, &f, act, &r);
                    ref_result x = ref_rules(cls, ti, comp, 0, act[0], act[1], act[2]);
                    CHECK(fabs(r.raw - x.raw) < 1e-12, "raw is kept unclipped: %g vs %g", r.raw, x.raw);
                    CHECK(r.reward >= -1.0 && r.reward <= 1.0 && fabs(r.reward - clip(x.raw, 1.0)) < 1e-12,
                          "reward %g for raw %g under clip 1", r.reward, x.raw);
                    binding += fabs(x.raw) > 1.0;
                }
    CHECK(binding > 10, "clip 1.0 binds in %d cases", binding);
}

static void test_rules_credit(void)
{
    ms_config c, tight;
    ms_config_defaults(&c);
    tight = c;
    tight.reward_clip = 1.0;
    for (int cls = 0; cls < MS_NCLASS; cls++)
        for (int ti = 0; ti < 2; ti++)
            for (int comp = 0; comp < 2; comp++)
                for (int rej = 0; rej < 2; rej++)
                    for (int a = 0; a < 8; a++)
                        for (int which = 0; which < 2; which++) {
                            const ms_config *cf = which ? &tight : &c;
                            double cl = cf->reward_clip;
                            unsigned char act[3] = {a & 1, a >> 1 & 1, a >> 2 & 1};
                            ms_facts f = {(unsigned char)cls, (unsigned char)ti, (unsigned char)comp, (unsigned char)rej};
                            ms_result r;
                            ms_rules_apply(cf, &f, act, &r);
                            ref_result x = ref_rules(cls, ti, comp, rej, act[0], act[1], act[2]);
                            double g[3], d[3], ru[3];
                            ms_rules_credit(cf, &f, act, &r, MS_CREDIT_GLOBAL, g);
                            ms_rules_credit(cf, &f, act, &r, MS_CREDIT_DIFFERENCE, d);
                            ms_rules_credit(cf, &f, act, &r, MS_CREDIT_RULES, ru);
                            char where[96];
                            snprintf(where, sizeof where, "clip %g %s ti=%d comp=%d rej=%d act=(%d,%d,%d)", cl,
                                     ms_class_names[cls], ti, comp, rej, act[0], act[1], act[2]);
                            double want_r = clip(x.raw, cl);
                            for (int i = 0; i < 3; i++) {
                                CHECK(g[i] == r.reward, "%s: global credit[%d] %g != r %g", where, i, g[i], r.reward);
                                int alt[3] = {act[0], act[1], act[2]};
                                alt[i] = 0;
                                ref_result y = ref_rules(cls, ti, comp, rej, alt[0], alt[1], alt[2]);
                                double want = want_r - clip(y.raw, cl);
                                CHECK(fabs(d[i] - want) < 1e-12, "%s: difference credit[%s] %g, want %g", where,
                                      ms_agent_names[i], d[i], want);
                                if (!act[i])
                                    CHECK(d[i] == 0.0, "%s: agent %s did nothing but gets %g", where, ms_agent_names[i], d[i]);
                            }
                            double sum = ru[0] + ru[1] + ru[2];
                            if (fabs(x.raw) <= cl) {
                                CHECK(fabs(sum - r.raw) < 1e-12, "%s: rules terms sum %g != r %g", where, sum, r.raw);
                                for (int i = 0; i < 3; i++)
                                    CHECK(fabs(ru[i] - x.term[i]) < 1e-12, "%s: rules credit[%s] %g, want %g", where,
                                          ms_agent_names[i], ru[i], x.term[i]);
                            } else {
                                CHECK(fabs(sum - r.reward) < 1e-12, "%s: clipped rules terms sum %g != clipped r %g", where,
                                      sum, r.reward);
                                for (int i = 0; i < 3; i++)
                                    CHECK(fabs(ru[i] - x.term[i] * want_r / x.raw) < 1e-12, "%s: scaled rules credit[%s] %g",
                                          where, ms_agent_names[i], ru[i]);
                            }
                        }

    /* Named cases of "the action changed nothing, so its credit is 0". */
    double d[3];
    ms_result r;
    ms_facts lock = {MS_CLASS_BENIGN, 0, 1, 0};
    const unsigned char get_open[3] = {1, 1, 0};
    ms_rules_apply(&c, &lock, get_open, &r);
    ms_rules_credit(&c, &lock, get_open, &r, MS_CREDIT_DIFFERENCE, d);
    /* GET: delivered 1.0 vs (ignored -0.5 + preview_requires_fetch -0.1) */
    CHECK(d[MS_AGENT_OPEN] == 0.0 && fabs(d[MS_AGENT_GET] - 1.6) < 1e-12, "preview under compromised lockdown: OPEN %g GET %g",
          d[MS_AGENT_OPEN], d[MS_AGENT_GET]);
    ms_facts spam = {MS_CLASS_SPAM, 0, 0, 0};
    const unsigned char get_bin[3] = {1, 0, 1};
    ms_rules_apply(&c, &spam, get_bin, &r);
    ms_rules_credit(&c, &spam, get_bin, &r, MS_CREDIT_DIFFERENCE, d);
    CHECK(d[MS_AGENT_GET] == 0.0, "GET of a quarantined message changes nothing: %g", d[MS_AGENT_GET]);
    CHECK(fabs(d[MS_AGENT_BIN] - 0.8) < 1e-12, "BIN: quarantined 0.5 vs delivered -0.3: %g", d[MS_AGENT_BIN]);
    ms_facts held = {MS_CLASS_MALWARE, 1, 1, 1};
    const unsigned char all[3] = {1, 1, 1};
    ms_rules_apply(&c, &held, all, &r);
    ms_rules_credit(&c, &held, all, &r, MS_CREDIT_DIFFERENCE, d);
    CHECK(d[0] == 0.0 && d[1] == 0.0 && d[2] == 0.0, "held message: no agent's action counts (%g %g %g)", d[0], d[1], d[2]);
    /* With threat intel the message is quarantined either way, but BIN's own
     * QUARANTINE avoids the threat_intel_block penalty: its credit is exactly
     * that penalty, not 0. */
    ms_facts ti = {MS_CLASS_PHISHING, 1, 0, 0};
    ms_rules_apply(&c, &ti, get_bin, &r);
    ms_rules_credit(&c, &ti, get_bin, &r, MS_CREDIT_DIFFERENCE, d);
    CHECK(d[MS_AGENT_BIN] == -c.penalty_threat_intel_block && d[MS_AGENT_GET] == 0.0, "threat intel: BIN %g GET %g",
          d[MS_AGENT_BIN], d[MS_AGENT_GET]);
}

/* ------------------------------------------------------------- crypto ---- */

static void unhex(const char *h, unsigned char *out)
{
    for (size_t i = 0; h[2 * i]; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
        out[i] = (unsigned char)v;
    }
}

/* ms_hex and ms_unhex over every byte value. */
static void test_hex_every_byte(void)
{
    unsigned char in[256], back[256];
    for (int i = 0; i < 256; i++)
        in[i] = (unsigned char)i;
    char got[513], want[513];
    for (int i = 0; i < 256; i++)
        snprintf(want + 2 * i, 3, "%02x", i);
    memset(got, 'x', sizeof got);
    ms_hex(in, 256, got);
    CHECK(!memcmp(got, want, 513), "ms_hex of 0..255: %.64s...", got);
    CHECK(ms_unhex(got, 512, back, 256) == 0 && !memcmp(back, in, 256), "ms_unhex(ms_hex(x)) != x");
    CHECK(ms_is_lower_hex(got, 512), "ms_hex output is not lowercase hex");
    ms_hex(in, 0, got);
    CHECK(got[0] == 0, "ms_hex of nothing is the empty string");
}

static void test_hmac_rfc4231(void)
{
    unsigned char k1[20], k3[20], k4[25], k6[131], d3[50], d4[50];
    memset(k1, 0x0b, sizeof k1);
    memset(k3, 0xaa, sizeof k3);
    for (int i = 0; i < 25; i++)
        k4[i] = (unsigned char)(i + 1);
    memset(k6, 0xaa, sizeof k6);
    memset(d3, 0xdd, sizeof d3);
    memset(d4, 0xcd, sizeof d4);
    static const char d6[] = "Test Using Larger Than Block-Size Key - Hash Key First";
    static const char d7[] = "This is a test using a larger than block-size key and a larger than block-size data. "
                             "The key needs to be hashed before being used by the HMAC algorithm.";
    const struct {
        const unsigned char *key;
        size_t klen;
        const void *data;
        size_t dlen;
        const char *mac;
    } tc[] = {
        {k1, 20, "Hi There", 8, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
        {(const unsigned char *)"Jefe", 4, "what do ya want for nothing?", 28,
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
        {k3, 20, d3, 50, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
        {k4, 25, d4, 50, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
        {k6, 131, d6, sizeof d6 - 1, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
        {k6, 131, d7, sizeof d7 - 1, "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
    };
    ms_hmac h;
    ms_err e;
    CHECK(ms_hmac_init(&h, &e) == MS_OK, "init: %s", e.msg);
    /* One context for every case, rekeyed per case. */
    for (size_t i = 0; i < sizeof tc / sizeof tc[0]; i++) {
        unsigned char want[32], got[32];
        unhex(tc[i].mac, want);
        CHECK(ms_hmac_setkey(&h, tc[i].key, tc[i].klen, &e) == MS_OK, "setkey %zu: %s", i, e.msg);
        CHECK(ms_hmac_compute(&h, tc[i].data, tc[i].dlen, got) == MS_OK, "compute %zu", i);
        CHECK(!memcmp(got, want, 32), "RFC 4231 case %s", i < 4 ? (const char *[]){"1", "2", "3", "4"}[i] : i == 4 ? "6" : "7");
    }
    /* One key, several messages: cases 6 and 7 share the key. */
    unsigned char m6[32], m7[32], out[32];
    unhex(tc[4].mac, m6);
    unhex(tc[5].mac, m7);
    CHECK(ms_hmac_setkey(&h, k6, sizeof k6, &e) == MS_OK, "setkey");
    for (int round = 0; round < 3; round++) {
        CHECK(ms_hmac_compute(&h, d6, sizeof d6 - 1, out) == MS_OK && !memcmp(out, m6, 32), "reuse round %d: case 6", round);
        CHECK(ms_hmac_compute(&h, d7, sizeof d7 - 1, out) == MS_OK && !memcmp(out, m7, 32), "reuse round %d: case 7", round);
    }
    ms_hmac_release(&h);
}

static void sha256(const void *in, size_t n, unsigned char out[32])
{
    unsigned int len = 0;
    EVP_Digest(in, n, out, &len, EVP_sha256(), NULL);
}

static int is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

static void small_config(ms_config *c, int envs, int episode_len);

/* Generation gen of the development keyring of seed, as the sim loads it. */
static int dev_keys(ms_keys *k, uint64_t seed, int gen, ms_err *e)
{
    ms_keyring *kr;
    int rc = ms_keyring_dev(seed, &kr, e);
    if (rc)
        return rc;
    ms_key_source src = {kr, gen, 1, 0};
    rc = ms_keys_load(k, &src, 0, e);
    ms_keyring_free(kr);
    return rc;
}

static void test_pseudonyms(void)
{
    ms_err e;
    ms_keys k0, k1, k0b;
    CHECK(dev_keys(&k0, 99, 0, &e) == MS_OK && dev_keys(&k1, 99, 1, &e) == MS_OK && dev_keys(&k0b, 99, 0, &e) == MS_OK,
          "dev keys: %s", e.msg);
    CHECK(!memcmp(&k0, &k0b, sizeof k0), "a generation's keys are a pure function of its key");
    CHECK(!strcmp(k0.key_id, "dev0") && !strcmp(k1.key_id, "dev1") && k0.dev && k1.generation == 1, "key ids %s %s",
          k0.key_id, k1.key_id);
    /* Documented derivations, recomputed with libcrypto directly. */
    unsigned char in[18 + 16], want[32];
    memcpy(in, "marlsim-dev-key-v1", 18);
    for (int b = 0; b < 8; b++)
        in[18 + b] = (unsigned char)((uint64_t)99 >> (8 * b)), in[26 + b] = (unsigned char)(b == 0 ? 1 : 0);
    sha256(in, sizeof in, want);
    CHECK(!memcmp(k1.key, want, 32), "dev key = SHA-256(tag || seed || generation)");
    size_t outl = 0;
    unsigned char bk[32], pk[32];
    CHECK(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, k1.key, 32, (const unsigned char *)"marlsim-broadcast-v1", 20, bk,
                    sizeof bk, &outl) != NULL && outl == 32, "EVP_Q_mac");
    CHECK(!memcmp(k1.broadcast_key, bk, 32), "broadcast key = HMAC(key, \"marlsim-broadcast-v1\")");
    CHECK(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, k1.key, 32, (const unsigned char *)"marlsim-personal-v1", 19, pk,
                    sizeof pk, &outl) != NULL && outl == 32, "EVP_Q_mac");
    CHECK(!memcmp(k1.personal, pk, 32), "personal secret = HMAC(key, \"marlsim-personal-v1\")");
    CHECK(strlen(k0.fingerprint) == 32 && is_lower_hex(k0.fingerprint, 32) && strcmp(k0.fingerprint, k1.fingerprint),
          "fingerprints %s %s", k0.fingerprint, k1.fingerprint);
    char keyhex[65];
    ms_hex(k0.key, 32, keyhex);
    CHECK(strstr(keyhex, k0.fingerprint) == NULL, "the fingerprint must not be the key");

    enum { ENVS = 5 };
    ms_pseudonyms p, q, r;
    ms_hmac h;
    CHECK(ms_hmac_init(&h, &e) == MS_OK, "hmac");
    CHECK(ms_pseudonyms_init(&p, ENVS, &e) == MS_OK && ms_pseudonyms_init(&q, ENVS, &e) == MS_OK &&
              ms_pseudonyms_init(&r, ENVS, &e) == MS_OK, "init");
    CHECK(ms_pseudonyms_rekey(&p, &h, &k0, &e) == MS_OK && ms_pseudonyms_rekey(&q, &h, &k0, &e) == MS_OK &&
              ms_pseudonyms_rekey(&r, &h, &k1, &e) == MS_OK, "rekey: %s", e.msg);
    CHECK(!strcmp(p.key_id, "dev0") && !strcmp(r.key_id, "dev1"), "table key ids");
    size_t ns = (size_t)MS_VOCAB_LOCALS * MS_VOCAB_DOMAINS;
    CHECK(!memcmp(p.sender, q.sender, ns * MS_PSEUDO_LEN) && !memcmp(p.recipient, q.recipient, ENVS * MS_PSEUDO_LEN) &&
              !memcmp(p.subject, q.subject, MS_VOCAB_SUBJECTS * MS_PSEUDO_LEN) &&
              !memcmp(p.attach, q.attach, MS_VOCAB_ATTACH * MS_PSEUDO_LEN) &&
              !memcmp(p.link, q.link, MS_VOCAB_LINKS * MS_PSEUDO_LEN), "same key, same values: same pseudonyms");
    int hexbad = 0, same_gen = 0;
    for (size_t i = 0; i < ns; i++) {
        hexbad += !ms_b64url_is_canonical(p.sender[i], MS_PSEUDO_LEN, MS_PSEUDO_BYTES);
        same_gen += !memcmp(p.sender[i], r.sender[i], MS_PSEUDO_LEN);
    }
    for (int i = 0; i < MS_VOCAB_LINKS; i++) {
        hexbad += !ms_b64url_is_canonical(p.link[i], MS_PSEUDO_LEN, MS_PSEUDO_BYTES);
        same_gen += !memcmp(p.link[i], r.link[i], MS_PSEUDO_LEN);
    }
    for (int i = 0; i < ENVS; i++) {
        hexbad += !ms_b64url_is_canonical(p.recipient[i], MS_PSEUDO_LEN, MS_PSEUDO_BYTES);
        same_gen += !memcmp(p.recipient[i], r.recipient[i], MS_PSEUDO_LEN);
        for (int j = 0; j < i; j++)
            CHECK(memcmp(p.recipient[i], p.recipient[j], MS_PSEUDO_LEN), "recipients %d and %d collide", i, j);
    }
    CHECK(hexbad == 0, "%d pseudonyms are not 22 canonical base64url symbols", hexbad);
    CHECK(same_gen == 0, "%d pseudonyms unchanged by a new key generation", same_gen);
    /* A pseudonym is a keyed HMAC of the raw value the key holder can
     * regenerate (tag, NUL separator, value; first 128 bits). */
    static const char *const tags[MS_NFIELD] = {"sender", "recipient", "subject", "attachment", "link"};
    char(*tables[MS_NFIELD])[MS_PSEUDO_LEN] = {p.sender, p.recipient, p.subject, p.attach, p.link};
    for (int f = 0; f < MS_NFIELD; f++)
        for (int i = 0; i < 3; i++) {
            char raw[128];
            unsigned char msg[160], md[32];
            CHECK(ms_vocab_raw(&k0, ENVS, f, i, raw, sizeof raw, &e) == MS_OK && raw[0], "raw %d %d", f, i);
            size_t tl = strlen(tags[f]), rl = strlen(raw);
            memcpy(msg, tags[f], tl);
            msg[tl] = 0;
            memcpy(msg + tl + 1, raw, rl);
            CHECK(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, k0.key, 32, msg, tl + 1 + rl, md, 32, &outl) != NULL,
                  "mac");
            char sym[MS_PSEUDO_LEN];
            CHECK(ms_b64url_encode_naive(md, 16, sym) == MS_PSEUDO_LEN, "base64url");
            CHECK(!memcmp(tables[f][i], sym, MS_PSEUDO_LEN), "%s %d: pseudonym is not HMAC(key, tag || raw)", tags[f], i);
        }
    CHECK(ms_vocab_raw(&k0, ENVS, MS_FIELD_RECIPIENT, ENVS, (char[8]){0}, 8, &e) == MS_EINPUT, "out of range");
    ms_keys_clear(&k0);
    ms_keys_clear(&k0b);
    ms_keys_clear(&k1);
    ms_pseudonyms_release(&p);
    ms_pseudonyms_release(&q);
    ms_pseudonyms_release(&r);
    ms_hmac_release(&h);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* (h) of the trust issue: an attacker with the lake, the binary and the
 * seed but another keyring regenerates none of the raw personal values: not
 * the vocabularies behind the pseudonyms, and not which value each message
 * drew (the personal streams are keyed by the generation's secret too). */
static void test_raw_values_need_the_key(void)
{
    char dir[] = "/tmp/marlsim-raw-XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char pa[64], pb[64];
    snprintf(pa, sizeof pa, "%s/a", dir);
    snprintf(pb, sizeof pb, "%s/b", dir);
    ms_err e;
    ms_keyring *ka = NULL, *kb = NULL, *kdev = NULL;
    ms_keyring_source sa = {MS_KEYRING_FILE, "", "test"}, sb = {MS_KEYRING_FILE, "", "test"};
    snprintf(sa.spec, sizeof sa.spec, "%s", pa);
    snprintf(sb.spec, sizeof sb.spec, "%s", pb);
    CHECK(ms_keyring_create(pa, "a", &e) == MS_OK && ms_keyring_create(pb, "b", &e) == MS_OK &&
              ms_keyring_load(&sa, &ka, &e) == MS_OK && ms_keyring_load(&sb, &kb, &e) == MS_OK &&
              ms_keyring_dev(1, &kdev, &e) == MS_OK, "keyrings: %s", e.msg);
    if (!ka || !kb || !kdev)
        return;
    ms_key_source src_a = {ka, 0, 1, 0}, src_b = {kb, 0, 1, 0}, src_dev = {kdev, 0, 1, 0};
    ms_keys A, B, D;
    CHECK(ms_keys_load(&A, &src_a, 0, &e) == MS_OK && ms_keys_load(&B, &src_b, 0, &e) == MS_OK &&
              ms_keys_load(&D, &src_dev, 0, &e) == MS_OK, "keys: %s", e.msg);
    enum { ENVS = 16 };
    static const int sizes[MS_NFIELD] = {MS_VOCAB_LOCALS * MS_VOCAB_DOMAINS, ENVS, MS_VOCAB_SUBJECTS, MS_VOCAB_ATTACH,
                                         MS_VOCAB_LINKS};
    /* Every raw value of A's vocabularies against every one an attacker can
     * produce with B or with the seed's development key: no match at all
     * (the sender local parts are a public list; the domains are not). */
    enum { PER = 256 };
    static char va[MS_NFIELD * PER][128], vo[2 * MS_NFIELD * PER][128];
    int na = 0, no = 0, again = 0;
    for (int f = 0; f < MS_NFIELD; f++) {
        int n = sizes[f] < PER ? sizes[f] : PER;
        for (int i = 0; i < n; i++) {
            char ra2[128];
            CHECK(ms_vocab_raw(&A, ENVS, f, i, va[na], sizeof va[na], &e) == MS_OK &&
                      ms_vocab_raw(&A, ENVS, f, i, ra2, sizeof ra2, &e) == MS_OK &&
                      ms_vocab_raw(&B, ENVS, f, i, vo[no], sizeof vo[no], &e) == MS_OK &&
                      ms_vocab_raw(&D, ENVS, f, i, vo[no + 1], sizeof vo[no + 1], &e) == MS_OK, "raw");
            again += !strcmp(va[na], ra2);
            na++;
            no += 2;
        }
    }
    qsort(vo, (size_t)no, sizeof vo[0], cmp_str);
    int same = 0;
    for (int i = 0; i < na; i++)
        same += bsearch(va[i], vo, (size_t)no, sizeof vo[0], cmp_str) != NULL;
    CHECK(again == na, "the key holder regenerates the same raw values (%d of %d)", again, na);
    CHECK(same == 0, "%d of A's %d raw values were produced by another keyring or the seed's development key", same, na);
    /* The draws of which value each message carries: the same seed under A
     * and B (the class and features are the seed's: the same messages) picks
     * other senders, subjects, attachments and links. */
    ms_config c;
    small_config(&c, 4, 64);
    ms_sim sa_sim, sb_sim;
    ms_ref_policy rp;
    CHECK(ms_sim_init(&sa_sim, &c, MS_STREAM_ENV, &src_a, &e) == MS_OK &&
              ms_sim_init(&sb_sim, &c, MS_STREAM_ENV, &src_b, &e) == MS_OK &&
              ms_ref_policy_init(&rp, MS_REF_HEURISTIC, &c, 0, &e) == MS_OK, "sims: %s", e.msg);
    ms_policy pol = ms_ref_policy_stage(&rp);
    int n = 0, same_class = 0, same_sender = 0, same_subject = 0;
    for (int k = 0; k < 64; k++) {
        CHECK(ms_sim_step(&sa_sim, &pol, NULL, 0, &e) == MS_OK && ms_sim_step(&sb_sim, &pol, NULL, 0, &e) == MS_OK,
              "step");
        for (int i = 0; i < c.envs; i++, n++) {
            same_class += sa_sim.s.msg[i].cls == sb_sim.s.msg[i].cls;
            same_sender += sa_sim.s.msg[i].sender == sb_sim.s.msg[i].sender;
            same_subject += sa_sim.s.msg[i].subject == sb_sim.s.msg[i].subject;
        }
    }
    CHECK(same_class > n * 9 / 10, "the seed's messages (class) mostly agree: %d of %d", same_class, n);
    CHECK(same_sender < n / 20 && same_subject < n / 20, "the personal draws differ: %d senders, %d subjects of %d agree",
          same_sender, same_subject, n);
    ms_ref_policy_release(&rp);
    ms_sim_release(&sa_sim);
    ms_sim_release(&sb_sim);
    ms_keys_clear(&A);
    ms_keys_clear(&B);
    ms_keys_clear(&D);
    ms_keyring_free(ka);
    ms_keyring_free(kb);
    ms_keyring_free(kdev);
    unlink(pa);
    unlink(pb);
    rmdir(dir);
}

/* --------------------------------------------------------- step loop ---- */

static void small_config(ms_config *c, int envs, int episode_len)
{
    ms_config_defaults(c);
    c->envs = envs;
    c->episode_len = episode_len;
}

/* A sink that checks every finished step against the reference rules and
 * copies out what the test compares. */
typedef struct probe {
    const ms_config *cfg;
    int mailbox;          /* which mailbox to record */
    int steps, max_steps;
    char (*bytes)[MS_BCAST_MAX];
    int *len;
    ms_msg *msg;
    double *reward;
    int bad_rules, bad_credit, bad_end, bad_facts;
} probe;

static int probe_record(void *ctx, const ms_step *s, ms_err *e)
{
    (void)e;
    probe *p = ctx;
    for (int i = 0; i < s->envs; i++) {
        const ms_msg *m = &s->msg[i];
        const ms_facts *f = &s->facts[i];
        const unsigned char *a = s->act + 3 * i;
        p->bad_facts += f->cls != m->cls || f->threat_intel != (m->f[MS_F_THREAT_INTEL_HIT] != 0) ||
                        f->compromised != (m->f[MS_F_COMPROMISED] != 0) || f->rejected != (s->reject[i] != 0);
        ref_result x = ref_rules(f->cls, f->threat_intel, f->compromised, f->rejected, a[0], a[1], a[2]);
        const ms_result *r = &s->res[i];
        p->bad_rules += fabs(r->raw - x.raw) > 1e-12 || r->outcome != x.outcome || r->fired != x.fired;
        for (int k = 0; k < 3; k++) {
            int alt[3] = {a[0], a[1], a[2]};
            alt[k] = 0;
            ref_result y = ref_rules(f->cls, f->threat_intel, f->compromised, f->rejected, alt[0], alt[1], alt[2]);
            double want = p->cfg->credit == MS_CREDIT_DIFFERENCE ? clip(x.raw, 8) - clip(y.raw, 8) : clip(x.raw, 8);
            p->bad_credit += fabs(s->credit[3 * i + k] - want) > 1e-12;
        }
        p->bad_end += s->episode_end[i] != (m->t == p->cfg->episode_len - 1);
    }
    if (p->steps < p->max_steps) {
        int i = p->mailbox;
        if (p->bytes) {
            memcpy(p->bytes[p->steps], s->bcast + (size_t)i * MS_BCAST_MAX, (size_t)s->bcast_len[i]);
            p->len[p->steps] = s->bcast_len[i];
        }
        if (p->msg)
            p->msg[p->steps] = s->msg[i];
        if (p->reward)
            p->reward[p->steps] = s->res[i].reward;
    }
    p->steps++;
    return MS_OK;
}

/* Runs `steps` steps of a training-stream sim with a random policy and
 * records mailbox `mb`. */
/* Runs policy kind (MS_REF_*; the random one is keyed by c->seed) and
 * records mailbox mb. */
static void run_recorded_with(const ms_config *c, uint32_t stream, int steps, int mb, int kind, probe *p)
{
    ms_sim sim;
    ms_ref_policy rp;
    ms_err e;
    memset(p, 0, sizeof *p);
    p->cfg = c;
    p->mailbox = mb;
    p->max_steps = steps;
    p->bytes = calloc((size_t)steps, MS_BCAST_MAX);
    p->len = calloc((size_t)steps, sizeof *p->len);
    p->msg = calloc((size_t)steps, sizeof *p->msg);
    p->reward = calloc((size_t)steps, sizeof *p->reward);
    CHECK(ms_sim_init(&sim, c, stream, NULL, &e) == MS_OK, "sim init: %s", e.msg);
    CHECK(ms_ref_policy_init(&rp, kind, c, c->seed, &e) == MS_OK, "policy");
    ms_policy pol = ms_ref_policy_stage(&rp);
    ms_sink sink = {probe_record, p};
    for (int k = 0; k < steps; k++)
        CHECK(ms_sim_step(&sim, &pol, &sink, 1, &e) == MS_OK, "step %d: %s", k, e.msg);
    ms_ref_policy_release(&rp);
    ms_sim_release(&sim);
}

static void run_recorded(const ms_config *c, uint32_t stream, int steps, int mb, probe *p)
{
    run_recorded_with(c, stream, steps, mb, MS_REF_RANDOM, p);
}

static void probe_free(probe *p)
{
    free(p->bytes);
    free(p->len);
    free(p->msg);
    free(p->reward);
}

/* A mailbox's messages do not depend on how many mailboxes run. */
static void test_sim_stream_independence(void)
{
    ms_config c4, c16;
    small_config(&c4, 4, 32);
    small_config(&c16, 16, 32);
    c4.seed = c16.seed = 31337;
    enum { STEPS = 100 };
    probe a, b;
    run_recorded(&c4, MS_STREAM_ENV, STEPS, 2, &a);
    run_recorded(&c16, MS_STREAM_ENV, STEPS, 2, &b);
    int diff_f = 0, diff_b = 0;
    for (int k = 0; k < STEPS; k++) {
        diff_f += memcmp(a.msg[k].f, b.msg[k].f, sizeof a.msg[k].f) != 0 || a.msg[k].cls != b.msg[k].cls;
        diff_b += a.len[k] != b.len[k] || memcmp(a.bytes[k], b.bytes[k], (size_t)a.len[k]) != 0;
    }
    CHECK(diff_f == 0, "mailbox 2 features differ in %d of %d steps between envs=4 and envs=16", diff_f, STEPS);
    CHECK(diff_b == 0, "mailbox 2 broadcasts differ in %d of %d steps between envs=4 and envs=16", diff_b, STEPS);
    CHECK(a.bad_rules == 0 && a.bad_credit == 0 && a.bad_facts == 0 && a.bad_end == 0 && b.bad_rules == 0 &&
              b.bad_credit == 0, "step loop vs reference rules: rules %d credit %d facts %d ends %d", a.bad_rules,
          a.bad_credit, a.bad_facts, a.bad_end);
    /* Mailboxes 2 and 3 of one run are not copies of each other. */
    probe m3;
    run_recorded(&c4, MS_STREAM_ENV, STEPS, 3, &m3);
    int same = 0;
    for (int k = 0; k < STEPS; k++)
        same += !memcmp(a.msg[k].f, m3.msg[k].f, sizeof a.msg[k].f);
    CHECK(same < 5, "mailboxes 2 and 3 agree on %d steps", same);
    probe_free(&a);
    probe_free(&b);
    probe_free(&m3);
}

static void test_sim_determinism(void)
{
    ms_config c, c2;
    small_config(&c, 8, 64);
    c.seed = 12345;
    c.campaign_rate = 0.1;
    enum { STEPS = 150 };
    probe a, b, d, ev;
    run_recorded(&c, MS_STREAM_ENV, STEPS, 5, &a);
    run_recorded(&c, MS_STREAM_ENV, STEPS, 5, &b);
    int diff = 0;
    for (int k = 0; k < STEPS; k++)
        diff += a.len[k] != b.len[k] || memcmp(a.bytes[k], b.bytes[k], (size_t)a.len[k]) || a.reward[k] != b.reward[k];
    CHECK(diff == 0, "same seed: broadcasts differ in %d steps", diff);
    c2 = c;
    c2.seed = 12346;
    run_recorded(&c2, MS_STREAM_ENV, STEPS, 5, &d);
    diff = 0;
    for (int k = 0; k < STEPS; k++)
        diff += a.len[k] != d.len[k] || memcmp(a.bytes[k], d.bytes[k], (size_t)a.len[k]);
    CHECK(diff == STEPS, "another seed gives identical broadcasts in %d steps", STEPS - diff);
    /* The gate and report streams are disjoint from training, and from
     * each other, even when eval_seed == seed. */
    c2 = c;
    c2.eval_seed = c.seed;
    probe gate, rep, rep2, gate2;
    run_recorded(&c2, MS_STREAM_GATE, STEPS, 5, &ev);
    run_recorded(&c2, MS_STREAM_REPORT, STEPS, 5, &rep);
    int same_f = 0, same_gr = 0;
    for (int k = 0; k < STEPS; k++) {
        same_f += !memcmp(a.msg[k].f, ev.msg[k].f, sizeof a.msg[k].f) + !memcmp(a.msg[k].f, rep.msg[k].f, sizeof a.msg[k].f);
        same_gr += !memcmp(ev.msg[k].f, rep.msg[k].f, sizeof ev.msg[k].f);
    }
    CHECK(same_f < 3, "a held-out stream repeats the training stream (%d equal steps)", same_f);
    CHECK(same_gr < 3, "the gate stream repeats the report stream (%d equal steps)", same_gr);
    /* Report episodes are fixed by eval_seed alone: another run seed reports
     * on the same messages; its gate episodes are its own. (The mail a
     * mailbox gets later depends on what the policy did to earlier mail, so
     * both report runs use the same deterministic policy.) */
    ms_config c3 = c2;
    c3.seed = c2.seed + 1000;
    probe_free(&rep);
    run_recorded_with(&c2, MS_STREAM_REPORT, STEPS, 5, MS_REF_HEURISTIC, &rep);
    run_recorded_with(&c3, MS_STREAM_REPORT, STEPS, 5, MS_REF_HEURISTIC, &rep2);
    run_recorded(&c3, MS_STREAM_GATE, STEPS, 5, &gate2);
    int rep_same = 0, gate_same = 0;
    for (int k = 0; k < STEPS; k++) {
        rep_same += !memcmp(rep.msg[k].f, rep2.msg[k].f, sizeof rep.msg[k].f) && rep.msg[k].cls == rep2.msg[k].cls &&
                    rep.reward[k] == rep2.reward[k];
        gate_same += !memcmp(ev.msg[k].f, gate2.msg[k].f, sizeof ev.msg[k].f);
    }
    CHECK(rep_same == STEPS, "two run seeds report on other messages (%d of %d equal)", rep_same, STEPS);
    CHECK(gate_same < 3, "two run seeds share gate episodes (%d equal)", gate_same);
    probe_free(&rep);
    probe_free(&rep2);
    probe_free(&gate2);
    (void)gate;
    CHECK(a.bad_rules == 0 && a.bad_credit == 0 && a.bad_end == 0, "rules %d credit %d ends %d", a.bad_rules, a.bad_credit,
          a.bad_end);
    probe_free(&a);
    probe_free(&b);
    probe_free(&d);
    probe_free(&ev);
}

static void eval_once(const ms_config *c, int kind, int episodes, ms_tally *t)
{
    ms_sim sim;
    ms_ref_policy rp;
    ms_err e;
    CHECK(ms_sim_init(&sim, c, MS_STREAM_REPORT, NULL, &e) == MS_OK, "sim: %s", e.msg);
    CHECK(ms_ref_policy_init(&rp, kind, c, c->eval_seed, &e) == MS_OK, "policy: %s", e.msg);
    ms_policy pol = ms_ref_policy_stage(&rp);
    CHECK(ms_evaluate(&sim, &pol, episodes, NULL, 0, t, &e) == MS_OK, "evaluate: %s", e.msg);
    ms_ref_policy_release(&rp);
    ms_sim_release(&sim);
}

static void test_sim_evaluate(void)
{
    ms_config c;
    small_config(&c, 32, 64);
    ms_tally t[MS_NREF], again;
    for (int kind = 0; kind < MS_NREF; kind++) {
        eval_once(&c, kind, 4, &t[kind]);
        eval_once(&c, kind, 4, &again);
        CHECK(!memcmp(&t[kind], &again, sizeof again), "%s: two evaluations differ", ms_ref_names[kind]);
        CHECK(t[kind].env_steps == 4 * 64 * 32, "%s: env_steps %lld", ms_ref_names[kind], (long long)t[kind].env_steps);
        int64_t total = 0;
        for (int k = 0; k < MS_NCLASS; k++)
            for (int o = 0; o < MS_NOUTCOME_TALLY; o++)
                total += t[kind].outcomes[k][o];
        CHECK(total == t[kind].env_steps && t[kind].rejected == 0, "%s: outcomes %lld rejected %lld", ms_ref_names[kind],
              (long long)total, (long long)t[kind].rejected);
    }
    double mr = t[MS_REF_RANDOM].reward_sum, mh = t[MS_REF_HEURISTIC].reward_sum, mo = t[MS_REF_ORACLE].reward_sum;
    CHECK(mo > mh && mh > mr, "oracle %g > heuristic %g > random %g", mo, mh, mr);
    /* The oracle never delivers malware and never previews spam. */
    CHECK(t[MS_REF_ORACLE].outcomes[MS_CLASS_MALWARE][MS_OUTCOME_DELIVERED] == 0 &&
              t[MS_REF_ORACLE].outcomes[MS_CLASS_MALWARE][MS_OUTCOME_PREVIEWED] == 0 &&
              t[MS_REF_ORACLE].outcomes[MS_CLASS_SPAM][MS_OUTCOME_PREVIEWED] == 0, "oracle outcomes");
    /* The heuristic never plays a vetoed preview on an unfetched message. */
    CHECK(t[MS_REF_HEURISTIC].rule_hits[MS_RULE_PREVIEW_REQUIRES_FETCH] == 0 &&
              t[MS_REF_HEURISTIC].rule_hits[MS_RULE_THREAT_INTEL_BLOCK] == 0, "heuristic rule hits");

    /* One sim evaluated twice replays the same held-out episodes, even after
     * ms_sim_observe left a step half done. */
    ms_sim sim;
    ms_ref_policy rp;
    ms_err e;
    CHECK(ms_sim_init(&sim, &c, MS_STREAM_REPORT, NULL, &e) == MS_OK && ms_ref_policy_init(&rp, MS_REF_HEURISTIC, &c, 0, &e) == MS_OK,
          "init");
    ms_policy pol = ms_ref_policy_stage(&rp);
    ms_tally t1, t2;
    CHECK(ms_evaluate(&sim, &pol, 4, NULL, 0, &t1, &e) == MS_OK, "eval 1");
    CHECK(ms_sim_observe(&sim, &e) == MS_OK, "observe");
    CHECK(ms_evaluate(&sim, &pol, 4, NULL, 0, &t2, &e) == MS_OK, "eval 2");
    CHECK(!memcmp(&t1, &t2, sizeof t1) && !memcmp(&t1, &t[MS_REF_HEURISTIC], sizeof t1), "re-evaluation differs");
    ms_ref_policy_release(&rp);
    ms_sim_release(&sim);
}

/* The reference policies do what SPEC §4 says, step by step. */
typedef struct policy_probe {
    int kind;
    double ones, decisions;
    int bad;
} policy_probe;

static int policy_check(void *ctx, const ms_step *s, ms_err *e)
{
    (void)e;
    policy_probe *p = ctx;
    for (int i = 0; i < s->envs; i++) {
        const unsigned char *a = s->act + 3 * i;
        const float *f = s->feat + (size_t)i * MS_NFEAT;
        const float *pr = s->prob1 + 3 * i;
        if (p->kind == MS_REF_HEURISTIC) {
            int q = f[MS_F_THREAT_INTEL_HIT] == 1.0f || f[MS_F_URL_MISMATCH] == 1.0f || f[MS_F_SANDBOX_SCORE] > 0.5f;
            p->bad += a[0] != !q || a[1] != !q || a[2] != q;
            p->bad += pr[0] != a[0] || pr[1] != a[1] || pr[2] != a[2];
        } else if (p->kind == MS_REF_ORACLE) {
            const ms_facts *fa = &s->facts[i];
            double best = -1e9;
            int best_j = -1;
            for (int j = 0; j < 8; j++) {
                ref_result x = ref_rules(fa->cls, fa->threat_intel, fa->compromised, 0, j & 1, j >> 1 & 1, j >> 2 & 1);
                if (clip(x.raw, 8) > best + 1e-12)
                    best = clip(x.raw, 8), best_j = j;
            }
            p->bad += (a[0] | a[1] << 1 | a[2] << 2) != best_j;
        } else {
            for (int k = 0; k < 3; k++) {
                p->ones += a[k];
                p->decisions++;
                p->bad += pr[k] != 0.5f || a[k] > 1;
            }
        }
    }
    return MS_OK;
}

static void test_policy_reference(void)
{
    ms_config c;
    small_config(&c, 16, 64);
    c.campaign_rate = 0.1;
    for (int kind = 0; kind < MS_NREF; kind++) {
        ms_sim sim;
        ms_ref_policy rp;
        ms_err e;
        CHECK(ms_sim_init(&sim, &c, MS_STREAM_ENV, NULL, &e) == MS_OK && ms_ref_policy_init(&rp, kind, &c, 5, &e) == MS_OK, "init");
        ms_policy pol = ms_ref_policy_stage(&rp);
        policy_probe p = {kind, 0, 0, 0};
        ms_sink sink = {policy_check, &p};
        for (int k = 0; k < 128; k++)
            CHECK(ms_sim_step(&sim, &pol, &sink, 1, &e) == MS_OK, "step");
        CHECK(p.bad == 0, "%s: %d decisions differ from SPEC §4", ms_ref_names[kind], p.bad);
        if (kind == MS_REF_RANDOM)
            CHECK(fabs(p.ones / p.decisions - 0.5) < 5 * sqrt(0.25 / p.decisions), "random: %.4f ones", p.ones / p.decisions);
        ms_ref_policy_release(&rp);
        ms_sim_release(&sim);
    }
}

/* ms_sim_observe is the first half of a step: idempotent, and the next step
 * acts on exactly those messages. */
static int copy_first_bcast(void *ctx, const ms_step *s, ms_err *e)
{
    (void)e;
    memcpy(ctx, s->bcast, (size_t)s->bcast_len[0]);
    ((char *)ctx)[s->bcast_len[0]] = 0;
    return MS_OK;
}

static void test_sim_observe_and_rotation(void)
{
    ms_config c;
    small_config(&c, 3, 4);
    c.rotate_every_episodes = 1;
    ms_sim sim;
    ms_ref_policy rp;
    ms_err e;
    CHECK(ms_sim_init(&sim, &c, MS_STREAM_ENV, NULL, &e) == MS_OK && ms_ref_policy_init(&rp, MS_REF_HEURISTIC, &c, 0, &e) == MS_OK,
          "init");
    ms_policy pol = ms_ref_policy_stage(&rp);
    char seen[MS_BCAST_MAX + 1], acted[MS_BCAST_MAX + 1];
    ms_sink sink = {copy_first_bcast, acted};
    for (int k = 0; k < 12; k++) {
        CHECK(ms_sim_observe(&sim, &e) == MS_OK, "observe");
        memcpy(seen, sim.s.bcast, (size_t)sim.s.bcast_len[0]);
        seen[sim.s.bcast_len[0]] = 0;
        CHECK(ms_sim_observe(&sim, &e) == MS_OK, "observe again");
        CHECK(sim.s.bcast_len[0] == (int)strlen(seen) && !memcmp(sim.s.bcast, seen, strlen(seen)), "observe is idempotent");
        CHECK(ms_sim_step(&sim, &pol, &sink, 1, &e) == MS_OK, "step");
        CHECK(!strcmp(seen, acted), "step %d acted on other bytes than observed", k);
        char want[64];
        snprintf(want, sizeof want, "{\"v\":2,\"seq\":%d,\"env\":0,\"t\":%d,\"kid\":\"eval%d\",", k + 1, k % 4, k / 4);
        CHECK(!strncmp(acted, want, strlen(want)), "step %d: broadcast starts '%.60s', want '%s'", k, acted, want);
        for (int i = 0; i < 3; i++)
            CHECK(sim.s.reject[i] == MS_BCAST_OK, "step %d mailbox %d rejected (%d)", k, i, sim.s.reject[i]);
    }
    CHECK(sim.episodes == 3 && sim.key_index == 3, "episodes %d key index %d", sim.episodes, sim.key_index);
    ms_ref_policy_release(&rp);
    ms_sim_release(&sim);
}

void suite_sim(void)
{
    RUN(test_rng_known_values);
    RUN(test_rng_seeding);
    RUN(test_rng_below_unbiased);
    RUN(test_rng_normal_poisson);
    RUN(test_env_statistics);
    RUN(test_env_campaigns);
    RUN(test_env_mailbox_dynamics);
    RUN(test_rules_truth_table);
    RUN(test_rules_clipping);
    RUN(test_rules_credit);
    RUN(test_hex_every_byte);
    RUN(test_hmac_rfc4231);
    RUN(test_pseudonyms);
    RUN(test_raw_values_need_the_key);
    RUN(test_sim_stream_independence);
    RUN(test_sim_determinism);
    RUN(test_sim_evaluate);
    RUN(test_policy_reference);
    RUN(test_sim_observe_and_rotation);
}
