/* clock.h — the one monotonic clock, for progress and timing figures only.
 * Nothing hashed or recorded in a ledger ever depends on it. */
#ifndef MS_BASE_CLOCK_H
#define MS_BASE_CLOCK_H

/* CLOCK_MONOTONIC in seconds. */
double ms_now(void);

#endif
