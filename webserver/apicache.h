/*
 * apicache.h - the webserver's response cache for read-mostly endpoints
 * (the DAG list and detail, import errors).
 *
 * Consistency. Every entry carries the generation it was computed under;
 * it is served only while the cache's generation is unchanged. The
 * generation moves:
 *   - in-process, when this webserver writes (PATCH a DAG, POST a run),
 *     after the commit and before the answer, so a client reads its own
 *     writes at once;
 *   - from Postgres: statement-level triggers on the tables those answers
 *     read (migration 0004) NOTIFY channel updraft_api; a listener thread
 *     here bumps the generation per notification, so another process's
 *     write is visible within the notification delay (milliseconds);
 *   - when the listener connects or reconnects (anything committed while
 *     it was away is not known).
 * While the listener is disconnected the cache is bypassed entirely.
 *
 * A request reads the generation before its queries run and stores its
 * answer under that generation: a write that commits after the query's
 * snapshot bumps the generation after the read, so the stale answer is
 * never served.
 *
 * Memory: LRU over a byte budget (keys + bodies + overhead); bodies over
 * the per-entry cap are not stored. Threads: a mutex guards the table; a
 * hit holds a reference so the body can be sent outside the lock.
 */
#ifndef UPDRAFT_WEBSERVER_APICACHE_H
#define UPDRAFT_WEBSERVER_APICACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct apicache apicache_t;
typedef struct apicache_entry apicache_entry_t;

/* max_bytes 0 disables caching (every call is a miss). NULL on OOM. */
apicache_t *apicache_new(size_t max_bytes, size_t max_entry_bytes);
/* Stops the listener (if started) and frees every entry. */
void apicache_free(apicache_t *c);

/*
 * Starts the LISTEN thread on conninfo (copied). Until it has connected the
 * cache is bypassed. 0, or -1 if the thread could not start.
 */
int apicache_start_listener(apicache_t *c, const char *conninfo);

/*
 * The current generation in *gen; false when the cache must be bypassed
 * (disabled, or the listener is not connected).
 */
bool apicache_begin(apicache_t *c, uint64_t *gen);
/* Invalidates every entry (a write by this process committed). */
void apicache_bump(apicache_t *c);

/*
 * A valid entry for key[0..klen) under generation gen, referenced (release
 * with apicache_release), or NULL.
 */
apicache_entry_t *apicache_get(apicache_t *c, const void *key, size_t klen, uint64_t gen);
const char *apicache_entry_body(const apicache_entry_t *e, size_t *len);
void apicache_release(apicache_t *c, apicache_entry_t *e);

/* Stores a copy of body under key for generation gen (no-op if too big,
 * stale or out of memory). */
void apicache_put(apicache_t *c, const void *key, size_t klen, uint64_t gen, const char *body,
                  size_t len);

/* The bytes an entry of klen key and blen body bytes counts against max_bytes. */
size_t apicache_entry_cost(size_t klen, size_t blen);

/*
 * Marks the listener connected or not, as the LISTEN thread does. For
 * tests, which run the cache without a database.
 */
void apicache_set_listening(apicache_t *c, bool up);

/* Counters for logs and tests. */
void apicache_stats(apicache_t *c, uint64_t *hits, uint64_t *misses, size_t *bytes);

#endif
