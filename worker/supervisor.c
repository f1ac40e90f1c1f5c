/*
 * supervisor.c - runs claimed tries to their end (see supervisor.h).
 *
 * One poll() loop over: the hand-off eventfd (new tries, close, wake), a
 * signalfd for SIGCHLD, and the output pipe of every running task. Each
 * iteration then does the timed work: reaping, log flushes (per try, at
 * most one every log_flush_ms, or at once when 64 KiB are waiting),
 * execution timeouts and kill escalation, heartbeats, and outcomes.
 *
 * A try ends in one of two ways. Its process exits (or it never had one:
 * empty operator, bad spec, spawn failure): the outcome is written together
 * with the rest of the log in one statement, retried with backoff until
 * Postgres takes it, then the message is acknowledged. Or it loses its
 * guard (heartbeat or log write rejected): its process group is killed
 * (SIGTERM, SIGKILL after 5 s), nothing more is written, and the message is
 * acknowledged once the process is gone. Either way its slot is then given
 * back to the consumer.
 *
 * A try's process is `bash -c` for bash tasks (the bash found at start), and the operator runner
 * (this binary with --run-operator, worker/ops.h) for the other operators,
 * with the try's spec in a 0600 file (worker/opspec.h). The runner's exit
 * code says how the try ends (model/operator.h): success, skipped,
 * up_for_reschedule (a sensor in reschedule mode: its slot is given back
 * and the row waits for its next poke), failed without retry, or failed.
 * A mapped task instance gets its expand values and every try its
 * templates before the process starts (worker/wrender.h). A bash branch's
 * or short-circuit's output is followed line by line and its decision is
 * written as the XCom skipmixin_key with the try's success, for the
 * planner.
 *
 * While Postgres is unreachable the loop keeps reading the pipes; a try's
 * buffer grows up to RUN_LOG_SOFT_MAX before its pipe is left unread (the
 * task then blocks on write until Postgres is back).
 */
#include "worker/supervisor.h"
#include "core/pgarray.h"
#include "core/strbuf.h"
#include "core/utf8.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/backoff.h"
#include "core/healthsrv.h"
#include "core/log.h"
#include "core/notify.h"
#include "sched/planrun.h"
#include "store/pools.h"
#include "store/ti.h"
#include "model/planner.h"
#include "model/taskenv.h"
#include "core/timeutil.h"
#include "store/xcom.h"
#include "worker/executor.h"
#include "worker/taskguard.h"
#include "worker/logbuf.h"
#include "worker/opsem.h"
#include "worker/opspec.h"
#include "worker/runas.h"
#include "worker/wmetrics.h"
#include "worker/wrender.h"

extern char **environ;

#define READ_CHUNK (64 * 1024)
#define FLUSH_AT_BYTES (64 * 1024)
#define RUN_LOG_SOFT_MAX (8 * 1024 * 1024)
#define KILL_GRACE_US (5 * TS_US_PER_SEC)
#define DRAIN_MAX_READS 64
#define RECONNECT_EVERY_US TS_US_PER_SEC
#define POLL_MAX_MS 1000
#define VERSION_CACHE 16 /* DAG versions kept for the mini-scheduler and direct claims */
#define THREAD_STACK (512 * 1024)
#define MAX_RESCHEDULE_SEC (366LL * 86400) /* a later next poke is brought forward */

typedef struct run {
    wtry_t *t;
    executor_proc_t proc; /* proc.pid > 0 while the process is not reaped */
    logbuf_t *log;
    bool exited; /* process over (or never started): outcome due */
    bool success;
    bool skipped; /* exit code in skip_on_exit_code */
    bool lost;    /* guard rejected: write nothing more */
    bool timed_out;
    bool over;                /* done with: free it and give its slot back */
    bool in_batch;            /* its outcome is in the transaction being written */
    char state[TI_STATE_LEN]; /* the state the outcome wrote */
    int64_t started_us;       /* monotonic */
    int64_t exited_us;        /* monotonic: the process's exit (or no process to run) */
    int64_t flush_due_us;
    int64_t kill_at_us;  /* SIGKILL escalation, 0 = none */
    int64_t retry_at_us; /* next outcome attempt */
    backoff_t retry;     /* its schedule, after a failed write */
    /* XCom return_value: the last non-empty output line (raw bytes). */
    char *line;      /* the line being read */
    size_t line_len; /* bytes in line (not counted once line_over) */
    size_t line_cap;
    bool line_over; /* the current line is longer than the XCom limit */
    char *last;     /* the last complete non-empty line, NULL if none */
    size_t last_len;
    bool last_over;
    char xcom_path[96]; /* $UPDRAFT_XCOM_FILE, "" if none */
    xcom_kv_t *pushed;  /* what the task wrote there */
    size_t npushed;
    bool track;      /* follow output lines: do_xcom_push, or a bash branch/short_circuit */
    char **followed; /* bash branch: downstream ids its output named, in order */
    size_t n_followed;
    char *skipmixin;      /* JSON written as OPERATOR_SKIPMIXIN_KEY with a success, NULL none */
    bool rendered_due;    /* the try's fields were rendered and are not stored yet */
    char *rendered;       /* their JSON text, made at the first write (rendered_json) */
    char spec_path[96];   /* the operator runner's spec file, "" if none */
    char result_path[96]; /* the runner's result file (reschedule delay), "" if none */
    bool reschedule;      /* OPERATOR_EXIT_RESCHEDULE: up_for_reschedule */
    long long reschedule_sec;
    bool no_retry;  /* OPERATOR_EXIT_FAIL_NO_RETRY */
    uid_t file_uid; /* who owns the try's files: the user it runs as */
} run_t;

struct supervisor {
    supervisor_opts_t o;
    int sigfd;
    pthread_t thread;
    bool started;
    atomic_bool done;
    run_t **runs;
    size_t nruns, cap;
    int64_t hb_due_us;
    int64_t reconnect_due_us;
    char *hostname;
    dagver_cache_t *specs; /* DAG versions: mini-scheduler, direct claims; created on first use */
    int64_t idle_since_us; /* monotonic: no try since then (0: busy or trimmed) */
    size_t transferred;    /* slots of ended tries kept by direct claims */
    /* Process groups whose leader was reaped while a SIGKILL was due (a
     * stop or timeout sent SIGTERM): the rest of the group still gets it. */
    struct group_kill {
        pid_t pgid;
        int64_t at_us;
    } * gkills;
    size_t ngkills, gkcap;
    taskguard_t *guard;     /* kills the task groups if this process dies (worker/taskguard.h) */
    int slots_used;         /* the slot gauges as last recorded, -1 before the first */
    int64_t guard_retry_us; /* monotonic: when a failed guard start is tried again */
    char buf[READ_CHUNK];
};

supervisor_t *supervisor_new(const supervisor_opts_t *o, char *err, size_t errlen)
{
    supervisor_t *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    s->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (s->sigfd < 0) {
        snprintf(err, errlen, "signalfd: %s", strerror(errno));
        free(s);
        return NULL;
    }
    s->o = *o;
    s->hostname = strdup(o->hostname ? o->hostname : "");
    if (!s->hostname) {
        snprintf(err, errlen, "out of memory");
        close(s->sigfd);
        free(s);
        return NULL;
    }
    s->o.hostname = s->hostname;
    s->slots_used = -1;
    atomic_init(&s->done, false);
    return s;
}

static void run_free(run_t *r)
{
    if (!r)
        return;
    executor_cleanup(&r->proc);
    logbuf_free(r->log);
    free(r->line);
    free(r->last);
    if (r->xcom_path[0])
        unlink(r->xcom_path);
    if (r->spec_path[0])
        unlink(r->spec_path);
    if (r->result_path[0])
        unlink(r->result_path);
    xcom_kv_free(r->pushed, r->npushed);
    for (size_t i = 0; i < r->n_followed; i++)
        free(r->followed[i]);
    free(r->followed);
    free(r->skipmixin);
    free(r->rendered);
    wtry_free(r->t);
    free(r);
}

void supervisor_free(supervisor_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nruns; i++)
        run_free(s->runs[i]);
    free(s->runs);
    dagver_cache_free(s->specs);
    free(s->hostname);
    free(s->gkills);
    taskguard_free(s->guard);
    close(s->sigfd);
    db_close(s->o.db);
    queue_close(s->o.queue);
    free(s);
}

/* ---- starting tries ---------------------------------------------------- */

static void run_mark_exited(run_t *r, bool success)
{
    r->exited = true;
    r->success = success;
    r->retry_at_us = r->exited_us = ts_mono_us();
    backoff_init(&r->retry, -1);
}

/* An empty file for the task's extra XComs, named in its environment. */
static int make_xcom_file(run_t *r, char ***envp, char *err, size_t errlen)
{
    int fd = opspec_temp_file(r->xcom_path, "xcom", err, errlen);
    if (fd < 0)
        return -1;
    close(fd);
    return taskenv_set(envp, XCOM_FILE_ENV, r->xcom_path, err, errlen);
}

/*
 * Who t runs as (worker/runas.h): 0 with *as filled for another user, 1 to
 * run as the worker itself, -1 with err when the try must not run.
 */
