/*
 * queue.c - see queue.h.
 *
 * hiredis 0.14 synchronous API. A connection error leaves the context in
 * an error state; queue_ensure() replaces it. Every reply is checked for
 * type before use: Redis is an outside process and its replies are input.
 *
 * With sentinels (core/sentinel.h) the address is not fixed: open_conn()
 * asks the sentinels for the master each time it connects, and a node that
 * answers READONLY (a demoted master), MASTERDOWN or LOADING, or whose
 * blocked read was ended by UNBLOCKED (the node became a replica), marks the
 * connection unusable (q->unusable), so that the caller's usual reconnect
 * (queue_ensure) finds the new master. Nothing else changes for callers: a
 * failover looks like a Redis restart, which the scheduler's resend pass
 * and the claim's fencing already make harmless.
 */
#include "core/queue.h"

#include <errno.h>
#include <hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "core/backoff.h"
#include "core/log.h"
#include "core/sentinel.h"

/* A sentinel answers from memory: a slow one is skipped for the next. */
#define SENTINEL_TIMEOUT_MS 1000

struct queue {
    redisContext *rc;
    char host[256];
    char path[512]; /* unix socket, when set */
    int port;
    int db;
    char password[256];
    int timeout_ms;
    char ensured_groups[16][QUEUE_NAME_MAX];
    int nensured;
    bool unusable; /* the node answered READONLY/MASTERDOWN/LOADING/UNBLOCKED */
    /* Sentinel discovery, when nsentinels > 0. */
    sentinel_addr_t sentinels[SENTINEL_MAX];
    size_t nsentinels;
    size_t first_sentinel; /* the one that answered last: asked first */
    char master_name[256];
    char sentinel_password[256];
};

/* Whether a reply says this node cannot take writes now (see the top). */
static void note_reply(queue_t *q, const redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_ERROR || !r->str)
        return;
    if (!strncmp(r->str, "READONLY", 8) || !strncmp(r->str, "MASTERDOWN", 10) ||
        !strncmp(r->str, "LOADING", 7) || !strncmp(r->str, "UNBLOCKED", 9)) {
        if (!q->unusable)
            log_warn("redis node cannot serve the queues, reconnecting error=\"%.100s\"", r->str);
        q->unusable = true;
    }
}

static int parse_url(queue_t *q, const char *url, char *err, size_t errlen)
{
    if (!strncmp(url, "unix://", 7)) {
        const char *p = url + 7;
        const char *qm = strchr(p, '?');
        size_t n = qm ? (size_t)(qm - p) : strlen(p);
        if (n == 0 || n >= sizeof(q->path)) {
            snprintf(err, errlen, "redis url: bad unix socket path");
            return -1;
        }
        memcpy(q->path, p, n);
        q->path[n] = '\0';
        if (qm && !strncmp(qm, "?db=", 4))
            q->db = atoi(qm + 4);
        return 0;
    }
    if (strncmp(url, "redis://", 8) != 0) {
        snprintf(err, errlen, "redis url must start with redis:// or unix://");
        return -1;
    }
    const char *p = url + 8;
    const char *at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *pw = colon ? colon + 1 : p;
        size_t n = (size_t)(at - pw);
        if (n >= sizeof(q->password)) {
            snprintf(err, errlen, "redis url: password too long");
            return -1;
        }
        memcpy(q->password, pw, n);
        q->password[n] = '\0';
        p = at + 1;
    }
    const char *end = p + strcspn(p, ":/");
    size_t hn = (size_t)(end - p);
    if (hn == 0 || hn >= sizeof(q->host)) {
        snprintf(err, errlen, "redis url: missing host");
        return -1;
    }
    memcpy(q->host, p, hn);
    q->host[hn] = '\0';
    q->port = 6379;
    if (*end == ':') {
        char *e;
        long port = strtol(end + 1, &e, 10);
        if (port <= 0 || port > 65535) {
            snprintf(err, errlen, "redis url: bad port");
            return -1;
        }
        q->port = (int)port;
        end = e;
    }
    if (*end == '/' && end[1])
        q->db = atoi(end + 1);
    return 0;
}

static redisReply *command_argv(queue_t *q, int argc, const char **argv, const size_t *lens)
{
    if (!q->rc || q->rc->err)
        return NULL;
    redisReply *r = redisCommandArgv(q->rc, argc, argv, lens);
    note_reply(q, r);
    return r;
}

