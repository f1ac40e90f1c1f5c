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
 * connection_t and the pure functions on it (parsing and formatting the
 * URI and JSON forms, connection_validate, the webhook URL) are declared
 * in model/connuri.h, which this header includes.
 *
 * Return conventions: the storage functions declared here follow
 * core/error.h: 0, or UPDRAFT_ENOTFOUND, UPDRAFT_EEXISTS,
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
#include "model/connuri.h"

/* connection_display_host's test (model/connuri.h) in SQL over a row aliased c, for listings. */
#define CONNECTION_DISPLAY_HOST_SQL                                                                \
    "CASE WHEN lower(replace(c.conn_type, '-', '_')) IN ('slack_webhook', 'slackwebhook', "        \
    "'webhook') AND c.host LIKE '%/%' THEN '***' ELSE c.host END"

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
