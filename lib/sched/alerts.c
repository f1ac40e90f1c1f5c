/*
 * alerts.c - see alerts.h.
 *
 * Messages are built with cJSON from an alert_msg_t. Every string that
 * goes into a body passes through sanitize(): a receiver (Slack first)
 * refuses a payload that is not valid UTF-8, and task logs and run ids
 * can hold anything. Slack's limits are kept by construction: a header
 * of at most 150 characters, sections of at most 3000, fields of at most
 * 2000, button URLs of at most 3000.
 */
#include "sched/alerts.h"

#include "core/utf8.h"
#include "model/dag.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "store/connections.h"
#include "store/outbox.h"
#include "core/errbuf.h"
#include "core/strbuf.h"
#include "store/taskrender.h"
#include "model/template.h"

#define SLACK_HEADER_MAX 150
#define SLACK_FIELD_MAX 1900
#define SLACK_URL_MAX 3000
#define RESPONSE_KEEP 512 /* bytes of an answer kept for error messages */
#define LOG_MARK "[...]\n"
#define ELLIPSIS "\xE2\x80\xA6"
#define ZWSP "\xE2\x80\x8B"

/*
 * Valid UTF-8 from s[0..n): invalid bytes become U+FFFD; control
 * characters are dropped except newline and tab (and, unless keep_lines,
 * those become spaces).
 */
static void sanitize(strbuf_t *b, const char *s, size_t n, bool keep_lines)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = u[i];
        if (c < 0x80) {
            if (c == '\n' || c == '\t')
                strbuf_putn(b, keep_lines ? (const char *)&u[i] : " ", 1);
            else if (c >= 0x20 && c != 0x7f)
                strbuf_putn(b, (const char *)&u[i], 1);
            i++;
            continue;
        }
        int l = utf8_decode(u + i, n - i, NULL);
        if (l <= 0) {
            strbuf_puts(b, "\xEF\xBF\xBD");
            i++;
        } else {
            strbuf_putn(b, (const char *)&u[i], (size_t)l);
            i += (size_t)l;
        }
    }
}

/* sanitize() of s into a new string, cut to max bytes (on a character, "…" added). */
static char *clean(const char *s, size_t max, bool keep_lines)
{
    strbuf_t b = {0};
    if (!s)
        s = "";
    sanitize(&b, s, strlen(s), keep_lines);
    if (!b.oom && b.len > max && max >= 4) {
        size_t cut = max - 3;
        while (cut > 0 && ((unsigned char)b.s[cut] & 0xC0) == 0x80)
            cut--;
        b.len = cut;
        b.s[cut] = '\0';
        strbuf_puts(&b, ELLIPSIS);
    }
    return strbuf_take(&b);
}

/*
 * Slack mrkdwn escaping of & < > (Slack's three control characters) of a
 * sanitized string, at most max bytes: whole characters and entities
 * only, "…" marking a cut.
 */
static void mrkdwn_escape(strbuf_t *b, const char *s, size_t max)
{
    size_t used = 0, budget = max > 3 ? max - 3 : 0;
    bool fits = strlen(s) * 5 <= max;
    while (*s) {
        const char *e = NULL;
        size_t n = 1;
        if (*s == '&')
            e = "&amp;";
        else if (*s == '<')
            e = "&lt;";
        else if (*s == '>')
            e = "&gt;";
        else
            while (((unsigned char)s[n] & 0xC0) == 0x80)
                n++;
        size_t cost = e ? strlen(e) : n;
        if (!fits && used + cost > budget) {
            strbuf_puts(b, ELLIPSIS);
            return;
        }
        if (e)
            strbuf_puts(b, e);
        else
            strbuf_putn(b, s, n);
        used += cost;
        s += n;
    }
}

/* ---- kinds ------------------------------------------------------------ */

static const char *const kind_names[] = {
    [ALERT_EV_TASK_FAILURE] = "task_failure", [ALERT_EV_TASK_RETRY] = "task_retry",
    [ALERT_EV_TASK_SUCCESS] = "task_success", [ALERT_EV_TASK_SKIPPED] = "task_skipped",
    [ALERT_EV_DAG_FAILURE] = "dag_failure",   [ALERT_EV_DAG_SUCCESS] = "dag_success",
    [ALERT_EV_SLA_MISS] = "sla_miss",         [ALERT_EV_TEST] = "test",
};

int alerts_kind_parse(const char *s, alert_event_kind_t *out)
{
    for (size_t i = 0; s && i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
        if (strcmp(s, kind_names[i]) == 0) {
            *out = (alert_event_kind_t)i;
            return 0;
        }
    return -1;
}

const char *alerts_kind_name(alert_event_kind_t kind)
{
    if ((size_t)kind < sizeof(kind_names) / sizeof(kind_names[0]))
        return kind_names[kind];
    return "unknown";
}

static bool is_task_kind(alert_event_kind_t k)
{
    return k == ALERT_EV_TASK_FAILURE || k == ALERT_EV_TASK_RETRY || k == ALERT_EV_TASK_SUCCESS ||
           k == ALERT_EV_TASK_SKIPPED;
}

/* ---- choosing alerts -------------------------------------------------- */

static bool valid_conn_id(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 250)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
            return false;
    return true;
}

static bool has_conn(const cJSON *arr, const char *conn_id)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(it, "conn_id");
        if (cJSON_IsString(c) && strcmp(c->valuestring, conn_id) == 0)
            return true;
    }
    return false;
}

