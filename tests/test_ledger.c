/* test_ledger.c — the telemetry lake (schema v4): schema, canonical bytes,
 * writer, verifier (incl. tampering and hostile files), diff, crash safety;
 * then salted commitments, signed checkpoints, the re-chain attack, external
 * checkpoints, the policy reader, and that reading a lake writes nothing.
 *
 * The attacker of these tests has the lake file and the source: it drops and
 * restores the append-only triggers (with their original text, so the schema
 * check passes), edits rows, recomputes commitments and re-chains every
 * later entry hash from canon.h's layout, and may re-sign checkpoints with
 * its own key. What must still catch it is stated per test. */
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
#include <openssl/hmac.h>
#include <sqlite3.h>

#include "base/b64.h"
#include "base/hmac.h"
#include "ledger/canon.h"
#include "ledger/lake.h"
#include "ledger/merkle.h"
#include "ledger/note.h"
#include "ledger/schema.h"
#include "ledger/verify.h"
#include "tests/check.h"

/* ---- scratch directories and files -------------------------------------- */

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

static int append_file(const char *p, const void *data, size_t n)
{
    FILE *f = fopen(p, "ab");
    if (!f)
        return -1;
    size_t w = fwrite(data, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

static unsigned char *read_file(const char *p, size_t *n)
{
    FILE *f = fopen(p, "rb");
    *n = 0;
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(sz > 0 ? (size_t)sz + 1 : 1);
    *n = b ? fread(b, 1, (size_t)sz, f) : 0;
    if (b)
        b[*n] = 0;
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

/* Copies a lake (and its -wal, when there is one) to path `to`. */
static int copy_lake(const char *from, const char *to)
{
    char fw[256], tw[256];
    snprintf(fw, sizeof fw, "%s-wal", from);
    snprintf(tw, sizeof tw, "%s-wal", to);
    unlink(to);
    unlink(tw);
    if (copy_file(from, to))
        return -1;
    return file_exists(fw) ? copy_file(fw, tw) : 0;
}

/* ---- independent primitives (straight libcrypto, not ledger/) ------------ */

static void sha256(const void *p, size_t n, unsigned char out[32])
{
    unsigned int len = 0;
    EVP_Digest(p, n, out, &len, EVP_sha256(), NULL);
}

/* SHA-256(a || b || c); any part may be empty. */
static void sha256_3(const void *a, size_t na, const void *b, size_t nb, const void *c, size_t nc,
                     unsigned char out[32])
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    unsigned int len = 0;
    if (!m || EVP_DigestInit_ex(m, EVP_sha256(), NULL) != 1 || EVP_DigestUpdate(m, a, na) != 1 ||
        EVP_DigestUpdate(m, b, nb) != 1 || EVP_DigestUpdate(m, c, nc) != 1 ||
        EVP_DigestFinal_ex(m, out, &len) != 1)
        abort();
    EVP_MD_CTX_free(m);
}

static void hex(const unsigned char *in, size_t n, char *out)
{
    for (size_t k = 0; k < n; k++)
        snprintf(out + 2 * k, 3, "%02x", in[k]);
}

static int unhex(const char *h, unsigned char *out, size_t n)
{
    if (!h || strlen(h) != 2 * n)
        return -1;
    for (size_t k = 0; k < n; k++)
        if (sscanf(h + 2 * k, "%2hhx", &out[k]) != 1)
            return -1;
    return 0;
}

/* The salt canon.h documents: HMAC-SHA256(key, "marlsim-salt-v1" || u32 len
 * || run_id || u64 seq), through OpenSSL's one-shot HMAC. */
static void salt_of(const unsigned char key[32], const char *run_id, int64_t seq, unsigned char out[32])
{
    unsigned char m[15 + 4 + 256 + 8], *p = m;
    size_t rl = strlen(run_id);
    memcpy(p, "marlsim-salt-v1", 15), p += 15;
    for (int k = 3; k >= 0; k--)
        *p++ = (unsigned char)(rl >> (8 * k));
    memcpy(p, run_id, rl), p += rl;
    for (int k = 7; k >= 0; k--)
        *p++ = (unsigned char)((uint64_t)seq >> (8 * k));
    unsigned int len = 0;
    if (!HMAC(EVP_sha256(), key, 32, m, (size_t)(p - m), out, &len) || len != 32)
        abort();
}

/* ---- test keys ---------------------------------------------------------- */

/* The commitment keys of the keyrings the tests pretend to have. */
static const unsigned char ckey_a[32] = "commitment key A for the tests.";
static const unsigned char ckey_b[32] = "commitment key B, another ring.";

/* An Ed25519 key: the signer (EVP directly, as tests/test_note.c does) and
 * its verifier. */
typedef struct tkey {
    EVP_PKEY *pk;
    ms_note_signer s;
    ms_note_verifier v;
} tkey;

static int tsign(void *ctx, const void *msg, size_t n, unsigned char sig[64], ms_err *e)
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    size_t sl = 64;
    int ok = m && EVP_DigestSignInit(m, NULL, NULL, NULL, ctx) == 1 &&
             EVP_DigestSign(m, sig, &sl, msg, n) == 1 && sl == 64;
    EVP_MD_CTX_free(m);
    return ok ? MS_OK : ms_fail(e, MS_EIO, "test signer failed");
}

static void tkey_new(tkey *k, const char *name)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
    size_t pl = 32;
    ms_err e;
    memset(k, 0, sizeof *k);
    if (!c || EVP_PKEY_keygen_init(c) != 1 || EVP_PKEY_keygen(c, &k->pk) != 1 ||
        EVP_PKEY_get_raw_public_key(k->pk, k->v.pub, &pl) != 1 || pl != 32 ||
        ms_note_key_id(name, k->v.pub, k->v.key_id, &e) != MS_OK)
        abort();
    EVP_PKEY_CTX_free(c);
    snprintf(k->v.name, sizeof k->v.name, "%s", name);
    k->s.name = name;
    memcpy(k->s.key_id, k->v.key_id, 4);
    k->s.sign = tsign;
    k->s.ctx = k->pk;
}

/* key_a signs the runs' checkpoints; key_b is another honest keyring;
 * key_m is the attacker's. Made once per suite run. */
static tkey key_a, key_b, key_m;

/* ---- building lakes ------------------------------------------------------ */

static const char config_text[] = "[run]\nname = test\nseed = 7\n\n[sim]\nenvs = 4\n";
static const char *const agents[3] = {"GET", "OPEN", "BIN"};
static const char *const classes[4] = {"benign", "spam", "phishing", "malware"};

typedef struct build_opts {
    const char *run_id;
    uint64_t seed;
    int steps, envs, tx_every;
    const char *finish;      /* NULL: close without lake_finish (a killed run) */
    int stop_at;             /* >= 0: stop inside step stop_at's transaction, then finish */
    int tweak_table;         /* -1: none; else change one value of this table */
    int tweak_step, tweak_env;
    const char *build_facts; /* NULL: make_info's */
    const char *version;     /* NULL: make_info's */
    const unsigned char *commit_key; /* NULL: ckey_a */
    const tkey *signer;      /* NULL: no checkpoints (the development key) */
    int64_t cp_every;        /* with a signer */
    int kill;                /* SIGKILL itself before finishing (forked children only) */
    int surveil;             /* a surveillance_events row per update (not in the base lake,
                                whose entry numbers the tests below name) */
} build_opts;

typedef struct build_out {
    char head[65];    /* lake_head_hex at the end */
    int64_t cp_size;  /* lake_checkpoint at the end */
    char cp_root[64];
} build_out;

/* Six steps of four mailboxes, a transaction every two steps, completed.
 * Its ledger: 1 identity, 2 build, 3 hmac_keys, then per step s
 * environment_states, agent_observations, joint_actions,
 * di_credit_assignment, and after every odd step an update (optimizer_steps,
 * evaluations, policy_snapshots, anomalies, poison_truth): steps 0, 1 are
 * seq 4-11, update 1 seq 12-16, steps 2, 3 seq 17-24 (joint_actions step 3
 * is seq 23), update 2 seq 25-29, steps 4, 5 seq 30-37, update 3 seq 38-42,
 * behaviour_aggregates seq 43, the seal seq 44. */
#define BASE_ENTRIES 44
#define BASE_BEHAVIOURAL 25 /* 6 steps x 4 + the aggregate */
#define BASE_SALTED 41      /* every event entry (schema v4): all but the 3 runs entries */

static build_opts defaults(void)
{
    build_opts o = {.run_id = "run-1", .seed = 7, .steps = 6, .envs = 4, .tx_every = 2,
                    .finish = "completed", .stop_at = -1, .tweak_table = -1, .tweak_step = -1,
                    .tweak_env = -1, .cp_every = 3};
    return o;
}

/* The defaults, with key_a signing a checkpoint every 3 entries. */
static build_opts signed_defaults(void)
{
    build_opts o = defaults();
    o.signer = &key_a;
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
    in->commit_key = ckey_a;
    in->started_at = "2026-01-01T00:00:00Z";
}

/* Appends one simulation step's behavioural rows. */
static int append_step(lake *L, const build_opts *o, int s, ms_err *e)
{
    enum { MAXE = 64 };
    char bcast[MAXE][128], obs[MAXE][3][48];
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
        lk_value *r = v + k * 3;
        r[0] = lk_int(s);
        r[1] = lk_int(k);
        r[2] = lk_text(bcast[k]);
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
        lk_value *r = v + k * 15;
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
        r[12] = lk_text((s + k) % 3 ? "[]" : "[\"threat_intel_block\",\"preview_requires_fetch\"]");
        r[13] = lk_real(reward);
        r[14] = lk_real(reward * 1.5);
    }
    if ((rc = lake_append(L, LKT_JOINT_ACTIONS, s, E, v, e)))
        return rc;

    for (int k = 0; k < E; k++)
        for (int a = 0; a < 3; a++) {
            lk_value *r = v + (k * 3 + a) * 10;
            double credit = 0.5 * a - 0.25 * k;
            if (o->tweak_table == LKT_DI_CREDIT_ASSIGNMENT && s == o->tweak_step &&
                k == o->tweak_env && a == 1)
                credit += 1.0;
            r[0] = lk_int(s);
            r[1] = lk_int(k);
            r[2] = lk_text(agents[a]);
            r[3] = lk_real(1.0);
            r[4] = lk_null(); /* reward_raw: equal to reward */
            r[5] = k == 0 && a == 2 ? lk_null() : lk_real(credit);
            r[6] = lk_text("difference");
            r[7] = lk_int(1);
            r[8] = s + 1 < o->steps ? lk_int(s / 2 + 1) : lk_null();
            r[9] = lk_int(s + 1 < o->steps);
        }
    return lake_append(L, LKT_DI_CREDIT_ASSIGNMENT, s, E * 3, v, e);
}

/* Operational and security rows after update u (every other step). Update
 * u's snapshots are snapshot_id u*10 + agent, params bytes all u*3 + agent;
 * evaluation u is the baseline (u = 1), promoted (odd u) or rolled back
 * (even u). */
static int append_update(lake *L, const build_opts *o, int s, int u, ms_err *e)
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

    lk_value ev[10] = {lk_int(u), lk_int(u), lk_int((int64_t)(s + 1) * 4), lk_int(2),
                       lk_real(0.5 + 0.1 * u), u == 1 ? lk_null() : lk_real(0.6),
                       lk_real(0.05), lk_text(u == 1 ? "baseline" : u % 2 ? "promoted" : "rolled_back"),
                       u % 2 ? lk_null() : lk_int(u), u % 2 ? lk_null() : lk_int(u)};
    if ((rc = lake_append(L, LKT_EVALUATIONS, s, 1, ev, e)))
        return rc;
    lk_value sv[9] = {lk_int(u), lk_int(u), lk_text("BIN"), lk_text("action_drift"), lk_text("warning"),
                      lk_real(0.3), lk_real(0.25), lk_text("recorded"), lk_text("drift")};
    if (o->surveil && (rc = lake_append(L, LKT_SURVEILLANCE_EVENTS, s, 1, sv, e)))
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

    lk_value an[2 * 7] = {lk_int(s), lk_int(1), lk_text("OPEN"), lk_text("mac"), lk_text("bad_mac"), lk_null(),
                          lk_text("MAC mismatch"), lk_int(s), lk_int(2), lk_null(),
                          lk_text("reward_contradicts_evidence"), lk_text("excluded_from_training"),
                          lk_real(14.5), lk_null()};
    if ((rc = lake_append(L, LKT_ANOMALIES, s, 2, an, e)))
        return rc;
    lk_value pt[4] = {lk_int(s), lk_int(1), lk_text("transit"), lk_text("bad_mac")};
    return lake_append(L, LKT_POISON_TRUTH, s, 1, pt, e);
}

/* Builds a lake at path (out may be NULL). */
static int build(const char *path, const build_opts *o, build_out *out, ms_err *e)
{
    lake_run_info in;
    char sha[65];
    lake *L;
    make_info(&in, sha, o->run_id, o->seed);
    if (o->build_facts)
        in.build_facts = o->build_facts;
    if (o->version)
        in.version = o->version;
    if (o->commit_key)
        in.commit_key = o->commit_key;
    if (o->signer) {
        in.signer = &o->signer->s;
        in.checkpoint_every = o->cp_every;
        in.checkpoint_file = 1;
        in.dev_key = 0;
        in.key_ids = "[\"k1\"]";
    }
    int rc = lake_create(&L, path, &in, 0, e);
    if (rc)
        return rc;
    lk_value hk[5] = {lk_text("dev"), lk_text("pseudonym"), lk_text("fp:0011"), lk_int(0),
                      lk_null()};
    rc = lake_append(L, LKT_HMAC_KEYS, 0, 1, hk, e); /* outside a transaction */
    int stopped = 0;
    for (int s = 0; !rc && s < o->steps; s++) {
        if (s % o->tx_every == 0)
            rc = lake_begin(L, e);
        if (!rc)
            rc = append_step(L, o, s, e);
        if (!rc && s == o->stop_at) {
            stopped = 1;
            break;
        }
        if (!rc && s % 2 == 1)
            rc = append_update(L, o, s, s / 2 + 1, e);
        lake_set_env_steps(L, (int64_t)(s + 1) * o->envs);
        if (!rc && (s % o->tx_every == o->tx_every - 1 || s == o->steps - 1))
            rc = lake_commit(L, e);
    }
    if (!rc && !stopped) {
        lk_value ag[9] = {lk_int(0), lk_int(o->steps), lk_text("GET"), lk_text("spam"),
                          lk_int(10), lk_int(4), lk_int(3), lk_real(-1.5), lk_real(0.75)};
        rc = lake_append(L, LKT_BEHAVIOUR_AGGREGATES, o->steps, 1, ag, e);
    }
    if (o->kill && !rc) {
        fflush(NULL);
        kill(getpid(), SIGKILL);
    }
    if (!rc && o->finish)
        rc = lake_finish(L, o->finish, (int64_t)o->steps * o->envs, 0.625, 1, e);
    if (out) {
        snprintf(out->head, sizeof out->head, "%s", lake_head_hex(L));
        out->cp_size = lake_checkpoint(L, out->cp_root);
    }
    lake_close(L);
    return rc;
}

/* Builds in a child that kills itself with SIGKILL before finishing (after
 * its last commit, or inside the transaction of o.stop_at): the lake a
 * crashed writer leaves, with its -wal and -shm. 0 when the child died by
 * SIGKILL. */
static int build_killed(const char *path, build_opts o)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        ms_err e;
        o.kill = 1;
        build(path, &o, NULL, &e);
        _exit(7); /* not reached unless build failed before the kill */
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL ? 0 : -1;
}

/* ---- raw SQLite helpers (the attacker's tools) ---------------------------- */

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

/* The first column of the first row as text ("" when none). */
static char *raw_text(const char *path, const char *sql, char *out, size_t n)
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
    return out;
}

/* Dropped triggers and their original CREATE text, to restore. */
typedef struct trig_save {
    char *sql[16];
    int n;
} trig_save;

