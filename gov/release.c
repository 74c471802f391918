/* release.c — approvals, the approvers' allow-list and release files
 * (contract in release.h). */
#include "gov/release.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/b64.h"
#include "base/hash.h"
#include "keys/keyring.h"
#include "ledger/reader.h"

static const char approval_magic[] = "marlsim-approval v1";
static const char release_magic[] = "marlsim-release v1";

/* ---- lines ----------------------------------------------------------------- */

typedef struct cursor {
    const char *p, *end, *what; /* what: "approval 1", "RELEASE" ... for messages */
    int line;
} cursor;

/* The next line: *v, *vn = what follows "KEY " (key NULL: the whole line,
 * which must then equal want). Values are printable ASCII. */
static int next_line(cursor *c, const char *key, const char *want, const char **v, size_t *vn, ms_err *e)
{
    c->line++;
    const char *nl = c->p < c->end ? memchr(c->p, '\n', (size_t)(c->end - c->p)) : NULL;
    const char *label = key ? key : want;
    if (!nl)
        return ms_fail(e, MS_EINPUT, "%s:%d: expected a '%s' line, found the end", c->what, c->line, label);
    size_t len = (size_t)(nl - c->p);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)c->p[i] < 0x20 || (unsigned char)c->p[i] > 0x7e)
            return ms_fail(e, MS_EINPUT, "%s:%d: a byte that is not printable ASCII", c->what, c->line);
    if (!key) {
        if (len != strlen(want) || memcmp(c->p, want, len))
            return ms_fail(e, MS_EINPUT, "%s:%d: expected '%s'", c->what, c->line, want);
    } else {
        size_t kl = strlen(key);
        if (len <= kl + 1 || memcmp(c->p, key, kl) || c->p[kl] != ' ')
            return ms_fail(e, MS_EINPUT, "%s:%d: expected a '%s' line", c->what, c->line, key);
        *v = c->p + kl + 1;
        *vn = len - kl - 1;
    }
    c->p = nl + 1;
    return MS_OK;
}

/* Splits v[0..vn) at single spaces into exactly n non-empty parts. */
static int split(const char *v, size_t vn, int n, const char **part, size_t *plen)
{
    int k = 0;
    size_t start = 0;
    for (size_t i = 0; i <= vn; i++)
        if (i == vn || v[i] == ' ') {
            if (i == start || k == n)
                return -1;
            part[k] = v + start;
            plen[k++] = i - start;
            start = i + 1;
        }
    return k == n ? 0 : -1;
}

static int copy_field(char *dst, size_t cap, const char *v, size_t vn)
{
    if (vn == 0 || vn >= cap || memchr(v, ' ', vn))
        return -1;
    memcpy(dst, v, vn);
    dst[vn] = 0;
    return 0;
}

/* Strict decimal: digits only, no leading zero unless "0", fits in max. */
static int parse_u64(const char *v, size_t vn, uint64_t max, uint64_t *out)
{
    if (vn == 0 || vn > 20 || (vn > 1 && v[0] == '0'))
        return -1;
    uint64_t x = 0;
    for (size_t i = 0; i < vn; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        unsigned d = (unsigned)(v[i] - '0');
        if (x > (max - d) / 10)
            return -1;
        x = x * 10 + d;
    }
    *out = x;
    return 0;
}

static int is_hex64(const char *v, size_t vn)
{
    return vn == 64 && ms_is_lower_hex(v, vn);
}

/* A base64 root of 32 bytes, canonical. */
static int is_root(const char *v, size_t vn)
{
    unsigned char r[33];
    return vn == 44 && ms_b64_decode(v, vn, r, sizeof r) == 32;
}

/* ---- allow-list ------------------------------------------------------------ */

