/*
 * op_sql.c - SQLExecuteQueryOperator (PostgresOperator) and SqlSensor
 * against a Postgres connection, with libpq, as Airflow's DbApiHook.run
 * and PostgresHook do it.
 *
 * The connection (conn_id, or postgres_conn_id, default postgres_default)
 * must be of type postgres; its fields go to PQconnectdbParams as keywords
 * (never a conninfo string built from them), `database` overriding its
 * schema, and a few libpq settings (sslmode, ...) are taken from its extra.
 *
 * `sql` is a statement or a list of them; split_statements splits a string
 * on the semicolons outside quotes, dollar quotes and comments. Without
 * autocommit every statement runs in one transaction: one failure rolls
 * back what the earlier statements did. `parameters` in psycopg2's
 * placeholders: a list for %s, a mapping for %(name)s, %% a literal %;
 * they become $n and travel as text (null is NULL, numbers are typed as
 * bigint or numeric, booleans as boolean, lists as arrays, mappings as JSON
 * text). Without parameters a statement is sent as is (simple protocol,
 * as psycopg2 does: several commands may share one string, % is plain).
 *
 * What is returned (pushed as return_value), as Airflow does: the rows of
 * each statement as a list of lists (numbers, booleans, JSON values, null,
 * else text), or only the first row for a handler ending in
 * fetch_one_handler; nothing for a statement without result columns.
 * When sql is a string and (return_last or not split_statements) that is
 * the last statement's result alone (nothing pushed when it has none),
 * else the list of every statement's result. Rows are read one at a time
 * and a result larger than max(max_xcom_size, 1 MiB) fails the try.
 *
 * Parameter values are never logged (they may be secrets): only how many.
 */
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/errbuf.h"
#include "model/connclient.h"
#include "worker/op_util.h"
#include "worker/ops_int.h"
#include "worker/ops.h"

#define SQL_WHO "sql"
#define SQL_MAX_STATEMENTS 10000
#define SQL_MAX_PARAMS 65535
#define SQL_MAX_PARAM_NAME 256

typedef enum keep_mode {
    KEEP_NONE = 0, /* run only */
    KEEP_ALL,      /* every row */
    KEEP_ONE       /* the first row (fetch_one_handler) */
} keep_mode_t;

void op_sql_params_free(op_sql_params_t *p)
{
    for (int i = 0; p->values && i < p->n; i++)
        free(p->values[i]);
    free(p->values);
    free(p->types);
    memset(p, 0, sizeof *p);
}

/* ---- splitting ---------------------------------------------------------- */

static bool ident_char(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch >= 0x80;
}

/*
 * Where the lexical element starting at s[i] ends (one past it), for the
 * elements a ';' inside of does not end a statement: '...' (E'...' with
 * backslash escapes), "...", $tag$...$tag$, -- comments, nested block
 * comments. Anything else: i + 1.
 */
static size_t skip_element(const char *s, size_t len, size_t i)
{
    char ch = s[i];
    if (ch == '\'' || ch == '"') {
        bool esc = ch == '\'' && i > 0 && (s[i - 1] == 'E' || s[i - 1] == 'e') &&
                   (i < 2 || !ident_char((unsigned char)s[i - 2]));
        size_t j = i + 1;
        while (j < len) {
            if (esc && s[j] == '\\' && j + 1 < len) {
                j += 2;
                continue;
            }
            if (s[j] == ch) {
                if (j + 1 < len && s[j + 1] == ch) {
                    j += 2;
                    continue;
                }
                return j + 1;
            }
            j++;
        }
        return len;
    }
    if (ch == '-' && i + 1 < len && s[i + 1] == '-') {
        const char *nl = memchr(s + i, '\n', len - i);
        return nl ? (size_t)(nl - s) + 1 : len;
    }
    if (ch == '/' && i + 1 < len && s[i + 1] == '*') {
        int depth = 1;
        size_t j = i + 2;
        while (j < len && depth > 0) {
            if (s[j] == '/' && j + 1 < len && s[j + 1] == '*')
                depth++, j += 2;
            else if (s[j] == '*' && j + 1 < len && s[j + 1] == '/')
                depth--, j += 2;
            else
                j++;
        }
        return j;
    }
    if (ch == '$' && (i == 0 || (!ident_char((unsigned char)s[i - 1]) && s[i - 1] != '$'))) {
        size_t j = i + 1;
        if (j < len && ident_char((unsigned char)s[j]) && !(s[j] >= '0' && s[j] <= '9'))
            while (j < len && ident_char((unsigned char)s[j]))
                j++;
        if (j < len && s[j] == '$') {
            size_t taglen = j - i + 1;
            const char *end = memmem(s + j + 1, len - j - 1, s + i, taglen);
            return end ? (size_t)(end - s) + taglen : len;
        }
    }
    return i + 1;
}

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' && s[i] != '\f')
            return false;
    return true;
}

