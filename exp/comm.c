/* comm.c — see comm.h. */
#include "exp/comm.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "base/clock.h"

/* The MPI functions used, with mpi.h's own prototypes (a mismatch with the
 * header fails to compile), resolved from libmpi.so.40 at run time. */
typedef struct mpi_api {
    void *lib;
    __typeof__(MPI_Init) *init;
    __typeof__(MPI_Finalize) *finalize;
    __typeof__(MPI_Abort) *abort_;
    __typeof__(MPI_Comm_rank) *comm_rank;
    __typeof__(MPI_Comm_size) *comm_size;
    __typeof__(MPI_Gather) *gather;
    __typeof__(MPI_Allgather) *allgather;
    __typeof__(MPI_Allgatherv) *allgatherv;
    __typeof__(MPI_Bcast) *bcast;
    __typeof__(MPI_Get_library_version) *library_version;
    MPI_Comm world;
    MPI_Datatype byte;
} mpi_api;

struct ms_comm {
    int rank, size, mpi;
    mpi_api api;
    unsigned char *mine, *all; /* scratch: one message; rank 0 also size x one */
    size_t cap;
    int *counts, *displs;      /* [size], in bytes (comm_allgatherv) */
    char library[MPI_MAX_LIBRARY_VERSION_STRING];
    double calls, bytes, seconds; /* comm_traffic */
};

static ms_comm single = {0, 1, 0, {0}, NULL, NULL, 0, NULL, NULL, "", 0, 0, 0};

/* Adds one collective of `bytes` that started at t0 to the traffic. */
static void count(ms_comm *c, size_t bytes, double t0)
{
    c->calls += 1;
    c->bytes += (double)bytes;
    c->seconds += ms_now() - t0;
}

void comm_traffic(const ms_comm *c, double *calls, double *bytes, double *seconds)
{
    *calls = c->calls;
    *bytes = c->bytes;
    *seconds = c->seconds;
}

int comm_launched_by_mpirun(void)
{
    const char *s = getenv("OMPI_COMM_WORLD_SIZE"), *p = getenv("PMIX_RANK");
    return (s && *s) || (p && *p);
}

ms_comm *comm_single(void) { return &single; }

void comm_share(int total, int rank, int size, int *first, int *count)
{
    int q = total / size, extra = total % size;
    *count = q + (rank < extra);
    *first = rank * q + (rank < extra ? rank : extra);
}
int comm_rank(const ms_comm *c) { return c->rank; }
int comm_size(const ms_comm *c) { return c->size; }
int comm_is_mpi(const ms_comm *c) { return c->mpi; }
const char *comm_library(const ms_comm *c) { return c->library; }

static void *sym(mpi_api *a, const char *name, int *missing, const char **which)
{
    void *p = dlsym(a->lib, name);
    if (!p && !*missing) {
        *missing = 1;
        *which = name;
    }
    return p;
}

int comm_mpi_init(ms_comm **out, ms_err *e)
{
    *out = NULL;
    ms_comm *c = calloc(1, sizeof *c);
    if (!c)
        return ms_fail(e, MS_EIO, "out of memory");
    mpi_api *a = &c->api;
    /* RTLD_GLOBAL: Open MPI's own components (dlopened by MPI_Init)
     * resolve symbols of libmpi through the global scope. */
    a->lib = dlopen("libmpi.so.40", RTLD_NOW | RTLD_GLOBAL);
    if (!a->lib) {
        const char *why = dlerror();
        free(c);
        return ms_fail(e, MS_EIO, "started by mpirun, but Open MPI's library cannot be loaded (%s): install "
                       "openmpi-bin (make does, as root)", why ? why : "libmpi.so.40");
    }
    int missing = 0;
    const char *which = NULL;
    a->init = (__typeof__(a->init))sym(a, "MPI_Init", &missing, &which);
    a->finalize = (__typeof__(a->finalize))sym(a, "MPI_Finalize", &missing, &which);
    a->abort_ = (__typeof__(a->abort_))sym(a, "MPI_Abort", &missing, &which);
    a->comm_rank = (__typeof__(a->comm_rank))sym(a, "MPI_Comm_rank", &missing, &which);
    a->comm_size = (__typeof__(a->comm_size))sym(a, "MPI_Comm_size", &missing, &which);
    a->gather = (__typeof__(a->gather))sym(a, "MPI_Gather", &missing, &which);
    a->allgather = (__typeof__(a->allgather))sym(a, "MPI_Allgather", &missing, &which);
    a->allgatherv = (__typeof__(a->allgatherv))sym(a, "MPI_Allgatherv", &missing, &which);
    a->bcast = (__typeof__(a->bcast))sym(a, "MPI_Bcast", &missing, &which);
    a->library_version = (__typeof__(a->library_version))sym(a, "MPI_Get_library_version", &missing, &which);
    a->world = (MPI_Comm)sym(a, "ompi_mpi_comm_world", &missing, &which);
    a->byte = (MPI_Datatype)sym(a, "ompi_mpi_byte", &missing, &which);
    if (missing) {
        dlclose(a->lib);
        free(c);
        return ms_fail(e, MS_EIO, "libmpi.so.40 lacks %s: not Open MPI 4 (marlsim runs under Open MPI's mpirun)",
                       which);
    }
    if (a->init(NULL, NULL) != MPI_SUCCESS) {
        /* The library stays loaded: Open MPI cannot be unloaded safely
         * once initialised, even partly. */
        free(c);
        return ms_fail(e, MS_EIO, "MPI_Init failed");
    }
    int len = 0;
    if (a->comm_rank(a->world, &c->rank) != MPI_SUCCESS || a->comm_size(a->world, &c->size) != MPI_SUCCESS ||
        a->library_version(c->library, &len) != MPI_SUCCESS) {
        free(c);
        return ms_fail(e, MS_EIO, "MPI: cannot read the world's rank and size");
    }
    c->library[strcspn(c->library, "\n,")] = 0; /* its first line: "Open MPI v4.1.4" */
    c->mpi = 1;
    c->counts = calloc((size_t)c->size, sizeof *c->counts);
    c->displs = calloc((size_t)c->size, sizeof *c->displs);
    if (!c->counts || !c->displs) {
        comm_finalize(c);
        return ms_fail(e, MS_EIO, "out of memory");
    }
    *out = c;
    return MS_OK;
}

