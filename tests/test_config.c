/* test_config.c — sim/config: the error corpus, --set, cross-key checks, the
 * canonical hash and configs/default.ini against the key table.
 *
 * Every corpus entry is checked for the status (MS_EINPUT), the place
 * ("t.ini:LINE:" at the start of the message), the key or section it names
 * and, where a value was wrong, the "allowed:" hint. Tests run from the
 * repository root (configs/default.ini is read from there). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/config.h"
#include "tests/check.h"

/* ---- helpers ---- */

/* Reads a whole file into a NUL-terminated malloc'd buffer (NULL on error). */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *nb = realloc(buf, 2 * cap + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) {
        buf[n] = 0;
        if (len)
            *len = n;
    }
    return buf;
}

/* Loads text on top of the defaults; returns the status, message in e. */
static int load(ms_config *c, const char *text, ms_err *e)
{
    ms_config_defaults(c);
    e->msg[0] = 0;
    return ms_config_load_string(c, text, "t.ini", e);
}

static void hash_of_text(const char *text, char hex[65])
{
    ms_config c;
    ms_err e;
    int rc = load(&c, text, &e);
    CHECK(rc == MS_OK, "config text should load: %s\n---\n%s---", e.msg, text);
    ms_config_hash(&c, hex);
}

static void hash_of_defaults(char hex[65])
{
    ms_config c;
    ms_config_defaults(&c);
    ms_config_hash(&c, hex);
}

/* ---- the error corpus ---- */

typedef struct bad_case {
    const char *name;
    const char *text;
    int line;            /* expected line in "t.ini:LINE:" */
    const char *names;   /* the key or section the message must name */
    const char *hint;    /* further text it must contain (allowed values, reason); NULL = none */
} bad_case;

#define ALLOWED "allowed:"

