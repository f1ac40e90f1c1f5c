/*
 * test_alerts.c - alert messages and their pieces: which alerts an event
 * gets (task, DAG, config defaults), Slack Block Kit and webhook bodies
 * (shape, limits, escaping, truncation, UTF-8), the log tail, log links,
 * the classification of HTTP answers and backoff, webhook URLs from
 * connections and their checks, and the [alerts] config keys.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sched/alerts.h"
#include "core/config.h"
#include "store/connections.h"
#include "core/secrets.h"

/* ---- helpers ------------------------------------------------------------- */

static cJSON *parse(const char *s)
{
    cJSON *j = cJSON_Parse(s);
    if (!j)
        fail_msg("not JSON: %s", s);
    return j;
}

static const char *str_at(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* True when s is valid UTF-8. */
static bool valid_utf8(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    while (*u) {
        int n = *u < 0x80 ? 1 : (*u >> 5) == 6 ? 2 : (*u >> 4) == 14 ? 3 : (*u >> 3) == 30 ? 4 : 0;
        if (n == 0)
            return false;
        for (int i = 1; i < n; i++)
            if ((u[i] & 0xC0) != 0x80)
                return false;
        u += n;
    }
    return true;
}

/* Characters (code points) of a UTF-8 string. */
static size_t u8len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static void msg_task(alert_msg_t *m, alert_event_kind_t kind)
{
    alerts_msg_init(m);
    m->kind = kind;
    m->dag_id = strdup("etl");
    m->task_id = strdup("load");
    m->run_id = strdup("scheduled__2024-03-05T00:00:00+00:00");
    m->try_number = 2;
    m->max_tries = 2;
    m->hostname = strdup("worker-7");
    m->duration = 75.4;
    m->logical_date = 1709596800LL * 1000000; /* 2024-03-05T00:00:00Z */
    m->log = strdup("starting\nrow <1> & done\nboom\n");
    m->log_url = alerts_log_url("https://u.example/", "etl", m->run_id, "load", -1);
}

/* The Slack body's block of the given type (n-th of it). */
static const cJSON *block(const cJSON *body, const char *type, int n)
{
    const cJSON *b;
    cJSON_ArrayForEach(b, cJSON_GetObjectItem(body, "blocks"))
    {
        if (strcmp(str_at(b, "type"), type) == 0 && n-- == 0)
            return b;
    }
    return NULL;
}

/* The value of the Slack field labelled label ("*label*\nvalue"), or NULL. */
static const char *field(const cJSON *body, const char *label)
{
    static char buf[4096];
    char want[64];
    snprintf(want, sizeof(want), "*%s*\n", label);
    const cJSON *f;
    for (int i = 0; block(body, "section", i); i++) {
        cJSON_ArrayForEach(f, cJSON_GetObjectItem(block(body, "section", i), "fields"))
        {
            const char *t = str_at(f, "text");
            if (strncmp(t, want, strlen(want)) == 0) {
                snprintf(buf, sizeof(buf), "%s", t + strlen(want));
                return buf;
            }
        }
    }
    return NULL;
}

/* The mrkdwn text of the section starting with prefix. */
static const char *section_text(const cJSON *body, const char *prefix)
{
    const cJSON *b;
    for (int i = 0; (b = block(body, "section", i)); i++) {
        const char *t = str_at(cJSON_GetObjectItem(b, "text"), "text");
        if (t && strncmp(t, prefix, strlen(prefix)) == 0)
            return t;
    }
    return NULL;
}

/* ---- choosing alerts ------------------------------------------------------ */

static void test_alert_targets_are_chosen_per_event_and_bad_ids_dropped(void **state)
{
    (void)state;
    config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.alerts.on_task_failure = "slack_default, ops.team ,bad id";
    cfg.alerts.on_task_retry = "";
    cfg.alerts.on_dag_failure = "dag_default";
    cfg.alerts.on_sla_miss = "sla_default";

    cJSON *task = parse("{\"failure\": [{\"conn_id\": \"a\", \"kind\": \"slack\", \"text\": \"t\","
                        " \"channel\": \"#c\"}, {\"conn_id\": \"a\", \"kind\": \"webhook\"},"
                        " {\"conn_id\": \"b\", \"kind\": \"weird\"}, {\"conn_id\": 5}, 7],"
                        " \"retry\": []}");
    cJSON *dag = parse("{\"success\": [{\"conn_id\": \"s\", \"kind\": \"webhook\"}]}");

    /* the task's own alerts: deduplicated by conn id, bad items skipped */
    cJSON *a = alerts_select(dag, task, ALERT_EV_TASK_FAILURE, &cfg);
    assert_int_equal(cJSON_GetArraySize(a), 2);
    assert_string_equal(str_at(cJSON_GetArrayItem(a, 0), "conn_id"), "a");
    assert_string_equal(str_at(cJSON_GetArrayItem(a, 0), "kind"), "slack");
    assert_string_equal(str_at(cJSON_GetArrayItem(a, 0), "text"), "t");
    assert_string_equal(str_at(cJSON_GetArrayItem(a, 0), "channel"), "#c");
    assert_string_equal(str_at(cJSON_GetArrayItem(a, 1), "kind"), "auto");
    cJSON_Delete(a);

    /* an explicit empty list: nothing, not even the default */
    a = alerts_select(dag, task, ALERT_EV_TASK_RETRY, &cfg);
    assert_int_equal(cJSON_GetArraySize(a), 0);
    cJSON_Delete(a);

    /* a task that sets nothing gets the config default (valid ids only, kind auto) */
    a = alerts_select(dag, NULL, ALERT_EV_TASK_FAILURE, &cfg);
    assert_int_equal(cJSON_GetArraySize(a), 2);
    assert_string_equal(str_at(cJSON_GetArrayItem(a, 0), "conn_id"), "slack_default");
    assert_string_equal(str_at(cJSON_GetArrayItem(a, 1), "conn_id"), "ops.team");
    assert_string_equal(str_at(cJSON_GetArrayItem(a, 1), "kind"), "auto");
    cJSON_Delete(a);

    /* successes have no default; DAG events read the DAG's alerts */
    a = alerts_select(dag, NULL, ALERT_EV_TASK_SUCCESS, &cfg);
    assert_int_equal(cJSON_GetArraySize(a), 0);
    cJSON_Delete(a);
    a = alerts_select(dag, task, ALERT_EV_DAG_SUCCESS, &cfg);
    assert_int_equal(cJSON_GetArraySize(a), 1);
    assert_string_equal(str_at(cJSON_GetArrayItem(a, 0), "conn_id"), "s");
    cJSON_Delete(a);
    a = alerts_select(dag, task, ALERT_EV_DAG_FAILURE, &cfg);
    assert_string_equal(str_at(cJSON_GetArrayItem(a, 0), "conn_id"), "dag_default");
    cJSON_Delete(a);
    a = alerts_select(NULL, NULL, ALERT_EV_SLA_MISS, &cfg);
    assert_string_equal(str_at(cJSON_GetArrayItem(a, 0), "conn_id"), "sla_default");
    cJSON_Delete(a);

    /* skipped tries and no config: nothing */
    a = alerts_select(dag, task, ALERT_EV_TASK_SKIPPED, &cfg);
    assert_int_equal(cJSON_GetArraySize(a), 0);
    cJSON_Delete(a);
    a = alerts_select(NULL, NULL, ALERT_EV_TASK_FAILURE, NULL);
    assert_int_equal(cJSON_GetArraySize(a), 0);
    cJSON_Delete(a);
    cJSON_Delete(task);
    cJSON_Delete(dag);

    alert_event_kind_t k;
    assert_int_equal(alerts_kind_parse("sla_miss", &k), 0);
    assert_int_equal(k, ALERT_EV_SLA_MISS);
    assert_string_equal(alerts_kind_name(ALERT_EV_TASK_RETRY), "task_retry");
    assert_int_equal(alerts_kind_parse("nope", &k), -1);
}

/* ---- the log tail ---------------------------------------------------------- */

static void test_log_tail_keeps_the_last_lines(void **state)
{
    (void)state;
    char log[4096] = "";
    for (int i = 1; i <= 30; i++) {
        char line[32];
        snprintf(line, sizeof(line), "line %d\n", i);
        strcat(log, line);
    }
    strcat(log, "\n\n");
    char *t = alerts_log_tail(log, 20, 2500, true);
    assert_non_null(t);
    assert_true(strncmp(t, "[...]\nline 11\n", 14) == 0);
    assert_non_null(strstr(t, "line 30"));
    assert_null(strstr(t, "line 10\n"));
    assert_int_not_equal(t[strlen(t) - 1], '\n'); /* trailing blank lines dropped */
    free(t);

    /* a short log: whole, no mark */
    t = alerts_log_tail("a\nb", 20, 2500, true);
    assert_string_equal(t, "a\nb");
    free(t);
    t = alerts_log_tail("", 20, 2500, true);
    assert_string_equal(t, "");
    free(t);
    t = alerts_log_tail(NULL, 20, 2500, false);
    assert_string_equal(t, "");
    free(t);
}

static void test_log_tail_is_escaped_for_slack_and_webhooks(void **state)
{
    (void)state;
    char *t = alerts_log_tail("x <b> & `y` ```code``` \x01\r\tz", 20, 2500, true);
    assert_string_equal(t, "x &lt;b&gt; &amp; `y` `\xE2\x80\x8B`\xE2\x80\x8B`code`\xE2\x80\x8B`"
                           "\xE2\x80\x8B` \tz");
    free(t);
    /* webhook: raw text, only sanitized */
    t = alerts_log_tail("x <b> & ```\x01", 20, 2500, false);
    assert_string_equal(t, "x <b> & ```");
    free(t);
    /* invalid UTF-8 becomes U+FFFD; valid multibyte kept */
    t = alerts_log_tail("bad \xC3\x28 \xFF ok \xC3\xA9 \xED\xA0\x80", 20, 2500, false);
    assert_true(valid_utf8(t));
    assert_non_null(strstr(t, "\xEF\xBF\xBD"));
    assert_non_null(strstr(t, "\xC3\xA9"));
    free(t);
}

static void test_log_tail_keeps_whole_lines_within_the_byte_budget(void **state)
{
    (void)state;
    /* 10 lines of 400 bytes: the budget keeps whole lines from the end */
    char *log = malloc(10 * 401 + 1), *p = log;
    for (int i = 0; i < 10; i++) {
        memset(p, 'a' + i, 400);
        p[400] = '\n';
        p += 401;
    }
    *p = '\0';
    char *t = alerts_log_tail(log, 20, 2500, true);
    assert_true(strlen(t) <= 2500);
    assert_true(strncmp(t, "[...]\n", 6) == 0);
    assert_int_equal(t[6], 'e'); /* lines e..j: 400 + 5 * 401 bytes fit, one more does not */
    assert_int_equal(t[strlen(t) - 1], 'j');
    free(t);

    /* one huge line of entities: cut inside the line, never inside an entity */
    memset(log, '<', 3000);
    log[3000] = '\0';
    t = alerts_log_tail(log, 20, 2500, true);
    assert_true(strlen(t) <= 2500);
    assert_true(strncmp(t, "[...]\n&lt;", 10) == 0);
    assert_int_equal((strlen(t) - 6) % 4, 0);
    free(t);

    /* multibyte characters: cut on a character boundary */
    for (int i = 0; i < 1500; i++)
        memcpy(log + 2 * i, "\xC3\xA9", 2);
    log[3000] = '\0';
    t = alerts_log_tail(log, 20, 2500, false);
    assert_true(strlen(t) <= 2500);
    assert_true(valid_utf8(t));
    free(t);
    free(log);
}

/* ---- links ------------------------------------------------------------------ */

static void test_log_url_escapes_dag_run_and_task(void **state)
{
    (void)state;
    char *u = alerts_log_url("https://x.example/base/", "my.dag",
                             "manual__2024-01-01T00:00:00+00:00", "grp.t 1", -1);
    assert_string_equal(
        u, "https://x.example/base/dags/my.dag/grid?dag_run_id=manual__2024-01-01T00%3A00"
           "%3A00%2B00%3A00&task_id=grp.t%201&tab=logs");
    free(u);
    u = alerts_log_url("http://h", "d", "r&x=1", "t", 3);
    assert_string_equal(u,
                        "http://h/dags/d/grid?dag_run_id=r%26x%3D1&task_id=t&map_index=3&tab=logs");
    free(u);
    u = alerts_log_url("http://h", "d", "r", NULL, -1);
    assert_string_equal(u, "http://h/dags/d/grid?dag_run_id=r");
    free(u);
}

/* ---- Slack bodies -------------------------------------------------------------- */

static void test_slack_task_failure_body_has_the_task_fields(void **state)
{
    (void)state;
    alert_msg_t m;
    msg_task(&m, ALERT_EV_TASK_FAILURE);
    m.channel = strdup("#alerts");
    char *s = alerts_build_body(&m, ALERT_FMT_SLACK);
    assert_non_null(s);
    cJSON *b = parse(s);
    assert_string_equal(str_at(b, "channel"), "#alerts");
    assert_string_equal(str_at(b, "text"), "Task load in DAG etl failed (try 2/3, final).");
    const cJSON *h = block(b, "header", 0);
    assert_non_null(h);
    assert_string_equal(str_at(cJSON_GetObjectItem(h, "text"), "type"), "plain_text");
    assert_string_equal(str_at(cJSON_GetObjectItem(h, "text"), "text"),
                        ":red_circle: Task failed: etl.load");
    assert_string_equal(field(b, "DAG"), "etl");
    assert_string_equal(field(b, "Task"), "load");
    assert_string_equal(field(b, "Run"), "scheduled__2024-03-05T00:00:00+00:00");
    assert_string_equal(field(b, "Logical date"), "2024-03-05T00:00:00+00:00");
    assert_string_equal(field(b, "Try"), "2/3 (final)");
    assert_string_equal(field(b, "Duration"), "1 min 15 s");
    assert_string_equal(field(b, "Host"), "worker-7");
    const char *log = section_text(b, "*Log*");
    assert_non_null(log);
    assert_string_equal(log,
                        "*Log* (last 20 lines of try 2)\n```\nstarting\nrow &lt;1&gt; &amp; done\n"
                        "boom\n```");
    const cJSON *act = block(b, "actions", 0);
    const cJSON *btn = cJSON_GetArrayItem(cJSON_GetObjectItem(act, "elements"), 0);
    assert_string_equal(str_at(btn, "type"), "button");
    assert_string_equal(
        str_at(btn, "url"),
        "https://u.example/dags/etl/grid?dag_run_id=scheduled__2024-03-05T00%3A00%3A00"
        "%2B00%3A00&task_id=load&tab=logs");
    cJSON_Delete(b);
    free(s);
    alerts_msg_clear(&m);
}

static void test_slack_retry_body_escapes_the_custom_text(void **state)
{
    (void)state;
    alert_msg_t m;
    msg_task(&m, ALERT_EV_TASK_RETRY);
    m.try_number = 1;
    m.map_index = 4;
    m.text = strdup("<!here> *etl* failed & retries");
    free(m.log);
    m.log = strdup("");
    char *s = alerts_build_body(&m, ALERT_FMT_SLACK);
    cJSON *b = parse(s);
    /* the author's text goes as written (Slack mrkdwn) */
    assert_string_equal(str_at(b, "text"), "<!here> *etl* failed & retries");
    assert_non_null(section_text(b, "<!here> *etl*"));
    assert_string_equal(field(b, "Try"), "1/3 (will retry)");
    assert_string_equal(field(b, "Task"), "load[4]");
    assert_string_equal(section_text(b, "*Log*"), "*Log*: no output");
    assert_string_equal(str_at(cJSON_GetObjectItem(block(b, "header", 0), "text"), "text"),
                        ":large_orange_circle: Task failed, will retry: etl.load[4]");
    cJSON_Delete(b);
    free(s);
    alerts_msg_clear(&m);
}

static void test_slack_dag_failure_and_sla_bodies_name_the_run(void **state)
{
    (void)state;
    alert_msg_t m;
    alerts_msg_init(&m);
    m.kind = ALERT_EV_DAG_FAILURE;
    m.dag_id = strdup("etl");
    m.run_id = strdup("r<1>");
    m.duration = 3725;
    m.log_url = alerts_log_url("https://u", "etl", "r<1>", NULL, -1);
    char *s = alerts_build_body(&m, ALERT_FMT_SLACK);
    cJSON *b = parse(s);
    assert_null(field(b, "Task"));
    assert_null(field(b, "Try"));
    assert_null(field(b, "Host"));
    assert_null(section_text(b, "*Log*"));
    assert_string_equal(field(b, "Run"), "r&lt;1&gt;"); /* escaped in fields */
    assert_string_equal(field(b, "Duration"), "1 h 02 min 05 s");
    assert_string_equal(str_at(b, "text"), "DAG run r&lt;1&gt; of etl failed.");
    const cJSON *btn =
        cJSON_GetArrayItem(cJSON_GetObjectItem(block(b, "actions", 0), "elements"), 0);
    assert_string_equal(str_at(cJSON_GetObjectItem(btn, "text"), "text"), "View run");
    cJSON_Delete(b);
    free(s);
    alerts_msg_clear(&m);

    msg_task(&m, ALERT_EV_SLA_MISS);
    m.try_number = 0;
    m.sla_deadline = m.logical_date + 86400LL * 1000000 + 60LL * 1000000;
    s = alerts_build_body(&m, ALERT_FMT_SLACK);
    b = parse(s);
    assert_string_equal(field(b, "SLA deadline"), "2024-03-06T00:01:00+00:00");
    assert_null(field(b, "Try"));
    assert_null(section_text(b, "*Log*"));
    assert_string_equal(
        str_at(b, "text"),
        "Task load in DAG etl missed its SLA: not done by 2024-03-06T00:01:00+00:00.");
    cJSON_Delete(b);
    free(s);
    alerts_msg_clear(&m);
}

/* Everything huge and hostile: every Slack limit holds and the JSON is valid UTF-8. */
static void test_slack_body_stays_within_limits_and_valid_utf8(void **state)
{
    (void)state;
    alert_msg_t m;
    msg_task(&m, ALERT_EV_TASK_FAILURE);
    size_t big = 20000;
    char *huge = malloc(big + 1);
    for (size_t i = 0; i < big; i++)
        huge[i] = "<&>`\xC3\xA9\n\xFFx"[i % 9];
    huge[big] = '\0';
    free(m.dag_id);
    m.dag_id = strdup(huge);
    free(m.run_id);
    m.run_id = strdup(huge);
    free(m.log);
    m.log = strdup(huge);
    m.text = strdup(huge);
    char *s = alerts_build_body(&m, ALERT_FMT_SLACK);
    assert_non_null(s);
    assert_true(valid_utf8(s));
    cJSON *b = parse(s);
    assert_true(u8len(str_at(b, "text")) <= 3000);
    assert_true(u8len(str_at(cJSON_GetObjectItem(block(b, "header", 0), "text"), "text")) <= 150);
    const cJSON *bl;
    cJSON_ArrayForEach(bl, cJSON_GetObjectItem(b, "blocks"))
    {
        const cJSON *t = cJSON_GetObjectItem(bl, "text");
        if (t)
            assert_true(u8len(str_at(t, "text")) <= 3000);
        const cJSON *f;
        cJSON_ArrayForEach(f, cJSON_GetObjectItem(bl, "fields"))
        {
            assert_true(u8len(str_at(f, "text")) <= 2000);
        }
        assert_true(cJSON_GetArraySize(cJSON_GetObjectItem(bl, "fields")) <= 10);
    }
    const char *log = section_text(b, "*Log*");
    assert_non_null(log);
    /* the code block opens and closes once: no fence inside */
    const char *inner = strstr(log, "```\n") + 4, *close = strstr(inner, "```");
    assert_non_null(close);
    assert_string_equal(close, "```");
    assert_true(strlen(inner) - 4 <= ALERTS_LOG_MAX_CHARS);
    /* no raw < or > inside the code block */
    for (const char *p = inner; p < close; p++)
        assert_true(*p != '<' && *p != '>');
    cJSON_Delete(b);
    free(s);

    s = alerts_build_body(&m, ALERT_FMT_WEBHOOK);
    assert_true(valid_utf8(s));
    b = parse(s);
    assert_true(strlen(str_at(b, "log")) <= ALERTS_LOG_MAX_CHARS);
    assert_true(strlen(str_at(b, "text")) <= 3000);
    cJSON_Delete(b);
    free(s);
    free(huge);
    alerts_msg_clear(&m);
}

/* ---- webhook bodies -------------------------------------------------------------- */

static void test_webhook_body_carries_the_event_fields(void **state)
{
    (void)state;
    alert_msg_t m;
    msg_task(&m, ALERT_EV_TASK_RETRY);
    m.try_number = 1;
    char *s = alerts_build_body(&m, ALERT_FMT_WEBHOOK);
    cJSON *b = parse(s);
    assert_string_equal(str_at(b, "event"), "task_retry");
    assert_string_equal(str_at(b, "title"), "Task failed, will retry: etl.load");
    assert_string_equal(str_at(b, "dag_id"), "etl");
    assert_string_equal(str_at(b, "task_id"), "load");
    assert_string_equal(str_at(b, "run_id"), "scheduled__2024-03-05T00:00:00+00:00");
    assert_string_equal(str_at(b, "logical_date"), "2024-03-05T00:00:00.000000+00:00");
    assert_string_equal(str_at(b, "tries"), "1/3");
    assert_int_equal(cJSON_GetObjectItem(b, "try_number")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItem(b, "max_tries")->valueint, 2);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(b, "final")));
    assert_true(cJSON_GetObjectItem(b, "duration")->valuedouble > 75);
    assert_string_equal(str_at(b, "hostname"), "worker-7");
    assert_string_equal(str_at(b, "log"), "starting\nrow <1> & done\nboom");
    assert_string_equal(str_at(b, "text"),
                        "Task load in DAG etl failed and will be retried (try 1/3).");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(b, "sla_deadline")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(b, "channel")));
    cJSON_Delete(b);
    free(s);
    alerts_msg_clear(&m);

    alerts_msg_init(&m);
    m.kind = ALERT_EV_DAG_SUCCESS;
    m.dag_id = strdup("etl");
    m.run_id = strdup("r1");
    s = alerts_build_body(&m, ALERT_FMT_WEBHOOK);
    b = parse(s);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(b, "task_id")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(b, "try_number")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(b, "final")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(b, "log")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(b, "duration")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(b, "logical_date")));
    assert_string_equal(str_at(b, "text"), "DAG run r1 of etl succeeded.");
    cJSON_Delete(b);
    free(s);
    alerts_msg_clear(&m);

    alerts_msg_init(&m);
    m.kind = ALERT_EV_TEST;
    m.conn_id = strdup("slack_default");
    m.hostname = strdup("h");
    s = alerts_build_body(&m, ALERT_FMT_SLACK);
    b = parse(s);
    assert_string_equal(field(b, "Connection"), "slack_default");
    assert_non_null(strstr(str_at(b, "text"), "slack_default"));
    cJSON_Delete(b);
    free(s);
    alerts_msg_clear(&m);
}

