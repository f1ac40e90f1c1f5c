/*
 * dag_load_group.c - the loader's task groups: their ids, defaults and
 * nesting, which group a task belongs to, and task ids prefixed by their
 * group (Airflow's TaskGroup).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/dag_load_int.h"

/* ------------------------------------------------------------------ */
/* task groups                                                         */

void dl_groups_free(groups_t *gs)
{
    for (size_t i = 0; i < gs->n; i++) {
        free(gs->g[i].id);
        free(gs->g[i].tooltip);
        dag_task_clear(&gs->g[i].tpl);
    }
    free(gs->g);
    free(gs->order);
    dl_smap_free(&gs->by_name);
    dl_smap_free(&gs->by_id);
    memset(gs, 0, sizeof *gs);
}

/* Whether group inner is outer or nested in it (inner -1: never). */
bool dl_group_contains(const groups_t *gs, int outer, int inner)
{
    for (int x = inner; x >= 0; x = gs->g[x].parent)
        if (x == outer)
            return true;
    return false;
}

int dl_group_index(const groups_t *gs, const char *name)
{
    void *at = dl_smap_get(&gs->by_name, name, strlen(name));
    return at ? (int)((uintptr_t)at - 1) : -1;
}

/* Airflow's validate_group_key: [A-Za-z0-9_-]+, at most 200 characters. */
static bool valid_group_name(const char *s, size_t len, const char **why)
{
    if (len == 0) {
        *why = "it is empty";
        return false;
    }
    if (len > 200) {
        *why = "it is longer than 200 characters";
        return false;
    }
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-') {
            *why = "only letters, digits, '_' and '-' are allowed";
            return false;
        }
    return true;
}

static void group_preorder(groups_t *gs, int parent, size_t *k)
{
    for (size_t i = 0; i < gs->n; i++)
        if (gs->g[i].parent == parent) {
            gs->order[(*k)++] = i;
            group_preorder(gs, (int)i, k);
        }
}

/* A group's default_args over its parent's (or the DAG's) task defaults. */
static bool group_defaults(ctx_t *c, lgroup_t *g, const dag_task_t *base)
{
    bool ok = true, dummy = false;
    const ynode_t *da = g->da;

    if (!dl_task_copy(c, base, &g->tpl, g->at))
        return false;
    if (dl_is_null(da))
        return true;
    if (da->kind != Y_MAP) {
        ERR(c, da, "default_args of task group '%s' must be a mapping, not %s", g->name,
            dl_kind_name(da));
        return false;
    }
    dl_warn_dups(c, da);
    c->defaults_scope = "default_args of task group";
    for (size_t i = 0; i < MAP_PAIRS(da); i++) {
        const ynode_t *k = MAP_KEY(da, i), *v = MAP_VAL(da, i);
        key_id_t id = dl_key_lookup(dl_task_keys, k);
        if (dl_key_is(k, "start_date") || dl_key_is(k, "end_date") || dl_key_is(k, "timezone") ||
            id == K_TASK_IGNORED)
            WARN(c, k, "ignored key '%s' in default_args of task group '%s' (not supported yet)",
                 dl_key_text(k), g->name);
        else if (id == K_TASK_ID || id == K_OPERATOR || id == K_DECORATOR || id == K_DEPENDENCIES ||
                 id == K_TASK_GROUP_NAME)
            WARN(c, k,
                 "ignored key '%s' in default_args of task group '%s' (it only applies to a task)",
                 dl_key_text(k), g->name);
        else if (id == K_UNKNOWN)
            ok = dl_default_arg(c, k, v, &g->tpl, "default_args of a task group") && ok;
        else
            ok = dl_task_apply_key(c, id, k, v, &g->tpl, g->name, true, &dummy) && ok;
    }
    c->defaults_scope = NULL;
    return ok;
}

/*
 * The names of a DAG's n task groups (list or mapping form) into gs, in
 * declaration order. false after reporting, or with c->oom set.
 */
