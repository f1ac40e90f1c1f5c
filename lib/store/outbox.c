/*
 * outbox.c - the alert outbox's statements (see outbox.h): callback events,
 * alert deliveries, SLA misses and retention. Statements are prepared once
 * per connection by name.
 *
 * Times that decide a delivery's fate are clock_timestamp(), not now(): a
 * sender's transaction may be long, and a lease or a retry delay counts
 * from when the statement runs. Delivery states live in alert_delivery
 * (migration 0010).
 */
#include "store/outbox.h"
#include "store/result.h"
#include "core/pgarray.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define US(col) STORE_US_COL(col)

/* ---- intake: events to deliveries ----------------------------------------- */

static const char SQL_TAKE_EVENTS[] =
    "SELECT e.id, e.kind, e.task_id, dr.dag_version_id"
    "  FROM callback_event e JOIN dag_run dr ON dr.id = e.dag_run_id"
    " WHERE e.processed_at IS NULL"
    " ORDER BY e.id LIMIT $1::int"
    "   FOR UPDATE OF e SKIP LOCKED";

int outbox_take_events(db_t *db, int max, PGresult **out)
{
    char lim[16];
    snprintf(lim, sizeof(lim), "%d", max);
    const char *p[] = {lim};
    return store_query_rows(db, "outbox_take_events", SQL_TAKE_EVENTS, 1, p, out);
}

static const char SQL_ADD_DELIVERIES[] =
    "INSERT INTO alert_delivery (event_id, conn_id, kind, text, channel)"
    " SELECT x.event_id, x.conn_id, x.kind, x.text, x.channel"
    "   FROM jsonb_to_recordset($1::jsonb)"
    "        AS x(event_id bigint, conn_id text, kind text, text text, channel text)"
    " ON CONFLICT (event_id, conn_id) DO NOTHING";

int outbox_add_deliveries(db_t *db, const char *rows_json)
{
    const char *p[] = {rows_json};
    return db_exec(db, "outbox_add_deliveries", SQL_ADD_DELIVERIES, 1, p) < 0 ? UPDRAFT_EDB
                                                                              : UPDRAFT_OK;
}

static const char SQL_MARK_PROCESSED[] =
    "UPDATE callback_event SET processed_at = clock_timestamp() WHERE id = ANY($1::bigint[])";

int outbox_mark_processed(db_t *db, const int64_t *ids, size_t n)
{
    char *arr = pgarray_int64(ids, n);
    if (!arr)
        return UPDRAFT_ENOMEM;
    const char *p[] = {arr};
    long rows = db_exec(db, "outbox_mark_processed", SQL_MARK_PROCESSED, 1, p);
    free(arr);
    return rows < 0 ? UPDRAFT_EDB : UPDRAFT_OK;
}

/* The log is the end of the try's last 64 chunks, so that a long log costs
 * no more than that to read. */
static const char SQL_EVENT[] =
    "SELECT e.kind, e.dag_id, e.run_id, e.task_id, e.map_index, e.try_number, e.max_tries,"
    "       e.hostname, e.duration, " US("dr.logical_date") ", " US(
        "dr.data_interval_start") ","
                                  "       " US(
                                      "dr.data_interval_end") ", dr.conf::text, dr.id,"
                                                              "       CASE WHEN e.ti_id IS NOT "
                                                              "NULL AND e.kind <> 'sla_miss' THEN "
                                                              "coalesce(("
                                                              "         SELECT "
                                                              "right(string_agg(l.data, '' ORDER "
                                                              "BY l.id), $2::int) FROM ("
                                                              "           SELECT id, data FROM "
                                                              "task_log WHERE ti_id = e.ti_id AND "
                                                              "try_number = e.try_number"
                                                              "            ORDER BY id DESC LIMIT "
                                                              "64) l), '') END,"
                                                              "       (SELECT " US(
                                                                  "m.deadline") " FROM sla_miss m"
                                                                                "         WHERE "
                                                                                "e.kind = "
                                                                                "'sla_miss' AND "
                                                                                "m.dag_run_id = "
                                                                                "e.dag_run_id AND "
                                                                                "m.task_id = "
                                                                                "e.task_id)"
                                                                                "  FROM "
                                                                                "callback_event e "
                                                                                "JOIN dag_run dr "
                                                                                "ON dr.id = "
                                                                                "e.dag_run_id"
                                                                                " WHERE e.id = "
                                                                                "$1::bigint";

