/*
 * config.c - the configuration every updraft binary reads.
 *
 * One table (config_keys below) lists every key: section, name, type,
 * default, bounds, flags and where it lives in config_t. Everything else is
 * driven by it:
 *
 *   defaults    each default is text, parsed by the same code as file and
 *               environment values, so a bad default cannot hide;
 *   the file    a libcyaml schema is built from the table at load time: the
 *               document is a mapping of sections, each a mapping of
 *               optional keys. Unknown keys, non-scalar values, duplicate
 *               keys and YAML syntax errors are rejected by libcyaml, whose
 *               log lines (the only place 1.3 reports positions) are
 *               captured and turned into "path:line:col: message". Every
 *               scalar is read as a string and then typed here, because
 *               libcyaml 1.3 reads "12abc" as the integer 12 and anything
 *               that is not false-like as true. Positions of the errors
 *               found here come from a short libyaml pass over the file;
 *   environment UPDRAFT__SECTION__KEY, upper case, wins over the file;
 *               unknown UPDRAFT__* names only draw a warning;
 *   printing    config_print walks the table, masking secret keys;
 *   docs        each row's range and description make the key reference
 *               of docs/configuration.md (config_write_markdown).
 */
#include "core/config.h"

#include <cyaml/cyaml.h>
#include <yaml.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/envname.h"
#include "core/db.h"
#include "core/error.h"
#include "core/errbuf.h"
#include "core/log.h"
#include "core/queue.h"
#include "core/secrets.h"
#include "core/sentinel.h"

#define CONFIG_MAX_FILE_BYTES (1024 * 1024)
#define CONFIG_MAX_VALUE_LEN 4096
#define CONFIG_DEFAULT_FILE "updraft.yaml"

typedef enum key_type { KEY_BOOL, KEY_INT, KEY_STRING } key_type_t;

enum {
    KEY_SECRET = 1 << 0,        /* may carry a password: masked when printed */
    KEY_NONEMPTY = 1 << 1,      /* an empty string is an error */
    KEY_LOG_LEVEL = 1 << 2,     /* must be a level log_parse_level() knows */
    KEY_SECRET_VALUE = 1 << 3,  /* the whole value is a secret: printed as *** when set */
    KEY_CONN_LIST = 1 << 4,     /* comma-separated connection ids, may be empty */
    KEY_AUTH = 1 << 5,          /* "password" or "none" */
    KEY_FERNET = 1 << 6,        /* empty, or keys secrets_keyring_new accepts (none weak) */
    KEY_ENV_LIST = 1 << 7,      /* environment variable names and PREFIX*, comma-separated */
    KEY_IGNORE_SYNTAX = 1 << 8, /* "regexp" or "glob" (.airflowignore) */
    KEY_POOLER = 1 << 9,        /* "none" or "transaction" */
    KEY_LOG_FORMAT = 1 << 10,   /* a format log_parse_format() knows */
    KEY_STAT_NAME = 1 << 11,    /* a StatsD name: [A-Za-z0-9_.-], at most 100 characters */
    KEY_STAT_LIST = 1 << 12     /* StatsD name prefixes, comma-separated, may be empty */
};

typedef struct key_def {
    int section; /* index into section_names */
    const char *key;
    key_type_t type;
    const char *def;
    long long min, max; /* KEY_INT only */
    unsigned flags;
    size_t offset;     /* into config_t */
    const char *range; /* docs: the values it takes, as docs/configuration.md says them */
    const char *doc;   /* docs: what it does (Markdown, one paragraph) */
} key_def_t;

enum {
    SEC_CORE,
    SEC_DATABASE,
    SEC_REDIS,
    SEC_WEBSERVER,
    SEC_SCHEDULER,
    SEC_WORKER,
    SEC_LOGGING,
    SEC_ALERTS,
    SEC_METRICS,
    SEC_COUNT
};

static const char *const section_names[SEC_COUNT] = {
    "core", "database", "redis", "webserver", "scheduler", "worker", "logging", "alerts", "metrics",
};

/* Docs: what docs/configuration.md says above a section's table ("" none). */
static const char *const section_docs[SEC_COUNT] = {
    [SEC_ALERTS] = "Slack and webhook alerts, sent by the scheduler (`docs/alerts.md`). Lists of "
                   "connection ids are comma-separated (`slack_default, ops_hook`); each id is "
                   "made of letters, digits, `_`, `.` and `-`.",
    [SEC_METRICS] = "Airflow's metrics (`docs/metrics.md`): every daemon keeps them for "
                    "Prometheus (`GET /metrics` on its `--health-port`, and on the webserver) and, "
                    "with `statsd_on`, sends them as StatsD datagrams under Airflow's names.",
};

#define OFF(m) offsetof(config_t, m)

/* Keep in section order. The last two fields are the documentation:
 * docs/configuration.md's key reference is generated from them
 * (config_write_markdown, `make docs-config`; `make check-tree` compares). */
