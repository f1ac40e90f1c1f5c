/*
 * dag_load.c - the dag-factory YAML loader (docs/dag-format.md).
 *
 * A file goes through these steps:
 *
 *   1. size check, then $NAME / ${NAME} expansion of the raw text like
 *      Python's os.path.expandvars, for the names core.dag_env_allowlist
 *      allows only; updraft's own (core/envname.h) are an error at their
 *      line:col, whatever the list says;
 *   2. libyaml events are built into a small tree of ynode_t that keeps
 *      each node's file and 1-based line:col. Anchors and aliases share
 *      nodes (an alias is a pointer, never a copy), YAML 1.1 merge keys
 *      (<<) are applied, and duplicate keys keep the last value as PyYAML
 *      does (remembered so that the validators can report them);
 *   3. defaults.yml files, the file's `default:` block and each DAG's own
 *      mapping are merged as dag-factory does (new mapping nodes whose
 *      children are shared, so merging costs the number of keys);
 *   4. each DAG mapping is validated key by key into a dag_t; every problem
 *      becomes one diagnostic that points at the node it is about;
 *   5. tasks are sorted topologically (Kahn, ties in declaration order) and
 *      their downstream lists filled.
 *
 * Errors in the `default:` block, in a defaults.yml, or in the YAML itself
 * fail the whole file; any other error fails only the DAG it belongs to.
 * Untrusted input: only regular files are opened (never a FIFO to wait
 * on), the file size is checked before reading, nothing recurses deeper
 * than NEST_MAX, a work budget bounds the cost of merging shared (aliased)
 * nodes, and a byte budget (LOAD_BYTES_MAX) the size the document expands
 * to: aliases written out, and strings copied into each DAG and task.
 *
 * This file holds the steps themselves (reading files and defaults.yml,
 * the file's mappings into DAGs, one DAG's keys); the parts they call live
 * beside it in dag_load_*.c, sharing dag_load_int.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/regfile.h"
#include "core/utf8.h"
#include "model/cron.h"
#include "model/dag_load_int.h"
#include "model/planner.h"

/* clang-format off */
static const key_def_t dag_keys[] = {
    {"description", K_DESCRIPTION}, {"schedule", K_SCHEDULE},
    {"schedule_interval", K_SCHEDULE_INTERVAL}, {"start_date", K_START_DATE},
    {"end_date", K_END_DATE}, {"catchup", K_CATCHUP}, {"tags", K_TAGS},
    {"max_active_runs", K_MAX_ACTIVE_RUNS}, {"max_active_tasks", K_MAX_ACTIVE_TASKS},
    {"concurrency", K_CONCURRENCY}, {"is_paused_upon_creation", K_PAUSED},
    {"default_args", K_DEFAULT_ARGS}, {"tasks", K_TASKS}, {"task_groups", K_TASK_GROUPS},
    {"timezone", K_TIMEZONE}, {"params", K_PARAMS}, {"dagrun_timeout", K_DAGRUN_TIMEOUT},
    {"dagrun_timeout_sec", K_DAGRUN_TIMEOUT_SEC},
    {"max_consecutive_failed_dag_runs", K_MAX_CONSEC_FAILED},
    /* accepted by Airflow or dag-factory, not used by updraft yet */
    {"default_view", K_DAG_IGNORED}, {"orientation", K_DAG_IGNORED}, {"doc_md", K_DOC_MD},
    {"doc_md_file_path", K_DOC_MD_FILE}, {"doc_md_python_callable_file", K_DAG_IGNORED},
    {"doc_md_python_callable_name", K_DAG_IGNORED}, {"doc_md_python_arguments", K_DAG_IGNORED},
    {"render_template_as_native_obj", K_DAG_IGNORED}, {"sla_miss_callback", K_DAG_SLA_MISS},
    {"on_success_callback", K_DAG_ON_SUCCESS}, {"on_failure_callback", K_DAG_ON_FAILURE},
    {"on_success_alert", K_DAG_ON_SUCCESS}, {"on_failure_alert", K_DAG_ON_FAILURE},
    {"sla_miss_alert", K_DAG_SLA_MISS},
    {"on_execute_callback", K_DAG_IGNORED}, {"on_success_callback_name", K_DAG_IGNORED},
    {"on_success_callback_file", K_DAG_IGNORED}, {"on_failure_callback_name", K_DAG_IGNORED},
    {"on_failure_callback_file", K_DAG_IGNORED}, {"sla_miss_callback_name", K_DAG_IGNORED},
    {"sla_miss_callback_file", K_DAG_IGNORED}, {"access_control", K_DAG_IGNORED},
    {"owner_links", K_DAG_IGNORED},
    {"jinja_environment_kwargs", K_DAG_IGNORED}, {"template_searchpath", K_DAG_IGNORED},
    {"user_defined_macros", K_DAG_IGNORED}, {"user_defined_filters", K_DAG_IGNORED},
    {"dag_display_name", K_DAG_IGNORED}, {"timetable", K_TIMETABLE},
    {"fail_stop", K_DAG_IGNORED}, {"auto_register", K_DAG_IGNORED},
    {"doc", K_DAG_IGNORED},
    {NULL, K_UNKNOWN}};
/* clang-format on */

static bool parse_tags(ctx_t *c, const ynode_t *v, dag_t *dag)
{
    smap_t seen = {0}; /* a hash, not a search per tag: a file may list many */
    bool ok = false;

    if (dl_is_null(v))
        return true;
    if (v->kind != Y_SEQ) {
        ERR(c, v, "tags of dag '%s' must be a list of strings", dag->dag_id);
        return false;
    }
    if (!(dag->tags = calloc(v->n ? v->n : 1, sizeof *dag->tags))) {
        c->oom = true;
        return false;
    }
    for (size_t i = 0; i < v->n; i++) {
        const char *s;
        if (!dl_get_str(c, v->kids[i], "tag", &s))
            goto out;
        if (strlen(s) > 100) {
            ERR(c, v->kids[i], "tag '%.40s...' is longer than 100 characters", s);
            goto out;
        }
        if (dl_smap_get(&seen, s, strlen(s)))
            continue;
        if (!(dag->tags[dag->n_tags] = strdup(s)) ||
            dl_smap_put(&seen, dag->tags[dag->n_tags], strlen(s), dag->tags[dag->n_tags]) != 0) {
            free(dag->tags[dag->n_tags]);
            dag->tags[dag->n_tags] = NULL;
            c->oom = true;
            goto out;
        }
        dag->n_tags++;
    }
    ok = true;
out:
    dl_smap_free(&seen);
    return ok;
}

