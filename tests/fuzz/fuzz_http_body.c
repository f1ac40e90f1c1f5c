/*
 * fuzz_http_body.c - what the webserver decodes from a request before and
 * while a handler reads it, on arbitrary input. The first byte picks the
 * part, the rest is its input:
 *
 *   0: a JSON body, through the checks of http_read_json_object (UTF-8,
 *      escaped NULs, nesting) and cJSON, then the body member readers of
 *      every handler: what passes the checks parses no deeper than the
 *      limit, every string read has no NUL cut into it, and every
 *      timestamp read lies in years 1 to 9999 and prints back to itself;
 *   1: a Content-Type, a Host and an Origin (one a line), through the
 *      media type match and the Host and Origin rules (guard.h);
 *   2: a request path and a query string (one a line), through httpq;
 *   3: an HTTP Basic credential (auth_basic_decode).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "core/config.h"
#include "core/timeutil.h"
#include "core/utf8.h"
#include "webserver/api_int.h"
#include "webserver/auth.h"
#include "webserver/guard.h"
#include "webserver/http.h"
#include "webserver/httpq.h"

#define MAX_INPUT (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const keys[] = {"dag_run_id", "logical_date", "execution_date", "key",
                                   "value",      "note",         "is_paused",      "conf",
                                   "start_date", "end_date",     "state",          NULL};

static int depth(const cJSON *j)
{
    int d = 0;

    if (!cJSON_IsArray(j) && !cJSON_IsObject(j))
        return 0;
    for (const cJSON *c = j->child; c; c = c->next) {
        int cd = depth(c);
        if (cd > d)
            d = cd;
    }
    return d + 1;
}

static void check_ts(ts_us_t t)
{
    char buf[TS_ISO_LEN];
    ts_us_t back = 0;

    if (t == TS_NONE)
        return;
    if (t < ts_days_from_civil(1, 1, 1) * 86400 * TS_US_PER_SEC ||
        t >= ts_days_from_civil(10000, 1, 1) * 86400 * TS_US_PER_SEC)
        abort(); /* a date Postgres would refuse got through */
    if (ts_parse(ts_format_iso(t, buf), &back) != 0 || back != t)
        abort();
}

static void body(const char *s, size_t len)
{
    cJSON *json;
    char err[256];

    if (!utf8_valid(s, len) || http_json_has_nul(s, len) ||
        !http_json_depth_ok(s, len, HTTP_MAX_JSON_DEPTH))
        return;
    json = cJSON_ParseWithLengthOpts(s, len + 1, NULL, 1);
    if (!json)
        return;
    if (depth(json) > HTTP_MAX_JSON_DEPTH)
        abort();
    if (cJSON_IsObject(json)) {
        (void)api_body_check_known(json, keys, err, sizeof(err));
        for (const cJSON *it = json->child; it; it = it->next) {
            const char *v;
            ts_us_t t;
            bool b;
            if (!it->string)
                abort();
            if (api_body_str(json, it->string, &v) == 0 && v && !utf8_valid(v, strlen(v)))
                abort();
            if (api_body_ts(json, it->string, &t, err, sizeof(err)) == 0)
                check_ts(t);
            if (api_body_aware_ts(json, it->string, &t, err, sizeof(err)) == 0)
                check_ts(t);
            (void)api_body_bool(json, it->string, false, &b, err, sizeof(err));
        }
        /* A string with an escaped NUL never gets here: what is read is
         * all that was sent (no \u0000 left in the text). */
        if (strstr(s, "\\u0000") && !strstr(s, "\\\\u0000"))
            abort();
    }
    cJSON_Delete(json);
}

static guard_t *the_guard(void)
{
    static guard_t *g;
    config_t cfg;
    char err[256];

    if (!g) {
        memset(&cfg, 0, sizeof(cfg));
        cfg.webserver.base_url = "https://updraft.example.com/ui";
        cfg.webserver.allowed_hosts = "api.example.test, other.test";
        g = guard_new(&cfg, "127.0.0.1:8080", err, sizeof(err));
        if (!g)
            abort();
    }
    return g;
}

static void headers(char *s)
{
    char *host = strchr(s, '\n'), *origin;
    size_t n;

    if (host)
        *host++ = '\0';
    origin = host ? strchr(host, '\n') : NULL;
    if (origin)
        *origin++ = '\0';
    /* A match is the whole type, whatever its case, parameters aside. */
    if (http_media_type_is(s, "application/json")) {
        const char *p = s + strspn(s, " \t");
        n = strcspn(p, ";");
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n != 16 || strncasecmp(p, "application/json", 16) != 0)
            abort();
    }
    if (host) {
        bool ok = guard_host_ok(the_guard(), host);
        if (ok && (strchr(host, '@') || strchr(host, '/') || strchr(host, ' ')))
            abort(); /* a Host with userinfo, a path or a space is never one of ours */
        if (origin)
            (void)guard_origin_ok(the_guard(), origin, host);
    }
}

static void request(char *s)
{
    char *qs = strchr(s, '\n'), err[256];
    httpq_path_t p;
    httpq_t q = {0};

    if (qs)
        *qs++ = '\0';
    if (httpq_path_split(s, true, &p, err, sizeof(err)) == 0)
        httpq_path_free(&p);
    if (qs && httpq_parse(&q, qs, err, sizeof(err)) == 0)
        httpq_free(&q);
}

static void basic(const char *s)
{
    char buf[600], *pw = NULL;

    if (auth_basic_decode(s, buf, sizeof(buf), &pw) &&
        (!pw || pw <= buf || pw >= buf + sizeof(buf) || pw[-1] != '\0'))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s;
    size_t len;

    if (size < 1 || size > MAX_INPUT)
        return 0;
    len = size - 1;
    s = malloc(len + 1);
    if (!s)
        return 0;
    memcpy(s, data + 1, len);
    s[len] = '\0';
    switch (data[0] % 4) {
    case 0:
        if (!memchr(s, '\0', len)) /* a body with a raw NUL is refused before it */
            body(s, len);
        break;
    case 1:
        headers(s);
        break;
    case 2:
        request(s);
        break;
    default:
        basic(s);
        break;
    }
    free(s);
    return 0;
}
