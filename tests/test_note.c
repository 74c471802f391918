/* test_note.c — signed notes (C2SP signed-note, Ed25519), checkpoint bodies
 * (C2SP tlog-checkpoint) and strict base64: published vectors, round trips,
 * and rejection of every mutation we can name.
 *
 * Published vectors (test data, not secrets):
 *   golang/mod sumdb/note/note.go and note_test.go: the PeterNeumann signer
 *     and verifier keys, the signed "If you think cryptography..." note, the
 *     EnochRoot verifier and signature, and the malformed notes of TestOpen;
 *   google/trillian-examples formats/log/note_test.go: four signer/verifier
 *     key pairs, a sum.golang.org checkpoint with its verifier key, and three
 *     cosignatures of it;
 *   C2SP/C2SP tlog-checkpoint.md: the example checkpoint body;
 *   RFC 8032 §7.1 TEST 1 and 2 (Ed25519); RFC 4648 §10 (base64).
 * Independent oracles in this file (SHA-256 and Ed25519 straight through EVP,
 * a table base64 encoder) never go through ledger/note.c or base/b64.c. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/b64.h"
#include "ledger/note.h"
#include "tests/check.h"

#define EM "\xe2\x80\x94"

/* ---- published vectors ------------------------------------------------- */

/* golang/mod sumdb/note */
static const char peter_vkey[] = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
static const char peter_skey[] =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
static const char enoch_vkey[] = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
static const char go_text[] = "If you think cryptography is the answer to your problem,\n"
                              "then you don't know what your problem is.\n";
static const char peter_sig[] =
    EM " PeterNeumann "
       "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
static const char enoch_sig[] =
    EM " EnochRoot "
       "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

/* google/trillian-examples formats/log/note_test.go */
static const char *const tr_pairs[4][2] = {
    {"Log+2271c621+AemuH5ooBpEPcr+W8onrjA1NfuzBVHdezakU81Ekarvs",
     "PRIVATE+KEY+Log+2271c621+AdEIq9FLRQni54Wg68T96VJO+iayOaulswav2DUMKgvQ"},
    {"Known+451c786d+AXAQ0T7lbwuY4ABJ9/MYY9bWV3hmSyOGVt2x42NkmdUH",
     "PRIVATE+KEY+Known+451c786d+AQPRoE2+Z+Ed1HaHBA9F/FfracvcZ2rDU39kCecMEoci"},
    {"KnownAgain+4893b26c+AQ+LR7BFF/F/dkpIBjBpSvT0crkteizuUkavAoGeaYMj",
     "PRIVATE+KEY+KnownAgain+4893b26c+ARhZda/l25zjGZswYLDZsLNRzNpmv5wYTN9IoTr1OJ2+"},
    {"Unknown+fdbb2e08+AWgRIYZ+8x1Vl+1Q+sR8zciNHiYI1SdlBjNw+RV0rots",
     "PRIVATE+KEY+Unknown+fdbb2e08+Aav2knTC6orbhXX8pMWuNiWgO+Wwk2DB+h1eU2Q1W1nU"},
};
static const char sumdb_vkey[] = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8";
static const char sumdb_body[] =
    "go.sum database tree\n6476701\nmb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=\n";
static const char sumdb_sig[] =
    EM " sum.golang.org "
       "Az3grsLX85Gz+s1SiTbgkuqxgItqFq7gsMUEyVnrsa9LM7Us9S+1xbFIGu95949rj4nPRYfvimWEPWL+o3GeoWwOoAw=\n";
static const char *const cosig_vkeys[3] = {
    "monkeys+db4d9f7e+AULaJMvTtDLHPUcUrjdDad9vDlh/PTfC2VV60JUtCfWT",
    "bananas+cf639f13+AaPjhFnPCQnid/Ql32KWhmh+uk72FVRfK+2DLmO3BI3M",
    "witness+f13a86db+AdYV1Ztajd9BvyjP2HgpwrqYL6TjOwIjGMOq8Bu42xbN",
};
/* Cosignatures of the sumdb checkpoint, then two lines under names nobody
 * trusts (witness's signature relabelled). */
static const char *const cosig_lines[5] = {
    EM " monkeys 202ffh9ve46Mqbhuyb4wnC2Pwdan5EsXQym/tF1ggXJqhjGosU4T5intH4iKMRgDLxrnXuIjRaU2NbvAnaepM6Y+8ww=\n",
    EM " bananas z2OfE+2bbsBZ7NLgfuslc0v7NFW2QyexJ7fhePpoL2N/P7N/COd5S+JNHbQEAlYzz2C5sg0E+x/MggS1mDR6t3/9rQw=\n",
    EM " witness 8TqG25yWGFLdT7WPf/WoyeG3LwqtkXP+8S3yykOVm6EMh4hPgCke6eSVPU4BdtXNMPJBXKF+UpDbGgCdcpR8SVSoqAU=\n",
    EM " random1 8TqG25yWGFLdT7WPf/WoyeG3LwqtkXP+8S3yykOVm6EMh4hPgCke6eSVPU4BdtXNMPJBXKF+UpDbGgCdcpR8SVSoqAU=\n",
    EM " random2 8TqG25yWGFLdT7WPf/WoyeG3LwqtkXP+8S3yykOVm6EMh4hPgCke6eSVPU4BdtXNMPJBXKF+UpDbGgCdcpR8SVSoqAU=\n",
};

/* C2SP/C2SP tlog-checkpoint.md (the body of its example) */
static const char c2sp_body[] =
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

/* ---- independent helpers ------------------------------------------------ */

static long mutations; /* rejected mutations, summed over the suite */

static void unhex(const char *h, unsigned char *out)
{
    for (size_t i = 0; h[2 * i]; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
        out[i] = (unsigned char)v;
    }
}

/* Key id as Go's keyHash: SHA-256(name || '\n' || key)[0..4), key with its
 * algorithm byte, any length. */
static void tkey_id(const char *name, size_t nlen, const unsigned char *key, size_t klen, unsigned char id[4])
{
    unsigned char buf[512], d[32];
    unsigned int dl = 0;
    memcpy(buf, name, nlen);
    buf[nlen] = '\n';
    memcpy(buf + nlen + 1, key, klen);
    EVP_Digest(buf, nlen + 1 + klen, d, &dl, EVP_sha256(), NULL);
    memcpy(id, d, 4);
}

/* Table base64 encoder (RFC 4648 §4), the oracle for base/b64.c. */
static size_t tb64(const unsigned char *in, size_t n, char *out)
{
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t k = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v =
            (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
        out[k++] = A[v >> 18 & 63];
        out[k++] = A[v >> 12 & 63];
        out[k++] = i + 1 < n ? A[v >> 6 & 63] : '=';
        out[k++] = i + 2 < n ? A[v & 63] : '=';
    }
    out[k] = 0;
    return k;
}

/* Decodes s (a multiple of 4 long, with padding) with EVP_DecodeBlock
 * directly; returns the length without the padding's zero bytes. */
static int tb64_dec(const char *s, unsigned char *out)
{
    size_t len = strlen(s);
    int k = EVP_DecodeBlock(out, (const unsigned char *)s, (int)len);
    if (k < 0)
        return -1;
    return k - (len && s[len - 1] == '=') - (len > 1 && s[len - 2] == '=');
}

static EVP_PKEY *key_from_seed(const unsigned char seed[32], unsigned char pub[32])
{
    EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
    size_t pl = 32;
    if (!pk || EVP_PKEY_get_raw_public_key(pk, pub, &pl) != 1 || pl != 32)
        abort();
    return pk;
}

static EVP_PKEY *keygen(unsigned char pub[32])
{
    EVP_PKEY *pk = NULL;
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
    size_t pl = 32;
    if (!c || EVP_PKEY_keygen_init(c) != 1 || EVP_PKEY_keygen(c, &pk) != 1 ||
        EVP_PKEY_get_raw_public_key(pk, pub, &pl) != 1 || pl != 32)
        abort();
    EVP_PKEY_CTX_free(c);
    return pk;
}

/* The test signer: Ed25519 straight through EVP, ctx is the EVP_PKEY. */
static int tsign(void *ctx, const void *msg, size_t n, unsigned char sig[64], ms_err *e)
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    size_t sl = 64;
    int ok = m && EVP_DigestSignInit(m, NULL, NULL, NULL, ctx) == 1 &&
             EVP_DigestSign(m, sig, &sl, msg, n) == 1 && sl == 64;
    EVP_MD_CTX_free(m);
    return ok ? MS_OK : ms_fail(e, MS_EIO, "test signer failed");
}

static int tverify(const unsigned char pub[32], const void *msg, size_t n, const unsigned char sig[64])
{
    EVP_PKEY *pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    int ok = pk && m && EVP_DigestVerifyInit(m, NULL, NULL, NULL, pk) == 1 &&
             EVP_DigestVerify(m, sig, 64, msg, n) == 1;
    EVP_MD_CTX_free(m);
    EVP_PKEY_free(pk);
    return ok;
}

/* Decodes "PRIVATE+KEY+name+hexid+base64(0x01||seed)" (Go's signer key
 * format) without the library: name, id and seed. Returns 0 or -1. */
static int parse_skey(const char *skey, char name[MS_NOTE_NAME_MAX + 1], unsigned char id[4],
                      unsigned char seed[32])
{
    if (strncmp(skey, "PRIVATE+KEY+", 12))
        return -1;
    const char *p = skey + 12, *plus = strchr(p, '+');
    if (!plus || plus - p > MS_NOTE_NAME_MAX || strlen(plus + 1) != 8 + 1 + 44 || plus[9] != '+')
        return -1;
    memcpy(name, p, (size_t)(plus - p));
    name[plus - p] = 0;
    char hex[9];
    memcpy(hex, plus + 1, 8);
    hex[8] = 0;
    unhex(hex, id);
    unsigned char key[36];
    if (tb64_dec(plus + 10, key) != 33 || key[0] != 1)
        return -1;
    memcpy(seed, key + 1, 32);
    return 0;
}

typedef struct tkey {
    EVP_PKEY *pk;
    unsigned char pub[32];
    ms_note_signer s;
    ms_note_verifier v;
} tkey;

