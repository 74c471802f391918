#include "sim/bcast.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "base/b64.h"
#include "base/hash.h"

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

char *ms_put_micro_naive(char *p, int32_t u)
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

/* "00", "01", ..., "99". */
static const char digit_pairs[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                  "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                  "8081828384858687888990919293949596979899";

/* Trailing decimal zeros of each pair "00".."99" (2 for "00"). */
static const unsigned char pair_zeros[100] = {
    2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0};

/* The same text as ms_put_micro_naive: "0." and the six digits written two
 * at a time (three divisions instead of twelve), then cut after the last
 * nonzero digit, whose place comes from the pairs without a loop (the loop
 * mispredicted on every feature); it always stores 8 bytes. */
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
    uint32_t v = (uint32_t)u, hi = v / 10000, mid = v / 100 % 100, lo = v % 100;
    p[0] = '0';
    p[1] = '.';
    memcpy(p + 2, digit_pairs + 2 * hi, 2);
    memcpy(p + 4, digit_pairs + 2 * mid, 2);
    memcpy(p + 6, digit_pairs + 2 * lo, 2);
    /* 0 < v < 10^6, so at most 5 zeros and hi != 0 when mid = lo = 0. */
    unsigned zeros = pair_zeros[lo] + (lo == 0) * (pair_zeros[mid] + (mid == 0) * pair_zeros[hi]);
    return p + 8 - zeros;
}

/* The key id: a fixed-size copy of its whole buffer (one 16-byte move
 * instead of a call for a variable length), then only its length counts;
 * the bytes after it are overwritten by what follows. */
static char *put_kid(char *p, const ms_pseudonyms *pn, size_t kidlen)
{
    memcpy(p, pn->key_id, sizeof pn->key_id);
    return p + kidlen;
}

static char *put_pseudonym(char *p, const char *sym)
{
    *p++ = '"';
    p = put_lit(p, sym, MS_PSEUDO_LEN);
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
                       const ms_pseudonyms *pn, ms_hmac *mac, ms_bcast_mac *sent)
{
    /* Worst case is ~430 bytes with a 15-byte key id, well under MS_BCAST_MAX
     * (the helpers below may store up to 16 bytes past their end). */
    size_t kl = strlen(pn->key_id);
    char *p = out;
    p = PUT(p, "{\"v\":2,\"seq\":");
    p = put_u64(p, seq);
    p = PUT(p, ",\"env\":");
    p = put_u64(p, (uint64_t)env);
    p = PUT(p, ",\"t\":");
    p = put_u64(p, (uint64_t)msg->t);
    p = PUT(p, ",\"kid\":\"");
    p = put_kid(p, pn, kl);
    p = PUT(p, "\",\"from\":");
    p = put_pseudonym(p, pn->sender[msg->sender]);
    p = PUT(p, ",\"to\":");
    p = put_pseudonym(p, pn->recipient[env]);
    p = PUT(p, ",\"subject\":");
    p = put_pseudonym(p, pn->subject[msg->subject]);
    p = PUT(p, ",\"attachment\":");
    p = msg->attach >= 0 ? put_pseudonym(p, pn->attach[msg->attach]) : PUT(p, "null");
    p = PUT(p, ",\"link\":");
    p = msg->link >= 0 ? put_pseudonym(p, pn->link[msg->link]) : PUT(p, "null");
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
    if (sent) {
        sent->cut = (size_t)(p - out);
        memcpy(sent->md, md, 32);
    }
    p = PUT(p, ",\"mac\":\"");
    p += ms_b64url_encode(md, 32, p); /* MS_BCAST_MAC_LEN symbols */
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

/* HMAC of buf[0..cut) under x->mac, or the sender's MAC of exactly these
 * bytes (see ms_bcast_expect.sent). 0, or nonzero if libcrypto fails. */
static int mac_of(const ms_bcast_expect *x, const char *buf, size_t cut, unsigned char want[32])
{
    if (x->sent && x->sent_mac && x->sent_mac->cut == cut && (x->sent == buf || !memcmp(x->sent, buf, cut))) {
        memcpy(want, x->sent_mac->md, 32);
        return 0;
    }
    return ms_hmac_compute(x->mac, buf, cut, want);
}

int ms_bcast_validate_naive(const char *buf, size_t n, const ms_bcast_expect *x, float f[MS_NFEAT], uint64_t *seq_out)
{
    if (n == 0 || n > MS_BCAST_MAX)
        return MS_BCAST_MALFORMED;
    cursor c = {buf, buf + n, 0};
    unsigned seen = 0;
    int nseen = 0; /* keys read so far */
    uint64_t ints[4] = {0, 0, 0, 0};
    const char *kid = NULL, *pn[NFIELD] = {0}, *mac_b64 = NULL;
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
            rc = c.p < c.end && *c.p == '"' ? parse_string(&c, &mac_b64, &mac_len) : wrong_or_malformed(&c);
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
    if (mac_len != MS_BCAST_MAC_LEN || ms_b64url_decode(mac_b64, mac_len, got, sizeof got) != 32)
        return MS_BCAST_BAD_MAC;
    /* A MAC that could not be computed (libcrypto out of memory) decides
     * nothing: reported as such, never as a tampered broadcast (the fault
     * sweep's failed allocation was recorded as an anomaly and the run went
     * on, diverged from the fault-free one). The fast path leaves it here. */
    if (mac_of(x, buf, mac_cut, want))
        return MS_EIO;
    if (CRYPTO_memcmp(want, got, 32))
        return MS_BCAST_BAD_MAC;

    if (c.value_error)
        return c.value_error;
    if (ints[F_V] != MS_BCAST_VERSION)
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
        if (!ms_b64url_is_canonical(pn[fi], pnlen[fi], MS_PSEUDO_BYTES))
            return MS_BCAST_BAD_PSEUDONYM;
    }
    if (ints[F_SEQ] <= x->last_seq || (x->clock_seq && ints[F_SEQ] != x->clock_seq))
        return MS_BCAST_STALE_SEQ;
    *seq_out = ints[F_SEQ];
    return MS_BCAST_OK;
}