static const bad_case corpus[] = {
    {"unknown section", "[run]\nseed = 3\n\n[simulation]\nenvs = 4\n", 4, "[simulation]", "sections are: run, sim, agents"},
    {"unknown empty section", "[]\nseed = 1\n", 1, "[]", "sections are:"},
    {"unknown section without keys", "[run]\nseed = 2\n[nope]\n", 3, "[nope]", "sections are:"},
    {"key before any section", "# leading comment\nseed = 5\n[run]\n", 2, "'seed'", "before any [section]"},
    {"unknown key", "[run]\nname = x\nsead = 3\n", 3, "[run] unknown key 'sead'", "keys of [run] are: name, seed, env_steps, out"},
    {"key in the wrong section", "[sim]\nlr = 0.1\n", 2, "unknown key 'lr'", "keys of [sim] are:"},
    {"duplicate key", "[run]\nseed = 1\nname = a\nseed = 2\n", 4, "[run] seed", "duplicate key (already set at line 2)"},
    {"duplicate key across a reopened section", "[run]\nseed = 1\n[sim]\nenvs = 4\n[run]\nseed = 1\n", 6, "[run] seed", "already set at line 2"},
    {"text for an int", "[sim]\nenvs = four\n", 2, "[sim] envs", ALLOWED " an integer in [1, 4096]"},
    {"real for an int", "[sim]\nepisode_len = 6.5\n", 2, "[sim] episode_len", "is not an integer"},
    {"text for a real", "[train]\nlr = fast\n", 2, "[train] lr", ALLOWED " a finite number in (0, 1]"},
    {"empty value for an int", "[run]\nseed =\n", 2, "[run] seed", ALLOWED},
    {"trailing garbage after a real", "[train]\nclip = 0.1 abc\n", 2, "[train] clip", "trailing characters"},
    {"trailing garbage after an int", "[sim]\nenvs = 64x\n", 2, "[sim] envs", ALLOWED " an integer in [1, 4096]"},
    {"hex float", "[train]\ngamma = 0x1p-1\n", 2, "[train] gamma", ALLOWED},
    {"int below range", "[sim]\nenvs = 0\n", 2, "[sim] envs", "out of range; " ALLOWED " an integer in [1, 4096]"},
    {"int above range", "[sim]\nenvs = 4097\n", 2, "[sim] envs", "out of range; " ALLOWED " an integer in [1, 4096]"},
    {"real above range", "[train]\ngamma = 1.5\n", 2, "[train] gamma", "out of range; " ALLOWED " a finite number in [0, 1]"},
    {"real below range", "[sim]\ncampaign_rate = -0.01\n", 2, "[sim] campaign_rate", "out of range"},
    {"open lower bound lr = 0", "[train]\nlr = 0\n", 2, "[train] lr", "out of range; " ALLOWED " a finite number in (0, 1]"},
    {"open lower bound reward_clip = 0", "[rules]\nreward_clip = 0.0\n", 2, "[rules] reward_clip", "(0, 1000]"},
    {"underflow to 0 at an open bound", "[train]\nlr = 1e-400\n", 2, "[train] lr", ALLOWED},
    {"underflow to 0 where 0 is allowed", "[sim]\ncampaign_rate = 1e-400\n", 2, "[sim] campaign_rate", "underflows"},
    {"unknown section with a very long name", "[run]\nseed = 1\n[aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]\n", 3, NULL, "unknown section"},
    {"penalty must not be positive", "[rules]\npenalty_threat_intel_block = 0.5\n", 2, "[rules] penalty_threat_intel_block", "[-100, 0]"},
    {"nan", "[train]\nlr = nan\n", 2, "[train] lr", "not finite"},
    {"NaN uppercase", "[train]\nentropy = NaN\n", 2, "[train] entropy", "not finite"},
    {"inf", "[train]\ngamma = inf\n", 2, "[train] gamma", "not finite"},
    {"-infinity", "[rules]\nspam_ignored = -infinity\n", 2, "[rules] spam_ignored", "not finite"},
    {"1e999 overflows a double", "[train]\nvalue_coef = 1e999\n", 2, "[train] value_coef", "not finite"},
    {"seed overflows 64 bits", "[run]\nseed = 99999999999999999999\n", 2, "[run] seed", "overflow"},
    {"seed above INT64_MAX", "[run]\nseed = 9223372036854775808\n", 2, "[run] seed", ALLOWED " an integer in [0, 9223372036854775807]"},
    {"env_steps overflows 64 bits", "[run]\nenv_steps = 99999999999999999999\n", 2, "[run] env_steps", "overflow"},
    {"env_steps above range", "[run]\nenv_steps = 1000000000001\n", 2, "[run] env_steps", "out of range"},
    {"int overflow of an int key", "[sim]\nenvs = 99999999999999999999\n", 2, "[sim] envs", "overflow"},
    {"int key beyond int range", "[sim]\nenvs = 4294967297\n", 2, "[sim] envs", "out of range"},
    {"negative seed", "[run]\nseed = -1\n", 2, "[run] seed", "negative"},
    {"negative eval_seed", "[gate]\neval_seed = -7\n", 2, "[gate] eval_seed", "negative"},
    {"priors with 3 values", "[sim]\npriors = 0.7, 0.2, 0.1\n", 2, "[sim] priors", "need exactly 4; " ALLOWED},
    {"priors with 5 values", "[sim]\npriors = 0.6, 0.1, 0.1, 0.1, 0.1\n", 2, "[sim] priors", "more than 4"},
    {"priors not summing to 1", "[sim]\npriors = 0.5, 0.2, 0.2, 0.2\n", 2, "[sim] priors", "not 1"},
    {"priors with a non-number", "[sim]\npriors = 0.7, x, 0.08, 0.22\n", 2, "[sim] priors", "item 2 ('x')"},
    {"priors with a negative item", "[sim]\npriors = 1.1, -0.1, 0, 0\n", 2, "[sim] priors", "out of range"},
    {"priors with an empty item", "[sim]\npriors = 0.7,, 0.2, 0.1\n", 2, "[sim] priors", ALLOWED},
    {"hidden 0", "[agents]\nhidden = 0\n", 2, "[agents] hidden", "1 to 4 comma-separated integers in [1, 1024]"},
    {"hidden 5 layers", "[agents]\nhidden = 8, 8, 8, 8, 8\n", 2, "[agents] hidden", "more than 4 layers"},
    {"hidden non-integer", "[agents]\nhidden = 64, 32.5\n", 2, "[agents] hidden", "item 2 ('32.5')"},
    {"hidden too wide", "[agents]\nhidden = 2048\n", 2, "[agents] hidden", "out of range"},
    {"bad enum", "[agents]\nactivation = sigmoid\n", 2, "[agents] activation", ALLOWED " one of: tanh, relu"},
    {"enum is case-sensitive", "[train]\ncredit = Global\n", 2, "[train] credit", "difference, global, rules"},
    {"run name with /", "[run]\nname = runs/x\n", 2, "[run] name", "not usable in a file name; " ALLOWED},
    {"run name starting with .", "[run]\nname = .hidden\n", 2, "[run] name", "not starting with ."},
    {"run name ..", "[run]\nname = ..\n", 2, "[run] name", "file name"},
    {"run name too long",
     "[run]\nname = aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", 2, "[run] name", "1-64 characters"},
    {"malformed line (no =)", "[run]\nseed 5\n", 2, NULL, "malformed line; expected 'key = value'"},
    {"malformed line, later lines fine", "[run]\nseed = 3\n[sim]\nenvs\nepisode_len = 8\n", 4, NULL, "malformed"},
    {"malformed line before another error: the first wins", "[run]\nseed 5\nseed = x\n", 2, NULL, "malformed"},
    {"unterminated section header", "[run\nseed = 1\n", 1, NULL, "malformed"},
    {"trailing text after a section header", "[run] seed = 1\n", 1, NULL, "after section header"},
    {"line too long", NULL /* built below */, 3, NULL, "longer than"},
    {"unknown poison kind", "[sim]\npoison_kinds = bad_mac, flood\n", 2, "[sim] poison_kinds", "'flood'"},
    {"poison kind listed twice", "[sim]\npoison_kinds = replay, replay\n", 2, "[sim] poison_kinds", "twice"},
    {"poison kinds with all inside a list", "[sim]\npoison_kinds = all, replay\n", 2, "[sim] poison_kinds", ALLOWED " all, or a comma-separated list"},
    {"error after indented keys names the right line", "[run]\n  seed = 5\n\tname = ok\n   envs = 4\n", 4, "[run] unknown key 'envs'", NULL},
    {"--set-looking key in a file", "[run]\nrun.seed = 5\n", 2, "unknown key 'run.seed'", NULL},
};
#define NCORPUS (sizeof corpus / sizeof corpus[0])

