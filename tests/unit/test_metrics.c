/*
 * test_metrics.c - the metrics registry (core/metrics.h): what
 * metrics_render_prometheus renders for counters, gauges and histograms,
 * label escaping and cutting, the series bound and its "__overflow__"
 * series, events dropped by a full buffer and counted, thread buffers given
 * back, and the StatsD datagrams received on a real UDP socket bound on
 * loopback (Airflow's line format, allow and block lists, datagram size).
 * The rendered text also goes through `promtool check metrics` when
 * Debian's prometheus package is installed (skipped with the reason when not).
 *
 * The registry is one per process and is never emptied, so each test uses
 * label values (or metrics) of its own and looks for its own lines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/config.h"
#include "core/metrics.h"

/* An empty configuration file: defaults and the environment only. */
static char config_path[] = "/tmp/updraft-test-metrics-cfg-XXXXXX";

static char *render(void)
{
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(metrics_render_prometheus(&text, &len), 0);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    return text;
}

/* Whether text holds line as a whole line. */
static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return true;
    return false;
}

static void assert_line(const char *text, const char *line)
{
    if (!has_line(text, line))
        fail_msg("missing line: %s", line);
}

/* The value of the sample whose line starts with prefix (name{labels}), or -1. */
static double sample(const char *text, const char *prefix)
{
    size_t n = strlen(prefix);
    for (const char *p = text; (p = strstr(p, prefix)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    return -1;
}

/* The configuration with the environment's UPDRAFT__METRICS__* set as given ("KEY=VALUE"). */
static void load_config(config_t *cfg, const char *const *env)
{
    static const char *const keys[] = {
        "STATSD_ON",         "STATSD_HOST",       "STATSD_PORT",     "STATSD_PREFIX",
        "STATSD_ALLOW_LIST", "STATSD_BLOCK_LIST", "STATSD_FLUSH_MS", "MAX_SERIES_PER_METRIC"};
    char name[128], err[512];
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        snprintf(name, sizeof(name), "UPDRAFT__METRICS__%s", keys[i]);
        unsetenv(name);
    }
    for (size_t i = 0; env && env[i]; i++) {
        const char *eq = strchr(env[i], '=');
        snprintf(name, sizeof(name), "UPDRAFT__METRICS__%.*s", (int)(eq - env[i]), env[i]);
        setenv(name, eq + 1, 1);
    }
    if (config_load(config_path, cfg, err, sizeof(err)) != 0)
        fail_msg("config: %s", err);
}

static void test_counters_gauges_and_histograms_render_as_exposition_lines(void **state)
{
    (void)state;
    metric_count(M_TI_START, 1, "render_dag", "t1", NULL);
    metric_count(M_TI_START, 2, "render_dag", "t1", NULL);
    metric_count(M_TI_FINISH, 1, "render_dag", "t1", "success");
    metric_gauge(M_POOL_OPEN_SLOTS, 7, "render_pool", NULL, NULL);
    metric_gauge(M_POOL_OPEN_SLOTS, 5, "render_pool", NULL, NULL);
    metric_gauge(M_DAG_PROCESSING_TOTAL_PARSE_TIME, 0.25, NULL, NULL, NULL);
    metric_observe(M_CLAIM_LATENCY, 0.0007, "render_q", NULL, NULL);
    metric_observe(M_CLAIM_LATENCY, 0.003, "render_q", NULL, NULL);
    metric_observe(M_CLAIM_LATENCY, 60, "render_q", NULL, NULL);
    char *t = render();
    assert_line(t, "# HELP updraft_ti_start_total Tries started.");
    assert_line(t, "# TYPE updraft_ti_start_total counter");
    assert_line(t, "updraft_ti_start_total{component=\"\",hostname=\"\",dag_id=\"render_dag\","
                   "task_id=\"t1\"} 3");
    assert_line(t, "updraft_ti_finish_total{component=\"\",hostname=\"\",dag_id=\"render_dag\","
                   "task_id=\"t1\",state=\"success\"} 1");
    assert_line(t, "# TYPE updraft_pool_open_slots gauge");
    assert_line(t, "updraft_pool_open_slots{component=\"\",hostname=\"\",pool=\"render_pool\"} 5");
    assert_line(t, "updraft_dag_processing_total_parse_time_seconds{component=\"\",hostname=\"\"} "
                   "0.25");
    assert_line(t, "# TYPE updraft_claim_latency_seconds histogram");
    const char *h = "updraft_claim_latency_seconds_bucket{component=\"\",hostname=\"\","
                    "queue=\"render_q\",le=";
    char line[512];
    static const struct {
        const char *le;
        int n;
    } want[] = {{"0.0005", 0}, {"0.001", 1}, {"0.0025", 1}, {"0.005", 2}, {"10", 2}, {"+Inf", 3}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        snprintf(line, sizeof(line), "%s\"%s\"} %d", h, want[i].le, want[i].n);
        assert_line(t, line);
    }
    assert_line(t, "updraft_claim_latency_seconds_sum{component=\"\",hostname=\"\","
                   "queue=\"render_q\"} 60.0037");
    assert_line(t, "updraft_claim_latency_seconds_count{component=\"\",hostname=\"\","
                   "queue=\"render_q\"} 3");
    /* Nothing dropped is still a sample. */
    assert_true(sample(t, "updraft_metrics_dropped_total{component=\"\",hostname=\"\"}") >= 0);
    /* A counter never goes down. */
    metric_count(M_TI_START, -5, "render_dag", "t1", NULL);
    free(t);
    t = render();
    assert_line(t, "updraft_ti_start_total{component=\"\",hostname=\"\",dag_id=\"render_dag\","
                   "task_id=\"t1\"} 3");
    free(t);
}

static void test_label_values_are_escaped_and_made_valid_utf8(void **state)
{
    (void)state;
    metric_count(M_ZOMBIES_KILLED, 1, "esc\"a\\b\nc", "caf\xC3\xA9\xFF", NULL);
    char *t = render();
    assert_line(t, "updraft_task_instances_without_heartbeats_killed_total{component=\"\","
                   "hostname=\"\",dag_id=\"esc\\\"a\\\\b\\nc\",task_id=\"caf\xC3\xA9\xEF\xBF\xBD\"}"
                   " 1");
    free(t);
}

static void test_label_values_are_cut_at_the_limit_on_a_character_boundary(void **state)
{
    (void)state;
    char long_ascii[400], long_utf8[400], want[1024];
    memset(long_ascii, 'a', sizeof(long_ascii) - 1);
    long_ascii[sizeof(long_ascii) - 1] = '\0';
    memcpy(long_ascii, "cut_", 4);
    /* "é" (2 bytes) from byte 1: byte 250 would split one. */
    long_utf8[0] = 'u';
    for (size_t i = 1; i + 2 < sizeof(long_utf8); i += 2)
        memcpy(long_utf8 + i, "\xC3\xA9", 2);
    long_utf8[sizeof(long_utf8) - 2] = '\0';
    metric_gauge(M_QUEUE_LENGTH, 1, long_ascii, NULL, NULL);
    metric_gauge(M_QUEUE_LAG, 2, long_utf8, NULL, NULL);
    char *t = render();
    snprintf(want, sizeof(want),
             "updraft_queue_length{component=\"\",hostname=\"\",queue=\"%.*s\"} 1",
             METRIC_LABEL_MAX, long_ascii);
    assert_line(t, want);
    snprintf(want, sizeof(want), "updraft_queue_lag{component=\"\",hostname=\"\",queue=\"%.*s\"} 2",
             METRIC_LABEL_MAX - 1, long_utf8); /* 'u' and 124 whole "é" */
    assert_line(t, want);
    free(t);
}

static void test_past_the_bound_new_label_sets_fold_into_the_overflow_series(void **state)
{
    (void)state;
    config_t cfg;
    const char *env[] = {"MAX_SERIES_PER_METRIC=3", NULL};
    load_config(&cfg, env);
    char err[256];
    assert_int_equal(metrics_start(&cfg, "scheduler", "host-1", err, sizeof(err)), 0);
    const char *pools[] = {"p1", "p2", "p3", "p4", "p5"};
    for (size_t i = 0; i < 5; i++)
        metric_gauge(M_POOL_STARVING_TASKS, (double)i + 1, pools[i], NULL, NULL);
    metric_observe(M_DAGRUN_SCHEDULE_DELAY, 1.5, "d1", NULL, NULL);
    metric_observe(M_DAGRUN_SCHEDULE_DELAY, 1.5, "d2", NULL, NULL);
    metric_observe(M_DAGRUN_SCHEDULE_DELAY, 1.5, "d3", NULL, NULL);
    metric_observe(M_DAGRUN_SCHEDULE_DELAY, 2.5, "d4", NULL, NULL);
    metric_observe(M_DAGRUN_SCHEDULE_DELAY, 3.5, "d5", NULL, NULL);
    char *t = render();
    metrics_stop();
    config_free(&cfg);
    const char *pre = "updraft_pool_starving_tasks{component=\"scheduler\",hostname=\"host-1\"";
    char line[256];
    for (size_t i = 0; i < 3; i++) {
        snprintf(line, sizeof(line), "%s,pool=\"%s\"} %zu", pre, pools[i], i + 1);
        assert_line(t, line);
    }
    assert_null(strstr(t, "pool=\"p4\""));
    assert_null(strstr(t, "pool=\"p5\""));
    snprintf(line, sizeof(line), "%s,pool=\"__overflow__\"} 5", pre);
    assert_line(t, line);
    assert_line(t, "updraft_dagrun_schedule_delay_seconds_count{component=\"scheduler\","
                   "hostname=\"host-1\",dag_id=\"__overflow__\"} 2");
    assert_line(t, "updraft_dagrun_schedule_delay_seconds_sum{component=\"scheduler\","
                   "hostname=\"host-1\",dag_id=\"__overflow__\"} 6");
    free(t);
}

/* Records n unlabelled events from a thread that has no buffer yet. */
static void *record_n(void *arg)
{
    int n = *(int *)arg;
    for (int i = 0; i < n; i++)
        metric_count(M_SCHEDULER_TASKS_STUCK_IN_QUEUED, 1, NULL, NULL, NULL);
    return NULL;
}

static double dropped_total(void)
{
    char *t = render();
    double v = sample(t, "updraft_metrics_dropped_total{component=\"\",hostname=\"\"}");
    free(t);
    return v;
}

static void test_a_full_buffer_drops_events_and_counts_them(void **state)
{
    (void)state;
    double before = dropped_total();
    int n = 20000; /* far more than one buffer holds between two drains */
    pthread_t tid;
    assert_int_equal(pthread_create(&tid, NULL, record_n, &n), 0);
    pthread_join(tid, NULL);
    char *t = render();
    double kept = sample(t, "updraft_scheduler_tasks_stuck_in_queued_total{component=\"\","
                            "hostname=\"\"}");
    double dropped = sample(t, "updraft_metrics_dropped_total{component=\"\",hostname=\"\"}");
    free(t);
    assert_true(kept > 1000);
    assert_true(dropped - before > 1000);
    assert_true(kept + (dropped - before) == n); /* every event is either kept or counted */
}

static void test_buffers_of_ended_threads_are_given_back(void **state)
{
    (void)state;
    double before = dropped_total();
    /* Far more threads than buffers, one after another: each ended
     * thread's buffer is drained and reused. */
    int one = 1;
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < 100; i++) {
            pthread_t tid;
            assert_int_equal(pthread_create(&tid, NULL, record_n, &one), 0);
            pthread_join(tid, NULL);
        }
        free(render());
    }
    assert_true(dropped_total() == before);
}

