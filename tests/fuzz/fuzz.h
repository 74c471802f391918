/* fuzz.h — what every libFuzzer harness of tests/fuzz/ shares (issue 14).
 *
 * A harness is one file tests/fuzz/fuzz_NAME.c defining
 *   int LLVMFuzzerInitialize(int *argc, char ***argv);  one-time setup
 *   int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
 * and nothing else with external linkage. Two builds use it:
 *   - `make fuzz` links it with libFuzzer (clang -fsanitize=fuzzer,address,
 *     undefined) into build-fuzz/fuzz_NAME;
 *   - `make test` / `make asan` compile it again with the two names renamed
 *     (-DLLVMFuzzerInitialize=fuzz_NAME_init -DLLVMFuzzerTestOneInput=
 *     fuzz_NAME_one) into the replay driver (tests/fuzz/regress.c), which
 *     runs every committed input of tests/fuzz/corpus/NAME/ and
 *     tests/fuzz/regress/NAME/ through it, without libFuzzer.
 * A harness returns 0 for every input it handled, whatever the verdict of
 * the code under test; a broken property (a contract the header of the code
 * under test promises) is FUZZ_REQUIRE, which prints what broke and aborts,
 * so libFuzzer keeps the input as a crash and the replay driver counts a
 * failure.
 *
 * Scratch files go to one private directory per process, /tmp/fuzz-NAME-
 * XXXXXX (fuzz_scratch_dir), removed when the process that made it exits
 * (not by the replay driver's forked children).
 */
#ifndef MS_TESTS_FUZZ_H
#define MS_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_REQUIRE(cond, ...)                                                     \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "fuzz property broken at %s:%d: %s: ", __FILE__, __LINE__, \
                    #cond);                                                         \
            fprintf(stderr, __VA_ARGS__);                                           \
            fputc('\n', stderr);                                                    \
            abort();                                                                \
        }                                                                           \
    } while (0)

struct ms_config;

/* A real run as small as it gets (2 mailboxes of 8 steps, 128 env-steps, a
 * gate and a checkpoint every few entries, one hidden layer of 8): the
 * defaults otherwise. The fuzz seeds, the lake harness and the fault sweep
 * all run it. */
void fuzz_tiny_config(struct ms_config *c);

/* Removes path and everything below it (best effort: scratch space). */
void fuzz_rm_tree(const char *path);

/* The private scratch directory of this process, made on first use under
 * /tmp as fuzz-<tag>-XXXXXX and removed (with everything in it) at exit of
 * the process that made it. NULL only when mkdtemp fails. */
const char *fuzz_scratch_dir(const char *tag);

/* A malloc'd copy of data[0..n) followed by a NUL (so text parsers that need
 * a C string get one; n bytes of it are the input). Aborts when memory runs
 * out: the harness cannot go on. */
char *fuzz_strndup(const uint8_t *data, size_t n);

/* Reads a whole file into a malloc'd buffer (NUL added, not counted in *n).
 * NULL when it cannot (errno says why). */
char *fuzz_read_file(const char *path, size_t *n);

/* Writes data[0..n) to path (truncating). 0, or -1. */
int fuzz_write_file(const char *path, const void *data, size_t n);

/* Copies the file src to dst (dst truncated). 0, or -1 (also when src is
 * missing). */
int fuzz_copy_file(const char *src, const char *dst);

/* A little-endian byte reader over the input: takes bytes while there are,
 * zeros after the end (so every input decodes to some plan). */
typedef struct fuzz_reader {
    const uint8_t *p;
    size_t n, at;
} fuzz_reader;
uint8_t fuzz_u8(fuzz_reader *r);
uint32_t fuzz_u16(fuzz_reader *r);
uint32_t fuzz_u32(fuzz_reader *r);
/* Up to max bytes: a length byte (mod max+1), then that many bytes (fewer
 * at the end of the input); *len = how many *out points to (into the
 * input, no copy). */
void fuzz_bytes(fuzz_reader *r, size_t max, const uint8_t **out, size_t *len);
int fuzz_left(const fuzz_reader *r);

#endif
