/*
 * pgarray.h - Postgres array literals ("{...}") for passing many values in
 * one parameter ($1::text[], $1::bigint[]), so that a batch is one
 * statement with a fixed number of parameters.
 *
 * Text elements are always double-quoted, with '"' and '\' escaped, so any
 * string (commas, braces, "NULL", empty) arrives as itself. A NULL element
 * pointer is written as the SQL NULL element.
 */
#ifndef UPDRAFT_CORE_PGARRAY_H
#define UPDRAFT_CORE_PGARRAY_H

#include <stddef.h>
#include <stdint.h>

#include "core/strbuf.h"

/* A text[] literal of v[0..n) in a new string (NULL when out of memory). */
char *pgarray_text(const char *const *v, size_t n);

/* bigint[] and int[] literals of v[0..n) in a new string (NULL when out of memory). */
char *pgarray_int64(const int64_t *v, size_t n);
char *pgarray_int(const int *v, size_t n);

/*
 * Builds a literal in b, element by element: pgarray_open(), then one
 * pgarray_put_*() per element, then pgarray_close(); strbuf_take() gives
 * the literal. b must be empty when the outermost literal opens; literals
 * nest (pgarray_open() inside one starts an element).
 */
void pgarray_open(strbuf_t *b);
void pgarray_put_text(strbuf_t *b, const char *s);
void pgarray_put_int64(strbuf_t *b, int64_t v);
/* An element written as it is (a number, t/f, NULL, a nested literal). */
void pgarray_put_raw(strbuf_t *b, const char *s);
void pgarray_close(strbuf_t *b);

#endif
