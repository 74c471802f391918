#include "sim/rules.h"

const char *const ms_agent_names[MS_NAGENT] = {"GET", "OPEN", "BIN"};
const char *const ms_action_names[MS_NAGENT] = {"GET", "OPEN_SAFE_PREVIEW", "QUARANTINE"};
const char *const ms_rule_names[MS_NRULE] = {
    "broadcast_rejected_hold", "threat_intel_block", "preview_requires_fetch",
    "quarantine_supersedes_preview", "compromised_lockdown"};
const char *const ms_outcome_names[MS_NOUTCOME] = {"delivered", "previewed", "quarantined", "ignored"};

void ms_rules_apply(const ms_config *c, const ms_facts *f, const unsigned char act[MS_NAGENT], ms_result *r)
{
    unsigned char get = act[MS_AGENT_GET] != 0, open = act[MS_AGENT_OPEN] != 0, bin = act[MS_AGENT_BIN] != 0;
    unsigned fired = 0;
    double pen[MS_NAGENT] = {0, 0, 0};

    if (f->rejected) {
        fired |= 1u << MS_RULE_REJECTED_HOLD;
        get = 0, open = 0, bin = 1;
    }
    if (f->threat_intel && !bin) {
        fired |= 1u << MS_RULE_THREAT_INTEL_BLOCK;
        bin = 1;
        pen[MS_AGENT_BIN] += c->penalty_threat_intel_block;
    }
    if (open && !get) {
        fired |= 1u << MS_RULE_PREVIEW_REQUIRES_FETCH;
        open = 0;
        pen[MS_AGENT_OPEN] += c->penalty_preview_requires_fetch;
    }
    if (open && bin) {
        fired |= 1u << MS_RULE_QUARANTINE_SUPERSEDES_PREVIEW;
        open = 0;
        pen[MS_AGENT_OPEN] += c->penalty_quarantine_supersedes_preview;
    }
    if (open && f->compromised) {
        fired |= 1u << MS_RULE_COMPROMISED_LOCKDOWN;
        open = 0;
    }

    const double *row = c->reward[f->cls];
    double business;
    unsigned char outcome;
    if (bin) {
        outcome = MS_OUTCOME_QUARANTINED;
        business = row[MS_OUT_QUARANTINED];
    } else if (get) {
        outcome = open ? MS_OUTCOME_PREVIEWED : MS_OUTCOME_DELIVERED;
        business = row[MS_OUT_DELIVERED] + (open ? row[MS_OUT_PREVIEWED] : 0.0);
    } else {
        outcome = MS_OUTCOME_IGNORED;
        business = row[MS_OUT_IGNORED];
    }
    r->compromise = f->cls == MS_CLASS_MALWARE && get && !bin;
    r->compromise_cost = r->compromise ? c->compromise_cost : 0.0;

    r->eff[MS_AGENT_GET] = get;
    r->eff[MS_AGENT_OPEN] = open;
    r->eff[MS_AGENT_BIN] = bin;
    r->outcome = outcome;
    r->fired = fired;
    r->business = business;
    for (int i = 0; i < MS_NAGENT; i++)
        r->penalty[i] = pen[i];
    r->raw = business + pen[0] + pen[1] + pen[2] + r->compromise_cost;
    r->reward = r->raw > c->reward_clip ? c->reward_clip : r->raw < -c->reward_clip ? -c->reward_clip : r->raw;
}

void ms_rules_credit(const ms_config *c, const ms_facts *f, const unsigned char act[MS_NAGENT],
                     const ms_result *r, int method, double credit[MS_NAGENT])
{
    switch (method) {
    case MS_CREDIT_GLOBAL:
        for (int i = 0; i < MS_NAGENT; i++)
            credit[i] = r->reward;
        return;
    case MS_CREDIT_DIFFERENCE:
        for (int i = 0; i < MS_NAGENT; i++) {
            unsigned char cf[MS_NAGENT] = {act[0], act[1], act[2]};
            cf[i] = 0;
            ms_result alt;
            ms_rules_apply(c, f, cf, &alt);
            credit[i] = r->reward - alt.reward;
        }
        return;
    case MS_CREDIT_RULES: {
        const double *row = c->reward[f->cls];
        double term[MS_NAGENT] = {r->penalty[0], r->penalty[1], r->penalty[2]};
        switch (r->outcome) {
        case MS_OUTCOME_QUARANTINED: term[MS_AGENT_BIN] += row[MS_OUT_QUARANTINED]; break;
        case MS_OUTCOME_IGNORED: term[MS_AGENT_GET] += row[MS_OUT_IGNORED]; break;
        case MS_OUTCOME_PREVIEWED: term[MS_AGENT_OPEN] += row[MS_OUT_PREVIEWED]; /* fall through */
        case MS_OUTCOME_DELIVERED: term[MS_AGENT_GET] += row[MS_OUT_DELIVERED]; break;
        }
        term[MS_AGENT_GET] += r->compromise_cost;
        double scale = (r->raw != r->reward && r->raw != 0.0) ? r->reward / r->raw : 1.0;
        for (int i = 0; i < MS_NAGENT; i++)
            credit[i] = term[i] * scale;
        return;
    }
    }
}
