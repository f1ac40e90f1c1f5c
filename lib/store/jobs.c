/*
 * jobs.c - the job table (see jobs.h). Each statement is a named constant
 * next to the function that runs it.
 */
#include "store/jobs.h"
#include "store/result.h"
#include "core/error.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- a process's own row ------------------------------------------------- */

static const char SQL_WORKER_START[] =
    "INSERT INTO job (job_type, hostname, pid, queues, concurrency) "
    "VALUES ('WorkerJob', $1, $2::integer, string_to_array($3, ','), $4::integer) RETURNING id";

/* One row back: its id. 0 with *job_id, or UPDRAFT_EDB. */
static int insert_job(db_t *db, const char *name, const char *sql, int nparams,
                      const char *const *params, int64_t *job_id)
{
    PGresult *r = db_query(db, name, sql, nparams, params);
    if (!r)
        return UPDRAFT_EDB;
    int rc = UPDRAFT_EDB;
    if (PQntuples(r) == 1) {
        *job_id = db_get_i64(r, 0, 0);
        rc = UPDRAFT_OK;
    }
    PQclear(r);
    return rc;
}

int jobs_worker_start(db_t *db, const char *hostname, int pid, const char *queues_csv,
                      int concurrency, int64_t *job_id)
{
    char pid_s[16], conc_s[16];
    snprintf(pid_s, sizeof(pid_s), "%d", pid);
    snprintf(conc_s, sizeof(conc_s), "%d", concurrency);
    const char *params[] = {hostname, pid_s, queues_csv, conc_s};
    return insert_job(db, "worker_job_start", SQL_WORKER_START, 4, params, job_id);
}

static const char SQL_WORKER_END[] =
    "UPDATE job SET state = $2, end_date = now(), latest_heartbeat = now() WHERE id = $1::bigint";

int jobs_worker_end(db_t *db, int64_t job_id, const char *state)
{
    char id_s[24];
    snprintf(id_s, sizeof(id_s), "%" PRId64, job_id);
    const char *params[] = {id_s, state};
    return db_exec(db, "worker_job_end", SQL_WORKER_END, 2, params) < 0 ? UPDRAFT_EDB : UPDRAFT_OK;
}

static const char SQL_SCHEDULER_START[] =
    "INSERT INTO job (job_type, hostname, pid) VALUES ('SchedulerJob', $1,"
    " $2::int) RETURNING id";

int jobs_scheduler_start(db_t *db, const char *hostname, int pid, int64_t *job_id)
{
    char pid_s[16];
    snprintf(pid_s, sizeof(pid_s), "%d", pid);
    const char *params[] = {hostname, pid_s};
    return insert_job(db, "loop_job_insert", SQL_SCHEDULER_START, 2, params, job_id);
}

static const char SQL_SCHEDULER_UPDATE[] =
    "UPDATE job SET latest_heartbeat = now(), state = $2,"
    " end_date = CASE WHEN $2 = 'running' THEN NULL ELSE now() END,"
    " dag_processor_heartbeat = now() - $3::bigint * interval '1 microsecond'"
    " WHERE id = $1::bigint";

int jobs_scheduler_update(db_t *db, int64_t job_id, const char *state, int64_t processor_stalled_us)
{
    char id_s[24], stalled_s[24];
    snprintf(id_s, sizeof(id_s), "%" PRId64, job_id);
    snprintf(stalled_s, sizeof(stalled_s), "%" PRId64, processor_stalled_us);
    const char *params[] = {id_s, state, processor_stalled_us < 0 ? NULL : stalled_s};
    return db_exec(db, "loop_job_update", SQL_SCHEDULER_UPDATE, 3, params) < 0 ? UPDRAFT_EDB
                                                                               : UPDRAFT_OK;
}

/* ---- who is alive -------------------------------------------------------- */

