/* config.h — the experiment configuration (SPEC §3): parse, validate, render.
 *
 * Parsing uses libinih over a line reader of ours that counts lines, so every
 * error names `file:line`, the `[section] key` and what is allowed. Every key
 * is typed, ranged and defaulted from one table in config.c (the single source
 * of truth: defaults, ranges, canonical order and the help text of
 * configs/default.ini all come from it).
 *
 * Errors (all MS_EINPUT, first error wins): unreadable file, line too long,
 * NUL byte, malformed line, unknown section or key, duplicate key, wrong type,
 * trailing garbage, out of range, non-finite number, integer overflow, priors
 * of the wrong count or not summing to 1, run names unusable in a file path.
 *
 * Canonical form: ms_config_render() writes every key (defaults included) in
 * the table's order with one fixed number format (integers in decimal, reals
 * in the shortest form that round-trips a double). Comments, spacing, key
 * order and spelling a default explicitly do not change it, so its SHA-256
 * (the config hash) identifies the experiment. Settings that cannot change
 * the ledger — `[run] out` (where results go) and `[keys] keyring` (where
 * the secrets come from) — are left out of the canonical text, and a lake's
 * stored text may never set them (ms_config_load_stored).
 */
#ifndef MS_CONFIG_H
#define MS_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/file.h"
#include "base/hash.h"

enum { MS_CLASS_BENIGN, MS_CLASS_SPAM, MS_CLASS_PHISHING, MS_CLASS_MALWARE, MS_NCLASS };
enum { MS_OUT_DELIVERED, MS_OUT_PREVIEWED, MS_OUT_QUARANTINED, MS_OUT_IGNORED, MS_NOUTCOME_REWARD };
enum { MS_ACT_TANH, MS_ACT_RELU };
enum { MS_OBSERVE_MODALITY, MS_OBSERVE_ALL };
enum { MS_CREDIT_DIFFERENCE, MS_CREDIT_GLOBAL, MS_CREDIT_RULES };
enum { MS_LEVEL_FULL, MS_LEVEL_SAMPLED, MS_LEVEL_AGGREGATE };
enum { MS_SYNC_OFF, MS_SYNC_NORMAL, MS_SYNC_FULL, MS_SYNC_EXTRA };
enum { MS_SURV_WARN, MS_SURV_SUSPEND };

/* Broadcast tampering kinds for [sim] poison_kinds (bit i = kind i). */
enum {
    MS_POISON_BAD_MAC,      /* a feature flipped in transit, MAC unchanged */
    MS_POISON_REPLAY,       /* an old sequence number replayed */
    MS_POISON_TRUNCATED,    /* bytes cut off in transit */
    MS_POISON_EXTRA_FIELD,  /* a field injected in transit */
    MS_NPOISON
};

#define MS_MAX_HIDDEN 4
#define MS_RETAIN_KEEP (-1) /* [telemetry] retention_* = keep */
#define MS_CONFIG_MAX_KEYS 96 /* room for the key table */
#define MS_MAX_KEY_GENERATIONS 4096 /* pseudonym keys one run may rotate through */
#define MS_NAME_MAX 64

extern const char *const ms_class_names[MS_NCLASS];
extern const char *const ms_poison_names[MS_NPOISON];
extern const char *const ms_credit_names[]; /* by MS_CREDIT_*, NULL-terminated */

