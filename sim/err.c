#include "sim/err.h"

#include <stdarg.h>
#include <stdio.h>

int ms_vfail(ms_err *e, int status, const char *fmt, va_list ap)
{
    if (e)
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
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
