/* html.c — the self-contained HTML report (contract in html.h). */
#include "report/html.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "base/version.h"
#include "report/run.h"

/* The first line of every report: how an existing file is recognised as
 * one that may be replaced. */
static const char first_line[] = "<!DOCTYPE html>\n<!-- marlsim report -->\n";

/* ---- escaping and small writers ---------------------------------------- */

static void esc(ms_strbuf *b, const char *s)
{
    for (const char *p = s; *p; p++) {
        switch (*p) {
        case '&': ms_sb_puts(b, "&amp;"); break;
        case '<': ms_sb_puts(b, "&lt;"); break;
        case '>': ms_sb_puts(b, "&gt;"); break;
        case '"': ms_sb_puts(b, "&quot;"); break;
        case '\'': ms_sb_puts(b, "&#39;"); break;
        default: ms_sb_put(b, p, 1);
        }
    }
}

static void th(ms_strbuf *b, const char *const *cols, int n)
{
    ms_sb_puts(b, "<thead><tr>");
    for (int i = 0; i < n; i++) {
        ms_sb_puts(b, "<th>");
        esc(b, cols[i]);
        ms_sb_puts(b, "</th>");
    }
    ms_sb_puts(b, "</tr></thead><tbody>\n");
}

static void td_s(ms_strbuf *b, const char *s)
{
    ms_sb_puts(b, "<td>");
    esc(b, s);
    ms_sb_puts(b, "</td>");
}

static void td_code(ms_strbuf *b, const char *s)
{
    ms_sb_puts(b, "<td><code>");
    esc(b, s);
    ms_sb_puts(b, "</code></td>");
}

static void td_i(ms_strbuf *b, int64_t v)
{
    ms_sb_printf(b, "<td class=\"n\">%" PRId64 "</td>", v);
}

static void td_f(ms_strbuf *b, double v, int prec)
{
    ms_sb_printf(b, "<td class=\"n\">%.*f</td>", prec, v);
}

static void td_na(ms_strbuf *b)
{
    ms_sb_puts(b, "<td class=\"n\">n/a</td>");
}

/* A section a lake cannot fill: says which and why. */
static void empty(ms_strbuf *b, int *count, const char *section, const char *why)
{
    (*count)++;
    ms_sb_printf(b, "<p class=\"empty\" data-section=\"%s\">Not recorded: ", section);
    esc(b, why);
    ms_sb_puts(b, "</p>\n");
}

static void note(ms_strbuf *b, const char *text)
{
    ms_sb_puts(b, "<p class=\"note\">");
    esc(b, text);
    ms_sb_puts(b, "</p>\n");
}

/* What a purge or an export removed from table t, for the section that
 * reads it: every row (the section is empty: says so, returns 1), or some
 * (a note: the figures cover the rows left), or nothing. */
static int removed(ms_strbuf *b, int *count, const char *section, const lake_verify_report *rep, int t)
{
    if (!rep->purged_rows[t])
        return 0;
    char why[300];
    const char *by = rep->exported_class[0] ? "this export" : "a purge";
    if (!rep->rows[t]) {
        snprintf(why, sizeof why, "%s removed every row of %s (%" PRId64 "); the ledger keeps their commitments.",
                 by, lk_tables[t].name, rep->purged_rows[t]);
        empty(b, count, section, why);
        return 1;
    }
    snprintf(why, sizeof why, "%s removed %" PRId64 " rows of %s: these figures cover the %" PRId64 " rows left.", by,
             rep->purged_rows[t], lk_tables[t].name, rep->rows[t]);
    note(b, why);
    return 0;
}

static void fact(ms_strbuf *b, const char *key, const char *value)
{
    ms_sb_puts(b, "<tr><th>");
    esc(b, key);
    ms_sb_puts(b, "</th>");
    td_code(b, value);
    ms_sb_puts(b, "</tr>\n");
}

/* ---- chart helpers ------------------------------------------------------ */

/* A "nice" tick step (1, 2 or 5 x 10^k) giving about n ticks over range. */
static double nice_step(double range, int n)
{
    if (!(range > 0))
        return 1;
    double raw = range / n, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

static int step_decimals(double step)
{
    int d = 0;
    while (d < 6 && fabs(step * pow(10, d) - round(step * pow(10, d))) > 1e-9)
        d++;
    return d;
}

static void svg_open(ms_strbuf *b, const char *id, int w, int h, const char *label)
{
    ms_sb_printf(b, "<svg id=\"%s\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                    "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"",
                 id, w, h, w, h);
    esc(b, label);
    ms_sb_puts(b, "\">\n");
}

static void legend_item(ms_strbuf *b, int x, int y, const char *cls, const char *label)
{
    ms_sb_printf(b, "<rect class=\"%s\" x=\"%d\" y=\"%d\" width=\"12\" height=\"12\"/>", cls, x, y - 10);
    ms_sb_printf(b, "<text x=\"%d\" y=\"%d\">", x + 16, y);
    esc(b, label);
    ms_sb_puts(b, "</text>\n");
}

/* Fixed CSS classes for values a hostile lake names (never its text). */
static const char *decision_class(const char *d)
{
    return !strcmp(d, "baseline") ? "d-baseline" : !strcmp(d, "promoted") ? "d-promoted"
         : !strcmp(d, "rolled_back") ? "d-rolled_back" : "d-other";
}

static const char *const outcome_names[] = {"delivered", "previewed", "quarantined", "ignored"};
static const char *const agent_order[] = {"GET", "OPEN", "BIN"};

static const char *outcome_class(const char *o)
{
    static const char *const cls[] = {"o-delivered", "o-previewed", "o-quarantined", "o-ignored"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(o, outcome_names[i]))
            return cls[i];
    return "o-other";
}

static const char *agent_class(const char *a)
{
    static const char *const cls[] = {"a-get", "a-open", "a-bin"};
    for (int i = 0; i < 3; i++)
        if (!strcmp(a, agent_order[i]))
            return cls[i];
    return "a-other";
}

/* Distinct values in first-seen order, with the known ones first. */
typedef struct names {
    const char *v[LS_ROWS_MAX];
    int n;
} names;

static void names_add(names *s, const char *v)
{
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->v[i], v))
            return;
    if (s->n < LS_ROWS_MAX)
        s->v[s->n++] = v;
}

static int names_find(const names *s, const char *v)
{
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->v[i], v))
            return i;
    return -1;
}

/* ---- sections ----------------------------------------------------------- */

static const char *level_name(int level)
{
    return level == MS_LEVEL_AGGREGATE ? "aggregate" : level == MS_LEVEL_SAMPLED ? "sampled" : "full";
}

static void sampled_note(ms_strbuf *b, const ms_config *c)
{
    if (c->level != MS_LEVEL_SAMPLED)
        return;
    char t[200];
    snprintf(t, sizeof t, "telemetry.level = sampled: these figures count every %d-th simulation step only.",
             c->sample_every);
    note(b, t);
}

