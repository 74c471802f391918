/* marlsim eval: held-out greedy evaluation of a reference or trained policy. */
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "exp/trainer.h"
#include "gov/release.h"
#include "ledger/verify.h"
#include "sim/policy.h"

static const char usage[] =
    "usage: marlsim eval CONFIG.ini --policy random|heuristic|oracle|RUN.db [--episodes N] [--set section.key=value]... [--json]\n"
    "       marlsim eval --policy RUN.db [--pubkey KEY | --keyring K] [--set ...] [--json]\n"
    "       marlsim eval [CONFIG.ini] --policy RELEASE --approvers FILE [--pubkey KEY | --keyring K] [--set ...]\n"
    "                    [--json]\n"
    "\n"
    "Plays [gate] report_episodes x [sim] envs report episodes (a stream of\n"
    "eval_seed alone: the same messages for every run and policy, never used\n"
    "to select; --episodes N per mailbox overrides) with greedy actions, and\n"
    "prints the mean reward per env-step and the\n"
    "outcome counts per message class. RUN.db: the lake is verified first (a\n"
    "tampered lake is refused, exit 1, nothing evaluated; with a trusted key its\n"
    "checkpoints too) and the policy its chain records as last promoted is used\n"
    "(named on stderr); without CONFIG the lake's own config is used.\n"
    "RELEASE (a file `marlsim release` wrote) is played only when it checks out\n"
    "against the approvers' allow-list --approvers FILE (required: nothing in\n"
    "the release is trusted by itself): both approvals signed by two different\n"
    "listed approvers with two different keys, neither the run's, agreeing on\n"
    "the run, checkpoint and snapshots, whose parameters hash to the approved\n"
    "SHA-256s; otherwise it is refused (exit 1, nothing evaluated). Without\n"
    "CONFIG the release's own config text is used (its hash is approved).\n"
    "--pubkey or --keyring pins the run's key: a release of a run another key\n"
    "signed is refused.\n"
    "--json prints one JSON object on stdout.\n";

static int print_tally(const char *policy, const ms_config *c, const ms_tally *t, int json)
{
    char hash[65];
    if (ms_config_hash(c, hash)) {
        cli_error("libcrypto: SHA-256 failed (out of memory?): no figures printed");
        return EXIT_USAGE;
    }
    double mean = t->env_steps ? t->reward_sum / (double)t->env_steps : 0.0;
    static const char *const cols[MS_NOUTCOME_TALLY] = {"delivered", "previewed", "quarantined", "ignored", "held"};
    if (json) {
        printf("{\"policy\":");
        cli_json_string(stdout, policy);
        printf(",\"config_sha256\":\"%s\",\"episodes\":%lld,\"env_steps\":%lld,\"mean_reward_per_step\":%.6f,"
               "\"mean_raw_reward_per_step\":%.6f,\"rejected_broadcasts\":%lld,\"outcomes\":{",
               hash, (long long)c->report_episodes * c->envs, (long long)t->env_steps, mean,
               t->env_steps ? t->reward_raw_sum / (double)t->env_steps : 0.0, (long long)t->rejected);
        for (int k = 0; k < MS_NCLASS; k++) {
            printf("%s\"%s\":{", k ? "," : "", ms_class_names[k]);
            for (int o = 0; o < MS_NOUTCOME_TALLY; o++)
                printf("%s\"%s\":%lld", o ? "," : "", cols[o], (long long)t->outcomes[k][o]);
            printf("}");
        }
        printf("},\"rule_hits\":{");
        for (int r = 0; r < MS_NRULE; r++)
            printf("%s\"%s\":%lld", r ? "," : "", ms_rule_names[r], (long long)t->rule_hits[r]);
        printf("}}\n");
        return EXIT_OK;
    }
    printf("policy: %s\n", policy);
    printf("config_sha256: %s\n", hash);
    printf("episodes: %lld (%d per mailbox x %d mailboxes)\n", (long long)c->report_episodes * c->envs,
           c->report_episodes, c->envs);
    printf("env_steps: %lld\n", (long long)t->env_steps);
    printf("mean_reward_per_step: %.4f\n", mean);
    printf("rejected_broadcasts: %lld\n", (long long)t->rejected);
    printf("outcomes:\n  %-10s", "class");
    for (int o = 0; o < MS_NOUTCOME_TALLY; o++)
        printf(" %11s", cols[o]);
    printf("\n");
    for (int k = 0; k < MS_NCLASS; k++) {
        printf("  %-10s", ms_class_names[k]);
        for (int o = 0; o < MS_NOUTCOME_TALLY; o++)
            printf(" %11lld", (long long)t->outcomes[k][o]);
        printf("\n");
    }
    return EXIT_OK;
}

