/* The unit-test runner: every suite, then "N passed, N failed". */
#include "tests/check.h"

#include <string.h>
#include <time.h>

int check_failures;
static int passed, failed;
static const char *only; /* optional filter: argv[1] substring */

void check_run(const char *name, void (*fn)(void))
{
    if (only && !strstr(name, only))
        return;
    check_failures = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    fn();
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double dt = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    if (dt > 2.0) /* keep make test fast: name what is slow */
        fprintf(stderr, "slow: %s took %.1f s\n", name, dt);
    if (check_failures) {
        failed++;
        fprintf(stderr, "FAIL %s (%d checks)\n", name, check_failures);
    } else {
        passed++;
    }
}

/* Each tests/test_*.c defines one suite. */
#define SUITE(s) void s(void);
#include "tests/suites.h"
#undef SUITE

int main(int argc, char **argv)
{
    if (argc > 1)
        only = argv[1];
#define SUITE(s) s();
#include "tests/suites.h"
#undef SUITE
    printf("unit: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
