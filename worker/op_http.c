/*
 * op_http.c - HttpOperator (SimpleHttpOperator) and HttpSensor, as
 * Airflow's http provider runs them, with libcurl's easy API (the runner
 * is a child process of its own, so blocking is fine).
 *
 * The request, as HttpHook builds it:
 *   - URL: the connection (http_conn_id, default http_default) gives the
 *     base: its host as is when it holds "://", else <schema>://<host>
 *     (schema http or https, http otherwise), then ":port" when set; the
 *     endpoint is joined with one slash between.
 *   - login/password: HTTP basic auth; the connection's extra (a JSON
 *     object) gives extra headers, except the keys requests' Session takes
 *     as settings (verify, timeout, proxies, ...); `headers` override them.
 *   - data: a string is the body as is (with GET or HEAD: the query string
 *     as is); an object is the query string with GET and HEAD, else a JSON
 *     body when Content-Type is application/json, else a form body. The
 *     sensor sends request_params the same way.
 *   - extra_options: timeout (seconds; request_timeout too), verify (false
 *     turns TLS verification off, a string names a CA bundle),
 *     check_response (default true: a status >= 400 fails the try).
 *
 * response_check is a status code or a list of them (the codes allowed,
 * also over check_response), or a string the body must contain. The
 * operator pushes the body as return_value; bodies are read up to
 * max(max_xcom_size, 1 MiB) bytes, and a larger one fails the try rather
 * than push a cut value. Credentials never reach the log: URLs are shown
 * without user info and query string, headers are not shown.
 */
#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/connclient.h"
#include "worker/op_util.h"
#include "worker/ops_int.h"
#include "worker/ops.h"

#define HTTP_WHO "http"
#define HTTP_MAX_URL (64 * 1024)
#define HTTP_MAX_REDIRECTS 30 /* requests' DEFAULT_REDIRECT_LIMIT */

typedef struct http_req {
    char *url;       /* the full URL */
    char *shown_url; /* for the log: no user info, no query string */
    int n_query;     /* query parameters added from data / request_params */
    const char *method;
    char *body; /* NULL: no body */
    size_t body_len;
    struct curl_slist *headers;
    const char *login, *password; /* borrowed from the connection */
    long timeout_ms;              /* 0 = none */
    bool verify;
    char *ca_file; /* verify given as a path */
    bool keepalive;
    bool check_response;
} http_req_t;

typedef struct http_resp {
    long status;
    char *body; /* NUL-terminated, len bytes (may hold NULs) */
    size_t len, cap;
    size_t limit; /* body bytes accepted */
    bool keep;    /* keep the body (else only count it) */
    bool cut_ok;  /* past limit: keep reading, stop storing (else abort) */
    bool overflow;
    bool oom;
    char errbuf[CURL_ERROR_SIZE];
} http_resp_t;

static void req_free(http_req_t *r)
{
    free(r->url);
    free(r->shown_url);
    free(r->body);
    free(r->ca_file);
    curl_slist_free_all(r->headers);
    memset(r, 0, sizeof *r);
}

/* Form/query encoding as Python's urlencode (quote_plus). */
static void buf_add_quoted(strbuf_t *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char e[3];
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            strbuf_putn(b, (const char *)p, 1);
        } else if (*p == ' ') {
            strbuf_putn(b, "+", 1);
        } else {
            e[0] = '%';
            e[1] = hex[*p >> 4];
            e[2] = hex[*p & 15];
            strbuf_putn(b, e, 3);
        }
    }
}

/* A scalar as requests puts it in a form: str() of the value; false when it has none. */
static bool scalar_text(const cJSON *v, char *num, size_t numlen, const char **out, char **owned)
{
    *owned = NULL;
    if (cJSON_IsString(v))
        *out = v->valuestring;
    else if (cJSON_IsNumber(v))
        *out = opu_num_text(v->valuedouble, num, numlen);
    else if (cJSON_IsBool(v))
        *out = cJSON_IsTrue(v) ? "True" : "False";
    else if (cJSON_IsNull(v))
        return false; /* requests drops None */
    else
        *out = *owned = cJSON_PrintUnformatted(v);
    return *out != NULL;
}

