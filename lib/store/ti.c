/*
 * ti.c - task-instance transitions with the fencing guard (see ti.h).
 * Each statement is a named constant next to the function that runs it,
 * prepared once per connection by name.
 */
#include "store/ti.h"
#include "core/error.h"
#include "core/pgarray.h"
#include "core/strbuf.h"
#include "store/channels.h"
#include "store/locks.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the claim ---------------------------------------------------------- */

/* now() for the consumer's claim (its own statement), clock_timestamp() for
 * a direct claim in the middle of an outcome transaction. The spec column
 * is NULL for versions the caller has cached ($6): reading one task's spec
 * from dag_version.data detoasts the whole document, which for a large DAG
 * costs more than the rest of the claim. */
#define SQL_CLAIM(ts)                                                                              \
    "UPDATE task_instance ti"                                                                      \
    "   SET state = 'running', hostname = $1, pid = $2::integer, worker_id = $3::bigint,"          \
    "       start_date = " ts ", heartbeat_at = " ts ", updated_at = " ts                          \
    "  FROM dag_run dr JOIN dag_version v ON v.id = dr.dag_version_id,"                            \
    "       unnest($4::bigint[], $5::integer[]) AS m(id, try)"                                     \
    " WHERE ti.id = m.id AND ti.try_number = m.try AND ti.state = 'queued'"                        \
    "   AND dr.id = ti.dag_run_id "                                                                \
    "RETURNING ti.id, ti.try_number, ti.max_tries, ti.map_index, ti.dag_run_id,"                   \
    "   (extract(epoch FROM dr.logical_date) * 1000000)::bigint,"                                  \
    "   ti.dag_id, ti.run_id, ti.task_id, ti.operator,"                                            \
    "   CASE WHEN dr.dag_version_id = ANY($6::bigint[]) THEN NULL"                                 \
    "        ELSE v.data -> 'tasks' -> ti.task_id END,"                                            \
    "   dr.dag_version_id, dr.conf::text,"                                                         \
    "   (extract(epoch FROM dr.data_interval_start) * 1000000)::bigint,"                           \
    "   (extract(epoch FROM dr.data_interval_end) * 1000000)::bigint,"                             \
    "   (extract(epoch FROM ti.first_poke_at) * 1000000)::bigint, ti.poke_count,"                  \
    "   (extract(epoch FROM ti.start_date) * 1000000)::bigint,"                                    \
    "   (extract(epoch FROM ti.queued_at) * 1000000)::bigint"

static const char SQL_CLAIM_QUEUED[] = SQL_CLAIM("now()");
static const char SQL_CLAIM_DIRECT[] = SQL_CLAIM("clock_timestamp()");

int ti_claim(db_t *db, bool direct, const char *hostname, int pid, int64_t job_id,
             const int64_t *ids, const int *tries, size_t n, const int64_t *cached_versions,
             size_t ncached, PGresult **out)
{
    int rc = UPDRAFT_ENOMEM;
    char pid_s[16], job_s[24];
    char *ids_s = pgarray_int64(ids, n), *tries_s = pgarray_int(tries, n),
         *cached_s = pgarray_int64(cached_versions, ncached);
    *out = NULL;
    if (!ids_s || !tries_s || !cached_s)
        goto out;
    snprintf(pid_s, sizeof(pid_s), "%d", pid);
    snprintf(job_s, sizeof(job_s), "%" PRId64, job_id);
    const char *params[] = {hostname, pid_s, job_s, ids_s, tries_s, cached_s};
    if (direct)
        *out = db_query(db, "worker_claim_direct", SQL_CLAIM_DIRECT, 6, params);
    else
        *out = db_query(db, "worker_claim", SQL_CLAIM_QUEUED, 6, params);
    rc = *out ? UPDRAFT_OK : UPDRAFT_EDB;
out:
    free(ids_s);
    free(tries_s);
    free(cached_s);
    return rc;
}

/* ---- while the try runs ------------------------------------------------- */

/*
 * The rendered fields of tries (table rendered_task_instance_fields,
 * migration 0019), written in the statement that writes their log: from
 * a CTE "rsrc" of (id, try, dag_id, task_id, dag_run_id, rendered) rows
 * whose guard held, with the runs kept per task as parameter keep. The
 * row is the instance's latest try; then the rows of the same tasks
 * older than the keep-th latest run of their DAG (by logical date, the
 * index dag_run_dag_logical) are deleted, on the table's trim index: a
 * few index entries per write. Rows another transaction holds are skipped
 * (the next write of the task takes them): the outcome transaction never
 * waits on another worker's for a trim.
 */