static void tkey_new(tkey *k, const char *name)
{
    k->pk = keygen(k->pub);
    k->s.name = name;
    k->s.sign = tsign;
    k->s.ctx = k->pk;
    unsigned char key[33] = {1};
    memcpy(key + 1, k->pub, 32);
    tkey_id(name, strlen(name), key, 33, k->s.key_id);
    memset(&k->v, 0, sizeof k->v);
    snprintf(k->v.name, sizeof k->v.name, "%s", name);
    memcpy(k->v.key_id, k->s.key_id, 4);
    memcpy(k->v.pub, k->pub, 32);
}

static void tkey_free(tkey *k)
{
    EVP_PKEY_free(k->pk);
}

static int open_n(const char *note, size_t n, const ms_note_verifier *v)
{
    ms_err e;
    size_t tl;
    return ms_note_open(note, n, v, &tl, &e);
}

static int open_s(const char *note, const ms_note_verifier *v)
{
    return open_n(note, strlen(note), v);
}

static ms_note_verifier vparse(const char *s)
{
    ms_note_verifier v;
    ms_err e;
    if (ms_note_verifier_parse(s, strlen(s), &v, &e) != MS_OK) {
        fprintf(stderr, "vparse: %s\n", e.msg);
        memset(&v, 0, sizeof v);
    }
    return v;
}

/* ---- base64 (base/b64.c) ------------------------------------------------ */

static void b64_rfc4648_vectors(void)
{
    static const char *const plain[7] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[7] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char out[16];
        unsigned char dec[16];
        size_t k = ms_b64_encode(plain[i], strlen(plain[i]), out);
        CHECK(k == strlen(enc[i]) && !strcmp(out, enc[i]), "encode(%s) = %s", plain[i], out);
        CHECK(MS_B64_LEN(strlen(plain[i])) == strlen(enc[i]), "MS_B64_LEN(%zu)", strlen(plain[i]));
        long d = ms_b64_decode(enc[i], strlen(enc[i]), dec, sizeof dec);
        CHECK(d == (long)strlen(plain[i]) && !memcmp(dec, plain[i], (size_t)d), "decode(%s) = %ld", enc[i],
              d);
        /* exactly the room needed suffices, one byte less does not */
        if (d > 0) {
            CHECK(ms_b64_decode(enc[i], strlen(enc[i]), dec, (size_t)d) == d, "cap %ld", d);
            CHECK(ms_b64_decode(enc[i], strlen(enc[i]), dec, (size_t)d - 1) == -1, "cap %ld - 1", d);
            mutations++;
        }
    }
}

/* Every byte string of 0, 1, 2 and 3 (sampled) bytes: the encoder matches
 * the table oracle, the decoder inverts it. */
static void b64_roundtrip_exhaustive(void)
{
    unsigned char in[3], dec[8];
    char a[8], b[8];
    int bad = 0;
    for (long x = 0; x < 1 + 256 + 65536 + 65536; x++) {
        size_t n;
        long y;
        if (x == 0)
            n = 0, y = 0;
        else if (x <= 256)
            n = 1, y = x - 1;
        else if (x <= 256 + 65536)
            n = 2, y = x - 257;
        else
            n = 3, y = (x - 257 - 65536) * 257 % 16777216;
        for (size_t i = 0; i < n; i++)
            in[i] = (unsigned char)(y >> (8 * i));
        size_t ka = ms_b64_encode(in, n, a), kb = tb64(in, n, b);
        long d = ms_b64_decode(a, ka, dec, sizeof dec);
        if (ka != kb || strcmp(a, b) || d != (long)n || memcmp(dec, in, n))
            bad++;
    }
    CHECK(bad == 0, "%d strings of up to 3 bytes do not round-trip", bad);
    /* a long input (crosses no chunk boundary, but many groups) */
    static unsigned char big[3000];
    static char eb[4001], et[4001];
    static unsigned char db[3000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (unsigned char)(i * 131 + 7);
    for (size_t n = 2990; n <= 3000; n++) {
        size_t k = ms_b64_encode(big, n, eb);
        tb64(big, n, et);
        CHECK(!strcmp(eb, et), "encode of %zu bytes", n);
        CHECK(ms_b64_decode(eb, k, db, sizeof db) == (long)n && !memcmp(db, big, n), "decode of %zu bytes",
              n);
    }
}

static void b64_rejects_noncanonical(void)
{
    static const char *const bad[] = {
        "Zh==",      /* nonzero unused bits (one byte) */
        "Zm9=",      /* nonzero unused bits (two bytes) */
        "Zg=A",      /* '=' in the middle of a group */
        "Z===",      /* three '=' */
        "====",      /* only padding */
        "Zm=v",      /* '=' inside a group */
        "Zg==Zg==",  /* padding in the middle */
        "Zm9v====",  /* a group of padding */
        "=Zm9",      /* '=' first */
        "Zg",        /* no padding */
        "Zm8",       /* no padding */
        "Zm9vY",     /* wrong length */
        "Zm9vYg=",   /* wrong length */
        "Zm9vYg===", /* wrong length */
        " Zm9",      /* whitespace */
        "Zm9 ",      /* whitespace */
        "Zm 9v",     /* whitespace */
        "Zm9v\n",    /* whitespace */
        "Zm9\n",     /* whitespace */
        "\nZm9v",    /* whitespace */
        "Zm9v\r\n",  /* whitespace */
        "Zm\t9v",    /* whitespace */
        "Zm-v",      /* URL-safe alphabet */
        "Zm_v",      /* URL-safe alphabet */
        "Zm.v",      /* not in the alphabet */
    };
    unsigned char out[16];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK(ms_b64_decode(bad[i], strlen(bad[i]), out, sizeof out) == -1, "accepted \"%s\"", bad[i]);
        mutations++;
    }
    /* a NUL or a byte >= 0x80 inside */
    CHECK(ms_b64_decode("Zm\0v", 4, out, sizeof out) == -1, "NUL accepted");
    CHECK(ms_b64_decode("Zm\xc3v", 4, out, sizeof out) == -1, "0xc3 accepted");
    CHECK(ms_b64_decode("Zm9v", 4, out, 2) == -1, "too small cap accepted");
    mutations += 3;
}

/* Over every 4-symbol string of a small alphabet (symbols with different low
 * bits, padding, and non-alphabet bytes): decoding succeeds iff the string
 * is the canonical encoding of what it decodes to. */
static void b64_canonical_property(void)
{
    static const char sym[] = "ABDEPQgw9+/= -_\n";
    const int m = (int)(sizeof sym - 1);
    int accepted = 0, wrong = 0;
    for (int a = 0; a < m; a++)
        for (int b = 0; b < m; b++)
            for (int c = 0; c < m; c++)
                for (int d = 0; d < m; d++) {
                    char s[5] = {sym[a], sym[b], sym[c], sym[d], 0}, re[8];
                    unsigned char out[4];
                    long k = ms_b64_decode(s, 4, out, sizeof out);
                    int canonical = 0;
                    /* canonical iff some byte string of 1..3 bytes encodes to s */
                    for (int len = 1; len <= 3 && !canonical && k >= 0; len++)
                        if (k == len) {
                            tb64(out, (size_t)len, re);
                            canonical = !strcmp(re, s);
                        }
                    if (k >= 0)
                        accepted++;
                    else
                        mutations++;
                    if ((k >= 0) != canonical)
                        wrong++;
                }
    CHECK(wrong == 0, "%d strings accepted though not canonical", wrong);
    /* The 11 alphabet symbols A B D E P Q g w 9 + / (values 0 1 3 4 15 16 32
     * 48 61 62 63) give 11^4 full groups, 11^2 * 5 groups "xyz=" (z's low 2
     * bits zero: A E Q g w) and 11 * 4 groups "xy==" (y's low 4 bits zero:
     * A Q g w); nothing else is canonical. */
    CHECK(accepted == 11 * 11 * 11 * 11 + 11 * 11 * 5 + 11 * 4, "accepted %d", accepted);
}

/* ---- published note vectors -------------------------------------------- */

static void note_go_vectors_open(void)
{
    ms_note_verifier peter, enoch;
    ms_err e = {{0}};
    CHECK(ms_note_verifier_parse(peter_vkey, strlen(peter_vkey), &peter, &e) == MS_OK, "%s", e.msg);
    CHECK(ms_note_verifier_parse(enoch_vkey, strlen(enoch_vkey), &enoch, &e) == MS_OK, "%s", e.msg);
    CHECK(!strcmp(peter.name, "PeterNeumann"), "name %s", peter.name);
    CHECK(!memcmp(peter.key_id, "\xc7\x4f\x20\xa3", 4), "peter id");
    CHECK(!memcmp(enoch.key_id, "\xaf\x0c\xfe\x78", 4), "enoch id");
    unsigned char key[36];
    CHECK(tb64_dec(peter_vkey + 22, key) == 33 && key[0] == 1 && !memcmp(peter.pub, key + 1, 32),
          "peter pub");

    char note[2048];
    size_t tl = 0;
    snprintf(note, sizeof note, "%s\n%s", go_text, peter_sig);
    CHECK(ms_note_open(note, strlen(note), &peter, &tl, &e) == MS_OK, "%s", e.msg);
    CHECK(tl == strlen(go_text) && !memcmp(note, go_text, tl), "text_len %zu", tl);
    CHECK(open_s(note, &enoch) == MS_ECHECK, "enoch accepted a note only peter signed");
    ms_note_open(note, strlen(note), &enoch, &tl, &e);
    CHECK(strstr(e.msg, "not signed by EnochRoot+af0cfe78") && strstr(e.msg, "PeterNeumann+c74f20a3"), "%s",
          e.msg);

    char first[MS_NOTE_NAME_MAX + 1];
    unsigned char fid[4];
    tl = 0;
    CHECK(ms_note_parse(note, strlen(note), &tl, first, fid, &e) == MS_OK, "%s", e.msg);
    CHECK(tl == strlen(go_text) && !strcmp(first, "PeterNeumann") && !memcmp(fid, "\xc7\x4f\x20\xa3", 4),
          "parse: %zu %s", tl, first);

    /* Doubly signed: each key verifies its own line, the other is ignored. */
    snprintf(note, sizeof note, "%s\n%s%s", go_text, peter_sig, enoch_sig);
    CHECK(open_s(note, &peter) == MS_OK, "peter, doubly signed");
    CHECK(open_s(note, &enoch) == MS_OK, "enoch, doubly signed");
    snprintf(note, sizeof note, "%s\n%s%s", go_text, enoch_sig, peter_sig);
    CHECK(open_s(note, &peter) == MS_OK && open_s(note, &enoch) == MS_OK, "other order");
    CHECK(ms_note_parse(note, strlen(note), NULL, first, NULL, &e) == MS_OK && !strcmp(first, "EnochRoot"),
          "first");
}