/* ---- validation: the canonical fast path ----
 *
 * Every genuine broadcast has exactly the shape ms_bcast_encode writes (the
 * byte format in bcast.h). validate_fast matches that shape literally, left
 * to right, with the receiver's own key id in place, and decides only one
 * way: MS_BCAST_OK, when the naive validator would accept the same bytes
 * with the same features and sequence number; -1 ("not decided") for
 * anything else, which ms_bcast_validate hands to the naive validator. Why
 * that is exact: whatever this accepts is valid JSON in the canonical field
 * order with every field present once and "mac" last, each value of the
 * type the naive parser wants (integers of at most 18 digits, so none
 * overflows; features 0, 1 or 0.d{1,6}, which the naive parser reads on the
 * same exact path, finite and in range), and every check after the MAC is
 * repeated here on the same numbers. */

/* Consumes the literal s[0..n) at *p. */
static inline int take(const char **p, const char *end, const char *s, size_t n)
{
    if ((size_t)(end - *p) < n || memcmp(*p, s, n))
        return 0;
    *p += n;
    return 1;
}
#define TAKE(lit) take(&p, end, lit, sizeof lit - 1)

/* A decimal integer without sign or leading zero, at most 18 digits. */
static inline int take_uint(const char **pp, const char *end, uint64_t *out)
{
    const char *p = *pp;
    uint64_t v = 0;
    int nd = 0;
    while (p < end && is_digit(*p) && nd <= 18) {
        v = v * 10 + (uint64_t)(*p++ - '0');
        nd++;
    }
    if (nd == 0 || nd > 18 || (nd > 1 && **pp == '0'))
        return 0;
    *pp = p;
    *out = v;
    return 1;
}

/* 1 for each base64url symbol, 2 for those that may end a canonical
 * 128-bit pseudonym (22 symbols: the last carries 2 bits, its low 4 zero). */
static const unsigned char url_sym[256] = {
    ['A'] = 2, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1,
    ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 2, ['R'] = 1, ['S'] = 1, ['T'] = 1,
    ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1,
    ['e'] = 1, ['f'] = 1, ['g'] = 2, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1,
    ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 2, ['x'] = 1,
    ['y'] = 1, ['z'] = 1, ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1, ['-'] = 1, ['_'] = 1};

/* A quoted pseudonym: MS_PSEUDO_LEN base64url symbols, canonical (what
 * ms_b64url_is_canonical accepts for 16 bytes). */
static inline int take_pseudonym(const char **pp, const char *end)
{
    const char *p = *pp;
    if ((size_t)(end - p) < MS_PSEUDO_LEN + 2 || p[0] != '"' || p[MS_PSEUDO_LEN + 1] != '"')
        return 0;
    unsigned ok = url_sym[(unsigned char)p[MS_PSEUDO_LEN]] == 2;
    for (int i = 1; i < MS_PSEUDO_LEN; i++)
        ok &= url_sym[(unsigned char)p[i]] != 0;
    if (!ok)
        return 0;
    *pp = p + MS_PSEUDO_LEN + 2;
    return 1;
}

/* The digits after "0." at s, eight bytes at a time (the caller
 * guarantees 8 readable bytes): returns how many there are (0 to 8) and,
 * when 1 to 6, their value as micro-units in *u (padded with zeros to six
 * digits), as parse_feature's digit loop computes it. A loop over the
 * digits mispredicted on every feature. */
static inline int micro_digits8(const char *s, int32_t *u)
{
    uint64_t w;
    memcpy(&w, s, 8); /* s[0] in the lowest byte: */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    /* Per byte, x = b ^ '0' is below 10 exactly for an ASCII digit; the
     * high bit of ((x & 0x7f) + 0x76) | x says "x >= 10" without carries. */
    const uint64_t high = 0x8080808080808080u;
    uint64_t x = w ^ 0x3030303030303030u;
    uint64_t other = (((x & ~high) + 0x7676767676767676u) | x) & high;
    int nd = other ? __builtin_ctzll(other) / 8 : 8; /* the first non-digit */
    if (nd < 1 || nd > 6)
        return nd;
    /* Keep the digits, shifted so that they fill bytes 2..7 (a leading
     * "00", the padding zeros last), then combine the eight decimal digits
     * pairwise: bytes -> 2-digit -> 4-digit -> 8-digit numbers. */
    uint64_t d = (x & ((1ull << (8 * nd)) - 1)) << 16;
    d = (d * 2561) >> 8;
    d = ((d & 0x00ff00ff00ff00ffu) * 6553601) >> 16;
    d = ((d & 0x0000ffff0000ffffu) * 42949672960001u) >> 32;
    *u = (int32_t)d;
    return nd;
}