/*
 * Airflow's CronTriggerTimetable(cron, *, timezone, interval=timedelta(),
 * run_immediately=False) as dag-factory writes it ({__type__: ...,
 * __args__: [cron] or cron:, timezone:, interval:}), kept as the schedule
 * text "@trigger <cron> [interval=<delta>] timezone=<zone>" (model/cron.h).
 * run_immediately only matters for a DAG without start_date, which updraft
 * does not schedule: anything but false is refused.
 */
static bool parse_trigger_timetable(ctx_t *c, const ynode_t *v, dag_t *dag)
{
    const ynode_t *cron = NULL, *zone = NULL, *interval = NULL;
    const char *cron_s, *zone_s;
    char text[512], iv[32] = "", err[256];
    schedule_t sched;
    schedule_tz_t *tz = NULL;

    for (size_t i = 0; i < MAP_PAIRS(v); i++) {
        const ynode_t *k = MAP_KEY(v, i), *x = MAP_VAL(v, i);
        if (dl_key_is(k, "__type__"))
            continue;
        if (dl_key_is(k, "__args__")) {
            if (x->kind != Y_SEQ || x->n != 1) {
                ERR(c, x,
                    "CronTriggerTimetable of dag '%s' takes one positional argument, "
                    "the cron expression",
                    dag->dag_id);
                return false;
            }
            cron = x->kids[0];
        } else if (dl_key_is(k, "cron")) {
            cron = x;
        } else if (dl_key_is(k, "timezone")) {
            zone = x;
        } else if (dl_key_is(k, "interval")) {
            interval = x;
        } else if (dl_key_is(k, "run_immediately")) {
            bool b;
            if (!dl_get_bool(c, x, "run_immediately", &b))
                return false;
            if (b) {
                ERR(c, x,
                    "run_immediately of dag '%s' is not supported (it only applies to a "
                    "DAG without start_date, which is not scheduled)",
                    dag->dag_id);
                return false;
            }
        } else {
            ERR(c, k,
                "unknown CronTriggerTimetable argument '%s' (cron, timezone, interval, "
                "run_immediately)",
                dl_key_text(k));
            return false;
        }
    }
    if (!cron) {
        ERR(c, v, "CronTriggerTimetable of dag '%s' needs its cron expression", dag->dag_id);
        return false;
    }
    if (!zone) {
        ERR(c, v, "CronTriggerTimetable of dag '%s' needs a timezone (as timezone: UTC)",
            dag->dag_id);
        return false;
    }
    if (!dl_get_str(c, cron, "cron", &cron_s) || !dl_get_str(c, zone, "timezone", &zone_s))
        return false;
    if (schedule_tz_load(zone_s, &tz, err, sizeof err) != 0) {
        ERR(c, zone, "%s", err);
        return false;
    }
    schedule_tz_free(tz);
    if (strlen(zone_s) > SCHEDULE_ZONE_MAX || strpbrk(zone_s, " \t")) {
        ERR(c, zone, "timezone '%.80s' is not a zone name", zone_s);
        return false;
    }
    if (interval) {
        int secs;
        if (!dl_get_seconds(c, interval, "interval", &secs))
            return false;
        if (secs > 0 && !schedule_format_delta(secs, iv, sizeof iv))
            return false;
    }
    if (schedule_parse(cron_s, &sched, err, sizeof err) != 0) {
        ERR(c, cron, "%s", err);
        return false;
    }
    if (sched.kind != SCHEDULE_CRON) {
        ERR(c, cron, "CronTriggerTimetable of dag '%s' needs a cron expression or preset, not '%s'",
            dag->dag_id, cron_s);
        return false;
    }
    snprintf(text, sizeof text, "@trigger %s%s%s timezone=%s", cron_s, iv[0] ? " interval=" : "",
             iv, zone_s);
    if (schedule_parse(text, &sched, err, sizeof err) != 0) {
        ERR(c, cron, "%s", err);
        return false;
    }
    return dl_set_str(c, &dag->schedule, text);
}

static bool parse_schedule(ctx_t *c, const ynode_t *v, dag_t *dag)
{
    schedule_t sched;
    char err[256];
    const char *s;

    free(dag->schedule);
    dag->schedule = NULL;
    if (dl_is_null(v))
        return true;
    if (v->kind == Y_MAP && dl_key_is(dl_map_get(v, "__type__"), "datetime.timedelta")) {
        /* DeltaDataIntervalTimetable; kept as its canonical text, "1h30m" */
        char text[32];
        int secs;
        if (!dl_get_seconds(c, v, "schedule", &secs))
            return false;
        if (secs <= 0 || !schedule_format_delta(secs, text, sizeof text)) {
            ERR(c, v, "schedule interval of dag '%s' must be positive", dag->dag_id);
            return false;
        }
        return dl_set_str(c, &dag->schedule, text);
    }
    if (v->kind == Y_MAP &&
        (dl_key_is(dl_map_get(v, "__type__"), "airflow.timetables.trigger.CronTriggerTimetable") ||
         dl_key_is(dl_map_get(v, "__type__"), "airflow.sdk.CronTriggerTimetable")))
        return parse_trigger_timetable(c, v, dag);
    if (v->kind != Y_SCALAR) {
        ERR(c, v,
            "schedule of dag '%s' must be a cron expression, a preset, an interval "
            "(datetime.timedelta), a CronTriggerTimetable or null (dataset schedules and "
            "other timetables are not supported yet)",
            dag->dag_id);
        return false;
    }
    if (!dl_get_str(c, v, "schedule", &s))
        return false;
    size_t b = strspn(s, " \t"), e = strlen(s);
    while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t'))
        e--;
    if (e - b == 4 && strncasecmp(s + b, "none", 4) == 0)
        return true;
    if (schedule_parse(s, &sched, err, sizeof err) != 0) {
        ERR(c, v, "%s", err);
        return false;
    }
    if (sched.kind == SCHEDULE_NONE)
        return true;
    return dl_set_str(c, &dag->schedule, s);
}

/*
 * Explicit UTC offset written in a date ("...T10:00:00+02:00", "...Z"):
 * returns true and sets *off (seconds east); false for a naive value.
 */
static bool date_offset(const ynode_t *n, int32_t *off)
{
    char naive[64];
    ts_us_t with, without;
    if (!dl_is_scalar(n) || n->len <= 10 || n->len >= sizeof naive)
        return false;
    size_t cut = strcspn(n->str + 10, "Zz+-") + 10;
    if (cut >= n->len)
        return false;
    memcpy(naive, n->str, cut);
    naive[cut] = '\0';
    if (ts_parse(n->str, &with) != 0 || ts_parse(naive, &without) != 0)
        return false;
    *off = (int32_t)((without - with) / TS_US_PER_SEC);
    return true;
}

