/*
 * test_connections.c - Airflow connection URIs and JSON (parse, percent
 * decoding, extras, host with protocol, errors), get_uri round trips,
 * validation and the environment overrides; what a connection means to
 * its client (an HTTP base URL, libpq keywords).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/connclient.h"
#include "store/connections.h"

static connection_t *parse_ok(const char *uri)
{
    connection_t *c = NULL;
    char err[256] = "";
    if (connection_parse_uri("cid", uri, &c, err, sizeof(err)) != 0)
        fail_msg("parse '%s': %s", uri, err);
    return c;
}

static void assert_str_or_null(const char *got, const char *want)
{
    if (!want)
        assert_null(got);
    else {
        assert_non_null(got);
        assert_string_equal(got, want);
    }
}

static void test_uri_with_every_part_parses(void **state)
{
    (void)state;
    connection_t *c = parse_ok("postgresql://user:pass@host:5432/schema?param=x");
    assert_string_equal(c->conn_id, "cid");
    assert_string_equal(c->conn_type, "postgres");
    assert_string_equal(c->login, "user");
    assert_string_equal(c->password, "pass");
    assert_string_equal(c->host, "host");
    assert_int_equal(c->port, 5432);
    assert_string_equal(c->schema, "schema");
    assert_string_equal(c->extra, "{\"param\":\"x\"}");
    connection_free(c);
}

static void test_uri_percent_encoding_is_decoded(void **state)
{
    (void)state;
    connection_t *c = parse_ok("mysql-conn://us%40er:p%40ss%3Aw%2Frd@My.Host%2Dx:3306/"
                               "my%20db?charset=utf8+mb4&note=a%26b&empty=&flag");
    assert_string_equal(c->conn_type, "mysql_conn");
    assert_string_equal(c->login, "us@er");
    assert_string_equal(c->password, "p@ss:w/rd");
    assert_string_equal(c->host, "my.host-x"); /* urlsplit lower-cases the host */
    assert_int_equal(c->port, 3306);
    assert_string_equal(c->schema, "my db");
    assert_string_equal(c->extra,
                        "{\"charset\":\"utf8 mb4\",\"note\":\"a&b\",\"empty\":\"\",\"flag\":\"\"}");
    connection_free(c);

    /* an invalid escape is kept as written, as Python's unquote does */
    c = parse_ok("http://u:100%zz@h");
    assert_string_equal(c->password, "100%zz");
    connection_free(c);
    /* the last '@' ends the userinfo */
    c = parse_ok("ftp://user:p@ss@host");
    assert_string_equal(c->password, "p@ss");
    assert_string_equal(c->host, "host");
    assert_int_equal(c->port, -1);
    connection_free(c);
}

static void test_uri_query_becomes_extras(void **state)
{
    (void)state;
    connection_t *c = parse_ok("http://h/?a=1&a=2&b=3");
    assert_string_equal(c->extra, "{\"a\":\"2\",\"b\":\"3\"}");
    assert_null(c->schema);
    connection_free(c);
    c = parse_ok("aws://?__extra__=%7B%22region%22%3A+%22eu%22%2C+%22n%22%3A+1%7D");
    assert_string_equal(c->extra, "{\"region\": \"eu\", \"n\": 1}");
    assert_null(c->host);
    assert_null(c->login);
    connection_free(c);
}

static void test_uri_host_may_carry_a_protocol(void **state)
{
    (void)state;
    connection_t *c = parse_ok("http://https://example.com:8443/api");
    assert_string_equal(c->conn_type, "http");
    assert_string_equal(c->host, "https://example.com");
    assert_int_equal(c->port, 8443);
    assert_string_equal(c->schema, "api");
    char *uri = connection_to_uri(c);
    assert_string_equal(uri, "http://https://example.com:8443/api");
    free(uri);
    connection_free(c);
    c = parse_ok("sqlite://");
    assert_string_equal(c->conn_type, "sqlite");
    assert_null(c->host);
    connection_free(c);
    c = parse_ok("http://[::1]:80/x");
    assert_string_equal(c->host, "::1");
    assert_int_equal(c->port, 80);
    connection_free(c);
}

