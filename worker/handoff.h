/*
 * handoff.h - slots and the hand-off of claimed tries from the consumer
 * thread to the supervisor thread.
 *
 * A worker runs at most `slots` tries at once. The consumer asks how many
 * slots are free before it reads (and waits on a condition variable while
 * none is), takes one per claimed try it pushes, and the supervisor gives
 * it back when the try is over (outcome committed, or the try lost). The
 * supervisor is woken through an eventfd it polls with its child pipes.
 */
#ifndef UPDRAFT_WORKER_HANDOFF_H
#define UPDRAFT_WORKER_HANDOFF_H

#include <stdbool.h>

#include "worker/wtry.h"

typedef struct handoff handoff_t;

/* NULL on failure (out of memory, no eventfd). */
handoff_t *handoff_new(int slots);
/* Frees tries still queued. */
void handoff_free(handoff_t *h);

/* The eventfd the supervisor polls; readable when tries wait or on close/wake. */
int handoff_fd(const handoff_t *h);
/* Clears the eventfd's readiness (supervisor, after it became readable). */
void handoff_clear(handoff_t *h);

/*
 * Consumer: waits up to timeout_ms for a free slot. Returns the number of
 * free slots (0 after a timeout, a wake or a close).
 */
int handoff_wait_slots(handoff_t *h, int timeout_ms);
/* Consumer: queues a claimed try (ownership passes), taking one slot. */
void handoff_push(handoff_t *h, wtry_t *t);

/* Supervisor: the oldest queued try (ownership passes), or NULL. */
wtry_t *handoff_pop(handoff_t *h);
/* Supervisor: a try is over; its slot is free again. */
void handoff_release(handoff_t *h);

/* The slots in use (taken by a push, not released yet) and the total. */
void handoff_slots(handoff_t *h, int *used, int *total);

/* No more pushes will come (after the consumer stopped); wakes both sides. */
void handoff_close(handoff_t *h);
bool handoff_closed(handoff_t *h);
/* Wakes both sides, e.g. when a stop flag changed. */
void handoff_wake(handoff_t *h);

#endif
