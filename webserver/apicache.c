/*
 * apicache.c - generation-checked LRU response cache and its LISTEN thread
 * (see apicache.h for the consistency rules).
 *
 * Layout: a fixed array of hash buckets with chained entries, and one
 * doubly linked LRU list (most recent at the head). An entry owns its key
 * and body in the same allocation. Entries leave the table when evicted,
 * replaced or found stale; one still referenced by a request being sent is
 * freed by the last apicache_release().
 *
 * The generation and the listener's "up" flag are atomics read without the
 * mutex on every request; the mutex covers the table only and is never
 * held across I/O.
 */
#include "webserver/apicache.h"
#include "core/hash.h"
#include "store/channels.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/db.h"
#include "core/log.h"

#define NBUCKETS 4096
#define ENTRY_OVERHEAD 128 /* bytes charged per entry beyond key and body */

struct apicache_entry {
    apicache_entry_t *next_hash;
    apicache_entry_t *prev_lru, *next_lru;
    uint64_t hash, gen;
    size_t klen, blen, charge;
    int refs;
    bool in_table;
    char *key, *body;
};

struct apicache {
    pthread_mutex_t mu;
    apicache_entry_t *buckets[NBUCKETS];
    apicache_entry_t *lru_head, *lru_tail;
    size_t bytes, max_bytes, max_entry;
    uint64_t hits, misses;

    _Atomic uint64_t gen;
    atomic_bool up;   /* listener connected: the cache may be used */
    atomic_bool stop; /* listener asked to exit */
    char *conninfo;
    pthread_t thread;
    bool thread_started;
};

apicache_t *apicache_new(size_t max_bytes, size_t max_entry_bytes)
{
    apicache_t *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c);
        return NULL;
    }
    c->max_bytes = max_bytes;
    c->max_entry = max_entry_bytes;
    atomic_init(&c->gen, 1);
    atomic_init(&c->up, false);
    atomic_init(&c->stop, false);
    return c;
}

static void lru_unlink(apicache_t *c, apicache_entry_t *e)
{
    if (e->prev_lru)
        e->prev_lru->next_lru = e->next_lru;
    else
        c->lru_head = e->next_lru;
    if (e->next_lru)
        e->next_lru->prev_lru = e->prev_lru;
    else
        c->lru_tail = e->prev_lru;
    e->prev_lru = e->next_lru = NULL;
}

static void lru_push_front(apicache_t *c, apicache_entry_t *e)
{
    e->prev_lru = NULL;
    e->next_lru = c->lru_head;
    if (c->lru_head)
        c->lru_head->prev_lru = e;
    c->lru_head = e;
    if (!c->lru_tail)
        c->lru_tail = e;
}

/* Takes e out of the table (mutex held); frees it unless referenced. */
static void remove_entry(apicache_t *c, apicache_entry_t *e)
{
    apicache_entry_t **pp = &c->buckets[e->hash % NBUCKETS];

    while (*pp && *pp != e)
        pp = &(*pp)->next_hash;
    if (*pp)
        *pp = e->next_hash;
    lru_unlink(c, e);
    c->bytes -= e->charge;
    e->in_table = false;
    if (e->refs == 0)
        free(e);
}

void apicache_free(apicache_t *c)
{
    if (!c)
        return;
    if (c->thread_started) {
        atomic_store(&c->stop, true);
        pthread_join(c->thread, NULL);
    }
    while (c->lru_head)
        remove_entry(c, c->lru_head);
    pthread_mutex_destroy(&c->mu);
    free(c->conninfo);
    free(c);
}

bool apicache_begin(apicache_t *c, uint64_t *gen)
{
    if (!c || c->max_bytes == 0 || !atomic_load(&c->up))
        return false;
    *gen = atomic_load(&c->gen);
    return true;
}

void apicache_bump(apicache_t *c)
{
    if (c)
        atomic_fetch_add(&c->gen, 1);
}

static apicache_entry_t *find(apicache_t *c, uint64_t h, const void *key, size_t klen)
{
    for (apicache_entry_t *e = c->buckets[h % NBUCKETS]; e; e = e->next_hash)
        if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0)
            return e;
    return NULL;
}

apicache_entry_t *apicache_get(apicache_t *c, const void *key, size_t klen, uint64_t gen)
{
    uint64_t h = hash_bytes(key, klen);
    apicache_entry_t *e;

    pthread_mutex_lock(&c->mu);
    e = find(c, h, key, klen);
    if (e && e->gen != gen) {
        remove_entry(c, e);
        e = NULL;
    }
    if (e) {
        lru_unlink(c, e);
        lru_push_front(c, e);
        e->refs++;
        c->hits++;
    } else {
        c->misses++;
    }
    pthread_mutex_unlock(&c->mu);
    return e;
}

const char *apicache_entry_body(const apicache_entry_t *e, size_t *len)
{
    *len = e->blen;
    return e->body;
}