static void section_verification(ms_strbuf *b, const char *lake_label, const lake_summary *s,
                                 const lake_verify_report *rep, const ms_note_verifier *trusted)
{
    const char *v = lake_verdict(rep, trusted != NULL);
    int good = !strcmp(v, "OK");
    ms_sb_printf(b, "<section id=\"verification\"><div class=\"verdict %s\"><span id=\"verdict\">%s</span>",
                 good ? "v-ok" : "v-warn", v);
    if (rep->exported_class[0]) {
        ms_sb_puts(b, " <span id=\"export\">EXPORT (class ");
        esc(b, rep->exported_class);
        ms_sb_puts(b, ")</span>");
    }
    ms_sb_puts(b, " — ");
    esc(b, lake_label);
    ms_sb_printf(b, ": %" PRId64 " ledger entries, %" PRId64 " rows, the hash chain re-derived from the stored bytes. ",
                 rep->entries, rep->total_rows);
    char t[600];
    if (!strcmp(v, "OK"))
        snprintf(t, sizeof t, "%" PRId64 " checkpoint%s signed by the trusted key %s+%02x%02x%02x%02x; the newest "
                 "covers the whole ledger and states the status.", rep->checkpoints, rep->checkpoints == 1 ? "" : "s",
                 trusted->name, trusted->key_id[0], trusted->key_id[1], trusted->key_id[2], trusted->key_id[3]);
    else if (!strcmp(v, "UNSIGNED"))
        snprintf(t, sizeof t, "The chain is intact, but the trusted key %s+%02x%02x%02x%02x cannot vouch for it: %s.",
                 trusted->name, trusted->key_id[0], trusted->key_id[1], trusted->key_id[2], trusted->key_id[3],
                 rep->unsigned_why);
    else if (!strcmp(v, "INCOMPLETE") && trusted && rep->signed_size < rep->entries)
        snprintf(t, sizeof t, "An intact prefix of a run that did not complete (status %s). UNSIGNED TAIL: the "
                 "trusted key vouches for ledger entries 1 to %" PRId64 " only (%s); nothing vouches for the rest, "
                 "which the figures below include.", s->status, rep->signed_size, rep->unsigned_why);
    else if (!strcmp(v, "INCOMPLETE"))
        snprintf(t, sizeof t, "An intact prefix of a run that did not complete (status %s)%s.", s->status,
                 rep->authenticated ? ", signed by the trusted key" : trusted ? "" : "; no trusted key was at hand");
    else if (s->dev_key)
        snprintf(t, sizeof t, "A development-key lake (nothing signed): the chain is intact, but anyone with the "
                 "file could have rewritten and re-chained it. Every figure below is only as good as that.");
    else
        snprintf(t, sizeof t, "No trusted key (--pubkey, --keyring, $MARLSIM_KEYRING or your keyring): the chain and "
                 "%" PRId64 " checkpoint%s agree, but anyone with the file could have rewritten all of them. Every "
                 "figure below is only as good as that.", rep->checkpoints, rep->checkpoints == 1 ? "" : "s");
    esc(b, t);
    if (rep->exported_class[0]) {
        snprintf(t, sizeof t, " An export holds only class %s's payloads: %" PRId64 " rows of %" PRId64 " ledger "
                 "entries of the other classes were removed (the chain keeps their commitments).",
                 rep->exported_class, rep->export_rows, rep->export_entries);
        esc(b, t);
    }
    if (rep->npurges) {
        snprintf(t, sizeof t, " %" PRId64 " purge%s removed the payloads of %" PRId64 " ledger entries; the sections "
                 "below say where rows are missing.", rep->npurges, rep->npurges == 1 ? "" : "s", rep->purged_entries);
        esc(b, t);
    }
    ms_sb_puts(b, "</div></section>\n");
}

static void key_facts(ms_strbuf *b, const lake_summary *s, const ms_config *c)
{
    char fig[64];
    if (s->has_eval)
        snprintf(fig, sizeof fig, "%.4f", s->eval_reward);
    else
        snprintf(fig, sizeof fig, "none");
    ms_sb_puts(b, "<div class=\"facts\">");
    ms_sb_puts(b, "<div><span>run</span><code>");
    esc(b, s->name);
    ms_sb_puts(b, " · ");
    esc(b, s->run_id);
    ms_sb_puts(b, "</code></div><div><span>status</span><code>");
    esc(b, s->status);
    ms_sb_printf(b, "</code></div><div><span>seed</span><code>%" PRIu64 "</code></div>", s->seed);
    ms_sb_printf(b, "<div><span>env-steps</span><code>%" PRId64 "</code></div>", s->env_steps);
    ms_sb_printf(b, "<div><span>final report figure</span><code id=\"final-figure\">%s</code></div>", fig);
    ms_sb_puts(b, "<div><span>config hash</span><code>");
    esc(b, s->config_sha256);
    ms_sb_printf(b, "</code></div><div><span>telemetry level</span><code>%s</code></div></div>\n",
                 level_name(c->level));
}

/* At most about this many gate rows are listed (the chart has every gate). */
#define GATES_SHOWN 200

static void gate_row(ms_strbuf *b, const ls_gate *g)
{
    ms_sb_printf(b, "<tr class=\"%s\">", decision_class(g->decision));
    td_i(b, g->eval_id);
    if (g->has_update)
        td_i(b, g->update_id);
    else
        td_na(b);
    td_i(b, g->env_steps);
    td_f(b, g->candidate, 4);
    if (g->has_best) {
        td_f(b, g->best - g->tolerance, 4);
        td_f(b, g->candidate - g->best, 4);
    } else {
        td_na(b);
        td_na(b);
    }
    td_s(b, g->decision);
    if (g->has_undone)
        ms_sb_printf(b, "<td>%" PRId64 "–%" PRId64 "</td>", g->undone_first, g->undone_last);
    else
        ms_sb_puts(b, "<td></td>");
    ms_sb_puts(b, "</tr>\n");
}

