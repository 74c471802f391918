/* test_bcast.c — sim/bcast: the canonical broadcast bytes, the strict
 * validator against a hostile corpus, and tampering in transit inside the
 * step loop.
 *
 * Modified messages are re-MAC'd (HMAC-SHA256 under the broadcast key of the
 * bytes before `,"mac":`, computed here with libcrypto directly) whenever the
 * test wants exactly one thing wrong. Every validation runs on a heap copy of
 * exactly n bytes, so AddressSanitizer catches any read past n. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/b64.h"
#include "keys/keyring.h"
#include "sim/bcast.h"
#include "sim/config.h"
#include "sim/policy.h"
#include "sim/sim.h"
#include "tests/check.h"

#define BUF 4096

typedef struct fixture {
    ms_config cfg;
    ms_sim sim;
    ms_hmac mac;          /* keyed with the broadcast key */
    ms_msg msg;           /* the crafted message */
    char base[BUF];       /* its broadcast, NUL-terminated */
    size_t n;
    char hex[5][64];      /* from, to, subject, attachment, link pseudonyms (22 base64url symbols) */
    ms_keyring *kr;       /* the development keyring of the seed */
} fixture;

static int fixture_init(fixture *fx)
{
    ms_err e;
    memset(fx, 0, sizeof *fx);
    ms_config_defaults(&fx->cfg);
    fx->cfg.envs = 4;
    fx->cfg.episode_len = 64;
    fx->cfg.seed = 3;
    if (ms_keyring_dev(fx->cfg.seed, &fx->kr, &e)) {
        CHECK(0, "fixture: %s", e.msg);
        return -1;
    }
    ms_key_source ks = {fx->kr, 0, 1, 0};
    if (ms_sim_init(&fx->sim, &fx->cfg, MS_STREAM_ENV, &ks, &e) || ms_hmac_init(&fx->mac, &e) ||
        ms_hmac_setkey(&fx->mac, fx->sim.keys.broadcast_key, 32, &e)) {
        CHECK(0, "fixture: %s", e.msg);
        return -1;
    }
    /* A crafted message with known features (t = 5, t_frac = 5/64). */
    ms_msg *m = &fx->msg;
    static const int32_t f[MS_NFEAT] = {500000, 250000, 1000000, 0, 1000000, 0,
                                        300000, 0, 750000, 1000000, 123456,
                                        0, 0, 1000000, 0, 0, 900000, 0,
                                        0, 100000, 78125};
    memcpy(m->f, f, sizeof f);
    m->cls = MS_CLASS_PHISHING;
    m->attach = 7;
    m->link = 9;
    m->domain = 3;
    m->sender = 2 * MS_VOCAB_DOMAINS + 3;
    m->subject = 4;
    m->t = 5;
    fx->n = ms_bcast_encode(fx->base, m, 6, 1, &fx->sim.pn, &fx->mac, NULL);
    fx->base[fx->n] = 0;
    snprintf(fx->hex[0], 64, "%.22s", fx->sim.pn.sender[m->sender]);
    snprintf(fx->hex[1], 64, "%.22s", fx->sim.pn.recipient[1]);
    snprintf(fx->hex[2], 64, "%.22s", fx->sim.pn.subject[m->subject]);
    snprintf(fx->hex[3], 64, "%.22s", fx->sim.pn.attach[m->attach]);
    snprintf(fx->hex[4], 64, "%.22s", fx->sim.pn.link[m->link]);
    return 0;
}

static void fixture_release(fixture *fx)
{
    ms_hmac_release(&fx->mac);
    ms_sim_release(&fx->sim);
    ms_keyring_free(fx->kr);
}

static ms_bcast_expect expect_of(fixture *fx)
{
    ms_bcast_expect x = {1, 64, 5, fx->sim.pn.key_id, &fx->mac, 0, NULL, NULL};
    return x;
}

/* Validates a heap copy of exactly n bytes. */
static int validate(const char *buf, size_t n, const ms_bcast_expect *x, float f[MS_NFEAT], uint64_t *seq)
{
    char *copy = malloc(n ? n : 1);
    memcpy(copy, buf, n);
    float tmp[MS_NFEAT];
    uint64_t s = 0;
    int rc = ms_bcast_validate(copy, n, x, f ? f : tmp, seq ? seq : &s);
    free(copy);
    return rc;
}

typedef int (*validate_fn)(const char *, size_t, const ms_bcast_expect *, float *, uint64_t *);

/* Runs one validator on a heap copy of exactly n bytes. */
static int validate_with(validate_fn fn, const char *buf, size_t n, const ms_bcast_expect *x, float f[MS_NFEAT],
                         uint64_t *seq)
{
    char *copy = malloc(n ? n : 1);
    memcpy(copy, buf, n);
    int rc = fn(copy, n, x, f, seq);
    free(copy);
    return rc;
}

/* Rewrites the MAC of buf (NUL-terminated) for the bytes before its last
 * `,"mac":"`, with `key` (32 bytes). */
static void remac_with(char *buf, const unsigned char *key)
{
    char *p = NULL, *q = buf;
    while ((q = strstr(q, ",\"mac\":\"")) != NULL)
        p = q++;
    CHECK(p != NULL, "no mac field to rewrite");
    if (!p)
        return;
    unsigned char md[32];
    size_t outl = 0;
    CHECK(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, 32, (const unsigned char *)buf, (size_t)(p - buf), md,
                    sizeof md, &outl) != NULL, "EVP_Q_mac");
    char sym[MS_BCAST_MAC_LEN];
    CHECK(ms_b64url_encode_naive(md, 32, sym) == MS_BCAST_MAC_LEN, "base64url of the MAC");
    CHECK(strlen(p + 8) >= MS_BCAST_MAC_LEN, "mac field too short to rewrite");
    memcpy(p + 8, sym, MS_BCAST_MAC_LEN);
}

/* Replaces the first occurrence of old with new_ in buf; 0 if old is absent. */
static int replace1(char *buf, const char *old, const char *new_)
{
    char *p = strstr(buf, old);
    if (!p)
        return 0;
    size_t ol = strlen(old), nl = strlen(new_), rest = strlen(p + ol);
    if (strlen(buf) - ol + nl >= BUF)
        return 0;
    memmove(p + nl, p + ol, rest + 1);
    memcpy(p, new_, nl);
    return 1;
}

