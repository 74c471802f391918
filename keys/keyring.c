#include "keys/keyring.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "base/b64.h"
#include "base/hash.h"

#define KEY_LEN 32
#define KEY_B64_LEN MS_B64_LEN(KEY_LEN) /* 44 */
#define GEN_DIGITS_MAX 9                /* generations 0..999999999 */
#define BUF_CAP ((size_t)MS_KEYRING_MAX_BYTES + 1) /* one byte more than allowed: tells "too big" */

static const char header_word[] = "marlsim-keyring";
static const char fp_tag[] = "marlsim-key-fingerprint-v1";
static const char dev_key_tag[] = "marlsim-dev-key-v1";
static const char dev_commit_tag[] = "marlsim-dev-commit-v1";
static const char destroyed_word[] = "destroyed";

typedef struct kr_gen {
    unsigned char key[KEY_LEN]; /* zero when destroyed */
    char created[21];
    char fingerprint[33];
    int destroyed;
    size_t key_off, key_len; /* the KEY_B64 field in the parsed text (destroy rewrites it) */
} kr_gen;

struct ms_keyring {
    int kind;
    char origin[MS_PATH_MAX + 8]; /* path, "cmd:COMMAND" or "dev" */
    uint64_t seed;                /* DEV */
    char signer[MS_KEYRING_NAME_MAX + 1];
    EVP_PKEY *pkey; /* NULL for DEV */
    unsigned char commit[KEY_LEN];
    int ngen, capgen;
    kr_gen *gen;
};

/* ---- small helpers -------------------------------------------------------- */

static void put_u64le(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Frees a buffer that may have held secrets, cleansing its first n bytes. */
static void secret_free(void *p, size_t n)
{
    if (p) {
        OPENSSL_cleanse(p, n);
        free(p);
    }
}

static int fingerprint_of(const unsigned char key[KEY_LEN], char out[33], ms_err *e)
{
    unsigned char d[MS_SHA256_LEN];
    int rc = ms_sha256_2(fp_tag, sizeof fp_tag - 1, key, KEY_LEN, d, e);
    if (rc)
        return rc;
    ms_hex(d, 16, out);
    return MS_OK;
}

static int dev_key(uint64_t seed, int gen, unsigned char out[KEY_LEN], ms_err *e)
{
    unsigned char in[16];
    put_u64le(in, seed);
    put_u64le(in + 8, (uint64_t)gen);
    return ms_sha256_2(dev_key_tag, sizeof dev_key_tag - 1, in, sizeof in, out, e);
}

static int now_utc(char out[21], ms_err *e)
{
    time_t t = time(NULL);
    struct tm tm;
    if (t == (time_t)-1 || !gmtime_r(&t, &tm) || strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) != 20)
        return ms_fail(e, MS_EIO, "cannot read the wall clock as a UTC time for the keyring");
    return MS_OK;
}

static int random_key(unsigned char out[KEY_LEN], ms_err *e)
{
    if (RAND_priv_bytes(out, KEY_LEN) != 1)
        return ms_fail(e, MS_EIO, "libcrypto: RAND_priv_bytes failed to generate a key");
    return MS_OK;
}

/* NAME: 1..128 bytes 0x21..0x7e without '+'. */
static int valid_name(const char *s, size_t n)
{
    if (n < 1 || n > MS_KEYRING_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e || s[i] == '+')
            return 0;
    return 1;
}

static int digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        *v = *v * 10 + (s[i] - '0');
    }
    return 1;
}

/* CREATED: "YYYY-MM-DDTHH:MM:SSZ", a real calendar date and time. */
static int valid_created(const char *s, size_t n)
{
    int y, mo, d, h, mi, sec;
    if (n != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != 'Z')
        return 0;
    if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) || !digits(s + 11, 2, &h) ||
        !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &sec))
        return 0;
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59)
        return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= dim[mo - 1] + (mo == 2 && leap);
}

/* GEN: decimal, no leading zeros, at most GEN_DIGITS_MAX digits. */
static int parse_gen(const char *s, size_t n, int *gen)
{
    if (n < 1 || n > GEN_DIGITS_MAX || (n > 1 && s[0] == '0'))
        return 0;
    return digits(s, (int)n, gen);
}

static int b64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* Decodes a 32-byte key field. Returns 0, or fills why (never quoting the
 * field) and returns -1. out is cleansed on failure. */
static int key_field(const char *s, size_t n, unsigned char out[KEY_LEN], char *why, size_t wcap)
{
    size_t pad = 0;
    while (pad < n && s[n - 1 - pad] == '=')
        pad++;
    for (size_t i = 0; i < n - pad; i++)
        if (!b64_char(s[i])) {
            snprintf(why, wcap, "%s",
                     s[i] == '=' ? "is not base64: '=' may only pad the end"
                                 : "is not base64 (allowed: A-Z a-z 0-9 + / and '=' padding at the end)");
            return -1;
        }
    if (n % 4 || pad > 2) {
        snprintf(why, wcap, "is not base64: %s", n % 4 ? "its length is not a multiple of 4" : "too much '=' padding");
        return -1;
    }
    size_t len = n / 4 * 3 - pad;
    if (len != KEY_LEN) {
        snprintf(why, wcap, "decodes to %zu bytes; a key is exactly %d bytes", len, KEY_LEN);
        return -1;
    }
    if (ms_b64_decode(s, n, out, KEY_LEN) != KEY_LEN) {
        OPENSSL_cleanse(out, KEY_LEN);
        snprintf(why, wcap, "is not canonical base64 (the unused low bits of its last character must be zero)");
        return -1;
    }
    return 0;
}

/* Adds a generation slot. Growing copies and cleanses by hand (realloc would
 * leave copies of keys behind in freed memory). */
