/* check.h — the unit-test harness.
 *
 * A test is a `static void name(void)` registered in its file's suite
 * function; each CHECK counts toward the test's verdict. A test passes when
 * none of its CHECKs failed. tests/main.c runs every suite and prints
 * "N passed, N failed" (tests, not checks) as its last line.
 */
#ifndef MS_CHECK_H
#define MS_CHECK_H

#include <stdio.h>

extern int check_failures; /* failed CHECKs in the current test */

#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        if (!(cond)) {                                                       \
            check_failures++;                                                \
            fprintf(stderr, "  FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                    \
            fputc('\n', stderr);                                             \
        }                                                                    \
    } while (0)

void check_run(const char *name, void (*fn)(void));
#define RUN(fn) check_run(#fn, fn)

#endif
