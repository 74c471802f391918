/* html.h — `marlsim report`: one self-contained HTML file about a run.
 *
 * The file is read without a network or JavaScript: inline CSS, inline SVG
 * charts, no script, no external reference (no URL, font or image). It is
 * built only from a verified lake (ledger/summary.h) and the lake's stored
 * config parsed by ms_config_load_stored; every text taken from the lake is
 * HTML-escaped (& < > " '), so a hostile lake cannot inject markup.
 *
 * Sections, each with an id: #verification (the verdict: OK, UNAUTHENTICATED,
 * UNSIGNED or INCOMPLETE, with what it means), #learning (svg
 * #chart-learning: one <circle data-eval="N"> per gate evaluation, one
 * .rollback-mark per rollback, the promotion threshold, surveillance
 * findings, the final report figure; table #table-gates), #outcomes (svg
 * #chart-outcomes: one rect.bar per v_outcomes row; table #table-outcomes),
 * #rules (svg #chart-rules: one rect.bar per v_rule_hits row; table
 * #table-rules), #credit (svg #chart-credit: one rect.bar per agent and
 * class with a mean credit; table #table-credit, from v_credit_by_class or,
 * under aggregate telemetry, from behaviour_aggregates), #anomalies (tables
 * #table-anomalies, #table-poisoning, #table-surveillance), #keys
 * (#table-keys), #checkpoints (#table-checkpoints), #run (#table-run,
 * #table-build, #table-rows), #config (the canonical config as parsed).
 * A section the lake cannot fill says so in a <p class="empty"
 * data-section="ID"> naming why (the telemetry level, a purge or an export
 * that removed every row it reads, or no rows); where a purge removed some
 * of them, a note says how many and that the figures cover the rest. The
 * banner names an export (#export: EXPORT (class C)), the purges, and a
 * killed run's unsigned tail.
 *
 * rp_html_render: the document into out (appended). MS_OK, or MS_EIO out of
 * memory. Never fails on content: what cannot be shown is said.
 *
 * rp_report_write(lake, opts, out_path, info, rep, e): verifies and reads
 * the lake and parses its config (report/run.h rp_run_read with opts;
 * opts->trusted is the key the verdict names), renders, and writes out_path with
 * ms_write_atomic (mode 0644 less the umask): a reader sees no file or the
 * whole report, never a part. It refuses, writing nothing:
 *   - every rp_run_read failure (MS_ECHECK a tampered or foreign lake, rep
 *     filled; MS_EINPUT not a lake; a stored config this build cannot parse;
 *     MS_ECHECK a config that sets a key a lake never holds; MS_EIO);
 *   - out_path naming an existing file that is not a marlsim report (not a
 *     regular file, or not starting with this module's first line): MS_EINPUT
 *     — so neither the lake nor any other file is overwritten;
 *   - a write failure: MS_EIO (ms_write_atomic; nothing left behind).
 * On MS_OK info (may be NULL) holds the bytes written and the verdict.
 *
 * rp_report_default_out: RUN.html beside the lake (a trailing ".db"
 * replaced, else ".html" appended). MS_EINPUT when it does not fit in n.
 */
#ifndef MS_REPORT_HTML_H
#define MS_REPORT_HTML_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/strbuf.h"
#include "ledger/summary.h"
#include "sim/config.h"

typedef struct rp_report_info {
    int64_t bytes;
    char verdict[16];
    int empty_sections; /* sections that said they could not be filled */
} rp_report_info;

/* lake_label names the lake in the document (the caller's path, escaped
 * like everything else); trusted is the key the lake was checked with
 * (NULL: none). */
int rp_html_render(const char *lake_label, const lake_summary *s, const lake_verify_report *rep,
                   const ms_config *c, const ms_note_verifier *trusted, ms_strbuf *out, int *empty_sections,
                   ms_err *e);

int rp_report_write(const char *lake, const lake_verify_opts *opts, const char *out_path, rp_report_info *info,
                    lake_verify_report *rep, ms_err *e);

int rp_report_default_out(const char *lake, char *out, size_t n, ms_err *e);

#endif
