/*
 * taskguard.h - a worker's task processes die with the worker.
 *
 * A worker killed with SIGKILL (kill -9, the OOM killer, a crash) runs no
 * code of its own, so it cannot stop its tasks; the scheduler retries them
 * elsewhere after the zombie threshold, and without help the old processes
 * would run on next to their retries. The guard is a second small process
 * the worker starts (this binary again):
 *
 *     updraft-worker --guard
 *
 * Its stdin is the read end of a pipe whose only write end the worker
 * holds (O_CLOEXEC, and tasks start with every other descriptor closed).
 * The worker writes the process group id of every task it starts (each
 * task is a session and process group leader, worker/executor.h). When the
 * worker dies, however it dies, the kernel closes the write end; the guard
 * reads end-of-file, sends SIGKILL to every process group it was given that
 * still has a process, and exits. A worker that stops normally has reaped
 * its tries by then; what they left running in the background in their
 * groups ends with the worker the same way. The guard runs in a session of its own
 * and ignores SIGINT, SIGTERM, SIGHUP and SIGQUIT: it leaves when the
 * worker is gone, not before. It forgets a group once no process of it is
 * left (checked every second), so a process group id reused much later by
 * someone else is not signalled.
 *
 * Why a pipe and a process group rather than PR_SET_PDEATHSIG on the task:
 * the death signal reaches only the direct child (not the shell's own
 * children in the task's group), is cleared when a run_as_user task
 * executes after changing its uid, fires when the *thread* that started the
 * child exits rather than the process, and cannot be set through
 * posix_spawn. End-of-file on a pipe survives exec and uid changes and
 * needs nothing in the task. The guard runs as the worker's user, so it can
 * kill run_as_user tasks (the worker is root then).
 *
 * Out of reach: a task process that leaves its process group (setsid,
 * setpgid, a double-forking daemon) is not killed; neither is anything if
 * the guard itself was killed too (e.g. kill -9 of both, or of the whole
 * control group, which kills the tasks anyway under systemd's default
 * KillMode). A guard that dies alone is replaced by the worker as soon as
 * it reaps it, and the new one is told every running group. A task started between the spawn and
 * the write of its group id (a few microseconds) is not covered if the worker dies in that window.
 */
#ifndef UPDRAFT_WORKER_TASKGUARD_H
#define UPDRAFT_WORKER_TASKGUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/log.h"

#define TASKGUARD_FLAG "--guard"

typedef struct taskguard taskguard_t;

/*
 * Starts self_exe --guard. Returns the guard, or NULL with err filled
 * (nothing left behind).
 */
taskguard_t *taskguard_start(const char *self_exe, char *err, size_t errlen);

/* The guard's pid (its exit is reaped by the caller's waitpid). */
pid_t taskguard_pid(const taskguard_t *g);

/*
 * Tells the guard about the process group pgid. 0, or -1 when the guard
 * cannot be told (it died, or its pipe is full): the caller starts another
 * one.
 */
int taskguard_add(taskguard_t *g, pid_t pgid);

/*
 * Closes the worker's end: the guard kills the groups that still have
 * processes and exits. NULL is a no-op.
 */
void taskguard_free(taskguard_t *g);

/* `updraft-worker --guard [json]`: the guard's loop, logging in format
 * (the worker's, passed as the argument). Returns its exit code. */
int taskguard_main(log_format_t format);

#endif
