/* marlsim verify: re-derive every hash of a lake and check its signed
 * checkpoints against a trusted key. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "exp/manifest.h"
#include "keys/keyring.h"
#include "ledger/summary.h"
#include "ledger/verify.h"

static const char usage[] =
    "usage: marlsim verify RUN.db [--checkpoint FILE] [--pubkey KEY | --keyring K] [--allow-incomplete] [--json]\n"
    "       marlsim verify RUN.manifest [--pubkey KEY | --keyring K] [--allow-incomplete] [--json]\n"
    "\n"
    "Opens the lake read-only (creating and changing nothing, not even a -shm),\n"
    "treats it as hostile, re-hashes every payload from its stored bytes, checks\n"
    "every link of the hash chain, the head, the row counts and every checkpoint\n"
    "(RFC 6962 root over the ledger at its size). The trusted key is --pubkey\n"
    "(a verifier key NAME+ID+KEY as `marlsim keys pubkey` prints it, or a file\n"
    "holding one), else the signing key of --keyring K, $MARLSIM_KEYRING or your\n"
    "keyring — never a key read from the lake. With it, every checkpoint must be\n"
    "signed by it and the newest must state how the run ended; without any key\n"
    "only the chain is checked and the verdict says UNAUTHENTICATED.\n"
    "--checkpoint FILE checks a checkpoint kept elsewhere (e.g. an earlier\n"
    "RUN.db.checkpoint): the lake must contain that tree (a shorter lake is\n"
    "truncated, another root rewritten).\n"
    "A purged lake (marlsim purge) verifies through its tombstones: every entry\n"
    "whose rows a purge removed is checked through the commitment the chain\n"
    "holds, and the report says what each purge removed; an export (marlsim\n"
    "export) says EXPORT (class C) after its verdict.\n"
    "Verdicts: OK (intact, complete, signed by the trusted key), UNAUTHENTICATED\n"
    "(intact, no trusted key to check it with), INCOMPLETE (intact prefix of a\n"
    "running, interrupted or failed run), UNSIGNED (intact, but the trusted key\n"
    "cannot vouch for it: a development-key lake, or a run killed before its\n"
    "first checkpoint), FOREIGN (signed by another key), TAMPERED.\n"
    "Exit 0 OK or UNAUTHENTICATED (and INCOMPLETE with --allow-incomplete);\n"
    "1 TAMPERED, FOREIGN, UNSIGNED, truncated against the checkpoint, or\n"
    "INCOMPLETE; 2 could not check (missing file, not a marlsim lake,\n"
    "unsupported schema version, a key or checkpoint file that cannot be read,\n"
    "a key generation the keyring lacks).\n"
    "\n"
    "RUN.manifest (a run of several processes, mpirun -np N marlsim run): checks\n"
    "the manifest (its signature by the trusted key, its Merkle root over the\n"
    "shards' ledgers) and every shard RUN.rank-K-of-N.db beside it as above: each\n"
    "must be there (else MISSING), be this run's shard of rank K (else SWAPPED),\n"
    "verify, and hold the ledger size and root the manifest binds (else\n"
    "TAMPERED). The same exit codes.\n";

/* The lake's key generations must be in the keyring (a destroyed one
 * counts: its fingerprint is kept). */
static int check_key_id(void *ctx, const char *key_id, ms_err *e)
{
    ms_key_generation g;
    return ms_keyring_find(ctx, key_id, &g, e);
}

