/* card.h — a model card for a run, from its lake alone (SPEC §10, issue 11).
 *
 * gov_card verifies the lake (lake_verify with opts: a tampered lake, or one
 * signed by another key than opts->trusted, is refused with MS_ECHECK and
 * no card) and, in the read snapshot it verified, writes a Markdown model
 * card in the sections model cards conventionally have:
 *   Model details (run id, name, version, seed, config hash, ledger head,
 *     newest checkpoint, the promoted snapshots' SHA-256s, architecture),
 *   Intended use, Factors, Metrics (the report figure, gate scores, outcomes
 *     per message class, credit and updates per agent), Evaluation data,
 *     Training data, Safety-rule hits, Poisoning and defence, Surveillance,
 *     Data lifecycle, Caveats and limitations,
 *   Appendix: the queries — every figure in the card is followed by (Qn) and
 *     is the first column of the first row (or, for a table, the rows) of
 *     query Qn, listed in the appendix as one line "Qn. `SQL`" that a reader
 *     can run in sqlite3 on the lake to get exactly the text shown (numbers
 *     are formatted by the query itself: printf('%.4f', ...)). Settings quoted
 *     from the config are lines of runs.config_text (Q1).
 * Text from the lake is rendered printable ASCII with Markdown's special
 * characters backslash-escaped, so a hostile value cannot inject markup.
 * Sections whose data the lake does not hold (aggregate telemetry, a purge,
 * no poisoning) say so instead of showing figures.
 *
 * Returns MS_OK with *md a malloc'd NUL-terminated card of *n bytes (the
 * caller frees) and rep (may be NULL) the verification report; MS_ECHECK for
 * a lake that does not verify (e says what), MS_EINPUT for a file that is
 * not a lake or a lake without a promoted policy, MS_EIO for SQLite, memory
 * or the lake changing while it was read.
 */
#ifndef MS_GOV_CARD_H
#define MS_GOV_CARD_H

#include <stddef.h>

#include "base/err.h"
#include "ledger/verify.h"

int gov_card(const char *path, const lake_verify_opts *opts, char **md, size_t *n, lake_verify_report *rep,
             ms_err *e);

#endif
