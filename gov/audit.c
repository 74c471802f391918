/* audit.c — the compliance checks of a lake (contract and the list of
 * checks in audit.h). */
#include "gov/audit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <linux/fscrypt.h>
#include <openssl/crypto.h>

#include "base/b64.h"
#include "base/hash.h"
#include "keys/keyring.h"
#include "ledger/lifecycle.h"
#include "ledger/reader.h"
#include "nn/blascore.h"
#include "sim/config.h"

const char *const gov_severity_names[GOV_NSEVERITY] = {"CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO"};
const char *const gov_result_names[3] = {"PASS", "FAIL", "NOT_APPLICABLE"};
const char *const gov_outcome_names[4] = {"PASSED", "PASSED_WITH_WARNINGS", "FAILED", "CRITICAL"};
const char *const gov_check_ids[GOV_NCHECKS] = {
    "chain",         "signature",        "checkpoints", "dev_key",      "complete",    "keys_not_stored",
    "policy_updated", "promotions",      "rollbacks",   "excluded_samples", "retention", "surveillance",
    "build_facts",   "safeguards",       "encryption",  "release"};
static const int check_severity[GOV_NCHECKS] = {
    GOV_CRITICAL, GOV_CRITICAL, GOV_HIGH, GOV_HIGH, GOV_MEDIUM, GOV_CRITICAL, GOV_HIGH, GOV_HIGH,
    GOV_HIGH,     GOV_HIGH,     GOV_HIGH, GOV_HIGH, GOV_MEDIUM, GOV_LOW,      GOV_INFO, GOV_HIGH};

/* Sets check k's result and sentence (printf-style; bytes outside printable
 * ASCII become '?') and evidence (copied as given, same rendering). */
static void printable(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            *s = '?';
}

__attribute__((format(printf, 5, 6))) static void set(gov_audit_report *r, int k, int result, const char *evidence,
                                                      const char *fmt, ...)
{
    gov_check *c = &r->checks[k];
    c->result = result;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->sentence, sizeof c->sentence, fmt, ap);
    va_end(ap);
    printable(c->sentence);
    snprintf(c->evidence, sizeof c->evidence, "%s", evidence ? evidence : "");
    printable(c->evidence);
}

typedef struct actx {
    gov_audit_report *r;
    const gov_audit_opts *o;
    const char *path;
    ms_config cfg;
    int have_cfg;
    char cfg_why[840];
    int dev_key;
    int64_t env_steps;
} actx;

/* One-row integer query with up to two bound integers; *out = 0 for NULL. */
static int qint(lk_reader *R, const char *sql, int nb, int64_t b1, int64_t b2, int64_t *out, ms_err *e)
{
    sqlite3_stmt *st;
    int rc = lk_prep(R, sql, &st, e);
    if (rc)
        return rc;
    if (nb > 0)
        sqlite3_bind_int64(st, 1, b1);
    if (nb > 1)
        sqlite3_bind_int64(st, 2, b2);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    else
        rc = lk_sqlerr(R, s, "audit", e);
    sqlite3_finalize(st);
    return rc;
}

/* Column i of the current row as printable text. */
static void coltext(sqlite3_stmt *st, int i, char *out, size_t n)
{
    lk_value v;
    if (lk_col_value(st, i, &v))
        snprintf(out, n, "?");
    else
        lk_safe_text(out, n, &v);
}

/* ---- keys_not_stored ------------------------------------------------------ */

static int key_id_ok(const char *id, int dev)
{
    const char *p = dev ? "dev" : "k";
    size_t pl = strlen(p), n = strlen(id);
    if (n <= pl || n > pl + 9 || strncmp(id, p, pl) || (n > pl + 1 && id[pl] == '0'))
        return 0;
    for (size_t i = pl; i < n; i++)
        if (id[i] < '0' || id[i] > '9')
            return 0;
    return 1;
}

/* 1 when needle occurs in the file at path (read in chunks with overlap);
 * 0 when not or the file is absent; -1 on a read error. */
static int file_holds(const char *path, const unsigned char *const *needles, const size_t *lens, int nn)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    enum { CHUNK = 1 << 20, OVER = 128 };
    unsigned char *buf = malloc(CHUNK + OVER);
    if (!buf) {
        close(fd);
        return -1;
    }
    size_t have = 0;
    int found = 0;
    for (;;) {
        ssize_t got = read(fd, buf + have, CHUNK);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            found = -1;
            break;
        }
        size_t len = have + (size_t)got;
        for (int k = 0; k < nn && !found; k++)
            if (memmem(buf, len, needles[k], lens[k]))
                found = 1;
        if (found || got == 0)
            break;
        have = len < OVER ? len : OVER;
        memmove(buf, buf + len - have, have);
    }
    free(buf);
    close(fd);
    return found;
}

/* The keyring's HMAC and commitment keys, raw, hex and base64, anywhere in
 * the lake file or its WAL: 1 found, 0 not, -1 could not read. */
static int keys_in_file(const char *real, const ms_keyring *kr, int *nkeys, ms_err *e)
{
    enum { MAXK = 64 };
    unsigned char raw[MAXK][32];
    unsigned char txt[MAXK][2][72];
    const unsigned char *nd[MAXK * 3];
    size_t nl[MAXK * 3];
    int nk = 0, nn = 0, found = 0;
    int gens = ms_keyring_generations(kr);
    for (int g = -1; g < gens && nk < MAXK; g++) {
        ms_err ke;
        int rc = g < 0 ? ms_keyring_commit_key(kr, raw[nk], &ke) : ms_keyring_hmac_key(kr, g, raw[nk], &ke);
        if (rc) /* a destroyed generation has no bytes left to find */
            continue;
        ms_hex(raw[nk], 32, (char *)txt[nk][0]);
        ms_b64_encode(raw[nk], 32, (char *)txt[nk][1]);
        nd[nn] = raw[nk], nl[nn++] = 32;
        nd[nn] = txt[nk][0], nl[nn++] = 64;
        nd[nn] = txt[nk][1], nl[nn++] = 44;
        nk++;
    }
    *nkeys = nk;
    char wal[sizeof((lk_reader *)0)->real + 8];
    snprintf(wal, sizeof wal, "%s-wal", real);
    int a = file_holds(real, nd, nl, nn);
    int b = a == 0 ? file_holds(wal, nd, nl, nn) : 0;
    OPENSSL_cleanse(raw, sizeof raw);
    OPENSSL_cleanse(txt, sizeof txt);
    if (a < 0 || b < 0)
        return ms_fail(e, MS_EIO, "%s: cannot read it to look for key bytes", real);
    found = a > 0 || b > 0;
    return found;
}

