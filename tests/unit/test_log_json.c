/*
 * test_log_json.c - logging.format json: the conversion of a logfmt event
 * into one JSON object (core/log.h log_json_line), and log_write's lines
 * in that format. Every line made here is parsed back with cJSON.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/utf8.h"

#define TS "2026-01-02T03:04:05.678Z"

/* One line: ends with its only '\n', valid UTF-8, and one JSON object. */
static cJSON *parse_line(const char *out, size_t n)
{
    assert_true(n > 2);
    assert_int_equal(strlen(out), n);
    assert_int_equal(out[n - 1], '\n');
    assert_null(memchr(out, '\n', n - 1));
    assert_true(utf8_valid(out, n));
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(out, n - 1, &end, 0);
    if (!j)
        fail_msg("not JSON: %s", out);
    assert_true(cJSON_IsObject(j));
    assert_ptr_equal(end, out + n - 1);
    return j;
}

static cJSON *convert_cap(const char *text, size_t len, bool cut, size_t cap)
{
    static char out[16384];
    assert_true(cap <= sizeof(out));
    size_t n = log_json_line(out, cap, TS, "info", "worker", text, len, cut);
    assert_true(n < cap);
    return parse_line(out, n);
}

static cJSON *convert(const char *text)
{
    return convert_cap(text, strlen(text), false, 8192);
}

static const char *str(const cJSON *j, const char *name)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, name);
    if (!m)
        return NULL;
    assert_true(cJSON_IsString(m));
    return m->valuestring;
}

static int members(const cJSON *j)
{
    return cJSON_GetArraySize(j);
}

static void test_fields_become_members(void **state)
{
    (void)state;
    cJSON *j = convert("try started ti=42 try_number=1 dag_id=etl task_id=load "
                       "run_id=manual__2026-01-01T00:00:00+00:00 map_index=-1 pid=77");
    assert_string_equal(str(j, "timestamp"), TS);
    assert_string_equal(str(j, "level"), "info");
    assert_string_equal(str(j, "component"), "worker");
    assert_string_equal(str(j, "message"), "try started");
    assert_string_equal(str(j, "ti"), "42");
    assert_string_equal(str(j, "try_number"), "1"); /* numbers stay strings */
    assert_string_equal(str(j, "dag_id"), "etl");
    assert_string_equal(str(j, "task_id"), "load");
    assert_string_equal(str(j, "run_id"), "manual__2026-01-01T00:00:00+00:00");
    assert_string_equal(str(j, "map_index"), "-1");
    assert_string_equal(str(j, "pid"), "77");
    assert_int_equal(members(j), 11);
    assert_null(cJSON_GetObjectItemCaseSensitive(j, "truncated"));
    cJSON_Delete(j);

    j = convert("a=1");
    assert_string_equal(str(j, "message"), "");
    assert_string_equal(str(j, "a"), "1");
    cJSON_Delete(j);

    j = convert("");
    assert_string_equal(str(j, "message"), "");
    assert_int_equal(members(j), 4);
    cJSON_Delete(j);

    /* = inside the message is text until a word starts with key= */
    j = convert("  a b=c=d  e=1  ");
    assert_string_equal(str(j, "message"), "a");
    assert_string_equal(str(j, "b"), "c=d");
    assert_string_equal(str(j, "e"), "1");
    cJSON_Delete(j);

    j = convert("1x=2 ok x.y_z=3 -a=4");
    assert_string_equal(str(j, "message"), "1x=2 ok -a=4"); /* not keys: text */
    assert_string_equal(str(j, "x.y_z"), "3");
    cJSON_Delete(j);
}

