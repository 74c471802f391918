/* canon.h — canonical bytes and hashes of the ledger chain (a contract).
 *
 * The writer (lake.c) hashes the values it binds; the verifier (verify.c)
 * hashes the values it reads back from SQLite; both go through the functions
 * below, so a row hashes the same on both sides iff SQLite returned exactly
 * what was bound. Every hash is SHA-256 through libcrypto's EVP interface.
 * All integers are big-endian; "u32"/"u64"/"i64" are 4/8/8-byte fields
 * (i64 is two's complement).
 *
 * Value encoding (one column value):
 *   NULL     0x00
 *   INTEGER  0x01 || i64
 *   REAL     0x02 || IEEE-754 binary64 bits as u64 (-0.0 is encoded as +0.0;
 *            NaN and infinities are never encoded: the writer rejects them)
 *   TEXT     0x03 || u32 byte length || the bytes (no terminator)
 *   BLOB     0x04 || u32 byte length || the bytes
 * The tag is the value's own storage type, not the column's declared type.
 *
 * Row bytes: the encodings of every column of the table, in schema order
 * (ledger/schema.h); the rowid is not part of it.
 *
 * Genesis (the hash "before" the first entry):
 *   SHA-256( "marlsim-ledger-v1" (17 ASCII bytes)
 *            || u32 len || run_id || u32 len || config_text
 *            || SHA-256(config_text) (32 raw bytes) || u64 seed )
 *
 * Entry header (ledger entry number seq, covering n_rows rows of table tbl
 * with rowids first_rowid .. first_rowid + n_rows - 1):
 *   u64 seq || u32 len || tbl || i64 step || i64 first_rowid
 *   || u32 n_rows || u32 ncols
 *
 * Rows of an entry, in rowid order:  for each row: u32 length || row bytes.
 *
 * Entry hash:
 *   hash_seq = SHA-256( hash_{seq-1} (32 bytes; genesis for seq 1)
 *                       || entry header || body )
 *   body = for an entry of an event table, its commitment (32 bytes):
 *            SHA-256( salt (32 bytes) || the rows of the entry ) for every
 *            table a purge or an export may empty (lk_table_salted; schema
 *            v4: every class), SHA-256( the rows of the entry ) for the
 *            purges' own tombstones and purges entries;
 *          for an entry over the runs row, the row's bytes themselves.
 *          The commitment is stored in ledger.commitment and the salt in
 *          salts, so verify needs no key to check an unpurged entry (it
 *          re-derives the commitment from salt and rows) and, once a purge
 *          has removed an entry's rows (and salt), the chain still checks
 *          through the stored commitment, while a purged payload of any
 *          class cannot be recovered by hashing guesses without its salt.
 *   salt   = HMAC-SHA256( commitment key of the keyring,
 *                         "marlsim-salt-v1" (15 bytes) || u32 len || run_id
 *                         || u64 seq ) — deterministic, so a reproduction
 *          with the same keyring is byte-identical; never derivable from the
 *          lake.
 * The head is the hash of the last entry (the genesis when there is none).
 *
 * Purges (ledger/lifecycle.h) append entries of the event tables tombstones
 * and purges, in the same layout, after every entry of the run (the seal
 * included); their step label is the largest step label of the lake's event
 * entries. An entry whose rows a purge removed keeps its ledger row: its
 * stored commitment is then the body the chain checks.
 *
 * Entries over the runs row (lk_runs_entries, ledger/schema.h): tbl is
 * "runs.identity" (seq 1: run_id, name, seed, config_sha256, version,
 * key_ids, dev_key), "runs.build" (seq 2: build_facts) or "runs.seal" (the
 * last entry of a completed run: status, env_steps, eval_reward_per_step),
 * first_rowid = the runs row's rowid (1), n_rows = 1, ncols = the number of
 * covered columns, step = 0 (identity, build) or env_steps (seal); the row
 * is those columns' values. Wall-clock columns, origin, head_hash,
 * ledger_rows, row_counts and (unless sealed) status and env_steps are never
 * hashed; an unfinished run's status is stated by its last signed
 * checkpoint instead.
 *
 * Merkle tree (checkpoints, `prove`): leaf i (from 0) is the hash of entry
 * seq = i + 1; RFC 6962 leaf and node hashing (ledger/merkle.h).
 *
 * Ownership: lk_value never owns what p points to. lk_buf and lk_hasher own
 * their memory and are released with their _release function.
 */
