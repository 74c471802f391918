/* compare.h — `marlsim compare`: runs side by side, from their verified
 * lakes.
 *
 * rp_compare_add(cmp, path, opts, e) reads one run (rp_run_read: verified
 * first, so a tampered lake is never compared). Outcomes: MS_OK and the run
 * appended; rp_run_read's outcomes (MS_ECHECK tampered or foreign:
 * cmp->failed_rep holds lake_verify's report for the caller to name it);
 * MS_EINPUT more than RP_MAX_RUNS lakes.
 *
 * rp_compare_build(cmp, e), after the last add, derives what is shown side
 * by side:
 *   - diffs: every config key (section.key, canonical order) whose canonical
 *     value differs between any two runs, with each run's value;
 *   - curve: the union of the env-steps at which any run took a gate
 *     evaluation, ascending, with each run's gate score there (the last
 *     gate at that env-step; has[] = 0 where the run took none);
 *   - rules: the union of the rules any run's v_rule_hits names, with each
 *     run's hits (a run whose joint_actions is empty has rules_recorded = 0:
 *     not recorded, which is not zero hits).
 * MS_OK or MS_EIO (out of memory).
 *
 * rp_sparkline(v, n, lo, hi, out, width): a plain-ASCII sparkline of
 * v[0..n) on the scale [lo, hi], one character per value from the ramp
 * " .:-=+*#%@" (lowest to highest), or `width` evenly spaced values when n
 * is larger; NUL-terminated, out must hold width + 1 bytes.
 *
 * Speed: a lake stores no steps/s; rp_run.seconds is the wall-clock time
 * between its unhashed started_at and finished_at stamps (whole seconds),
 * has_seconds = 0 when it does not record them (never invented).
 *
 * Ownership: cmp owns everything; rp_compare_release frees it. The texts
 * are lake_summary's printable copies: escape them for the output format.
 */
#ifndef MS_REPORT_COMPARE_H
#define MS_REPORT_COMPARE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "report/run.h"

#define RP_MAX_RUNS 16
#define RP_VALUE 160

typedef struct rp_diff {
    char key[80];
    char value[RP_MAX_RUNS][RP_VALUE];
} rp_diff;

typedef struct rp_point {
    int64_t env_steps;
    double score[RP_MAX_RUNS];
    int has[RP_MAX_RUNS];
} rp_point;

typedef struct rp_rule {
    char name[LS_TEXT];
    int64_t hits[RP_MAX_RUNS];
} rp_rule;

typedef struct rp_compare {
    int n;
    rp_run run[RP_MAX_RUNS];
    int rules_recorded[RP_MAX_RUNS]; /* 0: the run's joint_actions is empty */
    lake_verify_report failed_rep; /* the last add's report on failure */
    rp_diff *diffs;
    int ndiffs, nkeys; /* keys that differ / keys compared */
    rp_point *curve;
    int ncurve;
    rp_rule *rules;
    int nrules;
} rp_compare;

int rp_compare_add(rp_compare *cmp, const char *path, const lake_verify_opts *opts, ms_err *e);
int rp_compare_build(rp_compare *cmp, ms_err *e);
void rp_compare_release(rp_compare *cmp);
void rp_sparkline(const double *v, int n, double lo, double hi, char *out, int width);

#endif
