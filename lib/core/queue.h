/*
 * queue.h - the Redis stream transport between scheduler and workers.
 *
 * One stream per queue ("updraft:q:<queue>"), one consumer group
 * ("updraft-workers") shared by every worker. Redis only carries wake-ups:
 * Postgres holds the truth, so every call here may fail without losing
 * work (the scheduler re-sends queued rows; the claim fences duplicates).
 * One queue_t per thread.
 */
#ifndef UPDRAFT_QUEUE_H
#define UPDRAFT_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/backoff.h"
#include "proto/queue_msg.h"

#define QUEUE_GROUP "updraft-workers"
#define QUEUE_STREAM_PREFIX "updraft:q:"
#define QUEUE_NAME_MAX 128

typedef struct queue queue_t;

typedef struct queue_delivery {
    char queue[QUEUE_NAME_MAX]; /* queue name, without the stream prefix */
    char entry_id[48];          /* stream entry id, for queue_ack */
    bool valid;                 /* false: undecodable entry (ack and drop it) */
    queue_msg_t msg;
} queue_delivery_t;

/*
 * Where the queues live. url: redis://[:password@]host[:port][/db] or
 * unix:///path/to/redis.sock. With sentinels set (host[:port], comma-
 * separated, core/sentinel.h) the master of master_name is asked of the
 * sentinels instead of url's host and port, on every (re)connect; url's
 * password and db still apply. sentinel_password (may be NULL or empty)
 * is sent to the sentinels. Fill it from the config with
 * config_queue_target() (core/config.h). Borrowed strings.
 */
typedef struct queue_target {
    const char *url;
    const char *sentinels;
    const char *master_name;
    const char *sentinel_password;
    int timeout_ms; /* reads and writes; blocking reads add their block time */
} queue_target_t;

/*
 * One connection attempt (with sentinels: one discovery, then the node it
 * names must say it is the master); NULL with err filled on failure.
 */
queue_t *queue_connect(const queue_target_t *t, char *err, size_t errlen);
/* The same, retried as db_connect_retry() retries (core/db.h). */
queue_t *queue_connect_retry(const queue_target_t *t, backoff_t *b, volatile const bool *stop,
                             char *err, size_t errlen);
void queue_close(queue_t *q);
/*
 * Reconnects if needed, with capped jittered backoff up to max_wait_ms
 * (<0: until *stop); with sentinels each attempt discovers the master
 * again. A connection is not ok after a connection error, nor after the
 * node answered READONLY, MASTERDOWN, LOADING or UNBLOCKED (a failover
 * demoted it or it is not ready to serve): the next queue_ensure() moves to the master.
 */
int queue_ensure(queue_t *q, int max_wait_ms, volatile const bool *stop);
bool queue_ok(const queue_t *q);

/* Validates a queue name ([A-Za-z0-9_.:-], 1..QUEUE_NAME_MAX-1 chars). */
bool queue_name_valid(const char *name);

/*
 * XADDs msgs[i] to the stream of queues[i], all in one pipeline (one round
 * trip). Returns the number sent, or -1 on a connection error.
 */
int queue_publish(queue_t *q, const char *const *queues, const queue_msg_t *msgs, size_t n);

/*
 * XREADGROUP on the given queues (creating the group when missing), up to
 * count entries per queue (Redis applies COUNT to each stream), blocking up
 * to block_ms. out must hold count * nq entries; fills out[0..*nout).
 * Returns 0 (also when nothing arrived) or -1 on a connection error.
 */
int queue_read(queue_t *q, const char *consumer, const char *const *queues, size_t nq, int count,
               int block_ms, queue_delivery_t *out, size_t *nout);

/* XACK + XDEL of one delivery. 0 or -1. */
int queue_ack(queue_t *q, const queue_delivery_t *d);

/*
 * XACK + XDEL of n deliveries in one pipelined round trip (one XACK and one
 * XDEL per stream, each naming all of that stream's entries); deliveries
 * without an entry id are skipped. 0, or -1 (connection or reply error:
 * entries may stay pending, which a re-delivery's claim fences).
 */
int queue_ack_many(queue_t *q, const queue_delivery_t *const *d, size_t n);

/*
 * Drops the pending entries of every queue's stream that were delivered
 * more than min_idle_ms ago and never acknowledged (their consumer died
 * between reading and acknowledging): XAUTOCLAIM ... JUSTID to a
 * "reaper" consumer, then XACK + XDEL, at most max entries. Safe because
 * Postgres holds the work, not the stream: a try still queued is re-sent
 * by the scheduler's resend pass, a claimed one is fenced. *n counts the
 * dropped entries. 0, or -1 on a connection error.
 */
int queue_reclaim_stale(queue_t *q, long min_idle_ms, size_t max, size_t *n);

/*
 * Whether this Redis lost its data since the last call (FLUSHALL, a
 * restart without persistence, a new server): a marker key is checked and
 * set. 1 when the marker was missing (the first call on a fresh Redis
 * too), 0 when present, -1 on a connection error.
 */
int queue_check_marker(queue_t *q);

/* What a queue's stream holds; -1 where Redis did not say. */
typedef struct queue_stats {
    long long length;  /* XLEN: entries in the stream (not yet acknowledged and deleted) */
    long long lag;     /* the group's lag: entries not yet delivered (Redis 7+) */
    long long pending; /* the group's pending entries: delivered, not acknowledged */
} queue_stats_t;

/*
 * XLEN and XINFO GROUPS of the n queues' streams, in one pipelined round
 * trip; out[i] for queues[i]. A stream that does not exist reads as 0;
 * without the workers' group every entry is lag. Returns 0, or -1 on a
 * connection error (out then holds -1s).
 */
int queue_stats(queue_t *q, const char *const *queues, size_t n, queue_stats_t *out);

#endif
