#include "sim/sim.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

const int ms_modality_dim[MS_NAGENT] = {MS_N_HEADER + MS_N_SHARED, MS_N_CONTENT + MS_N_SHARED,
                                        MS_N_SECURITY + MS_N_SHARED};
static const int modality_first[MS_NAGENT] = {MS_F_HEADER0, MS_F_CONTENT0, MS_F_SECURITY0};
static const int modality_len[MS_NAGENT] = {MS_N_HEADER, MS_N_CONTENT, MS_N_SECURITY};

int ms_obs_feature(int agent, int observe, int k)
{
    if (agent < 0 || agent >= MS_NAGENT || k < 0)
        return -1;
    if (observe == MS_OBSERVE_ALL)
        for (agent = 0; agent < MS_NAGENT && k >= ms_modality_dim[agent]; agent++)
            k -= ms_modality_dim[agent];
    if (agent >= MS_NAGENT || k >= ms_modality_dim[agent])
        return -1;
    return k < modality_len[agent] ? modality_first[agent] + k : MS_F_SHARED0 + (k - modality_len[agent]);
}

/* Moves to the run's key generation `index`: pseudonyms, broadcast MACs
 * and every mailbox's personal stream. */
static int set_keys(ms_sim *sim, int index, ms_err *e)
{
    ms_keys_clear(&sim->keys);
    int rc = ms_keys_load(&sim->keys, &sim->ks, index, e);
    if (!rc)
        rc = ms_pseudonyms_rekey(&sim->pn, &sim->pseudo_mac, &sim->keys, e);
    if (!rc)
        rc = ms_hmac_setkey(&sim->send_mac, sim->keys.broadcast_key, 32, e);
    if (!rc)
        rc = ms_hmac_setkey(&sim->recv_mac, sim->keys.broadcast_key, 32, e);
    for (int i = 0; !rc && i < sim->envs; i++)
        if (ms_mailbox_set_personal(&sim->mb[i], sim->keys.personal, (uint64_t)(sim->first + i)))
            rc = ms_fail(e, MS_EIO, "%s", MS_RNG_SEED_FAILED);
    if (!rc)
        sim->key_index = index;
    return rc;
}

int ms_sim_reset(ms_sim *sim, ms_err *e)
{
    const ms_config *c = sim->cfg;
    for (int i = 0; i < sim->envs; i++) {
        uint64_t g = (uint64_t)(sim->first + i); /* the mailbox's index in the config: its streams' key */
        if (ms_mailbox_init(&sim->mb[i], sim->stream_seed, sim->stream, g) ||
            ms_rng_seed(&sim->poison_rng[i], sim->stream_seed, MS_STREAM_POISON + 16 * sim->stream, g) ||
            ms_rng_seed(&sim->feedback_rng[i], sim->stream_seed, MS_STREAM_FEEDBACK + 16 * sim->stream, g))
            return ms_fail(e, MS_EIO, "%s", MS_RNG_SEED_FAILED);
        sim->seq_sent[i] = 0;
        sim->seq_accepted[i] = 0;
        sim->prev_len[i] = 0;
    }
    sim->episodes = 0;
    sim->observed = 0;
    sim->s.step = 0;
    (void)c;
    return set_keys(sim, 0, e);
}

/* A hint to start loading the cache line at p; no effect on results. */
#if defined(__GNUC__)
#define PREFETCH(p) __builtin_prefetch(p)
#else
#define PREFETCH(p) ((void)(p))
#endif

#define ALLOC(ptr, count) ((ptr) = calloc((size_t)(count), sizeof *(ptr)))

int ms_sim_init(ms_sim *sim, const ms_config *c, uint32_t stream, const ms_key_source *ks, ms_err *e)
{
    return ms_sim_init_range(sim, c, stream, ks, 0, c->envs, e);
}

