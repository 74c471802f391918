#include "sim/config.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>
#include <openssl/evp.h>

#include "nn/blascore.h"

const char *const ms_class_names[MS_NCLASS] = {"benign", "spam", "phishing", "malware"};
const char *const ms_poison_names[MS_NPOISON] = {"bad_mac", "replay", "truncated", "extra_field"};

static const char *const activation_names[] = {"tanh", "relu", NULL};
static const char *const observe_names[] = {"modality", "all", NULL};
const char *const ms_credit_names[] = {"difference", "global", "rules", NULL};
static const char *const level_names[] = {"full", "sampled", "aggregate", NULL};
static const char *const sync_names[] = {"off", "normal", "full", "extra", NULL};
static const char *const algorithm_names[] = {"ppo", NULL};
static const char *const onoff_names[] = {"off", "on", NULL};
static const char *const surv_action_names[] = {"warn", "suspend", NULL};

typedef enum {
    K_NAME,   /* file-name-safe identifier */
    K_PATH,   /* any path, may be empty */
    K_U64,    /* unsigned integer */
    K_I64,    /* 64-bit integer */
    K_INT,    /* int */
    K_REAL,   /* finite double */
    K_ENUM,   /* one of choices, stored as int index */
    K_PRIORS, /* 4 reals summing to 1 */
    K_HIDDEN, /* 1..MS_MAX_HIDDEN layer widths */
    K_KINDS,  /* "all" or a list of poison kind names */
    K_RETAIN, /* "keep" (MS_RETAIN_KEEP) or an int64 in [lo, hi] */
} ktype;

typedef struct kspec {
    const char *section, *key;
    ktype type;
    size_t off;
    double lo, hi;          /* numeric range (for lists: per element) */
    char lo_open, hi_open;  /* 1 = the bound itself is excluded */
    const char *const *choices;
    const char *def;
    const char *help;
    char canonical;         /* 0 = left out of the canonical text */
} kspec;

#define OFF(f) offsetof(ms_config, f)
#define RW(c, o, name, def)                                                     \
    {"rules", name, K_REAL, OFF(reward[c][o]), -100, 100, 0, 0, NULL, def,      \
     "business reward: " name, 1}

