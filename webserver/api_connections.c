/*
 * api_connections.c - the connection routes of the REST API (Airflow 2's
 * Connection schema) over store/connections.h: list, get, create, update
 * (with update_mask) and delete. Passwords and extras are encrypted at
 * rest (core/secrets.h) under core.fernet_key, read per request. A
 * connection's password is write-only: no answer ever carries it, and
 * sensitive keys inside its extra are masked as "***". Storing a secret
 * without a configured key is a 400, not a plaintext row. POST
 * /connections/test tests a connection given in the body, when
 * core.test_connection allows it.
 */
#include "webserver/api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "core/log.h"
#include "core/secrets.h"
#include "model/sensitive.h"
#include "sched/conntest.h"
#include "store/connections.h"
#include "webserver/apicache.h"
#include "webserver/http.h"

/*
 * The ConnectionCollectionItem schema, one row per member in answer
 * order. Column-descriptor tables like this one are the one deliberate
 * place where SQL fragments live outside lib/store (see api_dags.c).
 */
static const api_field_t connection_item_fields[] = {
    {"connection_id", "c.conn_id", API_STR},
    {"conn_type", "c.conn_type", API_STR},
    {"description", "c.description", API_STR},
    {"host", CONNECTION_DISPLAY_HOST_SQL, API_STR},
    {"login", "c.login", API_STR},
    {"schema", "c.schema", API_STR},
    {"port", "c.port", API_INT},
};

static const api_resource_t connection_item_resource = {"connection c", connection_item_fields,
                                                        API_NFIELDS(connection_item_fields)};

static const httpq_sort_t connection_sorts[] = {
    {"id", "c.id"},
    {"connection_id", "c.conn_id"},
    {"conn_type", "c.conn_type"},
    {"description", "c.description"},
    {"host", "c.host"},
    {"port", "c.port"},
};

static const api_sorting_t connection_sorting = {connection_sorts, API_NFIELDS(connection_sorts),
                                                 "id", false, "c.id"};

int api_get_connections(api_req_t *r)
{
    sqlb_t b = {0};
    api_page_t p;
    int status = api_read_page(r, &connection_sorting, &p);

    if (status != 0)
        return status;
    return api_send_collection(r, "connections", &connection_item_resource, &b, p.order, &p);
}

static cJSON *json_str_or_null(const char *s)
{
    return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

/* The Connection schema without its write-only password; extra redacted. */
static int send_connection(api_req_t *r, int status, const connection_t *c)
{
    cJSON *out = cJSON_CreateObject();

    if (out) {
        cJSON_AddItemToObject(out, "connection_id", json_str_or_null(c->conn_id));
        cJSON_AddItemToObject(out, "conn_type", json_str_or_null(c->conn_type));
        cJSON_AddItemToObject(out, "description", json_str_or_null(c->description));
        cJSON_AddItemToObject(out, "host", json_str_or_null(connection_display_host(c)));
        cJSON_AddItemToObject(out, "login", json_str_or_null(c->login));
        cJSON_AddItemToObject(out, "schema", json_str_or_null(c->schema));
        cJSON_AddItemToObject(out, "port",
                              c->port >= 0 ? cJSON_CreateNumber(c->port) : cJSON_CreateNull());
        if (c->extra) {
            cJSON *extra = cJSON_Parse(c->extra);
            char *text = NULL;
            if ((cJSON_IsObject(extra) || cJSON_IsArray(extra)) &&
                sensitive_json_redact(extra) == 0) {
                text = cJSON_PrintUnformatted(extra);
                cJSON_AddItemToObject(out, "extra", json_str_or_null(text ? text : "***"));
            } else {
                /* not JSON (it cannot be inspected) or not masked: none of it is shown */
                cJSON_AddStringToObject(out, "extra", "***");
            }
            if (text)
                secrets_free_str(text);
            cJSON_Delete(extra);
        } else {
            cJSON_AddNullToObject(out, "extra");
        }
    }
    return api_send_json(r, status, out);
}

/* Loads the stored connection for a handler: 1 found, 0 answered 404, <0 answered error. */
static int load_connection(api_req_t *r, const secrets_keyring_t *ring, const char *id,
                           connection_t **out, int *status)
{
    char err[512];
    int rc = connections_get(r->db, ring, id, out, err, sizeof(err));

    if (rc == UPDRAFT_ENOTFOUND) {
        *status = api_not_found(r, "Connection not found",
                                "The Connection with connection_id: `%s` was not found", id);
        return 0;
    }
    if (rc < 0) {
        *status = rc == UPDRAFT_EDB ? api_db_failed(r) : api_secret_failed(r, err);
        return -1;
    }
    return 1;
}

int api_get_connection(api_req_t *r)
{
    secrets_keyring_t *ring = api_request_keyring(r);
    connection_t *c = NULL;
    int status = 0;

    if (!ring)
        return 500;
    if (load_connection(r, ring, r->cap[0], &c, &status) == 1)
        status = send_connection(r, 200, c);
    connection_free(c);
    secrets_keyring_free(ring);
    return status;
}

/*
 * Applies the members of an API body (Airflow's Connection schema) to c;
 * only = NULL applies every member present, else only the masked ones
 * (absent masked members become null). 0, or -1 with the detail in err.
 */
static int apply_connection_body(const cJSON *body, connection_t *c, char mask[][API_MASK_FIELD],
                                 size_t nmask, char *err, size_t errlen)
{
    static const char *const fields[] = {"conn_type", "description", "host",  "login",
                                         "schema",    "password",    "extra", NULL};
    char **slots[] = {&c->conn_type, &c->description, &c->host, &c->login,
                      &c->schema,    &c->password,    &c->extra};
    const cJSON *port;

    for (size_t i = 0; fields[i]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, fields[i]);
        char *copy = NULL;
        if (nmask ? !api_mask_has(mask, nmask, fields[i]) : !v)
            continue;
        if (v && !cJSON_IsNull(v) && !cJSON_IsString(v)) {
            snprintf(err, errlen, "{'%s': ['Not a valid string.']}", fields[i]);
            return -1;
        }
        if (v && cJSON_IsString(v) && !(copy = strdup(v->valuestring))) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        if (*slots[i] && (slots[i] == &c->password || slots[i] == &c->extra))
            secrets_free_str(*slots[i]);
        else
            free(*slots[i]);
        *slots[i] = copy;
    }
    if (c->extra && !c->extra[0]) {
        free(c->extra);
        c->extra = NULL;
    }
    port = cJSON_GetObjectItemCaseSensitive(body, "port");
    if (nmask ? api_mask_has(mask, nmask, "port") : port != NULL) {
        if (!port || cJSON_IsNull(port)) {
            c->port = -1;
        } else if (cJSON_IsNumber(port) && port->valuedouble >= 0 && port->valuedouble <= 65535 &&
                   port->valuedouble == (double)(int)port->valuedouble) {
            c->port = (int)port->valuedouble;
        } else {
            snprintf(err, errlen, "{'port': ['Not a valid integer.']}");
            return -1;
        }
    }
    return 0;
}

