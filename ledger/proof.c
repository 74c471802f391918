/* proof.c — RFC 6962 proofs over a lake (contract in proof.h). */
#include "ledger/proof.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/b64.h"
#include "ledger/merkle.h"

/* Leaf hashes of the first n entry hashes (malloc'd). */
static int leaves_of(unsigned char (*h)[32], int64_t n, unsigned char (**out)[32], ms_err *e)
{
    unsigned char (*lh)[32] = malloc((size_t)(n ? n : 1) * 32);
    if (!lh)
        return ms_fail(e, MS_EIO, "out of memory for %" PRId64 " leaf hashes", n);
    for (int64_t i = 0; i < n; i++) {
        int rc = ms_merkle_leaf_hash(h[i], 32, lh[i], e);
        if (rc) {
            free(lh);
            return rc;
        }
    }
    *out = lh;
    return MS_OK;
}

typedef struct tbuf {
    char *p;
    size_t len, cap;
} tbuf;

static int tb_line(tbuf *b, const char *key, const char *val)
{
    size_t need = strlen(key) + strlen(val) + 3;
    if (b->len + need > b->cap) {
        size_t ncap = (b->cap + need) * 2;
        char *np = realloc(b->p, ncap);
        if (!np)
            return -1;
        b->p = np;
        b->cap = ncap;
    }
    b->len += (size_t)snprintf(b->p + b->len, b->cap - b->len, "%s %s\n", key, val);
    return 0;
}

static int tb_hash(tbuf *b, const char *key, const unsigned char h[32])
{
    char s[64];
    ms_b64_encode(h, 32, s);
    return tb_line(b, key, s);
}

static int tb_int(tbuf *b, const char *key, int64_t v)
{
    char s[32];
    snprintf(s, sizeof s, "%" PRId64, v);
    return tb_line(b, key, s);
}

/* With a trusted key, a proof is only made for a tree the key signed the
 * prefix of: a size beyond the signed entries of a running or killed lake
 * would prove membership in a tree nothing vouches for. */
static int within_signed(const char *path, const lake_verify_opts *o, const lake_verify_report *rep, int64_t size,
                         ms_err *e)
{
    if (!o || !o->trusted || size <= rep->signed_size)
        return MS_OK;
    if (!rep->signed_size)
        return ms_fail(e, MS_ECHECK, "%s: the trusted key signed none of it (%s): no proof it could vouch for",
                       path, rep->unsigned_why);
    return ms_fail(e, MS_ECHECK,
                   "%s: the trusted key signed its first %" PRId64 " entries only (%s): a tree of size %" PRId64
                   " is not vouched for; --size %" PRId64 " (or --to) at most",
                   path, rep->signed_size, rep->unsigned_why, size, rep->signed_size);
}

int lake_prove_inclusion(const char *path, const lake_verify_opts *o, int64_t index, int64_t size, char **text,
                         ms_err *e)
{
    unsigned char (*h)[32] = NULL, (*lh)[32] = NULL;
    lake_verify_report rep;
    *text = NULL;
    int rc = lake_read_entry_hashes(path, o, &h, &rep, e);
    if (rc)
        return rc;
    int64_t n = rep.entries;
    if (size == 0)
        size = rep.cp_size > index ? rep.cp_size : n;
    if ((rc = within_signed(path, o, &rep, size, e))) {
        free(h);
        return rc;
    }
    if (index < 0 || size < 1 || index >= size || size > n) {
        free(h);
        return ms_fail(e, MS_EINPUT, "%s: no leaf %" PRId64 " in a tree of size %" PRId64 ": the ledger holds %" PRId64
                       " entries (leaves 0..%" PRId64 ")", path, index, size, n, n - 1);
    }
    unsigned char proof[MS_MERKLE_MAX_PROOF][32], root[32];
    size_t len = 0;
    tbuf b = {0};
    if (!(rc = leaves_of(h, size, &lh, e)) &&
        !(rc = ms_merkle_inclusion_proof((const unsigned char (*)[32])lh, (uint64_t)size, (uint64_t)index, proof,
                                         &len, e)) &&
        !(rc = ms_merkle_root((const unsigned char (*)[32])lh, (uint64_t)size, root, e))) {
        int bad = tb_line(&b, "marlsim", "inclusion proof v1") || tb_line(&b, "origin", rep.origin) ||
                  tb_int(&b, "tree_size", size) || tb_int(&b, "leaf_index", index) ||
                  tb_hash(&b, "entry_hash", h[index]) || tb_hash(&b, "root", root);
        for (size_t i = 0; i < len && !bad; i++)
            bad = tb_hash(&b, "path", proof[i]);
        if (bad)
            rc = ms_fail(e, MS_EIO, "out of memory");
    }
    free(h);
    free(lh);
    if (rc) {
        free(b.p);
        return rc;
    }
    *text = b.p;
    return MS_OK;
}