int outbox_event_get(db_t *db, int64_t event_id, int log_fetch, PGresult **out)
{
    char id[24], fetch[16];
    snprintf(id, sizeof(id), "%" PRId64, event_id);
    snprintf(fetch, sizeof(fetch), "%d", log_fetch);
    const char *p[] = {id, fetch};
    if (store_query_rows(db, "outbox_event", SQL_EVENT, 2, p, out) < 0)
        return UPDRAFT_EDB;
    if (PQntuples(*out) == 0) {
        PQclear(*out);
        *out = NULL;
        return UPDRAFT_ENOTFOUND;
    }
    return UPDRAFT_OK;
}

/* ---- SLA misses --------------------------------------------------------------- */

static const char SQL_CLOCK[] = "SELECT clock_timestamp()::text";

int outbox_clock(db_t *db, char **now)
{
    *now = NULL;
    PGresult *r = db_query(db, "outbox_clock", SQL_CLOCK, 0, NULL);
    if (!r)
        return UPDRAFT_EDB;
    *now = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return *now ? UPDRAFT_OK : UPDRAFT_ENOMEM;
}

/*
 * Two index ranges (dag_run_sla_window, dag_run_sla_queued) find the runs
 * that changed the answer since the last check: those whose deadline
 * passed since, and those created since (by catchup or after an outage).
 */
static const char SQL_SLA_MISSES[] =
    "WITH s AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS s(dag_id text, task_id text,"
    "                                                           sla int)),"
    " lo AS (SELECT coalesce($2::timestamptz - interval '60 seconds',"
    "                        clock_timestamp() - make_interval(secs => $3::int)) AS since),"
    " c AS ("
    "  SELECT dr.id AS dag_run_id, dr.dag_id, dr.run_id, s.task_id,"
    "         dr.data_interval_end + make_interval(secs => s.sla) AS deadline"
    "    FROM s CROSS JOIN lo"
    "    JOIN dag_run dr ON dr.dag_id = s.dag_id AND dr.run_type = 'scheduled'"
    "   WHERE (dr.data_interval_end > lo.since - make_interval(secs => s.sla)"
    "          OR dr.queued_at > lo.since)"
    "     AND dr.data_interval_end > clock_timestamp() - make_interval(secs => $3::int + s.sla)"
    "     AND dr.data_interval_end <= clock_timestamp() - make_interval(secs => s.sla)"
    "     AND NOT EXISTS (SELECT 1 FROM sla_miss m"
    "                      WHERE m.dag_run_id = dr.id AND m.task_id = s.task_id)"
    "     AND NOT (EXISTS (SELECT 1 FROM task_instance ti"
    "                       WHERE ti.dag_run_id = dr.id AND ti.task_id = s.task_id)"
    "              AND NOT EXISTS (SELECT 1 FROM task_instance ti"
    "                       WHERE ti.dag_run_id = dr.id AND ti.task_id = s.task_id"
    "                         AND NOT (ti.state IN ('skipped', 'removed')"
    "                                  OR (ti.state = 'success' AND ti.end_date <="
    "                                      dr.data_interval_end + make_interval(secs => s.sla)))))"
    " ),"
    " ins AS (INSERT INTO sla_miss (dag_run_id, task_id, dag_id, run_id, deadline)"
    "         SELECT dag_run_id, task_id, dag_id, run_id, deadline FROM c"
    "         ON CONFLICT DO NOTHING RETURNING *)"
    "INSERT INTO callback_event (kind, dag_run_id, dag_id, run_id, task_id)"
    " SELECT 'sla_miss', dag_run_id, dag_id, run_id, task_id FROM ins"
    " RETURNING dag_id, run_id, task_id";

