/*
 * ui.c - the web UI: its files and the page every UI path answers with.
 *
 * The UI is one page (index.html) that reads the path and draws the view,
 * so every UI path (/dags, /dags/etl/grid, ...) answers with the same
 * index.html, behind the login, never cached. The scripts and styles it
 * names live under /assets/ with content-hashed names: they are public
 * (nothing in them is a secret), cached for a year and immutable, and sent
 * gzip'ed to a browser that accepts it. GET /ui/me tells the page who is
 * signed in and what they may do, so it shows only the actions they have.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/roles.h"
#include "webserver/api_int.h"
#include "webserver/http.h"
#include "webserver/ui_assets.h"

/* The page's own rules: only this server's scripts, styles and data. */
static const char *const page_headers[] = {
    "Content-Security-Policy",
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' "
    "data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'",
    "X-Frame-Options",
    "DENY",
    "Referrer-Policy",
    "same-origin",
    "X-Content-Type-Options",
    "nosniff",
    "Cache-Control",
    "no-cache",
    NULL,
};

static const char *const asset_headers[] = {
    "Cache-Control",
    "public, max-age=31536000, immutable",
    "X-Content-Type-Options",
    "nosniff",
    "Vary",
    "Accept-Encoding",
    NULL,
};

static const char *const asset_gz_headers[] = {
    "Cache-Control",
    "public, max-age=31536000, immutable",
    "X-Content-Type-Options",
    "nosniff",
    "Vary",
    "Accept-Encoding",
    "Content-Encoding",
    "gzip",
    NULL,
};

static const ui_asset_t *find_asset(const char *path)
{
    for (size_t i = 0; i < ui_assets_count; i++)
        if (strcmp(ui_assets[i].path, path) == 0)
            return &ui_assets[i];
    return NULL;
}

/*
 * Whether the Accept-Encoding header takes gzip: the token "gzip" (any
 * case), not followed by a q of zero.
 */
static bool accepts_gzip(struct mg_connection *conn)
{
    const char *h = mg_get_header(conn, "Accept-Encoding");

    for (const char *p = h; p && *p;) {
        size_t n;

        p += strspn(p, " \t,");
        n = strcspn(p, " \t,;");
        if (n == 4 && strncasecmp(p, "gzip", 4) == 0) {
            const char *q = p + n + strspn(p + n, " \t");

            if (*q != ';')
                return true;
            q += 1 + strspn(q + 1, " \t");
            return strncasecmp(q, "q=", 2) != 0 || strtod(q + 2, NULL) > 0;
        }
        p += n;
        p += strcspn(p, ",");
    }
    return false;
}

int page_get_asset(api_req_t *r)
{
    char path[256];
    const ui_asset_t *a;

    if (snprintf(path, sizeof(path), "assets/%s", r->cap[0]) >= (int)sizeof(path) ||
        !(a = find_asset(path)))
        return api_not_found(r, "Not Found", "no such file: /assets/%s", r->cap[0]);
    if (accepts_gzip(r->conn))
        http_send_h(r->conn, 200, asset_gz_headers, a->content_type, (const char *)a->gz,
                    a->gz_len);
    else
        http_send_h(r->conn, 200, asset_headers, a->content_type, (const char *)a->raw, a->raw_len);
    return 200;
}

int page_get_ui(api_req_t *r)
{
    const ui_asset_t *a = find_asset("index.html");

    if (!a) {
        http_send_problem(r->conn, 500, NULL, "the UI was not built into this webserver");
        return 500;
    }
    http_send_h(r->conn, 200, page_headers, a->content_type, (const char *)a->raw, a->raw_len);
    return 200;
}

int page_get_root(api_req_t *r)
{
    static const char *const to_dags[] = {"Location", "/dags", NULL};

    http_send_h(r->conn, 302, to_dags, "text/plain; charset=utf-8", "", 0);
    return 302;
}

int api_get_ui_me(api_req_t *r)
{
    cJSON *me = cJSON_CreateObject(), *roles = cJSON_AddArrayToObject(me, "roles"),
          *perms = cJSON_AddArrayToObject(me, "permissions");

    cJSON_AddStringToObject(me, "username", r->who.username);
    cJSON_AddStringToObject(me, "display_name",
                            r->who.display[0] ? r->who.display : r->who.username);
    cJSON_AddBoolToObject(me, "session", r->who.via_session);
    for (int i = 0; i < ROLE__COUNT; i++)
        if (r->who.roles & ROLE_BIT(i))
            cJSON_AddItemToArray(roles, cJSON_CreateString(roles_name((role_t)i)));
    /* Airflow's form: [action, resource] pairs, e.g. ["can_edit", "DAGs"]. */
    for (int res = RES_NONE + 1; res < RES__COUNT; res++)
        for (int act = ACT_NONE + 1; act < ACT__COUNT; act++) {
            cJSON *pair;

            if (!roles_allow(r->who.roles, (perm_action_t)act, (perm_resource_t)res))
                continue;
            pair = cJSON_CreateArray();
            cJSON_AddItemToArray(pair, cJSON_CreateString(roles_action_name((perm_action_t)act)));
            cJSON_AddItemToArray(pair,
                                 cJSON_CreateString(roles_resource_name((perm_resource_t)res)));
            cJSON_AddItemToArray(perms, pair);
        }
    http_send_json(r->conn, 200, me);
    cJSON_Delete(me);
    return 200;
}