int gov_approvers_parse(const char *text, size_t n, const char *origin, gov_approvers *out, ms_err *e)
{
    memset(out, 0, sizeof *out);
    const char *p = text, *end = text + n;
    int line = 0;
    if (n && text[n - 1] != '\n')
        return ms_fail(e, MS_EINPUT, "%s: the last line does not end with a newline", origin);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)(nl - p);
        line++;
        if (len == 0 || p[0] == '#') {
            p = nl + 1;
            continue;
        }
        const char *sp = memchr(p, ' ', len);
        if (!sp)
            return ms_fail(e, MS_EINPUT, "%s:%d: expected 'NAME VERIFIER-KEY'", origin, line);
        size_t nl_name = (size_t)(sp - p);
        if (!ms_note_name_valid(p, nl_name))
            return ms_fail(e, MS_EINPUT, "%s:%d: the approver name is not 1 to %d printable ASCII bytes without '+' "
                           "or spaces", origin, line, MS_NOTE_NAME_MAX);
        if (out->n == GOV_APPROVERS_MAX)
            return ms_fail(e, MS_EINPUT, "%s:%d: more than %d approvers", origin, line, GOV_APPROVERS_MAX);
        gov_approver *a = &out->a[out->n];
        memcpy(a->name, p, nl_name);
        a->name[nl_name] = 0;
        ms_err ke;
        if (ms_note_verifier_parse(sp + 1, len - nl_name - 1, &a->key, &ke))
            return ms_fail(e, MS_EINPUT, "%s:%d: approver %s: not a full verifier key as `marlsim keys pubkey` "
                           "prints it (NAME+ID+KEY): %s", origin, line, a->name, ke.msg);
        for (int k = 0; k < out->n; k++)
            if (!strcmp(out->a[k].name, a->name))
                return ms_fail(e, MS_EINPUT, "%s:%d: approver %s is listed twice", origin, line, a->name);
        out->n++;
        p = nl + 1;
    }
    if (!out->n)
        return ms_fail(e, MS_EINPUT, "%s: no approver listed", origin);
    return MS_OK;
}

static int find_approver(const gov_approvers *l, const char *name)
{
    for (int k = 0; k < l->n; k++)
        if (!strcmp(l->a[k].name, name))
            return k;
    return -1;
}

/* ---- statements ------------------------------------------------------------ */

static size_t format_statement(const gov_statement *s, char *out, size_t cap)
{
    int k = snprintf(out, cap,
                     "%s\napprover %s\nrun %s\norigin %s\ncheckpoint %" PRIu64 " %s\nconfig-sha256 %s\neval %" PRId64
                     "\nsnapshot %s %s\nsnapshot %s %s\nsnapshot %s %s\nrun-key %s\n",
                     approval_magic, s->approver, s->run_id, s->origin, s->cp_size, s->cp_root, s->config_sha256,
                     s->eval_id, ms_agent_names[0], s->snapshot[0], ms_agent_names[1], s->snapshot[1],
                     ms_agent_names[2], s->snapshot[2], s->run_key);
    return k < 0 ? cap : (size_t)k;
}

/* The lineage lines shared by approvals and release files (after the
 * approver line): run, origin, checkpoint, config-sha256, eval. */
static int parse_lineage(cursor *c, gov_statement *s, ms_err *e)
{
    const char *v = NULL, *part[2];
    size_t vn = 0, plen[2];
    uint64_t u;
    int rc;
    if ((rc = next_line(c, "run", NULL, &v, &vn, e)))
        return rc;
    if (copy_field(s->run_id, sizeof s->run_id, v, vn))
        return ms_fail(e, MS_EINPUT, "%s:%d: malformed run id", c->what, c->line);
    if ((rc = next_line(c, "origin", NULL, &v, &vn, e)))
        return rc;
    if (vn >= sizeof s->origin)
        return ms_fail(e, MS_EINPUT, "%s:%d: origin too long", c->what, c->line);
    memcpy(s->origin, v, vn);
    s->origin[vn] = 0;
    if ((rc = next_line(c, "checkpoint", NULL, &v, &vn, e)))
        return rc;
    if (split(v, vn, 2, part, plen) || parse_u64(part[0], plen[0], INT64_MAX, &s->cp_size) || s->cp_size == 0 ||
        !is_root(part[1], plen[1]))
        return ms_fail(e, MS_EINPUT, "%s:%d: expected 'checkpoint SIZE ROOT' (a tree size and a base64 root)",
                       c->what, c->line);
    memcpy(s->cp_root, part[1], 44);
    s->cp_root[44] = 0;
    if ((rc = next_line(c, "config-sha256", NULL, &v, &vn, e)))
        return rc;
    if (!is_hex64(v, vn))
        return ms_fail(e, MS_EINPUT, "%s:%d: config-sha256 is not 64 lowercase hex digits", c->what, c->line);
    memcpy(s->config_sha256, v, 64);
    s->config_sha256[64] = 0;
    if ((rc = next_line(c, "eval", NULL, &v, &vn, e)))
        return rc;
    if (parse_u64(v, vn, INT64_MAX, &u) || u == 0)
        return ms_fail(e, MS_EINPUT, "%s:%d: eval is not an evaluation id", c->what, c->line);
    s->eval_id = (int64_t)u;
    return MS_OK;
}

