/*
 * eventlog.h - the event log (table event_log, migration 0013; Airflow's
 * `log` table and /api/v1/eventLogs): who changed what, on which DAG, run
 * and task, when and from which address.
 *
 * Writers never put a request body, a password, a token or a session id
 * in extra: the API writes the route's own fields, the CLI the command
 * with every option value but a few harmless ones masked.
 */
#ifndef UPDRAFT_EVENTLOG_H
#define UPDRAFT_EVENTLOG_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "core/db.h"
#include "core/error.h"
#include "core/timeutil.h"

#define EVENTLOG_EXTRA_MAX 2048 /* bytes of extra kept (longer is cut) */

typedef struct eventlog_entry {
    const char *event; /* "api.post_dag_run", "cli_dags_trigger", "login", ... */
    const char *dag_id, *task_id, *run_id; /* NULL = none */
    int map_index;                         /* -2 = none */
    int try_number;                        /* 0 = none */
    ts_us_t execution_date;                /* TS_NONE = none */
    const char *owner;                     /* username (or OS user for the CLI) */
    const char *owner_display_name;
    const char *address; /* client address, NULL for the CLI */
    const char *extra;
} eventlog_entry_t;

/* Appends one entry. 0, UPDRAFT_EDB. */
int eventlog_add(db_t *db, const eventlog_entry_t *e, char *err, size_t errlen);

/* The filters of GET /api/v1/eventLogs; NULL/-1/TS_NONE members do not filter. */
typedef struct eventlog_filter {
    const char *dag_id, *task_id, *run_id, *event, *owner;
    int map_index;  /* -2: any */
    int try_number; /* 0: any */
    ts_us_t before, after;
    const char *included_events; /* comma-separated */
    const char *excluded_events; /* comma-separated */
} eventlog_filter_t;

/*
 * Entries as Airflow's EventLog objects (event_log_id, when, dag_id,
 * task_id, run_id, map_index, try_number, event, execution_date, owner,
 * extra), ordered by order_by (NULL: "event_log_id"; event_log_id, when,
 * dag_id, task_id, run_id, event, owner, execution_date, with '-' for
 * descending; else UPDRAFT_EINVALID), limit/offset; *total: how many
 * match. *out is a JSON array.
 */
int eventlog_list(db_t *db, const eventlog_filter_t *f, const char *order_by, long limit,
                  long offset, cJSON **out, long *total, char *err, size_t errlen);

/* One entry by id, as eventlog_list shows it. */
int eventlog_get(db_t *db, int64_t id, cJSON **out, char *err, size_t errlen);

#endif