static void section_learning(ms_strbuf *b, const lake_summary *s, const lake_verify_report *rep, const ms_config *c,
                             int *nempty)
{
    ms_sb_puts(b, "<section id=\"learning\"><h2>Learning curve and gate decisions</h2>\n");
    if (removed(b, nempty, "learning", rep, LKT_EVALUATIONS)) {
        ms_sb_puts(b, "</section>\n");
        return;
    }
    if (!s->ngates) {
        empty(b, nempty, "learning", "the lake holds no gate evaluation (the run stopped before its baseline).");
        ms_sb_puts(b, "</section>\n");
        return;
    }
    char t[600];
    snprintf(t, sizeof t, "Every %d updates the candidate policy plays %d gate episodes per mailbox (a stream of "
             "eval_seed and the run seed) greedily; it is promoted when its score is at least the best promoted score "
             "minus the tolerance, else the agents roll back. The score is the mean reward per env-step. The final "
             "report figure is scored on the report episodes (%d per mailbox, a stream of eval_seed alone) and "
             "never selected on.", c->gate_every, c->eval_episodes, c->report_episodes);
    note(b, t);

    const int W = 1000, H = 380, L = 76, R = 70, T = 44, B = 52, PW = W - L - R, PH = H - T - B;
    double xmax = 10, ymin = INFINITY, ymax = -INFINITY; /* an axis of at least 10 env-steps */
    for (int i = 0; i < s->ngates; i++) {
        const ls_gate *g = &s->gates[i];
        if ((double)g->env_steps > xmax)
            xmax = (double)g->env_steps;
        ymin = fmin(ymin, g->candidate);
        ymax = fmax(ymax, g->candidate);
        if (g->has_best) {
            ymin = fmin(ymin, g->best - g->tolerance);
            ymax = fmax(ymax, g->best);
        }
    }
    if (s->has_eval) {
        ymin = fmin(ymin, s->eval_reward);
        ymax = fmax(ymax, s->eval_reward);
    }
    if (!isfinite(ymin) || !isfinite(ymax)) {
        ymin = -1;
        ymax = 1;
    }
    if (ymax - ymin < 1e-9) {
        ymin -= 0.5;
        ymax += 0.5;
    }
    double ystep = nice_step(ymax - ymin, 6);
    ymin = floor(ymin / ystep) * ystep;
    ymax = ceil(ymax / ystep) * ystep;
    double xstep = nice_step(xmax, 8);
    xmax = ceil(xmax / xstep) * xstep; /* the axis ends on a tick */
#define X(v) (L + (double)(v) / xmax * PW)
#define Y(v) (T + (ymax - (v)) / (ymax - ymin) * PH)
    svg_open(b, "chart-learning", W, H, "gate score per evaluation against env-steps, with gate decisions");
    /* grid and axes */
    int yd = step_decimals(ystep);
    for (double y = ymin; y <= ymax + ystep / 2; y += ystep) {
        ms_sb_printf(b, "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>", L, Y(y), L + PW, Y(y));
        ms_sb_printf(b, "<text class=\"tick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.*f</text>\n", L - 6,
                     Y(y) + 4, yd, fabs(y) < ystep / 1e6 ? 0.0 : y);
    }
    for (double x = 0; x <= xmax + xstep / 2; x += xstep) {
        ms_sb_printf(b, "<line class=\"grid\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>", X(x), T, X(x), T + PH);
        ms_sb_printf(b, "<text class=\"tick\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.0f</text>\n", X(x),
                     T + PH + 16, x);
    }
    ms_sb_printf(b, "<rect class=\"frame\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/>\n", L, T, PW, PH);
    ms_sb_printf(b, "<text class=\"axis\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">env-steps</text>\n", L + PW / 2,
                 H - 12);
    ms_sb_printf(b, "<text class=\"axis\" transform=\"translate(16 %d) rotate(-90)\" text-anchor=\"middle\">gate score "
                    "(mean reward per env-step)</text>\n", T + PH / 2);
    /* legend */
    static const char *const lcls[] = {"l-curve", "d-promoted", "d-rolled_back", "d-baseline", "l-threshold",
                                       "surv-mark", "report-pt"};
    static const char *const ltxt[] = {"gate score", "promoted", "rolled back", "baseline",
                                       "threshold: best - tolerance", "surveillance finding", "report figure"};
    for (int k = 0, x = L; k < 7; k++) {
        legend_item(b, x, 18, lcls[k], ltxt[k]);
        x += 28 + 7 * (int)strlen(ltxt[k]);
    }
    /* promotion threshold: a step line over the interval before each gate */
    ms_sb_puts(b, "<path class=\"threshold\" d=\"");
    for (int i = 1; i < s->ngates; i++)
        if (s->gates[i].has_best)
            ms_sb_printf(b, "M%.1f %.1fH%.1f", X(s->gates[i - 1].env_steps),
                         Y(s->gates[i].best - s->gates[i].tolerance), X(s->gates[i].env_steps));
    ms_sb_puts(b, "\"/>\n");
    /* the curve */
    ms_sb_puts(b, "<polyline class=\"curve\" points=\"");
    for (int i = 0; i < s->ngates; i++)
        ms_sb_printf(b, "%s%.1f,%.1f", i ? " " : "", X(s->gates[i].env_steps), Y(s->gates[i].candidate));
    ms_sb_puts(b, "\"/>\n");
    /* rollbacks */
    for (int i = 0; i < s->ngates; i++) {
        const ls_gate *g = &s->gates[i];
        if (strcmp(g->decision, "rolled_back"))
            continue;
        ms_sb_printf(b, "<line class=\"rollback-mark\" data-eval=\"%" PRId64 "\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" "
                        "y2=\"%d\"><title>rollback at evaluation %" PRId64,
                     g->eval_id, X(g->env_steps), T, X(g->env_steps), T + PH, g->eval_id);
        if (g->has_undone)
            ms_sb_printf(b, ": undid updates %" PRId64 "–%" PRId64, g->undone_first, g->undone_last);
        ms_sb_puts(b, "</title></line>\n");
    }
    /* surveillance findings: one mark per evaluation that had any */
    for (int i = 0; i < s->ngates; i++) {
        const ls_gate *g = &s->gates[i];
        int k = 0;
        for (int j = 0; j < s->nsurv; j++)
            if (s->surv[j].eval_id == g->eval_id)
                k++;
        if (!k)
            continue;
        double x = X(g->env_steps);
        ms_sb_printf(b, "<path class=\"surv-mark\" d=\"M%.1f %dl-6 -10h12z\"><title>%d surveillance finding%s at "
                        "evaluation %" PRId64 ":",
                     x, T - 1, k, k == 1 ? "" : "s", g->eval_id);
        for (int j = 0, shown = 0; j < s->nsurv && shown < 6; j++) {
            const ls_surv *v = &s->surv[j];
            if (v->eval_id != g->eval_id)
                continue;
            shown++;
            ms_sb_puts(b, " ");
            esc(b, v->agent);
            ms_sb_puts(b, " ");
            esc(b, v->detector);
            ms_sb_puts(b, " (");
            esc(b, v->severity);
            ms_sb_puts(b, ", ");
            esc(b, v->action);
            ms_sb_puts(b, ");");
        }
        ms_sb_puts(b, "</title></path>\n");
    }
    /* the gate points */
    for (int i = 0; i < s->ngates; i++) {
        const ls_gate *g = &s->gates[i];
        ms_sb_printf(b, "<circle class=\"pt %s\" data-eval=\"%" PRId64 "\" cx=\"%.1f\" cy=\"%.1f\" r=\"5\"><title>"
                        "evaluation %" PRId64 ", update %" PRId64 ", %" PRId64 " env-steps: score %.4f, ",
                     decision_class(g->decision), g->eval_id, X(g->env_steps), Y(g->candidate), g->eval_id,
                     g->update_id, g->env_steps, g->candidate);
        esc(b, g->decision);
        ms_sb_puts(b, "</title></circle>\n");
    }
    if (s->has_eval) {
        /* beside the plot: another stream of episodes than the gates' */
        double x = L + PW + 30, y = Y(s->eval_reward);
        ms_sb_printf(b, "<path class=\"report-pt\" d=\"M%.1f %.1fl7 7l-7 7l-7 -7z\"><title>final report figure %.4f "
                        "(report episodes)</title></path>\n",
                     x, y - 7, s->eval_reward);
        ms_sb_printf(b, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">report</text>"
                        "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.4f</text>\n",
                     x, y - 12, x, y + 22, s->eval_reward);
    }
#undef X
#undef Y
    ms_sb_puts(b, "</svg>\n");

    static const char *const cols[] = {"evaluation", "update", "env-steps", "score", "threshold", "score - best",
                                       "decision", "updates undone"};
    ms_sb_puts(b, "<table id=\"table-gates\">");
    th(b, cols, 8);
    /* A long run: the first and last GATES_SHOWN / 2 rows, and every
     * evaluation that did not promote, between them (the chart has all). */
    int shown = 0;
    for (int i = 0; i < s->ngates; i++) {
        const ls_gate *g = &s->gates[i];
        int edge = i < GATES_SHOWN / 2 || i >= s->ngates - GATES_SHOWN / 2;
        if (!edge && !strcmp(g->decision, "promoted"))
            continue;
        if (i > 0 && shown < i) {
            ms_sb_printf(b, "<tr class=\"gap\"><td colspan=\"8\">… %d promotions …</td></tr>\n", i - shown);
        }
        shown = i + 1;
        gate_row(b, g);
    }
    ms_sb_puts(b, "</tbody></table>\n");
    int promoted = 0, rolled = 0;
    for (int i = 0; i < s->ngates; i++) {
        promoted += !strcmp(s->gates[i].decision, "promoted");
        rolled += !strcmp(s->gates[i].decision, "rolled_back");
    }
    ms_sb_printf(b, "<p id=\"gate-counts\">%d gate evaluations: %d promoted, %d rolled back; %" PRId64
                    " updates.</p>\n",
                 s->ngates, promoted, rolled, s->updates);
    if (s->gates_total > s->ngates)
        ms_sb_printf(b, "<p class=\"note\">The first %d of %" PRId64 " gate evaluations.</p>\n", s->ngates,
                     s->gates_total);
    ms_sb_puts(b, "</section>\n");
}

