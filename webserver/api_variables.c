/*
 * api_variables.c - the variable routes of the REST API (Airflow 2's
 * Variable schema) over store/variables.h: list (keys and descriptions
 * only), get, create, update (with update_mask) and delete. Values are
 * encrypted at rest (core/secrets.h) under core.fernet_key, read per
 * request; storing a variable with a sensitive name without a configured
 * key is a 400, not a plaintext row.
 */
#include "webserver/api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/secrets.h"
#include "store/variables.h"
#include "webserver/apicache.h"
#include "webserver/http.h"

/*
 * The VariableCollectionItem schema (values are not listed), one row per
 * member in answer order. Column-descriptor tables like this one are the
 * one deliberate place where SQL fragments live outside lib/store (see
 * api_dags.c).
 */
static const api_field_t variable_item_fields[] = {
    {"key", "v.key", API_STR},
    {"description", "v.description", API_STR},
};

static const api_resource_t variable_item_resource = {"variable v", variable_item_fields,
                                                      API_NFIELDS(variable_item_fields)};

static const httpq_sort_t variable_sorts[] = {
    {"id", "v.id"},
    {"key", "v.key"},
};

static const api_sorting_t variable_sorting = {variable_sorts, API_NFIELDS(variable_sorts), "id",
                                               false, "v.id"};

/*
 * The list, a page at a time; variable_key_pattern (Airflow 3's REST API)
 * keeps the keys that contain it, any case, with LIKE's % and _ as
 * wildcards, as dag_id_pattern does for DAGs.
 */
int api_get_variables(api_req_t *r)
{
    const char *pattern = httpq_get(&r->q, "variable_key_pattern");
    sqlb_t b = {0};
    api_page_t p;
    int status = api_read_page(r, &variable_sorting, &p);

    if (status != 0)
        return status;
    if (pattern && *pattern)
        sqlb_add(&b, " AND v.key ILIKE '%%' || $%d || '%%'", sqlb_param(&b, pattern));
    status = api_send_collection(r, "variables", &variable_item_resource, &b, p.order, &p);
    sqlb_free(&b);
    return status;
}

/* Sends {"key", "value", "description"} of the stored variable key. */
static int send_variable(api_req_t *r, const secrets_keyring_t *ring, const char *key)
{
    char *val = NULL, *desc = NULL, err[512];
    cJSON *out;
    int rc = variables_get(r->db, ring, key, &val, &desc, err, sizeof(err));

    if (rc == UPDRAFT_ENOTFOUND)
        return api_not_found(r, "Variable not found", "Variable does not exist");
    if (rc < 0)
        return rc == UPDRAFT_EDB ? api_db_failed(r) : api_secret_failed(r, err);
    out = cJSON_CreateObject();
    if (out) {
        cJSON_AddStringToObject(out, "key", key);
        cJSON_AddStringToObject(out, "value", val);
        if (desc)
            cJSON_AddStringToObject(out, "description", desc);
        else
            cJSON_AddNullToObject(out, "description");
    }
    secrets_free_str(val);
    free(desc);
    return api_send_json(r, 200, out);
}

int api_get_variable(api_req_t *r)
{
    secrets_keyring_t *ring = api_request_keyring(r);
    int status;

    if (!ring)
        return 500;
    status = send_variable(r, ring, r->cap[0]);
    secrets_keyring_free(ring);
    return status;
}

/* Stores key = value (description) after the checks that make a 400. */
static int store_variable(api_req_t *r, const secrets_keyring_t *ring, const char *key,
                          const char *value, const char *desc)
{
    char err[512];
    int rc;

    if (variables_validate_key(key, err, sizeof(err)) < 0)
        return api_bad_request(r, err);
    if (strlen(value) > VAR_MAX_VALUE)
        return api_bad_request(r, "{'value': ['Longer than the maximum length.']}");
    rc = variables_set(r->db, ring, key, value, desc, err, sizeof(err));
    if (rc == UPDRAFT_ENOKEY || rc == UPDRAFT_EINVALID)
        return api_bad_request(r, err);
    if (rc < 0) {
        log_warn("variable store failed key=%s error=\"%s\"", key, err);
        return api_db_failed(r);
    }
    apicache_bump(r->api->cache);
    log_info("variable stored key=%s", key);
    return 0;
}

