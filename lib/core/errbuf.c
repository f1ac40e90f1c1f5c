/*
 * errbuf.c - see errbuf.h. One place for the vsnprintf that every module
 * reporting into an error buffer would otherwise write again.
 */
#include "core/errbuf.h"

#include <stdarg.h>
#include <stdio.h>

void errbuf_set(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}