/* Drops the append-only triggers of table t, keeping their text. */
static int trig_drop(sqlite3 *db, const char *t, trig_save *sv)
{
    sqlite3_stmt *st;
    char q[256], *names[4] = {0};
    int k = 0, rc = 0;
    snprintf(q, sizeof q, "SELECT name, sql FROM sqlite_schema WHERE type='trigger' AND tbl_name='%s'", t);
    if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK)
        return -1;
    while (k < 4 && sv->n < 16 && sqlite3_step(st) == SQLITE_ROW) {
        names[k++] = strdup((const char *)sqlite3_column_text(st, 0));
        sv->sql[sv->n++] = strdup((const char *)sqlite3_column_text(st, 1));
    }
    sqlite3_finalize(st);
    for (int i = 0; i < k; i++) {
        snprintf(q, sizeof q, "DROP TRIGGER \"%s\"", names[i]);
        if (sqlite3_exec(db, q, NULL, NULL, NULL) != SQLITE_OK)
            rc = -1;
        free(names[i]);
    }
    return k == 2 ? rc : -1; /* every event table, ledger, salts, checkpoints has two */
}

/* Re-creates the dropped triggers with their exact original text. */
static int trig_restore(sqlite3 *db, trig_save *sv)
{
    int rc = 0;
    for (int i = 0; i < sv->n; i++) {
        if (sqlite3_exec(db, sv->sql[i], NULL, NULL, NULL) != SQLITE_OK)
            rc = -1;
        free(sv->sql[i]);
    }
    sv->n = 0;
    return rc;
}

/* Runs sql with the append-only triggers of the tables in `tables` (a
 * comma-separated list) dropped, then re-creates them with their exact
 * original text, so the schema check passes and only the data checks can
 * catch the edit. */
static int tamper(const char *path, const char *tables, const char *sql)
{
    sqlite3 *db;
    trig_save sv = {{0}, 0};
    int rc = -1;
    char list[256], *save = NULL;
    snprintf(list, sizeof list, "%s", tables);
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        goto out;
    rc = 0;
    for (char *t = strtok_r(list, ",", &save); t && !rc; t = strtok_r(NULL, ",", &save))
        rc = trig_drop(db, t, &sv);
    if (!rc && sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        rc = -1;
    if (trig_restore(db, &sv))
        rc = -1;
out:
    if (rc)
        fprintf(stderr, "  tamper(%s): %s\n", tables, sqlite3_errmsg(db));
    sqlite3_close(db);
    return rc;
}

static int tamper_rows(const char *path, const char *t, const char *sql)
{
    return tamper(path, t, sql);
}

/* ---- the re-chaining attacker ------------------------------------------ */

/* One ledger entry as stored. */
typedef struct entry {
    int64_t seq, step, first, n;
    char tbl[40];
    int commit_null;
    unsigned char hash[32], commit[32];
} entry;

/* Reads the whole ledger (seq order); returns the count or -1. */
static int64_t read_entries(sqlite3 *db, entry **out)
{
    sqlite3_stmt *st;
    int64_t n = 0, cap = 64;
    entry *E = malloc((size_t)cap * sizeof *E);
    *out = NULL;
    if (!E || sqlite3_prepare_v2(db, "SELECT seq, tbl, step, first_rowid, n_rows, commitment, hash FROM ledger "
                                     "ORDER BY seq", -1, &st, NULL) != SQLITE_OK) {
        free(E);
        return -1;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap) {
            entry *p = realloc(E, (size_t)(cap *= 2) * sizeof *E);
            if (!p)
                abort();
            E = p;
        }
        entry *x = &E[n++];
        memset(x, 0, sizeof *x);
        x->seq = sqlite3_column_int64(st, 0);
        snprintf(x->tbl, sizeof x->tbl, "%s", (const char *)sqlite3_column_text(st, 1));
        x->step = sqlite3_column_int64(st, 2);
        x->first = sqlite3_column_int64(st, 3);
        x->n = sqlite3_column_int64(st, 4);
        x->commit_null = sqlite3_column_type(st, 5) == SQLITE_NULL;
        if (!x->commit_null && sqlite3_column_bytes(st, 5) == 32)
            memcpy(x->commit, sqlite3_column_blob(st, 5), 32);
        if (sqlite3_column_bytes(st, 6) == 32)
            memcpy(x->hash, sqlite3_column_blob(st, 6), 32);
    }
    sqlite3_finalize(st);
    *out = E;
    return n;
}

static lk_value col_value(sqlite3_stmt *st, int i)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER: return lk_int(sqlite3_column_int64(st, i));
    case SQLITE_FLOAT: return lk_real(sqlite3_column_double(st, i));
    case SQLITE_TEXT: {
        const char *p = (const char *)sqlite3_column_text(st, i);
        return lk_textn(p, (size_t)sqlite3_column_bytes(st, i));
    }
    case SQLITE_BLOB: {
        const void *p = sqlite3_column_blob(st, i);
        return lk_blob(p, (size_t)sqlite3_column_bytes(st, i));
    }
    default: return lk_null();
    }
}

/* The rows an entry covers, as "u32 length || row bytes" each, appended to
 * b; *ncols receives the header's ncols. 0 or -1. */
static int entry_rows(sqlite3 *db, const entry *x, lk_buf *b, uint32_t *ncols)
{
    char q[1024];
    size_t k;
    sqlite3_stmt *st;
    lk_value v[LKR_NCOLS > LK_MAX_COLS ? LKR_NCOLS : LK_MAX_COLS];
    ms_err e;
    int kind = lk_runs_entry_find(x->tbl, strlen(x->tbl)), t = lk_table_find(x->tbl, strlen(x->tbl)), nc, got = 0;
    if (kind >= 0) {
        const lk_runs_entry *R = &lk_runs_entries[kind];
        nc = R->ncols;
        k = (size_t)snprintf(q, sizeof q, "SELECT ");
        for (int c = 0; c < nc; c++)
            k += (size_t)snprintf(q + k, sizeof q - k, "%s%s", c ? ", " : "", lk_runs_columns[R->cols[c]].name);
        snprintf(q + k, sizeof q - k, " FROM runs");
    } else if (t >= 0) {
        nc = lk_tables[t].ncols;
        k = (size_t)snprintf(q, sizeof q, "SELECT ");
        for (int c = 0; c < nc; c++)
            k += (size_t)snprintf(q + k, sizeof q - k, "%s%s", c ? ", " : "", lk_tables[t].cols[c].name);
        snprintf(q + k, sizeof q - k, " FROM %s WHERE rowid BETWEEN %lld AND %lld ORDER BY rowid", lk_tables[t].name,
                 (long long)x->first, (long long)(x->first + x->n - 1));
    } else {
        return -1;
    }
    *ncols = (uint32_t)nc;
    if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK)
        return -1;
    while (sqlite3_step(st) == SQLITE_ROW) {
        for (int c = 0; c < nc; c++)
            v[c] = col_value(st, c);
        if (lk_put_row(b, v, nc, &e) != MS_OK)
            break;
        got++;
    }
    sqlite3_finalize(st);
    return got == x->n ? 0 : -1;
}

/* Recomputes every entry's commitment and hash from the stored rows, salts
 * and the genesis, straight from canon.h's layout: hash = SHA-256(prev ||
 * header || body), body = the commitment SHA-256([salt ||] rows) of an
 * event entry (salted for a behavioural one), the row itself for a runs.*
 * entry. With write, stores them (ledger's triggers must be
 * dropped) and sets runs.head_hash; else counts the entries whose stored
 * commitment or hash differs from the recomputed one into *mismatch. The
 * new hashes go to *hashes (malloc'd), their count to *n. 0 or -1. */
static int rechain(sqlite3 *db, int write, int64_t *mismatch, unsigned char (**hashes)[32], int64_t *n)
{
    entry *E;
    int64_t ne = read_entries(db, &E);
    char gh[65];
    unsigned char prev[32];
    sqlite3_stmt *gs, *ss = NULL, *up = NULL;
    int rc = -1;
    lk_buf b = {0};
    *hashes = NULL;
    *n = 0;
    if (mismatch)
        *mismatch = 0;
    if (ne < 0)
        return -1;
    if (sqlite3_prepare_v2(db, "SELECT genesis FROM runs", -1, &gs, NULL) != SQLITE_OK)
        goto out;
    gh[0] = 0;
    if (sqlite3_step(gs) == SQLITE_ROW)
        snprintf(gh, sizeof gh, "%s", (const char *)sqlite3_column_text(gs, 0));
    sqlite3_finalize(gs);
    if (unhex(gh, prev, 32) || sqlite3_prepare_v2(db, "SELECT salt FROM salts WHERE seq = ?1", -1, &ss, NULL) ||
        sqlite3_prepare_v2(db, "UPDATE ledger SET commitment = ?1, hash = ?2 WHERE seq = ?3", -1, &up, NULL))
        goto out;
    *hashes = malloc((size_t)(ne ? ne : 1) * 32);
    if (!*hashes)
        goto out;
    for (int64_t i = 0; i < ne; i++) {
        entry *x = &E[i];
        unsigned char hdr[128], commit[32], hash[32];
        uint32_t ncols = 0;
        b.len = 0;
        if (entry_rows(db, x, &b, &ncols))
            goto out;
        size_t hn = lk_entry_header(hdr, x->seq, x->tbl, x->step, x->first, (uint32_t)x->n, ncols);
        int t = lk_table_find(x->tbl, strlen(x->tbl)), salted = lk_table_salted(t), committed = t >= 0;
        if (salted) {
            sqlite3_reset(ss);
            sqlite3_bind_int64(ss, 1, x->seq);
            if (sqlite3_step(ss) != SQLITE_ROW || sqlite3_column_bytes(ss, 0) != 32)
                goto out;
            sha256_3(sqlite3_column_blob(ss, 0), 32, b.p, b.len, "", 0, commit);
            sha256_3(prev, 32, hdr, hn, commit, 32, hash);
        } else if (committed) {
            sha256_3(b.p, b.len, "", 0, "", 0, commit);
            sha256_3(prev, 32, hdr, hn, commit, 32, hash);
        } else {
            sha256_3(prev, 32, hdr, hn, b.p, b.len, hash);
        }
        if (mismatch && (memcmp(hash, x->hash, 32) || committed == x->commit_null ||
                         (committed && memcmp(commit, x->commit, 32))))
            ++*mismatch;
        if (write) {
            sqlite3_reset(up);
            if (committed)
                sqlite3_bind_blob(up, 1, commit, 32, SQLITE_TRANSIENT);
            else
                sqlite3_bind_null(up, 1);
            sqlite3_bind_blob(up, 2, hash, 32, SQLITE_TRANSIENT);
            sqlite3_bind_int64(up, 3, x->seq);
            if (sqlite3_step(up) != SQLITE_DONE)
                goto out;
        }
        memcpy(prev, hash, 32);
        memcpy((*hashes)[i], hash, 32);
    }
    *n = ne;
    rc = 0;
    if (write) {
        char q[128], hh[65];
        hex(prev, 32, hh);
        snprintf(q, sizeof q, "UPDATE runs SET head_hash = '%s'", hh);
        rc = sqlite3_exec(db, q, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
    }
out:
    sqlite3_finalize(ss);
    sqlite3_finalize(up);
    lk_buf_release(&b);
    free(E);
    if (rc) {
        free(*hashes);
        *hashes = NULL;
    }
    return rc;
}

/* The RFC 6962 root over the first size entry hashes (leaf = the entry
 * hash), computed here with ms_merkle_leaf_hash / ms_merkle_root. */
static int root_of(const unsigned char (*hashes)[32], int64_t size, unsigned char root[32])
{
    ms_err e;
    unsigned char (*lh)[32] = malloc((size_t)(size ? size : 1) * 32);
    int rc = lh ? 0 : -1;
    for (int64_t i = 0; !rc && i < size; i++)
        rc = ms_merkle_leaf_hash(hashes[i], 32, lh[i], &e);
    if (!rc)
        rc = ms_merkle_root((const unsigned char (*)[32])lh, (uint64_t)size, root, &e);
    free(lh);
    return rc ? -1 : 0;
}

/* Re-signs every checkpoint row with s over the given entry hashes
 * (checkpoints' triggers must be dropped). 0 or -1. */
static int resign_checkpoints(sqlite3 *db, const unsigned char (*hashes)[32], int64_t nh, const ms_note_signer *s)
{
    sqlite3_stmt *st, *up;
    char origin[300] = "";
    int rc = 0;
    if (sqlite3_prepare_v2(db, "SELECT origin FROM runs", -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        snprintf(origin, sizeof origin, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(db, "SELECT cp_id, tree_size, status FROM checkpoints ORDER BY cp_id", -1, &st, NULL))
        return -1;
    if (sqlite3_prepare_v2(db, "UPDATE checkpoints SET note = ?1 WHERE cp_id = ?2", -1, &up, NULL)) {
        sqlite3_finalize(st);
        return -1;
    }
    while (!rc && sqlite3_step(st) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0), size = sqlite3_column_int64(st, 1);
        char ext[64], body[1024], note[2048];
        const char *exts[1] = {ext};
        int has = sqlite3_column_type(st, 2) == SQLITE_TEXT;
        unsigned char root[32];
        size_t bl = 0, nl = 0;
        ms_err e;
        if (has)
            snprintf(ext, sizeof ext, "status: %s", (const char *)sqlite3_column_text(st, 2));
        if (size > nh || root_of(hashes, size, root) ||
            ms_checkpoint_format(origin, (uint64_t)size, root, exts, has, body, sizeof body, &bl, &e) ||
            ms_note_sign(body, bl, s, note, sizeof note, &nl, &e)) {
            rc = -1;
            break;
        }
        sqlite3_reset(up);
        sqlite3_bind_text(up, 1, note, (int)nl, SQLITE_TRANSIENT);
        sqlite3_bind_int64(up, 2, id);
        if (sqlite3_step(up) != SQLITE_DONE)
            rc = -1;
    }
    sqlite3_finalize(st);
    sqlite3_finalize(up);
    return rc;
}

/* What the attacker does with the checkpoint rows. */
enum { CP_KEEP, CP_DELETE, CP_RESIGN };

/* The re-chain attack: runs edit_sql on edit_table (its triggers dropped),
 * recomputes the commitments and hashes of every entry and runs.head_hash,
 * then keeps, deletes or re-signs (with s) the checkpoints; every trigger
 * is restored with its original text. 0 when every step worked. */
static int attack(const char *path, const char *edit_table, const char *edit_sql, int cp_mode,
                  const ms_note_signer *s)
{
    sqlite3 *db;
    trig_save sv = {{0}, 0};
    unsigned char (*hashes)[32] = NULL;
    int64_t nh = 0;
    int rc = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        goto out;
    rc = trig_drop(db, edit_table, &sv) || trig_drop(db, "ledger", &sv) ||
         (cp_mode != CP_KEEP && trig_drop(db, "checkpoints", &sv)) ||
         sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
         sqlite3_exec(db, edit_sql, NULL, NULL, NULL) != SQLITE_OK || sqlite3_changes(db) < 1 ||
         (cp_mode == CP_DELETE && sqlite3_exec(db, "DELETE FROM checkpoints", NULL, NULL, NULL) != SQLITE_OK) ||
         rechain(db, 1, NULL, &hashes, &nh) ||
         (cp_mode == CP_RESIGN && resign_checkpoints(db, (const unsigned char (*)[32])hashes, nh, s)) ||
         sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK
             ? -1
             : 0;
    if (trig_restore(db, &sv))
        rc = -1;
out:
    if (rc)
        fprintf(stderr, "  attack on %s: %s\n", path, sqlite3_errmsg(db));
    free(hashes);
    sqlite3_close(db);
    return rc;
}

/* ---- tests: schema and canonical bytes ------------------------------------ */

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
        /* v2: the class view lists every event table with its class */
        snprintf(q, sizeof q, "SELECT class FROM v_table_classes WHERE name='%s' AND chained = 1", T->name);
        sqlite3_prepare_v2(db, q, -1, &st, NULL);
        CHECK(sqlite3_step(st) == SQLITE_ROW &&
                  strcmp((const char *)sqlite3_column_text(st, 0), lk_class_names[T->tclass]) == 0,
              "v_table_classes: %s", T->name);
        sqlite3_finalize(st);
    }
    /* v4: every table a purge or an export may empty is salted, of every
     * class; the purges' own tables (never removed) are not. */
    int nsalted = 0, by_class[3] = {0, 0, 0};
    for (int t = -1; t <= LKT_COUNT; t++) {
        nsalted += lk_table_salted(t);
        if (t >= 0 && t < LKT_COUNT && lk_table_salted(t))
            by_class[lk_tables[t].tclass]++;
        if (t >= 0 && t < LKT_COUNT)
            CHECK(lk_table_salted(t) == lk_table_purgeable(t), "%s: salted iff purgeable", lk_tables[t].name);
    }
    CHECK(nsalted == LKT_TOMBSTONES && !lk_table_salted(LKT_TOMBSTONES) && !lk_table_salted(LKT_PURGES) &&
              !lk_table_salted(-1) && !lk_table_salted(LKT_COUNT),
          "%d salted tables", nsalted);
    CHECK(by_class[LK_BEHAVIOURAL] == 5 && by_class[LK_SECURITY] >= 3 && by_class[LK_OPERATIONAL] >= 3,
          "salted per class: behavioural %d, security %d, operational %d", by_class[LK_BEHAVIOURAL],
          by_class[LK_SECURITY], by_class[LK_OPERATIONAL]);
    CHECK(lk_table_find("joint_action", 12) == -1 && lk_table_find("runs", 4) == -1, "find misses");
    CHECK(lk_runs_entry_find("runs.identity", 13) == LK_RUNS_IDENTITY &&
              lk_runs_entry_find("runs.build", 10) == LK_RUNS_BUILD &&
              lk_runs_entry_find("runs.seal", 9) == LK_RUNS_SEAL && lk_runs_entry_find("runs", 4) == -1,
          "runs entries");
    /* ledger, salts, checkpoints: the v2 columns, each table append-only */
    CHECK(sqlite3_exec(db, "SELECT seq, tbl, step, first_rowid, n_rows, commitment, hash FROM ledger;"
                           "SELECT seq, salt FROM salts; SELECT cp_id, tree_size, status, note FROM checkpoints;"
                           "SELECT origin FROM runs",
                       NULL, NULL, NULL) == SQLITE_OK,
          "v2 columns: %s", sqlite3_errmsg(db));
    /* Documentation is inside the CREATE text, so .schema shows it. */
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_schema WHERE name='runs'", -1, &st, NULL);
    sqlite3_step(st);
    CHECK(strstr((const char *)sqlite3_column_text(st, 0), "marlsim telemetry lake, schema v4") != NULL,
          "overview comment");
    sqlite3_finalize(st);
    /* Views parse and run on an empty lake. */
    static const char *const views[] = {"v_learning_curve", "v_rule_hits", "v_credit_by_class",
                                        "v_joint_actions", "v_outcomes", "v_gate_decisions",
                                        "v_anomalies_by_reason", "v_update_survival", "v_table_classes"};
    for (int k = 0; k < 9; k++) {
        char q[96];
        snprintf(q, sizeof q, "SELECT * FROM %s", views[k]);
        CHECK(sqlite3_exec(db, q, NULL, NULL, NULL) == SQLITE_OK, "%s: %s", views[k],
              sqlite3_errmsg(db));
    }
    /* row_counts rendering */
    int64_t rows[LKT_COUNT] = {0};
    rows[LKT_POISON_TRUTH] = 3;
    char counts[1024];
    size_t n = lk_row_counts_json(rows, counts, sizeof counts);
    CHECK(n == strlen(counts) && counts[0] == '{' && strstr(counts, "\"environment_states\":0,") &&
              strstr(counts, "\"poison_truth\":3,") && strstr(counts, "\"behaviour_aggregates\":0,") &&
              strstr(counts, "\"tombstones\":0,\"purges\":0}"),
          "row_counts: %s", counts);
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

    /* v2: the salt, against an independent HMAC of the documented message,
     * and a known answer for its first bytes' layout (seq is a u64). */
    ms_hmac mac;
    unsigned char s1[32], s2[32], s3[32], w1[32];
    CHECK(ms_hmac_init(&mac, &e) == MS_OK && ms_hmac_setkey(&mac, ckey_a, 32, &e) == MS_OK, "%s", e.msg);
    CHECK(lk_salt(&mac, "run-1", 23, s1, &e) == MS_OK && lk_salt(&mac, "run-1", 24, s2, &e) == MS_OK &&
              lk_salt(&mac, "run-2", 23, s3, &e) == MS_OK,
          "%s", e.msg);
    salt_of(ckey_a, "run-1", 23, w1);
    CHECK(memcmp(s1, w1, 32) == 0, "salt layout");
    CHECK(memcmp(s1, s2, 32) && memcmp(s1, s3, 32), "salts differ per seq and per run");
    ms_hmac_release(&mac);
    CHECK(ms_hmac_init(&mac, &e) == MS_OK && ms_hmac_setkey(&mac, ckey_b, 32, &e) == MS_OK &&
              lk_salt(&mac, "run-1", 23, s2, &e) == MS_OK,
          "%s", e.msg);
    CHECK(memcmp(s1, s2, 32) != 0, "the salt depends on the commitment key");
    ms_hmac_release(&mac);
}

