#include "cli/cli.h"

#include <stdarg.h>
#include <string.h>

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("marlsim: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_usage(const char *usage, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("marlsim: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fputs(usage, stderr);
    return EXIT_USAGE;
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
