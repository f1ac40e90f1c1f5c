/*
 * updraft-worker - runs task tries taken from the Redis queues.
 *
 * Threads, each with its own connections:
 *   main        flags and config, schema check, the `job` row (its own
 *               db_t); then waits for SIGTERM/SIGINT/SIGQUIT with
 *               sigtimedwait and drives shutdown. Warm (SIGTERM, SIGINT):
 *               stop consuming, let running tries finish for up to
 *               worker.shutdown_grace_sec, then kill and hand back the rest.
 *               Cold (SIGQUIT, or a second signal): kill and hand back at
 *               once. A try handed back runs again elsewhere without
 *               counting as a retry.
 *   consumer    XREADGROUP for as many entries as free slots, the claim,
 *               acks of invalid/stale messages (worker/consumer.c; a db_t
 *               and a queue_t).
 *   supervisor  task processes, their output pipes and SIGCHLD (signalfd),
 *               log shipping, heartbeats, outcomes, acks after the outcome
 *               commits (worker/supervisor.c; a db_t and a queue_t).
 * Claimed tries and free slots pass between the two through
 * worker/handoff.c. SIGTERM, SIGINT and SIGCHLD are blocked in every
 * thread; SIGPIPE is ignored (task processes get default dispositions).
 *
 * `updraft-worker --run-operator FILE` is not the daemon: it is the
 * operator runner the supervisor starts for a task whose operator is not a
 * shell command (worker/ops.h); main hands it to ops_main before anything
 * else.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "core/db.h"
#include "core/healthsrv.h"
#include "core/log.h"
#include "core/queue.h"
#include "core/secrets.h"
#include "store/jobs.h"
#include "worker/consumer.h"
#include "worker/handoff.h"
#include "worker/ops.h"
#include "worker/supervisor.h"

#define MAX_QUEUES 16
#define CONNECT_WAIT_SEC 30

/* Shutdown flags, written by the main thread only. */
static volatile bool g_stop, g_kill;

typedef struct opts {
    const char *queues, *hostname, *health_port;
    int concurrency;
    bool orchestration_only;
} opts_t;

static void usage(FILE *f)
{
    fprintf(f, "usage: updraft-worker [--queues a,b] [--concurrency N] [--hostname NAME]\n"
               "                      [--health-port [HOST:]PORT] [--config PATH] [--print-config]\n"
               "                      [--orchestration-only]\n"
               "\n"
               "  --health-port PORT    answer GET /health on this port (127.0.0.1 unless a host\n"
               "                        is given): 200 while heartbeats are written, else 503\n"
               "  --orchestration-only  FOR BENCHMARKS ONLY: claim each try, record it running\n"
               "                        and complete it as success without starting its process\n"
               "                        (no task runs, no log is written). Never use it in\n"
               "                        production.\n");
}

/* Parses the worker's own flags (config flags were taken out already). 0, 1 (help), -1. */
static int parse_flags(int argc, char **argv, opts_t *o)
{
    static const struct option longopts[] = {{"queues", required_argument, NULL, 'q'},
                                             {"concurrency", required_argument, NULL, 'c'},
                                             {"hostname", required_argument, NULL, 'H'},
                                             {"orchestration-only", no_argument, NULL, 'O'},
                                             {"health-port", required_argument, NULL, 'P'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "q:c:H:hOP:", longopts, NULL)) != -1) {
        char *end;
        long v;
        switch (ch) {
        case 'q':
            o->queues = optarg;
            break;
        case 'c':
            errno = 0;
            v = strtol(optarg, &end, 10);
            if (errno || *end || v < 1 || v > 4096) {
                fprintf(stderr, "updraft-worker: --concurrency must be 1..4096\n");
                return -1;
            }
            o->concurrency = (int)v;
            break;
        case 'H':
            o->hostname = optarg;
            break;
        case 'O':
            o->orchestration_only = true;
            break;
        case 'P':
            o->health_port = optarg;
            break;
        case 'h':
            usage(stdout);
            return 1;
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "updraft-worker: unexpected argument %s\n", argv[optind]);
        return -1;
    }
    return 0;
}