static kr_gen *add_gen(ms_keyring *k)
{
    if (k->ngen == k->capgen) {
        int cap = k->capgen ? 2 * k->capgen : 8;
        kr_gen *g = calloc((size_t)cap, sizeof *g);
        if (!g)
            return NULL;
        if (k->gen)
            memcpy(g, k->gen, (size_t)k->ngen * sizeof *g);
        secret_free(k->gen, (size_t)k->capgen * sizeof *k->gen);
        k->gen = g;
        k->capgen = cap;
    }
    kr_gen *g = &k->gen[k->ngen++];
    memset(g, 0, sizeof *g);
    return g;
}

static ms_keyring *keyring_new(int kind, const char *origin)
{
    ms_keyring *k = calloc(1, sizeof *k);
    if (k) {
        k->kind = kind;
        snprintf(k->origin, sizeof k->origin, "%s", origin);
    }
    return k;
}

void ms_keyring_free(ms_keyring *k)
{
    if (!k)
        return;
    EVP_PKEY_free(k->pkey); /* libcrypto cleanses the raw private key */
    secret_free(k->gen, (size_t)k->capgen * sizeof *k->gen);
    OPENSSL_cleanse(k, sizeof *k);
    free(k);
}

/* ---- parsing -------------------------------------------------------------- */

typedef struct parser {
    const char *origin;
    ms_err *e;
    ms_keyring *k;
    const char *text; /* start of the whole text (offsets of key fields) */
    int header, signing, commit; /* lines where each was seen, 0 = not yet */
} parser;

/* "ORIGIN:LINE: what" — what is ours, never the line's content. */
static int perr(parser *p, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int perr(parser *p, int line, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return ms_fail(p->e, MS_EINPUT, "%s:%d: %s", p->origin, line, what);
}

typedef struct field {
    const char *s;
    size_t n;
} field;

#define MAX_FIELDS 8

static int field_is(const field *f, const char *word)
{
    return f->n == strlen(word) && memcmp(f->s, word, f->n) == 0;
}

static int parse_signing(parser *p, int line, const field *f, int nf)
{
    if (p->signing)
        return perr(p, line, "a second signing line (exactly one is allowed; the first is on line %d)", p->signing);
    if (nf != 4)
        return perr(p, line, "a signing line has 3 fields after 'signing' (NAME CREATED PRIVATE_B64), this one has %d",
                    nf - 1);
    if (!valid_name(f[1].s, f[1].n))
        return perr(p, line, "the signing key name must be 1..%d bytes of printable ASCII (0x21..0x7e) without '+'",
                    MS_KEYRING_NAME_MAX);
    if (!valid_created(f[2].s, f[2].n))
        return perr(p, line, "the created time is not a UTC date and time YYYY-MM-DDTHH:MM:SSZ");
    unsigned char seed[KEY_LEN];
    char why[128];
    if (key_field(f[3].s, f[3].n, seed, why, sizeof why))
        return perr(p, line, "the private key %s", why);
    p->k->pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, KEY_LEN);
    OPENSSL_cleanse(seed, sizeof seed);
    if (!p->k->pkey)
        return ms_fail(p->e, MS_EIO, "libcrypto: cannot make an Ed25519 key from the private key on line %d of %s",
                       line, p->origin);
    memcpy(p->k->signer, f[1].s, f[1].n);
    p->k->signer[f[1].n] = 0;
    p->signing = line;
    return MS_OK;
}

static int parse_commit(parser *p, int line, const field *f, int nf)
{
    if (p->commit)
        return perr(p, line, "a second commit line (exactly one is allowed; the first is on line %d)", p->commit);
    if (nf != 3)
        return perr(p, line, "a commit line has 2 fields after 'commit' (CREATED KEY_B64), this one has %d", nf - 1);
    if (!valid_created(f[1].s, f[1].n))
        return perr(p, line, "the created time is not a UTC date and time YYYY-MM-DDTHH:MM:SSZ");
    char why[128];
    if (key_field(f[2].s, f[2].n, p->k->commit, why, sizeof why))
        return perr(p, line, "the commitment key %s", why);
    p->commit = line;
    return MS_OK;
}

static int parse_hmac(parser *p, int line, const field *f, int nf)
{
    ms_keyring *k = p->k;
    if (nf != 5)
        return perr(p, line,
                    "an hmac line has 4 fields after 'hmac' (GEN CREATED FINGERPRINT KEY_B64, or 'destroyed' for the "
                    "key), this one has %d",
                    nf - 1);
    int gen;
    if (!parse_gen(f[1].s, f[1].n, &gen))
        return perr(p, line, "the generation is not a decimal number without leading zeros (0..999999999)");
    if (gen > k->ngen)
        return perr(p, line, "skips generation %d: hmac generations are numbered 0, 1, 2, ... in file order, without "
                    "gaps", k->ngen);
    if (gen < k->ngen)
        return perr(p, line, "an hmac generation out of order or repeated: generation %d was expected here "
                    "(generations are numbered 0, 1, 2, ... in file order)", k->ngen);
    if (!valid_created(f[2].s, f[2].n))
        return perr(p, line, "the created time is not a UTC date and time YYYY-MM-DDTHH:MM:SSZ");
    if (f[3].n != 32 || !ms_is_lower_hex(f[3].s, f[3].n))
        return perr(p, line, "the fingerprint is not 32 lowercase hex digits");
    kr_gen *g = add_gen(k);
    if (!g)
        return ms_fail(p->e, MS_EIO, "out of memory reading keyring %s", p->origin);
    memcpy(g->created, f[2].s, 20);
    memcpy(g->fingerprint, f[3].s, 32);
    g->key_off = (size_t)(f[4].s - p->text);
    g->key_len = f[4].n;
    if (field_is(&f[4], destroyed_word)) {
        g->destroyed = 1;
        return MS_OK;
    }
    char why[128], fp[33];
    if (key_field(f[4].s, f[4].n, g->key, why, sizeof why))
        return perr(p, line, "the key of generation %d %s", gen, why);
    int rc = fingerprint_of(g->key, fp, p->e);
    if (rc)
        return rc;
    if (strcmp(fp, g->fingerprint) != 0)
        return perr(p, line, "the fingerprint does not match the key of generation %d (the key or its fingerprint "
                    "was altered)", gen);
    return MS_OK;
}

