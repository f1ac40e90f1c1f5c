/*
 * api_users.c - users, roles and permissions (Airflow 2's User, Role and
 * Action schemas) over store/users.h and model/roles.h.
 *
 * Roles are the five of the permission table: they are listed with their
 * permissions, and cannot be created, changed or deleted (those methods
 * answer 405). A user's password is write-only: it is accepted in POST and
 * PATCH bodies, hashed by the store, and never returned.
 */
#include "webserver/api_int.h"

#include <stdio.h>
#include <string.h>

#include "core/credential.h"
#include "core/log.h"
#include "webserver/http.h"

static int user_not_found(api_req_t *r, const char *username)
{
    return api_not_found(r, "User not found", "The User with username `%.256s` was not found",
                         username);
}

int api_get_users(api_req_t *r)
{
    char err[256];
    int64_t limit, offset;
    long total;
    cJSON *items = NULL;
    int rc;

    if (httpq_get_page(&r->q, API_PAGE_DEFAULT, API_PAGE_MAX, &limit, &offset, err, sizeof(err)) <
        0)
        return api_bad_request(r, err);
    rc = users_list(r->db, httpq_get(&r->q, "order_by"), (long)limit, (long)offset, &items, &total,
                    err, sizeof(err));
    if (rc < 0)
        return api_fail(r, rc, NULL, "%s", err);
    return api_send_items(r, "users", items, total);
}

static int send_user(api_req_t *r, const char *username)
{
    char err[256];
    cJSON *out = NULL;
    int rc = users_get(r->db, username, &out, err, sizeof(err));

    if (rc == UPDRAFT_ENOTFOUND)
        return user_not_found(r, username);
    if (rc < 0)
        return api_fail(r, rc, NULL, "%s", err);
    return api_send_json(r, 200, out);
}

int api_get_user(api_req_t *r)
{
    return send_user(r, r->cap[0]);
}

/*
 * Reads a User body into f (strings borrowed from body, role names into
 * roles[]). -1 with the problem detail in err.
 */
static int user_body(const cJSON *body, user_fields_t *f, const char **roles, char *err,
                     size_t errlen)
{
    static const char *const known[] = {
        "username", "first_name", "last_name",  "email",      "password",    "roles",
        "active",   "changed_on", "created_on", "last_login", "login_count", "failed_login_count",
        NULL};
    static const char *const strs[] = {"username", "first_name", "last_name", "email", "password"};
    const char **dst[] = {&f->username, &f->first_name, &f->last_name, &f->email, &f->password};
    const cJSON *rl = cJSON_GetObjectItemCaseSensitive(body, "roles");
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(body, "active");
    const cJSON *it;

    memset(f, 0, sizeof(*f));
    f->active = -1;
    if (api_body_check_known(body, known, err, errlen) < 0)
        return -1;
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        if (api_body_str(body, strs[i], dst[i]) < 0) {
            snprintf(err, errlen, "{'%s': ['Not a valid string.']}", strs[i]);
            return -1;
        }
    /* Read-only in Airflow's schema; here it also deactivates (or
     * reactivates) a user, as the CLI and the UI's user form do. */
    if (act && !cJSON_IsNull(act)) {
        if (!cJSON_IsBool(act)) {
            snprintf(err, errlen, "{'active': ['Not a valid boolean.']}");
            return -1;
        }
        f->active = cJSON_IsTrue(act) ? 1 : 0;
    }
    if (rl && !cJSON_IsNull(rl)) {
        if (!cJSON_IsArray(rl)) {
            snprintf(err, errlen, "{'roles': ['Not a valid list.']}");
            return -1;
        }
        cJSON_ArrayForEach(it, rl)
        {
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(it, "name");
            if (!cJSON_IsObject(it) || !cJSON_IsString(name)) {
                snprintf(err, errlen, "{'roles': ['Each role is an object with a name.']}");
                return -1;
            }
            if (f->n_roles == USERS_MAX_ROLES) {
                snprintf(err, errlen, "{'roles': ['At most %d roles.']}", USERS_MAX_ROLES);
                return -1;
            }
            roles[f->n_roles++] = name->valuestring;
        }
        f->roles = roles;
        f->set_roles = true;
    }
    return 0;
}

