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

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "worker/runas.h"

#define REMOVE_DEPTH_MAX 128 /* deeper trees a task leaves behind are not removed */
#define REMOVE_PASSES 4      /* a directory is read again while entries keep appearing */

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

/*
 * The argv that starts path as another user through this binary's
 * RUNAS_FLAG (worker/runas.h); ids go into the caller's buffers. NULL on
 * OOM.
 */
static char **runas_argv(const executor_as_t *as, const char *path, char *const *argv, char uid[24],
                         char gid[24])
{
    size_t n = 0;
    while (argv[n])
        n++;
    char **v = calloc(n + 8, sizeof(*v));
    if (!v)
        return NULL;
    snprintf(uid, 24, "%lu", (unsigned long)as->uid);
    snprintf(gid, 24, "%lu", (unsigned long)as->gid);
    v[0] = (char *)"updraft-worker";
    v[1] = (char *)RUNAS_FLAG;
    v[2] = uid;
    v[3] = gid;
    v[4] = (char *)as->name;
    v[5] = (char *)"--";
    v[6] = (char *)path;
    memcpy(v + 7, argv, (n + 1) * sizeof(*v));
    return v;
}

static int spawn(const char *path, char *const *argv, const char *cwd, char *const *envp,
                 const executor_as_t *as, executor_proc_t *p, char *err, size_t errlen)
{
    int rc = -1, pfd[2] = {-1, -1};
    char *tmpdir = NULL, **as_argv = NULL, uid[24], gid[24];
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
    if (as && tmpdir && chown(tmpdir, as->uid, as->gid) != 0) {
        snprintf(err, errlen, "cannot give the temporary directory to user '%s': %s", as->name,
                 strerror(errno));
        goto out;
    }
    if (as) {
        if (!(as_argv = runas_argv(as, path, argv, uid, gid))) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        argv = as_argv;
        path = as->self_exe;
    }
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
    free(as_argv);
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

static bool is_executable_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int executor_find_bash(const char *preferred, const char *path_list, char *out, size_t outlen,
                       char *err, size_t errlen)
{
    if (preferred && *preferred == '/' && strlen(preferred) < outlen &&
        is_executable_file(preferred)) {
        snprintf(out, outlen, "%s", preferred);
        return 0;
    }
    for (const char *d = path_list && *path_list ? path_list : NULL; d;) {
        const char *colon = strchr(d, ':');
        size_t n = colon ? (size_t)(colon - d) : strlen(d);
        /* Only absolute directories: a relative PATH entry depends on the cwd of the moment. */
        if (n > 0 && d[0] == '/' && n + sizeof("/bash") <= outlen) {
            snprintf(out, outlen, "%.*s/bash", (int)n, d);
            if (is_executable_file(out))
                return 0;
        }
        d = colon ? colon + 1 : NULL;
    }
    snprintf(err, errlen,
             "bash not found: %s is not an executable file and no directory of PATH (%s) has one",
             preferred ? preferred : "(none)", path_list && *path_list ? path_list : "unset");
    if (outlen)
        out[0] = '\0';
    return -1;
}

int executor_spawn(const char *bash, const char *command, const char *cwd, char *const *envp,
                   const executor_as_t *as, executor_proc_t *p, char *err, size_t errlen)
{
    char *const argv[] = {(char *)"bash", (char *)"-c", (char *)command, NULL};
    return spawn(bash, argv, cwd, envp, as, p, err, errlen);
}

int executor_spawn_argv(const char *path, char *const *argv, const char *cwd, char *const *envp,
                        const executor_as_t *as, executor_proc_t *p, char *err, size_t errlen)
{
    return spawn(path, argv, cwd, envp, as, p, err, errlen);
}

void executor_signal(const executor_proc_t *p, int sig)
{
    if (p->pid > 0)
        kill(-p->pid, sig);
}

/*
 * Removes what the directory open as dfd holds (dfd is closed here), at
 * most depth levels down. Every step is relative to a descriptor and
 * nothing is opened through a symlink, so entries swapped while this runs
 * cannot lead outside the tree.
 */
static int remove_inside(int dfd, int depth)
{
    DIR *d = fdopendir(dfd);
    int rc = 0;

    if (!d) {
        close(dfd);
        return -1;
    }
    for (int pass = 0; pass < REMOVE_PASSES; pass++) {
        struct dirent *e;
        bool seen = false;
        rc = 0;
        rewinddir(d);
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            seen = true;
            if (unlinkat(dirfd(d), e->d_name, 0) == 0 || errno == ENOENT)
                continue;
            int sub = depth > 0 ? openat(dirfd(d), e->d_name,
                                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                                : -1;
            if (sub < 0) {
                rc = -1;
                continue;
            }
            (void)fchmod(sub, 0700); /* best effort for directories made read-only by the task */
            if (remove_inside(sub, depth - 1) < 0 ||
                (unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR) != 0 && errno != ENOENT))
                rc = -1;
        }
        if (!seen)
            break;
    }
    closedir(d);
    return rc;
}

int executor_remove_tree(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int rc;

    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    (void)fchmod(fd, 0700);
    rc = remove_inside(fd, REMOVE_DEPTH_MAX);
    if (rmdir(path) != 0 && errno != ENOENT)
        rc = -1;
    return rc;
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