/* ---- tests: writer + verify --------------------------------------------- */

static void ledger_build_and_verify(void)
{
    char dir[64], db[128], side[160], buf[256];
    ms_err e = {{0}};
    build_out bo;
    tdir_new(dir);
    path_in(db, sizeof db, dir, "a.db");
    build_opts o = defaults();
    CHECK(build(db, &o, &bo, &e) == MS_OK, "build: %s", e.msg);

    lake_verify_report r;
    int rc = lake_verify(db, NULL, &r, &e);
    CHECK(rc == MS_OK, "verify: %d %s", rc, e.msg);
    CHECK(r.rows[LKT_ENVIRONMENT_STATES] == 24 && r.rows[LKT_AGENT_OBSERVATIONS] == 72 &&
              r.rows[LKT_JOINT_ACTIONS] == 24 && r.rows[LKT_DI_CREDIT_ASSIGNMENT] == 72 &&
              r.rows[LKT_OPTIMIZER_STEPS] == 9 && r.rows[LKT_EVALUATIONS] == 3 &&
              r.rows[LKT_HMAC_KEYS] == 1 && r.rows[LKT_BEHAVIOUR_AGGREGATES] == 1,
          "counts %lld %lld", (long long)r.rows[0], (long long)r.rows[1]);
    /* v2: identity + build + 1 key + 6 steps x 4 + 3 updates x 5 + 1 aggregate + seal */
    CHECK(r.entries == 2 + 1 + 24 + 15 + 1 + 1 && r.entries == BASE_ENTRIES, "entries %lld", (long long)r.entries);
    CHECK(r.complete == 1 && r.sealed == 1 && strcmp(r.status, "completed") == 0, "status %s",
          r.status);
    CHECK(strcmp(r.head, bo.head) == 0, "head %s vs writer %s", r.head, bo.head);
    CHECK(r.env_steps == 24, "env_steps %lld", (long long)r.env_steps);
    CHECK(!strcmp(r.run_id, "run-1") && !strcmp(r.origin, "marlsim/run-1") && r.dev_key == 1, "identity %s %s",
          r.run_id, r.origin);
    /* without a signer: no checkpoints, nothing authenticated */
    CHECK(r.checkpoints == 0 && r.authenticated == 0 && r.cp_size == 0 && r.signer[0] == 0 && bo.cp_size == 0,
          "no checkpoints: %lld", (long long)r.checkpoints);
    snprintf(side, sizeof side, "%s.checkpoint", db);
    CHECK(!file_exists(side), "no checkpoint file without a signer");
    /* verify of a cleanly closed lake creates no -wal/-shm (never writes). */
    snprintf(side, sizeof side, "%s-wal", db);
    CHECK(!file_exists(side), "verify left %s", side);
    snprintf(side, sizeof side, "%s-shm", db);
    CHECK(!file_exists(side), "verify left %s", side);

    /* The file is what the spec says it is. */
    CHECK(raw_int(db, "PRAGMA application_id") == LK_APPLICATION_ID, "application_id");
    CHECK(raw_int(db, "PRAGMA user_version") == LK_SCHEMA_VERSION && LK_SCHEMA_VERSION == 4, "user_version");
    sqlite3 *h;
    sqlite3_stmt *st;
    sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL);
    sqlite3_prepare_v2(h, "PRAGMA journal_mode", -1, &st, NULL);
    CHECK(sqlite3_step(st) == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0,
          "journal_mode wal");
    sqlite3_finalize(st);
    sqlite3_close(h);

    /* v2: the chain's shape. */
    CHECK(!strcmp(raw_text(db, "SELECT tbl FROM ledger WHERE seq = 1", buf, sizeof buf), "runs.identity"),
          "seq 1 is %s", buf);
    CHECK(!strcmp(raw_text(db, "SELECT tbl FROM ledger WHERE seq = 2", buf, sizeof buf), "runs.build"),
          "seq 2 is %s", buf);
    CHECK(!strcmp(raw_text(db, "SELECT tbl FROM ledger ORDER BY seq DESC LIMIT 1", buf, sizeof buf), "runs.seal"),
          "last is %s", buf);
    CHECK(!strcmp(raw_text(db, "SELECT tbl FROM ledger WHERE seq = 23", buf, sizeof buf), "joint_actions"),
          "seq 23 is %s", buf);
    CHECK(raw_int(db, "SELECT COUNT(*) FROM ledger WHERE tbl LIKE 'runs.%'") == 3, "three runs entries");
    /* commitments on exactly the behavioural entries, a salt for each */
    CHECK(raw_int(db, "SELECT COUNT(*) FROM ledger WHERE commitment IS NOT NULL AND length(commitment) = 32 AND tbl "
                      "IN ('environment_states','agent_observations','joint_actions','di_credit_assignment',"
                      "'behaviour_aggregates')") == BASE_BEHAVIOURAL,
          "commitments");
    CHECK(raw_int(db, "SELECT COUNT(*) FROM ledger WHERE (commitment IS NOT NULL) = (tbl NOT LIKE 'runs.%')") ==
              raw_int(db, "SELECT COUNT(*) FROM ledger"),
          "a commitment on every event entry, none on the runs entries");
    CHECK(raw_int(db, "SELECT COUNT(*) FROM salts JOIN ledger USING (seq) WHERE commitment IS NOT NULL AND "
                      "length(salt) = 32") == BASE_SALTED &&
              raw_int(db, "SELECT COUNT(*) FROM salts") == BASE_SALTED,
          "a salt for every event entry (schema v4), none for the runs entries");
    CHECK(raw_int(db, "SELECT COUNT(*) FROM checkpoints") == 0, "no checkpoint rows");

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
    CHECK(raw_int(db, "SELECT COUNT(*) FROM v_table_classes WHERE class = 'behavioural' AND chained = 1") == 5,
          "v_table_classes");

    /* runs row reader */
    lake_run_meta m;
    CHECK(lake_read_run(db, &m, &e) == MS_OK, "%s", e.msg);
    CHECK(m.run_id && strcmp(m.run_id, "run-1") == 0 && m.seed == 7 && m.dev_key == 1 &&
              strcmp(m.config_text, config_text) == 0 && strcmp(m.status, "completed") == 0 &&
              strcmp(m.head_hash, bo.head) == 0 && m.has_eval && m.eval_reward == 0.625 &&
              m.finished_at != NULL && strcmp(m.started_at, "2026-01-01T00:00:00Z") == 0 &&
              m.origin && strcmp(m.origin, "marlsim/run-1") == 0 && m.ledger_rows == BASE_ENTRIES,
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
    /* v2: the policy reader wants the evaluation that made the snapshot the
     * incumbent (v1's lake_read_snapshot took any latest snapshot). */
    lk_value ev[10] = {lk_int(1), lk_int(0), lk_int(0), lk_int(1), lk_real(0.5), lk_null(), lk_real(0.0),
                       lk_text("baseline"), lk_null(), lk_null()};
    CHECK(lake_append(L, LKT_EVALUATIONS, 0, 1, ev, &e) == MS_OK, "%s", e.msg);
    lk_value snap[6] = {lk_int(1), lk_int(1), lk_null(), lk_text("GET"), lk_text(""), lk_blob(NULL, 0)};
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
    CHECK(r.rows[LKT_BEHAVIOUR_AGGREGATES] == nr && r.entries == 2 + 3 + 1, "rows, entries %lld",
          (long long)r.entries);
    lake_run_meta m;
    CHECK(lake_read_run(db, &m, &e) == MS_OK && m.seed == UINT64_MAX && !m.has_eval, "seed u64");
    lake_run_meta_release(&m);
    /* every REAL and INTEGER came back bit for bit (the hash already says
     * so; this says it without the library) */
    sqlite3 *h;
    sqlite3_stmt *st;
    int k = 0, same = 1;
    sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL);
    sqlite3_prepare_v2(h, "SELECT window_start, reward_sum, credit_sum FROM behaviour_aggregates ORDER BY rowid", -1,
                       &st, NULL);
    for (; sqlite3_step(st) == SQLITE_ROW && k < nr; k++) {
        double a = sqlite3_column_double(st, 1), b2 = sqlite3_column_double(st, 2);
        double wa = reals[k] == 0 ? 0.0 : reals[k], wb = reals[k] == 0 ? 0.0 : -reals[k];
        same &= memcmp(&a, &wa, 8) == 0 || (a == 0 && wa == 0);
        same &= memcmp(&b2, &wb, 8) == 0 || (b2 == 0 && wb == 0);
        same &= sqlite3_column_int64(st, 0) == (k == 0 ? INT64_MIN : k == 1 ? INT64_MAX : k);
    }
    sqlite3_finalize(st);
    sqlite3_close(h);
    CHECK(k == nr && same, "values bit for bit (%d rows)", k);
    lake_policy_blob pol[1];
    const char *get[1] = {"GET"};
    CHECK(lake_read_policy(db, NULL, get, 1, pol, &r, &e) == MS_OK && pol[0].n == 0 && pol[0].blob != NULL &&
              strcmp(pol[0].sha256, dh) == 0 && pol[0].eval_id == 1 && pol[0].snapshot_id == 1,
          "empty snapshot: %s", e.msg);
    lake_policy_release(pol, 1);
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
    bad.key_ids = "[\"k1\"";
    CHECK(lake_create(&L, db, &bad, 0, &e) == MS_EINPUT && !L && !file_exists(db), "bad key_ids: %s", e.msg);
    bad = in;
    bad.synchronous = "sometimes";
    CHECK(lake_create(&L, db, &bad, 0, &e) == MS_EINPUT && strstr(e.msg, "normal"), "sync");
    /* v2: a commitment key is required; a signer needs checkpoint_every >= 1 */
    bad = in;
    bad.commit_key = NULL;
    CHECK(lake_create(&L, db, &bad, 0, &e) == MS_EINPUT && !L && !file_exists(db) &&
              strstr(e.msg, "commitment key"),
          "no commit key: %s", e.msg);
    bad = in;
    bad.signer = &key_a.s;
    bad.checkpoint_every = 0;
    CHECK(lake_create(&L, db, &bad, 0, &e) == MS_EINPUT && !L && !file_exists(db) &&
              strstr(e.msg, "checkpoint_every"),
          "checkpoint_every 0: %s", e.msg);
    char long_id[300];
    memset(long_id, 'x', 257);
    long_id[257] = 0;
    bad = in;
    bad.run_id = long_id;
    CHECK(lake_create(&L, db, &bad, 0, &e) == MS_EINPUT && !L && !file_exists(db), "run id of 257 bytes");

    CHECK(lake_create(&L, db, &in, 0, &e) == MS_OK, "%s", e.msg);
    CHECK(lake_begin(L, &e) == MS_OK, "%s", e.msg);
    lk_value pt[4] = {lk_int(0), lk_int(1), lk_text("transit"), lk_text("replay")};
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
    static const unsigned char params[4] = {1, 2, 3, 4};
    lk_value ps[6] = {lk_int(99), lk_null(), lk_int(0), lk_text("GET"),
                      lk_text("0000000000000000000000000000000000000000000000000000000000000000"),
                      lk_blob(params, sizeof params)};
    CHECK(lake_append(L, LKT_POLICY_SNAPSHOTS, 0, 1, ps, &e) == MS_EINPUT && strstr(e.msg, "sha256"),
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
    /* v2: a failed run adds no chain entry (v1 sealed it): identity, build,
     * poison_truth, behaviour_aggregates, and no seal. */
    CHECK(r.rows[LKT_BEHAVIOUR_AGGREGATES] == 1 && r.complete == 0 && !r.sealed && r.entries == 4 &&
              strcmp(r.status, "failed") == 0,
          "failed run verifies as an incomplete, unsealed prefix (%lld entries)", (long long)r.entries);

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
    /* v2: a fresh lake already holds the identity and build entries */
    CHECK(lake_verify(db, NULL, &r, &e) == MS_OK && r.total_rows == 0 && r.entries == 2 &&
              strcmp(r.status, "running") == 0 && !r.complete && !r.sealed,
          "fresh overwritten lake: %s", e.msg);
    tdir_rm(dir);
}