/*
 * Reads the naive dates of one level in its zone, as dag-factory does
 * (the wall-clock value is given the zone), and names the zone of its
 * start_date in zone_out (IANA name, "+02:00", or "" for UTC). A date with
 * an explicit offset keeps it. Returns false after reporting an unknown
 * zone.
 */
static bool localize_dates(ctx_t *c, const date_zone_t *dz, ts_us_t *start, ts_us_t *end,
                           char *zone_out, size_t zone_len)
{
    schedule_tz_t *tz = NULL;
    char err[200];
    int32_t off;

    zone_out[0] = '\0';
    if (dz->tz_name && schedule_tz_load(dz->tz_name, &tz, err, sizeof err) != 0) {
        ERR(c, dz->tz_node, "%s", err);
        return false;
    }
    if (tz)
        snprintf(zone_out, zone_len, "%s", dz->tz_name);
    if (dz->start && *start != TS_NONE) {
        if (date_offset(dz->start, &off)) {
            if (off == 0)
                zone_out[0] = '\0';
            else
                snprintf(zone_out, zone_len, "%c%02d:%02d", off < 0 ? '-' : '+', abs(off) / 3600,
                         abs(off) / 60 % 60);
        } else {
            *start = schedule_tz_from_local(tz, *start);
        }
    }
    if (dz->end && *end != TS_NONE && !date_offset(dz->end, &off))
        *end = schedule_tz_from_local(tz, *end);
    schedule_tz_free(tz);
    return true;
}

/* ------------------------------------------------------------------ */
/* What the DAG-level keys leave for later: nodes read once all keys are seen. */
typedef struct dag_level {
    const ynode_t *tasks, *sched, *sched_iv, *timetable, *da, *params, *groups_node;
    const ynode_t
        *doc_file; /* doc_md_file_path: read once every key is seen (it wins over doc_md) */
    bool start_set, end_set, mar_set; /* written at the DAG level */
    date_zone_t dag_dz;
} dag_level_t;

/* The defaults of a DAG and of its tasks (tpl), before any key is read. */
static bool dag_defaults(ctx_t *c, dag_t *dag, const char *dag_id, dag_task_t *tpl)
{
    dag->start_date = dag->end_date = TS_NONE;
    dag->catchup = dag->is_paused_upon_creation = -1;
    dag->max_active_runs = dag->max_active_tasks = 16;
    if (!dl_set_str(c, &dag->dag_id, dag_id) || !dl_set_str(c, &dag->fileloc, c->name))
        return false;
    tpl->retry_delay_sec = 300;
    tpl->skip_on_exit_code[0] = 99; /* BashOperator's default */
    tpl->n_skip_on_exit_code = 1;
    tpl->pool_slots = 1;
    tpl->priority_weight = 1;
    return dl_set_str(c, &tpl->owner, "airflow") && dl_set_str(c, &tpl->queue, "default") &&
           dl_set_str(c, &tpl->pool, "default_pool") &&
           dl_set_str(c, &tpl->trigger_rule, "all_success");
}

/* The DAG-level keys of cfg into dag and lv. false after reporting. */
static bool dag_level_keys(ctx_t *c, const ynode_t *cfg, dag_t *dag, dag_level_t *lv)
{
    bool ok = true;

    dl_warn_dups(c, cfg);
    for (size_t i = 0; i < MAP_PAIRS(cfg); i++) {
        const ynode_t *k = MAP_KEY(cfg, i), *v = MAP_VAL(cfg, i);
        const char *s;
        bool b;
        switch (dl_key_lookup(dag_keys, k)) {
        case K_DESCRIPTION:
            if (dl_is_null(v))
                ok = dl_set_str(c, &dag->description, NULL) && ok;
            else
                ok = dl_get_str(c, v, "description", &s) && dl_set_str(c, &dag->description, s) &&
                     ok;
            break;
        case K_DOC_MD:
            ok = dl_get_doc(c, v, "doc_md", &dag->doc_md) && ok;
            break;
        case K_DOC_MD_FILE:
            lv->doc_file = v;
            break;
        case K_SCHEDULE:
            lv->sched = v;
            break;
        case K_SCHEDULE_INTERVAL:
            lv->sched_iv = v;
            break;
        case K_TIMETABLE:
            lv->timetable = v;
            break;
        case K_START_DATE:
            ok = dl_get_date(c, v, "start_date", &dag->start_date) && ok;
            lv->start_set = true;
            lv->dag_dz.start = v;
            break;
        case K_END_DATE:
            ok = dl_get_date(c, v, "end_date", &dag->end_date) && ok;
            lv->end_set = true;
            lv->dag_dz.end = v;
            break;
        case K_CATCHUP:
            if (dl_get_bool(c, v, "catchup", &b))
                dag->catchup = b;
            else
                ok = false;
            break;
        case K_PAUSED:
            if (dl_get_bool(c, v, "is_paused_upon_creation", &b))
                dag->is_paused_upon_creation = b;
            else
                ok = false;
            break;
        case K_TAGS:
            ok = parse_tags(c, v, dag) && ok;
            break;
        case K_MAX_ACTIVE_RUNS:
            ok = dl_get_int(c, v, "max_active_runs", 1, &dag->max_active_runs) && ok;
            lv->mar_set = true;
            break;
        case K_MAX_ACTIVE_TASKS:
            if (!dl_map_get(cfg, "concurrency"))
                ok = dl_get_int(c, v, "max_active_tasks", 1, &dag->max_active_tasks) && ok;
            break;
        case K_CONCURRENCY:
            WARN(c, k, "'concurrency' is deprecated, use max_active_tasks");
            ok = dl_get_int(c, v, "concurrency", 1, &dag->max_active_tasks) && ok;
            break;
        case K_DEFAULT_ARGS:
            lv->da = v;
            break;
        case K_TASKS:
            lv->tasks = v;
            break;
        case K_TASK_GROUPS:
            lv->groups_node = v;
            break;
        case K_TIMEZONE:
            if (dl_get_str(c, v, "timezone", &lv->dag_dz.tz_name))
                lv->dag_dz.tz_node = v;
            else
                ok = false;
            break;
        case K_PARAMS:
            lv->params = v;
            ok = dl_parse_params(c, v, dag) && ok;
            break;
        case K_DAGRUN_TIMEOUT:
            if (dl_is_null(v))
                dag->dagrun_timeout_sec = 0;
            else
                ok = dl_get_seconds(c, v, "dagrun_timeout", &dag->dagrun_timeout_sec) && ok;
            break;
        case K_DAGRUN_TIMEOUT_SEC:
            ok = dl_get_int(c, v, "dagrun_timeout_sec", 0, &dag->dagrun_timeout_sec) && ok;
            break;
        case K_MAX_CONSEC_FAILED:
            ok = dl_get_int(c, v, "max_consecutive_failed_dag_runs", 0,
                            &dag->max_consecutive_failed_dag_runs) &&
                 ok;
            break;
        case K_DAG_IGNORED:
            WARN(c, k, "ignored key '%s' (not supported yet)", dl_key_text(k));
            break;
        case K_DAG_ON_FAILURE:
            ok = dl_parse_alerts(c, k, v, "failure", &dag->alerts, "the dag") && ok;
            break;
        case K_DAG_ON_SUCCESS:
            ok = dl_parse_alerts(c, k, v, "success", &dag->alerts, "the dag") && ok;
            break;
        case K_DAG_SLA_MISS:
            ok = dl_parse_alerts(c, k, v, "sla_miss", &dag->alerts, "the dag") && ok;
            break;
        default:
            WARN(c, k, "unknown key '%.100s' (ignored)", dl_key_text(k));
            break;
        }
    }
    return ok;
}

