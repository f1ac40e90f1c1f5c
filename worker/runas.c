/*
 * runas.c - the run_as_user policy and the switch to another user (see
 * runas.h).
 *
 * The switch happens in a fresh process that is single-threaded (the
 * worker starts it with posix_spawn), so initgroups and the set*id calls
 * apply to the whole process and nothing else runs while they do. The
 * parent resolves the user once; the child gets the ids and the name on
 * its command line and checks the result against what the password and
 * group files say.
 */
#include "worker/runas.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PW_BUF 16384
#define GROUPS_MAX 1024

extern char **environ;

int runas_lookup(const char *name, runas_user_t *u, char *err, size_t errlen)
{
    struct passwd pw, *found = NULL;
    char buf[PW_BUF];
    int e;

    memset(u, 0, sizeof(*u));
    if (!dag_user_name_valid(name)) {
        snprintf(err, errlen, "'%.64s' is not a valid user name", name ? name : "");
        return -1;
    }
    e = getpwnam_r(name, &pw, buf, sizeof(buf), &found);
    if (e != 0 || !found) {
        snprintf(err, errlen, "user '%s': %s", name, e ? strerror(e) : "no such user");
        return -1;
    }
    u->uid = pw.pw_uid;
    u->gid = pw.pw_gid;
    snprintf(u->name, sizeof(u->name), "%s", pw.pw_name);
    if (!pw.pw_dir || strlen(pw.pw_dir) > RUNAS_HOME_MAX)
        snprintf(u->home, sizeof(u->home), "/");
    else
        snprintf(u->home, sizeof(u->home), "%s", pw.pw_dir);
    return 0;
}

int runas_decide(const char *user, uid_t self, bool allow_root, runas_user_t *u, char *err,
                 size_t errlen)
{
    memset(u, 0, sizeof(*u));
    if (!user || !*user) {
        if (self == 0 && !allow_root) {
            snprintf(err, errlen,
                     "the task would run as root (the worker's user): give it a run_as_user, "
                     "or set worker.default_run_as_user or worker.allow_root_tasks");
            return -1;
        }
        return RUNAS_SELF;
    }
    if (runas_lookup(user, u, err, errlen) < 0)
        return -1;
    if (u->uid == 0 && !allow_root) {
        snprintf(err, errlen, "run_as_user '%s' is root, and worker.allow_root_tasks is false",
                 u->name);
        return -1;
    }
    if (u->uid == self)
        return RUNAS_SELF;
    if (self != 0) {
        snprintf(err, errlen,
                 "run_as_user '%s' needs the worker to start as root (it runs as uid %lu and "
                 "can run tasks only as itself)",
                 u->name, (unsigned long)self);
        return -1;
    }
    return RUNAS_SWITCH;
}

int runas_check_start(const char *default_user, uid_t self, bool allow_root, char *err,
                      size_t errlen)
{
    runas_user_t u;
    char why[384];

    if (runas_decide(default_user, self, allow_root, &u, why, sizeof(why)) >= 0)
        return 0;
    if (!default_user || !*default_user)
        snprintf(err, errlen,
                 "the worker runs as root, so tasks that name no run_as_user would run as root: "
                 "set worker.default_run_as_user (UPDRAFT__WORKER__DEFAULT_RUN_AS_USER) to a "
                 "user without privileges (e.g. nobody), or accept it with "
                 "worker.allow_root_tasks: true");
    else
        snprintf(err, errlen, "worker.default_run_as_user: %s", why);
    return -1;
}

/* Whether g is among the n groups of list. */
static bool has_group(const gid_t *list, int n, gid_t g)
{
    for (int i = 0; i < n; i++)
        if (list[i] == g)
            return true;
    return false;
}

