/* hmac.h — HMAC-SHA256 through libcrypto's EVP_MAC, for every layer.
 *
 * The algorithm is fetched once in ms_hmac_init and one context is reused;
 * ms_hmac_setkey keys it, and every ms_hmac_compute re-initialises it with
 * the stored key (EVP_MAC_init with a NULL key), so nothing is allocated per
 * message. Contexts hold key material: ms_hmac_release frees them (libcrypto
 * cleanses MAC contexts on free).
 */
#ifndef MS_BASE_HMAC_H
#define MS_BASE_HMAC_H

#include <stddef.h>

#include "base/err.h"

typedef struct ms_hmac {
    struct evp_mac_st *mac;
    struct evp_mac_ctx_st *ctx;
} ms_hmac;

/* Fetches HMAC/SHA-256 once. MS_EIO if libcrypto refuses. */
int ms_hmac_init(ms_hmac *h, ms_err *e);
/* Keys the context. MS_EIO if libcrypto refuses. */
int ms_hmac_setkey(ms_hmac *h, const unsigned char *key, size_t n, ms_err *e);
/* out receives 32 bytes. Returns 0, or MS_EIO if libcrypto fails. */
int ms_hmac_compute(ms_hmac *h, const void *msg, size_t n, unsigned char out[32]);
/* The same over msg1 || msg2. */
int ms_hmac_compute2(ms_hmac *h, const void *m1, size_t n1, const void *m2, size_t n2, unsigned char out[32]);
/* NULL-safe; a zeroed or released ms_hmac is fine. */
void ms_hmac_release(ms_hmac *h);

#endif