static void test_bcast_canonical_bytes(void)
{
    fixture fx;
    if (fixture_init(&fx))
        return;
    /* The documented byte format, built here from the pseudonym tables. */
    char want[BUF];
    int n = snprintf(want, sizeof want,
                     "{\"v\":2,\"seq\":6,\"env\":1,\"t\":5,\"kid\":\"%s\",\"from\":\"%s\",\"to\":\"%s\",\"subject\":\"%s\","
                     "\"attachment\":\"%s\",\"link\":\"%s\",\"header\":[0.5,0.25,1,0,1,0],"
                     "\"content\":[0.3,0,0.75,1,0.123456],\"security\":[0,0,1,0,0,0.9,0],"
                     "\"shared\":[0,0.1,0.078125]",
                     fx.sim.pn.key_id, fx.hex[0], fx.hex[1], fx.hex[2], fx.hex[3], fx.hex[4]);
    CHECK(fx.n > (size_t)n && !strncmp(fx.base, want, (size_t)n), "canonical bytes:\n got  %s\n want %s", fx.base, want);
    CHECK(!strncmp(fx.base + n, ",\"mac\":\"", 8) && fx.n == (size_t)n + 8 + MS_BCAST_MAC_LEN + 2 && !strcmp(fx.base + fx.n - 2, "\"}"),
          "mac field: %s", fx.base + n);
    /* The MAC is HMAC-SHA256(broadcast key, bytes before ,"mac":). */
    char copy[BUF];
    snprintf(copy, sizeof copy, "%s", fx.base);
    remac_with(copy, fx.sim.keys.broadcast_key);
    CHECK(!strcmp(copy, fx.base), "MAC is not HMAC(broadcast key, prefix)");

    ms_bcast_expect x = expect_of(&fx);
    float f[MS_NFEAT];
    uint64_t seq = 0;
    CHECK(validate(fx.base, fx.n, &x, f, &seq) == MS_BCAST_OK, "crafted broadcast rejected");
    CHECK(seq == 6, "seq %llu", (unsigned long long)seq);
    for (int k = 0; k < MS_NFEAT; k++)
        CHECK(f[k] == (float)(fx.msg.f[k] / 1e6), "feature %s: %.9g vs %.9g", ms_feature_names[k], f[k], fx.msg.f[k] / 1e6);

    /* Absent attachment and link are null. */
    ms_msg m = fx.msg;
    m.attach = -1;
    m.link = -1;
    char b[MS_BCAST_MAX];
    size_t bn = ms_bcast_encode(b, &m, 7, 1, &fx.sim.pn, &fx.mac, NULL);
    static const char nulls[] = "\"attachment\":null,\"link\":null,\"header\":[";
    CHECK(bn > 0 && memmem(b, bn, nulls, sizeof nulls - 1) != NULL, "nulls: %.*s", (int)bn, b);
    CHECK(validate(b, bn, &x, NULL, NULL) == MS_BCAST_OK, "null attachment/link rejected");

    /* Grid extremes: 1e-6 and 1 - 1e-6 print exactly. */
    m.f[MS_F_SENDER_REPUTATION] = 1;
    m.f[MS_F_DOMAIN_AGE] = 999999;
    m.f[MS_F_URGENCY] = 100;
    bn = ms_bcast_encode(b, &m, 8, 1, &fx.sim.pn, &fx.mac, NULL);
    CHECK(memmem(b, bn, "\"header\":[0.000001,0.999999,", 28) != NULL && memmem(b, bn, ",0.0001,", 8) != NULL,
          "grid extremes: %.*s", (int)bn, b);
    CHECK(validate(b, bn, &x, f, NULL) == MS_BCAST_OK && f[0] == (float)1e-6 && f[1] == (float)0.999999 &&
              f[MS_F_URGENCY] == (float)1e-4, "grid extremes parse exactly");
    fixture_release(&fx);
}

/* A real sim of 6 mailboxes with campaigns (and backdoor campaigns when
 * backdoor_rate > 0), a random policy, and a receiver's HMAC context keyed
 * with its broadcast key. */
typedef struct sim_fixture {
    ms_config c;
    ms_sim sim;
    ms_ref_policy rp;
    ms_policy pol;
    ms_hmac h;
} sim_fixture;

static void sim_fixture_init(sim_fixture *sf, double backdoor_rate)
{
    ms_err e;
    ms_config_defaults(&sf->c);
    sf->c.envs = 6;
    sf->c.episode_len = 20;
    sf->c.campaign_rate = 0.2;
    sf->c.backdoor_rate = backdoor_rate;
    CHECK(ms_sim_init(&sf->sim, &sf->c, MS_STREAM_ENV, NULL, &e) == MS_OK &&
              ms_ref_policy_init(&sf->rp, MS_REF_RANDOM, &sf->c, 1, &e) == MS_OK && ms_hmac_init(&sf->h, &e) == MS_OK &&
              ms_hmac_setkey(&sf->h, sf->sim.keys.broadcast_key, 32, &e) == MS_OK,
          "init: %s", e.msg);
    sf->pol = ms_ref_policy_stage(&sf->rp);
}

static void sim_fixture_release(sim_fixture *sf)
{
    ms_hmac_release(&sf->h);
    ms_ref_policy_release(&sf->rp);
    ms_sim_release(&sf->sim);
}

/* Broadcasts of a real sim validate and carry the message's features. */
static void test_bcast_sim_broadcasts(void)
{
    sim_fixture sf;
    sim_fixture_init(&sf, 0.0);
    ms_err e;
    int bad = 0, bad_feat = 0, bad_ws = 0, bad_num = 0;
    for (int k = 0; k < 60; k++) {
        CHECK(ms_sim_observe(&sf.sim, &e) == MS_OK, "observe");
        for (int i = 0; i < sf.c.envs; i++) {
            const char *b = sf.sim.s.bcast + (size_t)i * MS_BCAST_MAX;
            size_t n = (size_t)sf.sim.s.bcast_len[i];
            const ms_msg *m = &sf.sim.s.msg[i];
            ms_bcast_expect x = {i, sf.c.episode_len, (uint64_t)k, sf.sim.pn.key_id, &sf.h, (uint64_t)k + 1, NULL, NULL};
            float f[MS_NFEAT];
            uint64_t seq = 0;
            bad += sf.sim.s.reject[i] != MS_BCAST_OK || validate(b, n, &x, f, &seq) != MS_BCAST_OK || seq != (uint64_t)k + 1;
            for (int j = 0; j < MS_NFEAT; j++) {
                bad_feat += f[j] != (float)(m->f[j] / 1e6);
                bad_feat += sf.sim.s.feat[(size_t)i * MS_NFEAT + j] != f[j];
            }
            for (size_t p = 0; p < n; p++)
                bad_ws += b[p] == ' ' || b[p] == '\n' || b[p] == '\t' || b[p] == '\\';
            /* Numbers in the arrays: 0, 1, or 0.d{1,6} without trailing zeros. */
            const char *a = memmem(b, n, "\"header\":[", 10);
            const char *end = memmem(b, n, ",\"mac\"", 6);
            for (const char *p = a; p && p < end; p++) {
                if (!(*p == '0' || *p == '1') || (p[-1] != '[' && p[-1] != ','))
                    continue;
                size_t len = strspn(p, "0123456789.");
                if (len == 1)
                    continue;
                bad_num += p[0] != '0' || p[1] != '.' || len > 8 || p[len - 1] == '0';
            }
        }
        CHECK(ms_sim_step(&sf.sim, &sf.pol, NULL, 0, &e) == MS_OK, "step");
    }
    CHECK(bad == 0, "%d genuine broadcasts not accepted", bad);
    CHECK(bad_feat == 0, "%d parsed features differ from msg features / 1e6", bad_feat);
    CHECK(bad_ws == 0, "%d whitespace or escape bytes", bad_ws);
    CHECK(bad_num == 0, "%d non-canonical numbers", bad_num);
    sim_fixture_release(&sf);
}

typedef struct hostile {
    const char *name;
    const char *old, *new_; /* replacement in the base bytes */
    int remac;
    int reason;
} hostile;

