/* marlsim report: one self-contained HTML file about a run (report/html.h). */
#include <string.h>

#include "cli/cli.h"
#include "report/html.h"

static const char usage[] =
    "usage: marlsim report RUN.db [--out FILE.html] [--pubkey KEY | --keyring K] [--json]\n"
    "\n"
    "Writes one self-contained HTML file about the run (inline CSS and SVG: no\n"
    "network, no JavaScript needed): the learning curve with gate decisions and\n"
    "rollbacks, outcomes per message class, safety-rule hits, credit per agent,\n"
    "anomalies, poisoning and surveillance findings, key generations, signed\n"
    "checkpoints, run and build facts, the config. A section the lake cannot\n"
    "fill (e.g. behavioural tables under telemetry.level = aggregate) says so.\n"
    "The lake is verified first, as `marlsim verify` does (trusted key: --pubkey,\n"
    "else --keyring, $MARLSIM_KEYRING or your keyring; without one the report\n"
    "says UNAUTHENTICATED), and read in the same snapshot; every text from it\n"
    "is escaped. Default output: RUN.html beside the lake. An existing FILE is\n"
    "replaced only when it is a marlsim report; the file appears complete or not\n"
    "at all. --json prints the result as one JSON object (a refused lake too:\n"
    "\"report\": null, its verdict and why).\n"
    "Exit 0 written; 1 the lake is TAMPERED or FOREIGN (nothing written); 2 bad\n"
    "usage, not a lake, a config this build cannot read, or an I/O failure.\n";

int cmd_report(int argc, char **argv)
{
    cli_args a;
    int rc = cli_parse_args(argc, argv, CLI_OPT_OUT | CLI_OPT_PUBKEY | CLI_OPT_KEYRING | CLI_OPT_JSON, usage,
                            "RUN.db", &a);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    ms_err e;
    char out[MS_PATH_MAX + 8];
    if (a.out) {
        if (strlen(a.out) > MS_PATH_MAX || !a.out[0])
            return cli_usage(usage, "--out: a path of 1 to %d bytes", MS_PATH_MAX);
        snprintf(out, sizeof out, "%s", a.out);
    } else if (rp_report_default_out(a.file, out, sizeof out, &e)) {
        cli_error("%s", e.msg);
        return EXIT_USAGE;
    }
    ms_note_verifier trusted;
    lake_verify_opts vo;
    if ((rc = cli_lake_trust(&a, usage, &trusted, &vo)))
        return rc;
    rp_report_info info;
    lake_verify_report rep;
    rc = rp_report_write(a.file, &vo, out, &info, &rep, &e);
    if (rc == MS_ECHECK && a.json) {
        printf("{\"report\":null,\"lake\":");
        cli_json_string(stdout, a.file);
        printf(",\"verdict\":\"%s\",\"error\":", rep.foreign ? "FOREIGN" : "TAMPERED");
        cli_json_string(stdout, e.msg);
        printf("}\n");
        return EXIT_CHECK;
    }
    if (rc == MS_ECHECK) {
        printf("%s %s\n%s\nno report was written\n", rep.foreign ? "FOREIGN" : "TAMPERED", a.file, e.msg);
        return EXIT_CHECK;
    }
    if (rc) {
        cli_error("%s; no report was written", e.msg);
        return cli_exit_for(rc);
    }
    if (a.json) {
        printf("{\"report\":");
        cli_json_string(stdout, out);
        printf(",\"lake\":");
        cli_json_string(stdout, a.file);
        printf(",\"bytes\":%lld,\"verdict\":\"%s\",\"sections_not_recorded\":%d}\n", (long long)info.bytes,
               info.verdict, info.empty_sections);
        return EXIT_OK;
    }
    printf("report: %s (%lld bytes; lake %s %s", out, (long long)info.bytes, a.file, info.verdict);
    if (info.empty_sections)
        printf("; %d section%s the lake cannot fill, said in the report", info.empty_sections,
               info.empty_sections == 1 ? "" : "s");
    printf(")\n");
    return EXIT_OK;
}
