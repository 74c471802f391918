/* marlsim.h — the public C API of libmarlsim (libmarlsim.a, libmarlsim.so).
 *
 * The one header a program needs to drive marlsim from C (or from another
 * language through a C FFI: the Python package in python/marlsim is ctypes
 * over this API). It is a thin layer over the library's modules, with
 * opaque handles and plain C types only:
 *
 *   marlsim_config      a configuration: configs/default.ini's keys, from a
 *                       file, a string and "section.key=value" overrides
 *   marlsim_env         the mailbox environment: `envs` mailboxes stepped
 *                       together with a batch of joint actions
 *   marlsim_policy      the last promoted policy of a lake (verified first),
 *                       acting greedily on observations
 *   marlsim_experiment  a whole experiment: train and record a lake, as
 *                       `marlsim run` does
 *
 * Errors. Every call that can fail returns a status: MARLSIM_OK (0) or a
 * negative MARLSIM_E* value; on failure the handle keeps one sentence saying
 * what went wrong (marlsim_*_error: the message of the handle's last failed
 * call, "" before any; the string lives as long as the handle). The create functions follow SQLite's sqlite3_open: *out receives
 * a handle even when they fail (NULL only when memory runs out), so that its
 * error can be read; free it with the matching *_free. Nothing in the
 * library prints, exits or installs a signal handler. Messages never hold
 * key material.
 *
 * Threads. A handle is used by one thread at a time; distinct handles are
 * independent, except that marlsim_experiment_stop may be called from any
 * thread or a signal handler.
 *
 * Determinism. Every random draw comes from generators seeded by the
 * configuration and the seed given to marlsim_env_reset: the same library,
 * config, seed and actions give the same observations, rewards and infos.
 * Greedy policy actions are bit-reproducible for the same OpenBLAS core and
 * thread count (the library never changes the process's BLAS settings,
 * except that marlsim_experiment_run sets the thread count of [train]
 * blas_threads, as `marlsim run` does).
 *
 * Ground truth. The environment reports each message's true class (and
 * whether a broadcast was tampered with or its feedback forged) so that a
 * researcher can score a policy. It is for evaluation only: an agent that is
 * given it is no longer the agent of the experiment (the library's own
 * learners never see it).
 *
 * ABI. The shared library's soname is libmarlsim.so.MAJOR (MAJOR of
 * marlsim_version()); only marlsim_* symbols are exported. The structs below
 * are part of the ABI: changing one is a new MAJOR. MARLSIM_API_VERSION says
 * which revision of this header a program was built against.
 */
#ifndef MARLSIM_H
#define MARLSIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define MARLSIM_API __attribute__((visibility("default")))
#else
#define MARLSIM_API
#endif

#define MARLSIM_API_VERSION 1

/* ---- status, version, names --------------------------------------------- */

enum {
    MARLSIM_OK = 0,
    MARLSIM_EINPUT = -1, /* bad input: a config, a path, an argument, a file that is not a lake */
    MARLSIM_ECHECK = -2, /* a check failed: a tampered lake, a destroyed key generation */
    MARLSIM_EIO = -3     /* the system or a library failed (memory, SQLite, libcrypto) */
};

/* The library's version, e.g. "0.2.0" (the lakes it writes record it). */
MARLSIM_API const char *marlsim_version(void);
/* MARLSIM_API_VERSION of the library (compare with the header's). */
MARLSIM_API int marlsim_api_version(void);
/* "ok", "bad input", "check failed", "I/O failure", or "unknown status". */
MARLSIM_API const char *marlsim_status_name(int status);

enum { MARLSIM_NAGENT = 3 };
enum { MARLSIM_AGENT_GET = 0, MARLSIM_AGENT_OPEN = 1, MARLSIM_AGENT_BIN = 2 };

/* Name lists, each indexed from 0: marlsim_name(kind, i) is the i-th name
 * (a static string), NULL when i is out of range; marlsim_name_count(kind)
 * how many there are (-1 for an unknown kind). */
