/*
 * cmd_jobs.c - `updraft jobs check`, as Airflow's `airflow jobs check`:
 * exits 0 when a live job of the kind exists (running, heartbeat within
 * the threshold), 1 otherwise. Meant for liveness probes and monitoring:
 *
 *   updraft jobs check --job-type SchedulerJob --hostname "$(hostname)"
 *   updraft jobs check --job-type worker --limit 3   # at least... see below
 *
 * --limit N: how many live jobs to look at (default 1); with
 * --allow-multiple more than one live job is fine, otherwise finding
 * several is an error, as in Airflow.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "store/jobs.h"

static void usage(FILE *f)
{
    fputs("usage: updraft jobs check [--job-type SchedulerJob|WorkerJob|scheduler|worker]\n"
          "                          [--hostname HOST] [--local] [--limit N]\n"
          "                          [--allow-multiple]\n",
          f);
}

static const char *job_type(const char *s)
{
    if (!strcmp(s, "SchedulerJob") || !strcmp(s, "scheduler"))
        return "SchedulerJob";
    if (!strcmp(s, "WorkerJob") || !strcmp(s, "worker"))
        return "WorkerJob";
    if (!strcmp(s, "WebserverJob") || !strcmp(s, "webserver"))
        return "WebserverJob";
    return NULL;
}

static int cmd_check(db_t *db, const struct secrets_keyring *ring, int argc, char **argv)
{
    const char *type = NULL, *host = NULL, *v;
    int limit = 1;
    char local[256];
    bool multiple = false;
    (void)ring;
    for (int i = 1; i < argc; i++) {
        if (cli_opt_value(argc, argv, &i, NULL, "--job-type", &v)) {
            if (!(type = job_type(v))) {
                fprintf(stderr, "updraft: unknown job type '%s'\n", v);
                return 2;
            }
        } else if (cli_opt_value(argc, argv, &i, NULL, "--hostname", &v)) {
            host = v;
        } else if (cli_opt_value(argc, argv, &i, NULL, "--limit", &v)) {
            char *end;
            long n = strtol(v, &end, 10);
            if (!*v || *end || n < 1 || n > 100000) {
                fprintf(stderr, "updraft: --limit must be a positive integer\n");
                return 2;
            }
            limit = (int)n;
        } else if (!strcmp(argv[i], "--local")) {
            if (gethostname(local, sizeof(local)) != 0)
                local[0] = '\0';
            local[sizeof(local) - 1] = '\0';
            host = local;
        } else if (!strcmp(argv[i], "--allow-multiple")) {
            multiple = true;
        } else {
            return cli_usage_error(usage);
        }
    }
    long n = 0;
    int rc = jobs_count_alive(db, type, host, limit, &n);
    if (rc < 0) {
        fprintf(stderr, "updraft: %s\n", db_error(db));
        return cli_exit_status(rc);
    }
    if (n == 0) {
        printf("No alive jobs found.\n");
        return 1;
    }
    if (n > 1 && !multiple) {
        printf("Found %ld alive jobs. Expected only one.\n", n);
        return 1;
    }
    if (n == 1)
        printf("Found one alive job.\n");
    else
        printf("Found %ld alive jobs.\n", n);
    return 0;
}

int cli_jobs(const config_t *cfg, int argc, char **argv)
{
    static const cli_verb_t verbs[] = {{"check", cmd_check}};
    return cli_run_verb(cfg, "jobs", verbs, 1, usage, argc, argv);
}