#define SQL_RENDERED_PUT(keep)                                                                     \
    " rput AS (INSERT INTO rendered_task_instance_fields AS f"                                     \
    "   (ti_id, try_number, dag_id, task_id, logical_date, rendered_fields)"                       \
    "   SELECT s.id, s.try, s.dag_id, s.task_id, dr.logical_date, s.rendered::json"                \
    "     FROM rsrc s JOIN dag_run dr ON dr.id = s.dag_run_id WHERE s.rendered IS NOT NULL"        \
    "   ON CONFLICT (ti_id) DO UPDATE SET try_number = EXCLUDED.try_number,"                       \
    "     logical_date = EXCLUDED.logical_date, rendered_fields = EXCLUDED.rendered_fields,"       \
    "     updated_at = now()"                                                                      \
    "   RETURNING f.dag_id, f.task_id),"                                                           \
    " rtrim AS (DELETE FROM rendered_task_instance_fields WHERE ti_id IN ("                        \
    "   SELECT f.ti_id FROM rendered_task_instance_fields f JOIN"                                  \
    "   (SELECT k.dag_id, k.task_id, (SELECT r.logical_date FROM dag_run r"                        \
    "      WHERE r.dag_id = k.dag_id ORDER BY r.logical_date DESC"                                 \
    "      OFFSET greatest(" keep "::integer - 1, 0) LIMIT 1) AS cutoff"                           \
    "    FROM (SELECT DISTINCT dag_id, task_id FROM rput) k) c"                                    \
    "   ON f.dag_id = c.dag_id AND f.task_id = c.task_id AND f.logical_date < c.cutoff"            \
    "   WHERE " keep "::integer > 0 FOR UPDATE OF f SKIP LOCKED))"

static const char SQL_LOG[] =
    "INSERT INTO task_log (ti_id, try_number, data) "
    "SELECT $1::bigint, $2::integer, $4::text WHERE EXISTS ("
    " SELECT 1 FROM task_instance WHERE id = $1::bigint AND try_number = $2::integer"
    " AND worker_id = $3::bigint AND state = 'running')";

/* The first chunk of a try comes with its rendered fields ($5, json text). */
static const char SQL_LOG_RENDERED[] =
    "WITH rsrc AS (SELECT id, try_number AS try, dag_id, task_id, dag_run_id, $5::text AS rendered"
    "   FROM task_instance WHERE id = $1::bigint AND try_number = $2::integer"
    "    AND worker_id = $3::bigint AND state = 'running'),"
    " l AS (INSERT INTO task_log (ti_id, try_number, data) SELECT id, try, $4::text FROM "
    "rsrc)," SQL_RENDERED_PUT("$6") " SELECT count(*) FROM rsrc";

int ti_log(db_t *db, int64_t job_id, int64_t ti_id, int try_number, const char *data,
           const char *rendered, int keep_runs)
{
    char ti_s[24], try_s[16], job_s[24], keep_s[16];
    snprintf(ti_s, sizeof(ti_s), "%" PRId64, ti_id);
    snprintf(try_s, sizeof(try_s), "%d", try_number);
    snprintf(job_s, sizeof(job_s), "%" PRId64, job_id);
    snprintf(keep_s, sizeof(keep_s), "%d", keep_runs);
    const char *params[] = {ti_s, try_s, job_s, data, rendered, keep_s};
    if (!rendered) {
        long n = db_exec(db, "worker_log", SQL_LOG, 4, params);
        if (n < 0)
            return UPDRAFT_EDB;
        return n > 0 ? UPDRAFT_OK : UPDRAFT_ECONFLICT;
    }
    PGresult *r = db_query(db, "worker_log_rendered", SQL_LOG_RENDERED, 6, params);
    if (!r)
        return UPDRAFT_EDB;
    int rc = PQntuples(r) == 1 && db_get_i64(r, 0, 0) > 0 ? UPDRAFT_OK : UPDRAFT_ECONFLICT;
    PQclear(r);
    return rc;
}

/* Only the tries this worker runs are refreshed: a claim whose reply was
 * lost must go stale and be reaped, not be kept alive by a blanket update. */
