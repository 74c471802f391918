/* pseudo.h — key generations as the simulator uses them, and pseudonyms of
 * personal data.
 *
 * ms_keys holds one key generation, derived from its 32-byte key (a
 * keyring generation, keys/keyring.h, or a public evaluation key):
 *   pseudonym key  = the key itself;
 *   broadcast key  = HMAC(key, "marlsim-broadcast-v1") (the broadcast MAC);
 *   personal secret = HMAC(key, "marlsim-personal-v1"): seeds the streams
 *                    the raw personal values are drawn from (the run's
 *                    vocabularies and each mailbox's draws of them), so the
 *                    public seed alone regenerates none of them, and a
 *                    destroyed generation makes them unrecoverable;
 *   fingerprint    = the keyring's fingerprint (never the key).
 * It owns secrets: ms_keys_clear cleanses them.
 *
 * Where a run's generations come from, ms_key_source: a keyring and the
 * generations the run uses (index i of the run = keyring generation
 * first_gen + i), or, with no keyring, the public evaluation keys of a seed:
 * SHA-256("marlsim-eval-key-v1" || seed || i), used only by the held-out
 * evaluation streams, whose synthetic mail is never recorded.
 *
 * ms_pseudonyms maps every value of the run's synthetic vocabularies (sender
 * addresses, recipients, subjects, attachment names, link domains) to
 * the unpadded base64url (22 symbols) of the first 128 bits of
 * HMAC-SHA256(key, field tag || 0x00 || value). A pseudonym does not name its
 * key: the broadcast that carries it names the key once ("kid"), and
 * hmac_keys maps key ids to fingerprints. The raw vocabularies are drawn from the personal secret's
 * MS_STREAM_VOCAB stream and exist only while the table is computed; the
 * per-message path only looks pseudonyms up.
 */
#ifndef MS_PSEUDO_H
#define MS_PSEUDO_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/hmac.h"

struct ms_keyring;

#define MS_KEY_ID_MAX 15
typedef struct ms_keys {
    char key_id[MS_KEY_ID_MAX + 1];
    unsigned char key[32];
    unsigned char broadcast_key[32];
    unsigned char personal[32];
    char fingerprint[33]; /* the keyring's fingerprint of the key, hex */
    int generation;       /* the keyring's generation number */
    int dev;
} ms_keys;

typedef struct ms_key_source {
    const struct ms_keyring *kr; /* NULL: public evaluation keys of public_seed */
    int first_gen;               /* the run's index 0 is keyring generation first_gen */
    int ngen;                    /* generations the run may use (index < ngen) */
    uint64_t public_seed;        /* kr == NULL only */
} ms_key_source;

/* Generation `index` of the run from src. MS_EINPUT when index >= ngen or
 * the keyring lacks the generation; MS_ECHECK when it was destroyed (the
 * keyring's message); MS_EIO when libcrypto fails. */
int ms_keys_load(ms_keys *k, const ms_key_source *src, int index, ms_err *e);
void ms_keys_clear(ms_keys *k);

/* Vocabulary sizes of the synthetic personal data. */
enum {
    MS_VOCAB_DOMAINS = 512,  /* sender domains (SPEC §4) */
    MS_VOCAB_LOCALS = 8,     /* local parts of sender addresses */
    MS_VOCAB_SUBJECTS = 256,
    MS_VOCAB_ATTACH = 128,
    MS_VOCAB_LINKS = 512,
};
#define MS_PSEUDO_BYTES 16
#define MS_PSEUDO_LEN 22 /* MS_B64URL_LEN(MS_PSEUDO_BYTES): 128 bits in base64url */

typedef struct ms_pseudonyms {
    int envs;
    char key_id[MS_KEY_ID_MAX + 1];
    /* MS_PSEUDO_LEN base64url symbols each (no NUL), indexed by vocabulary value */
    char (*sender)[MS_PSEUDO_LEN];    /* [MS_VOCAB_LOCALS * MS_VOCAB_DOMAINS] */
    char (*recipient)[MS_PSEUDO_LEN]; /* [envs] */
    char (*subject)[MS_PSEUDO_LEN];   /* [MS_VOCAB_SUBJECTS] */
    char (*attach)[MS_PSEUDO_LEN];    /* [MS_VOCAB_ATTACH] */
    char (*link)[MS_PSEUDO_LEN];      /* [MS_VOCAB_LINKS] */
} ms_pseudonyms;

/* The vocabularies (fields of the broadcast carrying personal data). */
enum { MS_FIELD_SENDER, MS_FIELD_RECIPIENT, MS_FIELD_SUBJECT, MS_FIELD_ATTACHMENT, MS_FIELD_LINK, MS_NFIELD };

/* Regenerates the raw value `index` of vocabulary `field` (MS_FIELD_*)
 * under key generation k, for a run of envs mailboxes, into out (NUL-
 * terminated, cut to cap - 1 bytes). Only the holder of the key can: this is
 * what tests and an auditor with the keyring use to show which raw value a
 * pseudonym stands for. MS_EINPUT for an index outside the vocabulary. */
int ms_vocab_raw(const ms_keys *k, int envs, int field, int index, char *out, size_t cap, ms_err *e);

/* Allocates the tables for envs mailboxes. */
int ms_pseudonyms_init(ms_pseudonyms *p, int envs, ms_err *e);
/* Draws the raw vocabularies from k's personal secret and recomputes every
 * pseudonym under k (h is the HMAC context to use; it is re-keyed). */
int ms_pseudonyms_rekey(ms_pseudonyms *p, ms_hmac *h, const ms_keys *k, ms_err *e);
void ms_pseudonyms_release(ms_pseudonyms *p);

#endif
