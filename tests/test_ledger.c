/* test_ledger.c — the telemetry lake: schema, canonical bytes, writer,
 * verifier (incl. tampering and hostile files), diff, crash safety. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "ledger/canon.h"
#include "ledger/lake.h"
#include "ledger/schema.h"
#include "ledger/verify.h"
#include "tests/check.h"

/* ---- scratch directories ---------------------------------------------- */

static void tdir_new(char dir[64])
{
    snprintf(dir, 64, "/tmp/marlsim-ledger-XXXXXX");
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

static void path_in(char *out, size_t n, const char *dir, const char *name)
{
    snprintf(out, n, "%s/%s", dir, name);
}

static int file_exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0;
}

static long file_size(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 ? (long)sb.st_size : -1;
}

static int write_file(const char *p, const void *data, size_t n)
{
    FILE *f = fopen(p, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(data, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

static unsigned char *read_file(const char *p, size_t *n)
{
    FILE *f = fopen(p, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(sz > 0 ? (size_t)sz : 1);
    *n = b ? fread(b, 1, (size_t)sz, f) : 0;
    fclose(f);
    return b;
}

static int copy_file(const char *from, const char *to)
{
    size_t n;
    unsigned char *b = read_file(from, &n);
    if (!b)
        return -1;
    int rc = write_file(to, b, n);
    free(b);
    return rc;
}

/* Independent SHA-256 (straight EVP, not ledger/canon.c). */
static void sha256(const void *p, size_t n, unsigned char out[32])
{
    unsigned int len = 0;
    EVP_Digest(p, n, out, &len, EVP_sha256(), NULL);
}

static void hex(const unsigned char *in, size_t n, char *out)
{
    for (size_t k = 0; k < n; k++)
        sprintf(out + 2 * k, "%02x", in[k]);
}

/* ---- building lakes ---------------------------------------------------- */

static const char config_text[] = "[run]\nname = test\nseed = 7\n\n[sim]\nenvs = 4\n";
static const char *const agents[3] = {"GET", "OPEN", "BIN"};
static const char *const classes[4] = {"benign", "spam", "phishing", "malware"};

typedef struct build_opts {
    const char *run_id;
    uint64_t seed;
    int steps, envs, tx_every;
    const char *finish;      /* NULL: close without lake_finish */
    int tweak_table;         /* -1: none; else change one value of this table */
    int tweak_step, tweak_env;
    const char *build_facts; /* NULL: make_info's */
} build_opts;

static build_opts defaults(void)
{
    build_opts o = {"run-1", 7, 6, 4, 2, "completed", -1, -1, -1, NULL};
    return o;
}

static void make_info(lake_run_info *in, char sha[65], const char *run_id, uint64_t seed)
{
    unsigned char d[32];
    sha256(config_text, strlen(config_text), d);
    hex(d, 32, sha);
    memset(in, 0, sizeof *in);
    in->run_id = run_id;
    in->name = "test";
    in->seed = seed;
    in->config_text = config_text;
    in->config_sha256 = sha;
    in->version = "0.1-test";
    in->build_facts = "{\"cc\":\"gcc\",\"sqlite\":\"3.40.1\"}";
    in->key_ids = "[\"dev\"]";
    in->dev_key = 1;
    in->started_at = "2026-01-01T00:00:00Z";
}

/* Appends one simulation step's behavioural rows. */
static int append_step(lake *L, const build_opts *o, int s, ms_err *e)
{
    enum { MAXE = 64 };
    char bcast[MAXE][128], obs[MAXE][3][48];
    unsigned char sha[MAXE][32];
    lk_value v[MAXE * 16];
    int E = o->envs, rc;
    if (E < 1 || E > MAXE)
        return ms_fail(e, MS_EINPUT, "test: envs %d out of range", E);
    memset(v, 0, sizeof v);

    for (int k = 0; k < E; k++) {
        snprintf(bcast[k], sizeof bcast[k], "{\"env\":%d,\"step\":%d,\"sender\":\"k1:%08x\"}", k, s,
                 (unsigned)(s * 2654435761u ^ (unsigned)k));
        if (o->tweak_table == LKT_ENVIRONMENT_STATES && s == o->tweak_step && k == o->tweak_env)
            bcast[k][2] = 'E';
        sha256(bcast[k], strlen(bcast[k]), sha[k]);
        lk_value *r = v + k * 4;
        r[0] = lk_int(s);
        r[1] = lk_int(k);
        r[2] = lk_text(bcast[k]);
        r[3] = lk_blob(sha[k], 32);
    }
    if ((rc = lake_append(L, LKT_ENVIRONMENT_STATES, s, E, v, e)))
        return rc;

    for (int k = 0; k < E; k++)
        for (int a = 0; a < 3; a++) {
            snprintf(obs[k][a], sizeof obs[k][a], "[%d,0.%d,%d]", a, (s + k) % 10, s);
            lk_value *r = v + (k * 3 + a) * 5;
            r[0] = lk_int(s);
            r[1] = lk_int(k);
            r[2] = lk_text(agents[a]);
            r[3] = lk_int(1);
            r[4] = lk_text(obs[k][a]);
        }
    if ((rc = lake_append(L, LKT_AGENT_OBSERVATIONS, s, E * 3, v, e)))
        return rc;

    for (int k = 0; k < E; k++) {
        lk_value *r = v + k * 16;
        double reward = (double)((s * 7 + k) % 9) - 4.0 + 0.25;
        if (o->tweak_table == LKT_JOINT_ACTIONS && s == o->tweak_step && k == o->tweak_env)
            reward += 1.0;
        r[0] = lk_int(s);
        r[1] = lk_int(k);
        r[2] = lk_text(classes[(s + k) % 4]);
        r[3] = lk_int((s + k) % 2);
        r[4] = lk_int((s * k) % 2);
        r[5] = lk_int((s + 2 * k) % 2);
        r[6] = lk_real(0.125 * ((s + k) % 8));
        r[7] = lk_real(-0.0); /* canonicalised to +0.0 */
        r[8] = lk_real(1.0);
        r[9] = lk_int((s + k) % 2);
        r[10] = lk_int(0);
        r[11] = lk_int((s + 2 * k) % 2);
        r[12] = lk_text((s + k) % 3 ? "delivered" : "quarantined");
        r[13] = lk_text((s + k) % 3 ? "[]" : "[\"threat_intel_block\",\"preview_requires_fetch\"]");
        r[14] = lk_real(reward);
        r[15] = lk_real(reward * 1.5);
    }
    if ((rc = lake_append(L, LKT_JOINT_ACTIONS, s, E, v, e)))
        return rc;

    for (int k = 0; k < E; k++)
        for (int a = 0; a < 3; a++) {
            lk_value *r = v + (k * 3 + a) * 11;
            double credit = 0.5 * a - 0.25 * k;
            if (o->tweak_table == LKT_DI_CREDIT_ASSIGNMENT && s == o->tweak_step &&
                k == o->tweak_env && a == 1)
                credit += 1.0;
            r[0] = lk_int(s);
            r[1] = lk_int(k);
            r[2] = lk_text(agents[a]);
            r[3] = lk_text(classes[(s + k) % 4]);
            r[4] = lk_real(1.0);
            r[5] = lk_real(1.0);
            r[6] = k == 0 && a == 2 ? lk_null() : lk_real(credit);
            r[7] = lk_text("difference");
            r[8] = lk_int(1);
            r[9] = s + 1 < o->steps ? lk_int(s / 2 + 1) : lk_null();
            r[10] = lk_int(s + 1 < o->steps);
        }
    return lake_append(L, LKT_DI_CREDIT_ASSIGNMENT, s, E * 3, v, e);
}

/* Operational and security rows after update u (every other step). */
static int append_update(lake *L, int s, int u, ms_err *e)
{
    lk_value v[3 * 15];
    char before[3][65], after[3][65], ps[3][65];
    unsigned char params[3][40], d[32];
    int rc;
    for (int a = 0; a < 3; a++) {
        memset(params[a], u * 3 + a, sizeof params[a]);
        sha256(params[a], sizeof params[a], d);
        hex(d, 32, ps[a]);
        snprintf(before[a], 65, "%064d", u - 1);
        snprintf(after[a], 65, "%064d", u);
        lk_value *r = v + a * 15;
        r[0] = lk_int(u);
        r[1] = lk_text(agents[a]);
        r[2] = lk_int((int64_t)(s + 1) * 4);
        r[3] = lk_text(before[a]);
        r[4] = lk_text(after[a]);
        r[5] = lk_real(-0.01 * u);
        r[6] = lk_real(0.5 / u);
        r[7] = lk_real(0.69);
        r[8] = lk_real(1e-3);
        r[9] = lk_real(0.1);
        r[10] = u == 2 ? lk_null() : lk_real(0.4);
        r[11] = lk_int(24);
        r[12] = lk_int(4);
        r[13] = lk_int(0);
        r[14] = lk_text(u % 2 ? "promoted" : "rolled_back");
    }
    if ((rc = lake_append(L, LKT_OPTIMIZER_STEPS, s, 3, v, e)))
        return rc;

    /* odd updates are promoted, even ones rolled back */
    lk_value ev[10] = {lk_int(u), lk_int(u), lk_int((int64_t)(s + 1) * 4), lk_int(2),
                       lk_real(0.5 + 0.1 * u), u == 1 ? lk_null() : lk_real(0.6),
                       lk_real(0.05), lk_text(u == 1 ? "baseline" : u % 2 ? "promoted" : "rolled_back"),
                       u % 2 ? lk_null() : lk_int(u), u % 2 ? lk_null() : lk_int(u)};
    if ((rc = lake_append(L, LKT_EVALUATIONS, s, 1, ev, e)))
        return rc;

    for (int a = 0; a < 3; a++) {
        lk_value *r = v + a * 6;
        r[0] = lk_int(u * 10 + a);
        r[1] = lk_int(u);
        r[2] = lk_int(u);
        r[3] = lk_text(agents[a]);
        r[4] = lk_text(ps[a]);
        r[5] = lk_blob(params[a], sizeof params[a]);
    }
    if ((rc = lake_append(L, LKT_POLICY_SNAPSHOTS, s, 3, v, e)))
        return rc;

    lk_value an[2 * 6] = {lk_int(s), lk_int(1), lk_text("OPEN"), lk_text("mac"), lk_text("bad_mac"),
                          lk_text("MAC mismatch"), lk_int(s), lk_int(2), lk_null(),
                          lk_text("schema"), lk_text("extra_field"), lk_null()};
    if ((rc = lake_append(L, LKT_ANOMALIES, s, 2, an, e)))
        return rc;
    lk_value pt[3] = {lk_int(s), lk_int(1), lk_text("bad_mac")};
    return lake_append(L, LKT_POISON_TRUTH, s, 1, pt, e);
}

/* Builds a lake at path; head receives lake_head_hex at the end. */
static int build(const char *path, const build_opts *o, char head[65], ms_err *e)
{
    lake_run_info in;
    char sha[65];
    lake *L;
    make_info(&in, sha, o->run_id, o->seed);
    if (o->build_facts)
        in.build_facts = o->build_facts;
    int rc = lake_create(&L, path, &in, 0, e);
    if (rc)
        return rc;
    lk_value hk[5] = {lk_text("dev"), lk_text("pseudonym"), lk_text("fp:0011"), lk_int(0),
                      lk_null()};
    rc = lake_append(L, LKT_HMAC_KEYS, 0, 1, hk, e); /* outside a transaction */
    for (int s = 0; !rc && s < o->steps; s++) {
        if (s % o->tx_every == 0)
            rc = lake_begin(L, e);
        if (!rc)
            rc = append_step(L, o, s, e);
        if (!rc && s % 2 == 1)
            rc = append_update(L, s, s / 2 + 1, e);
        lake_set_env_steps(L, (int64_t)(s + 1) * o->envs);
        if (!rc && (s % o->tx_every == o->tx_every - 1 || s == o->steps - 1))
            rc = lake_commit(L, e);
    }
    if (!rc) {
        lk_value ag[9] = {lk_int(0), lk_int(o->steps), lk_text("GET"), lk_text("spam"),
                          lk_int(10), lk_int(4), lk_int(3), lk_real(-1.5), lk_real(0.75)};
        rc = lake_append(L, LKT_BEHAVIOUR_AGGREGATES, o->steps, 1, ag, e);
    }
    if (!rc && o->finish)
        rc = lake_finish(L, o->finish, (int64_t)o->steps * o->envs, 0.625, 1, e);
    if (head)
        snprintf(head, 65, "%s", lake_head_hex(L));
    lake_close(L);
    return rc;
}

/* ---- raw SQLite helpers (the attacker's tools) ------------------------ */

static int raw_exec(const char *path, const char *sql, char *errbuf, size_t n)
{
    sqlite3 *db;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return -1;
    }
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (errbuf)
        snprintf(errbuf, n, "%s", msg ? msg : "");
    sqlite3_free(msg);
    sqlite3_close(db);
    return rc;
}

static int64_t raw_int(const char *path, const char *sql)
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

/* Runs sql on table t's rows with its append-only triggers dropped, then
 * re-creates them with their exact original text (so the schema check
 * passes and only the data checks can catch the edit). */
static int tamper_rows(const char *path, const char *t, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    char *trig[2] = {0}, q[256];
    int n = 0, rc = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        goto out;
    snprintf(q, sizeof q, "SELECT sql FROM sqlite_schema WHERE type='trigger' AND tbl_name='%s'", t);
    if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK)
        goto out;
    while (n < 2 && sqlite3_step(st) == SQLITE_ROW)
        trig[n++] = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    snprintf(q, sizeof q, "DROP TRIGGER %s_no_update; DROP TRIGGER %s_no_delete;", t, t);
    if (n != 2 || sqlite3_exec(db, q, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(db, trig[0], NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(db, trig[1], NULL, NULL, NULL) != SQLITE_OK)
        goto out;
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "  tamper_rows(%s): %s\n", t, sqlite3_errmsg(db));
    free(trig[0]);
    free(trig[1]);
    sqlite3_close(db);
    return rc;
}

/* ---- tests: schema and canonical bytes -------------------------------- */

static void ledger_schema_matches_spec(void)
{
    char *sql = NULL;
    ms_err e = {{0}};
    CHECK(lk_schema_script(&sql, &e) == MS_OK, "%s", e.msg);
    sqlite3 *db;
    sqlite3_open(":memory:", &db);
    CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK, "script: %s", sqlite3_errmsg(db));
    for (int t = 0; t < LKT_COUNT; t++) {
        const lk_table *T = &lk_tables[t];
        char q[128];
        sqlite3_stmt *st;
        snprintf(q, sizeof q, "PRAGMA table_xinfo(%s)", T->name);
        sqlite3_prepare_v2(db, q, -1, &st, NULL);
        int c = 0;
        while (sqlite3_step(st) == SQLITE_ROW) {
            static const char *const tn[] = {"", "INTEGER", "REAL", "TEXT", "BLOB"};
            if (c < T->ncols) {
                CHECK(strcmp((const char *)sqlite3_column_text(st, 1), T->cols[c].name) == 0,
                      "%s column %d", T->name, c);
                CHECK(strcmp((const char *)sqlite3_column_text(st, 2), tn[T->cols[c].type]) == 0,
                      "%s.%s type", T->name, T->cols[c].name);
                CHECK(sqlite3_column_int(st, 3) == !T->cols[c].nullable, "%s.%s notnull",
                      T->name, T->cols[c].name);
            }
            c++;
        }
        sqlite3_finalize(st);
        CHECK(c == T->ncols, "%s has %d columns, spec %d", T->name, c, T->ncols);
        snprintf(q, sizeof q, "SELECT sql FROM sqlite_schema WHERE name='%s'", T->name);
        sqlite3_prepare_v2(db, q, -1, &st, NULL);
        CHECK(sqlite3_step(st) == SQLITE_ROW, "%s", T->name);
        const char *ct = (const char *)sqlite3_column_text(st, 0);
        CHECK(ct && strstr(ct, ") STRICT") && strstr(ct, "-- "), "%s STRICT + documented", T->name);
        sqlite3_finalize(st);
        CHECK(lk_table_find(T->name, strlen(T->name)) == t, "find %s", T->name);
    }
    CHECK(lk_table_find("joint_action", 12) == -1 && lk_table_find("runs", 4) == -1, "find misses");
    /* Documentation is inside the CREATE text, so .schema shows it. */
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_schema WHERE name='runs'", -1, &st, NULL);
    sqlite3_step(st);
    CHECK(strstr((const char *)sqlite3_column_text(st, 0), "marlsim telemetry lake") != NULL,
          "overview comment");
    sqlite3_finalize(st);
    /* Views parse and run on an empty lake. */
    static const char *const views[] = {"v_learning_curve", "v_rule_hits", "v_credit_by_class",
                                        "v_outcomes", "v_gate_decisions", "v_anomalies_by_reason",
                                        "v_update_survival"};
    for (int k = 0; k < 7; k++) {
        char q[96];
        snprintf(q, sizeof q, "SELECT * FROM %s", views[k]);
        CHECK(sqlite3_exec(db, q, NULL, NULL, NULL) == SQLITE_OK, "%s: %s", views[k],
              sqlite3_errmsg(db));
    }
    sqlite3_close(db);
    free(sql);
}

static void ledger_canonical_bytes(void)
{
    /* Known answer for the documented layout. */
    const unsigned char blob[1] = {0xff};
    lk_value row[6] = {lk_int(-2), lk_real(-0.0), lk_text("ab"), lk_blob(blob, 1), lk_null(),
                       lk_real(1.5)};
    static const unsigned char want[] = {
        0, 0, 0, 41,                                   /* u32 row length */
        1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, /* INTEGER -2 */
        2, 0, 0, 0, 0, 0, 0, 0, 0,                     /* REAL -0.0 -> +0.0 */
        3, 0, 0, 0, 2, 'a', 'b',                       /* TEXT */
        4, 0, 0, 0, 1, 0xff,                           /* BLOB */
        0,                                             /* NULL */
        2, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0,               /* REAL 1.5 */
    };
    lk_buf b = {0};
    ms_err e = {{0}};
    CHECK(lk_put_row(&b, row, 6, &e) == MS_OK, "%s", e.msg);
    CHECK(b.len == sizeof want && memcmp(b.p, want, sizeof want) == 0, "row bytes (len %zu)", b.len);
    lk_buf_release(&b);

    unsigned char hdr[64];
    size_t hn = lk_entry_header(hdr, 3, "abc", -1, 5, 2, 4);
    static const unsigned char whdr[] = {0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 3, 'a', 'b', 'c',
                                         0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                         0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 2, 0, 0, 0, 4};
    CHECK(hn == sizeof whdr && memcmp(hdr, whdr, hn) == 0, "entry header (len %zu)", hn);

    /* Genesis, recomputed independently. */
    lk_hasher h;
    unsigned char g[32], g2[32], cfg[32];
    CHECK(lk_hasher_init(&h, &e) == MS_OK, "%s", e.msg);
    CHECK(lk_genesis(&h, "r1", 2, "cfg", 3, 0x0102030405060708ull, g, &e) == MS_OK, "%s", e.msg);
    sha256("cfg", 3, cfg);
    unsigned char m[17 + 4 + 2 + 4 + 3 + 32 + 8], *p = m;
    memcpy(p, "marlsim-ledger-v1", 17), p += 17;
    memcpy(p, "\0\0\0\2r1", 6), p += 6;
    memcpy(p, "\0\0\0\3cfg", 7), p += 7;
    memcpy(p, cfg, 32), p += 32;
    memcpy(p, "\1\2\3\4\5\6\7\10", 8), p += 8;
    sha256(m, (size_t)(p - m), g2);
    CHECK(memcmp(g, g2, 32) == 0, "genesis layout");
    lk_hasher_release(&h);
}

/* ---- tests: writer + verify ------------------------------------------- */

static void ledger_build_and_verify(void)
{
    char dir[64], db[128], head[65];
    ms_err e = {{0}};
    tdir_new(dir);
    path_in(db, sizeof db, dir, "a.db");
    build_opts o = defaults();
    CHECK(build(db, &o, head, &e) == MS_OK, "build: %s", e.msg);

    lake_verify_report r;
    int rc = lake_verify(db, NULL, &r, &e);
    CHECK(rc == MS_OK, "verify: %d %s", rc, e.msg);
    CHECK(r.rows[LKT_ENVIRONMENT_STATES] == 24 && r.rows[LKT_AGENT_OBSERVATIONS] == 72 &&
              r.rows[LKT_JOINT_ACTIONS] == 24 && r.rows[LKT_DI_CREDIT_ASSIGNMENT] == 72 &&
              r.rows[LKT_OPTIMIZER_STEPS] == 9 && r.rows[LKT_EVALUATIONS] == 3 &&
              r.rows[LKT_HMAC_KEYS] == 1 && r.rows[LKT_BEHAVIOUR_AGGREGATES] == 1,
          "counts %lld %lld", (long long)r.rows[0], (long long)r.rows[1]);
    /* 1 key + 6 steps x 4 + 3 updates x 5 + 1 aggregate + seal */
    CHECK(r.entries == 1 + 24 + 15 + 1 + 1, "entries %lld", (long long)r.entries);
    CHECK(r.complete == 1 && r.sealed == 1 && strcmp(r.status, "completed") == 0, "status %s",
          r.status);
    CHECK(strcmp(r.head, head) == 0, "head %s vs writer %s", r.head, head);
    CHECK(r.env_steps == 24, "env_steps %lld", (long long)r.env_steps);
    /* verify of a cleanly closed lake creates no -wal/-shm (never writes). */
    char side[160];
    snprintf(side, sizeof side, "%s-wal", db);
    CHECK(!file_exists(side), "verify left %s", side);
    snprintf(side, sizeof side, "%s-shm", db);
    CHECK(!file_exists(side), "verify left %s", side);

    /* The file is what the spec says it is. */
    CHECK(raw_int(db, "PRAGMA application_id") == LK_APPLICATION_ID, "application_id");
    CHECK(raw_int(db, "PRAGMA user_version") == LK_SCHEMA_VERSION, "user_version");
    sqlite3 *h;
    sqlite3_stmt *st;
    sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL);
    sqlite3_prepare_v2(h, "PRAGMA journal_mode", -1, &st, NULL);
    CHECK(sqlite3_step(st) == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0,
          "journal_mode wal");
    sqlite3_finalize(st);
    sqlite3_close(h);

    /* Views answer their questions. */
    CHECK(raw_int(db, "SELECT hits FROM v_rule_hits WHERE rule='threat_intel_block'") ==
              raw_int(db, "SELECT COUNT(*) FROM joint_actions WHERE rules <> '[]'"),
          "v_rule_hits");
    CHECK(raw_int(db, "SELECT SUM(n) FROM v_outcomes") == 24, "v_outcomes");
    CHECK(raw_int(db, "SELECT COUNT(*) FROM v_update_survival WHERE survived = 0") == 3,
          "update 2 (3 agents) was rolled back");
    CHECK(raw_int(db, "SELECT survived FROM v_update_survival WHERE update_id = 3 AND agent='BIN'") == 1,
          "update 3 survived");
    CHECK(raw_int(db, "SELECT samples FROM v_learning_curve WHERE update_id = 1 AND agent = 'OPEN'") == 8,
          "v_learning_curve");
    CHECK(raw_int(db, "SELECT COUNT(*) FROM v_credit_by_class") == 12, "v_credit_by_class");
    CHECK(raw_int(db, "SELECT COUNT(*) FROM v_gate_decisions WHERE decision='rolled_back'") == 1,
          "v_gate_decisions");
    CHECK(raw_int(db, "SELECT n FROM v_anomalies_by_reason WHERE reason='bad_mac'") == 3,
          "v_anomalies_by_reason");


    /* runs row reader */
    lake_run_meta m;
    CHECK(lake_read_run(db, &m, &e) == MS_OK, "%s", e.msg);
    CHECK(m.run_id && strcmp(m.run_id, "run-1") == 0 && m.seed == 7 && m.dev_key == 1 &&
              strcmp(m.config_text, config_text) == 0 && strcmp(m.status, "completed") == 0 &&
              strcmp(m.head_hash, head) == 0 && m.has_eval && m.eval_reward == 0.625 &&
              m.finished_at != NULL && strcmp(m.started_at, "2026-01-01T00:00:00Z") == 0,
          "run meta");
    lake_run_meta_release(&m);
    tdir_rm(dir);
}

static void ledger_values_round_trip(void)
{
    char dir[64], db[128];
    ms_err e = {{0}};
    lake_run_info in;
    char sha[65];
    lake *L;
    tdir_new(dir);
    path_in(db, sizeof db, dir, "v.db");
    make_info(&in, sha, "rt", UINT64_MAX); /* a seed above INT64_MAX */
    CHECK(lake_create(&L, db, &in, 0, &e) == MS_OK, "%s", e.msg);
    static const double reals[] = {-0.0, 3.0, 0.1, 1e300, -1e-300, 9007199254740993.0,
                                   4.9406564584124654e-324, DBL_MAX, -DBL_MAX, 2251799813685248.0,
                                   -2251799813685249.0, 1.0 / 3.0};
    const int nr = (int)(sizeof reals / sizeof reals[0]);
    lk_value v[16 * 9];
    for (int k = 0; k < nr; k++) {
        lk_value *r = v + k * 9;
        r[0] = lk_int(k == 0 ? INT64_MIN : k == 1 ? INT64_MAX : k);
        r[1] = lk_int(-k);
        r[2] = lk_textn("", 0);
        r[3] = lk_text(k % 2 ? "\xc3\xa9t\xc3\xa9" : "\xff\xfe not utf-8");
        r[4] = lk_int(0);
        r[5] = lk_int(0);
        r[6] = lk_int(0);
        r[7] = lk_real(reals[k]);
        r[8] = lk_real(-reals[k]);
    }
    CHECK(lake_append(L, LKT_BEHAVIOUR_AGGREGATES, 0, nr, v, &e) == MS_OK, "%s", e.msg);
    lk_value snap[6] = {lk_int(1), lk_null(), lk_null(), lk_text("GET"), lk_text(""),
                        lk_blob(NULL, 0)};
    unsigned char d[32];
    char dh[65];
    sha256("", 0, d);
    hex(d, 32, dh);
    snap[4] = lk_text(dh);
    CHECK(lake_append(L, LKT_POLICY_SNAPSHOTS, 0, 1, snap, &e) == MS_OK, "empty blob: %s", e.msg);
    CHECK(lake_finish(L, "completed", 0, 0, 0, &e) == MS_OK, "%s", e.msg);
    lake_close(L);
    lake_verify_report r;
    CHECK(lake_verify(db, NULL, &r, &e) == MS_OK, "round trip: %s", e.msg);
    CHECK(r.rows[LKT_BEHAVIOUR_AGGREGATES] == nr, "rows");
    lake_run_meta m;
    CHECK(lake_read_run(db, &m, &e) == MS_OK && m.seed == UINT64_MAX && !m.has_eval, "seed u64");
    lake_run_meta_release(&m);
    void *blob = NULL;
    size_t n = 99;
    char sh[65];
    CHECK(lake_read_snapshot(db, "GET", &blob, &n, sh, &e) == MS_OK && n == 0 &&
              strcmp(sh, dh) == 0,
          "empty snapshot: %s", e.msg);
    free(blob);
    tdir_rm(dir);
}

static void ledger_writer_rejects(void)
{
    char dir[64], db[128];
    ms_err e = {{0}};
    lake_run_info in;
    char sha[65];
    lake *L = NULL;
    tdir_new(dir);
    path_in(db, sizeof db, dir, "r.db");
    make_info(&in, sha, "rej", 1);

    lake_run_info bad = in;
    bad.config_sha256 = "00";
    CHECK(lake_create(&L, db, &bad, 0, &e) == MS_EINPUT && !L && !file_exists(db),
          "config hash mismatch");
    bad = in;
    bad.build_facts = "{not json";
    CHECK(lake_create(&L, db, &bad, 0, &e) == MS_EINPUT && !L && !file_exists(db), "bad JSON: %s",
          e.msg);
    bad = in;
    bad.synchronous = "sometimes";
    CHECK(lake_create(&L, db, &bad, 0, &e) == MS_EINPUT && strstr(e.msg, "normal"), "sync");

    CHECK(lake_create(&L, db, &in, 0, &e) == MS_OK, "%s", e.msg);
    CHECK(lake_begin(L, &e) == MS_OK, "%s", e.msg);
    lk_value pt[3] = {lk_int(0), lk_int(1), lk_text("replay")};
    CHECK(lake_append(L, LKT_POISON_TRUTH, 0, 1, pt, &e) == MS_OK, "%s", e.msg);
    char head_before[65];
    snprintf(head_before, sizeof head_before, "%s", lake_head_hex(L));

    /* Each rejection writes nothing and leaves the transaction usable. */
    lk_value ag[9] = {lk_int(0), lk_int(1), lk_text("GET"), lk_text("spam"), lk_int(1),
                      lk_int(1), lk_int(1), lk_real(NAN), lk_real(0)};
    CHECK(lake_append(L, LKT_BEHAVIOUR_AGGREGATES, 0, 1, ag, &e) == MS_EINPUT &&
              strstr(e.msg, "reward_sum") && strstr(e.msg, "finite"),
          "NaN: %s", e.msg);
    ag[7] = lk_real(INFINITY);
    CHECK(lake_append(L, LKT_BEHAVIOUR_AGGREGATES, 0, 1, ag, &e) == MS_EINPUT, "Inf");
    ag[7] = lk_int(3);
    CHECK(lake_append(L, LKT_BEHAVIOUR_AGGREGATES, 0, 1, ag, &e) == MS_EINPUT &&
              strstr(e.msg, "REAL"),
          "INTEGER in REAL column: %s", e.msg);
    ag[7] = lk_real(1);
    ag[2] = lk_null();
    CHECK(lake_append(L, LKT_BEHAVIOUR_AGGREGATES, 0, 1, ag, &e) == MS_EINPUT &&
              strstr(e.msg, "agent"),
          "NULL: %s", e.msg);
    ag[2] = lk_textn("G\0T", 3);
    CHECK(lake_append(L, LKT_BEHAVIOUR_AGGREGATES, 0, 1, ag, &e) == MS_EINPUT, "NUL in TEXT");
    ag[2] = lk_text("GET");
    lk_value two[18];
    memcpy(two, ag, sizeof ag);
    memcpy(two + 9, ag, sizeof ag);
    two[9 + 8] = lk_real(-NAN); /* a bad second row: the first must not be written either */
    CHECK(lake_append(L, LKT_BEHAVIOUR_AGGREGATES, 0, 2, two, &e) == MS_EINPUT, "row 2 NaN");
    unsigned char wrong[32] = {0};
    lk_value es[4] = {lk_int(0), lk_int(0), lk_text("{}"), lk_blob(wrong, 32)};
    CHECK(lake_append(L, LKT_ENVIRONMENT_STATES, 0, 1, es, &e) == MS_EINPUT &&
              strstr(e.msg, "sha256"),
          "bad digest: %s", e.msg);
    CHECK(lake_append(L, LKT_COUNT, 0, 1, pt, &e) == MS_EINPUT, "bad table");
    CHECK(lake_append(L, -1, 0, 1, pt, &e) == MS_EINPUT, "bad table");
    CHECK(lake_begin(L, &e) == MS_EINPUT, "nested begin");
    CHECK(lake_rows(L, LKT_BEHAVIOUR_AGGREGATES) == 0 && lake_rows(L, LKT_POISON_TRUTH) == 1,
          "nothing written");
    CHECK(strcmp(head_before, lake_head_hex(L)) == 0, "head unchanged");
    CHECK(lake_append(L, LKT_BEHAVIOUR_AGGREGATES, 0, 2, two, &e) == MS_EINPUT, "again");
    CHECK(lake_append(L, LKT_BEHAVIOUR_AGGREGATES, 0, 1, ag, &e) == MS_OK, "still usable: %s",
          e.msg);
    CHECK(lake_append(L, LKT_BEHAVIOUR_AGGREGATES, 0, 0, NULL, &e) == MS_OK, "0 rows no-op");
    CHECK(lake_commit(L, &e) == MS_OK, "%s", e.msg);
    CHECK(lake_commit(L, &e) == MS_EINPUT, "commit without begin");
    CHECK(lake_finish(L, "running", 0, 0, 0, &e) == MS_EINPUT, "finish running");
    CHECK(lake_finish(L, "completed", 0, NAN, 1, &e) == MS_EINPUT, "finish NaN");
    CHECK(lake_finish(L, "failed", 0, 0, 0, &e) == MS_OK, "%s", e.msg);
    CHECK(lake_append(L, LKT_POISON_TRUTH, 0, 1, pt, &e) == MS_EINPUT, "append after finish");
    CHECK(lake_finish(L, "completed", 0, 0, 0, &e) == MS_EINPUT, "finish twice");
    lake_close(L);

    lake_verify_report r;
    CHECK(lake_verify(db, NULL, &r, &e) == MS_OK, "%s", e.msg);
    CHECK(r.rows[LKT_BEHAVIOUR_AGGREGATES] == 1 && r.complete == 0 && r.sealed &&
              strcmp(r.status, "failed") == 0,
          "failed run verifies as an incomplete prefix");

    /* Existing files are refused unless overwrite. */
    L = NULL;
    CHECK(lake_create(&L, db, &in, 0, &e) == MS_EINPUT && !L && strstr(e.msg, "exists"),
          "existing: %s", e.msg);
    char wal[160];
    snprintf(wal, sizeof wal, "%s2-wal", db);
    write_file(wal, "x", 1);
    char db2[160];
    snprintf(db2, sizeof db2, "%s2", db);
    CHECK(lake_create(&L, db2, &in, 0, &e) == MS_EINPUT && !L, "stale -wal: %s", e.msg);
    CHECK(lake_create(&L, db, &in, 1, &e) == MS_OK, "overwrite: %s", e.msg);
    lake_close(L);
    CHECK(lake_verify(db, NULL, &r, &e) == MS_OK && r.total_rows == 0 && r.entries == 0 &&
              strcmp(r.status, "running") == 0 && !r.complete,
          "fresh overwritten lake: %s", e.msg);
    tdir_rm(dir);
}

static void ledger_triggers_refuse(void)
{
    char dir[64], db[128], msg[256];
    ms_err e = {{0}};
    tdir_new(dir);
    path_in(db, sizeof db, dir, "t.db");
    build_opts o = defaults();
    CHECK(build(db, &o, NULL, &e) == MS_OK, "%s", e.msg);
    for (int t = 0; t < LKT_COUNT; t++) {
        char q[160];
        snprintf(q, sizeof q, "UPDATE %s SET rowid = rowid", lk_tables[t].name);
        int rc = raw_exec(db, q, msg, sizeof msg);
        CHECK(rc == SQLITE_CONSTRAINT && strstr(msg, "append-only"), "%s update: %d %s",
              lk_tables[t].name, rc, msg);
        snprintf(q, sizeof q, "DELETE FROM %s", lk_tables[t].name);
        rc = raw_exec(db, q, msg, sizeof msg);
        CHECK(rc == SQLITE_CONSTRAINT && strstr(msg, lk_tables[t].name), "%s delete: %d %s",
              lk_tables[t].name, rc, msg);
    }
    CHECK(raw_exec(db, "DELETE FROM ledger", msg, sizeof msg) == SQLITE_CONSTRAINT, "ledger");
    CHECK(raw_exec(db, "UPDATE runs SET status = 'bogus'", msg, sizeof msg) == SQLITE_CONSTRAINT,
          "status CHECK");
    CHECK(lake_verify(db, NULL, NULL, &e) == MS_OK, "still intact: %s", e.msg);
    tdir_rm(dir);
}

/* ---- tests: tampering ------------------------------------------------- */

typedef struct tamper_case {
    const char *name;
    const char *table; /* for tamper_rows; NULL = plain SQL */
    const char *sql;
    int status;        /* expected */
    const char *msg1, *msg2; /* substrings the message must hold */
} tamper_case;

static void ledger_tampering(void)
{
    static const tamper_case cases[] = {
        {"edit a broadcast", "environment_states",
         "UPDATE environment_states SET broadcast = replace(broadcast, 'k1', 'k2') "
         "WHERE step = 2 AND env = 1",
         MS_ECHECK, "environment_states step 2 env 1", "sha256 column differs"},
        {"edit a broadcast and its sha256", "environment_states",
         "UPDATE environment_states SET broadcast = '{}', sha256 = "
         "X'44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a' "
         "WHERE step = 2 AND env = 1",
         MS_ECHECK, "environment_states step 2", "hash differs"},
        {"edit a reward", "joint_actions",
         "UPDATE joint_actions SET reward = reward + 1 WHERE step = 3 AND env = 2", MS_ECHECK,
         "joint_actions step 3", "hash differs"},
        {"edit a NULL update_id", "di_credit_assignment",
         "UPDATE di_credit_assignment SET update_id = 9 WHERE update_id IS NULL AND rowid = "
         "(SELECT MIN(rowid) FROM di_credit_assignment WHERE update_id IS NULL)",
         MS_ECHECK, "di_credit_assignment step 5", "hash differs"},
        {"edit a ledger hash", "ledger",
         "UPDATE ledger SET hash = zeroblob(32) WHERE seq = 10", MS_ECHECK, "ledger seq 10",
         "hash differs"},
        {"delete a row, triggers left dropped", NULL,
         "DROP TRIGGER agent_observations_no_delete; DELETE FROM agent_observations WHERE rowid = 5",
         MS_ECHECK, "schema", "agent_observations_no_delete is missing"},
        {"delete a row, triggers restored", "agent_observations",
         "DELETE FROM agent_observations WHERE rowid = 17", MS_ECHECK,
         "agent_observations step 1", "rowid 17"},
        {"insert a row", NULL,
         "INSERT INTO agent_observations VALUES (5, 0, 'GET', 1, '[0]')", MS_ECHECK,
         "agent_observations: 73 rows, ledger covers 72", NULL},
        {"swap two rows", "joint_actions",
         "CREATE TEMP TABLE x AS SELECT * FROM joint_actions WHERE rowid IN (5, 6);"
         "UPDATE joint_actions SET (step, env, class, a_get, a_open, a_bin, p_get, p_open, p_bin,"
         " e_get, e_open, e_bin, outcome, rules, reward, reward_raw) = (SELECT * FROM x WHERE "
         "x.env <> joint_actions.env) WHERE rowid IN (5, 6)",
         MS_ECHECK, "joint_actions step 1", "hash differs"},
        {"replace a table by a view", NULL,
         "DROP TABLE anomalies; CREATE VIEW anomalies AS SELECT 1 AS step, 1 AS env, "
         "'GET' AS agent, 'x' AS detector, 'y' AS reason, NULL AS detail",
         MS_ECHECK, "anomalies is a view", NULL},
        {"add a trigger", NULL,
         "CREATE TRIGGER sneaky AFTER INSERT ON joint_actions BEGIN SELECT 1; END", MS_ECHECK,
         "unexpected trigger sneaky", "joint_actions"},
        {"change config_text", NULL, "UPDATE runs SET config_text = config_text || ' '",
         MS_ECHECK, "runs", "config_sha256"},
        {"change config_text and its hash", NULL,
         "UPDATE runs SET config_text = 'x', config_sha256 = "
         "'2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881'",
         MS_ECHECK, "runs", "genesis"},
        {"change the seed", NULL, "UPDATE runs SET seed = 8", MS_ECHECK, "runs", "genesis"},
        {"change the status of a finished run", NULL, "UPDATE runs SET status = 'interrupted'",
         MS_ECHECK, "runs seal", "hash differs"},
        {"change the final reward", NULL, "UPDATE runs SET eval_reward_per_step = 9",
         MS_ECHECK, "runs seal", NULL},
        {"remove the seal", "ledger", "DELETE FROM ledger WHERE tbl = 'runs'", MS_ECHECK,
         "status is 'completed'", "no seal"},
        {"renumber a ledger entry", "ledger", "UPDATE ledger SET seq = 1000 WHERE seq = 7",
         MS_ECHECK, "ledger", "seq 8"},
        {"edit snapshot params", "policy_snapshots",
         "UPDATE policy_snapshots SET params = zeroblob(40) WHERE rowid = 2", MS_ECHECK,
         "policy_snapshots", "sha256 column differs"},
        {"move a range", "ledger", "UPDATE ledger SET first_rowid = first_rowid + 1 WHERE seq = 4",
         MS_ECHECK, "ledger seq 4", "contiguous"},
        {"edit head_hash", NULL, "UPDATE runs SET head_hash = genesis", MS_ECHECK,
         "runs: head_hash", "last entry"},
        {"edit ledger_rows", NULL, "UPDATE runs SET ledger_rows = ledger_rows + 1", MS_ECHECK,
         "runs: ledger_rows says 43", "holds 42"},
        {"edit row_counts", NULL,
         "UPDATE runs SET row_counts = replace(row_counts, '\"poison_truth\":3', "
         "'\"poison_truth\":2')",
         MS_ECHECK, "row_counts says poison_truth has 2", NULL},
    };
    char dir[64], base[128], db[128];
    ms_err e = {{0}};
    tdir_new(dir);
    path_in(base, sizeof base, dir, "base.db");
    path_in(db, sizeof db, dir, "t.db");
    build_opts o = defaults();
    CHECK(build(base, &o, NULL, &e) == MS_OK, "%s", e.msg);
    CHECK(lake_verify(base, NULL, NULL, &e) == MS_OK, "base: %s", e.msg);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const tamper_case *c = &cases[k];
        unlink(db);
        CHECK(copy_file(base, db) == 0, "copy");
        int trc = c->table ? tamper_rows(db, c->table, c->sql) : raw_exec(db, c->sql, NULL, 0);
        CHECK(trc == 0, "%s: the tampering itself failed", c->name);
        lake_verify_report r;
        memset(&e, 0, sizeof e);
        int rc = lake_verify(db, NULL, &r, &e);
        CHECK(rc == c->status, "%s: rc %d (%s)", c->name, rc, e.msg);
        CHECK(c->msg1 == NULL || strstr(e.msg, c->msg1), "%s: message '%s' lacks '%s'", c->name,
              e.msg, c->msg1);
        CHECK(c->msg2 == NULL || strstr(e.msg, c->msg2), "%s: message '%s' lacks '%s'", c->name,
              e.msg, c->msg2);
        CHECK(rc == MS_OK || r.table[0], "%s: report names no table", c->name);
    }
    /* Snapshot reader refuses a tampered snapshot too. */
    unlink(db);
    copy_file(base, db);
    tamper_rows(db, "policy_snapshots",
                "UPDATE policy_snapshots SET params = zeroblob(40) WHERE agent = 'OPEN'");
    void *blob = NULL;
    size_t n = 0;
    char sh[65];
    CHECK(lake_read_snapshot(db, "OPEN", &blob, &n, sh, &e) == MS_ECHECK && !blob,
          "tampered snapshot: %s", e.msg);
    CHECK(lake_read_snapshot(base, "OPEN", &blob, &n, sh, &e) == MS_OK && n == 40 &&
              ((unsigned char *)blob)[0] == 3 * 3 + 1,
          "latest promoted snapshot is update 3's: %s", e.msg);
    free(blob);
    blob = NULL;
    CHECK(lake_read_snapshot(base, "NOBODY", &blob, &n, sh, &e) == MS_EINPUT && !blob, "no snap");
    tdir_rm(dir);
}

