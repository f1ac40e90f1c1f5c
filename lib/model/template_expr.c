/*
 * template_expr.c - the renderer's expressions: the lexer, calls (macros,
 * xcom_pull, var.value.get, ...) and the recursive-descent parser that
 * evaluates as it reads.
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

/* ---- lexer ---- */

static bool is_name_start(char c)
{
    return isalpha((unsigned char)c) || c == '_';
}

bool tpl_is_name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

static int lex_string(render_t *r, token_t *t)
{
    char q = r->src[r->pos];
    size_t k = r->pos + 1;
    sbuf_t b = {0};
    while (k < r->len && r->src[k] != q) {
        char c = r->src[k];
        int rc;
        if (c == '\\' && k + 1 < r->len) {
            char e = r->src[k + 1], o;
            switch (e) {
            case 'n':
                o = '\n';
                break;
            case 't':
                o = '\t';
                break;
            case 'r':
                o = '\r';
                break;
            case '0':
                o = '\0';
                break;
            case '\\':
                o = '\\';
                break;
            case '\'':
                o = '\'';
                break;
            case '"':
                o = '"';
                break;
            default:
                o = 0;
                break;
            }
            if (o || e == '0') {
                rc = tpl_sb_addc(r, &b, t->start, o);
            } else {
                rc = tpl_sb_add(r, &b, t->start, r->src + k, 2); /* kept as written, as Python */
            }
            k += 2;
        } else {
            rc = tpl_sb_addc(r, &b, t->start, c);
            k++;
        }
        if (rc != 0) {
            free(b.p);
            return -1;
        }
    }
    if (k >= r->len) {
        free(b.p);
        return tpl_fail(r, t->start, "unterminated string literal");
    }
    value_t v;
    if (tpl_sb_finish(r, &b, t->start, &v) != 0)
        return -1;
    t->type = T_STR;
    t->s = v.s;
    t->slen = v.slen;
    r->pos = k + 1;
    return 0;
}

/* Reads the next token of an expression into r->tok. */
int tpl_lex(render_t *r)
{
    token_t *t = &r->tok;
    while (r->pos < r->len && strchr(WS, r->src[r->pos]) && r->src[r->pos])
        r->pos++;
    memset(t, 0, sizeof(*t));
    t->start = r->pos;
    if (r->pos >= r->len) {
        t->type = T_EOF;
        return 0;
    }
    const char *p = r->src + r->pos;
    size_t left = r->len - r->pos;
    char c = *p;
    if (left >= 3 && memcmp(p, "-}}", 3) == 0) {
        t->type = T_CLOSE;
        t->strip = true;
        t->len = 3;
    } else if (left >= 2 && memcmp(p, "}}", 2) == 0) {
        t->type = T_CLOSE;
        t->len = 2;
    } else if (is_name_start(c)) {
        size_t k = 1;
        while (k < left && tpl_is_name_char(p[k]))
            k++;
        t->type = T_NAME;
        t->s = p;
        t->slen = t->len = k;
    } else if (isdigit((unsigned char)c)) {
        size_t k = 0;
        long long val = 0;
        while (k < left && (isdigit((unsigned char)p[k]) || p[k] == '_')) {
            if (p[k] != '_') {
                if (val > (LLONG_MAX - 9) / 10)
                    return tpl_fail(r, t->start, "integer literal is too large");
                val = val * 10 + (p[k] - '0');
            }
            k++;
        }
        if (k < left && (p[k] == '.' || p[k] == 'e' || p[k] == 'E') && k + 1 < left &&
            isdigit((unsigned char)p[k + 1]))
            return tpl_fail(r, t->start, "floating-point numbers are not supported");
        t->type = T_INT;
        t->i = val;
        t->len = k;
    } else if (c == '\'' || c == '"') {
        if (lex_string(r, t) != 0)
            return -1;
        t->len = r->pos - t->start;
        return 0;
    } else {
        static const char singles[] = ".()[],=|-~";
        static const tok_type_t types[] = {T_DOT,   T_LP, T_RP,   T_LB,    T_RB,
                                           T_COMMA, T_EQ, T_PIPE, T_MINUS, T_TILDE};
        const char *f = c ? strchr(singles, c) : NULL;
        if (!f) {
            if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
                return tpl_fail(r, t->start, "unexpected '%c'", c);
            return tpl_fail(r, t->start, "unexpected character 0x%02x", (unsigned char)c);
        }
        if (c == '=' && left >= 2 && p[1] == '=')
            return tpl_fail(r, t->start, "comparisons are not supported");
        t->type = types[f - singles];
        t->len = 1;
    }
    r->pos += t->len;
    return 0;
}