static void ledger_triggers_refuse(void)
{
    char dir[64], db[128], msg[256];
    ms_err e = {{0}};
    tdir_new(dir);
    path_in(db, sizeof db, dir, "t.db");
    build_opts o = signed_defaults();
    o.surveil = 1; /* every table holds rows */
    CHECK(build(db, &o, NULL, &e) == MS_OK, "%s", e.msg);
    /* tombstones and purges are empty until a purge: a copy gets a row of
     * each (an insert is allowed) so that the triggers have something to
     * refuse. */
    char db2[128];
    path_in(db2, sizeof db2, dir, "t2.db");
    CHECK(copy_lake(db, db2) == 0, "copy");
    CHECK(raw_exec(db2, "INSERT INTO tombstones VALUES (1, 3, 'hmac_keys', 0, 1, 1, zeroblob(32));"
                        "INSERT INTO purges VALUES (1, 'security', 1, 'test', 1, 1)", msg, sizeof msg) == SQLITE_OK,
          "insert: %s", msg);
    for (int t = 0; t < LKT_COUNT; t++) {
        char q[160];
        const char *p = lk_table_is_purge(t) ? db2 : db;
        snprintf(q, sizeof q, "UPDATE %s SET rowid = rowid", lk_tables[t].name);
        int rc = raw_exec(p, q, msg, sizeof msg);
        CHECK(rc == SQLITE_CONSTRAINT && strstr(msg, "append-only"), "%s update: %d %s",
              lk_tables[t].name, rc, msg);
        snprintf(q, sizeof q, "DELETE FROM %s", lk_tables[t].name);
        rc = raw_exec(p, q, msg, sizeof msg);
        CHECK(rc == SQLITE_CONSTRAINT && strstr(msg, lk_tables[t].name), "%s delete: %d %s",
              lk_tables[t].name, rc, msg);
    }
    /* v2: ledger, salts and checkpoints are append-only too */
    static const char *const more[] = {"ledger", "salts", "checkpoints"};
    for (int k = 0; k < 3; k++) {
        char q[160];
        snprintf(q, sizeof q, "UPDATE %s SET rowid = rowid", more[k]);
        CHECK(raw_exec(db, q, msg, sizeof msg) == SQLITE_CONSTRAINT && strstr(msg, "append-only"), "%s update: %s",
              more[k], msg);
        snprintf(q, sizeof q, "DELETE FROM %s", more[k]);
        CHECK(raw_exec(db, q, msg, sizeof msg) == SQLITE_CONSTRAINT && strstr(msg, more[k]), "%s delete: %s",
              more[k], msg);
    }
    CHECK(raw_exec(db, "UPDATE runs SET status = 'bogus'", msg, sizeof msg) == SQLITE_CONSTRAINT,
          "status CHECK");
    lake_verify_opts vo = {.trusted = &key_a.v};
    CHECK(lake_verify(db, &vo, NULL, &e) == MS_OK, "still intact: %s", e.msg);
    tdir_rm(dir);
}

/* ---- tests: tampering ----------------------------------------------------- */

typedef struct tamper_case {
    const char *name;
    const char *tables; /* for tamper(); NULL = plain SQL */
    const char *sql;
    int status;         /* expected */
    const char *msg1, *msg2; /* substrings the message must hold */
} tamper_case;

static void ledger_tampering(void)
{
    static const tamper_case cases[] = {
        /* behavioural rows are caught by their entry's commitment (v3: the
         * broadcast has no stored digest to disagree with first) */
        {"edit a broadcast", "environment_states",
         "UPDATE environment_states SET broadcast = replace(broadcast, 'k1', 'k2') "
         "WHERE step = 2 AND env = 1",
         MS_ECHECK, "environment_states step 2", "commitment"},
        {"replace a broadcast", "environment_states",
         "UPDATE environment_states SET broadcast = '{}' WHERE step = 2 AND env = 1",
         MS_ECHECK, "environment_states step 2", "commitment"},
        {"edit a reward", "joint_actions",
         "UPDATE joint_actions SET reward = reward + 1 WHERE step = 3 AND env = 2", MS_ECHECK,
         "joint_actions step 3", "commitment"},
        {"edit a NULL update_id", "di_credit_assignment",
         "UPDATE di_credit_assignment SET update_id = 9 WHERE update_id IS NULL AND rowid = "
         "(SELECT MIN(rowid) FROM di_credit_assignment WHERE update_id IS NULL)",
         MS_ECHECK, "di_credit_assignment step 5", "commitment"},
        {"edit an optimizer row", "optimizer_steps",
         "UPDATE optimizer_steps SET grad_norm = 0.5 WHERE update_id = 3 AND agent = 'GET'", MS_ECHECK,
         "optimizer_steps", "the rows and salt differ from the entry's commitment"},
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
         " e_get, e_open, e_bin, rules, reward, reward_raw) = (SELECT * FROM x WHERE "
         "x.env <> joint_actions.env) WHERE rowid IN (5, 6)",
         MS_ECHECK, "joint_actions step 1", "commitment"},
        {"replace a table by a view", NULL,
         "DROP TABLE anomalies; CREATE VIEW anomalies AS SELECT 1 AS step, 1 AS env, "
         "'GET' AS agent, 'x' AS detector, 'y' AS reason, NULL AS detail",
         MS_ECHECK, "anomalies is a view", NULL},
        {"add a trigger", NULL,
         "CREATE TRIGGER sneaky AFTER INSERT ON joint_actions BEGIN SELECT 1; END", MS_ECHECK,
         "unexpected trigger sneaky", "joint_actions"},
        {"add an index", NULL, "CREATE INDEX ja_step ON joint_actions(step)", MS_ECHECK, "unexpected index ja_step",
         NULL},
        {"change config_text", NULL, "UPDATE runs SET config_text = config_text || ' '",
         MS_ECHECK, "runs", "config_sha256"},
        {"change config_text and its hash", NULL,
         "UPDATE runs SET config_text = 'x', config_sha256 = "
         "'2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881'",
         MS_ECHECK, "runs", "genesis"},
        {"change the seed", NULL, "UPDATE runs SET seed = 8", MS_ECHECK, "runs", "genesis"},
        /* v2: the identity and build entries bind the rest of the identity */
        {"change the run name", NULL, "UPDATE runs SET name = 'other'", MS_ECHECK, "runs.identity", "identity"},
        {"change the version", NULL, "UPDATE runs SET version = '9.9'", MS_ECHECK, "runs.identity", NULL},
        {"change the key ids", NULL, "UPDATE runs SET key_ids = '[]'", MS_ECHECK, "runs.identity", NULL},
        {"change the dev_key flag", NULL, "UPDATE runs SET dev_key = 0", MS_ECHECK, "runs.identity", NULL},
        {"change the build facts", NULL, "UPDATE runs SET build_facts = '{}'", MS_ECHECK, "runs.build",
         "build facts"},
        {"change the origin", NULL, "UPDATE runs SET origin = 'marlsim/run-9'", MS_ECHECK, "origin is neither",
         "marlsim/run-1/reproduce"},
        {"a reproduction's origin is allowed", NULL, "UPDATE runs SET origin = 'marlsim/run-1/reproduce'", MS_OK,
         NULL, NULL},
        {"wall-clock columns are not hashed", NULL,
         "UPDATE runs SET started_at = '1999-01-01T00:00:00Z', finished_at = NULL", MS_OK, NULL, NULL},
        {"change the status of a finished run", NULL, "UPDATE runs SET status = 'interrupted'",
         MS_ECHECK, "runs seal", "hash differs"},
        {"change the final reward", NULL, "UPDATE runs SET eval_reward_per_step = 9",
         MS_ECHECK, "runs seal", NULL},
        {"change env_steps of a sealed run", NULL, "UPDATE runs SET env_steps = 25", MS_ECHECK, "runs seal", NULL},
        {"remove the seal", "ledger", "DELETE FROM ledger WHERE tbl = 'runs.seal'", MS_ECHECK,
         "status is 'completed'", "no seal"},
        {"move the seal before the end", "ledger",
         "UPDATE ledger SET tbl = 'runs.seal' WHERE seq = 2", MS_ECHECK, "ledger seq 2 is runs.seal",
         "runs.build"},
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
         "runs: ledger_rows says 45", "holds 44"},
        {"edit row_counts", NULL,
         "UPDATE runs SET row_counts = replace(row_counts, '\"poison_truth\":3', "
         "'\"poison_truth\":2')",
         MS_ECHECK, "row_counts is not the counts", "\"poison_truth\":3"},
        {"insert a forged checkpoint row", NULL,
         "INSERT INTO checkpoints VALUES (1, 44, 'completed', 'marlsim/run-1\n44\nAAAA\n')", MS_ECHECK,
         "checkpoint 1", NULL},
        {"add a second runs row", NULL,
         "INSERT INTO runs SELECT 'run-x', name, seed, config_text, config_sha256, version, build_facts, key_ids, "
         "dev_key, origin, status, genesis, head_hash, ledger_rows, row_counts, env_steps, eval_reward_per_step, "
         "started_at, finished_at, exported_class FROM runs",
         MS_ECHECK, "more than one row", NULL},
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
        CHECK(copy_lake(base, db) == 0, "copy");
        int trc = c->tables ? tamper(db, c->tables, c->sql) : raw_exec(db, c->sql, NULL, 0);
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
    /* The policy reader refuses a tampered snapshot too. */
    copy_lake(base, db);
    tamper_rows(db, "policy_snapshots",
                "UPDATE policy_snapshots SET params = zeroblob(40) WHERE agent = 'OPEN'");
    lake_policy_blob pol[3];
    CHECK(lake_read_policy(db, NULL, agents, 3, pol, NULL, &e) == MS_ECHECK && !pol[0].blob && !pol[1].blob &&
              !pol[2].blob,
          "tampered snapshot: %s", e.msg);
    CHECK(lake_read_policy(base, NULL, agents, 3, pol, NULL, &e) == MS_OK && pol[1].n == 40 &&
              ((unsigned char *)pol[1].blob)[0] == 3 * 3 + 1 && pol[1].eval_id == 3,
          "latest promoted snapshot is update 3's: %s", e.msg);
    lake_policy_release(pol, 3);
    const char *nobody[1] = {"NOBODY"};
    CHECK(lake_read_policy(base, NULL, nobody, 1, pol, NULL, &e) == MS_ECHECK && !pol[0].blob &&
              strstr(e.msg, "NOBODY"),
          "no snapshot of that agent: %s", e.msg);
    tdir_rm(dir);
}

/* The tail of an unfinished run: what a chain can and cannot see, and what
 * checkpoints add. */
static void ledger_tail_removal(void)
{
    char dir[64], base[128], db[128], cpf[160];
    ms_err e = {{0}};
    tdir_new(dir);
    path_in(base, sizeof base, dir, "base.db");
    path_in(db, sizeof db, dir, "t.db");
    build_opts o = defaults();
    o.finish = NULL; /* a run that crashed: status running, no seal */
    CHECK(build(base, &o, NULL, &e) == MS_OK, "%s", e.msg);
    lake_verify_report r0, r;
    CHECK(lake_verify(base, NULL, &r0, &e) == MS_OK && !r0.complete && !r0.sealed &&
              r0.entries == BASE_ENTRIES - 1,
          "base: %s", e.msg);

    /* Last entry (behaviour_aggregates), its row and (v2) its salt removed,
     * runs left alone. */
    static const char del[] = "DELETE FROM behaviour_aggregates; DELETE FROM salts WHERE seq = (SELECT MAX(seq) "
                              "FROM ledger); DELETE FROM ledger WHERE seq = (SELECT MAX(seq) FROM ledger);";
    static const char fix[] =
        "UPDATE runs SET ledger_rows = ledger_rows - 1, head_hash = (SELECT lower(hex(hash)) "
        "FROM ledger ORDER BY seq DESC LIMIT 1), row_counts = replace(row_counts, "
        "'\"behaviour_aggregates\":1', '\"behaviour_aggregates\":0')";
    copy_lake(base, db);
    CHECK(tamper(db, "behaviour_aggregates,salts,ledger", del) == 0, "tamper");
    int rc = lake_verify(db, NULL, &r, &e);
    CHECK(rc == MS_ECHECK && strstr(e.msg, "runs") && strstr(e.msg, "tail"),
          "tail removed, runs left: %d %s", rc, e.msg);

    /* Also rewrite runs' head and counts: indistinguishable from a run that
     * crashed one commit earlier. A chain cannot catch this (SPEC §5: the
     * external checkpoint does); assert exactly that limit. */
    CHECK(raw_exec(db, fix, NULL, 0) == 0, "fix runs");
    rc = lake_verify(db, NULL, &r, &e);
    CHECK(rc == MS_OK && r.entries == r0.entries - 1 && r.rows[LKT_BEHAVIOUR_AGGREGATES] == 0,
          "undetectable without a checkpoint: %d %s", rc, e.msg);
    /* ...but claiming the shortened run completed is caught (no seal). */
    CHECK(raw_exec(db, "UPDATE runs SET status = 'completed'", NULL, 0) == 0, "status");
    CHECK(lake_verify(db, NULL, &r, &e) == MS_ECHECK && strstr(e.msg, "no seal"), "%s", e.msg);
    /* v2: an unsealed run's env_steps must be its last update's. */
    copy_lake(base, db);
    CHECK(raw_exec(db, "UPDATE runs SET env_steps = 20", NULL, 0) == 0, "env_steps");
    CHECK(lake_verify(db, NULL, &r, &e) == MS_ECHECK && strstr(e.msg, "env_steps says 20") &&
              strstr(e.msg, "at 24"),
          "unsealed env_steps: %s", e.msg);

    /* v2, with a checkpoint every entry (and PATH.checkpoint): the same
     * removal is caught by the checkpoint at the removed size... */
    o.signer = &key_a;
    o.cp_every = 1;
    unlink(base);
    CHECK(build(base, &o, NULL, &e) == MS_OK, "%s", e.msg);
    copy_lake(base, db);
    CHECK(tamper(db, "behaviour_aggregates,salts,ledger", del) == 0 && raw_exec(db, fix, NULL, 0) == 0, "tamper");
    CHECK(lake_verify(db, NULL, &r, &e) == MS_ECHECK && strstr(e.msg, "tail was removed"), "checkpointed tail: %s",
          e.msg);
    /* ...unless the attacker drops that checkpoint too: an unfinished run's
     * newest checkpoint may be periodic, so even the trusted key accepts
     * the shorter lake (the documented limit)... */
    CHECK(tamper(db, "checkpoints", "DELETE FROM checkpoints WHERE cp_id = (SELECT MAX(cp_id) FROM checkpoints)") == 0,
          "drop the last checkpoint");
    lake_verify_opts vo = {.trusted = &key_a.v};
    CHECK(lake_verify(db, &vo, &r, &e) == MS_OK && r.authenticated && r.entries == BASE_ENTRIES - 2,
          "the limit: %s", e.msg);
    /* ...which the checkpoint kept outside the lake reveals. */
    size_t cl;
    snprintf(cpf, sizeof cpf, "%s.checkpoint", base);
    char *cp = (char *)read_file(cpf, &cl);
    vo.checkpoint = cp;
    vo.checkpoint_len = cl;
    CHECK(cp && lake_verify(db, &vo, &r, &e) == MS_ECHECK && strstr(e.msg, "truncated"), "external: %s", e.msg);
    free(cp);
    tdir_rm(dir);
}