int ms_sim_init_range(ms_sim *sim, const ms_config *c, uint32_t stream, const ms_key_source *ks, int first,
                      int count, ms_err *e)
{
    memset(sim, 0, sizeof *sim);
    if (first < 0 || count < 1 || first > c->envs - count)
        return ms_fail(e, MS_EINPUT, "sim: mailboxes %d..%d are not a range of the config's %d", first,
                       first + count - 1, c->envs);
    sim->cfg = c;
    sim->envs = count;
    sim->first = first;
    sim->stream = stream;
    sim->stream_seed = stream == MS_STREAM_REPORT ? c->eval_seed : c->seed;
    if ((stream == MS_STREAM_GATE && ms_gate_seed(c->eval_seed, c->seed, &sim->stream_seed)) ||
        ms_backdoor_trigger(c->eval_seed, &sim->trigger))
        return ms_fail(e, MS_EIO, "%s", MS_RNG_SEED_FAILED);
    if (ks) {
        sim->ks = *ks;
    } else {
        sim->ks.kr = NULL;
        sim->ks.ngen = INT_MAX;
        sim->ks.public_seed = sim->stream_seed;
    }
    int n = count;
    ms_step *s = &sim->s;
    s->envs = n;
    s->first = first;
    for (int a = 0; a < MS_NAGENT; a++)
        s->obs_dim[a] = c->observe == MS_OBSERVE_ALL ? MS_OBS_MAX : ms_modality_dim[a];
    int ok = ALLOC(sim->mb, n) && ALLOC(sim->seq_sent, n) && ALLOC(sim->seq_accepted, n) &&
             ALLOC(sim->prev_bcast, (size_t)n * MS_BCAST_MAX) && ALLOC(sim->prev_len, n) &&
             ALLOC(sim->poison_rng, n) && ALLOC(sim->feedback_rng, n) && ALLOC(s->forged, n) &&
             ALLOC(s->msg, n) && ALLOC(s->bcast, (size_t)n * MS_BCAST_MAX) &&
             ALLOC(s->bcast_len, n) && ALLOC(s->poison, n) && ALLOC(s->reject, n) &&
             ALLOC(s->feat, (size_t)n * MS_NFEAT) && ALLOC(s->act, n * MS_NAGENT) &&
             ALLOC(s->prob1, n * MS_NAGENT) && ALLOC(s->facts, n) && ALLOC(s->res, n) &&
             ALLOC(s->credit, n * MS_NAGENT) && ALLOC(s->episode_end, n);
    for (int a = 0; ok && a < MS_NAGENT; a++)
        ok = ALLOC(s->obs[a], (size_t)n * s->obs_dim[a]) != NULL;
    if (!ok) {
        ms_sim_release(sim);
        return ms_fail(e, MS_EIO, "out of memory for %d mailboxes", n);
    }
    int rc = ms_hmac_init(&sim->pseudo_mac, e);
    if (!rc)
        rc = ms_hmac_init(&sim->send_mac, e);
    if (!rc)
        rc = ms_hmac_init(&sim->recv_mac, e);
    if (!rc)
        rc = ms_pseudonyms_init(&sim->pn, c->envs, e); /* every mailbox's recipient: indexed by config index */
    if (!rc)
        rc = ms_sim_reset(sim, e);
    if (rc)
        ms_sim_release(sim);
    s->keys = &sim->keys;
    return rc;
}

void ms_sim_release(ms_sim *sim)
{
    ms_step *s = &sim->s;
    ms_keys_clear(&sim->keys);
    ms_hmac_release(&sim->pseudo_mac);
    ms_hmac_release(&sim->send_mac);
    ms_hmac_release(&sim->recv_mac);
    ms_pseudonyms_release(&sim->pn);
    free(sim->mb);
    free(sim->seq_sent);
    free(sim->seq_accepted);
    free(sim->prev_bcast);
    free(sim->prev_len);
    free(sim->poison_rng);
    free(sim->feedback_rng);
    free(s->forged);
    free(s->msg);
    free(s->bcast);
    free(s->bcast_len);
    free(s->poison);
    free(s->reject);
    free(s->feat);
    free(s->act);
    free(s->prob1);
    free(s->facts);
    free(s->res);
    free(s->credit);
    free(s->episode_end);
    for (int a = 0; a < MS_NAGENT; a++)
        free(s->obs[a]);
    memset(sim, 0, sizeof *sim);
}

/* Tampering in transit (SPEC [sim] poison_rate): the receiver sees altered
 * bytes; the sender's record of what it sent is untouched. */
