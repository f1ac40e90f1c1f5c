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
#include "sched/backfill.h"
#include "sched/clear.h"
#include "model/cron.h"
#include "store/dagrun.h"
#include "store/dags.h"
#include "core/timeutil.h"

#define POLL_MS 200
#define BAR_WIDTH 30

typedef enum action { ACT_CREATE = 0, ACT_RESET, ACT_RERUN_FAILED, ACT_SKIP } action_t;

typedef struct item {
    backfill_interval_t iv;
    action_t act;
    char run_id[DAGRUN_ID_MAX + 1];   /* the existing run's, or the one to create */
    char old_state[DAGRUN_STATE_MAX]; /* the existing run's state */
    int64_t id;                       /* dag_run.id once started */
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
    dags_parsed_schedule_t ds;
    schedule_t sched;
    schedule_tz_t *tz = NULL;
    char err[512];
    int rc = dags_get_parsed_schedule(db, o->dag_id, &ds, err, sizeof(err));

    if (rc == UPDRAFT_ENOTFOUND) {
        fprintf(stderr, "updraft: dag '%s' not found (or not parsed yet)\n", o->dag_id);
        return -1;
    }
    if (rc < 0) {
        fprintf(stderr, "updraft: %s\n", err);
        return -1;
    }
    rc = -1;
    if (schedule_parse(ds.schedule, &sched, err, sizeof(err)) < 0 ||
        schedule_tz_load(ds.timezone, &tz, err, sizeof(err)) < 0 ||
        (sched.tz = tz, backfill_intervals(&sched, o->start, o->end, BACKFILL_MAX_RUNS, iv, n, err,
                                           sizeof(err)) < 0)) {
        fprintf(stderr, "updraft: dag '%s': %s\n", o->dag_id, err);
        goto out;
    }
    rc = 0;
out:
    schedule_tz_free(tz);
    dags_parsed_schedule_free(&ds);
    return rc;
}

/* Pairs each interval with the run that already has its logical date. */
static int match_existing(db_t *db, const opts_t *o, item_t *items, size_t n)
{
    ts_us_t from = items[0].iv.start, to = items[n - 1].iv.start;
    dagrun_ref_t *runs = NULL;
    size_t nruns = 0;
    char err[512];
    int rc = dagrun_list_in_range(db, o->dag_id, from < to ? from : to, from < to ? to : from,
                                  &runs, &nruns, err, sizeof(err));

    if (rc < 0) {
        fprintf(stderr, "updraft: %s\n", err);
        return -1;
    }
    for (size_t r = 0; r < nruns; r++) {
        for (size_t i = 0; i < n; i++) {
            if (items[i].iv.start != runs[r].logical_date)
                continue;
            items[i].act = o->reset ? ACT_RESET : o->rerun_failed ? ACT_RERUN_FAILED : ACT_SKIP;
            snprintf(items[i].run_id, sizeof(items[i].run_id), "%s", runs[r].run_id);
            snprintf(items[i].old_state, sizeof(items[i].old_state), "%s", runs[r].state);
        }
    }
    free(runs);
    return 0;
}