/* redisGetReply() of a pipelined command, with note_reply(). */
static int get_reply(queue_t *q, redisReply **r)
{
    *r = NULL;
    if (redisGetReply(q->rc, (void **)r) != REDIS_OK || !*r)
        return -1;
    note_reply(q, *r);
    return 0;
}

/* Whether the node behind rc says it is the master (ROLE). */
static bool is_master(redisContext *rc)
{
    redisReply *r = redisCommand(rc, "ROLE");
    bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
              r->element[0]->type == REDIS_REPLY_STRING && r->element[0]->len == 6 &&
              !memcmp(r->element[0]->str, "master", 6);
    if (r)
        freeReplyObject(r);
    return ok;
}

static int open_conn(queue_t *q, char *err, size_t errlen)
{
    if (q->nsentinels > 0) {
        char host[sizeof(q->host)];
        int port;
        int sto = q->timeout_ms < SENTINEL_TIMEOUT_MS ? q->timeout_ms : SENTINEL_TIMEOUT_MS;
        if (sentinel_get_master(q->sentinels, q->nsentinels, &q->first_sentinel, q->master_name,
                                q->sentinel_password, sto, host, sizeof(host), &port, err,
                                errlen) < 0)
            return -1;
        if (strcmp(host, q->host) != 0 || port != q->port)
            log_info("redis master from sentinel master=%s:%d sentinel=%s:%d name=%s", host, port,
                     q->sentinels[q->first_sentinel].host, q->sentinels[q->first_sentinel].port,
                     q->master_name);
        memcpy(q->host, host, sizeof(q->host));
        q->port = port;
    }
    struct timeval tv = {q->timeout_ms / 1000, (q->timeout_ms % 1000) * 1000};
    redisContext *rc = q->path[0] ? redisConnectUnixWithTimeout(q->path, tv)
                                  : redisConnectWithTimeout(q->host, q->port, tv);
    if (!rc || rc->err) {
        snprintf(err, errlen, "cannot connect to redis: %s", rc ? rc->errstr : "out of memory");
        if (rc)
            redisFree(rc);
        return -1;
    }
    redisSetTimeout(rc, tv);
    redisEnableKeepAlive(rc);
    if (q->rc)
        redisFree(q->rc);
    q->rc = rc;
    q->nensured = 0;
    q->unusable = false;
    if (q->password[0]) {
        redisReply *r = redisCommand(rc, "AUTH %s", q->password);
        bool ok = r && r->type == REDIS_REPLY_STATUS;
        if (r)
            freeReplyObject(r);
        if (!ok) {
            snprintf(err, errlen, "redis authentication failed");
            q->unusable = true;
            return -1;
        }
    }
    if (q->db) {
        redisReply *r = redisCommand(rc, "SELECT %d", q->db);
        bool ok = r && r->type == REDIS_REPLY_STATUS;
        if (r)
            freeReplyObject(r);
        if (!ok) {
            snprintf(err, errlen, "redis SELECT %d failed", q->db);
            q->unusable = true;
            return -1;
        }
    }
    /* The sentinels may still name a master that a failover is demoting. */
    if (q->nsentinels > 0 && !is_master(rc)) {
        snprintf(err, errlen,
                 "redis %s:%d named by the sentinels is not a master (failover in "
                 "progress?)",
                 q->host, q->port);
        q->unusable = true;
        return -1;
    }
    return 0;
}

/* Copies t's sentinel settings into q. 0, or -1 with err. */
static int set_sentinels(queue_t *q, const queue_target_t *t, char *err, size_t errlen)
{
    if (sentinel_parse_list(t->sentinels, q->sentinels, SENTINEL_MAX, &q->nsentinels, err, errlen) <
        0)
        return -1;
    if (q->nsentinels == 0)
        return 0;
    if (q->path[0]) {
        snprintf(err, errlen, "redis.sentinels: cannot be used with a unix:// redis url");
        return -1;
    }
    const char *name = t->master_name && t->master_name[0] ? t->master_name : "mymaster";
    const char *pw = t->sentinel_password ? t->sentinel_password : "";
    if (strlen(name) >= sizeof(q->master_name) || strlen(pw) >= sizeof(q->sentinel_password)) {
        snprintf(err, errlen, "redis.master_name or redis.sentinel_password too long");
        return -1;
    }
    snprintf(q->master_name, sizeof(q->master_name), "%s", name);
    snprintf(q->sentinel_password, sizeof(q->sentinel_password), "%s", pw);
    return 0;
}

