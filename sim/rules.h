/* rules.h — the safety and business rules engine and credit (SPEC §4).
 *
 * Pure functions: the same (message facts, joint action) always gives the
 * same result and nothing outside the result is touched, so the difference
 * credit's counterfactuals run the very same engine without side effects.
 * Mailbox consequences (compromise countdown, quarantined domains, the
 * quarantine EMA) are applied by env.c from the result of the real action.
 *
 * Rules, in order (a fired rule sets its bit in `fired`):
 *   0 broadcast_rejected_hold       the broadcast failed validation: the
 *                                   message is held (effective QUARANTINE),
 *                                   no action of the agents applies.
 *   1 threat_intel_block            threat-intel hit without QUARANTINE is
 *                                   force-quarantined; penalty to BIN.
 *   2 preview_requires_fetch        preview without GET is vetoed; to OPEN.
 *   3 quarantine_supersedes_preview preview of a quarantined message is
 *                                   vetoed; penalty to OPEN.
 *   4 compromised_lockdown          while compromised previews are vetoed.
 * Afterwards an effective action never previews a message that is
 * quarantined or not fetched.
 */
#ifndef MS_RULES_H
#define MS_RULES_H

#include "sim/config.h"

enum { MS_AGENT_GET, MS_AGENT_OPEN, MS_AGENT_BIN, MS_NAGENT };
extern const char *const ms_agent_names[MS_NAGENT];
/* What action 1 of each agent is (action 0 is DO_NOTHING for all). */
extern const char *const ms_action_names[MS_NAGENT];

enum {
    MS_RULE_REJECTED_HOLD,
    MS_RULE_THREAT_INTEL_BLOCK,
    MS_RULE_PREVIEW_REQUIRES_FETCH,
    MS_RULE_QUARANTINE_SUPERSEDES_PREVIEW,
    MS_RULE_COMPROMISED_LOCKDOWN,
    MS_NRULE
};
extern const char *const ms_rule_names[MS_NRULE];

/* Outcome of a message: index into the reward table, except previewed which
 * earns delivered + previewed. */
enum { MS_OUTCOME_DELIVERED, MS_OUTCOME_PREVIEWED, MS_OUTCOME_QUARANTINED, MS_OUTCOME_IGNORED, MS_NOUTCOME };
extern const char *const ms_outcome_names[MS_NOUTCOME];

typedef struct ms_facts {
    unsigned char cls;          /* MS_CLASS_* */
    unsigned char threat_intel; /* threat_intel_hit feature */
    unsigned char compromised;  /* compromised feature */
    unsigned char rejected;     /* broadcast failed validation */
} ms_facts;

typedef struct ms_result {
    unsigned char eff[MS_NAGENT]; /* effective actions */
    unsigned char outcome;        /* MS_OUTCOME_* */
    unsigned char compromise;     /* 1 if this delivery compromises the mailbox */
    unsigned fired;               /* bit i = ms_rule_names[i] fired */
    double business;              /* reward-table terms */
    double penalty[MS_NAGENT];    /* rule penalties by agent they name */
    double compromise_cost;
    double raw;                   /* business + penalties + compromise */
    double reward;                /* raw clipped to +-reward_clip */
} ms_result;

/* Applies the rules to the joint action `act` (0/1 per agent). */
void ms_rules_apply(const ms_config *c, const ms_facts *f, const unsigned char act[MS_NAGENT], ms_result *r);

/* Credit per agent under method MS_CREDIT_* for the result r of act:
 *   global      every agent gets r->reward;
 *   difference  agent i gets r->reward - reward(act with a_i = 0), the
 *               counterfactual evaluated by ms_rules_apply (no side effects);
 *   rules       each term goes to the agent whose action caused it
 *               (delivered, ignored, compromise → GET; preview extra → OPEN;
 *               quarantined → BIN; penalties to the agent they name), all
 *               scaled by reward/raw when the clip binds. */
void ms_rules_credit(const ms_config *c, const ms_facts *f, const unsigned char act[MS_NAGENT],
                     const ms_result *r, int method, double credit[MS_NAGENT]);

#endif