static int check_keys(lk_reader *R, actx *x, ms_err *e)
{
    gov_audit_report *r = x->r;
    const ms_keyring *kr = x->o->keyring;
    sqlite3_stmt *st;
    int rc = lk_prep(R,
                     "SELECT rowid, key_id, purpose, fingerprint, key_id IN (SELECT value FROM json_each((SELECT "
                     "key_ids FROM runs))) FROM hmac_keys ORDER BY rowid",
                     &st, e);
    if (rc)
        return rc;
    int64_t rows = 0, bad = 0, mismatch = 0;
    char first[300] = "";
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        char id[40], purpose[40], fp[80];
        rows++;
        coltext(st, 1, id, sizeof id);
        coltext(st, 2, purpose, sizeof purpose);
        coltext(st, 3, fp, sizeof fp);
        int listed = sqlite3_column_int(st, 4);
        const char *why = NULL;
        if (!key_id_ok(id, x->dev_key))
            why = "a key_id that is not a key id";
        else if (!listed)
            why = "a key_id runs.key_ids does not name";
        else if (strcmp(purpose, "pseudonym") && strcmp(purpose, "broadcast"))
            why = "an unknown purpose";
        else if (strlen(fp) != 32 || !ms_is_lower_hex(fp, 32))
            why = "a fingerprint that is not 32 lowercase hex digits";
        if (!why && kr && !x->dev_key && !ms_keyring_is_dev(kr)) {
            ms_key_generation g;
            ms_err ke;
            if (ms_keyring_find(kr, id, &g, &ke) == MS_OK && !strcmp(purpose, "pseudonym") && strcmp(g.fingerprint, fp)) {
                why = "a fingerprint that is not the keyring's for that generation";
                mismatch++;
            }
        }
        if (why && !bad++)
            snprintf(first, sizeof first, "hmac_keys rowid %lld (key_id %s): %s", (long long)sqlite3_column_int64(st, 0),
                     id, why);
    }
    if (s != SQLITE_DONE)
        rc = lk_sqlerr(R, s, "hmac_keys", e);
    sqlite3_finalize(st);
    if (rc)
        return rc;
    const char *ev = "SELECT rowid, key_id, purpose, fingerprint FROM hmac_keys; SELECT key_ids FROM runs";
    if (bad) {
        set(r, GOV_CHK_KEYS, GOV_FAIL, ev, "%lld hmac_keys row%s hold more than a key id and a fingerprint; the first: %s",
            (long long)bad, bad == 1 ? "" : "s", first);
        return MS_OK;
    }
    char note[200] = "";
    if (kr && !ms_keyring_is_dev(kr) && !x->dev_key) {
        int nk = 0;
        int found = keys_in_file(R->real, kr, &nk, e);
        if (found < 0)
            return found;
        if (found) {
            set(r, GOV_CHK_KEYS, GOV_FAIL, "the lake file's bytes (and its -wal)",
                "a key of the keyring (HMAC generation or commitment key, raw, hex or base64) occurs in the lake file");
            return MS_OK;
        }
        snprintf(note, sizeof note, "; none of the keyring's %d HMAC and commitment keys occurs in the file (raw, hex "
                 "or base64) and the pseudonym fingerprints are the keyring's", nk);
    } else {
        snprintf(note, sizeof note, "; the file was not searched for key bytes (no keyring given: --keyring K)");
    }
    if (!rows && !x->dev_key)
        set(r, GOV_CHK_KEYS, GOV_NA, ev, "hmac_keys holds no row (an interrupted run records none, or a purge removed "
            "them)%s", note);
    else
        set(r, GOV_CHK_KEYS, GOV_PASS, ev, "%lld hmac_keys row%s: key ids and 32-hex fingerprints only%s",
            (long long)rows, rows == 1 ? "" : "s", note);
    return MS_OK;
}

/* ---- policy_updated and excluded samples ------------------------------------ */

static const char q_policy_updated[] =
    "WITH u AS (SELECT update_id, agent, SUM(policy_updated) AS pu, COUNT(*) AS n FROM di_credit_assignment "
    "GROUP BY update_id, agent) "
    "SELECT u.update_id, u.agent, u.pu, u.n FROM u LEFT JOIN optimizer_steps AS o "
    "ON o.update_id = u.update_id AND o.agent = u.agent "
    "WHERE (u.update_id IS NULL AND u.pu > 0) OR (u.update_id IS NOT NULL AND o.rowid IS NULL) "
    "OR (u.pu > 0 AND (o.steps = 0 OR o.params_sha256_before = o.params_sha256_after)) "
    "ORDER BY u.update_id, u.agent";

