/*
 * dags.c - the dag, dag_version and dag_file statements (see dags.h).
 * Statements are prepared once per connection by name.
 *
 * The processor's statements take whole batches as jsonb and unpack them
 * with jsonb_to_recordset, so a batch is a few round trips; they keep the
 * rules of scheduler/processor.c's opening comment (a broken file keeps
 * its DAGs active, a version is stored only when its document changed).
 * The schedule reads return times as epoch microseconds, and the DAG's
 * time zone from its latest serialized version.
 *
 * The reads of the commands, the REST API and the watching operators come
 * last. The commands' and the operators' go unprepared (a command or an
 * operator runner makes a few calls and exits); the API's are prepared.
 */
#include "store/dags.h"
#include "store/channels.h"
#include "store/result.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* ---- the processor's batch store ----------------------------------------- */

static const char SQL_LOCK_OWNERS[] =
    "SELECT dag_id, fileloc FROM dag"
    " WHERE dag_id IN (SELECT jsonb_array_elements_text($1::jsonb)) AND is_active"
    " ORDER BY dag_id COLLATE \"C\" FOR UPDATE";

int dags_lock_active_owners(db_t *db, const char *ids_json, PGresult **out)
{
    const char *p[] = {ids_json};
    return store_query_rows(db, "dags_lock_owners", SQL_LOCK_OWNERS, 1, p, out);
}

static const char SQL_UPSERT_BATCH[] =
    "WITH x AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(dag_id text, fileloc text,"
    "   description text, schedule text, catchup bool, start_date timestamptz,"
    "   end_date timestamptz, tags text[], owners text, max_active_runs int,"
    "   max_active_tasks int, is_paused bool)),"
    " old AS (SELECT d.dag_id, d.is_active, d.schedule, d.start_date, d.end_date, d.catchup,"
    "   d.next_dagrun, d.next_dagrun_create_after FROM dag d"
    "   WHERE d.dag_id IN (SELECT dag_id FROM x) FOR UPDATE),"
    " up AS (INSERT INTO dag (dag_id, fileloc, description, schedule, catchup, start_date,"
    "   end_date, tags, owners, max_active_runs, max_active_tasks, is_paused, is_active,"
    "   last_parsed_time)"
    "   SELECT dag_id, fileloc, description, schedule, catchup, start_date, end_date,"
    "   coalesce(tags, '{}'), owners, max_active_runs, max_active_tasks, is_paused, true, now()"
    "   FROM x"
    "   ON CONFLICT (dag_id) DO UPDATE SET fileloc = EXCLUDED.fileloc,"
    "   description = EXCLUDED.description, schedule = EXCLUDED.schedule,"
    "   catchup = EXCLUDED.catchup, start_date = EXCLUDED.start_date,"
    "   end_date = EXCLUDED.end_date, tags = EXCLUDED.tags, owners = EXCLUDED.owners,"
    "   max_active_runs = EXCLUDED.max_active_runs,"
    "   max_active_tasks = EXCLUDED.max_active_tasks, is_active = true,"
    "   last_parsed_time = now()"
    "   RETURNING dag_id)"
    " SELECT x.dag_id FROM x LEFT JOIN old o ON o.dag_id = x.dag_id"
    " WHERE (o.dag_id IS NULL OR NOT o.is_active OR o.schedule IS DISTINCT FROM x.schedule"
    "   OR o.start_date IS DISTINCT FROM x.start_date OR o.end_date IS DISTINCT FROM x.end_date"
    "   OR o.catchup IS DISTINCT FROM x.catchup)"
    "  AND (x.schedule IS NOT NULL OR o.next_dagrun IS NOT NULL"
    "   OR o.next_dagrun_create_after IS NOT NULL)";

int dags_upsert_batch(db_t *db, const char *rows_json, PGresult **out)
{
    const char *p[] = {rows_json};
    return store_query_rows(db, "dags_upsert_batch", SQL_UPSERT_BATCH, 1, p, out);
}

