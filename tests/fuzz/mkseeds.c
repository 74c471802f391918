/* mkseeds — writes the seed corpora of tests/fuzz/corpus/ (make fuzz-seeds).
 *
 * Every seed is made by the project's own code (the config renderer, the
 * broadcast encoder, the blob serialiser, the checkpoint formatter and note
 * signer, the proof writer over a real lake) or is a hand-written plan
 * (lake). Key material in the seeds is only ever published test vectors:
 * RFC 8032 section 7.1's Ed25519 test secret keys (keyring seeds) and
 * golang.org/x/mod/sumdb/note's PeterNeumann test signer (signed notes).
 * The proof seeds come from a lake made with a throwaway keyring in a
 * private /tmp directory: proofs and checkpoint bodies carry hashes, never a
 * key. Deterministic but for the proof seeds' run id (the keyring is new
 * each time), so regenerating rewrites those.
 *
 * usage: fuzz_mkseeds DIR   (DIR = tests/fuzz/corpus; one folder per harness) */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "base/b64.h"
#include "base/hash.h"
#include "base/hmac.h"
#include "exp/experiment.h"
#include "keys/keyring.h"
#include "ledger/note.h"
#include "ledger/proof.h"
#include "ledger/verify.h"
#include "nn/mlp.h"
#include "sim/bcast.h"
#include "sim/config.h"
#include "sim/sim.h"
#include "tests/fuzz/fuzz.h"

static const char *outdir;
static int written;

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "mkseeds: %s: %s\n", what, msg);
    exit(2);
}

static void seed(const char *harness, const char *name, const void *p, size_t n)
{
    char d[512], f[700];
    snprintf(d, sizeof d, "%s/%s", outdir, harness);
    if (mkdir(d, 0755) && errno != EEXIST)
        die(d, strerror(errno));
    snprintf(f, sizeof f, "%s/%s", d, name);
    if (fuzz_write_file(f, p, n))
        die(f, strerror(errno));
    written++;
}

static void seed_prefixed(const char *harness, const char *name, const uint8_t *prefix, size_t pn, const void *p,
                          size_t n)
{
    uint8_t *b = malloc(pn + n);
    if (!b)
        die("seed", "out of memory");
    memcpy(b, prefix, pn);
    memcpy(b + pn, p, n);
    seed(harness, name, b, pn + n);
    free(b);
}

/* ---- config ---- */
static void configs(void)
{
    static char buf[4 * MS_CONFIG_TEXT_MAX];
    size_t n = ms_config_render_documented(buf, sizeof buf);
    seed("config", "documented.ini", buf, n);
    ms_config c;
    ms_config_defaults(&c);
    n = ms_config_render(&c, buf, sizeof buf);
    seed("config", "canonical.ini", buf, n);
    ms_config_defaults(&c);
    ms_err e;
    static const char *const sets[] = {"sim.envs=2", "sim.poison_rate=0.2", "sim.poison_kinds=bad_mac,replay",
                                       "agents.hidden=8,8,8", "agents.activation=relu", "train.credit=rules",
                                       "telemetry.level=sampled", "keys.rotate_every_episodes=3",
                                       "surveillance.action=warn", "sim.priors=0.25,0.25,0.25,0.25"};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        if (ms_config_set(&c, sets[i], &e))
            die(sets[i], e.msg);
    n = ms_config_render(&c, buf, sizeof buf);
    seed("config", "varied.ini", buf, n);
    /* The project's hand-written test configs, good and bad. */
    DIR *d = opendir("tests/configs");
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (!strstr(de->d_name, ".ini"))
            continue;
        char p[512];
        size_t fn;
        snprintf(p, sizeof p, "tests/configs/%s", de->d_name);
        char *t = fuzz_read_file(p, &fn);
        if (!t)
            die(p, strerror(errno));
        seed("config", de->d_name, t, fn);
        free(t);
    }
    if (d)
        closedir(d);
}

/* ---- bcast: the receiver of fuzz_bcast.c (dev keyring of seed 3) ---- */
static void broadcasts(void)
{
    ms_config c;
    ms_config_defaults(&c);
    c.envs = 4;
    c.episode_len = 64;
    c.seed = 3;
    ms_err e;
    ms_keyring *kr;
    ms_sim sim;
    if (ms_keyring_dev(c.seed, &kr, &e))
        die("dev keyring", e.msg);
    ms_key_source ks = {kr, 0, 1, 0};
    if (ms_sim_init(&sim, &c, MS_STREAM_ENV, &ks, &e) || ms_sim_observe(&sim, &e))
        die("sim", e.msg);
    for (int i = 0; i < c.envs; i++) {
        const char *b = sim.s.bcast + (size_t)i * MS_BCAST_MAX;
        size_t n = (size_t)sim.s.bcast_len[i];
        char name[32];
        uint8_t pre[2] = {(uint8_t)(i << 1), 0};
        snprintf(name, sizeof name, "env%d", i);
        seed_prefixed("bcast", name, pre, 2, b, n);
        pre[0] |= 1 | 8; /* re-MAC, with the step clock */
        snprintf(name, sizeof name, "env%d-clock-remac", i);
        seed_prefixed("bcast", name, pre, 2, b, n);
    }
    ms_sim_release(&sim);
    ms_keyring_free(kr);
}

