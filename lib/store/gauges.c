/*
 * gauges.c - see gauges.h.
 */
#include "store/gauges.h"
#include "store/jobs.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/*
 * One row per pool (at least one row: the cluster-wide columns repeat on
 * each, and the pool columns are NULL when there is none). Open slots as
 * the pools API counts them, without deferred task instances (which no
 * executor runs here).
 */
static const char SQL_SNAPSHOT[] =
    "WITH act AS ("
    "  SELECT pool, count(*) FILTER (WHERE state = 'running') AS run_n,"
    "    count(*) FILTER (WHERE state = 'queued') AS q_n,"
    "    coalesce(sum(pool_slots) FILTER (WHERE state = 'running'), 0) AS run_s,"
    "    coalesce(sum(pool_slots) FILTER (WHERE state = 'queued'), 0) AS q_s"
    "  FROM task_instance WHERE state IN ('queued', 'running') GROUP BY pool"
    "), sch AS ("
    "  SELECT pool, pool_slots, count(*) AS n FROM task_instance WHERE state = 'scheduled'"
    "  GROUP BY pool, pool_slots"
    "), live AS ("
    "  SELECT concurrency, queues FROM job WHERE job_type = 'WorkerJob' AND state = 'running'"
    "    AND latest_heartbeat > now() - interval '" JOBS_HEALTH_THRESHOLD_SEC " seconds'"
    "), p AS ("
    "  SELECT p.pool, p.slots, coalesce(a.q_s, 0) AS q_s, coalesce(a.run_s, 0) AS run_s,"
    "    CASE WHEN p.slots < 0 THEN -1"
    "      ELSE greatest(p.slots - coalesce(a.run_s, 0) - coalesce(a.q_s, 0), 0) END AS open"
    "  FROM slot_pool p LEFT JOIN act a ON a.pool = p.pool ORDER BY p.pool LIMIT $1::int"
    "), g AS (SELECT"
    "  (SELECT coalesce(sum(concurrency), 0) FROM live) AS wslots,"
    "  (SELECT coalesce(sum(run_n), 0) FROM act) AS running,"
    "  (SELECT coalesce(sum(q_n), 0) FROM act) AS queued,"
    "  (SELECT count(*) FROM dag_run WHERE state = 'running') AS runs,"
    "  (SELECT count(*) FROM alert_delivery WHERE state IN ('pending', 'sending')) AS backlog,"
    "  (SELECT coalesce(json_agg(q), '[]') FROM (SELECT q FROM ("
    "     SELECT unnest(queues) AS q FROM live"
    "     UNION SELECT queue FROM task_instance WHERE state = 'queued') u"
    "   ORDER BY q LIMIT $2::int) qs)::text AS queues"
    ")"
    " SELECT g.wslots, g.running, g.queued, g.runs, g.backlog, g.queues,"
    "  p.pool, p.slots, p.open, p.q_s, p.run_s,"
    "  (SELECT coalesce(sum(s.n), 0) FROM sch s WHERE s.pool = p.pool AND p.slots >= 0"
    "     AND s.pool_slots > p.open)"
    " FROM g LEFT JOIN p ON true ORDER BY p.pool";

void gauges_free(gauges_t *g)
{
    if (!g)
        return;
    free(g->pools);
    for (size_t i = 0; i < g->n_queues; i++)
        free(g->queues[i]);
    free(g->queues);
    PQclear(g->res_);
    memset(g, 0, sizeof(*g));
}

static int read_queues(gauges_t *g, const char *json)
{
    cJSON *a = cJSON_ParseWithLength(json, strlen(json));
    int rc = UPDRAFT_ENOMEM;
    if (!a)
        return rc;
    int n = cJSON_GetArraySize(a);
    if (n > GAUGES_MAX_QUEUES)
        n = GAUGES_MAX_QUEUES;
    g->queues = calloc((size_t)n + 1, sizeof(*g->queues));
    if (!g->queues)
        goto out;
    for (int i = 0; i < n; i++) {
        const char *s = cJSON_GetStringValue(cJSON_GetArrayItem(a, i));
        if (!s)
            continue;
        if (!(g->queues[g->n_queues] = strdup(s)))
            goto out;
        g->n_queues++;
    }
    rc = 0;
out:
    cJSON_Delete(a);
    return rc;
}

int gauges_read(db_t *db, gauges_t *out)
{
    char maxp[16], maxq[16];
    memset(out, 0, sizeof(*out));
    snprintf(maxp, sizeof(maxp), "%d", GAUGES_MAX_POOLS);
    snprintf(maxq, sizeof(maxq), "%d", GAUGES_MAX_QUEUES);
    const char *p[] = {maxp, maxq};
    PGresult *r = db_query(db, "gauges_snapshot", SQL_SNAPSHOT, 2, p);
    if (!r)
        return UPDRAFT_EDB;
    out->res_ = r;
    int n = PQntuples(r);
    if (n == 0)
        return 0;
    out->worker_slots = (long)db_get_i64(r, 0, 0);
    out->running_tasks = (long)db_get_i64(r, 0, 1);
    out->queued_tasks = (long)db_get_i64(r, 0, 2);
    out->dagruns_running = (long)db_get_i64(r, 0, 3);
    out->outbox_backlog = (long)db_get_i64(r, 0, 4);
    out->pools = calloc((size_t)n, sizeof(*out->pools));
    if (!out->pools || read_queues(out, PQgetvalue(r, 0, 5)) < 0) {
        gauges_free(out);
        return UPDRAFT_ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        if (PQgetisnull(r, i, 6))
            continue;
        gauges_pool_t *pl = &out->pools[out->n_pools++];
        pl->name = PQgetvalue(r, i, 6);
        pl->slots = (long)db_get_i64(r, i, 7);
        pl->open = (long)db_get_i64(r, i, 8);
        pl->queued = (long)db_get_i64(r, i, 9);
        pl->running = (long)db_get_i64(r, i, 10);
        pl->starving = (long)db_get_i64(r, i, 11);
    }
    return 0;
}

int gauges_ping(db_t *db)
{
    PGresult *r = db_query(db, "gauges_ping", "SELECT 1", 0, NULL);
    if (!r)
        return UPDRAFT_EDB;
    PQclear(r);
    return 0;
}

static const char SQL_DAGBAG[] = "SELECT (SELECT count(*) FROM dag WHERE is_active),"
                                 " (SELECT count(*) FROM import_error)";

int gauges_dagbag(db_t *db, long *dags, long *import_errors)
{
    PGresult *r = db_query(db, "gauges_dagbag", SQL_DAGBAG, 0, NULL);
    if (!r)
        return UPDRAFT_EDB;
    *dags = (long)db_get_i64(r, 0, 0);
    *import_errors = (long)db_get_i64(r, 0, 1);
    PQclear(r);
    return 0;
}