int outbox_record_sla_misses(db_t *db, const char *tasks_json, const char *since, int lookback_sec,
                             PGresult **out)
{
    char lb[16];
    snprintf(lb, sizeof(lb), "%d", lookback_sec);
    const char *p[] = {tasks_json, since, lb};
    return store_query_rows(db, "outbox_sla_misses", SQL_SLA_MISSES, 3, p, out);
}

/* ---- deliveries -------------------------------------------------------------- */

static const char SQL_GIVE_UP[] =
    "UPDATE alert_delivery SET state = 'failed', finished_at = clock_timestamp(), leased_by = NULL,"
    "       last_error = left('gave up after ' || $1 || ' s and ' || attempts || ' attempts: '"
    "                         || coalesce(last_error, 'no answer recorded'), 1000)"
    " WHERE state IN ('pending', 'sending') AND next_attempt_at <= clock_timestamp()"
    "   AND created_at <= clock_timestamp() - make_interval(secs => $1::int)"
    " RETURNING id, conn_id, attempts";

int outbox_give_up(db_t *db, int give_up_after_sec, PGresult **out)
{
    char give[16];
    snprintf(give, sizeof(give), "%d", give_up_after_sec);
    const char *p[] = {give};
    return store_query_rows(db, "outbox_give_up", SQL_GIVE_UP, 1, p, out);
}

static const char SQL_CLAIM[] =
    "UPDATE alert_delivery d SET state = 'sending', attempts = d.attempts + 1, leased_by = $1,"
    "       next_attempt_at = clock_timestamp() + make_interval(secs => $2::int)"
    "  FROM (SELECT id FROM alert_delivery"
    "         WHERE state IN ('pending', 'sending') AND next_attempt_at <= clock_timestamp()"
    "         ORDER BY next_attempt_at, id LIMIT $3::int FOR UPDATE SKIP LOCKED) c"
    " WHERE d.id = c.id"
    " RETURNING d.id, d.event_id, d.conn_id, d.kind, d.text, d.channel, d.attempts, d.body";

int outbox_claim(db_t *db, const char *owner, int lease_sec, size_t max, PGresult **out)
{
    char lease[16], lim[24];
    snprintf(lease, sizeof(lease), "%d", lease_sec);
    snprintf(lim, sizeof(lim), "%zu", max);
    const char *p[] = {owner, lease, lim};
    return store_query_rows(db, "outbox_claim", SQL_CLAIM, 3, p, out);
}

/*
 * $3 outcome sent|retry|failed, $4 retry delay (ms), $5 give_up_after_sec,
 * $6 HTTP status or NULL, $7 error, $8 body to keep (NULL: keep the one
 * stored), $9 the attempt.
 */
static const char SQL_RESULT[] =
    "WITH x AS (SELECT $3::text AS outcome,"
    "                  clock_timestamp() + make_interval(secs => $4::float8 / 1000) AS next_at)"
    "UPDATE alert_delivery d SET"
    "  state = CASE WHEN x.outcome = 'sent' THEN 'delivered'"
    "               WHEN x.outcome = 'failed'"
    "                 OR x.next_at > d.created_at + make_interval(secs => $5::int) THEN 'failed'"
    "               ELSE 'pending' END,"
    "  next_attempt_at = CASE WHEN x.outcome = 'retry' THEN x.next_at ELSE d.next_attempt_at END,"
    "  finished_at = CASE WHEN x.outcome <> 'retry'"
    "                       OR x.next_at > d.created_at + make_interval(secs => $5::int)"
    "                     THEN clock_timestamp() END,"
    "  last_status = $6::int,"
    "  last_error = CASE WHEN x.outcome = 'sent' THEN NULL"
    "                    WHEN x.outcome = 'retry'"
    "                     AND x.next_at > d.created_at + make_interval(secs => $5::int)"
    "                    THEN left('gave up after ' || $5 || ' s and ' || d.attempts"
    "                              || ' attempts: ' || $7, 1000)"
    "                    ELSE left($7, 1000) END,"
    "  body = coalesce(d.body, $8),"
    "  leased_by = NULL"
    "  FROM x"
    " WHERE d.id = $1::bigint AND d.leased_by = $2 AND d.attempts = $9::int"
    "   AND d.state = 'sending'"
    " RETURNING d.state";

