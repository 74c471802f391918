/* experiment.h — one experiment from config to finished lake: the run id,
 * the build facts, and the orchestration of lake, recorder and trainer.
 *
 * Library code: it neither prints nor chooses exit codes. Progress goes to
 * the caller's callback; failures come back as a status with one sentence
 * in the ms_err (base/err.h).
 *
 * Key material: the run uses ms_config_key_generations(c) consecutive
 * generations of the keyring (the newest ones, unless first_gen says which)
 * for pseudonyms, broadcast MACs and the secret personal streams; its
 * commitment key salts behavioural entries; its signing key signs the
 * checkpoints. The development keyring signs nothing (no checkpoints).
 * The run id is the first 128 bits of SHA-256("marlsim-run-v2|" config hash
 * "|" first generation's fingerprint "|" signing public key, hex, or "dev"):
 * identical runs have identical lakes, another keyring another run id.
 *
 * Outcomes of exp_run (besides MS_OK):
 *   MS_EINPUT  the run cannot start (the keyring holds too few usable
 *              generations — the message says how many more `marlsim keys
 *              rotate` must add — a generation is missing, or the lake could
 *              not be created: an existing file without overwrite, a bad
 *              path): nothing was written, res->status "";
 *   MS_ECHECK  a generation the run needs was destroyed: nothing written;
 *   MS_EIO / MS_EINPUT / MS_ECHECK from the run itself: the lake exists and
 *              says how far the run got — status 'failed' when it could be
 *              finished, else 'running' at its last commit (res->status
 *              tells which; the message says so too).
 * An interruption (*stop, or interrupt_at) is not a failure: MS_OK with
 * res->status "interrupted".
 */
#ifndef MS_EXP_EXPERIMENT_H
#define MS_EXP_EXPERIMENT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "base/version.h"
#include "exp/trainer.h"
#include "sim/config.h"

struct ms_keyring;

/* What one run produced (filled even when it failed part-way). */
typedef struct exp_result {
    char run_id[33], config_sha256[65], head_hash[65], status[16];
    char db[MS_PATH_MAX + 64];
    char key_ids[256];         /* the generations used, e.g. ["k3","k4"] (truncated beyond 256 bytes) */
    int dev_key;
    int64_t checkpoint_size;   /* newest checkpoint (0: none, development key) */
    char checkpoint_root[64];  /* its root, base64 */
    char signer[200];          /* verifier key of the signing key ("" for dev) */
    int64_t env_steps;           /* env-steps the lake holds (after a failure: its
                                    committed ones) */
    double eval_reward, seconds; /* eval_reward: the report score when st.has_report
                                    (a completed run), else the incumbent's gate score */
    trainer_status st;           /* the trainer's figures at the end (exp/trainer.h) */
    trainer_times t;             /* where the time went (seconds) */
    double t_record, t_record_in_env; /* recording alone, and the part of it inside t.env */
    double t_writer;             /* the lake's thread, writing (writer_threads = 1) */
    /* A run of several processes (SPEC §11; run_id above is then the run's,
     * head_hash, checkpoint and db this process's shard's): */
    int ranks;                   /* 1: one process */
    char shard_id[33];           /* this shard's run id (exp/manifest.h) */
    char manifest[MS_PATH_MAX + 64]; /* rank 0: the manifest written ("" none) */
    char manifest_root[64];      /* its root, base64 */
} exp_result;

struct exp_resume_info;

typedef struct exp_options {
    const char *path;            /* the lake to create */
    int overwrite;               /* replace an existing lake at path */
    const struct ms_keyring *kr; /* the key material (keys/keyring.h): a keyring,
                                    or the development keyring of the seed */
    int first_gen;               /* the keyring generation the run starts with
                                    (reproduce: the recorded one); -1: the
                                    newest generations the run needs */
    int reproduce;               /* checkpoints use origin marlsim/<run id>/reproduce */
    int sign_nothing;            /* make no checkpoint even when kr can sign: the
                                    reproduction of a lake that does not verify
                                    runs a config the keyring's owner never chose */
    const struct exp_resume_info *resume; /* not NULL: continue the lake at path
                                    (exp_resume_prepare) instead of creating one */
    int64_t interrupt_at;        /* > 0: behave as interrupted after that many
                                    env-steps (reproduce of an interrupted run) */
    volatile sig_atomic_t *stop; /* may be NULL; nonzero stops at the next step boundary */
    struct ms_comm *comm;        /* the run's processes (exp/comm.h); NULL: one.
                                    With several (SPEC §11): path is this
                                    process's shard (exp/manifest.h names), and
                                    rank 0 writes the manifest at `manifest` */
    const char *manifest;
    void (*progress)(const trainer_status *, void *ctx); /* may be NULL */
    void *progress_ctx;
} exp_options;