/* Adds one alert; false on OOM. Invalid items are skipped. */
static bool add_alert(cJSON *arr, const char *conn_id, const char *kind, const char *text,
                      const char *channel)
{
    if (!valid_conn_id(conn_id) || has_conn(arr, conn_id))
        return true;
    if (!kind || (strcmp(kind, "slack") && strcmp(kind, "webhook")))
        kind = "auto";
    return dag_alert_append(arr, conn_id, kind, text, channel);
}

static const char *json_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

cJSON *alerts_select(const cJSON *dag_alerts, const cJSON *task_alerts, alert_event_kind_t kind,
                     const config_t *cfg)
{
    const cJSON *src = NULL;
    const char *event = NULL, *def = NULL;
    cJSON *out = cJSON_CreateArray();
    if (!out)
        return NULL;
    switch (kind) {
    case ALERT_EV_TASK_FAILURE:
        src = task_alerts;
        event = "failure";
        def = cfg ? cfg->alerts.on_task_failure : NULL;
        break;
    case ALERT_EV_TASK_RETRY:
        src = task_alerts;
        event = "retry";
        def = cfg ? cfg->alerts.on_task_retry : NULL;
        break;
    case ALERT_EV_TASK_SUCCESS:
        src = task_alerts;
        event = "success";
        break;
    case ALERT_EV_DAG_FAILURE:
        src = dag_alerts;
        event = "failure";
        def = cfg ? cfg->alerts.on_dag_failure : NULL;
        break;
    case ALERT_EV_DAG_SUCCESS:
        src = dag_alerts;
        event = "success";
        break;
    case ALERT_EV_SLA_MISS:
        src = dag_alerts;
        event = "sla_miss";
        def = cfg ? cfg->alerts.on_sla_miss : NULL;
        break;
    default:
        return out;
    }
    const cJSON *list = cJSON_IsObject(src) ? cJSON_GetObjectItemCaseSensitive(src, event) : NULL;
    if (list) {
        const cJSON *it, *arr = cJSON_IsArray(list) ? list : NULL;
        cJSON_ArrayForEach(it, arr)
        {
            if (!cJSON_IsObject(it))
                continue;
            if (!add_alert(out, json_str(it, "conn_id"), json_str(it, "kind"), json_str(it, "text"),
                           json_str(it, "channel")))
                goto oom;
        }
        return out;
    }
    for (const char *p = def; p && *p;) {
        char id[256];
        size_t n = strcspn(p, ",");
        const char *s = p, *e = p + n;
        while (s < e && *s == ' ')
            s++;
        while (e > s && e[-1] == ' ')
            e--;
        if ((size_t)(e - s) < sizeof(id)) {
            memcpy(id, s, (size_t)(e - s));
            id[e - s] = '\0';
            if (!add_alert(out, id, "auto", NULL, NULL))
                goto oom;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    return out;
oom:
    cJSON_Delete(out);
    return NULL;
}

/* ---- messages --------------------------------------------------------- */

void alerts_msg_init(alert_msg_t *m)
{
    memset(m, 0, sizeof(*m));
    m->map_index = -1;
    m->duration = -1;
    m->logical_date = TS_NONE;
    m->sla_deadline = TS_NONE;
}

void alerts_msg_clear(alert_msg_t *m)
{
    free(m->dag_id);
    free(m->task_id);
    free(m->run_id);
    free(m->hostname);
    free(m->log);
    secrets_free_str(m->text);
    free(m->channel);
    free(m->log_url);
    free(m->conn_id);
    alerts_msg_init(m);
}

static int total_tries(const alert_msg_t *m)
{
    int total = m->max_tries + 1;
    return total < m->try_number ? m->try_number : total;
}

/* "task" or "task[3]" */
static void task_label(const alert_msg_t *m, char *buf, size_t n)
{
    if (m->map_index >= 0)
        snprintf(buf, n, "%s[%d]", m->task_id ? m->task_id : "", m->map_index);
    else
        snprintf(buf, n, "%s", m->task_id ? m->task_id : "");
}

static void fmt_duration(double d, char *buf, size_t n)
{
    if (d < 0) {
        snprintf(buf, n, "unknown");
        return;
    }
    if (d < 60) {
        snprintf(buf, n, "%.1f s", d);
        return;
    }
    long s = (long)(d + 0.5);
    if (s < 3600)
        snprintf(buf, n, "%ld min %02ld s", s / 60, s % 60);
    else
        snprintf(buf, n, "%ld h %02ld min %02ld s", s / 3600, (s / 60) % 60, s % 60);
}

static void fmt_time(ts_us_t t, char *buf)
{
    if (t == TS_NONE)
        snprintf(buf, TS_ISO_LEN, "unknown");
    else
        ts_format_iso_sec(t, buf);
}

/* "1/3" */
static void fmt_tries(const alert_msg_t *m, char *buf, size_t n)
{
    snprintf(buf, n, "%d/%d", m->try_number, total_tries(m));
}

/* "1/3 (will retry)", "3/3 (final)", "2/3" */
static void fmt_try(const alert_msg_t *m, char *buf, size_t n)
{
    const char *note = m->kind == ALERT_EV_TASK_FAILURE ? " (final)"
                       : m->kind == ALERT_EV_TASK_RETRY ? " (will retry)"
                                                        : "";
    snprintf(buf, n, "%d/%d%s", m->try_number, total_tries(m), note);
}

static const char *title_of(alert_event_kind_t k)
{
    switch (k) {
    case ALERT_EV_TASK_FAILURE:
        return "Task failed";
    case ALERT_EV_TASK_RETRY:
        return "Task failed, will retry";
    case ALERT_EV_TASK_SUCCESS:
        return "Task succeeded";
    case ALERT_EV_TASK_SKIPPED:
        return "Task skipped";
    case ALERT_EV_DAG_FAILURE:
        return "DAG run failed";
    case ALERT_EV_DAG_SUCCESS:
        return "DAG run succeeded";
    case ALERT_EV_SLA_MISS:
        return "SLA missed";
    case ALERT_EV_TEST:
        return "Test alert";
    }
    return "Alert";
}

static const char *emoji_of(alert_event_kind_t k)
{
    switch (k) {
    case ALERT_EV_TASK_FAILURE:
    case ALERT_EV_DAG_FAILURE:
        return ":red_circle:";
    case ALERT_EV_TASK_RETRY:
        return ":large_orange_circle:";
    case ALERT_EV_TASK_SUCCESS:
    case ALERT_EV_DAG_SUCCESS:
        return ":large_green_circle:";
    case ALERT_EV_SLA_MISS:
        return ":alarm_clock:";
    default:
        return ":information_source:";
    }
}

/* "Task failed: dag.task" (the subject, without emoji) */
static char *plain_title(const alert_msg_t *m)
{
    strbuf_t b = {0};
    char task[600];
    strbuf_puts(&b, title_of(m->kind));
    if (m->kind == ALERT_EV_TEST) {
        strbuf_puts(&b, " from updraft");
    } else if (m->dag_id) {
        strbuf_puts(&b, ": ");
        strbuf_puts(&b, m->dag_id);
        if (m->task_id) {
            task_label(m, task, sizeof(task));
            strbuf_puts(&b, ".");
            strbuf_puts(&b, task);
        }
    }
    return strbuf_take(&b);
}

char *alerts_default_text(const alert_msg_t *m)
{
    strbuf_t b = {0};
    char task[600], when[TS_ISO_LEN], tries[64];
    const char *dag = m->dag_id ? m->dag_id : "", *run = m->run_id ? m->run_id : "";
    task_label(m, task, sizeof(task));
    fmt_tries(m, tries, sizeof(tries));
    switch (m->kind) {
    case ALERT_EV_TASK_FAILURE:
        strbuf_printf(&b, "Task %s in DAG %s failed (try %s, final).", task, dag, tries);
        break;
    case ALERT_EV_TASK_RETRY:
        strbuf_printf(&b, "Task %s in DAG %s failed and will be retried (try %s).", task, dag,
                      tries);
        break;
    case ALERT_EV_TASK_SUCCESS:
        strbuf_printf(&b, "Task %s in DAG %s succeeded (try %s).", task, dag, tries);
        break;
    case ALERT_EV_TASK_SKIPPED:
        strbuf_printf(&b, "Task %s in DAG %s was skipped.", task, dag);
        break;
    case ALERT_EV_DAG_FAILURE:
        strbuf_printf(&b, "DAG run %s of %s failed.", run, dag);
        break;
    case ALERT_EV_DAG_SUCCESS:
        strbuf_printf(&b, "DAG run %s of %s succeeded.", run, dag);
        break;
    case ALERT_EV_SLA_MISS:
        fmt_time(m->sla_deadline, when);
        strbuf_printf(&b, "Task %s in DAG %s missed its SLA: not done by %s.", task, dag, when);
        break;
    case ALERT_EV_TEST:
        strbuf_printf(&b, "Test alert from updraft through connection %s: alerts sent here arrive.",
                      m->conn_id ? m->conn_id : "");
        break;
    }
    return strbuf_take(&b);
}

/* ---- the log tail ----------------------------------------------------- */

/* Bytes the character at t[i] (of len bytes) becomes once escaped. */
static size_t esc_cost(const char *t, size_t i, size_t len, size_t end, bool slack)
{
    if (!slack)
        return len;
    switch (t[i]) {
    case '&':
        return 5;
    case '<':
    case '>':
        return 4;
    case '`':
        return i + 1 < end && t[i + 1] == '`' ? 1 + strlen(ZWSP) : 1;
    default:
        return len;
    }
}

char *alerts_log_tail(const char *log, size_t max_lines, size_t max_bytes, bool slack)
{
    strbuf_t clean_b = {0}, out = {0};
    if (!log)
        log = "";
    sanitize(&clean_b, log, strlen(log), true);
    if (clean_b.oom)
        return strbuf_take(&clean_b);
    const char *t = clean_b.s ? clean_b.s : "";
    size_t n = clean_b.len;
    while (n > 0 && t[n - 1] == '\n')
        n--;
    if (n == 0 || max_lines == 0 || max_bytes == 0) {
        free(clean_b.s);
        return strdup("");
    }
    /* the start of the last max_lines lines */
    size_t start = n, lines = 0;
    while (start > 0) {
        if (t[start - 1] == '\n' && ++lines == max_lines)
            break;
        start--;
    }
    bool cut = start > 0;
    size_t total = 0;
    for (size_t i = start; i < n; i++)
        total += esc_cost(t, i, 1, n, slack);
    size_t mark = strlen(LOG_MARK);
    if (total > max_bytes || (cut && total + mark > max_bytes)) {
        /* walk back from the end, whole characters, until the budget is spent */
        size_t budget = max_bytes > mark ? max_bytes - mark : 0, used = 0, i = n;
        while (i > start) {
            size_t j = i - 1;
            while (j > start && ((unsigned char)t[j] & 0xC0) == 0x80)
                j--;
            size_t c = esc_cost(t, j, i - j, n, slack);
            if (used + c > budget)
                break;
            used += c;
            i = j;
        }
        /* prefer to start on a line */
        const char *nl = memchr(t + i, '\n', n - i);
        if (i > start && nl && t[i - 1] != '\n')
            i = (size_t)(nl - t) + 1;
        start = i;
        cut = true;
    }
    if (cut)
        strbuf_puts(&out, LOG_MARK);
    for (size_t i = start; i < n; i++) {
        if (!slack) {
            strbuf_putn(&out, t + i, 1);
        } else if (t[i] == '&') {
            strbuf_puts(&out, "&amp;");
        } else if (t[i] == '<') {
            strbuf_puts(&out, "&lt;");
        } else if (t[i] == '>') {
            strbuf_puts(&out, "&gt;");
        } else if (t[i] == '`' && i + 1 < n && t[i + 1] == '`') {
            strbuf_puts(&out, "`" ZWSP);
        } else {
            strbuf_putn(&out, t + i, 1);
        }
    }
    free(clean_b.s);
    return strbuf_take(&out);
}

/* ---- links ------------------------------------------------------------ */

static void pct(strbuf_t *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            strbuf_putn(b, (const char *)p, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            strbuf_putn(b, e, 3);
        }
    }
}

char *alerts_log_url(const char *base_url, const char *dag_id, const char *run_id,
                     const char *task_id, int map_index)
{
    strbuf_t b = {0};
    size_t n = base_url ? strlen(base_url) : 0;
    while (n > 0 && base_url[n - 1] == '/')
        n--;
    if (n)
        strbuf_putn(&b, base_url, n);
    strbuf_puts(&b, "/dags/");
    pct(&b, dag_id ? dag_id : "");
    strbuf_puts(&b, "/grid?dag_run_id=");
    pct(&b, run_id ? run_id : "");
    if (task_id) {
        strbuf_puts(&b, "&task_id=");
        pct(&b, task_id);
        if (map_index >= 0)
            strbuf_printf(&b, "&map_index=%d", map_index);
        strbuf_puts(&b, "&tab=logs");
    }
    return strbuf_take(&b);
}

/* ---- bodies ----------------------------------------------------------- */

/* Adds key: sanitized s (cut to max bytes), or null when s is NULL. */
static bool add_clean(cJSON *o, const char *key, const char *s, size_t max, bool keep_lines)
{
    if (!s)
        return cJSON_AddNullToObject(o, key) != NULL;
    char *c = clean(s, max, keep_lines);
    bool ok = c && cJSON_AddStringToObject(o, key, c);
    free(c);
    return ok;
}

static cJSON *text_obj(const char *type, const char *text)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "type", type) ||
        !cJSON_AddStringToObject(o, "text", text)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* Adds {"type": "mrkdwn", "text": "*label*\nvalue"} to fields, value escaped and cut. */
