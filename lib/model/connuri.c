/*
 * connuri.c - Airflow connections as data: parsing and formatting their
 * URI and JSON forms, checking them, and the webhook URL an alert goes
 * to (see connuri.h). No storage here: lib/store/connections.c keeps them.
 *
 * The URI parser follows Airflow's Connection._parse_from_uri, which rests
 * on Python's urlsplit/unquote/parse_qsl: the scheme is lower-cased and
 * normalized, the authority is split at its last '@', login and password
 * at the first ':', the host is lower-cased (urlsplit's hostname) and
 * percent-decoded, an invalid escape is kept as written (unquote's
 * leniency), '+' is a space only in the query. A decoded NUL byte is
 * refused: every field is a C string.
 */
#include "model/connuri.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/errbuf.h"
#include "core/error.h"
#include "core/secrets.h"
#include "core/strbuf.h"
#include "model/sensitive.h"

connection_t *connection_new(void)
{
    connection_t *c = calloc(1, sizeof(*c));
    if (c)
        c->port = -1;
    return c;
}

void connection_free(connection_t *c)
{
    if (!c)
        return;
    free(c->conn_id);
    free(c->conn_type);
    free(c->description);
    free(c->host);
    free(c->schema);
    free(c->login);
    secrets_free_str(c->password);
    secrets_free_str(c->extra);
    free(c);
}

static char *dup_or_null(const char *s, bool *oom)
{
    char *d = s ? strdup(s) : NULL;
    if (s && !d)
        *oom = true;
    return d;
}

connection_t *connection_dup(const connection_t *c)
{
    connection_t *d = connection_new();
    bool oom = d == NULL;

    if (d) {
        d->conn_id = dup_or_null(c->conn_id, &oom);
        d->conn_type = dup_or_null(c->conn_type, &oom);
        d->description = dup_or_null(c->description, &oom);
        d->host = dup_or_null(c->host, &oom);
        d->schema = dup_or_null(c->schema, &oom);
        d->login = dup_or_null(c->login, &oom);
        d->password = dup_or_null(c->password, &oom);
        d->port = c->port;
        d->extra = dup_or_null(c->extra, &oom);
    }
    if (oom) {
        connection_free(d);
        return NULL;
    }
    return d;
}

/* strdup of s[0..n) (NULL s gives NULL with *oom false). */
static char *dupn(const char *s, size_t n, bool *oom)
{
    char *d;

    if (!s)
        return NULL;
    d = malloc(n + 1);
    if (!d) {
        *oom = true;
        return NULL;
    }
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * Python's unquote (plus_is_space: unquote_plus) of s[0..n): malloc'd
 * result in *out. -1 on a decoded NUL (err) or OOM.
 */
static int unquote(const char *s, size_t n, bool plus_is_space, char **out, const char *what,
                   char *err, size_t errlen)
{
    char *d = malloc(n + 1);
    size_t j = 0;

    *out = NULL;
    if (!d) {
        errbuf_set(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = hexval((unsigned char)s[i + 1])) >= 0 &&
            (lo = hexval((unsigned char)s[i + 2])) >= 0) {
            int v = hi * 16 + lo;
            if (v == 0) {
                free(d);
                errbuf_set(err, errlen, "invalid connection URI: %s contains an encoded NUL byte",
                           what);
                return -1;
            }
            d[j++] = (char)v;
            i += 2;
        } else if (plus_is_space && s[i] == '+') {
            d[j++] = ' ';
        } else {
            d[j++] = s[i];
        }
    }
    d[j] = '\0';
    *out = d;
    return 0;
}

/* Airflow's _normalize_conn_type on a lower-cased scheme. */
static char *normalize_conn_type(const char *s, size_t n, bool *oom)
{
    char *t;

    if (n == 10 && strncasecmp(s, "postgresql", 10) == 0)
        return dupn("postgres", 8, oom);
    t = dupn(s, n, oom);
    for (char *p = t; p && *p; p++) {
        *p = (char)tolower((unsigned char)*p);
        if (*p == '-')
            *p = '_';
    }
    return t;
}

/* A URI scheme as urlsplit accepts it: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ). */
static bool valid_scheme(const char *s, size_t n)
{
    if (n == 0 || !isalpha((unsigned char)s[0]))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '+' && s[i] != '-' && s[i] != '.')
            return false;
    return true;
}

static size_t count_sub(const char *s, const char *sub)
{
    size_t n = 0, l = strlen(sub);
    for (const char *p = strstr(s, sub); p; p = strstr(p + l, sub))
        n++;
    return n;
}

/*
 * One decoded query parameter k=v (both taken): __extra__ replaces
 * *raw_extra, any other becomes a string member of obj (last value wins).
 * 0, or -1 with err.
 */
static int add_query_param(cJSON *obj, char *k, char *v, char **raw_extra, bool *have_raw,
                           char *err, size_t errlen)
{
    int rc = 0;

    if (strcmp(k, "__extra__") == 0) {
        secrets_free_str(*raw_extra);
        *raw_extra = v;
        *have_raw = true;
        v = NULL;
    } else {
        cJSON *s = cJSON_CreateString(v);
        bool added = false;
        if (s) {
            if (cJSON_GetObjectItemCaseSensitive(obj, k))
                added = cJSON_ReplaceItemInObjectCaseSensitive(obj, k, s);
            else
                added = cJSON_AddItemToObject(obj, k, s);
            if (!added)
                cJSON_Delete(s);
        }
        if (!added) {
            errbuf_set(err, errlen, "out of memory");
            rc = -1;
        }
    }
    free(k);
    secrets_free_str(v);
    return rc;
}

