/*
 * queue_msg.c - see queue_msg.h and proto/PROTOCOL.md. Decoding is strict
 * about what it needs (decimal digits only, range-checked, no sign games)
 * and lenient about what it does not know (unknown fields are skipped).
 */
#include "proto/queue_msg.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

int queue_msg_encode(const queue_msg_t *m, queue_msg_fields_t *f)
{
    if (m->ti_id <= 0 || m->try_number < 1 || m->enqueued_us < 0)
        return -1;
    static const char *const keys[QUEUE_MSG_NFIELDS] = {"v", "ti", "try", "t"};
    snprintf(f->buf[0], QUEUE_MSG_MAX_FIELD, "%d", QUEUE_MSG_VERSION);
    snprintf(f->buf[1], QUEUE_MSG_MAX_FIELD, "%lld", (long long)m->ti_id);
    snprintf(f->buf[2], QUEUE_MSG_MAX_FIELD, "%d", (int)m->try_number);
    snprintf(f->buf[3], QUEUE_MSG_MAX_FIELD, "%lld", (long long)m->enqueued_us);
    for (int i = 0; i < QUEUE_MSG_NFIELDS; i++) {
        f->argv[2 * i] = keys[i];
        f->argvlen[2 * i] = strlen(keys[i]);
        f->argv[2 * i + 1] = f->buf[i];
        f->argvlen[2 * i + 1] = strlen(f->buf[i]);
    }
    return 0;
}

/* Parses an unsigned decimal of 1..18 digits (fits int64 without overflow). */
static bool parse_u64(const char *s, size_t n, int64_t *out)
{
    if (n == 0 || n > 18)
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static bool key_is(const char *k, size_t n, const char *want)
{
    return n == strlen(want) && memcmp(k, want, n) == 0;
}

int queue_msg_decode(const char *const *keys, const size_t *klens, const char *const *vals,
                     const size_t *vlens, size_t n, queue_msg_t *out, char *err, size_t errlen)
{
    int64_t v = -1, ti = -1, try = -1, t = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t *dst = NULL;
        if (!keys[i] || !vals[i])
            continue;
        if (key_is(keys[i], klens[i], "v"))
            dst = &v;
        else if (key_is(keys[i], klens[i], "ti"))
            dst = &ti;
        else if (key_is(keys[i], klens[i], "try"))
            dst = &try;
        else if (key_is(keys[i], klens[i], "t"))
            dst = &t;
        else
            continue;
        if (!parse_u64(vals[i], vlens[i], dst)) {
            snprintf(err, errlen, "field '%.*s' is not a decimal number", (int)klens[i], keys[i]);
            return -1;
        }
    }
    if (v != QUEUE_MSG_VERSION) {
        if (v < 0)
            snprintf(err, errlen, "missing field 'v'");
        else
            snprintf(err, errlen, "unsupported message version %lld", (long long)v);
        return -1;
    }
    if (ti <= 0) {
        snprintf(err, errlen, ti < 0 ? "missing field 'ti'" : "field 'ti' must be positive");
        return -1;
    }
    if (try < 1 || try > INT32_MAX) {
        snprintf(err, errlen, try < 0 ? "missing field 'try'" : "field 'try' out of range");
        return -1;
    }
    out->ti_id = ti;
    out->try_number = (int32_t)try;
    out->enqueued_us = t;
    return 0;
}