static bool add_field(cJSON *fields, const char *label, const char *value)
{
    strbuf_t b = {0};
    char *v = clean(value ? value : "", SIZE_MAX, false);
    if (!v)
        return false;
    strbuf_printf(&b, "*%s*\n", label);
    mrkdwn_escape(&b, v, SLACK_FIELD_MAX);
    free(v);
    char *s = strbuf_take(&b);
    cJSON *f = s ? text_obj("mrkdwn", s) : NULL;
    free(s);
    if (!f || !cJSON_AddItemToArray(fields, f)) {
        cJSON_Delete(f);
        return false;
    }
    return true;
}

static bool add_block(cJSON *blocks, cJSON *block)
{
    if (!block || !cJSON_AddItemToArray(blocks, block)) {
        cJSON_Delete(block);
        return false;
    }
    return true;
}

/* A section block holding mrkdwn text. */
static cJSON *section(const char *mrkdwn)
{
    cJSON *s = cJSON_CreateObject(), *t = text_obj("mrkdwn", mrkdwn);
    if (!s || !t || !cJSON_AddStringToObject(s, "type", "section") ||
        !cJSON_AddItemToObject(s, "text", t)) {
        cJSON_Delete(s);
        cJSON_Delete(t);
        return NULL;
    }
    return s;
}

