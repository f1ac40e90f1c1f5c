/*
 * logbuf.c - per-try log buffer with UTF-8 repair and a size cap (see
 * logbuf.h). UTF-8 is checked against the well-formed byte sequences of
 * the Unicode standard (table 3-7), which is what Postgres accepts.
 */
#include "worker/logbuf.h"

#include "core/strbuf.h"
#include "core/utf8.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timeutil.h"
#include "model/sensitive.h"

#define REPLACEMENT "\xEF\xBF\xBD" /* U+FFFD */
#define LINE_MAX_BYTES 8192        /* a worker line longer than this is cut */

struct logbuf {
    char *buf;        /* pending bytes, valid UTF-8 */
    size_t len, cap;  /* cap of buf */
    size_t out_bytes; /* task output bytes accepted (counts towards limit) */
    size_t limit;     /* max_log_bytes_per_try */
    bool truncated;
    bool at_line_start; /* last byte appended was '\n' (or nothing yet) */
    unsigned char carry[4];
    size_t ncarry; /* bytes of an incomplete character held back */
    /* Masking: secret values, and output held back because it may be the
     * start of one (it is put back in front of the next output). */
    char **secrets;
    size_t *secret_lens;
    size_t nsecrets, max_secret;
    char *hold;
    size_t hold_len;
    size_t mask_from; /* buf[mask_from..len) is not masked yet */
};

logbuf_t *logbuf_new(size_t cap)
{
    logbuf_t *lb = calloc(1, sizeof(*lb));
    if (!lb)
        return NULL;
    lb->limit = cap ? cap : 1;
    lb->at_line_start = true;
    return lb;
}

void logbuf_free(logbuf_t *lb)
{
    if (!lb)
        return;
    for (size_t i = 0; i < lb->nsecrets; i++) {
        explicit_bzero(lb->secrets[i], lb->secret_lens[i]);
        free(lb->secrets[i]);
    }
    free(lb->secrets);
    free(lb->secret_lens);
    if (lb->hold) {
        explicit_bzero(lb->hold, lb->hold_len);
        free(lb->hold);
    }
    free(lb->buf);
    free(lb);
}

static int reserve(logbuf_t *lb, size_t extra)
{
    if (extra > SIZE_MAX - lb->len - 1)
        return -1;
    size_t want = lb->len + extra + 1;
    if (want <= lb->cap)
        return 0;
    size_t ncap = lb->cap ? lb->cap : 4096;
    while (ncap < want)
        ncap = ncap > SIZE_MAX / 2 ? want : ncap * 2;
    char *nb = realloc(lb->buf, ncap);
    if (!nb)
        return -1;
    lb->buf = nb;
    lb->cap = ncap;
    return 0;
}

/* Appends bytes known to be valid. */
static int put(logbuf_t *lb, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    if (reserve(lb, n) < 0)
        return -1;
    memcpy(lb->buf + lb->len, p, n);
    lb->len += n;
    lb->buf[lb->len] = '\0';
    lb->at_line_start = ((const char *)p)[n - 1] == '\n';
    return 0;
}

/*
 * Appends s[0..len) repaired. When !final an incomplete character at the end
 * is kept in carry instead. The caller has emptied carry beforehand.
 */
static int repair_append(logbuf_t *lb, const unsigned char *s, size_t len, bool final)
{
    size_t i = 0;
    while (i < len) {
        size_t ok = utf8_valid_prefix(s + i, len - i);
        if (put(lb, s + i, ok) < 0)
            return -1;
        i += ok;
        if (i == len)
            break;
        if (utf8_decode(s + i, len - i, NULL) == UTF8_INCOMPLETE) {
            if (final) /* a truncated character is one replacement */
                return put(lb, REPLACEMENT, 3);
            memcpy(lb->carry, s + i, len - i); /* < 4 bytes by construction */
            lb->ncarry = len - i;
            return 0;
        }
        if (put(lb, REPLACEMENT, 3) < 0)
            return -1;
        i++;
    }
    return 0;
}

/* Feeds output bytes, joining a held-back character with the new bytes first. */
static int feed(logbuf_t *lb, const unsigned char *s, size_t len, bool final)
{
    while (lb->ncarry > 0 && len > 0) {
        /* Complete (or reject) the held-back character one byte at a time. */
        unsigned char tmp[4];
        size_t nc = lb->ncarry;
        memcpy(tmp, lb->carry, nc);
        tmp[nc] = s[0];
        lb->ncarry = 0;
        int n = utf8_decode(tmp, nc + 1, NULL);
        if (n == UTF8_INCOMPLETE) {
            memcpy(lb->carry, tmp, nc + 1);
            lb->ncarry = nc + 1;
            s++;
            len--;
            continue;
        }
        if (n > 0) {
            if (put(lb, tmp, (size_t)n) < 0)
                return -1;
            s++;
            len--;
            continue;
        }
        /* The held-back lead byte was not continued: replace it, re-feed the rest. */
        if (put(lb, REPLACEMENT, 3) < 0)
            return -1;
        if (repair_append(lb, tmp + 1, nc - 1, false) < 0)
            return -1;
    }
    if (len > 0)
        return repair_append(lb, s, len, final);
    if (final && lb->ncarry > 0) {
        unsigned char tmp[4];
        size_t nc = lb->ncarry;
        memcpy(tmp, lb->carry, nc);
        lb->ncarry = 0;
        return repair_append(lb, tmp, nc, true);
    }
    return 0;
}

