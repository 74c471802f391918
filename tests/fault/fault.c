/* fault.c — see fault.h. */
#include "tests/fault/fault.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <sqlite3.h>

const char *const fault_kind_names[FK_COUNT] = {"read", "write", "fsync", "truncate", "alloc"};
const char *const fault_flavor_names[FF_COUNT] = {"EIO", "ENOSPC", "short", "NULL"};

/* Atomic: the run under test has the lake writer thread beside the
 * trainer's ([telemetry] writer_threads = 1, the default), and both reach
 * the wrapped calls. The arming itself is set before the operation starts. */
static _Atomic int64_t counts[FK_COUNT];
static int armed_kind = -1, armed_flavor, armed_sticky;
static int64_t armed_nth;
static _Atomic int64_t injected;

void fault_arm(int kind, int64_t nth, int flavor, int sticky)
{
    for (int k = 0; k < FK_COUNT; k++)
        atomic_store(&counts[k], 0);
    atomic_store(&injected, 0);
    armed_kind = nth > 0 ? kind : -1;
    armed_nth = nth;
    armed_flavor = flavor;
    armed_sticky = sticky;
}

void fault_disarm(void)
{
    armed_kind = -1;
}

int64_t fault_count(int kind)
{
    return kind >= 0 && kind < FK_COUNT ? atomic_load(&counts[kind]) : 0;
}

int64_t fault_injected(void)
{
    return atomic_load(&injected);
}

/* Counts one operation of kind; returns 1 when it must fail. */
static int hit(int kind)
{
    int64_t n = atomic_fetch_add(&counts[kind], 1) + 1;
    if (kind != armed_kind || (n != armed_nth && !(armed_sticky && n > armed_nth)))
        return 0;
    atomic_fetch_add(&injected, 1);
    return 1;
}

/* ---- our own calls (the linker's --wrap) --------------------------------- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
ssize_t __real_pread(int fd, void *buf, size_t n, off_t off);
ssize_t __real_write(int fd, const void *buf, size_t n);
int __real_fsync(int fd);
int __real_fdatasync(int fd);
int __real_ftruncate(int fd, off_t len);

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);
ssize_t __wrap_pread(int fd, void *buf, size_t n, off_t off);
ssize_t __wrap_write(int fd, const void *buf, size_t n);
int __wrap_fsync(int fd);
int __wrap_fdatasync(int fd);
int __wrap_ftruncate(int fd, off_t len);

void *__wrap_malloc(size_t n)
{
    if (hit(FK_ALLOC)) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_malloc(n);
}

void *__wrap_calloc(size_t k, size_t n)
{
    if (hit(FK_ALLOC)) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_calloc(k, n);
}

void *__wrap_realloc(void *p, size_t n)
{
    if (hit(FK_ALLOC)) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_realloc(p, n);
}

ssize_t __wrap_pread(int fd, void *buf, size_t n, off_t off)
{
    if (hit(FK_READ)) {
        if (armed_flavor == FF_SHORT && n > 1)
            return __real_pread(fd, buf, n / 2, off); /* POSIX allows it: callers must loop */
        errno = EIO;
        return -1;
    }
    return __real_pread(fd, buf, n, off);
}

ssize_t __wrap_write(int fd, const void *buf, size_t n)
{
    if (hit(FK_WRITE)) {
        if (armed_flavor == FF_SHORT && n > 1)
            return __real_write(fd, buf, n / 2);
        errno = armed_flavor == FF_ENOSPC ? ENOSPC : EIO;
        return -1;
    }
    return __real_write(fd, buf, n);
}

int __wrap_fsync(int fd)
{
    if (hit(FK_SYNC)) {
        errno = EIO;
        return -1;
    }
    return __real_fsync(fd);
}

int __wrap_fdatasync(int fd)
{
    if (hit(FK_SYNC)) {
        errno = EIO;
        return -1;
    }
    return __real_fdatasync(fd);
}

int __wrap_ftruncate(int fd, off_t len)
{
    if (hit(FK_TRUNC)) {
        errno = EIO;
        return -1;
    }
    return __real_ftruncate(fd, len);
}

/* ---- SQLite's allocator ---------------------------------------------------- */