static void test_bcast_hostile_corpus(void)
{
    fixture fx;
    if (fixture_init(&fx))
        return;
    ms_bcast_expect x = expect_of(&fx);
    char from_bad[96], to_short[96], from_upper[96];
    /* '+' is standard base64, not base64url */
    snprintf(from_bad, sizeof from_bad, "\"from\":\"%.5s+%.16s\"", fx.hex[0], fx.hex[0] + 6);
    snprintf(to_short, sizeof to_short, "\"to\":\"%.21s\"", fx.hex[1]);
    /* The sender pseudonym with its last symbol one up: the same 128 bits
     * plus a set unused bit (A Q g w -> B R h x), a non-canonical spelling. */
    snprintf(from_upper, sizeof from_upper, "\"from\":\"%s\"", fx.hex[0]);
    from_upper[8 + 21] = (char)(from_upper[8 + 21] + 1);
    char old_form[96], padded[96];
    snprintf(old_form, sizeof old_form, "\"subject\":\"%s:%s\"", fx.sim.pn.key_id, fx.hex[2]);
    snprintf(padded, sizeof padded, "\"attachment\":\"%s==\"", fx.hex[3]);
    char subject_field[96], attach_field[96];
    snprintf(subject_field, sizeof subject_field, "\"subject\":\"%s\"", fx.hex[2]);
    snprintf(attach_field, sizeof attach_field, "\"attachment\":\"%s\"", fx.hex[3]);
    char from_field[96], to_field[96], link_field[96];
    snprintf(from_field, sizeof from_field, "\"from\":\"%s\"", fx.hex[0]);
    snprintf(to_field, sizeof to_field, "\"to\":\"%s\"", fx.hex[1]);
    snprintf(link_field, sizeof link_field, ",\"link\":\"%s\"", fx.hex[4]);

    const hostile cases[] = {
        /* structure */
        {"whitespace after {", "{\"v\"", "{ \"v\"", 1, MS_BCAST_MALFORMED},
        {"whitespace after :", "\"seq\":6", "\"seq\": 6", 1, MS_BCAST_MALFORMED},
        {"whitespace after ,", ",\"env\"", ", \"env\"", 1, MS_BCAST_MALFORMED},
        {"whitespace in array", "[0.5,0.25", "[0.5 ,0.25", 1, MS_BCAST_MALFORMED},
        {"newline before mac", ",\"mac\":\"", ",\n\"mac\":\"", 0, MS_BCAST_MALFORMED},
        {"duplicate v", "{\"v\":2,", "{\"v\":2,\"v\":2,", 1, MS_BCAST_DUPLICATE_FIELD},
        {"duplicate t", "\"t\":5,", "\"t\":5,\"t\":5,", 1, MS_BCAST_DUPLICATE_FIELD},
        {"duplicate seq later", ",\"shared\":", ",\"seq\":7,\"shared\":", 1, MS_BCAST_DUPLICATE_FIELD},
        {"unknown field first", "{\"v\":2,", "{\"admin\":1,\"v\":2,", 1, MS_BCAST_UNKNOWN_FIELD},
        {"unknown field before mac", ",\"shared\":", ",\"x\":null,\"shared\":", 1, MS_BCAST_UNKNOWN_FIELD},
        {"field name case", "{\"v\":2", "{\"V\":2", 1, MS_BCAST_UNKNOWN_FIELD},
        {"missing t", "\"t\":5,", "", 1, MS_BCAST_MISSING_FIELD},
        {"missing v", "{\"v\":2,", "{", 1, MS_BCAST_MISSING_FIELD},
        {"missing link", link_field, "", 1, MS_BCAST_MISSING_FIELD},
        {"string for seq", "\"seq\":6", "\"seq\":\"6\"", 1, MS_BCAST_WRONG_TYPE},
        {"array for env", "\"env\":1", "\"env\":[1]", 1, MS_BCAST_WRONG_TYPE},
        {"real for t", "\"t\":5", "\"t\":5.0", 1, MS_BCAST_WRONG_TYPE},
        {"bool for v", "\"v\":2", "\"v\":true", 1, MS_BCAST_WRONG_TYPE},
        {"string feature", "[0.5,", "[\"0.5\",", 1, MS_BCAST_WRONG_TYPE},
        {"null feature", "[0.5,", "[null,", 1, MS_BCAST_WRONG_TYPE},
        {"number for kid", "\"kid\":\"dev0\"", "\"kid\":0", 1, MS_BCAST_WRONG_TYPE},
        {"null for from", from_field, "\"from\":null", 1, MS_BCAST_WRONG_TYPE},
        {"number for array", "\"shared\":[0,0.1,0.078125]", "\"shared\":0", 1, MS_BCAST_WRONG_TYPE},
        {"object for array", "\"shared\":[0,0.1,0.078125]", "\"shared\":{}", 1, MS_BCAST_WRONG_TYPE},
        {"header too short", "[0.5,0.25,1,0,1,0]", "[0.5,0.25,1,0,1]", 1, MS_BCAST_BAD_LENGTH},
        {"header too long", "[0.5,0.25,1,0,1,0]", "[0.5,0.25,1,0,1,0,0]", 1, MS_BCAST_BAD_LENGTH},
        {"empty array", "[0,0.1,0.078125]", "[]", 1, MS_BCAST_BAD_LENGTH},
        {"shared too long", "[0,0.1,0.078125]", "[0,0.1,0.078125,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]", 1, MS_BCAST_BAD_LENGTH},
        /* MAC */
        {"feature digit changed, not re-MAC'd", "0.123456", "0.123457", 0, MS_BCAST_BAD_MAC},
        {"seq changed, not re-MAC'd", "\"seq\":6", "\"seq\":9", 0, MS_BCAST_BAD_MAC},
        {"out of range but not re-MAC'd: MAC first", "[0.5,", "[1.5,", 0, MS_BCAST_BAD_MAC},
        /* values (re-MAC'd: only the value is wrong) */
        {"1e999", "0.9,0]", "1e999,0]", 1, MS_BCAST_NON_FINITE},
        {"-1e999", "[0.5,", "[-1e999,", 1, MS_BCAST_NON_FINITE},
        {"1.5", "[0.5,", "[1.5,", 1, MS_BCAST_OUT_OF_RANGE},
        {"-0.1", "0.25,", "-0.1,", 1, MS_BCAST_OUT_OF_RANGE},
        {"1.000001", "0.75,", "1.000001,", 1, MS_BCAST_OUT_OF_RANGE},
        {"negative seq", "\"seq\":6", "\"seq\":-6", 1, MS_BCAST_OUT_OF_RANGE},
        {"seq beyond 64 bits", "\"seq\":6", "\"seq\":99999999999999999999999", 1, MS_BCAST_OUT_OF_RANGE},
        {"t = episode_len", "\"t\":5", "\"t\":64", 1, MS_BCAST_OUT_OF_RANGE},
        {"version 1 (hex pseudonyms and MAC)", "\"v\":2", "\"v\":1", 1, MS_BCAST_BAD_VERSION},
        {"version 3", "\"v\":2", "\"v\":3", 1, MS_BCAST_BAD_VERSION},
        {"wrong env", "\"env\":1", "\"env\":3", 1, MS_BCAST_WRONG_ENV},
        {"unknown key id", "\"kid\":\"dev0\"", "\"kid\":\"dev9\"", 1, MS_BCAST_UNKNOWN_KEY},
        {"empty key id", "\"kid\":\"dev0\"", "\"kid\":\"\"", 1, MS_BCAST_UNKNOWN_KEY},
        {"non-base64url pseudonym", from_field, from_bad, 1, MS_BCAST_BAD_PSEUDONYM},
        {"short pseudonym", to_field, to_short, 1, MS_BCAST_BAD_PSEUDONYM},
        {"pseudonym with a key prefix (v1 form)", subject_field, old_form, 1, MS_BCAST_BAD_PSEUDONYM},
        {"padded pseudonym", attach_field, padded, 1, MS_BCAST_BAD_PSEUDONYM},
        {"non-canonical pseudonym", from_field, from_upper, 1, MS_BCAST_BAD_PSEUDONYM},
        {"seq 5 after 5", "\"seq\":6", "\"seq\":5", 1, MS_BCAST_STALE_SEQ},
        /* escapes, control bytes, non-JSON numbers */
        {"escape in a value", "\"kid\":\"dev0\"", "\"kid\":\"dev\\u0030\"", 1, MS_BCAST_MALFORMED},
        {"escape in a field name", "{\"v\"", "{\"\\u0076\"", 1, MS_BCAST_MALFORMED},
        {"escaped quote", "\"kid\":\"dev0\"", "\"kid\":\"de\\\"v0\"", 1, MS_BCAST_MALFORMED},
        {"control byte in a string", "\"kid\":\"dev0\"", "\"kid\":\"dev\x01\"", 1, MS_BCAST_MALFORMED},
        {"non-ASCII in a string", "\"kid\":\"dev0\"", "\"kid\":\"d\xc3\xa9v0\"", 1, MS_BCAST_MALFORMED},
        {"NaN literal", "0.9,0]", "NaN,0]", 1, MS_BCAST_MALFORMED},
        {"Infinity literal", "0.9,0]", "Infinity,0]", 1, MS_BCAST_MALFORMED},
        {"leading zero", "\"seq\":6", "\"seq\":06", 1, MS_BCAST_MALFORMED},
        {"plus sign", "\"seq\":6", "\"seq\":+6", 1, MS_BCAST_MALFORMED},
        {"hex number", "0.25,", "0x1,", 1, MS_BCAST_MALFORMED},
        {"bare dot", "0.25,", ".25,", 1, MS_BCAST_MALFORMED},
        {"missing comma", ",\"env\"", "\"env\"", 1, MS_BCAST_MALFORMED},
        {"single quotes", "\"kid\":\"dev0\"", "\"kid\":'dev0'", 1, MS_BCAST_MALFORMED},
        {"trailing comma in array", "0.078125]", "0.078125,]", 1, MS_BCAST_MALFORMED},
        /* accepted: any JSON number spelling of a grid value is fine */
        {"5e-1 spelling", "[0.5,", "[5e-1,", 1, MS_BCAST_OK},
        {"0.250 spelling", "0.25,", "0.250,", 1, MS_BCAST_OK},
    };
    int checked = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[BUF];
        snprintf(buf, sizeof buf, "%s", fx.base);
        int found = replace1(buf, cases[i].old, cases[i].new_);
        CHECK(found, "[%s] '%s' not in the base message", cases[i].name, cases[i].old);
        if (!found)
            continue;
        if (cases[i].remac)
            remac_with(buf, fx.sim.keys.broadcast_key);
        float f[MS_NFEAT];
        int rc = validate(buf, strlen(buf), &x, f, NULL);
        CHECK(rc == cases[i].reason, "[%s] reason %s, want %s\n  %s", cases[i].name, ms_bcast_reason_names[rc],
              ms_bcast_reason_names[cases[i].reason], buf);
        if (cases[i].reason == MS_BCAST_OK)
            CHECK(f[0] == 0.5f && f[1] == 0.25f, "[%s] value %g %g", cases[i].name, f[0], f[1]);
        checked++;
    }
    CHECK(checked >= 60, "%d hostile cases", checked);

    /* Trailing bytes after a valid message. */
    static const char *const tails[] = {"x", " ", "\n", "}", "{}", "\0"};
    for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
        char buf[BUF];
        memcpy(buf, fx.base, fx.n);
        size_t tl = tails[i][0] ? strlen(tails[i]) : 1;
        memcpy(buf + fx.n, tails[i], tl);
        CHECK(validate(buf, fx.n + tl, &x, NULL, NULL) == MS_BCAST_MALFORMED, "trailing '%s' accepted", tails[i]);
    }
    /* Every proper prefix is malformed (truncated in transit). */
    int bad_prefix = 0;
    for (size_t k = 0; k < fx.n; k++)
        bad_prefix += validate(fx.base, k, &x, NULL, NULL) != MS_BCAST_MALFORMED;
    CHECK(bad_prefix == 0, "%d truncations not reported as malformed", bad_prefix);
    CHECK(validate(fx.base, fx.n, &x, NULL, NULL) == MS_BCAST_OK, "the untouched base is accepted");

    /* Expectations of the receiver. */
    ms_bcast_expect y = x;
    y.env = 2;
    CHECK(validate(fx.base, fx.n, &y, NULL, NULL) == MS_BCAST_WRONG_ENV, "other mailbox");
    y = x;
    y.episode_len = 5;
    CHECK(validate(fx.base, fx.n, &y, NULL, NULL) == MS_BCAST_OUT_OF_RANGE, "t = 5 with episode_len 5");
    y.episode_len = 6;
    CHECK(validate(fx.base, fx.n, &y, NULL, NULL) == MS_BCAST_OK, "t = 5 with episode_len 6");
    y = x;
    y.key_id = "dev1";
    CHECK(validate(fx.base, fx.n, &y, NULL, NULL) == MS_BCAST_UNKNOWN_KEY, "current key is dev1");
    y = x;
    y.last_seq = 6;
    CHECK(validate(fx.base, fx.n, &y, NULL, NULL) == MS_BCAST_STALE_SEQ, "seq 6 after 6 (replay)");
    y.last_seq = 1000;
    CHECK(validate(fx.base, fx.n, &y, NULL, NULL) == MS_BCAST_STALE_SEQ, "seq 6 after 1000");
    y.last_seq = 0;
    CHECK(validate(fx.base, fx.n, &y, NULL, NULL) == MS_BCAST_OK, "seq 6 as the first");
    /* Order: MAC before values before the sequence number. */
    y = x;
    y.env = 2;
    y.last_seq = 99;
    CHECK(validate(fx.base, fx.n, &y, NULL, NULL) == MS_BCAST_WRONG_ENV, "values are checked before the sequence number");

    /* MAC problems. */
    char buf[BUF];
    snprintf(buf, sizeof buf, "%s", fx.base);
    remac_with(buf, fx.sim.keys.key); /* the pseudonym key, not the broadcast key */
    CHECK(validate(buf, strlen(buf), &x, NULL, NULL) == MS_BCAST_BAD_MAC, "MAC under the wrong key");
    snprintf(buf, sizeof buf, "%s", fx.base);
    for (char *p = buf + fx.n - 2 - MS_BCAST_MAC_LEN; p < buf + fx.n - 2; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    CHECK(strcmp(buf, fx.base) == 0 || validate(buf, strlen(buf), &x, NULL, NULL) == MS_BCAST_BAD_MAC, "uppercased MAC");
    snprintf(buf, sizeof buf, "%s", fx.base);
    memmove(buf + fx.n - 3, buf + fx.n - 2, 3); /* drop one symbol */
    CHECK(validate(buf, strlen(buf), &x, NULL, NULL) == MS_BCAST_BAD_MAC, "42-symbol MAC");
    snprintf(buf, sizeof buf, "%s", fx.base);
    memset(buf + fx.n - 2 - MS_BCAST_MAC_LEN, 'A', MS_BCAST_MAC_LEN);
    CHECK(validate(buf, strlen(buf), &x, NULL, NULL) == MS_BCAST_BAD_MAC, "zero MAC");
    /* the right MAC spelt non-canonically (an unused low bit set) */
    snprintf(buf, sizeof buf, "%s", fx.base);
    buf[fx.n - 3] = (char)(buf[fx.n - 3] + 1);
    CHECK(validate(buf, strlen(buf), &x, NULL, NULL) == MS_BCAST_BAD_MAC, "non-canonical MAC: %s", buf + fx.n - 45);
    snprintf(buf, sizeof buf, "%s", fx.base);
    memcpy(buf + fx.n - 2, "=\"}", 4); /* "...M=": padded */
    CHECK(validate(buf, strlen(buf), &x, NULL, NULL) == MS_BCAST_BAD_MAC, "padded MAC: %s", buf + fx.n - 45);

    /* "mac" not last: at the front, and in the middle with a MAC that is
     * correct for the bytes before it. */
    const char *macf = strstr(fx.base, ",\"mac\":\"");
    snprintf(buf, sizeof buf, "{%.*s,%.*s}", 7 + MS_BCAST_MAC_LEN + 1, macf + 1, (int)(macf - fx.base - 1), fx.base + 1);
    CHECK(validate(buf, strlen(buf), &x, NULL, NULL) == MS_BCAST_MAC_POSITION, "mac first: %s", buf);
    const char *shared = strstr(fx.base, ",\"shared\":");
    int plen = (int)(shared - fx.base);
    snprintf(buf, sizeof buf, "%.*s,\"mac\":\"%.*s\"%.*s}", plen, fx.base, MS_BCAST_MAC_LEN,
             "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", (int)(macf - shared), shared);
    remac_with(buf, fx.sim.keys.broadcast_key);
    CHECK(validate(buf, strlen(buf), &x, NULL, NULL) == MS_BCAST_MAC_POSITION, "mac in the middle: %s", buf);

    /* Empty, tiny and oversized inputs. */
    CHECK(validate("", 0, &x, NULL, NULL) == MS_BCAST_MALFORMED, "empty input");
    CHECK(validate("{", 1, &x, NULL, NULL) == MS_BCAST_MALFORMED, "{");
    CHECK(validate("{}", 2, &x, NULL, NULL) != MS_BCAST_OK, "{}");
    CHECK(validate("[]", 2, &x, NULL, NULL) == MS_BCAST_MALFORMED, "[]");
    char big[BUF];
    snprintf(big, sizeof big, "%s", fx.base);
    char pad[2048];
    memset(pad, 'a', sizeof pad);
    snprintf(buf, sizeof buf, ",\"pad\":\"%.*s\",\"shared\":", (int)(2048 - fx.n - 12), pad);
    replace1(big, ",\"shared\":", buf);
    remac_with(big, fx.sim.keys.broadcast_key);
    CHECK(strlen(big) >= 2040, "2 KB message built (%zu)", strlen(big));
    CHECK(validate(big, strlen(big), &x, NULL, NULL) == MS_BCAST_MALFORMED, "2 KB input");
    memset(big, '{', 2048);
    CHECK(validate(big, 2048, &x, NULL, NULL) == MS_BCAST_MALFORMED, "2 KB of braces");
    fixture_release(&fx);
}