static void poison(ms_sim *sim, int i)
{
    ms_step *s = &sim->s;
    ms_rng *r = &sim->poison_rng[i];
    if (!ms_rng_bernoulli(r, sim->cfg->poison_rate))
        return;
    int kinds[MS_NPOISON], nk = 0;
    for (int k = 0; k < MS_NPOISON; k++)
        if (sim->cfg->poison_kinds & (1u << k))
            kinds[nk++] = k;
    if (!nk)
        return;
    int kind = kinds[ms_rng_below(r, (uint32_t)nk)];
    char *b = s->bcast + (size_t)i * MS_BCAST_MAX;
    int n = s->bcast_len[i];
    switch (kind) {
    case MS_POISON_BAD_MAC: {
        char *p = memmem(b, (size_t)n, "\"security\":[", 12);
        if (!p)
            return;
        p += 12;
        *p = *p == '0' ? '1' : '0'; /* a feature changed; the MAC no longer matches */
        break;
    }
    case MS_POISON_REPLAY:
        if (!sim->prev_len[i])
            return;
        memcpy(b, sim->prev_bcast + (size_t)i * MS_BCAST_MAX, (size_t)sim->prev_len[i]);
        s->bcast_len[i] = sim->prev_len[i];
        break;
    case MS_POISON_TRUNCATED:
        s->bcast_len[i] = 1 + (int)ms_rng_below(r, (uint32_t)(n - 1));
        break;
    case MS_POISON_EXTRA_FIELD: {
        static const char extra[] = "\"admin\":1,";
        size_t el = sizeof extra - 1;
        if ((size_t)n + el > MS_BCAST_MAX)
            return;
        memmove(b + 1 + el, b + 1, (size_t)n - 1);
        memcpy(b + 1, extra, el);
        s->bcast_len[i] = n + (int)el;
        break;
    }
    }
    s->poison[i] = (unsigned char)(1 + kind);
}

static void build_obs(ms_step *s, int i, int observe)
{
    const float *f = s->feat + (size_t)i * MS_NFEAT;
    float mod[MS_NAGENT][12];
    for (int a = 0; a < MS_NAGENT; a++) {
        int k = 0;
        for (int j = 0; j < modality_len[a]; j++)
            mod[a][k++] = f[modality_first[a] + j];
        for (int j = 0; j < MS_N_SHARED; j++)
            mod[a][k++] = f[MS_F_SHARED0 + j];
    }
    for (int a = 0; a < MS_NAGENT; a++) {
        float *o = s->obs[a] + (size_t)i * s->obs_dim[a];
        if (observe == MS_OBSERVE_ALL) {
            int k = 0;
            for (int b = 0; b < MS_NAGENT; b++)
                for (int j = 0; j < ms_modality_dim[b]; j++)
                    o[k++] = mod[b][j];
        } else {
            memcpy(o, mod[a], sizeof(float) * (size_t)ms_modality_dim[a]);
        }
    }
}

int ms_sim_observe(ms_sim *sim, ms_err *e)
{
    const ms_config *c = sim->cfg;
    ms_step *s = &sim->s;
    int n = sim->envs;
    if (sim->observed)
        return MS_OK;
    /* Every message first, then the broadcasts: each mailbox draws only
     * from its own streams, so the order across mailboxes changes no draw,
     * and the pseudonym rows each broadcast will copy (the sender table
     * alone is 128 KB, read at random) are fetched while the other
     * messages are drawn instead of stalling the encoder. */
    for (int i = 0; i < n; i++) {
        ms_msg *m = &s->msg[i];
        ms_mailbox_generate(&sim->mb[i], c, sim->trigger, m);
        PREFETCH(sim->pn.sender[m->sender]);
        PREFETCH(sim->pn.subject[m->subject]);
        if (m->attach >= 0)
            PREFETCH(sim->pn.attach[m->attach]);
        if (m->link >= 0)
            PREFETCH(sim->pn.link[m->link]);
    }
    for (int i = 0; i < n; i++) {
        ms_msg *m = &s->msg[i];
        char *b = s->bcast + (size_t)i * MS_BCAST_MAX;
        int env = sim->first + i; /* the mailbox's index in the config */
        ms_bcast_mac sent;
        size_t len = ms_bcast_encode(b, m, ++sim->seq_sent[i], env, &sim->pn, &sim->send_mac, &sent);
        if (!len)
            return ms_fail(e, MS_EIO, "libcrypto: HMAC of a broadcast failed");
        s->bcast_len[i] = (int)len;
        s->poison[i] = 0;
        const char *genuine = b; /* the bytes the sender MAC'd */
        if (c->poison_rate > 0) {
            /* Keep the genuine bytes as the next step's replay material. */
            char tmp[MS_BCAST_MAX];
            memcpy(tmp, b, len);
            poison(sim, i);
            genuine = sim->prev_bcast + (size_t)i * MS_BCAST_MAX;
            memcpy(sim->prev_bcast + (size_t)i * MS_BCAST_MAX, tmp, len);
            sim->prev_len[i] = (int)len;
        }
        /* Steps are synchronous: the receiver's own clock says which
         * sequence number is due, so a replay is stale even when the message
         * it repeats was never accepted. send_mac and recv_mac hold the same
         * broadcast key (set_keys), so the receiver may take the sender's
         * MAC for bytes that reach it unchanged (bcast.h). */
        ms_bcast_expect x = {.env = env, .episode_len = c->episode_len, .last_seq = sim->seq_accepted[i],
                             .clock_seq = (uint64_t)s->step + 1, .key_id = sim->pn.key_id, .mac = &sim->recv_mac,
                             .sent = genuine, .sent_mac = &sent};
        uint64_t seq = 0;
        float *f = s->feat + (size_t)i * MS_NFEAT;
        int reason = ms_bcast_validate(b, (size_t)s->bcast_len[i], &x, f, &seq);
        if (reason < 0)
            return ms_fail(e, MS_EIO, "libcrypto: HMAC failed while validating the broadcast of mailbox %d", i);
        s->reject[i] = (unsigned char)reason;
        if (reason == MS_BCAST_OK)
            sim->seq_accepted[i] = seq;
        else
            memset(f, 0, sizeof(float) * MS_NFEAT);
        build_obs(s, i, c->observe);
    }
    sim->observed = 1;
    return MS_OK;
}

