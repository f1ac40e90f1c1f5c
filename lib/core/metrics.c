/*
 * metrics.c - see metrics.h.
 *
 * Three parts:
 *
 *   the table   metric_defs below: one row per metric_id_t (kind,
 *               Prometheus name, label names, StatsD template, help text,
 *               histogram buckets). /metrics, the StatsD names and
 *               docs/metrics.md (metrics_write_markdown) all come from it.
 *
 *   recording   each recording thread owns one ring of a fixed pool
 *               (rings[], static memory: nothing is ever allocated on the
 *               caller's path). A ring is a single-producer single-consumer
 *               byte ring of variable-length events (a 24-byte header and
 *               the label bytes, 8-byte aligned; a pad record fills the end
 *               when an event would wrap). The producer publishes with a
 *               release store of head; the consumer frees space with a
 *               release store of tail. A thread claims a free ring on its
 *               first event (a compare-and-swap) and gives it back when it
 *               exits (a pthread key destructor marks it orphaned; the
 *               consumer drains it and frees it). A full ring, or no free
 *               ring, drops the event and counts it (`dropped`).
 *
 *   draining    one consumer at a time (reg.lock): the sender thread every
 *               metrics.statsd_flush_ms with StatsD on (else every
 *               IDLE_DRAIN_MS), or sooner when a ring passes half full (its
 *               producer writes an eventfd once, non-blocking), and
 *               metrics_render_prometheus before rendering,
 *               so a scrape sees everything recorded before it. Events fold
 *               into the registry (a hash table of series, bounded per
 *               metric; past the bound a new label set lands in the
 *               metric's "__overflow__" series) and, with StatsD on, into
 *               the datagram being built (lines of Airflow's format, at
 *               most STATSD_DATAGRAM bytes, sent when full and every
 *               metrics.statsd_flush_ms).
 *
 * Lock order: ctl.lock (start and stop) before reg.lock;
 * reg.lock is never held while waiting for anything but a non-blocking
 * send().
 */
#include "core/metrics.h"

#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/errbuf.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/strbuf.h"
#include "core/utf8.h"

#define RING_BYTES (128 * 1024) /* per recording thread */
#define RING_SLOTS 128          /* recording threads at once; more drop their events */
#define IDLE_DRAIN_MS 1000      /* StatsD off: a scrape drains first, a half-full ring kicks */
#define STATSD_DATAGRAM 1432    /* fits one Ethernet frame over IPv4 and IPv6 */
#define STATSD_NAME_MAX 250     /* Airflow's longest stat name; longer ones are not sent */
#define STATSD_PREFIX_MAX 100
#define STATSD_LIST_MAX 64 /* prefixes in an allow or block list */
#define DEFAULT_MAX_SERIES 1000
#define OVERFLOW_VALUE "__overflow__"

/* ---- the table --------------------------------------------------------- */

typedef enum kind { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM } kind_t;

typedef struct metric_def {
    kind_t kind;
    const char *prom;      /* Prometheus name */
    const char *labels[3]; /* label names, positional; NULL past the last */
    const char *statsd;    /* Airflow's name, {label} replaced by the label's value */
    const char *help;
    const double *buckets; /* histograms: upper bounds in seconds, ascending */
    size_t nbuckets;
} metric_def_t;

/* A Postgres or Redis round trip, a claim, a hop: half a millisecond up. */
static const double B_FAST[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                0.1,    0.25,  0.5,    1,     2.5,  5,     10};
/* One pass of the scheduler's loop. */
static const double B_LOOP[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                0.25,  0.5,    1,     2.5,  5,     10,   30};
/* Waiting: queued, scheduled later than due. */
static const double B_DELAY[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1,    2.5,  5,
                                 10,   30,   60,  300,  600, 1800, 3600, 21600};
/* Tasks and DAG runs: a second to a day. */
static const double B_RUN[] = {0.1, 0.5,  1,    5,    10,    30,    60,   300,
                               600, 1800, 3600, 7200, 14400, 43200, 86400};

#define BUCKETS(b) b, sizeof(b) / sizeof(b[0])
#define NOLABELS                                                                                   \
    {                                                                                              \
        NULL, NULL, NULL                                                                           \
    }
#define L_DAG                                                                                      \
    {                                                                                              \
        "dag_id", NULL, NULL                                                                       \
    }
#define L_TASK                                                                                     \
    {                                                                                              \
        "dag_id", "task_id", NULL                                                                  \
    }
#define L_POOL                                                                                     \
    {                                                                                              \
        "pool", NULL, NULL                                                                         \
    }
#define L_QUEUE                                                                                    \
    {                                                                                              \
        "queue", NULL, NULL                                                                        \
    }

