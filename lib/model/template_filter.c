/*
 * template_filter.c - the renderer's Jinja filters (default, upper, int,
 * tojson, ...), applied to a value after '|'.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "model/template_int.h"

static bool truthy(const value_t *v)
{
    switch (v->kind) {
    case V_UNDEF:
    case V_NONE:
        return false;
    case V_BOOL:
    case V_INT:
        return v->i != 0;
    case V_STR:
        return v->slen != 0;
    case V_JSON:
        if (cJSON_IsString(v->j))
            return v->j->valuestring[0] != '\0';
        if (cJSON_IsNumber(v->j))
            return v->j->valuedouble != 0;
        if (cJSON_IsArray(v->j) || cJSON_IsObject(v->j))
            return v->j->child != NULL;
        return cJSON_IsTrue(v->j);
    default:
        return true;
    }
}

/* Jinja's int filter: int(value) for strings and numbers, else default. */
static void filter_int(const value_t *v, long long dflt, int base, value_t *out)
{
    long long n = dflt;
    const char *s = NULL;
    size_t len = 0;
    if (v->kind == V_INT || v->kind == V_BOOL) {
        n = v->i;
    } else if (v->kind == V_JSON && cJSON_IsNumber(v->j)) {
        double d = v->j->valuedouble;
        if (isfinite(d) && fabs(d) < 9.2e18)
            n = (long long)d;
    } else if (v->kind == V_STR) {
        s = v->s;
        len = v->slen;
    } else if (v->kind == V_JSON && cJSON_IsString(v->j)) {
        s = v->j->valuestring;
        len = strlen(s);
    }
    if (s && len < 128 && !memchr(s, '\0', len)) {
        char buf[128], *end;
        memcpy(buf, s, len);
        buf[len] = '\0';
        errno = 0;
        long long x = strtoll(buf, &end, base);
        while (*end && strchr(WS, *end))
            end++;
        if (end != buf && !*end && errno == 0) {
            n = x;
        } else if (base == 10) {
            double d = strtod(buf, &end);
            while (*end && strchr(WS, *end))
                end++;
            if (end != buf && !*end && isfinite(d) && fabs(d) < 9.2e18)
                n = (long long)d;
        }
    }
    memset(out, 0, sizeof(*out));
    out->kind = V_INT;
    out->i = n;
}

/* One filter call: its name for messages, where it was written, its arguments. */
typedef struct fcall {
    const char *fname;
    size_t off;
    const arg_t *args;
    size_t nargs;
} fcall_t;

/* default(default_value, boolean), alias d: the only filter an undefined value reaches. */
static int filter_default(render_t *r, const fcall_t *f, value_t *v, size_t end)
{
    static const char *const params[] = {"default_value", "boolean"};
    value_t b[3];
    bool given[3];

    if (tpl_bind_args(r, f->fname, f->off, f->args, f->nargs, params, 2, 2, b, given) != 0)
        return -1;
    bool use = v->kind == V_UNDEF || (given[1] && truthy(&b[1]) && !truthy(v));
    if (use) {
        if (given[0]) {
            size_t start = v->start;
            *v = b[0];
            v->start = start;
        } else {
            memset(v, 0, sizeof(*v));
            v->kind = V_STR;
            v->s = "";
        }
    }
    v->end = end;
    return 0;
}

/* upper and lower (ASCII, as the C locale). */
static int filter_case(render_t *r, const fcall_t *f, bool upper, value_t *v, value_t *out)
{
    value_t b[3];
    bool given[3];
    const char *s;
    size_t n;

    if (tpl_bind_args(r, f->fname, f->off, f->args, f->nargs, NULL, 0, 0, b, given) != 0 ||
        tpl_to_text(r, v, &s, &n) != 0)
        return -1;
    char *p = tpl_dup_mem(r, f->off, s, n);
    if (!p)
        return -1;
    for (size_t k = 0; k < n; k++)
        p[k] = (char)(upper ? toupper((unsigned char)p[k]) : tolower((unsigned char)p[k]));
    out->kind = V_STR;
    out->s = p;
    out->slen = n;
    return 0;
}

/* trim(chars): whitespace, or the given characters, off both ends. */
static int filter_trim(render_t *r, const fcall_t *f, value_t *v, value_t *out)
{
    static const char *const params[] = {"chars"};
    value_t b[3];
    bool given[3];
    const char *s, *chars = WS;
    size_t n, nchars = strlen(WS);

    if (tpl_bind_args(r, f->fname, f->off, f->args, f->nargs, params, 1, 1, b, given) != 0 ||
        tpl_to_text(r, v, &s, &n) != 0)
        return -1;
    if (given[0] && b[0].kind != V_NONE) {
        if (!tpl_is_string(&b[0]))
            return tpl_fail(r, b[0].start, "%s: chars must be a string", f->fname);
        if (tpl_to_text(r, &b[0], &chars, &nchars) != 0)
            return -1;
    }
    size_t a = 0, z = n;
    while (a < z && memchr(chars, s[a], nchars))
        a++;
    while (z > a && memchr(chars, s[z - 1], nchars))
        z--;
    return tpl_str_value(r, s + a, z - a, f->off, out);
}

