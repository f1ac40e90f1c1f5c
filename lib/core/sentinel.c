/*
 * sentinel.c - see sentinel.h.
 *
 * One short-lived connection per question: discovery happens only when a
 * queue connection is (re)opened, so there is nothing to keep open, and a
 * sentinel that went away costs one failed connect. Replies are checked
 * for type and size before use.
 */
#include "core/sentinel.h"

#include <hiredis.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "core/log.h"

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Parses one trimmed item [p, end) into *a. */
static int parse_item(const char *p, const char *end, sentinel_addr_t *a, char *err, size_t errlen)
{
    const char *host = p, *hend, *rest;
    int len = end - p > 64 ? 64 : (int)(end - p); /* of the item, quoted in errors */
    if (*p == '[') {
        const char *rb = memchr(p, ']', (size_t)(end - p));
        if (!rb) {
            snprintf(err, errlen, "redis.sentinels: '%.*s': missing ']'", len, p);
            return -1;
        }
        host = p + 1;
        hend = rb;
        rest = rb + 1;
    } else {
        hend = memchr(p, ':', (size_t)(end - p));
        if (!hend)
            hend = end;
        rest = hend;
    }
    size_t hn = (size_t)(hend - host);
    if (hn == 0 || hn >= sizeof(a->host)) {
        snprintf(err, errlen, "redis.sentinels: '%.*s': bad host", len, p);
        return -1;
    }
    for (size_t i = 0; i < hn; i++)
        if (is_blank(host[i]) || host[i] == '/' || host[i] == '@') {
            snprintf(err, errlen, "redis.sentinels: '%.*s': bad host", len, p);
            return -1;
        }
    memcpy(a->host, host, hn);
    a->host[hn] = '\0';
    a->port = SENTINEL_DEFAULT_PORT;
    if (rest == end)
        return 0;
    if (*rest != ':' || rest + 1 == end || end - rest > 6) {
        snprintf(err, errlen, "redis.sentinels: '%.*s': expected host:port", len, p);
        return -1;
    }
    long port = 0;
    for (const char *c = rest + 1; c < end; c++) {
        if (*c < '0' || *c > '9') {
            snprintf(err, errlen, "redis.sentinels: '%.*s': bad port", len, p);
            return -1;
        }
        port = port * 10 + (*c - '0');
    }
    if (port < 1 || port > 65535) {
        snprintf(err, errlen, "redis.sentinels: '%.*s': port out of range 1..65535", len, p);
        return -1;
    }
    a->port = (int)port;
    return 0;
}

int sentinel_parse_list(const char *list, sentinel_addr_t *out, size_t max, size_t *n, char *err,
                        size_t errlen)
{
    *n = 0;
    if (!list)
        return 0;
    if (strlen(list) > SENTINEL_LIST_MAX) {
        snprintf(err, errlen, "redis.sentinels: longer than %d bytes", SENTINEL_LIST_MAX);
        return -1;
    }
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        const char *b = p, *e = end;
        while (b < e && is_blank(*b))
            b++;
        while (e > b && is_blank(e[-1]))
            e--;
        if (b == e) {
            /* "" and "  " mean no sentinels; an empty item between commas is a typo. */
            if (comma || *n > 0) {
                snprintf(err, errlen, "redis.sentinels: empty item in the list");
                return -1;
            }
        } else {
            if (*n >= max) {
                snprintf(err, errlen, "redis.sentinels: more than %zu sentinels", max);
                return -1;
            }
            if (parse_item(b, e, &out[*n], err, errlen) < 0)
                return -1;
            (*n)++;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    return 0;
}

/* Asks one sentinel. 0 with host/port, -1 with err. */
static int ask_one(const sentinel_addr_t *s, const char *master_name, const char *password,
                   int timeout_ms, char *host, size_t hostlen, int *port, char *err, size_t errlen)
{
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    redisContext *rc = redisConnectWithTimeout(s->host, s->port, tv);
    redisReply *r = NULL;
    int ret = -1;
    if (!rc || rc->err) {
        snprintf(err, errlen, "sentinel %.200s:%d: %s", s->host, s->port,
                 rc ? rc->errstr : "out of memory");
        goto out;
    }
    redisSetTimeout(rc, tv);
    if (password && password[0]) {
        const char *argv[] = {"AUTH", password};
        size_t lens[] = {4, strlen(password)};
        r = redisCommandArgv(rc, 2, argv, lens);
        bool ok = r && r->type == REDIS_REPLY_STATUS;
        if (!ok) {
            snprintf(err, errlen, "sentinel %.200s:%d: authentication failed", s->host, s->port);
            goto out;
        }
        freeReplyObject(r);
        r = NULL;
    }
    const char *argv[] = {"SENTINEL", "get-master-addr-by-name", master_name};
    size_t lens[] = {8, 23, strlen(master_name)};
    r = redisCommandArgv(rc, 3, argv, lens);
    if (!r) {
        snprintf(err, errlen, "sentinel %.200s:%d: %s", s->host, s->port, rc->errstr);
        goto out;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "sentinel %.200s:%d: %.200s", s->host, s->port, r->str);
        goto out;
    }
    if (r->type == REDIS_REPLY_NIL) {
        snprintf(err, errlen, "sentinel %.200s:%d: no master named '%.100s'", s->host, s->port,
                 master_name);
        goto out;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING ||
        r->element[0]->len == 0 || r->element[0]->len >= hostlen || r->element[1]->len == 0 ||
        r->element[1]->len > 5) {
        snprintf(err, errlen, "sentinel %.200s:%d: unexpected reply", s->host, s->port);
        goto out;
    }
    char pbuf[8];
    memcpy(pbuf, r->element[1]->str, r->element[1]->len);
    pbuf[r->element[1]->len] = '\0';
    char *e;
    long p = strtol(pbuf, &e, 10);
    if (*e || p < 1 || p > 65535) {
        snprintf(err, errlen, "sentinel %.200s:%d: bad port in reply", s->host, s->port);
        goto out;
    }
    memcpy(host, r->element[0]->str, r->element[0]->len);
    host[r->element[0]->len] = '\0';
    *port = (int)p;
    ret = 0;
out:
    if (r)
        freeReplyObject(r);
    if (rc)
        redisFree(rc);
    return ret;
}

int sentinel_get_master(const sentinel_addr_t *s, size_t n, size_t *first, const char *master_name,
                        const char *password, int timeout_ms, char *host, size_t hostlen, int *port,
                        char *err, size_t errlen)
{
    if (n == 0) {
        snprintf(err, errlen, "no sentinels configured");
        return -1;
    }
    size_t start = *first < n ? *first : 0;
    char last[512] = "";
    for (size_t k = 0; k < n; k++) {
        size_t i = (start + k) % n;
        if (ask_one(&s[i], master_name, password, timeout_ms, host, hostlen, port, last,
                    sizeof(last)) == 0) {
            *first = i;
            return 0;
        }
        log_debug("redis sentinel did not answer error=\"%s\"", last);
    }
    snprintf(err, errlen, "no sentinel knows master '%.100s' (last: %s)", master_name, last);
    return -1;
}