enum {
    MARLSIM_NAMES_AGENT,     /* GET, OPEN, BIN */
    MARLSIM_NAMES_ACTION,    /* agent i's action 1: GET, OPEN_SAFE_PREVIEW, QUARANTINE */
    MARLSIM_NAMES_CLASS,     /* benign, spam, phishing, malware */
    MARLSIM_NAMES_OUTCOME,   /* delivered, previewed, quarantined, ignored */
    MARLSIM_NAMES_RULE,      /* bit i of a rules mask: broadcast_rejected_hold, threat_intel_block, ... */
    MARLSIM_NAMES_REJECT,    /* broadcast validation results: ok, malformed, ..., stale_seq */
    MARLSIM_NAMES_POISON,    /* tampering in transit: bad_mac, replay, truncated, extra_field */
    MARLSIM_NAMES_FEATURE,   /* the 21 features of a message, in broadcast order */
    MARLSIM_NAMES_REFERENCE, /* reference policies: random, heuristic, oracle */
    MARLSIM_NAMES_STREAM     /* environment streams: train, gate, report */
};
MARLSIM_API const char *marlsim_name(int kind, int i);
MARLSIM_API int marlsim_name_count(int kind);

/* ---- configuration -------------------------------------------------------- */

typedef struct marlsim_config marlsim_config;

/* A configuration: every default, then the INI file at path (if not NULL)
 * or the INI text (if path is NULL and text is not), then each of the nsets
 * overrides "section.key=value" (as `--set`). Errors name file:line (or
 * "--set ..."), the key and what is allowed (MARLSIM_EINPUT). The cross-key
 * checks that only training needs run in marlsim_config_check and
 * marlsim_experiment_create. */
MARLSIM_API int marlsim_config_create(marlsim_config **out, const char *path, const char *text,
                                      const char *const *sets, int nsets);
/* One more "section.key=value" override. */
MARLSIM_API int marlsim_config_set(marlsim_config *c, const char *assignment);
/* The cross-key checks of `marlsim run` (e.g. minibatch <= envs x rollout). */
MARLSIM_API int marlsim_config_check(marlsim_config *c);
/* The canonical text (every hashed key, defaults included, canonical order
 * and number format) into buf (cap bytes, always NUL-terminated when cap >
 * 0); *len (if not NULL) receives its full length. MARLSIM_EINPUT when it
 * does not fit (the message says how much room it needs). */
MARLSIM_API int marlsim_config_render(marlsim_config *c, char *buf, size_t cap, size_t *len);
/* SHA-256 of the canonical text, 64 lowercase hex digits + NUL: the config
 * hash a lake records. */
MARLSIM_API int marlsim_config_hash(marlsim_config *c, char hex[65]);
MARLSIM_API const char *marlsim_config_error(const marlsim_config *c);
MARLSIM_API void marlsim_config_free(marlsim_config *c);

/* ---- environment ---------------------------------------------------------- */

typedef struct marlsim_env marlsim_env;

/* Streams of messages (each seeded by one number, the reset seed):
 *   TRAIN   the training mailboxes; the seed is [run] seed;
 *   GATE    the gate episodes; the seed is the run seed, mixed with [gate]
 *           eval_seed as the trainer does;
 *   REPORT  the report episodes `marlsim eval` plays; the seed is [gate]
 *           eval_seed (the same messages for every run).
 * Pseudonyms and the raw personal data behind them come from the public
 * evaluation keys of the seed (no keyring is involved), so the personal
 * data, and the features derived from it (domain_prev_quarantined), of the
 * TRAIN stream differ from those of a recorded run, whose keys are secret;
 * GATE and REPORT are exactly what the trainer and `marlsim eval` play. */
enum { MARLSIM_STREAM_TRAIN = 0, MARLSIM_STREAM_GATE = 1, MARLSIM_STREAM_REPORT = 2 };

/* Reference policies (marlsim_env_reference_actions). */
enum { MARLSIM_REF_RANDOM = 0, MARLSIM_REF_HEURISTIC = 1, MARLSIM_REF_ORACLE = 2 };

/* What a reset or a step returns, into arrays the caller owns; every
 * pointer may be NULL (not wanted). n = the environment's mailboxes
 * (marlsim_env_num_envs); [n][3] arrays are row-major, one row per mailbox,
 * agents in the order GET, OPEN, BIN. A reset fills obs and obs_rejected
 * only. */
