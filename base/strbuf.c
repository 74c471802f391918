/* strbuf.c — growable text buffer (contract in strbuf.h). */
#include "base/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for extra more bytes plus the NUL; 0 or -1 (then failed). */
static int reserve(ms_strbuf *b, size_t extra)
{
    if (b->failed)
        return -1;
    if (extra < b->cap - b->len)
        return 0;
    size_t ncap = b->cap ? b->cap : 256;
    while (ncap - b->len <= extra) {
        if (ncap > ((size_t)-1) / 2) {
            b->failed = 1;
            return -1;
        }
        ncap *= 2;
    }
    char *np = realloc(b->p, ncap);
    if (!np) {
        b->failed = 1;
        return -1;
    }
    b->p = np;
    b->cap = ncap;
    return 0;
}

void ms_sb_put(ms_strbuf *b, const char *s, size_t n)
{
    if (reserve(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void ms_sb_puts(ms_strbuf *b, const char *s)
{
    ms_sb_put(b, s, strlen(s));
}

void ms_sb_printf(ms_strbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if (reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

int ms_sb_check(const ms_strbuf *b, const char *what, ms_err *e)
{
    return b->failed ? ms_fail(e, MS_EIO, "%s: out of memory", what) : MS_OK;
}

void ms_sb_free(ms_strbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}
