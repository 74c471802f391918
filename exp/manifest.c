/* manifest.c — see manifest.h. */
#include "exp/manifest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/b64.h"
#include "base/file.h"
#include "base/hash.h"
#include "ledger/merkle.h"
#include "ledger/verify.h"

#define HEADER "marlsim-manifest v1\n"

int manifest_shard_id(const char *run_id, int rank, int ranks, char out[33], ms_err *e)
{
    char src[128];
    int n = snprintf(src, sizeof src, "marlsim-shard-v1|%s|%d|%d", run_id, rank, ranks);
    unsigned char md[32];
    if (n < 0 || (size_t)n >= sizeof src)
        return ms_fail(e, MS_EINPUT, "manifest: run id '%.40s' is too long", run_id);
    int rc = ms_sha256(src, (size_t)n, md, e);
    if (!rc)
        ms_hex(md, 16, out);
    return rc;
}

int manifest_base(const char *out, char *base, size_t n, ms_err *e)
{
    size_t len = strlen(out);
    if (len >= 3 && !strcmp(out + len - 3, ".db"))
        len -= 3;
    if (len + 40 >= n) /* room for ".rank-K-of-N.db" */
        return ms_fail(e, MS_EINPUT, "%s: the path is too long", out);
    memcpy(base, out, len);
    base[len] = 0;
    return MS_OK;
}

void manifest_shard_path(const char *base, int rank, int ranks, char *path, size_t n)
{
    snprintf(path, n, "%s.rank-%d-of-%d.db", base, rank, ranks);
}

void manifest_path(const char *base, char *path, size_t n)
{
    snprintf(path, n, "%s.manifest", base);
}

int manifest_is_manifest(const char *path, char *base, size_t n)
{
    static const char ext[] = ".manifest";
    size_t len = strlen(path), el = sizeof ext - 1;
    if (len <= el || strcmp(path + len - el, ext) || len - el >= n)
        return 0;
    memcpy(base, path, len - el);
    base[len - el] = 0;
    return 1;
}

/* The shard line of rank k (with its '\n') into line; its length. */
static size_t shard_line(int k, const manifest_shard *s, char *line, size_t cap)
{
    char root[64];
    ms_b64_encode(s->root, 32, root);
    int n = snprintf(line, cap, "shard %d %lld %s\n", k, (long long)s->size, root);
    return n < 0 ? 0 : (size_t)n;
}

/* The Merkle root over the shard lines. */
static int shards_root(int ranks, const manifest_shard *shards, unsigned char root[32], ms_err *e)
{
    ms_merkle_acc acc;
    ms_merkle_acc_init(&acc);
    char line[160];
    for (int k = 0; k < ranks; k++) {
        unsigned char leaf[32];
        size_t n = shard_line(k, &shards[k], line, sizeof line);
        int rc = ms_merkle_leaf_hash(line, n, leaf, e);
        if (!rc)
            rc = ms_merkle_acc_push(&acc, leaf, e);
        if (rc)
            return rc;
    }
    return ms_merkle_acc_root(&acc, root, e);
}

/* The text of a manifest into buf (cap bytes); its length, or 0 when it
 * does not fit. */
static int manifest_text(const char *run_id, const char *config_sha256, const char *status, int64_t env_steps,
                         int ranks, const manifest_shard *shards, char *buf, size_t cap, size_t *len, ms_err *e)
{
    unsigned char root[32];
    char root64[64];
    int rc = shards_root(ranks, shards, root, e);
    if (rc)
        return rc;
    ms_b64_encode(root, 32, root64);
    int n = snprintf(buf, cap, HEADER "run %s\nranks %d\nconfig %s\nstatus %s\nenv_steps %lld\nroot %s\n", run_id,
                     ranks, config_sha256, status, (long long)env_steps, root64);
    size_t at = n < 0 ? cap : (size_t)n;
    for (int k = 0; k < ranks && at < cap; k++)
        at += shard_line(k, &shards[k], buf + at, cap - at);
    if (at >= cap)
        return ms_fail(e, MS_EINPUT, "manifest: %d shards do not fit a manifest (at most %d)", ranks,
                       MS_MANIFEST_MAX_RANKS);
    *len = at;
    return MS_OK;
}