/* ---- masking ------------------------------------------------------------ */

int logbuf_add_secret(logbuf_t *lb, const char *value)
{
    size_t n = value ? strlen(value) : 0;
    if (n < LOGBUF_MIN_SECRET)
        return 0;
    for (size_t i = 0; i < lb->nsecrets; i++)
        if (lb->secret_lens[i] == n && !memcmp(lb->secrets[i], value, n))
            return 0;
    if (lb->nsecrets >= LOGBUF_MAX_SECRETS || n > LOGBUF_MAX_SECRET_LEN)
        return -1;
    char **ns = realloc(lb->secrets, (lb->nsecrets + 1) * sizeof(*ns));
    if (!ns)
        return -1;
    lb->secrets = ns;
    size_t *nl = realloc(lb->secret_lens, (lb->nsecrets + 1) * sizeof(*nl));
    if (!nl)
        return -1;
    lb->secret_lens = nl;
    char *copy = strdup(value);
    if (!copy)
        return -1;
    lb->secrets[lb->nsecrets] = copy;
    lb->secret_lens[lb->nsecrets++] = n;
    if (n > lb->max_secret)
        lb->max_secret = n;
    return 0;
}

size_t logbuf_secret_count(const logbuf_t *lb)
{
    return lb->nsecrets;
}

static int add_json_leaf(const cJSON *leaf, void *ud)
{
    logbuf_t *lb = ud;
    char *quoted;
    int rc;

    if (!cJSON_IsString(leaf))
        return 0; /* as Airflow's masker: strings only */
    if (logbuf_add_secret(lb, leaf->valuestring) < 0 || !(quoted = cJSON_PrintUnformatted(leaf)))
        return -1;
    /* the JSON form without its quotes, when escaping changed it */
    quoted[strlen(quoted) - 1] = '\0';
    rc = logbuf_add_secret(lb, quoted + 1);
    explicit_bzero(quoted, strlen(quoted));
    cJSON_free(quoted);
    return rc;
}

int logbuf_add_json_secrets(logbuf_t *lb, const cJSON *doc)
{
    return sensitive_json_each(doc, false, add_json_leaf, lb) != 0 ? -1 : 0;
}

/* Puts the held-back output back at the end of buf, to be masked again. */
static int unhold(logbuf_t *lb)
{
    lb->mask_from = lb->len;
    if (lb->hold_len == 0)
        return 0;
    int rc = put(lb, lb->hold, lb->hold_len);
    explicit_bzero(lb->hold, lb->hold_len);
    lb->hold_len = 0;
    return rc;
}

/* True when s[0..n) is the start of some secret. */
static bool secret_prefix(const logbuf_t *lb, const char *s, size_t n)
{
    for (size_t k = 0; k < lb->nsecrets; k++)
        if (lb->secret_lens[k] > n && !memcmp(lb->secrets[k], s, n))
            return true;
    return false;
}

/* The first secret in s[0..n) (the longest at one position), NULL if none. */
static const char *find_secret(const logbuf_t *lb, const char *s, size_t n, size_t *found_len)
{
    const char *best = NULL;
    size_t best_len = 0;
    for (size_t k = 0; k < lb->nsecrets; k++) {
        const char *p = memmem(s, n, lb->secrets[k], lb->secret_lens[k]);
        if (p && (!best || p < best || (p == best && lb->secret_lens[k] > best_len))) {
            best = p;
            best_len = lb->secret_lens[k];
        }
    }
    *found_len = best_len;
    return best;
}

char *logbuf_mask_copy(const logbuf_t *lb, const char *text)
{
    strbuf_t b = {0};
    size_t n = strlen(text), best_len;
    const char *p = text, *best;

    while ((best = find_secret(lb, p, n - (size_t)(p - text), &best_len)) != NULL) {
        strbuf_putn(&b, p, (size_t)(best - p));
        strbuf_putn(&b, "***", 3);
        p = best + best_len;
    }
    strbuf_putn(&b, p, n - (size_t)(p - text));
    return strbuf_take(&b);
}

/*
 * Replaces every secret in buf[mask_from..len) by "***". Unless final, the
 * end of buf that may be the start of a secret moves to hold.
 */
