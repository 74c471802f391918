#include "base/b64.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

size_t ms_b64_encode(const void *in, size_t n, char *out)
{
    size_t done = 0, k = 0;
    /* EVP_EncodeBlock takes an int length: encode in chunks of a multiple
     * of 3 bytes so the pieces concatenate into one encoding. */
    while (n - done > 0) {
        size_t chunk = n - done;
        if (chunk > (size_t)3 * (INT_MAX / 8))
            chunk = (size_t)3 * (INT_MAX / 8);
        k += (size_t)EVP_EncodeBlock((unsigned char *)out + k, (const unsigned char *)in + done, (int)chunk);
        done += chunk;
    }
    out[k] = 0;
    return k;
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

long ms_b64_decode(const char *s, size_t len, void *out, size_t cap)
{
    if (len % 4 || len > (size_t)INT_MAX)
        return -1;
    if (len == 0)
        return 0;
    size_t pad = s[len - 1] == '=' ? (s[len - 2] == '=' ? 2 : 1) : 0;
    for (size_t i = 0; i < len - pad; i++)
        if (b64_value((unsigned char)s[i]) < 0)
            return -1;
    /* Canonical: the bits the padding leaves unused are zero. */
    int last = b64_value((unsigned char)s[len - pad - 1]);
    if ((pad == 1 && (last & 3)) || (pad == 2 && (last & 15)))
        return -1;
    size_t n = len / 4 * 3 - pad;
    if (n > cap)
        return -1;
    unsigned char tmp[3];
    unsigned char *o = out;
    /* Whole groups straight into out; the last (maybe padded) group through
     * tmp, since EVP_DecodeBlock writes 3 bytes per group, padding included. */
    size_t full = len / 4 - (pad ? 1 : 0);
    if (full && EVP_DecodeBlock(o, (const unsigned char *)s, (int)(full * 4)) != (int)(full * 3))
        return -1;
    if (pad) {
        if (EVP_DecodeBlock(tmp, (const unsigned char *)s + full * 4, 4) != 3)
            return -1;
        memcpy(o + full * 3, tmp, 3 - pad);
    }
    return (long)n;
}

/* ---- base64url, unpadded ---- */

static const char url_alphabet[65] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t ms_b64url_encode(const void *in, size_t n, char *out)
{
    const unsigned char *b = in;
    size_t k = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)b[i] << 16 | (unsigned)b[i + 1] << 8 | b[i + 2];
        out[k++] = url_alphabet[v >> 18];
        out[k++] = url_alphabet[v >> 12 & 63];
        out[k++] = url_alphabet[v >> 6 & 63];
        out[k++] = url_alphabet[v & 63];
    }
    if (n - i == 1) {
        unsigned v = (unsigned)b[i] << 16;
        out[k++] = url_alphabet[v >> 18];
        out[k++] = url_alphabet[v >> 12 & 63];
    } else if (n - i == 2) {
        unsigned v = (unsigned)b[i] << 16 | (unsigned)b[i + 1] << 8;
        out[k++] = url_alphabet[v >> 18];
        out[k++] = url_alphabet[v >> 12 & 63];
        out[k++] = url_alphabet[v >> 6 & 63];
    }
    return k;
}

size_t ms_b64url_encode_naive(const void *in, size_t n, char *out)
{
    char *tmp = malloc(MS_B64_LEN(n) + 1);
    if (!tmp)
        return 0;
    size_t len = ms_b64_encode(in, n, tmp), k = 0;
    for (size_t i = 0; i < len && tmp[i] != '='; i++)
        out[k++] = tmp[i] == '+' ? '-' : tmp[i] == '/' ? '_' : tmp[i];
    free(tmp);
    return k;
}

static int url_value(unsigned char c)
{
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    if (c == '+' || c == '/')
        return -1;
    return b64_value(c);
}

long ms_b64url_decode(const char *s, size_t len, void *out, size_t cap)
{
    if (len % 4 == 1)
        return -1;
    size_t n = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
    if (n > cap)
        return -1;
    unsigned char *o = out;
    unsigned acc = 0;
    int bits = 0;
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        int v = url_value((unsigned char)s[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6 | (unsigned)v) & 0xffffu;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            o[k++] = (unsigned char)(acc >> bits);
        }
    }
    /* Canonical: the bits left over after the last byte are zero. */
    if (acc & ((1u << bits) - 1))
        return -1;
    return (long)k;
}

int ms_b64url_is_canonical(const char *s, size_t len, size_t bytes)
{
    unsigned char tmp[64];
    return len == MS_B64URL_LEN(bytes) && bytes <= sizeof tmp && ms_b64url_decode(s, len, tmp, sizeof tmp) == (long)bytes;
}
