/*
 * backoff.h - capped, jittered exponential backoff for reconnect loops
 * (Postgres, Redis): 100 ms doubling to 5 s, each wait drawn from
 * [delay/2, delay] so that a fleet of workers does not reconnect in step.
 */
#ifndef UPDRAFT_BACKOFF_H
#define UPDRAFT_BACKOFF_H

#include <stdbool.h>

typedef struct backoff {
    int delay_ms;    /* the next nominal delay */
    int waited_ms;   /* slept so far */
    int max_wait_ms; /* < 0: no limit */
} backoff_t;

void backoff_init(backoff_t *b, int max_wait_ms);
/* The delay the next backoff_wait() will be based on, for logs. */
int backoff_next_ms(const backoff_t *b);
/*
 * Sleeps the next delay. Returns false without sleeping when the total
 * budget is used up or *stop (may be NULL) is set: the caller gives up.
 */
bool backoff_wait(backoff_t *b, volatile const bool *stop);
/* Sleeps ms milliseconds, resuming after signals. */
void backoff_sleep_ms(int ms);

#endif
