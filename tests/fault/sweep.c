/* sweep.c — the fault sweep (make faults; a quick subset in make test).
 *
 * For each operation below and each fault kind and flavour of
 * tests/fault/fault.h, it first counts (in a forked child, nothing armed)
 * how many operations of that kind the operation makes (T), then runs the
 * operation again for N = 1 .. T (or, when T is larger than the case
 * budget, for budget values of N spread over 1 .. T, the first and the last
 * included), each in a forked child with the Nth operation of that kind
 * failing (ENOSPC: the Nth and every later write, as a full disk does). The
 * child reports what the operation returned and reported committed through
 * a pipe; the parent, with nothing armed, then checks:
 *
 *   - the child ended by itself: no crash, no sanitizer report, no leak
 *     (ASan builds), no hang (60 s);
 *   - the operation returned MS_OK, or MS_EIO with a message: a fault is
 *     the system failing (exit 2), never bad input (MS_EINPUT: "malformed",
 *     "not a lake") nor a failed check (MS_ECHECK: a failing disk is not a
 *     tampered lake);
 *   - the lake on disk (when there is one) verifies, with the trusted key,
 *     as an intact prefix of the fault-free run's lake (lake_diff with
 *     LAKE_DIFF_PREFIX) holding at least what the operation reported
 *     committed (env-steps; a completed run's head hash), and its status is
 *     the one reported; a PATH.checkpoint beside it verifies against it;
 *     no temporary file is left behind. Any of these failing counts as
 *     "data lost".
 *
 * Operations:
 *   run         exp_run of a tiny full-telemetry configuration (signed
 *               checkpoints, PATH.checkpoint), from lake creation to close;
 *   checkpoint  the lake writer alone (ledger/lake.h) with synchronous =
 *               full and a signed checkpoint every 2 entries: 6 commits,
 *               each writing a checkpoint row and PATH.checkpoint, then
 *               lake_finish; what was reported committed is each
 *               lake_commit that returned MS_OK;
 *   verify      lake_verify of the fault-free run's lake with the trusted
 *               key: MS_OK with the fault-free report, or an error that is
 *               not MS_ECHECK; the directory unchanged;
 *   purge       lake_purge (ledger/lifecycle.h) of a copy of the fault-free
 *               run's lake and its PATH.checkpoint (copied before anything
 *               is armed): behavioural payloads before step 16 and
 *               operational ones before step 8, re-signed with the trusted
 *               key. The lake afterwards must verify (also against the
 *               PATH.checkpoint beside it) and be either the old lake or
 *               the fault-free purge's (their heads), the purged one when
 *               the purge reported success; nothing else left behind.
 *
 * usage: fault_sweep [--cases N] [--quick] [--only OP] [--kind KIND] [-v]
 *   --cases N  at most N values of N per operation, kind and flavour
 *              (default 60; 10 N for verify, which is cheap); --quick =
 *              --cases 3; --only / --kind: one
 *              operation (run, checkpoint, verify, purge) / one kind (read, write,
 *              fsync, truncate, alloc); -v: a line per passing case too
 * Prints the table kind x operation: injected, survived, data lost; the
 * last line is "faults: N passed, N failed" (one test per case). */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exp/experiment.h"
#include "keys/keyring.h"
#include "ledger/lake.h"
#include "ledger/lifecycle.h"
#include "ledger/note.h"
#include "ledger/verify.h"
#include "tests/fault/fault.h"
#include "tests/fuzz/fuzz.h"

/* What a child reports. */
typedef struct outcome {
    int rc;                /* the operation's status */
    char msg[256];
    char status[16];       /* what it says the lake holds ("" = no lake) */
    int64_t env_steps;     /* committed env-steps it reported */
    int64_t entries;       /* committed ledger entries it reported (checkpoint) */
    char head[65];         /* head hash it reported ("" = none) */
    int64_t injected;      /* faults injected */
    int64_t counts[FK_COUNT];
} outcome;

typedef struct op {
    const char *name;
    void (*run)(const char *dir, outcome *out);
    void (*prep)(const char *dir); /* in the child, before anything is armed (or NULL) */
    char ref[512];         /* the fault-free lake (run, checkpoint) */
    int weight;            /* cases = weight x the budget (verify is cheap) */
} op;

