/*
 * pools.c - see pools.h.
 */
#include "store/pools.h"
#include "store/locks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"

/*
 * The candidates: 'scheduled' task instances of the locked DAGs, by
 * priority. With ids (the mini-scheduler's ready tasks) they are read by
 * primary key; without, through the per-DAG partial index
 * ti_scheduled_dag, so that neither path reads other DAGs' scheduled rows
 * (a large backlog of one DAG must not slow every hop of another).
 */
#define CAND_BY_IDS                                                                                \
    "SELECT * FROM task_instance WHERE id = ANY($2::bigint[]) AND state = 'scheduled'"             \
    " AND dag_id = ANY($1::text[]) ORDER BY priority_weight DESC, id LIMIT $3::int"
#define CAND_BY_DAGS                                                                               \
    "SELECT t.* FROM unnest($1::text[]) d(dag_id), LATERAL (SELECT * FROM task_instance x"         \
    " WHERE x.dag_id = d.dag_id AND x.state = 'scheduled'"                                         \
    " ORDER BY x.priority_weight DESC, x.id LIMIT $3::int) t"                                      \
    " WHERE $2::bigint[] IS NULL ORDER BY t.priority_weight DESC, t.id LIMIT $3::int"

/* The pools' advisory locks, in pool-name order; see pools_queue_scheduled. */
#define LOCK_SQL(CAND)                                                                             \
    "SELECT coalesce(array_agg(pool) FILTER (WHERE known), '{}'),"                                 \
    " coalesce(array_agg(pool) FILTER (WHERE NOT known), '{}'), count(*) FILTER (WHERE NOT known)" \
    " FROM (SELECT pool, EXISTS (SELECT 1 FROM slot_pool p WHERE p.pool = c.pool) AS known"        \
    "   FROM (SELECT DISTINCT pool FROM (" CAND ") s) c ORDER BY pool OFFSET 0) k"                 \
    " WHERE NOT known"                                                                             \
    "    OR pg_advisory_xact_lock(" LOCK_POOL_CLASS ", hashtext(pool))::text = ''"

/* Queues the candidates within every limit; see pools.h. */
#define TAKE_SQL(CAND)                                                                             \
    "WITH cand AS ("                                                                               \
    "  SELECT id, dag_id, dag_run_id, task_id, pool, pool_slots, priority_weight,"                 \
    "    max_active_tis_per_dag AS mdag, max_active_tis_per_dagrun AS mrun,"                       \
    "    row_number() OVER (PARTITION BY dag_id ORDER BY priority_weight DESC, id) AS rn_dag,"     \
    "    row_number() OVER (PARTITION BY dag_id, task_id"                                          \
    "      ORDER BY priority_weight DESC, id) AS rn_task,"                                         \
    "    row_number() OVER (PARTITION BY dag_run_id, task_id"                                      \
    "      ORDER BY priority_weight DESC, id) AS rn_run"                                           \
    "  FROM (" CAND ") s"                                                                          \
    "  WHERE pool = ANY($4::text[])"                                                               \
    "), tact AS ("                                                                                 \
    "  SELECT dag_id, task_id, count(*) AS n FROM task_instance"                                   \
    "  WHERE state IN ('queued', 'running') AND dag_id IN (SELECT dag_id FROM cand)"               \
    "  GROUP BY dag_id, task_id"                                                                   \
    "), dact AS (SELECT dag_id, sum(n) AS n FROM tact GROUP BY dag_id"                             \
    "), ract AS ("                                                                                 \
    "  SELECT dag_run_id, task_id, count(*) AS n FROM task_instance"                               \
    "  WHERE state IN ('queued', 'running')"                                                       \
    "    AND dag_run_id IN (SELECT dag_run_id FROM cand WHERE mrun IS NOT NULL)"                   \
    "  GROUP BY dag_run_id, task_id"                                                               \
    "), pact AS ("                                                                                 \
    "  SELECT pool, sum(pool_slots) AS used FROM task_instance"                                    \
    "  WHERE state IN ('queued', 'running') AND pool IN (SELECT pool FROM cand)"                   \
    "  GROUP BY pool"                                                                              \
    "), fit AS ("                                                                                  \
    "  SELECT c.id, c.pool, c.pool_slots, c.priority_weight FROM cand c"                           \
    "  JOIN dag d ON d.dag_id = c.dag_id JOIN slot_pool p ON p.pool = c.pool"                      \
    "  LEFT JOIN dact ON dact.dag_id = c.dag_id"                                                   \
    "  LEFT JOIN tact ON tact.dag_id = c.dag_id AND tact.task_id = c.task_id"                      \
    "  LEFT JOIN ract ON ract.dag_run_id = c.dag_run_id AND ract.task_id = c.task_id"              \
    "  WHERE c.rn_dag + coalesce(dact.n, 0) <= d.max_active_tasks"                                 \
    "    AND (c.mdag IS NULL OR c.rn_task + coalesce(tact.n, 0) <= c.mdag)"                        \
    "    AND (c.mrun IS NULL OR c.rn_run + coalesce(ract.n, 0) <= c.mrun)"                         \
    "    AND (p.slots < 0 OR c.pool_slots <= p.slots)"                                             \
    "), slots AS ("                                                                                \
    "  SELECT id, pool, sum(pool_slots) OVER (PARTITION BY pool"                                   \
    "    ORDER BY priority_weight DESC, id) AS want FROM fit"                                      \
    "), starving AS ("                                                                             \
    "  SELECT (SELECT count(*) FROM slots s JOIN slot_pool p ON p.pool = s.pool"                   \
    "    LEFT JOIN pact ON pact.pool = s.pool"                                                     \
    "    WHERE p.slots >= 0 AND s.want + coalesce(pact.used, 0) > p.slots)"                        \
    "  + (SELECT count(*) FROM cand c JOIN slot_pool p ON p.pool = c.pool"                         \
    "    WHERE p.slots >= 0 AND c.pool_slots > p.slots) AS n"                                      \
    "), upd AS ("                                                                                  \
    " UPDATE task_instance t SET state = 'queued', try_number = t.try_number + 1,"                 \
    "   queued_at = now(), hostname = '', pid = NULL, worker_id = NULL,"                           \
    "   start_date = NULL, end_date = NULL, duration = NULL, next_try_at = NULL,"                  \
    "   updated_at = now()"                                                                        \
    " FROM slots s JOIN slot_pool p ON p.pool = s.pool LEFT JOIN pact ON pact.pool = s.pool"       \
    " WHERE t.id = s.id AND t.state = 'scheduled'"                                                 \
    "   AND (p.slots < 0 OR s.want + coalesce(pact.used, 0) <= p.slots)"                           \
    " RETURNING t.id, t.try_number, t.queue"                                                       \
    ")"                                                                                            \
    " SELECT u.id, u.try_number, u.queue, st.n FROM starving st LEFT JOIN upd u ON true"

