/* marlsim card: a model card (Markdown) from a verified lake (gov/card.h). */
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "cli/cli.h"
#include "gov/card.h"

static const char usage[] =
    "usage: marlsim card RUN.db [--out FILE.md] [--pubkey KEY | --keyring K]\n"
    "\n"
    "Verifies the lake (a tampered lake, or one signed by another key, is refused:\n"
    "exit 1, no card) and writes a model card in Markdown from the lake alone:\n"
    "model details with lineage hashes (run id, config hash, ledger head, newest\n"
    "checkpoint, the promoted snapshots' SHA-256s), intended use, factors,\n"
    "metrics per message class and per agent, evaluation and training data,\n"
    "safety-rule hits, poisoning and surveillance results, data lifecycle,\n"
    "caveats. Every figure is followed by (Qn), the query in the card's appendix\n"
    "that gives exactly that text when run in sqlite3 on the lake.\n"
    "The trusted key is --pubkey, else --keyring K, $MARLSIM_KEYRING or your\n"
    "keyring (without one the card says the lake is UNAUTHENTICATED).\n"
    "--out FILE.md is written atomically; without it the card goes to stdout.\n"
    "Exit 0 written; 1 the lake does not verify; 2 not a lake, bad usage, I/O.\n";

int cmd_card(int argc, char **argv)
{
    cli_args a;
    int rc = cli_parse_args(argc, argv, CLI_OPT_OUT | CLI_OPT_PUBKEY | CLI_OPT_KEYRING, usage, "RUN.db", &a);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    ms_note_verifier trusted;
    lake_verify_opts o;
    if ((rc = cli_lake_trust(&a, usage, &trusted, &o)))
        return rc;
    char *md = NULL;
    size_t n = 0;
    ms_err e;
    int s = gov_card(a.file, &o, &md, &n, NULL, &e);
    if (s == MS_OK && a.out)
        s = ms_write_atomic(a.out, md, n, 0644, 1, &e);
    if (s == MS_ECHECK)
        printf("TAMPERED %s\n%s\nno card was written\n", a.file, e.msg);
    else if (s)
        cli_error("%s", e.msg);
    else if (a.out)
        printf("card: %s (%zu bytes)\n", a.out, n);
    else
        fwrite(md, 1, n, stdout);
    free(md);
    return cli_exit_for(s);
}