typedef struct marlsim_batch {
    /* The observations the agents see next, [n][obs_dim(agent)] floats per
     * agent (feature order: marlsim_env_feature_name). A rejected broadcast
     * gives zeros. */
    float *obs[MARLSIM_NAGENT];
    uint8_t *obs_rejected; /* [n] 0, or the validator's reason (MARLSIM_NAMES_REJECT) those
                              observations were rejected for: the message will be held
                              whatever the agents do */
    /* The step just taken: */
    double *reward;        /* [n] global reward r, clipped to +-[rules] reward_clip */
    double *reward_raw;    /* [n] before clipping */
    double *credit;        /* [n][3] credit routed to each agent under [train] credit */
    uint8_t *actions;      /* [n][3] the actions as applied (all 0 for a held message) */
    uint8_t *effective;    /* [n][3] effective actions after the rules engine */
    uint8_t *outcome;      /* [n] MARLSIM_NAMES_OUTCOME */
    uint32_t *rules;       /* [n] bit r set: rule r (MARLSIM_NAMES_RULE) fired */
    uint8_t *rejected;     /* [n] 0, or why the message's broadcast was rejected (held) */
    uint8_t *truncated;    /* [n] 1: the time limit ended the episode (the next
                              observation is the next episode's first) */
    uint8_t *compromise;   /* [n] 1: malware was delivered (the mailbox is compromised) */
    /* Ground truth, for evaluation only: */
    uint8_t *cls;          /* [n] true class (MARLSIM_NAMES_CLASS) */
    uint8_t *poisoned;     /* [n] 0, or 1 + the tampering kind (MARLSIM_NAMES_POISON) */
    uint8_t *backdoor;     /* [n] 1: a message of an adversarial (backdoor) campaign */
    uint8_t *forged;       /* [n] 1: its outcome feedback was forged to benign
                              (TRAIN stream only; reward and credit are the forged ones) */
} marlsim_batch;

/* An environment of config c's [sim], [rules], [agents] observe, [train]
 * credit and [keys] rotate_every_episodes, on `stream`, with `envs`
 * mailboxes (0: [sim] envs; else 1..4096: mailbox i's messages do not depend
 * on how many there are). It starts reset with the stream's configured seed.
 * The config is copied: later changes to c do not affect it. */
MARLSIM_API int marlsim_env_create(marlsim_env **out, const marlsim_config *c, int stream, int envs);
MARLSIM_API int marlsim_env_num_envs(const marlsim_env *env);
/* Steps per episode ([sim] episode_len): every mailbox's episode ends by
 * truncation after that many steps, all at once, and the next begins. */
MARLSIM_API int marlsim_env_episode_len(const marlsim_env *env);
/* Length of agent's observation (9, 8, 10; 27 with [agents] observe = all);
 * -1 for an unknown agent. */
MARLSIM_API int marlsim_env_obs_dim(const marlsim_env *env, int agent);
/* Name of element k of agent's observation (a MARLSIM_NAMES_FEATURE name;
 * with observe = all the shared features appear once per modality block),
 * NULL when out of range. */
MARLSIM_API const char *marlsim_env_feature_name(const marlsim_env *env, int agent, int k);
/* The seed of the last reset. */
MARLSIM_API uint64_t marlsim_env_seed(const marlsim_env *env);

/* Restarts the stream from its first step with the given seed (see the
 * streams above) and fills out's observations. */
MARLSIM_API int marlsim_env_reset(marlsim_env *env, uint64_t seed, marlsim_batch *out);
/* Steps every mailbox with the joint actions actions[n][3] (each 0 or 1;
 * anything else is MARLSIM_EINPUT naming the mailbox and agent, and nothing
 * is stepped) and fills out. */
MARLSIM_API int marlsim_env_step(marlsim_env *env, const uint8_t *actions, marlsim_batch *out);
/* The actions a reference policy (MARLSIM_REF_*) takes on the pending
 * observations, into actions[n][3]; prob1[n][3] (may be NULL) the
 * probability it gave action 1. random draws from its own streams keyed by
 * the reset seed (each call draws: call it once per step); the oracle reads
 * the true class (ground truth). Playing these on the REPORT stream is what
 * `marlsim eval --policy random|heuristic|oracle` does. */
MARLSIM_API int marlsim_env_reference_actions(marlsim_env *env, int policy, uint8_t *actions, float *prob1);
MARLSIM_API const char *marlsim_env_error(const marlsim_env *env);
MARLSIM_API void marlsim_env_free(marlsim_env *env);

/* ---- policies from a lake ------------------------------------------------- */

typedef struct marlsim_policy marlsim_policy;

typedef struct marlsim_policy_info {
    char run_id[64];
    int authenticated;       /* 1: a trusted key verified the lake's checkpoints */
    int complete;            /* 1: the run completed */
    int64_t eval_id;         /* the evaluation that promoted the policy */
    int64_t update_id;       /* its last update (0: the initial policy) */
    int64_t snapshot_id[MARLSIM_NAGENT];
    char sha256[MARLSIM_NAGENT][65]; /* SHA-256 of each agent's parameters, re-derived */
    int obs_dim[MARLSIM_NAGENT];     /* inputs each agent's network takes */
} marlsim_policy_info;