static void check_bad(const bad_case *k, const char *text)
{
    ms_config c;
    ms_err e;
    int rc = load(&c, text, &e);
    CHECK(rc == MS_EINPUT, "[%s] status %d, want MS_EINPUT", k->name, rc);
    char where[32];
    snprintf(where, sizeof where, "t.ini:%d:", k->line);
    CHECK(strncmp(e.msg, where, strlen(where)) == 0, "[%s] message should start with '%s': %s", k->name, where, e.msg);
    if (k->names)
        CHECK(strstr(e.msg, k->names) != NULL, "[%s] message should name '%s': %s", k->name, k->names, e.msg);
    if (k->hint)
        CHECK(strstr(e.msg, k->hint) != NULL, "[%s] message should say '%s': %s", k->name, k->hint, e.msg);
    CHECK(strchr(e.msg, '\n') == NULL, "[%s] message is one line: %s", k->name, e.msg);
}

static void test_config_error_corpus(void)
{
    CHECK(NCORPUS >= 25, "corpus has %zu cases", NCORPUS);
    /* A 250-character value line: must be an error, never silently cut. */
    char longline[400];
    snprintf(longline, sizeof longline, "[run]\nseed = 1\nname = %0250d\n", 0);
    for (size_t i = 0; i < NCORPUS; i++)
        check_bad(&corpus[i], corpus[i].text ? corpus[i].text : longline);
}

/* Every value-error message carries the allowed hint, for every typed key:
 * feed each key a value no type accepts. */
static void test_config_every_key_has_allowed_hint(void)
{
    char doc[MS_CONFIG_TEXT_MAX * 2];
    size_t n = ms_config_render_documented(doc, sizeof doc);
    CHECK(n < sizeof doc, "documented text fits (%zu)", n);
    char section[64] = "";
    int keys = 0;
    char *save = NULL;
    for (char *line = strtok_r(doc, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '[') {
            snprintf(section, sizeof section, "%.*s", (int)(strcspn(line + 1, "]")), line + 1);
            continue;
        }
        if (line[0] == ';')
            continue;
        char key[64];
        snprintf(key, sizeof key, "%.*s", (int)strcspn(line, " ="), line);
        if (!strcmp(key, "out") || !strcmp(key, "keyring"))
            continue; /* paths accept any text */
        keys++;
        char text[256];
        snprintf(text, sizeof text, "; comment\n[%s]\n%s = @@\n", section, key);
        ms_config c;
        ms_err e;
        int rc = load(&c, text, &e);
        char want[160];
        snprintf(want, sizeof want, "t.ini:3: [%s] %s: value '@@'", section, key);
        CHECK(rc == MS_EINPUT && !strncmp(e.msg, want, strlen(want)), "[%s] %s: %s", section, key, e.msg);
        CHECK(strstr(e.msg, "; allowed: ") != NULL, "[%s] %s has no allowed hint: %s", section, key, e.msg);
    }
    CHECK(keys > 40, "walked %d keys", keys);
}

/* A NUL byte can only arrive through a file. */
static void test_config_nul_byte_file(void)
{
    char path[] = "/tmp/marlsim-test-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    if (fd < 0)
        return;
    static const char text[] = "[run]\nseed = 2\nname = a\0b\nenv_steps = 10\n";
    ssize_t w = write(fd, text, sizeof text - 1);
    close(fd);
    CHECK(w == (ssize_t)(sizeof text - 1), "write");
    ms_config c;
    ms_err e;
    ms_config_defaults(&c);
    int rc = ms_config_load(&c, path, &e);
    char where[64];
    snprintf(where, sizeof where, "%s:3:", path);
    CHECK(rc == MS_EINPUT, "NUL byte: status %d", rc);
    CHECK(!strncmp(e.msg, where, strlen(where)), "NUL byte names %s: %s", where, e.msg);
    CHECK(strstr(e.msg, "NUL") != NULL, "says NUL: %s", e.msg);

    /* The same file without the NUL loads, through the same path. */
    FILE *f = fopen(path, "wb");
    fputs("[run]\nseed = 2\n  name = ab\nenv_steps = 10\n", f);
    fclose(f);
    ms_config_defaults(&c);
    rc = ms_config_load(&c, path, &e);
    CHECK(rc == MS_OK && c.seed == 2 && !strcmp(c.name, "ab") && c.env_steps == 10, "file loads: %s", e.msg);
    unlink(path);

    ms_config_defaults(&c);
    rc = ms_config_load(&c, "/nonexistent/marlsim.ini", &e);
    CHECK(rc == MS_EINPUT && strstr(e.msg, "/nonexistent/marlsim.ini") != NULL, "missing file: %d %s", rc, e.msg);
}

/* Things that look odd but are valid INI: indentation (not a continuation),
 * CRLF, comments, inline ';' comments, blank lines, surrounding spaces. */