static bool group_names(ctx_t *c, const ynode_t *v, size_t n, const char *dag_id, groups_t *gs)
{
    bool ok = true;

    if (v->kind == Y_MAP)
        for (size_t i = 0; i < v->n_dups; i++) {
            ERR(c, v->dups[i], "duplicate task group '%.100s' in dag '%s'", dl_key_text(v->dups[i]),
                dag_id);
            ok = false;
        }
    for (size_t i = 0; i < n; i++) {
        const ynode_t *m, *namen;
        const char *why;
        if (v->kind == Y_SEQ) {
            m = v->kids[i];
            if (!m || m->kind != Y_MAP) {
                ERR(c, m, "task group in dag '%s' must be a mapping, not %s", dag_id,
                    dl_kind_name(m));
                ok = false;
                continue;
            }
            if (!(namen = dl_map_get(m, "group_name"))) {
                ERR(c, m, "task group in dag '%s' has no group_name", dag_id);
                ok = false;
                continue;
            }
        } else {
            namen = MAP_KEY(v, i);
            m = MAP_VAL(v, i);
            if (!m || m->kind != Y_MAP) {
                ERR(c, m, "task group '%.100s' must be a mapping, not %s", dl_key_text(namen),
                    dl_kind_name(m));
                ok = false;
                continue;
            }
            const ynode_t *own = dl_map_get(m, "group_name");
            if (own && dl_is_scalar(namen) &&
                !(dl_is_scalar(own) && strcmp(own->str, namen->str) == 0))
                WARN(c, own, "group_name '%.100s' differs from its key '%.100s', the key is used",
                     dl_is_scalar(own) ? own->str : "?", dl_key_text(namen));
        }
        if (!dl_is_scalar(namen) || dl_is_null(namen)) {
            ERR(c, namen, "group_name must be a string, not %s", dl_kind_name(namen));
            ok = false;
            continue;
        }
        if (!valid_group_name(namen->str, namen->len, &why)) {
            ERR(c, namen, "invalid task group name '%.80s': %s", namen->str, why);
            ok = false;
            continue;
        }
        if (dl_group_index(gs, namen->str) >= 0) {
            if (v->kind == Y_SEQ)
                ERR(c, namen, "duplicate task group '%s' in dag '%s'", namen->str, dag_id);
            ok = false;
            continue;
        }
        lgroup_t *g = &gs->g[gs->n];
        *g = (lgroup_t){.name = namen->str, .at = namen, .cfg = m, .parent = -1, .prefix = true};
        if (dl_smap_put(&gs->by_name, g->name, namen->len, (void *)(uintptr_t)(gs->n + 1)) != 0) {
            c->oom = true;
            return false;
        }
        gs->n++;
    }
    return ok;
}

/* One task group's keys. false after reporting, or with c->oom set. */
static bool group_keys(ctx_t *c, lgroup_t *g, const groups_t *gs)
{
    static const char *const ignored[] = {"ui_color", "ui_fgcolor", "group_display_name",
                                          "add_suffix_on_collision", NULL};
    const char *s;
    bool b, ok = true;

    dl_warn_dups(c, g->cfg);
    for (size_t j = 0; j < MAP_PAIRS(g->cfg); j++) {
        const ynode_t *k = MAP_KEY(g->cfg, j), *val = MAP_VAL(g->cfg, j);
        bool ign = false;
        for (size_t x = 0; ignored[x]; x++)
            ign = ign || dl_key_is(k, ignored[x]);
        if (dl_key_is(k, "group_name")) {
            continue;
        } else if (dl_key_is(k, "parent_group_name")) {
            if (dl_is_null(val))
                continue;
            if (!dl_get_str(c, val, "parent_group_name", &s)) {
                ok = false;
            } else if ((g->parent = dl_group_index(gs, s)) < 0) {
                ERR(c, val, "task group '%s' has unknown parent group '%.100s'", g->name, s);
                ok = false;
            }
        } else if (dl_key_is(k, "dependencies")) {
            g->deps = val;
        } else if (dl_key_is(k, "default_args")) {
            g->da = val;
        } else if (dl_key_is(k, "tooltip")) {
            if (dl_is_null(val))
                s = "";
            else if (!dl_get_str(c, val, "tooltip", &s)) {
                ok = false;
                continue;
            }
            if (!dl_set_str(c, &g->tooltip, s))
                return false;
        } else if (dl_key_is(k, "prefix_group_id")) {
            if (dl_get_bool(c, val, "prefix_group_id", &b))
                g->prefix = b;
            else
                ok = false;
        } else if (ign) {
            WARN(c, k, "ignored key '%s' in task group '%s' (not supported yet)", dl_key_text(k),
                 g->name);
        } else {
            ERR(c, k, "unknown key '%.100s' in task group '%s'", dl_key_text(k), g->name);
            ok = false;
        }
    }
    return ok;
}