/* Records 20,000 events of its own dag_id (arg) as fast as it can. */
static void *record_burst(void *arg)
{
    for (int i = 0; i < 20000; i++)
        metric_count(M_TI_START, 1, (const char *)arg, "t", NULL);
    return NULL;
}

static void test_threads_recording_at_once_lose_nothing_uncounted(void **state)
{
    (void)state;
    config_t cfg;
    load_config(&cfg, NULL);
    char err[256];
    assert_int_equal(metrics_start(&cfg, "scheduler", "host-1", err, sizeof(err)), 0);
    const char *drop = "updraft_metrics_dropped_total{component=\"scheduler\",hostname=\"host-1\"}";
    char *t = render();
    double before = sample(t, drop);
    free(t);
    static const char *const dags[] = {"conc_0", "conc_1", "conc_2", "conc_3",
                                       "conc_4", "conc_5", "conc_6", "conc_7"};
    pthread_t tids[8];
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&tids[i], NULL, record_burst, (void *)dags[i]), 0);
    for (int i = 0; i < 8; i++)
        pthread_join(tids[i], NULL);
    metrics_stop();
    config_free(&cfg);
    t = render();
    double kept = 0;
    for (int i = 0; i < 8; i++) {
        char pre[256];
        snprintf(pre, sizeof(pre),
                 "updraft_ti_start_total{component=\"scheduler\",hostname=\"host-1\","
                 "dag_id=\"%s\",task_id=\"t\"}",
                 dags[i]);
        double v = sample(t, pre);
        kept += v > 0 ? v : 0;
    }
    double dropped = sample(t, drop) - before;
    free(t);
    assert_true(kept > 0);
    assert_true(kept + dropped == 8 * 20000);
}