static void note_go_vectors_sign(void)
{
    char name[MS_NOTE_NAME_MAX + 1];
    unsigned char id[4], seed[32], pub[32];
    CHECK(parse_skey(peter_skey, name, id, seed) == 0, "skey");
    EVP_PKEY *pk = key_from_seed(seed, pub);
    ms_err e = {{0}};
    char vk[MS_NOTE_NAME_MAX + 64];
    CHECK(ms_note_verifier_format(name, pub, vk, sizeof vk, &e) == MS_OK, "%s", e.msg);
    CHECK(!strcmp(vk, peter_vkey), "format: %s", vk);
    unsigned char kid[4];
    CHECK(ms_note_key_id(name, pub, kid, &e) == MS_OK && !memcmp(kid, id, 4), "key id");

    ms_note_signer s = {name, {0}, tsign, pk};
    memcpy(s.key_id, id, 4);
    char out[1024], want[1024];
    size_t ol = 0;
    snprintf(want, sizeof want, "%s\n%s", go_text, peter_sig);
    CHECK(ms_note_sign(go_text, strlen(go_text), &s, out, sizeof out, &ol, &e) == MS_OK, "%s", e.msg);
    CHECK(ol == strlen(want) && !strcmp(out, want), "signed note differs:\n%s", out);
    EVP_PKEY_free(pk);
}

static void note_trillian_vectors(void)
{
    ms_note_verifier v[4];
    EVP_PKEY *pk[4];
    for (int i = 0; i < 4; i++) {
        char name[MS_NOTE_NAME_MAX + 1], vk[MS_NOTE_NAME_MAX + 64];
        unsigned char id[4], seed[32], pub[32];
        ms_err e = {{0}};
        CHECK(parse_skey(tr_pairs[i][1], name, id, seed) == 0, "skey %d", i);
        pk[i] = key_from_seed(seed, pub);
        CHECK(ms_note_verifier_format(name, pub, vk, sizeof vk, &e) == MS_OK && !strcmp(vk, tr_pairs[i][0]),
              "pair %d: %s", i, vk);
        CHECK(ms_note_verifier_parse(tr_pairs[i][0], strlen(tr_pairs[i][0]), &v[i], &e) == MS_OK, "%s",
              e.msg);
        CHECK(!memcmp(v[i].pub, pub, 32) && !memcmp(v[i].key_id, id, 4) && !strcmp(v[i].name, name),
              "pair %d", i);
    }
    /* Each signs; only its own verifier opens. */
    const char *body = "TestParseCheckpoint\n42\nYWJjZGVmAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
    for (int i = 0; i < 4; i++) {
        ms_note_signer s = {v[i].name, {0}, tsign, pk[i]};
        memcpy(s.key_id, v[i].key_id, 4);
        char out[1024];
        size_t ol;
        ms_err e = {{0}};
        CHECK(ms_note_sign(body, strlen(body), &s, out, sizeof out, &ol, &e) == MS_OK, "%s", e.msg);
        for (int j = 0; j < 4; j++)
            CHECK(open_n(out, ol, &v[j]) == (i == j ? MS_OK : MS_ECHECK), "signer %d verifier %d", i, j);
    }
    for (int i = 0; i < 4; i++)
        EVP_PKEY_free(pk[i]);
}

static void note_sumdb_checkpoint(void)
{
    ms_note_verifier v = vparse(sumdb_vkey);
    CHECK(!strcmp(v.name, "sum.golang.org") && !memcmp(v.key_id, "\x03\x3d\xe0\xae", 4), "sumdb verifier");
    char note[2048];
    snprintf(note, sizeof note, "%s\n%s", sumdb_body, sumdb_sig);
    size_t tl = 0;
    ms_err e = {{0}};
    CHECK(ms_note_open(note, strlen(note), &v, &tl, &e) == MS_OK, "%s", e.msg);
    CHECK(tl == strlen(sumdb_body), "text_len %zu", tl);
    ms_checkpoint cp;
    CHECK(ms_checkpoint_parse(note, tl, &cp, &e) == MS_OK, "%s", e.msg);
    unsigned char root[36];
    CHECK(tb64_dec("mb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=", root) == 32, "root oracle");
    CHECK(!strcmp(cp.origin, "go.sum database tree") && cp.size == 6476701 && !memcmp(cp.root, root, 32) &&
              cp.next == 0,
          "checkpoint %s %llu", cp.origin, (unsigned long long)cp.size);
    char body[512];
    size_t bl = 0;
    CHECK(ms_checkpoint_format(cp.origin, cp.size, cp.root, NULL, 0, body, sizeof body, &bl, &e) == MS_OK &&
              bl == strlen(sumdb_body) && !strcmp(body, sumdb_body),
          "re-format: %s", body);

    /* Cosigned by three more keys, plus two lines under unknown names. */
    snprintf(note, sizeof note, "%s\n%s%s%s%s%s%s", sumdb_body, sumdb_sig, cosig_lines[0], cosig_lines[1],
             cosig_lines[2], cosig_lines[3], cosig_lines[4]);
    CHECK(open_s(note, &v) == MS_OK, "sumdb key, cosigned note");
    for (int i = 0; i < 3; i++) {
        ms_note_verifier c = vparse(cosig_vkeys[i]);
        CHECK(open_s(note, &c) == MS_OK, "cosigner %s", cosig_vkeys[i]);
    }
    /* The tampered size is caught. */
    note[strlen("go.sum database tree\n")] = '7';
    CHECK(open_s(note, &v) == MS_ECHECK, "tampered size accepted");
    mutations++;
}

static void note_c2sp_checkpoint_body(void)
{
    ms_checkpoint cp;
    ms_err e = {{0}};
    CHECK(ms_checkpoint_parse(c2sp_body, strlen(c2sp_body), &cp, &e) == MS_OK, "%s", e.msg);
    CHECK(!strcmp(cp.origin, "example.com/behind-the-sofa") && cp.size == 20852163 && cp.next == 0, "fields");
    char out[256];
    size_t n = 0;
    CHECK(ms_checkpoint_format(cp.origin, cp.size, cp.root, NULL, 0, out, sizeof out, &n, &e) == MS_OK &&
              n == strlen(c2sp_body) && !strcmp(out, c2sp_body),
          "re-format %s", out);
}

static void note_rfc8032_ed25519(void)
{
    static const char *const v[2][4] = {
        {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
         "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
         "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25"
         "bf5f0595"
         "bbe24655141438e7a100b"},
        {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
         "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
         "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387"
         "b2eaeb43"
         "02aeeb00d291612bb0c00"},
    };
    for (int i = 0; i < 2; i++) {
        unsigned char seed[32], pub[32], dpub[32], msg[1], sig[64], mine[64];
        unhex(v[i][0], seed);
        unhex(v[i][1], pub);
        unhex(v[i][2], msg);
        unhex(v[i][3], sig);
        size_t n = strlen(v[i][2]) / 2;
        EVP_PKEY *pk = key_from_seed(seed, dpub);
        CHECK(!memcmp(pub, dpub, 32), "vector %d: public key", i + 1);
        CHECK(tsign(pk, msg, n, mine, NULL) == MS_OK && !memcmp(mine, sig, 64), "vector %d: signature",
              i + 1);
        CHECK(ms_ed25519_verify(pub, n ? msg : NULL, n, sig) == 1, "vector %d rejected", i + 1);
        int bad = 0;
        for (int b = 0; b < 64 * 8; b++) {
            sig[b / 8] ^= (unsigned char)(1 << b % 8);
            bad += ms_ed25519_verify(pub, msg, n, sig) != 0;
            sig[b / 8] ^= (unsigned char)(1 << b % 8);
        }
        CHECK(bad == 0, "vector %d: %d one-bit signature changes accepted", i + 1, bad);
        mutations += 64 * 8;
        pub[0] ^= 1;
        CHECK(ms_ed25519_verify(pub, msg, n, sig) == 0, "vector %d: other key accepted", i + 1);
        pub[0] ^= 1;
        unsigned char other = 0x73;
        CHECK(ms_ed25519_verify(pub, &other, 1, sig) == 0, "vector %d: other message accepted", i + 1);
        mutations += 2;
        EVP_PKEY_free(pk);
    }
}