static const metric_def_t metric_defs[M__COUNT] = {
    [M_SCHEDULER_HEARTBEAT] = {KIND_COUNTER, "updraft_scheduler_heartbeat_total", NOLABELS,
                               "scheduler_heartbeat", "Scheduler heartbeats."},
    [M_SCHEDULER_LOOP_DURATION] = {KIND_HISTOGRAM, "updraft_scheduler_loop_duration_seconds",
                                   NOLABELS, "scheduler.scheduler_loop_duration",
                                   "Time one pass of the scheduling loop took.", BUCKETS(B_LOOP)},
    [M_SCHEDULER_TASKS_STARVING] = {KIND_GAUGE, "updraft_scheduler_tasks_starving", NOLABELS,
                                    "scheduler.tasks.starving",
                                    "Task instances that could not be queued for want of a free "
                                    "pool slot in the last pass."},
    [M_SCHEDULER_TASKS_EXECUTABLE] = {KIND_GAUGE, "updraft_scheduler_tasks_executable", NOLABELS,
                                      "scheduler.tasks.executable",
                                      "Task instances ready to be queued in the last pass."},
    [M_SCHEDULER_DAGRUNS_RUNNING] = {KIND_GAUGE, "updraft_scheduler_dagruns_running", NOLABELS,
                                     "scheduler.dagruns.running", "DAG runs in the running state."},
    [M_SCHEDULER_TASKS_STUCK_IN_QUEUED] = {KIND_COUNTER,
                                           "updraft_scheduler_tasks_stuck_in_queued_total",
                                           NOLABELS, "scheduler.tasks.stuck_in_queued",
                                           "Tries that stayed queued past "
                                           "scheduler.task_queued_timeout_sec."},
    [M_ZOMBIES_KILLED] = {KIND_COUNTER, "updraft_task_instances_without_heartbeats_killed_total",
                          L_TASK, "task_instances_without_heartbeats_killed",
                          "Running tries failed (or retried) because their heartbeat stopped."},
    [M_DAG_PROCESSING_TOTAL_PARSE_TIME] = {KIND_GAUGE,
                                           "updraft_dag_processing_total_parse_time_seconds",
                                           NOLABELS, "dag_processing.total_parse_time",
                                           "Time the last scan of the DAGs folder took."},
    [M_DAG_PROCESSING_IMPORT_ERRORS] = {KIND_GAUGE, "updraft_dag_processing_import_errors",
                                        NOLABELS, "dag_processing.import_errors",
                                        "DAG files that failed to load in the last scan."},
    [M_DAGBAG_SIZE] = {KIND_GAUGE, "updraft_dagbag_size", NOLABELS, "dagbag_size",
                       "DAGs found in the last scan."},
    [M_DAG_PROCESSING_LAST_DURATION] = {KIND_GAUGE,
                                        "updraft_dag_processing_last_duration_seconds",
                                        {"file", NULL, NULL},
                                        "dag_processing.last_duration.{file}",
                                        "Time the last load of one DAG file took."},
    [M_EXECUTOR_OPEN_SLOTS] = {KIND_GAUGE, "updraft_executor_open_slots", NOLABELS,
                               "executor.open_slots", "Free task slots of the live workers."},
    [M_EXECUTOR_QUEUED_TASKS] = {KIND_GAUGE, "updraft_executor_queued_tasks", NOLABELS,
                                 "executor.queued_tasks", "Task instances in the queued state."},
    [M_EXECUTOR_RUNNING_TASKS] = {KIND_GAUGE, "updraft_executor_running_tasks", NOLABELS,
                                  "executor.running_tasks", "Task instances in the running state."},
    [M_POOL_OPEN_SLOTS] = {KIND_GAUGE, "updraft_pool_open_slots", L_POOL, "pool.open_slots.{pool}",
                           "Free slots of a pool."},
    [M_POOL_QUEUED_SLOTS] = {KIND_GAUGE, "updraft_pool_queued_slots", L_POOL,
                             "pool.queued_slots.{pool}", "Slots of a pool held by queued tries."},
    [M_POOL_RUNNING_SLOTS] = {KIND_GAUGE, "updraft_pool_running_slots", L_POOL,
                              "pool.running_slots.{pool}",
                              "Slots of a pool held by running tries."},
    [M_POOL_STARVING_TASKS] = {KIND_GAUGE, "updraft_pool_starving_tasks", L_POOL,
                               "pool.starving_tasks.{pool}",
                               "Task instances waiting for a slot of a pool."},
    [M_DAGRUN_DURATION_SUCCESS] = {KIND_HISTOGRAM, "updraft_dagrun_duration_success_seconds", L_DAG,
                                   "dagrun.duration.success.{dag_id}",
                                   "Duration of DAG runs that succeeded.", BUCKETS(B_RUN)},
    [M_DAGRUN_DURATION_FAILED] = {KIND_HISTOGRAM, "updraft_dagrun_duration_failed_seconds", L_DAG,
                                  "dagrun.duration.failed.{dag_id}",
                                  "Duration of DAG runs that failed.", BUCKETS(B_RUN)},
    [M_DAGRUN_SCHEDULE_DELAY] =
        {KIND_HISTOGRAM, "updraft_dagrun_schedule_delay_seconds", L_DAG,
         "dagrun.schedule_delay.{dag_id}",
         "Time between a scheduled run's due time (its data interval's end) and its start.",
         BUCKETS(B_DELAY)},
    [M_DAGRUN_FIRST_TASK_SCHEDULING_DELAY] =
        {KIND_HISTOGRAM, "updraft_dagrun_first_task_scheduling_delay_seconds", L_DAG,
         "dagrun.{dag_id}.first_task_scheduling_delay",
         "Time between a scheduled run's due time and the start of its first task.",
         BUCKETS(B_DELAY)},
    [M_TI_START] = {KIND_COUNTER, "updraft_ti_start_total", L_TASK, "ti.start.{dag_id}.{task_id}",
                    "Tries started."},
    [M_TI_FINISH] = {KIND_COUNTER,
                     "updraft_ti_finish_total",
                     {"dag_id", "task_id", "state"},
                     "ti.finish.{dag_id}.{task_id}.{state}",
                     "Tries finished, by final state."},
    [M_TI_SUCCESSES] = {KIND_COUNTER, "updraft_ti_successes_total", NOLABELS, "ti_successes",
                        "Tries that succeeded."},
    [M_TI_FAILURES] = {KIND_COUNTER, "updraft_ti_failures_total", NOLABELS, "ti_failures",
                       "Tries that failed."},
    [M_TASK_DURATION] = {KIND_HISTOGRAM, "updraft_task_duration_seconds", L_TASK,
                         "dag.{dag_id}.{task_id}.duration", "Duration of a try, start to end.",
                         BUCKETS(B_RUN)},
    [M_TASK_QUEUED_DURATION] = {KIND_HISTOGRAM, "updraft_task_queued_duration_seconds", L_TASK,
                                "dag.{dag_id}.{task_id}.queued_duration",
                                "Time a try spent queued before it started.", BUCKETS(B_DELAY)},
    [M_CLAIM_LATENCY] = {KIND_HISTOGRAM, "updraft_claim_latency_seconds", L_QUEUE, "claim.latency",
                         "Time from a worker reading a queue message to its claim committed.",
                         BUCKETS(B_FAST)},
    [M_HOP_LATENCY] = {KIND_HISTOGRAM, "updraft_hop_latency_seconds", L_QUEUE, "hop.latency",
                       "Time from an upstream try's end to a downstream try's start.",
                       BUCKETS(B_FAST)},
    [M_OUTBOX_BACKLOG] = {KIND_GAUGE, "updraft_alerts_backlog", NOLABELS, "alerts.backlog",
                          "Alert deliveries pending."},
    [M_QUEUE_LENGTH] = {KIND_GAUGE, "updraft_queue_length", L_QUEUE, "queue.length.{queue}",
                        "Entries in a queue's Redis stream."},
    [M_QUEUE_LAG] = {KIND_GAUGE, "updraft_queue_lag", L_QUEUE, "queue.lag.{queue}",
                     "Entries of a queue not yet delivered to a worker."},
    [M_QUEUE_PENDING] = {KIND_GAUGE, "updraft_queue_pending", L_QUEUE, "queue.pending.{queue}",
                         "Entries of a queue delivered to a worker and not yet acknowledged."},
    [M_DB_ROUND_TRIP] = {KIND_HISTOGRAM, "updraft_db_round_trip_seconds", NOLABELS, "db.round_trip",
                         "Time a trivial Postgres query took.", BUCKETS(B_FAST)},
    [M_WORKER_SLOTS_USED] = {KIND_GAUGE, "updraft_worker_slots_used", NOLABELS, "worker.slots.used",
                             "Task slots of this worker in use."},
    [M_WORKER_SLOTS_FREE] = {KIND_GAUGE, "updraft_worker_slots_free", NOLABELS, "worker.slots.free",
                             "Task slots of this worker free."},
    [M_METRICS_DROPPED] = {KIND_COUNTER, "updraft_metrics_dropped_total", NOLABELS,
                           "metrics.dropped",
                           "Metric events lost because the recording thread's buffer was full."},
};

