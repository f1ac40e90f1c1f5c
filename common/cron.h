/*
 * cron.h - schedules and their data intervals, as Airflow 2 computes them.
 *
 * A schedule is a 5-field cron expression (minute hour day-of-month month
 * day-of-week, with ranges, steps, lists and names), a preset (@once,
 * @hourly, @daily, @weekly, @monthly, @yearly, @annually, @midnight), or
 * none (manual runs only: YAML null, "None", "null", absent). Times are UTC.
 *
 * Data intervals follow Airflow 2's CronDataIntervalTimetable: a run covers
 * [interval_start, interval_end), its logical date is interval_start, and it
 * becomes due once interval_end has passed.
 *
 * Syntax, as croniter (which Airflow uses) reads it:
 * - fields: minute 0-59, hour 0-23, day-of-month 1-31, month 1-12 or
 *   JAN-DEC, day-of-week 0-7 or SUN-SAT (0 and 7 are Sunday); names are
 *   case-insensitive; items are '*', a, a-b, each with an optional /n, in
 *   comma lists; "a/n" means a-max/n; '?' is '*' in the two day fields;
 * - a day-of-week range may end in Sunday ("FRI-SUN" = 5-7); other
 *   reversed ranges are errors; croniter's L, W and # are not supported;
 * - a field covering all its values ("*", "*\/1", "0-6") counts as '*'.
 *   When day-of-month and day-of-week are both restricted a day matches if
 *   either does (OR); otherwise both must;
 * - presets are case-insensitive; NULL, "", "None", "null", "~" are none.
 *
 * Times: fire times are whole UTC minutes. Times outside the years
 * 1..9999 have no fire times. An expression that can never fire (as
 * "0 0 30 2 *") is recognised up front; otherwise the search is bounded
 * (every other expression fires at least once in 8 years).
 *
 * Intervals, where this differs from or narrows Airflow:
 * - the previous run is given by its start only; its end is taken as the
 *   next fire after that start (Airflow reads the stored end and aligns it
 *   back to the schedule; the two agree unless the schedule changed);
 * - catchup=false follows _skip_to_latest in its default form
 *   (catchup_false_no_dagrun_airflow_2_fix off): the latest interval whose
 *   end is at or before now, never earlier than start_date aligned forward;
 * - "strictly before t" (Airflow's _get_prev) is schedule_prev_fire(t - 1us);
 * - an interval whose start is after end_date is not scheduled; a start
 *   equal to end_date still is (Airflow compares start > end_date).
 */
#ifndef UPDRAFT_CRON_H
#define UPDRAFT_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/timeutil.h"

typedef enum schedule_kind {
    SCHEDULE_NONE = 0, /* manual only */
    SCHEDULE_ONCE,
    SCHEDULE_CRON
} schedule_kind_t;

typedef struct schedule {
    schedule_kind_t kind;
    uint64_t minute;  /* bit i set: minute i (0..59) */
    uint32_t hour;    /* 0..23 */
    uint32_t dom;     /* 1..31 */
    uint16_t month;   /* 1..12 */
    uint8_t dow;      /* 0..6, Sunday = 0 (7 accepted as Sunday) */
    bool dom_star;    /* day-of-month field was '*' (or '?') */
    bool dow_star;    /* day-of-week field was '*' (or '?') */
} schedule_t;

/*
 * Parses text (NULL means none). Returns 0, or -1 with a message such as
 * "invalid cron expression '61 * * * *': minute 61 out of range 0-59".
 */
int schedule_parse(const char *text, schedule_t *out, char *err, size_t errlen);

/* The first fire time strictly after t. -1 when there is none (not cron). */
int schedule_next_fire(const schedule_t *s, ts_us_t t, ts_us_t *out);
/* The last fire time at or before t. -1 when there is none. */
int schedule_prev_fire(const schedule_t *s, ts_us_t t, ts_us_t *out);

/*
 * The data interval of the next scheduled run, Airflow 2 style:
 * last_start: interval start (logical date) of the latest scheduled run, or
 * TS_NONE; start_date/end_date: the DAG's (end_date TS_NONE = open); now:
 * the current time; catchup: false skips to the latest complete interval.
 * Returns 1 and fills [*istart, *iend) when there is a next run (which may
 * still lie in the future: the caller creates it once *iend <= now), 0 when
 * there is none (manual, @once already run, past end_date, no start_date).
 */
int schedule_next_interval(const schedule_t *s, ts_us_t last_start, ts_us_t start_date,
                           ts_us_t end_date, ts_us_t now, bool catchup, ts_us_t *istart,
                           ts_us_t *iend);

#endif