static int parse_record(parser *p, int line, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return perr(p, line, "a byte outside printable ASCII; record lines hold printable ASCII fields "
                        "separated by one space (only comments may hold other bytes)");
    if (s[0] == ' ') {
        size_t i = 0;
        while (i < len && s[i] == ' ')
            i++;
        return perr(p, line, i == len ? "a line of spaces; blank lines must be empty"
                                      : "a leading space; a record starts in the first column");
    }
    if (s[len - 1] == ' ')
        return perr(p, line, "a trailing space; fields are separated by exactly one space and the line ends after "
                    "the last field");
    field f[MAX_FIELDS];
    int nf = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != ' ')
            continue;
        if (i == start)
            return perr(p, line, "two spaces in a row; fields are separated by exactly one space");
        if (nf == MAX_FIELDS)
            return perr(p, line, "too many fields for any record of a keyring");
        f[nf].s = s + start;
        f[nf].n = i - start;
        nf++;
        start = i + 1;
    }
    if (!p->header) {
        if (field_is(&f[0], header_word) && nf == 2 && !field_is(&f[1], "1"))
            return perr(p, line, "unsupported keyring format version; this marlsim reads version 1 only "
                        "('marlsim-keyring 1')");
        if (!field_is(&f[0], header_word) || nf != 2)
            return perr(p, line, "expected the header 'marlsim-keyring 1' as the first line that is not a comment "
                        "or blank (is this a marlsim keyring?)");
        p->header = line;
        return MS_OK;
    }
    if (field_is(&f[0], "signing"))
        return parse_signing(p, line, f, nf);
    if (field_is(&f[0], "commit"))
        return parse_commit(p, line, f, nf);
    if (field_is(&f[0], "hmac"))
        return parse_hmac(p, line, f, nf);
    if (field_is(&f[0], header_word))
        return perr(p, line, "a second header line (the header comes once, first)");
    return perr(p, line, "unknown record; allowed: signing, commit, hmac (comments start with '#')");
}

/* Parses text[0..n) (n <= MS_KEYRING_MAX_BYTES) into k. */
static int parse_text(const char *text, size_t n, const char *origin, ms_keyring *k, ms_err *e)
{
    parser p = {origin, e, k, text, 0, 0, 0};
    size_t pos = 0;
    int line = 0, rc;
    while (pos < n) {
        line++;
        const char *s = text + pos;
        const char *nl = memchr(s, '\n', n - pos);
        size_t len = nl ? (size_t)(nl - s) : n - pos;
        if (memchr(s, 0, len))
            return perr(&p, line, "a NUL byte; a keyring is text");
        if (memchr(s, '\r', len))
            return perr(&p, line, "a carriage return (CR); lines end with '\\n' alone (no CRLF)");
        if (!nl)
            return perr(&p, line, "the last line does not end with a newline ('\\n')");
        pos += len + 1;
        if (len == 0 || s[0] == '#')
            continue;
        if ((rc = parse_record(&p, line, s, len)))
            return rc;
    }
    int last = line ? line : 1;
    if (!p.header)
        return perr(&p, last, "the keyring ends without the header 'marlsim-keyring 1' (is this a marlsim keyring?)");
    if (!p.signing)
        return perr(&p, last, "the keyring ends without a signing line (exactly one is required)");
    if (!p.commit)
        return perr(&p, last, "the keyring ends without a commit line (exactly one is required)");
    if (!k->ngen)
        return perr(&p, last, "the keyring ends without an hmac line (generation 0 is required)");
    return MS_OK;
}

/* The refusal of a source over MS_KEYRING_MAX_BYTES (buf holds at least
 * MS_KEYRING_MAX_BYTES + 1 bytes): named at the line that crosses the limit. */
static int too_big(const char *origin, const char *buf, ms_err *e)
{
    int line = 1;
    for (size_t i = 0; i < (size_t)MS_KEYRING_MAX_BYTES; i++)
        line += buf[i] == '\n';
    return ms_fail(e, MS_EINPUT, "%s:%d: the keyring is larger than 1 MiB (%d bytes), the most a keyring may hold; "
                   "this line crosses the limit", origin, line, MS_KEYRING_MAX_BYTES);
}

/* Parses buf[0..n) (n <= BUF_CAP) into a new keyring of kind/origin. */
static int load_text(int kind, const char *origin, const char *buf, size_t n, ms_keyring **out, ms_err *e)
{
    if (n > (size_t)MS_KEYRING_MAX_BYTES)
        return too_big(origin, buf, e);
    ms_keyring *k = keyring_new(kind, origin);
    if (!k)
        return ms_fail(e, MS_EIO, "out of memory loading keyring %s", origin);
    int rc = parse_text(buf, n, origin, k, e);
    if (rc) {
        ms_keyring_free(k);
        return rc;
    }
    *out = k;
    return MS_OK;
}

/* ---- reading sources ------------------------------------------------------ */

