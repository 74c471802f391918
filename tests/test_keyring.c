/* test_keyring.c — keys/keyring: creation and signing, the refusals of load
 * (permissions, file types, owner, missing), the parse-error corpus (as a
 * file and through a command), rotate and destroy, concurrent rotation,
 * source resolution, command sources, the development keyring, and that no
 * message ever carries key bytes.
 *
 * Every keyring lives in a mkdtemp directory under /tmp, removed at the end.
 * Key material is drawn from RAND_bytes at run time (never a literal here).
 * Every refusal's message is recorded (note_err) and every key the tests see
 * is registered (note_secret); the last test checks no message contains any
 * registered key, in hex or base64, whole or as a 12-character prefix. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "base/b64.h"
#include "keys/keyring.h"
#include "tests/check.h"

/* ---- scratch directories and files ---------------------------------------- */

static void tdir_new(char dir[64])
{
    snprintf(dir, 64, "/tmp/marlsim-keyring-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        abort();
    }
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    return flag == FTW_DP ? rmdir(p) : unlink(p);
}

static void tdir_rm(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void path_in(char *out, size_t n, const char *dir, const char *name)
{
    int w = snprintf(out, n, "%s/%s", dir, name);
    if (w < 0 || (size_t)w >= n)
        abort();
}

/* Writes a fresh file of the given mode (replacing what was there). */
static int put_file(const char *path, const void *p, size_t n, mode_t mode)
{
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    for (size_t done = 0; done < n;) {
        ssize_t w = write(fd, (const char *)p + done, n - done);
        if (w <= 0) {
            close(fd);
            return -1;
        }
        done += (size_t)w;
    }
    int rc = fchmod(fd, mode);
    return close(fd) == 0 ? rc : -1;
}

/* The whole file, NUL-terminated (NULL on error). */
static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0, got;
    char *b = malloc(cap + 1);
    while (b && (got = fread(b + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            char *nb = realloc(b, 2 * cap + 1);
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (b) {
        b[len] = 0;
        if (n)
            *n = len;
    }
    return b;
}

static void free_secret_text(char *p, size_t n)
{
    if (p) {
        OPENSSL_cleanse(p, n);
        free(p);
    }
}

static int file_mode(const char *p)
{
    struct stat sb;
    return lstat(p, &sb) == 0 ? (int)(sb.st_mode & 07777) : -1;
}

/* Entries of dir other than "." and "..". */
static int dir_entries(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    if (d)
        closedir(d);
    return n;
}

/* ---- independent crypto helpers (straight EVP, not keys/) ---------------- */

static void hexs(const unsigned char *in, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[in[i] >> 4];
        out[2 * i + 1] = d[in[i] & 15];
    }
    out[2 * n] = 0;
}

static void sha256_parts(const void *a, size_t na, const void *b, size_t nb, unsigned char out[32])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned int l = 0;
    if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 || EVP_DigestUpdate(c, a, na) != 1 ||
        EVP_DigestUpdate(c, b, nb) != 1 || EVP_DigestFinal_ex(c, out, &l) != 1)
        memset(out, 0, 32);
    EVP_MD_CTX_free(c);
}

static void fp_of(const unsigned char key[32], char out[33])
{
    static const char tag[] = "marlsim-key-fingerprint-v1";
    unsigned char d[32];
    sha256_parts(tag, sizeof tag - 1, key, 32, d);
    hexs(d, 16, out);
}

static void random_bytes(unsigned char *p, size_t n)
{
    if (RAND_bytes(p, (int)n) != 1)
        abort();
}

static int ed25519_verify(const unsigned char pub[32], const void *msg, size_t n, const unsigned char sig[64])
{
    EVP_PKEY *pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = pk && c && EVP_DigestVerifyInit(c, NULL, NULL, NULL, pk) == 1 &&
             EVP_DigestVerify(c, sig, 64, msg, n) == 1;
    EVP_MD_CTX_free(c);
    EVP_PKEY_free(pk);
    return ok;
}

/* ---- what every test records ---------------------------------------------- */

#define MAX_MSGS 2048
static char *msgs[MAX_MSGS];
static int nmsgs;

/* Records a refusal's message for the final scan. */
static void note_err(const ms_err *e)
{
    if (nmsgs < MAX_MSGS)
        msgs[nmsgs++] = strdup(e->msg);
}

/* rc, with the message recorded when it is a failure. */
static int noted(int rc, const ms_err *e)
{
    if (rc)
        note_err(e);
    return rc;
}

#define MAX_SECRETS 4096
typedef struct secret {
    char b64[64];
    char hex[80];
} secret;
static secret secrets[MAX_SECRETS];
static int nsecrets;

/* Registers key material (up to 36 bytes) as hex and base64. */
static void note_secret(const unsigned char *k, size_t n)
{
    if (nsecrets < MAX_SECRETS && n <= 36) {
        ms_b64_encode(k, n, secrets[nsecrets].b64);
        hexs(k, n, secrets[nsecrets].hex);
        nsecrets++;
    }
}

/* 1 when msg holds s or the first 12 characters of s. */
static int holds(const char *msg, const char *s)
{
    char pre[13];
    snprintf(pre, sizeof pre, "%.12s", s);
    return strstr(msg, s) != NULL || strstr(msg, pre) != NULL;
}

static int leaks_secret(const char *msg, const secret *s)
{
    return holds(msg, s->b64) || holds(msg, s->hex);
}

/* ---- loading helpers -------------------------------------------------------- */

static int load_src(int kind, const char *spec, ms_keyring **k, ms_err *e)
{
    ms_keyring_source src;
    memset(&src, 0, sizeof src);
    src.kind = kind;
    snprintf(src.spec, sizeof src.spec, "%s", spec);
    snprintf(src.origin, sizeof src.origin, "test");
    e->msg[0] = 0;
    return noted(ms_keyring_load(&src, k, e), e);
}

static int load_path(const char *path, ms_keyring **k, ms_err *e)
{
    return load_src(MS_KEYRING_FILE, path, k, e);
}

/* Loads path through `cat PATH`. */
static int load_cat(const char *path, ms_keyring **k, ms_err *e)
{
    char cmd[MS_PATH_MAX];
    snprintf(cmd, sizeof cmd, "cat %s", path);
    return load_src(MS_KEYRING_CMD, cmd, k, e);
}

/* Frees *k (a refusal that unexpectedly loaded must not leak). */
static void drop(ms_keyring **k)
{
    ms_keyring_free(*k);
    *k = NULL;
}

/* Registers every key of a loaded keyring the API exposes. */
static void note_keyring(const ms_keyring *k)
{
    unsigned char key[32];
    ms_err e;
    int n = ms_keyring_generations(k);
    for (int g = 0; g < n && g < 64; g++)
        if (ms_keyring_hmac_key(k, g, key, &e) == MS_OK)
            note_secret(key, 32);
    if (ms_keyring_commit_key(k, key, &e) == MS_OK)
        note_secret(key, 32);
    OPENSSL_cleanse(key, sizeof key);
}

/* Registers the signing seed of a keyring file (read from its text: the API
 * never exposes it). Returns 1 when found and copies it to seed if non-NULL. */
static int note_file_seed(const char *path, unsigned char seed[32])
{
    size_t n;
    char *t = slurp(path, &n);
    int found = 0;
    for (char *l = t; l && *l;) {
        char *nl = strchr(l, '\n');
        if (!strncmp(l, "signing ", 8)) {
            char *sp = nl ? nl : l + strlen(l);
            char *last = sp;
            while (last > l && last[-1] != ' ')
                last--;
            unsigned char s[32];
            if (ms_b64_decode(last, (size_t)(sp - last), s, 32) == 32) {
                note_secret(s, 32);
                if (seed)
                    memcpy(seed, s, 32);
                found = 1;
            }
            OPENSSL_cleanse(s, sizeof s);
        }
        l = nl ? nl + 1 : l + strlen(l);
    }
    free_secret_text(t, n);
    return found;
}

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- create, load, sign ------------------------------------------------------ */