/* An object as key=value&... (a list value repeats its key). Returns the pair count. */
int op_http_form_encode(strbuf_t *b, const cJSON *obj)
{
    const cJSON *it, *el;
    char num[64];
    int n = 0;
    cJSON_ArrayForEach(it, obj)
    {
        bool list = cJSON_IsArray(it);
        for (el = list ? it->child : it; el; el = list ? el->next : NULL) {
            const char *txt;
            char *owned;
            if (!scalar_text(el, num, sizeof num, &txt, &owned))
                continue;
            if (n++)
                strbuf_putn(b, "&", 1);
            buf_add_quoted(b, it->string);
            strbuf_putn(b, "=", 1);
            buf_add_quoted(b, txt);
            free(owned);
        }
    }
    return n;
}

static bool has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

/*
 * The URL with every byte that may not appear in one percent-encoded
 * (spaces, control characters, non-ASCII), as requests' requote_uri does;
 * what is already escaped and the reserved characters stay.
 */
static char *requote(const char *url)
{
    static const char hex[] = "0123456789ABCDEF";
    static const char keep[] = "-._~:/?#[]@!$&'()*+,;=%";
    strbuf_t b = {0};
    for (const unsigned char *p = (const unsigned char *)url; p && *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr(keep, *p)) {
            strbuf_putn(&b, (const char *)p, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            strbuf_putn(&b, e, 3);
        }
    }
    return strbuf_take(&b);
}

/* The URL without "user:password@" and without its query string, for the log. */
char *op_http_shown_url(const char *url)
{
    strbuf_t b = {0};
    const char *p = strstr(url, "://");
    const char *auth = p ? p + 3 : url;
    const char *auth_end = auth + strcspn(auth, "/?#");
    const char *at = NULL;
    for (const char *q = auth; q < auth_end; q++)
        if (*q == '@')
            at = q;
    strbuf_putn(&b, url, (size_t)(auth - url));
    const char *rest = at ? at + 1 : auth;
    strbuf_putn(&b, rest, strcspn(rest, "?#"));
    return strbuf_take(&b);
}

static const char *header_get(const cJSON *h, const char *name)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, h)
    {
        if (it->string && !strcasecmp(it->string, name) && cJSON_IsString(it))
            return it->valuestring;
    }
    return NULL;
}

/* Sets name (case-insensitively replacing an earlier one) to the text of v. */
static int header_set(cJSON *h, const char *name, const cJSON *v)
{
    char num[64];
    const char *txt;
    char *owned;
    cJSON *it = h->child, *next;
    for (; it; it = next) {
        next = it->next;
        if (it->string && !strcasecmp(it->string, name))
            cJSON_DeleteItemFromObjectCaseSensitive(h, it->string);
    }
    if (!scalar_text(v, num, sizeof num, &txt, &owned))
        return 0; /* None: requests leaves the header out */
    int rc = cJSON_AddStringToObject(h, name, txt) ? 0 : -1;
    free(owned);
    return rc;
}

/* Keys of a connection's extra that requests' Session takes as settings, not headers. */
static bool extra_is_setting(const char *k)
{
    static const char *const keys[] = {
        "timeout",   "verify",      "verify_ssl",     "proxies",   "proxy",
        "stream",    "cert",        "max_redirects",  "trust_env", "allow_redirects",
        "auth_type", "auth_kwargs", "check_response", "headers",   NULL};
    for (size_t i = 0; keys[i]; i++)
        if (!strcmp(keys[i], k))
            return true;
    return false;
}

static int set_verify(http_req_t *r, const cJSON *v)
{
    if (!v || cJSON_IsNull(v))
        return 0;
    if (cJSON_IsString(v) && v->valuestring && *v->valuestring &&
        strcasecmp(v->valuestring, "true") && strcasecmp(v->valuestring, "false")) {
        free(r->ca_file);
        if (!(r->ca_file = strdup(v->valuestring)))
            return -1;
        r->verify = true;
        return 0;
    }
    r->verify = opu_json_bool(v, true);
    return 0;
}

