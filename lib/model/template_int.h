/*
 * template_int.h - private to the template renderer (lib/model/template*.c).
 *
 * The renderer is cut into files: the render state, failures, memory and
 * the template text loop (template.c), values, dates, printing, lookups
 * and namespaces (template_value.c), the lexer, calls and expressions
 * (template_expr.c), and the filters (template_filter.c). This header
 * holds the types they share (values, lookups, tokens, the render) and
 * the functions one file calls in another. Nothing outside
 * lib/model/template*.c includes it; model/template.h is the API.
 */
#ifndef UPDRAFT_TEMPLATE_INT_H
#define UPDRAFT_TEMPLATE_INT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/template.h"

#define MAX_ARGS 8
#define NAME_SHOW_MAX 80 /* longest source span quoted in a message */
#define FMT_MAX 512      /* strftime / strptime format length */
#define WS " \t\n\r\f\v"

/* ---- values ---- */

typedef enum {
    V_UNDEF,
    V_NONE,
    V_BOOL,
    V_INT,
    V_STR,
    V_JSON,
    V_DATE,
    V_NS,
    V_FUNC,
} vkind_t;

typedef enum {
    NS_VAR,
    NS_VAR_VALUE,
    NS_VAR_JSON,
    NS_CONN,
    NS_CONN_ID,
    NS_MACROS,
    NS_TI,
    NS_DAG,
    NS_TASK,
    NS_DAG_RUN,
} ns_t;

typedef enum {
    FN_DS_ADD,
    FN_DS_FORMAT,
    FN_XCOM_PULL,
    FN_VAR_GET_VALUE,
    FN_VAR_GET_JSON,
    FN_STRFTIME,
    FN_ISOFORMAT,
} fn_t;

struct lookup;

typedef struct value {
    vkind_t kind;
    bool secret;    /* came from a secret: printed text goes to the secrets list */
    bool sens_keys; /* V_JSON: keys with sensitive names make their values secret */
    int ns;         /* ns_t for V_NS, fn_t for V_FUNC */
    long long i;    /* V_INT, V_BOOL */
    const char *s;  /* V_STR */
    size_t slen;
    const cJSON *j;      /* V_JSON */
    ts_us_t t;           /* V_DATE, and the date of FN_STRFTIME / FN_ISOFORMAT */
    struct lookup *conn; /* NS_CONN_ID */
    size_t start, end;   /* source span, for messages */
} value_t;

/* ---- lookups, cached per render ---- */

typedef enum { LK_VAR, LK_CONN, LK_XCOM } lk_t;

typedef struct lookup {
    lk_t kind;
    char *key; /* var name, conn id, or "dag\x1ftask\x1fkey" */
    int found;
    char *text; /* var value, xcom JSON */
    bool secret;
    cJSON *json; /* parsed text (var.json, xcom) */
    bool json_tried;
    template_conn_t conn;
    cJSON *extra;
    bool extra_tried;
} lookup_t;

/* ---- tokens ---- */

typedef enum {
    T_EOF,
    T_NAME,
    T_STR,
    T_INT,
    T_DOT,
    T_LP,
    T_RP,
    T_LB,
    T_RB,
    T_COMMA,
    T_EQ,
    T_PIPE,
    T_MINUS,
    T_TILDE,
    T_CLOSE,
} tok_type_t;

typedef struct token {
    tok_type_t type;
    size_t start, len; /* source span */
    const char *s;     /* T_STR: decoded (render-owned); T_NAME: src */
    size_t slen;
    long long i;
    bool strip; /* T_CLOSE: "-}}" */
} token_t;

typedef struct render {
    const template_ctx_t *ctx;
    const char *src;
    size_t len;
    size_t pos; /* lexer position */
    token_t tok;
    int depth;
    size_t max_output;
    size_t work, max_work;
    char *err;
    size_t errlen;
    bool failed;
    /* output */
    char *out;
    size_t out_len, out_cap;
    /* allocations freed at the end */
    void **allocs;
    size_t nallocs, allocs_cap;
    lookup_t *lookups[TEMPLATE_MAX_LOOKUPS];
    size_t nlookups;
    cJSON *params, *conf;
    bool params_tried, conf_tried;
    char **secrets;
    size_t nsecrets, secrets_cap;
} render_t;

/* Growable string, limited to max_output; on failure the render has failed. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf_t;
typedef struct arg {
    const char *name; /* NULL: positional */
    size_t namelen;
    value_t v;
} arg_t;

/* ---- functions one renderer file calls in another, by the file that defines them ---- */

/* template.c */

/* Fails the render at source offset off with a message (the first failure wins). Returns -1. */
__attribute__((format(printf, 3, 4))) int tpl_fail(render_t *r, size_t off, const char *fmt, ...);

__attribute__((format(printf, 4, 5))) int tpl_sb_printf(render_t *r, sbuf_t *b, size_t off,
                                                        const char *fmt, ...);

