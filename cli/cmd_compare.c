/* marlsim compare: runs side by side (report/compare.h gathers; this prints). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "report/compare.h"

static const char usage[] =
    "usage: marlsim compare A.db B.db [C.db ...] [--pubkey KEY | --keyring K] [--json]\n"
    "\n"
    "Puts up to 16 runs side by side: the config keys that differ (each lake's\n"
    "stored canonical config), final report figures, learning curves (gate\n"
    "scores at the env-steps where any run took a gate, and an ASCII sparkline\n"
    "per run on a common scale), safety-rule hits, poisoning and surveillance\n"
    "summaries, and speed (a lake stores no steps/s: the wall-clock time between\n"
    "its unhashed started_at and finished_at, or \"not recorded\").\n"
    "Every lake is verified first, as `marlsim verify` does (trusted key:\n"
    "--pubkey, else --keyring, $MARLSIM_KEYRING or your keyring); a tampered or\n"
    "foreign lake is named and nothing is compared. --json prints one JSON\n"
    "object on stdout (\"refused\": the lakes refused; \"compared\": false when\n"
    "nothing was compared).\n"
    "Exit 0 compared; 1 a lake is TAMPERED or FOREIGN; 2 bad usage, not a lake,\n"
    "a config this build cannot read, or an I/O failure.\n";

/* ---- text ---------------------------------------------------------------- */

static char label(int r)
{
    return (char)('A' + r);
}

/* One line per run of how it ended. */
static void text_runs(const rp_compare *c)
{
    printf("compare: %d runs\n", c->n);
    for (int r = 0; r < c->n; r++) {
        const rp_run *u = &c->run[r];
        printf("  %c  %s  %s%s%s%s  name %s  run %s  seed %llu  %s  %lld env-steps\n", label(r), u->path, u->verdict,
               u->rep.exported_class[0] ? " EXPORT (class " : "", u->rep.exported_class,
               u->rep.exported_class[0] ? ")" : "", u->s.name, u->s.run_id, (unsigned long long)u->s.seed,
               u->s.status, (long long)u->s.env_steps);
    }
}

static void text_config(const rp_compare *c)
{
    printf("\nconfig: %d of %d keys differ\n", c->ndiffs, c->nkeys);
    if (!c->ndiffs)
        return;
    int kw = 3, vw[RP_MAX_RUNS];
    for (int r = 0; r < c->n; r++)
        vw[r] = 1;
    for (int i = 0; i < c->ndiffs; i++) {
        int k = (int)strlen(c->diffs[i].key);
        kw = k > kw ? k : kw;
        for (int r = 0; r < c->n; r++) {
            int v = (int)strlen(c->diffs[i].value[r]);
            vw[r] = v > vw[r] ? v : vw[r];
        }
    }
    /* the last column unpadded: no trailing spaces */
    printf("  %-*s", kw, "key");
    for (int r = 0; r < c->n; r++)
        printf("  %-*c", r + 1 < c->n ? vw[r] : 0, label(r));
    printf("\n");
    for (int i = 0; i < c->ndiffs; i++) {
        printf("  %-*s", kw, c->diffs[i].key);
        for (int r = 0; r < c->n; r++)
            printf("  %-*s", r + 1 < c->n ? vw[r] : 0, c->diffs[i].value[r]);
        printf("\n");
    }
}

static void text_final(const rp_compare *c)
{
    printf("\nfinal report figure (mean reward per env-step on the report episodes):\n");
    for (int r = 0; r < c->n; r++) {
        const rp_run *u = &c->run[r];
        if (u->s.has_eval)
            printf("  %c  %.4f  (%d report episodes x %d mailboxes)\n", label(r), u->s.eval_reward,
                   u->c.report_episodes, u->c.envs);
        else
            printf("  %c  none (status %s: the run did not complete)\n", label(r), u->s.status);
    }
}

#define CURVE_ROWS 24
#define SPARK_WIDTH 60

