/*
 * alerter.c - see alerter.h.
 *
 * Delivery states live in alert_delivery (migration 0010). A delivery is
 * claimed by one statement that moves it to 'sending', counts the attempt
 * and sets next_attempt_at to the end of the lease; the attempt's result
 * is written by one guarded statement. A sender that dies leaves its
 * deliveries 'sending' until the lease ends, then any sender takes them
 * again: an attempt whose answer was received but not recorded is the one
 * case where an alert is sent twice.
 *
 * Webhook URLs are secrets. They are looked up for each attempt, live in
 * the request only, and never reach a log line or the database; errors
 * are scrubbed of them before either.
 *
 * The outbox's statements are store/outbox.c's; the version cache keeps
 * its own read of dag_version here.
 */
#include "scheduler/alerter.h"
#include "scheduler/wake.h"
#include "store/channels.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sched/alerts.h"
#include "store/dagver.h"
#include "core/db.h"
#include "core/error.h"
#include "core/log.h"
#include "core/secrets.h"
#include "core/timeutil.h"
#include "store/dags.h"
#include "store/outbox.h"
#include "store/tasklog.h"

#define INTAKE_BATCH 500
#define VCACHE_SIZE 128 /* DAG versions kept for their alert settings */
#define STOP_GRACE_MS 5000
#define INTAKE_GAP_US 50000 /* notifications coalesce: one intake per 50 ms at most */

/* ---- deliveries in flight ----------------------------------------------- */

typedef struct flight {
    int64_t id;
    int attempts;
    char *conn_id;
    char *what;          /* "task_failure dag_id=x task_id=y" for log lines */
    char *body_to_store; /* the body built by this attempt, NULL when it was stored before */
    char *url;           /* only to scrub errors; wiped on free */
    alert_request_t *req;
    bool done; /* answered (or failed to start): result waits to be written */
    alert_result_t res;
    int64_t drop_at_us; /* monotonic: stop trying to write the result after the lease */
} flight_t;

typedef struct alerter {
    alerter_args_t *a;
    const config_t *cfg;
    db_t *db;
    CURLM *multi;
    secrets_keyring_t *ring;
    alert_policy_t policy;
    char owner[320]; /* leased_by: hostname:pid */
    unsigned seed;
    int lease_sec;
    flight_t *fl;
    size_t nfl;
    dagver_cache_t *versions; /* the DAG versions' alert settings (DAGVER_ALERTS) */
    bool notified;
    int64_t next_sweep_us, next_sla_us; /* monotonic */
    int64_t next_prune_us;              /* monotonic: retention of processed events */
    int64_t next_log_prune_us;          /* monotonic: retention of task logs */
    int64_t next_intake_us;             /* monotonic: the earliest notified intake */
    int64_t next_due_us;                /* monotonic: the next delivery due, 0 = look now */
    char *sla_since;                    /* database time of the last SLA check; NULL = never */
} alerter_t;

static void flight_free(flight_t *f)
{
    free(f->conn_id);
    free(f->what);
    free(f->body_to_store);
    secrets_free_str(f->url);
    alerts_request_free(f->req);
    memset(f, 0, sizeof(*f));
}

/* ---- small helpers ------------------------------------------------------ */

static void on_notify(const char *payload, void *arg)
{
    (void)payload;
    ((alerter_t *)arg)->notified = true;
}

static char *i64s(int64_t v, char buf[24])
{
    snprintf(buf, 24, "%" PRId64, v);
    return buf;
}

/* ---- the alert settings of DAG versions ---------------------------------- */

/*
 * The cached version version_id (loaded on a miss), whose document holds
 * the alert settings: the DAG's "alerts", each task's "alerts" and
 * "sla_sec". NULL with *dberr on a database error; NULL alone when the
 * version cannot be read (it has no alerts then).
 */
static const dagver_t *version_get(alerter_t *s, int64_t version_id, bool *dberr)
{
    dagver_t *v = NULL;
    int rc = dagver_get(s->versions, s->db, version_id, &v);
    *dberr = rc == UPDRAFT_EDB;
    return rc == 0 ? v : NULL;
}

