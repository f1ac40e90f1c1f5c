/*
 * watch.h - reads of updraft's own tables by the operators that look at
 * other DAGs: ExternalTaskSensor (does the DAG, a task, a task group
 * exist; the state of a run, or of its tasks, at a logical date) and
 * TriggerDagRunOperator (the run a trigger conflicted with; the state it
 * waits on). They run in the operator runner on its own connection to
 * the metadata database, with parameters only; nothing here writes.
 */
#ifndef UPDRAFT_STORE_WATCH_H
#define UPDRAFT_STORE_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/db.h"
#include "core/error.h"

/* Whether the dag table has dag_id. 0 with *exists, or UPDRAFT_EDB. */
int watch_dag_exists(db_t *db, const char *dag_id, bool *exists);

/*
 * The first of task_ids_json (a JSON array of task ids) that the latest
 * version of dag_id does not have: 0 with *missing (malloc'd; NULL when
 * every one is there), UPDRAFT_ENOMEM or UPDRAFT_EDB.
 */
int watch_missing_task(db_t *db, const char *dag_id, const char *task_ids_json, char **missing);

/*
 * Whether the latest version of dag_id has a task in task group group
 * (a task id "<group>."..., or a task_group equal to group or below it).
 * 0 with *exists, or UPDRAFT_EDB.
 */
int watch_group_exists(db_t *db, const char *dag_id, const char *group, bool *exists);

/*
 * The state of dag_id's run at logical_date (timestamptz text) into
 * state[0..len): 0, UPDRAFT_ENOTFOUND (no such run) or UPDRAFT_EDB.
 */
int watch_run_state_at(db_t *db, const char *dag_id, const char *logical_date, char *state,
                       size_t len);

/* The state of the run with id run_id: 0, UPDRAFT_ENOTFOUND or UPDRAFT_EDB. */
int watch_run_state(db_t *db, int64_t run_id, char *state, size_t len);

/*
 * The run of dag_id named run_id or, failing that, at logical_date
 * (timestamptz text): 0 with *id, its run id in found[0..len) and, when
 * it has a logical date, *logical_us (epoch microseconds) with
 * *has_logical; UPDRAFT_ENOTFOUND or UPDRAFT_EDB.
 */
int watch_find_run(db_t *db, const char *dag_id, const char *run_id, const char *logical_date,
                   int64_t *id, char *found, size_t len, bool *has_logical, int64_t *logical_us);

/* Per task id of a watched run: how many rows (map indexes), and in which states. */
typedef struct watch_counts {
    char *task_id;
    long total;
    long allowed; /* state in the allowed states */
    long failed;  /* in the failed states */
    long skipped; /* in the skipped states */
} watch_counts_t;

/*
 * The task instances of dag_id's run at logical_date (timestamptz text)
 * counted per task id, in task id order: the tasks named in
 * task_ids_json (a JSON array) when group is NULL or "", else the tasks
 * of group ("<group>."...). allowed, failed and skipped are text[]
 * literals of states. 0 with *out (n entries; watch_counts_free), or
 * UPDRAFT_ENOMEM / UPDRAFT_EDB.
 */
int watch_task_counts(db_t *db, const char *dag_id, const char *logical_date,
                      const char *task_ids_json, const char *group, const char *allowed,
                      const char *failed, const char *skipped, watch_counts_t **out, size_t *n);
void watch_counts_free(watch_counts_t *c, size_t n);

#endif
