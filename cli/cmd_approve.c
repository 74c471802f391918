/* marlsim approve: one approver's signed statement that a run's promoted
 * policy may be released (four-eyes release, SPEC §10; gov/release.h). */
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "cli/cli.h"
#include "gov/release.h"
#include "keys/keyring.h"

static const char usage[] =
    "usage: marlsim approve RUN.db --as NAME --keyring K [--pubkey RUNKEY] [--out FILE [--json]]\n"
    "\n"
    "Signs, with the signing key of the approver's own keyring K (Ed25519, a C2SP\n"
    "signed note), a statement that approver NAME approves the last promoted\n"
    "policy of the lake: its run id, the newest signed checkpoint (tree size and\n"
    "root: a later purge moves the head, not this checkpoint), the config hash,\n"
    "the promoting evaluation, each agent's snapshot SHA-256 and the run's key.\n"
    "The lake must verify against the run's key and be authenticated by it (a\n"
    "completed run with signed checkpoints): RUNKEY is --pubkey (a verifier key\n"
    "as `marlsim keys pubkey` prints it, or a file holding one), else the\n"
    "signing key of $MARLSIM_KEYRING or your keyring — never a key read from the\n"
    "lake. An approver whose key is the run's own key is refused. NAME is the\n"
    "name the approvers' allow-list gives the approver (see marlsim release).\n"
    "Writes the approval to --out FILE (atomically), else to stdout. With\n"
    "--out, --json prints what was approved as one JSON object.\n"
    "Exit 0 approved; 1 the lake does not verify or is not authenticated, or the\n"
    "approver holds the run's key; 2 bad usage, a keyring without a signing\n"
    "key, a file that cannot be read or written.\n";

int cmd_approve(int argc, char **argv)
{
    cli_args a;
    int rc = cli_parse_args(argc, argv, CLI_OPT_AS | CLI_OPT_KEYRING | CLI_OPT_PUBKEY | CLI_OPT_OUT | CLI_OPT_JSON, usage, "RUN.db",
                            &a);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    if (!a.as)
        return cli_usage(usage, "missing --as NAME (the approver's name on the allow-list)");
    if (a.json && !a.out)
        return cli_usage(usage, "--json needs --out FILE (without it the approval itself goes to stdout)");
    if (!a.keyring)
        return cli_usage(usage, "missing --keyring K (the approver's own keyring)");
    ms_note_verifier run_key;
    int have = 0;
    if ((rc = cli_trusted_key(a.pubkey, NULL, &run_key, &have, NULL)))
        return rc;
    if (!have)
        return cli_usage(usage, "no run key: give --pubkey RUNKEY (the verifier key of the key that signed the run)");
    ms_keyring *kr;
    if ((rc = cli_keyring(a.keyring, NULL, 0, CLI_KR_EXISTING, &kr)))
        return rc;
    ms_err e;
    char *note = NULL;
    size_t n = 0;
    gov_statement st;
    int s = gov_approve(a.file, &run_key, a.as, kr, &note, &n, &st, NULL, &e);
    ms_keyring_free(kr);
    if (s) {
        if (s == MS_ECHECK && a.json)
            cli_refused_json(a.file, e.msg);
        else if (s == MS_ECHECK)
            printf("REFUSED %s\n%s\n", a.file, e.msg);
        else
            cli_error("%s", e.msg);
        return cli_exit_for(s);
    }
    if (a.out) {
        s = ms_write_atomic(a.out, note, n, 0644, 1, &e);
        if (s) {
            free(note);
            cli_error("%s", e.msg);
            return EXIT_USAGE;
        }
        if (a.json) {
            printf("{\"file\": ");
            cli_json_string(stdout, a.file);
            printf(", \"outcome\": \"approved\", \"approver\": ");
            cli_json_string(stdout, st.approver);
            printf(", ");
            cli_statement_json(&st);
            printf(", \"approval\": ");
            cli_json_string(stdout, a.out);
            printf("}\n");
            free(note);
            return EXIT_OK;
        }
        printf("approved by %s: run %s, checkpoint %llu (root %s), evaluation %lld\n", st.approver, st.run_id,
               (unsigned long long)st.cp_size, st.cp_root, (long long)st.eval_id);
        for (int k = 0; k < MS_NAGENT; k++)
            printf("  snapshot %-4s %s\n", ms_agent_names[k], st.snapshot[k]);
        printf("approval: %s\n", a.out);
    } else {
        fwrite(note, 1, n, stdout);
    }
    free(note);
    return EXIT_OK;
}