/* ---- intake: events to deliveries --------------------------------------- */

/* Adds the deliveries of one event to rows. false on OOM. */
static bool event_rows(alerter_t *s, cJSON *rows, int64_t event_id, alert_event_kind_t kind,
                       const char *task_id, const dagver_t *e)
{
    const cJSON *dag_alerts = NULL, *task_alerts = NULL;
    if (e) {
        dag_alerts = cJSON_GetObjectItemCaseSensitive(dagver_doc(e), "alerts");
        if (task_id)
            task_alerts = cJSON_GetObjectItemCaseSensitive(dagver_task_spec(e, task_id), "alerts");
    }
    cJSON *sel = alerts_select(dag_alerts, task_alerts, kind, s->cfg);
    if (!sel)
        return false;
    cJSON *it;
    bool ok = true;
    char id[24];
    i64s(event_id, id); /* 64-bit ids travel as strings in JSON */
    cJSON_ArrayForEach(it, sel)
    {
        if (!cJSON_AddStringToObject(it, "event_id", id)) {
            ok = false;
            break;
        }
    }
    while (ok && sel->child) {
        cJSON *item = cJSON_DetachItemViaPointer(sel, sel->child);
        cJSON_AddItemToArray(rows, item);
    }
    cJSON_Delete(sel);
    return ok;
}

/*
 * One batch: events to deliveries and processed, in one transaction.
 * Returns the number of events taken (*added += deliveries written), or
 * -1 on a database error.
 */
static int intake_batch(alerter_t *s, size_t *added)
{
    char *json = NULL;
    int64_t *idv = NULL;
    cJSON *rows = NULL;
    PGresult *r = NULL;
    int n = -1;

    if (db_begin(s->db) < 0)
        return -1;
    if (outbox_take_events(s->db, INTAKE_BATCH, &r) < 0)
        goto out;
    int rows_n = PQntuples(r);
    if (rows_n == 0) {
        n = db_commit(s->db) < 0 ? -1 : 0;
        goto out;
    }
    idv = calloc((size_t)rows_n, sizeof(*idv));
    rows = cJSON_CreateArray();
    if (!idv || !rows) {
        log_error("out of memory");
        goto out;
    }
    for (int i = 0; i < rows_n; i++) {
        alert_event_kind_t kind;
        idv[i] = db_get_i64(r, i, 0);
        if (alerts_kind_parse(db_get_str(r, i, 1), &kind) < 0 || kind == ALERT_EV_TASK_SKIPPED)
            continue;
        const dagver_t *e = NULL;
        if (db_get_str(r, i, 3)) {
            bool dberr;
            e = version_get(s, db_get_i64(r, i, 3), &dberr);
            if (dberr)
                goto out;
        }
        if (!event_rows(s, rows, idv[i], kind, db_get_str(r, i, 2), e)) {
            log_error("out of memory");
            goto out;
        }
    }
    int nrows = cJSON_GetArraySize(rows);
    if (nrows > 0) {
        json = cJSON_PrintUnformatted(rows);
        if (!json || outbox_add_deliveries(s->db, json) < 0)
            goto out;
    }
    if (outbox_mark_processed(s->db, idv, (size_t)rows_n) < 0)
        goto out;
    if (db_commit(s->db) < 0)
        goto out;
    if (nrows > 0)
        log_debug("callback events taken events=%d deliveries=%d", rows_n, nrows);
    *added += (size_t)nrows;
    n = rows_n;
out:
    if (n < 0)
        db_rollback(s->db);
    PQclear(r);
    free(idv);
    free(json);
    cJSON_Delete(rows);
    return n;
}

static int intake(alerter_t *s, size_t *added)
{
    int n;
    do {
        n = intake_batch(s, added);
    } while (n == INTAKE_BATCH && !*s->a->stop);
    return n < 0 ? -1 : 0;
}

/* ---- SLA misses --------------------------------------------------------- */

/*
 * Records the SLA misses (outbox_record_sla_misses) of the tasks with an
 * sla in the active scheduled DAGs, from their versions' settings. Each
 * check's database time is the next one's lower bound.
 */