int ms_sim_step(ms_sim *sim, const ms_policy *policy, const ms_sink *sinks, int nsinks, ms_err *e)
{
    const ms_config *c = sim->cfg;
    ms_step *s = &sim->s;
    int n = sim->envs;
    int rc = ms_sim_observe(sim, e);
    if (rc)
        return rc;
    sim->observed = 0;

    rc = policy->act(policy->ctx, s, e);
    if (rc)
        return rc;

    for (int i = 0; i < n; i++) {
        unsigned char *act = s->act + (size_t)i * MS_NAGENT;
        const ms_msg *m = &s->msg[i];
        ms_facts *fa = &s->facts[i];
        if (s->reject[i]) {
            memset(act, 0, MS_NAGENT);
            memset(s->prob1 + (size_t)i * MS_NAGENT, 0, sizeof(float) * MS_NAGENT);
        }
        fa->cls = m->cls;
        fa->threat_intel = m->f[MS_F_THREAT_INTEL_HIT] != 0;
        fa->compromised = m->f[MS_F_COMPROMISED] != 0;
        fa->rejected = s->reject[i] != 0;
        ms_result *r = &s->res[i];
        ms_rules_apply(c, fa, act, r);
        /* The mailbox lives with what really happened; a forged feedback
         * (training stream only) changes what the learner is told. */
        int quarantined = r->outcome == MS_OUTCOME_QUARANTINED, compromise = r->compromise;
        s->forged[i] = 0;
        if (m->backdoor && sim->stream == MS_STREAM_ENV && c->feedback_poison > 0 &&
            ms_rng_bernoulli(&sim->feedback_rng[i], c->feedback_poison)) {
            ms_result honest = *r;
            fa->cls = MS_CLASS_BENIGN;
            ms_rules_apply(c, fa, act, r); /* as if benign: no compromise booked */
            /* A forgery that tells the learner what the truth would have
             * told it (the same reward, e.g. an ignored message under a
             * table where benign and malware ignored cost the same) changes
             * nothing: it is not counted as one, and the honest result stands. */
            s->forged[i] = r->raw != honest.raw;
            if (!s->forged[i]) {
                *r = honest;
                fa->cls = m->cls;
            }
        }
        ms_rules_credit(c, fa, act, r, c->credit, s->credit + (size_t)i * MS_NAGENT);
        s->episode_end[i] = (unsigned char)ms_mailbox_advance(&sim->mb[i], c, m, quarantined, compromise);
    }

    for (int k = 0; k < nsinks; k++)
        if ((rc = sinks[k].record(sinks[k].ctx, s, e)))
            return rc;

    s->step++;
    /* Mailboxes start together and share episode_len, so they end together;
     * key rotation takes effect at that boundary. */
    if (s->episode_end[0]) {
        sim->episodes++;
        int every = c->rotate_every_episodes;
        if (every > 0 && sim->episodes % every == 0)
            return set_keys(sim, sim->key_index + 1, e);
    }
    return MS_OK;
}