/* The lake's own config, from the runs row read in the verified snapshot,
 * for eval --policy RUN.db without a CONFIG. */
static int config_from_meta(const char *db, const lake_run_meta *m, ms_config *c, char **sets, int nsets)
{
    ms_err e;
    char origin[MS_PATH_MAX + 32];
    snprintf(origin, sizeof origin, "%s:runs.config_text", db);
    ms_config_defaults(c);
    int rc = ms_config_load_stored(c, m->config_text, origin, &e);
    for (int i = 0; i < nsets && !rc; i++)
        rc = ms_config_set(c, sets[i], &e);
    if (!rc)
        rc = ms_config_finish(c, &e);
    if (rc) {
        cli_error("%s", e.msg);
        return cli_exit_for(rc);
    }
    return EXIT_OK;
}

/* 1 when path is a regular file that starts as a release does, else 0
 * (never blocks: a FIFO or a device is not a release). */
static int is_release(const char *path)
{
    static const char magic[] = "marlsim-release v1\n";
    char head[sizeof magic];
    struct stat sb;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) ? read(fd, head, sizeof magic - 1) : -1;
    close(fd); /* read-only: nothing to flush */
    return n == (ssize_t)sizeof magic - 1 && !memcmp(head, magic, sizeof magic - 1);
}

