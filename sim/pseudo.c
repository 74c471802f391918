#include "sim/pseudo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "sim/config.h"
#include "base/rng.h"

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

int ms_hmac_compute(ms_hmac *h, const void *msg, size_t n, unsigned char out[32])
{
    size_t outl = 0;
    if (!EVP_MAC_init(h->ctx, NULL, 0, NULL) || !EVP_MAC_update(h->ctx, msg, n) ||
        !EVP_MAC_final(h->ctx, out, &outl, 32) || outl != 32)
        return MS_EIO;
    return MS_OK;
}

void ms_hmac_release(ms_hmac *h)
{
    EVP_MAC_CTX_free(h->ctx);
    EVP_MAC_free(h->mac);
    h->ctx = NULL;
    h->mac = NULL;
}

static void put_u64le(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

int ms_keys_dev(ms_keys *k, uint64_t seed, int generation, ms_err *e)
{
    static const char tag[] = "marlsim-dev-key-v1";
    unsigned char in[sizeof tag - 1 + 16], fp[32];
    unsigned int n = 0;
    memset(k, 0, sizeof *k);
    memcpy(in, tag, sizeof tag - 1);
    put_u64le(in + sizeof tag - 1, seed);
    put_u64le(in + sizeof tag + 7, (uint64_t)generation);
    if (!EVP_Digest(in, sizeof in, k->key, &n, EVP_sha256(), NULL))
        return ms_fail(e, MS_EIO, "libcrypto: SHA-256 failed");
    snprintf(k->key_id, sizeof k->key_id, "dev%d", generation);
    k->generation = generation;
    k->dev = 1;
    ms_hmac h;
    int rc = ms_hmac_init(&h, e);
    if (rc)
        return rc;
    static const char btag[] = "marlsim-broadcast-v1";
    rc = ms_hmac_setkey(&h, k->key, sizeof k->key, e);
    if (!rc && ms_hmac_compute(&h, btag, sizeof btag - 1, k->broadcast_key))
        rc = ms_fail(e, MS_EIO, "libcrypto: HMAC failed");
    ms_hmac_release(&h);
    if (rc)
        return rc;
    static const char ftag[] = "marlsim-key-fingerprint-v1";
    unsigned char fin[sizeof ftag - 1 + 32];
    memcpy(fin, ftag, sizeof ftag - 1);
    memcpy(fin + sizeof ftag - 1, k->key, 32);
    if (!EVP_Digest(fin, sizeof fin, fp, &n, EVP_sha256(), NULL))
        return ms_fail(e, MS_EIO, "libcrypto: SHA-256 failed");
    ms_hex(fp, 16, k->fingerprint);
    return MS_OK;
}

int ms_pseudonyms_init(ms_pseudonyms *p, int envs, ms_err *e)
{
    memset(p, 0, sizeof *p);
    p->envs = envs;
    p->sender = calloc((size_t)MS_VOCAB_LOCALS * MS_VOCAB_DOMAINS, MS_PSEUDO_HEX);
    p->recipient = calloc((size_t)envs, MS_PSEUDO_HEX);
    p->subject = calloc(MS_VOCAB_SUBJECTS, MS_PSEUDO_HEX);
    p->attach = calloc(MS_VOCAB_ATTACH, MS_PSEUDO_HEX);
    p->link = calloc(MS_VOCAB_LINKS, MS_PSEUDO_HEX);
    if (!p->sender || !p->recipient || !p->subject || !p->attach || !p->link) {
        ms_pseudonyms_release(p);
        return ms_fail(e, MS_EIO, "out of memory for pseudonym tables");
    }
    return MS_OK;
}

/* Raw synthetic values: lowercase words drawn from the vocabulary stream. */
static size_t word(ms_rng *r, char *out, int min, int max)
{
    int n = min + (int)ms_rng_below(r, (uint32_t)(max - min + 1));
    for (int i = 0; i < n; i++)
        out[i] = (char)('a' + ms_rng_below(r, 26));
    return (size_t)n;
}

static int pseudonym(ms_hmac *h, const char *tag, const char *raw, size_t n, char out[MS_PSEUDO_HEX])
{
    unsigned char buf[256], md[32];
    size_t tl = strlen(tag);
    if (tl + 1 + n > sizeof buf)
        return MS_EIO;
    memcpy(buf, tag, tl);
    buf[tl] = 0; /* separator: tags and values cannot run together */
    memcpy(buf + tl + 1, raw, n);
    if (ms_hmac_compute(h, buf, tl + 1 + n, md))
        return MS_EIO;
    char hex[65];
    ms_hex(md, 16, hex);
    memcpy(out, hex, MS_PSEUDO_HEX);
    return MS_OK;
}

int ms_pseudonyms_rekey(ms_pseudonyms *p, ms_hmac *h, const ms_keys *k, uint64_t vocab_seed, ms_err *e)
{
    int rc = ms_hmac_setkey(h, k->key, sizeof k->key, e);
    if (rc)
        return rc;
    snprintf(p->key_id, sizeof p->key_id, "%s", k->key_id);
    ms_rng r;
    ms_rng_seed(&r, vocab_seed, MS_STREAM_VOCAB, 0);
    char domains[MS_VOCAB_DOMAINS][40], raw[128];
    size_t dlen[MS_VOCAB_DOMAINS];
    static const char *const tld[] = {"com", "net", "org", "io", "biz", "info", "co", "test"};
    for (int d = 0; d < MS_VOCAB_DOMAINS; d++) {
        size_t n = word(&r, domains[d], 4, 12);
        n += (size_t)sprintf(domains[d] + n, ".%s", tld[ms_rng_below(&r, 8)]);
        dlen[d] = n;
    }
    static const char *const locals[MS_VOCAB_LOCALS] = {"info", "billing", "noreply", "support", "hr", "ceo", "alerts", "news"};
    rc = 0;
    for (int l = 0; l < MS_VOCAB_LOCALS && !rc; l++)
        for (int d = 0; d < MS_VOCAB_DOMAINS && !rc; d++) {
            int n = snprintf(raw, sizeof raw, "%s@%.*s", locals[l], (int)dlen[d], domains[d]);
            rc = pseudonym(h, "sender", raw, (size_t)n, p->sender[l * MS_VOCAB_DOMAINS + d]);
        }
    for (int i = 0; i < p->envs && !rc; i++) {
        int n = snprintf(raw, sizeof raw, "user%d@corp.example", i);
        rc = pseudonym(h, "recipient", raw, (size_t)n, p->recipient[i]);
    }
    for (int i = 0; i < MS_VOCAB_SUBJECTS && !rc; i++) {
        size_t n = word(&r, raw, 3, 9);
        raw[n++] = ' ';
        n += word(&r, raw + n, 3, 9);
        n += (size_t)sprintf(raw + n, " #%u", ms_rng_below(&r, 100000));
        rc = pseudonym(h, "subject", raw, n, p->subject[i]);
    }
    static const char *const ext[] = {"pdf", "docx", "docm", "exe", "zip", "xlsx"};
    for (int i = 0; i < MS_VOCAB_ATTACH && !rc; i++) {
        size_t n = word(&r, raw, 4, 10);
        n += (size_t)sprintf(raw + n, ".%s", ext[ms_rng_below(&r, 6)]);
        rc = pseudonym(h, "attachment", raw, n, p->attach[i]);
    }
    for (int i = 0; i < MS_VOCAB_LINKS && !rc; i++) {
        size_t n = word(&r, raw, 4, 12);
        n += (size_t)sprintf(raw + n, ".%s", tld[ms_rng_below(&r, 8)]);
        rc = pseudonym(h, "link", raw, n, p->link[i]);
    }
    if (rc)
        return ms_fail(e, MS_EIO, "libcrypto: HMAC failed while computing pseudonyms");
    return MS_OK;
}

void ms_pseudonyms_release(ms_pseudonyms *p)
{
    free(p->sender);
    free(p->recipient);
    free(p->subject);
    free(p->attach);
    free(p->link);
    memset(p, 0, sizeof *p);
}
