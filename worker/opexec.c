/*
 * opexec.c - the operator runner: `updraft-worker --run-operator FILE`
 * (see ops.h for the contract with the worker).
 *
 * The worker starts this in the task's process group where a bash task's
 * shell would be, so its stdout is the task log and the worker's kills,
 * timeouts and masking apply unchanged. It reads and unlinks the spec,
 * then runs one operator:
 *
 *   http, sql              the operator bodies (op_http.c, op_sql.c)
 *   sensors                the poke loop below around a poke function
 *                          (op_http.c, op_sql.c, op_sensors.c): in poke
 *                          mode poke, sleep, poke until done or timed out;
 *                          in reschedule mode one poke, then exit
 *                          OPERATOR_EXIT_RESCHEDULE with the next poke's
 *                          delay in the result file
 *   python, branch and     python3 with the bootstrap below, which imports
 *   short_circuit (python)  the callable, calls it with Airflow's argument
 *                          rules and writes the return value to a result
 *                          file; the runner then pushes it as XCom and, for
 *                          branch and short_circuit, writes the decision
 *                          (OPERATOR_SKIPMIXIN_KEY) for the planner
 *   trigger_dag_run        creates the run in updraft's database (libpq),
 *                          optionally waiting for it to end
 *
 * Exit codes are operator.h's. The runner is single-threaded and keeps no
 * state beyond its own process; it never writes the task's row itself.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "sched/clear.h"
#include "store/dagrun.h"
#include "store/dags.h"
#include "core/db.h"
#include "core/log.h"
#include "model/operator.h"
#include "core/secrets.h"
#include "model/taskenv.h"
#include "core/timeutil.h"
#include "store/xcom.h"
#include "worker/ops.h"
#include "worker/opsem.h"

#define SPEC_MAX (64 << 20)      /* a spec file larger than this is refused */
#define PY_RESULT_MAX (64 << 20) /* the python result file, at most */
#define XCOM_FILE_SLACK 4096

/* The python interpreter the python operators run with. */
#define PYTHON_BIN "python3"

/* ---- logging and small helpers ------------------------------------------ */

static void run_log(const ops_ctx_t *c, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* One line in the task log, formatted as the worker's own lines. */
static void run_log(const ops_ctx_t *c, const char *level, const char *fmt, ...)
{
    FILE *f = c && c->log ? c->log : stdout;
    char when[TS_ISO_LEN];
    va_list ap;
    fprintf(f, "[%s] {runner} %s - ", ts_format_iso(ts_now(), when), level);
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fflush(f);
}

static const cJSON *arg(const ops_ctx_t *c, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->args, name);
    return v && !cJSON_IsNull(v) ? v : NULL;
}

static const char *arg_str(const ops_ctx_t *c, const char *name)
{
    const cJSON *v = arg(c, name);
    return cJSON_IsString(v) && *v->valuestring ? v->valuestring : NULL;
}

static bool arg_bool(const ops_ctx_t *c, const char *name, bool dflt)
{
    const cJSON *v = arg(c, name);
    if (cJSON_IsBool(v))
        return cJSON_IsTrue(v);
    if (cJSON_IsNumber(v))
        return v->valuedouble != 0;
    if (cJSON_IsString(v))
        return !strcasecmp(v->valuestring, "true") || !strcmp(v->valuestring, "1");
    return dflt;
}

static double arg_seconds(const ops_ctx_t *c, const char *name, double dflt)
{
    const cJSON *v = arg(c, name);
    if (cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble >= 0)
        return v->valuedouble;
    if (cJSON_IsString(v)) {
        char *end;
        double d = strtod(v->valuestring, &end);
        if (end != v->valuestring && !*end && isfinite(d) && d >= 0)
            return d;
    }
    return dflt;
}

static const char *ctx_str(const ops_ctx_t *c, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->context, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int ctx_int(const ops_ctx_t *c, const char *name, int dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->context, name);
    return cJSON_IsNumber(v) ? v->valueint : dflt;
}