/* ---- tests: hostile files ------------------------------------------------- */

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
    lake_policy_blob pol[1];
    CHECK(lake_read_policy(path, NULL, agents, 1, pol, NULL, &e) == MS_EINPUT && !pol[0].blob, "%s: policy",
          what);
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
    sqlite3_exec(h, "PRAGMA journal_mode = WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1);", NULL, NULL, NULL);
    sqlite3_close(h);
    expect_unreadable(p, "an SQLite db that is not a lake", "not a marlsim lake");

    path_in(lake_db, sizeof lake_db, dir, "lake.db");
    build_opts o = defaults();
    CHECK(build(lake_db, &o, NULL, &e) == MS_OK, "%s", e.msg);

    /* v4 is this build's version: another one (v3: behavioural salts
     * only, v2: before the byte cuts, v5: a later one) is unsupported */
    path_in(p, sizeof p, dir, "v5.db");
    copy_file(lake_db, p);
    raw_exec(p, "PRAGMA user_version = 5", NULL, 0);
    expect_unreadable(p, "user_version 5", "unsupported lake schema version 5");
    path_in(p, sizeof p, dir, "v3.db");
    copy_file(lake_db, p);
    raw_exec(p, "PRAGMA user_version = 3", NULL, 0);
    expect_unreadable(p, "user_version 3", "unsupported lake schema version 3");
    path_in(p, sizeof p, dir, "v2.db");
    copy_file(lake_db, p);
    raw_exec(p, "PRAGMA user_version = 2", NULL, 0);
    expect_unreadable(p, "user_version 2", "unsupported lake schema version 2");
    path_in(p, sizeof p, dir, "v1.db");
    copy_file(lake_db, p);
    raw_exec(p, "PRAGMA user_version = 1", NULL, 0);
    expect_unreadable(p, "user_version 1", "unsupported lake schema version 1");
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

/* ---- tests: determinism and diff ------------------------------------------ */

static void ledger_determinism_and_diff(void)
{
    char dir[64], a[128], b[128], c[128];
    build_out h1, h2, h3;
    ms_err e = {{0}};
    lake_diff_report d;
    tdir_new(dir);
    path_in(a, sizeof a, dir, "a.db");
    path_in(b, sizeof b, dir, "b.db");
    path_in(c, sizeof c, dir, "c.db");
    build_opts o = defaults();
    CHECK(build(a, &o, &h1, &e) == MS_OK, "%s", e.msg);
    o.tx_every = 3; /* transaction boundaries are not part of the ledger */
    CHECK(build(b, &o, &h2, &e) == MS_OK, "%s", e.msg);
    CHECK(strcmp(h1.head, h2.head) == 0, "same inputs, same head: %s vs %s", h1.head, h2.head);
    CHECK(lake_diff(a, b, 0, &d, &e) == MS_OK && d.identical && d.same_genesis && !d.build_differs &&
              d.entries_a == d.entries_b && d.entries_a == BASE_ENTRIES,
          "identical: %s %s", e.msg, d.what);

    /* different run id: different chain, same content */
    o = defaults();
    o.run_id = "run-2";
    CHECK(build(c, &o, &h3, &e) == MS_OK, "%s", e.msg);
    CHECK(strcmp(h1.head, h3.head) != 0, "run id enters the chain");
    CHECK(lake_diff(a, c, 0, &d, &e) == MS_OK && !d.same_genesis, "%s", e.msg);
    /* v2: the run id is in the identity entry, seq 1 (v1: in the seal) */
    CHECK(!d.identical && d.seq == 1 && strcmp(d.table, "runs.identity") == 0 && strstr(d.what, "run_id"),
          "the identity differs: %s (%s)", d.what, d.table);

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
        CHECK(build(c, &o, &h3, &e) == MS_OK, "%s", e.msg);
        CHECK(strcmp(h1.head, h3.head) != 0, "%s: tweak changes the head", tw[k].tname);
        int rc = lake_diff(a, c, 0, &d, &e);
        CHECK(rc == MS_OK && !d.identical && d.same_genesis, "%s: rc %d %s", tw[k].tname, rc, e.msg);
        CHECK(strcmp(d.table, tw[k].tname) == 0 && d.step == tw[k].step && d.env == tw[k].env &&
                  strcmp(d.agent, tw[k].agent) == 0 && strstr(d.what, tw[k].column),
              "%s: first divergent row: table %s step %lld env %lld agent '%s' (%s)", tw[k].tname,
              d.table, (long long)d.step, (long long)d.env, d.agent, d.what);
        CHECK(d.seq > 2, "seq %lld", (long long)d.seq);
    }
    CHECK(d.seq == 4, "environment_states step 0 is entry 4: %lld", (long long)d.seq);

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
              strcmp(d.table, "runs.seal") == 0 && strstr(d.what, "entry-count"),
          "%lld vs %lld: %s", (long long)d.entries_a, (long long)d.entries_b, d.what);
    CHECK(lake_diff(c, c, 0, &d, &e) == MS_OK && d.identical, "self: %s", d.what);
    /* ... which prefix mode accepts as an identical prefix, in that order only */
    CHECK(lake_diff(c, a, LAKE_DIFF_PREFIX, &d, &e) == MS_OK && d.identical && d.prefix &&
              d.entries_b == d.entries_a + 1,
          "prefix: %s (%lld of %lld)", d.what, (long long)d.entries_a, (long long)d.entries_b);
    /* v2: the seal is an entry like any other, so a finished a against its
     * unfinished b is not a prefix (v1 treated a's seal as outside the
     * comparison and called them identical). */
    CHECK(lake_diff(a, c, LAKE_DIFF_PREFIX, &d, &e) == MS_OK && !d.identical && !d.prefix &&
              strcmp(d.table, "runs.seal") == 0,
          "a longer than b in prefix mode: %s", d.what);
    /* v2: a failed run adds no seal: its chain is a prefix of the completed
     * run's; a tweak inside the prefix is still found */
    unlink(c);
    o = defaults();
    o.finish = "failed";
    CHECK(build(c, &o, NULL, &e) == MS_OK, "%s", e.msg);
    CHECK(lake_diff(c, a, LAKE_DIFF_PREFIX, &d, &e) == MS_OK && d.identical && d.prefix, "failed prefix: %s",
          d.what);
    CHECK(lake_diff(c, a, 0, &d, &e) == MS_OK && !d.identical && strstr(d.what, "entry-count") &&
              strcmp(d.table, "runs.seal") == 0,
          "without prefix mode the completed run has one more entry: %s", d.what);
    unlink(c);
    o = defaults();
    o.finish = NULL;
    o.tweak_table = LKT_JOINT_ACTIONS;
    o.tweak_step = 2;
    o.tweak_env = 1;
    CHECK(build(c, &o, NULL, &e) == MS_OK, "%s", e.msg);
    CHECK(lake_diff(c, a, LAKE_DIFF_PREFIX, &d, &e) == MS_OK && !d.identical && d.step == 2 && d.env == 1,
          "divergent prefix: %s", d.what);
    /* another build of the same run: the same run (only the head differs);
     * v2 reports the build difference instead of counting it */
    unlink(c);
    o = defaults();
    o.build_facts = "{\"cc\":\"clang\",\"sqlite\":\"3.46.0\"}";
    CHECK(build(c, &o, &h3, &e) == MS_OK, "%s", e.msg);
    CHECK(strcmp(h1.head, h3.head) != 0, "build facts are chained");
    CHECK(lake_diff(a, c, 0, &d, &e) == MS_OK && d.identical && d.build_differs &&
              strstr(d.build_what, "build_facts") && strstr(d.build_what, "clang"),
          "build facts are not the run: %s / %s", d.what, d.build_what);
    unlink(c);
    o = defaults();
    o.version = "0.2-test";
    CHECK(build(c, &o, &h3, &e) == MS_OK, "%s", e.msg);
    CHECK(strcmp(h1.head, h3.head) != 0, "the version is chained");
    CHECK(lake_diff(a, c, 0, &d, &e) == MS_OK && d.identical && d.build_differs &&
              strstr(d.build_what, "version") && strstr(d.build_what, "0.2-test"),
          "the version is not the run: %s / %s", d.what, d.build_what);
    tdir_rm(dir);
}

/* ---- tests: crash safety -------------------------------------------------- */

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
    /* v2: + the identity and build entries */
    CHECK(r.rows[LKT_ENVIRONMENT_STATES] == 4 * 4 && r.rows[LKT_AGENT_OBSERVATIONS] == 4 * 12 &&
              r.rows[LKT_DI_CREDIT_ASSIGNMENT] == 4 * 12 && r.entries == 2 + 16,
          "the committed prefix: %lld states, %lld entries", (long long)r.rows[0],
          (long long)r.entries);
    unsigned char *m1 = read_file(db, &n1), *x1 = read_file(wal, &w1);
    CHECK(m0 && m1 && x0 && x1 && n0 == n1 && w0 == w1 && !memcmp(m0, m1, n0) &&
              !memcmp(x0, x1, w0),
          "verify wrote nothing to the lake or its WAL");
    free(m0), free(m1), free(x0), free(x1);
    lake_run_meta m;
    CHECK(lake_read_run(db, &m, &e) == MS_OK && strcmp(m.status, "running") == 0 &&
              m.ledger_rows == 18 && strcmp(m.head_hash, r.head) == 0,
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
    CHECK(lake_verify(db, NULL, &r, &e) == MS_OK && r.rows[LKT_JOINT_ACTIONS] == 4 && r.entries == 2 + 4,
          "reader sees the committed prefix only: %s", e.msg);
    CHECK(lake_commit(L, &e) == MS_OK, "%s", e.msg);
    CHECK(lake_verify(db, NULL, &r, &e) == MS_OK && r.rows[LKT_JOINT_ACTIONS] == 8 &&
              strcmp(r.head, lake_head_hex(L)) == 0,
          "then the next commit: %s", e.msg);
    CHECK(lake_finish(L, "interrupted", 8, 0, 0, &e) == MS_OK, "%s", e.msg);
    lake_close(L);
    /* v2: an interrupted run is not sealed (v1 sealed it) */
    CHECK(lake_verify(db, NULL, &r, &e) == MS_OK && !r.sealed && !r.complete && r.entries == 2 + 8 &&
              strcmp(r.status, "interrupted") == 0,
          "interrupted: %s", e.msg);
    tdir_rm(dir);
}

/* An SQLite failure mid-transaction (forced with a trigger another
 * connection adds): the transaction is rolled back, the handle refuses
 * further appends, and lake_finish still records the end of the committed
 * prefix (v2: as a status, with no chain entry). */
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
    lk_value pt[4] = {lk_int(0), lk_int(1), lk_text("transit"), lk_text("replay")};
    CHECK(lake_append(L, LKT_POISON_TRUTH, 0, 1, pt, &e) == MS_EIO, "append after failure");
    CHECK(lake_begin(L, &e) == MS_EIO && lake_commit(L, &e) == MS_EIO, "begin/commit refused");
    CHECK(lake_finish(L, "completed", 8, 0, 0, &e) == MS_EINPUT, "a failed lake cannot be completed");
    CHECK(lake_finish(L, "failed", 8, 0, 0, &e) == MS_OK, "finish after failure: %s", e.msg);
    CHECK(strcmp(lake_head_hex(L), committed_head) == 0, "finish added no entry");
    lake_close(L);
    CHECK(lake_verify(db, NULL, NULL, &e) == MS_ECHECK && strstr(e.msg, "unexpected trigger boom"),
          "the foreign trigger is flagged: %s", e.msg);
    CHECK(raw_exec(db, "DROP TRIGGER boom", NULL, 0) == SQLITE_OK, "drop trigger");
    lake_verify_report r;
    CHECK(lake_verify(db, NULL, &r, &e) == MS_OK, "committed prefix verifies: %s", e.msg);
    CHECK(r.rows[LKT_ENVIRONMENT_STATES] == 8 && r.rows[LKT_JOINT_ACTIONS] == 8 && r.entries == 2 + 8 &&
              !r.sealed && strcmp(r.status, "failed") == 0 && strcmp(r.head, committed_head) == 0,
          "rows %lld entries %lld", (long long)r.rows[0], (long long)r.entries);
    tdir_rm(dir);
}

/* ---- tests: salted commitments ------------------------------------------- */

/* An integer query over lake a with lake b attached as "o". */
static int64_t raw_int2(const char *a, const char *b, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    char q[300];
    int64_t v = INT64_MIN;
    snprintf(q, sizeof q, "ATTACH 'file:%s?mode=ro' AS o", b);
    if (sqlite3_open_v2(a, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) == SQLITE_OK &&
        sqlite3_exec(db, q, NULL, NULL, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return v;
}

/* Salts of lake path that equal the documented HMAC under key. */
static int64_t salts_matching(const char *path, const unsigned char key[32], const char *run_id)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    int64_t n = 0;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT seq, salt FROM salts ORDER BY seq", -1, &st, NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            unsigned char want[32];
            salt_of(key, run_id, sqlite3_column_int64(st, 0), want);
            n += sqlite3_column_bytes(st, 1) == 32 && !memcmp(sqlite3_column_blob(st, 1), want, 32);
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return n;
}

/* The test's own recomputation of every commitment and hash (canon.h's
 * layout, straight SHA-256): the number of entries whose stored commitment
 * or hash differs, -1 when it could not run; head (65) gets the last hash. */
static int64_t chain_mismatches(const char *path, char head[65])
{
    sqlite3 *db;
    unsigned char (*hs)[32] = NULL;
    int64_t mm = -1, n = 0;
    head[0] = 0;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK && rechain(db, 0, &mm, &hs, &n) == 0) {
        if (n)
            hex(hs[n - 1], 32, head);
    } else {
        mm = -1;
    }
    free(hs);
    sqlite3_close(db);
    return mm;
}

