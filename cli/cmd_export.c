/* marlsim export: a new lake holding one class's payloads and the
 * commitments of the rest, which verifies on its own (ledger/lifecycle.h). */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "keys/keyring.h"
#include "ledger/lifecycle.h"

static const char usage[] =
    "usage: marlsim export RUN.db --class CLASS --out PATH.db [--force] [--pubkey KEY | --keyring K] [--json]\n"
    "\n"
    "Writes PATH.db: a copy of RUN.db holding the payloads of one telemetry\n"
    "class (behavioural, security or operational) and, for every ledger entry\n"
    "of the other classes, only a tombstone with its commitment — separation\n"
    "of duties: an analyst gets behavioural data, an auditor security data.\n"
    "Its ledger, tree and signed checkpoints are RUN.db's, so `marlsim verify\n"
    "PATH.db` checks it on its own (verdict OK EXPORT (class CLASS)), and\n"
    "`verify --checkpoint RUN.db.checkpoint` against the original's checkpoint.\n"
    "An export signs nothing and holds no key material; its runs row says\n"
    "exported_class. RUN.db is verified first (with --pubkey, --keyring K,\n"
    "$MARLSIM_KEYRING or your keyring when there is one) and left unchanged;\n"
    "PATH.db is built beside its path, verified, and moved into place (an\n"
    "existing one only with --force).\n"
    "Exit 0 written; 1 RUN.db does not verify (TAMPERED, FOREIGN, UNSIGNED);\n"
    "2 bad usage, an export as source, an existing PATH.db, I/O.\n";

static void print_json(const char *db, const char *out, int cls, const lake_export_report *r)
{
    printf("{\"path\":");
    cli_json_string(stdout, db);
    printf(",\"out\":");
    cli_json_string(stdout, out);
    printf(",\"class\":\"%s\",\"removed_entries\":%lld,\"removed_rows\":%lld,\"bytes\":%lld,\"verdict\":\"%s\","
           "\"authenticated\":%s,\"row_counts\":{",
           lk_class_names[cls], (long long)r->entries, (long long)r->rows, (long long)r->bytes,
           r->out.authenticated ? "OK" : r->out.dev_key ? "UNSIGNED" : "UNAUTHENTICATED",
           r->out.authenticated ? "true" : "false");
    for (int t = 0; t < LKT_COUNT; t++)
        printf("%s\"%s\":%lld", t ? "," : "", lk_tables[t].name, (long long)r->out.rows[t]);
    printf("}}\n");
}

int cmd_export(int argc, char **argv)
{
    cli_args a;
    int rc = cli_parse_args(argc, argv, CLI_OPT_CLASS | CLI_OPT_OUT | CLI_OPT_FORCE | CLI_OPT_PUBKEY | CLI_OPT_KEYRING |
                            CLI_OPT_JSON, usage, "RUN.db", &a);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    if (!a.cls || !a.out)
        return cli_usage(usage, "export needs --class CLASS and --out PATH.db");
    int cls = lk_class_find(a.cls, strlen(a.cls));
    if (cls < 0)
        return cli_usage(usage, "--class %s: unknown class (allowed: behavioural, security, operational)", a.cls);
    ms_note_verifier trusted;
    lake_verify_opts vo;
    if ((rc = cli_lake_trust(&a, usage, &trusted, &vo)))
        return rc;
    lake_export_report r;
    ms_err e;
    rc = lake_export(a.file, a.out, cls, vo.trusted, a.force, &r, &e);
    if (rc == MS_ECHECK) {
        const char *word = r.source.foreign ? "FOREIGN" : r.unsigned_ ? "UNSIGNED" : "TAMPERED";
        if (a.json) {
            printf("{\"path\":");
            cli_json_string(stdout, a.file);
            printf(",\"verdict\":\"%s\",\"error\":", word);
            cli_json_string(stdout, e.msg);
            printf("}\n");
        } else {
            printf("%s %s\n%s\nnothing was exported\n", word, a.file, e.msg);
        }
        return EXIT_CHECK;
    }
    if (rc) {
        cli_error("%s", e.msg);
        return EXIT_USAGE;
    }
    if (a.json) {
        print_json(a.file, a.out, cls, &r);
        return EXIT_OK;
    }
    printf("exported %s to %s: class %s (%.1f MB)\n", a.file, a.out, lk_class_names[cls], (double)r.bytes / 1e6);
    printf("kept: the %s payloads", lk_class_names[cls]);
    for (int t = 0; t < LKT_COUNT; t++)
        if (lk_tables[t].tclass == (int)cls && lk_table_purgeable(t))
            printf(", %s %lld rows", lk_tables[t].name, (long long)r.out.rows[t]);
    printf("\nremoved: %lld ledger entries, %lld rows of the other classes (a tombstone with its commitment each)\n",
           (long long)r.entries, (long long)r.rows);
    for (int t = 0; t < LKT_COUNT; t++)
        if (r.t_entries[t])
            printf("  %-22s %8lld entries %10lld rows\n", lk_tables[t].name, (long long)r.t_entries[t],
                   (long long)r.t_rows[t]);
    if (r.out.authenticated)
        printf("verified: %s is intact and its %lld checkpoints are signed by the trusted key %s (the original's)\n",
               a.out, (long long)r.out.checkpoints, trusted.name);
    else if (r.out.dev_key)
        printf("verified: %s is intact (a development-key lake: nothing is signed)\n", a.out);
    else
        printf("verified: %s is intact (UNAUTHENTICATED: no trusted key to check its checkpoints with)\n", a.out);
    printf("check it anywhere: marlsim verify %s [--checkpoint %s.checkpoint]\n", a.out, a.file);
    return EXIT_OK;
}
