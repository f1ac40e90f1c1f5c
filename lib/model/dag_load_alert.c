/*
 * dag_load_alert.c - the loader's callbacks and alerts: on_*_callback and
 * on_*_alert values of DAGs and tasks (docs/dag-format.md "Alerts").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/dag_load_int.h"

/* ------------------------------------------------------------------ */
/* callbacks and alerts (docs/dag-format.md "Alerts")                  */

/* Airflow's Slack webhook notifier, by the last component of its path. */
static bool is_slack_notifier(const char *path)
{
    const char *dot = strrchr(path, '.');
    const char *name = dot ? dot + 1 : path;
    return strcmp(name, "send_slack_webhook_notification") == 0 ||
           strcmp(name, "SlackWebhookNotifier") == 0;
}

/* Adds {"conn_id", "kind", "text"?, "channel"?} to arr. */
static bool alert_add(ctx_t *c, cJSON *arr, const char *conn_id, const char *kind, const char *text,
                      const char *channel)
{
    if (!dag_alert_append(arr, conn_id, kind, text, channel)) {
        c->oom = true;
        return false;
    }
    return true;
}

static bool alert_conn_valid(ctx_t *c, const ynode_t *n, const char *s, const char *what)
{
    if (!*s || strlen(s) > DAG_ID_MAX) {
        ERR(c, n, "%s: invalid connection id '%.100s'", what, s);
        return false;
    }
    return true;
}

/* One callback or alert (not a list) into arr. */
static bool parse_alert_one(ctx_t *c, const ynode_t *v, const char *what, cJSON *arr)
{
    const char *s;
    if (dl_is_scalar(v) && !dl_is_null(v)) {
        if (!dl_get_str(c, v, what, &s))
            return false;
        if (strchr(s, '.')) { /* a Python path */
            if (is_slack_notifier(s))
                return alert_add(c, arr, "slack_default", "slack", NULL, NULL);
            WARN(c, v,
                 "%s: Python callback '%.200s' is not run (use Airflow's Slack webhook "
                 "notifier or the native form {slack: CONN_ID})",
                 what, s);
            return true;
        }
        /* a bare connection id: Slack or webhook by the connection's type */
        return alert_conn_valid(c, v, s, what) && alert_add(c, arr, s, "auto", NULL, NULL);
    }
    if (v->kind != Y_MAP) {
        ERR(c, v, "%s must be a callback path, a connection id or a mapping, not %s", what,
            dl_kind_name(v));
        return false;
    }
    dl_warn_dups(c, v);
    const ynode_t *cb = dl_map_get(v, "callback");
    if (!cb)
        cb = dl_map_get(v, "__type__");
    const ynode_t *slack = dl_map_get(v, "slack"), *hook = dl_map_get(v, "webhook");
    const ynode_t *textn = dl_map_get(v, "text"), *chan = dl_map_get(v, "channel");
    const char *text = NULL, *channel = NULL, *conn = NULL, *kind = NULL;
    if (textn && !dl_is_null(textn) && !dl_get_str(c, textn, what, &text))
        return false;
    if (chan && !dl_is_null(chan) && !dl_get_str(c, chan, what, &channel))
        return false;
    if (cb) {
        if (!dl_get_str(c, cb, what, &s))
            return false;
        if (!is_slack_notifier(s)) {
            WARN(c, cb,
                 "%s: Python callback '%.200s' is not run (use Airflow's Slack webhook "
                 "notifier or the native form {slack: CONN_ID})",
                 what, s);
            return true;
        }
        const ynode_t *cid = dl_map_get(v, "slack_webhook_conn_id");
        conn = "slack_default";
        if (cid && !dl_get_str(c, cid, what, &conn))
            return false;
        kind = "slack";
        for (size_t i = 0; i < MAP_PAIRS(v); i++) {
            const ynode_t *k = MAP_KEY(v, i);
            if (!dl_key_is(k, "callback") && !dl_key_is(k, "__type__") &&
                !dl_key_is(k, "slack_webhook_conn_id") && !dl_key_is(k, "text") &&
                !dl_key_is(k, "channel"))
                WARN(c, k, "%s: notifier argument '%.100s' is ignored", what, dl_key_text(k));
        }
    } else if (slack || hook) {
        if (slack && hook) {
            ERR(c, v, "%s: give slack or webhook, not both", what);
            return false;
        }
        if (!dl_get_str(c, slack ? slack : hook, what, &conn))
            return false;
        kind = slack ? "slack" : "webhook";
        for (size_t i = 0; i < MAP_PAIRS(v); i++) {
            const ynode_t *k = MAP_KEY(v, i);
            if (!dl_key_is(k, "slack") && !dl_key_is(k, "webhook") && !dl_key_is(k, "text") &&
                !dl_key_is(k, "channel")) {
                ERR(c, k, "%s: unknown key '%.100s' (expected slack or webhook, channel, text)",
                    what, dl_key_text(k));
                return false;
            }
        }
    } else {
        ERR(c, v,
            "%s: a mapping needs slack: CONN_ID, webhook: CONN_ID, or callback: "
            "<Slack webhook notifier>",
            what);
        return false;
    }
    return alert_conn_valid(c, v, conn, what) && alert_add(c, arr, conn, kind, text, channel);
}

/*
 * A callback or alert key (on_failure_callback, on_failure_alert, ...),
 * one or a list, into (*alerts)[event], replacing what default_args set.
 */
bool dl_parse_alerts(ctx_t *c, const ynode_t *k, const ynode_t *v, const char *event,
                     cJSON **alerts, const char *owner)
{
    char what[300];
    if (strncmp(owner, dl_key_text(k), strlen(dl_key_text(k))) == 0)
        snprintf(what, sizeof what, "%s", owner); /* already "key of task 't'" */
    else
        snprintf(what, sizeof what, "%s of %s", dl_key_text(k), owner);
    cJSON *arr = cJSON_CreateArray();
    if (!arr) {
        c->oom = true;
        return false;
    }
    bool ok = true;
    if (dl_is_null(v)) {
        /* null: no alerts for this event */
    } else if (v->kind == Y_SEQ) {
        for (size_t i = 0; ok && i < v->n; i++)
            ok = parse_alert_one(c, v->kids[i], what, arr);
    } else {
        ok = parse_alert_one(c, v, what, arr);
    }
    if (!ok) {
        cJSON_Delete(arr);
        return false;
    }
    if (!*alerts && !(*alerts = cJSON_CreateObject())) {
        cJSON_Delete(arr);
        c->oom = true;
        return false;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(*alerts, event);
    if (!cJSON_AddItemToObject(*alerts, event, arr)) {
        cJSON_Delete(arr);
        c->oom = true;
        return false;
    }
    return true;
}