static int parse_run_key(cursor *c, gov_statement *s, ms_err *e)
{
    const char *v = NULL;
    size_t vn = 0;
    int rc = next_line(c, "run-key", NULL, &v, &vn, e);
    if (rc || !v)
        return rc ? rc : ms_fail(e, MS_EINPUT, "%s:%d: no run-key", c->what, c->line);
    ms_note_verifier tmp;
    ms_err ke;
    if (vn >= sizeof s->run_key || ms_note_verifier_parse(v, vn, &tmp, &ke))
        return ms_fail(e, MS_EINPUT, "%s:%d: run-key is not a verifier key", c->what, c->line);
    memcpy(s->run_key, v, vn);
    s->run_key[vn] = 0;
    return MS_OK;
}

/* The text of an approval (unverified until ms_note_open says so). */
static int parse_statement(const char *text, size_t n, const char *what, gov_statement *s, ms_err *e)
{
    memset(s, 0, sizeof *s);
    cursor c = {text, text + n, what, 0};
    const char *v = NULL, *part[2];
    size_t vn = 0, plen[2];
    int rc;
    if ((rc = next_line(&c, NULL, approval_magic, &v, &vn, e)) || (rc = next_line(&c, "approver", NULL, &v, &vn, e)))
        return rc;
    if (!ms_note_name_valid(v, vn))
        return ms_fail(e, MS_EINPUT, "%s:%d: malformed approver name", what, c.line);
    memcpy(s->approver, v, vn);
    if ((rc = parse_lineage(&c, s, e)))
        return rc;
    for (int a = 0; a < MS_NAGENT; a++) {
        if ((rc = next_line(&c, "snapshot", NULL, &v, &vn, e)))
            return rc;
        if (split(v, vn, 2, part, plen) || plen[0] != strlen(ms_agent_names[a]) ||
            memcmp(part[0], ms_agent_names[a], plen[0]) || !is_hex64(part[1], plen[1]))
            return ms_fail(e, MS_EINPUT, "%s:%d: expected 'snapshot %s SHA256'", what, c.line, ms_agent_names[a]);
        memcpy(s->snapshot[a], part[1], 64);
    }
    if ((rc = parse_run_key(&c, s, e)))
        return rc;
    if (c.p != c.end)
        return ms_fail(e, MS_EINPUT, "%s:%d: more lines than an approval has", what, c.line + 1);
    return MS_OK;
}

/* The first lineage field in which a and b differ (NULL: none). */
static const char *statement_differs(const gov_statement *a, const gov_statement *b)
{
    if (strcmp(a->run_id, b->run_id))
        return "run";
    if (strcmp(a->origin, b->origin))
        return "origin";
    if (a->cp_size != b->cp_size || strcmp(a->cp_root, b->cp_root))
        return "checkpoint";
    if (strcmp(a->config_sha256, b->config_sha256))
        return "config-sha256";
    if (a->eval_id != b->eval_id)
        return "eval";
    for (int k = 0; k < MS_NAGENT; k++)
        if (strcmp(a->snapshot[k], b->snapshot[k]))
            return "snapshot";
    if (strcmp(a->run_key, b->run_key))
        return "run-key";
    return NULL;
}

/* Checks two approvals against the list: st[] receives what they state. */
static int check_approvals(const gov_approvers *list, const char *const a[2], const size_t alen[2],
                           gov_statement st[2], ms_note_verifier *run_key, ms_err *e)
{
    int who[2];
    for (int i = 0; i < 2; i++) {
        char what[32];
        snprintf(what, sizeof what, "approval %d", i + 1);
        size_t tl;
        ms_err pe;
        if (ms_note_parse(a[i], alen[i], &tl, NULL, NULL, &pe))
            return ms_fail(e, MS_EINPUT, "%s is not a signed note: %s", what, pe.msg);
        int rc = parse_statement(a[i], tl, what, &st[i], e);
        if (rc)
            return rc;
        who[i] = find_approver(list, st[i].approver);
        if (who[i] < 0)
            return ms_fail(e, MS_ECHECK, "%s: approver %s is not on the allow-list", what, st[i].approver);
        if (ms_note_open(a[i], alen[i], &list->a[who[i]].key, NULL, &pe))
            return ms_fail(e, MS_ECHECK, "%s: not signed by the key the allow-list gives approver %s (%s)", what,
                           st[i].approver, pe.msg);
    }
    if (who[0] == who[1])
        return ms_fail(e, MS_ECHECK, "both approvals are by %s: a release needs two different approvers",
                       st[0].approver);
    if (!memcmp(list->a[who[0]].key.pub, list->a[who[1]].key.pub, 32))
        return ms_fail(e, MS_ECHECK, "approvers %s and %s sign with one key: two names on one key are one approver",
                       st[0].approver, st[1].approver);
    const char *d = statement_differs(&st[0], &st[1]);
    if (d)
        return ms_fail(e, MS_ECHECK, "the approvals disagree on %s: %s and %s approved different things", d,
                       st[0].approver, st[1].approver);
    ms_err ke;
    if (ms_note_verifier_parse(st[0].run_key, strlen(st[0].run_key), run_key, &ke))
        return ms_fail(e, MS_EINPUT, "approval 1: run-key: %s", ke.msg);
    for (int i = 0; i < 2; i++)
        if (!memcmp(list->a[who[i]].key.pub, run_key->pub, 32))
            return ms_fail(e, MS_ECHECK, "approver %s signs with the run's own signing key: the run's signer cannot "
                           "approve its own run", st[i].approver);
    return MS_OK;
}

