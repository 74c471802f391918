/* regress.c — replays the committed fuzz inputs without libFuzzer, so
 * `make test` (GCC) and `make asan` (ASan + UBSan) run every harness of
 * tests/fuzz/ on its seed corpus and on every input that once broke it.
 *
 * usage: fuzz_regress                       every harness, every file of
 *                                            tests/fuzz/corpus/NAME/ and
 *                                            tests/fuzz/regress/NAME/
 *        fuzz_regress NAME FILE...          those files through harness NAME
 * Run from the repository root. Each file is one test, run in a forked
 * child (a crash, an abort from FUZZ_REQUIRE, a sanitizer report, a leak
 * or 60 s without an answer fails that file alone, named on stderr). The
 * last line is "fuzz-regress: N passed, N failed"; exit 1 when one failed,
 * 2 when there was nothing to run. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/fuzz/fuzz.h"

#define HARNESS(n)                                                                                                    \
    int fuzz_##n##_init(int *argc, char ***argv);                                                                    \
    int fuzz_##n##_one(const uint8_t *data, size_t size);
#include "tests/fuzz/harnesses.h"
#undef HARNESS

typedef struct harness {
    const char *name;
    int (*init)(int *, char ***);
    int (*one)(const uint8_t *, size_t);
} harness;

static const harness harnesses[] = {
#define HARNESS(n) {#n, fuzz_##n##_init, fuzz_##n##_one},
#include "tests/fuzz/harnesses.h"
#undef HARNESS
};
#define NHARNESS (sizeof harnesses / sizeof harnesses[0])

static int passed, failed;

static void run_file(const harness *h, const char *path)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "FAIL %s %s: fork: %s\n", h->name, path, strerror(errno));
        failed++;
        return;
    }
    if (pid == 0) {
        alarm(60); /* a hang is a failure, not a stuck test suite */
        size_t n = 0;
        char *buf = fuzz_read_file(path, &n);
        if (!buf) {
            fprintf(stderr, "cannot read %s: %s\n", path, strerror(errno));
            exit(3);
        }
        h->one((const uint8_t *)buf, n);
        free(buf);
        exit(0); /* exit, not _exit: LeakSanitizer checks at exit */
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        passed++;
        return;
    }
    failed++;
    if (WIFSIGNALED(st))
        fprintf(stderr, "FAIL %s %s: killed by signal %d%s\n", h->name, path, WTERMSIG(st),
                WTERMSIG(st) == SIGALRM ? " (no answer in 60 s)" : "");
    else
        fprintf(stderr, "FAIL %s %s: exit %d\n", h->name, path, WEXITSTATUS(st));
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file of dir, sorted; missing dir = none. */
static void run_dir(const harness *h, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **nn = realloc(names, cap * sizeof *names);
            if (!nn)
                abort(); /* the driver cannot go on */
            names = nn;
        }
        names[n] = strdup(de->d_name);
        if (!names[n])
            abort();
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp);
    for (size_t i = 0; i < n; i++) {
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        run_file(h, p);
        free(names[i]);
    }
    free(names);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 2) {
        const harness *h = NULL;
        for (size_t i = 0; i < NHARNESS; i++)
            if (!strcmp(argv[1], harnesses[i].name))
                h = &harnesses[i];
        if (!h) {
            fprintf(stderr, "fuzz_regress: no harness %s\n", argv[1]);
            return 2;
        }
        h->init(&argc, &argv);
        for (int i = 2; i < argc; i++)
            run_file(h, argv[i]);
    } else {
        for (size_t i = 0; i < NHARNESS; i++) {
            int before = passed + failed;
            harnesses[i].init(&argc, &argv);
            char dir[256];
            snprintf(dir, sizeof dir, "tests/fuzz/corpus/%s", harnesses[i].name);
            run_dir(&harnesses[i], dir);
            snprintf(dir, sizeof dir, "tests/fuzz/regress/%s", harnesses[i].name);
            run_dir(&harnesses[i], dir);
            printf("%-8s %d inputs replayed\n", harnesses[i].name, passed + failed - before);
        }
    }
    printf("fuzz-regress: %d passed, %d failed\n", passed, failed);
    if (failed)
        return 1;
    return passed ? 0 : 2;
}