/* The tail of an unfinished run: what a chain can and cannot see. */
static void ledger_tail_removal(void)
{
    char dir[64], base[128], db[128];
    ms_err e = {{0}};
    tdir_new(dir);
    path_in(base, sizeof base, dir, "base.db");
    path_in(db, sizeof db, dir, "t.db");
    build_opts o = defaults();
    o.finish = NULL; /* a run that crashed: status running, no seal */
    CHECK(build(base, &o, NULL, &e) == MS_OK, "%s", e.msg);
    lake_verify_report r0, r;
    CHECK(lake_verify(base, NULL, &r0, &e) == MS_OK && !r0.complete && !r0.sealed, "base: %s", e.msg);

    /* Last entry (behaviour_aggregates) and its row removed, runs left alone. */
    static const char del[] =
        "DROP TRIGGER ledger_no_delete; DROP TRIGGER behaviour_aggregates_no_delete;"
        "DELETE FROM behaviour_aggregates; DELETE FROM ledger WHERE seq = (SELECT MAX(seq) FROM ledger);";
    copy_file(base, db);
    char fix[1024];
    char sqlbuf[2048];
    snprintf(sqlbuf, sizeof sqlbuf, "%s", del);
    CHECK(raw_exec(db, sqlbuf, NULL, 0) == 0, "tamper");
    /* restore triggers from the base's text */
    sqlite3 *h;
    sqlite3_stmt *st;
    sqlite3_open_v2(base, &h, SQLITE_OPEN_READONLY, NULL);
    sqlite3_prepare_v2(h,
                       "SELECT group_concat(sql, '; ') FROM sqlite_schema WHERE name IN "
                       "('ledger_no_delete', 'behaviour_aggregates_no_delete')",
                       -1, &st, NULL);
    sqlite3_step(st);
    snprintf(fix, sizeof fix, "%s;", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(h);
    CHECK(raw_exec(db, fix, NULL, 0) == 0, "restore triggers");
    int rc = lake_verify(db, NULL, &r, &e);
    CHECK(rc == MS_ECHECK && strstr(e.msg, "runs") && strstr(e.msg, "tail"),
          "tail removed, runs left: %d %s", rc, e.msg);

    /* Also rewrite runs' head and counts: indistinguishable from a run that
     * crashed one commit earlier. A chain cannot catch this (SPEC §5: the
     * external checkpoint does); assert exactly that limit. */
    snprintf(sqlbuf, sizeof sqlbuf,
             "UPDATE runs SET ledger_rows = ledger_rows - 1, head_hash = (SELECT lower(hex(hash)) "
             "FROM ledger ORDER BY seq DESC LIMIT 1), row_counts = replace(row_counts, "
             "'\"behaviour_aggregates\":1', '\"behaviour_aggregates\":0')");
    CHECK(raw_exec(db, sqlbuf, NULL, 0) == 0, "fix runs");
    rc = lake_verify(db, NULL, &r, &e);
    CHECK(rc == MS_OK && r.entries == r0.entries - 1 && r.rows[LKT_BEHAVIOUR_AGGREGATES] == 0,
          "undetectable without a checkpoint: %d %s", rc, e.msg);
    /* ...but claiming the shortened run completed is caught (no seal). */
    CHECK(raw_exec(db, "UPDATE runs SET status = 'completed'", NULL, 0) == 0, "status");
    CHECK(lake_verify(db, NULL, &r, &e) == MS_ECHECK && strstr(e.msg, "no seal"), "%s", e.msg);
    tdir_rm(dir);
}

/* ---- tests: hostile files --------------------------------------------- */

static void expect_unreadable(const char *path, const char *what, const char *needle)
{
    ms_err e = {{0}};
    lake_verify_report r;
    int rc = lake_verify(path, NULL, &r, &e);
    CHECK(rc == MS_EINPUT, "%s: verify rc %d (%s)", what, rc, e.msg);
    CHECK(!needle || strstr(e.msg, needle), "%s: '%s' lacks '%s'", what, e.msg, needle);
    lake_run_meta m;
    CHECK(lake_read_run(path, &m, &e) == MS_EINPUT, "%s: read_run", what);
    lake_diff_report d;
    CHECK(lake_diff(path, path, 0, &d, &e) == MS_EINPUT, "%s: diff", what);
    void *b = NULL;
    size_t n;
    char sh[65];
    CHECK(lake_read_snapshot(path, "GET", &b, &n, sh, &e) == MS_EINPUT && !b, "%s: snapshot", what);
}

static void ledger_hostile_files(void)
{
    char dir[64], p[128], lake_db[128];
    ms_err e = {{0}};
    tdir_new(dir);

    path_in(p, sizeof p, dir, "missing.db");
    expect_unreadable(p, "missing file", "no such file");
    expect_unreadable(dir, "a directory", "not a regular file");
    path_in(p, sizeof p, dir, "empty.db");
    write_file(p, "", 0);
    expect_unreadable(p, "empty file", "empty");
    path_in(p, sizeof p, dir, "random.db");
    unsigned char rnd[8192];
    uint64_t x = 88172645463325252ull;
    for (size_t k = 0; k < sizeof rnd; k++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        rnd[k] = (unsigned char)x;
    }
    write_file(p, rnd, sizeof rnd);
    expect_unreadable(p, "random bytes", "not an SQLite database");
    path_in(p, sizeof p, dir, "text.db");
    const char *txt = "[run]\nname = not a lake\n";
    write_file(p, txt, strlen(txt));
    expect_unreadable(p, "text file", "not an SQLite database");

    path_in(p, sizeof p, dir, "other.db");
    CHECK(raw_exec(p, "", NULL, 0) != 0, "raw_exec does not create files");
    sqlite3 *h;
    sqlite3_open(p, &h);
    sqlite3_exec(h, "CREATE TABLE t(x); INSERT INTO t VALUES (1);", NULL, NULL, NULL);
    sqlite3_close(h);
    expect_unreadable(p, "an SQLite db that is not a lake", "not a marlsim lake");

    path_in(lake_db, sizeof lake_db, dir, "lake.db");
    build_opts o = defaults();
    CHECK(build(lake_db, &o, NULL, &e) == MS_OK, "%s", e.msg);

    path_in(p, sizeof p, dir, "v2.db");
    copy_file(lake_db, p);
    raw_exec(p, "PRAGMA user_version = 2", NULL, 0);
    expect_unreadable(p, "user_version 2", "unsupported lake schema version 2");
    path_in(p, sizeof p, dir, "app.db");
    copy_file(lake_db, p);
    raw_exec(p, "PRAGMA application_id = 42", NULL, 0);
    expect_unreadable(p, "wrong application_id", "not a marlsim lake");

    /* truncations */
    size_t n;
    unsigned char *all = read_file(lake_db, &n);
    CHECK(all && n > 8192, "lake size %zu", n);
    size_t cuts[] = {50, 100, 4096, n / 2, n - 4096, n - 1};
    for (size_t k = 0; all && k < sizeof cuts / sizeof cuts[0]; k++) {
        char what[64];
        snprintf(what, sizeof what, "truncated to %zu of %zu bytes", cuts[k], n);
        path_in(p, sizeof p, dir, "cut.db");
        unlink(p);
        write_file(p, all, cuts[k]);
        expect_unreadable(p, what, NULL);
    }
    /* Garbage over the start of any page but the first: anything but a
     * crash or an OK (free space inside a page may legitimately hold any
     * bytes, so only page headers are garbled). */
    size_t psz = all ? (size_t)all[16] << 8 | all[17] : 4096;
    CHECK(psz >= 512 && n % psz == 0, "page size %zu", psz);
    for (size_t off = psz; all && off + psz <= n; off += psz) {
        unsigned char *bad = malloc(n);
        memcpy(bad, all, n);
        memcpy(bad + off, rnd, 512);
        path_in(p, sizeof p, dir, "garbled.db");
        unlink(p);
        write_file(p, bad, n);
        free(bad);
        int rc = lake_verify(p, NULL, NULL, &e);
        CHECK(rc == MS_EINPUT || rc == MS_ECHECK, "garbled page at %zu: rc %d (%s)", off, rc, e.msg);
    }
    free(all);
    tdir_rm(dir);
}

/* ---- tests: determinism and diff -------------------------------------- */

static void ledger_determinism_and_diff(void)
{
    char dir[64], a[128], b[128], c[128], h1[65], h2[65], h3[65];
    ms_err e = {{0}};
    lake_diff_report d;
    tdir_new(dir);
    path_in(a, sizeof a, dir, "a.db");
    path_in(b, sizeof b, dir, "b.db");
    path_in(c, sizeof c, dir, "c.db");
    build_opts o = defaults();
    CHECK(build(a, &o, h1, &e) == MS_OK, "%s", e.msg);
    o.tx_every = 3; /* transaction boundaries are not part of the ledger */
    CHECK(build(b, &o, h2, &e) == MS_OK, "%s", e.msg);
    CHECK(strcmp(h1, h2) == 0, "same inputs, same head: %s vs %s", h1, h2);
    CHECK(lake_diff(a, b, 0, &d, &e) == MS_OK && d.identical && d.same_genesis &&
              d.entries_a == d.entries_b && d.entries_a > 40,
          "identical: %s %s", e.msg, d.what);

    /* different run id: different chain, same content */
    o = defaults();
    o.run_id = "run-2";
    CHECK(build(c, &o, h3, &e) == MS_OK, "%s", e.msg);
    CHECK(strcmp(h1, h3) != 0, "run id enters the chain");
    CHECK(lake_diff(a, c, 0, &d, &e) == MS_OK && !d.same_genesis, "%s", e.msg);
    CHECK(!d.identical && strcmp(d.table, "runs") == 0 && strstr(d.what, "run_id"),
          "only the seal differs: %s", d.what);

    struct {
        int table, step, env;
        const char *tname, *agent, *column;
    } tw[] = {
        {LKT_JOINT_ACTIONS, 3, 2, "joint_actions", "", "reward"},
        {LKT_DI_CREDIT_ASSIGNMENT, 4, 1, "di_credit_assignment", "OPEN", "credit"},
        {LKT_ENVIRONMENT_STATES, 0, 3, "environment_states", "", "broadcast"},
    };
    for (int k = 0; k < 3; k++) {
        unlink(c);
        o = defaults();
        o.tweak_table = tw[k].table;
        o.tweak_step = tw[k].step;
        o.tweak_env = tw[k].env;
        CHECK(build(c, &o, h3, &e) == MS_OK, "%s", e.msg);
        CHECK(strcmp(h1, h3) != 0, "%s: tweak changes the head", tw[k].tname);
        int rc = lake_diff(a, c, 0, &d, &e);
        CHECK(rc == MS_OK && !d.identical && d.same_genesis, "%s: rc %d %s", tw[k].tname, rc, e.msg);
        CHECK(strcmp(d.table, tw[k].tname) == 0 && d.step == tw[k].step && d.env == tw[k].env &&
                  strcmp(d.agent, tw[k].agent) == 0 && strstr(d.what, tw[k].column),
              "%s: first divergent row: table %s step %lld env %lld agent '%s' (%s)", tw[k].tname,
              d.table, (long long)d.step, (long long)d.env, d.agent, d.what);
        CHECK(d.seq > 0, "seq");
    }

    /* a longer run: different entries from where they part */
    unlink(c);
    o = defaults();
    o.steps = 8;
    CHECK(build(c, &o, NULL, &e) == MS_OK, "%s", e.msg);
    CHECK(lake_diff(a, c, 0, &d, &e) == MS_OK && !d.identical, "%s", e.msg);
    /* (the last step's credit rows have no update in the shorter run) */
    CHECK(strcmp(d.table, "di_credit_assignment") == 0 && d.step == 5 && d.env == 0 &&
              strcmp(d.agent, "GET") == 0 && strstr(d.what, "update_id"),
          "%s: %s", d.table, d.what);
    /* an unfinished copy is a strict prefix: entry-count difference */
    unlink(c);
    o = defaults();
    o.finish = NULL;
    CHECK(build(c, &o, NULL, &e) == MS_OK, "%s", e.msg);
    CHECK(lake_diff(a, c, 0, &d, &e) == MS_OK && !d.identical && d.entries_a == d.entries_b + 1 &&
              strcmp(d.table, "runs") == 0 && strstr(d.what, "entry-count"),
          "%lld vs %lld: %s", (long long)d.entries_a, (long long)d.entries_b, d.what);
    CHECK(lake_diff(c, c, 0, &d, &e) == MS_OK && d.identical, "self: %s", d.what);
    /* ... which prefix mode accepts as an identical prefix, in that order only */
    CHECK(lake_diff(c, a, LAKE_DIFF_PREFIX, &d, &e) == MS_OK && d.identical && d.prefix &&
              d.entries_b == d.entries_a + 1,
          "prefix: %s (%lld of %lld)", d.what, (long long)d.entries_a, (long long)d.entries_b);
    CHECK(lake_diff(a, c, LAKE_DIFF_PREFIX, &d, &e) == MS_OK && d.identical && !d.prefix,
          "a finished run without its seal is the unfinished one: %s", d.what);
    /* a failed run's seal ends its prefix; a tweak inside the prefix is still found */
    unlink(c);
    o = defaults();
    o.finish = "failed";
    CHECK(build(c, &o, NULL, &e) == MS_OK, "%s", e.msg);
    CHECK(lake_diff(c, a, LAKE_DIFF_PREFIX, &d, &e) == MS_OK && d.identical, "failed prefix: %s", d.what);
    CHECK(lake_diff(c, a, 0, &d, &e) == MS_OK && !d.identical && strstr(d.what, "status"),
          "without prefix mode the seals differ: %s", d.what);
    unlink(c);
    o = defaults();
    o.finish = NULL;
    o.tweak_table = LKT_JOINT_ACTIONS;
    o.tweak_step = 2;
    o.tweak_env = 1;
    CHECK(build(c, &o, NULL, &e) == MS_OK, "%s", e.msg);
    CHECK(lake_diff(c, a, LAKE_DIFF_PREFIX, &d, &e) == MS_OK && !d.identical && d.step == 2 && d.env == 1,
          "divergent prefix: %s", d.what);
    /* another build of the same run: the same run (only the head differs) */
    unlink(c);
    o = defaults();
    o.build_facts = "{\"cc\":\"clang\",\"sqlite\":\"3.46.0\"}";
    CHECK(build(c, &o, h3, &e) == MS_OK, "%s", e.msg);
    CHECK(strcmp(h1, h3) != 0, "build facts are sealed");
    CHECK(lake_diff(a, c, 0, &d, &e) == MS_OK && d.identical, "build facts are not the run: %s", d.what);
    tdir_rm(dir);
}

/* ---- tests: crash safety ---------------------------------------------- */

static void ledger_crash_leaves_prefix(void)
{
    char dir[64], db[128], wal[160];
    ms_err e = {{0}};
    tdir_new(dir);
    path_in(db, sizeof db, dir, "crash.db");
    snprintf(wal, sizeof wal, "%s-wal", db);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        /* child: two committed transactions, a third in flight, then SIGKILL */
        build_opts o = defaults();
        lake_run_info in;
        char sha[65];
        lake *L;
        make_info(&in, sha, "crash", 3);
        if (lake_create(&L, db, &in, 0, &e))
            _exit(3);
        for (int s = 0; s < 5; s++) {
            if (s % 2 == 0 && lake_begin(L, &e))
                _exit(4);
            if (append_step(L, &o, s, &e))
                _exit(5);
            if (s % 2 == 1 && lake_commit(L, &e))
                _exit(6);
        }
        kill(getpid(), SIGKILL); /* step 4 appended, not committed */
        _exit(7);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid, "fork/wait");
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child died by SIGKILL (status %d)",
          status);
    CHECK(file_exists(wal) && file_size(wal) > 0, "a -wal file holds the committed frames");
    size_t n0, w0, n1, w1;
    unsigned char *m0 = read_file(db, &n0), *x0 = read_file(wal, &w0);
    lake_verify_report r;
    int rc = lake_verify(db, NULL, &r, &e);
    CHECK(rc == MS_OK, "crashed lake verifies: %d %s", rc, e.msg);
    CHECK(r.complete == 0 && r.sealed == 0 && strcmp(r.status, "running") == 0, "status %s",
          r.status);
    CHECK(r.rows[LKT_ENVIRONMENT_STATES] == 4 * 4 && r.rows[LKT_AGENT_OBSERVATIONS] == 4 * 12 &&
              r.rows[LKT_DI_CREDIT_ASSIGNMENT] == 4 * 12 && r.entries == 16,
          "the committed prefix: %lld states, %lld entries", (long long)r.rows[0],
          (long long)r.entries);
    unsigned char *m1 = read_file(db, &n1), *x1 = read_file(wal, &w1);
    CHECK(m0 && m1 && x0 && x1 && n0 == n1 && w0 == w1 && !memcmp(m0, m1, n0) &&
              !memcmp(x0, x1, w0),
          "verify wrote nothing to the lake or its WAL");
    free(m0), free(m1), free(x0), free(x1);
    lake_run_meta m;
    CHECK(lake_read_run(db, &m, &e) == MS_OK && strcmp(m.status, "running") == 0 &&
              m.ledger_rows == 16 && strcmp(m.head_hash, r.head) == 0,
          "read_run of a crashed lake: %s", e.msg);
    lake_run_meta_release(&m);
    tdir_rm(dir);
}