/* ---- what a verified lake says ------------------------------------------- */

typedef struct lake_facts {
    char run_id[64], origin[256], config_sha256[65];
    char *config_text;
    lake_policy_blob snap[MS_NAGENT];
    uint64_t want_size;   /* the checkpoint to read: 0 = the newest */
    int have_cp;
    uint64_t cp_size;
    char cp_root[45];
    char *cp_note;        /* malloc'd */
    size_t cp_note_n;
    int64_t snap_seq;     /* the largest ledger entry holding a promoted snapshot */
} lake_facts;

static void facts_free(lake_facts *f)
{
    free(f->config_text);
    free(f->cp_note);
    lake_policy_release(f->snap, MS_NAGENT);
    f->config_text = f->cp_note = NULL;
}

static void facts_undo(void *ctx)
{
    facts_free(ctx);
}

static int read_facts(lk_reader *R, lake_facts *f, ms_err *e)
{
    lk_runs_row run;
    int rc = lk_read_runs(R, &run, e);
    if (rc)
        return rc;
    lk_safe_text(f->run_id, sizeof f->run_id, &run.v[LKR_RUN_ID]);
    lk_safe_text(f->origin, sizeof f->origin, &run.v[LKR_ORIGIN]);
    lk_safe_text(f->config_sha256, sizeof f->config_sha256, &run.v[LKR_CONFIG_SHA256]);
    f->config_text = lk_text_dup(&run.v[LKR_CONFIG_TEXT]);
    free(run.store);
    if (!f->config_text)
        return ms_fail(e, MS_EIO, "%s: out of memory (or a NUL byte in the config text)", R->path);
    /* -1: a release is made only of a completed run its key authenticates
     * whole (checked by the caller's verification) */
    if ((rc = lk_read_promoted(R, ms_agent_names, MS_NAGENT, -1, f->snap, e)))
        return rc;
    sqlite3_stmt *st;
    if ((rc = lk_prep(R,
                      f->want_size ? "SELECT tree_size, note FROM checkpoints WHERE tree_size = ?1"
                                   : "SELECT tree_size, note FROM checkpoints ORDER BY cp_id DESC LIMIT 1",
                      &st, e)))
        return rc;
    if (f->want_size)
        sqlite3_bind_int64(st, 1, (sqlite3_int64)f->want_size);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
        lk_value note;
        ms_checkpoint cp;
        size_t tl;
        if (lk_col_value(st, 1, &note) || note.type != LK_TEXT ||
            ms_note_parse(note.p, note.n, &tl, NULL, NULL, e) || ms_checkpoint_parse(note.p, tl, &cp, e)) {
            sqlite3_finalize(st);
            return ms_fail(e, MS_ECHECK, "%s: a checkpoint row is malformed", R->path);
        }
        f->have_cp = 1;
        f->cp_size = cp.size;
        ms_b64_encode(cp.root, 32, f->cp_root);
        f->cp_note = malloc(note.n + 1);
        if (!f->cp_note) {
            sqlite3_finalize(st);
            return ms_fail(e, MS_EIO, "%s: out of memory", R->path);
        }
        memcpy(f->cp_note, note.p, note.n);
        f->cp_note[note.n] = 0;
        f->cp_note_n = note.n;
    } else if (s != SQLITE_DONE) {
        rc = lk_sqlerr(R, s, "checkpoints", e);
    }
    sqlite3_finalize(st);
    if (rc)
        return rc;
    if ((rc = lk_prep(R,
                      "SELECT COALESCE(MAX(l.seq), 0) FROM policy_snapshots AS p JOIN ledger AS l ON l.tbl = "
                      "'policy_snapshots' AND p.rowid BETWEEN l.first_rowid AND l.first_rowid + l.n_rows - 1 "
                      "WHERE p.eval_id = ?1",
                      &st, e)))
        return rc;
    sqlite3_bind_int64(st, 1, f->snap[0].eval_id);
    s = sqlite3_step(st);
    if (s == SQLITE_ROW)
        f->snap_seq = sqlite3_column_int64(st, 0);
    else
        rc = lk_sqlerr(R, s, "ledger", e);
    sqlite3_finalize(st);
    return rc;
}