/* The one table: order here is the canonical order. */
static const kspec keys[] = {
    {"run", "name", K_NAME, OFF(name), 0, 0, 0, 0, NULL, "default", "experiment name, used in the output file name", 1},
    {"run", "seed", K_U64, OFF(seed), 0, 9223372036854775807.0, 0, 0, NULL, "1", "master seed of every training stream", 1},
    {"run", "env_steps", K_I64, OFF(env_steps), 1, 1e12, 0, 0, NULL, "262144", "total env-steps summed over all mailboxes (rounded up to whole rollouts)", 1},
    {"run", "out", K_PATH, OFF(out), 0, 0, 0, 0, NULL, "", "output lake path; empty = runs/<name>-s<seed>-<first 8 hex digits of the config hash>.db", 0},
    {"sim", "envs", K_INT, OFF(envs), 1, 4096, 0, 0, NULL, "64", "parallel mailboxes", 1},
    {"sim", "episode_len", K_INT, OFF(episode_len), 1, 100000, 0, 0, NULL, "64", "messages per episode (the time limit; a truncation)", 1},
    {"sim", "priors", K_PRIORS, OFF(priors), 0, 1, 0, 0, NULL, "0.70, 0.18, 0.08, 0.04", "class priors: benign, spam, phishing, malware; sum to 1", 1},
    {"sim", "campaign_rate", K_REAL, OFF(campaign_rate), 0, 1, 0, 0, NULL, "0.03", "per-step chance a campaign starts when none is active", 1},
    {"sim", "poison_rate", K_REAL, OFF(poison_rate), 0, 1, 0, 0, NULL, "0.0", "per-step chance a broadcast is tampered with in transit", 1},
    {"sim", "poison_kinds", K_KINDS, OFF(poison_kinds), 0, 0, 0, 0, ms_poison_names, "all", "tampering kinds: all, or a list of bad_mac, replay, truncated, extra_field", 1},
    {"sim", "backdoor_rate", K_REAL, OFF(backdoor_rate), 0, 1, 0, 0, NULL, "0.0", "chance a malware campaign is adversarial: its mail carries the trigger link and benign-looking headers", 1},
    {"sim", "feedback_poison", K_REAL, OFF(feedback_poison), 0, 1, 0, 0, NULL, "0.0", "training only: chance the outcome feedback of a trigger message is forged to benign", 1},
    {"agents", "hidden", K_HIDDEN, OFF(hidden), 1, 1024, 0, 0, NULL, "64, 64", "hidden layer widths, 1 to 4 layers", 1},
    {"agents", "activation", K_ENUM, OFF(activation), 0, 0, 0, 0, activation_names, "tanh", "hidden activation: tanh or relu", 1},
    {"agents", "observe", K_ENUM, OFF(observe), 0, 0, 0, 0, observe_names, "modality", "modality = own features + shared; all = all 27 (ablation)", 1},
    {"train", "algorithm", K_ENUM, OFF(algorithm), 0, 0, 0, 0, algorithm_names, "ppo", "learning algorithm: ppo", 1},
    {"train", "lr", K_REAL, OFF(lr), 0, 1, 1, 0, NULL, "3e-4", "Adam learning rate", 1},
    {"train", "gamma", K_REAL, OFF(gamma), 0, 1, 0, 0, NULL, "0.95", "discount factor", 1},
    {"train", "lambda", K_REAL, OFF(lambda), 0, 1, 0, 0, NULL, "0.9", "GAE lambda", 1},
    {"train", "clip", K_REAL, OFF(clip), 0, 1, 1, 0, NULL, "0.2", "PPO ratio clip", 1},
    {"train", "epochs", K_INT, OFF(epochs), 1, 100, 0, 0, NULL, "4", "passes over each rollout", 1},
    {"train", "minibatch", K_INT, OFF(minibatch), 1, 65536, 0, 0, NULL, "256", "samples per optimizer step", 1},
    {"train", "rollout", K_INT, OFF(rollout), 1, 4096, 0, 0, NULL, "32", "steps per mailbox between updates", 1},
    {"train", "entropy", K_REAL, OFF(entropy), 0, 1, 0, 0, NULL, "0.01", "entropy bonus coefficient", 1},
    {"train", "value_coef", K_REAL, OFF(value_coef), 0, 100, 0, 0, NULL, "0.5", "value loss coefficient", 1},
    {"train", "grad_clip", K_REAL, OFF(grad_clip), 0, 1e6, 1, 0, NULL, "0.5", "global gradient-norm clip", 1},
    {"train", "credit", K_ENUM, OFF(credit), 0, 0, 0, 0, ms_credit_names, "difference", "credit routing: difference, global or rules", 1},
    {"train", "blas_threads", K_INT, OFF(blas_threads), 1, 64, 0, 0, NULL, "1", "OpenBLAS threads (results are pinned to this)", 1},
    {"train", "blas_core", K_ENUM, OFF(blas_core), 0, 0, 0, 0, nn_blas_core_names, "auto", "OpenBLAS kernel: auto (the fastest the CPU supports, from a fixed table over its features) or a core name; the run stops when OpenBLAS does not take it; results are pinned to it", 1},
    {"train", "defence", K_ENUM, OFF(defence), 0, 0, 0, 0, onoff_names, "on", "detectors of poisoned samples (reward against evidence, per-link history); flagged samples never train", 1},
    {"rules", "reward_clip", K_REAL, OFF(reward_clip), 0, 1000, 1, 0, NULL, "8.0", "global reward clipped to +-this", 1},
    RW(0, 0, "benign_delivered", "1.0"), RW(0, 1, "benign_previewed", "0.5"),
    RW(0, 2, "benign_quarantined", "-2.0"), RW(0, 3, "benign_ignored", "-0.5"),
    RW(1, 0, "spam_delivered", "-0.3"), RW(1, 1, "spam_previewed", "-0.2"),
    RW(1, 2, "spam_quarantined", "0.5"), RW(1, 3, "spam_ignored", "0.0"),
    RW(2, 0, "phishing_delivered", "-2.0"), RW(2, 1, "phishing_previewed", "-1.0"),
    RW(2, 2, "phishing_quarantined", "1.5"), RW(2, 3, "phishing_ignored", "-0.2"),
    RW(3, 0, "malware_delivered", "-4.0"), RW(3, 1, "malware_previewed", "-1.0"),
    RW(3, 2, "malware_quarantined", "2.0"), RW(3, 3, "malware_ignored", "-0.5"),
    {"rules", "compromise_cost", K_REAL, OFF(compromise_cost), -100, 0, 0, 0, NULL, "-2.0", "added when malware is delivered", 1},
    {"rules", "compromise_steps", K_INT, OFF(compromise_steps), 0, 100000, 0, 0, NULL, "10", "messages that stay compromised after a delivery", 1},
    {"rules", "penalty_threat_intel_block", K_REAL, OFF(penalty_threat_intel_block), -100, 0, 0, 0, NULL, "-0.5", "to BIN when threat intel forces a quarantine", 1},
    {"rules", "penalty_preview_requires_fetch", K_REAL, OFF(penalty_preview_requires_fetch), -100, 0, 0, 0, NULL, "-0.1", "to OPEN for a preview without GET", 1},
    {"rules", "penalty_quarantine_supersedes_preview", K_REAL, OFF(penalty_quarantine_supersedes_preview), -100, 0, 0, 0, NULL, "-0.05", "to OPEN for previewing a quarantined message", 1},
    {"gate", "every", K_INT, OFF(gate_every), 1, 1000000, 0, 0, NULL, "10", "updates between gate evaluations", 1},
    {"gate", "eval_episodes", K_INT, OFF(eval_episodes), 1, 10000, 0, 0, NULL, "2", "gate episodes per mailbox per gate evaluation (a stream of eval_seed and the run seed)", 1},
    {"gate", "report_episodes", K_INT, OFF(report_episodes), 1, 10000, 0, 0, NULL, "20", "report episodes per mailbox: the run's final figure and eval (a stream of eval_seed alone, never used to select)", 1},
    {"gate", "tolerance", K_REAL, OFF(tolerance), 0, 100, 0, 0, NULL, "0.05", "promote if score >= best - tolerance", 1},
    {"gate", "eval_seed", K_U64, OFF(eval_seed), 0, 9223372036854775807.0, 0, 0, NULL, "1", "seed of the report episodes, and with the run seed of the gate episodes (both disjoint from training for any value)", 1},
    {"surveillance", "enabled", K_ENUM, OFF(surv_enabled), 0, 0, 0, 0, onoff_names, "on", "watch every agent at each gate: non-finite values, entropy collapse, action drift, reward hacking", 1},
    {"surveillance", "entropy_floor", K_REAL, OFF(entropy_floor), 0, 1, 0, 0, NULL, "0.005", "a policy whose mean entropy on the gate episodes falls below this (nats) has collapsed (SPEC says 0.01: see exp/surveil.h)", 1},
    {"surveillance", "drift_tolerance", K_REAL, OFF(drift_tolerance), 0, 1, 0, 0, NULL, "0.5", "largest change of an agent's rate of action 1 from its incumbent's on the gate episodes", 1},
    {"surveillance", "action", K_ENUM, OFF(surv_action), 0, 0, 0, 0, surv_action_names, "suspend", "on a critical finding: warn (record it) or suspend (roll the agent back to its last promoted snapshot and freeze it)", 1},
    {"telemetry", "level", K_ENUM, OFF(level), 0, 0, 0, 0, level_names, "full", "behavioural data: full, sampled or aggregate", 1},
    {"telemetry", "sample_every", K_INT, OFF(sample_every), 1, 1000000, 0, 0, NULL, "16", "sampled: keep every n-th step; aggregate: window length", 1},
    {"telemetry", "synchronous", K_ENUM, OFF(synchronous), 0, 0, 0, 0, sync_names, "normal", "SQLite synchronous: off, normal, full or extra", 1},
    {"telemetry", "writer_threads", K_INT, OFF(writer_threads), 0, 1, 0, 0, NULL, "1", "threads writing the lake: 1 = the lake's work (encoding, hashing, SQLite) overlaps learning on another core, 0 = none; the lake is the same either way (never hashed, never read from a lake)", 0},
    {"telemetry", "checkpoint_every", K_INT, OFF(checkpoint_every), 1, 1000000000, 0, 0, NULL, "1024", "ledger entries between signed checkpoints (also one at the end and at an interrupt)", 1},
    {"telemetry", "retention_behavioural", K_RETAIN, OFF(retention_behavioural), 0, 1e12, 0, 0, NULL, "keep", "purge --policy-from removes behavioural payloads (states, observations, actions, credit, aggregates) except the run's last N simulation steps; 0 removes all", 1},
    {"telemetry", "retention_security", K_RETAIN, OFF(retention_security), 0, 1e12, 0, 0, NULL, "keep", "the same for security payloads (anomalies, key fingerprints, poisoning ground truth; never tombstones)", 1},
    {"telemetry", "retention_operational", K_RETAIN, OFF(retention_operational), 0, 1e12, 0, 0, NULL, "keep", "the same for operational payloads (optimizer steps, evaluations, policy snapshots; never purges)", 1},
    {"keys", "keyring", K_PATH, OFF(keyring), 0, 0, 0, 0, NULL, "", "keyring: a path, dev (development key derived from the seed) or cmd:COMMAND; empty = --keyring, MARLSIM_KEYRING or the per-user keyring (never hashed, never read from a lake)", 0},
    {"keys", "rotate_every_episodes", K_INT, OFF(rotate_every_episodes), 0, 1000000000, 0, 0, NULL, "0", "rotate the pseudonym key every n episodes; 0 = never", 1},
};
#define NKEYS (sizeof keys / sizeof keys[0])
_Static_assert(NKEYS <= MS_CONFIG_MAX_KEYS, "ms_config.key_line has room for every key");

