/* defence.h — detectors of poisoned training samples (SPEC §4.1).
 *
 * What they may see: exactly what a learner sees — the features parsed from
 * the validated broadcast bytes, the link pseudonym in those bytes, the
 * reward the rules engine returned, the effective actions and the rules that
 * fired (with the public reward table of the config, these say which
 * outcome feedback the reward stands for). Never the ground truth: they do
 * not read ms_msg (class, backdoor flag) nor ms_step.forged, nor the poison
 * ground truth.
 *
 * Detectors, in order (the first that fires names the flag):
 *   reward_contradicts_evidence  The feedback class the reward implies
 *       (unique when the outcome is delivered, previewed or quarantined;
 *       ignored is ambiguous) is compared with the content and security
 *       evidence under per-class models learned online from the samples
 *       themselves (Gaussian for link count, urgency, body length and sandbox
 *       score; Bernoulli for URL mismatch and threat intelligence;
 *       categorical for the attachment kind; Laplace-smoothed, variance
 *       floored). score = max over other classes k of log p(x | k) - log p(x
 *       | feedback class); flagged when score > DEFENCE_THRESHOLD and both
 *       classes have seen DEFENCE_WARMUP samples. Only samples it doubts
 *       little (score <= DEFENCE_DOUBT) update the models: poisoned ones,
 *       flagged or merely suspect, do not teach the detector, so early
 *       forgeries that pass do not widen the class they claim.
 *   link_history  A sample whose reward implies benign feedback and whose
 *       link domain (pseudonym) was in DEFENCE_LINK_FLAGS or more flagged
 *       samples, and in at least half of the benign-feedback samples that
 *       carried it: a campaign's trigger link marks its mail even where the
 *       evidence alone is weak, while a link a few false alarms happened to
 *       share does not. score = the flagged count.
 * Flagged samples are excluded from training like rejected broadcasts.
 *
 * Deviation from SPEC §4.1, named: the history detector keeps per-link
 * history, not robust statistics per sender domain. A backdoor campaign's
 * domain is fresh (drawn per campaign), so the sender's history is the
 * campaign itself and has nothing to contradict; its trigger link is what
 * its mail shares across campaigns. The evidence models are made robust by
 * learning only from samples they do not doubt (DEFENCE_DOUBT).
 *
 * Determinism: the models update in mailbox order within a step, in double;
 * the same run gives the same flags. Memory: allocated at init; judging
 * allocates nothing.
 */
#ifndef MS_EXP_DEFENCE_H
#define MS_EXP_DEFENCE_H

#include "sim/sim.h"

#define DEFENCE_THRESHOLD 12.0 /* nats: exp(12) ~ 160000:1 against the feedback */
#define DEFENCE_DOUBT 8.0      /* nats: samples more doubtful than this teach nothing
                                  (2 and 4 narrowed the models until honest
                                  tails were flagged: precision 0.84-0.87) */
#define DEFENCE_WARMUP 200     /* samples per class before its model judges */
#define DEFENCE_LINK_FLAGS 3   /* flagged samples before a link marks its mail */

enum { DEFENCE_NONE, DEFENCE_EVIDENCE, DEFENCE_LINK, DEFENCE_NDETECTOR };
extern const char *const defence_detector_names[DEFENCE_NDETECTOR];

typedef struct defence defence;

/* MS_OK, or MS_EIO when memory runs out (then *out is NULL). */
int defence_init(defence **out, const ms_config *c, ms_err *e);
void defence_free(defence *d);

/* Judges mailbox i of step s (a validated broadcast): returns the detector
 * that flags it (DEFENCE_NONE when none does) and its score in *score. When
 * nothing flags it, it teaches the models. Call for every valid sample of
 * a step in mailbox order. */
int defence_judge(defence *d, const ms_step *s, int i, double *score);

/* The feedback class the reward of mailbox i implies (MS_CLASS_*), or -1
 * when the outcome does not tell (ignored, held, a clipped reward). */
int defence_feedback_class(const ms_config *c, const ms_step *s, int i);

#endif
