/*
 * runas.h - which user a task runs as, and switching to it without any
 * setuid program.
 *
 * A task runs as its run_as_user (a task argument, as Airflow's
 * BaseOperator), else as worker.default_run_as_user (Airflow's
 * core.default_impersonation), else as the worker's own user. Airflow
 * switches with `sudo -E -H -u USER`; updraft needs no sudo: a worker
 * started as root starts, in place of the task's program (same process
 * group, pipes, working directory and environment),
 *
 *     updraft-worker --run-as UID GID USER -- PATH ARGV0 ARGS...
 *
 * which sets USER's supplementary groups (initgroups), its gid and its
 * uid, checks that they stuck (real, effective and saved ids; root cannot
 * be regained; no supplementary group is one USER does not have), checks
 * that USER can use its working directory, and executes PATH. A failure
 * is written to the task's output and the process exits
 * RUNAS_EXIT_FAILED: the try fails as any task that exits non-zero.
 *
 * Root: a task never runs as root (uid 0), whether named or because the
 * worker runs as root and nothing else is named, unless
 * worker.allow_root_tasks is true. A worker not started as root can run
 * tasks only as its own user.
 */
#ifndef UPDRAFT_WORKER_RUNAS_H
#define UPDRAFT_WORKER_RUNAS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "model/dag.h"

#define RUNAS_FLAG "--run-as"
#define RUNAS_EXIT_FAILED 126
#define RUNAS_NAME_MAX DAG_USER_NAME_MAX
#define RUNAS_HOME_MAX 256

typedef struct runas_user {
    uid_t uid;
    gid_t gid;
    char name[RUNAS_NAME_MAX + 1];
    char home[RUNAS_HOME_MAX + 1];
} runas_user_t;

/*
 * The password-file entry of name (which must pass dag_user_name_valid):
 * 0 with *u filled, or -1 with err ("no such user").
 */
int runas_lookup(const char *name, runas_user_t *u, char *err, size_t errlen);

typedef enum runas_choice {
    RUNAS_SELF = 0, /* run as the worker's own user: nothing to switch */
    RUNAS_SWITCH    /* run as *u: the worker is root, u is another user */
} runas_choice_t;

/*
 * Who a try runs as. user: the try's run_as_user, else the worker's
 * default (NULL or "": none). self: the worker's effective uid.
 * allow_root: worker.allow_root_tasks. Returns RUNAS_SELF or RUNAS_SWITCH
 * (*u filled), or -1 with err: no such user, the try would run as root
 * and that is not allowed, or the user is another one and the worker is
 * not root.
 */
int runas_decide(const char *user, uid_t self, bool allow_root, runas_user_t *u, char *err,
                 size_t errlen);

/*
 * The worker's check when it starts, with the same rules: tasks that name
 * no user run as default_user (NULL or "": the worker's own user). 0, or
 * -1 with err saying what to configure.
 */
int runas_check_start(const char *default_user, uid_t self, bool allow_root, char *err,
                      size_t errlen);

/*
 * Becomes u for good in this (single-threaded) process: initgroups,
 * setgid, setuid, then checks that every id stuck and, unless u is root,
 * that root cannot be regained. 0, or -1 with err (the process must not
 * go on).
 */
int runas_drop(const runas_user_t *u, char *err, size_t errlen);

/*
 * `updraft-worker --run-as UID GID USER -- PATH ARGV0 ARGS...` (argv as
 * main has it, argv[1] the flag): drops to the user and executes PATH.
 * Returns only on failure, with RUNAS_EXIT_FAILED after writing why to
 * stdout (the task's log).
 */
int runas_main(int argc, char **argv);

#endif
