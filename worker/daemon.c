/*
 * daemon.c - the worker daemon (see daemon.h): the main thread's part.
 *
 * Startup in phases: the secrets key, signal masks, the database and its
 * schema, the job row; then the health endpoint, the hand-off and the two
 * threads, each with connections of its own. The main thread then waits
 * for signals with sigtimedwait and drives the shutdown; the job row is
 * marked ended whatever way the worker stops once it was written.
 */
#include "worker/daemon.h"

#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/db.h"
#include "core/healthsrv.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/notify.h"
#include "core/queue.h"
#include "core/secrets.h"
#include "store/jobs.h"
#include "worker/consumer.h"
#include "worker/executor.h"
#include "worker/handoff.h"
#include "worker/runas.h"
#include "worker/supervisor.h"

#define CONNECT_WAIT_SEC 30

/* Shutdown flags, written by the main thread only. */
static volatile bool g_stop, g_kill;

typedef struct daemon {
    const worker_options_t *w;
    sigset_t sigs; /* the shutdown signals */
    secrets_keyring_t *ring;
    char *exe;
    char bash[EXECUTOR_BASH_PATH_MAX]; /* what bash tasks run with, found at start */
    db_t *db;                          /* the main thread's: the job row */
    int64_t job_id;
    healthsrv_t *health;
    handoff_t *h;
    supervisor_t *sup;
    consumer_t *cons;
} daemon_t;

/* Waits up to ms for one of set: the signal number, or 0 when none came. */
static int wait_signal(const sigset_t *set, int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    int sig = sigtimedwait(set, NULL, &ts);
    return sig > 0 ? sig : 0;
}

/* A backoff nap (core/backoff.h) that gives up when one of the signals arrives. */
static bool nap_until_signal(int ms, void *set)
{
    return wait_signal(set, ms) == 0;
}

/* Startup connections: retried for CONNECT_WAIT_SEC, NULL on failure or a signal. */
static db_t *connect_db(const config_t *cfg, const sigset_t *sigs)
{
    char err[512];
    db_target_t t;
    config_db_target(cfg, &t);
    backoff_t b;
    backoff_init(&b, CONNECT_WAIT_SEC * 1000);
    backoff_set_nap(&b, nap_until_signal, (void *)sigs);
    db_t *db = db_open_retry(&t, &b, NULL, err, sizeof(err));
    if (!db)
        log_error("cannot connect to the database error=\"%s\"", err);
    return db;
}

static queue_t *connect_queue(const config_t *cfg, const sigset_t *sigs)
{
    char err[512];
    queue_target_t t;
    config_queue_target(cfg, &t);
    backoff_t b;
    backoff_init(&b, CONNECT_WAIT_SEC * 1000);
    backoff_set_nap(&b, nap_until_signal, (void *)sigs);
    queue_t *q = queue_connect_retry(&t, &b, NULL, err, sizeof(err));
    if (!q)
        log_error("cannot connect to redis error=\"%s\"", err);
    return q;
}

/* This binary's path (the operator runner), resolved once: NULL if unknown. */
static char *self_exe(void)
{
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    if (n <= 0 || (size_t)n >= sizeof(buf) - 1)
        return NULL;
    buf[n] = '\0';
    return strdup(buf);
}

/*
 * Blocks SIGTERM, SIGINT, SIGQUIT and SIGCHLD in this thread and so in
 * every thread started later, and ignores SIGPIPE.
 */