static const char SQL_STORE_VERSIONS[] =
    "WITH x AS (SELECT * FROM jsonb_to_recordset($1::jsonb)"
    "   AS x(dag_id text, fileloc text, hash text, data jsonb)),"
    " latest AS (SELECT x.dag_id, v.id, v.hash, v.version_number FROM x LEFT JOIN LATERAL"
    "   (SELECT id, hash, version_number FROM dag_version dv WHERE dv.dag_id = x.dag_id"
    "    ORDER BY version_number DESC LIMIT 1) v ON true),"
    " ins AS (INSERT INTO dag_version (dag_id, version_number, hash, data, fileloc)"
    "   SELECT x.dag_id, coalesce(l.version_number, 0) + 1, x.hash, x.data, x.fileloc"
    "   FROM x JOIN latest l ON l.dag_id = x.dag_id WHERE l.hash IS DISTINCT FROM x.hash"
    "   RETURNING id, dag_id, version_number),"
    " upd AS (UPDATE dag d SET version_id = coalesce(i.id, l.id)"
    "   FROM latest l LEFT JOIN ins i ON i.dag_id = l.dag_id"
    "   WHERE d.dag_id = l.dag_id AND d.version_id IS DISTINCT FROM coalesce(i.id, l.id)),"
    " c AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS c(fileloc text, source text,"
    "   source_hash text, source_size bigint, truncated bool)),"
    " code AS (INSERT INTO dag_code (dag_version_id, fileloc, source_code, source_hash,"
    "   source_size, truncated)"
    "   SELECT coalesce(i.id, l.id), c.fileloc, c.source, c.source_hash, c.source_size,"
    "   c.truncated FROM x JOIN c ON c.fileloc = x.fileloc JOIN latest l ON l.dag_id = x.dag_id"
    "   LEFT JOIN ins i ON i.dag_id = x.dag_id WHERE coalesce(i.id, l.id) IS NOT NULL"
    "   ON CONFLICT (dag_version_id) DO UPDATE SET fileloc = EXCLUDED.fileloc,"
    "   source_code = EXCLUDED.source_code, source_hash = EXCLUDED.source_hash,"
    "   source_size = EXCLUDED.source_size, truncated = EXCLUDED.truncated, last_updated = now()"
    "   WHERE dag_code.source_hash IS DISTINCT FROM EXCLUDED.source_hash"
    "   OR dag_code.fileloc IS DISTINCT FROM EXCLUDED.fileloc)"
    " SELECT dag_id, version_number FROM ins";

int dags_store_versions(db_t *db, const char *versions_json, const char *code_json, PGresult **out)
{
    const char *p[] = {versions_json, code_json};
    return store_query_rows(db, "dags_store_versions", SQL_STORE_VERSIONS, 2, p, out);
}

static const char SQL_STORE_FILES[] =
    "WITH f AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS f(path text, hash text,"
    "   mtime timestamptz, size bigint, ok bool, errors text, dag_ids text[])),"
    " deact AS (UPDATE dag d SET is_active = false FROM f"
    "   WHERE f.ok AND d.fileloc = f.path AND d.is_active"
    "   AND d.dag_id <> ALL (coalesce(f.dag_ids, '{}')) RETURNING d.fileloc),"
    " clr AS (DELETE FROM import_error ie USING f WHERE f.ok AND ie.filename = f.path),"
    " err AS (INSERT INTO import_error (filename, stack_trace)"
    "   SELECT path, errors FROM f WHERE NOT f.ok"
    "   ON CONFLICT (filename) DO UPDATE SET stack_trace = EXCLUDED.stack_trace,"
    "   \"timestamp\" = now()"
    "   WHERE import_error.stack_trace IS DISTINCT FROM EXCLUDED.stack_trace),"
    " df AS (INSERT INTO dag_file (path, hash, mtime, size, dag_ids, last_parsed_at)"
    "   SELECT path, hash, mtime, size, coalesce(dag_ids, '{}'), now() FROM f"
    "   ON CONFLICT (path) DO UPDATE SET hash = EXCLUDED.hash, mtime = EXCLUDED.mtime,"
    "   size = EXCLUDED.size, dag_ids = EXCLUDED.dag_ids, last_parsed_at = now())"
    " SELECT fileloc, count(*) FROM deact GROUP BY fileloc";