/* What a phase of http_prepare returns: done, failed (the reason logged), out of memory. */
#define PREP_OK 0
#define PREP_FAIL (-1)
#define PREP_OOM (-2)

/* The base URL from the connection (host, schema, port), then the endpoint, into u. */
static void build_url(const ops_ctx_t *c, const cJSON *conn, strbuf_t *u)
{
    char num[64];
    connclient_http_base_url(conn, u);
    const char *endpoint = opu_arg_str(c, "endpoint", NULL);
    if (!endpoint) {
        const cJSON *e = opu_arg(c, "endpoint");
        if (cJSON_IsNumber(e))
            endpoint = opu_num_text(e->valuedouble, num, sizeof num);
    }
    if (endpoint && *endpoint) {
        bool base_slash = u->len > 0 && u->s[u->len - 1] == '/';
        if (base_slash && endpoint[0] == '/')
            endpoint++;
        else if (!base_slash && endpoint[0] != '/')
            strbuf_putn(u, "/", 1);
        strbuf_puts(u, endpoint);
    }
}

/*
 * Headers into hdr: the connection's extra (whose settings keys set
 * verify, timeout and check_response of r instead), then the task's
 * headers. PREP_*.
 */
static int collect_headers(const ops_ctx_t *c, const cJSON *conn, const char *conn_id,
                           http_req_t *r, cJSON *hdr)
{
    const cJSON *it;
    bool bad_extra;
    int rc = PREP_OOM;
    cJSON *extra = connclient_extra(conn, &bad_extra);
    if (bad_extra)
        opu_log(c, HTTP_WHO, "WARNING",
                "the extra of connection '%s' is not a JSON object; no extra headers taken",
                conn_id);
    cJSON_ArrayForEach(it, extra)
    {
        if (!strcmp(it->string, "verify") || !strcmp(it->string, "verify_ssl")) {
            if (set_verify(r, it) < 0)
                goto out;
        } else if (!strcmp(it->string, "timeout")) {
            double t = opu_json_seconds(it, 0);
            if (t > 0)
                r->timeout_ms = (long)(t * 1000);
        } else if (!strcmp(it->string, "check_response")) {
            r->check_response = opu_json_bool(it, true);
        } else if (!extra_is_setting(it->string)) {
            if (header_set(hdr, it->string, it) < 0)
                goto out;
        }
    }
    const cJSON *task_headers = opu_arg(c, "headers");
    if (task_headers && !cJSON_IsObject(task_headers)) {
        opu_log(c, HTTP_WHO, "ERROR", "headers must be a mapping");
        rc = PREP_FAIL;
        goto out;
    }
    cJSON_ArrayForEach(it, task_headers)
    {
        if (header_set(hdr, it->string, it) < 0)
            goto out;
    }
    rc = PREP_OK;
out:
    cJSON_Delete(extra);
    return rc;
}

/* request_timeout and extra_options (timeout, verify, check_response) over the connection's.
 * PREP_*. */
static int apply_options(const ops_ctx_t *c, http_req_t *r)
{
    double rt = opu_json_seconds(opu_arg(c, "request_timeout"), 0);
    if (rt > 0)
        r->timeout_ms = (long)(rt * 1000);
    const cJSON *xo = opu_arg(c, "extra_options");
    if (cJSON_IsObject(xo)) {
        double t = opu_json_seconds(cJSON_GetObjectItemCaseSensitive(xo, "timeout"), 0);
        if (t > 0)
            r->timeout_ms = (long)(t * 1000);
        if (set_verify(r, cJSON_GetObjectItemCaseSensitive(xo, "verify")) < 0)
            return PREP_OOM;
        const cJSON *cr = cJSON_GetObjectItemCaseSensitive(xo, "check_response");
        if (cr && !cJSON_IsNull(cr))
            r->check_response = opu_json_bool(cr, true);
    }
    if (r->timeout_ms < 0 || r->timeout_ms > 365L * 86400 * 1000)
        r->timeout_ms = 0;
    return PREP_OK;
}

