/*
 * cmd_dagtest.c - `updraft dags test DAG_ID [LOGICAL_DATE]`: one DAG run in
 * the foreground, the way Airflow users debug a DAG.
 *
 * Unlike Airflow 2's dag.test(), which runs the tasks inside the CLI
 * process, the run is executed by the configured scheduler and workers
 * (workers need no DAG files here, and a test then exercises the real
 * path). This command creates a manual run (run id manual__<date>; an
 * existing run with that logical date is deleted first, as Airflow's
 * dags test does), prints every task state change it observes (polling,
 * so a change faster than the poll shows as one step) and the log of
 * every try that ends, and exits 0 when the run succeeds, 1 when it fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "store/dagrun.h"
#include "store/tasklog.h"
#include "store/ti_admin.h"
#include "core/timeutil.h"

#define POLL_MS 100

typedef struct seen {
    int64_t id;
    char task_id[256];
    char state[DAGRUN_STATE_MAX];
    int try_number;
    int logged_try; /* last try whose log was printed */
} seen_t;

static bool try_ended(const char *state)
{
    return !strcmp(state, "success") || !strcmp(state, "failed") ||
           !strcmp(state, "up_for_retry") || !strcmp(state, "up_for_reschedule") ||
           !strcmp(state, "skipped");
}

/* A try's log being printed: the header goes out with the first chunk. */
typedef struct log_print {
    const seen_t *s;
    bool header;
} log_print_t;

static void print_header(log_print_t *lp)
{
    if (!lp->header)
        printf("--- log of %s, try %d ---\n", lp->s->task_id, lp->s->try_number);
    lp->header = true;
}

static void print_chunk(const char *d, void *ud)
{
    size_t len = strlen(d);

    print_header(ud);
    fputs(d, stdout);
    if (len && d[len - 1] != '\n')
        putchar('\n');
}

static void print_log(db_t *db, const seen_t *s)
{
    log_print_t lp = {s, false};

    if (tasklog_each(db, s->id, s->try_number, print_chunk, &lp) < 0)
        return;
    print_header(&lp);
    printf("--- end of log of %s, try %d ---\n", s->task_id, s->try_number);
}

static seen_t *find_seen(seen_t *seen, size_t n, int64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (seen[i].id == id)
            return &seen[i];
    return NULL;
}

static void stamp(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%H:%M:%S", &tm);
}

/*
 * Prints what changed since the last poll among tis (the log of every try
 * that ended included); the first poll learns the task instances.
 * 0, or -1 on OOM (printed).
 */
static int report_changes(db_t *db, const ti_admin_row_t *tis, size_t n, seen_t **seen,
                          size_t *nseen)
{
    char ts[16];

    if (!*seen) {
        *seen = calloc(n + 1, sizeof(**seen));
        if (!*seen) {
            fprintf(stderr, "updraft: out of memory\n");
            return -1;
        }
        *nseen = n;
        for (size_t i = 0; i < n; i++) {
            (*seen)[i].id = tis[i].id;
            snprintf((*seen)[i].task_id, sizeof((*seen)[i].task_id), "%s", tis[i].task_id);
            snprintf((*seen)[i].state, sizeof((*seen)[i].state), "none");
        }
    }
    for (size_t i = 0; i < n; i++) {
        seen_t *s = find_seen(*seen, *nseen, tis[i].id);
        if (!s)
            continue;
        const char *st = tis[i].state;
        if (strcmp(st, s->state) != 0 || tis[i].try_number != s->try_number) {
            stamp(ts, sizeof(ts));
            printf("[%s] %s: %s -> %s (try %d)\n", ts, s->task_id, s->state, st, tis[i].try_number);
            snprintf(s->state, sizeof(s->state), "%s", st);
            s->try_number = tis[i].try_number;
        }
        if (try_ended(st) && s->try_number > 0 && s->logged_try != s->try_number) {
            print_log(db, s);
            s->logged_try = s->try_number;
        }
    }
    return 0;
}

/* Creates the run (replacing one at the same logical date, as Airflow's dags test). 0 or -1. */
static int start_run(db_t *db, const char *dag_id, ts_us_t logical, int64_t *run, char *rid)
{
    char ld[TS_ISO_LEN], err[512];
    long del;

    if (dagrun_delete_at(db, dag_id, logical, &del, err, sizeof(err)) < 0) {
        fprintf(stderr, "updraft: %s\n", err);
        return -1;
    }
    if (del > 0)
        fprintf(stderr, "[INFO] deleted the existing dag run at %s\n", ts_format_iso(logical, ld));
    dagrun_spec_t spec = {.dag_id = dag_id,
                          .run_id = NULL,
                          .type = DAGRUN_MANUAL,
                          .logical_date = logical,
                          .interval_start = TS_NONE,
                          .interval_end = TS_NONE,
                          .conf_json = NULL};
    if (dagrun_create(db, &spec, run, rid, err, sizeof(err)) != 0) {
        fprintf(stderr, "updraft: %s\n", err);
        return -1;
    }
    return 0;
}

int cli_dags_test(const config_t *cfg, int argc, char **argv)
{
    if (argc < 1 || argc > 2 || argv[0][0] == '-') {
        fprintf(stderr, "usage: updraft dags test DAG_ID [LOGICAL_DATE]\n");
        return 2;
    }
    const char *dag_id = argv[0];
    ts_us_t logical = ts_now();
    if (argc == 2 && ts_parse(argv[1], &logical) != 0) {
        fprintf(stderr, "updraft: invalid logical date '%s' (expected ISO 8601)\n", argv[1]);
        return 2;
    }
    db_t *db = cli_connect(cfg, true);
    if (!db)
        return 1;
    seen_t *seen = NULL;
    ti_admin_row_t *tis = NULL;
    size_t nseen = 0, n = 0;
    int rc = 1;
    int64_t run;
    char err[512], rid[DAGRUN_ID_MAX + 1], run_state[DAGRUN_STATE_MAX];

    if (start_run(db, dag_id, logical, &run, rid) < 0)
        goto out;
    cli_warn_no_scheduler(db);
    printf("Created dag run %s of %s\n", rid, dag_id);
    fflush(stdout);
    for (;;) {
        /* The run's state is read with its tasks: a final state means final tasks. */
        if (ti_admin_list_run(db, run, run_state, &tis, &n, err, sizeof(err)) < 0) {
            fprintf(stderr, "updraft: %s\n", err);
            goto out;
        }
        if (report_changes(db, tis, n, &seen, &nseen) < 0)
            goto out;
        fflush(stdout);
        if (!run_state[0]) {
            fprintf(stderr, "updraft: dag run %s disappeared\n", rid);
            goto out;
        }
        bool success = !strcmp(run_state, "success"), failed = !strcmp(run_state, "failed");
        if (success || failed) {
            printf("Dag run %s finished: %s\n", rid, run_state);
            rc = success ? 0 : 1;
            goto out;
        }
        free(tis);
        tis = NULL;
        struct timespec pause = {.tv_sec = 0, .tv_nsec = POLL_MS * 1000000L};
        nanosleep(&pause, NULL);
    }
out:
    free(tis);
    free(seen);
    db_close(db);
    return rc;
}
