/* marlsim eval: held-out greedy evaluation of a reference or trained policy. */
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "exp/trainer.h"
#include "sim/policy.h"

static const char usage[] =
    "usage: marlsim eval CONFIG.ini --policy random|heuristic|oracle|RUN.db [--set section.key=value]... [--json]\n"
    "\n"
    "Plays [gate] eval_episodes x [sim] envs held-out episodes (evaluation seed\n"
    "stream, greedy actions) and prints the mean reward per env-step and the\n"
    "outcome counts per message class. RUN.db uses the last promoted policy\n"
    "stored in that lake. --json prints one JSON object on stdout.\n";

static void print_tally(const char *policy, const ms_config *c, const ms_tally *t, int json)
{
    char hash[65];
    ms_config_hash(c, hash);
    double mean = t->env_steps ? t->reward_sum / (double)t->env_steps : 0.0;
    static const char *const cols[MS_NOUTCOME_TALLY] = {"delivered", "previewed", "quarantined", "ignored", "held"};
    if (json) {
        printf("{\"policy\":");
        cli_json_string(stdout, policy);
        printf(",\"config_sha256\":\"%s\",\"episodes\":%lld,\"env_steps\":%lld,\"mean_reward_per_step\":%.6f,"
               "\"mean_raw_reward_per_step\":%.6f,\"rejected_broadcasts\":%lld,\"outcomes\":{",
               hash, (long long)c->eval_episodes * c->envs, (long long)t->env_steps, mean,
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
        return;
    }
    printf("policy: %s\n", policy);
    printf("config_sha256: %s\n", hash);
    printf("episodes: %lld (%d per mailbox x %d mailboxes)\n", (long long)c->eval_episodes * c->envs,
           c->eval_episodes, c->envs);
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
}

int cmd_eval(int argc, char **argv)
{
    cli_args a;
    int rc = cli_parse_args(argc, argv, CLI_OPT_JSON | CLI_OPT_SET | CLI_OPT_POLICY, usage, "CONFIG.ini", &a);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    const char *policy = a.policy;
    ms_config c;
    rc = cli_load_config(&c, a.file, a.sets, a.nsets, NULL);
    if (rc)
        return rc;

    ms_err e;
    ms_sim sim;
    ms_tally t;
    int kind = -1;
    for (int k = 0; k < MS_NREF; k++)
        if (!strcmp(policy, ms_ref_names[k]))
            kind = k;
    if (kind >= 0) {
        ms_ref_policy p;
        rc = ms_ref_policy_init(&p, kind, &c, c.eval_seed, &e);
        if (!rc) {
            rc = ms_sim_init(&sim, &c, MS_STREAM_EVAL, &e);
            if (!rc) {
                ms_policy stage = ms_ref_policy_stage(&p);
                rc = ms_evaluate(&sim, &stage, c.eval_episodes, NULL, 0, &t, &e);
                ms_sim_release(&sim);
            }
            ms_ref_policy_release(&p);
        }
    } else if (access(policy, F_OK) != 0) {
        cli_error("--policy %s: not a reference policy (random, heuristic, oracle) and no such lake file", policy);
        return EXIT_USAGE;
    } else {
        rc = train_eval_lake_policy(&c, policy, &t, &e);
    }
    if (rc) {
        cli_error("%s", e.msg);
        return cli_exit_for(rc);
    }
    print_tally(policy, &c, &t, a.json);
    return EXIT_OK;
}
