/*
 * updraft-scheduler: parses DAG files, creates DAG runs, plans their task
 * instances and sends them to the workers.
 *
 * Threads:
 *   main       parses flags, loads the config, checks the schema, blocks
 *              SIGINT/SIGTERM in every thread and waits for them with
 *              sigwait(); on a signal it sets `stop` and writes both wake
 *              eventfds, then joins the others. Owns the config.
 *   processor  (processor.c) scans core.dags_folder and stores DAGs,
 *              versions and import errors. Owns its db_t.
 *   loop       (loop.c) heartbeats, creates runs, plans them, enqueues and
 *              re-sends task instances. Owns its db_t (LISTEN
 *              updraft_scheduler), its queue_t and the version cache.
 *              Under systemd (Type=notify, core/notify.h) it sends READY=1
 *              after its first pass with the database and Redis, and
 *              WATCHDOG=1 from its turns; main sends STOPPING=1.
 *   metrics    (core/metrics.c) drains what every thread records into
 *              the registry behind GET /metrics on --health-port and sends
 *              StatsD datagrams (metrics.statsd_on).
 *   alerter    (alerter.c) turns callback events into Slack and webhook
 *              deliveries, records SLA misses and sends the alerts. Owns
 *              its db_t (LISTEN updraft_alerts), its curl multi handle, its
 *              keyring and its cache of DAG versions' alert settings.
 * Behind a transaction pooler (database.pooler) the loop's and the
 * alerter's LISTEN run on a second, direct connection each (core/db.h).
 * They share only the read-only config, the `stop` flag and the eventfds
 * (processor -> loop after a change; main -> all three at stop). A stop lets
 * the current pass finish (the alerter gives requests in flight a few
 * seconds); the process then exits 0. The DAG processor, which reads files
 * other people write, is waited for last and for at most
 * PROCESSOR_JOIN_SEC: if it does not end, the process exits 1 without it. libcurl is initialized
 * once here, before any thread starts.
 */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "core/db.h"
#include "core/healthsrv.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/notify.h"
#include "core/timeutil.h"
#include "scheduler/alerter.h"
#include "scheduler/loop.h"
#include "scheduler/processor.h"

#define CONNECT_WAIT_MS 30000
#define PROCESSOR_JOIN_SEC 30 /* a stop waits this long for the DAG processor */

static void usage(FILE *f)
{
    fprintf(
        f, "usage: updraft-scheduler [--health-port [HOST:]PORT] [--config PATH] [--print-config]\n"
           "                         [-h|--help]\n"
           "\n"
           "Parses the DAG files in core.dags_folder, creates DAG runs on their schedules,\n"
           "and queues their tasks for updraft-worker. Several schedulers may run at once.\n"
           "Configuration: --config PATH, $UPDRAFT_CONFIG, ./updraft.yaml, then\n"
           "UPDRAFT__SECTION__KEY environment variables.\n"
           "--health-port answers GET /health on that port (127.0.0.1 unless a host is\n"
           "given): 200 while scheduling passes complete and the DAG processor is not\n"
           "stuck, else 503 (Kubernetes probes).\n");
}

static bool wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return true;
    return false;
}

/*
 * Removes --health-port [HOST:]PORT (or --health-port=...) from argv and
 * returns its value (the last one given), NULL when absent.
 */
static const char *take_health_port(int *argc, char **argv)
{
    const char *health_port = NULL;
    for (int i = 1; i < *argc; i++) {
        const char *v = NULL;
        int take = 0;
        if (!strcmp(argv[i], "--health-port") && i + 1 < *argc) {
            v = argv[i + 1];
            take = 2;
        } else if (!strncmp(argv[i], "--health-port=", 14)) {
            v = argv[i] + 14;
            take = 1;
        }
        if (take) {
            health_port = v;
            memmove(&argv[i], &argv[i + take], (size_t)(*argc - i - take + 1) * sizeof(*argv));
            *argc -= take;
            i--;
        }
    }
    return health_port;
}

/* Joins the DAG processor, waiting at most PROCESSOR_JOIN_SEC. 0, or -1 when it did not end. */
static int join_processor(pthread_t tid)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += PROCESSOR_JOIN_SEC;
    return pthread_timedjoin_np(tid, NULL, &until) == 0 ? 0 : -1;
}

/* core.hostname, else the machine's name, else "localhost". */
static void resolve_hostname(const config_t *cfg, char *hostname, size_t len)
{
    if (cfg->core.hostname && cfg->core.hostname[0])
        snprintf(hostname, len, "%s", cfg->core.hostname);
    else if (gethostname(hostname, len - 1) < 0)
        snprintf(hostname, len, "localhost");
}

/* Connects and checks the schema; waits for the database up to CONNECT_WAIT_MS. */
static int check_database(const config_t *cfg)
{
    char err[512], masked[512];
    backoff_t b;
    backoff_init(&b, CONNECT_WAIT_MS);
    db_target_t t;
    config_db_target(cfg, &t);
    db_t *db = db_open_retry(&t, &b, NULL, err, sizeof(err));
    if (!db) {
        config_mask_url(cfg->database.url, masked, sizeof(masked));
        fprintf(stderr, "updraft-scheduler: cannot connect to the database %s: %s\n", masked, err);
        return -1;
    }
    int rc = db_check_schema(db, err, sizeof(err));
    if (rc < 0)
        fprintf(stderr,
                "updraft-scheduler: the database schema is not ready: %s\n"
                "run `updraft db migrate` first\n",
                err);
    db_close(db);
    return rc;
}