static void test_config_accepts_valid_forms(void)
{
    ms_config c;
    ms_err e;
    int rc = load(&c, "[run]\nname = x\n   seed = 5\n\tenv_steps = 100\n  [sim]\n    envs = 3\n", &e);
    CHECK(rc == MS_OK, "indented keys: %s", e.msg);
    CHECK(!strcmp(c.name, "x"), "indented line is not a continuation of name: '%s'", c.name);
    CHECK(c.seed == 5 && c.env_steps == 100 && c.envs == 3, "indented keys set: %llu %lld %d",
          (unsigned long long)c.seed, (long long)c.env_steps, c.envs);

    rc = load(&c, "[run]\r\nseed = 3\r\n\r\n[sim]\r\nenvs = 7\r\n", &e);
    CHECK(rc == MS_OK && c.seed == 3 && c.envs == 7, "CRLF: %s", e.msg);

    rc = load(&c, "; c1\n# c2\n\n[train]   ; the trainer\nlr=0.5\n   ;indented comment\nclip   =   0.3   ; inline\n", &e);
    CHECK(rc == MS_OK && c.lr == 0.5 && c.clip == 0.3, "comments and spacing: %s", e.msg);

    char longc[400];
    snprintf(longc, sizeof longc, "[run]\n; %0300d\nseed = 4\n", 0);
    rc = load(&c, longc, &e);
    CHECK(rc == MS_OK && c.seed == 4, "a comment longer than the line limit: %s", e.msg);

    rc = load(&c, "[run]\nseed = 9223372036854775807\n[gate]\neval_seed = 0\n", &e);
    CHECK(rc == MS_OK && c.seed == 9223372036854775807ull && c.eval_seed == 0, "u64 bounds: %s", e.msg);

    rc = load(&c, "[sim]\nenvs = 4096\nepisode_len = 1\npriors = 1, 0, 0, 0\npoison_kinds = extra_field, bad_mac\n", &e);
    CHECK(rc == MS_OK && c.envs == 4096 && c.episode_len == 1 && c.priors[0] == 1.0, "bounds inclusive: %s", e.msg);
    CHECK(c.poison_kinds == ((1u << MS_POISON_EXTRA_FIELD) | (1u << MS_POISON_BAD_MAC)), "kinds mask %#x", c.poison_kinds);

    rc = load(&c, "[agents]\nhidden = 1, 2, 3, 1024\nactivation = relu\nobserve = all\n", &e);
    CHECK(rc == MS_OK && c.n_hidden == 4 && c.hidden[3] == 1024 && c.activation == MS_ACT_RELU &&
              c.observe == MS_OBSERVE_ALL, "agents: %s", e.msg);

    /* A comment line of 198 characters is the longest accepted; longer lines
     * are errors (the line buffer is 200 bytes with newline and NUL). */
    char text[512];
    int k = snprintf(text, sizeof text, "[run]\n;");
    memset(text + k, 'c', 197);
    snprintf(text + k + 197, sizeof text - (size_t)k - 197, "\nseed = 4\n");
    rc = load(&c, text, &e);
    CHECK(rc == MS_OK && c.seed == 4, "198-char line: %s", e.msg);

    /* A '#' after a value is either an inline comment or an error, never
     * part of a value that is silently accepted. */
    rc = load(&c, "[sim]\nenvs = 4 # four\n", &e);
    CHECK((rc == MS_OK && c.envs == 4) || (rc == MS_EINPUT && !strncmp(e.msg, "t.ini:2: [sim] envs", 19)), "inline #: %s", e.msg);

    /* An empty document is the defaults. */
    rc = load(&c, "", &e);
    CHECK(rc == MS_OK, "empty text: %s", e.msg);
}

/* First error wins; a failing load reports exactly one error. */
static void test_config_first_error_wins(void)
{
    ms_config c;
    ms_err e;
    int rc = load(&c, "[run]\nseed = x\n[sim]\nenvs = 0\n[nope]\n", &e);
    CHECK(rc == MS_EINPUT && !strncmp(e.msg, "t.ini:2:", 8) && strstr(e.msg, "seed"), "%s", e.msg);
    rc = load(&c, "[nope]\nseed = 1\n[run]\nseed = x\n", &e);
    CHECK(rc == MS_EINPUT && !strncmp(e.msg, "t.ini:1:", 8), "%s", e.msg);
    char text[512];
    snprintf(text, sizeof text, "[run]\nseed = 1\nname = %0300d\nseed = 2\n", 0);
    rc = load(&c, text, &e);
    CHECK(rc == MS_EINPUT && !strncmp(e.msg, "t.ini:3:", 8) && strstr(e.msg, "longer"), "%s", e.msg);
}

/* ---- --set ---- */