static const char SQL_HEARTBEAT[] =
    "WITH j AS (UPDATE job SET latest_heartbeat = now() WHERE id = $1::bigint) "
    "UPDATE task_instance ti SET heartbeat_at = now() "
    "  FROM unnest($2::bigint[], $3::integer[]) AS l(id, try) "
    " WHERE ti.id = l.id AND ti.try_number = l.try AND ti.worker_id = $1::bigint"
    "   AND ti.state = 'running' "
    "RETURNING ti.id, ti.try_number";

int ti_heartbeat(db_t *db, int64_t job_id, const int64_t *ti_ids, const int *tries, size_t n,
                 bool *alive)
{
    int rc = UPDRAFT_ENOMEM;
    PGresult *r = NULL;
    char job_s[24];
    char *ids = pgarray_int64(ti_ids, n), *trs = pgarray_int(tries, n);
    if (!ids || !trs)
        goto out;
    snprintf(job_s, sizeof(job_s), "%" PRId64, job_id);
    const char *params[] = {job_s, ids, trs};
    r = db_query(db, "worker_heartbeat", SQL_HEARTBEAT, 3, params);
    if (!r) {
        rc = UPDRAFT_EDB;
        goto out;
    }
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
    rc = UPDRAFT_OK;
out:
    PQclear(r);
    free(ids);
    free(trs);
    return rc;
}

/* ---- outcomes ----------------------------------------------------------- */

/* The try number the outcome returns (and logs under) is the one it was
 * claimed with (o.try): a reschedule lowers the row's own by one. */
static const char SQL_FINISH[] =
    "WITH o AS (SELECT * FROM unnest($2::bigint[], $3::integer[], $4::boolean[],"
    "                                $5::double precision[], $6::text[], $7::boolean[],"
    "                                $8::boolean[], $9::boolean[], $10::text[])"
    "           AS o(id, try, ok, delay, log, skip, resched, noretry, rendered)),"
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
    " RETURNING t.id, o.try, t.state, t.dag_id, t.task_id, t.dag_run_id),"
    " l AS (INSERT INTO task_log (ti_id, try_number, data)"
    "   SELECT u.id, u.try, o.log FROM u JOIN o ON o.id = u.id AND o.try = u.try"
    "   WHERE coalesce(o.log, '') <> ''),"
    " rsrc AS (SELECT u.id, u.try, u.dag_id, u.task_id, u.dag_run_id, o.rendered"
    "   FROM u JOIN o ON o.id = u.id AND o.try = u.try)," SQL_RENDERED_PUT(
        "$11") " SELECT id, try, state FROM u";

/* The per-outcome array parameters of SQL_FINISH ($2..$9). */
typedef struct finish_params {
    int64_t *ids;
    int *tries;
    char *a_ids, *a_tries, *oks, *delays, *logs, *skips, *rescheds, *noretries, *rendered;
} finish_params_t;

static void finish_params_free(finish_params_t *p)
{
    free(p->ids);
    free(p->tries);
    free(p->a_ids);
    free(p->a_tries);
    free(p->oks);
    free(p->delays);
    free(p->logs);
    free(p->skips);
    free(p->rescheds);
    free(p->noretries);
    free(p->rendered);
}