static size_t def_nlabels(const metric_def_t *d)
{
    size_t n = 0;
    while (n < 3 && d->labels[n])
        n++;
    return n;
}

/* ---- recording: the rings ---------------------------------------------- */

enum { SLOT_FREE, SLOT_OWNED, SLOT_ORPHAN };
enum { OP_PAD, OP_COUNT, OP_GAUGE, OP_OBSERVE };

/* An event: this header, then the label bytes (len[0] + len[1] + len[2]). */
typedef struct ev_hdr {
    uint32_t size; /* the whole record, a multiple of 8 */
    uint8_t op;
    uint8_t id;
    uint8_t len[3];
    double v;
} ev_hdr_t;

_Static_assert(METRIC_LABEL_MAX <= UINT8_MAX, "a label length fits one byte");
_Static_assert(RING_BYTES % 8 == 0, "records are 8-byte aligned");

typedef struct ring {
    _Atomic int state;
    _Atomic uint64_t head; /* bytes written (producer) */
    _Atomic uint64_t tail; /* bytes consumed (consumer) */
    _Atomic bool kicked;   /* the sender was woken for this ring and has not drained it yet */
    _Alignas(64) unsigned char data[RING_BYTES];
} ring_t;

static ring_t rings[RING_SLOTS];
static _Atomic uint64_t dropped;
static _Thread_local ring_t *my_ring;
/* Wakes the sender early when a ring is half full (an eventfd, never closed:
 * a recording thread may be about to write to it). */
static _Atomic int wake_fd = -1;
static pthread_once_t wake_once = PTHREAD_ONCE_INIT;

