/*
 * eventlog.c - the event log table (see eventlog.h).
 *
 * The list's filters are one fixed statement: each filter is a parameter
 * that matches everything when NULL, so that a request's filters never
 * change the SQL text; only the ORDER BY column varies, chosen from the
 * table below, never taken from the caller's text.
 */
#include "store/eventlog.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/errbuf.h"
#include "core/utf8.h"
#include "store/result.h"

#define US(col) STORE_US_COL(col)

static const char SQL_ADD[] =
    "INSERT INTO event_log (event, dag_id, task_id, run_id, map_index, try_number,"
    " execution_date, owner, owner_display_name, address, extra)"
    " VALUES ($1, $2, $3, $4, $5::integer, $6::integer,"
    " $7::timestamptz, $8, $9, $10, $11)";

/* extra cut to EVENTLOG_EXTRA_MAX bytes at a character boundary; NULL when out of memory. */
static char *cut_extra(const char *extra)
{
    size_t n = strlen(extra);
    char *out;

    if (n > EVENTLOG_EXTRA_MAX)
        n = EVENTLOG_EXTRA_MAX;
    n = utf8_valid_prefix((const unsigned char *)extra, n);
    if (!(out = malloc(n + 1)))
        return NULL;
    memcpy(out, extra, n);
    out[n] = '\0';
    return out;
}

int eventlog_add(db_t *db, const eventlog_entry_t *e, char *err, size_t errlen)
{
    char mi[16], tn[16], ed[TS_ISO_LEN], *extra = NULL;
    long n;

    if (!e->event || !*e->event) {
        errbuf_set(err, errlen, "an event log entry needs an event");
        return UPDRAFT_EINVALID;
    }
    if (e->extra && !(extra = cut_extra(e->extra)))
        return store_out_of_memory(err, errlen);
    snprintf(mi, sizeof(mi), "%d", e->map_index);
    snprintf(tn, sizeof(tn), "%d", e->try_number);
    const char *p[] = {e->event,
                       e->dag_id,
                       e->task_id,
                       e->run_id,
                       e->map_index == -2 ? NULL : mi,
                       e->try_number == 0 ? NULL : tn,
                       e->execution_date == TS_NONE ? NULL : ts_format_iso(e->execution_date, ed),
                       e->owner,
                       e->owner_display_name,
                       e->address,
                       extra};
    n = db_exec(db, "eventlog_add", SQL_ADD, 11, p);
    free(extra);
    if (n < 0)
        return store_db_failed(db, err, errlen);
    return 0;
}

/* ---- reads ------------------------------------------------------------------ */

#define EVENT_SELECT                                                                               \
    "SELECT id, " US("dttm") ", event, dag_id, task_id, run_id, map_index, try_number, " US(       \
        "execution_date") ", owner, extra FROM event_log"

#define EVENT_WHERE                                                                                \
    " WHERE ($1::text IS NULL OR dag_id = $1) AND ($2::text IS NULL OR task_id = $2)"              \
    " AND ($3::text IS NULL OR run_id = $3) AND ($4::text IS NULL OR event = $4)"                  \
    " AND ($5::text IS NULL OR owner = $5) AND ($6::integer IS NULL OR map_index = $6)"            \
    " AND ($7::integer IS NULL OR try_number = $7)"                                                \
    " AND ($8::timestamptz IS NULL OR dttm < $8::timestamptz)"                                     \
    " AND ($9::timestamptz IS NULL OR dttm > $9::timestamptz)"                                     \
    " AND ($10::text IS NULL OR event = ANY (string_to_array($10, ',')))"                          \
    " AND ($11::text IS NULL OR NOT (event = ANY (string_to_array($11, ','))))"

#define FILTER_PARAMS 11

static const struct {
    const char *name, *col;
} event_orders[] = {
    {"event_log_id", "id"}, {"when", "dttm"},
    {"dag_id", "dag_id"},   {"task_id", "task_id"},
    {"run_id", "run_id"},   {"event", "event"},
    {"owner", "owner"},     {"execution_date", "execution_date"},
};

/* A text column as a string, SQL NULL as null. */
static bool add_text(cJSON *o, const char *name, const PGresult *r, int i, int col)
{
    const char *s = db_get_str(r, i, col);
    return (s ? cJSON_AddStringToObject(o, name, s) : cJSON_AddNullToObject(o, name)) != NULL;
}

/* An integer column as a number, SQL NULL as null. */
static bool add_int(cJSON *o, const char *name, const PGresult *r, int i, int col)
{
    if (PQgetisnull(r, i, col))
        return cJSON_AddNullToObject(o, name) != NULL;
    return cJSON_AddNumberToObject(o, name, db_get_int(r, i, col)) != NULL;
}

