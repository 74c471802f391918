/* Tests of report/ and its helpers: the text buffer, the verdict words, the
 * default report name, the ASCII sparkline, and the HTML renderer on a
 * summary full of markup (no lake needed: the renderer must escape whatever
 * a summary holds). The command-line suite tests/report.sh checks real
 * lakes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"
#include "report/compare.h"
#include "report/html.h"
#include "tests/check.h"

static void report_strbuf(void)
{
    ms_strbuf b = {0};
    ms_err e;
    for (int i = 0; i < 1000; i++)
        ms_sb_printf(&b, "%04d,", i);
    ms_sb_puts(&b, "end");
    ms_sb_put(&b, "xyz", 2);
    CHECK(b.len == 5000 + 5 && !strncmp(b.p, "0000,0001,", 10) && !strcmp(b.p + 5000, "endxy"), "%zu", b.len);
    CHECK(strlen(b.p) == b.len, "NUL-terminated");
    CHECK(ms_sb_check(&b, "t", &e) == MS_OK, "no failure");
    b.failed = 1;
    size_t len = b.len;
    ms_sb_puts(&b, "more");
    CHECK(b.len == len && ms_sb_check(&b, "t", &e) == MS_EIO && strstr(e.msg, "out of memory"),
          "a failed buffer stays failed and says so");
    ms_sb_free(&b);
    CHECK(!b.p && !b.len, "freed");
}

static void report_verdicts(void)
{
    lake_verify_report r;
    memset(&r, 0, sizeof r);
    r.complete = 1;
    CHECK(!strcmp(lake_verdict(&r, 0), "UNAUTHENTICATED"), "no key");
    CHECK(!strcmp(lake_verdict(&r, 1), "UNSIGNED"), "a key that vouches for nothing");
    r.authenticated = 1;
    r.signed_size = 10;
    CHECK(!strcmp(lake_verdict(&r, 1), "OK"), "signed by the trusted key");
    r.complete = 0;
    r.authenticated = 0;
    CHECK(!strcmp(lake_verdict(&r, 1), "INCOMPLETE"), "a killed run's signed prefix");
    r.signed_size = 0;
    CHECK(!strcmp(lake_verdict(&r, 1), "UNSIGNED"), "UNSIGNED before INCOMPLETE");
    CHECK(!strcmp(lake_verdict(&r, 0), "INCOMPLETE"), "no key, interrupted");
}

static void report_default_out(void)
{
    char out[64];
    ms_err e;
    CHECK(rp_report_default_out("runs/a-s1.db", out, sizeof out, &e) == MS_OK && !strcmp(out, "runs/a-s1.html"),
          "%s", out);
    CHECK(rp_report_default_out("lake", out, sizeof out, &e) == MS_OK && !strcmp(out, "lake.html"), "%s", out);
    CHECK(rp_report_default_out("x.db.bak", out, sizeof out, &e) == MS_OK && !strcmp(out, "x.db.bak.html"), "%s",
          out);
    char longp[100];
    memset(longp, 'a', sizeof longp - 1);
    longp[sizeof longp - 1] = 0;
    CHECK(rp_report_default_out(longp, out, sizeof out, &e) == MS_EINPUT, "too long");
}

static void report_sparkline(void)
{
    double v[] = {0, 0.5, 1, 2, -1};
    char s[16];
    rp_sparkline(v, 5, 0, 1, s, 10);
    CHECK(!strcmp(s, " +@@ "), "0.5 rounds to level 5 of 0..9; clamped to the ramp's ends: '%s'", s);
    double w[100];
    for (int i = 0; i < 100; i++)
        w[i] = i;
    rp_sparkline(w, 100, 0, 99, s, 10);
    CHECK(strlen(s) == 10 && s[0] == ' ' && s[9] == '@', "100 values in 10 characters: '%s'", s);
    for (int i = 1; i < 10; i++)
        CHECK(strchr(" .:-=+*#%@", s[i]) >= strchr(" .:-=+*#%@", s[i - 1]), "rising: '%s'", s);
    rp_sparkline(w, 3, 5, 5, s, 10);
    CHECK(!strcmp(s, "@@@"), "a flat scale: '%s'", s);
    rp_sparkline(w, 0, 0, 1, s, 10);
    CHECK(!strcmp(s, ""), "no values");
}

/* A summary whose every text is markup. */
static void report_html_escapes(void)
{
    lake_summary s;
    memset(&s, 0, sizeof s);
    const char *evil = "<script>alert(1)</script>\"'&";
    snprintf(s.run_id, sizeof s.run_id, "%s", evil);
    snprintf(s.name, sizeof s.name, "%s", evil);
    snprintf(s.status, sizeof s.status, "%s", evil);
    snprintf(s.key_ids, sizeof s.key_ids, "%s", evil);
    snprintf(s.build_raw, sizeof s.build_raw, "%s", evil);
    ls_gate g[2] = {{.eval_id = 1, .env_steps = 0, .candidate = -0.5}, {.eval_id = 2, .env_steps = 100,
                                                                          .candidate = 0.5, .has_best = 1,
                                                                          .best = -0.5, .tolerance = 0.05}};
    snprintf(g[0].decision, sizeof g[0].decision, "%s", evil);
    snprintf(g[1].decision, sizeof g[1].decision, "rolled_back");
    ls_count oc = {.n = 3}, rule = {.n = 2}, an = {.n = 1};
    snprintf(oc.a, sizeof oc.a, "%s", evil);
    snprintf(oc.b, sizeof oc.b, "%s", evil);
    snprintf(rule.a, sizeof rule.a, "%s", evil);
    snprintf(an.a, sizeof an.a, "%s", evil);
    snprintf(an.b, sizeof an.b, "%s", evil);
    ls_credit cr = {.samples = 4, .mean_credit = -0.25, .mean_reward = 1, .has_credit = 1};
    snprintf(cr.agent, sizeof cr.agent, "%s", evil);
    snprintf(cr.cls, sizeof cr.cls, "%s", evil);
    ls_surv sv = {.eval_id = 2, .update_id = 2};
    snprintf(sv.detail, sizeof sv.detail, "%s", evil);
    snprintf(sv.agent, sizeof sv.agent, "%s", evil);
    ls_key k = {.has_first = 1};
    snprintf(k.purpose, sizeof k.purpose, "%s", evil);
    ls_checkpoint cp = {.cp_id = 1, .tree_size = 5};
    snprintf(cp.signer, sizeof cp.signer, "%s", evil);
    snprintf(cp.root, sizeof cp.root, "%s", evil);
    s.gates = g;
    s.ngates = 2;
    s.outcomes = &oc;
    s.noutcomes = 1;
    s.rules = &rule;
    s.nrules = 1;
    s.anomalies = &an;
    s.nanomalies = 1;
    s.credit = &cr;
    s.ncredit = 1;
    s.surv = &sv;
    s.nsurv = 1;
    s.surv_total = 1;
    s.keys = &k;
    s.nkeys = 1;
    s.cps = &cp;
    s.ncps = 1;
    s.cps_total = 1;
    lake_verify_report rep;
    memset(&rep, 0, sizeof rep);
    rep.complete = 1;
    rep.rows[LKT_JOINT_ACTIONS] = 3;
    ms_config c;
    ms_config_defaults(&c);
    ms_strbuf b = {0};
    ms_err e;
    int nempty = -1;
    CHECK(rp_html_render(evil, &s, &rep, &c, NULL, &b, &nempty, &e) == MS_OK, "%s", e.msg);
    CHECK(b.p && !strstr(b.p, "<script") && !strstr(b.p, "alert(1)</"), "no markup from the summary survives");
    int n = 0;
    for (const char *p = b.p; p && (p = strstr(p, "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;")); p++)
        n++;
    CHECK(n >= 14, "each text shown, escaped (%d times)", n);
    CHECK(nempty == 0 && strstr(b.p, "class=\"rollback-mark\" data-eval=\"2\"") && strstr(b.p, "class=\"pt d-other\""),
          "a rollback mark; an unknown decision gets a fixed class, never its text");
    ms_sb_free(&b);
    /* An empty summary at aggregate level says what it cannot fill. */
    lake_summary z;
    memset(&z, 0, sizeof z);
    memset(&rep, 0, sizeof rep);
    c.level = MS_LEVEL_AGGREGATE;
    CHECK(rp_html_render("x", &z, &rep, &c, NULL, &b, &nempty, &e) == MS_OK, "%s", e.msg);
    CHECK(nempty == 4 && strstr(b.p, "data-section=\"outcomes\"") && strstr(b.p, "data-section=\"rules\"") &&
              strstr(b.p, "data-section=\"credit\"") && strstr(b.p, "data-section=\"learning\"") &&
              !strstr(b.p, "<svg"),
          "learning, outcomes, rules and credit said to be empty (%d), no chart", nempty);
    ms_sb_free(&b);
}

