/*
 * dags.h - the dag, dag_version and dag_file tables: what the DAG file
 * processor stores per batch of files, the schedule fields the scheduler
 * reads and writes (dag.next_dagrun, next_dagrun_create_after), and the
 * pause flag.
 *
 * The processor's batch statements are set-based: each takes a JSON array
 * (a jsonb parameter) of rows, so that a batch of files costs a handful of
 * round trips whatever its size. They run inside the caller's transaction.
 * Functions that return rows hand over the PGresult (*out, caller
 * PQclear()s); its columns are listed with each function. Every function
 * returns 0 (UPDRAFT_OK) or a negative code of core/error.h: UPDRAFT_EDB
 * when the statement failed (db_error() says why; an open transaction is
 * aborted and the caller rolls back).
 */
#ifndef UPDRAFT_STORE_DAGS_H
#define UPDRAFT_STORE_DAGS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/db.h"
#include "core/timeutil.h"

/* Due DAGs one dags_list_due() names at most. */
#define DAGS_DUE_MAX 256

/* ---- the processor's batch store ----------------------------------------- */

/*
 * Locks (FOR UPDATE) the active dag rows of the ids in ids_json (a JSON
 * array of strings). *out: (dag_id, fileloc), by dag_id COLLATE "C".
 */
int dags_lock_active_owners(db_t *db, const char *ids_json, PGresult **out);

/*
 * Inserts or updates the dag rows of rows_json (a JSON array of objects:
 * dag_id, fileloc, description, schedule, catchup, start_date, end_date,
 * tags, owners, max_active_runs, max_active_tasks, is_paused; is_paused is
 * written for new rows only), marking them active and parsed now. *out:
 * (dag_id) of the rows whose next_dagrun must be recomputed: new or
 * reactivated, or whose schedule, start/end date or catchup changed, and
 * that have a schedule or next_dagrun values to clear.
 */
int dags_upsert_batch(db_t *db, const char *rows_json, PGresult **out);

/*
 * Stores a new dag_version for each entry of versions_json (objects:
 * dag_id, fileloc, hash, data) whose hash differs from the DAG's latest
 * version, and points dag.version_id at the latest. *out: (dag_id,
 * version_number) of the versions stored.
 */
int dags_store_versions(db_t *db, const char *versions_json, PGresult **out);

/*
 * Per file of files_json (objects: path, hash, mtime, size, ok, errors,
 * dag_ids): deactivates the DAGs a cleanly loaded file no longer defines,
 * clears (ok) or records (not ok) its import_error row, and upserts its
 * dag_file row, in one statement. *out: (fileloc, count) of the DAGs
 * deactivated.
 */
int dags_store_files(db_t *db, const char *files_json, PGresult **out);

/*
 * Forgets the files of paths_json (a JSON array of paths) that are gone:
 * their import_error and dag_file rows are deleted and their active DAGs
 * deactivated, in one statement. *out: (path, dags deactivated).
 */
int dags_forget_files(db_t *db, const char *paths_json, PGresult **out);

/* Every dag_file row. *out: (path, hash) by path COLLATE "C". */
int dags_list_files(db_t *db, PGresult **out);

/* ---- schedule fields ------------------------------------------------------ */

/* What a DAG's next scheduled run is computed from. Strings are owned. */
typedef struct dags_sched {
    char *schedule;     /* NULL: no schedule */
    char *timezone;     /* of the latest serialized version; NULL: none */
    ts_us_t start_date; /* TS_NONE when NULL */
    ts_us_t end_date;   /* TS_NONE when NULL */
    bool catchup;
    int max_active_runs; /* dags_lock_due only */
    int64_t active_runs; /* dags_lock_due only: runs queued or running */
} dags_sched_t;

/* Frees what s holds and zeroes it; NULL is a no-op. */
void dags_sched_clear(dags_sched_t *s);

/* The schedule fields of dag_id: 0, UPDRAFT_ENOTFOUND (no such DAG), UPDRAFT_EDB, UPDRAFT_ENOMEM.
 */
int dags_get_schedule(db_t *db, const char *dag_id, dags_sched_t *out);

/*
 * Locks dag_id's row (FOR UPDATE SKIP LOCKED) when it is active, unpaused,
 * scheduled and its next_dagrun_create_after has passed, inside the
 * caller's transaction, and reads its schedule fields with its
 * max_active_runs and count of queued or running runs. UPDRAFT_ENOTFOUND
 * when it is not due (any more) or another scheduler holds it.
 */
int dags_lock_due(db_t *db, const char *dag_id, dags_sched_t *out);

/*
 * Sets dag.next_dagrun and next_dagrun_create_after (TS_NONE: NULL) of
 * dag_id. 0 (also when there is no such DAG) or UPDRAFT_EDB.
 */
int dags_set_next(db_t *db, const char *dag_id, ts_us_t next_dagrun, ts_us_t create_after);

/*
 * The active, unpaused, scheduled DAGs whose next_dagrun_create_after has
 * passed, at most DAGS_DUE_MAX, soonest first. *out: (dag_id).
 */
int dags_list_due(db_t *db, PGresult **out);

/*
 * The active, unpaused, scheduled DAGs with a parsed version (those whose
 * tasks may miss an SLA). *out: (dag_id, version_id).
 */
int dags_list_sla_candidates(db_t *db, PGresult **out);

/* ---- the pause flag ------------------------------------------------------- */

/*
 * Pauses or unpauses dag_id and, when it exists, wakes the schedulers
 * (NOTIFY updraft_scheduler, delivered at commit), in one statement. Runs
 * in the caller's transaction if one is open. 0, UPDRAFT_ENOTFOUND (no
 * such DAG) or UPDRAFT_EDB.
 */
int dags_set_paused(db_t *db, const char *dag_id, bool paused);

#endif