/* Builds the array literals of n outcomes (and resets their results). 0 or UPDRAFT_ENOMEM. */
static int finish_params_build(ti_outcome_t *o, size_t n, finish_params_t *p)
{
    strbuf_t b_ok = {0}, b_delay = {0}, b_skip = {0}, b_resched = {0}, b_noretry = {0}, b_log = {0},
             b_rendered = {0};
    p->ids = calloc(n + 1, sizeof(*p->ids));
    p->tries = calloc(n + 1, sizeof(*p->tries));
    if (!p->ids || !p->tries)
        return UPDRAFT_ENOMEM;
    pgarray_open(&b_ok);
    pgarray_open(&b_skip);
    pgarray_open(&b_resched);
    pgarray_open(&b_noretry);
    pgarray_open(&b_delay);
    pgarray_open(&b_log);
    pgarray_open(&b_rendered);
    for (size_t i = 0; i < n; i++) {
        p->ids[i] = o[i].ti_id;
        p->tries[i] = o[i].try_number;
        o[i].written = false;
        o[i].state[0] = '\0';
        pgarray_put_raw(&b_ok, o[i].success ? "t" : "f");
        pgarray_put_raw(&b_skip, o[i].skipped ? "t" : "f");
        pgarray_put_raw(&b_resched, o[i].reschedule ? "t" : "f");
        pgarray_put_raw(&b_noretry, o[i].no_retry ? "t" : "f");
        pgarray_put_int64(&b_delay, o[i].success || o[i].skipped ? 0 : o[i].delay_sec);
        pgarray_put_text(&b_log, o[i].log_tail && *o[i].log_tail ? o[i].log_tail : NULL);
        pgarray_put_text(&b_rendered, o[i].rendered);
    }
    pgarray_close(&b_ok);
    pgarray_close(&b_delay);
    pgarray_close(&b_skip);
    pgarray_close(&b_resched);
    pgarray_close(&b_noretry);
    pgarray_close(&b_log);
    pgarray_close(&b_rendered);
    p->oks = strbuf_take(&b_ok);
    p->delays = strbuf_take(&b_delay);
    p->skips = strbuf_take(&b_skip);
    p->rescheds = strbuf_take(&b_resched);
    p->noretries = strbuf_take(&b_noretry);
    p->logs = strbuf_take(&b_log);
    p->rendered = strbuf_take(&b_rendered);
    p->a_ids = pgarray_int64(p->ids, n);
    p->a_tries = pgarray_int(p->tries, n);
    if (!p->oks || !p->delays || !p->skips || !p->rescheds || !p->noretries || !p->logs ||
        !p->rendered || !p->a_ids || !p->a_tries)
        return UPDRAFT_ENOMEM;
    return UPDRAFT_OK;
}

int ti_finish_batch(db_t *db, int64_t job_id, ti_outcome_t *o, size_t n, int keep_runs)
{
    finish_params_t fp = {0};
    PGresult *r = NULL;
    char job_s[24], keep_s[16];
    int rc = finish_params_build(o, n, &fp);
    if (rc != UPDRAFT_OK)
        goto out;
    snprintf(job_s, sizeof(job_s), "%" PRId64, job_id);
    snprintf(keep_s, sizeof(keep_s), "%d", keep_runs);
    const char *params[] = {job_s,    fp.a_ids,    fp.a_tries,   fp.oks,      fp.delays, fp.logs,
                            fp.skips, fp.rescheds, fp.noretries, fp.rendered, keep_s};
    r = db_query(db, "worker_finish", SQL_FINISH, 11, params);
    if (!r) {
        rc = UPDRAFT_EDB;
        goto out;
    }
    int rows = PQntuples(r);
    for (int k = 0; k < rows; k++) {
        int64_t id = db_get_i64(r, k, 0);
        int tn = db_get_int(r, k, 1);
        const char *st = db_get_str(r, k, 2);
        for (size_t i = 0; i < n; i++) {
            if (fp.ids[i] == id && fp.tries[i] == tn) {
                o[i].written = true;
                snprintf(o[i].state, sizeof(o[i].state), "%s", st ? st : "");
            }
        }
    }
out:
    PQclear(r);
    finish_params_free(&fp);
    return rc;
}

static const char SQL_HAND_BACK[] =
    "WITH b AS (UPDATE task_instance t SET state = 'scheduled',"
    "   max_tries = t.max_tries + 1, hostname = '', pid = NULL,"
    "   end_date = now(), first_poke_at = NULL, poke_count = 0, updated_at = now()"
    " FROM unnest($1::bigint[], $2::int[]) l(id, try)"
    " WHERE t.id = l.id AND t.try_number = l.try AND t.worker_id = $3::bigint"
    "   AND t.state = 'running' RETURNING t.id, t.try_number, t.dag_run_id),"
    " l AS (INSERT INTO task_log (ti_id, try_number, data)"
    "   SELECT id, try_number, '[worker] WARNING - the worker shut down: this try"
    " was stopped and handed back; the next try does not count as a retry' || E'\\n'"
    "   FROM b)"
    " SELECT pg_notify(" CHANNEL_SCHEDULER_SQL ", dag_run_id::text) FROM b";

