/*
 * fuzz_api_query.c - the REST API's request parsing (webserver/httpq.c) on
 * arbitrary input. The input is split at its first newline: the part before
 * is a request path, the part after a query string. Both are run through
 * every parser a request meets, and the results are checked for the
 * invariants the handlers rely on.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "webserver/httpq.h"

static const httpq_sort_t sorts[] = {{"id", "x.id"}, {"dag_run_id", "x.run_id"}};
static const char *const allowed[] = {"limit", "offset", "order_by", "state", NULL};
static const char *const patterns[] = {
    "/api/v1/dags/{}",
    "/api/v1/dags/{}/dagRuns/{}",
    "/api/v1/dags/{}/dagRuns/{}/taskInstances/{}/logs/{}",
    "/health",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf, *nl, *qs, err[256];
    httpq_t q = {0};
    httpq_path_t p;

    if (size > 3 * HTTPQ_MAX_QUERY)
        return 0;
    buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    nl = strchr(buf, '\n');
    qs = nl ? nl + 1 : buf;
    if (nl)
        *nl = '\0';

    if (httpq_path_split(buf, true, &p, err, sizeof(err)) == 0) {
        for (size_t i = 0; i < p.n; i++)
            if (strchr(p.seg[i], '/') && strstr(buf, "%2") == NULL)
                abort(); /* a raw '/' never survives inside a segment */
        for (size_t k = 0; k < sizeof(patterns) / sizeof(patterns[0]); k++) {
            const char *caps[4];
            size_t n = 0;
            if (httpq_path_match(&p, patterns[k], caps, 4, &n))
                for (size_t i = 0; i < n; i++)
                    if (!caps[i])
                        abort();
        }
        httpq_path_free(&p);
    }
    if (httpq_parse(&q, qs, err, sizeof(err)) == 0) {
        int64_t limit, offset, v;
        bool b, desc;
        const char *sql;

        if (httpq_get_page(&q, 100, 1000, &limit, &offset, err, sizeof(err)) == 0 &&
            (limit < 1 || limit > 1000 || offset < 0))
            abort();
        if (httpq_order_by(httpq_get(&q, "order_by"), sorts, 2, "id", &sql, &desc, err,
                           sizeof(err)) == 0 &&
            sql != sorts[0].sql && sql != sorts[1].sql)
            abort(); /* only constant SQL comes out */
        (void)httpq_get_bool(&q, "only_active", &b, err, sizeof(err));
        (void)httpq_get_i64(&q, "map_index", -1, -1, 1000, &v, err, sizeof(err));
        (void)httpq_check_allowed(&q, allowed, err, sizeof(err));
        for (size_t i = 0; i < httpq_count(&q, "state"); i++)
            if (!httpq_get_nth(&q, "state", i))
                abort();
        httpq_free(&q);
    }
    {
        char out[64];
        long n = httpq_url_decode(buf, strlen(buf), true, out, sizeof(out));
        if (n >= (long)sizeof(out) || (n >= 0 && strlen(out) != (size_t)n))
            abort();
    }
    free(buf);
    return 0;
}
