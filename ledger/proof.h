/* proof.h — RFC 6962 proofs over a lake's ledger, as text an auditor can
 * keep and check elsewhere (SPEC §2 prove).
 *
 * Leaves are the ledger's entries in seq order: leaf i (from 0, as in RFC
 * 6962) is entry seq i + 1, and its leaf hash is SHA-256(0x00 || the
 * entry's hash). Proofs are computed from a verified lake (lake_verify with
 * the caller's options, in the same read snapshot), so they prove what the
 * verified chain holds.
 *
 * Text format (lines "key value", in this order; hashes in standard base64):
 *   marlsim inclusion proof v1          marlsim consistency proof v1
 *   origin marlsim/<run id>             origin marlsim/<run id>
 *   tree_size N                         old_size N1
 *   leaf_index I                        old_root <base64>
 *   entry_hash <base64>                 new_size N2
 *   root <base64>                       new_root <base64>
 *   path <base64>   (0 or more lines)   path <base64>   (0 or more lines)
 *
 * Outcomes: MS_OK; the lake_verify outcomes; MS_EINPUT for an index or size
 * outside the ledger (the message says what the lake holds), or a proof text
 * that is not in the format; MS_ECHECK when a proof does not check out, or
 * does not match the checkpoint it is checked against.
 */
#ifndef MS_LEDGER_PROOF_H
#define MS_LEDGER_PROOF_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/note.h"
#include "ledger/verify.h"

/* Inclusion proof of leaf `index` in the tree of size `size` (0: the
 * newest checkpoint's size when it covers the leaf, else the whole ledger).
 * *text is malloc'd (caller frees). */
int lake_prove_inclusion(const char *path, const lake_verify_opts *o, int64_t index, int64_t size, char **text,
                         ms_err *e);

/* Consistency proof between the trees of sizes from and to, 0 < from <= to
 * <= entries. */
int lake_prove_consistency(const char *path, const lake_verify_opts *o, int64_t from, int64_t to, char **text,
                           ms_err *e);

typedef struct lake_proof_info {
    int consistency;          /* 0 inclusion, 1 consistency */
    char origin[256];
    int64_t size, index;      /* inclusion: tree size, leaf index */
    int64_t old_size;         /* consistency: new size in size */
    char root[64];            /* the (new) root, base64 */
} lake_proof_info;

/* Checks a proof text on its own (the path leads to the root it states).
 * With cp (a checkpoint body opened with a trusted key, ledger/note.h), also
 * that the proof is about that checkpoint: same origin, and its tree size
 * and root are the proof's (inclusion) or its new or old tree (consistency). */
int lake_proof_check(const char *text, size_t n, const ms_checkpoint *cp, lake_proof_info *info, ms_err *e);

#endif
