/* fuzz.c — see fuzz.h. */
#include "tests/fuzz/fuzz.h"

#include "sim/config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char scratch[256];
static pid_t scratch_owner;

void fuzz_rm_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            char p[512];
            snprintf(p, sizeof p, "%s/%s", path, de->d_name);
            struct stat sb;
            if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
                fuzz_rm_tree(p);
            else
                unlink(p); /* best effort: scratch space */
        }
        closedir(d);
    }
    rmdir(path);
}

void fuzz_tiny_config(ms_config *c)
{
    ms_config_defaults(c);
    c->envs = 2;
    c->episode_len = 8;
    c->env_steps = 128;
    c->rollout = 16;
    c->minibatch = 16;
    c->gate_every = 1;
    c->eval_episodes = 1;
    c->report_episodes = 1;
    c->checkpoint_every = 8;
    c->hidden[0] = 8;
    c->n_hidden = 1;
}

static void scratch_cleanup(void)
{
    if (scratch[0] && getpid() == scratch_owner)
        fuzz_rm_tree(scratch);
}

const char *fuzz_scratch_dir(const char *tag)
{
    if (scratch[0])
        return scratch;
    snprintf(scratch, sizeof scratch, "/tmp/fuzz-%s-XXXXXX", tag);
    if (!mkdtemp(scratch)) {
        scratch[0] = 0;
        return NULL;
    }
    scratch_owner = getpid();
    atexit(scratch_cleanup);
    return scratch;
}

char *fuzz_strndup(const uint8_t *data, size_t n)
{
    char *s = malloc(n + 1);
    if (!s)
        abort(); /* the harness cannot go on */
    if (n)
        memcpy(s, data, n);
    s[n] = 0;
    return s;
}

char *fuzz_read_file(const char *path, size_t *n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        close(fd);
        return NULL;
    }
    size_t cap = (size_t)sb.st_size, got = 0;
    char *buf = malloc(cap + 1);
    while (buf && got < cap) {
        ssize_t r = read(fd, buf + got, cap - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (!buf)
        return NULL;
    buf[got] = 0;
    *n = got;
    return buf;
}

int fuzz_write_file(const char *path, const void *data, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, (const char *)data + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            close(fd);
            return -1;
        }
        done += (size_t)w;
    }
    return close(fd) == 0 ? 0 : -1;
}

int fuzz_copy_file(const char *src, const char *dst)
{
    size_t n;
    char *buf = fuzz_read_file(src, &n);
    if (!buf)
        return -1;
    int rc = fuzz_write_file(dst, buf, n);
    free(buf);
    return rc;
}

uint8_t fuzz_u8(fuzz_reader *r)
{
    return r->at < r->n ? r->p[r->at++] : 0;
}

uint32_t fuzz_u16(fuzz_reader *r)
{
    uint32_t lo = fuzz_u8(r);
    return lo | (uint32_t)fuzz_u8(r) << 8;
}

uint32_t fuzz_u32(fuzz_reader *r)
{
    uint32_t lo = fuzz_u16(r);
    return lo | fuzz_u16(r) << 16;
}

void fuzz_bytes(fuzz_reader *r, size_t max, const uint8_t **out, size_t *len)
{
    size_t want = fuzz_u8(r) % (max + 1);
    size_t have = r->at < r->n ? r->n - r->at : 0;
    if (want > have)
        want = have;
    *out = r->p + (r->at < r->n ? r->at : r->n);
    *len = want;
    r->at += want;
}

int fuzz_left(const fuzz_reader *r)
{
    return r->at < r->n;
}