int main(int argc, char **argv)
{
    config_t cfg;
    char hostname[256] = "";
    log_level_t level = LOG_LEVEL_INFO;
    volatile bool stop = false;
    int rc = 1, loop_fd = -1, proc_fd = -1, alert_fd = -1;
    sigset_t sigs;
    pthread_t loop_tid, proc_tid, alert_tid;
    bool loop_started = false, proc_started = false, alert_started = false, curl_ready = false;
    healthsrv_t *health = NULL;
    processor_status_t proc_status = {0};

    if (wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    log_init("scheduler", LOG_LEVEL_INFO);
    /* Our own flag first; the rest are the config's. */
    const char *health_port = take_health_port(&argc, argv);
    int cr = config_from_args(&argc, argv, &cfg);
    if (cr < 0)
        return 2;
    if (cr == 1) {
        config_free(&cfg);
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "updraft-scheduler: unknown argument '%s'\n", argv[1]);
        usage(stderr);
        config_free(&cfg);
        return 2;
    }
    if (log_parse_level(cfg.logging.level, &level) == 0)
        log_set_level(level);
    resolve_hostname(&cfg, hostname, sizeof(hostname));
    notify_init();

    if (check_database(&cfg) < 0)
        goto out;

    /* Signals go to main's sigwait() only: block them before any thread starts. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "updraft-scheduler: cannot initialize libcurl\n");
        goto out;
    }
    curl_ready = true;
    char merr[256];
    if (metrics_start(&cfg, "scheduler", hostname, merr, sizeof(merr)) < 0) {
        fprintf(stderr, "updraft-scheduler: %s\n", merr);
        goto out;
    }
    loop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    proc_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    alert_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (loop_fd < 0 || proc_fd < 0 || alert_fd < 0) {
        fprintf(stderr, "updraft-scheduler: eventfd: %s\n", strerror(errno));
        goto out;
    }
    if (health_port) {
        char herr[256];
        int threshold = cfg.scheduler.heartbeat_sec * 6 > 30 ? cfg.scheduler.heartbeat_sec * 6 : 30;
        if (!(health = healthsrv_start(health_port, "scheduler", threshold, herr, sizeof(herr)))) {
            fprintf(stderr, "updraft-scheduler: %s\n", herr);
            goto out;
        }
    }
    loop_args_t la = {.cfg = &cfg,
                      .hostname = hostname,
                      .stop = (volatile bool *)&stop,
                      .wake_fd = loop_fd,
                      .health = health,
                      .processor = &proc_status};
    processor_args_t pa = {.cfg = &cfg,
                           .stop = (volatile bool *)&stop,
                           .wake_fd = proc_fd,
                           .loop_wake_fd = loop_fd,
                           .status = &proc_status};
    alerter_args_t aa = {
        .cfg = &cfg, .hostname = hostname, .stop = (volatile bool *)&stop, .wake_fd = alert_fd};
    if (pthread_create(&proc_tid, NULL, processor_thread, &pa) != 0) {
        fprintf(stderr, "updraft-scheduler: cannot start the dag processor\n");
        goto stop;
    }
    proc_started = true;
    if (pthread_create(&loop_tid, NULL, loop_thread, &la) != 0) {
        fprintf(stderr, "updraft-scheduler: cannot start the scheduling loop\n");
        goto stop;
    }
    loop_started = true;
    if (pthread_create(&alert_tid, NULL, alerter_thread, &aa) != 0) {
        fprintf(stderr, "updraft-scheduler: cannot start the alert sender\n");
        goto stop;
    }
    alert_started = true;
    log_info("scheduler started hostname=%s dags_folder=%s", hostname, cfg.core.dags_folder);

    int sig = 0;
    while (sigwait(&sigs, &sig) != 0)
        ;
    log_info("stopping signal=%d", sig);
    notify_stopping("stopping");
    rc = 0;
stop:
    stop = true;
    loop_wake(loop_fd);
    loop_wake(proc_fd);
    loop_wake(alert_fd);
    if (alert_started)
        pthread_join(alert_tid, NULL);
    if (loop_started) {
        pthread_join(loop_tid, NULL);
        if (la.exit_code != 0)
            rc = 1;
    }
    if (proc_started && join_processor(proc_tid) != 0) {
        /* It is stuck where no flag reaches (a read that never returns):
         * the process ends without it, its memory untouched. */
        log_error("the dag processor did not stop within %d s, exiting without it",
                  PROCESSOR_JOIN_SEC);
        _exit(1);
    }
out:
    healthsrv_stop(health);
    metrics_stop();
    if (loop_fd >= 0)
        close(loop_fd);
    if (proc_fd >= 0)
        close(proc_fd);
    if (alert_fd >= 0)
        close(alert_fd);
    if (curl_ready)
        curl_global_cleanup();
    config_free(&cfg);
    return rc;
}
