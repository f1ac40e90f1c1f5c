/*
 * handoff.c - slot accounting and the consumer -> supervisor queue (see
 * handoff.h). One mutex guards everything here; it is never held across
 * I/O other than the eventfd write.
 */
#include "worker/handoff.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct handoff {
    pthread_mutex_t mu;
    pthread_cond_t cond; /* signalled when a slot frees or on wake/close */
    int slots, in_use;
    wtry_t *head, *tail;
    bool closed;
    unsigned wakes; /* bumped by handoff_wake so waiters return */
    int efd;
};

handoff_t *handoff_new(int slots)
{
    handoff_t *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->slots = slots > 0 ? slots : 1;
    h->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (h->efd < 0) {
        free(h);
        return NULL;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&h->mu, NULL);
    return h;
}

void handoff_free(handoff_t *h)
{
    if (!h)
        return;
    while (h->head) {
        wtry_t *t = h->head;
        h->head = t->next;
        wtry_free(t);
    }
    close(h->efd);
    pthread_cond_destroy(&h->cond);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

int handoff_fd(const handoff_t *h)
{
    return h->efd;
}

static void kick(handoff_t *h)
{
    uint64_t one = 1;
    while (write(h->efd, &one, sizeof(one)) < 0 && errno == EINTR)
        ;
}

void handoff_clear(handoff_t *h)
{
    uint64_t v;
    while (read(h->efd, &v, sizeof(v)) < 0 && errno == EINTR)
        ;
}

int handoff_wait_slots(handoff_t *h, int timeout_ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&h->mu);
    unsigned wakes = h->wakes;
    while (h->in_use >= h->slots && !h->closed && h->wakes == wakes) {
        if (pthread_cond_timedwait(&h->cond, &h->mu, &dl) == ETIMEDOUT)
            break;
    }
    int n = h->closed ? 0 : h->slots - h->in_use;
    pthread_mutex_unlock(&h->mu);
    return n > 0 ? n : 0;
}

void handoff_push(handoff_t *h, wtry_t *t)
{
    t->next = NULL;
    pthread_mutex_lock(&h->mu);
    if (h->tail)
        h->tail->next = t;
    else
        h->head = t;
    h->tail = t;
    h->in_use++;
    pthread_mutex_unlock(&h->mu);
    kick(h);
}

wtry_t *handoff_pop(handoff_t *h)
{
    pthread_mutex_lock(&h->mu);
    wtry_t *t = h->head;
    if (t) {
        h->head = t->next;
        if (!h->head)
            h->tail = NULL;
        t->next = NULL;
    }
    pthread_mutex_unlock(&h->mu);
    return t;
}

void handoff_release(handoff_t *h)
{
    pthread_mutex_lock(&h->mu);
    if (h->in_use > 0)
        h->in_use--;
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->mu);
}

void handoff_slots(handoff_t *h, int *used, int *total)
{
    pthread_mutex_lock(&h->mu);
    *used = h->in_use;
    *total = h->slots;
    pthread_mutex_unlock(&h->mu);
}

void handoff_close(handoff_t *h)
{
    pthread_mutex_lock(&h->mu);
    h->closed = true;
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->mu);
    kick(h);
}

bool handoff_closed(handoff_t *h)
{
    pthread_mutex_lock(&h->mu);
    bool c = h->closed;
    pthread_mutex_unlock(&h->mu);
    return c;
}

void handoff_wake(handoff_t *h)
{
    pthread_mutex_lock(&h->mu);
    h->wakes++;
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->mu);
    kick(h);
}
