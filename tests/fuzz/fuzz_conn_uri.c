/*
 * fuzz_conn_uri.c - connection URIs and JSON (store/connections.c) on
 * arbitrary input: connection_parse_text on the whole input (a URI, or a
 * JSON object when it starts with '{'), and for every connection that
 * parses, the invariants the callers rely on: a port in -1..65535, no
 * NUL-truncated field surprises, and get_uri output that parses again to
 * the same login, password, port and schema.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/connections.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    connection_t *c = NULL, *again = NULL;
    char *buf, *uri, err[256];

    if (size > CONN_MAX_URI + 16)
        return 0;
    buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    if (connection_parse_text("fuzz", buf, &c, err, sizeof(err)) == 0) {
        if (c->port < -1 || c->port > 65535)
            abort();
        cJSON_Delete(connection_to_json(c, true));
        uri = connection_to_uri(c);
        /* get_uri drops an empty login or a port of 0, as Airflow's does;
         * compare only what it keeps. */
        if (uri && c->conn_type && c->conn_type[0] && strchr(c->conn_type, '_') == NULL &&
            strchr(c->conn_type, '-') == NULL && (!c->host || !strstr(c->host, "://")) &&
            connection_parse_uri("fuzz", uri, &again, err, sizeof(err)) == 0) {
            if (c->password && c->password[0] && !same(again->password, c->password))
                abort();
            if (c->login && c->login[0] && !same(again->login, c->login))
                abort();
            if (c->schema && c->schema[0] && !same(again->schema, c->schema))
                abort();
            if (c->port > 0 && again->port != c->port)
                abort();
            connection_free(again);
        }
        free(uri);
        connection_free(c);
    }
    free(buf);
    return 0;
}
