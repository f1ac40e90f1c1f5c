/*
 * taskguard.c - the process that kills a dead worker's tasks (see taskguard.h).
 *
 * The protocol is one native int32_t per process group, written with a
 * single non-blocking write: 4 bytes are below PIPE_BUF, so a record is
 * either in the pipe whole or not at all (EAGAIN). The guard keeps the
 * groups in an array; every second, and before growing it, it drops the
 * groups that have no process left (kill(-pgid, 0) fails with ESRCH).
 */
#include "worker/taskguard.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"

#define TASKGUARD_PRUNE_MS 1000
#define TASKGUARD_GROUPS_MAX (1 << 20) /* far above any worker's concurrency */

struct taskguard {
    pid_t pid;
    int fd; /* write end */
};

taskguard_t *taskguard_start(const char *self_exe, char *err, size_t errlen)
{
    taskguard_t *g = NULL;
    int pfd[2] = {-1, -1};
    bool fa_init = false, at_init = false;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, all;
    pid_t pid = 0;

    if (!self_exe) {
        snprintf(err, errlen, "the worker cannot find its own executable");
        return NULL;
    }
    if (!(g = calloc(1, sizeof(*g)))) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    g->fd = -1;
    if (pipe2(pfd, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        goto fail;
    }
    if (posix_spawn_file_actions_init(&fa) != 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    fa_init = true;
    if (posix_spawnattr_init(&at) != 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    at_init = true;
    sigemptyset(&none);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    /* stdin is the pipe, stdout and stderr stay the worker's (its log) */
    if (posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
                                          POSIX_SPAWN_SETSIGDEF) != 0 ||
        posix_spawnattr_setsigmask(&at, &none) != 0 ||
        posix_spawnattr_setsigdefault(&at, &all) != 0 ||
        posix_spawn_file_actions_adddup2(&fa, pfd[0], 0) != 0 ||
        posix_spawn_file_actions_addchdir_np(&fa, "/") != 0 ||
        posix_spawn_file_actions_addclosefrom_np(&fa, 3) != 0) {
        snprintf(err, errlen, "cannot set up the guard process");
        goto fail;
    }
    /* The guard's lines go to the worker's stderr, in the worker's format. */
    char *const argv[] = {(char *)"updraft-worker", (char *)TASKGUARD_FLAG,
                          log_get_format() == LOG_FORMAT_JSON ? (char *)"json" : NULL, NULL};
    char *const envp[] = {NULL};
    int e = posix_spawn(&pid, self_exe, &fa, &at, argv, envp);
    if (e != 0) {
        snprintf(err, errlen, "cannot start %s %s: %s", self_exe, TASKGUARD_FLAG, strerror(e));
        goto fail;
    }
    close(pfd[0]);
    pfd[0] = -1;
    int fl = fcntl(pfd[1], F_GETFL);
    if (fl < 0 || fcntl(pfd[1], F_SETFL, fl | O_NONBLOCK) < 0) {
        snprintf(err, errlen, "fcntl: %s", strerror(errno));
        goto fail; /* closing the pipe makes the guard exit */
    }
    g->pid = pid;
    g->fd = pfd[1];
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    return g;
fail:
    if (fa_init)
        posix_spawn_file_actions_destroy(&fa);
    if (at_init)
        posix_spawnattr_destroy(&at);
    if (pfd[0] >= 0)
        close(pfd[0]);
    if (pfd[1] >= 0)
        close(pfd[1]);
    free(g);
    return NULL;
}

pid_t taskguard_pid(const taskguard_t *g)
{
    return g ? g->pid : 0;
}

int taskguard_add(taskguard_t *g, pid_t pgid)
{
    int32_t rec = (int32_t)pgid;
    ssize_t n;

    do
        n = write(g->fd, &rec, sizeof(rec));
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof(rec) ? 0 : -1;
}

void taskguard_free(taskguard_t *g)
{
    if (!g)
        return;
    if (g->fd >= 0)
        close(g->fd);
    free(g);
}

/* ---- the guard process ------------------------------------------------- */

/* Keeps the groups that still have a process; returns how many. */
static size_t prune(pid_t *groups, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (kill(-groups[i], 0) == 0 || errno != ESRCH)
            groups[k++] = groups[i];
    return k;
}

int taskguard_main(log_format_t format)
{
    pid_t *groups = NULL;
    size_t n = 0, cap = 0;
    int32_t buf[256];
    size_t carry = 0; /* bytes of a record split across reads (not expected) */

    log_init("worker-guard", LOG_LEVEL_INFO);
    log_set_format(format);
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    for (;;) {
        struct pollfd p = {.fd = 0, .events = POLLIN};
        int rc = poll(&p, 1, TASKGUARD_PRUNE_MS);
        if (rc < 0 && errno != EINTR)
            break;
        if (rc <= 0) {
            n = prune(groups, n);
            continue;
        }
        ssize_t got = read(0, (char *)buf + carry, sizeof(buf) - carry);
        if (got < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (got <= 0)
            break; /* the worker is gone */
        size_t bytes = carry + (size_t)got, nrec = bytes / sizeof(buf[0]);
        for (size_t i = 0; i < nrec; i++) {
            if (buf[i] <= 1)
                continue; /* never signal every process, or init's group */
            if (n == cap) {
                n = prune(groups, n);
                if (n == cap && cap < TASKGUARD_GROUPS_MAX) {
                    size_t ncap = cap ? cap * 2 : 64;
                    pid_t *ng = realloc(groups, ncap * sizeof(*ng));
                    if (ng) {
                        groups = ng;
                        cap = ncap;
                    }
                }
                if (n == cap) {
                    log_error("cannot track more task process groups pgid=%d", (int)buf[i]);
                    continue;
                }
            }
            groups[n++] = (pid_t)buf[i];
        }
        carry = bytes - nrec * sizeof(buf[0]);
        if (carry)
            memmove(buf, (char *)buf + nrec * sizeof(buf[0]), carry);
    }
    size_t killed = 0;
    for (size_t i = 0; i < n; i++)
        if (kill(-groups[i], SIGKILL) == 0)
            killed++;
    if (killed > 0)
        log_warn("the worker is gone: killed the process groups of its tasks groups=%zu", killed);
    free(groups);
    return 0;
}
