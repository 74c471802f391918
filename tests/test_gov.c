/* test_gov.c — gov/release.h without a lake: the allow-list's refusals, and
 * release files whose approvals a signer crafted by hand (which `marlsim
 * approve` would refuse to make): an approval signed by the run's own key, a
 * forged approver line. tests/gov.sh tries the rest on real lakes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/b64.h"
#include "check.h"
#include "gov/release.h"
#include "keys/keyring.h"

static char dir[64];
static ms_keyring *kr_alice, *kr_bob;
static char pub_alice[256], pub_bob[256];

static int sign_kr(void *ctx, const void *msg, size_t n, unsigned char sig[64], ms_err *e)
{
    return ms_keyring_sign(ctx, msg, n, sig, e);
}

static int load(const char *name, ms_keyring **kr, char *pub)
{
    char path[128];
    ms_err e;
    ms_keyring_source src;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unsigned char p[32];
    if (ms_keyring_create(path, name, &e) || ms_keyring_resolve(path, NULL, &src, &e) ||
        ms_keyring_load(&src, kr, &e) || ms_keyring_public_key(*kr, p, &e) ||
        ms_note_verifier_format(name, p, pub, 256, &e)) {
        fprintf(stderr, "  %s\n", e.msg);
        return -1;
    }
    return 0;
}

/* An approval of a fixed lineage by `approver`, naming run key run_key,
 * signed with kr. */
static char *approval(const char *approver, const char *run_key, ms_keyring *kr, size_t *n)
{
    char text[2048];
    int k = snprintf(text, sizeof text,
                     "marlsim-approval v1\napprover %s\nrun 0123abcd\norigin marlsim/0123abcd\ncheckpoint 9 "
                     "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nconfig-sha256 %064d\neval 3\nsnapshot GET %064d\n"
                     "snapshot OPEN %064d\nsnapshot BIN %064d\nrun-key %s\n",
                     approver, 0, 0, 0, 0, run_key);
    ms_note_signer s = {ms_keyring_signer_name(kr), {0}, sign_kr, kr};
    unsigned char p[32];
    ms_err e;
    char *out = malloc(4096);
    if (!out || ms_keyring_public_key(kr, p, &e) || ms_note_key_id(s.name, p, s.key_id, &e) ||
        ms_note_sign(text, (size_t)k, &s, out, 4096, n, &e)) {
        free(out);
        return NULL;
    }
    return out;
}

/* A release file around two approvals (lineage as approval() states it;
 * the checkpoint note, config and blobs are placeholders: the approvals are
 * checked first). */
static char *release(const char *a, size_t an, const char *b, size_t bn, const char *run_key)
{
    char *ea = malloc(MS_B64_LEN(an) + 1), *eb = malloc(MS_B64_LEN(bn) + 1), *out = malloc(16384);
    if (!ea || !eb || !out)
        abort();
    ms_b64_encode(a, an, ea);
    ms_b64_encode(b, bn, eb);
    snprintf(out, 16384,
             "marlsim-release v1\nrun 0123abcd\norigin marlsim/0123abcd\ncheckpoint 9 "
             "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nconfig-sha256 %064d\neval 3\nrun-key %s\n"
             "checkpoint-note AAAA\nconfig-text eA==\nsnapshot GET %064d AAAA\nsnapshot OPEN %064d AAAA\n"
             "snapshot BIN %064d AAAA\napproval %s\napproval %s\nend\n",
             0, run_key, 0, 0, 0, ea, eb);
    free(ea);
    free(eb);
    return out;
}

