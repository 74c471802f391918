/* The unit-test runner: every suite, then "N passed, N failed". */
#include "tests/check.h"

#include <string.h>

int check_failures;
static int passed, failed;
static const char *only; /* optional filter: argv[1] substring */

void check_run(const char *name, void (*fn)(void))
{
    if (only && !strstr(name, only))
        return;
    check_failures = 0;
    fn();
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
