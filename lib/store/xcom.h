/*
 * xcom.h - XCom rows: values tasks push and later tasks pull (Airflow's
 * XCom, stored in the xcom table of proto/migrations/0007_xcom.sql).
 *
 * Values are JSON text. A pull of a mapped task's key gives the list of its
 * map indexes' values in map-index order, as Airflow's lazy sequence does.
 * The worker and run planning also read here what a mapped task expands
 * over: the return_value of an unmapped upstream task instance in the same
 * run (worker/wrender.h before a mapped instance starts, sched/planrun.h
 * when it expands the task).
 */
#ifndef UPDRAFT_XCOM_H
#define UPDRAFT_XCOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "core/db.h"
#include "core/error.h"

#define XCOM_RETURN_KEY "return_value"
#define XCOM_MAX_KEY 512
#define XCOM_MAX_SIZE_DEFAULT (48 * 1024) /* bytes of JSON per value */

/*
 * The value of key pushed by task_id in the DAG run (dag_id, run_id), as
 * JSON text in *json (malloc'd): 0, UPDRAFT_ENOTFOUND when none, or
 * UPDRAFT_EDB / UPDRAFT_ENOMEM with err filled.
 */
int xcom_get(db_t *db, const char *dag_id, const char *run_id, const char *task_id, const char *key,
             char **json, char *err, size_t errlen);

/*
 * Deletes every XCom of one task instance (a new try starts clean, as
 * Airflow clears XCom). 0 or UPDRAFT_EDB.
 */
int xcom_clear(db_t *db, int64_t dag_run_id, const char *task_id, int map_index);

/*
 * Stores (or replaces) key of one task instance; json must be valid JSON
 * text. Returns 0, or UPDRAFT_EDB.
 */
int xcom_put(db_t *db, int64_t dag_run_id, const char *dag_id, const char *run_id,
             const char *task_id, int map_index, const char *key, const char *json);

/*
 * The return_value XCom (map index -1) of task_id in run dag_run_id as
 * JSON text: 0 with *json (malloc'd), UPDRAFT_ENOTFOUND when the task
 * pushed none, UPDRAFT_ENOMEM or UPDRAFT_EDB.
 */
int xcom_map_source(db_t *db, int64_t dag_run_id, const char *task_id, char **json);

/*
 * The file a task may write at $UPDRAFT_XCOM_FILE: a JSON object of
 * key -> value. Empty (or only whitespace) pushes nothing.
 */
#define XCOM_FILE_ENV "UPDRAFT_XCOM_FILE"
#define XCOM_FILE_MAX_KEYS 256

typedef struct xcom_kv {
    char *key;
    char *json; /* the value as compact JSON text */
} xcom_kv_t;

/*
 * Parses text[0..len) as such a file: 0 with *out (n entries; free with
 * xcom_kv_free), or UPDRAFT_EINVALID with err filled: not UTF-8, not a
 * JSON object, a key empty or longer than XCOM_MAX_KEY, more than
 * XCOM_FILE_MAX_KEYS keys, or a value whose JSON is longer than max_size
 * bytes (UPDRAFT_ENOMEM when memory runs out).
 */
int xcom_parse_file(const char *text, size_t len, size_t max_size, xcom_kv_t **out, size_t *n,
                    char *err, size_t errlen);
void xcom_kv_free(xcom_kv_t *kv, size_t n);

/*
 * What dynamic task mapping expands over, given an XCom value v: v itself
 * when it is an array or an object (an object's items count as its
 * elements), or, when v is a string holding JSON text of an array or an
 * object (a bash task's last output line), that parsed value, which the
 * caller then cJSON_Delete()s (result != v). NULL when v is not mappable.
 */
cJSON *xcom_mappable(cJSON *v);

#endif
