/* rechain.h — the forger's re-chain (test tool; never linked into marlsim).
 *
 * It does what SPEC §5's attacker can do with the lake file, the source and
 * the sqlite3 library, without the keyring: after an edit, make the chain
 * consistent again. On an open read-write connection to a lake, in one
 * transaction: recomputes config_sha256 and the genesis from the stored
 * config text, every behavioural entry's commitment from its stored salt and
 * rows, every entry hash in order, and runs.head_hash / ledger_rows /
 * row_counts; with drop_checkpoints also deletes every checkpoint row (a
 * forger cannot re-sign them). Append-only triggers are dropped and
 * re-created with their exact text, so the schema check passes.
 *
 * Returns 0 and, when entries is not NULL, the number of entries rechained
 * and the new head (64 hex digits + NUL, head may be NULL); -1 with one
 * sentence in err (errcap bytes) when it cannot (a lake too damaged to
 * walk: missing runs row, unknown table, missing salt, SQLite refusing);
 * the transaction is then rolled back. Used by tests/tools/lake_attack.c
 * (tests/trust.sh) and the lake fuzz harness (tests/fuzz/fuzz_lake.c). */
#ifndef MS_TESTS_RECHAIN_H
#define MS_TESTS_RECHAIN_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

int lake_rechain(sqlite3 *db, int drop_checkpoints, int64_t *entries, char head[65], char *err, size_t errcap);

#endif