static void test_config_set(void)
{
    static const struct {
        const char *arg, *hint;
    } bad[] = {
        {"run.seed", "expected section.key=value"},
        {"seed=5", "expected section.key=value"},
        {"=5", "expected section.key=value"},
        {"run=x.y", "expected section.key=value"},
        {"run.sead=5", "[run] unknown key 'sead'"},
        {"foo.bar=1", "unknown section [foo]"},
        {"sim.envs=0", "[sim] envs: value '0' is out of range; allowed: an integer in [1, 4096]"},
        {"train.lr=0", "[train] lr: value '0' is out of range; allowed: a finite number in (0, 1]"},
        {"train.lr=nan", "not finite"},
        {"sim.priors=0.5,0.5", "need exactly 4"},
        {"agents.activation=sigmoid", "one of: tanh, relu"},
        {"run.name=a/b", "file name"},
        {"run.seed=-3", "negative"},
        {"telemetry.retention_security=-1", "[telemetry] retention_security: value '-1' is out of range; allowed: keep, or the steps to keep"},
        {"telemetry.retention_behavioural=forever", "is not an integer"},
        {"telemetry.retention_operational=Keep", "allowed: keep, or the steps to keep: an integer in [0, 1000000000000]"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ms_config c, before;
        ms_err e;
        ms_config_defaults(&c);
        before = c;
        int rc = ms_config_set(&c, bad[i].arg, &e);
        char want[128];
        snprintf(want, sizeof want, "--set %s: ", bad[i].arg);
        CHECK(rc == MS_EINPUT, "--set %s: status %d", bad[i].arg, rc);
        CHECK(!strncmp(e.msg, want, strlen(want)), "message starts with '%s': %s", want, e.msg);
        CHECK(strstr(e.msg, bad[i].hint) != NULL, "--set %s should say '%s': %s", bad[i].arg, bad[i].hint, e.msg);
        char h0[65], h1[65];
        ms_config_hash(&before, h0);
        ms_config_hash(&c, h1);
        CHECK(!strcmp(h0, h1), "--set %s: a rejected value leaves the config unchanged", bad[i].arg);
    }
    ms_config c;
    ms_err e;
    ms_config_defaults(&c);
    CHECK(ms_config_set(&c, "train.lr=0.001", &e) == MS_OK && c.lr == 0.001, "lr set: %s", e.msg);
    CHECK(ms_config_set(&c, "run.out=runs/a.b=c.db", &e) == MS_OK && !strcmp(c.out, "runs/a.b=c.db"), "value may hold '=' and '.': %s", e.msg);
    CHECK(ms_config_set(&c, "sim.priors= 0.25,0.25 ,0.25, 0.25 ", &e) == MS_OK && c.priors[3] == 0.25, "priors: %s", e.msg);
    CHECK(ms_config_set(&c, "sim.poison_kinds=replay", &e) == MS_OK && c.poison_kinds == 1u << MS_POISON_REPLAY, "kinds: %s", e.msg);
    /* --set goes through the duplicate-free path: it overrides the file. */
    CHECK(load(&c, "[run]\nseed = 5\n", &e) == MS_OK, "load");
    CHECK(ms_config_set(&c, "run.seed=6", &e) == MS_OK && c.seed == 6, "--set overrides a file value: %s", e.msg);
}

static void test_config_finish(void)
{
    ms_config c;
    ms_err e;
    int rc = load(&c, "[sim]\nenvs = 4\n[train]\nrollout = 8\nminibatch = 256\n", &e);
    CHECK(rc == MS_OK, "load: %s", e.msg);
    rc = ms_config_finish(&c, &e);
    CHECK(rc == MS_EINPUT, "minibatch 256 > 4 x 8 is rejected (%d)", rc);
    CHECK(strstr(e.msg, "[train] minibatch") && strstr(e.msg, "allowed: at most 32"), "%s", e.msg);
    CHECK(!strncmp(e.msg, "t.ini:5: ", 9), "names the line of the last key involved: %s", e.msg);
    rc = load(&c, "[train]\nminibatch = 128\n[sim]\nenvs = 2\nepisode_len = 9\n", &e);
    CHECK(rc == MS_OK && ms_config_finish(&c, &e) == MS_EINPUT && !strncmp(e.msg, "t.ini:4: ", 9),
          "envs made the conflict, at line 4: %s", e.msg);
    CHECK(ms_config_set(&c, "sim.envs=1", &e) == MS_OK && ms_config_finish(&c, &e) == MS_EINPUT &&
              !strncmp(e.msg, "--set: ", 7), "a --set made it: %s", e.msg);
    ms_config_defaults(&c);
    c.minibatch = 100000; /* set by no one: no origin to name */
    CHECK(ms_config_finish(&c, &e) == MS_EINPUT && !strncmp(e.msg, "[train] minibatch", 17), "%s", e.msg);
    rc = load(&c, "[sim]\nenvs = 4\n[train]\nrollout = 8\nminibatch = 256\n", &e);
    CHECK(ms_config_set(&c, "train.minibatch=32", &e) == MS_OK, "set");
    CHECK(ms_config_finish(&c, &e) == MS_OK, "minibatch == envs x rollout is fine: %s", e.msg);
    ms_config_defaults(&c);
    CHECK(ms_config_finish(&c, &e) == MS_OK, "defaults pass finish: %s", e.msg);
    CHECK(ms_config_run_steps(&c) == 262144, "default run steps %lld", (long long)ms_config_run_steps(&c));
    c.env_steps = 1;
    CHECK(ms_config_run_steps(&c) == 64 * 32, "env_steps rounds up to one rollout: %lld", (long long)ms_config_run_steps(&c));
    c.env_steps = 64 * 32 + 1;
    CHECK(ms_config_run_steps(&c) == 2 * 64 * 32, "rounds up to whole rollouts: %lld", (long long)ms_config_run_steps(&c));
}

/* SPEC §3/§4 defaults, as independent known values. */
static void test_config_defaults_match_spec(void)
{
    ms_config c;
    ms_config_defaults(&c);
    CHECK(!strcmp(c.name, "default") && c.seed == 1 && c.env_steps == 262144 && c.out[0] == 0, "[run]");
    CHECK(c.envs == 64 && c.episode_len == 64, "[sim] sizes");
    CHECK(c.priors[0] == 0.70 && c.priors[1] == 0.18 && c.priors[2] == 0.08 && c.priors[3] == 0.04, "priors");
    CHECK(c.campaign_rate == 0.03 && c.poison_rate == 0.0 && c.poison_kinds == (1u << MS_NPOISON) - 1, "campaign/poison");
    CHECK(c.n_hidden == 2 && c.hidden[0] == 64 && c.hidden[1] == 64, "hidden");
    CHECK(c.activation == MS_ACT_TANH && c.observe == MS_OBSERVE_MODALITY, "agents");
    CHECK(c.lr == 3e-4 && c.gamma == 0.95 && c.lambda == 0.9 && c.clip == 0.2 && c.epochs == 4 &&
              c.minibatch == 256 && c.rollout == 32 && c.entropy == 0.01 && c.value_coef == 0.5 &&
              c.grad_clip == 0.5 && c.credit == MS_CREDIT_DIFFERENCE, "[train]");
    CHECK(c.reward_clip == 8.0, "reward_clip");
    static const double table[MS_NCLASS][4] = {
        {1.0, 0.5, -2.0, -0.5}, {-0.3, -0.2, 0.5, 0.0}, {-2.0, -1.0, 1.5, -0.2}, {-4.0, -1.0, 2.0, -0.5}};
    for (int k = 0; k < MS_NCLASS; k++)
        for (int o = 0; o < 4; o++)
            CHECK(c.reward[k][o] == table[k][o], "reward[%s][%d] = %g", ms_class_names[k], o, c.reward[k][o]);
    CHECK(c.compromise_cost == -2.0 && c.compromise_steps == 10, "compromise");
    CHECK(c.penalty_threat_intel_block == -0.5 && c.penalty_preview_requires_fetch == -0.1 &&
              c.penalty_quarantine_supersedes_preview == -0.05, "penalties");
    CHECK(c.gate_every == 10 && c.eval_episodes == 2 && c.tolerance == 0.05, "[gate]");
    CHECK(c.level == MS_LEVEL_FULL && c.synchronous == MS_SYNC_NORMAL && c.keyring[0] == 0, "telemetry/keys");
}

/* ---- canonical text and hash ---- */

static void test_config_hash_invariance(void)
{
    char h0[65], h[65], path_hash[65];
    hash_of_defaults(h0);
    CHECK(strlen(h0) == 64 && strspn(h0, "0123456789abcdef") == 64, "hash is 64 lowercase hex: %s", h0);

    /* configs/default.ini spells the defaults. */
    ms_config c;
    ms_err e;
    ms_config_defaults(&c);
    int rc = ms_config_load(&c, "configs/default.ini", &e);
    CHECK(rc == MS_OK, "configs/default.ini loads (run tests from the repo root): %s", e.msg);
    ms_config_hash(&c, path_hash);
    CHECK(!strcmp(path_hash, h0), "default.ini hash %s != defaults %s", path_hash, h0);

    /* Spellings that must not change the hash. */
    static const char *const same[] = {
        "",
        "; only a comment\n\n# another\n",
        "[train]\nlr = 0.0003\n",
        "[train]\nlr = 3e-4\n",
        "[train]\nlr = 3.0E-04\n",
        "[train]\nlr=0.00030\n",
        "[train]\n   lr   =   +3e-4   \n",
        "[rules]\nreward_clip = 8\nspam_ignored = -0.0\n",
        "[sim]\npriors = 0.7,0.18,0.08,0.04\n",
        "[sim]\npriors = 0.70 , 0.180, 0.080 , 0.040\n",
        "[sim]\npoison_kinds = bad_mac, replay, truncated, extra_field\n",
        "[sim]\npoison_kinds = extra_field,truncated,replay,bad_mac\n",
        "[agents]\nhidden = 64,64\n",
        "[run]\nseed = 0001\n",
        "[keys]\nrotate_every_episodes = 0\n[gate]\ntolerance = 5e-2\n[run]\nname = default\n",
        "[run]\nout = /tmp/elsewhere.db\n",
        "[telemetry]\nlevel = full\n\n\n[sim]\nenvs = 64 ; same as default\n[run]\nenv_steps = 262144\n",
    };
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        hash_of_text(same[i], h);
        CHECK(!strcmp(h, h0), "hash changed by a spelling of the defaults:\n%s", same[i]);
    }

    /* Reordered sections and keys, with comments and blank lines. */
    static const char reordered[] =
        "# reordered\n[keys]\nrotate_every_episodes = 0\n\n[gate]\neval_seed = 1\nevery = 10\n"
        "[rules]\nmalware_ignored = -0.5\nreward_clip = 8.0\n[train]\ncredit = difference\nlr = 3e-4\n"
        "[sim]\npoison_kinds = all\nenvs = 64\n\n[run]\nseed = 1\nname = default\n";
    hash_of_text(reordered, h);
    CHECK(!strcmp(h, h0), "reordering changed the hash");

    /* --set of the default value. */
    ms_config_defaults(&c);
    CHECK(ms_config_set(&c, "train.lr=0.0003", &e) == MS_OK && ms_config_set(&c, "sim.envs= 64", &e) == MS_OK &&
              ms_config_set(&c, "run.out=x.db", &e) == MS_OK, "sets: %s", e.msg);
    ms_config_hash(&c, h);
    CHECK(!strcmp(h, h0), "--set of defaults changed the hash");

    /* Every change of value changes it. */
    static const char *const different[] = {
        "[run]\nseed = 2\n",
        "[run]\nname = other\n",
        "[train]\nlr = 0.00030000000000000003\n",
        "[sim]\npriors = 0.69, 0.19, 0.08, 0.04\n",
        "[sim]\npoison_kinds = bad_mac, replay, truncated\n",
        "[agents]\nhidden = 64\n",
        "[agents]\nhidden = 64, 64, 64\n",
        "[rules]\nspam_ignored = 0.1\n",
        "[gate]\neval_seed = 2\n",
        "[train]\ncredit = global\n",
        "[keys]\nrotate_every_episodes = 1\n",
        "[telemetry]\nsample_every = 8\n",
    };
    for (size_t i = 0; i < sizeof different / sizeof different[0]; i++) {
        hash_of_text(different[i], h);
        CHECK(strcmp(h, h0) != 0, "hash should change for:\n%s", different[i]);
        for (size_t j = 0; j < i; j++) {
            char hj[65];
            hash_of_text(different[j], hj);
            CHECK(strcmp(h, hj) != 0, "cases %zu and %zu hash alike", i, j);
        }
    }

    /* [run] out is not in the canonical text. */
    char text[MS_CONFIG_TEXT_MAX];
    ms_config_defaults(&c);
    snprintf(c.out, sizeof c.out, "zzz-unique-path.db");
    size_t n = ms_config_render(&c, text, sizeof text);
    CHECK(n < sizeof text, "render fits");
    CHECK(strstr(text, "zzz-unique-path") == NULL && strstr(text, "\nout =") == NULL, "out leaked into canonical text");
    CHECK(strstr(text, "\nseed = 1\n") != NULL && strstr(text, "\nlr = 0.0003\n") != NULL, "canonical text spells keys:\n%s", text);
}