/* ---- answers and backoff -------------------------------------------------------- */

static void test_http_answers_are_classified_with_bounded_backoff(void **state)
{
    (void)state;
    alert_policy_t p = {.max_retry_after_sec = 30, .max_backoff_sec = 8};
    unsigned seed = 7;
    alert_result_t r;

    alerts_classify(200, CURLE_OK, -1, "ok", 1, &p, &seed, &r);
    assert_int_equal(r.outcome, ALERT_SENT);
    assert_string_equal(r.error, "");
    alerts_classify(204, CURLE_OK, -1, NULL, 1, &p, &seed, &r);
    assert_int_equal(r.outcome, ALERT_SENT);

    alerts_classify(429, CURLE_OK, 1, "slow down", 1, &p, &seed, &r);
    assert_int_equal(r.outcome, ALERT_RETRY);
    assert_int_equal(r.delay_ms, 1000);
    assert_string_equal(r.error, "HTTP 429: slow down");
    alerts_classify(429, CURLE_OK, 3600, NULL, 1, &p, &seed, &r);
    assert_int_equal(r.delay_ms, 30000); /* clamped */
    alerts_classify(429, CURLE_OK, 0, NULL, 1, &p, &seed, &r);
    assert_int_equal(r.delay_ms, 1000); /* at least a second */
    alerts_classify(429, CURLE_OK, -1, NULL, 1, &p, &seed, &r);
    assert_true(r.delay_ms >= 500 && r.delay_ms <= 1000); /* no header: backoff */

    alerts_classify(503, CURLE_OK, -1, "<html>\x01\n</html>", 2, &p, &seed, &r);
    assert_int_equal(r.outcome, ALERT_RETRY);
    assert_true(r.delay_ms >= 1000 && r.delay_ms <= 2000);
    assert_string_equal(r.error, "HTTP 503: <html> </html>");
    alerts_classify(408, CURLE_OK, -1, NULL, 1, &p, &seed, &r);
    assert_int_equal(r.outcome, ALERT_RETRY);

    alerts_classify(404, CURLE_OK, -1, "no_service", 1, &p, &seed, &r);
    assert_int_equal(r.outcome, ALERT_FAILED);
    assert_string_equal(r.error, "HTTP 404: no_service");
    alerts_classify(400, CURLE_OK, -1, "invalid_payload", 1, &p, &seed, &r);
    assert_int_equal(r.outcome, ALERT_FAILED);
    alerts_classify(301, CURLE_OK, -1, NULL, 1, &p, &seed, &r);
    assert_int_equal(r.outcome, ALERT_FAILED);

    alerts_classify(0, CURLE_COULDNT_CONNECT, -1, NULL, 1, &p, &seed, &r);
    assert_int_equal(r.outcome, ALERT_RETRY);
    assert_int_equal(r.status, 0);
    assert_true(strlen(r.error) > 0);
    alerts_classify(0, CURLE_OPERATION_TIMEDOUT, -1, NULL, 1, &p, &seed, &r);
    assert_int_equal(r.outcome, ALERT_RETRY);
    alerts_classify(0, CURLE_UNSUPPORTED_PROTOCOL, -1, NULL, 1, &p, &seed, &r);
    assert_int_equal(r.outcome, ALERT_FAILED);

    /* capped, jittered exponential backoff */
    for (int a = 1; a <= 12; a++) {
        int nominal = a >= 4 ? 8000 : 1000 << (a - 1);
        for (int i = 0; i < 50; i++) {
            int d = alerts_backoff_ms(a, 8, &seed);
            assert_true(d >= nominal / 2 && d <= nominal);
        }
    }
}