static void print_json(const char *db, const char *verdict, const lake_verify_report *r, const char *msg)
{
    printf("{\"path\":");
    cli_json_string(stdout, db);
    printf(",\"verdict\":\"%s\"", verdict);
    if (msg) {
        printf(",\"error\":");
        cli_json_string(stdout, msg);
        printf(",\"table\":");
        cli_json_string(stdout, r->table);
        printf(",\"seq\":%lld}\n", (long long)r->seq);
        return;
    }
    /* run_id and the class names come from the lake: escaped like any
     * string from a hostile file */
    printf(",\"authenticated\":%s,\"signed_entries\":%lld,\"run_id\":", r->authenticated ? "true" : "false",
           (long long)r->signed_size);
    cli_json_string(stdout, r->run_id);
    printf(",\"status\":\"%s\",\"complete\":%s,\"env_steps\":%lld,"
           "\"entries\":%lld,\"rows\":%lld,\"head_hash\":\"%s\",\"checkpoints\":%lld,\"dev_key\":%s",
           r->status, r->complete ? "true" : "false",
           (long long)r->env_steps, (long long)r->entries, (long long)r->total_rows, r->head,
           (long long)r->checkpoints, r->dev_key ? "true" : "false");
    if (r->shard_of)
        printf(",\"shard_of_ranks\":%d", r->shard_of);
    if (r->checkpoints)
        printf(",\"checkpoint_size\":%lld,\"checkpoint_root\":\"%s\"", (long long)r->cp_size, r->cp_root);
    if (r->ext_size || verdict[0] == 'O')
        printf(",\"external_checkpoint_size\":%lld", (long long)r->ext_size);
    printf(",\"row_counts\":{");
    for (int t = 0; t < LKT_COUNT; t++)
        printf("%s\"%s\":%lld", t ? "," : "", lk_tables[t].name, (long long)r->rows[t]);
    printf("},\"purged_rows\":{");
    for (int t = 0; t < LKT_COUNT; t++)
        printf("%s\"%s\":%lld", t ? "," : "", lk_tables[t].name, (long long)r->purged_rows[t]);
    printf("},\"purged_entries\":%lld,\"purges\":[", (long long)r->purged_entries);
    for (int64_t k = 0; k < r->npurges && k < LAKE_VERIFY_MAX_PURGES; k++)
    {
        printf("%s{\"purge_id\":%lld,\"class\":", k ? "," : "", (long long)r->purges[k].purge_id);
        cli_json_string(stdout, r->purges[k].cls);
        printf(",\"before_step\":%lld,\"entries\":%lld,\"rows\":%lld}", (long long)r->purges[k].before_step,
               (long long)r->purges[k].entries, (long long)r->purges[k].rows);
    }
    printf("],\"exported_class\":");
    if (r->exported_class[0]) {
        cli_json_string(stdout, r->exported_class);
        printf(",\"export_entries\":%lld,\"export_rows\":%lld", (long long)r->export_entries,
               (long long)r->export_rows);
    } else
        printf("null");
    printf("}\n");
}

/* verify RUN.manifest (exp/manifest.h). */
static int verify_manifest(const char *path, const ms_note_verifier *trusted, int allow_incomplete, int json)
{
    manifest_report r;
    ms_err e;
    int rc = manifest_verify(path, trusted, &r, &e);
    const char *verdict = rc == MS_ECHECK ? r.word : rc ? "ERROR" : strcmp(r.status, "completed") ? "INCOMPLETE"
                          : r.authenticated                                                        ? "OK"
                                                                                                   : "UNAUTHENTICATED";
    int code = rc == MS_ECHECK ? EXIT_CHECK : rc ? EXIT_USAGE : !strcmp(verdict, "INCOMPLETE") && !allow_incomplete
                                                                    ? EXIT_CHECK : EXIT_OK;
    if (json) {
        printf("{\"path\":");
        cli_json_string(stdout, path);
        printf(",\"verdict\":\"%s\",\"manifest\":true", verdict);
        if (rc) {
            printf(",\"shard\":%d,\"error\":", r.bad_shard);
            cli_json_string(stdout, e.msg);
        } else {
            printf(",\"run_id\":\"%s\",\"ranks\":%d,\"status\":\"%s\",\"env_steps\":%lld,\"entries\":%lld,"
                   "\"rows\":%lld,\"root\":\"%s\",\"authenticated\":%s", r.run_id, r.ranks, r.status,
                   (long long)r.env_steps, (long long)r.entries, (long long)r.rows, r.root,
                   r.authenticated ? "true" : "false");
        }
        printf("}\n");
        if (rc && rc != MS_ECHECK)
            cli_error("%s", e.msg);
        return code;
    }
    if (rc == MS_ECHECK) {
        printf("%s %s\n%s\n", verdict, path, e.msg);
        return code;
    }
    if (rc) {
        cli_error("%s", e.msg);
        return code;
    }
    printf("%s %s: run %s, %d shards, %lld ledger entries, %lld rows, root %s\n", verdict, path, r.run_id, r.ranks,
           (long long)r.entries, (long long)r.rows, r.root);
    if (r.authenticated)
        printf("signed: the manifest and every shard's checkpoints by the trusted key %s\n", trusted->name);
    else
        printf("UNAUTHENTICATED: no trusted key%s: the shards' chains and the manifest's root agree, but anyone with "
               "the files could have rewritten all of them\n", r.signed_ ? "" : " (and a development-key run signs "
               "nothing)");
    printf("status: %s (%lld env-steps)%s\n", r.status, (long long)r.env_steps,
           strcmp(r.status, "completed") && !allow_incomplete ? "; --allow-incomplete accepts it" : "");
    return code;
}