/* The canonical text reads back to the same configuration, bit for bit,
 * including reals that need 17 digits. */
static void test_config_render_round_trip(void)
{
    ms_config a, b;
    ms_err e;
    ms_config_defaults(&a);
    static const char *const sets[] = {
        "train.lr=0.30000000000000004", "train.gamma=0.1", "rules.spam_ignored=-1e-7",
        "sim.priors=0.1,0.2,0.3,0.4", "agents.hidden=3,1,4,1", "sim.poison_kinds=truncated,bad_mac",
        "run.seed=9223372036854775807", "run.name=Exp_1.b-2", "rules.reward_clip=1000",
        "train.grad_clip=1e-300",
    };
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        CHECK(ms_config_set(&a, sets[i], &e) == MS_OK, "%s: %s", sets[i], e.msg);
    char t1[MS_CONFIG_TEXT_MAX], t2[MS_CONFIG_TEXT_MAX];
    size_t n1 = ms_config_render(&a, t1, sizeof t1);
    CHECK(n1 > 0 && n1 < sizeof t1, "render length %zu", n1);
    size_t need = ms_config_render(&a, t2, 16);
    CHECK(need == n1 && strlen(t2) == 15, "truncated render reports the full length (%zu vs %zu)", need, n1);
    int rc = load(&b, t1, &e);
    CHECK(rc == MS_OK, "canonical text loads: %s", e.msg);
    size_t n2 = ms_config_render(&b, t2, sizeof t2);
    CHECK(n1 == n2 && !strcmp(t1, t2), "render(load(render(c))) == render(c)");
    CHECK(b.lr == a.lr && b.lr == 0.30000000000000004 && b.reward[MS_CLASS_SPAM][MS_OUT_IGNORED] == -1e-7 &&
              b.grad_clip == 1e-300 && b.seed == 9223372036854775807ull, "values round trip");
}

