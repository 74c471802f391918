/* marlsim reproduce: re-run a lake's config and seed and compare ledgers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "exp/comm.h"
#include "exp/experiment.h"
#include "exp/manifest.h"
#include "keys/keyring.h"
#include "ledger/verify.h"
#include "nn/blascore.h"

static const char usage[] =
    "usage: marlsim reproduce RUN.db [--out PATH.db] [--force] [--keyring K] [--json]\n"
    "       mpirun -np N marlsim reproduce RUN.manifest [--keyring K] [--json]\n"
    "\n"
    "Verifies RUN.db (with your keyring's signing key when it has one), re-runs\n"
    "the canonical config and seed stored in it with the same key material (the\n"
    "generations its identity names, from --keyring K, $MARLSIM_KEYRING or your\n"
    "keyring; a development-key run needs none) into a new lake, and compares the\n"
    "two ledgers row by row. Reports identical, or the first divergent row (step,\n"
    "table, env, agent). The reproduction signs its checkpoints with the origin\n"
    "marlsim/<run id>/reproduce. Its lake goes to --out (an existing one only\n"
    "with --force), or to RUN.db.reproduce.db, which is removed again when the\n"
    "two are identical. An interrupted run is replayed up to its interruption;\n"
    "a run that died (status running or failed) is compared as the prefix it\n"
    "is. Settings outside the hashed config (out, keyring) never come from the\n"
    "lake. Warns when this machine's OpenBLAS core or thread count differs\n"
    "from the recorded build facts. Of a purged lake it compares what is left:\n"
    "an entry whose rows were purged is compared through its commitment only\n"
    "(it says how many), and the purges' own entries are not part of the run.\n"
    "A destroyed key generation (keys destroy, crypto-shredding) cannot be\n"
    "used again: a run that used it can no longer be reproduced (exit 2), while\n"
    "its lake still verifies and its pseudonyms stay unlinkable.\n"
    "--json prints the outcome as one JSON object (verdict identical,\n"
    "identical_prefix, divergent or tampered; the entries compared, the first\n"
    "divergence, the purged entries, where the reproduction went).\n"
    "Exit 0 identical, 1 divergent (or RUN.db does not verify), 2 could not\n"
    "check (e.g. a key generation the keyring lacks, or one that was destroyed).\n"
    "\n"
    "RUN.manifest (a run of N processes, SPEC §11) is replayed by N processes:\n"
    "marlsim does not launch them itself, it says the mpirun command to run\n"
    "(exit 2) when it was not started by mpirun with N processes. Each rank K\n"
    "reproduces and compares its shard RUN.rank-K-of-N.db as above, into\n"
    "RUN.reproduce.rank-K-of-N.db (kept, with the manifest RUN.reproduce.manifest\n"
    "rank 0 writes), and prints its own verdict; mpirun exits non-zero when one\n"
    "rank's shard diverges.\n";

/* A lake that does not verify, before anything was re-run: its message. */
static int say_tampered(int json, const char *db, const char *msg)
{
    if (!json) {
        printf("TAMPERED %s\n%s\n", db, msg);
        return EXIT_CHECK;
    }
    printf("{\"file\": ");
    cli_json_string(stdout, db);
    printf(", \"verdict\": \"tampered\", \"why\": ");
    cli_json_string(stdout, msg);
    printf(", \"reproduction\": null}\n");
    return EXIT_CHECK;
}

/* The outcome of a comparison as one JSON object (the text lines' facts);
 * tampered is the verify message of a lake that does not verify, or "". */
static void print_json(const char *db, const lake_diff_report *d, const char *tampered, const char *head,
                       const char *orig_head, const char *kept)
{
    const char *verdict = *tampered ? "tampered" : !d->identical ? "divergent" : d->prefix ? "identical_prefix"
                                                                                          : "identical";
    printf("{\"file\": ");
    cli_json_string(stdout, db);
    printf(", \"verdict\": \"%s\", \"entries\": %lld, \"reproduced_entries\": %lld, \"head_hash\": \"%s\", "
           "\"original_head_hash\": \"%s\"",
           verdict, (long long)d->entries_a, (long long)d->entries_b, head, orig_head);
    if (*tampered) {
        printf(", \"why\": ");
        cli_json_string(stdout, tampered);
    }
    if (!d->identical) {
        printf(", \"divergence\": {\"seq\": %lld, \"table\": ", (long long)d->seq);
        cli_json_string(stdout, d->table);
        printf(", \"step\": %lld, \"env\": %lld, \"agent\": ", (long long)d->step, (long long)d->env);
        cli_json_string(stdout, d->agent);
        printf(", \"what\": ");
        cli_json_string(stdout, d->what);
        printf("}");
    }
    printf(", \"purged_entries\": %lld, \"purge_entries\": %lld, \"reproduction\": ", (long long)d->purged_a,
           (long long)d->purge_entries_a);
    if (kept)
        cli_json_string(stdout, kept);
    else
        printf("null");
    printf("}\n");
}

