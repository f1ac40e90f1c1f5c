/*
 * cmd_backfill.c - `updraft dags backfill` and `updraft dags state`.
 *
 * A backfill is stored (sched/backfill.h, store/backfill.h) and driven by
 * the running scheduler, as one started from the UI or the REST API v2:
 * this command plans the range (the DAG's schedule and time zone from its
 * latest serialized version), stores the backfill, then only follows its
 * progress to the end. The scheduler starts its runs while fewer than
 * max_active_runs (the DAG's) are live, so a long range never floods the
 * workers. Stopping the command (Ctrl-C) stops the following only: the
 * backfill goes on, and is paused or cancelled through the API or the UI.
 *
 * For a logical date that already has a run (of any type) the run is left
 * alone, or cleared entirely when finished (--reset-dagruns, after a
 * confirmation: reprocess behaviour "completed"), or only the failed task
 * instances of a failed run are cleared (--rerun-failed-tasks). A run
 * still queued or running is left alone ("in flight").
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "sched/backfill.h"
#include "store/backfill.h"
#include "store/dagrun.h"
#include "core/timeutil.h"

#define POLL_MS 200
#define BAR_WIDTH 30

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

static const char *act_text(const backfill_item_t *it)
{
    switch (it->act) {
    case BACKFILL_CREATE:
        return "create";
    case BACKFILL_CLEAR:
        return "clear and re-run";
    case BACKFILL_CLEAR_FAILED:
        return "re-run failed tasks of";
    case BACKFILL_SKIP:
        break;
    }
    return it->reason && !strcmp(it->reason, BACKFILL_REASON_IN_FLIGHT) ? "skip (in flight)"
                                                                        : "skip (exists)";
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The plan: one item per interval, in the order the runs start. */
typedef struct plan {
    backfill_item_t *items;
    size_t n;
    size_t total;   /* runs to start */
    size_t skipped; /* existing runs left alone */
    size_t resets;  /* existing runs to clear entirely */
} plan_t;

static void request_of(const opts_t *o, backfill_request_t *req)
{
    *req = (backfill_request_t){.dag_id = o->dag_id,
                                .from_date = o->start,
                                .to_date = o->end,
                                .conf_json = NULL,
                                .reprocess = o->reset          ? BACKFILL_REPROCESS_COMPLETED
                                             : o->rerun_failed ? BACKFILL_REPROCESS_FAILED
                                                               : BACKFILL_REPROCESS_NONE,
                                .only_failed_tis = !o->reset && o->rerun_failed,
                                .run_backwards = o->backwards,
                                .max_active_runs = 0};
}

static void count_plan(plan_t *p)
{
    p->skipped = p->resets = 0;
    for (size_t i = 0; i < p->n; i++) {
        p->skipped += p->items[i].act == BACKFILL_SKIP;
        p->resets += p->items[i].act == BACKFILL_CLEAR;
    }
    p->total = p->n - p->skipped;
}

/*
 * Plans (dry_run) or plans and stores the backfill (*id) into p. 0, 1
 * when the schedule has no date in the range (printed), -1 on error
 * (printed).
 */
static int plan_range(db_t *db, const opts_t *o, bool dry_run, plan_t *p, int64_t *id)
{
    backfill_request_t req;
    char err[768], a[TS_ISO_LEN], b[TS_ISO_LEN];

    request_of(o, &req);
    free(p->items);
    memset(p, 0, sizeof(*p));
    int rc = backfill_create(db, &req, dry_run, &p->items, &p->n, id, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "updraft: %s\n", err);
        return -1;
    }
    if (p->n == 0) {
        fprintf(stderr, "updraft: no runs: the schedule has no logical date between %s and %s\n",
                iso(o->start, a), iso(o->end, b));
        return 1;
    }
    count_plan(p);
    return 0;
}