/* GET and HEAD: data (a mapping or a string) as the query string, appended to u. PREP_*. */
static int attach_query(const ops_ctx_t *c, http_req_t *r, const cJSON *data, strbuf_t *u)
{
    strbuf_t q = {0};
    if (cJSON_IsObject(data))
        r->n_query = op_http_form_encode(&q, data);
    else if (cJSON_IsString(data)) {
        strbuf_puts(&q, data->valuestring);
        r->n_query = *data->valuestring ? 1 : 0;
    } else {
        opu_log(c, HTTP_WHO, "ERROR", "data for a %s request must be a mapping or a string",
                r->method);
        free(strbuf_take(&q));
        return PREP_FAIL;
    }
    char *qs = strbuf_take(&q);
    if (!qs)
        return PREP_OOM;
    if (*qs) {
        strbuf_puts(u, strchr(u->s ? u->s : "", '?') ? "&" : "?");
        strbuf_puts(u, qs);
    }
    free(qs);
    return PREP_OK;
}

/*
 * Other methods: data as the body, text as it is (no Content-Type, as
 * requests), a mapping form-encoded unless the Content-Type is JSON,
 * anything else as JSON. PREP_*.
 */
static int attach_body(http_req_t *r, const cJSON *data, cJSON *hdr)
{
    strbuf_t body = {0};
    char num[64];
    int rc = PREP_OOM;
    const char *ctype = header_get(hdr, "Content-Type");
    if (cJSON_IsString(data)) {
        strbuf_puts(&body, data->valuestring);
        if (!ctype && cJSON_AddStringToObject(hdr, "Content-Type", "") == NULL)
            goto out; /* as requests: a text body has no Content-Type */
    } else if (cJSON_IsObject(data) && !(ctype && !strncasecmp(ctype, "application/json", 16))) {
        op_http_form_encode(&body, data);
        if (!ctype &&
            !cJSON_AddStringToObject(hdr, "Content-Type", "application/x-www-form-urlencoded"))
            goto out;
    } else {
        char *txt = cJSON_IsNumber(data) ? NULL : cJSON_PrintUnformatted(data);
        strbuf_puts(&body, txt ? txt : opu_num_text(data->valuedouble, num, sizeof num));
        free(txt);
    }
    if (body.oom)
        goto out;
    r->body_len = body.len;
    if (!(r->body = strbuf_take(&body)))
        goto out;
    rc = PREP_OK;
out:
    free(strbuf_take(&body));
    return rc;
}

/* hdr as curl's header list (never logged: it may carry tokens). PREP_*. */
static int build_header_list(const ops_ctx_t *c, http_req_t *r, const cJSON *hdr)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, hdr)
    {
        strbuf_t line = {0};
        if (!it->string || !*it->string || has_ctl(it->string) || strchr(it->string, ':') ||
            has_ctl(it->valuestring)) {
            opu_log(c, HTTP_WHO, "ERROR",
                    "a header name or value holds a line break, a control character or a "
                    "colon in its name");
            return PREP_FAIL;
        }
        strbuf_puts(&line, it->string);
        strbuf_puts(&line,
                    *it->valuestring || !strcasecmp(it->string, "Content-Type") ? ": " : ";");
        strbuf_puts(&line, it->valuestring);
        char *l = strbuf_take(&line);
        if (!l)
            return PREP_OOM;
        /* "Name: " with nothing after it removes curl's own header of that name. */
        if (!*it->valuestring)
            l[strlen(it->string) + 1] = '\0';
        struct curl_slist *n = curl_slist_append(r->headers, l);
        free(l);
        if (!n)
            return PREP_OOM;
        r->headers = n;
    }
    if (r->body && r->body_len > 0) {
        struct curl_slist *n = curl_slist_append(r->headers, "Expect:");
        if (!n)
            return PREP_OOM;
        r->headers = n;
    }
    return PREP_OK;
}

