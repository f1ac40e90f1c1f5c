/*
 * dbpool.c - a mutex-protected free list of db_t (see dbpool.h).
 *
 * The mutex guards only the list; connecting, reconnecting and closing
 * happen outside it, so one slow connect never stalls the other threads.
 */
#include "webserver/dbpool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

struct dbpool {
    pthread_mutex_t mu;
    db_target_t target;
    db_t **idle;
    size_t n_idle, max;
};

dbpool_t *dbpool_new(const db_target_t *target, size_t max)
{
    dbpool_t *p = calloc(1, sizeof(*p));

    if (!p)
        return NULL;
    if (max == 0)
        max = 1;
    int copied = db_target_copy(&p->target, target);
    p->idle = calloc(max, sizeof(*p->idle));
    p->max = max;
    if (copied < 0 || !p->idle || pthread_mutex_init(&p->mu, NULL) != 0) {
        db_target_clear(&p->target);
        free(p->idle);
        free(p);
        return NULL;
    }
    return p;
}

void dbpool_free(dbpool_t *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_idle; i++)
        db_close(p->idle[i]);
    pthread_mutex_destroy(&p->mu);
    free(p->idle);
    db_target_clear(&p->target);
    free(p);
}

db_t *dbpool_acquire(dbpool_t *p, int max_wait_ms, char *err, size_t errlen)
{
    db_t *db = NULL;
    bool stop = false;

    pthread_mutex_lock(&p->mu);
    if (p->n_idle > 0)
        db = p->idle[--p->n_idle];
    pthread_mutex_unlock(&p->mu);

    if (!db)
        return db_open(&p->target, err, errlen); /* NULL: err says why */
    if (db_ok(db))
        return db;
    if (db_ensure(db, max_wait_ms, &stop) == 0)
        return db;
    snprintf(err, errlen, "database unavailable: %s", db_error(db));
    db_close(db);
    return NULL;
}

void dbpool_release(dbpool_t *p, db_t *db)
{
    bool keep;

    if (!db)
        return;
    if (db_ok(db) && PQtransactionStatus(db_pg(db)) != PQTRANS_IDLE)
        db_rollback(db);
    keep = db_ok(db) && PQtransactionStatus(db_pg(db)) == PQTRANS_IDLE;
    if (keep) {
        pthread_mutex_lock(&p->mu);
        if (p->n_idle < p->max)
            p->idle[p->n_idle++] = db;
        else
            keep = false;
        pthread_mutex_unlock(&p->mu);
    }
    if (!keep)
        db_close(db);
}