int dags_store_files(db_t *db, const char *files_json, PGresult **out)
{
    const char *p[] = {files_json};
    return store_query_rows(db, "dags_store_files", SQL_STORE_FILES, 1, p, out);
}

static const char SQL_FORGET_FILES[] =
    "WITH g AS (SELECT jsonb_array_elements_text($1::jsonb) AS path),"
    " e AS (DELETE FROM import_error ie USING g WHERE ie.filename = g.path),"
    " f AS (DELETE FROM dag_file df USING g WHERE df.path = g.path),"
    " d AS (UPDATE dag SET is_active = false FROM g"
    "   WHERE dag.fileloc = g.path AND dag.is_active RETURNING dag.fileloc)"
    " SELECT g.path, (SELECT count(*) FROM d WHERE d.fileloc = g.path) FROM g";

int dags_forget_files(db_t *db, const char *paths_json, PGresult **out)
{
    const char *p[] = {paths_json};
    return store_query_rows(db, "dags_forget_files", SQL_FORGET_FILES, 1, p, out);
}

static const char SQL_LIST_FILES[] = "SELECT path, hash FROM dag_file ORDER BY path COLLATE \"C\"";

int dags_list_files(db_t *db, PGresult **out)
{
    return store_query_rows(db, "dags_list_files", SQL_LIST_FILES, 0, NULL, out);
}

/* ---- schedule fields ------------------------------------------------------ */

/* The zone of the DAG's latest serialized version. */
#define DAG_TZ "(SELECT v.data->>'timezone' FROM dag_version v WHERE v.id = d.version_id)"

/* Columns 0-4 of both schedule reads. */
#define SCHED_COLS                                                                                 \
    "schedule, (extract(epoch FROM start_date) * 1000000)::bigint,"                                \
    " (extract(epoch FROM end_date) * 1000000)::bigint, catchup, " DAG_TZ

static const char SQL_GET_SCHEDULE[] = "SELECT " SCHED_COLS " FROM dag d WHERE dag_id = $1";

static const char SQL_LOCK_DUE[] = "SELECT " SCHED_COLS ", max_active_runs,"
                                   " (SELECT count(*) FROM dag_run dr WHERE dr.dag_id = d.dag_id"
                                   "   AND dr.state IN ('queued', 'running'))"
                                   " FROM dag d WHERE dag_id = $1 AND is_active AND NOT is_paused"
                                   " AND schedule IS NOT NULL AND next_dagrun_create_after <= now()"
                                   " FOR UPDATE SKIP LOCKED";

void dags_sched_clear(dags_sched_t *s)
{
    if (!s)
        return;
    free(s->schedule);
    free(s->timezone);
    memset(s, 0, sizeof(*s));
}

/* Fills out from row 0 of a schedule read (SCHED_COLS, then the due counts when with_runs). */
static int read_sched(PGresult *r, bool with_runs, dags_sched_t *out)
{
    bool oom = false;
    memset(out, 0, sizeof(*out));
    if (PQntuples(r) == 0) {
        PQclear(r);
        return UPDRAFT_ENOTFOUND;
    }
    out->schedule = store_dup_field(r, 0, 0, &oom);
    out->start_date = store_get_ts(r, 0, 1);
    out->end_date = store_get_ts(r, 0, 2);
    out->catchup = db_get_bool(r, 0, 3);
    out->timezone = store_dup_field(r, 0, 4, &oom);
    if (with_runs) {
        out->max_active_runs = db_get_int(r, 0, 5);
        out->active_runs = db_get_i64(r, 0, 6);
    }
    PQclear(r);
    if (oom) {
        dags_sched_clear(out);
        return UPDRAFT_ENOMEM;
    }
    return UPDRAFT_OK;
}

