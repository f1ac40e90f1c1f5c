/*
 * ratelimit.c - token buckets of failed logins (see ratelimit.h).
 */
#include "webserver/ratelimit.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/hmac.h>
#include <openssl/rand.h>

#define SLOTS 8192 /* 2 x 8192 entries of 24 bytes: 384 KiB per limiter */

typedef struct slot {
    uint64_t id;   /* keyed hash of the name; 0 = free */
    double tokens; /* failures still allowed, as of `at` */
    int64_t at;    /* microseconds */
} slot_t;

struct ratelimit {
    pthread_mutex_t mu;
    double burst;
    double per_us; /* refill per microsecond */
    unsigned char key[32];
    slot_t slots[SLOTS][2];
};

ratelimit_t *ratelimit_new(int burst, int window_sec)
{
    ratelimit_t *rl = calloc(1, sizeof(*rl));

    if (!rl)
        return NULL;
    if (RAND_bytes(rl->key, sizeof(rl->key)) != 1) {
        free(rl);
        return NULL;
    }
    pthread_mutex_init(&rl->mu, NULL);
    rl->burst = burst > 0 ? burst : 1;
    rl->per_us = rl->burst / ((window_sec > 0 ? window_sec : 1) * 1e6);
    return rl;
}

void ratelimit_free(ratelimit_t *rl)
{
    if (!rl)
        return;
    pthread_mutex_destroy(&rl->mu);
    free(rl);
}

static uint64_t key_id(const ratelimit_t *rl, const char *key)
{
    unsigned char mac[32];
    unsigned int len = sizeof(mac);
    uint64_t id = 0;

    HMAC(EVP_sha256(), rl->key, sizeof(rl->key), (const unsigned char *)key, strlen(key), mac,
         &len);
    memcpy(&id, mac, sizeof(id));
    return id ? id : 1;
}

static double tokens_now(const ratelimit_t *rl, const slot_t *s, int64_t now_us)
{
    double t;

    if (s->id == 0)
        return rl->burst; /* a free place: the first to take */
    t = s->tokens + (double)(now_us - s->at) * rl->per_us;
    return t > rl->burst ? rl->burst : t;
}

/* The entry of id, or NULL when it has none (create: make one, evicting). */
static slot_t *find(ratelimit_t *rl, uint64_t id, int64_t now_us, bool create)
{
    slot_t *pair = rl->slots[id % SLOTS];
    slot_t *victim;

    for (int i = 0; i < 2; i++)
        if (pair[i].id == id)
            return &pair[i];
    if (!create)
        return NULL;
    victim =
        tokens_now(rl, &pair[0], now_us) >= tokens_now(rl, &pair[1], now_us) ? &pair[0] : &pair[1];
    victim->id = id;
    victim->tokens = rl->burst;
    victim->at = now_us;
    return victim;
}

int ratelimit_check(ratelimit_t *rl, const char *key, int64_t now_us)
{
    uint64_t id = key_id(rl, key);
    int wait = 0;
    slot_t *s;

    pthread_mutex_lock(&rl->mu);
    s = find(rl, id, now_us, false);
    if (s) {
        double t = tokens_now(rl, s, now_us);
        if (t < 1.0)
            wait = (int)((1.0 - t) / rl->per_us / 1e6) + 1;
    }
    pthread_mutex_unlock(&rl->mu);
    return wait;
}

void ratelimit_fail(ratelimit_t *rl, const char *key, int64_t now_us)
{
    uint64_t id = key_id(rl, key);
    slot_t *s;

    pthread_mutex_lock(&rl->mu);
    s = find(rl, id, now_us, true);
    s->tokens = tokens_now(rl, s, now_us) - 1.0;
    if (s->tokens < 0)
        s->tokens = 0;
    s->at = now_us;
    pthread_mutex_unlock(&rl->mu);
}
