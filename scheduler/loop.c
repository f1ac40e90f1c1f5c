/*
 * loop.c - see loop.h.
 *
 * One iteration ("pass"):
 *   1. heartbeat the job row every heartbeat_sec;
 *   2. create the due scheduled runs (runs.c), then create or clear the
 *      next runs of the active backfills (sched/backfill.h: one
 *      statement when there is none; a backfill's step holds its row
 *      lock, so several schedulers share the work);
 *   3. fail the runs past their dagrun_timeout (planrun_timeout_due);
 *      every zombie_detection_interval_sec, end zombie and stuck queued
 *      tries (reaper.c) and plan their runs;
 *      plan the runs named by NOTIFY payloads, those with a retry due and
 *      the queued runs that may start (max_active_runs);
 *      every heartbeat_sec (and after a reconnect, when notifications may
 *      have been lost) all live runs instead (planrun.c);
 *   4. enqueue 'scheduled' task instances, then re-send stale 'queued'
 *      ones (enqueue.c).
 * Each pass is timed (scheduler.scheduler_loop_duration); every
 * heartbeat_sec, after a pass, the gauges of what is live are recorded
 * (snapshot.c).
 * Then it sleeps in poll() until a notification, a wake-up from the DAG
 * processor, or the next due time (next run creation, next retry, next
 * resend), bounded by the next full pass.
 *
 * The statements are in lib/store (ti_sched.c, dagrun.c, jobs.c) and
 * lib/sched.
 *
 * A failed statement rolls back its unit of work; the pass is abandoned,
 * and the next one starts with db_ensure() (and a backoff wait) so that a
 * Postgres outage costs only the time it lasts. Redis failures leave
 * 'queued' rows behind; once Redis is back every queued row is re-sent.
 */
#include "scheduler/loop.h"
#include "scheduler/wake.h"
#include "store/channels.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/db.h"
#include "core/healthsrv.h"
#include "scheduler/processor.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/notify.h"
#include "core/queue.h"
#include "core/timeutil.h"
#include "sched/backfill.h"
#include "sched/planrun.h"
#include "store/jobs.h"
#include "scheduler/enqueue.h"
#include "scheduler/reaper.h"
#include "scheduler/runs.h"
#include "scheduler/snapshot.h"
#include "store/dagrun.h"
#include "store/ti_sched.h"

#define LOOP_MAX_LIVE_RUNS 100000 /* runs planned by one full pass */
#define LOOP_MAX_PENDING 65536    /* notified run ids remembered between passes */
#define LOOP_VERSION_CACHE 256
#define LOOP_MAX_TIMEOUTS 1000 /* timed-out runs failed by one pass */
#define LOOP_MAX_REAPED 1000   /* zombie (and stuck queued) tries ended by one pass */
#define LOOP_MAX_RECLAIM 10000 /* stale stream entries dropped by one pass */

void loop_wake(int fd)
{
    uint64_t one = 1;
    ssize_t w = write(fd, &one, sizeof(one));
    (void)w;
}

typedef struct pending {
    int64_t *ids;
    size_t n, cap;
    bool all; /* plan every live run */
} pending_t;

static void pending_add(pending_t *p, int64_t id)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->ids[i] == id)
            return;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        int64_t *ids = cap <= LOOP_MAX_PENDING ? realloc(p->ids, cap * sizeof(*ids)) : NULL;
        if (!ids) {
            p->all = true; /* too many to remember: plan everything instead */
            return;
        }
        p->ids = ids;
        p->cap = cap;
    }
    p->ids[p->n++] = id;
}

/* Payload "<dag_run.id>" names a run; anything else means "something changed". */
static void on_notify(const char *payload, void *arg)
{
    pending_t *p = arg;
    char *end = NULL;
    errno = 0;
    long long id = strtoll(payload, &end, 10);
    if (payload[0] && end && *end == '\0' && errno == 0 && id > 0)
        pending_add(p, (int64_t)id);
    else
        p->all = true;
}

/* Collects the notifications libpq holds; -1 when the connection broke. */
static int drain_notifies(db_t *db, pending_t *p)
{
    return db_drain_notifies(db, on_notify, p);
}

/* Adds column 0 (a dag_run id) of every row of r to p, and frees r. */
static void add_rows(pending_t *p, PGresult *r)
{
    for (int i = 0; i < PQntuples(r); i++)
        pending_add(p, db_get_i64(r, i, 0));
    PQclear(r);
}

/* Runs with an up_for_retry or up_for_reschedule task instance whose time has come. */
static int add_retry_due(db_t *db, pending_t *p)
{
    PGresult *r = NULL;
    if (ti_sched_list_retry_due(db, &r) < 0)
        return -1;
    add_rows(p, r);
    return 0;
}