/* Known values first, in the given order, then the lake's others. */
static void order_names(names *n, const char *const *known, int nknown, const char *(*get)(const void *, int),
                        const void *arr, int cnt)
{
    n->n = 0;
    for (int k = 0; k < nknown; k++)
        for (int i = 0; i < cnt; i++)
            if (!strcmp(get(arr, i), known[k])) {
                names_add(n, known[k]);
                break;
            }
    for (int i = 0; i < cnt; i++)
        names_add(n, get(arr, i));
}

static const char *count_a(const void *arr, int i) { return ((const ls_count *)arr)[i].a; }
static const char *count_b(const void *arr, int i) { return ((const ls_count *)arr)[i].b; }
static const char *credit_cls(const void *arr, int i) { return ((const ls_credit *)arr)[i].cls; }
static const char *credit_agent(const void *arr, int i) { return ((const ls_credit *)arr)[i].agent; }

static const char *const class_order[] = {"benign", "spam", "phishing", "malware"};

static void aggregate_actions_table(ms_strbuf *b, const lake_summary *s)
{
    static const char *const cols[] = {"agent", "class", "samples", "chose action 1", "action 1 effective",
                                       "mean reward", "mean credit"};
    ms_sb_puts(b, "<table id=\"table-aggregates\">");
    th(b, cols, 7);
    for (int i = 0; i < s->nactions; i++) {
        const ls_action *a = &s->actions[i];
        ms_sb_puts(b, "<tr>");
        td_s(b, a->agent);
        td_s(b, a->cls);
        td_i(b, a->samples);
        td_i(b, a->chose_1);
        td_i(b, a->effective_1);
        if (a->samples) {
            td_f(b, a->reward_sum / (double)a->samples, 4);
            td_f(b, a->credit_sum / (double)a->samples, 4);
        } else {
            td_na(b);
            td_na(b);
        }
        ms_sb_puts(b, "</tr>\n");
    }
    ms_sb_puts(b, "</tbody></table>\n");
}

static void section_outcomes(ms_strbuf *b, const lake_summary *s, const lake_verify_report *rep, const ms_config *c,
                             int *nempty)
{
    ms_sb_puts(b, "<section id=\"outcomes\"><h2>Outcomes per message class</h2>\n");
    if (removed(b, nempty, "outcomes", rep, LKT_JOINT_ACTIONS)) {
        ms_sb_puts(b, "</section>\n");
        return;
    }
    if (!s->noutcomes) {
        if (c->level == MS_LEVEL_AGGREGATE) {
            empty(b, nempty, "outcomes", "telemetry.level = aggregate keeps behavioural data only as per-window "
                  "aggregates, so joint_actions (and v_outcomes) is empty. What behaviour_aggregates keeps instead: "
                  "per agent and class, how often action 1 was chosen and effective (GET: fetched, OPEN: previewed, "
                  "BIN: quarantined).");
            if (s->nactions)
                aggregate_actions_table(b, s);
        } else {
            empty(b, nempty, "outcomes", rep->rows[LKT_JOINT_ACTIONS] ? "v_outcomes is empty."
                  : "joint_actions holds no rows: the run recorded no step.");
        }
        ms_sb_puts(b, "</section>\n");
        return;
    }
    sampled_note(b, c);
    names cls, outs;
    order_names(&cls, class_order, 4, count_a, s->outcomes, s->noutcomes);
    order_names(&outs, outcome_names, 4, count_b, s->outcomes, s->noutcomes);
    int64_t *tot = calloc((size_t)cls.n, sizeof *tot);
    if (!tot) {
        b->failed = 1;
        return;
    }
    for (int i = 0; i < s->noutcomes; i++)
        tot[names_find(&cls, s->outcomes[i].a)] += s->outcomes[i].n;
    const int W = 1000, L = 120, BW = 720, RH = 34, T = 40;
    int H = T + cls.n * RH + 12;
    svg_open(b, "chart-outcomes", W, H, "share of each outcome per message class");
    for (int o = 0, x = L; o < outs.n; o++) {
        legend_item(b, x, 18, outcome_class(outs.v[o]), outs.v[o]);
        x += 20 + 8 * (int)strlen(outs.v[o]) + 16;
        if (x > W - 120)
            break;
    }
    for (int k = 0; k < cls.n; k++) {
        int y = T + k * RH;
        ms_sb_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", L - 8, y + 18);
        esc(b, cls.v[k]);
        ms_sb_puts(b, "</text>\n");
        double x = L;
        for (int o = 0; o < outs.n; o++)
            for (int i = 0; i < s->noutcomes; i++) {
                const ls_count *r = &s->outcomes[i];
                if (strcmp(r->a, cls.v[k]) || strcmp(r->b, outs.v[o]))
                    continue;
                double w = tot[k] > 0 ? (double)r->n / (double)tot[k] * BW : 0;
                ms_sb_printf(b, "<rect class=\"bar %s\" data-n=\"%" PRId64 "\" x=\"%.2f\" y=\"%d\" width=\"%.2f\" "
                                "height=\"24\"><title>",
                             outcome_class(r->b), r->n, x, y + 2, w);
                esc(b, r->a);
                ms_sb_puts(b, " ");
                esc(b, r->b);
                ms_sb_printf(b, ": %" PRId64 " (%.1f%%)</title></rect>\n", r->n,
                             tot[k] ? 100.0 * (double)r->n / (double)tot[k] : 0.0);
                if (w >= 40)
                    ms_sb_printf(b, "<text class=\"inbar\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.0f%%</text>\n",
                                 x + w / 2, y + 19, 100.0 * (double)r->n / (double)tot[k]);
                x += w;
            }
        ms_sb_printf(b, "<text x=\"%d\" y=\"%d\">n = %" PRId64 "</text>\n", L + BW + 10, y + 18, tot[k]);
    }
    ms_sb_puts(b, "</svg>\n<table id=\"table-outcomes\"><thead><tr><th>class</th>");
    for (int o = 0; o < outs.n; o++) {
        ms_sb_puts(b, "<th>");
        esc(b, outs.v[o]);
        ms_sb_puts(b, "</th>");
    }
    ms_sb_puts(b, "<th>total</th></tr></thead><tbody>\n");
    for (int k = 0; k < cls.n; k++) {
        ms_sb_puts(b, "<tr>");
        td_s(b, cls.v[k]);
        for (int o = 0; o < outs.n; o++) {
            int64_t n = 0;
            for (int i = 0; i < s->noutcomes; i++)
                if (!strcmp(s->outcomes[i].a, cls.v[k]) && !strcmp(s->outcomes[i].b, outs.v[o]))
                    n += s->outcomes[i].n;
            td_i(b, n);
        }
        td_i(b, tot[k]);
        ms_sb_puts(b, "</tr>\n");
    }
    ms_sb_puts(b, "</tbody></table>\n");
    note(b, "Counts of every recorded step and mailbox (training steps: the policy was sampling, not greedy). "
            "previewed = delivered and previewed; a held broadcast counts as quarantined.");
    ms_sb_puts(b, "</section>\n");
    free(tot);
}

