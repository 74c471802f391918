/* lake_attack — the attacker of the trust tests (tests/trust.sh).
 *
 * It holds what SPEC §5's attacker holds: the lake file, the binary's
 * source (ledger/canon.h documents every hashed byte) and the sqlite3
 * library; not the keyring. It rewrites a lake so that its chain is
 * consistent again after an edit:
 *
 *   lake_attack rechain DB [--drop-checkpoints]
 *     recomputes config_sha256 and the genesis from the stored config text,
 *     every behavioural entry's commitment from its stored salt and rows,
 *     every entry hash in order, and runs.head_hash / ledger_rows /
 *     row_counts; with --drop-checkpoints also deletes every checkpoint row
 *     (a forger cannot re-sign them without the key).
 *
 * Append-only triggers are dropped and re-created with their exact text, so
 * the schema check passes (tests/tools/rechain.c does the work). Exit 0
 * done, 2 could not.
 */
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "tests/tools/rechain.h"

int main(int argc, char **argv)
{
    if (argc < 3 || strcmp(argv[1], "rechain") || (argc == 4 && strcmp(argv[3], "--drop-checkpoints")) || argc > 4) {
        fprintf(stderr, "usage: lake_attack rechain DB [--drop-checkpoints]\n");
        return 2;
    }
    sqlite3 *db = NULL;
    if (sqlite3_open(argv[2], &db) != SQLITE_OK) {
        fprintf(stderr, "lake_attack: open: %s\n", db ? sqlite3_errmsg(db) : "?");
        sqlite3_close(db);
        return 2;
    }
    char err[512], head[65];
    int64_t n = 0;
    int rc = lake_rechain(db, argc == 4, &n, head, err, sizeof err);
    sqlite3_close(db);
    if (rc) {
        fprintf(stderr, "lake_attack: %s\n", err);
        return 2;
    }
    printf("rechained %lld entries, head %s\n", (long long)n, head);
    return 0;
}
