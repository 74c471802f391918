/* run.h — one run as `report` and `compare` read it: its lake verified and
 * summarised (ledger/summary.h) and its stored config parsed.
 *
 * rp_run_read(r, path, opts, e): lake_summary_read(path, opts) — so nothing
 * is read from a lake that did not verify — then ms_config_load_stored on
 * the stored canonical config (errors name "PATH:runs.config_text"), the
 * verdict (lake_verdict with trusted = opts->trusted != NULL, incomplete
 * runs shown as INCOMPLETE) and the wall-clock duration
 * (lake_summary_wall_seconds). Outcomes: MS_OK (release with
 * rp_run_release); every lake_summary_read outcome (r->rep as lake_verify
 * filled it, e.g. rep.foreign on MS_ECHECK); MS_EINPUT a config this build
 * cannot parse; MS_ECHECK a config that sets a key a lake never holds.
 * On failure nothing is left to release.
 */
#ifndef MS_REPORT_RUN_H
#define MS_REPORT_RUN_H

#include <stdint.h>

#include "base/err.h"
#include "ledger/summary.h"
#include "sim/config.h"

typedef struct rp_run {
    const char *path; /* the caller's string (not copied) */
    lake_summary s;
    lake_verify_report rep;
    ms_config c;
    const char *verdict; /* a static string */
    int64_t seconds;     /* wall clock between started_at and finished_at */
    int has_seconds;     /* 0: the lake does not record it */
} rp_run;

int rp_run_read(rp_run *r, const char *path, const lake_verify_opts *opts, ms_err *e);
void rp_run_release(rp_run *r);

#endif