/*
 * Queued runs that may be able to start (their DAG below max_active_runs
 * in running runs; not paused, or not a scheduled run): planning one starts it
 * or leaves it queued (planrun.c decides, oldest logical date first).
 */
static int add_startable(db_t *db, pending_t *p)
{
    PGresult *r = NULL;
    if (dagrun_list_startable(db, &r) < 0)
        return -1;
    add_rows(p, r);
    return 0;
}

typedef struct loop_state {
    loop_args_t *a;
    db_t *db;
    queue_t *q;
    planrun_ctx_t plan; /* its versions: a cache owned by this thread */
    pending_t pending;
    int64_t job_id;
    int64_t next_heartbeat_us; /* monotonic */
    int64_t next_full_us;      /* monotonic */
    int64_t next_queue_try_us; /* monotonic; Redis reconnect backoff */
    int64_t next_reap_us;      /* monotonic; zombie and stuck-queued detection */
    int64_t next_marker_us;    /* monotonic; Redis data-loss check */
    int64_t next_snapshot_us;  /* monotonic; the periodic gauges (snapshot.h) */
    backoff_t queue_retry;     /* Redis reconnects, from a pass that must not block */
    bool resend_all;           /* Redis failed: re-send every queued row once it is back */
    bool again;                /* more work is likely: do not sleep */
    size_t pass_runs;          /* runs the last pass planned */
    size_t pass_queued;        /* task instances the last pass queued */
} loop_state_t;

static void queue_check(loop_state_t *s)
{
    const config_t *cfg = s->a->cfg;
    int64_t now = ts_mono_us();
    if (s->q && queue_ok(s->q)) {
        /* A Redis that lost its data while connected (FLUSHALL, a failover
         * to an empty replica): re-send every queued row now rather than
         * after queued_resend_after_sec. */
        if (now >= s->next_marker_us) {
            s->next_marker_us = now + (int64_t)cfg->scheduler.heartbeat_sec * 1000000;
            if (queue_check_marker(s->q) == 1) {
                log_info("redis has no marker (new, restarted or flushed): re-sending queued"
                         " task instances");
                s->resend_all = true;
            }
        }
        return;
    }
    if (now < s->next_queue_try_us)
        return;
    bool up = false;
    if (!s->q) {
        char err[512];
        queue_target_t t;
        config_queue_target(cfg, &t);
        s->q = queue_connect(&t, err, sizeof(err));
        up = s->q != NULL;
        if (!up)
            log_warn("redis unavailable error=\"%s\"", err);
    } else {
        up = queue_ensure(s->q, 0, s->a->stop) == 0;
    }
    if (up) {
        backoff_init(&s->queue_retry, -1);
        s->resend_all = true;
        return;
    }
    s->next_queue_try_us = now + (int64_t)backoff_step(&s->queue_retry) * 1000;
}

/* How long the DAG processor has gone without progress; -1 when there is none. */
static int64_t processor_stall(const loop_args_t *a)
{
    return a->processor ? processor_stalled_us(a->processor) : -1;
}

