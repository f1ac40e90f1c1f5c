/*
 * cron.h - timetables: schedules, time zones and data intervals, as
 * Airflow 2 computes them.
 *
 * A schedule is one of
 * - a 5-field cron expression (minute hour day-of-month month day-of-week,
 *   with ranges, steps, lists, names, croniter's L and #);
 * - a preset: @hourly, @daily, @weekly, @monthly, @quarterly, @yearly,
 *   @annually, @midnight (cron), @once, @continuous;
 * - a fixed interval (Airflow's timedelta schedule): "30m", "6h", "1d",
 *   "90s", "1h30m", "2w" (units w d h m s, at least one, total > 0);
 * - none (manual runs only: NULL, "", "None", "null", "~").
 *
 * Cron syntax, as croniter (which Airflow uses) reads it:
 * - fields: minute 0-59, hour 0-23, day-of-month 1-31, month 1-12 or
 *   JAN-DEC, day-of-week 0-7 or SUN-SAT (0 and 7 are Sunday); names are
 *   case-insensitive; items are '*', a, a-b, each with an optional /n, in
 *   comma lists; "a/n" means a-max/n; '?' is '*' in the two day fields;
 * - "L" in day-of-month is the last day of the month; "w#n" in
 *   day-of-week (w a day number or name, n 1-5) is the n-th such weekday of
 *   the month ("MON#1", "5#2"); "Lw" in day-of-week (w 0-7) is the last
 *   such weekday of the month ("L5": the last Friday); W is not supported;
 * - a day-of-week range may end in Sunday ("FRI-SUN" = 5-7); other
 *   reversed ranges are errors;
 * - a field covering all its values ("*", "*\/1", "0-6") counts as '*'.
 *   When day-of-month and day-of-week are both restricted a day matches if
 *   either does (OR); otherwise both must.
 *
 * Time zones: a schedule may carry a zone (schedule_t.tz, loaded with
 * schedule_tz_load from the system tz database, TZif files under
 * /usr/share/zoneinfo or $TZDIR; NULL = UTC). Cron fire times are then
 * computed on the zone's wall clock exactly as Airflow 2's CronMixin does:
 * - schedules whose hour field is '*' step in elapsed time ("0 * * * *"
 *   fires every real hour through both DST changes);
 * - others fire at the wall-clock time; a time that does not exist (02:30
 *   on a spring-forward day in New York) fires at the same time shifted by
 *   the gap (03:30 EDT), and a repeated time (01:30 on an autumn day in
 *   London) fires once, at its second (standard-time) occurrence.
 * Fixed intervals are elapsed time and ignore the zone. All times passed
 * in and out are UTC microseconds.
 *
 * Times outside the years 1..9999 have no fire times. An expression that
 * can never fire (as "0 0 30 2 *" or "0 0 31 4 *") is refused by
 * schedule_parse; the search is bounded (every other expression fires
 * within 30 years).
 *
 * Data intervals follow Airflow 2's timetables: CronDataIntervalTimetable
 * and DeltaDataIntervalTimetable (a run covers [start, end), its logical
 * date is start, it is due once end has passed), OnceTimetable and
 * ContinuousTimetable. catchup=false follows _skip_to_latest in its default
 * form (catchup_false_no_dagrun_airflow_2_fix off). An interval whose start
 * is after end_date is not scheduled (Airflow compares start > end_date).
 */
#ifndef UPDRAFT_CRON_H
#define UPDRAFT_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/timeutil.h"

/* A loaded time zone (opaque, immutable: safe to share between threads). */
typedef struct schedule_tz schedule_tz_t;

typedef enum schedule_kind {
    SCHEDULE_NONE = 0, /* manual only */
    SCHEDULE_ONCE,
    SCHEDULE_CRON,
    SCHEDULE_DELTA,     /* fixed interval: delta_us */
    SCHEDULE_CONTINUOUS /* @continuous: one run after another, never two at once */
} schedule_kind_t;

#define SCHEDULE_DOW_LAST 0x20u

typedef struct schedule {
    schedule_kind_t kind;
    uint64_t minute;         /* bit i set: minute i (0..59) */
    uint32_t hour;           /* 0..23 */
    uint32_t dom;            /* 1..31 */
    uint16_t month;          /* 1..12 */
    uint8_t dow;             /* 0..6, Sunday = 0 (7 accepted as Sunday) */
    bool dom_star;           /* day-of-month field was '*' (or '?') */
    bool dow_star;           /* day-of-week field was '*' (or '?') */
    bool dom_last;           /* 'L' in day-of-month: the last day of the month */
    uint8_t dow_nth[7];      /* '#': bit n-1 of dow_nth[w] set = the n-th weekday w;
                                SCHEDULE_DOW_LAST: the last weekday w ("Lw") */
    int64_t delta_us;        /* SCHEDULE_DELTA: the interval, > 0 */
    const schedule_tz_t *tz; /* zone of the wall clock; NULL = UTC; borrowed */
} schedule_t;

