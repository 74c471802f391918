/* compare.c — runs side by side (contract in compare.h). */
#include "report/compare.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rp_compare_add(rp_compare *cmp, const char *path, const lake_verify_opts *opts, ms_err *e)
{
    if (cmp->n == RP_MAX_RUNS)
        return ms_fail(e, MS_EINPUT, "%s: compare takes at most %d lakes", path, RP_MAX_RUNS);
    rp_run *r = &cmp->run[cmp->n];
    int rc = rp_run_read(r, path, opts, e);
    if (rc) {
        cmp->failed_rep = r->rep;
        memset(r, 0, sizeof *r);
        return rc;
    }
    cmp->rules_recorded[cmp->n] = r->rep.rows[LKT_JOINT_ACTIONS] > 0;
    cmp->n++;
    return MS_OK;
}

/* ---- config keys -------------------------------------------------------- */

typedef struct kv {
    char key[80];
    char value[RP_VALUE];
} kv;

/* The canonical text of c as (section.key, value) pairs, into p (room for
 * MS_CONFIG_MAX_KEYS). */
static int config_pairs(const ms_config *c, kv *p, int *n, ms_err *e)
{
    char *text = malloc(MS_CONFIG_TEXT_MAX);
    if (!text)
        return ms_fail(e, MS_EIO, "compare: out of memory");
    ms_config_render(c, text, MS_CONFIG_TEXT_MAX);
    char section[64] = "";
    int k = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line && k < MS_CONFIG_MAX_KEYS;
         line = strtok_r(NULL, "\n", &save)) {
        size_t len = strlen(line);
        if (line[0] == '[' && len > 2 && line[len - 1] == ']') {
            snprintf(section, sizeof section, "%.*s", (int)(len - 2), line + 1);
            continue;
        }
        char *eq = strstr(line, " = ");
        if (!eq)
            continue;
        snprintf(p[k].key, sizeof p[k].key, "%s.%.*s", section, (int)(eq - line), line);
        snprintf(p[k].value, sizeof p[k].value, "%s", eq + 3);
        k++;
    }
    free(text);
    *n = k;
    return MS_OK;
}

static const char *lookup(const kv *p, int n, const char *key)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(p[i].key, key))
            return p[i].value;
    return NULL;
}

static int build_diffs(rp_compare *cmp, ms_err *e)
{
    /* one block: run r's pairs start at all + r * MS_CONFIG_MAX_KEYS */
    kv *all = calloc((size_t)cmp->n * MS_CONFIG_MAX_KEYS, sizeof *all);
    const kv *pairs[RP_MAX_RUNS] = {0};
    int np[RP_MAX_RUNS] = {0}, rc = all ? MS_OK : ms_fail(e, MS_EIO, "compare: out of memory");
    for (int r = 0; r < cmp->n && !rc; r++) {
        pairs[r] = all + (size_t)r * MS_CONFIG_MAX_KEYS;
        rc = config_pairs(&cmp->run[r].c, all + (size_t)r * MS_CONFIG_MAX_KEYS, &np[r], e);
    }
    if (!rc) {
        /* Every config is rendered by this build: the same keys in the same
         * order; lookup by name keeps that an assumption, not a need. */
        cmp->diffs = calloc((size_t)(np[0] ? np[0] : 1), sizeof *cmp->diffs);
        if (!cmp->diffs)
            rc = ms_fail(e, MS_EIO, "compare: out of memory");
    }
    for (int i = 0; !rc && i < np[0]; i++) {
        const char *k = pairs[0][i].key;
        int differs = 0;
        rp_diff *d = &cmp->diffs[cmp->ndiffs];
        for (int r = 0; r < cmp->n; r++) {
            const char *v = lookup(pairs[r], np[r], k);
            snprintf(d->value[r], sizeof d->value[r], "%s", v ? v : "(absent)");
            differs |= strcmp(d->value[r], d->value[0]) != 0;
        }
        cmp->nkeys++;
        if (differs) {
            snprintf(d->key, sizeof d->key, "%s", k);
            cmp->ndiffs++;
        }
    }
    free(all);
    return rc;
}