/* ms_put_micro writes what its naive twin writes, for every micro-unit
 * value and beyond both ends of the clamp, and never stores past 8 bytes. */
static void test_bcast_put_micro_vs_naive(void)
{
    int bad = 0, checked = 0;
    static const int32_t extremes[] = {INT32_MIN, -1000000, -1, MS_MICRO + 1, 2 * MS_MICRO, INT32_MAX};
    for (int32_t k = -1; k < MS_MICRO + 1 + (int32_t)(sizeof extremes / sizeof extremes[0]); k++) {
        int32_t u = k <= MS_MICRO ? k : extremes[k - MS_MICRO - 1];
        char a[16], b[16];
        memset(a, 'x', sizeof a);
        memset(b, 'x', sizeof b);
        char *ea = ms_put_micro(a, u), *eb = ms_put_micro_naive(b, u);
        bad += ea - a != eb - b || memcmp(a, b, (size_t)(eb - b)) || ea - a > 8 || memcmp(a + 8, "xxxxxxxx", 8);
        checked++;
    }
    CHECK(bad == 0 && checked == MS_MICRO + 8, "%d of %d values written differently", bad, checked);
}

/* ms_micro_to_float is the division it stands for, for every micro-unit. */
static void test_bcast_micro_to_float(void)
{
    int bad = 0;
    for (int32_t u = 0; u <= MS_MICRO; u++) {
        volatile double d = (double)u; /* no folding: the division happens here */
        float want = (float)(d / MS_MICRO), got = ms_micro_to_float(u);
        bad += memcmp(&want, &got, sizeof want) != 0;
    }
    CHECK(bad == 0, "%d micro-units convert differently", bad);
}

