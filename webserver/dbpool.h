/*
 * dbpool.h - the webserver's Postgres connections.
 *
 * One db_t serves one request at a time. Connections are made lazily, on
 * the first request that finds the free list empty, and go back on the list
 * after the request; at most `max` idle connections are kept (one per
 * civetweb worker thread is all that can be busy at once). A request that
 * cannot get a working connection within a short wait is answered 503.
 */
#ifndef UPDRAFT_WEBSERVER_DBPOOL_H
#define UPDRAFT_WEBSERVER_DBPOOL_H

#include <stddef.h>

#include "core/db.h"

typedef struct dbpool dbpool_t;

/* target is copied. NULL on out-of-memory. */
dbpool_t *dbpool_new(const db_target_t *target, size_t max);
/* Closes every idle connection. All connections must have been released. */
void dbpool_free(dbpool_t *p);

/*
 * A connected db_t (reused or new), waiting at most max_wait_ms for a
 * broken connection to come back. NULL with err filled when the database
 * cannot be reached.
 */
db_t *dbpool_acquire(dbpool_t *p, int max_wait_ms, char *err, size_t errlen);
/*
 * Gives db back. An open transaction is rolled back; a broken connection
 * is closed rather than kept. db NULL is a no-op.
 */
void dbpool_release(dbpool_t *p, db_t *db);

#endif