/*
 * What needs every DAG-level key: the schedule, default_args, dates and
 * their zone, @continuous, the owner, params' defaults. Clears *ok after
 * reporting; false when the DAG must be dropped now (out of memory).
 */
static bool dag_level_settle(ctx_t *c, const char *dag_id, const ynode_t *idnode, dag_t *dag,
                             dag_task_t *tpl, dag_level_t *lv, bool *ok)
{
    ts_us_t da_start = TS_NONE, da_end = TS_NONE;
    date_zone_t da_dz = {0};
    char dag_zone[64], da_zone[64];

    if (lv->sched && lv->sched_iv)
        WARN(c, lv->sched_iv,
             "both schedule and schedule_interval are set, schedule_interval is ignored");
    if (lv->timetable && !dl_is_null(lv->timetable) && lv->sched && !dl_is_null(lv->sched)) {
        /* Airflow 2's DAG takes one of schedule and timetable */
        ERR(c, lv->timetable, "dag '%s' sets both schedule and timetable, keep one", dag_id);
        *ok = false;
    } else if (lv->timetable && lv->timetable->kind != Y_MAP && !dl_is_null(lv->timetable)) {
        ERR(c, lv->timetable, "timetable of dag '%s' must be a __type__ timetable object", dag_id);
        *ok = false;
    } else if (lv->timetable && !dl_is_null(lv->timetable)) {
        *ok = parse_schedule(c, lv->timetable, dag) && *ok;
    } else if (lv->sched || lv->sched_iv) {
        *ok = parse_schedule(c, lv->sched ? lv->sched : lv->sched_iv, dag) && *ok;
    }
    *ok = dl_parse_default_args(c, lv->da, dag_id, tpl, &da_start, &da_end, &da_dz) && *ok;
    *ok = localize_dates(c, &lv->dag_dz, &dag->start_date, &dag->end_date, dag_zone,
                         sizeof dag_zone) &&
          *ok;
    *ok = localize_dates(c, &da_dz, &da_start, &da_end, da_zone, sizeof da_zone) && *ok;
    if (!lv->start_set)
        dag->start_date = da_start;
    if (!lv->end_set)
        dag->end_date = da_end;
    /* Airflow: the DAG's zone is its start_date's (DAG level first, then
     * default_args); dag-factory gives a naive start_date its timezone */
    {
        const char *zone = lv->start_set ? dag_zone : da_dz.start ? da_zone : dag_zone;
        if (*zone && !dl_set_str(c, &dag->timezone, zone))
            return false;
    }
    if (dag->schedule && strcasecmp(dag->schedule, "@continuous") == 0) {
        /* ContinuousTimetable allows one active run */
        if (lv->mar_set && dag->max_active_runs > 1) {
            ERR(c, idnode, "dag '%s' with schedule @continuous needs max_active_runs 1, not %d",
                dag_id, dag->max_active_runs);
            *ok = false;
        }
        dag->max_active_runs = 1;
    }
    if (!dl_set_str(c, &dag->owner, tpl->owner))
        return false;
    if (dag->params && dag->schedule) {
        /* Airflow: a scheduled DAG's params must all have valid defaults. */
        cJSON *resolved = NULL;
        char perr[256];
        if (dag_params_resolve(dag->params, NULL, &resolved, perr, sizeof perr) < 0) {
            ERR(c, lv->params, "dag '%s' has a schedule, so every param needs a valid default: %s",
                dag_id, perr);
            *ok = false;
        }
        cJSON_Delete(resolved);
    }
    if (dag->start_date != TS_NONE && dag->end_date != TS_NONE && dag->end_date < dag->start_date) {
        ERR(c, idnode, "end_date of dag '%s' is before its start_date", dag_id);
        *ok = false;
    }
    return true;
}

/* The i-th entry of a DAG's tasks (a list or a mapping): its mapping, id node and position. */
static bool task_entry(ctx_t *c, const ynode_t *tasks, size_t i, const char *dag_id,
                       const ynode_t **m, const ynode_t **idn, const ynode_t **at)
{
    if (tasks->kind == Y_SEQ) {
        *m = tasks->kids[i];
        *at = *m;
        if (!*m || (*m)->kind != Y_MAP) {
            ERR(c, *m, "task in dag '%s' must be a mapping, not %s", dag_id, dl_kind_name(*m));
            return false;
        }
        *idn = dl_map_get(*m, "task_id");
        if (!*idn) {
            ERR(c, *m, "task in dag '%s' has no task_id", dag_id);
            return false;
        }
    } else {
        *idn = *at = MAP_KEY(tasks, i);
        *m = MAP_VAL(tasks, i);
        if (!*m || (*m)->kind != Y_MAP) {
            ERR(c, *m, "task '%s' must be a mapping, not %s", dl_key_text(*idn), dl_kind_name(*m));
            return false;
        }
        const ynode_t *own = dl_map_get(*m, "task_id");
        if (own && dl_is_scalar(*idn) && !(dl_is_scalar(own) && strcmp(own->str, (*idn)->str) == 0))
            WARN(c, own, "task_id '%.100s' differs from its key '%.100s', the key is used",
                 dl_is_scalar(own) ? own->str : "?", dl_key_text(*idn));
    }
    return true;
}

/*
 * Every task of a DAG into dag->tasks and srcs (nt entries at most), each
 * starting from its group's defaults or tpl. false after reporting.
 */