/* ---- StatsD on a real socket -------------------------------------------- */

static int udp_listen(int *port)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    int rcv = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
    return fd;
}

/* Every datagram waiting on fd, joined with '\n'; *max_size the largest. */
static char *udp_read_all(int fd, size_t *max_size, int *ndatagrams)
{
    size_t cap = 1 << 20, len = 0;
    char *all = calloc(1, cap);
    assert_non_null(all);
    *max_size = 0;
    *ndatagrams = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 300) <= 0)
            break;
        char buf[65536];
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n <= 0)
            break;
        if ((size_t)n > *max_size)
            *max_size = (size_t)n;
        (*ndatagrams)++;
        assert_true(len + (size_t)n + 2 < cap);
        memcpy(all + len, buf, (size_t)n);
        len += (size_t)n;
        all[len++] = '\n';
    }
    return all;
}

/* Starts with StatsD on towards port and the given list settings. */
static void start_statsd(config_t *cfg, int port, const char *extra1, const char *extra2)
{
    char portv[64];
    snprintf(portv, sizeof(portv), "STATSD_PORT=%d", port);
    const char *env[] = {"STATSD_ON=true", "STATSD_HOST=127.0.0.1", portv, extra1, extra2, NULL};
    load_config(cfg, env);
    char err[256];
    if (metrics_start(cfg, "worker", "w1", err, sizeof(err)) != 0)
        fail_msg("metrics_start: %s", err);
}