/*
 * Builds the request from the arguments and the connection, in phases:
 * URL, headers, options, data (query string or body), the final URL,
 * the header list. sensor: the HttpSensor (GET by default,
 * request_params). 0, or -1 with the reason logged.
 */
static int http_prepare(const ops_ctx_t *c, bool sensor, http_req_t *r)
{
    const char *conn_id = opu_arg_conn_id(c, "http_conn_id", "http_default");
    const cJSON *conn = NULL, *data;
    cJSON *hdr = NULL;
    strbuf_t u = {0};
    int rc = PREP_FAIL;

    memset(r, 0, sizeof *r);
    r->verify = true;
    r->check_response = true;
    r->keepalive = opu_arg_bool(c, "tcp_keep_alive", true);
    r->method = opu_arg_str(c, "method", sensor ? "GET" : "POST");

    if (!(conn = ops_connection(c, conn_id))) {
        opu_log(c, HTTP_WHO, "ERROR", "the connection '%s' is not defined", conn_id);
        goto out;
    }
    r->login = connclient_str(conn, "login");
    r->password = connclient_str(conn, "password");
    build_url(c, conn, &u);
    if (!(hdr = cJSON_CreateObject())) {
        rc = PREP_OOM;
        goto out;
    }
    if ((rc = collect_headers(c, conn, conn_id, r, hdr)) != PREP_OK ||
        (rc = apply_options(c, r)) != PREP_OK)
        goto out;
    data =
        sensor && opu_arg(c, "request_params") ? opu_arg(c, "request_params") : opu_arg(c, "data");
    if (data && (!strcasecmp(r->method, "GET") || !strcasecmp(r->method, "HEAD")))
        rc = attach_query(c, r, data, &u);
    else if (data)
        rc = attach_body(r, data, hdr);
    if (rc != PREP_OK)
        goto out;
    rc = PREP_OOM;
    if (u.oom)
        goto out;
    if (u.len > HTTP_MAX_URL) {
        opu_log(c, HTTP_WHO, "ERROR", "the URL is longer than %d bytes", HTTP_MAX_URL);
        rc = PREP_FAIL;
        goto out;
    }
    r->url = requote(u.s);
    if (!r->url || !(r->shown_url = op_http_shown_url(r->url)))
        goto out;
    rc = build_header_list(c, r, hdr);
out:
    if (rc == PREP_OOM)
        opu_log(c, HTTP_WHO, "ERROR", "out of memory building the request");
    free(strbuf_take(&u));
    cJSON_Delete(hdr);
    if (rc != PREP_OK)
        req_free(r);
    return rc == PREP_OK ? 0 : -1;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    http_resp_t *resp = arg;
    size_t n = size * nmemb;
    if (resp->len + n > resp->limit || resp->overflow) {
        if (!resp->cut_ok) {
            resp->overflow = true;
            return 0; /* aborts the transfer */
        }
        size_t room = resp->overflow || resp->len >= resp->limit ? 0 : resp->limit - resp->len;
        if (room && on_body(data, 1, room, arg) != room)
            return 0;
        resp->overflow = true;
        return n;
    }
    if (resp->keep) {
        if (resp->len + n + 1 > resp->cap) {
            size_t cap = resp->cap ? resp->cap : 16384;
            while (cap < resp->len + n + 1)
                cap *= 2;
            char *p = realloc(resp->body, cap);
            if (!p) {
                resp->oom = true;
                return 0;
            }
            resp->body = p;
            resp->cap = cap;
        }
        memcpy(resp->body + resp->len, data, n);
        resp->body[resp->len + n] = '\0';
    }
    resp->len += n;
    return n;
}

/*
 * Sends the request. Returns 0 with resp->status (and the body when keep),
 * or -1: a transfer error (resp->errbuf), a body over resp->limit
 * (resp->overflow) or out of memory (resp->oom).
 */
