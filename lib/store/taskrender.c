/*
 * taskrender.c - database-backed template context (see taskrender.h).
 */
#include "store/taskrender.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "store/connections.h"
#include "store/variables.h"
#include "store/xcom.h"

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/*
 * The template engine's callbacks (model/template.h) answer 1 found, 0 not
 * found, -1 error; the store's codes are turned into those here.
 */
static int callback_rc(int rc)
{
    return rc == 0 ? 1 : rc == UPDRAFT_ENOTFOUND ? 0 : -1;
}

static int var_get(void *ud, const char *name, char **value, bool *secret, char *err, size_t errlen)
{
    const taskrender_t *u = ud;
    char *v = NULL;
    int rc = callback_rc(variables_lookup(u->db, u->ring, name, &v, err, errlen));
    if (rc != 1)
        return rc;
    *value = strdup(v ? v : "");
    secrets_free_str(v);
    if (!*value) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *secret = secrets_name_is_sensitive(name);
    return 1;
}

static int conn_get(void *ud, const char *conn_id, template_conn_t *conn, char *err, size_t errlen)
{
    const taskrender_t *u = ud;
    connection_t *c = NULL;
    int rc = callback_rc(connections_lookup(u->db, u->ring, conn_id, &c, err, errlen));
    if (rc != 1)
        return rc;
    conn->conn_type = dup_or_null(c->conn_type);
    conn->host = dup_or_null(c->host);
    conn->login = dup_or_null(c->login);
    conn->password = dup_or_null(c->password);
    conn->schema = dup_or_null(c->schema);
    conn->extra = dup_or_null(c->extra);
    conn->port = c->port;
    bool oom = (c->conn_type && !conn->conn_type) || (c->host && !conn->host) ||
               (c->login && !conn->login) || (c->password && !conn->password) ||
               (c->schema && !conn->schema) || (c->extra && !conn->extra);
    connection_free(c);
    if (oom) {
        snprintf(err, errlen, "out of memory");
        return -1; /* the engine frees what was filled */
    }
    return 1;
}

static int xcom_fn(void *ud, const char *dag_id, const char *task_id, const char *key, char **json,
                   char *err, size_t errlen)
{
    const taskrender_t *u = ud;
    if (!u->ctx.run_id || (!dag_id && !u->ctx.dag_id))
        return 0;
    return callback_rc(xcom_get(u->db, dag_id ? dag_id : u->ctx.dag_id, u->ctx.run_id, task_id,
                                key ? key : XCOM_RETURN_KEY, json, err, errlen));
}

void taskrender_init(taskrender_t *tr, db_t *db, const secrets_keyring_t *ring)
{
    memset(tr, 0, sizeof(*tr));
    template_ctx_init(&tr->ctx);
    tr->db = db;
    tr->ring = ring;
    tr->ctx.var_get = var_get;
    tr->ctx.conn_get = conn_get;
    tr->ctx.xcom_get = xcom_fn;
    tr->ctx.ud = tr;
}

#define PREV_SQL                                                                                   \
    "SELECT (extract(epoch FROM p.data_interval_start) * 1000000)::bigint,"                        \
    "       (extract(epoch FROM p.data_interval_end) * 1000000)::bigint"                           \
    "  FROM dag_run cur JOIN dag_run p ON p.dag_id = cur.dag_id"                                   \
    " WHERE cur.id = $1::bigint AND p.state = 'success' AND p.id <> cur.id"                        \
    "   AND p.logical_date < cur.logical_date"                                                     \
    " ORDER BY p.logical_date DESC LIMIT 1"

int taskrender_prev_interval(taskrender_t *tr, int64_t dag_run_id, char *err, size_t errlen)
{
    char id[24];
    snprintf(id, sizeof(id), "%lld", (long long)dag_run_id);
    const char *params[] = {id};
    PGresult *r = db_query(tr->db, "taskrender_prev_interval", PREV_SQL, 1, params);
    if (!r) {
        snprintf(err, errlen, "cannot read the previous successful run: %s", db_error(tr->db));
        return UPDRAFT_EDB;
    }
    if (PQntuples(r) > 0) {
        if (db_get_str(r, 0, 0))
            tr->ctx.prev_data_interval_start_success = db_get_i64(r, 0, 0);
        if (db_get_str(r, 0, 1))
            tr->ctx.prev_data_interval_end_success = db_get_i64(r, 0, 1);
    }
    PQclear(r);
    return 0;
}

int taskrender_field(const taskrender_t *tr, const char *src, const char *what,
                     template_result_t *res, char *err, size_t errlen)
{
    char msg[1024];
    if (template_render(src, strlen(src), &tr->ctx, res, msg, sizeof(msg)) < 0) {
        snprintf(err, errlen, "cannot render %s: %s", what, msg);
        return UPDRAFT_EINVALID;
    }
    if (strlen(res->text) != res->len) {
        snprintf(err, errlen, "cannot render %s: the result holds a NUL character", what);
        template_result_free(res);
        return UPDRAFT_EINVALID;
    }
    return 0;
}
