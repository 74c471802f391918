#include "cli/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "gov/release.h"
#include "keys/keyring.h"
#include "nn/blascore.h"
#include "ledger/note.h"
#include "ledger/verify.h"

/* "marlsim: MESSAGE": control bytes (but newline and tab) become '?', so
 * that nothing a file name or a hostile file carried reaches the terminal
 * as an escape sequence, whichever path a message took. */
static void vprint(const char *fmt, va_list ap)
{
    char msg[4096];
    vsnprintf(msg, sizeof msg, fmt, ap);
    for (unsigned char *p = (unsigned char *)msg; *p; p++)
        if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f)
            *p = '?';
    fprintf(stderr, "marlsim: %s\n", msg);
}

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprint(fmt, ap);
    va_end(ap);
}

void cli_notice(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprint(fmt, ap);
    va_end(ap);
}

int cli_usage(const char *usage, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprint(fmt, ap);
    va_end(ap);
    fputs(usage, stderr);
    return EXIT_USAGE;
}

typedef struct opt_spec {
    const char *name;
    unsigned bit;
    size_t field; /* offsetof the const char * in cli_args; 0 = a flag */
} opt_spec;

#define FIELD(f) offsetof(cli_args, f)
static const opt_spec opts[] = {
    {"--json", CLI_OPT_JSON, 0}, {"--quiet", CLI_OPT_QUIET, 0}, {"--force", CLI_OPT_FORCE, 0},
    {"--allow-incomplete", CLI_OPT_ALLOW_INCOMPLETE, 0},
    {"--seed", CLI_OPT_SEED, FIELD(seed)}, {"--out", CLI_OPT_OUT, FIELD(out)}, {"--set", CLI_OPT_SET, 1},
    {"--policy", CLI_OPT_POLICY, FIELD(policy)}, {"--keyring", CLI_OPT_KEYRING, FIELD(keyring)},
    {"--pubkey", CLI_OPT_PUBKEY, FIELD(pubkey)}, {"--checkpoint", CLI_OPT_CHECKPOINT, FIELD(checkpoint)},
    {"--entry", CLI_OPT_ENTRY, FIELD(entry)}, {"--size", CLI_OPT_SIZE, FIELD(size)},
    {"--from", CLI_OPT_FROM, FIELD(from)}, {"--to", CLI_OPT_TO, FIELD(to)}, {"--check", CLI_OPT_CHECK, FIELD(check)},
    {"--name", CLI_OPT_NAME, FIELD(name)}, {"--episodes", CLI_OPT_EPISODES, FIELD(episodes)},
    {"--resume", CLI_OPT_RESUME, FIELD(resume)},
    {"--policy-from", CLI_OPT_POLICY_FROM, FIELD(policy_from)}, {"--class", CLI_OPT_CLASS, FIELD(cls)},
    {"--before-step", CLI_OPT_BEFORE_STEP, FIELD(before_step)}, {"--as", CLI_OPT_AS, FIELD(as)},
    {"--approvers", CLI_OPT_APPROVERS, FIELD(approvers)}, {"--approval", CLI_OPT_APPROVAL, 1},
    {"--release", CLI_OPT_RELEASE, FIELD(release)}};
#undef FIELD

