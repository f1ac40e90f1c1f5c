/*
 * ratelimit.h - failed-login allowances, per username and per client
 * address, in the webserver's memory.
 *
 * Each key (a username, an address) has a bucket of `burst` failures that
 * refills at burst per `window_sec`: a user who mistypes a password a few
 * times is never held, a script guessing passwords is held to the refill
 * rate. A key whose bucket is empty is refused before any password is
 * hashed, so a flood costs the server no yescrypt work and no database
 * write. Keys are hashed with a per-process random key (an attacker cannot
 * choose names that collide), into a fixed table of two-way buckets: the
 * memory is fixed whatever the number of names tried; an entry that must
 * make room gives way to the most refilled of its two places.
 */
#ifndef UPDRAFT_WEBSERVER_RATELIMIT_H
#define UPDRAFT_WEBSERVER_RATELIMIT_H

#include <stdint.h>

typedef struct ratelimit ratelimit_t;

/* A limiter of burst failures per window_sec per key. NULL on out of memory. */
ratelimit_t *ratelimit_new(int burst, int window_sec);
void ratelimit_free(ratelimit_t *rl);

/* 0 when key may try now, else the seconds until it may (for Retry-After). */
int ratelimit_check(ratelimit_t *rl, const char *key, int64_t now_us);

/* Counts one failure of key. */
void ratelimit_fail(ratelimit_t *rl, const char *key, int64_t now_us);

#endif
