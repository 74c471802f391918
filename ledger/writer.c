/* writer.c — see writer.h. */
#include "ledger/writer.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"

enum { OP_BEGIN = 1, OP_APPEND, OP_COMMIT_NEXT, OP_WRAP };

/* A queued call: this header, then n_rows * ncols lk_values, then the bytes
 * of their TEXT and BLOB values (which the values point into). */
typedef struct rec_hdr {
    uint32_t op;
    int32_t table;
    int64_t step;   /* OP_APPEND: the entry's step; OP_COMMIT_NEXT: env_steps */
    int32_t n_rows, ncols;
    uint64_t size;  /* of the whole record, a multiple of 8 */
} rec_hdr;

#define ALIGN8(x) (((x) + 7u) & ~(size_t)7u)

struct lake_writer {
    lake *L;
    int threaded;
    unsigned char *ring;
    size_t cap, head, tail, used; /* bytes; used counts wrap waste too */
    pthread_mutex_t mu;
    pthread_cond_t can_put, can_get, idle;
    int busy, stop;
    int failed;
    ms_err err;
    double seconds; /* the thread's time in lake calls */
    pthread_t th;
};

/* Runs one call on the lake. */
static int run(lake *L, const rec_hdr *h, ms_err *e)
{
    switch (h->op) {
    case OP_BEGIN: return lake_begin(L, e);
    case OP_APPEND: return lake_append(L, h->table, h->step, h->n_rows, (const lk_value *)(h + 1), e);
    case OP_COMMIT_NEXT: {
        lake_set_env_steps(L, h->step);
        int rc = lake_commit(L, e);
        return rc ? rc : lake_begin(L, e);
    }
    default: return ms_fail(e, MS_EIO, "lake writer: unknown queued call %u", h->op);
    }
}

/* Where the next record starts from pos: pos, or 0 when too little room is
 * left for a header or a wrap marker stands there. */
static size_t next_pos(const lake_writer *w, size_t pos)
{
    if (w->cap - pos < sizeof(rec_hdr))
        return 0;
    const rec_hdr *h = (const rec_hdr *)(w->ring + pos);
    return h->op == OP_WRAP ? 0 : pos;
}

static void *thread_main(void *arg)
{
    lake_writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->used && !w->stop)
            pthread_cond_wait(&w->can_get, &w->mu);
        if (!w->used)
            break; /* stopping, drained */
        size_t pos = next_pos(w, w->tail);
        size_t waste = pos == w->tail ? 0 : w->cap - w->tail;
        const rec_hdr *h = (const rec_hdr *)(w->ring + pos);
        int skip = w->failed;
        w->busy = 1;
        pthread_mutex_unlock(&w->mu);
        ms_err e;
        int rc = MS_OK;
        if (!skip) { /* after a failure queued work is dropped */
            double t0 = ms_now();
            rc = run(w->L, h, &e);
            w->seconds += ms_now() - t0;
        }
        pthread_mutex_lock(&w->mu);
        if (rc && !w->failed) {
            w->failed = rc;
            w->err = e;
        }
        w->tail = pos + h->size;
        if (w->tail == w->cap)
            w->tail = 0;
        w->used -= waste + h->size;
        w->busy = 0;
        pthread_cond_signal(&w->can_put);
        pthread_cond_broadcast(&w->idle);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* The kept failure, copied into e. Called with the mutex held. */
static int kept(lake_writer *w, ms_err *e)
{
    if (w->failed && e)
        *e = w->err;
    return w->failed;
}

int lakew_sync(lake_writer *w, ms_err *e)
{
    if (!w->threaded)
        return MS_OK;
    pthread_mutex_lock(&w->mu);
    while (w->used || w->busy)
        pthread_cond_wait(&w->idle, &w->mu);
    int rc = kept(w, e);
    pthread_mutex_unlock(&w->mu);
    return rc;
}