/* Sleeps sec seconds (signals end the process, as for any task). */
static void sleep_sec(double sec)
{
    if (!(sec > 0))
        return;
    if (sec > 1e9)
        sec = 1e9;
    struct timespec ts = {(time_t)sec, (long)((sec - floor(sec)) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Reads a whole file of at most max bytes. NULL (errno set) on failure. */
static char *read_file(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    if (!f)
        return NULL;
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || st.st_size < 0 || (size_t)st.st_size > max) {
        errno = EFBIG;
        goto out;
    }
    if (!(buf = malloc((size_t)st.st_size + 1)))
        goto out;
    *len = fread(buf, 1, (size_t)st.st_size, f);
    buf[*len] = '\0';
    if (ferror(f)) {
        free(buf);
        buf = NULL;
        errno = EIO;
    }
out:
    fclose(f);
    return buf;
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = strlen(text);
    bool ok = fwrite(text, 1, n, f) == n;
    ok = fclose(f) == 0 && ok;
    return ok ? 0 : -1;
}

/* ---- XComs and connections (ops.h) -------------------------------------- */

int ops_xcom_push(const ops_ctx_t *c, const char *key, cJSON *value)
{
    int rc = -1;
    char *text = NULL, *old = NULL, *out = NULL;
    cJSON *doc = NULL;
    const char *path = getenv(XCOM_FILE_ENV);
    if (!key || !*key || strlen(key) > XCOM_MAX_KEY) {
        run_log(c, "ERROR", "Cannot push XCom: the key must be 1 to %d bytes", XCOM_MAX_KEY);
        goto out;
    }
    if (c->no_return_value && strcmp(key, XCOM_RETURN_KEY) == 0) {
        rc = 0; /* do_xcom_push: false */
        goto out;
    }
    if (!path || !*path) {
        run_log(c, "ERROR", "Cannot push XCom %s: %s is not set", key, XCOM_FILE_ENV);
        goto out;
    }
    if (!value || !(text = cJSON_PrintUnformatted(value))) {
        run_log(c, "ERROR", "Cannot push XCom %s: out of memory", key);
        goto out;
    }
    if (c->max_xcom_size && strlen(text) > c->max_xcom_size) {
        run_log(c, "ERROR",
                "XCom %s is larger than %zu bytes (core.max_xcom_size): it cannot be pushed", key,
                c->max_xcom_size);
        goto out;
    }
    size_t len = 0;
    size_t cap =
        (c->max_xcom_size ? c->max_xcom_size : XCOM_MAX_SIZE_DEFAULT) * 4 + XCOM_FILE_SLACK;
    old = read_file(path, cap, &len);
    if (!old && errno != ENOENT) {
        run_log(c, "ERROR", "Cannot push XCom %s: cannot read %s: %s", key, XCOM_FILE_ENV,
                strerror(errno));
        goto out;
    }
    const char *p = old;
    while (p && (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r'))
        p++;
    doc = p && *p ? cJSON_ParseWithLengthOpts(old, len + 1, NULL, 1) : cJSON_CreateObject();
    if (!cJSON_IsObject(doc)) {
        run_log(c, "ERROR", "Cannot push XCom %s: %s does not hold a JSON object", key,
                XCOM_FILE_ENV);
        goto out;
    }
    cJSON *copy = cJSON_Duplicate(value, 1);
    bool ok = copy != NULL;
    if (ok && cJSON_GetObjectItemCaseSensitive(doc, key))
        ok = cJSON_ReplaceItemInObjectCaseSensitive(doc, key, copy);
    else if (ok)
        ok = cJSON_AddItemToObject(doc, key, copy);
    if (!ok) {
        cJSON_Delete(copy);
        run_log(c, "ERROR", "Cannot push XCom %s: out of memory", key);
        goto out;
    }
    if (!(out = cJSON_PrintUnformatted(doc)) || strlen(out) > cap) {
        run_log(c, "ERROR", "Cannot push XCom %s: the XComs of this task are too large", key);
        goto out;
    }
    if (write_file(path, out) < 0) {
        run_log(c, "ERROR", "Cannot push XCom %s: cannot write %s: %s", key, XCOM_FILE_ENV,
                strerror(errno));
        goto out;
    }
    rc = 0;
out:
    cJSON_Delete(value);
    cJSON_Delete(doc);
    free(text);
    free(old);
    free(out);
    return rc;
}

const cJSON *ops_connection(const ops_ctx_t *c, const char *conn_id)
{
    const cJSON *v = conn_id ? cJSON_GetObjectItemCaseSensitive(c->connections, conn_id) : NULL;
    if (!cJSON_IsObject(v)) {
        run_log(c, "ERROR", "The conn_id `%s` isn't defined", conn_id ? conn_id : "");
        return NULL;
    }
    return v;
}

/* ---- sensors ----------------------------------------------------------- */

/* Writes the reschedule delay where the worker reads it (opspec.h). */
static int write_reschedule(const ops_ctx_t *c, const char *result_path, double delay)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "{\"reschedule_delay\": %.3f}", delay);
    if (!result_path || !*result_path || write_file(result_path, buf) < 0) {
        run_log(c, "ERROR", "Cannot write the next poke time: %s",
                result_path && *result_path ? strerror(errno) : "no result file");
        return -1;
    }
    return 0;
}

static int sensor_timed_out(const ops_ctx_t *c, double duration, double timeout)
{
    bool soft = arg_bool(c, "soft_fail", false);
    run_log(c, soft ? "INFO" : "ERROR",
            "Sensor has timed out; run duration of %.3f seconds exceeds the specified timeout "
            "of %g.%s",
            duration, timeout, soft ? " Skipping (soft_fail)." : "");
    return soft ? OPERATOR_EXIT_SKIP : OPERATOR_EXIT_FAIL_NO_RETRY;
}

/* A poke's verdict as a final exit code; -1 for "not yet". */
static int poke_verdict(const ops_ctx_t *c, ops_poke_t v)
{
    switch (v) {
    case OPS_POKE_DONE:
        run_log(c, "INFO", "Success criteria met. Exiting.");
        return 0;
    case OPS_POKE_SKIP:
        return OPERATOR_EXIT_SKIP;
    case OPS_POKE_FAIL:
        if (arg_bool(c, "silent_fail", false)) {
            run_log(c, "ERROR", "Sensor poke failed; silent_fail is set: poking again");
            return -1;
        }
        return 1;
    case OPS_POKE_NOT_YET:
    default:
        return -1;
    }
}

static int run_sensor(const ops_ctx_t *c, ops_poke_t (*poke)(const ops_ctx_t *),
                      const char *result_path)
{
    const char *mode = arg_str(c, "mode");
    opsem_sensor_t s = {.poke_interval =
                            arg_seconds(c, "poke_interval", OPERATOR_POKE_INTERVAL_DEFAULT),
                        .timeout = arg_seconds(c, "timeout", OPERATOR_SENSOR_TIMEOUT_DEFAULT),
                        .max_wait = arg_seconds(c, "max_wait", 0),
                        .exponential_backoff = arg_bool(c, "exponential_backoff", false),
                        .reschedule = mode && !strcmp(mode, "reschedule")};
    const char *dag_id = ctx_str(c, "dag_id"), *task_id = ctx_str(c, "task_id");
    char started[TS_ISO_LEN];
    if (!dag_id)
        dag_id = "";
    if (!task_id)
        task_id = "";
    if (arg_bool(c, "deferrable", false))
        run_log(c, "INFO", "deferrable is not supported: the sensor pokes in %s mode",
                s.reschedule ? "reschedule" : "poke");

    if (s.reschedule) {
        /* The timeout counts from the try's first poke (first_poke_at). */
        ts_us_t first = TS_NONE, now = ts_now();
        const char *fp = ctx_str(c, "first_poke_at"), *sd = ctx_str(c, "start_date");
        if (!fp || ts_parse(fp, &first) < 0)
            if (!sd || ts_parse(sd, &first) < 0)
                first = now;
        opsem_python_datetime(first, started);
        int v = poke_verdict(c, poke(c));
        if (v >= 0)
            return v;
        double duration = (double)(ts_now() - first) / 1e6;
        if (duration > s.timeout)
            return sensor_timed_out(c, duration, s.timeout);
        double next = opsem_next_poke_interval(&s, dag_id, task_id, started, duration,
                                               ctx_int(c, "poke_count", 0) + 1);
        if (s.exponential_backoff)
            run_log(c, "INFO", "new reschedule interval is %g", next);
        return write_reschedule(c, result_path, next) < 0 ? 1 : OPERATOR_EXIT_RESCHEDULE;
    }

    int64_t start = ts_mono_us();
    snprintf(started, sizeof(started), "%.6f", (double)start / 1e6);
    for (int poke_count = 1;; poke_count++) {
        int v = poke_verdict(c, poke(c));
        if (v >= 0)
            return v;
        double duration = (double)(ts_mono_us() - start) / 1e6;
        if (duration > s.timeout)
            return sensor_timed_out(c, duration, s.timeout);
        double next = opsem_next_poke_interval(&s, dag_id, task_id, started, duration, poke_count);
        if (s.exponential_backoff)
            run_log(c, "INFO", "new poke interval is %g", next);
        sleep_sec(next);
    }
}

/* ---- python callables --------------------------------------------------- */

/*
 * The bootstrap python3 runs: argv[1] is a JSON file {"args", "context",
 * "result"} (read and unlinked at once). It imports the callable, calls it
 * with op_args and, as Airflow's KeywordParameters.determine does, the
 * context merged with op_kwargs and templates_dict, keeping only the names
 * the function's signature has unless it takes **kwargs; writes {"value"
 * (JSON, str() when not serializable), "none", "truthy", "pushed"} to the
 * result file; exits 0, 99 (AirflowSkipException), 101
 * (AirflowFailException) or 1 (any other exception, with its traceback).
 * When Airflow is not installed, airflow.exceptions is provided with those
 * exception classes so that callables written for Airflow import.
 */
static const char PY_BOOTSTRAP[] =
    "import ast, datetime, importlib, importlib.util, inspect, json, os, sys, traceback, types\n"
    "def _shim():\n"
    "    try:\n"
    "        if importlib.util.find_spec('airflow') is not None:\n"
    "            return\n"
    "    except Exception:\n"
    "        pass\n"
    "    af = types.ModuleType('airflow')\n"
    "    af.__path__ = []\n"
    "    ex = types.ModuleType('airflow.exceptions')\n"
    "    class AirflowException(Exception):\n"
    "        pass\n"
    "    class AirflowSkipException(AirflowException):\n"
    "        pass\n"
    "    class AirflowFailException(AirflowException):\n"
    "        pass\n"
    "    class AirflowSensorTimeout(AirflowException):\n"
    "        pass\n"
    "    for k in (AirflowException, AirflowSkipException, AirflowFailException,"
    " AirflowSensorTimeout):\n"
    "        k.__module__ = 'airflow.exceptions'\n"
    "        setattr(ex, k.__name__, k)\n"
    "    af.exceptions = ex\n"
    "    sys.modules['airflow'] = af\n"
    "    sys.modules['airflow.exceptions'] = ex\n"
    "class _TI:\n"
    "    def __init__(self, c, pushed):\n"
    "        self.dag_id = c.get('dag_id')\n"
    "        self.task_id = c.get('task_id')\n"
    "        self.run_id = c.get('run_id')\n"
    "        self.try_number = c.get('try_number')\n"
    "        self.max_tries = c.get('max_tries')\n"
    "        self.map_index = c.get('map_index', -1)\n"
    "        self._pushed = pushed\n"
    "    def xcom_push(self, key, value, **kwargs):\n"
    "        self._pushed[key] = value\n"
    "    def xcom_pull(self, *args, **kwargs):\n"
    "        raise NotImplementedError('ti.xcom_pull is not available inside a python callable"
    " in updraft: pass the value with a template in op_kwargs, e.g."
    " {{ ti.xcom_pull(task_ids=...) }}')\n"
    "def _dt(s):\n"
    "    return datetime.datetime.fromisoformat(s) if s else None\n"
    "def _load(a):\n"
    "    f = a.get('python_callable_file')\n"
    "    if f:\n"
    "        f = os.path.expandvars(f)\n"
    "        d = os.path.dirname(os.path.abspath(f))\n"
    "        if d not in sys.path:\n"
    "            sys.path.insert(0, d)\n"
    "        mn = os.path.splitext(os.path.basename(f))[0]\n"
    "        spec = importlib.util.spec_from_file_location(mn, f)\n"
    "        if spec is None or spec.loader is None:\n"
    "            raise ImportError('cannot load python_callable_file %s' % f)\n"
    "        mod = importlib.util.module_from_spec(spec)\n"
    "        sys.modules[mn] = mod\n"
    "        spec.loader.exec_module(mod)\n"
    "        return getattr(mod, a.get('python_callable_name'))\n"
    "    p = a.get('python_callable') or ''\n"
    "    mn, _, name = p.rpartition('.')\n"
    "    if not mn:\n"
    "        raise ImportError('python_callable must be module.function, not %r' % p)\n"
    "    return getattr(importlib.import_module(mn), name)\n"
    "def _kwargs(fn, args, ctx):\n"
    "    params = inspect.signature(fn).parameters\n"
    "    for name in list(params)[:len(args)]:\n"
    "        if name in ctx:\n"
    "            raise ValueError('The key %r in args is a part of kwargs and therefore"
    " reserved.' % name)\n"
    "    if any(p.kind == p.VAR_KEYWORD for p in params.values()):\n"
    "        return ctx\n"
    "    return {k: ctx[k] for k in params if k in ctx}\n"
    "def _ser(v):\n"
    "    try:\n"
    "        return json.loads(json.dumps(v, allow_nan=False))\n"
    "    except Exception:\n"
    "        return str(v)\n"
    "def main():\n"
    "    with open(sys.argv[1], encoding='utf-8') as f:\n"
    "        spec = json.load(f)\n"
    "    os.unlink(sys.argv[1])\n"
    "    a, c, res = spec['args'], spec['context'], spec['result']\n"
    "    sys.argv = [a.get('python_callable_file') or a.get('python_callable') or 'updraft']\n"
    "    _shim()\n"
    "    op_args = a.get('op_args')\n"
    "    if op_args is None:\n"
    "        op_args = []\n"
    "    elif isinstance(op_args, str):\n"
    "        try:\n"
    "            v = ast.literal_eval(op_args)\n"
    "        except Exception:\n"
    "            v = None\n"
    "        op_args = list(v) if isinstance(v, (list, tuple)) else [op_args]\n"
    "    elif not isinstance(op_args, list):\n"
    "        op_args = [op_args]\n"
    "    pushed = {}\n"
    "    ti = _TI(c, pushed)\n"
    "    ld = _dt(c.get('logical_date'))\n"
    "    conf = c.get('conf') or {}\n"
    "    dag_run = types.SimpleNamespace(dag_id=c.get('dag_id'), run_id=c.get('run_id'),"
    " conf=conf, logical_date=ld, execution_date=ld,"
    " data_interval_start=_dt(c.get('data_interval_start')),"
    " data_interval_end=_dt(c.get('data_interval_end')))\n"
    "    ctx = {'ds': c.get('ds'), 'ds_nodash': c.get('ds_nodash'), 'ts': c.get('ts'),"
    " 'ts_nodash': c.get('ts_nodash'), 'logical_date': ld, 'execution_date': ld,"
    " 'data_interval_start': dag_run.data_interval_start,"
    " 'data_interval_end': dag_run.data_interval_end, 'run_id': c.get('run_id'),"
    " 'dag_run': dag_run, 'params': dict(conf), 'ti': ti, 'task_instance': ti,"
    " 'ti_map_index': ti.map_index,"
    " 'task': types.SimpleNamespace(task_id=c.get('task_id'), dag_id=c.get('dag_id')),"
    " 'dag': types.SimpleNamespace(dag_id=c.get('dag_id'))}\n"
    "    ctx.update(a.get('op_kwargs') or {})\n"
    "    ctx['templates_dict'] = a.get('templates_dict')\n"
    "    code, rv = 0, None\n"
    "    try:\n"
    "        fn = _load(a)\n"
    "        rv = fn(*op_args, **_kwargs(fn, op_args, ctx))\n"
    "    except Exception as e:\n"
    "        name = type(e).__name__\n"
    "        if name == 'AirflowSkipException':\n"
    "            print('Skipping: %s' % (e,))\n"
    "            code = 99\n"
    "        else:\n"
    "            traceback.print_exc()\n"
    "            code = 101 if name == 'AirflowFailException' else 1\n"
    "    if code == 0:\n"
    "        if a.get('show_return_value_in_logs', True):\n"
    "            print('Done. Returned value was: %s' % (rv,))\n"
    "        else:\n"
    "            print('Done. Returned value not shown')\n"
    "    try:\n"
    "        truthy = bool(rv)\n"
    "    except Exception:\n"
    "        truthy = True\n"
    "    out = {'value': _ser(rv), 'none': rv is None, 'truthy': truthy,"
    " 'pushed': {str(k): _ser(v) for k, v in pushed.items()}}\n"
    "    with open(res, 'w', encoding='utf-8') as f:\n"
    "        json.dump(out, f)\n"
    "    sys.stdout.flush()\n"
    "    sys.exit(code)\n"
    "main()\n";

/* Runs python3 with the bootstrap; its exit status (-1 when it could not start). */
static int spawn_python(const ops_ctx_t *c, const char *input_path)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        run_log(c, "ERROR", "Cannot start %s: %s", PYTHON_BIN, strerror(errno));
        return -1;
    }
    if (pid == 0) {
        setenv("PYTHONUNBUFFERED", "1", 1);
        setenv("PYTHONDONTWRITEBYTECODE", "1", 0);
        char *const argv[] = {(char *)PYTHON_BIN, (char *)"-c", (char *)PY_BOOTSTRAP,
                              (char *)input_path, NULL};
        execvp(PYTHON_BIN, argv);
        fprintf(stdout, "Cannot run %s: %s\n", PYTHON_BIN, strerror(errno));
        fflush(stdout);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            run_log(c, "ERROR", "Cannot wait for %s: %s", PYTHON_BIN, strerror(errno));
            return -1;
        }
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        run_log(c, "ERROR", "%s was killed by signal %d", PYTHON_BIN, WTERMSIG(status));
    return -1;
}