static int sla_check(alerter_t *s)
{
    PGresult *r = NULL;
    cJSON *tasks = NULL;
    char *json = NULL, *now = NULL;
    int rc = -1;
    if (dags_list_sla_candidates(s->db, &r) < 0)
        return -1;
    tasks = cJSON_CreateArray();
    if (!tasks)
        goto out;
    for (int i = 0; i < PQntuples(r); i++) {
        bool dberr;
        const dagver_t *e = version_get(s, db_get_i64(r, i, 1), &dberr);
        if (dberr)
            goto out;
        const cJSON *t,
            *specs = e ? cJSON_GetObjectItemCaseSensitive(dagver_doc(e), "tasks") : NULL;
        cJSON_ArrayForEach(t, specs)
        {
            const cJSON *sla = cJSON_GetObjectItemCaseSensitive(t, "sla_sec");
            if (!cJSON_IsNumber(sla) || sla->valuedouble <= 0)
                continue;
            cJSON *o = cJSON_CreateObject();
            if (!o || !cJSON_AddStringToObject(o, "dag_id", db_get_str(r, i, 0)) ||
                !cJSON_AddStringToObject(o, "task_id", t->string) ||
                !cJSON_AddNumberToObject(o, "sla", sla->valuedouble) ||
                !cJSON_AddItemToArray(tasks, o)) {
                cJSON_Delete(o);
                goto out;
            }
        }
    }
    /* the check's own time becomes the next check's lower bound */
    if (outbox_clock(s->db, &now) == UPDRAFT_EDB)
        goto out;
    if (cJSON_GetArraySize(tasks) > 0) {
        PGresult *m = NULL;
        json = cJSON_PrintUnformatted(tasks);
        if (!json || outbox_record_sla_misses(s->db, json, s->sla_since,
                                              s->cfg->alerts.sla_lookback_sec, &m) < 0)
            goto out;
        for (int i = 0; i < PQntuples(m); i++)
            log_info("sla missed dag_id=%s run_id=%s task_id=%s", db_get_str(m, i, 0),
                     db_get_str(m, i, 1), db_get_str(m, i, 2));
        PQclear(m);
    }
    if (now) {
        free(s->sla_since);
        s->sla_since = now;
        now = NULL;
    }
    rc = 0;
out:
    PQclear(r);
    free(now);
    cJSON_Delete(tasks);
    free(json);
    return rc;
}

/* ---- deliveries --------------------------------------------------------- */

/* Writes a finished attempt's result. 0 written (or moot), -1 database error. */
static int write_result(alerter_t *s, flight_t *f)
{
    outbox_state_t state;
    outbox_result_t res = {.outcome = f->res.outcome == ALERT_SENT    ? "sent"
                                      : f->res.outcome == ALERT_RETRY ? "retry"
                                                                      : "failed",
                           .delay_ms = f->res.delay_ms,
                           .status = f->res.status,
                           .error = f->res.error,
                           .body = f->body_to_store};
    alerts_scrub_url(f->res.error, sizeof(f->res.error), f->url);
    if (outbox_write_result(s->db, f->id, s->owner, f->attempts, s->cfg->alerts.give_up_after_sec,
                            &res, &state) < 0)
        return -1;
    const char *what = f->what ? f->what : "-";
    if (state == OUTBOX_TAKEN_OVER)
        log_warn("alert delivery taken over before its result was written delivery_id=%" PRId64
                 " conn_id=%s attempts=%d",
                 f->id, f->conn_id, f->attempts);
    else if (state == OUTBOX_DELIVERED)
        log_info("alert delivered delivery_id=%" PRId64
                 " event=%s conn_id=%s status=%ld attempts=%d",
                 f->id, what, f->conn_id, f->res.status, f->attempts);
    else if (state == OUTBOX_PENDING)
        log_warn("alert not delivered, will retry delivery_id=%" PRId64 " event=%s conn_id=%s"
                 " attempts=%d retry_in_ms=%d error=\"%s\"",
                 f->id, what, f->conn_id, f->attempts, f->res.delay_ms, f->res.error);
    else
        log_error("alert not delivered, giving up delivery_id=%" PRId64 " event=%s conn_id=%s"
                  " attempts=%d error=\"%s\"",
                  f->id, what, f->conn_id, f->attempts, f->res.error);
    return 0;
}

