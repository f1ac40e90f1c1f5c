/*
 * fuzz_template.c - template_render on arbitrary bytes with a fake context
 * (variables, a JSON variable, a secret, a connection, XComs, a lookup that
 * fails). The first byte picks options (a small output limit); the rest is
 * the template. Checks: a result is NUL-terminated and within the output
 * limit, an error message is a terminated string that starts with a
 * position or names the input limit. ASan/UBSan find the rest.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fz_var(void *ud, const char *name, char **value, bool *secret, char *err, size_t errlen)
{
    (void)ud;
    if (strcmp(name, "err") == 0) {
        strncpy(err, "lookup failed on purpose", errlen - 1);
        err[errlen - 1] = '\0';
        return -1;
    }
    const char *v = strcmp(name, "v") == 0   ? "val"
                    : strcmp(name, "j") == 0 ? "{\"a\": [1, {\"b\": \"c\"}, 2.5e300, null], "
                                               "\"password\": \"pw\", \"u\": \"\\u00e9\"}"
                    : strcmp(name, "s") == 0 ? "s3cr3t"
                                             : NULL;
    if (!v)
        return 0;
    *value = strdup(v);
    *secret = name[0] == 's';
    return *value ? 1 : -1;
}

static int fz_conn(void *ud, const char *id, template_conn_t *c, char *err, size_t errlen)
{
    (void)ud;
    (void)err;
    (void)errlen;
    if (strcmp(id, "c") != 0)
        return 0;
    c->host = strdup("h");
    c->password = strdup("pw");
    c->extra = strdup(id[0] == 'c' ? "{\"token\": \"t0k\", \"n\": [1, 2]}" : "[]");
    c->port = 5432;
    return 1;
}

static int fz_xcom(void *ud, const char *dag, const char *task, const char *key, char **json,
                   char *err, size_t errlen)
{
    (void)ud;
    (void)dag;
    (void)key;
    (void)err;
    (void)errlen;
    const char *v = strcmp(task, "t") == 0   ? "{\"k\": [\"x\", 1, true]}"
                    : strcmp(task, "s") == 0 ? "plain text"
                                             : NULL;
    if (!v)
        return 0;
    *json = strdup(v);
    return *json ? 1 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    template_ctx_t ctx;
    template_result_t res;
    char err[160];
    uint8_t flags = size ? data[0] : 0;

    template_ctx_init(&ctx);
    ctx.dag_id = "d";
    ctx.task_id = "t";
    ctx.run_id = "manual__2024-01-01T00:00:00+00:00";
    ctx.logical_date = INT64_C(1704067200000000) + (flags & 2 ? 123456 : 0);
    ctx.data_interval_start = ctx.logical_date;
    ctx.data_interval_end = ctx.logical_date + INT64_C(86400000000);
    ctx.params_json = "{\"p\": \"pv\", \"n\": 3, \"l\": [\"a\", {\"b\": null}], "
                      "\"api_token\": \"t'q\\\"<&\", \"db\": {\"password\": [\"x\", {\"y\": 1}]}}";
    ctx.conf_json = flags & 4   ? "not json"
                    : flags & 8 ? "{\"deep\": [{\"client_secret\": \"cs\"}], \"k\": \"v\"}"
                                : NULL;
    ctx.var_get = fz_var;
    ctx.conn_get = fz_conn;
    ctx.xcom_get = fz_xcom;
    ctx.max_output = flags & 1 ? 256 : 0;
    ctx.max_input = 64 * 1024;

    memset(err, 'x', sizeof(err));
    const char *src = size ? (const char *)data + 1 : "";
    size_t len = size ? size - 1 : 0;
    if (template_render(src, len, &ctx, &res, err, sizeof(err)) != 0) {
        if (memchr(err, '\0', sizeof(err)) == NULL || res.text != NULL)
            abort();
        if (strncmp(err, "line ", 5) != 0 && strncmp(err, "template is larger", 18) != 0)
            abort();
        return 0;
    }
    size_t limit = ctx.max_output ? ctx.max_output : TEMPLATE_MAX_OUTPUT_DEFAULT;
    if (!res.text || res.text[res.len] != '\0' || res.len > limit)
        abort();
    for (size_t k = 0; k < res.nsecrets; k++)
        if (!res.secrets[k] || !res.secrets[k][0])
            abort();
    template_result_free(&res);
    return 0;
}