/* replace(old, new, count), as Python's str.replace. */
static int filter_replace(render_t *r, const fcall_t *f, value_t *v, value_t *out)
{
    static const char *const params[] = {"old", "new", "count"};
    value_t b[3];
    bool given[3];
    const char *s, *olds, *news;
    size_t n, oldn, newn, off = f->off;
    long long count = -1;
    sbuf_t sb = {0};

    if (tpl_bind_args(r, f->fname, off, f->args, f->nargs, params, 3, 3, b, given) != 0 ||
        tpl_require(r, f->fname, off, given, params, 2) != 0 || tpl_to_text(r, v, &s, &n) != 0 ||
        tpl_to_text(r, &b[0], &olds, &oldn) != 0 || tpl_to_text(r, &b[1], &news, &newn) != 0)
        return -1;
    if (given[2] && b[2].kind != V_NONE && !tpl_int_of(&b[2], &count))
        return tpl_fail(r, b[2].start, "%s: count must be an integer", f->fname);
    out->secret = v->secret || b[1].secret;
    /* Python's str.replace: an empty old inserts new between characters */
    size_t k = 0;
    long long done = 0;
    while (k <= n) {
        bool match = (count < 0 || done < count) &&
                     (oldn == 0 || (k + oldn <= n && memcmp(s + k, olds, oldn) == 0));
        if (match) {
            if (tpl_sb_add(r, &sb, off, news, newn) != 0)
                goto fail_sb;
            done++;
            if (oldn == 0) {
                if (k < n && tpl_sb_addc(r, &sb, off, s[k]) != 0)
                    goto fail_sb;
                k++;
            } else {
                k += oldn;
            }
        } else {
            if (k < n && tpl_sb_addc(r, &sb, off, s[k]) != 0)
                goto fail_sb;
            k++;
        }
    }
    if (tpl_sb_finish(r, &sb, off, out) != 0)
        goto fail_sb;
    out->secret = v->secret || b[1].secret;
    return 0;
fail_sb:
    free(sb.p);
    return -1;
}

/* tojson: the value as JSON text. */
static int filter_tojson(render_t *r, const fcall_t *f, value_t *v, value_t *out)
{
    value_t b[3];
    bool given[3];
    const char *s;
    size_t n, off = f->off;
    char num[64];
    int rc = 0;
    sbuf_t sb = {0};

    if (tpl_bind_args(r, f->fname, off, f->args, f->nargs, NULL, 0, 0, b, given) != 0)
        return -1;
    switch (v->kind) {
    case V_NONE:
        rc = tpl_sb_add(r, &sb, off, "null", 4);
        break;
    case V_BOOL:
        rc = tpl_sb_add(r, &sb, off, v->i ? "true" : "false", v->i ? 4 : 5);
        break;
    case V_INT:
        snprintf(num, sizeof(num), "%lld", v->i);
        rc = tpl_sb_add(r, &sb, off, num, strlen(num));
        break;
    case V_JSON:
        rc = tpl_add_json_secrets(r, v);
        if (rc == 0)
            rc = tpl_json_dump(r, &sb, off, v->j);
        break;
    default:
        rc = tpl_to_text(r, v, &s, &n);
        if (rc == 0)
            rc = tpl_json_string(r, &sb, off, s, n);
        break;
    }
    if (rc != 0 || tpl_sb_finish(r, &sb, off, out) != 0) {
        free(sb.p);
        return -1;
    }
    out->secret = v->secret;
    return 0;
}

int tpl_apply_filter(render_t *r, value_t *v, const token_t *name, const arg_t *args, size_t nargs,
                     size_t end)
{
    char fname[40];
    const char *s;
    size_t n;
    value_t b[3];
    bool given[3];
    value_t out;
    size_t off = name->start;
    const fcall_t f = {.fname = fname, .off = off, .args = args, .nargs = nargs};
    int rc;

    snprintf(fname, sizeof(fname), "filter '%.*s'", (int)(name->slen > 20 ? 20 : name->slen),
             name->s);
#define FIS(lit) (name->slen == sizeof(lit) - 1 && memcmp(name->s, lit, name->slen) == 0)
    memset(&out, 0, sizeof(out));
    if (FIS("default") || FIS("d"))
        return filter_default(r, &f, v, end);
    if (v->kind == V_UNDEF)
        return tpl_fail_undefined(r, v);
    out.secret = v->secret;
    if (FIS("upper") || FIS("lower")) {
        rc = filter_case(r, &f, FIS("upper"), v, &out);
    } else if (FIS("trim")) {
        rc = filter_trim(r, &f, v, &out);
    } else if (FIS("replace")) {
        rc = filter_replace(r, &f, v, &out);
    } else if (FIS("tojson")) {
        rc = filter_tojson(r, &f, v, &out);
    } else if (FIS("int")) {
        static const char *const params[] = {"default", "base"};
        long long dflt = 0, base = 10;
        if (tpl_bind_args(r, fname, off, args, nargs, params, 2, 2, b, given) != 0)
            return -1;
        if (given[0] && !tpl_int_of(&b[0], &dflt))
            return tpl_fail(r, b[0].start, "%s: default must be an integer", fname);
        if (given[1] && (!tpl_int_of(&b[1], &base) || !(base == 0 || (base >= 2 && base <= 36))))
            return tpl_fail(r, b[1].start, "%s: base must be 0 or 2..36", fname);
        if (v->kind == V_NS || v->kind == V_FUNC)
            return tpl_to_text(r, v, &s, &n);
        bool secret = v->secret;
        filter_int(v, dflt, (int)base, &out);
        out.secret = secret;
        rc = 0;
    } else {
        return tpl_fail(r, off, "no filter named '%.*s'", (int)(name->slen > 40 ? 40 : name->slen),
                        name->s);
    }
    if (rc != 0)
        return -1;
    out.start = v->start;
    out.end = end;
    *v = out;
    return 0;
}