static const char SQL_LIST_RUNNING[] =
    "SELECT job_type, hostname, pid, (extract(epoch from latest_heartbeat) * 1000000)::int8,"
    " latest_heartbeat > now() - interval '" JOBS_HEALTH_THRESHOLD_SEC " seconds',"
    " array_to_json(queues)::text,"
    " (extract(epoch from dag_processor_heartbeat) * 1000000)::int8,"
    " dag_processor_heartbeat > now() - interval '" JOBS_HEALTH_THRESHOLD_SEC " seconds'"
    " FROM job "
    "WHERE state = 'running' ORDER BY job_type, latest_heartbeat DESC LIMIT 1000";

int jobs_list_running(db_t *db, PGresult **out)
{
    return store_query_rows(db, "jobs_list_running", SQL_LIST_RUNNING, 0, NULL, out);
}

/* One count(*) row. */
static int count_one(PGresult *r, long *count)
{
    if (!r)
        return UPDRAFT_EDB;
    int rc = UPDRAFT_EDB;
    if (PQntuples(r) == 1) {
        *count = atol(PQgetvalue(r, 0, 0));
        rc = UPDRAFT_OK;
    }
    PQclear(r);
    return rc;
}

static const char SQL_COUNT_ALIVE[] =
    "SELECT count(*) FROM (SELECT 1 FROM job WHERE state = 'running'"
    " AND latest_heartbeat > now() - interval '" JOBS_HEALTH_THRESHOLD_SEC
    " seconds' AND ($1::text IS NULL OR job_type = $1)"
    " AND ($2::text IS NULL OR hostname = $2) LIMIT $3::int) j";

int jobs_count_alive(db_t *db, const char *job_type, const char *hostname, int limit, long *count)
{
    char limit_s[16];
    snprintf(limit_s, sizeof(limit_s), "%d", limit);
    const char *p[] = {job_type, hostname, limit_s};
    return count_one(db_query(db, "cli_jobs_check", SQL_COUNT_ALIVE, 3, p), count);
}

static const char SQL_COUNT_SCHEDULERS_ALIVE[] =
    "SELECT count(*) FROM job WHERE job_type = 'SchedulerJob'"
    " AND state = 'running' AND latest_heartbeat > now() - interval '" JOBS_SCHEDULER_ALIVE_SEC
    " seconds'";

int jobs_count_schedulers_alive(db_t *db, long *count)
{
    return count_one(db_query(db, "jobs_schedulers_alive", SQL_COUNT_SCHEDULERS_ALIVE, 0, NULL),
                     count);
}

/* ---- the web UI's list ------------------------------------------------- */

static const char SQL_LIST_LIVE[] =
    "SELECT j.id, j.job_type, j.hostname, j.pid, j.state, array_to_json(j.queues)::text,"
    " (extract(epoch from j.start_date) * 1000000)::int8,"
    " (extract(epoch from j.latest_heartbeat) * 1000000)::int8,"
    " j.latest_heartbeat > now() - interval '" JOBS_HEALTH_THRESHOLD_SEC " seconds',"
    " coalesce(t.n, 0),"
    " (extract(epoch from j.dag_processor_heartbeat) * 1000000)::int8, j.concurrency"
    " FROM job j LEFT JOIN (SELECT worker_id, count(*) AS n FROM task_instance"
    "  WHERE state = 'running' AND worker_id IS NOT NULL GROUP BY worker_id) t"
    "  ON t.worker_id = j.id"
    " WHERE j.state = 'running' AND j.job_type IN ('SchedulerJob', 'WorkerJob')"
    " AND ($1::text IS NULL OR j.job_type = $1)"
    " ORDER BY j.job_type, j.latest_heartbeat DESC, j.id LIMIT 1000";

int jobs_list_live(db_t *db, const char *job_type, PGresult **out)
{
    const char *p[] = {job_type};
    return store_query_rows(db, "jobs_list_live", SQL_LIST_LIVE, 1, p, out);
}