int cli_parse(int argc, char **argv, unsigned allowed, const char *usage, const char *what, int min_pos,
              int max_pos, cli_args *a)
{
    memset(a, 0, sizeof *a);
    unsigned seen = 0;
    int no_more_opts = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!no_more_opts && (!strcmp(arg, "--help") || !strcmp(arg, "-h"))) {
            fputs(usage, stdout);
            return -1;
        }
        if (!no_more_opts && !strcmp(arg, "--")) {
            no_more_opts = 1;
            continue;
        }
        if (no_more_opts || arg[0] != '-' || !arg[1]) {
            if (a->npos == max_pos || a->npos == CLI_MAX_POS)
                return cli_usage(usage, "unexpected argument '%s'", arg);
            a->pos[a->npos++] = arg;
            continue;
        }
        const char *eq = strchr(arg, '=');
        size_t nl = eq ? (size_t)(eq - arg) : strlen(arg);
        int k = -1;
        for (int j = 0; j < (int)(sizeof opts / sizeof opts[0]); j++)
            if ((opts[j].bit & allowed) && strlen(opts[j].name) == nl && !strncmp(arg, opts[j].name, nl))
                k = j;
        if (k < 0)
            return cli_usage(usage, "unknown option '%.*s'", (int)nl, arg);
        /* A single-valued option given twice is ambiguous, not "last wins". */
        if (opts[k].bit != CLI_OPT_SET && opts[k].bit != CLI_OPT_APPROVAL && (seen & opts[k].bit))
            return cli_usage(usage, "%s given twice", opts[k].name);
        seen |= opts[k].bit;
        const char *v = NULL;
        if (opts[k].field) {
            if (eq) {
                v = eq + 1;
            } else {
                if (i + 1 >= argc)
                    return cli_usage(usage, "%s needs a value", opts[k].name);
                v = argv[++i];
            }
        } else if (eq) {
            return cli_usage(usage, "%s takes no value", opts[k].name);
        }
        switch (opts[k].bit) {
        case CLI_OPT_JSON: a->json = 1; break;
        case CLI_OPT_QUIET: a->quiet = 1; break;
        case CLI_OPT_FORCE: a->force = 1; break;
        case CLI_OPT_ALLOW_INCOMPLETE: a->allow_incomplete = 1; break;
        case CLI_OPT_SET: {
            if (a->nsets == CLI_MAX_SETS)
                return cli_usage(usage, "more than %d --set options", CLI_MAX_SETS);
            a->sets[a->nsets++] = (char *)v;
            break;
        }
        case CLI_OPT_APPROVAL: {
            if (a->napprovals == CLI_MAX_APPROVALS)
                return cli_usage(usage, "more than %d --approval options", CLI_MAX_APPROVALS);
            a->approvals[a->napprovals++] = v;
            break;
        }
        default:
            *(const char **)((char *)a + opts[k].field) = v;
        }
    }
    /* Names marlsim prints (files, approvers, settings) never carry control
     * bytes: a hostile file name must not reach the terminal. */
    for (int i = 1; i < argc; i++)
        for (const unsigned char *p = (const unsigned char *)argv[i]; *p; p++)
            if (*p < 0x20 || *p == 0x7f)
                return cli_usage(usage, "argument %d contains a control character (byte 0x%02x); marlsim refuses "
                                 "them in names and values", i, *p);
    if (a->npos < min_pos)
        return cli_usage(usage, "missing %s", what);
    a->file = a->npos ? a->pos[0] : NULL;
    if ((allowed & CLI_OPT_POLICY) && !a->policy)
        return cli_usage(usage, "missing --policy");
    return EXIT_OK;
}

int cli_parse_args(int argc, char **argv, unsigned allowed, const char *usage, const char *what, cli_args *a)
{
    return cli_parse(argc, argv, allowed, usage, what, 1, 1, a);
}

int cli_exit_for(int status)
{
    return status == MS_OK ? EXIT_OK : status == MS_ECHECK ? EXIT_CHECK : EXIT_USAGE;
}