/* The members a variable body may have, and the ones it must. */
static const char *const known[] = {"key", "value", "description", NULL};
static const char *const required[] = {"key", "value", NULL};

int api_post_variable(api_req_t *r)
{
    secrets_keyring_t *ring = NULL;
    const char *key, *value, *desc;
    int status = 0;
    const char *req[3];
    cJSON *body = api_read_fields(r, known, required, req, &status);

    if (!body)
        return status;
    key = req[0];
    value = req[1];
    if (api_body_str(body, "description", &desc) < 0) {
        status = api_bad_request(r, "{'description': ['Not a valid string.']}");
        goto out;
    }
    ring = api_request_keyring(r);
    if (!ring) {
        status = 500;
        goto out;
    }
    status = store_variable(r, ring, key, value, desc);
    if (status == 0)
        status = send_variable(r, ring, key);
out:
    secrets_keyring_free(ring);
    cJSON_Delete(body);
    return status;
}

int api_patch_variable(api_req_t *r)
{
    static const char *const updatable[] = {"value", "description", NULL};
    secrets_keyring_t *ring = NULL;
    const char *key, *value, *desc, *req[3];
    char mask[4][API_MASK_FIELD], err[512], *cur_val = NULL, *cur_desc = NULL;
    size_t nmask;
    int status = 0, rc;
    cJSON *body = NULL;

    if (api_read_update_mask(r, updatable, mask, 4, &nmask, err, sizeof(err)) < 0)
        return api_bad_request(r, err);
    body = api_read_fields(r, known, required, req, &status);
    if (!body)
        return status;
    key = req[0];
    value = req[1];
    if (api_body_str(body, "description", &desc) < 0) {
        status = api_bad_request(r, "{'description': ['Not a valid string.']}");
        goto out;
    }
    if (strcmp(key, r->cap[0]) != 0) {
        http_send_problem(r->conn, 400, "Invalid post body",
                          "key from request body doesn't match uri parameter");
        status = 400;
        goto out;
    }
    ring = api_request_keyring(r);
    if (!ring) {
        status = 500;
        goto out;
    }
    rc = variables_get(r->db, ring, key, &cur_val, &cur_desc, err, sizeof(err));
    if (rc == UPDRAFT_ENOTFOUND) {
        status = api_not_found(r, "Variable not found", "Variable does not exist");
        goto out;
    }
    if (rc < 0) {
        status = rc == UPDRAFT_EDB ? api_db_failed(r) : api_secret_failed(r, err);
        goto out;
    }
    if (nmask > 0) {
        if (!api_mask_has(mask, nmask, "value"))
            value = cur_val;
        if (!api_mask_has(mask, nmask, "description"))
            desc = cur_desc;
    } else if (!cJSON_GetObjectItemCaseSensitive(body, "description")) {
        desc = cur_desc;
    }
    status = store_variable(r, ring, key, value, desc);
    if (status == 0)
        status = send_variable(r, ring, key);
out:
    secrets_free_str(cur_val);
    free(cur_desc);
    secrets_keyring_free(ring);
    cJSON_Delete(body);
    return status;
}

int api_delete_variable(api_req_t *r)
{
    char err[512];
    int rc = variables_delete(r->db, r->cap[0], err, sizeof(err));

    if (rc == UPDRAFT_ENOTFOUND)
        return api_not_found(r, "Variable not found", "Variable does not exist");
    if (rc < 0)
        return api_db_failed(r);
    apicache_bump(r->api->cache);
    log_info("variable deleted key=%s", r->cap[0]);
    return api_send_no_content(r);
}