static bool has_log(const alert_msg_t *m)
{
    return m->log && (m->kind == ALERT_EV_TASK_FAILURE || m->kind == ALERT_EV_TASK_RETRY ||
                      m->kind == ALERT_EV_TASK_SUCCESS);
}

static bool slack_fields(cJSON *fields, const alert_msg_t *m)
{
    char task[600], when[TS_ISO_LEN], buf[128];
    bool ok = true;
    if (m->kind == ALERT_EV_TEST) {
        fmt_time(ts_now(), when);
        return add_field(fields, "Connection", m->conn_id) &&
               add_field(fields, "Sent from", m->hostname ? m->hostname : "") &&
               add_field(fields, "Time", when);
    }
    task_label(m, task, sizeof(task));
    fmt_time(m->logical_date, when);
    ok = ok && add_field(fields, "DAG", m->dag_id);
    if (m->task_id)
        ok = ok && add_field(fields, "Task", task);
    ok = ok && add_field(fields, "Run", m->run_id);
    ok = ok && add_field(fields, "Logical date", when);
    if (is_task_kind(m->kind) && m->try_number > 0) {
        fmt_try(m, buf, sizeof(buf));
        ok = ok && add_field(fields, "Try", buf);
    }
    if (m->kind == ALERT_EV_SLA_MISS) {
        fmt_time(m->sla_deadline, when);
        ok = ok && add_field(fields, "SLA deadline", when);
    }
    if (m->kind != ALERT_EV_SLA_MISS) {
        fmt_duration(m->duration, buf, sizeof(buf));
        ok = ok && add_field(fields, "Duration", buf);
    }
    if (is_task_kind(m->kind))
        ok = ok && add_field(fields, "Host", m->hostname && *m->hostname ? m->hostname : "unknown");
    return ok;
}

