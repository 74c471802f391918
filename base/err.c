#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>

int ms_vfail(ms_err *e, int status, const char *fmt, va_list ap)
{
    if (!e)
        return status;
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    /* Messages quote hostile input (a lake's schema, a config line): no
     * control byte reaches the user's terminal, and a message stays one
     * line. */
    for (char *p = e->msg; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    return status;
}

int ms_fail(ms_err *e, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ms_vfail(e, status, fmt, ap);
    va_end(ap);
    return status;
}