static void text_curve(const rp_compare *c)
{
    printf("\nlearning curve: gate score (mean reward per env-step) where any run took a gate ('-': none there)\n");
    if (!c->ncurve) {
        printf("  no run took a gate evaluation\n");
        return;
    }
    printf("  %10s", "env-steps");
    for (int r = 0; r < c->n; r++)
        printf("  %8c", label(r));
    printf("\n");
    int shown = c->ncurve <= CURVE_ROWS ? c->ncurve : CURVE_ROWS;
    for (int k = 0; k < shown; k++) {
        int j = shown == c->ncurve ? k : (int)((long long)k * (c->ncurve - 1) / (shown - 1));
        const rp_point *p = &c->curve[j];
        printf("  %10lld", (long long)p->env_steps);
        for (int r = 0; r < c->n; r++)
            if (p->has[r])
                printf("  %8.4f", p->score[r]);
            else
                printf("  %8s", "-");
        printf("\n");
    }
    if (shown < c->ncurve)
        printf("  (%d of %d env-steps shown, evenly spaced; --json has all)\n", shown, c->ncurve);
    /* A common scale over the gates after each baseline: an untrained
     * baseline far below would flatten every curve into '@'. */
    double lo = INFINITY, hi = -INFINITY, base = INFINITY;
    for (int r = 0; r < c->n; r++)
        for (int i = 0; i < c->run[r].s.ngates; i++) {
            const ls_gate *g = &c->run[r].s.gates[i];
            if (strcmp(g->decision, "baseline"))
                lo = fmin(lo, g->candidate);
            else
                base = fmin(base, g->candidate);
            hi = fmax(hi, g->candidate);
        }
    if (!isfinite(lo))
        lo = base;
    printf("  sparklines, one character per gate on the common scale %.4f .. %.4f (\" .:-=+*#%%@\", low to high;\n"
           "  a baseline below the scale shows as ' '):\n",
           lo, hi);
    for (int r = 0; r < c->n; r++) {
        const lake_summary *s = &c->run[r].s;
        double *v = malloc((size_t)(s->ngates ? s->ngates : 1) * sizeof *v);
        char line[SPARK_WIDTH + 1];
        int promoted = 0, rolled = 0;
        for (int i = 0; i < s->ngates; i++) {
            if (v)
                v[i] = s->gates[i].candidate;
            promoted += !strcmp(s->gates[i].decision, "promoted");
            rolled += !strcmp(s->gates[i].decision, "rolled_back");
        }
        if (v)
            rp_sparkline(v, s->ngates, lo, hi, line, SPARK_WIDTH);
        else
            snprintf(line, sizeof line, "(out of memory)");
        free(v);
        printf("  %c  |%s|  %d gates: %d promoted, %d rolled back\n", label(r), line, s->ngates, promoted, rolled);
    }
}

static void text_rules(const rp_compare *c)
{
    printf("\nsafety rule hits:\n");
    int any = 0;
    for (int r = 0; r < c->n; r++)
        any |= c->rules_recorded[r];
    if (c->nrules) {
        printf("  %-30s", "rule");
        for (int r = 0; r < c->n; r++)
            printf("  %9c", label(r));
        printf("\n");
        for (int k = 0; k < c->nrules; k++) {
            printf("  %-30s", c->rules[k].name);
            for (int r = 0; r < c->n; r++)
                if (c->rules_recorded[r])
                    printf("  %9lld", (long long)c->rules[k].hits[r]);
                else
                    printf("  %9s", "-");
            printf("\n");
        }
    } else if (any) {
        printf("  no rule fired in any recorded run\n");
    }
    for (int r = 0; r < c->n; r++) {
        const lake_verify_report *rep = &c->run[r].rep;
        if (rep->purged_rows[LKT_JOINT_ACTIONS])
            printf("  %c: %s removed %lld rows of joint_actions%s\n", label(r),
                   rep->exported_class[0] ? "the export" : "a purge", (long long)rep->purged_rows[LKT_JOINT_ACTIONS],
                   c->rules_recorded[r] ? ": its hits cover the rows left" : "");
        else if (!c->rules_recorded[r])
            printf("  %c: not recorded (telemetry.level = %s: joint_actions is empty)\n", label(r),
                   c->run[r].c.level == MS_LEVEL_AGGREGATE ? "aggregate" : "full/sampled, but no step");
    }
}

static void ratio(const char *what, int64_t a, int64_t b)
{
    if (b)
        printf(" %s %.3f", what, (double)a / (double)b);
    else
        printf(" %s n/a", what);
}

