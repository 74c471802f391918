/* marlsim audit: the compliance checks of SPEC §10 over a lake (gov/audit.h). */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "gov/audit.h"
#include "keys/keyring.h"

static const char usage[] =
    "usage: marlsim audit RUN.db [--pubkey KEY | --keyring K] [--release FILE --approvers FILE] [--json]\n"
    "\n"
    "Runs the compliance checks over a lake and prints each one's result (PASS,\n"
    "FAIL with its severity CRITICAL / HIGH / MEDIUM / LOW / INFO, or NOT\n"
    "APPLICABLE when the data it needs is absent — never counted as passed), a\n"
    "sentence, the evidence (table and row keys, or a query to run in sqlite3)\n"
    "and one outcome: PASSED, PASSED_WITH_WARNINGS (a MEDIUM or LOW finding),\n"
    "FAILED (a HIGH one) or CRITICAL. Checks: chain, signature, checkpoints,\n"
    "dev_key, complete, keys_not_stored, policy_updated, promotions, rollbacks,\n"
    "excluded_samples, retention, surveillance, build_facts, safeguards,\n"
    "encryption, release (each is described in the man page and gov/audit.h).\n"
    "The expected signer is --pubkey (a verifier key as `marlsim keys pubkey`\n"
    "prints it, or a file holding one), else the signing key of --keyring K,\n"
    "$MARLSIM_KEYRING or your keyring — never a key read from the lake; with a\n"
    "keyring the lake file is also searched for its HMAC and commitment keys.\n"
    "--release FILE --approvers FILE also checks a release's approvals (see\n"
    "marlsim release). Audit only reads: nothing is created or changed.\n"
    "--json prints one JSON object on stdout.\n"
    "Exit 0 PASSED or PASSED_WITH_WARNINGS; 1 FAILED or CRITICAL; 2 not a lake\n"
    "(missing, not a marlsim lake, unsupported schema version), bad usage, a\n"
    "key, release or allow-list file that cannot be read.\n";

static void print_json(const char *db, const gov_audit_report *r)
{
    printf("{\"path\":");
    cli_json_string(stdout, db);
    printf(",\"run_id\":");
    cli_json_string(stdout, r->verify.run_id);
    printf(",\"outcome\":\"%s\",\"findings\":{", gov_outcome_names[r->outcome]);
    for (int s = 0; s < GOV_NSEVERITY; s++)
        printf("%s\"%s\":%d", s ? "," : "", gov_severity_names[s], r->findings[s]);
    printf("},\"checks\":[");
    for (int k = 0; k < GOV_NCHECKS; k++) {
        const gov_check *c = &r->checks[k];
        printf("%s{\"id\":\"%s\",\"result\":\"%s\",\"severity\":\"%s\",\"sentence\":", k ? "," : "", c->id,
               gov_result_names[c->result], gov_severity_names[c->severity]);
        cli_json_string(stdout, c->sentence);
        printf(",\"evidence\":");
        cli_json_string(stdout, c->evidence);
        printf("}");
    }
    printf("]}\n");
}

static void print_text(const char *db, const gov_audit_report *r)
{
    printf("audit %s (run %s)\n", db, r->verify.run_id[0] ? r->verify.run_id : "?");
    for (int k = 0; k < GOV_NCHECKS; k++) {
        const gov_check *c = &r->checks[k];
        char tag[32];
        if (c->result == GOV_FAIL)
            snprintf(tag, sizeof tag, "FAIL %s", gov_severity_names[c->severity]);
        else
            snprintf(tag, sizeof tag, "%s", c->result == GOV_PASS ? "PASS" : "NOT APPLICABLE");
        printf("%-15s %-17s %s\n", tag, c->id, c->sentence);
        if (c->result != GOV_PASS && c->evidence[0])
            printf("%-15s %-17s evidence: %s\n", "", "", c->evidence);
    }
    printf("findings: %d critical, %d high, %d medium, %d low, %d info\n", r->findings[GOV_CRITICAL],
           r->findings[GOV_HIGH], r->findings[GOV_MEDIUM], r->findings[GOV_LOW], r->findings[GOV_INFO]);
    printf("outcome: %s\n", gov_outcome_names[r->outcome]);
}

int cmd_audit(int argc, char **argv)
{
    cli_args a;
    int rc = cli_parse_args(argc, argv, CLI_OPT_PUBKEY | CLI_OPT_KEYRING | CLI_OPT_RELEASE | CLI_OPT_APPROVERS |
                            CLI_OPT_JSON, usage, "RUN.db", &a);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    if (a.pubkey && a.keyring)
        return cli_usage(usage, "--pubkey and --keyring both name a trusted key; give one");
    if (!a.release != !a.approvers)
        return cli_usage(usage, "--release and --approvers go together");
    ms_note_verifier trusted;
    int have = 0;
    ms_keyring *kr = NULL;
    if ((rc = cli_trusted_key(a.pubkey, a.keyring, &trusted, &have, &kr)))
        return rc;
    gov_audit_opts o;
    memset(&o, 0, sizeof o);
    o.trusted = have ? &trusted : NULL;
    o.keyring = kr;
    char *rel = NULL, *list = NULL;
    size_t rn = 0, ln = 0;
    gov_approvers *approvers = NULL;
    ms_err e;
    if (a.release) {
        approvers = malloc(sizeof *approvers);
        if (!approvers) {
            cli_error("out of memory");
            rc = EXIT_USAGE;
        }
        if (!rc)
            rc = cli_read_file(a.approvers, 1 << 20, &list, &ln);
        if (!rc && gov_approvers_parse(list, ln, a.approvers, approvers, &e)) {
            cli_error("%s", e.msg);
            rc = EXIT_USAGE;
        }
        if (!rc)
            rc = cli_read_file(a.release, GOV_RELEASE_MAX, &rel, &rn);
        o.release = rel;
        o.release_len = rn;
        o.approvers = approvers;
    }
    gov_audit_report *r = rc ? NULL : malloc(sizeof *r);
    if (!rc && !r) {
        cli_error("out of memory");
        rc = EXIT_USAGE;
    }
    if (!rc) {
        int st = gov_audit(a.file, &o, r, &e);
        if (st) {
            cli_error("%s", e.msg);
            rc = EXIT_USAGE;
        } else {
            if (a.json)
                print_json(a.file, r);
            else
                print_text(a.file, r);
            rc = r->outcome <= GOV_PASSED_WITH_WARNINGS ? EXIT_OK : EXIT_CHECK;
        }
    }
    free(r);
    free(rel);
    free(list);
    free(approvers);
    ms_keyring_free(kr);
    return rc;
}
