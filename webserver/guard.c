/*
 * guard.c - the checks every request passes before routing (see guard.h).
 *
 * Names are compared in lower case without a trailing dot; ports are
 * compared only between an Origin and the Host of the same request (a
 * reverse proxy may publish base_url's host on another port than the one
 * the webserver listens on).
 */
#include "webserver/guard.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "webserver/http.h"

#define NAME_MAX_LEN 256
#define MAX_HOSTS 32

struct guard {
    bool any_host;       /* allowed_hosts "*" */
    bool loopback_names; /* "localhost" is answered (listening on loopback or everywhere) */
    char base_scheme[8];
    char base_name[NAME_MAX_LEN];
    int base_port;
    char hosts[MAX_HOSTS][NAME_MAX_LEN];
    size_t nhosts;
};

/*
 * Splits "name[:port]" or "[v6][:port]" (len bytes of s) into a lower-case
 * name without a trailing dot (brackets dropped) and a port (-1 when
 * absent). False when it is neither.
 */
static bool split_host(const char *s, size_t len, char name[NAME_MAX_LEN], int *port, bool *v6)
{
    const char *end = s + len, *p, *nend;

    *port = -1;
    *v6 = len > 0 && s[0] == '[';
    if (*v6) {
        const char *close = memchr(s, ']', len);
        if (!close)
            return false;
        p = s + 1;
        nend = close;
        for (const char *q = p; q < nend; q++)
            if (!isxdigit((unsigned char)*q) && *q != ':' && *q != '.')
                return false;
        s = close + 1;
    } else {
        const char *colon = memchr(s, ':', len);
        p = s;
        nend = colon ? colon : end;
        for (const char *q = p; q < nend; q++)
            if (!isalnum((unsigned char)*q) && *q != '-' && *q != '.' && *q != '_')
                return false;
        s = nend;
    }
    if (s < end) {
        long v = 0;
        if (*s != ':' || end - s < 2 || end - s > 6)
            return false;
        for (const char *q = s + 1; q < end; q++) {
            if (!isdigit((unsigned char)*q))
                return false;
            v = v * 10 + (*q - '0');
        }
        if (v < 1 || v > 65535)
            return false;
        *port = (int)v;
    }
    if (nend > p && nend[-1] == '.' && !*v6)
        nend--;
    if (nend == p || (size_t)(nend - p) >= NAME_MAX_LEN)
        return false;
    for (size_t i = 0; p + i < nend; i++)
        name[i] = (char)tolower((unsigned char)p[i]);
    name[nend - p] = '\0';
    return true;
}

static bool is_ip_literal(const char *name, bool v6)
{
    unsigned char buf[16];

    return inet_pton(v6 ? AF_INET6 : AF_INET, name, buf) == 1;
}

static int default_port(const char *scheme)
{
    return strcmp(scheme, "https") == 0 ? 443 : 80;
}

/*
 * Splits an origin or a URL ("scheme://host[:port][/path]") into its
 * lower-case scheme (http or https), host name and port (the scheme's
 * default when absent). with_path: whether a path may follow.
 */
static bool split_origin(const char *s, bool with_path, char scheme[8], char name[NAME_MAX_LEN],
                         int *port)
{
    const char *sep = strstr(s, "://"), *hp, *hend;
    size_t slen;
    bool v6;

    if (!sep || (slen = (size_t)(sep - s)) == 0 || slen >= 8)
        return false;
    for (size_t i = 0; i < slen; i++)
        scheme[i] = (char)tolower((unsigned char)s[i]);
    scheme[slen] = '\0';
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
        return false;
    hp = sep + 3;
    hend = hp + strcspn(hp, "/?#");
    if (!with_path && *hend)
        return false;
    if (!split_host(hp, (size_t)(hend - hp), name, port, &v6))
        return false;
    if (*port < 0)
        *port = default_port(scheme);
    return true;
}

static void add_host(guard_t *g, const char *name)
{
    if (g->nhosts < MAX_HOSTS)
        snprintf(g->hosts[g->nhosts++], NAME_MAX_LEN, "%s", name);
}

/* Adds each name of allowed_hosts (comma-separated); false on one that is not a host name. */
static bool add_allowed(guard_t *g, const char *list, char *err, size_t errlen)
{
    const char *p = list;

    while (p && *p) {
        const char *comma = strchr(p, ',');
        const char *e = comma ? comma : p + strlen(p);
        char name[NAME_MAX_LEN];
        int port;
        bool v6;

        while (p < e && (*p == ' ' || *p == '\t'))
            p++;
        while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (e - p == 1 && *p == '*') {
            g->any_host = true;
        } else if (e > p) {
            if (!split_host(p, (size_t)(e - p), name, &port, &v6)) {
                snprintf(err, errlen, "webserver.allowed_hosts: '%.*s' is not a host name",
                         (int)(e - p > 64 ? 64 : e - p), p);
                return false;
            }
            add_host(g, name);
        }
        p = comma ? comma + 1 : NULL;
    }
    return true;
}