PGresult *pools_queue_scheduled(db_t *db, const char *dags_arr, const char *ids_arr, int max,
                                size_t *n_starving)
{
    char lim[16];
    snprintf(lim, sizeof(lim), "%d", max > 0 ? max : 0);
    const char *p1[] = {dags_arr, ids_arr, lim};
    /* The pools' locks, in a statement of their own so that the take below
     * counts every active task instance another planner committed before
     * it released them. Waited for, in pool-name order (so two planners
     * never wait on each other): a lock that was only tried left a busy
     * pool's tasks waiting for the next scheduler pass, seconds away. The
     * statements after it are short, so the wait is too. */
    PGresult *r = ids_arr ? db_query(db, "pools_lock_ids", LOCK_SQL(CAND_BY_IDS), 3, p1)
                          : db_query(db, "pools_lock_dags", LOCK_SQL(CAND_BY_DAGS), 3, p1);
    if (!r)
        return NULL;
    if (db_get_i64(r, 0, 2) > 0)
        log_warn("task instances stay scheduled: pool does not exist pools=%.200s",
                 PQgetvalue(r, 0, 1));
    char *pools = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (!pools)
        return NULL;
    const char *p2[] = {dags_arr, ids_arr, lim, pools};
    r = ids_arr ? db_query(db, "pools_take_ids", TAKE_SQL(CAND_BY_IDS), 4, p2)
                : db_query(db, "pools_take_dags", TAKE_SQL(CAND_BY_DAGS), 4, p2);
    free(pools);
    if (!r)
        return NULL;
    /* Every row carries the starving count; when nothing was queued the
     * one row there is names no task instance, and the caller gets none. */
    if (n_starving)
        *n_starving = PQntuples(r) > 0 ? (size_t)db_get_i64(r, 0, 3) : 0;
    if (PQntuples(r) == 1 && PQgetisnull(r, 0, 0)) {
        PQclear(r);
        r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    }
    return r;
}

bool pools_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > POOLS_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return false;
    return true;
}

/* The JSON object of each pool row, as text; $1 filters by name when not NULL. */
#define POOLS_SELECT                                                                               \
    "SELECT json_build_object('name', p.pool, 'slots', p.slots, 'description', p.description,"     \
    " 'include_deferred', p.include_deferred,"                                                     \
    " 'occupied_slots', coalesce(u.running, 0) + coalesce(u.queued, 0)"                            \
    "   + CASE WHEN p.include_deferred THEN coalesce(u.deferred, 0) ELSE 0 END,"                   \
    " 'running_slots', coalesce(u.running, 0), 'queued_slots', coalesce(u.queued, 0),"             \
    " 'scheduled_slots', coalesce(u.scheduled, 0), 'deferred_slots', coalesce(u.deferred, 0),"     \
    " 'open_slots', CASE WHEN p.slots < 0 THEN -1 ELSE p.slots - coalesce(u.running, 0)"           \
    "   - coalesce(u.queued, 0) - CASE WHEN p.include_deferred THEN coalesce(u.deferred, 0)"       \
    "   ELSE 0 END END)::text"                                                                     \
    " FROM slot_pool p LEFT JOIN LATERAL (SELECT"                                                  \
    "   sum(pool_slots) FILTER (WHERE state = 'running') AS running,"                              \
    "   sum(pool_slots) FILTER (WHERE state = 'queued') AS queued,"                                \
    "   sum(pool_slots) FILTER (WHERE state = 'scheduled') AS scheduled,"                          \
    "   sum(pool_slots) FILTER (WHERE state = 'deferred') AS deferred"                             \
    "   FROM task_instance t WHERE t.pool = p.pool"                                                \
    "     AND t.state IN ('running', 'queued', 'scheduled', 'deferred')) u ON true"