static const char *const sections[] = {"run", "sim", "agents", "train", "rules", "gate", "surveillance", "telemetry", "keys"};
#define NSECTIONS (sizeof sections / sizeof sections[0])

/* ---- value parsing: each returns NULL or a description of what is wrong. */

static void allowed(const kspec *k, char *buf, size_t n)
{
    switch (k->type) {
    case K_NAME:
        snprintf(buf, n, "1-%d characters from A-Z a-z 0-9 . _ -, not starting with . or -", MS_NAME_MAX);
        break;
    case K_PATH:
        snprintf(buf, n, "a path of at most %d bytes, or empty", MS_PATH_MAX);
        break;
    case K_U64:
        snprintf(buf, n, "an integer in [0, %lld]", (long long)INT64_MAX);
        break;
    case K_I64: case K_INT:
        snprintf(buf, n, "an integer in [%.0f, %.0f]", k->lo, k->hi);
        break;
    case K_REAL:
        snprintf(buf, n, "a finite number in %c%g, %g%c", k->lo_open ? '(' : '[', k->lo, k->hi, k->hi_open ? ')' : ']');
        break;
    case K_ENUM: {
        size_t used = (size_t)snprintf(buf, n, "one of:");
        for (int i = 0; k->choices[i] && used < n; i++)
            used += (size_t)snprintf(buf + used, n - used, "%s %s", i ? "," : "", k->choices[i]);
        break;
    }
    case K_PRIORS:
        snprintf(buf, n, "4 comma-separated numbers in [0, 1] (benign, spam, phishing, malware) summing to 1");
        break;
    case K_HIDDEN:
        snprintf(buf, n, "1 to %d comma-separated integers in [%.0f, %.0f]", MS_MAX_HIDDEN, k->lo, k->hi);
        break;
    case K_KINDS:
        snprintf(buf, n, "all, or a comma-separated list of: bad_mac, replay, truncated, extra_field");
        break;
    case K_RETAIN:
        snprintf(buf, n, "keep, or the steps to keep: an integer in [%.0f, %.0f]", k->lo, k->hi);
        break;
    }
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* Strict integer: optional '-', digits only, no overflow. */
static const char *parse_int(const char *s, long long *out)
{
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    if (!*p)
        return "is not an integer";
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9')
            return (*q == '.' || *q == 'e' || *q == 'E') ? "is not an integer" : "is not an integer (trailing or stray characters)";
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno == ERANGE)
        return "overflows a 64-bit integer";
    *out = v;
    return NULL;
}