static const char *const conn_known[] = {"connection_id", "conn_type", "description", "host",
                                         "login",         "schema",    "port",        "password",
                                         "extra",         NULL};
static const char *const conn_required[] = {"connection_id", "conn_type", NULL};

/* Checks and stores c (insert when create, else update); sends nothing on success. */
static int store_connection(api_req_t *r, const secrets_keyring_t *ring, const connection_t *c,
                            bool create)
{
    char err[512];
    int rc;

    rc = create ? connections_put(r->db, ring, c, false, err, sizeof(err))
                : connections_update(r->db, ring, c, err, sizeof(err));
    if (rc == UPDRAFT_EINVALID || rc == UPDRAFT_ENOKEY)
        return api_bad_request(r, err);
    if (rc == UPDRAFT_EEXISTS) {
        http_send_problem(r->conn, 409, "Connection already exists",
                          "Connection already exist. ID: %s", c->conn_id);
        return 409;
    }
    if (rc == UPDRAFT_ENOTFOUND)
        return api_not_found(r, "Connection not found",
                             "The Connection with connection_id: `%s` was not found", c->conn_id);
    if (rc < 0) {
        log_warn("connection store failed conn_id=%s error=\"%s\"", c->conn_id, err);
        return api_db_failed(r);
    }
    apicache_bump(r->api->cache);
    log_info("connection stored conn_id=%s", c->conn_id);
    return 0;
}

int api_post_connection(api_req_t *r)
{
    secrets_keyring_t *ring = NULL;
    connection_t *c = NULL;
    const char *id, *req[2];
    char err[512];
    int status = 0;
    cJSON *body = api_read_fields(r, conn_known, conn_required, req, &status);

    if (!body)
        return status;
    id = req[0]; /* conn_type is read with the other fields below */
    c = connection_new();
    if (!c || !(c->conn_id = strdup(id))) {
        status = api_send_json(r, 500, NULL);
        goto out;
    }
    if (apply_connection_body(body, c, NULL, 0, err, sizeof(err)) < 0) {
        status = api_bad_request(r, err);
        goto out;
    }
    ring = api_request_keyring(r);
    if (!ring) {
        status = 500;
        goto out;
    }
    status = store_connection(r, ring, c, true);
    if (status == 0)
        status = send_connection(r, 200, c);
out:
    connection_free(c);
    secrets_keyring_free(ring);
    cJSON_Delete(body);
    return status;
}

/* Whether a PATCH sets field: masked by update_mask, else present in the body (null included). */
static bool body_sets(const cJSON *body, char mask[][API_MASK_FIELD], size_t nmask,
                      const char *field)
{
    return nmask ? api_mask_has(mask, nmask, field)
                 : cJSON_GetObjectItemCaseSensitive(body, field) != NULL;
}