static void record_statsd_sample(void)
{
    metric_count(M_TI_START, 1, "sd_dag", "task.1", NULL);
    metric_count(M_TI_FINISH, 1, "sd dag/x", "t", "failed");
    metric_observe(M_TASK_DURATION, 1.5, "sd_dag", "t", NULL);
    metric_gauge(M_POOL_OPEN_SLOTS, -3, "default_pool", NULL, NULL);
    metric_gauge(M_SCHEDULER_TASKS_EXECUTABLE, 12, NULL, NULL, NULL);
    metric_count(M_SCHEDULER_HEARTBEAT, 1, NULL, NULL, NULL);
    metric_observe(M_HOP_LATENCY, 0.002, "q", NULL, NULL);
}

static void test_statsd_lines_are_airflows_names_on_a_real_socket(void **state)
{
    (void)state;
    int port, fd = udp_listen(&port), nd;
    config_t cfg;
    size_t max;
    start_statsd(&cfg, port, "STATSD_PREFIX=airflow", NULL);
    record_statsd_sample();
    metrics_stop(); /* flushes */
    config_free(&cfg);
    char *got = udp_read_all(fd, &max, &nd);
    close(fd);
    assert_true(nd >= 1);
    assert_line(got, "airflow.ti.start.sd_dag.task.1:1|c");
    assert_line(got, "airflow.ti.finish.sd_dag_x.t.failed:1|c");
    assert_line(got, "airflow.dag.sd_dag.t.duration:1500.000000|ms");
    assert_line(got, "airflow.pool.open_slots.default_pool:0|g");
    assert_line(got, "airflow.pool.open_slots.default_pool:-3|g");
    assert_line(got, "airflow.scheduler.tasks.executable:12|g");
    assert_line(got, "airflow.scheduler_heartbeat:1|c");
    assert_line(got, "airflow.hop.latency:2.000000|ms");
    free(got);
}