static void keyring_create_sign_verify(void)
{
    char dir[64], path[256], p2[256], sub[256], sub2[256];
    tdir_new(dir);
    path_in(path, sizeof path, dir, "a/b/keyring");
    path_in(sub, sizeof sub, dir, "a");
    path_in(sub2, sizeof sub2, dir, "a/b");
    ms_err e;
    mode_t old = umask(022);
    int rc = noted(ms_keyring_create(path, "test-signer", &e), &e);
    umask(old);
    CHECK(rc == MS_OK, "create: %s", e.msg);
    CHECK(file_mode(path) == 0600, "keyring mode %o", file_mode(path));
    CHECK(file_mode(sub2) == 0700, "created parent mode %o", file_mode(sub2));
    CHECK(file_mode(sub) == 0755, "created ancestor mode %o", file_mode(sub));
    CHECK(dir_entries(sub2) == 1, "only the keyring in its directory (%d entries)", dir_entries(sub2));

    size_t n0;
    char *text = slurp(path, &n0);
    CHECK(text && strstr(text, "SECRET") && strstr(text, "SECRET") < strstr(text, "marlsim-keyring 1"),
          "header comment says the file is secret");
    CHECK(text && text[0] == '#', "file starts with the comment");
    free_secret_text(text, n0);

    ms_keyring *k = NULL, *k2 = NULL;
    rc = load_path(path, &k, &e);
    CHECK(rc == MS_OK && k, "load: %s", e.msg);
    if (k) {
        note_keyring(k);
        CHECK(!ms_keyring_is_dev(k) && ms_keyring_can_sign(k), "file keyring signs");
        CHECK(!strcmp(ms_keyring_signer_name(k), "test-signer"), "signer %s", ms_keyring_signer_name(k));
        CHECK(!strcmp(ms_keyring_origin(k), path), "origin %s", ms_keyring_origin(k));
        CHECK(ms_keyring_generations(k) == 1, "generations %d", ms_keyring_generations(k));
        ms_key_generation g;
        unsigned char key[32];
        char fp[33];
        CHECK(ms_keyring_generation(k, 0, &g, &e) == MS_OK && g.gen == 0 && !strcmp(g.key_id, "k0") &&
                  !g.destroyed,
              "generation 0: %s", e.msg);
        CHECK(strlen(g.created) == 20 && g.created[4] == '-' && g.created[10] == 'T' && g.created[19] == 'Z',
              "created %s", g.created);
        CHECK(ms_keyring_hmac_key(k, 0, key, &e) == MS_OK, "hmac key 0: %s", e.msg);
        fp_of(key, fp);
        CHECK(!strcmp(fp, g.fingerprint), "fingerprint %s vs %s", g.fingerprint, fp);
        OPENSSL_cleanse(key, sizeof key);

        unsigned char pub[32], sig[64], seed[32], pub2[32];
        static const char msg[] = "a message the keyring signs";
        CHECK(ms_keyring_public_key(k, pub, &e) == MS_OK, "public key: %s", e.msg);
        CHECK(ms_keyring_sign(k, msg, sizeof msg - 1, sig, &e) == MS_OK, "sign: %s", e.msg);
        CHECK(ed25519_verify(pub, msg, sizeof msg - 1, sig), "signature verifies under the public key");
        CHECK(!ed25519_verify(pub, msg, sizeof msg - 2, sig), "signature does not verify another message");
        sig[5] ^= 1;
        CHECK(!ed25519_verify(pub, msg, sizeof msg - 1, sig), "a flipped signature does not verify");
        /* The public key belongs to the private key in the file. */
        CHECK(note_file_seed(path, seed), "signing line found in the file");
        EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
        size_t pl = 32;
        CHECK(pk && EVP_PKEY_get_raw_public_key(pk, pub2, &pl) == 1 && !memcmp(pub, pub2, 32),
              "public key matches the file's private key");
        EVP_PKEY_free(pk);
        OPENSSL_cleanse(seed, sizeof seed);

        /* A second keyring has different keys throughout. */
        path_in(p2, sizeof p2, dir, "second");
        CHECK(noted(ms_keyring_create(p2, "test-signer", &e), &e) == MS_OK, "second create: %s", e.msg);
        CHECK(load_path(p2, &k2, &e) == MS_OK, "second load: %s", e.msg);
        if (k2) {
            note_keyring(k2);
            note_file_seed(p2, NULL);
            unsigned char a[32], b[32];
            CHECK(ms_keyring_public_key(k2, pub2, &e) == MS_OK && memcmp(pub, pub2, 32), "signing keys differ");
            ms_keyring_hmac_key(k, 0, a, &e);
            ms_keyring_hmac_key(k2, 0, b, &e);
            CHECK(memcmp(a, b, 32) != 0, "hmac keys differ");
            ms_keyring_commit_key(k, a, &e);
            ms_keyring_commit_key(k2, b, &e);
            CHECK(memcmp(a, b, 32) != 0, "commitment keys differ");
            OPENSSL_cleanse(a, 32);
            OPENSSL_cleanse(b, 32);
        }
    }
    ms_keyring_free(k);
    ms_keyring_free(k2);

    /* Refusals of create: an existing file (left unchanged), a dangling
     * symlink, bad names. */
    size_t na, nb;
    char *before = slurp(path, &na);
    rc = noted(ms_keyring_create(path, "test-signer", &e), &e);
    CHECK(rc == MS_EINPUT && strstr(e.msg, "already exists") && strstr(e.msg, path), "create over a keyring: %d %s",
          rc, e.msg);
    char *after = slurp(path, &nb);
    CHECK(before && after && na == nb && !memcmp(before, after, na), "refused create left the keyring alone");
    free_secret_text(before, na);
    free_secret_text(after, nb);
    char ln[256];
    path_in(ln, sizeof ln, dir, "dangling");
    CHECK(symlink("/nonexistent/marlsim-keyring", ln) == 0, "symlink");
    rc = noted(ms_keyring_create(ln, "test-signer", &e), &e);
    CHECK(rc == MS_EINPUT && strstr(e.msg, "already exists"), "create over a dangling symlink: %s", e.msg);
    char p3[256], name[200];
    path_in(p3, sizeof p3, dir, "named");
    rc = noted(ms_keyring_create(p3, "bad+name", &e), &e);
    CHECK(rc == MS_EINPUT && strstr(e.msg, "name"), "name with '+': %s", e.msg);
    rc = noted(ms_keyring_create(p3, "", &e), &e);
    CHECK(rc == MS_EINPUT && strstr(e.msg, "name"), "empty name: %s", e.msg);
    rc = noted(ms_keyring_create(p3, "two words", &e), &e);
    CHECK(rc == MS_EINPUT && strstr(e.msg, "name"), "name with a space: %s", e.msg);
    memset(name, 'n', 129);
    name[129] = 0;
    rc = noted(ms_keyring_create(p3, name, &e), &e);
    CHECK(rc == MS_EINPUT && strstr(e.msg, "name"), "129-byte name: %s", e.msg);
    CHECK(file_mode(p3) == -1, "no file after refused names");
    name[128] = 0;
    rc = noted(ms_keyring_create(p3, name, &e), &e);
    CHECK(rc == MS_OK, "128-byte name: %s", e.msg);
    note_file_seed(p3, NULL);
    path_in(p3, sizeof p3, dir, "trailing/");
    rc = noted(ms_keyring_create(p3, "x", &e), &e);
    CHECK(rc == MS_EINPUT && strstr(e.msg, "directory"), "path ending in '/': %s", e.msg);

    /* An existing directory keeps its mode. */
    char d751[256], p4[256];
    path_in(d751, sizeof d751, dir, "d751");
    CHECK(mkdir(d751, 0751) == 0 && chmod(d751, 0751) == 0, "mkdir");
    path_in(p4, sizeof p4, d751, "keyring");
    rc = noted(ms_keyring_create(p4, "x", &e), &e);
    CHECK(rc == MS_OK && file_mode(d751) == 0751 && file_mode(p4) == 0600, "create in an existing directory: %s",
          e.msg);
    note_file_seed(p4, NULL);
    ms_keyring *k4 = NULL;
    if (load_path(p4, &k4, &e) == MS_OK)
        note_keyring(k4);
    ms_keyring_free(k4);
    tdir_rm(dir);
}

/* ---- load refusals ------------------------------------------------------------ */

static void keyring_load_refusals(void)
{
    char dir[64], path[256], p[256];
    tdir_new(dir);
    path_in(path, sizeof path, dir, "k");
    ms_err e;
    ms_keyring *k = NULL;
    CHECK(noted(ms_keyring_create(path, "test-signer", &e), &e) == MS_OK, "create: %s", e.msg);
    note_file_seed(path, NULL);
    if (load_path(path, &k, &e) == MS_OK)
        note_keyring(k);
    ms_keyring_free(k);
    k = NULL;

    static const int bad[] = {0640, 0604, 0660, 0620, 0602, 0644, 0700 | 0004, 0610};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char mode[8];
        snprintf(mode, sizeof mode, "%04o", bad[i]);
        CHECK(chmod(path, (mode_t)bad[i]) == 0, "chmod");
        int rc = load_path(path, &k, &e);
        CHECK(rc == MS_EINPUT && !k, "mode %s accepted (%d)", mode, rc);
        drop(&k);
        CHECK(strstr(e.msg, "chmod 600") && strstr(e.msg, mode) && strstr(e.msg, path), "mode %s message: %s", mode,
              e.msg);
    }
    static const int good[] = {0400, 0600, 0700};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        CHECK(chmod(path, (mode_t)good[i]) == 0, "chmod");
        int rc = load_path(path, &k, &e);
        CHECK(rc == MS_OK && k, "mode %04o refused: %s", good[i], e.msg);
        ms_keyring_free(k);
        k = NULL;
    }
    chmod(path, 0600);

    /* A symlink to a valid keyring. */
    path_in(p, sizeof p, dir, "link");
    CHECK(symlink(path, p) == 0, "symlink");
    int rc = load_path(p, &k, &e);
    CHECK(rc == MS_EINPUT && !k && strstr(e.msg, "symbolic link") && strstr(e.msg, p), "symlink: %d %s", rc, e.msg);
    drop(&k);

    /* A directory. */
    path_in(p, sizeof p, dir, "adir");
    CHECK(mkdir(p, 0700) == 0, "mkdir");
    rc = load_path(p, &k, &e);
    CHECK(rc == MS_EINPUT && !k && strstr(e.msg, "directory") && strstr(e.msg, "not a regular file"),
          "directory: %d %s", rc, e.msg);
    drop(&k);

    /* A FIFO with no writer: must not block (alarm guards a hang). */
    path_in(p, sizeof p, dir, "fifo");
    CHECK(mkfifo(p, 0600) == 0, "mkfifo");
    alarm(20);
    rc = load_path(p, &k, &e);
    alarm(0);
    CHECK(rc == MS_EINPUT && !k && strstr(e.msg, "FIFO"), "FIFO: %d %s", rc, e.msg);
    drop(&k);

    /* Not owned by the effective user. */
    path_in(p, sizeof p, dir, "foreign");
    size_t n;
    char *text = slurp(path, &n);
    CHECK(text && put_file(p, text, n, 0600) == 0, "copy");
    free_secret_text(text, n);
    if (chown(p, 65534, 65534) == 0) {
        rc = load_path(p, &k, &e);
        CHECK(rc == MS_EINPUT && !k && strstr(e.msg, "owned by uid 65534") && strstr(e.msg, p),
              "foreign owner: %d %s", rc, e.msg);
        drop(&k);
        rc = noted(ms_keyring_rotate(p, NULL, &e), &e);
        CHECK(rc == MS_EINPUT && strstr(e.msg, "owned"), "rotate of a foreign keyring: %d %s", rc, e.msg);
    } else {
        printf("  note: keyring_load_refusals: cannot chown a file to uid 65534 (%s, not root?): "
               "the foreign-owner refusal is not tested\n", strerror(errno));
    }

    /* Missing. */
    path_in(p, sizeof p, dir, "missing");
    rc = load_path(p, &k, &e);
    CHECK(rc == MS_EINPUT && !k && strstr(e.msg, "keys init") && strstr(e.msg, p), "missing: %d %s", rc, e.msg);
    drop(&k);
    path_in(p, sizeof p, dir, "nodir/k");
    rc = load_path(p, &k, &e);
    CHECK(rc == MS_EINPUT && strstr(e.msg, "keys init"), "missing directory: %d %s", rc, e.msg);
    drop(&k);

    /* DEV is not loaded from a source. */
    rc = load_src(MS_KEYRING_DEV, "", &k, &e);
    CHECK(rc == MS_EINPUT && !k && strstr(e.msg, "ms_keyring_dev"), "load of dev: %d %s", rc, e.msg);
    drop(&k);
    tdir_rm(dir);
}