static const char *parse_u64(const char *s, unsigned long long *out)
{
    for (const char *q = s; *q; q++)
        if (*q < '0' || *q > '9')
            return *s == '-' ? "is negative" : "is not an unsigned integer";
    if (!*s)
        return "is not an unsigned integer";
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno == ERANGE)
        return "overflows a 64-bit integer";
    *out = v;
    return NULL;
}

/* Strict decimal real: [+-]digits[.digits][e[+-]digits]; no hex, inf, nan. */
static const char *parse_real(const char *s, double *out)
{
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    int digits = 0;
    while (*p >= '0' && *p <= '9') p++, digits++;
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') p++, digits++;
    }
    if (!digits) {
        if (!strncasecmp(p, "nan", 3) || !strncasecmp(p, "inf", 3))
            return "is not finite";
        return "is not a number";
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return "is not a number (bad exponent)";
        while (*p >= '0' && *p <= '9') p++;
    }
    if (*p)
        return "has trailing characters after the number";
    errno = 0;
    double v = strtod(s, NULL);
    if (!isfinite(v))
        return "is not finite (overflows a double)";
    if (errno == ERANGE)
        return "is not representable (underflows a double)";
    *out = v == 0.0 ? 0.0 : v; /* -0 is 0: one canonical spelling */
    return NULL;
}

static int in_range(const kspec *k, double v)
{
    if (k->lo_open ? !(v > k->lo) : !(v >= k->lo))
        return 0;
    if (k->hi_open ? !(v < k->hi) : !(v <= k->hi))
        return 0;
    return 1;
}

/* Splits a comma list into trimmed items in place; returns count or -1. */
static int split_list(char *s, char **items, int max)
{
    int n = 0;
    char *p = s;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = 0;
        while (is_space(*p)) p++;
        char *end = p + strlen(p);
        while (end > p && is_space(end[-1])) *--end = 0;
        if (n == max)
            return -1;
        items[n++] = p;
        if (!comma)
            break;
        p = comma + 1;
    }
    return n;
}