/* Go's TestOpen cases (golang/mod sumdb/note/note_test.go). */
static void note_go_open_cases(void)
{
    ms_note_verifier peter = vparse(peter_vkey), enoch = vparse(enoch_vkey);
    static char note[64 * 1024];
    char sig60[256];
    size_t ps = strlen(peter_sig);

    /* 100 signatures are allowed, 101 are not (Go: "malformed note"). */
    for (int count = 100; count <= 101; count++) {
        size_t k = (size_t)snprintf(note, sizeof note, "%s\n", go_text);
        for (int i = 0; i < count; i++, k += ps)
            memcpy(note + k, peter_sig, ps);
        CHECK(open_n(note, k, &peter) == (count == 100 ? MS_OK : MS_EINPUT), "%d signatures", count);
        char first[MS_NOTE_NAME_MAX + 1];
        ms_err e;
        CHECK(ms_note_parse(note, k, NULL, first, NULL, &e) == (count == 100 ? MS_OK : MS_EINPUT), "parse %d",
              count);
    }
    mutations++;

    /* "ABCD" inserted into the signature: the matching line does not verify. */
    snprintf(sig60, sizeof sig60, "%.60sABCD%s", peter_sig, peter_sig + 60);
    snprintf(note, sizeof note, "%s\n%s", go_text, sig60);
    CHECK(open_s(note, &peter) == MS_ECHECK, "inserted ABCD accepted");
    mutations++;
    ms_err e;
    ms_note_open(note, strlen(note), &peter, NULL, &e);
    CHECK(strstr(e.msg, "invalid signature by PeterNeumann+c74f20a3") != NULL, "%s", e.msg);

    /* Duplicated verified and unverified signatures. */
    char enoch60[256];
    snprintf(enoch60, sizeof enoch60, "%.60sABCD%s", enoch_sig, enoch_sig + 60);
    snprintf(note, sizeof note, "%s\n%s%s%s%s%s", go_text, peter_sig, peter_sig, enoch_sig, enoch_sig,
             enoch60);
    CHECK(open_s(note, &peter) == MS_OK, "duplicates, peter");
    CHECK(open_s(note, &enoch) == MS_OK, "duplicates, enoch (first line decides)");

    /* Go's badMsgs: all malformed. */
    char bad[7][512];
    snprintf(bad[0], 512, "%s", go_text);
    snprintf(bad[1], 512, "%s\n", go_text);
    snprintf(bad[2], 512, "%s\n%.*s", go_text, (int)ps - 1, peter_sig);
    snprintf(bad[3], 512, "\x01%s\n%s", go_text, peter_sig);
    snprintf(bad[4], 512, "\xff%s\n%s", go_text, peter_sig);
    snprintf(bad[5], 512,
             "%s\n" EM " Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngot"
             "pRZb6KE6RyyBwJnAM=",
             go_text);
    snprintf(bad[6], 512, "%s\n%sUnexpected line.\n", go_text, peter_sig);
    for (int i = 0; i < 7; i++) {
        CHECK(open_s(bad[i], &peter) == MS_EINPUT, "bad message %d accepted or misjudged", i);
        mutations++;
    }

    /* Signatures for another name, or with another key id, are not ours. */
    char mis[512];
    snprintf(mis, sizeof mis, "%s\n" EM " CarmenSandiego%s", go_text, peter_sig + strlen(EM " PeterNeumann"));
    CHECK(open_s(mis, &peter) == MS_ECHECK, "misnamed accepted");
    snprintf(mis, sizeof mis, "%s\n%s", go_text, peter_sig);
    char *h = strstr(mis, "x08g");
    memcpy(h, "xxxx", 4);
    CHECK(open_s(mis, &peter) == MS_ECHECK, "wrong hash accepted");
    mutations += 2;
}

/* ---- round trips with generated keys ------------------------------------ */

static void note_roundtrip_generated(void)
{
    static const char *const names[3] = {"marlsim.example/ckpt", "x", NULL};
    char n128[MS_NOTE_NAME_MAX + 1];
    memset(n128, 'n', MS_NOTE_NAME_MAX);
    n128[MS_NOTE_NAME_MAX] = 0;
    for (int i = 0; i < 3; i++) {
        const char *name = names[i] ? names[i] : n128;
        tkey k;
        tkey_new(&k, name);
        ms_err e = {{0}};
        char vk[MS_NOTE_NAME_MAX + 64];
        CHECK(ms_note_verifier_format(name, k.pub, vk, sizeof vk, &e) == MS_OK, "%s", e.msg);
        CHECK(strlen(vk) == MS_NOTE_VERIFIER_LEN(strlen(name)), "length %zu", strlen(vk));
        ms_note_verifier v;
        CHECK(ms_note_verifier_parse(vk, strlen(vk), &v, &e) == MS_OK, "%s", e.msg);
        CHECK(!strcmp(v.name, name) && !memcmp(v.key_id, k.s.key_id, 4) && !memcmp(v.pub, k.pub, 32),
              "fields");
        unsigned char id[4];
        CHECK(ms_note_key_id(name, k.pub, id, &e) == MS_OK && !memcmp(id, k.s.key_id, 4), "key id vs oracle");

        unsigned char root[32];
        for (int j = 0; j < 32; j++)
            root[j] = (unsigned char)(j * 7 + i);
        const char *ext[2] = {"— extension with UTF-8 é €", "x"};
        char body[1024], note[2048];
        size_t bl, nl, tl = 0;
        CHECK(ms_checkpoint_format("marlsim.example/run", 1234, root, ext, 2, body, sizeof body, &bl, &e) ==
                  MS_OK,
              "%s", e.msg);
        CHECK(ms_note_sign(body, bl, &k.s, note, sizeof note, &nl, &e) == MS_OK, "%s", e.msg);
        CHECK(nl == strlen(note) && nl == bl + 1 + 4 + strlen(name) + 1 + 92 + 1, "note length %zu", nl);
        CHECK(ms_note_open(note, nl, &v, &tl, &e) == MS_OK && tl == bl && !memcmp(note, body, bl), "%s",
              e.msg);
        /* the signature is a real Ed25519 signature of the body */
        unsigned char raw[72];
        const char *b64 = note + bl + 1 + 4 + strlen(name) + 1;
        char tmp[96];
        memcpy(tmp, b64, 92);
        tmp[92] = 0;
        CHECK(tb64_dec(tmp, raw) == 68 && !memcmp(raw, k.s.key_id, 4) && tverify(k.pub, body, bl, raw + 4),
              "signature does not verify independently");
        CHECK(ms_ed25519_verify(k.pub, body, bl, raw + 4) == 1, "ms_ed25519_verify");
        char first[MS_NOTE_NAME_MAX + 1];
        unsigned char fid[4];
        CHECK(ms_note_parse(note, nl, &tl, first, fid, &e) == MS_OK && !strcmp(first, name) &&
                  !memcmp(fid, k.s.key_id, 4) && tl == bl,
              "parse");
        ms_checkpoint cp;
        CHECK(ms_checkpoint_parse(note, tl, &cp, &e) == MS_OK && cp.size == 1234 &&
                  !memcmp(cp.root, root, 32) && cp.next == 2 && !strcmp(cp.ext[0], ext[0]) &&
                  !strcmp(cp.ext[1], "x"),
              "%s", e.msg);
        tkey_free(&k);
    }
}

/* Which key signed: wrong key, wrong id, wrong name, colliding ids, ignored
 * foreign lines, first matching line decides. */
static void note_wrong_keys(void)
{
    tkey a, b;
    tkey_new(&a, "log.example/a");
    tkey_new(&b, "log.example/a"); /* same name, another key */
    CHECK(memcmp(a.s.key_id, b.s.key_id, 4) != 0, "generated keys collide (rerun)");
    const char *text = "log.example/a\n7\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
    char na[1024], nb[1024];
    size_t la, lb;
    ms_err e = {{0}};
    CHECK(ms_note_sign(text, strlen(text), &a.s, na, sizeof na, &la, &e) == MS_OK, "%s", e.msg);
    CHECK(ms_note_sign(text, strlen(text), &b.s, nb, sizeof nb, &lb, &e) == MS_OK, "%s", e.msg);
    CHECK(open_n(na, la, &a.v) == MS_OK && open_n(nb, lb, &b.v) == MS_OK, "own keys");

    CHECK(open_n(na, la, &b.v) == MS_ECHECK, "wrong key accepted");
    ms_note_verifier v = a.v;
    v.key_id[3] ^= 1; /* right name and key, wrong key id */
    CHECK(open_n(na, la, &v) == MS_ECHECK, "wrong key id accepted");
    ms_note_open(na, la, &v, NULL, &e);
    CHECK(strstr(e.msg, "not signed by log.example/a+") != NULL, "%s", e.msg);
    v = a.v;
    snprintf(v.name, sizeof v.name, "log.example/b"); /* wrong name, right id and key */
    CHECK(open_n(na, la, &v) == MS_ECHECK, "wrong name accepted");
    v = a.v;
    memcpy(v.pub, b.pub, 32); /* name and id collide, key differs: the line is checked and fails */
    CHECK(open_n(na, la, &v) == MS_ECHECK, "colliding id with another key accepted");
    ms_note_open(na, la, &v, NULL, &e);
    CHECK(strstr(e.msg, "invalid signature") != NULL, "%s", e.msg);
    v = a.v;
    v.name[0] = 0;
    CHECK(open_n(na, la, &v) == MS_EINPUT, "empty verifier name");
    mutations += 5;

    /* Foreign lines (same name, other id; other name, same id) are ignored. */
    const char *la_sig = na + strlen(text) + 1, *lb_sig = nb + strlen(text) + 1;
    char n2[2048], renamed[1024];
    snprintf(n2, sizeof n2, "%s\n%s%s", text, lb_sig, la_sig);
    CHECK(open_s(n2, &a.v) == MS_OK && open_s(n2, &b.v) == MS_OK, "foreign line (same name) before ours");
    /* a's own line under another name: same key id, not a's (name, id) */
    snprintf(renamed, sizeof renamed, EM " log.example/z%s", la_sig + strlen(EM " log.example/a"));
    snprintf(n2, sizeof n2, "%s\n%s%s", text, renamed, la_sig);
    CHECK(open_s(n2, &a.v) == MS_OK, "foreign line (same id) before ours");
    snprintf(n2, sizeof n2, "%s\n%s", text, renamed);
    CHECK(open_s(n2, &a.v) == MS_ECHECK, "a line under another name counted as a's");
    mutations++;

    /* The first matching line decides. */
    char bad_a[1024];
    snprintf(bad_a, sizeof bad_a, "%s", la_sig);
    char *sig = strchr(bad_a + 4, ' ') + 1;
    sig[20] = sig[20] == 'A' ? 'B' : 'A'; /* inside the signature bytes, not the id */
    snprintf(n2, sizeof n2, "%s\n%s%s", text, bad_a, la_sig);
    CHECK(open_s(n2, &a.v) == MS_ECHECK, "a bad first line was overridden by a later good one");
    snprintf(n2, sizeof n2, "%s\n%s%s", text, la_sig, bad_a);
    CHECK(open_s(n2, &a.v) == MS_OK, "a good first line was overridden by a later bad one");
    mutations++;
    tkey_free(&a);
    tkey_free(&b);
}

