/*
 * timeutil.h - time values as updraft passes them around.
 *
 * Internally a point in time is int64 microseconds since the Unix epoch,
 * UTC (the resolution of Postgres timestamptz). Text forms are ISO 8601.
 */
#ifndef UPDRAFT_TIMEUTIL_H
#define UPDRAFT_TIMEUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef int64_t ts_us_t;

#define TS_US_PER_SEC INT64_C(1000000)
#define TS_NONE INT64_MIN /* "no timestamp" */

/* Wall clock now, in microseconds since the epoch. */
ts_us_t ts_now(void);
/* Monotonic clock, microseconds; for measuring durations and timeouts. */
int64_t ts_mono_us(void);

/*
 * Formats as Airflow's API does: 2024-03-10T11:00:00.123456+00:00.
 * buf needs TS_ISO_LEN bytes. Returns buf.
 */
#define TS_ISO_LEN 96
char *ts_format_iso(ts_us_t t, char *buf);
/* Same without microseconds: 2024-03-10T11:00:00+00:00. */
char *ts_format_iso_sec(ts_us_t t, char *buf);

/*
 * Parses ISO 8601 / RFC 3339 and the forms Postgres and YAML 1.1 write:
 * "2024-01-01", "2024-01-01 10:00:00", "2024-01-01T10:00:00.5Z",
 * "2024-01-01T10:00:00+02:00", "2024-01-01 10:00:00.123456+00".
 * A value without an offset is UTC. Returns 0, or -1 if s is not such a
 * time or falls outside years 1 to 9999 in UTC (out is then untouched).
 */
int ts_parse(const char *s, ts_us_t *out);

/*
 * Proleptic Gregorian calendar arithmetic on day numbers (days since
 * 1970-01-01), without time_t, so it holds for any year cron and
 * templates accept. month is 1-12, day 1-31.
 */
int64_t ts_days_from_civil(int64_t year, int month, int day);
void ts_civil_from_days(int64_t days, int64_t *year, int *month, int *day);
bool ts_is_leap_year(int64_t year);
/* Days in month (1-12) of year. */
int ts_days_in_month(int64_t year, int month);
/* Day of the week of a day number: 0 = Sunday ... 6 = Saturday. */
int ts_weekday(int64_t days);

#endif