int api_post_user(api_req_t *r)
{
    const char *roles[USERS_MAX_ROLES];
    user_fields_t f;
    char err[512];
    int status = 0, rc;
    cJSON *body = api_read_body(r, &status);

    if (!body)
        return status;
    if (user_body(body, &f, roles, err, sizeof(err)) < 0) {
        status = api_bad_request(r, err);
        goto out;
    }
    if (!f.password || !*f.password) {
        status = api_bad_request(r, "{'password': ['Missing data for required field.']}");
        goto out;
    }
    if (!f.set_roles) { /* Airflow's default role of a new user */
        static const char *const dflt[] = {"Public"};
        f.roles = dflt;
        f.n_roles = 1;
    }
    rc = users_create(r->db, &f, NULL, err, sizeof(err));
    if (rc < 0) {
        status = api_fail(r, rc, NULL, "%s", err);
        goto out;
    }
    log_info("user created user=%s by=%s", f.username, r->who.username);
    status = send_user(r, f.username);
out:
    if (f.password)
        credential_wipe((char *)f.password, strlen(f.password));
    cJSON_Delete(body);
    return status;
}

int api_patch_user(api_req_t *r)
{
    static const char *const updatable[] = {"username", "first_name", "last_name", "email",
                                            "password", "roles",      "active",    NULL};
    const char *roles[USERS_MAX_ROLES];
    user_fields_t f;
    char mask[8][API_MASK_FIELD], err[512];
    size_t nmask;
    int status = 0, rc;
    cJSON *body;

    if (api_read_update_mask(r, updatable, mask, 8, &nmask, err, sizeof(err)) < 0)
        return api_bad_request(r, err);
    body = api_read_body(r, &status);
    if (!body)
        return status;
    if (user_body(body, &f, roles, err, sizeof(err)) < 0) {
        status = api_bad_request(r, err);
        goto out;
    }
    if (nmask > 0) { /* only the masked fields change */
        if (!api_mask_has(mask, nmask, "username"))
            f.username = NULL;
        if (!api_mask_has(mask, nmask, "first_name"))
            f.first_name = NULL;
        if (!api_mask_has(mask, nmask, "last_name"))
            f.last_name = NULL;
        if (!api_mask_has(mask, nmask, "email"))
            f.email = NULL;
        if (!api_mask_has(mask, nmask, "password"))
            f.password = NULL;
        if (!api_mask_has(mask, nmask, "roles"))
            f.set_roles = false;
        if (!api_mask_has(mask, nmask, "active"))
            f.active = -1;
    }
    rc = users_update(r->db, r->cap[0], &f, err, sizeof(err));
    if (rc == UPDRAFT_ENOTFOUND) {
        status = user_not_found(r, r->cap[0]);
        goto out;
    }
    if (rc < 0) {
        status = api_fail(r, rc, NULL, "%s", err);
        goto out;
    }
    log_info("user changed user=%s by=%s", r->cap[0], r->who.username);
    status = send_user(r, f.username ? f.username : r->cap[0]);
out:
    if (f.password)
        credential_wipe((char *)f.password, strlen(f.password));
    cJSON_Delete(body);
    return status;
}

int api_delete_user(api_req_t *r)
{
    char err[256];
    int rc = users_delete(r->db, r->cap[0], err, sizeof(err));

    if (rc == UPDRAFT_ENOTFOUND)
        return user_not_found(r, r->cap[0]);
    if (rc < 0)
        return api_fail(r, rc, NULL, "%s", err);
    log_info("user deleted user=%s by=%s", r->cap[0], r->who.username);
    return api_send_no_content(r);
}

/* ---- roles and permissions ------------------------------------------------------ */

