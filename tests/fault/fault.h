/* fault.h — injected I/O and allocation faults, for tests only (issue 14).
 *
 * Never linked into marlsim: only the test binary tests/fault/sweep.c uses
 * it. It counts, per kind, every operation of that kind the process makes
 * and, when armed, fails the Nth one (and, when sticky, every later one):
 *
 *   kind        where it is seen                              failures
 *   FK_READ     SQLite reads (the wrapping VFS below) and      EIO; a short read
 *               our own pread() (the read-only VFS of verify,  (pread only:
 *               ledger/rovfs.c, and ledger/reader.c)           half the bytes)
 *   FK_WRITE    SQLite writes (VFS) and our own write()        EIO, ENOSPC, a short
 *               (base/file.c: PATH.checkpoint)                 (torn) write
 *   FK_SYNC     SQLite syncs (VFS), our own fsync/fdatasync     EIO
 *   FK_TRUNC    SQLite truncates (VFS), our own ftruncate       EIO
 *   FK_ALLOC    SQLite's allocator (SQLITE_CONFIG_MALLOC),      NULL
 *               libcrypto's (CRYPTO_set_mem_functions) and
 *               our own malloc/calloc/realloc
 *
 * Our own calls are caught with the linker's --wrap (the Makefile's
 * FAULT_WRAP): it rewrites only the references in the objects of the test
 * binary (marlsim's library and the test), never those inside shared
 * libraries, which is why SQLite and libcrypto are reached through their
 * documented hooks instead. Not faulted, by design: OpenBLAS (it allocates
 * its buffers once at load and has no failure path to test), libinih
 * (configs are parsed before anything is armed), and libc's own internal
 * allocations.
 *
 * SQLite's file I/O: fault_install registers a VFS "fault" as the default,
 * wrapping the previous default (unix) method for method; every file SQLite
 * opens through the default VFS (the lake writer's database, WAL and
 * journal) passes through it. A short SQLite write writes the first half of
 * the buffer and returns SQLITE_IOERR_WRITE (a torn write); ENOSPC returns
 * SQLITE_FULL; EIO the matching SQLITE_IOERR_* code.
 *
 * Usage: fault_install() first thing in main (libcrypto's hook only takes
 * before its first allocation; SQLite's before sqlite3_initialize), then
 * fault_arm / fault_disarm around the operation under test, typically in a
 * forked child. The counters are atomic: a run's lake writer thread
 * ([telemetry] writer_threads = 1) counts beside the trainer's, so which
 * operation is the Nth may differ from one run to the next (OpenBLAS's
 * threads never call the wrapped functions). Arm and disarm from one
 * thread, with no operation under way. */
#ifndef MS_TESTS_FAULT_H
#define MS_TESTS_FAULT_H

#include <stdint.h>

enum { FK_READ, FK_WRITE, FK_SYNC, FK_TRUNC, FK_ALLOC, FK_COUNT };
enum { FF_EIO, FF_ENOSPC, FF_SHORT, FF_NULL, FF_COUNT };

extern const char *const fault_kind_names[FK_COUNT];
extern const char *const fault_flavor_names[FF_COUNT];

/* Installs the VFS and the allocation hooks. 0, or -1 when SQLite or
 * libcrypto refused (called too late). */
int fault_install(void);

/* Zeroes the counters and arms: the nth (1-based) operation of kind fails
 * with flavor (and every later one of that kind when sticky). nth = 0 arms
 * nothing (counting only). */
void fault_arm(int kind, int64_t nth, int flavor, int sticky);

/* Stops injecting (counters keep counting). */
void fault_disarm(void);

/* Operations of kind seen since the last fault_arm. */
int64_t fault_count(int kind);

/* Faults injected since the last fault_arm. */
int64_t fault_injected(void);

#endif