static int check_policy_updated(lk_reader *R, actx *x, int64_t credit_rows, ms_err *e)
{
    gov_audit_report *r = x->r;
    if (!credit_rows) {
        set(r, GOV_CHK_POLICY_UPDATED, GOV_NA, "SELECT COUNT(*) FROM di_credit_assignment",
            "di_credit_assignment holds no per-sample rows ([telemetry] level = aggregate, or purged): the "
            "policy_updated flags cannot be checked");
        return MS_OK;
    }
    sqlite3_stmt *st;
    int rc = lk_prep(R, q_policy_updated, &st, e);
    if (rc)
        return rc;
    int64_t groups = 0, rows = 0;
    char first[200] = "";
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        rows += sqlite3_column_int64(st, 3);
        if (!groups++) {
            char agent[16];
            coltext(st, 1, agent, sizeof agent);
            if (sqlite3_column_type(st, 0) == SQLITE_NULL)
                snprintf(first, sizeof first, "agent %s: samples with policy_updated = 1 but no update_id", agent);
            else
                snprintf(first, sizeof first, "update %lld agent %s", (long long)sqlite3_column_int64(st, 0), agent);
        }
    }
    if (s != SQLITE_DONE)
        rc = lk_sqlerr(R, s, "di_credit_assignment", e);
    sqlite3_finalize(st);
    if (rc)
        return rc;
    if (groups)
        set(r, GOV_CHK_POLICY_UPDATED, GOV_FAIL, q_policy_updated,
            "%lld credit rows (%lld update/agent pairs) claim an update that did not change that agent's parameters "
            "or does not exist; the first: %s", (long long)rows, (long long)groups, first);
    else
        set(r, GOV_CHK_POLICY_UPDATED, GOV_PASS, q_policy_updated,
            "every one of %lld credit rows names an existing update of its agent, and policy_updated = 1 only where "
            "that update took optimizer steps and changed the parameter hash", (long long)credit_rows);
    return MS_OK;
}

static const char q_excluded[] =
    "SELECT d.step, d.env, d.agent, d.update_id FROM anomalies AS a JOIN di_credit_assignment AS d "
    "ON d.step = a.step AND d.env = a.env AND (a.agent IS NULL OR d.agent = a.agent) "
    "WHERE d.update_id IS NOT NULL OR d.policy_updated <> 0 "
    "UNION SELECT step, env, agent, update_id FROM di_credit_assignment "
    "WHERE valid = 0 AND (update_id IS NOT NULL OR policy_updated <> 0) ORDER BY 1, 2, 3";

static int check_excluded(lk_reader *R, actx *x, int64_t credit_rows, ms_err *e)
{
    gov_audit_report *r = x->r;
    int64_t anomalies = 0, present = 0, invalid = 0;
    int rc;
    if ((rc = qint(R, "SELECT COUNT(*) FROM anomalies", 0, 0, 0, &anomalies, e)) ||
        (rc = qint(R, "SELECT COUNT(*) FROM di_credit_assignment WHERE valid = 0", 0, 0, 0, &invalid, e)))
        return rc;
    if (!credit_rows) {
        set(r, GOV_CHK_EXCLUDED, GOV_NA, "SELECT COUNT(*) FROM di_credit_assignment",
            "di_credit_assignment holds no per-sample rows ([telemetry] level = aggregate, or purged): whether the "
            "%lld anomalies' samples trained cannot be checked", (long long)anomalies);
        return MS_OK;
    }
    if ((rc = qint(R,
                   "SELECT COUNT(*) FROM anomalies AS a WHERE EXISTS (SELECT 1 FROM di_credit_assignment AS d "
                   "WHERE d.step = a.step AND d.env = a.env)",
                   0, 0, 0, &present, e)))
        return rc;
    sqlite3_stmt *st;
    if ((rc = lk_prep(R, q_excluded, &st, e)))
        return rc;
    int64_t bad = 0;
    char first[200] = "";
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW)
        if (!bad++) {
            char agent[16];
            coltext(st, 2, agent, sizeof agent);
            snprintf(first, sizeof first, "di_credit_assignment step %lld env %lld agent %s (update %lld)",
                     (long long)sqlite3_column_int64(st, 0), (long long)sqlite3_column_int64(st, 1), agent,
                     (long long)sqlite3_column_int64(st, 3));
        }
    if (s != SQLITE_DONE)
        rc = lk_sqlerr(R, s, "anomalies", e);
    sqlite3_finalize(st);
    if (rc)
        return rc;
    if (bad)
        set(r, GOV_CHK_EXCLUDED, GOV_FAIL, q_excluded,
            "%lld samples that were rejected or flagged by the defence were used by an update; the first: %s",
            (long long)bad, first);
    else
        set(r, GOV_CHK_EXCLUDED, GOV_PASS, q_excluded,
            "no rejected or flagged sample trained: %lld anomalies (%lld with their samples in the lake) and %lld "
            "invalid credit rows, all with update_id NULL and policy_updated 0", (long long)anomalies,
            (long long)present, (long long)invalid);
    return MS_OK;
}

/* ---- promotions and rollbacks ---------------------------------------------- */

typedef struct evalrow {
    int64_t eval_id, update_id, undone_first, undone_last;
    double cand, best, tol;
    int has_best, has_undone;
    char decision[16];
} evalrow;

static int read_evals(lk_reader *R, evalrow **out, int64_t *n, ms_err *e)
{
    *out = NULL;
    *n = 0;
    int64_t cnt = 0;
    int rc = qint(R, "SELECT COUNT(*) FROM evaluations", 0, 0, 0, &cnt, e);
    if (rc || !cnt)
        return rc;
    evalrow *v = calloc((size_t)cnt, sizeof *v);
    if (!v)
        return ms_fail(e, MS_EIO, "out of memory");
    sqlite3_stmt *st;
    if ((rc = lk_prep(R,
                      "SELECT eval_id, COALESCE(update_id, 0), candidate_score, best_score, tolerance, decision, "
                      "undone_first, undone_last FROM evaluations ORDER BY eval_id",
                      &st, e))) {
        free(v);
        return rc;
    }
    int64_t k = 0;
    int s;
    while (k < cnt && (s = sqlite3_step(st)) == SQLITE_ROW) {
        evalrow *w = &v[k++];
        w->eval_id = sqlite3_column_int64(st, 0);
        w->update_id = sqlite3_column_int64(st, 1);
        w->cand = sqlite3_column_double(st, 2);
        w->has_best = sqlite3_column_type(st, 3) != SQLITE_NULL;
        w->best = sqlite3_column_double(st, 3);
        w->tol = sqlite3_column_double(st, 4);
        coltext(st, 5, w->decision, sizeof w->decision);
        w->has_undone = sqlite3_column_type(st, 6) != SQLITE_NULL && sqlite3_column_type(st, 7) != SQLITE_NULL;
        w->undone_first = sqlite3_column_int64(st, 6);
        w->undone_last = sqlite3_column_int64(st, 7);
    }
    sqlite3_finalize(st);
    *out = v;
    *n = k;
    return MS_OK;
}

