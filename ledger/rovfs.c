/* rovfs.c — see rovfs.h. */
#include "ledger/rovfs.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#define RO_NAME "marlsim-ro"
#define SHM_MAX_REGIONS 4096

typedef struct ro_file {
    sqlite3_file base;    /* our methods */
    int fd;               /* the file, opened by us read-only; -1 = empty virtual WAL */
    void **region;        /* the WAL index, in memory */
    int nregion;
    int io_errors;        /* reads and index allocations that failed (lk_rovfs_io_errors) */
} ro_file;

static sqlite3_vfs ro_vfs;
static sqlite3_vfs *real_vfs;
static int reg_rc = SQLITE_ERROR;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* ---- file methods ---- */

static int ro_close(sqlite3_file *f)
{
    ro_file *p = (ro_file *)f;
    for (int i = 0; i < p->nregion; i++)
        free(p->region[i]);
    free(p->region);
    p->region = NULL;
    p->nregion = 0;
    if (p->fd >= 0)
        close(p->fd); /* read-only: nothing to lose */
    p->fd = -1;
    return SQLITE_OK;
}

static int ro_read(sqlite3_file *f, void *buf, int amt, sqlite3_int64 off)
{
    ro_file *p = (ro_file *)f;
    size_t got = 0;
    while (p->fd >= 0 && got < (size_t)amt) {
        ssize_t n = pread(p->fd, (char *)buf + got, (size_t)amt - got, (off_t)off + (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            p->io_errors++;
            return SQLITE_IOERR_READ;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    if (got < (size_t)amt) {
        memset((char *)buf + got, 0, (size_t)amt - got); /* SQLite's contract for short reads */
        return SQLITE_IOERR_SHORT_READ;
    }
    return SQLITE_OK;
}

static int ro_write(sqlite3_file *f, const void *buf, int amt, sqlite3_int64 off)
{
    (void)f, (void)buf, (void)amt, (void)off;
    return SQLITE_READONLY;
}

static int ro_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    (void)f, (void)size;
    return SQLITE_READONLY;
}

static int ro_sync(sqlite3_file *f, int flags)
{
    (void)f, (void)flags;
    return SQLITE_READONLY;
}

static int ro_size(sqlite3_file *f, sqlite3_int64 *size)
{
    ro_file *p = (ro_file *)f;
    struct stat sb;
    if (p->fd < 0) {
        *size = 0;
        return SQLITE_OK;
    }
    if (fstat(p->fd, &sb) != 0)
        return SQLITE_IOERR_FSTAT;
    *size = (sqlite3_int64)sb.st_size;
    return SQLITE_OK;
}

/* No file locks: one private connection cannot coordinate with a writer
 * anyway (see rovfs.h); levels above SHARED are refused so that SQLite
 * never tries to write. */
static int ro_lock(sqlite3_file *f, int level)
{
    (void)f;
    return level > SQLITE_LOCK_SHARED ? SQLITE_BUSY : SQLITE_OK;
}

static int ro_unlock(sqlite3_file *f, int level)
{
    (void)f, (void)level;
    return SQLITE_OK;
}

static int ro_check_reserved(sqlite3_file *f, int *out)
{
    (void)f;
    *out = 0;
    return SQLITE_OK;
}

static int ro_fcntl(sqlite3_file *f, int op, void *arg)
{
    (void)f, (void)op, (void)arg;
    return SQLITE_NOTFOUND;
}

static int ro_sector(sqlite3_file *f)
{
    (void)f;
    return 4096;
}

static int ro_devchar(sqlite3_file *f)
{
    (void)f;
    return 0;
}

/* The WAL index in heap memory: regions handed out zeroed, on demand. */
static int ro_shm_map(sqlite3_file *f, int ireg, int szreg, int extend, void volatile **pp)
{
    ro_file *p = (ro_file *)f;
    *pp = NULL;
    if (ireg < 0 || ireg >= SHM_MAX_REGIONS || szreg <= 0)
        return SQLITE_IOERR_SHMMAP;
    if (ireg >= p->nregion) {
        if (!extend)
            return SQLITE_OK;
        void **r = realloc(p->region, sizeof *r * (size_t)(ireg + 1));
        if (!r) {
            p->io_errors++;
            return SQLITE_IOERR_NOMEM;
        }
        for (int i = p->nregion; i <= ireg; i++)
            r[i] = NULL;
        p->region = r;
        p->nregion = ireg + 1;
    }
    if (!p->region[ireg]) {
        if (!extend)
            return SQLITE_OK;
        p->region[ireg] = calloc(1, (size_t)szreg);
        if (!p->region[ireg]) {
            p->io_errors++;
            return SQLITE_IOERR_NOMEM;
        }
    }
    *pp = p->region[ireg];
    return SQLITE_OK;
}

/* One connection per file: its own locks never conflict. */
static int ro_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
    (void)f, (void)off, (void)n, (void)flags;
    return SQLITE_OK;
}

static void ro_shm_barrier(sqlite3_file *f)
{
    (void)f;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static int ro_shm_unmap(sqlite3_file *f, int del)
{
    (void)del;
    ro_file *p = (ro_file *)f;
    for (int i = 0; i < p->nregion; i++)
        free(p->region[i]);
    free(p->region);
    p->region = NULL;
    p->nregion = 0;
    return SQLITE_OK;
}

static const sqlite3_io_methods ro_methods = {
    2, ro_close, ro_read, ro_write, ro_truncate, ro_sync, ro_size, ro_lock, ro_unlock,
    ro_check_reserved, ro_fcntl, ro_sector, ro_devchar, ro_shm_map, ro_shm_lock, ro_shm_barrier,
    ro_shm_unmap, NULL, NULL};

/* ---- VFS methods ---- */

/* Opens name ourselves: O_RDONLY, never created, never through a symlink,
 * never blocking (a FIFO would hang a reader forever), and only a regular
 * file. SQLite's unix VFS is not used for files: as root it fchown()s every
 * WAL it opens to the database's owner, and a hard-linked PATH-wal would
 * carry that change to another file. */
static int ro_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
    (void)vfs;
    ro_file *p = (ro_file *)f;
    memset(p, 0, sizeof *p);
    p->fd = -1;
    int main_db = (flags & SQLITE_OPEN_MAIN_DB) != 0, wal = (flags & SQLITE_OPEN_WAL) != 0;
    if (!name || !(main_db || wal))
        return SQLITE_CANTOPEN; /* no journals, temp files or anything else */
    int fd = open(name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        if (wal && errno == ENOENT) { /* an empty WAL, in memory: never created on disk */
            p->base.pMethods = &ro_methods;
            if (out_flags)
                *out_flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_WAL;
            return SQLITE_OK;
        }
        return SQLITE_CANTOPEN;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return SQLITE_CANTOPEN;
    }
    p->fd = fd;
    p->base.pMethods = &ro_methods;
    if (out_flags)
        *out_flags = SQLITE_OPEN_READONLY | (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL));
    return SQLITE_OK;
}