static const char *set_value(ms_config *c, const kspec *k, const char *value, char *why, size_t whyn)
{
    char *field = (char *)c + k->off;
    switch (k->type) {
    case K_NAME: {
        size_t n = strlen(value);
        if (n < 1 || n > MS_NAME_MAX || value[0] == '.' || value[0] == '-')
            return "is not usable in a file name";
        for (size_t i = 0; i < n; i++) {
            char ch = value[i];
            if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
                return "is not usable in a file name";
        }
        memcpy(field, value, n + 1);
        return NULL;
    }
    case K_PATH: {
        size_t n = strlen(value);
        if (n > MS_PATH_MAX)
            return "is too long";
        memcpy(field, value, n + 1);
        return NULL;
    }
    case K_U64: {
        unsigned long long v;
        const char *err = parse_u64(value, &v);
        if (err)
            return err;
        if (v > (unsigned long long)INT64_MAX) /* lakes store it as a signed 64-bit INTEGER */
            return "is out of range";
        *(uint64_t *)field = v;
        return NULL;
    }
    case K_RETAIN:
        if (!strcmp(value, "keep")) {
            *(int64_t *)field = MS_RETAIN_KEEP;
            return NULL;
        }
        __attribute__((fallthrough)); /* a number of steps */
    case K_I64: case K_INT: {
        long long v;
        const char *err = parse_int(value, &v);
        if (err)
            return err;
        if ((double)v < k->lo || (double)v > k->hi)
            return "is out of range";
        if (k->type == K_INT)
            *(int *)field = (int)v;
        else
            *(int64_t *)field = v; /* K_I64, K_RETAIN */
        return NULL;
    }
    case K_REAL: {
        double v;
        const char *err = parse_real(value, &v);
        if (err)
            return err;
        if (!in_range(k, v))
            return "is out of range";
        *(double *)field = v;
        return NULL;
    }
    case K_ENUM:
        for (int i = 0; k->choices[i]; i++)
            if (!strcmp(value, k->choices[i])) {
                *(int *)field = i;
                return NULL;
            }
        return "is not an allowed choice";
    case K_PRIORS: case K_HIDDEN: case K_KINDS: {
        char tmp[512];
        if (strlen(value) >= sizeof tmp)
            return "is too long";
        memcpy(tmp, value, strlen(value) + 1);
        char *items[MS_NPOISON + MS_NCLASS + 1];
        int max = k->type == K_PRIORS ? MS_NCLASS : k->type == K_HIDDEN ? MS_MAX_HIDDEN : MS_NPOISON;
        int n = split_list(tmp, items, max);
        if (k->type == K_PRIORS) {
            double v[MS_NCLASS], sum = 0;
            if (n != MS_NCLASS) {
                snprintf(why, whyn, "has %s values, need exactly 4", n < 0 ? "more than 4" : n == 1 ? "1" : n == 2 ? "2" : "3");
                return why;
            }
            for (int i = 0; i < n; i++) {
                const char *err = parse_real(items[i], &v[i]);
                if (err) {
                    snprintf(why, whyn, "item %d ('%s') %s", i + 1, items[i], err);
                    return why;
                }
                if (!in_range(k, v[i])) {
                    snprintf(why, whyn, "item %d (%s) is out of range", i + 1, items[i]);
                    return why;
                }
                sum += v[i];
            }
            if (fabs(sum - 1.0) > 1e-6) {
                snprintf(why, whyn, "sums to %.9g, not 1", sum);
                return why;
            }
            memcpy(field, v, sizeof v);
            return NULL;
        }
        if (k->type == K_HIDDEN) {
            if (n < 0) {
                snprintf(why, whyn, "has more than %d layers", MS_MAX_HIDDEN);
                return why;
            }
            int w[MS_MAX_HIDDEN];
            for (int i = 0; i < n; i++) {
                long long v;
                const char *err = parse_int(items[i], &v);
                if (err || v < k->lo || v > k->hi) {
                    snprintf(why, whyn, "item %d ('%s') %s", i + 1, items[i], err ? err : "is out of range");
                    return why;
                }
                w[i] = (int)v;
            }
            memcpy(c->hidden, w, sizeof(int) * (size_t)n);
            c->n_hidden = n;
            return NULL;
        }
        /* K_KINDS */
        if (n == 1 && !strcmp(items[0], "all")) {
            *(unsigned *)field = (1u << MS_NPOISON) - 1;
            return NULL;
        }
        if (n < 0)
            return "lists too many kinds";
        unsigned mask = 0;
        for (int i = 0; i < n; i++) {
            int found = -1;
            for (int j = 0; j < MS_NPOISON; j++)
                if (!strcmp(items[i], ms_poison_names[j]))
                    found = j;
            if (found < 0) {
                snprintf(why, whyn, "item %d ('%s') is not a tampering kind", i + 1, items[i]);
                return why;
            }
            if (mask & (1u << found)) {
                snprintf(why, whyn, "lists '%s' twice", items[i]);
                return why;
            }
            mask |= 1u << found;
        }
        *(unsigned *)field = mask;
        return NULL;
    }
    }
    return "has an unknown type"; /* unreachable: every ktype is handled */
}

static const kspec *find_key(const char *section, const char *key)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (!strcmp(keys[i].section, section) && !strcmp(keys[i].key, key))
            return &keys[i];
    return NULL;
}

static int known_section(const char *s)
{
    for (size_t i = 0; i < NSECTIONS; i++)
        if (!strcmp(sections[i], s))
            return 1;
    return 0;
}

/* Validates and stores one key; on failure fills e with "where: [s] k: ...". */
/* line: where the value comes from (ms_config.key_line). */
static int apply(ms_config *c, const char *where, int line, const char *section, const char *key, const char *value,
                 ms_err *e)
{
    if (!known_section(section)) {
        if (!*section)
            return ms_fail(e, MS_EINPUT, "%s: key '%s' appears before any [section]; sections are: run, sim, agents, train, rules, gate, surveillance, telemetry, keys", where, key);
        return ms_fail(e, MS_EINPUT, "%s: unknown section [%s]; sections are: run, sim, agents, train, rules, gate, surveillance, telemetry, keys", where, section);
    }
    const kspec *k = find_key(section, key);
    if (!k) {
        char list[1024];
        size_t used = 0;
        list[0] = 0;
        for (size_t i = 0; i < NKEYS && used < sizeof list; i++)
            if (!strcmp(keys[i].section, section))
                used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", keys[i].key);
        return ms_fail(e, MS_EINPUT, "%s: [%s] unknown key '%s'; keys of [%s] are: %s", where, section, key, section, list);
    }
    char why[160], allow[256];
    const char *err = set_value(c, k, value, why, sizeof why);
    if (err) {
        allowed(k, allow, sizeof allow);
        return ms_fail(e, MS_EINPUT, "%s: [%s] %s: value '%.200s' %s; allowed: %s", where, section, key, value, err, allow);
    }
    c->key_line[k - keys] = line;
    return MS_OK;
}

void ms_config_defaults(ms_config *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < NKEYS; i++) {
        char why[160];
        const char *err = set_value(c, &keys[i], keys[i].def, why, sizeof why);
        assert(err == NULL && "every default in the key table parses");
        (void)err;
    }
}

/* ---- reading a file through libinih with our own line reader ---- */

