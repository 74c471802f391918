/* defence.c — see defence.h. */
#include "exp/defence.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const defence_detector_names[DEFENCE_NDETECTOR] = {"none", "reward_contradicts_evidence", "link_history"};

enum { NGAUSS = 4, NBERN = 2, NKIND = 5 };
static const int gauss_feat[NGAUSS] = {MS_F_LINK_COUNT, MS_F_URGENCY, MS_F_BODY_LENGTH, MS_F_SANDBOX_SCORE};
static const int bern_feat[NBERN] = {MS_F_URL_MISMATCH, MS_F_THREAT_INTEL_HIT};

typedef struct class_model {
    double n;
    double mean[NGAUSS], m2[NGAUSS];
    double ones[NBERN];
    double kind[NKIND];
} class_model;

/* Link pseudonyms seen in flagged samples: open addressing over their symbols. */
#define LINK_SLOTS 4096
typedef struct link_slot {
    char pn[MS_PSEUDO_LEN]; /* the pseudonym's symbols (base64url) */
    int used, flags, seen; /* flagged samples with it; benign-feedback samples with it */
} link_slot;

struct defence {
    const ms_config *c;
    class_model m[MS_NCLASS];
    link_slot links[LINK_SLOTS];
    int nlinks;
};

int defence_init(defence **out, const ms_config *c, ms_err *e)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return ms_fail(e, MS_EIO, "out of memory for the defence");
    (*out)->c = c;
    return MS_OK;
}

void defence_free(defence *d)
{
    free(d);
}

int defence_feedback_class(const ms_config *c, const ms_step *s, int i)
{
    const ms_result *r = &s->res[i];
    if (s->reject[i] || r->reward != r->raw || r->outcome == MS_OUTCOME_IGNORED)
        return -1;
    /* The rules that fired say the penalties (the public rule table); the
     * rest of the reward is the outcome feedback. */
    double pen = 0;
    if (r->fired & (1u << MS_RULE_THREAT_INTEL_BLOCK))
        pen += c->penalty_threat_intel_block;
    if (r->fired & (1u << MS_RULE_PREVIEW_REQUIRES_FETCH))
        pen += c->penalty_preview_requires_fetch;
    if (r->fired & (1u << MS_RULE_QUARANTINE_SUPERSEDES_PREVIEW))
        pen += c->penalty_quarantine_supersedes_preview;
    double business = r->raw - pen;
    int found = -1;
    for (int k = 0; k < MS_NCLASS; k++) {
        const double *row = c->reward[k];
        double want = r->outcome == MS_OUTCOME_QUARANTINED ? row[MS_OUT_QUARANTINED]
                      : r->outcome == MS_OUTCOME_PREVIEWED ? row[MS_OUT_DELIVERED] + row[MS_OUT_PREVIEWED]
                                                           : row[MS_OUT_DELIVERED];
        if (k == MS_CLASS_MALWARE && r->outcome != MS_OUTCOME_QUARANTINED)
            want += c->compromise_cost; /* a delivery of malware costs the compromise too */
        if (fabs(want - business) < 1e-9) {
            if (found >= 0)
                return -1; /* two classes give this reward: it does not tell */
            found = k;
        }
    }
    return found;
}

static int kind_of(const float *f)
{
    for (int k = 0; k < NKIND; k++)
        if (f[MS_F_ATT_NONE + k] > 0.5f)
            return k;
    return 0;
}

static double loglik(const class_model *m, const float *f)
{
    double ll = 0;
    for (int j = 0; j < NGAUSS; j++) {
        double var = m->n > 1 ? m->m2[j] / m->n : 1.0;
        if (var < 1e-3)
            var = 1e-3; /* floor: a feature a class never varies must not be infinitely sure */
        double x = f[gauss_feat[j]] - m->mean[j];
        ll += -0.5 * (log(2 * M_PI * var) + x * x / var);
    }
    for (int j = 0; j < NBERN; j++) {
        double p = (m->ones[j] + 1.0) / (m->n + 2.0);
        ll += f[bern_feat[j]] > 0.5f ? log(p) : log(1 - p);
    }
    ll += log((m->kind[kind_of(f)] + 1.0) / (m->n + NKIND));
    return ll;
}

static void learn(class_model *m, const float *f)
{
    m->n += 1;
    for (int j = 0; j < NGAUSS; j++) {
        double x = f[gauss_feat[j]], d = x - m->mean[j];
        m->mean[j] += d / m->n;
        m->m2[j] += d * (x - m->mean[j]);
    }
    for (int j = 0; j < NBERN; j++)
        m->ones[j] += f[bern_feat[j]] > 0.5f;
    m->kind[kind_of(f)] += 1;
}

/* The link pseudonym's MS_PSEUDO_LEN symbols in the broadcast bytes, or
 * NULL. The bytes were validated, so "link":"<pseudonym>" or "link":null is
 * there (sim/bcast.h). */
static const char *link_pseudonym(const ms_step *s, int i)
{
    const char *b = s->bcast + (size_t)i * MS_BCAST_MAX;
    const char *p = memmem(b, (size_t)s->bcast_len[i], "\"link\":\"", 8);
    if (!p || p + 8 + MS_PSEUDO_LEN > b + s->bcast_len[i])
        return NULL;
    return p + 8;
}

static link_slot *link_find(defence *d, const char *pn, int insert)
{
    unsigned h = 2166136261u;
    for (int k = 0; k < MS_PSEUDO_LEN; k++)
        h = (h ^ (unsigned char)pn[k]) * 16777619u;
    for (int probe = 0; probe < LINK_SLOTS; probe++) {
        link_slot *sl = &d->links[(h + (unsigned)probe) % LINK_SLOTS];
        if (sl->used && !memcmp(sl->pn, pn, MS_PSEUDO_LEN))
            return sl;
        if (!sl->used) {
            if (!insert || d->nlinks >= LINK_SLOTS / 2)
                return NULL; /* full enough: stop remembering new links */
            sl->used = 1;
            memcpy(sl->pn, pn, MS_PSEUDO_LEN);
            d->nlinks++;
            return sl;
        }
    }
    return NULL;
}

int defence_judge(defence *d, const ms_step *s, int i, double *score)
{
    *score = 0;
    int fb = defence_feedback_class(d->c, s, i);
    if (fb < 0)
        return DEFENCE_NONE;
    const float *f = s->feat + (size_t)i * MS_NFEAT;
    const char *lh = link_pseudonym(s, i);
    int detector = DEFENCE_NONE;
    double llr = -INFINITY; /* no other class judges yet */
    if (d->m[fb].n >= DEFENCE_WARMUP) {
        double own = loglik(&d->m[fb], f);
        for (int k = 0; k < MS_NCLASS; k++)
            if (k != fb && d->m[k].n >= DEFENCE_WARMUP) {
                double ll = loglik(&d->m[k], f) - own;
                if (ll > llr)
                    llr = ll;
            }
        if (llr > DEFENCE_THRESHOLD) {
            detector = DEFENCE_EVIDENCE;
            *score = llr;
        }
    }
    link_slot *sl = fb == MS_CLASS_BENIGN && lh ? link_find(d, lh, 1) : NULL;
    if (sl)
        sl->seen++;
    if (detector == DEFENCE_NONE && sl && sl->flags >= DEFENCE_LINK_FLAGS && 2 * sl->flags >= sl->seen) {
        detector = DEFENCE_LINK;
        *score = sl->flags;
    }
    if (detector == DEFENCE_NONE && llr <= DEFENCE_DOUBT)
        learn(&d->m[fb], f);
    else if (sl)
        sl->flags++;
    return detector;
}