/* ---- curves and rules ----------------------------------------------------- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int build_curve(rp_compare *cmp, ms_err *e)
{
    int total = 0;
    for (int r = 0; r < cmp->n; r++)
        total += cmp->run[r].s.ngates;
    int64_t *xs = malloc((size_t)(total ? total : 1) * sizeof *xs);
    if (!xs)
        return ms_fail(e, MS_EIO, "compare: out of memory");
    int k = 0;
    for (int r = 0; r < cmp->n; r++)
        for (int i = 0; i < cmp->run[r].s.ngates; i++)
            xs[k++] = cmp->run[r].s.gates[i].env_steps;
    qsort(xs, (size_t)k, sizeof *xs, cmp_i64);
    int u = 0;
    for (int i = 0; i < k; i++)
        if (!u || xs[i] != xs[u - 1])
            xs[u++] = xs[i];
    cmp->curve = calloc((size_t)(u ? u : 1), sizeof *cmp->curve);
    if (!cmp->curve) {
        free(xs);
        return ms_fail(e, MS_EIO, "compare: out of memory");
    }
    cmp->ncurve = u;
    for (int j = 0; j < u; j++)
        cmp->curve[j].env_steps = xs[j];
    free(xs);
    for (int r = 0; r < cmp->n; r++) {
        const lake_summary *s = &cmp->run[r].s;
        for (int i = 0; i < s->ngates; i++) {
            /* binary search: every gate's env-steps is in the union */
            int lo = 0, hi = u - 1;
            while (lo < hi) {
                int mid = lo + (hi - lo) / 2;
                if (cmp->curve[mid].env_steps < s->gates[i].env_steps)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            cmp->curve[lo].score[r] = s->gates[i].candidate; /* the last gate there wins */
            cmp->curve[lo].has[r] = 1;
        }
    }
    return MS_OK;
}

static int build_rules(rp_compare *cmp, ms_err *e)
{
    int total = 0;
    for (int r = 0; r < cmp->n; r++)
        total += cmp->run[r].s.nrules;
    cmp->rules = calloc((size_t)(total ? total : 1), sizeof *cmp->rules);
    if (!cmp->rules)
        return ms_fail(e, MS_EIO, "compare: out of memory");
    for (int r = 0; r < cmp->n; r++)
        for (int i = 0; i < cmp->run[r].s.nrules; i++) {
            const ls_count *c = &cmp->run[r].s.rules[i];
            int k;
            for (k = 0; k < cmp->nrules && strcmp(cmp->rules[k].name, c->a); k++)
                ;
            if (k == cmp->nrules)
                memcpy(cmp->rules[cmp->nrules++].name, c->a, sizeof c->a);
            cmp->rules[k].hits[r] += c->n;
        }
    return MS_OK;
}

int rp_compare_build(rp_compare *cmp, ms_err *e)
{
    int rc = build_diffs(cmp, e);
    if (!rc)
        rc = build_curve(cmp, e);
    if (!rc)
        rc = build_rules(cmp, e);
    return rc;
}

void rp_compare_release(rp_compare *cmp)
{
    if (!cmp)
        return;
    for (int r = 0; r < cmp->n; r++)
        rp_run_release(&cmp->run[r]);
    free(cmp->diffs);
    free(cmp->curve);
    free(cmp->rules);
    memset(cmp, 0, sizeof *cmp);
}

void rp_sparkline(const double *v, int n, double lo, double hi, char *out, int width)
{
    static const char ramp[] = " .:-=+*#%@";
    const int levels = (int)sizeof ramp - 1;
    int m = n < width ? n : width;
    for (int i = 0; i < m; i++) {
        int src = m == n ? i : (m > 1 ? (int)((int64_t)i * (n - 1) / (m - 1)) : n - 1);
        double f = hi > lo ? (v[src] - lo) / (hi - lo) : 1.0;
        int k = isfinite(f) ? (int)lround(f * (levels - 1)) : 0;
        out[i] = ramp[k < 0 ? 0 : k >= levels ? levels - 1 : k];
    }
    out[m > 0 ? m : 0] = '\0';
}
