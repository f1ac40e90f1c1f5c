/*
 * test_ops.c - the operator bodies of worker/op_http.c, worker/op_sql.c and
 * worker/op_sensors.c, linked from libworker with this test's own
 * ops_xcom_push and ops_connection (the runner's are in worker/opexec.c,
 * which the test does not link); their pure helpers through
 * worker/ops_int.h.
 *
 *   - HTTP against a python3 server this test starts on 127.0.0.1 (skipped
 *     when python3 is missing): methods, JSON/form/text bodies, query
 *     strings, basic auth and extra headers as received, statuses,
 *     response_check, size limits, the sensor's verdicts;
 *   - SQL and ExternalTaskSensor against the Postgres named by
 *     UPDRAFT_TEST_PG_URL, migrated (tests/integration/test_op_bodies.sh
 *     sets it up; without it those tests are skipped);
 *   - FileSensor on a temporary tree, the time sensors, and the pure parts
 *     (statement splitting, placeholders, URL and form encoding).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/strbuf.h"
#include "store/connections.h"
#include "worker/op_util.h"
#include "worker/ops.h"
#include "worker/ops_int.h"

/* ---- the runner's services, as the test provides them -------------------- */

static cJSON *g_xcom; /* what the bodies pushed: key -> value */

int ops_xcom_push(const ops_ctx_t *c, const char *key, cJSON *value)
{
    char *txt = cJSON_PrintUnformatted(value);
    size_t len = txt ? strlen(txt) : 0;
    free(txt);
    if (c->no_return_value && !strcmp(key, "return_value")) {
        cJSON_Delete(value); /* do_xcom_push: false */
        return 0;
    }
    if (!txt || len > c->max_xcom_size) {
        fprintf(c->log, "XCom value of '%s' is larger than %zu bytes: refused\n", key,
                c->max_xcom_size);
        cJSON_Delete(value);
        return -1;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(g_xcom, key);
    cJSON_AddItemToObject(g_xcom, key, value);
    return 0;
}

const cJSON *ops_connection(const ops_ctx_t *c, const char *conn_id)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->connections, conn_id);
    if (!cJSON_IsObject(v)) {
        fprintf(c->log, "The conn_id `%s` isn't defined\n", conn_id);
        return NULL;
    }
    return v;
}

/* ---- a task's context ------------------------------------------------------ */

typedef struct tctx {
    ops_ctx_t c;
    cJSON *args, *context, *conns;
    char *log;
    size_t loglen;
} tctx_t;

/*
 * JSON written with apostrophes for double quotes and backquotes for
 * apostrophes (SQL string literals), printf-style.
 */