static const key_def_t config_keys[] = {
    {SEC_CORE, "dags_folder", KEY_STRING, "./dags", 0, 0, KEY_NONEMPTY, OFF(core.dags_folder),
     "non-empty",
     "Folder the scheduler scans for DAG files (YAML). Only the scheduler needs it: workers run "
     "tasks from the DAG versions stored in Postgres, and the webserver serves a DAG file's text "
     "(`dagSources`, the Code view) from the copy stored with each version."},
    {SEC_CORE, "dags_are_paused_at_creation", KEY_BOOL, "true", 0, 0, 0,
     OFF(core.dags_are_paused_at_creation), "boolean",
     "Whether a DAG seen for the first time starts paused (as Airflow's setting of the same "
     "name)."},
    {SEC_CORE, "hostname", KEY_STRING, "", 0, 0, 0, OFF(core.hostname), "string",
     "The name this process records for itself (task instances, heartbeats, logs). Empty means the "
     "machine's `gethostname()`, filled in at start."},
    {SEC_CORE, "fernet_key", KEY_STRING, "", 0, 0, KEY_SECRET_VALUE | KEY_FERNET,
     OFF(core.fernet_key), "base64 of 32 random bytes, comma-separated list; secret",
     "Key(s) that encrypt connection passwords and extras and variable values at rest "
     "(AES-256-GCM, see `docs/secrets.md`). The first key encrypts, every key decrypts (as "
     "Airflow's `fernet_key` with MultiFernet), so rotation is `NEW,OLD` then `updraft "
     "rotate-fernet-key`. Make one with `openssl rand -base64 32`. A key that is not random (all "
     "zero, one byte or a short block repeated, a counting sequence, printable text) is a "
     "configuration error: every program refuses to start with it. Never stored in the database, "
     "printed as `***` by `--print-config`, never logged. Empty: nothing secret can be stored "
     "(connections with a password or extra, and variables with sensitive names, are refused). The "
     "webserver and the CLI need it, and so do workers: a task whose templates use `var` or `conn` "
     "(variables or connections) cannot be rendered without the key that encrypted them, and "
     "fails."},
    {SEC_CORE, "max_xcom_size", KEY_INT, "49152", 1024, 1073741824, 0, OFF(core.max_xcom_size),
     "1024..1073741824",
     "The largest XCom value a task may push, in bytes: the last output line pushed as "
     "`return_value` (`do_xcom_push`) and each value a task writes to its XCom file. A larger "
     "value fails the try with a message naming this setting. Only workers read it."},
    {SEC_CORE, "max_map_length", KEY_INT, "1024", 1, 100000, 0, OFF(core.max_map_length),
     "1..100000",
     "The most task instances one mapped task may expand into (Airflow's `max_map_length`); "
     "expanding into more fails the task. The scheduler and workers both read it."},
    {SEC_CORE, "max_templated_field_length", KEY_INT, "4096", 100, 1048576, 0,
     OFF(core.max_templated_field_length), "100..1048576",
     "The most characters of one rendered templated field the worker stores for the web UI and the "
     "API's `rendered_fields` (Airflow's setting of the same name): a longer value (a string, or "
     "the JSON text of `env` or an argument) is stored as Airflow's truncated form, `Truncated. "
     "You can change this behaviour in [core]max_templated_field_length. '<its first 4017 "
     "characters>'... `. The task itself gets the whole value. Only workers read it."},
    {SEC_CORE, "max_num_rendered_ti_fields_per_task", KEY_INT, "30", 0, 100000, 0,
     OFF(core.max_num_rendered_ti_fields_per_task), "0..100000",
     "The rendered fields of a task are kept for its instances in the latest this many runs of the "
     "DAG (by logical date), as Airflow's setting of the same name; older ones are deleted when a "
     "worker stores new ones for that task. `0` keeps them all (they still go with their run). "
     "Only workers read it."},
    {SEC_CORE, "test_connection", KEY_STRING, "Disabled", 0, 0, 0, OFF(core.test_connection),
     "string",
     "Whether `POST /api/v1/connections/test` may test a connection (Airflow's setting of the same "
     "name and default): `Enabled` (any case) lets it reach out, anything else (`Disabled`, "
     "Airflow's `Hidden`) answers 403. A test makes the webserver connect to the host the request "
     "names (an HTTP GET, a Postgres login), so enable it only when everyone who may edit "
     "connections is trusted with that. Only the webserver reads it."},
    {SEC_CORE, "dag_env_allowlist", KEY_STRING, "CONFIG_ROOT_DIR,AIRFLOW_HOME", 0, 0, KEY_ENV_LIST,
     OFF(core.dag_env_allowlist), "comma-separated names; `PREFIX*` for a prefix; may be empty",
     "The environment variables that `$NAME` / `${NAME}` in a DAG file may read (dag-factory's "
     "expansion, `docs/dag-format.md`): a name that is not listed stays as written. The default is "
     "what dag-factory's examples use. updraft's own variables can never be read, whatever this "
     "says: every `UPDRAFT_*` (settings such as the fernet key and the database URL, "
     "`UPDRAFT_CONN_*`, `UPDRAFT_VAR_*`), Airflow's `AIRFLOW__*`, `AIRFLOW_CONN_*`, "
     "`AIRFLOW_VAR_*`, and libpq's `PG*`: a DAG file naming one is an error at its "
     "`path:line:col`, and a list naming one is refused at start. Empty: no expansion at all. The "
     "scheduler and `updraft dags validate` read it."},
    {SEC_CORE, "dag_ignore_file_syntax", KEY_STRING, "glob", 0, 0, KEY_NONEMPTY | KEY_IGNORE_SYNTAX,
     OFF(core.dag_ignore_file_syntax), "`glob` or `regexp`",
     "The syntax of `.airflowignore` files in `dags_folder` and its subfolders "
     "(`docs/dag-format.md`), as Airflow's: `glob` is gitignore's (Airflow 3's default), `regexp` "
     "a search for each pattern in the path (Airflow 2's default). The scheduler reads it."},
    {SEC_DATABASE, "url", KEY_STRING, "postgresql:///updraft", 0, 0, KEY_SECRET | KEY_NONEMPTY,
     OFF(database.url), "non-empty; secret",
     "The Postgres connection, as a `postgresql://` URI or libpq `key=value` string (anything "
     "libpq accepts). The default connects over the local Unix socket to database `updraft`. Its "
     "password is masked whenever it is printed or logged."},
    {SEC_DATABASE, "pooler", KEY_STRING, "none", 0, 0, KEY_NONEMPTY | KEY_POOLER,
     OFF(database.pooler), "`none` or `transaction`",
     "`transaction` when `url` is a connection pooler in transaction pooling mode (PgBouncer's "
     "`pool_mode = transaction`, what Airflow's Helm chart deploys): every statement is sent "
     "unnamed (no named prepared statements, which do not survive transaction pooling) and the "
     "listening connections use `direct_url`. `none` (Postgres itself, or PgBouncer in session "
     "mode) prepares each "
     "statement once per connection, which is faster. Every program reads it; see "
     "[operations.md](operations.md#behind-pgbouncer)."},
    {SEC_DATABASE, "direct_url", KEY_STRING, "", 0, 0, KEY_SECRET, OFF(database.direct_url),
     "secret; required when `pooler` is `transaction`",
     "Postgres itself, bypassing the pooler, as `url` is written. Used only behind a pooler, and "
     "only for the LISTEN connections (the scheduler's loop and alerter, the webserver's response "
     "cache and live updates): two per scheduler, two per webserver. Its password is masked like "
     "`url`'s."},
    {SEC_REDIS, "url", KEY_STRING, "redis://127.0.0.1:6379/0", 0, 0, KEY_SECRET | KEY_NONEMPTY,
     OFF(redis.url), "non-empty; secret",
     "The Redis server holding the task queues: `redis://[[user]:password@]host[:port][/db]`. Its "
     "password is masked whenever it is printed or logged."},
    {SEC_REDIS, "timeout_ms", KEY_INT, "5000", 100, 600000, 0, OFF(redis.timeout_ms), "100..600000",
     "Connect and command timeout for Redis, in milliseconds."},
    {SEC_REDIS, "sentinels", KEY_STRING, "", 0, 0, 0, OFF(redis.sentinels),
     "`host[:port]` list, comma-separated (port 26379 by default); empty: off",
     "Redis Sentinels to ask for the master instead of connecting to `url`'s host and port: "
     "every program asks them for the master of `master_name` on each (re)connect, checks that "
     "the node it names is the master, and asks again after a connection error or a `READONLY` "
     "reply (a failover). `url`'s password and database number still apply. Use three or more "
     "sentinels; see [deploy.md](deploy.md#redis-high-availability-with-sentinel)."},
    {SEC_REDIS, "master_name", KEY_STRING, "mymaster", 0, 0, KEY_NONEMPTY, OFF(redis.master_name),
     "non-empty", "The name the sentinels monitor the master under (`sentinel monitor NAME ...`)."},
    {SEC_REDIS, "sentinel_password", KEY_STRING, "", 0, 0, KEY_SECRET_VALUE,
     OFF(redis.sentinel_password), "secret; empty: none",
     "Password sent with `AUTH` to the sentinels (their `requirepass`), when they have one. The "
     "master's own password is the one in `url`."},
    {SEC_WEBSERVER, "listen", KEY_STRING, "127.0.0.1:8080", 0, 0, KEY_NONEMPTY,
     OFF(webserver.listen), "non-empty",
     "Address and port the webserver listens on. Loopback by default: put a TLS reverse proxy in "
     "front, or set `0.0.0.0:8080` deliberately."},
    {SEC_WEBSERVER, "base_url", KEY_STRING, "http://127.0.0.1:8080", 0, 0, KEY_NONEMPTY,
     OFF(webserver.base_url), "non-empty",
     "The URL users reach the webserver at (behind the proxy), used in links the server generates, "
     "such as log URLs and alert messages."},
    {SEC_WEBSERVER, "threads", KEY_INT, "32", 1, 256, 0, OFF(webserver.threads), "1..256",
     "Request worker threads. Each serves one keep-alive connection at a time and uses at most one "
     "database connection, so this also bounds the webserver's Postgres connections."},
    {SEC_WEBSERVER, "cache_mb", KEY_INT, "32", 0, 4096, 0, OFF(webserver.cache_mb), "0..4096",
     "Memory for the response cache of the DAG and import-error endpoints (least recently used "
     "answers go first; an answer over 1 MiB is never kept). `0` turns the cache off. It holds one "
     "more Postgres connection, for `LISTEN updraft_api`. See \"Caching and consistency\" in "
     "docs/api.md."},
    {SEC_WEBSERVER, "auth", KEY_STRING, "password", 0, 0, KEY_NONEMPTY | KEY_AUTH,
     OFF(webserver.auth), "`password` or `none`",
     "`password`: every request but `/health`, `/api/v1/version` and the login page needs a user "
     "(session cookie, HTTP Basic or a bearer token; see docs/security.md). `none`: everyone may "
     "do everything, as Airflow's `auth_backends = airflow.api.auth.backend.default`; the "
     "webserver refuses to start with it unless `listen` is a loopback address."},
    {SEC_WEBSERVER, "session_idle_minutes", KEY_INT, "480", 1, 525600, 0,
     OFF(webserver.session_idle_minutes), "1..525600",
     "A browser session not used for this long ends (the user logs in again)."},
    {SEC_WEBSERVER, "session_max_hours", KEY_INT, "168", 1, 8760, 0,
     OFF(webserver.session_max_hours), "1..8760",
     "A browser session ends this long after its login, used or not."},
    {SEC_WEBSERVER, "login_failures_per_user", KEY_INT, "10", 1, 100000, 0,
     OFF(webserver.login_failures_per_user), "1..100000",
     "Failed logins (login page or HTTP Basic) allowed for one username per 5 minutes, in a burst; "
     "beyond it, attempts for that username get `429` with `Retry-After` until the allowance "
     "refills. Counted per webserver process."},
    {SEC_WEBSERVER, "login_failures_per_address", KEY_INT, "30", 1, 100000, 0,
     OFF(webserver.login_failures_per_address), "1..100000",
     "The same, per client address, whatever username it tries."},
    {SEC_WEBSERVER, "request_timeout_ms", KEY_INT, "10000", 500, 600000, 0,
     OFF(webserver.request_timeout_ms), "500..600000",
     "A request's head (request line and headers) must arrive whole within this time, and so must "
     "its body once the handler reads it; a late head is answered `400`, a late body `408`, and "
     "the connection is closed. Also the longest wait for one write to a client. Every connection "
     "holds a worker thread meanwhile, so this is how long a slow client can keep one. See \"HTTP "
     "hardening\" in docs/security.md."},
    {SEC_WEBSERVER, "max_connections_per_address", KEY_INT, "16", 0, 100000, 0,
     OFF(webserver.max_connections_per_address), "0..100000",
     "Connections one client address may hold open at once (queued ones included); a connection "
     "beyond it is answered `429` and closed as soon as it is accepted. Keep it below `threads`, "
     "so that no single address can hold every worker thread (the webserver warns at start "
     "otherwise). `0`: no limit. Behind a reverse proxy every client shares the proxy's address: "
     "list the proxy in `trusted_proxies`, which exempts it from this limit (the proxy limits its "
     "clients)."},
    {SEC_WEBSERVER, "allowed_hosts", KEY_STRING, "", 0, 0, 0, OFF(webserver.allowed_hosts),
     "comma-separated host names, or `*`",
     "Host names the webserver answers to besides `base_url`'s host and the `listen` address's "
     "(and `localhost` when listening on loopback or on every address; IP addresses always pass). "
     "A request whose `Host` header names anything else is refused with `400`, which defeats DNS "
     "rebinding. Ports are not compared. `*` turns the check off."},
    {SEC_WEBSERVER, "trusted_proxies", KEY_STRING, "", 0, 0, 0, OFF(webserver.trusted_proxies),
     "comma-separated IP addresses or `ADDRESS/PREFIX` networks (at most 64)",
     "Peers whose `X-Forwarded-For` and `X-Forwarded-Proto` headers are believed: the reverse "
     "proxy in front (`127.0.0.1` for deploy/nginx/updraft.conf on the same host). From such a "
     "peer the client address used by the login throttling, the audit log and the session record "
     "is the right-most `X-Forwarded-For` entry that is not itself a trusted proxy, session "
     "cookies are `Secure` when `X-Forwarded-Proto` is `https`, and `max_connections_per_address` "
     "does not apply to it. Empty: nobody is trusted and every peer is the client, whatever it "
     "sends. A value that is not an address stops the webserver at start. See \"Behind a reverse "
     "proxy\" in docs/security.md."},
    {SEC_SCHEDULER, "dag_dir_list_interval", KEY_INT, "5", 1, 86400, 0,
     OFF(scheduler.dag_dir_list_interval), "1..86400",
     "Seconds between scans of `dags_folder` for new, changed and deleted files."},
    {SEC_SCHEDULER, "catchup_by_default", KEY_BOOL, "true", 0, 0, 0,
     OFF(scheduler.catchup_by_default), "boolean",
     "The `catchup` of DAGs that do not set it: whether runs are created for every interval since "
     "`start_date` (true) or only the latest one (false), as in Airflow."},
    {SEC_SCHEDULER, "heartbeat_sec", KEY_INT, "5", 1, 3600, 0, OFF(scheduler.heartbeat_sec),
     "1..3600", "How often the scheduler heartbeats (records that it is alive)."},
    {SEC_SCHEDULER, "queued_resend_after_sec", KEY_INT, "30", 1, 86400, 0,
     OFF(scheduler.queued_resend_after_sec), "1..86400",
     "A task instance still `queued` after this many seconds has its queue message sent again "
     "(after a crash between commit and enqueue, or a Redis restart). Duplicates are harmless."},
    {SEC_SCHEDULER, "max_tis_per_query", KEY_INT, "512", 1, 100000, 0,
     OFF(scheduler.max_tis_per_query), "1..100000",
     "Most task instances one scheduling statement takes at once, as Airflow's setting of the same "
     "name."},
    {SEC_SCHEDULER, "zombie_threshold_sec", KEY_INT, "30", 2, 86400, 0,
     OFF(scheduler.zombie_threshold_sec), "2..86400",
     "A running try whose worker has not heart-beaten it for this long is a zombie: it fails, or "
     "retries when tries remain (Airflow's `scheduler_zombie_task_threshold`). Keep it well above "
     "`worker.heartbeat_sec`. A worker that comes back afterwards kills the try and writes "
     "nothing."},
    {SEC_SCHEDULER, "zombie_detection_interval_sec", KEY_INT, "10", 1, 3600, 0,
     OFF(scheduler.zombie_detection_interval_sec), "1..3600",
     "How often the scheduler looks for zombies and stuck queued tries."},
    {SEC_SCHEDULER, "task_queued_timeout_sec", KEY_INT, "600", 1, 604800, 0,
     OFF(scheduler.task_queued_timeout_sec), "1..604800",
     "A try still `queued` after this long (no worker serves its queue) fails, or retries when "
     "tries remain, as Airflow's `task_queued_timeout`."},
    {SEC_WORKER, "queues", KEY_STRING, "default", 0, 0, KEY_NONEMPTY, OFF(worker.queues),
     "non-empty",
     "Comma-separated queues this worker takes tasks from (`default,gpu`). Tasks choose a queue "
     "with their `queue` argument."},
    {SEC_WORKER, "concurrency", KEY_INT, "16", 1, 4096, 0, OFF(worker.concurrency), "1..4096",
     "Most tasks this worker runs at the same time."},
    {SEC_WORKER, "heartbeat_sec", KEY_INT, "5", 1, 3600, 0, OFF(worker.heartbeat_sec), "1..3600",
     "How often the worker heartbeats its running tasks. A task whose heartbeat stops is failed "
     "(or retried) by the scheduler as a zombie."},
    {SEC_WORKER, "shutdown_grace_sec", KEY_INT, "60", 0, 86400, 0, OFF(worker.shutdown_grace_sec),
     "0..86400",
     "On SIGTERM (warm shutdown) the worker takes no new tries and gives running ones this long to "
     "finish; then it kills them and hands them back, and another worker runs them as the next try "
     "without counting a retry. SIGQUIT or a second signal (cold) hands back at once."},
    {SEC_WORKER, "log_flush_ms", KEY_INT, "200", 10, 60000, 0, OFF(worker.log_flush_ms),
     "10..60000",
     "How often captured task output is shipped to Postgres, in milliseconds; lower means livelier "
     "logs in the UI, more writes."},
    {SEC_WORKER, "max_log_bytes_per_try", KEY_INT, "10485760", 1024, 1073741824, 0,
     OFF(worker.max_log_bytes_per_try), "1024..1073741824",
     "Most log bytes kept for one try of a task."},
    {SEC_WORKER, "default_run_as_user", KEY_STRING, "", 0, 0, 0, OFF(worker.default_run_as_user),
     "a user name",
     "The user that tasks without a `run_as_user` of their own run as (Airflow's "
     "`core.default_impersonation`). Empty: they run as the worker's own user. Switching users "
     "needs a worker started as root; a worker started as another user refuses to start when this "
     "names someone else, and so does one that does not find the user. See `docs/security.md` "
     "\"Task isolation and secrets\". Only workers read it."},
    {SEC_WORKER, "allow_root_tasks", KEY_BOOL, "false", 0, 0, 0, OFF(worker.allow_root_tasks),
     "boolean",
     "Whether a task may run as root (uid 0). False: a task whose `run_as_user` is root fails with "
     "a message naming this key, and a worker started as root with `default_run_as_user` empty "
     "refuses to start (its tasks would run as root). Set it only where tasks are as trusted as "
     "the worker (a developer's container); `updraft standalone` started as root runs tasks as "
     "`nobody` instead when it can. Only workers read it."},
    {SEC_LOGGING, "level", KEY_STRING, "info", 0, 0, KEY_NONEMPTY | KEY_LOG_LEVEL,
     OFF(logging.level), "`debug`, `info`, `warning` (or `warn`), `error`, `off`",
     "Least severe level written to stderr."},
    {SEC_LOGGING, "format", KEY_STRING, "text", 0, 0, KEY_NONEMPTY | KEY_LOG_FORMAT,
     OFF(logging.format), "`text`, `json`",
     "How the programs write their lines to stderr (scheduler, worker, webserver, and the CLI's "
     "own messages). `text`: logfmt, `ts=... level=info component=worker try started "
     "dag_id=...`. `json`: one JSON object per line with `timestamp`, `level`, `component`, "
     "`message` and each `key=value` of the text line as a string member (`dag_id`, `run_id`, "
     "`task_id`, `try_number`...), for a log pipeline (Loki, Elasticsearch); see "
     "`docs/operations.md` \"Logs\". Task output is stored as it is either way."},
    {SEC_LOGGING, "retention_days", KEY_INT, "0", 0, 36500, 0, OFF(logging.retention_days),
     "0..36500",
     "Task log rows (`task_log`, the output of task tries) older than this many days are deleted "
     "by the schedulers in the background: a bounded pass every ten minutes (at most 100,000 "
     "rows), the first at start-up; see `docs/operations.md` \"Task log retention\". 0 keeps them "
     "forever. Only schedulers read it."},
    {SEC_ALERTS, "on_task_failure", KEY_STRING, "", 0, 0, KEY_CONN_LIST,
     OFF(alerts.on_task_failure), "connection ids",
     "Connections alerted when a task fails with no tries left, for every task that sets no "
     "failure alert itself (`on_failure_callback`/`on_failure_alert`, directly or in "
     "`default_args`). Slack or webhook by the connection's type. A task's `on_failure_callback: "
     "null` opts out."},
    {SEC_ALERTS, "on_task_retry", KEY_STRING, "", 0, 0, KEY_CONN_LIST, OFF(alerts.on_task_retry),
     "connection ids", "The same for a failed try that will be retried."},
    {SEC_ALERTS, "on_dag_failure", KEY_STRING, "", 0, 0, KEY_CONN_LIST, OFF(alerts.on_dag_failure),
     "connection ids",
     "The same for a failed DAG run, for DAGs that set no DAG-level failure alert."},
    {SEC_ALERTS, "on_sla_miss", KEY_STRING, "", 0, 0, KEY_CONN_LIST, OFF(alerts.on_sla_miss),
     "connection ids",
     "The same for SLA misses, for DAGs that set no `sla_miss_callback`/`sla_miss_alert`."},
    {SEC_ALERTS, "give_up_after_sec", KEY_INT, "3600", 1, 604800, 0, OFF(alerts.give_up_after_sec),
     "1..604800",
     "A delivery still failing (5xx, 429, network errors) this long after it was queued is marked "
     "failed, with the reason in `alert_delivery.last_error`."},
    {SEC_ALERTS, "request_timeout_sec", KEY_INT, "10", 1, 300, 0, OFF(alerts.request_timeout_sec),
     "1..300",
     "Limit of one HTTP attempt (connect at most 10 s of it). A delivery in flight is leased for "
     "this + 5 s: after a scheduler dies, another takes it over once the lease ends."},
    {SEC_ALERTS, "max_retry_after_sec", KEY_INT, "300", 1, 86400, 0,
     OFF(alerts.max_retry_after_sec), "1..86400",
     "A 429's `Retry-After` is honoured up to this many seconds."},
    {SEC_ALERTS, "max_backoff_sec", KEY_INT, "300", 1, 86400, 0, OFF(alerts.max_backoff_sec),
     "1..86400",
     "Cap of the exponential backoff (1 s, 2 s, 4 s ..., jittered) between attempts after a 5xx or "
     "a network error."},
    {SEC_ALERTS, "max_in_flight", KEY_INT, "8", 1, 256, 0, OFF(alerts.max_in_flight), "1..256",
     "Deliveries one scheduler sends at the same time (and connections it opens)."},
    {SEC_ALERTS, "sweep_interval_sec", KEY_INT, "30", 1, 3600, 0, OFF(alerts.sweep_interval_sec),
     "1..3600",
     "The sender is woken by `NOTIFY updraft_alerts`; this is the safety timer behind it, for "
     "notifications lost in a reconnect."},
    {SEC_ALERTS, "sla_check_interval_sec", KEY_INT, "10", 1, 3600, 0,
     OFF(alerts.sla_check_interval_sec), "1..3600",
     "How often the scheduler looks for SLA misses."},
    {SEC_ALERTS, "sla_lookback_sec", KEY_INT, "86400", 60, 31536000, 0,
     OFF(alerts.sla_lookback_sec), "60..31536000",
     "SLA misses whose deadline is older than this (found after an outage or in a catch-up) are "
     "not reported."},
    {SEC_ALERTS, "event_retention_days", KEY_INT, "30", 0, 36500, 0,
     OFF(alerts.event_retention_days), "0..36500",
     "Processed callback events older than this are deleted with their finished deliveries, "
     "hourly, in batches (events of deliveries still pending are kept). 0 keeps them forever."},
    {SEC_METRICS, "statsd_on", KEY_BOOL, "false", 0, 0, 0, OFF(metrics.statsd_on), "boolean",
     "Whether the scheduler, workers and webserver send their metrics as StatsD UDP datagrams to "
     "`statsd_host`:`statsd_port` (Airflow's `metrics.statsd_on`). `/metrics` for Prometheus "
     "works either way."},
    {SEC_METRICS, "statsd_host", KEY_STRING, "127.0.0.1", 0, 0, KEY_NONEMPTY,
     OFF(metrics.statsd_host), "host name or IP address",
     "Where the StatsD datagrams go (a StatsD server, or a `statsd_exporter`). Resolved once at "
     "start; a name that does not resolve stops the daemon when `statsd_on` is set."},
    {SEC_METRICS, "statsd_port", KEY_INT, "8125", 1, 65535, 0, OFF(metrics.statsd_port), "1..65535",
     "UDP port of `statsd_host`."},
    {SEC_METRICS, "statsd_prefix", KEY_STRING, "airflow", 0, 0, KEY_NONEMPTY | KEY_STAT_NAME,
     OFF(metrics.statsd_prefix), "letters, digits, `_`, `.`, `-`; at most 100 characters",
     "Put before every StatsD name with a dot (`airflow.ti.start.DAG.TASK`), as Airflow's "
     "`metrics.statsd_prefix`."},
    {SEC_METRICS, "statsd_allow_list", KEY_STRING, "", 0, 0, KEY_STAT_LIST,
     OFF(metrics.statsd_allow_list), "comma-separated name prefixes; may be empty",
     "When set, only StatsD names (without `statsd_prefix`) starting with one of these prefixes "
     "are sent, compared without regard to case, as Airflow's `metrics.metrics_allow_list` "
     "(`scheduler,ti.finish`). Wins over `statsd_block_list`. Prometheus sees every metric "
     "either way."},
    {SEC_METRICS, "statsd_block_list", KEY_STRING, "", 0, 0, KEY_STAT_LIST,
     OFF(metrics.statsd_block_list), "comma-separated name prefixes; may be empty",
     "StatsD names starting with one of these prefixes are not sent, as Airflow's "
     "`metrics.metrics_block_list`; ignored when `statsd_allow_list` is set."},
    {SEC_METRICS, "statsd_flush_ms", KEY_INT, "1000", 10, 60000, 0, OFF(metrics.statsd_flush_ms),
     "10..60000",
     "StatsD lines are packed into datagrams of at most 1432 bytes; a datagram that is not full "
     "is sent after this many milliseconds at most (and when the daemon stops)."},
    {SEC_METRICS, "max_series_per_metric", KEY_INT, "1000", 1, 1000000, 0,
     OFF(metrics.max_series_per_metric), "1..1000000",
     "The most label sets (series) one metric keeps per process for `/metrics`; a new label set "
     "past it is counted in one series whose labels all read `__overflow__`. Bounds the memory "
     "and the size of a scrape when DAG, task or pool names are many (up to about 250 bytes a "
     "series; "
     "see `docs/metrics.md`). StatsD is not bounded by it."},
};