/* The source text of a span, shortened and made printable, for messages. */
void tpl_span_text(const render_t *r, size_t start, size_t end, char *buf, size_t buflen);

int tpl_fail_undefined(render_t *r, const value_t *v);

/* A render-owned copy of s[0..n) with a NUL after it. */
char *tpl_dup_mem(render_t *r, size_t off, const char *s, size_t n);

/* Sets v to a render-owned copy of s[0..n). */
int tpl_str_value(render_t *r, const char *s, size_t n, size_t off, value_t *v);

int tpl_sb_add(render_t *r, sbuf_t *b, size_t off, const char *s, size_t n);

int tpl_sb_addc(render_t *r, sbuf_t *b, size_t off, char c);

/* Hands the buffer to the render as a V_STR value; b is emptied. */
int tpl_sb_finish(render_t *r, sbuf_t *b, size_t off, value_t *v);

int tpl_add_secret(render_t *r, size_t off, const char *s, size_t n);

/* Airflow's DEFAULT_SENSITIVE_FIELDS (secrets.h), on the first 255 bytes of name[0..n). */
bool tpl_name_sensitive(const char *name, size_t n);

/* template_expr.c */

bool tpl_is_name_char(char c);

/* Reads the next token of an expression into r->tok. */
int tpl_lex(render_t *r);

const char *tpl_tok_desc(const token_t *t);

/*
 * Binds args to params (names in order; the first npos may be positional).
 * bound[k].kind stays V_UNDEF with start 0 and given[k] false when absent.
 */
int tpl_bind_args(render_t *r, const char *fname, size_t off, const arg_t *args, size_t nargs,
                  const char *const *params, size_t nparams, size_t npos, value_t *bound,
                  bool *given);

int tpl_require(render_t *r, const char *fname, size_t off, const bool *given,
                const char *const *params, size_t nrequired);

bool tpl_int_of(const value_t *v, long long *out);

bool tpl_is_string(const value_t *v);

/* expr := filtered ('~' filtered)* */
int tpl_parse_expr(render_t *r, value_t *v);

/* template_filter.c */

int tpl_apply_filter(render_t *r, value_t *v, const token_t *name, const arg_t *args, size_t nargs,
                     size_t end);

/* template_value.c */

/* isoformat() of an aware UTC datetime; buf needs TEMPLATE_DATE_LEN. */
bool tpl_iso_of(ts_us_t t, char *buf);

/*
 * Python's datetime.strftime: %f, %z, %Z are Python's own (microseconds,
 * +0000, UTC); the rest goes to the C library in the C locale's manner.
 */
int tpl_date_strftime(render_t *r, size_t off, ts_us_t t, const char *fmt, size_t fmtlen,
                      value_t *v);

/*
 * datetime.strptime(s, fmt) for a date: the whole of s must match. Returns
 * days since the epoch in *days and the time of day in *secs.
 */
int tpl_date_strptime(render_t *r, size_t off, const char *s, size_t slen, const char *fmt,
                      size_t fmtlen, int64_t *days, int *secs);

/* A JSON string as Jinja's tojson writes it (ensure_ascii, <>&' escaped). */
int tpl_json_string(render_t *r, sbuf_t *b, size_t off, const char *s, size_t n);

/* json.dumps(sort_keys=True) with Jinja's html-safe escapes. */
int tpl_json_dump(render_t *r, sbuf_t *b, size_t off, const cJSON *j);

/* The text Jinja prints for v (str(v)); V_STR is returned as is. */
int tpl_to_text(render_t *r, const value_t *v, const char **s, size_t *n);

/*
 * Before a JSON object or list is printed whole (repr or tojson): the
 * strings under its sensitive keys (model/sensitive.h), all of them when
 * v itself is secret, go to the secrets as they are and as both forms
 * escape them. A no-op for values that do not come from a variable, a
 * connection's extra, params or dag_run.conf. 0 or -1 (render failed).
 */
int tpl_add_json_secrets(render_t *r, const value_t *v);

void tpl_lookup_free(lookup_t *l);

/*
 * Looks up (once per render) a variable, connection or XCom. key is the
 * cache key; a, b, c the callback's string arguments. Returns the entry
 * (found tells whether it exists) or NULL with the render failed.
 */
lookup_t *tpl_lookup_get(render_t *r, size_t off, lk_t kind, const char *key, const char *a,
                         const char *b, const char *c);

cJSON *tpl_parse_json_text(const char *text);

/* A key for lookups: the value's text, refused when it holds a NUL. */
const char *tpl_key_text(render_t *r, const value_t *v, const char *what);

int tpl_eval_name(render_t *r, const char *name, size_t n, size_t start, value_t *v);

/* Value of v.name (or v['name']); an unknown name leaves v undefined. */
int tpl_get_attr(render_t *r, value_t *v, const char *name, size_t n, size_t end);

/* v[idx] */
int tpl_get_item(render_t *r, value_t *v, const value_t *idx, size_t end);

#endif /* UPDRAFT_TEMPLATE_INT_H */