static void test_bad_uris_are_refused(void **state)
{
    (void)state;
    const char *bad[] = {"no scheme here",  "1http://h",     "http://h:99999",
                         "http://h:12ab",   "a://b://c://d", "http://user@x://host",
                         "http://u:p%00@h", "http://h\n",    "http://[::1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        connection_t *c = (connection_t *)1;
        char err[256] = "";
        assert_int_equal(connection_parse_uri("x", bad[i], &c, err, sizeof(err)), -1);
        assert_null(c);
        assert_true(err[0] != '\0');
        /* the message never repeats a password */
        assert_null(strstr(err, "p%00"));
    }
}

static void test_uri_round_trips(void **state)
{
    (void)state;
    const char *uris[] = {
        "postgres://user:p%40ss%20w@db.example:5432/analytics?sslmode=require",
        "http://https://example.com:8443/api",
        "mysql-x://u@h",
        "aws://?__extra__=%7B%22n%22%3A+1%7D",
    };
    for (size_t i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
        connection_t *a = parse_ok(uris[i]), *b;
        char *u = connection_to_uri(a);
        assert_non_null(u);
        b = parse_ok(u);
        assert_str_or_null(b->conn_type, a->conn_type);
        assert_str_or_null(b->login, a->login);
        assert_str_or_null(b->password, a->password);
        assert_str_or_null(b->host, a->host);
        assert_str_or_null(b->schema, a->schema);
        assert_str_or_null(b->extra, a->extra);
        assert_int_equal(b->port, a->port);
        free(u);
        connection_free(a);
        connection_free(b);
    }
}

static void test_json_form_parses(void **state)
{
    (void)state;
    connection_t *c = NULL;
    char err[256];
    assert_int_equal(connection_parse_text("j",
                                           " {\"conn_type\": \"postgresql\", \"host\": \"h\", "
                                           "\"login\": \"l\", \"password\": \"p\", \"port\": "
                                           "\"5432\", \"schema\": \"s\", \"extra\": {\"a\": [1]}, "
                                           "\"description\": \"d\"}",
                                           &c, err, sizeof(err)),
                     0);
    assert_string_equal(c->conn_type, "postgres");
    assert_int_equal(c->port, 5432);
    assert_string_equal(c->extra, "{\"a\":[1]}");
    assert_string_equal(c->description, "d");
    cJSON *j = connection_to_json(c, false);
    assert_null(cJSON_GetObjectItem(j, "password"));
    assert_string_equal(cJSON_GetObjectItem(j, "host")->valuestring, "h");
    cJSON_Delete(j);
    j = connection_to_json(c, true);
    assert_string_equal(cJSON_GetObjectItem(j, "password")->valuestring, "p");
    cJSON_Delete(j);
    connection_free(c);

    const char *bad[] = {"{\"conn_type\": 1}",
                         "{\"port\": \"x1\"}",
                         "{\"port\": 70000}",
                         "{\"nope\": 1}",
                         "{\"uri\": \"http://h\", \"host\": \"x\"}",
                         "{\"extra\": \"{}\", \"extra_dejson\": {}}",
                         "{\"conn_id\": \"other\"}",
                         "{broken"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        c = NULL;
        assert_int_equal(connection_parse_text("j", bad[i], &c, err, sizeof(err)), -1);
        assert_null(c);
    }
    /* uri inside JSON, with a description */
    assert_int_equal(connection_parse_text("j",
                                           "{\"uri\": \"redis://:pw@r:6379/0\", "
                                           "\"description\": \"cache\"}",
                                           &c, err, sizeof(err)),
                     0);
    assert_string_equal(c->password, "pw");
    assert_null(c->login);
    assert_string_equal(c->description, "cache");
    connection_free(c);
}

static void test_validate_refuses_bad_ids_and_types(void **state)
{
    (void)state;
    char err[256];
    connection_t *c = parse_ok("http://h");
    assert_int_equal(connection_validate(c, err, sizeof(err)), 0);
    free(c->conn_id);
    c->conn_id = strdup("bad id!");
    assert_int_equal(connection_validate(c, err, sizeof(err)), -1);
    free(c->conn_id);
    c->conn_id = strdup("ok.id-1_x");
    free(c->conn_type);
    c->conn_type = NULL;
    assert_int_equal(connection_validate(c, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "conn_type"));
    connection_free(c);
}

/* The base URL an HTTP connection's JSON form gives (model/connclient.h). */
static void check_base_url(const char *conn_json, const char *want)
{
    cJSON *conn = cJSON_Parse(conn_json);
    strbuf_t u = {0};
    char *got;

    assert_non_null(conn);
    connclient_http_base_url(conn, &u);
    got = strbuf_take(&u);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
    cJSON_Delete(conn);
}

