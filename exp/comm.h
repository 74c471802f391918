/* comm.h — the processes of one run (SPEC §11): who this process is among
 * them, and the few collective operations data-parallel training needs,
 * each combining in a FIXED order so that a run is deterministic for a
 * given number of processes.
 *
 * Two implementations behind one handle:
 *   - one process (comm_single): rank 0 of 1; every collective returns at
 *     once and leaves its buffers as they are (no copy, no arithmetic), so
 *     code written for N processes computes, with one, exactly what it
 *     always computed;
 *   - Open MPI (comm_mpi_init), only for a process that mpirun started
 *     (comm_launched_by_mpirun): libmpi.so.40 is loaded then, with dlopen,
 *     so a plain run neither links nor loads MPI and never calls MPI_Init
 *     (Open MPI 4.1 started without mpirun forks a daemon on MPI_Init).
 *     Its handles MPI_COMM_WORLD and MPI_BYTE are Open MPI's global
 *     objects (ompi_mpi_comm_world, ompi_mpi_byte), looked up by name: this
 *     implementation is Open MPI's (Debian's openmpi-bin), not MPICH's.
 *
 * Fixed order: every process gathers every process's vector (MPI_Allgather
 * of bytes) and adds them itself in rank order, acc = ((x_0 + x_1) + x_2)
 * + ...: every process does the same additions on the same bytes and holds
 * the same bits, which depend only on the processes' inputs and their
 * number, never on MPI's choice of reduction algorithm or on message timing
 * (MPI_Allreduce is not used). Gathers put rank r's block after rank
 * r - 1's. (Sums used to be gathered to rank 0, added there and
 * broadcast: the same bits in two rounds instead of one.)
 *
 * Every collective must be called by all processes, in the same order,
 * with the same sizes (the caller's contract: a mismatch is undefined, as
 * in MPI). Errors: MPI's default handler (errors are fatal) stays in
 * force, so an MPI failure ends the job; the functions below return MS_OK,
 * or MS_EIO (out of memory for the scratch, or a failure MPI reported) with
 * e filled. Memory: comm_reserve sizes the scratch once at start-up;
 * a collective that needs more grows it (then allocates), so callers
 * reserve their largest message first and the hot path allocates nothing.
 *
 * Ownership: comm_single's handle is static (never freed); comm_mpi_init's
 * is released by comm_finalize. Not thread-safe: one thread calls it.
 */
#ifndef MS_EXP_COMM_H
#define MS_EXP_COMM_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef struct ms_comm ms_comm;

/* The most processes a run may have (fixed-size tables of the callers). */
enum { MS_COMM_MAX_RANKS = 4096 };

/* Rank r's contiguous share of `total` items among `size` processes:
 * total / size each, the first total % size one more; *first is its first
 * item's index. */
void comm_share(int total, int rank, int size, int *first, int *count);

/* 1 when this process was started by mpirun (Open MPI sets
 * OMPI_COMM_WORLD_SIZE, a PMIx launcher PMIX_RANK): only then may
 * comm_mpi_init be called. */
int comm_launched_by_mpirun(void);

/* The one-process handle (rank 0 of 1). */
ms_comm *comm_single(void);

/* Loads libmpi.so.40, calls MPI_Init and returns the world's handle.
 * MS_EIO when the library or one of its symbols cannot be loaded (the
 * message names it: install openmpi-bin), or MPI_Init fails. */
int comm_mpi_init(ms_comm **out, ms_err *e);

/* MPI_Finalize and release (a one-process handle or NULL: nothing). */
void comm_finalize(ms_comm *c);

/* MPI_Abort of the whole job with exit code `code` (does not return); the
 * last resort of the command layer when one process failed while others
 * may wait in a collective. A one-process handle: returns. */
void comm_abort(ms_comm *c, int code);

int comm_rank(const ms_comm *c);
int comm_size(const ms_comm *c);
int comm_is_mpi(const ms_comm *c);

/* What this process's collectives carried and cost since it started (for
 * benchmarks; never hashed): calls, the bytes of its own message in each
 * (one process's part: a sum's vector, a gather's block), and the seconds
 * spent inside them (waiting for slower processes included). Zero for one
 * process. */
void comm_traffic(const ms_comm *c, double *calls, double *bytes, double *seconds);

/* The MPI library's version ("" for one process). */
const char *comm_library(const ms_comm *c);

/* Makes the scratch hold a message of `bytes` (and size x bytes for the
 * gathered copies). */
int comm_reserve(ms_comm *c, size_t bytes, ms_err *e);

/* Element-wise sums over all processes in rank order (see top): on return
 * every process holds the sum. nf floats (added in float), then nd doubles
 * (added in double) travel in one message; either count may be 0. */
int comm_sum(ms_comm *c, float *f, size_t nf, double *d, size_t nd, ms_err *e);
/* comm_sum of nseg float vectors f[j] (nf[j] elements each) and nd doubles
 * in one message (one collective): the vectors are laid end to end. */
int comm_sumv(ms_comm *c, float *const *f, const size_t *nf, int nseg, double *d, size_t nd, ms_err *e);
int comm_sum_i64(ms_comm *c, int64_t *x, size_t n, ms_err *e);

/* The largest of every process's *x, on every process (agreement on a
 * flag or a status: statuses are negative, so pass -status for the
 * worst). */
int comm_max_int(ms_comm *c, int *x, ms_err *e);

/* Gathers `bytes` bytes of every process into all (size x bytes, rank r's
 * at r x bytes) on every process. */
int comm_allgather(ms_comm *c, const void *mine, size_t bytes, void *all, ms_err *e);

/* In place: rank r's block of counts[r] elements of `elem` bytes sits at
 * element offset counts[0] + ... + counts[r-1] of buf; afterwards every
 * process holds every block. */
int comm_allgatherv(ms_comm *c, void *buf, const int *counts, size_t elem, ms_err *e);

/* Rank 0's bytes to every process. */
int comm_bcast(ms_comm *c, void *buf, size_t bytes, ms_err *e);

#endif