int manifest_write(const char *path, const char *run_id, const char *config_sha256, const char *status,
                   int64_t env_steps, int ranks, const manifest_shard *shards, const ms_note_signer *signer,
                   char root_b64[64], ms_err *e)
{
    if (ranks < 1 || ranks > MS_MANIFEST_MAX_RANKS)
        return ms_fail(e, MS_EINPUT, "manifest: %d shards (allowed 1..%d)", ranks, MS_MANIFEST_MAX_RANKS);
    char *text = malloc(MS_NOTE_MAX), *note = malloc(MS_NOTE_MAX + 1);
    size_t tlen = 0, nlen = 0;
    int rc = text && note ? MS_OK : ms_fail(e, MS_EIO, "out of memory");
    if (!rc)
        rc = manifest_text(run_id, config_sha256, status, env_steps, ranks, shards, text, MS_NOTE_MAX - 512, &tlen,
                           e);
    root_b64[0] = 0;
    if (!rc) { /* the root line's value */
        const char *r = strstr(text, "\nroot ");
        size_t k = 0;
        for (r += 6; *r != '\n' && k < 63; r++)
            root_b64[k++] = *r;
        root_b64[k] = 0;
    }
    if (!rc && signer)
        rc = ms_note_sign(text, tlen, signer, note, MS_NOTE_MAX + 1, &nlen, e);
    if (!rc)
        rc = ms_write_atomic(path, signer ? note : text, signer ? nlen : tlen, 0644, 1, e);
    free(text);
    free(note);
    return rc;
}

static int bad(manifest_report *rep, int shard, const char *word, ms_err *e, const char *fmt, const char *a,
               const char *b)
{
    rep->bad_shard = shard;
    snprintf(rep->word, sizeof rep->word, "%s", word);
    return ms_fail(e, MS_ECHECK, fmt, a, b);
}

/* Reads the next line of text[*at..n) (without '\n') into line; 0 at the
 * end or for a line too long. */
static int next_line(const char *text, size_t n, size_t *at, char *line, size_t cap)
{
    const char *p = text + *at, *nl = memchr(p, '\n', n - *at);
    if (*at >= n || !nl || (size_t)(nl - p) >= cap)
        return 0;
    memcpy(line, p, (size_t)(nl - p));
    line[nl - p] = 0;
    *at += (size_t)(nl - p) + 1;
    return 1;
}