static char top[256];
static ms_keyring *kr;
static ms_note_verifier trusted;
static int verbose;

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "fault_sweep: %s: %s\n", what, msg);
    exit(2);
}

/* ---- the operations ----------------------------------------------------- */

static void op_run(const char *dir, outcome *out)
{
    char path[600];
    snprintf(path, sizeof path, "%.500s/lake.db", dir);
    ms_config c;
    fuzz_tiny_config(&c);
    exp_options o = {.path = path, .overwrite = 0, .kr = kr, .first_gen = -1};
    exp_result res;
    ms_err e;
    e.msg[0] = 0;
    out->rc = exp_run(&c, &o, &res, &e);
    snprintf(out->msg, sizeof out->msg, "%.255s", e.msg);
    snprintf(out->status, sizeof out->status, "%s", res.status);
    out->env_steps = res.env_steps;
    snprintf(out->head, sizeof out->head, "%s", res.head_hash);
}

static int sign_cb(void *ctx, const void *msg, size_t n, unsigned char sig[64], ms_err *e)
{
    return ms_keyring_sign(ctx, msg, n, sig, e);
}

/* Rows of one table: generic values of each column's type (no table with a
 * digest column is used). */
static void fill(int t, int row, lk_value *v)
{
    static const unsigned char blob[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    const lk_table *T = &lk_tables[t];
    for (int c = 0; c < T->ncols; c++) {
        switch (T->cols[c].type) {
        case LK_INT: v[c] = lk_int(row + c); break;
        case LK_REAL: v[c] = lk_real(0.25 * (row + c)); break;
        case LK_TEXT: v[c] = lk_text("x"); break;
        default: v[c] = lk_blob(blob, sizeof blob); break;
        }
    }
}

/* Computed before any fault is armed (main). */
static const char cp_cfg[] = "[run]\nname = faults\n";
static char cp_cfg_hex[65];
static unsigned char commit_key[32];

static void op_checkpoint(const char *dir, outcome *out)
{
    char path[600];
    snprintf(path, sizeof path, "%.500s/lake.db", dir);
    ms_err e;
    e.msg[0] = 0;
    ms_note_signer s = {trusted.name, {0}, sign_cb, kr};
    memcpy(s.key_id, trusted.key_id, 4);
    lake_run_info info = {.run_id = "00000000000000000000000000000fa1", .name = "faults", .seed = 1,
                          .config_text = cp_cfg, .config_sha256 = cp_cfg_hex, .version = "test", .build_facts = "{}",
                          .key_ids = "[\"k0\"]", .commit_key = commit_key, .signer = &s, .checkpoint_every = 2,
                          .checkpoint_file = 1, .started_at = "2024-01-01T00:00:00Z", .synchronous = "full"};
    lake *L = NULL;
    out->rc = lake_create(&L, path, &info, 0, &e);
    if (out->rc) {
        snprintf(out->msg, sizeof out->msg, "%.255s", e.msg);
        return;
    }
    snprintf(out->status, sizeof out->status, "running");
    out->entries = 2; /* the identity and build entries */
    int rc = MS_OK;
    for (int i = 1; i <= 6 && !rc; i++) {
        lk_value v[3 * LK_MAX_COLS];
        rc = lake_begin(L, &e);
        fill(LKT_JOINT_ACTIONS, 2 * i, v);
        fill(LKT_JOINT_ACTIONS, 2 * i + 1, v + lk_tables[LKT_JOINT_ACTIONS].ncols);
        if (!rc)
            rc = lake_append(L, LKT_JOINT_ACTIONS, i, 2, v, &e);
        fill(LKT_POISON_TRUTH, i, v);
        if (!rc)
            rc = lake_append(L, LKT_POISON_TRUTH, i, 1, v, &e);
        if (!rc)
            rc = lake_commit(L, &e);
        if (!rc)
            out->entries = 2 + 2 * i; /* reported committed */
    }
    int frc = lake_finish(L, rc ? "failed" : "completed", 0, 0, 0, rc ? NULL : &e);
    if (!rc && !strcmp(lake_status(L), "completed"))
        out->entries++; /* the seal */
    if (!rc && frc)
        rc = frc;
    /* What the lake holds as of its last commit (lake.h): a finish whose
     * commit landed is finished even when PATH.checkpoint then failed. */
    snprintf(out->status, sizeof out->status, "%s", lake_status(L));
    if (!strcmp(out->status, "completed"))
        snprintf(out->head, sizeof out->head, "%s", lake_head_hex(L));
    lake_close(L);
    out->rc = rc;
    snprintf(out->msg, sizeof out->msg, "%.255s", e.msg);
}

static char verify_target[512]; /* the fault-free run's lake */

/* ---- purge ---------------------------------------------------------------- */

static int copy_file(const char *src, const char *dst)
{
    FILE *in = fopen(src, "rb");
    if (!in)
        return -1;
    FILE *out = fopen(dst, "wb");
    if (!out) {
        fclose(in);
        return -1;
    }
    char buf[65536];
    size_t n;
    int bad = 0;
    while (!bad && (n = fread(buf, 1, sizeof buf, in)) > 0)
        bad = fwrite(buf, 1, n, out) != n;
    bad |= ferror(in);
    fclose(in);
    bad |= fclose(out) != 0;
    return bad ? -1 : 0;
}

/* The fault-free run's lake (a closed lake: no -wal) and its checkpoint. */
static void prep_purge(const char *dir)
{
    static const char *const sfx[] = {"", ".checkpoint"};
    for (int i = 0; i < 2; i++) {
        char src[600], dst[600];
        snprintf(src, sizeof src, "%.500s%s", verify_target, sfx[i]);
        snprintf(dst, sizeof dst, "%.500s/lake.db%s", dir, sfx[i]);
        if (copy_file(src, dst))
            die("purge: copy", src);
    }
}

static char purge_old_head[65]; /* the run's lake before the purge */

static void op_purge(const char *dir, outcome *out)
{
    char path[600];
    snprintf(path, sizeof path, "%.500s/lake.db", dir);
    ms_note_signer s = {trusted.name, {0}, sign_cb, kr};
    memcpy(s.key_id, trusted.key_id, 4);
    lake_purge_opts o = {.before = {8, -1, 16},
                         .policy = {"fault sweep", NULL, "fault sweep"},
                         .trusted = &trusted,
                         .signer = &s};
    lake_purge_report r;
    ms_err e;
    e.msg[0] = 0;
    memset(&r, 0, sizeof r);
    out->rc = lake_purge(path, &o, &r, &e);
    snprintf(out->msg, sizeof out->msg, "%.255s", e.msg);
    snprintf(out->status, sizeof out->status, "completed"); /* a purge keeps the run's status */
    if (!out->rc)
        snprintf(out->head, sizeof out->head, "%s", r.head);
}

/* PATH.checkpoint beside the lake verifies against it with the trusted key;
 * a missing file is a failure when required, else nothing to check. */
static int checkpoint_file_verifies(const char *path, int required, char *why, size_t wn)
{
    char cp[620];
    snprintf(cp, sizeof cp, "%s.checkpoint", path);
    FILE *f = fopen(cp, "rb");
    if (!f) {
        if (required)
            snprintf(why, wn, "PATH.checkpoint is gone");
        return required ? -1 : 0;
    }
    static char buf[MS_NOTE_MAX + 1];
    size_t cn = fread(buf, 1, sizeof buf, f);
    fclose(f);
    lake_verify_opts co = {.trusted = &trusted, .checkpoint = buf, .checkpoint_len = cn};
    lake_verify_report rep;
    ms_err e;
    int rc = lake_verify(path, &co, &rep, &e);
    if (rc) {
        snprintf(why, wn, "PATH.checkpoint does not verify against the lake (%d): %.300s", rc, e.msg);
        return -1;
    }
    return 0;
}

/* The purge's checks: the lake verifies (with PATH.checkpoint too), it is
 * the old one or the fault-free purge's (the purged one when reported so). */
static int check_purge(const op *o, const char *dir, const outcome *r, char *why, size_t wn)
{
    char path[600];
    snprintf(path, sizeof path, "%.500s/lake.db", dir);
    lake_verify_opts vo = {.trusted = &trusted};
    lake_verify_report rep, ref;
    ms_err e;
    int rc = lake_verify(path, &vo, &rep, &e);
    if (rc) {
        snprintf(why, wn, "the lake does not verify (%d): %.300s", rc, e.msg);
        return -1;
    }
    if (lake_verify(o->ref, &vo, &ref, &e)) {
        snprintf(why, wn, "the fault-free purge's lake does not verify: %.300s", e.msg);
        return -1;
    }
    int is_old = !strcmp(rep.head, purge_old_head), is_new = !strcmp(rep.head, ref.head);
    if (!is_old && !is_new) {
        snprintf(why, wn, "the lake is neither the old one nor the purged one (head %.16s...)", rep.head);
        return -1;
    }
    if (r->rc == MS_OK && (!is_new || strcmp(r->head, rep.head))) {
        snprintf(why, wn, "the purge reported success, but the lake is not the purged one");
        return -1;
    }
    if (strcmp(rep.status, r->status)) {
        snprintf(why, wn, "the lake says '%s' after a purge of a '%s' run", rep.status, r->status);
        return -1;
    }
    return checkpoint_file_verifies(path, 1, why, wn);
}

static void op_verify(const char *dir, outcome *out)
{
    (void)dir;
    lake_verify_opts o = {.trusted = &trusted};
    lake_verify_report rep;
    ms_err e;
    e.msg[0] = 0;
    out->rc = lake_verify(verify_target, &o, &rep, &e);
    snprintf(out->msg, sizeof out->msg, "%.255s", e.msg);
    if (!out->rc) {
        snprintf(out->status, sizeof out->status, "%s", rep.status);
        snprintf(out->head, sizeof out->head, "%s", rep.head);
        out->env_steps = rep.env_steps;
    }
}

static op ops[] = {
    {"run", op_run, NULL, "", 1},
    {"checkpoint", op_checkpoint, NULL, "", 1},
    {"verify", op_verify, NULL, "", 10},
    {"purge", op_purge, prep_purge, "", 1},
};
#define NOPS (int)(sizeof ops / sizeof ops[0])

/* ---- running a case -------------------------------------------------------- */


static pid_t top_owner;

static void cleanup(void)
{
    if (top[0] && getpid() == top_owner) /* not in the forked children */
        fuzz_rm_tree(top);
}

/* Runs o in a forked child armed with (kind, nth, flavor); 0 and *out, or
 * -1 with why (a crash, a signal, a leak report, a hang) in msg. */
static int run_case(const op *o, const char *dir, int kind, int64_t nth, int flavor, outcome *out, char *why,
                    size_t wn)
{
    int fd[2];
    if (pipe(fd))
        die("pipe", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        die("fork", strerror(errno));
    if (pid == 0) {
        close(fd[0]);
        alarm(60);
        outcome r;
        memset(&r, 0, sizeof r);
        if (o->prep)
            o->prep(dir);
        fault_arm(kind, nth, flavor, flavor == FF_ENOSPC);
        o->run(dir, &r);
        fault_disarm();
        r.injected = fault_injected();
        for (int k = 0; k < FK_COUNT; k++)
            r.counts[k] = fault_count(k);
        /* One write of a small struct to a pipe: whole or not at all. The
         * wrapped write() is disarmed now. */
        ssize_t w = write(fd[1], &r, sizeof r);
        close(fd[1]);
        exit(w == (ssize_t)sizeof r ? 0 : 3); /* exit, not _exit: LeakSanitizer checks at exit */
    }
    close(fd[1]);
    size_t got = 0;
    while (got < sizeof *out) {
        ssize_t n = read(fd[0], (char *)out + got, sizeof *out - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (WIFSIGNALED(st)) {
        snprintf(why, wn, "killed by signal %d%s", WTERMSIG(st), WTERMSIG(st) == SIGALRM ? " (a hang: 60 s)" : "");
        return -1;
    }
    if (WEXITSTATUS(st) != 0 || got != sizeof *out) {
        snprintf(why, wn, "child exited %d (a sanitizer or leak report?)", WEXITSTATUS(st));
        return -1;
    }
    return 0;
}

/* Files other than the lake, its WAL/SHM and PATH.checkpoint: leftovers. */
static int leftovers(const char *dir, char *why, size_t wn)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d))) {
        const char *s = de->d_name;
        if (!strcmp(s, ".") || !strcmp(s, "..") || !strcmp(s, "lake.db") || !strcmp(s, "lake.db-wal") ||
            !strcmp(s, "lake.db-shm") || !strcmp(s, "lake.db.checkpoint"))
            continue;
        if (!n++)
            snprintf(why, wn, "left behind: %s", s);
    }
    closedir(d);
    return n;
}