int lk_rovfs_fstat(sqlite3 *db, int wal, struct stat *out)
{
    sqlite3_file *f = NULL;
    if (sqlite3_file_control(db, "main", wal ? SQLITE_FCNTL_JOURNAL_POINTER : SQLITE_FCNTL_FILE_POINTER, &f) !=
            SQLITE_OK || !f || f->pMethods != &ro_methods)
        return -1;
    const ro_file *p = (const ro_file *)f;
    return p->fd >= 0 && fstat(p->fd, out) == 0 ? 0 : -1;
}

int lk_rovfs_io_errors(sqlite3 *db)
{
    int n = 0;
    for (int wal = 0; wal < 2; wal++) {
        sqlite3_file *f = NULL;
        if (sqlite3_file_control(db, "main", wal ? SQLITE_FCNTL_JOURNAL_POINTER : SQLITE_FCNTL_FILE_POINTER, &f) ==
                SQLITE_OK &&
            f && f->pMethods == &ro_methods)
            n += ((const ro_file *)f)->io_errors;
    }
    return n;
}

static int ro_delete(sqlite3_vfs *vfs, const char *name, int sync)
{
    (void)vfs, (void)name, (void)sync;
    return SQLITE_IOERR_DELETE;
}

static int ro_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    (void)vfs;
    return real_vfs->xAccess(real_vfs, name, flags, out);
}