static void ledger_salted_commitments(void)
{
    char dir[64], a[128], b[128], a2[128], db[128], ha[65];
    build_out oa, ob, oa2;
    ms_err e = {{0}};
    tdir_new(dir);
    path_in(a, sizeof a, dir, "a.db");
    path_in(b, sizeof b, dir, "b.db");
    path_in(a2, sizeof a2, dir, "a2.db");
    path_in(db, sizeof db, dir, "t.db");
    build_opts o = defaults();
    CHECK(build(a, &o, &oa, &e) == MS_OK, "%s", e.msg);
    o.commit_key = ckey_b;
    CHECK(build(b, &o, &ob, &e) == MS_OK, "%s", e.msg);
    o.commit_key = ckey_a;
    o.tx_every = 3;
    CHECK(build(a2, &o, &oa2, &e) == MS_OK, "%s", e.msg);

    /* What verify recomputes, recomputed here without the library's hashing:
     * every salt is the documented HMAC of the commitment key, every
     * commitment SHA-256(salt || rows), every hash chains. */
    CHECK(salts_matching(a, ckey_a, "run-1") == BASE_SALTED, "salts of a are HMACs of key A");
    CHECK(salts_matching(a, ckey_b, "run-1") == 0, "...not of key B");
    CHECK(chain_mismatches(a, ha) == 0 && strcmp(ha, oa.head) == 0, "independent chain: head %s vs %s", ha, oa.head);

    /* The salt keys the commitment: another key, other salts, commitments
     * and heads for the same rows; the same key, the same ones. */
    CHECK(salts_matching(b, ckey_b, "run-1") == BASE_SALTED, "salts of b are HMACs of key B");
    CHECK(raw_int2(a, b, "SELECT COUNT(*) FROM main.salts m JOIN o.salts x USING (seq) WHERE m.salt <> x.salt") ==
              BASE_SALTED,
          "every salt differs");
    CHECK(raw_int2(a, b, "SELECT COUNT(*) FROM main.ledger m JOIN o.ledger x USING (seq) WHERE m.commitment <> "
                         "x.commitment") == BASE_SALTED,
          "every commitment differs");
    CHECK(raw_int2(a, b, "SELECT COUNT(*) FROM main.ledger m JOIN o.ledger x USING (seq) WHERE m.hash = x.hash") == 2,
          "hashes agree only before the first salted entry (identity, build)");
    CHECK(strcmp(oa.head, ob.head) != 0, "heads differ");
    CHECK(raw_int2(a, a2, "SELECT COUNT(*) FROM main.salts m JOIN o.salts x USING (seq) WHERE m.salt = x.salt") ==
                  BASE_SALTED &&
              raw_int2(a, a2, "SELECT COUNT(*) FROM main.ledger m JOIN o.ledger x USING (seq) WHERE m.commitment "
                              "IS x.commitment AND m.hash = x.hash") == BASE_ENTRIES &&
              strcmp(oa.head, oa2.head) == 0,
          "same key: same salts, commitments and heads");
    lake_diff_report d;
    CHECK(lake_diff(a, b, 0, &d, &e) == MS_OK && d.identical, "the salt is not content: %s", d.what);

    /* Each edit, with the triggers dropped and restored, is caught. seq 23
     * is joint_actions step 3, seq 3 hmac_keys (security: salted too since
     * schema v4), seq 1 the identity entry (never salted). */
    static const struct {
        const char *name, *tables, *sql, *msg;
    } cases[] = {
        {"edit a row", "joint_actions", "UPDATE joint_actions SET e_bin = 1 - e_bin WHERE step = 3 AND env = 0",
         "the rows and salt differ from the entry's commitment"},
        {"edit a salt", "salts", "UPDATE salts SET salt = zeroblob(32) WHERE seq = 23",
         "the rows and salt differ from the entry's commitment"},
        {"swap two salts", "salts",
         "UPDATE salts SET salt = (SELECT salt FROM salts s WHERE s.seq = 47 - salts.seq) WHERE seq IN (23, 24)",
         "the rows and salt differ from the entry's commitment"},
        {"delete a salt", "salts", "DELETE FROM salts WHERE seq = 23", "its salt is missing"},
        {"a salt of the wrong length", "salts", "UPDATE salts SET salt = zeroblob(31) WHERE seq = 23",
         "not 32 bytes"},
        {"add a salt row for an unsalted entry", "salts", "INSERT INTO salts VALUES (1, zeroblob(32))",
         "salts were inserted"},
        {"add a salt row beyond the ledger", "salts", "INSERT INTO salts VALUES (1000, zeroblob(32))",
         "salts were inserted"},
        {"edit the stored commitment", "ledger", "UPDATE ledger SET commitment = zeroblob(32) WHERE seq = 23",
         "the rows and salt differ from the entry's commitment"},
        {"remove a commitment", "ledger", "UPDATE ledger SET commitment = NULL WHERE seq = 23",
         "without a 32-byte commitment"},
        {"another commitment on a security entry", "ledger", "UPDATE ledger SET commitment = zeroblob(32) WHERE seq = 3",
         "the rows and salt differ from the entry's commitment"},
        {"a commitment on the identity entry", "ledger", "UPDATE ledger SET commitment = zeroblob(32) WHERE seq = 1",
         "a commitment on an entry over the runs row"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        lake_verify_report r;
        copy_lake(a, db);
        CHECK(tamper(db, cases[k].tables, cases[k].sql) == 0, "%s: the tampering failed", cases[k].name);
        memset(&e, 0, sizeof e);
        int rc = lake_verify(db, NULL, &r, &e);
        CHECK(rc == MS_ECHECK && strstr(e.msg, cases[k].msg), "%s: rc %d (%s)", cases[k].name, rc, e.msg);
        CHECK(rc != MS_ECHECK || r.table[0], "%s: no table named", cases[k].name);
    }
    /* the edited row's entry is the one named */
    copy_lake(a, db);
    tamper(db, "joint_actions", cases[0].sql);
    lake_verify_report r;
    CHECK(lake_verify(db, NULL, &r, &e) == MS_ECHECK && r.seq == 23 && !strcmp(r.table, "joint_actions") &&
              strstr(e.msg, "ledger seq 23"),
          "implicated: %s seq %lld (%s)", r.table, (long long)r.seq, e.msg);
    tdir_rm(dir);
}

/* ---- tests: signed checkpoints ---------------------------------------------- */

typedef struct keyids_seen {
    int calls;
    char last[64];
    int refuse;
} keyids_seen;

static int check_key_id_cb(void *ctx, const char *key_id, ms_err *e)
{
    keyids_seen *s = ctx;
    s->calls++;
    snprintf(s->last, sizeof s->last, "%s", key_id);
    return s->refuse ? ms_fail(e, MS_EINPUT, "test keyring lacks key %s", key_id) : MS_OK;
}

static void ledger_checkpoints_signed(void)
{
    char dir[64], db[128], plain[128], cpf[160], b64[64];
    build_out bo;
    ms_err e = {{0}};
    tdir_new(dir);
    path_in(db, sizeof db, dir, "s.db");
    path_in(plain, sizeof plain, dir, "p.db");
    build_opts o = signed_defaults();
    CHECK(build(db, &o, &bo, &e) == MS_OK, "%s", e.msg);

    /* The entry hashes, read raw; roots computed here. */
    sqlite3 *h;
    sqlite3_stmt *st;
    unsigned char hashes[BASE_ENTRIES + 1][32];
    int64_t nh = 0;
    sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL);
    sqlite3_prepare_v2(h, "SELECT hash FROM ledger ORDER BY seq", -1, &st, NULL);
    while (sqlite3_step(st) == SQLITE_ROW && nh <= BASE_ENTRIES)
        if (sqlite3_column_bytes(st, 0) == 32)
            memcpy(hashes[nh++], sqlite3_column_blob(st, 0), 32);
    sqlite3_finalize(st);
    CHECK(nh == BASE_ENTRIES, "%lld entries", (long long)nh);

    /* Rows at 3, 6, ..., 42, then the final one at 44 stating the end. */
    _Static_assert(BASE_ENTRIES % 3 != 0, "the final checkpoint is not a periodic one");
    int64_t want_size = 3, rows = 0;
    char newest[2048] = "";
    size_t newest_len = 0;
    sqlite3_prepare_v2(h, "SELECT cp_id, tree_size, status, note FROM checkpoints ORDER BY cp_id", -1, &st, NULL);
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0), size = sqlite3_column_int64(st, 1);
        const char *status = (const char *)sqlite3_column_text(st, 2);
        const char *note = (const char *)sqlite3_column_text(st, 3);
        size_t nl = (size_t)sqlite3_column_bytes(st, 3), tl = 0;
        int final = want_size > BASE_ENTRIES / 3 * 3;
        rows++;
        CHECK(id == rows && size == (final ? BASE_ENTRIES : want_size), "checkpoint %lld: size %lld", (long long)id,
              (long long)size);
        CHECK(final ? status && !strcmp(status, "completed") : status == NULL, "checkpoint %lld status %s",
              (long long)id, status ? status : "NULL");
        CHECK(ms_note_open(note, nl, &key_a.v, &tl, &e) == MS_OK, "checkpoint %lld opens: %s", (long long)id, e.msg);
        CHECK(ms_note_open(note, nl, &key_b.v, NULL, &e) == MS_ECHECK, "checkpoint %lld: another key", (long long)id);
        ms_checkpoint cp;
        unsigned char root[32];
        CHECK(ms_checkpoint_parse(note, tl, &cp, &e) == MS_OK, "parse: %s", e.msg);
        CHECK(!strcmp(cp.origin, "marlsim/run-1") && (int64_t)cp.size == size, "checkpoint %lld: %s %llu",
              (long long)id, cp.origin, (unsigned long long)cp.size);
        CHECK(size <= nh && root_of((const unsigned char (*)[32])hashes, size, root) == 0 &&
                  !memcmp(root, cp.root, 32),
              "checkpoint %lld: root over the first %lld entry hashes", (long long)id, (long long)size);
        CHECK(final ? cp.next == 1 && !strcmp(cp.ext[0], "status: completed") : cp.next == 0,
              "checkpoint %lld: %d extension lines", (long long)id, cp.next);
        if (nl < sizeof newest) {
            memcpy(newest, note, nl);
            newest_len = nl;
        }
        want_size += 3;
    }
    sqlite3_finalize(st);
    sqlite3_close(h);
    CHECK(rows == BASE_ENTRIES / 3 + 1, "%lld checkpoint rows", (long long)rows);

    /* PATH.checkpoint is the newest note, byte for byte; the writer's
     * lake_checkpoint says the same size and root. */
    size_t fl;
    snprintf(cpf, sizeof cpf, "%s.checkpoint", db);
    char *file = (char *)read_file(cpf, &fl);
    CHECK(file && fl == newest_len && !memcmp(file, newest, fl), "PATH.checkpoint is the newest note (%zu vs %zu)",
          fl, newest_len);
    free(file);
    unsigned char root44[32];
    root_of((const unsigned char (*)[32])hashes, BASE_ENTRIES, root44);
    ms_b64_encode(root44, 32, b64);
    CHECK(bo.cp_size == BASE_ENTRIES && !strcmp(bo.cp_root, b64), "lake_checkpoint %lld %s", (long long)bo.cp_size,
          bo.cp_root);

    /* verify: the trusted key authenticates; another key is refused; no key
     * checks the checkpoints against the chain but authenticates nothing. */
    lake_verify_report r;
    lake_verify_opts vo = {.trusted = &key_a.v};
    char signer[160];
    snprintf(signer, sizeof signer, "marlsim-test+%02x%02x%02x%02x", key_a.v.key_id[0], key_a.v.key_id[1],
             key_a.v.key_id[2], key_a.v.key_id[3]);
    CHECK(lake_verify(db, &vo, &r, &e) == MS_OK && r.authenticated && r.complete && r.checkpoints == BASE_ENTRIES / 3 + 1 &&
              r.cp_size == BASE_ENTRIES && !strcmp(r.cp_status, "completed") && !strcmp(r.cp_root, b64) &&
              !strcmp(r.signer, signer) && !r.dev_key && !r.unsigned_why[0] && !r.foreign,
          "trusted: %s (auth %d, %lld checkpoints, signer %s)", e.msg, r.authenticated, (long long)r.checkpoints,
          r.signer);
    vo.trusted = &key_b.v;
    int rc = lake_verify(db, &vo, &r, &e);
    CHECK(rc == MS_ECHECK && strstr(e.msg, "not signed by the trusted key") && strstr(e.msg, "other-test") &&
              !r.authenticated && r.foreign,
          "another key: %d %s", rc, e.msg);
    CHECK(lake_verify(db, NULL, &r, &e) == MS_OK && !r.authenticated && r.checkpoints == BASE_ENTRIES / 3 + 1, "no opts: %s", e.msg);
    lake_verify_opts none = {0};
    CHECK(lake_verify(db, &none, &r, &e) == MS_OK && !r.authenticated, "no trusted key: %s", e.msg);

    /* The verified entry hashes are the ones read raw. */
    unsigned char (*vh)[32] = NULL;
    vo.trusted = &key_a.v;
    CHECK(lake_read_entry_hashes(db, &vo, &vh, &r, &e) == MS_OK && r.entries == BASE_ENTRIES && vh &&
              !memcmp(vh, hashes, sizeof hashes[0] * BASE_ENTRIES),
          "entry hashes: %s", e.msg);
    free(vh);

    /* check_key_id: asked for the identity's key ids; a refusal is returned. */
    keyids_seen seen = {0, "", 0};
    vo.check_key_id = check_key_id_cb;
    vo.check_ctx = &seen;
    CHECK(lake_verify(db, &vo, &r, &e) == MS_OK && seen.calls == 1 && !strcmp(seen.last, "k1"), "key ids: %d %s",
          seen.calls, seen.last);
    seen.refuse = 1;
    CHECK(lake_verify(db, &vo, &r, &e) == MS_EINPUT && strstr(e.msg, "lacks key k1"), "refused key id: %s", e.msg);

    /* Without a signer there are no checkpoints, so the trusted key cannot
     * vouch for the lake: intact, not authenticated, and why (the caller
     * fails it); the development key's ids are not asked for. */
    o = defaults();
    CHECK(build(plain, &o, NULL, &e) == MS_OK, "%s", e.msg);
    seen.calls = 0;
    seen.refuse = 1;
    rc = lake_verify(plain, &vo, &r, &e);
    CHECK(rc == MS_OK && !r.authenticated && strstr(r.unsigned_why, "development key") && r.checkpoints == 0 &&
              seen.calls == 0,
          "dev key lake: %d %s / %s", rc, e.msg, r.unsigned_why);
    tdir_rm(dir);
}

/* ---- tests: the re-chain attack -------------------------------------------- */

#define EDIT_SQL "UPDATE joint_actions SET reward = reward + 1 WHERE step = 3 AND env = 2"

static void ledger_rechain_attack(void)
{
    char dir[64], plain[128], signd[128], db[128], h2[65];
    build_out bp;
    ms_err e = {{0}};
    lake_verify_report r;
    lake_diff_report d;
    lake_verify_opts trusted = {.trusted = &key_a.v};
    tdir_new(dir);
    path_in(plain, sizeof plain, dir, "plain.db");
    path_in(signd, sizeof signd, dir, "signed.db");
    path_in(db, sizeof db, dir, "t.db");
    build_opts o = defaults();
    CHECK(build(plain, &o, &bp, &e) == MS_OK, "%s", e.msg);
    o = signed_defaults();
    CHECK(build(signd, &o, NULL, &e) == MS_OK, "%s", e.msg);

    /* Baseline: against a bare chain (no checkpoints) the attack works —
     * verify without a key accepts the rewritten lake. */
    copy_lake(plain, db);
    CHECK(attack(db, "joint_actions", EDIT_SQL, CP_KEEP, NULL) == 0, "the attack ran");
    int rc = lake_verify(db, NULL, &r, &e);
    CHECK(rc == MS_OK && r.entries == BASE_ENTRIES && r.complete, "a re-chained bare lake verifies: %d %s", rc,
          e.msg);
    CHECK(strcmp(r.head, bp.head) != 0 && chain_mismatches(db, h2) == 0 && !strcmp(h2, r.head),
          "...with another head, consistently re-chained");
    CHECK(lake_diff(plain, db, 0, &d, &e) == MS_OK && !d.identical && !strcmp(d.table, "joint_actions") &&
              d.step == 3 && d.env == 2 && strstr(d.what, "reward"),
          "...and the row really is different: %s", d.what);
    /* a trusted key does not vouch for it: no checkpoint can vouch for a
     * bare chain (intact, not authenticated: the caller fails it) */
    rc = lake_verify(db, &trusted, &r, &e);
    CHECK(rc == MS_OK && !r.authenticated && strstr(r.unsigned_why, "development key"),
          "trusted key on a bare chain: %d %s / %s", rc, e.msg, r.unsigned_why);

    /* (i) With checkpoints, leaving them: their roots contradict the new
     * chain, even without a key. */
    copy_lake(signd, db);
    CHECK(attack(db, "joint_actions", EDIT_SQL, CP_KEEP, NULL) == 0, "the attack ran");
    rc = lake_verify(db, NULL, &r, &e);
    CHECK(rc == MS_ECHECK && strstr(e.msg, "states a root the ledger does not have") &&
              strstr(e.msg, "tree size 24") && !strcmp(r.table, "checkpoints"),
          "(i) kept checkpoints: %d %s", rc, e.msg);
    CHECK(lake_verify(db, &trusted, &r, &e) == MS_ECHECK, "(i) trusted: %s", e.msg);

    /* (ii) Deleting every checkpoint: the trusted key wants one; without a
     * key it verifies, unauthenticated. */
    copy_lake(signd, db);
    CHECK(attack(db, "joint_actions", EDIT_SQL, CP_DELETE, NULL) == 0, "the attack ran");
    rc = lake_verify(db, &trusted, &r, &e);
    CHECK(rc == MS_ECHECK && strstr(e.msg, "no signed checkpoint") && !r.authenticated && !r.foreign,
          "(ii) trusted: %d %s", rc, e.msg);
    rc = lake_verify(db, NULL, &r, &e);
    CHECK(rc == MS_OK && !r.authenticated && r.checkpoints == 0, "(ii) no key: %d %s", rc, e.msg);

    /* (iii) Re-signing every checkpoint with the attacker's key: the
     * trusted key refuses them; without a key it verifies, unauthenticated
     * (and names the attacker's key as the signer). */
    copy_lake(signd, db);
    CHECK(attack(db, "joint_actions", EDIT_SQL, CP_RESIGN, &key_m.s) == 0, "the attack ran");
    rc = lake_verify(db, &trusted, &r, &e);
    CHECK(rc == MS_ECHECK && strstr(e.msg, "not signed by the trusted key") && strstr(e.msg, "mallory") &&
              !r.authenticated && r.foreign,
          "(iii) trusted: %d %s", rc, e.msg);
    rc = lake_verify(db, NULL, &r, &e);
    CHECK(rc == MS_OK && !r.authenticated && r.checkpoints == 15 && !strncmp(r.signer, "mallory+", 8),
          "(iii) no key: %d %s (%s)", rc, e.msg, r.signer);
    /* trust is in the key the caller names: the attacker's own key vouches
     * for its rewrite */
    lake_verify_opts mallory = {.trusted = &key_m.v};
    CHECK(lake_verify(db, &mallory, &r, &e) == MS_OK && r.authenticated, "the attacker's key: %s", e.msg);

    /* What is left to the attacker is a lake the trusted key does not vouch
     * for (MS_OK, authenticated 0, unsigned_why), never an authenticated
     * one: (iv) re-chained as a development-key lake (dev_key is in the
     * identity entry, which it re-chains too)... */
    copy_lake(signd, db);
    CHECK(attack(db, "joint_actions", EDIT_SQL "; UPDATE runs SET dev_key = 1", CP_DELETE, NULL) == 0,
          "the attack ran");
    rc = lake_verify(db, &trusted, &r, &e);
    CHECK(rc == MS_OK && !r.authenticated && strstr(r.unsigned_why, "development key"), "(iv) dev key: %d %s / %s",
          rc, e.msg, r.unsigned_why);
    /* ...(v) or a running lake (a killed writer) with its checkpoints gone,
     * which looks like a run killed before its first checkpoint. */
    char killed[128];
    path_in(killed, sizeof killed, dir, "killed.db");
    CHECK(build_killed(killed, signed_defaults()) == 0, "killed writer");
    copy_lake(killed, db);
    CHECK(attack(db, "joint_actions", EDIT_SQL, CP_DELETE, NULL) == 0, "the attack ran");
    rc = lake_verify(db, &trusted, &r, &e);
    CHECK(rc == MS_OK && !r.authenticated && strstr(r.unsigned_why, "first signed checkpoint") &&
              !strcmp(r.status, "running"),
          "(v) running: %d %s / %s", rc, e.msg, r.unsigned_why);
    /* The killed lake itself: its signed prefix is vouched for, the entries
     * after its newest checkpoint are not (anyone could have written them). */
    CHECK(lake_verify(killed, &trusted, &r, &e) == MS_OK && !r.authenticated && r.signed_size == r.cp_size &&
              r.cp_size > 0 && r.cp_size < r.entries && strstr(r.unsigned_why, "after the newest signed checkpoint"),
          "the killed lake itself: auth %d, signed %lld of %lld (%s)", r.authenticated, (long long)r.signed_size,
          (long long)r.entries, r.unsigned_why);
    tdir_rm(dir);
}