queue_t *queue_connect(const queue_target_t *t, char *err, size_t errlen)
{
    queue_t *q = calloc(1, sizeof(*q));
    if (!q) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    q->timeout_ms = t->timeout_ms > 0 ? t->timeout_ms : 5000;
    if (parse_url(q, t->url, err, errlen) != 0 || set_sentinels(q, t, err, errlen) != 0 ||
        open_conn(q, err, errlen) != 0) {
        queue_close(q);
        return NULL;
    }
    return q;
}

void queue_close(queue_t *q)
{
    if (!q)
        return;
    if (q->rc)
        redisFree(q->rc);
    memset(q->password, 0, sizeof(q->password));
    memset(q->sentinel_password, 0, sizeof(q->sentinel_password));
    free(q);
}

bool queue_ok(const queue_t *q)
{
    return q && q->rc && !q->rc->err && !q->unusable;
}

queue_t *queue_connect_retry(const queue_target_t *t, backoff_t *b, volatile const bool *stop,
                             char *err, size_t errlen)
{
    for (;;) {
        queue_t *q = queue_connect(t, err, errlen);
        if (q)
            return q;
        log_warn("redis unreachable, retrying in %d ms error=\"%s\"", backoff_next_ms(b), err);
        if (!backoff_wait(b, stop))
            return NULL;
    }
}

int queue_ensure(queue_t *q, int max_wait_ms, volatile const bool *stop)
{
    if (queue_ok(q))
        return 0;
    backoff_t b;
    backoff_init(&b, max_wait_ms);
    for (;;) {
        char err[256];
        if (open_conn(q, err, sizeof(err)) == 0) {
            log_info("redis connection established");
            return 0;
        }
        log_warn("redis unreachable, retrying in %d ms error=\"%s\"", backoff_next_ms(&b), err);
        if (!backoff_wait(&b, stop))
            return -1;
    }
}

bool queue_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n >= QUEUE_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == ':' || c == '-'))
            return false;
    }
    return true;
}

int queue_publish(queue_t *q, const char *const *queues, const queue_msg_t *msgs, size_t n)
{
    if (!queue_ok(q))
        return -1;
    size_t sent = 0;
    for (size_t i = 0; i < n; i++) {
        char stream[sizeof(QUEUE_STREAM_PREFIX) + QUEUE_NAME_MAX];
        queue_msg_fields_t f;
        if (!queue_name_valid(queues[i]) || queue_msg_encode(&msgs[i], &f) != 0) {
            log_warn("not publishing invalid message ti=%lld queue=%s", (long long)msgs[i].ti_id,
                     queues[i] ? queues[i] : "(null)");
            continue;
        }
        snprintf(stream, sizeof(stream), QUEUE_STREAM_PREFIX "%s", queues[i]);
        const char *argv[3 + QUEUE_MSG_NFIELDS * 2] = {"XADD", stream, "*"};
        size_t lens[3 + QUEUE_MSG_NFIELDS * 2] = {4, strlen(stream), 1};
        for (int k = 0; k < QUEUE_MSG_NFIELDS * 2; k++) {
            argv[3 + k] = f.argv[k];
            lens[3 + k] = f.argvlen[k];
        }
        if (redisAppendCommandArgv(q->rc, 3 + QUEUE_MSG_NFIELDS * 2, argv, lens) != REDIS_OK)
            return -1;
        sent++;
    }
    int rc = (int)sent;
    for (size_t i = 0; i < sent; i++) {
        redisReply *r = NULL;
        if (get_reply(q, &r) < 0) {
            log_warn("redis publish failed error=\"%s\"", q->rc->errstr);
            return -1;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            log_warn("redis XADD failed error=\"%s\"", r->str);
            rc--;
        }
        freeReplyObject(r);
    }
    return q->unusable ? -1 : rc;
}

