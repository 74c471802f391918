#include "base/file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* fsync of the directory holding path, so the rename itself is durable. */
static int sync_dir(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    int fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int ms_write_atomic(const char *path, const void *data, size_t n, mode_t mode, int use_umask, ms_err *e)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", path) >= (int)sizeof tmp)
        return ms_fail(e, MS_EINPUT, "%s: path too long", path);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return ms_fail(e, MS_EIO, "cannot create a temporary file beside %s: %s", path, strerror(errno));
    if (use_umask) {
        mode_t mask = umask(0);
        umask(mask);
        mode &= ~mask;
    }
    const char *p = data;
    size_t left = n;
    int err = 0;
    while (left && !err) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            err = w < 0 ? errno : EIO;
        else
            p += w, left -= (size_t)w;
    }
    if (!err && fchmod(fd, mode) != 0)
        err = errno;
    if (!err && fsync(fd) != 0)
        err = errno;
    if (close(fd) != 0 && !err)
        err = errno;
    if (!err && rename(tmp, path) != 0)
        err = errno;
    if (err) {
        unlink(tmp); /* best effort: the temporary name is ours alone */
        return ms_fail(e, MS_EIO, "cannot write %s: %s", path, strerror(err));
    }
    if (sync_dir(path) != 0)
        return ms_fail(e, MS_EIO, "cannot sync the directory of %s: %s", path, strerror(errno));
    return MS_OK;
}

int ms_read_small(const char *path, size_t max, char **out, size_t *n, ms_err *e)
{
    *out = NULL;
    *n = 0;
    struct stat sb;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return ms_fail(e, errno == ENOENT ? MS_EINPUT : MS_EIO, "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd); /* read-only: nothing to flush */
        return ms_fail(e, MS_EINPUT, "%s: not a regular file", path);
    }
    char *buf = malloc(max + 1);
    size_t got = 0;
    ssize_t r = 1;
    while (buf && got < max + 1 && (r = read(fd, buf + got, max + 1 - got)) > 0)
        got += (size_t)r;
    close(fd); /* read-only: nothing to flush */
    if (!buf || r < 0 || got > max) {
        free(buf);
        return ms_fail(e, !buf || r < 0 ? MS_EIO : MS_EINPUT, "%s: %s", path,
                       !buf ? "out of memory" : r < 0 ? "read error" : "larger than expected");
    }
    buf[got] = 0;
    *out = buf;
    *n = got;
    return MS_OK;
}