static void section_rules(ms_strbuf *b, const lake_summary *s, const lake_verify_report *rep, const ms_config *c,
                          int *nempty)
{
    ms_sb_puts(b, "<section id=\"rules\"><h2>Safety rule hits</h2>\n");
    if (removed(b, nempty, "rules", rep, LKT_JOINT_ACTIONS)) {
        ms_sb_puts(b, "</section>\n");
        return;
    }
    if (!s->nrules) {
        if (c->level == MS_LEVEL_AGGREGATE)
            empty(b, nempty, "rules", "telemetry.level = aggregate: joint_actions is empty and behaviour_aggregates "
                  "does not count rule hits.");
        else if (!rep->rows[LKT_JOINT_ACTIONS])
            empty(b, nempty, "rules", "joint_actions holds no rows: the run recorded no step.");
        else
            ms_sb_printf(b, "<p class=\"none\">No safety rule fired in the %" PRId64 " recorded joint actions.</p>\n",
                         rep->rows[LKT_JOINT_ACTIONS]);
        ms_sb_puts(b, "</section>\n");
        return;
    }
    sampled_note(b, c);
    int64_t max = 1;
    for (int i = 0; i < s->nrules; i++)
        if (s->rules[i].n > max)
            max = s->rules[i].n;
    const int W = 1000, L = 260, BW = 600, RH = 28, T = 10;
    svg_open(b, "chart-rules", W, T + s->nrules * RH + 10, "how often each safety rule fired");
    for (int i = 0; i < s->nrules; i++) {
        const ls_count *r = &s->rules[i];
        int y = T + i * RH;
        double w = (double)r->n / (double)max * BW;
        ms_sb_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", L - 8, y + 15);
        esc(b, r->a);
        ms_sb_printf(b, "</text><rect class=\"bar r-bar\" data-n=\"%" PRId64 "\" x=\"%d\" y=\"%d\" width=\"%.2f\" "
                        "height=\"20\"><title>",
                     r->n, L, y, w);
        esc(b, r->a);
        ms_sb_printf(b, ": %" PRId64 "</title></rect><text x=\"%.1f\" y=\"%d\">%" PRId64 "</text>\n", r->n,
                     L + w + 6, y + 15, r->n);
    }
    ms_sb_puts(b, "</svg>\n");
    static const char *const cols[] = {"rule", "hits"};
    ms_sb_puts(b, "<table id=\"table-rules\">");
    th(b, cols, 2);
    for (int i = 0; i < s->nrules; i++) {
        ms_sb_puts(b, "<tr>");
        td_s(b, s->rules[i].a);
        td_i(b, s->rules[i].n);
        ms_sb_puts(b, "</tr>\n");
    }
    ms_sb_puts(b, "</tbody></table>\n</section>\n");
}