/*
 * PATCH /connections/{id}: Airflow's update, with update_mask or the whole
 * body. A change of where the connection points (conn_type, host, port,
 * schema, login) must carry the password again, and the extra when it
 * holds secrets (connection_check_retarget): a 400 says so, since a
 * stored password sent to a host somebody just typed is how it leaks.
 */
int api_patch_connection(api_req_t *r)
{
    static const char *const updatable[] = {"conn_type", "description", "host",  "login", "schema",
                                            "port",      "password",    "extra", NULL};
    secrets_keyring_t *ring = NULL;
    connection_t *c = NULL, *before = NULL;
    const char *id, *req[2];
    char mask[10][API_MASK_FIELD], err[512];
    size_t nmask;
    int status = 0;
    cJSON *body = NULL;

    if (api_read_update_mask(r, updatable, mask, 10, &nmask, err, sizeof(err)) < 0)
        return api_bad_request(r, err);
    body = api_read_fields(r, conn_known, conn_required, req, &status);
    if (!body)
        return status;
    id = req[0]; /* conn_type is read with the other fields below */
    if (strcmp(id, r->cap[0]) != 0) {
        status = api_bad_request(r, "The connection_id cannot be updated.");
        goto out;
    }
    ring = api_request_keyring(r);
    if (!ring) {
        status = 500;
        goto out;
    }
    if (load_connection(r, ring, r->cap[0], &c, &status) != 1)
        goto out;
    if (!(before = connection_dup(c))) {
        status = api_send_json(r, 500, NULL);
        goto out;
    }
    if (apply_connection_body(body, c, mask, nmask, err, sizeof(err)) < 0 ||
        connection_check_retarget(before, c, body_sets(body, mask, nmask, "password"),
                                  body_sets(body, mask, nmask, "extra"), err, sizeof(err)) < 0) {
        status = api_bad_request(r, err);
        goto out;
    }
    status = store_connection(r, ring, c, false);
    if (status == 0)
        status = send_connection(r, 200, c);
out:
    connection_free(before);
    connection_free(c);
    secrets_keyring_free(ring);
    cJSON_Delete(body);
    return status;
}

int api_delete_connection(api_req_t *r)
{
    char err[512];
    int rc = connections_delete(r->db, r->cap[0], err, sizeof(err));

    if (rc == UPDRAFT_ENOTFOUND)
        return api_not_found(r, "Connection not found",
                             "The Connection with connection_id: `%s` was not found", r->cap[0]);
    if (rc < 0)
        return api_db_failed(r);
    apicache_bump(r->api->cache);
    log_info("connection deleted conn_id=%s", r->cap[0]);
    return api_send_no_content(r);
}

/* ---- POST /connections/test ----------------------------------------------- */

/* core.test_connection, read as Airflow does: "Enabled" in any case, spaces around ignored. */
static bool test_connection_enabled(const char *setting)
{
    size_t n;

    while (setting && (*setting == ' ' || *setting == '\t'))
        setting++;
    if (!setting)
        return false;
    n = strlen(setting);
    while (n > 0 && (setting[n - 1] == ' ' || setting[n - 1] == '\t'))
        n--;
    return n == 7 && strncasecmp(setting, "enabled", 7) == 0;
}

/*
 * POST /connections/test (test_connection), as Airflow 2.7+: refused (403)
 * unless core.test_connection is Enabled; the body is a Connection
 * (connection_id and conn_type required), tested as given without being
 * stored (sched/conntest.h). Answers ConnectionTest {status, message}.
 */
int api_post_test_connection(api_req_t *r)
{
    connection_t *c = NULL;
    const char *req[2];
    char err[512], msg[512];
    bool ok = false;
    int status = 0, rc;
    cJSON *body, *out;

    if (!test_connection_enabled(r->api->cfg->core.test_connection)) {
        http_send_problem(r->conn, 403, NULL,
                          "Testing connections is disabled in Airflow configuration. Contact "
                          "your deployment admin to enable it.");
        return 403;
    }
    body = api_read_fields(r, conn_known, conn_required, req, &status);
    if (!body)
        return status;
    c = connection_new();
    if (!c || !(c->conn_id = strdup(req[0]))) {
        status = api_send_json(r, 500, NULL);
        goto out;
    }
    if (apply_connection_body(body, c, NULL, 0, err, sizeof(err)) < 0) {
        status = api_bad_request(r, err);
        goto out;
    }
    if ((rc = conntest_run(c, &ok, msg, sizeof(msg))) < 0) {
        status = api_fail(r, rc, NULL, "%s", updraft_strerror(rc));
        goto out;
    }
    log_info("connection tested conn_type=%s status=%s", c->conn_type ? c->conn_type : "",
             ok ? "true" : "false");
    out = cJSON_CreateObject();
    cJSON_AddBoolToObject(out, "status", ok);
    cJSON_AddStringToObject(out, "message", msg);
    status = api_send_json(r, 200, out);
out:
    connection_free(c);
    cJSON_Delete(body);
    return status;
}