/* One EVENT_SELECT row as Airflow's EventLog; NULL when out of memory. */
static cJSON *event_json(const PGresult *r, int i)
{
    cJSON *o = cJSON_CreateObject();
    bool ok = o && cJSON_AddNumberToObject(o, "event_log_id", (double)db_get_i64(r, i, 0)) &&
              store_json_add_ts(o, "when", store_get_ts(r, i, 1)) &&
              add_text(o, "event", r, i, 2) && add_text(o, "dag_id", r, i, 3) &&
              add_text(o, "task_id", r, i, 4) && add_text(o, "run_id", r, i, 5) &&
              add_int(o, "map_index", r, i, 6) && add_int(o, "try_number", r, i, 7) &&
              store_json_add_ts(o, "execution_date", store_get_ts(r, i, 8)) &&
              add_text(o, "owner", r, i, 9) && add_text(o, "extra", r, i, 10);

    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* The column order_by names ('-' first: descending); NULL when it names none. */
static const char *order_column(const char *order_by, bool *desc)
{
    const char *name = order_by ? order_by : "event_log_id";

    *desc = name[0] == '-';
    for (size_t i = 0; i < sizeof(event_orders) / sizeof(event_orders[0]); i++)
        if (strcmp(name + *desc, event_orders[i].name) == 0)
            return event_orders[i].col;
    return NULL;
}

int eventlog_list(db_t *db, const eventlog_filter_t *f, const char *order_by, long limit,
                  long offset, cJSON **out, long *total, char *err, size_t errlen)
{
    char sql[2048], mi[16], tn[16], before[TS_ISO_LEN], after[TS_ISO_LEN], lb[24], ob[24];
    const char *col;
    bool desc;
    PGresult *r;

    *out = NULL;
    *total = 0;
    if (!(col = order_column(order_by, &desc))) {
        errbuf_set(err, errlen, "cannot order the event log by \"%.64s\"", order_by);
        return UPDRAFT_EINVALID;
    }
    snprintf(mi, sizeof(mi), "%d", f->map_index);
    snprintf(tn, sizeof(tn), "%d", f->try_number);
    snprintf(lb, sizeof(lb), "%ld", limit);
    snprintf(ob, sizeof(ob), "%ld", offset > 0 ? offset : 0);
    const char *p[FILTER_PARAMS + 2] = {
        f->dag_id,
        f->task_id,
        f->run_id,
        f->event,
        f->owner,
        f->map_index == -2 ? NULL : mi,
        f->try_number == 0 ? NULL : tn,
        f->before == TS_NONE ? NULL : ts_format_iso(f->before, before),
        f->after == TS_NONE ? NULL : ts_format_iso(f->after, after),
        f->included_events && *f->included_events ? f->included_events : NULL,
        f->excluded_events && *f->excluded_events ? f->excluded_events : NULL,
        limit < 0 ? NULL : lb,
        ob};
    /* col is one of the constants above, never the caller's text. */
    snprintf(sql, sizeof(sql),
             EVENT_SELECT EVENT_WHERE " ORDER BY %s %s NULLS LAST, id %s"
                                      " LIMIT $12::bigint OFFSET $13::bigint",
             col, desc ? "DESC" : "ASC", desc ? "DESC" : "ASC");
    if (store_query_rows(db, NULL, sql, FILTER_PARAMS + 2, p, &r) < 0)
        return store_db_failed(db, err, errlen);
    *out = store_json_rows(r, event_json);
    PQclear(r);
    if (!*out)
        return store_out_of_memory(err, errlen);
    if (store_query_rows(db, "eventlog_count", "SELECT count(*) FROM event_log" EVENT_WHERE,
                         FILTER_PARAMS, p, &r) < 0) {
        cJSON_Delete(*out);
        *out = NULL;
        return store_db_failed(db, err, errlen);
    }
    *total = (long)db_get_i64(r, 0, 0);
    PQclear(r);
    return 0;
}

int eventlog_get(db_t *db, int64_t id, cJSON **out, char *err, size_t errlen)
{
    char ids[24];
    PGresult *r;

    *out = NULL;
    snprintf(ids, sizeof(ids), "%" PRId64, id);
    const char *p[] = {ids};
    if (store_query_rows(db, "eventlog_get", EVENT_SELECT " WHERE id = $1::bigint", 1, p, &r) < 0)
        return store_db_failed(db, err, errlen);
    if (PQntuples(r) == 0) {
        PQclear(r);
        return UPDRAFT_ENOTFOUND;
    }
    *out = event_json(r, 0);
    PQclear(r);
    return *out ? 0 : store_out_of_memory(err, errlen);
}
