/*
 * connuri.h - Airflow connections as data: the connection_t model, its
 * URI and JSON forms, its checks, and the URL a webhook alert goes to.
 * Pure code (no storage); store/connections.h stores and looks them up.
 *
 * A URI is parsed as Airflow's Connection.from_uri,
 *
 *     postgresql://user:p%40ss@db.example:5432/analytics?sslmode=require
 *       -> conn_type postgres, login user, password p@ss, host db.example,
 *          port 5432, schema analytics, extra {"sslmode": "require"}
 *
 * and the JSON form (Airflow 2.3+) is an object {"conn_type": ..., "host":
 * ..., "extra": {...}}.
 *
 * Return conventions: 0 ok / -1 error with err filled (lower-case, names
 * the connection, never contains a password).
 */
#ifndef UPDRAFT_CONNURI_H
#define UPDRAFT_CONNURI_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#define CONN_MAX_URI 65536 /* bytes of URI or JSON accepted */
#define CONN_MAX_ID 250    /* as Airflow's ID_LEN */

typedef struct connection {
    char *conn_id;     /* never NULL in a stored connection */
    char *conn_type;   /* normalized: postgresql -> postgres, '-' -> '_' */
    char *description; /* NULL = none, as every string member below */
    char *host;
    char *schema;
    char *login;
    char *password; /* plaintext in memory only */
    int port;       /* -1 = none */
    char *extra;    /* usually a JSON object as text */
} connection_t;

/* An empty connection (port -1), or NULL on OOM. */
connection_t *connection_new(void);
/* Frees c and wipes its password and extra; NULL is a no-op. */
void connection_free(connection_t *c);
/* A copy of c (free with connection_free), or NULL on OOM. */
connection_t *connection_dup(const connection_t *c);

/*
 * Parses an Airflow connection URI for conn_id. Percent-escapes are
 * decoded in login, password, host, schema and the query; a query becomes
 * extra as a JSON object of strings (last value wins), or the raw value of
 * a `__extra__` parameter. "scheme://protocol://host" keeps the protocol
 * in host. Returns 0 with *out, or -1 with err (never echoing the URI).
 */
int connection_parse_uri(const char *conn_id, const char *uri, connection_t **out, char *err,
                         size_t errlen);

/*
 * Builds a connection from a JSON object with Airflow's fields: conn_type,
 * description, host, login, password, schema, port (integer or digit
 * string), extra (string or any JSON value, kept as JSON text),
 * extra_dejson, uri (alone, or with description), conn_id (must equal
 * conn_id). Unknown members are errors.
 */
int connection_from_json(const char *conn_id, const cJSON *obj, connection_t **out, char *err,
                         size_t errlen);
/* The same from text: a JSON object, or else a URI. */
int connection_parse_text(const char *conn_id, const char *text, connection_t **out, char *err,
                          size_t errlen);

/* Airflow's get_uri(): malloc'd URI of c (with the password), NULL on OOM. */
char *connection_to_uri(const connection_t *c);
/*
 * c as Airflow's export format: {"conn_type", "description", "host",
 * "login", "password", "schema", "port", "extra"} (extra as text). The
 * password is left out unless with_password. NULL on OOM.
 */
cJSON *connection_to_json(const connection_t *c, bool with_password);

/*
 * Checks what storing needs: conn_id made of letters, digits, '_', '.' and
 * '-' (at most CONN_MAX_ID), a conn_type, a port in 0..65535, and for
 * webhook types (slack_webhook, webhook) a valid webhook URL
 * (connection_webhook_url, connection_check_webhook_url).
 */
int connection_validate(const connection_t *c, char *err, size_t errlen);

/*
 * Whether after points its credentials at another place than before: a
 * different conn_type (compared as Airflow normalizes it: any case, '-'
 * as '_'), host (any case), port, schema or login. NULL and "" are alike.
 */
bool connection_target_changed(const connection_t *before, const connection_t *after);

/*
 * The rule for changing a stored connection (the REST API's PATCH, the
 * CLI's import --overwrite): when the change points it elsewhere
 * (connection_target_changed), the secrets stored for the old target must
 * not follow it unasked. A stored password must be given again
 * (password_given: the change sets the password, to a value or to none),
 * and so must a stored extra that holds secrets (a secret-looking key at
 * any depth, model/sensitive.h, or text that is not JSON) unless
 * extra_given. 0, or UPDRAFT_EINVALID with err naming the connection,
 * what changed and what to send (never a value).
 */
int connection_check_retarget(const connection_t *before, const connection_t *after,
                              bool password_given, bool extra_given, char *err, size_t errlen);

/*
 * Webhook connections (docs/alerts.md "Connections"). slack_webhook (also
 * Airflow's slackwebhook) and webhook connections name the URL alerts are
 * POSTed to; connection_validate() refuses one without a valid URL.
 */
#define CONN_MAX_WEBHOOK_URL 4096

/* slack_webhook or slackwebhook ('-' or '_', any case). */
bool connection_is_slack_type(const char *conn_type);
/* A Slack type or webhook. */
bool connection_is_webhook_type(const char *conn_type);

/*
 * The host as listings may show it: "***" for a webhook connection whose
 * host holds the URL (it carries the webhook's token), else the host
 * (NULL stays NULL).
 */
const char *connection_display_host(const connection_t *c);

/*
 * The URL a webhook alert to c goes to, as Airflow's SlackWebhookHook
 * finds it: the password when it holds "://" (the whole URL); else the
 * host (https:// added when it has no scheme, then port and schema), with
 * the password appended as a path when set (a token); else, for Slack
 * types, https://hooks.slack.com/services/ + the password. Connections of
 * type http or https (a URL given whole, UPDRAFT_CONN_X=https://...) are
 * put back together from their parts. The URL is not checked
 * (connection_check_webhook_url). Returns 0 with *url malloc'd (a secret:
 * free with secrets_free_str, never log it), or -1 with err, which never
 * holds the URL or the password.
 */
int connection_webhook_url(const connection_t *c, char **url, char *err, size_t errlen);

/*
 * Checks that url is an absolute http(s) URL with a host and a valid port,
 * without spaces or control characters, at most CONN_MAX_WEBHOOK_URL bytes,
 * and https unless the host is loopback (localhost, 127.0.0.0/8, ::1).
 * Fills host (lower-cased; may be NULL) on success. 0, or -1 with err,
 * which never echoes the URL.
 */
int connection_check_webhook_url(const char *url, char *host, size_t hostlen, char *err,
                                 size_t errlen);

#endif
