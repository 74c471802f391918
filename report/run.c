/* run.c — a verified, summarised run (contract in run.h). */
#include "report/run.h"

#include <stdio.h>
#include <string.h>

int rp_run_read(rp_run *r, const char *path, const lake_verify_opts *opts, ms_err *e)
{
    memset(r, 0, sizeof *r);
    r->path = path;
    int rc = lake_summary_read(path, opts, &r->s, &r->rep, e);
    if (rc)
        return rc;
    char origin[MS_PATH_MAX + 32];
    snprintf(origin, sizeof origin, "%s:runs.config_text", path);
    ms_config_defaults(&r->c);
    if ((rc = ms_config_load_stored(&r->c, r->s.config_text, origin, e))) {
        lake_summary_release(&r->s);
        return rc;
    }
    r->verdict = lake_verdict(&r->rep, opts && opts->trusted);
    r->has_seconds = lake_summary_wall_seconds(&r->s, &r->seconds);
    return MS_OK;
}

void rp_run_release(rp_run *r)
{
    if (r)
        lake_summary_release(&r->s);
}
