/*
 * executor.c - task processes (see executor.h).
 *
 * The child is set up entirely by posix_spawn attributes and file actions:
 * setsid, default signal dispositions and an empty mask (the worker blocks
 * signals it handles through signalfd/sigwait, and blocked masks survive
 * exec), /dev/null on stdin, the pipe on stdout and stderr, chdir, and every
 * other descriptor closed. glibc reports a failed chdir or exec as the
 * return value of posix_spawn, so no error travels through the pipe.
 */
#include "worker/executor.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int make_tmpdir(char **out, char *err, size_t errlen)
{
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    size_t n = strlen(base) + sizeof("/updraft-tmpXXXXXX");
    char *path = malloc(n);
    if (!path) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(path, n, "%s/updraft-tmpXXXXXX", base);
    if (!mkdtemp(path)) {
        snprintf(err, errlen, "cannot create a temporary directory in %s: %s", base,
                 strerror(errno));
        free(path);
        return -1;
    }
    *out = path;
    return 0;
}

static int spawn(const char *path, char *const *argv, const char *cwd, char *const *envp,
                 executor_proc_t *p, char *err, size_t errlen)
{
    int rc = -1, pfd[2] = {-1, -1};
    char *tmpdir = NULL;
    bool fa_init = false, at_init = false;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, all;
    pid_t pid = 0;

    p->pid = 0;
    p->out_fd = -1;
    p->tmpdir = NULL;

    if (!cwd && make_tmpdir(&tmpdir, err, errlen) < 0)
        goto out;
    if (pipe2(pfd, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        goto out;
    }
    if (posix_spawn_file_actions_init(&fa) != 0) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    fa_init = true;
    if (posix_spawnattr_init(&at) != 0) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    at_init = true;

    sigemptyset(&none);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    if (posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
                                          POSIX_SPAWN_SETSIGDEF) != 0 ||
        posix_spawnattr_setsigmask(&at, &none) != 0 ||
        posix_spawnattr_setsigdefault(&at, &all) != 0 ||
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0) != 0 ||
        posix_spawn_file_actions_adddup2(&fa, pfd[1], 1) != 0 ||
        posix_spawn_file_actions_adddup2(&fa, pfd[1], 2) != 0 ||
        posix_spawn_file_actions_addchdir_np(&fa, cwd ? cwd : tmpdir) != 0 ||
        posix_spawn_file_actions_addclosefrom_np(&fa, 3) != 0) {
        snprintf(err, errlen, "cannot set up the task process");
        goto out;
    }

    int e = posix_spawn(&pid, path, &fa, &at, argv, envp);
    if (e != 0) {
        if (cwd && (e == ENOENT || e == ENOTDIR || e == EACCES) && access(cwd, X_OK) != 0)
            snprintf(err, errlen, "cannot use cwd %s: %s", cwd, strerror(e));
        else
            snprintf(err, errlen, "cannot start %s: %s", path, strerror(e));
        goto out;
    }
    close(pfd[1]);
    pfd[1] = -1;
    int fl = fcntl(pfd[0], F_GETFL);
    if (fl >= 0)
        fcntl(pfd[0], F_SETFL, fl | O_NONBLOCK);
    p->pid = pid;
    p->out_fd = pfd[0];
    pfd[0] = -1;
    p->tmpdir = tmpdir;
    tmpdir = NULL;
    rc = 0;
out:
    if (fa_init)
        posix_spawn_file_actions_destroy(&fa);
    if (at_init)
        posix_spawnattr_destroy(&at);
    if (pfd[0] >= 0)
        close(pfd[0]);
    if (pfd[1] >= 0)
        close(pfd[1]);
    if (tmpdir) {
        rmdir(tmpdir);
        free(tmpdir);
    }
    return rc;
}

int executor_spawn(const char *command, const char *cwd, char *const *envp, executor_proc_t *p,
                   char *err, size_t errlen)
{
    char *const argv[] = {(char *)"sh", (char *)"-c", (char *)command, NULL};
    return spawn(EXECUTOR_SHELL, argv, cwd, envp, p, err, errlen);
}

int executor_spawn_argv(const char *path, char *const *argv, const char *cwd, char *const *envp,
                        executor_proc_t *p, char *err, size_t errlen)
{
    return spawn(path, argv, cwd, envp, p, err, errlen);
}

void executor_signal(const executor_proc_t *p, int sig)
{
    if (p->pid > 0)
        kill(-p->pid, sig);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (flag == FTW_DP || flag == FTW_D)
        chmod(path, 0700); /* best effort for directories made read-only by the task */
    return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

int executor_remove_tree(const char *path)
{
    return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

void executor_cleanup(executor_proc_t *p)
{
    if (p->out_fd >= 0) {
        close(p->out_fd);
        p->out_fd = -1;
    }
    if (p->tmpdir) {
        (void)executor_remove_tree(p->tmpdir);
        free(p->tmpdir);
        p->tmpdir = NULL;
    }
    p->pid = 0;
}