static void allow_list_refusals(void)
{
    gov_approvers *l = malloc(sizeof *l);
    ms_err e;
    char t[1024];
    snprintf(t, sizeof t, "# ok\n\nalice %s\nbob %s\n", pub_alice, pub_bob);
    CHECK(gov_approvers_parse(t, strlen(t), "L", l, &e) == MS_OK && l->n == 2, "a good list: %s", e.msg);
    snprintf(t, sizeof t, "alice %s\nalice %s\n", pub_alice, pub_bob);
    CHECK(gov_approvers_parse(t, strlen(t), "L", l, &e) == MS_EINPUT && strstr(e.msg, "L:2: approver alice is listed twice"),
          "a name twice: %s", e.msg);
    const char *id = strchr(pub_alice, '+');
    snprintf(t, sizeof t, "alice %.9s\n", id + 1);
    CHECK(gov_approvers_parse(t, strlen(t), "L", l, &e) == MS_EINPUT && strstr(e.msg, "not a full verifier key"),
          "a 4-byte key id alone: %s", e.msg);
    snprintf(t, sizeof t, "alice  %s\n", pub_alice);
    CHECK(gov_approvers_parse(t, strlen(t), "L", l, &e) == MS_EINPUT, "two spaces");
    snprintf(t, sizeof t, "alice %s", pub_alice);
    CHECK(gov_approvers_parse(t, strlen(t), "L", l, &e) == MS_EINPUT, "no final newline");
    CHECK(gov_approvers_parse("# none\n", 7, "L", l, &e) == MS_EINPUT, "an empty list");
    free(l);
}

static void crafted_approvals(void)
{
    gov_approvers *l = malloc(sizeof *l);
    ms_err e;
    char t[1024];
    snprintf(t, sizeof t, "alice %s\nbob %s\n", pub_alice, pub_bob);
    CHECK(gov_approvers_parse(t, strlen(t), "L", l, &e) == MS_OK, "%s", e.msg);
    size_t an, bn;
    gov_release rel;
    /* The run's key is alice's: her approval is the run signer's own. */
    char *a = approval("alice", pub_alice, kr_alice, &an), *b = approval("bob", pub_alice, kr_bob, &bn);
    CHECK(a && b, "signing");
    char *r = release(a, an, b, bn, pub_alice);
    CHECK(gov_release_open(r, strlen(r), l, &rel, &e) == MS_ECHECK && strstr(e.msg, "run's own signing key"),
          "an approval by the run's key: %s", e.msg);
    free(a);
    free(b);
    free(r);
    /* Bob's key signs an approval that says it is alice's. */
    a = approval("alice", pub_bob, kr_bob, &an);
    b = approval("bob", pub_bob, kr_bob, &bn);
    r = release(a, an, b, bn, pub_bob);
    CHECK(gov_release_open(r, strlen(r), l, &rel, &e) == MS_ECHECK &&
              strstr(e.msg, "not signed by the key the allow-list gives approver alice"),
          "a forged approver line: %s", e.msg);
    free(a);
    free(b);
    free(r);
    /* Two honest approvals of a placeholder release: the approvals pass, the
     * placeholder checkpoint note does not (it is not signed by the run key). */
    ms_keyring *kr_c;
    char pub_c[256];
    CHECK(load("carol", &kr_c, pub_c) == 0, "carol");
    a = approval("alice", pub_c, kr_alice, &an);
    b = approval("bob", pub_c, kr_bob, &bn);
    r = release(a, an, b, bn, pub_c);
    int rc = gov_release_open(r, strlen(r), l, &rel, &e);
    CHECK(rc != MS_OK && !strstr(e.msg, "approv"), "past the approvals, the placeholders fail: %s", e.msg);
    /* One byte more after 'end'. */
    size_t rn = strlen(r);
    r[rn] = 'x';
    CHECK(gov_release_open(r, rn + 1, l, &rel, &e) == MS_EINPUT, "bytes after end: %s", e.msg);
    free(a);
    free(b);
    free(r);
    ms_keyring_free(kr_c);
    free(l);
}

void suite_gov(void)
{
    snprintf(dir, sizeof dir, "/tmp/gov-unit-XXXXXX");
    if (!mkdtemp(dir) || load("alice", &kr_alice, pub_alice) || load("bob", &kr_bob, pub_bob)) {
        check_run("gov setup", allow_list_refusals); /* reports the failure */
        return;
    }
    RUN(allow_list_refusals);
    RUN(crafted_approvals);
    ms_keyring_free(kr_alice);
    ms_keyring_free(kr_bob);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "%s/alice", dir);
    unlink(cmd);
    snprintf(cmd, sizeof cmd, "%s/bob", dir);
    unlink(cmd);
    snprintf(cmd, sizeof cmd, "%s/carol", dir);
    unlink(cmd);
    rmdir(dir);
}