/* Every bit of every text byte flipped; every printable byte replaced. */
static void note_altered_text(void)
{
    tkey k;
    tkey_new(&k, "log.example/t");
    const char *text =
        "log.example/t\n18446744073709551615\nq80CG4T1WYsG1e3zm8rDkNPqXxjmD7j2DsqAEqA7FCE=\nx é\n";
    char note[1024];
    size_t nl;
    ms_err e = {{0}};
    CHECK(ms_note_sign(text, strlen(text), &k.s, note, sizeof note, &nl, &e) == MS_OK, "%s", e.msg);
    size_t tl = strlen(text);
    int accepted = 0, wrong_status = 0, not_check = 0;
    for (size_t i = 0; i < tl; i++) {
        for (int b = 0; b < 8; b++) {
            note[i] ^= (char)(1 << b);
            int rc = open_n(note, nl, &k.v);
            accepted += rc == MS_OK;
            wrong_status += rc != MS_ECHECK && rc != MS_EINPUT;
            note[i] ^= (char)(1 << b);
            mutations++;
        }
        unsigned char c = (unsigned char)note[i];
        if (c > 0x20 && c < 0x7f) { /* a substitution that keeps the text valid */
            note[i] = c == 'a' ? 'b' : 'a';
            not_check += open_n(note, nl, &k.v) != MS_ECHECK;
            note[i] = (char)c;
            mutations++;
        }
    }
    CHECK(accepted == 0, "%d altered texts accepted", accepted);
    CHECK(wrong_status == 0, "%d altered texts gave another status", wrong_status);
    CHECK(not_check == 0, "%d valid substitutions not reported as MS_ECHECK", not_check);
    CHECK(open_n(note, nl, &k.v) == MS_OK, "restored note");
    tkey_free(&k);
}

/* Every bit of the 68 decoded signature bytes flipped (canonically
 * re-encoded): MS_ECHECK. Every base64 character replaced: rejected. */
static void note_altered_signature(void)
{
    tkey k;
    tkey_new(&k, "log.example/s");
    const char *text = "hello\n";
    char note[1024];
    size_t nl;
    ms_err e = {{0}};
    CHECK(ms_note_sign(text, strlen(text), &k.s, note, sizeof note, &nl, &e) == MS_OK, "%s", e.msg);
    char *b64 = note + strlen(text) + 1 + 4 + strlen(k.s.name) + 1;
    CHECK(b64 + 92 + 1 == note + nl && b64[92] == '\n', "layout");
    unsigned char raw[72];
    char tmp[96];
    memcpy(tmp, b64, 92);
    tmp[92] = 0;
    CHECK(tb64_dec(tmp, raw) == 68, "decode");
    int bad = 0;
    for (int bit = 0; bit < 68 * 8; bit++) {
        raw[bit / 8] ^= (unsigned char)(1 << bit % 8);
        tb64(raw, 68, tmp);
        memcpy(b64, tmp, 92);
        bad += open_n(note, nl, &k.v) != MS_ECHECK;
        raw[bit / 8] ^= (unsigned char)(1 << bit % 8);
        mutations++;
    }
    tb64(raw, 68, tmp);
    memcpy(b64, tmp, 92);
    CHECK(bad == 0, "%d one-bit signature changes not rejected as MS_ECHECK", bad);
    CHECK(open_n(note, nl, &k.v) == MS_OK, "restored");
    static const char repl[] = "AQg/+=9 -_\t\r\x80";
    int accepted = 0;
    for (int i = 0; i < 92; i++) {
        char c = b64[i];
        for (const char *r = repl; *r; r++) {
            if (*r == c)
                continue;
            b64[i] = *r;
            accepted += open_n(note, nl, &k.v) == MS_OK;
            mutations++;
        }
        b64[i] = c;
    }
    CHECK(accepted == 0, "%d character replacements accepted", accepted);
    CHECK(open_n(note, nl, &k.v) == MS_OK, "restored");
    tkey_free(&k);
}

static int with_line(const char *text, const char *line, const ms_note_verifier *v)
{
    char note[4096];
    snprintf(note, sizeof note, "%s\n%s", text, line);
    return open_s(note, v);
}