void apicache_release(apicache_t *c, apicache_entry_t *e)
{
    bool dead;

    if (!e)
        return;
    pthread_mutex_lock(&c->mu);
    dead = --e->refs == 0 && !e->in_table;
    pthread_mutex_unlock(&c->mu);
    if (dead)
        free(e);
}

size_t apicache_entry_cost(size_t klen, size_t blen)
{
    return sizeof(apicache_entry_t) + klen + blen + ENTRY_OVERHEAD;
}

void apicache_set_listening(apicache_t *c, bool up)
{
    atomic_store(&c->up, up);
}

void apicache_put(apicache_t *c, const void *key, size_t klen, uint64_t gen, const char *body,
                  size_t len)
{
    size_t charge = apicache_entry_cost(klen, len);
    apicache_entry_t *e, *old;

    if (!c || c->max_bytes == 0 || len > c->max_entry || charge > c->max_bytes)
        return;
    if (atomic_load(&c->gen) != gen)
        return; /* already stale */
    e = malloc(sizeof(*e) + klen + len + 1);
    if (!e)
        return;
    memset(e, 0, sizeof(*e));
    e->key = (char *)(e + 1);
    e->body = e->key + klen;
    memcpy(e->key, key, klen);
    memcpy(e->body, body, len);
    e->body[len] = '\0';
    e->klen = klen;
    e->blen = len;
    e->gen = gen;
    e->hash = hash_bytes(key, klen);
    e->charge = charge;

    pthread_mutex_lock(&c->mu);
    old = find(c, e->hash, key, klen);
    if (old)
        remove_entry(c, old);
    while (c->lru_tail && c->bytes + charge > c->max_bytes)
        remove_entry(c, c->lru_tail);
    e->next_hash = c->buckets[e->hash % NBUCKETS];
    c->buckets[e->hash % NBUCKETS] = e;
    lru_push_front(c, e);
    e->in_table = true;
    c->bytes += charge;
    pthread_mutex_unlock(&c->mu);
}

void apicache_stats(apicache_t *c, uint64_t *hits, uint64_t *misses, size_t *bytes)
{
    pthread_mutex_lock(&c->mu);
    *hits = c->hits;
    *misses = c->misses;
    *bytes = c->bytes;
    pthread_mutex_unlock(&c->mu);
}

/* ---- the LISTEN thread -------------------------------------------------- */

#define LISTEN_POLL_MS 200

static void on_notify(const char *payload, void *arg)
{
    (void)payload; /* every table's change invalidates every entry */
    apicache_bump(arg);
}

/* Sleeps ms in short steps, returning early once stop is set. */
static void nap(apicache_t *c, int ms)
{
    while (ms > 0 && !atomic_load(&c->stop)) {
        int step = ms < 50 ? ms : 50;
        struct timespec ts = {0, (long)step * 1000 * 1000};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

static void go_down(apicache_t *c, db_t **db)
{
    atomic_store(&c->up, false);
    apicache_bump(c);
    db_close(*db);
    *db = NULL;
}

static void *listen_main(void *arg)
{
    apicache_t *c = arg;
    db_t *db = NULL;
    backoff_t retry;
    bool warned = false;

    backoff_init(&retry, -1);
    while (!atomic_load(&c->stop)) {
        struct pollfd pfd;
        int pr;

        if (!db) {
            char err[256];
            db = db_connect(c->conninfo, err, sizeof(err));
            if (db && db_listen(db, CHANNEL_API) < 0) {
                snprintf(err, sizeof(err), "LISTEN failed: %s", db_error(db));
                db_close(db);
                db = NULL;
            }
            if (!db) {
                if (!warned)
                    log_warn("api cache bypassed until the database is back error=\"%s\"", err);
                warned = true;
                nap(c, backoff_step(&retry));
                continue;
            }
            /* Whatever committed while nobody listened is unknown here. */
            apicache_bump(c);
            atomic_store(&c->up, true);
            backoff_init(&retry, -1);
            if (warned)
                log_info("api cache listening again channel=%s", CHANNEL_API);
            warned = false;
        }
        pfd.fd = db_socket(db);
        pfd.events = POLLIN;
        pfd.revents = 0;
        if (pfd.fd < 0) {
            go_down(c, &db);
            continue;
        }
        pr = poll(&pfd, 1, LISTEN_POLL_MS);
        if (pr > 0 && db_drain_notifies(db, on_notify, c) < 0) {
            log_warn("api cache listener lost the database; cache bypassed");
            warned = true;
            go_down(c, &db);
        }
    }
    atomic_store(&c->up, false);
    db_close(db);
    return NULL;
}

int apicache_start_listener(apicache_t *c, const char *conninfo)
{
    if (!c || c->max_bytes == 0)
        return 0; /* disabled: nothing to listen for */
    c->conninfo = strdup(conninfo ? conninfo : "");
    if (!c->conninfo)
        return -1;
    if (pthread_create(&c->thread, NULL, listen_main, c) != 0)
        return -1;
    c->thread_started = true;
    return 0;
}