/*
 * Parent cycles (dag-factory: "Circular dependency detected"); state has
 * one zeroed int per group. false after reporting, or with c->oom set.
 */
static bool group_parent_cycle(ctx_t *c, const groups_t *gs, const char *dag_id, int *state)
{
    for (size_t i = 0; i < gs->n; i++) {
        int x = (int)i, stamp = (int)i + 1;
        while (x >= 0 && state[x] == 0) {
            state[x] = stamp;
            x = gs->g[x].parent;
        }
        if (x < 0 || state[x] != stamp)
            continue;
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        if (!f) {
            c->oom = true;
            return false;
        }
        int y = x;
        do {
            fprintf(f, "%s -> ", gs->g[y].name);
            y = gs->g[y].parent;
        } while (y != x);
        fprintf(f, "%s", gs->g[x].name);
        if (fclose(f) != 0) {
            free(buf);
            c->oom = true;
            return false;
        }
        ERR(c, gs->g[x].at, "task group parent cycle in dag '%s': %s", dag_id, buf);
        free(buf);
        return false;
    }
    return true;
}

/* Each group's nesting depth, at most DAG_GROUP_DEPTH_MAX. false after reporting. */
static bool group_depths(ctx_t *c, groups_t *gs)
{
    for (size_t i = 0; i < gs->n; i++) {
        for (int x = gs->g[i].parent; x >= 0 && gs->g[i].depth < DAG_GROUP_DEPTH_MAX;
             x = gs->g[x].parent)
            gs->g[i].depth++;
        if (gs->g[i].depth >= DAG_GROUP_DEPTH_MAX) {
            ERR(c, gs->g[i].at, "task group '%s' is nested deeper than %d levels", gs->g[i].name,
                DAG_GROUP_DEPTH_MAX);
            return false;
        }
    }
    return true;
}

/*
 * Full ids (Airflow's prefixed group ids) and task defaults, parents
 * first. false after reporting, or with c->oom set.
 */
static bool group_ids_defaults(ctx_t *c, groups_t *gs, const dag_task_t *dtpl)
{
    bool ok = true;
    size_t k = 0;

    group_preorder(gs, -1, &k);
    for (size_t i = 0; i < gs->n; i++) {
        lgroup_t *g = &gs->g[gs->order[i]];
        const lgroup_t *p = g->parent >= 0 ? &gs->g[g->parent] : NULL;
        int r = p && p->prefix ? asprintf(&g->id, "%s.%s", p->id, g->name)
                               : ((g->id = strdup(g->name)) ? 0 : -1);
        if (r < 0) {
            g->id = NULL;
            c->oom = true;
            return false;
        }
        if (dl_smap_put(&gs->by_id, g->id, strlen(g->id), g) != 0) {
            c->oom = true;
            return false;
        }
        if (!g->tooltip && !dl_set_str(c, &g->tooltip, ""))
            return false;
        ok = group_defaults(c, g, p ? &p->tpl : dtpl) && ok;
    }
    return ok;
}

/*
 * Reads a DAG's task_groups (dag-factory's list or mapping form) into gs:
 * names, parents (no cycles, at most DAG_GROUP_DEPTH_MAX deep), full ids
 * as Airflow builds them, and each group's task defaults (dag's
 * default_args, then each enclosing group's, innermost last). false after
 * reporting.
 */
bool dl_parse_groups(ctx_t *c, const ynode_t *v, const char *dag_id, const dag_task_t *dtpl,
                     groups_t *gs)
{
    bool ok = true;
    int *state = NULL;

    if (dl_is_null(v))
        return true;
    if (v->kind != Y_SEQ && v->kind != Y_MAP) {
        ERR(c, v, "task_groups of dag '%s' must be a list or a mapping, not %s", dag_id,
            dl_kind_name(v));
        return false;
    }
    size_t n = v->kind == Y_SEQ ? v->n : MAP_PAIRS(v);
    if (n > GROUPS_MAX) {
        /* serializing costs groups x (tasks + groups): keep it bounded */
        ERR(c, v, "dag '%s' has more than %d task groups", dag_id, GROUPS_MAX);
        return false;
    }
    if (!dl_spend(c, n))
        return false;
    if (!(gs->g = calloc(n ? n : 1, sizeof *gs->g)) ||
        !(gs->order = calloc(n ? n : 1, sizeof *gs->order)) ||
        !(state = calloc(n ? n : 1, sizeof *state))) {
        c->oom = true;
        goto out;
    }
    ok = group_names(c, v, n, dag_id, gs);
    if (c->oom)
        goto out;
    for (size_t i = 0; i < gs->n; i++) {
        ok = group_keys(c, &gs->g[i], gs) && ok;
        if (c->oom)
            goto out;
    }
    if (!ok)
        goto out;
    ok = group_parent_cycle(c, gs, dag_id, state) && group_depths(c, gs) &&
         group_ids_defaults(c, gs, dtpl);
out:
    free(state);
    return ok && !c->oom;
}