static void test_statsd_block_list_leaves_out_its_prefixes(void **state)
{
    (void)state;
    int port, fd = udp_listen(&port), nd;
    config_t cfg;
    size_t max;
    start_statsd(&cfg, port, "STATSD_BLOCK_LIST=ti., Scheduler.tasks", NULL);
    record_statsd_sample();
    metrics_stop();
    config_free(&cfg);
    char *got = udp_read_all(fd, &max, &nd);
    close(fd);
    assert_null(strstr(got, "airflow.ti."));
    assert_null(strstr(got, "airflow.scheduler.tasks"));
    assert_line(got, "airflow.scheduler_heartbeat:1|c");
    assert_line(got, "airflow.dag.sd_dag.t.duration:1500.000000|ms");
    free(got);
}

static void test_statsd_allow_list_sends_only_its_prefixes_and_wins(void **state)
{
    (void)state;
    int port, fd = udp_listen(&port), nd;
    config_t cfg;
    size_t max;
    start_statsd(&cfg, port, "STATSD_ALLOW_LIST=scheduler,pool", "STATSD_BLOCK_LIST=scheduler");
    record_statsd_sample();
    metrics_stop();
    config_free(&cfg);
    char *got = udp_read_all(fd, &max, &nd);
    close(fd);
    assert_line(got, "airflow.scheduler_heartbeat:1|c");
    assert_line(got, "airflow.scheduler.tasks.executable:12|g");
    assert_line(got, "airflow.pool.open_slots.default_pool:-3|g");
    assert_null(strstr(got, "airflow.ti."));
    assert_null(strstr(got, "airflow.dag."));
    assert_null(strstr(got, "airflow.hop."));
    free(got);
}

static void test_statsd_datagrams_hold_many_lines_and_stay_under_1432_bytes(void **state)
{
    (void)state;
    int port, fd = udp_listen(&port), nd;
    config_t cfg;
    size_t max;
    start_statsd(&cfg, port, "STATSD_FLUSH_MS=60000", NULL);
    char task[32];
    for (int i = 0; i < 500; i++) {
        snprintf(task, sizeof(task), "task_%03d", i);
        metric_count(M_TI_START, 1, "many", task, NULL);
    }
    metrics_stop();
    config_free(&cfg);
    char *got = udp_read_all(fd, &max, &nd);
    close(fd);
    assert_true(max <= 1432);
    assert_true(max > 1300);    /* packed, not one line each */
    assert_true(nd < 500 / 10); /* about 38 lines a datagram */
    for (int i = 0; i < 500; i += 7) {
        char line[128];
        snprintf(line, sizeof(line), "airflow.ti.start.many.task_%03d:1|c", i);
        assert_line(got, line);
    }
    free(got);
}

static void test_statsd_is_flushed_by_the_sender_without_a_stop(void **state)
{
    (void)state;
    int port, fd = udp_listen(&port), nd;
    config_t cfg;
    size_t max;
    start_statsd(&cfg, port, "STATSD_FLUSH_MS=50", NULL);
    metric_count(M_TI_SUCCESSES, 4, NULL, NULL, NULL);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int ready = poll(&p, 1, 3000);
    char *got = udp_read_all(fd, &max, &nd);
    metrics_stop();
    config_free(&cfg);
    close(fd);
    assert_int_equal(ready, 1);
    assert_line(got, "airflow.ti_successes:4|c");
    free(got);
}

static void test_a_statsd_host_that_does_not_resolve_is_an_error(void **state)
{
    (void)state;
    config_t cfg;
    const char *env[] = {"STATSD_ON=true", "STATSD_HOST=no-such-host.invalid", NULL};
    load_config(&cfg, env);
    char err[256] = "";
    assert_int_equal(metrics_start(&cfg, "worker", "w1", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "metrics.statsd_host"));
    config_free(&cfg);
    /* Recording still works, and a later start succeeds. */
    load_config(&cfg, NULL);
    assert_int_equal(metrics_start(&cfg, "worker", "w1", err, sizeof(err)), 0);
    metrics_stop();
    config_free(&cfg);
}

