/* note.h — C2SP signed notes with Ed25519 signatures, and C2SP
 * tlog-checkpoint bodies (a contract).
 *
 * Specifications: c2sp.org/signed-note (format, key ids, verification rules;
 * reference behaviour golang.org/x/mod/sumdb/note) and c2sp.org/tlog-checkpoint
 * (the body of a checkpoint). All cryptography goes through libcrypto's EVP
 * interface (SHA-256, Ed25519 one-shot DigestSign/DigestVerify); all base64
 * through base/b64.h, so only canonical standard base64 is accepted.
 *
 * Note text. A text is n > 0 bytes of UTF-8 made of lines each ending in
 * '\n', none of them empty, with no control character (Unicode Cc: bytes
 * 0x00-0x1f other than '\n', 0x7f, and the code points U+0080-U+009F). UTF-8
 * is strict (RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF). This is stricter than the specification, which allows empty
 * lines inside the text and forbids only controls below U+0020; marlsim's
 * notes (checkpoints) never need either, and refusing them keeps the split
 * between text and signatures unambiguous and messages printable.
 *
 * Signed note (what ms_note_sign writes and ms_note_open accepts):
 *   text || "\n" || one or more signature lines, each
 *   "\xe2\x80\x94 " (U+2014 em dash, space) NAME " " BASE64 "\n"
 * where BASE64 is the canonical base64 of key id (4 bytes) || signature
 * (at least 1 byte; 64 for Ed25519). A reader splits the note at its LAST
 * "\n\n" (as golang.org/x/mod/sumdb/note does): what precedes it, plus one
 * '\n', is the text, which must then be valid as above. At most
 * MS_NOTE_SIGS_MAX signature lines; a note of more than MS_NOTE_MAX bytes
 * is refused before anything is parsed. One malformed signature line makes
 * the whole note malformed (MS_EINPUT), whoever it claims to be from.
 *
 * Key names (ms_note_name_valid): 1 to MS_NOTE_NAME_MAX bytes of printable
 * ASCII 0x21-0x7e other than '+'. The specification allows any UTF-8 without
 * Unicode spaces or '+'; marlsim is stricter, so a note carrying a signature
 * line whose name uses non-ASCII bytes is refused as malformed.
 *
 * Ed25519 key id (signature type 0x01):
 *   SHA-256(name || 0x0a || 0x01 || 32-byte public key)[0..4)
 * Verifier key text: NAME "+" 8 lowercase hex digits of the key id "+"
 * base64(0x01 || public key) (44 characters, which may themselves contain
 * '+'). Go formats the id with %08x and parses it with
 * strconv.ParseUint(hex, 16, 32), which also accepts uppercase; marlsim
 * accepts only the lowercase form it writes, so a key has one text.
 *
 * Verification (ms_note_open), for one trusted verifier (name, key id, key):
 * signature lines from other keys are ignored, also when they share the name
 * or the key id (but not both) with it. The FIRST line whose name and key id
 * both match decides: its signature must be a valid Ed25519 signature of the
 * text by the key, else the note is rejected (MS_ECHECK), even if a later
 * line by the same key would verify. No matching line: MS_ECHECK.
 *
 * Checkpoint body (c2sp.org/tlog-checkpoint), a valid note text:
 *   line 1  origin: non-empty, at most 255 bytes (UTF-8, no controls, spaces
 *           and '+' allowed: the specification only recommends against them)
 *   line 2  tree size: decimal, digits only, no sign, no leading zero unless
 *           the size is 0, at most 2^64 - 1
 *   line 3  root hash: the canonical standard base64 of exactly 32 bytes
 *   then    0 to MS_CHECKPOINT_EXT_MAX extension lines, each non-empty and
 *           at most 255 bytes
 * and the body ends with '\n'.
 *
 * Status values: MS_OK; MS_EINPUT malformed input (message says what and,
 * where there is one, which line); MS_ECHECK a check failed (not signed by
 * the trusted key, invalid signature); MS_EIO libcrypto failed (out of memory
 * inside libcrypto) or a signer callback reported it. Every failure fills e
 * (which may be NULL) with one sentence. Messages quote key names and key
 * ids (validated printable ASCII) but never key bytes, signatures, or note
 * text. Nothing here allocates memory that the caller must release; every
 * output goes to a buffer the caller owns, and no output buffer may overlap
 * an input.
 */
