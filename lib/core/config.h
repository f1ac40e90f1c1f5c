/*
 * config.h - the one configuration every updraft binary reads.
 *
 * Sources, later ones winning: built-in defaults, the YAML file (--config
 * PATH, else $UPDRAFT_CONFIG, else ./updraft.yaml if it exists), then
 * environment variables UPDRAFT__SECTION__KEY (as Airflow's
 * AIRFLOW__CORE__DAGS_FOLDER), e.g. UPDRAFT__DATABASE__URL.
 *
 * Every key lives in one table in config.c (section, key, type, default,
 * bounds, secret flag); the YAML file is read with libcyaml against a schema
 * built from the same table, so a key is added in one place. Unknown keys
 * and out-of-range values are errors that name the key.
 */
#ifndef UPDRAFT_CONFIG_H
#define UPDRAFT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct config {
    struct {
        char *dags_folder;                /* default "./dags" */
        bool dags_are_paused_at_creation; /* default true */
        char *hostname;                   /* default: gethostname() (empty = that) */
        char *fernet_key;   /* secret; base64 32-byte keys, comma-separated, "" = none */
        int max_xcom_size;  /* bytes of one XCom value, default 49152, 1024..1073741824 */
        int max_map_length; /* mapped instances of one task, default 1024 */
        int max_templated_field_length;          /* characters of one stored rendered field, 4096 */
        int max_num_rendered_ti_fields_per_task; /* runs whose rendered fields a task keeps, 30;
                                                    0 = all */
        char *test_connection; /* Enabled lets POST /connections/test reach out; default Disabled */
        char *dag_env_allowlist;      /* what $NAME in DAG files may read: names and PREFIX*,
                                         comma-separated (core/envname.h); default
                                         "CONFIG_ROOT_DIR,AIRFLOW_HOME" */
        char *dag_ignore_file_syntax; /* .airflowignore patterns: "glob" (default) or "regexp" */
    } core;
    struct {
        char *url;        /* secret-bearing; default "postgresql:///updraft" */
        char *pooler;     /* "none" (default) or "transaction": url is a transaction pooler */
        char *direct_url; /* secret-bearing; Postgres itself for LISTEN behind a pooler */
    } database;
    struct {
        char *url;               /* secret-bearing; default "redis://127.0.0.1:6379/0" */
        int timeout_ms;          /* default 5000, 100..600000 */
        char *sentinels;         /* host[:port],... of Redis Sentinels; "" (default): use url */
        char *master_name;       /* the sentinels' name of the master, default "mymaster" */
        char *sentinel_password; /* secret; AUTH for the sentinels, default "" */
    } redis;
    struct {
        char *listen;                    /* default "127.0.0.1:8080" */
        char *base_url;                  /* default "http://127.0.0.1:8080" */
        int threads;                     /* default 32, 1..256 */
        int cache_mb;                    /* response cache budget, default 32, 0 (off)..4096 */
        char *auth;                      /* "password" (default) or "none" (loopback only) */
        int session_idle_minutes;        /* a browser session unused this long ends, default 480 */
        int session_max_hours;           /* and ends this long after login anyway, default 168 */
        int login_failures_per_user;     /* failed logins of one user per 5 minutes, default 10 */
        int login_failures_per_address;  /* failed logins from one address per 5 minutes, 30 */
        int request_timeout_ms;          /* a request's head, and its body, must arrive within */
        int max_connections_per_address; /* open connections of one client address, 0: no limit */
        char *allowed_hosts;   /* Host names answered besides base_url's and listen's, "*": any */
        char *trusted_proxies; /* peers whose X-Forwarded-For/-Proto are believed
                                  (webserver/proxies.h) */
    } webserver;
    struct {
        int dag_dir_list_interval;   /* seconds between folder scans, default 5, 1..86400 */
        bool catchup_by_default;     /* default true */
        int heartbeat_sec;           /* default 5, 1..3600 */
        int queued_resend_after_sec; /* default 30, 1..86400 */
        int max_tis_per_query;       /* default 512, 1..100000 */
        int zombie_threshold_sec; /* a running try without heartbeat this long is a zombie, default
                                     30 */
        int zombie_detection_interval_sec; /* how often to look, default 10 */
        int task_queued_timeout_sec; /* a try queued this long fails or retries, default 600 */
    } scheduler;
    struct {
        char *queues;              /* comma-separated, default "default" */
        int concurrency;           /* default 16, 1..4096 */
        int heartbeat_sec;         /* default 5, 1..3600 */
        int shutdown_grace_sec;    /* SIGTERM: running tries get this long, default 60 */
        int log_flush_ms;          /* default 200, 10..60000 */
        int max_log_bytes_per_try; /* default 10485760, 1024..1073741824 */
        char *default_run_as_user; /* tasks without run_as_user run as this user, "" = none */
        bool allow_root_tasks;     /* tasks may run as root (uid 0), default false */
    } worker;
    struct {
        char *level;        /* debug|info|warning|error, default "info" */
        char *format;       /* text|json, default "text" */
        int retention_days; /* task logs older than this are deleted, default 0 = kept forever */
    } logging;
    struct {                        /* docs/alerts.md; conn id lists are comma-separated */
        char *on_task_failure;      /* alerts of tasks that declare none, default "" */
        char *on_task_retry;        /* default "" */
        char *on_dag_failure;       /* DAG run failures of DAGs that declare none, default "" */
        char *on_sla_miss;          /* SLA misses of DAGs that declare none, default "" */
        int give_up_after_sec;      /* a delivery still failing this long fails, default 3600 */
        int request_timeout_sec;    /* one HTTP attempt, default 10, 1..300 */
        int max_retry_after_sec;    /* Retry-After honoured up to this, default 300 */
        int max_backoff_sec;        /* retry delay cap after 5xx/network errors, default 300 */
        int max_in_flight;          /* deliveries in flight per scheduler, default 8 */
        int sweep_interval_sec;     /* safety timer behind NOTIFY, default 30 */
        int sla_check_interval_sec; /* default 10 */
        int sla_lookback_sec;       /* misses older than this are not reported, default 86400 */
        int event_retention_days;   /* processed events and their deliveries kept, default 30; 0 =
                                       forever */
    } alerts;
    struct {                       /* docs/metrics.md */
        bool statsd_on;            /* send StatsD datagrams, default false */
        char *statsd_host;         /* default "127.0.0.1" */
        int statsd_port;           /* default 8125 */
        char *statsd_prefix;       /* default "airflow" */
        char *statsd_allow_list;   /* name prefixes sent, comma-separated, "" = all */
        char *statsd_block_list;   /* name prefixes not sent, comma-separated */
        int statsd_flush_ms;       /* a partial datagram waits at most this long, default 1000 */
        int max_series_per_metric; /* label sets per metric before "__overflow__", 1000 */
    } metrics;
} config_t;

