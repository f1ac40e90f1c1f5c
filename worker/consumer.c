/*
 * consumer.c - queue consumer and claim (see consumer.h).
 *
 * Deliveries of one read are claimed together: one UPDATE joined with
 * unnest() of their (id, try) pairs. A pair that returns no row is stale
 * (duplicate message, try already taken, task cleared) and is acknowledged
 * without running anything; a pair delivered twice in the same read runs
 * once and the second entry is dropped the same way.
 *
 * When Postgres is unreachable the claim is retried after reconnecting;
 * the read entries stay pending in the group meanwhile. A claim whose
 * reply was lost after it committed leaves a 'running' row no worker
 * heartbeats, which the scheduler reaps as a zombie.
 */
#include "worker/consumer.h"

#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/timeutil.h"
#include "worker/wmetrics.h"
#include "worker/wtry.h"

#define CLAIM_ATTEMPTS 5 /* for errors other than a lost connection */
#define SPEC_CACHE 8     /* DAG versions whose task specs are kept */
#define IDLE_TRIM_US (5 * TS_US_PER_SEC)
#define THREAD_STACK (512 * 1024)

struct consumer {
    consumer_opts_t o;
    char *hostname;
    char **queues;
    char name[512];
    pthread_t thread;
    bool started;
    atomic_bool done;
    queue_delivery_t d[CONSUMER_READ_MAX];
    bool taken[CONSUMER_READ_MAX];
    int64_t ids[CONSUMER_READ_MAX]; /* claim parameters */
    int tries[CONSUMER_READ_MAX];
    dagver_cache_t *specs; /* DAG versions, for the claim's task specs */
    int64_t last_work_us;  /* monotonic: the last read that returned entries */
};

consumer_t *consumer_new(const consumer_opts_t *o, char *err, size_t errlen)
{
    consumer_t *c = calloc(1, sizeof(*c));
    if (!c)
        goto oom;
    c->o = *o;
    c->hostname = strdup(o->hostname);
    c->queues = calloc(o->nqueues + 1, sizeof(*c->queues));
    if (!c->hostname || !c->queues)
        goto oom;
    for (size_t i = 0; i < o->nqueues; i++) {
        if (!(c->queues[i] = strdup(o->queues[i])))
            goto oom;
    }
    if (!(c->specs = dagver_cache_new(SPEC_CACHE, DAGVER_FULL)))
        goto oom;
    c->o.hostname = c->hostname;
    c->o.queues = (const char *const *)c->queues;
    snprintf(c->name, sizeof(c->name), "%s:%d:%" PRId64, o->hostname, o->pid, o->job_id);
    atomic_init(&c->done, false);
    return c;
oom:
    snprintf(err, errlen, "out of memory");
    if (c) {
        c->o.db = NULL;
        c->o.queue = NULL;
        consumer_free(c);
    }
    return NULL;
}

void consumer_free(consumer_t *c)
{
    if (!c)
        return;
    if (c->queues) {
        for (size_t i = 0; i < c->o.nqueues; i++)
            free(c->queues[i]);
        free(c->queues);
    }
    free(c->hostname);
    dagver_cache_free(c->specs);
    db_close(c->o.db);
    queue_close(c->o.queue);
    free(c);
}

const char *consumer_name(const consumer_t *c)
{
    return c->name;
}

static void ack(consumer_t *c, const queue_delivery_t *d)
{
    if (queue_ack(c->o.queue, d) < 0)
        log_warn("acknowledge failed queue=%s entry=%s", d->queue, d->entry_id);
}

/* Runs the claim, reconnecting as needed. NULL when stopping or giving up. */
static PGresult *claim(consumer_t *c, size_t n)
{
    PGresult *r = NULL;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (c->d[i].valid) {
            c->ids[m] = c->d[i].msg.ti_id;
            c->tries[m++] = (int)c->d[i].msg.try_number;
        }
    }
    int attempts = 0;
    while (!*c->o.stop || attempts == 0) {
        if (!db_ok(c->o.db) && db_ensure(c->o.db, -1, c->o.stop) < 0)
            break;
        r = wtry_claim(c->o.db, c->specs, false, c->hostname, c->o.pid, c->o.job_id, c->ids,
                       c->tries, m);
        if (r)
            break;
        if (db_ok(c->o.db) && ++attempts >= CLAIM_ATTEMPTS) {
            log_error("claim failed, leaving entries pending error=\"%s\"", db_error(c->o.db));
            break;
        }
        if (db_ok(c->o.db))
            usleep(200000u * (unsigned)attempts);
    }
    return r;
}