/* Adds s[0..n) trimmed to list when it is not blank. -1 on OOM. */
static int add_trimmed(cJSON *list, const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r' ||
                 s[n - 1] == '\f'))
        n--;
    if (!n)
        return 0;
    char *t = strndup(s, n);
    cJSON *item = t ? cJSON_CreateString(t) : NULL;
    free(t);
    if (!item)
        return -1;
    cJSON_AddItemToArray(list, item);
    return 0;
}

/* The statements of sql split on ';' outside quotes and comments, into list. -1 on OOM. */
int op_sql_split(const char *sql, cJSON *list)
{
    size_t len = strlen(sql), start = 0, i = 0;
    while (i < len) {
        if (sql[i] == ';') {
            if (!blank(sql + start, i - start) && add_trimmed(list, sql + start, i - start) < 0)
                return -1;
            start = ++i;
            continue;
        }
        i = skip_element(sql, len, i);
    }
    return add_trimmed(list, sql + start, len - start);
}

/* ---- parameters --------------------------------------------------------- */

/* One parameter value as text (NULL for null) and its type. -1 on OOM. */
static int param_value(const cJSON *v, char **text, Oid *type)
{
    char num[64];
    *text = NULL;
    *type = 0;
    if (cJSON_IsNull(v))
        return 0;
    if (cJSON_IsString(v)) {
        *text = strdup(v->valuestring);
    } else if (cJSON_IsBool(v)) {
        *text = strdup(cJSON_IsTrue(v) ? "true" : "false");
        *type = OID_BOOL;
    } else if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        bool integral = d == (double)(long long)d && d > -9.2e18 && d < 9.2e18;
        if (integral)
            snprintf(num, sizeof num, "%lld", (long long)d);
        else
            opu_num_text(d, num, sizeof num);
        *text = strdup(num);
        *type = integral ? OID_INT8 : OID_NUMERIC;
    } else if (cJSON_IsArray(v)) {
        strbuf_t b = {0};
        opu_buf_pgarray(&b, v);
        *text = strbuf_take(&b);
    } else {
        *text = cJSON_PrintUnformatted(v);
    }
    return *text ? 0 : -1;
}

/*
 * Rewrites psycopg2 placeholders in sql to $n and converts the values.
 * params: a non-empty list (%s) or mapping (%(name)s). 0, or -1 with err.
 */