/* The checks of a finished case; 0 = no data lost, else -1 and why. */
static int check_lake(const op *o, const char *dir, const outcome *r, char *why, size_t wn)
{
    char path[600];
    snprintf(path, sizeof path, "%.500s/lake.db", dir);
    if (o->run == op_verify)
        return 0; /* checked by the caller against the reference report */
    if (leftovers(dir, why, wn))
        return -1;
    if (o->run == op_purge)
        return check_purge(o, dir, r, why, wn);
    struct stat sb;
    if (stat(path, &sb) != 0) {
        if (r->status[0] || r->rc == MS_OK) {
            snprintf(why, wn, "no lake, but the operation reported '%s' (rc %d)", r->status, r->rc);
            return -1;
        }
        return 0; /* it failed before the lake existed, and said so */
    }
    if (!r->status[0]) {
        snprintf(why, wn, "a lake exists, but the operation reported none (rc %d: %s)", r->rc, r->msg);
        return -1;
    }
    lake_verify_opts vo = {.trusted = &trusted};
    lake_verify_report rep;
    ms_err e;
    int rc = lake_verify(path, &vo, &rep, &e);
    if (rc) {
        snprintf(why, wn, "the lake does not verify (%d): %.300s", rc, e.msg);
        return -1;
    }
    lake_diff_report d;
    rc = lake_diff(path, o->ref, LAKE_DIFF_PREFIX, &d, &e);
    if (rc || !d.identical) {
        snprintf(why, wn, "the lake is not a prefix of the fault-free one (%d): %.300s %.300s", rc, rc ? e.msg : "",
                 rc ? "" : d.what);
        return -1;
    }
    if (rep.env_steps < r->env_steps) {
        snprintf(why, wn, "the operation reported %lld env-steps committed, the lake holds %lld",
                 (long long)r->env_steps, (long long)rep.env_steps);
        return -1;
    }
    if (rep.entries < r->entries) {
        snprintf(why, wn, "the operation reported %lld entries committed, the lake holds %lld",
                 (long long)r->entries, (long long)rep.entries);
        return -1;
    }
    if (strcmp(rep.status, r->status)) {
        snprintf(why, wn, "the operation reported status '%s', the lake says '%s'", r->status, rep.status);
        return -1;
    }
    if (r->head[0] && strcmp(rep.head, r->head)) {
        snprintf(why, wn, "the operation reported head %.16s..., the lake's is %.16s...", r->head, rep.head);
        return -1;
    }
    if (r->rc == MS_OK && !d.identical) {
        snprintf(why, wn, "reported success, but the lake differs from the fault-free one");
        return -1;
    }
    return checkpoint_file_verifies(path, 0, why, wn);
}