/*
 * Parses text (NULL means none); out->tz is set to NULL (attach a zone
 * afterwards). Returns 0, or -1 with a message such as
 * "invalid cron expression '61 * * * *': minute 61 out of range 0-59".
 */
int schedule_parse(const char *text, schedule_t *out, char *err, size_t errlen);

/*
 * Formats a fixed interval of seconds (> 0) in the form schedule_parse
 * reads back ("1d", "1h30m", "90s" is written "1m30s"). Returns buf, or
 * NULL when len is too small (24 bytes always suffice).
 */
char *schedule_format_delta(int64_t seconds, char *buf, size_t len);

/*
 * Loads a zone by IANA name ("Europe/London") from the system tz database
 * ($TZDIR or /usr/share/zoneinfo), or a fixed offset "+02:00" / "-0530".
 * "UTC" (any case), "Etc/UTC", "Z" and "+00:00" give *out = NULL (UTC, no
 * file needed). Returns 0, or -1 with err filled ("unknown time zone
 * 'Mars/Base'"). The caller frees *out with schedule_tz_free.
 */
int schedule_tz_load(const char *name, schedule_tz_t **out, char *err, size_t errlen);
void schedule_tz_free(schedule_tz_t *tz);
/* The zone's UTC offset at instant t, in seconds east of UTC (0 for NULL). */
int32_t schedule_tz_offset(const schedule_tz_t *tz, ts_us_t t);
/*
 * The instant of a wall-clock time (given as microseconds as if it were
 * UTC) in tz, as Airflow's make_aware does: a repeated time is its second
 * occurrence, a skipped time is moved forward by the gap.
 */
ts_us_t schedule_tz_from_local(const schedule_tz_t *tz, ts_us_t local);

/*
 * Fire times (cron and fixed intervals), in s->tz as described above.
 * next: the first fire strictly after t (Airflow's _get_next; for a fixed
 * interval t + delta). prev: the last fire at or before t (cron only).
 * -1 when there is none.
 */
int schedule_next_fire(const schedule_t *s, ts_us_t t, ts_us_t *out);
int schedule_prev_fire(const schedule_t *s, ts_us_t t, ts_us_t *out);

/*
 * The data interval of the next scheduled run, Airflow 2 style:
 * last_start / last_end: the data interval of the latest scheduled run
 * (TS_NONE, TS_NONE when there is none; last_end TS_NONE with a last_start
 * means "the schedule's next fire after last_start"); start_date/end_date:
 * the DAG's (end_date TS_NONE = open); now: the current time; catchup:
 * false skips to the latest complete interval (ignored by @once and
 * @continuous). Returns 1 and fills [*istart, *iend) when there is a next
 * run (which may still lie in the future: the caller creates it once
 * *iend <= now), 0 when there is none (manual, @once already run, past
 * end_date, no start_date).
 */
int schedule_next_interval(const schedule_t *s, ts_us_t last_start, ts_us_t last_end,
                           ts_us_t start_date, ts_us_t end_date, ts_us_t now, bool catchup,
                           ts_us_t *istart, ts_us_t *iend);

/*
 * The interval after [last_start, last_end) with no start/end date and
 * catchup on, as Airflow's next_dagrun_info(..., restricted=False) that
 * `dags next-execution` uses for its second and later lines. Returns 1 or
 * 0 as above (@once, @continuous and manual have none).
 */
int schedule_following_interval(const schedule_t *s, ts_us_t last_start, ts_us_t last_end,
                                ts_us_t *istart, ts_us_t *iend);

/*
 * The data interval of a manual run at run_after (its logical date), as
 * Airflow 2's infer_manual_data_interval: for a cron schedule the last
 * complete interval ending at or before run_after (@daily at 2024-03-10
 * 00:00 or 13:00: [03-09, 03-10)); for a fixed interval
 * [run_after - interval, run_after); for @once, @continuous and none (and
 * when no fire time exists) the zero-width [run_after, run_after).
 */
void schedule_manual_interval(const schedule_t *s, ts_us_t run_after, ts_us_t *istart,
                              ts_us_t *iend);

#endif
