/*
 * backfill.h - the pure parts of a backfill, shared by the CLI and (later)
 * the REST API: which data intervals a date range covers, and the
 * progress line a terminal shows while the runs execute.
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

#include "model/cron.h"
#include "core/timeutil.h"

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

/*
 * The progress line: "[#######.............]  3/7 runs done, 1 failed,
 * ETA 0:42" with a bar of bar_width cells; the ETA extrapolates the mean
 * time per finished run ("ETA --:--" before the first). Returns buf.
 */
char *backfill_format_progress(char *buf, size_t len, size_t done, size_t total, size_t failed,
                               int64_t elapsed_us, int bar_width);

#endif