/* Removes a reproduction and its checkpoint file (absent ones are fine). */
static void remove_reproduction(const char *path)
{
    char side[MS_PATH_MAX + 80];
    unlink(path);
    snprintf(side, sizeof side, "%s.checkpoint", path);
    unlink(side);
}

/* reproduce RUN.manifest: this process's shard (rank K of the manifest's
 * N, from Open MPI's environment: MPI itself starts only once the OpenBLAS
 * core is pinned, after which nothing re-executes), its reproduction and
 * the reproduction's manifest. */
typedef struct shard_job {
    int rank, ranks;
    char shard[MS_PATH_MAX + 160], out[MS_PATH_MAX + 200], manifest[MS_PATH_MAX + 200];
    ms_comm *comm;
} shard_job;

static int shard_target(const char *path, const cli_args *a, shard_job *j)
{
    manifest_report r;
    ms_err e;
    char base[MS_PATH_MAX + 64], rbase[MS_PATH_MAX + 96];
    if (a->out || a->force)
        return cli_usage(usage, "a manifest's reproduction goes beside it (RUN.reproduce.*): no --out or --force");
    int rc = manifest_open(path, NULL, &r, &e);
    if (rc == MS_ECHECK) {
        printf("%s %s\n%s\n", r.word, path, e.msg);
        return EXIT_CHECK;
    }
    if (rc) {
        cli_error("%s", e.msg);
        return EXIT_USAGE;
    }
    const char *size = getenv("OMPI_COMM_WORLD_SIZE"), *rank = getenv("OMPI_COMM_WORLD_RANK");
    char *end1 = NULL, *end2 = NULL;
    long n = size ? strtol(size, &end1, 10) : -1, k = rank ? strtol(rank, &end2, 10) : -1;
    if (!comm_launched_by_mpirun() || !end1 || *end1 || !end2 || *end2 || n != r.ranks || k < 0 || k >= n) {
        cli_error("%s is a run of %d processes: it is reproduced by as many; run\n  mpirun -np %d %s reproduce %s%s%s",
                  path, r.ranks, r.ranks, cli_argv && cli_argv[0] ? cli_argv[0] : "marlsim", path,
                  a->keyring ? " --keyring " : "", a->keyring ? a->keyring : "");
        return EXIT_USAGE;
    }
    j->rank = (int)k;
    j->ranks = r.ranks;
    (void)manifest_is_manifest(path, base, sizeof base); /* manifest_open checked the name */
    snprintf(rbase, sizeof rbase, "%s.reproduce", base);
    manifest_shard_path(base, j->rank, j->ranks, j->shard, sizeof j->shard);
    manifest_shard_path(rbase, j->rank, j->ranks, j->out, sizeof j->out);
    manifest_path(rbase, j->manifest, sizeof j->manifest);
    return EXIT_OK;
}

static int reproduce(const cli_args *a, shard_job *j);

int cmd_reproduce(int argc, char **argv)
{
    cli_args a;
    int rc = cli_parse_args(argc, argv, CLI_OPT_OUT | CLI_OPT_FORCE | CLI_OPT_KEYRING | CLI_OPT_JSON, usage, "RUN.db", &a);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    shard_job j = {0};
    char base[MS_PATH_MAX + 64];
    if (manifest_is_manifest(a.file, base, sizeof base) && (rc = shard_target(a.file, &a, &j)))
        return rc;
    rc = reproduce(&a, j.ranks ? &j : NULL);
    if (j.comm) {
        if (rc != EXIT_OK && rc != EXIT_CHECK)
            comm_abort(j.comm, rc); /* the other ranks may wait in a collective */
        cli_set_comm(NULL, NULL);
        comm_finalize(j.comm);
    }
    return rc;
}

