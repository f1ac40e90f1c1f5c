/*
 * xcom_map.c - the XCom a mapped task expands over (see xcom_map.h).
 */
#include "store/xcom_map.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char SQL_MAP_SOURCE[] =
    "SELECT value::text FROM xcom WHERE dag_run_id = $1::bigint"
    " AND task_id = $2 AND map_index = -1 AND key = 'return_value'";

int xcom_map_source(db_t *db, int64_t dag_run_id, const char *task_id, char **json)
{
    char run_s[24];
    snprintf(run_s, sizeof(run_s), "%" PRId64, dag_run_id);
    const char *p[] = {run_s, task_id};
    *json = NULL;
    PGresult *r = db_query(db, "worker_map_xcom", SQL_MAP_SOURCE, 2, p);
    if (!r)
        return UPDRAFT_EDB;
    const char *text = PQntuples(r) == 1 ? db_get_str(r, 0, 0) : NULL;
    int rc = UPDRAFT_ENOTFOUND;
    if (text)
        rc = (*json = strdup(text)) ? UPDRAFT_OK : UPDRAFT_ENOMEM;
    PQclear(r);
    return rc;
}