int op_sql_bind(const char *sql, const cJSON *params, char **out, op_sql_params_t *p, char *err,
                size_t errlen)
{
    strbuf_t b = {0};
    const char *names[SQL_MAX_PARAMS > 4096 ? 4096 : SQL_MAX_PARAMS];
    const size_t max_names = sizeof names / sizeof names[0];
    size_t n_names = 0;
    int positional = 0;
    bool list = cJSON_IsArray(params);
    int n_list = list ? cJSON_GetArraySize(params) : 0;
    char num[32];

    memset(p, 0, sizeof *p);
    *out = NULL;
    for (const char *s = sql; *s; s++) {
        if (*s != '%') {
            strbuf_putn(&b, s, 1);
            continue;
        }
        if (s[1] == '%') {
            strbuf_putn(&b, "%", 1);
            s++;
            continue;
        }
        if (s[1] == 's') {
            if (!list) {
                errbuf_set(err, errlen,
                           "the statement uses %%s but parameters is a mapping "
                           "(use %%(name)s)");
                goto fail;
            }
            if (++positional > SQL_MAX_PARAMS)
                goto toomany;
            snprintf(num, sizeof num, "$%d", positional);
            strbuf_puts(&b, num);
            s++;
            continue;
        }
        if (s[1] == '(') {
            const char *name = s + 2, *close = strchr(name, ')');
            size_t nl;
            if (!close || close[1] != 's' || (nl = (size_t)(close - name)) == 0 ||
                nl > SQL_MAX_PARAM_NAME) {
                errbuf_set(err, errlen, "malformed %%(name)s placeholder at byte %zu",
                           (size_t)(s - sql));
                goto fail;
            }
            if (list) {
                errbuf_set(err, errlen,
                           "the statement uses %%(name)s but parameters is a list "
                           "(use %%s)");
                goto fail;
            }
            size_t k;
            for (k = 0; k < n_names; k++)
                if (strlen(names[k]) == nl && !strncmp(names[k], name, nl))
                    break;
            if (k == n_names) {
                const cJSON *it;
                const char *found = NULL;
                cJSON_ArrayForEach(it, params) if (strlen(it->string) == nl &&
                                                   !strncmp(it->string, name, nl)) found =
                    it->string;
                if (!found) {
                    errbuf_set(err, errlen, "the parameter '%.*s' is not in parameters",
                               (int)(nl > 64 ? 64 : nl), name);
                    goto fail;
                }
                if (n_names == max_names)
                    goto toomany;
                names[n_names++] = found;
            }
            snprintf(num, sizeof num, "$%zu", k + 1);
            strbuf_puts(&b, num);
            s = close + 1;
            continue;
        }
        errbuf_set(err, errlen,
                   "unsupported placeholder '%%%c' at byte %zu (write %%%% for a "
                   "literal %%)",
                   s[1] ? s[1] : ' ', (size_t)(s - sql));
        goto fail;
    }
    if (list && positional != n_list) {
        errbuf_set(err, errlen,
                   "the statement has %d %%s placeholder%s but parameters has %d "
                   "value%s",
                   positional, positional == 1 ? "" : "s", n_list, n_list == 1 ? "" : "s");
        goto fail;
    }
    p->n = list ? n_list : (int)n_names;
    if (p->n > 0) {
        p->values = calloc((size_t)p->n, sizeof *p->values);
        p->types = calloc((size_t)p->n, sizeof *p->types);
        if (!p->values || !p->types)
            goto oom;
        for (int i = 0; i < p->n; i++) {
            const cJSON *v = list ? cJSON_GetArrayItem(params, i)
                                  : cJSON_GetObjectItemCaseSensitive(params, names[i]);
            if (param_value(v, &p->values[i], &p->types[i]) < 0)
                goto oom;
        }
    }
    if (!(*out = strbuf_take(&b)))
        goto oom;
    return 0;
toomany:
    errbuf_set(err, errlen, "too many parameters in one statement");
    goto fail;
oom:
    errbuf_set(err, errlen, "out of memory");
fail:
    free(strbuf_take(&b));
    op_sql_params_free(p);
    return -1;
}

/* ---- results ------------------------------------------------------------ */