/* Writes the results waiting in finished flights; frees the written ones. */
static int flush_results(alerter_t *s)
{
    int rc = 0;
    int64_t now = ts_mono_us();
    for (size_t i = 0; i < s->nfl; i++) {
        flight_t *f = &s->fl[i];
        if (!f->done)
            continue;
        if (write_result(s, f) < 0) {
            rc = -1;
            if (now < f->drop_at_us)
                continue; /* try again after the reconnect */
            log_warn("alert result lost, the delivery will be retried after its lease"
                     " delivery_id=%" PRId64 " conn_id=%s",
                     f->id, f->conn_id);
        }
        flight_free(f);
        s->fl[i] = s->fl[--s->nfl];
        i--;
        s->next_due_us = 0; /* a slot is free: look for due deliveries */
    }
    return rc;
}

/* Marks f finished without a request: a problem found before sending. */
static void finish_early(flight_t *f, alert_outcome_t outcome, int delay_ms, const char *error)
{
    f->done = true;
    memset(&f->res, 0, sizeof(f->res));
    f->res.outcome = outcome;
    f->res.delay_ms = delay_ms;
    snprintf(f->res.error, sizeof(f->res.error), "%s", error);
}

/* Builds and starts one claimed delivery (row i of r) in flight f. */
static void start_one(alerter_t *s, const PGresult *r, int i, flight_t *f)
{
    char err[512];
    alert_format_t fmt;
    alert_msg_t m;
    char *body = NULL;
    int64_t event_id = db_get_i64(r, i, 1);
    const char *kind = db_get_str(r, i, 3), *stored = db_get_str(r, i, 7);

    memset(f, 0, sizeof(*f));
    alerts_msg_init(&m);
    f->id = db_get_i64(r, i, 0);
    f->attempts = db_get_int(r, i, 6);
    f->conn_id = strdup(db_get_str(r, i, 2));
    f->drop_at_us = ts_mono_us() + (int64_t)s->lease_sec * 1000000;
    if (!f->conn_id) {
        finish_early(f, ALERT_RETRY, alerts_backoff_ms(f->attempts, 60, &s->seed), "out of memory");
        return;
    }
    int rc =
        alerts_resolve_target(s->db, s->ring, f->conn_id, kind, &f->url, &fmt, err, sizeof(err));
    if (rc < 0) {
        finish_early(f, rc == -2 ? ALERT_RETRY : ALERT_FAILED,
                     alerts_backoff_ms(f->attempts, s->policy.max_backoff_sec, &s->seed), err);
        return;
    }
    rc = alerts_load_msg(s->db, s->ring, s->cfg->webserver.base_url, event_id, db_get_str(r, i, 4),
                         db_get_str(r, i, 5), &m, err, sizeof(err));
    if (rc <= 0) {
        finish_early(f, rc == 0 ? ALERT_FAILED : ALERT_RETRY,
                     alerts_backoff_ms(f->attempts, s->policy.max_backoff_sec, &s->seed),
                     rc == 0 ? "the callback event no longer exists" : err);
        return;
    }
    {
        char what[700];
        snprintf(what, sizeof(what), "%s dag_id=%s run_id=%s%s%s", alerts_kind_name(m.kind),
                 m.dag_id ? m.dag_id : "", m.run_id ? m.run_id : "", m.task_id ? " task_id=" : "",
                 m.task_id ? m.task_id : "");
        f->what = strdup(what);
    }
    if (stored) {
        body = strdup(stored);
    } else {
        body = alerts_build_body(&m, fmt);
        f->body_to_store = body ? strdup(body) : NULL;
    }
    alerts_msg_clear(&m);
    if (!body || !f->what || (!stored && !f->body_to_store)) {
        free(body);
        finish_early(f, ALERT_RETRY, alerts_backoff_ms(f->attempts, 60, &s->seed), "out of memory");
        return;
    }
    f->req = alerts_request_new(f->url, body, s->cfg->alerts.request_timeout_sec, err, sizeof(err));
    free(body);
    if (!f->req) {
        finish_early(f, ALERT_RETRY, alerts_backoff_ms(f->attempts, 60, &s->seed), err);
        return;
    }
    if (curl_multi_add_handle(s->multi, alerts_request_handle(f->req)) != CURLM_OK) {
        alerts_request_free(f->req);
        f->req = NULL;
        finish_early(f, ALERT_RETRY, alerts_backoff_ms(f->attempts, 60, &s->seed),
                     "cannot start the HTTP request");
    }
}