void comm_finalize(ms_comm *c)
{
    if (!c || !c->mpi)
        return;
    /* The library stays loaded after MPI_Finalize (Open MPI's components
     * may still run atexit handlers). */
    (void)c->api.finalize(); /* a failure at the end of the process changes nothing the run wrote */
    free(c->mine);
    free(c->all);
    free(c->counts);
    free(c->displs);
    free(c);
}

void comm_abort(ms_comm *c, int code)
{
    if (c && c->mpi)
        c->api.abort_(c->api.world, code); /* ends every process of the job */
}

int comm_reserve(ms_comm *c, size_t bytes, ms_err *e)
{
    if (!c->mpi || bytes <= c->cap)
        return MS_OK;
    unsigned char *m = realloc(c->mine, bytes);
    if (!m)
        return ms_fail(e, MS_EIO, "out of memory for a message of %zu bytes", bytes);
    c->mine = m;
    {
        unsigned char *a = realloc(c->all, bytes * (size_t)c->size);
        if (!a)
            return ms_fail(e, MS_EIO, "out of memory for %d messages of %zu bytes", c->size, bytes);
        c->all = a;
    }
    c->cap = bytes;
    return MS_OK;
}

static int mpi_fail(ms_err *e, const char *what)
{
    return ms_fail(e, MS_EIO, "MPI: %s failed", what);
}

/* Gathers every process's c->mine[0..bytes) into every process's c->all
 * (one MPI_Allgather: one round, where a gather to rank 0 and a broadcast
 * took two and kept the others waiting while rank 0 added) and lets add()
 * combine them in rank order into c->mine: every process does the same
 * additions on the same bytes, so all hold the same bits. */
static int combine_all(ms_comm *c, size_t bytes, void (*add)(unsigned char *acc, const unsigned char *in,
                                                                 const void *ctx),
                          const void *ctx, ms_err *e)
{
    if (bytes > (size_t)INT32_MAX)
        return ms_fail(e, MS_EIO, "MPI: a message of %zu bytes is too large", bytes);
    mpi_api *a = &c->api;
    double t0 = ms_now();
    if (a->allgather(c->mine, (int)bytes, a->byte, c->all, (int)bytes, a->byte, a->world) != MPI_SUCCESS)
        return mpi_fail(e, "MPI_Allgather");
    memcpy(c->mine, c->all, bytes);
    for (int r = 1; r < c->size; r++)
        add(c->mine, c->all + (size_t)r * bytes, ctx);
    count(c, bytes, t0);
    return MS_OK;
}

typedef struct sum_layout {
    size_t nf, off_d, nd;
} sum_layout;

/* Element by element through memcpy (the message bytes carry floats and
 * doubles; no pointer cast between the types), in float and in double. */
static void add_mixed(unsigned char *acc, const unsigned char *in, const void *ctx)
{
    const sum_layout *l = ctx;
    for (size_t k = 0; k < l->nf; k++) {
        float a, b;
        memcpy(&a, acc + k * sizeof a, sizeof a);
        memcpy(&b, in + k * sizeof b, sizeof b);
        a += b;
        memcpy(acc + k * sizeof a, &a, sizeof a);
    }
    for (size_t k = 0; k < l->nd; k++) {
        double a, b;
        memcpy(&a, acc + l->off_d + k * sizeof a, sizeof a);
        memcpy(&b, in + l->off_d + k * sizeof b, sizeof b);
        a += b;
        memcpy(acc + l->off_d + k * sizeof a, &a, sizeof a);
    }
}

