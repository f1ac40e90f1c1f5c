/*
 * cmd_dags.c - `updraft dags ...`, with Airflow's verbs and output.
 *
 * `validate` needs no database: teams run it in their own CI on the DAG
 * folder. It prints every problem as path:line:col: message and exits 1
 * when any file has an error (warnings alone exit 0).
 */
#include <cjson/cJSON.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "store/dags.h"
#include "model/cron.h"
#include "model/dag.h"
#include "store/dagrun.h"
#include "store/import_errors.h"
#include "core/timeutil.h"

/* --- validate ----------------------------------------------------------- */

typedef struct validate_state {
    const char *root;
    const char *env_allowlist; /* core.dag_env_allowlist */
    int files, dags, errors, warnings;
} validate_state_t;

static validate_state_t *vstate; /* nftw has no user pointer */

static void validate_one(const char *path, const char *root, validate_state_t *st)
{
    dag_list_t dags;
    dag_diags_t diags;
    dag_list_init(&dags);
    dag_diags_init(&diags);
    dag_load_file(path, root, st->env_allowlist, &dags, &diags);
    char *text = dag_diags_format(&diags, true);
    if (text && *text)
        fputs(text, stdout);
    free(text);
    size_t errs = dag_diags_errors(&diags);
    st->files++;
    st->dags += (int)dags.n;
    st->errors += (int)errs;
    st->warnings += (int)(diags.n - errs);
    dag_list_free(&dags);
    dag_diags_free(&diags);
}

static int validate_visit(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    const char *base = path + ftw->base;
    if (ftw->level > 0 && base[0] == '.')
        return type == FTW_D ? FTW_SKIP_SUBTREE : 0;
    if (type == FTW_F && dag_is_dag_file(base))
        validate_one(path, vstate->root, vstate);
    return 0;
}

static int cmd_validate(const config_t *cfg, int argc, char **argv)
{
    validate_state_t st = {.env_allowlist = cfg->core.dag_env_allowlist};
    if (argc < 1) {
        fprintf(stderr, "usage: updraft dags validate PATH...\n");
        return 2;
    }
    for (int i = 0; i < argc; i++) {
        struct stat sb;
        if (stat(argv[i], &sb) != 0) {
            printf("%s:0:0: cannot read: no such file or directory\n", argv[i]);
            st.errors++;
            continue;
        }
        if (S_ISDIR(sb.st_mode)) {
            st.root = argv[i];
            vstate = &st;
            nftw(argv[i], validate_visit, 32, FTW_ACTIONRETVAL);
            vstate = NULL;
        } else {
            validate_one(argv[i], NULL, &st);
        }
    }
    fprintf(stderr, "%d file%s, %d DAG%s, %d error%s, %d warning%s\n", st.files,
            st.files == 1 ? "" : "s", st.dags, st.dags == 1 ? "" : "s", st.errors,
            st.errors == 1 ? "" : "s", st.warnings, st.warnings == 1 ? "" : "s");
    return st.errors ? 1 : 0;
}

/* --- list --------------------------------------------------------------- */

static void rule(int width)
{
    for (int i = 0; i < width; i++)
        putchar('=');
}

/* The table of `dags list` (Airflow's columns, each as wide as its widest cell). */
static void print_dag_table(const dags_row_t *rows, size_t n, bool plain)
{
    int w0 = 6, w1 = 7, w2 = 6;
    for (size_t i = 0; i < n; i++) {
        int a = (int)strlen(rows[i].dag_id), b = (int)strlen(rows[i].fileloc),
            c = (int)strlen(rows[i].owners);
        w0 = a > w0 ? a : w0;
        w1 = b > w1 ? b : w1;
        w2 = c > w2 ? c : w2;
    }
    if (!plain) {
        printf("%-*s | %-*s | %-*s | is_paused\n", w0, "dag_id", w1, "fileloc", w2, "owners");
        rule(w0);
        fputs("=+=", stdout);
        rule(w1);
        fputs("=+=", stdout);
        rule(w2);
        fputs("=+==========\n", stdout);
    }
    for (size_t i = 0; i < n; i++)
        printf(plain ? "%-*s %-*s %-*s %s\n" : "%-*s | %-*s | %-*s | %s\n", w0, rows[i].dag_id, w1,
               rows[i].fileloc, w2, rows[i].owners, rows[i].is_paused ? "True" : "False");
}

