/*
 * dags.h - the dag, dag_version and dag_file tables: what the DAG file
 * processor stores per batch of files, the schedule fields the scheduler
 * reads and writes (dag.next_dagrun, next_dagrun_create_after), and the
 * pause flag; and what the commands, the REST API and the operators that
 * watch other DAGs read of them (the active DAGs, a DAG's parsed schedule,
 * whether a DAG or its tasks exist).
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
#include <stddef.h>
#include <stdint.h>

#include "core/db.h"
#include "core/error.h"
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
 * version, and points dag.version_id at the latest. code_json (a JSON
 * array of objects: fileloc, source, source_hash, source_size, truncated;
 * one per file, however many DAGs it holds) gives each DAG's latest
 * version its dag_code row: written with a new version, updated in place
 * when only the file's text changed (Airflow 3's DagCode). *out: (dag_id,
 * version_number) of the versions stored.
 */
int dags_store_versions(db_t *db, const char *versions_json, const char *code_json, PGresult **out);

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

/*
 * Pauses or unpauses every DAG of dag_ids_json (a JSON array of ids; the
 * REST API's PATCH of several DAGs) and wakes the schedulers, in one
 * statement. *n: the DAGs found. 0 or UPDRAFT_EDB.
 */
int dags_set_paused_many(db_t *db, const char *dag_ids_json, bool paused, long *n);

/* ---- what the commands, the API and the watching operators read ----------- */

/*
 * Two kinds of "the DAG's version" are read below, on purpose: dag.version_id
 * (the one the processor points the dag row at: dags_check_parsed,
 * dags_has_task, dags_get_parsed_schedule) and the highest version_number
 * of dag_version, whether or not the dag row points at it (dags_latest_task,
 * dags_latest_missing_task, dags_latest_has_group: the operators and
 * commands that look a task up by DAG). The processor keeps them the same;
 * they differ only for rows written by hand.
 *
 * The functions that take (err, errlen) fill it on UPDRAFT_EDB and
 * UPDRAFT_ENOMEM and leave it as is on UPDRAFT_ENOTFOUND.
 */

/* A row of `dags list`. */
typedef struct dags_row {
    char *dag_id;
    char *fileloc;
    char *owners;
    bool is_paused;
} dags_row_t;

/* The active DAGs by dag_id: *out of *n; free with dags_rows_free(). */
int dags_list_active(db_t *db, dags_row_t **out, size_t *n, char *err, size_t errlen);
void dags_rows_free(dags_row_t *rows, size_t n);

/*
 * A DAG's schedule as its parsed version (dag.version_id) and its dag row
 * give it, for the commands: unlike dags_sched_t, the schedule and time
 * zone are the serialized ones, and the pause flag comes along.
 */
typedef struct dags_parsed_schedule {
    char *schedule;               /* the serialized "schedule" (NULL: none) */
    char *timezone;               /* the serialized "timezone" (NULL: none) */
    ts_us_t start_date, end_date; /* TS_NONE when not set */
    bool catchup, is_paused;
} dags_parsed_schedule_t;

/* Reads dag_id's schedule: UPDRAFT_ENOTFOUND when it does not exist or has no parsed version. */
int dags_get_parsed_schedule(db_t *db, const char *dag_id, dags_parsed_schedule_t *out, char *err,
                             size_t errlen);
void dags_parsed_schedule_free(dags_parsed_schedule_t *s);

/*
 * task_id's spec (JSON text) and the params (JSON text) of dag_id's latest
 * version, malloc'd; *spec NULL when the task is not in it, *params NULL
 * when there are none. UPDRAFT_ENOTFOUND when the DAG has no version.
 */
int dags_latest_task(db_t *db, const char *dag_id, const char *task_id, char **spec, char **params,
                     char *err, size_t errlen);

/*
 * Whether the dag table has dag_id, parsed or not (ExternalTaskSensor's
 * check_existence). 0 with *exists, or UPDRAFT_EDB.
 */
int dags_exists(db_t *db, const char *dag_id, bool *exists);

/*
 * 0 when dag_id exists and has a parsed version (dag.version_id), else
 * UPDRAFT_ENOTFOUND (the REST API's 404 before a clear), or UPDRAFT_EDB.
 */
int dags_check_parsed(db_t *db, const char *dag_id);

/*
 * A DAG file's token (the REST API's file_token): the URL-safe base64 of
 * the path, without padding, as SQL over the text column col. The API's
 * DAG answers select it and dags_code_of_token matches it, so the two
 * always agree.
 */
#define DAGS_FILE_TOKEN_SQL(col)                                                                   \
    "translate(encode(convert_to(" col ", 'UTF8'), 'base64'), E'+/=\\n', '-_')"

/* A DAG file's text as a version keeps it (the dag_code table). Owned. */
typedef struct dags_code {
    char *source;       /* NUL-terminated text, cut at the processor's limit when truncated;
                           NULL: the version has no text stored (dags_code_of_version only) */
    size_t len;         /* bytes of source */
    int64_t size;       /* bytes of the whole file */
    bool truncated;     /* source is the file's first len bytes only */
    int version_number; /* of the version it belongs to */
} dags_code_t;

/* Frees what c holds and zeroes it; NULL is a no-op. */
void dags_code_clear(dags_code_t *c);

/*
 * The code of the latest parsed version of a DAG whose file token is
 * token (the most recently updated when the file holds several DAGs).
 * 0, UPDRAFT_ENOTFOUND (no such DAG, or no code stored), UPDRAFT_ENOMEM
 * or UPDRAFT_EDB.
 */
int dags_code_of_token(db_t *db, const char *token, dags_code_t *out);

/*
 * The code of dag_id's version version_number (< 1: its latest parsed
 * version); out->source NULL when that version has none stored (it was
 * parsed before texts were kept). 0, UPDRAFT_ENOTFOUND (no such DAG or
 * version), UPDRAFT_ENOMEM or UPDRAFT_EDB.
 */
int dags_code_of_version(db_t *db, const char *dag_id, int version_number, dags_code_t *out);

/*
 * The serialized document (proto/PROTOCOL.md) of dag_id's parsed version
 * (dag.version_id) as JSON text in *doc (malloc'd). 0, UPDRAFT_ENOTFOUND
 * (no such DAG, or none parsed), UPDRAFT_ENOMEM or UPDRAFT_EDB.
 */
int dags_parsed_document(db_t *db, const char *dag_id, char **doc);

/*
 * Whether the parsed version of dag_id has task task_id, in *has.
 * UPDRAFT_ENOTFOUND when the DAG (or its parsed version) does not exist.
 */
int dags_has_task(db_t *db, const char *dag_id, const char *task_id, bool *has);

/*
 * The first of task_ids_json (a JSON array of task ids) that the latest
 * version of dag_id does not have: 0 with *missing (malloc'd; NULL when
 * every one is there), UPDRAFT_ENOMEM or UPDRAFT_EDB.
 */
int dags_latest_missing_task(db_t *db, const char *dag_id, const char *task_ids_json,
                             char **missing);

/*
 * Whether the latest version of dag_id has a task in task group group
 * (a task id "<group>."..., or a task_group equal to group or below it).
 * 0 with *exists, or UPDRAFT_EDB.
 */
int dags_latest_has_group(db_t *db, const char *dag_id, const char *group, bool *exists);

#endif
