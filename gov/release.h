/* release.h — four-eyes release of a promoted policy (SPEC §10, issue 11):
 * approvals, the approvers' allow-list, and the release file.
 *
 * Trust. Nothing in an approval or a release file is trusted by itself: an
 * approval counts only when its signature verifies with the key the
 * caller's allow-list gives its approver's name; the run's signing key a
 * release names is trusted only because both approvals (checked against
 * the allow-list) name it. All signatures are C2SP signed notes
 * (ledger/note.h: Ed25519 through libcrypto's EVP); nothing here does
 * cryptography of its own.
 *
 * ---- Allow-list (gov_approvers_parse) ------------------------------------
 * One approver a line, in the manner of git's allowed signers:
 *   NAME VERIFIER-KEY
 * NAME: 1..128 bytes of printable ASCII other than '+' and space (a key
 * name); VERIFIER-KEY: a full verifier key as `marlsim keys pubkey` prints
 * it (NAME+8HEX+BASE64: the whole Ed25519 public key; a 4-byte key id alone
 * is never enough). Exactly one space between them; '#' in the first column
 * starts a comment; blank lines are ignored; at most GOV_APPROVERS_MAX
 * approvers; a name listed twice is refused (MS_EINPUT "FILE:LINE: ...").
 * One key under two names is allowed in the list, but two approvals by it
 * are one person's and are refused (below).
 *
 * ---- Approval (gov_approve) ----------------------------------------------
 * A signed note (signature line by the approver's keyring signing key) whose
 * text is exactly these lines, in this order:
 *   marlsim-approval v1
 *   approver NAME                       the approver's name on the allow-list
 *   run RUN_ID
 *   origin ORIGIN                       the checkpoint origin (marlsim/RUN_ID)
 *   checkpoint SIZE ROOT                a signed checkpoint of the run: tree
 *                                       size and base64 root. A later purge
 *                                       moves the head, not this checkpoint
 *   config-sha256 HEX                   the run's config hash
 *   eval EVAL_ID                        the evaluation that promoted the policy
 *   snapshot GET HEX                    SHA-256 of each agent's promoted
 *   snapshot OPEN HEX                   snapshot (policy_snapshots.sha256)
 *   snapshot BIN HEX
 *   run-key VERIFIER-KEY                the key that signed the run's checkpoints
 * gov_approve verifies the lake against run_key (it must be authenticated:
 * intact, complete and signed), reads the promoted policy and the newest
 * checkpoint in the verified snapshot, and signs with kr; it refuses
 * (MS_ECHECK) a lake that does not verify or is not authenticated, and an
 * approver whose signing key is the run's key.
 *
 * ---- Release file (gov_release_make, gov_release_open) --------------------
 * Text, one record a line ending in '\n', in this order (B64 = canonical
 * standard base64, base/b64.h):
 *   marlsim-release v1
 *   run RUN_ID
 *   origin ORIGIN
 *   checkpoint SIZE ROOT
 *   config-sha256 HEX
 *   eval EVAL_ID
 *   run-key VERIFIER-KEY
 *   checkpoint-note B64                 the run's own signed checkpoint (from
 *                                       the lake): checkable with run-key
 *   config-text B64                     the run's canonical config text
 *   snapshot GET HEX B64                each agent's parameters (nn/'s blob)
 *   snapshot OPEN HEX B64
 *   snapshot BIN HEX B64
 *   approval B64                        two approvals (signed notes)
 *   approval B64
 *   end
 * Every byte is checked by gov_release_open: the approvals against the
 * allow-list, the lineage lines against both approvals, the checkpoint note
 * against run-key (and its origin, size and root against the lineage), the
 * config text's SHA-256 and each snapshot's SHA-256 against the approved
 * hashes. Anything else — another record, another order, a missing or
 * extra line, non-canonical base64 — is refused.
 *
 * Refusals (MS_ECHECK unless said otherwise), by gov_release_make and
 * gov_release_open alike: an approval not signed by its approver's listed
 * key, an approver not on the list, two approvals by one approver name, two
 * approvals by one key (two names on one key), an approval by the run's own
 * signing key, approvals that disagree (another run, checkpoint, config or
 * snapshot), a release whose lineage or blobs differ from what was approved.
 * gov_release_make also refuses a lake that does not verify against the
 * approved run key or is not authenticated by it, approvals of another run,
 * config, snapshot (not the lake's last promoted policy) or of a checkpoint
 * that is not one of the lake's signed checkpoints, or whose snapshots are
 * not inside the approved tree. Malformed files: MS_EINPUT.
 *
 * Ownership: every output that is malloc'd says so and has a release
 * function; inputs are the caller's and never kept.
 */
