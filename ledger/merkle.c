#include "ledger/merkle.h"

#include <string.h>

#include <openssl/evp.h>

#include "base/hash.h"

/* ---- hashing ------------------------------------------------------------ */

/* A SHA-256 context reused for every node hash of one call (digest fetched
 * once per call). */
typedef struct mk_hasher {
    EVP_MD *md;
    EVP_MD_CTX *ctx;
} mk_hasher;

static void mk_release(mk_hasher *h)
{
    EVP_MD_CTX_free(h->ctx);
    EVP_MD_free(h->md);
    h->ctx = NULL;
    h->md = NULL;
}

static int mk_init(mk_hasher *h, ms_err *e)
{
    h->md = EVP_MD_fetch(NULL, "SHA256", NULL);
    h->ctx = EVP_MD_CTX_new();
    if (!h->md || !h->ctx) {
        mk_release(h);
        return ms_fail(e, MS_EIO, "merkle: libcrypto could not provide SHA-256");
    }
    return MS_OK;
}

/* out = SHA-256(0x01 || l || r); out may alias l or r. */
static int mk_node(mk_hasher *h, const unsigned char l[32], const unsigned char r[32],
                   unsigned char out[32], ms_err *e)
{
    unsigned char buf[1 + 2 * MS_MERKLE_HASH];
    unsigned int n = 0;
    buf[0] = 0x01;
    memcpy(buf + 1, l, MS_MERKLE_HASH);
    memcpy(buf + 1 + MS_MERKLE_HASH, r, MS_MERKLE_HASH);
    if (EVP_DigestInit_ex(h->ctx, h->md, NULL) != 1 || EVP_DigestUpdate(h->ctx, buf, sizeof buf) != 1 ||
        EVP_DigestFinal_ex(h->ctx, out, &n) != 1 || n != MS_MERKLE_HASH)
        return ms_fail(e, MS_EIO, "merkle: SHA-256 failed");
    return MS_OK;
}

static int empty_root(unsigned char out[32], ms_err *e)
{
    return ms_sha256("", 0, out, e);
}

int ms_merkle_leaf_hash(const void *data, size_t n, unsigned char out[32], ms_err *e)
{
    static const unsigned char prefix = 0x00;
    if ((!data && n) || !out)
        return ms_fail(e, MS_EINPUT, "merkle: leaf hash of a NULL buffer");
    return ms_sha256_2(&prefix, 1, data, n, out, e);
}

int ms_merkle_node_hash(const unsigned char l[32], const unsigned char r[32], unsigned char out[32],
                        ms_err *e)
{
    static const unsigned char prefix = 0x01;
    unsigned char lr[2 * MS_MERKLE_HASH];
    if (!l || !r || !out)
        return ms_fail(e, MS_EINPUT, "merkle: node hash of a NULL hash");
    memcpy(lr, l, MS_MERKLE_HASH);
    memcpy(lr + MS_MERKLE_HASH, r, MS_MERKLE_HASH);
    return ms_sha256_2(&prefix, 1, lr, sizeof lr, out, e);
}

/* ---- tree arithmetic ---------------------------------------------------- */

/* The largest power of two smaller than n (n >= 2): RFC 6962's split. */
static uint64_t split_point(uint64_t n)
{
    return (uint64_t)1 << (63 - __builtin_clzll(n - 1));
}

static int popcount64(uint64_t x)
{
    return __builtin_popcountll(x);
}

/* ---- the compact range -------------------------------------------------- */

void ms_merkle_acc_init(ms_merkle_acc *a)
{
    if (a)
        memset(a, 0, sizeof *a);
}

/* Merges leaf into a: one node hash per trailing one bit of a->size. Writes
 * a only once every hash has succeeded. */
static int acc_push_h(ms_merkle_acc *a, mk_hasher *h, const unsigned char leaf[32], ms_err *e)
{
    if (a->size == UINT64_MAX)
        return ms_fail(e, MS_EINPUT, "merkle: the tree is full (2^64 - 1 leaves)");
    unsigned char cur[MS_MERKLE_HASH];
    memcpy(cur, leaf, MS_MERKLE_HASH);
    int k = popcount64(a->size);
    for (uint64_t t = a->size; t & 1; t >>= 1) {
        k--;
        int rc = mk_node(h, a->stack[k], cur, cur, e);
        if (rc)
            return rc;
    }
    memcpy(a->stack[k], cur, MS_MERKLE_HASH);
    a->size++;
    return MS_OK;
}

