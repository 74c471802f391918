/* test_lifecycle.c — purge and export (ledger/lifecycle.h) on real lakes:
 * small runs of the experiment (exp_run) at each telemetry level, signed
 * with a keyring made in a temporary directory (never the user's).
 *
 * What is checked: what each purge removes (by class and step range) and
 * what it leaves, verify after 1, 2 and 3 purges (figures, signatures,
 * the newest checkpoint stating the run's status), the refusals, verify
 * catching tampering of a purged lake, exports of each class (verified on
 * their own and against the original's checkpoint, holding no payload of
 * another class), the WAL scrub with a reader holding the WAL, the
 * comparison of a purged lake with its unpurged twin, and that an attacker
 * without the keyring cannot test guesses of a purged field against its
 * commitment. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "base/hmac.h"
#include "exp/experiment.h"
#include "keys/keyring.h"
#include "ledger/canon.h"
#include "ledger/lifecycle.h"
#include "ledger/verify.h"
#include "sim/pseudo.h"
#include "tests/check.h"

/* ---- files --------------------------------------------------------------- */

static void tdir_new(char dir[64])
{
    snprintf(dir, 64, "/tmp/marlsim-life-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        abort();
    }
}

static void tdir_rm(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        char p[512];
        while ((de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

static unsigned char *slurp(const char *p, size_t *n)
{
    FILE *f = fopen(p, "rb");
    *n = 0;
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(sz > 0 ? (size_t)sz + 1 : 1);
    *n = b ? fread(b, 1, (size_t)(sz > 0 ? sz : 0), f) : 0;
    fclose(f);
    return b;
}

static int copy_file(const char *from, const char *to)
{
    size_t n;
    unsigned char *b = slurp(from, &n);
    if (!b)
        return -1;
    FILE *f = fopen(to, "wb");
    size_t w = f ? fwrite(b, 1, n, f) : 0;
    int rc = f && fclose(f) == 0 && w == n ? 0 : -1;
    free(b);
    return rc;
}

/* 1 when needle occurs in path or path-wal (raw bytes). */
static int bytes_in_lake(const char *path, const void *needle, size_t nn)
{
    char wal[256];
    snprintf(wal, sizeof wal, "%s-wal", path);
    const char *files[2] = {path, wal};
    for (int k = 0; k < 2; k++) {
        size_t n;
        unsigned char *b = slurp(files[k], &n);
        int hit = b && memmem(b, n, needle, nn) != NULL;
        free(b);
        if (hit)
            return 1;
    }
    return 0;
}

/* ---- raw SQLite (what an auditor or an attacker runs) --------------------- */

static int64_t q_int(const char *path, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    int64_t v = INT64_MIN;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return v;
}

static void q_text(const char *path, const char *sql, char *out, size_t n)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    snprintf(out, n, "%s", "");
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
            snprintf(out, n, "%s", (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
}

/* Runs sql with every append-only trigger dropped, then re-creates them
 * with their exact text (the schema check passes; only the data checks
 * can catch the edit). 0 on success. */
static int tamper(const char *path, const char *sql)
{
    sqlite3 *db;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return -1;
    }
    sqlite3_stmt *st;
    char *saved[64];
    int n = 0, rc = 0;
    if (sqlite3_prepare_v2(db, "SELECT name, sql FROM sqlite_schema WHERE type = 'trigger'", -1, &st, NULL) != SQLITE_OK)
        rc = -1;
    char names[64][64];
    while (!rc && n < 64 && sqlite3_step(st) == SQLITE_ROW) {
        snprintf(names[n], sizeof names[n], "%s", (const char *)sqlite3_column_text(st, 0));
        saved[n++] = strdup((const char *)sqlite3_column_text(st, 1));
    }
    sqlite3_finalize(st);
    for (int k = 0; !rc && k < n; k++) {
        char q[128];
        snprintf(q, sizeof q, "DROP TRIGGER \"%s\"", names[k]);
        rc = sqlite3_exec(db, q, NULL, NULL, NULL) != SQLITE_OK;
    }
    if (!rc)
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK;
    for (int k = 0; k < n; k++) {
        sqlite3_exec(db, saved[k], NULL, NULL, NULL);
        free(saved[k]);
    }
    sqlite3_close(db);
    return rc;
}

/* ---- keyrings and lakes ----------------------------------------------------- */

typedef struct tkeys {
    ms_keyring *kr;
    ms_note_verifier v;
    ms_note_signer s;
} tkeys;

static int sign_kr(void *ctx, const void *msg, size_t n, unsigned char sig[64], ms_err *e)
{
    return ms_keyring_sign(ctx, msg, n, sig, e);
}

static int tkeys_new(tkeys *k, const char *dir, const char *file, const char *name)
{
    char path[256];
    ms_err e;
    unsigned char pub[32];
    memset(k, 0, sizeof *k);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    ms_keyring_source src = {MS_KEYRING_FILE, "", "test"};
    snprintf(src.spec, sizeof src.spec, "%s", path);
    if (ms_keyring_create(path, name, &e) || ms_keyring_load(&src, &k->kr, &e) || ms_keyring_public_key(k->kr, pub, &e) ||
        ms_note_key_id(name, pub, k->v.key_id, &e)) {
        fprintf(stderr, "keyring: %s\n", e.msg);
        return -1;
    }
    snprintf(k->v.name, sizeof k->v.name, "%s", name);
    memcpy(k->v.pub, pub, 32);
    k->s.name = ms_keyring_signer_name(k->kr);
    memcpy(k->s.key_id, k->v.key_id, 4);
    k->s.sign = sign_kr;
    k->s.ctx = k->kr;
    return 0;
}

/* Two mailboxes, 256 simulation steps (512 env-steps), an update every 32
 * steps, a gate every 2 updates. */
static void small_config(ms_config *c, int level, int sample_every)
{
    ms_config_defaults(c);
    c->envs = 2;
    c->env_steps = 512;
    c->minibatch = 32;
    c->gate_every = 2;
    c->eval_episodes = 1;
    c->level = level;
    c->sample_every = sample_every;
}

/* Runs c into path with keyring kr (signed) or the development keyring. */
static int run_lake(const char *path, const ms_config *c, const ms_keyring *kr)
{
    ms_err e;
    exp_result res;
    ms_keyring *dev = NULL;
    if (!kr && ms_keyring_dev(c->seed, &dev, &e)) {
        fprintf(stderr, "dev keyring: %s\n", e.msg);
        return -1;
    }
    exp_options o = {.path = path, .overwrite = 1, .kr = kr ? kr : dev, .first_gen = -1};
    int rc = exp_run(c, &o, &res, &e);
    ms_keyring_free(dev);
    if (rc)
        fprintf(stderr, "run: %s\n", e.msg);
    return rc;
}

/* A purge of one class before step n, signed by k (NULL: development key). */
static int purge1(const char *path, int cls, int64_t before, const tkeys *k, lake_purge_report *r, ms_err *e)
{
    lake_purge_opts o = {.before = {-1, -1, -1}};
    o.before[cls] = before;
    o.policy[cls] = "test";
    if (k) {
        o.trusted = &k->v;
        o.signer = &k->s;
    }
    return lake_purge(path, &o, r, e);
}

static int verify_with(const char *path, const tkeys *k, lake_verify_report *r, ms_err *e)
{
    lake_verify_opts o = {.trusted = k ? &k->v : NULL};
    return lake_verify(path, &o, r, e);
}

/* "tbl IN (...)" over the purgeable tables of class cls. */
static void class_tables(int cls, char *out, size_t n)
{
    size_t k = (size_t)snprintf(out, n, "tbl IN (");
    int first = 1;
    for (int t = 0; t < LKT_COUNT; t++)
        if (lk_tables[t].tclass == cls && lk_table_purgeable(t)) {
            k += (size_t)snprintf(out + k, n - k, "%s'%s'", first ? "" : ",", lk_tables[t].name);
            first = 0;
        }
    snprintf(out + k, n - k, ")");
}

/* What a purge of class cls before step `before` must remove, from the
 * unpurged lake's ledger. */
static void expect_removal(const char *path, int cls, int64_t before, int64_t *entries, int64_t *rows)
{
    char in[400], q[600];
    class_tables(cls, in, sizeof in);
    snprintf(q, sizeof q, "SELECT COUNT(*) FROM ledger WHERE %s AND step < %lld", in, (long long)before);
    *entries = q_int(path, q);
    snprintf(q, sizeof q, "SELECT COALESCE(SUM(n_rows), 0) FROM ledger WHERE %s AND step < %lld", in,
             (long long)before);
    *rows = q_int(path, q);
}

/* ---- purge at each telemetry level, verify after 1, 2 and 3 purges ---------- */

static void lifecycle_purge_levels(void)
{
    static const struct {
        int level, every;
        const char *name;
    } levels[] = {{MS_LEVEL_FULL, 16, "full"}, {MS_LEVEL_SAMPLED, 4, "sampled"}, {MS_LEVEL_AGGREGATE, 8, "aggregate"}};
    char dir[64], db[128], orig[128], q[600];
    tdir_new(dir);
    tkeys k;
    CHECK(tkeys_new(&k, dir, "keyring", "life") == 0, "keyring");
    for (int L = 0; L < 3; L++) {
        ms_config c;
        ms_err e = {{0}};
        small_config(&c, levels[L].level, levels[L].every);
        snprintf(db, sizeof db, "%s/%s.db", dir, levels[L].name);
        snprintf(orig, sizeof orig, "%s/%s-orig.db", dir, levels[L].name);
        CHECK(run_lake(db, &c, k.kr) == 0, "%s: run", levels[L].name);
        CHECK(copy_file(db, orig) == 0, "copy");
        lake_verify_report v0;
        CHECK(verify_with(db, &k, &v0, &e) == MS_OK && v0.authenticated, "%s: fresh lake: %s", levels[L].name, e.msg);

        /* 1. behavioural, steps before 100 */
        int64_t want_e, want_r;
        expect_removal(orig, LK_BEHAVIOURAL, 100, &want_e, &want_r);
        CHECK(want_e > 0 && want_r > 0, "%s: there is behavioural data before step 100", levels[L].name);
        lake_purge_report r;
        int rc = purge1(db, LK_BEHAVIOURAL, 100, &k, &r, &e);
        CHECK(rc == MS_OK && r.scrubbed, "%s: purge: %s", levels[L].name, e.msg);
        CHECK(r.purge_id[LK_BEHAVIOURAL] == 1 && r.entries[LK_BEHAVIOURAL] == want_e &&
                  r.rows[LK_BEHAVIOURAL] == want_r && r.entries_total == want_e && !r.purge_id[LK_SECURITY],
              "%s: purge 1 removed %lld entries %lld rows, expected %lld %lld", levels[L].name,
              (long long)r.entries[LK_BEHAVIOURAL], (long long)r.rows[LK_BEHAVIOURAL], (long long)want_e,
              (long long)want_r);
        CHECK(L != 0 || r.bytes_after < r.bytes_before,
              "%s: the emptied pages left the file (%lld -> %lld bytes)", levels[L].name, (long long)r.bytes_before,
              (long long)r.bytes_after);
        CHECK(r.first_seq == v0.entries + 1 && r.last_seq == v0.entries + 2 && r.cp_size == v0.entries + 2,
              "%s: two chained entries and a checkpoint over them (%lld..%lld, cp %lld)", levels[L].name,
              (long long)r.first_seq, (long long)r.last_seq, (long long)r.cp_size);
        lake_verify_report v;
        rc = verify_with(db, &k, &v, &e);
        CHECK(rc == MS_OK && v.authenticated && v.complete && v.npurges == 1 && v.purged_entries == want_e,
              "%s: verify after 1 purge: %s", levels[L].name, e.msg);
        CHECK(v.purges[0].purge_id == 1 && !strcmp(v.purges[0].cls, "behavioural") && v.purges[0].before_step == 100 &&
                  v.purges[0].entries == want_e && v.purges[0].rows == want_r,
              "%s: the report's purge figures", levels[L].name);
        CHECK(v.cp_size == v.entries && !strcmp(v.cp_status, "completed"),
              "%s: the newest checkpoint covers the purge and states the run completed", levels[L].name);
        int64_t left = 0, kept = 0, kept0 = 0;
        for (int t = 0; t < LKT_COUNT; t++)
            if (lk_tables[t].tclass == LK_BEHAVIOURAL && lk_table_purgeable(t)) {
                const char *col = lk_tables[t].step_col >= 0 ? lk_tables[t].cols[lk_tables[t].step_col].name
                                                             : "window_start";
                snprintf(q, sizeof q, "SELECT COUNT(*) FROM %s WHERE %s < 100", lk_tables[t].name, col);
                left += q_int(db, q);
                snprintf(q, sizeof q, "SELECT COUNT(*) FROM %s WHERE %s >= 100", lk_tables[t].name, col);
                kept += q_int(db, q);
                kept0 += q_int(orig, q);
                CHECK(v.rows[t] + v.purged_rows[t] == v0.rows[t], "%s: %s rows present + purged", levels[L].name,
                      lk_tables[t].name);
            }
        CHECK(left == 0 && kept == kept0 && kept > 0, "%s: nothing behavioural before step 100 is left (%lld), all "
              "after it is (%lld of %lld)", levels[L].name, (long long)left, (long long)kept, (long long)kept0);
        CHECK(q_int(db, "SELECT COUNT(*) FROM salts WHERE seq IN (SELECT seq FROM tombstones)") == 0 &&
                  q_int(db, "SELECT COUNT(*) FROM salts") == q_int(orig, "SELECT COUNT(*) FROM salts") - want_e,
              "%s: the purged entries' salts are gone, the others stay", levels[L].name);
        CHECK(q_int(db, "SELECT COUNT(*) FROM tombstones t JOIN ledger l ON l.seq = t.seq AND l.tbl = t.tbl AND "
                        "l.first_rowid = t.first_rowid AND l.n_rows = t.n_rows AND l.commitment = t.commitment") ==
                  want_e,
              "%s: every tombstone repeats its entry's commitment", levels[L].name);
        char note[4096], path_cp[160];
        size_t n;
        q_text(db, "SELECT note FROM checkpoints ORDER BY cp_id DESC LIMIT 1", note, sizeof note);
        snprintf(path_cp, sizeof path_cp, "%s.checkpoint", db);
        unsigned char *file = slurp(path_cp, &n);
        CHECK(file && n == strlen(note) && !memcmp(file, note, n), "%s: PATH.checkpoint is the newest checkpoint",
              levels[L].name);
        free(file);

        /* the same purge again: nothing more to remove, nothing appended */
        rc = purge1(db, LK_BEHAVIOURAL, 100, &k, &r, &e);
        CHECK(rc == MS_OK && r.entries_total == 0 && r.scrubbed && r.first_seq == 0 &&
                  q_int(db, "SELECT COUNT(*) FROM ledger") == v.entries,
              "%s: a repeated purge appends nothing: %s", levels[L].name, e.msg);

        /* 2. all security payloads; 3. operational before step 64 */
        int64_t se, sr, oe, orr;
        expect_removal(orig, LK_SECURITY, INT64_MAX, &se, &sr);
        expect_removal(orig, LK_OPERATIONAL, 64, &oe, &orr);
        rc = purge1(db, LK_SECURITY, INT64_MAX, &k, &r, &e);
        CHECK(rc == MS_OK && r.purge_id[LK_SECURITY] == 2 && r.entries_total == se && r.rows_total == sr,
              "%s: purge 2 (security): %s", levels[L].name, e.msg);
        rc = verify_with(db, &k, &v, &e);
        CHECK(rc == MS_OK && v.authenticated && v.npurges == 2 && v.purges[1].entries == se && v.purges[1].rows == sr &&
                  !strcmp(v.purges[1].cls, "security"),
              "%s: verify after 2 purges: %s", levels[L].name, e.msg);
        rc = purge1(db, LK_OPERATIONAL, 64, &k, &r, &e);
        CHECK(rc == MS_OK && r.purge_id[LK_OPERATIONAL] == 3 && r.entries_total == oe && oe > 0,
              "%s: purge 3 (operational): %s", levels[L].name, e.msg);
        rc = verify_with(db, &k, &v, &e);
        CHECK(rc == MS_OK && v.authenticated && v.complete && v.npurges == 3 && v.purges[2].entries == oe &&
                  v.purges[2].rows == orr && v.purges[2].before_step == 64 &&
                  v.purged_entries == want_e + se + oe && v.entries == v0.entries + 6,
              "%s: verify after 3 purges: %s", levels[L].name, e.msg);
        CHECK(v.rows[LKT_TOMBSTONES] == want_e + se + oe && v.rows[LKT_PURGES] == 3,
              "%s: tombstones and purges are never purged", levels[L].name);

        /* the purged lake against its unpurged twin: identical, partly by commitment */
        lake_diff_report d;
        rc = lake_diff(db, orig, 0, &d, &e);
        CHECK(rc == MS_OK && d.identical && d.purged_a == want_e + se + oe && d.purge_entries_a == 6 &&
                  d.entries_a == v0.entries,
              "%s: diff with the unpurged lake: identical %d purged %lld purge entries %lld (%s)", levels[L].name,
              d.identical, (long long)d.purged_a, (long long)d.purge_entries_a, d.what);
    }
    ms_keyring_free(k.kr);
    tdir_rm(dir);
}

/* ---- refusals --------------------------------------------------------------- */

static void lifecycle_purge_refusals(void)
{
    char dir[64], db[128], t[128], dev[128], x[128];
    tdir_new(dir);
    tkeys k, other;
    CHECK(tkeys_new(&k, dir, "keyring", "life") == 0 && tkeys_new(&other, dir, "other", "other") == 0, "keyrings");
    ms_config c;
    ms_err e = {{0}};
    small_config(&c, MS_LEVEL_FULL, 16);
    snprintf(db, sizeof db, "%s/a.db", dir);
    snprintf(t, sizeof t, "%s/t.db", dir);
    snprintf(dev, sizeof dev, "%s/dev.db", dir);
    snprintf(x, sizeof x, "%s/x.db", dir);
    CHECK(run_lake(db, &c, k.kr) == 0, "run");
    int64_t entries = q_int(db, "SELECT COUNT(*) FROM ledger");
    lake_purge_report r;

    /* a lake that does not verify: nothing written */
    CHECK(copy_file(db, t) == 0, "copy");
    CHECK(tamper(t, "UPDATE joint_actions SET reward = reward + 1 WHERE rowid = 300") == 0, "tamper");
    size_t n0, n1;
    unsigned char *b0 = slurp(t, &n0);
    int rc = purge1(t, LK_BEHAVIOURAL, 100, &k, &r, &e);
    unsigned char *b1 = slurp(t, &n1);
    CHECK(rc == MS_ECHECK && strstr(e.msg, "joint_actions") && !r.unsigned_, "tampered lake refused: %d %s", rc, e.msg);
    CHECK(b0 && b1 && n0 == n1 && !memcmp(b0, b1, n0), "the refused lake is unchanged");
    free(b0);
    free(b1);

    /* signed by another key */
    rc = purge1(db, LK_BEHAVIOURAL, 100, &other, &r, &e);
    CHECK(rc == MS_ECHECK && r.verified.foreign, "another keyring's purge refused: %d %s", rc, e.msg);
    CHECK(q_int(db, "SELECT COUNT(*) FROM ledger") == entries, "nothing appended");

    /* a signed lake without a signer; bad options */
    rc = purge1(db, LK_BEHAVIOURAL, 100, NULL, &r, &e);
    CHECK(rc == MS_EINPUT && strstr(e.msg, "signing key"), "a signed lake needs the signer: %s", e.msg);
    lake_purge_opts o = {.before = {-1, -1, -1}, .trusted = &k.v, .signer = &k.s};
    CHECK(lake_purge(db, &o, &r, &e) == MS_EINPUT, "no class: %s", e.msg);
    o.before[LK_BEHAVIOURAL] = -2;
    CHECK(lake_purge(db, &o, &r, &e) == MS_EINPUT && strstr(e.msg, "allowed"), "negative step: %s", e.msg);

    /* a development-key lake: purged without a signer, never with one */
    CHECK(run_lake(dev, &c, NULL) == 0, "dev run");
    rc = purge1(dev, LK_BEHAVIOURAL, 100, &k, &r, &e);
    CHECK(rc == MS_EINPUT && strstr(e.msg, "development key"), "a dev lake is not purged with a signer: %s", e.msg);
    rc = purge1(dev, LK_BEHAVIOURAL, 100, NULL, &r, &e);
    CHECK(rc == MS_OK && r.entries_total > 0 && r.cp_size == 0 && r.scrubbed, "dev lake purged unsigned: %s", e.msg);
    lake_verify_report v;
    CHECK(verify_with(dev, NULL, &v, &e) == MS_OK && v.npurges == 1 && v.checkpoints == 0, "dev lake verifies: %s",
          e.msg);

    /* a running lake (a killed run: its writer may be alive) */
    char run[128];
    snprintf(run, sizeof run, "%s/run.db", dir);
    CHECK(copy_file(dev, run) == 0, "copy");
    lake_run_info in = {.run_id = "r", .name = "n", .config_text = "[run]\n", .version = "t", .build_facts = "{}",
                        .key_ids = "[]", .dev_key = 1, .commit_key = (const unsigned char *)"0123456789abcdef0123456789abcdef"};
    char sha[65];
    unsigned char d[32];
    ms_sha256("[run]\n", 6, d, &e);
    ms_hex(d, 32, sha);
    in.config_sha256 = sha;
    lake *L;
    CHECK(lake_create(&L, run, &in, 1, &e) == MS_OK, "create: %s", e.msg);
    lk_value hk[5] = {lk_text("dev0"), lk_text("pseudonym"), lk_text("fp"), lk_int(0), lk_null()};
    CHECK(lake_append(L, LKT_HMAC_KEYS, 0, 1, hk, &e) == MS_OK, "append: %s", e.msg);
    lake_close(L); /* no finish: status running */
    rc = purge1(run, LK_SECURITY, 100, NULL, &r, &e);
    CHECK(rc == MS_EINPUT && strstr(e.msg, "running"), "a running lake is refused: %s", e.msg);
    lk_value tb[7] = {lk_int(1), lk_int(3), lk_text("hmac_keys"), lk_int(0), lk_int(1), lk_int(1), lk_blob(d, 32)};
    CHECK(lake_create(&L, run, &in, 1, &e) == MS_OK, "create: %s", e.msg);
    CHECK(lake_append(L, LKT_TOMBSTONES, 0, 1, tb, &e) == MS_EINPUT, "a run's writer cannot append tombstones");
    lake_close(L);

    /* an export is not purged */
    lake_export_report xr;
    CHECK(lake_export(db, x, LK_BEHAVIOURAL, &k.v, 0, &xr, &e) == MS_OK, "export: %s", e.msg);
    rc = purge1(x, LK_BEHAVIOURAL, 100, &k, &r, &e);
    CHECK(rc == MS_EINPUT && strstr(e.msg, "export"), "an export is not purged: %s", e.msg);
    ms_keyring_free(k.kr);
    ms_keyring_free(other.kr);
    tdir_rm(dir);
}

/* ---- verify catches what is done to a purged lake ------------------------------ */

static void lifecycle_verify_catches(void)
{
    char dir[64], base[128], db[128];
    tdir_new(dir);
    tkeys k;
    CHECK(tkeys_new(&k, dir, "keyring", "life") == 0, "keyring");
    ms_config c;
    ms_err e = {{0}};
    small_config(&c, MS_LEVEL_FULL, 16);
    snprintf(base, sizeof base, "%s/base.db", dir);
    snprintf(db, sizeof db, "%s/t.db", dir);
    CHECK(run_lake(base, &c, k.kr) == 0, "run");
    lake_purge_report r;
    CHECK(purge1(base, LK_BEHAVIOURAL, 100, &k, &r, &e) == MS_OK, "purge: %s", e.msg);
    /* the first purged entry of environment_states, and an unpurged one */
    int64_t pseq = q_int(base, "SELECT MIN(seq) FROM tombstones WHERE tbl = 'environment_states'");
    int64_t useq = q_int(base, "SELECT MIN(seq) FROM ledger WHERE tbl = 'environment_states' AND step >= 100");
    int64_t urow = q_int(base, "SELECT first_rowid FROM ledger WHERE tbl = 'environment_states' AND step >= 100 "
                               "ORDER BY seq LIMIT 1");
    int64_t prow = q_int(base, "SELECT first_rowid FROM tombstones WHERE tbl = 'environment_states' ORDER BY seq LIMIT 1");
    CHECK(pseq > 0 && useq > 0 && urow > 0 && prow > 0, "fixtures");
    char q1[600], q2[600], q3[600], q4[1000], q5[1000], q6[600];
    snprintf(q1, sizeof q1,
             "INSERT INTO environment_states (rowid, step, env, broadcast) SELECT %lld, step, env, broadcast "
             "FROM environment_states WHERE rowid = %lld", (long long)prow, (long long)urow);
    snprintf(q2, sizeof q2, "INSERT INTO salts VALUES (%lld, zeroblob(32))", (long long)pseq);
    snprintf(q3, sizeof q3,
             "DELETE FROM environment_states WHERE rowid BETWEEN %lld AND %lld; "
             "INSERT INTO tombstones SELECT 1, seq, tbl, step, first_rowid, n_rows, commitment FROM ledger WHERE seq = "
             "%lld; DELETE FROM salts WHERE seq = %lld", (long long)urow, (long long)urow + 1, (long long)useq,
             (long long)useq);
    snprintf(q4, sizeof q4, "%s; UPDATE tombstones SET purge_id = 0 WHERE seq = %lld; UPDATE runs SET exported_class = "
             "'security'", q3, (long long)useq);
    snprintf(q5, sizeof q5, "%s; UPDATE tombstones SET purge_id = 0 WHERE seq = %lld; UPDATE runs SET exported_class = "
             "'behavioural'", q3, (long long)useq);
    snprintf(q6, sizeof q6, "DELETE FROM environment_states WHERE rowid = %lld", (long long)urow);
    static const struct {
        const char *name, *want; /* want: a phrase of the verdict's message (NULL: any) */
    } cases[] = {
        {"remove a tombstone", "is missing"},
        {"change a tombstone's commitment", "does not repeat"},
        {"move a tombstone to another entry", "two rows name ledger seq"},
        {"put a purged row back", "of them are there"},
        {"put a purged entry's salt back", "salt is still there"},
        {"purge an entry by hand, with a forged tombstone", "not an export's"},
        {"a forged export tombstone naming the exported class", "export"},
        {"alter a purge's row count (chained)", "differ from the entry's commitment"},
        {"alter a purge's class (chained)", "differ from the entry's commitment"},
        {"remove one row of an unpurged entry", "is missing"},
        {"remove the purge's purges entry", "tail was removed"},
        {"call the lake an export", "it holds this behavioural payload"},
    };
    char sql[12][1000];
    snprintf(sql[0], 1000, "DELETE FROM tombstones WHERE seq = %lld", (long long)pseq);
    snprintf(sql[1], 1000, "UPDATE tombstones SET commitment = zeroblob(32) WHERE seq = %lld", (long long)pseq);
    snprintf(sql[2], 1000, "UPDATE tombstones SET seq = seq + 1 WHERE seq = %lld", (long long)pseq);
    snprintf(sql[3], 1000, "%s", q1);
    snprintf(sql[4], 1000, "%s", q2);
    snprintf(sql[5], 1000, "%s", q3);
    snprintf(sql[6], 1000, "%s", q5);
    snprintf(sql[7], 1000, "UPDATE purges SET rows = rows - 1");
    snprintf(sql[8], 1000, "UPDATE purges SET class = 'security'");
    snprintf(sql[9], 1000, "%s", q6);
    snprintf(sql[10], 1000, "DELETE FROM ledger WHERE seq = (SELECT MAX(seq) FROM ledger); UPDATE runs SET "
                           "ledger_rows = ledger_rows - 1, head_hash = (SELECT lower(hex(hash)) FROM ledger WHERE seq = "
                           "(SELECT MAX(seq) FROM ledger))");
    snprintf(sql[11], 1000, "UPDATE runs SET exported_class = 'operational'");
    for (int i = 0; i < 12; i++) {
        CHECK(copy_file(base, db) == 0, "copy");
        CHECK(tamper(db, sql[i]) == 0, "%s: the tampering itself failed", cases[i].name);
        lake_verify_report v;
        int rc = verify_with(db, NULL, &v, &e); /* chain and structure, no key */
        CHECK(rc == MS_ECHECK && (!cases[i].want || strstr(e.msg, cases[i].want)), "%s: verify %d (%s)",
              cases[i].name, rc, e.msg);
    }
    /* A lake that calls itself an export (runs.exported_class, unchained)
     * with one entry of another class removed and a forged export
     * tombstone, row counts fixed: still refused, because an export holds
     * no payload of another class. */
    CHECK(copy_file(base, db) == 0, "copy");
    char counts[1024], fix[2000];
    q_text(base, "SELECT row_counts FROM runs", counts, sizeof counts);
    int64_t nes = q_int(base, "SELECT COUNT(*) FROM environment_states"), nt = q_int(base, "SELECT COUNT(*) FROM tombstones");
    snprintf(fix, sizeof fix, "%s; UPDATE runs SET row_counts = replace(replace(row_counts, '\"environment_states\":%lld,', "
             "'\"environment_states\":%lld,'), '\"tombstones\":%lld,', '\"tombstones\":%lld,')", q4, (long long)nes,
             (long long)nes - 2, (long long)nt, (long long)nt + 1);
    CHECK(tamper(db, fix) == 0, "forged export");
    lake_verify_report v;
    int rc = verify_with(db, NULL, &v, &e);
    CHECK(rc == MS_ECHECK && strstr(e.msg, "export of class security, but it holds"), "a forged 'export': %d %s", rc,
          e.msg);
    ms_keyring_free(k.kr);
    tdir_rm(dir);
}

/* A purger with a bug (or a key holder who lies): the removal primitives of
 * lake.h used directly on a development-key lake, with purge records that
 * do not match what was removed. Every variant must fail verify except the
 * honest one. */
enum { CR_HONEST, CR_ROWS, CR_CLASS, CR_CUTOFF, CR_NO_PURGE_ROW, CR_NO_PURGES_ENTRY, CR_COUNT };

static int crafted(const char *path, int variant, ms_err *e)
{
    unsigned char (*hashes)[32] = NULL;
    lake_verify_report v;
    int rc = lake_read_entry_hashes(path, NULL, &hashes, &v, e);
    if (rc)
        return rc;
    lake *L = NULL;
    lake_reopen_info ri = {.hashes = (const unsigned char(*)[LK_HASH_LEN])hashes, .entries = v.entries};
    rc = lake_reopen(&L, path, &ri, e);
    free(hashes);
    if (rc)
        return rc;
    int64_t seq = q_int(path, "SELECT MIN(seq) FROM ledger WHERE tbl = 'environment_states'");
    int64_t step = q_int(path, "SELECT step FROM ledger WHERE seq = (SELECT MIN(seq) FROM ledger WHERE tbl = "
                               "'environment_states')");
    int64_t first = q_int(path, "SELECT first_rowid FROM ledger WHERE seq = (SELECT MIN(seq) FROM ledger WHERE tbl = "
                                "'environment_states')");
    int64_t n = q_int(path, "SELECT n_rows FROM ledger WHERE seq = (SELECT MIN(seq) FROM ledger WHERE tbl = "
                            "'environment_states')");
    char hexc[65];
    unsigned char commit[32];
    q_text(path, "SELECT hex(commitment) FROM ledger WHERE seq = (SELECT MIN(seq) FROM ledger WHERE tbl = "
                 "'environment_states')", hexc, sizeof hexc);
    for (int k = 0; k < 32; k++)
        sscanf(hexc + 2 * k, "%2hhx", &commit[k]);
    int tables[1] = {LKT_ENVIRONMENT_STATES};
    lk_value tb[7] = {lk_int(variant == CR_NO_PURGE_ROW ? 2 : 1), lk_int(seq), lk_text("environment_states"),
                      lk_int(step), lk_int(first), lk_int(n), lk_blob(commit, 32)};
    lk_value pr[6] = {lk_int(1), lk_text(variant == CR_CLASS ? "security" : "behavioural"),
                      lk_int(variant == CR_CUTOFF ? step : step + 1), lk_text("test"), lk_int(1),
                      lk_int(variant == CR_ROWS ? n - 1 : n)};
    if (!(rc = lake_remove_begin(L, tables, 1, e)) && !(rc = lake_remove_entry(L, LKT_ENVIRONMENT_STATES, seq, first, n, e)) &&
        !(rc = lake_append(L, LKT_TOMBSTONES, step, 1, tb, e)) &&
        (variant == CR_NO_PURGES_ENTRY || !(rc = lake_append(L, LKT_PURGES, step, 1, pr, e))))
        rc = lake_remove_commit(L, 0, e);
    lake_close(L);
    return rc;
}

static void lifecycle_verify_purge_records(void)
{
    static const char *const want[CR_COUNT] = {NULL, "says it removed", "is not what purge 1 removes",
                                               "is not what purge 1 removes", "does not record",
                                               "without its purges entry"};
    char dir[64], base[128], db[128];
    tdir_new(dir);
    ms_config c;
    ms_err e = {{0}};
    small_config(&c, MS_LEVEL_FULL, 16);
    snprintf(base, sizeof base, "%s/dev.db", dir);
    snprintf(db, sizeof db, "%s/t.db", dir);
    CHECK(run_lake(base, &c, NULL) == 0, "run");
    for (int k = 0; k < CR_COUNT; k++) {
        CHECK(copy_file(base, db) == 0, "copy");
        CHECK(crafted(db, k, &e) == MS_OK, "variant %d: crafting failed: %s", k, e.msg);
        lake_verify_report v;
        int rc = verify_with(db, NULL, &v, &e);
        if (k == CR_HONEST)
            CHECK(rc == MS_OK && v.npurges == 1 && v.purged_entries == 1, "the honest variant verifies: %s", e.msg);
        else
            CHECK(rc == MS_ECHECK && strstr(e.msg, want[k]), "variant %d: %d %s", k, rc, e.msg);
    }
    tdir_rm(dir);
}

/* ---- export --------------------------------------------------------------------- */

/* The first 24 bytes of the first value of a column, as found in a lake
 * file (a payload's bytes to search for). */
static size_t sample_bytes(const char *path, const char *sql, unsigned char out[24])
{
    sqlite3 *db;
    sqlite3_stmt *st;
    size_t n = 0;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) {
            const void *p = sqlite3_column_blob(st, 0);
            n = (size_t)sqlite3_column_bytes(st, 0);
            n = n > 24 ? 24 : n;
            if (p)
                memcpy(out, p, n);
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return n;
}

static void lifecycle_export(void)
{
    char dir[64], db[128], out[128], t[128];
    tdir_new(dir);
    tkeys k;
    CHECK(tkeys_new(&k, dir, "keyring", "life") == 0, "keyring");
    ms_config c;
    ms_err e = {{0}};
    small_config(&c, MS_LEVEL_FULL, 16);
    c.poison_rate = 0.2; /* security rows: anomalies and poisoning ground truth */
    snprintf(db, sizeof db, "%s/a.db", dir);
    CHECK(run_lake(db, &c, k.kr) == 0, "run");
    lake_purge_report pr;
    CHECK(purge1(db, LK_BEHAVIOURAL, 50, &k, &pr, &e) == MS_OK, "purge: %s", e.msg);
    lake_verify_report src;
    CHECK(verify_with(db, &k, &src, &e) == MS_OK && src.rows[LKT_ANOMALIES] > 0 && src.rows[LKT_POISON_TRUTH] > 0,
          "source: %s", e.msg);
    /* One payload of each class, to search for in the exports. */
    unsigned char pay[3][24];
    size_t pn[3];
    pn[LK_BEHAVIOURAL] =
        sample_bytes(db, "SELECT substr(broadcast, 60) FROM environment_states ORDER BY rowid DESC", pay[LK_BEHAVIOURAL]);
    pn[LK_OPERATIONAL] = sample_bytes(db, "SELECT substr(params, 100) FROM policy_snapshots", pay[LK_OPERATIONAL]);
    pn[LK_SECURITY] = sample_bytes(db, "SELECT fingerprint FROM hmac_keys", pay[LK_SECURITY]);
    char cpfile[160];
    snprintf(cpfile, sizeof cpfile, "%s.checkpoint", db);
    size_t cpn;
    char *cp = (char *)slurp(cpfile, &cpn);
    for (int cls = 0; cls < 3; cls++) {
        CHECK(pn[cls] == 24 && bytes_in_lake(db, pay[cls], 24), "the source holds the %s sample", lk_class_names[cls]);
        snprintf(out, sizeof out, "%s/x-%s.db", dir, lk_class_names[cls]);
        lake_export_report r;
        int rc = lake_export(db, out, cls, &k.v, 0, &r, &e);
        CHECK(rc == MS_OK && r.entries > 0, "export %s: %s", lk_class_names[cls], e.msg);
        lake_verify_report v;
        rc = verify_with(out, &k, &v, &e);
        CHECK(rc == MS_OK && v.authenticated && v.complete && !strcmp(v.exported_class, lk_class_names[cls]) &&
                  v.export_entries == r.entries && v.entries == src.entries && !strcmp(v.head, src.head),
              "export %s verifies on its own, the original's chain: %s", lk_class_names[cls], e.msg);
        for (int t2 = 0; t2 < LKT_COUNT; t2++) {
            int keep = !lk_table_purgeable(t2) || lk_tables[t2].tclass == cls;
            int64_t want = t2 == LKT_TOMBSTONES ? src.rows[t2] + r.entries : keep ? src.rows[t2] : 0;
            CHECK(v.rows[t2] == want, "export %s: %s holds %lld rows, expected %lld", lk_class_names[cls],
                  lk_tables[t2].name, (long long)v.rows[t2], (long long)want);
        }
        for (int other = 0; other < 3; other++)
            CHECK(bytes_in_lake(out, pay[other], 24) == (other == cls),
                  "export %s %s the %s sample", lk_class_names[cls], other == cls ? "holds" : "does not hold",
                  lk_class_names[other]);
        lake_verify_opts xo = {.trusted = &k.v, .checkpoint = cp, .checkpoint_len = cpn};
        rc = lake_verify(out, &xo, &v, &e);
        CHECK(cp && rc == MS_OK && v.ext_size == src.entries, "export %s against the original's checkpoint: %s",
              lk_class_names[cls], e.msg);
        lake_diff_report d;
        CHECK(lake_diff(out, db, 0, &d, &e) == MS_OK && d.identical && d.purged_a > d.purged_b,
              "export %s: the same run as its source, compared by commitment: %s", lk_class_names[cls], d.what);
    }
    /* refusals */
    lake_export_report r;
    snprintf(out, sizeof out, "%s/x-security.db", dir);
    CHECK(lake_export(db, out, LK_SECURITY, &k.v, 0, &r, &e) == MS_EINPUT && strstr(e.msg, "exists"),
          "an existing output is refused: %s", e.msg);
    CHECK(lake_export(db, db, LK_SECURITY, &k.v, 1, &r, &e) == MS_EINPUT, "the source itself is refused: %s", e.msg);
    snprintf(t, sizeof t, "%s/x2.db", dir);
    CHECK(lake_export(out, t, LK_SECURITY, &k.v, 0, &r, &e) == MS_EINPUT && strstr(e.msg, "already an export"),
          "an export of an export is refused: %s", e.msg);
    snprintf(t, sizeof t, "%s/t.db", dir);
    CHECK(copy_file(db, t) == 0 && tamper(t, "UPDATE anomalies SET reason = 'x' WHERE rowid = 1") == 0, "tamper");
    snprintf(out, sizeof out, "%s/x3.db", dir);
    CHECK(lake_export(t, out, LK_SECURITY, &k.v, 0, &r, &e) == MS_ECHECK && access(out, F_OK) != 0,
          "a tampered lake is refused and nothing is written: %s", e.msg);
    free(cp);
    ms_keyring_free(k.kr);
    tdir_rm(dir);
}

/* ---- the WAL scrub, with and without a reader holding the WAL ------------------- */

static void lifecycle_scrub(void)
{
    char dir[64], db[128], orig[128], pq[400];
    tdir_new(dir);
    tkeys k;
    CHECK(tkeys_new(&k, dir, "keyring", "life") == 0, "keyring");
    ms_config c;
    ms_err e = {{0}};
    small_config(&c, MS_LEVEL_FULL, 16);
    snprintf(db, sizeof db, "%s/a.db", dir);
    snprintf(orig, sizeof orig, "%s/orig.db", dir);
    CHECK(run_lake(db, &c, k.kr) == 0 && copy_file(db, orig) == 0, "run");
    /* A sender pseudonym that occurs only before step 100 (purged), one only
     * from step 100 on (kept). */
    char gone[80], kept[80];
    q_text(db, "SELECT f FROM (SELECT json_extract(broadcast, '$.from') AS f, MAX(step) AS m FROM environment_states "
               "GROUP BY f) WHERE m < 100 LIMIT 1", gone, sizeof gone);
    q_text(db, "SELECT f FROM (SELECT json_extract(broadcast, '$.from') AS f, MIN(step) AS m FROM environment_states "
               "GROUP BY f) WHERE m >= 100 LIMIT 1", kept, sizeof kept);
    const char *gh = gone, *kh = kept;
    CHECK(strlen(gh) == MS_PSEUDO_LEN && strlen(kh) == MS_PSEUDO_LEN, "pseudonyms '%s' '%s'", gone, kept);
    if (strlen(gh) != MS_PSEUDO_LEN || strlen(kh) != MS_PSEUDO_LEN) {
        tdir_rm(dir);
        return;
    }
    CHECK(bytes_in_lake(db, gh, MS_PSEUDO_LEN) && bytes_in_lake(db, kh, MS_PSEUDO_LEN),
          "both are in the lake before the purge");

    /* A reader holds the WAL (an open read transaction from before the purge). */
    sqlite3 *rd;
    CHECK(sqlite3_open_v2(db, &rd, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
              sqlite3_exec(rd, "BEGIN; SELECT COUNT(*) FROM ledger;", NULL, NULL, NULL) == SQLITE_OK,
          "reader: %s", sqlite3_errmsg(rd));
    lake_purge_report r;
    int rc = purge1(db, LK_BEHAVIOURAL, 100, &k, &r, &e);
    CHECK(rc == MS_OK && r.entries_total > 0 && !r.scrubbed, "purge with a reader: %d scrubbed %d (%s)", rc,
          r.scrubbed, e.msg);
    CHECK(bytes_in_lake(db, gh, MS_PSEUDO_LEN), "not yet scrubbed: the purged bytes are still in the lake's file");
    lake_verify_report v;
    CHECK(verify_with(db, &k, &v, &e) == MS_OK && v.npurges == 1, "the purge is committed: %s", e.msg);
    /* The reader ends its transaction (but stays open: its close would
     * checkpoint the WAL itself); the next purge finishes the job. */
    CHECK(sqlite3_exec(rd, "COMMIT", NULL, NULL, NULL) == SQLITE_OK, "reader commit");
    rc = purge1(db, LK_BEHAVIOURAL, 100, &k, &r, &e);
    CHECK(rc == MS_OK && r.entries_total == 0 && r.scrubbed, "the next purge scrubs: %d %d %s", rc, r.scrubbed, e.msg);
    snprintf(pq, sizeof pq, "%s-wal", db);
    struct stat sb;
    CHECK(stat(pq, &sb) != 0 || sb.st_size == 0, "the WAL is empty");
    CHECK(!bytes_in_lake(db, gh, MS_PSEUDO_LEN), "the purged pseudonym is gone from the file and its WAL");
    /* Every pseudonym (of every field) that occurred only in purged rows. */
    sqlite3 *o;
    sqlite3_stmt *st = NULL; /* stays NULL if prepare fails: sqlite3_step(NULL) is SQLITE_MISUSE */
    int n = 0, found = 0;
    size_t fn = 0, wn = 0;
    unsigned char *fb = slurp(db, &fn), *wb = slurp(pq, &wn);
    CHECK(sqlite3_open_v2(orig, &o, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
              sqlite3_prepare_v2(o, "SELECT v FROM (SELECT j.value AS v, MAX(e.step) AS m FROM "
                                    "environment_states e, json_each(e.broadcast) j WHERE j.key IN ('from', 'to', "
                                    "'subject', 'attachment', 'link') GROUP BY j.value) WHERE m < 100",
                                 -1, &st, NULL) == SQLITE_OK,
          "pseudonyms: %s", sqlite3_errmsg(o));
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *hx = (const char *)sqlite3_column_text(st, 0);
        n++;
        found += (fb && memmem(fb, fn, hx, strlen(hx))) || (wb && memmem(wb, wn, hx, strlen(hx)));
    }
    sqlite3_finalize(st);
    sqlite3_close(o);
    free(fb);
    free(wb);
    CHECK(n > 100 && found == 0, "%d of the %d pseudonyms that occurred only in purged rows are left", found, n);
    CHECK(bytes_in_lake(db, kh, MS_PSEUDO_LEN), "the kept pseudonym is still there (the search works)");
    sqlite3_close(rd);
    CHECK(verify_with(db, &k, &v, &e) == MS_OK && v.authenticated && v.npurges == 1, "verify: %s", e.msg);
    ms_keyring_free(k.kr);
    tdir_rm(dir);
}

/* ---- guessing a purged field against its commitment ---------------------------- */

typedef struct entry_rows {
    int n;
    int64_t step[8], env[8];
    char bcast[8][2048];
    size_t blen[8];
} entry_rows;

/* out = SHA-256([salt (32 bytes) ||] b): a commitment as ledger/canon.h
 * lays it out, computed here without the library's hashing. */
static void salted_sha256(const unsigned char *salt, const lk_buf *b, unsigned char out[32])
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    unsigned int len = 0;
    EVP_DigestInit_ex(m, EVP_sha256(), NULL);
    if (salt)
        EVP_DigestUpdate(m, salt, 32);
    EVP_DigestUpdate(m, b->p, b->len);
    EVP_DigestFinal_ex(m, out, &len);
    EVP_MD_CTX_free(m);
}

/* SHA-256([salt ||] rows) with row 0's "from" pseudonym replaced by hex
 * (32 digits; NULL: unchanged) — the layout of ledger/canon.h. */
static void commit_of(const entry_rows *er, const char *hex, const unsigned char *salt, unsigned char out[32])
{
    lk_buf b = {0};
    for (int r = 0; r < er->n; r++) {
        char bc[2048];
        memcpy(bc, er->bcast[r], er->blen[r]);
        if (r == 0 && hex) {
            char *p = memmem(bc, er->blen[r], "\"from\":\"", 8);
            if (p && p + 8 + MS_PSEUDO_LEN <= bc + er->blen[r])
                memcpy(p + 8, hex, MS_PSEUDO_LEN);
        }
        lk_value row[3] = {lk_int(er->step[r]), lk_int(er->env[r]), lk_textn(bc, er->blen[r])};
        lk_put_row(&b, row, 3, NULL);
    }
    salted_sha256(salt, &b, out);
    lk_buf_release(&b);
}

/* SHA-256([salt ||] rows) of poison_truth rows (step, env, threat, kind). */
static void poison_commit(int n, const int64_t *step, const int64_t *env, const char *const *threat,
                          const char *const *kind, const unsigned char *salt, unsigned char out[32])
{
    lk_buf b = {0};
    for (int r = 0; r < n; r++) {
        lk_value row[4] = {lk_int(step[r]), lk_int(env[r]), lk_textn(threat[r], strlen(threat[r])),
                           lk_textn(kind[r], strlen(kind[r]))};
        lk_put_row(&b, row, 4, NULL);
    }
    salted_sha256(salt, &b, out);
    lk_buf_release(&b);
}

/* Schema v4: a security entry's tombstone resists guessing too. The
 * poisoning ground truth is low-entropy (the step is in the ledger; env,
 * threat and kind take a few dozen values), so under v3's unsalted
 * commitment an analyst given the purged lake (or a behavioural export)
 * recovered most of it by trying every candidate. Here the attacker tries
 * every candidate row set of each one- or two-row poison_truth entry,
 * without a salt and with a zero salt: nothing matches; with the true salt
 * (positive control) the same search finds exactly the true rows. */
static void lifecycle_guessing_security(void)
{
    char dir[64], db[128], q[300];
    tdir_new(dir);
    tkeys k;
    CHECK(tkeys_new(&k, dir, "keyring", "life") == 0, "keyring");
    ms_config c;
    ms_err e = {{0}};
    small_config(&c, MS_LEVEL_AGGREGATE, 8);
    c.envs = 4;
    c.poison_rate = 0.2;
    snprintf(db, sizeof db, "%s/a.db", dir);
    CHECK(run_lake(db, &c, k.kr) == 0, "run");

    enum { MAXE = 40 };
    static const char *const threats[] = {"transit", "source"};
    static const char *const kinds[] = {"bad_mac", "replay", "truncated", "extra_field", "backdoor", "forged_feedback"};
    struct {
        int64_t seq, n, step[2], env[2];
        char threat[2][16], kind[2][16];
        unsigned char salt[32], commit[32];
        int salted;
    } ent[MAXE];
    int ne = 0;
    sqlite3 *s;
    sqlite3_stmt *st, *rows;
    CHECK(sqlite3_open_v2(db, &s, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK, "open");
    if (sqlite3_prepare_v2(s, "SELECT l.seq, l.n_rows, l.first_rowid, s.salt, l.commitment FROM ledger l LEFT JOIN "
                           "salts s USING (seq) WHERE l.tbl = 'poison_truth' AND l.n_rows <= 2 ORDER BY l.seq", -1, &st,
                           NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(s, "SELECT step, env, threat, kind FROM poison_truth WHERE rowid BETWEEN ?1 AND ?2 "
                           "ORDER BY rowid", -1, &rows, NULL) == SQLITE_OK) {
        while (ne < MAXE && sqlite3_step(st) == SQLITE_ROW) {
            ent[ne].seq = sqlite3_column_int64(st, 0);
            ent[ne].n = sqlite3_column_int64(st, 1);
            int64_t first = sqlite3_column_int64(st, 2);
            if (sqlite3_column_bytes(st, 4) != 32)
                continue;
            ent[ne].salted = sqlite3_column_bytes(st, 3) == 32; /* schema v3 had none here */
            if (ent[ne].salted)
                memcpy(ent[ne].salt, sqlite3_column_blob(st, 3), 32);
            memcpy(ent[ne].commit, sqlite3_column_blob(st, 4), 32);
            sqlite3_reset(rows);
            sqlite3_bind_int64(rows, 1, first);
            sqlite3_bind_int64(rows, 2, first + ent[ne].n - 1);
            int r = 0;
            while (r < 2 && sqlite3_step(rows) == SQLITE_ROW) {
                ent[ne].step[r] = sqlite3_column_int64(rows, 0);
                ent[ne].env[r] = sqlite3_column_int64(rows, 1);
                snprintf(ent[ne].threat[r], sizeof ent[ne].threat[r], "%s", sqlite3_column_text(rows, 2));
                snprintf(ent[ne].kind[r], sizeof ent[ne].kind[r], "%s", sqlite3_column_text(rows, 3));
                r++;
            }
            ne += r == ent[ne].n;
        }
        sqlite3_finalize(rows);
    }
    sqlite3_finalize(st);
    sqlite3_close(s);
    CHECK(ne >= 10, "%d one- or two-row poison_truth entries to attack", ne);
    int salted = 0;
    for (int i = 0; i < ne; i++)
        salted += ent[i].salted;
    CHECK(salted == ne, "%d of %d of them salted", salted, ne);

    lake_purge_report r;
    CHECK(purge1(db, LK_SECURITY, INT64_MAX, &k, &r, &e) == MS_OK, "purge security: %s", e.msg);
    CHECK(q_int(db, "SELECT COUNT(*) FROM poison_truth") == 0 &&
              q_int(db, "SELECT COUNT(*) FROM salts JOIN ledger USING (seq) WHERE tbl = 'poison_truth'") == 0,
          "the rows and their salts are gone");

    static const unsigned char zero[32];
    int64_t tried = 0, matched = 0, found_with_salt = 0, same_tomb = 0;
    for (int i = 0; i < ne; i++) {
        char want[65], tomb[65];
        for (int b = 0; b < 32; b++)
            snprintf(want + 2 * b, 3, "%02X", ent[i].commit[b]);
        snprintf(q, sizeof q, "SELECT hex(commitment) FROM tombstones WHERE seq = %lld", (long long)ent[i].seq);
        q_text(db, q, tomb, sizeof tomb);
        same_tomb += !strcmp(tomb, want);
        /* Every candidate: the step is the entry's (public); env, threat
         * and kind of each row range over all their values. */
        int64_t step[2] = {ent[i].step[0], ent[i].step[1]}, env[2];
        const char *th[2], *kd[2];
        const int per = c.envs * 2 * 6;
        const int total = ent[i].n == 1 ? per : per * per;
        for (int x = 0; x < total; x++) {
            for (int rr = 0; rr < ent[i].n; rr++) {
                int v = rr == 0 ? x % per : x / per;
                env[rr] = v % c.envs;
                th[rr] = threats[v / c.envs % 2];
                kd[rr] = kinds[v / c.envs / 2];
            }
            unsigned char d[32];
            poison_commit((int)ent[i].n, step, env, th, kd, NULL, d);
            matched += !memcmp(d, ent[i].commit, 32);
            poison_commit((int)ent[i].n, step, env, th, kd, zero, d);
            matched += !memcmp(d, ent[i].commit, 32);
            tried += 2;
            poison_commit((int)ent[i].n, step, env, th, kd, ent[i].salted ? ent[i].salt : NULL, d); /* control */
            found_with_salt += !memcmp(d, ent[i].commit, 32);
        }
    }
    CHECK(same_tomb == ne, "each tombstone holds its entry's commitment (%lld of %d)", (long long)same_tomb, ne);
    CHECK(tried > 10000 && matched == 0, "%lld guesses without the salt, %lld matched", (long long)tried,
          (long long)matched);
    CHECK(found_with_salt == ne, "with the true salt the same search finds every entry's rows (%lld of %d)",
          (long long)found_with_salt, ne);
    ms_keyring_free(k.kr);
    tdir_rm(dir);
}

static void lifecycle_guessing(void)
{
    char dir[64], db[128], q[300];
    tdir_new(dir);
    tkeys k;
    CHECK(tkeys_new(&k, dir, "keyring", "life") == 0, "keyring");
    ms_config c;
    ms_err e = {{0}};
    small_config(&c, MS_LEVEL_FULL, 16);
    snprintf(db, sizeof db, "%s/a.db", dir);
    CHECK(run_lake(db, &c, k.kr) == 0, "run");
    char run_id[64];
    q_text(db, "SELECT run_id FROM runs", run_id, sizeof run_id);
    int64_t seq = q_int(db, "SELECT MIN(seq) FROM ledger WHERE tbl = 'environment_states'");

    /* Before the purge (what the keyring holder's lake holds): the rows,
     * the salt and the commitment. */
    entry_rows er = {0};
    unsigned char salt[32], commit[32];
    sqlite3 *s;
    sqlite3_stmt *st;
    CHECK(sqlite3_open_v2(db, &s, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK, "open");
    snprintf(q, sizeof q, "SELECT e.step, e.env, e.broadcast FROM environment_states e, ledger l WHERE l.seq = %lld AND "
             "e.rowid BETWEEN l.first_rowid AND l.first_rowid + l.n_rows - 1 ORDER BY e.rowid", (long long)seq);
    if (sqlite3_prepare_v2(s, q, -1, &st, NULL) == SQLITE_OK) {
        while (er.n < 8 && sqlite3_step(st) == SQLITE_ROW) {
            er.step[er.n] = sqlite3_column_int64(st, 0);
            er.env[er.n] = sqlite3_column_int64(st, 1);
            er.blen[er.n] = (size_t)sqlite3_column_bytes(st, 2);
            if (er.blen[er.n] < sizeof er.bcast[0])
                memcpy(er.bcast[er.n], sqlite3_column_text(st, 2), er.blen[er.n]);
            er.n++;
        }
        sqlite3_finalize(st);
    }
    snprintf(q, sizeof q, "SELECT (SELECT salt FROM salts WHERE seq = %lld), (SELECT commitment FROM ledger WHERE seq = "
             "%lld)", (long long)seq, (long long)seq);
    int got = 0;
    if (sqlite3_prepare_v2(s, q, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
        sqlite3_column_bytes(st, 0) == 32 && sqlite3_column_bytes(st, 1) == 32) {
        memcpy(salt, sqlite3_column_blob(st, 0), 32);
        memcpy(commit, sqlite3_column_blob(st, 1), 32);
        got = 1;
    }
    sqlite3_finalize(st);
    sqlite3_close(s);
    CHECK(got && er.n == c.envs, "the entry, its salt and commitment (%d rows)", er.n);
    char truth[33] = "";
    const char *p = memmem(er.bcast[0], er.blen[0], "\"from\":\"", 8);
    if (p && p + 8 + MS_PSEUDO_LEN <= er.bcast[0] + er.blen[0])
        memcpy(truth, p + 8, MS_PSEUDO_LEN);
    CHECK(strlen(truth) == MS_PSEUDO_LEN, "the purged field: row 0's sender pseudonym");

    /* Positive control 1: with the salt, the commitment is recomputable. */
    unsigned char d[32];
    commit_of(&er, NULL, salt, d);
    CHECK(!memcmp(d, commit, 32), "with its salt the commitment is SHA-256(salt || rows)");

    lake_purge_report r;
    CHECK(purge1(db, LK_BEHAVIOURAL, 1, &k, &r, &e) == MS_OK && r.entries_total > 0, "purge step 0: %s", e.msg);
    snprintf(q, sizeof q, "SELECT COUNT(*) FROM salts WHERE seq = %lld", (long long)seq);
    CHECK(q_int(db, q) == 0, "the salt went with the rows");
    char tomb[65], want[65];
    snprintf(q, sizeof q, "SELECT hex(commitment) FROM tombstones WHERE seq = %lld", (long long)seq);
    q_text(db, q, tomb, sizeof tomb);
    for (int i = 0; i < 32; i++)
        snprintf(want + 2 * i, 3, "%02X", commit[i]);
    CHECK(!strcmp(tomb, want), "the tombstone holds the commitment");

    /* The attacker: the lake, the binary and the seed, not the keyring.
     * Candidate values: every pseudonym of every vocabulary under every key
     * it can derive (the seed's development keys, the public evaluation
     * keys of the run and evaluation seeds), plus the true value itself.
     * Candidate salts: none, zeros, and the salts the seed's development
     * commitment key and development keys would give. */
    ms_keyring *dev = NULL;
    CHECK(ms_keyring_dev(c.seed, &dev, &e) == MS_OK, "dev keyring");
    enum { NKEY = 6, NSALT = 7 };
    unsigned char salts[NSALT][32];
    const unsigned char *salt_p[NSALT];
    int nsalt = 0;
    salt_p[nsalt++] = NULL;
    memset(salts[nsalt], 0, 32);
    salt_p[nsalt] = salts[nsalt], nsalt++;
    ms_hmac h;
    unsigned char key[32];
    ms_hmac_init(&h, &e);
    if (ms_keyring_commit_key(dev, key, &e) == MS_OK && ms_hmac_setkey(&h, key, 32, &e) == MS_OK &&
        lk_salt(&h, run_id, seq, salts[nsalt], &e) == MS_OK)
        salt_p[nsalt] = salts[nsalt], nsalt++;
    for (int g = 0; g < 4 && nsalt < NSALT; g++)
        if (ms_keyring_hmac_key(dev, g, key, &e) == MS_OK && ms_hmac_setkey(&h, key, 32, &e) == MS_OK &&
            lk_salt(&h, run_id, seq, salts[nsalt], &e) == MS_OK)
            salt_p[nsalt] = salts[nsalt], nsalt++;
    CHECK(nsalt == NSALT, "%d candidate salts", nsalt);
    int64_t tried = 0, matched = 0, matched_with_salt = 0, derivable_truth = 0;
    ms_pseudonyms ps;
    CHECK(ms_pseudonyms_init(&ps, c.envs, &e) == MS_OK, "tables");
    for (int kk = 0; kk < NKEY; kk++) {
        ms_keys kg;
        ms_key_source src = {dev, 0, 8, 0};
        int idx = kk;
        if (kk >= 4) { /* public evaluation keys: of the run seed and of the evaluation seed */
            src = (ms_key_source){NULL, 0, 8, kk == 4 ? c.seed : c.eval_seed};
            idx = 0;
        }
        if (ms_keys_load(&kg, &src, idx, &e) || ms_pseudonyms_rekey(&ps, &h, &kg, &e)) {
            CHECK(0, "key %d: %s", kk, e.msg);
            continue;
        }
        const char(*tables[5])[MS_PSEUDO_LEN] = {ps.sender, ps.recipient, ps.subject, ps.attach, ps.link};
        const int sizes[5] = {MS_VOCAB_LOCALS * MS_VOCAB_DOMAINS, c.envs, MS_VOCAB_SUBJECTS, MS_VOCAB_ATTACH,
                              MS_VOCAB_LINKS};
        for (int f = 0; f < 5; f++)
            for (int i = 0; i < sizes[f]; i++) {
                char hex[33];
                memcpy(hex, tables[f][i], MS_PSEUDO_LEN);
                hex[MS_PSEUDO_LEN] = 0;
                derivable_truth += !strcmp(hex, truth);
                for (int sidx = 0; sidx < nsalt; sidx++) {
                    commit_of(&er, hex, salt_p[sidx], d);
                    tried++;
                    matched += !memcmp(d, commit, 32);
                }
                if (kk == 0 && f == 0 && i < 64) { /* positive control 2 (a sample): with the true salt */
                    commit_of(&er, hex, salt, d);
                    matched_with_salt += !memcmp(d, commit, 32);
                }
            }
        ms_keys_clear(&kg);
    }
    /* The true value itself, without the salt. */
    for (int sidx = 0; sidx < nsalt; sidx++) {
        commit_of(&er, truth, salt_p[sidx], d);
        tried++;
        matched += !memcmp(d, commit, 32);
    }
    CHECK(tried > 200000 && matched == 0, "%lld guesses, %lld matched the commitment", (long long)tried,
          (long long)matched);
    CHECK(derivable_truth == 0, "the true pseudonym is not among the values the attacker can derive");
    /* Positive control 2: with the true salt the search finds the true value
     * (and no sample of the derivable ones). */
    commit_of(&er, truth, salt, d);
    CHECK(!memcmp(d, commit, 32) && matched_with_salt == 0, "with the salt, the true value matches and only it");
    ms_pseudonyms_release(&ps);
    ms_hmac_release(&h);
    OPENSSL_cleanse(key, sizeof key);
    ms_keyring_free(dev);
    ms_keyring_free(k.kr);
    tdir_rm(dir);
}

void suite_lifecycle(void)
{
    RUN(lifecycle_purge_levels);
    RUN(lifecycle_purge_refusals);
    RUN(lifecycle_verify_catches);
    RUN(lifecycle_verify_purge_records);
    RUN(lifecycle_export);
    RUN(lifecycle_scrub);
    RUN(lifecycle_guessing);
    RUN(lifecycle_guessing_security);
}