static bool parse_tasks(ctx_t *c, const ynode_t *tasks, size_t nt, const char *dag_id, dag_t *dag,
                        const dag_task_t *tpl, const groups_t *gs, task_src_t *srcs)
{
    smap_t seen = {0}, fids = {0};
    bool ok = true;

    if (tasks->kind == Y_MAP) {
        for (size_t i = 0; i < tasks->n_dups; i++) {
            ERR(c, tasks->dups[i], "duplicate task id '%.100s' in dag '%s'",
                dl_key_text(tasks->dups[i]), dag_id);
            ok = false;
        }
    }
    for (size_t i = 0; i < nt && !c->too_complex; i++) {
        const ynode_t *m, *idn, *at;
        const char *tid;
        if (!task_entry(c, tasks, i, dag_id, &m, &idn, &at)) {
            ok = false;
            continue;
        }
        if (!dl_get_id(c, idn, "task_id", &tid)) {
            ok = false;
            continue;
        }
        if (tasks->kind == Y_SEQ && dl_smap_get(&seen, tid, strlen(tid))) {
            ERR(c, idn, "duplicate task id '%s' in dag '%s'", tid, dag_id);
            ok = false;
            continue;
        }
        if (dl_smap_put(&seen, tid, strlen(tid), (void *)idn) != 0) {
            c->oom = true;
            break;
        }
        int gi = dl_task_group_of(c, m, tid, gs), idrc;
        if (gi == -2) {
            ok = false;
            gi = -1;
        }
        if (dl_group_index(gs, tid) >= 0) {
            ERR(c, idn, "task '%s' has the same name as a task group in dag '%s'", tid, dag_id);
            ok = false;
        }
        dag_task_t *t = &dag->tasks[dag->n_tasks];
        task_src_t *src = &srcs[dag->n_tasks];
        dag->n_tasks++;
        src->name = tid;
        src->group = gi;
        if (!dl_task_copy(c, gi >= 0 ? &gs->g[gi].tpl : tpl, t, idn) ||
            (idrc = dl_set_task_id(c, t, tid, idn, gi >= 0 ? &gs->g[gi] : NULL, gs, &fids,
                                   dag_id)) < 0) {
            ok = false;
            continue;
        }
        ok = idrc == 0 && ok;
        ok = dl_parse_task(c, m, tid, at, t, src) && ok;
    }
    dl_smap_free(&seen);
    dl_smap_free(&fids);
    return ok;
}

/*
 * Builds one DAG from its merged mapping. In check_only mode (the file's
 * default: block) only the DAG-level keys are checked and nothing is
 * built. Returns the DAG, or NULL (errors reported, or check_only).
 */
bool dl_get_doc(ctx_t *c, const ynode_t *n, const char *what, char **dst)
{
    const char *s;

    if (dl_is_null(n))
        return dl_set_str(c, dst, NULL);
    if (!dl_get_str(c, n, what, &s))
        return false;
    if (strlen(s) > DAG_DOC_MAX) {
        ERR(c, n, "%s is longer than %d bytes", what, DAG_DOC_MAX);
        return false;
    }
    return dl_set_str(c, dst, s);
}

static bool read_doc_file(ctx_t *c, const ynode_t *v, dag_t *dag);

