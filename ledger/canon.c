/* canon.c — canonical encoding and SHA-256 (contract in canon.h). */
#include "ledger/canon.h"

#include <stdlib.h>

#include <openssl/evp.h>

#include "base/hmac.h"

int lk_buf_reserve(lk_buf *b, size_t extra, ms_err *e)
{
    if (extra <= b->cap - b->len)
        return MS_OK;
    if (extra > SIZE_MAX / 2 - b->len)
        return ms_fail(e, MS_EIO, "lake: buffer size overflow");
    size_t ncap = b->cap ? b->cap : 4096;
    while (ncap - b->len < extra)
        ncap *= 2;
    unsigned char *np = realloc(b->p, ncap);
    if (!np)
        return ms_fail(e, MS_EIO, "lake: out of memory (%zu bytes)", ncap);
    b->p = np;
    b->cap = ncap;
    return MS_OK;
}

void lk_buf_release(lk_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

static unsigned char *put_u32(unsigned char *d, uint32_t x)
{
    d[0] = (unsigned char)(x >> 24);
    d[1] = (unsigned char)(x >> 16);
    d[2] = (unsigned char)(x >> 8);
    d[3] = (unsigned char)x;
    return d + 4;
}

static unsigned char *put_u64(unsigned char *d, uint64_t x)
{
    for (int k = 0; k < 8; k++)
        d[k] = (unsigned char)(x >> (56 - 8 * k));
    return d + 8;
}

size_t lk_value_size(const lk_value *v)
{
    switch (v->type) {
    case LK_INT:
    case LK_REAL: return 9;
    case LK_TEXT:
    case LK_BLOB: return 5 + v->n;
    default: return 1;
    }
}

unsigned char *lk_put_value(unsigned char *d, const lk_value *v)
{
    switch (v->type) {
    case LK_INT:
        *d++ = LK_INT;
        return put_u64(d, (uint64_t)v->i);
    case LK_REAL: {
        double r = v->r == 0.0 ? 0.0 : v->r; /* -0.0 -> +0.0 */
        uint64_t bits;
        memcpy(&bits, &r, sizeof bits);
        *d++ = LK_REAL;
        return put_u64(d, bits);
    }
    case LK_TEXT:
    case LK_BLOB:
        *d++ = (unsigned char)v->type;
        d = put_u32(d, (uint32_t)v->n);
        if (v->n)
            memcpy(d, v->p, v->n);
        return d + v->n;
    default:
        *d++ = LK_NULL;
        return d;
    }
}

int lk_put_row(lk_buf *b, const lk_value *vals, int ncols, ms_err *e)
{
    size_t sz = 0;
    for (int c = 0; c < ncols; c++)
        sz += lk_value_size(&vals[c]);
    if (sz > UINT32_MAX)
        return ms_fail(e, MS_EINPUT, "lake: row of %zu bytes is too large to encode", sz);
    int rc = lk_buf_reserve(b, 4 + sz, e);
    if (rc)
        return rc;
    unsigned char *d = put_u32(b->p + b->len, (uint32_t)sz);
    for (int c = 0; c < ncols; c++)
        d = lk_put_value(d, &vals[c]);
    b->len = (size_t)(d - b->p);
    return MS_OK;
}

size_t lk_entry_header(unsigned char *dst, int64_t seq, const char *tbl, int64_t step,
                       int64_t first_rowid, uint32_t n_rows, uint32_t ncols)
{
    size_t tl = strlen(tbl);
    unsigned char *d = put_u64(dst, (uint64_t)seq);
    d = put_u32(d, (uint32_t)tl);
    memcpy(d, tbl, tl);
    d += tl;
    d = put_u64(d, (uint64_t)step);
    d = put_u64(d, (uint64_t)first_rowid);
    d = put_u32(d, n_rows);
    d = put_u32(d, ncols);
    return (size_t)(d - dst);
}

int lk_hasher_init(lk_hasher *h, ms_err *e)
{
    h->md = EVP_MD_fetch(NULL, "SHA256", NULL);
    h->ctx = EVP_MD_CTX_new();
    if (!h->md || !h->ctx) {
        lk_hasher_release(h);
        return ms_fail(e, MS_EIO, "lake: libcrypto could not provide SHA-256");
    }
    return MS_OK;
}

void lk_hasher_release(lk_hasher *h)
{
    EVP_MD_CTX_free(h->ctx);
    EVP_MD_free(h->md);
    h->ctx = NULL;
    h->md = NULL;
}

int lk_hash_begin(lk_hasher *h, ms_err *e)
{
    if (EVP_DigestInit_ex(h->ctx, h->md, NULL) != 1)
        return ms_fail(e, MS_EIO, "lake: SHA-256 init failed");
    return MS_OK;
}

int lk_hash_add(lk_hasher *h, const void *p, size_t n, ms_err *e)
{
    if (n && EVP_DigestUpdate(h->ctx, p, n) != 1)
        return ms_fail(e, MS_EIO, "lake: SHA-256 update failed");
    return MS_OK;
}

int lk_hash_end(lk_hasher *h, unsigned char out[LK_HASH_LEN], ms_err *e)
{
    unsigned int n = 0;
    if (EVP_DigestFinal_ex(h->ctx, out, &n) != 1 || n != LK_HASH_LEN)
        return ms_fail(e, MS_EIO, "lake: SHA-256 final failed");
    return MS_OK;
}

int lk_sha256(lk_hasher *h, const void *p, size_t n, unsigned char out[LK_HASH_LEN], ms_err *e)
{
    int rc = lk_hash_begin(h, e);
    if (!rc)
        rc = lk_hash_add(h, p, n, e);
    if (!rc)
        rc = lk_hash_end(h, out, e);
    return rc;
}

int lk_genesis(lk_hasher *h, const char *run_id, size_t run_id_len, const char *config_text,
               size_t config_len, uint64_t seed, unsigned char out[LK_HASH_LEN], ms_err *e)
{
    static const char tag[] = "marlsim-ledger-v1";
    unsigned char cfg_hash[LK_HASH_LEN], len4[4], seed8[8];
    if (run_id_len > UINT32_MAX || config_len > UINT32_MAX)
        return ms_fail(e, MS_EINPUT, "lake: run id or config text too long");
    int rc = lk_sha256(h, config_text, config_len, cfg_hash, e);
    if (!rc)
        rc = lk_hash_begin(h, e);
    if (!rc)
        rc = lk_hash_add(h, tag, sizeof tag - 1, e);
    put_u32(len4, (uint32_t)run_id_len);
    if (!rc)
        rc = lk_hash_add(h, len4, 4, e);
    if (!rc)
        rc = lk_hash_add(h, run_id, run_id_len, e);
    put_u32(len4, (uint32_t)config_len);
    if (!rc)
        rc = lk_hash_add(h, len4, 4, e);
    if (!rc)
        rc = lk_hash_add(h, config_text, config_len, e);
    if (!rc)
        rc = lk_hash_add(h, cfg_hash, sizeof cfg_hash, e);
    put_u64(seed8, seed);
    if (!rc)
        rc = lk_hash_add(h, seed8, 8, e);
    if (!rc)
        rc = lk_hash_end(h, out, e);
    return rc;
}

int lk_salt(ms_hmac *mac, const char *run_id, int64_t seq, unsigned char out[LK_HASH_LEN], ms_err *e)
{
    static const char tag[] = "marlsim-salt-v1";
    size_t rl = strlen(run_id);
    unsigned char buf[sizeof tag - 1 + 4 + 256 + 8], *d = buf;
    if (rl > 256)
        return ms_fail(e, MS_EINPUT, "lake: run id longer than 256 bytes");
    memcpy(d, tag, sizeof tag - 1);
    d = put_u32(d + sizeof tag - 1, (uint32_t)rl);
    memcpy(d, run_id, rl);
    d = put_u64(d + rl, (uint64_t)seq);
    if (ms_hmac_compute(mac, buf, (size_t)(d - buf), out))
        return ms_fail(e, MS_EIO, "libcrypto: HMAC of a salt failed");
    return MS_OK;
}