/* Query -> extra: a JSON object of strings, or the raw __extra__ value. */
static int parse_query(const char *q, size_t n, char **extra, char *err, size_t errlen)
{
    cJSON *obj = cJSON_CreateObject();
    char *raw_extra = NULL;
    bool have_raw = false;
    size_t i = 0;
    int rc = -1;

    *extra = NULL;
    if (!obj) {
        errbuf_set(err, errlen, "out of memory");
        return -1;
    }
    while (i < n) {
        size_t end = i, eq;
        char *k = NULL, *v = NULL;
        while (end < n && q[end] != '&')
            end++;
        if (end == i) {
            i = end + 1;
            continue;
        }
        eq = i;
        while (eq < end && q[eq] != '=')
            eq++;
        if (unquote(q + i, eq - i, true, &k, "a query parameter", err, errlen) < 0 ||
            unquote(q + (eq < end ? eq + 1 : end), eq < end ? end - eq - 1 : 0, true, &v,
                    "a query parameter", err, errlen) < 0) {
            free(k);
            free(v);
            goto out;
        }
        if (add_query_param(obj, k, v, &raw_extra, &have_raw, err, errlen) < 0)
            goto out;
        i = end + 1;
    }
    if (have_raw) {
        *extra = raw_extra;
        raw_extra = NULL;
    } else if (obj->child) {
        *extra = cJSON_PrintUnformatted(obj);
        if (!*extra) {
            errbuf_set(err, errlen, "out of memory");
            goto out;
        }
    }
    rc = 0;
out:
    secrets_free_str(raw_extra);
    cJSON_Delete(obj);
    return rc;
}

/*
 * What a URI must be before it is split: present, at most CONN_MAX_URI
 * bytes, no control characters, TYPE:// with a valid scheme, at most two
 * "://". Sets *sep (the first "://") and *schemes. 0, or -1 with err.
 */
static int check_uri(const char *uri, const char **sep, size_t *schemes, char *err, size_t errlen)
{
    size_t ulen;

    if (!uri) {
        errbuf_set(err, errlen, "missing connection URI");
        return -1;
    }
    ulen = strlen(uri);
    if (ulen > CONN_MAX_URI) {
        errbuf_set(err, errlen, "connection URI longer than %d bytes", CONN_MAX_URI);
        return -1;
    }
    for (size_t i = 0; i < ulen; i++)
        if ((unsigned char)uri[i] < 0x20 || uri[i] == 0x7f) {
            errbuf_set(err, errlen, "invalid connection URI: control character at offset %zu", i);
            return -1;
        }
    *schemes = count_sub(uri, "://");
    *sep = strstr(uri, "://");
    if (!*sep || !valid_scheme(uri, (size_t)(*sep - uri))) {
        errbuf_set(err, errlen, "invalid connection URI: expected TYPE://...");
        return -1;
    }
    if (*schemes > 2) {
        errbuf_set(err, errlen, "invalid connection URI: more than two '://'");
        return -1;
    }
    return 0;
}

/*
 * "scheme://protocol://host": the protocol before the second "://" (kept
 * in host), *rest moved past it. *protocol stays NULL when urlsplit would
 * not see a scheme there. 0, or -1 with err.
 */
static int split_protocol(const char **rest, const char **protocol, size_t *protolen, char *err,
                          size_t errlen)
{
    const char *sep2 = strstr(*rest, "://");

    /* "http://user@x://": the part before the second :// is a protocol */
    for (const char *p = *rest; p < sep2; p++)
        if (*p == '@' || *p == ':') {
            errbuf_set(err, errlen,
                       "invalid connection URI: the part before the second '://' must be "
                       "a protocol");
            return -1;
        }
    *protocol = *rest;
    *protolen = (size_t)(sep2 - *rest);
    if (!valid_scheme(*protocol, *protolen)) {
        /* urlsplit would not see a scheme; Airflow then keeps no protocol */
        *protocol = NULL;
        *protolen = 0;
    }
    *rest = sep2 + 3;
    return 0;
}

/* login and password from the userinfo netloc..at (before the last '@'). 0, or -1 with err. */
static int parse_userinfo(connection_t *c, const char *netloc, const char *at, char *err,
                          size_t errlen)
{
    const char *colon = memchr(netloc, ':', (size_t)(at - netloc));
    const char *lend = colon ? colon : at;

    if (lend > netloc &&
        unquote(netloc, (size_t)(lend - netloc), false, &c->login, "the login", err, errlen) < 0)
        return -1;
    if (colon && at > colon + 1 &&
        unquote(colon + 1, (size_t)(at - colon - 1), false, &c->password, "the password", err,
                errlen) < 0)
        return -1;
    return 0;
}

