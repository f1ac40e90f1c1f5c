/*
 * consumer.h - the thread that takes work from Redis.
 *
 * It reads "run this try" messages (XREADGROUP, for at most as many entries
 * as there are free slots, blocking about a second so that it sees the stop
 * flag), claims them in Postgres with the fencing UPDATE of
 * proto/PROTOCOL.md (all entries of one read in one statement), acknowledges
 * and drops what is invalid or stale, and hands the claimed tries to the
 * supervisor. It owns one db_t and one queue_t.
 */
#ifndef UPDRAFT_WORKER_CONSUMER_H
#define UPDRAFT_WORKER_CONSUMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/db.h"
#include "core/queue.h"
#include "worker/handoff.h"

#define CONSUMER_READ_MAX 256 /* entries per read, whatever the free slots */
#define CONSUMER_BLOCK_MS 1000

typedef struct consumer_opts {
    db_t *db;             /* ownership passes to the consumer */
    queue_t *queue;       /* ownership passes */
    handoff_t *handoff;   /* borrowed */
    const char *hostname; /* copied */
    int pid;
    int64_t job_id;
    const char *const *queues; /* queue names, copied */
    size_t nqueues;
    volatile bool *stop; /* set by main on the first signal */
} consumer_opts_t;

typedef struct consumer consumer_t;

/* NULL with err filled; on failure the db/queue are not taken. */
consumer_t *consumer_new(const consumer_opts_t *o, char *err, size_t errlen);
int consumer_start(consumer_t *c);
/* True once the thread returned (after *stop was set). */
bool consumer_done(consumer_t *c);
void consumer_join(consumer_t *c);
void consumer_free(consumer_t *c);

/* The consumer name in the group, "<hostname>:<pid>:<job id>" (borrowed). */
const char *consumer_name(const consumer_t *c);

#endif