/* One pass. Returns 0, or -1 on a database error. */
static int loop_pass(loop_state_t *s)
{
    const config_t *cfg = s->a->cfg;
    int64_t now = ts_mono_us();
    int hb_us = cfg->scheduler.heartbeat_sec * 1000000;
    s->again = false;
    s->pass_runs = s->pass_queued = 0;

    if (s->job_id == 0) {
        if (jobs_scheduler_start(s->db, s->a->hostname, (int)getpid(), &s->job_id) < 0)
            return -1;
        log_info("scheduler job started job_id=%" PRId64 " hostname=%s", s->job_id, s->a->hostname);
        s->next_heartbeat_us = now + hb_us;
        metric_count(M_SCHEDULER_HEARTBEAT, 1, NULL, NULL, NULL);
    } else if (now >= s->next_heartbeat_us) {
        if (jobs_scheduler_update(s->db, s->job_id, "running", processor_stall(s->a)) < 0)
            return -1;
        s->next_heartbeat_us = now + hb_us;
        metric_count(M_SCHEDULER_HEARTBEAT, 1, NULL, NULL, NULL);
    }

    int created = 0;
    if (runs_create_due(s->db, &created) < 0)
        return -1;
    if (created > 0)
        s->again = true; /* catchup: the next interval may be due too */

    size_t bf_acted = 0, bf_done = 0;
    if (backfill_drive(s->db, &bf_acted, &bf_done) < 0)
        return -1;

    size_t timed_out = 0;
    if (planrun_timeout_due(s->db, &s->plan, LOOP_MAX_TIMEOUTS, &timed_out) < 0)
        return -1;
    if (timed_out >= LOOP_MAX_TIMEOUTS)
        s->again = true;

    if (now >= s->next_reap_us) {
        int64_t *reaped = NULL;
        size_t nr = 0, nz = 0, ns = 0;
        int rrc = reaper_run(s->db, cfg->scheduler.zombie_threshold_sec,
                             cfg->scheduler.task_queued_timeout_sec, LOOP_MAX_REAPED, &reaped, &nr,
                             &nz, &ns);
        for (size_t i = 0; i < nr; i++)
            pending_add(&s->pending, reaped[i]);
        free(reaped);
        if (rrc < 0)
            return -1;
        s->next_reap_us = now + (int64_t)cfg->scheduler.zombie_detection_interval_sec * 1000000;
        if (nz + ns >= LOOP_MAX_REAPED)
            s->next_reap_us = now;
        /* Stream entries their consumer never acknowledged (it died): the
         * rows they name are re-sent or fenced, so the entries only take
         * memory. */
        size_t dropped = 0;
        if (s->q && queue_ok(s->q) &&
            queue_reclaim_stale(s->q, (long)cfg->scheduler.queued_resend_after_sec * 2000,
                                LOOP_MAX_RECLAIM, &dropped) == 0 &&
            dropped > 0)
            log_info("dropped stale queue entries count=%zu", dropped);
    }
    if (add_retry_due(s->db, &s->pending) < 0 || add_startable(s->db, &s->pending) < 0)
        return -1;
    if (drain_notifies(s->db, &s->pending) < 0)
        return -1;
    bool full = s->pending.all || now >= s->next_full_us;
    int64_t *ids = s->pending.ids;
    size_t n = s->pending.n;
    int64_t *live = NULL;
    if (full) {
        if (planrun_list_live(s->db, LOOP_MAX_LIVE_RUNS, &live, &n) < 0)
            return -1;
        ids = live;
        s->next_full_us = now + hb_us;
        log_debug("full planning pass runs=%zu", n);
    }
    /* Planned runs leave the pending set whatever happens below: a failure
     * reconnects and forces a full pass. */
    s->pending.n = 0;
    s->pending.all = false;
    size_t scheduled = 0;
    int rc = 0;
    for (size_t i = 0; i < n && !*s->a->stop; i++) {
        planrun_result_t res;
        if (planrun_plan(s->db, &s->plan, ids[i], &res) < 0) {
            rc = -1;
            break;
        }
        scheduled += res.n_scheduled;
        if (res.finished)
            s->again = true; /* max_active_runs may allow the next run now */
    }
    free(live);
    s->pass_runs = n;
    if (rc < 0)
        return -1;

    queue_check(s);
    size_t queued = 0, sent = 0;
    bool pub_failed = false;
    if (enqueue_scheduled(s->db, s->q, cfg->scheduler.max_tis_per_query, &queued, &pub_failed) < 0)
        return -1;
    s->pass_queued = queued;
    if (queued > 0)
        log_debug("queued task instances count=%zu", queued);
    if (queued >= (size_t)cfg->scheduler.max_tis_per_query)
        s->again = true;
    if (pub_failed)
        s->resend_all = true;

    if (s->q && queue_ok(s->q)) {
        bool all = s->resend_all;
        if (enqueue_resend(s->db, s->q, all ? 0 : cfg->scheduler.queued_resend_after_sec,
                           cfg->scheduler.max_tis_per_query, &sent, &pub_failed) < 0)
            return -1;
        s->resend_all = pub_failed;
    }
    (void)scheduled;
    return 0;
}

/* Milliseconds to sleep before the next pass. */
static int loop_timeout_ms(loop_state_t *s)
{
    const config_t *cfg = s->a->cfg;
    if (s->again || s->pending.n > 0 || s->pending.all)
        return 0;
    int64_t now = ts_mono_us();
    int64_t until_full = s->next_full_us - now;
    int64_t until_hb = s->next_heartbeat_us - now;
    int64_t t = until_full < until_hb ? until_full : until_hb;
    double due;
    if (ti_sched_next_due_in(s->db, cfg->scheduler.queued_resend_after_sec, &due) == 0) {
        /* Past due yet not handled (held by another scheduler): look again soon. */
        int64_t d = due <= 0 ? 250000 : (int64_t)(due * 1e6) + 1000;
        if (d < t)
            t = d;
    }
    if (!s->q || !queue_ok(s->q)) {
        int64_t d = s->next_queue_try_us - now; /* Redis is down: try again on time */
        if (d < t)
            t = d;
    }
    if (t < 0)
        t = 0;
    return (int)(t / 1000);
}

static void loop_wait(loop_state_t *s, int ms)
{
    struct pollfd pfd[2] = {{.fd = s->a->wake_fd, .events = POLLIN},
                            {.fd = db_socket(s->db), .events = POLLIN}};
    int nfds = pfd[1].fd >= 0 ? 2 : 1;
    int r = poll(pfd, (nfds_t)nfds, ms);
    if (r > 0 && (pfd[0].revents & POLLIN))
        wake_drain(s->a->wake_fd);
    /* Socket errors show in drain_notifies() (and db_ok()) on the next pass. */
    if (nfds == 2)
        drain_notifies(s->db, &s->pending);
}