/* Every third micro-unit value (3 is prime to 10: every digit count and
 * every ending) and 10^6, written by ms_put_micro into the last feature of a
 * genuine broadcast, parses to the same float on the fast path as in the
 * naive validator. The sender's MAC is offered as the one the message
 * carries, so neither validator spends an HMAC on the 333,335 messages. */
static void test_bcast_fast_values(void)
{
    fixture fx;
    if (fixture_init(&fx))
        return;
    ms_bcast_expect x = expect_of(&fx);
    const char *last = strstr(fx.base, ",0.078125],\"mac\":\"");
    CHECK(last != NULL, "t_frac 0.078125 is the last feature of the base message");
    if (!last) {
        fixture_release(&fx);
        return;
    }
    size_t head = (size_t)(last - fx.base) + 1;
    int bad = 0, undecided = 0;
    for (int32_t u = 0; u <= MS_MICRO; u = u + 3 > MS_MICRO && u < MS_MICRO ? MS_MICRO : u + 3) {
        char buf[BUF];
        memcpy(buf, fx.base, head);
        char *p = ms_put_micro(buf + head, u);
        size_t cut = (size_t)(p + 1 - buf); /* through the ']' */
        memcpy(p, last + 9, fx.n - head - 8);  /* "],\"mac\":\"...\"}" */
        size_t n = cut + 8 + MS_BCAST_MAC_LEN + 2;
        ms_bcast_mac sent = {cut, {0}};
        CHECK(ms_b64url_decode(buf + cut + 8, MS_BCAST_MAC_LEN, sent.md, 32) == 32, "mac symbols");
        ms_bcast_expect y = x;
        y.sent = buf;
        y.sent_mac = &sent;
        float f1[MS_NFEAT], f2[MS_NFEAT];
        uint64_t s1 = 0, s2 = 0;
        int fast = ms_bcast_validate_fast(buf, n, &y, f1, &s1);
        int naive = ms_bcast_validate_naive(buf, n, &y, f2, &s2);
        undecided += fast != MS_BCAST_OK;
        bad += naive != MS_BCAST_OK || (fast == MS_BCAST_OK && (memcmp(f1, f2, sizeof f1) || s1 != s2)) ||
               f2[MS_NFEAT - 1] != (float)(u / 1e6);
    }
    CHECK(bad == 0 && undecided == 0, "%d values parse differently, %d not decided by the fast path", bad, undecided);
    fixture_release(&fx);
}

