/* b64.h — strict standard base64 (RFC 4648 §4, with '=' padding).
 *
 * Encoding and decoding go through libcrypto's EVP_EncodeBlock /
 * EVP_DecodeBlock, but decoding is preceded by a strict check, because
 * EVP_DecodeBlock skips leading/trailing whitespace, does not report the
 * padding it decoded, and accepts non-canonical encodings. ms_b64_decode
 * accepts exactly the canonical encoding of some byte string: length a
 * multiple of 4, only A-Z a-z 0-9 + /, at most two '=' and only at the end,
 * and the unused low bits of the last symbol zero (so every byte string has
 * one encoding and every encoding one byte string).
 *
 * base64url (RFC 4648 §5: '-' and '_' for '+' and '/') without padding, the
 * form of the broadcast's pseudonyms and MAC (sim/bcast.h): ms_b64url_encode
 * is a table encoder for the per-step path; ms_b64url_encode_naive, its
 * reference twin, is the standard encoding above with the two symbols
 * swapped and the '=' cut (a unit test compares them). ms_b64url_decode is
 * as strict as ms_b64_decode: only A-Z a-z 0-9 - _, no padding, a length
 * that is not 1 mod 4, and the unused low bits of the last symbol zero.
 */
#ifndef MS_BASE_B64_H
#define MS_BASE_B64_H

#include <stddef.h>

/* Length of the encoding of n bytes (without NUL). */
#define MS_B64_LEN(n) (((n) + 2) / 3 * 4)

/* Writes the encoding of in[0..n) and a NUL into out (MS_B64_LEN(n) + 1
 * bytes); returns its length. */
size_t ms_b64_encode(const void *in, size_t n, char *out);

/* Decodes s[0..len) into out (cap bytes). Returns the decoded length, or -1
 * when s is not a canonical encoding or the result does not fit in cap. */
long ms_b64_decode(const char *s, size_t len, void *out, size_t cap);

/* Length of the unpadded base64url encoding of n bytes (without NUL). */
#define MS_B64URL_LEN(n) (((n) * 4 + 2) / 3)

/* Writes the MS_B64URL_LEN(n) symbols of in[0..n) into out (no NUL);
 * returns their number. */
size_t ms_b64url_encode(const void *in, size_t n, char *out);
size_t ms_b64url_encode_naive(const void *in, size_t n, char *out);

/* 1 when s[0..len) is the canonical unpadded base64url encoding of some
 * byte string of exactly `bytes` bytes (len == MS_B64URL_LEN(bytes)). */
int ms_b64url_is_canonical(const char *s, size_t len, size_t bytes);

/* Decodes s[0..len) into out (cap bytes). Returns the decoded length, or -1
 * when s is not a canonical encoding or the result does not fit in cap. */
long ms_b64url_decode(const char *s, size_t len, void *out, size_t cap);

#endif