int ti_hand_back(db_t *db, int64_t job_id, const int64_t *ti_ids, const int *tries, size_t n,
                 long *handed)
{
    int rc = UPDRAFT_ENOMEM;
    char job_s[24];
    char *a_ids = pgarray_int64(ti_ids, n), *a_tries = pgarray_int(tries, n);
    if (!a_ids || !a_tries)
        goto out;
    snprintf(job_s, sizeof(job_s), "%" PRId64, job_id);
    const char *p[] = {a_ids, a_tries, job_s};
    long rows = db_exec(db, "worker_hand_back", SQL_HAND_BACK, 3, p);
    if (rows < 0) {
        rc = UPDRAFT_EDB;
        goto out;
    }
    *handed = rows;
    rc = UPDRAFT_OK;
out:
    free(a_ids);
    free(a_tries);
    return rc;
}

/* ---- the worker's mini-scheduler ------------------------------------------ */

/* OFFSET 0 keeps the ORDER BY below the lock calls: the locks are taken in
 * that order. */
static const char SQL_LOCK_SCHEDULED_DAGS[] =
    "SELECT d, pg_advisory_xact_lock(" LOCK_DAG_CLASS ", hashtext(d))"
    " FROM (SELECT d FROM unnest($1::text[]) d WHERE EXISTS (SELECT 1"
    "   FROM task_instance WHERE dag_id = d AND state = 'scheduled')"
    "   ORDER BY hashtext(d), d OFFSET 0) s";

int ti_lock_scheduled_dags(db_t *db, const char *const *dag_ids, size_t n, size_t *locked,
                           size_t *nlocked)
{
    char *arr = pgarray_text(dag_ids, n);
    *nlocked = 0;
    if (!arr)
        return UPDRAFT_ENOMEM;
    const char *p[] = {arr};
    PGresult *r = db_query(db, "worker_fill_lock", SQL_LOCK_SCHEDULED_DAGS, 1, p);
    free(arr);
    if (!r)
        return UPDRAFT_EDB;
    for (int row = 0; row < PQntuples(r); row++) {
        const char *dag = PQgetvalue(r, row, 0);
        for (size_t k = 0; k < n; k++) {
            if (!strcmp(dag_ids[k], dag)) {
                locked[(*nlocked)++] = k;
                break;
            }
        }
    }
    PQclear(r);
    return UPDRAFT_OK;
}

static const char SQL_RUNS_IDLE[] =
    "SELECT DISTINCT r FROM unnest($1::bigint[]) r WHERE NOT EXISTS ("
    " SELECT 1 FROM task_instance WHERE dag_run_id = r AND state IN ('none',"
    " 'scheduled', 'queued', 'running', 'up_for_retry', 'up_for_reschedule',"
    " 'deferred', 'restarting'))";

int ti_runs_idle(db_t *db, const int64_t *runs, size_t n, int64_t *idle, size_t *nidle)
{
    char *arr = pgarray_int64(runs, n);
    *nidle = 0;
    if (!arr)
        return UPDRAFT_ENOMEM;
    const char *p[] = {arr};
    PGresult *r = db_query(db, "worker_runs_idle", SQL_RUNS_IDLE, 1, p);
    free(arr);
    if (!r)
        return UPDRAFT_EDB;
    for (int k = 0; k < PQntuples(r) && *nidle < n; k++)
        idle[(*nidle)++] = db_get_i64(r, k, 0);
    PQclear(r);
    return UPDRAFT_OK;
}

static const char SQL_NOTIFY_RUNS[] =
    "SELECT pg_notify(" CHANNEL_SCHEDULER_SQL ", r::text) FROM unnest($1::bigint[]) r";

int ti_notify_runs(db_t *db, const int64_t *runs, size_t n)
{
    char *arr = pgarray_int64(runs, n);
    if (!arr)
        return UPDRAFT_ENOMEM;
    const char *p[] = {arr};
    PGresult *r = db_query(db, "worker_notify", SQL_NOTIFY_RUNS, 1, p);
    free(arr);
    if (!r)
        return UPDRAFT_EDB;
    PQclear(r);
    return UPDRAFT_OK;
}

static const char SQL_SAVEPOINT[] = "SAVEPOINT minisched";
static const char SQL_ROLLBACK_TO[] = "ROLLBACK TO SAVEPOINT minisched";

int ti_savepoint_minisched(db_t *db)
{
    return db_simple(db, SQL_SAVEPOINT) == 0 ? UPDRAFT_OK : UPDRAFT_EDB;
}

int ti_rollback_minisched(db_t *db)
{
    return db_simple(db, SQL_ROLLBACK_TO) == 0 ? UPDRAFT_OK : UPDRAFT_EDB;
}
