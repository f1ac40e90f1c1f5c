/*
 * dagadmin.c - the REST API's DAG, run and task-instance reads and writes
 * that are not the scheduler's (see dagadmin.h). One round trip each, every
 * statement a named constant; timestamps come back as epoch microseconds.
 */
#include "store/dagadmin.h"

#include <inttypes.h>
#include <stdio.h>

#include "core/error.h"

#define US(col) "(extract(epoch from " col ") * 1000000)::int8"

static const char SQL_SET_RUN_NOTE[] = "UPDATE dag_run SET note = $2 WHERE id = $1";

static const char SQL_CHECK_DAG[] =
    "SELECT 1 FROM dag WHERE dag_id = $1 AND version_id IS NOT NULL";

static const char SQL_DAG_HAS_TASK[] = "SELECT (v.data->'tasks') ? $2 FROM dag d"
                                       " JOIN dag_version v ON v.id = d.version_id"
                                       " WHERE d.dag_id = $1";

static const char SQL_FIND_RUN[] =
    "SELECT " US("logical_date") " FROM dag_run WHERE dag_id = $1 AND run_id = $2";

static const char SQL_FIND_TI[] =
    "SELECT " US("dr.logical_date") " FROM task_instance ti"
                                    " JOIN dag_run dr ON dr.id = ti.dag_run_id WHERE dr.dag_id = $1"
                                    " AND dr.run_id = $2 AND ti.task_id = $3 AND ti.map_index = -1";

int dagadmin_set_run_note(db_t *db, int64_t run_pk, const char *note)
{
    char idbuf[24];
    const char *params[2] = {idbuf, note};

    snprintf(idbuf, sizeof(idbuf), "%" PRId64, run_pk);
    if (db_exec(db, "dagadmin_set_run_note", SQL_SET_RUN_NOTE, 2, params) < 0)
        return UPDRAFT_EDB;
    return UPDRAFT_OK;
}

/*
 * Runs a one-row lookup: UPDRAFT_ENOTFOUND for no row, else 0 with *out the
 * result (the caller PQclears it).
 */
static int lookup(db_t *db, const char *name, const char *sql, int n, const char *const *params,
                  PGresult **out)
{
    PGresult *res = db_query(db, name, sql, n, params);

    *out = NULL;
    if (!res)
        return UPDRAFT_EDB;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return UPDRAFT_ENOTFOUND;
    }
    *out = res;
    return UPDRAFT_OK;
}

int dagadmin_check_dag(db_t *db, const char *dag_id)
{
    const char *params[1] = {dag_id};
    PGresult *res;
    int rc = lookup(db, "dagadmin_check_dag", SQL_CHECK_DAG, 1, params, &res);

    PQclear(res);
    return rc;
}

int dagadmin_dag_has_task(db_t *db, const char *dag_id, const char *task_id, bool *has)
{
    const char *params[2] = {dag_id, task_id};
    PGresult *res;
    int rc = lookup(db, "dagadmin_dag_has_task", SQL_DAG_HAS_TASK, 2, params, &res);

    if (rc == UPDRAFT_OK)
        *has = db_get_bool(res, 0, 0);
    PQclear(res);
    return rc;
}

int dagadmin_find_run(db_t *db, const char *dag_id, const char *run_id, ts_us_t *logical)
{
    const char *params[2] = {dag_id, run_id};
    PGresult *res;
    int rc = lookup(db, "dagadmin_find_run", SQL_FIND_RUN, 2, params, &res);

    if (rc == UPDRAFT_OK && logical)
        *logical = db_get_i64(res, 0, 0);
    PQclear(res);
    return rc;
}

int dagadmin_find_ti(db_t *db, const char *dag_id, const char *run_id, const char *task_id,
                     ts_us_t *logical)
{
    const char *params[3] = {dag_id, run_id, task_id};
    PGresult *res;
    int rc = lookup(db, "dagadmin_find_ti", SQL_FIND_TI, 3, params, &res);

    if (rc == UPDRAFT_OK)
        *logical = db_get_i64(res, 0, 0);
    PQclear(res);
    return rc;
}