/* Folds the perfect subtrees right to left: popcount(size) - 1 node hashes. */
static int acc_root_h(const ms_merkle_acc *a, mk_hasher *h, unsigned char root[32], ms_err *e)
{
    if (a->size == 0)
        return empty_root(root, e);
    int top = popcount64(a->size);
    unsigned char cur[MS_MERKLE_HASH];
    memcpy(cur, a->stack[top - 1], MS_MERKLE_HASH);
    for (int j = top - 2; j >= 0; j--) {
        int rc = mk_node(h, a->stack[j], cur, cur, e);
        if (rc)
            return rc;
    }
    memcpy(root, cur, MS_MERKLE_HASH);
    return MS_OK;
}

int ms_merkle_acc_push(ms_merkle_acc *a, const unsigned char leaf_hash[32], ms_err *e)
{
    if (!a || !leaf_hash)
        return ms_fail(e, MS_EINPUT, "merkle: push with a NULL accumulator or leaf hash");
    if (a->size == UINT64_MAX)
        return ms_fail(e, MS_EINPUT, "merkle: the tree is full (2^64 - 1 leaves)");
    if (!(a->size & 1)) { /* even size: no merge, nothing to hash */
        memcpy(a->stack[popcount64(a->size)], leaf_hash, MS_MERKLE_HASH);
        a->size++;
        return MS_OK;
    }
    mk_hasher h;
    int rc = mk_init(&h, e);
    if (rc)
        return rc;
    rc = acc_push_h(a, &h, leaf_hash, e);
    mk_release(&h);
    return rc;
}

int ms_merkle_acc_root(const ms_merkle_acc *a, unsigned char root[32], ms_err *e)
{
    if (!a || !root)
        return ms_fail(e, MS_EINPUT, "merkle: root of a NULL accumulator");
    if (popcount64(a->size) <= 1) { /* empty or one perfect subtree */
        if (a->size)
            memcpy(root, a->stack[0], MS_MERKLE_HASH);
        return a->size ? MS_OK : empty_root(root, e);
    }
    mk_hasher h;
    int rc = mk_init(&h, e);
    if (rc)
        return rc;
    rc = acc_root_h(a, &h, root, e);
    mk_release(&h);
    return rc;
}

/* MTH(lh[0..n)) for n >= 1: n - 1 node hashes, the 2 KiB accumulator as
 * working memory. */
static int range_root(mk_hasher *h, const unsigned char (*lh)[32], uint64_t n, unsigned char out[32],
                      ms_err *e)
{
    if (n == 1) {
        memcpy(out, lh[0], MS_MERKLE_HASH);
        return MS_OK;
    }
    ms_merkle_acc a;
    a.size = 0;
    for (uint64_t i = 0; i < n; i++) {
        int rc = acc_push_h(&a, h, lh[i], e);
        if (rc)
            return rc;
    }
    return acc_root_h(&a, h, out, e);
}

int ms_merkle_root(const unsigned char (*lh)[32], uint64_t n, unsigned char root[32], ms_err *e)
{
    if (!root || (!lh && n))
        return ms_fail(e, MS_EINPUT, "merkle: root of a NULL array");
    if (n == 0)
        return empty_root(root, e);
    mk_hasher h;
    int rc = mk_init(&h, e);
    if (rc)
        return rc;
    rc = range_root(&h, lh, n, root, e);
    mk_release(&h);
    return rc;
}

/* ---- inclusion proofs --------------------------------------------------- */

/* PATH(m, D[n]) descends from the root: at a subtree of `size` leaves split
 * at k, the sibling of the half holding m is one proof hash. The recursion
 * emits the deepest sibling first, so the descent fills the proof from its
 * end. */
static size_t path_len(uint64_t m, uint64_t n)
{
    size_t d = 0;
    for (uint64_t size = n; size > 1; d++) {
        uint64_t k = split_point(size);
        if (m < k) {
            size = k;
        } else {
            m -= k;
            size -= k;
        }
    }
    return d;
}

int ms_merkle_inclusion_proof(const unsigned char (*lh)[32], uint64_t n, uint64_t m,
                              unsigned char (*proof)[32], size_t *len, ms_err *e)
{
    if (len)
        *len = 0;
    if (!lh || !proof || !len)
        return ms_fail(e, MS_EINPUT, "merkle: inclusion proof with a NULL argument");
    if (m >= n)
        return ms_fail(e, MS_EINPUT, "merkle: no leaf %llu in a tree of %llu leaves",
                       (unsigned long long)m, (unsigned long long)n);
    size_t d = path_len(m, n);
    if (d == 0) /* n == 1 */
        return MS_OK;
    mk_hasher h;
    int rc = mk_init(&h, e);
    if (rc)
        return rc;
    uint64_t off = 0, size = n;
    for (size_t idx = d; size > 1 && !rc;) {
        uint64_t k = split_point(size);
        idx--;
        if (m < k) {
            rc = range_root(&h, lh + off + k, size - k, proof[idx], e);
            size = k;
        } else {
            rc = range_root(&h, lh + off, k, proof[idx], e);
            off += k;
            m -= k;
            size -= k;
        }
    }
    mk_release(&h);
    if (!rc)
        *len = d;
    return rc;
}

