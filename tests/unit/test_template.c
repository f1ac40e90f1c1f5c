/*
 * test_template.c - the template engine: every name, filter, call and
 * error, with exact output and messages, against a fake lookup context.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/template.h"

#define JAN1 INT64_C(1704067200000000) /* 2024-01-01T00:00:00Z */
#define DAY INT64_C(86400000000)

typedef struct fake {
    int var_calls, conn_calls, xcom_calls;
    char last_xcom_dag[64];
} fake_t;

static char *dupstr(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int fake_var(void *ud, const char *name, char **value, bool *secret, char *err,
                    size_t errlen)
{
    fake_t *f = ud;
    f->var_calls++;
    static const struct {
        const char *name, *value;
        bool secret;
    } vars[] = {
        {"greeting", "hello", false},
        {"cfg", "{\"db\": {\"host\": \"h\", \"password\": \"pw1\"}, \"n\": 5, \"list\": [1, 2]}",
         false},
        {"db_password", "s3cr3t", false},
        {"marked", "topsecret", true},
        {"notjson", "{oops", false},
        {"dotted.name", "dotted", false},
    };
    if (strcmp(name, "broken") == 0) {
        snprintf(err, errlen, "variable store unavailable");
        return -1;
    }
    for (size_t k = 0; k < sizeof(vars) / sizeof(vars[0]); k++) {
        if (strcmp(vars[k].name, name) == 0) {
            *value = dupstr(vars[k].value);
            *secret = vars[k].secret;
            return 1;
        }
    }
    return 0;
}

static int fake_conn(void *ud, const char *id, template_conn_t *c, char *err, size_t errlen)
{
    fake_t *f = ud;
    (void)err;
    (void)errlen;
    f->conn_calls++;
    if (strcmp(id, "pg") == 0) {
        c->conn_type = dupstr("postgres");
        c->host = dupstr("db.local");
        c->login = dupstr("app_user");
        c->password = dupstr("p@ss");
        c->schema = dupstr("appdb");
        c->extra = dupstr("{\"sslmode\": \"require\", \"api_token\": \"tok123\"}");
        c->port = 5432;
        return 1;
    }
    if (strcmp(id, "bare") == 0) {
        c->host = dupstr("example.com");
        return 1;
    }
    return 0;
}

static int fake_xcom(void *ud, const char *dag, const char *task, const char *key, char **json,
                     char *err, size_t errlen)
{
    fake_t *f = ud;
    (void)err;
    (void)errlen;
    f->xcom_calls++;
    snprintf(f->last_xcom_dag, sizeof(f->last_xcom_dag), "%s", dag ? dag : "(null)");
    if (dag && strcmp(dag, "other") == 0) {
        *json = dupstr("\"from other\"");
        return 1;
    }
    if (strcmp(task, "t") == 0 && strcmp(key, "return_value") == 0)
        *json = dupstr("\"abc\"");
    else if (strcmp(task, "t") == 0 && strcmp(key, "k") == 0)
        *json = dupstr("{\"b\": \"x\", \"a\": [1, 2.5, true, null]}");
    else if (strcmp(task, "n") == 0)
        *json = dupstr("42");
    else if (strcmp(task, "raw") == 0)
        *json = dupstr("not json");
    else
        return 0;
    return 1;
}

static fake_t g_fake; /* reset by setup */

static void ctx_fill(template_ctx_t *ctx)
{
    template_ctx_init(ctx);
    ctx->dag_id = "etl";
    ctx->task_id = "load";
    ctx->task_type = "BashOperator";
    ctx->run_id = "scheduled__2024-01-01T00:00:00+00:00";
    ctx->try_number = 2;
    ctx->logical_date = JAN1;
    ctx->data_interval_start = JAN1;
    ctx->data_interval_end = JAN1 + DAY;
    ctx->prev_data_interval_start_success = JAN1 - DAY;
    ctx->prev_data_interval_end_success = JAN1;
    ctx->params_json = "{\"x\": \"px\", \"n\": 3, \"nested\": {\"k\": [\"a\", \"b\"]}}";
    ctx->conf_json = "{\"who\": \"me\"}";
    ctx->var_get = fake_var;
    ctx->conn_get = fake_conn;
    ctx->xcom_get = fake_xcom;
    ctx->ud = &g_fake;
}

static int setup(void **state)
{
    (void)state;
    memset(&g_fake, 0, sizeof(g_fake));
    return 0;
}

static char g_err[512];

/* Renders with the standard context; returns the text (static copy) or NULL. */
static const char *render_ctx(const template_ctx_t *ctx, const char *src)
{
    static char text[4096];
    template_result_t res;
    if (template_render(src, strlen(src), ctx, &res, g_err, sizeof(g_err)) != 0) {
        assert_null(res.text);
        return NULL;
    }
    snprintf(text, sizeof(text), "%s", res.text);
    template_result_free(&res);
    return text;
}

static const char *render(const char *src)
{
    template_ctx_t ctx;
    ctx_fill(&ctx);
    return render_ctx(&ctx, src);
}

#define OK(src, want)                                                                              \
    do {                                                                                           \
        const char *got_ = render(src);                                                            \
        if (!got_)                                                                                 \
            fail_msg("%s: unexpected error: %s", src, g_err);                                      \
        assert_string_equal(got_, want);                                                           \
    } while (0)

#define ERR(src, msg)                                                                              \
    do {                                                                                           \
        const char *got_ = render(src);                                                            \
        if (got_)                                                                                  \
            fail_msg("%s: rendered '%s', expected error", src, got_);                              \
        assert_string_equal(g_err, msg);                                                           \
    } while (0)

static void test_plain_text_renders_unchanged(void **state)
{
    (void)state;
    OK("", "");
    OK("echo hi\n", "echo hi\n");
    OK("a { b } c }} {", "a { b } c }} {");
    assert_true(template_has_markup("x {{ ds }}", 10));
    assert_true(template_has_markup("{#", 2));
    assert_false(template_has_markup("x { y", 5));
}

static void test_date_names_render_like_airflow(void **state)
{
    (void)state;
    OK("{{ ds }}", "2024-01-01");
    OK("{{ds_nodash}}", "20240101");
    OK("{{ ts }}", "2024-01-01T00:00:00+00:00");
    OK("{{ ts_nodash }}", "20240101T000000");
    OK("{{ ts_nodash_with_tz }}", "20240101T000000+0000");
    OK("{{ logical_date }}", "2024-01-01T00:00:00+00:00");
    OK("{{ execution_date }}", "2024-01-01T00:00:00+00:00");
    OK("{{ data_interval_start }}", "2024-01-01T00:00:00+00:00");
    OK("{{ data_interval_end }}", "2024-01-02T00:00:00+00:00");
    OK("{{ prev_data_interval_start_success }}", "2023-12-31T00:00:00+00:00");
    OK("{{ prev_data_interval_end_success }}", "2024-01-01T00:00:00+00:00");
    OK("{{ dag_run.logical_date }}", "2024-01-01T00:00:00+00:00");
    OK("{{ logical_date.year }}-{{ logical_date.month }}-{{ logical_date.day }}", "2024-1-1");
    OK("{{ data_interval_end.strftime('%d/%m/%Y %H:%M %A %j') }}", "02/01/2024 00:00 Tuesday 002");
    OK("{{ logical_date.strftime('%Y%m%dT%H%M%S.%f%z %Z') }}", "20240101T000000.000000+0000 UTC");
    OK("{{ logical_date.isoformat() }}", "2024-01-01T00:00:00+00:00");
}

static void test_missing_dates_and_microseconds_render(void **state)
{
    (void)state;
    template_ctx_t ctx;
    ctx_fill(&ctx);
    ctx.prev_data_interval_start_success = TS_NONE;
    ctx.logical_date = JAN1 + 1500000; /* 00:00:01.500000 */
    assert_string_equal(render_ctx(&ctx, "{{ prev_data_interval_start_success }}"), "None");
    assert_string_equal(render_ctx(&ctx, "{{ ts }}"), "2024-01-01T00:00:01.500000+00:00");
    assert_string_equal(render_ctx(&ctx, "{{ ts_nodash }}"), "20240101T000001");
    ctx.logical_date = TS_NONE;
    assert_null(render_ctx(&ctx, "x {{ ds }}"));
    assert_string_equal(g_err, "line 1, column 6: 'ds' is undefined");
}

static void test_template_dates_are_computed(void **state)
{
    (void)state;
    template_dates_t d;
    assert_int_equal(template_dates_compute(JAN1 + 3723000001, JAN1, JAN1 + DAY, &d), 0);
    assert_string_equal(d.ds, "2024-01-01");
    assert_string_equal(d.ds_nodash, "20240101");
    assert_string_equal(d.ts, "2024-01-01T01:02:03.000001+00:00");
    assert_string_equal(d.ts_nodash, "20240101T010203");
    assert_string_equal(d.ts_nodash_with_tz, "20240101T010203.000001+0000");
    assert_string_equal(d.logical_date, d.ts);
    assert_string_equal(d.data_interval_start, "2024-01-01T00:00:00+00:00");
    assert_string_equal(d.data_interval_end, "2024-01-02T00:00:00+00:00");
    assert_int_equal(template_dates_compute(0, TS_NONE, TS_NONE, &d), 0);
    assert_string_equal(d.ts, "1970-01-01T00:00:00+00:00");
    assert_string_equal(d.data_interval_start, "None");
    /* before the epoch: floor, not truncation */
    assert_int_equal(template_dates_compute(-1, TS_NONE, TS_NONE, &d), 0);
    assert_string_equal(d.ts, "1969-12-31T23:59:59.999999+00:00");
    assert_int_equal(template_dates_compute(TS_NONE, JAN1, JAN1, &d), -1);
    assert_string_equal(d.ds, "");
    assert_int_equal(template_dates_compute(INT64_C(253402300800000000), TS_NONE, TS_NONE, &d), -1);
}

static void test_run_and_task_names_render(void **state)
{
    (void)state;
    OK("{{ run_id }}", "scheduled__2024-01-01T00:00:00+00:00");
    OK("{{ dag.dag_id }}.{{ task.task_id }}", "etl.load");
    OK("{{ ti.try_number }} {{ task_instance.try_number }}", "2 2");
    OK("{{ ti.task_id }} {{ ti.dag_id }} {{ ti.run_id }} {{ ti.map_index }}",
       "load etl scheduled__2024-01-01T00:00:00+00:00 -1");
    OK("{{ dag_run.run_id }} {{ dag_run.dag_id }}", "scheduled__2024-01-01T00:00:00+00:00 etl");
    OK("{{ dag_run.conf.who }} {{ dag_run.conf['who'] }}", "me me");
    OK("{{ None }} {{ True }} {{ false }} {{ 42 }} {{ -7 }}", "None True False 42 -7");
}

static void test_task_and_dag_print_as_airflow_reprs(void **state)
{
    (void)state;
    OK("The task is {{ task }}", "The task is <Task(BashOperator): load>");
    OK("{{ dag }}", "<DAG: etl>");

    /* a context without the operator's class name cannot print the task */
    template_ctx_t ctx;
    ctx_fill(&ctx);
    ctx.task_type = NULL;
    assert_null(render_ctx(&ctx, "{{ task }}"));
    assert_string_equal(g_err, "line 1, column 4: 'task' is not a value");
}

static void test_params_render(void **state)
{
    (void)state;
    OK("{{ params.x }}", "px");
    OK("{{ params['x'] }}|{{ params[\"n\"] }}", "px|3");
    OK("{{ params.nested.k[1] }} {{ params.nested['k'][-1] }}", "b b");
    OK("{{ params.nested }}", "{'k': ['a', 'b']}");
    OK("{{ params.missing | default('dflt') }}", "dflt");
    ERR("echo {{ params.missing }}", "line 1, column 9: 'params.missing' is undefined");
    ERR("{{ params.nested.k[5] }}", "line 1, column 4: 'params.nested.k[5]' is undefined");

    template_ctx_t ctx;
    ctx_fill(&ctx);
    ctx.params_json = "[1]";
    assert_null(render_ctx(&ctx, "{{ params.x }}"));
    assert_string_equal(g_err, "line 1, column 4: params is not a JSON object");
    ctx.params_json = NULL;
    assert_null(render_ctx(&ctx, "{{ params.x }}"));
    assert_string_equal(g_err, "line 1, column 4: 'params.x' is undefined");
}

static void test_variables_render_with_fallbacks(void **state)
{
    (void)state;
    OK("{{ var.value.greeting }}", "hello");
    OK("{{ var.value['dotted.name'] }}", "dotted");
    OK("{{ var.value.get('dotted.name') }}", "dotted");
    OK("{{ var.value.get('nope', 'fallback') }}", "fallback");
    OK("{{ var.json.cfg.db.host }} {{ var.json.cfg.n }} {{ var.json.cfg.list[1] }}", "h 5 2");
    OK("{{ var.json.get('cfg').n }}", "5");
    OK("{{ var.json.cfg.list }}", "[1, 2]");
    OK("{{ var.value.nope | default('d') }}", "d");
    ERR("{{ var.value.nope }}", "line 1, column 4: 'var.value.nope' is undefined");
    ERR("{{ var.value.get('nope') }}", "line 1, column 18: variable 'nope' does not exist");
    ERR("{{ var.json.notjson.a }}", "line 1, column 4: variable 'notjson' is not valid JSON");
    ERR("{{ var.value.broken }}", "line 1, column 4: variable store unavailable");
    ERR("{{ var.value }}", "line 1, column 4: 'var.value' is not a value");
    ERR("{{ var.nothing.x }}", "line 1, column 4: 'var.nothing.x' is undefined");
}

static void test_variables_are_looked_up_once(void **state)
{
    (void)state;
    OK("{{ var.value.greeting }}{{ var.value.greeting }}{{ var.json.cfg.n }}{{ var.json.cfg.n }}",
       "hellohello55");
    assert_int_equal(g_fake.var_calls, 2);
}

static void test_connection_fields_render(void **state)
{
    (void)state;
    OK("{{ conn.pg.host }}:{{ conn.pg.port }}", "db.local:5432");
    OK("{{ conn.pg.login }} {{ conn.pg.password }} {{ conn.pg.schema }} {{ conn.pg.conn_type }}",
       "app_user p@ss appdb postgres");
    OK("{{ conn.pg.conn_id }} {{ conn['pg'].host }}", "pg db.local");
    OK("{{ conn.pg.extra_dejson.sslmode }}", "require");
    OK("{{ conn.pg.extra_dejson['api_token'] }}", "tok123");
    OK("{{ conn.bare.port }} {{ conn.bare.password }} {{ conn.bare.extra_dejson.x | d('-') }}",
       "None None -");
    OK("{{ conn.nope.host | default('none') }}", "none");
    ERR("{{ conn.nope.host }}", "line 1, column 4: 'conn.nope.host' is undefined");
    ERR("{{ conn.pg.nothing }}", "line 1, column 4: 'conn.pg.nothing' is undefined");
    g_fake.conn_calls = 0;
    OK("{{ conn.pg.host }}{{ conn.pg.port }}{{ conn.nope.host | d('') }}{{ conn.nope.port | d('') "
       "}}",
       "db.local5432");
    assert_int_equal(g_fake.conn_calls, 2);
}

static void test_xcom_pull_renders(void **state)
{
    (void)state;
    OK("{{ ti.xcom_pull(task_ids='t') }}", "abc");
    OK("{{ ti.xcom_pull(task_ids=\"t\", key=\"return_value\") }}", "abc");
    OK("{{ task_instance.xcom_pull('t') }}", "abc");
    OK("{{ ti.xcom_pull('t', key='k') }}", "{'b': 'x', 'a': [1, 2.5, True, None]}");
    OK("{{ ti.xcom_pull('t', key='k').a[1] }} {{ ti.xcom_pull('t', key='k')['b'] }}", "2.5 x");
    OK("{{ ti.xcom_pull('n') }}", "42");
    OK("{{ ti.xcom_pull('raw') }}", "not json");
    OK("{{ ti.xcom_pull('missing') }}", "None");
    OK("{{ ti.xcom_pull('missing', default='dv') }}", "dv");
    OK("{{ ti.xcom_pull('t', 'other') }}", "from other");
    assert_string_equal(g_fake.last_xcom_dag, "other");
    OK("{{ ti.xcom_pull(dag_id=None, task_ids='t', include_prior_dates=False) }}", "abc");
    assert_string_equal(g_fake.last_xcom_dag, "(null)");
    ERR("{{ ti.xcom_pull() }}", "line 1, column 4: ti.xcom_pull(): task_ids is required");
    ERR("{{ ti.xcom_pull(task='t') }}",
        "line 1, column 22: ti.xcom_pull() got an unexpected keyword argument 'task'");
    ERR("{{ ti.xcom_pull('t', task_ids='t') }}",
        "line 1, column 31: ti.xcom_pull() got multiple values for argument 'task_ids'");
    ERR("{{ ti.xcom_pull(key='k', 't') }}",
        "line 1, column 26: positional argument follows keyword argument");
    ERR("{{ ti.xcom_pull(5) }}", "line 1, column 17: task_ids must be a string");
    ERR("{{ ti.xcom_pull('t', include_prior_dates=True) }}",
        "line 1, column 42: ti.xcom_pull(): include_prior_dates is not supported");
    ERR("{{ ti.xcom_pull(nope) }}", "line 1, column 17: 'nope' is undefined");
}

static void test_xcom_is_pulled_once(void **state)
{
    (void)state;
    OK("{{ ti.xcom_pull('t') }}{{ ti.xcom_pull(task_ids='t') }}{{ ti.xcom_pull('t', key='k').b }}",
       "abcabcx");
    assert_int_equal(g_fake.xcom_calls, 2);
}

static void test_macros_compute_like_airflow(void **state)
{
    (void)state;
    OK("{{ macros.ds_add(ds, 5) }}", "2024-01-06");
    OK("{{ macros.ds_add(ds, -1) }}", "2023-12-31");
    OK("{{ macros.ds_add('2024-02-28', 1) }} {{ macros.ds_add('2023-02-28', days=1) }}",
       "2024-02-29 2023-03-01");
    OK("{{ macros.ds_add(ds=ds, days=366) }}", "2025-01-01");
    OK("{{ macros.ds_format(ds, '%Y-%m-%d', '%d/%m/%Y') }}", "01/01/2024");
    OK("{{ macros.ds_format('20240315', \"%Y%m%d\", \"%Y-%m-%d\") }}", "2024-03-15");
    OK("{{ macros.ds_format(ds_nodash, '%Y%m%d', '%b %-d, %Y') }}", "Jan 1, 2024");
    OK("{{ macros.ds_add(params.nested.k[9] | default(ds), 1) }}", "2024-01-02");
    ERR("{{ macros.ds_add('2024-02-30', 1) }}",
        "line 1, column 18: time data '2024-02-30': date value out of range");
    ERR("{{ macros.ds_add('01/01/2024', 1) }}",
        "line 1, column 18: time data '01/01/2024' does not match format '%Y-%m-%d'");
    ERR("{{ macros.ds_add('2024-01-01x', 1) }}", "line 1, column 18: unconverted data remains: x");
    ERR("{{ macros.ds_add(ds) }}",
        "line 1, column 4: macros.ds_add() missing required argument 'days'");
    ERR("{{ macros.ds_add(ds, 'x') }}",
        "line 1, column 22: macros.ds_add(): days must be an integer");
    ERR("{{ macros.ds_add(ds, 1, 2) }}",
        "line 1, column 25: macros.ds_add() takes at most 2 positional arguments");
    ERR("{{ macros.ds_add('9999-12-31', 1) }}",
        "line 1, column 32: macros.ds_add(): date value out of range");
    ERR("{{ macros.ds_format(ds, '%Y') }}",
        "line 1, column 4: macros.ds_format() missing required argument 'output_format'");
    ERR("{{ macros.ds_add }}", "line 1, column 4: 'macros.ds_add' is not a value");
    ERR("{{ macros.eval('1') }}", "line 1, column 4: 'macros.eval' is undefined");
    ERR("{{ ds(1) }}", "line 1, column 4: 'ds' is not callable");
}

static void test_filters_apply(void **state)
{
    (void)state;
    OK("{{ nope | default('y') }}", "y");
    OK("{{ nope | default(\"y\") }}", "y");
    OK("{{ nope | d('y') }}", "y");
    OK("{{ nope | default }}", "");
    OK("{{ ds | default('y') }}", "2024-01-01");
    OK("{{ '' | default('y') }}|{{ '' | default('y', true) }}", "|y");
    OK("{{ None | default('y') }}|{{ None | default('y', boolean=True) }}", "None|y");
    OK("{{ 'MiXed' | upper }} {{ 'MiXed' | lower }}", "MIXED mixed");
    OK("{{ ds | replace('-', '/') }}", "2024/01/01");
    OK("{{ 'aaa' | replace('a', 'b', 2) }} {{ 'ab' | replace('', '-') }}", "bba -a-b-");
    OK("{{ '  x y \n' | trim }}|{{ 'xxhixx' | trim('x') }}", "x y|hi");
    OK("{{ '42' | int }} {{ ' 7 ' | int }} {{ '3.9' | int }} {{ 'zz' | int }} {{ 'zz' | int(5) }}",
       "42 7 3 0 5");
    OK("{{ 'ff' | int(base=16) }} {{ None | int }} {{ params.n | int }}", "255 0 3");
    OK("{{ ds | tojson }} {{ 5 | tojson }} {{ None | tojson }} {{ True | tojson }}",
       "\"2024-01-01\" 5 null true");
    OK("{{ params.nested | tojson }}", "{\"k\": [\"a\", \"b\"]}");
    OK("{{ ti.xcom_pull('t', key='k') | tojson }}", "{\"a\": [1, 2.5, true, null], \"b\": \"x\"}");
    OK("{{ \"<a href='x'>&\" | tojson }}", "\"\\u003ca href=\\u0027x\\u0027\\u003e\\u0026\"");
    OK("{{ 'caf\xc3\xa9 \xf0\x9f\x98\x80\n' | tojson }}", "\"caf\\u00e9 \\ud83d\\ude00\\n\"");
    OK("{{ nope | default('a-b') | replace('-', '_') | upper }}", "A_B");
    OK("{{ ds_nodash ~ '_' ~ ti.try_number }}", "20240101_2");
    OK("{{ ('x' ~ ds) | upper }}", "X2024-01-01");
    ERR("{{ ds | shout }}", "line 1, column 9: no filter named 'shout'");
    ERR("{{ nope | upper }}", "line 1, column 4: 'nope' is undefined");
    ERR("{{ ds | replace('-') }}",
        "line 1, column 9: filter 'replace' missing required argument 'new'");
    ERR("{{ ds | upper(1) }}",
        "line 1, column 15: filter 'upper' takes at most 0 positional arguments");
    ERR("{{ ds | }}", "line 1, column 9: expected a filter name after '|', found '}}'");
}

static void test_literals_render(void **state)
{
    (void)state;
    OK("{{ 'it\\'s' }} {{ \"say \\\"hi\\\"\" }} {{ 'a\\tb' }} {{ 'c:\\d' }}",
       "it's say \"hi\" a\tb c:\\d");
    OK("{{ 1_000 }}", "1000");
    ERR("{{ ['k'] }}", "line 1, column 4: expected a value, found '['");
}

static void test_whitespace_control_and_comments(void **state)
{
    (void)state;
    OK("a  {{- ds -}}  \n b", "a2024-01-01b");
    OK("a {{ ds -}}\n\n b", "a 2024-01-01b");
    OK("a \n{{- ds }} b", "a2024-01-01 b");
    OK("x{# a comment {{ nope }} #}y", "xy");
    OK("x  {#- c -#}  y", "xy");
    OK("{% raw %}{{ not rendered }}{% endraw %}", "{{ not rendered }}");
    OK("a {%- raw -%} {{ x }} {%- endraw -%} b", "a{{ x }}b");
    OK("{%raw%}{% if %}{%endraw%}", "{% if %}");
}

static void test_errors_are_reported_with_line_and_column(void **state)
{
    (void)state;
    ERR("ok\n  {{ ds_nodsh }}", "line 2, column 6: 'ds_nodsh' is undefined");
    ERR("echo {{ ds_nodsh }}", "line 1, column 9: 'ds_nodsh' is undefined");
    ERR("{% if x %}y{% endif %}",
        "line 1, column 1: '{% if %}' is not supported: templates run no statements");
    ERR("a {% for i in range(3) %}",
        "line 1, column 3: '{% for %}' is not supported: templates run no statements");
    ERR("{% raw %} never closed", "line 1, column 1: '{% raw %}' without '{% endraw %}'");
    ERR("{{ ds ", "line 1, column 1: unexpected end of template, expected '}}'");
    ERR("{{ ds }", "line 1, column 7: unexpected '}'");
    ERR("{{ }}", "line 1, column 1: empty expression");
    ERR("{{ 'abc }}", "line 1, column 4: unterminated string literal");
    ERR("{# never closed", "line 1, column 1: unterminated comment");
    ERR("{{ ds ds }}", "line 1, column 7: expected '}}', found name");
    ERR("{{ 1.5 }}", "line 1, column 4: floating-point numbers are not supported");
    ERR("{{ ds == ds }}", "line 1, column 7: comparisons are not supported");
    ERR("{{ ds + 1 }}", "line 1, column 7: unexpected '+'");
    ERR("{{ -ds }}", "line 1, column 4: '-' is only supported before an integer");
    ERR("{{ 99999999999999999999 }}", "line 1, column 4: integer literal is too large");
    ERR("{{ params. }}", "line 1, column 12: expected a name after '.', found '}}'");
    ERR("{{ params['x' }}", "line 1, column 15: expected ']', found '}}'");
    ERR("{{ macros.ds_add(ds 1) }}", "line 1, column 21: expected ',' or ')', found integer");
    ERR("{{ __import__('os').system('id') }}", "line 1, column 4: '__import__' is undefined");
    ERR("{{ ds.__class__ }}", "line 1, column 4: 'ds.__class__' is undefined");
    ERR("{{ ti }}", "line 1, column 4: 'ti' is not a value");
    ERR("{{ ti.xcom_pull }}", "line 1, column 4: 'ti.xcom_pull' is not a value");
    ERR("{{ 'x'.upper() }}", "line 1, column 4: ''x'.upper' is undefined");
}

static void test_input_and_output_size_limits_hold(void **state)
{
    (void)state;
    template_ctx_t ctx;
    template_result_t res;
    ctx_fill(&ctx);

    ctx.max_input = 8;
    assert_int_equal(template_render("123456789", 9, &ctx, &res, g_err, sizeof(g_err)), -1);
    assert_string_equal(g_err, "template is larger than 8 bytes");
    assert_null(res.text);

    ctx.max_input = 0;
    ctx.max_output = 16;
    assert_string_equal(render_ctx(&ctx, "{{ ds }}"), "2024-01-01");
    assert_null(render_ctx(&ctx, "{{ ds }}{{ ds }}"));
    assert_string_equal(g_err, "line 1, column 12: rendered text is larger than 16 bytes");
    assert_null(render_ctx(&ctx, "{{ ds | replace('-', '------') }}"));
    assert_string_equal(g_err, "line 1, column 9: value is larger than 16 bytes");

    /* many small filters: the work budget stops them */
    ctx.max_output = 64;
    char big[8192] = "{{ 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'";
    size_t n = strlen(big);
    for (int k = 0; k < 400; k++)
        n += (size_t)snprintf(big + n, sizeof(big) - n, "|upper");
    snprintf(big + n, sizeof(big) - n, " }}");
    assert_null(render_ctx(&ctx, big));
    assert_non_null(strstr(g_err, "template needs more than 1024 bytes of work to render"));

    /* nesting */
    ctx.max_output = 0;
    n = (size_t)snprintf(big, sizeof(big), "{{ ");
    for (int k = 0; k < 40; k++)
        n += (size_t)snprintf(big + n, sizeof(big) - n, "(");
    n += (size_t)snprintf(big + n, sizeof(big) - n, "1");
    for (int k = 0; k < 40; k++)
        n += (size_t)snprintf(big + n, sizeof(big) - n, ")");
    snprintf(big + n, sizeof(big) - n, " }}");
    assert_null(render_ctx(&ctx, big));
    assert_string_equal(g_err, "line 1, column 36: expression nested more than 32 deep");
    assert_string_equal(render_ctx(&ctx, "{{ ((((ds)))) }}"), "2024-01-01");
}

static void test_lookup_count_is_limited(void **state)
{
    (void)state;
    char big[16384];
    size_t n = 0;
    for (int k = 0; k <= TEMPLATE_MAX_LOOKUPS; k++)
        n += (size_t)snprintf(big + n, sizeof(big) - n, "{{ var.value.v%d | d('') }}", k);
    assert_null(render(big));
    assert_non_null(strstr(g_err, "more than 256 variable, connection and XCom lookups"));
    assert_int_equal(g_fake.var_calls, TEMPLATE_MAX_LOOKUPS);
}

static bool has_secret(const template_result_t *res, const char *s)
{
    for (size_t k = 0; k < res->nsecrets; k++)
        if (strcmp(res->secrets[k], s) == 0)
            return true;
    return false;
}

static void test_secret_values_are_collected_for_masking(void **state)
{
    (void)state;
    template_ctx_t ctx;
    template_result_t res;
    const char *src =
        "{{ conn.pg.password | upper }} {{ var.value.marked }} {{ var.value.db_password }} "
        "{{ var.json.cfg.db.password }} {{ var.json.cfg.db.host }} "
        "{{ conn.pg.extra_dejson.api_token }} {{ var.value.greeting }}";
    ctx_fill(&ctx);
    assert_int_equal(template_render(src, strlen(src), &ctx, &res, g_err, sizeof(g_err)), 0);
    assert_string_equal(res.text, "P@SS topsecret s3cr3t pw1 h tok123 hello");
    assert_true(has_secret(&res, "p@ss"));
    assert_true(has_secret(&res, "P@SS"));
    assert_true(has_secret(&res, "topsecret"));
    assert_true(has_secret(&res, "s3cr3t"));
    assert_true(has_secret(&res, "pw1"));
    assert_true(has_secret(&res, "tok123"));
    assert_true(has_secret(&res, "{\"sslmode\": \"require\", \"api_token\": \"tok123\"}"));
    assert_false(has_secret(&res, "h"));
    assert_false(has_secret(&res, "hello"));
    assert_false(has_secret(&res, "db.local"));
    size_t count = res.nsecrets;
    template_result_free(&res);
    assert_int_equal(count, 7);
    assert_null(res.secrets);

    /* fetched but not printed: still reported */
    const char *src2 = "{{ var.value.marked | replace('t', '') | d('') | trim }}";
    assert_int_equal(template_render(src2, strlen(src2), &ctx, &res, g_err, sizeof(g_err)), 0);
    assert_true(has_secret(&res, "topsecret"));
    assert_true(has_secret(&res, "opsecre"));
    template_result_free(&res);
    template_result_free(NULL);

    /* distinct secret values are bounded */
    static char many[64 * 1024];
    size_t n = 0;
    for (int k = 0; k <= TEMPLATE_MAX_SECRETS; k++)
        n += (size_t)snprintf(many + n, sizeof(many) - n, "{{ conn.pg.password ~ %d }}", k);
    assert_int_equal(template_render(many, n, &ctx, &res, g_err, sizeof(g_err)), -1);
    assert_non_null(strstr(g_err, "more than 1024 distinct secret values"));
}

/* text with every occurrence of each of res's secrets replaced by "***", as the log does. */
static char *masked_text(const template_result_t *res)
{
    char *t = strdup(res->text);
    assert_non_null(t);
    for (size_t k = 0; k < res->nsecrets; k++) {
        const char *sec = res->secrets[k];
        size_t sl = strlen(sec);
        char *at;
        if (sl < 3) /* as the log: shorter values are not masked */
            continue;
        while ((at = strstr(t, sec)) != NULL) {
            memcpy(at, "***", 3);
            memmove(at + 3, at + sl, strlen(at + sl) + 1);
        }
    }
    return t;
}

/*
 * Values under a secret-looking key, at any depth of var.json values,
 * extra_dejson, params and dag_run.conf, are collected when the whole
 * document is printed (repr or tojson, escapes included) or reached by
 * attribute, so the log never shows them.
 */
static void test_nested_secrets_are_masked_at_any_depth(void **state)
{
    (void)state;
    template_ctx_t ctx;
    template_result_t res;
    static const char *const srcs[] = {
        "{{ var.json.cfg }}",
        "{{ var.json.cfg | tojson }}",
        "{{ var.json.cfg.db }}",
        "{{ conn.pg.extra_dejson | tojson }}",
        "{{ conn.pg.extra_dejson }}",
        "{{ params }}",
        "{{ params | tojson }}",
        "{{ params.api_token }}",
        "{{ params.deep[0] }}",
        "{{ params.deep | tojson }}",
        "{{ dag_run.conf }}",
        "{{ dag_run.conf.db.passwd }}",
        "{{ dag_run.conf | tojson | upper | lower }}",
    };
    static const char *const hidden[] = {"pw1",        "tok123", "pt-",    "q\\u0027", "cs<1>",
                                         "cs\\u003c1", "cpw-7",  "kv-one", "kv-two"};
    ctx_fill(&ctx);
    ctx.params_json = "{\"x\": \"px\", \"api_token\": \"pt-'q\\\"9\", \"deep\": "
                      "[{\"client_secret\": \"cs<1>\", \"n\": 1}], \"private_key\": {\"kv\": "
                      "[\"kv-one\", {\"x\": \"kv-two\"}]}}";
    ctx.conf_json = "{\"who\": \"me\", \"db\": {\"passwd\": \"cpw-7\"}}";
    for (size_t i = 0; i < sizeof(srcs) / sizeof(srcs[0]); i++) {
        if (template_render(srcs[i], strlen(srcs[i]), &ctx, &res, g_err, sizeof(g_err)) != 0)
            fail_msg("%s: %s", srcs[i], g_err);
        char *m = masked_text(&res);
        for (size_t h = 0; h < sizeof(hidden) / sizeof(hidden[0]); h++)
            if (strstr(m, hidden[h]))
                fail_msg("%s printed '%s', masked '%s': '%s' shows", srcs[i], res.text, m,
                         hidden[h]);
        free(m);
        template_result_free(&res);
    }
    /* what is not under a secret-looking key stays readable */
    const char *src = "{{ params }} {{ var.json.cfg }}";
    assert_int_equal(template_render(src, strlen(src), &ctx, &res, g_err, sizeof(g_err)), 0);
    char *m = masked_text(&res);
    assert_non_null(strstr(m, "'x': 'px'"));
    assert_non_null(strstr(m, "'host': 'h'"));
    assert_non_null(strstr(m, "'n': 1"));
    free(m);
    template_result_free(&res);
}

static void test_render_string_returns_the_text(void **state)
{
    (void)state;
    template_ctx_t ctx;
    char *out = NULL;
    ctx_fill(&ctx);
    assert_int_equal(template_render_string("d={{ ds }}", &ctx, &out, g_err, sizeof(g_err)), 0);
    assert_string_equal(out, "d=2024-01-01");
    free(out);
    assert_int_equal(template_render_string("{{ x }}", &ctx, &out, g_err, sizeof(g_err)), -1);
    assert_null(out);
    assert_string_equal(g_err, "line 1, column 4: 'x' is undefined");
    /* a tiny error buffer is still terminated */
    char small[8];
    assert_int_equal(template_render_string("{{ x }}", &ctx, &out, small, sizeof(small)), -1);
    assert_string_equal(small, "line 1,");
}

static void test_without_callbacks_only_context_values_render(void **state)
{
    (void)state;
    template_ctx_t ctx;
    template_ctx_init(&ctx);
    assert_string_equal(render_ctx(&ctx, "{{ params.a | d('p') }} {{ ti.try_number }}"), "p 1");
    assert_null(render_ctx(&ctx, "{{ var.value.x }}"));
    assert_string_equal(g_err, "line 1, column 4: 'var.value.x' is undefined");
    assert_null(render_ctx(&ctx, "{{ run_id }}"));
    assert_string_equal(g_err, "line 1, column 4: 'run_id' is undefined");
    assert_string_equal(render_ctx(&ctx, "{{ ti.xcom_pull('t') }}"), "None");
}

static void test_values_render_as_python_repr(void **state)
{
    (void)state;
    template_ctx_t ctx;
    ctx_fill(&ctx);
    ctx.params_json =
        "{\"f\": 0.1, \"g\": 1e20, \"h\": 1.5e-7, \"q\": \"it's\", \"l\": [\"a\\nb\", "
        "false], \"big\": 123456789012}";
    assert_string_equal(render_ctx(&ctx, "{{ params.f }} {{ params.g }} {{ params.h }}"),
                        "0.1 1e+20 1.5e-07");
    assert_string_equal(render_ctx(&ctx, "{{ params.q }} {{ params.l }} {{ params.big }}"),
                        "it's ['a\\nb', False] 123456789012");
    assert_string_equal(render_ctx(&ctx, "{{ params }}"),
                        "{'f': 0.1, 'g': 1e+20, 'h': 1.5e-07, 'q': \"it's\", 'l': ['a\\nb', "
                        "False], 'big': 123456789012}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_plain_text_renders_unchanged, setup),
        cmocka_unit_test_setup(test_date_names_render_like_airflow, setup),
        cmocka_unit_test_setup(test_missing_dates_and_microseconds_render, setup),
        cmocka_unit_test_setup(test_template_dates_are_computed, setup),
        cmocka_unit_test_setup(test_run_and_task_names_render, setup),
        cmocka_unit_test_setup(test_task_and_dag_print_as_airflow_reprs, setup),
        cmocka_unit_test_setup(test_params_render, setup),
        cmocka_unit_test_setup(test_variables_render_with_fallbacks, setup),
        cmocka_unit_test_setup(test_variables_are_looked_up_once, setup),
        cmocka_unit_test_setup(test_connection_fields_render, setup),
        cmocka_unit_test_setup(test_xcom_pull_renders, setup),
        cmocka_unit_test_setup(test_xcom_is_pulled_once, setup),
        cmocka_unit_test_setup(test_macros_compute_like_airflow, setup),
        cmocka_unit_test_setup(test_filters_apply, setup),
        cmocka_unit_test_setup(test_literals_render, setup),
        cmocka_unit_test_setup(test_whitespace_control_and_comments, setup),
        cmocka_unit_test_setup(test_errors_are_reported_with_line_and_column, setup),
        cmocka_unit_test_setup(test_input_and_output_size_limits_hold, setup),
        cmocka_unit_test_setup(test_lookup_count_is_limited, setup),
        cmocka_unit_test_setup(test_secret_values_are_collected_for_masking, setup),
        cmocka_unit_test_setup(test_nested_secrets_are_masked_at_any_depth, setup),
        cmocka_unit_test_setup(test_render_string_returns_the_text, setup),
        cmocka_unit_test_setup(test_without_callbacks_only_context_values_render, setup),
        cmocka_unit_test_setup(test_values_render_as_python_repr, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
