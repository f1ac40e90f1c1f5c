/*
 * strbuf.c - see strbuf.h.
 */
#include "core/strbuf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void strbuf_putn(strbuf_t *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (n > SIZE_MAX / 4 || b->len > SIZE_MAX / 4) {
        b->oom = true;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void strbuf_puts(strbuf_t *b, const char *s)
{
    strbuf_putn(b, s, strlen(s));
}

void strbuf_printf(strbuf_t *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(tmp)) {
        strbuf_putn(b, tmp, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->oom = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    strbuf_putn(b, big, (size_t)n);
    free(big);
}

char *strbuf_take(strbuf_t *b)
{
    char *s = b->oom ? NULL : b->s;
    if (b->oom)
        free(b->s);
    else if (!s)
        s = calloc(1, 1);
    b->s = NULL;
    b->len = b->cap = 0;
    b->oom = false;
    return s;
}

void strbuf_free(strbuf_t *b)
{
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
    b->oom = false;
}