/* Splits "a, b" into names; validates and de-duplicates. Returns the count or -1. */
static int split_queues(char *csv, const char **out, char *joined, size_t joinlen)
{
    int n = 0;
    joined[0] = '\0';
    for (char *save = NULL, *tok = strtok_r(csv, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ' || *tok == '\t')
            tok++;
        char *e = tok + strlen(tok);
        while (e > tok && (e[-1] == ' ' || e[-1] == '\t'))
            *--e = '\0';
        if (!*tok)
            continue;
        if (!queue_name_valid(tok)) {
            fprintf(stderr, "updraft-worker: invalid queue name \"%s\"\n", tok);
            return -1;
        }
        bool dup = false;
        for (int i = 0; i < n; i++)
            dup = dup || strcmp(out[i], tok) == 0;
        if (dup)
            continue;
        if (n == MAX_QUEUES) {
            fprintf(stderr, "updraft-worker: at most %d queues\n", MAX_QUEUES);
            return -1;
        }
        out[n++] = tok;
        size_t l = strlen(joined);
        snprintf(joined + l, joinlen - l, "%s%s", l ? "," : "", tok);
    }
    if (n == 0)
        fprintf(stderr, "updraft-worker: no queue to consume\n");
    return n > 0 ? n : -1;
}

/* Sleeps up to ms; returns true when SIGTERM/SIGINT arrived meanwhile. */
/* Waits up to ms for one of set: the signal number, or 0 when none came. */
static int wait_signal(const sigset_t *set, int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    int sig = sigtimedwait(set, NULL, &ts);
    return sig > 0 ? sig : 0;
}

/* Startup connections: retried for CONNECT_WAIT_SEC, NULL on failure or a signal. */
static db_t *connect_db(const char *url, const sigset_t *sigs)
{
    char err[512];
    for (int i = 0; i < CONNECT_WAIT_SEC; i++) {
        db_t *db = db_connect(url, err, sizeof(err));
        if (db)
            return db;
        log_warn("database unreachable, retrying error=\"%s\"", err);
        if (wait_signal(sigs, 1000))
            return NULL;
    }
    log_error("cannot connect to the database error=\"%s\"", err);
    return NULL;
}

static queue_t *connect_queue(const char *url, int timeout_ms, const sigset_t *sigs)
{
    char err[512];
    for (int i = 0; i < CONNECT_WAIT_SEC; i++) {
        queue_t *q = queue_connect(url, timeout_ms, err, sizeof(err));
        if (q)
            return q;
        log_warn("redis unreachable, retrying error=\"%s\"", err);
        if (wait_signal(sigs, 1000))
            return NULL;
    }
    log_error("cannot connect to redis error=\"%s\"", err);
    return NULL;
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

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--run-operator") == 0)
        return ops_main(argv[2]);

    int rc = 1, print = 0;
    config_t cfg;
    bool have_cfg = false;
    opts_t o = {0};
    db_t *db = NULL;
    handoff_t *h = NULL;
    consumer_t *cons = NULL;
    supervisor_t *sup = NULL;
    secrets_keyring_t *ring = NULL;
    healthsrv_t *health = NULL;
    int64_t job_id = 0;
    char hostname[256], err[512], queues_csv[MAX_QUEUES * QUEUE_NAME_MAX], *queues_buf = NULL;
    char *exe = NULL;
    const char *queues[MAX_QUEUES];

    /* --print-config is handled here so that it shows the flags' overrides. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--print-config") == 0) {
            print = 1;
            memmove(&argv[i], &argv[i + 1], (size_t)(argc - i) * sizeof(*argv));
            argc--;
            i--;
        }
    }
    if (config_from_args(&argc, argv, &cfg) != 0)
        return 1;
    have_cfg = true;
    int pf = parse_flags(argc, argv, &o);
    if (pf != 0) {
        rc = pf == 1 ? 0 : 1;
        goto out;
    }
    if (!o.queues)
        o.queues = cfg.worker.queues;
    if (!o.concurrency)
        o.concurrency = cfg.worker.concurrency;
    if (!o.hostname && cfg.core.hostname && *cfg.core.hostname)
        o.hostname = cfg.core.hostname;
    if (print) {
        config_t shown = cfg;
        shown.worker.queues = (char *)o.queues;
        shown.worker.concurrency = o.concurrency;
        shown.core.hostname = (char *)(o.hostname ? o.hostname : "");
        config_print(&shown, stdout);
        rc = 0;
        goto out;
    }

    log_level_t lvl = LOG_LEVEL_INFO;
    if (cfg.logging.level && log_parse_level(cfg.logging.level, &lvl) < 0) {
        fprintf(stderr, "updraft-worker: invalid logging.level \"%s\"\n", cfg.logging.level);
        goto out;
    }
    log_init("worker", lvl);
    if (o.hostname) {
        snprintf(hostname, sizeof(hostname), "%s", o.hostname);
    } else if (gethostname(hostname, sizeof(hostname)) != 0) {
        snprintf(hostname, sizeof(hostname), "localhost");
    }
    hostname[sizeof(hostname) - 1] = '\0';
    queues_buf = strdup(o.queues ? o.queues : "default");
    if (!queues_buf)
        goto out;
    int nq = split_queues(queues_buf, queues, queues_csv, sizeof(queues_csv));
    if (nq < 0)
        goto out;
    /* Templates read variables and connections: the worker needs the key. */
    if (!(ring = secrets_keyring_new(cfg.core.fernet_key, err, sizeof(err)))) {
        log_error("invalid core.fernet_key error=\"%s\"", err);
        fprintf(stderr, "updraft-worker: invalid core.fernet_key: %s\n", err);
        goto out;
    }

    sigset_t sigs, all;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGQUIT);
    all = sigs;
    sigaddset(&all, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &all, NULL); /* inherited by the threads started below */
    signal(SIGPIPE, SIG_IGN);

    if (!(exe = self_exe()))
        log_warn("cannot resolve /proc/self/exe: tasks that need the operator runner will fail");
    if (o.orchestration_only)
        log_warn("orchestration-only mode: tries are completed as success without running "
                 "anything; for benchmarks only");
    if (!(db = connect_db(cfg.database.url, &sigs)))
        goto out;
    if (db_check_schema(db, err, sizeof(err)) != 0) {
        log_error("database schema is not usable, run `updraft db migrate` error=\"%s\"", err);
        fprintf(stderr, "updraft-worker: database schema is not usable: %s\n", err);
        goto out;
    }
    if (jobs_worker_start(db, hostname, (int)getpid(), queues_csv, &job_id) < 0) {
        log_error("cannot register the worker job error=\"%s\"", db_error(db));
        goto out;
    }

    if (o.health_port) {
        /* Unhealthy once heartbeats stop being written for six intervals. */
        int threshold = cfg.worker.heartbeat_sec * 6 > 30 ? cfg.worker.heartbeat_sec * 6 : 30;
        if (!(health = healthsrv_start(o.health_port, "worker", threshold, err, sizeof(err)))) {
            log_error("cannot start the health endpoint error=\"%s\"", err);
            goto out_job;
        }
        healthsrv_beat(health); /* the job row was just written */
    }
    if (!(h = handoff_new(o.concurrency))) {
        log_error("cannot set up the hand-off");
        goto out_job;
    }
    supervisor_opts_t so = {.handoff = h,
                            .job_id = job_id,
                            .hostname = hostname,
                            .queues = queues,
                            .nqueues = (size_t)nq,
                            .pid = (int)getpid(),
                            .heartbeat_sec = cfg.worker.heartbeat_sec,
                            .log_flush_ms = cfg.worker.log_flush_ms,
                            .max_log_bytes = (size_t)cfg.worker.max_log_bytes_per_try,
                            .max_xcom_size = (size_t)cfg.core.max_xcom_size,
                            .max_map_length = cfg.core.max_map_length,
                            .ring = ring,
                            .self_exe = exe,
                            .db_url = cfg.database.url,
                            .orchestration_only = o.orchestration_only,
                            .stop = &g_stop,
                            .kill_now = &g_kill,
                            .shutdown_grace_sec = cfg.worker.shutdown_grace_sec,
                            .health = health};
    consumer_opts_t co = {.handoff = h,
                          .hostname = hostname,
                          .pid = (int)getpid(),
                          .job_id = job_id,
                          .queues = queues,
                          .nqueues = (size_t)nq,
                          .stop = &g_stop};
    if (!(so.db = connect_db(cfg.database.url, &sigs)) ||
        !(so.queue = connect_queue(cfg.redis.url, cfg.redis.timeout_ms, &sigs)) ||
        !(co.db = connect_db(cfg.database.url, &sigs)) ||
        !(co.queue = connect_queue(cfg.redis.url, cfg.redis.timeout_ms, &sigs))) {
        db_close(so.db);
        queue_close(so.queue);
        db_close(co.db);
        queue_close(co.queue);
        goto out_job;
    }
    if (!(sup = supervisor_new(&so, err, sizeof(err)))) {
        log_error("cannot start the supervisor error=\"%s\"", err);
        db_close(so.db);
        queue_close(so.queue);
        db_close(co.db);
        queue_close(co.queue);
        goto out_job;
    }
    if (!(cons = consumer_new(&co, err, sizeof(err)))) {
        log_error("cannot start the consumer error=\"%s\"", err);
        db_close(co.db);
        queue_close(co.queue);
        goto out_job;
    }
    if (supervisor_start(sup) != 0 || consumer_start(cons) != 0) {
        log_error("cannot start threads");
        g_stop = g_kill = true;
        handoff_close(h);
        goto out_job;
    }
    log_info("worker started job_id=%" PRId64 " consumer=%s queues=%s concurrency=%d", job_id,
             consumer_name(cons), queues_csv, o.concurrency);

    int nsig = 0;
    bool closed = false;
    while (!supervisor_done(sup)) {
        int sig = wait_signal(&sigs, 250);
        if (sig > 0) {
            nsig++;
            if (nsig == 1 && sig != SIGQUIT) {
                log_info("warm shutdown: no new tries; running tries get up to %d s to finish, "
                         "then are handed back", cfg.worker.shutdown_grace_sec);
                g_stop = true;
            } else {
                log_warn("cold shutdown (%s): stopping running tries and handing them back",
                         sig == SIGQUIT ? "SIGQUIT" : "second signal");
                g_stop = g_kill = true;
            }
            handoff_wake(h);
        }
        if (g_stop && !closed && consumer_done(cons)) {
            consumer_join(cons);
            handoff_close(h); /* the supervisor returns once every try is reported */
            closed = true;
        }
    }
    rc = g_kill ? 1 : 0;

out_job:
    consumer_join(cons);
    supervisor_join(sup);
    /* This connection idled since startup and may have broken meanwhile. */
    const char *end_state = rc == 0 ? "success" : "failed";
    if (jobs_worker_end(db, job_id, end_state) < 0 &&
        (db_ensure(db, 10000, NULL) < 0 || jobs_worker_end(db, job_id, end_state) < 0))
        log_warn("cannot mark the worker job ended job_id=%" PRId64, job_id);
    log_info("worker stopped job_id=%" PRId64 " exit=%d", job_id, rc);
out:
    consumer_free(cons);
    supervisor_free(sup);
    healthsrv_stop(health);
    handoff_free(h);
    secrets_keyring_free(ring);
    db_close(db);
    free(queues_buf);
    free(exe);
    if (have_cfg)
        config_free(&cfg);
    return rc;
}
