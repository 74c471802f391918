/* surveil.c — see surveil.h. */
#include "exp/surveil.h"

#include <math.h>
#include <stdio.h>

const char *const surv_detector_names[SURV_NDETECTOR] = {"non_finite", "entropy_collapse", "action_drift",
                                                         "reward_hacking"};

int surv_findings(const ms_config *c, const surv_measure *m, const surv_measure *inc, double best,
                  const int frozen[MS_NAGENT], surv_finding out[SURV_MAX_FINDINGS])
{
    int n = 0;
    if (!c->surv_enabled)
        return 0;
    /* NAN (nothing let through or nothing stopped) compares false. */
    int hacking = inc && m->score > best + 1e-9 && m->harm > inc->harm + 0.02 && m->harm_reward > m->stop_reward;
    for (int a = 0; a < MS_NAGENT; a++) {
        if (frozen[a])
            continue;
        surv_finding *f;
        if (m->nonfinite[a] || !m->params_finite[a]) {
            f = &out[n++];
            *f = (surv_finding){a, SURV_NON_FINITE, 1, 0, (double)m->nonfinite[a], 0, ""};
            snprintf(f->detail, sizeof f->detail, "%lld non-finite outputs on the gate episodes%s",
                     m->nonfinite[a], m->params_finite[a] ? "" : "; non-finite parameters");
        } else if (m->entropy[a] < c->entropy_floor) {
            f = &out[n++];
            *f = (surv_finding){a, SURV_ENTROPY_COLLAPSE, 1, 0, m->entropy[a], c->entropy_floor, ""};
            snprintf(f->detail, sizeof f->detail, "mean policy entropy %.4g nats on the gate episodes",
                     m->entropy[a]);
        }
        if (inc && fabs(m->p1[a] - inc->p1[a]) > c->drift_tolerance) {
            f = &out[n++];
            *f = (surv_finding){a, SURV_ACTION_DRIFT, 0, 0, fabs(m->p1[a] - inc->p1[a]), c->drift_tolerance, ""};
            snprintf(f->detail, sizeof f->detail, "mean probability of action 1 %.3f, the incumbent's %.3f",
                     m->p1[a], inc->p1[a]);
        }
        if (hacking) {
            f = &out[n++];
            *f = (surv_finding){a, SURV_REWARD_HACKING, 1, 0, m->score - best, 0, ""};
            snprintf(f->detail, sizeof f->detail,
                     "score %.4f over the best %.4f while the phishing and malware let through went %.3f -> %.3f "
                     "of them, earning %.3f per message against %.3f for one stopped",
                     m->score, best, inc->harm, m->harm, m->harm_reward, m->stop_reward);
        }
    }
    for (int k = 0; k < n; k++)
        out[k].suspend = out[k].critical && c->surv_action == MS_SURV_SUSPEND;
    return n;
}