static void test_http_base_url_is_built_as_httphook_does(void **state)
{
    (void)state;
    check_base_url("{\"host\": \"api.example\"}", "http://api.example");
    check_base_url("{\"host\": \"api.example\", \"schema\": \"https\", \"port\": 8443}",
                   "https://api.example:8443");
    check_base_url("{\"host\": \"api.example\", \"schema\": \"ftp\", \"port\": \"81\"}",
                   "http://api.example:81");
    check_base_url("{\"host\": \"https://api.example\", \"port\": 9000}",
                   "https://api.example:9000");
    check_base_url("{\"host\": \"https://api.example:1/v1\", \"port\": 9000}",
                   "https://api.example:1/v1");
    check_base_url("{}", "http://");
}

/* The value of keyword kw in p, or NULL. */
static const char *pg_value(const connclient_pg_t *p, const char *kw)
{
    for (size_t i = 0; p->kw[i]; i++)
        if (strcmp(p->kw[i], kw) == 0)
            return p->val[i];
    return NULL;
}

static void test_pg_keywords_come_from_fields_and_extra(void **state)
{
    (void)state;
    cJSON *conn =
        cJSON_Parse("{\"host\": \"db\", \"port\": 6543, \"login\": \"u\", \"password\": "
                    "\"pw\", \"schema\": \"app\", \"extra\": \"{\\\"sslmode\\\": \\\"require\\\", "
                    "\\\"connect_timeout\\\": 120, \\\"keepalives\\\": true, \\\"x\\\": 1}\"}");
    connclient_pg_t p;

    assert_non_null(conn);
    assert_int_equal(connclient_pg_params(conn, NULL, 30, 0, &p), 0);
    assert_string_equal(pg_value(&p, "host"), "db");
    assert_string_equal(pg_value(&p, "port"), "6543");
    assert_string_equal(pg_value(&p, "user"), "u");
    assert_string_equal(pg_value(&p, "password"), "pw");
    assert_string_equal(pg_value(&p, "dbname"), "app");
    assert_string_equal(pg_value(&p, "sslmode"), "require");
    assert_string_equal(pg_value(&p, "keepalives"), "1");
    assert_string_equal(pg_value(&p, "connect_timeout"), "120");
    assert_string_equal(pg_value(&p, "application_name"), "updraft");
    assert_null(pg_value(&p, "x")); /* not a libpq setting */
    assert_false(p.bad_extra);
    connclient_pg_free(&p);
    /* a database argument wins over the schema; a cap bounds the extra's timeout */
    assert_int_equal(connclient_pg_params(conn, "other", 30, 10, &p), 0);
    assert_string_equal(pg_value(&p, "dbname"), "other");
    assert_string_equal(pg_value(&p, "connect_timeout"), "10");
    connclient_pg_free(&p);
    cJSON_Delete(conn);

    conn = cJSON_Parse("{\"host\": \"db\", \"extra\": \"not json\"}");
    assert_int_equal(connclient_pg_params(conn, NULL, 30, 0, &p), 0);
    assert_true(p.bad_extra);
    assert_string_equal(pg_value(&p, "connect_timeout"), "30");
    assert_null(pg_value(&p, "port"));
    connclient_pg_free(&p);
    cJSON_Delete(conn);
}

static void test_env_connection_overrides_by_name(void **state)
{
    (void)state;
    connection_t *c = NULL;
    char err[256];
    unsetenv("UPDRAFT_CONN_MY_DB");
    unsetenv("AIRFLOW_CONN_MY_DB");
    assert_int_equal(connections_env_lookup("my_db", &c, err, sizeof(err)), UPDRAFT_ENOTFOUND);
    setenv("AIRFLOW_CONN_MY_DB", "postgresql://a:b@airflow-host/x", 1);
    assert_int_equal(connections_env_lookup("my_db", &c, err, sizeof(err)), 0);
    assert_string_equal(c->host, "airflow-host");
    assert_string_equal(c->conn_id, "my_db");
    connection_free(c);
    setenv("UPDRAFT_CONN_MY_DB", "{\"conn_type\": \"http\", \"host\": \"updraft-host\"}", 1);
    assert_int_equal(connections_env_lookup("my_db", &c, err, sizeof(err)), 0);
    assert_string_equal(c->host, "updraft-host");
    connection_free(c);
    setenv("UPDRAFT_CONN_MY_DB", "http://h:bad", 1);
    assert_int_equal(connections_env_lookup("my_db", &c, err, sizeof(err)), UPDRAFT_EINVALID);
    assert_non_null(strstr(err, "UPDRAFT_CONN_MY_DB"));
    unsetenv("UPDRAFT_CONN_MY_DB");
    unsetenv("AIRFLOW_CONN_MY_DB");
}