const char *tpl_tok_desc(const token_t *t)
{
    switch (t->type) {
    case T_EOF:
        return "end of template";
    case T_NAME:
        return "name";
    case T_STR:
        return "string";
    case T_INT:
        return "integer";
    case T_DOT:
        return "'.'";
    case T_LP:
        return "'('";
    case T_RP:
        return "')'";
    case T_LB:
        return "'['";
    case T_RB:
        return "']'";
    case T_COMMA:
        return "','";
    case T_EQ:
        return "'='";
    case T_PIPE:
        return "'|'";
    case T_MINUS:
        return "'-'";
    case T_TILDE:
        return "'~'";
    case T_CLOSE:
        return "'}}'";
    }
    return "token";
}

/* ---- calls ---- */

/* Parses "(a, b, k=c)" after the '('; the current token is the first after '('. */
static int parse_args(render_t *r, arg_t *args, size_t *nargs, size_t *end)
{
    *nargs = 0;
    if (++r->depth > TEMPLATE_MAX_DEPTH)
        return tpl_fail(r, r->tok.start, "expression nested more than %d deep", TEMPLATE_MAX_DEPTH);
    while (r->tok.type != T_RP) {
        if (*nargs == MAX_ARGS)
            return tpl_fail(r, r->tok.start, "more than %d arguments", MAX_ARGS);
        arg_t *a = &args[*nargs];
        a->name = NULL;
        a->namelen = 0;
        if (r->tok.type == T_NAME) {
            /* a keyword argument needs one token of look-ahead: name '=' */
            size_t save = r->pos;
            token_t name = r->tok;
            if (tpl_lex(r) != 0)
                return -1;
            if (r->tok.type == T_EQ) {
                a->name = name.s;
                a->namelen = name.slen;
                if (tpl_lex(r) != 0)
                    return -1;
            } else {
                r->pos = save;
                r->tok = name;
            }
        }
        if (tpl_parse_expr(r, &a->v) != 0)
            return -1;
        (*nargs)++;
        if (r->tok.type == T_COMMA) {
            if (tpl_lex(r) != 0)
                return -1;
            continue;
        }
        if (r->tok.type != T_RP)
            return tpl_fail(r, r->tok.start, "expected ',' or ')', found %s",
                            tpl_tok_desc(&r->tok));
    }
    *end = r->tok.start + 1;
    r->depth--;
    return tpl_lex(r);
}

/*
 * Binds args to params (names in order; the first npos may be positional).
 * bound[k].kind stays V_UNDEF with start 0 and given[k] false when absent.
 */
