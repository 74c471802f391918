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

#endif