/* Whether s is a JSON number as JSON writes it. */
static bool json_number(const char *s)
{
    if (*s == '-')
        s++;
    if (*s == '0')
        s++;
    else if (*s >= '1' && *s <= '9')
        while (*s >= '0' && *s <= '9')
            s++;
    else
        return false;
    if (*s == '.') {
        s++;
        if (!(*s >= '0' && *s <= '9'))
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (!(*s >= '0' && *s <= '9'))
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == '\0';
}

/* One field as JSON: numbers, booleans, JSON values, null, else text. NULL on OOM. */
static cJSON *cell_json(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return cJSON_CreateNull();
    const char *v = PQgetvalue(res, row, col);
    int len = PQgetlength(res, row, col);
    switch (PQftype(res, col)) {
    case OID_BOOL:
        return cJSON_CreateBool(v[0] == 't');
    case OID_INT2:
    case OID_INT4:
    case OID_INT8:
    case OID_OID:
    case OID_FLOAT4:
    case OID_FLOAT8:
    case OID_NUMERIC:
        if (json_number(v))
            return cJSON_CreateRaw(v);
        break; /* NaN, Infinity: as text */
    case OID_JSON:
    case OID_JSONB: {
        cJSON *j = cJSON_ParseWithLengthOpts(v, (size_t)len + 1, NULL, 1);
        if (j)
            return j;
        break;
    }
    default:
        break;
    }
    char *clean = opu_utf8_clean(v, (size_t)len);
    cJSON *s = clean ? cJSON_CreateString(clean) : NULL;
    free(clean);
    return s;
}

static cJSON *row_json(const PGresult *res, int row)
{
    cJSON *r = cJSON_CreateArray();
    for (int col = 0; r && col < PQnfields(res); col++) {
        cJSON *cell = cell_json(res, row, col);
        if (!cell) {
            cJSON_Delete(r);
            return NULL;
        }
        cJSON_AddItemToArray(r, cell);
    }
    return r;
}

static void on_notice(void *arg, const char *message)
{
    const ops_ctx_t *c = arg;
    size_t n = strlen(message);
    while (n && (message[n - 1] == '\n' || message[n - 1] == '\r'))
        n--;
    opu_log(c, SQL_WHO, "INFO", "%.*s", (int)n, message);
}

/* The error of res (or of conn when res has none), without DETAIL (it may show row values). */
static void result_error(PGconn *conn, const PGresult *res, char *err, size_t errlen)
{
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (msg) {
        errbuf_set(err, errlen, "%s%s%s%s", msg, state ? " (SQLSTATE " : "", state ? state : "",
                   state ? ")" : "");
        return;
    }
    const char *m = PQerrorMessage(conn);
    size_t n = strlen(m);
    while (n && (m[n - 1] == '\n' || m[n - 1] == '\r'))
        n--;
    errbuf_set(err, errlen, "%.*s", (int)(n ? n : 13), n ? m : "unknown error");
}

/*
 * Runs one statement (params: NULL, or a non-empty list or mapping). On
 * success *result is the kept result (NULL: the statement has no result
 * columns; KEEP_NONE keeps nothing). 0, or -1 with err.
 */
static int sql_run_statement(const ops_ctx_t *c, PGconn *conn, const char *stmt,
                             const cJSON *params, keep_mode_t keep, size_t limit, cJSON **result,
                             char *err, size_t errlen)
{
    op_sql_params_t p = {0};
    char *q = NULL;
    PGresult *res;
    cJSON *rows = NULL;
    bool failed = false, overflow = false, cmd_done = true, has_cols = false;
    size_t bytes = 0;
    long nrows = 0;
    char affected[32] = "";
    int rc = -1;
    size_t slen = strlen(stmt);

    *result = NULL;
    if (params && op_sql_bind(stmt, params, &q, &p, err, errlen) < 0)
        return -1;
    opu_log(c, SQL_WHO, "INFO", "Running statement: %.*s%s, parameters: %d value%s",
            (int)(slen > OPU_LOG_SNIPPET ? OPU_LOG_SNIPPET : slen), stmt,
            slen > OPU_LOG_SNIPPET ? " ..." : "", p.n, p.n == 1 ? "" : "s");
    int sent = params ? PQsendQueryParams(conn, q, p.n, p.types, (const char *const *)p.values,
                                          NULL, NULL, 0)
                      : PQsendQuery(conn, stmt);
    if (!sent) {
        result_error(conn, NULL, err, errlen);
        goto out;
    }
    if (!PQsetSingleRowMode(conn))
        opu_log(c, SQL_WHO, "WARNING", "single-row mode is not available; reading whole results");

    while ((res = PQgetResult(conn))) {
        ExecStatusType st = PQresultStatus(res);
        bool is_rows = st == PGRES_SINGLE_TUPLE || st == PGRES_TUPLES_OK;
        if (!failed && (is_rows || st == PGRES_COMMAND_OK || st == PGRES_EMPTY_QUERY)) {
            if (cmd_done) { /* a new command of the string starts: only the last one counts */
                cJSON_Delete(rows);
                rows = NULL;
                nrows = 0;
                bytes = 0;
                has_cols = is_rows;
                if (is_rows && keep != KEEP_NONE && !(rows = cJSON_CreateArray())) {
                    errbuf_set(err, errlen, "out of memory");
                    failed = true;
                }
            }
            for (int row = 0; !failed && is_rows && row < PQntuples(res); row++, nrows++) {
                if (!rows || (keep == KEEP_ONE && nrows > 0) || overflow)
                    continue;
                for (int col = 0; col < PQnfields(res); col++)
                    bytes += (size_t)PQgetlength(res, row, col) + 8;
                if (bytes > limit) {
                    overflow = true;
                    continue;
                }
                cJSON *r = row_json(res, row);
                if (!r) {
                    errbuf_set(err, errlen, "out of memory");
                    failed = true;
                    break;
                }
                cJSON_AddItemToArray(rows, r);
            }
            cmd_done = st != PGRES_SINGLE_TUPLE;
            if (cmd_done)
                snprintf(affected, sizeof affected, "%s", PQcmdTuples(res));
        } else if (!failed) {
            if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
                errbuf_set(err, errlen, "COPY FROM STDIN / TO STDOUT is not supported");
                if (st == PGRES_COPY_IN)
                    PQputCopyEnd(conn, "not supported");
                else {
                    char *buf;
                    while (PQgetCopyData(conn, &buf, 0) > 0)
                        PQfreemem(buf);
                }
            } else {
                result_error(conn, res, err, errlen);
            }
            failed = true;
        }
        PQclear(res);
        if (PQstatus(conn) == CONNECTION_BAD) {
            if (!failed)
                result_error(conn, NULL, err, errlen);
            failed = true;
            break;
        }
    }
    if (failed)
        goto out;
    if (*affected)
        opu_log(c, SQL_WHO, "INFO", "Rows affected: %s", affected);
    if (overflow) {
        errbuf_set(err, errlen, "the result is larger than %zu bytes: too large for XCom", limit);
        goto out;
    }
    if (has_cols && keep == KEEP_ONE) {
        *result = cJSON_DetachItemFromArray(rows, 0); /* no row: None */
    } else if (has_cols && keep == KEEP_ALL) {
        *result = rows;
        rows = NULL;
    }
    rc = 0;
out:
    cJSON_Delete(rows);
    free(q);
    op_sql_params_free(&p);
    return rc;
}

