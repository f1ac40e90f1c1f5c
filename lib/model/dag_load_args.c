/*
 * dag_load_args.c - the loader's operator arguments: reading an argument
 * by its operator_arg_t type, expand/partial (dynamic task mapping) and
 * their XCom references.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/dag_load_int.h"

/* The first operator that takes argument name (default_args carry arguments for any). */
const operator_arg_t *dl_any_operator_arg(const char *name, dag_operator_t *op)
{
    for (int o = 0; o < DAG_OP_COUNT; o++) {
        const operator_arg_t *a = operator_find_arg((dag_operator_t)o, name);
        if (a) {
            *op = (dag_operator_t)o;
            return a;
        }
    }
    return NULL;
}

/* Reads one operator argument by its type into *out (a new JSON value). */
bool dl_read_arg(ctx_t *c, const operator_arg_t *a, const ynode_t *v, const char *what, cJSON **out)
{
    const char *s;
    bool b;
    int i;

    *out = NULL;
    if (dl_is_null(v)) {
        *out = cJSON_CreateNull();
    } else {
        switch (a->type) {
        case ARG_STRING:
            if (!dl_get_str(c, v, what, &s))
                return false;
            *out = cJSON_CreateString(s);
            break;
        case ARG_INT:
            if (!dl_get_int(c, v, what, 0, &i))
                return false;
            *out = cJSON_CreateNumber(i);
            break;
        case ARG_SECONDS:
            if (!dl_get_seconds(c, v, what, &i))
                return false;
            *out = cJSON_CreateNumber(i);
            break;
        case ARG_BOOL:
            if (!dl_get_bool(c, v, what, &b))
                return false;
            *out = cJSON_CreateBool(b);
            break;
        case ARG_STRING_LIST:
            if (dl_is_scalar(v)) {
                if (!dl_get_str(c, v, what, &s))
                    return false;
                if ((*out = cJSON_CreateArray()))
                    cJSON_AddItemToArray(*out, cJSON_CreateString(s));
                break;
            }
            if (v->kind != Y_SEQ) {
                ERR(c, v, "%s must be a list of strings", what);
                return false;
            }
            *out = cJSON_CreateArray();
            for (size_t k = 0; *out && k < v->n; k++) {
                if (!dl_get_str(c, v->kids[k], what, &s)) {
                    cJSON_Delete(*out);
                    *out = NULL;
                    return false;
                }
                cJSON_AddItemToArray(*out, cJSON_CreateString(s));
            }
            break;
        case ARG_OBJECT:
            if (v->kind != Y_MAP) {
                ERR(c, v, "%s must be a mapping, not %s", what, dl_kind_name(v));
                return false;
            }
            /* fall through */
        case ARG_ANY:
            if (!(*out = dl_node_to_json(c, v, 1)))
                return false;
            break;
        }
    }
    if (!*out)
        c->oom = true;
    return *out != NULL;
}

