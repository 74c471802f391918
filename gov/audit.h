/* audit.h — the compliance audit of a lake (SPEC §10, issue 11): checks,
 * findings with a severity and evidence, and one outcome.
 *
 * gov_audit reads a lake; it never writes it (nor anything beside it: the
 * lake is opened through the read-only handle of ledger/reader.h, the checks
 * run in the read snapshot that lake_verify verified, and the files must be
 * unchanged at the end). The lake is hostile input: every string taken from
 * it is rendered printable (lk_safe_text) before it enters a finding, and
 * nothing read from it is used as a key, a path or a command. The key that
 * vouches for the lake comes from the caller (opts->trusted), never from the
 * lake.
 *
 * ---- Checks ---------------------------------------------------------------
 * Each check ends PASS, FAIL (a finding at its severity) or NOT_APPLICABLE
 * (it could not apply: the data it needs is absent, e.g. aggregate telemetry
 * keeps no per-sample credit rows, or a purge removed them; never counted as
 * passed). Once the lake fails to verify, nothing in it can be trusted: the
 * checks after `signature` are NOT_APPLICABLE.
 *
 *  chain          CRITICAL  lake_verify: every hash re-derived from the stored
 *                 bytes, the chain, the head, the row counts and every
 *                 checkpoint's root. A broken chain means rows were altered,
 *                 removed or added after the fact: no figure of the run can be
 *                 relied on.
 *  signature      CRITICAL  the checkpoints are signed by the expected key (the
 *                 caller's --pubkey or keyring), not by another one. A lake
 *                 signed by another key is someone else's statement (or a
 *                 forgery). HIGH instead when no trusted key was given: the
 *                 audit could not check who vouches for the lake.
 *  checkpoints    HIGH      a signed checkpoint covers every ledger entry and
 *                 states the run's final status (verify's "authenticated").
 *                 Without it a rewrite that re-chains the whole file, or a cut
 *                 tail, goes unseen; a deleted final checkpoint shows here.
 *  dev_key        HIGH      the run did not use the development key. A dev-key
 *                 run derives its pseudonym keys and salts from the public
 *                 seed (anyone can link or re-derive its personal data) and
 *                 signs nothing.
 *  complete       MEDIUM    the run completed (not interrupted, failed or
 *                 still running): figures of a partial run describe a policy
 *                 the run did not finish choosing.
 *  keys_not_stored CRITICAL hmac_keys holds key ids and fingerprints only: every
 *                 key_id is k<N> (dev<N> for a dev-key run) and one of
 *                 runs.key_ids, every fingerprint 32 lowercase hex digits, the
 *                 purpose a known one; with the caller's keyring, each
 *                 fingerprint is that generation's, and none of the keyring's
 *                 HMAC or commitment keys (raw, hex or base64) occurs anywhere
 *                 in the lake file. A stored key would let anyone holding the
 *                 lake re-identify the pseudonymised mail.
 *  policy_updated HIGH      di_credit_assignment is consistent with
 *                 optimizer_steps: a sample marked policy_updated = 1 names an
 *                 update that exists for its agent, took optimizer steps and
 *                 changed the parameter hash; no sample names an update that
 *                 does not exist; no invalid sample names one. The flag is
 *                 the lake's claim of what was trained on.
 *  promotions     HIGH      every promotion scored within tolerance of the best
 *                 promoted score before it (recomputed from the evaluations,
 *                 not taken from best_score), the recorded best_score is that
 *                 best, and the tolerance is the config's. A promotion outside
 *                 it means the gate did not guard what was deployed.
 *  rollbacks      HIGH      rollbacks are recorded: each agent's parameter hash
 *                 before an update is the hash after the previous one, unless
 *                 a rolled_back evaluation at that update (naming the updates
 *                 it undid: those since the previous gate) put the
 *                 incumbent back, in which case it is the incumbent's hash.
 *                 Parameters that changed outside a recorded update or
 *                 rollback are an unrecorded change to the model.
 *  excluded_samples HIGH    rejected broadcasts and defence-flagged samples were
 *                 never trained on: every credit row of an anomalies row's
 *                 (step, env) (of its agent, or of every agent when the row
 *                 names none) has update_id NULL and policy_updated 0, and so
 *                 has every invalid sample. Training on them is the poisoning
 *                 the defence exists to stop.
 *  retention      HIGH      the lake's own retention_* keys (in its hashed
 *                 config) are obeyed: no payload of a class older than its
 *                 retention (steps before S - N of a run of S steps, all of them
 *                 for N = 0) is still present. Keeping data past its retention
 *                 breaks the run's own data-protection promise.
 *  surveillance   HIGH      every critical surveillance finding was handled:
 *                 under [surveillance] action = suspend it was suspended (or
 *                 its agent already frozen), and a suspended agent's later
 *                 optimizer_steps rows show 0 steps and one unchanged hash.
 *  build_facts    MEDIUM    the build facts pin what the ledger depends on:
 *                 openblas_core recorded (and the one blas_core names, when it
 *                 names one) and blas_threads equal to the config's. Without
 *                 them the run cannot be replayed byte for byte.
 *  safeguards     LOW       the poisoning defence ([train] defence) and the
 *                 agent surveillance ([surveillance] enabled) were on.
 *  encryption     INFO      whether the lake's file system is encrypted
 *                 (fscrypt on the file, or a dm-crypt device under it), where
 *                 the platform can tell (SPEC §5). Informational: the lake's
 *                 own protection does not depend on it.
 *  release        HIGH      with a release and an allow-list (opts->release):
 *                 the release checks out (gov/release.h) and is of this run,
 *                 checkpoint and promoted snapshot. NOT_APPLICABLE without.
 *
 * Outcome: CRITICAL when a CRITICAL check failed, else FAILED when a HIGH one
 * did, else PASSED_WITH_WARNINGS when a MEDIUM or LOW one did, else PASSED.
 * INFO findings never change it.
 *
 * Returns MS_OK with *r filled (whatever the outcome: a tampered lake is an
 * outcome, CRITICAL), MS_EINPUT for a file that is not a lake that can be
 * read (missing, not a marlsim lake, unsupported schema version) or bad
 * options, MS_EIO when SQLite, libcrypto or the system failed (also when
 * the lake changed while it was read). e says why.
 */