/* --dry-run: what would be done, and nothing done. */
static void print_dry_run(const plan_t *p)
{
    char a[TS_ISO_LEN], b[TS_ISO_LEN];

    for (size_t i = 0; i < p->n; i++) {
        const backfill_item_t *it = &p->items[i];
        bool fresh = it->act == BACKFILL_CREATE;
        printf("%s %s (logical date %s, data interval [%s, %s))%s%s\n", act_text(it), it->run_id,
               iso(it->iv.start, a), iso(it->iv.start, a), iso(it->iv.end, b),
               fresh ? "" : ", state ", fresh ? "" : it->old_state);
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
        if (p->items[i].act == BACKFILL_SKIP)
            printf("%s exists (state %s): skipped\n", p->items[i].run_id, p->items[i].old_state);
    if (p->resets == 0)
        return 0;
    printf("--reset-dagruns clears every task instance of these %zu existing run%s:\n", p->resets,
           p->resets == 1 ? "" : "s");
    for (size_t i = 0; i < p->n; i++)
        if (p->items[i].act == BACKFILL_CLEAR)
            printf("  %s [%s]\n", p->items[i].run_id, p->items[i].old_state);
    int ok = cli_confirm("Are you sure?", yes);
    return ok > 0 ? 0 : ok < 0 ? 2 : 1;
}

/* What the following has seen: the runs already reported finished. */
typedef struct follow {
    int64_t *done_ids;
    size_t ndone;
    bool tty;
} follow_t;

static bool seen(const follow_t *f, int64_t id)
{
    for (size_t i = 0; i < f->ndone; i++)
        if (f->done_ids[i] == id)
            return true;
    return false;
}

/* Prints the runs that finished since the last look. -1 on error (printed). */
static int report_finished(db_t *db, int64_t id, const backfill_info_t *b, follow_t *f)
{
    dagrun_ref_t *runs = NULL;
    size_t n = 0;
    if (backfill_list_runs(db, id, &runs, &n) < 0) {
        fprintf(stderr, "updraft: database error: %s\n", db_error(db));
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const char *st = runs[i].state;
        if ((strcmp(st, "success") != 0 && strcmp(st, "failed") != 0) || seen(f, runs[i].id))
            continue;
        f->done_ids[f->ndone++] = runs[i].id;
        if (!f->tty) {
            printf("%s %s (%ld/%ld done, %ld failed)\n", runs[i].run_id, st, b->success + b->failed,
                   b->total - b->skipped, b->failed);
            fflush(stdout);
        } else if (!strcmp(st, "failed")) {
            printf("\r\033[K%s failed\n", runs[i].run_id);
        }
    }
    free(runs);
    return 0;
}

/*
 * Follows stored backfill id to its completion, with a progress bar on a
 * terminal. The exit status.
 */
static int follow_backfill(db_t *db, const opts_t *o, const plan_t *p, int64_t id)
{
    follow_t f = {.tty = isatty(STDOUT_FILENO)};
    char a[TS_ISO_LEN], b[TS_ISO_LEN], line[512];
    backfill_info_t *info = NULL;
    int64_t t0 = ts_mono_us();
    int rc = 1;

    cli_warn_no_scheduler(db);
    printf("Backfilling %s: %zu run%s from %s to %s (backfill %" PRId64 ")\n", o->dag_id, p->total,
           p->total == 1 ? "" : "s", iso(p->items[0].iv.start, a),
           iso(p->items[p->n - 1].iv.start, b), id);
    printf("The scheduler runs it: Ctrl-C stops following, the backfill goes on\n");
    fflush(stdout);
    f.done_ids = calloc(p->n + 1, sizeof(*f.done_ids));
    if (!f.done_ids) {
        fprintf(stderr, "updraft: out of memory\n");
        return 1;
    }
    for (;;) {
        backfill_info_free(info, 1);
        info = NULL;
        if (backfill_get(db, id, &info) < 0) {
            fprintf(stderr, "updraft: backfill %" PRId64 " cannot be read: %s\n", id, db_error(db));
            goto out;
        }
        if (report_finished(db, id, info, &f) < 0)
            goto out;
        long planned = info->total - info->skipped;
        if (f.tty) {
            printf("\r\033[K%s",
                   backfill_format_progress(line, sizeof(line),
                                            (size_t)(info->success + info->failed), (size_t)planned,
                                            (size_t)info->failed, ts_mono_us() - t0, BAR_WIDTH));
            fflush(stdout);
        }
        if (info->completed_at != TS_NONE)
            break;
        sleep_ms(POLL_MS);
    }
    if (f.tty)
        putchar('\n');
    printf("Backfill of %s done: %ld run%s, %ld succeeded, %ld failed\n", o->dag_id,
           info->success + info->failed, info->success + info->failed == 1 ? "" : "s",
           info->success, info->failed);
    rc = info->failed ? 1 : 0;
out:
    backfill_info_free(info, 1);
    free(f.done_ids);
    return rc;
}

int cli_dags_backfill(const config_t *cfg, int argc, char **argv)
{
    opts_t o;
    plan_t p = {0};
    int64_t id = 0;
    int rc = parse_opts(argc, argv, &o);
    if (rc != 0)
        return rc;
    db_t *db = cli_connect(cfg, true);
    if (!db)
        return 1;
    rc = plan_range(db, &o, true, &p, &id);
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
    /* Planned again as it is stored: runs may have changed meanwhile. */
    if ((rc = plan_range(db, &o, false, &p, &id)) != 0) {
        rc = rc > 0 ? 0 : 1;
        goto out;
    }
    rc = follow_backfill(db, &o, &p, id);
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