static char *build_slack(const alert_msg_t *m)
{
    cJSON *root = cJSON_CreateObject(), *blocks = NULL, *fields = NULL;
    char *title = plain_title(m), *deftext = alerts_default_text(m), *out = NULL;
    char *text = NULL, *header = NULL, *tail = NULL;
    strbuf_t b = {0};
    bool ok = root && title && deftext;

    /* the notification text: what the author wrote, as written (Slack
     * mrkdwn), or the default text escaped */
    if (ok && m->text) {
        text = clean(m->text, ALERTS_TEXT_MAX, true);
    } else if (ok) {
        char *c = clean(deftext, ALERTS_TEXT_MAX, true);
        if (c)
            mrkdwn_escape(&b, c, ALERTS_TEXT_MAX);
        free(c);
        text = strbuf_take(&b);
    }
    ok = ok && text && cJSON_AddStringToObject(root, "text", text);
    if (ok && m->channel)
        ok = add_clean(root, "channel", m->channel, 200, false);

    /* header: plain text, emoji codes allowed */
    if (ok) {
        strbuf_t h = {0};
        strbuf_puts(&h, emoji_of(m->kind));
        strbuf_puts(&h, " ");
        strbuf_puts(&h, title);
        char *raw = strbuf_take(&h);
        header = raw ? clean(raw, SLACK_HEADER_MAX - 2, false) : NULL;
        free(raw);
        ok = header != NULL;
    }
    ok = ok && (blocks = cJSON_AddArrayToObject(root, "blocks")) != NULL;
    if (ok) {
        cJSON *hb = cJSON_CreateObject(), *ht = text_obj("plain_text", header);
        bool hok = hb && ht && cJSON_AddStringToObject(hb, "type", "header") &&
                   cJSON_AddBoolToObject(ht, "emoji", 1) && cJSON_AddItemToObject(hb, "text", ht);
        if (!hok) {
            cJSON_Delete(ht);
            cJSON_Delete(hb);
            hb = NULL;
        }
        ok = add_block(blocks, hb);
    }
    ok = ok && add_block(blocks, section(text));
    if (ok) {
        cJSON *fb = cJSON_CreateObject();
        ok = fb && cJSON_AddStringToObject(fb, "type", "section") &&
             (fields = cJSON_AddArrayToObject(fb, "fields")) != NULL && slack_fields(fields, m);
        if (!ok)
            cJSON_Delete(fb);
        else
            ok = add_block(blocks, fb);
    }
    if (ok && has_log(m)) {
        tail = alerts_log_tail(m->log, ALERTS_LOG_LINES, ALERTS_LOG_MAX_CHARS, true);
        strbuf_t l = {0};
        if (tail && *tail) {
            strbuf_printf(&l, "*Log* (last %d lines of try %d)\n```\n", ALERTS_LOG_LINES,
                          m->try_number);
            strbuf_puts(&l, tail);
            strbuf_puts(&l, "\n```");
        } else {
            strbuf_puts(&l, "*Log*: no output");
        }
        char *ls = strbuf_take(&l);
        ok = ls && tail && add_block(blocks, section(ls));
        free(ls);
    }
    if (ok && m->log_url && strlen(m->log_url) <= SLACK_URL_MAX) {
        cJSON *ab = cJSON_CreateObject(), *els = NULL, *btn = cJSON_CreateObject();
        cJSON *bt = text_obj("plain_text", m->task_id ? "View log" : "View run");
        bool aok = ab && btn && bt && cJSON_AddStringToObject(ab, "type", "actions") &&
                   (els = cJSON_AddArrayToObject(ab, "elements")) != NULL &&
                   cJSON_AddStringToObject(btn, "type", "button") &&
                   cJSON_AddItemToObject(btn, "text", bt);
        if (aok) {
            bt = NULL;
            aok = add_clean(btn, "url", m->log_url, SLACK_URL_MAX, false) &&
                  cJSON_AddItemToArray(els, btn);
            if (aok)
                btn = NULL;
        }
        cJSON_Delete(bt);
        cJSON_Delete(btn);
        if (!aok) {
            cJSON_Delete(ab);
            ok = false;
        } else {
            ok = add_block(blocks, ab);
        }
    }
    if (ok)
        out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    free(title);
    free(deftext);
    secrets_free_str(text);
    free(header);
    free(tail);
    return out;
}

static bool add_time(cJSON *o, const char *key, ts_us_t t)
{
    char buf[TS_ISO_LEN];
    if (t == TS_NONE)
        return cJSON_AddNullToObject(o, key) != NULL;
    return cJSON_AddStringToObject(o, key, ts_format_iso(t, buf)) != NULL;
}