static int facts_then(lk_reader *R, void *ctx, ms_err *e)
{
    int rc = read_facts(R, ctx, e);
    if (rc)
        facts_free(ctx);
    return rc;
}

/* MS_OK when the verified lake's facts are what st states. */
static int facts_match(const char *path, const lake_facts *f, const gov_statement *st, ms_err *e)
{
    if (strcmp(f->run_id, st->run_id) || strcmp(f->origin, st->origin))
        return ms_fail(e, MS_ECHECK, "%s is run %s, but the approvals are of run %s", path, f->run_id, st->run_id);
    if (strcmp(f->config_sha256, st->config_sha256))
        return ms_fail(e, MS_ECHECK, "%s: the run's config hash is %.16s..., the approvals name %.16s...", path,
                       f->config_sha256, st->config_sha256);
    if (!f->have_cp || f->cp_size != st->cp_size || strcmp(f->cp_root, st->cp_root))
        return ms_fail(e, MS_ECHECK, "%s holds no signed checkpoint of size %" PRIu64 " with root %s: the approvals "
                       "name a checkpoint of another tree", path, st->cp_size, st->cp_root);
    if (f->snap[0].eval_id != st->eval_id)
        return ms_fail(e, MS_ECHECK, "%s: the last promoted policy is that of evaluation %" PRId64 ", the approvals "
                       "name evaluation %" PRId64, path, f->snap[0].eval_id, st->eval_id);
    for (int a = 0; a < MS_NAGENT; a++)
        if (strcmp(f->snap[a].sha256, st->snapshot[a]))
            return ms_fail(e, MS_ECHECK, "%s: the promoted %s snapshot is %.16s..., the approvals name %.16s...",
                           path, ms_agent_names[a], f->snap[a].sha256, st->snapshot[a]);
    if (f->snap_seq <= 0 || (uint64_t)f->snap_seq > st->cp_size)
        return ms_fail(e, MS_ECHECK, "%s: the promoted snapshots (ledger entry %" PRId64 ") are not inside the "
                       "approved checkpoint's tree (size %" PRIu64 ")", path, f->snap_seq, st->cp_size);
    return MS_OK;
}

int gov_release_match_lake(lk_reader *R, const gov_statement *st, ms_err *e)
{
    lake_facts f;
    memset(&f, 0, sizeof f);
    f.want_size = st->cp_size;
    int rc = read_facts(R, &f, e);
    if (!rc)
        rc = facts_match(R->path, &f, st, e);
    facts_free(&f);
    return rc;
}

/* Verifies lake against key (authenticated and completed required) and
 * reads its facts. */
static int verified_facts(const char *lake, const ms_note_verifier *key, lake_facts *f, lake_verify_report *rep,
                          ms_err *e)
{
    lake_verify_opts o;
    memset(&o, 0, sizeof o);
    o.trusted = key;
    int rc = lk_verified(lake, &o, rep, NULL, facts_then, facts_undo, f, e);
    if (rc)
        return rc;
    if (!rep->authenticated || !rep->complete) {
        facts_free(f);
        if (!rep->authenticated)
            return ms_fail(e, MS_ECHECK, "%s is intact but not authenticated by the run key %s: %s", lake, key->name,
                           rep->unsigned_why[0] ? rep->unsigned_why : "no signed checkpoint covers it");
        return ms_fail(e, MS_ECHECK, "%s: the run did not complete (status %s): only a completed run's policy is "
                       "released", lake, rep->status);
    }
    return MS_OK;
}

/* ---- approve ----------------------------------------------------------------- */

static int sign_with_keyring(void *ctx, const void *msg, size_t n, unsigned char sig[64], ms_err *e)
{
    return ms_keyring_sign(ctx, msg, n, sig, e);
}

static int format_verifier(const ms_note_verifier *v, char *out, size_t cap, ms_err *e)
{
    return ms_note_verifier_format(v->name, v->pub, out, cap, e);
}

