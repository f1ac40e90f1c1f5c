/*
 * op_sensors.c - the pokes of FileSensor, ExternalTaskSensor,
 * TimeDeltaSensor and DateTimeSensor, as Airflow's sensors decide them.
 *
 * FileSensor: filepath is a glob (joined to the path in the extra of
 * fs_conn_id when that is given and filepath is relative). Done when a
 * match is a regular file, or a directory with a file anywhere below it.
 * Without recursive it is glob(3) (so "**" is "*"); with recursive a "**"
 * component matches zero or more directories, as Python's glob: the tree
 * is walked component by component with fnmatch, hidden names matched only
 * by patterns that start with a dot, symbolic links to directories not
 * followed, and the walk bounded in entries and depth.
 *
 * ExternalTaskSensor: reads updraft's own tables (metadata_db) with
 * parameters only. The date watched is the task's logical date minus
 * execution_delta; the run is the external DAG's run at that logical date.
 * Watched are the tasks named (every map index of each), the tasks of a
 * task group (task ids "<group>."...), or else the run itself. Any in
 * failed_states fails the try, then any in skipped_states skips it, then
 * all in allowed_states (default success) is done; anything else (no run
 * yet, a task without a row) pokes again. check_existence fails at once
 * when the DAG, or a named task or the group in its latest version, does
 * not exist.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <glob.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/db.h"
#include "core/timeutil.h"
#include "store/dagrun.h"
#include "store/dags.h"
#include "model/connclient.h"
#include "worker/op_util.h"
#include "worker/ops.h"

#define SENSOR_WHO "sensor"
#define WALK_MAX_ENTRIES 1000000L
#define WALK_MAX_DEPTH 128
#define WALK_MAX_COMPONENTS 256

/* ---- FileSensor ---------------------------------------------------------- */

typedef struct walk {
    const ops_ctx_t *c;
    long entries; /* directory entries seen, against WALK_MAX_ENTRIES */
    bool exhausted;
    char found[PATH_MAX];
} walk_t;

static bool budget_left(walk_t *w)
{
    if (++w->entries > WALK_MAX_ENTRIES) {
        if (!w->exhausted)
            opu_log(w->c, SENSOR_WHO, "WARNING",
                    "stopped looking after %ld directory entries; poking again later",
                    WALK_MAX_ENTRIES);
        w->exhausted = true;
    }
    return !w->exhausted;
}

/* Whether the directory path holds a non-directory anywhere below it (os.walk's files). */
static bool dir_has_file(walk_t *w, const char *path, int depth)
{
    DIR *d;
    struct dirent *e;
    char sub[PATH_MAX];
    bool found = false;

    if (depth > WALK_MAX_DEPTH || !(d = opendir(path)))
        return false;
    while (!found && (e = readdir(d))) {
        struct stat st, lst;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (!budget_left(w))
            break;
        if (snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) >= (int)sizeof sub)
            continue;
        if (lstat(sub, &lst) < 0)
            continue;
        bool is_dir = S_ISDIR(lst.st_mode) ||
                      (S_ISLNK(lst.st_mode) && stat(sub, &st) == 0 && S_ISDIR(st.st_mode));
        if (!is_dir) {
            snprintf(w->found, sizeof w->found, "%s", sub);
            found = true;
        } else if (S_ISDIR(lst.st_mode)) { /* links to directories are not followed */
            found = dir_has_file(w, sub, depth + 1);
        }
    }
    closedir(d);
    return found;
}

/* A glob match decides: a regular file, or a directory with a file in it. */
static bool match_counts(walk_t *w, const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return false;
    if (S_ISREG(st.st_mode)) {
        char when[TS_ISO_LEN];
        opu_log(w->c, SENSOR_WHO, "INFO", "Found File %s last modified: %s", path,
                ts_format_iso_sec((ts_us_t)st.st_mtime * TS_US_PER_SEC, when));
        return true;
    }
    if (S_ISDIR(st.st_mode) && dir_has_file(w, path, 0)) {
        opu_log(w->c, SENSOR_WHO, "INFO", "Found directory %s holding %s", path, w->found);
        return true;
    }
    return false;
}

static bool has_magic(const char *s)
{
    return strpbrk(s, "*?[") != NULL;
}