static int reproduce(const cli_args *ap, shard_job *j)
{
    const cli_args a = *ap;
    int rc;
    const char *db = j ? j->shard : a.file, *out = j ? j->out : a.out;
    ms_err e;
    if (strlen(db) >= MS_PATH_MAX || (out && strlen(out) >= MS_PATH_MAX))
        return cli_usage(usage, "a path longer than %d bytes", MS_PATH_MAX - 1);
    /* The original's identity first: its key material decides the rest. */
    lake_run_meta m;
    if ((rc = lake_read_run(db, &m, &e))) {
        if (rc == MS_ECHECK)
            return say_tampered(a.json, db, e.msg);
        cli_error("%s", e.msg);
        return cli_exit_for(rc);
    }
    int dev = 0, first = exp_first_generation(m.key_ids, &dev);
    if (first < 0 || dev != m.dev_key) {
        lake_run_meta_release(&m);
        return say_tampered(a.json, db, "runs.key_ids is not a list of key ids marlsim writes");
    }
    ms_keyring *kr = NULL;
    if (m.dev_key) {
        ms_err de;
        if (ms_keyring_dev(m.seed, &kr, &de)) {
            cli_error("%s", de.msg);
            lake_run_meta_release(&m);
            return EXIT_USAGE;
        }
        cli_notice("%s was made with the development key: reproducing it with the key derived from its seed", db);
    } else if ((rc = cli_keyring(a.keyring, NULL, 0, CLI_KR_EXISTING, &kr))) {
        lake_run_meta_release(&m);
        return rc;
    }

    /* Comparing rows cannot notice a broken chain or altered hashes, so the
     * lake is verified first (its checkpoints with this keyring's key). A
     * lake that does not verify is still reproduced: the first divergent
     * row shows where its content was altered (the verdict stays "does not
     * verify", exit 1). */
    ms_note_verifier trusted;
    lake_verify_opts vo = {0};
    if (!m.dev_key && ms_keyring_can_sign(kr)) {
        unsigned char pub[32];
        const char *name = ms_keyring_signer_name(kr);
        if (!ms_keyring_public_key(kr, pub, &e) && !ms_note_key_id(name, pub, trusted.key_id, &e)) {
            snprintf(trusted.name, sizeof trusted.name, "%s", name);
            memcpy(trusted.pub, pub, 32);
            vo.trusted = &trusted;
        }
    }
    /* Verified, and the runs row read again in the same snapshot: what is
     * re-run is what was verified. The first read only chose the keys; the
     * lake must not have changed its key material in between. */
    lake_verify_report v;
    lake_run_meta mv;
    rc = lake_read_verified(db, &vo, &mv, NULL, 0, NULL, NULL, &v, &e);
    int tampered = rc == MS_ECHECK;
    if (!rc) {
        int same = mv.seed == m.seed && mv.dev_key == m.dev_key && mv.key_ids && m.key_ids &&
                   !strcmp(mv.key_ids, m.key_ids);
        lake_run_meta_release(&m);
        m = mv;
        if (!same) {
            cli_error("%s changed while it was read (its key material differs between two reads): nothing was "
                      "reproduced", db);
            lake_run_meta_release(&m);
            ms_keyring_free(kr);
            return EXIT_USAGE;
        }
    }
    /* A reproduction is signed only for a lake the key vouches for (or a
     * development-key lake, which nothing signs): otherwise its config is
     * not one the keyring's owner chose, and a signature would lend it
     * their name. Such a reproduction only says where the lake diverges,
     * and is not kept. */
    int vouched = !rc && (m.dev_key || (vo.trusted && v.signed_size > 0));
    char tampered_why[sizeof e.msg];
    snprintf(tampered_why, sizeof tampered_why, "%s", tampered ? e.msg : "");
    if (tampered && !a.json)
        printf("TAMPERED %s: %s\n", db, e.msg);
    else if (tampered)
        cli_notice("TAMPERED %s: %s", db, e.msg);
    else if (!rc && !vouched)
        cli_notice("%s: %s: the reproduction signs nothing and is not kept", db,
                   vo.trusted ? v.unsigned_why : "no signing key to vouch for the lake");
    else if (rc) {
        cli_error("%s", e.msg);
        lake_run_meta_release(&m);
        ms_keyring_free(kr);
        return EXIT_USAGE;
    }
    /* From here on, a failure to read what a tampered lake stores is part
     * of its not verifying (exit 1), not bad input. */
    const int fail_exit = tampered ? EXIT_CHECK : EXIT_USAGE;
    int complete = !strcmp(m.status, "completed"), interrupted = !strcmp(m.status, "interrupted");
    int64_t interrupt_at = interrupted ? m.env_steps : 0;
    char status[16], head[65], run_id[64];
    snprintf(status, sizeof status, "%s", m.status);
    snprintf(head, sizeof head, "%s", m.head_hash);
    snprintf(run_id, sizeof run_id, "%s", m.run_id);
    ms_config c;
    ms_config_defaults(&c);
    char origin[MS_PATH_MAX + 32];
    snprintf(origin, sizeof origin, "%.*s:runs.config_text", MS_PATH_MAX, db);
    rc = ms_config_load_stored(&c, m.config_text, origin, &e);
    if (!rc && c.seed != m.seed)
        rc = ms_fail(&e, MS_EINPUT, "%s: runs.seed %llu differs from the stored config's seed %llu", db,
                     (unsigned long long)m.seed, (unsigned long long)c.seed);
    /* The same key material, or nothing to compare: each generation the run
     * named must be in the keyring and usable, and give the same run id. */
    exp_identity_t id;
    if (!rc && (rc = exp_identity(&c, kr, first, &id, &e)) == MS_ECHECK) {
        char why[sizeof e.msg];
        snprintf(why, sizeof why, "%s", e.msg);
        rc = ms_fail(&e, MS_EINPUT, "%s: the run can no longer be reproduced (crypto-shredding): %s. Destroying a "
                     "generation erased the key its pseudonyms, broadcast MACs and secret raw-value streams came from: "
                     "nobody can re-derive or link them, or regenerate the raw values, any more; the lake still "
                     "verifies (its chain needs no key)", db, why);
    }
    if (!rc && !j && v.shard_of) /* a shard given alone: its run is its manifest */
        rc = ms_fail(&e, MS_EINPUT, "%s is one process's shard of a run of %d processes: the run is reproduced from "
                     "its manifest, by as many processes (mpirun -np %d marlsim reproduce BASE.manifest)", db,
                     v.shard_of, v.shard_of);
    char want_id[33];
    snprintf(want_id, sizeof want_id, "%s", id.run_id);
    if (!rc && j) /* a shard: its own run id (exp/manifest.h) */
        rc = manifest_shard_id(id.run_id, j->rank, j->ranks, want_id, &e);
    if (!rc && strcmp(want_id, run_id)) {
        if (tampered)
            rc = ms_fail(&e, MS_ECHECK, "%s: its stored config and keys do not give its run id: what it stores was "
                         "altered, so there is no run to reproduce", db);
        else
            rc = ms_fail(&e, MS_EINPUT, "%s: keyring %s is not the one the run used: with it the run id would be %s, "
                         "the lake's is %.40s", db, ms_keyring_origin(kr), id.run_id, run_id);
    }
    char facts[1024], rec_core[64], rec_threads[16], cur_core[64], cur_threads[16];
    if (!rc) {
        exp_build_facts(&c, facts, sizeof facts);
        exp_json_field(m.build_facts, "openblas_core", rec_core, sizeof rec_core);
        exp_json_field(m.build_facts, "blas_threads", rec_threads, sizeof rec_threads);
        exp_json_field(facts, "openblas_core", cur_core, sizeof cur_core);
        exp_json_field(facts, "blas_threads", cur_threads, sizeof cur_threads);
        /* The replay runs under the core the lake was made with (SPEC §8):
         * a name of the table only, so the lake picks nothing else. */
        int known = 0;
        for (int k = 1; nn_blas_core_names[k]; k++)
            known |= !strcmp(rec_core, nn_blas_core_names[k]);
        if (known && strcmp(rec_core, cur_core)) {
            lake_run_meta_release(&m);
            ms_keyring_free(kr);
            return cli_pin_blas_core(rec_core, "the lake, recorded under it,");
        }
        if (!known || strcmp(rec_threads, cur_threads))
            cli_notice("warning: the run was recorded with OpenBLAS core %s and %s thread(s); this machine has core "
                       "%s and %s thread(s): results may differ in the last bits", rec_core, rec_threads, cur_core,
                       cur_threads);
    }
    lake_run_meta_release(&m);
    if (rc) {
        cli_error("%s", e.msg);
        ms_keyring_free(kr);
        return rc == MS_ECHECK ? EXIT_CHECK : tampered ? fail_exit : EXIT_USAGE;
    }
    char path[MS_PATH_MAX + 64];
    if (out)
        snprintf(path, sizeof path, "%.*s", MS_PATH_MAX + 63, out);
    else
        snprintf(path, sizeof path, "%.*s.reproduce.db", MS_PATH_MAX, db);
    /* Never the original, nor its -wal / -shm / .checkpoint (by name or by identity). */
    struct stat so;
    int out_exists = stat(path, &so) == 0;
    static const char *const sides[] = {"", "-wal", "-shm", ".checkpoint"};
    for (int k = 0; k < 4; k++) {
        char orig[MS_PATH_MAX + 16];
        struct stat sd;
        snprintf(orig, sizeof orig, "%.*s%s", MS_PATH_MAX, db, sides[k]);
        if (!strcmp(orig, path) ||
            (out_exists && stat(orig, &sd) == 0 && sd.st_dev == so.st_dev && sd.st_ino == so.st_ino)) {
            cli_error("--out %s is %s", path, k ? "a side file of the lake being reproduced" : "the lake being reproduced");
            ms_keyring_free(kr);
            return EXIT_USAGE;
        }
    }
    /* The lake refuses a directory, and an existing --out unless --force;
     * the default path is replaced. */
    exp_result res;
    if (j) { /* every process is past its checks: MPI starts */
        if (comm_mpi_init(&j->comm, &e)) {
            cli_error("%s", e.msg);
            ms_keyring_free(kr);
            return EXIT_USAGE;
        }
        /* The environment said mpirun; MPI itself must agree (variables
         * set by hand start a one-process MPI world). */
        if (comm_size(j->comm) != j->ranks || comm_rank(j->comm) != j->rank) {
            cli_error("MPI says this is process %d of %d, the environment said %d of %d: not started by mpirun -np "
                      "%d; nothing reproduced", comm_rank(j->comm), comm_size(j->comm), j->rank, j->ranks, j->ranks);
            comm_finalize(j->comm); /* a world of its own: no other process waits */
            j->comm = NULL;
            ms_keyring_free(kr);
            return EXIT_USAGE;
        }
        cli_set_comm(j->comm, j->manifest);
    }
    rc = cli_run_experiment(&c, path, !out || a.force || j, j && j->rank ? CLI_PROGRESS_NONE : cli_progress_mode(0),
                            interrupt_at, kr, first,
                            CLI_RUN_REPRODUCE | (vouched ? 0 : CLI_RUN_UNSIGNED), NULL, &res);
    ms_keyring_free(kr);
    if (rc)
        return rc == EXIT_CHECK ? EXIT_USAGE : rc;
    if (interrupted ? res.env_steps != interrupt_at : strcmp(res.status, "completed") != 0) {
        cli_error("the reproduction was interrupted at %lld env-steps: nothing compared (its lake: %s)",
                  (long long)res.env_steps, path);
        return EXIT_USAGE;
    }
    lake_diff_report d;
    rc = lake_diff(db, path, complete || interrupted ? 0 : LAKE_DIFF_PREFIX, &d, &e);
    if (rc) {
        cli_error("%s", e.msg);
        return cli_exit_for(rc);
    }
    if (d.build_differs)
        cli_notice("note: %s (the build, not the run: not counted as divergence)", d.build_what);
    int keep = (out != NULL || !d.identical) && vouched && !(d.identical && tampered);
    if (!keep)
        remove_reproduction(path); /* identical: nothing in it the original lacks; or unsigned */
    if (a.json) {
        print_json(db, &d, tampered_why, res.head_hash, head, keep ? path : NULL);
        return d.identical && !tampered ? EXIT_OK : EXIT_CHECK;
    }
    if (d.identical && tampered) {
        printf("the rows of %s are identical to the reproduction in %s, but its chain does not verify (see above)\n",
               db, path);
        return EXIT_CHECK;
    }
    if (d.identical && d.prefix) {
        printf("identical prefix: the %lld ledger entries of %s (an unfinished run, status %s) are the first %lld "
               "of %lld in the reproduction\n", (long long)d.entries_a, db, status, (long long)d.entries_a,
               (long long)d.entries_b);
    } else if (d.identical) {
        printf("identical: %lld ledger entries of %s reproduced\nhead_hash: %s\n", (long long)d.entries_a, db,
               res.head_hash);
        if (strcmp(res.head_hash, head))
            printf("(the original's head is %s: %s)\n", head,
                   d.purge_entries_a ? "its purges added entries after the run"
                                     : "the chain covers the build facts, which differ");
    } else {
        printf("DIVERGENT at ledger entry %lld: table %s, step %lld", (long long)d.seq, d.table, (long long)d.step);
        if (d.env >= 0)
            printf(", env %lld", (long long)d.env);
        if (d.agent[0])
            printf(", agent %s", d.agent);
        printf("\n%s\n", d.what);
    }
    /* A purged original: what could not be compared row by row. */
    if (d.purged_a || d.purge_entries_a)
        printf("purged: %lld of the %lld ledger entries of %s had their rows purged and were compared through their "
               "commitments only, not row by row; its %lld purge entries are not part of the run (not compared)\n",
               (long long)d.purged_a, (long long)d.entries_a, db, (long long)d.purge_entries_a);
    if (keep)
        printf("reproduction: %s\n", path);
    else
        printf(vouched ? "reproduction removed (identical; --out PATH keeps it)\n"
                       : "reproduction removed (unsigned: the original does not verify with the trusted key)\n");
    return d.identical ? EXIT_OK : EXIT_CHECK;
}
