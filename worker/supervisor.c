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
 * While Postgres is unreachable the loop keeps reading the pipes; a try's
 * buffer grows up to RUN_LOG_SOFT_MAX before its pipe is left unread (the
 * task then blocks on write until Postgres is back).
 */
#include "worker/supervisor.h"

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

#include "common/log.h"
#include "common/taskenv.h"
#include "common/timeutil.h"
#include "worker/executor.h"
#include "worker/logbuf.h"
#include "worker/reporter.h"

extern char **environ;

#define READ_CHUNK (64 * 1024)
#define FLUSH_AT_BYTES (64 * 1024)
#define RUN_LOG_SOFT_MAX (8 * 1024 * 1024)
#define KILL_GRACE_US (5 * TS_US_PER_SEC)
#define DRAIN_MAX_READS 64
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define RECONNECT_EVERY_US TS_US_PER_SEC
#define POLL_MAX_MS 1000

typedef struct run {
    wtry_t *t;
    executor_proc_t proc; /* proc.pid > 0 while the process is not reaped */
    logbuf_t *log;
    bool exited; /* process over (or never started): outcome due */
    bool success;
    bool lost; /* guard rejected: write nothing more */
    bool timed_out;
    bool over;                      /* done with: free it and give its slot back */
    char state[REPORTER_STATE_LEN]; /* the state the outcome wrote */
    int64_t started_us;             /* monotonic */
    int64_t flush_due_us;
    int64_t kill_at_us;  /* SIGKILL escalation, 0 = none */
    int64_t retry_at_us; /* next outcome attempt */
    int backoff_ms;
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
    atomic_init(&s->done, false);
    return s;
}

static void run_free(run_t *r)
{
    if (!r)
        return;
    executor_cleanup(&r->proc);
    logbuf_free(r->log);
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
    r->retry_at_us = ts_mono_us();
    r->backoff_ms = BACKOFF_MIN_MS;
}

static void run_spawn(run_t *r)
{
    wtry_t *t = r->t;
    char err[512];
    taskenv_ctx_t ctx;
    wtry_env_ctx(t, &ctx);

    logbuf_append_line(r->log, "INFO", "Running command: %s", t->bash_command);
    char **envp =
        taskenv_build(environ, t->env, t->n_env, t->has_env, t->append_env, &ctx, err, sizeof(err));
    if (!envp) {
        logbuf_append_line(r->log, "ERROR", "Cannot start the task: %s", err);
        run_mark_exited(r, false);
        return;
    }
    int rc = executor_spawn(t->bash_command, t->cwd, envp, &r->proc, err, sizeof(err));
    taskenv_free(envp);
    if (rc < 0) {
        logbuf_append_line(r->log, "ERROR", "Cannot start the task: %s", err);
        log_warn("task start failed ti=%" PRId64 " try=%d error=\"%s\"", t->ti_id, t->try_number,
                 err);
        run_mark_exited(r, false);
        return;
    }
    logbuf_append_line(r->log, "INFO", "Output:");
    log_info("try started ti=%" PRId64 " try=%d dag_id=%s task_id=%s run_id=%s pid=%d", t->ti_id,
             t->try_number, t->dag_id, t->task_id, t->run_id, (int)r->proc.pid);
}

static int add_run(supervisor_t *s, wtry_t *t)
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

    switch (t->kind) {
    case WTRY_BASH:
        run_spawn(r);
        break;
    case WTRY_EMPTY:
        logbuf_append_line(r->log, "INFO", "Empty operator: nothing to run, marking success");
        run_mark_exited(r, true);
        break;
    case WTRY_INVALID:
        logbuf_append_line(r->log, "ERROR", "Cannot run the task: %s",
                           t->spec_error ? t->spec_error : "invalid task spec");
        log_warn("invalid task spec ti=%" PRId64 " try=%d error=\"%s\"", t->ti_id, t->try_number,
                 t->spec_error ? t->spec_error : "");
        run_mark_exited(r, false);
        break;
    }
    return 0;
}

static void accept_tries(supervisor_t *s)
{
    wtry_t *t;
    handoff_clear(s->o.handoff);
    while ((t = handoff_pop(s->o.handoff)) != NULL) {
        if (add_run(s, t) < 0) {
            /* Not run and not acknowledged: the try goes stale and is reaped. */
            log_error("out of memory, dropping try ti=%" PRId64 " try=%d", t->ti_id, t->try_number);
            wtry_free(t);
            handoff_release(s->o.handoff);
        }
    }
}