#define CONFIG_NKEYS (sizeof(config_keys) / sizeof(config_keys[0]))

/* ---- small helpers ----------------------------------------------------- */

static void env_name(const key_def_t *k, char *buf, size_t len)
{
    snprintf(buf, len, "UPDRAFT__%s__%s", section_names[k->section], k->key);
    for (char *p = buf; *p; p++)
        *p = (char)toupper((unsigned char)*p);
}

static const key_def_t *find_key(int section, const char *key)
{
    for (size_t i = 0; i < CONFIG_NKEYS; i++)
        if (config_keys[i].section == section && strcmp(config_keys[i].key, key) == 0)
            return &config_keys[i];
    return NULL;
}

/* Index of k among the keys of its section. */
static size_t key_slot(const key_def_t *k)
{
    size_t slot = 0;
    for (const key_def_t *p = config_keys; p < k; p++)
        if (p->section == k->section)
            slot++;
    return slot;
}

static size_t section_nkeys(int section)
{
    size_t n = 0;
    for (size_t i = 0; i < CONFIG_NKEYS; i++)
        if (config_keys[i].section == section)
            n++;
    return n;
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

static int parse_int(const char *s, long long *out)
{
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    if (!isdigit((unsigned char)*p))
        return -1;
    for (; *p; p++)
        if (!isdigit((unsigned char)*p))
            return -1;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE)
        return -1;
    *out = v;
    return 0;
}