static void block_signals(sigset_t *sigs)
{
    sigset_t all;
    sigemptyset(sigs);
    sigaddset(sigs, SIGTERM);
    sigaddset(sigs, SIGINT);
    sigaddset(sigs, SIGQUIT);
    all = *sigs;
    sigaddset(&all, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* Up to the job row: 0 when it is written (d->job_id), -1 otherwise. */
static int register_job(daemon_t *d)
{
    const worker_options_t *w = d->w;
    char err[512];
    /* Templates read variables and connections: the worker needs the key. */
    if (!(d->ring = secrets_keyring_new(w->cfg.core.fernet_key, err, sizeof(err)))) {
        log_error("invalid core.fernet_key error=\"%s\"", err);
        fprintf(stderr, "updraft-worker: invalid core.fernet_key: %s\n", err);
        return -1;
    }
    /* Who tasks run as is settled before anything is claimed (worker/runas.h). */
    const char *dflt = w->cfg.worker.default_run_as_user;
    if (runas_check_start(dflt, geteuid(), w->cfg.worker.allow_root_tasks, err, sizeof(err)) < 0) {
        log_error("tasks cannot run error=\"%s\"", err);
        fprintf(stderr, "updraft-worker: %s\n", err);
        return -1;
    }
    if (dflt && *dflt)
        log_info("tasks without run_as_user run as user=%s", dflt);
    else if (geteuid() == 0)
        log_warn("tasks without run_as_user run as root (worker.allow_root_tasks is true)");
    /* Tasks run with `bash -c`, as Airflow's BashOperator: without bash none could run. */
    if (executor_find_bash(EXECUTOR_BASH, getenv("PATH"), d->bash, sizeof(d->bash), err,
                           sizeof(err)) < 0) {
        log_error("tasks cannot run error=\"%s\"", err);
        fprintf(stderr, "updraft-worker: %s (tasks run with bash -c)\n", err);
        return -1;
    }
    log_debug("bash tasks run with bash=%s", d->bash);
    block_signals(&d->sigs);
    if (!(d->exe = self_exe()))
        log_warn("cannot resolve /proc/self/exe: tasks that need the operator runner will fail");
    if (w->orchestration_only)
        log_warn("orchestration-only mode: tries are completed as success without running "
                 "anything; for benchmarks only");
    if (!(d->db = connect_db(&w->cfg, &d->sigs)))
        return -1;
    if (db_check_schema(d->db, err, sizeof(err)) != 0) {
        log_error("database schema is not usable, run `updraft db migrate` error=\"%s\"", err);
        fprintf(stderr, "updraft-worker: database schema is not usable: %s\n", err);
        return -1;
    }
    if (jobs_worker_start(d->db, w->hostname, (int)getpid(), w->queues_csv, w->concurrency,
                          &d->job_id) != 0) {
        log_error("cannot register the worker job error=\"%s\"", db_error(d->db));
        return -1;
    }
    return 0;
}

static void close_pair(db_t *db, queue_t *q)
{
    db_close(db);
    queue_close(q);
}

/* The supervisor's and the consumer's options, without their connections. */
static void thread_opts(const daemon_t *d, supervisor_opts_t *so, consumer_opts_t *co)
{
    const worker_options_t *w = d->w;
    *so = (supervisor_opts_t){.handoff = d->h,
                              .job_id = d->job_id,
                              .hostname = w->hostname,
                              .queues = w->queues,
                              .nqueues = (size_t)w->nqueues,
                              .pid = (int)getpid(),
                              .heartbeat_sec = w->cfg.worker.heartbeat_sec,
                              .log_flush_ms = w->cfg.worker.log_flush_ms,
                              .max_log_bytes = (size_t)w->cfg.worker.max_log_bytes_per_try,
                              .max_xcom_size = (size_t)w->cfg.core.max_xcom_size,
                              .max_map_length = w->cfg.core.max_map_length,
                              .max_templated_field_length =
                                  (size_t)w->cfg.core.max_templated_field_length,
                              .rendered_keep_runs = w->cfg.core.max_num_rendered_ti_fields_per_task,
                              .ring = d->ring,
                              .self_exe = d->exe,
                              .bash = d->bash,
                              .db_url = w->cfg.database.url,
                              .db_pooled = !strcmp(w->cfg.database.pooler, "transaction"),
                              .orchestration_only = w->orchestration_only,
                              .stop = &g_stop,
                              .kill_now = &g_kill,
                              .shutdown_grace_sec = w->cfg.worker.shutdown_grace_sec,
                              .default_run_as_user = w->cfg.worker.default_run_as_user &&
                                                             *w->cfg.worker.default_run_as_user
                                                         ? w->cfg.worker.default_run_as_user
                                                         : NULL,
                              .allow_root_tasks = w->cfg.worker.allow_root_tasks,
                              .health = d->health};
    *co = (consumer_opts_t){.handoff = d->h,
                            .hostname = w->hostname,
                            .pid = (int)getpid(),
                            .job_id = d->job_id,
                            .queues = w->queues,
                            .nqueues = (size_t)w->nqueues,
                            .stop = &g_stop};
}

/* The metrics sender, the health endpoint, the hand-off, and the two threads running. 0 or -1. */
static int start_threads(daemon_t *d)
{
    const worker_options_t *w = d->w;
    char err[512];
    if (metrics_start(&w->cfg, "worker", w->hostname, err, sizeof(err)) < 0) {
        log_error("cannot start the metrics sender error=\"%s\"", err);
        return -1;
    }
    if (w->health_port) {
        /* Unhealthy once heartbeats stop being written for six intervals. */
        int threshold = w->cfg.worker.heartbeat_sec * 6 > 30 ? w->cfg.worker.heartbeat_sec * 6 : 30;
        if (!(d->health = healthsrv_start(w->health_port, "worker", threshold, err, sizeof(err)))) {
            log_error("cannot start the health endpoint error=\"%s\"", err);
            return -1;
        }
        healthsrv_beat(d->health); /* the job row was just written */
    }
    if (!(d->h = handoff_new(w->concurrency))) {
        log_error("cannot set up the hand-off");
        return -1;
    }
    supervisor_opts_t so;
    consumer_opts_t co;
    thread_opts(d, &so, &co);
    if (!(so.db = connect_db(&w->cfg, &d->sigs)) ||
        !(so.queue = connect_queue(&w->cfg, &d->sigs)) ||
        !(co.db = connect_db(&w->cfg, &d->sigs)) ||
        !(co.queue = connect_queue(&w->cfg, &d->sigs))) {
        close_pair(so.db, so.queue);
        close_pair(co.db, co.queue);
        return -1;
    }
    if (!(d->sup = supervisor_new(&so, err, sizeof(err)))) {
        log_error("cannot start the supervisor error=\"%s\"", err);
        close_pair(so.db, so.queue);
        close_pair(co.db, co.queue);
        return -1;
    }
    if (!(d->cons = consumer_new(&co, err, sizeof(err)))) {
        log_error("cannot start the consumer error=\"%s\"", err);
        close_pair(co.db, co.queue);
        return -1;
    }
    if (supervisor_start(d->sup) != 0 || consumer_start(d->cons) != 0) {
        log_error("cannot start threads");
        g_stop = g_kill = true;
        handoff_close(d->h);
        return -1;
    }
    log_info("worker started job_id=%" PRId64 " consumer=%s queues=%s concurrency=%d", d->job_id,
             consumer_name(d->cons), w->queues_csv, w->concurrency);
    char status[2200];
    snprintf(status, sizeof(status), "consuming queues=%.2048s concurrency=%d", w->queues_csv,
             w->concurrency);
    notify_ready(status); /* the job row is written, both threads connected */
    return 0;
}

/* Waits for the shutdown signals and drives the shutdown until the supervisor is done. */
static void wait_shutdown(daemon_t *d)
{
    int nsig = 0;
    bool closed = false;
    while (!supervisor_done(d->sup)) {
        int sig = wait_signal(&d->sigs, 250);
        if (sig > 0) {
            nsig++;
            if (nsig == 1)
                notify_stopping(sig == SIGQUIT ? "cold shutdown" : "warm shutdown");
            if (nsig == 1 && sig != SIGQUIT) {
                log_info("warm shutdown: no new tries; running tries get up to %d s to finish, "
                         "then are handed back",
                         d->w->cfg.worker.shutdown_grace_sec);
                g_stop = true;
            } else {
                log_warn("cold shutdown (%s): stopping running tries and handing them back",
                         sig == SIGQUIT ? "SIGQUIT" : "second signal");
                g_stop = g_kill = true;
            }
            handoff_wake(d->h);
        }
        if (g_stop && !closed && consumer_done(d->cons)) {
            consumer_join(d->cons);
            handoff_close(d->h); /* the supervisor returns once every try is reported */
            closed = true;
        }
    }
}

/* Joins the threads and marks the job row ended (rc 0: success, else failed). */
static void end_job(daemon_t *d, int rc)
{
    consumer_join(d->cons);
    supervisor_join(d->sup);
    /* This connection idled since startup and may have broken meanwhile. */
    const char *end_state = rc == 0 ? "success" : "failed";
    if (jobs_worker_end(d->db, d->job_id, end_state) != 0 &&
        (db_ensure(d->db, 10000, NULL) < 0 || jobs_worker_end(d->db, d->job_id, end_state) != 0))
        log_warn("cannot mark the worker job ended job_id=%" PRId64, d->job_id);
    log_info("worker stopped job_id=%" PRId64 " exit=%d", d->job_id, rc);
}

int worker_daemon_run(const worker_options_t *w)
{
    daemon_t d = {.w = w};
    int rc = 1;
    notify_init();
    if (register_job(&d) == 0) {
        if (start_threads(&d) == 0) {
            wait_shutdown(&d);
            rc = g_kill ? 1 : 0;
        }
        end_job(&d, rc);
    }
    consumer_free(d.cons);
    supervisor_free(d.sup);
    healthsrv_stop(d.health);
    metrics_stop();
    handoff_free(d.h);
    secrets_keyring_free(d.ring);
    db_close(d.db);
    free(d.exe);
    return rc;
}
