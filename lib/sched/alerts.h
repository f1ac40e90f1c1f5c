/*
 * alerts.h - Slack and webhook alerts (docs/alerts.md): which alerts an
 * event gets, what the message says, and one HTTP attempt at sending it.
 *
 * The scheduler's sender thread (scheduler/alerter.c) turns callback
 * events into outbox rows with alerts_select(), builds each message with
 * alerts_load_msg() and alerts_build_body(), and sends it with an
 * alert_request_t on a libcurl multi handle; `updraft alerts test` sends
 * through the same request with alerts_send_sync(). Nothing here logs a
 * webhook URL or a message body: a URL is a secret (whoever has it can
 * post to the channel), and errors filled here never contain one.
 *
 * Two formats:
 *   slack    Slack Block Kit: a header, the text, a section of fields
 *            (DAG, task, run, logical date, try n/m and whether it is
 *            final, duration, host), the last ALERTS_LOG_LINES lines of
 *            the try's log in a code block (at most ALERTS_LOG_MAX_CHARS,
 *            escaped for mrkdwn), and a "View log" button to the web UI.
 *   webhook  one JSON object with the same facts as plain keys.
 */
#ifndef UPDRAFT_ALERTS_H
#define UPDRAFT_ALERTS_H

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/db.h"
#include "core/secrets.h"
#include "core/timeutil.h"

#define ALERTS_LOG_LINES 20       /* lines of the try's log in a message */
#define ALERTS_LOG_MAX_CHARS 2500 /* bytes of that log, after escaping */
#define ALERTS_TEXT_MAX 3000      /* bytes of the text (Slack's section limit) */
#define ALERTS_LOG_FETCH 65536    /* bytes of log read to find the last lines */

typedef enum alert_event_kind {
    ALERT_EV_TASK_FAILURE,
    ALERT_EV_TASK_RETRY,
    ALERT_EV_TASK_SUCCESS,
    ALERT_EV_TASK_SKIPPED,
    ALERT_EV_DAG_FAILURE,
    ALERT_EV_DAG_SUCCESS,
    ALERT_EV_SLA_MISS,
    ALERT_EV_TEST /* `updraft alerts test` */
} alert_event_kind_t;

/* callback_event.kind names ("task_failure", ...). -1 when unknown. */
int alerts_kind_parse(const char *s, alert_event_kind_t *out);
const char *alerts_kind_name(alert_event_kind_t kind);

/*
 * The alerts an event of this kind gets, from the serialized DAG of its
 * run (dag_alerts: the document's "alerts"; task_alerts: the task's, either
 * may be NULL) and, when the DAG or task does not set the event at all,
 * the config's defaults (alerts.on_task_failure, on_task_retry,
 * on_dag_failure, on_sla_miss; conn ids of kind auto). An explicit empty
 * list (`on_failure_callback: null`) means none, defaults included.
 * Returns a new array of {"conn_id", "kind", "text"?, "channel"?} without
 * repeated conn ids (the first wins), empty when nothing applies; NULL on
 * OOM. cfg may be NULL (no defaults).
 */
cJSON *alerts_select(const cJSON *dag_alerts, const cJSON *task_alerts, alert_event_kind_t kind,
                     const config_t *cfg);

/* Everything a message says. Strings are owned (alerts_msg_clear frees them). */
typedef struct alert_msg {
    alert_event_kind_t kind;
    char *dag_id;  /* NULL only for test messages */
    char *task_id; /* NULL for DAG run events */
    char *run_id;
    int map_index;        /* -1 when not mapped */
    int try_number;       /* 0 when the event is not a try */
    int max_tries;        /* the try may be retried while try_number <= max_tries */
    char *hostname;       /* where the try ran; NULL or "" = unknown */
    double duration;      /* seconds; < 0 = unknown */
    ts_us_t logical_date; /* TS_NONE = unknown */
    ts_us_t sla_deadline; /* sla_miss only */
    char *log;            /* the end of the try's log (masked by the worker); NULL = none */
    char *text;           /* the rendered text; NULL = the default text */
    char *channel;        /* Slack channel override; NULL = the webhook's own */
    char *log_url;        /* link to the log in the web UI; NULL = none */
    char *conn_id;        /* test messages name the connection */
} alert_msg_t;

/* Zeroes m with map_index -1, duration -1 and the times TS_NONE. */
void alerts_msg_init(alert_msg_t *m);
/* Frees what m holds and re-initializes it. */
void alerts_msg_clear(alert_msg_t *m);

typedef enum alert_format { ALERT_FMT_SLACK, ALERT_FMT_WEBHOOK } alert_format_t;

/* The request body (JSON text, malloc'd), or NULL on OOM. */
char *alerts_build_body(const alert_msg_t *m, alert_format_t fmt);

/* The default text of a message ("Task t in DAG d failed (try 1/1, final)"), malloc'd. */
char *alerts_default_text(const alert_msg_t *m);

