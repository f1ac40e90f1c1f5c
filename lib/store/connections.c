/*
 * connections.c - Connections: environment overrides and the encrypted
 * `connection` table (see connections.h). Parsing and formatting the URI
 * and JSON forms is model/connuri.c.
 *
 * Encryption contexts bind each ciphertext to its row and column:
 * "connection:<conn_id>:password" and "connection:<conn_id>:extra".
 */
#include "store/connections.h"
#include "store/rotate.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/errbuf.h"
#include "core/error.h"

#define CTX_MAX (CONN_MAX_ID + 32)

/* ---- environment ----------------------------------------------------- */

int connections_env_lookup(const char *conn_id, connection_t **out, char *err, size_t errlen)
{
    static const char *const prefixes[] = {"UPDRAFT_CONN_", "AIRFLOW_CONN_"};
    char name[CONN_MAX_ID + 32];

    *out = NULL;
    if (!conn_id || !*conn_id || strlen(conn_id) > CONN_MAX_ID)
        return UPDRAFT_ENOTFOUND;
    for (size_t i = 0; i < 2; i++) {
        const char *v;
        size_t n = (size_t)snprintf(name, sizeof(name), "%s%s", prefixes[i], conn_id);
        for (size_t j = strlen(prefixes[i]); j < n; j++)
            name[j] = (char)toupper((unsigned char)name[j]);
        v = getenv(name);
        if (!v)
            continue;
        if (connection_parse_text(conn_id, v, out, err, errlen) < 0) {
            char inner[256];
            snprintf(inner, sizeof(inner), "%s", err ? err : "");
            errbuf_set(err, errlen, "environment variable %s: %s", name, inner);
            return UPDRAFT_EINVALID;
        }
        return 0;
    }
    return UPDRAFT_ENOTFOUND;
}

/* ---- database ----------------------------------------------------------- */

#define CONN_COLS                                                                                  \
    "conn_id, conn_type, description, host, schema, login, password, port, extra, "                \
    "is_encrypted, is_extra_encrypted"

static char *dup_field(const PGresult *r, int row, int col, bool *oom)
{
    const char *s = db_get_str(r, row, col);
    char *d = s ? strdup(s) : NULL;
    if (s && !d)
        *oom = true;
    return d;
}

/* One secret column: decrypted when its flag says so, else copied. */
static int read_secret(const secrets_keyring_t *ring, const char *conn_id, const char *what,
                       const char *stored, bool encrypted, char **dst, char *err, size_t errlen)
{
    char ctx[CTX_MAX];

    *dst = NULL;
    if (!stored)
        return 0;
    if (!encrypted) {
        if (!(*dst = strdup(stored))) {
            errbuf_set(err, errlen, "out of memory");
            return UPDRAFT_ENOMEM;
        }
        return 0;
    }
    snprintf(ctx, sizeof(ctx), "connection:%s:%s", conn_id, what);
    if (secrets_decrypt(ring, ctx, stored, dst, NULL, err, errlen) < 0) {
        char inner[256];
        snprintf(inner, sizeof(inner), "%s", err ? err : "");
        errbuf_set(err, errlen, "connection '%s': cannot decrypt the %s: %s", conn_id, what, inner);
        return UPDRAFT_ENOKEY;
    }
    return 0;
}