static void note_malformed(void)
{
    ms_note_verifier peter = vparse(peter_vkey);
    char note[4096], tmp[4096];
    snprintf(note, sizeof note, "%s\n%s", go_text, peter_sig);
    size_t n = strlen(note);
    CHECK(open_n(note, n, &peter) == MS_OK, "base note");

    /* every proper prefix */
    int wrong = 0;
    for (size_t k = 0; k < n; k++) {
        wrong += open_n(note, k, &peter) != MS_EINPUT;
        mutations++;
    }
    CHECK(wrong == 0, "%d truncations not MS_EINPUT", wrong);

    struct {
        const char *what, *fmt;
    } cases[] = {
        {"extra blank line", "%s\n\n%s"},
        {"blank line first", "\n%s\n%s"},
        {"blank line at the end", "%s\n%s\n"},
        {"missing final newline", "%s\n%.*s"},
        {"CRLF", "%s\r\n%s"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        if (strstr(cases[i].fmt, "%.*s"))
            snprintf(tmp, sizeof tmp, cases[i].fmt, go_text, (int)strlen(peter_sig) - 1, peter_sig);
        else
            snprintf(tmp, sizeof tmp, cases[i].fmt, go_text, peter_sig);
        CHECK(open_s(tmp, &peter) == MS_EINPUT, "%s accepted", cases[i].what);
        mutations++;
    }
    /* a blank line between two signature lines */
    snprintf(tmp, sizeof tmp, "%s\n%s\n%s", go_text, peter_sig, enoch_sig);
    CHECK(open_s(tmp, &peter) == MS_EINPUT, "blank line between signatures");
    mutations++;

    /* signature line shapes */
    const char *rest = peter_sig + strlen(EM " PeterNeumann "); /* base64 and '\n' */
    char line[512];
    static const char *const lead[] = {
        "- PeterNeumann ",
        "-- PeterNeumann ",
        "\xe2\x80\x93 PeterNeumann " /* en dash */,
        EM "PeterNeumann ",
        EM "  PeterNeumann ",
        EM " PeterNeumann  ",
        "PeterNeumann ",
        " " EM " PeterNeumann ",
        EM "\tPeterNeumann ",
        EM " PeterNeumann\t",
        EM " a+b ",
        EM " w\xc3\xadtness ",
        EM " Peter Neumann ",
        "\xe2\x80\x94\xe2\x80\x94 PeterNeumann ",
    };
    for (size_t i = 0; i < sizeof lead / sizeof *lead; i++) {
        snprintf(line, sizeof line, "%s%s", lead[i], rest);
        CHECK(with_line(go_text, line, &peter) == MS_EINPUT, "signature line %zu accepted", i);
        mutations++;
    }
    /* a name of 129 bytes */
    char longname[200];
    memset(longname, 'n', 129);
    longname[129] = 0;
    snprintf(line, sizeof line, EM " %s %s", longname, rest);
    CHECK(with_line(go_text, line, &peter) == MS_EINPUT, "129-byte name accepted");
    mutations++;

    /* base64 damage */
    size_t bl = strlen(rest) - 1; /* 92 characters */
    CHECK(bl == 92 && rest[91] == '=' && rest[90] == 'M', "vector layout");
    struct {
        const char *what;
        int at;
        const char *ins;
        int del;
    } dmg[] = {
        {"space inside", 10, " ", 0},
        {"tab inside", 10, "\t", 0},
        {"space at the end", 92, " ", 0},
        {"CR at the end", 92, "\r", 0},
        {"padding removed", 91, "", 1},
        {"extra padding", 92, "==", 0},
        {"non-canonical last symbol", 90, "N", 1},
        {"URL-safe symbol", 5, "-", 1},
        {"newline inside", 40, "\n", 0},
        {"group added", 88, "AAAA", 0},
        {"group removed", 0, "", 4},
    };
    for (size_t i = 0; i < sizeof dmg / sizeof *dmg; i++) {
        snprintf(line, sizeof line, EM " PeterNeumann %.*s%s%s", dmg[i].at, rest, dmg[i].ins,
                 rest + dmg[i].at + dmg[i].del);
        int rc = with_line(go_text, line, &peter);
        /* "group added/removed" keep the base64 canonical but change the
         * decoded length: the matching line then cannot verify (MS_ECHECK) */
        int want = strstr(dmg[i].what, "group") ? MS_ECHECK : MS_EINPUT;
        CHECK(rc == want, "%s: %d", dmg[i].what, rc);
        mutations++;
    }
    /* too short: 4 bytes (malformed); 5 bytes matching peter's id (checked, fails) */
    CHECK(with_line(go_text, EM " PeterNeumann x08gow==\n", &peter) == MS_EINPUT, "4-byte signature");
    CHECK(with_line(go_text, EM " PeterNeumann x08go/8=\n", &peter) == MS_ECHECK, "5-byte signature");
    CHECK(with_line(go_text, EM " PeterNeumann \n", &peter) == MS_EINPUT, "empty signature");
    CHECK(with_line(go_text, EM " PeterNeumann\n", &peter) == MS_EINPUT, "no signature");
    CHECK(with_line(go_text, EM " \n", &peter) == MS_EINPUT, "no name");
    CHECK(with_line(go_text, "\xe2\x80\n", &peter) == MS_EINPUT, "cut em dash");
    mutations += 6;
    /* a malformed foreign line spoils the note even though ours is fine */
    snprintf(tmp, sizeof tmp, "%s\n%s" EM " other AAAA\n", go_text, peter_sig);
    CHECK(open_s(tmp, &peter) == MS_EINPUT, "malformed foreign line ignored");
    mutations++;

    /* Long signatures (other algorithms: post-quantum ones run to kilobytes),
     * canonical or not, around the decoder's 256-character chunks. */
    static const size_t longs[] = {252, 256, 260, 512, 1024, 3000};
    for (size_t i = 0; i < sizeof longs / sizeof *longs; i++) {
        char b64[3100];
        for (size_t j = 0; j < longs[i]; j++)
            b64[j] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[(j * 7) % 64];
        b64[longs[i]] = 0;
        snprintf(tmp, sizeof tmp, "%s\n" EM " other %s\n%s", go_text, b64, peter_sig);
        CHECK(open_s(tmp, &peter) == MS_OK, "foreign signature of %zu characters", longs[i]);
        /* padding at the end of each 256-character chunk but the last */
        for (size_t at = 256; at < longs[i]; at += 256) {
            char c3 = b64[at - 3], c2 = b64[at - 2], c1 = b64[at - 1];
            b64[at - 3] = 'A'; /* so the chunk alone would be canonical "xA==" */
            b64[at - 2] = b64[at - 1] = '=';
            snprintf(tmp, sizeof tmp, "%s\n" EM " other %s\n%s", go_text, b64, peter_sig);
            CHECK(open_s(tmp, &peter) == MS_EINPUT, "padding at %zu of %zu accepted", at, longs[i]);
            b64[at - 1] = 'A'; /* one '=' inside a group */
            snprintf(tmp, sizeof tmp, "%s\n" EM " other %s\n%s", go_text, b64, peter_sig);
            CHECK(open_s(tmp, &peter) == MS_EINPUT, "'=' at %zu of %zu accepted", at - 2, longs[i]);
            b64[at - 3] = c3, b64[at - 2] = c2, b64[at - 1] = c1;
            mutations += 2;
        }
        /* the same bytes under peter's key id: checked, and too long to verify */
        memcpy(b64, "x08go/", 6);
        snprintf(tmp, sizeof tmp, "%s\n" EM " PeterNeumann %s\n%s", go_text, b64, peter_sig);
        CHECK(open_s(tmp, &peter) == MS_ECHECK, "long signature with peter's id: not MS_ECHECK");
        mutations++;
    }

    /* The text ends at the LAST blank line: "a\n\nb\n\n" + signature is a
     * text with an empty line 2, not a signature block with a blank line. */
    snprintf(tmp, sizeof tmp, "a\n\nb\n\n%s", peter_sig);
    {
        ms_err e = {{0}};
        CHECK(ms_note_open(tmp, strlen(tmp), &peter, NULL, &e) == MS_EINPUT &&
                  strstr(e.msg, "line 2 is empty"),
              "%s", e.msg);
    }
    mutations++;

    /* Text: controls and invalid UTF-8 (MS_EINPUT before any signature is
     * looked at), valid UTF-8 accepted. */
    static const char *const badseq[] = {
        "\x01",
        "\x1f",
        "\x7f",
        "\t",
        "\r",
        "\v",
        "\f",
        "\x1b[31m",
        "\x80",
        "\xbf",
        "\xc0\x80",
        "\xc1\xbf",
        "\xe0\x80\x80",
        "\xe0\x9f\xbf",
        "\xed\xa0\x80",
        "\xed\xbf\xbf",
        "\xf0\x80\x80\x80",
        "\xf4\x90\x80\x80",
        "\xf5\x80\x80\x80",
        "\xf8\x88\x80\x80\x80",
        "\xfe",
        "\xff",
        "\xe2\x80",
        "\xe2\x28\xa1",
        "\xc2\x85",
        "\xc2\x9b",
        "\xc2\x80",
        "\xc2\x9f",
    };
    for (size_t i = 0; i < sizeof badseq / sizeof *badseq; i++) {
        snprintf(tmp, sizeof tmp, "line one\nbad %s here\n\n%s", badseq[i], peter_sig);
        CHECK(open_s(tmp, &peter) == MS_EINPUT, "text with bad sequence %zu accepted or misjudged", i);
        ms_err e;
        ms_note_open(tmp, strlen(tmp), &peter, NULL, &e);
        CHECK(strstr(e.msg, "line 2") != NULL, "%s", e.msg);
        mutations++;
    }
    /* a NUL inside the text */
    memcpy(tmp, "a\0b\n\n", 5);
    snprintf(tmp + 5, sizeof tmp - 5, "%s", peter_sig);
    CHECK(open_n(tmp, 5 + strlen(peter_sig), &peter) == MS_EINPUT, "NUL in text");
    mutations++;

    tkey k;
    tkey_new(&k, "utf8.example");
    static const char *const goodseq[] = {"\xc2\xa0",     "\xc3\xa9",         "\xe2\x82\xac",
                                          "\xef\xbf\xbd", "\xf0\x9d\x84\x9e", "\xf4\x8f\xbf\xbf",
                                          "\xed\x9f\xbf", "\xee\x80\x80",     "\xc2\xa0\xe2\x80\x94"};
    for (size_t i = 0; i < sizeof goodseq / sizeof *goodseq; i++) {
        char text[64], out[512];
        size_t ol;
        ms_err e = {{0}};
        snprintf(text, sizeof text, "line one\ngood %s here\n", goodseq[i]);
        CHECK(ms_note_sign(text, strlen(text), &k.s, out, sizeof out, &ol, &e) == MS_OK, "%zu: %s", i, e.msg);
        CHECK(open_n(out, ol, &k.v) == MS_OK, "valid UTF-8 %zu rejected", i);
    }
    tkey_free(&k);

    /* too large */
    static char big[MS_NOTE_MAX + 200];
    memset(big, 'a', sizeof big);
    size_t tl = MS_NOTE_MAX - 10;
    big[tl - 1] = '\n';
    big[tl] = '\n';
    memcpy(big + tl + 1, peter_sig, strlen(peter_sig));
    CHECK(open_n(big, tl + 1 + strlen(peter_sig), &peter) == MS_EINPUT, "note over MS_NOTE_MAX accepted");
    mutations++;
}

static int failing_signer(void *ctx, const void *msg, size_t n, unsigned char sig[64], ms_err *e)
{
    (void)ctx, (void)msg, (void)n;
    memset(sig, 0, 64);
    return ms_fail(e, MS_EIO, "keyring: the key is locked");
}

static int bogus_signer(void *ctx, const void *msg, size_t n, unsigned char sig[64], ms_err *e)
{
    (void)ctx, (void)msg, (void)n, (void)e;
    memset(sig, 0, 64);
    return 7;
}

static void note_sign_rejects(void)
{
    tkey k;
    tkey_new(&k, "sign.example");
    char out[1024];
    size_t ol = 99;
    ms_err e = {{0}};
    static const char *const texts[] = {"",        "abc",   "a\n\nb\n", "\na\n",
                                        "a\x01\n", "a\r\n", "\xff\n",   "a\n\n"};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        size_t n = strlen(texts[i]);
        CHECK(ms_note_sign(texts[i], n, &k.s, out, sizeof out, &ol, &e) == MS_EINPUT, "text %zu signed", i);
        CHECK(out[0] == 0 && ol == 0, "output after failure");
        mutations++;
    }
    static const char *const names[] = {"", "bad name", "a+b", "tab\tname", "\xc3\xa9"};
    for (size_t i = 0; i <= sizeof names / sizeof *names; i++) {
        ms_note_signer s = k.s;
        s.name = i < sizeof names / sizeof *names ? names[i] : NULL;
        CHECK(ms_note_sign("a\n", 2, &s, out, sizeof out, &ol, &e) == MS_EINPUT, "signer name %zu", i);
        mutations++;
    }
    ms_note_signer s = k.s;
    s.sign = NULL;
    CHECK(ms_note_sign("a\n", 2, &s, out, sizeof out, &ol, &e) == MS_EINPUT, "no sign function");
    s = k.s;
    s.sign = failing_signer;
    CHECK(ms_note_sign("a\n", 2, &s, out, sizeof out, &ol, &e) == MS_EIO &&
              !strcmp(e.msg, "keyring: the key is locked") && out[0] == 0,
          "signer failure: %s", e.msg);
    s.sign = bogus_signer;
    CHECK(ms_note_sign("a\n", 2, &s, out, sizeof out, &ol, &e) == MS_EIO, "bogus status");
    mutations += 3;

    /* exact room, one byte less */
    size_t need = 2 + 1 + 4 + strlen(k.s.name) + 1 + 92 + 1;
    CHECK(ms_note_sign("a\n", 2, &k.s, out, need + 1, &ol, &e) == MS_OK && ol == need, "exact room: %s",
          e.msg);
    CHECK(open_n(out, ol, &k.v) == MS_OK, "exact room note");
    CHECK(ms_note_sign("a\n", 2, &k.s, out, need, &ol, &e) == MS_EINPUT, "one byte short");
    CHECK(ms_note_sign("a\n", 2, &k.s, out, 0, &ol, &e) == MS_EINPUT, "no room");
    mutations += 2;

    /* the largest text whose note fits MS_NOTE_MAX, and one byte more */
    static char text[MS_NOTE_MAX], big[MS_NOTE_MAX + 8];
    size_t over = 1 + 4 + strlen(k.s.name) + 1 + 92 + 1, tl = MS_NOTE_MAX - over;
    for (size_t i = 0; i < tl; i++)
        text[i] = i % 64 == 63 ? '\n' : 'a';
    text[tl - 1] = '\n';
    CHECK(ms_note_sign(text, tl, &k.s, big, sizeof big, &ol, &e) == MS_OK && ol == MS_NOTE_MAX, "largest: %s",
          e.msg);
    CHECK(open_n(big, ol, &k.v) == MS_OK, "largest note does not open");
    text[tl - 1] = 'a';
    text[tl] = '\n';
    CHECK(ms_note_sign(text, tl + 1, &k.s, big, sizeof big, &ol, &e) == MS_EINPUT, "over MS_NOTE_MAX signed");
    mutations++;
    tkey_free(&k);
}

/* ---- names and verifier keys -------------------------------------------- */