static int ensure_group(queue_t *q, const char *queue)
{
    for (int i = 0; i < q->nensured; i++)
        if (!strcmp(q->ensured_groups[i], queue))
            return 0;
    char stream[sizeof(QUEUE_STREAM_PREFIX) + QUEUE_NAME_MAX];
    snprintf(stream, sizeof(stream), QUEUE_STREAM_PREFIX "%s", queue);
    /* "0": a group created after messages were added still delivers them. */
    const char *argv[] = {"XGROUP", "CREATE", stream, QUEUE_GROUP, "0", "MKSTREAM"};
    size_t lens[] = {6, 6, strlen(stream), strlen(QUEUE_GROUP), 1, 8};
    redisReply *r = command_argv(q, 6, argv, lens);
    if (!r)
        return -1;
    bool ok = r->type == REDIS_REPLY_STATUS ||
              (r->type == REDIS_REPLY_ERROR && r->str && !strncmp(r->str, "BUSYGROUP", 9));
    if (!ok)
        log_warn("XGROUP CREATE failed stream=%s error=\"%s\"", stream,
                 r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
    freeReplyObject(r);
    if (ok && q->nensured < (int)(sizeof(q->ensured_groups) / sizeof(q->ensured_groups[0])))
        snprintf(q->ensured_groups[q->nensured++], QUEUE_NAME_MAX, "%s", queue);
    return ok ? 0 : -1;
}

static void decode_entry(const redisReply *e, const char *queue, queue_delivery_t *d)
{
    memset(d, 0, sizeof(*d));
    snprintf(d->queue, sizeof(d->queue), "%s", queue);
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING)
        return;
    snprintf(d->entry_id, sizeof(d->entry_id), "%.*s", (int)e->element[0]->len, e->element[0]->str);
    const redisReply *fv = e->element[1];
    if (fv->type != REDIS_REPLY_ARRAY || fv->elements % 2 != 0 || fv->elements > 64)
        return;
    const char *keys[32], *vals[32];
    size_t klens[32], vlens[32];
    size_t n = fv->elements / 2;
    for (size_t i = 0; i < n; i++) {
        const redisReply *k = fv->element[2 * i], *v = fv->element[2 * i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            return;
        keys[i] = k->str;
        klens[i] = k->len;
        vals[i] = v->str;
        vlens[i] = v->len;
    }
    char err[128];
    if (queue_msg_decode(keys, klens, vals, vlens, n, &d->msg, err, sizeof(err)) == 0)
        d->valid = true;
    else
        log_warn("undecodable queue entry queue=%s id=%s error=\"%s\"", queue, d->entry_id, err);
}

int queue_read(queue_t *q, const char *consumer, const char *const *queues, size_t nq, int count,
               int block_ms, queue_delivery_t *out, size_t *nout)
{
    *nout = 0;
    if (!queue_ok(q) || nq == 0 || nq > 16 || count <= 0)
        return -1;
    for (size_t i = 0; i < nq; i++)
        if (ensure_group(q, queues[i]) != 0)
            return queue_ok(q) ? 0 : -1;

    /* Reads may block: allow block_ms on top of the normal timeout. */
    struct timeval tv = {(q->timeout_ms + block_ms) / 1000,
                         ((q->timeout_ms + block_ms) % 1000) * 1000};
    redisSetTimeout(q->rc, tv);

    char countbuf[16], blockbuf[16];
    char streams[16][sizeof(QUEUE_STREAM_PREFIX) + QUEUE_NAME_MAX];
    const char *argv[10 + 32];
    size_t lens[10 + 32];
    int argc = 0;
    snprintf(countbuf, sizeof(countbuf), "%d", count);
    snprintf(blockbuf, sizeof(blockbuf), "%d", block_ms);
#define ARG(s) (argv[argc] = (s), lens[argc] = strlen(s), argc++)
    ARG("XREADGROUP");
    ARG("GROUP");
    ARG(QUEUE_GROUP);
    ARG(consumer);
    ARG("COUNT");
    ARG(countbuf);
    ARG("BLOCK");
    ARG(blockbuf);
    ARG("STREAMS");
    for (size_t i = 0; i < nq; i++) {
        snprintf(streams[i], sizeof(streams[i]), QUEUE_STREAM_PREFIX "%s", queues[i]);
        ARG(streams[i]);
    }
    for (size_t i = 0; i < nq; i++)
        ARG(">");
#undef ARG
    redisReply *r = command_argv(q, argc, argv, lens);
    struct timeval tv0 = {q->timeout_ms / 1000, (q->timeout_ms % 1000) * 1000};
    if (q->rc && !q->rc->err)
        redisSetTimeout(q->rc, tv0);
    if (!r)
        return -1;
    int rc = 0;
    if (r->type == REDIS_REPLY_NIL) {
        goto out;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        /* NOGROUP after a FLUSHALL or a new Redis: create the groups again. */
        if (r->str && !strncmp(r->str, "NOGROUP", 7))
            q->nensured = 0;
        else if (q->unusable)
            rc = -1;
        else
            log_warn("XREADGROUP failed error=\"%s\"", r->str);
        goto out;
    }
    if (r->type != REDIS_REPLY_ARRAY)
        goto out;
    for (size_t s = 0; s < r->elements; s++) {
        const redisReply *sr = r->element[s];
        if (sr->type != REDIS_REPLY_ARRAY || sr->elements != 2 ||
            sr->element[0]->type != REDIS_REPLY_STRING || sr->element[1]->type != REDIS_REPLY_ARRAY)
            continue;
        const char *name = sr->element[0]->str + strlen(QUEUE_STREAM_PREFIX);
        if (sr->element[0]->len <= strlen(QUEUE_STREAM_PREFIX))
            continue;
        const redisReply *entries = sr->element[1];
        for (size_t e = 0; e < entries->elements && *nout < (size_t)count * nq; e++)
            decode_entry(entries->element[e], name, &out[(*nout)++]);
    }
out:
    freeReplyObject(r);
    return rc;
}

int queue_ack(queue_t *q, const queue_delivery_t *d)
{
    if (!queue_ok(q) || !d->entry_id[0])
        return -1;
    char stream[sizeof(QUEUE_STREAM_PREFIX) + QUEUE_NAME_MAX];
    snprintf(stream, sizeof(stream), QUEUE_STREAM_PREFIX "%s", d->queue);
    const char *a1[] = {"XACK", stream, QUEUE_GROUP, d->entry_id};
    size_t l1[] = {4, strlen(stream), strlen(QUEUE_GROUP), strlen(d->entry_id)};
    const char *a2[] = {"XDEL", stream, d->entry_id};
    size_t l2[] = {4, strlen(stream), strlen(d->entry_id)};
    if (redisAppendCommandArgv(q->rc, 4, a1, l1) != REDIS_OK ||
        redisAppendCommandArgv(q->rc, 3, a2, l2) != REDIS_OK)
        return -1;
    int rc = 0;
    for (int i = 0; i < 2; i++) {
        redisReply *r = NULL;
        if (get_reply(q, &r) < 0)
            return -1;
        if (r->type == REDIS_REPLY_ERROR)
            rc = -1;
        freeReplyObject(r);
    }
    return rc;
}

int queue_ack_many(queue_t *q, const queue_delivery_t *const *d, size_t n)
{
    if (!queue_ok(q))
        return -1;
    int rc = 0, sent = 0;
    const char **argv = calloc(n + 4, sizeof(*argv));
    size_t *lens = calloc(n + 4, sizeof(*lens));
    bool *done = calloc(n + 1, sizeof(*done));
    if (!argv || !lens || !done) {
        rc = -1;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (done[i] || !d[i]->entry_id[0])
            continue;
        /* Every pending delivery of this stream, in one XACK and one XDEL. */
        char stream[sizeof(QUEUE_STREAM_PREFIX) + QUEUE_NAME_MAX];
        snprintf(stream, sizeof(stream), QUEUE_STREAM_PREFIX "%s", d[i]->queue);
        size_t k = 3;
        for (size_t j = i; j < n; j++) {
            if (done[j] || !d[j]->entry_id[0] || strcmp(d[j]->queue, d[i]->queue))
                continue;
            done[j] = true;
            argv[k] = d[j]->entry_id;
            lens[k++] = strlen(d[j]->entry_id);
        }
        argv[0] = "XACK";
        lens[0] = 4;
        argv[1] = stream;
        lens[1] = strlen(stream);
        argv[2] = QUEUE_GROUP;
        lens[2] = strlen(QUEUE_GROUP);
        if (redisAppendCommandArgv(q->rc, (int)k, argv, lens) != REDIS_OK) {
            rc = -1;
            break;
        }
        sent++;
        /* XDEL stream id...: the same ids, one place shorter in front. */
        argv[1] = "XDEL";
        lens[1] = 4;
        argv[2] = stream;
        lens[2] = strlen(stream);
        if (redisAppendCommandArgv(q->rc, (int)k - 1, argv + 1, lens + 1) != REDIS_OK) {
            rc = -1;
            break;
        }
        sent++;
    }
    for (int i = 0; i < sent; i++) {
        redisReply *r = NULL;
        if (get_reply(q, &r) < 0) {
            rc = -1;
            break;
        }
        if (r->type == REDIS_REPLY_ERROR)
            rc = -1;
        freeReplyObject(r);
    }
out:
    free(argv);
    free(lens);
    free(done);
    return rc;
}

#define MARKER_KEY "updraft:marker"

int queue_check_marker(queue_t *q)
{
    const char *argv[] = {"SET", MARKER_KEY, "1", "NX"};
    size_t lens[] = {3, strlen(MARKER_KEY), 1, 2};
    redisReply *r = command_argv(q, 4, argv, lens);
    if (!r)
        return -1;
    /* OK: it was missing and is now set; nil: it was there. */
    int missing = r->type == REDIS_REPLY_STATUS ? 1 : r->type == REDIS_REPLY_NIL ? 0 : -1;
    freeReplyObject(r);
    return missing;
}

/* Reclaims and drops up to max stale entries of one stream; adds to *n. -1 on error. */
static int reclaim_stream(queue_t *q, const char *stream, size_t slen, const char *idle, size_t max,
                          size_t *n)
{
    char cursor[64] = "0-0", count[24];
    snprintf(count, sizeof(count), "%zu", max < 1000 ? max : 1000);
    for (int round = 0; round < 100 && *n < max; round++) {
        const char *argv[] = {"XAUTOCLAIM", stream,  QUEUE_GROUP, "updraft-reaper", idle,
                              cursor,       "COUNT", count,       "JUSTID"};
        size_t lens[] = {
            10, slen, strlen(QUEUE_GROUP), 14, strlen(idle), strlen(cursor), 5, strlen(count), 6};
        redisReply *r = command_argv(q, 9, argv, lens);
        if (!r)
            return -1;
        if (r->type == REDIS_REPLY_ERROR) { /* NOGROUP: nothing pending here */
            freeReplyObject(r);
            return 0;
        }
        if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
            r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(r);
            return 0;
        }
        snprintf(cursor, sizeof(cursor), "%.*s", (int)r->element[0]->len, r->element[0]->str);
        const redisReply *ids = r->element[1];
        if (ids->elements > 0) {
            size_t k = ids->elements;
            const char **a = calloc(k + 3, sizeof(*a));
            size_t *l = calloc(k + 3, sizeof(*l));
            if (!a || !l) {
                free(a);
                free(l);
                freeReplyObject(r);
                return -1;
            }
            size_t m = 0;
            for (size_t i = 0; i < k; i++)
                if (ids->element[i]->type == REDIS_REPLY_STRING) {
                    a[3 + m] = ids->element[i]->str;
                    l[3 + m] = ids->element[i]->len;
                    m++;
                }
            a[0] = "XACK", l[0] = 4;
            a[1] = stream, l[1] = slen;
            a[2] = QUEUE_GROUP, l[2] = strlen(QUEUE_GROUP);
            redisReply *x = m ? command_argv(q, (int)(3 + m), a, l) : NULL;
            if (x)
                freeReplyObject(x);
            redisReply *y = NULL;
            if (m) {
                const char **d = calloc(m + 2, sizeof(*d));
                size_t *dl = calloc(m + 2, sizeof(*dl));
                if (d && dl) {
                    d[0] = "XDEL", dl[0] = 4;
                    d[1] = stream, dl[1] = slen;
                    for (size_t i = 0; i < m; i++) {
                        d[2 + i] = a[3 + i];
                        dl[2 + i] = l[3 + i];
                    }
                    y = command_argv(q, (int)(2 + m), d, dl);
                }
                free(d);
                free(dl);
            }
            if (y)
                freeReplyObject(y);
            *n += m;
            free(a);
            free(l);
            if (m && (!x || !y)) {
                freeReplyObject(r);
                return queue_ok(q) ? 0 : -1;
            }
        }
        bool done = strcmp(cursor, "0-0") == 0;
        freeReplyObject(r);
        if (done)
            break;
    }
    return 0;
}

