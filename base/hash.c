#include "base/hash.h"

#include <openssl/evp.h>

void ms_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = 0;
}

static int nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int ms_is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

int ms_unhex(const char *s, size_t slen, unsigned char *out, size_t n)
{
    if (slen != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int hi = nibble(s[2 * i]), lo = nibble(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

int ms_sha256_2(const void *a, size_t na, const void *b, size_t nb, unsigned char out[MS_SHA256_LEN],
                ms_err *e)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int n = 0;
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
             (!na || EVP_DigestUpdate(ctx, a, na) == 1) && (!nb || EVP_DigestUpdate(ctx, b, nb) == 1) &&
             EVP_DigestFinal_ex(ctx, out, &n) == 1 && n == MS_SHA256_LEN;
    EVP_MD_CTX_free(ctx);
    return ok ? MS_OK : ms_fail(e, MS_EIO, "libcrypto: SHA-256 failed");
}

int ms_sha256(const void *p, size_t n, unsigned char out[MS_SHA256_LEN], ms_err *e)
{
    return ms_sha256_2(p, n, NULL, 0, out, e);
}
