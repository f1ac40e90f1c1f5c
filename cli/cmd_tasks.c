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
#include "model/operator.h"
#include "core/secrets.h"
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

int cli_find_run(db_t *db, const char *dag_id, const char *run_or_date, cli_run_t *out)
{
    ts_us_t t;
    char iso[TS_ISO_LEN];
    bool is_date = ts_parse(run_or_date, &t) == 0;
    const char *p[] = {dag_id, run_or_date, is_date ? ts_format_iso(t, iso) : NULL};
    memset(out, 0, sizeof(*out));
    PGresult *r = db_query(db, NULL,
                           "SELECT id, run_id, state,"
                           " (extract(epoch FROM logical_date) * 1000000)::bigint"
                           " FROM dag_run WHERE dag_id = $1"
                           " AND (run_id = $2 OR logical_date = $3::timestamptz)"
                           " ORDER BY (run_id = $2) DESC LIMIT 1",
                           3, p);
    if (!r) {
        fprintf(stderr, "updraft: %s\n", db_error(db));
        return -1;
    }
    int rc = 0;
    if (PQntuples(r) == 1) {
        out->id = db_get_i64(r, 0, 0);
        snprintf(out->run_id, sizeof(out->run_id), "%s", PQgetvalue(r, 0, 1));
        snprintf(out->state, sizeof(out->state), "%s", PQgetvalue(r, 0, 2));
        out->logical_date = db_get_i64(r, 0, 3);
        rc = 1;
    }
    PQclear(r);
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
    cli_run_t run;
    int rc = 1;
    int found = cli_find_run(db, argv[0], argv[2], &run);
    if (found == 0)
        fprintf(stderr, "updraft: dag run '%s' of dag '%s' not found\n", argv[2], argv[0]);
    if (found != 1)
        goto out;
    char idbuf[24];
    snprintf(idbuf, sizeof(idbuf), "%lld", (long long)run.id);
    const char *p[] = {idbuf, argv[1]};
    PGresult *r = db_query(db, NULL,
                           "SELECT state FROM task_instance WHERE dag_run_id = $1::bigint"
                           " AND task_id = $2 AND map_index = -1",
                           2, p);
    if (!r) {
        fprintf(stderr, "updraft: %s\n", db_error(db));
        goto out;
    }
    if (PQntuples(r) == 0) {
        fprintf(stderr, "updraft: task '%s' not found in dag run '%s'\n", argv[1], run.run_id);
    } else {
        const char *s = PQgetvalue(r, 0, 0);
        printf("%s\n", !strcmp(s, "none") ? "None" : s);
        rc = 0;
    }
    PQclear(r);
out:
    db_close(db);
    return rc;
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

#define RENDER_RUN_SQL                                                                             \
    "SELECT (v.data -> 'tasks' -> $2)::text, dr.conf::text,"                                      \
    "       (extract(epoch FROM dr.data_interval_start) * 1000000)::bigint,"                       \
    "       (extract(epoch FROM dr.data_interval_end) * 1000000)::bigint"                          \
    "  FROM dag_run dr JOIN dag_version v ON v.id = dr.dag_version_id WHERE dr.id = $1::bigint"
#define RENDER_LATEST_SQL                                                                          \
    "SELECT (data -> 'tasks' -> $2)::text, (data -> 'params')::text FROM dag_version"             \
    " WHERE dag_id = $1 ORDER BY version_number DESC LIMIT 1"

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

/*
 * `tasks render DAG_ID TASK_ID RUN_ID_OR_DATE`: the rendered bash_command
 * and env, as Airflow's command prints them. With a run: that run's dates,
 * conf and XComs. With a logical date that has no run: the DAG's latest
 * version, its params' defaults and no data interval (as Airflow renders
 * against a temporary run). Secret values print as ***.
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
    PGresult *r = NULL;
    cJSON *spec = NULL, *conf = NULL, *params = NULL;
    char *conf_text = NULL, err[1536], idbuf[24];
    int rc = 1;
    cli_run_t run;
    taskrender_t tr;
    ts_us_t date = TS_NONE;

    if (!db)
        goto out;
    int found = cli_find_run(db, dag_id, argv[2], &run);
    if (found < 0)
        goto out;
    if (found == 0 && ts_parse(argv[2], &date) != 0) {
        fprintf(stderr, "updraft: dag run '%s' of dag '%s' not found\n", argv[2], dag_id);
        goto out;
    }
    snprintf(idbuf, sizeof(idbuf), "%lld", (long long)run.id);
    const char *p[] = {found ? idbuf : dag_id, task_id};
    r = found ? db_query(db, NULL, RENDER_RUN_SQL, 2, p) : db_query(db, NULL, RENDER_LATEST_SQL, 2, p);
    if (!r) {
        fprintf(stderr, "updraft: %s\n", db_error(db));
        goto out;
    }
    if (PQntuples(r) == 0 || !db_get_str(r, 0, 0) ||
        !cJSON_IsObject(spec = cJSON_Parse(db_get_str(r, 0, 0)))) {
        fprintf(stderr, "updraft: task '%s' not found in dag '%s'\n", task_id, dag_id);
        goto out;
    }
    taskrender_init(&tr, db, ring);
    tr.ctx.dag_id = dag_id;
    tr.ctx.task_id = task_id;
    if (found) {
        tr.ctx.run_id = run.run_id;
        tr.ctx.logical_date = run.logical_date;
        if (db_get_str(r, 0, 2))
            tr.ctx.data_interval_start = db_get_i64(r, 0, 2);
        if (db_get_str(r, 0, 3))
            tr.ctx.data_interval_end = db_get_i64(r, 0, 3);
        tr.ctx.params_json = tr.ctx.conf_json = db_get_str(r, 0, 1);
        if (taskrender_prev_interval(&tr, run.id, err, sizeof(err)) < 0) {
            fprintf(stderr, "updraft: %s\n", err);
            goto out;
        }
    } else {
        tr.ctx.logical_date = date;
        params = db_get_str(r, 0, 1) ? cJSON_Parse(db_get_str(r, 0, 1)) : NULL;
        if (dag_params_resolve(cJSON_IsObject(params) ? params : NULL, NULL, &conf, err,
                               sizeof(err)) < 0 ||
            !(conf_text = cJSON_PrintUnformatted(conf))) {
            fprintf(stderr, "updraft: %s\n", conf ? "out of memory" : err);
            goto out;
        }
        tr.ctx.params_json = tr.ctx.conf_json = conf_text;
    }

    const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(spec, "bash_command");
    const cJSON *env = cJSON_GetObjectItemCaseSensitive(spec, "env");
    template_result_t res;
    if (cJSON_IsString(cmd)) {
        if (taskrender_field(&tr, cmd->valuestring, "bash_command", &res, err, sizeof(err)) < 0) {
            fprintf(stderr, "updraft: %s\n", err);
            goto out;
        }
        print_property("bash_command");
        print_masked(stdout, res.text, &res);
        printf("\n");
        template_result_free(&res);
    }
    if (cJSON_IsObject(env)) {
        const cJSON *it;
        print_property("env");
        printf("{");
        cJSON_ArrayForEach(it, env)
        {
            char what[300];
            if (!cJSON_IsString(it))
                continue;
            snprintf(what, sizeof(what), "env %.256s", it->string);
            if (taskrender_field(&tr, it->valuestring, what, &res, err, sizeof(err)) < 0) {
                printf("}\n");
                fprintf(stderr, "updraft: %s\n", err);
                goto out;
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
    }
    /* Other operators' templated arguments (model/operator.h), as JSON. */
    const cJSON *opname = cJSON_GetObjectItemCaseSensitive(spec, "operator");
    cJSON *args = cJSON_GetObjectItemCaseSensitive(spec, "args"), *arg;
    dag_operator_t op;
    if (cJSON_IsString(opname) && operator_parse(opname->valuestring, &op) && cJSON_IsObject(args)) {
        cJSON_ArrayForEach(arg, args)
        {
            const operator_arg_t *def = operator_find_arg(op, arg->string);
            if (!def || !def->templated)
                continue;
            if (render_json(&tr, arg, arg->string, err, sizeof(err)) < 0) {
                fprintf(stderr, "updraft: %s\n", err);
                goto out;
            }
            char *text = cJSON_IsString(arg) ? NULL : cJSON_PrintUnformatted(arg);
            print_property(arg->string);
            printf("%s\n", cJSON_IsString(arg) ? arg->valuestring : text ? text : "");
            free(text);
        }
    }
    rc = 0;
out:
    PQclear(r);
    cJSON_Delete(spec);
    cJSON_Delete(conf);
    cJSON_Delete(params);
    free(conf_text);
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
    PGresult *r = db_query(db, NULL,
                           "SELECT count(*) FROM job WHERE job_type = 'SchedulerJob'"
                           " AND state = 'running' AND latest_heartbeat > now() - interval '60 seconds'",
                           0, NULL);
    if (r && db_get_i64(r, 0, 0) == 0)
        fprintf(stderr, "[WARN] no scheduler is running: the runs wait until one starts\n");
    PQclear(r);
}
