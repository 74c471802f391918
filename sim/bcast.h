/* bcast.h — the broadcast: canonical JSON bytes of the global state S.
 *
 * Byte format (one line, no whitespace, fields in exactly this order):
 *
 *   {"v":2,"seq":S,"env":E,"t":T,"kid":"K","from":"P","to":"P",
 *    "subject":"P","attachment":"P"|null,"link":"P"|null,
 *    "header":[6],"content":[5],"security":[7],"shared":[3],"mac":"M"}
 *
 *   S   sequence number, per mailbox, 1, 2, 3, ... (decimal integer)
 *   E   mailbox index; T step within the episode (decimal integers)
 *   K   key id of the pseudonym and broadcast keys (one per broadcast)
 *   P   a pseudonym under key K (sim/pseudo.h): 128 bits as 22 unpadded
 *       base64url symbols (A-Z a-z 0-9 - _), canonical (the last one of
 *       A Q g w)
 *   [n] n features in env.h order; each in [0, 1] on a 10^-6 grid, written
 *       as the shortest decimal: 0, 1, or 0.d1..d6 with trailing zeros cut
 *   M   43 unpadded base64url symbols, canonical (the last one's low 2
 *       bits zero): HMAC-SHA256 under the broadcast key of every byte
 *       before `,"mac":` (so "mac" must be the last field).
 *
 * Version 2 (v1 until lake schema v3) dropped the "K:" prefix of each
 * pseudonym (the key is named once, by "kid") and wrote pseudonyms (32 hex
 * digits) and MAC (64 hex digits) in base64url: 96 bytes less per
 * broadcast with five pseudonyms, the bulk of a lake at full telemetry.
 *
 * Validation (ms_bcast_validate) treats the bytes as hostile and checks, in
 * this order, stopping at the first failure: syntax and structure (JSON
 * grammar, no whitespace or escapes, known fields, no duplicates, every field
 * present, types, array lengths, "mac" last) → MAC → values (finite, in
 * range, version, env, t, key id, pseudonym form) → sequence number (must be
 * greater than the last accepted one and, when the receiver keeps a step
 * clock, equal to it). Each failure has a reason code.
 */
#ifndef MS_BCAST_H
#define MS_BCAST_H

#include <stddef.h>
#include <stdint.h>

#include "sim/env.h"
#include "sim/pseudo.h"

#define MS_BCAST_MAX 1024
#define MS_BCAST_VERSION 2
#define MS_BCAST_MAC_LEN 43 /* MS_B64URL_LEN(32) */

enum ms_bcast_reason {
    MS_BCAST_OK = 0,
    MS_BCAST_MALFORMED,       /* not the JSON grammar / trailing bytes / too long */
    MS_BCAST_DUPLICATE_FIELD,
    MS_BCAST_UNKNOWN_FIELD,
    MS_BCAST_MISSING_FIELD,
    MS_BCAST_WRONG_TYPE,
    MS_BCAST_BAD_LENGTH,      /* feature array of the wrong size */
    MS_BCAST_MAC_POSITION,    /* "mac" is not the last field */
    MS_BCAST_BAD_MAC,
    MS_BCAST_NON_FINITE,
    MS_BCAST_OUT_OF_RANGE,
    MS_BCAST_BAD_VERSION,
    MS_BCAST_WRONG_ENV,
    MS_BCAST_UNKNOWN_KEY,     /* key id is not the current key */
    MS_BCAST_BAD_PSEUDONYM,
    MS_BCAST_STALE_SEQ,
    MS_BCAST_NREASON
};
extern const char *const ms_bcast_reason_names[MS_BCAST_NREASON];

/* The sender's MAC of a broadcast: md = HMAC-SHA256 of its first `cut`
 * bytes (everything before `,"mac":`). */
typedef struct ms_bcast_mac {
    size_t cut;
    unsigned char md[32];
} ms_bcast_mac;

/* Writes the broadcast for msg into out (MS_BCAST_MAX bytes) and returns its
 * length; fills *sent (when not NULL) with the MAC it wrote. mac must be
 * keyed with the broadcast key. Returns 0 only if libcrypto fails. */
size_t ms_bcast_encode(char *out, const ms_msg *msg, uint64_t seq, int env,
                       const ms_pseudonyms *p, ms_hmac *mac, ms_bcast_mac *sent);

/* Writes a micro-unit value (clamped to [0, 10^6]) in the broadcast's
 * number format at p; returns the end (at most 8 bytes, no NUL). The bytes
 * up to 8 past p may be overwritten. ms_put_micro_naive is its reference
 * twin (digit by digit), writing only up to the end it returns. */
char *ms_put_micro(char *p, int32_t u);
char *ms_put_micro_naive(char *p, int32_t u);

/* (float)(u / 10^6) for a micro-unit value u in [0, 10^6], as the
 * validator's exact path computes it (through a double), by a
 * multiplication: (float)((double)u * 1e-6) == (float)((double)u / 10^6)
 * for every such u, which a unit test checks one by one. */
static inline float ms_micro_to_float(int32_t u)
{
    return (float)((double)u * 1e-6);
}

/* What a receiver expects of the next broadcast on its mailbox. */
typedef struct ms_bcast_expect {
    int env, episode_len;
    uint64_t last_seq;    /* last accepted sequence number (0 = none yet) */
    const char *key_id;
    ms_hmac *mac;         /* keyed with the broadcast key */
    uint64_t clock_seq;   /* the sequence number the receiver's step clock
                             expects now (0 = no clock): a replay of any
                             earlier broadcast, accepted or not, is stale */
    /* Optional (NULL = none): the bytes the sender MAC'd and the MAC it
     * computed of them, under the key `mac` holds. HMAC is a function of
     * key and bytes, so when the bytes before `,"mac":` are exactly those
     * (compared byte for byte) the validator takes sent_mac->md instead of
     * computing the same HMAC again; any other bytes (everything tampered
     * with in transit) get their own HMAC. */
    const char *sent;
    const ms_bcast_mac *sent_mac;
} ms_bcast_expect;

/* Validates buf[0..n) and, when it is accepted, fills f with the 21 features
 * as floats and *seq with its sequence number. Returns MS_BCAST_OK or the
 * reason it was rejected (f is then unspecified), or MS_EIO (negative, from
 * base/err.h) when libcrypto failed to compute the MAC: nothing was decided
 * about the broadcast, and the caller must fail rather than reject it. Never
 * reads past n. It is ms_bcast_validate_fast, and ms_bcast_validate_naive
 * wherever the fast path does not decide (a MAC it cannot compute included). */
int ms_bcast_validate(const char *buf, size_t n, const ms_bcast_expect *x, float f[MS_NFEAT], uint64_t *seq);

/* The reference validator: a general strict JSON parser implementing the
 * rules above, in their order. */
int ms_bcast_validate_naive(const char *buf, size_t n, const ms_bcast_expect *x, float f[MS_NFEAT], uint64_t *seq);

/* The fast path: matches the canonical shape ms_bcast_encode writes,
 * literally. Returns MS_BCAST_OK exactly where the naive validator would
 * accept with the same f and *seq, or -1 (not decided: rejected, or spelled
 * in a way the canonical shape does not cover; f may have been written). */
int ms_bcast_validate_fast(const char *buf, size_t n, const ms_bcast_expect *x, float f[MS_NFEAT], uint64_t *seq);

#endif