/* Credit rows from v_credit_by_class, or built from behaviour_aggregates. */
static void section_credit(ms_strbuf *b, const lake_summary *s, const lake_verify_report *rep, const ms_config *c,
                           int *nempty)
{
    ms_sb_puts(b, "<section id=\"credit\"><h2>Credit per agent and message class</h2>\n");
    if (removed(b, nempty, "credit", rep, s->ncredit || c->level != MS_LEVEL_AGGREGATE ? LKT_DI_CREDIT_ASSIGNMENT
                                                                                        : LKT_BEHAVIOUR_AGGREGATES)) {
        ms_sb_puts(b, "</section>\n");
        return;
    }
    const ls_credit *rows = s->credit;
    int n = s->ncredit;
    ls_credit *built = NULL;
    if (!n && s->nactions) {
        built = calloc((size_t)s->nactions, sizeof *built);
        if (!built) {
            b->failed = 1;
            return;
        }
        for (int i = 0; i < s->nactions; i++) {
            const ls_action *a = &s->actions[i];
            memcpy(built[i].agent, a->agent, sizeof built[i].agent);
            memcpy(built[i].cls, a->cls, sizeof built[i].cls);
            built[i].samples = a->samples;
            built[i].has_credit = a->samples > 0;
            built[i].mean_credit = a->samples ? a->credit_sum / (double)a->samples : 0;
            built[i].mean_reward = a->samples ? a->reward_sum / (double)a->samples : 0;
        }
        rows = built;
        n = s->nactions;
        note(b, "From behaviour_aggregates (telemetry.level = aggregate: di_credit_assignment and v_credit_by_class "
                "are empty): credit_sum / samples and reward_sum / samples per agent and class, over every window.");
    } else if (!n) {
        empty(b, nempty, "credit", c->level == MS_LEVEL_AGGREGATE ? "telemetry.level = aggregate and "
              "behaviour_aggregates holds no rows." : rep->rows[LKT_DI_CREDIT_ASSIGNMENT] ? "v_credit_by_class is "
              "empty." : "di_credit_assignment holds no rows: the run recorded no step.");
        ms_sb_puts(b, "</section>\n");
        return;
    } else {
        sampled_note(b, c);
    }
    char t[300];
    snprintf(t, sizeof t, "Credit method: %s (what each agent is trained on); reward is the global reward r. Mean "
             "per sample.", ms_credit_names[c->credit]);
    note(b, t);
    names cls, ags;
    order_names(&cls, class_order, 4, credit_cls, rows, n);
    order_names(&ags, agent_order, 3, credit_agent, rows, n);
    double m = 1e-9;
    for (int i = 0; i < n; i++)
        if (rows[i].has_credit && fabs(rows[i].mean_credit) > m)
            m = fabs(rows[i].mean_credit);
    const int W = 1000, L = 120, HALF = 360, BH = 12, T = 40;
    const int X0 = L + HALF + 20, GH = ags.n * (BH + 3) + 14;
    int H = T + cls.n * GH + 24;
    svg_open(b, "chart-credit", W, H, "mean credit per agent per message class");
    for (int a = 0, x = L; a < ags.n && x < W - 120; a++, x += 90)
        legend_item(b, x, 18, agent_class(ags.v[a]), ags.v[a]);
    ms_sb_printf(b, "<line class=\"zero\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n", X0, T - 4, X0, T + cls.n * GH);
    ms_sb_printf(b, "<text class=\"tick\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">0</text>", X0, T + cls.n * GH + 14);
    ms_sb_printf(b, "<text class=\"tick\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">%.3f</text>", X0 - HALF,
                 T + cls.n * GH + 14, -m);
    ms_sb_printf(b, "<text class=\"tick\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">%.3f</text>\n", X0 + HALF,
                 T + cls.n * GH + 14, m);
    for (int k = 0; k < cls.n; k++) {
        int y0 = T + k * GH;
        ms_sb_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", L - 8, y0 + GH / 2);
        esc(b, cls.v[k]);
        ms_sb_puts(b, "</text>\n");
        for (int a = 0; a < ags.n; a++)
            for (int i = 0; i < n; i++) {
                const ls_credit *r = &rows[i];
                if (strcmp(r->cls, cls.v[k]) || strcmp(r->agent, ags.v[a]) || !r->has_credit)
                    continue;
                double w = fabs(r->mean_credit) / m * HALF, x = r->mean_credit < 0 ? X0 - w : X0;
                int y = y0 + a * (BH + 3);
                ms_sb_printf(b, "<rect class=\"bar %s\" data-credit=\"%.4f\" x=\"%.2f\" y=\"%d\" width=\"%.2f\" "
                                "height=\"%d\"><title>",
                             agent_class(r->agent), r->mean_credit, x, y, w, BH);
                esc(b, r->agent);
                ms_sb_puts(b, " on ");
                esc(b, r->cls);
                ms_sb_printf(b, ": mean credit %.4f over %" PRId64 " samples</title></rect>", r->mean_credit,
                             r->samples);
                ms_sb_printf(b, "<text class=\"small\" x=\"%.1f\" y=\"%d\" text-anchor=\"%s\">%.3f</text>\n",
                             r->mean_credit < 0 ? x - 4 : x + w + 4, y + BH - 2,
                             r->mean_credit < 0 ? "end" : "start", r->mean_credit);
            }
    }
    ms_sb_puts(b, "</svg>\n");
    static const char *const cols[] = {"agent", "class", "samples", "mean credit", "mean reward"};
    ms_sb_puts(b, "<table id=\"table-credit\">");
    th(b, cols, 5);
    for (int i = 0; i < n; i++) {
        ms_sb_puts(b, "<tr>");
        td_s(b, rows[i].agent);
        td_s(b, rows[i].cls);
        td_i(b, rows[i].samples);
        if (rows[i].has_credit)
            td_f(b, rows[i].mean_credit, 4);
        else
            td_na(b);
        td_f(b, rows[i].mean_reward, 4);
        ms_sb_puts(b, "</tr>\n");
    }
    ms_sb_puts(b, "</tbody></table>\n</section>\n");
    free(built);
}

static void ratio_cell(ms_strbuf *b, int64_t a, int64_t d)
{
    if (d)
        td_f(b, (double)a / (double)d, 4);
    else
        td_na(b);
}

static void section_anomalies(ms_strbuf *b, const lake_summary *s, const lake_verify_report *rep,
                              const ms_config *c, int *nempty)
{
    ms_sb_puts(b, "<section id=\"anomalies\"><h2>Anomalies, poisoning and surveillance</h2>\n");
    if (removed(b, nempty, "anomalies", rep, LKT_ANOMALIES)) {
        /* said */
    } else if (!s->nanomalies) {
        ms_sb_puts(b, "<p class=\"none\">No anomaly rows: no broadcast was rejected and the defence flagged no "
                      "sample.</p>\n");
    } else {
        static const char *const cols[] = {"detector", "reason", "rows"};
        ms_sb_puts(b, "<table id=\"table-anomalies\">");
        th(b, cols, 3);
        for (int i = 0; i < s->nanomalies; i++) {
            ms_sb_puts(b, "<tr>");
            td_s(b, s->anomalies[i].a);
            td_s(b, s->anomalies[i].b);
            td_i(b, s->anomalies[i].n);
            ms_sb_puts(b, "</tr>\n");
        }
        ms_sb_puts(b, "</tbody></table>\n");
        note(b, "A broadcast rejected in transit is one row per rejecting agent (3 per broadcast); a sample the "
                "defence excluded from training is one row (agent NULL).");
    }
    const ls_poison *p = &s->poison;
    ms_sb_printf(b, "<h3>Poisoning (defence %s)</h3>\n", c->defence ? "on" : "off");
    if (!removed(b, nempty, "poisoning", rep, LKT_POISON_TRUTH)) {
        static const char *const pc[] = {"threat", "injected (ground truth)", "detected", "of them injected", "precision",
                                         "recall"};
        ms_sb_puts(b, "<table id=\"table-poisoning\">");
        th(b, pc, 6);
        ms_sb_puts(b, "<tr><td>transit (altered after the MAC)</td>");
        td_i(b, p->transit_injected);
        td_i(b, p->transit_detected);
        td_i(b, p->transit_caught);
        ratio_cell(b, p->transit_caught, p->transit_detected);
        ratio_cell(b, p->transit_caught, p->transit_injected);
        ms_sb_puts(b, "</tr>\n<tr><td>source (forged feedback)</td>");
        td_i(b, p->source_injected);
        td_i(b, p->flagged);
        td_i(b, p->flagged_forged);
        ratio_cell(b, p->flagged_forged, p->flagged);
        ratio_cell(b, p->flagged_forged, p->source_injected);
        ms_sb_puts(b, "</tr>\n</tbody></table>\n");
    }
    char t[300];
    snprintf(t, sizeof t, "Backdoor campaign messages (ground truth): %" PRId64 ". The backdoor's success at the "
             "report evaluation is printed by `marlsim run`, not stored in the lake.", p->backdoor_messages);
    note(b, t);

    ms_sb_printf(b, "<h3>Surveillance (%s, action %s)</h3>\n", c->surv_enabled ? "enabled" : "disabled",
                 c->surv_action == MS_SURV_SUSPEND ? "suspend" : "warn");
    if (removed(b, nempty, "surveillance", rep, LKT_SURVEILLANCE_EVENTS)) {
        ms_sb_puts(b, "</section>\n");
        return;
    }
    if (!s->nsurv) {
        ms_sb_puts(b, "<p class=\"none\">No surveillance finding.</p>\n</section>\n");
        return;
    }
    static const char *const sc[] = {"evaluation", "update", "agent", "detector", "severity", "value", "threshold",
                                     "action", "detail"};
    ms_sb_puts(b, "<table id=\"table-surveillance\">");
    th(b, sc, 9);
    for (int i = 0; i < s->nsurv; i++) {
        const ls_surv *v = &s->surv[i];
        ms_sb_puts(b, "<tr>");
        td_i(b, v->eval_id);
        td_i(b, v->update_id);
        td_s(b, v->agent);
        td_s(b, v->detector);
        td_s(b, v->severity);
        if (v->has_value)
            td_f(b, v->value, 4);
        else
            td_na(b);
        if (v->has_threshold)
            td_f(b, v->threshold, 4);
        else
            td_na(b);
        td_s(b, v->action);
        td_s(b, v->detail);
        ms_sb_puts(b, "</tr>\n");
    }
    ms_sb_puts(b, "</tbody></table>\n");
    if (s->surv_total > s->nsurv)
        ms_sb_printf(b, "<p class=\"note\">The first %d of %" PRId64 " findings.</p>\n", s->nsurv, s->surv_total);
    ms_sb_puts(b, "</section>\n");
}

static void section_keys(ms_strbuf *b, const lake_summary *s, const lake_verify_report *rep, int *nempty)
{
    ms_sb_puts(b, "<section id=\"keys\"><h2>Key generations</h2>\n<p>Key ids used: <code id=\"key-ids\">");
    esc(b, s->key_ids);
    ms_sb_printf(b, "</code>%s. The lake holds ids and fingerprints only, never key bytes.</p>\n",
                 s->dev_key ? " — the development key derived from the seed (dev_key = 1)" : "");
    if (removed(b, nempty, "keys", rep, LKT_HMAC_KEYS)) {
        ms_sb_puts(b, "</section>\n");
        return;
    }
    if (!s->nkeys) {
        ms_sb_puts(b, "<p class=\"none\">hmac_keys holds no rows.</p>\n</section>\n");
        return;
    }
    static const char *const cols[] = {"key id", "purpose", "fingerprint", "first_step", "last_step"};
    ms_sb_puts(b, "<table id=\"table-keys\">");
    th(b, cols, 5);
    for (int i = 0; i < s->nkeys; i++) {
        const ls_key *k = &s->keys[i];
        ms_sb_puts(b, "<tr>");
        td_s(b, k->key_id);
        td_s(b, k->purpose);
        td_code(b, k->fingerprint);
        if (k->has_first)
            td_i(b, k->first_step);
        else
            td_na(b);
        if (k->has_last)
            td_i(b, k->last_step);
        else
            td_na(b);
        ms_sb_puts(b, "</tr>\n");
    }
    ms_sb_puts(b, "</tbody></table>\n</section>\n");
}

/* At most this many checkpoint rows are listed (the first and last halves). */
#define CP_SHOWN 40

static void cp_row(ms_strbuf *b, const ls_checkpoint *c)
{
    ms_sb_puts(b, "<tr>");
    td_i(b, c->cp_id);
    td_i(b, c->tree_size);
    td_code(b, c->root);
    td_s(b, c->status[0] ? c->status : "periodic");
    td_code(b, c->signer);
    ms_sb_puts(b, "</tr>\n");
}

static void section_checkpoints(ms_strbuf *b, const lake_summary *s, const lake_verify_report *rep)
{
    ms_sb_puts(b, "<section id=\"checkpoints\"><h2>Signed checkpoints</h2>\n");
    if (!s->ncps) {
        ms_sb_printf(b, "<p class=\"none\">No checkpoint: %s.</p>\n</section>\n",
                     s->dev_key ? "a development-key lake signs nothing"
                                : "the run stopped before its first checkpoint");
        return;
    }
    ms_sb_printf(b, "<p>%" PRId64 " checkpoint%s (signed RFC 6962 tree heads over the ledger entries, C2SP signed "
                    "notes). Signer as the note names it; %s</p>\n",
                 s->cps_total, s->cps_total == 1 ? "" : "s",
                 rep->authenticated ? "every signature was checked against the trusted key."
                                    : "the signatures were not checked against a trusted key.");
    static const char *const cols[] = {"checkpoint", "tree size", "root (base64)", "status", "signer"};
    ms_sb_puts(b, "<table id=\"table-checkpoints\">");
    th(b, cols, 5);
    if (s->ncps <= CP_SHOWN) {
        for (int i = 0; i < s->ncps; i++)
            cp_row(b, &s->cps[i]);
    } else {
        for (int i = 0; i < CP_SHOWN / 2; i++)
            cp_row(b, &s->cps[i]);
        ms_sb_printf(b, "<tr class=\"gap\"><td colspan=\"5\">… %d more …</td></tr>\n", s->ncps - CP_SHOWN);
        for (int i = s->ncps - CP_SHOWN / 2; i < s->ncps; i++)
            cp_row(b, &s->cps[i]);
    }
    ms_sb_puts(b, "</tbody></table>\n</section>\n");
}

static void section_run(ms_strbuf *b, const lake_summary *s, const lake_verify_report *rep, const ms_config *c)
{
    ms_sb_puts(b, "<section id=\"run\"><h2>Run facts</h2>\n<table id=\"table-run\"><tbody>\n");
    char t[200];
    fact(b, "run id", s->run_id);
    fact(b, "name", s->name);
    fact(b, "status", s->status);
    snprintf(t, sizeof t, "%" PRIu64, s->seed);
    fact(b, "seed", t);
    fact(b, "config SHA-256", s->config_sha256);
    snprintf(t, sizeof t, "%" PRId64, s->env_steps);
    fact(b, "env-steps", t);
    if (s->has_eval)
        snprintf(t, sizeof t, "%.4f mean reward per env-step (%d report episodes x %d mailboxes)", s->eval_reward,
                 c->report_episodes, c->envs);
    else
        snprintf(t, sizeof t, "none (the run did not complete: status %s)", s->status);
    fact(b, "final report figure", t);
    snprintf(t, sizeof t, "%" PRId64, s->updates);
    fact(b, "updates", t);
    fact(b, "marlsim version", s->version);
    fact(b, "origin", s->origin);
    fact(b, "head hash", s->head_hash);
    snprintf(t, sizeof t, "%" PRId64, s->ledger_rows);
    fact(b, "ledger entries", t);
    fact(b, "development key", s->dev_key ? "yes" : "no");
    fact(b, "started (wall clock, not hashed)", s->started_at[0] ? s->started_at : "not recorded");
    fact(b, "finished (wall clock, not hashed)", s->finished_at[0] ? s->finished_at : "not recorded");
    int64_t secs;
    if (lake_summary_wall_seconds(s, &secs) && secs > 0)
        snprintf(t, sizeof t, "%" PRId64 " s wall clock, about %.0f env-steps/s (whole seconds; includes set-up "
                 "and evaluations)", secs, (double)s->env_steps / (double)secs);
    else
        snprintf(t, sizeof t, "not recorded (the lake's wall-clock stamps %s)",
                 lake_summary_wall_seconds(s, &secs) ? "are less than a second apart" : "are missing");
    fact(b, "duration", t);
    ms_sb_puts(b, "</tbody></table>\n<h3>Build facts</h3>\n");
    if (s->nbuild) {
        ms_sb_puts(b, "<table id=\"table-build\"><tbody>\n");
        for (int i = 0; i < s->nbuild; i++)
            fact(b, s->build[i].key, s->build[i].value);
        ms_sb_puts(b, "</tbody></table>\n");
    } else {
        ms_sb_puts(b, "<p>Not a JSON object; as stored: <code>");
        esc(b, s->build_raw);
        ms_sb_puts(b, "</code></p>\n");
    }
    ms_sb_puts(b, "<h3>Rows per table</h3>\n");
    static const char *const cols[] = {"table", "telemetry class", "rows", "removed"};
    ms_sb_puts(b, "<table id=\"table-rows\">");
    th(b, cols, 4);
    for (int t2 = 0; t2 < LKT_COUNT; t2++) {
        ms_sb_puts(b, "<tr>");
        td_s(b, lk_tables[t2].name);
        td_s(b, lk_class_names[lk_tables[t2].tclass]);
        td_i(b, rep->rows[t2]);
        td_i(b, rep->purged_rows[t2]);
        ms_sb_puts(b, "</tr>\n");
    }
    ms_sb_puts(b, "</tbody></table>\n</section>\n");
}

static void section_config(ms_strbuf *b, const ms_config *c)
{
    char *text = malloc(MS_CONFIG_TEXT_MAX);
    if (!text) {
        b->failed = 1;
        return;
    }
    ms_config_render(c, text, MS_CONFIG_TEXT_MAX);
    ms_sb_puts(b, "<section id=\"config\"><h2>Configuration</h2>\n<p>The canonical configuration stored in the lake "
                  "(its SHA-256 is the config hash), as parsed by this build.</p>\n<pre>");
    esc(b, text);
    ms_sb_puts(b, "</pre>\n</section>\n");
    free(text);
}

static const char css[] =
    "body{font:14px/1.45 'DejaVu Sans',Arial,sans-serif;color:#1b1f24;background:#fff;margin:0 auto;"
    "max-width:1040px;padding:20px}\n"
    "h1{font-size:22px;margin:0 0 6px}h2{font-size:17px;border-bottom:1px solid #d0d7de;padding-bottom:4px;"
    "margin:28px 0 8px}h3{font-size:15px;margin:18px 0 6px}\n"
    "nav a{margin-right:12px}code,pre{font:12px 'DejaVu Sans Mono',monospace}code{word-break:break-all}\n"
    "pre{background:#f6f8fa;padding:8px;border:1px solid #d0d7de;overflow:auto}\n"
    ".verdict{padding:10px 14px;border-radius:6px;margin:10px 0}.v-ok{background:#dafbe1;border:1px solid #4ac26b}"
    ".v-warn{background:#fff8c5;border:1px solid #d4a72c}#verdict{font-weight:bold}\n"
    ".facts{display:flex;flex-wrap:wrap;gap:6px 22px;margin:8px 0}.facts span{display:block;font-size:11px;"
    "color:#57606a}\n"
    "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #d0d7de;padding:2px 8px;text-align:left;"
    "vertical-align:top}th{background:#f6f8fa}td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
    "tr.d-rolled_back td{background:#ffebe9}tr.gap td{text-align:center;color:#57606a}\n"
    ".empty{background:#f6f8fa;border-left:4px solid #8c959f;padding:6px 10px;color:#424a53}"
    ".note,.none{color:#57606a}\n"
    "svg.chart{display:block;max-width:100%;height:auto;margin:6px 0}svg text{font:12px 'DejaVu Sans',Arial,"
    "sans-serif;fill:#1b1f24}svg text.small,svg text.tick{font-size:11px;fill:#424a53}"
    "svg text.inbar{font-size:11px;fill:#fff}\n"
    ".grid{stroke:#eaeef2}.frame{fill:none;stroke:#8c959f}.zero{stroke:#424a53}\n"
    ".curve{fill:none;stroke:#1f6feb;stroke-width:2.5}.l-curve{fill:#1f6feb}\n"
    ".threshold{fill:none;stroke:#8250df;stroke-width:1.5;stroke-dasharray:5 3}.l-threshold{fill:#8250df}\n"
    ".pt{stroke:#fff;stroke-width:1}.d-promoted{fill:#1a7f37}.d-rolled_back{fill:#cf222e}"
    ".d-baseline{fill:#6e7781}.d-other{fill:#953800}\n"
    ".rollback-mark{stroke:#cf222e;stroke-width:1.5;stroke-dasharray:2 3}.surv-mark{fill:#bf8700}"
    ".report-pt{fill:#bf3989}\n"
    ".o-delivered{fill:#2da44e}.o-previewed{fill:#7ee2a8}.o-quarantined{fill:#cf222e}.o-ignored{fill:#afb8c1}"
    ".o-other{fill:#8250df}.r-bar{fill:#bc4c00}\n"
    ".a-get{fill:#0969da}.a-open{fill:#1a7f37}.a-bin{fill:#cf222e}.a-other{fill:#8250df}\n";

int rp_html_render(const char *lake_label, const lake_summary *s, const lake_verify_report *rep,
                   const ms_config *c, const ms_note_verifier *trusted, ms_strbuf *b, int *empty_sections,
                   ms_err *e)
{
    int nempty = 0;
    ms_sb_puts(b, first_line);
    ms_sb_puts(b, "<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n");
    ms_sb_puts(b, "<meta name=\"generator\" content=\"marlsim " MS_VERSION " report\"/>\n<title>marlsim report: ");
    esc(b, s->name);
    ms_sb_puts(b, " (run ");
    esc(b, s->run_id);
    ms_sb_printf(b, ")</title>\n<style>\n%s</style>\n</head>\n<body>\n<h1>marlsim report: ", css);
    esc(b, s->name);
    ms_sb_puts(b, "</h1>\n");
    section_verification(b, lake_label, s, rep, trusted);
    key_facts(b, s, c);
    ms_sb_puts(b, "<nav><a href=\"#learning\">learning</a><a href=\"#outcomes\">outcomes</a><a href=\"#rules\">rules"
                  "</a><a href=\"#credit\">credit</a><a href=\"#anomalies\">anomalies</a><a href=\"#keys\">keys</a>"
                  "<a href=\"#checkpoints\">checkpoints</a><a href=\"#run\">run</a><a href=\"#config\">config</a>"
                  "</nav>\n");
    section_learning(b, s, rep, c, &nempty);
    section_outcomes(b, s, rep, c, &nempty);
    section_rules(b, s, rep, c, &nempty);
    section_credit(b, s, rep, c, &nempty);
    section_anomalies(b, s, rep, c, &nempty);
    section_keys(b, s, rep, &nempty);
    section_checkpoints(b, s, rep);
    section_run(b, s, rep, c);
    section_config(b, c);
    ms_sb_puts(b, "<p class=\"note\">Written by marlsim " MS_VERSION " report from the lake alone; the lake was "
                  "verified first and read in the same snapshot.</p>\n</body>\n</html>\n");
    if (empty_sections)
        *empty_sections = nempty;
    return ms_sb_check(b, "report", e);
}

/* ---- writing ------------------------------------------------------------ */

/* An existing out_path may be replaced only when it is a marlsim report. */
static int may_replace(const char *path, ms_err *e)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return errno == ENOENT ? MS_OK : ms_fail(e, MS_EIO, "%s: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return ms_fail(e, MS_EINPUT, "%s exists and is not a regular file; choose another --out", path);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return ms_fail(e, MS_EIO, "%s: %s", path, strerror(errno));
    char head[sizeof first_line];
    ssize_t n = read(fd, head, sizeof first_line - 1);
    close(fd);
    if (n != (ssize_t)(sizeof first_line - 1) || memcmp(head, first_line, sizeof first_line - 1))
        return ms_fail(e, MS_EINPUT, "%s exists and is not a marlsim report: not replaced (remove it or choose "
                       "another --out)", path);
    return MS_OK;
}

int rp_report_write(const char *lake, const lake_verify_opts *opts, const char *out_path, rp_report_info *info,
                    lake_verify_report *rep, ms_err *e)
{
    if (info)
        memset(info, 0, sizeof *info);
    int rc = may_replace(out_path, e);
    if (rc)
        return rc;
    rp_run r;
    rc = rp_run_read(&r, lake, opts, e);
    if (rep)
        *rep = r.rep;
    if (rc)
        return rc;
    ms_strbuf b = {0};
    int nempty = 0;
    rc = rp_html_render(lake, &r.s, &r.rep, &r.c, opts ? opts->trusted : NULL, &b, &nempty, e);
    if (!rc)
        rc = ms_write_atomic(out_path, b.p, b.len, 0644, 1, e);
    if (!rc && info) {
        info->bytes = (int64_t)b.len;
        snprintf(info->verdict, sizeof info->verdict, "%s", r.verdict);
        info->empty_sections = nempty;
    }
    ms_sb_free(&b);
    rp_run_release(&r);
    return rc;
}

int rp_report_default_out(const char *lake, char *out, size_t n, ms_err *e)
{
    size_t len = strlen(lake);
    if (len >= 3 && !strcmp(lake + len - 3, ".db"))
        len -= 3;
    if ((size_t)snprintf(out, n, "%.*s.html", (int)len, lake) >= n)
        return ms_fail(e, MS_EINPUT, "%s: path too long for the report's name", lake);
    return MS_OK;
}