/* Gives up on old deliveries, then claims and starts due ones. -1 on a database error. */
static int claim(alerter_t *s)
{
    size_t room = (size_t)s->cfg->alerts.max_in_flight - s->nfl;
    PGresult *r = NULL;
    if (room == 0)
        return 0;
    if (outbox_give_up(s->db, s->cfg->alerts.give_up_after_sec, &r) < 0)
        return -1;
    for (int i = 0; i < PQntuples(r); i++)
        log_error("alert not delivered, giving up delivery_id=%s conn_id=%s attempts=%s"
                  " error=\"no answer within alerts.give_up_after_sec\"",
                  db_get_str(r, i, 0), db_get_str(r, i, 1), db_get_str(r, i, 2));
    PQclear(r);
    r = NULL;
    if (outbox_claim(s->db, s->owner, s->lease_sec, room, &r) < 0)
        return -1;
    for (int i = 0; i < PQntuples(r) && s->nfl < (size_t)s->cfg->alerts.max_in_flight; i++)
        start_one(s, r, i, &s->fl[s->nfl++]);
    PQclear(r);
    return 0;
}

/* Collects finished transfers from the multi handle. */
static void reap_transfers(alerter_t *s)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(s->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        for (size_t i = 0; i < s->nfl; i++) {
            flight_t *f = &s->fl[i];
            if (!f->req || alerts_request_handle(f->req) != msg->easy_handle)
                continue;
            CURLcode rc = msg->data.result;
            curl_multi_remove_handle(s->multi, msg->easy_handle);
            alerts_request_result(f->req, rc, f->attempts, &s->policy, &s->seed, &f->res);
            alerts_request_free(f->req);
            f->req = NULL;
            f->done = true;
            break;
        }
    }
}

/* Milliseconds until the next delivery is due (a large value when none). */
static int64_t next_due_ms(alerter_t *s)
{
    double ms;
    if (outbox_next_due_ms(s->db, &ms) < 0)
        return 1000;
    if (ms < 0)
        return 0;
    return ms > 1e9 ? 1000000000 : (int64_t)ms + 1;
}

/* ---- the thread ---------------------------------------------------------- */

static db_t *connect_until_stop(alerter_t *s)
{
    char err[512];
    backoff_t b;
    backoff_init(&b, -1);
    backoff_set_nap(&b, wake_nap, &s->a->wake_fd);
    db_target_t t;
    config_db_target(s->cfg, &t);
    return db_open_retry(&t, &b, s->a->stop, err, sizeof(err));
}

/*
 * Retention: deletes processed events older than alerts.event_retention_days
 * (their deliveries go with them), keeping any event whose delivery is still
 * pending (outbox_prune).
 */
#define PRUNE_EVERY_US (3600LL * 1000000)
static int prune(alerter_t *s)
{
    int days = s->cfg->alerts.event_retention_days;
    long total = 0;
    if (days <= 0)
        return 0;
    if (outbox_prune(s->db, days, &total) < 0)
        return -1;
    if (total > 0)
        log_info("pruned processed callback events older than %d days count=%ld", days, total);
    return 0;
}

/*
 * Task log retention (logging.retention_days): this thread is the
 * scheduler's housekeeping, off the scheduling loop. Each pass deletes at
 * most LOG_PRUNE_BATCHES * TASKLOG_PRUNE_BATCH of the oldest rows, so a
 * pass costs the same however long the history; a backlog (retention just
 * turned on) goes over the following passes. Every scheduler prunes; two
 * at once only delete the same rows.
 */