/* ---- tests: the external checkpoint ---------------------------------------- */

static char *checkpoint_file(const char *lake_path, size_t *n)
{
    char p[256];
    snprintf(p, sizeof p, "%s.checkpoint", lake_path);
    return (char *)read_file(p, n);
}

static void ledger_external_checkpoint(void)
{
    char dir[64], full[128], intr[128], other[128], byb[128], db[128];
    ms_err e = {{0}};
    lake_verify_report r;
    tdir_new(dir);
    path_in(full, sizeof full, dir, "full.db");
    path_in(intr, sizeof intr, dir, "intr.db");
    path_in(other, sizeof other, dir, "other.db");
    path_in(byb, sizeof byb, dir, "byb.db");
    path_in(db, sizeof db, dir, "t.db");
    build_opts o = signed_defaults();
    CHECK(build(full, &o, NULL, &e) == MS_OK, "%s", e.msg);
    o.stop_at = 4; /* inside the transaction of steps 4-5: rolled back */
    o.finish = "interrupted";
    CHECK(build(intr, &o, NULL, &e) == MS_OK, "%s", e.msg);
    o = signed_defaults();
    o.run_id = "run-2";
    CHECK(build(other, &o, NULL, &e) == MS_OK, "%s", e.msg);
    o = signed_defaults();
    o.signer = &key_b;
    CHECK(build(byb, &o, NULL, &e) == MS_OK, "%s", e.msg);

    size_t cn, in_n, bn;
    char *cp = checkpoint_file(full, &cn), *icp = checkpoint_file(intr, &in_n), *bcp = checkpoint_file(byb, &bn);
    CHECK(cp && icp && bcp, "checkpoint files");
    if (!cp || !icp || !bcp)
        goto out;
    lake_verify_opts vo = {.trusted = &key_a.v, .checkpoint = cp, .checkpoint_len = cn};

    /* (i) the lake it was taken from */
    int rc = lake_verify(full, &vo, &r, &e);
    CHECK(rc == MS_OK && r.ext_size == BASE_ENTRIES && r.authenticated, "(i) same lake: %d %s", rc, e.msg);

    /* (ii) the same run, interrupted earlier: verifies by itself as an
     * authenticated prefix, but not against the later checkpoint */
    lake_verify_opts io = {.trusted = &key_a.v};
    rc = lake_verify(intr, &io, &r, &e);
    CHECK(rc == MS_OK && r.authenticated && !r.complete && !r.sealed && !strcmp(r.status, "interrupted") &&
              r.entries == 29 && r.cp_size == 29 && !strcmp(r.cp_status, "interrupted"),
          "interrupted lake: %d %s (%lld entries, checkpoint %lld %s)", rc, e.msg, (long long)r.entries,
          (long long)r.cp_size, r.cp_status);
    rc = lake_verify(intr, &vo, &r, &e);
    CHECK(rc == MS_ECHECK && strstr(e.msg, "truncated") && strstr(e.msg, "44"), "(ii) truncated: %d %s", rc, e.msg);
    /* ...while its own last checkpoint holds for the completed lake: the
     * interrupted chain is a prefix of the completed one */
    io.checkpoint = icp;
    io.checkpoint_len = in_n;
    rc = lake_verify(full, &io, &r, &e);
    CHECK(rc == MS_OK && r.ext_size == 29, "the interrupted run's checkpoint against the completed lake: %d %s", rc,
          e.msg);

    /* (iii) another run id */
    rc = lake_verify(other, &vo, &r, &e);
    CHECK(rc == MS_ECHECK && strstr(e.msg, "marlsim/run-1") && strstr(e.msg, "marlsim/run-2"),
          "(iii) another run: %d %s", rc, e.msg);

    /* (iv) the same run with an edited row re-chained and its checkpoints
     * re-signed by the attacker */
    copy_lake(full, db);
    CHECK(attack(db, "joint_actions", EDIT_SQL, CP_RESIGN, &key_m.s) == 0, "the attack ran");
    rc = lake_verify(db, &vo, &r, &e);
    CHECK(rc == MS_ECHECK, "(iv) re-signed: %d %s", rc, e.msg);
    /* the root comparison itself, with the attacker's checkpoints gone (so
     * nothing else fails first): the tree at the checkpoint's size differs */
    copy_lake(full, db);
    CHECK(attack(db, "joint_actions", EDIT_SQL, CP_DELETE, NULL) == 0, "the attack ran");
    rc = lake_verify(db, &vo, &r, &e);
    CHECK(rc == MS_ECHECK && strstr(e.msg, "differs from the given checkpoint's root") &&
              strstr(e.msg, "size 44"),
          "(iv) root at 44: %d %s", rc, e.msg);
    io.trusted = &key_a.v; /* an older checkpoint (size 29 >= seq 23) catches it too */
    rc = lake_verify(db, &io, &r, &e);
    CHECK(rc == MS_ECHECK && strstr(e.msg, "size 29"), "(iv) root at 29: %d %s", rc, e.msg);

    /* a checkpoint signed by another key */
    lake_verify_opts bo = {.trusted = &key_a.v, .checkpoint = bcp, .checkpoint_len = bn};
    rc = lake_verify(full, &bo, &r, &e);
    CHECK(rc == MS_ECHECK && strstr(e.msg, "not signed by the trusted key"), "another key's checkpoint: %d %s", rc,
          e.msg);
    /* a checkpoint needs a trusted key */
    lake_verify_opts nk = {.checkpoint = cp, .checkpoint_len = cn};
    CHECK(lake_verify(full, &nk, &r, &e) == MS_EINPUT, "checkpoint without a key: %s", e.msg);
    /* A malformed external checkpoint: verify.h documents MS_EINPUT
     * ("MS_EINPUT for a checkpoint without a trusted key or a malformed
     * external checkpoint"); ledger/verify.c's open_checkpoint maps every
     * parse failure to MS_ECHECK. This CHECK fails until one of them changes. */
    static const char garbage[] = "not a checkpoint\n";
    lake_verify_opts go = {.trusted = &key_a.v, .checkpoint = garbage, .checkpoint_len = sizeof garbage - 1};
    rc = lake_verify(full, &go, &r, &e);
    CHECK(rc == MS_EINPUT, "malformed external checkpoint: rc %d, verify.h says MS_EINPUT (%s)", rc, e.msg);
out:
    free(cp);
    free(icp);
    free(bcp);
    tdir_rm(dir);
}

/* ---- tests: how the run ended -------------------------------------------- */

static void ledger_status_vs_checkpoint(void)
{
    char dir[64], full[128], intr[128], plain_intr[128], killed[128], db[128];
    ms_err e = {{0}};
    lake_verify_report r;
    lake_verify_opts vo = {.trusted = &key_a.v};
    int rc;
    tdir_new(dir);
    path_in(full, sizeof full, dir, "full.db");
    path_in(intr, sizeof intr, dir, "intr.db");
    path_in(plain_intr, sizeof plain_intr, dir, "plain-intr.db");
    path_in(killed, sizeof killed, dir, "killed.db");
    path_in(db, sizeof db, dir, "t.db");
    build_opts o = signed_defaults();
    CHECK(build(full, &o, NULL, &e) == MS_OK, "%s", e.msg);
    o.stop_at = 4;
    o.finish = "interrupted";
    CHECK(build(intr, &o, NULL, &e) == MS_OK, "%s", e.msg);
    o.signer = NULL;
    CHECK(build(plain_intr, &o, NULL, &e) == MS_OK, "%s", e.msg);
    o = signed_defaults();
    CHECK(build_killed(killed, o) == 0, "killed writer");

    /* runs is mutable (no trigger): the status is what an attacker edits. */
    copy_lake(full, db);
    CHECK(raw_exec(db, "UPDATE runs SET status = 'interrupted'", NULL, 0) == 0, "edit");
    rc = lake_verify(db, &vo, &r, &e);
    CHECK(rc == MS_ECHECK, "completed -> interrupted: %d %s", rc, e.msg);

    copy_lake(intr, db);
    CHECK(raw_exec(db, "UPDATE runs SET status = 'completed'", NULL, 0) == 0, "edit");
    rc = lake_verify(db, &vo, &r, &e);
    CHECK(rc == MS_ECHECK && strstr(e.msg, "no seal"), "interrupted -> completed: %d %s", rc, e.msg);

    /* An unfinished run's status is unchained: only the final checkpoint
     * states it, so it is what catches these (even without a key). */
    copy_lake(intr, db);
    CHECK(raw_exec(db, "UPDATE runs SET status = 'failed'", NULL, 0) == 0, "edit");
    rc = lake_verify(db, NULL, &r, &e);
    CHECK(rc == MS_ECHECK && strstr(e.msg, "status is 'failed'") && strstr(e.msg, "interrupted"),
          "interrupted -> failed: %d %s", rc, e.msg);
    copy_lake(intr, db);
    CHECK(raw_exec(db, "UPDATE runs SET status = 'running'", NULL, 0) == 0, "edit");
    rc = lake_verify(db, NULL, &r, &e);
    CHECK(rc == MS_ECHECK && strstr(e.msg, "running"), "interrupted -> running: %d %s", rc, e.msg);
    /* ...which a lake without checkpoints cannot do: the limit they close */
    copy_lake(plain_intr, db);
    CHECK(raw_exec(db, "UPDATE runs SET status = 'failed'", NULL, 0) == 0, "edit");
    rc = lake_verify(db, NULL, &r, &e);
    CHECK(rc == MS_OK && !strcmp(r.status, "failed"), "no checkpoints: the status edit passes: %d %s", rc, e.msg);

    /* A killed writer: status running, the newest checkpoint periodic. */
    rc = lake_verify(killed, &vo, &r, &e);
    CHECK(rc == MS_OK && !r.complete && !r.sealed && !strcmp(r.status, "running") && !r.authenticated &&
              r.signed_size == 42 && r.cp_status[0] == 0 && r.entries == BASE_ENTRIES - 1 && r.cp_size == 42,
          "killed: %d %s (%lld entries, checkpoint at %lld)", rc, e.msg, (long long)r.entries, (long long)r.cp_size);
    copy_lake(killed, db);
    CHECK(raw_exec(db, "UPDATE runs SET status = 'interrupted'", NULL, 0) == 0, "edit");
    rc = lake_verify(db, &vo, &r, &e);
    CHECK(rc == MS_ECHECK && strstr(e.msg, "states no final status"), "killed -> interrupted: %d %s", rc, e.msg);
    tdir_rm(dir);
}

/* ---- tests: the policy reader ------------------------------------------------- */