int queue_reclaim_stale(queue_t *q, long min_idle_ms, size_t max, size_t *n)
{
    char cursor[64] = "0", idle[24];
    *n = 0;
    snprintf(idle, sizeof(idle), "%ld", min_idle_ms);
    for (int round = 0; round < 1000; round++) {
        const char *argv[] = {"SCAN",  cursor, "MATCH", QUEUE_STREAM_PREFIX "*",
                              "COUNT", "200",  "TYPE",  "stream"};
        size_t lens[] = {4, strlen(cursor), 5, strlen(QUEUE_STREAM_PREFIX) + 1, 5, 3, 4, 6};
        redisReply *r = command_argv(q, 8, argv, lens);
        if (!r)
            return -1;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(r);
            return -1;
        }
        snprintf(cursor, sizeof(cursor), "%.*s", (int)r->element[0]->len, r->element[0]->str);
        const redisReply *keys = r->element[1];
        for (size_t i = 0; i < keys->elements && *n < max; i++) {
            if (keys->element[i]->type != REDIS_REPLY_STRING ||
                keys->element[i]->len > QUEUE_NAME_MAX + sizeof(QUEUE_STREAM_PREFIX))
                continue;
            if (reclaim_stream(q, keys->element[i]->str, keys->element[i]->len, idle, max, n) < 0) {
                freeReplyObject(r);
                return -1;
            }
        }
        bool done = strcmp(cursor, "0") == 0;
        freeReplyObject(r);
        if (done || *n >= max)
            break;
    }
    return 0;
}

