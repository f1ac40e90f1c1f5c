/*
 * cmd_tasks.c - `updraft tasks clear|render|state`, and the helpers the other
 * operator commands share: finding a run by run id or logical date, and
 * asking for confirmation.
 *
 * `tasks clear` lists what it will clear and asks first, as Airflow's
 * does; without a terminal to ask on it refuses unless given -y, so that
 * a script never clears more than it meant to by accident.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "sched/clear.h"
#include "model/dag.h"
#include "store/dagrun.h"
#include "store/jobs.h"
#include "model/operator.h"
#include "core/secrets.h"
#include "store/dags.h"
#include "store/ti_admin.h"
#include "store/taskrender.h"
#include "core/timeutil.h"

int cli_confirm(const char *question, bool yes)
{
    char line[64];
    if (yes)
        return 1;
    if (!isatty(STDIN_FILENO)) {
        fprintf(stderr, "updraft: not asking for confirmation without a terminal: pass -y to "
                        "proceed\n");
        return -1;
    }
    printf("%s [y/n] ", question);
    fflush(stdout);
    if (!fgets(line, sizeof(line), stdin))
        return 0;
    return (line[0] == 'y' || line[0] == 'Y') ? 1 : 0;
}

int cli_find_run(db_t *db, const char *dag_id, const char *run_or_date, dagrun_ref_t *out)
{
    ts_us_t t;
    char iso[TS_ISO_LEN];
    bool is_date = ts_parse(run_or_date, &t) == 0;
    int rc = dagrun_find(db, dag_id, run_or_date, is_date ? ts_format_iso(t, iso) : NULL, out);

    if (rc < 0 && rc != UPDRAFT_ENOTFOUND)
        fprintf(stderr, "updraft: %s\n", db_error(db));
    return rc;
}

/* --- clear -------------------------------------------------------------- */

static int clear_usage(void)
{
    fprintf(stderr, "usage: updraft tasks clear DAG_ID [-t REGEX] [-s START] [-e END] "
                    "[-d|--downstream] [-u|--upstream] [-f|--only-failed] [-y]\n");
    return 2;
}