/* "a, b.c,d-e" or "": connection ids (as connection_validate accepts) between commas. */
static bool valid_conn_list(const char *s)
{
    size_t n = 0;
    for (const char *p = s;; p++) {
        if (*p == ',' || *p == '\0') {
            if (n == 0 && (*p == ',' || p != s))
                return false; /* an empty item */
            n = 0;
            if (*p == '\0')
                return true;
            while (p[1] == ' ')
                p++;
            continue;
        }
        if (*p == ' ') {
            while (p[1] == ' ')
                p++;
            if (p[1] != ',' && p[1] != '\0')
                return false;
            continue;
        }
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-')
            return false;
        if (++n > 250)
            return false;
    }
}

/* A StatsD name of at most max characters: [A-Za-z0-9_.-] (Airflow's stat name check). */
static bool valid_stat_name(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
            return false;
    return true;
}

/* "scheduler, ti.finish" or "": StatsD name prefixes between commas (blanks around them). */
static bool valid_stat_list(const char *s)
{
    for (const char *p = s; *p;) {
        size_t n = strcspn(p, ",");
        const char *item = p;
        size_t len = n;
        while (len && *item == ' ')
            item++, len--;
        while (len && item[len - 1] == ' ')
            len--;
        if (len == 0 || len > 250)
            return false;
        for (size_t i = 0; i < len; i++)
            if (!isalnum((unsigned char)item[i]) && item[i] != '_' && item[i] != '.' &&
                item[i] != '-')
                return false;
        p += n;
        if (*p == ',' && *++p == '\0')
            return false; /* a trailing comma */
    }
    return true;
}

