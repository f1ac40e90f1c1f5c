/*
 * connclient.c - see connclient.h.
 */
#include "model/connclient.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *connclient_str(const cJSON *conn, const char *name)
{
    const cJSON *v = conn ? cJSON_GetObjectItemCaseSensitive(conn, name) : NULL;
    return cJSON_IsString(v) && v->valuestring && *v->valuestring ? v->valuestring : NULL;
}

int connclient_port(const cJSON *conn)
{
    const cJSON *v = conn ? cJSON_GetObjectItemCaseSensitive(conn, "port") : NULL;
    double d = -1;
    if (cJSON_IsNumber(v))
        d = v->valuedouble;
    else if (cJSON_IsString(v) && v->valuestring && *v->valuestring) {
        char *end;
        d = strtod(v->valuestring, &end);
        if (*end)
            d = -1;
    }
    return d >= 1 && d <= 65535 && d == floor(d) ? (int)d : -1;
}

cJSON *connclient_extra(const cJSON *conn, bool *bad)
{
    const cJSON *v = conn ? cJSON_GetObjectItemCaseSensitive(conn, "extra") : NULL;
    cJSON *obj = NULL;

    *bad = false;
    if (cJSON_IsObject(v))
        return cJSON_Duplicate(v, 1);
    if (!cJSON_IsString(v) || !v->valuestring)
        return NULL;
    const char *s = v->valuestring;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    if (!*s)
        return NULL;
    obj = cJSON_ParseWithOpts(s, NULL, 1);
    if (!cJSON_IsObject(obj)) {
        cJSON_Delete(obj);
        *bad = true;
        return NULL;
    }
    return obj;
}

void connclient_http_base_url(const cJSON *conn, strbuf_t *u)
{
    char num[16];
    const char *host = connclient_str(conn, "host");
    const char *schema = connclient_str(conn, "schema");
    int port = connclient_port(conn);

    if (host && strstr(host, "://")) {
        strbuf_puts(u, host);
        const char *auth = strstr(host, "://") + 3;
        const char *end = auth + strcspn(auth, "/?#");
        const char *at = memchr(auth, '@', (size_t)(end - auth));
        const char *hp = at ? at + 1 : auth;
        bool has_port = memchr(hp, ':', (size_t)(end - hp)) && !memchr(hp, '[', (size_t)(end - hp));
        if (port > 0 && !has_port && !*end) {
            snprintf(num, sizeof num, ":%d", port);
            strbuf_puts(u, num);
        }
        return;
    }
    strbuf_puts(u, schema && (!strcasecmp(schema, "http") || !strcasecmp(schema, "https"))
                       ? schema
                       : "http");
    strbuf_puts(u, "://");
    strbuf_puts(u, host ? host : "");
    if (port > 0) {
        snprintf(num, sizeof num, ":%d", port);
        strbuf_puts(u, num);
    }
}

/* libpq keywords a connection's extra may set (PostgresHook passes extras to connect). */
static const char *const extra_keywords[] = {"sslmode",          "sslcert",
                                             "sslkey",           "sslrootcert",
                                             "sslcrl",           "sslcompression",
                                             "connect_timeout",  "application_name",
                                             "options",          "keepalives",
                                             "keepalives_idle",  "keepalives_interval",
                                             "keepalives_count", "target_session_attrs",
                                             "gssencmode",       "channel_binding",
                                             "sslsni",           NULL};

static void add_kw(connclient_pg_t *p, const char *k, const char *v)
{
    if (v && p->n < CONNCLIENT_PG_MAX) {
        p->kw[p->n] = k;
        p->val[p->n++] = v;
    }
}

/* A value of the extra as libpq text: a string, a number, a boolean (1/0); NULL else. */
static const char *extra_text(connclient_pg_t *p, const cJSON *it, bool *oom)
{
    char *text;

    if (cJSON_IsString(it))
        return it->valuestring;
    if (cJSON_IsBool(it))
        return cJSON_IsTrue(it) ? "1" : "0";
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble) || p->nnum >= CONNCLIENT_PG_MAX)
        return NULL;
    if ((it->valuedouble == floor(it->valuedouble) && fabs(it->valuedouble) < 9e15
             ? asprintf(&text, "%lld", (long long)it->valuedouble)
             : asprintf(&text, "%.17g", it->valuedouble)) < 0) {
        *oom = true;
        return NULL;
    }
    return p->num[p->nnum++] = text;
}

int connclient_pg_params(const cJSON *conn, const char *database, int default_timeout,
                         int max_timeout, connclient_pg_t *p)
{
    const char *timeout = NULL, *v;
    bool app_name = false, oom = false;
    int port = connclient_port(conn);

    memset(p, 0, sizeof(*p));
    add_kw(p, "host", connclient_str(conn, "host"));
    if (port > 0) {
        snprintf(p->port, sizeof p->port, "%d", port);
        add_kw(p, "port", p->port);
    }
    add_kw(p, "user", connclient_str(conn, "login"));
    add_kw(p, "password", connclient_str(conn, "password"));
    add_kw(p, "dbname", database && *database ? database : connclient_str(conn, "schema"));
    add_kw(p, "client_encoding", "UTF8");
    p->extra = connclient_extra(conn, &p->bad_extra);
    for (size_t k = 0; extra_keywords[k]; k++) {
        v = extra_text(p, cJSON_GetObjectItemCaseSensitive(p->extra, extra_keywords[k]), &oom);
        if (!v)
            continue;
        if (!strcmp(extra_keywords[k], "connect_timeout")) {
            timeout = v; /* added below, after the cap */
            continue;
        }
        app_name = app_name || !strcmp(extra_keywords[k], "application_name");
        add_kw(p, extra_keywords[k], v);
    }
    if (!app_name)
        add_kw(p, "application_name", "updraft");
    if (timeout && max_timeout > 0 && atoi(timeout) > max_timeout)
        timeout = NULL;
    if (!timeout && p->nnum < CONNCLIENT_PG_MAX) {
        int secs = max_timeout > 0 && default_timeout > max_timeout ? max_timeout : default_timeout;
        if (asprintf(&p->num[p->nnum], "%d", secs) < 0) {
            p->num[p->nnum] = NULL;
            oom = true;
        } else {
            timeout = p->num[p->nnum++];
        }
    }
    add_kw(p, "connect_timeout", timeout);
    p->kw[p->n] = NULL;
    p->val[p->n] = NULL;
    if (oom) {
        connclient_pg_free(p);
        return -1;
    }
    return 0;
}

void connclient_pg_free(connclient_pg_t *p)
{
    for (size_t i = 0; i < p->nnum; i++)
        free(p->num[i]);
    cJSON_Delete(p->extra);
    memset(p, 0, sizeof(*p));
}