static int cmd_list(const config_t *cfg, int argc, char **argv)
{
    const char *format = "table";
    for (int i = 0; i < argc; i++) {
        if ((!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) && i + 1 < argc)
            format = argv[++i];
        else {
            fprintf(stderr, "usage: updraft dags list [-o table|json|plain]\n");
            return 2;
        }
    }
    db_t *db = cli_connect(cfg, true);
    if (!db)
        return 1;
    dags_row_t *rows = NULL;
    size_t n = 0;
    char err[512];
    int rc = dags_list_active(db, &rows, &n, err, sizeof(err));
    db_close(db);
    if (rc < 0)
        return cli_fail(rc, err);
    if (!strcmp(format, "json")) {
        cJSON *arr = cJSON_CreateArray();
        for (size_t i = 0; i < n; i++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "dag_id", rows[i].dag_id);
            cJSON_AddStringToObject(o, "fileloc", rows[i].fileloc);
            cJSON_AddStringToObject(o, "owners", rows[i].owners);
            cJSON_AddStringToObject(o, "is_paused", rows[i].is_paused ? "True" : "False");
            cJSON_AddItemToArray(arr, o);
        }
        char *text = cJSON_PrintUnformatted(arr);
        if (text)
            puts(text);
        free(text);
        cJSON_Delete(arr);
    } else {
        print_dag_table(rows, n, !strcmp(format, "plain"));
    }
    dags_rows_free(rows, n);
    return 0;
}

static int cmd_list_import_errors(const config_t *cfg)
{
    db_t *db = cli_connect(cfg, true);
    if (!db)
        return 1;
    char **traces = NULL, err[512];
    size_t n = 0;
    int rc = import_errors_list_traces(db, &traces, &n, err, sizeof(err));
    db_close(db);
    if (rc < 0)
        return cli_fail(rc, err);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(traces[i]);
        printf("%s%s", traces[i], len && traces[i][len - 1] == '\n' ? "" : "\n");
    }
    import_errors_traces_free(traces, n);
    return n ? 1 : 0;
}

/* --- trigger, pause ----------------------------------------------------- */

static int cmd_trigger(const config_t *cfg, int argc, char **argv)
{
    const char *dag_id = NULL, *conf = NULL, *run_id = NULL, *logical = NULL;
    for (int i = 0; i < argc; i++) {
        if ((!strcmp(argv[i], "--conf") || !strcmp(argv[i], "-c")) && i + 1 < argc)
            conf = argv[++i];
        else if ((!strcmp(argv[i], "--run-id") || !strcmp(argv[i], "-r")) && i + 1 < argc)
            run_id = argv[++i];
        else if ((!strcmp(argv[i], "--logical-date") || !strcmp(argv[i], "--exec-date") ||
                  !strcmp(argv[i], "-e")) &&
                 i + 1 < argc)
            logical = argv[++i];
        else if (argv[i][0] != '-' && !dag_id)
            dag_id = argv[i];
        else {
            dag_id = NULL;
            break;
        }
    }
    if (!dag_id) {
        fprintf(
            stderr,
            "usage: updraft dags trigger DAG_ID [--conf JSON] [--run-id ID] [--logical-date TS]\n");
        return 2;
    }
    dagrun_spec_t spec = {.dag_id = dag_id,
                          .run_id = run_id,
                          .type = DAGRUN_MANUAL,
                          .logical_date = TS_NONE,
                          .interval_start = TS_NONE,
                          .interval_end = TS_NONE,
                          .conf_json = conf};
    if (logical && ts_parse(logical, &spec.logical_date) != 0) {
        fprintf(stderr, "updraft: invalid logical date '%s' (expected ISO 8601)\n", logical);
        return 2;
    }
    db_t *db = cli_connect(cfg, true);
    if (!db)
        return 1;
    char err[512], rid[DAGRUN_ID_MAX + 1];
    int64_t id;
    int rc = dagrun_create(db, &spec, &id, rid, err, sizeof(err));
    db_close(db);
    if (rc == UPDRAFT_EINVALID) { /* a malformed --conf or --run-id: a usage error */
        fprintf(stderr, "updraft: %s\n", err);
        return 2;
    }
    if (rc != 0)
        return cli_fail(rc, err);
    printf("Created <DagRun %s @ %s: %s, state:queued, externally triggered: True>\n", dag_id,
           logical ? logical : "now", rid);
    return 0;
}

static int cmd_pause(const config_t *cfg, const char *dag_id, bool pause)
{
    db_t *db = cli_connect(cfg, true);
    if (!db)
        return 1;
    int rc = dags_set_paused(db, dag_id, pause);
    if (rc == UPDRAFT_EDB)
        fprintf(stderr, "updraft: %s\n", db_error(db));
    db_close(db);
    if (rc == UPDRAFT_ENOTFOUND)
        fprintf(stderr, "updraft: dag '%s' not found\n", dag_id);
    if (rc < 0)
        return cli_exit_status(rc);
    printf("Dag: %s, paused: %s\n", dag_id, pause ? "True" : "False");
    return 0;
}

/* --- next-execution ---------------------------------------------------- */