/* The verifier's walk (RFC 9162 §2.1.3.2) over the bits of m and n - 1.
 * With h NULL it only counts the proof hashes it would consume. */
static int inclusion_walk(mk_hasher *h, uint64_t m, uint64_t n, const unsigned char (*proof)[32],
                          size_t len, unsigned char r[32], size_t *steps, ms_err *e)
{
    uint64_t fn = m, sn = n - 1;
    size_t i = 0;
    for (; h ? i < len : sn != 0; i++) {
        if (sn == 0)
            return MS_ECHECK; /* unreachable once the length matched */
        int rc = MS_OK;
        if ((fn & 1) || fn == sn) {
            if (h)
                rc = mk_node(h, proof[i], r, r, e);
            if (!(fn & 1))
                while (!(fn & 1) && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
        } else if (h) {
            rc = mk_node(h, r, proof[i], r, e);
        }
        if (rc)
            return rc;
        fn >>= 1;
        sn >>= 1;
    }
    if (steps)
        *steps = i;
    return sn == 0 ? MS_OK : MS_ECHECK;
}

int ms_merkle_verify_inclusion(const unsigned char leaf_hash[32], uint64_t m, uint64_t n,
                               const unsigned char (*proof)[32], size_t len, const unsigned char root[32],
                               ms_err *e)
{
    if (!leaf_hash || !root || (!proof && len))
        return ms_fail(e, MS_EINPUT, "merkle: inclusion check with a NULL argument");
    if (m >= n)
        return ms_fail(e, MS_ECHECK, "merkle: inclusion proof for leaf %llu of a tree of %llu leaves",
                       (unsigned long long)m, (unsigned long long)n);
    size_t want = 0;
    inclusion_walk(NULL, m, n, NULL, 0, NULL, &want, e);
    if (len != want)
        return ms_fail(e, MS_ECHECK,
                       "merkle: inclusion proof has %zu hashes; leaf %llu of %llu leaves needs %zu", len,
                       (unsigned long long)m, (unsigned long long)n, want);
    unsigned char r[MS_MERKLE_HASH];
    memcpy(r, leaf_hash, MS_MERKLE_HASH);
    int rc = MS_OK;
    if (len) {
        mk_hasher h;
        rc = mk_init(&h, e);
        if (rc)
            return rc;
        rc = inclusion_walk(&h, m, n, proof, len, r, NULL, e);
        mk_release(&h);
    }
    if (rc == MS_ECHECK || (!rc && memcmp(r, root, MS_MERKLE_HASH) != 0))
        return ms_fail(e, MS_ECHECK,
                       "merkle: inclusion proof for leaf %llu of %llu leaves does not lead to the root",
                       (unsigned long long)m, (unsigned long long)n);
    return rc;
}

/* ---- consistency proofs ------------------------------------------------- */

/* SUBPROOF(m, D[n], true) descends from the root: at a subtree of `size`
 * leaves split at k, m <= k goes left (the right subtree is a proof hash),
 * m > k goes right (the left subtree is a proof hash, and the old tree is no
 * longer a whole subtree: b turns false). Where m == size the descent stops;
 * with b false that subtree's root leads the proof. Deepest hash first, as
 * for PATH. */
static size_t subproof_len(uint64_t m, uint64_t n, int *seed)
{
    size_t d = 0;
    int b = 1;
    for (uint64_t size = n; m != size; d++) {
        uint64_t k = split_point(size);
        if (m <= k) {
            size = k;
        } else {
            m -= k;
            size -= k;
            b = 0;
        }
    }
    *seed = !b;
    return d + (size_t)!b;
}

int ms_merkle_consistency_proof(const unsigned char (*lh)[32], uint64_t n, uint64_t m,
                                unsigned char (*proof)[32], size_t *len, ms_err *e)
{
    if (len)
        *len = 0;
    if (!lh || !proof || !len)
        return ms_fail(e, MS_EINPUT, "merkle: consistency proof with a NULL argument");
    if (m == 0 || m > n)
        return ms_fail(e, MS_EINPUT,
                       "merkle: no consistency proof from %llu to %llu leaves (need 0 < m <= n)",
                       (unsigned long long)m, (unsigned long long)n);
    int seed;
    size_t total = subproof_len(m, n, &seed);
    if (total == 0) /* m == n */
        return MS_OK;
    mk_hasher h;
    int rc = mk_init(&h, e);
    if (rc)
        return rc;
    uint64_t off = 0, size = n;
    size_t idx = total;
    while (m != size && !rc) {
        uint64_t k = split_point(size);
        idx--;
        if (m <= k) {
            rc = range_root(&h, lh + off + k, size - k, proof[idx], e);
            size = k;
        } else {
            rc = range_root(&h, lh + off, k, proof[idx], e);
            off += k;
            m -= k;
            size -= k;
        }
    }
    if (!rc && seed)
        rc = range_root(&h, lh + off, size, proof[0], e);
    mk_release(&h);
    if (!rc)
        *len = total;
    return rc;
}

/* The verifier's walk (RFC 9162 §2.1.4.2, steps 3-6) over the path
 * c[0..plen), where c[0] is root_m when m is a power of two (the "prepended"
 * first hash) and otherwise proof[0], and c[i] is proof[i - lead] after it.
 * With h NULL it only counts the path entries after the first that it would
 * consume. */
static int consistency_walk(mk_hasher *h, uint64_t m, uint64_t n, const unsigned char root_m[32],
                            const unsigned char (*proof)[32], size_t lead, size_t plen,
                            unsigned char fr[32], unsigned char sr[32], size_t *steps, ms_err *e)
{
    uint64_t fn = m - 1, sn = n - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    if (h) {
        const unsigned char *c0 = lead ? root_m : proof[0];
        memcpy(fr, c0, MS_MERKLE_HASH);
        memcpy(sr, c0, MS_MERKLE_HASH);
    }
    size_t i = 1;
    for (; h ? i < plen : sn != 0; i++) {
        if (sn == 0)
            return MS_ECHECK; /* unreachable once the length matched */
        int rc = MS_OK;
        if ((fn & 1) || fn == sn) {
            if (h) {
                const unsigned char *c = proof[i - lead];
                rc = mk_node(h, c, fr, fr, e);
                if (!rc)
                    rc = mk_node(h, c, sr, sr, e);
            }
            if (!(fn & 1))
                while (!(fn & 1) && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
        } else if (h) {
            rc = mk_node(h, sr, proof[i - lead], sr, e);
        }
        if (rc)
            return rc;
        fn >>= 1;
        sn >>= 1;
    }
    if (steps)
        *steps = i - 1;
    return sn == 0 ? MS_OK : MS_ECHECK;
}

int ms_merkle_verify_consistency(uint64_t m, uint64_t n, const unsigned char root_m[32],
                                 const unsigned char root_n[32], const unsigned char (*proof)[32],
                                 size_t len, ms_err *e)
{
    if (!root_m || !root_n || (!proof && len))
        return ms_fail(e, MS_EINPUT, "merkle: consistency check with a NULL argument");
    if (m == 0 || m > n)
        return ms_fail(e, MS_ECHECK, "merkle: no consistency proof from %llu to %llu leaves",
                       (unsigned long long)m, (unsigned long long)n);
    if (m == n) {
        if (len != 0)
            return ms_fail(e, MS_ECHECK, "merkle: consistency proof between equal sizes must be empty");
        if (memcmp(root_m, root_n, MS_MERKLE_HASH) != 0)
            return ms_fail(e, MS_ECHECK, "merkle: trees of %llu leaves with different roots",
                           (unsigned long long)m);
        return MS_OK;
    }
    size_t lead = (m & (m - 1)) == 0; /* m a power of two: root_m is c[0] */
    size_t steps = 0;
    consistency_walk(NULL, m, n, NULL, NULL, lead, 0, NULL, NULL, &steps, e);
    size_t want = steps + 1 - lead;
    if (len != want)
        return ms_fail(e, MS_ECHECK,
                       "merkle: consistency proof has %zu hashes; %llu to %llu leaves needs %zu", len,
                       (unsigned long long)m, (unsigned long long)n, want);
    unsigned char fr[MS_MERKLE_HASH], sr[MS_MERKLE_HASH];
    mk_hasher h;
    int rc = mk_init(&h, e);
    if (rc)
        return rc;
    rc = consistency_walk(&h, m, n, root_m, proof, lead, len + lead, fr, sr, NULL, e);
    mk_release(&h);
    if (rc == MS_ECHECK ||
        (!rc && (memcmp(fr, root_m, MS_MERKLE_HASH) != 0 || memcmp(sr, root_n, MS_MERKLE_HASH) != 0)))
        return ms_fail(e, MS_ECHECK,
                       "merkle: consistency proof from %llu to %llu leaves does not lead to the roots",
                       (unsigned long long)m, (unsigned long long)n);
    return rc;
}