static void join_path(char *out, size_t len, const char *dir, const char *name, bool *ok)
{
    int n;
    if (!strcmp(dir, "."))
        n = snprintf(out, len, "%s", name);
    else if (dir[0] && dir[strlen(dir) - 1] == '/')
        n = snprintf(out, len, "%s%s", dir, name);
    else
        n = snprintf(out, len, "%s/%s", dir, name);
    *ok = n >= 0 && (size_t)n < len;
}

/*
 * Python's recursive glob over the components comps[i..n) below path
 * (already matched). true when a match counts (match_counts).
 */
static bool walk_glob(walk_t *w, const char *path, char **comps, int i, int n, int depth)
{
    char sub[PATH_MAX];
    bool ok, found = false;
    DIR *d;
    struct dirent *e;

    if (w->exhausted || depth > WALK_MAX_DEPTH)
        return false;
    if (i == n)
        return match_counts(w, path);
    const char *comp = comps[i];
    if (!strcmp(comp, "**")) {
        if (walk_glob(w, path, comps, i + 1, n, depth + 1)) /* zero directories */
            return true;
        if (!(d = opendir(path)))
            return false;
        while (!found && (e = readdir(d))) {
            struct stat lst;
            if (e->d_name[0] == '.' || !budget_left(w))
                continue;
            join_path(sub, sizeof sub, path, e->d_name, &ok);
            if (ok && lstat(sub, &lst) == 0 && S_ISDIR(lst.st_mode))
                found = walk_glob(w, sub, comps, i, n, depth + 1); /* one more directory */
        }
        closedir(d);
        return found;
    }
    if (!has_magic(comp)) {
        struct stat lst;
        join_path(sub, sizeof sub, path, comp, &ok);
        return ok && lstat(sub, &lst) == 0 && walk_glob(w, sub, comps, i + 1, n, depth + 1);
    }
    if (!(d = opendir(path)))
        return false;
    while (!found && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !budget_left(w))
            continue;
        if (fnmatch(comp, e->d_name, FNM_PERIOD) != 0)
            continue;
        join_path(sub, sizeof sub, path, e->d_name, &ok);
        if (ok)
            found = walk_glob(w, sub, comps, i + 1, n, depth + 1);
    }
    closedir(d);
    return found;
}