/* The integer value of key in an XINFO reply's flat key/value array; -1 when absent. */
static long long info_int(const redisReply *kv, const char *key)
{
    for (size_t i = 0; i + 1 < kv->elements; i += 2) {
        const redisReply *k = kv->element[i], *v = kv->element[i + 1];
        if (k->type != REDIS_REPLY_STRING && k->type != REDIS_REPLY_STATUS)
            continue;
        if (strlen(key) != k->len || memcmp(k->str, key, k->len) != 0)
            continue;
        return v->type == REDIS_REPLY_INTEGER ? v->integer : -1;
    }
    return -1;
}

/*
 * Fills st from an XINFO GROUPS reply: the updraft group's lag and pending.
 * Without the group (no worker has read the queue yet) nothing was
 * delivered: every entry is lag, none pending.
 */
static void group_stats(const redisReply *r, queue_stats_t *st)
{
    st->lag = st->length;
    st->pending = 0;
    if (r->type != REDIS_REPLY_ARRAY)
        return;
    for (size_t g = 0; g < r->elements; g++) {
        const redisReply *kv = r->element[g];
        if (kv->type != REDIS_REPLY_ARRAY)
            continue;
        bool ours = false;
        for (size_t i = 0; i + 1 < kv->elements; i += 2) {
            const redisReply *k = kv->element[i], *v = kv->element[i + 1];
            if (k->type == REDIS_REPLY_STRING && k->len == 4 && !memcmp(k->str, "name", 4) &&
                v->type == REDIS_REPLY_STRING && v->len == strlen(QUEUE_GROUP) &&
                !memcmp(v->str, QUEUE_GROUP, v->len))
                ours = true;
        }
        if (!ours)
            continue;
        st->pending = info_int(kv, "pending");
        st->lag = info_int(kv, "lag"); /* nil (-1) when Redis cannot tell, absent before 7.0 */
        return;
    }
}