int outbox_write_result(db_t *db, int64_t id, const char *owner, int attempts,
                        int give_up_after_sec, const outbox_result_t *res, outbox_state_t *state)
{
    char idb[24], delay[16], give[16], status[24], att[16];
    snprintf(idb, sizeof(idb), "%" PRId64, id);
    snprintf(delay, sizeof(delay), "%d", res->delay_ms);
    snprintf(give, sizeof(give), "%d", give_up_after_sec);
    snprintf(status, sizeof(status), "%ld", res->status);
    snprintf(att, sizeof(att), "%d", attempts);
    const char *p[] = {idb,        owner,     res->outcome,
                       delay,      give,      res->status > 0 ? status : NULL,
                       res->error, res->body, att};
    PGresult *r = db_query(db, "outbox_result", SQL_RESULT, 9, p);
    if (!r)
        return UPDRAFT_EDB;
    const char *s = PQntuples(r) > 0 ? db_get_str(r, 0, 0) : NULL;
    *state = !s                            ? OUTBOX_TAKEN_OVER
             : strcmp(s, "delivered") == 0 ? OUTBOX_DELIVERED
             : strcmp(s, "pending") == 0   ? OUTBOX_PENDING
                                           : OUTBOX_FAILED;
    PQclear(r);
    return UPDRAFT_OK;
}

static const char SQL_RELEASE[] =
    "UPDATE alert_delivery SET state = 'pending', leased_by = NULL,"
    "       next_attempt_at = clock_timestamp()"
    " WHERE id = $1::bigint AND leased_by = $2 AND attempts = $3::int AND state = 'sending'";

int outbox_release(db_t *db, int64_t id, const char *owner, int attempts)
{
    char idb[24], att[16];
    snprintf(idb, sizeof(idb), "%" PRId64, id);
    snprintf(att, sizeof(att), "%d", attempts);
    const char *p[] = {idb, owner, att};
    return db_exec(db, "outbox_release", SQL_RELEASE, 3, p) < 0 ? UPDRAFT_EDB : UPDRAFT_OK;
}

static const char SQL_NEXT_DUE[] =
    "SELECT (extract(epoch FROM min(next_attempt_at) - clock_timestamp())"
    " * 1000)::float8 FROM alert_delivery"
    " WHERE state IN ('pending', 'sending')";

int outbox_next_due_ms(db_t *db, double *ms)
{
    PGresult *r = db_query(db, "outbox_next_due", SQL_NEXT_DUE, 0, NULL);
    if (!r)
        return UPDRAFT_EDB;
    *ms = PQgetisnull(r, 0, 0) ? 1e9 : strtod(PQgetvalue(r, 0, 0), NULL);
    PQclear(r);
    return UPDRAFT_OK;
}

/* ---- retention --------------------------------------------------------------- */

#define STR_(x) #x
#define STR(x) STR_(x)

/* Reads only the old rows (callback_event_created index); the deliveries
 * go with their event (ON DELETE CASCADE). */
static const char SQL_PRUNE[] =
    "DELETE FROM callback_event WHERE id IN (SELECT e.id FROM callback_event e"
    " WHERE e.created_at < now() - make_interval(days => $1::int)"
    "   AND e.processed_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM"
    "   alert_delivery a WHERE a.event_id = e.id"
    "   AND a.state IN ('pending', 'sending'))"
    " ORDER BY e.created_at LIMIT " STR(OUTBOX_PRUNE_BATCH) ")";

int outbox_prune(db_t *db, int days, long *deleted)
{
    char d[16];
    snprintf(d, sizeof(d), "%d", days);
    const char *p[] = {d};
    *deleted = 0;
    for (int round = 0; round < 100; round++) {
        long n = db_exec(db, "outbox_prune", SQL_PRUNE, 1, p);
        if (n < 0)
            return UPDRAFT_EDB;
        *deleted += n;
        if (n < OUTBOX_PRUNE_BATCH)
            break;
    }
    return UPDRAFT_OK;
}