/* The port's digits [p, end): 0..65535. 0, or -1 with err. */
static int parse_port(const char *p, const char *end, int *port, char *err, size_t errlen)
{
    long v = 0;

    for (const char *q = p; q < end; q++) {
        if (!isdigit((unsigned char)*q) || v > 65535) {
            errbuf_set(err, errlen,
                       "invalid connection URI: the port is not an integer in 0..65535");
            return -1;
        }
        v = v * 10 + (*q - '0');
    }
    if (v > 65535) {
        errbuf_set(err, errlen, "invalid connection URI: the port is not an integer in 0..65535");
        return -1;
    }
    *port = (int)v;
    return 0;
}

/*
 * host[:port] or [v6host][:port] from [hostinfo, netend): the host
 * percent-decoded and lower-cased, after "protocol://" when there is one.
 * *oom is set when out of memory. 0, or -1 with err.
 */
static int parse_hostport(connection_t *c, const char *hostinfo, const char *netend,
                          const char *protocol, size_t protolen, bool *oom, char *err,
                          size_t errlen)
{
    const char *hstart = hostinfo, *hend, *portp = NULL, *pend = netend;
    char *host = NULL;

    if (*hostinfo == '[') {
        const char *rb = memchr(hostinfo, ']', (size_t)(netend - hostinfo));
        if (!rb) {
            errbuf_set(err, errlen, "invalid connection URI: unterminated '[' in the host");
            return -1;
        }
        hstart = hostinfo + 1;
        hend = rb;
        const char *colon = memchr(rb, ':', (size_t)(netend - rb));
        if (colon)
            portp = colon + 1;
    } else {
        const char *colon = memchr(hostinfo, ':', (size_t)(netend - hostinfo));
        hend = colon ? colon : netend;
        if (colon)
            portp = colon + 1;
    }
    if (portp && portp < pend && parse_port(portp, pend, &c->port, err, errlen) < 0)
        return -1;
    if (hend <= hstart)
        return 0;
    if (unquote(hstart, (size_t)(hend - hstart), false, &host, "the host", err, errlen) < 0)
        return -1;
    for (char *h = host; *h; h++)
        *h = (char)tolower((unsigned char)*h);
    if (!protocol) {
        c->host = host;
        return 0;
    }
    size_t hl = strlen(host);
    c->host = malloc(protolen + 3 + hl + 1);
    if (!c->host) {
        *oom = true;
    } else {
        for (size_t i = 0; i < protolen; i++)
            c->host[i] = (char)tolower((unsigned char)protocol[i]);
        memcpy(c->host + protolen, "://", 3);
        memcpy(c->host + protolen + 3, host, hl + 1);
    }
    free(host);
    return 0;
}

int connection_parse_uri(const char *conn_id, const char *uri, connection_t **out, char *err,
                         size_t errlen)
{
    connection_t *c = NULL;
    const char *sep, *rest, *protocol = NULL, *p, *netloc, *netend, *at, *path = NULL,
                            *query = NULL;
    size_t schemes, protolen = 0, pathlen = 0, querylen = 0;
    bool oom = false;
    int rc = -1;

    *out = NULL;
    if (check_uri(uri, &sep, &schemes, err, errlen) < 0)
        return -1;
    c = connection_new();
    if (!c) {
        errbuf_set(err, errlen, "out of memory");
        return -1;
    }
    c->conn_id = conn_id ? strdup(conn_id) : NULL;
    if (conn_id && !c->conn_id)
        oom = true;
    c->conn_type = normalize_conn_type(uri, (size_t)(sep - uri), &oom);
    rest = sep + 3;
    if (schemes == 2 && split_protocol(&rest, &protocol, &protolen, err, errlen) < 0)
        goto out;
    /* netloc: up to the first '/', '?' or '#' */
    netloc = rest;
    netend = netloc + strcspn(netloc, "/?#");
    p = netend;
    if (*p == '/') {
        path = p;
        pathlen = strcspn(p, "?#");
        p += pathlen;
    }
    if (*p == '?') {
        query = p + 1;
        querylen = strcspn(query, "#");
    }
    /* userinfo @ hostinfo, split at the last '@' of the netloc */
    at = NULL;
    for (p = netloc; p < netend; p++)
        if (*p == '@')
            at = p;
    if (at && parse_userinfo(c, netloc, at, err, errlen) < 0)
        goto out;
    if (parse_hostport(c, at ? at + 1 : netloc, netend, protocol, protolen, &oom, err, errlen) < 0)
        goto out;
    if (path && pathlen > 1 &&
        unquote(path + 1, pathlen - 1, false, &c->schema, "the schema", err, errlen) < 0)
        goto out;
    if (query && querylen > 0 && parse_query(query, querylen, &c->extra, err, errlen) < 0)
        goto out;
    if (oom) {
        errbuf_set(err, errlen, "out of memory");
        goto out;
    }
    *out = c;
    c = NULL;
    rc = 0;
out:
    connection_free(c);
    return rc;
}

/* ---- JSON form ---------------------------------------------------------- */

