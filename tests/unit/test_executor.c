/*
 * test_executor.c - how a bash task's process is started (worker/executor.h):
 * finding bash once (the preferred path, else PATH, else a clear error), and
 * `bash -c` running what Airflow's BashOperator runs: bash syntax that a
 * POSIX /bin/sh (dash on Debian) rejects, the exit status of the command,
 * the environment given and the working directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "worker/executor.h"

static void assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        fail_msg("'%s' does not contain '%s'", hay, needle);
}

/* The bash this machine has, or skips the test where there is none. */
static const char *system_bash(char *buf, size_t len)
{
    char err[512];
    if (executor_find_bash(EXECUTOR_BASH, getenv("PATH"), buf, len, err, sizeof(err)) < 0)
        skip();
    return buf;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static void test_bash_is_found_first_where_preferred_then_in_path(void **state)
{
    (void)state;
    char dir[] = "/tmp/updraft-test-bash-XXXXXX", sub[128], other[128], path_list[512];
    char out[EXECUTOR_BASH_PATH_MAX], err[512], fake[160];

    assert_non_null(mkdtemp(dir));
    snprintf(sub, sizeof(sub), "%s/noexec", dir);
    snprintf(other, sizeof(other), "%s/bin", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(mkdir(other, 0700), 0);
    /* A file named bash that is not executable is passed over. */
    snprintf(fake, sizeof(fake), "%s/bash", sub);
    write_file(fake, "#!/bin/sh\n", 0644);
    snprintf(fake, sizeof(fake), "%s/bash", other);
    write_file(fake, "#!/bin/sh\n", 0755);

    /* The preferred path wins when it is an executable file. */
    assert_int_equal(executor_find_bash(fake, "/nonexistent", out, sizeof(out), err, sizeof(err)),
                     0);
    assert_string_equal(out, fake);
    /* Otherwise PATH, in order; relative and empty entries are skipped. */
    snprintf(path_list, sizeof(path_list), "bin::%s:%s:/nonexistent", sub, other);
    assert_int_equal(
        executor_find_bash("/nonexistent/bash", path_list, out, sizeof(out), err, sizeof(err)), 0);
    assert_string_equal(out, fake);
    /* A directory is not bash. */
    assert_int_equal(executor_find_bash(other, NULL, out, sizeof(out), err, sizeof(err)), -1);

    /* Nowhere: an error that says where it looked. */
    snprintf(path_list, sizeof(path_list), "%s:/nonexistent", sub);
    assert_int_equal(
        executor_find_bash("/nonexistent/bash", path_list, out, sizeof(out), err, sizeof(err)), -1);
    assert_contains(err, "bash not found");
    assert_contains(err, "/nonexistent/bash");
    assert_contains(err, sub);
    assert_string_equal(out, "");
    assert_int_equal(executor_find_bash(NULL, "", out, sizeof(out), err, sizeof(err)), -1);
    assert_contains(err, "PATH (unset)");

    snprintf(fake, sizeof(fake), "%s/bash", sub);
    unlink(fake);
    snprintf(fake, sizeof(fake), "%s/bash", other);
    unlink(fake);
    rmdir(sub);
    rmdir(other);
    rmdir(dir);
}

/* Runs command with bash -c in cwd with envp; its output in out, its exit code returned. */
static int run(const char *bash, const char *command, const char *cwd, char *const *envp, char *out,
               size_t outlen)
{
    executor_proc_t p;
    char err[512];
    size_t n = 0;
    int status;

    if (executor_spawn(bash, command, cwd, envp, NULL, &p, err, sizeof(err)) < 0)
        fail_msg("spawn: %s", err);
    for (;;) {
        struct pollfd pfd = {.fd = p.out_fd, .events = POLLIN};
        if (poll(&pfd, 1, 10000) <= 0)
            fail_msg("no output from '%s' within 10 s", command);
        ssize_t r = read(p.out_fd, out + n, outlen - 1 - n);
        if (r == 0 || n + 1 >= outlen)
            break;
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR)
                continue;
            fail_msg("read: %s", strerror(errno));
        }
        n += (size_t)r;
    }
    out[n] = '\0';
    assert_int_equal(waitpid(p.pid, &status, 0), p.pid);
    executor_cleanup(&p);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/*
 * Bash syntax a POSIX sh rejects: each of these fails or prints something
 * else under dash.
 */
static void test_tasks_run_with_bash(void **state)
{
    (void)state;
    char bash[EXECUTOR_BASH_PATH_MAX], out[4096];
    char *envp[] = {(char *)"PATH=/usr/bin:/bin", (char *)"GREETING=hello there", NULL};

    system_bash(bash, sizeof(bash));
    assert_int_equal(
        run(bash, "x=abc; [[ $x == a* && -n $x ]] && echo dbl=ok", NULL, envp, out, sizeof(out)),
        0);
    assert_string_equal(out, "dbl=ok\n");
    assert_int_equal(run(bash, "a=(one 'two words' three); echo \"${a[1]}|${a[@]: -1}|${#a[@]}\"",
                         NULL, envp, out, sizeof(out)),
                     0);
    assert_string_equal(out, "two words|three|3\n");
    assert_int_equal(run(bash, "echo x{1..3}", NULL, envp, out, sizeof(out)), 0);
    assert_string_equal(out, "x1 x2 x3\n");
    assert_int_equal(run(bash, "s=$'a\\tb'; echo \"${#s}\"", NULL, envp, out, sizeof(out)), 0);
    assert_string_equal(out, "3\n");
    /* A pipeline's status is its last command's, unless pipefail is set. */
    assert_int_equal(run(bash, "(exit 3) | cat", NULL, envp, out, sizeof(out)), 0);
    assert_int_equal(run(bash, "set -o pipefail; (exit 3) | cat", NULL, envp, out, sizeof(out)), 3);
    assert_string_equal(out, "");
    /* BashOperator's skip code travels through as the exit status. */
    assert_int_equal(run(bash, "[[ -n $BASH_VERSION ]] && exit 99", NULL, envp, out, sizeof(out)),
                     99);
    /* The environment is exactly envp; the working directory is cwd. */
    assert_int_equal(
        run(bash, "echo \"$GREETING\"; echo \"${HOME:-nohome}\"; pwd", "/", envp, out, sizeof(out)),
        0);
    assert_string_equal(out, "hello there\nnohome\n/\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bash_is_found_first_where_preferred_then_in_path),
        cmocka_unit_test(test_tasks_run_with_bash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