static void make_wake_fd(void)
{
    atomic_store(&wake_fd, eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
}

static void kick(void)
{
    int fd = atomic_load_explicit(&wake_fd, memory_order_relaxed);
    if (fd >= 0) {
        uint64_t one = 1;
        ssize_t w = write(fd, &one, sizeof(one)); /* non-blocking; a full counter is awake anyway */
        (void)w;
    }
}
static pthread_key_t ring_key;
static pthread_once_t ring_key_once = PTHREAD_ONCE_INIT;
static bool ring_key_ok;

static void release_ring(void *p)
{
    ring_t *r = p;
    my_ring = NULL;
    atomic_store_explicit(&r->state, SLOT_ORPHAN, memory_order_release);
}

static void make_ring_key(void)
{
    ring_key_ok = pthread_key_create(&ring_key, release_ring) == 0;
}

static ring_t *claim_ring(void)
{
    pthread_once(&ring_key_once, make_ring_key);
    if (!ring_key_ok)
        return NULL;
    for (size_t i = 0; i < RING_SLOTS; i++) {
        int expect = SLOT_FREE;
        if (atomic_load_explicit(&rings[i].state, memory_order_relaxed) == SLOT_FREE &&
            atomic_compare_exchange_strong(&rings[i].state, &expect, SLOT_OWNED)) {
            if (pthread_setspecific(ring_key, &rings[i]) != 0) {
                atomic_store(&rings[i].state, SLOT_FREE);
                return NULL;
            }
            my_ring = &rings[i];
            return my_ring;
        }
    }
    return NULL;
}

/* The bytes of s kept as a label value: at most METRIC_LABEL_MAX, cut on a character boundary. */
static size_t label_len(const char *s)
{
    if (!s)
        return 0;
    size_t n = strnlen(s, METRIC_LABEL_MAX + 1);
    if (n <= METRIC_LABEL_MAX)
        return n;
    n = METRIC_LABEL_MAX;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--; /* s[n] continues a character: cut before that character */
    return n;
}

static void record(int op, metric_id_t m, double v, const char *l1, const char *l2, const char *l3)
{
    if ((unsigned)m >= M__COUNT)
        return;
    ring_t *r = my_ring ? my_ring : claim_ring();
    if (!r) {
        atomic_fetch_add_explicit(&dropped, 1, memory_order_relaxed);
        return;
    }
    const char *ls[3] = {l1, l2, l3};
    size_t nl = def_nlabels(&metric_defs[m]), lens[3] = {0, 0, 0};
    size_t need = sizeof(ev_hdr_t);
    for (size_t i = 0; i < nl; i++) {
        lens[i] = label_len(ls[i]);
        need += lens[i];
    }
    need = (need + 7) & ~(size_t)7;

    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    size_t off = (size_t)(head % RING_BYTES), to_end = RING_BYTES - off;
    size_t total = to_end < need ? to_end + need : need;
    if (RING_BYTES - (size_t)(head - tail) < total) {
        atomic_fetch_add_explicit(&dropped, 1, memory_order_relaxed);
        return;
    }
    if (to_end < need) { /* a pad record to the end, the event at the start */
        uint32_t pad = (uint32_t)to_end;
        uint8_t pop = OP_PAD;
        memcpy(r->data + off, &pad, sizeof(pad));
        memcpy(r->data + off + offsetof(ev_hdr_t, op), &pop, 1);
        off = 0;
    }
    ev_hdr_t h = {.size = (uint32_t)need, .op = (uint8_t)op, .id = (uint8_t)m, .v = v};
    unsigned char *p = r->data + off + sizeof(h);
    for (size_t i = 0; i < nl; i++) {
        h.len[i] = (uint8_t)lens[i];
        memcpy(p, ls[i], lens[i]);
        p += lens[i];
    }
    memcpy(r->data + off, &h, sizeof(h));
    atomic_store_explicit(&r->head, head + total, memory_order_release);
    if ((size_t)(head + total - tail) > RING_BYTES / 2 &&
        !atomic_load_explicit(&r->kicked, memory_order_relaxed) &&
        !atomic_exchange_explicit(&r->kicked, true, memory_order_relaxed))
        kick();
}

void metric_count(metric_id_t m, double n, const char *l1, const char *l2, const char *l3)
{
    if (!(n >= 0) || isinf(n)) /* a counter only goes up; NaN is refused too */
        return;
    record(OP_COUNT, m, n, l1, l2, l3);
}

void metric_gauge(metric_id_t m, double v, const char *l1, const char *l2, const char *l3)
{
    record(OP_GAUGE, m, v, l1, l2, l3);
}

void metric_observe(metric_id_t m, double v, const char *l1, const char *l2, const char *l3)
{
    if (isnan(v))
        return;
    record(OP_OBSERVE, m, v, l1, l2, l3);
}

/* ---- the registry -------------------------------------------------------- */

typedef struct series {
    struct series *hnext; /* hash chain */
    struct series *next;  /* the metric's series, in order of first sight */
    uint64_t hash;
    uint8_t id;
    uint8_t len[3];
    double value;         /* counter, gauge */
    double sum;           /* histogram */
    uint64_t count;       /* histogram */
    uint64_t *buckets;    /* histogram: observations per bucket (not cumulative) */
    const char *label[3]; /* NUL-terminated, inside the same allocation */
} series_t;

static struct {
    pthread_mutex_t lock; /* everything below, the rings' consumer side and statsd */
    series_t **table;
    size_t tcap, tcount;
    series_t *first[M__COUNT], *last[M__COUNT], *overflow[M__COUNT];
    size_t nseries[M__COUNT];
    size_t max_series;
    char component[32];
    char hostname[256];
} reg = {.lock = PTHREAD_MUTEX_INITIALIZER, .max_series = DEFAULT_MAX_SERIES};

static struct {
    bool on;
    int fd;
    char prefix[STATSD_PREFIX_MAX + 1];
    char *allow[STATSD_LIST_MAX], *block[STATSD_LIST_MAX];
    size_t nallow, nblock;
    char buf[STATSD_DATAGRAM];
    size_t len;
} sd = {.fd = -1};

static uint64_t hash_labels(int id, const char *const *ls, const size_t *lens, size_t nl)
{
    uint64_t h = HASH_FNV64_OFFSET ^ (uint64_t)id; /* FNV-1a, as core/hash.h */
    for (size_t i = 0; i < nl; i++) {
        for (size_t j = 0; j < lens[i]; j++)
            h = (h ^ (unsigned char)ls[i][j]) * HASH_FNV64_PRIME;
        h = (h ^ 0xFF) * HASH_FNV64_PRIME; /* a separator no UTF-8 text holds */
    }
    return h;
}

static int grow_table(void)
{
    size_t cap = reg.tcap ? reg.tcap * 2 : 256;
    series_t **t = calloc(cap, sizeof(*t));
    if (!t)
        return -1;
    for (size_t i = 0; i < reg.tcap; i++) {
        for (series_t *s = reg.table[i], *n; s; s = n) {
            n = s->hnext;
            s->hnext = t[s->hash & (cap - 1)];
            t[s->hash & (cap - 1)] = s;
        }
    }
    free(reg.table);
    reg.table = t;
    reg.tcap = cap;
    return 0;
}

static series_t *new_series(int id, const char *const *ls, const size_t *lens, size_t nl,
                            uint64_t hash)
{
    const metric_def_t *d = &metric_defs[id];
    size_t bytes = sizeof(series_t) + 3;
    for (size_t i = 0; i < nl; i++)
        bytes += lens[i];
    size_t nb = d->kind == KIND_HISTOGRAM ? d->nbuckets : 0;
    bytes = (bytes + 7) & ~(size_t)7;
    series_t *s = calloc(1, bytes + nb * sizeof(uint64_t));
    if (!s)
        return NULL;
    char *p = (char *)(s + 1);
    for (size_t i = 0; i < 3; i++) {
        s->label[i] = p;
        if (i < nl) {
            memcpy(p, ls[i], lens[i]);
            s->len[i] = (uint8_t)lens[i];
            p += lens[i];
        }
        *p++ = '\0';
    }
    if (nb)
        s->buckets = (uint64_t *)((char *)s + bytes);
    s->id = (uint8_t)id;
    s->hash = hash;
    return s;
}

static void link_series(series_t *s, bool hashed)
{
    int id = s->id;
    if (reg.last[id])
        reg.last[id]->next = s;
    else
        reg.first[id] = s;
    reg.last[id] = s;
    if (hashed) {
        s->hnext = reg.table[s->hash & (reg.tcap - 1)];
        reg.table[s->hash & (reg.tcap - 1)] = s;
        reg.tcount++;
        reg.nseries[id]++;
    }
}

/* The series of (id, labels), made when new; NULL when out of memory. */
static series_t *find_series(int id, const char *const *ls, const size_t *lens)
{
    size_t nl = def_nlabels(&metric_defs[id]);
    uint64_t h = hash_labels(id, ls, lens, nl);
    if (reg.tcap) {
        for (series_t *s = reg.table[h & (reg.tcap - 1)]; s; s = s->hnext) {
            if (s->hash != h || s->id != id)
                continue;
            size_t i = 0;
            while (i < nl && s->len[i] == lens[i] && memcmp(s->label[i], ls[i], lens[i]) == 0)
                i++;
            if (i == nl)
                return s;
        }
    }
    if (nl > 0 && reg.nseries[id] >= reg.max_series) {
        if (!reg.overflow[id]) {
            const char *ol[3] = {OVERFLOW_VALUE, OVERFLOW_VALUE, OVERFLOW_VALUE};
            size_t olen[3] = {sizeof(OVERFLOW_VALUE) - 1, sizeof(OVERFLOW_VALUE) - 1,
                              sizeof(OVERFLOW_VALUE) - 1};
            series_t *s = new_series(id, ol, olen, nl, 0);
            if (!s)
                return NULL;
            reg.overflow[id] = s;
            link_series(s, false);
        }
        return reg.overflow[id];
    }
    if ((reg.tcount + 1) * 4 > reg.tcap * 3 && grow_table() < 0)
        return NULL;
    series_t *s = new_series(id, ls, lens, nl, h);
    if (!s)
        return NULL;
    link_series(s, true);
    return s;
}

static void apply_registry(int op, int id, double v, const char *const *ls, const size_t *lens)
{
    series_t *s = find_series(id, ls, lens);
    if (!s) {
        atomic_fetch_add_explicit(&dropped, 1, memory_order_relaxed);
        return;
    }
    const metric_def_t *d = &metric_defs[id];
    if (op == OP_COUNT) {
        s->value += v;
    } else if (op == OP_GAUGE) {
        s->value = v;
    } else if (d->kind == KIND_HISTOGRAM) {
        size_t i = 0;
        while (i < d->nbuckets && v > d->buckets[i])
            i++;
        if (i < d->nbuckets)
            s->buckets[i]++;
        s->sum += v;
        s->count++;
    } else {
        s->value = v; /* an observation of a gauge: its latest value */
    }
}

/* ---- StatsD -------------------------------------------------------------- */

static bool stat_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}