int dags_get_schedule(db_t *db, const char *dag_id, dags_sched_t *out)
{
    const char *p[] = {dag_id};
    memset(out, 0, sizeof(*out));
    PGresult *r = db_query(db, "dags_get_schedule", SQL_GET_SCHEDULE, 1, p);
    return r ? read_sched(r, false, out) : UPDRAFT_EDB;
}

int dags_lock_due(db_t *db, const char *dag_id, dags_sched_t *out)
{
    const char *p[] = {dag_id};
    memset(out, 0, sizeof(*out));
    PGresult *r = db_query(db, "dags_lock_due", SQL_LOCK_DUE, 1, p);
    return r ? read_sched(r, true, out) : UPDRAFT_EDB;
}

static const char SQL_SET_NEXT[] =
    "UPDATE dag SET next_dagrun = $2, next_dagrun_create_after = $3 WHERE dag_id = $1";

int dags_set_next(db_t *db, const char *dag_id, ts_us_t next_dagrun, ts_us_t create_after)
{
    char a[TS_ISO_LEN], b[TS_ISO_LEN];
    const char *p[] = {dag_id, next_dagrun == TS_NONE ? NULL : ts_format_iso(next_dagrun, a),
                       create_after == TS_NONE ? NULL : ts_format_iso(create_after, b)};
    return db_exec(db, "dags_set_next", SQL_SET_NEXT, 3, p) < 0 ? UPDRAFT_EDB : UPDRAFT_OK;
}

#define STR_(x) #x
#define STR(x) STR_(x)

static const char SQL_LIST_DUE[] = "SELECT dag_id FROM dag WHERE is_active AND NOT is_paused"
                                   " AND schedule IS NOT NULL AND next_dagrun_create_after <= now()"
                                   " ORDER BY next_dagrun_create_after LIMIT " STR(DAGS_DUE_MAX);

int dags_list_due(db_t *db, PGresult **out)
{
    return store_query_rows(db, "dags_list_due", SQL_LIST_DUE, 0, NULL, out);
}

static const char SQL_LIST_SLA[] =
    "SELECT dag_id, version_id FROM dag"
    " WHERE is_active AND NOT is_paused AND version_id IS NOT NULL AND schedule IS NOT NULL";

int dags_list_sla_candidates(db_t *db, PGresult **out)
{
    return store_query_rows(db, "dags_list_sla", SQL_LIST_SLA, 0, NULL, out);
}

/* ---- the pause flag ------------------------------------------------------- */

/* The NOTIFY goes out only when the row exists (a hint: the schedulers'
 * periodic pass picks the change up anyway). */
static const char SQL_SET_PAUSED[] =
    "WITH u AS (UPDATE dag SET is_paused = $2::boolean WHERE dag_id = $1 RETURNING dag_id)"
    " SELECT pg_notify(" CHANNEL_SCHEDULER_SQL ", '') FROM u";

int dags_set_paused(db_t *db, const char *dag_id, bool paused)
{
    const char *p[] = {dag_id, paused ? "true" : "false"};
    PGresult *r = db_query(db, "dags_set_paused", SQL_SET_PAUSED, 2, p);
    if (!r)
        return UPDRAFT_EDB;
    int rc = PQntuples(r) > 0 ? UPDRAFT_OK : UPDRAFT_ENOTFOUND;
    PQclear(r);
    return rc;
}

static const char SQL_SET_PAUSED_MANY[] =
    "WITH u AS (UPDATE dag SET is_paused = $2::boolean"
    "  WHERE dag_id IN (SELECT jsonb_array_elements_text($1::jsonb)) RETURNING dag_id)"
    " SELECT count(*), count(pg_notify(" CHANNEL_SCHEDULER_SQL ", '')) FROM u";