static void note_names(void)
{
    char n128[MS_NOTE_NAME_MAX + 2];
    memset(n128, '~', sizeof n128);
    CHECK(ms_note_name_valid("a", 1) && ms_note_name_valid("example.com/log42", 17) &&
              ms_note_name_valid("!~\"#/", 5) && ms_note_name_valid(n128, MS_NOTE_NAME_MAX),
          "valid names rejected");
    static const char *const bad[] = {"a b",   "a+b",  "+",   "a\tb",        "\xc3\xa9",
                                      "a\x7f", "\x01", "a\n", "\xe2\x80\x94"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK(!ms_note_name_valid(bad[i], strlen(bad[i])), "name %zu accepted", i);
        mutations++;
    }
    CHECK(!ms_note_name_valid("", 0) && !ms_note_name_valid(NULL, 0) && !ms_note_name_valid("a\0b", 3) &&
              !ms_note_name_valid(n128, MS_NOTE_NAME_MAX + 1),
          "empty, NUL or 129 bytes accepted");
    mutations += 4;
    unsigned char id[4], pub[32] = {0};
    ms_err e;
    CHECK(ms_note_key_id("a b", pub, id, &e) == MS_EINPUT, "key id of a bad name");
    char out[MS_NOTE_NAME_MAX + 64] = "x";
    CHECK(ms_note_verifier_format("a+b", pub, out, sizeof out, &e) == MS_EINPUT && out[0] == 0,
          "format bad name");
    CHECK(ms_note_verifier_format("abc", pub, out, MS_NOTE_VERIFIER_LEN(3), &e) == MS_EINPUT && out[0] == 0,
          "format without room for the NUL");
    CHECK(ms_note_verifier_format("abc", pub, out, MS_NOTE_VERIFIER_LEN(3) + 1, &e) == MS_OK &&
              strlen(out) == MS_NOTE_VERIFIER_LEN(3),
          "format with exact room");
    mutations += 3;
}

/* A verifier key text for (name, key bytes with algorithm byte), with the key
 * id computed by the oracle over exactly those bytes (Go's "adjusted hash"). */
static void make_vkey(char *out, size_t cap, const char *name, const unsigned char *key, size_t klen)
{
    unsigned char id[4];
    char b64[128];
    tkey_id(name, strlen(name), key, klen, id);
    tb64(key, klen, b64);
    snprintf(out, cap, "%s+%02x%02x%02x%02x+%s", name, id[0], id[1], id[2], id[3], b64);
}

static int vrej(const char *s, size_t len, const char *why)
{
    ms_note_verifier v;
    ms_err e = {{0}};
    memset(&v, 0x55, sizeof v);
    int rc = ms_note_verifier_parse(s, len, &v, &e);
    int zeroed = v.name[0] == 0 && v.key_id[0] == 0 && v.pub[0] == 0;
    mutations++;
    if (rc != MS_EINPUT || !zeroed)
        return 0;
    if (why && !strstr(e.msg, why)) {
        fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", e.msg, why);
        return 0;
    }
    return 1;
}

