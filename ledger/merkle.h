/* merkle.h — RFC 6962 / RFC 9162 §2.1 Merkle trees over leaf hashes.
 *
 * Hashes (SHA-256 through libcrypto's EVP interface, never hand-rolled):
 *   leaf hash  = SHA-256(0x00 || leaf data)
 *   node hash  = SHA-256(0x01 || left || right)        (left, right: 32 bytes)
 *   MTH({})    = SHA-256("")                           (the empty tree)
 *   MTH({d0})  = the leaf hash of d0
 *   MTH(D[n])  = node hash of MTH(D[0:k]) and MTH(D[k:n]), k the largest power
 *                of two smaller than n                  (n > 1)
 * Everything but ms_merkle_leaf_hash works on leaf hashes, so the module is
 * generic over what a leaf is. In marlsim the leaf data of leaf i is the
 * 32-byte hash of ledger entry i + 1 (ledger/canon.h); the caller hashes it
 * with ms_merkle_leaf_hash and passes the leaf hashes here.
 *
 * Proofs are arrays of 32-byte hashes in the order of RFC 9162: an inclusion
 * proof (§2.1.3.1, PATH) lists the siblings from the leaf up to the root; a
 * consistency proof (§2.1.4.1, PROOF/SUBPROOF) lists its nodes in SUBPROOF
 * order. An inclusion proof holds at most 64 hashes and a consistency proof
 * at most 65, for every uint64_t size; MS_MERKLE_MAX_PROOF bounds both, and a
 * proof array the caller passes to a generator must have room for
 * MS_MERKLE_MAX_PROOF hashes.
 *
 * Outcomes. Every function returning int returns MS_OK or a negative status
 * and, on failure, fills e (which may be NULL) with one sentence starting
 * "merkle: ":
 *   MS_EINPUT  a bad argument: a NULL pointer where data is needed, an index
 *              or size out of range for a generator, an accumulator full;
 *   MS_ECHECK  a verifier rejected the proof (wrong length, wrong hash, index
 *              or size out of range, roots that do not match);
 *   MS_EIO     libcrypto failed (it only can when memory is exhausted).
 * A verifier returns MS_OK only when the proof checks: callers treat every
 * other value as a rejection. On failure of a generator *len is 0 and the
 * contents of proof are unspecified; outputs (out, root) are written only on
 * success. Inputs and outputs may alias (out may be l or r).
 *
 * A verifier checks the proof's length against the one (m, n) implies before
 * reading any hash, so it never reads proof[len] or beyond (nor anything of a
 * proof of the wrong length), and its work is bounded by that length (at
 * most 64 node hashes for inclusion, 2 x 65 for consistency) whatever len
 * says.
 *
 * What a proof does not prove: tree nodes carry no size, so an inclusion or
 * consistency proof binds the root(s) it is checked against, not the size
 * argument. A proof that leaf m is in the tree of size n with root R also
 * verifies for another size n' whose path from leaf m has the same shape
 * (e.g. leaf 0 in sizes 3 and 4) against the same R. Authenticate the size
 * together with the root (a signed tree head), as RFC 9162 does.
 *
 * Ownership and memory: the module never keeps a pointer past a call. Its
 * only allocation is one libcrypto digest context per call that hashes (the
 * digest fetched once per call, the context reused for every node hash of
 * the call, both freed before it returns; ms_merkle_leaf_hash and
 * ms_merkle_node_hash go through ms_sha256_2, which does the same). Note
 * that OpenSSL 3.0 itself allocates and frees a small provider context on
 * every digest init, so each node hash costs one transient allocation inside
 * libcrypto; EVP offers no way around it. Working memory is O(log n): at
 * most 65 hashes on the C stack (about 2 KiB). No global state: calls on
 * different data may run concurrently.
 */
#ifndef MS_LEDGER_MERKLE_H
#define MS_LEDGER_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define MS_MERKLE_HASH 32
#define MS_MERKLE_MAX_PROOF 128 /* hashes in any inclusion or consistency proof for n < 2^63 */

/* out = SHA-256(0x00 || data[0..n)). data may be NULL only when n is 0.
 * MS_OK, MS_EINPUT (data or out NULL when needed) or MS_EIO. */
int ms_merkle_leaf_hash(const void *data, size_t n, unsigned char out[32], ms_err *e);

/* out = SHA-256(0x01 || l || r). MS_OK, MS_EINPUT (a NULL pointer) or MS_EIO. */
int ms_merkle_node_hash(const unsigned char l[32], const unsigned char r[32], unsigned char out[32],
                        ms_err *e);