/*
 * An allow-list of environment variable names (core/envname.h) that names
 * none of updraft's own: DAG files never read those, and a list that
 * seems to say otherwise is a mistake worth stopping at.
 */
static bool valid_env_list(const char *s, char *err, size_t errlen, const char *where,
                           const char *sec, const char *key)
{
    if (!envname_list_valid(s)) {
        errbuf_set(err, errlen,
                   "%s: %s.%s: '%.200s' is not a comma-separated list of environment variable "
                   "names (letters, digits, '_'; a trailing '*' for a prefix)",
                   where, sec, key, s);
        return false;
    }
    for (const char *p = s; *p;) {
        size_t n = strcspn(p, ",");
        const char *item = p;
        size_t len = n;
        while (len && *item == ' ')
            item++, len--;
        while (len && (item[len - 1] == ' ' || item[len - 1] == '*'))
            len--;
        if (envname_reserved(item, len)) {
            errbuf_set(
                err, errlen,
                "%s: %s.%s: '%.*s' is one of updraft's own variables (UPDRAFT_*, "
                "AIRFLOW__*, AIRFLOW_CONN_*, AIRFLOW_VAR_*, PG*), which DAG files never read",
                where, sec, key, (int)(len > 100 ? 100 : len), item);
            return false;
        }
        p += n + (p[n] == ',');
    }
    return true;
}

/*
 * Types text and stores it into c. where names the source for messages
 * ("file.yaml:3:12", "environment variable UPDRAFT__X__Y", "default").
 * Values of secret keys are never echoed.
 */
static int apply_value(config_t *c, const key_def_t *k, const char *text, const char *where,
                       char *err, size_t errlen)
{
    const char *sec = section_names[k->section];
    char *base = (char *)c + k->offset;
    switch (k->type) {
    case KEY_BOOL: {
        bool b;
        if (parse_bool(text, &b) < 0) {
            errbuf_set(err, errlen,
                       "%s: %s.%s: '%s' is not a boolean (true/false, yes/no, on/off, 1/0)", where,
                       sec, k->key, text);
            return -1;
        }
        *(bool *)(void *)base = b;
        return 0;
    }
    case KEY_INT: {
        long long v;
        if (parse_int(text, &v) < 0) {
            errbuf_set(err, errlen, "%s: %s.%s: '%s' is not an integer", where, sec, k->key, text);
            return -1;
        }
        if (v < k->min || v > k->max) {
            errbuf_set(err, errlen, "%s: %s.%s: %lld is out of range %lld..%lld", where, sec,
                       k->key, v, k->min, k->max);
            return -1;
        }
        *(int *)(void *)base = (int)v;
        return 0;
    }
    case KEY_STRING: {
        if ((k->flags & KEY_NONEMPTY) && text[0] == '\0') {
            errbuf_set(err, errlen, "%s: %s.%s: must not be empty", where, sec, k->key);
            return -1;
        }
        if (strlen(text) > CONFIG_MAX_VALUE_LEN) {
            errbuf_set(err, errlen, "%s: %s.%s: longer than %d bytes", where, sec, k->key,
                       CONFIG_MAX_VALUE_LEN);
            return -1;
        }
        if ((k->flags & KEY_CONN_LIST) && !valid_conn_list(text)) {
            errbuf_set(err, errlen,
                       "%s: %s.%s: '%.200s' is not a comma-separated list of connection ids "
                       "(letters, digits, '_', '.', '-')",
                       where, sec, k->key, text);
            return -1;
        }
        if ((k->flags & KEY_ENV_LIST) && !valid_env_list(text, err, errlen, where, sec, k->key))
            return -1;
        if ((k->flags & KEY_AUTH) && strcmp(text, "password") != 0 && strcmp(text, "none") != 0) {
            errbuf_set(err, errlen, "%s: %s.%s: '%s' is not an auth mode (password, none)", where,
                       sec, k->key, text);
            return -1;
        }
        if ((k->flags & KEY_IGNORE_SYNTAX) && strcmp(text, "regexp") != 0 &&
            strcmp(text, "glob") != 0) {
            errbuf_set(err, errlen,
                       "%s: %s.%s: '%.200s' is not an ignore file syntax (regexp, glob)", where,
                       sec, k->key, text);
            return -1;
        }
        if ((k->flags & KEY_POOLER) && strcmp(text, "none") != 0 &&
            strcmp(text, "transaction") != 0) {
            errbuf_set(err, errlen, "%s: %s.%s: '%.200s' is not a pooler mode (none, transaction)",
                       where, sec, k->key, text);
            return -1;
        }
        if ((k->flags & KEY_STAT_NAME) && !valid_stat_name(text, 100)) {
            errbuf_set(err, errlen,
                       "%s: %s.%s: '%.200s' is not a StatsD name (letters, digits, '_', '.', '-'; "
                       "at most 100 characters)",
                       where, sec, k->key, text);
            return -1;
        }
        if ((k->flags & KEY_STAT_LIST) && !valid_stat_list(text)) {
            errbuf_set(err, errlen,
                       "%s: %s.%s: '%.200s' is not a comma-separated list of StatsD name prefixes "
                       "(letters, digits, '_', '.', '-')",
                       where, sec, k->key, text);
            return -1;
        }
        if ((k->flags & KEY_FERNET) && text[0]) {
            /* Checked here so that every program refuses a malformed or
             * weak key when it starts, not at the first secret it reads. */
            char why[256];
            secrets_keyring_t *ring = secrets_keyring_new(text, why, sizeof(why));
            if (!ring) {
                errbuf_set(err, errlen, "%s: %s", where, why);
                return -1;
            }
            secrets_keyring_free(ring);
        }
        if (k->flags & KEY_LOG_FORMAT) {
            log_format_t format;
            if (log_parse_format(text, &format) < 0) {
                errbuf_set(err, errlen, "%s: %s.%s: '%.200s' is not a log format (text, json)",
                           where, sec, k->key, text);
                return -1;
            }
        }
        if (k->flags & KEY_LOG_LEVEL) {
            log_level_t level;
            if (log_parse_level(text, &level) < 0) {
                errbuf_set(err, errlen,
                           "%s: %s.%s: '%s' is not a log level (debug, info, warning, error, off)",
                           where, sec, k->key, text);
                return -1;
            }
        }
        char *dup = strdup(text);
        if (dup == NULL) {
            errbuf_set(err, errlen, "%s: %s.%s: out of memory", where, sec, k->key);
            return -1;
        }
        char **slot = (char **)(void *)base;
        free(*slot);
        *slot = dup;
        return 0;
    }
    }
    return -1;
}