int gov_approve(const char *lake, const ms_note_verifier *run_key, const char *name, const ms_keyring *kr,
                char **note, size_t *n, gov_statement *st_out, lake_verify_report *rep, ms_err *e)
{
    *note = NULL;
    *n = 0;
    lake_verify_report tmp;
    if (!rep)
        rep = &tmp;
    memset(rep, 0, sizeof *rep);
    if (!name || !ms_note_name_valid(name, strlen(name)))
        return ms_fail(e, MS_EINPUT, "--as: an approver name is 1 to %d printable ASCII bytes without '+' or spaces",
                       MS_NOTE_NAME_MAX);
    if (!run_key)
        return ms_fail(e, MS_EINPUT, "the run's verifier key is required");
    if (!ms_keyring_can_sign(kr))
        return ms_fail(e, MS_EINPUT, "keyring %s has no signing key to approve with", ms_keyring_origin(kr));
    unsigned char pub[32];
    int rc = ms_keyring_public_key(kr, pub, e);
    if (rc)
        return rc;
    if (!memcmp(pub, run_key->pub, 32))
        return ms_fail(e, MS_ECHECK, "the approver's signing key (keyring %s) is the run's own key: the run's signer "
                       "cannot approve its own run", ms_keyring_origin(kr));
    lake_facts f;
    memset(&f, 0, sizeof f);
    if ((rc = verified_facts(lake, run_key, &f, rep, e)))
        return rc;
    gov_statement st;
    memset(&st, 0, sizeof st);
    snprintf(st.approver, sizeof st.approver, "%s", name);
    memcpy(st.run_id, f.run_id, sizeof st.run_id);
    memcpy(st.origin, f.origin, sizeof st.origin);
    st.cp_size = f.cp_size;
    memcpy(st.cp_root, f.cp_root, sizeof st.cp_root);
    memcpy(st.config_sha256, f.config_sha256, sizeof st.config_sha256);
    st.eval_id = f.snap[0].eval_id;
    for (int a = 0; a < MS_NAGENT; a++)
        memcpy(st.snapshot[a], f.snap[a].sha256, 65);
    rc = format_verifier(run_key, st.run_key, sizeof st.run_key, e);
    if (!rc && (!f.have_cp || (uint64_t)f.snap_seq > f.cp_size))
        rc = ms_fail(e, MS_ECHECK, "%s: no signed checkpoint covers the promoted snapshots", lake);
    facts_free(&f);
    if (rc)
        return rc;
    char text[2048];
    size_t tl = format_statement(&st, text, sizeof text);
    if (tl >= sizeof text)
        return ms_fail(e, MS_EINPUT, "the approval statement is too long");
    ms_note_signer s;
    memset(&s, 0, sizeof s);
    s.name = ms_keyring_signer_name(kr);
    s.sign = sign_with_keyring;
    s.ctx = (void *)kr;
    if ((rc = ms_note_key_id(s.name, pub, s.key_id, e)))
        return rc;
    size_t cap = tl + 512;
    char *out = malloc(cap);
    if (!out)
        return ms_fail(e, MS_EIO, "out of memory");
    if ((rc = ms_note_sign(text, tl, &s, out, cap, n, e))) {
        free(out);
        return rc;
    }
    *note = out;
    if (st_out)
        *st_out = st;
    return MS_OK;
}

/* ---- release files ----------------------------------------------------------- */

static char *b64_of(const void *p, size_t n)
{
    char *s = malloc(MS_B64_LEN(n) + 1);
    if (s)
        ms_b64_encode(p, n, s);
    return s;
}

void gov_release_free(gov_release *rel)
{
    if (!rel)
        return;
    free(rel->config_text);
    lake_policy_release(rel->snap, MS_NAGENT);
    memset(rel, 0, sizeof *rel);
}