static void text_poison_surv(const rp_compare *c)
{
    printf("\npoisoning (ground truth in poison_truth; detections in anomalies):\n");
    for (int r = 0; r < c->n; r++) {
        const ls_poison *p = &c->run[r].s.poison;
        printf("  %c  defence %s: transit injected %lld detected %lld", label(r), c->run[r].c.defence ? "on" : "off",
               (long long)p->transit_injected, (long long)p->transit_detected);
        ratio("precision", p->transit_caught, p->transit_detected);
        ratio("recall", p->transit_caught, p->transit_injected);
        printf("; source injected %lld flagged %lld", (long long)p->source_injected, (long long)p->flagged);
        ratio("precision", p->flagged_forged, p->flagged);
        ratio("recall", p->flagged_forged, p->source_injected);
        printf("; backdoor messages %lld\n", (long long)p->backdoor_messages);
    }
    printf("\nsurveillance:\n");
    for (int r = 0; r < c->n; r++) {
        const lake_summary *s = &c->run[r].s;
        int suspended = 0;
        for (int i = 0; i < s->nsurv; i++)
            suspended += !strcmp(s->surv[i].action, "suspended");
        printf("  %c  %s: %lld finding%s, %d suspension%s", label(r), c->run[r].c.surv_enabled ? "enabled" : "disabled",
               (long long)s->surv_total, s->surv_total == 1 ? "" : "s", suspended, suspended == 1 ? "" : "s");
        /* per detector, in first-seen order */
        for (int i = 0; i < s->nsurv; i++) {
            int seen = 0, n = 0;
            for (int j = 0; j < i && !seen; j++)
                seen = !strcmp(s->surv[j].detector, s->surv[i].detector);
            if (seen)
                continue;
            for (int j = i; j < s->nsurv; j++)
                n += !strcmp(s->surv[j].detector, s->surv[i].detector);
            printf("%s %s %d", i ? "," : ":", s->surv[i].detector, n);
        }
        printf("\n");
    }
}

static void text_speed(const rp_compare *c)
{
    printf("\nspeed (a lake stores no steps/s; wall clock between its unhashed started_at and finished_at, whole "
           "seconds, set-up and evaluations included):\n");
    for (int r = 0; r < c->n; r++) {
        const rp_run *u = &c->run[r];
        if (u->has_seconds && u->seconds > 0)
            printf("  %c  %lld s, about %.0f env-steps/s\n", label(r), (long long)u->seconds,
                   (double)u->s.env_steps / (double)u->seconds);
        else
            printf("  %c  not recorded (%s)\n", label(r),
                   u->has_seconds ? "the stamps are less than a second apart" : "no started_at/finished_at pair");
    }
}

/* ---- JSON ---------------------------------------------------------------- */

static void jnum(double v)
{
    if (isfinite(v))
        printf("%.17g", v);
    else
        printf("null");
}

static void json_run(const rp_compare *c, int r)
{
    const rp_run *u = &c->run[r];
    const lake_summary *s = &u->s;
    printf("{\"label\":\"%c\",\"path\":", label(r));
    cli_json_string(stdout, u->path);
    printf(",\"verdict\":\"%s\",\"exported_class\":", u->verdict);
    if (u->rep.exported_class[0])
        cli_json_string(stdout, u->rep.exported_class);
    else
        printf("null");
    printf(",\"run_id\":");
    cli_json_string(stdout, s->run_id);
    printf(",\"name\":");
    cli_json_string(stdout, s->name);
    printf(",\"seed\":%llu,\"status\":", (unsigned long long)s->seed);
    cli_json_string(stdout, s->status);
    printf(",\"config_sha256\":");
    cli_json_string(stdout, s->config_sha256);
    printf(",\"env_steps\":%lld,\"final_report_figure\":", (long long)s->env_steps);
    if (s->has_eval)
        jnum(s->eval_reward);
    else
        printf("null");
    printf(",\"gates\":[");
    for (int i = 0; i < s->ngates; i++) {
        printf("%s{\"eval_id\":%lld,\"env_steps\":%lld,\"score\":", i ? "," : "", (long long)s->gates[i].eval_id,
               (long long)s->gates[i].env_steps);
        jnum(s->gates[i].candidate);
        printf(",\"decision\":");
        cli_json_string(stdout, s->gates[i].decision);
        printf("}");
    }
    printf("],\"joint_actions_removed\":%lld,\"rule_hits\":", (long long)u->rep.purged_rows[LKT_JOINT_ACTIONS]);
    if (c->rules_recorded[r]) {
        printf("{");
        for (int i = 0; i < s->nrules; i++) {
            printf("%s", i ? "," : "");
            cli_json_string(stdout, s->rules[i].a);
            printf(":%lld", (long long)s->rules[i].n);
        }
        printf("}");
    } else {
        printf("null");
    }
    const ls_poison *p = &s->poison;
    printf(",\"poisoning\":{\"defence\":\"%s\",\"transit_injected\":%lld,\"transit_detected\":%lld,"
           "\"transit_caught\":%lld,\"source_injected\":%lld,\"flagged\":%lld,\"flagged_forged\":%lld,"
           "\"backdoor_messages\":%lld}",
           u->c.defence ? "on" : "off", (long long)p->transit_injected, (long long)p->transit_detected,
           (long long)p->transit_caught, (long long)p->source_injected, (long long)p->flagged,
           (long long)p->flagged_forged, (long long)p->backdoor_messages);
    int suspended = 0;
    for (int i = 0; i < s->nsurv; i++)
        suspended += !strcmp(s->surv[i].action, "suspended");
    printf(",\"surveillance\":{\"findings\":%lld,\"suspensions\":%d}", (long long)s->surv_total, suspended);
    printf(",\"wall_seconds\":");
    if (u->has_seconds)
        printf("%lld", (long long)u->seconds);
    else
        printf("null");
    printf(",\"env_steps_per_second\":");
    if (u->has_seconds && u->seconds > 0)
        jnum((double)s->env_steps / (double)u->seconds);
    else
        printf("null");
    printf("}");
}

