/* pseudo.h — HMAC-SHA256, key material, and pseudonyms of personal data.
 *
 * ms_hmac wraps libcrypto's EVP_MAC "HMAC" with SHA-256: the algorithm is
 * fetched once in ms_hmac_init and one context is reused; ms_hmac_setkey
 * keys it and every ms_hmac_compute re-initialises it with the stored key
 * (EVP_MAC_init with a NULL key), so no allocation happens per message.
 *
 * ms_keys holds one key generation: the pseudonym key, the broadcast MAC key
 * derived from it (HMAC(key, "marlsim-broadcast-v1")), its id and its
 * fingerprint (never the key). Without a keyring the key is a development
 * key derived from the seed (SHA-256("marlsim-dev-key-v1" || seed ||
 * generation)); the caller says so on stderr and marks the run dev_key.
 *
 * ms_pseudonyms maps every value of the run's synthetic vocabularies (sender
 * addresses, recipients, subjects, attachment names, link domains) to
 * "<key_id>:<32 hex>" = the first 128 bits of HMAC-SHA256(key, field tag ||
 * value). A pseudonym is a pure function of (key, value), so the table is
 * computed once per key generation and the per-message path only looks up.
 * Raw values never leave this module's tables.
 */
#ifndef MS_PSEUDO_H
#define MS_PSEUDO_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"


typedef struct ms_hmac {
    struct evp_mac_st *mac;
    struct evp_mac_ctx_st *ctx;
} ms_hmac;

/* Fetches HMAC/SHA-256 once. MS_EIO if libcrypto refuses. */
int ms_hmac_init(ms_hmac *h, ms_err *e);
int ms_hmac_setkey(ms_hmac *h, const unsigned char *key, size_t n, ms_err *e);
/* out receives 32 bytes. Returns 0, or MS_EIO if libcrypto fails. */
int ms_hmac_compute(ms_hmac *h, const void *msg, size_t n, unsigned char out[32]);
void ms_hmac_release(ms_hmac *h);

#define MS_KEY_ID_MAX 15
typedef struct ms_keys {
    char key_id[MS_KEY_ID_MAX + 1];
    unsigned char key[32];
    unsigned char broadcast_key[32];
    char fingerprint[33]; /* 128-bit SHA-256 prefix of the key, hex */
    int generation;
    int dev;
} ms_keys;

/* Development key generation g for seed. */
int ms_keys_dev(ms_keys *k, uint64_t seed, int generation, ms_err *e);

/* Vocabulary sizes of the synthetic personal data. */
enum {
    MS_VOCAB_DOMAINS = 512,  /* sender domains (SPEC §4) */
    MS_VOCAB_LOCALS = 8,     /* local parts of sender addresses */
    MS_VOCAB_SUBJECTS = 256,
    MS_VOCAB_ATTACH = 128,
    MS_VOCAB_LINKS = 512,
};
#define MS_PSEUDO_HEX 32

typedef struct ms_pseudonyms {
    int envs;
    char key_id[MS_KEY_ID_MAX + 1];
    /* 32 hex digits each (no NUL), indexed by vocabulary value */
    char (*sender)[MS_PSEUDO_HEX];    /* [MS_VOCAB_LOCALS * MS_VOCAB_DOMAINS] */
    char (*recipient)[MS_PSEUDO_HEX]; /* [envs] */
    char (*subject)[MS_PSEUDO_HEX];   /* [MS_VOCAB_SUBJECTS] */
    char (*attach)[MS_PSEUDO_HEX];    /* [MS_VOCAB_ATTACH] */
    char (*link)[MS_PSEUDO_HEX];      /* [MS_VOCAB_LINKS] */
} ms_pseudonyms;

/* Allocates the tables for envs mailboxes. vocab_seed picks the run's raw
 * vocabulary (stream MS_STREAM_VOCAB). */
int ms_pseudonyms_init(ms_pseudonyms *p, int envs, ms_err *e);
/* Recomputes every pseudonym under k. */
int ms_pseudonyms_rekey(ms_pseudonyms *p, ms_hmac *h, const ms_keys *k, uint64_t vocab_seed, ms_err *e);
void ms_pseudonyms_release(ms_pseudonyms *p);

#endif
