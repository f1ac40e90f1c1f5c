/*
 * page_login.c - the browser's way in: the login page, the session
 * cookies, logout, and the page a signed-in browser lands on.
 *
 * A successful login sets two cookies: updraft_session (the session id:
 * HttpOnly, so no script reads it) and updraft_csrf (the session's CSRF
 * token, readable by the UI's scripts, which send it back in the
 * X-CSRF-Token header of every state-changing request; a form sends it as
 * the csrf_token field). Both are SameSite=Lax, and Secure when
 * webserver.base_url is https. A login form posted from another site is
 * refused by its Origin header (login CSRF).
 *
 * Wrong usernames and wrong passwords get the same page and take the same
 * time (auth_login); every login and failed login is in the event log,
 * with the username only when such a user exists (a password typed into
 * the username field is never recorded).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/credential.h"
#include "core/error.h"
#include "core/log.h"
#include "core/strbuf.h"
#include "store/eventlog.h"
#include "webserver/api_int.h"
#include "webserver/auth.h"
#include "webserver/guard.h"
#include "webserver/http.h"
#include "webserver/proxies.h"

#define FORM_MAX 8192
#define NEXT_MAX 1024

static const char *const page_headers[] = {
    "Content-Security-Policy",
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
    "X-Frame-Options",
    "DENY",
    "Referrer-Policy",
    "same-origin",
    NULL,
};

static void put_escaped(strbuf_t *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            strbuf_puts(b, "&amp;");
            break;
        case '<':
            strbuf_puts(b, "&lt;");
            break;
        case '>':
            strbuf_puts(b, "&gt;");
            break;
        case '"':
            strbuf_puts(b, "&quot;");
            break;
        case '\'':
            strbuf_puts(b, "&#39;");
            break;
        default:
            strbuf_putn(b, s, 1);
        }
    }
}

static const char style[] =
    "<style>body{font-family:system-ui,sans-serif;background:#f4f6f8;margin:0}"
    "main{max-width:360px;margin:12vh auto;background:#fff;padding:32px;border-radius:8px;"
    "box-shadow:0 1px 4px rgba(0,0,0,.15)}h1{font-size:22px;margin:0 0 20px}"
    "label{display:block;margin:12px 0 4px;font-size:14px}"
    "input{width:100%;box-sizing:border-box;padding:8px;font-size:15px}"
    "button{margin-top:20px;width:100%;padding:10px;font-size:15px;background:#017cee;"
    "color:#fff;border:0;border-radius:4px;cursor:pointer}"
    ".err{color:#b00020;font-size:14px}a{color:#017cee}</style>";

/* Sends an HTML page (extra headers after the page's own: pairs, NULL-terminated). */
static int send_page(api_req_t *r, int status, const char *const *extra, strbuf_t *b)
{
    const char *hdr[24];
    size_t n = 0;
    char *html = strbuf_take(b);

    for (size_t i = 0; page_headers[i]; i++)
        hdr[n++] = page_headers[i];
    for (size_t i = 0; extra && extra[i] && n < 22; i++)
        hdr[n++] = extra[i];
    hdr[n] = NULL;
    if (!html) {
        http_send_problem(r->conn, 500, NULL, "out of memory");
        return 500;
    }
    http_send_h(r->conn, status, hdr, "text/html; charset=utf-8", html, strlen(html));
    free(html);
    return status;
}

/* Whether next is a path on this server (no scheme, no host: no open redirect). */
static bool next_is_local(const char *next)
{
    return next && next[0] == '/' && next[1] != '/' && next[1] != '\\' && strlen(next) < NEXT_MAX &&
           !strpbrk(next, "\r\n\\");
}

static int login_page(api_req_t *r, int status, const char *message, const char *next,
                      const char *const *extra)
{
    strbuf_t b = {0};

    strbuf_puts(&b, "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                    "<meta name=\"viewport\" content=\"width=device-width\">"
                    "<title>Sign in - updraft</title>");
    strbuf_puts(&b, style);
    strbuf_puts(&b, "</head><body><main><h1>Sign in to updraft</h1>");
    if (message) {
        strbuf_puts(&b, "<p class=\"err\" role=\"alert\">");
        put_escaped(&b, message);
        strbuf_puts(&b, "</p>");
    }
    strbuf_puts(&b, "<form method=\"post\" action=\"/login\">");
    if (next_is_local(next)) {
        strbuf_puts(&b, "<input type=\"hidden\" name=\"next\" value=\"");
        put_escaped(&b, next);
        strbuf_puts(&b, "\">");
    }
    strbuf_puts(&b, "<label for=\"username\">Username</label>"
                    "<input id=\"username\" name=\"username\" autocomplete=\"username\" required "
                    "autofocus>"
                    "<label for=\"password\">Password</label>"
                    "<input id=\"password\" name=\"password\" type=\"password\" "
                    "autocomplete=\"current-password\" required>"
                    "<button type=\"submit\">Sign in</button></form></main></body></html>");
    return send_page(r, status, extra, &b);
}

int page_get_login(api_req_t *r)
{
    return login_page(r, 200, NULL, httpq_get(&r->q, "next"), NULL);
}

