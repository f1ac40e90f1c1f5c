/* backoff.c - see backoff.h. */
#include "core/backoff.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#define BACKOFF_FIRST_MS 100
#define BACKOFF_CAP_MS 5000

void backoff_init(backoff_t *b, int max_wait_ms)
{
    b->delay_ms = BACKOFF_FIRST_MS;
    b->waited_ms = 0;
    b->max_wait_ms = max_wait_ms;
    b->nap = NULL;
    b->nap_ud = NULL;
}

void backoff_set_nap(backoff_t *b, backoff_nap_fn nap, void *ud)
{
    b->nap = nap;
    b->nap_ud = ud;
}

int backoff_next_ms(const backoff_t *b)
{
    return b->delay_ms;
}

void backoff_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

int backoff_step(backoff_t *b)
{
    if (b->max_wait_ms >= 0 && b->waited_ms >= b->max_wait_ms)
        return -1;
    int d = b->delay_ms / 2 + rand() % (b->delay_ms / 2 + 1);
    if (b->max_wait_ms >= 0 && b->waited_ms + d > b->max_wait_ms)
        d = b->max_wait_ms - b->waited_ms;
    b->waited_ms += d;
    b->delay_ms = b->delay_ms * 2 > BACKOFF_CAP_MS ? BACKOFF_CAP_MS : b->delay_ms * 2;
    return d;
}

bool backoff_wait(backoff_t *b, volatile const bool *stop)
{
    if (stop && *stop)
        return false;
    int d = backoff_step(b);
    if (d < 0)
        return false;
    if (b->nap)
        return b->nap(d, b->nap_ud) && !(stop && *stop);
    backoff_sleep_ms(d);
    return true;
}
