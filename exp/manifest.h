/* manifest.h — the manifest of a run split across processes (SPEC §11):
 * one file, written by rank 0, that binds the shard lakes of all ranks
 * under one Merkle root, and its check.
 *
 * Names. A run whose output path is BASE.db (or BASE without ".db") has
 * shards BASE.rank-K-of-N.db (K = 0 .. N-1, one per process, each an
 * ordinary lake that verifies on its own) and the manifest BASE.manifest,
 * all in one directory: the manifest names no path, each shard's path is
 * derived from the manifest's own (so a manifest cannot point a verifier
 * at another file).
 *
 * Shard identity. Shard K of N of run R (R = the run id a one-process run
 * of the same config and keys has, experiment.h) has the run id
 * manifest_shard_id(R, K, N) = the first 128 bits (hex) of
 * SHA-256("marlsim-shard-v1|" R "|" K "|" N); it is bound into the shard's
 * chain (its first entry and genesis) and its checkpoints' origin
 * marlsim/<shard id>, so a shard moved to another rank's name or another
 * run's is caught.
 *
 * Text (a signed note, ledger/note.h, signed by the run's keyring key like
 * the lakes' checkpoints; a development-key run's manifest is the text
 * alone, unsigned), one item a line:
 *   marlsim-manifest v1
 *   run R
 *   ranks N
 *   config <config SHA-256, hex>
 *   status completed | interrupted     (every shard's status)
 *   env_steps E                        (the run's, all ranks)
 *   root <base64 of the Merkle root>
 *   shard K SIZE ROOT                  (K = 0 .. N-1 in order: the shard's
 *                                       ledger entries and the RFC 6962 root
 *                                       over them, base64: its final
 *                                       checkpoint's size and root)
 * The root is the RFC 6962 Merkle tree head (ledger/merkle.h) over N leaves,
 * leaf K = SHA-256(0x00 || shard line K, its '\n' included).
 * At most MS_MANIFEST_MAX_RANKS shards (the note's 64 KiB).
 *
 * Library code: returns a status, fills ms_err, prints nothing.
 */
#ifndef MS_EXP_MANIFEST_H
#define MS_EXP_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "ledger/note.h"

enum { MS_MANIFEST_MAX_RANKS = 512 };

/* What one shard's finished lake says: its ledger's size and root. */
typedef struct manifest_shard {
    int64_t size;
    unsigned char root[32];
} manifest_shard;

/* The shard id (33 bytes with the NUL) of rank of ranks of run run_id. */
int manifest_shard_id(const char *run_id, int rank, int ranks, char out[33], ms_err *e);

/* BASE of an output path (out without a final ".db") into base. MS_EINPUT
 * when it does not fit. */
int manifest_base(const char *out, char *base, size_t n, ms_err *e);
/* BASE.rank-K-of-N.db and BASE.manifest. */
void manifest_shard_path(const char *base, int rank, int ranks, char *path, size_t n);
void manifest_path(const char *base, char *path, size_t n);
/* 1 when path ends in ".manifest" (then its BASE goes to base). */
int manifest_is_manifest(const char *path, char *base, size_t n);

/* Writes the manifest atomically (base/file.h) at path: signed by signer,
 * or unsigned when signer is NULL (development key); its root (base64)
 * into root_b64. MS_OK; MS_EINPUT for
 * more shards than fit; MS_EIO from the signer or the file system. */
int manifest_write(const char *path, const char *run_id, const char *config_sha256, const char *status,
                   int64_t env_steps, int ranks, const manifest_shard *shards, const ms_note_signer *signer,
                   char root_b64[64], ms_err *e);

typedef struct manifest_report {
    char run_id[33], config_sha256[65], status[16], root[64];
    int ranks;
    int64_t env_steps;
    int authenticated;       /* signed by the trusted key, and every shard too */
    int signed_;             /* the manifest carries a signature */
    int64_t entries, rows;   /* over all shards */
    int bad_shard;           /* on MS_ECHECK: the shard implicated (-1: the manifest) */
    char word[16];           /* on MS_ECHECK: TAMPERED, MISSING, SWAPPED, FOREIGN,
                                INCOMPLETE or UNSIGNED */
} manifest_report;

/* The manifest alone: the first step of manifest_verify (its text and root,
 * and its signature when trusted is not NULL), rep filled but for the
 * shards' counts; the same outcomes. */
int manifest_open(const char *path, const ms_note_verifier *trusted, manifest_report *rep, ms_err *e);

/* Checks the manifest at path and every shard it binds:
 *   - the manifest: at most 64 KiB, the text above exactly (lines in order,
 *     N shard lines in rank order), its root recomputed from the shard
 *     lines; with trusted: signed by that key (an unsigned or otherwise
 *     signed manifest fails: UNSIGNED / FOREIGN); without: the signature is
 *     not checked and authenticated = 0;
 *   - every shard K: present (MISSING), verifying (ledger/verify.h
 *     lake_verify with trusted: TAMPERED, FOREIGN, UNSIGNED as for a
 *     lake), its run id the shard id of (R, K, N) (SWAPPED otherwise), its
 *     ledger of exactly SIZE entries whose root is ROOT (TAMPERED), its
 *     config hash the manifest's and its status the manifest's.
 * Returns MS_OK (rep filled), MS_ECHECK with rep->word, rep->bad_shard and
 * one sentence in e, MS_EINPUT when path is not a readable manifest (not
 * found, too large, not one: nothing to check), MS_EIO on a read failure. */
int manifest_verify(const char *path, const ms_note_verifier *trusted, manifest_report *rep, ms_err *e);

#endif
