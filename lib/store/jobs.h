/*
 * jobs.h - the job table: one row per scheduler and worker process
 * (Airflow's Job), its heartbeat and end state, and the reads that say
 * which of them are alive (the webserver's /health, `updraft jobs check`,
 * the CLI's "no scheduler is running" warning).
 *
 * Every function is one statement, prepared once per connection by name.
 */
#ifndef UPDRAFT_STORE_JOBS_H
#define UPDRAFT_STORE_JOBS_H

#include <libpq-fe.h>
#include <stdint.h>

#include "core/db.h"
#include "core/error.h"

/* A job whose heartbeat is older than this is not healthy (Airflow's
 * scheduler_health_check_threshold), for /health and `jobs check`. */
#define JOBS_HEALTH_THRESHOLD_SEC "30"
/* The CLI's warning that no scheduler runs uses a longer threshold. */
#define JOBS_SCHEDULER_ALIVE_SEC "60"

/* ---- a process's own row ------------------------------------------------- */

/*
 * Inserts a WorkerJob row for the worker on hostname with pid, serving
 * queues_csv (comma-separated) with concurrency slots (tries at once).
 * 0 with *job_id, or UPDRAFT_EDB.
 */
int jobs_worker_start(db_t *db, const char *hostname, int pid, const char *queues_csv,
                      int concurrency, int64_t *job_id);
/* Marks a worker's job row ended with state ("success" / "failed"). 0 or UPDRAFT_EDB. */
int jobs_worker_end(db_t *db, int64_t job_id, const char *state);

/* Inserts a SchedulerJob row for hostname and pid. 0 with *job_id, or UPDRAFT_EDB. */
int jobs_scheduler_start(db_t *db, const char *hostname, int pid, int64_t *job_id);
/*
 * Sets a scheduler's job row to state and refreshes its heartbeat;
 * "running" clears end_date, any other state ends the job now. The DAG
 * processor's heartbeat becomes now minus processor_stalled_us (how long
 * it has gone without progress, 0 when idle), on the database's clock;
 * negative leaves it NULL (not known). 0 or UPDRAFT_EDB.
 */
int jobs_scheduler_update(db_t *db, int64_t job_id, const char *state,
                          int64_t processor_stalled_us);

/* ---- who is alive -------------------------------------------------------- */

/* Columns of jobs_list_running's rows. */
enum {
    JOBS_COL_TYPE, /* job_type: SchedulerJob, WorkerJob, ... */
    JOBS_COL_HOSTNAME,
    JOBS_COL_PID,
    JOBS_COL_HEARTBEAT,           /* latest_heartbeat, epoch microseconds (int8) */
    JOBS_COL_HEALTHY,             /* heartbeat within JOBS_HEALTH_THRESHOLD_SEC (bool) */
    JOBS_COL_QUEUES,              /* queues as a JSON array text (NULL for schedulers) */
    JOBS_COL_PROCESSOR_HEARTBEAT, /* a scheduler's dag_processor_heartbeat, epoch microseconds
                                     (int8), NULL when not known */
    JOBS_COL_PROCESSOR_HEALTHY,   /* that heartbeat within JOBS_HEALTH_THRESHOLD_SEC (bool) */
};

/*
 * The running jobs, by job_type then latest heartbeat first, at most
 * 1,000 (the webserver's /health). 0 with *out (the caller PQclear()s
 * it), or UPDRAFT_EDB.
 */
int jobs_list_running(db_t *db, PGresult **out);

/*
 * How many running jobs have a heartbeat within JOBS_HEALTH_THRESHOLD_SEC,
 * of job_type (NULL: any) on hostname (NULL: any), counting at most limit
 * (`updraft jobs check`). 0 with *count, or UPDRAFT_EDB.
 */
int jobs_count_alive(db_t *db, const char *job_type, const char *hostname, int limit, long *count);

/*
 * How many running SchedulerJobs have a heartbeat within
 * JOBS_SCHEDULER_ALIVE_SEC. 0 with *count, or UPDRAFT_EDB.
 */
int jobs_count_schedulers_alive(db_t *db, long *count);

/* ---- the web UI's list ------------------------------------------------- */

/* Columns of jobs_list_live's rows. */
enum {
    JOBS_LIVE_ID, /* job.id (int8 text) */
    JOBS_LIVE_TYPE,
    JOBS_LIVE_HOSTNAME,
    JOBS_LIVE_PID,
    JOBS_LIVE_STATE,
    JOBS_LIVE_QUEUES,              /* JSON array text */
    JOBS_LIVE_START,               /* start_date, epoch microseconds (int8) */
    JOBS_LIVE_HEARTBEAT,           /* latest_heartbeat, epoch microseconds (int8) */
    JOBS_LIVE_HEALTHY,             /* heartbeat within JOBS_HEALTH_THRESHOLD_SEC (bool) */
    JOBS_LIVE_RUNNING,             /* a worker's task instances in state running (int8) */
    JOBS_LIVE_PROCESSOR_HEARTBEAT, /* a scheduler's dag_processor_heartbeat, epoch
                                      microseconds (int8) or NULL */
    JOBS_LIVE_CONCURRENCY,         /* a worker's slots (int4), NULL when not recorded */
};

/*
 * The scheduler and worker jobs in state running (stale ones included:
 * a process that died without ending its row stays "running" with an old
 * heartbeat), of job_type (NULL: any), schedulers first then by latest
 * heartbeat, at most 1,000, each worker with how many task instances it
 * runs now (one aggregate over the running rows, joined) and its slots
 * (the web UI's /ui/jobs). 0 with *out (the caller PQclear()s
 * it), or UPDRAFT_EDB.
 */
int jobs_list_live(db_t *db, const char *job_type, PGresult **out);

#endif
