#include "sim/pseudo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "base/b64.h"
#include "base/rng.h"
#include "keys/keyring.h"
#include "sim/config.h"

static void put_u64le(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

void ms_keys_clear(ms_keys *k)
{
    OPENSSL_cleanse(k, sizeof *k);
}

/* The derived keys of a generation key (see pseudo.h). */
static int derive(ms_keys *k, ms_err *e)
{
    static const char btag[] = "marlsim-broadcast-v1", ptag[] = "marlsim-personal-v1";
    ms_hmac h;
    int rc = ms_hmac_init(&h, e);
    if (rc)
        return rc;
    rc = ms_hmac_setkey(&h, k->key, sizeof k->key, e);
    if (!rc && (ms_hmac_compute(&h, btag, sizeof btag - 1, k->broadcast_key) ||
                ms_hmac_compute(&h, ptag, sizeof ptag - 1, k->personal)))
        rc = ms_fail(e, MS_EIO, "libcrypto: HMAC failed");
    ms_hmac_release(&h);
    return rc;
}

int ms_keys_load(ms_keys *k, const ms_key_source *src, int index, ms_err *e)
{
    memset(k, 0, sizeof *k);
    if (index < 0 || index >= src->ngen)
        return ms_fail(e, MS_EINPUT, "key generation %d of the run is beyond the %d it may use", index, src->ngen);
    int rc;
    if (!src->kr) {
        static const char tag[] = "marlsim-eval-key-v1";
        unsigned char in[sizeof tag - 1 + 16];
        memcpy(in, tag, sizeof tag - 1);
        put_u64le(in + sizeof tag - 1, src->public_seed);
        put_u64le(in + sizeof tag + 7, (uint64_t)index);
        if ((rc = ms_sha256(in, sizeof in, k->key, e)))
            return rc;
        snprintf(k->key_id, sizeof k->key_id, "eval%d", index);
        k->generation = index;
        snprintf(k->fingerprint, sizeof k->fingerprint, "public");
    } else {
        ms_key_generation g;
        int gen = src->first_gen + index;
        if ((rc = ms_keyring_generation(src->kr, gen, &g, e)) || (rc = ms_keyring_hmac_key(src->kr, gen, k->key, e)))
            return rc;
        snprintf(k->key_id, sizeof k->key_id, "%s", g.key_id);
        snprintf(k->fingerprint, sizeof k->fingerprint, "%s", g.fingerprint);
        k->generation = gen;
        k->dev = ms_keyring_is_dev(src->kr);
    }
    if ((rc = derive(k, e)))
        ms_keys_clear(k);
    return rc;
}

int ms_pseudonyms_init(ms_pseudonyms *p, int envs, ms_err *e)
{
    memset(p, 0, sizeof *p);
    p->envs = envs;
    p->sender = calloc((size_t)MS_VOCAB_LOCALS * MS_VOCAB_DOMAINS, MS_PSEUDO_LEN);
    p->recipient = calloc((size_t)envs, MS_PSEUDO_LEN);
    p->subject = calloc(MS_VOCAB_SUBJECTS, MS_PSEUDO_LEN);
    p->attach = calloc(MS_VOCAB_ATTACH, MS_PSEUDO_LEN);
    p->link = calloc(MS_VOCAB_LINKS, MS_PSEUDO_LEN);
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

static int pseudonym(ms_hmac *h, const char *tag, const char *raw, size_t n, char out[MS_PSEUDO_LEN])
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
    ms_b64url_encode(md, 16, out); /* exactly MS_PSEUDO_LEN symbols */
    return MS_OK;
}

/* Walks the raw vocabularies of key k in their one draw order (the order
 * is part of the determinism contract), handing each value to visit; stops
 * at the first nonzero return. */
typedef int (*vocab_visit)(void *ctx, int field, int index, const char *raw, size_t n);

static int vocab_walk(const ms_keys *k, int envs, vocab_visit visit, void *ctx)
{
    ms_rng r;
    if (ms_rng_seed_key(&r, k->personal, MS_STREAM_VOCAB, 0))
        return MS_EIO;
    char domains[MS_VOCAB_DOMAINS][40], raw[128];
    size_t dlen[MS_VOCAB_DOMAINS];
    static const char *const tld[] = {"com", "net", "org", "io", "biz", "info", "co", "test"};
    for (int d = 0; d < MS_VOCAB_DOMAINS; d++) {
        size_t n = word(&r, domains[d], 4, 12);
        n += (size_t)snprintf(domains[d] + n, sizeof domains[d] - n, ".%s", tld[ms_rng_below(&r, 8)]);
        dlen[d] = n;
    }
    static const char *const locals[MS_VOCAB_LOCALS] = {"info", "billing", "noreply", "support", "hr", "ceo", "alerts", "news"};
    int rc = 0;
    for (int l = 0; l < MS_VOCAB_LOCALS && !rc; l++)
        for (int d = 0; d < MS_VOCAB_DOMAINS && !rc; d++) {
            int n = snprintf(raw, sizeof raw, "%s@%.*s", locals[l], (int)dlen[d], domains[d]);
            rc = visit(ctx, MS_FIELD_SENDER, l * MS_VOCAB_DOMAINS + d, raw, (size_t)n);
        }
    /* Each recipient from a stream of its own, so that no vocabulary
     * depends on how many mailboxes run. */
    for (int i = 0; i < envs && !rc; i++) {
        ms_rng ri;
        if (ms_rng_seed_key(&ri, k->personal, MS_STREAM_VOCAB, 1 + (uint64_t)i)) {
            rc = MS_EIO;
            break;
        }
        size_t n = word(&ri, raw, 3, 8);
        n += (size_t)snprintf(raw + n, sizeof raw - n, ".%d@corp.example", i);
        OPENSSL_cleanse(&ri, sizeof ri);
        rc = visit(ctx, MS_FIELD_RECIPIENT, i, raw, n);
    }
    for (int i = 0; i < MS_VOCAB_SUBJECTS && !rc; i++) {
        size_t n = word(&r, raw, 3, 9);
        raw[n++] = ' ';
        n += word(&r, raw + n, 3, 9);
        n += (size_t)snprintf(raw + n, sizeof raw - n, " #%u", ms_rng_below(&r, 100000));
        rc = visit(ctx, MS_FIELD_SUBJECT, i, raw, n);
    }
    static const char *const ext[] = {"pdf", "docx", "docm", "exe", "zip", "xlsx"};
    for (int i = 0; i < MS_VOCAB_ATTACH && !rc; i++) {
        size_t n = word(&r, raw, 4, 10);
        n += (size_t)snprintf(raw + n, sizeof raw - n, ".%s", ext[ms_rng_below(&r, 6)]);
        rc = visit(ctx, MS_FIELD_ATTACHMENT, i, raw, n);
    }
    for (int i = 0; i < MS_VOCAB_LINKS && !rc; i++) {
        size_t n = word(&r, raw, 4, 12);
        n += (size_t)snprintf(raw + n, sizeof raw - n, ".%s", tld[ms_rng_below(&r, 8)]);
        rc = visit(ctx, MS_FIELD_LINK, i, raw, n);
    }
    OPENSSL_cleanse(domains, sizeof domains);
    OPENSSL_cleanse(raw, sizeof raw);
    OPENSSL_cleanse(&r, sizeof r);
    return rc;
}

static const char *const field_tags[MS_NFIELD] = {"sender", "recipient", "subject", "attachment", "link"};

typedef struct rekey_ctx {
    ms_pseudonyms *p;
    ms_hmac *h;
} rekey_ctx;

static int rekey_visit(void *ctx, int field, int index, const char *raw, size_t n)
{
    rekey_ctx *c = ctx;
    char(*table[MS_NFIELD])[MS_PSEUDO_LEN] = {c->p->sender, c->p->recipient, c->p->subject, c->p->attach, c->p->link};
    return pseudonym(c->h, field_tags[field], raw, n, table[field][index]);
}

int ms_pseudonyms_rekey(ms_pseudonyms *p, ms_hmac *h, const ms_keys *k, ms_err *e)
{
    int rc = ms_hmac_setkey(h, k->key, sizeof k->key, e);
    if (rc)
        return rc;
    snprintf(p->key_id, sizeof p->key_id, "%s", k->key_id);
    rekey_ctx ctx = {p, h};
    if (vocab_walk(k, p->envs, rekey_visit, &ctx))
        return ms_fail(e, MS_EIO, "libcrypto: HMAC or SHA-256 failed while computing pseudonyms (out of memory?)");
    return MS_OK;
}

typedef struct raw_ctx {
    int field, index;
    char *out;
    size_t cap, n;
} raw_ctx;

static int raw_visit(void *ctx, int field, int index, const char *raw, size_t n)
{
    raw_ctx *c = ctx;
    if (field != c->field || index != c->index)
        return 0;
    c->n = n < c->cap - 1 ? n : c->cap - 1;
    memcpy(c->out, raw, c->n);
    c->out[c->n] = 0;
    return 1; /* found: stop */
}

int ms_vocab_raw(const ms_keys *k, int envs, int field, int index, char *out, size_t cap, ms_err *e)
{
    static const int sizes[MS_NFIELD] = {MS_VOCAB_LOCALS * MS_VOCAB_DOMAINS, 0, MS_VOCAB_SUBJECTS, MS_VOCAB_ATTACH,
                                         MS_VOCAB_LINKS};
    int size = field == MS_FIELD_RECIPIENT ? envs : field >= 0 && field < MS_NFIELD ? sizes[field] : 0;
    if (index < 0 || index >= size || cap < 2)
        return ms_fail(e, MS_EINPUT, "no raw value %d of vocabulary %d", index, field);
    raw_ctx c = {field, index, out, cap, 0};
    /* raw_visit stops the walk with 1 once found; MS_EIO when seeding failed */
    if (vocab_walk(k, envs, raw_visit, &c) == MS_EIO || c.n == 0)
        return ms_fail(e, MS_EIO, "%s", MS_RNG_SEED_FAILED);
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