static void test_quoted_values(void **state)
{
    (void)state;
    cJSON *j = convert("query failed statement=claim sqlstate=42P01 "
                       "error=\"relation \"task_instance\" does not exist\" retry_ms=500");
    assert_string_equal(str(j, "message"), "query failed");
    assert_string_equal(str(j, "error"), "relation \"task_instance\" does not exist");
    assert_string_equal(str(j, "sqlstate"), "42P01");
    assert_string_equal(str(j, "retry_ms"), "500");
    cJSON_Delete(j);

    /* ambiguous: a quote followed by " key=" closes the value */
    j = convert("x reason=\"a \"b\" c=\" d=\"\"");
    assert_string_equal(str(j, "reason"), "a \"b");
    assert_string_equal(str(j, "c"), " d=\"");
    cJSON_Delete(j);

    j = convert("x reason=\"say \"hi\" there\" n=1");
    assert_string_equal(str(j, "reason"), "say \"hi\" there");
    assert_string_equal(str(j, "n"), "1");
    cJSON_Delete(j);

    /* empty quoted, unterminated (a cut line): to the end */
    j = convert("x a=\"\" b=\"no end here c=1");
    assert_string_equal(str(j, "a"), "");
    assert_string_equal(str(j, "b"), "no end here c=1");
    assert_int_equal(members(j), 6);
    cJSON_Delete(j);

    j = convert("x a=\"");
    assert_string_equal(str(j, "a"), "");
    cJSON_Delete(j);

    /* a quote in the middle of an unquoted value is part of it */
    j = convert("x a=b\"c d=e");
    assert_string_equal(str(j, "a"), "b\"c");
    assert_string_equal(str(j, "d"), "e");
    cJSON_Delete(j);
}

static void test_keys_without_values_and_stray_words(void **state)
{
    (void)state;
    cJSON *j = convert("created empty= next=2");
    assert_string_equal(str(j, "empty"), "");
    assert_string_equal(str(j, "next"), "2");
    cJSON_Delete(j);

    /* words after the pairs join the message: no text is lost, ids stay clean */
    j = convert("dag paused after 3 consecutive failed runs dag_id=etl "
                "(max_consecutive_failed_dag_runs)");
    assert_string_equal(str(j, "message"), "dag paused after 3 consecutive failed runs "
                                           "(max_consecutive_failed_dag_runs)");
    assert_string_equal(str(j, "dag_id"), "etl");
    cJSON_Delete(j);

    j = convert("x path=/my dags/a.yaml n=1");
    assert_string_equal(str(j, "message"), "x dags/a.yaml");
    assert_string_equal(str(j, "path"), "/my");
    cJSON_Delete(j);
}

static void test_reserved_and_repeated_keys(void **state)
{
    (void)state;
    cJSON *j = convert("m level=x message=y timestamp=t component=c truncated=no a=1 a=2 a=3");
    assert_string_equal(str(j, "level"), "info");
    assert_string_equal(str(j, "message"), "m");
    assert_string_equal(str(j, "log_level"), "x");
    assert_string_equal(str(j, "log_message"), "y");
    assert_string_equal(str(j, "log_timestamp"), "t");
    assert_string_equal(str(j, "log_component"), "c");
    assert_string_equal(str(j, "log_truncated"), "no");
    assert_string_equal(str(j, "a"), "1");
    assert_string_equal(str(j, "a_2"), "2");
    assert_string_equal(str(j, "a_3"), "3");
    assert_null(cJSON_GetObjectItemCaseSensitive(j, "truncated"));
    cJSON_Delete(j);
}

static void test_escapes_and_control_characters(void **state)
{
    (void)state;
    const char text[] = "line\none\ttab back\\slash \"q\" bell\a del\x7f esc\x1b "
                        "err=\"ERROR:  x\nDETAIL:  y\r\" c=\x01\x1f";
    cJSON *j = convert(text);
    assert_string_equal(str(j, "message"),
                        "line\none\ttab back\\slash \"q\" bell\a del\x7f esc\x1b");
    assert_string_equal(str(j, "err"), "ERROR:  x\nDETAIL:  y\r");
    assert_string_equal(str(j, "c"), "\x01\x1f");
    cJSON_Delete(j);

    /* the raw line holds no control byte at all */
    char out[1024];
    size_t n = log_json_line(out, sizeof(out), TS, "info", "w", text, strlen(text), false);
    for (size_t i = 0; i + 1 < n; i++)
        assert_true((unsigned char)out[i] >= 0x20 && out[i] != 0x7f);
    assert_non_null(strstr(out, "\\u0007"));
    assert_non_null(strstr(out, "\\u001b"));

    /* a NUL ends the text */
    j = convert_cap("a\0b=1", 5, false, 8192);
    assert_string_equal(str(j, "message"), "a");
    assert_int_equal(members(j), 4);
    cJSON_Delete(j);
}

