/* test_bcast.c — sim/bcast: the canonical broadcast bytes, the strict
 * validator against a hostile corpus, and tampering in transit inside the
 * step loop.
 *
 * Modified messages are re-MAC'd (HMAC-SHA256 under the broadcast key of the
 * bytes before `,"mac":`, computed here with libcrypto directly) whenever the
 * test wants exactly one thing wrong. Every validation runs on a heap copy of
 * exactly n bytes, so AddressSanitizer catches any read past n. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

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
    char hex[5][64];      /* from, to, subject, attachment, link pseudonyms "dev0:..." */
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
    fx->n = ms_bcast_encode(fx->base, m, 6, 1, &fx->sim.pn, &fx->mac);
    fx->base[fx->n] = 0;
    const char *kid = fx->sim.pn.key_id;
    snprintf(fx->hex[0], 64, "%s:%.32s", kid, fx->sim.pn.sender[m->sender]);
    snprintf(fx->hex[1], 64, "%s:%.32s", kid, fx->sim.pn.recipient[1]);
    snprintf(fx->hex[2], 64, "%s:%.32s", kid, fx->sim.pn.subject[m->subject]);
    snprintf(fx->hex[3], 64, "%s:%.32s", kid, fx->sim.pn.attach[m->attach]);
    snprintf(fx->hex[4], 64, "%s:%.32s", kid, fx->sim.pn.link[m->link]);
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
    ms_bcast_expect x = {1, 64, 5, fx->sim.pn.key_id, &fx->mac, 0};
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
    char hex[65];
    ms_hex(md, 32, hex);
    CHECK(strlen(p + 8) >= 64, "mac field too short to rewrite");
    memcpy(p + 8, hex, 64);
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
                     "{\"v\":1,\"seq\":6,\"env\":1,\"t\":5,\"kid\":\"%s\",\"from\":\"%s\",\"to\":\"%s\",\"subject\":\"%s\","
                     "\"attachment\":\"%s\",\"link\":\"%s\",\"header\":[0.5,0.25,1,0,1,0],"
                     "\"content\":[0.3,0,0.75,1,0.123456],\"security\":[0,0,1,0,0,0.9,0],"
                     "\"shared\":[0,0.1,0.078125]",
                     fx.sim.pn.key_id, fx.hex[0], fx.hex[1], fx.hex[2], fx.hex[3], fx.hex[4]);
    CHECK(fx.n > (size_t)n && !strncmp(fx.base, want, (size_t)n), "canonical bytes:\n got  %s\n want %s", fx.base, want);
    CHECK(!strncmp(fx.base + n, ",\"mac\":\"", 8) && fx.n == (size_t)n + 8 + 64 + 2 && !strcmp(fx.base + fx.n - 2, "\"}"),
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
    size_t bn = ms_bcast_encode(b, &m, 7, 1, &fx.sim.pn, &fx.mac);
    static const char nulls[] = "\"attachment\":null,\"link\":null,\"header\":[";
    CHECK(bn > 0 && memmem(b, bn, nulls, sizeof nulls - 1) != NULL, "nulls: %.*s", (int)bn, b);
    CHECK(validate(b, bn, &x, NULL, NULL) == MS_BCAST_OK, "null attachment/link rejected");

    /* Grid extremes: 1e-6 and 1 - 1e-6 print exactly. */
    m.f[MS_F_SENDER_REPUTATION] = 1;
    m.f[MS_F_DOMAIN_AGE] = 999999;
    m.f[MS_F_URGENCY] = 100;
    bn = ms_bcast_encode(b, &m, 8, 1, &fx.sim.pn, &fx.mac);
    CHECK(memmem(b, bn, "\"header\":[0.000001,0.999999,", 28) != NULL && memmem(b, bn, ",0.0001,", 8) != NULL,
          "grid extremes: %.*s", (int)bn, b);
    CHECK(validate(b, bn, &x, f, NULL) == MS_BCAST_OK && f[0] == (float)1e-6 && f[1] == (float)0.999999 &&
              f[MS_F_URGENCY] == (float)1e-4, "grid extremes parse exactly");
    fixture_release(&fx);
}