int dags_set_paused_many(db_t *db, const char *dag_ids_json, bool paused, long *n)
{
    const char *p[] = {dag_ids_json, paused ? "true" : "false"};
    PGresult *r = db_query(db, "dags_set_paused_many", SQL_SET_PAUSED_MANY, 2, p);

    *n = 0;
    if (!r)
        return UPDRAFT_EDB;
    *n = (long)db_get_i64(r, 0, 0);
    PQclear(r);
    return UPDRAFT_OK;
}

/* ---- what the commands, the API and the watching operators read ----------- */

static const char SQL_LIST_ACTIVE[] = "SELECT dag_id, fileloc, owners, is_paused FROM dag"
                                      " WHERE is_active ORDER BY dag_id";

int dags_list_active(db_t *db, dags_row_t **out, size_t *n, char *err, size_t errlen)
{
    PGresult *r = db_query(db, NULL, SQL_LIST_ACTIVE, 0, NULL);
    dags_row_t *rows;
    size_t count;
    bool oom = false;

    *out = NULL;
    *n = 0;
    if (!r)
        return store_db_failed(db, err, errlen);
    count = (size_t)PQntuples(r);
    rows = calloc(count ? count : 1, sizeof(*rows));
    for (size_t i = 0; rows && i < count; i++) {
        rows[i].dag_id = store_dup_field(r, (int)i, 0, &oom);
        rows[i].fileloc = store_dup_field(r, (int)i, 1, &oom);
        rows[i].owners = store_dup_field(r, (int)i, 2, &oom);
        rows[i].is_paused = db_get_bool(r, (int)i, 3);
    }
    PQclear(r);
    if (!rows || oom) {
        dags_rows_free(rows, count);
        return store_out_of_memory(err, errlen);
    }
    *out = rows;
    *n = count;
    return 0;
}

void dags_rows_free(dags_row_t *rows, size_t n)
{
    if (!rows)
        return;
    for (size_t i = 0; i < n; i++) {
        free(rows[i].dag_id);
        free(rows[i].fileloc);
        free(rows[i].owners);
    }
    free(rows);
}

static const char SQL_PARSED_SCHEDULE[] =
    "SELECT v.data->>'schedule', v.data->>'timezone', " STORE_US_COL(
        "d.start_date") ", " STORE_US_COL("d.end_date") ", d.catchup, d.is_paused"
                                                        " FROM dag d JOIN dag_version v ON v.id = "
                                                        "d.version_id WHERE d.dag_id = $1";

int dags_get_parsed_schedule(db_t *db, const char *dag_id, dags_parsed_schedule_t *out, char *err,
                             size_t errlen)
{
    const char *p[] = {dag_id};
    PGresult *r = db_query(db, NULL, SQL_PARSED_SCHEDULE, 1, p);
    bool oom = false;

    memset(out, 0, sizeof(*out));
    out->start_date = out->end_date = TS_NONE;
    if (!r)
        return store_db_failed(db, err, errlen);
    if (PQntuples(r) != 1) {
        PQclear(r);
        return UPDRAFT_ENOTFOUND;
    }
    out->schedule = store_dup_field(r, 0, 0, &oom);
    out->timezone = store_dup_field(r, 0, 1, &oom);
    out->start_date = store_get_ts(r, 0, 2);
    out->end_date = store_get_ts(r, 0, 3);
    out->catchup = db_get_bool(r, 0, 4);
    out->is_paused = db_get_bool(r, 0, 5);
    PQclear(r);
    if (oom) {
        dags_parsed_schedule_free(out);
        return store_out_of_memory(err, errlen);
    }
    return 0;
}

void dags_parsed_schedule_free(dags_parsed_schedule_t *s)
{
    if (!s)
        return;
    free(s->schedule);
    free(s->timezone);
    s->schedule = s->timezone = NULL;
}

static const char SQL_LATEST_TASK[] =
    "SELECT (data -> 'tasks' -> $2)::text, (data -> 'params')::text FROM dag_version"
    " WHERE dag_id = $1 ORDER BY version_number DESC LIMIT 1";