/* ---- the sweep --------------------------------------------------------------- */

typedef struct cell {
    int injected, survived, lost, cases, ok_despite, by_status[4];
} cell;

static const int flavors_of[FK_COUNT][3] = {
    [FK_READ] = {FF_EIO, FF_SHORT, -1},
    [FK_WRITE] = {FF_EIO, FF_ENOSPC, FF_SHORT},
    [FK_SYNC] = {FF_EIO, -1, -1},
    [FK_TRUNC] = {FF_EIO, -1, -1},
    [FK_ALLOC] = {FF_NULL, -1, -1},
};

static const char *status_name(int rc)
{
    switch (rc) {
    case MS_OK: return "OK";
    case MS_EINPUT: return "EINPUT";
    case MS_ECHECK: return "ECHECK";
    case MS_EIO: return "EIO";
    default: return "?";
    }
}

int main(int argc, char **argv)
{
    if (fault_install())
        die("install", "SQLite or libcrypto refused the hooks (called too late?)");
    setvbuf(stdout, NULL, _IOLBF, 0);
    int64_t budget = 60;
    const char *only = NULL, *only_kind = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            budget = 3;
        else if (!strcmp(argv[i], "--cases") && i + 1 < argc) {
            char *end;
            errno = 0;
            budget = strtoll(argv[++i], &end, 10);
            if (errno || end == argv[i] || *end || budget < 1) {
                fprintf(stderr, "fault_sweep: --cases %s: not a positive number\n", argv[i]);
                return 2;
            }
        }
        else if (!strcmp(argv[i], "--only") && i + 1 < argc)
            only = argv[++i];
        else if (!strcmp(argv[i], "--kind") && i + 1 < argc)
            only_kind = argv[++i];
        else if (!strcmp(argv[i], "-v"))
            verbose = 1;
        else {
            fprintf(stderr, "usage: fault_sweep [--cases N] [--quick] [--only OP] [--kind KIND] [-v]\n");
            return 2;
        }
    }
    if (budget < 1)
        budget = 1;
    snprintf(top, sizeof top, "/tmp/fuzz-fault-XXXXXX");
    if (!mkdtemp(top))
        die("mkdtemp", strerror(errno));
    top_owner = getpid();
    atexit(cleanup);
    char kp[600];
    snprintf(kp, sizeof kp, "%s/keyring", top);
    ms_err e;
    ms_keyring_source src = {MS_KEYRING_FILE, "", "faults"};
    snprintf(src.spec, sizeof src.spec, "%s", kp);
    if (ms_keyring_create(kp, "faults", &e) || ms_keyring_load(&src, &kr, &e))
        die("keyring", e.msg);
    unsigned char md[32];
    if (ms_keyring_commit_key(kr, commit_key, &e) || ms_sha256(cp_cfg, sizeof cp_cfg - 1, md, &e))
        die("setup", e.msg);
    ms_hex(md, 32, cp_cfg_hex);
    snprintf(trusted.name, sizeof trusted.name, "faults");
    if (ms_keyring_public_key(kr, trusted.pub, &e) || ms_note_key_id(trusted.name, trusted.pub, trusted.key_id, &e))
        die("keyring", e.msg);

    /* The fault-free lakes, made in children like every case (so a
     * one-time initialisation is never done by a case's parent only). */
    for (int i = 0; i < NOPS; i++) {
        if (ops[i].run == op_verify)
            continue;
        if (ops[i].run == op_purge) /* purges a copy of the run's lake */
            snprintf(verify_target, sizeof verify_target, "%s", ops[0].ref);
        char d[600], why[256];
        snprintf(d, sizeof d, "%s/ref-%s", top, ops[i].name);
        if (mkdir(d, 0700))
            die(d, strerror(errno));
        outcome r;
        if (run_case(&ops[i], d, FK_READ, 0, FF_EIO, &r, why, sizeof why) || r.rc)
            die(ops[i].name, r.rc ? r.msg : why);
        snprintf(ops[i].ref, sizeof ops[i].ref, "%.500s/lake.db", d);
    }
    snprintf(verify_target, sizeof verify_target, "%s", ops[0].ref);
    lake_verify_report ref_rep;
    {
        lake_verify_opts vo = {.trusted = &trusted};
        if (lake_verify(ops[0].ref, &vo, &ref_rep, &e) || !ref_rep.authenticated || !ref_rep.complete)
            die("reference run", e.msg);
        snprintf(purge_old_head, sizeof purge_old_head, "%s", ref_rep.head);
        lake_verify_report pr;
        for (int i = 0; i < NOPS; i++)
            if (ops[i].run == op_purge &&
                (lake_verify(ops[i].ref, &vo, &pr, &e) || !strcmp(pr.head, purge_old_head)))
                die("reference purge", "it removed nothing, or its lake does not verify");
    }

    static cell cells[FK_COUNT][8];
    int passed = 0, failed = 0, ncase = 0;
    for (int oi = 0; oi < NOPS; oi++) {
        const op *o = &ops[oi];
        if (only && strcmp(only, o->name))
            continue;
        /* How many operations of each kind it makes. */
        char d[600], why[1024];
        snprintf(d, sizeof d, "%s/count-%s", top, o->name);
        if (mkdir(d, 0700))
            die(d, strerror(errno));
        outcome base;
        if (run_case(o, d, FK_READ, 0, FF_EIO, &base, why, sizeof why) || base.rc)
            die(o->name, base.rc ? base.msg : why);
        fuzz_rm_tree(d);
        printf("%-10s fault-free: %lld reads, %lld writes, %lld fsyncs, %lld truncates, %lld allocations\n", o->name,
               (long long)base.counts[FK_READ], (long long)base.counts[FK_WRITE], (long long)base.counts[FK_SYNC],
               (long long)base.counts[FK_TRUNC], (long long)base.counts[FK_ALLOC]);
        for (int k = 0; k < FK_COUNT; k++) {
            if (only_kind && strcmp(only_kind, fault_kind_names[k]))
                continue;
            int64_t total = base.counts[k];
            for (int fi = 0; fi < 3 && flavors_of[k][fi] >= 0; fi++) {
                int fl = flavors_of[k][fi];
                int64_t want = budget * (budget > 3 ? o->weight : 1); /* --quick stays quick */
                int64_t n_cases = total < want ? total : want;
                for (int64_t c = 0; c < n_cases; c++) {
                    /* N spread over 1..total, the first and the last included. */
                    int64_t nth = n_cases == 1 ? 1 : 1 + c * (total - 1) / (n_cases - 1);
                    snprintf(d, sizeof d, "%s/case-%d", top, ncase++);
                    if (mkdir(d, 0700))
                        die(d, strerror(errno));
                    outcome r;
                    memset(&r, 0, sizeof r);
                    cell *ce = &cells[k][oi];
                    ce->cases++;
                    int bad = run_case(o, d, k, nth, fl, &r, why, sizeof why);
                    int lost = 0;
                    if (!bad && r.rc != MS_OK && (!r.msg[0] || r.rc != MS_EIO)) {
                        snprintf(why, sizeof why, "status %s (%d) for a fault: %s", status_name(r.rc), r.rc, r.msg);
                        bad = 1;
                    }
                    if (!bad && o->run == op_verify && r.rc == MS_OK &&
                        (strcmp(r.head, ref_rep.head) || r.env_steps != ref_rep.env_steps)) {
                        snprintf(why, sizeof why, "verify says OK with another head or env-steps");
                        bad = lost = 1;
                    }
                    if (!bad && check_lake(o, d, &r, why, sizeof why))
                        bad = lost = 1;
                    if (r.injected)
                        ce->injected++;
                    if (!bad)
                        ce->survived++;
                    ce->lost += lost;
                    if (r.injected && r.rc == MS_OK)
                        ce->ok_despite++;
                    if (r.rc <= 0 && r.rc >= MS_EIO)
                        ce->by_status[-r.rc]++;
                    if (bad) {
                        failed++;
                        printf("FAIL %s %s #%lld (%s%s): %s\n", o->name, fault_kind_names[k], (long long)nth,
                               fault_flavor_names[fl], fl == FF_ENOSPC ? ", sticky" : "", why);
                    } else {
                        passed++;
                        if (verbose)
                            printf("ok   %s %s #%lld (%s): %s %s\n", o->name, fault_kind_names[k], (long long)nth,
                                   fault_flavor_names[fl], status_name(r.rc), r.msg);
                    }
                    fuzz_rm_tree(d);
                }
            }
        }
    }
    printf("\n%-9s %-10s %6s %8s %8s %9s %5s  %s\n", "kind", "operation", "cases", "injected", "survived",
           "data lost", "OK", "errors (EIO / EINPUT)");
    for (int k = 0; k < FK_COUNT; k++)
        for (int oi = 0; oi < NOPS; oi++) {
            const cell *ce = &cells[k][oi];
            if (only && strcmp(only, ops[oi].name))
                continue;
            printf("%-9s %-10s %6d %8d %8d %9d %5d  %d / %d\n", fault_kind_names[k], ops[oi].name, ce->cases,
                   ce->injected, ce->survived, ce->lost, ce->by_status[0], ce->by_status[3], ce->by_status[1]);
        }
    printf("faults: %d passed, %d failed\n", passed, failed);
    ms_keyring_free(kr);
    return failed ? 1 : 0;
}