/* configs/default.ini = comment header + blank line + the documented render
 * of the key table, so the shipped file cannot drift from the table. */
static void test_config_default_ini_matches_table(void)
{
    size_t flen = 0;
    char *file = slurp("configs/default.ini", &flen);
    CHECK(file != NULL, "read configs/default.ini");
    if (!file)
        return;
    /* Header: leading comment lines, then one blank line. */
    const char *p = file;
    int header_lines = 0;
    while (*p == ';' || *p == '#') {
        const char *nl = strchr(p, '\n');
        if (!nl)
            break;
        p = nl + 1;
        header_lines++;
    }
    CHECK(header_lines >= 1, "default.ini starts with a comment header");
    CHECK(*p == '\n', "a blank line ends the header");
    if (*p == '\n')
        p++;
    static char doc[MS_CONFIG_TEXT_MAX * 2];
    size_t n = ms_config_render_documented(doc, sizeof doc);
    CHECK(n < sizeof doc, "documented render fits");
    CHECK(strlen(p) == n && !strcmp(p, doc), "configs/default.ini body differs from ms_config_render_documented()");
    if (strcmp(p, doc)) {
        size_t i = 0;
        while (p[i] && p[i] == doc[i])
            i++;
        fprintf(stderr, "  first difference at body byte %zu: file '%.40s' vs table '%.40s'\n", i, p + i, doc + i);
    }

    /* Every key of the table (walked through the documented render) is in
     * the file under its section, and every documented default is accepted
     * by --set without changing the hash. */
    char h0[65];
    hash_of_defaults(h0);
    char section[64] = "";
    int keys = 0;
    char *copy = strdup(doc);
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '[') {
            snprintf(section, sizeof section, "%.*s", (int)strcspn(line + 1, "]"), line + 1);
            continue;
        }
        if (line[0] == ';')
            continue;
        keys++;
        size_t kl = strcspn(line, " =");
        char needle[128];
        snprintf(needle, sizeof needle, "\n%.*s = ", (int)kl, line);
        char sect_hdr[80];
        snprintf(sect_hdr, sizeof sect_hdr, "\n[%s]\n", section);
        const char *start = strstr(file, sect_hdr);
        const char *next = start ? strstr(start + 1, "\n[") : NULL;
        const char *at = start ? strstr(start, needle) : NULL;
        CHECK(at && (!next || at < next), "default.ini lacks [%s] %.*s", section, (int)kl, line);
        const char *value = line + kl + 3;
        char set[512];
        snprintf(set, sizeof set, "%s.%.*s=%s", section, (int)kl, line, value);
        ms_config c;
        ms_err e;
        ms_config_defaults(&c);
        CHECK(ms_config_set(&c, set, &e) == MS_OK, "documented default rejected: %s", e.msg);
        char h[65];
        ms_config_hash(&c, h);
        CHECK(!strcmp(h, h0), "documented default changes the hash: %s", set);
    }
    free(copy);
    CHECK(keys >= 50, "table walked: %d keys", keys);

    /* And the keys SPEC §3 names are all accepted. */
    static const char *const spec_keys[] = {
        "run.name", "run.seed", "run.env_steps", "run.out", "sim.envs", "sim.episode_len", "sim.priors",
        "sim.campaign_rate", "sim.poison_rate", "sim.poison_kinds", "agents.hidden", "agents.activation",
        "agents.observe", "train.algorithm", "train.lr", "train.gamma", "train.lambda", "train.clip",
        "train.epochs", "train.minibatch", "train.rollout", "train.entropy", "train.value_coef",
        "train.grad_clip", "train.credit", "rules.reward_clip", "gate.every", "gate.eval_episodes",
        "gate.tolerance", "gate.eval_seed", "telemetry.level", "telemetry.sample_every",
        "telemetry.synchronous", "telemetry.checkpoint_every", "telemetry.retention_behavioural",
        "telemetry.retention_security", "telemetry.retention_operational", "keys.keyring",
        "keys.rotate_every_episodes",
    };
    for (size_t i = 0; i < sizeof spec_keys / sizeof spec_keys[0]; i++) {
        const char *dot = strchr(spec_keys[i], '.');
        char needle[96];
        snprintf(needle, sizeof needle, "\n%s = ", dot + 1);
        CHECK(strstr(file, needle) != NULL, "SPEC §3 key %s missing from default.ini", spec_keys[i]);
    }
    free(file);
}