static void json_all(const rp_compare *c)
{
    printf("\"compared\":true,\"runs\":[");
    for (int r = 0; r < c->n; r++) {
        printf("%s", r ? "," : "");
        json_run(c, r);
    }
    printf("],\"config_keys_compared\":%d,\"config_diff\":[", c->nkeys);
    for (int i = 0; i < c->ndiffs; i++) {
        printf("%s{\"key\":", i ? "," : "");
        cli_json_string(stdout, c->diffs[i].key);
        printf(",\"values\":[");
        for (int r = 0; r < c->n; r++) {
            printf("%s", r ? "," : "");
            cli_json_string(stdout, c->diffs[i].value[r]);
        }
        printf("]}");
    }
    printf("],\"curve\":[");
    for (int j = 0; j < c->ncurve; j++) {
        printf("%s{\"env_steps\":%lld,\"scores\":[", j ? "," : "", (long long)c->curve[j].env_steps);
        for (int r = 0; r < c->n; r++) {
            printf("%s", r ? "," : "");
            if (c->curve[j].has[r])
                jnum(c->curve[j].score[r]);
            else
                printf("null");
        }
        printf("]}");
    }
    printf("]}\n");
}

int cmd_compare(int argc, char **argv)
{
    cli_args a;
    int rc = cli_parse(argc, argv, CLI_OPT_PUBKEY | CLI_OPT_KEYRING | CLI_OPT_JSON, usage, "A.db B.db", 2,
                       RP_MAX_RUNS, &a);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    ms_note_verifier trusted;
    lake_verify_opts vo;
    if ((rc = cli_lake_trust(&a, usage, &trusted, &vo)))
        return rc;
    rp_compare *c = calloc(1, sizeof *c);
    if (!c) {
        cli_error("compare: out of memory");
        return EXIT_USAGE;
    }
    /* Verify every lake, so that each tampered one is named. */
    int refused = 0, worst = EXIT_OK;
    ms_err e;
    if (a.json)
        printf("{\"refused\":[");
    for (int i = 0; i < a.npos; i++) {
        rc = rp_compare_add(c, a.pos[i], &vo, &e);
        if (rc == MS_ECHECK) {
            const char *word = c->failed_rep.foreign ? "FOREIGN" : "TAMPERED";
            if (a.json) {
                printf("%s{\"path\":", refused ? "," : "");
                cli_json_string(stdout, a.pos[i]);
                printf(",\"verdict\":\"%s\",\"error\":", word);
                cli_json_string(stdout, e.msg);
                printf("}");
            } else {
                printf("%s %s\n%s\n", word, a.pos[i], e.msg);
            }
            refused++;
            worst = EXIT_CHECK;
        } else if (rc) {
            cli_error("%s", e.msg);
            if (worst == EXIT_OK)
                worst = cli_exit_for(rc);
        }
    }
    if (worst == EXIT_OK && (rc = rp_compare_build(c, &e))) {
        cli_error("%s", e.msg);
        worst = cli_exit_for(rc);
    }
    if (a.json)
        printf("]%s", worst == EXIT_OK ? "," : ",\"compared\":false}\n");
    if (worst != EXIT_OK) {
        if (refused && !a.json)
            printf("nothing compared: %d lake%s refused\n", refused, refused == 1 ? "" : "s");
        rp_compare_release(c);
        free(c);
        return worst;
    }
    if (a.json) {
        json_all(c);
    } else {
        text_runs(c);
        text_config(c);
        text_final(c);
        text_curve(c);
        text_rules(c);
        text_poison_surv(c);
        text_speed(c);
    }
    rp_compare_release(c);
    free(c);
    return EXIT_OK;
}