/* Broadcasts of a real sim validate and carry the message's features. */
static void test_bcast_sim_broadcasts(void)
{
    ms_config c;
    ms_config_defaults(&c);
    c.envs = 6;
    c.episode_len = 20;
    c.campaign_rate = 0.2;
    ms_sim sim;
    ms_ref_policy rp;
    ms_hmac h;
    ms_err e;
    CHECK(ms_sim_init(&sim, &c, MS_STREAM_ENV, NULL, &e) == MS_OK && ms_ref_policy_init(&rp, MS_REF_RANDOM, &c, 1, &e) == MS_OK &&
              ms_hmac_init(&h, &e) == MS_OK && ms_hmac_setkey(&h, sim.keys.broadcast_key, 32, &e) == MS_OK, "init: %s",
          e.msg);
    ms_policy pol = ms_ref_policy_stage(&rp);
    int bad = 0, bad_feat = 0, bad_ws = 0, bad_num = 0;
    for (int k = 0; k < 60; k++) {
        CHECK(ms_sim_observe(&sim, &e) == MS_OK, "observe");
        for (int i = 0; i < c.envs; i++) {
            const char *b = sim.s.bcast + (size_t)i * MS_BCAST_MAX;
            size_t n = (size_t)sim.s.bcast_len[i];
            const ms_msg *m = &sim.s.msg[i];
            ms_bcast_expect x = {i, c.episode_len, (uint64_t)k, sim.pn.key_id, &h, (uint64_t)k + 1};
            float f[MS_NFEAT];
            uint64_t seq = 0;
            bad += sim.s.reject[i] != MS_BCAST_OK || validate(b, n, &x, f, &seq) != MS_BCAST_OK || seq != (uint64_t)k + 1;
            for (int j = 0; j < MS_NFEAT; j++) {
                bad_feat += f[j] != (float)(m->f[j] / 1e6);
                bad_feat += sim.s.feat[(size_t)i * MS_NFEAT + j] != f[j];
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
        CHECK(ms_sim_step(&sim, &pol, NULL, 0, &e) == MS_OK, "step");
    }
    CHECK(bad == 0, "%d genuine broadcasts not accepted", bad);
    CHECK(bad_feat == 0, "%d parsed features differ from msg features / 1e6", bad_feat);
    CHECK(bad_ws == 0, "%d whitespace or escape bytes", bad_ws);
    CHECK(bad_num == 0, "%d non-canonical numbers", bad_num);
    ms_hmac_release(&h);
    ms_ref_policy_release(&rp);
    ms_sim_release(&sim);
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
    snprintf(from_bad, sizeof from_bad, "\"from\":\"%.5sG%.31s\"", fx.hex[0], fx.hex[0] + 6);
    snprintf(to_short, sizeof to_short, "\"to\":\"%.36s\"", fx.hex[1]);
    /* First hex letter of the sender pseudonym, uppercased. */
    snprintf(from_upper, sizeof from_upper, "\"from\":\"%s\"", fx.hex[0]);
    int upper_ok = 0;
    for (char *p = from_upper + 13; *p && *p != '"'; p++)
        if (*p >= 'a' && *p <= 'f') {
            *p = (char)(*p - 'a' + 'A');
            upper_ok = 1;
            break;
        }
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
        {"duplicate v", "{\"v\":1,", "{\"v\":1,\"v\":1,", 1, MS_BCAST_DUPLICATE_FIELD},
        {"duplicate t", "\"t\":5,", "\"t\":5,\"t\":5,", 1, MS_BCAST_DUPLICATE_FIELD},
        {"duplicate seq later", ",\"shared\":", ",\"seq\":7,\"shared\":", 1, MS_BCAST_DUPLICATE_FIELD},
        {"unknown field first", "{\"v\":1,", "{\"admin\":1,\"v\":1,", 1, MS_BCAST_UNKNOWN_FIELD},
        {"unknown field before mac", ",\"shared\":", ",\"x\":null,\"shared\":", 1, MS_BCAST_UNKNOWN_FIELD},
        {"field name case", "{\"v\":1", "{\"V\":1", 1, MS_BCAST_UNKNOWN_FIELD},
        {"missing t", "\"t\":5,", "", 1, MS_BCAST_MISSING_FIELD},
        {"missing v", "{\"v\":1,", "{", 1, MS_BCAST_MISSING_FIELD},
        {"missing link", link_field, "", 1, MS_BCAST_MISSING_FIELD},
        {"string for seq", "\"seq\":6", "\"seq\":\"6\"", 1, MS_BCAST_WRONG_TYPE},
        {"array for env", "\"env\":1", "\"env\":[1]", 1, MS_BCAST_WRONG_TYPE},
        {"real for t", "\"t\":5", "\"t\":5.0", 1, MS_BCAST_WRONG_TYPE},
        {"bool for v", "\"v\":1", "\"v\":true", 1, MS_BCAST_WRONG_TYPE},
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
        {"version 2", "\"v\":1", "\"v\":2", 1, MS_BCAST_BAD_VERSION},
        {"wrong env", "\"env\":1", "\"env\":3", 1, MS_BCAST_WRONG_ENV},
        {"unknown key id", "\"kid\":\"dev0\"", "\"kid\":\"dev9\"", 1, MS_BCAST_UNKNOWN_KEY},
        {"empty key id", "\"kid\":\"dev0\"", "\"kid\":\"\"", 1, MS_BCAST_UNKNOWN_KEY},
        {"non-hex pseudonym", from_field, from_bad, 1, MS_BCAST_BAD_PSEUDONYM},
        {"short pseudonym", to_field, to_short, 1, MS_BCAST_BAD_PSEUDONYM},
        {"pseudonym of another key", "\"subject\":\"dev0:", "\"subject\":\"dev1:", 1, MS_BCAST_BAD_PSEUDONYM},
        {"pseudonym without colon", "\"attachment\":\"dev0:", "\"attachment\":\"dev0-", 1, MS_BCAST_BAD_PSEUDONYM},
        {"uppercase pseudonym", from_field, upper_ok ? from_upper : from_bad, 1, MS_BCAST_BAD_PSEUDONYM},
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
    for (char *p = buf + fx.n - 66; p < buf + fx.n - 2; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    CHECK(strcmp(buf, fx.base) == 0 || validate(buf, strlen(buf), &x, NULL, NULL) == MS_BCAST_BAD_MAC, "uppercase MAC hex");
    snprintf(buf, sizeof buf, "%s", fx.base);
    memmove(buf + fx.n - 3, buf + fx.n - 2, 3); /* drop one hex digit */
    CHECK(validate(buf, strlen(buf), &x, NULL, NULL) == MS_BCAST_BAD_MAC, "63-digit MAC");
    snprintf(buf, sizeof buf, "%s", fx.base);
    memset(buf + fx.n - 66, '0', 64);
    CHECK(validate(buf, strlen(buf), &x, NULL, NULL) == MS_BCAST_BAD_MAC, "zero MAC");

    /* "mac" not last: at the front, and in the middle with a MAC that is
     * correct for the bytes before it. */
    const char *macf = strstr(fx.base, ",\"mac\":\"");
    snprintf(buf, sizeof buf, "{%.*s,%.*s}", 72, macf + 1, (int)(macf - fx.base - 1), fx.base + 1);
    CHECK(validate(buf, strlen(buf), &x, NULL, NULL) == MS_BCAST_MAC_POSITION, "mac first: %s", buf);
    const char *shared = strstr(fx.base, ",\"shared\":");
    int plen = (int)(shared - fx.base);
    snprintf(buf, sizeof buf, "%.*s,\"mac\":\"%064d\"%.*s}", plen, fx.base, 0, (int)(macf - shared), shared);
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
    RUN(test_bcast_canonical_bytes);
    RUN(test_bcast_mac_failure_decides_nothing);
    RUN(test_bcast_sim_broadcasts);
    RUN(test_bcast_hostile_corpus);
    RUN(test_bcast_poison_each_kind);
    RUN(test_bcast_poison_mixed);
}
