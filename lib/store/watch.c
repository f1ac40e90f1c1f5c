/*
 * watch.c - reads for the operators that look at other DAGs (see
 * watch.h). Each statement is a named constant next to the function that
 * runs it; they run unprepared (a runner makes a few calls and exits).
 */
#include "store/watch.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char SQL_DAG_EXISTS[] = "SELECT 1 FROM dag WHERE dag_id = $1";

int watch_dag_exists(db_t *db, const char *dag_id, bool *exists)
{
    const char *p[] = {dag_id};
    PGresult *r = db_query(db, NULL, SQL_DAG_EXISTS, 1, p);
    if (!r)
        return UPDRAFT_EDB;
    *exists = PQntuples(r) > 0;
    PQclear(r);
    return UPDRAFT_OK;
}

static const char SQL_MISSING_TASK[] =
    "WITH v AS (SELECT data FROM dag_version WHERE dag_id = $1"
    "           ORDER BY version_number DESC LIMIT 1)"
    " SELECT t FROM jsonb_array_elements_text($2::jsonb) t"
    "  WHERE NOT EXISTS (SELECT 1 FROM v WHERE (v.data -> 'tasks') ? t)";

int watch_missing_task(db_t *db, const char *dag_id, const char *task_ids_json, char **missing)
{
    const char *p[] = {dag_id, task_ids_json};
    int rc = UPDRAFT_OK;
    *missing = NULL;
    PGresult *r = db_query(db, NULL, SQL_MISSING_TASK, 2, p);
    if (!r)
        return UPDRAFT_EDB;
    if (PQntuples(r) > 0 && !(*missing = strdup(PQgetvalue(r, 0, 0))))
        rc = UPDRAFT_ENOMEM;
    PQclear(r);
    return rc;
}

static const char SQL_GROUP_EXISTS[] =
    "WITH v AS (SELECT data FROM dag_version WHERE dag_id = $1"
    "           ORDER BY version_number DESC LIMIT 1)"
    " SELECT 1 FROM v, jsonb_each(v.data -> 'tasks') e"
    "  WHERE left(e.key, length($2) + 1) = $2 || '.'"
    "     OR e.value ->> 'task_group' = $2"
    "     OR left(e.value ->> 'task_group', length($2) + 1) = $2 || '.'"
    "  LIMIT 1";

int watch_group_exists(db_t *db, const char *dag_id, const char *group, bool *exists)
{
    const char *p[] = {dag_id, group};
    PGresult *r = db_query(db, NULL, SQL_GROUP_EXISTS, 2, p);
    if (!r)
        return UPDRAFT_EDB;
    *exists = PQntuples(r) > 0;
    PQclear(r);
    return UPDRAFT_OK;
}

/* The first column of a result of at most one row as a state. */
static int one_state(PGresult *r, char *state, size_t len)
{
    if (!r)
        return UPDRAFT_EDB;
    int rc = UPDRAFT_ENOTFOUND;
    if (PQntuples(r) >= 1) {
        snprintf(state, len, "%s", PQgetvalue(r, 0, 0));
        rc = UPDRAFT_OK;
    }
    PQclear(r);
    return rc;
}

static const char SQL_RUN_STATE_AT[] = "SELECT state FROM dag_run WHERE dag_id = $1"
                                       " AND logical_date = $2::timestamptz";

int watch_run_state_at(db_t *db, const char *dag_id, const char *logical_date, char *state,
                       size_t len)
{
    const char *p[] = {dag_id, logical_date};
    return one_state(db_query(db, NULL, SQL_RUN_STATE_AT, 2, p), state, len);
}

static const char SQL_RUN_STATE[] = "SELECT state FROM dag_run WHERE id = $1::bigint";

int watch_run_state(db_t *db, int64_t run_id, char *state, size_t len)
{
    char id_s[24];
    snprintf(id_s, sizeof(id_s), "%" PRId64, run_id);
    const char *p[] = {id_s};
    PGresult *r = db_query(db, NULL, SQL_RUN_STATE, 1, p);
    if (r && PQntuples(r) != 1) {
        PQclear(r);
        return UPDRAFT_ENOTFOUND;
    }
    return one_state(r, state, len);
}

