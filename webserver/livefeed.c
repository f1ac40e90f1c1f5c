/*
 * livefeed.c - the change feed behind GET /ui/changes (livefeed.h).
 *
 * Notification n (the sequence number) keeps its run id, or -1 for "not a
 * run", in ring[n % LIVEFEED_RING]; what is older than the ring is known
 * only as "something changed". One mutex and one condition variable guard
 * the ring and the sequence; waiters sleep on the condition variable, so a
 * waiting page costs no CPU until something changes.
 */
#include "webserver/livefeed.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/backoff.h"
#include "core/db.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "store/channels.h"

#define POLL_MS 500

struct livefeed {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t seq; /* the last notification's number */
    uint32_t id;  /* this feed's, so a number from another webserver is known as such */
    int64_t ring[LIVEFEED_RING];
    bool stop;
    char *conninfo;
    pthread_t thread;
    bool started;
};

/* A notification: payload a run id, or anything else (a table's name, ""). */
static void record(livefeed_t *f, int64_t run)
{
    pthread_mutex_lock(&f->mu);
    f->seq++;
    f->ring[f->seq % LIVEFEED_RING] = run;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

static void on_notify(const char *payload, void *arg)
{
    char *end;
    long long v;

    errno = 0;
    v = payload && *payload ? strtoll(payload, &end, 10) : -1;
    if (v < 0 || errno || *end)
        v = -1;
    record(arg, (int64_t)v);
}

static bool stopping(livefeed_t *f)
{
    bool s;

    pthread_mutex_lock(&f->mu);
    s = f->stop;
    pthread_mutex_unlock(&f->mu);
    return s;
}

static void *listen_main(void *arg)
{
    livefeed_t *f = arg;
    db_t *db = NULL;
    backoff_t retry;

    backoff_init(&retry, -1);
    while (!stopping(f)) {
        struct pollfd pfd = {.events = POLLIN};

        if (!db) {
            char err[256];

            db = db_connect(f->conninfo, err, sizeof(err));
            if (db && (db_listen(db, CHANNEL_SCHEDULER) < 0 || db_listen(db, CHANNEL_API) < 0)) {
                db_close(db);
                db = NULL;
            }
            if (!db) {
                int64_t ms = backoff_step(&retry);
                struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
                nanosleep(&ts, NULL);
                continue;
            }
            backoff_init(&retry, -1);
            record(f, -1); /* what changed while nobody listened is unknown */
        }
        pfd.fd = db_socket(db);
        if (pfd.fd < 0 || (poll(&pfd, 1, POLL_MS) > 0 && db_drain_notifies(db, on_notify, f) < 0)) {
            log_warn("live updates lost the database; reconnecting");
            db_close(db);
            db = NULL;
        }
    }
    db_close(db);
    return NULL;
}

livefeed_t *livefeed_start(const char *conninfo)
{
    livefeed_t *f = calloc(1, sizeof(*f));

    if (!f)
        return NULL;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    f->seq = 1;
    f->id = (uint32_t)ts_now() ^ ((uint32_t)getpid() << 16);
    for (size_t i = 0; i < LIVEFEED_RING; i++)
        f->ring[i] = -1;
    f->conninfo = strdup(conninfo ? conninfo : "");
    if (!f->conninfo || pthread_create(&f->thread, NULL, listen_main, f) != 0) {
        livefeed_free(f);
        return NULL;
    }
    f->started = true;
    return f;
}

void livefeed_shutdown(livefeed_t *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->mu);
    f->stop = true;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    if (f->started)
        pthread_join(f->thread, NULL);
    f->started = false;
}

void livefeed_free(livefeed_t *f)
{
    if (!f)
        return;
    livefeed_shutdown(f);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    free(f->conninfo);
    free(f);
}

uint32_t livefeed_id(const livefeed_t *f)
{
    return f->id;
}

uint64_t livefeed_seq(livefeed_t *f)
{
    uint64_t s;

    pthread_mutex_lock(&f->mu);
    s = f->seq;
    pthread_mutex_unlock(&f->mu);
    return s;
}

uint64_t livefeed_wait(livefeed_t *f, uint64_t after, int timeout_ms, int64_t *runs, size_t max,
                       size_t *nruns, bool *all)
{
    struct timespec until;
    uint64_t seq;

    *nruns = 0;
    *all = false;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&f->mu);
    while (f->seq <= after && !f->stop)
        if (pthread_cond_timedwait(&f->cv, &f->mu, &until) == ETIMEDOUT)
            break;
    seq = f->seq;
    if (seq > after) {
        /* Older than the ring, or more runs than the caller takes. */
        if (seq - after > LIVEFEED_RING || seq - after > max)
            *all = true;
        for (uint64_t n = after + 1; !*all && n <= seq; n++) {
            int64_t run = f->ring[n % LIVEFEED_RING];

            if (run < 0)
                *all = true;
            else
                runs[(*nruns)++] = run;
        }
    }
    pthread_mutex_unlock(&f->mu);
    return seq;
}