static int http_perform(const ops_ctx_t *c, const http_req_t *r, http_resp_t *resp)
{
    CURL *h = NULL;
    CURLcode cc = CURLE_OK;
    int rc = -1;
    bool nobody = !strcasecmp(r->method, "HEAD");

    resp->errbuf[0] = '\0';
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(h = curl_easy_init())) {
        snprintf(resp->errbuf, sizeof resp->errbuf, "libcurl could not start");
        return -1;
    }
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (cc == CURLE_OK)                                                                        \
            cc = curl_easy_setopt(h, opt, val);                                                    \
    } while (0)
    SET(CURLOPT_URL, r->url);
    SET(CURLOPT_ERRORBUFFER, resp->errbuf);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_FOLLOWLOCATION, 1L);
    SET(CURLOPT_MAXREDIRS, (long)HTTP_MAX_REDIRECTS);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, resp);
    SET(CURLOPT_HTTPHEADER, r->headers);
    SET(CURLOPT_USERAGENT, "updraft");
    SET(CURLOPT_ACCEPT_ENCODING, "");
    SET(CURLOPT_TCP_KEEPALIVE, r->keepalive ? 1L : 0L);
    if (r->timeout_ms > 0)
        SET(CURLOPT_TIMEOUT_MS, r->timeout_ms);
    if (!r->verify) {
        SET(CURLOPT_SSL_VERIFYPEER, 0L);
        SET(CURLOPT_SSL_VERIFYHOST, 0L);
    } else if (r->ca_file) {
        SET(CURLOPT_CAINFO, r->ca_file);
    }
    if (r->login) {
        SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        SET(CURLOPT_USERNAME, r->login);
        SET(CURLOPT_PASSWORD, r->password ? r->password : "");
    }
    if (nobody)
        SET(CURLOPT_NOBODY, 1L);
    else if (!strcasecmp(r->method, "GET"))
        SET(CURLOPT_HTTPGET, 1L);
    else if (!strcasecmp(r->method, "POST"))
        SET(CURLOPT_POST, 1L);
    else
        SET(CURLOPT_CUSTOMREQUEST, r->method);
    if (r->body || !strcasecmp(r->method, "POST")) {
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
        SET(CURLOPT_POSTFIELDS, r->body ? r->body : "");
    }
#undef SET
    if (cc != CURLE_OK) {
        snprintf(resp->errbuf, sizeof resp->errbuf, "could not set up the request: %s",
                 curl_easy_strerror(cc));
        goto out;
    }
    cc = curl_easy_perform(h);
    if ((resp->overflow && !resp->cut_ok) || resp->oom)
        goto out;
    if (cc != CURLE_OK) {
        if (!resp->errbuf[0])
            snprintf(resp->errbuf, sizeof resp->errbuf, "%s", curl_easy_strerror(cc));
        goto out;
    }
    if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status) != CURLE_OK) {
        snprintf(resp->errbuf, sizeof resp->errbuf, "no response status");
        goto out;
    }
    if (!resp->body && resp->keep && !(resp->body = calloc(1, 1))) {
        resp->oom = true;
        goto out;
    }
    rc = 0;
out:
    (void)c;
    curl_easy_cleanup(h);
    curl_global_cleanup();
    return rc;
}

static void resp_free(http_resp_t *resp)
{
    free(resp->body);
    resp->body = NULL;
    resp->len = resp->cap = 0;
}

/* response_check as status codes: true when it lists codes, *listed when status is one. */
static bool check_codes(const cJSON *chk, long status, bool *listed)
{
    const cJSON *it;
    *listed = false;
    if (cJSON_IsNumber(chk)) {
        *listed = (long)chk->valuedouble == status;
        return true;
    }
    if (!cJSON_IsArray(chk))
        return false;
    cJSON_ArrayForEach(it, chk) if (cJSON_IsNumber(it) && (long)it->valuedouble == status) *listed =
        true;
    return true;
}