static char *build_webhook(const alert_msg_t *m)
{
    cJSON *o = cJSON_CreateObject();
    char *title = plain_title(m), *deftext = alerts_default_text(m), *out = NULL, *tail = NULL;
    char tries[64];
    bool task = is_task_kind(m->kind) && m->try_number > 0;
    bool ok = o && title && deftext;
    ok = ok && cJSON_AddStringToObject(o, "event", alerts_kind_name(m->kind));
    ok = ok && add_clean(o, "title", title, 500, false);
    ok = ok && add_clean(o, "text", m->text ? m->text : deftext, ALERTS_TEXT_MAX, true);
    ok = ok && add_clean(o, "dag_id", m->dag_id, 1000, false);
    ok = ok && add_clean(o, "task_id", m->task_id, 1000, false);
    ok = ok && add_clean(o, "run_id", m->run_id, 1000, false);
    ok = ok && cJSON_AddNumberToObject(o, "map_index", m->map_index);
    ok = ok && add_time(o, "logical_date", m->logical_date);
    if (task) {
        fmt_tries(m, tries, sizeof(tries));
        ok = ok && cJSON_AddNumberToObject(o, "try_number", m->try_number) &&
             cJSON_AddNumberToObject(o, "max_tries", m->max_tries) &&
             cJSON_AddStringToObject(o, "tries", tries);
    } else {
        ok = ok && cJSON_AddNullToObject(o, "try_number") &&
             cJSON_AddNullToObject(o, "max_tries") && cJSON_AddNullToObject(o, "tries");
    }
    if (m->kind == ALERT_EV_TASK_FAILURE || m->kind == ALERT_EV_TASK_RETRY)
        ok = ok && cJSON_AddBoolToObject(o, "final", m->kind == ALERT_EV_TASK_FAILURE);
    else
        ok = ok && cJSON_AddNullToObject(o, "final");
    if (m->duration >= 0)
        ok = ok && cJSON_AddNumberToObject(o, "duration", m->duration);
    else
        ok = ok && cJSON_AddNullToObject(o, "duration");
    ok = ok &&
         add_clean(o, "hostname", m->hostname && *m->hostname ? m->hostname : NULL, 300, false);
    if (ok && has_log(m)) {
        tail = alerts_log_tail(m->log, ALERTS_LOG_LINES, ALERTS_LOG_MAX_CHARS, false);
        ok = tail && cJSON_AddStringToObject(o, "log", tail);
    } else {
        ok = ok && cJSON_AddNullToObject(o, "log");
    }
    ok = ok && add_clean(o, "log_url", m->log_url, SLACK_URL_MAX, false);
    ok = ok && add_time(o, "sla_deadline", m->sla_deadline);
    ok = ok && add_clean(o, "channel", m->channel, 200, false);
    if (m->kind == ALERT_EV_TEST)
        ok = ok && add_clean(o, "conn_id", m->conn_id, 300, false);
    if (ok)
        out = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    free(title);
    free(deftext);
    free(tail);
    return out;
}

char *alerts_build_body(const alert_msg_t *m, alert_format_t fmt)
{
    return fmt == ALERT_FMT_SLACK ? build_slack(m) : build_webhook(m);
}

/* ---- loading a message ------------------------------------------------ */

static char *dup_col(const PGresult *r, int col)
{
    const char *s = db_get_str(r, 0, col);
    return s ? strdup(s) : NULL;
}

static ts_us_t ts_col(const PGresult *r, int col)
{
    return db_get_str(r, 0, col) ? db_get_i64(r, 0, col) : TS_NONE;
}

/* Replaces every occurrence of each secret in *text with "***". */
static int mask_secrets(char **text, char *const *secrets, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *sec = secrets[i];
        size_t sl = strlen(sec);
        if (sl == 0 || !strstr(*text, sec))
            continue;
        strbuf_t b = {0};
        const char *p = *text, *hit;
        while ((hit = strstr(p, sec))) {
            strbuf_putn(&b, p, (size_t)(hit - p));
            strbuf_puts(&b, "***");
            p = hit + sl;
        }
        strbuf_puts(&b, p);
        char *masked = strbuf_take(&b);
        if (!masked)
            return -1;
        secrets_free_str(*text);
        *text = masked;
    }
    return 0;
}

/* Renders tmpl with the message's task context into m->text. -1 on OOM only. */
static int render_text(db_t *db, const secrets_keyring_t *ring, const char *tmpl, const PGresult *r,
                       alert_msg_t *m)
{
    taskrender_t tr;
    template_result_t res = {0};
    char msg[512] = "";
    taskrender_init(&tr, db, ring);
    tr.ctx.dag_id = m->dag_id;
    tr.ctx.task_id = m->task_id;
    tr.ctx.run_id = m->run_id;
    tr.ctx.try_number = m->try_number > 0 ? m->try_number : 1;
    tr.ctx.map_index = m->map_index;
    tr.ctx.logical_date = m->logical_date;
    tr.ctx.data_interval_start = ts_col(r, 10);
    tr.ctx.data_interval_end = ts_col(r, 11);
    tr.ctx.params_json = tr.ctx.conf_json = db_get_str(r, 0, 12);
    tr.ctx.max_output = 65536;
    int rc = 0;
    if (strstr(tmpl, "prev_data_interval") &&
        taskrender_prev_interval(&tr, db_get_i64(r, 0, 13), msg, sizeof(msg)) < 0)
        rc = -1;
    if (rc == 0)
        rc = template_render(tmpl, strlen(tmpl), &tr.ctx, &res, msg, sizeof(msg));
    if (rc == 0) {
        m->text = res.text;
        res.text = NULL;
        if (mask_secrets(&m->text, res.secrets, res.nsecrets) < 0) {
            template_result_free(&res);
            return -1;
        }
        template_result_free(&res);
        return 0;
    }
    /* the default text, and why the author's text is not there */
    char *def = alerts_default_text(m);
    strbuf_t b = {0};
    if (!def)
        return -1;
    strbuf_puts(&b, def);
    strbuf_puts(&b, "\n(the alert text could not be rendered: ");
    strbuf_puts(&b, msg);
    strbuf_puts(&b, ")");
    free(def);
    m->text = strbuf_take(&b);
    return m->text ? 0 : -1;
}

