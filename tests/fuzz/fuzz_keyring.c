/* fuzz_keyring — the keyring parser (keys/keyring.c) on hostile text, via
 * ms_keyring_parse (what a `cmd:` keyring's output goes through).
 *
 * Input: keyring text (any bytes).
 * Properties (keys/keyring.h): MS_OK or MS_EINPUT (MS_EIO only if memory or
 * libcrypto fails), with a message on failure that never quotes key
 * material (no run of 20 or more base64 characters of the input appears in
 * it); a keyring that loads has generation 0, a signer that signs (the
 * signature verifies under its public key), a commitment key, and each
 * generation's key or MS_ECHECK when it is destroyed. */
#include <string.h>

#include "keys/keyring.h"
#include "ledger/note.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    return 0;
}

static int b64c(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' ||
           c == '=';
}

/* 1 when msg holds a run of >= 20 base64 characters of the input. */
static int quotes_key_material(const char *msg, const uint8_t *data, size_t size)
{
    size_t i = 0;
    while (i < size) {
        if (!b64c(data[i])) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < size && b64c(data[j]))
            j++;
        if (j - i >= 20) {
            char run[21];
            /* any 20-character window of the run is key material */
            for (size_t k = i; k + 20 <= j; k++) {
                memcpy(run, data + k, 20);
                run[20] = 0;
                if (strstr(msg, run))
                    return 1;
            }
        }
        i = j;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 16))
        return 0; /* the 1 MiB limit is a loop over the text; larger inputs add nothing */
    char *text = malloc(size ? size : 1);
    FUZZ_REQUIRE(text, "out of memory");
    if (size)
        memcpy(text, data, size); /* exactly size bytes: no NUL to lean on */
    ms_keyring *k = NULL;
    ms_err e;
    e.msg[0] = 0;
    int rc = ms_keyring_parse(text, size, "fuzz", &k, &e);
    FUZZ_REQUIRE(rc == MS_OK || rc == MS_EINPUT || rc == MS_EIO, "status %d", rc);
    if (rc) {
        FUZZ_REQUIRE(!k, "a keyring returned with an error");
        FUZZ_REQUIRE(e.msg[0], "an error without a message");
        FUZZ_REQUIRE(!quotes_key_material(e.msg, data, size), "the message quotes key material: %s", e.msg);
    } else {
        FUZZ_REQUIRE(k && !ms_keyring_is_dev(k), "no keyring");
        int ng = ms_keyring_generations(k);
        FUZZ_REQUIRE(ng >= 1, "%d generations", ng);
        unsigned char key[32], pub[32], sig[64];
        for (int g = 0; g < ng && g < 64; g++) {
            ms_key_generation info;
            FUZZ_REQUIRE(ms_keyring_generation(k, g, &info, &e) == MS_OK, "generation %d: %s", g, e.msg);
            FUZZ_REQUIRE(strlen(info.fingerprint) == 32, "fingerprint of %d", g);
            int hr = ms_keyring_hmac_key(k, g, key, &e);
            FUZZ_REQUIRE(hr == (info.destroyed ? MS_ECHECK : MS_OK), "hmac key %d: %d", g, hr);
            ms_key_generation by_id;
            FUZZ_REQUIRE(ms_keyring_find(k, info.key_id, &by_id, &e) == MS_OK && by_id.gen == g, "find %s",
                         info.key_id);
        }
        FUZZ_REQUIRE(ms_keyring_commit_key(k, key, &e) == MS_OK, "commit key: %s", e.msg);
        FUZZ_REQUIRE(ms_keyring_can_sign(k), "a loaded keyring cannot sign");
        FUZZ_REQUIRE(ms_note_name_valid(ms_keyring_signer_name(k), strlen(ms_keyring_signer_name(k))),
                     "signer name");
        static const char msg[] = "fuzz\n";
        FUZZ_REQUIRE(ms_keyring_public_key(k, pub, &e) == MS_OK && ms_keyring_sign(k, msg, 5, sig, &e) == MS_OK,
                     "sign: %s", e.msg);
        FUZZ_REQUIRE(ms_ed25519_verify(pub, msg, 5, sig), "the signature does not verify under the public key");
        ms_keyring_free(k);
    }
    free(text);
    return 0;
}
