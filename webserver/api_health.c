/*
 * api_health.c - the Monitoring routes. GET /health and /api/v1/health:
 * Airflow's shape (metadatabase; scheduler: the most recent scheduler;
 * dag_processor: the freshest DAG processor heartbeat any running
 * scheduler recorded, healthy within the same threshold, null before one
 * is recorded; triggerer, which updraft does not run, with a null status
 * and heartbeat as Airflow reports an absent one), plus every live
 * scheduler and worker job with its hostname,
 * latest heartbeat and status (healthy: heartbeat within the threshold).
 * Answers without a database connection too (the metadatabase is then
 * unhealthy). GET /api/v1/version: the release and the commit built from
 * (core/version.h). GET /metrics: this webserver's metrics in Prometheus's
 * text format (core/metrics.h), for a caller that may read Jobs (Viewer and
 * up; docs/metrics.md).
 */
#include "webserver/api_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/metrics.h"
#include "core/version.h"
#include "store/jobs.h"
#include "webserver/http.h"

/* One job row as {"hostname", "pid", "latest_heartbeat", "status"[, "queues"]}. */
static cJSON *job_json(const PGresult *res, int i, bool sched, bool healthy)
{
    cJSON *j = cJSON_CreateObject();

    cJSON_AddStringToObject(j, "hostname", PQgetvalue(res, i, JOBS_COL_HOSTNAME));
    cJSON_AddNumberToObject(j, "pid", atoi(PQgetvalue(res, i, JOBS_COL_PID)));
    http_json_add_ts(j, "latest_heartbeat", res, i, JOBS_COL_HEARTBEAT);
    cJSON_AddStringToObject(j, "status", healthy ? "healthy" : "unhealthy");
    if (!sched) {
        cJSON *qs = cJSON_Parse(PQgetvalue(res, i, JOBS_COL_QUEUES));
        if (qs)
            cJSON_AddItemToObject(j, "queues", qs);
    }
    return j;
}

/* A component updraft does not run: {"status": null, "<heartbeat>": null}. */
static void add_absent(cJSON *out, const char *name, const char *heartbeat)
{
    cJSON *c = cJSON_AddObjectToObject(out, name);

    cJSON_AddNullToObject(c, "status");
    cJSON_AddNullToObject(c, heartbeat);
}

int api_get_health(api_req_t *r)
{
    cJSON *out = cJSON_CreateObject(), *md, *sch, *schs, *wks;
    PGresult *res = NULL;
    bool db_healthy = r->db && jobs_list_running(r->db, &res) == 0, alive = false;
    int best = -1, proc = -1;

    md = cJSON_AddObjectToObject(out, "metadatabase");
    cJSON_AddStringToObject(md, "status", db_healthy ? "healthy" : "unhealthy");
    sch = cJSON_AddObjectToObject(out, "scheduler");
    schs = cJSON_AddArrayToObject(out, "schedulers");
    wks = cJSON_AddArrayToObject(out, "workers");
    for (int i = 0; res && i < PQntuples(res); i++) {
        bool sched = strcmp(PQgetvalue(res, i, JOBS_COL_TYPE), "SchedulerJob") == 0;
        bool healthy = db_get_bool(res, i, JOBS_COL_HEALTHY);
        if (!sched && strcmp(PQgetvalue(res, i, JOBS_COL_TYPE), "WorkerJob") != 0)
            continue;
        cJSON_AddItemToArray(sched ? schs : wks, job_json(res, i, sched, healthy));
        if (sched && (best < 0 || (healthy && !alive))) {
            best = i;
            alive = healthy;
        }
        if (sched && !PQgetisnull(res, i, JOBS_COL_PROCESSOR_HEARTBEAT) &&
            (proc < 0 || db_get_i64(res, i, JOBS_COL_PROCESSOR_HEARTBEAT) >
                             db_get_i64(res, proc, JOBS_COL_PROCESSOR_HEARTBEAT)))
            proc = i;
    }
    if (best >= 0)
        http_json_add_ts(sch, "latest_scheduler_heartbeat", res, best, JOBS_COL_HEARTBEAT);
    else
        cJSON_AddNullToObject(sch, "latest_scheduler_heartbeat");
    cJSON_AddStringToObject(sch, "status", alive ? "healthy" : "unhealthy");
    add_absent(out, "triggerer", "latest_triggerer_heartbeat");
    if (proc >= 0) {
        cJSON *dp = cJSON_AddObjectToObject(out, "dag_processor");
        cJSON_AddStringToObject(dp, "status",
                                db_get_bool(res, proc, JOBS_COL_PROCESSOR_HEALTHY) ? "healthy"
                                                                                   : "unhealthy");
        http_json_add_ts(dp, "latest_dag_processor_heartbeat", res, proc,
                         JOBS_COL_PROCESSOR_HEARTBEAT);
    } else {
        add_absent(out, "dag_processor", "latest_dag_processor_heartbeat");
    }
    PQclear(res);
    return api_send_json(r, 200, out);
}

int api_get_version(api_req_t *r)
{
    cJSON *out = cJSON_CreateObject();
    const char *git = updraft_git_version();

    if (out) {
        cJSON_AddStringToObject(out, "version", updraft_version());
        if (git)
            cJSON_AddStringToObject(out, "git_version", git);
        else
            cJSON_AddNullToObject(out, "git_version");
    }
    return api_send_json(r, 200, out);
}

int api_get_metrics(api_req_t *r)
{
    char *text = NULL;
    size_t len = 0;
    if (metrics_render_prometheus(&text, &len) < 0)
        return api_fail(r, UPDRAFT_ENOMEM, NULL, "cannot render the metrics");
    int status = http_send(r->conn, 200, METRICS_CONTENT_TYPE, text, len);
    free(text);
    return status;
}