static db_t *connect_until_stop(const config_t *cfg, volatile bool *stop, int wake_fd)
{
    char err[512];
    backoff_t b;
    backoff_init(&b, -1);
    backoff_set_nap(&b, wake_nap, &wake_fd);
    db_target_t t;
    config_db_target(cfg, &t);
    return db_open_retry(&t, &b, stop, err, sizeof(err));
}

/*
 * Waits for the database to come back. Under a watchdog, in slices that
 * end when the next WATCHDOG=1 is due, so that the service manager keeps
 * hearing from a loop that is only waiting (each slice starts its backoff
 * afresh). 0, or -1 on a stop.
 */
static int reconnect(loop_state_t *s)
{
    for (;;) {
        notify_watchdog();
        int ms = notify_wait_ms(-1); /* -1 without a watchdog: one wait until it is back */
        if (db_ensure(s->db, ms == 0 ? 1 : ms, s->a->stop) == 0)
            return 0;
        if (*s->a->stop)
            return -1;
    }
}

void *loop_thread(void *arg)
{
    loop_args_t *a = arg;
    loop_state_t s = {.a = a};
    backoff_t retry;
    backoff_init(&retry, -1);
    backoff_init(&s.queue_retry, -1);
    a->exit_code = 1;

    s.plan.versions = dagver_cache_new(LOOP_VERSION_CACHE, DAGVER_DAG);
    if (!s.plan.versions) {
        log_error("out of memory");
        return NULL;
    }
    s.plan.max_map_length = a->cfg->core.max_map_length;
    s.db = connect_until_stop(a->cfg, a->stop, a->wake_fd);
    if (!s.db)
        goto out;
    if (db_listen(s.db, CHANNEL_SCHEDULER) < 0)
        log_warn("listen failed; relying on periodic passes error=\"%s\"", db_error(s.db));
    queue_check(&s);
    s.pending.all = true;

    while (!*a->stop) {
        /* each turn of this loop is the scheduler's proof of life to the
         * service manager's watchdog (notify.h) */
        notify_watchdog();
        if (!db_ok(s.db)) {
            log_warn("database connection lost, reconnecting");
            notify_status("database connection lost, reconnecting");
            if (reconnect(&s) < 0)
                break;
            log_info("database reconnected");
            notify_status("scheduling");
            s.pending.all = true; /* notifications may have been lost */
        }
        int64_t t0 = ts_mono_us();
        int prc = loop_pass(&s);
        int64_t t1 = ts_mono_us();
        metric_observe(M_SCHEDULER_LOOP_DURATION, (double)(t1 - t0) / 1e6, NULL, NULL, NULL);
        log_debug("scheduler pass ms=%.3f runs=%zu queued=%zu", (double)(t1 - t0) / 1000.0,
                  s.pass_runs, s.pass_queued);
        /* The gauges of what is live, every heartbeat_sec, outside the pass's timing. */
        if (prc == 0 && t1 >= s.next_snapshot_us) {
            s.next_snapshot_us = t1 + (int64_t)a->cfg->scheduler.heartbeat_sec * 1000000;
            if (snapshot_record(s.db, s.q) < 0 && !db_ok(s.db))
                prc = -1;
        }
        if (prc < 0) {
            db_rollback(s.db);
            s.pending.all = true;
            int ms = backoff_step(&retry);
            log_warn("scheduler pass failed, retrying retry_ms=%d error=\"%s\"", ms,
                     db_error(s.db));
            wake_wait(a->wake_fd, notify_wait_ms(ms));
            continue;
        }
        backoff_init(&retry, -1);
        /* ready once a pass went through with the database, and Redis up */
        if (s.q && queue_ok(s.q))
            notify_ready("scheduling");
        /* a stalled DAG processor (a file that hangs it) makes the
         * scheduler unhealthy too, so that a probe restarts it */
        if (processor_stall(a) < (int64_t)PROCESSOR_STALL_SEC * 1000000)
            healthsrv_beat(a->health);
        if (*a->stop)
            break;
        loop_wait(&s, notify_wait_ms(loop_timeout_ms(&s)));
    }
    a->exit_code = 0;
    if (s.job_id && db_ok(s.db) &&
        jobs_scheduler_update(s.db, s.job_id, "success", processor_stall(a)) < 0)
        log_warn("could not mark the scheduler job finished");
    log_info("scheduling loop stopped");
out:
    dagver_cache_free(s.plan.versions);
    free(s.pending.ids);
    queue_close(s.q);
    db_close(s.db);
    return NULL;
}