/* ---- connection --------------------------------------------------------- */

/* Connects with the task's connection. NULL with the reason logged. */
static PGconn *sql_connect(const ops_ctx_t *c)
{
    const char *conn_id = opu_arg_conn_id(c, "conn_id", NULL);
    const cJSON *conn;
    connclient_pg_t params;
    PGconn *pg = NULL;

    if (!conn_id)
        conn_id = opu_arg_conn_id(c, "postgres_conn_id", "postgres_default");
    if (!(conn = ops_connection(c, conn_id))) {
        opu_log(c, SQL_WHO, "ERROR", "the connection '%s' is not defined", conn_id);
        return NULL;
    }
    const char *type = connclient_str(conn, "conn_type");
    if (!type || (strcasecmp(type, "postgres") && strcasecmp(type, "postgresql"))) {
        opu_log(c, SQL_WHO, "ERROR",
                "the connection '%s' is of type '%s': only postgres connections are supported",
                conn_id, type ? type : "(none)");
        return NULL;
    }
    if (connclient_pg_params(conn, opu_arg_str(c, "database", NULL), 30, 0, &params) < 0) {
        opu_log(c, SQL_WHO, "ERROR", "out of memory connecting to '%s'", conn_id);
        return NULL;
    }
    if (params.bad_extra)
        opu_log(c, SQL_WHO, "WARNING", "the extra of connection '%s' is not a JSON object; ignored",
                conn_id);
    pg = PQconnectdbParams(params.kw, params.val, 0);
    if (!pg) {
        opu_log(c, SQL_WHO, "ERROR", "out of memory connecting to '%s'", conn_id);
    } else if (PQstatus(pg) != CONNECTION_OK) {
        char err[1024];
        result_error(pg, NULL, err, sizeof err);
        opu_log(c, SQL_WHO, "ERROR", "could not connect with connection '%s': %s", conn_id, err);
        PQfinish(pg);
        pg = NULL;
    } else {
        PQsetNoticeProcessor(pg, on_notice, (void *)c);
    }
    connclient_pg_free(&params);
    return pg;
}

/* ---- running ------------------------------------------------------------ */

/* The statements of the sql argument into *out (a list of strings). -1 logged. */
static int sql_statements(const ops_ctx_t *c, cJSON **out)
{
    const cJSON *sql = opu_arg(c, "sql"), *it;
    cJSON *list = cJSON_CreateArray();

    *out = NULL;
    if (!list)
        goto oom;
    if (cJSON_IsString(sql)) {
        if (opu_arg_bool(c, "split_statements", false)) {
            if (op_sql_split(sql->valuestring, list) < 0)
                goto oom;
        } else if (!blank(sql->valuestring, strlen(sql->valuestring))) {
            cJSON *s = cJSON_CreateString(sql->valuestring);
            if (!s)
                goto oom;
            cJSON_AddItemToArray(list, s);
        }
    } else if (cJSON_IsArray(sql)) {
        cJSON_ArrayForEach(it, sql)
        {
            if (!cJSON_IsString(it)) {
                opu_log(c, SQL_WHO, "ERROR", "sql must be a statement or a list of statements");
                goto fail;
            }
            if (blank(it->valuestring, strlen(it->valuestring)))
                continue;
            cJSON *s = cJSON_CreateString(it->valuestring);
            if (!s)
                goto oom;
            cJSON_AddItemToArray(list, s);
        }
    } else {
        opu_log(c, SQL_WHO, "ERROR", "sql must be a statement or a list of statements");
        goto fail;
    }
    if (cJSON_GetArraySize(list) == 0) {
        opu_log(c, SQL_WHO, "ERROR", "there is no SQL statement to run");
        goto fail;
    }
    if (cJSON_GetArraySize(list) > SQL_MAX_STATEMENTS) {
        opu_log(c, SQL_WHO, "ERROR", "more than %d statements", SQL_MAX_STATEMENTS);
        goto fail;
    }
    *out = list;
    return 0;
oom:
    opu_log(c, SQL_WHO, "ERROR", "out of memory");
fail:
    cJSON_Delete(list);
    return -1;
}

