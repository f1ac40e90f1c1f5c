/*
 * test_runas.c - who a task runs as (worker/runas.h): the policy, the
 * switch itself in a child process (when the test runs as root), and the
 * removal of a task's temporary directory that never follows a symlink
 * out of it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "worker/executor.h"
#include "worker/runas.h"

static void assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        fail_msg("'%s' does not contain '%s'", hay, needle);
}

/* nobody's uid, or skips the test where there is no such user. */
static uid_t nobody_uid(void)
{
    struct passwd *pw = getpwnam("nobody");
    if (!pw)
        skip();
    return pw->pw_uid;
}

/*
 * A task never runs as root unless worker.allow_root_tasks says so; a
 * worker started as root switches to any other user; one that is not
 * root runs tasks only as itself.
 */
static void test_tasks_run_as_root_only_when_allowed(void **state)
{
    (void)state;
    runas_user_t u;
    char err[512];
    uid_t nobody = nobody_uid();

    /* a root worker, no user named */
    assert_int_equal(runas_decide(NULL, 0, false, &u, err, sizeof(err)), -1);
    assert_contains(err, "would run as root");
    assert_int_equal(runas_decide("", 0, true, &u, err, sizeof(err)), RUNAS_SELF);
    /* root named */
    assert_int_equal(runas_decide("root", 0, false, &u, err, sizeof(err)), -1);
    assert_contains(err, "run_as_user 'root' is root, and worker.allow_root_tasks is false");
    assert_int_equal(runas_decide("root", 0, true, &u, err, sizeof(err)), RUNAS_SELF);
    assert_int_equal(runas_decide("root", 1000, true, &u, err, sizeof(err)), -1);
    /* another user */
    assert_int_equal(runas_decide("nobody", 0, false, &u, err, sizeof(err)), RUNAS_SWITCH);
    assert_int_equal(u.uid, nobody);
    assert_string_equal(u.name, "nobody");
    assert_int_equal(runas_decide("nobody", nobody, false, &u, err, sizeof(err)), RUNAS_SELF);
    assert_int_equal(runas_decide("nobody", 1234567, false, &u, err, sizeof(err)), -1);
    assert_contains(err, "needs the worker to start as root");
    /* a non-root worker with nothing named runs tasks as itself */
    assert_int_equal(runas_decide(NULL, 1234567, false, &u, err, sizeof(err)), RUNAS_SELF);
    /* names that are not users, or not names */
    assert_int_equal(runas_decide("no-such-user-here", 0, false, &u, err, sizeof(err)), -1);
    assert_contains(err, "no such user");
    assert_int_equal(runas_decide("-u0", 0, true, &u, err, sizeof(err)), -1);
    assert_contains(err, "not a valid user name");
    assert_int_equal(runas_decide("0", 0, false, &u, err, sizeof(err)), -1);

    /* at the worker's start */
    assert_int_equal(runas_check_start(NULL, 0, false, err, sizeof(err)), -1);
    assert_contains(err, "worker.default_run_as_user");
    assert_contains(err, "worker.allow_root_tasks");
    assert_int_equal(runas_check_start(NULL, 0, true, err, sizeof(err)), 0);
    assert_int_equal(runas_check_start("nobody", 0, false, err, sizeof(err)), 0);
    assert_int_equal(runas_check_start(NULL, 1234567, false, err, sizeof(err)), 0);
    assert_int_equal(runas_check_start("root", 0, false, err, sizeof(err)), -1);
    assert_contains(err, "worker.default_run_as_user: run_as_user 'root' is root");
    assert_int_equal(runas_check_start("nobody", 1234567, false, err, sizeof(err)), -1);
    assert_contains(err, "needs the worker to start as root");
}

/*
 * Run as root, a child drops to nobody: every id changed, the groups are
 * nobody's, and root cannot be regained.
 */
static void test_dropping_to_a_user_sticks(void **state)
{
    (void)state;
    runas_user_t u;
    char err[512];
    int pfd[2];

    if (geteuid() != 0)
        skip(); /* only root can switch users */
    nobody_uid();
    assert_int_equal(runas_lookup("nobody", &u, err, sizeof(err)), 0);
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char out[600];
        uid_t r, e, sv;
        gid_t groups[64];
        int n;
        close(pfd[0]);
        if (runas_drop(&u, err, sizeof(err)) != 0) {
            snprintf(out, sizeof(out), "drop failed: %s", err);
        } else {
            getresuid(&r, &e, &sv);
            n = getgroups(64, groups);
            snprintf(out, sizeof(out), "ids %lu %lu %lu gid %lu groups %d zero %d root %d",
                     (unsigned long)r, (unsigned long)e, (unsigned long)sv,
                     (unsigned long)getegid(), n, n > 0 && groups[0] == 0,
                     setuid(0) == 0 || seteuid(0) == 0);
        }
        if (write(pfd[1], out, strlen(out) + 1) < 0)
            _exit(2);
        _exit(0);
    }
    close(pfd[1]);
    char got[600] = "", want[600];
    ssize_t n = read(pfd[0], got, sizeof(got) - 1);
    close(pfd[0]);
    int status;
    waitpid(pid, &status, 0);
    assert_true(n > 0);
    got[n] = '\0';
    gid_t wantg[64];
    int nwant = 64;
    assert_true(getgrouplist("nobody", u.gid, wantg, &nwant) >= 0);
    snprintf(want, sizeof(want), "ids %lu %lu %lu gid %lu groups %d zero 0 root 0",
             (unsigned long)u.uid, (unsigned long)u.uid, (unsigned long)u.uid, (unsigned long)u.gid,
             nwant);
    assert_string_equal(got, want);
}

/*
 * A task's temporary directory holding a symlink to a directory outside
 * it is removed without touching what the symlink points at.
 */
static void test_removing_a_task_dir_never_follows_symlinks(void **state)
{
    (void)state;
    char outside[] = "/tmp/updraft-test-outside-XXXXXX";
    char inside[] = "/tmp/updraft-test-inside-XXXXXX";
    char path[256];

    assert_non_null(mkdtemp(outside));
    assert_non_null(mkdtemp(inside));
    snprintf(path, sizeof(path), "%s/keep", outside);
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);
    snprintf(path, sizeof(path), "%s/link", inside);
    assert_int_equal(symlink(outside, path), 0);
    snprintf(path, sizeof(path), "%s/sub", inside);
    assert_int_equal(mkdir(path, 0500), 0); /* read-only, as a task may leave it */
    assert_int_equal(executor_remove_tree(inside), 0);
    snprintf(path, sizeof(path), "%s/keep", outside);
    assert_int_equal(access(path, F_OK), 0);
    assert_int_equal(access(inside, F_OK), -1);
    unlink(path);
    rmdir(outside);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tasks_run_as_root_only_when_allowed),
        cmocka_unit_test(test_dropping_to_a_user_sticks),
        cmocka_unit_test(test_removing_a_task_dir_never_follows_symlinks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