int alerts_load_msg(db_t *db, const secrets_keyring_t *ring, const char *base_url, int64_t event_id,
                    const char *text_tmpl, const char *channel, alert_msg_t *out, char *err,
                    size_t errlen)
{
    PGresult *r = NULL;
    alerts_msg_init(out);
    int rc = outbox_event_get(db, event_id, ALERTS_LOG_FETCH, &r);
    if (rc == UPDRAFT_ENOTFOUND)
        return 0;
    if (rc < 0) {
        errbuf_set(err, errlen, "cannot read callback event %" PRId64 ": %s", event_id,
                   db_error(db));
        return -1;
    }
    alert_msg_t *m = out;
    if (alerts_kind_parse(db_get_str(r, 0, 0), &m->kind) < 0)
        m->kind = ALERT_EV_TASK_FAILURE;
    m->dag_id = dup_col(r, 1);
    m->run_id = dup_col(r, 2);
    m->task_id = dup_col(r, 3);
    m->map_index = db_get_str(r, 0, 4) ? db_get_int(r, 0, 4) : -1;
    m->try_number = db_get_str(r, 0, 5) ? db_get_int(r, 0, 5) : 0;
    m->max_tries = db_get_str(r, 0, 6) ? db_get_int(r, 0, 6) : 0;
    m->hostname = dup_col(r, 7);
    m->duration = db_get_str(r, 0, 8) ? strtod(db_get_str(r, 0, 8), NULL) : -1;
    m->logical_date = ts_col(r, 9);
    m->log = dup_col(r, 14);
    m->sla_deadline = ts_col(r, 15);
    m->log_url = alerts_log_url(base_url, m->dag_id, m->run_id, m->task_id, m->map_index);
    m->channel = channel ? strdup(channel) : NULL;
    bool oom = !m->dag_id || !m->run_id || !m->log_url || (channel && !m->channel);
    if (!oom && text_tmpl && render_text(db, ring, text_tmpl, r, m) < 0)
        oom = true;
    PQclear(r);
    if (oom) {
        alerts_msg_clear(out);
        errbuf_set(err, errlen, "out of memory");
        return -1;
    }
    return 1;
}

int alerts_resolve_target(db_t *db, const secrets_keyring_t *ring, const char *conn_id,
                          const char *kind, char **url, alert_format_t *fmt, char *err,
                          size_t errlen)
{
    connection_t *c = NULL;
    char why[300], host[256];
    int rc;

    *url = NULL;
    rc = connections_env_lookup(conn_id, &c, why, sizeof(why));
    if (rc == UPDRAFT_ENOTFOUND && db) {
        rc = connections_get(db, ring, conn_id, &c, why, sizeof(why));
        if (rc == UPDRAFT_EDB) {
            errbuf_set(err, errlen, "%s", why);
            return -2;
        }
    }
    if (rc == UPDRAFT_ENOTFOUND) {
        errbuf_set(err, errlen, "connection '%s' not found", conn_id);
        return -1;
    }
    if (rc < 0) {
        errbuf_set(err, errlen, "%s", why);
        return -1;
    }
    if (connection_webhook_url(c, url, why, sizeof(why)) < 0 ||
        connection_check_webhook_url(*url, host, sizeof(host), why, sizeof(why)) < 0) {
        errbuf_set(err, errlen, "connection '%s': %s", conn_id, why);
        secrets_free_str(*url);
        *url = NULL;
        connection_free(c);
        return -1;
    }
    if (kind && strcmp(kind, "slack") == 0)
        *fmt = ALERT_FMT_SLACK;
    else if (kind && strcmp(kind, "webhook") == 0)
        *fmt = ALERT_FMT_WEBHOOK;
    else
        *fmt = connection_is_slack_type(c->conn_type) || strcmp(host, "hooks.slack.com") == 0
                   ? ALERT_FMT_SLACK
                   : ALERT_FMT_WEBHOOK;
    connection_free(c);
    return 0;
}

/* Replaces url, and its path when long enough to be a token, by "***" in s. */
void alerts_scrub_url(char *s, size_t cap, const char *url)
{
    if (!url || !*url)
        return;
    const char *parts[2] = {url, NULL};
    const char *sep = strstr(url, "://");
    const char *path = sep ? strchr(sep + 3, '/') : NULL;
    if (path && strlen(path) >= 8)
        parts[1] = path;
    for (int i = 0; i < 2; i++) {
        const char *p = parts[i];
        if (!p)
            continue;
        size_t pl = strlen(p);
        char *hit;
        while ((hit = strstr(s, p)) != NULL) {
            size_t rest = strlen(hit + pl);
            memcpy(hit, "***", 3);
            memmove(hit + 3, hit + pl, rest + 1);
        }
    }
    s[cap - 1] = '\0';
}

/* ---- sending ---------------------------------------------------------- */

int alerts_backoff_ms(int attempts, int max_backoff_sec, unsigned *seed)
{
    int64_t cap = (int64_t)max_backoff_sec * 1000, d = 1000;
    for (int i = 1; i < attempts && d < cap; i++)
        d *= 2;
    if (d > cap)
        d = cap;
    if (d < 2)
        return (int)d;
    return (int)(d / 2 + rand_r(seed) % (d / 2 + 1));
}

