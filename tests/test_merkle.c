/* test_merkle.c — RFC 6962 / RFC 9162 Merkle trees (ledger/merkle.h):
 * published known answers, a naive twin written from the RFC's recursive
 * definitions, a corpus of mutated proofs, the accumulator, bad arguments
 * and 64-bit sizes.
 *
 * Known answers (hex test vectors, used as data) come from
 * github.com/transparency-dev/merkle:
 *   testonly/constants.go    LeafInputs, NodeHashes, RootHashes, CompactTrees
 *   proof/verify_test.go     inclusionProofs, consistencyProofs, roots and the
 *                            verifier probes of TestVerifyInclusion,
 *                            TestVerifyConsistency, TestVerifyInclusionSingleEntry
 *   rfc6962/rfc6962_test.go  leaf hashes of "" and "L123456"
 *   proof/proof_test.go      TestInclusion / TestConsistency: which tree nodes
 *                            make up each proof (structure, sizes up to 95)
 *   testonly/vectors_test.go the accumulated "Subtree Test Vectors" of
 *                            draft-ietf-plants-merkle-tree-certs (subtree
 *                            hashes and inclusion proofs, sizes up to 130)
 * The 8 leaves and their roots are the Certificate Transparency test tree
 * (also in google/certificate-transparency's merkle tree tests). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "ledger/merkle.h"
#include "tests/check.h"

typedef unsigned char hash32[32];

/* ---- independent hashing (straight EVP, not ledger/merkle.c) ------------ */

static void sha256_2(const void *a, size_t na, const void *b, size_t nb, unsigned char out[32])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned int n = 0;
    if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 || EVP_DigestUpdate(c, a, na) != 1 ||
        EVP_DigestUpdate(c, b, nb) != 1 || EVP_DigestFinal_ex(c, out, &n) != 1 || n != 32) {
        fprintf(stderr, "test_merkle: libcrypto failed\n");
        abort();
    }
    EVP_MD_CTX_free(c);
}

static void naive_leaf(const void *data, size_t n, unsigned char out[32])
{
    static const unsigned char zero = 0x00;
    sha256_2(&zero, 1, data, n, out);
}

static void naive_node(const unsigned char l[32], const unsigned char r[32], unsigned char out[32])
{
    unsigned char buf[65];
    buf[0] = 0x01;
    memcpy(buf + 1, l, 32);
    memcpy(buf + 33, r, 32);
    sha256_2(buf, sizeof buf, "", 0, out);
}

/* ---- hex ------------------------------------------------------------------ */

static int unhex_n(const char *s, unsigned char *out, size_t n)
{
    if (strlen(s) != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (unsigned char)v;
    }
    return 0;
}

/* A 32-byte hash from 64 hex digits; a transcription error fails the test. */
static void h32(const char *s, unsigned char out[32])
{
    int ok = unhex_n(s, out, 32) == 0;
    CHECK(ok, "bad test vector hex \"%s\"", s);
    if (!ok)
        memset(out, 0, 32);
}

static void tohex(const unsigned char *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", in[i]);
    out[2 * n] = 0;
}

static int heq(const unsigned char *a, const unsigned char *b)
{
    return memcmp(a, b, 32) == 0;
}

/* ---- pseudo-random leaves (deterministic) --------------------------------- */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* n leaf hashes of pseudo-random 8-byte leaf data (caller frees). */
static hash32 *random_leaves(uint64_t n, uint64_t seed)
{
    hash32 *lh = malloc((n ? n : 1) * sizeof *lh);
    if (!lh)
        abort();
    for (uint64_t i = 0; i < n; i++) {
        uint64_t x = splitmix(&seed);
        naive_leaf(&x, sizeof x, lh[i]);
    }
    return lh;
}

/* ---- the published test tree ---------------------------------------------- */

static const char *const kat_leaf_hex[8] = {
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f",
};