/*
 * The StatsD name of an event: the template with each {label} replaced by
 * its value, every character outside [A-Za-z0-9_.-] turned into '_' (as
 * Airflow's stat name validation would otherwise refuse it). 0, or -1 when
 * longer than Airflow's STATSD_NAME_MAX (then not sent).
 */
static int statsd_name(int id, const char *const *ls, const size_t *lens, char *out, size_t outlen)
{
    const metric_def_t *d = &metric_defs[id];
    size_t nl = def_nlabels(d), n = 0;
    for (const char *t = d->statsd; *t;) {
        const char *val = t;
        size_t vlen = 1;
        bool sub = false;
        if (*t == '{') {
            const char *close = strchr(t, '}');
            for (size_t i = 0; close && i < nl; i++) {
                if (strlen(d->labels[i]) == (size_t)(close - t - 1) &&
                    strncmp(t + 1, d->labels[i], (size_t)(close - t - 1)) == 0) {
                    val = ls[i];
                    vlen = lens[i];
                    t = close + 1;
                    sub = true;
                    break;
                }
            }
        }
        if (!sub)
            t++;
        if (n + vlen >= outlen || n + vlen > STATSD_NAME_MAX)
            return -1;
        for (size_t i = 0; i < vlen; i++)
            out[n++] = stat_char((unsigned char)val[i]) ? val[i] : '_';
    }
    out[n] = '\0';
    return 0;
}

static bool prefix_listed(char *const *list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strncasecmp(name, list[i], strlen(list[i])) == 0)
            return true;
    return false;
}

/* Whether Airflow's metrics_allow_list / metrics_block_list let name through. */
static bool statsd_allowed(const char *name)
{
    if (sd.nallow)
        return prefix_listed(sd.allow, sd.nallow, name);
    return !prefix_listed(sd.block, sd.nblock, name);
}

