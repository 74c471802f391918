/* marlsim prove: RFC 6962 inclusion and consistency proofs over a lake's
 * ledger, and their check. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "ledger/proof.h"

static const char usage[] =
    "usage: marlsim prove RUN.db --entry I [--size N] [--pubkey KEY | --keyring K] [--json]\n"
    "       marlsim prove RUN.db --from N1 --to N2 [--pubkey KEY | --keyring K] [--json]\n"
    "       marlsim prove --check PROOF [--checkpoint FILE (--pubkey KEY | --keyring K)] [--json]\n"
    "\n"
    "Leaves are the ledger's entries (leaf I = ledger seq I+1, from 0 as in RFC\n"
    "6962; leaf hash SHA-256(0x00 || entry hash)). The first form prints the\n"
    "inclusion proof of leaf I in the tree of size N (default: the newest\n"
    "checkpoint's size when it covers I, else the whole ledger); the second the\n"
    "consistency proof between the trees of sizes N1 and N2. Proofs are made\n"
    "from a verified lake (with the trusted key when there is one) and printed\n"
    "as text. --check checks a proof on its own, and with --checkpoint also that\n"
    "it is about that signed checkpoint (signed by the trusted key). --json\n"
    "prints one JSON object: the proof text and whether the lake verified with\n"
    "a trusted key; of --check, valid, the kind, sizes, root and origin.\n"
    "Exit 0 proof printed or valid, 1 the lake does not verify or the proof does\n"
    "not check out, 2 bad usage or input.\n";

static int parse_i64(const char *s, const char *opt, int64_t *out)
{
    char *end;
    long long v = s ? strtoll(s, &end, 10) : -1;
    if (!s || !*s || *end || v < 0) {
        cli_error("%s %s: not a non-negative integer", opt, s ? s : "");
        return EXIT_USAGE;
    }
    *out = v;
    return EXIT_OK;
}

static int check(const cli_args *a)
{
    char *text, *cp = NULL;
    size_t n, cpn = 0;
    int rc = cli_read_file(a->check, 1 << 20, &text, &n);
    if (rc)
        return rc;
    ms_checkpoint cpb;
    ms_err e;
    if (a->checkpoint) {
        ms_note_verifier v;
        int have;
        if ((rc = cli_trusted_key(a->pubkey, a->keyring, &v, &have, NULL)) ||
            (rc = cli_read_file(a->checkpoint, MS_NOTE_MAX, &cp, &cpn))) {
            free(text);
            return rc;
        }
        size_t tl;
        if (!have)
            rc = cli_usage(usage, "--checkpoint needs a trusted key (--pubkey or --keyring)");
        else if ((rc = ms_note_open(cp, cpn, &v, &tl, &e)) || (rc = ms_checkpoint_parse(cp, tl, &cpb, &e))) {
            cli_error("%s: %s", a->checkpoint, e.msg);
            rc = cli_exit_for(rc);
        }
        free(cp);
        if (rc) {
            free(text);
            return rc;
        }
    }
    lake_proof_info info;
    rc = lake_proof_check(text, n, a->checkpoint ? &cpb : NULL, &info, &e);
    free(text);
    if (rc && a->json) {
        printf("{\"proof\": ");
        cli_json_string(stdout, a->check);
        printf(", \"valid\": false, \"why\": ");
        cli_json_string(stdout, e.msg);
        printf("}\n");
        return cli_exit_for(rc);
    }
    if (rc) {
        printf("INVALID %s: %s\n", a->check, e.msg);
        return cli_exit_for(rc);
    }
    if (a->json) {
        printf("{\"proof\": ");
        cli_json_string(stdout, a->check);
        printf(", \"valid\": true, \"kind\": \"%s\", \"size\": %lld, ", info.consistency ? "consistency" : "inclusion",
               (long long)info.size);
        if (info.consistency)
            printf("\"old_size\": %lld", (long long)info.old_size);
        else
            printf("\"leaf\": %lld, \"entry\": %lld", (long long)info.index, (long long)info.index + 1);
        printf(", \"root\": ");
        cli_json_string(stdout, info.root);
        printf(", \"origin\": ");
        cli_json_string(stdout, info.origin);
        if (a->checkpoint)
            printf(", \"checkpoint_size\": %lld}\n", (long long)cpb.size);
        else
            printf(", \"checkpoint_size\": null}\n");
        return EXIT_OK;
    }
    if (info.consistency)
        printf("OK: the tree of size %lld is a prefix of the tree of size %lld (root %s) of %s", (long long)info.old_size,
               (long long)info.size, info.root, info.origin);
    else
        printf("OK: leaf %lld (ledger entry %lld) is in the tree of size %lld (root %s) of %s", (long long)info.index,
               (long long)info.index + 1, (long long)info.size, info.root, info.origin);
    if (a->checkpoint)
        printf("; checked against the signed checkpoint of tree size %lld (the %s tree)\n", (long long)cpb.size,
               (uint64_t)info.size == cpb.size ? "proof's" : "old");
    else
        printf(" (no checkpoint given: nothing says this tree was signed)\n");
    return EXIT_OK;
}

int cmd_prove(int argc, char **argv)
{
    cli_args a;
    int rc = cli_parse(argc, argv, CLI_OPT_ENTRY | CLI_OPT_SIZE | CLI_OPT_FROM | CLI_OPT_TO | CLI_OPT_CHECK |
                       CLI_OPT_CHECKPOINT | CLI_OPT_PUBKEY | CLI_OPT_KEYRING | CLI_OPT_JSON, usage, "RUN.db", 0, 1, &a);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    if (a.pubkey && a.keyring)
        return cli_usage(usage, "--pubkey and --keyring both name a trusted key; give one");
    if (a.check) {
        if (a.file || a.entry || a.size || a.from || a.to)
            return cli_usage(usage, "--check takes a proof file alone (and --checkpoint)");
        return check(&a);
    }
    if (!a.file)
        return cli_usage(usage, "missing RUN.db");
    if (a.checkpoint)
        return cli_usage(usage, "--checkpoint is for --check");
    int inclusion = a.entry != NULL, consistency = a.from || a.to;
    if (inclusion == consistency || (consistency && !(a.from && a.to)) || (a.size && !inclusion))
        return cli_usage(usage, "give --entry I [--size N], or --from N1 --to N2");
    ms_note_verifier v;
    int have;
    if ((rc = cli_trusted_key(a.pubkey, a.keyring, &v, &have, NULL)))
        return rc;
    lake_verify_opts o = {0};
    o.trusted = have ? &v : NULL;
    char *text = NULL;
    ms_err e;
    int64_t x, y = 0;
    if (inclusion) {
        if ((rc = parse_i64(a.entry, "--entry", &x)) || (a.size && (rc = parse_i64(a.size, "--size", &y))))
            return rc;
        if (a.size && y == 0)
            return cli_usage(usage, "--size must be at least 1");
        rc = lake_prove_inclusion(a.file, &o, x, y, &text, &e);
    } else {
        if ((rc = parse_i64(a.from, "--from", &x)) || (rc = parse_i64(a.to, "--to", &y)))
            return rc;
        rc = lake_prove_consistency(a.file, &o, x, y, &text, &e);
    }
    if (rc) {
        if (rc == MS_ECHECK && a.json) {
            printf("{\"file\": ");
            cli_json_string(stdout, a.file);
            printf(", \"verdict\": \"tampered\", \"why\": ");
            cli_json_string(stdout, e.msg);
            printf(", \"proof\": null}\n");
        } else if (rc == MS_ECHECK)
            printf("TAMPERED %s\n%s\n", a.file, e.msg);
        else
            cli_error("%s", e.msg);
        return cli_exit_for(rc);
    }
    if (a.json) {
        printf("{\"file\": ");
        cli_json_string(stdout, a.file);
        printf(", \"verdict\": \"%s\", \"proof\": ", have ? "authenticated" : "unauthenticated");
        cli_json_string(stdout, text);
        printf("}\n");
    } else
        fputs(text, stdout);
    free(text);
    if (!have)
        cli_notice("the lake verified UNAUTHENTICATED (no trusted key): the proof is about its chain as it stands");
    return EXIT_OK;
}
