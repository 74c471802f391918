#include "cli/cli.h"

#include <stdarg.h>
#include <string.h>

static void verror(const char *fmt, va_list ap)
{
    fputs("marlsim: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror(fmt, ap);
    va_end(ap);
}

int cli_usage(const char *usage, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror(fmt, ap);
    va_end(ap);
    fputs(usage, stderr);
    return EXIT_USAGE;
}

int cli_parse_args(int argc, char **argv, unsigned allowed, const char *usage, const char *what, cli_args *a)
{
    static const struct { const char *name; unsigned bit; int takes_value; } opts[] = {
        {"--json", CLI_OPT_JSON, 0}, {"--quiet", CLI_OPT_QUIET, 0}, {"--force", CLI_OPT_FORCE, 0},
        {"--seed", CLI_OPT_SEED, 1}, {"--out", CLI_OPT_OUT, 1}, {"--set", CLI_OPT_SET, 1},
        {"--policy", CLI_OPT_POLICY, 1}};
    memset(a, 0, sizeof *a);
    unsigned seen = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            fputs(usage, stdout);
            return -1;
        }
        int k = -1;
        for (int j = 0; j < (int)(sizeof opts / sizeof opts[0]); j++)
            if ((opts[j].bit & allowed) && !strcmp(arg, opts[j].name))
                k = j;
        if (k < 0) {
            if (arg[0] == '-')
                return cli_usage(usage, "unknown option '%s'", arg);
            if (a->file)
                return cli_usage(usage, "unexpected argument '%s'", arg);
            a->file = arg;
            continue;
        }
        /* A single-valued option given twice is ambiguous, not "last wins". */
        if (opts[k].bit != CLI_OPT_SET && (seen & opts[k].bit))
            return cli_usage(usage, "%s given twice", arg);
        seen |= opts[k].bit;
        const char *v = NULL;
        if (opts[k].takes_value) {
            if (i + 1 >= argc)
                return cli_usage(usage, "%s needs a value", arg);
            v = argv[++i];
        }
        switch (opts[k].bit) {
        case CLI_OPT_JSON: a->json = 1; break;
        case CLI_OPT_QUIET: a->quiet = 1; break;
        case CLI_OPT_FORCE: a->force = 1; break;
        case CLI_OPT_SEED: a->seed = v; break;
        case CLI_OPT_OUT: a->out = v; break;
        case CLI_OPT_POLICY: a->policy = v; break;
        case CLI_OPT_SET:
            if (a->nsets == CLI_MAX_SETS)
                return cli_usage(usage, "more than %d --set options", CLI_MAX_SETS);
            a->sets[a->nsets++] = argv[i];
            break;
        }
    }
    if (!a->file)
        return cli_usage(usage, "missing %s", what);
    if ((allowed & CLI_OPT_POLICY) && !a->policy)
        return cli_usage(usage, "missing --policy");
    return EXIT_OK;
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
