/*
 * cmd_standalone.c - `updraft standalone`: runs deploy/standalone.sh from
 * the checkout or installation this binary belongs to ($UPDRAFT_HOME, else
 * the parent of the binary's folder). The script starts a private Postgres
 * and Redis and every daemon; see docs/operations.md.
 */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

int cli_standalone(const char *argv0, int argc, char **argv)
{
    (void)argv0;
    char home[PATH_MAX], script[PATH_MAX + 64];
    const char *env = getenv("UPDRAFT_HOME");
    if (env && *env) {
        snprintf(home, sizeof(home), "%s", env);
    } else {
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n <= 0) {
            fprintf(stderr, "updraft: cannot find my own location; set UPDRAFT_HOME\n");
            return 1;
        }
        exe[n] = '\0';
        snprintf(home, sizeof(home), "%s", dirname(dirname(exe)));
    }
    snprintf(script, sizeof(script), "%s/deploy/standalone.sh", home);
    if (access(script, R_OK) != 0) {
        fprintf(stderr, "updraft: %s not found; set UPDRAFT_HOME to the updraft checkout\n",
                script);
        return 1;
    }
    char *args[64] = {"bash", script};
    int k = 2;
    for (int i = 1; i < argc && k < 63; i++)
        args[k++] = argv[i];
    args[k] = NULL;
    if (chdir(home) != 0) {
        perror("updraft: chdir");
        return 1;
    }
    execvp("bash", args);
    perror("updraft: exec bash");
    return 1;
}