#ifndef MS_LEDGER_NOTE_H
#define MS_LEDGER_NOTE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define MS_NOTE_NAME_MAX 128
/* Largest note/checkpoint marlsim writes or accepts as a checkpoint file. */
#define MS_NOTE_MAX 65536
/* Most signature lines one note may carry (Go's note.Open limit). */
#define MS_NOTE_SIGS_MAX 100
/* Length of a verifier key text for a name of name_len bytes (no NUL). */
#define MS_NOTE_VERIFIER_LEN(name_len) ((name_len) + 1 + 8 + 1 + 44)

typedef struct ms_note_verifier {
    char name[MS_NOTE_NAME_MAX + 1]; /* NUL-terminated, ms_note_name_valid */
    unsigned char key_id[4];         /* big-endian, as in signature lines */
    unsigned char pub[32];           /* Ed25519 public key (RFC 8032) */
} ms_note_verifier;

/* 1 when name[0..len) is a valid key name (see above), else 0. name may be
 * NULL when len is 0 (then 0). */
int ms_note_name_valid(const char *name, size_t len);

/* id = the Ed25519 key id of (name, pub). name is NUL-terminated. MS_OK;
 * MS_EINPUT the name is not a valid key name; MS_EIO SHA-256 failed. */
int ms_note_key_id(const char *name, const unsigned char pub[32], unsigned char id[4], ms_err *e);

/* Writes the verifier key text "<name>+<hex id>+<base64(0x01||pub)>" and a
 * NUL into out (cap bytes; MS_NOTE_VERIFIER_LEN(strlen(name)) + 1 are
 * needed, MS_NOTE_NAME_MAX + 64 always suffice). MS_OK; MS_EINPUT invalid
 * name or out too small (out then holds "" when cap > 0); MS_EIO SHA-256
 * failed. */
int ms_note_verifier_format(const char *name, const unsigned char pub[32], char *out, size_t cap, ms_err *e);

/* Strict parse of a verifier key text s[0..len) (no surrounding whitespace,
 * no newline): a valid name up to the first '+', then exactly 8 lowercase hex
 * digits, '+', and 44 characters of canonical base64 decoding to 33 bytes
 * whose first byte is 0x01 (Ed25519); the key id must equal the one computed
 * from the name and key. MS_OK and *v filled; MS_EINPUT saying which part is
 * wrong (*v then zeroed); MS_EIO SHA-256 failed. The key bytes are not
 * checked to be a valid curve point: a bad key simply never verifies. */
int ms_note_verifier_parse(const char *s, size_t len, ms_note_verifier *v, ms_err *e);

/* A signer: the holder of the private key signs msg with Ed25519 (keys/
 * implements this with the keyring; tests implement it with EVP directly).
 * sign returns MS_OK with the 64-byte signature in sig, or a negative status
 * with e filled. key_id must be the key id of (name, public key):
 * ms_note_sign cannot check it. */
typedef struct ms_note_signer {
    const char *name; /* NUL-terminated key name */
    unsigned char key_id[4];
    int (*sign)(void *ctx, const void *msg, size_t n, unsigned char sig[64], ms_err *e);
    void *ctx;
} ms_note_signer;

/* Signs the note text text[0..n) with s and writes the signed note
 *   text || "\n" || "\xe2\x80\x94 " name " " base64(key_id || sig) "\n"
 * and a NUL into out (cap bytes); *outlen = its length (without the NUL).
 * The callback signs exactly text[0..n), final newline included.
 * MS_OK; MS_EINPUT text is not a valid note text, the signer's name is
 * invalid or it has no sign function, the signed note would exceed
 * MS_NOTE_MAX bytes, or out is too small; otherwise the callback's own
 * failure status and message (a positive or unknown value becomes MS_EIO).
 * On failure out holds "" (when cap > 0) and *outlen is 0. outlen may be
 * NULL. The signature is not verified here (the signer holds no public key);
 * opening the result with the signer's verifier does that. */