static void test_utf8(void **state)
{
    (void)state;
    cJSON *j = convert("caf\xc3\xa9 \xe2\x98\x83 task_id=\xf0\x9f\x98\x80");
    assert_string_equal(str(j, "message"), "caf\xc3\xa9 \xe2\x98\x83");
    assert_string_equal(str(j, "task_id"), "\xf0\x9f\x98\x80");
    cJSON_Delete(j);

    /* bytes that are not UTF-8 (a Latin-1 path, a surrogate, an overlong
     * form, a sequence cut short) each become U+FFFD */
    j = convert("p=\xe9t\xe9 s=\xed\xa0\x80 o=\xc0\xaf cut=ab\xe2\x82");
    assert_string_equal(str(j, "p"), "\xef\xbf\xbdt\xef\xbf\xbd");
    assert_string_equal(str(j, "s"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    assert_string_equal(str(j, "o"), "\xef\xbf\xbd\xef\xbf\xbd");
    assert_string_equal(str(j, "cut"), "ab\xef\xbf\xbd\xef\xbf\xbd");
    cJSON_Delete(j);
}

static bool truncated(const cJSON *j)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "truncated"));
}

static void test_truncation_stays_valid(void **state)
{
    (void)state;
    /* every cut point of a line with escapes, multi-byte characters,
     * quoted values and many members */
    const char text[] = "event \xe2\x98\x83 with \"quotes\"\n and\x01 more dag_id=etl "
                        "run_id=scheduled__2026 task_id=t\xc3\xa9 try_number=2 "
                        "error=\"bad \\ \"thing\"\t\" x= y=\xff\xfe";
    cJSON *full = convert(text);
    assert_false(truncated(full));
    for (size_t cap = LOG_JSON_MIN_CAP; cap < 700; cap++) {
        cJSON *j = convert_cap(text, strlen(text), false, cap);
        assert_string_equal(str(j, "timestamp"), TS);
        /* what is there is what the full line says, and a cut says so */
        const cJSON *m;
        cJSON_ArrayForEach(m, j)
        {
            if (!strcmp(m->string, "truncated"))
                continue;
            const char *whole = str(full, m->string);
            assert_non_null(whole);
            assert_true(strncmp(whole, m->valuestring, strlen(m->valuestring)) == 0);
        }
        if (!truncated(j)) /* not marked: nothing is missing */
            assert_true(cJSON_Compare(j, full, true));
        if (cap < 260) /* the full line (262 bytes) cannot fit */
            assert_true(truncated(j));
        cJSON_Delete(j);
    }
    cJSON_Delete(full);

    /* a line made only of escapes: 4095 control bytes in 8192 */
    char big[4096];
    memset(big, '\x01', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    cJSON *j = convert_cap(big, sizeof(big) - 1, false, 8192);
    assert_true(truncated(j));
    assert_true(strlen(str(j, "message")) > 1000);
    cJSON_Delete(j);

    /* the text was cut before conversion */
    j = convert_cap("x a=1", 5, true, 8192);
    assert_true(truncated(j));
    assert_string_equal(str(j, "a"), "1");
    cJSON_Delete(j);

    /* too many pairs: the first LOG_JSON_MAX_FIELDS, then truncated */
    char many[2048] = "m";
    for (int i = 0; i < LOG_JSON_MAX_FIELDS + 5; i++) {
        size_t l = strlen(many);
        snprintf(many + l, sizeof(many) - l, " k%d=%d", i, i);
    }
    j = convert(many);
    assert_true(truncated(j));
    assert_int_equal(members(j), 4 + LOG_JSON_MAX_FIELDS + 1);
    cJSON_Delete(j);

    /* a buffer below the minimum is refused */
    char tiny[LOG_JSON_MIN_CAP - 1];
    assert_int_equal(log_json_line(tiny, sizeof(tiny), TS, "info", "w", "x", 1, false), 0);
}

static void test_parse_format(void **state)
{
    (void)state;
    log_format_t f = LOG_FORMAT_TEXT;
    assert_int_equal(log_parse_format("json", &f), 0);
    assert_int_equal(f, LOG_FORMAT_JSON);
    assert_int_equal(log_parse_format("TEXT", &f), 0);
    assert_int_equal(f, LOG_FORMAT_TEXT);
    assert_int_equal(log_parse_format("logfmt", &f), -1);
    assert_int_equal(log_parse_format("", &f), -1);
    assert_int_equal(log_parse_format(NULL, &f), -1);
}

/* log_write's own lines, read back from stderr sent to a file. */
static size_t capture(log_format_t format, void (*emit)(void), char *buf, size_t cap)
{
    char path[] = "/tmp/test_log_json.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fd, STDERR_FILENO) >= 0);
    log_init("scheduler", LOG_LEVEL_INFO);
    log_set_format(format);
    emit();
    log_set_format(LOG_FORMAT_TEXT);
    dup2(saved, STDERR_FILENO);
    close(saved);
    ssize_t n = pread(fd, buf, cap - 1, 0);
    close(fd);
    assert_true(n > 0);
    buf[n] = '\0';
    return (size_t)n;
}

static void emit_lines(void)
{
    log_info("dag run created dag_id=%s run_id=%s id=%d type=%s", "etl", "manual__1", 7, "manual");
    log_debug("not written x=%d", 1);
    log_warn("query failed error=\"%s\"", "a \"b\"\nc");
    char huge[6000];
    memset(huge, '\\', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    log_error("huge v=%s", huge);
}

static void test_log_write_json(void **state)
{
    (void)state;
    static char buf[65536];
    size_t n = capture(LOG_FORMAT_JSON, emit_lines, buf, sizeof(buf));
    char *line = buf;
    int lines = 0;
    while (line < buf + n) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        char save = nl[1];
        nl[1] = '\0';
        cJSON *j = parse_line(line, (size_t)(nl + 1 - line));
        nl[1] = save;
        const char *ts = str(j, "timestamp");
        /* RFC 3339 in UTC with milliseconds */
        assert_int_equal(strlen(ts), 24);
        assert_true(ts[4] == '-' && ts[10] == 'T' && ts[19] == '.' && ts[23] == 'Z');
        assert_string_equal(str(j, "component"), "scheduler");
        if (lines == 0) {
            assert_string_equal(str(j, "level"), "info");
            assert_string_equal(str(j, "message"), "dag run created");
            assert_string_equal(str(j, "dag_id"), "etl");
            assert_string_equal(str(j, "run_id"), "manual__1");
            assert_string_equal(str(j, "id"), "7");
        } else if (lines == 1) {
            assert_string_equal(str(j, "level"), "warning");
            assert_string_equal(str(j, "error"), "a \"b\"\nc");
        } else {
            assert_string_equal(str(j, "level"), "error");
            assert_true(truncated(j)); /* cut at 4 KB of text */
            assert_true(strlen(str(j, "v")) > 4000);
        }
        cJSON_Delete(j);
        lines++;
        line = nl + 1;
    }
    assert_int_equal(lines, 3);

    /* text stays logfmt */
    n = capture(LOG_FORMAT_TEXT, emit_lines, buf, sizeof(buf));
    assert_true(strncmp(buf, "ts=", 3) == 0);
    assert_non_null(strstr(buf, " level=info component=scheduler dag run created dag_id=etl "
                                "run_id=manual__1 id=7 type=manual\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields_become_members),
        cmocka_unit_test(test_quoted_values),
        cmocka_unit_test(test_keys_without_values_and_stray_words),
        cmocka_unit_test(test_reserved_and_repeated_keys),
        cmocka_unit_test(test_escapes_and_control_characters),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_truncation_stays_valid),
        cmocka_unit_test(test_parse_format),
        cmocka_unit_test(test_log_write_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