/* Clears the existing run of it (all, or only failed); its id goes to it->id. */
static int clear_existing(db_t *db, const char *dag_id, item_t *it)
{
    clear_filter_t f = {.dag_id = dag_id,
                        .start = TS_NONE,
                        .end = TS_NONE,
                        .run_id = it->run_id,
                        .only_failed = it->act == ACT_RERUN_FAILED};
    clear_list_t l = {0};
    char err[512];
    long cleared = 0;
    dagrun_ref_t run;
    if (cli_find_run(db, dag_id, it->run_id, &run) != 0)
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
    dagrun_spec_t spec = {.dag_id = dag_id,
                          .run_id = NULL,
                          .type = DAGRUN_BACKFILL,
                          .logical_date = it->iv.start,
                          .interval_start = it->iv.start,
                          .interval_end = it->iv.end,
                          .conf_json = NULL};
    char err[512];
    int rc = dagrun_create(db, &spec, &it->id, it->run_id, err, sizeof(err));
    if (rc == UPDRAFT_EEXISTS) {
        fprintf(stderr, "updraft: skipping: %s\n", err);
        return 0;
    }
    if (rc < 0) {
        fprintf(stderr, "updraft: %s\n", err);
        return -1;
    }
    return 1;
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

/* The plan: one item per interval (in the order they run), with their existing runs. */
typedef struct plan {
    item_t *items;
    size_t n;
    size_t total;   /* runs to start */
    size_t skipped; /* existing runs left alone */
    size_t resets;  /* existing runs to clear entirely */
} plan_t;

/* Plans the range into p; 0, 1 when the schedule has no date in it (printed), -1 on error. */
static int plan_range(db_t *db, const opts_t *o, plan_t *p)
{
    backfill_interval_t *iv = NULL;
    size_t n = 0;
    char a[TS_ISO_LEN], b[TS_ISO_LEN];
    int rc = -1;

    memset(p, 0, sizeof(*p));
    if (plan_intervals(db, o, &iv, &n) < 0)
        return -1;
    if (n == 0) {
        fprintf(stderr, "updraft: no runs: the schedule has no logical date between %s and %s\n",
                iso(o->start, a), iso(o->end, b));
        free(iv);
        return 1;
    }
    p->items = calloc(n, sizeof(*p->items));
    if (!p->items) {
        fprintf(stderr, "updraft: out of memory\n");
        goto out;
    }
    p->n = n;
    for (size_t i = 0; i < n; i++) {
        item_t *it = &p->items[i];
        it->iv = o->backwards ? iv[n - 1 - i] : iv[i];
        dagrun_make_run_id(DAGRUN_BACKFILL, it->iv.start, it->run_id, sizeof(it->run_id));
    }
    if (match_existing(db, o, p->items, n) < 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        p->skipped += p->items[i].act == ACT_SKIP;
        p->resets += p->items[i].act == ACT_RESET;
    }
    p->total = n - p->skipped;
    rc = 0;
out:
    free(iv);
    return rc;
}

/* --dry-run: what would be done, and nothing done. */
static void print_dry_run(const plan_t *p)
{
    char a[TS_ISO_LEN], b[TS_ISO_LEN];

    for (size_t i = 0; i < p->n; i++) {
        const item_t *it = &p->items[i];
        printf("%s %s (logical date %s, data interval [%s, %s))%s%s\n", act_text(it->act),
               it->run_id, iso(it->iv.start, a), iso(it->iv.start, a), iso(it->iv.end, b),
               it->act == ACT_CREATE ? "" : ", state ", it->act == ACT_CREATE ? "" : it->old_state);
    }
    printf("Dry run: %zu run%s to start, %zu existing skipped; nothing was changed\n", p->total,
           p->total == 1 ? "" : "s", p->skipped);
}

/*
 * Reports the existing runs left alone and asks before --reset-dagruns
 * clears any. 0 to go on, else the exit status.
 */
static int confirm_plan(const plan_t *p, bool yes)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->items[i].act == ACT_SKIP)
            printf("%s exists (state %s): skipped\n", p->items[i].run_id, p->items[i].old_state);
    if (p->resets == 0)
        return 0;
    printf("--reset-dagruns clears every task instance of these %zu existing run%s:\n", p->resets,
           p->resets == 1 ? "" : "s");
    for (size_t i = 0; i < p->n; i++)
        if (p->items[i].act == ACT_RESET)
            printf("  %s [%s]\n", p->items[i].run_id, p->items[i].old_state);
    int ok = cli_confirm("Are you sure?", yes);
    return ok > 0 ? 0 : ok < 0 ? 2 : 1;
}

/* The runs being followed: the started items, by slot. */
typedef struct follow {
    size_t next;    /* the next item to start */
    size_t started; /* items started, in ids[] and by_slot[] */
    size_t done, failed;
    int64_t *ids;
    item_t **by_slot;
    bool tty;
} follow_t;

/* Starts what max_active_runs allows. 0, or -1 on error (printed). */
static int start_allowed(db_t *db, const char *dag_id, plan_t *p, follow_t *f)
{
    long live, max;
    char err[512];
    int rc = dagrun_live_count(db, dag_id, &live, &max, err, sizeof(err));

    if (rc < 0) {
        fprintf(stderr, "updraft: %s\n", rc == UPDRAFT_ENOTFOUND ? "dag disappeared" : err);
        return -1;
    }
    while (f->next < p->n && live < max) {
        item_t *it = &p->items[f->next++];
        if (it->act == ACT_SKIP)
            continue;
        int s = start_item(db, dag_id, it);
        if (s < 0)
            return -1;
        if (s == 0) {
            p->total--;
            continue;
        }
        it->started = true;
        f->ids[f->started] = it->id;
        f->by_slot[f->started++] = it;
        live++;
    }
    return 0;
}

