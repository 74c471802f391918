/* marlsim purge: remove a class's payloads from a finished lake, leaving
 * tombstones, chained and signed (ledger/lifecycle.h). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "keys/keyring.h"
#include "ledger/lifecycle.h"

static const char usage[] =
    "usage: marlsim purge RUN.db (--policy-from CONFIG.ini | --class CLASS --before-step N) [--keyring K] [--json]\n"
    "\n"
    "Removes payloads from a finished lake (completed, interrupted or failed):\n"
    "every ledger entry of class CLASS (behavioural, security or operational)\n"
    "whose step is below N loses its rows and salt; each leaves a tombstone\n"
    "(table, rowids, the commitment the chain still checks, purge id), and the\n"
    "purge itself is appended as two chained entries (tombstones, purges) and\n"
    "a new signed checkpoint stating the run's status (PATH.checkpoint too).\n"
    "--policy-from CONFIG.ini applies its [telemetry] retention_behavioural,\n"
    "retention_security and retention_operational: keep, or the number of the\n"
    "run's last simulation steps to keep (0: remove all of that class).\n"
    "tombstones and purges themselves are never purged.\n"
    "First the lake is verified with the signing key of --keyring K,\n"
    "$MARLSIM_KEYRING or your keyring, which must be the key that signed it\n"
    "(the purge re-signs); a development-key lake is purged with the key\n"
    "derived from its seed and stays unsigned. A purge is one transaction:\n"
    "killed at any moment it leaves the old lake or the purged one. The\n"
    "purged bytes then leave the file (secure_delete; emptied pages are freed)\n"
    "and its WAL (a truncating checkpoint); while another process reads the\n"
    "lake the WAL cannot be truncated: purge says NOT YET SCRUBBED and exits 1,\n"
    "and the next purge (even one with nothing new to remove) finishes the job.\n"
    "Exit 0 purged (or nothing to purge) and scrubbed; 1 the lake does not\n"
    "verify (TAMPERED, FOREIGN, UNSIGNED), or not yet scrubbed; 2 bad usage,\n"
    "a running lake, an export, a keyring without the signing key, I/O.\n";

static int sign_with_keyring(void *ctx, const void *msg, size_t n, unsigned char sig[64], ms_err *e)
{
    return ms_keyring_sign(ctx, msg, n, sig, e);
}

/* N of --before-step: a decimal integer >= 0. */
static int parse_step(const char *s, int64_t *out)
{
    if (!s || !*s || strlen(s) > 18)
        return -1;
    int64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
    }
    *out = v;
    return 0;
}

static void mb(char *out, size_t n, int64_t bytes)
{
    snprintf(out, n, "%.1f MB", (double)bytes / 1e6);
}

static void print_json(const char *db, const lake_purge_report *r)
{
    printf("{\"path\":");
    cli_json_string(stdout, db);
    printf(",\"purges\":[");
    int first = 1;
    for (int c = 0; c < 3; c++)
        if (r->purge_id[c]) {
            printf("%s{\"purge_id\":%lld,\"class\":\"%s\",\"entries\":%lld,\"rows\":%lld}", first ? "" : ",",
                   (long long)r->purge_id[c], lk_class_names[c], (long long)r->entries[c], (long long)r->rows[c]);
            first = 0;
        }
    printf("],\"tables\":{");
    first = 1;
    for (int t = 0; t < LKT_COUNT; t++)
        if (r->t_entries[t]) {
            printf("%s\"%s\":{\"entries\":%lld,\"rows\":%lld}", first ? "" : ",", lk_tables[t].name,
                   (long long)r->t_entries[t], (long long)r->t_rows[t]);
            first = 0;
        }
    printf("},\"entries\":%lld,\"rows\":%lld,\"ledger_entries\":[%lld,%lld],\"checkpoint_size\":%lld,"
           "\"checkpoint_root\":\"%s\",\"head_hash\":\"%s\",\"bytes_before\":%lld,\"bytes_after\":%lld,"
           "\"scrubbed\":%s}\n",
           (long long)r->entries_total, (long long)r->rows_total, (long long)r->first_seq, (long long)r->last_seq,
           (long long)r->cp_size, r->cp_root, r->head, (long long)r->bytes_before, (long long)r->bytes_after,
           r->scrubbed ? "true" : "false");
}