/* ---- the parse-error corpus ------------------------------------------------------ */

#define NL 48      /* lines of one case, at most */
#define LW 600     /* bytes of one line, at most */
#define TS "2024-01-02T03:04:05Z"

typedef struct corpus_keys {
    unsigned char sign[32], commit[32], h[3][32], extra[32], k31[31], k33[33];
    char b_sign[64], b_commit[64], b_h[3][64], b_extra[64], b31[64], b33[64], b_bad[64], b_noncanon[64];
    char fp[3][33];
} corpus_keys;

typedef struct lines {
    char l[NL][LW];
    int n;
} lines;

enum { F_CRLF = 1, F_NOFINAL = 2 };

/* Joins lines; a '\x01' becomes a NUL byte. */
static char *join(const lines *L, int flags, size_t *len)
{
    size_t cap = 16;
    for (int i = 0; i < L->n; i++)
        cap += strlen(L->l[i]) + 2;
    char *t = malloc(cap), *o = t;
    for (int i = 0; i < L->n; i++) {
        size_t m = strlen(L->l[i]);
        memcpy(o, L->l[i], m);
        for (size_t j = 0; j < m; j++)
            if (o[j] == '\x01')
                o[j] = 0;
        o += m;
        if (i == L->n - 1 && (flags & F_NOFINAL))
            break;
        if (flags & F_CRLF)
            *o++ = '\r';
        *o++ = '\n';
    }
    *len = (size_t)(o - t);
    return t;
}

static void del_line(lines *L, int at) /* at: 1-based */
{
    for (int i = at - 1; i < L->n - 1; i++)
        memcpy(L->l[i], L->l[i + 1], LW);
    L->n--;
}