static void test_webhook_url_is_scrubbed_from_errors(void **state)
{
    (void)state;
    char s[256];
    snprintf(s, sizeof(s),
             "HTTP 404: no route /services/T1/B2/SECRET for https://h/services/T1/B2/SECRET");
    alerts_scrub_url(s, sizeof(s), "https://h/services/T1/B2/SECRET");
    assert_string_equal(s, "HTTP 404: no route *** for ***");
    snprintf(s, sizeof(s), "nothing here");
    alerts_scrub_url(s, sizeof(s), NULL);
    assert_string_equal(s, "nothing here");
}

/* ---- connections ---------------------------------------------------------------- */

static char *url_of(connection_t *c)
{
    char *url = NULL, err[256];
    if (connection_webhook_url(c, &url, err, sizeof(err)) < 0)
        fail_msg("no url: %s", err);
    return url;
}

static connection_t *conn(const char *type, const char *host, const char *pw)
{
    connection_t *c = connection_new();
    c->conn_id = strdup("c");
    c->conn_type = strdup(type);
    c->host = host ? strdup(host) : NULL;
    c->password = pw ? strdup(pw) : NULL;
    return c;
}

static void test_webhook_url_is_taken_from_the_connection(void **state)
{
    (void)state;
    connection_t *c = conn("slack_webhook", NULL, " https://hooks.slack.com/services/T/B/X ");
    char *u = url_of(c);
    assert_string_equal(u, "https://hooks.slack.com/services/T/B/X");
    secrets_free_str(u);
    connection_free(c);

    /* a token: Slack's endpoint, or the host's */
    c = conn("slackwebhook", NULL, "T/B/X");
    u = url_of(c);
    assert_string_equal(u, "https://hooks.slack.com/services/T/B/X");
    secrets_free_str(u);
    connection_free(c);
    c = conn("slack-webhook", "https://hooks.example.com/services/", "/T/B/X");
    u = url_of(c);
    assert_string_equal(u, "https://hooks.example.com/services/T/B/X");
    secrets_free_str(u);
    connection_free(c);
    c = conn("webhook", "chat.example.com", NULL);
    c->port = 8443;
    c->schema = strdup("hooks/a b");
    u = url_of(c);
    assert_string_equal(u, "https://chat.example.com:8443/hooks/a%20b");
    secrets_free_str(u);
    connection_free(c);

    /* a URL given whole in the environment parses into an https connection */
    connection_t *e = NULL;
    char err[256];
    assert_int_equal(connection_parse_uri("x", "https://hooks.slack.com/services/T1/B1/abcDEF", &e,
                                          err, sizeof(err)),
                     0);
    u = url_of(e);
    assert_string_equal(u, "https://hooks.slack.com/services/T1/B1/abcDEF");
    secrets_free_str(u);
    connection_free(e);
    assert_int_equal(
        connection_parse_uri("x", "http://127.0.0.1:9/hook?k=v%26w", &e, err, sizeof(err)), 0);
    u = url_of(e);
    assert_string_equal(u, "http://127.0.0.1:9/hook?k=v%26w");
    secrets_free_str(u);
    connection_free(e);

    /* nothing to build a URL from */
    c = conn("webhook", NULL, "token-only");
    assert_int_equal(connection_webhook_url(c, &u, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "needs its webhook URL"));
    connection_free(c);
}