int tpl_bind_args(render_t *r, const char *fname, size_t off, const arg_t *args, size_t nargs,
                  const char *const *params, size_t nparams, size_t npos, value_t *bound,
                  bool *given)
{
    bool seen_kw = false;
    size_t pos = 0;
    for (size_t k = 0; k < nparams; k++)
        given[k] = false;
    for (size_t a = 0; a < nargs; a++) {
        size_t slot = nparams;
        if (!args[a].name) {
            if (seen_kw)
                return tpl_fail(r, args[a].v.start, "positional argument follows keyword argument");
            if (pos >= npos)
                return tpl_fail(r, args[a].v.start, "%s takes at most %zu positional arguments",
                                fname, npos);
            slot = pos++;
        } else {
            seen_kw = true;
            for (size_t k = 0; k < nparams; k++)
                if (strlen(params[k]) == args[a].namelen &&
                    memcmp(params[k], args[a].name, args[a].namelen) == 0)
                    slot = k;
            if (slot == nparams)
                return tpl_fail(r, args[a].v.start, "%s got an unexpected keyword argument '%.*s'",
                                fname, (int)args[a].namelen, args[a].name);
        }
        if (given[slot])
            return tpl_fail(r, args[a].v.start, "%s got multiple values for argument '%s'", fname,
                            params[slot]);
        given[slot] = true;
        bound[slot] = args[a].v;
        if (bound[slot].kind == V_UNDEF)
            return tpl_fail_undefined(r, &bound[slot]);
    }
    (void)off;
    return 0;
}

int tpl_require(render_t *r, const char *fname, size_t off, const bool *given,
                const char *const *params, size_t nrequired)
{
    for (size_t k = 0; k < nrequired; k++)
        if (!given[k])
            return tpl_fail(r, off, "%s missing required argument '%s'", fname, params[k]);
    return 0;
}

bool tpl_int_of(const value_t *v, long long *out)
{
    if (v->kind == V_INT || v->kind == V_BOOL) {
        *out = v->i;
        return true;
    }
    if (v->kind == V_JSON && cJSON_IsNumber(v->j) &&
        v->j->valuedouble == floor(v->j->valuedouble) && fabs(v->j->valuedouble) < 1e15) {
        *out = (long long)v->j->valuedouble;
        return true;
    }
    return false;
}

bool tpl_is_string(const value_t *v)
{
    return v->kind == V_STR || (v->kind == V_JSON && cJSON_IsString(v->j));
}

static int call_ds(render_t *r, const value_t *fn, const arg_t *args, size_t nargs, value_t *out)
{
    static const char *const add_params[] = {"ds", "days"};
    static const char *const fmt_params[] = {"ds", "input_format", "output_format"};
    bool add = fn->ns == FN_DS_ADD;
    const char *fname = add ? "macros.ds_add()" : "macros.ds_format()";
    value_t b[3];
    bool given[3];
    const char *ds, *in = "%Y-%m-%d", *outf = NULL;
    size_t dsn, inn = 8, outn = 0;
    int64_t days = 0;
    int secs = 0;

    if (tpl_bind_args(r, fname, fn->start, args, nargs, add ? add_params : fmt_params, add ? 2 : 3,
                      add ? 2 : 3, b, given) != 0 ||
        tpl_require(r, fname, fn->start, given, add ? add_params : fmt_params, add ? 2 : 3) != 0)
        return -1;
    for (size_t k = 0; k < (add ? 1u : 3u); k++)
        if (!tpl_is_string(&b[k]))
            return tpl_fail(r, b[k].start, "%s: %s must be a string", fname,
                            add ? add_params[k] : fmt_params[k]);
    if (tpl_to_text(r, &b[0], &ds, &dsn) != 0)
        return -1;
    if (!add && (tpl_to_text(r, &b[1], &in, &inn) != 0 || tpl_to_text(r, &b[2], &outf, &outn) != 0))
        return -1;
    if (tpl_date_strptime(r, b[0].start, ds, dsn, in, inn, &days, &secs) != 0)
        return -1;
    memset(out, 0, sizeof(*out));
    out->start = fn->start;
    out->secret = b[0].secret;
    if (add) {
        long long n;
        if (!tpl_int_of(&b[1], &n))
            return tpl_fail(r, b[1].start, "%s: days must be an integer", fname);
        if (n < -4000000 || n > 4000000)
            return tpl_fail(r, b[1].start, "%s: date value out of range", fname);
        days += n;
        int64_t y;
        int m, d;
        ts_civil_from_days(days, &y, &m, &d);
        if (y < 1 || y > 9999)
            return tpl_fail(r, b[1].start, "%s: date value out of range", fname);
        char buf[16];
        snprintf(buf, sizeof(buf), "%04d-%02d-%02d", (int)y, m, d);
        out->s = tpl_dup_mem(r, fn->start, buf, strlen(buf));
        out->kind = V_STR;
        out->slen = strlen(buf);
        return out->s ? 0 : -1;
    }
    return tpl_date_strftime(r, b[2].start, days * 86400 * TS_US_PER_SEC + secs * TS_US_PER_SEC,
                             outf, outn, out);
}

