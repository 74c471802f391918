/* marlsim reproduce: re-run a lake's config and seed and compare ledgers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "exp/experiment.h"
#include "ledger/verify.h"

static const char usage[] =
    "usage: marlsim reproduce RUN.db [--out PATH.db] [--force]\n"
    "\n"
    "Verifies RUN.db, re-runs the canonical config and seed stored in it (with\n"
    "the same key material) into a new lake (default RUN.db.reproduce.db,\n"
    "replaced if it exists; an existing --out only with --force) and compares\n"
    "the two ledgers row by row. Reports identical, or the first divergent row\n"
    "(step, table, env, agent). An interrupted run is replayed up to its\n"
    "interruption; a run that died (status running or failed) is compared as\n"
    "the prefix it is. Warns when this machine's OpenBLAS core or thread count\n"
    "differs from the recorded build facts.\n"
    "Exit 0 identical, 1 divergent (or RUN.db does not verify), 2 could not check.\n";

/* Copies the value of "key":"..." or "key":N from a flat JSON object. */
static void json_field(const char *json, const char *key, char *out, size_t n)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = json ? strstr(json, pat) : NULL;
    out[0] = 0;
    if (!p)
        return;
    p += strlen(pat);
    int quoted = *p == '"';
    p += quoted;
    size_t k = 0;
    while (*p && k + 1 < n && (quoted ? *p != '"' : (*p != ',' && *p != '}')))
        out[k++] = *p++;
    out[k] = 0;
}