static int json_str_member(const cJSON *v, const char *name, char **dst, char *err, size_t errlen)
{
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsString(v)) {
        errbuf_set(err, errlen, "connection field '%s' must be a string", name);
        return -1;
    }
    free(*dst);
    *dst = strdup(v->valuestring);
    if (!*dst) {
        errbuf_set(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* Only Airflow's fields, and conn_id (when given) equal to conn_id. 0, or -1 with err. */
static int check_json_fields(const char *conn_id, const cJSON *obj, char *err, size_t errlen)
{
    static const char *const known[] = {"conn_id", "conn_type",    "description", "host",
                                        "login",   "password",     "schema",      "port",
                                        "extra",   "extra_dejson", "uri",         NULL};
    const cJSON *v;

    for (const cJSON *it = obj->child; it; it = it->next) {
        bool ok = false;
        for (size_t i = 0; known[i] && !ok; i++)
            ok = strcmp(it->string, known[i]) == 0;
        if (!ok) {
            errbuf_set(err, errlen, "connection '%s': unknown field '%.64s'",
                       conn_id ? conn_id : "", it->string);
            return -1;
        }
    }
    v = cJSON_GetObjectItemCaseSensitive(obj, "conn_id");
    if (v && !cJSON_IsNull(v) &&
        (!cJSON_IsString(v) || !conn_id || strcmp(v->valuestring, conn_id) != 0)) {
        errbuf_set(err, errlen, "connection '%s': conn_id does not match", conn_id ? conn_id : "");
        return -1;
    }
    return 0;
}

/* The uri form: {"uri": ..., "description": ...} and nothing else of the connection. */
static int from_json_uri(const char *conn_id, const cJSON *obj, const cJSON *uri,
                         connection_t **out, char *err, size_t errlen)
{
    static const char *const exclusive[] = {
        "conn_type", "host", "login", "password", "schema", "port", "extra", "extra_dejson", NULL};
    connection_t *c = NULL;

    if (!cJSON_IsString(uri)) {
        errbuf_set(err, errlen, "connection field 'uri' must be a string");
        return -1;
    }
    for (size_t i = 0; exclusive[i]; i++)
        if (cJSON_GetObjectItemCaseSensitive(obj, exclusive[i])) {
            errbuf_set(err, errlen,
                       "connection '%s': give either uri or individual fields (found '%s')",
                       conn_id ? conn_id : "", exclusive[i]);
            return -1;
        }
    if (connection_parse_uri(conn_id, uri->valuestring, &c, err, errlen) < 0)
        return -1;
    if (json_str_member(cJSON_GetObjectItemCaseSensitive(obj, "description"), "description",
                        &c->description, err, errlen) < 0) {
        connection_free(c);
        return -1;
    }
    *out = c;
    return 0;
}

/* The string fields, conn_type normalized. 0, or -1 with err. */
static int json_str_fields(connection_t *c, const cJSON *obj, char *err, size_t errlen)
{
    static const struct {
        const char *name;
        size_t off;
    } fields[] = {{"conn_type", offsetof(connection_t, conn_type)},
                  {"description", offsetof(connection_t, description)},
                  {"host", offsetof(connection_t, host)},
                  {"login", offsetof(connection_t, login)},
                  {"password", offsetof(connection_t, password)},
                  {"schema", offsetof(connection_t, schema)}};

    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (json_str_member(cJSON_GetObjectItemCaseSensitive(obj, fields[i].name), fields[i].name,
                            (char **)((char *)c + fields[i].off), err, errlen) < 0)
            return -1;
    if (c->conn_type) {
        bool oom = false;
        char *t = normalize_conn_type(c->conn_type, strlen(c->conn_type), &oom);
        if (oom) {
            errbuf_set(err, errlen, "out of memory");
            return -1;
        }
        free(c->conn_type);
        c->conn_type = t;
    }
    return 0;
}

/* port: an integer or a digit string, 0..65535. 0, or -1 with err. */
static int json_port(connection_t *c, const cJSON *obj, const char *conn_id, char *err,
                     size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "port");
    long port = -1;

    if (!v || cJSON_IsNull(v))
        return 0;
    if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 65535 &&
        v->valuedouble == (double)(long)v->valuedouble) {
        port = (long)v->valuedouble;
    } else if (cJSON_IsString(v) && v->valuestring[0] && strlen(v->valuestring) <= 5 &&
               strspn(v->valuestring, "0123456789") == strlen(v->valuestring)) {
        port = strtol(v->valuestring, NULL, 10);
    }
    if (port < 0 || port > 65535) {
        errbuf_set(err, errlen, "connection '%s': port must be an integer in 0..65535",
                   conn_id ? conn_id : "");
        return -1;
    }
    c->port = (int)port;
    return 0;
}