static void test_webhook_url_check_refuses_unsafe_urls(void **state)
{
    (void)state;
    char err[256], host[128];
    static const char *const good[] = {
        "https://hooks.slack.com/services/T/B/X",
        "http://127.0.0.1:8080/x",
        "http://localhost/x",
        "HTTP://[::1]:9/x",
        "https://h.example:443",
        "https://u:p@h.example/x?y=1#z",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (connection_check_webhook_url(good[i], host, sizeof(host), err, sizeof(err)) != 0)
            fail_msg("%s: %s", good[i], err);
    assert_int_equal(connection_check_webhook_url("https://U:P@Hooks.Slack.com/x", host,
                                                  sizeof(host), err, sizeof(err)),
                     0);
    assert_string_equal(host, "hooks.slack.com");

    static const struct {
        const char *url, *why;
    } bad[] = {
        {"http://hooks.slack.com/services/SECRET1", "must use https"},
        {"http://127.0.0.1.evil.example/SECRET2", "must use https"},
        {"http://128.0.0.1/SECRET3", "must use https"},
        {"ftp://example.com/SECRET4", "must start with https://"},
        {"hooks.slack.com/services/SECRET5", "must start with https://"},
        {"https:///SECRET6", "no host"},
        {"https://h:0/SECRET7", "port"},
        {"https://h:123456/SECRET8", "port"},
        {"https://h:/SECRET9", "port"},
        {"https://h/a b/SECRET10", "space"},
        {"https://h/\x7fSECRET11", "control"},
        {"https://h!x/SECRET12", "bad character"},
        {"", "empty"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        if (connection_check_webhook_url(bad[i].url, NULL, 0, err, sizeof(err)) != -1)
            fail_msg("accepted: %s", bad[i].url);
        if (!strstr(err, bad[i].why))
            fail_msg("%s: '%s' does not say '%s'", bad[i].url, err, bad[i].why);
        if (strstr(err, "SECRET"))
            fail_msg("%s: the error echoes the URL: %s", bad[i].url, err);
    }

    /* saving validates: webhook types need a good URL, others are untouched */
    connection_t *c = conn("slack_webhook", NULL, "http://hooks.example.com/SECRET");
    assert_int_equal(connection_validate(c, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "connection 'c': the webhook URL must use https"));
    assert_null(strstr(err, "SECRET"));
    connection_free(c);
    c = conn("webhook", NULL, NULL);
    assert_int_equal(connection_validate(c, err, sizeof(err)), -1);
    connection_free(c);
    c = conn("http", "plain.example.com", NULL);
    assert_int_equal(connection_validate(c, err, sizeof(err)), 0);
    connection_free(c);
    assert_true(connection_is_webhook_type("Slack-Webhook"));
    assert_true(connection_is_slack_type("slackwebhook"));
    assert_false(connection_is_slack_type("webhook"));
    assert_false(connection_is_webhook_type("http"));
}

static void test_alert_target_resolves_from_env_connections(void **state)
{
    (void)state;
    char *url = NULL, err[256];
    alert_format_t fmt;
    setenv("UPDRAFT_CONN_SLACK_ENV", "https://hooks.slack.com/services/T/B/ENVSECRET", 1);
    setenv("UPDRAFT_CONN_HOOK_ENV", "https://chat.example.com/hook/ENVSECRET", 1);
    setenv("UPDRAFT_CONN_SLACKTYPE_ENV",
           "{\"conn_type\": \"slack_webhook\", \"password\": "
           "\"http://127.0.0.1:9/services/x\"}",
           1);
    setenv("UPDRAFT_CONN_BAD_ENV",
           "{\"conn_type\": \"webhook\", \"host\": \"http://example.com/ENVSECRET\"}", 1);
    assert_int_equal(
        alerts_resolve_target(NULL, NULL, "slack_env", "auto", &url, &fmt, err, sizeof(err)), 0);
    assert_int_equal(fmt, ALERT_FMT_SLACK); /* by the host */
    assert_string_equal(url, "https://hooks.slack.com/services/T/B/ENVSECRET");
    secrets_free_str(url);
    assert_int_equal(
        alerts_resolve_target(NULL, NULL, "hook_env", "auto", &url, &fmt, err, sizeof(err)), 0);
    assert_int_equal(fmt, ALERT_FMT_WEBHOOK);
    secrets_free_str(url);
    assert_int_equal(
        alerts_resolve_target(NULL, NULL, "hook_env", "slack", &url, &fmt, err, sizeof(err)), 0);
    assert_int_equal(fmt, ALERT_FMT_SLACK); /* the alert's kind wins */
    secrets_free_str(url);
    assert_int_equal(
        alerts_resolve_target(NULL, NULL, "slacktype_env", "auto", &url, &fmt, err, sizeof(err)),
        0);
    assert_int_equal(fmt, ALERT_FMT_SLACK); /* by the type */
    secrets_free_str(url);
    assert_int_equal(
        alerts_resolve_target(NULL, NULL, "bad_env", "auto", &url, &fmt, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "connection 'bad_env': the webhook URL must use https"));
    assert_null(strstr(err, "ENVSECRET"));
    assert_null(url);
    assert_int_equal(
        alerts_resolve_target(NULL, NULL, "missing_conn", "auto", &url, &fmt, err, sizeof(err)),
        -1);
    assert_string_equal(err, "connection 'missing_conn' not found");
}

/* ---- config ------------------------------------------------------------------------ */

static void test_alert_config_keys_load_from_env(void **state)
{
    (void)state;
    config_t c;
    char err[512];
    unsetenv("UPDRAFT_CONFIG");
    setenv("UPDRAFT__ALERTS__ON_TASK_FAILURE", "slack_default, ops", 1);
    setenv("UPDRAFT__ALERTS__GIVE_UP_AFTER_SEC", "120", 1);
    assert_int_equal(config_load(NULL, &c, err, sizeof(err)), 0);
    assert_string_equal(c.alerts.on_task_failure, "slack_default, ops");
    assert_string_equal(c.alerts.on_dag_failure, "");
    assert_int_equal(c.alerts.give_up_after_sec, 120);
    assert_int_equal(c.alerts.request_timeout_sec, 10);
    assert_int_equal(c.alerts.max_retry_after_sec, 300);
    config_free(&c);
    static const char *const bad[] = {"a,,b", "a,", ",a", "a b", "a;b", "a/b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        setenv("UPDRAFT__ALERTS__ON_TASK_FAILURE", bad[i], 1);
        if (config_load(NULL, &c, err, sizeof(err)) != -1)
            fail_msg("accepted '%s'", bad[i]);
        assert_non_null(strstr(err, "alerts.on_task_failure"));
    }
    unsetenv("UPDRAFT__ALERTS__ON_TASK_FAILURE");
    setenv("UPDRAFT__ALERTS__REQUEST_TIMEOUT_SEC", "0", 1);
    assert_int_equal(config_load(NULL, &c, err, sizeof(err)), -1);
    unsetenv("UPDRAFT__ALERTS__REQUEST_TIMEOUT_SEC");
    unsetenv("UPDRAFT__ALERTS__GIVE_UP_AFTER_SEC");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alert_targets_are_chosen_per_event_and_bad_ids_dropped),
        cmocka_unit_test(test_log_tail_keeps_the_last_lines),
        cmocka_unit_test(test_log_tail_is_escaped_for_slack_and_webhooks),
        cmocka_unit_test(test_log_tail_keeps_whole_lines_within_the_byte_budget),
        cmocka_unit_test(test_log_url_escapes_dag_run_and_task),
        cmocka_unit_test(test_slack_task_failure_body_has_the_task_fields),
        cmocka_unit_test(test_slack_retry_body_escapes_the_custom_text),
        cmocka_unit_test(test_slack_dag_failure_and_sla_bodies_name_the_run),
        cmocka_unit_test(test_slack_body_stays_within_limits_and_valid_utf8),
        cmocka_unit_test(test_webhook_body_carries_the_event_fields),
        cmocka_unit_test(test_http_answers_are_classified_with_bounded_backoff),
        cmocka_unit_test(test_webhook_url_is_scrubbed_from_errors),
        cmocka_unit_test(test_webhook_url_is_taken_from_the_connection),
        cmocka_unit_test(test_webhook_url_check_refuses_unsafe_urls),
        cmocka_unit_test(test_alert_target_resolves_from_env_connections),
        cmocka_unit_test(test_alert_config_keys_load_from_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