int cmd_reproduce(int argc, char **argv)
{
    cli_args a;
    int rc = cli_parse_args(argc, argv, CLI_OPT_OUT | CLI_OPT_FORCE, usage, "RUN.db", &a);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    const char *db = a.file, *out = a.out;
    ms_err e;
    /* Comparing rows cannot notice a broken chain or altered hashes, so the
     * lake is verified first. A lake that does not verify is still
     * reproduced: the first divergent row shows where its content was
     * altered (the verdict stays "does not verify", exit 1). */
    lake_verify_report v;
    rc = lake_verify(db, &v, &e);
    int tampered = rc == MS_ECHECK;
    if (tampered)
        printf("TAMPERED %s: %s\n", db, e.msg);
    else if (rc) {
        cli_error("%s", e.msg);
        return EXIT_USAGE;
    }
    /* From here on, a failure to read what a tampered lake stores is part
     * of its not verifying (exit 1), not bad input. */
    const int fail_exit = tampered ? EXIT_CHECK : EXIT_USAGE;
    lake_run_meta m;
    rc = lake_read_run(db, &m, &e);
    if (rc) {
        cli_error("%s", e.msg);
        return fail_exit;
    }
    /* How the original ended decides what is compared: a completed run
     * whole; an interrupted one replayed to its interruption (its recorded
     * env-steps are sealed); one that died (running, failed) as a prefix. */
    int complete = !strcmp(m.status, "completed"), interrupted = !strcmp(m.status, "interrupted");
    int64_t interrupt_at = interrupted ? m.env_steps : 0;
    char status[16], head[65];
    snprintf(status, sizeof status, "%s", m.status);
    snprintf(head, sizeof head, "%s", m.head_hash);
    ms_config c;
    ms_config_defaults(&c);
    char origin[MS_PATH_MAX + 32];
    snprintf(origin, sizeof origin, "%s:runs.config_text", db);
    rc = ms_config_load_string(&c, m.config_text, origin, &e);
    if (!rc)
        rc = ms_config_finish(&c, &e);
    if (!rc && c.seed != m.seed)
        rc = ms_fail(&e, MS_EINPUT, "%s: runs.seed %llu differs from the stored config's seed %llu", db,
                     (unsigned long long)m.seed, (unsigned long long)c.seed);
    if (!rc && !m.dev_key)
        rc = ms_fail(&e, MS_EINPUT, "%s: the run used keyring keys %s; this build can only reproduce runs made with "
                     "the development key", db, m.key_ids);
    char facts[1024], rec_core[64], rec_threads[16], cur_core[64], cur_threads[16];
    if (!rc) {
        exp_build_facts(&c, facts, sizeof facts);
        json_field(m.build_facts, "openblas_core", rec_core, sizeof rec_core);
        json_field(m.build_facts, "blas_threads", rec_threads, sizeof rec_threads);
        json_field(facts, "openblas_core", cur_core, sizeof cur_core);
        json_field(facts, "blas_threads", cur_threads, sizeof cur_threads);
        if (strcmp(rec_core, cur_core) || strcmp(rec_threads, cur_threads))
            fprintf(stderr, "marlsim: warning: the run was recorded with OpenBLAS core %s and %s thread(s); this "
                            "machine has core %s and %s thread(s): results may differ in the last bits\n",
                    rec_core, rec_threads, cur_core, cur_threads);
    }
    lake_run_meta_release(&m);
    if (rc) {
        cli_error("%s", e.msg);
        return fail_exit;
    }
    char path[MS_PATH_MAX + 64];
    if (out)
        snprintf(path, sizeof path, "%s", out);
    else
        snprintf(path, sizeof path, "%s.reproduce.db", db);
    /* Never the original, nor its -wal / -shm (by name or by identity). */
    struct stat so;
    int out_exists = stat(path, &so) == 0;
    static const char *const sides[] = {"", "-wal", "-shm"};
    for (int k = 0; k < 3; k++) {
        char orig[MS_PATH_MAX + 16];
        struct stat sd;
        snprintf(orig, sizeof orig, "%s%s", db, sides[k]);
        if (!strcmp(orig, path) ||
            (out_exists && stat(orig, &sd) == 0 && sd.st_dev == so.st_dev && sd.st_ino == so.st_ino)) {
            cli_error("--out %s is %s", path, k ? "a side file of the lake being reproduced" : "the lake being reproduced");
            return EXIT_USAGE;
        }
    }
    /* The lake refuses a directory, and an existing --out unless --force;
     * the default path is replaced. */
    exp_result res;
    rc = cli_run_experiment(&c, path, !out || a.force, isatty(2), interrupt_at, &res);
    if (rc)
        return rc;
    if (interrupted ? res.env_steps != interrupt_at : strcmp(res.status, "completed") != 0) {
        cli_error("the reproduction was interrupted at %lld env-steps: nothing compared", (long long)res.env_steps);
        return EXIT_USAGE;
    }
    lake_diff_report d;
    rc = lake_diff(db, path, complete || interrupted ? 0 : LAKE_DIFF_PREFIX, &d, &e);
    if (rc) {
        cli_error("%s", e.msg);
        return cli_exit_for(rc);
    }
    if (d.identical && tampered) {
        printf("the rows of %s are identical to the reproduction in %s, but its chain does not verify (see above)\n",
               db, path);
        return EXIT_CHECK;
    }
    if (d.identical && d.prefix) {
        printf("identical prefix: the %lld ledger entries of %s (an unfinished run, status %s) are the first %lld "
               "of %lld in %s\n", (long long)d.entries_a, db, status, (long long)d.entries_a,
               (long long)d.entries_b, path);
        return EXIT_OK;
    }
    if (d.identical) {
        printf("identical: %lld ledger entries of %s reproduced in %s\nhead_hash: %s\n", (long long)d.entries_a, db,
               path, res.head_hash);
        if (strcmp(res.head_hash, head))
            printf("(the original's head is %s: the seal covers the build facts, which differ)\n", head);
        return EXIT_OK;
    }
    printf("DIVERGENT at ledger entry %lld: table %s, step %lld", (long long)d.seq, d.table, (long long)d.step);
    if (d.env >= 0)
        printf(", env %lld", (long long)d.env);
    if (d.agent[0])
        printf(", agent %s", d.agent);
    printf("\n%s\n", d.what);
    return EXIT_CHECK;
}