/* [telemetry] retention_*: keep (the default) or a number of steps; both
 * are hashed (part of the experiment) and round-trip through the
 * canonical text. */
static void test_config_retention(void)
{
    ms_config c, d;
    ms_err e;
    char t0[MS_CONFIG_TEXT_MAX], t1[MS_CONFIG_TEXT_MAX], h0[65], h1[65];
    ms_config_defaults(&c);
    CHECK(c.retention_behavioural == MS_RETAIN_KEEP && c.retention_security == MS_RETAIN_KEEP &&
              c.retention_operational == MS_RETAIN_KEEP, "keep by default");
    ms_config_render(&c, t0, sizeof t0);
    ms_config_hash(&c, h0);
    CHECK(strstr(t0, "\nretention_behavioural = keep\nretention_security = keep\nretention_operational = keep\n") != NULL,
          "the canonical text spells keep");
    CHECK(ms_config_set(&c, "telemetry.retention_behavioural=100", &e) == MS_OK &&
              ms_config_set(&c, "telemetry.retention_security=0", &e) == MS_OK &&
              ms_config_set(&c, "telemetry.retention_operational=keep", &e) == MS_OK, "set: %s", e.msg);
    CHECK(c.retention_behavioural == 100 && c.retention_security == 0 && c.retention_operational == MS_RETAIN_KEEP,
          "values");
    ms_config_render(&c, t1, sizeof t1);
    ms_config_hash(&c, h1);
    CHECK(strcmp(h0, h1) != 0 && strstr(t1, "\nretention_behavioural = 100\nretention_security = 0\n"),
          "a retention policy is part of the hashed config");
    ms_config_defaults(&d);
    CHECK(ms_config_load_string(&d, t1, "t1", &e) == MS_OK && d.retention_behavioural == 100 &&
              d.retention_security == 0 && d.retention_operational == MS_RETAIN_KEEP,
          "the canonical text loads back: %s", e.msg);
}

void suite_config(void)
{
    RUN(test_config_error_corpus);
    RUN(test_config_every_key_has_allowed_hint);
    RUN(test_config_nul_byte_file);
    RUN(test_config_accepts_valid_forms);
    RUN(test_config_first_error_wins);
    RUN(test_config_set);
    RUN(test_config_finish);
    RUN(test_config_defaults_match_spec);
    RUN(test_config_hash_invariance);
    RUN(test_config_render_round_trip);
    RUN(test_config_default_ini_matches_table);
    RUN(test_config_retention);
}