static void ins_line(lines *L, int at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void ins_line(lines *L, int at, const char *fmt, ...)
{
    for (int i = L->n; i > at - 1; i--)
        memcpy(L->l[i], L->l[i - 1], LW);
    L->n++;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(L->l[at - 1], LW, fmt, ap);
    va_end(ap);
}

static void set_line(lines *L, int at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_line(lines *L, int at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(L->l[at - 1], LW, fmt, ap);
    va_end(ap);
}

static void corpus_keys_new(corpus_keys *K)
{
    memset(K, 0, sizeof *K);
    random_bytes(K->sign, 32);
    random_bytes(K->commit, 32);
    random_bytes(K->extra, 32);
    random_bytes(K->k31, 31);
    random_bytes(K->k33, 33);
    ms_b64_encode(K->sign, 32, K->b_sign);
    ms_b64_encode(K->commit, 32, K->b_commit);
    ms_b64_encode(K->extra, 32, K->b_extra);
    ms_b64_encode(K->k31, 31, K->b31);
    ms_b64_encode(K->k33, 33, K->b33);
    for (int g = 0; g < 3; g++) {
        random_bytes(K->h[g], 32);
        ms_b64_encode(K->h[g], 32, K->b_h[g]);
        fp_of(K->h[g], K->fp[g]);
    }
    /* Not base64: a '*' inside generation 0's key. */
    snprintf(K->b_bad, sizeof K->b_bad, "%s", K->b_h[0]);
    K->b_bad[10] = '*';
    /* Non-canonical: the last symbol before '=' with its unused low bits set. */
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    snprintf(K->b_noncanon, sizeof K->b_noncanon, "%s", K->b_h[0]);
    int v = (int)(strchr(alpha, K->b_noncanon[42]) - alpha);
    K->b_noncanon[42] = alpha[v | 1];
    note_secret(K->sign, 32);
    note_secret(K->commit, 32);
    note_secret(K->extra, 32);
    note_secret(K->k31, 31);
    note_secret(K->k33, 33);
    for (int g = 0; g < 3; g++)
        note_secret(K->h[g], 32);
}

static void base_lines(const corpus_keys *K, lines *L)
{
    memset(L, 0, sizeof *L);
    L->n = 6;
    set_line(L, 1, "# a test keyring (generated keys)");
    set_line(L, 2, "marlsim-keyring 1");
    set_line(L, 3, "signing test-signer " TS " %s", K->b_sign);
    set_line(L, 4, "commit " TS " %s", K->b_commit);
    set_line(L, 5, "hmac 0 " TS " %s %s", K->fp[0], K->b_h[0]);
    set_line(L, 6, "hmac 1 " TS " %s %s", K->fp[1], K->b_h[1]);
}

/* Every string of key material the corpus may put in a file. */
static int corpus_secret_leak(const corpus_keys *K, const char *msg)
{
    const char *all[] = {K->b_sign, K->b_commit, K->b_h[0], K->b_h[1], K->b_h[2], K->b_extra,
                         K->b31,    K->b33,      K->b_bad,  K->b_noncanon};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (holds(msg, all[i]))
            return 1;
    return 0;
}

typedef struct kcase {
    char what[64];
    char *text;
    size_t n;
    int line;
    const char *word;
} kcase;

#define MAX_CASES 64

static void add_case(kcase *cs, int *nc, const char *what, const lines *L, int flags, int line, const char *word)
{
    kcase *c = &cs[(*nc)++];
    snprintf(c->what, sizeof c->what, "%s", what);
    c->text = join(L, flags, &c->n);
    c->line = line;
    c->word = word;
}

/* Runs one refused case through the file loader and through `cat`. */
static void run_case(const corpus_keys *K, const kcase *c, const char *dir)
{
    char path[256], origin[400], prefix[420];
    path_in(path, sizeof path, dir, "case");
    CHECK(put_file(path, c->text, c->n, 0600) == 0, "write %s", c->what);
    for (int via = 0; via < 2; via++) {
        ms_err e;
        ms_keyring *k = NULL;
        int rc = via ? load_cat(path, &k, &e) : load_path(path, &k, &e);
        snprintf(origin, sizeof origin, via ? "cmd:cat %s" : "%s", path);
        snprintf(prefix, sizeof prefix, "%s:%d: ", origin, c->line);
        CHECK(rc == MS_EINPUT && !k, "%s (%s): status %d", c->what, via ? "cmd" : "file", rc);
        CHECK(starts_with(e.msg, prefix), "%s (%s): expected \"%s...\", got: %s", c->what, via ? "cmd" : "file",
              prefix, e.msg);
        CHECK(strstr(e.msg, c->word) != NULL, "%s (%s): no \"%s\" in: %s", c->what, via ? "cmd" : "file", c->word,
              e.msg);
        CHECK(!corpus_secret_leak(K, e.msg), "%s (%s): the message holds key material", c->what,
              via ? "cmd" : "file");
        ms_keyring_free(k);
    }
}

static void keyring_parse_corpus(void)
{
    char dir[64], path[256];
    tdir_new(dir);
    path_in(path, sizeof path, dir, "case");
    corpus_keys K;
    corpus_keys_new(&K);
    lines L;
    kcase *cs = calloc(MAX_CASES, sizeof *cs);
    int nc = 0;
    ms_err e;

    /* The base loads (so each case's refusal is its mutation's doing), as a
     * file and through a command. */
    base_lines(&K, &L);
    size_t n;
    char *t = join(&L, 0, &n);
    CHECK(put_file(path, t, n, 0600) == 0, "write base");
    for (int via = 0; via < 2; via++) {
        ms_keyring *k = NULL;
        int rc = via ? load_cat(path, &k, &e) : load_path(path, &k, &e);
        CHECK(rc == MS_OK && k, "base keyring (%s): %s", via ? "cmd" : "file", e.msg);
        if (k) {
            ms_key_generation g;
            unsigned char key[32];
            CHECK(ms_keyring_generations(k) == 2 && ms_keyring_generation(k, 1, &g, &e) == MS_OK &&
                      !strcmp(g.fingerprint, K.fp[1]) && !strcmp(g.created, TS) && !strcmp(g.key_id, "k1"),
                  "base generation 1");
            CHECK(ms_keyring_hmac_key(k, 1, key, &e) == MS_OK && !memcmp(key, K.h[1], 32), "base key 1");
            CHECK(ms_keyring_commit_key(k, key, &e) == MS_OK && !memcmp(key, K.commit, 32), "base commit key");
            OPENSSL_cleanse(key, sizeof key);
            CHECK(!strcmp(ms_keyring_signer_name(k), "test-signer"), "base signer");
        }
        ms_keyring_free(k);
    }
    free_secret_text(t, n);

    /* Accepted variants: a leap day, a destroyed generation, records in
     * another order with comments and blank lines between. */
    {
        base_lines(&K, &L);
        set_line(&L, 4, "commit 2024-02-29T23:59:59Z %s", K.b_commit);
        set_line(&L, 6, "hmac 1 " TS " %s destroyed", K.fp[1]);
        ins_line(&L, 3, "%s", "");
        ins_line(&L, 3, "# between");
        t = join(&L, 0, &n);
        put_file(path, t, n, 0600);
        free_secret_text(t, n);
        ms_keyring *k = NULL;
        unsigned char key[32];
        CHECK(load_path(path, &k, &e) == MS_OK, "accepted variant: %s", e.msg);
        CHECK(k && ms_keyring_hmac_key(k, 1, key, &e) == MS_ECHECK, "destroyed generation in a variant");
        ms_keyring_free(k);
        k = NULL;
        memset(&L, 0, sizeof L);
        L.n = 4;
        set_line(&L, 1, "hmac 0 " TS " %s %s", K.fp[0], K.b_h[0]);
        set_line(&L, 2, "commit " TS " %s", K.b_commit);
        set_line(&L, 3, "signing n " TS " %s", K.b_sign);
        set_line(&L, 4, "hmac 1 " TS " %s %s", K.fp[1], K.b_h[1]);
        ins_line(&L, 1, "marlsim-keyring 1");
        t = join(&L, 0, &n);
        put_file(path, t, n, 0600);
        free_secret_text(t, n);
        CHECK(load_path(path, &k, &e) == MS_OK && k && ms_keyring_generations(k) == 2, "records in another order: %s",
              e.msg);
        ms_keyring_free(k);
    }

#define CASE(what, flags, line, word, ...)                                                                             \
    do {                                                                                                               \
        base_lines(&K, &L);                                                                                            \
        __VA_ARGS__;                                                                                                   \
        add_case(cs, &nc, what, &L, flags, line, word);                                                                \
    } while (0)

    CASE("bad header", 0, 2, "header", set_line(&L, 2, "marlsim-keyring"));
    CASE("header typo", 0, 2, "header", set_line(&L, 2, "marlsim-keyrings 1"));
    CASE("version 2", 0, 2, "version", set_line(&L, 2, "marlsim-keyring 2"));
    CASE("version 01", 0, 2, "version", set_line(&L, 2, "marlsim-keyring 01"));
    CASE("record before header", 0, 2, "header", del_line(&L, 2));
    CASE("second header", 0, 3, "second header", ins_line(&L, 3, "marlsim-keyring 1"));
    CASE("duplicate signing", 0, 4, "second signing", ins_line(&L, 4, "signing other " TS " %s", K.b_extra));
    CASE("duplicate commit", 0, 7, "second commit", ins_line(&L, 7, "commit " TS " %s", K.b_extra));
    CASE("missing commit", 0, 5, "without a commit", del_line(&L, 4));
    CASE("missing signing", 0, 5, "without a signing", del_line(&L, 3));
    CASE("missing hmac", 0, 4, "without an hmac", del_line(&L, 6); del_line(&L, 5));
    CASE("empty file", 0, 1, "header", L.n = 0);
    CASE("only comments", 0, 2, "header", L.n = 2; set_line(&L, 2, "# nothing else"));
    CASE("gap in generations", 0, 6, "skips generation 1",
         set_line(&L, 6, "hmac 2 " TS " %s %s", K.fp[2], K.b_h[2]));
    CASE("first generation not 0", 0, 5, "skips generation 0",
         set_line(&L, 5, "hmac 1 " TS " %s %s", K.fp[1], K.b_h[1]); del_line(&L, 6));
    CASE("generation out of order", 0, 7, "out of order",
         ins_line(&L, 7, "hmac 0 " TS " %s %s", K.fp[2], K.b_h[2]));
    CASE("generation repeated", 0, 7, "out of order", ins_line(&L, 7, "hmac 1 " TS " %s %s", K.fp[2], K.b_h[2]));
    CASE("generation with a leading zero", 0, 5, "leading zeros",
         set_line(&L, 5, "hmac 00 " TS " %s %s", K.fp[0], K.b_h[0]));
    CASE("generation not a number", 0, 6, "decimal", set_line(&L, 6, "hmac one " TS " %s %s", K.fp[1], K.b_h[1]));
    CASE("bad base64", 0, 5, "not base64", set_line(&L, 5, "hmac 0 " TS " %s %s", K.fp[0], K.b_bad));
    CASE("non-canonical base64", 0, 5, "canonical",
         set_line(&L, 5, "hmac 0 " TS " %s %s", K.fp[0], K.b_noncanon));
    CASE("key of 31 bytes", 0, 5, "31 bytes", set_line(&L, 5, "hmac 0 " TS " %s %s", K.fp[0], K.b31));
    CASE("key of 33 bytes", 0, 5, "33 bytes", set_line(&L, 5, "hmac 0 " TS " %s %s", K.fp[0], K.b33));
    CASE("private key of 31 bytes", 0, 3, "31 bytes", set_line(&L, 3, "signing test-signer " TS " %s", K.b31));
    CASE("commitment key of 33 bytes", 0, 4, "33 bytes", set_line(&L, 4, "commit " TS " %s", K.b33));
    CASE("commitment key destroyed", 0, 4, "base64", set_line(&L, 4, "commit " TS " destroyed"));
    CASE("fingerprint mismatch", 0, 5, "fingerprint does not match",
         set_line(&L, 5, "hmac 0 " TS " %s %s", K.fp[1], K.b_h[0]));
    CASE("fingerprint in uppercase", 0, 6, "lowercase hex", {
        set_line(&L, 6, "hmac 1 " TS " %s %s", K.fp[1], K.b_h[1]);
        for (char *q = L.l[5] + 7 + 21; *q != ' '; q++)
            if (*q >= 'a' && *q <= 'f')
                *q = (char)(*q - 32);
    });
    CASE("fingerprint too short", 0, 6, "32 lowercase hex",
         set_line(&L, 6, "hmac 1 " TS " %.30s %s", K.fp[1], K.b_h[1]));
    CASE("bad date: February 30", 0, 5, "created time",
         set_line(&L, 5, "hmac 0 2024-02-30T03:04:05Z %s %s", K.fp[0], K.b_h[0]));
    CASE("bad date: not a leap year", 0, 5, "created time",
         set_line(&L, 5, "hmac 0 2023-02-29T03:04:05Z %s %s", K.fp[0], K.b_h[0]));
    CASE("bad date: month 13", 0, 4, "created time", set_line(&L, 4, "commit 2024-13-02T03:04:05Z %s", K.b_commit));
    CASE("bad date: hour 24", 0, 3, "created time",
         set_line(&L, 3, "signing test-signer 2024-01-02T24:00:00Z %s", K.b_sign));
    CASE("bad date: no Z", 0, 6, "created time",
         set_line(&L, 6, "hmac 1 2024-01-02T03:04:05 %s %s", K.fp[1], K.b_h[1]));
    CASE("bad name with '+'", 0, 3, "name", set_line(&L, 3, "signing test+signer " TS " %s", K.b_sign));
    CASE("bad name of 129 bytes", 0, 3, "name", {
        char nm[130];
        memset(nm, 'x', 129);
        nm[129] = 0;
        set_line(&L, 3, "signing %s " TS " %s", nm, K.b_sign);
    });
    CASE("trailing space", 0, 4, "trailing space", set_line(&L, 4, "commit " TS " %s ", K.b_commit));
    CASE("two spaces", 0, 5, "two spaces", set_line(&L, 5, "hmac 0  " TS " %s %s", K.fp[0], K.b_h[0]));
    CASE("leading space", 0, 6, "leading space", set_line(&L, 6, " hmac 1 " TS " %s %s", K.fp[1], K.b_h[1]));
    CASE("line of spaces", 0, 3, "blank lines must be empty", ins_line(&L, 3, "   "));
    CASE("tab separator", 0, 4, "printable ASCII", set_line(&L, 4, "commit\t" TS " %s", K.b_commit));
    CASE("too few fields", 0, 4, "2 fields", set_line(&L, 4, "commit %s", K.b_commit));
    CASE("too many fields", 0, 5, "4 fields",
         set_line(&L, 5, "hmac 0 " TS " %s %s %s", K.fp[0], K.b_h[0], K.b_extra));
    CASE("CRLF line ends", F_CRLF, 1, "CR", (void)0);
    CASE("CR in a record", 0, 4, "CR", set_line(&L, 4, "commit " TS " %s\r", K.b_commit));
    CASE("NUL byte", 0, 4, "NUL", set_line(&L, 4, "commit " TS " \x01%s", K.b_commit));
    CASE("NUL in a comment", 0, 1, "NUL", set_line(&L, 1, "# a\x01 comment"));
    CASE("no final newline", F_NOFINAL, 6, "newline", (void)0);
    CASE("unknown record", 0, 5, "unknown record", ins_line(&L, 5, "frobnicate 1 2"));
    CASE("unknown record holding a key", 0, 5, "unknown record", ins_line(&L, 5, "secret %s", K.b_extra));
    CASE("bare key line", 0, 7, "unknown record", ins_line(&L, 7, "%s", K.b_extra));

    /* Over 1 MiB: comments after a valid keyring. */
    {
        base_lines(&K, &L);
        size_t bn;
        char *b = join(&L, 0, &bn);
        size_t total = (size_t)MS_KEYRING_MAX_BYTES + 5000;
        char *big = malloc(total);
        memcpy(big, b, bn);
        for (size_t i = bn; i < total; i++)
            big[i] = (i - bn) % 100 == 99 ? '\n' : (i - bn) % 100 == 0 ? '#' : 'x';
        big[total - 1] = '\n';
        int line = 1;
        for (size_t i = 0; i < (size_t)MS_KEYRING_MAX_BYTES; i++)
            line += big[i] == '\n';
        kcase *c = &cs[nc++];
        snprintf(c->what, sizeof c->what, "over 1 MiB");
        c->text = big;
        c->n = total;
        c->line = line;
        c->word = "larger than 1 MiB";
        free_secret_text(b, bn);
    }

    CHECK(nc >= 50 && nc <= MAX_CASES, "corpus of %d cases", nc);
    for (int i = 0; i < nc; i++)
        run_case(&K, &cs[i], dir);

    /* Exactly 1 MiB is allowed; one byte more is not. */
    {
        base_lines(&K, &L);
        size_t bn;
        char *b = join(&L, 0, &bn);
        size_t total = (size_t)MS_KEYRING_MAX_BYTES;
        char *big = malloc(total + 1);
        memcpy(big, b, bn);
        for (size_t i = bn; i < total; i++)
            big[i] = (i - bn) % 100 == 99 ? '\n' : (i - bn) % 100 == 0 ? '#' : 'x';
        /* the last line: a comment of the remaining bytes (or a blank line) */
        size_t last = bn + (total - bn) / 100 * 100;
        if (last < total)
            big[last] = total - last == 1 ? '\n' : '#';
        big[total - 1] = '\n';
        ms_keyring *k = NULL;
        CHECK(put_file(path, big, total, 0600) == 0, "write 1 MiB");
        CHECK(load_path(path, &k, &e) == MS_OK, "exactly 1 MiB refused: %s", e.msg);
        ms_keyring_free(k);
        k = NULL;
        big[total - 1] = 'x';
        big[total] = '\n';
        CHECK(put_file(path, big, total + 1, 0600) == 0, "write 1 MiB + 1");
        int line = 1;
        for (size_t i = 0; i < total; i++)
            line += big[i] == '\n';
        char prefix[300];
        snprintf(prefix, sizeof prefix, "%s:%d: ", path, line);
        int rc = load_path(path, &k, &e);
        CHECK(rc == MS_EINPUT && starts_with(e.msg, prefix) && strstr(e.msg, "1 MiB"), "1 MiB + 1: %d %s", rc, e.msg);
        free_secret_text(b, bn);
        free_secret_text(big, total + 1);
    }

    for (int i = 0; i < nc; i++)
        free_secret_text(cs[i].text, cs[i].n);
    free(cs);
    OPENSSL_cleanse(&K, sizeof K);
    OPENSSL_cleanse(&L, sizeof L);
    tdir_rm(dir);
}

/* ---- rotate and destroy ------------------------------------------------------------ */

/* The bytes of the line holding generation g's key, as written. */
static void key_b64_of(const ms_keyring *k, int g, char out[64])
{
    unsigned char key[32];
    ms_err e;
    out[0] = 0;
    if (ms_keyring_hmac_key(k, g, key, &e) == MS_OK)
        ms_b64_encode(key, 32, out);
    OPENSSL_cleanse(key, sizeof key);
}

static void keyring_rotate_destroy(void)
{
    char dir[64], path[256];
    tdir_new(dir);
    path_in(path, sizeof path, dir, "k");
    ms_err e;
    CHECK(noted(ms_keyring_create(path, "rotator", &e), &e) == MS_OK, "create: %s", e.msg);
    note_file_seed(path, NULL);
    size_t nprev;
    char *prev = slurp(path, &nprev);
    for (int want = 1; want <= 3; want++) {
        int gen = -1;
        int rc = noted(ms_keyring_rotate(path, &gen, &e), &e);
        CHECK(rc == MS_OK && gen == want, "rotate %d: %d gen %d %s", want, rc, gen, e.msg);
        size_t n;
        char *now = slurp(path, &n);
        CHECK(now && prev && n > nprev && !memcmp(now, prev, nprev), "rotate %d changed earlier bytes", want);
        CHECK(now && !strncmp(now + nprev, "hmac ", 5) && now[n - 1] == '\n' &&
                  memchr(now + nprev, '\n', n - nprev) == now + n - 1,
              "rotate %d appended one hmac line", want);
        free_secret_text(prev, nprev);
        prev = now;
        nprev = n;
        CHECK(file_mode(path) == 0600, "mode after rotate %o", file_mode(path));
        CHECK(dir_entries(dir) == 1, "a temporary file left behind (%d entries)", dir_entries(dir));
    }

    ms_keyring *k = NULL;
    CHECK(load_path(path, &k, &e) == MS_OK && k, "load: %s", e.msg);
    if (!k) {
        free_secret_text(prev, nprev);
        tdir_rm(dir);
        return;
    }
    note_keyring(k);
    CHECK(ms_keyring_generations(k) == 4, "generations %d", ms_keyring_generations(k));
    unsigned char keys[4][32];
    ms_key_generation info[4];
    for (int g = 0; g < 4; g++) {
        char fp[33], id[16];
        snprintf(id, sizeof id, "k%d", g);
        CHECK(ms_keyring_generation(k, g, &info[g], &e) == MS_OK && !strcmp(info[g].key_id, id) &&
                  info[g].gen == g && !info[g].destroyed,
              "generation %d", g);
        CHECK(ms_keyring_hmac_key(k, g, keys[g], &e) == MS_OK, "key %d", g);
        fp_of(keys[g], fp);
        CHECK(!strcmp(fp, info[g].fingerprint), "fingerprint %d", g);
        for (int h = 0; h < g; h++)
            CHECK(memcmp(keys[g], keys[h], 32) != 0, "keys %d and %d equal", g, h);
    }
    ms_key_generation f;
    CHECK(ms_keyring_find(k, "k2", &f, &e) == MS_OK && f.gen == 2 && !strcmp(f.fingerprint, info[2].fingerprint),
          "find k2: %s", e.msg);
    static const char *const absent[] = {"k4", "k01", "dev0", "k", "K1", "k-1", "k1x", "k99999999999"};
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++) {
        int rc = noted(ms_keyring_find(k, absent[i], &f, &e), &e);
        CHECK(rc == MS_EINPUT && strstr(e.msg, "is not in keyring") && strstr(e.msg, path), "find %s: %d %s",
              absent[i], rc, e.msg);
    }
    CHECK(noted(ms_keyring_find(k, "k4", &f, &e), &e) == MS_EINPUT &&
              strstr(e.msg, "key generation k4 is not in keyring"),
          "find k4 message: %s", e.msg);
    CHECK(noted(ms_keyring_find(k, "", &f, &e), &e) == MS_EINPUT && strstr(e.msg, "empty key id"),
          "find of an empty key id: %s", e.msg);
    unsigned char tmp[32];
    CHECK(noted(ms_keyring_generation(k, 4, &f, &e), &e) == MS_EINPUT, "generation 4");
    CHECK(noted(ms_keyring_hmac_key(k, 4, tmp, &e), &e) == MS_EINPUT, "hmac key 4");
    CHECK(noted(ms_keyring_hmac_key(k, -1, tmp, &e), &e) == MS_EINPUT, "hmac key -1");
    char b64_1[64], b64_0[64], b64_2[64];
    key_b64_of(k, 1, b64_1);
    key_b64_of(k, 0, b64_0);
    key_b64_of(k, 2, b64_2);
    ms_keyring_free(k);
    k = NULL;

    /* Destroy generation 1: the file is the old one with that key replaced by
     * "destroyed", nothing else. */
    CHECK(prev && strstr(prev, b64_1), "generation 1's key is in the file before destroy");
    int rc = noted(ms_keyring_destroy(path, 1, &e), &e);
    CHECK(rc == MS_OK, "destroy 1: %s", e.msg);
    size_t n;
    char *now = slurp(path, &n);
    CHECK(now && !strstr(now, b64_1), "generation 1's key is still in the file");
    CHECK(now && strstr(now, b64_0) && strstr(now, b64_2), "other keys kept");
    if (prev && now) {
        char *at = strstr(prev, b64_1);
        size_t off = at ? (size_t)(at - prev) : 0;
        CHECK(at && n == nprev - 44 + 9 && !memcmp(now, prev, off) && !memcmp(now + off, "destroyed", 9) &&
                  !memcmp(now + off + 9, prev + off + 44, nprev - off - 44),
              "destroy changed more than the key field");
    }
    CHECK(file_mode(path) == 0600 && dir_entries(dir) == 1, "mode %o, %d entries after destroy", file_mode(path),
          dir_entries(dir));
    CHECK(load_path(path, &k, &e) == MS_OK && k, "load after destroy: %s", e.msg);
    if (k) {
        ms_key_generation g1;
        CHECK(ms_keyring_generation(k, 1, &g1, &e) == MS_OK && g1.destroyed &&
                  !strcmp(g1.fingerprint, info[1].fingerprint) && !strcmp(g1.created, info[1].created),
              "generation 1 destroyed with its fingerprint");
        rc = noted(ms_keyring_hmac_key(k, 1, tmp, &e), &e);
        CHECK(rc == MS_ECHECK && strstr(e.msg, "destroyed") && strstr(e.msg, "k1"), "hmac key 1: %d %s", rc, e.msg);
        CHECK(!memcmp(tmp, (unsigned char[32]){0}, 32), "no bytes for a destroyed key");
        CHECK(ms_keyring_hmac_key(k, 0, tmp, &e) == MS_OK && !memcmp(tmp, keys[0], 32), "key 0 unchanged");
        CHECK(ms_keyring_hmac_key(k, 2, tmp, &e) == MS_OK && !memcmp(tmp, keys[2], 32), "key 2 unchanged");
        CHECK(ms_keyring_generations(k) == 4, "generations after destroy");
        ms_key_generation g2;
        CHECK(ms_keyring_find(k, "k1", &g2, &e) == MS_OK && g2.destroyed, "find of a destroyed generation");
    }
    ms_keyring_free(k);
    k = NULL;

    /* Refusals leave the file alone. */
    rc = noted(ms_keyring_destroy(path, 1, &e), &e);
    CHECK(rc == MS_EINPUT && strstr(e.msg, "already destroyed"), "destroy 1 again: %d %s", rc, e.msg);
    rc = noted(ms_keyring_destroy(path, 9, &e), &e);
    CHECK(rc == MS_EINPUT && strstr(e.msg, "no generation 9"), "destroy 9: %d %s", rc, e.msg);
    rc = noted(ms_keyring_destroy(path, -1, &e), &e);
    CHECK(rc == MS_EINPUT, "destroy -1: %d %s", rc, e.msg);
    size_t n2;
    char *again = slurp(path, &n2);
    CHECK(again && now && n2 == n && !memcmp(again, now, n), "refused destroys changed the file");
    free_secret_text(again, n2);

    /* The owner's mode bits are kept (0400 stays 0400). */
    CHECK(chmod(path, 0400) == 0, "chmod");
    rc = noted(ms_keyring_rotate(path, NULL, &e), &e);
    CHECK(rc == MS_OK && file_mode(path) == 0400, "rotate of a 0400 keyring: %d mode %o %s", rc, file_mode(path),
          e.msg);
    chmod(path, 0600);
    if (load_path(path, &k, &e) == MS_OK)
        note_keyring(k);
    ms_keyring_free(k);
    k = NULL;

    /* Rotate and destroy refuse what load refuses. */
    CHECK(chmod(path, 0644) == 0, "chmod");
    rc = noted(ms_keyring_rotate(path, NULL, &e), &e);
    CHECK(rc == MS_EINPUT && strstr(e.msg, "chmod 600"), "rotate of a 0644 keyring: %d %s", rc, e.msg);
    rc = noted(ms_keyring_destroy(path, 0, &e), &e);
    CHECK(rc == MS_EINPUT && strstr(e.msg, "chmod 600"), "destroy in a 0644 keyring: %d %s", rc, e.msg);
    chmod(path, 0600);
    char ln[256], bad[256];
    path_in(ln, sizeof ln, dir, "link");
    CHECK(symlink(path, ln) == 0, "symlink");
    rc = noted(ms_keyring_rotate(ln, NULL, &e), &e);
    CHECK(rc == MS_EINPUT && strstr(e.msg, "symbolic link"), "rotate through a symlink: %d %s", rc, e.msg);
    unlink(ln);
    path_in(bad, sizeof bad, dir, "missing");
    rc = noted(ms_keyring_rotate(bad, NULL, &e), &e);
    CHECK(rc == MS_EINPUT && strstr(e.msg, "keys init"), "rotate of a missing keyring: %d %s", rc, e.msg);
    /* A corrupt keyring is not rewritten. */
    path_in(bad, sizeof bad, dir, "corrupt");
    size_t nc;
    char *cur = slurp(path, &nc);
    if (cur) {
        char *c0 = strstr(cur, "\ncommit ");
        if (c0)
            c0[1] = 'C'; /* "Commit": an unknown record */
        int line = 1;
        for (char *q = cur; c0 && q <= c0; q++)
            line += *q == '\n';
        put_file(bad, cur, nc, 0600);
        char prefix[300];
        snprintf(prefix, sizeof prefix, "%s:%d: ", bad, line);
        rc = noted(ms_keyring_rotate(bad, NULL, &e), &e);
        CHECK(rc == MS_EINPUT && starts_with(e.msg, prefix), "rotate of a corrupt keyring: %d %s", rc, e.msg);
        size_t nb;
        char *after = slurp(bad, &nb);
        CHECK(after && nb == nc && !memcmp(after, cur, nc), "corrupt keyring changed");
        free_secret_text(after, nb);
        unlink(bad);
    }
    free_secret_text(cur, nc);
    CHECK(dir_entries(dir) == 1, "leftovers after refusals (%d entries)", dir_entries(dir));

    OPENSSL_cleanse(keys, sizeof keys);
    OPENSSL_cleanse(tmp, sizeof tmp);
    OPENSSL_cleanse(b64_0, sizeof b64_0);
    OPENSSL_cleanse(b64_1, sizeof b64_1);
    OPENSSL_cleanse(b64_2, sizeof b64_2);
    free_secret_text(prev, nprev);
    free_secret_text(now, n);
    tdir_rm(dir);
}

/* ---- concurrency ------------------------------------------------------------------ */

static void keyring_concurrent_rotate(void)
{
    char dir[64], path[256];
    tdir_new(dir);
    path_in(path, sizeof path, dir, "k");
    ms_err e;
    CHECK(noted(ms_keyring_create(path, "busy", &e), &e) == MS_OK, "create: %s", e.msg);
    note_file_seed(path, NULL);
    fflush(NULL);
    pid_t kids[4];
    for (int c = 0; c < 4; c++) {
        kids[c] = fork();
        if (kids[c] == 0) {
            int bad = 0;
            for (int i = 0; i < 5; i++) {
                ms_err ce;
                int gen;
                if (ms_keyring_rotate(path, &gen, &ce) != MS_OK || gen < 1 || gen > 20)
                    bad = 1;
            }
            _exit(bad);
        }
        CHECK(kids[c] > 0, "fork");
    }
    for (int c = 0; c < 4; c++) {
        int st = 0;
        if (kids[c] > 0) {
            CHECK(waitpid(kids[c], &st, 0) == kids[c] && WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "child %d failed (status %d)", c, st);
        }
    }
    ms_keyring *k = NULL;
    CHECK(load_path(path, &k, &e) == MS_OK && k, "load: %s", e.msg);
    if (k) {
        note_keyring(k);
        CHECK(ms_keyring_generations(k) == 21, "generations %d", ms_keyring_generations(k));
        unsigned char keys[21][32];
        char fps[21][33];
        int ok = 1;
        for (int g = 0; g < 21 && g < ms_keyring_generations(k); g++) {
            ms_key_generation info;
            ok &= ms_keyring_hmac_key(k, g, keys[g], &e) == MS_OK;
            ok &= ms_keyring_generation(k, g, &info, &e) == MS_OK;
            memcpy(fps[g], info.fingerprint, 33);
            for (int h = 0; h < g; h++) {
                CHECK(memcmp(keys[g], keys[h], 32) != 0, "generations %d and %d have the same key", g, h);
                CHECK(strcmp(fps[g], fps[h]) != 0, "generations %d and %d have the same fingerprint", g, h);
            }
        }
        CHECK(ok, "reading the generations");
        OPENSSL_cleanse(keys, sizeof keys);
    }
    ms_keyring_free(k);
    CHECK(file_mode(path) == 0600 && dir_entries(dir) == 1, "mode %o, %d entries", file_mode(path),
          dir_entries(dir));
    tdir_rm(dir);
}

/* ---- resolution -------------------------------------------------------------------- */

static char *saved_env(const char *name)
{
    const char *v = getenv(name);
    return v ? strdup(v) : NULL;
}

static void restore_env(const char *name, char *v)
{
    if (v)
        setenv(name, v, 1);
    else
        unsetenv(name);
    free(v);
}

/* Sets name to v; NULL unsets. */
static void set_env(const char *name, const char *v)
{
    if (v)
        setenv(name, v, 1);
    else
        unsetenv(name);
}

static void keyring_resolve(void)
{
    char *s_home = saved_env("HOME"), *s_xdg = saved_env("XDG_DATA_HOME"), *s_env = saved_env("MARLSIM_KEYRING");
    static const char *const opts[] = {NULL, "/o/k"};
    static const char *const cfgs[] = {NULL, "", "/c/k"};
    static const char *const envs[] = {NULL, "", "/e/k"};
    static const char *const xdgs[] = {NULL, "", "rel/x", "/x"};
    static const char *const homes[] = {NULL, "", "rel", "/h"};
    int combos = 0, wrong = 0;
    ms_keyring_source src;
    ms_err e;
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 3; b++)
            for (int c = 0; c < 3; c++)
                for (int x = 0; x < 4; x++)
                    for (int h = 0; h < 4; h++) {
                        set_env("MARLSIM_KEYRING", envs[c]);
                        set_env("XDG_DATA_HOME", xdgs[x]);
                        set_env("HOME", homes[h]);
                        const char *want = NULL, *origin = NULL;
                        if (opts[a])
                            want = opts[a], origin = "--keyring";
                        else if (cfgs[b] && cfgs[b][0])
                            want = cfgs[b], origin = "[keys] keyring";
                        else if (envs[c] && envs[c][0])
                            want = envs[c], origin = "MARLSIM_KEYRING";
                        else if (xdgs[x] && xdgs[x][0] == '/')
                            want = "/x/marlsim/keyring", origin = "default";
                        else if (homes[h] && homes[h][0] == '/')
                            want = "/h/.local/share/marlsim/keyring", origin = "default";
                        e.msg[0] = 0;
                        int rc = noted(ms_keyring_resolve(opts[a], cfgs[b], &src, &e), &e);
                        int ok = want ? rc == MS_OK && src.kind == MS_KEYRING_FILE && !strcmp(src.spec, want) &&
                                            !strcmp(src.origin, origin)
                                      : rc == MS_EINPUT && strstr(e.msg, "HOME") != NULL;
                        if (!ok)
                            wrong++;
                        CHECK(ok, "opt %s cfg %s env %s xdg %s home %s: rc %d kind %d spec %s origin %s (%s)",
                              opts[a] ? opts[a] : "-", cfgs[b] ? cfgs[b] : "-", envs[c] ? envs[c] : "-",
                              xdgs[x] ? xdgs[x] : "-", homes[h] ? homes[h] : "-", rc, src.kind, src.spec,
                              src.origin, e.msg);
                        if (want && !strcmp(origin, "default")) {
                            char dp[MS_PATH_MAX + 1];
                            CHECK(ms_keyring_default_path(dp, sizeof dp, &e) == MS_OK && !strcmp(dp, want),
                                  "default path %s", dp);
                        }
                        combos++;
                    }
    CHECK(combos == 288 && wrong == 0, "%d combinations, %d wrong", combos, wrong);

    /* Values: dev, ./dev, cmd:, paths. */
    set_env("HOME", "/h");
    unsetenv("XDG_DATA_HOME");
    unsetenv("MARLSIM_KEYRING");
    CHECK(ms_keyring_resolve("dev", "/c/k", &src, &e) == MS_OK && src.kind == MS_KEYRING_DEV && !src.spec[0] &&
              !strcmp(src.origin, "--keyring"),
          "dev: %s", e.msg);
    CHECK(ms_keyring_resolve("./dev", NULL, &src, &e) == MS_OK && src.kind == MS_KEYRING_FILE &&
              !strcmp(src.spec, "./dev"),
          "./dev");
    CHECK(ms_keyring_resolve(NULL, "dev", &src, &e) == MS_OK && src.kind == MS_KEYRING_DEV &&
              !strcmp(src.origin, "[keys] keyring"),
          "cfg dev");
    set_env("MARLSIM_KEYRING", "dev");
    CHECK(ms_keyring_resolve(NULL, NULL, &src, &e) == MS_OK && src.kind == MS_KEYRING_DEV &&
              !strcmp(src.origin, "MARLSIM_KEYRING"),
          "env dev");
    set_env("MARLSIM_KEYRING", "cmd:pass show marlsim");
    CHECK(ms_keyring_resolve(NULL, "", &src, &e) == MS_OK && src.kind == MS_KEYRING_CMD &&
              !strcmp(src.spec, "pass show marlsim") && !strcmp(src.origin, "MARLSIM_KEYRING"),
          "env cmd");
    unsetenv("MARLSIM_KEYRING");
    CHECK(ms_keyring_resolve("devx", NULL, &src, &e) == MS_OK && src.kind == MS_KEYRING_FILE, "devx is a path");
    CHECK(ms_keyring_resolve("./cmd:x", NULL, &src, &e) == MS_OK && src.kind == MS_KEYRING_FILE &&
              !strcmp(src.spec, "./cmd:x"),
          "./cmd:x is a path");
    int rc = noted(ms_keyring_resolve("cmd:", NULL, &src, &e), &e);
    CHECK(rc == MS_EINPUT && strstr(e.msg, "cmd:") && strstr(e.msg, "--keyring"), "empty cmd: %d %s", rc, e.msg);
    rc = noted(ms_keyring_resolve(NULL, "cmd:", &src, &e), &e);
    CHECK(rc == MS_EINPUT && strstr(e.msg, "[keys] keyring"), "empty cmd in the config: %d %s", rc, e.msg);
    rc = noted(ms_keyring_resolve("", "/c/k", &src, &e), &e);
    CHECK(rc == MS_EINPUT && strstr(e.msg, "--keyring"), "empty --keyring: %d %s", rc, e.msg);
    char longp[MS_PATH_MAX + 8];
    memset(longp, 'p', MS_PATH_MAX + 1);
    longp[MS_PATH_MAX + 1] = 0;
    rc = noted(ms_keyring_resolve(longp, NULL, &src, &e), &e);
    CHECK(rc == MS_EINPUT && strstr(e.msg, "longer"), "long path: %d %s", rc, e.msg);
    longp[MS_PATH_MAX] = 0;
    rc = ms_keyring_resolve(longp, NULL, &src, &e);
    CHECK(rc == MS_OK && strlen(src.spec) == MS_PATH_MAX, "path of MS_PATH_MAX bytes: %d %s", rc, e.msg);
    memcpy(longp, "cmd:", 4);
    longp[MS_PATH_MAX + 4] = 0;
    memset(longp + 4, 'c', MS_PATH_MAX);
    rc = ms_keyring_resolve(longp, NULL, &src, &e);
    CHECK(rc == MS_OK && src.kind == MS_KEYRING_CMD && strlen(src.spec) == MS_PATH_MAX, "command of MS_PATH_MAX");
    longp[MS_PATH_MAX + 4] = 'c';
    longp[MS_PATH_MAX + 5] = 0;
    rc = noted(ms_keyring_resolve(longp, NULL, &src, &e), &e);
    CHECK(rc == MS_EINPUT && strstr(e.msg, "command is longer"), "long command: %d %s", rc, e.msg);
    /* A HOME too long for the default path. */
    memset(longp, 'h', MS_PATH_MAX);
    longp[0] = '/';
    longp[MS_PATH_MAX - 10] = 0;
    set_env("HOME", longp);
    rc = noted(ms_keyring_resolve(NULL, NULL, &src, &e), &e);
    CHECK(rc == MS_EINPUT && strstr(e.msg, "longer"), "long HOME: %d %s", rc, e.msg);
    set_env("HOME", "/h");
    char small[8];
    rc = noted(ms_keyring_default_path(small, sizeof small, &e), &e);
    CHECK(rc == MS_EINPUT && !small[0], "default path into a small buffer: %d", rc);

    restore_env("HOME", s_home);
    restore_env("XDG_DATA_HOME", s_xdg);
    restore_env("MARLSIM_KEYRING", s_env);
}

