/* file.h — writing small files atomically.
 *
 * ms_write_atomic(path, data, n, mode): the bytes go to a fresh temporary
 * file beside path (same directory, created by mkstemp, so a leftover never
 * blocks anything), which is written in full, given `mode` (minus the umask
 * when use_umask), fsynced, renamed over path, and the directory fsynced.
 * Readers see the old file or the new one, never a part. On failure the
 * temporary file is removed and path is untouched.
 * Outcomes: MS_OK; MS_EINPUT when the path is too long; MS_EIO naming the
 * file and the system error.
 *
 * ms_read_small(path, max, &buf, &n): the whole of a small regular file
 * (at most max bytes) into a malloc'd, NUL-terminated buffer the caller
 * frees. Opened non-blocking and checked with fstat, so a FIFO or a device
 * named where a file is expected fails at once instead of hanging.
 * Outcomes: MS_OK; MS_EINPUT for a missing file, one that is not a regular
 * file, or one larger than max; MS_EIO for another system error or no
 * memory. Messages name the file.
 */
#ifndef MS_BASE_FILE_H
#define MS_BASE_FILE_H

#include <stddef.h>
#include <sys/types.h>

#include "base/err.h"

/* Longest path a setting or option may name (bytes). */
#define MS_PATH_MAX 1024

int ms_write_atomic(const char *path, const void *data, size_t n, mode_t mode, int use_umask, ms_err *e);
int ms_read_small(const char *path, size_t max, char **out, size_t *n, ms_err *e);

#endif