/* A temp file for python (0600), path: 96 bytes. 0 or -1 (logged). */
static int py_temp(const ops_ctx_t *c, char *path, const char *what)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir || strlen(dir) > 48)
        dir = "/tmp";
    snprintf(path, 96, "%s/updraft-%s-XXXXXX", dir, what);
    int fd = mkstemp(path);
    if (fd < 0) {
        run_log(c, "ERROR", "Cannot create a temporary file: %s", strerror(errno));
        path[0] = '\0';
        return -1;
    }
    close(fd);
    return 0;
}

/* The python branch's decision: {"followed": [ids]} pushed, or 1 (logged). */
static int branch_decision(const ops_ctx_t *c, const cJSON *downstream, const cJSON *value,
                           bool none)
{
    cJSON *followed = cJSON_CreateArray(), *doc = cJSON_CreateObject();
    char list[2048], bad[1024];
    size_t lo = 0, bo = 0;
    int rc = 1;
    list[0] = bad[0] = '\0';
    if (!followed || !doc)
        goto oom;
    if (!none && !cJSON_IsString(value) && !cJSON_IsArray(value)) {
        run_log(c, "ERROR",
                "The branch callable must return a task id, a list of task ids or None");
        goto out;
    }
    const cJSON *it = cJSON_IsString(value) ? value : (none ? NULL : value->child);
    for (; it; it = cJSON_IsString(value) ? NULL : it->next) {
        if (!cJSON_IsString(it)) {
            run_log(c, "ERROR",
                    "The branch callable returned a list holding something that "
                    "is not a task id");
            goto out;
        }
        const char *id = it->valuestring;
        if (!opsem_branch_target(downstream, id, strlen(id))) {
            if (bo < sizeof(bad))
                bo += (size_t)snprintf(bad + bo, sizeof(bad) - bo, "%s'%s'", bo ? ", " : "", id);
            continue;
        }
        bool dup = false;
        const cJSON *f;
        cJSON_ArrayForEach(f, followed) dup = dup || !strcmp(f->valuestring, id);
        if (dup)
            continue;
        cJSON *s = cJSON_CreateString(id);
        if (!s || !cJSON_AddItemToArray(followed, s)) {
            cJSON_Delete(s);
            goto oom;
        }
        if (lo < sizeof(list))
            lo += (size_t)snprintf(list + lo, sizeof(list) - lo, "%s%s", lo ? ", " : "", id);
    }
    if (bo) {
        run_log(c, "ERROR",
                "'branch_task_ids' must contain only valid task_ids (direct downstream tasks or "
                "task groups). Invalid tasks found: {%s}.",
                bad);
        goto out;
    }
    if (lo)
        run_log(c, "INFO", "Following branch: %s", list);
    else
        run_log(c, "INFO", "Branch callable returned no task: skipping every downstream task");
    if (!cJSON_AddItemToObject(doc, "followed", followed)) {
        goto oom;
    }
    followed = NULL;
    rc = ops_xcom_push(c, OPERATOR_SKIPMIXIN_KEY, doc) < 0 ? 1 : 0;
    doc = NULL;
    goto out;
oom:
    run_log(c, "ERROR", "out of memory");
out:
    cJSON_Delete(followed);
    cJSON_Delete(doc);
    return rc;
}