/* Airflow prints interval.start.isoformat(): microseconds only when non-zero. */
static void print_logical_date(bool have, ts_us_t start)
{
    char buf[TS_ISO_LEN];
    if (!have) {
        fprintf(stderr, "[WARN] No following schedule can be found. This DAG may have schedule "
                        "interval '@once' or `None`.\n");
        printf("None\n");
        return;
    }
    printf("%s\n",
           start % TS_US_PER_SEC ? ts_format_iso(start, buf) : ts_format_iso_sec(start, buf));
}

/*
 * `dags next-execution DAG_ID [-n N]`, as Airflow 2's: the next scheduled
 * logical date from the DAG's latest serialized version and its latest
 * scheduled run, then N-1 following ones without start/end date limits.
 */
static int cmd_next_execution(const config_t *cfg, int argc, char **argv)
{
    const char *dag_id = NULL;
    long n = 1;
    for (int i = 0; i < argc; i++) {
        char *end;
        if ((!strcmp(argv[i], "-n") || !strcmp(argv[i], "--num-executions")) && i + 1 < argc) {
            n = strtol(argv[++i], &end, 10);
            if (*end != '\0' || n < 1 || n > 100000) {
                fprintf(stderr, "updraft: -n must be a number from 1 to 100000\n");
                return 2;
            }
        } else if (argv[i][0] != '-' && !dag_id) {
            dag_id = argv[i];
        } else {
            dag_id = NULL;
            break;
        }
    }
    if (!dag_id) {
        fprintf(stderr, "usage: updraft dags next-execution DAG_ID [-n N]\n");
        return 2;
    }
    db_t *db = cli_connect(cfg, true);
    if (!db)
        return 1;
    dags_parsed_schedule_t ds;
    schedule_tz_t *tz = NULL;
    schedule_t sched;
    ts_us_t last_start = TS_NONE, last_end = TS_NONE;
    char err[512];
    int rc = dags_get_parsed_schedule(db, dag_id, &ds, err, sizeof(err));
    if (rc == 0) {
        rc = dagrun_last_scheduled(db, dag_id, &last_start, &last_end);
        if (rc < 0)
            snprintf(err, sizeof(err), "%s", db_error(db));
    } else if (rc == UPDRAFT_ENOTFOUND) {
        snprintf(err, sizeof(err), "DAG: %s does not exist in the database", dag_id);
    }
    db_close(db);
    if (rc < 0) {
        dags_parsed_schedule_free(&ds);
        return cli_fail(rc, err);
    }
    rc = 1;
    if (schedule_parse(ds.schedule, &sched, err, sizeof(err)) < 0 ||
        schedule_tz_load(schedule_zone_name(&sched, ds.timezone), &tz, err, sizeof(err)) < 0) {
        fprintf(stderr, "updraft: dag '%s': %s\n", dag_id, err);
        goto out;
    }
    sched.tz = tz;
    if (ds.is_paused)
        fprintf(stderr, "[INFO] Please be reminded this DAG is PAUSED now.\n");
    ts_us_t a = TS_NONE, b = TS_NONE;
    bool have = schedule_next_interval(&sched, last_start, last_end, ds.start_date, ds.end_date,
                                       ts_now(), ds.catchup, &a, &b) == 1;
    print_logical_date(have, a);
    for (long i = 1; i < n; i++) {
        have = have && schedule_following_interval(&sched, a, b, &a, &b) == 1;
        print_logical_date(have, a);
    }
    rc = 0;
out:
    schedule_tz_free(tz);
    dags_parsed_schedule_free(&ds);
    return rc;
}

int cli_dags(const config_t *cfg, int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr,
                "usage: updraft dags list|list-import-errors|validate|trigger|pause|unpause|"
                "next-execution|backfill|test|state ...\n");
        return 2;
    }
    const char *verb = argv[1];
    if (!strcmp(verb, "validate"))
        return cmd_validate(cfg, argc - 2, argv + 2);
    if (!strcmp(verb, "list"))
        return cmd_list(cfg, argc - 2, argv + 2);
    if (!strcmp(verb, "list-import-errors"))
        return cmd_list_import_errors(cfg);
    if (!strcmp(verb, "trigger"))
        return cmd_trigger(cfg, argc - 2, argv + 2);
    if (!strcmp(verb, "next-execution"))
        return cmd_next_execution(cfg, argc - 2, argv + 2);
    if (!strcmp(verb, "backfill"))
        return cli_dags_backfill(cfg, argc - 2, argv + 2);
    if (!strcmp(verb, "test"))
        return cli_dags_test(cfg, argc - 2, argv + 2);
    if (!strcmp(verb, "state"))
        return cli_dags_state(cfg, argc - 2, argv + 2);
    if ((!strcmp(verb, "pause") || !strcmp(verb, "unpause")) && argc == 3)
        return cmd_pause(cfg, argv[2], !strcmp(verb, "pause"));
    fprintf(stderr, "updraft: unknown or incomplete dags command '%s'\n", verb);
    return 2;
}