static int choose_user(const supervisor_t *s, const wtry_t *t, runas_user_t *u, executor_as_t *as,
                       char *err, size_t errlen)
{
    const char *want = t->run_as_user ? t->run_as_user : s->o.default_run_as_user;
    int who = runas_decide(want, geteuid(), s->o.allow_root_tasks, u, err, errlen);

    if (who < 0)
        return -1;
    if (who == RUNAS_SELF)
        return 1;
    if (!s->o.self_exe) {
        snprintf(err, errlen, "run_as_user '%s': the worker cannot find its own executable",
                 u->name);
        return -1;
    }
    *as = (executor_as_t){.self_exe = s->o.self_exe, .uid = u->uid, .gid = u->gid, .name = u->name};
    return 0;
}

/*
 * Hands the try's files to the user it runs as, and gives it that user's
 * HOME, USER and LOGNAME unless its own env names them (sudo -H does the
 * same for Airflow's impersonation).
 */
static int give_to_user(run_t *r, const runas_user_t *u, char ***envp, char *err, size_t errlen)
{
    const char *paths[] = {r->xcom_path, r->spec_path, r->result_path};
    const struct {
        const char *name, *value;
    } vars[] = {{"HOME", u->home}, {"USER", u->name}, {"LOGNAME", u->name}};

    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        if (paths[i][0] && chown(paths[i], u->uid, u->gid) != 0) {
            snprintf(err, errlen, "cannot give %s to user '%s': %s", paths[i], u->name,
                     strerror(errno));
            return -1;
        }
    }
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        bool own = false;
        for (size_t k = 0; k < r->t->n_env; k++)
            own = own || strcmp(r->t->env[k].name, vars[i].name) == 0;
        if (!own && taskenv_set(envp, vars[i].name, vars[i].value, err, errlen) < 0)
            return -1;
    }
    return 0;
}

/* The runner's spec and result files; the process is started by the caller. */
static int prepare_runner(supervisor_t *s, run_t *r, char *err, size_t errlen)
{
    int fd = opspec_temp_file(r->result_path, "opres", err, errlen);
    if (fd < 0)
        return -1;
    close(fd);
    opspec_opts_t so = {.max_xcom_size = s->o.max_xcom_size,
                        .db_url = s->o.db_url,
                        .db_pooled = s->o.db_pooled,
                        .result_path = r->result_path};
    return opspec_write(s->o.db, s->o.ring, r->t, &so, r->log, r->spec_path, err, errlen);
}

/*
 * The guard is gone or cannot be told: the next spawn starts another.
 * reaped: its exit was collected (its pid may be reused: not signalled).
 * Otherwise it may still be alive, and closing its pipe would make it kill
 * every running task: it is killed first (not yet reaped, so its pid is
 * still its own).
 */
static void guard_lost(supervisor_t *s, const char *why, bool reaped)
{
    if (!s->guard)
        return;
    log_error("task guard lost, starting another reason=\"%s\" pid=%d", why,
              (int)taskguard_pid(s->guard));
    if (!reaped)
        kill(taskguard_pid(s->guard), SIGKILL);
    taskguard_free(s->guard);
    s->guard = NULL;
}

/*
 * The guard (worker/taskguard.h) is started before the first task and again
 * whenever it is found gone; a new one is told about every group still
 * running. Without one, tasks still run: they would only outlive a worker
 * killed with SIGKILL, as the warning says.
 */
static void guard_ensure(supervisor_t *s)
{
    char err[256];
    int64_t now = ts_mono_us();

    if (s->guard || now < s->guard_retry_us)
        return;
    s->guard = taskguard_start(s->o.self_exe, err, sizeof(err));
    if (!s->guard) {
        s->guard_retry_us = now + 10 * TS_US_PER_SEC;
        log_warn("cannot start the task guard, tasks would outlive a killed worker error=\"%s\"",
                 err);
        return;
    }
    log_info("task guard started pid=%d", (int)taskguard_pid(s->guard));
    for (size_t i = 0; s->guard && i < s->nruns; i++)
        if (s->runs[i]->proc.pid > 0 && taskguard_add(s->guard, s->runs[i]->proc.pid) < 0)
            guard_lost(s, "cannot write to the task guard", false);
    for (size_t i = 0; s->guard && i < s->ngkills; i++)
        if (taskguard_add(s->guard, s->gkills[i].pgid) < 0)
            guard_lost(s, "cannot write to the task guard", false);
}

static void run_spawn(supervisor_t *s, run_t *r)
{
    wtry_t *t = r->t;
    char err[1536];
    taskenv_ctx_t ctx;
    wtry_env_ctx(t, &ctx);
    bool runner = t->kind == WTRY_RUNNER;

    /* A mapped instance's values first: they may hold templates. */
    if (wrender_apply_map(s->o.db, t, err, sizeof(err)) < 0) {
        logbuf_append_line(r->log, "ERROR", "Cannot run the mapped task instance: %s", err);
        log_warn("task mapping failed " WTRY_LOG_FMT, WTRY_LOG_ARGS(t));
        run_mark_exited(r, false);
        return;
    }
    /* Templates read variables, connections and XComs: a database that is
     * away fails the try like any render error (normal retry rules). */
    if (wrender_try(s->o.db, s->o.ring, t, r->log, err, sizeof(err)) < 0) {
        logbuf_append_line(r->log, "ERROR", "%s", err);
        log_warn("task render failed " WTRY_LOG_FMT, WTRY_LOG_ARGS(t));
        run_mark_exited(r, false);
        return;
    }
    r->rendered_due = true; /* stored with the try's first log write */
    if (!runner && (!t->bash_command || !*t->bash_command)) {
        logbuf_append_line(r->log, "ERROR", "Cannot run the task: it has no bash_command");
        run_mark_exited(r, false);
        return;
    }
    if (!runner && !s->o.bash) {
        logbuf_append_line(r->log, "ERROR", "Cannot run the task: the worker has no bash");
        run_mark_exited(r, false);
        return;
    }
    if (runner && !s->o.self_exe) {
        logbuf_append_line(r->log, "ERROR",
                           "Cannot run %s: the worker cannot find its own executable",
                           operator_class_name(t->op));
        run_mark_exited(r, false);
        return;
    }
    /* Output lines are followed for the return_value XCom (bash) and for a
     * bash branch's or short-circuit's decision. */
    r->track =
        !runner && (t->do_xcom_push || t->op == DAG_OP_BRANCH || t->op == DAG_OP_SHORT_CIRCUIT);
    if (runner) {
        if (operator_is_sensor(t->op) && t->poke_count > 0)
            logbuf_append_line(r->log, "INFO", "Running operator: %s (poke %d)",
                               operator_class_name(t->op), t->poke_count + 1);
        else
            logbuf_append_line(r->log, "INFO", "Running operator: %s", operator_class_name(t->op));
    } else {
        logbuf_append_line(r->log, "INFO", "Running command: %s", t->bash_command);
    }
    runas_user_t user;
    executor_as_t as;
    int who = choose_user(s, t, &user, &as, err, sizeof(err));
    if (who < 0) {
        logbuf_append_line(r->log, "ERROR", "Cannot run the task: %s", err);
        log_warn("task refused " WTRY_LOG_FMT " error=\"%s\"", WTRY_LOG_ARGS(t), err);
        run_mark_exited(r, false);
        return;
    }
    r->file_uid = who == 0 ? user.uid : geteuid();
    char **envp =
        taskenv_build(environ, t->env, t->n_env, t->has_env, t->append_env, &ctx, err, sizeof(err));
    if (envp && (taskenv_add_conf(&envp, t->conf_json, err, sizeof(err)) < 0 ||
                 make_xcom_file(r, &envp, err, sizeof(err)) < 0 ||
                 (runner && prepare_runner(s, r, err, sizeof(err)) < 0) ||
                 (who == 0 && give_to_user(r, &user, &envp, err, sizeof(err)) < 0))) {
        taskenv_free(envp);
        envp = NULL;
    }
    if (!envp) {
        logbuf_append_line(r->log, "ERROR", "Cannot start the task: %s", err);
        run_mark_exited(r, false);
        return;
    }
    if (who == 0)
        logbuf_append_line(r->log, "INFO", "Running as user %s (uid %lu)", user.name,
                           (unsigned long)user.uid);
    guard_ensure(s);
    int rc;
    const executor_as_t *asp = who == 0 ? &as : NULL;
    if (runner) {
        char *const argv[] = {(char *)"updraft-worker", (char *)"--run-operator", r->spec_path,
                              NULL};
        rc =
            executor_spawn_argv(s->o.self_exe, argv, t->cwd, envp, asp, &r->proc, err, sizeof(err));
    } else {
        rc = executor_spawn(s->o.bash, t->bash_command, t->cwd, envp, asp, &r->proc, err,
                            sizeof(err));
    }
    taskenv_free(envp);
    if (rc < 0) {
        logbuf_append_line(r->log, "ERROR", "Cannot start the task: %s", err);
        log_warn("task start failed " WTRY_LOG_FMT " error=\"%s\"", WTRY_LOG_ARGS(t), err);
        run_mark_exited(r, false);
        return;
    }
    if (s->guard && taskguard_add(s->guard, r->proc.pid) < 0) {
        guard_lost(s, "cannot write to the task guard", false);
        guard_ensure(s); /* tells the new one about this group too */
    }
    logbuf_append_line(r->log, "INFO", "Output:");
    log_info("try started " WTRY_LOG_FMT " pid=%d", WTRY_LOG_ARGS(t), (int)r->proc.pid);
}