/* ---- output and exits -------------------------------------------------- */

/* Reads what the pipe has (up to max_reads chunks); closes it at EOF. */
static void read_output(supervisor_t *s, run_t *r, int max_reads)
{
    for (int i = 0; i < max_reads && r->proc.out_fd >= 0; i++) {
        ssize_t n = read(r->proc.out_fd, s->buf, sizeof(s->buf));
        if (n > 0) {
            if (!r->lost && logbuf_append_output(r->log, s->buf, (size_t)n) < 0)
                log_error("out of memory, task output lost ti=%" PRId64, r->t->ti_id);
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

static void on_exit_status(supervisor_t *s, run_t *r, int status)
{
    /* What the task wrote before exiting is in the pipe; background processes
     * it left may hold the pipe open, so read what is there and stop. */
    read_output(s, r, DRAIN_MAX_READS);
    r->proc.pid = 0;
    executor_cleanup(&r->proc);
    bool ok = false;
    if (WIFEXITED(status)) {
        ok = WEXITSTATUS(status) == 0 && !r->timed_out;
        if (!r->lost)
            logbuf_append_line(r->log, "INFO", "Command exited with return code %d",
                               WEXITSTATUS(status));
    } else if (WIFSIGNALED(status) && !r->lost) {
        logbuf_append_line(r->log, "INFO", "Command was killed by signal %d (%s)", WTERMSIG(status),
                           strsignal(WTERMSIG(status)));
    }
    if (r->timed_out && !r->lost)
        logbuf_append_line(r->log, "ERROR", "Task timed out after %d seconds",
                           r->t->execution_timeout_sec);
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
    log_warn("try lost its guard, stopping it ti=%" PRId64 " try=%d reason=\"%s\"", r->t->ti_id,
             r->t->try_number, why);
    if (r->proc.pid > 0) {
        executor_signal(&r->proc, SIGTERM);
        r->kill_at_us = ts_mono_us() + KILL_GRACE_US;
    }
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
        int rc =
            reporter_log(s->o.db, s->o.job_id, r->t->ti_id, r->t->try_number, logbuf_data(r->log));
        r->flush_due_us = now + (int64_t)s->o.log_flush_ms * 1000;
        if (rc == 1)
            logbuf_consume(r->log, pending);
        else if (rc == 0)
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
    if (reporter_heartbeat(s->o.db, s->o.job_id, ids, tries, n, alive) < 0) {
        s->hb_due_us = now + TS_US_PER_SEC;
        goto out;
    }
    s->hb_due_us = now + (int64_t)s->o.heartbeat_sec * TS_US_PER_SEC;
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
    if (!queue_ok(s->o.queue) && queue_ensure(s->o.queue, 0, s->o.stop) < 0) {
        log_warn("cannot acknowledge, redis unavailable ti=%" PRId64 " try=%d entry=%s", t->ti_id,
                 t->try_number, t->delivery.entry_id);
        return; /* the entry stays pending; a re-delivery is fenced by the claim */
    }
    if (queue_ack(s->o.queue, &t->delivery) < 0)
        log_warn("acknowledge failed ti=%" PRId64 " try=%d entry=%s", t->ti_id, t->try_number,
                 t->delivery.entry_id);
}

static void backoff(run_t *r, int64_t now)
{
    r->retry_at_us = now + (int64_t)r->backoff_ms * 1000;
    r->backoff_ms = r->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : r->backoff_ms * 2;
}

/*
 * Writes the due outcomes. On a first attempt several go in one
 * transaction (one commit, one fsync, however many tries ended together);
 * when that fails each is retried on its own with its own backoff, so one
 * outcome the database refuses cannot hold back the others. Messages are
 * acknowledged after the commit. rc: scratch space for n results.
 */
static void write_outcomes(supervisor_t *s, run_t **due, int *rc, size_t n, int64_t now)
{
    bool failed = false, tx = n > 1;
    size_t i;

    if (n == 0)
        return;
    for (i = 0; i < n; i++)
        tx = tx && due[i]->backoff_ms == BACKOFF_MIN_MS;
    if (!db_usable(s, now) || (tx && db_begin(s->o.db) != 0)) {
        for (i = 0; i < n; i++)
            backoff(due[i], now);
        return;
    }
    for (i = 0; i < n; i++) {
        if ((tx && failed) || !db_ok(s->o.db)) {
            rc[i] = -1;
            continue;
        }
        logbuf_end_output(due[i]->log);
        rc[i] = reporter_finish(s->o.db, s->o.job_id, due[i]->t, due[i]->success,
                                logbuf_data(due[i]->log), due[i]->state, sizeof(due[i]->state));
        failed = failed || rc[i] < 0;
    }
    if (tx && (failed || db_commit(s->o.db) != 0)) {
        db_rollback(s->o.db);
        for (i = 0; i < n; i++)
            rc[i] = -1;
    }
    for (i = 0; i < n; i++) {
        const wtry_t *t = due[i]->t;
        if (rc[i] < 0) {
            backoff(due[i], now);
            log_warn("outcome not written, will retry ti=%" PRId64 " try=%d in_ms=%d", t->ti_id,
                     t->try_number, due[i]->backoff_ms);
            continue;
        }
        if (rc[i] == 0)
            log_warn("outcome rejected by the guard ti=%" PRId64 " try=%d", t->ti_id,
                     t->try_number);
        else
            log_info("try finished ti=%" PRId64 " try=%d dag_id=%s task_id=%s state=%s", t->ti_id,
                     t->try_number, t->dag_id, t->task_id, due[i]->state);
        ack(s, t);
        due[i]->over = true;
    }
}

/* Ends the tries whose process is gone: outcomes written, or lost tries acknowledged. */
static void finish_runs(supervisor_t *s, int64_t now)
{
    size_t n = 0, k = 0;
    run_t **due = calloc(s->nruns + 1, sizeof(*due));
    int *rc = calloc(s->nruns + 1, sizeof(*rc));
    if (!due || !rc)
        goto out;
    for (size_t i = 0; i < s->nruns; i++) {
        run_t *r = s->runs[i];
        if (r->proc.pid != 0 || !(r->exited || r->lost))
            continue;
        if (r->lost) { /* nothing to write: acknowledge once the process is gone */
            ack(s, r->t);
            r->over = true;
        } else if (now >= r->retry_at_us) {
            due[n++] = r;
        }
    }
    write_outcomes(s, due, rc, n, now);
    for (size_t i = 0; i < s->nruns; i++) {
        run_t *r = s->runs[i];
        if (r->over) {
            run_free(r);
            handoff_release(s->o.handoff);
        } else {
            s->runs[k++] = r;
        }
    }
    s->nruns = k;
out:
    free(due);
    free(rc);
}

/* ---- timers ------------------------------------------------------------- */

static void check_timeouts(supervisor_t *s, int64_t now)
{
    for (size_t i = 0; i < s->nruns; i++) {
        run_t *r = s->runs[i];
        if (r->proc.pid <= 0)
            continue;
        if (r->kill_at_us && now >= r->kill_at_us) {
            log_warn("task did not stop after SIGTERM, killing ti=%" PRId64 " pid=%d", r->t->ti_id,
                     (int)r->proc.pid);
            executor_signal(&r->proc, SIGKILL);
            r->kill_at_us = 0;
        }
        int to = r->t->execution_timeout_sec;
        if (to > 0 && !r->timed_out && !r->lost &&
            now - r->started_us >= (int64_t)to * TS_US_PER_SEC) {
            r->timed_out = true;
            log_warn("execution timeout, stopping task ti=%" PRId64 " try=%d", r->t->ti_id,
                     r->t->try_number);
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
    for (size_t i = 0; i < s->nruns; i++) {
        run_t *r = s->runs[i];
        if (r->proc.pid > 0) {
            log_warn("killing task ti=%" PRId64 " try=%d pid=%d", r->t->ti_id, r->t->try_number,
                     (int)r->proc.pid);
            executor_signal(&r->proc, SIGKILL);
        }
    }
}

static void *supervisor_main(void *arg)
{
    supervisor_t *s = arg;
    struct pollfd *pfds = NULL;
    run_t **pruns = NULL;
    size_t pcap = 0;

    s->hb_due_us = ts_mono_us();
    for (;;) {
        if (*s->o.kill_now) {
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
        int rc = poll(pfds, n, poll_timeout_ms(s, ts_mono_us()));
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
    if (pthread_create(&s->thread, NULL, supervisor_main, s) != 0)
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