/* read_us: when the read that returned the n entries did (monotonic). */
static void handle(consumer_t *c, size_t n, int64_t read_us)
{
    size_t nvalid = 0;
    for (size_t i = 0; i < n; i++) {
        c->taken[i] = false;
        if (!c->d[i].valid) {
            log_warn("invalid message dropped queue=%s entry=%s", c->d[i].queue, c->d[i].entry_id);
            ack(c, &c->d[i]);
            continue;
        }
        nvalid++;
    }
    if (nvalid == 0)
        return;

    PGresult *r = claim(c, n);
    if (!r)
        return;                        /* entries stay pending; the scheduler reclaims them */
    int64_t claimed_us = ts_mono_us(); /* one statement: committed when it returned */
    int rows = PQntuples(r);
    for (int k = 0; k < rows; k++) {
        int64_t id = db_get_i64(r, k, 0);
        int tn = db_get_int(r, k, 1);
        size_t i;
        for (i = 0; i < n; i++) {
            if (c->d[i].valid && !c->taken[i] && c->d[i].msg.ti_id == id &&
                c->d[i].msg.try_number == tn)
                break;
        }
        if (i == n)
            continue; /* cannot happen: every row comes from one of the pairs */
        c->taken[i] = true;
        wtry_t *t = wtry_from_row(r, k, &c->d[i], c->specs);
        if (!t) {
            log_error("out of memory, claimed try not run ti=%" PRId64 " try_number=%d", id, tn);
            continue;
        }
        log_debug("claimed " WTRY_LOG_FMT " queue=%s", WTRY_LOG_ARGS(t), c->d[i].queue);
        wmetrics_claimed(t);
        wmetrics_claim_latency(c->d[i].queue, read_us, claimed_us);
        handoff_push(c->o.handoff, t);
    }
    wtry_specs_fill(c->specs, c->o.db, r); /* after the hand-off: off the tries' path */
    PQclear(r);
    for (size_t i = 0; i < n; i++) {
        if (c->d[i].valid && !c->taken[i]) {
            log_info("stale message dropped ti=%" PRId64 " try_number=%" PRId32 " queue=%s",
                     c->d[i].msg.ti_id, c->d[i].msg.try_number, c->d[i].queue);
            ack(c, &c->d[i]);
        }
    }
}

static void *consumer_main(void *arg)
{
    consumer_t *c = arg;
    while (!*c->o.stop) {
        int free_slots = handoff_wait_slots(c->o.handoff, CONSUMER_BLOCK_MS);
        if (*c->o.stop)
            break;
        if (free_slots <= 0)
            continue;
        /* XREADGROUP's COUNT applies to each stream: ask each queue for its
         * share so that a read returns about as many entries as slots. */
        int per_queue = free_slots / (int)c->o.nqueues;
        if (per_queue < 1)
            per_queue = 1;
        if (per_queue * (int)c->o.nqueues > CONSUMER_READ_MAX)
            per_queue = CONSUMER_READ_MAX / (int)c->o.nqueues;
        if (!queue_ok(c->o.queue) && queue_ensure(c->o.queue, -1, c->o.stop) < 0)
            continue;
        size_t n = 0;
        if (queue_read(c->o.queue, c->name, (const char *const *)c->queues, c->o.nqueues, per_queue,
                       CONSUMER_BLOCK_MS, c->d, &n) < 0) {
            log_warn("queue read failed, reconnecting");
            continue;
        }
        if (n > CONSUMER_READ_MAX)
            n = CONSUMER_READ_MAX;
        int64_t now = ts_mono_us();
        if (n > 0) {
            c->last_work_us = now;
            handle(c, n, now);
        } else if (dagver_cache_count(c->specs) > 0 && now - c->last_work_us >= IDLE_TRIM_US) {
            dagver_cache_clear(c->specs); /* idle: give the memory back */
            malloc_trim(0);
        }
    }
    atomic_store(&c->done, true);
    return NULL;
}

int consumer_start(consumer_t *c)
{
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0)
        return -1;
    pthread_attr_setstacksize(&attr, THREAD_STACK);
    int rc = pthread_create(&c->thread, &attr, consumer_main, c);
    pthread_attr_destroy(&attr);
    if (rc != 0)
        return -1;
    c->started = true;
    return 0;
}

bool consumer_done(consumer_t *c)
{
    return atomic_load(&c->done);
}

void consumer_join(consumer_t *c)
{
    if (c && c->started) {
        pthread_join(c->thread, NULL);
        c->started = false;
    }
}
