/* episode — a program built only against the installed marlsim.h and
 * libmarlsim (tests/install.sh): plays STEPS steps of the report stream of
 * CONFIG with the heuristic reference policy and prints, per step, the sum
 * of the mailboxes' rewards (%.17g) and the outcome counts; the Python
 * package prints the same lines for the same run. Exit 0, or 1 with the
 * library's message on stderr. */
#include <marlsim.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: episode CONFIG STEPS\n");
        return 2;
    }
    marlsim_config *c = NULL;
    marlsim_env *env = NULL;
    if (marlsim_config_create(&c, argv[1], NULL, NULL, 0)) {
        fprintf(stderr, "episode: %s\n", marlsim_config_error(c));
        return 1;
    }
    if (marlsim_env_create(&env, c, MARLSIM_STREAM_REPORT, 0)) {
        fprintf(stderr, "episode: %s\n", marlsim_env_error(env));
        return 1;
    }
    int n = marlsim_env_num_envs(env), steps = (int)strtol(argv[2], NULL, 10), rc = 0;
    uint8_t *act = malloc((size_t)n * 3), *outcome = malloc((size_t)n);
    double *reward = malloc(sizeof(double) * (size_t)n);
    marlsim_batch out = {.reward = reward, .outcome = outcome};
    for (int t = 0; t < steps && !rc && act && outcome && reward; t++) {
        rc = marlsim_env_reference_actions(env, MARLSIM_REF_HEURISTIC, act, NULL);
        if (!rc)
            rc = marlsim_env_step(env, act, &out);
        double sum = 0;
        int count[4] = {0};
        for (int i = 0; !rc && i < n; i++) {
            sum += reward[i];
            count[outcome[i]]++;
        }
        if (!rc)
            printf("step %d reward %.17g outcomes %d %d %d %d\n", t, sum, count[0], count[1], count[2], count[3]);
    }
    if (rc)
        fprintf(stderr, "episode: %s: %s\n", marlsim_status_name(rc), marlsim_env_error(env));
    printf("marlsim %s, %d mailboxes\n", marlsim_version(), n);
    free(act);
    free(outcome);
    free(reward);
    marlsim_env_free(env);
    marlsim_config_free(c);
    return rc ? 1 : 0;
}