static void statsd_flush(void)
{
    if (sd.len && sd.fd >= 0) {
        ssize_t w = send(sd.fd, sd.buf, sd.len, MSG_DONTWAIT | MSG_NOSIGNAL);
        (void)w; /* nobody listening, or a full socket buffer: StatsD is best effort */
    }
    sd.len = 0;
}

static void statsd_line(const char *line, size_t n)
{
    if (n > sizeof(sd.buf))
        return;
    if (sd.len && sd.len + 1 + n > sizeof(sd.buf))
        statsd_flush();
    if (sd.len)
        sd.buf[sd.len++] = '\n';
    memcpy(sd.buf + sd.len, line, n);
    sd.len += n;
}

/* v as the shortest decimal that reads back the same (integers without a point). */
static void fmt_num(double v, char *buf, size_t len)
{
    if (isnan(v))
        snprintf(buf, len, "NaN");
    else if (isinf(v))
        snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
    else if (v == rint(v) && fabs(v) < 1e15)
        snprintf(buf, len, "%.0f", v);
    else {
        snprintf(buf, len, "%.15g", v);
        if (strtod(buf, NULL) != v)
            snprintf(buf, len, "%.17g", v);
    }
}

static void apply_statsd(int op, int id, double v, const char *const *ls, const size_t *lens)
{
    char name[STATSD_NAME_MAX + 1], num[40], line[STATSD_PREFIX_MAX + STATSD_NAME_MAX + 64];
    if (statsd_name(id, ls, lens, name, sizeof(name)) < 0 || !statsd_allowed(name))
        return;
    const char *type = "c";
    if (op == OP_OBSERVE && metric_defs[id].kind == KIND_HISTOGRAM) {
        snprintf(num, sizeof(num), "%.6f", v * 1000.0); /* timers in ms, as Airflow's */
        type = "ms";
    } else if (op == OP_COUNT) {
        fmt_num(v, num, sizeof(num));
    } else {
        if (!isfinite(v))
            return;
        fmt_num(v, num, sizeof(num));
        type = "g";
        if (v < 0) { /* "-3|g" would be a decrement: set 0 first, as Python's statsd does */
            int n = snprintf(line, sizeof(line), "%s%s%s:0|g", sd.prefix, sd.prefix[0] ? "." : "",
                             name);
            statsd_line(line, (size_t)n);
        }
    }
    int n = snprintf(line, sizeof(line), "%s%s%s:%s|%s", sd.prefix, sd.prefix[0] ? "." : "", name,
                     num, type);
    if (n > 0 && (size_t)n < sizeof(line))
        statsd_line(line, (size_t)n);
}

/* ---- draining ------------------------------------------------------------ */

static void apply_event(int op, int id, double v, const char *const *ls, const size_t *lens)
{
    apply_registry(op, id, v, ls, lens);
    if (sd.on)
        apply_statsd(op, id, v, ls, lens);
}

static void drain_ring(ring_t *r)
{
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    while (tail < head) {
        const unsigned char *p = r->data + tail % RING_BYTES;
        ev_hdr_t h;
        memcpy(&h.size, p, sizeof(h.size));
        memcpy(&h.op, p + offsetof(ev_hdr_t, op), 1);
        if (h.op != OP_PAD) {
            memcpy(&h, p, sizeof(h));
            const char *ls[3];
            size_t lens[3], at = sizeof(h);
            for (size_t i = 0; i < 3; i++) {
                ls[i] = (const char *)p + at;
                lens[i] = h.len[i];
                at += h.len[i];
            }
            if (h.id < M__COUNT)
                apply_event(h.op, h.id, h.v, ls, lens);
        }
        tail += h.size;
    }
    atomic_store_explicit(&r->tail, tail, memory_order_release);
    atomic_store_explicit(&r->kicked, false, memory_order_relaxed);
}

/* Every ring into the registry (and StatsD); reg.lock held. */
static void drain_locked(void)
{
    for (size_t i = 0; i < RING_SLOTS; i++) {
        ring_t *r = &rings[i];
        int st = atomic_load_explicit(&r->state, memory_order_acquire);
        if (st == SLOT_FREE)
            continue;
        drain_ring(r);
        if (st == SLOT_ORPHAN)
            atomic_store_explicit(&r->state, SLOT_FREE, memory_order_release);
    }
    uint64_t d = atomic_exchange_explicit(&dropped, 0, memory_order_relaxed);
    if (d) {
        size_t lens[3] = {0, 0, 0};
        const char *ls[3] = {"", "", ""};
        apply_event(OP_COUNT, M_METRICS_DROPPED, (double)d, ls, lens);
    }
}

/* ---- the sender ---------------------------------------------------------- */

static struct {
    pthread_mutex_t lock; /* start and stop */
    pthread_t tid;
    bool running;
    _Atomic bool stopping;
    int flush_ms;
} ctl = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *sender_main(void *arg)
{
    (void)arg;
    int64_t last_flush = mono_ms();
    int fd = atomic_load(&wake_fd);
    while (!atomic_load(&ctl.stopping)) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int wait_ms = sd.on ? ctl.flush_ms : IDLE_DRAIN_MS;
        if (poll(&p, fd >= 0 ? 1 : 0, wait_ms) > 0) {
            uint64_t n;
            ssize_t r = read(fd, &n, sizeof(n)); /* clears it */
            (void)r;
        }
        if (atomic_load(&ctl.stopping))
            break;
        pthread_mutex_lock(&reg.lock);
        drain_locked();
        int64_t now = mono_ms();
        if (now - last_flush >= ctl.flush_ms) {
            statsd_flush();
            last_flush = now;
        }
        pthread_mutex_unlock(&reg.lock);
    }
    return NULL;
}