/* root = MTH over the leaf hashes lh[0..n) (SHA-256("") when n is 0; lh may
 * then be NULL). n - 1 node hashes, O(log n) memory. MS_OK, MS_EINPUT (lh
 * NULL with n > 0, root NULL) or MS_EIO. */
int ms_merkle_root(const unsigned char (*lh)[32], uint64_t n, unsigned char root[32], ms_err *e);

/* Incremental "compact range" of the leaves [0, size): push leaf hashes one
 * by one, ask for the root at any time. stack[0 .. popcount(size)) holds the
 * roots of the perfect subtrees that make up [0, size), largest (leftmost)
 * first: for each set bit 2^j of size, from the highest, the root of the
 * next 2^j leaves. Memory is the struct (2 KiB); a push costs amortised one
 * node hash (at most 63, the number of trailing one bits of size), the root
 * popcount(size) - 1. Initialise with ms_merkle_acc_init before use; the
 * struct holds no pointer and may be copied. */
typedef struct ms_merkle_acc {
    uint64_t size;
    unsigned char stack[64][32];
} ms_merkle_acc;

/* An empty accumulator (size 0); a NULL a is ignored. */
void ms_merkle_acc_init(ms_merkle_acc *a);
/* Appends leaf_hash as leaf a->size. MS_OK, MS_EINPUT (a or leaf_hash NULL,
 * or a->size is UINT64_MAX: the tree is full) or MS_EIO. On failure a is
 * unchanged. */
int ms_merkle_acc_push(ms_merkle_acc *a, const unsigned char leaf_hash[32], ms_err *e);
/* root = MTH of the leaves pushed so far (equal to ms_merkle_root over the
 * same leaf hashes). MS_OK, MS_EINPUT (a NULL pointer) or MS_EIO. */
int ms_merkle_acc_root(const ms_merkle_acc *a, unsigned char root[32], ms_err *e);

/* Inclusion proof (RFC 9162 §2.1.3.1) of leaf m in the tree of the first n
 * leaf hashes, 0 <= m < n: writes *len hashes (0 for n == 1, at most 64) to
 * proof. Reads lh[0..n) only. Costs fewer than n node hashes (the siblings
 * are roots of disjoint subtrees), O(log n) memory, no allocation beyond the
 * digest context. MS_OK, MS_EINPUT (m >= n, a NULL pointer) or MS_EIO. */
int ms_merkle_inclusion_proof(const unsigned char (*lh)[32], uint64_t n, uint64_t m,
                              unsigned char (*proof)[32], size_t *len, ms_err *e);

/* Verification (RFC 9162 §2.1.3.2): MS_OK when the len hashes of proof lead
 * from leaf_hash at index m of a tree of size n to root; MS_ECHECK otherwise
 * (m >= n, len not the length (m, n) implies, a hash that does not lead to
 * root). proof may be NULL when len is 0. MS_EINPUT: leaf_hash or root NULL,
 * or proof NULL with len > 0. MS_EIO: libcrypto failed. At most 64 node
 * hashes. Never reads past proof[len - 1]. */
int ms_merkle_verify_inclusion(const unsigned char leaf_hash[32], uint64_t m, uint64_t n,
                               const unsigned char (*proof)[32], size_t len, const unsigned char root[32],
                               ms_err *e);

/* Consistency proof (RFC 9162 §2.1.4.1) between the tree of the first m leaf
 * hashes and the tree of the first n, 0 < m <= n: writes *len hashes (0 when
 * m == n, at most 65) to proof. Reads lh[0..n) only. Costs fewer than n node
 * hashes, O(log n) memory. MS_OK, MS_EINPUT (m == 0, m > n, a NULL pointer)
 * or MS_EIO. */
int ms_merkle_consistency_proof(const unsigned char (*lh)[32], uint64_t n, uint64_t m,
                                unsigned char (*proof)[32], size_t *len, ms_err *e);

/* Verification (RFC 9162 §2.1.4.2): MS_OK iff the len hashes of proof show
 * that root_m, the root of a tree of size m, is the root of the first m leaves
 * of the tree of size n with root root_n. For m == n: MS_OK iff len is 0 and
 * root_m equals root_n. MS_ECHECK otherwise, including m == 0, m > n and a len
 * other than the one (m, n) implies. proof may be NULL when len is 0.
 * MS_EINPUT: root_m or root_n NULL, or proof NULL with len > 0. MS_EIO:
 * libcrypto failed. At most 2 x 65 node hashes. Never reads past
 * proof[len - 1]. */
int ms_merkle_verify_consistency(uint64_t m, uint64_t n, const unsigned char root_m[32],
                                 const unsigned char root_n[32], const unsigned char (*proof)[32],
                                 size_t len, ms_err *e);

#endif