#ifndef MS_GOV_RELEASE_H
#define MS_GOV_RELEASE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "ledger/note.h"
#include "ledger/verify.h"
#include "sim/rules.h" /* MS_NAGENT */

struct ms_keyring;

#define GOV_APPROVERS_MAX 256
#define GOV_RELEASE_MAX (64u << 20) /* the largest release file read */
#define GOV_VERIFIER_MAX (MS_NOTE_NAME_MAX + 64)

typedef struct gov_approver {
    char name[MS_NOTE_NAME_MAX + 1];
    ms_note_verifier key;
} gov_approver;

typedef struct gov_approvers {
    gov_approver a[GOV_APPROVERS_MAX];
    int n;
} gov_approvers;

/* Parses an allow-list (text[0..n), origin names it in messages). MS_OK and
 * *out filled; MS_EINPUT "ORIGIN:LINE: what is wrong". */
int gov_approvers_parse(const char *text, size_t n, const char *origin, gov_approvers *out, ms_err *e);

/* What an approval states (the fields of its text). */
typedef struct gov_statement {
    char approver[MS_NOTE_NAME_MAX + 1];
    char run_id[64];
    char origin[256];
    uint64_t cp_size;
    char cp_root[45];
    char config_sha256[65];
    int64_t eval_id;
    char snapshot[MS_NAGENT][65];
    char run_key[GOV_VERIFIER_MAX];
} gov_statement;

/* Approves the lake's last promoted policy as approver `name` with the
 * signing key of kr (see Approval above). run_key: the run's verifier key
 * (required). On MS_OK *note is a malloc'd signed note of *n bytes (NUL
 * terminated; caller frees), st (may be NULL) what it states and rep (may
 * be NULL) the lake's verification. */
int gov_approve(const char *lake, const ms_note_verifier *run_key, const char *name, const struct ms_keyring *kr,
                char **note, size_t *n, gov_statement *st, lake_verify_report *rep, ms_err *e);

/* A checked release. */
typedef struct gov_release {
    gov_statement st;                 /* the lineage both approvals state (approver = the first's) */
    char approver[2][MS_NOTE_NAME_MAX + 1];
    ms_note_verifier run_key;
    char *config_text;                /* malloc'd, NUL-terminated */
    lake_policy_blob snap[MS_NAGENT]; /* blobs malloc'd; sha256 checked */
} gov_release;

/* Checks approvals a[0], a[1] (signed notes of alen[] bytes) against list,
 * and both against the lake at path, verified against the run key the
 * approvals name (when trusted is not NULL it must be that key); then
 * writes the release file into a malloc'd buffer *out of *n bytes (caller
 * frees). rel (may be NULL) receives what was released (release with
 * gov_release_free); rep (may be NULL) the lake's verification. */
int gov_release_make(const char *lake, const gov_approvers *list, const char *const a[2], const size_t alen[2],
                     const ms_note_verifier *trusted, char **out, size_t *n, gov_release *rel,
                     lake_verify_report *rep, ms_err *e);

/* Checks a release file text[0..n) on its own against list (see Release
 * file above) and fills *rel (release with gov_release_free). */
int gov_release_open(const char *text, size_t n, const gov_approvers *list, gov_release *rel, ms_err *e);
void gov_release_free(gov_release *rel);

/* For audit (gov/audit.c): MS_OK when the verified lake open in R is the
 * release's run — run id, origin, config hash, one of its checkpoints at
 * the approved size with the approved root, the last promoted evaluation
 * with the approved snapshots inside that tree — else MS_ECHECK saying
 * what differs. R must have been verified (ledger/reader.h). */
struct lk_reader;
int gov_release_match_lake(struct lk_reader *R, const gov_statement *st, ms_err *e);

#endif