/* ---- the file: libcyaml schema and error capture ----------------------- */

typedef struct cyaml_log_capture {
    char lines[12][256];
    int n;
} cyaml_log_capture_t;

static void capture_cyaml_log(cyaml_log_t level, void *ctx, const char *fmt, va_list args)
{
    cyaml_log_capture_t *cap = ctx;
    (void)level;
    if (cap->n >= (int)(sizeof(cap->lines) / sizeof(cap->lines[0])))
        return;
    char *line = cap->lines[cap->n++];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    vsnprintf(line, sizeof(cap->lines[0]), fmt, args);
#pragma GCC diagnostic pop
    size_t len = strlen(line);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = '\0';
}

/*
 * Turns captured libcyaml lines such as
 *   Load: Invalid INT value: 'abc'
 *   Load: Backtrace:
 *     in mapping field 'a' (line: 2, column: 6)
 *     in mapping field 'core' (line: 2, column: 3)
 * into "path:2:6: invalid INT value: 'abc' (at core.a)".
 */
static void format_cyaml_error(const char *path, cyaml_err_t rc, const cyaml_log_capture_t *cap,
                               char *err, size_t errlen)
{
    char problem[256] = "";
    char keypath[256] = "";
    int line = 0, col = 0;
    const char *fields[12];
    int nfields = 0;

    for (int i = 0; i < cap->n; i++) {
        const char *l = cap->lines[i];
        while (*l == ' ')
            l++;
        if (strncmp(l, "Load: ", 6) == 0)
            l += 6;
        if (strncmp(l, "in mapping", 10) == 0) {
            int ln, cl;
            const char *pos = strstr(l, "(line: ");
            if (pos != NULL && line == 0 && sscanf(pos, "(line: %d, column: %d)", &ln, &cl) == 2) {
                line = ln;
                col = cl;
            }
            if (strncmp(l, "in mapping field '", 18) == 0 && nfields < 12)
                fields[nfields++] = l + 18;
            continue;
        }
        if (strcmp(l, "Backtrace:") == 0 || problem[0] != '\0')
            continue;
        if (strncmp(l, "libyaml: ", 9) == 0)
            l += 9;
        snprintf(problem, sizeof(problem), "%s", l);
    }
    /* fields run innermost first; the key path reads outermost first */
    for (int i = nfields - 1; i >= 0; i--) {
        size_t used = strlen(keypath);
        const char *end = strchr(fields[i], '\'');
        int flen = end ? (int)(end - fields[i]) : (int)strlen(fields[i]);
        snprintf(keypath + used, sizeof(keypath) - used, "%s%.*s", used ? "." : "", flen,
                 fields[i]);
    }
    if (problem[0] == '\0')
        snprintf(problem, sizeof(problem), "%s", cyaml_strerror(rc));
    else
        problem[0] = (char)tolower((unsigned char)problem[0]);

    char where[512];
    if (line > 0)
        snprintf(where, sizeof(where), "%s:%d:%d", path, line, col);
    else
        snprintf(where, sizeof(where), "%s", path);

    if (strncmp(problem, "unexpected key: ", 16) == 0) {
        errbuf_set(err, errlen, "%s: unknown key '%s%s%s'", where, keypath, keypath[0] ? "." : "",
                   problem + 16);
    } else if (keypath[0] != '\0') {
        errbuf_set(err, errlen, "%s: %s (at %s)", where, problem, keypath);
    } else {
        errbuf_set(err, errlen, "%s: %s", where, problem);
    }
}

/*
 * Finds where the value of section.key starts in the file, for messages
 * about values that libcyaml accepted as strings but we reject. The file
 * has already passed the schema, so its shape is known: a mapping of
 * sections, each null or a mapping of scalars. 0 when found.
 */