/* RootHashes(): roots of the first 0..8 leaves. */
static const char *const kat_root_hex[9] = {
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

/* NodeHashes(): [level][index] for every complete subtree of the 8 leaves. */
static const char *const kat_node_hex[4][8] = {
    {
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    },
    {
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    },
    {
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    },
    {"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"},
};

/* CompactTrees(): the compact range of sizes 0..8 as (level, index) of
 * NodeHashes(), largest subtree first. */
static const struct {
    int n;
    int lv[3], ix[3];
} kat_compact[9] = {
    {0, {0}, {0}},
    {1, {0}, {0}},
    {1, {1}, {0}},
    {2, {1, 0}, {0, 2}},
    {1, {2}, {0}},
    {2, {2, 0}, {0, 4}},
    {2, {2, 1}, {0, 2}},
    {3, {2, 1, 0}, {0, 2, 6}},
    {1, {3}, {0}},
};

/* verify_test.go inclusionProofs (its leaf numbers are 1-based; m here is
 * the 0-based index). */
static const struct {
    uint64_t m, n;
    size_t len;
    const char *proof[3];
} kat_incl[] = {
    {0, 1, 0, {NULL}},
    {0, 8, 3,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {5, 8, 3,
     {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2, 3, 1, {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
    {1, 5, 3,
     {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
};

/* verify_test.go consistencyProofs. */
static const struct {
    uint64_t m, n;
    size_t len;
    const char *proof[3];
} kat_cons[] = {
    {1, 1, 0, {NULL}},
    {1, 8, 3,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {6, 8, 3,
     {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2, 5, 2,
     {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
    {6, 7, 3,
     {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
};

#define KAT_SOME_HASH "abacaba000000000000000000000000000000000000000000060061e00123456"

/* The 8 test leaf hashes, then pseudo-random ones up to n (n >= 8). */
static hash32 *kat_leaves(uint64_t n)
{
    hash32 *lh = random_leaves(n, 99);
    for (int i = 0; i < 8; i++) {
        unsigned char data[16];
        size_t dn = strlen(kat_leaf_hex[i]) / 2;
        CHECK(unhex_n(kat_leaf_hex[i], data, dn) == 0, "leaf %d hex", i);
        naive_leaf(data, dn, lh[i]);
    }
    return lh;
}

/* ---- the naive twin: RFC 6962 §2.1 recursions, as literally as possible ---- */

/* A proof as a list, with the side of each hash: 'R' a right sibling, 'L' a
 * left sibling, 'S' the seed of a consistency proof (SUBPROOF with m == n
 * and b false). The tags are the proof's shape: the verifier's computation
 * depends on (m, n) only through them. */
typedef struct nproof {
    size_t len;
    hash32 h[MS_MERKLE_MAX_PROOF];
    char tag[MS_MERKLE_MAX_PROOF + 1];
} nproof;

static void np_add(nproof *p, const unsigned char h[32], char tag)
{
    if (p->len >= MS_MERKLE_MAX_PROOF)
        abort();
    memcpy(p->h[p->len], h, 32);
    p->tag[p->len++] = tag;
    p->tag[p->len] = 0;
}

/* k: the largest power of two smaller than n (n > 1). */
static uint64_t naive_k(uint64_t n)
{
    uint64_t k = 1;
    while (2 * k < n)
        k *= 2;
    return k;
}

/* MTH(D[n]) over leaf hashes. */
static void naive_mth(const hash32 *d, uint64_t n, unsigned char out[32])
{
    if (n == 0) {
        sha256_2("", 0, "", 0, out);
        return;
    }
    if (n == 1) {
        memcpy(out, d[0], 32);
        return;
    }
    uint64_t k = naive_k(n);
    unsigned char l[32], r[32];
    naive_mth(d, k, l);
    naive_mth(d + k, n - k, r);
    naive_node(l, r, out);
}

/* PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n])      for m < k
 *              = PATH(m - k, D[k:n]) : MTH(D[0:k])  for m >= k
 * PATH(0, {d0}) = {} */
static void naive_path(uint64_t m, const hash32 *d, uint64_t n, nproof *p)
{
    unsigned char x[32];
    if (n == 1)
        return;
    uint64_t k = naive_k(n);
    if (m < k) {
        naive_path(m, d, k, p);
        naive_mth(d + k, n - k, x);
        np_add(p, x, 'R');
    } else {
        naive_path(m - k, d + k, n - k, p);
        naive_mth(d, k, x);
        np_add(p, x, 'L');
    }
}

/* SUBPROOF(m, D[m], true) = {}; SUBPROOF(m, D[m], false) = {MTH(D[m])}
 * SUBPROOF(m, D[n], b) = SUBPROOF(m, D[0:k], b) : MTH(D[k:n])          m <= k
 *                      = SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])  m > k
 * PROOF(m, D[n]) = SUBPROOF(m, D[n], true) */
static void naive_subproof(uint64_t m, const hash32 *d, uint64_t n, int b, nproof *p)
{
    unsigned char x[32];
    if (m == n) {
        if (!b) {
            naive_mth(d, n, x);
            np_add(p, x, 'S');
        }
        return;
    }
    uint64_t k = naive_k(n);
    if (m <= k) {
        naive_subproof(m, d, k, b, p);
        naive_mth(d + k, n - k, x);
        np_add(p, x, 'R');
    } else {
        naive_subproof(m - k, d + k, n - k, 0, p);
        naive_mth(d, k, x);
        np_add(p, x, 'L');
    }
}

static void naive_inclusion(const hash32 *d, uint64_t n, uint64_t m, nproof *p)
{
    p->len = 0;
    p->tag[0] = 0;
    naive_path(m, d, n, p);
}

static void naive_consistency(const hash32 *d, uint64_t n, uint64_t m, nproof *p)
{
    p->len = 0;
    p->tag[0] = 0;
    naive_subproof(m, d, n, 1, p);
}

/* ---- calling the module on exact-size copies ------------------------------- */

/* The verifiers run on a heap copy of exactly len hashes (NULL when len is
 * 0), so the sanitizer build catches any read past proof[len - 1]. */
static hash32 *exact_copy(const hash32 *p, size_t len)
{
    if (!len)
        return NULL;
    hash32 *c = malloc(len * sizeof *c);
    if (!c)
        abort();
    memcpy(c, p, len * sizeof *c);
    return c;
}

static int verify_incl(const unsigned char leaf[32], uint64_t m, uint64_t n, const hash32 *p, size_t len,
                       const unsigned char root[32])
{
    hash32 *c = exact_copy(p, len);
    ms_err e = {{0}};
    int rc = ms_merkle_verify_inclusion(leaf, m, n, (const unsigned char(*)[32])c, len, root, &e);
    free(c);
    return rc;
}

static int verify_cons(uint64_t m, uint64_t n, const unsigned char rm[32], const unsigned char rn[32],
                       const hash32 *p, size_t len)
{
    hash32 *c = exact_copy(p, len);
    ms_err e = {{0}};
    int rc = ms_merkle_verify_consistency(m, n, rm, rn, (const unsigned char(*)[32])c, len, &e);
    free(c);
    return rc;
}

static int same_proof(const hash32 *p, size_t len, const nproof *q)
{
    return len == q->len && (len == 0 || memcmp(p, q->h, len * 32) == 0);
}

/* ---- 1. known answers -------------------------------------------------------- */

static void merkle_kat_hashes(void)
{
    ms_err e = {{0}};
    unsigned char got[32], want[32];
    /* rfc6962_test.go: the empty leaf and "L123456". */
    CHECK(ms_merkle_leaf_hash("", 0, got, &e) == MS_OK, "%s", e.msg);
    h32("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d", want);
    CHECK(heq(got, want), "leaf hash of the empty string");
    CHECK(ms_merkle_leaf_hash("L123456", 7, got, &e) == MS_OK, "%s", e.msg);
    h32("395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56", want);
    CHECK(heq(got, want), "leaf hash of L123456");
    /* NodeHashes(): the 8 leaf hashes, then every level from its children. */
    hash32 level[8];
    for (int i = 0; i < 8; i++) {
        unsigned char data[16];
        size_t dn = strlen(kat_leaf_hex[i]) / 2;
        CHECK(unhex_n(kat_leaf_hex[i], data, dn) == 0, "leaf %d hex", i);
        CHECK(ms_merkle_leaf_hash(data, dn, level[i], &e) == MS_OK, "%s", e.msg);
        h32(kat_node_hex[0][i], want);
        CHECK(heq(level[i], want), "leaf hash %d", i);
    }
    for (int lv = 1, w = 4; lv <= 3; lv++, w /= 2) {
        for (int i = 0; i < w; i++) {
            CHECK(ms_merkle_node_hash(level[2 * i], level[2 * i + 1], got, &e) == MS_OK, "%s", e.msg);
            h32(kat_node_hex[lv][i], want);
            CHECK(heq(got, want), "node hash level %d index %d", lv, i);
            memcpy(level[i], got, 32);
        }
    }
    /* out may alias an input. */
    hash32 a, b;
    h32(kat_node_hex[0][0], a);
    h32(kat_node_hex[0][1], b);
    CHECK(ms_merkle_node_hash(a, b, a, &e) == MS_OK, "%s", e.msg);
    h32(kat_node_hex[1][0], want);
    CHECK(heq(a, want), "node hash into its left input");
}

static void merkle_kat_roots_and_compact_ranges(void)
{
    ms_err e = {{0}};
    hash32 *lh = kat_leaves(8);
    ms_merkle_acc acc;
    ms_merkle_acc_init(&acc);
    for (uint64_t n = 0; n <= 8; n++) {
        unsigned char want[32], got[32], via_acc[32];
        h32(kat_root_hex[n], want);
        CHECK(ms_merkle_root((const unsigned char(*)[32])lh, n, got, &e) == MS_OK, "%s", e.msg);
        CHECK(heq(got, want), "root of %llu leaves", (unsigned long long)n);
        CHECK(ms_merkle_acc_root(&acc, via_acc, &e) == MS_OK, "%s", e.msg);
        CHECK(heq(via_acc, want), "accumulator root of %llu leaves", (unsigned long long)n);
        CHECK(acc.size == n, "accumulator size %llu", (unsigned long long)acc.size);
        /* The documented layout: the compact range, largest subtree first. */
        CHECK(__builtin_popcountll(acc.size) == kat_compact[n].n, "compact range length at %llu",
              (unsigned long long)n);
        for (int j = 0; j < kat_compact[n].n; j++) {
            h32(kat_node_hex[kat_compact[n].lv[j]][kat_compact[n].ix[j]], want);
            CHECK(heq(acc.stack[j], want), "compact range entry %d at size %llu", j, (unsigned long long)n);
        }
        if (n < 8)
            CHECK(ms_merkle_acc_push(&acc, lh[n], &e) == MS_OK, "%s", e.msg);
    }
    /* The empty tree needs no leaves at all. */
    unsigned char got[32], want[32];
    CHECK(ms_merkle_root(NULL, 0, got, &e) == MS_OK, "%s", e.msg);
    h32(kat_root_hex[0], want);
    CHECK(heq(got, want), "root of the empty tree with lh NULL");
    free(lh);
}

static void merkle_kat_inclusion_proofs(void)
{
    ms_err e = {{0}};
    hash32 *lh = kat_leaves(8);
    for (size_t v = 0; v < sizeof kat_incl / sizeof kat_incl[0]; v++) {
        uint64_t m = kat_incl[v].m, n = kat_incl[v].n;
        hash32 want[3], got[MS_MERKLE_MAX_PROOF], root;
        for (size_t i = 0; i < kat_incl[v].len; i++)
            h32(kat_incl[v].proof[i], want[i]);
        size_t len = 99;
        CHECK(ms_merkle_inclusion_proof((const unsigned char(*)[32])lh, n, m, got, &len, &e) == MS_OK, "%s",
              e.msg);
        CHECK(len == kat_incl[v].len && (len == 0 || memcmp(got, want, len * 32) == 0),
              "inclusion proof of leaf %llu of %llu: %zu hashes", (unsigned long long)m,
              (unsigned long long)n, len);
        h32(kat_root_hex[n], root);
        CHECK(verify_incl(lh[m], m, n, want, kat_incl[v].len, root) == MS_OK,
              "published proof of leaf %llu of %llu verifies", (unsigned long long)m, (unsigned long long)n);
    }
    free(lh);
}

static void merkle_kat_consistency_proofs(void)
{
    ms_err e = {{0}};
    hash32 *lh = kat_leaves(8);
    for (size_t v = 0; v < sizeof kat_cons / sizeof kat_cons[0]; v++) {
        uint64_t m = kat_cons[v].m, n = kat_cons[v].n;
        hash32 want[3], got[MS_MERKLE_MAX_PROOF], rm, rn;
        for (size_t i = 0; i < kat_cons[v].len; i++)
            h32(kat_cons[v].proof[i], want[i]);
        size_t len = 99;
        CHECK(ms_merkle_consistency_proof((const unsigned char(*)[32])lh, n, m, got, &len, &e) == MS_OK, "%s",
              e.msg);
        CHECK(len == kat_cons[v].len && (len == 0 || memcmp(got, want, len * 32) == 0),
              "consistency proof %llu -> %llu: %zu hashes", (unsigned long long)m, (unsigned long long)n, len);
        h32(kat_root_hex[m], rm);
        h32(kat_root_hex[n], rn);
        CHECK(verify_cons(m, n, rm, rn, want, kat_cons[v].len) == MS_OK,
              "published proof %llu -> %llu verifies", (unsigned long long)m, (unsigned long long)n);
    }
    free(lh);
}

/* The fixed-input verifier probes of verify_test.go, where they fit 32-byte
 * hashes (its zero-length "hashes" do not exist here). Two rows differ by
 * contract: this module rejects m == 0 (verify_test.go accepts sizes 0 -> 0
 * and 0 -> 1 with an empty proof). */
static void merkle_kat_verifier_probes(void)
{
    unsigned char some[32], empty[32], r1[32], r2[32];
    h32(KAT_SOME_HASH, some);
    h32(kat_root_hex[0], empty);
    sha256_2("don't care 1", 12, "", 0, r1); /* stand-ins for its 12-byte roots */
    sha256_2("don't care 2", 12, "", 0, r2);
    /* TestVerifyInclusion: empty proof, leaf != root, out-of-range indices. */
    const uint64_t ip[4][2] = {{0, 0}, {0, 1}, {1, 0}, {2, 1}};
    for (int i = 0; i < 4; i++)
        CHECK(verify_incl(some, ip[i][0], ip[i][1], NULL, 0, empty) == MS_ECHECK, "probe %llu:%llu",
              (unsigned long long)ip[i][0], (unsigned long long)ip[i][1]);
    /* TestVerifyInclusionSingleEntry: a 1-leaf tree's root is its leaf hash. */
    unsigned char data_leaf[32];
    naive_leaf("data", 4, data_leaf);
    CHECK(verify_incl(data_leaf, 0, 1, NULL, 0, data_leaf) == MS_OK, "single entry");
    CHECK(verify_incl(data_leaf, 0, 1, NULL, 0, some) == MS_ECHECK, "single entry, wrong root");
    CHECK(verify_incl(some, 0, 1, NULL, 0, data_leaf) == MS_ECHECK, "single entry, wrong leaf");
    /* TestVerifyConsistency's table. */
    hash32 one_empty[1];
    memcpy(one_empty[0], empty, 32);
    const struct {
        uint64_t m, n;
        const unsigned char *rm, *rn;
        size_t len;
        int want;
    } t[] = {
        {0, 0, r1, r2, 0, MS_ECHECK},
        {1, 1, r1, r2, 0, MS_ECHECK},
        {0, 0, r1, r1, 0, MS_ECHECK}, /* verify_test.go: OK (size 0) */
        {0, 1, r1, r2, 0, MS_ECHECK}, /* verify_test.go: OK (size 0) */
        {1, 1, r2, r2, 0, MS_OK},
        {1, 0, r1, r2, 0, MS_ECHECK},
        {2, 1, r1, r2, 0, MS_ECHECK},
        {1, 2, r1, r2, 0, MS_ECHECK},
        {0, 0, empty, r2, 0, MS_ECHECK},
        {1, 1, empty, r2, 0, MS_ECHECK},
        {0, 0, empty, empty, 1, MS_ECHECK},
        {0, 1, empty, empty, 1, MS_ECHECK},
        {1, 1, empty, empty, 1, MS_ECHECK},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        CHECK(verify_cons(t[i].m, t[i].n, t[i].rm, t[i].rn, one_empty, t[i].len) == t[i].want,
              "consistency table row %zu", i);
}

/* proof_test.go: which tree nodes make up a proof. A node (level, index)
 * covers leaves [index << level, (index + 1) << level); the nodes in
 * [rb, re) are "rehashed" into one hash, the root of the union of their
 * ranges (the node that stands in for a missing parent). So every expected
 * proof hash is the naive MTH of a leaf range. */
typedef struct shape_vec {
    uint64_t a, b; /* inclusion: (size, index); consistency: (size1, size2) */
    int err;       /* the generator must refuse these */
    int nid, rb, re;
    int lv[9];
    uint64_t ix[9];
} shape_vec;

static const shape_vec shape_incl[] = {
    {0, 0, 1, 0, 0, 0, {0}, {0}},
    {0, 1, 1, 0, 0, 0, {0}, {0}},
    {1, 2, 1, 0, 0, 0, {0}, {0}},
    {0, 3, 1, 0, 0, 0, {0}, {0}},
    {7, 8, 1, 0, 0, 0, {0}, {0}},
    {1, 0, 0, 0, 0, 0, {0}, {0}},
    {2, 0, 0, 1, 0, 0, {0}, {1}},
    {2, 1, 0, 1, 0, 0, {0}, {0}},
    {3, 1, 0, 2, 0, 0, {0, 0}, {0, 2}},
    {7, 0, 0, 4, 2, 4, {0, 1, 0, 1}, {1, 1, 6, 2}},
    {7, 1, 0, 4, 2, 4, {0, 1, 0, 1}, {0, 1, 6, 2}},
    {7, 2, 0, 4, 2, 4, {0, 1, 0, 1}, {3, 0, 6, 2}},
    {7, 3, 0, 4, 2, 4, {0, 1, 0, 1}, {2, 0, 6, 2}},
    {7, 4, 0, 3, 0, 0, {0, 0, 2}, {5, 6, 0}},
    {7, 5, 0, 3, 0, 0, {0, 0, 2}, {4, 6, 0}},
    {7, 6, 0, 2, 0, 0, {1, 2}, {2, 0}},
    {4, 2, 0, 2, 0, 0, {0, 1}, {3, 0}},
    {5, 3, 0, 3, 0, 0, {0, 1, 0}, {2, 0, 4}},
    {6, 3, 0, 3, 0, 0, {0, 1, 1}, {2, 0, 2}},
    {6, 4, 0, 2, 0, 0, {0, 2}, {5, 0}},
    {7, 1, 0, 4, 2, 4, {0, 1, 0, 1}, {0, 1, 6, 2}},
    {7, 3, 0, 4, 2, 4, {0, 1, 0, 1}, {2, 0, 6, 2}},
    {15, 10, 0, 5, 2, 4, {0, 1, 0, 1, 3}, {11, 4, 14, 6, 0}},
    {31, 24, 0, 6, 2, 4, {0, 1, 0, 1, 3, 4}, {25, 13, 30, 14, 2, 0}},
    {95, 81, 0, 8, 3, 6, {0, 1, 2, 0, 1, 2, 4, 6}, {80, 41, 21, 94, 46, 22, 4, 0}},
};

static const shape_vec shape_cons[] = {
    {5, 0, 1, 0, 0, 0, {0}, {0}},
    {9, 8, 1, 0, 0, 0, {0}, {0}},
    {1, 2, 0, 1, 0, 0, {0}, {1}},
    {1, 4, 0, 2, 0, 0, {0, 1}, {1, 1}},
    {1, 6, 0, 3, 0, 0, {0, 1, 1}, {1, 1, 2}},
    {2, 3, 0, 1, 0, 0, {0}, {2}},
    {2, 8, 0, 2, 0, 0, {1, 2}, {1, 1}},
    {3, 7, 0, 5, 3, 5, {0, 0, 1, 0, 1}, {2, 3, 0, 6, 2}},
    {4, 7, 0, 2, 0, 2, {0, 1}, {6, 2}},
    {5, 7, 0, 4, 0, 0, {0, 0, 0, 2}, {4, 5, 6, 0}},
    {6, 7, 0, 3, 0, 0, {1, 0, 2}, {2, 6, 0}},
    {7, 8, 0, 4, 0, 0, {0, 0, 1, 2}, {6, 7, 2, 0}},
    {1, 1, 0, 0, 0, 0, {0}, {0}},
    {2, 2, 0, 0, 0, 0, {0}, {0}},
    {3, 3, 0, 0, 0, 0, {0}, {0}},
    {4, 4, 0, 0, 0, 0, {0}, {0}},
    {5, 5, 0, 0, 0, 0, {0}, {0}},
    {7, 7, 0, 0, 0, 0, {0}, {0}},
    {8, 8, 0, 0, 0, 0, {0}, {0}},
    {2, 4, 0, 1, 0, 0, {1}, {1}},
    {3, 5, 0, 4, 0, 0, {0, 0, 1, 0}, {2, 3, 0, 4}},
    {3, 6, 0, 4, 0, 0, {0, 0, 1, 1}, {2, 3, 0, 2}},
    {4, 6, 0, 1, 0, 0, {1}, {2}},
    {1, 7, 0, 4, 2, 4, {0, 1, 0, 1}, {1, 1, 6, 2}},
    {10, 15, 0, 5, 2, 4, {1, 1, 0, 1, 3}, {4, 5, 14, 6, 0}},
    {24, 31, 0, 5, 1, 4, {3, 0, 1, 2, 4}, {2, 30, 14, 6, 0}},
    {81, 95, 0, 9, 4, 7, {0, 0, 1, 2, 0, 1, 2, 4, 6}, {80, 81, 41, 21, 94, 46, 22, 4, 0}},
};

/* The expected proof hashes of a structural vector: the MTH of each node's
 * leaf range, the rehashed group as one range. 0 on success. */
static int shape_expect(const shape_vec *v, const hash32 *lh, hash32 *out, size_t *len)
{
    *len = 0;
    for (int i = 0; i < v->nid;) {
        uint64_t lo = v->ix[i] << v->lv[i], hi = (v->ix[i] + 1) << v->lv[i];
        int last = i;
        if (i == v->rb && v->re > v->rb) { /* the union of the group's ranges */
            uint64_t covered = 0;
            for (int j = v->rb; j < v->re; j++) {
                uint64_t jl = v->ix[j] << v->lv[j], jh = (v->ix[j] + 1) << v->lv[j];
                lo = jl < lo ? jl : lo;
                hi = jh > hi ? jh : hi;
                covered += jh - jl;
            }
            if (covered != hi - lo)
                return -1; /* not one contiguous range: a transcription error */
            last = v->re - 1;
        }
        naive_mth(lh + lo, hi - lo, out[(*len)++]);
        i = last + 1;
    }
    return 0;
}

static void merkle_kat_proof_structure(void)
{
    ms_err e = {{0}};
    hash32 *lh = random_leaves(96, 7);
    hash32 got[MS_MERKLE_MAX_PROOF], want[9];
    for (size_t v = 0; v < sizeof shape_incl / sizeof shape_incl[0]; v++) {
        const shape_vec *s = &shape_incl[v];
        size_t len = 99, wlen;
        int rc = ms_merkle_inclusion_proof((const unsigned char(*)[32])lh, s->a, s->b, got, &len, &e);
        if (s->err) {
            CHECK(rc == MS_EINPUT && len == 0, "inclusion(size %llu, index %llu) refused: %d",
                  (unsigned long long)s->a, (unsigned long long)s->b, rc);
            continue;
        }
        CHECK(shape_expect(s, lh, want, &wlen) == 0, "inclusion vector %zu is contiguous", v);
        CHECK(rc == MS_OK && len == wlen && (len == 0 || memcmp(got, want, len * 32) == 0),
              "inclusion(size %llu, index %llu): rc %d, %zu hashes (want %zu)", (unsigned long long)s->a,
              (unsigned long long)s->b, rc, len, wlen);
    }
    for (size_t v = 0; v < sizeof shape_cons / sizeof shape_cons[0]; v++) {
        const shape_vec *s = &shape_cons[v];
        size_t len = 99, wlen;
        int rc = ms_merkle_consistency_proof((const unsigned char(*)[32])lh, s->b, s->a, got, &len, &e);
        if (s->err) {
            CHECK(rc == MS_EINPUT && len == 0, "consistency(%llu, %llu) refused: %d",
                  (unsigned long long)s->a, (unsigned long long)s->b, rc);
            continue;
        }
        CHECK(shape_expect(s, lh, want, &wlen) == 0, "consistency vector %zu is contiguous", v);
        CHECK(rc == MS_OK && len == wlen && (len == 0 || memcmp(got, want, len * 32) == 0),
              "consistency(%llu, %llu): rc %d, %zu hashes (want %zu)", (unsigned long long)s->a,
              (unsigned long long)s->b, rc, len, wlen);
    }
    free(lh);
}

/* draft-ietf-plants-merkle-tree-certs "Subtree Test Vectors" (as
 * reproduced by transparency-dev/merkle testonly/vectors_test.go): leaves
 * d[i] = the byte i, i < 130; for every valid subtree [start, end) (start a
 * multiple of BIT_CEIL(end - start)), in order of end then start, a line
 * "[start, end) <hex root>\n", and for every index in it a line
 * "index [start, end)" + " <hex>" per proof hash + "\n". The SHA-256 of all
 * lines of each kind is published. A valid subtree is a whole tree node, so
 * its root and its inclusion proofs are those of the tree of its leaves.
 * (The third vector, subtree consistency proofs, is a draft-specific proof
 * this module does not implement.) */
static int subtree_valid(uint64_t start, uint64_t end)
{
    if (start >= end)
        return 0;
    uint64_t bc = 1;
    while (bc < end - start)
        bc *= 2;
    return (start & (bc - 1)) == 0;
}

static void merkle_kat_draft_subtree_vectors(void)
{
    enum { N = 130 };
    ms_err e = {{0}};
    hash32 lh[N];
    for (int i = 0; i < N; i++) {
        unsigned char b = (unsigned char)i;
        CHECK(ms_merkle_leaf_hash(&b, 1, lh[i], &e) == MS_OK, "%s", e.msg);
    }
    EVP_MD_CTX *hs = EVP_MD_CTX_new(), *hi = EVP_MD_CTX_new();
    if (!hs || !hi || EVP_DigestInit_ex(hs, EVP_sha256(), NULL) != 1 ||
        EVP_DigestInit_ex(hi, EVP_sha256(), NULL) != 1)
        abort();
    long subtrees = 0, proofs = 0;
    char line[128], hx[65];
    for (uint64_t end = 1; end <= N; end++)
        for (uint64_t start = 0; start < end; start++) {
            if (!subtree_valid(start, end))
                continue;
            unsigned char root[32];
            const unsigned char(*sub)[32] = (const unsigned char(*)[32])(lh + start);
            CHECK(ms_merkle_root(sub, end - start, root, &e) == MS_OK, "%s", e.msg);
            tohex(root, 32, hx);
            snprintf(line, sizeof line, "[%llu, %llu) %s\n", (unsigned long long)start,
                     (unsigned long long)end, hx);
            EVP_DigestUpdate(hs, line, strlen(line));
            subtrees++;
            for (uint64_t idx = start; idx < end; idx++) {
                hash32 p[MS_MERKLE_MAX_PROOF];
                size_t len = 0;
                CHECK(ms_merkle_inclusion_proof(sub, end - start, idx - start, p, &len, &e) == MS_OK, "%s",
                      e.msg);
                snprintf(line, sizeof line, "%llu [%llu, %llu)", (unsigned long long)idx,
                         (unsigned long long)start, (unsigned long long)end);
                EVP_DigestUpdate(hi, line, strlen(line));
                for (size_t j = 0; j < len; j++) {
                    tohex(p[j], 32, hx);
                    snprintf(line, sizeof line, " %s", hx);
                    EVP_DigestUpdate(hi, line, strlen(line));
                }
                EVP_DigestUpdate(hi, "\n", 1);
                proofs++;
            }
        }
    unsigned char ds[32], di[32], want[32];
    unsigned int dn = 0;
    EVP_DigestFinal_ex(hs, ds, &dn);
    EVP_DigestFinal_ex(hi, di, &dn);
    EVP_MD_CTX_free(hs);
    EVP_MD_CTX_free(hi);
    h32("94a95384a8c69acea9b50d035a58285b3a777cb7a724005faa5e1f1e1190007f", want);
    CHECK(heq(ds, want), "subtree hash vector over %ld subtrees", subtrees);
    h32("ac2a8f989e44d99e399db448050ff5f19757df53cfb716aa81015d3955d8163f", want);
    CHECK(heq(di, want), "subtree inclusion proof vector over %ld proofs", proofs);
    /* Sum over end of the valid starts (and of their sizes): the loops ran. */
    CHECK(subtrees > N && proofs > subtrees, "%ld subtrees, %ld proofs", subtrees, proofs);
}

/* ---- 2. the naive twin, byte for byte ------------------------------------------- */

/* Roots (module, accumulator at every size), every inclusion proof of every
 * size, every consistency proof of every pair 1 <= m <= n <= max: equal to
 * the naive recursions, and each verifies. */
static void twin_compare(const hash32 *lh, uint64_t max, long *nproofs)
{
    ms_err e = {{0}};
    const unsigned char(*L)[32] = (const unsigned char(*)[32])lh;
    hash32 *roots = malloc((max + 1) * sizeof *roots);
    if (!roots)
        abort();
    ms_merkle_acc acc;
    ms_merkle_acc_init(&acc);
    for (uint64_t n = 0; n <= max; n++) {
        unsigned char got[32], via_acc[32];
        naive_mth(lh, n, roots[n]);
        CHECK(ms_merkle_root(L, n, got, &e) == MS_OK && heq(got, roots[n]), "root of %llu",
              (unsigned long long)n);
        CHECK(ms_merkle_acc_root(&acc, via_acc, &e) == MS_OK && heq(via_acc, roots[n]),
              "accumulator root of %llu", (unsigned long long)n);
        if (n < max)
            CHECK(ms_merkle_acc_push(&acc, lh[n], &e) == MS_OK, "%s", e.msg);
    }
    static nproof want;
    hash32 got[MS_MERKLE_MAX_PROOF];
    for (uint64_t n = 1; n <= max; n++)
        for (uint64_t m = 0; m < n; m++) {
            size_t len = 999;
            naive_inclusion(lh, n, m, &want);
            CHECK(ms_merkle_inclusion_proof(L, n, m, got, &len, &e) == MS_OK, "%s", e.msg);
            CHECK(same_proof(got, len, &want), "inclusion proof of %llu in %llu: %zu hashes, naive %zu",
                  (unsigned long long)m, (unsigned long long)n, len, want.len);
            CHECK(verify_incl(lh[m], m, n, got, len, roots[n]) == MS_OK, "inclusion %llu in %llu verifies",
                  (unsigned long long)m, (unsigned long long)n);
            (*nproofs)++;
        }
    for (uint64_t n = 1; n <= max; n++)
        for (uint64_t m = 1; m <= n; m++) {
            size_t len = 999;
            naive_consistency(lh, n, m, &want);
            CHECK(ms_merkle_consistency_proof(L, n, m, got, &len, &e) == MS_OK, "%s", e.msg);
            CHECK(same_proof(got, len, &want), "consistency proof %llu -> %llu: %zu hashes, naive %zu",
                  (unsigned long long)m, (unsigned long long)n, len, want.len);
            CHECK(verify_cons(m, n, roots[m], roots[n], got, len) == MS_OK,
                  "consistency %llu -> %llu verifies", (unsigned long long)m, (unsigned long long)n);
            (*nproofs)++;
        }
    free(roots);
}

static void merkle_twin_kat_leaves(void)
{
    hash32 *lh = kat_leaves(8);
    /* The twin itself reproduces the published roots and proofs. */
    static nproof np;
    for (uint64_t n = 0; n <= 8; n++) {
        unsigned char got[32], want[32];
        naive_mth(lh, n, got);
        h32(kat_root_hex[n], want);
        CHECK(heq(got, want), "naive root of %llu", (unsigned long long)n);
    }
    for (size_t v = 0; v < sizeof kat_incl / sizeof kat_incl[0]; v++) {
        hash32 want[3];
        for (size_t i = 0; i < kat_incl[v].len; i++)
            h32(kat_incl[v].proof[i], want[i]);
        naive_inclusion(lh, kat_incl[v].n, kat_incl[v].m, &np);
        CHECK(same_proof(want, kat_incl[v].len, &np), "naive inclusion vector %zu", v);
    }
    for (size_t v = 0; v < sizeof kat_cons / sizeof kat_cons[0]; v++) {
        hash32 want[3];
        for (size_t i = 0; i < kat_cons[v].len; i++)
            h32(kat_cons[v].proof[i], want[i]);
        naive_consistency(lh, kat_cons[v].n, kat_cons[v].m, &np);
        CHECK(same_proof(want, kat_cons[v].len, &np), "naive consistency vector %zu", v);
    }
    long n = 0;
    twin_compare(lh, 8, &n);
    CHECK(n == 36 + 36, "%ld proofs compared", n); /* 8*9/2 inclusion, 8*9/2 consistency */
    free(lh);
}

static void merkle_twin_random_leaves(void)
{
    enum { MAX = 70 };
    hash32 *lh = random_leaves(MAX, 1);
    long n = 0;
    twin_compare(lh, MAX, &n);
    CHECK(n == 2 * (MAX * (MAX + 1) / 2), "%ld proofs compared", n);
    free(lh);
}

/* ---- 3. mutated proofs ---------------------------------------------------------- */

/* Probes fall in two classes.
 * Must reject: a changed hash (each bit flip, a dropped, added, inserted or
 * swapped hash, another leaf's or pair's proof), a changed leaf or root, a
 * changed index in the same tree, and a changed size checked against the true
 * root(s) of that size. Each is a false statement or a proof of another one.
 * Shape-predicted: a changed size checked against the ORIGINAL root(s). Tree
 * nodes carry no size, so the verifier accepts exactly when the new (m, n)
 * gives the proof the same shape (the naive recursion's tag string), e.g.
 * leaf 0 in sizes 3 and 4; merkle.h says so. Each such probe must come out
 * as that prediction says, and a changed index never keeps the shape. */
typedef struct tally {
    long must, rejected;          /* must-reject probes, of which MS_ECHECK */
    long shaped, shaped_accepted; /* shape-predicted probes, of which accepted */
} tally;

static void must_incl(tally *t, const char *what, const unsigned char leaf[32], uint64_t m, uint64_t n,
                      const hash32 *p, size_t len, const unsigned char root[32], uint64_t m0, uint64_t n0)
{
    int rc = verify_incl(leaf, m, n, p, len, root);
    t->must++;
    t->rejected += rc == MS_ECHECK;
    CHECK(rc == MS_ECHECK, "inclusion %llu/%llu, %s (m %llu n %llu len %zu): %d", (unsigned long long)m0,
          (unsigned long long)n0, what, (unsigned long long)m, (unsigned long long)n, len, rc);
}

static void must_cons(tally *t, const char *what, uint64_t m, uint64_t n, const unsigned char rm[32],
                      const unsigned char rn[32], const hash32 *p, size_t len, uint64_t m0, uint64_t n0)
{
    int rc = verify_cons(m, n, rm, rn, p, len);
    t->must++;
    t->rejected += rc == MS_ECHECK;
    CHECK(rc == MS_ECHECK, "consistency %llu->%llu, %s (m %llu n %llu len %zu): %d", (unsigned long long)m0,
          (unsigned long long)n0, what, (unsigned long long)m, (unsigned long long)n, len, rc);
}

/* The shape of the naive proof for (m, n): its tag string ("" for n == 1),
 * "!" for an (m, n) the verifier refuses outright (out of range), "=" for a
 * consistency proof between equal sizes (the verifier's special case: only
 * an empty proof). */
static void shape_of(const hash32 *lh, uint64_t have, int cons, uint64_t m, uint64_t n, char *out)
{
    static nproof p;
    if (cons ? (m == 0 || m > n) : m >= n) {
        memcpy(out, "!", 2);
        return;
    }
    if (n > have)
        abort(); /* a probe beyond the leaves we have: a bug in this file */
    if (cons && m == n) {
        memcpy(out, "=", 2);
        return;
    }
    if (cons)
        naive_consistency(lh, n, m, &p);
    else
        naive_inclusion(lh, n, m, &p);
    memcpy(out, p.tag, strlen(p.tag) + 1);
}

static void shaped_probe(tally *t, const hash32 *lh, uint64_t have, int cons, uint64_t m0, uint64_t n0,
                         uint64_t m, uint64_t n, const hash32 *p, size_t len, const unsigned char *a,
                         const unsigned char *b)
{
    char s0[MS_MERKLE_MAX_PROOF + 2], s1[MS_MERKLE_MAX_PROOF + 2];
    if (m == m0 && n == n0)
        return;
    shape_of(lh, have, cons, m0, n0, s0);
    shape_of(lh, have, cons, m, n, s1);
    int predicted = strcmp(s1, "!") != 0 && strcmp(s0, s1) == 0 ? MS_OK : MS_ECHECK;
    int rc = cons ? verify_cons(m, n, a, b, p, len) : verify_incl(a, m, n, p, len, b);
    t->shaped++;
    t->shaped_accepted += rc == MS_OK;
    CHECK(rc == predicted, "%s %llu/%llu checked as %llu/%llu: %d, shape \"%s\" vs \"%s\"",
          cons ? "consistency" : "inclusion", (unsigned long long)m0, (unsigned long long)n0,
          (unsigned long long)m, (unsigned long long)n, rc, s0, s1);
    CHECK(!(rc == MS_OK && n == n0 && !cons), "a changed index kept the shape");
}

/* Puts the hash-level mutations of proof p (len hashes) through fn. */
typedef void (*probe_fn)(tally *t, const char *what, const hash32 *q, size_t qlen, const void *ctx);

static void hash_mutations(tally *t, const hash32 *p, size_t len, const unsigned char extra[3][32],
                           probe_fn fn, const void *ctx)
{
    hash32 q[MS_MERKLE_MAX_PROOF + 2];
    static const int flips[3][2] = {{0, 3}, {16, 0}, {31, 7}}; /* (byte, bit) */
    for (size_t i = 0; i < len; i++)
        for (int f = 0; f < 3; f++) {
            memcpy(q, p, len * 32);
            q[i][flips[f][0]] ^= (unsigned char)(1u << flips[f][1]);
            fn(t, "bit flip", q, len, ctx);
        }
    if (len > 0) {
        fn(t, "last hash dropped", p, len - 1, ctx);
        fn(t, "first hash dropped", p + 1, len - 1, ctx);
    }
    for (int x = 0; x < 3; x++) {
        memcpy(q, p, len * 32);
        memcpy(q[len], extra[x], 32);
        fn(t, "hash appended", q, len + 1, ctx);
        memcpy(q[0], extra[x], 32);
        memcpy(q + 1, p, len * 32);
        fn(t, "hash prepended", q, len + 1, ctx);
    }
    if (len > 0) {
        memcpy(q[0], p[0], 32);
        memcpy(q + 1, p, len * 32);
        fn(t, "first hash repeated", q, len + 1, ctx);
    }
    if (len > 1) {
        memcpy(q[0], p[0], 32);
        memcpy(q[1], extra[0], 32);
        memcpy(q + 2, p + 1, (len - 1) * 32);
        fn(t, "hash inserted", q, len + 1, ctx);
    }
    for (size_t i = 0; i < len; i++)
        for (size_t j = i + 1; j < len; j++) {
            if (heq(p[i], p[j]))
                continue;
            memcpy(q, p, len * 32);
            memcpy(q[i], p[j], 32);
            memcpy(q[j], p[i], 32);
            fn(t, "two hashes swapped", q, len, ctx);
        }
    for (size_t i = 0; i < len; i++) {
        memcpy(q, p, len * 32);
        memset(q[i], 0, 32);
        fn(t, "hash zeroed", q, len, ctx);
    }
}

typedef struct incl_ctx {
    const unsigned char *leaf, *root;
    uint64_t m, n;
} incl_ctx;

static void incl_fn(tally *t, const char *what, const hash32 *q, size_t qlen, const void *ctx)
{
    const incl_ctx *c = ctx;
    must_incl(t, what, c->leaf, c->m, c->n, q, qlen, c->root, c->m, c->n);
}

typedef struct cons_ctx {
    const unsigned char *rm, *rn;
    uint64_t m, n;
} cons_ctx;

static void cons_fn(tally *t, const char *what, const hash32 *q, size_t qlen, const void *ctx)
{
    const cons_ctx *c = ctx;
    must_cons(t, what, c->m, c->n, c->rm, c->rn, q, qlen, c->m, c->n);
}

static void flip(const unsigned char in[32], unsigned char out[32])
{
    memcpy(out, in, 32);
    out[5] ^= 0x10;
}

/* Every valid proof of sizes 1..max over lh (which holds 2 * max + 2 leaves,
 * for the sizes the mutations reach). */
static void mutate_all(const hash32 *lh, uint64_t max, tally *t)
{
    ms_err e = {{0}};
    const uint64_t have = 2 * max + 2;
    const unsigned char(*L)[32] = (const unsigned char(*)[32])lh;
    hash32 *roots = malloc((have + 1) * sizeof *roots);
    if (!roots)
        abort();
    for (uint64_t n = 0; n <= have; n++)
        naive_mth(lh, n, roots[n]);
    unsigned char some[32], empty[32], wrong_leaf[32], bad[32];
    h32(KAT_SOME_HASH, some);
    h32(kat_root_hex[0], empty);
    naive_leaf("WrongLeaf", 9, wrong_leaf);
    hash32 p[MS_MERKLE_MAX_PROOF], p2[MS_MERKLE_MAX_PROOF];
    for (uint64_t n = 1; n <= max; n++)
        for (uint64_t m = 0; m < n; m++) {
            size_t len = 0, len2 = 0;
            CHECK(ms_merkle_inclusion_proof(L, n, m, p, &len, &e) == MS_OK, "%s", e.msg);
            CHECK(verify_incl(lh[m], m, n, p, len, roots[n]) == MS_OK, "the unmutated proof verifies");
            incl_ctx c = {lh[m], roots[n], m, n};
            unsigned char extra[3][32];
            memcpy(extra[0], some, 32);
            memcpy(extra[1], roots[n], 32);
            memcpy(extra[2], lh[m], 32);
            hash_mutations(t, p, len, (const unsigned char(*)[32])extra, incl_fn, &c);
            /* Another leaf's proof, with this leaf and index. */
            for (uint64_t m2 = 0; m2 < n; m2++) {
                if (m2 == m)
                    continue;
                CHECK(ms_merkle_inclusion_proof(L, n, m2, p2, &len2, &e) == MS_OK, "%s", e.msg);
                must_incl(t, "another leaf's proof", lh[m], m, n, p2, len2, roots[n], m, n);
                must_incl(t, "this proof for another index", lh[m], m2, n, p, len, roots[n], m, n);
                must_incl(t, "another leaf at this index", lh[m2], m, n, p, len, roots[n], m, n);
            }
            /* Index: m + 1, m - 1 (wrapping at 0), m ^ 1, m ^ 2, m + n. */
            const uint64_t idx[5] = {m + 1, m - 1, m ^ 1, m ^ 2, m + n};
            for (int i = 0; i < 5; i++)
                if (idx[i] != m)
                    must_incl(t, "wrong index", lh[m], idx[i], n, p, len, roots[n], m, n);
            /* Leaf and root. */
            flip(lh[m], bad);
            must_incl(t, "leaf bit flipped", bad, m, n, p, len, roots[n], m, n);
            must_incl(t, "WrongLeaf", wrong_leaf, m, n, p, len, roots[n], m, n);
            flip(roots[n], bad);
            must_incl(t, "root bit flipped", lh[m], m, n, p, len, bad, m, n);
            must_incl(t, "empty-tree root", lh[m], m, n, p, len, empty, m, n);
            must_incl(t, "random root", lh[m], m, n, p, len, some, m, n);
            must_incl(t, "root of n - 1", lh[m], m, n, p, len, roots[n - 1], m, n);
            /* Size, against the true root of that size. */
            const uint64_t sz[5] = {n + 1, n - 1, 2 * n, n / 2, n + 2};
            for (int i = 0; i < 5; i++) {
                if (sz[i] == n)
                    continue;
                must_incl(t, "wrong size, its true root", lh[m], m, sz[i], p, len, roots[sz[i]], m, n);
                shaped_probe(t, lh, have, 0, m, n, m, sz[i], p, len, lh[m], roots[n]);
            }
            for (int i = 0; i < 5; i++)
                shaped_probe(t, lh, have, 0, m, n, idx[i], n, p, len, lh[m], roots[n]);
            if (len == 0) /* n == 1: no hash to mutate; the empty proof with a huge size */
                must_incl(t, "size UINT64_MAX", lh[m], m, UINT64_MAX, p, len, roots[n], m, n);
        }
    for (uint64_t n = 1; n <= max; n++)
        for (uint64_t m = 1; m <= n; m++) {
            size_t len = 0, len2 = 0;
            CHECK(ms_merkle_consistency_proof(L, n, m, p, &len, &e) == MS_OK, "%s", e.msg);
            CHECK(verify_cons(m, n, roots[m], roots[n], p, len) == MS_OK, "the unmutated proof verifies");
            cons_ctx c = {roots[m], roots[n], m, n};
            unsigned char extra[3][32];
            memcpy(extra[0], some, 32);
            memcpy(extra[1], roots[m], 32);
            memcpy(extra[2], roots[n], 32);
            hash_mutations(t, p, len, (const unsigned char(*)[32])extra, cons_fn, &c);
            if (len > 0)
                must_cons(t, "empty proof", m, n, roots[m], roots[n], p, 0, m, n);
            /* Another pair's proof for this pair. */
            for (uint64_t m2 = 1; m2 <= n; m2++) {
                if (m2 == m)
                    continue;
                CHECK(ms_merkle_consistency_proof(L, n, m2, p2, &len2, &e) == MS_OK, "%s", e.msg);
                must_cons(t, "another pair's proof", m, n, roots[m], roots[n], p2, len2, m, n);
            }
            /* Roots. */
            flip(roots[m], bad);
            must_cons(t, "old root bit flipped", m, n, bad, roots[n], p, len, m, n);
            flip(roots[n], bad);
            must_cons(t, "new root bit flipped", m, n, roots[m], bad, p, len, m, n);
            if (m != n) {
                must_cons(t, "roots swapped", m, n, roots[n], roots[m], p, len, m, n);
                must_cons(t, "old root = new root", m, n, roots[n], roots[n], p, len, m, n);
            }
            must_cons(t, "empty-tree old root", m, n, empty, roots[n], p, len, m, n);
            must_cons(t, "random new root", m, n, roots[m], some, p, len, m, n);
            /* Sizes, against the true roots of those sizes. */
            const uint64_t s1[6] = {m + 1, m - 1, m ^ 2, m, m, m};
            const uint64_t s2[6] = {n, n, n, n + 1, n - 1, 2 * n};
            for (int i = 0; i < 6; i++) {
                if (s1[i] == m && s2[i] == n)
                    continue;
                if (s1[i] <= have && s2[i] <= have)
                    must_cons(t, "wrong sizes, their true roots", s1[i], s2[i], roots[s1[i]], roots[s2[i]],
                              p, len, m, n);
                shaped_probe(t, lh, have, 1, m, n, s1[i], s2[i], p, len, roots[m], roots[n]);
            }
            shaped_probe(t, lh, have, 1, m, n, m, n / 2, p, len, roots[m], roots[n]);
            shaped_probe(t, lh, have, 1, m, n, m + 1, n + 1, p, len, roots[m], roots[n]);
            must_cons(t, "size 0 -> n", 0, n, roots[m], roots[n], p, len, m, n);
            must_cons(t, "sizes UINT64_MAX", m, UINT64_MAX, roots[m], roots[n], p, len, m, n);
        }
    free(roots);
}

/* The probe counts are exact: they pin the corpus this file builds, so a
 * loop that silently stops generating probes fails here. */
static void merkle_mutated_proofs_rejected(void)
{
    tally t = {0, 0, 0, 0};
    hash32 *lh = kat_leaves(2 * 8 + 2); /* the published 8 leaves first */
    mutate_all(lh, 8, &t);
    free(lh);
    CHECK(t.must == 3221 && t.rejected == t.must, "sizes <= 8: %ld of %ld mutated proofs rejected",
          t.rejected, t.must);
    CHECK(t.shaped == 648 && t.shaped_accepted == 84, "sizes <= 8: %ld of %ld size-only probes accepted",
          t.shaped_accepted, t.shaped);
    tally t2 = {0, 0, 0, 0};
    lh = random_leaves(2 * 20 + 2, 5);
    mutate_all(lh, 20, &t2);
    free(lh);
    CHECK(t2.must == 29995 && t2.rejected == t2.must, "sizes <= 20: %ld of %ld mutated proofs rejected",
          t2.rejected, t2.must);
    CHECK(t2.shaped == 3780 && t2.shaped_accepted == 742, "sizes <= 20: %ld of %ld size-only probes accepted",
          t2.shaped_accepted, t2.shaped);
}

/* The documented example: leaf 0's proof in the tree of 3 leaves verifies as
 * a proof for size 4 against the size-3 root, and not against the size-4
 * root. */
static void merkle_size_not_bound_by_proof(void)
{
    ms_err e = {{0}};
    hash32 *lh = kat_leaves(8);
    hash32 p[MS_MERKLE_MAX_PROOF];
    size_t len = 0;
    unsigned char r3[32], r4[32];
    h32(kat_root_hex[3], r3);
    h32(kat_root_hex[4], r4);
    CHECK(ms_merkle_inclusion_proof((const unsigned char(*)[32])lh, 3, 0, p, &len, &e) == MS_OK, "%s", e.msg);
    CHECK(verify_incl(lh[0], 0, 3, p, len, r3) == MS_OK, "size 3");
    CHECK(verify_incl(lh[0], 0, 4, p, len, r3) == MS_OK, "size 4 against the size-3 root");
    CHECK(verify_incl(lh[0], 0, 4, p, len, r4) == MS_ECHECK, "size 4 against the size-4 root");
    free(lh);
}

/* ---- 4. the accumulator --------------------------------------------------------- */

static void merkle_accumulator_matches_root(void)
{
    enum { MAX = 1000 };
    ms_err e = {{0}};
    hash32 *lh = random_leaves(MAX, 42);
    ms_merkle_acc acc;
    ms_merkle_acc_init(&acc);
    int bad_root = 0, bad_layout = 0;
    for (uint64_t n = 0; n <= MAX; n++) {
        unsigned char a[32], b[32];
        CHECK(ms_merkle_acc_root(&acc, a, &e) == MS_OK, "%s", e.msg);
        CHECK(ms_merkle_root((const unsigned char(*)[32])lh, n, b, &e) == MS_OK, "%s", e.msg);
        bad_root += !heq(a, b);
        /* Layout: for each set bit 2^j of n, from the highest, the root of
         * the next 2^j leaves. */
        uint64_t off = 0;
        int k = 0;
        for (int j = 63; j >= 0; j--)
            if (n >> j & 1) {
                unsigned char want[32];
                naive_mth(lh + off, (uint64_t)1 << j, want);
                bad_layout += !heq(acc.stack[k++], want);
                off += (uint64_t)1 << j;
            }
        if (n < MAX)
            CHECK(ms_merkle_acc_push(&acc, lh[n], &e) == MS_OK, "%s", e.msg);
    }
    CHECK(bad_root == 0, "%d sizes where the accumulator root differs", bad_root);
    CHECK(bad_layout == 0, "%d compact-range entries differ", bad_layout);
    CHECK(acc.size == MAX, "size %llu", (unsigned long long)acc.size);
    /* A copy is independent (the struct holds no pointer). */
    ms_merkle_acc copy = acc;
    unsigned char r1[32], r2[32];
    CHECK(ms_merkle_acc_push(&copy, lh[0], &e) == MS_OK, "%s", e.msg);
    CHECK(ms_merkle_acc_root(&acc, r1, &e) == MS_OK && ms_merkle_acc_root(&copy, r2, &e) == MS_OK, "%s",
          e.msg);
    CHECK(!heq(r1, r2) && acc.size == MAX && copy.size == MAX + 1, "copy diverges");
    free(lh);
}

/* ---- bad arguments, limits, 64-bit sizes ------------------------------------------ */

static void merkle_bad_arguments(void)
{
    ms_err e = {{0}};
    hash32 lh[4], p[MS_MERKLE_MAX_PROOF];
    unsigned char out[32], want[32];
    for (int i = 0; i < 4; i++)
        naive_leaf(&i, sizeof i, lh[i]);
    const unsigned char(*L)[32] = (const unsigned char(*)[32])lh;
    size_t len;

    CHECK(ms_merkle_leaf_hash(NULL, 1, out, &e) == MS_EINPUT && strncmp(e.msg, "merkle: ", 8) == 0, "%s",
          e.msg);
    CHECK(ms_merkle_leaf_hash(NULL, 0, out, &e) == MS_OK, "NULL data of length 0");
    h32(kat_node_hex[0][0], want);
    CHECK(heq(out, want), "leaf hash of nothing");
    CHECK(ms_merkle_leaf_hash("x", 1, NULL, &e) == MS_EINPUT, "NULL out");
    CHECK(ms_merkle_node_hash(NULL, lh[0], out, &e) == MS_EINPUT, "NULL left");
    CHECK(ms_merkle_node_hash(lh[0], NULL, out, &e) == MS_EINPUT, "NULL right");
    CHECK(ms_merkle_node_hash(lh[0], lh[1], NULL, &e) == MS_EINPUT, "NULL out");
    CHECK(ms_merkle_root(NULL, 1, out, &e) == MS_EINPUT, "NULL leaves");
    CHECK(ms_merkle_root(L, 1, NULL, &e) == MS_EINPUT, "NULL root");
    CHECK(ms_merkle_root(NULL, 1, out, NULL) == MS_EINPUT, "e may be NULL");

    ms_merkle_acc acc;
    ms_merkle_acc_init(&acc);
    ms_merkle_acc_init(NULL);
    CHECK(ms_merkle_acc_push(NULL, lh[0], &e) == MS_EINPUT, "NULL accumulator");
    CHECK(ms_merkle_acc_push(&acc, NULL, &e) == MS_EINPUT && acc.size == 0, "NULL leaf");
    CHECK(ms_merkle_acc_root(NULL, out, &e) == MS_EINPUT, "NULL accumulator");
    CHECK(ms_merkle_acc_root(&acc, NULL, &e) == MS_EINPUT, "NULL root");
    /* A full accumulator refuses and stays as it was. */
    memset(&acc, 0x5a, sizeof acc);
    acc.size = UINT64_MAX;
    ms_merkle_acc before = acc;
    CHECK(ms_merkle_acc_push(&acc, lh[0], &e) == MS_EINPUT && memcmp(&acc, &before, sizeof acc) == 0,
          "full accumulator: %s", e.msg);

    len = 7;
    CHECK(ms_merkle_inclusion_proof(NULL, 4, 0, p, &len, &e) == MS_EINPUT && len == 0, "NULL leaves");
    CHECK(ms_merkle_inclusion_proof(L, 4, 0, NULL, &len, &e) == MS_EINPUT, "NULL proof");
    CHECK(ms_merkle_inclusion_proof(L, 4, 0, p, NULL, &e) == MS_EINPUT, "NULL len");
    const uint64_t bad_mn[4][2] = {{0, 0}, {4, 4}, {5, 4}, {UINT64_MAX, 4}};
    for (int i = 0; i < 4; i++) {
        len = 7;
        CHECK(ms_merkle_inclusion_proof(L, bad_mn[i][1], bad_mn[i][0], p, &len, &e) == MS_EINPUT && len == 0,
              "inclusion m %llu n %llu", (unsigned long long)bad_mn[i][0], (unsigned long long)bad_mn[i][1]);
    }
    const uint64_t bad_cons[4][2] = {{0, 4}, {0, 0}, {5, 4}, {UINT64_MAX, 4}};
    for (int i = 0; i < 4; i++) {
        len = 7;
        CHECK(ms_merkle_consistency_proof(L, bad_cons[i][1], bad_cons[i][0], p, &len, &e) == MS_EINPUT &&
                  len == 0,
              "consistency m %llu n %llu", (unsigned long long)bad_cons[i][0],
              (unsigned long long)bad_cons[i][1]);
    }
    CHECK(ms_merkle_consistency_proof(NULL, 4, 2, p, &len, &e) == MS_EINPUT, "NULL leaves");
    CHECK(ms_merkle_consistency_proof(L, 4, 2, NULL, &len, &e) == MS_EINPUT, "NULL proof");
    CHECK(ms_merkle_consistency_proof(L, 4, 2, p, NULL, &e) == MS_EINPUT, "NULL len");

    /* Verifiers: NULL inputs are MS_EINPUT, never MS_OK. */
    unsigned char r4[32];
    naive_mth(lh, 4, r4);
    CHECK(ms_merkle_inclusion_proof(L, 4, 1, p, &len, &e) == MS_OK && len == 2, "%s", e.msg);
    CHECK(ms_merkle_verify_inclusion(NULL, 1, 4, (const unsigned char(*)[32])p, len, r4, &e) == MS_EINPUT,
          "NULL leaf");
    CHECK(ms_merkle_verify_inclusion(lh[1], 1, 4, (const unsigned char(*)[32])p, len, NULL, &e) == MS_EINPUT,
          "NULL root");
    CHECK(ms_merkle_verify_inclusion(lh[1], 1, 4, NULL, len, r4, &e) == MS_EINPUT, "NULL proof, len 2");
    /* A huge len is rejected on length alone, before any read (1-hash array). */
    hash32 *one = exact_copy(p, 1);
    CHECK(ms_merkle_verify_inclusion(lh[1], 1, 4, (const unsigned char(*)[32])one, SIZE_MAX, r4, &e) ==
              MS_ECHECK,
          "len SIZE_MAX");
    CHECK(ms_merkle_verify_inclusion(lh[1], 1, 4, (const unsigned char(*)[32])one, MS_MERKLE_MAX_PROOF + 1,
                                     r4, &e) == MS_ECHECK,
          "len MAX + 1");
    unsigned char r2[32];
    naive_mth(lh, 2, r2);
    CHECK(ms_merkle_verify_consistency(2, 4, NULL, r4, (const unsigned char(*)[32])one, 1, &e) == MS_EINPUT,
          "NULL old root");
    CHECK(ms_merkle_verify_consistency(2, 4, r2, NULL, (const unsigned char(*)[32])one, 1, &e) == MS_EINPUT,
          "NULL new root");
    CHECK(ms_merkle_verify_consistency(2, 4, r2, r4, NULL, 1, &e) == MS_EINPUT, "NULL proof, len 1");
    CHECK(ms_merkle_verify_consistency(2, 4, r2, r4, (const unsigned char(*)[32])one, SIZE_MAX, &e) ==
              MS_ECHECK,
          "len SIZE_MAX");
    CHECK(ms_merkle_verify_consistency(0, 4, r2, r4, (const unsigned char(*)[32])one, 1, &e) == MS_ECHECK,
          "m == 0");
    CHECK(ms_merkle_verify_consistency(5, 4, r2, r4, (const unsigned char(*)[32])one, 1, &e) == MS_ECHECK,
          "m > n");
    CHECK(ms_merkle_verify_consistency(4, 4, r4, r4, NULL, 0, &e) == MS_OK, "m == n, same roots");
    CHECK(ms_merkle_verify_consistency(4, 4, r4, r4, (const unsigned char(*)[32])one, 1, &e) == MS_ECHECK,
          "m == n with a hash");
    free(one);
}

/* Sizes near 2^64, where no leaf array exists: proofs whose shape is known
 * from the definitions, built from arbitrary hashes. */
static void merkle_huge_sizes(void)
{
    hash32 p[65];
    for (int i = 0; i < 65; i++)
        naive_leaf(&i, sizeof i, p[i]);
    unsigned char leaf[32], root[32];
    naive_leaf("leaf", 4, leaf);
    const uint64_t two63 = (uint64_t)1 << 63;

    /* Leaf 2^63 of 2^63 + 1: one left sibling, the left half's root. */
    naive_node(p[0], leaf, root);
    CHECK(verify_incl(leaf, two63, two63 + 1, p, 1, root) == MS_OK, "leaf 2^63 of 2^63 + 1");
    CHECK(verify_incl(leaf, two63, two63 + 2, p, 1, root) == MS_ECHECK, "of 2^63 + 2");
    CHECK(verify_incl(leaf, two63, two63 + 1, p, 2, root) == MS_ECHECK, "2 hashes");

    /* The last leaf of 2^64 - 1: 63 left siblings (perfect subtrees of 2^1 ..
     * 2^63 leaves). */
    memcpy(root, leaf, 32);
    for (int i = 0; i < 63; i++)
        naive_node(p[i], root, root);
    CHECK(verify_incl(leaf, UINT64_MAX - 1, UINT64_MAX, p, 63, root) == MS_OK, "last leaf of 2^64 - 1");
    CHECK(verify_incl(leaf, UINT64_MAX - 1, UINT64_MAX, p, 62, root) == MS_ECHECK, "62 hashes");
    CHECK(verify_incl(leaf, UINT64_MAX - 1, UINT64_MAX, p, 64, root) == MS_ECHECK, "64 hashes");
    CHECK(verify_incl(leaf, UINT64_MAX, UINT64_MAX, p, 63, root) == MS_ECHECK, "m == n");

    /* Leaf 0 of 2^64 - 1: 64 right siblings. */
    memcpy(root, leaf, 32);
    for (int i = 0; i < 64; i++)
        naive_node(root, p[i], root);
    CHECK(verify_incl(leaf, 0, UINT64_MAX, p, 64, root) == MS_OK, "leaf 0 of 2^64 - 1");
    CHECK(verify_incl(leaf, 0, UINT64_MAX, p, 65, root) == MS_ECHECK, "65 hashes");

    /* Consistency 2^63 -> 2^63 + 1: the proof is the new leaf. */
    unsigned char old_root[32], new_root[32];
    memcpy(old_root, p[1], 32);
    naive_node(old_root, leaf, new_root);
    hash32 q[2];
    memcpy(q[0], leaf, 32);
    memcpy(q[1], leaf, 32);
    CHECK(verify_cons(two63, two63 + 1, old_root, new_root, q, 1) == MS_OK, "2^63 -> 2^63 + 1");
    CHECK(verify_cons(two63, two63 + 1, old_root, new_root, q, 2) == MS_ECHECK, "2 hashes");
    CHECK(verify_cons(two63, two63 + 1, old_root, new_root, q, 0) == MS_ECHECK, "no hash");
    flip(new_root, q[1]);
    CHECK(verify_cons(two63, two63 + 1, old_root, q[1], q, 1) == MS_ECHECK, "wrong new root");
    CHECK(verify_cons(two63 - 1, two63 + 1, old_root, new_root, q, 1) == MS_ECHECK, "2^63 - 1 ->");
    /* Same shape as 2^63 -> 2^64 - 1 (the proof is the right half's root):
     * the sizes are not bound by the proof (merkle.h). */
    CHECK(verify_cons(two63, UINT64_MAX, old_root, new_root, q, 1) == MS_OK, "2^63 -> 2^64 - 1");
}

/* A larger tree: the accumulator, root, and proofs around powers of two
 * match the naive twin and verify. */
static void merkle_large_tree(void)
{
    enum { N = 70001 }; /* crosses 2^16 */
    ms_err e = {{0}};
    hash32 *lh = random_leaves(N, 3);
    const unsigned char(*L)[32] = (const unsigned char(*)[32])lh;
    unsigned char root[32], via_acc[32], naive[32];
    ms_merkle_acc acc;
    ms_merkle_acc_init(&acc);
    for (uint64_t i = 0; i < N; i++)
        CHECK(ms_merkle_acc_push(&acc, lh[i], &e) == MS_OK, "%s", e.msg);
    CHECK(ms_merkle_root(L, N, root, &e) == MS_OK, "%s", e.msg);
    CHECK(ms_merkle_acc_root(&acc, via_acc, &e) == MS_OK, "%s", e.msg);
    naive_mth(lh, N, naive);
    CHECK(heq(root, naive) && heq(via_acc, naive), "root of %d leaves", N);
    static nproof want;
    hash32 p[MS_MERKLE_MAX_PROOF];
    size_t len;
    const uint64_t ms[4] = {0, 65535, 65536, N - 1};
    for (int i = 0; i < 4; i++) {
        CHECK(ms_merkle_inclusion_proof(L, N, ms[i], p, &len, &e) == MS_OK, "%s", e.msg);
        naive_inclusion(lh, N, ms[i], &want);
        CHECK(same_proof(p, len, &want) && verify_incl(lh[ms[i]], ms[i], N, p, len, root) == MS_OK,
              "inclusion of %llu", (unsigned long long)ms[i]);
    }
    const uint64_t olds[5] = {1, 65536, 65537, N - 1, N};
    for (int i = 0; i < 5; i++) {
        unsigned char old_root[32];
        naive_mth(lh, olds[i], old_root);
        CHECK(ms_merkle_consistency_proof(L, N, olds[i], p, &len, &e) == MS_OK, "%s", e.msg);
        naive_consistency(lh, N, olds[i], &want);
        CHECK(same_proof(p, len, &want) && verify_cons(olds[i], N, old_root, root, p, len) == MS_OK,
              "consistency from %llu", (unsigned long long)olds[i]);
    }
    free(lh);
}

void suite_merkle(void)
{
    RUN(merkle_kat_hashes);
    RUN(merkle_kat_roots_and_compact_ranges);
    RUN(merkle_kat_inclusion_proofs);
    RUN(merkle_kat_consistency_proofs);
    RUN(merkle_kat_verifier_probes);
    RUN(merkle_kat_proof_structure);
    RUN(merkle_kat_draft_subtree_vectors);
    RUN(merkle_twin_kat_leaves);
    RUN(merkle_twin_random_leaves);
    RUN(merkle_mutated_proofs_rejected);
    RUN(merkle_size_not_bound_by_proof);
    RUN(merkle_accumulator_matches_root);
    RUN(merkle_bad_arguments);
    RUN(merkle_huge_sizes);
    RUN(merkle_large_tree);
}
