/*
 * fuzz_credentials.c - what the webserver reads before it knows who is
 * calling, on arbitrary input. The first byte picks the parser:
 *
 *   even: an HTTP Basic credential (auth_basic_decode): when it decodes,
 *         the password lies inside the buffer, after the username's NUL,
 *         and neither holds a NUL of its own;
 *   odd:  the nesting check of JSON bodies (http_json_depth_ok): whatever
 *         it lets through and cJSON parses is no deeper than the limit,
 *         so the parse that follows cannot recurse past it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "webserver/auth.h"
#include "webserver/http.h"

#define LIMIT 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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

static void basic(const char *in)
{
    char buf[600], *pw = NULL;

    if (!auth_basic_decode(in, buf, sizeof(buf), &pw))
        return;
    if (!pw || pw <= buf || pw >= buf + sizeof(buf) || pw[-1] != '\0')
        abort();
    if (strlen(buf) + 1 + strlen(pw) >= sizeof(buf))
        abort();
}

static void json(const char *in, size_t len)
{
    cJSON *j;

    if (!http_json_depth_ok(in, len, LIMIT))
        return;
    j = cJSON_ParseWithLength(in, len);
    if (j && depth(j) > LIMIT)
        abort();
    cJSON_Delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s;

    if (size < 1 || size > 4096)
        return 0;
    s = malloc(size);
    if (!s)
        return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    if (data[0] % 2 == 0)
        basic(s);
    else
        json(s, strlen(s));
    free(s);
    return 0;
}
