/*
 * wake.h - how the scheduler's threads sleep: each owns an eventfd that
 * main (a signal) or another thread (new work) writes to, and waits on it
 * with a timeout, so a stop or a wake-up never waits for the timer.
 */
#ifndef UPDRAFT_SCHEDULER_WAKE_H
#define UPDRAFT_SCHEDULER_WAKE_H

#include <stdbool.h>

/* Empties the eventfd fd (a read; an empty non-blocking fd is fine). */
void wake_drain(int fd);

/* Sleeps up to ms, returning early when fd becomes readable (drained then). */
void wake_wait(int fd, int ms);

/* A backoff_nap_fn (core/backoff.h) over wake_wait: fdp points at the fd. */
bool wake_nap(int ms, void *fdp);

#endif