/* parameters when given and not empty (Airflow passes empty ones as none), else NULL. */
static const cJSON *sql_parameters(const ops_ctx_t *c, bool *bad)
{
    const cJSON *p = opu_arg(c, "parameters");
    *bad = false;
    if (!p)
        return NULL;
    if (!cJSON_IsArray(p) && !cJSON_IsObject(p)) {
        *bad = true;
        return NULL;
    }
    return cJSON_GetArraySize(p) > 0 ? p : NULL;
}

static bool simple_ok(const ops_ctx_t *c, PGconn *pg, const char *cmd, const char *tag)
{
    PGresult *r = PQexec(pg, cmd);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK && !strcmp(PQcmdStatus(r), tag);
    if (!ok) {
        char err[1024];
        if (PQresultStatus(r) == PGRES_COMMAND_OK)
            errbuf_set(err, sizeof err, "the transaction ended with %s", PQcmdStatus(r));
        else
            result_error(pg, r, err, sizeof err);
        opu_log(c, SQL_WHO, "ERROR", "%s failed: %s", cmd, err);
    }
    PQclear(r);
    return ok;
}

/*
 * Runs the statements, in one transaction unless autocommit. keep(i)
 * decides what each statement keeps; results[i] receives it. 0, or -1
 * logged (and rolled back).
 */
