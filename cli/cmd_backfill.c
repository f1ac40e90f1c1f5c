/*
 * cmd_backfill.c - `updraft dags backfill` and `updraft dags state`.
 *
 * The backfill is executed by the running scheduler and workers; this
 * command only decides which runs the range needs (sched/backfill.h, with
 * the DAG's schedule and time zone from its latest serialized version),
 * starts them and follows them to the end. It starts a run only while the
 * DAG has fewer than max_active_runs live (queued or running) runs, as
 * Airflow 2's backfill job does, so a long range never floods the workers;
 * stopping the command (Ctrl-C) leaves the runs already started running
 * and starts no more.
 *
 * For a logical date that already has a run (of any type) the run is left
 * alone, or cleared entirely (--reset-dagruns, after a confirmation), or
 * only its failed task instances are cleared (--rerun-failed-tasks).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/pgarray.h"
#include "sched/backfill.h"
#include "sched/clear.h"
#include "model/cron.h"
#include "store/dagrun.h"
#include "core/timeutil.h"

#define POLL_MS 200
#define BAR_WIDTH 30

typedef enum action { ACT_CREATE = 0, ACT_RESET, ACT_RERUN_FAILED, ACT_SKIP } action_t;

typedef struct item {
    backfill_interval_t iv;
    action_t act;
    char run_id[DAGRUN_ID_MAX + 1]; /* the existing run's, or the one to create */
    char old_state[16];             /* the existing run's state */
    int64_t id;                     /* dag_run.id once started */
    bool started, done;
} item_t;

typedef struct opts {
    const char *dag_id;
    ts_us_t start, end;
    bool reset, rerun_failed, backwards, dry_run, yes;
} opts_t;

static int usage(void)
{
    fprintf(stderr, "usage: updraft dags backfill DAG_ID -s|--start-date DATE -e|--end-date DATE\n"
                    "         [--reset-dagruns] [--rerun-failed-tasks] [-B|--run-backwards]\n"
                    "         [--dry-run] [-y|--yes]\n");
    return 2;
}