#ifndef MS_GOV_AUDIT_H
#define MS_GOV_AUDIT_H

#include <stddef.h>

#include "base/err.h"
#include "gov/release.h"
#include "ledger/note.h"
#include "ledger/verify.h"

struct ms_keyring;

enum { GOV_CRITICAL, GOV_HIGH, GOV_MEDIUM, GOV_LOW, GOV_INFO, GOV_NSEVERITY };
extern const char *const gov_severity_names[GOV_NSEVERITY]; /* "CRITICAL", ... */

enum { GOV_PASS, GOV_FAIL, GOV_NA };
extern const char *const gov_result_names[3]; /* "PASS", "FAIL", "NOT_APPLICABLE" */

enum { GOV_PASSED, GOV_PASSED_WITH_WARNINGS, GOV_FAILED, GOV_OUTCOME_CRITICAL };
extern const char *const gov_outcome_names[4];

enum {
    GOV_CHK_CHAIN, GOV_CHK_SIGNATURE, GOV_CHK_CHECKPOINTS, GOV_CHK_DEV_KEY, GOV_CHK_COMPLETE, GOV_CHK_KEYS,
    GOV_CHK_POLICY_UPDATED, GOV_CHK_PROMOTIONS, GOV_CHK_ROLLBACKS, GOV_CHK_EXCLUDED, GOV_CHK_RETENTION,
    GOV_CHK_SURVEILLANCE, GOV_CHK_BUILD, GOV_CHK_SAFEGUARDS, GOV_CHK_ENCRYPTION, GOV_CHK_RELEASE, GOV_NCHECKS
};
/* The check ids in the order above ("chain", "signature", ...). */
extern const char *const gov_check_ids[GOV_NCHECKS];

typedef struct gov_check {
    const char *id;          /* gov_check_ids[k] */
    int severity;            /* GOV_CRITICAL ... GOV_INFO (its severity when it fails) */
    int result;              /* GOV_PASS, GOV_FAIL, GOV_NA */
    char sentence[512];      /* one sentence: what was found (printable ASCII) */
    char evidence[1024];     /* table and row keys, or a query to run in sqlite3 ("" none) */
} gov_check;

typedef struct gov_audit_report {
    gov_check checks[GOV_NCHECKS];
    int outcome;                 /* GOV_PASSED ... GOV_OUTCOME_CRITICAL */
    int findings[GOV_NSEVERITY]; /* failed checks per severity */
    lake_verify_report verify;   /* lake_verify's report (trusted key as given) */
} gov_audit_report;

typedef struct gov_audit_opts {
    const ms_note_verifier *trusted;    /* the expected signer; NULL: none given */
    const struct ms_keyring *keyring;   /* the run's keyring, for keys_not_stored; NULL: not checked */
    const char *release;                /* a release file's bytes (NULL: no release check) */
    size_t release_len;
    const gov_approvers *approvers;     /* required with release */
} gov_audit_opts;

int gov_audit(const char *path, const gov_audit_opts *o, gov_audit_report *r, ms_err *e);

#endif
