#include "sim/bcast.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

const char *const ms_bcast_reason_names[MS_BCAST_NREASON] = {
    "ok", "malformed", "duplicate_field", "unknown_field", "missing_field", "wrong_type",
    "bad_length", "mac_position", "bad_mac", "non_finite", "out_of_range", "bad_version",
    "wrong_env", "unknown_key", "bad_pseudonym", "stale_seq"};

/* ---- encoding ---- */

static char *put_lit(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}
#define PUT(p, lit) put_lit(p, lit, sizeof lit - 1)

static char *put_u64(char *p, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

char *ms_put_micro(char *p, int32_t u)
{
    if (u <= 0) {
        *p++ = '0';
        return p;
    }
    if (u >= MS_MICRO) {
        *p++ = '1';
        return p;
    }
    char d[6];
    for (int i = 5; i >= 0; i--) {
        d[i] = (char)('0' + u % 10);
        u /= 10;
    }
    int len = 6;
    while (d[len - 1] == '0')
        len--;
    *p++ = '0';
    *p++ = '.';
    return put_lit(p, d, (size_t)len);
}

static char *put_pseudonym(char *p, const char *kid, size_t kidlen, const char *hex)
{
    *p++ = '"';
    p = put_lit(p, kid, kidlen);
    *p++ = ':';
    p = put_lit(p, hex, MS_PSEUDO_HEX);
    *p++ = '"';
    return p;
}

static char *put_features(char *p, const int32_t *f, int n)
{
    *p++ = '[';
    for (int i = 0; i < n; i++) {
        if (i)
            *p++ = ',';
        p = ms_put_micro(p, f[i]);
    }
    *p++ = ']';
    return p;
}

size_t ms_bcast_encode(char *out, const ms_msg *msg, uint64_t seq, int env,
                       const ms_pseudonyms *pn, ms_hmac *mac)
{
    /* Worst case is ~560 bytes with a 15-byte key id, well under MS_BCAST_MAX. */
    const char *kid = pn->key_id;
    size_t kl = strlen(kid);
    char *p = out;
    p = PUT(p, "{\"v\":1,\"seq\":");
    p = put_u64(p, seq);
    p = PUT(p, ",\"env\":");
    p = put_u64(p, (uint64_t)env);
    p = PUT(p, ",\"t\":");
    p = put_u64(p, (uint64_t)msg->t);
    p = PUT(p, ",\"kid\":\"");
    p = put_lit(p, kid, kl);
    p = PUT(p, "\",\"from\":");
    p = put_pseudonym(p, kid, kl, pn->sender[msg->sender]);
    p = PUT(p, ",\"to\":");
    p = put_pseudonym(p, kid, kl, pn->recipient[env]);
    p = PUT(p, ",\"subject\":");
    p = put_pseudonym(p, kid, kl, pn->subject[msg->subject]);
    p = PUT(p, ",\"attachment\":");
    p = msg->attach >= 0 ? put_pseudonym(p, kid, kl, pn->attach[msg->attach]) : PUT(p, "null");
    p = PUT(p, ",\"link\":");
    p = msg->link >= 0 ? put_pseudonym(p, kid, kl, pn->link[msg->link]) : PUT(p, "null");
    p = PUT(p, ",\"header\":");
    p = put_features(p, msg->f + MS_F_HEADER0, MS_N_HEADER);
    p = PUT(p, ",\"content\":");
    p = put_features(p, msg->f + MS_F_CONTENT0, MS_N_CONTENT);
    p = PUT(p, ",\"security\":");
    p = put_features(p, msg->f + MS_F_SECURITY0, MS_N_SECURITY);
    p = PUT(p, ",\"shared\":");
    p = put_features(p, msg->f + MS_F_SHARED0, MS_N_SHARED);
    unsigned char md[32];
    if (ms_hmac_compute(mac, out, (size_t)(p - out), md))
        return 0;
    p = PUT(p, ",\"mac\":\"");
    ms_hex(md, 32, p); /* writes 64 digits + NUL, overwritten below */
    p += 64;
    *p++ = '"';
    *p++ = '}';
    return (size_t)(p - out);
}

/* ---- validation ---- */

enum { F_V, F_SEQ, F_ENV, F_T, F_KID, F_FROM, F_TO, F_SUBJECT, F_ATTACHMENT, F_LINK,
       F_HEADER, F_CONTENT, F_SECURITY, F_SHARED, F_MAC, NFIELD };
static const char *const field_names[NFIELD] = {
    "v", "seq", "env", "t", "kid", "from", "to", "subject", "attachment", "link",
    "header", "content", "security", "shared", "mac"};
static const size_t field_len[NFIELD] = {1, 3, 3, 1, 3, 4, 2, 7, 10, 4, 6, 7, 8, 6, 3};
enum { T_INT, T_KID, T_PN, T_PN_NULL, T_ARR, T_MAC };
static const unsigned char field_types[NFIELD] = {
    T_INT, T_INT, T_INT, T_INT, T_KID, T_PN, T_PN, T_PN, T_PN_NULL, T_PN_NULL,
    T_ARR, T_ARR, T_ARR, T_ARR, T_MAC};
static const int array_len[NFIELD] = {[F_HEADER] = MS_N_HEADER, [F_CONTENT] = MS_N_CONTENT,
                                      [F_SECURITY] = MS_N_SECURITY, [F_SHARED] = MS_N_SHARED};
static const int array_off[NFIELD] = {[F_HEADER] = MS_F_HEADER0, [F_CONTENT] = MS_F_CONTENT0,
                                      [F_SECURITY] = MS_F_SECURITY0, [F_SHARED] = MS_F_SHARED0};

typedef struct cursor {
    const char *p, *end;
    int value_error; /* first deferred value problem (checked after the MAC) */
} cursor;

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int wrong_or_malformed(const cursor *c)
{
    if (c->p >= c->end)
        return MS_BCAST_MALFORMED;
    char ch = *c->p;
    if (ch == '"' || ch == '[' || ch == '{' || ch == '-' || is_digit(ch))
        return MS_BCAST_WRONG_TYPE;
    if ((ch == 't' && c->end - c->p >= 4 && !memcmp(c->p, "true", 4)) ||
        (ch == 'f' && c->end - c->p >= 5 && !memcmp(c->p, "false", 5)) ||
        (ch == 'n' && c->end - c->p >= 4 && !memcmp(c->p, "null", 4)))
        return MS_BCAST_WRONG_TYPE;
    return MS_BCAST_MALFORMED;
}

/* Scans one JSON number; returns 0 and sets *len and *integral, or a reason
 * (another JSON value where a number belongs is a wrong type). */
static int scan_number(const cursor *c, size_t *len, int *integral)
{
    const char *p = c->p, *e = c->end;
    if (p >= e || !(is_digit(*p) || *p == '-'))
        return wrong_or_malformed(c);
    if (p < e && *p == '-')
        p++;
    if (p >= e || !is_digit(*p))
        return MS_BCAST_MALFORMED;
    if (*p == '0')
        p++;
    else
        while (p < e && is_digit(*p)) p++;
    *integral = 1;
    if (p < e && *p == '.') {
        p++;
        if (p >= e || !is_digit(*p))
            return MS_BCAST_MALFORMED;
        while (p < e && is_digit(*p)) p++;
        *integral = 0;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            p++;
        if (p >= e || !is_digit(*p))
            return MS_BCAST_MALFORMED;
        while (p < e && is_digit(*p)) p++;
        *integral = 0;
    }
    *len = (size_t)(p - c->p);
    return 0;
}

static void defer(cursor *c, int reason)
{
    if (!c->value_error)
        c->value_error = reason;
}

/* A feature: any JSON number, finite and in [0, 1]. Canonical text takes a
 * fast exact path; anything else goes through strtod. */
static int parse_feature(cursor *c, float *out)
{
    size_t len;
    int integral;
    int rc = scan_number(c, &len, &integral);
    if (rc)
        return rc;
    const char *s = c->p;
    double v;
    if (len == 1 && (s[0] == '0' || s[0] == '1')) {
        v = s[0] - '0';
    } else if (len >= 3 && len <= 8 && s[0] == '0' && s[1] == '.') {
        int32_t u = 0;
        size_t k = 2;
        for (; k < len && is_digit(s[k]); k++)
            u = u * 10 + (s[k] - '0');
        if (k != len)
            goto slow;
        for (size_t pad = len; pad < 8; pad++)
            u *= 10;
        v = (double)u / MS_MICRO;
    } else {
    slow:;
        char tmp[48];
        if (len >= sizeof tmp)
            return MS_BCAST_MALFORMED;
        memcpy(tmp, s, len);
        tmp[len] = 0;
        v = strtod(tmp, NULL);
    }
    c->p += len;
    if (!isfinite(v))
        defer(c, MS_BCAST_NON_FINITE);
    else if (!(v >= 0.0 && v <= 1.0))
        defer(c, MS_BCAST_OUT_OF_RANGE);
    *out = (float)v;
    return 0;
}

static int parse_int_field(cursor *c, uint64_t *out)
{
    size_t len;
    int integral;
    int rc = scan_number(c, &len, &integral);
    if (rc)
        return rc;
    if (!integral)
        return MS_BCAST_WRONG_TYPE;
    uint64_t v = 0;
    int neg = c->p[0] == '-';
    for (size_t k = (size_t)neg; k < len; k++) {
        if (v > (UINT64_MAX - 9) / 10) {
            defer(c, MS_BCAST_OUT_OF_RANGE);
            break;
        }
        v = v * 10 + (uint64_t)(c->p[k] - '0');
    }
    if (neg && v)
        defer(c, MS_BCAST_OUT_OF_RANGE);
    c->p += len;
    *out = v;
    return 0;
}

/* A string without escapes or control bytes; returns its bounds. */
static int parse_string(cursor *c, const char **s, size_t *n)
{
    if (c->p >= c->end || *c->p != '"')
        return MS_BCAST_WRONG_TYPE;
    const char *start = ++c->p;
    const char *q = memchr(start, '"', (size_t)(c->end - start));
    if (!q)
        return MS_BCAST_MALFORMED;
    unsigned bad = 0;
    for (const char *r = start; r < q; r++) {
        unsigned char ch = (unsigned char)*r;
        bad |= (ch == '\\') | (ch < 0x20) | (ch >= 0x7f);
    }
    if (bad)
        return MS_BCAST_MALFORMED;
    c->p = q;
    *s = start;
    *n = (size_t)(c->p - start);
    c->p++;
    return 0;
}

/* Value + 1 of each lowercase hex digit; 0 for every other byte. */
static const unsigned char hex1[256] = {
    ['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7, ['7'] = 8,
    ['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16};

static int is_lower_hex(const char *s, size_t n)
{
    unsigned ok = 1;
    for (size_t i = 0; i < n; i++)
        ok &= hex1[(unsigned char)s[i]] != 0;
    return (int)ok;
}

int ms_bcast_validate(const char *buf, size_t n, const ms_bcast_expect *x, float f[MS_NFEAT], uint64_t *seq_out)
{
    if (n == 0 || n > MS_BCAST_MAX)
        return MS_BCAST_MALFORMED;
    cursor c = {buf, buf + n, 0};
    unsigned seen = 0;
    int nseen = 0; /* keys read so far */
    uint64_t ints[4] = {0, 0, 0, 0};
    const char *kid = NULL, *pn[NFIELD] = {0}, *mac_hex = NULL;
    size_t kidlen = 0, pnlen[NFIELD] = {0}, mac_len = 0, mac_cut = 0;
    int last_field = -1;

    if (*c.p++ != '{')
        return MS_BCAST_MALFORMED;
    for (;;) {
        const char *key;
        size_t klen;
        const char *field_start = c.p;
        if (c.p < c.end && *c.p != '"')
            return MS_BCAST_MALFORMED;
        int rc = parse_string(&c, &key, &klen);
        if (rc)
            return MS_BCAST_MALFORMED;
        if (c.p >= c.end || *c.p++ != ':')
            return MS_BCAST_MALFORMED;
        /* Canonical order first: the k-th key is normally field k. */
        int fi = -1, guess = nseen++;
        if (guess < NFIELD && field_len[guess] == klen && !memcmp(field_names[guess], key, klen))
            fi = guess;
        for (int i = 0; fi < 0 && i < NFIELD; i++)
            if (field_len[i] == klen && !memcmp(field_names[i], key, klen))
                fi = i;
        if (fi < 0)
            return MS_BCAST_UNKNOWN_FIELD;
        if (seen & (1u << fi))
            return MS_BCAST_DUPLICATE_FIELD;
        seen |= 1u << fi;
        last_field = fi;
        switch (field_types[fi]) {
        case T_INT:
            rc = parse_int_field(&c, &ints[fi]);
            break;
        case T_KID:
            rc = c.p < c.end && *c.p == '"' ? parse_string(&c, &kid, &kidlen) : wrong_or_malformed(&c);
            break;
        case T_PN_NULL:
            if (c.end - c.p >= 4 && !memcmp(c.p, "null", 4)) {
                c.p += 4;
                pn[fi] = NULL;
                break;
            }
            /* fall through */
        case T_PN:
            rc = c.p < c.end && *c.p == '"' ? parse_string(&c, &pn[fi], &pnlen[fi]) : wrong_or_malformed(&c);
            break;
        case T_ARR: {
            if (c.p >= c.end || *c.p != '[') {
                rc = wrong_or_malformed(&c);
                break;
            }
            c.p++;
            int count = 0;
            float tmp;
            if (c.p < c.end && *c.p == ']') {
                c.p++;
                rc = MS_BCAST_BAD_LENGTH;
                break;
            }
            for (;;) {
                float *dst = count < array_len[fi] ? &f[array_off[fi] + count] : &tmp;
                rc = parse_feature(&c, dst);
                if (rc)
                    break;
                count++;
                if (c.p >= c.end) {
                    rc = MS_BCAST_MALFORMED;
                    break;
                }
                if (*c.p == ',') {
                    c.p++;
                    continue;
                }
                if (*c.p == ']') {
                    c.p++;
                    break;
                }
                rc = MS_BCAST_MALFORMED;
                break;
            }
            if (!rc && count != array_len[fi])
                rc = MS_BCAST_BAD_LENGTH;
            break;
        }
        case T_MAC:
            if (field_start == buf + 1)
                return MS_BCAST_MAC_POSITION; /* nothing before it to authenticate */
            mac_cut = (size_t)(field_start - 1 - buf); /* up to the comma */
            rc = c.p < c.end && *c.p == '"' ? parse_string(&c, &mac_hex, &mac_len) : wrong_or_malformed(&c);
            break;
        }
        if (rc)
            return rc;
        if (c.p >= c.end)
            return MS_BCAST_MALFORMED;
        if (*c.p == ',') {
            c.p++;
            continue;
        }
        if (*c.p == '}') {
            c.p++;
            break;
        }
        return MS_BCAST_MALFORMED;
    }
    if (c.p != c.end)
        return MS_BCAST_MALFORMED;
    if (seen != (1u << NFIELD) - 1)
        return MS_BCAST_MISSING_FIELD;
    if (last_field != F_MAC)
        return MS_BCAST_MAC_POSITION;

    unsigned char want[32], got[32];
    if (mac_len != 64 || !is_lower_hex(mac_hex, 64))
        return MS_BCAST_BAD_MAC;
    for (int i = 0; i < 32; i++)
        got[i] = (unsigned char)(((hex1[(unsigned char)mac_hex[2 * i]] - 1) << 4) |
                                 (hex1[(unsigned char)mac_hex[2 * i + 1]] - 1));
    /* A MAC that could not be computed (libcrypto out of memory) decides
     * nothing: reported as such, never as a tampered broadcast (the fault
     * sweep's failed allocation was recorded as an anomaly and the run went
     * on, diverged from the fault-free one). */
    if (ms_hmac_compute(x->mac, buf, mac_cut, want))
        return MS_EIO;
    if (CRYPTO_memcmp(want, got, 32))
        return MS_BCAST_BAD_MAC;

    if (c.value_error)
        return c.value_error;
    if (ints[F_V] != 1)
        return MS_BCAST_BAD_VERSION;
    if (ints[F_ENV] != (uint64_t)x->env)
        return MS_BCAST_WRONG_ENV;
    if (ints[F_T] >= (uint64_t)x->episode_len)
        return MS_BCAST_OUT_OF_RANGE;
    size_t kl = strlen(x->key_id); /* short, once per broadcast */
    if (kidlen != kl || memcmp(kid, x->key_id, kl))
        return MS_BCAST_UNKNOWN_KEY;
    for (int fi = F_FROM; fi <= F_LINK; fi++) {
        if (!pn[fi])
            continue; /* null is only accepted where the type allows it */
        if (pnlen[fi] != kl + 1 + MS_PSEUDO_HEX || memcmp(pn[fi], x->key_id, kl) || pn[fi][kl] != ':' ||
            !is_lower_hex(pn[fi] + kl + 1, MS_PSEUDO_HEX))
            return MS_BCAST_BAD_PSEUDONYM;
    }
    if (ints[F_SEQ] <= x->last_seq || (x->clock_seq && ints[F_SEQ] != x->clock_seq))
        return MS_BCAST_STALE_SEQ;
    *seq_out = ints[F_SEQ];
    return MS_BCAST_OK;
}
