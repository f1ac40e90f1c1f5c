/*
 * opsem.c - pure operator rules (see opsem.h).
 */
#include "worker/opsem.h"

#include <ctype.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

bool opsem_branch_target(const cJSON *downstream, const char *id, size_t len)
{
    const cJSON *it;
    if (len == 0)
        return false;
    cJSON_ArrayForEach(it, downstream)
    {
        if (!cJSON_IsString(it))
            continue;
        const char *d = it->valuestring;
        size_t dl = strlen(d);
        if (dl == len && memcmp(d, id, len) == 0)
            return true;
        if (dl > len + 1 && memcmp(d, id, len) == 0 && d[len] == '.')
            return true;
    }
    return false;
}

bool opsem_line_falsy(const char *s, size_t len)
{
    static const char *const falsy[] = {"0",  "false", "no",   "off", "none", "null",
                                        "[]", "{}",    "\"\"", "''",  NULL};
    while (len > 0 && isspace((unsigned char)*s)) {
        s++;
        len--;
    }
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        len--;
    if (len == 0)
        return true;
    for (size_t i = 0; falsy[i]; i++)
        if (strlen(falsy[i]) == len && strncasecmp(falsy[i], s, len) == 0)
            return true;
    return false;
}

int opsem_map_pick(const size_t *lens, size_t nkeys, long map_index, size_t *picks)
{
    if (map_index < 0 || nkeys == 0)
        return -1;
    unsigned long idx = (unsigned long)map_index;
    for (size_t k = nkeys; k-- > 0;) {
        if (lens[k] == 0)
            return -1;
        picks[k] = idx % lens[k];
        idx /= lens[k];
    }
    return idx == 0 ? 0 : -1;
}

/* Python's timedelta.max.total_seconds() - 1. */
#define TIMEDELTA_MAX_SEC 86399999999998.0
/* Backoffs above this are past any cap (TIMEDELTA_MAX_SEC) whatever the hash adds. */
#define MIN_BACKOFF_CAP 1125899906842624.0 /* 2^50 */

/* max(int(poke_interval * 2 ** (poke_count - 2)), 1), capped. */
static uint64_t min_backoff(double poke_interval, int poke_count)
{
    double v = poke_interval * ldexp(1.0, poke_count - 2);
    if (!(v < MIN_BACKOFF_CAP))
        v = MIN_BACKOFF_CAP;
    uint64_t m = (uint64_t)floor(v);
    return m < 1 ? 1 : m;
}

/* int(sha1(text).hexdigest(), 16) % m, computed digit by digit. */
static uint64_t sha1_mod(const char *text, uint64_t m)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha1(), NULL) != 1)
        return 0;
    uint64_t r = 0; /* r < m <= 2^50: r * 256 + 255 fits */
    for (unsigned int i = 0; i < mdlen; i++)
        r = (r * 256 + md[i]) % m;
    return r;
}

/* min_backoff + hash % min_backoff, capped as timedelta.max. */
static double jittered(const char *dag_id, const char *task_id, const char *started_at,
                       double poke_interval, int poke_count)
{
    char text[1024];
    snprintf(text, sizeof(text), "%s#%s#%s#%d", dag_id, task_id, started_at, poke_count);
    uint64_t mb = min_backoff(poke_interval, poke_count);
    double v = (double)mb + (double)sha1_mod(text, mb);
    return v < TIMEDELTA_MAX_SEC ? v : TIMEDELTA_MAX_SEC;
}

double opsem_next_poke_interval(const opsem_sensor_t *s, const char *dag_id, const char *task_id,
                                const char *started_at, double run_duration, int poke_count)
{
    if (!s->exponential_backoff)
        return s->poke_interval < 0 ? 0 : s->poke_interval;
    if (s->reschedule) {
        /* Replays the series up to the time elapsed so far. */
        double cumulative = 0;
        int estimated = 0;
        while (cumulative <= run_duration && estimated < 4096) {
            estimated++;
            cumulative += jittered(dag_id, task_id, started_at, s->poke_interval, estimated);
        }
        if (estimated > 0)
            poke_count = estimated;
    }
    double v = jittered(dag_id, task_id, started_at, s->poke_interval, poke_count);
    double left = s->timeout - trunc(run_duration);
    if (left < v)
        v = left;
    if (s->max_wait > 0 && s->max_wait < v)
        v = s->max_wait;
    return v < 0 ? 0 : v;
}

char *opsem_python_datetime(ts_us_t t, char *buf)
{
    char iso[TS_ISO_LEN];
    if (t % TS_US_PER_SEC)
        ts_format_iso(t, iso);
    else
        ts_format_iso_sec(t, iso);
    char *tee = strchr(iso, 'T');
    if (tee)
        *tee = ' ';
    snprintf(buf, TS_ISO_LEN, "%s", iso);
    return buf;
}