static cJSON *role_json(role_t role)
{
    size_t n;
    const perm_t *t = roles_table(&n);
    cJSON *o = cJSON_CreateObject(), *actions = cJSON_AddArrayToObject(o, "actions");

    if (!o || !actions) {
        cJSON_Delete(o);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        cJSON *ar, *a, *res;
        if (!roles_allow(ROLE_BIT(role), t[i].action, t[i].resource))
            continue;
        ar = cJSON_CreateObject();
        a = cJSON_AddObjectToObject(ar, "action");
        res = cJSON_AddObjectToObject(ar, "resource");
        if (!ar || !a || !res ||
            !cJSON_AddStringToObject(a, "name", roles_action_name(t[i].action)) ||
            !cJSON_AddStringToObject(res, "name", roles_resource_name(t[i].resource))) {
            cJSON_Delete(ar);
            cJSON_Delete(o);
            return NULL;
        }
        cJSON_AddItemToArray(actions, ar);
    }
    cJSON_AddStringToObject(o, "name", roles_name(role));
    return o;
}

int api_get_roles(api_req_t *r)
{
    const char *order = httpq_get(&r->q, "order_by");
    char err[256];
    int64_t limit, offset;
    cJSON *out = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(out, "roles");
    bool desc = order && order[0] == '-';

    if (httpq_get_page(&r->q, API_PAGE_DEFAULT, API_PAGE_MAX, &limit, &offset, err, sizeof(err)) <
        0) {
        cJSON_Delete(out);
        return api_bad_request(r, err);
    }
    if (order && strcmp(order + desc, "name") != 0 && strcmp(order + desc, "id") != 0) {
        cJSON_Delete(out);
        return api_bad_request(r, "Ordering with 'order_by' is only possible by name or id");
    }
    if (!out || !arr)
        goto oom;
    /* By id is the table's order; by name, alphabetical. */
    {
        role_t order_ids[ROLE__COUNT];
        for (int i = 0; i < ROLE__COUNT; i++)
            order_ids[i] = (role_t)i;
        if (order && strcmp(order + desc, "name") == 0)
            for (int i = 1; i < ROLE__COUNT; i++)
                for (int j = i;
                     j > 0 && strcmp(roles_name(order_ids[j - 1]), roles_name(order_ids[j])) > 0;
                     j--) {
                    role_t t = order_ids[j];
                    order_ids[j] = order_ids[j - 1];
                    order_ids[j - 1] = t;
                }
        for (int64_t i = offset; i < ROLE__COUNT && i < offset + limit; i++) {
            cJSON *o = role_json(order_ids[desc ? ROLE__COUNT - 1 - i : i]);
            if (!o)
                goto oom;
            cJSON_AddItemToArray(arr, o);
        }
    }
    cJSON_AddNumberToObject(out, "total_entries", ROLE__COUNT);
    return api_send_json(r, 200, out);
oom:
    cJSON_Delete(out);
    return api_send_json(r, 500, NULL);
}

int api_get_role(api_req_t *r)
{
    int role = roles_parse(r->cap[0]);

    if (role < 0 || strcmp(roles_name((role_t)role), r->cap[0]) != 0)
        return api_not_found(r, "Role not found", "Role with name '%.256s' was not found",
                             r->cap[0]);
    return api_send_json(r, 200, role_json((role_t)role));
}

int api_get_permissions(api_req_t *r)
{
    char err[256];
    int64_t limit, offset;
    cJSON *out = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(out, "actions");
    int total = 0;

    if (httpq_get_page(&r->q, API_PAGE_DEFAULT, API_PAGE_MAX, &limit, &offset, err, sizeof(err)) <
        0) {
        cJSON_Delete(out);
        return api_bad_request(r, err);
    }
    if (!out || !arr) {
        cJSON_Delete(out);
        return api_send_json(r, 500, NULL);
    }
    for (int a = ACT_READ; a < ACT__COUNT; a++, total++) {
        cJSON *o;
        if (total < offset || total >= offset + limit)
            continue;
        o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", roles_action_name((perm_action_t)a));
        cJSON_AddItemToArray(arr, o);
    }
    cJSON_AddNumberToObject(out, "total_entries", total);
    return api_send_json(r, 200, out);
}