static int run_python(const ops_ctx_t *c, dag_operator_t op, const cJSON *downstream)
{
    char in_path[96] = "", res_path[96] = "";
    char *text = NULL, *res_text = NULL;
    cJSON *in = NULL, *res = NULL;
    int rc = 1;
    if (py_temp(c, in_path, "py") < 0 || py_temp(c, res_path, "pyres") < 0)
        goto out;
    in = cJSON_CreateObject();
    cJSON *a = cJSON_Duplicate(c->args, 1), *cx = cJSON_Duplicate(c->context, 1);
    if (!in || !a || !cJSON_AddItemToObject(in, "args", a)) {
        cJSON_Delete(a);
        cJSON_Delete(cx);
        goto oom;
    }
    if (!cx || !cJSON_AddItemToObject(in, "context", cx)) {
        cJSON_Delete(cx);
        goto oom;
    }
    if (!cJSON_AddStringToObject(in, "result", res_path) || !(text = cJSON_PrintUnformatted(in)))
        goto oom;
    if (write_file(in_path, text) < 0) {
        run_log(c, "ERROR", "Cannot write the python input: %s", strerror(errno));
        goto out;
    }
    int code = spawn_python(c, in_path);
    if (code == 99) {
        rc = OPERATOR_EXIT_SKIP;
        goto out;
    }
    if (code == 101) {
        rc = OPERATOR_EXIT_FAIL_NO_RETRY;
        goto out;
    }
    if (code != 0)
        goto out; /* the traceback is in the log */
    size_t len = 0;
    if (!(res_text = read_file(res_path, PY_RESULT_MAX, &len)) ||
        !cJSON_IsObject(res = cJSON_ParseWithLengthOpts(res_text, len + 1, NULL, 1))) {
        run_log(c, "ERROR", "The python callable ended without a result");
        goto out;
    }
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(res, "value");
    bool none = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "none"));
    bool truthy = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "truthy"));
    const cJSON *pushed = cJSON_GetObjectItemCaseSensitive(res, "pushed"), *it;
    cJSON_ArrayForEach(it, pushed)
    {
        if (ops_xcom_push(c, it->string, cJSON_Duplicate(it, 1)) < 0)
            goto out;
    }
    if (!none && value && ops_xcom_push(c, XCOM_RETURN_KEY, cJSON_Duplicate(value, 1)) < 0)
        goto out;
    if (op == DAG_OP_BRANCH) {
        rc = branch_decision(c, downstream, value, none);
        goto out;
    }
    if (op == DAG_OP_SHORT_CIRCUIT) {
        if (truthy) {
            run_log(c, "INFO", "Condition result is truthy, proceeding with downstream tasks");
        } else {
            run_log(c, "INFO", "Condition result is falsy, skipping downstream tasks");
            cJSON *doc = cJSON_CreateObject();
            if (!doc || !cJSON_AddArrayToObject(doc, "followed")) {
                cJSON_Delete(doc);
                goto oom;
            }
            if (ops_xcom_push(c, OPERATOR_SKIPMIXIN_KEY, doc) < 0)
                goto out;
        }
    }
    rc = 0;
    goto out;