static sqlite3_mem_methods real_mem;

static void *sq_malloc(int n)
{
    return hit(FK_ALLOC) ? NULL : real_mem.xMalloc(n);
}

static void *sq_realloc(void *p, int n)
{
    return hit(FK_ALLOC) ? NULL : real_mem.xRealloc(p, n);
}

/* ---- libcrypto's allocator ------------------------------------------------- */

static void *cr_malloc(size_t n, const char *file, int line)
{
    (void)file, (void)line;
    return hit(FK_ALLOC) ? NULL : __real_malloc(n);
}

static void *cr_realloc(void *p, size_t n, const char *file, int line)
{
    (void)file, (void)line;
    return hit(FK_ALLOC) ? NULL : __real_realloc(p, n);
}

static void cr_free(void *p, const char *file, int line)
{
    (void)file, (void)line;
    free(p);
}

/* ---- the VFS ------------------------------------------------------------- */

typedef struct ff_file {
    sqlite3_file base;
    sqlite3_file *real; /* the wrapped VFS's file, right after this struct */
} ff_file;

static sqlite3_vfs ff_vfs, *real_vfs;
static sqlite3_io_methods ff_methods;

#define REAL(f) (((ff_file *)(f))->real)

static int ff_close(sqlite3_file *f)
{
    int rc = REAL(f)->pMethods ? REAL(f)->pMethods->xClose(REAL(f)) : SQLITE_OK;
    f->pMethods = NULL;
    return rc;
}

static int ff_read(sqlite3_file *f, void *buf, int amt, sqlite3_int64 off)
{
    if (hit(FK_READ))
        return SQLITE_IOERR_READ;
    return REAL(f)->pMethods->xRead(REAL(f), buf, amt, off);
}

static int ff_write(sqlite3_file *f, const void *buf, int amt, sqlite3_int64 off)
{
    if (hit(FK_WRITE)) {
        if (armed_flavor == FF_ENOSPC)
            return SQLITE_FULL;
        if (armed_flavor == FF_SHORT && amt > 1) {
            /* a torn write: the first half reaches the file */
            int rc = REAL(f)->pMethods->xWrite(REAL(f), buf, amt / 2, off);
            (void)rc; /* the write fails either way */
        }
        return SQLITE_IOERR_WRITE;
    }
    return REAL(f)->pMethods->xWrite(REAL(f), buf, amt, off);
}

static int ff_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    if (hit(FK_TRUNC))
        return SQLITE_IOERR_TRUNCATE;
    return REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int ff_sync(sqlite3_file *f, int flags)
{
    if (hit(FK_SYNC))
        return SQLITE_IOERR_FSYNC;
    return REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int ff_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int ff_lock(sqlite3_file *f, int l)
{
    return REAL(f)->pMethods->xLock(REAL(f), l);
}

static int ff_unlock(sqlite3_file *f, int l)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), l);
}

static int ff_reserved(sqlite3_file *f, int *out)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int ff_fcntl(sqlite3_file *f, int op, void *arg)
{
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int ff_sector(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int ff_devchar(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

static int ff_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), pg, pgsz, extend, pp);
}

static int ff_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
    return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}

static void ff_shm_barrier(sqlite3_file *f)
{
    REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int ff_shm_unmap(sqlite3_file *f, int del)
{
    return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

static int ff_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **pp)
{
    return REAL(f)->pMethods->xFetch(REAL(f), off, amt, pp);
}

static int ff_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

static int ff_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
    (void)vfs;
    ff_file *p = (ff_file *)f;
    p->real = (sqlite3_file *)(p + 1);
    memset(p->real, 0, (size_t)real_vfs->szOsFile);
    int rc = real_vfs->xOpen(real_vfs, name, p->real, flags, out_flags);
    if (rc != SQLITE_OK) {
        f->pMethods = NULL; /* SQLite closes nothing that failed to open */
        return rc;
    }
    const sqlite3_io_methods *m = p->real->pMethods;
    ff_methods.iVersion = m->iVersion < 3 ? m->iVersion : 3;
    f->pMethods = &ff_methods;
    return SQLITE_OK;
}