/* eval --policy RELEASE --approvers FILE: checked, then played. */
static int eval_release(cli_args *a)
{
    if (!a->approvers) {
        cli_error("--policy %s is a release: give --approvers FILE, the allow-list its approvals are checked "
                  "against (nothing in a release is trusted by itself)", a->policy);
        return EXIT_USAGE;
    }
    char *text = NULL, *list_text = NULL;
    size_t tn = 0, ln = 0;
    gov_approvers *list = malloc(sizeof *list);
    gov_release rel;
    memset(&rel, 0, sizeof rel);
    ms_err e;
    int rc = list ? EXIT_OK : EXIT_USAGE;
    if (!list)
        cli_error("out of memory");
    if (!rc)
        rc = cli_read_file(a->approvers, 1 << 20, &list_text, &ln);
    if (!rc && gov_approvers_parse(list_text, ln, a->approvers, list, &e)) {
        cli_error("%s", e.msg);
        rc = EXIT_USAGE;
    }
    if (!rc)
        rc = cli_read_file(a->policy, GOV_RELEASE_MAX, &text, &tn);
    if (!rc) {
        int s = gov_release_open(text, tn, list, &rel, &e);
        /* --pubkey / --keyring pin the run's key: a release of another
         * signer's run is refused, as release and audit refuse it. */
        if (!s && (a->pubkey || a->keyring)) {
            ms_note_verifier trusted;
            int have = 0;
            if (a->pubkey && a->keyring) {
                rc = cli_usage(usage, "give --pubkey or --keyring, not both");
            } else if ((rc = cli_trusted_key(a->pubkey, a->keyring, &trusted, &have, NULL)) == EXIT_OK && !have) {
                cli_error("--keyring %s has no signing key to pin the release's run key with", a->keyring);
                rc = EXIT_USAGE;
            } else if (!rc && (memcmp(trusted.pub, rel.run_key.pub, sizeof trusted.pub) ||
                               strcmp(trusted.name, rel.run_key.name))) {
                s = ms_fail(&e, MS_ECHECK, "its run was signed by %s+%02x%02x%02x%02x, not by the trusted key "
                            "%s+%02x%02x%02x%02x", rel.run_key.name, rel.run_key.key_id[0], rel.run_key.key_id[1],
                            rel.run_key.key_id[2], rel.run_key.key_id[3], trusted.name, trusted.key_id[0],
                            trusted.key_id[1], trusted.key_id[2], trusted.key_id[3]);
            }
        }
        if (s == MS_ECHECK && a->json)
            cli_refused_json(a->policy, e.msg);
        else if (s == MS_ECHECK)
            printf("REFUSED %s\n%s\nnothing was evaluated\n", a->policy, e.msg);
        else if (s)
            cli_error("%s: %s", a->policy, e.msg);
        if (!rc)
            rc = cli_exit_for(s);
    }
    ms_config c;
    if (!rc && a->file) {
        rc = cli_load_config(&c, a->file, a->sets, a->nsets, NULL);
    } else if (!rc) {
        char origin[MS_PATH_MAX + 32];
        snprintf(origin, sizeof origin, "%s:config-text", a->policy);
        ms_config_defaults(&c);
        int s = ms_config_load_stored(&c, rel.config_text, origin, &e);
        for (int i = 0; i < a->nsets && !s; i++)
            s = ms_config_set(&c, a->sets[i], &e);
        if (!s)
            s = ms_config_finish(&c, &e);
        if (s)
            cli_error("%s", e.msg);
        rc = cli_exit_for(s);
    }
    if (!rc && a->episodes) {
        char *end;
        long n = strtol(a->episodes, &end, 10);
        if (!*a->episodes || *end || n < 1 || n > 10000)
            rc = cli_usage(usage, "--episodes %s: not an integer in [1, 10000]", a->episodes);
        else
            c.report_episodes = (int)n;
    }
    ms_tally t;
    if (!rc) {
        fprintf(stderr, "marlsim: %s checks out: approved by %s and %s (allow-list %s); run %s, evaluation %lld, "
                        "snapshots", a->policy, rel.approver[0], rel.approver[1], a->approvers, rel.st.run_id,
                (long long)rel.st.eval_id);
        for (int k = 0; k < MS_NAGENT; k++)
            fprintf(stderr, " %s (sha256 %.12s)", ms_agent_names[k], rel.snap[k].sha256);
        fputc('\n', stderr);
        int s = train_eval_blobs(&c, a->policy, rel.snap, &t, &e);
        if (s)
            cli_error("%s", e.msg);
        rc = cli_exit_for(s);
    }
    if (!rc)
        rc = print_tally(a->policy, &c, &t, a->json);
    gov_release_free(&rel);
    free(text);
    free(list_text);
    free(list);
    return rc;
}