int queue_stats(queue_t *q, const char *const *queues, size_t n, queue_stats_t *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (queue_stats_t){-1, -1, -1};
    if (!queue_ok(q))
        return -1;
    char stream[sizeof(QUEUE_STREAM_PREFIX) + QUEUE_NAME_MAX];
    for (size_t i = 0; i < n; i++) {
        snprintf(stream, sizeof(stream), QUEUE_STREAM_PREFIX "%s", queues[i]);
        const char *a1[] = {"XLEN", stream};
        size_t l1[] = {4, strlen(stream)};
        const char *a2[] = {"XINFO", "GROUPS", stream};
        size_t l2[] = {5, 6, strlen(stream)};
        if (redisAppendCommandArgv(q->rc, 2, a1, l1) != REDIS_OK ||
            redisAppendCommandArgv(q->rc, 3, a2, l2) != REDIS_OK)
            return -1; /* the context is broken: queue_ensure() replaces it */
    }
    /* Every reply is read, even after a bad one, so the connection stays in step. */
    for (size_t i = 0; i < 2 * n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(q->rc, (void **)&r) != REDIS_OK || !r)
            return -1;
        queue_stats_t *st = &out[i / 2];
        if (i % 2 == 0)
            st->length = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
        else if (r->type == REDIS_REPLY_ERROR) /* no such key: an empty queue */
            st->lag = st->pending = st->length == 0 ? 0 : -1;
        else
            group_stats(r, st);
        freeReplyObject(r);
    }
    return 0;
}