void alerts_classify(long status, int curl_code, long retry_after_sec, const char *body,
                     int attempts, const alert_policy_t *p, unsigned *seed, alert_result_t *out)
{
    char *snippet = NULL;
    memset(out, 0, sizeof(*out));
    out->status = status;
    if (curl_code != CURLE_OK) {
        CURLcode cc = (CURLcode)curl_code;
        /* the generic message only: curl's error buffer may hold the URL */
        snprintf(out->error, sizeof(out->error), "%s", curl_easy_strerror(cc));
        switch (cc) {
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_URL_MALFORMAT:
        case CURLE_NOT_BUILT_IN:
        case CURLE_TOO_MANY_REDIRECTS:
            out->outcome = ALERT_FAILED;
            break;
        default:
            out->outcome = ALERT_RETRY;
            out->delay_ms = alerts_backoff_ms(attempts, p->max_backoff_sec, seed);
        }
        return;
    }
    if (status >= 200 && status < 300) {
        out->outcome = ALERT_SENT;
        return;
    }
    snippet = clean(body ? body : "", 160, false);
    snprintf(out->error, sizeof(out->error), "HTTP %ld%s%s", status,
             snippet && *snippet ? ": " : "", snippet ? snippet : "");
    free(snippet);
    if (status == 429) {
        out->outcome = ALERT_RETRY;
        if (retry_after_sec >= 0) {
            long s = retry_after_sec < 1 ? 1 : retry_after_sec;
            if (s > p->max_retry_after_sec)
                s = p->max_retry_after_sec;
            out->delay_ms = (int)(s * 1000);
        } else {
            out->delay_ms = alerts_backoff_ms(attempts, p->max_backoff_sec, seed);
        }
    } else if (status >= 500 || status == 408) {
        out->outcome = ALERT_RETRY;
        out->delay_ms = alerts_backoff_ms(attempts, p->max_backoff_sec, seed);
    } else {
        out->outcome = ALERT_FAILED;
    }
}

struct alert_request {
    CURL *h;
    struct curl_slist *headers;
    char *url;
    char *body;
    char resp[RESPONSE_KEEP + 1];
    size_t resp_len;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    alert_request_t *r = ud;
    size_t n = size * nmemb, room = RESPONSE_KEEP - r->resp_len;
    size_t take = n < room ? n : room;
    memcpy(r->resp + r->resp_len, ptr, take);
    r->resp_len += take;
    r->resp[r->resp_len] = '\0';
    return n;
}

alert_request_t *alerts_request_new(const char *url, const char *body, int timeout_sec, char *err,
                                    size_t errlen)
{
    alert_request_t *r = calloc(1, sizeof(*r));
    if (!r || !(r->url = strdup(url)) || !(r->body = strdup(body)) || !(r->h = curl_easy_init())) {
        errbuf_set(err, errlen, "out of memory");
        alerts_request_free(r);
        return NULL;
    }
    struct curl_slist *h1 =
        curl_slist_append(NULL, "Content-Type: application/json; charset=utf-8");
    struct curl_slist *h2 = h1 ? curl_slist_append(h1, "Expect:") : NULL;
    if (!h2) {
        curl_slist_free_all(h1);
        errbuf_set(err, errlen, "out of memory");
        alerts_request_free(r);
        return NULL;
    }
    r->headers = h2;
    long ms = (long)timeout_sec * 1000;
    CURL *h = r->h;
    bool ok =
        curl_easy_setopt(h, CURLOPT_URL, r->url) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_POST, 1L) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(r->body)) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, r->headers) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_USERAGENT, "updraft-alerts/1") == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ms) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, ms < 10000 ? ms : 10000L) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_WRITEDATA, r) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_PRIVATE, r) == CURLE_OK;
    if (!ok) {
        errbuf_set(err, errlen, "cannot set up the HTTP request");
        alerts_request_free(r);
        return NULL;
    }
    return r;
}

CURL *alerts_request_handle(alert_request_t *r)
{
    return r->h;
}

void alerts_request_result(alert_request_t *r, CURLcode rc, int attempts, const alert_policy_t *p,
                           unsigned *seed, alert_result_t *out)
{
    long status = 0;
    curl_off_t retry_after = -1;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &status);
        if (curl_easy_getinfo(r->h, CURLINFO_RETRY_AFTER, &retry_after) != CURLE_OK ||
            retry_after <= 0) {
            /* absent, or a date in the past: curl reports 0 for both */
            struct curl_header *hd = NULL;
            retry_after =
                curl_easy_header(r->h, "Retry-After", 0, CURLH_HEADER, -1, &hd) == CURLHE_OK ? 0
                                                                                             : -1;
        }
    }
    alerts_classify(status, rc, (long)retry_after, r->resp, attempts, p, seed, out);
}

void alerts_request_free(alert_request_t *r)
{
    if (!r)
        return;
    if (r->h)
        curl_easy_cleanup(r->h);
    curl_slist_free_all(r->headers);
    secrets_free_str(r->url);
    free(r->body);
    free(r);
}

int alerts_send_sync(const char *url, const char *body, int timeout_sec, const alert_policy_t *p,
                     alert_result_t *out)
{
    char err[128];
    unsigned seed = 1;
    alert_request_t *r = alerts_request_new(url, body, timeout_sec, err, sizeof(err));
    if (!r) {
        memset(out, 0, sizeof(*out));
        out->outcome = ALERT_FAILED;
        snprintf(out->error, sizeof(out->error), "%s", err);
        return -1;
    }
    CURLcode rc = curl_easy_perform(r->h);
    alerts_request_result(r, rc, 1, p, &seed, out);
    alerts_request_free(r);
    return out->outcome == ALERT_SENT ? 0 : -1;
}