static int ro_fullpath(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
    (void)vfs;
    return real_vfs->xFullPathname(real_vfs, name, n, out);
}

static int ro_random(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return real_vfs->xRandomness(real_vfs, n, out);
}

static int ro_sleep(sqlite3_vfs *vfs, int us)
{
    (void)vfs;
    return real_vfs->xSleep(real_vfs, us);
}

static int ro_time(sqlite3_vfs *vfs, double *t)
{
    (void)vfs;
    return real_vfs->xCurrentTime(real_vfs, t);
}

static int ro_last_error(sqlite3_vfs *vfs, int n, char *buf)
{
    (void)vfs;
    return real_vfs->xGetLastError ? real_vfs->xGetLastError(real_vfs, n, buf) : 0;
}

static void *ro_dlopen(sqlite3_vfs *vfs, const char *name)
{
    (void)vfs, (void)name;
    return NULL; /* no extensions through this VFS */
}

static void ro_dlerror(sqlite3_vfs *vfs, int n, char *msg)
{
    (void)vfs;
    if (n > 0)
        snprintf(msg, (size_t)n, "extensions are not loaded by %s", RO_NAME);
}

static void (*ro_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
    (void)vfs, (void)h, (void)sym;
    return NULL;
}

static void ro_dlclose(sqlite3_vfs *vfs, void *h)
{
    (void)vfs, (void)h;
}

static int ro_time64(sqlite3_vfs *vfs, sqlite3_int64 *t)
{
    (void)vfs;
    return real_vfs->xCurrentTimeInt64(real_vfs, t);
}

static void do_register(void)
{
    real_vfs = sqlite3_vfs_find(NULL);
    if (!real_vfs || real_vfs->iVersion < 2)
        return;
    memset(&ro_vfs, 0, sizeof ro_vfs);
    ro_vfs.iVersion = 2;
    ro_vfs.szOsFile = (int)sizeof(ro_file);
    ro_vfs.mxPathname = real_vfs->mxPathname;
    ro_vfs.zName = RO_NAME;
    ro_vfs.xOpen = ro_open;
    ro_vfs.xDelete = ro_delete;
    ro_vfs.xAccess = ro_access;
    ro_vfs.xFullPathname = ro_fullpath;
    ro_vfs.xDlOpen = ro_dlopen;
    ro_vfs.xDlError = ro_dlerror;
    ro_vfs.xDlSym = ro_dlsym;
    ro_vfs.xDlClose = ro_dlclose;
    ro_vfs.xRandomness = ro_random;
    ro_vfs.xSleep = ro_sleep;
    ro_vfs.xCurrentTime = ro_time;
    ro_vfs.xGetLastError = ro_last_error;
    ro_vfs.xCurrentTimeInt64 = ro_time64;
    reg_rc = sqlite3_vfs_register(&ro_vfs, 0);
}

int lk_rovfs(const char **name, ms_err *e)
{
    pthread_once(&once, do_register);
    if (reg_rc != SQLITE_OK)
        return ms_fail(e, MS_EIO, "SQLite: cannot register the read-only VFS");
    *name = RO_NAME;
    return MS_OK;
}

int lk_sqlite_name(const char *path, char *out, size_t n, ms_err *e)
{
    const char *pre = strncmp(path, "file:", 5) ? "" : "./";
    if ((size_t)snprintf(out, n, "%s%s", pre, path) >= n)
        return ms_fail(e, MS_EINPUT, "%s: path too long", path);
    return MS_OK;
}