#define LOG_PRUNE_EVERY_US (600LL * 1000000)
#define LOG_PRUNE_BATCHES 20
static int prune_logs(alerter_t *s)
{
    int days = s->cfg->logging.retention_days;
    long total = 0;
    if (days <= 0)
        return 0;
    if (tasklog_prune(s->db, days, LOG_PRUNE_BATCHES, &total) < 0)
        return -1;
    if (total > 0)
        log_info("pruned task log rows older than %d days count=%ld", days, total);
    return 0;
}

/*
 * One turn of work. -1 on a database error. Statements run only when
 * something may have changed: a notification (at most one intake per
 * INTAKE_GAP_US), the sweep and SLA timers, a delivery falling due, new
 * deliveries or a slot freed.
 */
static int turn(alerter_t *s)
{
    int64_t now = ts_mono_us();
    size_t added = 0;
    if (db_drain_notifies(s->db, on_notify, s) < 0)
        return -1;
    bool sweep = now >= s->next_sweep_us;
    if ((s->notified && now >= s->next_intake_us) || sweep) {
        s->notified = false;
        if (intake(s, &added) < 0)
            return -1;
        s->next_intake_us = now + INTAKE_GAP_US;
        if (sweep) {
            s->next_sweep_us = now + (int64_t)s->cfg->alerts.sweep_interval_sec * 1000000;
            s->next_due_us = 0;
        }
    }
    if (now >= s->next_sla_us) {
        if (sla_check(s) < 0)
            return -1;
        s->next_sla_us = now + (int64_t)s->cfg->alerts.sla_check_interval_sec * 1000000;
        /* misses are events: take them at once */
        if (intake(s, &added) < 0)
            return -1;
    }
    if (now >= s->next_prune_us) {
        if (prune(s) < 0)
            return -1;
        s->next_prune_us = now + PRUNE_EVERY_US;
    }
    if (now >= s->next_log_prune_us) {
        if (prune_logs(s) < 0)
            return -1;
        s->next_log_prune_us = now + LOG_PRUNE_EVERY_US;
    }
    if (added > 0)
        s->next_due_us = 0;
    if (flush_results(s) < 0)
        return -1;
    if (s->nfl < (size_t)s->cfg->alerts.max_in_flight && now >= s->next_due_us) {
        if (claim(s) < 0)
            return -1;
        int64_t due = next_due_ms(s);
        s->next_due_us = ts_mono_us() + due * 1000;
    }
    int running = 0;
    curl_multi_perform(s->multi, &running);
    reap_transfers(s);
    /* results of attempts that ended before starting (or at once) */
    if (flush_results(s) < 0)
        return -1;
    return 0;
}

static int wait_ms(alerter_t *s)
{
    int64_t now = ts_mono_us();
    int64_t t = s->next_sweep_us - now;
    if (s->next_sla_us - now < t)
        t = s->next_sla_us - now;
    if (s->notified && s->next_intake_us - now < t)
        t = s->next_intake_us - now;
    if (s->nfl < (size_t)s->cfg->alerts.max_in_flight && s->next_due_us - now < t)
        t = s->next_due_us - now;
    t /= 1000;
    long cm = -1;
    if (curl_multi_timeout(s->multi, &cm) == CURLM_OK && cm >= 0 && cm < t)
        t = cm;
    for (size_t i = 0; i < s->nfl; i++)
        if (s->fl[i].done)
            t = t > 200 ? 200 : t; /* a result waits to be written: retry soon */
    if (t < 0)
        t = 0;
    return t > 60000 ? 60000 : (int)t;
}

static void sleep_turn(alerter_t *s, int ms)
{
    struct curl_waitfd extra[2] = {{.fd = s->a->wake_fd, .events = CURL_WAIT_POLLIN},
                                   {.fd = db_socket(s->db), .events = CURL_WAIT_POLLIN}};
    unsigned n = extra[1].fd >= 0 ? 2 : 1;
    int numfds = 0;
    curl_multi_poll(s->multi, extra, n, ms, &numfds);
    if (extra[0].revents & CURL_WAIT_POLLIN)
        wake_drain(s->a->wake_fd);
}