static int call_xcom(render_t *r, const value_t *fn, const arg_t *args, size_t nargs, value_t *out)
{
    static const char *const params[] = {"task_ids",    "dag_id", "key", "include_prior_dates",
                                         "map_indexes", "default"};
    const char *fname = "ti.xcom_pull()";
    value_t b[6];
    bool given[6];
    const char *task, *dag = NULL, *key = "return_value";
    char ckey[1600];

    if (tpl_bind_args(r, fname, fn->start, args, nargs, params, 6, 4, b, given) != 0)
        return -1;
    if (!given[0] || b[0].kind == V_NONE)
        return tpl_fail(r, fn->start, "%s: task_ids is required", fname);
    if (!(task = tpl_key_text(r, &b[0], "task_ids")))
        return -1;
    if (given[1] && b[1].kind != V_NONE && !(dag = tpl_key_text(r, &b[1], "dag_id")))
        return -1;
    if (given[2] && !(key = tpl_key_text(r, &b[2], "key")))
        return -1;
    if (given[3] && !(b[3].kind == V_BOOL && !b[3].i) && b[3].kind != V_NONE)
        return tpl_fail(r, b[3].start, "%s: include_prior_dates is not supported", fname);
    if (given[4] && b[4].kind != V_NONE)
        return tpl_fail(r, b[4].start, "%s: map_indexes is not supported", fname);
    if (strlen(task) + strlen(key) + (dag ? strlen(dag) : 0) + 4 > sizeof(ckey))
        return tpl_fail(r, fn->start, "%s: arguments are too long", fname);
    snprintf(ckey, sizeof(ckey), "%s\x1f%s\x1f%s", dag ? dag : "", task, key);
    lookup_t *l = tpl_lookup_get(r, fn->start, LK_XCOM, ckey, dag, task, key);
    if (!l)
        return -1;
    memset(out, 0, sizeof(*out));
    out->start = fn->start;
    if (!l->found) {
        if (given[5]) {
            *out = b[5];
            return 0;
        }
        out->kind = V_NONE; /* as Airflow: a missing XCom is None */
        return 0;
    }
    if (!l->json_tried) {
        l->json_tried = true;
        l->json = tpl_parse_json_text(l->text);
        if (!l->json)
            l->json = cJSON_CreateString(l->text); /* not JSON: the text itself */
        if (!l->json)
            return tpl_fail(r, fn->start, "out of memory");
    }
    out->kind = V_JSON;
    out->j = l->json;
    return 0;
}

static int call_var_get(render_t *r, const value_t *fn, const arg_t *args, size_t nargs,
                        value_t *out)
{
    static const char *const params[] = {"item", "default_var"};
    bool json = fn->ns == FN_VAR_GET_JSON;
    const char *fname = json ? "var.json.get()" : "var.value.get()";
    value_t b[2];
    bool given[2];
    if (tpl_bind_args(r, fname, fn->start, args, nargs, params, 2, 2, b, given) != 0 ||
        tpl_require(r, fname, fn->start, given, params, 1) != 0)
        return -1;
    const char *name = tpl_key_text(r, &b[0], "item");
    if (!name)
        return -1;
    value_t v = *fn;
    v.kind = V_NS;
    v.ns = json ? NS_VAR_JSON : NS_VAR_VALUE;
    if (tpl_get_attr(r, &v, name, strlen(name), fn->end) != 0)
        return -1;
    if (v.kind == V_UNDEF) {
        if (given[1]) {
            *out = b[1];
            return 0;
        }
        return tpl_fail(r, b[0].start, "variable '%s' does not exist", name);
    }
    *out = v;
    return 0;
}