oom:
    run_log(c, "ERROR", "out of memory");
out:
    if (in_path[0])
        unlink(in_path); /* python unlinks it; this covers a failed start */
    if (res_path[0])
        unlink(res_path);
    free(text);
    free(res_text);
    cJSON_Delete(in);
    cJSON_Delete(res);
    return rc;
}

/* ---- trigger_dag_run ---------------------------------------------------- */

static bool state_in(const ops_ctx_t *c, const char *name, const char *dflt, const char *state)
{
    const cJSON *v = arg(c, name), *it;
    if (!v)
        return strcmp(state, dflt) == 0;
    if (cJSON_IsString(v))
        return strcmp(state, v->valuestring) == 0;
    cJSON_ArrayForEach(it, v)
    {
        if (cJSON_IsString(it) && strcmp(it->valuestring, state) == 0)
            return true;
    }
    return false;
}

/* The existing run a conflict was about. 1 found (run_id, *logical, *id), 0 none, -1 error. */
static int find_run(db_t *db, const char *dag_id, const char *run_id, ts_us_t logical, char *found,
                    ts_us_t *logical_out, int64_t *id_out)
{
    char ld[TS_ISO_LEN];
    dagrun_ref_t run;
    ts_format_iso(logical, ld);
    int rc = dagrun_find(db, dag_id, run_id, ld, &run);
    if (rc == UPDRAFT_ENOTFOUND)
        return 0;
    if (rc != 0)
        return -1;
    *id_out = run.id;
    snprintf(found, DAGRUN_ID_MAX + 1, "%s", run.run_id);
    *logical_out = run.logical_date != TS_NONE ? run.logical_date : logical;
    return 1;
}