int lake_prove_consistency(const char *path, const lake_verify_opts *o, int64_t from, int64_t to, char **text,
                           ms_err *e)
{
    unsigned char (*h)[32] = NULL, (*lh)[32] = NULL;
    lake_verify_report rep;
    *text = NULL;
    int rc = lake_read_entry_hashes(path, o, &h, &rep, e);
    if (rc)
        return rc;
    int64_t n = rep.entries;
    if (from < 1 || from > to || to > n) {
        free(h);
        return ms_fail(e, MS_EINPUT, "%s: no consistency proof from %" PRId64 " to %" PRId64 ": sizes must satisfy 0 < "
                       "from <= to <= %" PRId64 " (the ledger's entries)", path, from, to, n);
    }
    if ((rc = within_signed(path, o, &rep, to, e))) {
        free(h);
        return rc;
    }
    unsigned char proof[MS_MERKLE_MAX_PROOF][32], r1[32], r2[32];
    size_t len = 0;
    tbuf b = {0};
    if (!(rc = leaves_of(h, to, &lh, e)) &&
        !(rc = ms_merkle_consistency_proof((const unsigned char (*)[32])lh, (uint64_t)to, (uint64_t)from, proof, &len,
                                           e)) &&
        !(rc = ms_merkle_root((const unsigned char (*)[32])lh, (uint64_t)from, r1, e)) &&
        !(rc = ms_merkle_root((const unsigned char (*)[32])lh, (uint64_t)to, r2, e))) {
        int bad = tb_line(&b, "marlsim", "consistency proof v1") || tb_line(&b, "origin", rep.origin) ||
                  tb_int(&b, "old_size", from) || tb_hash(&b, "old_root", r1) || tb_int(&b, "new_size", to) ||
                  tb_hash(&b, "new_root", r2);
        for (size_t i = 0; i < len && !bad; i++)
            bad = tb_hash(&b, "path", proof[i]);
        if (bad)
            rc = ms_fail(e, MS_EIO, "out of memory");
    }
    free(h);
    free(lh);
    if (rc) {
        free(b.p);
        return rc;
    }
    *text = b.p;
    return MS_OK;
}

/* ---- checking ---- */

typedef struct cursor {
    const char *p, *end;
    int line;
} cursor;

/* The next line "key value": value bounds in *v, *vn. 0 or -1 (missing or not key). */
static int expect(cursor *c, const char *key, const char **v, size_t *vn)
{
    if (c->p >= c->end)
        return -1;
    const char *nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
    if (!nl)
        return -1;
    size_t kl = strlen(key);
    if ((size_t)(nl - c->p) <= kl || memcmp(c->p, key, kl) != 0 || c->p[kl] != ' ')
        return -1;
    *v = c->p + kl + 1;
    *vn = (size_t)(nl - *v);
    c->p = nl + 1;
    c->line++;
    return 0;
}

static int get_int(cursor *c, const char *key, int64_t *out)
{
    const char *v;
    size_t n;
    if (expect(c, key, &v, &n) || n == 0 || n > 19 || (n > 1 && v[0] == '0'))
        return -1;
    int64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9' || x > (INT64_MAX - (v[i] - '0')) / 10)
            return -1; /* not a digit, or beyond int64 (never signed overflow) */
        x = x * 10 + (v[i] - '0');
    }
    *out = x;
    return 0;
}