/* Reads fd to its end or until cap bytes; *got = bytes read. 0 or errno. */
static int read_fd(int fd, char *buf, size_t cap, size_t *got)
{
    *got = 0;
    while (*got < cap) {
        ssize_t r = read(fd, buf + *got, cap - *got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return errno;
        if (r == 0)
            break;
        *got += (size_t)r;
    }
    return 0;
}

static const char *kind_of(mode_t m)
{
    if (S_ISDIR(m))
        return "a directory";
    if (S_ISFIFO(m))
        return "a FIFO (named pipe)";
    if (S_ISSOCK(m))
        return "a socket";
    if (S_ISCHR(m))
        return "a character device";
    if (S_ISBLK(m))
        return "a block device";
    return "not a regular file";
}

/* The checks on an open keyring's fstat. */
static int check_stat(const char *path, const struct stat *st, ms_err *e)
{
    if (!S_ISREG(st->st_mode))
        return ms_fail(e, MS_EINPUT, "keyring %s is %s, not a regular file; a keyring is a text file of mode 0600",
                       path, kind_of(st->st_mode));
    uid_t me = geteuid();
    if (st->st_uid != me)
        return ms_fail(e, MS_EINPUT,
                       "keyring %s is owned by uid %u, not by the user running marlsim (uid %u); a keyring must "
                       "belong to that user (chown it, or use a keyring of your own)",
                       path, (unsigned)st->st_uid, (unsigned)me);
    if (st->st_mode & 077)
        return ms_fail(e, MS_EINPUT,
                       "keyring %s has mode %04o: its group or others may access it; a keyring must be mode 0600 or "
                       "stricter (chmod 600 %s)",
                       path, (unsigned)(st->st_mode & 07777), path);
    return MS_OK;
}

/* Opens path for reading as a keyring file, refusing what load refuses. */
static int open_keyring(const char *path, int *fd_out, struct stat *st, ms_err *e)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        int err = errno;
        struct stat lst;
        if (err == ELOOP && lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode))
            return ms_fail(e, MS_EINPUT,
                           "keyring %s is a symbolic link; marlsim does not follow links to key files (name the file "
                           "itself, or replace the link with the file)",
                           path);
        if (err == ENOENT)
            return ms_fail(e, MS_EINPUT,
                           "no keyring at %s; `marlsim keys init` creates one (or choose another with --keyring, "
                           "[keys] keyring or MARLSIM_KEYRING)",
                           path);
        if (err == EACCES || err == EPERM || err == ENOTDIR || err == ELOOP || err == ENAMETOOLONG)
            return ms_fail(e, MS_EINPUT, "cannot open keyring %s: %s", path, strerror(err));
        return ms_fail(e, MS_EIO, "cannot open keyring %s: %s", path, strerror(err));
    }
    if (fstat(fd, st) != 0) {
        int err = errno;
        close(fd);
        return ms_fail(e, MS_EIO, "cannot stat keyring %s: %s", path, strerror(err));
    }
    int rc = check_stat(path, st, e);
    if (rc) {
        close(fd);
        return rc;
    }
    *fd_out = fd;
    return MS_OK;
}

static int load_file(const char *path, ms_keyring **out, ms_err *e)
{
    int fd = -1;
    struct stat st;
    int rc = open_keyring(path, &fd, &st, e);
    if (rc)
        return rc;
    char *buf = malloc(BUF_CAP);
    size_t n = 0;
    int err = buf ? read_fd(fd, buf, BUF_CAP, &n) : ENOMEM;
    close(fd);
    if (err)
        rc = ms_fail(e, MS_EIO, "cannot read keyring %s: %s", path, strerror(err));
    else
        rc = load_text(MS_KEYRING_FILE, path, buf, n, out, e);
    secret_free(buf, n);
    return rc;
}