int cli_load_config(ms_config *c, const char *path, char **sets, int nsets, const char *seed)
{
    ms_err e;
    ms_config_defaults(c);
    int rc = ms_config_load(c, path, &e);
    if (!rc && seed) {
        char buf[128];
        snprintf(buf, sizeof buf, "run.seed=%s", seed);
        rc = ms_config_set(c, buf, &e);
        if (rc)
            snprintf(e.msg, sizeof e.msg, "--seed %.60s: not an integer in [0, 9223372036854775807]", seed);
    }
    for (int i = 0; i < nsets && !rc; i++)
        rc = ms_config_set(c, sets[i], &e);
    if (!rc)
        rc = ms_config_finish(c, &e);
    if (rc) {
        cli_error("%s", e.msg);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

void cli_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

void cli_statement_json(const struct gov_statement *st)
{
    printf("\"run_id\": ");
    cli_json_string(stdout, st->run_id);
    printf(", \"checkpoint\": {\"size\": %llu, \"root\": ", (unsigned long long)st->cp_size);
    cli_json_string(stdout, st->cp_root);
    printf("}, \"evaluation\": %lld, \"config_sha256\": ", (long long)st->eval_id);
    cli_json_string(stdout, st->config_sha256);
    printf(", \"snapshots\": {");
    for (int k = 0; k < MS_NAGENT; k++) {
        printf("%s\"%s\": ", k ? ", " : "", ms_agent_names[k]);
        cli_json_string(stdout, st->snapshot[k]);
    }
    printf("}, \"run_key\": ");
    cli_json_string(stdout, st->run_key);
}

void cli_refused_json(const char *file, const char *why)
{
    printf("{\"file\": ");
    cli_json_string(stdout, file);
    printf(", \"outcome\": \"refused\", \"why\": ");
    cli_json_string(stdout, why);
    printf("}\n");
}

int cli_keyring(const char *opt, const char *cfg, uint64_t dev_seed, int mode, ms_keyring **kr)
{
    ms_err e;
    ms_keyring_source src;
    *kr = NULL;
    if (ms_keyring_resolve(opt, cfg, &src, &e)) {
        cli_error("%s", e.msg);
        return EXIT_USAGE;
    }
    if (src.kind == MS_KEYRING_DEV) {
        if (ms_keyring_dev(dev_seed, kr, &e)) {
            cli_error("%s", e.msg);
            return EXIT_USAGE;
        }
        cli_notice("using the development key derived from the seed (keyring = dev, from %s): for tests and demos "
                   "only; nothing is signed and the lake is marked dev_key", src.origin);
        return EXIT_OK;
    }
    if (src.kind == MS_KEYRING_FILE && !strcmp(src.origin, "default")) {
        struct stat sb;
        if (lstat(src.spec, &sb) != 0 && errno == ENOENT) {
            if (mode == CLI_KR_OPTIONAL)
                return EXIT_OK;
            if (mode == CLI_KR_CREATE) {
                if (ms_keyring_create(src.spec, "marlsim", &e)) {
                    cli_error("%s", e.msg);
                    return EXIT_USAGE;
                }
                cli_notice("created your keyring %s (signing key \"marlsim\"; keep it, and back it up: lakes are "
                           "verified and reproduced with it)", src.spec);
            }
        }
    }
    if (ms_keyring_load(&src, kr, &e)) {
        cli_error("%s", e.msg);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

int cli_read_file(const char *path, size_t max, char **out, size_t *n)
{
    ms_err e;
    if (ms_read_small(path, max, out, n, &e)) {
        cli_error("%s", e.msg);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

int cli_trusted_key(const char *pubkey, const char *keyring, ms_note_verifier *v, int *have, ms_keyring **kr_out)
{
    ms_err e;
    *have = 0;
    if (kr_out)
        *kr_out = NULL;
    if (pubkey) {
        if (ms_note_verifier_parse(pubkey, strlen(pubkey), v, &e) == MS_OK) {
            *have = 1;
            return EXIT_OK;
        }
        char *text;
        size_t n;
        if (!strchr(pubkey, '+') || access(pubkey, F_OK) == 0) {
            if (cli_read_file(pubkey, 4096, &text, &n))
                return EXIT_USAGE;
            size_t line = strcspn(text, "\n");
            int rc = ms_note_verifier_parse(text, line, v, &e);
            free(text);
            if (rc) {
                cli_error("--pubkey %s: the file's first line is not a verifier key: %s", pubkey, e.msg);
                return EXIT_USAGE;
            }
            *have = 1;
            return EXIT_OK;
        }
        cli_error("--pubkey: %s", e.msg);
        return EXIT_USAGE;
    }
    ms_keyring *kr;
    int rc = cli_keyring(keyring, NULL, 0, keyring ? CLI_KR_EXISTING : CLI_KR_OPTIONAL, &kr);
    if (rc || !kr)
        return rc;
    if (ms_keyring_can_sign(kr)) {
        unsigned char pub[32];
        const char *name = ms_keyring_signer_name(kr);
        if (ms_keyring_public_key(kr, pub, &e) || ms_note_key_id(name, pub, v->key_id, &e)) {
            ms_keyring_free(kr);
            cli_error("%s", e.msg);
            return EXIT_USAGE;
        }
        snprintf(v->name, sizeof v->name, "%s", name);
        memcpy(v->pub, pub, 32);
        *have = 1;
    }
    if (kr_out)
        *kr_out = kr;
    else
        ms_keyring_free(kr);
    return EXIT_OK;
}

int cli_lake_trust(const cli_args *a, const char *usage, ms_note_verifier *trusted, lake_verify_opts *vo)
{
    if (a->pubkey && a->keyring)
        return cli_usage(usage, "--pubkey and --keyring both name a trusted key; give one");
    int have = 0, rc = cli_trusted_key(a->pubkey, a->keyring, trusted, &have, NULL);
    memset(vo, 0, sizeof *vo);
    vo->trusted = have ? trusted : NULL;
    return rc;
}

char **cli_argv;

#define PIN_ENV "MARLSIM_BLAS_CORE_PINNED"

int cli_pin_blas_core(const char *want, const char *why)
{
    const char *cur = nn_blas_core_current();
    if (!strcmp(cur, want))
        return EXIT_OK;
    if (!nn_blas_core_supported(want)) {
        cli_error("%s asks for OpenBLAS core %s, which this CPU does not support (it runs %s); the lake "
                  "cannot be made or replayed byte for byte here", why, want, cur);
        return EXIT_USAGE;
    }
    const char *pinned = getenv(PIN_ENV);
    if (pinned && !strcmp(pinned, want)) {
        cli_error("%s asks for OpenBLAS core %s, but OpenBLAS runs %s after being told to load %s "
                  "(OPENBLAS_CORETYPE): this OpenBLAS lacks that core", why, want, cur, want);
        return EXIT_USAGE;
    }
    if (!cli_argv || setenv("OPENBLAS_CORETYPE", want, 1) || setenv(PIN_ENV, want, 1)) {
        cli_error("cannot pin OpenBLAS core %s: %s", want, cli_argv ? strerror(errno) : "no argv");
        return EXIT_USAGE;
    }
    fflush(NULL);
    execv("/proc/self/exe", cli_argv);
    cli_error("cannot re-execute under OpenBLAS core %s: /proc/self/exe: %s", want, strerror(errno));
    return EXIT_USAGE;
}