/* Queues one call; vals (n_rows * ncols, for OP_APPEND) are copied. */
static int put(lake_writer *w, uint32_t op, int table, int64_t step, int n_rows, int ncols, const lk_value *vals,
               ms_err *e)
{
    size_t nv = op == OP_APPEND ? (size_t)n_rows * (size_t)ncols : 0, bytes = 0;
    for (size_t k = 0; k < nv; k++)
        if (vals[k].type == LK_TEXT || vals[k].type == LK_BLOB)
            bytes += vals[k].n;
    size_t need = ALIGN8(sizeof(rec_hdr) + nv * sizeof(lk_value) + bytes);
    if (need > w->cap / 2) { /* too big to queue: done here, once the thread is idle */
        int rc = lakew_sync(w, e);
        if (rc)
            return rc;
        rec_hdr h = {op, table, step, n_rows, ncols, need};
        return op == OP_APPEND ? lake_append(w->L, table, step, n_rows, vals, e) : run(w->L, &h, e);
    }
    pthread_mutex_lock(&w->mu);
    size_t pos, waste;
    for (;;) {
        int rc = kept(w, e);
        if (rc) {
            pthread_mutex_unlock(&w->mu);
            return rc;
        }
        pos = w->head;
        waste = 0;
        if (w->cap - pos < need) { /* not enough room before the end: wrap */
            waste = w->cap - pos;
            pos = 0;
        }
        if (w->cap - w->used >= waste + need)
            break;
        pthread_cond_wait(&w->can_put, &w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    /* The space [pos, pos + need) (and the waste before it) is ours: the
     * thread reads only what `used` covers. */
    if (waste >= sizeof(rec_hdr))
        ((rec_hdr *)(w->ring + w->head))->op = OP_WRAP;
    rec_hdr *h = (rec_hdr *)(w->ring + pos);
    *h = (rec_hdr){op, table, step, n_rows, ncols, need};
    lk_value *v = (lk_value *)(h + 1);
    unsigned char *p = (unsigned char *)(v + nv);
    for (size_t k = 0; k < nv; k++) {
        v[k] = vals[k];
        if ((vals[k].type == LK_TEXT || vals[k].type == LK_BLOB) && vals[k].n) {
            memcpy(p, vals[k].p, vals[k].n);
            v[k].p = p;
            p += vals[k].n;
        }
    }
    pthread_mutex_lock(&w->mu);
    w->head = pos + need;
    if (w->head == w->cap)
        w->head = 0;
    w->used += waste + need;
    pthread_cond_signal(&w->can_get);
    pthread_mutex_unlock(&w->mu);
    return MS_OK;
}

int lakew_init(lake_writer **out, lake *L, int threads, size_t capacity, ms_err *e)
{
    *out = NULL;
    if (threads != 0 && threads != 1)
        return ms_fail(e, MS_EINPUT, "lake writer: %d threads (allowed: 0 or 1)", threads);
    if (threads && capacity < ((size_t)1 << 20))
        return ms_fail(e, MS_EINPUT, "lake writer: a queue of %zu bytes is too small (at least 1 MiB)", capacity);
    lake_writer *w = calloc(1, sizeof *w);
    if (!w)
        return ms_fail(e, MS_EIO, "lake writer: out of memory");
    w->L = L;
    if (threads) {
        w->cap = capacity & ~(size_t)7u;
        w->ring = malloc(w->cap);
        if (!w->ring) {
            free(w);
            return ms_fail(e, MS_EIO, "lake writer: out of memory for a queue of %zu bytes", capacity);
        }
        if (pthread_mutex_init(&w->mu, NULL) || pthread_cond_init(&w->can_put, NULL) ||
            pthread_cond_init(&w->can_get, NULL) || pthread_cond_init(&w->idle, NULL) ||
            pthread_create(&w->th, NULL, thread_main, w)) {
            free(w->ring);
            free(w);
            return ms_fail(e, MS_EIO, "lake writer: cannot start its thread");
        }
        w->threaded = 1;
    }
    *out = w;
    return MS_OK;
}

int lakew_begin(lake_writer *w, ms_err *e)
{
    return w->threaded ? put(w, OP_BEGIN, 0, 0, 0, 0, NULL, e) : lake_begin(w->L, e);
}

int lakew_append(lake_writer *w, int table, int64_t step, int n_rows, const lk_value *vals, ms_err *e)
{
    if (!w->threaded)
        return lake_append(w->L, table, step, n_rows, vals, e);
    if (table < 0 || table >= LKT_COUNT || n_rows < 0)
        return lake_append(w->L, table, step, n_rows, vals, e); /* the lake says what is wrong, writing nothing */
    return put(w, OP_APPEND, table, step, n_rows, lk_tables[table].ncols, vals, e);
}

int lakew_commit_next(lake_writer *w, int64_t env_steps, ms_err *e)
{
    if (w->threaded)
        return put(w, OP_COMMIT_NEXT, 0, env_steps, 0, 0, NULL, e);
    lake_set_env_steps(w->L, env_steps);
    int rc = lake_commit(w->L, e);
    return rc ? rc : lake_begin(w->L, e);
}

double lakew_seconds(const lake_writer *w)
{
    return w ? w->seconds : 0.0;
}

void lakew_free(lake_writer *w)
{
    if (!w)
        return;
    if (w->threaded) {
        pthread_mutex_lock(&w->mu);
        w->stop = 1;
        pthread_cond_signal(&w->can_get);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->th, NULL); /* it drains first */
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->can_put);
        pthread_cond_destroy(&w->can_get);
        pthread_cond_destroy(&w->idle);
        free(w->ring);
    }
    free(w);
}