static int call_value(render_t *r, value_t *v, const arg_t *args, size_t nargs, size_t end)
{
    if (v->kind == V_UNDEF)
        return tpl_fail_undefined(r, v);
    if (v->kind != V_FUNC) {
        char name[NAME_SHOW_MAX + 8];
        tpl_span_text(r, v->start, v->end, name, sizeof(name));
        return tpl_fail(r, v->start, "'%s' is not callable", name);
    }
    value_t out;
    int rc;
    size_t start = v->start;
    memset(&out, 0, sizeof(out));
    switch ((fn_t)v->ns) {
    case FN_DS_ADD:
    case FN_DS_FORMAT:
        rc = call_ds(r, v, args, nargs, &out);
        break;
    case FN_XCOM_PULL:
        rc = call_xcom(r, v, args, nargs, &out);
        break;
    case FN_VAR_GET_VALUE:
    case FN_VAR_GET_JSON:
        rc = call_var_get(r, v, args, nargs, &out);
        break;
    case FN_STRFTIME:
    case FN_ISOFORMAT: {
        static const char *const params[] = {"format"};
        bool sf = v->ns == FN_STRFTIME;
        const char *fname = sf ? "strftime()" : "isoformat()";
        value_t b[1];
        bool given[1];
        const char *f;
        size_t fn;
        char buf[TEMPLATE_DATE_LEN];
        if (tpl_bind_args(r, fname, start, args, nargs, params, sf ? 1 : 0, sf ? 1 : 0, b, given) ||
            (sf && tpl_require(r, fname, start, given, params, 1)))
            return -1;
        if (!sf) {
            if (!tpl_iso_of(v->t, buf))
                return tpl_fail(r, start, "date out of range");
            memset(&out, 0, sizeof(out));
            out.kind = V_STR;
            out.slen = strlen(buf);
            rc = (out.s = tpl_dup_mem(r, start, buf, out.slen)) ? 0 : -1;
            break;
        }
        if (!tpl_is_string(&b[0]))
            return tpl_fail(r, b[0].start, "strftime(): format must be a string");
        if (tpl_to_text(r, &b[0], &f, &fn) != 0)
            return -1;
        rc = tpl_date_strftime(r, b[0].start, v->t, f, fn, &out);
        break;
    }
    default:
        rc = tpl_fail(r, start, "not callable");
        break;
    }
    if (rc != 0)
        return -1;
    out.start = start;
    out.end = end;
    *v = out;
    return 0;
}

/* ---- expressions ---- */

