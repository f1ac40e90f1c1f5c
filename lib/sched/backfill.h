/*
 * backfill.h - backfills, shared by the CLI, the REST API and the
 * scheduler: which data intervals a date range covers and what happens at
 * each logical date (pure), creating a stored backfill (store/backfill.h)
 * from a request, the scheduler's step that creates or clears the next
 * runs of the active backfills, and the progress line a terminal shows.
 *
 * Intervals follow Airflow 2's DAG.iter_dagrun_infos_between(start, end,
 * align=True): the first interval starts at the first fire time at or after
 * start (a fixed interval starts exactly at start; @once gives one run at
 * start), each next one follows the schedule, and every interval whose
 * start (the logical date) is at or before end is included. The DAG's own
 * start_date, end_date and catchup do not limit a backfill.
 */
#ifndef UPDRAFT_BACKFILL_H
#define UPDRAFT_BACKFILL_H

#include <stddef.h>
#include <stdint.h>

#include "core/db.h"
#include "core/timeutil.h"
#include "model/cron.h"
#include "store/backfill.h"
#include "store/dagrun.h"

#define BACKFILL_MAX_RUNS 100000 /* a range with more intervals than this is refused */

typedef struct backfill_interval {
    ts_us_t start; /* the logical date */
    ts_us_t end;
} backfill_interval_t;

/*
 * The intervals of s whose start lies in [start, end], oldest first.
 * Returns 0 with *out malloc'd (caller frees; NULL when *n is 0), or -1 with
 * err filled: the schedule has no intervals to backfill (manual only,
 * @continuous), end is before start, or more than max intervals.
 */
int backfill_intervals(const schedule_t *s, ts_us_t start, ts_us_t end, size_t max,
                       backfill_interval_t **out, size_t *n, char *err, size_t errlen);

/* How existing runs are treated (Airflow 3's ReprocessBehavior). */
typedef enum backfill_reprocess {
    BACKFILL_REPROCESS_NONE = 0, /* every existing run is left alone */
    BACKFILL_REPROCESS_FAILED,   /* failed runs are cleared */
    BACKFILL_REPROCESS_COMPLETED /* failed and successful runs are cleared */
} backfill_reprocess_t;

/* "none", "failed", "completed"; parse: 0, or -1 for another word. */
const char *backfill_reprocess_name(backfill_reprocess_t r);
int backfill_reprocess_parse(const char *s, backfill_reprocess_t *out);

/* Airflow 3's exception_reason of a skipped logical date. */
#define BACKFILL_REASON_IN_FLIGHT "in flight"
#define BACKFILL_REASON_EXISTS "already exists"

/* A planned logical date. */
typedef struct backfill_item {
    backfill_interval_t iv;
    backfill_action_t act;
    const char *reason;               /* BACKFILL_SKIP: why (a constant above) */
    int64_t run_pk;                   /* the existing run's dag_run.id (0: none) */
    char run_id[DAGRUN_ID_MAX + 1];   /* the existing run's, or the one to create */
    char old_state[DAGRUN_STATE_MAX]; /* the existing run's state ("" when none) */
} backfill_item_t;

/*
 * Pure: the plan of intervals iv[0..n) (oldest first) given the DAG's runs
 * at those dates (runs[0..nruns), any order), as Airflow 3 decides: a date
 * without a run gets one; a queued or running run is skipped (in flight);
 * a finished run is cleared when rp says so, else skipped (already
 * exists). only_failed_tis clears only the failed task instances of a
 * cleared run (the CLI's --rerun-failed-tasks). backwards: newest first.
 * Returns 0 with *out (n items, free()), or UPDRAFT_ENOMEM.
 */
int backfill_plan(const backfill_interval_t *iv, size_t n, const dagrun_ref_t *runs, size_t nruns,
                  backfill_reprocess_t rp, bool only_failed_tis, bool backwards,
                  backfill_item_t **out);

/* A backfill to create (the REST API's BackfillPostBody). */
typedef struct backfill_request {
    const char *dag_id;
    ts_us_t from_date, to_date;
    const char *conf_json; /* a JSON object as text; NULL: {} */
    backfill_reprocess_t reprocess;
    bool only_failed_tis;
    bool run_backwards;
    int max_active_runs; /* 0: the DAG's */
} backfill_request_t;

/*
 * Plans req from the DAG's schedule (its latest version) and its runs
 * and, unless dry_run, stores it, all in one transaction (the caller has
 * none open). 0 with the plan in *items (*n, free()) and, stored, the
 * backfill's id in *id; or with err filled: UPDRAFT_ENOTFOUND (no such
 * DAG, or not parsed yet), UPDRAFT_EINVALID (a schedule without
 * intervals, end before start, too many runs, a bad conf, no date in the
 * range unless dry_run: a dry run answers 0 with *n 0), UPDRAFT_EEXISTS (the DAG has an active
 * backfill), UPDRAFT_ENOMEM or UPDRAFT_EDB.
 */
int backfill_create(db_t *db, const backfill_request_t *req, bool dry_run, backfill_item_t **items,
                    size_t *n, int64_t *id, char *err, size_t errlen);

/*
 * The scheduler's step, once per pass: for each backfill not completed,
 * in its own transaction holding the backfill's row lock (skipped when
 * another scheduler holds it): unless paused, creates or clears the next
 * planned runs while the backfill and its DAG are under max_active_runs;
 * then completes it when every planned run has finished. *acted: runs
 * created or cleared (a caller looks again soon when > 0); *completed:
 * backfills completed. 0, or UPDRAFT_EDB (rolled back).
 */
int backfill_drive(db_t *db, size_t *acted, size_t *completed);

/*
 * The progress line: "[#######.............]  3/7 runs done, 1 failed,
 * ETA 0:42" with a bar of bar_width cells; the ETA extrapolates the mean
 * time per finished run ("ETA --:--" before the first). Returns buf.
 */
char *backfill_format_progress(char *buf, size_t len, size_t done, size_t total, size_t failed,
                               int64_t elapsed_us, int bar_width);

#endif
