/*
 * fuzz_alerts.c - the alert code that reads outside input
 * (sched/alerts.c, store/connections.c): task logs, run ids and texts
 * into Slack and webhook bodies, and webhook URLs from connections.
 *
 * Invariants: every body is valid JSON and valid UTF-8; the log tail
 * stays within its byte budget; a URL that connection_check_webhook_url
 * accepts starts with http:// or https://, and its errors are fixed
 * messages that never quote the URL; a connection built from the input
 * yields a URL or an error.
 */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sched/alerts.h"
#include "store/connections.h"
#include "core/secrets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int valid_utf8(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    while (*u) {
        int n = *u < 0x80 ? 1 : (*u >> 5) == 6 ? 2 : (*u >> 4) == 14 ? 3 : (*u >> 3) == 30 ? 4 : 0;
        if (n == 0)
            return 0;
        for (int i = 1; i < n; i++)
            if ((u[i] & 0xC0) != 0x80)
                return 0;
        u += n;
    }
    return 1;
}

static void check_body(const alert_msg_t *m, alert_format_t fmt)
{
    char *s = alerts_build_body(m, fmt);
    if (!s)
        return; /* out of memory */
    if (!valid_utf8(s))
        abort();
    cJSON *j = cJSON_Parse(s);
    if (!j)
        abort();
    cJSON_Delete(j);
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf, err[512], host[256];
    if (size > 200000)
        return 0;
    buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';

    /* the log tail, both ways */
    for (int slack = 0; slack < 2; slack++) {
        char *t = alerts_log_tail(buf, ALERTS_LOG_LINES, ALERTS_LOG_MAX_CHARS, slack);
        if (t && (strlen(t) > ALERTS_LOG_MAX_CHARS || !valid_utf8(t)))
            abort();
        free(t);
    }

    /* the input as every free-text field of a message */
    alert_msg_t m;
    alerts_msg_init(&m);
    m.kind = (alert_event_kind_t)(size % 8);
    m.dag_id = strdup(buf);
    m.task_id = size % 2 ? strdup(buf) : NULL;
    m.run_id = strdup(buf);
    m.hostname = strdup(buf);
    m.log = strdup(buf);
    m.text = size % 3 ? strdup(buf) : NULL;
    m.channel = strdup(buf);
    m.conn_id = strdup(buf);
    m.try_number = (int)(size % 5);
    m.max_tries = (int)(size % 3);
    m.duration = (double)size / 7.0;
    m.log_url = alerts_log_url(buf, buf, buf, m.task_id, (int)(size % 4) - 1);
    check_body(&m, ALERT_FMT_SLACK);
    check_body(&m, ALERT_FMT_WEBHOOK);
    alerts_msg_clear(&m);

    /* the input as a URL, and as the parts of a webhook connection */
    err[0] = '\0';
    if (connection_check_webhook_url(buf, host, sizeof(host), err, sizeof(err)) == 0) {
        if (strncasecmp(buf, "http://", 7) && strncasecmp(buf, "https://", 8))
            abort();
    } else if (strncmp(err, "the webhook URL ", 16) != 0 || strlen(err) > 200) {
        abort(); /* a fixed message, never holding the URL */
    }
    static const char *const types[] = {"slack_webhook", "webhook", "https", "http"};
    connection_t *c = connection_new();
    if (c) {
        c->conn_id = strdup("fuzz");
        c->conn_type = strdup(types[size % 4]);
        c->host = size % 2 ? strdup(buf) : NULL;
        c->password = size % 3 ? strdup(buf) : NULL;
        c->schema = size % 5 ? strdup(buf) : NULL;
        c->port = size % 7 ? -1 : (int)(size % 65536);
        char *url = NULL;
        if (connection_webhook_url(c, &url, err, sizeof(err)) == 0) {
            if (!url)
                abort();
            connection_check_webhook_url(url, NULL, 0, err, sizeof(err));
        }
        secrets_free_str(url);
        connection_validate(c, err, sizeof(err));
        connection_free(c);
    }
    free(buf);
    return 0;
}