static int same_score(double a, double b)
{
    return fabs(a - b) <= 1e-12 * fmax(1.0, fabs(b));
}

static void check_promotions(actx *x, const evalrow *ev, int64_t n)
{
    gov_audit_report *r = x->r;
    const char *q = "SELECT * FROM v_gate_decisions";
    if (!n) {
        set(r, GOV_CHK_PROMOTIONS, GOV_NA, q, "evaluations holds no row (the run stopped before its baseline, or a "
            "purge removed them): no promotion to check");
        return;
    }
    double best = -INFINITY;
    int64_t promoted = 0;
    for (int64_t k = 0; k < n; k++) {
        const evalrow *w = &ev[k];
        if (!strcmp(w->decision, "baseline")) {
            best = fmax(best, w->cand);
            continue;
        }
        if (x->have_cfg && !same_score(w->tol, x->cfg.tolerance)) {
            set(r, GOV_CHK_PROMOTIONS, GOV_FAIL, q, "evaluations eval_id %lld: tolerance %g is not the config's "
                "[gate] tolerance %g", (long long)w->eval_id, w->tol, x->cfg.tolerance);
            return;
        }
        if (isfinite(best) && (!w->has_best || !same_score(w->best, best))) {
            set(r, GOV_CHK_PROMOTIONS, GOV_FAIL, q, "evaluations eval_id %lld: best_score %.6f is not the best "
                "promoted score before it (%.6f)", (long long)w->eval_id, w->has_best ? w->best : NAN, best);
            return;
        }
        if (!strcmp(w->decision, "promoted")) {
            promoted++;
            if (!(w->cand >= best - w->tol - 1e-12)) {
                set(r, GOV_CHK_PROMOTIONS, GOV_FAIL, q, "evaluations eval_id %lld: promoted with score %.6f, below "
                    "the best %.6f less the tolerance %g (margin %.6f)", (long long)w->eval_id, w->cand, best, w->tol,
                    w->cand - best);
                return;
            }
            best = fmax(best, w->cand);
        } else if (strcmp(w->decision, "rolled_back")) {
            set(r, GOV_CHK_PROMOTIONS, GOV_FAIL, q, "evaluations eval_id %lld: unknown decision '%s'",
                (long long)w->eval_id, w->decision);
            return;
        }
    }
    set(r, GOV_CHK_PROMOTIONS, GOV_PASS, q, "%lld promotion%s, each within tolerance of the best promoted score "
        "before it (recomputed from the evaluations); best %.6f", (long long)promoted, promoted == 1 ? "" : "s", best);
}