static void note_verifier_parse(void)
{
    /* Go's TestNewVerifier: every proper substring, every byte + 1. */
    char b[sizeof peter_vkey];
    size_t n = strlen(peter_vkey);
    int accepted = 0;
    for (size_t i = 0; i <= n; i++)
        for (size_t j = i + 1; j <= n; j++)
            if (i != 0 || j != n)
                accepted += !vrej(peter_vkey + i, j - i, NULL);
    CHECK(accepted == 0, "%d substrings accepted", accepted);
    memcpy(b, peter_vkey, sizeof b);
    accepted = 0;
    for (size_t i = 0; i < n; i++) {
        b[i]++;
        accepted += !vrej(b, n, NULL);
        b[i]--;
    }
    CHECK(accepted == 0, "%d one-byte changes accepted", accepted);
    /* Go's two adjusted-hash keys: wrong length, unknown algorithm */
    const char *wl = "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==";
    const char *ua = "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    CHECK(vrej(wl, strlen(wl), "33 bytes"), "wrong-length key");
    CHECK(vrej(ua, strlen(ua), "algorithm"), "unknown algorithm");

    /* Our own adjusted-id keys, so only the named defect is wrong. */
    unsigned char key[40];
    memset(key, 0x42, sizeof key);
    key[0] = 1;
    char s[512];
    make_vkey(s, sizeof s, "PeterNeumann", key, 33);
    CHECK(!vrej(s, strlen(s), NULL), "the control case is valid");
    make_vkey(s, sizeof s, "PeterNeumann", key, 32);
    CHECK(vrej(s, strlen(s), "33 bytes"), "short key");
    make_vkey(s, sizeof s, "PeterNeumann", key, 34);
    CHECK(vrej(s, strlen(s), "33 bytes"), "long key");
    make_vkey(s, sizeof s, "PeterNeumann", key, 31);
    CHECK(vrej(s, strlen(s), "33 bytes"), "31-byte key");
    key[0] = 2;
    make_vkey(s, sizeof s, "PeterNeumann", key, 33);
    CHECK(vrej(s, strlen(s), "algorithm"), "algorithm 2");
    key[0] = 0;
    make_vkey(s, sizeof s, "PeterNeumann", key, 33);
    CHECK(vrej(s, strlen(s), "algorithm"), "algorithm 0");
    key[0] = 1;
    make_vkey(s, sizeof s, "Peter Neumann", key, 33);
    CHECK(vrej(s, strlen(s), "name"), "name with a space");
    make_vkey(s, sizeof s, "P\xc3\xa9ter", key, 33);
    CHECK(vrej(s, strlen(s), "name"), "non-ASCII name");
    char n129[MS_NOTE_NAME_MAX + 2];
    memset(n129, 'p', MS_NOTE_NAME_MAX + 1);
    n129[MS_NOTE_NAME_MAX + 1] = 0;
    make_vkey(s, sizeof s, n129, key, 33);
    CHECK(vrej(s, strlen(s), "name"), "129-byte name");
    n129[MS_NOTE_NAME_MAX] = 0;
    make_vkey(s, sizeof s, n129, key, 33);
    CHECK(!vrej(s, strlen(s), NULL), "128-byte name rejected");

    /* The key id field. */
    char up[sizeof peter_vkey];
    memcpy(up, peter_vkey, sizeof up);
    for (int i = 13; i < 21; i++)
        if (up[i] >= 'a' && up[i] <= 'f')
            up[i] = (char)(up[i] - 'a' + 'A');
    CHECK(vrej(up, strlen(up), "lowercase"), "uppercase hex (documented: lowercase only)");
    static const char *const idbad[] = {
        "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a30+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20g3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+0xc74f20+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann++c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+ c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    };
    for (size_t i = 0; i < sizeof idbad / sizeof *idbad; i++)
        CHECK(vrej(idbad[i], strlen(idbad[i]), i == 4 ? "does not match" : NULL), "id case %zu", i);

    /* Extra fields, whitespace, other framing. */
    static const char *const frame[] = {"+extra", "+", " ", "\n", "\r\n", "=", "AAAA"};
    for (size_t i = 0; i < sizeof frame / sizeof *frame; i++) {
        snprintf(s, sizeof s, "%s%s", peter_vkey, frame[i]);
        CHECK(vrej(s, strlen(s), NULL), "suffix %zu", i);
        snprintf(s, sizeof s, "%s%s", frame[i], peter_vkey);
        CHECK(vrej(s, strlen(s), NULL), "prefix %zu", i);
    }
    snprintf(s, sizeof s, "%s", peter_skey);
    CHECK(vrej(s, strlen(s), NULL), "a signer key is not a verifier key");
    CHECK(vrej("", 0, NULL) && vrej(NULL, 0, NULL), "empty");
    /* length is honoured: a valid key followed by bytes outside len */
    snprintf(s, sizeof s, "%s+junk", peter_vkey);
    ms_note_verifier v;
    ms_err e;
    CHECK(ms_note_verifier_parse(s, strlen(peter_vkey), &v, &e) == MS_OK, "len not honoured");
    /* padding where a 33-byte key has none (its last symbol replaced) */
    snprintf(s, sizeof s, "%.*s=", (int)strlen(peter_vkey) - 1, peter_vkey);
    CHECK(vrej(s, strlen(s), NULL), "padding where none belongs");
}

/* ---- checkpoints --------------------------------------------------------- */

static void note_checkpoint_roundtrip(void)
{
    static const uint64_t sizes[] = {0, 1, 9, 10, 6476701, 20852163, UINT64_MAX - 1, UINT64_MAX};
    static const char *const ext[MS_CHECKPOINT_EXT_MAX] = {"one", "two words", "+3", "— 4",
                                                           "5",   "6",         "7",  "8"};
    int bad = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        for (int next = 0; next <= MS_CHECKPOINT_EXT_MAX; next++) {
            unsigned char root[32];
            for (int j = 0; j < 32; j++)
                root[j] = (unsigned char)(i * 31 + (size_t)j * 17 + (size_t)next);
            char out[4096], want[4096], rb[64];
            size_t len = 0;
            ms_err e = {{0}};
            tb64(root, 32, rb);
            int k = snprintf(want, sizeof want, "origin.example/%zu\n%llu\n%s\n", i,
                             (unsigned long long)sizes[i], rb);
            for (int x = 0; x < next; x++)
                k += snprintf(want + k, sizeof want - (size_t)k, "%s\n", ext[x]);
            char origin[64];
            snprintf(origin, sizeof origin, "origin.example/%zu", i);
            ms_checkpoint cp;
            if (ms_checkpoint_format(origin, sizes[i], root, ext, next, out, sizeof out, &len, &e) != MS_OK ||
                len != (size_t)k || strcmp(out, want) || ms_checkpoint_parse(out, len, &cp, &e) != MS_OK ||
                strcmp(cp.origin, origin) || cp.size != sizes[i] || memcmp(cp.root, root, 32) ||
                cp.next != next) {
                bad++;
                fprintf(stderr, "  size %llu next %d: %s\n", (unsigned long long)sizes[i], next, e.msg);
                continue;
            }
            for (int x = 0; x < next; x++)
                bad += strcmp(cp.ext[x], ext[x]) != 0;
        }
    CHECK(bad == 0, "%d round trips failed", bad);

    /* format's refusals */
    unsigned char root[32] = {0};
    char out[4096], o256[300], o255[300];
    memset(o256, 'o', 256);
    o256[256] = 0;
    memset(o255, 'o', 255);
    o255[255] = 0;
    ms_err e;
    size_t len;
    static const char *const origins[] = {"", "a\nb", "a\x01", "\xff", "a\x7f", "\xc2\x85", NULL};
    for (size_t i = 0; i < sizeof origins / sizeof *origins; i++) {
        CHECK(ms_checkpoint_format(origins[i], 1, root, NULL, 0, out, sizeof out, &len, &e) == MS_EINPUT &&
                  out[0] == 0,
              "origin %zu accepted", i);
        mutations++;
    }
    CHECK(ms_checkpoint_format(o256, 1, root, NULL, 0, out, sizeof out, &len, &e) == MS_EINPUT,
          "256-byte origin");
    CHECK(ms_checkpoint_format(o255, 1, root, NULL, 0, out, sizeof out, &len, &e) == MS_OK,
          "255-byte origin: %s", e.msg);
    const char *ebad[][1] = {{""}, {"a\nb"}, {"\t"}, {o256}, {"\xed\xa0\x80"}, {NULL}};
    for (size_t i = 0; i < sizeof ebad / sizeof *ebad; i++) {
        CHECK(ms_checkpoint_format("o", 1, root, ebad[i], 1, out, sizeof out, &len, &e) == MS_EINPUT,
              "extension %zu accepted", i);
        mutations++;
    }
    const char *nine[9] = {"1", "2", "3", "4", "5", "6", "7", "8", "9"};
    CHECK(ms_checkpoint_format("o", 1, root, nine, 9, out, sizeof out, &len, &e) == MS_EINPUT,
          "9 extensions");
    CHECK(ms_checkpoint_format("o", 1, root, nine, -1, out, sizeof out, &len, &e) == MS_EINPUT,
          "-1 extensions");
    CHECK(ms_checkpoint_format("o", 1, root, NULL, 1, out, sizeof out, &len, &e) == MS_EINPUT,
          "NULL extensions");
    size_t need = 2 + 2 + 45; /* "o\n1\n" + 44 + "\n" */
    CHECK(ms_checkpoint_format("o", 1, root, NULL, 0, out, need + 1, &len, &e) == MS_OK && len == need,
          "exact room");
    CHECK(ms_checkpoint_format("o", 1, root, NULL, 0, out, need, &len, &e) == MS_EINPUT && out[0] == 0,
          "short room");
    mutations += 5;
}

static int cp_rej(const char *body, size_t n, const char *line)
{
    ms_checkpoint cp;
    ms_err e = {{0}};
    mutations++;
    memset(&cp, 0x55, sizeof cp);
    int rc = ms_checkpoint_parse(body, n, &cp, &e);
    if (rc != MS_EINPUT || cp.origin[0] || cp.size || cp.next)
        return 0;
    if (line && !strstr(e.msg, line)) {
        fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", e.msg, line);
        return 0;
    }
    return 1;
}

static void note_checkpoint_rejects(void)
{
    static const char root[] = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
    char body[4096];
    static const char *const sizes_bad[] = {
        "01",
        "00",
        "007",
        "+1",
        "-1",
        " 1",
        "1 ",
        "18446744073709551616",
        "18446744073709551617",
        "99999999999999999999",
        "184467440737095516150",
        "100000000000000000000",
        "1e3",
        "0x10",
        "1,000",
        "1_000",
        "\xef\xbc\x91" /* fullwidth 1 */,
        "١" /* Arabic-Indic 1 */,
        "1.0",
        "one",
    };
    for (size_t i = 0; i < sizeof sizes_bad / sizeof *sizes_bad; i++) {
        snprintf(body, sizeof body, "o\n%s\n%s\n", sizes_bad[i], root);
        CHECK(cp_rej(body, strlen(body), "line 2"), "tree size \"%s\" accepted", sizes_bad[i]);
    }
    snprintf(body, sizeof body, "o\n\n%s\n", root);
    CHECK(cp_rej(body, strlen(body), "line 2"), "empty tree size");
    static const char *const sizes_ok[] = {"0", "1", "10", "18446744073709551615", "18446744073709551614"};
    static const uint64_t vals[] = {0, 1, 10, UINT64_MAX, UINT64_MAX - 1};
    for (size_t i = 0; i < 5; i++) {
        ms_checkpoint cp;
        ms_err e = {{0}};
        snprintf(body, sizeof body, "o\n%s\n%s\n", sizes_ok[i], root);
        CHECK(ms_checkpoint_parse(body, strlen(body), &cp, &e) == MS_OK && cp.size == vals[i], "size %s: %s",
              sizes_ok[i], e.msg);
    }

    /* root hash */
    unsigned char r31[31], r33[33], r32[32];
    memset(r31, 7, sizeof r31);
    memset(r33, 7, sizeof r33);
    memset(r32, 7, sizeof r32);
    char b31[64], b33[64], b32[64];
    tb64(r31, 31, b31);
    tb64(r33, 33, b33);
    tb64(r32, 32, b32);
    char noncanon[64];
    snprintf(noncanon, sizeof noncanon, "%s", root);
    CHECK(noncanon[42] == 'I' && noncanon[43] == '=', "root layout");
    noncanon[42] = 'J'; /* 'I' = 8 has its two unused bits clear, 'J' = 9 does not */
    char hexroot[65];
    for (int i = 0; i < 32; i++)
        snprintf(hexroot + 2 * i, 3, "%02x", r32[i]);
    char spaced[64], urlsafe[64], nopad[64], inner_pad[64];
    snprintf(spaced, sizeof spaced, " %.43s", root);
    snprintf(urlsafe, sizeof urlsafe, "%s", root);
    urlsafe[21] = '_'; /* the '/' */
    snprintf(nopad, sizeof nopad, "%.43s", root);
    snprintf(inner_pad, sizeof inner_pad, "%.20s=%s", root, root + 21);
    const char *roots_bad[] = {b31, b33, noncanon, hexroot, spaced, urlsafe, nopad, inner_pad, "AAAA", ""};
    for (size_t i = 0; i < sizeof roots_bad / sizeof *roots_bad; i++) {
        snprintf(body, sizeof body, "o\n5\n%s\n", roots_bad[i]);
        CHECK(cp_rej(body, strlen(body), "line 3"), "root %zu accepted", i);
    }
    snprintf(body, sizeof body, "o\n5\n%s\n", b32);
    ms_checkpoint cp;
    ms_err e = {{0}};
    CHECK(ms_checkpoint_parse(body, strlen(body), &cp, &e) == MS_OK && !memcmp(cp.root, r32, 32), "%s",
          e.msg);

    /* origin, missing lines, extension lines, framing */
    char o256[300];
    memset(o256, 'o', 256);
    o256[256] = 0;
    snprintf(body, sizeof body, "\n5\n%s\n", root);
    CHECK(cp_rej(body, strlen(body), "line 1"), "empty origin");
    snprintf(body, sizeof body, "%s\n5\n%s\n", o256, root);
    CHECK(cp_rej(body, strlen(body), "line 1"), "256-byte origin");
    snprintf(body, sizeof body, "o\x01x\n5\n%s\n", root);
    CHECK(cp_rej(body, strlen(body), "line 1"), "control in origin");
    CHECK(cp_rej("origin\n", 7, "line 2"), "one line");
    CHECK(cp_rej("origin\n5\n", 9, "line 3"), "two lines");
    CHECK(cp_rej("", 0, NULL), "empty body");
    snprintf(body, sizeof body, "o\n5\n%s", root);
    CHECK(cp_rej(body, strlen(body), "newline"), "missing final newline");
    snprintf(body, sizeof body, "o\n5\n%s\n\n", root);
    CHECK(cp_rej(body, strlen(body), "line 4"), "empty extension line at the end");
    snprintf(body, sizeof body, "o\n5\n%s\n\next\n", root);
    CHECK(cp_rej(body, strlen(body), "line 4"), "empty extension line");
    snprintf(body, sizeof body, "o\n5\n%s\next\n\n", root);
    CHECK(cp_rej(body, strlen(body), "line 5"), "empty extension line after one");
    snprintf(body, sizeof body, "o\n5\n%s\n%s\n", root, o256);
    CHECK(cp_rej(body, strlen(body), "line 4"), "256-byte extension");
    snprintf(body, sizeof body, "o\n5\n%s\r\n", root);
    CHECK(cp_rej(body, strlen(body), "line 3"), "CRLF");
    snprintf(body, sizeof body, "o\n5\n%s\ne\x1b[0m\n", root);
    CHECK(cp_rej(body, strlen(body), "line 4"), "escape in extension");
    int k = snprintf(body, sizeof body, "o\n5\n%s\n", root);
    for (int i = 0; i < 8; i++)
        k += snprintf(body + k, sizeof body - (size_t)k, "e%d\n", i);
    CHECK(ms_checkpoint_parse(body, (size_t)k, &cp, &e) == MS_OK && cp.next == 8 && !strcmp(cp.ext[7], "e7"),
          "8 extensions: %s", e.msg);
    k += snprintf(body + k, sizeof body - (size_t)k, "e8\n");
    CHECK(cp_rej(body, (size_t)k, "line 12"), "9 extensions");
}

void suite_note(void)
{
    RUN(b64_rfc4648_vectors);
    RUN(b64_roundtrip_exhaustive);
    RUN(b64_rejects_noncanonical);
    RUN(b64_canonical_property);
    RUN(note_go_vectors_open);
    RUN(note_go_vectors_sign);
    RUN(note_trillian_vectors);
    RUN(note_sumdb_checkpoint);
    RUN(note_c2sp_checkpoint_body);
    RUN(note_rfc8032_ed25519);
    RUN(note_go_open_cases);
    RUN(note_roundtrip_generated);
    RUN(note_wrong_keys);
    RUN(note_altered_text);
    RUN(note_altered_signature);
    RUN(note_malformed);
    RUN(note_sign_rejects);
    RUN(note_names);
    RUN(note_verifier_parse);
    RUN(note_checkpoint_roundtrip);
    RUN(note_checkpoint_rejects);
    /* How many mutated inputs the tests above saw rejected (for reviews). */
    if (getenv("MS_NOTE_MUTATIONS"))
        fprintf(stderr, "note: %ld rejected mutations\n", mutations);
}
