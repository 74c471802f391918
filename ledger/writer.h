/* writer.h — the lake on its own thread: an ordered, bounded queue in front
 * of a lake handle (ledger/lake.h).
 *
 * Why: at full telemetry the lake's work (canonical row encoding, SHA-256,
 * SQLite) takes about half of a run's time on one core while the machine
 * has more. With threads = 1 a writer thread does that work while the
 * caller goes on stepping and learning.
 *
 * What it guarantees: the lake receives exactly the calls, in exactly the
 * order, that the caller made, so the lake is byte for byte the one the
 * synchronous path writes (same ledger, same head hash); the thread count
 * is not part of the hashed config and cannot change a lake. Values are
 * deep-copied into a ring of `capacity` bytes allocated at init (bounded
 * memory: the caller waits when the ring is full; nothing is allocated per
 * call); an append larger than half the ring is done synchronously after
 * the queue drains. threads = 0 calls the lake directly (no thread).
 *
 * Errors: the first failure of a queued call is kept (status and message);
 * from then on every call returns it at once and queued work is dropped,
 * so the caller stops soon. The lake itself is then broken exactly as the
 * synchronous path leaves it (lake_finish rolls back to the last commit).
 * A synchronous caller sees the failure at the call that failed; an
 * asynchronous one at the next call, lakew_sync or lakew_free — what is
 * committed is the same.
 *
 * lakew_sync waits until the queue is empty and the thread idle, and
 * returns the kept failure, if any: afterwards the caller may use the lake
 * handle directly (e.g. lake_finish) until its next lakew_* call.
 * lakew_free drains, stops the thread and frees; it never touches the lake
 * otherwise (the caller closes it).
 *
 * One producer: calls on one lake_writer must not overlap.
 */
#ifndef MS_LEDGER_WRITER_H
#define MS_LEDGER_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "ledger/canon.h"
#include "ledger/lake.h"

typedef struct lake_writer lake_writer;

/* MS_OK, MS_EINPUT (threads not 0 or 1, capacity under 1 MiB with a
 * thread), MS_EIO (memory, thread creation). */
int lakew_init(lake_writer **out, lake *L, int threads, size_t capacity, ms_err *e);
int lakew_begin(lake_writer *w, ms_err *e);
int lakew_append(lake_writer *w, int table, int64_t step, int n_rows, const lk_value *vals, ms_err *e);
/* lake_set_env_steps(env_steps), lake_commit, lake_begin: the recorder's
 * commit point. */
int lakew_commit_next(lake_writer *w, int64_t env_steps, ms_err *e);
int lakew_sync(lake_writer *w, ms_err *e);
void lakew_free(lake_writer *w);
/* Seconds the thread spent in lake calls (0 without a thread); read after
 * lakew_sync. */
double lakew_seconds(const lake_writer *w);

#endif