/* Runs /bin/sh -c cmd with stdout into buf (up to BUF_CAP bytes). */
static int run_command(const char *cmd, const char *origin, char *buf, size_t *n, ms_err *e)
{
    int pfd[2];
    *n = 0;
    if (pipe2(pfd, O_CLOEXEC) != 0)
        return ms_fail(e, MS_EIO, "cannot make a pipe for keyring command %s: %s", origin, strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc == 0 && (rc = posix_spawnattr_init(&at)) != 0)
        posix_spawn_file_actions_destroy(&fa);
    if (rc) {
        close(pfd[0]);
        close(pfd[1]);
        return ms_fail(e, MS_EIO, "cannot prepare keyring command %s: %s", origin, strerror(rc));
    }
    sigset_t def, none;
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    sigemptyset(&none);
    /* The write end becomes stdout (first: it is never fd 0, which the
     * open replaces); the read end closes at exec (O_CLOEXEC). */
    rc = posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    if (!rc)
        rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (!rc)
        rc = posix_spawnattr_setsigdefault(&at, &def);
    if (!rc)
        rc = posix_spawnattr_setsigmask(&at, &none);
    if (!rc)
        rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    pid_t pid = -1;
    char sh[] = "sh", dash_c[] = "-c";
    char *argv[] = {sh, dash_c, (char *)cmd, NULL};
    if (!rc)
        rc = posix_spawn(&pid, "/bin/sh", &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(pfd[1]);
    if (rc) {
        close(pfd[0]);
        return ms_fail(e, MS_EIO, "cannot run /bin/sh for keyring command %s: %s", origin, strerror(rc));
    }
    int err = read_fd(pfd[0], buf, BUF_CAP, n);
    close(pfd[0]);
    int over = *n > (size_t)MS_KEYRING_MAX_BYTES;
    if (over)
        kill(pid, SIGKILL); /* it has said too much already; its pipe is closed too */
    int status;
    pid_t w;
    while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
        ;
    if (w < 0)
        return ms_fail(e, MS_EIO, "cannot wait for keyring command %s: %s", origin, strerror(errno));
    if (err)
        return ms_fail(e, MS_EIO, "cannot read the output of keyring command %s: %s", origin, strerror(err));
    if (over)
        return too_big(origin, buf, e);
    if (WIFSIGNALED(status))
        return ms_fail(e, MS_EINPUT, "keyring command %s was killed by signal %d (%s); its output was not used",
                       origin, WTERMSIG(status), strsignal(WTERMSIG(status)));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return ms_fail(e, MS_EINPUT, "keyring command %s exited with status %d%s; its output was not used", origin,
                       WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                       WIFEXITED(status) && WEXITSTATUS(status) == 127 ? " (command not found?)" : "");
    return MS_OK;
}

static int load_command(const char *cmd, ms_keyring **out, ms_err *e)
{
    char origin[MS_PATH_MAX + 8];
    snprintf(origin, sizeof origin, "cmd:%s", cmd);
    char *buf = malloc(BUF_CAP);
    if (!buf)
        return ms_fail(e, MS_EIO, "out of memory running keyring command %s", origin);
    size_t n = 0;
    int rc = run_command(cmd, origin, buf, &n, e);
    if (!rc)
        rc = load_text(MS_KEYRING_CMD, origin, buf, n, out, e);
    secret_free(buf, n);
    return rc;
}

int ms_keyring_load(const ms_keyring_source *src, ms_keyring **out, ms_err *e)
{
    *out = NULL;
    switch (src->kind) {
    case MS_KEYRING_FILE:
        if (!src->spec[0])
            return ms_fail(e, MS_EINPUT, "keyring: the path is empty");
        return load_file(src->spec, out, e);
    case MS_KEYRING_CMD:
        if (!src->spec[0])
            return ms_fail(e, MS_EINPUT, "keyring: 'cmd:' needs a command after it");
        return load_command(src->spec, out, e);
    case MS_KEYRING_DEV:
        return ms_fail(e, MS_EINPUT, "keyring 'dev' is the development keyring: it is derived from the seed "
                       "(ms_keyring_dev), not loaded");
    default:
        return ms_fail(e, MS_EINPUT, "keyring: unknown source kind %d", src->kind);
    }
}

int ms_keyring_parse(const char *text, size_t n, const char *origin, ms_keyring **out, ms_err *e)
{
    *out = NULL;
    return load_text(MS_KEYRING_CMD, origin, text, n, out, e);
}

int ms_keyring_dev(uint64_t seed, ms_keyring **out, ms_err *e)
{
    *out = NULL;
    ms_keyring *k = keyring_new(MS_KEYRING_DEV, "dev");
    if (!k)
        return ms_fail(e, MS_EIO, "out of memory for the development keyring");
    k->seed = seed;
    unsigned char in[8];
    put_u64le(in, seed);
    int rc = ms_sha256_2(dev_commit_tag, sizeof dev_commit_tag - 1, in, sizeof in, k->commit, e);
    if (rc) {
        ms_keyring_free(k);
        return rc;
    }
    *out = k;
    return MS_OK;
}

/* ---- resolution ----------------------------------------------------------- */

int ms_keyring_default_path(char *out, size_t cap, ms_err *e)
{
    const char *x = getenv("XDG_DATA_HOME");
    int n;
    if (x && x[0] == '/') {
        n = snprintf(out, cap, "%s/marlsim/keyring", x);
    } else {
        const char *h = getenv("HOME");
        if (!h || h[0] != '/')
            return ms_fail(e, MS_EINPUT,
                           "HOME is %s, so there is no default keyring path "
                           "(${XDG_DATA_HOME:-$HOME/.local/share}/marlsim/keyring); set HOME or XDG_DATA_HOME to an "
                           "absolute path, or choose a keyring with --keyring, [keys] keyring or MARLSIM_KEYRING",
                           !h ? "not set" : !h[0] ? "empty" : "not an absolute path");
        n = snprintf(out, cap, "%s/.local/share/marlsim/keyring", h);
    }
    if (n < 0 || (size_t)n >= cap) {
        if (cap)
            out[0] = 0;
        return ms_fail(e, MS_EINPUT, "the default keyring path (under %s) is longer than %zu bytes",
                       x && x[0] == '/' ? "XDG_DATA_HOME" : "HOME", cap ? cap - 1 : 0);
    }
    return MS_OK;
}

static int classify(const char *value, const char *origin, ms_keyring_source *src, ms_err *e)
{
    snprintf(src->origin, sizeof src->origin, "%s", origin);
    if (!strcmp(value, "dev")) {
        src->kind = MS_KEYRING_DEV;
        return MS_OK;
    }
    const char *spec = value;
    src->kind = MS_KEYRING_FILE;
    if (!strncmp(value, "cmd:", 4)) {
        src->kind = MS_KEYRING_CMD;
        spec = value + 4;
        if (!spec[0])
            return ms_fail(e, MS_EINPUT, "%s: 'cmd:' needs a command after it (e.g. cmd:pass show marlsim); a "
                           "file named cmd: is written ./cmd:", origin);
    }
    if (strlen(spec) > MS_PATH_MAX)
        return ms_fail(e, MS_EINPUT, "%s: the keyring %s is longer than %d bytes", origin,
                       src->kind == MS_KEYRING_CMD ? "command" : "path", MS_PATH_MAX);
    memcpy(src->spec, spec, strlen(spec) + 1);
    return MS_OK;
}

int ms_keyring_resolve(const char *opt, const char *cfg, ms_keyring_source *src, ms_err *e)
{
    memset(src, 0, sizeof *src);
    if (opt) {
        if (!opt[0])
            return ms_fail(e, MS_EINPUT, "--keyring: the value is empty; allowed: a path, dev or cmd:COMMAND");
        return classify(opt, "--keyring", src, e);
    }
    if (cfg && cfg[0])
        return classify(cfg, "[keys] keyring", src, e);
    const char *env = getenv("MARLSIM_KEYRING");
    if (env && env[0])
        return classify(env, "MARLSIM_KEYRING", src, e);
    snprintf(src->origin, sizeof src->origin, "default");
    src->kind = MS_KEYRING_FILE;
    return ms_keyring_default_path(src->spec, sizeof src->spec, e);
}

/* ---- writing -------------------------------------------------------------- */

/* The directory part of path ("." when there is none). */
static void dir_of(const char *path, char *out, size_t cap)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(out, cap, ".");
    else if (slash == path)
        snprintf(out, cap, "/");
    else
        snprintf(out, cap, "%.*s", (int)(slash - path), path);
}

static int fsync_dir(const char *path, ms_err *e)
{
    char dir[MS_PATH_MAX + 1];
    dir_of(path, dir, sizeof dir);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return ms_fail(e, MS_EIO, "cannot open directory %s to sync it: %s", dir, strerror(errno));
    int rc = MS_OK;
    if (fsync(fd) != 0 && errno != EINVAL) /* EINVAL: a filesystem that cannot sync directories */
        rc = ms_fail(e, MS_EIO, "cannot sync directory %s: %s", dir, strerror(errno));
    close(fd);
    return rc;
}