int cmd_verify(int argc, char **argv)
{
    cli_args a;
    int rc = cli_parse_args(argc, argv, CLI_OPT_CHECKPOINT | CLI_OPT_PUBKEY | CLI_OPT_KEYRING |
                            CLI_OPT_ALLOW_INCOMPLETE | CLI_OPT_JSON, usage, "RUN.db", &a);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    if (a.pubkey && a.keyring)
        return cli_usage(usage, "--pubkey and --keyring both name a trusted key; give one");
    const char *db = a.file;
    ms_note_verifier trusted;
    int have = 0;
    ms_keyring *kr = NULL;
    if ((rc = cli_trusted_key(a.pubkey, a.keyring, &trusted, &have, &kr)))
        return rc;
    char base[MS_PATH_MAX + 64];
    if (manifest_is_manifest(db, base, sizeof base)) {
        ms_keyring_free(kr);
        if (a.checkpoint)
            return cli_usage(usage, "--checkpoint checks one lake: give it with a shard, not a manifest");
        return verify_manifest(db, have ? &trusted : NULL, a.allow_incomplete, a.json);
    }
    lake_verify_opts o = {0};
    o.trusted = have ? &trusted : NULL;
    if (kr && !ms_keyring_is_dev(kr)) {
        o.check_key_id = check_key_id;
        o.check_ctx = kr;
    }
    char *cp = NULL;
    size_t cpn = 0;
    if (a.checkpoint) {
        if (!have) {
            ms_keyring_free(kr);
            cli_error("--checkpoint %s: a checkpoint proves nothing without the key that signed it: give --pubkey "
                      "or --keyring", a.checkpoint);
            return EXIT_USAGE;
        }
        if ((rc = cli_read_file(a.checkpoint, 65536, &cp, &cpn))) {
            ms_keyring_free(kr);
            return rc;
        }
        o.checkpoint = cp;
        o.checkpoint_len = cpn;
    }
    lake_verify_report rep;
    ms_err e;
    rc = lake_verify(db, &o, &rep, &e);
    free(cp);
    ms_keyring_free(kr);
    if (rc == MS_ECHECK) {
        const char *word = rep.foreign ? "FOREIGN" : "TAMPERED";
        if (a.json)
            print_json(db, word, &rep, e.msg);
        else
            printf("%s %s\n%s\n", word, db, e.msg);
        return EXIT_CHECK;
    }
    if (rc) {
        if (a.json)
            print_json(db, "ERROR", &rep, e.msg);
        cli_error("%s", e.msg);
        return EXIT_USAGE;
    }
    /* With a trusted key, a lake it cannot vouch for fails (SPEC §2); an
     * unfinished run is INCOMPLETE whatever --allow-incomplete says (the
     * option only changes the exit code); a running or killed run's
     * verdict covers its signed prefix only. */
    int unsigned_ = have && !rep.signed_size;
    int incomplete = !rep.complete;
    const char *verdict = lake_verdict(&rep, have);
    int exit_code = unsigned_ || (incomplete && !a.allow_incomplete) ? EXIT_CHECK : EXIT_OK;
    if (a.json) {
        print_json(db, verdict, &rep, NULL);
        return exit_code;
    }
    char what[64] = "";
    if (rep.exported_class[0])
        snprintf(what, sizeof what, " EXPORT (class %s)", rep.exported_class);
    printf("%s%s %s: %lld ledger entries, %lld rows, head %s\n", verdict, what, db, (long long)rep.entries,
           (long long)rep.total_rows, rep.head);
    for (int t = 0; t < LKT_COUNT; t++) {
        printf("  %-22s %lld", lk_tables[t].name, (long long)rep.rows[t]);
        if (rep.purged_rows[t])
            printf("  (%lld %s)", (long long)rep.purged_rows[t], rep.exported_class[0] ? "removed" : "purged");
        printf("\n");
    }
    for (int64_t k = 0; k < rep.npurges && k < LAKE_VERIFY_MAX_PURGES; k++)
        printf("purge %lld: class %s, steps before %lld: removed %lld rows of %lld ledger entries\n",
               (long long)rep.purges[k].purge_id, rep.purges[k].cls, (long long)rep.purges[k].before_step,
               (long long)rep.purges[k].rows, (long long)rep.purges[k].entries);
    if (rep.npurges > LAKE_VERIFY_MAX_PURGES)
        printf("... and %lld more purges (SELECT * FROM purges)\n", (long long)(rep.npurges - LAKE_VERIFY_MAX_PURGES));
    if (rep.purged_entries)
        printf("%s entries: %lld, each checked through its tombstone and the commitment the chain holds\n",
               rep.exported_class[0] ? "removed" : "purged", (long long)rep.purged_entries);
    if (rep.exported_class[0])
        printf("EXPORT of class %s: %lld rows of %lld ledger entries of the other classes removed (tombstones of "
               "purge id 0, outside the chain); its chain, tree and checkpoints are the original's\n",
               rep.exported_class, (long long)rep.export_rows, (long long)rep.export_entries);
    if (have && rep.signed_size)
        printf("signed: %lld checkpoint%s by the trusted key %s+%02x%02x%02x%02x; newest: size %lld, root %s%s%s\n",
               (long long)rep.checkpoints, rep.checkpoints == 1 ? "" : "s", trusted.name, trusted.key_id[0],
               trusted.key_id[1], trusted.key_id[2], trusted.key_id[3], (long long)rep.cp_size, rep.cp_root,
               rep.cp_status[0] ? ", status " : "", rep.cp_status);
    if (have && rep.signed_size && !rep.authenticated)
        printf("UNSIGNED TAIL: the trusted key vouches for entries 1 to %lld only; %s: nothing vouches for them\n",
               (long long)rep.signed_size, rep.unsigned_why);
    else if (rep.authenticated)
        ; /* said above */
    else if (unsigned_)
        printf("UNSIGNED: %s: the chain is intact, but the trusted key %s+%02x%02x%02x%02x cannot vouch for it\n",
               rep.unsigned_why, trusted.name, trusted.key_id[0], trusted.key_id[1], trusted.key_id[2],
               trusted.key_id[3]);
    else if (rep.dev_key)
        printf("UNAUTHENTICATED: a development-key lake (nothing signed): the chain is intact, but anyone with the "
               "file could have rewritten and re-chained it\n");
    else
        printf("UNAUTHENTICATED: no trusted key (--pubkey, --keyring, $MARLSIM_KEYRING or your keyring): the chain "
               "and %lld checkpoint%s (signed by %s) agree, but anyone with the file could have rewritten all of them\n",
               (long long)rep.checkpoints, rep.checkpoints == 1 ? "" : "s", rep.signer[0] ? rep.signer : "nobody");
    if (a.checkpoint)
        printf("checkpoint %s: the lake contains its tree (size %lld)\n", a.checkpoint, (long long)rep.ext_size);
    if (rep.complete)
        printf("status: completed (%lld env-steps)\n", (long long)rep.env_steps);
    else
        printf("status: %s — an intact but INCOMPLETE prefix of the run (%lld env-steps recorded)%s\n", rep.status,
               (long long)rep.env_steps, incomplete ? "; --allow-incomplete accepts it" : "");
    if (rep.shard_of)
        printf("SHARD: one process's part of a run of %d processes (its own mailboxes' rows only; the env-steps "
               "above are the whole run's): the run is its manifest, which marlsim verify PATH.manifest checks "
               "with every shard\n", rep.shard_of);
    return exit_code;
}