typedef struct parse_state {
    ms_config *c;
    const char *origin;
    const char *text; /* remaining input */
    int line;         /* number of the line inih is processing */
    int err_line;     /* first line with an error reported by us; 0 = none */
    ms_err *e;
    int seen[NKEYS]; /* line where each key was set, 0 = not yet */
    char section[64];
} parse_state;

/* inih calls this for every line; we hand out one line at a time, so
 * `line` is exactly the line the handler is about to see. Leading blanks are
 * dropped (inih would otherwise read an indented line as a continuation of
 * the previous value), NUL bytes and over-long lines are errors. */
static char *reader(char *str, int num, void *stream)
{
    parse_state *ps = stream;
    if (!*ps->text)
        return NULL;
    const char *start = ps->text;
    const char *nl = strchr(start, '\n');
    size_t len = nl ? (size_t)(nl - start) : strlen(start);
    ps->text = nl ? nl + 1 : start + len;
    ps->line++;
    while (len && (*start == ' ' || *start == '\t'))
        start++, len--;
    if (ps->err_line) {
        str[0] = 0; /* after the first error, feed blanks: first error wins */
        return str;
    }
    if (len && (*start == ';' || *start == '#')) {
        memcpy(str, "\n", 2); /* a comment, whatever its length */
        return str;
    }
    if (len + 2 > (size_t)num) {
        ps->err_line = ps->line;
        ms_fail(ps->e, MS_EINPUT, "%s:%d: line is longer than %d characters (libinih's line limit; a longer "
                "[run] out can be given with --out)", ps->origin, ps->line, num - 2);
        str[0] = 0;
        return str;
    }
    memcpy(str, start, len);
    str[len] = '\n';
    str[len + 1] = 0;
    /* Section headers are checked here because inih does not report a
     * section that has no keys. */
    if (start[0] == '[') {
        const char *close = memchr(start, ']', len);
        if (close) {
            size_t sl = (size_t)(close - start - 1);
            char name[64];
            if (sl >= sizeof name) {
                ps->err_line = ps->line;
                ms_fail(ps->e, MS_EINPUT, "%s:%d: unknown section (a name of %zu characters); sections are: run, sim, agents, train, rules, gate, surveillance, telemetry, keys", ps->origin, ps->line, sl);
            } else {
                memcpy(name, start + 1, sl);
                name[sl] = 0;
                if (!known_section(name)) {
                    ps->err_line = ps->line;
                    ms_fail(ps->e, MS_EINPUT, "%s:%d: unknown section [%s]; sections are: run, sim, agents, train, rules, gate, surveillance, telemetry, keys", ps->origin, ps->line, name);
                }
            }
            for (const char *p = close + 1; p < start + len; p++)
                if (!is_space(*p) && !ps->err_line) {
                    if (*p == ';' || *p == '#')
                        break;
                    ps->err_line = ps->line;
                    ms_fail(ps->e, MS_EINPUT, "%s:%d: trailing characters after section header", ps->origin, ps->line);
                }
        }
    }
    return str;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    parse_state *ps = user;
    if (ps->err_line)
        return 1;
    char where[MS_PATH_MAX + 32];
    snprintf(where, sizeof where, "%s:%d", ps->origin, ps->line);
    const kspec *k = find_key(section, name);
    if (k) {
        size_t idx = (size_t)(k - keys);
        if (ps->seen[idx]) {
            ps->err_line = ps->line;
            ms_fail(ps->e, MS_EINPUT, "%s: [%s] %s: duplicate key (already set at line %d)", where, section, name, ps->seen[idx]);
            return 0;
        }
        ps->seen[idx] = ps->line;
    }
    if (apply(ps->c, where, ps->line, section, name, value, ps->e) != MS_OK) {
        ps->err_line = ps->line;
        return 0;
    }
    return 1;
}

int ms_config_load_string(ms_config *c, const char *text, const char *origin, ms_err *e)
{
    parse_state ps;
    memset(&ps, 0, sizeof ps);
    ps.c = c;
    ps.origin = origin;
    snprintf(c->origin, sizeof c->origin, "%s", origin);
    ps.text = text;
    ps.e = e;
    int rc = ini_parse_stream(reader, &ps, handler, &ps);
    /* inih keeps parsing after a malformed line (rc = its first bad line),
     * so one of ours may come later: the first error wins. */
    if (rc > 0 && (!ps.err_line || rc < ps.err_line))
        return ms_fail(e, MS_EINPUT, "%s:%d: malformed line; expected 'key = value', '[section]' or a comment (; or #)", origin, rc);
    if (ps.err_line)
        return MS_EINPUT;
    if (rc < 0)
        return ms_fail(e, MS_EIO, "%s: the INI parser failed (%d)", origin, rc);
    return MS_OK;
}

