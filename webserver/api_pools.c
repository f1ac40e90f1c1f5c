/*
 * api_pools.c - the pool routes of the REST API (Airflow 2's Pool schema)
 * over store/pools.h: list, get, create, update (with update_mask) and
 * delete. A pool cannot be renamed here (a body "name" must match the
 * path), and default_pool cannot be deleted (400, as Airflow).
 */
#include "webserver/api_int.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "store/pools.h"
#include "webserver/apicache.h"
#include "webserver/http.h"

static int pool_not_found(api_req_t *r, const char *name)
{
    return api_not_found(r, "Pool not found", "Pool with name:'%.256s' not found", name);
}

int api_get_pools(api_req_t *r)
{
    char err[256];
    int64_t limit, offset;
    long total;
    cJSON *items = NULL;

    if (httpq_get_page(&r->q, API_PAGE_DEFAULT, API_PAGE_MAX, &limit, &offset, err, sizeof(err)) <
        0)
        return api_bad_request(r, err);
    if (pools_list(r->db, (long)limit, (long)offset, &items, &total) < 0)
        return api_db_failed(r);
    return api_send_items(r, "pools", items, total);
}

static int send_pool(api_req_t *r, int status, const char *name)
{
    cJSON *out = NULL;
    int rc = pools_get(r->db, name, &out);

    if (rc == UPDRAFT_ENOTFOUND)
        return pool_not_found(r, name);
    if (rc < 0)
        return api_db_failed(r);
    return api_send_json(r, status, out);
}

int api_get_pool(api_req_t *r)
{
    return send_pool(r, 200, r->cap[0]);
}

/* slots: an integer of -1 or more; 0 when absent (*present false), -1 with err. */
static int body_slots(const cJSON *body, bool *present, int *out, char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, "slots");

    *present = v != NULL;
    *out = 0;
    if (!v)
        return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < -1 ||
        v->valuedouble > INT_MAX) {
        snprintf(err, errlen, "{'slots': ['Not a valid integer of -1 or more.']}");
        return -1;
    }
    *out = (int)v->valuedouble;
    return 0;
}

/*
 * Reads a pool body: name (required unless in the path), slots,
 * description, include_deferred. -1 with the problem detail in err.
 */
static int pool_body(const cJSON *body, const char **name, bool *has_slots, int *slots,
                     const char **desc, int *deferred, char *err, size_t errlen)
{
    static const char *const known[] = {"name",
                                        "slots",
                                        "description",
                                        "include_deferred",
                                        "occupied_slots",
                                        "running_slots",
                                        "queued_slots",
                                        "scheduled_slots",
                                        "deferred_slots",
                                        "open_slots",
                                        NULL};
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(body, "include_deferred");

    if (api_body_check_known(body, known, err, errlen) < 0)
        return -1;
    if (api_body_str(body, "name", name) < 0) {
        snprintf(err, errlen, "{'name': ['Not a valid string.']}");
        return -1;
    }
    if (body_slots(body, has_slots, slots, err, errlen) < 0)
        return -1;
    if (api_body_str(body, "description", desc) < 0) {
        snprintf(err, errlen, "{'description': ['Not a valid string.']}");
        return -1;
    }
    *deferred = -1;
    if (d && !cJSON_IsBool(d)) {
        snprintf(err, errlen, "{'include_deferred': ['Not a valid boolean.']}");
        return -1;
    }
    if (d)
        *deferred = cJSON_IsTrue(d) ? 1 : 0;
    return 0;
}