static void ledger_reader_during_live_run(void)
{
    char dir[64], db[128];
    ms_err e = {{0}};
    lake_run_info in;
    char sha[65];
    lake *L;
    tdir_new(dir);
    path_in(db, sizeof db, dir, "live.db");
    make_info(&in, sha, "live", 5);
    in.synchronous = "off";
    CHECK(lake_create(&L, db, &in, 0, &e) == MS_OK, "%s", e.msg);
    build_opts o = defaults();
    CHECK(lake_begin(L, &e) == MS_OK && append_step(L, &o, 0, &e) == MS_OK &&
              lake_commit(L, &e) == MS_OK,
          "%s", e.msg);
    CHECK(lake_begin(L, &e) == MS_OK && append_step(L, &o, 1, &e) == MS_OK, "%s", e.msg);
    lake_verify_report r;
    CHECK(lake_verify(db, NULL, &r, &e) == MS_OK && r.rows[LKT_JOINT_ACTIONS] == 4 && r.entries == 4,
          "reader sees the committed prefix only: %s", e.msg);
    CHECK(lake_commit(L, &e) == MS_OK, "%s", e.msg);
    CHECK(lake_verify(db, NULL, &r, &e) == MS_OK && r.rows[LKT_JOINT_ACTIONS] == 8 &&
              strcmp(r.head, lake_head_hex(L)) == 0,
          "then the next commit: %s", e.msg);
    CHECK(lake_finish(L, "interrupted", 8, 0, 0, &e) == MS_OK, "%s", e.msg);
    lake_close(L);
    CHECK(lake_verify(db, NULL, &r, &e) == MS_OK && r.sealed && !r.complete &&
              strcmp(r.status, "interrupted") == 0,
          "interrupted: %s", e.msg);
    tdir_rm(dir);
}

