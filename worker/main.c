/*
 * updraft-worker - runs task tries taken from the Redis queues.
 *
 * Threads, each with its own connections:
 *   main        flags and config, schema check, the `job` row (its own
 *               db_t); then waits for SIGTERM/SIGINT/SIGQUIT with
 *               sigtimedwait and drives shutdown. Warm (SIGTERM, SIGINT):
 *               stop consuming, let running tries finish for up to
 *               worker.shutdown_grace_sec, then kill and hand back the rest.
 *               Cold (SIGQUIT, or a second signal): kill and hand back at
 *               once. A try handed back runs again elsewhere without
 *               counting as a retry.
 *   consumer    XREADGROUP for as many entries as free slots, the claim,
 *               acks of invalid/stale messages (worker/consumer.c; a db_t
 *               and a queue_t).
 *   supervisor  task processes, their output pipes and SIGCHLD (signalfd),
 *               log shipping, heartbeats, outcomes, acks after the outcome
 *               commits (worker/supervisor.c; a db_t and a queue_t).
 * Claimed tries and free slots pass between the two through
 * worker/handoff.c. The command line is worker/options.c, the main
 * thread's startup and shutdown worker/daemon.c. SIGTERM, SIGINT and SIGCHLD are blocked in every
 * thread; SIGPIPE is ignored (task processes get default dispositions).
 *
 * `updraft-worker --run-operator FILE` is not the daemon: it is the
 * operator runner the supervisor starts for a task whose operator is not a
 * shell command (worker/ops.h); main hands it to ops_main before anything
 * else. `updraft-worker --run-as UID GID USER -- PATH ARGV...` is the step
 * that switches a task to its run_as_user before executing it
 * (worker/runas.h). `updraft-worker --guard` is the process that kills the
 * worker's task process groups when the worker dies, even by SIGKILL
 * (worker/taskguard.h).
 *
 * Every mode starts by making the process non-dumpable (PR_SET_DUMPABLE):
 * what it holds in its environment and memory stays out of reach of tasks
 * running as the same user.
 */
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

#include "worker/daemon.h"
#include "worker/taskguard.h"
#include "worker/ops.h"
#include "worker/options.h"
#include "worker/runas.h"

int main(int argc, char **argv)
{
    /* Not dumpable: a task running as the same user can read neither
     * /proc/<this>/environ (the database URL, the fernet key) nor this
     * process's memory, and cannot ptrace it. The operator runner holds
     * connection passwords: the same. Each exec resets it for the task. */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
        perror("updraft-worker: prctl(PR_SET_DUMPABLE)");
        return 1;
    }
    if (argc >= 2 && strcmp(argv[1], RUNAS_FLAG) == 0)
        return runas_main(argc, argv);
    if (argc == 2 && strcmp(argv[1], TASKGUARD_FLAG) == 0)
        return taskguard_main(LOG_FORMAT_TEXT);
    if (argc == 3 && strcmp(argv[1], TASKGUARD_FLAG) == 0 && strcmp(argv[2], "json") == 0)
        return taskguard_main(LOG_FORMAT_JSON);
    if (argc == 3 && strcmp(argv[1], "--run-operator") == 0)
        return ops_main(argv[2]);

    worker_options_t w;
    log_init("worker", LOG_LEVEL_INFO); /* the configuration's warnings name us too */
    int rc = worker_options_load(argc, argv, &w);
    if (rc == 0)
        rc = worker_daemon_run(&w);
    else
        rc = rc == 1 ? 0 : 1;
    worker_options_free(&w);
    return rc;
}