int dags_latest_task(db_t *db, const char *dag_id, const char *task_id, char **spec, char **params,
                     char *err, size_t errlen)
{
    const char *p[] = {dag_id, task_id};
    PGresult *r = db_query(db, NULL, SQL_LATEST_TASK, 2, p);
    bool oom = false;

    *spec = *params = NULL;
    if (!r)
        return store_db_failed(db, err, errlen);
    if (PQntuples(r) == 0) {
        PQclear(r);
        return UPDRAFT_ENOTFOUND;
    }
    *spec = store_dup_field(r, 0, 0, &oom);
    *params = store_dup_field(r, 0, 1, &oom);
    PQclear(r);
    if (oom) {
        free(*spec);
        free(*params);
        *spec = *params = NULL;
        return store_out_of_memory(err, errlen);
    }
    return 0;
}

/* Runs a statement whose answer is whether it returned a row. */
static int query_any(db_t *db, const char *name, const char *sql, int nparams,
                     const char *const *params, bool *any)
{
    PGresult *r = db_query(db, name, sql, nparams, params);
    if (!r)
        return UPDRAFT_EDB;
    *any = PQntuples(r) > 0;
    PQclear(r);
    return UPDRAFT_OK;
}

static const char SQL_EXISTS[] = "SELECT 1 FROM dag WHERE dag_id = $1";

int dags_exists(db_t *db, const char *dag_id, bool *exists)
{
    const char *p[] = {dag_id};
    return query_any(db, NULL, SQL_EXISTS, 1, p, exists);
}

static const char SQL_CHECK_PARSED[] =
    "SELECT 1 FROM dag WHERE dag_id = $1 AND version_id IS NOT NULL";

int dags_check_parsed(db_t *db, const char *dag_id)
{
    const char *p[] = {dag_id};
    bool found = false;
    int rc = query_any(db, "dags_check_parsed", SQL_CHECK_PARSED, 1, p, &found);
    return rc < 0 ? rc : found ? UPDRAFT_OK : UPDRAFT_ENOTFOUND;
}

void dags_code_clear(dags_code_t *c)
{
    if (!c)
        return;
    free(c->source);
    memset(c, 0, sizeof(*c));
}

/* Row 0 of (source_code, source_size, truncated, version_number) into out. */
static int code_from_row(PGresult *r, dags_code_t *out)
{
    bool oom = false;

    memset(out, 0, sizeof(*out));
    if (!r)
        return UPDRAFT_EDB;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return UPDRAFT_ENOTFOUND;
    }
    out->source = store_dup_field(r, 0, 0, &oom);
    if (oom) {
        PQclear(r);
        dags_code_clear(out);
        return UPDRAFT_ENOMEM;
    }
    out->len = (size_t)PQgetlength(r, 0, 0);
    out->size = strtoll(PQgetvalue(r, 0, 1), NULL, 10); /* "" (NULL): 0 */
    out->truncated = PQgetvalue(r, 0, 2)[0] == 't';
    out->version_number = (int)strtol(PQgetvalue(r, 0, 3), NULL, 10);
    PQclear(r);
    return UPDRAFT_OK;
}

static const char SQL_CODE_OF_TOKEN[] =
    "SELECT c.source_code, c.source_size, c.truncated, v.version_number"
    " FROM dag d JOIN dag_version v ON v.id = d.version_id"
    " JOIN dag_code c ON c.dag_version_id = v.id"
    " WHERE " DAGS_FILE_TOKEN_SQL(
        "d.fileloc") " = $1"
                     " ORDER BY c.last_updated DESC, c.dag_version_id DESC LIMIT 1";

int dags_code_of_token(db_t *db, const char *token, dags_code_t *out)
{
    const char *p[] = {token};
    return code_from_row(db_query(db, "dags_code_of_token", SQL_CODE_OF_TOKEN, 1, p), out);
}

static const char SQL_CODE_OF_VERSION[] =
    "SELECT c.source_code, c.source_size, c.truncated, v.version_number"
    " FROM dag_version v LEFT JOIN dag_code c ON c.dag_version_id = v.id"
    " WHERE v.dag_id = $1 AND CASE WHEN $2::int >= 1 THEN v.version_number = $2::int"
    "  ELSE v.id = (SELECT version_id FROM dag WHERE dag_id = $1) END";