int ms_config_load(ms_config *c, const char *path, ms_err *e)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return ms_fail(e, MS_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    enum { MAX = 1 << 20 };
    char *buf = malloc(MAX + 1);
    if (!buf) {
        fclose(f);
        return ms_fail(e, MS_EIO, "%s: out of memory", path);
    }
    size_t n = fread(buf, 1, MAX + 1, f);
    int rd_err = ferror(f);
    fclose(f);
    int rc;
    if (rd_err)
        rc = ms_fail(e, MS_EINPUT, "%s: read error", path);
    else if (n > MAX)
        rc = ms_fail(e, MS_EINPUT, "%s: larger than %d bytes; not a config file", path, MAX);
    else if (memchr(buf, 0, n)) {
        int line = 1;
        for (const char *p = buf; *p; p++)
            line += *p == '\n';
        rc = ms_fail(e, MS_EINPUT, "%s:%d: NUL byte; not a text file", path, line);
    } else {
        buf[n] = 0;
        rc = ms_config_load_string(c, buf, path, e);
    }
    free(buf);
    return rc;
}

int ms_config_set(ms_config *c, const char *assignment, ms_err *e)
{
    char where[600];
    snprintf(where, sizeof where, "--set %.500s", assignment);
    const char *eq = strchr(assignment, '=');
    const char *dot = strchr(assignment, '.');
    if (!eq || !dot || dot > eq)
        return ms_fail(e, MS_EINPUT, "%s: expected section.key=value", where);
    char section[64], key[128], value[MS_PATH_MAX + 1];
    size_t sl = (size_t)(dot - assignment), kl = (size_t)(eq - dot - 1), vl = strlen(eq + 1);
    if (sl >= sizeof section || kl >= sizeof key || vl >= sizeof value)
        return ms_fail(e, MS_EINPUT, "%s: too long", where);
    memcpy(section, assignment, sl);
    section[sl] = 0;
    memcpy(key, dot + 1, kl);
    key[kl] = 0;
    /* Same trimming as the INI reader: surrounding blanks are not part of a value. */
    const char *v = eq + 1;
    while (is_space(*v)) v++;
    vl = strlen(v);
    while (vl && is_space(v[vl - 1])) vl--;
    memcpy(value, v, vl);
    value[vl] = 0;
    return apply(c, where, -1, section, key, value, e);
}

/* Episodes the run starts (the last may be partial). */
static int64_t run_episodes(const ms_config *c)
{
    return (ms_config_run_steps(c) / c->envs + c->episode_len - 1) / c->episode_len;
}

/* Key generations the run uses. The simulator rotates after every
 * rotate_every_episodes-th completed episode, the last one's included (the
 * final update's bootstrap observation already comes from the next
 * episode), hence the + 1. */
static int64_t run_generations(const ms_config *c)
{
    if (c->rotate_every_episodes <= 0)
        return 1;
    return run_episodes(c) / c->rotate_every_episodes + 1;
}

/* "path:line: ", "--set: " or "" for the most recently set of the keys
 * (NULL-terminated "section.key" names): where a cross-key conflict was made. */
static const char *origin_of(const ms_config *c, char *buf, size_t n, const char *const *names)
{
    int best = 0;
    for (const char *const *p = names; *p; p++) {
        const char *dot = strchr(*p, '.');
        char section[16];
        snprintf(section, sizeof section, "%.*s", (int)(dot - *p), *p);
        const kspec *k = find_key(section, dot + 1);
        assert(k && "origin_of names keys of the table");
        int line = c->key_line[k - keys];
        if (line < 0 || (best >= 0 && line > best))
            best = line;
    }
    if (best > 0)
        snprintf(buf, n, "%s:%d: ", c->origin, best);
    else
        snprintf(buf, n, "%s", best < 0 ? "--set: " : "");
    return buf;
}

int ms_config_finish(ms_config *c, ms_err *e)
{
    char at[MS_PATH_MAX + 32];
    int64_t batch = (int64_t)c->envs * c->rollout;
    if (c->minibatch > batch)
        return ms_fail(e, MS_EINPUT, "%s[train] minibatch: %d exceeds the %lld samples of one rollout ([sim] envs %d x [train] rollout %d); allowed: at most %lld",
                       origin_of(c, at, sizeof at, (const char *const[]){"train.minibatch", "sim.envs", "train.rollout", NULL}),
                       c->minibatch, (long long)batch, c->envs, c->rollout, (long long)batch);
    if (batch > 1 << 20)
        return ms_fail(e, MS_EINPUT, "%s[sim] envs x [train] rollout = %lld samples per rollout; allowed: at most %d",
                       origin_of(c, at, sizeof at, (const char *const[]){"sim.envs", "train.rollout", NULL}),
                       (long long)batch, 1 << 20);
    if (c->rotate_every_episodes > 0) {
        int64_t episodes = run_episodes(c), generations = run_generations(c);
        if (generations > MS_MAX_KEY_GENERATIONS)
            return ms_fail(e, MS_EINPUT, "%s[keys] rotate_every_episodes: %d would rotate through %lld keys in this run's "
                           "%lld episodes; allowed: at most %d keys per run (rotate less often)",
                           origin_of(c, at, sizeof at, (const char *const[]){"keys.rotate_every_episodes", "run.env_steps",
                                                                            "sim.envs", "sim.episode_len", NULL}),
                           c->rotate_every_episodes, (long long)generations, (long long)episodes,
                           MS_MAX_KEY_GENERATIONS);
    }
    return MS_OK;
}

int ms_config_key_generations(const ms_config *c)
{
    int64_t g = run_generations(c);
    return g > MS_MAX_KEY_GENERATIONS ? MS_MAX_KEY_GENERATIONS : (int)g;
}