static void test_bad_statsd_settings_are_refused_by_the_config(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "UPDRAFT__METRICS__STATSD_PREFIX=air flow", "UPDRAFT__METRICS__STATSD_ALLOW_LIST=ti.,",
        "UPDRAFT__METRICS__STATSD_BLOCK_LIST=a;b", "UPDRAFT__METRICS__STATSD_PORT=0",
        "UPDRAFT__METRICS__MAX_SERIES_PER_METRIC=0"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        config_t cfg;
        char err[512] = "", name[128];
        load_config(&cfg, NULL);
        config_free(&cfg);
        const char *eq = strchr(bad[i], '=');
        snprintf(name, sizeof(name), "%.*s", (int)(eq - bad[i]), bad[i]);
        setenv(name, eq + 1, 1);
        int rc = config_load(config_path, &cfg, err, sizeof(err));
        unsetenv(name);
        if (rc == 0) {
            config_free(&cfg);
            fail_msg("accepted: %s", bad[i]);
        }
        assert_non_null(strstr(err, "metrics."));
    }
}

static void test_every_metric_has_a_row_in_the_table(void **state)
{
    (void)state;
    char *doc = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&doc, &len);
    assert_non_null(f);
    assert_int_equal(metrics_write_markdown(f), 0);
    fclose(f);
    int rows = 0;
    for (const char *p = doc; (p = strstr(p, "\n| `updraft_")) != NULL; p++)
        rows++;
    assert_int_equal(rows, M__COUNT);
    assert_null(strstr(doc, "(null)"));
    assert_null(strstr(doc, "``"));
    free(doc);
}

/* ---- promtool ------------------------------------------------------------ */

static void test_the_exposition_passes_promtool_check_metrics(void **state)
{
    (void)state;
    if (system("command -v promtool >/dev/null 2>&1") != 0) {
        print_message("promtool not installed (Debian's prometheus package): check skipped\n");
        skip();
    }
    config_t cfg;
    load_config(&cfg, NULL);
    char err[256];
    assert_int_equal(metrics_start(&cfg, "scheduler", "host \"x\"", err, sizeof(err)), 0);
    for (int m = 0; m < M__COUNT; m++) {
        metric_count((metric_id_t)m, 1, "a", "b", "c");
        metric_gauge((metric_id_t)m, 2, "a", "b", "c");
        metric_observe((metric_id_t)m, 0.5, "a", "b", "c");
    }
    char *t = render();
    metrics_stop();
    config_free(&cfg);
    char path[] = "/tmp/updraft-test-metrics-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, t, strlen(t)), (ssize_t)strlen(t));
    close(fd);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char out[4096] = "";
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    int rc = pclose(p);
    unlink(path);
    free(t);
    if (rc != 0 || out[0])
        fail_msg("promtool check metrics: exit %d: %s", WEXITSTATUS(rc), out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counters_gauges_and_histograms_render_as_exposition_lines),
        cmocka_unit_test(test_label_values_are_escaped_and_made_valid_utf8),
        cmocka_unit_test(test_label_values_are_cut_at_the_limit_on_a_character_boundary),
        cmocka_unit_test(test_a_full_buffer_drops_events_and_counts_them),
        cmocka_unit_test(test_buffers_of_ended_threads_are_given_back),
        cmocka_unit_test(test_past_the_bound_new_label_sets_fold_into_the_overflow_series),
        cmocka_unit_test(test_threads_recording_at_once_lose_nothing_uncounted),
        cmocka_unit_test(test_statsd_lines_are_airflows_names_on_a_real_socket),
        cmocka_unit_test(test_statsd_block_list_leaves_out_its_prefixes),
        cmocka_unit_test(test_statsd_allow_list_sends_only_its_prefixes_and_wins),
        cmocka_unit_test(test_statsd_datagrams_hold_many_lines_and_stay_under_1432_bytes),
        cmocka_unit_test(test_statsd_is_flushed_by_the_sender_without_a_stop),
        cmocka_unit_test(test_a_statsd_host_that_does_not_resolve_is_an_error),
        cmocka_unit_test(test_bad_statsd_settings_are_refused_by_the_config),
        cmocka_unit_test(test_every_metric_has_a_row_in_the_table),
        cmocka_unit_test(test_the_exposition_passes_promtool_check_metrics),
    };
    int fd = mkstemp(config_path);
    if (fd < 0)
        return 1;
    close(fd);
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    unlink(config_path);
    return rc;
}