int gov_release_make(const char *lake, const gov_approvers *list, const char *const a[2], const size_t alen[2],
                     const ms_note_verifier *trusted, char **out, size_t *n, gov_release *rel,
                     lake_verify_report *rep, ms_err *e)
{
    *out = NULL;
    *n = 0;
    lake_verify_report tmp;
    if (!rep)
        rep = &tmp;
    memset(rep, 0, sizeof *rep);
    if (rel)
        memset(rel, 0, sizeof *rel);
    gov_statement st[2];
    ms_note_verifier run_key;
    int rc = check_approvals(list, a, alen, st, &run_key, e);
    if (rc)
        return rc;
    if (trusted && memcmp(trusted->pub, run_key.pub, 32))
        return ms_fail(e, MS_ECHECK, "the approvals name run key %s, not the trusted key %s", st[0].run_key,
                       trusted->name);
    lake_facts f;
    memset(&f, 0, sizeof f);
    f.want_size = st[0].cp_size;
    if ((rc = verified_facts(lake, &run_key, &f, rep, e)))
        return rc;
    if ((rc = facts_match(lake, &f, &st[0], e))) {
        facts_free(&f);
        return rc;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m) {
        facts_free(&f);
        return ms_fail(e, MS_EIO, "out of memory");
    }
    const gov_statement *s = &st[0];
    fprintf(m, "%s\nrun %s\norigin %s\ncheckpoint %" PRIu64 " %s\nconfig-sha256 %s\neval %" PRId64 "\nrun-key %s\n",
            release_magic, s->run_id, s->origin, s->cp_size, s->cp_root, s->config_sha256, s->eval_id, s->run_key);
    char *b[4] = {b64_of(f.cp_note, f.cp_note_n), b64_of(f.config_text, strlen(f.config_text)),
                  b64_of(a[0], alen[0]), b64_of(a[1], alen[1])};
    int oom = !b[0] || !b[1] || !b[2] || !b[3];
    if (!oom)
        fprintf(m, "checkpoint-note %s\nconfig-text %s\n", b[0], b[1]);
    for (int k = 0; k < MS_NAGENT && !oom; k++) {
        char *blob = b64_of(f.snap[k].blob, f.snap[k].n);
        oom = !blob;
        if (blob)
            fprintf(m, "snapshot %s %s %s\n", ms_agent_names[k], f.snap[k].sha256, blob);
        free(blob);
    }
    if (!oom)
        fprintf(m, "approval %s\napproval %s\nend\n", b[2], b[3]);
    for (int k = 0; k < 4; k++)
        free(b[k]);
    int ferr = ferror(m);
    if (fclose(m) || ferr || oom) {
        free(buf);
        facts_free(&f);
        return ms_fail(e, MS_EIO, "out of memory");
    }
    if (rel) {
        rel->st = st[0];
        memcpy(rel->approver[0], st[0].approver, sizeof rel->approver[0]);
        memcpy(rel->approver[1], st[1].approver, sizeof rel->approver[1]);
        rel->run_key = run_key;
        rel->config_text = f.config_text;
        f.config_text = NULL;
        memcpy(rel->snap, f.snap, sizeof rel->snap);
        memset(f.snap, 0, sizeof f.snap);
    }
    facts_free(&f);
    *out = buf;
    *n = len;
    return MS_OK;
}

/* Decodes a base64 field into a malloc'd buffer (NUL-terminated). */
static int b64_field(const cursor *c, const char *v, size_t vn, char **out, size_t *outn, ms_err *e)
{
    size_t cap = vn / 4 * 3 + 1;
    char *p = malloc(cap);
    if (!p)
        return ms_fail(e, MS_EIO, "out of memory");
    long got = ms_b64_decode(v, vn, p, cap);
    if (got < 0) {
        free(p);
        return ms_fail(e, MS_EINPUT, "%s:%d: not canonical base64", c->what, c->line);
    }
    p[got] = 0;
    *out = p;
    *outn = (size_t)got;
    return MS_OK;
}