/* A long run's gate table: the first and last 100 rows, every rollback
 * between them, and a gap row for each run of promotions left out. */
static void report_long_gate_table(void)
{
    enum { N = 500 };
    ls_gate *g = calloc(N, sizeof *g);
    CHECK(g != NULL, "calloc");
    if (!g)
        return;
    for (int i = 0; i < N; i++) {
        g[i].eval_id = i + 1;
        g[i].env_steps = 1000 * i;
        g[i].candidate = i == 0 ? -1 : 0.5;
        snprintf(g[i].decision, sizeof g[i].decision, "%s", i == 0 ? "baseline" : i == 250 ? "rolled_back" : "promoted");
    }
    lake_summary s;
    memset(&s, 0, sizeof s);
    s.gates = g;
    s.ngates = N;
    s.gates_total = N;
    lake_verify_report rep;
    memset(&rep, 0, sizeof rep);
    ms_config c;
    ms_config_defaults(&c);
    ms_strbuf b = {0};
    ms_err e;
    CHECK(rp_html_render("x", &s, &rep, &c, NULL, &b, NULL, &e) == MS_OK, "%s", e.msg);
    const char *t = b.p ? strstr(b.p, "<table id=\"table-gates\">") : NULL;
    const char *end = t ? strstr(t, "</table>") : NULL;
    int rows = 0, gaps = 0, points = 0;
    for (const char *p = t; p && p < end && (p = strstr(p, "<tr class=\"d-")); p++)
        rows++;
    for (const char *p = t; p && p < end && (p = strstr(p, "<tr class=\"gap\">")); p++)
        gaps++;
    for (const char *p = b.p; p && (p = strstr(p, "<circle class=\"pt ")); p++)
        points++;
    CHECK(rows == 201 && gaps == 2 && strstr(t, "… 150 promotions …") && strstr(t, "… 149 promotions …"),
          "rows %d, gaps %d", rows, gaps);
    CHECK(points == N, "the chart has every gate (%d)", points);
    ms_sb_free(&b);
    free(g);
}

void suite_report(void)
{
    RUN(report_long_gate_table);
    RUN(report_strbuf);
    RUN(report_verdicts);
    RUN(report_default_out);
    RUN(report_sparkline);
    RUN(report_html_escapes);
}
