/*
 * xcom_map.h - the XCom a mapped task expands over: the return_value of an
 * unmapped upstream task instance in the same run, read by the worker
 * before a mapped instance starts (worker/wrender.h). The rest of XCom
 * (push, pull, clear) is store/xcom.h.
 */
#ifndef UPDRAFT_STORE_XCOM_MAP_H
#define UPDRAFT_STORE_XCOM_MAP_H

#include <stdint.h>

#include "core/db.h"
#include "core/error.h"

/*
 * The return_value XCom (map index -1) of task_id in run dag_run_id as
 * JSON text: 0 with *json (malloc'd), UPDRAFT_ENOTFOUND when the task
 * pushed none, UPDRAFT_ENOMEM or UPDRAFT_EDB.
 */
int xcom_map_source(db_t *db, int64_t dag_run_id, const char *task_id, char **json);

#endif