/* With several processes (o->comm), exp_run is called by every process
 * of the run at once; before anything is written they agree, or all fail
 * with MS_EINPUT (nothing written): the same config hash, the same
 * identity (keyring) and the same OpenBLAS core as rank 0 (which sends its
 * own; the message of the process that differs names both), [sim] envs
 * and [train] minibatch at least the number of processes, at most
 * MS_MANIFEST_MAX_RANKS of them. Each process writes its shard (run id:
 * manifest_shard_id; build facts: + "mpi" and "ranks"), trains as
 * trainer_init_comm says, and after a completed or interrupted run rank 0
 * writes the manifest over every shard's ledger (signed like the
 * checkpoints; unsigned with the development key). A failure on one
 * process leaves the others waiting in a collective: the caller ends the
 * job (comm_abort). One process (NULL or comm_single()) is the run as it
 * always was, byte for byte. */
int exp_run(const ms_config *c, const exp_options *o, exp_result *res, ms_err *e);

/* Who a run of c with keyring kr is, without running it: the generations
 * (first_gen as in exp_options), their key ids, the signer and the run id.
 * The same outcomes as exp_run's before anything is written. */
typedef struct exp_identity_t {
    char run_id[33], config_sha256[65];
    char key_ids[MS_MAX_KEY_GENERATIONS * 8 + 8]; /* JSON array */
    int first_gen, ngen, dev_key;
    char signer[200];              /* verifier key; "" for the development key */
    unsigned char signer_key_id[4];
} exp_identity_t;
int exp_identity(const ms_config *c, const struct ms_keyring *kr, int first_gen, exp_identity_t *id, ms_err *e);

/* run --resume (SPEC §2, §8): what continuing the unfinished run in a lake
 * takes. exp_resume_prepare verifies the lake at path (with kr's signing
 * key as the trusted key when kr can sign) and reads, in the same read
 * snapshot, its stored config, key generations, origin, recorded OpenBLAS
 * core and entry hashes; then exp_run with o.resume = info, o.path = path,
 * o.kr = kr and o.first_gen = info->first_gen replays the run from its
 * start, comparing every entry the lake holds, and continues it (see
 * ledger/lake.h lake_resume). The resumed lake has the ledger of a run
 * that was never stopped.
 * Outcomes: MS_OK (release with exp_resume_release); MS_ECHECK the lake
 * does not verify, or kr's key cannot vouch for it (a signed lake
 * verified by another key, or one whose checkpoints are gone); MS_EINPUT
 * nothing to resume (completed, purged, an export), a stored config that
 * does not load, or a keyring that is not the run's (another run id);
 * the opening errors of a lake. */
typedef struct exp_resume_info {
    ms_config c;                 /* the run's config, as stored */
    int first_gen;               /* its first key generation */
    char origin[160];            /* its checkpoint origin */
    char run_id[64], status[16]; /* as stored */
    char core[64];               /* the OpenBLAS core of its build facts ("" unknown) */
    unsigned char (*hashes)[32]; /* the verified entry hashes */
    int64_t entries, signed_size, env_steps;
} exp_resume_info;
int exp_resume_prepare(const char *path, const struct ms_keyring *kr, exp_resume_info *info, ms_err *e);
void exp_resume_release(exp_resume_info *info);

/* The first generation of a lake's key_ids (["k3","k4",...] or
 * ["dev0",...]) and whether they are development keys; -1 when the text
 * is not such a list. */
int exp_first_generation(const char *key_ids, int *dev);

/* The value of "key": in a flat JSON object such as the build facts (the
 * text up to the next quote, or comma or brace when unquoted); "" when
 * absent. */
void exp_json_field(const char *json, const char *key, char *out, size_t n);

/* The build facts JSON recorded in the lake (sets the BLAS thread count to
 * the config's first, so the figure is the one the run uses). */
void exp_build_facts(const ms_config *c, char *buf, size_t n);

/* The output path: out if not NULL, else [run] out, else
 * runs/<name>-s<seed>-<first 8 hex digits of the config hash>.db (creating
 * runs/). MS_OK or MS_EIO. */
int exp_default_out(const ms_config *c, const char *out, char *path, size_t n, ms_err *e);

/* An upper estimate of the bytes a run of c leaves in its lake (file, WAL
 * and checkpoint file together, at their largest), for the disk check
 * before a run starts: per env-step EXP_BYTES_FULL at level full (measured
 * 796 on configs/default.ini, lake schema v4), EXP_BYTES_FULL / sample_every +
 * EXP_BYTES_AGGREGATE at sampled, EXP_BYTES_AGGREGATE at aggregate
 * (measured 6.6), plus EXP_BYTES_FIXED (schema, snapshots, checkpoints of a
 * short run), plus one WAL of EXP_BYTES_WAL (the lake's autocheckpoint
 * bound) beside the file. A model, not a promise: README says what each
 * level costs. */
enum { EXP_BYTES_FULL = 900, EXP_BYTES_AGGREGATE = 8 };
#define EXP_BYTES_FIXED (4.0 * 1024 * 1024)
#define EXP_BYTES_WAL (64.0 * 1024 * 1024)
double exp_estimate_lake_bytes(const ms_config *c);

#endif