#ifndef MS_LEDGER_CANON_H
#define MS_LEDGER_CANON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ledger/schema.h"
#include "base/err.h"
#include "base/hash.h"

#define LK_HASH_LEN 32
/* Longest TEXT or BLOB value the lake accepts (bytes). */
#define LK_MAX_VALUE (256u * 1024u * 1024u)

/* One column value. type is LK_NULL, LK_INT (i), LK_REAL (r), LK_TEXT or
 * LK_BLOB (p, n bytes; p may be NULL only when n is 0). TEXT must hold no
 * NUL byte. */
typedef struct lk_value {
    int type;
    size_t n;
    union {
        int64_t i;
        double r;
        const void *p;
    };
} lk_value;

static inline lk_value lk_null(void) { lk_value v = {.type = LK_NULL}; return v; }
static inline lk_value lk_int(int64_t i) { lk_value v = {.type = LK_INT, .i = i}; return v; }
static inline lk_value lk_real(double r) { lk_value v = {.type = LK_REAL, .r = r}; return v; }
static inline lk_value lk_textn(const char *s, size_t n)
{
    lk_value v = {.type = LK_TEXT, .n = n, .p = s};
    return v;
}
static inline lk_value lk_text(const char *s) { return lk_textn(s, s ? strlen(s) : 0); }
static inline lk_value lk_blob(const void *p, size_t n)
{
    lk_value v = {.type = LK_BLOB, .n = n, .p = p};
    return v;
}

/* A growable byte buffer, reused across calls (no per-row allocation once
 * it has grown to the largest batch). */
typedef struct lk_buf {
    unsigned char *p;
    size_t len, cap;
} lk_buf;

/* Makes room for `extra` more bytes. MS_OK or MS_EIO (out of memory). */
int lk_buf_reserve(lk_buf *b, size_t extra, ms_err *e);
void lk_buf_release(lk_buf *b);

/* Encoded size of one value (assumes a valid value: n <= LK_MAX_VALUE). */
size_t lk_value_size(const lk_value *v);
/* Writes the encoding of v at dst (room for lk_value_size(v) bytes) and
 * returns the byte after it. */
unsigned char *lk_put_value(unsigned char *dst, const lk_value *v);
/* Appends "u32 length || row bytes" of vals[0..ncols) to b. */
int lk_put_row(lk_buf *b, const lk_value *vals, int ncols, ms_err *e);
/* Writes the entry header into dst (room for 28 + strlen(tbl) bytes);
 * returns its length. */
size_t lk_entry_header(unsigned char *dst, int64_t seq, const char *tbl, int64_t step,
                       int64_t first_rowid, uint32_t n_rows, uint32_t ncols);

/* A reusable SHA-256 context (EVP, digest fetched once). */
typedef struct lk_hasher {
    void *md;  /* EVP_MD * */
    void *ctx; /* EVP_MD_CTX * */
} lk_hasher;

int lk_hasher_init(lk_hasher *h, ms_err *e);
void lk_hasher_release(lk_hasher *h);
int lk_hash_begin(lk_hasher *h, ms_err *e);
int lk_hash_add(lk_hasher *h, const void *p, size_t n, ms_err *e);
int lk_hash_end(lk_hasher *h, unsigned char out[LK_HASH_LEN], ms_err *e);
/* One-shot SHA-256 of p[0..n). */
int lk_sha256(lk_hasher *h, const void *p, size_t n, unsigned char out[LK_HASH_LEN], ms_err *e);

/* The salt of entry seq of run run_id: HMAC with mac, which must be keyed
 * with the commitment key (layout above). MS_OK or MS_EIO. */
struct ms_hmac;
int lk_salt(struct ms_hmac *mac, const char *run_id, int64_t seq, unsigned char out[LK_HASH_LEN], ms_err *e);

/* The genesis hash (layout above). */
int lk_genesis(lk_hasher *h, const char *run_id, size_t run_id_len, const char *config_text,
               size_t config_len, uint64_t seed, unsigned char out[LK_HASH_LEN], ms_err *e);


#endif
