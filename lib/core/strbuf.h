/*
 * strbuf.h - a growable text buffer for building strings (URIs, messages,
 * JSON fragments). It remembers an allocation failure and stops growing,
 * so callers append freely and check once, at strbuf_take().
 */
#ifndef UPDRAFT_STRBUF_H
#define UPDRAFT_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct strbuf {
    char *s; /* NUL-terminated once anything was put; NULL before */
    size_t len, cap;
    bool oom; /* an allocation failed: nothing more is kept */
} strbuf_t;

/* Appends n bytes of s (NUL bytes included). */
void strbuf_putn(strbuf_t *b, const char *s, size_t n);
void strbuf_puts(strbuf_t *b, const char *s);
/* Appends the formatted text (any length). */
void strbuf_printf(strbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * Takes the text: "" when nothing was put, NULL after an allocation
 * failure; the caller frees it. The buffer is left empty and usable.
 */
char *strbuf_take(strbuf_t *b);
/* Frees the text and empties the buffer. */
void strbuf_free(strbuf_t *b);

#endif
