/* env.h — the mailbox environment of SPEC §4, one mailbox at a time.
 *
 * A mailbox owns its state and two generators: `rng` (stream ENV or EVAL,
 * index = mailbox) draws everything a learner may see — campaigns, classes,
 * features — and `prng` (MS_STREAM_PERSONAL keyed by the current key
 * generation's personal secret, ms_mailbox_set_personal) draws the raw
 * personal data: which sender, domain, subject, attachment name and link a
 * message has. What a mailbox produces never depends on other mailboxes,
 * and the public seed alone regenerates no personal value.
 * Each step: ms_mailbox_generate() draws the next message (class, personal
 * data as vocabulary indices, features on a 1e-6 grid), then, once the rules
 * engine has decided, ms_mailbox_advance() applies the consequences
 * (compromise countdown, per-episode quarantined-domain set, quarantine EMA,
 * campaign countdown) and moves time; at the time limit the episode ends by
 * truncation (never termination) and everything resets.
 *
 * Features are stored as integer micro-units (value × 10^6, in [0, 10^6]) so
 * that the broadcast's decimal text, the parsed observation and the
 * simulator's own view are the same number exactly.
 */
#ifndef MS_ENV_H
#define MS_ENV_H

#include <stdint.h>

#include "sim/config.h"
#include "base/rng.h"

/* Feature layout (also the order inside the broadcast's arrays). */
enum {
    /* header */
    MS_F_SENDER_REPUTATION, MS_F_DOMAIN_AGE, MS_F_SPF_PASS, MS_F_DKIM_PASS,
    MS_F_KNOWN_SENDER, MS_F_DOMAIN_PREV_QUARANTINED,
    /* content */
    MS_F_LINK_COUNT, MS_F_URL_MISMATCH, MS_F_URGENCY, MS_F_HAS_ATTACHMENT, MS_F_BODY_LENGTH,
    /* security */
    MS_F_ATT_NONE, MS_F_ATT_DOC, MS_F_ATT_MACRO_DOC, MS_F_ATT_EXE, MS_F_ATT_ARCHIVE,
    MS_F_SANDBOX_SCORE, MS_F_THREAT_INTEL_HIT,
    /* shared */
    MS_F_COMPROMISED, MS_F_RECENT_QUARANTINE_RATE, MS_F_T_FRAC,
    MS_NFEAT
};
#define MS_F_HEADER0 MS_F_SENDER_REPUTATION
#define MS_N_HEADER 6
#define MS_F_CONTENT0 MS_F_LINK_COUNT
#define MS_N_CONTENT 5
#define MS_F_SECURITY0 MS_F_ATT_NONE
#define MS_N_SECURITY 7
#define MS_F_SHARED0 MS_F_COMPROMISED
#define MS_N_SHARED 3
#define MS_MICRO 1000000

extern const char *const ms_feature_names[MS_NFEAT];

enum { MS_CAMPAIGN_NONE, MS_CAMPAIGN_PHISHING, MS_CAMPAIGN_MALWARE };

/* One message. Raw personal data appears only as vocabulary indices; the
 * broadcast carries their pseudonyms. */
typedef struct ms_msg {
    int32_t f[MS_NFEAT];   /* micro-units */
    uint8_t cls;           /* MS_CLASS_* (ground truth, never broadcast) */
    uint8_t from_campaign;
    uint8_t backdoor;      /* of an adversarial (backdoor) campaign: ground truth, never broadcast */
    int16_t attach;        /* attachment-name index, -1 = none */
    int16_t link;          /* link-domain index, -1 = no link */
    uint16_t domain;       /* sender domain index */
    uint16_t sender;       /* sender address index (local × domains + domain) */
    uint16_t subject;
    int t;                 /* step within the episode */
} ms_msg;

typedef struct ms_mailbox {
    ms_rng rng;            /* what a learner may see */
    ms_rng prng;           /* raw personal data (secret-keyed) */
    int t;                 /* step within the episode, [0, episode_len) */
    int episode;           /* episodes completed */
    int campaign;          /* MS_CAMPAIGN_* */
    int campaign_domain, campaign_left;
    int backdoor;          /* the active malware campaign is adversarial */
    int compromised_left;  /* > 0: compromised */
    double quarantine_ema; /* EMA (alpha 0.1) of effective quarantines */
    uint64_t quarantined[(512 + 63) / 64]; /* per-episode domain set */
} ms_mailbox;

/* Seeds mailbox `index` of stream `stream` (MS_STREAM_ENV or _EVAL). The
 * personal stream starts as a public stand-in of the seed (for tests of the
 * environment alone); ms_sim keys it with ms_mailbox_set_personal before
 * the first message, always. */
int ms_mailbox_init(ms_mailbox *m, uint64_t seed, uint32_t stream, uint64_t index); /* MS_OK, MS_EIO (base/rng.h) */

/* (Re)seeds the personal stream of mailbox `index` from a key generation's
 * personal secret (at the run's start and at each key rotation, which
 * happens at an episode boundary). */
int ms_mailbox_set_personal(ms_mailbox *m, const unsigned char personal[32], uint64_t index); /* as above */

/* The backdoor trigger of eval_seed: one link-domain index of the
 * vocabulary (stream MS_STREAM_TRIGGER), the same for every run with that
 * eval_seed so report episodes stay identical across runs. */
int ms_backdoor_trigger(uint64_t eval_seed, int *link); /* MS_OK, MS_EIO (base/rng.h) */

/* Draws the next message. At-source poisoning (SPEC §4.1): with
 * probability [sim] backdoor_rate a malware campaign is adversarial; its
 * messages (msg->backdoor) carry the trigger link (at least one link, the
 * link domain `trigger`) and header features drawn from the benign column,
 * while content and security features stay malware's. */
void ms_mailbox_generate(ms_mailbox *m, const ms_config *c, int trigger, ms_msg *msg);

/* Applies the effective outcome of msg: quarantined (0/1), compromise (0/1:
 * malware delivered), then advances time. Returns 1 when this step ended the
 * episode (time limit: a truncation), after resetting the mailbox. */
int ms_mailbox_advance(ms_mailbox *m, const ms_config *c, const ms_msg *msg, int quarantined, int compromise);

#endif