/* ---- command sources ------------------------------------------------------------------ */

/* ms_keyring_parse: the in-memory parse (what a cmd: keyring's output and
 * the fuzz harness go through) gives the keyring the file gives, reads no
 * byte past n, and names its origin in errors. */
static void keyring_parse_memory(void)
{
    char dir[64], path[256];
    tdir_new(dir);
    path_in(path, sizeof path, dir, "k");
    ms_err e;
    CHECK(ms_keyring_create(path, "mem", &e) == MS_OK, "create: %s", e.msg);
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL, "open");
    if (!f)
        return;
    static char text[4096];
    size_t n = fread(text, 1, sizeof text, f);
    fclose(f);
    CHECK(n > 0 && n < sizeof text, "read %zu bytes", n);
    char *exact = malloc(n); /* exactly n bytes: ASan sees a read past them */
    CHECK(exact != NULL, "malloc");
    if (!exact)
        return;
    memcpy(exact, text, n);
    ms_keyring *kf = NULL, *km = NULL;
    CHECK(load_path(path, &kf, &e) == MS_OK, "load: %s", e.msg);
    CHECK(ms_keyring_parse(exact, n, "memory", &km, &e) == MS_OK && km, "parse: %s", e.msg);
    if (kf && km) {
        unsigned char a[32], b[32];
        CHECK(ms_keyring_public_key(kf, a, &e) == MS_OK && ms_keyring_public_key(km, b, &e) == MS_OK &&
                  !memcmp(a, b, 32),
              "same public key");
        CHECK(ms_keyring_generations(km) == 1 && !strcmp(ms_keyring_origin(km), "memory"), "generations, origin");
        CHECK(ms_keyring_commit_key(kf, a, &e) == MS_OK && ms_keyring_commit_key(km, b, &e) == MS_OK &&
                  !memcmp(a, b, 32),
              "same commitment key");
        OPENSSL_cleanse(a, 32);
        OPENSSL_cleanse(b, 32);
    }
    ms_keyring_free(km);
    km = NULL;
    /* Cut before the final newline: refused at the last line, by origin. */
    int rc = ms_keyring_parse(exact, n - 1, "memory", &km, &e);
    CHECK(rc == MS_EINPUT && !km && !strncmp(e.msg, "memory:", 7) && strstr(e.msg, "newline"), "cut: %d %s", rc,
          e.msg);
    OPENSSL_cleanse(exact, n);
    OPENSSL_cleanse(text, sizeof text);
    free(exact);
    ms_keyring_free(kf);
    tdir_rm(dir);
}