/*
 * Pointing a stored connection elsewhere (conn_type, host, port, schema,
 * login) without giving its password again is refused, so that the stored
 * password never reaches a host it was not given for; the same for an
 * extra that holds secrets. Changing anything else, or giving the
 * password (or clearing it), is fine.
 */
static void test_retargeting_a_connection_needs_its_password_again(void **state)
{
    (void)state;
    connection_t *before = parse_ok("postgresql://alice:pw@db.example:5432/analytics");
    char err[512];
    static const char *const retargets[] = {
        "postgresql://alice:pw@127.0.0.1:5432/analytics",    /* host */
        "postgresql://alice:pw@db.example:15432/analytics",  /* port */
        "postgresql://alice:pw@db.example/analytics",        /* port removed */
        "postgresql://alice:pw@db.example:5432/other",       /* schema */
        "postgresql://mallory:pw@db.example:5432/analytics", /* login */
        "mysql://alice:pw@db.example:5432/analytics",        /* conn_type */
    };

    for (size_t i = 0; i < sizeof(retargets) / sizeof(retargets[0]); i++) {
        connection_t *after = parse_ok(retargets[i]);
        assert_true(connection_target_changed(before, after));
        err[0] = '\0';
        assert_int_equal(connection_check_retarget(before, after, false, false, err, sizeof(err)),
                         UPDRAFT_EINVALID);
        assert_non_null(strstr(err, "password"));
        assert_non_null(strstr(err, "'cid'"));
        assert_null(strstr(err, ":pw@")); /* never the password */
        /* given again, or explicitly cleared: fine */
        assert_int_equal(connection_check_retarget(before, after, true, false, err, sizeof(err)),
                         0);
        connection_free(after);
    }

    /* the same target: description, password or extra changes need nothing */
    connection_t *same = parse_ok("postgres://alice:other@DB.example:5432/analytics?x=1");
    free(same->description);
    same->description = strdup("new words");
    assert_false(connection_target_changed(before, same));
    assert_int_equal(connection_check_retarget(before, same, false, false, err, sizeof(err)), 0);
    connection_free(same);

    /* no stored password and no secret in the extra: nothing to protect */
    connection_t *plain = parse_ok("http://api.example/?timeout=5");
    connection_t *moved = parse_ok("http://elsewhere.example/?timeout=5");
    assert_int_equal(connection_check_retarget(plain, moved, false, false, err, sizeof(err)), 0);

    /* an extra with a secret-looking key must be given again too */
    free(plain->extra);
    plain->extra = strdup("{\"headers\": {\"Authorization\": \"Bearer t\"}}");
    err[0] = '\0';
    assert_int_equal(connection_check_retarget(plain, moved, false, false, err, sizeof(err)),
                     UPDRAFT_EINVALID);
    assert_non_null(strstr(err, "extra"));
    assert_null(strstr(err, "Bearer"));
    assert_int_equal(connection_check_retarget(plain, moved, false, true, err, sizeof(err)), 0);
    /* an extra that is not JSON cannot be inspected: the same */
    free(plain->extra);
    plain->extra = strdup("not json");
    assert_int_equal(connection_check_retarget(plain, moved, false, false, err, sizeof(err)),
                     UPDRAFT_EINVALID);
    connection_free(plain);
    connection_free(moved);
    connection_free(before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uri_with_every_part_parses),
        cmocka_unit_test(test_uri_percent_encoding_is_decoded),
        cmocka_unit_test(test_uri_query_becomes_extras),
        cmocka_unit_test(test_uri_host_may_carry_a_protocol),
        cmocka_unit_test(test_bad_uris_are_refused),
        cmocka_unit_test(test_uri_round_trips),
        cmocka_unit_test(test_json_form_parses),
        cmocka_unit_test(test_validate_refuses_bad_ids_and_types),
        cmocka_unit_test(test_env_connection_overrides_by_name),
        cmocka_unit_test(test_http_base_url_is_built_as_httphook_does),
        cmocka_unit_test(test_pg_keywords_come_from_fields_and_extra),
        cmocka_unit_test(test_retargeting_a_connection_needs_its_password_again),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