static void log_codes(strbuf_t *b, const cJSON *chk)
{
    char num[64];
    const cJSON *it;
    if (cJSON_IsNumber(chk)) {
        strbuf_puts(b, opu_num_text(chk->valuedouble, num, sizeof num));
        return;
    }
    strbuf_puts(b, "[");
    cJSON_ArrayForEach(it, chk)
    {
        if (it != chk->child)
            strbuf_puts(b, ", ");
        if (cJSON_IsNumber(it))
            strbuf_puts(b, opu_num_text(it->valuedouble, num, sizeof num));
    }
    strbuf_puts(b, "]");
}

/* Whether the body contains text (the body may hold NULs). */
static bool body_contains(const http_resp_t *resp, const char *text)
{
    size_t tl = strlen(text);
    if (!tl)
        return true;
    return resp->body && memmem(resp->body, resp->len, text, tl) != NULL;
}

static void log_body(const ops_ctx_t *c, const char *level, const http_resp_t *resp, size_t max)
{
    size_t stored = resp->len < resp->limit ? resp->len : resp->limit;
    size_t n = stored < max ? stored : max;
    char *txt = opu_utf8_clean(resp->body ? resp->body : "", resp->body ? n : 0);
    if (!txt)
        return;
    opu_log(c, HTTP_WHO, level, "%s%s", txt, n < stored ? " ... (cut)" : "");
    free(txt);
}

static size_t read_limit(const ops_ctx_t *c)
{
    return c->max_xcom_size > OPU_MIN_READ_LIMIT ? c->max_xcom_size : OPU_MIN_READ_LIMIT;
}

int op_http_run(const ops_ctx_t *c)
{
    http_req_t r;
    http_resp_t resp = {0};
    const cJSON *chk = opu_arg(c, "response_check");
    bool listed = false, codes;
    char *txt = NULL;
    int rc = 1;

    if (http_prepare(c, false, &r) < 0)
        return 1;
    opu_log(c, HTTP_WHO, "INFO", "Calling HTTP method %s", r.method);
    opu_log(c, HTTP_WHO, "INFO", "Sending '%s' to url: %s%s", r.method, r.shown_url,
            r.n_query ? " (with a query string)" : "");
    /*
     * The body is kept for XCom, a string response_check and log_response,
     * up to the read limit; when only the log wants it, a longer one is cut.
     */
    bool want_xcom = !c->no_return_value, text_check = cJSON_IsString(chk);
    bool log_it = opu_arg_bool(c, "log_response", false);
    resp.keep = want_xcom || text_check || log_it;
    resp.limit = resp.keep ? read_limit(c) : SIZE_MAX;
    resp.cut_ok = !want_xcom && !text_check;
    if (http_perform(c, &r, &resp) < 0) {
        if (resp.overflow)
            opu_log(c, HTTP_WHO, "ERROR", "the response body is larger than %zu bytes: %s",
                    resp.limit,
                    want_xcom ? "refusing to push a cut value to XCom" : "cannot check it");
        else if (resp.oom)
            opu_log(c, HTTP_WHO, "ERROR", "out of memory reading the response");
        else
            opu_log(c, HTTP_WHO, "ERROR", "HTTP request to %s failed: %s", r.shown_url,
                    resp.errbuf);
        goto out;
    }
    opu_log(c, HTTP_WHO, "INFO", "HTTP status %ld", resp.status);
    if (log_it) {
        log_body(c, "INFO", &resp, resp.len);
        if (resp.overflow)
            opu_log(c, HTTP_WHO, "INFO", "(the body was cut at %zu bytes)", resp.limit);
    }

    codes = check_codes(chk, resp.status, &listed);
    if (codes && !listed) {
        strbuf_t b = {0};
        log_codes(&b, chk);
        char *s = strbuf_take(&b);
        opu_log(c, HTTP_WHO, "ERROR", "Response check failed: HTTP status %ld is not %s%s",
                resp.status, cJSON_IsArray(chk) ? "one of " : "", s ? s : "the expected one");
        free(s);
        goto out;
    }
    if (!codes && r.check_response && resp.status >= 400) {
        opu_log(c, HTTP_WHO, "ERROR", "HTTP error: status %ld", resp.status);
        log_body(c, "ERROR", &resp, OPU_LOG_SNIPPET);
        goto out;
    }
    if (cJSON_IsString(chk) && !body_contains(&resp, chk->valuestring)) {
        opu_log(c, HTTP_WHO, "ERROR",
                "Response check failed: the body of the response (HTTP status %ld) does not "
                "contain the expected text",
                resp.status);
        goto out;
    }

    if (!want_xcom) {
        rc = 0;
        goto out;
    }
    if (!(txt = opu_utf8_clean(resp.body, resp.len))) {
        opu_log(c, HTTP_WHO, "ERROR", "out of memory reading the response");
        goto out;
    }
    cJSON *v = cJSON_CreateString(txt);
    if (!v) {
        opu_log(c, HTTP_WHO, "ERROR", "out of memory reading the response");
        goto out;
    }
    if (ops_xcom_push(c, "return_value", v) < 0)
        goto out;
    rc = 0;
out:
    free(txt);
    resp_free(&resp);
    req_free(&r);
    return rc;
}