static void free_lists(void)
{
    for (size_t i = 0; i < sd.nallow; i++)
        free(sd.allow[i]);
    for (size_t i = 0; i < sd.nblock; i++)
        free(sd.block[i]);
    sd.nallow = sd.nblock = 0;
}

/* "a, b.c" into list (lower-cased prefixes, blanks trimmed). 0, or -1 with err. */
static int parse_list(const char *s, char **list, size_t *n, const char *what, char *err,
                      size_t errlen)
{
    *n = 0;
    for (const char *p = s ? s : ""; *p;) {
        size_t len = strcspn(p, ",");
        const char *item = p;
        size_t ilen = len;
        while (ilen && (*item == ' ' || *item == '\t'))
            item++, ilen--;
        while (ilen && (item[ilen - 1] == ' ' || item[ilen - 1] == '\t'))
            ilen--;
        if (ilen) {
            if (*n == STATSD_LIST_MAX) {
                errbuf_set(err, errlen, "metrics.%s: more than %d prefixes", what, STATSD_LIST_MAX);
                return -1;
            }
            char *c = strndup(item, ilen);
            if (!c) {
                errbuf_set(err, errlen, "out of memory");
                return -1;
            }
            for (char *q = c; *q; q++)
                if (*q >= 'A' && *q <= 'Z')
                    *q = (char)(*q - 'A' + 'a');
            list[(*n)++] = c;
        }
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

static int open_statsd(const config_t *cfg, char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL;
    char port[16];
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    snprintf(port, sizeof(port), "%d", cfg->metrics.statsd_port);
    int rc = getaddrinfo(cfg->metrics.statsd_host, port, &hints, &res);
    if (rc != 0) {
        errbuf_set(err, errlen, "metrics.statsd_host: cannot resolve '%.200s': %s",
                   cfg->metrics.statsd_host, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
        if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        errbuf_set(err, errlen, "metrics.statsd_host: cannot open a UDP socket to %.200s:%d: %s",
                   cfg->metrics.statsd_host, cfg->metrics.statsd_port, strerror(errno));
        return -1;
    }
    sd.fd = fd;
    return 0;
}

/* StatsD settings into sd; reg.lock held. */
static int setup_statsd(const config_t *cfg, char *err, size_t errlen)
{
    free_lists();
    if (!cfg->metrics.statsd_on)
        return 0;
    if (strlen(cfg->metrics.statsd_prefix) > STATSD_PREFIX_MAX) {
        errbuf_set(err, errlen, "metrics.statsd_prefix: longer than %d characters",
                   STATSD_PREFIX_MAX);
        return -1;
    }
    snprintf(sd.prefix, sizeof(sd.prefix), "%s", cfg->metrics.statsd_prefix);
    if (parse_list(cfg->metrics.statsd_allow_list, sd.allow, &sd.nallow, "statsd_allow_list", err,
                   errlen) < 0 ||
        parse_list(cfg->metrics.statsd_block_list, sd.block, &sd.nblock, "statsd_block_list", err,
                   errlen) < 0 ||
        open_statsd(cfg, err, errlen) < 0) {
        free_lists();
        return -1;
    }
    if (sd.nallow && sd.nblock)
        log_warn("metrics.statsd_allow_list and statsd_block_list are both set: the block list "
                 "is ignored");
    sd.len = 0;
    sd.on = true;
    return 0;
}

int metrics_start(const config_t *cfg, const char *component, const char *hostname, char *err,
                  size_t errlen)
{
    int rc = -1;
    pthread_mutex_lock(&ctl.lock);
    if (ctl.running) {
        errbuf_set(err, errlen, "metrics are already started");
        goto out;
    }
    pthread_mutex_lock(&reg.lock);
    snprintf(reg.component, sizeof(reg.component), "%s", component ? component : "");
    snprintf(reg.hostname, sizeof(reg.hostname), "%s", hostname ? hostname : "");
    reg.max_series = cfg->metrics.max_series_per_metric > 0
                         ? (size_t)cfg->metrics.max_series_per_metric
                         : DEFAULT_MAX_SERIES;
    int src = setup_statsd(cfg, err, errlen);
    pthread_mutex_unlock(&reg.lock);
    if (src < 0)
        goto out;
    ctl.flush_ms = cfg->metrics.statsd_flush_ms > 0 ? cfg->metrics.statsd_flush_ms : 1000;
    atomic_store(&ctl.stopping, false);
    pthread_once(&wake_once, make_wake_fd);
    if (pthread_create(&ctl.tid, NULL, sender_main, NULL) != 0) {
        errbuf_set(err, errlen, "cannot start the metrics sender thread");
        pthread_mutex_lock(&reg.lock);
        sd.on = false;
        if (sd.fd >= 0)
            close(sd.fd);
        sd.fd = -1;
        free_lists();
        pthread_mutex_unlock(&reg.lock);
        goto out;
    }
    ctl.running = true;
    rc = 0;
out:
    pthread_mutex_unlock(&ctl.lock);
    return rc;
}

void metrics_stop(void)
{
    pthread_mutex_lock(&ctl.lock);
    if (!ctl.running) {
        pthread_mutex_unlock(&ctl.lock);
        return;
    }
    atomic_store(&ctl.stopping, true);
    kick();
    pthread_join(ctl.tid, NULL);

    pthread_mutex_lock(&reg.lock);
    drain_locked();
    statsd_flush();
    sd.on = false;
    if (sd.fd >= 0)
        close(sd.fd);
    sd.fd = -1;
    free_lists();
    pthread_mutex_unlock(&reg.lock);

    ctl.running = false;
    pthread_mutex_unlock(&ctl.lock);
}

/* ---- Prometheus text exposition 0.0.4 ------------------------------------ */

/* A label value: \\, \" and \n escaped, bytes that are not UTF-8 as U+FFFD. */
static void put_label_value(strbuf_t *b, const char *s, size_t n)
{
    strbuf_putn(b, "\"", 1);
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\\' || c == '"') {
            strbuf_putn(b, "\\", 1);
            strbuf_putn(b, s + i, 1);
            i++;
        } else if (c == '\n') {
            strbuf_putn(b, "\\n", 2);
            i++;
        } else if (c < 0x80 && c != 0) {
            size_t j = i;
            while (j < n && (unsigned char)s[j] < 0x80 && s[j] != '\\' && s[j] != '"' &&
                   s[j] != '\n' && s[j] != 0)
                j++;
            strbuf_putn(b, s + i, j - i);
            i = j;
        } else {
            int len = utf8_decode((const unsigned char *)s + i, n - i, NULL);
            if (len > 0) {
                strbuf_putn(b, s + i, (size_t)len);
                i += (size_t)len;
            } else {
                strbuf_puts(b, "\xEF\xBF\xBD");
                i++;
            }
        }
    }
    strbuf_putn(b, "\"", 1);
}

/* {component="..",hostname="..",label="..",...[,le=".."]} */
static void put_labels(strbuf_t *b, const series_t *s, const char *le)
{
    const metric_def_t *d = &metric_defs[s->id];
    strbuf_puts(b, "{component=");
    put_label_value(b, reg.component, strlen(reg.component));
    strbuf_puts(b, ",hostname=");
    put_label_value(b, reg.hostname, strlen(reg.hostname));
    for (size_t i = 0; i < def_nlabels(d); i++) {
        strbuf_printf(b, ",%s=", d->labels[i]);
        put_label_value(b, s->label[i], s->len[i]);
    }
    if (le)
        strbuf_printf(b, ",le=\"%s\"", le);
    strbuf_puts(b, "}");
}

static void put_sample(strbuf_t *b, const char *name, const char *suffix, const series_t *s,
                       const char *le, double v)
{
    char num[40];
    fmt_num(v, num, sizeof(num));
    strbuf_printf(b, "%s%s", name, suffix);
    put_labels(b, s, le);
    strbuf_printf(b, " %s\n", num);
}

static void put_help(strbuf_t *b, const metric_def_t *d)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    strbuf_printf(b, "# HELP %s ", d->prom);
    for (const char *p = d->help; *p; p++) {
        if (*p == '\\')
            strbuf_puts(b, "\\\\");
        else if (*p == '\n')
            strbuf_puts(b, "\\n");
        else
            strbuf_putn(b, p, 1);
    }
    strbuf_printf(b, "\n# TYPE %s %s\n", d->prom, types[d->kind]);
}

