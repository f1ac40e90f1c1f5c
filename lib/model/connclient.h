/*
 * connclient.h - what a connection's fields mean to the client that uses
 * it, as Airflow's hooks read them: its string fields, port and extra, an
 * HTTP connection's base URL (HttpHook.base_url) and a Postgres
 * connection's libpq keywords (PostgresHook). Pure code, shared by the
 * operators that use connections (worker/op_http.c, op_sql.c,
 * op_sensors.c) and the connection test (sched/conntest.h).
 *
 * A connection here is its JSON form (connection_to_json's members:
 * conn_type, host, login, password, schema, port as a number or a digit
 * string, extra as JSON text or an object).
 */
#ifndef UPDRAFT_CONNCLIENT_H
#define UPDRAFT_CONNCLIENT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/strbuf.h"

/* A connection's string field, NULL when absent, null or empty. */
const char *connclient_str(const cJSON *conn, const char *name);

/* A connection's port (a number or a digit string), -1 when none or out of range. */
int connclient_port(const cJSON *conn);

/*
 * A connection's extra as a JSON object (a copy: the caller deletes it),
 * or NULL when it has none, or it is not an object (*bad set then).
 */
cJSON *connclient_extra(const cJSON *conn, bool *bad);

/*
 * Appends conn's base URL to u, as HttpHook builds it: the host whole when
 * it holds "://" (the port added when it has none and nothing follows the
 * authority), else schema (http or https; anything else is http) "://"
 * host, then ":port" when set.
 */
void connclient_http_base_url(const cJSON *conn, strbuf_t *u);

#define CONNCLIENT_PG_MAX 32 /* keywords of one connection, at most */

/*
 * The keywords and values PQconnectdbParams takes for a Postgres
 * connection (NULL-terminated arrays), and what they point into.
 */
typedef struct connclient_pg {
    const char *kw[CONNCLIENT_PG_MAX + 1];
    const char *val[CONNCLIENT_PG_MAX + 1];
    size_t n;
    bool bad_extra; /* the extra is not a JSON object: it was ignored */
    cJSON *extra;   /* owned: values point into it */
    char port[16];
    char *num[CONNCLIENT_PG_MAX]; /* owned: numbers and booleans of the extra as text */
    size_t nnum;
} connclient_pg_t;

/*
 * Fills p with conn's libpq keywords as PostgresHook connects: host, port,
 * user, password, dbname (database when set and not empty, else the
 * schema), client_encoding UTF8, the libpq settings its extra holds
 * (sslmode, connect_timeout, ...; numbers and booleans as text),
 * application_name "updraft" unless the extra sets one, and
 * connect_timeout: the extra's, capped at max_timeout seconds when
 * max_timeout > 0, else default_timeout. Values borrow from conn and p
 * (conn must outlive p's use). 0, or -1 when out of memory (p freed).
 */
int connclient_pg_params(const cJSON *conn, const char *database, int default_timeout,
                         int max_timeout, connclient_pg_t *p);
/* Frees what p owns; p may be zeroed or filled. */
void connclient_pg_free(connclient_pg_t *p);

#endif