static cJSON *row_json(const PGresult *r, int row)
{
    return cJSON_ParseWithLength(PQgetvalue(r, row, 0), (size_t)PQgetlength(r, row, 0));
}

int pools_list(db_t *db, long limit, long offset, cJSON **out, long *total)
{
    char lb[24], ob[24];
    *out = NULL;
    *total = 0;
    snprintf(lb, sizeof(lb), "%ld", limit);
    snprintf(ob, sizeof(ob), "%ld", offset);
    const char *p[] = {lb, ob};
    PGresult *r = db_query(
        db, "pools_list", POOLS_SELECT " ORDER BY p.pool LIMIT $1::bigint OFFSET $2::bigint", 2, p);
    if (!r)
        return UPDRAFT_EDB;
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; arr && i < PQntuples(r); i++) {
        cJSON *o = row_json(r, i);
        if (!o) {
            cJSON_Delete(arr);
            arr = NULL;
            break;
        }
        cJSON_AddItemToArray(arr, o);
    }
    PQclear(r);
    if (!arr)
        return UPDRAFT_ENOMEM;
    r = db_query(db, "pools_count", "SELECT count(*) FROM slot_pool", 0, NULL);
    if (!r) {
        cJSON_Delete(arr);
        return UPDRAFT_EDB;
    }
    *total = (long)db_get_i64(r, 0, 0);
    PQclear(r);
    *out = arr;
    return 0;
}

int pools_get(db_t *db, const char *name, cJSON **out)
{
    const char *p[] = {name};
    *out = NULL;
    PGresult *r = db_query(db, "pools_get", POOLS_SELECT " WHERE p.pool = $1", 1, p);
    if (!r)
        return UPDRAFT_EDB;
    int rc = UPDRAFT_ENOTFOUND;
    if (PQntuples(r) > 0)
        rc = (*out = row_json(r, 0)) ? 0 : UPDRAFT_ENOMEM;
    PQclear(r);
    return rc;
}

int pools_set(db_t *db, const char *name, int slots, const char *description, int include_deferred,
              bool create_only, char *err, size_t errlen)
{
    if (!pools_name_valid(name)) {
        snprintf(err, errlen, "invalid pool name: use 1-%d printable characters", POOLS_NAME_MAX);
        return UPDRAFT_EINVALID;
    }
    if (slots < -1) {
        snprintf(err, errlen, "slots must be -1 (unlimited) or more");
        return UPDRAFT_EINVALID;
    }
    char sb[16], db_[8];
    snprintf(sb, sizeof(sb), "%d", slots);
    snprintf(db_, sizeof(db_), "%s", include_deferred < 0 ? "" : include_deferred ? "t" : "f");
    const char *p[] = {name, sb, description, include_deferred < 0 ? NULL : db_};
    long n = db_exec(db, create_only ? "pools_create" : "pools_upsert",
                     create_only
                         ? "INSERT INTO slot_pool (pool, slots, description, include_deferred)"
                           " VALUES ($1, $2::int, coalesce($3, ''), coalesce($4::boolean, false))"
                           " ON CONFLICT DO NOTHING"
                         : "INSERT INTO slot_pool (pool, slots, description, include_deferred)"
                           " VALUES ($1, $2::int, coalesce($3, ''), coalesce($4::boolean, false))"
                           " ON CONFLICT (pool) DO UPDATE SET slots = excluded.slots,"
                           " description = coalesce($3, slot_pool.description),"
                           " include_deferred = coalesce($4::boolean, slot_pool.include_deferred)",
                     4, p);
    if (n < 0) {
        snprintf(err, errlen, "database error");
        return UPDRAFT_EDB;
    }
    if (create_only && n == 0) {
        snprintf(err, errlen, "pool '%.256s' already exists", name);
        return UPDRAFT_EEXISTS;
    }
    return 0;
}

int pools_delete(db_t *db, const char *name)
{
    if (!strcmp(name, POOLS_DEFAULT))
        return UPDRAFT_EINVALID;
    const char *p[] = {name};
    long n = db_exec(db, "pools_delete", "DELETE FROM slot_pool WHERE pool = $1", 1, p);
    if (n < 0)
        return UPDRAFT_EDB;
    return n == 0 ? UPDRAFT_ENOTFOUND : 0;
}
