/*
 * enqueue.c - see enqueue.h. The statements are store/ti_sched.c's (the
 * critical section's locks, the re-send) and store/pools.c's (the take).
 */
#include "scheduler/enqueue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/metrics.h"
#include "core/timeutil.h"
#include "store/pools.h"
#include "store/ti_sched.h"

/*
 * Publishes the (id, try_number, queue) rows of r. Returns the number of
 * rows whose message went out; *failed when the pipeline did not.
 */
static size_t publish_rows(queue_t *q, const PGresult *r, bool *failed)
{
    size_t n = (size_t)PQntuples(r), m = 0;
    *failed = false;
    if (n == 0)
        return 0;
    if (!q || !queue_ok(q)) {
        *failed = true;
        return 0;
    }
    const char **queues = calloc(n, sizeof(*queues));
    queue_msg_t *msgs = calloc(n, sizeof(*msgs));
    if (!queues || !msgs) {
        *failed = true;
        goto out;
    }
    ts_us_t now = ts_now();
    for (size_t i = 0; i < n; i++) {
        const char *queue = PQgetvalue(r, (int)i, 2);
        if (!queue_name_valid(queue)) {
            log_warn("invalid queue name, task left queued ti_id=%s queue=\"%.64s\"",
                     PQgetvalue(r, (int)i, 0), queue);
            continue;
        }
        queues[m] = queue;
        msgs[m].ti_id = db_get_i64(r, (int)i, 0);
        msgs[m].try_number = db_get_int(r, (int)i, 1);
        msgs[m].enqueued_us = now;
        log_debug("enqueue ti_id=%lld try_number=%d queue=%s", (long long)msgs[m].ti_id,
                  msgs[m].try_number, queue);
        m++;
    }
    if (m > 0 && queue_publish(q, queues, msgs, m) < 0) {
        log_warn("publishing to redis failed; the resend pass will retry count=%zu", m);
        *failed = true;
        m = 0;
    }
out:
    free(queues);
    free(msgs);
    return m;
}

int enqueue_scheduled(db_t *db, queue_t *q, int max, size_t *n_queued, bool *publish_failed)
{
    PGresult *r = NULL;
    char *dags = NULL;
    bool taken = false;
    *n_queued = 0;
    *publish_failed = false;

    if (db_begin(db) < 0)
        return -1;
    if (ti_sched_try_enqueue_lock(db, &taken) < 0)
        goto fail;
    if (!taken) {
        log_debug("another scheduler holds the enqueue lock");
        db_rollback(db);
        return 0;
    }
    /* The DAGs' own locks, shared with the workers' mini-scheduler, taken in
     * a statement of their own so that the take below counts every active
     * task instance a worker committed before it released its lock. DAGs
     * held by a worker right now wait for the next pass. */
    if (ti_sched_lock_scheduled_dags(db, &dags) < 0)
        goto fail;
    size_t starving = 0;
    r = pools_queue_scheduled(db, dags, NULL, max, &starving);
    free(dags);
    if (!r)
        goto fail;
    if (db_commit(db) < 0)
        goto fail;
    *n_queued = (size_t)PQntuples(r);
    metric_gauge(M_SCHEDULER_TASKS_EXECUTABLE, (double)*n_queued, NULL, NULL, NULL);
    metric_gauge(M_SCHEDULER_TASKS_STARVING, (double)starving, NULL, NULL, NULL);
    publish_rows(q, r, publish_failed);
    PQclear(r);
    return 0;
fail:
    PQclear(r);
    db_rollback(db);
    return -1;
}

int enqueue_resend(db_t *db, queue_t *q, int older_than_sec, int max, size_t *n_sent,
                   bool *publish_failed)
{
    PGresult *r = NULL;
    *n_sent = 0;
    *publish_failed = false;
    if (ti_sched_resend(db, older_than_sec, max, &r) < 0)
        return -1;
    if (PQntuples(r) > 0)
        log_info("re-sending queued task instances count=%d", PQntuples(r));
    *n_sent = publish_rows(q, r, publish_failed);
    PQclear(r);
    return 0;
}
