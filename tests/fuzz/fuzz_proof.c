/* fuzz_proof — the proof parser and checker (ledger/proof.c:
 * lake_proof_check), what an auditor runs on a proof text kept elsewhere.
 *
 * Input: a proof text, optionally followed by a NUL byte and a checkpoint
 * body; when the body parses (ms_checkpoint_parse), the proof is checked
 * against it too.
 * Properties (ledger/proof.h): MS_OK, MS_EINPUT or MS_ECHECK with a message
 * on failure; an accepted proof states sizes in range (inclusion: 0 <=
 * leaf_index < tree_size; consistency: 0 < old_size <= new size), an
 * origin without control characters and a root; against a checkpoint it is
 * about that checkpoint's origin and tree. */
#include <string.h>

#include "ledger/note.h"
#include "ledger/proof.h"
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
    if (size > (1u << 18))
        return 0;
    const uint8_t *nul = memchr(data, 0, size);
    size_t pn = nul ? (size_t)(nul - data) : size;
    char *text = malloc(pn ? pn : 1);
    FUZZ_REQUIRE(text, "out of memory");
    if (pn)
        memcpy(text, data, pn);
    ms_checkpoint cp;
    int have_cp = 0;
    ms_err e;
    if (nul) {
        size_t cn = size - pn - 1;
        char *body = malloc(cn ? cn : 1);
        FUZZ_REQUIRE(body, "out of memory");
        if (cn)
            memcpy(body, nul + 1, cn);
        have_cp = ms_checkpoint_parse(body, cn, &cp, &e) == MS_OK;
        free(body);
    }
    for (int with = 0; with <= have_cp; with++) {
        lake_proof_info info;
        e.msg[0] = 0;
        int rc = lake_proof_check(text, pn, with ? &cp : NULL, &info, &e);
        FUZZ_REQUIRE(rc == MS_OK || rc == MS_EINPUT || rc == MS_ECHECK, "proof_check %d", rc);
        FUZZ_REQUIRE(rc == MS_OK || e.msg[0], "an error without a message");
        if (rc != MS_OK)
            continue;
        if (info.consistency)
            FUZZ_REQUIRE(info.old_size > 0 && info.old_size <= info.size, "consistency %lld -> %lld",
                         (long long)info.old_size, (long long)info.size);
        else
            FUZZ_REQUIRE(info.index >= 0 && info.index < info.size, "leaf %lld of %lld", (long long)info.index,
                         (long long)info.size);
        FUZZ_REQUIRE(info.origin[0] && info.root[0], "empty origin or root");
        for (const char *p = info.origin; *p; p++)
            FUZZ_REQUIRE((unsigned char)*p >= 0x20 && *p != 0x7f, "control character in the origin");
        if (with) {
            FUZZ_REQUIRE(!strcmp(info.origin, cp.origin), "a proof about origin %s accepted against %s",
                         info.origin, cp.origin);
            FUZZ_REQUIRE((uint64_t)info.size == cp.size || (info.consistency && (uint64_t)info.old_size == cp.size),
                         "a proof about another tree accepted against the checkpoint");
        }
    }
    free(text);
    return 0;
}
