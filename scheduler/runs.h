/*
 * runs.h - scheduled DAG run creation.
 *
 * dag.next_dagrun / dag.next_dagrun_create_after say when each DAG's next
 * scheduled run is due; they are derived from the latest *scheduled* run's
 * logical date with schedule_next_interval() (model/cron.h), both when
 * the DAG processor stores a DAG and each time a run is created.
 */
#ifndef UPDRAFT_SCHEDULER_RUNS_H
#define UPDRAFT_SCHEDULER_RUNS_H

#include <stdbool.h>

#include "core/db.h"

/*
 * Recomputes dag.next_dagrun / next_dagrun_create_after of dag_id from its
 * row (schedule, start/end date, catchup) and its latest scheduled run.
 * Runs inside the caller's transaction. Returns 0, or -1 on a database
 * error (the caller rolls back).
 */
int runs_update_next(db_t *db, const char *dag_id);

/*
 * Creates the due scheduled runs: for each active, unpaused, scheduled DAG
 * whose next_dagrun_create_after has passed, taken with FOR UPDATE SKIP
 * LOCKED, one run if max_active_runs allows, in one transaction per DAG.
 * *created counts the runs made. Returns 0, or -1 when a database error
 * stopped the pass (the connection may need db_ensure()).
 */
int runs_create_due(db_t *db, int *created);

#endif
