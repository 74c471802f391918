/* harnesses.h — the libFuzzer harnesses of tests/fuzz/, one HARNESS(name)
 * each (tests/fuzz/fuzz_<name>.c). The Makefile's FUZZ_HARNESSES lists the
 * same names. Included with HARNESS defined by the includer. */
HARNESS(config)
HARNESS(bcast)
HARNESS(blob)
HARNESS(keyring)
HARNESS(note)
HARNESS(proof)
HARNESS(lake)