int runas_drop(const runas_user_t *u, char *err, size_t errlen)
{
    gid_t want[GROUPS_MAX], got[GROUPS_MAX];
    int nwant = GROUPS_MAX, ngot;
    uid_t ruid, euid, suid;
    gid_t rgid, egid, sgid;

    if (getgrouplist(u->name, u->gid, want, &nwant) < 0) {
        snprintf(err, errlen, "user '%s' is in more than %d groups", u->name, GROUPS_MAX);
        return -1;
    }
    if (initgroups(u->name, u->gid) != 0) {
        snprintf(err, errlen, "initgroups: %s", strerror(errno));
        return -1;
    }
    if (setresgid(u->gid, u->gid, u->gid) != 0) {
        snprintf(err, errlen, "setresgid %lu: %s", (unsigned long)u->gid, strerror(errno));
        return -1;
    }
    if (setresuid(u->uid, u->uid, u->uid) != 0) {
        snprintf(err, errlen, "setresuid %lu: %s", (unsigned long)u->uid, strerror(errno));
        return -1;
    }
    /* check that it stuck: every id, every group, and no way back */
    if (getresuid(&ruid, &euid, &suid) != 0 || getresgid(&rgid, &egid, &sgid) != 0 ||
        ruid != u->uid || euid != u->uid || suid != u->uid || rgid != u->gid || egid != u->gid ||
        sgid != u->gid) {
        snprintf(err, errlen, "the user and group ids did not change to %lu:%lu",
                 (unsigned long)u->uid, (unsigned long)u->gid);
        return -1;
    }
    ngot = getgroups(GROUPS_MAX, got);
    if (ngot < 0) {
        snprintf(err, errlen, "getgroups: %s", strerror(errno));
        return -1;
    }
    for (int i = 0; i < ngot; i++) {
        if (!has_group(want, nwant, got[i])) {
            snprintf(err, errlen, "supplementary group %lu is not one of user '%s'",
                     (unsigned long)got[i], u->name);
            return -1;
        }
    }
    if (u->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
        snprintf(err, errlen, "root could be regained after switching to '%s'", u->name);
        return -1;
    }
    return 0;
}

/* A decimal id in 0..UINT32_MAX-1 (-1 is "unchanged" to the set*id calls). */
static bool parse_id(const char *s, unsigned long *out)
{
    char *end;

    if (!s || *s < '0' || *s > '9')
        return false;
    errno = 0;
    *out = strtoul(s, &end, 10);
    return errno == 0 && *end == '\0' && *out < 0xffffffffUL;
}

static int fail(const char *user, const char *why)
{
    printf("updraft-worker: cannot run the task as user '%s': %s\n", user ? user : "", why);
    fflush(stdout);
    return RUNAS_EXIT_FAILED;
}

int runas_main(int argc, char **argv)
{
    runas_user_t u;
    unsigned long uid, gid;
    char err[512];

    /* updraft-worker --run-as UID GID USER -- PATH ARGV0 [ARGS...] */
    if (argc < 8 || strcmp(argv[1], RUNAS_FLAG) != 0 || strcmp(argv[5], "--") != 0)
        return fail(NULL, "usage: updraft-worker --run-as UID GID USER -- PATH ARGV0 [ARGS...]");
    if (!parse_id(argv[2], &uid) || !parse_id(argv[3], &gid) || !dag_user_name_valid(argv[4]))
        return fail(argv[4], "invalid uid, gid or user name");
    memset(&u, 0, sizeof(u));
    u.uid = (uid_t)uid;
    u.gid = (gid_t)gid;
    snprintf(u.name, sizeof(u.name), "%s", argv[4]);
    if (runas_drop(&u, err, sizeof(err)) < 0)
        return fail(u.name, err);
    /* The working directory was entered as root: the user must be able to use it too. */
    if (chdir(".") != 0) {
        snprintf(err, sizeof(err), "cannot use the working directory: %s", strerror(errno));
        return fail(u.name, err);
    }
    execve(argv[6], argv + 7, environ);
    snprintf(err, sizeof(err), "cannot start %s: %s", argv[6], strerror(errno));
    return fail(u.name, err);
}
