/* fuzz_note — the C2SP signed-note and checkpoint parsers (ledger/note.c:
 * ms_note_open, ms_note_parse, ms_checkpoint_parse, ms_note_verifier_parse,
 * ms_note_text_check): what `verify --checkpoint FILE`, `--pubkey KEY` and
 * every checkpoint row of a lake go through.
 *
 * Input: a signed note, a checkpoint body or a verifier key (any bytes; all
 * parsers see every input). Trusted keys: two published verifier keys
 * (golang.org/x/mod/sumdb/note's PeterNeumann test key and sum.golang.org's;
 * public keys only), so inputs signed by their published test signers reach
 * the signature check and past it.
 * Properties (ledger/note.h): each call returns one of its documented
 * statuses, with a message on failure; a note that opens has a signed text
 * that ms_note_text_check accepts and that ms_note_parse agrees on; a
 * checkpoint body that parses formats back to exactly its bytes (one text
 * per checkpoint); a verifier key that parses formats back to exactly its
 * text. */
#include <string.h>

#include "ledger/note.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const vkeys[2] = {
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8",
};
static ms_note_verifier ver[2];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    ms_err e;
    for (int i = 0; i < 2; i++)
        FUZZ_REQUIRE(ms_note_verifier_parse(vkeys[i], strlen(vkeys[i]), &ver[i], &e) == MS_OK, "setup: %s", e.msg);
    return 0;
}

static void checkpoint_round_trip(const char *text, size_t n)
{
    ms_checkpoint cp;
    ms_err e;
    e.msg[0] = 0;
    int rc = ms_checkpoint_parse(text, n, &cp, &e);
    FUZZ_REQUIRE(rc == MS_OK || rc == MS_EINPUT, "checkpoint_parse %d", rc);
    FUZZ_REQUIRE(rc == MS_OK || e.msg[0], "an error without a message");
    if (rc)
        return;
    FUZZ_REQUIRE(cp.next >= 0 && cp.next <= MS_CHECKPOINT_EXT_MAX, "%d extension lines", cp.next);
    const char *ext[MS_CHECKPOINT_EXT_MAX];
    for (int i = 0; i < cp.next; i++)
        ext[i] = cp.ext[i];
    char *back = malloc(n + 1);
    FUZZ_REQUIRE(back, "out of memory");
    size_t bn = 0;
    rc = ms_checkpoint_format(cp.origin, cp.size, cp.root, ext, cp.next, back, n + 1, &bn, &e);
    FUZZ_REQUIRE(rc == MS_OK, "a parsed checkpoint does not format: %s", e.msg);
    FUZZ_REQUIRE(bn == n && !memcmp(back, text, n), "a checkpoint body that is not in its one canonical form parsed");
    free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MS_NOTE_MAX + 16)
        return 0;
    char *note = malloc(size ? size : 1);
    FUZZ_REQUIRE(note, "out of memory");
    if (size)
        memcpy(note, data, size);
    ms_err e;
    e.msg[0] = 0;
    size_t tl = 0;
    char first[MS_NOTE_NAME_MAX + 1];
    unsigned char fid[4];
    int prc = ms_note_parse(note, size, &tl, first, fid, &e);
    FUZZ_REQUIRE(prc == MS_OK || prc == MS_EINPUT, "note_parse %d", prc);
    FUZZ_REQUIRE(prc == MS_OK || e.msg[0], "an error without a message");
    if (prc == MS_OK) {
        FUZZ_REQUIRE(tl > 0 && tl < size, "text length %zu of %zu", tl, size);
        FUZZ_REQUIRE(ms_note_text_check(note, tl, &e) == MS_OK, "the parsed text is not a note text: %s", e.msg);
        FUZZ_REQUIRE(ms_note_name_valid(first, strlen(first)), "first signer name");
    }
    for (int i = 0; i < 2; i++) {
        size_t otl = 0;
        e.msg[0] = 0;
        int rc = ms_note_open(note, size, &ver[i], &otl, &e);
        FUZZ_REQUIRE(rc == MS_OK || rc == MS_EINPUT || rc == MS_ECHECK, "note_open %d", rc);
        FUZZ_REQUIRE(rc == MS_OK || e.msg[0], "an error without a message");
        FUZZ_REQUIRE((rc == MS_EINPUT) == (prc == MS_EINPUT), "open (%d) and parse (%d) disagree on the form", rc,
                     prc);
        if (rc == MS_OK) {
            FUZZ_REQUIRE(otl == tl, "open and parse split the note differently");
            checkpoint_round_trip(note, otl);
        }
    }
    checkpoint_round_trip(note, size);
    e.msg[0] = 0;
    int trc = ms_note_text_check(note, size, &e);
    FUZZ_REQUIRE(trc == MS_OK || trc == MS_EINPUT, "text_check %d", trc);
    if (size <= 512) {
        ms_note_verifier v;
        int vrc = ms_note_verifier_parse(note, size, &v, &e);
        FUZZ_REQUIRE(vrc == MS_OK || vrc == MS_EINPUT, "verifier_parse %d", vrc);
        if (vrc == MS_OK) {
            char back[MS_NOTE_NAME_MAX + 64];
            FUZZ_REQUIRE(ms_note_verifier_format(v.name, v.pub, back, sizeof back, &e) == MS_OK, "format: %s",
                         e.msg);
            FUZZ_REQUIRE(strlen(back) == size && !memcmp(back, note, size),
                         "a verifier key not in its one canonical form parsed");
        }
    }
    free(note);
    return 0;
}