/* Sets args[name] = val (taking val); false on OOM. */
bool dl_args_set(ctx_t *c, cJSON **args, const char *name, cJSON *val)
{
    if (!*args && !(*args = cJSON_CreateObject())) {
        cJSON_Delete(val);
        c->oom = true;
        return false;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(*args, name);
    if (!cJSON_AddItemToObject(*args, name, val)) {
        cJSON_Delete(val);
        c->oom = true;
        return false;
    }
    return true;
}

/*
 * An XCom reference in expand, as dag-factory writes it: "task.output",
 * "XcomArg(task)" or "+task". The task name (as written) goes to name.
 */
static bool xcom_ref(const char *s, char *name, size_t cap)
{
    size_t len = strlen(s);
    const char *p = s;
    size_t n = 0;
    if (len > 7 && strcmp(s + len - 7, ".output") == 0) {
        n = len - 7;
    } else if (len > 9 && (strncmp(s, "XcomArg(", 8) == 0 || strncmp(s, "XComArg(", 8) == 0) &&
               s[len - 1] == ')') {
        p = s + 8;
        n = len - 9;
    } else if (len > 1 && s[0] == '+') {
        p = s + 1;
        n = len - 1;
    } else {
        return false;
    }
    if (n == 0 || n >= cap)
        return false;
    memcpy(name, p, n);
    name[n] = '\0';
    return true;
}

/*
 * expand: {field: [values...] | "<task>.output"}. Literal lists are kept
 * as arrays; an XCom reference becomes {"xcom_task": name as written}
 * (resolve_expand makes it the full task id once every task is known).
 */
bool dl_parse_expand(ctx_t *c, const ynode_t *v, dag_task_t *t, const char *tid, dag_operator_t op)
{
    if (v->kind != Y_MAP || MAP_PAIRS(v) == 0) {
        ERR(c, v, "expand of task '%s' must be a mapping of argument names to lists", tid);
        return false;
    }
    dl_warn_dups(c, v);
    cJSON *e = cJSON_CreateObject();
    if (!e) {
        c->oom = true;
        return false;
    }
    for (size_t i = 0; i < MAP_PAIRS(v); i++) {
        const ynode_t *k = MAP_KEY(v, i), *val = MAP_VAL(v, i);
        char name[DAG_ID_MAX + 1];
        cJSON *item = NULL;
        if (!dl_is_scalar(k) || !dag_expandable_field(op, k->str)) {
            ERR(c, k, "task '%s' cannot expand over '%.100s' (%s expands over: %s)", tid,
                dl_key_text(k), operator_class_name(op),
                operator_takes_bash(op) ? "bash_command, env" : "its templated arguments");
            cJSON_Delete(e);
            return false;
        }
        if (dl_is_scalar(val) && !dl_is_null(val) && xcom_ref(val->str, name, sizeof name)) {
            item = cJSON_CreateObject();
            if (item && !cJSON_AddStringToObject(item, "xcom_task", name)) {
                cJSON_Delete(item);
                item = NULL;
            }
        } else if (val->kind == Y_SEQ) {
            if (val->n > OPERATOR_MAP_LITERAL_MAX) {
                ERR(c, val, "expand of task '%s' has %zu values (at most %d)", tid, val->n,
                    OPERATOR_MAP_LITERAL_MAX);
                cJSON_Delete(e);
                return false;
            }
            if (!(item = dl_node_to_json(c, val, 1))) {
                cJSON_Delete(e);
                return false;
            }
        } else {
            ERR(c, val,
                "expand '%s' of task '%s' must be a list, or an upstream task's output "
                "('<task_id>.output', 'XcomArg(<task_id>)' or '+<task_id>')",
                dl_key_text(k), tid);
            cJSON_Delete(e);
            return false;
        }
        if (!item || !cJSON_AddItemToObject(e, k->str, item)) {
            cJSON_Delete(item);
            cJSON_Delete(e);
            c->oom = true;
            return false;
        }
    }
    cJSON_Delete(t->expand);
    t->expand = e;
    return true;
}

/*
 * Makes expand's XCom references full task ids (before link_tasks
 * reorders the tasks, while tasks[i] is srcs[i]).
 */
bool dl_resolve_expand(ctx_t *c, dag_t *dag, const task_src_t *srcs)
{
    bool ok = true;
    for (size_t i = 0; i < dag->n_tasks; i++) {
        cJSON *it;
        cJSON_ArrayForEach(it, dag->tasks[i].expand)
        {
            cJSON *ref = cJSON_GetObjectItemCaseSensitive(it, "xcom_task");
            if (!cJSON_IsString(ref))
                continue;
            size_t j = 0;
            while (j < dag->n_tasks && strcmp(srcs[j].name, ref->valuestring) != 0)
                j++;
            if (j == dag->n_tasks) {
                dl_diag_pos(c, srcs[i].at->file ? srcs[i].at->file : c->name, dag->tasks[i].line,
                            dag->tasks[i].col, "expand of task '%s' refers to unknown task '%s'",
                            srcs[i].name, ref->valuestring);
                ok = false;
                continue;
            }
            if (dag->tasks[j].expand) {
                dl_diag_pos(
                    c, srcs[i].at->file ? srcs[i].at->file : c->name, dag->tasks[i].line,
                    dag->tasks[i].col,
                    "expand of task '%s' uses the output of mapped task '%s' (not supported)",
                    srcs[i].name, ref->valuestring);
                ok = false;
                continue;
            }
            if (!cJSON_ReplaceItemInObjectCaseSensitive(
                    it, "xcom_task", cJSON_CreateString(dag->tasks[j].task_id))) {
                c->oom = true;
                return false;
            }
        }
    }
    return ok;
}

/* After link_tasks: a task expanding over another's output must depend on it. */
bool dl_check_expand_upstream(ctx_t *c, const dag_t *dag)
{
    bool ok = true;
    for (size_t i = 0; i < dag->n_tasks; i++) {
        const dag_task_t *t = &dag->tasks[i];
        const cJSON *it;
        cJSON_ArrayForEach(it, t->expand)
        {
            const cJSON *ref = cJSON_GetObjectItemCaseSensitive(it, "xcom_task");
            if (!cJSON_IsString(ref))
                continue;
            bool found = false;
            for (size_t u = 0; u < t->n_upstream && !found; u++)
                found = strcmp(t->upstream[u], ref->valuestring) == 0;
            if (!found) {
                dl_diag_pos(c, dag->fileloc, t->line, t->col,
                            "task '%s' expands over the output of '%s', which must be in its "
                            "dependencies",
                            t->task_id, ref->valuestring);
                ok = false;
            }
        }
    }
    return ok;
}