static void keyring_command(void)
{
    char dir[64], path[256], cmd[MS_PATH_MAX];
    tdir_new(dir);
    path_in(path, sizeof path, dir, "k");
    ms_err e;
    CHECK(noted(ms_keyring_create(path, "cmd-signer", &e), &e) == MS_OK, "create: %s", e.msg);
    note_file_seed(path, NULL);
    CHECK(noted(ms_keyring_rotate(path, NULL, &e), &e) == MS_OK, "rotate: %s", e.msg);
    ms_keyring *kf = NULL, *kc = NULL;
    CHECK(load_path(path, &kf, &e) == MS_OK, "load file: %s", e.msg);
    CHECK(load_cat(path, &kc, &e) == MS_OK, "load through cat: %s", e.msg);
    if (kf && kc) {
        note_keyring(kf);
        char origin[400];
        snprintf(origin, sizeof origin, "cmd:cat %s", path);
        CHECK(!strcmp(ms_keyring_origin(kc), origin), "origin %s", ms_keyring_origin(kc));
        CHECK(!ms_keyring_is_dev(kc) && ms_keyring_can_sign(kc) &&
                  !strcmp(ms_keyring_signer_name(kc), ms_keyring_signer_name(kf)) &&
                  ms_keyring_generations(kc) == 2 && ms_keyring_generations(kf) == 2,
              "same keyring");
        unsigned char pf[32], pc[32], sf[64], sc[64], a[32], b[32];
        static const char msg[] = "signed twice";
        CHECK(ms_keyring_public_key(kf, pf, &e) == MS_OK && ms_keyring_public_key(kc, pc, &e) == MS_OK &&
                  !memcmp(pf, pc, 32),
              "same public key");
        CHECK(ms_keyring_sign(kf, msg, sizeof msg - 1, sf, &e) == MS_OK &&
                  ms_keyring_sign(kc, msg, sizeof msg - 1, sc, &e) == MS_OK && !memcmp(sf, sc, 64),
              "same signature (Ed25519 is deterministic)");
        CHECK(ed25519_verify(pf, msg, sizeof msg - 1, sc), "command keyring's signature verifies");
        for (int g = 0; g < 2; g++)
            CHECK(ms_keyring_hmac_key(kf, g, a, &e) == MS_OK && ms_keyring_hmac_key(kc, g, b, &e) == MS_OK &&
                      !memcmp(a, b, 32),
                  "same hmac key %d", g);
        CHECK(ms_keyring_commit_key(kf, a, &e) == MS_OK && ms_keyring_commit_key(kc, b, &e) == MS_OK &&
                  !memcmp(a, b, 32),
              "same commitment key");
        OPENSSL_cleanse(a, 32);
        OPENSSL_cleanse(b, 32);
    }
    ms_keyring_free(kf);
    ms_keyring_free(kc);
    kc = NULL;

    /* A failing command: its status, never its output. */
    int rc = load_src(MS_KEYRING_CMD, "exit 3", &kc, &e);
    CHECK(rc == MS_EINPUT && !kc && strstr(e.msg, "cmd:exit 3") && strstr(e.msg, "status 3"), "exit 3: %d %s", rc,
          e.msg);
    drop(&kc);
    snprintf(cmd, sizeof cmd, "cat %s; exit 4", path);
    rc = load_src(MS_KEYRING_CMD, cmd, &kc, &e);
    CHECK(rc == MS_EINPUT && !kc && strstr(e.msg, "status 4") && !strstr(e.msg, "marlsim-keyring 1"),
          "valid output, exit 4: %d %s", rc, e.msg);
    drop(&kc);
    rc = load_src(MS_KEYRING_CMD, "kill -9 $$", &kc, &e);
    CHECK(rc == MS_EINPUT && !kc && strstr(e.msg, "signal 9"), "killed: %d %s", rc, e.msg);
    drop(&kc);
    rc = load_src(MS_KEYRING_CMD, "printf '%s%s\\n' zq9 XW7v", &kc, &e);
    CHECK(rc == MS_EINPUT && !kc && starts_with(e.msg, "cmd:printf") && strstr(e.msg, ":1: ") &&
              !strstr(e.msg, "zq9XW7v"),
          "garbage output: %d %s", rc, e.msg);
    drop(&kc);
    rc = load_src(MS_KEYRING_CMD, "cat", &kc, &e); /* stdin is /dev/null: no output, no hang */
    CHECK(rc == MS_EINPUT && !kc && strstr(e.msg, "cmd:cat:1: ") && strstr(e.msg, "header"), "empty output: %d %s",
          rc, e.msg);
    drop(&kc);
    alarm(60);
    rc = load_src(MS_KEYRING_CMD, "yes '# filler line'", &kc, &e); /* endless */
    CHECK(rc == MS_EINPUT && !kc && strstr(e.msg, "larger than 1 MiB"), "endless output: %d %s", rc, e.msg);
    drop(&kc);
    rc = load_src(MS_KEYRING_CMD, "head -c 1100000 /dev/zero", &kc, &e);
    CHECK(rc == MS_EINPUT && !kc && strstr(e.msg, "larger than 1 MiB"), "1.1 MB of output: %d %s", rc, e.msg);
    drop(&kc);
    alarm(0);
    rc = load_src(MS_KEYRING_CMD, "", &kc, &e);
    CHECK(rc == MS_EINPUT && !kc, "empty command: %d %s", rc, e.msg);
    drop(&kc);
    rc = load_src(MS_KEYRING_CMD, "/nonexistent/marlsim-helper 2>/dev/null", &kc, &e);
    CHECK(rc == MS_EINPUT && !kc && strstr(e.msg, "status 127"), "missing command: %d %s", rc, e.msg);
    drop(&kc);
    tdir_rm(dir);
}

