/* fuzz_bcast — the broadcast validator (sim/bcast.c: ms_bcast_validate) on
 * hostile bytes.
 *
 * Input: byte 0 = flags (bit 0: re-MAC, so the bytes pass the MAC check and
 * the value checks behind it are reached; bits 1-2: the receiving mailbox
 * 0..3; bit 3: the receiver keeps a step clock), byte 1 = the last accepted
 * sequence number, then the broadcast bytes (at most MS_BCAST_MAX + 64).
 * The receiver is mailbox env of a 4-mailbox simulation keyed by the
 * development keyring of seed 3 (public, derived from the seed), as in
 * tests/test_bcast.c. The bytes are validated from a heap copy of exactly
 * their length, so AddressSanitizer sees any read past n.
 * Properties (sim/bcast.h): a reason in range, never a read past n; an
 * accepted broadcast has 21 finite features in [0, 1] and a sequence number
 * above the last accepted one (and equal to the clock's when there is one). */
#include <math.h>
#include <string.h>

#include "base/hmac.h"
#include "keys/keyring.h"
#include "sim/bcast.h"
#include "sim/sim.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ms_config cfg;
static ms_sim sim;
static ms_hmac mac;
static ms_keyring *kr;
static int ready;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    ms_err e;
    ms_config_defaults(&cfg);
    cfg.envs = 4;
    cfg.episode_len = 64;
    cfg.seed = 3;
    ms_key_source ks = {NULL, 0, 1, 0};
    if (ms_keyring_dev(cfg.seed, &kr, &e))
        FUZZ_REQUIRE(0, "setup: %s", e.msg);
    ks.kr = kr;
    if (ms_sim_init(&sim, &cfg, MS_STREAM_ENV, &ks, &e) || ms_hmac_init(&mac, &e) ||
        ms_hmac_setkey(&mac, sim.keys.broadcast_key, 32, &e))
        FUZZ_REQUIRE(0, "setup: %s", e.msg);
    ready = 1;
    return 0;
}

static const char hexd[] = "0123456789abcdef";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready || size < 2 || size - 2 > MS_BCAST_MAX + 64)
        return 0;
    uint8_t flags = data[0];
    size_t n = size - 2;
    char *buf = malloc(n ? n : 1);
    FUZZ_REQUIRE(buf, "out of memory");
    memcpy(buf, data + 2, n);
    if (flags & 1) {
        /* Re-MAC: the HMAC of every byte before the last ,"mac":" goes into
         * the 64 characters after it (as far as they exist). */
        static const char tag[] = ",\"mac\":\"";
        size_t tl = sizeof tag - 1, at = (size_t)-1;
        for (size_t i = 0; i + tl <= n; i++)
            if (!memcmp(buf + i, tag, tl))
                at = i;
        if (at != (size_t)-1) {
            unsigned char d[32];
            FUZZ_REQUIRE(ms_hmac_compute(&mac, buf, at, d) == 0, "HMAC failed");
            for (size_t k = 0; k < 64 && at + tl + k < n; k++)
                buf[at + tl + k] = hexd[(d[k / 2] >> (k % 2 ? 0 : 4)) & 15];
        }
    }
    ms_bcast_expect x;
    memset(&x, 0, sizeof x);
    x.env = (flags >> 1) & 3;
    x.episode_len = cfg.episode_len;
    x.last_seq = data[1];
    x.key_id = sim.pn.key_id;
    x.mac = &mac;
    x.clock_seq = (flags & 8) ? (uint64_t)data[1] + 1 : 0;
    float f[MS_NFEAT];
    uint64_t seq = 0;
    int r = ms_bcast_validate(buf, n, &x, f, &seq);
    FUZZ_REQUIRE((r >= 0 && r < MS_BCAST_NREASON) || r == MS_EIO, "reason %d out of range", r);
    if (r == MS_BCAST_OK) {
        for (int i = 0; i < MS_NFEAT; i++)
            FUZZ_REQUIRE(isfinite(f[i]) && f[i] >= 0.0f && f[i] <= 1.0f, "feature %d = %g accepted", i, (double)f[i]);
        FUZZ_REQUIRE(seq > x.last_seq, "sequence %llu accepted after %llu", (unsigned long long)seq,
                     (unsigned long long)x.last_seq);
        FUZZ_REQUIRE(!x.clock_seq || seq == x.clock_seq, "sequence %llu accepted against clock %llu",
                     (unsigned long long)seq, (unsigned long long)x.clock_seq);
    }
    free(buf);
    return 0;
}