/* An SQLite failure mid-transaction (forced with a trigger another
 * connection adds): the transaction is rolled back, the handle refuses
 * further appends, and lake_finish still seals the committed prefix. */
static void ledger_failure_mid_transaction(void)
{
    char dir[64], db[128];
    ms_err e = {{0}};
    lake_run_info in;
    char sha[65];
    lake *L;
    tdir_new(dir);
    path_in(db, sizeof db, dir, "fail.db");
    make_info(&in, sha, "fail", 9);
    CHECK(lake_create(&L, db, &in, 0, &e) == MS_OK, "%s", e.msg);
    build_opts o = defaults();
    CHECK(lake_begin(L, &e) == MS_OK && append_step(L, &o, 0, &e) == MS_OK &&
              append_step(L, &o, 1, &e) == MS_OK && lake_commit(L, &e) == MS_OK,
          "%s", e.msg);
    char committed_head[65];
    snprintf(committed_head, sizeof committed_head, "%s", lake_head_hex(L));
    CHECK(raw_exec(db,
                   "CREATE TRIGGER boom BEFORE INSERT ON joint_actions WHEN NEW.step = 3 "
                   "BEGIN SELECT RAISE(ABORT, 'boom'); END",
                   NULL, 0) == SQLITE_OK,
          "add trigger");
    CHECK(lake_begin(L, &e) == MS_OK && append_step(L, &o, 2, &e) == MS_OK, "%s", e.msg);
    int rc = append_step(L, &o, 3, &e);
    CHECK(rc == MS_EIO && strstr(e.msg, "boom"), "forced failure: %d %s", rc, e.msg);
    CHECK(lake_rows(L, LKT_ENVIRONMENT_STATES) == 8 && lake_rows(L, LKT_JOINT_ACTIONS) == 8,
          "state restored to the last commit (%lld)", (long long)lake_rows(L, LKT_ENVIRONMENT_STATES));
    CHECK(strcmp(lake_head_hex(L), committed_head) == 0, "head back to the last commit");
    lk_value pt[3] = {lk_int(0), lk_int(1), lk_text("replay")};
    CHECK(lake_append(L, LKT_POISON_TRUTH, 0, 1, pt, &e) == MS_EIO, "append after failure");
    CHECK(lake_begin(L, &e) == MS_EIO && lake_commit(L, &e) == MS_EIO, "begin/commit refused");
    CHECK(lake_finish(L, "failed", 8, 0, 0, &e) == MS_OK, "finish after failure: %s", e.msg);
    lake_close(L);
    CHECK(lake_verify(db, NULL, NULL, &e) == MS_ECHECK && strstr(e.msg, "unexpected trigger boom"),
          "the foreign trigger is flagged: %s", e.msg);
    CHECK(raw_exec(db, "DROP TRIGGER boom", NULL, 0) == SQLITE_OK, "drop trigger");
    lake_verify_report r;
    CHECK(lake_verify(db, NULL, &r, &e) == MS_OK, "committed prefix + seal verify: %s", e.msg);
    CHECK(r.rows[LKT_ENVIRONMENT_STATES] == 8 && r.rows[LKT_JOINT_ACTIONS] == 8 && r.entries == 9 &&
              r.sealed && strcmp(r.status, "failed") == 0,
          "rows %lld entries %lld", (long long)r.rows[0], (long long)r.entries);
    tdir_rm(dir);
}

void suite_ledger(void)
{
    RUN(ledger_schema_matches_spec);
    RUN(ledger_canonical_bytes);
    RUN(ledger_build_and_verify);
    RUN(ledger_values_round_trip);
    RUN(ledger_writer_rejects);
    RUN(ledger_triggers_refuse);
    RUN(ledger_tampering);
    RUN(ledger_tail_removal);
    RUN(ledger_hostile_files);
    RUN(ledger_determinism_and_diff);
    RUN(ledger_crash_leaves_prefix);
    RUN(ledger_reader_during_live_run);
    RUN(ledger_failure_mid_transaction);
}