/* Writes text to a fresh temporary file beside path (name into tmp), with
 * mode, synced and closed. On failure nothing is left behind. */
static int write_temp(const char *path, const char *text, size_t n, mode_t mode, char *tmp, size_t tcap, ms_err *e)
{
    if (snprintf(tmp, tcap, "%s.tmp-XXXXXX", path) >= (int)tcap)
        return ms_fail(e, MS_EINPUT, "keyring path %s is too long", path);
    int fd = mkostemp(tmp, O_CLOEXEC); /* mode 0600 */
    if (fd < 0)
        return ms_fail(e, MS_EIO, "cannot create a temporary file beside keyring %s: %s", path, strerror(errno));
    const char *what = NULL;
    if (mode != 0600 && fchmod(fd, mode) != 0)
        what = "set the mode of";
    for (size_t done = 0; !what && done < n;) {
        ssize_t w = write(fd, text + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            what = "write";
        else
            done += (size_t)w;
    }
    if (!what && fsync(fd) != 0)
        what = "sync";
    int err = errno;
    if (close(fd) != 0 && !what) {
        what = "close";
        err = errno;
    }
    if (what) {
        unlink(tmp);
        return ms_fail(e, MS_EIO, "cannot %s temporary file %s: %s", what, tmp, strerror(err));
    }
    return MS_OK;
}

/* mkdir -p of path's directory: the last component 0700, the others 0755. */
static int make_parents(const char *path, ms_err *e)
{
    char dir[MS_PATH_MAX + 1];
    dir_of(path, dir, sizeof dir);
    size_t n = strlen(dir);
    for (size_t i = 1; i <= n; i++) {
        if (i < n && dir[i] != '/')
            continue;
        if (i < n && dir[i - 1] == '/')
            continue; /* "//" or the leading "/" */
        char c = dir[i];
        dir[i] = 0;
        struct stat sb;
        if (mkdir(dir, i == n ? 0700 : 0755) != 0 && errno != EEXIST) {
            int err = errno;
            int rc = ms_fail(e, err == EACCES || err == EROFS || err == ENOTDIR ? MS_EINPUT : MS_EIO,
                             "cannot create directory %s for the keyring: %s", dir, strerror(err));
            dir[i] = c;
            return rc;
        }
        if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            int rc = ms_fail(e, MS_EINPUT, "%s is not a directory, so keyring %s cannot be created in it", dir, path);
            dir[i] = c;
            return rc;
        }
        dir[i] = c;
    }
    return MS_OK;
}

/* Builds the text of a new keyring into buf. */
static int new_keyring_text(const char *name, char *buf, size_t cap, size_t *n, ms_err *e)
{
    unsigned char seed[KEY_LEN], commit[KEY_LEN], h0[KEY_LEN];
    char created[21], fp[33], b_seed[KEY_B64_LEN + 1], b_commit[KEY_B64_LEN + 1], b_h0[KEY_B64_LEN + 1];
    int rc = now_utc(created, e);
    if (!rc)
        rc = random_key(seed, e);
    if (!rc)
        rc = random_key(commit, e);
    if (!rc)
        rc = random_key(h0, e);
    if (!rc)
        rc = fingerprint_of(h0, fp, e);
    if (!rc) {
        /* The seed must make a key (any 32 bytes do; this proves libcrypto agrees). */
        EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, KEY_LEN);
        if (!pk)
            rc = ms_fail(e, MS_EIO, "libcrypto: cannot make an Ed25519 signing key");
        EVP_PKEY_free(pk);
    }
    if (!rc) {
        ms_b64_encode(seed, KEY_LEN, b_seed);
        ms_b64_encode(commit, KEY_LEN, b_commit);
        ms_b64_encode(h0, KEY_LEN, b_h0);
        int w = snprintf(buf, cap,
                         "# marlsim keyring. SECRET: this file holds private keys (signing, commitment and\n"
                         "# pseudonym keys). Keep it mode 0600; never share, commit, paste or log it, and\n"
                         "# back it up only encrypted. Change it with `marlsim keys` (format: keys/keyring.h).\n"
                         "%s 1\n"
                         "signing %s %s %s\n"
                         "commit %s %s\n"
                         "hmac 0 %s %s %s\n",
                         header_word, name, created, b_seed, created, b_commit, created, fp, b_h0);
        if (w < 0 || (size_t)w >= cap)
            rc = ms_fail(e, MS_EIO, "keyring text does not fit its buffer");
        else
            *n = (size_t)w;
    }
    OPENSSL_cleanse(seed, sizeof seed);
    OPENSSL_cleanse(commit, sizeof commit);
    OPENSSL_cleanse(h0, sizeof h0);
    OPENSSL_cleanse(b_seed, sizeof b_seed);
    OPENSSL_cleanse(b_commit, sizeof b_commit);
    OPENSSL_cleanse(b_h0, sizeof b_h0);
    return rc;
}

static int refuse_existing(const char *path, ms_err *e)
{
    return ms_fail(e, MS_EINPUT, "%s already exists; marlsim never overwrites a keyring (`marlsim keys rotate` adds "
                   "a generation to it; to start over, move it away first)", path);
}

static int check_path(const char *path, ms_err *e)
{
    size_t n = path ? strlen(path) : 0;
    if (!n)
        return ms_fail(e, MS_EINPUT, "keyring: the path is empty");
    if (n > MS_PATH_MAX)
        return ms_fail(e, MS_EINPUT, "keyring: the path is longer than %d bytes", MS_PATH_MAX);
    if (path[n - 1] == '/')
        return ms_fail(e, MS_EINPUT, "keyring path %s ends in '/': it names a directory, not a file", path);
    return MS_OK;
}

