/*
 * reporter.c - guarded writes of a worker (see reporter.h). Statements are
 * prepared once per connection by name.
 */
#include "worker/reporter.h"
#include "core/pgarray.h"
#include "core/strbuf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/planner.h"

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

/* The try number the outcome returns (and logs under) is the one it was
 * claimed with (o.try): a reschedule lowers the row's own by one. */
static const char SQL_FINISH[] =
    "WITH o AS (SELECT * FROM unnest($2::bigint[], $3::integer[], $4::boolean[],"
    "                                $5::double precision[], $6::text[], $7::boolean[],"
    "                                $8::boolean[], $9::boolean[])"
    "           AS o(id, try, ok, delay, log, skip, resched, noretry)),"
    " u AS ("
    " UPDATE task_instance t SET"
    "   state = CASE WHEN o.skip THEN 'skipped' WHEN o.ok THEN 'success'"
    "                WHEN o.resched THEN 'up_for_reschedule'"
    "                WHEN NOT o.noretry AND t.try_number <= t.max_tries THEN 'up_for_retry'"
    "                ELSE 'failed' END,"
    "   try_number = CASE WHEN o.resched AND NOT o.ok AND NOT o.skip THEN t.try_number - 1"
    "                     ELSE t.try_number END,"
    "   end_date = now(),"
    "   duration = EXTRACT(EPOCH FROM now() - t.start_date),"
    "   next_try_at = CASE WHEN o.ok OR o.skip THEN NULL"
    "                      WHEN o.resched THEN now() + make_interval(secs => o.delay)"
    "                      WHEN NOT o.noretry AND t.try_number <= t.max_tries"
    "                      THEN now() + make_interval(secs => o.delay) END,"
    "   first_poke_at = CASE WHEN o.resched AND NOT o.ok AND NOT o.skip"
    "                        THEN coalesce(t.first_poke_at, t.start_date) END,"
    "   poke_count = CASE WHEN o.resched AND NOT o.ok AND NOT o.skip THEN t.poke_count + 1"
    "                     ELSE 0 END,"
    "   updated_at = now()"
    "  FROM o"
    " WHERE t.id = o.id AND t.try_number = o.try AND t.worker_id = $1::bigint"
    "   AND t.state = 'running'"
    " RETURNING t.id, o.try, t.state),"
    " l AS (INSERT INTO task_log (ti_id, try_number, data)"
    "   SELECT u.id, u.try, o.log FROM u JOIN o ON o.id = u.id AND o.try = u.try"
    "   WHERE coalesce(o.log, '') <> '') "
    "SELECT id, try, state FROM u";

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
    char *ids = pgarray_int64(ti_ids, n), *trs = pgarray_int(tries, n);
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

int reporter_finish_batch(db_t *db, int64_t job_id, reporter_outcome_t *o, size_t n)
{
    int rc = -1;
    PGresult *r = NULL;
    char job_s[24];
    char *ids = NULL, *trs = NULL, *oks = NULL, *delays = NULL, *skips = NULL, *rescheds = NULL,
         *noretries = NULL, *logs = NULL;
    strbuf_t b_ok = {0}, b_delay = {0}, b_skip = {0}, b_resched = {0}, b_noretry = {0},
             b_log = {0};
    int64_t *idv = calloc(n + 1, sizeof(*idv));
    int *trv = calloc(n + 1, sizeof(*trv));
    if (!idv || !trv)
        goto out;
    pgarray_open(&b_ok);
    pgarray_open(&b_skip);
    pgarray_open(&b_resched);
    pgarray_open(&b_noretry);
    pgarray_open(&b_delay);
    pgarray_open(&b_log);
    for (size_t i = 0; i < n; i++) {
        idv[i] = o[i].t->ti_id;
        trv[i] = o[i].t->try_number;
        o[i].written = 0;
        o[i].state[0] = '\0';
        pgarray_put_raw(&b_ok, o[i].success ? "t" : "f");
        pgarray_put_raw(&b_skip, o[i].skipped ? "t" : "f");
        pgarray_put_raw(&b_resched, o[i].reschedule ? "t" : "f");
        pgarray_put_raw(&b_noretry, o[i].no_retry ? "t" : "f");
        long long delay = 0;
        if (o[i].success || o[i].skipped) {
            delay = 0;
        } else if (o[i].reschedule) {
            delay = o[i].reschedule_sec < 0 ? 0 : o[i].reschedule_sec;
            if (delay > REPORTER_MAX_RESCHEDULE_SEC)
                delay = REPORTER_MAX_RESCHEDULE_SEC;
        } else {
            delay = wtry_retry_delay(o[i].t);
            if (delay < 0 || delay > PLANNER_MAX_RETRY_DELAY)
                delay = PLANNER_MAX_RETRY_DELAY;
        }
        pgarray_put_int64(&b_delay, delay);
        pgarray_put_text(&b_log, o[i].log_tail && *o[i].log_tail ? o[i].log_tail : NULL);
    }
    pgarray_close(&b_ok);
    pgarray_close(&b_delay);
    pgarray_close(&b_skip);
    pgarray_close(&b_resched);
    pgarray_close(&b_noretry);
    pgarray_close(&b_log);
    oks = strbuf_take(&b_ok);
    delays = strbuf_take(&b_delay);
    skips = strbuf_take(&b_skip);
    rescheds = strbuf_take(&b_resched);
    noretries = strbuf_take(&b_noretry);
    logs = strbuf_take(&b_log);
    if (!oks || !delays || !skips || !rescheds || !noretries || !logs)
        goto out;
    ids = pgarray_int64(idv, n);
    trs = pgarray_int(trv, n);
    if (!ids || !trs)
        goto out;
    snprintf(job_s, sizeof(job_s), "%" PRId64, job_id);
    const char *params[] = {job_s, ids, trs, oks, delays, logs, skips, rescheds, noretries};
    r = db_query(db, "worker_finish", SQL_FINISH, 9, params);
    if (!r)
        goto out;
    int rows = PQntuples(r);
    for (int k = 0; k < rows; k++) {
        int64_t id = db_get_i64(r, k, 0);
        int tn = db_get_int(r, k, 1);
        const char *st = db_get_str(r, k, 2);
        for (size_t i = 0; i < n; i++) {
            if (idv[i] == id && trv[i] == tn) {
                o[i].written = 1;
                snprintf(o[i].state, sizeof(o[i].state), "%s", st ? st : "");
            }
        }
    }
    rc = 0;
out:
    PQclear(r);
    free(ids);
    free(trs);
    free(oks);
    free(delays);
    free(skips);
    free(rescheds);
    free(noretries);
    free(logs);
    free(idv);
    free(trv);
    return rc;
}
