/* marlsim release: bundles a run's promoted policy with two approvals by two
 * listed approvers (four-eyes release, SPEC §10; gov/release.h). */
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "cli/cli.h"
#include "gov/release.h"

static const char usage[] =
    "usage: marlsim release RUN.db --approvers FILE --approval A --approval B [--pubkey RUNKEY] [--out FILE] [--json]\n"
    "\n"
    "Checks two approvals (marlsim approve) against the allow-list FILE — one\n"
    "approver a line, NAME VERIFIER-KEY with the full key as `marlsim keys\n"
    "pubkey` prints it, '#' comments — and against the lake, then writes the\n"
    "release: the promoted snapshots (their parameters), their lineage (run id,\n"
    "checkpoint, config, evaluation, the run's signed checkpoint note and config\n"
    "text) and both approvals, in one line-oriented file (format in the man page;\n"
    "`marlsim eval --policy FILE --approvers LIST` plays it). Refuses two\n"
    "approvals by one approver or by one key (two names on one key), an approval\n"
    "by the run's own signing key, an approver not on the list, a signature that\n"
    "does not verify, approvals of another run, checkpoint or snapshot, and a lake\n"
    "that does not verify against the run key the approvals name (--pubkey, when\n"
    "given, must be that key) or is not authenticated by it.\n"
    "--out FILE (default RUN.db.release) is written atomically. --json prints\n"
    "the outcome (released or refused, and what was released) as one JSON object.\n"
    "Exit 0 released; 1 refused; 2 bad usage, a file that cannot be read or\n"
    "written, a malformed allow-list or approval.\n";

int cmd_release(int argc, char **argv)
{
    cli_args a;
    int rc = cli_parse_args(argc, argv, CLI_OPT_APPROVERS | CLI_OPT_APPROVAL | CLI_OPT_PUBKEY | CLI_OPT_OUT | CLI_OPT_JSON, usage,
                            "RUN.db", &a);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    if (!a.approvers)
        return cli_usage(usage, "missing --approvers FILE (the allow-list)");
    if (a.napprovals != 2)
        return cli_usage(usage, "a release takes exactly two --approval files (got %d)", a.napprovals);
    ms_note_verifier trusted;
    int have = 0;
    if (a.pubkey && (rc = cli_trusted_key(a.pubkey, NULL, &trusted, &have, NULL)))
        return rc;
    char out_default[MS_PATH_MAX + 16];
    snprintf(out_default, sizeof out_default, "%s.release", a.file);
    const char *out = a.out ? a.out : out_default;
    gov_approvers *list = malloc(sizeof *list);
    char *text = NULL, *ap[2] = {NULL, NULL}, *rel = NULL;
    size_t tn = 0, an[2] = {0, 0}, rn = 0;
    ms_err e;
    if (!list) {
        cli_error("out of memory");
        return EXIT_USAGE;
    }
    rc = cli_read_file(a.approvers, 1 << 20, &text, &tn);
    if (!rc && gov_approvers_parse(text, tn, a.approvers, list, &e)) {
        cli_error("%s", e.msg);
        rc = EXIT_USAGE;
    }
    for (int k = 0; k < 2 && !rc; k++)
        rc = cli_read_file(a.approvals[k], MS_NOTE_MAX, &ap[k], &an[k]);
    gov_release r;
    memset(&r, 0, sizeof r);
    if (!rc) {
        const char *const aa[2] = {ap[0], ap[1]};
        int s = gov_release_make(a.file, list, aa, an, have ? &trusted : NULL, &rel, &rn, &r, NULL, &e);
        if (s == MS_OK)
            s = ms_write_atomic(out, rel, rn, 0644, 1, &e);
        if (s == MS_ECHECK && a.json)
            cli_refused_json(a.file, e.msg);
        else if (s == MS_ECHECK)
            printf("REFUSED %s\n%s\n", a.file, e.msg);
        else if (s)
            cli_error("%s", e.msg);
        rc = cli_exit_for(s);
    }
    if (!rc && a.json) {
        printf("{\"file\": ");
        cli_json_string(stdout, a.file);
        printf(", \"outcome\": \"released\", \"approvers\": [");
        cli_json_string(stdout, r.approver[0]);
        printf(", ");
        cli_json_string(stdout, r.approver[1]);
        printf("], ");
        cli_statement_json(&r.st);
        printf(", \"release\": ");
        cli_json_string(stdout, out);
        printf("}\n");
    } else if (!rc) {
        printf("released run %s: evaluation %lld, checkpoint %llu (root %s)\n", r.st.run_id, (long long)r.st.eval_id,
               (unsigned long long)r.st.cp_size, r.st.cp_root);
        for (int k = 0; k < MS_NAGENT; k++)
            printf("  snapshot %-4s %s\n", ms_agent_names[k], r.snap[k].sha256);
        printf("approved by %s and %s; run key %s\nrelease: %s\n", r.approver[0], r.approver[1], r.st.run_key, out);
    }
    gov_release_free(&r);
    free(rel);
    free(text);
    free(ap[0]);
    free(ap[1]);
    free(list);
    return rc;
}