static int find_value_position(const char *path, const char *section, const char *key, int *line,
                               int *col)
{
    FILE *f = fopen(path, "rb");
    yaml_parser_t parser;
    yaml_event_t ev;
    int depth = 0, rc = -1;
    bool expect_key = true, in_section = false, key_match = false, done = false;

    if (f == NULL)
        return -1;
    if (!yaml_parser_initialize(&parser)) {
        fclose(f);
        return -1;
    }
    yaml_parser_set_input_file(&parser, f);
    while (!done && yaml_parser_parse(&parser, &ev)) {
        switch (ev.type) {
        case YAML_MAPPING_START_EVENT:
            depth++;
            expect_key = true;
            break;
        case YAML_MAPPING_END_EVENT:
            depth--;
            expect_key = true;
            if (depth == 1)
                in_section = false;
            break;
        case YAML_SCALAR_EVENT: {
            const char *v = (const char *)ev.data.scalar.value;
            if (depth == 1) {
                if (expect_key)
                    in_section = strcmp(v, section) == 0;
                expect_key = !expect_key;
            } else if (depth == 2) {
                if (expect_key) {
                    key_match = in_section && strcmp(v, key) == 0;
                } else if (key_match) {
                    *line = (int)ev.start_mark.line + 1;
                    *col = (int)ev.start_mark.column + 1;
                    rc = 0;
                    done = true;
                }
                expect_key = !expect_key;
            }
            break;
        }
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    fclose(f);
    return rc;
}

static int load_file(const char *path, config_t *c, char *err, size_t errlen)
{
    /* One schema field per key plus a terminator per section, and the
     * top-level fields; sized by constants, filled from the table. */
    cyaml_schema_field_t key_fields[CONFIG_NKEYS + SEC_COUNT];
    cyaml_schema_field_t sec_fields[SEC_COUNT + 1];
    cyaml_schema_value_t top;
    cyaml_log_capture_t cap;
    cyaml_config_t cfg;
    char ***data = NULL;
    struct stat st;
    int rc = -1;

    if (stat(path, &st) < 0) {
        errbuf_set(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        errbuf_set(err, errlen, "%s: not a regular file", path);
        return -1;
    }
    if (st.st_size > CONFIG_MAX_FILE_BYTES) {
        errbuf_set(err, errlen, "%s: larger than %d bytes", path, CONFIG_MAX_FILE_BYTES);
        return -1;
    }

    memset(key_fields, 0, sizeof(key_fields));
    memset(sec_fields, 0, sizeof(sec_fields));
    size_t next = 0;
    for (int s = 0; s < SEC_COUNT; s++) {
        cyaml_schema_field_t *first = &key_fields[next];
        size_t slot = 0;
        for (size_t i = 0; i < CONFIG_NKEYS; i++) {
            if (config_keys[i].section != s)
                continue;
            cyaml_schema_field_t *f = &key_fields[next++];
            f->key = config_keys[i].key;
            f->data_offset = (uint32_t)(slot++ * sizeof(char *));
            f->value.type = CYAML_STRING;
            /* absent, empty and YAML null all leave the pointer NULL */
            f->value.flags = (enum cyaml_flag)(CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER_NULL_STR);
            f->value.data_size = sizeof(char);
            f->value.string.min = 0;
            f->value.string.max = CONFIG_MAX_VALUE_LEN;
        }
        next++; /* zeroed terminator (CYAML_FIELD_END) */
        cyaml_schema_field_t *sf = &sec_fields[s];
        sf->key = section_names[s];
        sf->data_offset = (uint32_t)(s * sizeof(char **));
        sf->value.type = CYAML_MAPPING;
        sf->value.flags = (enum cyaml_flag)(CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER_NULL);
        sf->value.data_size = (uint32_t)(section_nkeys(s) * sizeof(char *));
        sf->value.mapping.fields = first;
    }
    memset(&top, 0, sizeof(top));
    top.type = CYAML_MAPPING;
    top.flags = CYAML_FLAG_POINTER;
    top.data_size = (uint32_t)(SEC_COUNT * sizeof(char **));
    top.mapping.fields = sec_fields;

    memset(&cap, 0, sizeof(cap));
    memset(&cfg, 0, sizeof(cfg));
    cfg.log_fn = capture_cyaml_log;
    cfg.log_ctx = &cap;
    cfg.mem_fn = cyaml_mem;
    cfg.log_level = CYAML_LOG_ERROR;
    /* unknown keys are errors; anchors and aliases have no use here */
    cfg.flags = CYAML_CFG_NO_ALIAS;

    cyaml_err_t cerr = cyaml_load_file(path, &cfg, &top, (cyaml_data_t **)&data, NULL);
    if (cerr != CYAML_OK) {
        if (cerr == CYAML_ERR_FILE_OPEN)
            errbuf_set(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        else
            format_cyaml_error(path, cerr, &cap, err, errlen);
        goto out;
    }
    if (data != NULL) {
        for (size_t i = 0; i < CONFIG_NKEYS; i++) {
            const key_def_t *k = &config_keys[i];
            char **sec = data[k->section];
            const char *v = sec ? sec[key_slot(k)] : NULL;
            if (v == NULL)
                continue;
            if (apply_value(c, k, v, path, err, errlen) == 0)
                continue;
            /* rejected: say where (apply_value changed nothing, so run it
             * again for the message with the position) */
            char where[512];
            int line, col;
            if (find_value_position(path, section_names[k->section], k->key, &line, &col) == 0) {
                snprintf(where, sizeof(where), "%s:%d:%d", path, line, col);
                apply_value(c, k, v, where, err, errlen);
            }
            goto out;
        }
    }
    rc = 0;
out:
    if (data != NULL)
        cyaml_free(&cfg, &top, data, 0);
    return rc;
}

/* ---- environment ------------------------------------------------------- */

static int apply_env(config_t *c, char *err, size_t errlen)
{
    char name[128], where[160];
    for (size_t i = 0; i < CONFIG_NKEYS; i++) {
        env_name(&config_keys[i], name, sizeof(name));
        const char *v = getenv(name);
        if (v == NULL)
            continue;
        snprintf(where, sizeof(where), "environment variable %s", name);
        if (apply_value(c, &config_keys[i], v, where, err, errlen) < 0)
            return -1;
    }
    return 0;
}

/* A misspelt UPDRAFT__X__Y would silently do nothing: say so. */
static void warn_unknown_env(void)
{
    char name[128], known[128];
    for (char **e = environ; e != NULL && *e != NULL; e++) {
        if (strncmp(*e, "UPDRAFT__", 9) != 0)
            continue;
        size_t n = strcspn(*e, "=");
        if (n >= sizeof(name))
            n = sizeof(name) - 1;
        memcpy(name, *e, n);
        name[n] = '\0';
        bool found = false;
        for (size_t i = 0; i < CONFIG_NKEYS && !found; i++) {
            env_name(&config_keys[i], known, sizeof(known));
            found = strcmp(name, known) == 0;
        }
        if (found)
            continue;
        for (char *p = name; *p; p++)
            if (!isalnum((unsigned char)*p) && *p != '_')
                *p = '?';
        log_warn("unknown configuration variable ignored var=%s", name);
    }
}

/* ---- public API -------------------------------------------------------- */

void config_free(config_t *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < CONFIG_NKEYS; i++) {
        if (config_keys[i].type != KEY_STRING)
            continue;
        char **slot = (char **)(void *)((char *)c + config_keys[i].offset);
        free(*slot);
        *slot = NULL;
    }
}

int config_load(const char *path, config_t *out, char *err, size_t errlen)
{
    int rc = -1;

    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < CONFIG_NKEYS; i++)
        if (apply_value(out, &config_keys[i], config_keys[i].def, "default", err, errlen) < 0)
            goto out;

    if (path == NULL || path[0] == '\0') {
        const char *env = getenv("UPDRAFT_CONFIG");
        if (env != NULL && env[0] != '\0')
            path = env;
        else if (access(CONFIG_DEFAULT_FILE, F_OK) == 0)
            path = CONFIG_DEFAULT_FILE;
        else
            path = NULL;
    }
    if (path != NULL && load_file(path, out, err, errlen) < 0)
        goto out;
    if (apply_env(out, err, errlen) < 0)
        goto out;
    /* logging.format applies to every line from here on, the warnings just
     * below included: each program loads its configuration first thing. */
    log_format_t format;
    if (log_parse_format(out->logging.format, &format) == 0)
        log_set_format(format);
    warn_unknown_env();

    /* Behind a transaction pooler the daemons LISTEN on a direct connection. */
    if (!strcmp(out->database.pooler, "transaction") && out->database.direct_url[0] == '\0') {
        errbuf_set(err, errlen,
                   "database.direct_url: must be set when database.pooler is transaction"
                   " (LISTEN needs a direct connection to Postgres)");
        goto out;
    }

    /* Checked here so that a typo stops every program when it starts. */
    {
        sentinel_addr_t sa[SENTINEL_MAX];
        size_t ns;
        if (sentinel_parse_list(out->redis.sentinels, sa, SENTINEL_MAX, &ns, err, errlen) < 0)
            goto out;
        if (ns > 0 && !strncmp(out->redis.url, "unix://", 7)) {
            errbuf_set(err, errlen, "redis.sentinels: cannot be used with a unix:// redis.url");
            goto out;
        }
    }

    if (out->core.hostname[0] == '\0') {
        char host[256];
        if (gethostname(host, sizeof(host)) < 0) {
            errbuf_set(err, errlen, "core.hostname: gethostname: %s", strerror(errno));
            goto out;
        }
        host[sizeof(host) - 1] = '\0';
        if (apply_value(out, find_key(SEC_CORE, "hostname"), host, "gethostname()", err, errlen) <
            0)
            goto out;
    }
    rc = 0;
out:
    if (rc < 0)
        config_free(out);
    return rc;
}

void config_db_target(const config_t *c, db_target_t *t)
{
    t->url = c->database.url;
    t->pooled = !strcmp(c->database.pooler, "transaction");
    t->direct_url = c->database.direct_url;
}

void config_queue_target(const config_t *c, queue_target_t *t)
{
    t->url = c->redis.url;
    t->sentinels = c->redis.sentinels;
    t->master_name = c->redis.master_name;
    t->sentinel_password = c->redis.sentinel_password;
    t->timeout_ms = c->redis.timeout_ms;
}

/* ---- masking ----------------------------------------------------------- */

typedef struct outbuf {
    char *buf;
    size_t len, cap;
} outbuf_t;

static void out_putn(outbuf_t *o, const char *s, size_t n)
{
    if (o->cap == 0)
        return;
    for (size_t i = 0; i < n && o->len + 1 < o->cap; i++)
        o->buf[o->len++] = s[i];
    o->buf[o->len] = '\0';
}

static void out_puts(outbuf_t *o, const char *s)
{
    out_putn(o, s, strlen(s));
}

/* At url[i], a "password" keyword (libpq "password=..." or a URI query's
 * "password=...")? Returns the index just past '=' or 0. */
static size_t password_keyword(const char *url, size_t i)
{
    if (i > 0 && !isspace((unsigned char)url[i - 1]) && url[i - 1] != '?' && url[i - 1] != '&' &&
        url[i - 1] != ';')
        return 0;
    if (strncasecmp(url + i, "password", 8) != 0)
        return 0;
    size_t j = i + 8;
    while (url[j] == ' ' || url[j] == '\t')
        j++;
    return url[j] == '=' ? j + 1 : 0;
}

/* Skips a password value starting at url[j]: a libpq quoted or bare word,
 * or a URI query value. Returns the index after it. */
static size_t skip_password_value(const char *url, size_t j, bool in_query)
{
    if (in_query) {
        while (url[j] && url[j] != '&' && url[j] != '#')
            j++;
        return j;
    }
    if (url[j] == '\'') {
        j++;
        while (url[j] && url[j] != '\'') {
            if (url[j] == '\\' && url[j + 1])
                j++;
            j++;
        }
        return url[j] ? j + 1 : j;
    }
    while (url[j] && !isspace((unsigned char)url[j]))
        j++;
    return j;
}

void config_mask_url(const char *url, char *buf, size_t buflen)
{
    outbuf_t o = {buf, 0, buflen};
    size_t pw_start = 0, pw_end = 0; /* URI userinfo password, if any */

    if (buflen == 0)
        return;
    buf[0] = '\0';
    if (url == NULL)
        return;

    const char *sep = strstr(url, "://");
    if (sep != NULL) {
        size_t auth = (size_t)(sep - url) + 3;
        /* The userinfo ends at the last '@' before any query: a password
         * with an unescaped '@' or '/' is still masked whole. */
        size_t qpos = strcspn(url + auth, "?#") + auth;
        size_t at = 0;
        for (size_t i = auth; i < qpos; i++)
            if (url[i] == '@')
                at = i;
        if (at > 0) {
            const char *colon = memchr(url + auth, ':', at - auth);
            if (colon != NULL) {
                pw_start = (size_t)(colon - url) + 1;
                pw_end = at;
            }
        }
    }

    bool in_query = false;
    for (size_t i = 0; url[i];) {
        if (pw_end > 0 && i == pw_start) {
            out_puts(&o, "***");
            i = pw_end;
            continue;
        }
        if (sep != NULL && url[i] == '?' && i > pw_end)
            in_query = true;
        size_t v = password_keyword(url, i);
        if (v > 0) {
            while (!in_query && (url[v] == ' ' || url[v] == '\t'))
                v++;
            out_putn(&o, url + i, v - i);
            out_puts(&o, "***");
            i = skip_password_value(url, v, in_query);
            continue;
        }
        out_putn(&o, url + i, 1);
        i++;
    }
}

/* ---- printing ---------------------------------------------------------- */

static void print_yaml_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\t')
            fputs("\\t", f);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\x%02x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

/* The text of k's value in c, secrets masked (see config_visit); *owned is what to free. */
static const char *value_text(const config_t *c, const key_def_t *k, const char *hidden, char *num,
                              size_t numlen, char **owned)
{
    const char *base = (const char *)c + k->offset;
    const char *v;

    *owned = NULL;
    switch (k->type) {
    case KEY_BOOL:
        return *(const bool *)(const void *)base ? "true" : "false";
    case KEY_INT:
        snprintf(num, numlen, "%d", *(const int *)(const void *)base);
        return num;
    case KEY_STRING:
        break;
    }
    v = *(char *const *)(const void *)base;
    if (v == NULL)
        v = "";
    if (!(k->flags & (KEY_SECRET | KEY_SECRET_VALUE)) || !v[0])
        return v;
    if (hidden || (k->flags & KEY_SECRET_VALUE))
        return hidden ? hidden : "***";
    size_t n = strlen(v) + 8;
    if ((*owned = malloc(n)) == NULL)
        return NULL;
    config_mask_url(v, *owned, n);
    return *owned;
}

int config_visit(const config_t *c, const char *hidden, config_visit_fn fn, void *arg)
{
    for (int s = 0; s < SEC_COUNT; s++) {
        for (size_t i = 0; i < CONFIG_NKEYS; i++) {
            const key_def_t *k = &config_keys[i];
            char num[32], *owned;
            const char *v;
            if (k->section != s)
                continue;
            v = value_text(c, k, hidden, num, sizeof(num), &owned);
            if (v == NULL)
                return -1;
            fn(section_names[s], k->key, v, k->type == KEY_STRING, arg);
            free(owned);
        }
    }
    return 0;
}

typedef struct print_state {
    FILE *f;
    const char *section; /* the section printed last */
} print_state_t;

static void print_key(const char *section, const char *key, const char *value, bool is_string,
                      void *arg)
{
    print_state_t *st = arg;

    if (st->section != section) {
        fprintf(st->f, "%s:\n", section);
        st->section = section;
    }
    fprintf(st->f, "  %s: ", key);
    if (is_string)
        print_yaml_string(st->f, value);
    else
        fputs(value, st->f);
    fputc('\n', st->f);
}

void config_print(const config_t *c, FILE *f)
{
    print_state_t st = {f, NULL};

    fputs("# updraft configuration (passwords masked)\n", f);
    if (config_visit(c, NULL, print_key, &st) < 0)
        fputs("# out of memory\n", f);
}

static const key_def_t *find_named_key(const char *section, const char *key)
{
    for (int s = 0; s < SEC_COUNT; s++)
        if (!strcmp(section_names[s], section))
            return find_key(s, key);
    return NULL;
}

int config_get_text(const config_t *c, const char *section, const char *key, const char *hidden,
                    char **out)
{
    const key_def_t *k = section && key ? find_named_key(section, key) : NULL;
    char num[32], *owned;
    const char *v;

    *out = NULL;
    if (!k)
        return UPDRAFT_ENOTFOUND;
    if (!(v = value_text(c, k, hidden, num, sizeof(num), &owned)))
        return UPDRAFT_ENOMEM;
    *out = owned ? owned : strdup(v);
    return *out ? 0 : UPDRAFT_ENOMEM;
}

int config_visit_defaults(config_visit_fn fn, void *arg)
{
    for (int s = 0; s < SEC_COUNT; s++)
        for (size_t i = 0; i < CONFIG_NKEYS; i++)
            if (config_keys[i].section == s)
                fn(section_names[s], config_keys[i].key, config_keys[i].def,
                   config_keys[i].type == KEY_STRING, arg);
    return 0;
}

int config_write_markdown(FILE *f, char *err, size_t errlen)
{
    for (size_t i = 0; i < CONFIG_NKEYS; i++) {
        const key_def_t *k = &config_keys[i];
        if (!k->range || !k->doc || !k->doc[0] || strchr(k->doc, '\n') || strchr(k->range, '\n')) {
            errbuf_set(err, errlen,
                       "%s.%s: the key table gives no one-line range and description for it "
                       "(lib/core/config.c)",
                       section_names[k->section], k->key);
            return -1;
        }
    }
    for (int s = 0; s < SEC_COUNT; s++) {
        fprintf(f, "### %s\n\n", section_names[s]);
        if (section_docs[s] && section_docs[s][0])
            fprintf(f, "%s\n\n", section_docs[s]);
        fputs("| key | environment variable | default | range | what it does |\n", f);
        fputs("|---|---|---|---|---|\n", f);
        for (size_t i = 0; i < CONFIG_NKEYS; i++) {
            const key_def_t *k = &config_keys[i];
            char env[160];
            if (k->section != s)
                continue;
            env_name(k, env, sizeof(env));
            fprintf(f, "| `%s` | `%s` | ", k->key, env);
            if (!k->def[0])
                fputs("empty", f);
            else
                fprintf(f, "`%s`", k->def);
            long long v = k->type == KEY_INT ? atoll(k->def) : 0;
            if (v >= 1048576 && v % 1048576 == 0)
                fprintf(f, " (%lld MiB)", v / 1048576);
            fprintf(f, " | %s | %s |\n", k->range, k->doc);
        }
        fputs(s + 1 < SEC_COUNT ? "\n" : "", f);
    }
    return ferror(f) ? -1 : 0;
}

/* ---- flags ------------------------------------------------------------- */

int config_from_args(int *argc, char **argv, config_t *out)
{
    const char *prog = "updraft";
    const char *path = NULL;
    bool print = false;
    char err[1024];
    int w = 1;

    if (*argc > 0 && argv[0] != NULL) {
        const char *slash = strrchr(argv[0], '/');
        prog = slash ? slash + 1 : argv[0];
    }
    memset(out, 0, sizeof(*out));
    for (int r = 1; r < *argc; r++) {
        const char *a = argv[r];
        if (strcmp(a, "--") == 0) {
            /* the rest belongs to the caller untouched */
            while (r < *argc)
                argv[w++] = argv[r++];
            break;
        }
        if (strcmp(a, "--config") == 0) {
            if (r + 1 >= *argc) {
                fprintf(stderr, "%s: --config needs a path\n", prog);
                return -1;
            }
            path = argv[++r];
        } else if (strncmp(a, "--config=", 9) == 0) {
            path = a + 9;
            if (path[0] == '\0') {
                fprintf(stderr, "%s: --config needs a path\n", prog);
                return -1;
            }
        } else if (strcmp(a, "--print-config") == 0) {
            print = true;
        } else {
            argv[w++] = argv[r];
        }
    }
    if (*argc > 0) {
        *argc = w;
        argv[w] = NULL;
    }
    if (config_load(path, out, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s: configuration error: %s\n", prog, err);
        return -1;
    }
    if (print) {
        config_print(out, stdout);
        fflush(stdout);
        config_free(out);
        return 1;
    }
    return 0;
}