static int row_to_conn(const PGresult *r, int row, const secrets_keyring_t *ring, bool with_secrets,
                       connection_t **out, char *err, size_t errlen)
{
    connection_t *c = connection_new();
    bool oom = c == NULL;
    int rc;

    *out = NULL;
    if (c) {
        c->conn_id = dup_field(r, row, 0, &oom);
        c->conn_type = dup_field(r, row, 1, &oom);
        c->description = dup_field(r, row, 2, &oom);
        c->host = dup_field(r, row, 3, &oom);
        c->schema = dup_field(r, row, 4, &oom);
        c->login = dup_field(r, row, 5, &oom);
        c->port = PQgetisnull(r, row, 7) ? -1 : db_get_int(r, row, 7);
    }
    if (oom) {
        connection_free(c);
        errbuf_set(err, errlen, "out of memory");
        return UPDRAFT_ENOMEM;
    }
    if (with_secrets &&
        ((rc = read_secret(ring, c->conn_id, "password", db_get_str(r, row, 6),
                           db_get_bool(r, row, 9), &c->password, err, errlen)) < 0 ||
         (rc = read_secret(ring, c->conn_id, "extra", db_get_str(r, row, 8),
                           db_get_bool(r, row, 10), &c->extra, err, errlen)) < 0)) {
        connection_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

int connections_get(db_t *db, const secrets_keyring_t *ring, const char *conn_id,
                    connection_t **out, char *err, size_t errlen)
{
    const char *params[1] = {conn_id};
    PGresult *r;
    int rc;

    *out = NULL;
    r = db_query(db, "conn_get", "SELECT " CONN_COLS " FROM connection WHERE conn_id = $1", 1,
                 params);
    if (!r) {
        errbuf_set(err, errlen, "cannot read connection '%s': %s", conn_id, db_error(db));
        return UPDRAFT_EDB;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        return UPDRAFT_ENOTFOUND;
    }
    rc = row_to_conn(r, 0, ring, true, out, err, errlen);
    PQclear(r);
    return rc;
}

int connections_lookup(db_t *db, const secrets_keyring_t *ring, const char *conn_id,
                       connection_t **out, char *err, size_t errlen)
{
    int rc = connections_env_lookup(conn_id, out, err, errlen);
    if (rc != UPDRAFT_ENOTFOUND)
        return rc;
    return connections_get(db, ring, conn_id, out, err, errlen);
}

/* Encrypts password and extra for storage. Without a key, either is refused. */
static int seal(const secrets_keyring_t *ring, const connection_t *c, char **pw, char **extra,
                char *err, size_t errlen)
{
    char ctx[CTX_MAX];

    *pw = *extra = NULL;
    if ((c->password || (c->extra && *c->extra)) && secrets_keyring_count(ring) == 0) {
        errbuf_set(err, errlen,
                   "connection '%s' has a password or extra, which are stored encrypted, but no "
                   "encryption key is configured: set core.fernet_key (UPDRAFT__CORE__FERNET_KEY)",
                   c->conn_id);
        return UPDRAFT_ENOKEY;
    }
    if (c->password) {
        snprintf(ctx, sizeof(ctx), "connection:%s:password", c->conn_id);
        if (secrets_encrypt(ring, ctx, c->password, strlen(c->password), pw, err, errlen) < 0)
            return UPDRAFT_EINVALID;
    }
    if (c->extra && *c->extra) {
        snprintf(ctx, sizeof(ctx), "connection:%s:extra", c->conn_id);
        if (secrets_encrypt(ring, ctx, c->extra, strlen(c->extra), extra, err, errlen) < 0) {
            free(*pw);
            *pw = NULL;
            return UPDRAFT_EINVALID;
        }
    }
    return 0;
}

/* mode 0: insert, fail on conflict; 1: upsert; 2: update only. */
static int store(db_t *db, const secrets_keyring_t *ring, const connection_t *c, int mode,
                 char *err, size_t errlen)
{
    static const char *const sql[3] = {
        "INSERT INTO connection (conn_id, conn_type, description, host, schema, login, password,"
        " port, extra, is_encrypted, is_extra_encrypted)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7::text, $8::int, $9::text, $7 IS NOT NULL, $9 IS NOT "
        "NULL)"
        " ON CONFLICT (conn_id) DO NOTHING",
        "INSERT INTO connection (conn_id, conn_type, description, host, schema, login, password,"
        " port, extra, is_encrypted, is_extra_encrypted)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7::text, $8::int, $9::text, $7 IS NOT NULL, $9 IS NOT "
        "NULL)"
        " ON CONFLICT (conn_id) DO UPDATE SET conn_type = EXCLUDED.conn_type,"
        " description = EXCLUDED.description, host = EXCLUDED.host, schema = EXCLUDED.schema,"
        " login = EXCLUDED.login, password = EXCLUDED.password, port = EXCLUDED.port,"
        " extra = EXCLUDED.extra, is_encrypted = EXCLUDED.is_encrypted,"
        " is_extra_encrypted = EXCLUDED.is_extra_encrypted",
        "UPDATE connection SET conn_type = $2, description = $3, host = $4, schema = $5,"
        " login = $6, password = $7::text, port = $8::int, extra = $9::text, is_encrypted = $7 IS "
        "NOT NULL,"
        " is_extra_encrypted = $9 IS NOT NULL WHERE conn_id = $1",
    };
    static const char *const names[3] = {"conn_insert", "conn_upsert", "conn_update"};
    char *pw = NULL, *extra = NULL, port[16];
    const char *params[9];
    long n;
    int rc;

    if (connection_validate(c, err, errlen) < 0)
        return UPDRAFT_EINVALID;
    if ((rc = seal(ring, c, &pw, &extra, err, errlen)) < 0)
        return rc;
    snprintf(port, sizeof(port), "%d", c->port);
    params[0] = c->conn_id;
    params[1] = c->conn_type;
    params[2] = c->description;
    params[3] = c->host;
    params[4] = c->schema;
    params[5] = c->login;
    params[6] = pw;
    params[7] = c->port >= 0 ? port : NULL;
    params[8] = extra;
    n = db_exec(db, names[mode], sql[mode], 9, params);
    if (n < 0) {
        errbuf_set(err, errlen, "cannot store connection '%s': %s", c->conn_id, db_error(db));
        rc = UPDRAFT_EDB;
    } else if (n == 0) {
        rc = mode == 2 ? UPDRAFT_ENOTFOUND : UPDRAFT_EEXISTS;
    }
    free(pw);
    free(extra);
    return rc;
}

int connections_put(db_t *db, const secrets_keyring_t *ring, const connection_t *c, bool overwrite,
                    char *err, size_t errlen)
{
    return store(db, ring, c, overwrite ? 1 : 0, err, errlen);
}

int connections_update(db_t *db, const secrets_keyring_t *ring, const connection_t *c, char *err,
                       size_t errlen)
{
    return store(db, ring, c, 2, err, errlen);
}

int connections_delete(db_t *db, const char *conn_id, char *err, size_t errlen)
{
    const char *params[1] = {conn_id};
    long n = db_exec(db, "conn_delete", "DELETE FROM connection WHERE conn_id = $1", 1, params);
    if (n < 0) {
        errbuf_set(err, errlen, "cannot delete connection '%s': %s", conn_id, db_error(db));
        return UPDRAFT_EDB;
    }
    return n > 0 ? 0 : UPDRAFT_ENOTFOUND;
}

void connections_list_free(connection_t **list, size_t n)
{
    if (!list)
        return;
    for (size_t i = 0; i < n; i++)
        connection_free(list[i]);
    free(list);
}

int connections_list(db_t *db, const secrets_keyring_t *ring, bool with_secrets,
                     connection_t ***out, size_t *n, char *err, size_t errlen)
{
    PGresult *r;
    connection_t **list = NULL;
    int rows, rc = UPDRAFT_ENOMEM;
    size_t got = 0;

    *out = NULL;
    *n = 0;
    r = db_query(db, "conn_list", "SELECT " CONN_COLS " FROM connection ORDER BY conn_id", 0, NULL);
    if (!r) {
        errbuf_set(err, errlen, "cannot list connections: %s", db_error(db));
        return UPDRAFT_EDB;
    }
    rows = PQntuples(r);
    list = calloc(rows > 0 ? (size_t)rows : 1, sizeof(*list));
    if (!list) {
        errbuf_set(err, errlen, "out of memory");
        goto out;
    }
    for (int i = 0; i < rows; i++) {
        if ((rc = row_to_conn(r, i, ring, with_secrets, &list[got], err, errlen)) < 0)
            goto out;
        got++;
    }
    *out = list;
    *n = got;
    list = NULL;
    rc = 0;
out:
    connections_list_free(list, got);
    PQclear(r);
    return rc;
}

/* Re-seals the password and extra of one row of CONN_COLS. */
static int reseal_row(db_t *db, const secrets_keyring_t *ring, const PGresult *r, int row,
                      char *err, size_t errlen)
{
    connection_t *c = NULL;
    char *pw = NULL, *extra = NULL;
    const char *params[3];
    long n;
    int rc;

    if ((rc = row_to_conn(r, row, ring, true, &c, err, errlen)) < 0)
        return rc;
    if ((rc = seal(ring, c, &pw, &extra, err, errlen)) < 0)
        goto out;
    params[0] = c->conn_id;
    params[1] = pw;
    params[2] = extra;
    n = db_exec(db, "conn_rotate_upd",
                "UPDATE connection SET password = $2::text, extra = $3::text,"
                " is_encrypted = $2 IS NOT NULL, is_extra_encrypted = $3 IS NOT NULL"
                " WHERE conn_id = $1",
                3, params);
    free(pw);
    free(extra);
    if (n < 0) {
        errbuf_set(err, errlen, "cannot update connection '%s': %s", c->conn_id, db_error(db));
        rc = UPDRAFT_EDB;
    }
out:
    connection_free(c);
    return rc;
}

int connections_rotate(db_t *db, const secrets_keyring_t *ring, long *count, char *err,
                       size_t errlen)
{
    return rotate_rows(db, ring, "conn_rotate_sel",
                       "SELECT " CONN_COLS " FROM connection"
                       " WHERE password IS NOT NULL OR extra IS NOT NULL"
                       " ORDER BY conn_id FOR UPDATE",
                       "connections", reseal_row, count, err, errlen);
}