/*
 * Starts t's try. upstream_exit_us: taken directly by the mini-scheduler,
 * the exit of the upstream try whose outcome transaction claimed it
 * (monotonic); 0 for a try taken from a queue (wmetrics.h, hop latency).
 */
static int add_run(supervisor_t *s, wtry_t *t, int64_t upstream_exit_us)
{
    run_t *r = calloc(1, sizeof(*r));
    if (!r)
        return -1;
    r->log = logbuf_new(s->o.max_log_bytes);
    if (!r->log) {
        free(r);
        return -1;
    }
    if (s->nruns == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 16;
        run_t **nr = realloc(s->runs, ncap * sizeof(*nr));
        if (!nr) {
            logbuf_free(r->log);
            free(r);
            return -1;
        }
        s->runs = nr;
        s->cap = ncap;
    }
    r->t = t;
    r->proc.out_fd = -1;
    r->started_us = ts_mono_us();
    r->flush_due_us = r->started_us + (int64_t)s->o.log_flush_ms * 1000;
    s->runs[s->nruns++] = r;

    if (s->o.orchestration_only && t->kind != WTRY_INVALID) {
        run_mark_exited(r, true); /* benchmarks: nothing runs, nothing is logged */
        wmetrics_hop(t, upstream_exit_us, ts_mono_us());
        return 0;
    }
    switch (t->kind) {
    case WTRY_BASH:
    case WTRY_RUNNER:
        run_spawn(s, r);
        break;
    case WTRY_EMPTY:
        if (t->op == DAG_OP_LATEST_ONLY)
            logbuf_append_line(r->log, "INFO",
                               "LatestOnlyOperator is decided by the scheduler: "
                               "nothing to run, marking success");
        else
            logbuf_append_line(r->log, "INFO", "Empty operator: nothing to run, marking success");
        run_mark_exited(r, true);
        break;
    case WTRY_INVALID:
        logbuf_append_line(r->log, "ERROR", "Cannot run the task: %s",
                           t->spec_error ? t->spec_error : "invalid task spec");
        log_warn("invalid task spec " WTRY_LOG_FMT " error=\"%s\"", WTRY_LOG_ARGS(t),
                 t->spec_error ? t->spec_error : "");
        run_mark_exited(r, false);
        return 0; /* nothing started: no hop */
    }
    wmetrics_hop(t, upstream_exit_us, ts_mono_us());
    return 0;
}

/* Records the slot gauges when the slots in use changed since the last time. */
static void record_slots(supervisor_t *s)
{
    int used, total;
    handoff_slots(s->o.handoff, &used, &total);
    if (used != s->slots_used) {
        s->slots_used = used;
        wmetrics_slots(used, total);
    }
}

static void accept_tries(supervisor_t *s)
{
    wtry_t *t;
    handoff_clear(s->o.handoff);
    while ((t = handoff_pop(s->o.handoff)) != NULL) {
        if (add_run(s, t, 0) < 0) {
            /* Not run and not acknowledged: the try goes stale and is reaped. */
            log_error("out of memory, dropping try " WTRY_LOG_FMT, WTRY_LOG_ARGS(t));
            wtry_free(t);
            handoff_release(s->o.handoff);
        }
    }
}

/* ---- output and exits -------------------------------------------------- */

/* A bash branch: a line naming a direct downstream task or group is followed. */
static void branch_line(run_t *r, const char *p, size_t n)
{
    while (n > 0 && (*p == ' ' || *p == '\t')) {
        p++;
        n--;
    }
    if (n == 0 || n > OPSEM_BRANCH_MAX_LINE || r->n_followed >= OPSEM_BRANCH_MAX_FOLLOWED ||
        !opsem_branch_target(r->t->downstream, p, n))
        return;
    for (size_t i = 0; i < r->n_followed; i++)
        if (strlen(r->followed[i]) == n && memcmp(r->followed[i], p, n) == 0)
            return;
    if (!r->followed && !(r->followed = calloc(OPSEM_BRANCH_MAX_FOLLOWED, sizeof(char *))))
        return;
    r->followed[r->n_followed] = strndup(p, n);
    if (r->followed[r->n_followed])
        r->n_followed++;
}

/* Ends the current output line: it becomes the last one unless blank. */
static void line_end(run_t *r)
{
    size_t n = r->line_over ? 0 : r->line_len;
    while (n > 0 && (r->line[n - 1] == ' ' || r->line[n - 1] == '\t' || r->line[n - 1] == '\r'))
        n--; /* rstrip(), as Airflow's hook reads lines */
    if (n > 0 && r->t->op == DAG_OP_BRANCH)
        branch_line(r, r->line, n);
    if (n > 0 || r->line_over) {
        free(r->last);
        r->last = r->line;
        r->last_len = n;
        r->last_over = r->line_over;
        r->line = NULL;
        r->line_cap = 0;
    }
    r->line_len = 0;
    r->line_over = false;
}

/* Follows task output to know its last non-empty line (do_xcom_push). */
static void track_lines(run_t *r, const char *p, size_t n, size_t limit)
{
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t take = nl ? (size_t)(nl - p) : n;
        if (!r->line_over && take > 0) {
            if (r->line_len + take > limit) {
                r->line_over = true;
            } else {
                if (r->line_len + take > r->line_cap) {
                    size_t ncap = r->line_cap ? r->line_cap : 256;
                    while (ncap < r->line_len + take)
                        ncap *= 2;
                    char *nl2 = realloc(r->line, ncap);
                    if (!nl2) {
                        r->line_over = true; /* out of memory: the push fails the try */
                        goto next;
                    }
                    r->line = nl2;
                    r->line_cap = ncap;
                }
                memcpy(r->line + r->line_len, p, take);
                r->line_len += take;
            }
        }
    next:
        if (!nl)
            return;
        line_end(r);
        p = nl + 1;
        n -= take + 1;
    }
}

/* Reads what the pipe has (up to max_reads chunks); closes it at EOF. */
static void read_output(supervisor_t *s, run_t *r, int max_reads)
{
    for (int i = 0; i < max_reads && r->proc.out_fd >= 0; i++) {
        ssize_t n = read(r->proc.out_fd, s->buf, sizeof(s->buf));
        if (n > 0) {
            if (!r->lost && logbuf_append_output(r->log, s->buf, (size_t)n) < 0)
                log_error("out of memory, task output lost " WTRY_LOG_FMT, WTRY_LOG_ARGS(r->t));
            if (r->track)
                track_lines(r, s->buf, (size_t)n, s->o.max_xcom_size);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        close(r->proc.out_fd); /* EOF or error */
        r->proc.out_fd = -1;
    }
}

static run_t *find_pid(supervisor_t *s, pid_t pid)
{
    for (size_t i = 0; i < s->nruns; i++) {
        if (s->runs[i]->proc.pid == pid)
            return s->runs[i];
    }
    return NULL;
}

/* Reads and removes the task's XCom file. 0, or -1 (logged: the try fails). */
static int read_xcom_file(supervisor_t *s, run_t *r)
{
    char err[512];
    int rc = -1;
    char *text = NULL;
    if (!r->xcom_path[0])
        return 0;
    size_t cap = s->o.max_xcom_size * 4 + 4096, len = 0;
    FILE *f = opspec_open_task_file(r->xcom_path, r->file_uid);
    if (!f) {
        rc = errno == ENOENT ? 0 : -1; /* the task may remove it */
        snprintf(err, sizeof(err), "cannot read %s: %s", XCOM_FILE_ENV,
                 errno == EINVAL || errno == ELOOP ? "it is no longer a regular file"
                 : errno == EPERM                  ? "it is no longer the file the worker made"
                                                   : strerror(errno));
        goto out;
    }
    if (!(text = malloc(cap + 1))) {
        snprintf(err, sizeof(err), "out of memory");
        goto out;
    }
    len = fread(text, 1, cap + 1, f);
    if (ferror(f)) {
        snprintf(err, sizeof(err), "cannot read %s", XCOM_FILE_ENV);
        goto out;
    }
    if (len > cap) {
        snprintf(err, sizeof(err), "%s is larger than %zu bytes", XCOM_FILE_ENV, cap);
        goto out;
    }
    rc = xcom_parse_file(text, len, s->o.max_xcom_size, &r->pushed, &r->npushed, err, sizeof(err));
out:
    if (f)
        fclose(f);
    free(text);
    unlink(r->xcom_path);
    r->xcom_path[0] = '\0';
    if (rc < 0 && !r->lost)
        logbuf_append_line(r->log, "ERROR", "Cannot push XComs: %s", err);
    return rc;
}

/* {"followed": [ids]} as the planner reads OPERATOR_SKIPMIXIN_KEY. */
static char *skipmixin_json(char *const *ids, size_t n)
{
    cJSON *o = cJSON_CreateObject(), *arr = o ? cJSON_AddArrayToObject(o, "followed") : NULL;
    char *text = NULL;
    bool ok = arr != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        cJSON *id = cJSON_CreateString(ids[i]);
        ok = id && cJSON_AddItemToArray(arr, id);
        if (!ok)
            cJSON_Delete(id);
    }
    if (ok)
        text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

/* Joins the direct downstream ids for a log line ("a, b"). */
static void downstream_list(const wtry_t *t, char *buf, size_t len)
{
    const cJSON *it;
    size_t off = 0;
    buf[0] = '\0';
    cJSON_ArrayForEach(it, t->downstream)
    {
        if (cJSON_IsString(it) && off < len)
            off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? ", " : "", it->valuestring);
    }
}

