/* hash.h — hex rendering and one-shot SHA-256, for every layer.
 *
 * ms_sha256 goes through libcrypto's EVP interface (never hand-rolled). It
 * returns MS_OK, or MS_EIO when libcrypto fails (it only can when memory is
 * exhausted inside libcrypto); callers that cannot report a failure say so
 * beside the call.
 */
#ifndef MS_BASE_HASH_H
#define MS_BASE_HASH_H

#include <stddef.h>

#include "base/err.h"

#define MS_SHA256_LEN 32

/* Lowercase hex of n bytes into out (2n + 1 bytes, NUL-terminated). */
void ms_hex(const unsigned char *in, size_t n, char *out);

/* Parses exactly 2n lowercase or uppercase hex digits of s (NUL or not)
 * into out[n]. Returns 0, or -1 when s is not that. */
int ms_unhex(const char *s, size_t slen, unsigned char *out, size_t n);

/* 1 when s[0..n) is n lowercase hex digits, else 0. */
int ms_is_lower_hex(const char *s, size_t n);

/* out = SHA-256(p[0..n)). MS_OK or MS_EIO (message in e, may be NULL). */
int ms_sha256(const void *p, size_t n, unsigned char out[MS_SHA256_LEN], ms_err *e);

/* out = SHA-256(a || b), for tagged digests. MS_OK or MS_EIO. */
int ms_sha256_2(const void *a, size_t na, const void *b, size_t nb, unsigned char out[MS_SHA256_LEN],
                ms_err *e);

#endif
