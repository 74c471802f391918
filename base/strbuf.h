/* strbuf.h — a growable text buffer for building documents (a report, a
 * comparison) before they are written or printed in one piece.
 *
 * Appends never fail visibly: an allocation failure makes the buffer
 * sticky-failed (every later append does nothing) and ms_sb_check reports
 * it once, at the end, as MS_EIO. p is NUL-terminated whenever len > 0.
 * The buffer owns p; release it with ms_sb_free (also after a failure).
 * A zeroed ms_strbuf is an empty buffer.
 */
#ifndef MS_BASE_STRBUF_H
#define MS_BASE_STRBUF_H

#include <stddef.h>

#include "base/err.h"

typedef struct ms_strbuf {
    char *p;
    size_t len, cap;
    int failed; /* an allocation failed: contents are incomplete */
} ms_strbuf;

/* Appends the printf-formatted text. */
void ms_sb_printf(ms_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends n bytes of s (which need not be NUL-terminated). */
void ms_sb_put(ms_strbuf *b, const char *s, size_t n);
/* Appends the NUL-terminated s. */
void ms_sb_puts(ms_strbuf *b, const char *s);
/* MS_OK, or MS_EIO "WHAT: out of memory" when an append failed. */
int ms_sb_check(const ms_strbuf *b, const char *what, ms_err *e);
void ms_sb_free(ms_strbuf *b);

#endif
