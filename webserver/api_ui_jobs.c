/*
 * api_ui_jobs.c - GET /ui/jobs: the schedulers and workers alive, for the
 * web UI's Jobs page (Airflow's Browse > Jobs). Airflow's stable API has
 * no jobs endpoint, so this one is the UI's own:
 *
 *   {"jobs": [{"id", "job_type", "hostname", "pid", "state", "queues",
 *              "start_date", "latest_heartbeat", "healthy", "running_tasks",
 *              "slots", "dag_processor_heartbeat"}],
 *    "total_entries", "health_threshold_seconds"}
 *
 * A job is listed while its row says running; "healthy" is false once its
 * heartbeat is older than the health threshold (the one /health uses), so
 * a process that died without ending its row shows as stale. job_type
 * (SchedulerJob or WorkerJob) narrows the list. A worker's "slots" is its
 * concurrency (tries it runs at once) as it registered, so the page can
 * show running_tasks / slots; null for a scheduler or a worker row that
 * did not record it.
 */
#include "webserver/api_int.h"

#include <stdlib.h>
#include <string.h>

#include "store/jobs.h"
#include "webserver/http.h"

static cJSON *job_json(const PGresult *res, int i)
{
    cJSON *j = cJSON_CreateObject(), *queues;
    bool worker = strcmp(PQgetvalue(res, i, JOBS_LIVE_TYPE), "WorkerJob") == 0;

    if (!j)
        return NULL;
    /* 64-bit ids travel as strings. */
    cJSON_AddStringToObject(j, "id", PQgetvalue(res, i, JOBS_LIVE_ID));
    cJSON_AddStringToObject(j, "job_type", PQgetvalue(res, i, JOBS_LIVE_TYPE));
    cJSON_AddStringToObject(j, "hostname", PQgetvalue(res, i, JOBS_LIVE_HOSTNAME));
    cJSON_AddNumberToObject(j, "pid", atoi(PQgetvalue(res, i, JOBS_LIVE_PID)));
    cJSON_AddStringToObject(j, "state", PQgetvalue(res, i, JOBS_LIVE_STATE));
    queues = cJSON_Parse(PQgetvalue(res, i, JOBS_LIVE_QUEUES));
    cJSON_AddItemToObject(j, "queues", queues ? queues : cJSON_CreateArray());
    http_json_add_ts(j, "start_date", res, i, JOBS_LIVE_START);
    http_json_add_ts(j, "latest_heartbeat", res, i, JOBS_LIVE_HEARTBEAT);
    cJSON_AddBoolToObject(j, "healthy", db_get_bool(res, i, JOBS_LIVE_HEALTHY));
    if (worker)
        cJSON_AddNumberToObject(j, "running_tasks", atof(PQgetvalue(res, i, JOBS_LIVE_RUNNING)));
    else
        cJSON_AddNullToObject(j, "running_tasks");
    if (worker && !PQgetisnull(res, i, JOBS_LIVE_CONCURRENCY))
        cJSON_AddNumberToObject(j, "slots", atoi(PQgetvalue(res, i, JOBS_LIVE_CONCURRENCY)));
    else
        cJSON_AddNullToObject(j, "slots");
    http_json_add_ts(j, "dag_processor_heartbeat", res, i, JOBS_LIVE_PROCESSOR_HEARTBEAT);
    return j;
}

int api_get_ui_jobs(api_req_t *r)
{
    const char *type = httpq_get(&r->q, "job_type");
    PGresult *res = NULL;
    cJSON *out, *jobs;
    int n;

    if (type && strcmp(type, "SchedulerJob") != 0 && strcmp(type, "WorkerJob") != 0)
        return api_bad_request(r, "{'job_type': ['Must be one of: SchedulerJob, WorkerJob.']}");
    if (jobs_list_live(r->db, type, &res) != 0)
        return api_db_failed(r);
    n = PQntuples(res);
    out = cJSON_CreateObject();
    jobs = out ? cJSON_AddArrayToObject(out, "jobs") : NULL;
    for (int i = 0; jobs && i < n; i++) {
        cJSON *j = job_json(res, i);
        if (j)
            cJSON_AddItemToArray(jobs, j);
    }
    if (out) {
        cJSON_AddNumberToObject(out, "total_entries", n);
        cJSON_AddNumberToObject(out, "health_threshold_seconds", atoi(JOBS_HEALTH_THRESHOLD_SEC));
    }
    PQclear(res);
    return api_send_json(r, 200, out);
}