static int check_rollbacks(lk_reader *R, actx *x, const evalrow *ev, int64_t n, ms_err *e)
{
    gov_audit_report *r = x->r;
    const char *q = "SELECT update_id, agent, params_sha256_before, params_sha256_after FROM optimizer_steps ORDER "
                    "BY agent, update_id; SELECT * FROM v_gate_decisions";
    int64_t steps = 0, rollbacks = 0;
    int rc = qint(R, "SELECT COUNT(*) FROM optimizer_steps", 0, 0, 0, &steps, e);
    if (rc)
        return rc;
    if (!steps || !n) {
        set(r, GOV_CHK_ROLLBACKS, GOV_NA, q, "no optimizer step or no evaluation recorded (or purged): no parameter "
            "lineage to check");
        return MS_OK;
    }
    /* A rollback names what it undid: the updates since the previous gate
     * (each of them started from the incumbent or its successors). */
    int64_t prev_gate = 0;
    for (int64_t k = 0; k < n; k++) {
        const evalrow *w = &ev[k];
        if (!strcmp(w->decision, "rolled_back")) {
            rollbacks++;
            if (!w->has_undone || w->undone_first != prev_gate + 1 || w->undone_last != w->update_id) {
                set(r, GOV_CHK_ROLLBACKS, GOV_FAIL, q, "evaluations eval_id %lld rolled back update %lld but names "
                    "undone updates %lld..%lld, not those since the previous gate (%lld..%lld)", (long long)w->eval_id,
                    (long long)w->update_id, (long long)w->undone_first, (long long)w->undone_last,
                    (long long)prev_gate + 1, (long long)w->update_id);
                return MS_OK;
            }
        }
        prev_gate = w->update_id;
    }
    sqlite3_stmt *st;
    if ((rc = lk_prep(R,
                      "SELECT update_id, agent, params_sha256_before, params_sha256_after FROM optimizer_steps "
                      "ORDER BY agent, update_id",
                      &st, e)))
        return rc;
    char agent[16] = "", inc[80] = "", prev[80] = "", b[80], a[80], ag[16];
    int64_t prev_update = 0, k = 0;
    int s, broken = 0;
    while (!broken && (s = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t u = sqlite3_column_int64(st, 0);
        coltext(st, 1, ag, sizeof ag);
        coltext(st, 2, b, sizeof b);
        coltext(st, 3, a, sizeof a);
        if (strcmp(ag, agent)) { /* a new agent: its first update starts from the initial parameters */
            snprintf(agent, sizeof agent, "%s", ag);
            snprintf(inc, sizeof inc, "%s", b);
            snprintf(prev, sizeof prev, "%s", b);
            prev_update = u - 1;
            k = 0;
        }
        /* The gate after the previous update, if any (evaluations are few and ordered by update). */
        while (k < n && ev[k].update_id < prev_update)
            k++;
        int rolled = 0;
        for (int64_t j = k; j < n && ev[j].update_id == prev_update; j++) {
            if (!strcmp(ev[j].decision, "rolled_back"))
                rolled = 1;
        }
        const char *want = rolled ? inc : prev;
        if (u != prev_update + 1 || strcmp(b, want)) {
            set(r, GOV_CHK_ROLLBACKS, GOV_FAIL, q, "optimizer_steps update %lld agent %s starts from parameters "
                "%.12s..., not %.12s... (%s): the parameters changed outside a recorded update or rollback",
                (long long)u, ag, b, want, rolled ? "the incumbent a recorded rollback restored" : "those the "
                "previous update left");
            broken = 1;
            break;
        }
        snprintf(prev, sizeof prev, "%s", a);
        prev_update = u;
        for (int64_t j = k; j < n && ev[j].update_id <= u; j++)
            if (ev[j].update_id == u && !strcmp(ev[j].decision, "promoted"))
                snprintf(inc, sizeof inc, "%s", a);
    }
    if (!broken && s != SQLITE_DONE)
        rc = lk_sqlerr(R, s, "optimizer_steps", e);
    sqlite3_finalize(st);
    if (rc || broken)
        return rc;
    set(r, GOV_CHK_ROLLBACKS, GOV_PASS, q, "%lld rollback%s, each naming the updates it undid; every agent's "
        "parameters change only through recorded updates and rollbacks (%lld optimizer_steps rows)",
        (long long)rollbacks, rollbacks == 1 ? "" : "s", (long long)steps);
    return MS_OK;
}

/* ---- retention ------------------------------------------------------------- */

static int check_retention(lk_reader *R, actx *x, ms_err *e)
{
    gov_audit_report *r = x->r;
    if (!x->have_cfg) {
        set(r, GOV_CHK_RETENTION, GOV_NA, "SELECT config_text FROM runs", "%s", x->cfg_why);
        return MS_OK;
    }
    const int64_t keep[3] = {[LK_OPERATIONAL] = x->cfg.retention_operational,
                             [LK_SECURITY] = x->cfg.retention_security,
                             [LK_BEHAVIOURAL] = x->cfg.retention_behavioural};
    int64_t S = x->cfg.envs > 0 ? x->env_steps / x->cfg.envs : 0;
    char ok[300] = "";
    int rules = 0;
    for (int c = 0; c < 3; c++) {
        if (keep[c] == MS_RETAIN_KEEP)
            continue;
        rules++;
        int64_t before = lake_retention_before(keep[c], S);
        char sql[700], in[300] = "";
        size_t k = 0;
        for (int t = 0; t < LKT_COUNT; t++)
            if (lk_table_purgeable(t) && lk_tables[t].tclass == c)
                k += (size_t)snprintf(in + k, sizeof in - k, "%s'%s'", k ? ", " : "", lk_tables[t].name);
        snprintf(sql, sizeof sql,
                 "SELECT COUNT(*) FROM ledger WHERE tbl IN (%s) AND step < %lld AND seq NOT IN (SELECT seq FROM "
                 "tombstones)", in, (long long)before);
        int64_t held = 0;
        int rc = qint(R, sql, 0, 0, 0, &held, e);
        if (rc)
            return rc;
        if (held) {
            set(r, GOV_CHK_RETENTION, GOV_FAIL, sql, "retention_%s = %lld: the run took %lld steps, yet %lld ledger "
                "entries of the %s class from before step %lld still hold their payloads (marlsim purge RUN.db "
                "--policy-from CONFIG removes them)", lk_class_names[c], (long long)keep[c], (long long)S,
                (long long)held, lk_class_names[c], (long long)before);
            return MS_OK;
        }
        size_t o = strlen(ok);
        snprintf(ok + o, sizeof ok - o, "%sretention_%s = %lld (nothing before step %lld)", o ? ", " : "",
                 lk_class_names[c], (long long)keep[c], (long long)before);
    }
    if (!rules)
        set(r, GOV_CHK_RETENTION, GOV_NA, "SELECT config_text FROM runs",
            "every retention_* key of the run's config is keep: there is no retention rule to obey");
    else
        set(r, GOV_CHK_RETENTION, GOV_PASS, "SELECT * FROM purges", "obeyed: %s", ok);
    return MS_OK;
}

/* ---- surveillance ---------------------------------------------------------- */

static const char q_frozen[] =
    "SELECT s.agent, s.update_id, "
    " (SELECT COUNT(*) FROM optimizer_steps o WHERE o.agent = s.agent AND o.update_id > s.update_id "
    "   AND (o.steps <> 0 OR o.params_sha256_before <> o.params_sha256_after OR o.params_sha256_before <> "
    "     COALESCE((SELECT p.params_sha256_after FROM optimizer_steps p WHERE p.agent = s.agent AND p.update_id = "
    "       (SELECT MAX(e.update_id) FROM evaluations e WHERE e.decision IN ('baseline', 'promoted') "
    "        AND e.update_id < s.update_id)), "
    "      (SELECT p.params_sha256_before FROM optimizer_steps p WHERE p.agent = s.agent AND p.update_id = 1)))) "
    "FROM surveillance_events s WHERE s.action = 'suspended' ORDER BY s.eval_id, s.agent";

static int check_surveillance(lk_reader *R, actx *x, ms_err *e)
{
    gov_audit_report *r = x->r;
    if (x->have_cfg && !x->cfg.surv_enabled) {
        set(r, GOV_CHK_SURVEILLANCE, GOV_NA, "SELECT config_text FROM runs",
            "[surveillance] enabled = off: no finding to handle (safeguards says so)");
        return MS_OK;
    }
    int64_t events = 0, critical = 0, unheeded = 0;
    int rc;
    if ((rc = qint(R, "SELECT COUNT(*) FROM surveillance_events", 0, 0, 0, &events, e)) ||
        (rc = qint(R, "SELECT COUNT(*) FROM surveillance_events WHERE severity = 'critical'", 0, 0, 0, &critical, e)))
        return rc;
    if (x->have_cfg && x->cfg.surv_action == MS_SURV_SUSPEND &&
        (rc = qint(R, "SELECT COUNT(*) FROM surveillance_events WHERE severity = 'critical' AND action = 'recorded'",
                   0, 0, 0, &unheeded, e)))
        return rc;
    if (unheeded) {
        set(r, GOV_CHK_SURVEILLANCE, GOV_FAIL,
            "SELECT * FROM surveillance_events WHERE severity = 'critical' AND action = 'recorded'",
            "%lld critical surveillance finding%s only recorded under [surveillance] action = suspend: the agent "
            "was not suspended", (long long)unheeded, unheeded == 1 ? " was" : "s were");
        return MS_OK;
    }
    sqlite3_stmt *st;
    if ((rc = lk_prep(R, q_frozen, &st, e)))
        return rc;
    int64_t suspended = 0, bad = 0;
    char first[200] = "";
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        suspended++;
        if (sqlite3_column_int64(st, 2) && !bad++) {
            char agent[16];
            coltext(st, 0, agent, sizeof agent);
            snprintf(first, sizeof first, "agent %s, suspended at update %lld", agent,
                     (long long)sqlite3_column_int64(st, 1));
        }
    }
    if (s != SQLITE_DONE)
        rc = lk_sqlerr(R, s, "surveillance_events", e);
    sqlite3_finalize(st);
    if (rc)
        return rc;
    if (bad)
        set(r, GOV_CHK_SURVEILLANCE, GOV_FAIL, q_frozen, "%lld suspension%s did not freeze the agent (later "
            "optimizer_steps rows took steps or moved off the incumbent's parameters); the first: %s", (long long)bad,
            bad == 1 ? "" : "s", first);
    else
        set(r, GOV_CHK_SURVEILLANCE, GOV_PASS, q_frozen, "%lld finding%s (%lld critical); %lld suspension%s, each "
            "followed by a frozen agent (0 steps, the incumbent's parameters)", (long long)events,
            events == 1 ? "" : "s", (long long)critical, (long long)suspended, suspended == 1 ? "" : "s");
    return MS_OK;
}

