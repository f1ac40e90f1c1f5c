/*
 * connections.h - Airflow's Connections: how tasks reach other systems.
 *
 * A connection is stored in the `connection` table (migration 0006) with
 * its password and extra encrypted at rest (secrets.h); storing either
 * without a configured key is refused. It can also come from the
 * environment, which wins over the database as in Airflow:
 *
 *     UPDRAFT_CONN_<ID> or AIRFLOW_CONN_<ID>   (ID upper-cased)
 *
 * holding either a URI, parsed as Airflow's Connection.from_uri,
 *
 *     postgresql://user:p%40ss@db.example:5432/analytics?sslmode=require
 *       -> conn_type postgres, login user, password p@ss, host db.example,
 *          port 5432, schema analytics, extra {"sslmode": "require"}
 *
 * or (Airflow 2.3+) a JSON object {"conn_type": ..., "host": ..., "extra":
 * {...}}. Environment connections are never written to the database.
 *
 * Return conventions: the parsing and checking functions return 0 ok /
 * -1 error with err filled (lower-case, names the connection, never
 * contains a password). The storage functions (connections_env_lookup
 * and below) follow core/error.h: 0, or UPDRAFT_ENOTFOUND, UPDRAFT_EEXISTS,
 * UPDRAFT_EINVALID (c fails connection_validate), UPDRAFT_ENOKEY (a
 * password or extra to store without a key, or a stored one that no
 * configured key decrypts), UPDRAFT_EDB or UPDRAFT_ENOMEM, with err filled
 * for every error but UPDRAFT_ENOTFOUND.
 */
#ifndef UPDRAFT_CONNECTIONS_H
#define UPDRAFT_CONNECTIONS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/db.h"
#include "core/error.h"
#include "core/secrets.h"

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

/* The same test in SQL over a row aliased c (conn_type, host), for listings. */
#define CONNECTION_DISPLAY_HOST_SQL                                                                \
    "CASE WHEN lower(replace(c.conn_type, '-', '_')) IN ('slack_webhook', 'slackwebhook', "        \
    "'webhook') AND c.host LIKE '%/%' THEN '***' ELSE c.host END"

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

/*
 * Looks conn_id up in the environment only: 0 with *out, UPDRAFT_ENOTFOUND
 * when not set, UPDRAFT_EINVALID when malformed (err).
 */
int connections_env_lookup(const char *conn_id, connection_t **out, char *err, size_t errlen);

/* The database row (decrypted): 0 with *out, UPDRAFT_ENOTFOUND, or an error. */
int connections_get(db_t *db, const secrets_keyring_t *ring, const char *conn_id,
                    connection_t **out, char *err, size_t errlen);
/* What a task sees: the environment first, then the database (returns as above). */
int connections_lookup(db_t *db, const secrets_keyring_t *ring, const char *conn_id,
                       connection_t **out, char *err, size_t errlen);

/*
 * Stores c (validated, password and extra encrypted). When a row with the
 * same conn_id exists: overwrite replaces it, else returns UPDRAFT_EEXISTS
 * and changes nothing. 0 stored, UPDRAFT_EINVALID, UPDRAFT_ENOKEY (a
 * password or extra and no key), UPDRAFT_EDB.
 */
int connections_put(db_t *db, const secrets_keyring_t *ring, const connection_t *c, bool overwrite,
                    char *err, size_t errlen);
/* Replaces an existing row: 0 updated, UPDRAFT_ENOTFOUND, or an error as connections_put. */
int connections_update(db_t *db, const secrets_keyring_t *ring, const connection_t *c, char *err,
                       size_t errlen);
/* 0 deleted, UPDRAFT_ENOTFOUND, UPDRAFT_EDB. */
int connections_delete(db_t *db, const char *conn_id, char *err, size_t errlen);

/*
 * Every stored connection ordered by conn_id; with_secrets decrypts the
 * password and extra (else both are NULL). *out is an array of *n
 * connections; free with connections_list_free(). 0, UPDRAFT_ENOKEY (a
 * secret no key decrypts), UPDRAFT_EDB or UPDRAFT_ENOMEM.
 */
int connections_list(db_t *db, const secrets_keyring_t *ring, bool with_secrets,
                     connection_t ***out, size_t *n, char *err, size_t errlen);
void connections_list_free(connection_t **list, size_t n);

/*
 * Re-encrypts every stored password and extra under the first key of ring
 * (plaintext ones left by a keyless setup included), in one transaction.
 * *count is the number of rows changed. 0, UPDRAFT_ENOKEY when ring has
 * no key, else UPDRAFT_EDB for any failure (err says which row, a secret
 * no key decrypts included); nothing is changed on failure.
 */
int connections_rotate(db_t *db, const secrets_keyring_t *ring, long *count, char *err,
                       size_t errlen);

#endif