/*
 * Loads the configuration. path may be NULL (then $UPDRAFT_CONFIG, then
 * ./updraft.yaml if present, else defaults only). On error returns -1 and
 * writes a message naming the file/key ("path:line:col: ..." for YAML
 * problems) into err. The result is freed with config_free(). Sets the
 * logger's format (logging.format) for the rest of the process.
 */
int config_load(const char *path, config_t *out, char *err, size_t errlen);
void config_free(config_t *c);

/* Writes every key as YAML, secrets masked as *** (passwords in URLs, whole keys). */
void config_print(const config_t *c, FILE *f);

/*
 * What config_visit hands over for each key: its section and name, its
 * value as text (booleans "true"/"false", integers in decimal; valid
 * during the call only) and whether the key is a string.
 */
typedef void (*config_visit_fn)(const char *section, const char *key, const char *value,
                                bool is_string, void *arg);

/*
 * Calls fn for every key, section by section in the table's order, with
 * its value masked as config_print prints it (hidden NULL: a whole-value
 * secret is "***", a password inside a URL "***"), or, with hidden set,
 * every secret key that has a value replaced whole by hidden (the REST
 * API's "< hidden >", as Airflow's non-sensitive configuration). 0, or -1
 * when out of memory (fn has seen only the keys before).
 */
int config_visit(const config_t *c, const char *hidden, config_visit_fn fn, void *arg);

/* What a secret's value becomes where it must not be read (Airflow's). */
#define CONFIG_HIDDEN "< hidden >"

/*
 * The value of section.key as config_visit gives it (hidden as there),
 * malloc'd into *out. 0, UPDRAFT_ENOTFOUND for a key the table does not
 * have, UPDRAFT_ENOMEM.
 */
int config_get_text(const config_t *c, const char *section, const char *key, const char *hidden,
                    char **out);

/* As config_visit, with every key's default as written in the table. Returns 0. */
int config_visit_defaults(config_visit_fn fn, void *arg);

/*
 * Writes the key reference of docs/configuration.md (a table per section:
 * key, environment variable, default, range, description) from the key
 * table alone, so that the document cannot drift from the code. 0, or -1
 * with err naming a key the table does not describe (or on a write error).
 */
int config_write_markdown(FILE *f, char *err, size_t errlen);

/*
 * Copies url into buf with any password replaced by "***" (postgresql://
 * and redis:// URIs, and libpq "password=" keywords). For logs.
 */
void config_mask_url(const char *url, char *buf, size_t buflen);

/*
 * The database section as core/db.h's target (db_open): its strings are
 * borrowed from c.
 */
struct db_target;
void config_db_target(const config_t *c, struct db_target *t);
/* Fills t (core/queue.h) from the redis section; t borrows c's strings. */
struct queue_target;
void config_queue_target(const config_t *c, struct queue_target *t);

/*
 * Common flag handling for every binary: looks for --config PATH /
 * --config=PATH and --print-config in argv, removing them. Loads the config.
 * Returns 0 to continue, 1 when --print-config printed and the caller should
 * exit 0, -1 on error (message printed to stderr).
 */
int config_from_args(int *argc, char **argv, config_t *out);

#endif