static dag_t *parse_dag(ctx_t *c, const char *dag_id, const ynode_t *idnode, const ynode_t *cfg,
                        bool check_only)
{
    dag_t *dag = calloc(1, sizeof *dag);
    dag_task_t tpl = {0};
    task_src_t *srcs = NULL;
    groups_t gs = {0};
    dag_level_t lv = {0};
    const ynode_t *tasks;
    bool ok;
    size_t errors_before = c->errors_seen;

    if (!dag) {
        c->oom = true;
        return NULL;
    }
    if (!dag_defaults(c, dag, dag_id, &tpl))
        goto fail;
    ok = dag_level_keys(c, cfg, dag, &lv);
    if (lv.doc_file && !dl_is_null(lv.doc_file))
        ok = read_doc_file(c, lv.doc_file, dag) && ok;
    if (!dag_level_settle(c, dag_id, idnode, dag, &tpl, &lv, &ok))
        goto fail;
    tasks = lv.tasks;
    if (check_only) {
        if (tasks && !dl_is_null(tasks) && tasks->kind == Y_SCALAR) {
            ERR(c, tasks, "tasks must be a list or a mapping, not a scalar");
        }
        goto fail;
    }
    if (dl_is_null(tasks)) {
        ERR(c, idnode, "dag '%s' has no tasks", dag_id);
        goto fail;
    }
    if (tasks->kind == Y_SCALAR) {
        ERR(c, tasks, "tasks of dag '%s' must be a list or a mapping, not a scalar", dag_id);
        goto fail;
    }
    if (!dl_parse_groups(c, lv.groups_node, dag_id, &tpl, &gs))
        goto fail;
    size_t nt = tasks->kind == Y_SEQ ? tasks->n : MAP_PAIRS(tasks);
    if (!dl_spend(c, nt))
        goto fail;
    dag->tasks = calloc(nt ? nt : 1, sizeof *dag->tasks);
    srcs = calloc(nt ? nt : 1, sizeof *srcs);
    if (!dag->tasks || !srcs) {
        c->oom = true;
        goto fail;
    }
    ok = parse_tasks(c, tasks, nt, dag_id, dag, &tpl, &gs, srcs) && ok;
    /* Dependencies are checked even after other errors, to report them all. */
    if (!c->oom && ok && !dl_resolve_expand(c, dag, srcs))
        ok = false;
    /* a budget ran out: tasks may be half built, and the load stops */
    if (c->oom || c->too_complex || !dl_link_tasks(c, dag, srcs, &gs) || !ok ||
        c->errors_seen > errors_before || !dl_check_expand_upstream(c, dag) ||
        !dl_groups_to_dag(c, &gs, dag))
        goto fail;
    dag_task_clear(&tpl);
    dl_groups_free(&gs);
    free(srcs);
    return dag;
fail:
    dag_task_clear(&tpl);
    dl_groups_free(&gs);
    free(srcs);
    dag_free(dag);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* files                                                               */

static int cmp_tag_node(const void *a, const void *b)
{
    return strcmp((*(ynode_t *const *)a)->str, (*(ynode_t *const *)b)->str);
}

/*
 * The union of two tag lists (either may be NULL), each tag once, sorted
 * when every tag is a scalar (a list with another item fails when its DAG
 * reads it, so its order does not matter). Linear but for the sort: a
 * defaults file may list many tags. NULL on OOM.
 */
static ynode_t *union_tags(ctx_t *c, const ynode_t *tags, const ynode_t *ftags)
{
    ynode_t *u = dl_node_new(c, Y_SEQ, ftags->file, ftags->line, ftags->col);
    size_t total = (tags ? tags->n : 0) + ftags->n;
    smap_t seen = {0};
    bool sortable = true;

    if (!u)
        return NULL;
    if (!(u->kids = malloc((total ? total : 1) * sizeof *u->kids))) {
        c->oom = true;
        return NULL;
    }
    u->cap = total;
    for (size_t pass = 0; pass < 2; pass++) {
        const ynode_t *src = pass ? ftags : tags;
        for (size_t j = 0; src && j < src->n; j++) {
            ynode_t *t = src->kids[j];
            if (!dl_is_scalar(t)) {
                u->kids[u->n++] = t; /* reported when the tags are read */
                sortable = false;
                continue;
            }
            if (dl_smap_get(&seen, t->str, t->len))
                continue;
            if (dl_smap_put(&seen, t->str, t->len, t) != 0) {
                c->oom = true;
                dl_smap_free(&seen);
                return NULL;
            }
            u->kids[u->n++] = t;
        }
    }
    dl_smap_free(&seen);
    if (sortable && u->n > 1)
        qsort(u->kids, u->n, sizeof *u->kids, cmp_tag_node);
    return u;
}

/*
 * Combines the defaults.yml mappings (nearest first) into one mapping:
 * keys nearest-wins, default_args nearest-wins key by key, tags unioned
 * and sorted. NULL when there are none.
 */
static ynode_t *combine_defaults_files(ctx_t *c, ynode_t **files, size_t n)
{
    ynode_t *acc = NULL, *da = NULL, *tags = NULL;

    for (size_t i = n; i-- > 0;) {
        ynode_t *f = files[i];
        ynode_t *fda = dl_map_get(f, "default_args");
        ynode_t *ftags = dl_map_get(f, "tags");
        if (!(acc = dl_merge_shallow(c, acc, f, f)))
            return NULL;
        if (fda && fda->kind == Y_MAP && (!da || da->kind == Y_MAP)) {
            if (!(da = dl_merge_shallow(c, da, fda, fda)))
                return NULL;
        } else if (fda) {
            da = fda;
        }
        if (ftags && ftags->kind == Y_SEQ) {
            if (!dl_spend(c, (tags ? tags->n : 0) + ftags->n) ||
                !(tags = union_tags(c, tags, ftags)))
                return NULL;
        } else if (ftags) {
            tags = ftags;
        }
    }
    if (!acc)
        return NULL;
    for (size_t i = 0; i < MAP_PAIRS(acc); i++) {
        if (dl_key_is(MAP_KEY(acc, i), "default_args") && da)
            MAP_VAL(acc, i) = da;
        if (dl_key_is(MAP_KEY(acc, i), "tags") && tags)
            MAP_VAL(acc, i) = tags;
    }
    return acc;
}

/*
 * Each DAG of the file's top-level mapping, with eff (the defaults) merged
 * under it, into out. 0, or -1 when a budget ran out (c->too_complex) or
 * memory did (c->oom).
 */
static int load_dags(ctx_t *c, const ynode_t *root, const ynode_t *eff, dag_list_t *out)
{
    smap_t dup_ids = {0}; /* ids given twice: reported, never loaded */
    int rc = -1;

    for (size_t i = 0; i < root->n_dups; i++) {
        const char *id = root->dups[i]->str;
        if (dl_smap_put(&dup_ids, id, strlen(id), root->dups[i]) != 0) {
            c->oom = true;
            goto out;
        }
    }
    for (size_t i = 0; i < MAP_PAIRS(root); i++) {
        ynode_t *k = MAP_KEY(root, i), *v = MAP_VAL(root, i);
        const char *dag_id;
        if (dl_key_is(k, "default"))
            continue;
        if (dl_key_is(k, "task_groups")) {
            /* reserved by dag-factory, which reads task_groups only inside a DAG */
            WARN(c, k,
                 "top-level 'task_groups' is ignored (put task_groups under a dag or under "
                 "default)");
            continue;
        }
        if (!dl_get_id(c, k, "dag id", &dag_id))
            continue;
        if (dl_smap_get(&dup_ids, dag_id, strlen(dag_id)))
            continue;
        if (!v || v->kind != Y_MAP) {
            ERR(c, k, "dag '%s' must be a mapping, not %s", dag_id, dl_kind_name(v));
            continue;
        }
        ynode_t *cfg = v;
        if (eff && !(cfg = dl_merge_configs(c, v, eff, 0)))
            goto out;
        dag_t *dag = parse_dag(c, dag_id, k, cfg, false);
        if (c->too_complex)
            goto out;
        if (!dag)
            continue;
        if (out->n == out->cap) {
            size_t cap = out->cap ? out->cap * 2 : 4;
            dag_t **items = realloc(out->items, cap * sizeof *items);
            if (!items) {
                dag_free(dag);
                c->oom = true;
                goto out;
            }
            out->items = items;
            out->cap = cap;
        }
        out->items[out->n++] = dag;
    }
    rc = 0;
out:
    dl_smap_free(&dup_ids);
    return rc;
}

/*
 * The loader proper: defaults (already parsed, nearest first) + the file.
 * Returns the number of errors, or -1 when the file cannot be used.
 */
static int load_tree(ctx_t *c, const char *text, size_t len, ynode_t **dfiles, size_t n_dfiles,
                     dag_list_t *out)
{
    ynode_t *root = NULL, *fdefault = NULL, *yml = NULL, *eff = NULL;
    size_t errors_before;

    for (size_t i = 0; i < n_dfiles; i++) {
        errors_before = c->errors;
        dl_warn_dups(c, dfiles[i]);
        parse_dag(c, "default", dfiles[i], dfiles[i], true);
        if (c->errors > errors_before)
            return (int)c->errors;
    }
    if (dl_parse_text(c, c->name, text, len, &root) != 0)
        return c->oom ? -1 : (int)c->errors;
    if (!root || dl_is_null(root))
        return (int)c->errors;
    if (root->kind != Y_MAP) {
        ERR(c, root, "the top level must be a mapping of dag ids to dags, not %s",
            dl_kind_name(root));
        return (int)c->errors;
    }
    for (size_t i = 0; i < root->n_dups; i++)
        ERR(c, root->dups[i], "duplicate dag id '%.100s'", dl_key_text(root->dups[i]));

    /* The file's default: block; an error there fails the whole file. */
    fdefault = dl_map_get(root, "default");
    if (fdefault && !dl_is_null(fdefault)) {
        errors_before = c->errors;
        if (fdefault->kind != Y_MAP) {
            ERR(c, fdefault, "default must be a mapping, not %s", dl_kind_name(fdefault));
            return (int)c->errors;
        }
        dl_warn_dups(c, fdefault);
        parse_dag(c, "default", fdefault, fdefault, true);
        if (c->errors > errors_before || c->oom)
            return c->oom ? -1 : (int)c->errors;
    } else {
        fdefault = NULL;
    }

    /* eff = defaults.yml keys under default:, default_args key by key. */
    if (n_dfiles && !(yml = combine_defaults_files(c, dfiles, n_dfiles)))
        goto budget;
    eff = fdefault;
    if (yml) {
        ynode_t *yda = dl_map_get(yml, "default_args"), *fda = dl_map_get(fdefault, "default_args");
        if (!(eff = dl_merge_shallow(c, yml, fdefault, fdefault ? fdefault : yml)))
            goto budget;
        if (yda && yda->kind == Y_MAP && fda && fda->kind == Y_MAP) {
            ynode_t *m = dl_merge_shallow(c, yda, fda, fda);
            if (!m)
                goto budget;
            for (size_t i = 0; i < MAP_PAIRS(eff); i++)
                if (dl_key_is(MAP_KEY(eff, i), "default_args"))
                    MAP_VAL(eff, i) = m;
        }
    }

    if (load_dags(c, root, eff, out) != 0) {
        if (c->oom)
            return -1;
        goto budget;
    }
    return c->oom ? -1 : (int)c->errors;
budget:
    if (c->oom)
        return -1;
    if (!c->too_big) /* else reported where the bytes ran out */
        ERR(c, root, "document too complex (too many merged or aliased keys)");
    return (int)c->errors;
}

/* Drops the DAGs appended since mark (used when the whole file fails). */
static void list_truncate(dag_list_t *l, size_t mark)
{
    while (l->n > mark)
        dag_free(l->items[--l->n]);
}

static int finish(ctx_t *c, int rc, dag_list_t *out, size_t mark)
{
    if (c->oom) {
        dl_diag_pos(c, c->name, 0, 0, "out of memory while loading the file");
        rc = -1;
    }
    if (rc < 0)
        list_truncate(out, mark);
    dl_ctx_free(c);
    return rc;
}

int dag_load_buffer(const char *name, const char *text, size_t len, const char *env_allowlist,
                    dag_list_t *out, dag_diags_t *diags)
{
    ctx_t c = {.name = name ? name : "<buffer>", .diags = diags, .env_allowlist = env_allowlist};
    size_t mark = out->n;
    int rc = load_tree(&c, text, len, NULL, 0, out);
    return finish(&c, rc, out, mark);
}

/*
 * Reads a whole file with the size limit checked before reading.
 * missing_ok: ENOENT returns 1 quietly. 0 ok, -1 reported.
 */
static int read_file(ctx_t *c, const char *path, bool missing_ok, char **text, size_t *len)
{
    struct stat st;
    char *buf = NULL;
    size_t got = 0;
    int fd, orc = regfile_open(path, 0, &fd, &st);

    *text = NULL;
    if (orc == UPDRAFT_ENOTFOUND && missing_ok)
        return 1;
    if (orc == UPDRAFT_EINVALID) {
        /* a FIFO or a device (or a symlink to one) is never opened to wait */
        dl_diag_pos(c, path, 0, 0, "not a regular file");
        return -1;
    }
    if (orc != UPDRAFT_OK) {
        dl_diag_pos(c, path, 0, 0, "cannot open: %s",
                    strerror(orc == UPDRAFT_ENOTFOUND ? ENOENT : errno));
        return -1;
    }
    if (st.st_size > DAG_FILE_MAX) {
        dl_diag_pos(c, path, 0, 0, "file is larger than %d bytes", DAG_FILE_MAX);
        goto fail;
    }
    if (!(buf = malloc((size_t)st.st_size + 1))) {
        c->oom = true;
        goto fail;
    }
    /* Read at most the limit even if the file grows meanwhile. */
    for (;;) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size + 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            dl_diag_pos(c, path, 0, 0, "cannot read: %s", strerror(errno));
            goto fail;
        }
        if (r == 0)
            break;
        got += (size_t)r;
        if (got > (size_t)st.st_size) {
            dl_diag_pos(c, path, 0, 0, "file changed while it was read");
            goto fail;
        }
    }
    close(fd);
    buf[got] = '\0';
    *text = buf;
    *len = got;
    return 0;