/* Strict parse of the manifest text (manifest.h); shards malloc'd. */
static int parse(const char *path, const char *text, size_t n, manifest_report *rep, manifest_shard **out,
                 ms_err *e)
{
    char line[200], root64[64], extra;
    size_t at = 0;
    long long v = 0;
    *out = NULL;
    if (n < sizeof HEADER - 1 || memcmp(text, HEADER, sizeof HEADER - 1))
        return ms_fail(e, MS_EINPUT, "%s: not a marlsim manifest (no '%.19s' line)", path, HEADER);
    at = sizeof HEADER - 1;
    int ok = next_line(text, n, &at, line, sizeof line) && sscanf(line, "run %32[0-9a-f]%c", rep->run_id, &extra) == 1 &&
             strlen(rep->run_id) == 32 && next_line(text, n, &at, line, sizeof line) &&
             sscanf(line, "ranks %d%c", &rep->ranks, &extra) == 1 && rep->ranks >= 1 &&
             rep->ranks <= MS_MANIFEST_MAX_RANKS && next_line(text, n, &at, line, sizeof line) &&
             sscanf(line, "config %64[0-9a-f]%c", rep->config_sha256, &extra) == 1 &&
             strlen(rep->config_sha256) == 64 && next_line(text, n, &at, line, sizeof line) &&
             sscanf(line, "status %15[a-z]%c", rep->status, &extra) == 1 &&
             (!strcmp(rep->status, "completed") || !strcmp(rep->status, "interrupted")) &&
             next_line(text, n, &at, line, sizeof line) && sscanf(line, "env_steps %lld%c", &v, &extra) == 1 &&
             v >= 0 && next_line(text, n, &at, line, sizeof line) &&
             sscanf(line, "root %63s%c", rep->root, &extra) == 1;
    if (!ok)
        return bad(rep, -1, "TAMPERED", e, "%s: the manifest's header lines are not what marlsim writes%s", path, "");
    rep->env_steps = v;
    manifest_shard *s = calloc((size_t)rep->ranks, sizeof *s);
    if (!s)
        return ms_fail(e, MS_EIO, "out of memory");
    for (int k = 0; k < rep->ranks; k++) {
        int kk = -1;
        long long size = -1;
        if (!next_line(text, n, &at, line, sizeof line) ||
            sscanf(line, "shard %d %lld %63s%c", &kk, &size, root64, &extra) != 3 || kk != k || size < 1 ||
            ms_b64_decode(root64, strlen(root64), s[k].root, 32) != 32) {
            free(s);
            return bad(rep, -1, "TAMPERED", e, "%s: the manifest's shard lines are not what marlsim writes%s", path,
                       "");
        }
        s[k].size = size;
    }
    if (at != n) {
        free(s);
        return bad(rep, -1, "TAMPERED", e, "%s: the manifest has lines after its last shard%s", path, "");
    }
    /* The text must be exactly what marlsim writes for these values (so
     * the root line is the one the shard lines give). */
    char *again = malloc(MS_NOTE_MAX);
    size_t alen = 0;
    int rc = again ? manifest_text(rep->run_id, rep->config_sha256, rep->status, rep->env_steps, rep->ranks, s, again,
                                   MS_NOTE_MAX, &alen, e)
                   : ms_fail(e, MS_EIO, "out of memory");
    if (!rc && (alen != n || memcmp(again, text, n)))
        rc = bad(rep, -1, "TAMPERED", e, "%s: the manifest's root is not the root of its shard lines%s", path, "");
    free(again);
    if (rc) {
        free(s);
        return rc;
    }
    *out = s;
    return MS_OK;
}


/* The RFC 6962 root over n entry hashes (leaf = SHA-256(0x00 || hash)). */
static int entries_root(const unsigned char (*hashes)[32], int64_t n, unsigned char root[32], ms_err *e)
{
    ms_merkle_acc acc;
    ms_merkle_acc_init(&acc);
    for (int64_t i = 0; i < n; i++) {
        unsigned char leaf[32];
        int rc = ms_merkle_leaf_hash(hashes[i], 32, leaf, e);
        if (!rc)
            rc = ms_merkle_acc_push(&acc, leaf, e);
        if (rc)
            return rc;
    }
    return ms_merkle_acc_root(&acc, root, e);
}

/* Shard k: present, verifying, the run's and the manifest's line. */
static int check_shard(const char *base, int k, const manifest_shard *s, const ms_note_verifier *trusted,
                       manifest_report *rep, ms_err *e)
{
    char path[MS_PATH_MAX + 160], id[33], why[sizeof e->msg], kk[16];
    struct stat st;
    manifest_shard_path(base, k, rep->ranks, path, sizeof path);
    snprintf(kk, sizeof kk, "%d", k);
    if (stat(path, &st))
        return bad(rep, k, "MISSING", e, "shard %s (%s) is missing", kk, path);
    int rc = manifest_shard_id(rep->run_id, k, rep->ranks, id, e);
    if (rc)
        return rc;
    lake_verify_opts vo = {0};
    vo.trusted = trusted;
    lake_run_meta m;
    lake_verify_report lr;
    unsigned char (*hashes)[32] = NULL;
    memset(&lr, 0, sizeof lr);
    rc = lake_read_verified(path, &vo, &m, NULL, 0, NULL, &hashes, &lr, e);
    if (rc == MS_ECHECK || rc == MS_EINPUT) {
        snprintf(why, sizeof why, "%s", e->msg);
        return bad(rep, k, lr.foreign ? "FOREIGN" : "TAMPERED", e, "shard %s: %s", kk, why);
    }
    if (rc)
        return rc;
    unsigned char root[32];
    if (strcmp(lr.run_id, id))
        rc = bad(rep, k, "SWAPPED", e, "shard %s (%s) is not this run's shard of its rank: its run id differs (another "
                 "rank's or another run's lake)", kk, path);
    else if (strcmp(m.config_sha256, rep->config_sha256))
        rc = bad(rep, k, "TAMPERED", e, "shard %s (%s): its config hash is not the manifest's", kk, path);
    else if (strcmp(lr.status, rep->status))
        rc = bad(rep, k, "TAMPERED", e, "shard %s: its status is not the manifest's (%s)", kk, lr.status);
    else if (lr.entries != s->size)
        rc = bad(rep, k, "TAMPERED", e, "shard %s (%s): its ledger's size is not the one the manifest binds", kk,
                 path);
    else if (trusted && !lr.authenticated)
        rc = bad(rep, k, "UNSIGNED", e, "shard %s: the trusted key cannot vouch for it (%s)", kk, lr.unsigned_why);
    else if (!(rc = entries_root((const unsigned char (*)[32])hashes, lr.entries, root, e)) && memcmp(root, s->root, 32))
        rc = bad(rep, k, "TAMPERED", e, "shard %s (%s): its ledger's root is not the one the manifest binds", kk,
                 path);
    if (!rc) {
        rep->entries += lr.entries;
        rep->rows += lr.total_rows;
    }
    free(hashes);
    lake_run_meta_release(&m);
    return rc;
}

