/*
 * opsem.h - the small, pure rules behind the non-bash operators, shared by
 * the supervisor (worker/supervisor.c) and the operator runner
 * (worker/opexec.c), and unit-tested on their own:
 *
 *   - which task ids a branch may name (a direct downstream task, or a task
 *     group some direct downstream task is in);
 *   - whether a short-circuit's last output line is falsy;
 *   - the element of each expand key a mapped task instance gets (Airflow's
 *     index decomposition);
 *   - a sensor's next poke interval (Airflow's BaseSensorOperator.
 *     _get_next_poke_interval, with its sha1 jitter);
 *   - Python's str() of an aware UTC datetime.
 */
#ifndef UPDRAFT_WORKER_OPSEM_H
#define UPDRAFT_WORKER_OPSEM_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/timeutil.h"

/* Bash branch: output lines considered at most, and their length. */
#define OPSEM_BRANCH_MAX_FOLLOWED 100
#define OPSEM_BRANCH_MAX_LINE 250

/*
 * Whether id (len bytes, not NUL-terminated) is a branch target among
 * downstream (the task's downstream_task_ids, a JSON array of strings): one
 * of them, or X such that one of them starts with "X." (a task group).
 */
bool opsem_branch_target(const cJSON *downstream, const char *id, size_t len);

/*
 * Whether a short-circuit's last output line s[0..len) is falsy: empty
 * (after trimming blanks), or case-insensitively one of 0, false, no, off,
 * none, null, [], {}, "", ''.
 */
bool opsem_line_falsy(const char *s, size_t len);

/*
 * Dynamic task mapping: which element of each of nkeys expand keys (with
 * lens[k] elements each, in the expand object's order) instance map_index
 * gets. The last key varies fastest: from the last key to the first,
 * picks[k] = idx % lens[k], idx /= lens[k]. Returns 0, or -1 when
 * map_index is negative or not below the product of the lengths.
 */
int opsem_map_pick(const size_t *lens, size_t nkeys, long map_index, size_t *picks);

/* A sensor's timing arguments (seconds). */
typedef struct opsem_sensor {
    double poke_interval; /* default 60 */
    double timeout;       /* default 7 days */
    double max_wait;      /* 0 = none */
    bool exponential_backoff;
    bool reschedule; /* mode: reschedule */
} opsem_sensor_t;

/*
 * The seconds to wait before the next poke, as Airflow computes them:
 * poke_interval, or with exponential_backoff
 *   min_backoff = max(int(poke_interval * 2 ** (poke_count - 2)), 1)
 *   hash = int(sha1("dag_id#task_id#started_at#poke_count").hexdigest(), 16)
 *   interval = min(min_backoff + hash % min_backoff, timeout - int(run_duration))
 * capped by max_wait; in reschedule mode poke_count is first estimated
 * from run_duration by replaying the same series (newer Airflow).
 * started_at is the text Airflow hashes (str() of the first poke's datetime
 * in reschedule mode, the monotonic start as a float in poke mode). Never
 * negative.
 */
double opsem_next_poke_interval(const opsem_sensor_t *s, const char *dag_id, const char *task_id,
                                const char *started_at, double run_duration, int poke_count);

/*
 * Python's str() of an aware UTC datetime: "2024-01-01 10:00:00+00:00",
 * ".ffffff" before the offset only when there are microseconds. buf needs
 * TS_ISO_LEN bytes. Returns buf.
 */
char *opsem_python_datetime(ts_us_t t, char *buf);

#endif