static void ledger_read_policy(void)
{
    char dir[64], db[128], t[128], two[128];
    ms_err e = {{0}};
    lake_verify_report r;
    lake_policy_blob pol[3];
    lake_verify_opts vo = {.trusted = &key_a.v};
    tdir_new(dir);
    path_in(db, sizeof db, dir, "p.db");
    path_in(t, sizeof t, dir, "t.db");
    path_in(two, sizeof two, dir, "two.db");
    /* 8 steps: updates 1 (baseline), 2 (rolled back), 3 (promoted), 4
     * (rolled back): the largest snapshot_id is update 4's, 42. */
    build_opts o = signed_defaults();
    o.steps = 8;
    CHECK(build(db, &o, NULL, &e) == MS_OK, "%s", e.msg);
    CHECK(raw_int(db, "SELECT MAX(snapshot_id) FROM policy_snapshots") == 42 &&
              raw_int(db, "SELECT COUNT(*) FROM evaluations WHERE eval_id = 4 AND decision = 'rolled_back'") == 1,
          "the newest snapshot belongs to a rolled-back evaluation");

    int rc = lake_read_policy(db, &vo, agents, 3, pol, &r, &e);
    CHECK(rc == MS_OK && r.authenticated, "read: %d %s", rc, e.msg);
    for (int a = 0; rc == MS_OK && a < 3; a++) {
        unsigned char want[40], d[32];
        char wh[65];
        memset(want, 3 * 3 + a, sizeof want);
        sha256(want, sizeof want, d);
        hex(d, 32, wh);
        CHECK(pol[a].eval_id == 3 && pol[a].snapshot_id == 30 + a && pol[a].update_id == 3 && pol[a].n == 40 &&
                  pol[a].blob && !memcmp(pol[a].blob, want, 40) && !strcmp(pol[a].sha256, wh),
              "%s: eval %lld snapshot %lld", agents[a], (long long)pol[a].eval_id, (long long)pol[a].snapshot_id);
    }
    lake_policy_release(pol, 3);
    CHECK(pol[0].blob == NULL && pol[2].blob == NULL, "released");

    /* An inserted snapshot (a well-formed one for the promoted evaluation)
     * is caught by verification before anything is returned. */
    copy_lake(db, t);
    unsigned char fake[40], d[32];
    char fh[65], q[512];
    memset(fake, 0xee, sizeof fake);
    sha256(fake, sizeof fake, d);
    hex(d, 32, fh);
    snprintf(q, sizeof q, "INSERT INTO policy_snapshots VALUES (99, 3, 3, 'GET', '%s', X'%s')", fh,
             "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee");
    CHECK(tamper_rows(t, "policy_snapshots", q) == 0, "insert");
    for (int a = 0; a < 3; a++)
        pol[a].blob = (void *)pol; /* must be cleared */
    rc = lake_read_policy(t, &vo, agents, 3, pol, &r, &e);
    CHECK(rc == MS_ECHECK && strstr(e.msg, "rows were inserted") && !pol[0].blob && !pol[1].blob && !pol[2].blob &&
              pol[0].n == 0,
          "inserted snapshot: %d %s", rc, e.msg);

    /* Another key: nothing returned. */
    lake_verify_opts ko = {.trusted = &key_b.v};
    rc = lake_read_policy(db, &ko, agents, 3, pol, &r, &e);
    CHECK(rc == MS_ECHECK && !pol[0].blob && strstr(e.msg, "not signed by the trusted key"), "other key: %d %s", rc,
          e.msg);

    /* Two snapshots of one agent for the incumbent evaluation, written by
     * the writer (so the chain is intact): MS_ECHECK. */
    lake_run_info in;
    char sha[65];
    lake *L;
    make_info(&in, sha, "two", 1);
    CHECK(lake_create(&L, two, &in, 0, &e) == MS_OK, "%s", e.msg);
    lk_value ev[10] = {lk_int(1), lk_int(0), lk_int(0), lk_int(1), lk_real(0.5), lk_null(), lk_real(0.0),
                       lk_text("baseline"), lk_null(), lk_null()};
    char sh[65];
    sha256("x", 1, d);
    hex(d, 32, sh);
    lk_value sn[12] = {lk_int(1), lk_int(1), lk_null(), lk_text("GET"), lk_text(sh), lk_blob("x", 1),
                       lk_int(2), lk_int(1), lk_null(), lk_text("GET"), lk_text(sh), lk_blob("x", 1)};
    CHECK(lake_append(L, LKT_EVALUATIONS, 0, 1, ev, &e) == MS_OK &&
              lake_append(L, LKT_POLICY_SNAPSHOTS, 0, 2, sn, &e) == MS_OK &&
              lake_finish(L, "completed", 0, 0, 0, &e) == MS_OK,
          "%s", e.msg);
    lake_close(L);
    const char *get[1] = {"GET"};
    rc = lake_read_policy(two, NULL, get, 1, pol, &r, &e);
    CHECK(rc == MS_ECHECK && !pol[0].blob && strstr(e.msg, "more than one snapshot"), "two snapshots: %d %s", rc,
          e.msg);
    const char *bin[1] = {"BIN"};
    rc = lake_read_policy(two, NULL, bin, 1, pol, &r, &e);
    CHECK(rc == MS_ECHECK && !pol[0].blob && strstr(e.msg, "no snapshot of agent BIN"), "no snapshot: %d %s", rc,
          e.msg);
    /* A run that stopped before its baseline has no incumbent. (verify.h
     * lists MS_ECHECK for "not exactly one such snapshot per agent"; read.c
     * answers MS_EINPUT here: only the refusal is asserted.) */
    unlink(two);
    make_info(&in, sha, "none", 1);
    CHECK(lake_create(&L, two, &in, 0, &e) == MS_OK, "%s", e.msg);
    lake_close(L);
    rc = lake_read_policy(two, NULL, get, 1, pol, &r, &e);
    CHECK(rc < 0 && !pol[0].blob && strstr(e.msg, "no evaluation promoted"), "no baseline: %d %s", rc, e.msg);
    tdir_rm(dir);
}

/* ---- tests: reading writes nothing ----------------------------------------- */

/* A directory's files: names (sorted), sizes, contents' hashes, mtimes. */
typedef struct dsnap {
    int n;
    char name[16][256];
    long size[16];
    unsigned char sha[16][32];
    struct timespec mtime[16];
} dsnap;

static int name_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void dir_snap(const char *dir, dsnap *s)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    memset(s, 0, sizeof *s);
    while (d && (de = readdir(d)) && s->n < 16)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            snprintf(s->name[s->n++], 256, "%s", de->d_name);
    if (d)
        closedir(d);
    qsort(s->name, (size_t)s->n, 256, name_cmp);
    for (int i = 0; i < s->n; i++) {
        char p[256];
        size_t n;
        struct stat sb;
        snprintf(p, sizeof p, "%s/%s", dir, s->name[i]);
        unsigned char *b = read_file(p, &n);
        sha256(b ? b : (unsigned char *)"", b ? n : 0, s->sha[i]);
        free(b);
        if (stat(p, &sb) == 0) {
            s->size[i] = (long)sb.st_size;
            s->mtime[i] = sb.st_mtim;
        }
    }
}

/* "" when a and b list the same files with the same bytes and mtimes. */
static const char *dir_diff(const dsnap *a, const dsnap *b, char *why, size_t n)
{
    why[0] = 0;
    if (a->n != b->n) {
        snprintf(why, n, "%d files before, %d after (first after: %.60s, last: %.60s)", a->n, b->n, b->name[0],
                 b->n ? b->name[b->n - 1] : "");
        return why;
    }
    for (int i = 0; i < a->n && !why[0]; i++)
        if (strcmp(a->name[i], b->name[i]) || a->size[i] != b->size[i] || memcmp(a->sha[i], b->sha[i], 32) ||
            a->mtime[i].tv_sec != b->mtime[i].tv_sec || a->mtime[i].tv_nsec != b->mtime[i].tv_nsec)
            snprintf(why, n, "%s changed (now %s)", a->name[i], b->name[i]);
    return why;
}

/* Every reader of verify.h on path (trusted key key_a; its own checkpoint
 * file as the external checkpoint when there is one); the number of calls
 * that did not return MS_OK. */
static int read_everything(const char *path, lake_verify_report *r)
{
    ms_err e;
    int bad = 0;
    size_t cn = 0;
    char *cp = checkpoint_file(path, &cn);
    lake_verify_opts vo = {.trusted = &key_a.v, .checkpoint = cp, .checkpoint_len = cn};
    lake_policy_blob pol[3];
    lake_diff_report d;
    lake_run_meta m;
    unsigned char (*hs)[32] = NULL;
    if (lake_verify(path, NULL, r, &e) != MS_OK)
        bad++, fprintf(stderr, "  verify: %s\n", e.msg);
    if (lake_verify(path, &vo, NULL, &e) != MS_OK)
        bad++, fprintf(stderr, "  verify trusted: %s\n", e.msg);
    if (lake_read_policy(path, &vo, agents, 3, pol, NULL, &e) != MS_OK)
        bad++, fprintf(stderr, "  policy: %s\n", e.msg);
    lake_policy_release(pol, 3);
    if (lake_diff(path, path, 0, &d, &e) != MS_OK || !d.identical)
        bad++, fprintf(stderr, "  diff: %s\n", e.msg);
    if (lake_read_run(path, &m, &e) != MS_OK)
        bad++, fprintf(stderr, "  read_run: %s\n", e.msg);
    lake_run_meta_release(&m);
    if (lake_read_entry_hashes(path, &vo, &hs, NULL, &e) != MS_OK)
        bad++, fprintf(stderr, "  entry hashes: %s\n", e.msg);
    free(hs);
    free(cp);
    return bad;
}

/* verify, read_policy, diff, read_run and read_entry_hashes neither create
 * nor change a file: not the lake, not its -wal, not its -shm (SQLite's own
 * mode=ro would create or write PATH-shm when it may, always as root: CI
 * runs this as root, and so does `make test` there). */
static void ledger_verify_writes_nothing(void)
{
    char d1[64], d2[64], d3[64], d4[64], k[128], w[128], kw[160], ww[160], c[128], o[128], why[256];
    dsnap before, after;
    lake_verify_report r1, r2, r3;
    ms_err e;
    tdir_new(d1);
    tdir_new(d2);
    tdir_new(d3);
    tdir_new(d4);
    path_in(k, sizeof k, d1, "killed.db");
    path_in(w, sizeof w, d2, "copied.db");
    path_in(c, sizeof c, d3, "clean.db");
    path_in(o, sizeof o, d4, "only.db");
    snprintf(kw, sizeof kw, "%s-wal", k);
    snprintf(ww, sizeof ww, "%s-wal", w);

    /* 1. A killed writer's lake: PATH, PATH-wal, PATH-shm, PATH.checkpoint. */
    build_opts opt = signed_defaults();
    CHECK(build_killed(k, opt) == 0, "killed writer");
    CHECK(file_exists(kw) && file_size(kw) > 0, "the killed writer left a -wal");
    dir_snap(d1, &before);
    CHECK(before.n == 4, "%d files beside the killed lake", before.n);
    CHECK(read_everything(k, &r1) == 0, "every reader works on the killed lake");
    dir_snap(d1, &after);
    CHECK(!*dir_diff(&before, &after, why, sizeof why), "killed lake: %s", why);
    CHECK(r1.entries == BASE_ENTRIES - 1, "the WAL's frames were read: %lld entries", (long long)r1.entries);

    /* 2. The same lake and WAL copied without their -shm: nothing creates
     * one, and the WAL is still read (the file alone is the fresh lake). */
    CHECK(copy_file(k, w) == 0 && copy_file(kw, ww) == 0, "copy");
    char kcp[160], wcp[160];
    snprintf(kcp, sizeof kcp, "%s.checkpoint", k);
    snprintf(wcp, sizeof wcp, "%s.checkpoint", w);
    CHECK(copy_file(kcp, wcp) == 0, "copy the checkpoint");
    dir_snap(d2, &before);
    CHECK(before.n == 3, "%d files", before.n);
    CHECK(read_everything(w, &r2) == 0, "every reader works without a -shm");
    dir_snap(d2, &after);
    CHECK(!*dir_diff(&before, &after, why, sizeof why), "copied lake: %s", why);
    char shm[160];
    snprintf(shm, sizeof shm, "%s-shm", w);
    CHECK(!file_exists(shm), "no -shm created");
    CHECK(r2.entries == r1.entries && !strcmp(r2.head, r1.head), "the same lake through the WAL");
    CHECK(copy_file(k, o) == 0, "copy");
    CHECK(lake_verify(o, NULL, &r3, &e) == MS_OK && r3.entries == 2, "the main file alone: %s (%lld entries)",
          e.msg, (long long)r3.entries);

    /* 3. A cleanly finished lake (no WAL): no -wal, no -shm appear. */
    opt = signed_defaults();
    CHECK(build(c, &opt, NULL, &e) == MS_OK, "%s", e.msg);
    dir_snap(d3, &before);
    CHECK(before.n == 2, "%d files beside the clean lake", before.n);
    CHECK(read_everything(c, &r3) == 0, "every reader works on the clean lake");
    dir_snap(d3, &after);
    CHECK(!*dir_diff(&before, &after, why, sizeof why), "clean lake: %s", why);
    tdir_rm(d1);
    tdir_rm(d2);
    tdir_rm(d3);
    tdir_rm(d4);
}

/* ---- tests: hot journals, other journal modes, foreign objects ---------------- */

static void ledger_hot_journal_and_foreign_objects(void)
{
    char dir[64], base[128], db[128], side[160], msg[256];
    ms_err e = {{0}};
    lake_verify_report r;
    int rc;
    tdir_new(dir);
    path_in(base, sizeof base, dir, "base.db");
    path_in(db, sizeof db, dir, "t.db");
    build_opts o = defaults();
    CHECK(build(base, &o, NULL, &e) == MS_OK, "%s", e.msg);

    /* A non-empty rollback journal beside the lake (an empty one is inert). */
    copy_lake(base, db);
    snprintf(side, sizeof side, "%s-journal", db);
    CHECK(write_file(side, "", 0) == 0, "empty journal");
    CHECK(lake_verify(db, NULL, &r, &e) == MS_OK, "an empty journal is inert: %s", e.msg);
    CHECK(write_file(side, "hot journal bytes", 17) == 0, "journal");
    rc = lake_verify(db, NULL, &r, &e);
    CHECK(rc == MS_ECHECK && strstr(e.msg, "rollback journal"), "hot journal: %d %s", rc, e.msg);
    unlink(side);

    /* Rewritten by another SQLite program to a rollback journal mode. */
    copy_lake(base, db);
    CHECK(raw_exec(db, "PRAGMA journal_mode = DELETE", msg, sizeof msg) == 0, "journal_mode: %s", msg);
    size_t n;
    unsigned char *hd = read_file(db, &n);
    CHECK(hd && n > 100 && hd[18] == 1 && hd[19] == 1, "header bytes 18-19 say rollback");
    free(hd);
    rc = lake_verify(db, NULL, &r, &e);
    CHECK(rc == MS_ECHECK && strstr(e.msg, "not in WAL mode"), "journal_mode=DELETE: %d %s", rc, e.msg);

    /* Bytes appended to a lake without a WAL: a whole page, and a part. */
    long psz = raw_int(base, "PRAGMA page_size");
    CHECK(psz == 16384, "page size %ld", psz);
    static unsigned char zeros[16384 + 100];
    for (int k = 0; k < 2; k++) {
        size_t extra = k ? 100 : (size_t)psz;
        copy_lake(base, db);
        snprintf(side, sizeof side, "%s-wal", db);
        CHECK(!file_exists(side), "no WAL");
        CHECK(append_file(db, zeros, extra) == 0, "append");
        rc = lake_verify(db, NULL, &r, &e);
        CHECK(rc == MS_EINPUT && strstr(e.msg, "appended"), "%zu bytes appended: %d %s", extra, rc, e.msg);
    }

    /* ANALYZE's sqlite_stat1 is tolerated... */
    copy_lake(base, db);
    CHECK(raw_exec(db, "ANALYZE", msg, sizeof msg) == 0 && raw_int(db, "SELECT COUNT(*) FROM sqlite_stat1") > 0,
          "analyze: %s", msg);
    CHECK(lake_verify(db, NULL, &r, &e) == MS_OK, "sqlite_stat1: %s", e.msg);
    /* ...sqlite_stat4 is not. SQLite refuses CREATE TABLE sqlite_stat4
     * (reserved name) and this SQLite's ANALYZE only makes stat4 when built
     * with SQLITE_ENABLE_STAT4, so the table is made under another name and
     * renamed in sqlite_schema (writable_schema, as any SQLite program can). */
    copy_lake(base, db);
    CHECK(raw_exec(db, "CREATE TABLE zz_stat4(tbl, idx, neq, nlt, ndlt, sample); PRAGMA writable_schema = ON; "
                       "UPDATE sqlite_schema SET name = 'sqlite_stat4', tbl_name = 'sqlite_stat4', sql = 'CREATE "
                       "TABLE sqlite_stat4(tbl, idx, neq, nlt, ndlt, sample)' WHERE name = 'zz_stat4'; "
                       "PRAGMA writable_schema = OFF;",
                   msg, sizeof msg) == 0,
          "stat4: %s", msg);
    CHECK(raw_int(db, "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'sqlite_stat4'") == 1, "stat4 exists");
    rc = lake_verify(db, NULL, &r, &e);
    CHECK(rc == MS_ECHECK && strstr(e.msg, "sqlite_stat4") && strstr(e.msg, "only sqlite_stat1 is tolerated"),
          "sqlite_stat4: %d %s", rc, e.msg);

    /* A rollback-mode SQLite file that is no lake at all: the header is read
     * before the application id, so it is reported as not in WAL mode
     * (MS_ECHECK, as reader.h orders it), not as "not a marlsim lake". */
    path_in(db, sizeof db, dir, "plain.db");
    sqlite3 *h;
    sqlite3_open(db, &h);
    sqlite3_exec(h, "CREATE TABLE t(x); INSERT INTO t VALUES (1);", NULL, NULL, NULL);
    sqlite3_close(h);
    rc = lake_verify(db, NULL, &r, &e);
    CHECK(rc == MS_ECHECK && strstr(e.msg, "not in WAL mode"), "rollback-mode non-lake: %d %s", rc, e.msg);
    tdir_rm(dir);
}

/* ---- the suite --------------------------------------------------------------- */

void suite_ledger(void)
{
    tkey_new(&key_a, "marlsim-test");
    tkey_new(&key_b, "other-test");
    tkey_new(&key_m, "mallory");
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
    RUN(ledger_salted_commitments);
    RUN(ledger_checkpoints_signed);
    RUN(ledger_rechain_attack);
    RUN(ledger_external_checkpoint);
    RUN(ledger_status_vs_checkpoint);
    RUN(ledger_read_policy);
    RUN(ledger_verify_writes_nothing);
    RUN(ledger_hot_journal_and_foreign_objects);
    EVP_PKEY_free(key_a.pk);
    EVP_PKEY_free(key_b.pk);
    EVP_PKEY_free(key_m.pk);
}