fail:
    free(buf);
    close(fd);
    return -1;
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

/* Whether path lies strictly inside dir (both real paths). */
static bool path_inside(const char *path, const char *dir)
{
    size_t n = strlen(dir);

    if (n == 1 && dir[0] == '/')
        return path[0] == '/' && path[1] != '\0';
    return strncmp(path, dir, n) == 0 && path[n] == '/' && path[n + 1] != '\0';
}

/*
 * doc_md_file_path (dag-factory): the file's text becomes the DAG's
 * doc_md. A relative path is taken from the DAG file's folder; the file
 * must lie inside the DAGs folder (the DAG file's own folder without one),
 * symbolic links resolved, so that a DAG cannot publish other files of the
 * host; it must be UTF-8 text of DAG_DOC_MAX bytes at most.
 */
static bool read_doc_file(ctx_t *c, const ynode_t *v, dag_t *dag)
{
    const char *s;
    char *dir = NULL, *joined = NULL, *real = NULL, *rroot = NULL, *buf = NULL;
    struct stat st;
    size_t got = 0;
    int fd = -1;
    bool ok = false;

    if (!dl_get_str(c, v, "doc_md_file_path", &s))
        return false;
    if (!c->on_disk) {
        ERR(c, v, "doc_md_file_path can only be read for a DAG file");
        return false;
    }
    if (!(dir = dir_of(c->name))) {
        c->oom = true;
        goto out;
    }
    if (s[0] != '/' && asprintf(&joined, "%s/%s", dir, s) < 0) {
        joined = NULL; /* asprintf leaves it undefined on failure */
        c->oom = true;
        goto out;
    }
    rroot = realpath(c->root ? c->root : dir, NULL);
    real = realpath(joined ? joined : s, NULL);
    if (!real) {
        ERR(c, v, "doc_md_file_path '%.200s': %s", s, strerror(errno));
        goto out;
    }
    if (!rroot || !path_inside(real, rroot)) {
        ERR(c, v, "doc_md_file_path '%.200s' is not inside the DAGs folder", s);
        goto out;
    }
    if (regfile_open(real, O_NOFOLLOW, &fd, &st) != UPDRAFT_OK) {
        ERR(c, v, "doc_md_file_path '%.200s' is not a readable regular file", s);
        goto out;
    }
    if (st.st_size > DAG_DOC_MAX) {
        ERR(c, v, "doc_md_file_path '%.200s' is larger than %d bytes", s, DAG_DOC_MAX);
        goto out;
    }
    if (!(buf = malloc((size_t)st.st_size + 1))) {
        c->oom = true;
        goto out;
    }
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            ERR(c, v, "doc_md_file_path '%.200s': %s", s, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    buf[got] = '\0';
    if (strlen(buf) != got || !utf8_valid(buf, got)) {
        ERR(c, v, "doc_md_file_path '%.200s' is not UTF-8 text", s);
        goto out;
    }
    free(dag->doc_md);
    dag->doc_md = buf;
    buf = NULL;
    ok = true;
out:
    if (fd >= 0)
        close(fd);
    free(buf);
    free(real);
    free(rroot);
    free(joined);
    free(dir);
    return ok;
}

/*
 * Lists the folders whose defaults files apply, nearest first: the file's
 * folder and each parent up to root; root alone when it is not an
 * ancestor. Returns a malloc'd array of malloc'd paths, or NULL on OOM.
 */
static char **defaults_dirs(const char *path, const char *root, size_t *n)
{
    char *dir = dir_of(path), *rdir = NULL, *rroot = NULL;
    char **dirs = NULL;
    size_t count = 0, cap = 0;
    bool reached = false;

    *n = 0;
    if (!dir)
        return NULL;
    rdir = realpath(dir, NULL);
    rroot = root ? realpath(root, NULL) : NULL;
    if (!rdir) {
        /* folder vanished: only look at the file's folder as written */
        rdir = dir;
        dir = NULL;
    }
    for (char *cur = rdir;;) {
        if (count + 2 > cap) {
            cap = cap ? cap * 2 : 8;
            char **d = realloc(dirs, cap * sizeof *d);
            if (!d)
                goto oom;
            dirs = d;
        }
        if (!(dirs[count] = strdup(cur)))
            goto oom;
        count++;
        if (!rroot || strcmp(cur, rroot) == 0) {
            reached = true;
            break;
        }
        char *slash = strrchr(cur, '/');
        if (!slash || (slash == cur && cur[1] == '\0'))
            break;
        if (slash == cur)
            slash[1] = '\0';
        else
            *slash = '\0';
    }
    if (!reached && rroot) {
        /* root is not an ancestor: the file's folder and root only */
        for (size_t i = 1; i < count; i++)
            free(dirs[i]);
        count = 1;
        if (!(dirs[count] = strdup(rroot)))
            goto oom;
        count++;
    }
    free(dir);
    free(rdir);
    free(rroot);
    *n = count;
    return dirs;
oom:
    for (size_t i = 0; i < count; i++)
        free(dirs[i]);
    free(dirs);
    free(dir);
    free(rdir);
    free(rroot);
    return NULL;
}

int dag_load_file(const char *path, const char *root, const char *env_allowlist, dag_list_t *out,
                  dag_diags_t *diags)
{
    return dag_load_file_text(path, root, env_allowlist, out, diags, NULL, NULL);
}

int dag_load_file_text(const char *path, const char *root, const char *env_allowlist,
                       dag_list_t *out, dag_diags_t *diags, char **text_out, size_t *len_out)
{
    ctx_t c = {.name = path,
               .diags = diags,
               .env_allowlist = env_allowlist,
               .root = root,
               .on_disk = true};
    size_t mark = out->n, n_dirs = 0, n_dfiles = 0;
    char *text = NULL, **dirs = NULL, **dnames = NULL;
    ynode_t **dfiles = NULL;
    size_t len = 0;
    int rc = -1;

    if (read_file(&c, path, false, &text, &len) != 0)
        goto out;
    if (!(dirs = defaults_dirs(path, root, &n_dirs))) {
        c.oom = true;
        goto out;
    }
    dfiles = calloc(n_dirs ? n_dirs : 1, sizeof *dfiles);
    dnames = calloc(n_dirs ? n_dirs : 1, sizeof *dnames);
    if (!dfiles || !dnames) {
        c.oom = true;
        goto out;
    }
    for (size_t i = 0; i < n_dirs; i++) {
        static const char *const names[] = {"defaults.yml", "defaults.yaml"};
        for (size_t j = 0; j < 2; j++) {
            char *dpath = NULL, *dtext = NULL;
            size_t dlen = 0;
            ynode_t *droot = NULL;
            if (asprintf(&dpath, "%s/%s", dirs[i], names[j]) < 0) {
                c.oom = true;
                goto out;
            }
            dnames[n_dfiles] = dpath; /* owned from here; nodes point to it */
            int r = read_file(&c, dpath, true, &dtext, &dlen);
            if (r == 1) {
                free(dpath);
                dnames[n_dfiles] = NULL;
                continue;
            }
            if (r != 0) {
                n_dfiles++;
                rc = c.oom ? -1 : (int)c.errors;
                goto out;
            }
            n_dfiles++;
            int pr = dl_parse_text(&c, dpath, dtext, dlen, &droot);
            free(dtext);
            if (pr != 0) {
                rc = c.oom ? -1 : (int)c.errors;
                goto out;
            }
            if (droot && !dl_is_null(droot) && droot->kind != Y_MAP) {
                ERR(&c, droot, "a defaults file must be a mapping, not %s", dl_kind_name(droot));
                rc = (int)c.errors;
                goto out;
            }
            if (droot && droot->kind == Y_MAP)
                dfiles[n_dfiles - 1] = droot;
            break; /* defaults.yml wins over defaults.yaml in the same folder */
        }
    }
    /* compact: drop empty defaults files, keep nearest-first order */
    size_t nd = 0;
    ynode_t **compact = calloc(n_dfiles ? n_dfiles : 1, sizeof *compact);
    if (!compact) {
        c.oom = true;
        goto out;
    }
    for (size_t i = 0; i < n_dfiles; i++)
        if (dfiles[i])
            compact[nd++] = dfiles[i];
    rc = load_tree(&c, text, len, compact, nd, out);
    free(compact);
out:
    rc = finish(&c, rc, out, mark);
    for (size_t i = 0; dnames && i < n_dfiles; i++)
        free(dnames[i]);
    free(dnames);
    free(dfiles);
    for (size_t i = 0; i < n_dirs; i++)
        free(dirs[i]);
    free(dirs);
    if (text_out) {
        *text_out = text;
        *len_out = text ? len : 0;
    } else {
        free(text);
    }
    return rc;
}

bool dag_is_dag_file(const char *filename)
{
    const char *base = strrchr(filename, '/');
    size_t n;

    base = base ? base + 1 : filename;
    n = strlen(base);
    if (base[0] == '.')
        return false;
    if (strcmp(base, "defaults.yml") == 0 || strcmp(base, "defaults.yaml") == 0)
        return false;
    return (n > 5 && strcmp(base + n - 5, ".yaml") == 0) ||
           (n > 4 && strcmp(base + n - 4, ".yml") == 0);
}