/*
 * A bash branch or short-circuit that succeeded: what the planner must
 * skip (r->skipmixin). Returns false when out of memory (the try fails).
 */
static bool shell_decision(run_t *r)
{
    const wtry_t *t = r->t;
    char list[2048];
    if (t->op == DAG_OP_BRANCH) {
        if (r->n_followed > 0) {
            size_t off = 0;
            list[0] = '\0';
            for (size_t i = 0; i < r->n_followed && off < sizeof(list); i++)
                off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s", i ? ", " : "",
                                        r->followed[i]);
            logbuf_append_line(r->log, "INFO", "Following branch: %s", list);
        } else if (cJSON_GetArraySize(t->downstream) > 0) {
            downstream_list(t, list, sizeof(list));
            logbuf_append_line(r->log, "WARNING",
                               "No output line names a direct downstream task or task group "
                               "(%s): skipping all of them",
                               list);
        }
        r->skipmixin = skipmixin_json(r->followed, r->n_followed);
        return r->skipmixin != NULL;
    }
    if (t->op == DAG_OP_SHORT_CIRCUIT) {
        bool falsy = !r->last || (!r->last_over && opsem_line_falsy(r->last, r->last_len));
        if (!falsy) {
            logbuf_append_line(r->log, "INFO",
                               "Condition result is truthy, proceeding with downstream tasks");
            return true;
        }
        logbuf_append_line(r->log, "INFO", "Condition result is falsy, skipping downstream tasks");
        r->skipmixin = skipmixin_json(NULL, 0);
        return r->skipmixin != NULL;
    }
    return true;
}

/* How the operator runner's exit code ends the try (operator.h). */
static bool runner_exit(supervisor_t *s, run_t *r, int code)
{
    (void)s;
    switch (code) {
    case 0:
        return true;
    case OPERATOR_EXIT_SKIP:
        r->skipped = true;
        if (!r->lost)
            logbuf_append_line(r->log, "INFO", "Task skipped");
        return false;
    case OPERATOR_EXIT_RESCHEDULE: {
        long long d = opspec_read_reschedule(r->result_path, r->file_uid);
        if (d < 0) {
            /* The runner says "not yet" without a time: its poke_interval. */
            const cJSON *pi =
                r->t->args ? cJSON_GetObjectItemCaseSensitive(r->t->args, "poke_interval") : NULL;
            d = cJSON_IsNumber(pi) && pi->valuedouble >= 0 ? (long long)pi->valuedouble
                                                           : OPERATOR_POKE_INTERVAL_DEFAULT;
        }
        r->reschedule = true;
        r->reschedule_sec = d;
        if (!r->lost)
            logbuf_append_line(r->log, "INFO",
                               "Rescheduling: the next poke is in %lld seconds (the slot is free "
                               "meanwhile)",
                               d);
        return false;
    }
    case OPERATOR_EXIT_FAIL_NO_RETRY:
        r->no_retry = true;
        if (!r->lost)
            logbuf_append_line(r->log, "ERROR", "Task failed without retry");
        return false;
    default:
        return false;
    }
}

/* Keeps the SIGKILL escalation of a group whose leader is gone. */
static void defer_group_kill(supervisor_t *s, pid_t pgid, int64_t at_us)
{
    if (kill(-pgid, 0) < 0)
        return; /* nothing left in the group */
    if (s->ngkills == s->gkcap) {
        size_t ncap = s->gkcap ? 2 * s->gkcap : 8;
        struct group_kill *g = realloc(s->gkills, ncap * sizeof(*g));
        if (!g) {
            kill(-pgid, SIGKILL); /* no room to wait for the grace: now */
            return;
        }
        s->gkills = g;
        s->gkcap = ncap;
    }
    s->gkills[s->ngkills++] = (struct group_kill){pgid, at_us};
}

static void check_group_kills(supervisor_t *s, int64_t now)
{
    size_t k = 0;
    for (size_t i = 0; i < s->ngkills; i++) {
        struct group_kill g = s->gkills[i];
        if (kill(-g.pgid, 0) < 0)
            continue;
        if (now >= g.at_us) {
            log_warn("process group did not stop after SIGTERM, killing pgid=%d", (int)g.pgid);
            kill(-g.pgid, SIGKILL);
            continue;
        }
        s->gkills[k++] = g;
    }
    s->ngkills = k;
}

static void on_exit_status(supervisor_t *s, run_t *r, int status)
{
    /* What the task wrote before exiting is in the pipe; background processes
     * it left may hold the pipe open, so read what is there and stop. */
    read_output(s, r, DRAIN_MAX_READS);
    if (r->kill_at_us && r->proc.pid > 0)
        defer_group_kill(s, r->proc.pid, r->kill_at_us);
    r->kill_at_us = 0;
    r->proc.pid = 0;
    executor_cleanup(&r->proc);
    bool ok = false, runner = r->t->kind == WTRY_RUNNER;
    if (WIFEXITED(status)) {
        int code = WEXITSTATUS(status);
        ok = code == 0 && !r->timed_out;
        if (!r->lost)
            logbuf_append_line(r->log, "INFO", "%s exited with return code %d",
                               runner ? "Task" : "Command", code);
        if (runner) {
            if (!r->timed_out)
                ok = runner_exit(s, r, code);
        } else if (!r->timed_out && wtry_skip_code(r->t, code)) {
            /* BashOperator: an exit code in skip_on_exit_code raises AirflowSkipException. */
            r->skipped = true;
            ok = false;
            if (!r->lost)
                logbuf_append_line(r->log, "INFO", "Bash command returned exit code %d. Skipping.",
                                   code);
        }
    } else if (WIFSIGNALED(status) && !r->lost) {
        logbuf_append_line(r->log, "INFO", "%s was killed by signal %d (%s)",
                           runner ? "Task" : "Command", WTERMSIG(status),
                           strsignal(WTERMSIG(status)));
    }
    if (r->timed_out && !r->lost)
        logbuf_append_line(r->log, "ERROR", "Task timed out after %d seconds",
                           r->t->execution_timeout_sec);
    if (r->track && (r->line_len > 0 || r->line_over))
        line_end(r); /* output that did not end with a newline */
    if (ok && r->t->do_xcom_push && r->last_over && !runner) {
        ok = false;
        if (!r->lost)
            logbuf_append_line(r->log, "ERROR",
                               "XCom return_value is larger than %zu bytes (core.max_xcom_size): "
                               "the last output line cannot be pushed (set do_xcom_push: false "
                               "or print less)",
                               s->o.max_xcom_size);
    }
    if (ok && read_xcom_file(s, r) < 0)
        ok = false;
    if (ok && !runner && !r->lost && !shell_decision(r)) {
        logbuf_append_line(r->log, "ERROR", "out of memory");
        ok = false;
    }
    run_mark_exited(r, ok);
}

