#include "sim/env.h"

#include <math.h>
#include <string.h>

#include "sim/pseudo.h"

const char *const ms_feature_names[MS_NFEAT] = {
    "sender_reputation", "domain_age", "spf_pass", "dkim_pass", "known_sender", "domain_prev_quarantined",
    "link_count", "url_mismatch", "urgency", "has_attachment", "body_length",
    "att_none", "att_doc", "att_macro_doc", "att_exe", "att_archive", "sandbox_score", "threat_intel_hit",
    "compromised", "recent_quarantine_rate", "t_frac"};

/* SPEC §4 feature table, by class (benign, spam, phishing, malware). */
static const double mu_reputation[MS_NCLASS] = {.80, .40, .35, .30};
static const double mu_domain_age[MS_NCLASS] = {.70, .40, .20, .25};
static const double p_spf[MS_NCLASS] = {.95, .60, .40, .50};
static const double p_dkim[MS_NCLASS] = {.90, .50, .30, .40};
static const double p_known[MS_NCLASS] = {.60, .05, .10, .05};
static const double lambda_links[MS_NCLASS] = {1, 4, 3, 1};
static const double p_url_mismatch[MS_NCLASS] = {.02, .20, .70, .30};
static const double mu_urgency[MS_NCLASS] = {.20, .50, .75, .60};
static const double p_attachment[MS_NCLASS] = {.30, .10, .20, .90};
static const double mu_body[MS_NCLASS] = {.50, .40, .30, .20};
/* attachment kind given an attachment: doc, macro_doc, exe, archive */
static const double p_kind[MS_NCLASS][4] = {
    {.80, .05, .02, .13}, {.50, .10, .10, .30}, {.60, .20, .05, .15}, {.10, .40, .30, .20}};
static const double mu_sandbox[MS_NCLASS] = {.10, .20, .40, .80};
static const double p_threat_intel[MS_NCLASS] = {.001, .02, .25, .35};

static int32_t micro(double x)
{
    if (!(x > 0.0)) /* also maps NaN to 0, though no draw produces one */
        return 0;
    if (x >= 1.0)
        return MS_MICRO;
    return (int32_t)lround(x * MS_MICRO);
}

static void episode_reset(ms_mailbox *m)
{
    m->t = 0;
    m->campaign = MS_CAMPAIGN_NONE;
    m->campaign_domain = 0;
    m->campaign_left = 0;
    m->backdoor = 0;
    m->compromised_left = 0;
    m->quarantine_ema = 0.0;
    memset(m->quarantined, 0, sizeof m->quarantined);
}

int ms_mailbox_init(ms_mailbox *m, uint64_t seed, uint32_t stream, uint64_t index)
{
    memset(m, 0, sizeof *m);
    episode_reset(m);
    /* prng: a public stand-in until a key generation keys it (ms_sim always
     * does): never an all-zero generator, which would draw only zeros. */
    if (ms_rng_seed(&m->rng, seed, stream, index) ||
        ms_rng_seed(&m->prng, seed, MS_STREAM_PERSONAL + 16 * stream, index))
        return MS_EIO;
    return MS_OK;
}

int ms_mailbox_set_personal(ms_mailbox *m, const unsigned char personal[32], uint64_t index)
{
    return ms_rng_seed_key(&m->prng, personal, MS_STREAM_PERSONAL, index);
}

static int draw_class(ms_rng *r, const double *priors)
{
    double u = ms_rng_uniform(r), acc = 0;
    for (int k = 0; k < MS_NCLASS - 1; k++) {
        acc += priors[k];
        if (u < acc)
            return k;
    }
    return MS_NCLASS - 1;
}

int ms_backdoor_trigger(uint64_t eval_seed, int *link)
{
    ms_rng r;
    if (ms_rng_seed(&r, eval_seed, MS_STREAM_TRIGGER, 0))
        return MS_EIO;
    *link = (int)ms_rng_below(&r, MS_VOCAB_LINKS);
    return MS_OK;
}