/* ------------------------------------------- fast path against naive ---- */

/* One random mutation of the NUL-terminated buf (capacity BUF): a byte
 * replaced, deleted or inserted, a cut, a segment duplicated, or a token
 * respelled (often as an equal JSON value the canonical shape does not use). */
static void mutate(char *buf, ms_rng *r)
{
    /* with the bytes on either side of each hex range, and non-ASCII */
    static const char alphabet[] = "0123456789.,:[]{}\"abcdefnul-+eE x\\/`gAF\x80\xb0\xe6\xff";
    static const char *const respell[][2] = {
        {"0.5", "0.50"}, {",0,", ",0.0,"}, {",1,", ",1.0,"}, {",1,", ",1e0,"}, {",0,", ",-0,"}, {",0,", ",0e5,"},
        {"[0,", "[0.000000,"}, {"\"t\":", "\"t\":0"}, {":null", ":\"x\""}, {":null", ":nul"}, {"[", "[0,"},
        {"]", ",0]"}, {"\"v\":2", "\"v\":02"}, {"\"seq\":", "\"seq\":-"}, {"\"seq\":", "\"seq\":9999999999999999999"},
        {"\"env\":", "\"env\":1"}, {"0.", "1."}, {"\",\"", "\" ,\""}, {"\"from\"", "\"from\":1,\"x\""},
        {"\"mac\":\"", "\"mac\":\"0"}, {",\"link\":", ",\"link\":null,\"z\":"}, {"\"kid\":\"", "\"kid\":\"k"},
        {":", "::"}, {"}", "}}"}, {"0.1", "0.1000000"}, {"0.9", "0.99999999"}};
    size_t n = strlen(buf);
    if (n < 2)
        return;
    size_t at = ms_rng_below(r, (uint32_t)n);
    char ch = alphabet[ms_rng_below(r, sizeof alphabet - 1)];
    switch (ms_rng_below(r, 6)) {
    case 0:
        buf[at] = ch;
        break;
    case 1:
        memmove(buf + at, buf + at + 1, n - at);
        break;
    case 2:
        if (n + 1 < BUF) {
            memmove(buf + at + 1, buf + at, n - at + 1);
            buf[at] = ch;
        }
        break;
    case 3:
        buf[at] = 0;
        break;
    case 4: {
        size_t len = 1 + ms_rng_below(r, 40), to = ms_rng_below(r, (uint32_t)n);
        if (at + len > n)
            len = n - at;
        if (n + len < BUF) {
            char seg[64];
            memcpy(seg, buf + at, len);
            memmove(buf + to + len, buf + to, n - to + 1);
            memcpy(buf + to, seg, len);
        }
        break;
    }
    case 5: {
        size_t k = ms_rng_below(r, sizeof respell / sizeof respell[0]);
        /* the first occurrence at or after a random offset */
        char *p = strstr(buf + ms_rng_below(r, (uint32_t)n), respell[k][0]);
        size_t ol = strlen(respell[k][0]), nl = strlen(respell[k][1]);
        if (p && n - ol + nl < BUF) {
            memmove(p + nl, p + ol, strlen(p + ol) + 1);
            memcpy(p, respell[k][1], nl);
        }
        break;
    }
    }
}

/* ms_bcast_validate_fast against ms_bcast_validate_naive over the genuine
 * broadcasts of a real sim and 40 mutations of each (re-MAC'd or not, under
 * changed expectations): the fast path decides every genuine broadcast and
 * only acceptances, each with the naive validator's features (bit for bit)
 * and sequence number; ms_bcast_validate gives the naive verdict every time;
 * offering the sender's MAC (ms_bcast_expect.sent) changes no verdict. */
static void test_bcast_fast_vs_naive(void)
{
    sim_fixture sf;
    sim_fixture_init(&sf, 0.5);
    ms_err e;
    ms_rng r;
    ms_rng_seed(&r, 12, 0, 0);
    int genuine = 0, genuine_fast = 0, cases = 0, fast_ok = 0, naive_ok = 0;
    int bad_verdict = 0, bad_fast = 0, bad_values = 0, bad_memo = 0;
    for (int k = 0; k < 50; k++) {
        CHECK(ms_sim_observe(&sf.sim, &e) == MS_OK, "observe");
        for (int i = 0; i < sf.c.envs; i++) {
            const char *b = sf.sim.s.bcast + (size_t)i * MS_BCAST_MAX;
            size_t n = (size_t)sf.sim.s.bcast_len[i];
            ms_bcast_expect x = {i, sf.c.episode_len, (uint64_t)k, sf.sim.pn.key_id, &sf.h, (uint64_t)k + 1, NULL, NULL};
            float f1[MS_NFEAT], f2[MS_NFEAT];
            uint64_t s1 = 0, s2 = 0;
            genuine++;
            genuine_fast += ms_bcast_validate_fast(b, n, &x, f1, &s1) == MS_BCAST_OK &&
                            ms_bcast_validate_naive(b, n, &x, f2, &s2) == MS_BCAST_OK && !memcmp(f1, f2, sizeof f1) &&
                            s1 == s2;
            /* The sender's MAC of these bytes, from encoding the message again. */
            char again[MS_BCAST_MAX];
            ms_bcast_mac sent;
            size_t an = ms_bcast_encode(again, &sf.sim.s.msg[i], (uint64_t)k + 1, i, &sf.sim.pn, &sf.h, &sent);
            bad_memo += an != n || memcmp(again, b, n) || sent.cut != n - (8 + MS_BCAST_MAC_LEN + 2);
            for (int m = 0; m < 40; m++) {
                char buf[BUF];
                memcpy(buf, b, n);
                buf[n] = 0;
                int nmut = (int)ms_rng_below(&r, 4); /* 0: the genuine bytes, under a changed expectation */
                for (int j = 0; j < nmut; j++)
                    mutate(buf, &r);
                if (ms_rng_bernoulli(&r, 0.7)) {
                    /* re-MAC'd where there is a full MAC field to rewrite */
                    const char *mf = NULL;
                    for (const char *q = buf; (q = strstr(q, ",\"mac\":\"")) != NULL; q++)
                        mf = q;
                    if (mf && strlen(mf + 8) >= MS_BCAST_MAC_LEN)
                        remac_with(buf, sf.sim.keys.broadcast_key);
                }
                ms_bcast_expect y = x;
                switch (ms_rng_below(&r, 8)) {
                case 0: y.env = (i + 1) % sf.c.envs; break;
                case 1: y.last_seq = (uint64_t)k + 1; break;
                case 2: y.clock_seq = 0; break;
                case 3: y.clock_seq = (uint64_t)k + 2; break;
                case 4: y.episode_len = (int)ms_rng_below(&r, 20); break;
                case 5: y.key_id = "eval1"; break;
                default: break;
                }
                size_t bn = strlen(buf);
                memset(f1, 0xa5, sizeof f1);
                memset(f2, 0x5a, sizeof f2);
                int fast = validate_with(ms_bcast_validate_fast, buf, bn, &y, f1, &s1);
                int naive = validate_with(ms_bcast_validate_naive, buf, bn, &y, f2, &s2);
                cases++;
                fast_ok += fast == MS_BCAST_OK;
                naive_ok += naive == MS_BCAST_OK;
                bad_fast += fast != MS_BCAST_OK && fast != -1;
                if (fast == MS_BCAST_OK)
                    bad_values += naive != MS_BCAST_OK || memcmp(f1, f2, sizeof f1) || s1 != s2;
                float f3[MS_NFEAT];
                uint64_t s3 = 0;
                int both = validate_with(ms_bcast_validate, buf, bn, &y, f3, &s3);
                bad_verdict += both != naive;
                if (both == MS_BCAST_OK && naive == MS_BCAST_OK)
                    bad_values += memcmp(f3, f2, sizeof f3) || s3 != s2;
                /* With the sender's MAC offered: the same verdicts. */
                ms_bcast_expect z = y;
                z.sent = b;
                z.sent_mac = &sent;
                int memo_fast = validate_with(ms_bcast_validate_fast, buf, bn, &z, f3, &s3);
                bad_memo += memo_fast != fast || (fast == MS_BCAST_OK && (memcmp(f3, f2, sizeof f3) || s3 != s2));
                bad_memo += validate_with(ms_bcast_validate_naive, buf, bn, &z, f3, &s3) != naive;
                bad_memo += validate_with(ms_bcast_validate, buf, bn, &z, f3, &s3) != naive;
            }
        }
        CHECK(ms_sim_step(&sf.sim, &sf.pol, NULL, 0, &e) == MS_OK, "step");
    }
    CHECK(genuine_fast == genuine, "the fast path decided %d of %d genuine broadcasts", genuine_fast, genuine);
    CHECK(bad_fast == 0, "%d fast verdicts other than ok / not decided", bad_fast);
    CHECK(bad_verdict == 0, "%d of %d verdicts differ from the naive validator's", bad_verdict, cases);
    CHECK(bad_values == 0, "%d acceptances with other features or sequence numbers", bad_values);
    CHECK(bad_memo == 0, "%d verdicts change when the sender's MAC is offered", bad_memo);
    /* The corpus exercises both sides: acceptances the fast path decides,
     * and acceptances only the naive validator decides (respellings). */
    CHECK(fast_ok > cases / 10 && naive_ok > fast_ok, "%d cases: fast accepted %d, naive %d", cases, fast_ok, naive_ok);
    sim_fixture_release(&sf);
}