/* n features 0, 1 or 0.d{1,6}, comma-separated, then ']'. The value is
 * parse_feature's exact path, (float)((double)u / 10^6), computed by
 * ms_micro_to_float with a multiplication that gives the same floats. */
static inline int take_features(const char **pp, const char *end, float *out, int n)
{
    const char *p = *pp;
    for (int i = 0; i < n; i++) {
        if (end - p < 2 + 8) /* a feature is never the last bytes */
            return 0;
        if (p[0] == '0' && p[1] == '.') {
            int32_t u = 0;
            int nd = micro_digits8(p + 2, &u);
            if (nd < 1 || nd > 6)
                return 0;
            out[i] = ms_micro_to_float(u);
            p += 2 + nd;
        } else if (p[0] == '0' || p[0] == '1') {
            out[i] = (float)(double)(p[0] - '0');
            p++;
        } else {
            return 0;
        }
        if (p >= end || *p++ != (i == n - 1 ? ']' : ','))
            return 0;
    }
    *pp = p;
    return 1;
}

int ms_bcast_validate_fast(const char *buf, size_t n, const ms_bcast_expect *x, float f[MS_NFEAT], uint64_t *seq_out)
{
    const char *kid = x->key_id;
    size_t kl = strlen(kid);
    /* The key id is matched literally: only where the naive parser would
     * read it as the same string (no quote, escape or control byte). */
    for (size_t i = 0; i < kl; i++)
        if (kid[i] == '"' || kid[i] == '\\' || (unsigned char)kid[i] < 0x20 || (unsigned char)kid[i] >= 0x7f)
            return -1;
    if (n == 0 || n > MS_BCAST_MAX)
        return -1;
    const char *p = buf, *end = buf + n;
    uint64_t seq, env, t;
    if (!TAKE("{\"v\":2,\"seq\":") || !take_uint(&p, end, &seq) || !TAKE(",\"env\":") || !take_uint(&p, end, &env) ||
        !TAKE(",\"t\":") || !take_uint(&p, end, &t) || !TAKE(",\"kid\":\"") || !take(&p, end, kid, kl) ||
        !TAKE("\",\"from\":") || !take_pseudonym(&p, end) || !TAKE(",\"to\":") ||
        !take_pseudonym(&p, end) || !TAKE(",\"subject\":") || !take_pseudonym(&p, end) ||
        !TAKE(",\"attachment\":") || !(TAKE("null") || take_pseudonym(&p, end)) || !TAKE(",\"link\":") ||
        !(TAKE("null") || take_pseudonym(&p, end)) || !TAKE(",\"header\":[") ||
        !take_features(&p, end, f + MS_F_HEADER0, MS_N_HEADER) || !TAKE(",\"content\":[") ||
        !take_features(&p, end, f + MS_F_CONTENT0, MS_N_CONTENT) || !TAKE(",\"security\":[") ||
        !take_features(&p, end, f + MS_F_SECURITY0, MS_N_SECURITY) || !TAKE(",\"shared\":[") ||
        !take_features(&p, end, f + MS_F_SHARED0, MS_N_SHARED))
        return -1;
    size_t mac_cut = (size_t)(p - buf);
    if (!TAKE(",\"mac\":\"") || end - p != MS_BCAST_MAC_LEN + 2 || p[MS_BCAST_MAC_LEN] != '"' ||
        p[MS_BCAST_MAC_LEN + 1] != '}')
        return -1;
    if (env != (uint64_t)x->env || t >= (uint64_t)x->episode_len || seq <= x->last_seq ||
        (x->clock_seq && seq != x->clock_seq))
        return -1;
    /* The received symbols against the encoding of the expected MAC: equal
     * exactly when they are the canonical encoding of that MAC, which is
     * when the naive validator's strict decoding gives it. */
    unsigned char want[32];
    char sym[MS_BCAST_MAC_LEN];
    if (mac_of(x, buf, mac_cut, want))
        return -1;
    ms_b64url_encode(want, 32, sym);
    if (CRYPTO_memcmp(sym, p, MS_BCAST_MAC_LEN))
        return -1;
    *seq_out = seq;
    return MS_BCAST_OK;
}

int ms_bcast_validate(const char *buf, size_t n, const ms_bcast_expect *x, float f[MS_NFEAT], uint64_t *seq)
{
    if (ms_bcast_validate_fast(buf, n, x, f, seq) == MS_BCAST_OK)
        return MS_BCAST_OK;
    return ms_bcast_validate_naive(buf, n, x, f, seq);
}
