#include "sim/err.h"

#include <stdarg.h>
#include <stdio.h>

int ms_fail(ms_err *e, int status, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return status;
}