static void render_metric(strbuf_t *b, int id)
{
    const metric_def_t *d = &metric_defs[id];
    put_help(b, d);
    if (!reg.first[id]) { /* M_METRICS_DROPPED before anything was dropped */
        series_t zero = {.id = (uint8_t)id, .label = {"", "", ""}};
        put_sample(b, d->prom, "", &zero, NULL, 0);
        return;
    }
    for (const series_t *s = reg.first[id]; s; s = s->next) {
        if (d->kind != KIND_HISTOGRAM) {
            put_sample(b, d->prom, "", s, NULL, s->value);
            continue;
        }
        uint64_t cum = 0;
        char le[40];
        for (size_t i = 0; i < d->nbuckets; i++) {
            cum += s->buckets[i];
            fmt_num(d->buckets[i], le, sizeof(le));
            put_sample(b, d->prom, "_bucket", s, le, (double)cum);
        }
        put_sample(b, d->prom, "_bucket", s, "+Inf", (double)s->count);
        put_sample(b, d->prom, "_sum", s, NULL, s->sum);
        put_sample(b, d->prom, "_count", s, NULL, (double)s->count);
    }
}

int metrics_render_prometheus(char **out, size_t *outlen)
{
    strbuf_t b = {0};
    pthread_mutex_lock(&reg.lock);
    drain_locked();
    for (int id = 0; id < M__COUNT; id++)
        if (reg.first[id] || id == M_METRICS_DROPPED)
            render_metric(&b, id);
    pthread_mutex_unlock(&reg.lock);
    size_t len = b.len;
    char *s = strbuf_take(&b);
    if (!s)
        return -1;
    *out = s;
    *outlen = len;
    return 0;
}

/* ---- docs/metrics.md ----------------------------------------------------- */

int metrics_write_markdown(FILE *f)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    fputs("| Prometheus | type | labels | StatsD (Airflow's name) | buckets (seconds) | what |\n"
          "| --- | --- | --- | --- | --- | --- |\n",
          f);
    for (int id = 0; id < M__COUNT; id++) {
        const metric_def_t *d = &metric_defs[id];
        fprintf(f, "| `%s` | %s | ", d->prom, types[d->kind]);
        size_t nl = def_nlabels(d);
        for (size_t i = 0; i < nl; i++)
            fprintf(f, "%s`%s`", i ? ", " : "", d->labels[i]);
        fprintf(f, "%s | `%s` | ", nl ? "" : "-", d->statsd);
        for (size_t i = 0; i < d->nbuckets; i++) {
            char num[40];
            fmt_num(d->buckets[i], num, sizeof(num));
            fprintf(f, "%s%s", i ? ", " : "", num);
        }
        fprintf(f, "%s | %s |\n", d->nbuckets ? "" : "-", d->help);
    }
    return ferror(f) ? -1 : 0;
}