static int ff_delete(sqlite3_vfs *v, const char *n, int sync)
{
    (void)v;
    return real_vfs->xDelete(real_vfs, n, sync);
}

static int ff_access(sqlite3_vfs *v, const char *n, int flags, int *out)
{
    (void)v;
    return real_vfs->xAccess(real_vfs, n, flags, out);
}

static int ff_fullpath(sqlite3_vfs *v, const char *n, int cap, char *out)
{
    (void)v;
    return real_vfs->xFullPathname(real_vfs, n, cap, out);
}

static void *ff_dlopen(sqlite3_vfs *v, const char *n)
{
    (void)v;
    return real_vfs->xDlOpen(real_vfs, n);
}

static void ff_dlerror(sqlite3_vfs *v, int n, char *msg)
{
    (void)v;
    real_vfs->xDlError(real_vfs, n, msg);
}

static void (*ff_dlsym(sqlite3_vfs *v, void *h, const char *s))(void)
{
    (void)v;
    return real_vfs->xDlSym(real_vfs, h, s);
}

static void ff_dlclose(sqlite3_vfs *v, void *h)
{
    (void)v;
    real_vfs->xDlClose(real_vfs, h);
}

static int ff_random(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    return real_vfs->xRandomness(real_vfs, n, out);
}

static int ff_sleep(sqlite3_vfs *v, int us)
{
    (void)v;
    return real_vfs->xSleep(real_vfs, us);
}

static int ff_time(sqlite3_vfs *v, double *t)
{
    (void)v;
    return real_vfs->xCurrentTime(real_vfs, t);
}

static int ff_lasterr(sqlite3_vfs *v, int n, char *buf)
{
    (void)v;
    return real_vfs->xGetLastError(real_vfs, n, buf);
}

static int ff_time64(sqlite3_vfs *v, sqlite3_int64 *t)
{
    (void)v;
    return real_vfs->xCurrentTimeInt64(real_vfs, t);
}

int fault_install(void)
{
    if (!CRYPTO_set_mem_functions(cr_malloc, cr_realloc, cr_free))
        return -1;
    if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &real_mem) != SQLITE_OK)
        return -1;
    sqlite3_mem_methods mine = real_mem;
    mine.xMalloc = sq_malloc;
    mine.xRealloc = sq_realloc;
    if (sqlite3_config(SQLITE_CONFIG_MALLOC, &mine) != SQLITE_OK)
        return -1;
    real_vfs = sqlite3_vfs_find(NULL);
    if (!real_vfs || real_vfs->iVersion < 2)
        return -1;
    ff_methods = (sqlite3_io_methods){3,           ff_close,       ff_read,      ff_write,  ff_truncate,
                                      ff_sync,     ff_size,        ff_lock,      ff_unlock, ff_reserved,
                                      ff_fcntl,    ff_sector,      ff_devchar,   ff_shm_map, ff_shm_lock,
                                      ff_shm_barrier, ff_shm_unmap, ff_fetch,    ff_unfetch};
    ff_vfs = *real_vfs;
    ff_vfs.iVersion = 2;
    ff_vfs.szOsFile = (int)sizeof(ff_file) + real_vfs->szOsFile;
    ff_vfs.pNext = NULL;
    ff_vfs.zName = "fault";
    ff_vfs.pAppData = NULL;
    ff_vfs.xOpen = ff_open;
    ff_vfs.xDelete = ff_delete;
    ff_vfs.xAccess = ff_access;
    ff_vfs.xFullPathname = ff_fullpath;
    ff_vfs.xDlOpen = ff_dlopen;
    ff_vfs.xDlError = ff_dlerror;
    ff_vfs.xDlSym = ff_dlsym;
    ff_vfs.xDlClose = ff_dlclose;
    ff_vfs.xRandomness = ff_random;
    ff_vfs.xSleep = ff_sleep;
    ff_vfs.xCurrentTime = ff_time;
    ff_vfs.xGetLastError = ff_lasterr;
    ff_vfs.xCurrentTimeInt64 = ff_time64;
    return sqlite3_vfs_register(&ff_vfs, 1) == SQLITE_OK ? 0 : -1;
}
