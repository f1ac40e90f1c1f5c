/*
 * pgarray.c - see pgarray.h.
 */
#include "core/pgarray.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

/* A separator unless this is the first element of the innermost literal. */
static void comma(strbuf_t *b)
{
    if (b->len > 0 && b->s[b->len - 1] != '{')
        strbuf_putn(b, ",", 1);
}

void pgarray_open(strbuf_t *b)
{
    comma(b);
    strbuf_putn(b, "{", 1);
}

void pgarray_put_text(strbuf_t *b, const char *s)
{
    comma(b);
    if (!s) {
        strbuf_puts(b, "NULL");
        return;
    }
    strbuf_putn(b, "\"", 1);
    for (const char *run = s;; s++) {
        if (*s == '"' || *s == '\\' || *s == '\0') {
            strbuf_putn(b, run, (size_t)(s - run));
            if (*s == '\0')
                break;
            strbuf_putn(b, "\\", 1);
            run = s;
        }
    }
    strbuf_putn(b, "\"", 1);
}

void pgarray_put_int64(strbuf_t *b, int64_t v)
{
    comma(b);
    strbuf_printf(b, "%" PRId64, v);
}

void pgarray_put_raw(strbuf_t *b, const char *s)
{
    comma(b);
    strbuf_puts(b, s);
}

void pgarray_close(strbuf_t *b)
{
    strbuf_putn(b, "}", 1);
}

char *pgarray_text(const char *const *v, size_t n)
{
    strbuf_t b = {0};
    pgarray_open(&b);
    for (size_t i = 0; i < n; i++)
        pgarray_put_text(&b, v[i]);
    pgarray_close(&b);
    return strbuf_take(&b);
}

/* The number arrays size their buffer once: they sit on the hot paths. */
char *pgarray_int64(const int64_t *v, size_t n)
{
    size_t cap = n * 21 + 3, len = 0;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    s[len++] = '{';
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(s + len, cap - len, "%s%" PRId64, i ? "," : "", v[i]);
    s[len++] = '}';
    s[len] = '\0';
    return s;
}

char *pgarray_int(const int *v, size_t n)
{
    size_t cap = n * 12 + 3, len = 0;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    s[len++] = '{';
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(s + len, cap - len, "%s%d", i ? "," : "", v[i]);
    s[len++] = '}';
    s[len] = '\0';
    return s;
}