static int reset_run(const ops_ctx_t *c, db_t *db, const char *dag_id, const char *run_id)
{
    char err[512];
    clear_filter_t f = {.dag_id = dag_id, .run_id = run_id, .start = TS_NONE, .end = TS_NONE};
    clear_list_t l = {0};
    long cleared = 0;
    int rc = clear_find(db, &f, &l, err, sizeof(err));
    if (rc == 0)
        rc = clear_apply(db, &l, &cleared, err, sizeof(err));
    clear_list_free(&l);
    if (rc != 0) {
        run_log(c, "ERROR", "Cannot clear the existing run %s of %s: %s", run_id, dag_id,
                rc == UPDRAFT_ENOTFOUND ? "no such DAG" : err);
        return -1;
    }
    run_log(c, "INFO", "Cleared the existing run %s of %s (reset_dag_run): %ld task instances",
            run_id, dag_id, cleared);
    return 0;
}

static int push_string(const ops_ctx_t *c, const char *key, const char *value)
{
    return ops_xcom_push(c, key, cJSON_CreateString(value));
}

static int wait_run(const ops_ctx_t *c, db_t *db, const char *dag_id, const char *run_id,
                    int64_t id)
{
    double interval = arg_seconds(c, "poke_interval", OPERATOR_POKE_INTERVAL_DEFAULT);
    for (;;) {
        run_log(c, "INFO", "Waiting for %s on %s to become an allowed state ...", dag_id, run_id);
        sleep_sec(interval);
        if (!db_ok(db) && db_ensure(db, 30000, NULL) < 0) {
            run_log(c, "WARNING", "Database unreachable, will check again");
            continue;
        }
        char state[32];
        int rc = dagrun_state(db, id, state, sizeof(state));
        if (rc == UPDRAFT_ENOTFOUND) {
            run_log(c, "ERROR", "The run %s of %s no longer exists", run_id, dag_id);
            return 1;
        }
        if (rc != 0)
            continue;
        if (state_in(c, "failed_states", "failed", state)) {
            run_log(c, "ERROR", "%s failed with failed state %s", dag_id, state);
            return 1;
        }
        if (state_in(c, "allowed_states", "success", state)) {
            run_log(c, "INFO", "%s finished with allowed state %s", dag_id, state);
            return 0;
        }
    }
}

