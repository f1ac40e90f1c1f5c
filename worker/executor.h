/*
 * executor.h - starting and stopping a task's process.
 *
 * A bash task runs as `bash -c <command>`, as Airflow's BashOperator runs
 * it (bash syntax such as [[ ]], arrays, `set -o pipefail` and brace
 * expansion works; /bin/sh may be dash), in its own session and process
 * group (so the whole tree can be signalled), with stdin from /dev/null and
 * stdout and stderr into one non-blocking pipe the supervisor reads. It runs
 * in the task's cwd, or in a fresh temporary directory removed afterwards.
 * posix_spawn is used (vfork-like, cheap from a large process); nothing but
 * the task itself is started. The supervisor then gives the group to the
 * worker's guard (worker/taskguard.h), which kills it if the worker dies
 * before reaping it, even by SIGKILL. An operator that is not a shell command runs
 * the same way with the operator runner (worker/ops.h) in place of the
 * shell.
 */
#ifndef UPDRAFT_WORKER_EXECUTOR_H
#define UPDRAFT_WORKER_EXECUTOR_H

#include <stddef.h>
#include <sys/types.h>

#define EXECUTOR_BASH "/bin/bash"
#define EXECUTOR_BASH_PATH_MAX 4096

/*
 * Finds the bash that tasks run with, once at start: preferred (normally
 * EXECUTOR_BASH) when it is an executable file, else the first executable
 * `bash` in the directories of path_list (a PATH value; NULL or empty: none).
 * Returns 0 with the absolute path in out, or -1 with err saying where it
 * looked.
 */
int executor_find_bash(const char *preferred, const char *path_list, char *out, size_t outlen,
                       char *err, size_t errlen);

/*
 * Another user to run the task as (worker/runas.h): the process started is
 * self_exe --run-as UID GID NAME -- PATH ARGV..., which drops to the user
 * and executes the task; the temporary directory is given to the user.
 */
typedef struct executor_as {
    const char *self_exe; /* this binary */
    uid_t uid;
    gid_t gid;
    const char *name;
} executor_as_t;

typedef struct executor_proc {
    pid_t pid;    /* also the process group id; 0 when not running */
    int out_fd;   /* read end of the output pipe, -1 when closed */
    char *tmpdir; /* temporary cwd to remove, or NULL */
} executor_proc_t;

/*
 * Starts `bash -c command` with bash the path executor_find_bash gave. cwd NULL: a new directory
 * under $TMPDIR (or /tmp). envp is the complete environment (see taskenv.h). as: another user to
 * run as, or NULL (the worker's own). Returns 0 with *p filled, or -1 with err filled (nothing left
 * behind).
 */
int executor_spawn(const char *bash, const char *command, const char *cwd, char *const *envp,
                   const executor_as_t *as, executor_proc_t *p, char *err, size_t errlen);

/* The same for the program path with argv (argv[0] included, NULL-terminated). */
int executor_spawn_argv(const char *path, char *const *argv, const char *cwd, char *const *envp,
                        const executor_as_t *as, executor_proc_t *p, char *err, size_t errlen);

/* Sends sig to the process group of p (no-op when p is not running). */
void executor_signal(const executor_proc_t *p, int sig);

/* Closes the pipe and removes the temporary directory (the process must be reaped). */
void executor_cleanup(executor_proc_t *p);

/*
 * Removes a directory tree without following symlinks, walking it by
 * descriptor (openat, unlinkat): a task that swaps a directory for a
 * symlink while the tree is removed cannot make the worker remove
 * anything outside it. 0 or -1.
 */
int executor_remove_tree(const char *path);

#endif