/* --------------------------------------------- tampering in transit ---- */

typedef struct poison_probe {
    int kind;              /* MS_POISON_* under test, or -1 = mixed */
    int envs;
    int steps;
    int tampered, rejected, accepted_replays, stale_replays, genuine;
    int bad_reason, bad_hold, bad_accept, bad_replay_feat, bad_mark;
    uint64_t last_accepted[16];
    int32_t prev_f[16][MS_NFEAT];
} poison_probe;

/* Parses "seq":N from broadcast bytes (0 if absent). */
static uint64_t seq_of(const char *b, int n)
{
    const char *p = memmem(b, (size_t)n, "\"seq\":", 6);
    return p ? strtoull(p + 6, NULL, 10) : 0;
}

static int poison_record(void *ctx, const ms_step *s, ms_err *e)
{
    (void)e;
    poison_probe *p = ctx;
    for (int i = 0; i < s->envs; i++) {
        const char *b = s->bcast + (size_t)i * MS_BCAST_MAX;
        int n = s->bcast_len[i], rej = s->reject[i], pk = s->poison[i];
        const ms_result *r = &s->res[i];
        if (pk) {
            p->tampered++;
            int kind = pk - 1;
            int want = kind == MS_POISON_BAD_MAC ? MS_BCAST_BAD_MAC
                       : kind == MS_POISON_TRUNCATED ? MS_BCAST_MALFORMED
                       : kind == MS_POISON_EXTRA_FIELD ? MS_BCAST_UNKNOWN_FIELD : -1;
            if (p->kind >= 0)
                p->bad_mark += kind != p->kind;
            if (kind == MS_POISON_REPLAY) {
                /* The previous genuine broadcast carries the previous
                 * step's sequence number: the receiver's step clock makes
                 * it stale whether or not that message was ever accepted. */
                p->bad_reason += rej != MS_BCAST_STALE_SEQ;
                if (rej == MS_BCAST_OK)
                    p->accepted_replays++;
                else
                    p->stale_replays++;
            } else {
                p->bad_reason += rej != want;
                if (kind == MS_POISON_EXTRA_FIELD)
                    p->bad_mark += strncmp(b, "{\"admin\":1,", 11) != 0;
                if (kind == MS_POISON_TRUNCATED)
                    p->bad_mark += n < 1 || (n >= 2 && !memcmp(b + n - 2, "\"}", 2));
            }
        } else {
            p->genuine++;
            p->bad_reason += rej != MS_BCAST_OK;
        }
        if (rej) {
            p->rejected++;
            const unsigned char *a = s->act + 3 * i;
            const float *pr = s->prob1 + 3 * i;
            int zero_obs = 1;
            for (int ag = 0; ag < MS_NAGENT; ag++)
                for (int k = 0; k < s->obs_dim[ag]; k++)
                    zero_obs &= s->obs[ag][(size_t)i * s->obs_dim[ag] + k] == 0.0f;
            p->bad_hold += !(r->fired & (1u << MS_RULE_REJECTED_HOLD)) || r->outcome != MS_OUTCOME_QUARANTINED ||
                           a[0] || a[1] || a[2] || pr[0] != 0 || pr[1] != 0 || pr[2] != 0 || r->eff[0] || r->eff[1] ||
                           !r->eff[2] || !s->facts[i].rejected || !zero_obs || s->credit[3 * i] != 0 ||
                           s->credit[3 * i + 1] != 0 || s->credit[3 * i + 2] != 0;
        } else {
            p->last_accepted[i] = seq_of(b, n);
            p->bad_accept += (r->fired & (1u << MS_RULE_REJECTED_HOLD)) != 0 || s->facts[i].rejected;
        }
        memcpy(p->prev_f[i], s->msg[i].f, sizeof p->prev_f[i]);
    }
    p->steps++;
    return MS_OK;
}

/* Policy that tries to deliver and preview everything, so a hold is visible. */
static int all_ones(void *ctx, ms_step *s, ms_err *e)
{
    (void)ctx, (void)e;
    for (int i = 0; i < s->envs * MS_NAGENT; i++) {
        s->act[i] = (unsigned char)(i % 3 != 2);
        s->prob1[i] = 0.75f;
    }
    return MS_OK;
}

static void run_poisoned(int kind, double rate, int steps, poison_probe *p)
{
    ms_config c;
    ms_config_defaults(&c);
    c.envs = 5;
    c.episode_len = 16;
    c.poison_rate = rate;
    c.poison_kinds = kind >= 0 ? 1u << kind : (1u << MS_NPOISON) - 1;
    memset(p, 0, sizeof *p);
    p->kind = kind;
    p->envs = c.envs;
    ms_sim sim;
    ms_err e;
    CHECK(ms_sim_init(&sim, &c, MS_STREAM_ENV, NULL, &e) == MS_OK, "init: %s", e.msg);
    ms_policy pol = {all_ones, NULL};
    ms_sink sink = {poison_record, p};
    ms_tally t;
    memset(&t, 0, sizeof t);
    ms_sink sinks[2] = {sink, ms_tally_sink(&t)};
    for (int k = 0; k < steps; k++)
        CHECK(ms_sim_step(&sim, &pol, sinks, 2, &e) == MS_OK, "step %d: %s", k, e.msg);
    int64_t held = 0;
    for (int k = 0; k < MS_NCLASS; k++)
        held += t.outcomes[k][MS_NOUTCOME];
    CHECK(t.rejected == p->rejected && held == p->rejected, "tally counts %lld rejected, %lld held, probe %d",
          (long long)t.rejected, (long long)held, p->rejected);
    ms_sim_release(&sim);
}

