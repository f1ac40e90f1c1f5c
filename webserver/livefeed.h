/*
 * livefeed.h - what changed, for pages that stay current without polling.
 *
 * A thread LISTENs on the channels every state change already notifies
 * (store/channels.h: the schedulers' channel, whose payload is the id of
 * the run whose tasks changed, and the API cache's). Each notification
 * moves a sequence number and, when it names a run, goes into a ring of
 * the last LIVEFEED_RING run ids. A request waits for the sequence to
 * pass the one it has seen (GET /ui/changes), then learns which runs
 * changed, or that it cannot know ("all": a notification without a run,
 * the ring overflowed, the listener reconnected).
 */
#ifndef UPDRAFT_WEBSERVER_LIVEFEED_H
#define UPDRAFT_WEBSERVER_LIVEFEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LIVEFEED_RING 4096

typedef struct livefeed livefeed_t;

/* Starts the listener on conninfo (copied). NULL when it cannot start. */
livefeed_t *livefeed_start(const char *conninfo);
/* Wakes every waiter (they return at once) and stops the listener. */
void livefeed_shutdown(livefeed_t *f);
/* After livefeed_shutdown and once no request can wait any more. */
void livefeed_free(livefeed_t *f);

/* This feed's id: sequence numbers of another feed mean nothing here. */
uint32_t livefeed_id(const livefeed_t *f);
/* The current sequence number (starts at 1). */
uint64_t livefeed_seq(livefeed_t *f);

/*
 * Waits up to timeout_ms for the sequence to pass after; returns the
 * sequence then (after itself on timeout or shutdown). The ids of the runs
 * that changed since after go into runs[0..max) (*nruns of them); *all is
 * true when some change named no run or the ids are not all known.
 */
uint64_t livefeed_wait(livefeed_t *f, uint64_t after, int timeout_ms, int64_t *runs, size_t max,
                       size_t *nruns, bool *all);

#endif
