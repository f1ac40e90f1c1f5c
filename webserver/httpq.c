/*
 * httpq.c - query string, path, paging and ordering parsing for the REST
 * API (see httpq.h).
 *
 * All of it runs on text an HTTP client chose, so each entry point checks
 * the length first, allocates at most a bounded copy, and never hands client
 * text onward as SQL: order_by resolves to one of the caller's constant
 * column expressions or fails.
 */
#include "webserver/httpq.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/utf8.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long httpq_url_decode(const char *in, size_t len, bool plus_is_space, char *out, size_t outlen)
{
    size_t o = 0;

    if (!in || !out || outlen == 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '\0')
            return -1;
        if (c == '%') {
            int hi, lo;
            if (i + 2 >= len)
                return -1;
            hi = hexval(in[i + 1]);
            lo = hexval(in[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi * 16 + lo);
            if (c == '\0')
                return -1;
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        if (o + 1 >= outlen)
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return (long)o;
}

void httpq_free(httpq_t *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->n; i++) {
        free(q->items[i].key);
        free(q->items[i].value);
    }
    free(q->items);
    q->items = NULL;
    q->n = 0;
}

static char *decode_dup(const char *s, size_t len)
{
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    if (httpq_url_decode(s, len, true, out, len + 1) < 0) {
        free(out);
        return NULL;
    }
    return out;
}

int httpq_parse(httpq_t *q, const char *qs, char *err, size_t errlen)
{
    size_t len, npairs = 0;
    const char *p, *end;

    q->items = NULL;
    q->n = 0;
    if (!qs || !*qs)
        return 0;
    len = strnlen(qs, HTTPQ_MAX_QUERY + 1);
    if (len > HTTPQ_MAX_QUERY) {
        snprintf(err, errlen, "query string longer than %d bytes", HTTPQ_MAX_QUERY);
        return -1;
    }
    for (size_t i = 0; i < len; i++)
        if (qs[i] == '&')
            npairs++;
    npairs++;
    if (npairs > HTTPQ_MAX_PARAMS) {
        snprintf(err, errlen, "more than %d query parameters", HTTPQ_MAX_PARAMS);
        return -1;
    }
    q->items = calloc(npairs, sizeof(*q->items));
    if (!q->items) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    p = qs;
    end = qs + len;
    while (p <= end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pe = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(pe - p));
        const char *ke = eq ? eq : pe;
        httpq_param_t *it;

        if (pe == p) { /* "a=1&&b=2" or a trailing '&' */
            if (!amp)
                break;
            p = amp + 1;
            continue;
        }
        if (ke == p) {
            snprintf(err, errlen, "query parameter with an empty name");
            goto fail;
        }
        it = &q->items[q->n];
        it->key = decode_dup(p, (size_t)(ke - p));
        it->value = eq ? decode_dup(eq + 1, (size_t)(pe - eq - 1)) : strdup("");
        q->n++;
        if (!it->key || !it->value) {
            snprintf(err, errlen, "malformed escape in query string");
            goto fail;
        }
        if (!utf8_valid(it->key, strlen(it->key)) || !utf8_valid(it->value, strlen(it->value))) {
            snprintf(err, errlen, "query string is not valid UTF-8");
            goto fail;
        }
        if (!amp)
            break;
        p = amp + 1;
    }
    return 0;
fail:
    httpq_free(q);
    return -1;
}

const char *httpq_get_nth(const httpq_t *q, const char *key, size_t idx)
{
    for (size_t i = 0; i < q->n; i++) {
        if (strcmp(q->items[i].key, key) == 0) {
            if (idx == 0)
                return q->items[i].value;
            idx--;
        }
    }
    return NULL;
}

const char *httpq_get(const httpq_t *q, const char *key)
{
    return httpq_get_nth(q, key, 0);
}

size_t httpq_count(const httpq_t *q, const char *key)
{
    size_t n = 0;
    for (size_t i = 0; i < q->n; i++)
        if (strcmp(q->items[i].key, key) == 0)
            n++;
    return n;
}

/* Copies s for an error message, cut short and with non-printables as '?'. */
static void clip(const char *s, char *buf, size_t buflen)
{
    size_t i = 0;
    for (; s[i] && i + 1 < buflen && i < 64; i++)
        buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    buf[i] = '\0';
}

int httpq_check_allowed(const httpq_t *q, const char *const *allowed, char *err, size_t errlen)
{
    for (size_t i = 0; i < q->n; i++) {
        bool found = false;
        for (size_t j = 0; allowed && allowed[j]; j++) {
            if (strcmp(q->items[i].key, allowed[j]) == 0) {
                found = true;
                break;
            }
        }
        if (!found) {
            char k[80];
            clip(q->items[i].key, k, sizeof(k));
            snprintf(err, errlen, "extra query parameter(s) %s not in spec", k);
            return -1;
        }
    }
    return 0;
}

static int parse_i64(const char *s, int64_t *out)
{
    char *end;
    long long v;

    if (!*s || strlen(s) > 24)
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end || end == s || *s == ' ' || *s == '\t' || *s == '\n')
        return -1;
    *out = v;
    return 0;
}

int httpq_get_i64(const httpq_t *q, const char *key, int64_t def, int64_t min, int64_t max,
                  int64_t *out, char *err, size_t errlen)
{
    const char *v = httpq_get(q, key);
    int64_t x;
    char c[80];

    if (!v) {
        *out = def;
        return 0;
    }
    if (parse_i64(v, &x) < 0) {
        clip(v, c, sizeof(c));
        snprintf(err, errlen, "'%s' is not of type 'integer' - '%s'", c, key);
        return -1;
    }
    if (x < min || x > max) {
        snprintf(err, errlen, "%s must be between %lld and %lld", key, (long long)min,
                 (long long)max);
        return -1;
    }
    *out = x;
    return 0;
}