static int sql_run_all(const ops_ctx_t *c, PGconn *pg, const cJSON *stmts, bool single,
                       keep_mode_t keep, cJSON **results)
{
    bool bad, autocommit = opu_arg_bool(c, "autocommit", false), in_tx = false;
    const cJSON *params = sql_parameters(c, &bad), *it;
    int n = cJSON_GetArraySize(stmts), i = 0;
    size_t limit = c->max_xcom_size > OPU_MIN_READ_LIMIT ? c->max_xcom_size : OPU_MIN_READ_LIMIT;
    char err[1024];

    if (bad) {
        opu_log(c, SQL_WHO, "ERROR", "parameters must be a list or a mapping");
        return -1;
    }
    if (!autocommit) {
        if (!simple_ok(c, pg, "BEGIN", "BEGIN"))
            return -1;
        in_tx = true;
    }
    cJSON_ArrayForEach(it, stmts)
    {
        keep_mode_t k = single && i < n - 1 ? KEEP_NONE : keep;
        if (sql_run_statement(c, pg, it->valuestring, params, k, limit, &results[i], err,
                              sizeof err) < 0) {
            opu_log(c, SQL_WHO, "ERROR", "statement %d of %d failed: %s", i + 1, n, err);
            if (in_tx && PQstatus(pg) == CONNECTION_OK) {
                PGresult *r = PQexec(pg, "ROLLBACK");
                PQclear(r);
                opu_log(c, SQL_WHO, "INFO", "Rolled back the transaction");
            }
            return -1;
        }
        i++;
    }
    if (in_tx) {
        if (!simple_ok(c, pg, "COMMIT", "COMMIT"))
            return -1;
        opu_log(c, SQL_WHO, "INFO", "Committed %d statement%s", n, n == 1 ? "" : "s");
    }
    return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

int op_sql_run(const ops_ctx_t *c)
{
    cJSON *stmts = NULL, **results = NULL, *value = NULL;
    PGconn *pg = NULL;
    int rc = 1, n = 0;

    if (sql_statements(c, &stmts) < 0)
        return 1;
    n = cJSON_GetArraySize(stmts);
    const cJSON *sql = opu_arg(c, "sql");
    bool single = cJSON_IsString(sql) && (opu_arg_bool(c, "return_last", true) ||
                                          !opu_arg_bool(c, "split_statements", false));
    /* do_xcom_push: false runs without a handler, as Airflow does: nothing is fetched */
    keep_mode_t keep =
        c->no_return_value                                                               ? KEEP_NONE
        : ends_with(opu_arg_str(c, "handler", "fetch_all_handler"), "fetch_one_handler") ? KEEP_ONE
                                                                                         : KEEP_ALL;
    if (!(results = calloc((size_t)n, sizeof *results))) {
        opu_log(c, SQL_WHO, "ERROR", "out of memory");
        goto out;
    }
    if (!(pg = sql_connect(c)))
        goto out;
    if (sql_run_all(c, pg, stmts, single, keep, results) < 0)
        goto out;
    if (single) {
        value = results[n - 1];
        results[n - 1] = NULL;
    } else {
        if (!(value = cJSON_CreateArray())) {
            opu_log(c, SQL_WHO, "ERROR", "out of memory");
            goto out;
        }
        for (int i = 0; i < n; i++) {
            cJSON *r = results[i] ? results[i] : cJSON_CreateNull();
            if (!r) {
                opu_log(c, SQL_WHO, "ERROR", "out of memory");
                goto out;
            }
            results[i] = NULL;
            cJSON_AddItemToArray(value, r);
        }
    }
    rc = 0;
    if (value && !c->no_return_value) {
        cJSON *v = value;
        value = NULL;
        if (ops_xcom_push(c, "return_value", v) < 0)
            rc = 1;
    }
out:
    for (int i = 0; results && i < n; i++)
        cJSON_Delete(results[i]);
    free(results);
    cJSON_Delete(value);
    cJSON_Delete(stmts);
    if (pg)
        PQfinish(pg);
    return rc;
}

/* Python's truth of a first cell as SqlSensor reads it (and '0', 'f', 'false' as false). */
static bool cell_truthy(const cJSON *v)
{
    if (!v || cJSON_IsNull(v))
        return false;
    if (cJSON_IsBool(v))
        return cJSON_IsTrue(v);
    if (cJSON_IsRaw(v) || cJSON_IsNumber(v))
        return cJSON_IsRaw(v) ? strtod(v->valuestring, NULL) != 0 : v->valuedouble != 0;
    if (cJSON_IsString(v)) {
        const char *s = v->valuestring;
        return *s && strcmp(s, "0") && strcasecmp(s, "f") && strcasecmp(s, "false");
    }
    return cJSON_GetArraySize(v) > 0; /* a JSON list or object */
}

ops_poke_t op_sql_poke(const ops_ctx_t *c)
{
    cJSON *stmts = NULL, **results = NULL;
    PGconn *pg = NULL;
    ops_poke_t v = OPS_POKE_FAIL;
    int n;

    if (sql_statements(c, &stmts) < 0)
        return OPS_POKE_FAIL;
    n = cJSON_GetArraySize(stmts);
    if (!(results = calloc((size_t)n, sizeof *results))) {
        opu_log(c, SQL_WHO, "ERROR", "out of memory");
        goto out;
    }
    if (!(pg = sql_connect(c)))
        goto out;
    if (sql_run_all(c, pg, stmts, true, KEEP_ONE, results) < 0)
        goto out;
    const cJSON *row = results[n - 1];
    if (!cJSON_IsArray(row) || cJSON_GetArraySize(row) == 0) {
        if (opu_arg_bool(c, "fail_on_empty", false)) {
            opu_log(c, SQL_WHO, "ERROR", "No rows returned, raising as per fail_on_empty flag");
            goto out;
        }
        opu_log(c, SQL_WHO, "INFO", "No rows returned yet");
        v = OPS_POKE_NOT_YET;
        goto out;
    }
    const cJSON *first = cJSON_GetArrayItem(row, 0);
    v = cell_truthy(first) ? OPS_POKE_DONE : OPS_POKE_NOT_YET;
    opu_log(c, SQL_WHO, "INFO", "The first cell is %s", v == OPS_POKE_DONE ? "true" : "false");
out:
    for (int i = 0; results && i < n; i++)
        cJSON_Delete(results[i]);
    free(results);
    cJSON_Delete(stmts);
    if (pg)
        PQfinish(pg);
    return v;
}