static int run_trigger(const ops_ctx_t *c)
{
    char err[1024], run_id[DAGRUN_ID_MAX + 1] = "", *conf = NULL;
    const char *dag_id = arg_str(c, "trigger_dag_id");
    const char *want_id = arg_str(c, "trigger_run_id");
    const char *ld_s = arg_str(c, "logical_date");
    ts_us_t logical = ts_now();
    int64_t id = 0;
    db_t *db = NULL;
    int rc = 1;
    if (!ld_s)
        ld_s = arg_str(c, "execution_date");
    if (!dag_id) {
        run_log(c, "ERROR", "trigger_dag_id is required");
        goto out;
    }
    if (!c->metadata_db) {
        run_log(c, "ERROR", "The runner was given no database to trigger the run in");
        goto out;
    }
    if (ld_s && ts_parse(ld_s, &logical) < 0) {
        run_log(c, "ERROR", "logical_date '%s' is not a date or time", ld_s);
        goto out;
    }
    if (want_id && !dagrun_run_id_valid(want_id)) {
        run_log(c, "ERROR", "trigger_run_id '%s' is not a valid run id", want_id);
        goto out;
    }
    const cJSON *cf = arg(c, "conf");
    if (cf && !cJSON_IsObject(cf)) {
        run_log(c, "ERROR", "conf must be a mapping");
        goto out;
    }
    if (cf && !(conf = cJSON_PrintUnformatted(cf)))
        goto out;
    if (arg_bool(c, "deferrable", false))
        run_log(c, "INFO", "deferrable is not supported: the task waits in the worker");
    if (!(db = db_open(
              &(db_target_t){.url = (char *)c->metadata_db, .pooled = c->metadata_db_pooled}, err,
              sizeof(err)))) {
        run_log(c, "ERROR", "Cannot connect to the database: %s", err);
        goto out;
    }
    if (want_id)
        snprintf(run_id, sizeof(run_id), "%s", want_id);
    else
        dagrun_make_run_id(DAGRUN_MANUAL, logical, run_id, sizeof(run_id));
    dagrun_spec_t spec = {.dag_id = dag_id,
                          .run_id = run_id,
                          .type = DAGRUN_MANUAL,
                          .logical_date = logical,
                          .interval_start = TS_NONE,
                          .interval_end = TS_NONE,
                          .conf_json = conf};
    char created[DAGRUN_ID_MAX + 1] = "";
    int cr = dagrun_create(db, &spec, &id, created, err, sizeof(err));
    if (cr == UPDRAFT_EEXISTS) {
        char found[DAGRUN_ID_MAX + 1] = "";
        int fr = find_run(db, dag_id, run_id, logical, found, &logical, &id);
        if (fr < 0) {
            run_log(c, "ERROR", "Cannot read the existing run: %s", db_error(db));
            goto out;
        }
        if (fr == 0) {
            run_log(c, "ERROR", "Cannot trigger %s: %s", dag_id, err);
            goto out;
        }
        snprintf(run_id, sizeof(run_id), "%s", found);
        if (arg_bool(c, "reset_dag_run", false)) {
            if (reset_run(c, db, dag_id, run_id) < 0)
                goto out;
        } else if (arg_bool(c, "skip_when_already_exists", false)) {
            run_log(c, "INFO",
                    "Dag run %s of %s already exists, skipping (skip_when_already_"
                    "exists)",
                    run_id, dag_id);
            rc = OPERATOR_EXIT_SKIP;
            goto out;
        } else {
            run_log(c, "ERROR",
                    "A dag run %s of %s already exists (set reset_dag_run to clear "
                    "it, or skip_when_already_exists)",
                    run_id, dag_id);
            goto out;
        }
    } else if (cr < 0) {
        run_log(c, "ERROR", "Cannot trigger %s: %s", dag_id, err);
        goto out;
    } else {
        snprintf(run_id, sizeof(run_id), "%s", created);
        run_log(c, "INFO", "Triggered %s: run_id %s", dag_id, run_id);
    }
    char iso[TASKENV_DATE_LEN];
    if (push_string(c, "trigger_run_id", run_id) < 0 ||
        push_string(c, "trigger_execution_date_iso", taskenv_format_date(logical, iso)) < 0)
        goto out;
    rc = arg_bool(c, "wait_for_completion", false) ? wait_run(c, db, dag_id, run_id, id) : 0;
out:
    free(conf);
    db_close(db);
    return rc;
}