/* ---- the development keyring ------------------------------------------------------------ */

static void keyring_dev(void)
{
    ms_keyring *k = NULL;
    ms_err e;
    CHECK(ms_keyring_dev(7, &k, &e) == MS_OK && k, "dev: %s", e.msg);
    if (!k)
        return;
    CHECK(ms_keyring_is_dev(k) && !strcmp(ms_keyring_origin(k), "dev"), "is dev");
    CHECK(ms_keyring_generations(k) == INT_MAX, "any generation");
    CHECK(!ms_keyring_can_sign(k) && !strcmp(ms_keyring_signer_name(k), ""), "cannot sign");
    unsigned char pub[32], sig[64], key[32], want[32];
    int rc = noted(ms_keyring_public_key(k, pub, &e), &e);
    CHECK(rc == MS_EINPUT && strstr(e.msg, "no signing key"), "public key: %d %s", rc, e.msg);
    rc = noted(ms_keyring_sign(k, "m", 1, sig, &e), &e);
    CHECK(rc == MS_EINPUT && strstr(e.msg, "no signing key"), "sign: %d %s", rc, e.msg);

    /* Generation 0 = SHA-256("marlsim-dev-key-v1" || 7 LE || 0 LE). */
    static const char tag[] = "marlsim-dev-key-v1";
    unsigned char le[16] = {7};
    sha256_parts(tag, sizeof tag - 1, le, 16, want);
    CHECK(ms_keyring_hmac_key(k, 0, key, &e) == MS_OK && !memcmp(key, want, 32), "dev key 0");
    le[8] = 1;
    sha256_parts(tag, sizeof tag - 1, le, 16, want);
    CHECK(ms_keyring_hmac_key(k, 1, key, &e) == MS_OK && !memcmp(key, want, 32), "dev key 1");
    /* Each generation's id and fingerprint (SHA-256 of the fingerprint tag
     * and the key, first 16 bytes), computed here independently. */
    ms_key_generation g;
    static const char ftag[] = "marlsim-key-fingerprint-v1";
    for (int gen = 0; gen < 3; gen++) {
        unsigned char fp[32];
        char fphex[33], id[16];
        CHECK(ms_keyring_hmac_key(k, gen, key, &e) == MS_OK, "key %d", gen);
        sha256_parts(ftag, sizeof ftag - 1, key, 32, fp);
        for (int b = 0; b < 16; b++)
            snprintf(fphex + 2 * b, 3, "%02x", fp[b]);
        snprintf(id, sizeof id, "dev%d", gen);
        CHECK(ms_keyring_generation(k, gen, &g, &e) == MS_OK && !strcmp(g.key_id, id) &&
                  !strcmp(g.fingerprint, fphex) && !g.destroyed && !g.created[0] && g.gen == gen,
              "generation %d: %s %s", gen, g.key_id, g.fingerprint);
    }
    CHECK(ms_keyring_generation(k, 1, &g, &e) == MS_OK && !strcmp(g.key_id, "dev1"), "dev1");
    CHECK(ms_keyring_generation(k, 0, &g, &e) == MS_OK && !strcmp(g.key_id, "dev0"), "dev0");
    CHECK(ms_keyring_find(k, "dev12", &g, &e) == MS_OK && g.gen == 12, "find dev12");
    static const char *const absent[] = {"k0", "dev", "dev01", "dev-1", "dev1x", "DEV1"};
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++) {
        rc = noted(ms_keyring_find(k, absent[i], &g, &e), &e);
        CHECK(rc == MS_EINPUT && strstr(e.msg, "not in keyring dev"), "find %s: %d %s", absent[i], rc, e.msg);
    }
    CHECK(noted(ms_keyring_generation(k, -1, &g, &e), &e) == MS_EINPUT, "generation -1");
    CHECK(ms_keyring_hmac_key(k, 1000000, key, &e) == MS_OK, "a far generation exists");

    static const char ctag[] = "marlsim-dev-commit-v1";
    unsigned char seed7[8] = {7};
    sha256_parts(ctag, sizeof ctag - 1, seed7, 8, want);
    CHECK(ms_keyring_commit_key(k, key, &e) == MS_OK && !memcmp(key, want, 32), "dev commitment key");

    ms_keyring *k8 = NULL;
    unsigned char other[32];
    CHECK(ms_keyring_dev(8, &k8, &e) == MS_OK && k8 && ms_keyring_hmac_key(k8, 0, other, &e) == MS_OK &&
              ms_keyring_hmac_key(k, 0, key, &e) == MS_OK && memcmp(key, other, 32),
          "seeds 7 and 8 differ");
    ms_keyring_free(k8);
    ms_keyring_free(k);
    ms_keyring_free(NULL);
}

