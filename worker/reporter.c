/*
 * reporter.c - guarded writes of a worker (see reporter.h). Statements are
 * prepared once per connection by name.
 */
#include "worker/reporter.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char SQL_JOB_START[] =
    "INSERT INTO job (job_type, hostname, pid, queues) "
    "VALUES ('WorkerJob', $1, $2::integer, string_to_array($3, ',')) RETURNING id";

static const char SQL_JOB_END[] =
    "UPDATE job SET state = $2, end_date = now(), latest_heartbeat = now() WHERE id = $1::bigint";

static const char SQL_LOG[] =
    "INSERT INTO task_log (ti_id, try_number, data) "
    "SELECT $1::bigint, $2::integer, $4::text WHERE EXISTS ("
    " SELECT 1 FROM task_instance WHERE id = $1::bigint AND try_number = $2::integer"
    " AND worker_id = $3::bigint AND state = 'running')";

/* Only the tries this worker runs are refreshed: a claim whose reply was
 * lost must go stale and be reaped, not be kept alive by a blanket update. */
static const char SQL_HEARTBEAT[] =
    "WITH j AS (UPDATE job SET latest_heartbeat = now() WHERE id = $1::bigint) "
    "UPDATE task_instance ti SET heartbeat_at = now() "
    "  FROM unnest($2::bigint[], $3::integer[]) AS l(id, try) "
    " WHERE ti.id = l.id AND ti.try_number = l.try AND ti.worker_id = $1::bigint"
    "   AND ti.state = 'running' "
    "RETURNING ti.id, ti.try_number";

static const char SQL_FINISH[] =
    "WITH u AS ("
    " UPDATE task_instance SET"
    "   state = CASE WHEN $4::boolean THEN 'success'"
    "                WHEN try_number <= max_tries THEN 'up_for_retry' ELSE 'failed' END,"
    "   end_date = now(),"
    "   duration = EXTRACT(EPOCH FROM now() - start_date),"
    "   next_try_at = CASE WHEN NOT $4::boolean AND try_number <= max_tries"
    "                      THEN now() + make_interval(secs => $5::double precision) END,"
    "   updated_at = now()"
    " WHERE id = $1::bigint AND try_number = $2::integer AND worker_id = $3::bigint"
    "   AND state = 'running'"
    " RETURNING id, try_number, state, dag_run_id),"
    " l AS (INSERT INTO task_log (ti_id, try_number, data)"
    "   SELECT id, try_number, $6::text FROM u WHERE coalesce($6::text, '') <> '') "
    "SELECT state, pg_notify('updraft_scheduler', dag_run_id::text) FROM u";

int reporter_job_start(db_t *db, const char *hostname, int pid, const char *queues_csv,
                       int64_t *job_id)
{
    char pid_s[16];
    snprintf(pid_s, sizeof(pid_s), "%d", pid);
    const char *params[] = {hostname, pid_s, queues_csv};
    PGresult *r = db_query(db, "worker_job_start", SQL_JOB_START, 3, params);
    if (!r)
        return -1;
    int rc = -1;
    if (PQntuples(r) == 1) {
        *job_id = db_get_i64(r, 0, 0);
        rc = 0;
    }
    PQclear(r);
    return rc;
}

int reporter_job_end(db_t *db, int64_t job_id, const char *state)
{
    char id_s[24];
    snprintf(id_s, sizeof(id_s), "%" PRId64, job_id);
    const char *params[] = {id_s, state};
    return db_exec(db, "worker_job_end", SQL_JOB_END, 2, params) < 0 ? -1 : 0;
}

int reporter_log(db_t *db, int64_t job_id, int64_t ti_id, int try_number, const char *data)
{
    char ti_s[24], try_s[16], job_s[24];
    snprintf(ti_s, sizeof(ti_s), "%" PRId64, ti_id);
    snprintf(try_s, sizeof(try_s), "%d", try_number);
    snprintf(job_s, sizeof(job_s), "%" PRId64, job_id);
    const char *params[] = {ti_s, try_s, job_s, data};
    long n = db_exec(db, "worker_log", SQL_LOG, 4, params);
    if (n < 0)
        return -1;
    return n > 0 ? 1 : 0;
}

int reporter_heartbeat(db_t *db, int64_t job_id, const int64_t *ti_ids, const int *tries, size_t n,
                       bool *alive)
{
    int rc = -1;
    PGresult *r = NULL;
    char job_s[24];
    char *ids = db_array_i64(ti_ids, n), *trs = db_array_int(tries, n);
    if (!ids || !trs)
        goto out;
    snprintf(job_s, sizeof(job_s), "%" PRId64, job_id);
    const char *params[] = {job_s, ids, trs};
    r = db_query(db, "worker_heartbeat", SQL_HEARTBEAT, 3, params);
    if (!r)
        goto out;
    for (size_t i = 0; i < n; i++)
        alive[i] = false;
    int rows = PQntuples(r);
    for (int k = 0; k < rows; k++) {
        int64_t id = db_get_i64(r, k, 0);
        int tn = db_get_int(r, k, 1);
        for (size_t i = 0; i < n; i++) {
            if (ti_ids[i] == id && tries[i] == tn)
                alive[i] = true;
        }
    }
    rc = 0;
out:
    PQclear(r);
    free(ids);
    free(trs);
    return rc;
}

int reporter_finish(db_t *db, int64_t job_id, const wtry_t *t, bool success, const char *log_tail,
                    char *state_out, size_t statelen)
{
    char ti_s[24], try_s[16], job_s[24], delay_s[16];
    snprintf(ti_s, sizeof(ti_s), "%" PRId64, t->ti_id);
    snprintf(try_s, sizeof(try_s), "%d", t->try_number);
    snprintf(job_s, sizeof(job_s), "%" PRId64, job_id);
    snprintf(delay_s, sizeof(delay_s), "%d", t->retry_delay_sec);
    const char *params[] = {ti_s,    try_s,
                            job_s,   success ? "true" : "false",
                            delay_s, log_tail && *log_tail ? log_tail : NULL};
    PGresult *r = db_query(db, "worker_finish", SQL_FINISH, 6, params);
    if (!r)
        return -1;
    int rc = 0;
    if (PQntuples(r) > 0) {
        const char *st = db_get_str(r, 0, 0);
        snprintf(state_out, statelen, "%s", st ? st : "");
        rc = 1;
    }
    PQclear(r);
    return rc;
}