/* primary := (NAME | STRING | INT | '-' INT | '(' expr ')') postfix* */
static int parse_primary(render_t *r, value_t *v)
{
    token_t t = r->tok;
    memset(v, 0, sizeof(*v));
    v->start = t.start;
    v->end = t.start + t.len;
    switch (t.type) {
    case T_NAME:
        if (tpl_eval_name(r, t.s, t.slen, t.start, v) != 0 || tpl_lex(r) != 0)
            return -1;
        break;
    case T_STR:
        v->kind = V_STR;
        v->s = t.s;
        v->slen = t.slen;
        if (tpl_lex(r) != 0)
            return -1;
        break;
    case T_INT:
        v->kind = V_INT;
        v->i = t.i;
        if (tpl_lex(r) != 0)
            return -1;
        break;
    case T_MINUS:
        if (tpl_lex(r) != 0)
            return -1;
        if (r->tok.type != T_INT)
            return tpl_fail(r, t.start, "'-' is only supported before an integer");
        v->kind = V_INT;
        v->i = -r->tok.i;
        v->end = r->tok.start + r->tok.len;
        if (tpl_lex(r) != 0)
            return -1;
        break;
    case T_LP:
        if (++r->depth > TEMPLATE_MAX_DEPTH)
            return tpl_fail(r, t.start, "expression nested more than %d deep", TEMPLATE_MAX_DEPTH);
        if (tpl_lex(r) != 0 || tpl_parse_expr(r, v) != 0)
            return -1;
        if (r->tok.type != T_RP)
            return tpl_fail(r, r->tok.start, "expected ')', found %s", tpl_tok_desc(&r->tok));
        r->depth--;
        if (tpl_lex(r) != 0)
            return -1;
        break;
    default:
        return tpl_fail(r, t.start, "expected a value, found %s", tpl_tok_desc(&t));
    }
    for (;;) {
        if (r->tok.type == T_DOT) {
            if (tpl_lex(r) != 0)
                return -1;
            if (r->tok.type != T_NAME)
                return tpl_fail(r, r->tok.start, "expected a name after '.', found %s",
                                tpl_tok_desc(&r->tok));
            token_t n = r->tok;
            if (tpl_get_attr(r, v, n.s, n.slen, n.start + n.len) != 0 || tpl_lex(r) != 0)
                return -1;
        } else if (r->tok.type == T_LB) {
            value_t idx;
            if (++r->depth > TEMPLATE_MAX_DEPTH)
                return tpl_fail(r, r->tok.start, "expression nested more than %d deep",
                                TEMPLATE_MAX_DEPTH);
            if (tpl_lex(r) != 0 || tpl_parse_expr(r, &idx) != 0)
                return -1;
            if (r->tok.type != T_RB)
                return tpl_fail(r, r->tok.start, "expected ']', found %s", tpl_tok_desc(&r->tok));
            r->depth--;
            size_t end = r->tok.start + 1;
            if (tpl_get_item(r, v, &idx, end) != 0 || tpl_lex(r) != 0)
                return -1;
        } else if (r->tok.type == T_LP) {
            arg_t args[MAX_ARGS];
            size_t nargs, end;
            if (tpl_lex(r) != 0 || parse_args(r, args, &nargs, &end) != 0)
                return -1;
            if (call_value(r, v, args, nargs, end) != 0)
                return -1;
        } else {
            return 0;
        }
    }
}

/* filtered := primary ('|' NAME ['(' args ')'])* */
static int parse_filtered(render_t *r, value_t *v)
{
    if (parse_primary(r, v) != 0)
        return -1;
    while (r->tok.type == T_PIPE) {
        if (tpl_lex(r) != 0)
            return -1;
        if (r->tok.type != T_NAME)
            return tpl_fail(r, r->tok.start, "expected a filter name after '|', found %s",
                            tpl_tok_desc(&r->tok));
        token_t name = r->tok;
        arg_t args[MAX_ARGS];
        size_t nargs = 0, end = name.start + name.len;
        if (tpl_lex(r) != 0)
            return -1;
        if (r->tok.type == T_LP) {
            if (tpl_lex(r) != 0 || parse_args(r, args, &nargs, &end) != 0)
                return -1;
        }
        if (tpl_apply_filter(r, v, &name, args, nargs, end) != 0)
            return -1;
    }
    return 0;
}

/* expr := filtered ('~' filtered)* */
int tpl_parse_expr(render_t *r, value_t *v)
{
    if (parse_filtered(r, v) != 0)
        return -1;
    while (r->tok.type == T_TILDE) {
        value_t rhs;
        const char *a, *b;
        size_t an, bn;
        sbuf_t sb = {0};
        size_t off = r->tok.start;
        if (tpl_lex(r) != 0 || parse_filtered(r, &rhs) != 0)
            return -1;
        if (tpl_to_text(r, v, &a, &an) != 0 || tpl_to_text(r, &rhs, &b, &bn) != 0)
            return -1;
        value_t out = {0};
        if (tpl_sb_add(r, &sb, off, a, an) != 0 || tpl_sb_add(r, &sb, off, b, bn) != 0 ||
            tpl_sb_finish(r, &sb, off, &out) != 0) {
            free(sb.p);
            return -1;
        }
        out.secret = v->secret || rhs.secret;
        out.start = v->start;
        out.end = rhs.end;
        *v = out;
    }
    return 0;
}
