/* fuzz_config — the configuration parser (sim/config.c) on hostile text.
 *
 * Input: the text of an INI file (a NUL inside ends the C string the parser
 * sees, as it would for a file read by ms_config_load, which refuses NUL).
 * Properties (sim/config.h): ms_config_load_string and
 * ms_config_load_stored never crash and return MS_OK, MS_EINPUT or (stored
 * only) MS_ECHECK with a message; a configuration that loads and finishes
 * renders a canonical text that loads again to the same canonical text and
 * hash (the config hash identifies the experiment), and that
 * ms_config_load_stored accepts. */
#include <string.h>

#include "base/err.h"
#include "sim/config.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    return 0;
}

static char render1[MS_CONFIG_TEXT_MAX], render2[MS_CONFIG_TEXT_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0; /* configs are small; the line reader bounds lines anyway */
    char *text = fuzz_strndup(data, size);
    ms_config c;
    ms_err e;
    e.msg[0] = 0;
    ms_config_defaults(&c);
    int rc = ms_config_load_string(&c, text, "fuzz.ini", &e);
    FUZZ_REQUIRE(rc == MS_OK || rc == MS_EINPUT, "load_string returned %d", rc);
    FUZZ_REQUIRE(rc == MS_OK || e.msg[0], "an error without a message");
    if (rc == MS_OK) {
        rc = ms_config_finish(&c, &e);
        FUZZ_REQUIRE(rc == MS_OK || rc == MS_EINPUT, "finish returned %d", rc);
    }
    if (rc == MS_OK) {
        size_t n1 = ms_config_render(&c, render1, sizeof render1);
        FUZZ_REQUIRE(n1 < sizeof render1, "canonical text of %zu bytes does not fit", n1);
        char h1[65], h2[65];
        ms_config_hash(&c, h1);
        ms_config c2;
        ms_config_defaults(&c2);
        rc = ms_config_load_stored(&c2, render1, "canonical", &e);
        FUZZ_REQUIRE(rc == MS_OK, "the canonical text does not load back: %s\n%s", e.msg, render1);
        size_t n2 = ms_config_render(&c2, render2, sizeof render2);
        ms_config_hash(&c2, h2);
        FUZZ_REQUIRE(n1 == n2 && !memcmp(render1, render2, n1), "canonical text is not a fixed point:\n%s\n--\n%s",
                     render1, render2);
        FUZZ_REQUIRE(!strcmp(h1, h2), "config hash changed on reload");
    }
    /* The same text as a lake's stored configuration (hostile). */
    ms_config_defaults(&c);
    e.msg[0] = 0;
    rc = ms_config_load_stored(&c, text, "lake", &e);
    FUZZ_REQUIRE(rc == MS_OK || rc == MS_EINPUT || rc == MS_ECHECK, "load_stored returned %d", rc);
    FUZZ_REQUIRE(rc == MS_OK || e.msg[0], "an error without a message");
    if (rc == MS_OK)
        FUZZ_REQUIRE(!c.out[0] && !c.keyring[0], "a stored text set out or keyring");
    free(text);
    return 0;
}
