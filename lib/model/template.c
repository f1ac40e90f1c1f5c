/*
 * template.c - Jinja-compatible rendering of task fields, executing nothing.
 *
 * Design: one pass over the text. Template data is copied to the output;
 * at "{{" a recursive-descent parser reads the expression and evaluates it
 * as it goes (there are no statements, so nothing is ever skipped and no
 * tree is needed). Values are small tagged structs; the strings and JSON
 * documents they point at belong to the render (a list of allocations and
 * a lookup cache freed together at the end), so no value owns anything.
 *
 * Names resolve through fixed namespaces (var, conn, macros, ti, ...): an
 * attribute on a namespace is a table lookup, never a call into anything
 * the template names. Undefined values are carried (with the source span
 * they came from) until something uses them, so that `x | default('y')`
 * works as with Jinja's StrictUndefined and the error names what was
 * written.
 *
 * Bounds: input size before anything is allocated; every string built is
 * limited to max_output; all bytes built count against a work budget, so a
 * chain of filters cannot run for long or use much memory; bracket and
 * call nesting are limited; lookups are cached and counted.
 *
 * This file holds the render itself (its failures, memory, the output and
 * the template text loop) and the public functions; values, expressions
 * and filters live beside it in template_*.c, sharing template_int.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/secrets.h"
#include "model/template_int.h"

/* ---- errors ---- */

static void position_of(const render_t *r, size_t off, int *line, int *col)
{
    int l = 1, c = 1;
    if (off > r->len)
        off = r->len;
    for (size_t k = 0; k < off; k++) {
        if (r->src[k] == '\n') {
            l++;
            c = 1;
        } else {
            c++;
        }
    }
    *line = l;
    *col = c;
}