/* manifest_open, keeping the shard lines (*shards: malloc'd) and BASE. */
static int open_manifest(const char *path, const ms_note_verifier *trusted, manifest_report *rep,
                         manifest_shard **shards, char *base, size_t nbase, ms_err *e)
{
    memset(rep, 0, sizeof *rep);
    *shards = NULL;
    rep->bad_shard = -1;
    if (!manifest_is_manifest(path, base, nbase))
        return ms_fail(e, MS_EINPUT, "%s: a manifest's name ends in .manifest", path);
    char *buf = NULL;
    size_t n = 0, tlen = 0;
    int rc = ms_read_small(path, MS_NOTE_MAX, &buf, &n, e);
    if (rc)
        return rc;
    if (n < sizeof HEADER - 1 || memcmp(buf, HEADER, sizeof HEADER - 1)) {
        free(buf);
        return ms_fail(e, MS_EINPUT, "%s: not a marlsim manifest (no '%.19s' line)", path, HEADER);
    }
    /* Signed (a note: text, blank line, signatures) or a development-key
     * run's bare text. */
    rep->signed_ = strstr(buf, "\n\n") != NULL;
    if (rep->signed_) {
        rc = ms_note_parse(buf, n, &tlen, NULL, NULL, e);
        if (rc)
            rc = bad(rep, -1, "TAMPERED", e, "%s: its signature lines are malformed%s", path, "");
    } else {
        tlen = n;
    }
    if (!rc && trusted && !rep->signed_)
        rc = bad(rep, -1, "UNSIGNED", e, "%s: the manifest is not signed (a development-key run): the trusted key "
                 "cannot vouch for it%s", path, "");
    if (!rc && trusted && (rc = ms_note_open(buf, n, trusted, &tlen, e)) == MS_ECHECK)
        rc = bad(rep, -1, "FOREIGN", e, "%s: the manifest is not signed by the trusted key (or was altered)%s", path,
                 "");
    if (!rc)
        rc = parse(path, buf, tlen, rep, shards, e);
    free(buf);
    return rc;
}

/* manifest_open, then (with shards_too) every shard. */
static int check(const char *path, const ms_note_verifier *trusted, int shards_too, manifest_report *rep, ms_err *e)
{
    manifest_shard *shards;
    char base[MS_PATH_MAX + 64];
    int rc = open_manifest(path, trusted, rep, &shards, base, sizeof base, e);
    for (int k = 0; !rc && shards_too && shards && k < rep->ranks; k++)
        rc = check_shard(base, k, &shards[k], trusted, rep, e);
    free(shards);
    rep->authenticated = !rc && shards_too && trusted != NULL;
    return rc;
}

int manifest_open(const char *path, const ms_note_verifier *trusted, manifest_report *rep, ms_err *e)
{
    return check(path, trusted, 0, rep, e);
}

int manifest_verify(const char *path, const ms_note_verifier *trusted, manifest_report *rep, ms_err *e)
{
    return check(path, trusted, 1, rep, e);
}
