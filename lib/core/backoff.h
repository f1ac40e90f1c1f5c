/*
 * backoff.h - capped, jittered exponential backoff for reconnect loops
 * (Postgres, Redis): 100 ms doubling to 5 s, each wait drawn from
 * [delay/2, delay] so that a fleet of workers does not reconnect in step.
 *
 * Every reconnect loop in updraft runs on this: db_ensure(), queue_ensure(),
 * db_connect_retry() and queue_connect_retry() sleep through backoff_wait();
 * a thread that must wake on its own file descriptor or on a signal while it
 * waits gives the backoff its own nap (backoff_set_nap), and a loop that
 * cannot block (it has other work) asks backoff_step() how long to wait.
 */
#ifndef UPDRAFT_BACKOFF_H
#define UPDRAFT_BACKOFF_H

#include <stdbool.h>

/* Sleeps up to ms; returns false to give up now (a signal, a stop request). */
typedef bool (*backoff_nap_fn)(int ms, void *ud);

typedef struct backoff {
    int delay_ms;       /* the next nominal delay */
    int waited_ms;      /* slept so far */
    int max_wait_ms;    /* < 0: no limit */
    backoff_nap_fn nap; /* NULL: backoff_sleep_ms */
    void *nap_ud;
} backoff_t;

void backoff_init(backoff_t *b, int max_wait_ms);
/* Sleeps through nap(ms, ud) instead of backoff_sleep_ms from now on. */
void backoff_set_nap(backoff_t *b, backoff_nap_fn nap, void *ud);
/* The delay the next backoff_wait() will be based on, for logs. */
int backoff_next_ms(const backoff_t *b);
/*
 * The next (jittered) wait in ms, advancing the schedule as if it was
 * slept: for a caller that waits by itself. -1 when the budget is used up.
 */
int backoff_step(backoff_t *b);
/*
 * Sleeps the next delay. Returns false without sleeping when the total
 * budget is used up or *stop (may be NULL) is set, and false after a nap
 * that gave up: the caller gives up.
 */
bool backoff_wait(backoff_t *b, volatile const bool *stop);
/* Sleeps ms milliseconds, resuming after signals. */
void backoff_sleep_ms(int ms);

#endif