__attribute__((format(printf, 3, 4))) int tpl_fail(render_t *r, size_t off, const char *fmt, ...)
{
    if (r->failed)
        return -1;
    r->failed = true;
    if (!r->err || r->errlen == 0)
        return -1;
    int line, col;
    position_of(r, off, &line, &col);
    int n = snprintf(r->err, r->errlen, "line %d, column %d: ", line, col);
    if (n >= 0 && (size_t)n < r->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* The source text of a span, shortened and made printable, for messages. */
void tpl_span_text(const render_t *r, size_t start, size_t end, char *buf, size_t buflen)
{
    size_t n = 0;
    if (end > r->len)
        end = r->len;
    for (size_t k = start; k < end && n + 4 < buflen; k++) {
        unsigned char c = (unsigned char)r->src[k];
        if (k - start >= NAME_SHOW_MAX) {
            memcpy(buf + n, "...", 3);
            n += 3;
            break;
        }
        buf[n++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    }
    buf[n] = '\0';
}

int tpl_fail_undefined(render_t *r, const value_t *v)
{
    char name[NAME_SHOW_MAX + 8];
    tpl_span_text(r, v->start, v->end, name, sizeof(name));
    return tpl_fail(r, v->start, "'%s' is undefined", name);
}

/* ---- memory ---- */

static void *keep(render_t *r, void *p)
{
    if (!p)
        return NULL;
    if (r->nallocs == r->allocs_cap) {
        size_t cap = r->allocs_cap ? r->allocs_cap * 2 : 32;
        void **a = realloc(r->allocs, cap * sizeof(*a));
        if (!a) {
            free(p);
            return NULL;
        }
        r->allocs = a;
        r->allocs_cap = cap;
    }
    r->allocs[r->nallocs++] = p;
    return p;
}

/* Charges n bytes of work; fails when the budget is spent. */
static int charge(render_t *r, size_t off, size_t n)
{
    if (n > r->max_output)
        return tpl_fail(r, off, "value is larger than %zu bytes", r->max_output);
    r->work += n;
    if (r->work > r->max_work)
        return tpl_fail(r, off, "template needs more than %zu bytes of work to render",
                        r->max_work);
    return 0;
}

/* A render-owned copy of s[0..n) with a NUL after it. */
char *tpl_dup_mem(render_t *r, size_t off, const char *s, size_t n)
{
    if (charge(r, off, n) != 0)
        return NULL;
    char *p = keep(r, malloc(n + 1));
    if (!p) {
        tpl_fail(r, off, "out of memory");
        return NULL;
    }
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* Sets v to a render-owned copy of s[0..n). */
int tpl_str_value(render_t *r, const char *s, size_t n, size_t off, value_t *v)
{
    const char *p = tpl_dup_mem(r, off, s, n);
    if (!p)
        return -1;
    v->kind = V_STR;
    v->s = p;
    v->slen = n;
    return 0;
}

int tpl_sb_add(render_t *r, sbuf_t *b, size_t off, const char *s, size_t n)
{
    if (n > r->max_output || b->len + n > r->max_output)
        return tpl_fail(r, off, "value is larger than %zu bytes", r->max_output);
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return tpl_fail(r, off, "out of memory");
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

int tpl_sb_addc(render_t *r, sbuf_t *b, size_t off, char c)
{
    return tpl_sb_add(r, b, off, &c, 1);
}

__attribute__((format(printf, 4, 5))) int tpl_sb_printf(render_t *r, sbuf_t *b, size_t off,
                                                        const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return tpl_fail(r, off, "internal formatting error");
    return tpl_sb_add(r, b, off, tmp, (size_t)n);
}

/* Hands the buffer to the render as a V_STR value; b is emptied. */
int tpl_sb_finish(render_t *r, sbuf_t *b, size_t off, value_t *v)
{
    if (!b->p && tpl_sb_add(r, b, off, "", 0) != 0)
        return -1;
    if (charge(r, off, b->len) != 0 || !keep(r, b->p)) {
        if (!r->failed)
            tpl_fail(r, off, "out of memory");
        free(b->p);
        b->p = NULL;
        return -1;
    }
    v->kind = V_STR;
    v->s = b->p;
    v->slen = b->len;
    b->p = NULL;
    b->len = b->cap = 0;
    return 0;
}

static int out_add(render_t *r, size_t off, const char *s, size_t n)
{
    if (n > r->max_output || r->out_len + n > r->max_output)
        return tpl_fail(r, off, "rendered text is larger than %zu bytes", r->max_output);
    if (r->out_len + n + 1 > r->out_cap) {
        size_t cap = r->out_cap ? r->out_cap : 256;
        while (cap < r->out_len + n + 1)
            cap *= 2;
        char *p = realloc(r->out, cap);
        if (!p)
            return tpl_fail(r, off, "out of memory");
        r->out = p;
        r->out_cap = cap;
    }
    if (n)
        memcpy(r->out + r->out_len, s, n);
    r->out_len += n;
    r->out[r->out_len] = '\0';
    return 0;
}

int tpl_add_secret(render_t *r, size_t off, const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t k = 0; k < r->nsecrets; k++)
        if (strlen(r->secrets[k]) == n && memcmp(r->secrets[k], s, n) == 0)
            return 0;
    if (r->nsecrets == TEMPLATE_MAX_SECRETS)
        return tpl_fail(r, off, "more than %d distinct secret values", TEMPLATE_MAX_SECRETS);
    if (r->nsecrets == r->secrets_cap) {
        size_t cap = r->secrets_cap ? r->secrets_cap * 2 : 8;
        char **a = realloc(r->secrets, cap * sizeof(*a));
        if (!a)
            return tpl_fail(r, off, "out of memory");
        r->secrets = a;
        r->secrets_cap = cap;
    }
    char *p = malloc(n + 1);
    if (!p)
        return tpl_fail(r, off, "out of memory");
    memcpy(p, s, n);
    p[n] = '\0';
    r->secrets[r->nsecrets++] = p;
    return 0;
}

/* Airflow's DEFAULT_SENSITIVE_FIELDS (secrets.h), on the first 255 bytes of name[0..n). */
bool tpl_name_sensitive(const char *name, size_t n)
{
    char buf[256];
    if (n >= sizeof(buf))
        n = sizeof(buf) - 1;
    memcpy(buf, name, n);
    buf[n] = '\0';
    return secrets_name_is_sensitive(buf);
}

/* ---- template text ---- */

static size_t rstrip_len(const char *s, size_t n)
{
    while (n > 0 && strchr(WS, s[n - 1]) && s[n - 1])
        n--;
    return n;
}

static size_t skip_ws(const render_t *r, size_t k)
{
    while (k < r->len && r->src[k] && strchr(WS, r->src[k]))
        k++;
    return k;
}

/* {{ expr }} starting at r->pos (just after "{{" and an optional '-'). */
static int render_expr(render_t *r, size_t open, bool *strip_after)
{
    value_t v;
    const char *s;
    size_t n;
    r->depth = 0;
    if (tpl_lex(r) != 0)
        return -1;
    if (r->tok.type == T_CLOSE)
        return tpl_fail(r, open, "empty expression");
    if (tpl_parse_expr(r, &v) != 0)
        return -1;
    if (r->tok.type == T_EOF)
        return tpl_fail(r, open, "unexpected end of template, expected '}}'");
    if (r->tok.type != T_CLOSE)
        return tpl_fail(r, r->tok.start, "expected '}}', found %s", tpl_tok_desc(&r->tok));
    *strip_after = r->tok.strip;
    if (tpl_to_text(r, &v, &s, &n) != 0)
        return -1;
    if (v.secret && tpl_add_secret(r, v.start, s, n) != 0)
        return -1;
    return out_add(r, v.start, s, n);
}

/*
 * Reads a statement tag "{% word ... %}" at off; sets *word/wordlen, *end
 * just after "%}", and the strip flags.
 */
static int read_stmt(render_t *r, size_t off, const char **word, size_t *wordlen, size_t *end,
                     bool *strip_before, bool *strip_after)
{
    size_t k = off + 2;
    *strip_before = k < r->len && r->src[k] == '-';
    if (*strip_before)
        k++;
    k = skip_ws(r, k);
    size_t w = k;
    while (k < r->len && tpl_is_name_char(r->src[k]))
        k++;
    *word = r->src + w;
    *wordlen = k - w;
    k = skip_ws(r, k);
    *strip_after = false;
    if (k < r->len && r->src[k] == '-') {
        *strip_after = true;
        k++;
    }
    if (k + 1 < r->len && r->src[k] == '%' && r->src[k + 1] == '}') {
        *end = k + 2;
        return 1; /* a bare "{% word %}" */
    }
    *end = k;
    return 0;
}

static int render_stmt(render_t *r, size_t open, size_t *next, bool *strip_after)
{
    const char *word;
    size_t wordlen, end;
    bool sb, sa;
    int bare = read_stmt(r, open, &word, &wordlen, &end, &sb, &sa);
    if (wordlen == 3 && memcmp(word, "raw", 3) == 0 && bare) {
        /* find {% endraw %} */
        for (size_t k = end; k + 1 < r->len; k++) {
            if (r->src[k] != '{' || r->src[k + 1] != '%')
                continue;
            const char *w2;
            size_t w2len, end2;
            bool sb2, sa2;
            if (read_stmt(r, k, &w2, &w2len, &end2, &sb2, &sa2) == 1 && w2len == 6 &&
                memcmp(w2, "endraw", 6) == 0) {
                size_t a = sa ? skip_ws(r, end) : end;
                size_t n = k > a ? k - a : 0;
                if (sb2)
                    n = rstrip_len(r->src + a, n);
                if (out_add(r, a, r->src + a, n) != 0)
                    return -1;
                *next = end2;
                *strip_after = sa2;
                return 0;
            }
        }
        return tpl_fail(r, open, "'{%% raw %%}' without '{%% endraw %%}'");
    }
    if (wordlen == 0)
        return tpl_fail(r, open, "statements ('{%% ... %%}') are not supported");
    return tpl_fail(r, open, "'{%% %.*s %%}' is not supported: templates run no statements",
                    (int)(wordlen > 20 ? 20 : wordlen), word);
}

static int render_all(render_t *r)
{
    size_t pos = 0;
    bool strip_next = false;
    while (pos <= r->len) {
        /* next tag */
        size_t tag = pos;
        while (tag + 1 < r->len &&
               !(r->src[tag] == '{' &&
                 (r->src[tag + 1] == '{' || r->src[tag + 1] == '%' || r->src[tag + 1] == '#')))
            tag++;
        bool found = tag + 1 < r->len;
        if (!found)
            tag = r->len;
        size_t a = strip_next ? skip_ws(r, pos) : pos;
        if (a > tag)
            a = tag;
        size_t n = tag - a;
        if (found && tag + 2 < r->len && r->src[tag + 2] == '-')
            n = rstrip_len(r->src + a, n);
        if (out_add(r, a, r->src + a, n) != 0)
            return -1;
        if (!found)
            return 0;
        char kind = r->src[tag + 1];
        size_t body = tag + 2 + (tag + 2 < r->len && r->src[tag + 2] == '-');
        strip_next = false;
        if (kind == '{') {
            r->pos = body;
            if (render_expr(r, tag, &strip_next) != 0)
                return -1;
            pos = r->pos;
        } else if (kind == '#') {
            size_t k = body;
            while (k + 1 < r->len && !(r->src[k] == '#' && r->src[k + 1] == '}'))
                k++;
            if (k + 1 >= r->len)
                return tpl_fail(r, tag, "unterminated comment");
            strip_next = k > body && r->src[k - 1] == '-';
            pos = k + 2;
        } else {
            if (render_stmt(r, tag, &pos, &strip_next) != 0)
                return -1;
        }
    }
    return 0;
}

/* ---- public ---- */

void template_ctx_init(template_ctx_t *ctx)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->try_number = 1;
    ctx->map_index = -1;
    ctx->logical_date = TS_NONE;
    ctx->data_interval_start = TS_NONE;
    ctx->data_interval_end = TS_NONE;
    ctx->prev_data_interval_start_success = TS_NONE;
    ctx->prev_data_interval_end_success = TS_NONE;
}

bool template_has_markup(const char *src, size_t len)
{
    for (size_t k = 0; k + 1 < len; k++)
        if (src[k] == '{' && (src[k + 1] == '{' || src[k + 1] == '%' || src[k + 1] == '#'))
            return true;
    return false;
}

void template_result_free(template_result_t *res)
{
    if (!res)
        return;
    free(res->text);
    for (size_t k = 0; k < res->nsecrets; k++)
        free(res->secrets[k]);
    free(res->secrets);
    memset(res, 0, sizeof(*res));
}

int template_render(const char *src, size_t len, const template_ctx_t *ctx, template_result_t *out,
                    char *err, size_t errlen)
{
    render_t r;
    size_t max_input = ctx->max_input ? ctx->max_input : TEMPLATE_MAX_INPUT_DEFAULT;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (err && errlen)
        err[0] = '\0';
    memset(&r, 0, sizeof(r));
    r.ctx = ctx;
    r.src = src ? src : "";
    r.len = src ? len : 0;
    r.err = err;
    r.errlen = errlen;
    r.max_output = ctx->max_output ? ctx->max_output : TEMPLATE_MAX_OUTPUT_DEFAULT;
    r.max_work = r.max_output > SIZE_MAX / TEMPLATE_WORK_FACTOR
                     ? SIZE_MAX
                     : r.max_output * TEMPLATE_WORK_FACTOR;
    if (r.len > max_input) {
        if (err && errlen)
            snprintf(err, errlen, "template is larger than %zu bytes", max_input);
        return -1;
    }
    if (out_add(&r, 0, "", 0) != 0 || render_all(&r) != 0)
        goto out;
    out->text = r.out;
    out->len = r.out_len;
    out->secrets = r.secrets;
    out->nsecrets = r.nsecrets;
    r.out = NULL;
    r.secrets = NULL;
    r.nsecrets = 0;
    rc = 0;
out:
    free(r.out);
    for (size_t k = 0; k < r.nsecrets; k++)
        free(r.secrets[k]);
    free(r.secrets);
    for (size_t k = 0; k < r.nallocs; k++)
        free(r.allocs[k]);
    free(r.allocs);
    for (size_t k = 0; k < r.nlookups; k++)
        tpl_lookup_free(r.lookups[k]);
    cJSON_Delete(r.params);
    cJSON_Delete(r.conf);
    return rc;
}

int template_render_string(const char *src, const template_ctx_t *ctx, char **out, char *err,
                           size_t errlen)
{
    template_result_t res;
    *out = NULL;
    if (template_render(src, src ? strlen(src) : 0, ctx, &res, err, errlen) != 0)
        return -1;
    *out = res.text;
    res.text = NULL;
    template_result_free(&res);
    return 0;
}