/* ---- entry point -------------------------------------------------------- */

int ops_main(const char *spec_path)
{
    size_t len = 0;
    int rc = 1;
    cJSON *spec = NULL;
    cJSON *empty_args = NULL, *empty_ctx = NULL, *empty_conns = NULL;
    dag_operator_t op;

    setvbuf(stdout, NULL, _IOLBF, 0);
    log_init("runner", LOG_LEVEL_WARN); /* library log lines land in the task log */
    signal(SIGPIPE, SIG_DFL);
    char *text = read_file(spec_path, SPEC_MAX, &len);
    int read_errno = errno;
    unlink(spec_path); /* it may hold passwords: gone as soon as read */
    ops_ctx_t c = {.log = stdout};
    if (!text) {
        run_log(&c, "ERROR", "Cannot read the operator spec: %s", strerror(read_errno));
        return 1;
    }
    spec = cJSON_ParseWithLengthOpts(text, len + 1, NULL, 1);
    secrets_free_str(text);
    const cJSON *opname = cJSON_GetObjectItemCaseSensitive(spec, "operator");
    if (!cJSON_IsObject(spec) || !cJSON_IsString(opname) ||
        !operator_parse(opname->valuestring, &op)) {
        run_log(&c, "ERROR", "The operator spec is not usable");
        goto out;
    }
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(spec, "args");
    const cJSON *cx = cJSON_GetObjectItemCaseSensitive(spec, "context");
    const cJSON *cn = cJSON_GetObjectItemCaseSensitive(spec, "connections");
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(spec, "metadata_db");
    const cJSON *mx = cJSON_GetObjectItemCaseSensitive(spec, "max_xcom_size");
    const cJSON *rf = cJSON_GetObjectItemCaseSensitive(spec, "result_file");
    const cJSON *down = cJSON_GetObjectItemCaseSensitive(spec, "downstream_task_ids");
    if (!cJSON_IsObject(a))
        a = empty_args = cJSON_CreateObject();
    if (!cJSON_IsObject(cx))
        cx = empty_ctx = cJSON_CreateObject();
    if (!cJSON_IsObject(cn))
        cn = empty_conns = cJSON_CreateObject();
    if (!a || !cx || !cn)
        goto out;
    c.args = a;
    c.context = cx;
    c.connections = cn;
    c.metadata_db = cJSON_IsString(md) ? md->valuestring : NULL;
    c.metadata_db_pooled =
        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(spec, "metadata_db_pooled"));
    c.max_xcom_size =
        cJSON_IsNumber(mx) && mx->valuedouble > 0 ? (size_t)mx->valuedouble : XCOM_MAX_SIZE_DEFAULT;
    c.no_return_value = cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(spec, "do_xcom_push"));
    const char *result_path = cJSON_IsString(rf) ? rf->valuestring : NULL;

    switch (op) {
    case DAG_OP_HTTP:
        rc = op_http_run(&c);
        break;
    case DAG_OP_SQL:
        rc = op_sql_run(&c);
        break;
    case DAG_OP_PYTHON:
    case DAG_OP_BRANCH:
    case DAG_OP_SHORT_CIRCUIT:
        rc = run_python(&c, op, down);
        break;
    case DAG_OP_TRIGGER_DAG_RUN:
        rc = run_trigger(&c);
        break;
    case DAG_OP_FILE_SENSOR:
        rc = run_sensor(&c, op_file_poke, result_path);
        break;
    case DAG_OP_HTTP_SENSOR:
        rc = run_sensor(&c, op_http_poke, result_path);
        break;
    case DAG_OP_SQL_SENSOR:
        rc = run_sensor(&c, op_sql_poke, result_path);
        break;
    case DAG_OP_EXTERNAL_TASK_SENSOR:
        rc = run_sensor(&c, op_external_task_poke, result_path);
        break;
    case DAG_OP_TIME_DELTA_SENSOR:
        rc = run_sensor(&c, op_time_delta_poke, result_path);
        break;
    case DAG_OP_DATE_TIME_SENSOR:
        rc = run_sensor(&c, op_date_time_poke, result_path);
        break;
    case DAG_OP_EMPTY:
    case DAG_OP_LATEST_ONLY:
        rc = 0;
        break;
    default:
        run_log(&c, "ERROR", "%s is not run by the operator runner", operator_class_name(op));
        rc = 1;
        break;
    }
out:
    fflush(stdout);
    cJSON_Delete(spec);
    cJSON_Delete(empty_args);
    cJSON_Delete(empty_ctx);
    cJSON_Delete(empty_conns);
    return rc;
}