/* ---- no key in any message ---------------------------------------------------------------- */

static void keyring_no_key_in_messages(void)
{
    char dir[64], path[256], p[256];
    tdir_new(dir);
    path_in(path, sizeof path, dir, "k");
    ms_err e;
    CHECK(noted(ms_keyring_create(path, "grep-signer", &e), &e) == MS_OK, "create: %s", e.msg);
    CHECK(noted(ms_keyring_rotate(path, NULL, &e), &e) == MS_OK, "rotate: %s", e.msg);
    CHECK(noted(ms_keyring_rotate(path, NULL, &e), &e) == MS_OK, "rotate: %s", e.msg);
    ms_keyring *k = NULL;
    unsigned char key1[32];
    CHECK(load_path(path, &k, &e) == MS_OK && ms_keyring_hmac_key(k, 1, key1, &e) == MS_OK, "read key 1");
    note_secret(key1, 32);
    OPENSSL_cleanse(key1, sizeof key1);
    ms_keyring_free(k);
    k = NULL;
    CHECK(noted(ms_keyring_destroy(path, 1, &e), &e) == MS_OK, "destroy: %s", e.msg);
    CHECK(note_file_seed(path, NULL), "the signing key");
    CHECK(load_path(path, &k, &e) == MS_OK && k, "load: %s", e.msg);
    if (k) {
        note_keyring(k);
        unsigned char t[32];
        noted(ms_keyring_hmac_key(k, 1, t, &e), &e);
        ms_key_generation g;
        noted(ms_keyring_find(k, "k9", &g, &e), &e);
        noted(ms_keyring_generation(k, 3, &g, &e), &e);
    }
    ms_keyring_free(k);
    k = NULL;

    /* More refusals, on this keyring: modes, a link, a failing command, and
     * every record line corrupted in three ways. */
    chmod(path, 0644);
    load_path(path, &k, &e);
    drop(&k);
    noted(ms_keyring_rotate(path, NULL, &e), &e);
    chmod(path, 0600);
    path_in(p, sizeof p, dir, "link");
    if (symlink(path, p) == 0)
        load_path(p, &k, &e);
    drop(&k);
    unlink(p);
    char cmd[MS_PATH_MAX];
    snprintf(cmd, sizeof cmd, "cat %s; exit 5", path);
    load_src(MS_KEYRING_CMD, cmd, &k, &e);
    drop(&k);
    noted(ms_keyring_destroy(path, 1, &e), &e);
    size_t n;
    char *text = slurp(path, &n);
    path_in(p, sizeof p, dir, "bad");
    int corrupted = 0;
    for (size_t at = 0; text && at < n;) {
        char *nl = memchr(text + at, '\n', n - at);
        size_t end = nl ? (size_t)(nl - text) : n;
        if (end > at && text[at] != '#' && strncmp(text + at, "marlsim-keyring", 15)) {
            for (int how = 0; how < 3; how++) {
                char *c = malloc(n + 2);
                size_t m = n;
                memcpy(c, text, n);
                if (how == 0) { /* trailing space */
                    memmove(c + end + 1, c + end, n - end);
                    c[end] = ' ';
                    m = n + 1;
                } else if (how == 1) { /* a changed last character of the key */
                    c[end - 2] = c[end - 2] == 'A' ? 'B' : 'A';
                } else { /* the key cut short */
                    memmove(c + end - 4, c + end, n - end);
                    m = n - 4;
                }
                put_file(p, c, m, 0600);
                /* A changed private or commitment key may still be a valid
                 * key (those lines carry no fingerprint): free what loads. */
                load_path(p, &k, &e);
                ms_keyring_free(k);
                k = NULL;
                load_cat(p, &k, &e);
                ms_keyring_free(k);
                k = NULL;
                noted(ms_keyring_rotate(p, NULL, &e), &e);
                free_secret_text(c, n + 2);
                corrupted++;
            }
        }
        at = end + 1;
    }
    free_secret_text(text, n);
    ms_keyring_free(k);
    CHECK(corrupted >= 15, "%d corrupted copies", corrupted);

    /* The scan: no message holds any key seen by any test, in hex or base64,
     * whole or as a 12-character prefix. First, the scan can fail. */
    CHECK(nsecrets >= 8 && nmsgs >= 60, "%d keys and %d messages to scan", nsecrets, nmsgs);
    char probe[200];
    snprintf(probe, sizeof probe, "keyring x:3: bad key %.20s...", secrets[0].b64);
    CHECK(nsecrets && leaks_secret(probe, &secrets[0]), "the scan finds a quoted key prefix");
    snprintf(probe, sizeof probe, "keyring x:3: bad key %.14s", secrets[0].hex);
    CHECK(nsecrets && leaks_secret(probe, &secrets[0]), "the scan finds a hex prefix");
    int leaks = 0;
    for (int i = 0; i < nmsgs; i++)
        for (int s = 0; s < nsecrets; s++)
            if (leaks_secret(msgs[i], &secrets[s])) {
                leaks++;
                CHECK(0, "message %d holds key %d (hex or base64)", i, s);
            }
    CHECK(leaks == 0, "%d leaks", leaks);

    for (int i = 0; i < nmsgs; i++)
        free(msgs[i]);
    nmsgs = 0;
    OPENSSL_cleanse(secrets, sizeof secrets);
    nsecrets = 0;
    tdir_rm(dir);
}

void suite_keyring(void)
{
    RUN(keyring_create_sign_verify);
    RUN(keyring_load_refusals);
    RUN(keyring_parse_corpus);
    RUN(keyring_rotate_destroy);
    RUN(keyring_concurrent_rotate);
    RUN(keyring_resolve);
    RUN(keyring_command);
    RUN(keyring_parse_memory);
    RUN(keyring_dev);
    RUN(keyring_no_key_in_messages); /* last: scans what the others recorded */
}