/* At a stop: a few seconds for what is in flight, then release the rest. */
static void stop_flights(alerter_t *s)
{
    int64_t deadline = ts_mono_us() + (int64_t)STOP_GRACE_MS * 1000;
    for (;;) {
        int running = 0;
        curl_multi_perform(s->multi, &running);
        reap_transfers(s);
        if (db_ok(s->db))
            flush_results(s);
        bool busy = false;
        for (size_t i = 0; i < s->nfl; i++)
            busy = busy || s->fl[i].req;
        if (!busy || ts_mono_us() >= deadline)
            break;
        int numfds;
        curl_multi_poll(s->multi, NULL, 0, 100, &numfds);
    }
    for (size_t i = 0; i < s->nfl; i++) {
        flight_t *f = &s->fl[i];
        if (f->req) {
            curl_multi_remove_handle(s->multi, alerts_request_handle(f->req));
            if (db_ok(s->db))
                outbox_release(s->db, f->id, s->owner, f->attempts);
        }
        flight_free(f);
    }
    s->nfl = 0;
}

void *alerter_thread(void *arg)
{
    alerter_args_t *a = arg;
    alerter_t s;
    char err[256];
    backoff_t retry;

    backoff_init(&retry, -1);
    memset(&s, 0, sizeof(s));
    s.a = a;
    s.cfg = a->cfg;
    s.policy.max_retry_after_sec = a->cfg->alerts.max_retry_after_sec;
    s.policy.max_backoff_sec = a->cfg->alerts.max_backoff_sec;
    s.lease_sec = a->cfg->alerts.request_timeout_sec + 5;
    s.seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    snprintf(s.owner, sizeof(s.owner), "%s:%d", a->hostname, (int)getpid());
    s.ring = secrets_keyring_new(a->cfg->core.fernet_key, err, sizeof(err));
    if (!s.ring) {
        log_error("alerter: cannot use core.fernet_key, alerts are not sent error=\"%s\"", err);
        return NULL;
    }
    s.fl = calloc((size_t)a->cfg->alerts.max_in_flight, sizeof(*s.fl));
    s.multi = curl_multi_init();
    s.versions = dagver_cache_new(VCACHE_SIZE, DAGVER_ALERTS);
    if (!s.fl || !s.multi || !s.versions) {
        log_error("alerter: out of memory, alerts are not sent");
        goto out;
    }
    curl_multi_setopt(s.multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)a->cfg->alerts.max_in_flight);
    s.db = connect_until_stop(&s);
    if (!s.db)
        goto out;
    if (db_listen(s.db, CHANNEL_ALERTS) < 0)
        log_warn("alerter: listen failed; relying on the sweep error=\"%s\"", db_error(s.db));
    log_info("alerter started sweep_sec=%d max_in_flight=%d", a->cfg->alerts.sweep_interval_sec,
             a->cfg->alerts.max_in_flight);

    while (!*a->stop) {
        if (!db_ok(s.db)) {
            log_warn("alerter: database connection lost, reconnecting");
            if (db_ensure(s.db, -1, a->stop) < 0)
                break;
            log_info("alerter: database reconnected");
            s.notified = true; /* notifications may have been lost */
        }
        if (turn(&s) < 0) {
            db_rollback(s.db);
            int ms = backoff_step(&retry);
            log_warn("alerter: pass failed, retrying retry_ms=%d error=\"%s\"", ms, db_error(s.db));
            /* keep transfers moving while waiting */
            sleep_turn(&s, ms);
            int running;
            curl_multi_perform(s.multi, &running);
            reap_transfers(&s);
            continue;
        }
        backoff_init(&retry, -1);
        if (*a->stop)
            break;
        sleep_turn(&s, wait_ms(&s));
    }
    stop_flights(&s);
    log_info("alerter stopped");
out:
    for (size_t i = 0; i < s.nfl; i++)
        flight_free(&s.fl[i]);
    free(s.fl);
    dagver_cache_free(s.versions);
    free(s.sla_since);
    if (s.multi)
        curl_multi_cleanup(s.multi);
    db_close(s.db);
    secrets_keyring_free(s.ring);
    return NULL;
}
