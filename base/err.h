/* err.h — how library code reports failure.
 *
 * Contract for every marlsim library function that can fail: it returns 0 on
 * success and a negative status on failure, and on failure fills the caller's
 * ms_err with one human-readable sentence (no trailing newline). Only the
 * command layer (cli/) prints messages and chooses exit codes; library code
 * never calls exit() and never prints.
 *
 * Status values are shared so the command layer can map them to exit codes:
 *   MS_EINPUT  bad input from the user or a file (exit 2)
 *   MS_ECHECK  a check ran and failed, e.g. a tampered lake (exit 1)
 *   MS_EIO     the system or a library failed (exit 2, message says which)
 */
#ifndef MS_ERR_H
#define MS_ERR_H

#include <stdarg.h>
#include <stddef.h>

enum { MS_OK = 0, MS_EINPUT = -1, MS_ECHECK = -2, MS_EIO = -3 };

typedef struct ms_err {
    char msg[768];
} ms_err;

/* Formats the message into e (if e is not NULL) and returns status. Control
 * bytes (including newlines) in the result become '?': messages quote
 * hostile input and are printed to terminals. */
int ms_fail(ms_err *e, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same with a va_list, for functions that add context of their own. */
int ms_vfail(ms_err *e, int status, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#endif