/* extra or extra_dejson (not both): a string as is, any other JSON as its text. */
static int json_extra(connection_t *c, const cJSON *obj, const char *conn_id, char *err,
                      size_t errlen)
{
    const cJSON *extra = cJSON_GetObjectItemCaseSensitive(obj, "extra");
    const cJSON *dejson = cJSON_GetObjectItemCaseSensitive(obj, "extra_dejson");

    if (extra && dejson && !cJSON_IsNull(extra) && !cJSON_IsNull(dejson)) {
        errbuf_set(err, errlen, "connection '%s': give extra or extra_dejson, not both",
                   conn_id ? conn_id : "");
        return -1;
    }
    if (!extra || cJSON_IsNull(extra))
        extra = dejson;
    if (!extra || cJSON_IsNull(extra))
        return 0;
    if (cJSON_IsString(extra)) {
        if (extra->valuestring[0] && !(c->extra = strdup(extra->valuestring))) {
            errbuf_set(err, errlen, "out of memory");
            return -1;
        }
    } else if (!(c->extra = cJSON_PrintUnformatted(extra))) {
        errbuf_set(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

int connection_from_json(const char *conn_id, const cJSON *obj, connection_t **out, char *err,
                         size_t errlen)
{
    connection_t *c = NULL;
    const cJSON *v;
    int rc = -1;

    *out = NULL;
    if (!cJSON_IsObject(obj)) {
        errbuf_set(err, errlen, "connection '%s' must be a JSON object", conn_id ? conn_id : "");
        return -1;
    }
    if (check_json_fields(conn_id, obj, err, errlen) < 0)
        return -1;
    v = cJSON_GetObjectItemCaseSensitive(obj, "uri");
    if (v && !cJSON_IsNull(v))
        return from_json_uri(conn_id, obj, v, out, err, errlen);
    c = connection_new();
    if (!c || (conn_id && !(c->conn_id = strdup(conn_id)))) {
        errbuf_set(err, errlen, "out of memory");
        goto out;
    }
    if (json_str_fields(c, obj, err, errlen) < 0 || json_port(c, obj, conn_id, err, errlen) < 0 ||
        json_extra(c, obj, conn_id, err, errlen) < 0)
        goto out;
    *out = c;
    c = NULL;
    rc = 0;
out:
    connection_free(c);
    return rc;
}

int connection_parse_text(const char *conn_id, const char *text, connection_t **out, char *err,
                          size_t errlen)
{
    const char *p = text;
    cJSON *obj;
    int rc;

    *out = NULL;
    if (!text) {
        errbuf_set(err, errlen, "missing connection value");
        return -1;
    }
    while (isspace((unsigned char)*p))
        p++;
    if (*p != '{')
        return connection_parse_uri(conn_id, p, out, err, errlen);
    if (strlen(p) > CONN_MAX_URI) {
        errbuf_set(err, errlen, "connection JSON longer than %d bytes", CONN_MAX_URI);
        return -1;
    }
    obj = cJSON_ParseWithLengthOpts(p, strlen(p) + 1, NULL, 1);
    if (!obj) {
        errbuf_set(err, errlen, "connection '%s': not valid JSON", conn_id ? conn_id : "");
        return -1;
    }
    rc = connection_from_json(conn_id, obj, out, err, errlen);
    cJSON_Delete(obj);
    return rc;
}

/* ---- URI out ------------------------------------------------------------ */

/* Python's quote(s, safe="") or, with plus, quote_plus(s, safe=""). */
static void sb_quote(strbuf_t *b, const char *s, bool plus)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || *p == '_' || *p == '.' || *p == '-' || *p == '~') {
            strbuf_putn(b, (const char *)p, 1);
        } else if (plus && *p == ' ') {
            strbuf_putn(b, "+", 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            strbuf_putn(b, e, 3);
        }
    }
}

char *connection_to_uri(const connection_t *c)
{
    strbuf_t b = {0};
    const char *host = c->host, *proto_end = NULL;
    bool auth = false;
    char port[16];

    for (const char *p = c->conn_type ? c->conn_type : ""; *p; p++) {
        char ch = (char)tolower((unsigned char)*p);
        strbuf_putn(&b, ch == '_' ? "-" : &ch, 1);
    }
    strbuf_puts(&b, "://");
    if (host && (proto_end = strstr(host, "://")) != NULL) {
        strbuf_putn(&b, host, (size_t)(proto_end - host) + 3);
        host = proto_end + 3;
    }
    if (c->login) {
        sb_quote(&b, c->login, false);
        auth = true;
    }
    if (c->password) {
        strbuf_puts(&b, ":");
        sb_quote(&b, c->password, false);
        auth = true;
    }
    if (auth)
        strbuf_puts(&b, "@");
    if (host && *host)
        sb_quote(&b, host, false);
    if (c->port > 0) {
        snprintf(port, sizeof(port), "%s:%d", (!host || !*host) && !auth ? "@" : "", c->port);
        strbuf_puts(&b, port);
    }
    if (c->schema && *c->schema) {
        strbuf_puts(&b, "/");
        sb_quote(&b, c->schema, false);
    }
    if (c->extra && *c->extra) {
        cJSON *obj = cJSON_Parse(c->extra);
        bool flat = cJSON_IsObject(obj);
        for (const cJSON *it = flat ? obj->child : NULL; it && flat; it = it->next)
            flat = cJSON_IsString(it);
        strbuf_puts(&b, c->schema && *c->schema ? "?" : "/?");
        if (flat) {
            for (const cJSON *it = obj->child; it; it = it->next) {
                if (it != obj->child)
                    strbuf_puts(&b, "&");
                sb_quote(&b, it->string, true);
                strbuf_puts(&b, "=");
                sb_quote(&b, it->valuestring, true);
            }
        } else {
            strbuf_puts(&b, "__extra__=");
            sb_quote(&b, c->extra, true);
        }
        cJSON_Delete(obj);
    }
    if (b.oom) {
        secrets_free_str(b.s);
        return NULL;
    }
    return b.s;
}

static cJSON *str_or_null(const char *s)
{
    return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

cJSON *connection_to_json(const connection_t *c, bool with_password)
{
    cJSON *o = cJSON_CreateObject();
    bool ok = o != NULL;

    ok = ok && cJSON_AddItemToObject(o, "conn_type", str_or_null(c->conn_type));
    ok = ok && cJSON_AddItemToObject(o, "description", str_or_null(c->description));
    ok = ok && cJSON_AddItemToObject(o, "login", str_or_null(c->login));
    if (with_password)
        ok = ok && cJSON_AddItemToObject(o, "password", str_or_null(c->password));
    ok = ok && cJSON_AddItemToObject(o, "host", str_or_null(c->host));
    ok = ok && cJSON_AddItemToObject(
                   o, "port", c->port >= 0 ? cJSON_CreateNumber(c->port) : cJSON_CreateNull());
    ok = ok && cJSON_AddItemToObject(o, "schema", str_or_null(c->schema));
    ok = ok && cJSON_AddItemToObject(o, "extra", str_or_null(c->extra));
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

int connection_validate(const connection_t *c, char *err, size_t errlen)
{
    size_t n = c->conn_id ? strlen(c->conn_id) : 0;

    if (n == 0 || n > CONN_MAX_ID) {
        errbuf_set(err, errlen, "conn_id must have 1 to %d characters", CONN_MAX_ID);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)c->conn_id[i];
        if (!isalnum(ch) && ch != '_' && ch != '.' && ch != '-') {
            errbuf_set(err, errlen,
                       "conn_id '%.64s' must be made of alphanumeric characters, dashes, dots and "
                       "underscores exclusively",
                       c->conn_id);
            return -1;
        }
    }
    if (!c->conn_type || !*c->conn_type) {
        errbuf_set(err, errlen, "connection '%s': conn_type is required", c->conn_id);
        return -1;
    }
    if (c->port > 65535) {
        errbuf_set(err, errlen, "connection '%s': port must be in 0..65535", c->conn_id);
        return -1;
    }
    if (connection_is_webhook_type(c->conn_type)) {
        char *url = NULL, why[256];
        int rc = connection_webhook_url(c, &url, why, sizeof(why));
        if (rc == 0)
            rc = connection_check_webhook_url(url, NULL, 0, why, sizeof(why));
        secrets_free_str(url);
        if (rc < 0) {
            errbuf_set(err, errlen, "connection '%s': %s", c->conn_id, why);
            return -1;
        }
    }
    return 0;
}

/* ---- changing a stored connection ------------------------------------------ */

/* a and b alike, NULL as ""; fold: any case and '-' as '_' (conn_type), or any case (host). */
static bool same_field(const char *a, const char *b, int fold)
{
    a = a ? a : "";
    b = b ? b : "";
    for (; *a && *b; a++, b++) {
        char x = *a, y = *b;
        if (fold) {
            x = (char)tolower((unsigned char)x);
            y = (char)tolower((unsigned char)y);
        }
        if (fold == 2) {
            x = x == '-' ? '_' : x;
            y = y == '-' ? '_' : y;
        }
        if (x != y)
            return false;
    }
    return *a == *b;
}

bool connection_target_changed(const connection_t *before, const connection_t *after)
{
    return !same_field(before->conn_type, after->conn_type, 2) ||
           !same_field(before->host, after->host, 1) || before->port != after->port ||
           !same_field(before->schema, after->schema, 0) ||
           !same_field(before->login, after->login, 0);
}

/* Whether a stored extra may carry secrets: a secret-looking key, or text that cannot be read. */
static bool extra_holds_secrets(const char *extra)
{
    cJSON *doc;
    bool held;

    if (!extra || !*extra)
        return false;
    doc = cJSON_ParseWithLengthOpts(extra, strlen(extra) + 1, NULL, 1);
    held = !doc || sensitive_json_has(doc);
    cJSON_Delete(doc);
    return held;
}

int connection_check_retarget(const connection_t *before, const connection_t *after,
                              bool password_given, bool extra_given, char *err, size_t errlen)
{
    bool need_pw, need_extra;
    char changed[64] = "";

    if (!connection_target_changed(before, after))
        return 0;
    need_pw = before->password && *before->password && !password_given;
    need_extra = !extra_given && extra_holds_secrets(before->extra);
    if (!need_pw && !need_extra)
        return 0;
    struct {
        bool differs;
        const char *name;
    } fields[] = {
        {!same_field(before->conn_type, after->conn_type, 2), "conn_type"},
        {!same_field(before->host, after->host, 1), "host"},
        {before->port != after->port, "port"},
        {!same_field(before->schema, after->schema, 0), "schema"},
        {!same_field(before->login, after->login, 0), "login"},
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        if (fields[i].differs)
            snprintf(changed + strlen(changed), sizeof(changed) - strlen(changed), "%s%s",
                     changed[0] ? ", " : "", fields[i].name);
    errbuf_set(err, errlen,
               "connection '%s': changing its %s needs %s again (null removes %s): what is "
               "stored for the old target is not sent to a new one",
               before->conn_id ? before->conn_id : "", changed,
               need_pw && need_extra ? "its password and its extra, which holds secrets,"
               : need_pw             ? "its password"
                                     : "its extra, which holds secrets,",
               need_pw && need_extra ? "them" : "it");
    return UPDRAFT_EINVALID;
}

/* ---- webhook URLs (alerts) ---------------------------------------------- */

/* conn_type compared as Airflow normalizes it: case-insensitive, '-' = '_'. */
static bool type_is(const char *type, const char *want)
{
    if (!type)
        return false;
    for (; *type && *want; type++, want++) {
        char a = (char)tolower((unsigned char)*type), b = *want;
        if (a == '-')
            a = '_';
        if (a != b)
            return false;
    }
    return *type == '\0' && *want == '\0';
}

bool connection_is_slack_type(const char *conn_type)
{
    return type_is(conn_type, "slack_webhook") || type_is(conn_type, "slackwebhook");
}

bool connection_is_webhook_type(const char *conn_type)
{
    return connection_is_slack_type(conn_type) || type_is(conn_type, "webhook");
}

/* s without leading and trailing blanks, as a [start, start + *n) span. */
static const char *trim_span(const char *s, size_t *n)
{
    size_t len = strlen(s);
    while (len > 0 && isspace((unsigned char)*s)) {
        s++;
        len--;
    }
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        len--;
    *n = len;
    return s;
}

/* A path taken from a decoded URI field: reserved bytes escaped again, '/' kept. */
static void sb_path(strbuf_t *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || strchr("-._~/!$&'()*+,;=:@", *p)) {
            strbuf_putn(b, (const char *)p, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            strbuf_putn(b, e, 3);
        }
    }
}

/* Appends "/" + tail (without its leading slashes) unless b already ends in '/'. */
static void sb_join(strbuf_t *b, const char *tail, size_t n)
{
    while (n > 0 && *tail == '/') {
        tail++;
        n--;
    }
    if (n == 0)
        return;
    if (b->len == 0 || b->s[b->len - 1] != '/')
        strbuf_putn(b, "/", 1);
    strbuf_putn(b, tail, n);
}

/* extra as a query string, when it is a JSON object of strings (a URI's query). */
static void sb_query(strbuf_t *b, const char *extra)
{
    cJSON *o = extra && *extra == '{' ? cJSON_Parse(extra) : NULL;
    bool first = true;
    const cJSON *it;
    cJSON_ArrayForEach(it, o)
    {
        if (!cJSON_IsString(it))
            continue;
        strbuf_putn(b, first ? "?" : "&", 1);
        sb_quote(b, it->string, true);
        strbuf_putn(b, "=", 1);
        sb_quote(b, it->valuestring, true);
        first = false;
    }
    cJSON_Delete(o);
}

int connection_webhook_url(const connection_t *c, char **url, char *err, size_t errlen)
{
    strbuf_t b = {0};
    size_t pwn = 0, hn = 0;
    const char *pw = c->password ? trim_span(c->password, &pwn) : NULL;
    const char *host = c->host ? trim_span(c->host, &hn) : NULL;
    char port[16] = "";

    *url = NULL;
    if (pw && pwn == 0)
        pw = NULL;
    if (host && hn == 0)
        host = NULL;
    if (c->port >= 0)
        snprintf(port, sizeof(port), ":%d", c->port);
    if (type_is(c->conn_type, "http") || type_is(c->conn_type, "https")) {
        /* a URL given whole (UPDRAFT_CONN_X=https://...) parses into these parts */
        if (!host) {
            errbuf_set(err, errlen, "the webhook URL has no host");
            return -1;
        }
        strbuf_puts(&b, type_is(c->conn_type, "http") ? "http://" : "https://");
        if (c->login || c->password) {
            sb_quote(&b, c->login ? c->login : "", false);
            if (c->password) {
                strbuf_putn(&b, ":", 1);
                sb_quote(&b, c->password, false);
            }
            strbuf_putn(&b, "@", 1);
        }
        if (strchr(c->host, ':') && c->host[0] != '[') {
            strbuf_putn(&b, "[", 1);
            strbuf_putn(&b, host, hn);
            strbuf_putn(&b, "]", 1);
        } else {
            strbuf_putn(&b, host, hn);
        }
        strbuf_puts(&b, port);
        strbuf_putn(&b, "/", 1);
        if (c->schema)
            sb_path(&b, c->schema[0] == '/' ? c->schema + 1 : c->schema);
        sb_query(&b, c->extra);
    } else if (pw && memmem(pw, pwn, "://", 3)) {
        strbuf_putn(&b, pw, pwn); /* the whole URL in the password, as Airflow's hook */
    } else if (host) {
        const char *sep = memmem(host, hn, "://", 3);
        if (!sep)
            strbuf_puts(&b, "https://");
        strbuf_putn(&b, host, hn);
        /* a port and a schema only when the host is a bare authority */
        const char *auth = sep ? sep + 3 : host;
        if (!memchr(auth, '/', hn - (size_t)(auth - host))) {
            if (!memchr(auth, ':', hn - (size_t)(auth - host)))
                strbuf_puts(&b, port);
            if (c->schema && *c->schema) {
                strbuf_t p = {0};
                sb_path(&p, c->schema);
                if (p.s)
                    sb_join(&b, p.s, p.len);
                b.oom = b.oom || p.oom;
                free(p.s);
            }
        }
        if (pw)
            sb_join(&b, pw, pwn);
    } else if (pw && connection_is_slack_type(c->conn_type)) {
        /* only the token: Slack's endpoint, as Airflow's SlackWebhookHook */
        strbuf_puts(&b, "https://hooks.slack.com/services");
        sb_join(&b, pw, pwn);
    } else {
        errbuf_set(err, errlen,
                   "a %s connection needs its webhook URL (https://...) in the password or "
                   "the host field",
                   c->conn_type ? c->conn_type : "webhook");
        return -1;
    }
    if (b.oom || !b.s) {
        secrets_free_str(b.s);
        errbuf_set(err, errlen, "out of memory");
        return -1;
    }
    *url = b.s;
    return 0;
}

static bool is_loopback(const char *host)
{
    if (strcasecmp(host, "localhost") == 0 || strcmp(host, "::1") == 0)
        return true;
    /* 127.0.0.0/8, dotted quad */
    int parts = 0;
    const char *p = host;
    while (*p) {
        int v = 0, digits = 0;
        while (isdigit((unsigned char)*p) && digits < 4) {
            v = v * 10 + (*p++ - '0');
            digits++;
        }
        if (digits == 0 || digits > 3 || v > 255 || (parts == 0 && v != 127))
            return false;
        parts++;
        if (*p == '.')
            p++;
        else if (*p)
            return false;
    }
    return parts == 4;
}

int connection_check_webhook_url(const char *url, char *host, size_t hostlen, char *err,
                                 size_t errlen)
{
    char h[256];
    size_t n = url ? strlen(url) : 0;

    if (host && hostlen)
        host[0] = '\0';
    if (n == 0) {
        errbuf_set(err, errlen, "the webhook URL is empty");
        return -1;
    }
    if (n > CONN_MAX_WEBHOOK_URL) {
        errbuf_set(err, errlen, "the webhook URL is longer than %d bytes", CONN_MAX_WEBHOOK_URL);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)url[i] <= 0x20 || url[i] == 0x7f) {
            errbuf_set(err, errlen,
                       "the webhook URL is not a valid URL: it holds a space or a control "
                       "character");
            return -1;
        }
    const char *sep = strstr(url, "://");
    bool https = sep && sep - url == 5 && strncasecmp(url, "https", 5) == 0;
    bool http = sep && sep - url == 4 && strncasecmp(url, "http", 4) == 0;
    if (!https && !http) {
        errbuf_set(err, errlen,
                   "the webhook URL is not a valid URL: it must start with https:// (http:// only "
                   "for localhost)");
        return -1;
    }
    const char *auth = sep + 3, *end = auth + strcspn(auth, "/?#"), *at = NULL;
    for (const char *p = auth; p < end; p++)
        if (*p == '@')
            at = p;
    const char *hs = at ? at + 1 : auth, *he, *portp = NULL;
    if (*hs == '[') {
        const char *rb = memchr(hs, ']', (size_t)(end - hs));
        if (!rb) {
            errbuf_set(err, errlen,
                       "the webhook URL is not a valid URL: unterminated '[' in the "
                       "host");
            return -1;
        }
        hs++;
        he = rb;
        if (rb + 1 < end) {
            if (rb[1] != ':') {
                errbuf_set(err, errlen, "the webhook URL is not a valid URL: bad host");
                return -1;
            }
            portp = rb + 2;
        }
    } else {
        const char *colon = memchr(hs, ':', (size_t)(end - hs));
        he = colon ? colon : end;
        if (colon)
            portp = colon + 1;
    }
    if (he == hs || (size_t)(he - hs) >= sizeof(h)) {
        errbuf_set(err, errlen, "the webhook URL is not a valid URL: it has no host");
        return -1;
    }
    for (const char *p = hs; p < he; p++)
        if (!isalnum((unsigned char)*p) && !strchr("-._:%", *p)) {
            errbuf_set(err, errlen,
                       "the webhook URL is not a valid URL: bad character in the "
                       "host");
            return -1;
        }
    if (portp) {
        long v = 0;
        if (portp == end) {
            errbuf_set(err, errlen, "the webhook URL is not a valid URL: empty port");
            return -1;
        }
        for (const char *p = portp; p < end; p++) {
            if (!isdigit((unsigned char)*p) || (v = v * 10 + (*p - '0')) > 65535) {
                errbuf_set(err, errlen,
                           "the webhook URL is not a valid URL: the port is not in 1..65535");
                return -1;
            }
        }
        if (v == 0) {
            errbuf_set(err, errlen,
                       "the webhook URL is not a valid URL: the port is not in 1..65535");
            return -1;
        }
    }
    size_t hl = (size_t)(he - hs);
    for (size_t i = 0; i < hl; i++)
        h[i] = (char)tolower((unsigned char)hs[i]);
    h[hl] = '\0';
    if (http && !is_loopback(h)) {
        errbuf_set(err, errlen,
                   "the webhook URL must use https (http is accepted only for localhost, "
                   "127.0.0.0/8 and ::1)");
        return -1;
    }
    if (host && hostlen)
        snprintf(host, hostlen, "%s", h);
    return 0;
}

const char *connection_display_host(const connection_t *c)
{
    if (c->host && connection_is_webhook_type(c->conn_type) && strchr(c->host, '/'))
        return "***";
    return c->host;
}
