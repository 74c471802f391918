#include "base/hmac.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

int ms_hmac_init(ms_hmac *h, ms_err *e)
{
    h->ctx = NULL;
    h->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!h->mac)
        return ms_fail(e, MS_EIO, "libcrypto: cannot fetch HMAC");
    h->ctx = EVP_MAC_CTX_new(h->mac);
    if (!h->ctx) {
        EVP_MAC_free(h->mac);
        h->mac = NULL;
        return ms_fail(e, MS_EIO, "libcrypto: cannot create an HMAC context");
    }
    return MS_OK;
}

int ms_hmac_setkey(ms_hmac *h, const unsigned char *key, size_t n, ms_err *e)
{
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    if (!EVP_MAC_init(h->ctx, key, n, params))
        return ms_fail(e, MS_EIO, "libcrypto: cannot key HMAC-SHA256");
    return MS_OK;
}

int ms_hmac_compute2(ms_hmac *h, const void *m1, size_t n1, const void *m2, size_t n2, unsigned char out[32])
{
    size_t outl = 0;
    if (!EVP_MAC_init(h->ctx, NULL, 0, NULL) || (n1 && !EVP_MAC_update(h->ctx, m1, n1)) ||
        (n2 && !EVP_MAC_update(h->ctx, m2, n2)) || !EVP_MAC_final(h->ctx, out, &outl, 32) || outl != 32)
        return MS_EIO;
    return MS_OK;
}

int ms_hmac_compute(ms_hmac *h, const void *msg, size_t n, unsigned char out[32])
{
    return ms_hmac_compute2(h, msg, n, NULL, 0, out);
}

void ms_hmac_release(ms_hmac *h)
{
    if (!h)
        return;
    EVP_MAC_CTX_free(h->ctx);
    EVP_MAC_free(h->mac);
    h->ctx = NULL;
    h->mac = NULL;
}