/* Verifies the lake at path (every hash, as `marlsim verify` does; with
 * pubkey, a verifier key "NAME+ID+KEY" as `marlsim keys pubkey` prints it,
 * its checkpoints too; NULL: the chain alone, info.authenticated = 0) and
 * loads the policy its verified chain records as last promoted.
 * MARLSIM_ECHECK: the lake is tampered with (or signed by another key);
 * MARLSIM_EINPUT: not a lake, no promoted policy, a malformed key. */
MARLSIM_API int marlsim_policy_load(marlsim_policy **out, const char *lake, const char *pubkey);
MARLSIM_API int marlsim_policy_info_get(const marlsim_policy *p, marlsim_policy_info *info);
/* Greedy joint actions for n observations: obs[a] holds n rows of
 * info.obs_dim[a] floats for agent a; actions[n][3] receives each agent's
 * action (1 iff its action-1 logit is the larger), prob1[n][3] (may be NULL)
 * the probability its policy gives action 1. */
MARLSIM_API int marlsim_policy_act(marlsim_policy *p, const float *const obs[MARLSIM_NAGENT], int n,
                                   uint8_t *actions, float *prob1);
MARLSIM_API const char *marlsim_policy_error(const marlsim_policy *p);
MARLSIM_API void marlsim_policy_free(marlsim_policy *p);

/* ---- experiments ---------------------------------------------------------- */

typedef struct marlsim_experiment marlsim_experiment;

typedef struct marlsim_progress {
    int64_t env_steps, total_env_steps, updates, gates;
    double recent_reward;    /* mean reward per env-step of the last rollout */
    double gate_score;       /* the incumbent's gate score */
    const char *last_decision; /* "baseline", "promoted" or "rolled_back" */
} marlsim_progress;

typedef struct marlsim_run_result {
    char run_id[33], config_sha256[65], head_hash[65];
    char status[16];         /* completed | interrupted | failed | running ("" when no lake was made) */
    char path[1100];         /* the lake */
    int dev_key;             /* 1: the development keyring (nothing signed) */
    int64_t env_steps, updates, gates;
    double seconds;
    int has_report;          /* 1: a completed run, scored on the report episodes: */
    double report_score;     /* mean reward per env-step there */
    int64_t checkpoint_size; /* newest signed checkpoint (0: none) */
    char checkpoint_root[64];
    char signer[200];        /* verifier key of the signer ("" for dev) */
} marlsim_run_result;

/* An experiment of config c (copied), after the cross-key checks. */
MARLSIM_API int marlsim_experiment_create(marlsim_experiment **out, const marlsim_config *c);
/* Called after every rollout (from the running thread); NULL removes it. */
MARLSIM_API void marlsim_experiment_set_progress(marlsim_experiment *x,
                                                 void (*cb)(const marlsim_progress *p, void *ctx), void *ctx);
/* Runs it into a new lake, as `marlsim run` does (same lake, same run id):
 *   out_path  the lake; NULL: [run] out, else runs/<name>-s<seed>-<config hash, 8 hex>.db
 *             (runs/ created in the working directory);
 *   keyring   "dev" (the development key of the seed: nothing signed), a
 *             keyring path or "cmd:COMMAND"; NULL: [keys] keyring, else
 *             $MARLSIM_KEYRING, else ${XDG_DATA_HOME:-~/.local/share}/
 *             marlsim/keyring, which must exist (`marlsim keys init`);
 *   overwrite 1: replace an existing lake at out_path.
 * res (may be NULL) is filled even when the run fails part-way (status says
 * how far the lake got). A stop request (marlsim_experiment_stop) ends the
 * run at the next rollout boundary: MARLSIM_OK with status "interrupted". */
MARLSIM_API int marlsim_experiment_run(marlsim_experiment *x, const char *out_path, const char *keyring,
                                       int overwrite, marlsim_run_result *res);
/* Asks a running experiment to stop (async-signal-safe). */
MARLSIM_API void marlsim_experiment_stop(marlsim_experiment *x);
MARLSIM_API const char *marlsim_experiment_error(const marlsim_experiment *x);
MARLSIM_API void marlsim_experiment_free(marlsim_experiment *x);

#ifdef __cplusplus
}
#endif

#endif