/* Marks the started runs that ended, printing each. 0, or -1 on error (printed). */
static int follow_started(db_t *db, const plan_t *p, follow_t *f)
{
    dagrun_ref_t *runs = NULL;
    size_t n = 0;
    char err[512];

    if (f->started == 0)
        return 0;
    if (dagrun_states(db, f->ids, f->started, &runs, &n, err, sizeof(err)) < 0) {
        fprintf(stderr, "updraft: %s\n", err);
        return -1;
    }
    for (size_t r = 0; r < n; r++) {
        const char *st = runs[r].state;
        if (strcmp(st, "success") != 0 && strcmp(st, "failed") != 0)
            continue;
        for (size_t k = 0; k < f->started; k++) {
            item_t *it = f->by_slot[k];
            if (it->id != runs[r].id || it->done)
                continue;
            it->done = true;
            f->done++;
            f->failed += !strcmp(st, "failed");
            if (!f->tty) {
                printf("%s %s (%zu/%zu done, %zu failed)\n", it->run_id, st, f->done, p->total,
                       f->failed);
                fflush(stdout);
            } else if (!strcmp(st, "failed")) {
                printf("\r\033[K%s failed\n", it->run_id);
            }
        }
    }
    free(runs);
    return 0;
}

/*
 * Starts the plan's runs within max_active_runs and follows them to the
 * end, with a progress bar on a terminal. The exit status.
 */
static int run_plan(db_t *db, const opts_t *o, plan_t *p)
{
    follow_t f = {.tty = isatty(STDOUT_FILENO)};
    char a[TS_ISO_LEN], b[TS_ISO_LEN], line[512];
    int64_t t0;
    bool error = false;

    cli_warn_no_scheduler(db);
    printf("Backfilling %s: %zu run%s from %s to %s\n", o->dag_id, p->total,
           p->total == 1 ? "" : "s", iso(p->items[0].iv.start, a),
           iso(p->items[p->n - 1].iv.start, b));
    fflush(stdout);
    t0 = ts_mono_us();
    f.ids = calloc(p->n, sizeof(*f.ids));
    f.by_slot = calloc(p->n, sizeof(*f.by_slot));
    if (!f.ids || !f.by_slot) {
        free(f.ids);
        free(f.by_slot);
        fprintf(stderr, "updraft: out of memory\n");
        return 1;
    }
    while (f.done < p->total && !error) {
        error = start_allowed(db, o->dag_id, p, &f) < 0 || follow_started(db, p, &f) < 0;
        if (error)
            break;
        if (f.tty) {
            printf("\r\033[K%s", backfill_format_progress(line, sizeof(line), f.done, p->total,
                                                          f.failed, ts_mono_us() - t0, BAR_WIDTH));
            fflush(stdout);
        }
        if (f.done < p->total)
            sleep_ms(POLL_MS);
    }
    if (f.tty)
        putchar('\n');
    free(f.ids);
    free(f.by_slot);
    if (error)
        return 1;
    printf("Backfill of %s done: %zu run%s, %zu succeeded, %zu failed\n", o->dag_id, p->total,
           p->total == 1 ? "" : "s", p->total - f.failed, f.failed);
    return f.failed ? 1 : 0;
}

int cli_dags_backfill(const config_t *cfg, int argc, char **argv)
{
    opts_t o;
    plan_t p = {0};
    int rc = parse_opts(argc, argv, &o);
    if (rc != 0)
        return rc;
    db_t *db = cli_connect(cfg, true);
    if (!db)
        return 1;
    rc = plan_range(db, &o, &p);
    if (rc != 0) {
        rc = rc > 0 ? 0 : 1;
        goto out;
    }
    if (o.dry_run) {
        print_dry_run(&p);
        goto out;
    }
    if ((rc = confirm_plan(&p, o.yes)) != 0)
        goto out;
    if (p.total == 0) {
        printf("Nothing to run: every logical date in the range has a run\n");
        goto out;
    }
    rc = run_plan(db, &o, &p);
out:
    free(p.items);
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
    dagrun_ref_t run;
    int found = cli_find_run(db, argv[0], argv[1], &run);
    int rc = found < 0 && found != UPDRAFT_ENOTFOUND ? 1 : 0;
    if (found == UPDRAFT_ENOTFOUND)
        printf("None\n");
    if (found == 0) {
        char *conf = NULL, err[512];
        dagrun_get_conf(db, run.id, &conf, err, sizeof(err));
        printf("%s%s%s\n", run.state, conf ? ", " : "", conf ? conf : "");
        free(conf);
    }
    db_close(db);
    return rc;
}