int page_redirect_login(api_req_t *r)
{
    const struct mg_request_info *ri = mg_get_request_info(r->conn);
    const char *uri = ri->local_uri_raw ? ri->local_uri_raw : ri->local_uri;
    strbuf_t loc = {0};
    char *where;
    char enc[3 * NEXT_MAX + 1];

    strbuf_puts(&loc, "/login");
    if (uri && next_is_local(uri) && mg_url_encode(uri, enc, sizeof(enc)) > 0) {
        strbuf_puts(&loc, "?next=");
        strbuf_puts(&loc, enc);
    }
    where = strbuf_take(&loc);
    if (!where) {
        http_send_problem(r->conn, 500, NULL, "out of memory");
        return 500;
    }
    {
        const char *hdr[] = {"Location", where, NULL};
        http_send_h(r->conn, 303, hdr, "text/plain", "", 0);
    }
    free(where);
    return 303;
}

/* Whether a POST came from this server's own pages (or from no browser at all). */
static bool same_origin(api_req_t *r)
{
    const char *origin = mg_get_header(r->conn, "Origin");

    return !origin || guard_origin_ok(r->api->guard, origin, mg_get_header(r->conn, "Host"));
}

/* Reads the login fields from a form or a JSON body into the buffers. 0, or the status answered. */
static int read_login(api_req_t *r, char *user, size_t ulen, char *pw, size_t plen, char *next,
                      size_t nlen, bool *json)
{
    const char *ctype = mg_get_header(r->conn, "Content-Type");
    char err[256];
    char *body = NULL;
    size_t len = 0;
    int status;

    *json = http_media_type_is(ctype, "application/json");
    user[0] = pw[0] = next[0] = '\0';
    if (*json) {
        cJSON *o = http_read_json_object(r->conn, &status, err, sizeof(err));
        const cJSON *u, *p;
        if (!o) {
            http_send_problem(r->conn, status, NULL, "%s", err);
            return status;
        }
        u = cJSON_GetObjectItemCaseSensitive(o, "username");
        p = cJSON_GetObjectItemCaseSensitive(o, "password");
        if (cJSON_IsString(u) && cJSON_IsString(p) && strlen(u->valuestring) < ulen &&
            strlen(p->valuestring) < plen) {
            snprintf(user, ulen, "%s", u->valuestring);
            snprintf(pw, plen, "%s", p->valuestring);
        }
        if (cJSON_IsString(p))
            credential_wipe(p->valuestring, strlen(p->valuestring));
        cJSON_Delete(o);
        return 0;
    }
    if (!http_media_type_is(ctype, "application/x-www-form-urlencoded")) {
        http_send_problem(r->conn, 415, NULL,
                          "a login is a form (application/x-www-form-urlencoded) or JSON");
        return 415;
    }
    status = http_read_body(r->conn, FORM_MAX, &body, &len, err, sizeof(err));
    if (status) {
        http_send_problem(r->conn, status, NULL, "%s", err);
        return status;
    }
    if (mg_get_var(body, len, "username", user, ulen) < 0)
        user[0] = '\0';
    if (mg_get_var(body, len, "password", pw, plen) < 0)
        pw[0] = '\0';
    if (mg_get_var(body, len, "next", next, nlen) < 0)
        next[0] = '\0';
    credential_wipe(body, len);
    free(body);
    return 0;
}

static void log_event(api_req_t *r, const char *event, const principal_t *who)
{
    eventlog_entry_t e = {.event = event, .map_index = -2, .execution_date = TS_NONE};
    char err[256];

    e.owner = who && who->username[0] ? who->username : NULL;
    e.owner_display_name = who && who->display[0] ? who->display : NULL;
    e.address = r->address;
    if (!r->db)
        return;
    if (eventlog_add(r->db, &e, err, sizeof(err)) < 0)
        log_warn("cannot write the event log event=%s error=\"%s\"", event, err);
}

/* The Set-Cookie values of a new session (or of an ended one: sid NULL). */
static void session_cookies(api_req_t *r, const char *sid, const char *csrf, char *c1, char *c2,
                            size_t len)
{
    /* Secure with an https base_url, or behind a trusted proxy that took https */
    bool https =
        auth_cookie_secure(r->api->auth) || proxies_forwarded_https(r->api->proxies, r->conn);
    const char *secure = https ? "; Secure" : "";
    int max = sid ? auth_session_max_sec(r->api->auth) : 0;

    snprintf(c1, len, AUTH_SESSION_COOKIE "=%s; Path=/; Max-Age=%d; HttpOnly; SameSite=Lax%s",
             sid ? sid : "", max, secure);
    snprintf(c2, len, AUTH_CSRF_COOKIE "=%s; Path=/; Max-Age=%d; SameSite=Lax%s", csrf ? csrf : "",
             max, secure);
}