static void test_bcast_poison_each_kind(void)
{
    for (int kind = 0; kind < MS_NPOISON; kind++) {
        poison_probe p;
        run_poisoned(kind, 1.0, 40, &p);
        const char *name = ms_poison_names[kind];
        int total = p.steps * p.envs;
        CHECK(p.bad_reason == 0, "%s: %d broadcasts with the wrong verdict", name, p.bad_reason);
        CHECK(p.bad_hold == 0, "%s: %d rejected broadcasts not held", name, p.bad_hold);
        CHECK(p.bad_accept == 0, "%s: %d accepted broadcasts marked held", name, p.bad_accept);
        CHECK(p.bad_mark == 0, "%s: %d broadcasts with the wrong tampering", name, p.bad_mark);
        if (kind == MS_POISON_REPLAY) {
            /* Nothing to replay on the first step. Afterwards every
             * broadcast is the previous genuine one, one step late: each is
             * rejected as stale by the receiver's step clock. */
            CHECK(p.genuine == p.envs && p.tampered == total - p.envs, "replay: %d genuine, %d tampered", p.genuine,
                  p.tampered);
            CHECK(p.stale_replays == total - p.envs && p.accepted_replays == 0,
                  "replay: %d stale, %d accepted late", p.stale_replays, p.accepted_replays);
            CHECK(p.rejected == total - p.envs, "replay: %d rejected", p.rejected);
        } else {
            CHECK(p.tampered == total && p.rejected == total && p.genuine == 0, "%s: %d tampered, %d rejected of %d", name,
                  p.tampered, p.rejected, total);
        }
    }
}

static void test_bcast_poison_mixed(void)
{
    poison_probe p;
    run_poisoned(-1, 0.3, 200, &p);
    int total = p.steps * p.envs;
    CHECK(p.bad_reason == 0 && p.bad_hold == 0 && p.bad_accept == 0 && p.bad_mark == 0,
          "mixed: reason %d hold %d accept %d mark %d", p.bad_reason, p.bad_hold, p.bad_accept, p.bad_mark);
    double rate = p.tampered / (double)total;
    CHECK(fabs(rate - 0.3) < 5 * sqrt(0.21 / total) + 0.01, "tampering rate %.3f, configured 0.3", rate);
    CHECK(p.genuine + p.tampered == total, "counts");
    poison_probe clean;
    run_poisoned(-1, 0.0, 50, &clean);
    CHECK(clean.tampered == 0 && clean.rejected == 0 && clean.genuine == 50 * clean.envs,
          "poison_rate 0: %d tampered, %d rejected", clean.tampered, clean.rejected);
}

/* base64url, the alphabet of the broadcast's pseudonyms and MAC: the table
 * encoder against its naive twin (libcrypto's base64, symbols swapped,
 * padding cut) for every length 0..40 over pseudo-random bytes, the strict
 * decoder round-trips them and refuses every non-canonical spelling. */
static void test_bcast_b64url(void)
{
    unsigned char in[40], back[40];
    uint64_t x = 0x9E3779B97F4A7C15u;
    int bad = 0;
    for (int round = 0; round < 200; round++)
        for (size_t n = 0; n <= sizeof in; n++) {
            for (size_t i = 0; i < n; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                in[i] = (unsigned char)(round < 2 ? (round ? 0xff : 0) : x >> 24);
            }
            char a[64], b[64];
            size_t la = ms_b64url_encode(in, n, a), lb = ms_b64url_encode_naive(in, n, b);
            bad += la != MS_B64URL_LEN(n) || la != lb || memcmp(a, b, la) ||
                   ms_b64url_decode(a, la, back, sizeof back) != (long)n || memcmp(in, back, n) ||
                   !ms_b64url_is_canonical(a, la, n);
            if (la % 4 >= 2) { /* a last symbol with unused bits: set one */
                a[la - 1] = (char)(a[la - 1] == '_' ? '-' : a[la - 1] == '9' ? '-' : a[la - 1] + 1);
                bad += ms_b64url_decode(a, la, back, sizeof back) >= 0 && memcmp(in, back, n) == 0;
            }
        }
    CHECK(bad == 0, "%d base64url mismatches", bad);
    unsigned char o[32];
    CHECK(ms_b64url_decode("AA", 2, o, 32) == 1 && ms_b64url_decode("AB", 2, o, 32) < 0, "unused bits");
    CHECK(ms_b64url_decode("A", 1, o, 32) < 0 && ms_b64url_decode("AA==", 4, o, 32) < 0, "length, padding");
    CHECK(ms_b64url_decode("+/8", 3, o, 32) < 0 && ms_b64url_decode("-_8", 3, o, 32) == 2 && o[0] == 0xfb &&
              o[1] == 0xff, "alphabet");
    CHECK(ms_b64url_decode("AAAA", 4, o, 2) < 0, "capacity");
    CHECK(!ms_b64url_is_canonical("AAAAAAAAAAAAAAAAAAAAAB", 22, 16) &&
              ms_b64url_is_canonical("AAAAAAAAAAAAAAAAAAAAAQ", 22, 16) &&
              !ms_b64url_is_canonical("AAAAAAAAAAAAAAAAAAAAA", 21, 16), "pseudonym form");
}

/* A MAC that libcrypto cannot compute (here: an HMAC never keyed) is
 * MS_EIO, not BAD_MAC: a failing library is no evidence of tampering (the
 * fault sweep found an allocation failure recorded as an anomaly). The same
 * bytes with the keyed MAC are accepted. */
static void test_bcast_mac_failure_decides_nothing(void)
{
    fixture fx;
    if (fixture_init(&fx))
        return;
    ms_bcast_expect x = expect_of(&fx);
    CHECK(validate(fx.base, fx.n, &x, NULL, NULL) == MS_BCAST_OK, "the genuine broadcast is accepted");
    ms_hmac unkeyed;
    ms_err e;
    CHECK(ms_hmac_init(&unkeyed, &e) == MS_OK, "hmac init: %s", e.msg);
    x.mac = &unkeyed;
    int rc = validate(fx.base, fx.n, &x, NULL, NULL);
    CHECK(rc == MS_EIO, "an HMAC that cannot be computed: %d (want MS_EIO, not a rejection reason)", rc);
    ms_hmac_release(&unkeyed);
    fixture_release(&fx);
}

void suite_bcast(void)
{
    RUN(test_bcast_b64url);
    RUN(test_bcast_canonical_bytes);
    RUN(test_bcast_mac_failure_decides_nothing);
    RUN(test_bcast_sim_broadcasts);
    RUN(test_bcast_hostile_corpus);
    RUN(test_bcast_fast_vs_naive);
    RUN(test_bcast_put_micro_vs_naive);
    RUN(test_bcast_micro_to_float);
    RUN(test_bcast_fast_values);
    RUN(test_bcast_poison_each_kind);
    RUN(test_bcast_poison_mixed);
}