/*
 * The last max_lines lines of log, at most max_bytes bytes once escaped
 * (slack: & < > as entities, runs of backticks broken so that a code block
 * cannot be closed from inside), on whole UTF-8 characters. Invalid UTF-8
 * becomes U+FFFD, control characters other than tab and newline are
 * dropped; a cut is marked with a first line "[...]". Returns a malloc'd
 * string ("" for an empty log) or NULL on OOM.
 */
char *alerts_log_tail(const char *log, size_t max_lines, size_t max_bytes, bool slack);

/*
 * <base_url>/dags/<dag_id>/grid?dag_run_id=<run_id>&task_id=<task_id>
 * [&map_index=N]&tab=logs, every part percent-encoded; without task_id,
 * the run's grid. malloc'd, NULL on OOM.
 */
char *alerts_log_url(const char *base_url, const char *dag_id, const char *run_id,
                     const char *task_id, int map_index);

/*
 * Loads the message of callback event event_id: the event, its run, the
 * end of the try's log (task events), the SLA deadline (sla_miss), the
 * log link from base_url, and text_tmpl rendered with the task's template
 * context (variables and connections through db and ring; a render error
 * gives the default text followed by the error; secrets the template
 * printed are masked). channel may be NULL. Returns 1 with *out filled
 * (alerts_msg_clear it), 0 when the event no longer exists, -1 on a
 * database error (err filled).
 */
int alerts_load_msg(db_t *db, const secrets_keyring_t *ring, const char *base_url, int64_t event_id,
                    const char *text_tmpl, const char *channel, alert_msg_t *out, char *err,
                    size_t errlen);

/*
 * Where an alert through conn_id goes: the connection (the environment,
 * then the database), its webhook URL (connection_webhook_url, checked by
 * connection_check_webhook_url) and the format: kind "slack" or
 * "webhook" as given; "auto" is Slack for slack_webhook connections and
 * URLs on hooks.slack.com, else webhook. Returns 0 with *url (a secret:
 * free with secrets_free_str), -1 on a permanent problem (no such
 * connection, no valid URL, cannot decrypt), -2 on a database error;
 * err names the connection, never the URL.
 */
int alerts_resolve_target(db_t *db, const secrets_keyring_t *ring, const char *conn_id,
                          const char *kind, char **url, alert_format_t *fmt, char *err,
                          size_t errlen);

/* ---- sending ------------------------------------------------------------ */

typedef enum alert_outcome {
    ALERT_SENT,  /* 2xx */
    ALERT_RETRY, /* 429, 408, 5xx, a network error or a timeout: try again after delay_ms */
    ALERT_FAILED /* any other answer or error: permanent */
} alert_outcome_t;

typedef struct alert_result {
    alert_outcome_t outcome;
    long status;     /* HTTP status; 0 when no answer */
    int delay_ms;    /* ALERT_RETRY: when to try again */
    char error[512]; /* what went wrong: never the URL; "" when sent */
} alert_result_t;

typedef struct alert_policy {
    int max_retry_after_sec; /* Retry-After is clamped to 1..this */
    int max_backoff_sec;     /* exponential backoff cap */
} alert_policy_t;

/*
 * Capped, jittered exponential backoff after the attempts-th failed
 * attempt: nominal min(1 s * 2^(attempts-1), max_backoff_sec), drawn from
 * [nominal/2, nominal] with rand_r(seed).
 */
int alerts_backoff_ms(int attempts, int max_backoff_sec, unsigned *seed);

/*
 * Classifies one attempt: status (0 when no HTTP answer), curl_code (a
 * CURLcode, CURLE_OK when there was an answer), retry_after_sec (the
 * answer's Retry-After, -1 when absent), body (the start of the answer,
 * may be NULL; quoted in errors, sanitized), attempts made so far.
 */
void alerts_classify(long status, int curl_code, long retry_after_sec, const char *body,
                     int attempts, const alert_policy_t *p, unsigned *seed, alert_result_t *out);

/*
 * One POST of a JSON body to a URL on a curl easy handle, for a multi
 * handle or alerts_send_sync: no redirects, http and https only, connect
 * and total timeouts, no signals; the answer's first bytes kept for error
 * messages. url and body are copied (the URL copy is wiped on free).
 */
typedef struct alert_request alert_request_t;
alert_request_t *alerts_request_new(const char *url, const char *body, int timeout_sec, char *err,
                                    size_t errlen);
CURL *alerts_request_handle(alert_request_t *r);
/* Classifies the finished transfer (rc from curl). */
void alerts_request_result(alert_request_t *r, CURLcode rc, int attempts, const alert_policy_t *p,
                           unsigned *seed, alert_result_t *out);
void alerts_request_free(alert_request_t *r);

/*
 * Replaces every occurrence of url in s (cap bytes), and of its path when
 * that is long enough to be a token, by "***": for errors that quote what
 * a receiver answered. url may be NULL.
 */
void alerts_scrub_url(char *s, size_t cap, const char *url);

/* One synchronous attempt (curl_easy_perform). 0 when sent, -1 otherwise; *out says why. */
int alerts_send_sync(const char *url, const char *body, int timeout_sec, const alert_policy_t *p,
                     alert_result_t *out);

#endif