/* The recursive glob of pattern: split into components, walked from / or from the cwd. */
static bool recursive_glob(walk_t *w, const char *pattern)
{
    char *copy = strdup(pattern), *save = NULL, *tok;
    char *comps[WALK_MAX_COMPONENTS];
    int n = 0;
    bool found = false;

    if (!copy) {
        opu_log(w->c, SENSOR_WHO, "ERROR", "out of memory");
        return false;
    }
    for (tok = strtok_r(copy, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
        if (n == WALK_MAX_COMPONENTS) {
            opu_log(w->c, SENSOR_WHO, "ERROR", "filepath has too many components");
            goto out;
        }
        /* "**" twice in a row matches what one does */
        if (!strcmp(tok, "**") && n > 0 && !strcmp(comps[n - 1], "**"))
            continue;
        comps[n++] = tok;
    }
    found = walk_glob(w, pattern[0] == '/' ? "/" : ".", comps, 0, n, 0);
out:
    free(copy);
    return found;
}

ops_poke_t op_file_poke(const ops_ctx_t *c)
{
    const char *filepath = opu_arg_str(c, "filepath", NULL);
    const char *conn_id = opu_arg_conn_id(c, "fs_conn_id", NULL);
    char full[PATH_MAX];
    walk_t w = {.c = c};
    bool found = false;

    if (!filepath || !*filepath) {
        opu_log(c, SENSOR_WHO, "ERROR", "FileSensor needs filepath");
        return OPS_POKE_FAIL;
    }
    const char *base = "";
    cJSON *extra = NULL;
    if (conn_id) {
        const cJSON *conn = ops_connection(c, conn_id);
        bool bad;
        if (!conn) {
            opu_log(c, SENSOR_WHO, "ERROR", "the connection '%s' is not defined", conn_id);
            return OPS_POKE_FAIL;
        }
        extra = connclient_extra(conn, &bad);
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(extra, "path");
        if (cJSON_IsString(p) && p->valuestring)
            base = p->valuestring;
    }
    int len;
    if (filepath[0] == '/' || !*base)
        len = snprintf(full, sizeof full, "%s", filepath);
    else
        len = snprintf(full, sizeof full, "%s%s%s", base, base[strlen(base) - 1] == '/' ? "" : "/",
                       filepath);
    cJSON_Delete(extra);
    if (len < 0 || (size_t)len >= sizeof full) {
        opu_log(c, SENSOR_WHO, "ERROR", "filepath is longer than %d bytes", PATH_MAX - 1);
        return OPS_POKE_FAIL;
    }
    opu_log(c, SENSOR_WHO, "INFO", "Poking for file %s", full);

    if (opu_arg_bool(c, "recursive", false) && strstr(full, "**")) {
        found = recursive_glob(&w, full);
    } else {
        glob_t g;
        int rc = glob(full, 0, NULL, &g);
        if (rc == 0) {
            for (size_t i = 0; !found && i < g.gl_pathc; i++)
                found = match_counts(&w, g.gl_pathv[i]);
            globfree(&g);
        } else if (rc == GLOB_NOSPACE) {
            opu_log(c, SENSOR_WHO, "ERROR", "out of memory matching %s", full);
            return OPS_POKE_FAIL;
        } else if (rc == GLOB_ABORTED) {
            opu_log(c, SENSOR_WHO, "WARNING", "could not read a directory matching %s", full);
        }
    }
    if (!found)
        opu_log(c, SENSOR_WHO, "INFO", "Nothing matches %s yet", full);
    return found ? OPS_POKE_DONE : OPS_POKE_NOT_YET;
}

/* ---- ExternalTaskSensor ------------------------------------------------- */

static bool state_in(const cJSON *states, const char *s)
{
    const cJSON *it;
    cJSON_ArrayForEach(it,
                       states) if (cJSON_IsString(it) && !strcmp(it->valuestring, s)) return true;
    return false;
}

/* A states argument as a list of strings, or def (a copy either way); NULL on OOM. */
static cJSON *states_arg(const ops_ctx_t *c, const char *name, const char *def)
{
    const cJSON *v = opu_arg(c, name);
    if (cJSON_IsString(v)) {
        cJSON *l = cJSON_CreateArray(), *s = l ? cJSON_CreateString(v->valuestring) : NULL;
        if (!s) {
            cJSON_Delete(l);
            return NULL;
        }
        cJSON_AddItemToArray(l, s);
        return l;
    }
    if (cJSON_IsArray(v))
        return cJSON_Duplicate(v, 1);
    if (!def)
        return cJSON_CreateArray();
    const char *one[] = {def};
    return cJSON_CreateStringArray(one, 1);
}

static char *pg_array(const cJSON *list)
{
    strbuf_t b = {0};
    opu_buf_pgarray(&b, list);
    return strbuf_take(&b);
}

/*
 * Fails the poke when the DAG, a named task or the task group does not
 * exist in the DAG's latest version. OPS_POKE_NOT_YET = all there.
 */
static ops_poke_t check_existence(const ops_ctx_t *c, db_t *db, const char *dag_id,
                                  const cJSON *task_ids, const char *group)
{
    ops_poke_t v = OPS_POKE_FAIL;
    char *json = NULL, *missing = NULL;
    bool exists = false;

    if (dags_exists(db, dag_id, &exists) != 0) {
        opu_log(c, SENSOR_WHO, "ERROR", "could not read the dag table: %s", db_error(db));
        return OPS_POKE_FAIL;
    }
    if (!exists) {
        opu_log(c, SENSOR_WHO, "ERROR", "The external DAG %s does not exist.", dag_id);
        return OPS_POKE_FAIL;
    }
    if (task_ids) {
        if (!(json = cJSON_PrintUnformatted(task_ids)))
            goto oom;
        int rc = dags_latest_missing_task(db, dag_id, json, &missing);
        if (rc == UPDRAFT_ENOMEM)
            goto oom;
        if (rc != 0) {
            opu_log(c, SENSOR_WHO, "ERROR", "could not read the DAG's tasks: %s", db_error(db));
            goto out;
        }
        if (missing) {
            opu_log(c, SENSOR_WHO, "ERROR", "The external task %s in DAG %s does not exist.",
                    missing, dag_id);
            goto out;
        }
    } else if (group) {
        if (dags_latest_has_group(db, dag_id, group, &exists) != 0) {
            opu_log(c, SENSOR_WHO, "ERROR", "could not read the DAG's tasks: %s", db_error(db));
            goto out;
        }
        if (!exists) {
            opu_log(c, SENSOR_WHO, "ERROR",
                    "The external task group '%s' in DAG %s does not exist.", group, dag_id);
            goto out;
        }
    }
    v = OPS_POKE_NOT_YET;
    goto out;
oom:
    opu_log(c, SENSOR_WHO, "ERROR", "out of memory");
out:
    free(json);
    free(missing);
    return v;
}

/* The DAG run itself: its state decides. */
static ops_poke_t poke_dag_run(const ops_ctx_t *c, db_t *db, const char *dag_id, const char *date,
                               const cJSON *allowed, const cJSON *failed, const cJSON *skipped)
{
    char st[64];
    ops_poke_t v = OPS_POKE_NOT_YET;
    int rc = dagrun_state_at(db, dag_id, date, st, sizeof(st));
    if (rc != 0 && rc != UPDRAFT_ENOTFOUND) {
        opu_log(c, SENSOR_WHO, "ERROR", "could not read dag_run: %s", db_error(db));
        return OPS_POKE_FAIL;
    }
    if (rc == UPDRAFT_ENOTFOUND) {
        opu_log(c, SENSOR_WHO, "INFO", "No run of DAG %s on %s yet", dag_id, date);
    } else if (state_in(failed, st)) {
        opu_log(c, SENSOR_WHO, "ERROR", "The external DAG %s failed (state %s).", dag_id, st);
        v = OPS_POKE_FAIL;
    } else if (state_in(skipped, st)) {
        opu_log(c, SENSOR_WHO, "INFO", "The external DAG %s reached skipped state %s.", dag_id, st);
        v = OPS_POKE_SKIP;
    } else if (state_in(allowed, st)) {
        opu_log(c, SENSOR_WHO, "INFO", "The external DAG %s is %s.", dag_id, st);
        v = OPS_POKE_DONE;
    } else {
        opu_log(c, SENSOR_WHO, "INFO", "The external DAG %s is %s; waiting", dag_id, st);
    }
    return v;
}

/* Tasks (named, or a group's): counts per task id decide. */
static ops_poke_t poke_tasks(const ops_ctx_t *c, db_t *db, const char *dag_id, const char *date,
                             const cJSON *task_ids, const char *group, const cJSON *allowed,
                             const cJSON *failed, const cJSON *skipped)
{
    char *ids = NULL, *a = NULL, *f = NULL, *s = NULL;
    dagrun_counts_t *counts = NULL;
    size_t rows = 0;
    ops_poke_t v = OPS_POKE_FAIL;
    strbuf_t failed_list = {0}, skipped_list = {0};

    if ((task_ids && !(ids = cJSON_PrintUnformatted(task_ids))) || !(a = pg_array(allowed)) ||
        !(f = pg_array(failed)) || !(s = pg_array(skipped))) {
        opu_log(c, SENSOR_WHO, "ERROR", "out of memory");
        goto out;
    }
    int rc = dagrun_task_counts(db, dag_id, date, ids, group, a, f, s, &counts, &rows);
    if (rc == UPDRAFT_ENOMEM) {
        opu_log(c, SENSOR_WHO, "ERROR", "out of memory");
        goto out;
    }
    if (rc != 0) {
        opu_log(c, SENSOR_WHO, "ERROR", "could not read task_instance: %s", db_error(db));
        goto out;
    }
    int n_failed = 0, n_skipped = 0;
    bool all_allowed = rows > 0;
    for (size_t i = 0; i < rows; i++) {
        const char *tid = counts[i].task_id;
        if (counts[i].failed > 0) {
            strbuf_puts(&failed_list, n_failed++ ? ", " : "");
            strbuf_puts(&failed_list, tid);
        }
        if (counts[i].skipped > 0) {
            strbuf_puts(&skipped_list, n_skipped++ ? ", " : "");
            strbuf_puts(&skipped_list, tid);
        }
        if (counts[i].allowed < counts[i].total)
            all_allowed = false;
    }
    /* every named task must have its rows */
    if (task_ids && rows < (size_t)cJSON_GetArraySize(task_ids))
        all_allowed = false;
    if (failed_list.oom || skipped_list.oom) {
        opu_log(c, SENSOR_WHO, "ERROR", "out of memory");
        goto out;
    }
    if (n_failed) {
        if (group)
            opu_log(c, SENSOR_WHO, "ERROR",
                    "The external task_group '%s' in DAG '%s' failed (tasks: %s).", group, dag_id,
                    failed_list.s);
        else
            opu_log(c, SENSOR_WHO, "ERROR", "Some of the external tasks in DAG %s failed: %s.",
                    dag_id, failed_list.s);
        v = OPS_POKE_FAIL;
    } else if (n_skipped) {
        opu_log(c, SENSOR_WHO, "INFO",
                "Some of the external tasks in DAG %s reached a skipped state: %s.", dag_id,
                skipped_list.s);
        v = OPS_POKE_SKIP;
    } else if (all_allowed) {
        opu_log(c, SENSOR_WHO, "INFO", "All watched tasks of DAG %s are in an allowed state",
                dag_id);
        v = OPS_POKE_DONE;
    } else {
        opu_log(c, SENSOR_WHO, "INFO", "%d of the watched tasks have rows; not all allowed yet",
                (int)rows);
        v = OPS_POKE_NOT_YET;
    }
out:
    dagrun_counts_free(counts, rows);
    free(strbuf_take(&failed_list));
    free(strbuf_take(&skipped_list));
    free(ids);
    free(a);
    free(f);
    free(s);
    return v;
}

ops_poke_t op_external_task_poke(const ops_ctx_t *c)
{
    const char *dag_id = opu_arg_str(c, "external_dag_id", NULL);
    const char *task_id = opu_arg_str(c, "external_task_id", NULL);
    const cJSON *ids_arg = opu_arg(c, "external_task_ids");
    const char *group = opu_arg_str(c, "external_task_group_id", NULL);
    const char *ld = opu_ctx_str(c, "logical_date");
    cJSON *ids = NULL, *allowed = NULL, *failed = NULL, *skipped = NULL;
    db_t *db = NULL;
    ops_poke_t v = OPS_POKE_FAIL;
    ts_us_t when;
    char date[TS_ISO_LEN], err[512];
    strbuf_t what = {0};

    if (!dag_id || !*dag_id) {
        opu_log(c, SENSOR_WHO, "ERROR", "ExternalTaskSensor needs external_dag_id");
        return OPS_POKE_FAIL;
    }
    if (!c->metadata_db) {
        opu_log(c, SENSOR_WHO, "ERROR", "the runner was not given the metadata database");
        return OPS_POKE_FAIL;
    }
    if (!ld || ts_parse(ld, &when) < 0) {
        opu_log(c, SENSOR_WHO, "ERROR", "the task has no logical date to watch from");
        return OPS_POKE_FAIL;
    }
    double delta = opu_json_seconds(opu_arg(c, "execution_delta"), 0);
    if (delta < -1e12 || delta > 1e12) {
        opu_log(c, SENSOR_WHO, "ERROR", "execution_delta is out of range");
        return OPS_POKE_FAIL;
    }
    when -= (ts_us_t)(delta * (double)TS_US_PER_SEC);
    if (when % TS_US_PER_SEC == 0)
        ts_format_iso_sec(when, date); /* as Airflow's isoformat() */
    else
        ts_format_iso(when, date);

    if (task_id && *task_id) {
        const char *one[] = {task_id};
        ids = cJSON_CreateStringArray(one, 1);
        if (!ids)
            goto oom;
    } else if (cJSON_IsArray(ids_arg) && cJSON_GetArraySize(ids_arg) > 0) {
        if (!(ids = cJSON_Duplicate(ids_arg, 1)))
            goto oom;
    } else if (cJSON_IsString(ids_arg) && *ids_arg->valuestring) {
        const char *one[] = {ids_arg->valuestring};
        if (!(ids = cJSON_CreateStringArray(one, 1)))
            goto oom;
    }
    if (group && !*group)
        group = NULL;
    if (ids)
        group = NULL;
    if (!(allowed = states_arg(c, "allowed_states", "success")) ||
        !(failed = states_arg(c, "failed_states", NULL)) ||
        !(skipped = states_arg(c, "skipped_states", NULL)))
        goto oom;

    const cJSON *it, *jt;
    cJSON_ArrayForEach(it, ids)
    {
        for (jt = it->next; jt; jt = jt->next)
            if (cJSON_IsString(it) && cJSON_IsString(jt) &&
                !strcmp(it->valuestring, jt->valuestring)) {
                opu_log(c, SENSOR_WHO, "ERROR",
                        "Duplicate task_ids passed in external_task_ids parameter");
                goto out;
            }
    }
    cJSON_ArrayForEach(it, allowed)
    {
        if (cJSON_IsString(it) && state_in(failed, it->valuestring)) {
            opu_log(c, SENSOR_WHO, "ERROR",
                    "Duplicate values provided across allowed_states and failed_states.");
            goto out;
        }
    }
    if (ids) {
        strbuf_puts(&what, "tasks ");
        opu_buf_pylist(&what, ids);
        strbuf_puts(&what, " in dag ");
    } else if (group) {
        strbuf_puts(&what, "task_group '");
        strbuf_puts(&what, group);
        strbuf_puts(&what, "' in dag '");
    } else {
        strbuf_puts(&what, "DAG '");
    }
    strbuf_puts(&what, dag_id);
    if (!ids)
        strbuf_puts(&what, "'");
    if (what.oom)
        goto oom;
    opu_log(c, SENSOR_WHO, "INFO", "Poking for %s on %s ... ", what.s, date);

    if (!(db = db_open(
              &(db_target_t){.url = (char *)c->metadata_db, .pooled = c->metadata_db_pooled}, err,
              sizeof err))) {
        opu_log(c, SENSOR_WHO, "ERROR", "could not connect to the metadata database: %s", err);
        goto out;
    }
    if (opu_arg_bool(c, "check_existence", false) &&
        check_existence(c, db, dag_id, ids, group) == OPS_POKE_FAIL)
        goto out;
    if (ids || group)
        v = poke_tasks(c, db, dag_id, date, ids, group, allowed, failed, skipped);
    else
        v = poke_dag_run(c, db, dag_id, date, allowed, failed, skipped);
    goto out;
oom:
    opu_log(c, SENSOR_WHO, "ERROR", "out of memory");
out:
    db_close(db);
    free(strbuf_take(&what));
    cJSON_Delete(ids);
    cJSON_Delete(allowed);
    cJSON_Delete(failed);
    cJSON_Delete(skipped);
    return v;
}

/* ---- TimeDeltaSensor, DateTimeSensor ------------------------------------ */

ops_poke_t op_time_delta_poke(const ops_ctx_t *c)
{
    const char *end = opu_ctx_str(c, "data_interval_end");
    const char *src = "data_interval_end";
    ts_us_t t;
    char when[TS_ISO_LEN];

    if (!end) {
        end = opu_ctx_str(c, "logical_date");
        src = "logical_date";
    }
    if (!end || ts_parse(end, &t) < 0) {
        opu_log(c, SENSOR_WHO, "ERROR", "the task has no %s to count the delta from", src);
        return OPS_POKE_FAIL;
    }
    const cJSON *d = opu_arg(c, "delta");
    double delta = opu_json_seconds(d, NAN);
    if (isnan(delta) || delta < -1e12 || delta > 1e12) {
        opu_log(c, SENSOR_WHO, "ERROR", "delta must be a number of seconds");
        return OPS_POKE_FAIL;
    }
    t += (ts_us_t)(delta * (double)TS_US_PER_SEC);
    opu_log(c, SENSOR_WHO, "INFO", "Checking if the time (%s) has come", ts_format_iso(t, when));
    return ts_now() >= t ? OPS_POKE_DONE : OPS_POKE_NOT_YET;
}

ops_poke_t op_date_time_poke(const ops_ctx_t *c)
{
    const char *target = opu_arg_str(c, "target_time", NULL);
    ts_us_t t;
    char when[TS_ISO_LEN];

    if (!target || ts_parse(target, &t) < 0) {
        opu_log(c, SENSOR_WHO, "ERROR",
                "target_time '%.100s' is not an ISO 8601 date or datetime "
                "(YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS[+HH:MM])",
                target ? target : "");
        return OPS_POKE_FAIL;
    }
    opu_log(c, SENSOR_WHO, "INFO", "Checking if the time (%s) has come", ts_format_iso(t, when));
    return ts_now() >= t ? OPS_POKE_DONE : OPS_POKE_NOT_YET;
}