int api_post_pool(api_req_t *r)
{
    const char *name, *desc;
    bool has_slots;
    int slots, deferred, status = 0, rc;
    char err[512];
    cJSON *body = api_read_body(r, &status);

    if (!body)
        return status;
    if (pool_body(body, &name, &has_slots, &slots, &desc, &deferred, err, sizeof(err)) < 0) {
        status = api_bad_request(r, err);
        goto out;
    }
    if (!name) {
        status = api_bad_request(r, "{'name': ['Missing data for required field.']}");
        goto out;
    }
    if (!has_slots) {
        status = api_bad_request(r, "{'slots': ['Missing data for required field.']}");
        goto out;
    }
    if (!pools_name_valid(name)) {
        status = api_bad_request(r, "{'name': ['Use 1-256 printable characters.']}");
        goto out;
    }
    rc = pools_set(r->db, name, slots, desc, deferred < 0 ? 0 : deferred, true, err, sizeof(err));
    if (rc == UPDRAFT_EEXISTS) {
        http_send_problem(r->conn, 409, "Pool already exists", "Pool: %.256s already exists", name);
        status = 409;
        goto out;
    }
    if (rc < 0) {
        status = api_db_failed(r);
        goto out;
    }
    apicache_bump(r->api->cache);
    log_info("pool created pool=%s slots=%d", name, slots);
    status = send_pool(r, 200, name);
out:
    cJSON_Delete(body);
    return status;
}

int api_patch_pool(api_req_t *r)
{
    static const char *const updatable[] = {"name", "slots", "description", "include_deferred",
                                            NULL};
    const char *name, *desc, *pool = r->cap[0];
    bool has_slots;
    int slots, deferred, status = 0, rc;
    char mask[4][API_MASK_FIELD], err[512];
    size_t nmask;
    cJSON *body = NULL, *cur = NULL;

    if (api_read_update_mask(r, updatable, mask, 4, &nmask, err, sizeof(err)) < 0)
        return api_bad_request(r, err);
    body = api_read_body(r, &status);
    if (!body)
        return status;
    if (pool_body(body, &name, &has_slots, &slots, &desc, &deferred, err, sizeof(err)) < 0) {
        status = api_bad_request(r, err);
        goto out;
    }
    if (nmask == 0 && (!name || !has_slots)) {
        status = api_bad_request(r, !name ? "{'name': ['Missing data for required field.']}"
                                          : "{'slots': ['Missing data for required field.']}");
        goto out;
    }
    if (name && strcmp(name, pool) != 0 && (nmask == 0 || api_mask_has(mask, nmask, "name"))) {
        status = api_bad_request(r, strcmp(pool, POOLS_DEFAULT) == 0
                                        ? "Default Pool's name can't be modified"
                                        : "a pool cannot be renamed: create a new one");
        goto out;
    }
    rc = pools_get(r->db, pool, &cur);
    if (rc == UPDRAFT_ENOTFOUND) {
        status = pool_not_found(r, pool);
        goto out;
    }
    if (rc < 0) {
        status = api_db_failed(r);
        goto out;
    }
    if (nmask > 0) {
        if (!api_mask_has(mask, nmask, "slots") || !has_slots)
            slots = cJSON_GetObjectItemCaseSensitive(cur, "slots")->valueint;
        if (!api_mask_has(mask, nmask, "description"))
            desc = NULL;
        if (!api_mask_has(mask, nmask, "include_deferred"))
            deferred = -1;
    }
    rc = pools_set(r->db, pool, slots, desc, deferred, false, err, sizeof(err));
    if (rc < 0) {
        status = rc == UPDRAFT_EDB ? api_db_failed(r) : api_bad_request(r, err);
        goto out;
    }
    apicache_bump(r->api->cache);
    log_info("pool updated pool=%s slots=%d", pool, slots);
    status = send_pool(r, 200, pool);
out:
    cJSON_Delete(cur);
    cJSON_Delete(body);
    return status;
}

int api_delete_pool(api_req_t *r)
{
    int rc = pools_delete(r->db, r->cap[0]);

    if (rc == UPDRAFT_ENOTFOUND)
        return pool_not_found(r, r->cap[0]);
    if (rc == UPDRAFT_EINVALID)
        return api_bad_request(r, "Default Pool can't be deleted");
    if (rc < 0)
        return api_db_failed(r);
    apicache_bump(r->api->cache);
    log_info("pool deleted pool=%s", r->cap[0]);
    return api_send_no_content(r);
}