/* ---- blob ---- */
static void blobs(void)
{
    static const struct { int in, nh, h[4], out, act; } shapes[] = {
        {9, 1, {8}, 2, MLP_TANH}, {27, 2, {16, 16}, 3, MLP_RELU}, {1, 1, {1}, 1, MLP_TANH}, {10, 4, {3, 2, 2, 3}, 2, MLP_RELU}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        mlp m;
        ms_err e;
        if (mlp_init(&m, shapes[k].in, shapes[k].h, shapes[k].nh, shapes[k].out, shapes[k].act, 4, NULL, 7, (uint32_t)k,
                     &e))
            die("mlp", e.msg);
        size_t n = mlp_blob_size(&m);
        unsigned char *b = malloc(n);
        if (!b || mlp_to_blob(&m, b, n, &e))
            die("blob", "cannot serialise");
        char name[32];
        for (uint8_t f = 0; f < 2; f++) {
            snprintf(name, sizeof name, "shape%zu-%s", k, f ? "resum" : "exact");
            seed_prefixed("blob", name, &f, 1, b, n);
        }
        free(b);
        mlp_release(&m);
    }
}

/* ---- keyring: RFC 8032 section 7.1 test secret keys only ---- */
static const char *const rfc8032_hex[3] = {
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
    "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
};

static void unhex(const char *h, unsigned char *out)
{
    for (int i = 0; i < 32; i++) {
        unsigned v;
        if (sscanf(h + 2 * i, "%2x", &v) != 1)
            die("hex", h);
        out[i] = (unsigned char)v;
    }
}

static void keyrings(void)
{
    unsigned char k[3][32];
    char b64[3][64], fp[3][33];
    static const char tag[] = "marlsim-key-fingerprint-v1";
    for (int i = 0; i < 3; i++) {
        unhex(rfc8032_hex[i], k[i]);
        ms_b64_encode(k[i], 32, b64[i]);
        unsigned char d[32];
        ms_err e;
        if (ms_sha256_2(tag, sizeof tag - 1, k[i], 32, d, &e))
            die("sha256", e.msg);
        ms_hex(d, 16, fp[i]);
    }
    char t[2048];
    int n = snprintf(t, sizeof t,
                     "# marlsim keyring: fuzz seed made of RFC 8032 test vectors (published, not secret)\n"
                     "marlsim-keyring 1\n"
                     "signing fuzz 2024-01-01T00:00:00Z %s\n"
                     "commit 2024-01-01T00:00:00Z %s\n"
                     "hmac 0 2024-01-01T00:00:00Z %s %s\n",
                     b64[0], b64[1], fp[2], b64[2]);
    seed("keyring", "one-generation", t, (size_t)n);
    n = snprintf(t, sizeof t,
                 "marlsim-keyring 1\n"
                 "\n"
                 "hmac 0 2024-01-01T00:00:00Z %s destroyed\n"
                 "commit 2024-02-29T23:59:59Z %s\n"
                 "# a comment between records\n"
                 "hmac 1 2024-03-01T12:00:00Z %s %s\n"
                 "signing marlsim 2023-12-31T00:00:00Z %s\n"
                 "hmac 2 2024-03-02T12:00:00Z %s %s\n",
                 fp[0], b64[1], fp[2], b64[2], b64[0], fp[1], b64[1]);
    seed("keyring", "three-generations-one-destroyed", t, (size_t)n);
    n = snprintf(t, sizeof t, "marlsim-keyring 1\nsigning fuzz 2024-01-01T00:00:00Z %s\n", b64[0]);
    seed("keyring", "no-commit-line", t, (size_t)n);
}

/* ---- note: Go's published PeterNeumann test signer ---- */
#define EM "\xe2\x80\x94"
static const char peter_skey_b64[] = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";