/* ---- build facts, safeguards, encryption ---------------------------------- */

static int check_build(lk_reader *R, actx *x, ms_err *e)
{
    gov_audit_report *r = x->r;
    const char *q = "SELECT json_extract(build_facts, '$.openblas_core'), json_extract(build_facts, "
                    "'$.blas_threads') FROM runs";
    sqlite3_stmt *st;
    int rc = lk_prep(R, q, &st, e);
    if (rc)
        return rc;
    int s = sqlite3_step(st);
    char core[64] = "";
    int have_core = 0, have_threads = 0;
    int64_t threads = 0;
    if (s == SQLITE_ROW) {
        have_core = sqlite3_column_type(st, 0) == SQLITE_TEXT;
        if (have_core)
            coltext(st, 0, core, sizeof core);
        have_threads = sqlite3_column_type(st, 1) == SQLITE_INTEGER;
        threads = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    if (s != SQLITE_ROW) {
        set(r, GOV_CHK_BUILD, GOV_FAIL, q, "runs.build_facts cannot be read as JSON");
        return MS_OK;
    }
    if (!have_core || !core[0] || !strcmp(core, "unknown"))
        set(r, GOV_CHK_BUILD, GOV_FAIL, q, "the build facts record no OpenBLAS core (openblas_core): the run "
            "cannot be replayed on the same kernels");
    else if (!have_threads)
        set(r, GOV_CHK_BUILD, GOV_FAIL, q, "the build facts record no blas_threads");
    else if (x->have_cfg && threads != x->cfg.blas_threads)
        set(r, GOV_CHK_BUILD, GOV_FAIL, q, "the build facts record blas_threads %lld, the config says %d",
            (long long)threads, x->cfg.blas_threads);
    else if (x->have_cfg && x->cfg.blas_core > 0 && strcmp(core, nn_blas_core_names[x->cfg.blas_core]))
        set(r, GOV_CHK_BUILD, GOV_FAIL, q, "the build facts record OpenBLAS core %s, but [train] blas_core = %s",
            core, nn_blas_core_names[x->cfg.blas_core]);
    else
        set(r, GOV_CHK_BUILD, GOV_PASS, q, "pinned: OpenBLAS core %s, blas_threads %lld", core, (long long)threads);
    return MS_OK;
}

static void check_safeguards(actx *x)
{
    gov_audit_report *r = x->r;
    const char *q = "SELECT config_text FROM runs";
    if (!x->have_cfg)
        set(r, GOV_CHK_SAFEGUARDS, GOV_NA, q, "%s", x->cfg_why);
    else if (!x->cfg.defence || !x->cfg.surv_enabled)
        set(r, GOV_CHK_SAFEGUARDS, GOV_FAIL, q, "%s%s%s was off for this run", !x->cfg.defence ? "the poisoning "
            "defence ([train] defence)" : "", !x->cfg.defence && !x->cfg.surv_enabled ? " and " : "",
            !x->cfg.surv_enabled ? "agent surveillance ([surveillance] enabled)" : "");
    else
        set(r, GOV_CHK_SAFEGUARDS, GOV_PASS, q, "the poisoning defence and agent surveillance were on (action = %s)",
            x->cfg.surv_action == MS_SURV_SUSPEND ? "suspend" : "warn");
}

/* 1 when block device maj:min is dm-crypt, or sits on one (LVM or a
 * partition over LUKS: its slaves, two levels down). */
static int dm_crypt(unsigned maj, unsigned min, int depth)
{
    char p[160], buf[64];
    snprintf(p, sizeof p, "/sys/dev/block/%u:%u/dm/uuid", maj, min);
    FILE *f = fopen(p, "re");
    if (f) {
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        if (!strncmp(buf, "CRYPT-", 6))
            return 1;
    }
    if (depth >= 2)
        return 0;
    snprintf(p, sizeof p, "/sys/dev/block/%u:%u/slaves", maj, min);
    DIR *d = opendir(p);
    if (!d)
        return 0;
    int found = 0;
    struct dirent *de;
    while (!found && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char dev[400];
        unsigned a, b;
        snprintf(dev, sizeof dev, "%s/%.200s/dev", p, de->d_name);
        FILE *g = fopen(dev, "re");
        if (!g)
            continue;
        if (fscanf(g, "%u:%u", &a, &b) == 2)
            found = dm_crypt(a, b, depth + 1);
        fclose(g);
    }
    closedir(d);
    return found;
}

static void check_encryption(actx *x, const char *real)
{
    gov_audit_report *r = x->r;
    const char *ev = "the lake's file system (fscrypt policy, dm-crypt device)";
    int fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb)) {
        if (fd >= 0)
            close(fd);
        set(r, GOV_CHK_ENCRYPTION, GOV_NA, ev, "the platform could not tell (the file could not be opened again)");
        return;
    }
    struct fscrypt_get_policy_ex_arg arg;
    memset(&arg, 0, sizeof arg);
    arg.policy_size = sizeof arg.policy;
    int fs = ioctl(fd, FS_IOC_GET_ENCRYPTION_POLICY_EX, &arg);
    int fserr = errno;
    close(fd);
    if (fs == 0) {
        set(r, GOV_CHK_ENCRYPTION, GOV_PASS, ev, "the lake is encrypted at rest (an fscrypt policy on its directory)");
        return;
    }
    unsigned maj = major(sb.st_dev), min = minor(sb.st_dev);
    if (dm_crypt(maj, min, 0)) {
        set(r, GOV_CHK_ENCRYPTION, GOV_PASS, ev, "the lake is encrypted at rest (its file system is on a dm-crypt "
            "device, %u:%u)", maj, min);
        return;
    }
    if (maj == 0)
        set(r, GOV_CHK_ENCRYPTION, GOV_NA, ev, "the platform cannot tell: the lake's file system (device %u:%u) has "
            "no block device (overlay, tmpfs, network)", maj, min);
    else
        set(r, GOV_CHK_ENCRYPTION, GOV_FAIL, ev, "the lake's file system is not encrypted as far as the platform "
            "tells (no fscrypt policy: %s; device %u:%u is not dm-crypt): see the README on LUKS and fscrypt",
            fserr == ENODATA ? "none on it" : "not supported", maj, min);
}

