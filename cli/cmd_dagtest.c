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
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "store/dagrun.h"
#include "core/timeutil.h"

#define POLL_MS 100

typedef struct seen {
    int64_t id;
    char task_id[256];
    char state[24];
    int try_number;
    int logged_try; /* last try whose log was printed */
} seen_t;

static bool try_ended(const char *state)
{
    return !strcmp(state, "success") || !strcmp(state, "failed") ||
           !strcmp(state, "up_for_retry") || !strcmp(state, "up_for_reschedule") ||
           !strcmp(state, "skipped");
}

static void print_log(db_t *db, const seen_t *s)
{
    char idbuf[24], trybuf[16];
    snprintf(idbuf, sizeof(idbuf), "%" PRId64, s->id);
    snprintf(trybuf, sizeof(trybuf), "%d", s->try_number);
    const char *p[] = {idbuf, trybuf};
    PGresult *r = db_query(db, NULL,
                           "SELECT data FROM task_log WHERE ti_id = $1::bigint"
                           " AND try_number = $2::integer ORDER BY id",
                           2, p);
    if (!r)
        return;
    printf("--- log of %s, try %d ---\n", s->task_id, s->try_number);
    for (int i = 0; i < PQntuples(r); i++) {
        const char *d = PQgetvalue(r, i, 0);
        size_t len = strlen(d);
        fputs(d, stdout);
        if (len && d[len - 1] != '\n')
            putchar('\n');
    }
    printf("--- end of log of %s, try %d ---\n", s->task_id, s->try_number);
    PQclear(r);
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
    size_t nseen = 0;
    PGresult *r = NULL;
    int rc = 1;
    char ld[TS_ISO_LEN], err[512], rid[DAGRUN_ID_MAX + 1], idbuf[24], ts[16];

    /* As Airflow's dags test: a run already at this logical date is replaced. */
    const char *pd[] = {dag_id, ts_format_iso(logical, ld)};
    long del = db_exec(db, NULL, "DELETE FROM dag_run WHERE dag_id = $1 AND logical_date = $2", 2,
                       pd);
    if (del < 0) {
        fprintf(stderr, "updraft: %s\n", db_error(db));
        goto out;
    }
    if (del > 0)
        fprintf(stderr, "[INFO] deleted the existing dag run at %s\n", ld);
    dagrun_spec_t spec = {.dag_id = dag_id, .run_id = NULL, .type = DAGRUN_MANUAL,
                          .logical_date = logical, .interval_start = TS_NONE,
                          .interval_end = TS_NONE, .conf_json = NULL};
    int64_t run;
    if (dagrun_create(db, &spec, &run, rid, err, sizeof(err)) != 0) {
        fprintf(stderr, "updraft: %s\n", err);
        goto out;
    }
    cli_warn_no_scheduler(db);
    printf("Created dag run %s of %s\n", rid, dag_id);
    fflush(stdout);
    snprintf(idbuf, sizeof(idbuf), "%" PRId64, run);
    const char *p[] = {idbuf};
    for (;;) {
        /* The run's state first: a final state then means its tasks are final too. */
        r = db_query(db, NULL,
                     "SELECT (SELECT state FROM dag_run WHERE id = $1::bigint),"
                     " ti.id, ti.task_id, ti.state, ti.try_number FROM task_instance ti"
                     " WHERE ti.dag_run_id = $1::bigint AND ti.map_index = -1"
                     " ORDER BY coalesce(ti.start_date, ti.end_date, 'infinity'), ti.id",
                     1, p);
        if (!r) {
            fprintf(stderr, "updraft: %s\n", db_error(db));
            goto out;
        }
        int n = PQntuples(r);
        if (!seen) {
            seen = calloc((size_t)n + 1, sizeof(*seen));
            if (!seen) {
                fprintf(stderr, "updraft: out of memory\n");
                goto out;
            }
            nseen = (size_t)n;
            for (int i = 0; i < n; i++) {
                seen[i].id = db_get_i64(r, i, 1);
                snprintf(seen[i].task_id, sizeof(seen[i].task_id), "%s", PQgetvalue(r, i, 2));
                snprintf(seen[i].state, sizeof(seen[i].state), "none");
            }
        }
        const char *run_state = n > 0 ? db_get_str(r, 0, 0) : NULL;
        for (int i = 0; i < n; i++) {
            seen_t *s = find_seen(seen, nseen, db_get_i64(r, i, 1));
            if (!s)
                continue;
            const char *st = PQgetvalue(r, i, 3);
            int try_number = db_get_int(r, i, 4);
            if (strcmp(st, s->state) != 0 || try_number != s->try_number) {
                stamp(ts, sizeof(ts));
                printf("[%s] %s: %s -> %s (try %d)\n", ts, s->task_id, s->state, st, try_number);
                snprintf(s->state, sizeof(s->state), "%s", st);
                s->try_number = try_number;
            }
            if (try_ended(st) && s->try_number > 0 && s->logged_try != s->try_number) {
                print_log(db, s);
                s->logged_try = s->try_number;
            }
        }
        if (n == 0) {
            PQclear(r);
            const char *pr[] = {idbuf};
            r = db_query(db, NULL, "SELECT state FROM dag_run WHERE id = $1::bigint", 1, pr);
            run_state = r && PQntuples(r) ? db_get_str(r, 0, 0) : NULL;
        }
        fflush(stdout);
        bool success = run_state && !strcmp(run_state, "success");
        bool failed = run_state && !strcmp(run_state, "failed");
        if (!r || (!run_state && n == 0)) {
            fprintf(stderr, "updraft: dag run %s disappeared\n", rid);
            goto out;
        }
        if (success || failed) {
            printf("Dag run %s finished: %s\n", rid, run_state);
            rc = success ? 0 : 1;
            goto out;
        }
        PQclear(r);
        r = NULL;
        struct timespec pause = {.tv_sec = 0, .tv_nsec = POLL_MS * 1000000L};
        nanosleep(&pause, NULL);
    }
out:
    PQclear(r);
    free(seen);
    db_close(db);
    return rc;
}
