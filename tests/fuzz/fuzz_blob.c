/* fuzz_blob — the policy blob loader (nn/mlp.c: mlp_init_from_blob), which
 * `eval --policy RUN.db` and reproduce feed from a lake.
 *
 * Input: byte 0 = flags (bit 0: recompute the trailing SHA-256 so the bytes
 * pass the checksum and the shape and finiteness checks behind it are
 * reached), then the blob.
 * Properties (nn/mlp.h): MS_OK or MS_EINPUT with a message (MS_EIO only if
 * memory runs out), never a read past the blob; an accepted blob has shapes
 * in range, finite parameters, and serialises back to exactly its bytes;
 * a forward pass of one sample on it stays inside its buffers. */
#include <math.h>
#include <string.h>

#include "base/hash.h"
#include "nn/mlp.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > (1u << 20))
        return 0;
    size_t n = size - 1;
    unsigned char *blob = malloc(n ? n : 1);
    FUZZ_REQUIRE(blob, "out of memory");
    memcpy(blob, data + 1, n);
    ms_err e;
    if ((data[0] & 1) && n >= 32)
        FUZZ_REQUIRE(ms_sha256(blob, n - 32, blob + n - 32, &e) == 0, "SHA-256 failed");
    mlp m;
    memset(&m, 0, sizeof m);
    e.msg[0] = 0;
    int rc = mlp_init_from_blob(&m, blob, n, 4, &e);
    FUZZ_REQUIRE(rc == MS_OK || rc == MS_EINPUT || rc == MS_EIO, "status %d", rc);
    FUZZ_REQUIRE(rc == MS_OK || e.msg[0], "an error without a message");
    if (rc == MS_OK) {
        FUZZ_REQUIRE(m.n_layers >= 2 && m.n_layers <= MLP_MAX_HIDDEN + 1, "%d layers", m.n_layers);
        for (int l = 0; l <= m.n_layers; l++)
            FUZZ_REQUIRE(m.sizes[l] >= 1 && m.sizes[l] <= MLP_MAX_WIDTH, "width %d", m.sizes[l]);
        for (size_t i = 0; i < m.n_params; i++)
            FUZZ_REQUIRE(isfinite(m.params[i]), "parameter %zu is not finite", i);
        size_t bn = mlp_blob_size(&m);
        FUZZ_REQUIRE(bn == n, "blob of %zu bytes accepted, serialises to %zu", n, bn);
        unsigned char *back = malloc(bn);
        FUZZ_REQUIRE(back, "out of memory");
        FUZZ_REQUIRE(mlp_to_blob(&m, back, bn, &e) == MS_OK, "to_blob: %s", e.msg);
        FUZZ_REQUIRE(!memcmp(back, blob, n), "the accepted blob does not serialise back to its bytes");
        free(back);
        float *x = calloc((size_t)mlp_in(&m), sizeof *x), *y = calloc((size_t)mlp_out(&m), sizeof *y);
        FUZZ_REQUIRE(x && y, "out of memory");
        mlp_forward(&m, x, 1, y);
        free(x);
        free(y);
    }
    mlp_release(&m);
    free(blob);
    return 0;
}