static cJSON *jparse(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static cJSON *jparse(const char *fmt, ...)
{
    char buf[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof buf);
    for (char *p = buf; *p; p++)
        *p = *p == '\'' ? '"' : *p == '`' ? '\'' : *p;
    cJSON *j = cJSON_Parse(buf);
    if (!j)
        fail_msg("bad test JSON: %s", buf);
    return j;
}

static void t_open(tctx_t *t, cJSON *args, cJSON *conns)
{
    memset(t, 0, sizeof *t);
    t->args = args;
    t->conns = conns ? conns : cJSON_CreateObject();
    t->context = jparse("{'dag_id': 'd', 'task_id': 't', 'run_id': 'r', 'map_index': -1,"
                        " 'try_number': 1, 'logical_date': '2024-03-05T00:00:00+00:00',"
                        " 'data_interval_start': '2024-03-05T00:00:00+00:00',"
                        " 'data_interval_end': '2024-03-06T00:00:00+00:00', 'conf': {}}");
    t->c.args = t->args;
    t->c.context = t->context;
    t->c.connections = t->conns;
    t->c.max_xcom_size = 48 * 1024;
    t->c.log = open_memstream(&t->log, &t->loglen);
    assert_non_null(t->c.log);
    cJSON_Delete(g_xcom);
    g_xcom = cJSON_CreateObject();
}

static const char *t_log(tctx_t *t)
{
    fflush(t->c.log);
    return t->log ? t->log : "";
}

static void t_close(tctx_t *t)
{
    fclose(t->c.log);
    if (getenv("TEST_OPS_VERBOSE"))
        fprintf(stderr, "%s", t->log ? t->log : "");
    free(t->log);
    cJSON_Delete(t->args);
    cJSON_Delete(t->context);
    cJSON_Delete(t->conns);
}

static void assert_log_has(tctx_t *t, const char *text)
{
    if (!strstr(t_log(t), text))
        fail_msg("log lacks '%s':\n%s", text, t_log(t));
}

static const cJSON *pushed(void)
{
    return cJSON_GetObjectItemCaseSensitive(g_xcom, "return_value");
}

static char *pushed_text(void)
{
    const cJSON *v = pushed();
    return v ? cJSON_PrintUnformatted(v) : NULL;
}

static void assert_pushed(const char *json)
{
    char *got = pushed_text();
    if (!got || strcmp(got, json) != 0)
        fail_msg("pushed %s, expected %s", got ? got : "(nothing)", json);
    free(got);
}

/* ---- pure parts ------------------------------------------------------------ */

static void test_invalid_utf8_is_replaced(void **state)
{
    (void)state;
    char *s = opu_utf8_clean("a\0b\xff"
                             "c\xc3\xa9",
                             7);
    assert_string_equal(s, "a\xEF\xBF\xBD"
                           "b\xEF\xBF\xBD"
                           "c\xc3\xa9");
    free(s);
    s = opu_utf8_clean("\xed\xa0\x80", 3); /* a surrogate */
    assert_string_equal(s, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    free(s);
}

static void test_form_and_url_encoding(void **state)
{
    (void)state;
    strbuf_t b = {0};
    cJSON *o = jparse("{'a': 'x y&z', 'n': 2, 'f': 1.5, 't': true, 'skip': null, 'l': [1, 'b']}");
    assert_int_equal(op_http_form_encode(&b, o), 6);
    char *s = strbuf_take(&b);
    assert_string_equal(s, "a=x+y%26z&n=2&f=1.5&t=True&l=1&l=b");
    free(s);
    cJSON_Delete(o);

    s = op_http_shown_url("https://user:pw@example.com:8443/a/b?token=1#x");
    assert_string_equal(s, "https://example.com:8443/a/b");
    free(s);
    s = op_http_shown_url("http://example.com");
    assert_string_equal(s, "http://example.com");
    free(s);
}

static void test_sql_split_respects_quotes_comments_and_dollar_bodies(void **state)
{
    (void)state;
    cJSON *l = cJSON_CreateArray();
    assert_int_equal(
        op_sql_split("CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;\n"
                     "SELECT 'a;b', \"c;d\", E'e\\';f' -- x;y\n; /* p; /* q; */ r; */ SELECT $$;$$;"
                     " ;  \n",
                     l),
        0);
    char *s = cJSON_PrintUnformatted(l);
    assert_string_equal(s, "[\"CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ "
                           "LANGUAGE sql\",\"SELECT 'a;b', \\\"c;d\\\", E'e\\\\';f' -- x;y\","
                           "\"/* p; /* q; */ r; */ SELECT $$;$$\"]");
    free(s);
    cJSON_Delete(l);
    /* $1 is a parameter, not a dollar quote; a$b$ is an identifier */
    l = cJSON_CreateArray();
    assert_int_equal(op_sql_split("SELECT $1; SELECT a$b$ FROM t; SELECT 2", l), 0);
    assert_int_equal(cJSON_GetArraySize(l), 3);
    cJSON_Delete(l);
}

static void test_sql_parameters_bind_by_type(void **state)
{
    (void)state;
    char *q, err[256];
    op_sql_params_t p;
    cJSON *list = jparse("[5, 'x', null, true, 2.5, [1, 'a b', null], {'k': 1}]");
    assert_int_equal(op_sql_bind("SELECT %s, %s, %s, %s, %s, %s, %s WHERE a LIKE 'x%%'", list, &q,
                                 &p, err, sizeof err),
                     0);
    assert_string_equal(q, "SELECT $1, $2, $3, $4, $5, $6, $7 WHERE a LIKE 'x%'");
    assert_int_equal(p.n, 7);
    assert_string_equal(p.values[0], "5");
    assert_int_equal(p.types[0], OID_INT8);
    assert_string_equal(p.values[1], "x");
    assert_int_equal(p.types[1], 0);
    assert_null(p.values[2]);
    assert_string_equal(p.values[3], "true");
    assert_int_equal(p.types[3], OID_BOOL);
    assert_string_equal(p.values[4], "2.5");
    assert_int_equal(p.types[4], OID_NUMERIC);
    assert_string_equal(p.values[5], "{1,\"a b\",NULL}");
    assert_string_equal(p.values[6], "{\"k\":1}");
    free(q);
    op_sql_params_free(&p);

    assert_int_equal(op_sql_bind("SELECT %s", list, &q, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "1 %s placeholder but parameters has 7 values"));
    assert_int_equal(op_sql_bind("SELECT %d", list, &q, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "unsupported placeholder '%d'"));
    assert_int_equal(op_sql_bind("SELECT %(a)s", list, &q, &p, err, sizeof err), -1);
    cJSON_Delete(list);

    cJSON *map = jparse("{'a': 'A', 'b': 7}");
    assert_int_equal(op_sql_bind("SELECT %(b)s, %(a)s, %(b)s, 100%%", map, &q, &p, err, sizeof err),
                     0);
    assert_string_equal(q, "SELECT $1, $2, $1, 100%");
    assert_int_equal(p.n, 2);
    assert_string_equal(p.values[0], "7");
    assert_string_equal(p.values[1], "A");
    free(q);
    op_sql_params_free(&p);
    assert_int_equal(op_sql_bind("SELECT %(zz)s", map, &q, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "'zz' is not in parameters"));
    assert_int_equal(op_sql_bind("SELECT %s", map, &q, &p, err, sizeof err), -1);
    assert_int_equal(op_sql_bind("SELECT %(a", map, &q, &p, err, sizeof err), -1);
    cJSON_Delete(map);
}

/* ---- HTTP --------------------------------------------------------------------- */

static const char http_server_py[] =
    "import json, sys, time\n"
    "from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer\n"
    "from urllib.parse import urlparse\n"
    "class H(BaseHTTPRequestHandler):\n"
    "    protocol_version = 'HTTP/1.1'\n"
    "    def log_message(self, *a):\n"
    "        pass\n"
    "    def any(self):\n"
    "        u = urlparse(self.path)\n"
    "        n = int(self.headers.get('Content-Length') or 0)\n"
    "        body = self.rfile.read(n).decode('utf-8', 'replace') if n else ''\n"
    "        parts = u.path.strip('/').split('/')\n"
    "        code, out, extra = 200, b'', []\n"
    "        if parts[0] == 'echo':\n"
    "            out = json.dumps({'method': self.command, 'path': u.path, 'query': u.query,\n"
    "                'body': body, 'headers': {k.lower(): v for k, v in self.headers.items()}},\n"
    "                sort_keys=True).encode()\n"
    "        elif parts[0] == 'status':\n"
    "            code = int(parts[1]); out = ('status %d' % code).encode()\n"
    "        elif parts[0] == 'big':\n"
    "            out = b'x' * int(parts[1])\n"
    "        elif parts[0] == 'text':\n"
    "            out = b'hello world'\n"
    "        elif parts[0] == 'binary':\n"
    "            out = b'a\\x00b\\xffc'\n"
    "        elif parts[0] == 'redirect':\n"
    "            code = 302; extra = [('Location', '/text')]\n"
    "        elif parts[0] == 'slow':\n"
    "            time.sleep(2); out = b'late'\n"
    "        else:\n"
    "            code, out = 404, b'not found'\n"
    "        self.send_response(code)\n"
    "        for k, v in extra:\n"
    "            self.send_header(k, v)\n"
    "        self.send_header('Content-Length', str(len(out)))\n"
    "        self.end_headers()\n"
    "        if self.command != 'HEAD':\n"
    "            self.wfile.write(out)\n"
    "    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = any\n"
    "class S(ThreadingHTTPServer):\n"
    "    def handle_error(self, request, client_address):\n"
    "        pass\n"
    "s = S(('127.0.0.1', 0), H)\n"
    "print(s.server_address[1], flush=True)\n"
    "s.serve_forever()\n";

static pid_t g_http_pid = -1;
static int g_http_port = -1;

#define HTTP_PW "Http-s3cret-PW"

static int http_setup(void **state)
{
    (void)state;
    int fds[2];
    char line[32] = "";
    size_t got = 0;

    if (pipe(fds) < 0)
        return 0;
    g_http_pid = fork();
    if (g_http_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlives a crashed test */
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execlp("python3", "python3", "-c", http_server_py, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    while (g_http_pid > 0 && got < sizeof line - 1) {
        struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
        if (poll(&pfd, 1, 10000) <= 0)
            break;
        ssize_t n = read(fds[0], line + got, 1);
        if (n <= 0 || line[got] == '\n')
            break;
        got++;
    }
    line[got] = '\0';
    close(fds[0]);
    g_http_port = atoi(line);
    return 0;
}

static int http_teardown(void **state)
{
    (void)state;
    if (g_http_pid > 0) {
        kill(g_http_pid, SIGTERM);
        waitpid(g_http_pid, NULL, 0);
    }
    return 0;
}

#define NEED_HTTP()                                                                                \
    do {                                                                                           \
        if (g_http_port <= 0)                                                                      \
            skip();                                                                                \
    } while (0)

/* The http_default connection to the test server (with login and a password). */
static cJSON *http_conns(const char *extra)
{
    return jparse("{'http_default': {'conn_type': 'http', 'host': '127.0.0.1', 'port': %d,"
                  " 'schema': 'http', 'login': 'alice', 'password': '" HTTP_PW "',"
                  " 'extra': %s}, 'by_url': {'conn_type': 'http', 'host': 'http://127.0.0.1:%d/'}}",
                  g_http_port, extra ? extra : "null", g_http_port);
}

/* The echo server's view of the request (parsed from the pushed body). */
static cJSON *echoed(void)
{
    const cJSON *v = pushed();
    assert_true(cJSON_IsString(v));
    cJSON *e = cJSON_Parse(v->valuestring);
    assert_non_null(e);
    return e;
}

static const char *echo_str(const cJSON *e, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *echo_header(const cJSON *e, const char *k)
{
    return echo_str(cJSON_GetObjectItemCaseSensitive(e, "headers"), k);
}

static void test_http_posts_json_with_auth_and_headers(void **state)
{
    (void)state;
    NEED_HTTP();
    tctx_t t;
    t_open(&t,
           jparse("{'endpoint': 'echo/x', 'data': {'a': 1, 'b': [true, null]},"
                  " 'headers': {'Content-Type': 'application/json', 'X-Trace': 7}}"),
           http_conns("'{\\'X-Api-Key\\': \\'k123\\', \\'verify\\': false, \\'timeout\\': 5}'"));
    assert_int_equal(op_http_run(&t.c), 0);
    cJSON *e = echoed();
    assert_string_equal(echo_str(e, "method"), "POST");
    assert_string_equal(echo_str(e, "path"), "/echo/x");
    assert_string_equal(echo_str(e, "body"), "{\"a\":1,\"b\":[true,null]}");
    assert_string_equal(echo_header(e, "content-type"), "application/json");
    assert_string_equal(echo_header(e, "x-trace"), "7");
    assert_string_equal(echo_header(e, "x-api-key"), "k123"); /* the connection's extra */
    assert_null(echo_header(e, "verify"));                    /* a setting, not a header */
    assert_null(echo_header(e, "timeout"));
    /* basic auth as the server received it: base64("alice:" HTTP_PW) */
    assert_string_equal(echo_header(e, "authorization"), "Basic YWxpY2U6SHR0cC1zM2NyZXQtUFc=");
    cJSON_Delete(e);
    assert_log_has(&t, "Calling HTTP method POST");
    assert_log_has(&t, "HTTP status 200");
    assert_null(strstr(t_log(&t), HTTP_PW));
    assert_null(strstr(t_log(&t), "YWxpY2U6"));
    assert_null(strstr(t_log(&t), "Authorization"));
    t_close(&t);
}

static void test_http_sends_forms_text_and_queries(void **state)
{
    (void)state;
    NEED_HTTP();
    tctx_t t;
    cJSON *e;

    /* an object without a JSON Content-Type: a form */
    t_open(&t, jparse("{'endpoint': '/echo', 'method': 'PUT', 'data': {'a': 'x y', 'n': 2}}"),
           http_conns(NULL));
    assert_int_equal(op_http_run(&t.c), 0);
    e = echoed();
    assert_string_equal(echo_str(e, "method"), "PUT");
    assert_string_equal(echo_str(e, "body"), "a=x+y&n=2");
    assert_string_equal(echo_header(e, "content-type"), "application/x-www-form-urlencoded");
    cJSON_Delete(e);
    t_close(&t);

    /* a string: the body as is, no Content-Type of our own */
    t_open(&t, jparse("{'endpoint': 'echo', 'data': 'raw <body> & more'}"), http_conns(NULL));
    assert_int_equal(op_http_run(&t.c), 0);
    e = echoed();
    assert_string_equal(echo_str(e, "method"), "POST");
    assert_string_equal(echo_str(e, "body"), "raw <body> & more");
    assert_null(echo_header(e, "content-type"));
    cJSON_Delete(e);
    t_close(&t);

    /* GET: the object is the query string; a connection whose host is a URL */
    t_open(&t,
           jparse("{'http_conn_id': 'by_url', 'endpoint': '/echo?x=0', 'method': 'GET',"
                  " 'data': {'a': 1, 'b': 'two words'}}"),
           http_conns(NULL));
    assert_int_equal(op_http_run(&t.c), 0);
    e = echoed();
    assert_string_equal(echo_str(e, "method"), "GET");
    assert_string_equal(echo_str(e, "path"), "/echo");
    assert_string_equal(echo_str(e, "query"), "x=0&a=1&b=two+words");
    assert_string_equal(echo_str(e, "body"), "");
    assert_null(echo_header(e, "authorization")); /* that connection has no login */
    cJSON_Delete(e);
    assert_log_has(&t, "/echo (with a query string)");
    assert_null(strstr(t_log(&t), "two+words")); /* query strings are not logged */
    t_close(&t);

    /* a string is the query as is; what may not stand in a URL is escaped */
    t_open(&t, jparse("{'endpoint': 'echo/a b', 'method': 'GET', 'data': 'x=1&y=a b'}"),
           http_conns(NULL));
    assert_int_equal(op_http_run(&t.c), 0);
    e = echoed();
    assert_string_equal(echo_str(e, "path"), "/echo/a%20b");
    assert_string_equal(echo_str(e, "query"), "x=1&y=a%20b");
    cJSON_Delete(e);
    t_close(&t);

    /* HEAD: no body, an empty return value */
    t_open(&t, jparse("{'endpoint': 'text', 'method': 'HEAD'}"), http_conns(NULL));
    assert_int_equal(op_http_run(&t.c), 0);
    assert_pushed("\"\"");
    t_close(&t);

    /* a redirect is followed */
    t_open(&t, jparse("{'endpoint': 'redirect', 'method': 'GET'}"), http_conns(NULL));
    assert_int_equal(op_http_run(&t.c), 0);
    assert_pushed("\"hello world\"");
    t_close(&t);
}

static void test_http_status_and_response_checks_fail_the_try(void **state)
{
    (void)state;
    NEED_HTTP();
    tctx_t t;

    t_open(&t, jparse("{'endpoint': 'status/500', 'method': 'GET'}"), http_conns(NULL));
    assert_int_equal(op_http_run(&t.c), 1);
    assert_log_has(&t, "HTTP error: status 500");
    assert_log_has(&t, "status 500"); /* the body is shown */
    assert_null(pushed());
    t_close(&t);

    t_open(&t,
           jparse("{'endpoint': 'status/500', 'method': 'GET',"
                  " 'extra_options': {'check_response': false}}"),
           http_conns(NULL));
    assert_int_equal(op_http_run(&t.c), 0);
    assert_pushed("\"status 500\"");
    t_close(&t);

    t_open(&t, jparse("{'endpoint': 'status/200', 'method': 'GET', 'response_check': 201}"),
           http_conns(NULL));
    assert_int_equal(op_http_run(&t.c), 1);
    assert_log_has(&t, "Response check failed: HTTP status 200 is not 201");
    t_close(&t);

    t_open(&t, jparse("{'endpoint': 'status/404', 'method': 'GET', 'response_check': [200, 404]}"),
           http_conns(NULL));
    assert_int_equal(op_http_run(&t.c), 0); /* listed codes are allowed over check_response */
    assert_pushed("\"status 404\"");
    t_close(&t);

    t_open(&t,
           jparse("{'endpoint': 'text', 'method': 'GET', 'response_check': 'hello',"
                  " 'log_response': true}"),
           http_conns(NULL));
    assert_int_equal(op_http_run(&t.c), 0);
    assert_log_has(&t, "hello world");
    t_close(&t);

    t_open(&t, jparse("{'endpoint': 'text', 'method': 'GET', 'response_check': 'bye'}"),
           http_conns(NULL));
    assert_int_equal(op_http_run(&t.c), 1);
    assert_log_has(&t, "Response check failed: the body of the response (HTTP status 200)");
    assert_null(pushed());
    t_close(&t);
}

static void test_http_response_limits_and_errors_fail_the_try(void **state)
{
    (void)state;
    NEED_HTTP();
    tctx_t t;

    /* over max(max_xcom_size, 1 MiB): the read stops and the try fails */
    t_open(&t, jparse("{'endpoint': 'big/1100000', 'method': 'GET'}"), http_conns(NULL));
    t.c.max_xcom_size = 100;
    assert_int_equal(op_http_run(&t.c), 1);
    assert_log_has(&t, "larger than 1048576 bytes");
    t_close(&t);

    /* read, but over max_xcom_size: the push is refused and the try fails */
    t_open(&t, jparse("{'endpoint': 'big/5000', 'method': 'GET'}"), http_conns(NULL));
    t.c.max_xcom_size = 100;
    assert_int_equal(op_http_run(&t.c), 1);
    assert_log_has(&t, "refused");
    t_close(&t);

    /* no XCom wanted (do_xcom_push: false): a long body is only logged, cut */
    t_open(&t, jparse("{'endpoint': 'big/1100000', 'method': 'GET', 'log_response': true}"),
           http_conns(NULL));
    t.c.max_xcom_size = 100;
    t.c.no_return_value = true;
    assert_int_equal(op_http_run(&t.c), 0);
    assert_log_has(&t, "xxxxxxxxxx");
    assert_log_has(&t, "(the body was cut at 1048576 bytes)");
    assert_null(pushed());
    t_close(&t);

    /* bytes that are not text become U+FFFD */
    t_open(&t, jparse("{'endpoint': 'binary', 'method': 'GET'}"), http_conns(NULL));
    assert_int_equal(op_http_run(&t.c), 0);
    assert_pushed("\"a\xEF\xBF\xBD"
                  "b\xEF\xBF\xBD"
                  "c\"");
    t_close(&t);

    /* timeout */
    t_open(&t, jparse("{'endpoint': 'slow', 'method': 'GET', 'extra_options': {'timeout': 0.3}}"),
           http_conns(NULL));
    assert_int_equal(op_http_run(&t.c), 1);
    assert_log_has(&t, "HTTP request to http://127.0.0.1:");
    t_close(&t);

    /* no such connection */
    t_open(&t, jparse("{'http_conn_id': 'nope', 'endpoint': 'text'}"), http_conns(NULL));
    assert_int_equal(op_http_run(&t.c), 1);
    assert_log_has(&t, "the connection 'nope' is not defined");
    t_close(&t);

    /* a header with a line break is refused before sending */
    t_open(&t, jparse("{'endpoint': 'echo', 'headers': {'X-A': 'a\\r\\nX-B: b'}}"),
           http_conns(NULL));
    assert_int_equal(op_http_run(&t.c), 1);
    assert_log_has(&t, "line break");
    t_close(&t);
}

static void test_http_sensor_pokes_until_the_check_holds(void **state)
{
    (void)state;
    NEED_HTTP();
    tctx_t t;
    static const struct {
        const char *args;
        ops_poke_t want;
    } cases[] = {
        {"{'endpoint': 'status/404'}", OPS_POKE_NOT_YET},
        {"{'endpoint': 'status/500'}", OPS_POKE_FAIL},
        {"{'endpoint': 'status/200'}", OPS_POKE_DONE},
        {"{'endpoint': 'status/204', 'response_check': [200]}", OPS_POKE_NOT_YET},
        {"{'endpoint': 'status/404', 'response_check': 404}", OPS_POKE_DONE},
        {"{'endpoint': 'text', 'response_check': 'hello'}", OPS_POKE_DONE},
        {"{'endpoint': 'text', 'response_check': 'bye'}", OPS_POKE_NOT_YET},
        {"{'endpoint': 'echo', 'request_params': {'q': 'ready'}, 'response_check': 'q=ready'}",
         OPS_POKE_DONE},
        {"{'endpoint': 'echo', 'method': 'POST', 'request_params': {'q': 'ready'},"
         " 'response_check': 'q=ready'}",
         OPS_POKE_DONE}, /* a form body: the echo shows it */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        t_open(&t, jparse("%s", cases[i].args), http_conns(NULL));
        ops_poke_t got = op_http_poke(&t.c);
        if (got != cases[i].want)
            fail_msg("case %zu %s: got %d, want %d\n%s", i, cases[i].args, got, cases[i].want,
                     t_log(&t));
        assert_null(pushed()); /* a sensor pushes nothing */
        t_close(&t);
    }

    /* nothing listening: poke again later */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &al), 0);
    close(s);
    t_open(&t, jparse("{'endpoint': 'x'}"),
           jparse("{'http_default': {'conn_type': 'http', 'host': '127.0.0.1', 'port': %d}}",
                  ntohs(a.sin_port)));
    assert_int_equal(op_http_poke(&t.c), OPS_POKE_NOT_YET);
    assert_log_has(&t, "poking again later");
    t_close(&t);
}

/* ---- Postgres ------------------------------------------------------------------ */

static const char *pg_url(void)
{
    const char *u = getenv("UPDRAFT_TEST_PG_URL");
    return u && *u ? u : NULL;
}

#define NEED_PG()                                                                                  \
    do {                                                                                           \
        if (!pg_url())                                                                             \
            skip();                                                                                \
    } while (0)

#define PG_PW "Sql-s3cret-PW"

/* postgres_default (and my_pg) pointing at the test database; a password the server ignores. */
static cJSON *pg_conns(void)
{
    connection_t *conn = NULL;
    char err[256];
    assert_int_equal(connection_parse_uri("pg", pg_url(), &conn, err, sizeof err), 0);
    free(conn->password);
    conn->password = strdup(PG_PW);
    cJSON *j = connection_to_json(conn, true), *all = cJSON_CreateObject();
    cJSON_AddItemToObject(all, "postgres_default", cJSON_Duplicate(j, 1));
    cJSON_AddItemToObject(all, "my_pg", j);
    cJSON_AddItemToObject(all, "not_pg",
                          jparse("{'conn_type': 'mysql', 'host': 'localhost', 'port': 3306}"));
    connection_free(conn);
    return all;
}

static PGconn *pg_direct(void)
{
    PGconn *pg = PQconnectdb(pg_url());
    assert_int_equal(PQstatus(pg), CONNECTION_OK);
    return pg;
}

static void pg_do(PGconn *pg, const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(pg));
    PQclear(r);
}

static char *pg_value(PGconn *pg, const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1)
        fail_msg("%s: %s", sql, PQerrorMessage(pg));
    char *v = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

static int sql_run_json(tctx_t *t, cJSON *args)
{
    t_open(t, args, pg_conns());
    int rc = op_sql_run(&t->c);
    if (getenv("TEST_OPS_VERBOSE"))
        fprintf(stderr, "%s", t_log(t));
    return rc;
}

static void test_sql_parameters_and_result_types(void **state)
{
    (void)state;
    NEED_PG();
    tctx_t t;
    PGconn *pg = pg_direct();
    pg_do(pg, "DROP TABLE IF EXISTS ops_t1; CREATE TABLE ops_t1 (id int, name text, ok boolean,"
              " score float8, amount numeric, doc jsonb, big bigint)");
    PQfinish(pg);

    /* a list of statements: every result; the parameters apply to each statement */
    assert_int_equal(
        sql_run_json(&t, jparse("{'sql': ['INSERT INTO ops_t1 VALUES (%%s, %%s, %%s, %%s, %%s, "
                                "%%s, %%s)', 'SELECT * FROM ops_t1 WHERE id = %%s AND name = %%s"
                                " AND ok = %%s AND score = %%s AND amount = %%s AND doc = %%s"
                                " AND big = %%s'],"
                                " 'parameters': [1, 'a%%b', true, 1.5, 12.25, '{\\'k\\': [1]}',"
                                " 9007199254740993]}")),
        0);
    assert_pushed("[null,[[1,\"a%b\",true,1.5,12.25,{\"k\":[1]},9007199254740992]]]");
    assert_log_has(&t, "parameters: 7 values");
    assert_log_has(&t, "Rows affected: 1");
    assert_log_has(&t, "Committed 2 statements");
    assert_null(strstr(t_log(&t), "a%b")); /* values are not logged */
    assert_null(strstr(t_log(&t), PG_PW));
    t_close(&t);

    /* a statement without placeholders and list parameters: refused, as psycopg2 does */
    assert_int_equal(sql_run_json(&t, jparse("{'sql': 'SELECT 1', 'parameters': [1]}")), 1);
    assert_log_has(&t, "0 %s placeholders but parameters has 1 value");
    t_close(&t);

    /* a mapping, a name used twice, %% a literal %, NULL, and an exact bigint */
    assert_int_equal(
        sql_run_json(&t, jparse("{'conn_id': 'my_pg', 'sql': 'SELECT %%(x)s::int + 1, "
                                "%%(x)s::int * 2, %%(s)s || %%(pct)s, %%(n)s::text, "
                                "9007199254740993::bigint, %%(flag)s',"
                                " 'parameters': {'x': 20, 's': '50', 'pct': '%%%%', 'n': null,"
                                " 'flag': false}}")),
        0);
    assert_pushed("[[21,40,\"50%%\",null,9007199254740993,false]]");
    t_close(&t);

    /* no parameters: % is plain and several commands may share the string */
    assert_int_equal(sql_run_json(&t, jparse("{'sql': 'SELECT 1; SELECT 100 %% 7, %s',"
                                             " 'handler': 'fetch_one_handler'}",
                                             "`%`")),
                     0);
    assert_pushed("[2,\"%\"]");
    t_close(&t);
}

static void test_sql_results_go_to_xcom(void **state)
{
    (void)state;
    NEED_PG();
    tctx_t t;

    assert_int_equal(
        sql_run_json(&t, jparse("{'sql': 'DROP TABLE IF EXISTS ops_t2; CREATE TABLE ops_t2 "
                                "(id int, v text); INSERT INTO ops_t2 VALUES (1, %s), (2, %s)'}",
                                "`$$a;$$`", "`b`")),
        0);
    assert_null(pushed()); /* no result columns: nothing pushed */
    t_close(&t);

    /* fetch_all (default) vs fetch_one */
    assert_int_equal(sql_run_json(&t, jparse("{'sql': 'SELECT id, v FROM ops_t2 ORDER BY id'}")),
                     0);
    assert_pushed("[[1,\"$$a;$$\"],[2,\"b\"]]");
    t_close(&t);
    assert_int_equal(
        sql_run_json(&t, jparse("{'sql': 'SELECT id, v FROM ops_t2 ORDER BY id',"
                                " 'handler': 'airflow.providers.common.sql.hooks.handlers."
                                "fetch_one_handler'}")),
        0);
    assert_pushed("[1,\"$$a;$$\"]");
    t_close(&t);
    assert_int_equal(sql_run_json(&t, jparse("{'sql': 'SELECT id FROM ops_t2 WHERE id < 0',"
                                             " 'handler': 'fetch_one_handler'}")),
                     0);
    assert_null(pushed()); /* no row: None, not pushed */
    t_close(&t);

    /* split_statements: the last result, or each with return_last false */
    assert_int_equal(
        sql_run_json(&t, jparse("{'sql': 'SELECT 1; SELECT %s AS x; UPDATE ops_t2 SET v = v; "
                                "SELECT count(*) FROM ops_t2', 'split_statements': true}",
                                "`;`")),
        0);
    assert_pushed("[[2]]");
    assert_log_has(&t, "Rows affected: 2");
    t_close(&t);
    assert_int_equal(
        sql_run_json(&t, jparse("{'sql': 'SELECT 1; UPDATE ops_t2 SET v = v', 'split_statements':"
                                " true, 'return_last': false}")),
        0);
    assert_pushed("[[[1]],null]");
    t_close(&t);

    /* a result over max(max_xcom_size, 1 MiB) fails the try */
    t_open(&t, jparse("{'sql': 'SELECT repeat(%s, 300000) FROM generate_series(1, 4)'}", "`x`"),
           pg_conns());
    t.c.max_xcom_size = 100;
    assert_int_equal(op_sql_run(&t.c), 1);
    assert_log_has(&t, "larger than 1048576 bytes");
    t_close(&t);
    /* do_xcom_push: false fetches nothing: no limit, nothing pushed */
    t_open(&t, jparse("{'sql': 'SELECT repeat(%s, 300000) FROM generate_series(1, 4)'}", "`x`"),
           pg_conns());
    t.c.max_xcom_size = 100;
    t.c.no_return_value = true;
    assert_int_equal(op_sql_run(&t.c), 0);
    assert_log_has(&t, "Rows affected: 4");
    assert_null(pushed());
    t_close(&t);
}

static void test_sql_failure_rolls_back_the_transaction(void **state)
{
    (void)state;
    NEED_PG();
    tctx_t t;
    PGconn *pg = pg_direct();
    char *v;

    pg_do(pg, "DROP TABLE IF EXISTS ops_t3; CREATE TABLE ops_t3 (id int)");
    /* the second statement fails: the first is rolled back with it */
    assert_int_equal(sql_run_json(&t, jparse("{'sql': ['INSERT INTO ops_t3 VALUES (%%s)',"
                                             " 'INSERT INTO ops_no_such_table VALUES (%%s)'],"
                                             " 'parameters': [10]}")),
                     1);
    assert_log_has(&t, "statement 2 of 2 failed");
    assert_log_has(&t, "ops_no_such_table\" does not exist (SQLSTATE 42P01)");
    assert_log_has(&t, "Rolled back the transaction");
    t_close(&t);
    v = pg_value(pg, "SELECT count(*) FROM ops_t3");
    assert_string_equal(v, "0");
    free(v);

    /* autocommit: what ran before the failure stays */
    assert_int_equal(sql_run_json(&t, jparse("{'sql': ['INSERT INTO ops_t3 VALUES (11)',"
                                             " 'INSERT INTO ops_no_such_table VALUES (1)'],"
                                             " 'autocommit': true}")),
                     1);
    t_close(&t);
    v = pg_value(pg, "SELECT string_agg(id::text, ',') FROM ops_t3");
    assert_string_equal(v, "11");
    free(v);

    /* a placeholder count that does not match fails before anything runs */
    assert_int_equal(sql_run_json(&t, jparse("{'sql': 'INSERT INTO ops_t3 VALUES (%%s)',"
                                             " 'parameters': [1, 2]}")),
                     1);
    assert_log_has(&t, "1 %s placeholder but parameters has 2 values");
    t_close(&t);

    /* only postgres connections */
    assert_int_equal(sql_run_json(&t, jparse("{'conn_id': 'not_pg', 'sql': 'SELECT 1'}")), 1);
    assert_log_has(&t, "the connection 'not_pg' is of type 'mysql': only postgres");
    t_close(&t);

    /* database overrides the connection's schema */
    assert_int_equal(sql_run_json(&t, jparse("{'sql': 'SELECT 1', 'database': 'ops_no_such_db'}")),
                     1);
    assert_log_has(&t, "could not connect with connection 'postgres_default'");
    assert_log_has(&t, "ops_no_such_db");
    assert_null(strstr(t_log(&t), PG_PW));
    t_close(&t);
    PQfinish(pg);
}

static void test_sql_sensor_pokes_until_a_truthy_row(void **state)
{
    (void)state;
    NEED_PG();
    static const struct {
        const char *sql;
        bool fail_on_empty;
        ops_poke_t want;
    } cases[] = {
        {"SELECT 1", false, OPS_POKE_DONE},
        {"SELECT 0", false, OPS_POKE_NOT_YET},
        {"SELECT 0.0::numeric", false, OPS_POKE_NOT_YET},
        {"SELECT 2.5::float8", false, OPS_POKE_DONE},
        {"SELECT NULL::int", false, OPS_POKE_NOT_YET},
        {"SELECT false", false, OPS_POKE_NOT_YET},
        {"SELECT true", false, OPS_POKE_DONE},
        {"SELECT `f`::text", false, OPS_POKE_NOT_YET},
        {"SELECT `0`::text", false, OPS_POKE_NOT_YET},
        {"SELECT ``::text", false, OPS_POKE_NOT_YET},
        {"SELECT `yes`::text, 0", false, OPS_POKE_DONE},
        {"SELECT 1 WHERE false", false, OPS_POKE_NOT_YET},
        {"SELECT 1 WHERE false", true, OPS_POKE_FAIL},
        {"SELECT * FROM ops_sensor_no_such_table", false, OPS_POKE_FAIL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tctx_t t;
        t_open(&t,
               jparse("{'conn_id': 'my_pg', 'sql': '%s', 'fail_on_empty': %s}", cases[i].sql,
                      cases[i].fail_on_empty ? "true" : "false"),
               pg_conns());
        ops_poke_t got = op_sql_poke(&t.c);
        if (got != cases[i].want)
            fail_msg("case %s: got %d, want %d\n%s", cases[i].sql, got, cases[i].want, t_log(&t));
        if (cases[i].fail_on_empty)
            assert_log_has(&t, "No rows returned, raising as per fail_on_empty flag");
        t_close(&t);
    }
    /* parameters apply to the sensor too */
    tctx_t t;
    t_open(&t, jparse("{'conn_id': 'my_pg', 'sql': 'SELECT %%s::int > 3', 'parameters': [5]}"),
           pg_conns());
    assert_int_equal(op_sql_poke(&t.c), OPS_POKE_DONE);
    t_close(&t);
}

/* ---- ExternalTaskSensor ------------------------------------------------------- */

static void ext_fixture(PGconn *pg)
{
    pg_do(pg, "DELETE FROM dag WHERE dag_id = 'ops_ext'");
    pg_do(pg, "INSERT INTO dag (dag_id, fileloc) VALUES ('ops_ext', '/dags/ext.yaml')");
    pg_do(pg, "INSERT INTO dag_version (dag_id, version_number, hash, data, fileloc) VALUES"
              " ('ops_ext', 1, 'h1', '{\"tasks\": {\"a\": {}}}', '/dags/ext.yaml'),"
              " ('ops_ext', 2, 'h2', '{\"tasks\": {\"a\": {}, \"b\": {}, \"m\": {},"
              "   \"g.x\": {\"task_group\": \"g\"}, \"g.y\": {\"task_group\": \"g\"}}}',"
              "  '/dags/ext.yaml')");
    pg_do(pg, "INSERT INTO dag_run (dag_id, run_id, dag_version_id, run_type, state, logical_date)"
              " SELECT 'ops_ext', 'r1', max(id), 'scheduled', 'running', '2024-03-04T00:00:00Z'"
              " FROM dag_version WHERE dag_id = 'ops_ext'");
    pg_do(pg, "INSERT INTO task_instance (dag_run_id, dag_id, run_id, task_id, map_index, state,"
              " operator) SELECT dr.id, 'ops_ext', 'r1', t.id, t.mi, t.st, 'BashOperator'"
              " FROM dag_run dr, (VALUES ('a', -1, 'success'), ('b', -1, 'running'),"
              "   ('m', 0, 'success'), ('m', 1, 'running'), ('g.x', -1, 'success'),"
              "   ('g.y', -1, 'success')) AS t(id, mi, st)"
              " WHERE dr.dag_id = 'ops_ext'");
}

static ops_poke_t ext_poke(tctx_t *t, cJSON *args)
{
    t_open(t, args, NULL);
    t->c.metadata_db = pg_url();
    return op_external_task_poke(&t->c);
}

static void ext_expect(cJSON *args, ops_poke_t want, const char *log_text)
{
    tctx_t t;
    char *a = cJSON_PrintUnformatted(args);
    ops_poke_t got = ext_poke(&t, args);
    if (got != want)
        fail_msg("%s: got %d, want %d\n%s", a, got, want, t_log(&t));
    if (log_text)
        assert_log_has(&t, log_text);
    free(a);
    t_close(&t);
}

static void test_external_task_sensor_watches_the_other_run(void **state)
{
    (void)state;
    NEED_PG();
    PGconn *pg = pg_direct();
    ext_fixture(pg);

    /* the run watched is the one a day (execution_delta) before the logical date */
    ext_expect(jparse("{'external_dag_id': 'ops_ext', 'external_task_id': 'a',"
                      " 'execution_delta': 86400}"),
               OPS_POKE_DONE,
               "Poking for tasks ['a'] in dag ops_ext on 2024-03-04T00:00:00+00:00 ... ");
    ext_expect(jparse("{'external_dag_id': 'ops_ext', 'external_task_id': 'a'}"), OPS_POKE_NOT_YET,
               "on 2024-03-05T00:00:00"); /* no run that day */
    ext_expect(jparse("{'external_dag_id': 'ops_ext', 'external_task_ids': ['a', 'b'],"
                      " 'execution_delta': 86400}"),
               OPS_POKE_NOT_YET, NULL);
    /* a mapped task: every map index must be allowed */
    ext_expect(jparse("{'external_dag_id': 'ops_ext', 'external_task_ids': ['m'],"
                      " 'execution_delta': 86400}"),
               OPS_POKE_NOT_YET, NULL);
    pg_do(pg, "UPDATE task_instance SET state = 'success' WHERE dag_id = 'ops_ext' AND "
              "task_id = 'm'");
    ext_expect(jparse("{'external_dag_id': 'ops_ext', 'external_task_ids': ['m', 'a'],"
                      " 'execution_delta': 86400}"),
               OPS_POKE_DONE, NULL);
    /* a task never created: not done */
    ext_expect(jparse("{'external_dag_id': 'ops_ext', 'external_task_ids': ['a', 'zz'],"
                      " 'execution_delta': 86400}"),
               OPS_POKE_NOT_YET, NULL);
    /* failed and skipped states */
    pg_do(pg, "UPDATE task_instance SET state = 'failed' WHERE dag_id = 'ops_ext' AND "
              "task_id = 'b'");
    ext_expect(jparse("{'external_dag_id': 'ops_ext', 'external_task_ids': ['a', 'b'],"
                      " 'execution_delta': 86400, 'failed_states': ['failed', 'upstream_failed']}"),
               OPS_POKE_FAIL, "Some of the external tasks in DAG ops_ext failed: b.");
    ext_expect(jparse("{'external_dag_id': 'ops_ext', 'external_task_ids': ['a', 'b'],"
                      " 'execution_delta': 86400}"),
               OPS_POKE_NOT_YET, NULL); /* failed_states default to none */
    pg_do(pg, "UPDATE task_instance SET state = 'skipped' WHERE dag_id = 'ops_ext' AND "
              "task_id = 'b'");
    ext_expect(jparse("{'external_dag_id': 'ops_ext', 'external_task_id': 'b',"
                      " 'execution_delta': 86400, 'skipped_states': ['skipped'],"
                      " 'failed_states': ['failed']}"),
               OPS_POKE_SKIP, NULL);
    ext_expect(jparse("{'external_dag_id': 'ops_ext', 'external_task_id': 'b',"
                      " 'execution_delta': 86400, 'allowed_states': ['success', 'skipped']}"),
               OPS_POKE_DONE, NULL);
    /* a task group: the tasks "g." ... */
    ext_expect(jparse("{'external_dag_id': 'ops_ext', 'external_task_group_id': 'g',"
                      " 'execution_delta': 86400}"),
               OPS_POKE_DONE, "Poking for task_group 'g' in dag 'ops_ext'");
    pg_do(pg, "UPDATE task_instance SET state = 'up_for_retry' WHERE dag_id = 'ops_ext' AND "
              "task_id = 'g.y'");
    ext_expect(jparse("{'external_dag_id': 'ops_ext', 'external_task_group_id': 'g',"
                      " 'execution_delta': 86400}"),
               OPS_POKE_NOT_YET, NULL);
    ext_expect(jparse("{'external_dag_id': 'ops_ext', 'external_task_group_id': 'nog',"
                      " 'execution_delta': 86400}"),
               OPS_POKE_NOT_YET, NULL);
    /* the DAG run itself */
    ext_expect(jparse("{'external_dag_id': 'ops_ext', 'execution_delta': 86400}"), OPS_POKE_NOT_YET,
               "Poking for DAG 'ops_ext' on 2024-03-04");
    pg_do(pg, "UPDATE dag_run SET state = 'failed' WHERE dag_id = 'ops_ext'");
    ext_expect(jparse("{'external_dag_id': 'ops_ext', 'execution_delta': 86400,"
                      " 'failed_states': ['failed']}"),
               OPS_POKE_FAIL, "The external DAG ops_ext failed");
    pg_do(pg, "UPDATE dag_run SET state = 'success' WHERE dag_id = 'ops_ext'");
    ext_expect(jparse("{'external_dag_id': 'ops_ext', 'execution_delta': 86400}"), OPS_POKE_DONE,
               NULL);
    /* check_existence: the DAG, the tasks of its latest version, the group */
    ext_expect(jparse("{'external_dag_id': 'ops_nope', 'check_existence': true}"), OPS_POKE_FAIL,
               "The external DAG ops_nope does not exist.");
    ext_expect(jparse("{'external_dag_id': 'ops_nope'}"), OPS_POKE_NOT_YET, NULL);
    ext_expect(jparse("{'external_dag_id': 'ops_ext', 'external_task_ids': ['a', 'zz'],"
                      " 'check_existence': true}"),
               OPS_POKE_FAIL, "The external task zz in DAG ops_ext does not exist.");
    ext_expect(jparse("{'external_dag_id': 'ops_ext', 'external_task_ids': ['b', 'g.x'],"
                      " 'check_existence': true, 'execution_delta': 86400}"),
               OPS_POKE_NOT_YET, NULL); /* b is skipped: not allowed by default */
    ext_expect(jparse("{'external_dag_id': 'ops_ext', 'external_task_group_id': 'nog',"
                      " 'check_existence': true}"),
               OPS_POKE_FAIL, "The external task group 'nog' in DAG ops_ext does not exist.");
    /* arguments Airflow refuses */
    ext_expect(jparse("{'external_dag_id': 'ops_ext', 'external_task_ids': ['a', 'a']}"),
               OPS_POKE_FAIL, "Duplicate task_ids");
    ext_expect(jparse("{'external_dag_id': 'ops_ext', 'failed_states': ['success']}"),
               OPS_POKE_FAIL, "Duplicate values provided across allowed_states and failed_states");
    /* no metadata database: a clear failure */
    tctx_t t;
    t_open(&t, jparse("{'external_dag_id': 'ops_ext'}"), NULL);
    assert_int_equal(op_external_task_poke(&t.c), OPS_POKE_FAIL);
    assert_log_has(&t, "not given the metadata database");
    t_close(&t);
    pg_do(pg, "DELETE FROM dag WHERE dag_id = 'ops_ext'");
    PQfinish(pg);
}

/* ---- FileSensor ----------------------------------------------------------------- */

static char g_dir[64];

static void touch(const char *rel)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", g_dir, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("x\n", f);
    fclose(f);
}

static void mkd(const char *rel)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", g_dir, rel);
    assert_int_equal(mkdir(p, 0755), 0);
}

static ops_poke_t file_poke(const char *pattern, bool recursive, cJSON *conns, tctx_t *t)
{
    t_open(t,
           jparse("{'filepath': '%s', 'recursive': %s%s}", pattern, recursive ? "true" : "false",
                  conns ? ", 'fs_conn_id': 'fs'" : ""),
           conns);
    return op_file_poke(&t->c);
}

static void file_expect(const char *rel, bool recursive, ops_poke_t want)
{
    tctx_t t;
    char p[256];
    snprintf(p, sizeof p, "%s/%s", g_dir, rel);
    ops_poke_t got = file_poke(p, recursive, NULL, &t);
    if (got != want)
        fail_msg("%s (recursive %d): got %d, want %d\n%s", rel, recursive, got, want, t_log(&t));
    t_close(&t);
}

static void test_file_sensor_matches_globs(void **state)
{
    (void)state;
    tctx_t t;
    snprintf(g_dir, sizeof g_dir, "/tmp/test_ops_XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    mkd("d");
    touch("d/a.txt");
    mkd("d/sub");
    mkd("d/sub/deep");
    touch("d/sub/deep/x.csv");
    mkd("d/empty");
    mkd("d/.hidden");
    touch("d/.hidden/y.json");
    mkd("d/onlydirs");
    mkd("d/onlydirs/e");

    file_expect("d/*.txt", false, OPS_POKE_DONE);
    file_expect("d/a.txt", false, OPS_POKE_DONE);
    file_expect("d/*.json", false, OPS_POKE_NOT_YET);
    file_expect("d/empty", false, OPS_POKE_NOT_YET);    /* an empty directory */
    file_expect("d/onlydirs", false, OPS_POKE_NOT_YET); /* only directories below */
    file_expect("d/sub", false, OPS_POKE_DONE);         /* a file somewhere below */
    file_expect("d/s?b", false, OPS_POKE_DONE);
    file_expect("d/**/*.csv", true, OPS_POKE_DONE);     /* across two directories */
    file_expect("d/**/*.csv", false, OPS_POKE_NOT_YET); /* ** is * without recursive */
    file_expect("d/**/a.txt", true, OPS_POKE_DONE);     /* zero directories */
    file_expect("d/**/y.json", true, OPS_POKE_NOT_YET); /* hidden directories are not walked */
    file_expect("d/.hidden/*.json", false, OPS_POKE_DONE);
    file_expect("d/**/deep", true, OPS_POKE_DONE);
    file_expect("d/**/empty", true, OPS_POKE_NOT_YET);
    file_expect("d/**", true, OPS_POKE_DONE);
    file_expect("nope/**/*.csv", true, OPS_POKE_NOT_YET);

    /* fs_conn_id: its extra's path is the base of a relative filepath */
    char extra[256];
    snprintf(extra, sizeof extra, "{\\'path\\': \\'%s/d\\'}", g_dir);
    assert_int_equal(file_poke("sub/deep/*.csv", false,
                               jparse("{'fs': {'conn_type': 'fs', 'extra': '%s'}}", extra), &t),
                     OPS_POKE_DONE);
    assert_log_has(&t, "Found File ");
    assert_log_has(&t, "/d/sub/deep/x.csv last modified: ");
    t_close(&t);
    t_open(&t, jparse("{'filepath': 'x', 'fs_conn_id': 'nope'}"), NULL);
    assert_int_equal(op_file_poke(&t.c), OPS_POKE_FAIL);
    t_close(&t);

    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    assert_int_equal(system(cmd), 0);
}

/* ---- time sensors -------------------------------------------------------------- */

static void test_time_sensors_wait_for_their_moment(void **state)
{
    (void)state;
    tctx_t t;

    /* data_interval_end (2024-03-06) + delta */
    t_open(&t, jparse("{'delta': 3600}"), NULL);
    assert_int_equal(op_time_delta_poke(&t.c), OPS_POKE_DONE);
    assert_log_has(&t, "Checking if the time (2024-03-06T01:00:00");
    t_close(&t);
    t_open(&t, jparse("{'delta': 3153600000}"), NULL); /* a century later */
    assert_int_equal(op_time_delta_poke(&t.c), OPS_POKE_NOT_YET);
    t_close(&t);

    static const struct {
        const char *target;
        ops_poke_t want;
    } cases[] = {
        {"2000-01-01", OPS_POKE_DONE},
        {"2000-01-01T10:00:00", OPS_POKE_DONE},
        {"2999-01-01T00:00:00+02:00", OPS_POKE_NOT_YET},
        {"2999-01-01", OPS_POKE_NOT_YET},
        {"next tuesday", OPS_POKE_FAIL},
        {"", OPS_POKE_FAIL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        t_open(&t, jparse("{'target_time': '%s'}", cases[i].target), NULL);
        ops_poke_t got = op_date_time_poke(&t.c);
        if (got != cases[i].want)
            fail_msg("%s: got %d, want %d\n%s", cases[i].target, got, cases[i].want, t_log(&t));
        if (got == OPS_POKE_FAIL)
            assert_log_has(&t, "is not an ISO 8601 date or datetime");
        t_close(&t);
    }
}

static int group_teardown(void **state)
{
    http_teardown(state);
    cJSON_Delete(g_xcom);
    g_xcom = NULL;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invalid_utf8_is_replaced),
        cmocka_unit_test(test_form_and_url_encoding),
        cmocka_unit_test(test_sql_split_respects_quotes_comments_and_dollar_bodies),
        cmocka_unit_test(test_sql_parameters_bind_by_type),
        cmocka_unit_test(test_http_posts_json_with_auth_and_headers),
        cmocka_unit_test(test_http_sends_forms_text_and_queries),
        cmocka_unit_test(test_http_status_and_response_checks_fail_the_try),
        cmocka_unit_test(test_http_response_limits_and_errors_fail_the_try),
        cmocka_unit_test(test_http_sensor_pokes_until_the_check_holds),
        cmocka_unit_test(test_sql_parameters_and_result_types),
        cmocka_unit_test(test_sql_results_go_to_xcom),
        cmocka_unit_test(test_sql_failure_rolls_back_the_transaction),
        cmocka_unit_test(test_sql_sensor_pokes_until_a_truthy_row),
        cmocka_unit_test(test_external_task_sensor_watches_the_other_run),
        cmocka_unit_test(test_file_sensor_matches_globs),
        cmocka_unit_test(test_time_sensors_wait_for_their_moment),
    };
    return cmocka_run_group_tests(tests, http_setup, group_teardown);
}