/*
 * The group a task mapping names with task_group_name: its index, -1 for
 * none, -2 after reporting a problem.
 */
int dl_task_group_of(ctx_t *c, const ynode_t *m, const char *tid, const groups_t *gs)
{
    const ynode_t *v = dl_map_get(m, "task_group_name");
    const char *s;
    int gi;

    for (size_t i = 0; i < m->n_dups; i++)
        if (dl_key_is(m->dups[i], "task_group_name")) {
            ERR(c, m->dups[i],
                "task '%s' names task_group_name twice (a task is in one task group)", tid);
            return -2;
        }
    if (dl_is_null(v))
        return -1;
    if (v->kind == Y_SEQ) {
        ERR(c, v, "task '%s' is put in several task groups (a task is in one task group)", tid);
        return -2;
    }
    if (!dl_get_str(c, v, "task_group_name", &s))
        return -2;
    if ((gi = dl_group_index(gs, s)) < 0) {
        ERR(c, v, "task '%s' is in unknown task group '%.100s'", tid, s);
        return -2;
    }
    return gi;
}

/* Copies the loader's groups into the DAG, in pre-order. */
bool dl_groups_to_dag(ctx_t *c, const groups_t *gs, dag_t *dag)
{
    if (!gs->n)
        return true;
    if (!(dag->groups = calloc(gs->n, sizeof *dag->groups))) {
        c->oom = true;
        return false;
    }
    for (size_t i = 0; i < gs->n; i++) {
        const lgroup_t *g = &gs->g[gs->order[i]];
        dag_group_t *d = &dag->groups[dag->n_groups++];
        d->prefix_group_id = g->prefix;
        if (!dl_set_str(c, &d->group_id, g->id) || !dl_set_str(c, &d->label, g->name) ||
            !dl_set_str(c, &d->tooltip, g->tooltip) ||
            !dl_set_str(c, &d->parent_id, g->parent >= 0 ? gs->g[g->parent].id : NULL))
            return false;
    }
    return true;
}

/*
 * Sets a task's id: its name, prefixed with its group's id when the group
 * prefixes its children (Airflow's TaskGroup.child_id). Returns 0, 1 after
 * reporting a clash (the id is set all the same), or -1 on OOM.
 */
int dl_set_task_id(ctx_t *c, dag_task_t *t, const char *tid, const ynode_t *idn, const lgroup_t *g,
                   const groups_t *gs, smap_t *fids, const char *dag_id)
{
    if (g && g->prefix) {
        if (asprintf(&t->task_id, "%s.%s", g->id, tid) < 0) {
            t->task_id = NULL;
            c->oom = true;
            return -1;
        }
    } else if (!dl_set_str(c, &t->task_id, tid)) {
        return -1;
    }
    if (g && !dl_set_str(c, &t->task_group, g->id))
        return -1;
    size_t len = strlen(t->task_id);
    if (len > DAG_ID_MAX) {
        ERR(c, idn, "task id '%.80s...' is longer than %d characters with its task group prefix",
            t->task_id, DAG_ID_MAX);
        return 1;
    }
    if (dl_group_index(gs, tid) < 0 && dl_smap_get(&gs->by_id, t->task_id, len)) {
        ERR(c, idn, "task id '%s' is also the id of a task group in dag '%s'", t->task_id, dag_id);
        return 1;
    }
    if (dl_smap_get(fids, t->task_id, len)) {
        ERR(c, idn, "duplicate task id '%s' in dag '%s' (with its task group prefix)", t->task_id,
            dag_id);
        return 1;
    }
    if (dl_smap_put(fids, t->task_id, len, t) != 0) {
        c->oom = true;
        return -1;
    }
    return 0;
}