int page_post_login(api_req_t *r)
{
    char user[USERS_NAME_MAX + 1], pw[CREDENTIAL_PASSWORD_MAX + 1], next[NEXT_MAX];
    char sid[CREDENTIAL_TOKEN_MAX], c1[256], c2[256], secs[16], hash[CREDENTIAL_HASH_MAX];
    char err[256];
    principal_t who, known;
    bool json;
    int rc, wait, status;

    if (!auth_enabled(r->api->auth)) {
        http_send_problem(r->conn, 404, NULL, "logins are off (webserver.auth is none)");
        return 404;
    }
    if (!same_origin(r)) {
        http_send_problem(r->conn, 403, "Forbidden", "a login form from another site is refused");
        return 403;
    }
    status = read_login(r, user, sizeof(user), pw, sizeof(pw), next, sizeof(next), &json);
    if (status)
        return status;
    rc = auth_login(r->api->auth, r->db, r->address, user, pw, &who, sid, sizeof(sid), &wait);
    credential_wipe(pw, sizeof(pw));
    if (rc == UPDRAFT_ELIMITED) {
        const char *hdr[] = {"Retry-After", secs, NULL};
        snprintf(secs, sizeof(secs), "%d", wait);
        if (json) {
            http_send_problem_h(r->conn, 429, hdr, "Too Many Requests",
                                "too many failed logins: try again in %d seconds", wait);
            return 429;
        }
        snprintf(err, sizeof(err), "Too many failed logins. Try again in %d seconds.", wait);
        return login_page(r, 429, err, next, hdr);
    }
    if (rc == UPDRAFT_ENOTFOUND) {
        bool exists = users_lookup(r->db, user, &known, hash, sizeof(hash), err, sizeof(err)) == 0;
        credential_wipe(hash, sizeof(hash));
        log_event(r, "login_failed", exists ? &known : NULL);
        if (json)
            return auth_unauthorized(r->conn, "wrong username or password");
        return login_page(r, 401, "Invalid login. Please try again.", next, NULL);
    }
    if (rc < 0) {
        http_send_problem(r->conn, 503, NULL, "the metadata database is unavailable");
        return 503;
    }
    log_event(r, "login", &who);
    session_cookies(r, sid, who.csrf, c1, c2, sizeof(c1));
    credential_wipe(sid, sizeof(sid));
    if (json) {
        cJSON *o = cJSON_CreateObject(), *roles = cJSON_CreateArray();
        const char *hdr[] = {"Set-Cookie", c1, "Set-Cookie", c2, NULL};
        char *text;
        for (int i = 0; roles && i < ROLE__COUNT; i++)
            if (who.roles & ROLE_BIT(i))
                cJSON_AddItemToArray(roles, cJSON_CreateString(roles_name((role_t)i)));
        cJSON_AddStringToObject(o, "username", who.username);
        cJSON_AddItemToObject(o, "roles", roles);
        cJSON_AddStringToObject(o, "csrf_token", who.csrf);
        text = o ? cJSON_PrintUnformatted(o) : NULL;
        cJSON_Delete(o);
        if (!text) {
            http_send_problem(r->conn, 500, NULL, "out of memory");
            return 500;
        }
        http_send_h(r->conn, 200, hdr, "application/json", text, strlen(text));
        cJSON_free(text);
        credential_wipe(c1, sizeof(c1));
        return 200;
    }
    {
        const char *hdr[] = {
            "Location", next_is_local(next) ? next : "/", "Set-Cookie", c1, "Set-Cookie", c2, NULL};
        http_send_h(r->conn, 303, hdr, "text/plain", "", 0);
    }
    credential_wipe(c1, sizeof(c1));
    return 303;
}

int page_post_logout(api_req_t *r)
{
    char sid[CREDENTIAL_TOKEN_MAX], token[CREDENTIAL_DIGEST_LEN + 1], c1[256], c2[256];
    char err[256];
    char *body = NULL;
    size_t len = 0;
    principal_t who;
    int status = 303;

    if (auth_session_cookie(r->conn, sid, sizeof(sid)) && r->db &&
        users_session_authenticate(r->db, sid, INT32_MAX, &who, err, sizeof(err)) == 0) {
        who.via_session = true;
        token[0] = '\0';
        if (!mg_get_header(r->conn, AUTH_CSRF_HEADER) &&
            http_read_body(r->conn, FORM_MAX, &body, &len, err, sizeof(err)) == 0 && body &&
            mg_get_var(body, len, "csrf_token", token, sizeof(token)) < 0)
            token[0] = '\0';
        free(body);
        if (!auth_csrf_ok(&who, r->conn, token)) {
            credential_wipe(sid, sizeof(sid));
            http_send_problem(r->conn, 403, "Forbidden", "the CSRF token is missing or wrong");
            return 403;
        }
        if (users_session_close(r->db, sid, err, sizeof(err)) < 0) {
            credential_wipe(sid, sizeof(sid));
            http_send_problem(r->conn, 503, NULL, "the metadata database is unavailable");
            return 503;
        }
        log_event(r, "logout", &who);
    }
    credential_wipe(sid, sizeof(sid));
    session_cookies(r, NULL, NULL, c1, c2, sizeof(c1));
    {
        const char *hdr[] = {"Location", "/login", "Set-Cookie", c1, "Set-Cookie", c2, NULL};
        http_send_h(r->conn, status, hdr, "text/plain", "", 0);
    }
    return status;
}