static int cmd_clear(const config_t *cfg, int argc, char **argv)
{
    clear_filter_t f = {.start = TS_NONE, .end = TS_NONE};
    bool yes = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        if ((!strcmp(a, "-t") || !strcmp(a, "--task-regex")) && more)
            f.task_regex = argv[++i];
        else if ((!strcmp(a, "-s") || !strcmp(a, "--start-date")) && more) {
            if (ts_parse(argv[++i], &f.start) != 0) {
                fprintf(stderr, "updraft: invalid start date '%s'\n", argv[i]);
                return 2;
            }
        } else if ((!strcmp(a, "-e") || !strcmp(a, "--end-date")) && more) {
            if (ts_parse(argv[++i], &f.end) != 0) {
                fprintf(stderr, "updraft: invalid end date '%s'\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "-d") || !strcmp(a, "--downstream"))
            f.downstream = true;
        else if (!strcmp(a, "-u") || !strcmp(a, "--upstream"))
            f.upstream = true;
        else if (!strcmp(a, "-f") || !strcmp(a, "--only-failed"))
            f.only_failed = true;
        else if (!strcmp(a, "-y") || !strcmp(a, "--yes"))
            yes = true;
        else if (a[0] != '-' && !f.dag_id)
            f.dag_id = a;
        else
            return clear_usage();
    }
    if (!f.dag_id)
        return clear_usage();
    db_t *db = cli_connect(cfg, true);
    if (!db)
        return 1;
    clear_list_t l = {0};
    char err[512];
    int rc = 1;
    if (clear_find(db, &f, &l, err, sizeof(err)) < 0) {
        fprintf(stderr, "updraft: %s\n", err);
        goto out;
    }
    if (l.n == 0) {
        printf("No task instances to clear\n");
        rc = 0;
        goto out;
    }
    printf("You are about to clear these %zu task instance%s:\n", l.n, l.n == 1 ? "" : "s");
    for (size_t i = 0; i < l.n; i++)
        printf("<TaskInstance: %s.%s %s [%s]>\n", f.dag_id, l.items[i].task_id, l.items[i].run_id,
               !strcmp(l.items[i].state, "none") ? "None" : l.items[i].state);
    int ok = cli_confirm("\nAre you sure?", yes);
    if (ok <= 0) {
        if (ok == 0)
            printf("Cancelled, nothing was cleared\n");
        rc = ok < 0 ? 2 : 1;
        goto out;
    }
    long cleared = 0;
    if (clear_apply(db, &l, &cleared, err, sizeof(err)) < 0) {
        fprintf(stderr, "updraft: %s\n", err);
        goto out;
    }
    printf("Cleared %ld task instance%s\n", cleared, cleared == 1 ? "" : "s");
    rc = 0;
out:
    clear_list_free(&l);
    db_close(db);
    return rc;
}

/* --- state -------------------------------------------------------------- */

/* `tasks state DAG_ID TASK_ID RUN_ID_OR_DATE`: the state, "None" for none. */
static int cmd_state(const config_t *cfg, int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: updraft tasks state DAG_ID TASK_ID RUN_ID_OR_LOGICAL_DATE\n");
        return 2;
    }
    db_t *db = cli_connect(cfg, true);
    if (!db)
        return 1;
    dagrun_ref_t run;
    char state[DAGRUN_STATE_MAX], err[512];
    int rc = cli_find_run(db, argv[0], argv[2], &run);
    if (rc == UPDRAFT_ENOTFOUND)
        fprintf(stderr, "updraft: dag run '%s' of dag '%s' not found\n", argv[2], argv[0]);
    if (rc < 0)
        goto out;
    rc = ti_admin_state(db, run.id, argv[1], state, err, sizeof(err));
    if (rc == UPDRAFT_ENOTFOUND)
        fprintf(stderr, "updraft: task '%s' not found in dag run '%s'\n", argv[1], run.run_id);
    else if (rc < 0)
        fprintf(stderr, "updraft: %s\n", err);
    else
        printf("%s\n", !strcmp(state, "none") ? "None" : state);
out:
    db_close(db);
    return cli_exit_status(rc);
}

/* --- render ------------------------------------------------------------- */

/* Writes text with every secret value replaced by "***". */
static void print_masked(FILE *out, const char *text, const template_result_t *res)
{
    const char *p = text;
    while (*p) {
        const char *best = NULL;
        size_t blen = 0;
        for (size_t i = 0; i < res->nsecrets; i++) {
            size_t n = strlen(res->secrets[i]);
            const char *q = n >= 3 ? strstr(p, res->secrets[i]) : NULL;
            if (q && (!best || q < best || (q == best && n > blen))) {
                best = q;
                blen = n;
            }
        }
        if (!best) {
            fputs(p, out);
            return;
        }
        fwrite(p, 1, (size_t)(best - p), out);
        fputs("***", out);
        p = best + blen;
    }
}

/* Python's repr() of a str, as Airflow prints an env mapping. */
static void print_pyrepr(const char *s)
{
    putchar('\'');
    for (; *s; s++) {
        if (*s == '\'' || *s == '\\')
            printf("\\%c", *s);
        else if (*s == '\n')
            fputs("\\n", stdout);
        else if (*s == '\t')
            fputs("\\t", stdout);
        else
            putchar(*s);
    }
    putchar('\'');
}

static void print_property(const char *name)
{
    printf("# ----------------------------------------------------------\n"
           "# property: %s\n"
           "# ----------------------------------------------------------\n",
           name);
}

/*
 * Renders every string inside v in place (masked as the log would show
 * it); what names the argument in messages. 0, or -1 with err filled.
 */
static int render_json(taskrender_t *tr, cJSON *v, const char *what, char *err, size_t errlen)
{
    if (cJSON_IsString(v)) {
        template_result_t res;
        if (taskrender_field(tr, v->valuestring, what, &res, err, errlen) < 0)
            return -1;
        char *masked = NULL;
        size_t mlen = 0;
        FILE *mf = open_memstream(&masked, &mlen);
        if (mf) {
            print_masked(mf, res.text, &res);
            fclose(mf);
        }
        template_result_free(&res);
        if (!masked || !cJSON_SetValuestring(v, masked)) {
            free(masked);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        free(masked);
        return 0;
    }
    cJSON *it;
    cJSON_ArrayForEach(it, v)
    {
        if (render_json(tr, it, what, err, errlen) < 0)
            return -1;
    }
    return 0;
}

/* What `tasks render` renders: the task's spec and the context's owned strings. */
typedef struct render_job {
    dagrun_ref_t run; /* the run, when found */
    cJSON *spec;      /* the task's spec */
    char *conf_text;  /* the run's conf, or the DAG's params' defaults */
} render_job_t;

static void render_job_free(render_job_t *job)
{
    cJSON_Delete(job->spec);
    free(job->conf_text);
}

/* Takes spec_text as the task's spec: false with a message when it is none. */
static bool take_spec(render_job_t *job, const char *spec_text, const char *dag_id,
                      const char *task_id)
{
    if (!spec_text || !cJSON_IsObject(job->spec = cJSON_Parse(spec_text))) {
        fprintf(stderr, "updraft: task '%s' not found in dag '%s'\n", task_id, dag_id);
        return false;
    }
    return true;
}

/* Airflow's class name of the spec's operator (bash when the spec names none). */
static const char *spec_task_type(const cJSON *spec)
{
    const cJSON *opname = cJSON_GetObjectItemCaseSensitive(spec, "operator");
    dag_operator_t op = DAG_OP_BASH;

    if (cJSON_IsString(opname) && !operator_parse(opname->valuestring, &op))
        return NULL;
    return operator_class_name(op);
}

/* The context of a found run: its version's spec, dates, conf and predecessors. 0 or -1. */
static int load_run(db_t *db, taskrender_t *tr, render_job_t *job, const char *dag_id,
                    const char *task_id)
{
    ti_admin_spec_t ts;
    char err[1536];
    int rc = ti_admin_task_spec(db, job->run.id, task_id, &ts, err, sizeof(err));

    if (rc < 0 && rc != UPDRAFT_ENOTFOUND) {
        fprintf(stderr, "updraft: %s\n", err);
        return -1;
    }
    bool ok = take_spec(job, rc == 0 ? ts.spec : NULL, dag_id, task_id);
    job->conf_text = ts.conf;
    ts.conf = NULL;
    ti_admin_spec_free(&ts);
    if (!ok)
        return -1;
    tr->ctx.run_id = job->run.run_id;
    tr->ctx.logical_date = job->run.logical_date;
    if (ts.interval_start != TS_NONE)
        tr->ctx.data_interval_start = ts.interval_start;
    if (ts.interval_end != TS_NONE)
        tr->ctx.data_interval_end = ts.interval_end;
    tr->ctx.params_json = tr->ctx.conf_json = job->conf_text;
    if (taskrender_prev_interval(tr, job->run.id, err, sizeof(err)) < 0) {
        fprintf(stderr, "updraft: %s\n", err);
        return -1;
    }
    return 0;
}

/*
 * The context of a logical date without a run: the DAG's latest version,
 * its params' defaults and no data interval (as Airflow renders against a
 * temporary run). 0 or -1.
 */
static int load_latest(db_t *db, taskrender_t *tr, render_job_t *job, const char *dag_id,
                       const char *task_id, ts_us_t date)
{
    char *spec_text = NULL, *params_text = NULL, err[1536];
    cJSON *params = NULL, *conf = NULL;
    int rc = dags_latest_task(db, dag_id, task_id, &spec_text, &params_text, err, sizeof(err));

    if (rc < 0 && rc != UPDRAFT_ENOTFOUND) {
        fprintf(stderr, "updraft: %s\n", err);
        return -1;
    }
    rc = take_spec(job, spec_text, dag_id, task_id) ? 0 : -1;
    if (rc == 0) {
        tr->ctx.logical_date = date;
        params = params_text ? cJSON_Parse(params_text) : NULL;
        if (dag_params_resolve(cJSON_IsObject(params) ? params : NULL, NULL, &conf, err,
                               sizeof(err)) < 0 ||
            !(job->conf_text = cJSON_PrintUnformatted(conf))) {
            fprintf(stderr, "updraft: %s\n", conf ? "out of memory" : err);
            rc = -1;
        }
        tr->ctx.params_json = tr->ctx.conf_json = job->conf_text;
    }
    cJSON_Delete(params);
    cJSON_Delete(conf);
    free(spec_text);
    free(params_text);
    return rc;
}

/* Prints the rendered bash_command, when the task has one. 0 or -1. */
static int render_bash(taskrender_t *tr, const cJSON *spec)
{
    const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(spec, "bash_command");
    template_result_t res;
    char err[1536];

    if (!cJSON_IsString(cmd))
        return 0;
    if (taskrender_field(tr, cmd->valuestring, "bash_command", &res, err, sizeof(err)) < 0) {
        fprintf(stderr, "updraft: %s\n", err);
        return -1;
    }
    print_property("bash_command");
    print_masked(stdout, res.text, &res);
    printf("\n");
    template_result_free(&res);
    return 0;
}

/* Prints the rendered env as Python's repr of a dict, when the task has one. 0 or -1. */
static int render_env(taskrender_t *tr, const cJSON *spec)
{
    const cJSON *env = cJSON_GetObjectItemCaseSensitive(spec, "env"), *it;
    template_result_t res;
    char err[1536];

    if (!cJSON_IsObject(env))
        return 0;
    print_property("env");
    printf("{");
    cJSON_ArrayForEach(it, env)
    {
        char what[300];
        if (!cJSON_IsString(it))
            continue;
        snprintf(what, sizeof(what), "env %.256s", it->string);
        if (taskrender_field(tr, it->valuestring, what, &res, err, sizeof(err)) < 0) {
            printf("}\n");
            fprintf(stderr, "updraft: %s\n", err);
            return -1;
        }
        if (it != env->child)
            printf(", ");
        print_pyrepr(it->string);
        printf(": ");
        /* repr of the masked text */
        char *masked = NULL;
        size_t mlen = 0;
        FILE *mf = open_memstream(&masked, &mlen);
        if (mf) {
            print_masked(mf, res.text, &res);
            fclose(mf);
            print_pyrepr(masked ? masked : "");
        }
        free(masked);
        template_result_free(&res);
    }
    printf("}\n");
    return 0;
}

/* Prints other operators' templated arguments (model/operator.h), as JSON. 0 or -1. */
static int render_operator_args(taskrender_t *tr, cJSON *spec)
{
    const cJSON *opname = cJSON_GetObjectItemCaseSensitive(spec, "operator");
    cJSON *args = cJSON_GetObjectItemCaseSensitive(spec, "args"), *arg;
    dag_operator_t op;
    char err[1536];

    if (!cJSON_IsString(opname) || !operator_parse(opname->valuestring, &op) ||
        !cJSON_IsObject(args))
        return 0;
    cJSON_ArrayForEach(arg, args)
    {
        const operator_arg_t *def = operator_find_arg(op, arg->string);
        if (!def || !def->templated)
            continue;
        if (render_json(tr, arg, arg->string, err, sizeof(err)) < 0) {
            fprintf(stderr, "updraft: %s\n", err);
            return -1;
        }
        char *text = cJSON_IsString(arg) ? NULL : cJSON_PrintUnformatted(arg);
        print_property(arg->string);
        printf("%s\n", cJSON_IsString(arg) ? arg->valuestring : text ? text : "");
        free(text);
    }
    return 0;
}

/*
 * `tasks render DAG_ID TASK_ID RUN_ID_OR_DATE`: the rendered bash_command
 * and env, as Airflow's command prints them, then other operators'
 * templated arguments. With a run: that run's dates, conf and XComs
 * (load_run); with a logical date that has no run: the latest version
 * (load_latest). Secret values print as ***.
 */
static int cmd_render(const config_t *cfg, int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: updraft tasks render DAG_ID TASK_ID RUN_ID_OR_LOGICAL_DATE\n");
        return 2;
    }
    const char *dag_id = argv[0], *task_id = argv[1];
    struct secrets_keyring *ring = cli_keyring(cfg);
    if (!ring)
        return 1;
    db_t *db = cli_connect(cfg, true);
    render_job_t job = {0};
    taskrender_t tr;
    ts_us_t date = TS_NONE;
    int rc = 1, found;

    if (!db)
        goto out;
    found = cli_find_run(db, dag_id, argv[2], &job.run);
    if (found < 0 && found != UPDRAFT_ENOTFOUND)
        goto out;
    if (found == UPDRAFT_ENOTFOUND && ts_parse(argv[2], &date) != 0) {
        fprintf(stderr, "updraft: dag run '%s' of dag '%s' not found\n", argv[2], dag_id);
        goto out;
    }
    taskrender_init(&tr, db, ring);
    tr.ctx.dag_id = dag_id;
    tr.ctx.task_id = task_id;
    if ((found == 0 ? load_run(db, &tr, &job, dag_id, task_id)
                    : load_latest(db, &tr, &job, dag_id, task_id, date)) < 0)
        goto out;
    tr.ctx.task_type = spec_task_type(job.spec);
    if (render_bash(&tr, job.spec) < 0 || render_env(&tr, job.spec) < 0 ||
        render_operator_args(&tr, job.spec) < 0)
        goto out;
    rc = 0;
out:
    render_job_free(&job);
    db_close(db);
    secrets_keyring_free(ring);
    return rc;
}

int cli_tasks(const config_t *cfg, int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "clear"))
        return cmd_clear(cfg, argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "state"))
        return cmd_state(cfg, argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "render"))
        return cmd_render(cfg, argc - 2, argv + 2);
    fprintf(stderr, "usage: updraft tasks clear|render|state ...\n");
    return 2;
}

void cli_warn_no_scheduler(db_t *db)
{
    long n = 0;
    if (jobs_count_schedulers_alive(db, &n) == 0 && n == 0)
        fprintf(stderr, "[WARN] no scheduler is running: the runs wait until one starts\n");
}