typedef struct ms_config {
    /* [run] */
    char name[MS_NAME_MAX + 1];
    uint64_t seed;
    int64_t env_steps;
    char out[MS_PATH_MAX + 1]; /* "" = runs/<name>-s<seed>.db */
    /* [sim] */
    int envs, episode_len;
    double priors[MS_NCLASS];
    double campaign_rate, poison_rate, backdoor_rate, feedback_poison;
    unsigned poison_kinds; /* bitmask over MS_POISON_* */
    /* [agents] */
    int hidden[MS_MAX_HIDDEN], n_hidden;
    int activation, observe;
    /* [train] */
    int algorithm; /* only ppo */
    double lr, gamma, lambda, clip;
    int epochs, minibatch, rollout;
    double entropy, value_coef, grad_clip;
    int credit, blas_threads, defence;
    int blas_core;              /* index into nn_blas_core_names (nn/blascore.h); 0 = auto */
    int writer_threads;         /* [telemetry] writer_threads: 0 or 1 (not hashed) */
    /* [rules] */
    double reward_clip;
    double reward[MS_NCLASS][MS_NOUTCOME_REWARD]; /* business reward table */
    double compromise_cost;  /* added when malware is delivered (negative) */
    int compromise_steps;    /* messages compromised after a delivery */
    double penalty_threat_intel_block, penalty_preview_requires_fetch,
        penalty_quarantine_supersedes_preview;
    /* [gate] */
    int gate_every, eval_episodes, report_episodes;
    double tolerance;
    uint64_t eval_seed;
    /* [surveillance] */
    int surv_enabled, surv_action; /* surv_action: MS_SURV_WARN | MS_SURV_SUSPEND */
    double entropy_floor, drift_tolerance;
    /* [telemetry] */
    int level, sample_every, synchronous, checkpoint_every;
    /* retention per class (SPEC §3): steps `purge --policy-from` keeps, the
     * run's last N simulation steps; MS_RETAIN_KEEP = keep everything */
    int64_t retention_behavioural, retention_security, retention_operational;
    /* [keys] */
    char keyring[MS_PATH_MAX + 1];
    int rotate_every_episodes;
    /* Where the values came from, for errors only (never rendered or
     * hashed): the file loaded last and, per key (key-table order), the line
     * that set it there; -1 = --set, 0 = the default. */
    char origin[MS_PATH_MAX + 1];
    int key_line[MS_CONFIG_MAX_KEYS];
} ms_config;

/* Fills c with every default. Cannot fail (defaults are tested). */
void ms_config_defaults(ms_config *c);

/* Parses path on top of the current contents of c (call defaults first).
 * Returns MS_OK, or MS_EINPUT with "path:line: [section] key: ...". */
int ms_config_load(ms_config *c, const char *path, ms_err *e);

/* Parses an INI document held in memory; `origin` names it in errors. */
int ms_config_load_string(ms_config *c, const char *text, const char *origin, ms_err *e);

/* Applies one "section.key=value" override through the same validation.
 * Errors read "--set section.key=value: ...". */
int ms_config_set(ms_config *c, const char *assignment, ms_err *e);

/* Cross-key checks that only make sense once everything is read (e.g. the
 * minibatch must not exceed the rollout's samples). Errors start with where
 * the most recently set of the keys involved was set ("path:line: " or
 * "--set: "), then name the keys and what is allowed. */
int ms_config_finish(ms_config *c, ms_err *e);

/* Loads the canonical text a lake stores (hostile input: `origin` names it
 * in errors), then ms_config_finish. Besides ms_config_load_string's errors:
 * MS_ECHECK when the text sets a key that is never hashed ([run] out,
 * [keys] keyring) — a lake never holds one, so the text was altered, and it
 * must never steer where outputs go or which keyring (or command) is used. */
int ms_config_load_stored(ms_config *c, const char *text, const char *origin, ms_err *e);

/* Key generations the run uses: 1, or with [keys] rotate_every_episodes = E
 * one more per E completed episodes. */
int ms_config_key_generations(const ms_config *c);

/* Writes the canonical text into buf (NUL-terminated). Returns the length it
 * needs (excluding NUL), like snprintf; call with a buffer of
 * MS_CONFIG_TEXT_MAX to never truncate. */
#define MS_CONFIG_TEXT_MAX 8192
size_t ms_config_render(const ms_config *c, char *buf, size_t n);

/* SHA-256 of the canonical text, as 64 lowercase hex digits + NUL: MS_OK,
 * or MS_EIO when libcrypto failed (out of memory; hex is then ""). */
int ms_config_hash(const ms_config *c, char hex[65]);

/* Writes configs/default.ini-style text: every key, its default and a
 * one-line comment saying what it is and what is allowed. */
size_t ms_config_render_documented(char *buf, size_t n);

/* Total env-steps the run will take: env_steps rounded up to whole
 * rollouts of envs × rollout. */
int64_t ms_config_run_steps(const ms_config *c);


#endif