int httpq_get_bool(const httpq_t *q, const char *key, bool *out, char *err, size_t errlen)
{
    const char *v = httpq_get(q, key);
    char c[80];

    if (!v)
        return 0;
    if (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0) {
        *out = true;
        return 1;
    }
    if (strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0) {
        *out = false;
        return 1;
    }
    clip(v, c, sizeof(c));
    snprintf(err, errlen, "'%s' is not of type 'boolean' - '%s'", c, key);
    return -1;
}

int httpq_get_page(const httpq_t *q, int64_t def_limit, int64_t max_limit, int64_t *limit,
                   int64_t *offset, char *err, size_t errlen)
{
    int64_t l, o;

    if (httpq_get_i64(q, "limit", def_limit, INT64_MIN, INT64_MAX, &l, err, errlen) < 0)
        return -1;
    if (l < 0) {
        snprintf(err, errlen, "page limit must be a positive integer");
        return -1;
    }
    if (l == 0)
        l = def_limit;
    if (l > max_limit)
        l = max_limit;
    if (httpq_get_i64(q, "offset", 0, INT64_MIN, INT64_MAX, &o, err, errlen) < 0)
        return -1;
    if (o < 0) {
        snprintf(err, errlen, "%lld is less than the minimum of 0 - 'offset'", (long long)o);
        return -1;
    }
    *limit = l;
    *offset = o;
    return 0;
}

int httpq_order_by(const char *value, const httpq_sort_t *allowed, size_t n, const char *def_field,
                   const char **sql, bool *desc, char *err, size_t errlen)
{
    const char *field = value;
    char c[80];

    *desc = false;
    if (!field || !*field)
        field = def_field;
    if (field[0] == '-') {
        *desc = true;
        field++;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(allowed[i].field, field) == 0) {
            *sql = allowed[i].sql;
            return 0;
        }
    }
    clip(field, c, sizeof(c));
    snprintf(err, errlen,
             "Ordering with '%s' is disallowed or the attribute does not exist on the model", c);
    return -1;
}

void httpq_path_free(httpq_path_t *p)
{
    if (!p)
        return;
    free(p->buf);
    p->buf = NULL;
    p->n = 0;
}

int httpq_path_split(const char *path, bool decode, httpq_path_t *out, char *err, size_t errlen)
{
    size_t len, o = 0;
    const char *s;

    memset(out, 0, sizeof(*out));
    if (!path || path[0] != '/') {
        snprintf(err, errlen, "request path must start with '/'");
        return -1;
    }
    len = strnlen(path, HTTPQ_MAX_PATH + 1);
    if (len > HTTPQ_MAX_PATH) {
        snprintf(err, errlen, "request path longer than %d bytes", HTTPQ_MAX_PATH);
        return -1;
    }
    out->buf = malloc(len + 1);
    if (!out->buf) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s = path;
    while (*s) {
        const char *e;
        size_t sl;
        long dl;

        while (*s == '/')
            s++;
        if (!*s)
            break;
        e = strchr(s, '/');
        sl = e ? (size_t)(e - s) : strlen(s);
        if (out->n == HTTPQ_MAX_SEGS) {
            snprintf(err, errlen, "request path has more than %d segments", HTTPQ_MAX_SEGS);
            goto fail;
        }
        if (decode) {
            dl = httpq_url_decode(s, sl, false, out->buf + o, len + 1 - o);
            if (dl < 0) {
                snprintf(err, errlen, "malformed escape in request path");
                goto fail;
            }
        } else {
            memcpy(out->buf + o, s, sl);
            out->buf[o + sl] = '\0';
            dl = (long)sl;
        }
        for (long i = 0; i < dl; i++) {
            unsigned char ch = (unsigned char)out->buf[o + (size_t)i];
            if (ch < 0x20 || ch == 0x7f) {
                snprintf(err, errlen, "control character in request path");
                goto fail;
            }
        }
        if (!utf8_valid(out->buf + o, (size_t)dl)) {
            snprintf(err, errlen, "request path is not valid UTF-8");
            goto fail;
        }
        out->seg[out->n++] = out->buf + o;
        o += (size_t)dl + 1;
        s += sl;
    }
    return 0;
fail:
    httpq_path_free(out);
    return -1;
}

bool httpq_path_match(const httpq_path_t *p, const char *pattern, const char **caps, size_t maxcaps,
                      size_t *ncaps)
{
    const char *s = pattern;
    size_t i = 0, nc = 0;

    while (*s) {
        const char *e;
        size_t sl;

        while (*s == '/')
            s++;
        if (!*s)
            break;
        e = strchr(s, '/');
        sl = e ? (size_t)(e - s) : strlen(s);
        if (sl == 1 && s[0] == '*' && !e) {
            i = p->n; /* the rest of the path, any number of segments */
            break;
        }
        if (i >= p->n)
            return false;
        if (sl == 2 && s[0] == '{' && s[1] == '}') {
            if (nc < maxcaps)
                caps[nc] = p->seg[i];
            nc++;
        } else if (strlen(p->seg[i]) != sl || memcmp(p->seg[i], s, sl) != 0) {
            return false;
        }
        i++;
        s += sl;
    }
    if (i != p->n)
        return false;
    if (ncaps)
        *ncaps = nc < maxcaps ? nc : maxcaps;
    return true;
}