int ms_config_load_stored(ms_config *c, const char *text, const char *origin, ms_err *e)
{
    int rc = ms_config_load_string(c, text, origin, e);
    for (size_t i = 0; !rc && i < NKEYS; i++)
        if (!keys[i].canonical && c->key_line[i] != 0)
            rc = ms_fail(e, MS_ECHECK, "%s:%d: [%s] %s is never part of a lake's configuration (it cannot change the "
                         "ledger, so it is not hashed and never read back): the stored text was altered",
                         origin, c->key_line[i], keys[i].section, keys[i].key);
    if (!rc)
        rc = ms_config_finish(c, e);
    return rc;
}

int64_t ms_config_run_steps(const ms_config *c)
{
    int64_t per = (int64_t)c->envs * c->rollout;
    return (c->env_steps + per - 1) / per * per;
}

/* Shortest decimal that reads back as the same double. */
static void fmt_real(double v, char *buf, size_t n)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    if (!strchr(buf, '.') && !strchr(buf, 'e') && strlen(buf) + 2 < n)
        memcpy(buf + strlen(buf), ".0", 3);
}

static size_t render_value(const ms_config *c, const kspec *k, char *buf, size_t n)
{
    const char *field = (const char *)c + k->off;
    char tmp[64];
    switch (k->type) {
    case K_NAME: case K_PATH:
        return (size_t)snprintf(buf, n, "%s", field);
    case K_U64:
        return (size_t)snprintf(buf, n, "%llu", (unsigned long long)*(const uint64_t *)field);
    case K_I64:
        return (size_t)snprintf(buf, n, "%lld", (long long)*(const int64_t *)field);
    case K_RETAIN:
        if (*(const int64_t *)field == MS_RETAIN_KEEP)
            return (size_t)snprintf(buf, n, "keep");
        return (size_t)snprintf(buf, n, "%lld", (long long)*(const int64_t *)field);
    case K_INT:
        return (size_t)snprintf(buf, n, "%d", *(const int *)field);
    case K_REAL:
        fmt_real(*(const double *)field, tmp, sizeof tmp);
        return (size_t)snprintf(buf, n, "%s", tmp);
    case K_ENUM:
        return (size_t)snprintf(buf, n, "%s", k->choices[*(const int *)field]);
    case K_PRIORS: {
        size_t used = 0;
        for (int i = 0; i < MS_NCLASS; i++) {
            fmt_real(c->priors[i], tmp, sizeof tmp);
            used += (size_t)snprintf(buf + used, used < n ? n - used : 0, "%s%s", i ? ", " : "", tmp);
        }
        return used;
    }
    case K_HIDDEN: {
        size_t used = 0;
        for (int i = 0; i < c->n_hidden; i++)
            used += (size_t)snprintf(buf + used, used < n ? n - used : 0, "%s%d", i ? ", " : "", c->hidden[i]);
        return used;
    }
    case K_KINDS: {
        unsigned m = *(const unsigned *)field;
        if (m == (1u << MS_NPOISON) - 1)
            return (size_t)snprintf(buf, n, "all");
        size_t used = 0;
        for (int i = 0; i < MS_NPOISON; i++)
            if (m & (1u << i))
                used += (size_t)snprintf(buf + used, used < n ? n - used : 0, "%s%s", used ? ", " : "", ms_poison_names[i]);
        return used;
    }
    }
    return 0;
}

static size_t render(const ms_config *c, char *buf, size_t n, int documented)
{
    size_t used = 0;
    const char *section = "";
#define ROOM (used < n ? n - used : 0)
    for (size_t i = 0; i < NKEYS; i++) {
        const kspec *k = &keys[i];
        if (!documented && !k->canonical)
            continue;
        if (strcmp(section, k->section)) {
            used += (size_t)snprintf(buf + used, ROOM, "%s[%s]\n", used ? "\n" : "", k->section);
            section = k->section;
        }
        if (documented) {
            char allow[256];
            allowed(k, allow, sizeof allow);
            used += (size_t)snprintf(buf + used, ROOM, "; %s (%s)\n", k->help, allow);
        }
        used += (size_t)snprintf(buf + used, ROOM, "%s = ", k->key);
        used += render_value(c, k, buf + used, ROOM);
        used += (size_t)snprintf(buf + used, ROOM, "\n");
    }
#undef ROOM
    return used;
}

size_t ms_config_render(const ms_config *c, char *buf, size_t n)
{
    return render(c, buf, n, 0);
}

size_t ms_config_render_documented(char *buf, size_t n)
{
    ms_config c;
    ms_config_defaults(&c);
    return render(&c, buf, n, 1);
}

int ms_config_hash(const ms_config *c, char hex[65])
{
    char text[MS_CONFIG_TEXT_MAX];
    size_t n = ms_config_render(c, text, sizeof text);
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (EVP_Digest(text, n < sizeof text ? n : sizeof text - 1, md, &mdlen, EVP_sha256(), NULL) != 1 ||
        mdlen != sizeof md) {
        hex[0] = 0;
        return MS_EIO;
    }
    ms_hex(md, 32, hex);
    return MS_OK;
}