static int parse_opts(int argc, char **argv, opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->start = o->end = TS_NONE;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        if ((!strcmp(a, "-s") || !strcmp(a, "--start-date")) && more) {
            if (ts_parse(argv[++i], &o->start) != 0) {
                fprintf(stderr, "updraft: invalid start date '%s'\n", argv[i]);
                return 2;
            }
        } else if ((!strcmp(a, "-e") || !strcmp(a, "--end-date")) && more) {
            if (ts_parse(argv[++i], &o->end) != 0) {
                fprintf(stderr, "updraft: invalid end date '%s'\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "--reset-dagruns")) {
            o->reset = true;
        } else if (!strcmp(a, "--rerun-failed-tasks")) {
            o->rerun_failed = true;
        } else if (!strcmp(a, "-B") || !strcmp(a, "--run-backwards")) {
            o->backwards = true;
        } else if (!strcmp(a, "--dry-run")) {
            o->dry_run = true;
        } else if (!strcmp(a, "-y") || !strcmp(a, "--yes")) {
            o->yes = true;
        } else if (a[0] != '-' && !o->dag_id) {
            o->dag_id = a;
        } else {
            return usage();
        }
    }
    if (!o->dag_id || o->start == TS_NONE || o->end == TS_NONE)
        return usage();
    return 0;
}

static const char *iso(ts_us_t t, char *buf)
{
    return t % TS_US_PER_SEC ? ts_format_iso(t, buf) : ts_format_iso_sec(t, buf);
}

/* The intervals of the range; -1 after printing why not. */
static int plan_intervals(db_t *db, const opts_t *o, backfill_interval_t **iv, size_t *n)
{
    const char *p[] = {o->dag_id};
    schedule_t sched;
    schedule_tz_t *tz = NULL;
    char err[256];
    int rc = -1;
    PGresult *r = db_query(db, NULL,
                           "SELECT v.data->>'schedule', v.data->>'timezone'"
                           " FROM dag d JOIN dag_version v ON v.id = d.version_id WHERE d.dag_id = $1",
                           1, p);
    if (!r) {
        fprintf(stderr, "updraft: %s\n", db_error(db));
        return -1;
    }
    if (PQntuples(r) == 0) {
        fprintf(stderr, "updraft: dag '%s' not found (or not parsed yet)\n", o->dag_id);
        goto out;
    }
    if (schedule_parse(db_get_str(r, 0, 0), &sched, err, sizeof(err)) < 0 ||
        schedule_tz_load(db_get_str(r, 0, 1), &tz, err, sizeof(err)) < 0 ||
        (sched.tz = tz, backfill_intervals(&sched, o->start, o->end, BACKFILL_MAX_RUNS, iv, n, err,
                                           sizeof(err)) < 0)) {
        fprintf(stderr, "updraft: dag '%s': %s\n", o->dag_id, err);
        goto out;
    }
    rc = 0;
out:
    schedule_tz_free(tz);
    PQclear(r);
    return rc;
}

/* Pairs each interval with the run that already has its logical date. */
static int match_existing(db_t *db, const opts_t *o, item_t *items, size_t n)
{
    char a[TS_ISO_LEN], b[TS_ISO_LEN];
    const char *p[] = {o->dag_id, ts_format_iso(items[0].iv.start, a),
                       ts_format_iso(items[n - 1].iv.start, b)};
    if (items[0].iv.start > items[n - 1].iv.start) {
        p[1] = b;
        p[2] = a;
    }
    PGresult *r = db_query(db, NULL,
                           "SELECT run_id, state, (extract(epoch FROM logical_date) * 1000000)::bigint"
                           " FROM dag_run WHERE dag_id = $1 AND logical_date >= $2::timestamptz"
                           " AND logical_date <= $3::timestamptz",
                           3, p);
    if (!r) {
        fprintf(stderr, "updraft: %s\n", db_error(db));
        return -1;
    }
    for (int row = 0; row < PQntuples(r); row++) {
        ts_us_t t = db_get_i64(r, row, 2);
        for (size_t i = 0; i < n; i++) {
            if (items[i].iv.start != t)
                continue;
            items[i].act = o->reset ? ACT_RESET : o->rerun_failed ? ACT_RERUN_FAILED : ACT_SKIP;
            snprintf(items[i].run_id, sizeof(items[i].run_id), "%s", PQgetvalue(r, row, 0));
            snprintf(items[i].old_state, sizeof(items[i].old_state), "%s", PQgetvalue(r, row, 1));
        }
    }
    PQclear(r);
    return 0;
}

/* Clears the existing run of it (all, or only failed); its id goes to it->id. */
static int clear_existing(db_t *db, const char *dag_id, item_t *it)
{
    clear_filter_t f = {.dag_id = dag_id, .start = TS_NONE, .end = TS_NONE,
                        .run_id = it->run_id, .only_failed = it->act == ACT_RERUN_FAILED};
    clear_list_t l = {0};
    char err[512];
    long cleared = 0;
    cli_run_t run;
    if (cli_find_run(db, dag_id, it->run_id, &run) != 1)
        return -1;
    it->id = run.id;
    if (clear_find(db, &f, &l, err, sizeof(err)) < 0 ||
        clear_apply(db, &l, &cleared, err, sizeof(err)) < 0) {
        fprintf(stderr, "updraft: run %s: %s\n", it->run_id, err);
        clear_list_free(&l);
        return -1;
    }
    clear_list_free(&l);
    return 0;
}

/* Starts one item. 1 started, 0 skipped (a run appeared meanwhile), -1 error. */
static int start_item(db_t *db, const char *dag_id, item_t *it)
{
    if (it->act != ACT_CREATE)
        return clear_existing(db, dag_id, it) < 0 ? -1 : 1;
    dagrun_spec_t spec = {.dag_id = dag_id, .run_id = NULL, .type = DAGRUN_BACKFILL,
                          .logical_date = it->iv.start, .interval_start = it->iv.start,
                          .interval_end = it->iv.end, .conf_json = NULL};
    char err[512];
    int rc = dagrun_create(db, &spec, &it->id, it->run_id, err, sizeof(err));
    if (rc == DAGRUN_ERR_CONFLICT) {
        fprintf(stderr, "updraft: skipping: %s\n", err);
        return 0;
    }
    if (rc < 0) {
        fprintf(stderr, "updraft: %s\n", err);
        return -1;
    }
    return 1;
}

/* Live runs of the DAG and its max_active_runs; -1 on error. */
static int live_runs(db_t *db, const char *dag_id, long *live, long *max)
{
    const char *p[] = {dag_id};
    PGresult *r = db_query(db, NULL,
                           "SELECT (SELECT count(*) FROM dag_run WHERE dag_id = $1"
                           "  AND state IN ('queued', 'running')), max_active_runs"
                           " FROM dag WHERE dag_id = $1",
                           1, p);
    if (!r || PQntuples(r) != 1) {
        fprintf(stderr, "updraft: %s\n", r ? "dag disappeared" : db_error(db));
        PQclear(r);
        return -1;
    }
    *live = (long)db_get_i64(r, 0, 0);
    *max = db_get_int(r, 0, 1);
    if (*max < 1)
        *max = 1;
    PQclear(r);
    return 0;
}

static const char *act_text(action_t a)
{
    switch (a) {
    case ACT_CREATE:
        return "create";
    case ACT_RESET:
        return "clear and re-run";
    case ACT_RERUN_FAILED:
        return "re-run failed tasks of";
    case ACT_SKIP:
        return "skip (exists)";
    }
    return "";
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int cli_dags_backfill(const config_t *cfg, int argc, char **argv)
{
    opts_t o;
    int rc = parse_opts(argc, argv, &o);
    if (rc != 0)
        return rc;
    db_t *db = cli_connect(cfg, true);
    if (!db)
        return 1;
    backfill_interval_t *iv = NULL;
    item_t *items = NULL;
    size_t n = 0, total = 0, done = 0, failed = 0, skipped = 0, resets = 0;
    char a[TS_ISO_LEN], b[TS_ISO_LEN];
    rc = 1;
    if (plan_intervals(db, &o, &iv, &n) < 0)
        goto out;
    if (n == 0) {
        fprintf(stderr, "updraft: no runs: the schedule has no logical date between %s and %s\n",
                iso(o.start, a), iso(o.end, b));
        rc = 0;
        goto out;
    }
    items = calloc(n, sizeof(*items));
    if (!items) {
        fprintf(stderr, "updraft: out of memory\n");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        items[i].iv = o.backwards ? iv[n - 1 - i] : iv[i];
        dagrun_make_run_id(DAGRUN_BACKFILL, items[i].iv.start, items[i].run_id,
                           sizeof(items[i].run_id));
    }
    if (match_existing(db, &o, items, n) < 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        skipped += items[i].act == ACT_SKIP;
        resets += items[i].act == ACT_RESET;
    }
    total = n - skipped;

    if (o.dry_run) {
        for (size_t i = 0; i < n; i++)
            printf("%s %s (logical date %s, data interval [%s, %s))%s%s\n", act_text(items[i].act),
                   items[i].run_id, iso(items[i].iv.start, a), iso(items[i].iv.start, a),
                   iso(items[i].iv.end, b), items[i].act == ACT_CREATE ? "" : ", state ",
                   items[i].act == ACT_CREATE ? "" : items[i].old_state);
        printf("Dry run: %zu run%s to start, %zu existing skipped; nothing was changed\n", total,
               total == 1 ? "" : "s", skipped);
        rc = 0;
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (items[i].act == ACT_SKIP)
            printf("%s exists (state %s): skipped\n", items[i].run_id, items[i].old_state);
    if (resets > 0) {
        printf("--reset-dagruns clears every task instance of these %zu existing run%s:\n", resets,
               resets == 1 ? "" : "s");
        for (size_t i = 0; i < n; i++)
            if (items[i].act == ACT_RESET)
                printf("  %s [%s]\n", items[i].run_id, items[i].old_state);
        int ok = cli_confirm("Are you sure?", o.yes);
        if (ok <= 0) {
            rc = ok < 0 ? 2 : 1;
            goto out;
        }
    }
    if (total == 0) {
        printf("Nothing to run: every logical date in the range has a run\n");
        rc = 0;
        goto out;
    }
    cli_warn_no_scheduler(db);
    bool tty = isatty(STDOUT_FILENO);
    printf("Backfilling %s: %zu run%s from %s to %s\n", o.dag_id, total, total == 1 ? "" : "s",
           iso(items[0].iv.start, a), iso(items[n - 1].iv.start, b));
    fflush(stdout);

    int64_t t0 = ts_mono_us();
    size_t next = 0, started = 0;
    int64_t *ids = calloc(n, sizeof(*ids));
    item_t **by_slot = calloc(n, sizeof(*by_slot));
    if (!ids || !by_slot) {
        free(ids);
        free(by_slot);
        fprintf(stderr, "updraft: out of memory\n");
        goto out;
    }
    char line[512];
    bool error = false;
    while (done < total && !error) {
        /* Start what max_active_runs allows. */
        long live, max;
        if (live_runs(db, o.dag_id, &live, &max) < 0) {
            error = true;
            break;
        }
        while (next < n && live < max) {
            item_t *it = &items[next++];
            if (it->act == ACT_SKIP)
                continue;
            int s = start_item(db, o.dag_id, it);
            if (s < 0) {
                error = true;
                break;
            }
            if (s == 0) {
                total--;
                continue;
            }
            it->started = true;
            ids[started] = it->id;
            by_slot[started++] = it;
            live++;
        }
        if (error)
            break;
        /* Follow the started ones. */
        if (started > 0) {
            char *arr = pgarray_int64(ids, started);
            const char *p[] = {arr};
            PGresult *r = arr ? db_query(db, NULL,
                                         "SELECT id, state FROM dag_run WHERE id = ANY($1::bigint[])",
                                         1, p)
                              : NULL;
            free(arr);
            if (!r) {
                fprintf(stderr, "updraft: %s\n", db_error(db));
                error = true;
                break;
            }
            for (int row = 0; row < PQntuples(r); row++) {
                int64_t id = db_get_i64(r, row, 0);
                const char *st = PQgetvalue(r, row, 1);
                if (strcmp(st, "success") != 0 && strcmp(st, "failed") != 0)
                    continue;
                for (size_t k = 0; k < started; k++) {
                    item_t *it = by_slot[k];
                    if (it->id != id || it->done)
                        continue;
                    it->done = true;
                    done++;
                    failed += !strcmp(st, "failed");
                    if (!tty) {
                        printf("%s %s (%zu/%zu done, %zu failed)\n", it->run_id, st, done, total,
                               failed);
                        fflush(stdout);
                    } else if (!strcmp(st, "failed")) {
                        printf("\r\033[K%s failed\n", it->run_id);
                    }
                }
            }
            PQclear(r);
        }
        if (tty) {
            printf("\r\033[K%s", backfill_format_progress(line, sizeof(line), done, total, failed,
                                                          ts_mono_us() - t0, BAR_WIDTH));
            fflush(stdout);
        }
        if (done < total)
            sleep_ms(POLL_MS);
    }
    if (tty)
        putchar('\n');
    free(ids);
    free(by_slot);
    if (error)
        goto out;
    printf("Backfill of %s done: %zu run%s, %zu succeeded, %zu failed\n", o.dag_id, total,
           total == 1 ? "" : "s", total - failed, failed);
    rc = failed ? 1 : 0;
out:
    free(items);
    free(iv);
    db_close(db);
    return rc;
}

/* `dags state DAG_ID RUN_ID_OR_DATE`: the state (and conf when not empty), as Airflow 2. */
int cli_dags_state(const config_t *cfg, int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: updraft dags state DAG_ID RUN_ID_OR_LOGICAL_DATE\n");
        return 2;
    }
    db_t *db = cli_connect(cfg, true);
    if (!db)
        return 1;
    cli_run_t run;
    int found = cli_find_run(db, argv[0], argv[1], &run);
    int rc = found < 0 ? 1 : 0;
    if (found == 0)
        printf("None\n");
    if (found == 1) {
        char idbuf[24];
        snprintf(idbuf, sizeof(idbuf), "%" PRId64, run.id);
        const char *p[] = {idbuf};
        PGresult *r = db_query(db, NULL,
                               "SELECT CASE WHEN conf = '{}'::jsonb THEN NULL ELSE conf::text END"
                               " FROM dag_run WHERE id = $1::bigint",
                               1, p);
        const char *conf = r && PQntuples(r) ? db_get_str(r, 0, 0) : NULL;
        printf("%s%s%s\n", run.state, conf ? ", " : "", conf ? conf : "");
        PQclear(r);
    }
    db_close(db);
    return rc;
}