int ms_keyring_create(const char *path, const char *name, ms_err *e)
{
    int rc = check_path(path, e);
    if (rc)
        return rc;
    if (!name || !valid_name(name, strlen(name)))
        return ms_fail(e, MS_EINPUT, "keyring: the signing key name must be 1..%d bytes of printable ASCII "
                       "(0x21..0x7e) without '+'", MS_KEYRING_NAME_MAX);
    struct stat sb;
    if (lstat(path, &sb) == 0)
        return refuse_existing(path, e);
    if ((rc = make_parents(path, e)))
        return rc;
    char text[1024], tmp[MS_PATH_MAX + 32];
    size_t n = 0;
    rc = new_keyring_text(name, text, sizeof text, &n, e);
    if (!rc)
        rc = write_temp(path, text, n, 0600, tmp, sizeof tmp, e);
    OPENSSL_cleanse(text, sizeof text);
    if (rc)
        return rc;
    /* link() fails when anything appeared at path meanwhile: never clobbers. */
    if (link(tmp, path) == 0) {
        unlink(tmp);
    } else {
        int err = errno;
        if (err == EEXIST || lstat(path, &sb) == 0) {
            unlink(tmp);
            return refuse_existing(path, e);
        }
        if (err != EPERM && err != ENOTSUP && err != EOPNOTSUPP && err != EMLINK) {
            unlink(tmp);
            return ms_fail(e, MS_EIO, "cannot create keyring %s: %s", path, strerror(err));
        }
        /* A filesystem without hard links: checked above, then moved. */
        if (rename(tmp, path) != 0) {
            err = errno;
            unlink(tmp);
            return ms_fail(e, MS_EIO, "cannot move %s to %s: %s", tmp, path, strerror(err));
        }
    }
    return fsync_dir(path, e);
}

enum { EDIT_ROTATE, EDIT_DESTROY };

/* Opens path and takes an exclusive flock on the inode the path names once
 * the lock is held (a rewriter may have replaced it meanwhile: retried). */
static int open_locked(const char *path, int *fd_out, struct stat *st, ms_err *e)
{
    for (int attempt = 0; attempt < 1000; attempt++) {
        int fd, rc = open_keyring(path, &fd, st, e);
        if (rc)
            return rc;
        while (flock(fd, LOCK_EX) != 0) {
            if (errno != EINTR) {
                int err = errno;
                close(fd);
                return ms_fail(e, MS_EIO, "cannot lock keyring %s: %s", path, strerror(err));
            }
        }
        struct stat now;
        if (fstat(fd, st) == 0 && lstat(path, &now) == 0 && now.st_dev == st->st_dev && now.st_ino == st->st_ino &&
            st->st_nlink > 0) {
            if ((rc = check_stat(path, st, e))) { /* it may have changed while we waited */
                close(fd);
                return rc;
            }
            *fd_out = fd;
            return MS_OK;
        }
        close(fd);
    }
    return ms_fail(e, MS_EIO, "keyring %s kept being replaced while marlsim waited for its lock", path);
}

static int edit(const char *path, int op, int gen_arg, int *gen_out, ms_err *e)
{
    int rc = check_path(path, e);
    if (rc)
        return rc;
    int fd = -1;
    struct stat st;
    if ((rc = open_locked(path, &fd, &st, e)))
        return rc;
    size_t cap = BUF_CAP + 256, n = 0, m = 0;
    char *buf = malloc(BUF_CAP), *out = malloc(cap);
    ms_keyring *k = NULL;
    int err = buf && out ? read_fd(fd, buf, BUF_CAP, &n) : ENOMEM;
    if (err)
        rc = ms_fail(e, MS_EIO, "cannot read keyring %s: %s", path, strerror(err));
    if (!rc)
        rc = load_text(MS_KEYRING_FILE, path, buf, n, &k, e);
    if (!rc && op == EDIT_ROTATE) {
        unsigned char key[KEY_LEN];
        char created[21], fp[33], b64[KEY_B64_LEN + 1];
        int gen = k->ngen;
        if (gen > 999999999)
            rc = ms_fail(e, MS_EINPUT, "keyring %s has no room for another generation", path);
        if (!rc)
            rc = now_utc(created, e);
        if (!rc)
            rc = random_key(key, e);
        if (!rc)
            rc = fingerprint_of(key, fp, e);
        if (!rc) {
            ms_b64_encode(key, KEY_LEN, b64);
            memcpy(out, buf, n);
            int w = snprintf(out + n, cap - n, "hmac %d %s %s %s\n", gen, created, fp, b64);
            m = n + (size_t)w;
            if (m > (size_t)MS_KEYRING_MAX_BYTES)
                rc = ms_fail(e, MS_EINPUT, "keyring %s: another generation would make it larger than 1 MiB", path);
            else if (gen_out)
                *gen_out = gen;
        }
        OPENSSL_cleanse(key, sizeof key);
        OPENSSL_cleanse(b64, sizeof b64);
    } else if (!rc) {
        if (gen_arg < 0 || gen_arg >= k->ngen)
            rc = ms_fail(e, MS_EINPUT, "keyring %s has no generation %d (it has generations 0..%d)", path, gen_arg,
                         k->ngen - 1);
        else if (k->gen[gen_arg].destroyed)
            rc = ms_fail(e, MS_EINPUT, "generation %d (key id k%d) of keyring %s is already destroyed", gen_arg,
                         gen_arg, path);
        else {
            const kr_gen *g = &k->gen[gen_arg];
            memcpy(out, buf, g->key_off);
            memcpy(out + g->key_off, destroyed_word, sizeof destroyed_word - 1);
            size_t tail = g->key_off + g->key_len;
            memcpy(out + g->key_off + sizeof destroyed_word - 1, buf + tail, n - tail);
            m = n - g->key_len + sizeof destroyed_word - 1;
        }
    }
    char tmp[MS_PATH_MAX + 32];
    if (!rc)
        rc = write_temp(path, out, m, st.st_mode & 0700, tmp, sizeof tmp, e);
    if (!rc && rename(tmp, path) != 0) {
        err = errno;
        unlink(tmp);
        rc = ms_fail(e, MS_EIO, "cannot move %s over keyring %s: %s", tmp, path, strerror(err));
    }
    if (!rc)
        rc = fsync_dir(path, e);
    ms_keyring_free(k);
    secret_free(buf, n);
    secret_free(out, m);
    close(fd); /* releases the lock */
    return rc;
}