/* ---- release ------------------------------------------------------------------ */

static int check_release(lk_reader *R, actx *x, ms_err *e)
{
    gov_audit_report *r = x->r;
    const gov_audit_opts *o = x->o;
    if (!o->release) {
        set(r, GOV_CHK_RELEASE, GOV_NA, "", "no release given (audit RUN.db --release FILE --approvers FILE)");
        return MS_OK;
    }
    gov_release rel;
    ms_err re;
    int rc = gov_release_open(o->release, o->release_len, o->approvers, &rel, &re);
    if (rc == MS_EIO)
        return ms_fail(e, rc, "%s", re.msg);
    if (!rc && o->trusted && memcmp(o->trusted->pub, rel.run_key.pub, 32)) {
        rc = MS_ECHECK;
        snprintf(re.msg, sizeof re.msg, "the release names run key %s, not the trusted key %s", rel.st.run_key,
                 o->trusted->name);
    }
    if (!rc) {
        rc = gov_release_match_lake(R, &rel.st, &re);
        if (rc == MS_EIO) {
            gov_release_free(&rel);
            return ms_fail(e, rc, "%s", re.msg);
        }
    }
    if (rc)
        set(r, GOV_CHK_RELEASE, GOV_FAIL, "the release file and the approvers' allow-list", "the release does not "
            "check out: %s", re.msg);
    else
        set(r, GOV_CHK_RELEASE, GOV_PASS, "SELECT tree_size, note FROM checkpoints", "approved by %s and %s (both on "
            "the allow-list, neither the run's key): run %s, checkpoint %llu, evaluation %lld", rel.approver[0],
            rel.approver[1], rel.st.run_id, (unsigned long long)rel.st.cp_size, (long long)rel.st.eval_id);
    gov_release_free(&rel);
    return MS_OK;
}

/* ---- the whole audit ------------------------------------------------------- */

static int audit_then(lk_reader *R, void *ctx, ms_err *e)
{
    actx *x = ctx;
    lk_runs_row run;
    int rc = lk_read_runs(R, &run, e);
    if (rc)
        return rc;
    x->dev_key = (int)run.v[LKR_DEV_KEY].i;
    x->env_steps = run.v[LKR_ENV_STEPS].i;
    char origin[64];
    snprintf(origin, sizeof origin, "runs.config_text");
    ms_err ce;
    ms_config_defaults(&x->cfg);
    char *text = lk_text_dup(&run.v[LKR_CONFIG_TEXT]);
    free(run.store);
    if (!text)
        snprintf(ce.msg, sizeof ce.msg, "it holds a NUL byte, or memory ran out");
    x->have_cfg = text && ms_config_load_stored(&x->cfg, text, origin, &ce) == MS_OK;
    free(text);
    if (!x->have_cfg)
        snprintf(x->cfg_why, sizeof x->cfg_why, "the run's config text cannot be read by this build: %s", ce.msg);

    int64_t credit = 0;
    if ((rc = qint(R, "SELECT COUNT(*) FROM di_credit_assignment", 0, 0, 0, &credit, e)) ||
        (rc = check_keys(R, x, e)) || (rc = check_policy_updated(R, x, credit, e)))
        return rc;
    evalrow *ev;
    int64_t nev;
    if ((rc = read_evals(R, &ev, &nev, e)))
        return rc;
    check_promotions(x, ev, nev);
    rc = check_rollbacks(R, x, ev, nev, e);
    free(ev);
    if (rc || (rc = check_excluded(R, x, credit, e)) || (rc = check_retention(R, x, e)) ||
        (rc = check_surveillance(R, x, e)) || (rc = check_build(R, x, e)))
        return rc;
    check_safeguards(x);
    check_encryption(x, R->real);
    return check_release(R, x, e);
}