int comm_sumv(ms_comm *c, float *const *f, const size_t *nf, int nseg, double *d, size_t nd, ms_err *e)
{
    if (c->size == 1)
        return MS_OK;
    size_t floats = 0;
    for (int j = 0; j < nseg; j++)
        floats += nf[j];
    sum_layout l = {floats, (floats * sizeof(float) + 7) & ~(size_t)7, nd};
    size_t bytes = l.off_d + nd * sizeof(double);
    int rc = comm_reserve(c, bytes, e);
    if (rc)
        return rc;
    size_t at = 0;
    for (int j = 0; j < nseg; j++) {
        if (nf[j])
            memcpy(c->mine + at, f[j], nf[j] * sizeof(float));
        at += nf[j] * sizeof(float);
    }
    if (nd)
        memcpy(c->mine + l.off_d, d, nd * sizeof(double));
    if ((rc = combine_all(c, bytes, add_mixed, &l, e)))
        return rc;
    at = 0;
    for (int j = 0; j < nseg; j++) {
        if (nf[j])
            memcpy(f[j], c->mine + at, nf[j] * sizeof(float));
        at += nf[j] * sizeof(float);
    }
    if (nd)
        memcpy(d, c->mine + l.off_d, nd * sizeof(double));
    return MS_OK;
}

int comm_sum(ms_comm *c, float *f, size_t nf, double *d, size_t nd, ms_err *e)
{
    return comm_sumv(c, &f, &nf, 1, d, nd, e);
}

static void add_i64(unsigned char *acc, const unsigned char *in, const void *ctx)
{
    size_t n = *(const size_t *)ctx;
    int64_t *a = (int64_t *)acc;
    const int64_t *b = (const int64_t *)in;
    for (size_t k = 0; k < n; k++)
        a[k] += b[k];
}

int comm_sum_i64(ms_comm *c, int64_t *x, size_t n, ms_err *e)
{
    if (c->size == 1 || !n)
        return MS_OK;
    size_t bytes = n * sizeof *x;
    int rc = comm_reserve(c, bytes, e);
    if (rc)
        return rc;
    memcpy(c->mine, x, bytes);
    if ((rc = combine_all(c, bytes, add_i64, &n, e)))
        return rc;
    memcpy(x, c->mine, bytes);
    return MS_OK;
}

static void max_int(unsigned char *acc, const unsigned char *in, const void *ctx)
{
    (void)ctx;
    int a, b;
    memcpy(&a, acc, sizeof a);
    memcpy(&b, in, sizeof b);
    if (b > a)
        memcpy(acc, &b, sizeof b);
}

int comm_max_int(ms_comm *c, int *x, ms_err *e)
{
    if (c->size == 1)
        return MS_OK;
    int rc = comm_reserve(c, sizeof *x, e);
    if (rc)
        return rc;
    memcpy(c->mine, x, sizeof *x);
    if ((rc = combine_all(c, sizeof *x, max_int, NULL, e)))
        return rc;
    memcpy(x, c->mine, sizeof *x);
    return MS_OK;
}

/* Gathers only move bytes: their result does not depend on MPI's
 * algorithm, so MPI's own all-gathers are used. */
int comm_allgather(ms_comm *c, const void *mine, size_t bytes, void *all, ms_err *e)
{
    if (c->size == 1) {
        if (all != mine)
            memmove(all, mine, bytes);
        return MS_OK;
    }
    if (bytes > (size_t)INT32_MAX)
        return ms_fail(e, MS_EIO, "MPI: a message of %zu bytes is too large", bytes);
    mpi_api *a = &c->api;
    double t0 = ms_now();
    if (a->allgather(mine, (int)bytes, a->byte, all, (int)bytes, a->byte, a->world) != MPI_SUCCESS)
        return mpi_fail(e, "MPI_Allgather");
    count(c, bytes, t0);
    return MS_OK;
}

int comm_allgatherv(ms_comm *c, void *buf, const int *counts, size_t elem, ms_err *e)
{
    if (c->size == 1)
        return MS_OK;
    size_t off = 0;
    for (int r = 0; r < c->size; r++) {
        size_t n = (size_t)counts[r] * elem;
        if (counts[r] < 0 || n > (size_t)INT32_MAX || off > (size_t)INT32_MAX - n)
            return ms_fail(e, MS_EIO, "MPI: a gather of more than 2 GiB");
        c->counts[r] = (int)n;
        c->displs[r] = (int)off;
        off += n;
    }
    mpi_api *a = &c->api;
    if (a->allgatherv(MPI_IN_PLACE, 0, a->byte, buf, c->counts, c->displs, a->byte, a->world) != MPI_SUCCESS)
        return mpi_fail(e, "MPI_Allgatherv");
    return MS_OK;
}

int comm_bcast(ms_comm *c, void *buf, size_t bytes, ms_err *e)
{
    if (c->size == 1)
        return MS_OK;
    if (bytes > (size_t)INT32_MAX)
        return ms_fail(e, MS_EIO, "MPI: a message of %zu bytes is too large", bytes);
    mpi_api *a = &c->api;
    if (a->bcast(buf, (int)bytes, a->byte, 0, a->world) != MPI_SUCCESS)
        return mpi_fail(e, "MPI_Bcast");
    return MS_OK;
}