int ms_keyring_rotate(const char *path, int *gen, ms_err *e)
{
    return edit(path, EDIT_ROTATE, 0, gen, e);
}

int ms_keyring_destroy(const char *path, int gen, ms_err *e)
{
    return edit(path, EDIT_DESTROY, gen, NULL, e);
}

/* ---- reading -------------------------------------------------------------- */

int ms_keyring_is_dev(const ms_keyring *k)
{
    return k->kind == MS_KEYRING_DEV;
}

const char *ms_keyring_origin(const ms_keyring *k)
{
    return k->origin;
}

int ms_keyring_generations(const ms_keyring *k)
{
    return k->kind == MS_KEYRING_DEV ? INT_MAX : k->ngen;
}

static int no_generation(const ms_keyring *k, int gen, ms_err *e)
{
    if (k->kind == MS_KEYRING_DEV)
        return ms_fail(e, MS_EINPUT, "key generation %d does not exist (generations are numbered from 0)", gen);
    return ms_fail(e, MS_EINPUT, "key generation %d is not in keyring %s (it has generations 0..%d)", gen, k->origin,
                   k->ngen - 1);
}

int ms_keyring_generation(const ms_keyring *k, int gen, ms_key_generation *info, ms_err *e)
{
    memset(info, 0, sizeof *info);
    if (gen < 0 || (k->kind != MS_KEYRING_DEV && gen >= k->ngen))
        return no_generation(k, gen, e);
    info->gen = gen;
    if (k->kind == MS_KEYRING_DEV) {
        unsigned char key[KEY_LEN];
        int rc = dev_key(k->seed, gen, key, e);
        if (!rc)
            rc = fingerprint_of(key, info->fingerprint, e);
        OPENSSL_cleanse(key, sizeof key);
        snprintf(info->key_id, sizeof info->key_id, "dev%d", gen);
        return rc;
    }
    const kr_gen *g = &k->gen[gen];
    snprintf(info->key_id, sizeof info->key_id, "k%d", gen);
    memcpy(info->fingerprint, g->fingerprint, sizeof info->fingerprint);
    memcpy(info->created, g->created, sizeof info->created);
    info->destroyed = g->destroyed;
    return MS_OK;
}

int ms_keyring_find(const ms_keyring *k, const char *key_id, ms_key_generation *info, ms_err *e)
{
    memset(info, 0, sizeof *info);
    const char *prefix = k->kind == MS_KEYRING_DEV ? "dev" : "k";
    size_t pl = strlen(prefix), n = strlen(key_id);
    int gen;
    if (n > pl && !strncmp(key_id, prefix, pl) && parse_gen(key_id + pl, n - pl, &gen) &&
        (k->kind == MS_KEYRING_DEV || gen < k->ngen))
        return ms_keyring_generation(k, gen, info, e);
    if (!key_id[0])
        return ms_fail(e, MS_EINPUT, "an empty key id names no generation of keyring %s", k->origin);
    if (k->kind == MS_KEYRING_DEV)
        return ms_fail(e, MS_EINPUT, "key generation %.40s is not in keyring dev (the development keyring has key ids "
                       "dev0, dev1, ...)", key_id);
    return ms_fail(e, MS_EINPUT, "key generation %.40s is not in keyring %s (its key ids are k0..k%d)", key_id,
                   k->origin, k->ngen - 1);
}

int ms_keyring_hmac_key(const ms_keyring *k, int gen, unsigned char out[32], ms_err *e)
{
    memset(out, 0, KEY_LEN);
    if (gen < 0 || (k->kind != MS_KEYRING_DEV && gen >= k->ngen))
        return no_generation(k, gen, e);
    if (k->kind == MS_KEYRING_DEV)
        return dev_key(k->seed, gen, out, e);
    if (k->gen[gen].destroyed)
        return ms_fail(e, MS_ECHECK,
                       "key generation k%d of keyring %s was destroyed (crypto-shredded): its key is gone, so "
                       "pseudonyms made with it can no longer be recomputed or linked to their values",
                       gen, k->origin);
    memcpy(out, k->gen[gen].key, KEY_LEN);
    return MS_OK;
}

int ms_keyring_commit_key(const ms_keyring *k, unsigned char out[32], ms_err *e)
{
    (void)e;
    memcpy(out, k->commit, KEY_LEN);
    return MS_OK;
}

int ms_keyring_can_sign(const ms_keyring *k)
{
    return k->pkey != NULL;
}

const char *ms_keyring_signer_name(const ms_keyring *k)
{
    return k->pkey ? k->signer : "";
}

static int no_signer(const ms_keyring *k, ms_err *e)
{
    return ms_fail(e, MS_EINPUT, "keyring %s has no signing key (the development keyring cannot sign; use a keyring "
                   "file: `marlsim keys init`)", k->origin);
}

int ms_keyring_public_key(const ms_keyring *k, unsigned char pub[32], ms_err *e)
{
    if (!k->pkey)
        return no_signer(k, e);
    size_t n = 32;
    if (EVP_PKEY_get_raw_public_key(k->pkey, pub, &n) != 1 || n != 32)
        return ms_fail(e, MS_EIO, "libcrypto: cannot read the Ed25519 public key of keyring %s", k->origin);
    return MS_OK;
}

int ms_keyring_sign(const ms_keyring *k, const void *msg, size_t n, unsigned char sig[64], ms_err *e)
{
    if (!k->pkey)
        return no_signer(k, e);
    static const unsigned char empty[1];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t sl = 64;
    int ok = ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
             EVP_DigestSign(ctx, sig, &sl, msg ? msg : empty, n) == 1 && sl == 64;
    EVP_MD_CTX_free(ctx);
    return ok ? MS_OK : ms_fail(e, MS_EIO, "libcrypto: Ed25519 signing with keyring %s failed", k->origin);
}