static const char SQL_FIND_RUN[] =
    "SELECT id, run_id, (extract(epoch FROM logical_date) * 1000000)::bigint"
    "  FROM dag_run WHERE dag_id = $1"
    "   AND (run_id = $2 OR logical_date = $3::timestamptz)"
    " ORDER BY (run_id = $2) DESC LIMIT 1";

int watch_find_run(db_t *db, const char *dag_id, const char *run_id, const char *logical_date,
                   int64_t *id, char *found, size_t len, bool *has_logical, int64_t *logical_us)
{
    const char *p[] = {dag_id, run_id, logical_date};
    PGresult *r = db_query(db, NULL, SQL_FIND_RUN, 3, p);
    if (!r)
        return UPDRAFT_EDB;
    int rc = UPDRAFT_ENOTFOUND;
    if (PQntuples(r) == 1) {
        *id = db_get_i64(r, 0, 0);
        snprintf(found, len, "%s", PQgetvalue(r, 0, 1));
        *has_logical = db_get_str(r, 0, 2) != NULL;
        if (*has_logical)
            *logical_us = db_get_i64(r, 0, 2);
        rc = UPDRAFT_OK;
    }
    PQclear(r);
    return rc;
}

static const char SQL_TASK_COUNTS[] =
    "SELECT ti.task_id, count(*),"
    "       count(*) FILTER (WHERE ti.state = ANY($5::text[])),"
    "       count(*) FILTER (WHERE ti.state = ANY($6::text[])),"
    "       count(*) FILTER (WHERE ti.state = ANY($7::text[])),"
    "       string_agg(DISTINCT ti.state, ',')"
    "  FROM task_instance ti JOIN dag_run dr ON dr.id = ti.dag_run_id"
    " WHERE dr.dag_id = $1 AND dr.logical_date = $2::timestamptz"
    "   AND ti.dag_id = $1"
    "   AND (CASE WHEN $4 = '' THEN ti.task_id IN"
    "              (SELECT jsonb_array_elements_text($3::jsonb))"
    "        ELSE left(ti.task_id, length($4) + 1) = $4 || '.' END)"
    " GROUP BY ti.task_id ORDER BY ti.task_id";

int watch_task_counts(db_t *db, const char *dag_id, const char *logical_date,
                      const char *task_ids_json, const char *group, const char *allowed,
                      const char *failed, const char *skipped, watch_counts_t **out, size_t *n)
{
    const char *p[] = {
        dag_id, logical_date, task_ids_json ? task_ids_json : "[]", group ? group : "", allowed,
        failed, skipped};
    *out = NULL;
    *n = 0;
    PGresult *r = db_query(db, NULL, SQL_TASK_COUNTS, 7, p);
    if (!r)
        return UPDRAFT_EDB;
    int rows = PQntuples(r);
    watch_counts_t *c = calloc((size_t)rows + 1, sizeof(*c));
    if (!c) {
        PQclear(r);
        return UPDRAFT_ENOMEM;
    }
    for (int i = 0; i < rows; i++) {
        if (!(c[i].task_id = strdup(PQgetvalue(r, i, 0)))) {
            watch_counts_free(c, (size_t)i);
            PQclear(r);
            return UPDRAFT_ENOMEM;
        }
        c[i].total = atol(PQgetvalue(r, i, 1));
        c[i].allowed = atol(PQgetvalue(r, i, 2));
        c[i].failed = atol(PQgetvalue(r, i, 3));
        c[i].skipped = atol(PQgetvalue(r, i, 4));
    }
    PQclear(r);
    *out = c;
    *n = (size_t)rows;
    return UPDRAFT_OK;
}

void watch_counts_free(watch_counts_t *c, size_t n)
{
    if (!c)
        return;
    for (size_t i = 0; i < n; i++)
        free(c[i].task_id);
    free(c);
}