static int release_parse(const char *text, size_t n, const gov_approvers *list, gov_release *rel, char **keep,
                         ms_err *e)
{
    cursor c = {text, text + n, "release", 0};
    const char *v = NULL, *part[3];
    size_t vn = 0, plen[3];
    gov_statement lin;
    memset(&lin, 0, sizeof lin);
    int rc;
    if ((rc = next_line(&c, NULL, release_magic, &v, &vn, e)) || (rc = parse_lineage(&c, &lin, e)) ||
        (rc = parse_run_key(&c, &lin, e)))
        return rc;
    /* keep[]: checkpoint note, config text, approval 1, approval 2 (decoded) */
    size_t kn[4];
    if ((rc = next_line(&c, "checkpoint-note", NULL, &v, &vn, e)) || (rc = b64_field(&c, v, vn, &keep[0], &kn[0], e)))
        return rc;
    if ((rc = next_line(&c, "config-text", NULL, &v, &vn, e)) || (rc = b64_field(&c, v, vn, &keep[1], &kn[1], e)))
        return rc;
    if (strlen(keep[1]) != kn[1])
        return ms_fail(e, MS_EINPUT, "release:%d: the config text holds a NUL byte", c.line);
    for (int a = 0; a < MS_NAGENT; a++) {
        if ((rc = next_line(&c, "snapshot", NULL, &v, &vn, e)))
            return rc;
        if (split(v, vn, 3, part, plen) || plen[0] != strlen(ms_agent_names[a]) ||
            memcmp(part[0], ms_agent_names[a], plen[0]) || !is_hex64(part[1], plen[1]))
            return ms_fail(e, MS_EINPUT, "release:%d: expected 'snapshot %s SHA256 BASE64'", c.line,
                           ms_agent_names[a]);
        memcpy(rel->snap[a].sha256, part[1], 64);
        char *blob;
        size_t bn;
        if ((rc = b64_field(&c, part[2], plen[2], &blob, &bn, e)))
            return rc;
        rel->snap[a].blob = blob;
        rel->snap[a].n = bn;
    }
    for (int k = 2; k < 4; k++)
        if ((rc = next_line(&c, "approval", NULL, &v, &vn, e)) || (rc = b64_field(&c, v, vn, &keep[k], &kn[k], e)))
            return rc;
    if ((rc = next_line(&c, NULL, "end", &v, &vn, e)))
        return rc;
    if (c.p != c.end)
        return ms_fail(e, MS_EINPUT, "release:%d: bytes after 'end'", c.line + 1);

    /* The approvals, then everything else against what they state. */
    gov_statement st[2];
    const char *ap[2] = {keep[2], keep[3]};
    const size_t apn[2] = {kn[2], kn[3]};
    if ((rc = check_approvals(list, ap, apn, st, &rel->run_key, e)))
        return rc;
    snprintf(lin.approver, sizeof lin.approver, "%s", st[0].approver);
    for (int a = 0; a < MS_NAGENT; a++)
        memcpy(lin.snapshot[a], rel->snap[a].sha256, 65);
    const char *d = statement_differs(&lin, &st[0]);
    if (d)
        return ms_fail(e, MS_ECHECK, "the release's %s is not what the approvals state: the file was altered", d);
    ms_err ne;
    size_t tl;
    ms_checkpoint cp;
    if (ms_note_open(keep[0], kn[0], &rel->run_key, &tl, &ne))
        return ms_fail(e, MS_ECHECK, "the release's checkpoint note is not signed by the run key: %s", ne.msg);
    if (ms_checkpoint_parse(keep[0], tl, &cp, &ne))
        return ms_fail(e, MS_ECHECK, "the release's checkpoint note is not a checkpoint: %s", ne.msg);
    char root[45];
    ms_b64_encode(cp.root, 32, root);
    if (strcmp(cp.origin, lin.origin) || cp.size != lin.cp_size || strcmp(root, lin.cp_root))
        return ms_fail(e, MS_ECHECK, "the release's checkpoint note is not the approved checkpoint");
    unsigned char md[32];
    char hex[65];
    if ((rc = ms_sha256(keep[1], kn[1], md, e)))
        return rc;
    ms_hex(md, 32, hex);
    if (strcmp(hex, lin.config_sha256))
        return ms_fail(e, MS_ECHECK, "the release's config text does not hash to the approved config-sha256: the "
                       "file was altered");
    for (int a = 0; a < MS_NAGENT; a++) {
        if ((rc = ms_sha256(rel->snap[a].blob, rel->snap[a].n, md, e)))
            return rc;
        ms_hex(md, 32, hex);
        if (strcmp(hex, rel->snap[a].sha256))
            return ms_fail(e, MS_ECHECK, "the release's %s parameters do not hash to the approved snapshot: the file "
                           "was altered", ms_agent_names[a]);
        rel->snap[a].eval_id = lin.eval_id;
    }
    rel->st = lin;
    memcpy(rel->approver[0], st[0].approver, sizeof rel->approver[0]);
    memcpy(rel->approver[1], st[1].approver, sizeof rel->approver[1]);
    rel->config_text = keep[1];
    keep[1] = NULL;
    return MS_OK;
}

int gov_release_open(const char *text, size_t n, const gov_approvers *list, gov_release *rel, ms_err *e)
{
    memset(rel, 0, sizeof *rel);
    if (n > GOV_RELEASE_MAX)
        return ms_fail(e, MS_EINPUT, "release: larger than %u bytes", GOV_RELEASE_MAX);
    char *keep[4] = {NULL, NULL, NULL, NULL};
    int rc = release_parse(text, n, list, rel, keep, e);
    for (int k = 0; k < 4; k++)
        free(keep[k]);
    if (rc)
        gov_release_free(rel);
    return rc;
}