static void reap(supervisor_t *s)
{
    struct signalfd_siginfo si;
    while (read(s->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
        ;
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            return;
        if (s->guard && pid == taskguard_pid(s->guard)) {
            guard_lost(s, "the guard process exited", true);
            guard_ensure(s); /* at once: the running tasks are not covered meanwhile */
            continue;
        }
        run_t *r = find_pid(s, pid);
        if (r)
            on_exit_status(s, r, status);
    }
}

/* ---- database ----------------------------------------------------------- */

/* True when the connection is usable; reconnects at most once a second. */
static bool db_usable(supervisor_t *s, int64_t now)
{
    if (db_ok(s->o.db))
        return true;
    if (now < s->reconnect_due_us)
        return false;
    s->reconnect_due_us = now + RECONNECT_EVERY_US;
    return db_ensure(s->o.db, 0, s->o.stop) == 0;
}

static void lose_run(run_t *r, const char *why)
{
    if (r->lost)
        return;
    r->lost = true;
    logbuf_consume(r->log, logbuf_pending(r->log));
    log_warn("try lost its guard, stopping it " WTRY_LOG_FMT " reason=\"%s\"", WTRY_LOG_ARGS(r->t),
             why);
    if (r->proc.pid > 0) {
        executor_signal(&r->proc, SIGTERM);
        r->kill_at_us = ts_mono_us() + KILL_GRACE_US;
    }
}

/*
 * The try's rendered fields to store with its next log write, NULL when
 * there are none (not rendered, or stored already). Made at the first
 * write rather than at the render, so that every secret the log masks
 * is known by then: the connections handed to the operator runner too.
 */
static const char *rendered_json(supervisor_t *s, run_t *r)
{
    if (!r->rendered_due)
        return NULL;
    if (!r->rendered &&
        !(r->rendered = wrender_fields_json(r->t, r->log, s->o.max_templated_field_length))) {
        log_warn("out of memory, the rendered fields are not stored " WTRY_LOG_FMT,
                 WTRY_LOG_ARGS(r->t));
        r->rendered_due = false;
    }
    return r->rendered;
}

/* The rendered fields went with a write that committed. */
static void rendered_stored(run_t *r)
{
    r->rendered_due = false;
    free(r->rendered);
    r->rendered = NULL;
}

static void flush_logs(supervisor_t *s, int64_t now)
{
    for (size_t i = 0; i < s->nruns; i++) {
        run_t *r = s->runs[i];
        size_t pending = logbuf_pending(r->log);
        if (r->lost || r->exited || pending == 0)
            continue;
        if (pending < FLUSH_AT_BYTES && now < r->flush_due_us)
            continue;
        if (!db_usable(s, now))
            return;
        int rc = ti_log(s->o.db, s->o.job_id, r->t->ti_id, r->t->try_number, logbuf_data(r->log),
                        rendered_json(s, r), s->o.rendered_keep_runs);
        r->flush_due_us = now + (int64_t)s->o.log_flush_ms * 1000;
        if (rc == 0) {
            logbuf_consume(r->log, pending);
            rendered_stored(r);
        } else if (rc == UPDRAFT_ECONFLICT)
            lose_run(r, "log write rejected");
        else
            return; /* keep the chunk; try again at the next flush */
    }
}

static void heartbeat(supervisor_t *s, int64_t now)
{
    if (now < s->hb_due_us)
        return;
    if (!db_usable(s, now)) {
        s->hb_due_us = now + TS_US_PER_SEC;
        return;
    }
    size_t n = 0;
    int64_t *ids = calloc(s->nruns + 1, sizeof(*ids));
    int *tries = calloc(s->nruns + 1, sizeof(*tries));
    bool *alive = calloc(s->nruns + 1, sizeof(*alive));
    run_t **which = calloc(s->nruns + 1, sizeof(*which));
    if (!ids || !tries || !alive || !which)
        goto out;
    for (size_t i = 0; i < s->nruns; i++) {
        run_t *r = s->runs[i];
        if (r->lost)
            continue;
        ids[n] = r->t->ti_id;
        tries[n] = r->t->try_number;
        which[n++] = r;
    }
    if (ti_heartbeat(s->o.db, s->o.job_id, ids, tries, n, alive) != 0) {
        s->hb_due_us = now + TS_US_PER_SEC;
        goto out;
    }
    s->hb_due_us = now + (int64_t)s->o.heartbeat_sec * TS_US_PER_SEC;
    healthsrv_beat(s->o.health);
    for (size_t i = 0; i < n; i++) {
        if (!alive[i])
            lose_run(which[i], "heartbeat rejected");
    }
out:
    free(ids);
    free(tries);
    free(alive);
    free(which);
}

static void ack(supervisor_t *s, const wtry_t *t)
{
    if (!t->delivery.entry_id[0])
        return; /* claimed directly by the mini-scheduler: no stream entry */
    if (!queue_ok(s->o.queue) && queue_ensure(s->o.queue, 0, s->o.stop) < 0) {
        log_warn("cannot acknowledge, redis unavailable " WTRY_LOG_FMT " entry=%s",
                 WTRY_LOG_ARGS(t), t->delivery.entry_id);
        return; /* the entry stays pending; a re-delivery is fenced by the claim */
    }
    if (queue_ack(s->o.queue, &t->delivery) < 0)
        log_warn("acknowledge failed " WTRY_LOG_FMT " entry=%s", WTRY_LOG_ARGS(t),
                 t->delivery.entry_id);
}

/* Acknowledges the stream entries of n tries in one round trip. */
static void ack_many(supervisor_t *s, run_t **runs, size_t n)
{
    const queue_delivery_t **d = calloc(n + 1, sizeof(*d));
    size_t k = 0;
    if (!d) {
        for (size_t i = 0; i < n; i++)
            ack(s, runs[i]->t);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (runs[i]->t->delivery.entry_id[0])
            d[k++] = &runs[i]->t->delivery;
    if (k == 0)
        goto out;
    if (!queue_ok(s->o.queue) && queue_ensure(s->o.queue, 0, s->o.stop) < 0) {
        log_warn("cannot acknowledge, redis unavailable count=%zu", k);
        goto out; /* the entries stay pending; a re-delivery is fenced by the claim */
    }
    if (queue_ack_many(s->o.queue, d, k) < 0)
        log_warn("acknowledge failed count=%zu", k);
out:
    free(d);
}

/* Schedules the next attempt at r's outcome; returns the wait in ms. */
static int backoff(run_t *r, int64_t now)
{
    int ms = backoff_step(&r->retry);
    r->retry_at_us = now + (int64_t)ms * 1000;
    return ms;
}

/* ---- outcomes and the mini-scheduler ----------------------------------- */

/* What the mini-scheduler did inside one outcome transaction. */
typedef struct minisched {
    planrun_queued_t *queued; /* queued by it, to publish after the commit */
    size_t n_queued, cap_queued;
    wtry_t **claimed; /* taken directly: run once committed */
    size_t n_claimed;
    int64_t *notify; /* runs the scheduler must look at */
    size_t n_notify;
    PGresult *claim_res; /* the direct claim's rows: fills the spec cache after the commit */
} minisched_t;

static void minisched_free(minisched_t *m)
{
    free(m->queued);
    for (size_t i = 0; i < m->n_claimed; i++)
        wtry_free(m->claimed[i]);
    free(m->claimed);
    free(m->notify);
    PQclear(m->claim_res);
    memset(m, 0, sizeof(*m));
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int add_queued(minisched_t *m, const planrun_result_t *res)
{
    if (res->n_queued == 0)
        return 0;
    if (m->n_queued + res->n_queued > m->cap_queued) {
        size_t cap = (m->n_queued + res->n_queued) * 2;
        planrun_queued_t *nq = realloc(m->queued, cap * sizeof(*nq));
        if (!nq)
            return -1;
        m->queued = nq;
        m->cap_queued = cap;
    }
    memcpy(m->queued + m->n_queued, res->queued, res->n_queued * sizeof(*res->queued));
    m->n_queued += res->n_queued;
    return 0;
}

/*
 * Fills the max_active_tasks headroom that the ended tries freed in their
 * DAGs with the DAGs' 'scheduled' task instances (left there by the
 * scheduler over the limit), at most as many per DAG as tries of it
 * ended, queued like the scheduler's critical section does and listed in
 * m->queued (claimed directly below or published after the commit).
 * Without it a DAG at its limit waits for the scheduler's next pass.
 *
 * The DAG locks are waited for, in one statement of their own and in the
 * (hashtext, name) order every planner uses, so that the count of active
 * task instances in the next one includes every other planner's commit.
 * Waiting, not trying: a worker that gave up on a busy DAG left its freed
 * slots to the scheduler's next pass and its next batch shrank, and with
 * one busy DAG every hop went through the scheduler (orchestration-only
 * throughput 674 tasks/s tried, 5,029 waited, 10 runs of 1,000 tasks).
 * The lock is held only to the commit, and before it this transaction
 * holds no lock another planner waits for (pool locks come after). Only
 * DAGs that have scheduled rows are locked, so a chain pays one round
 * trip.
 */
static int fill_headroom(supervisor_t *s, run_t *const *due, const ti_outcome_t *o, size_t n,
                         minisched_t *m)
{
    int rc = -1;
    size_t nd = 0, nlocked = 0;
    const char **dags = calloc(n + 1, sizeof(*dags));
    int *freed = calloc(n + 1, sizeof(*freed));
    size_t *locked = calloc(n + 1, sizeof(*locked));
    if (!dags || !freed || !locked)
        goto out;
    for (size_t i = 0; i < n; i++) {
        if (!o[i].written)
            continue;
        size_t k;
        for (k = 0; k < nd && strcmp(dags[k], due[i]->t->dag_id); k++)
            ;
        if (k == nd)
            dags[nd++] = due[i]->t->dag_id;
        freed[k]++;
    }
    if (nd == 0) {
        rc = 0;
        goto out;
    }
    if (ti_lock_scheduled_dags(s->o.db, dags, nd, locked, &nlocked) != 0)
        goto out;
    for (size_t j = 0; j < nlocked; j++) {
        size_t k = locked[j];
        const char *dag = dags[k];
        /* The same statement as the scheduler's: pools and per-task limits hold. */
        char *one = pgarray_text(&dag, 1);
        if (!one)
            goto out;
        PGresult *q = pools_queue_scheduled(s->o.db, one, NULL, freed[k], NULL);
        free(one);
        if (!q)
            goto out;
        planrun_result_t res = {0};
        res.n_queued = (size_t)PQntuples(q);
        res.queued = calloc(res.n_queued + 1, sizeof(*res.queued));
        if (!res.queued) {
            PQclear(q);
            goto out;
        }
        for (size_t i = 0; i < res.n_queued; i++) {
            res.queued[i].ti_id = db_get_i64(q, (int)i, 0);
            res.queued[i].try_number = db_get_int(q, (int)i, 1);
            snprintf(res.queued[i].queue, sizeof(res.queued[i].queue), "%s",
                     PQgetvalue(q, (int)i, 2));
        }
        PQclear(q);
        int a = add_queued(m, &res);
        planrun_result_free(&res);
        if (a < 0)
            goto out;
    }
    rc = 0;
out:
    free(dags);
    free(freed);
    free(locked);
    return rc;
}

/*
 * Whether this worker still holds a try of run_id outside the batch being
 * written: that try's own outcome will look at the run again, so the run
 * cannot be complete now (checking it would cost a scan of the run's live
 * index entries per batch). A try taken away without our knowing yet only
 * delays the run's completion until the scheduler's next pass over it.
 */
static bool holds_live_try(const supervisor_t *s, int64_t run_id)
{
    for (size_t i = 0; i < s->nruns; i++) {
        const run_t *r = s->runs[i];
        if (!r->in_batch && !r->lost && !r->over && r->t->dag_run_id == run_id)
            return true;
    }
    return false;
}

/* Whether this worker consumes queue (its --queues). */
static bool serves_queue(const supervisor_t *s, const char *queue)
{
    if (!s->o.nqueues)
        return true;
    for (size_t i = 0; i < s->o.nqueues; i++)
        if (!strcmp(s->o.queues[i], queue))
            return true;
    return false;
}

/*
 * Plans the runs of the written outcomes, inside the open transaction.
 * Runs are planned when a try that ended has downstream tasks, or when
 * nothing in the run is live any more (it may be complete); an
 * up_for_retry outcome, a run another planner holds, ready tasks left over
 * the DAG's limit and finished runs are left to the scheduler (notify).
 * With budget > 0 up to that many queued tasks are claimed directly.
 * Returns 0, or -1 when the planning failed (the caller rolls back to the
 * savepoint and notifies every run instead).
 */
static int minisched_plan(supervisor_t *s, run_t *const *due, const ti_outcome_t *o, size_t n,
                          size_t budget, minisched_t *m)
{
    int rc = -1;
    PGresult *r = NULL;
    int64_t *plan = calloc(n + 1, sizeof(*plan)), *check = calloc(n + 1, sizeof(*check));
    size_t np = 0, nc = 0;
    m->notify = calloc(2 * n + 1, sizeof(*m->notify));
    if (!plan || !check || !m->notify)
        goto out;
    if (fill_headroom(s, due, o, n, m) < 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        const wtry_t *t = due[i]->t;
        if (!o[i].written)
            continue;
        /* Not final: nothing downstream can be decided yet. */
        if (!strcmp(o[i].state, "up_for_retry") || !strcmp(o[i].state, "up_for_reschedule"))
            m->notify[m->n_notify++] = t->dag_run_id;
        else if (t->has_downstream)
            plan[np++] = t->dag_run_id;
        else if (!holds_live_try(s, t->dag_run_id))
            check[nc++] = t->dag_run_id;
    }
    if (nc > 0) {
        /* One statement for all: which of these runs have nothing live left. */
        size_t nidle = 0;
        if (ti_runs_idle(s->o.db, check, nc, plan + np, &nidle) != 0)
            goto out;
        np += nidle;
    }
    if (!s->specs && !(s->specs = dagver_cache_new(VERSION_CACHE, DAGVER_FULL)))
        goto out;
    const planrun_ctx_t plan_ctx = {.versions = s->specs, .max_map_length = s->o.max_map_length};
    /* Runs in id order: two workers take run locks in the same order. */
    qsort(plan, np, sizeof(*plan), cmp_i64);
    for (size_t i = 0; i < np; i++) {
        if (i > 0 && plan[i] == plan[i - 1])
            continue;
        planrun_result_t res;
        if (planrun_plan_tx(s->o.db, &plan_ctx, plan[i], true, &res) < 0)
            goto out;
        if (!res.planned || res.finished || res.n_left > 0)
            m->notify[m->n_notify++] = plan[i];
        int a = add_queued(m, &res);
        planrun_result_free(&res);
        if (a < 0)
            goto out;
    }
    if (budget > m->n_queued)
        budget = m->n_queued;
    if (budget > 0) {
        int64_t *ids = calloc(budget, sizeof(*ids));
        int *tries = calloc(budget, sizeof(*tries));
        m->claimed = calloc(budget, sizeof(*m->claimed));
        size_t ndirect = 0;
        if (ids && tries && m->claimed) {
            /* Only tries on a queue this worker serves; the rest are published. */
            for (size_t i = 0; i < m->n_queued && ndirect < budget; i++) {
                if (!serves_queue(s, m->queued[i].queue))
                    continue;
                ids[ndirect] = m->queued[i].ti_id;
                tries[ndirect++] = m->queued[i].try_number;
            }
            if (ndirect > 0)
                r = wtry_claim(s->o.db, s->specs, true, s->hostname, s->o.pid, s->o.job_id, ids,
                               tries, ndirect);
        }
        bool nomem = !ids || !tries || !m->claimed;
        free(ids);
        free(tries);
        if (nomem || (ndirect > 0 && !r))
            goto out;
        for (int k = 0; r && k < PQntuples(r); k++) {
            wtry_t *t = wtry_from_row(r, k, NULL, s->specs);
            if (!t)
                goto out; /* rolled back: the claim is undone with the planning */
            m->claimed[m->n_claimed++] = t;
            for (size_t i = 0; i < m->n_queued; i++) {
                if (m->queued[i].ti_id == t->ti_id) { /* taken: not published */
                    snprintf(t->delivery.queue, sizeof(t->delivery.queue), "%s",
                             m->queued[i].queue); /* its queue, for the metrics' label */
                    m->queued[i] = m->queued[--m->n_queued];
                    break;
                }
            }
        }
        m->claim_res = r;
        r = NULL;
    }
    rc = 0;
out:
    PQclear(r);
    free(plan);
    free(check);
    return rc;
}

/* Publishes what the mini-scheduler queued (after the commit). */
static void minisched_publish(supervisor_t *s, const minisched_t *m)
{
    if (m->n_queued == 0)
        return;
    const char **queues = calloc(m->n_queued, sizeof(*queues));
    queue_msg_t *msgs = calloc(m->n_queued, sizeof(*msgs));
    size_t k = 0;
    if (!queues || !msgs)
        goto out;
    ts_us_t now = ts_now();
    for (size_t i = 0; i < m->n_queued; i++) {
        if (!queue_name_valid(m->queued[i].queue))
            continue; /* left queued: the scheduler's resend logs it */
        queues[k] = m->queued[i].queue;
        msgs[k].ti_id = m->queued[i].ti_id;
        msgs[k].try_number = m->queued[i].try_number;
        msgs[k].enqueued_us = now;
        k++;
    }
    if (k > 0 && ((!queue_ok(s->o.queue) && queue_ensure(s->o.queue, 0, s->o.stop) < 0) ||
                  queue_publish(s->o.queue, queues, msgs, k) < 0))
        log_warn("publishing queued tasks failed; the scheduler re-sends them count=%zu", k);
out:
    free(queues);
    free(msgs);
}

static int notify_runs(supervisor_t *s, int64_t *ids, size_t n)
{
    if (n == 0)
        return 0;
    qsort(ids, n, sizeof(*ids), cmp_i64);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (k == 0 || ids[k - 1] != ids[i])
            ids[k++] = ids[i];
    return ti_notify_runs(s->o.db, ids, k) == 0 ? 0 : -1;
}

/*
 * In the outcome transaction: a written try's old XComs go, and a success
 * pushes its last output line as return_value (a JSON string, as
 * BashOperator pushes it; bytes that are not UTF-8 become U+FFFD).
 */
static int write_xcoms(supervisor_t *s, run_t *r, const ti_outcome_t *o)
{
    const wtry_t *t = r->t;
    if (!o->written)
        return 0;
    if (xcom_clear(s->o.db, t->dag_run_id, t->task_id, t->map_index) < 0)
        return -1;
    if (strcmp(o->state, "success") != 0)
        return 0;
    /* The file's keys after return_value: a return_value there wins. */
    for (size_t k = 0; k < r->npushed; k++)
        if (!strcmp(r->pushed[k].key, XCOM_RETURN_KEY))
            goto file_keys;
    if (!t->do_xcom_push || !r->last || r->last_over || t->kind == WTRY_RUNNER)
        goto file_keys;
    char *text = malloc(r->last_len * 3 + 1), *json = NULL;
    size_t tl = 0, i = 0;
    int rc = -1;
    if (!text)
        return -1;
    while (i < r->last_len) {
        size_t ok = utf8_valid_prefix((const unsigned char *)r->last + i, r->last_len - i);
        memcpy(text + tl, r->last + i, ok);
        tl += ok;
        i += ok;
        if (i < r->last_len) {
            memcpy(text + tl, "\xEF\xBF\xBD", 3);
            tl += 3;
            i++;
        }
    }
    text[tl] = '\0';
    cJSON *str = cJSON_CreateString(text);
    if (str && (json = cJSON_PrintUnformatted(str)) != NULL)
        rc = xcom_put(s->o.db, t->dag_run_id, t->dag_id, t->run_id, t->task_id, t->map_index,
                      XCOM_RETURN_KEY, json);
    cJSON_Delete(str);
    free(json);
    free(text);
    if (rc < 0)
        return -1;
file_keys:
    for (size_t k = 0; k < r->npushed; k++)
        if (xcom_put(s->o.db, t->dag_run_id, t->dag_id, t->run_id, t->task_id, t->map_index,
                     r->pushed[k].key, r->pushed[k].json) < 0)
            return -1;
    /* A bash branch's or short-circuit's decision, for the planner. */
    if (r->skipmixin && xcom_put(s->o.db, t->dag_run_id, t->dag_id, t->run_id, t->task_id,
                                 t->map_index, OPERATOR_SKIPMIXIN_KEY, r->skipmixin) < 0)
        return -1;
    return 0;
}

/*
 * Seconds until the try's next try or poke: a reschedule's own delay
 * (at most MAX_RESCHEDULE_SEC), or a failure's retry delay (wtry.h; at
 * most the planner's PLANNER_MAX_RETRY_DELAY). 0 for a success or a skip.
 */
static long long outcome_delay_sec(const run_t *r)
{
    long long delay;
    if (r->success || r->skipped)
        return 0;
    if (r->reschedule) {
        delay = r->reschedule_sec < 0 ? 0 : r->reschedule_sec;
        return delay > MAX_RESCHEDULE_SEC ? MAX_RESCHEDULE_SEC : delay;
    }
    delay = wtry_retry_delay(r->t);
    if (delay < 0 || delay > PLANNER_MAX_RETRY_DELAY)
        delay = PLANNER_MAX_RETRY_DELAY;
    return delay;
}

/*
 * The exit of the upstream of a try the mini-scheduler claimed in the
 * transaction that wrote the n outcomes o of due: the latest exit among
 * the written tries of the same DAG run (the one that made it runnable
 * when several ended together), else the latest of all (monotonic).
 */
static int64_t upstream_exit(run_t *const *due, const ti_outcome_t *o, size_t n, int64_t run_id)
{
    int64_t same = 0, any = 0;
    for (size_t i = 0; i < n; i++) {
        if (!o[i].written)
            continue;
        if (due[i]->exited_us > any)
            any = due[i]->exited_us;
        if (due[i]->t->dag_run_id == run_id && due[i]->exited_us > same)
            same = due[i]->exited_us;
    }
    return same ? same : any;
}

/*
 * Writes the due outcomes: all of them in one statement, the mini-scheduler
 * in the same transaction, one commit (one fsync) however many tries ended
 * together. When that fails each outcome is retried on its own with its
 * own backoff, so one outcome the database refuses cannot hold back the
 * others. Messages are acknowledged after the commit; the directly claimed
 * tries start then. o: scratch space for n outcomes.
 */
static void write_outcomes(supervisor_t *s, run_t **due, ti_outcome_t *o, size_t n, int64_t now)
{
    minisched_t m = {0};
    size_t i, ok = 0;
    bool failed = true;

    if (n == 0)
        return;
    for (i = 0; i < n; i++)
        due[i]->in_batch = true;
    if (!db_usable(s, now) || db_begin(s->o.db) != 0)
        goto out;
    for (i = 0; i < n; i++) {
        logbuf_end_output(due[i]->log);
        o[i] = (ti_outcome_t){.ti_id = due[i]->t->ti_id,
                              .try_number = due[i]->t->try_number,
                              .success = due[i]->success,
                              .skipped = due[i]->skipped,
                              .no_retry = due[i]->no_retry,
                              .reschedule = due[i]->reschedule,
                              .delay_sec = outcome_delay_sec(due[i]),
                              .log_tail = logbuf_data(due[i]->log),
                              .rendered = rendered_json(s, due[i])};
    }
    if (ti_finish_batch(s->o.db, s->o.job_id, o, n, s->o.rendered_keep_runs) != 0)
        goto out;
    for (i = 0; i < n; i++)
        if (write_xcoms(s, due[i], &o[i]) < 0)
            goto out;
    for (i = 0; i < n; i++)
        ok += o[i].written && !strcmp(o[i].state, "success");
    /* The slots of the tries that succeeded may go to their downstream. */
    size_t budget = *s->o.stop || handoff_closed(s->o.handoff) ? 0 : ok;
    if (ti_savepoint_minisched(s->o.db) != 0)
        goto out;
    if (minisched_plan(s, due, o, n, budget, &m) < 0) {
        log_warn("mini-scheduler failed, leaving the runs to the scheduler error=\"%s\"",
                 db_error(s->o.db));
        minisched_free(&m);
        if (!db_ok(s->o.db) || ti_rollback_minisched(s->o.db) != 0)
            goto out;
        if (!(m.notify = calloc(n + 1, sizeof(*m.notify))))
            goto out;
        for (i = 0; i < n; i++)
            if (o[i].written)
                m.notify[m.n_notify++] = due[i]->t->dag_run_id;
    }
    if (notify_runs(s, m.notify, m.n_notify) < 0 || db_commit(s->o.db) != 0)
        goto out;
    failed = false;
out:
    for (i = 0; i < n; i++)
        due[i]->in_batch = false;
    if (failed) {
        db_rollback(s->o.db);
        for (i = 0; i < n; i++) {
            int ms = backoff(due[i], now);
            log_warn("outcome not written, will retry " WTRY_LOG_FMT " in_ms=%d",
                     WTRY_LOG_ARGS(due[i]->t), ms);
        }
        minisched_free(&m);
        return;
    }
    /* Committed: counted first, before the round trips below, so that a
     * kill -9 has the least chance to come between the commit and the
     * count (docs/metrics.md "Exactness of counts"). */
    for (i = 0; i < n; i++)
        if (o[i].written)
            wmetrics_finished(due[i]->t, o[i].state,
                              (double)(due[i]->exited_us - due[i]->started_us) /
                                  (double)TS_US_PER_SEC);
    for (i = 0; i < m.n_claimed; i++)
        wmetrics_claimed(m.claimed[i]);
    minisched_publish(s, &m);
    wtry_specs_fill(s->specs, s->o.db, m.claim_res);
    for (i = 0; i < n; i++) {
        const wtry_t *t = due[i]->t;
        if (!o[i].written) {
            log_warn("outcome rejected by the guard " WTRY_LOG_FMT, WTRY_LOG_ARGS(t));
        } else {
            snprintf(due[i]->state, sizeof(due[i]->state), "%s", o[i].state);
            log_info("try finished " WTRY_LOG_FMT " state=%s", WTRY_LOG_ARGS(t), o[i].state);
        }
        due[i]->over = true;
    }
    ack_many(s, due, n);
    for (i = 0; i < m.n_claimed; i++) {
        wtry_t *t = m.claimed[i];
        m.claimed[i] = NULL;
        log_debug("claimed directly " WTRY_LOG_FMT, WTRY_LOG_ARGS(t));
        if (add_run(s, t, upstream_exit(due, o, n, t->dag_run_id)) < 0) {
            /* Claimed but not run: its heartbeat never comes and the scheduler reaps it. */
            log_error("out of memory, dropping try " WTRY_LOG_FMT, WTRY_LOG_ARGS(t));
            wtry_free(t);
            continue;
        }
        s->transferred++;
    }
    minisched_free(&m);
}

/* Ends the tries whose process is gone: outcomes written, or lost tries acknowledged. */
static void finish_runs(supervisor_t *s, int64_t now)
{
    size_t n = 0, k = 0, nruns = s->nruns;
    run_t **due = calloc(s->nruns + 1, sizeof(*due));
    ti_outcome_t *o = calloc(s->nruns + 1, sizeof(*o));
    if (!due || !o)
        goto out;
    bool retrying = false;
    for (size_t i = 0; i < s->nruns; i++) {
        run_t *r = s->runs[i];
        if (r->proc.pid != 0 || !(r->exited || r->lost))
            continue;
        if (r->lost) { /* nothing to write: acknowledge once the process is gone */
            ack(s, r->t);
            r->over = true;
        } else if (now >= r->retry_at_us) {
            due[n++] = r;
            retrying = retrying || r->retry.waited_ms > 0;
        }
    }
    if (retrying) { /* after a failure: one at a time */
        for (size_t i = 0; i < n; i++)
            write_outcomes(s, &due[i], o, 1, now);
    } else {
        write_outcomes(s, due, o, n, now);
    }
    /* Runs appended by direct claims (index >= nruns) are new: keep them. */
    for (size_t i = 0; i < s->nruns; i++) {
        run_t *r = s->runs[i];
        if (i < nruns && r->over) {
            run_free(r);
            if (s->transferred > 0)
                s->transferred--; /* its slot went to a directly claimed try */
            else
                handoff_release(s->o.handoff);
        } else {
            s->runs[k++] = r;
        }
    }
    s->nruns = k;
out:
    free(due);
    free(o);
}

/* ---- timers ------------------------------------------------------------- */

static void check_timeouts(supervisor_t *s, int64_t now)
{
    check_group_kills(s, now);
    for (size_t i = 0; i < s->nruns; i++) {
        run_t *r = s->runs[i];
        if (r->proc.pid <= 0)
            continue;
        if (r->kill_at_us && now >= r->kill_at_us) {
            log_warn("task did not stop after SIGTERM, killing " WTRY_LOG_FMT " pid=%d",
                     WTRY_LOG_ARGS(r->t), (int)r->proc.pid);
            executor_signal(&r->proc, SIGKILL);
            r->kill_at_us = 0;
        }
        int to = r->t->execution_timeout_sec;
        if (to > 0 && !r->timed_out && !r->lost &&
            now - r->started_us >= (int64_t)to * TS_US_PER_SEC) {
            r->timed_out = true;
            log_warn("execution timeout, stopping task " WTRY_LOG_FMT, WTRY_LOG_ARGS(r->t));
            executor_signal(&r->proc, SIGTERM);
            r->kill_at_us = now + KILL_GRACE_US;
        }
    }
}

static int poll_timeout_ms(supervisor_t *s, int64_t now)
{
    int64_t next = now + (int64_t)POLL_MAX_MS * 1000;
#define EARLIER(x)                                                                                 \
    do {                                                                                           \
        if ((x) < next)                                                                            \
            next = (x);                                                                            \
    } while (0)
    EARLIER(s->hb_due_us);
    for (size_t i = 0; i < s->ngkills; i++)
        EARLIER(s->gkills[i].at_us);
    for (size_t i = 0; i < s->nruns; i++) {
        run_t *r = s->runs[i];
        if (r->exited || r->lost) {
            if (r->proc.pid == 0)
                EARLIER(r->retry_at_us);
        } else if (logbuf_pending(r->log) > 0) {
            EARLIER(r->flush_due_us);
        }
        if (r->kill_at_us)
            EARLIER(r->kill_at_us);
        if (r->proc.pid > 0 && r->t->execution_timeout_sec > 0 && !r->timed_out)
            EARLIER(r->started_us + (int64_t)r->t->execution_timeout_sec * TS_US_PER_SEC);
    }
#undef EARLIER
    int64_t ms = (next - now + 999) / 1000;
    return ms < 0 ? 0 : (int)ms;
}

/* ---- the loop ----------------------------------------------------------- */

static void kill_all(supervisor_t *s)
{
    for (size_t i = 0; i < s->ngkills; i++)
        kill(-s->gkills[i].pgid, SIGKILL);
    s->ngkills = 0;
    for (size_t i = 0; i < s->nruns; i++) {
        run_t *r = s->runs[i];
        if (r->proc.pid > 0) {
            log_warn("killing task " WTRY_LOG_FMT " pid=%d", WTRY_LOG_ARGS(r->t), (int)r->proc.pid);
            executor_signal(&r->proc, SIGKILL);
        }
    }
}

/*
 * Shutdown: kills every running try's process group and gives the tries
 * back, in one guarded statement, as 'scheduled' with max_tries + 1, so
 * that the next try (try_number + 1 when it is queued again) does not
 * consume a retry. The message is acknowledged; the scheduler queues the
 * try again at once. A try whose write fails is left to the zombie reaper.
 */
static void hand_back_all(supervisor_t *s)
{
    size_t n = 0;
    int64_t *ids = calloc(s->nruns + 1, sizeof(*ids));
    int *tries = calloc(s->nruns + 1, sizeof(*tries));
    if (!ids || !tries)
        goto out;
    for (size_t i = 0; i < s->nruns; i++) {
        run_t *r = s->runs[i];
        if (r->exited || r->lost || r->over)
            continue;
        if (r->proc.pid > 0)
            executor_signal(&r->proc, SIGKILL);
        ids[n] = r->t->ti_id;
        tries[n++] = r->t->try_number;
    }
    if (n == 0)
        goto out;
    /* SIGKILL is immediate; reap so that no process outlives its hand-back. */
    int64_t deadline = ts_mono_us() + 2 * TS_US_PER_SEC;
    for (;;) {
        reap(s);
        bool alive = false;
        for (size_t i = 0; i < s->nruns; i++)
            alive = alive || (s->runs[i]->proc.pid > 0 && !s->runs[i]->exited);
        if (!alive || ts_mono_us() >= deadline)
            break;
        usleep(10000);
    }
    long rows = -1;
    if (db_ensure(s->o.db, 3000, NULL) == 0) {
        int hb = ti_hand_back(s->o.db, s->o.job_id, ids, tries, n, &rows);
        if (hb == UPDRAFT_ENOMEM)
            goto out;
        if (hb != 0)
            rows = -1;
    }
    if (rows < 0) {
        log_warn("cannot hand running tries back, the scheduler will reap them count=%zu", n);
    } else {
        log_info("handed running tries back for another worker count=%ld", rows);
    }
    for (size_t i = 0; i < s->nruns; i++) {
        run_t *r = s->runs[i];
        if (r->exited || r->lost || r->over)
            continue;
        r->lost = true; /* nothing more is written for it */
        if (rows >= 0)
            ack(s, r->t);
        r->over = true;
    }
out:
    free(ids);
    free(tries);
}

static void *supervisor_main(void *arg)
{
    supervisor_t *s = arg;
    struct pollfd *pfds = NULL;
    run_t **pruns = NULL;
    size_t pcap = 0;

    s->hb_due_us = ts_mono_us();
    int64_t hand_back_at = 0, give_up_at = 0;
    for (;;) {
        /* each turn is the worker's proof of life to the service
         * manager's watchdog (core/notify.h) */
        notify_watchdog();
        int64_t t0 = ts_mono_us();
        if (*s->o.stop && !hand_back_at)
            hand_back_at = t0 + (int64_t)s->o.shutdown_grace_sec * TS_US_PER_SEC;
        if ((*s->o.kill_now || (hand_back_at && t0 >= hand_back_at)) && !give_up_at) {
            if (*s->o.kill_now)
                log_warn("cold shutdown: stopping running tries and handing them back");
            else
                log_warn("shutdown grace of %d s is over: stopping running tries and handing "
                         "them back",
                         s->o.shutdown_grace_sec);
            hand_back_all(s);
            give_up_at = ts_mono_us() + 10 * TS_US_PER_SEC; /* last outcomes, then go */
        }
        if (give_up_at && ts_mono_us() >= give_up_at) {
            kill_all(s);
            break;
        }
        bool closed = handoff_closed(s->o.handoff);
        accept_tries(s);
        int64_t now = ts_mono_us();
        reap(s);
        check_timeouts(s, now);
        flush_logs(s, now);
        heartbeat(s, now);
        finish_runs(s, now);
        record_slots(s); /* from this thread only: the gauges' updates stay in order */
        if (closed && s->nruns == 0)
            break;

        if (pcap < s->nruns + 2) {
            size_t ncap = s->nruns + 18;
            struct pollfd *np = realloc(pfds, ncap * sizeof(*np));
            if (np)
                pfds = np;
            run_t **nr = realloc(pruns, ncap * sizeof(*nr));
            if (nr)
                pruns = nr;
            if (!np || !nr) {
                log_error("out of memory in the supervisor loop");
                usleep(100000);
                continue;
            }
            pcap = ncap;
        }
        nfds_t n = 0;
        pfds[n++] = (struct pollfd){.fd = handoff_fd(s->o.handoff), .events = POLLIN};
        pfds[n++] = (struct pollfd){.fd = s->sigfd, .events = POLLIN};
        for (size_t i = 0; i < s->nruns; i++) {
            run_t *r = s->runs[i];
            if (r->proc.out_fd < 0 || logbuf_pending(r->log) >= RUN_LOG_SOFT_MAX)
                continue;
            pruns[n] = r;
            pfds[n++] = (struct pollfd){.fd = r->proc.out_fd, .events = POLLIN};
        }
        int rc = poll(pfds, n, notify_wait_ms(poll_timeout_ms(s, ts_mono_us())));
        if (rc < 0 && errno != EINTR) {
            log_error("poll failed: %s", strerror(errno));
            usleep(100000);
            continue;
        }
        for (nfds_t i = 2; rc > 0 && i < n; i++) {
            if (pfds[i].revents)
                read_output(s, pruns[i], 4);
        }
    }
    free(pfds);
    free(pruns);
    atomic_store(&s->done, true);
    return NULL;
}

int supervisor_start(supervisor_t *s)
{
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0)
        return -1;
    pthread_attr_setstacksize(&attr, THREAD_STACK);
    int rc = pthread_create(&s->thread, &attr, supervisor_main, s);
    pthread_attr_destroy(&attr);
    if (rc != 0)
        return -1;
    s->started = true;
    return 0;
}

bool supervisor_done(supervisor_t *s)
{
    return atomic_load(&s->done);
}

void supervisor_join(supervisor_t *s)
{
    if (s && s->started) {
        pthread_join(s->thread, NULL);
        s->started = false;
    }
}