guard_t *guard_new(const config_t *cfg, const char *listen, char *err, size_t errlen)
{
    guard_t *g = calloc(1, sizeof(*g));
    const char *colon = listen ? strrchr(listen, ':') : NULL;
    char name[NAME_MAX_LEN];
    int port;
    bool v6;

    if (!g) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (!split_origin(cfg->webserver.base_url, true, g->base_scheme, g->base_name, &g->base_port)) {
        snprintf(err, errlen, "webserver.base_url is not an http:// or https:// URL: '%.200s'",
                 cfg->webserver.base_url);
        free(g);
        return NULL;
    }
    add_host(g, g->base_name);
    if (colon && split_host(listen, (size_t)(colon - listen), name, &port, &v6)) {
        bool wildcard = strcmp(name, "0.0.0.0") == 0 || strcmp(name, "::") == 0;
        bool loopback = strcmp(name, "localhost") == 0 || strncmp(name, "127.", 4) == 0 ||
                        strcmp(name, "::1") == 0;
        g->loopback_names = wildcard || loopback;
        if (!wildcard)
            add_host(g, name);
    }
    if (!add_allowed(g, cfg->webserver.allowed_hosts, err, errlen)) {
        free(g);
        return NULL;
    }
    return g;
}

void guard_free(guard_t *g)
{
    free(g);
}

bool guard_host_ok(const guard_t *g, const char *host)
{
    char name[NAME_MAX_LEN];
    int port;
    bool v6;

    if (!split_host(host, strlen(host), name, &port, &v6))
        return false;
    if (g->any_host || is_ip_literal(name, v6))
        return true;
    if (g->loopback_names && strcmp(name, "localhost") == 0)
        return true;
    for (size_t i = 0; i < g->nhosts; i++)
        if (strcmp(name, g->hosts[i]) == 0)
            return true;
    return false;
}

bool guard_origin_ok(const guard_t *g, const char *origin, const char *host)
{
    char scheme[8], name[NAME_MAX_LEN], hname[NAME_MAX_LEN];
    int port, hport;
    bool v6;

    if (!split_origin(origin, false, scheme, name, &port))
        return false; /* "null", or not an origin at all */
    if (strcmp(scheme, g->base_scheme) == 0 && strcmp(name, g->base_name) == 0 &&
        port == g->base_port)
        return true;
    /* Same origin: the page was served by the host this request is sent to. */
    if (!host || !split_host(host, strlen(host), hname, &hport, &v6))
        return false;
    if (hport < 0)
        hport = default_port(scheme);
    return strcmp(name, hname) == 0 && port == hport;
}

static bool method_is_safe(const char *method)
{
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 ||
           strcmp(method, "OPTIONS") == 0;
}

/* Refuses a request whose body could be delimited two ways. */
static int check_framing(struct mg_connection *conn, const struct mg_request_info *ri)
{
    int clen = 0, te = 0;

    for (int i = 0; i < ri->num_headers; i++) {
        if (strcasecmp(ri->http_headers[i].name, "Content-Length") == 0)
            clen++;
        else if (strcasecmp(ri->http_headers[i].name, "Transfer-Encoding") == 0)
            te++;
    }
    if (clen <= 1 && !(clen && te) && te <= 1)
        return 0;
    /* Whatever follows on this connection cannot be told from this body. */
    mg_disable_connection_keep_alive(conn);
    http_send_problem(conn, 400, NULL, "%s",
                      clen > 1 ? "a request may have one Content-Length header"
                      : te > 1 ? "a request may have one Transfer-Encoding header"
                               : "a request may not have both Content-Length and "
                                 "Transfer-Encoding");
    return 400;
}

int guard_check(const guard_t *g, struct mg_connection *conn)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    const char *host = mg_get_header(conn, "Host");
    const char *origin = mg_get_header(conn, "Origin");
    int status;

    if ((status = check_framing(conn, ri)) != 0)
        return status;
    if (host && !guard_host_ok(g, host)) {
        http_send_problem(conn, 400, NULL,
                          "this server does not answer to the host the request names: add it to "
                          "webserver.allowed_hosts if it is this server's");
        return 400;
    }
    if (origin && !method_is_safe(ri->request_method) && !guard_origin_ok(g, origin, host)) {
        http_send_problem(conn, 403, "Forbidden",
                          "a change may only come from this server's own pages: the request's "
                          "Origin is neither webserver.base_url's nor the host it is sent to");
        return 403;
    }
    return 0;
}