void ms_mailbox_generate(ms_mailbox *m, const ms_config *c, int trigger, ms_msg *msg)
{
    ms_rng *r = &m->rng, *pr = &m->prng;
    /* Draw order is part of the determinism contract; do not reorder. */
    if (m->campaign == MS_CAMPAIGN_NONE && ms_rng_bernoulli(r, c->campaign_rate)) {
        m->campaign = ms_rng_bernoulli(r, 0.6) ? MS_CAMPAIGN_PHISHING : MS_CAMPAIGN_MALWARE;
        m->campaign_domain = (int)ms_rng_below(pr, MS_VOCAB_DOMAINS);
        m->campaign_left = 5 + (int)ms_rng_below(r, 16); /* uniform 5..20 steps */
        /* An adversarial malware campaign (drawn only when the feature is
         * on, so clean configurations keep their streams). */
        m->backdoor = m->campaign == MS_CAMPAIGN_MALWARE && c->backdoor_rate > 0 &&
                      ms_rng_bernoulli(r, c->backdoor_rate);
    }
    int cls, domain;
    msg->from_campaign = 0;
    msg->backdoor = 0;
    if (m->campaign != MS_CAMPAIGN_NONE && ms_rng_bernoulli(r, 0.6)) {
        cls = m->campaign == MS_CAMPAIGN_PHISHING ? MS_CLASS_PHISHING : MS_CLASS_MALWARE;
        domain = m->campaign_domain;
        msg->from_campaign = 1;
        msg->backdoor = (uint8_t)m->backdoor;
    } else {
        cls = draw_class(r, c->priors);
        domain = (int)ms_rng_below(pr, MS_VOCAB_DOMAINS);
    }
    msg->cls = (uint8_t)cls;
    msg->domain = (uint16_t)domain;
    msg->sender = (uint16_t)(ms_rng_below(pr, MS_VOCAB_LOCALS) * MS_VOCAB_DOMAINS + (unsigned)domain);
    msg->subject = (uint16_t)ms_rng_below(pr, MS_VOCAB_SUBJECTS);
    msg->t = m->t;

    int32_t *f = msg->f;
    /* A backdoor message's header passes for benign; its content and
     * security features stay malware's. */
    int hcls = msg->backdoor ? MS_CLASS_BENIGN : cls;
    f[MS_F_SENDER_REPUTATION] = micro(mu_reputation[hcls] + 0.15 * ms_rng_normal(r));
    f[MS_F_DOMAIN_AGE] = micro(mu_domain_age[hcls] + 0.20 * ms_rng_normal(r));
    f[MS_F_SPF_PASS] = ms_rng_bernoulli(r, p_spf[hcls]) * MS_MICRO;
    f[MS_F_DKIM_PASS] = ms_rng_bernoulli(r, p_dkim[hcls]) * MS_MICRO;
    f[MS_F_KNOWN_SENDER] = ms_rng_bernoulli(r, p_known[hcls]) * MS_MICRO;
    f[MS_F_DOMAIN_PREV_QUARANTINED] = (int32_t)((m->quarantined[domain >> 6] >> (domain & 63)) & 1) * MS_MICRO;

    unsigned links = ms_rng_poisson(r, lambda_links[cls]);
    if (msg->backdoor && !links)
        links = 1; /* it carries the trigger link */
    f[MS_F_LINK_COUNT] = micro(links / 10.0);
    f[MS_F_URL_MISMATCH] = ms_rng_bernoulli(r, p_url_mismatch[cls]) * MS_MICRO;
    f[MS_F_URGENCY] = micro(mu_urgency[cls] + 0.15 * ms_rng_normal(r));
    int has_att = ms_rng_bernoulli(r, p_attachment[cls]);
    f[MS_F_HAS_ATTACHMENT] = has_att * MS_MICRO;
    f[MS_F_BODY_LENGTH] = micro(mu_body[cls] + 0.20 * ms_rng_normal(r));

    for (int k = MS_F_ATT_NONE; k <= MS_F_ATT_ARCHIVE; k++)
        f[k] = 0;
    if (has_att) {
        double u = ms_rng_uniform(r), acc = 0;
        int kind = 3;
        for (int k = 0; k < 3; k++) {
            acc += p_kind[cls][k];
            if (u < acc) {
                kind = k;
                break;
            }
        }
        f[MS_F_ATT_DOC + kind] = MS_MICRO;
        f[MS_F_SANDBOX_SCORE] = micro(mu_sandbox[cls] + 0.20 * ms_rng_normal(r));
        msg->attach = (int16_t)ms_rng_below(pr, MS_VOCAB_ATTACH);
    } else {
        f[MS_F_ATT_NONE] = MS_MICRO;
        f[MS_F_SANDBOX_SCORE] = micro(0.05 + 0.05 * ms_rng_normal(r));
        msg->attach = -1;
    }
    f[MS_F_THREAT_INTEL_HIT] = ms_rng_bernoulli(r, p_threat_intel[cls]) * MS_MICRO;
    msg->link = msg->backdoor ? (int16_t)trigger : links ? (int16_t)ms_rng_below(pr, MS_VOCAB_LINKS) : -1;

    f[MS_F_COMPROMISED] = (m->compromised_left > 0) * MS_MICRO;
    f[MS_F_RECENT_QUARANTINE_RATE] = micro(m->quarantine_ema);
    f[MS_F_T_FRAC] = micro((double)m->t / c->episode_len);
}

int ms_mailbox_advance(ms_mailbox *m, const ms_config *c, const ms_msg *msg, int quarantined, int compromise)
{
    if (quarantined)
        m->quarantined[msg->domain >> 6] |= 1ull << (msg->domain & 63);
    m->quarantine_ema = 0.9 * m->quarantine_ema + 0.1 * (quarantined ? 1.0 : 0.0);
    /* The countdown covers the messages after the one that caused it. */
    if (m->compromised_left > 0)
        m->compromised_left--;
    if (compromise)
        m->compromised_left = c->compromise_steps;
    if (m->campaign != MS_CAMPAIGN_NONE && --m->campaign_left <= 0)
        m->campaign = MS_CAMPAIGN_NONE;
    if (++m->t >= c->episode_len) {
        m->episode++;
        episode_reset(m);
        return 1;
    }
    return 0;
}