static int peter_sign(void *ctx, const void *msg, size_t n, unsigned char sig[64], ms_err *e)
{
    const unsigned char *priv = ctx;
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, priv, 32);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    size_t sl = 64;
    int ok = k && md && EVP_DigestSignInit(md, NULL, NULL, NULL, k) == 1 &&
             EVP_DigestSign(md, sig, &sl, msg, n) == 1 && sl == 64;
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(k);
    return ok ? MS_OK : ms_fail(e, MS_EIO, "Ed25519 signing failed");
}

static void notes(void)
{
    unsigned char sk[33];
    if (ms_b64_decode(peter_skey_b64, strlen(peter_skey_b64), sk, sizeof sk) != 33 || sk[0] != 1)
        die("note", "the published test key does not decode");
    ms_note_signer s = {"PeterNeumann", {0xc7, 0x4f, 0x20, 0xa3}, peter_sign, sk + 1};
    static const char go_note[] = "If you think cryptography is the answer to your problem,\n"
                                  "then you don't know what your problem is.\n"
                                  "\n" EM " PeterNeumann "
                                  "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    seed("note", "go-note", go_note, sizeof go_note - 1);
    static const char sumdb[] = "go.sum database tree\n6476701\nmb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=\n\n" EM
                                " sum.golang.org "
                                "Az3grsLX85Gz+s1SiTbgkuqxgItqFq7gsMUEyVnrsa9LM7Us9S+1xbFIGu95949rj4nPRYfvimWEPWL+o3GeoWwOoAw=\n";
    seed("note", "sumdb-checkpoint", sumdb, sizeof sumdb - 1);
    static const char vkey[] = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    seed("note", "verifier-key", vkey, sizeof vkey - 1);
    unsigned char root[32];
    for (int i = 0; i < 32; i++)
        root[i] = (unsigned char)(i * 7 + 1);
    static const char *const exts[2] = {"status: completed", "extension two"};
    static const struct { const char *origin; uint64_t size; int next; } cps[] = {
        {"marlsim/0123456789abcdef0123456789abcdef", 292, 1},
        {"marlsim/0123456789abcdef0123456789abcdef/reproduce", 8, 0},
        {"example.com/log with spaces+plus", 18446744073709551615ull, 2},
        {"o", 0, 0}};
    for (size_t k = 0; k < sizeof cps / sizeof cps[0]; k++) {
        char body[1024], note[2048], name[32];
        size_t bn, nn;
        ms_err e;
        if (ms_checkpoint_format(cps[k].origin, cps[k].size, root, exts, cps[k].next, body, sizeof body, &bn, &e))
            die("checkpoint", e.msg);
        snprintf(name, sizeof name, "checkpoint-body%zu", k);
        seed("note", name, body, bn);
        if (ms_note_sign(body, bn, &s, note, sizeof note, &nn, &e))
            die("sign", e.msg);
        snprintf(name, sizeof name, "checkpoint-signed%zu", k);
        seed("note", name, note, nn);
    }
}

/* ---- proof and lake: a tiny real run ---- */

static void proofs(void)
{
    const char *d = fuzz_scratch_dir("seeds");
    if (!d)
        die("mkdtemp", strerror(errno));
    char kp[600], db[600];
    snprintf(kp, sizeof kp, "%s/keyring", d);
    snprintf(db, sizeof db, "%s/run.db", d);
    ms_err e;
    ms_keyring *kr;
    ms_keyring_source src = {MS_KEYRING_FILE, "", "seeds"};
    snprintf(src.spec, sizeof src.spec, "%s", kp);
    if (ms_keyring_create(kp, "seeds", &e) || ms_keyring_load(&src, &kr, &e))
        die("keyring", e.msg);
    ms_config c;
    fuzz_tiny_config(&c);
    exp_options o = {.path = db, .overwrite = 1, .kr = kr, .first_gen = -1};
    exp_result res;
    if (exp_run(&c, &o, &res, &e))
        die("run", e.msg);
    lake_verify_report rep;
    if (lake_verify(db, NULL, &rep, &e))
        die("verify", e.msg);
    unsigned char root[40];
    if (ms_b64_decode(rep.cp_root, strlen(rep.cp_root), root, sizeof root) != 32)
        die("root", rep.cp_root);
    char body[1024];
    size_t bn;
    const char *ext[1] = {"status: completed"};
    if (ms_checkpoint_format(rep.origin, (uint64_t)rep.cp_size, root, ext, 1, body, sizeof body, &bn, &e))
        die("checkpoint", e.msg);
    static const struct { int cons; int64_t a, b; } ps[] = {
        {0, 0, 0}, {0, 5, 0}, {0, 100, 200}, {1, 1, 0}, {1, 7, 0}, {1, 64, 128}, {1, 200, 0}};
    for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
        char *text = NULL, name[32];
        int64_t to = ps[k].b ? ps[k].b : rep.entries;
        int rc = ps[k].cons ? lake_prove_consistency(db, NULL, ps[k].a, to, &text, &e)
                            : lake_prove_inclusion(db, NULL, ps[k].a, ps[k].b, &text, &e);
        if (rc)
            die("prove", e.msg);
        snprintf(name, sizeof name, "%s%zu", ps[k].cons ? "consistency" : "inclusion", k);
        seed("proof", name, text, strlen(text));
        /* the same proof with the run's final checkpoint body after a NUL */
        size_t tn = strlen(text);
        char *both = malloc(tn + 1 + bn);
        if (!both)
            die("proof", "out of memory");
        memcpy(both, text, tn);
        both[tn] = 0;
        memcpy(both + tn + 1, body, bn);
        snprintf(name, sizeof name, "%s%zu-checkpoint", ps[k].cons ? "consistency" : "inclusion", k);
        seed("proof", name, both, tn + 1 + bn);
        free(both);
        free(text);
    }
    ms_keyring_free(kr);
}