static int get_hash(cursor *c, const char *key, unsigned char out[32])
{
    const char *v;
    size_t n;
    return expect(c, key, &v, &n) || ms_b64_decode(v, n, out, 32) != 32 ? -1 : 0;
}

int lake_proof_check(const char *text, size_t n, const ms_checkpoint *cp, lake_proof_info *info, ms_err *e)
{
    memset(info, 0, sizeof *info);
    cursor c = {text, text + n, 0};
    const char *v, *ov;
    size_t vn, on;
    if (n > (1u << 20) || memchr(text, 0, n))
        return ms_fail(e, MS_EINPUT, "not a marlsim proof (too large, or a NUL byte)");
    if (expect(&c, "marlsim", &v, &vn))
        return ms_fail(e, MS_EINPUT, "not a marlsim proof (line 1)");
    if (vn == 18 && !memcmp(v, "inclusion proof v1", 18))
        info->consistency = 0;
    else if (vn == 20 && !memcmp(v, "consistency proof v1", 20))
        info->consistency = 1;
    else
        return ms_fail(e, MS_EINPUT, "line 1: unknown proof kind (allowed: inclusion proof v1, consistency proof v1)");
    if (expect(&c, "origin", &ov, &on) || on == 0 || on >= sizeof info->origin)
        return ms_fail(e, MS_EINPUT, "line 2: expected origin ORIGIN");
    for (size_t i = 0; i < on; i++)
        if ((unsigned char)ov[i] < 0x20 || ov[i] == 0x7f)
            return ms_fail(e, MS_EINPUT, "line 2: control character in the origin");
    memcpy(info->origin, ov, on);
    unsigned char root[32], old_root[32], leaf_in[32], proof[MS_MERKLE_MAX_PROOF][32];
    int64_t size = 0, index = 0, old_size = 0;
    if (!info->consistency) {
        if (get_int(&c, "tree_size", &size) || get_int(&c, "leaf_index", &index) ||
            get_hash(&c, "entry_hash", leaf_in) || get_hash(&c, "root", root))
            return ms_fail(e, MS_EINPUT, "line %d: expected tree_size N, leaf_index I, entry_hash B64, root B64",
                           c.line + 1);
    } else {
        if (get_int(&c, "old_size", &old_size) || get_hash(&c, "old_root", old_root) ||
            get_int(&c, "new_size", &size) || get_hash(&c, "new_root", root))
            return ms_fail(e, MS_EINPUT, "line %d: expected old_size N, old_root B64, new_size N, new_root B64",
                           c.line + 1);
    }
    size_t len = 0;
    while (c.p < c.end) {
        if (len == MS_MERKLE_MAX_PROOF || get_hash(&c, "path", proof[len]))
            return ms_fail(e, MS_EINPUT, "line %d: expected path B64 (at most %d)", c.line + 1, MS_MERKLE_MAX_PROOF);
        len++;
    }
    int rc;
    ms_err ve;
    if (!info->consistency) {
        unsigned char leaf[32];
        if ((rc = ms_merkle_leaf_hash(leaf_in, 32, leaf, e)))
            return rc;
        rc = ms_merkle_verify_inclusion(leaf, (uint64_t)index, (uint64_t)size, (const unsigned char (*)[32])proof, len,
                                        root, &ve);
    } else {
        rc = ms_merkle_verify_consistency((uint64_t)old_size, (uint64_t)size, old_root, root,
                                          (const unsigned char (*)[32])proof, len, &ve);
    }
    if (rc)
        return ms_fail(e, rc == MS_EIO ? MS_EIO : MS_ECHECK, "the proof does not check out: %s", ve.msg);
    info->size = size;
    info->index = index;
    info->old_size = old_size;
    ms_b64_encode(root, 32, info->root);
    if (cp) {
        int match = !strcmp(cp->origin, info->origin) &&
                    (((int64_t)cp->size == size && !memcmp(cp->root, root, 32)) ||
                     (info->consistency && (int64_t)cp->size == old_size && !memcmp(cp->root, old_root, 32)));
        if (!match)
            return ms_fail(e, MS_ECHECK, "the proof checks out, but not against the given checkpoint (origin, tree "
                           "size or root differ)");
    }
    return MS_OK;
}
