/*
 * spawn_ceiling.c - the machine's own process-start ceiling.
 *
 *   spawn_ceiling PROCS ITERATIONS PROGRAM [ARG...]
 *
 * Forks PROCS children; each runs posix_spawn + waitpid of PROGRAM (with
 * ARGs) ITERATIONS / PROCS times. Prints one line: the number of spawns per
 * second over the wall time of the whole loop. A task that starts one
 * process cannot run faster than this on the same machine. The benchmark
 * runs it for /bin/true (the bare cost of a process) and for `bash -c
 * true`, what a bash task starts (worker/executor.h): the latter is the
 * ceiling one-process-per-task throughput is compared with.
 */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int spawn_loop(long n, char **argv)
{
    for (long i = 0; i < n; i++) {
        pid_t pid;
        int rc = posix_spawn(&pid, argv[0], NULL, NULL, argv, environ);
        if (rc != 0) {
            fprintf(stderr, "posix_spawn %s: %s\n", argv[0], strerror(rc));
            return 1;
        }
        int st;
        while (waitpid(pid, &st, 0) < 0) {
            if (errno != EINTR) {
                perror("waitpid");
                return 1;
            }
        }
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "%s did not exit 0\n", argv[0]);
            return 1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: spawn_ceiling PROCS ITERATIONS PROGRAM [ARG...]\n");
        return 2;
    }
    long procs = strtol(argv[1], NULL, 10);
    long iters = strtol(argv[2], NULL, 10);
    if (procs < 1 || procs > 256 || iters < procs) {
        fprintf(stderr, "spawn_ceiling: PROCS must be 1..256 and ITERATIONS >= PROCS\n");
        return 2;
    }
    long per = iters / procs;
    double t0 = now_s();
    for (long p = 0; p < procs; p++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0)
            _exit(spawn_loop(per, argv + 3));
    }
    int failed = 0;
    for (long p = 0; p < procs; p++) {
        int st;
        if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            failed = 1;
    }
    double dt = now_s() - t0;
    if (failed)
        return 1;
    printf("%.1f\n", (double)(per * procs) / dt);
    return 0;
}