/* Lake plans (tests/fuzz/fuzz_lake.c): flags byte, then operations. */
static void lake_plans(void)
{
    static const struct { const char *name; uint8_t p[24]; size_t n; } plans[] = {
        {"base0-as-is", {0x00}, 1},
        {"base1-as-is", {0x01}, 1},
        {"base2-as-is", {0x02}, 1},
        {"base3-as-is", {0x03}, 1},
        /* SET joint_actions(table 4+2) row 3 column 4 to integer 1 */
        {"set-int", {0x00, 0, 6, 3, 0, 4, 1, 1, 0, 0, 0}, 11},
        {"set-int-rechain", {0x04, 0, 6, 3, 0, 4, 1, 1, 0, 0, 0}, 11},
        {"set-int-rechain-dropcp", {0x0c, 0, 6, 3, 0, 4, 1, 1, 0, 0, 0}, 11},
        {"set-int-rechain-dev", {0x07, 0, 6, 3, 0, 4, 1, 1, 0, 0, 0}, 11},
        {"set-text-wal", {0x12, 0, 4, 1, 0, 2, 3, 3, 'a', 'b', 'c'}, 11},
        {"nudge-runs", {0x00, 0, 0, 0, 0, 13, 5, 1}, 8},
        {"delete-ledger", {0x01, 1, 1, 5, 0}, 5},
        {"dup-salts", {0x00, 2, 2, 1, 0}, 5},
        {"count-ledger-rows", {0x00, 3, 0, 1}, 4},
        {"count-row-counts", {0x01, 3, 1, 255, 2}, 5},
        {"schema-byte", {0x00, 4, 0, 3, 10, 0, 'X'}, 7},
        {"schema-append", {0x00, 4, 1, 5, 4, ' ', '-', '-', 'x'}, 9},
        {"schema-delete", {0x00, 4, 2, 7}, 4},
        {"schema-extra", {0x00, 4, 3, 0, 1}, 5},
        {"tail-running", {0x02, 5, 3, 1}, 4},
        {"tail-completed", {0x00, 5, 20, 0}, 4},
        {"tail-rechain-running", {0x06, 5, 3, 1}, 4},
        {"raw-db", {0x00, 6, 0, 0x10, 0x40, 0, 0, 4, 1, 2, 3, 4}, 12},
        {"raw-wal", {0x02, 6, 1, 0x00, 0x60, 0, 0, 2, 0xff, 0xff}, 10},
        {"page-zero", {0x00, 7, 0, 3, 0, 0}, 6},
        {"page-swap-wal", {0x02, 7, 1, 1, 2, 2}, 6},
        {"trunc-db", {0x00, 8, 0, 0x00, 0x80, 0, 0}, 7},
        {"trunc-wal", {0x02, 8, 1, 0x00, 0x90, 0, 0}, 7},
        {"side-journal", {0x00, 9, 0, 0, 4, 0xd9, 0xd5, 0x05, 0xf9}, 9},
        {"side-foreign-wal", {0x00, 9, 0, 1}, 4},
        {"side-drop-wal", {0x02, 9, 0, 2}, 4},
    };
    for (size_t k = 0; k < sizeof plans / sizeof plans[0]; k++)
        seed("lake", plans[k].name, plans[k].p, plans[k].n);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_mkseeds DIR\n");
        return 2;
    }
    outdir = argv[1];
    if (mkdir(outdir, 0755) && errno != EEXIST)
        die(outdir, strerror(errno));
    configs();
    broadcasts();
    blobs();
    keyrings();
    notes();
    proofs();
    lake_plans();
    printf("mkseeds: %d seeds in %s\n", written, outdir);
    return 0;
}