int ms_note_sign(const char *text, size_t n, const ms_note_signer *s, char *out, size_t cap, size_t *outlen,
                 ms_err *e);

/* Parses note[0..n) and verifies it against v (see Verification above).
 * MS_OK: *text_len = length of the signed text, note[0..*text_len) (final
 * newline included; text_len may be NULL). MS_EINPUT: the note is malformed
 * (too large, no blank line before the signatures, invalid text, a malformed
 * or excess signature line) or v->name is not a valid key name. MS_ECHECK:
 * no signature line has v's name and key id ("not signed by NAME+ID"), or
 * the first one that has them does not verify with v->pub. MS_EIO: libcrypto
 * failed. v is required and taken as given (its key_id is not recomputed
 * from name and pub; ms_note_verifier_parse guarantees that they agree). */
int ms_note_open(const char *note, size_t n, const ms_note_verifier *v, size_t *text_len, ms_err *e);

/* Structure only, no key, nothing verified: the same parsing as ms_note_open
 * (same MS_EINPUT cases). MS_OK: *text_len as above, and the first signature
 * line's key name (NUL-terminated) in first_name and its key id in first_id,
 * for messages such as "signed by X, not by the trusted key". Any of
 * text_len, first_name, first_id may be NULL. The text is UNVERIFIED: never
 * act on it. */
int ms_note_parse(const char *note, size_t n, size_t *text_len, char first_name[MS_NOTE_NAME_MAX + 1],
                  unsigned char first_id[4], ms_err *e);

/* MS_OK when text[0..n) is a valid note text (see above); else MS_EINPUT
 * naming the line and what is wrong (also for n > MS_NOTE_MAX). */
int ms_note_text_check(const char *text, size_t n, ms_err *e);

/* Ed25519 (RFC 8032, pure) verification through EVP: 1 when sig is a valid
 * signature of msg[0..n) by pub, 0 when it is not or libcrypto failed. msg
 * may be NULL when n is 0. */
int ms_ed25519_verify(const unsigned char pub[32], const void *msg, size_t n, const unsigned char sig[64]);

#define MS_CHECKPOINT_EXT_MAX 8
typedef struct ms_checkpoint {
    char origin[256]; /* NUL-terminated */
    uint64_t size;
    unsigned char root[32];
    int next;                             /* extension lines in ext[0..next) */
    char ext[MS_CHECKPOINT_EXT_MAX][256]; /* each NUL-terminated */
} ms_checkpoint;

/* Formats the checkpoint body "origin\nsize\nbase64(root)\n" followed by the
 * next extension lines ext[0..next) (each + "\n"; ext may be NULL when next
 * is 0) and a NUL into out (cap bytes); *len = its length (len may be NULL).
 * MS_OK; MS_EINPUT: origin or an extension line is empty, longer than 255
 * bytes, not UTF-8 or contains a control character (such as '\n'); next is
 * negative or above MS_CHECKPOINT_EXT_MAX; out is too small (out then holds
 * "" when cap > 0). What it writes, ms_checkpoint_parse reads back. */
int ms_checkpoint_format(const char *origin, uint64_t size, const unsigned char root[32],
                         const char *const *ext, int next, char *out, size_t cap, size_t *len, ms_err *e);

/* Strict parse of a checkpoint body text[0..n) (the text of an opened note):
 * MS_OK and *cp filled; MS_EINPUT naming the line and what is wrong (not a
 * valid note text, fewer than 3 lines, origin too long, tree size not in the
 * form above or above 2^64 - 1, root not the canonical base64 of 32 bytes,
 * more than MS_CHECKPOINT_EXT_MAX extension lines or one longer than 255
 * bytes); *cp is then zeroed. */
int ms_checkpoint_parse(const char *text, size_t n, ms_checkpoint *cp, ms_err *e);

#endif