int gov_audit(const char *path, const gov_audit_opts *o, gov_audit_report *r, ms_err *e)
{
    memset(r, 0, sizeof *r);
    for (int k = 0; k < GOV_NCHECKS; k++) {
        r->checks[k].id = gov_check_ids[k];
        r->checks[k].severity = check_severity[k];
        r->checks[k].result = GOV_NA;
    }
    if (o->release && !o->approvers)
        return ms_fail(e, MS_EINPUT, "a release is checked against an approvers' allow-list: give --approvers");
    actx x;
    memset(&x, 0, sizeof x);
    x.r = r;
    x.o = o;
    x.path = path;
    lake_verify_opts vo;
    memset(&vo, 0, sizeof vo);
    vo.trusted = o->trusted;
    ms_err ve;
    lake_verify_report *v = &r->verify;
    int rc = lk_verified(path, &vo, v, NULL, audit_then, NULL, &x, &ve);
    const char *untrusted = "the lake did not verify: nothing in it can be trusted";
    if (rc == MS_ECHECK) {
        char ev[300];
        snprintf(ev, sizeof ev, "marlsim verify RUN.db%s%s%s", v->table[0] ? " (table " : "", v->table,
                 v->table[0] ? ")" : "");
        if (v->foreign) {
            lake_verify_report chain;
            ms_err ce;
            memset(&vo, 0, sizeof vo);
            int crc = lake_verify(path, &vo, &chain, &ce);
            if (crc == MS_OK)
                set(r, GOV_CHK_CHAIN, GOV_PASS, ev, "the chain is intact (%lld entries) but signed by another key",
                    (long long)chain.entries);
            else
                set(r, GOV_CHK_CHAIN, GOV_FAIL, ev, "%s", ce.msg);
            set(r, GOV_CHK_SIGNATURE, GOV_FAIL, "SELECT cp_id, tree_size, note FROM checkpoints",
                "a checkpoint is not signed by the expected key %s: %s", o->trusted ? o->trusted->name : "?", ve.msg);
        } else {
            set(r, GOV_CHK_CHAIN, GOV_FAIL, ev, "%s", ve.msg);
        }
        for (int k = GOV_CHK_SIGNATURE; k < GOV_NCHECKS; k++)
            if (r->checks[k].result == GOV_NA && !r->checks[k].sentence[0])
                set(r, k, GOV_NA, "", "%s", untrusted);
    } else if (rc) {
        return ms_fail(e, rc, "%s", ve.msg);
    } else {
        set(r, GOV_CHK_CHAIN, GOV_PASS, "marlsim verify RUN.db", "%lld ledger entries re-derived from their rows, "
            "head %.16s..., %lld checkpoint%s consistent with the tree", (long long)v->entries, v->head,
            (long long)v->checkpoints, v->checkpoints == 1 ? "" : "s");
        const char *cq = "SELECT cp_id, tree_size, status, note FROM checkpoints";
        if (!o->trusted) {
            set(r, GOV_CHK_SIGNATURE, GOV_FAIL, cq, "no trusted key was given (--pubkey or --keyring): who signed "
                "the %lld checkpoints (the lake says %s) was not checked", (long long)v->checkpoints,
                v->signer[0] ? v->signer : "nobody");
            r->checks[GOV_CHK_SIGNATURE].severity = GOV_HIGH;
        } else if (!v->checkpoints) {
            set(r, GOV_CHK_SIGNATURE, GOV_NA, cq, "the lake holds no checkpoint to check a signature of");
        } else {
            set(r, GOV_CHK_SIGNATURE, GOV_PASS, cq, "every one of %lld checkpoints is signed by the expected key %s",
                (long long)v->checkpoints, o->trusted->name);
        }
        if (v->authenticated)
            set(r, GOV_CHK_CHECKPOINTS, GOV_PASS, cq, "the newest signed checkpoint covers all %lld entries (root %s) "
                "and states status %s", (long long)v->entries, v->cp_root, v->cp_status);
        else if (!o->trusted && v->checkpoints && v->cp_size == v->entries && !strcmp(v->cp_status, v->status))
            set(r, GOV_CHK_CHECKPOINTS, GOV_PASS, cq, "the newest checkpoint covers all %lld entries and states "
                "status %s (its signature is the signature check's)", (long long)v->entries, v->cp_status);
        else
            set(r, GOV_CHK_CHECKPOINTS, GOV_FAIL, cq, "no signed checkpoint covers the whole run: %s",
                v->unsigned_why[0] ? v->unsigned_why
                : v->checkpoints ? "the newest checkpoint does not cover every entry or state the final status"
                                 : "the lake holds no checkpoint");
        if (v->dev_key)
            set(r, GOV_CHK_DEV_KEY, GOV_FAIL, "SELECT dev_key, key_ids FROM runs", "the run used the development key "
                "derived from its public seed: anyone can re-derive its pseudonym keys and salts, and nothing is "
                "signed");
        else
            set(r, GOV_CHK_DEV_KEY, GOV_PASS, "SELECT dev_key, key_ids FROM runs", "the run used keyring keys, not "
                "the development key");
        if (v->complete)
            set(r, GOV_CHK_COMPLETE, GOV_PASS, "SELECT status FROM runs", "the run completed (%lld env-steps)",
                (long long)v->env_steps);
        else
            set(r, GOV_CHK_COMPLETE, GOV_FAIL, "SELECT status FROM runs", "the run's status is %s, not completed",
                v->status);
    }
    int worst = GOV_PASSED;
    for (int k = 0; k < GOV_NCHECKS; k++) {
        const gov_check *c = &r->checks[k];
        if (c->result != GOV_FAIL)
            continue;
        r->findings[c->severity]++;
        int o2 = c->severity == GOV_CRITICAL ? GOV_OUTCOME_CRITICAL : c->severity == GOV_HIGH ? GOV_FAILED
                 : c->severity == GOV_INFO ? GOV_PASSED : GOV_PASSED_WITH_WARNINGS;
        if (o2 > worst)
            worst = o2;
    }
    r->outcome = worst;
    return MS_OK;
}