static int mask_pending(logbuf_t *lb, bool final)
{
    size_t i = lb->mask_from;
    if (lb->nsecrets == 0) {
        lb->mask_from = lb->len;
        return 0;
    }
    while (i < lb->len) {
        size_t best_len;
        const char *best = find_secret(lb, lb->buf + i, lb->len - i, &best_len);
        if (!best)
            break;
        size_t pos = (size_t)(best - lb->buf);
        if (reserve(lb, 3) < 0)
            return -1;
        memmove(lb->buf + pos + 3, lb->buf + pos + best_len, lb->len - pos - best_len);
        memcpy(lb->buf + pos, "***", 3);
        lb->len = lb->len - best_len + 3;
        lb->buf[lb->len] = '\0';
        i = pos + 3;
    }
    if (!final && lb->len > i) {
        size_t j = lb->len - i > lb->max_secret - 1 ? lb->len - (lb->max_secret - 1) : i;
        while (j < lb->len && !secret_prefix(lb, lb->buf + j, lb->len - j))
            j++;
        while (j > i && j < lb->len && ((unsigned char)lb->buf[j] & 0xC0) == 0x80)
            j--; /* keep whole characters in buf */
        if (j < lb->len) {
            size_t n = lb->len - j;
            char *nh = realloc(lb->hold, n);
            if (!nh)
                return -1;
            lb->hold = nh;
            memcpy(lb->hold, lb->buf + j, n);
            lb->hold_len = n;
            lb->len = j;
            lb->buf[j] = '\0';
        }
    }
    if (lb->buf)
        lb->at_line_start = lb->len == 0 || lb->buf[lb->len - 1] == '\n';
    lb->mask_from = lb->len;
    return 0;
}

void logbuf_end_output(logbuf_t *lb)
{
    if (lb->nsecrets > 0)
        (void)unhold(lb);
    if (lb->ncarry > 0)
        (void)feed(lb, NULL, 0, true);
    if (lb->nsecrets > 0)
        (void)mask_pending(lb, true);
}

int logbuf_append_output(logbuf_t *lb, const char *data, size_t len)
{
    if (lb->truncated || len == 0)
        return 0;
    size_t room = lb->limit - lb->out_bytes;
    size_t take = len < room ? len : room;
    lb->out_bytes += take;
    if (lb->nsecrets > 0 && unhold(lb) < 0)
        return -1;
    if (feed(lb, (const unsigned char *)data, take, false) < 0)
        return -1;
    if (lb->nsecrets > 0 && mask_pending(lb, false) < 0)
        return -1;
    if (take < len) {
        lb->truncated = true;
        logbuf_end_output(lb);
        return logbuf_append_line(lb, "WARNING",
                                  "Log truncated: the task wrote more than %zu bytes; "
                                  "further output is discarded",
                                  lb->limit);
    }
    return 0;
}

int logbuf_append_line(logbuf_t *lb, const char *level, const char *fmt, ...)
{
    char msg[LINE_MAX_BYTES], ts[TS_ISO_LEN];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;

    logbuf_end_output(lb);
    if (!lb->at_line_start && put(lb, "\n", 1) < 0)
        return -1;
    char head[TS_ISO_LEN + 64];
    int hn =
        snprintf(head, sizeof(head), "[%s] {worker} %s - ", ts_format_iso(ts_now(), ts), level);
    lb->mask_from = lb->len;
    if (put(lb, head, (size_t)hn) < 0)
        return -1;
    /* The message may quote task input (the command): repair it too. */
    size_t mlen = strlen(msg);
    if (repair_append(lb, (const unsigned char *)msg, mlen, true) < 0)
        return -1;
    if (mask_pending(lb, true) < 0)
        return -1;
    return put(lb, "\n", 1);
}

size_t logbuf_pending(const logbuf_t *lb)
{
    return lb->len;
}

const char *logbuf_data(const logbuf_t *lb)
{
    return lb->buf ? lb->buf : "";
}

void logbuf_consume(logbuf_t *lb, size_t n)
{
    if (n >= lb->len) {
        lb->len = 0;
        lb->mask_from = 0;
        if (lb->buf)
            lb->buf[0] = '\0';
        /* Keep a small buffer; release a large one grown during an outage. */
        if (lb->cap > (1u << 20)) {
            free(lb->buf);
            lb->buf = NULL;
            lb->cap = 0;
        }
        return;
    }
    memmove(lb->buf, lb->buf + n, lb->len - n);
    lb->len -= n;
    lb->mask_from = lb->mask_from > n ? lb->mask_from - n : 0;
    lb->buf[lb->len] = '\0';
}

size_t logbuf_output_bytes(const logbuf_t *lb)
{
    return lb->out_bytes;
}

bool logbuf_truncated(const logbuf_t *lb)
{
    return lb->truncated;
}
