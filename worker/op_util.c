/*
 * op_util.c - helpers shared by the operator bodies (see op_util.h).
 */
#include "worker/op_util.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/pgarray.h"
#include "core/timeutil.h"
#include "core/utf8.h"

void opu_log(const ops_ctx_t *c, const char *who, const char *level, const char *fmt, ...)
{
    FILE *f = c && c->log ? c->log : stdout;
    char when[TS_ISO_LEN];
    va_list ap;

    fprintf(f, "[%s] {%s} %s - ", ts_format_iso(ts_now(), when), who, level);
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fflush(f);
}

const cJSON *opu_arg(const ops_ctx_t *c, const char *name)
{
    const cJSON *v = c->args ? cJSON_GetObjectItemCaseSensitive(c->args, name) : NULL;
    return v && !cJSON_IsNull(v) ? v : NULL;
}

const char *opu_arg_str(const ops_ctx_t *c, const char *name, const char *def)
{
    const cJSON *v = opu_arg(c, name);
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : def;
}

const char *opu_arg_conn_id(const ops_ctx_t *c, const char *name, const char *def)
{
    const char *s = opu_arg_str(c, name, NULL);
    return s && *s ? s : def;
}

bool opu_json_bool(const cJSON *v, bool def)
{
    if (cJSON_IsBool(v))
        return cJSON_IsTrue(v);
    if (cJSON_IsNumber(v))
        return v->valuedouble != 0;
    if (cJSON_IsString(v) && v->valuestring) {
        const char *s = v->valuestring;
        if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcmp(s, "1"))
            return true;
        if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcmp(s, "0"))
            return false;
    }
    return def;
}

bool opu_arg_bool(const ops_ctx_t *c, const char *name, bool def)
{
    return opu_json_bool(opu_arg(c, name), def);
}

double opu_json_seconds(const cJSON *v, double def)
{
    if (cJSON_IsNumber(v) && isfinite(v->valuedouble))
        return v->valuedouble;
    if (cJSON_IsString(v) && v->valuestring && *v->valuestring) {
        char *end;
        double d = strtod(v->valuestring, &end);
        if (*end == '\0' && isfinite(d))
            return d;
    }
    return def;
}

const char *opu_ctx_str(const ops_ctx_t *c, const char *name)
{
    const cJSON *v = c->context ? cJSON_GetObjectItemCaseSensitive(c->context, name) : NULL;
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

const char *opu_num_text(double d, char *buf, size_t len)
{
    if (d == floor(d) && fabs(d) < 9.007199254740992e15)
        snprintf(buf, len, "%lld", (long long)d);
    else {
        snprintf(buf, len, "%.15g", d);
        if (strtod(buf, NULL) != d)
            snprintf(buf, len, "%.17g", d);
    }
    return buf;
}

char *opu_utf8_clean(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    char *out, *o;
    size_t i = 0;

    if (n > (SIZE_MAX - 1) / 3 || !(out = malloc(n * 3 + 1)))
        return NULL;
    o = out;
    while (i < n) {
        int len = utf8_decode(p + i, n - i, NULL);
        if (len > 0) {
            memcpy(o, p + i, (size_t)len);
            o += len;
            i += (size_t)len;
        } else { /* one replacement per byte that starts no valid sequence */
            memcpy(o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    *o = '\0';
    return out;
}

void opu_buf_pylist(strbuf_t *b, const cJSON *list)
{
    const cJSON *it;
    bool first = true;
    strbuf_puts(b, "[");
    cJSON_ArrayForEach(it, list)
    {
        if (!cJSON_IsString(it))
            continue;
        strbuf_puts(b, first ? "'" : ", '");
        strbuf_puts(b, it->valuestring);
        strbuf_puts(b, "'");
        first = false;
    }
    strbuf_puts(b, "]");
}

void opu_buf_pgarray(strbuf_t *b, const cJSON *v)
{
    char num[64];
    const cJSON *it;
    if (!cJSON_IsArray(v))
        return;
    pgarray_open(b);
    cJSON_ArrayForEach(it, v)
    {
        if (cJSON_IsNull(it)) {
            pgarray_put_raw(b, "NULL");
        } else if (cJSON_IsArray(it)) {
            opu_buf_pgarray(b, it);
        } else if (cJSON_IsNumber(it)) {
            pgarray_put_raw(b, opu_num_text(it->valuedouble, num, sizeof num));
        } else if (cJSON_IsBool(it)) {
            pgarray_put_raw(b, cJSON_IsTrue(it) ? "true" : "false");
        } else if (cJSON_IsString(it)) {
            pgarray_put_text(b, it->valuestring);
        } else {
            char *txt = cJSON_PrintUnformatted(it);
            if (!txt)
                b->oom = true;
            else
                pgarray_put_text(b, txt);
            free(txt);
        }
    }
    pgarray_close(b);
}