int dags_code_of_version(db_t *db, const char *dag_id, int version_number, dags_code_t *out)
{
    char num[16];
    const char *p[] = {dag_id, num};
    snprintf(num, sizeof(num), "%d", version_number);
    return code_from_row(db_query(db, "dags_code_of_version", SQL_CODE_OF_VERSION, 2, p), out);
}

static const char SQL_PARSED_DOCUMENT[] =
    "SELECT v.data::text FROM dag d JOIN dag_version v ON v.id = d.version_id"
    " WHERE d.dag_id = $1";

int dags_parsed_document(db_t *db, const char *dag_id, char **doc)
{
    const char *p[] = {dag_id};
    PGresult *r = db_query(db, "dags_parsed_document", SQL_PARSED_DOCUMENT, 1, p);
    int rc = UPDRAFT_ENOTFOUND;
    bool oom = false;

    *doc = NULL;
    if (!r)
        return UPDRAFT_EDB;
    if (PQntuples(r) > 0) {
        *doc = store_dup_field(r, 0, 0, &oom);
        rc = oom ? UPDRAFT_ENOMEM : *doc ? UPDRAFT_OK : UPDRAFT_ENOTFOUND;
    }
    PQclear(r);
    return rc;
}

static const char SQL_HAS_TASK[] = "SELECT (v.data->'tasks') ? $2 FROM dag d"
                                   " JOIN dag_version v ON v.id = d.version_id"
                                   " WHERE d.dag_id = $1";

int dags_has_task(db_t *db, const char *dag_id, const char *task_id, bool *has)
{
    const char *p[] = {dag_id, task_id};
    PGresult *r = db_query(db, "dags_has_task", SQL_HAS_TASK, 2, p);
    int rc = UPDRAFT_ENOTFOUND;

    if (!r)
        return UPDRAFT_EDB;
    if (PQntuples(r) > 0) {
        *has = db_get_bool(r, 0, 0);
        rc = UPDRAFT_OK;
    }
    PQclear(r);
    return rc;
}

static const char SQL_LATEST_MISSING_TASK[] =
    "WITH v AS (SELECT data FROM dag_version WHERE dag_id = $1"
    "           ORDER BY version_number DESC LIMIT 1)"
    " SELECT t FROM jsonb_array_elements_text($2::jsonb) t"
    "  WHERE NOT EXISTS (SELECT 1 FROM v WHERE (v.data -> 'tasks') ? t)";

int dags_latest_missing_task(db_t *db, const char *dag_id, const char *task_ids_json,
                             char **missing)
{
    const char *p[] = {dag_id, task_ids_json};
    int rc = UPDRAFT_OK;
    *missing = NULL;
    PGresult *r = db_query(db, NULL, SQL_LATEST_MISSING_TASK, 2, p);
    if (!r)
        return UPDRAFT_EDB;
    if (PQntuples(r) > 0 && !(*missing = strdup(PQgetvalue(r, 0, 0))))
        rc = UPDRAFT_ENOMEM;
    PQclear(r);
    return rc;
}

static const char SQL_LATEST_HAS_GROUP[] =
    "WITH v AS (SELECT data FROM dag_version WHERE dag_id = $1"
    "           ORDER BY version_number DESC LIMIT 1)"
    " SELECT 1 FROM v, jsonb_each(v.data -> 'tasks') e"
    "  WHERE left(e.key, length($2) + 1) = $2 || '.'"
    "     OR e.value ->> 'task_group' = $2"
    "     OR left(e.value ->> 'task_group', length($2) + 1) = $2 || '.'"
    "  LIMIT 1";

int dags_latest_has_group(db_t *db, const char *dag_id, const char *group, bool *exists)
{
    const char *p[] = {dag_id, group};
    return query_any(db, NULL, SQL_LATEST_HAS_GROUP, 2, p, exists);
}