int cmd_purge(int argc, char **argv)
{
    cli_args a;
    int rc = cli_parse_args(argc, argv, CLI_OPT_POLICY_FROM | CLI_OPT_CLASS | CLI_OPT_BEFORE_STEP | CLI_OPT_KEYRING |
                            CLI_OPT_JSON, usage, "RUN.db", &a);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    if (a.policy_from ? (a.cls || a.before_step) : (!a.cls || !a.before_step))
        return cli_usage(usage, "give --policy-from CONFIG.ini, or --class CLASS and --before-step N");
    const char *db = a.file;
    lake_purge_opts o = {.before = {-1, -1, -1}};
    char policy[3][MS_PATH_MAX + 200];
    if (a.cls) {
        int cls = lk_class_find(a.cls, strlen(a.cls));
        int64_t n;
        if (cls < 0)
            return cli_usage(usage, "--class %s: unknown class (allowed: behavioural, security, operational)", a.cls);
        if (parse_step(a.before_step, &n))
            return cli_usage(usage, "--before-step %s: not an integer in [0, 999999999999999999]", a.before_step);
        o.before[cls] = n;
        snprintf(policy[cls], sizeof policy[cls], "--class %s --before-step %lld", lk_class_names[cls], (long long)n);
        o.policy[cls] = policy[cls];
    }

    /* The lake's identity decides the key; its config, how many steps the run took. */
    ms_err e;
    lake_run_meta m;
    if ((rc = lake_read_run(db, &m, &e))) {
        if (rc == MS_ECHECK)
            printf("TAMPERED %s\n%s\n", db, e.msg);
        else
            cli_error("%s", e.msg);
        return cli_exit_for(rc);
    }
    if (a.policy_from) {
        ms_config pol, run;
        if ((rc = cli_load_config(&pol, a.policy_from, NULL, 0, NULL))) {
            lake_run_meta_release(&m);
            return rc;
        }
        char origin[MS_PATH_MAX + 32];
        snprintf(origin, sizeof origin, "%s:runs.config_text", db);
        ms_config_defaults(&run);
        if ((rc = ms_config_load_stored(&run, m.config_text, origin, &e))) {
            if (rc == MS_ECHECK)
                printf("TAMPERED %s\n%s\n", db, e.msg);
            else
                cli_error("%s", e.msg);
            lake_run_meta_release(&m);
            return rc == MS_ECHECK ? EXIT_CHECK : EXIT_USAGE;
        }
        /* The run took S simulation steps (0 .. S-1; operational rows
         * written after the last one are labelled S). */
        int64_t S = m.env_steps / run.envs;
        const int64_t keep[3] = {[LK_OPERATIONAL] = pol.retention_operational, [LK_SECURITY] = pol.retention_security,
                                 [LK_BEHAVIOURAL] = pol.retention_behavioural};
        for (int c = 0; c < 3; c++) {
            if (keep[c] == MS_RETAIN_KEEP)
                continue;
            o.before[c] = lake_retention_before(keep[c], S);
            snprintf(policy[c], sizeof policy[c], "retention_%s = %lld (--policy-from %s; the run took %lld steps)",
                     lk_class_names[c], (long long)keep[c], a.policy_from, (long long)S);
            o.policy[c] = policy[c];
        }
        if (o.before[0] < 0 && o.before[1] < 0 && o.before[2] < 0) {
            lake_run_meta_release(&m);
            if (a.json) {
                printf("{\"path\":");
                cli_json_string(stdout, db);
                printf(",\"purges\":[],\"entries\":0,\"rows\":0,\"policy\":\"keep\"}\n");
            }
            else
                printf("nothing to purge: every retention_* key of %s is keep\n", a.policy_from);
            return EXIT_OK;
        }
    }

    ms_keyring *kr = NULL;
    ms_note_verifier trusted;
    ms_note_signer signer = {0};
    if (m.dev_key) {
        cli_notice("%s was made with the development key: purging it with the key derived from its seed (nothing "
                   "is signed)", db);
    } else {
        if ((rc = cli_keyring(a.keyring, NULL, 0, CLI_KR_EXISTING, &kr))) {
            lake_run_meta_release(&m);
            return rc;
        }
        unsigned char pub[32];
        if (!ms_keyring_can_sign(kr)) {
            cli_error("keyring %s has no signing key: a purge of a signed lake signs a new checkpoint",
                      ms_keyring_origin(kr));
            ms_keyring_free(kr);
            lake_run_meta_release(&m);
            return EXIT_USAGE;
        }
        const char *name = ms_keyring_signer_name(kr);
        if (ms_keyring_public_key(kr, pub, &e) || ms_note_key_id(name, pub, trusted.key_id, &e)) {
            cli_error("%s", e.msg);
            ms_keyring_free(kr);
            lake_run_meta_release(&m);
            return EXIT_USAGE;
        }
        snprintf(trusted.name, sizeof trusted.name, "%s", name);
        memcpy(trusted.pub, pub, 32);
        signer.name = name;
        memcpy(signer.key_id, trusted.key_id, 4);
        signer.sign = sign_with_keyring;
        signer.ctx = kr;
        o.trusted = &trusted;
        o.signer = &signer;
    }
    lake_run_meta_release(&m);

    lake_purge_report r;
    rc = lake_purge(db, &o, &r, &e);
    ms_keyring_free(kr);
    if (rc == MS_ECHECK) {
        const char *word = r.verified.foreign ? "FOREIGN" : r.unsigned_ ? "UNSIGNED" : "TAMPERED";
        if (a.json) {
            printf("{\"path\":");
            cli_json_string(stdout, db);
            printf(",\"verdict\":\"%s\",\"error\":", word);
            cli_json_string(stdout, e.msg);
            printf("}\n");
        } else {
            printf("%s %s\n%s\nnothing was purged\n", word, db, e.msg);
        }
        return EXIT_CHECK;
    }
    if (rc) {
        cli_error("%s", e.msg);
        return EXIT_USAGE;
    }
    if (a.json) {
        print_json(db, &r);
        return r.scrubbed ? EXIT_OK : EXIT_CHECK;
    }
    if (!r.entries_total) {
        printf("nothing to purge in %s: no payload of ", db);
        int first = 1;
        for (int c = 0; c < 3; c++)
            if (o.before[c] >= 0) {
                printf("%s%s before step %lld", first ? "" : ", ", lk_class_names[c], (long long)o.before[c]);
                first = 0;
            }
        printf(" is left (nothing appended, nothing signed)\n");
    } else {
        printf("purged %s: %lld ledger entries, %lld rows\n", db, (long long)r.entries_total, (long long)r.rows_total);
        for (int c = 0; c < 3; c++)
            if (r.purge_id[c])
                printf("  purge %lld: class %s, steps before %lld: %lld entries, %lld rows\n", (long long)r.purge_id[c],
                       lk_class_names[c], (long long)o.before[c], (long long)r.entries[c], (long long)r.rows[c]);
        for (int t = 0; t < LKT_COUNT; t++)
            if (r.t_entries[t])
                printf("    %-22s %8lld entries %10lld rows\n", lk_tables[t].name, (long long)r.t_entries[t],
                       (long long)r.t_rows[t]);
        printf("chained: ledger entries %lld (tombstones) and %lld (purges); head %s\n", (long long)r.first_seq,
               (long long)r.last_seq, r.head);
        if (r.cp_size)
            printf("signed: checkpoint size %lld, root %s, status %s (also %s.checkpoint)\n", (long long)r.cp_size,
                   r.cp_root, r.verified.status, db);
        else
            printf("not signed: a development-key lake has no checkpoints\n");
    }
    char b0[32], b1[32];
    mb(b0, sizeof b0, r.bytes_before);
    mb(b1, sizeof b1, r.bytes_after);
    printf("size: %s -> %s (lake and WAL)\n", b0, b1);
    if (!r.scrubbed) {
        printf("NOT YET SCRUBBED: another process holds %s's WAL, so purged bytes may still be in %s-wal; run "
               "marlsim purge again when it has finished (it completes the job)\n", db, db);
        return EXIT_CHECK;
    }
    printf("scrubbed: the purged bytes are gone from %s and its WAL\n", db);
    return EXIT_OK;
}
