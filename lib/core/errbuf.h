/*
 * errbuf.h - filling the caller-supplied error buffers that updraft's
 * functions take as (char *err, size_t errlen).
 */
#ifndef UPDRAFT_ERRBUF_H
#define UPDRAFT_ERRBUF_H

#include <stddef.h>

/*
 * Formats a message into err (errlen bytes, truncated, always
 * NUL-terminated). err NULL or errlen 0: does nothing.
 */
void errbuf_set(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