int cmd_eval(int argc, char **argv)
{
    cli_args a;
    int rc = cli_parse(argc, argv, CLI_OPT_JSON | CLI_OPT_SET | CLI_OPT_POLICY | CLI_OPT_PUBKEY | CLI_OPT_KEYRING |
                       CLI_OPT_EPISODES | CLI_OPT_APPROVERS,
                       usage, "CONFIG.ini", 0, 1, &a);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    const char *policy = a.policy;
    int kind = -1;
    for (int k = 0; k < MS_NREF; k++)
        if (!strcmp(policy, ms_ref_names[k]))
            kind = k;
    if (kind < 0 && access(policy, F_OK) != 0) {
        cli_error("--policy %s: not a reference policy (random, heuristic, oracle) and no such lake file", policy);
        return EXIT_USAGE;
    }
    if (kind >= 0 && !a.file)
        return cli_usage(usage, "missing CONFIG.ini (only a lake or a release carries its own config)");
    if (kind < 0 && (a.approvers || is_release(policy))) /* --approvers: only a release takes it */
        return eval_release(&a);
    if (a.approvers)
        return cli_usage(usage, "--approvers is for --policy RELEASE");

    /* A lake is verified before anything is taken from it, with the
     * trusted key when there is one. */
    ms_note_verifier trusted;
    int have = 0;
    lake_verify_opts vo = {0};
    if (kind < 0) {
        if ((rc = cli_trusted_key(a.pubkey, a.keyring, &trusted, &have, NULL)))
            return rc;
        vo.trusted = have ? &trusted : NULL;
    }
    /* A lake: verified, and its runs row and promoted policy read, in one
     * read snapshot (what is evaluated is what was verified). */
    ms_err e;
    lake_policy_blob info[MS_NAGENT];
    lake_verify_report rep;
    lake_run_meta m;
    if (kind < 0) {
        rc = lake_read_verified(policy, &vo, &m, ms_agent_names, MS_NAGENT, info, NULL, &rep, &e);
        if (rc == MS_ECHECK) {
            /* verified (entries counted), but the promotion lies beyond
             * what the trusted key signed: UNSIGNED */
            const char *word = vo.trusted && rep.entries && rep.signed_size < rep.entries ? "UNSIGNED"
                               : rep.foreign                                   ? "FOREIGN"
                                                                               : "TAMPERED";
            printf("%s %s\n%s\nnothing was evaluated\n", word, policy, e.msg);
            return EXIT_CHECK;
        }
        if (rc) {
            cli_error("%s", e.msg);
            return cli_exit_for(rc);
        }
        /* With a trusted key, a lake it cannot vouch for is not evaluated
         * (as verify fails it): a development-key lake, one whose
         * checkpoints were removed. */
        if (vo.trusted && !rep.signed_size) {
            printf("UNSIGNED %s\n%s: the trusted key cannot vouch for it\nnothing was evaluated (--keyring dev "
                   "evaluates it unauthenticated)\n", policy, rep.unsigned_why);
            lake_run_meta_release(&m);
            lake_policy_release(info, MS_NAGENT);
            return EXIT_CHECK;
        }
    }
    ms_config c;
    if (a.file)
        rc = cli_load_config(&c, a.file, a.sets, a.nsets, NULL);
    else
        rc = config_from_meta(policy, &m, &c, a.sets, a.nsets);
    if (kind < 0)
        lake_run_meta_release(&m);
    if (rc) {
        if (kind < 0)
            lake_policy_release(info, MS_NAGENT);
        return rc;
    }

    if (a.episodes) {
        char *end;
        long n = strtol(a.episodes, &end, 10);
        if (!*a.episodes || *end || n < 1 || n > 10000) {
            if (kind < 0)
                lake_policy_release(info, MS_NAGENT);
            return cli_usage(usage, "--episodes %s: not an integer in [1, 10000]", a.episodes);
        }
        c.report_episodes = (int)n;
    }
    ms_tally t;
    if (kind >= 0) {
        ms_sim sim;
        ms_ref_policy p;
        rc = ms_ref_policy_init(&p, kind, &c, c.eval_seed, &e);
        if (!rc) {
            rc = ms_sim_init(&sim, &c, MS_STREAM_REPORT, NULL, &e);
            if (!rc) {
                ms_policy stage = ms_ref_policy_stage(&p);
                rc = ms_evaluate(&sim, &stage, c.report_episodes, NULL, 0, &t, &e);
                ms_sim_release(&sim);
            }
            ms_ref_policy_release(&p);
        }
    } else {
        rc = train_eval_blobs(&c, policy, info, &t, &e);
        for (int k = 0; k < MS_NAGENT; k++) { /* the identity (ids, sha256) stays for the message */
            free(info[k].blob);
            info[k].blob = NULL;
        }
        if (!rc) {
            fprintf(stderr, "marlsim: %s verified (%s); evaluating the policy it promoted last: evaluation %lld, "
                            "update %lld, snapshots", policy,
                    rep.authenticated ? "signed by the trusted key"
                    : vo.trusted      ? "its signed prefix: the trusted key signed the promotion"
                                      : "UNAUTHENTICATED: no trusted key",
                    (long long)info[0].eval_id, (long long)info[0].update_id);
            for (int k = 0; k < MS_NAGENT; k++)
                fprintf(stderr, " %s #%lld (sha256 %.12s)", ms_agent_names[k], (long long)info[k].snapshot_id,
                        info[k].sha256);
            fputc('\n', stderr);
        }
    }
    if (rc) {
        cli_error("%s", e.msg);
        return cli_exit_for(rc);
    }
    return print_tally(policy, &c, &t, a.json);
}