ops_poke_t op_http_poke(const ops_ctx_t *c)
{
    http_req_t r;
    http_resp_t resp = {0};
    const cJSON *chk = opu_arg(c, "response_check");
    bool listed = false, codes;
    ops_poke_t v = OPS_POKE_FAIL;

    if (http_prepare(c, true, &r) < 0)
        return OPS_POKE_FAIL;
    opu_log(c, HTTP_WHO, "INFO", "Poking: %s %s%s", r.method, r.shown_url,
            r.n_query ? " (with a query string)" : "");
    resp.keep = cJSON_IsString(chk);
    resp.limit = resp.keep ? read_limit(c) : SIZE_MAX;
    if (http_perform(c, &r, &resp) < 0) {
        if (resp.overflow) {
            opu_log(c, HTTP_WHO, "ERROR",
                    "the response body is larger than %zu bytes: cannot check it", resp.limit);
        } else if (resp.oom) {
            opu_log(c, HTTP_WHO, "ERROR", "out of memory reading the response");
        } else {
            opu_log(c, HTTP_WHO, "WARNING", "HTTP request to %s failed: %s; poking again later",
                    r.shown_url, resp.errbuf);
            v = OPS_POKE_NOT_YET;
        }
        goto out;
    }
    opu_log(c, HTTP_WHO, "INFO", "HTTP status %ld", resp.status);
    if (opu_arg_bool(c, "log_response", false) && resp.keep)
        log_body(c, "INFO", &resp, resp.len);

    codes = check_codes(chk, resp.status, &listed);
    if (codes && listed) {
        v = OPS_POKE_DONE;
    } else if (resp.status == 404) {
        opu_log(c, HTTP_WHO, "INFO", "HTTP status 404: not there yet");
        v = OPS_POKE_NOT_YET;
    } else if (resp.status >= 400 && r.check_response) {
        opu_log(c, HTTP_WHO, "ERROR", "HTTP error: status %ld", resp.status);
        v = OPS_POKE_FAIL;
    } else if (codes) {
        opu_log(c, HTTP_WHO, "INFO", "HTTP status %ld is not an expected one yet", resp.status);
        v = OPS_POKE_NOT_YET;
    } else if (cJSON_IsString(chk)) {
        v = body_contains(&resp, chk->valuestring) ? OPS_POKE_DONE : OPS_POKE_NOT_YET;
        if (v == OPS_POKE_NOT_YET)
            opu_log(c, HTTP_WHO, "INFO", "the response does not contain the expected text yet");
    } else {
        v = resp.status >= 200 && resp.status < 400 ? OPS_POKE_DONE : OPS_POKE_NOT_YET;
    }
    if (v == OPS_POKE_DONE)
        opu_log(c, HTTP_WHO, "INFO", "Success criteria met (HTTP status %ld)", resp.status);
out:
    resp_free(&resp);
    req_free(&r);
    return v;
}
