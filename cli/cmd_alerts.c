/*
 * cmd_alerts.c - `updraft alerts test CONN_ID [--kind slack|webhook]
 * [--channel CHANNEL] [--text TEXT]`.
 *
 * Sends one test message now, synchronously, through the connection as
 * the scheduler would (the environment first, then the database; the
 * kind by the connection's type unless --kind says), and prints the HTTP
 * status. Exit 0 on a 2xx answer, 1 otherwise. The webhook URL is never
 * printed.
 */
#include "cli/cli.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched/alerts.h"
#include "store/connections.h"
#include "core/secrets.h"

static void usage(FILE *f)
{
    fputs("usage: updraft alerts test CONN_ID [--kind slack|webhook] [--channel CHANNEL]\n"
          "                           [--text TEXT]\n"
          "\n"
          "Sends a test message through a slack_webhook or webhook connection and prints\n"
          "the HTTP status (exit 1 unless it is 2xx).\n",
          f);
}

static int cmd_test(const config_t *cfg, int argc, char **argv)
{
    const char *conn_id = NULL, *kind = "auto", *channel = NULL, *text = NULL;
    secrets_keyring_t *ring = NULL;
    connection_t *env = NULL;
    db_t *db = NULL;
    char *url = NULL, *body = NULL, err[600];
    alert_format_t fmt;
    alert_msg_t m;
    alert_result_t res;
    int rc = 1;

    for (int i = 1; i < argc; i++) {
        if (cli_opt_value(argc, argv, &i, NULL, "--kind", &kind) ||
            cli_opt_value(argc, argv, &i, NULL, "--channel", &channel) ||
            cli_opt_value(argc, argv, &i, NULL, "--text", &text))
            continue;
        if (argv[i][0] == '-' || conn_id)
            return cli_usage_error(usage);
        conn_id = argv[i];
    }
    if (!conn_id)
        return cli_usage_error(usage);
    if (strcmp(kind, "auto") && strcmp(kind, "slack") && strcmp(kind, "webhook")) {
        fprintf(stderr, "updraft: --kind must be slack, webhook or auto\n");
        return 2;
    }
    alerts_msg_init(&m);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "updraft: cannot initialize libcurl\n");
        return 1;
    }
    ring = cli_keyring(cfg);
    if (!ring)
        goto out;
    /* a connection in the environment needs no database */
    int found = connections_env_lookup(conn_id, &env, err, sizeof(err));
    connection_free(env);
    if (found < 0 && found != UPDRAFT_ENOTFOUND) {
        fprintf(stderr, "updraft: %s\n", err);
        goto out;
    }
    if (found == UPDRAFT_ENOTFOUND && !(db = cli_connect(cfg, true)))
        goto out;
    int tr = alerts_resolve_target(db, ring, conn_id, kind, &url, &fmt, err, sizeof(err));
    if (tr < 0) {
        fprintf(stderr, "updraft: %s\n", err);
        goto out;
    }
    m.kind = ALERT_EV_TEST;
    m.conn_id = strdup(conn_id);
    m.hostname = strdup(cfg->core.hostname ? cfg->core.hostname : "");
    m.text = text ? strdup(text) : NULL;
    m.channel = channel ? strdup(channel) : NULL;
    if (!m.conn_id || !m.hostname || (text && !m.text) || (channel && !m.channel) ||
        !(body = alerts_build_body(&m, fmt))) {
        fprintf(stderr, "updraft: out of memory\n");
        goto out;
    }
    alert_policy_t p = {.max_retry_after_sec = cfg->alerts.max_retry_after_sec,
                        .max_backoff_sec = cfg->alerts.max_backoff_sec};
    int sr = alerts_send_sync(url, body, cfg->alerts.request_timeout_sec, &p, &res);
    alerts_scrub_url(res.error, sizeof(res.error), url);
    const char *how = fmt == ALERT_FMT_SLACK ? "slack" : "webhook";
    if (sr == 0) {
        printf("HTTP %ld: test alert sent through connection '%s' (%s)\n", res.status, conn_id,
               how);
        rc = 0;
    } else if (res.status > 0) {
        printf("HTTP %ld\n", res.status);
        fprintf(stderr, "updraft: test alert through connection '%s' (%s) not accepted: %s\n",
                conn_id, how, res.error);
    } else {
        fprintf(stderr, "updraft: test alert through connection '%s' (%s) not sent: %s\n", conn_id,
                how, res.error);
    }
out:
    alerts_msg_clear(&m);
    free(body);
    secrets_free_str(url);
    db_close(db);
    secrets_keyring_free(ring);
    curl_global_cleanup();
    return rc;
}

int cli_alerts(const config_t *cfg, int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "test"))
        return cmd_test(cfg, argc - 1, argv + 1);
    fprintf(stderr, "updraft: unknown alerts command '%s'\n", argv[1]);
    return cli_usage_error(usage);
}
