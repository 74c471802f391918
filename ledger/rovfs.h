/* rovfs.h — a read-only SQLite VFS for hostile lakes.
 *
 * Why: a reader must never create or change a file beside a lake, yet see
 * exactly what every other reader sees. SQLite's own read-only modes fall
 * short: mode=ro still creates (or writes into) PATH-shm when the process
 * may write there (always as root); immutable=1 ignores PATH-wal and a hot
 * rollback journal, so it reads different data than everyone else;
 * readonly_shm cannot open a WAL lake whose -shm does not exist.
 *
 * What it does: "marlsim-ro" opens the lake and its WAL itself (O_RDONLY |
 * O_NOFOLLOW | O_NONBLOCK, regular files only: never created, never a
 * symlink, never a FIFO that would hang the reader) and reads them with
 * pread; the default VFS serves only names, randomness and time (its
 * file layer, as root, fchown()s every WAL it opens). xWrite, xTruncate,
 * xSync and xDelete refuse (SQLITE_READONLY / SQLITE_IOERR_DELETE); file
 * locks are not taken and levels above SHARED are refused.
 * The WAL index (what SQLite keeps in PATH-shm) lives in this process's
 * heap instead: SQLite rebuilds it from PATH-wal when the connection
 * starts (WAL recovery reads the WAL, writes only the index), so every
 * committed frame is seen. A missing PATH-wal reads as an empty WAL (the
 * database file is then the whole lake). Nothing else is changed.
 *
 * What it cannot do: coordinate with a live writer, which does not see the
 * private index. A writer that checkpoints or restarts the WAL while a
 * reader reads can make it see mixed pages; lk_reader (reader.h) detects
 * that the files changed under it and reports it instead of a verdict.
 *
 * Thread safety: registration happens once (pthread_once); connections on
 * it are independent.
 */
#ifndef MS_LEDGER_ROVFS_H
#define MS_LEDGER_ROVFS_H

#include <sys/stat.h>

#include <sqlite3.h>

#include "base/err.h"

/* Registers the VFS (once) and returns its name for sqlite3_open_v2. */
int lk_rovfs(const char **name, ms_err *e);

/* A name for path that SQLite never reads as a URI (Debian's SQLite is
 * built with URI filenames on: "file:x.db?vfs=unix" would name another
 * file or VFS): path itself, or "./" + path when it starts with "file:".
 * MS_EINPUT when it does not fit in n bytes. Every sqlite3_open_v2 of a
 * user-supplied path goes through this (the reader uses the realpath). */
int lk_sqlite_name(const char *path, char *out, size_t n, ms_err *e);

/* fstat of the file a connection on this VFS actually reads: the main
 * database (wal = 0) or its WAL (wal = 1). 0, or -1 when there is none
 * (no WAL on disk) or db is not on this VFS. Lets a reader prove that what
 * SQLite read is the file it checked, whatever happened to the name. */
int lk_rovfs_fstat(sqlite3 *db, int wal, struct stat *out);

/* Reads (pread failing) and WAL-index allocations that failed so far on
 * db's lake and WAL (0 when db is not on this VFS). SQLite reports some of
 * them only as text, such as quick_check's "Failed to read ptrmap": a
 * reader tells a failing system from a malformed file with it. */
int lk_rovfs_io_errors(sqlite3 *db);

#endif
