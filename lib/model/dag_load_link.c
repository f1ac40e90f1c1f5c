/*
 * dag_load_link.c - the loader's dependency linking: dependencies between
 * tasks and task groups become upstream lists, cycles are reported, and
 * the tasks are sorted topologically (Kahn, ties in declaration order).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/dag_load_int.h"

/* Min-heap of task indices (Kahn's algorithm, ties in declaration order). */
static void heap_push(size_t *h, size_t *n, size_t v)
{
    size_t i = (*n)++;
    h[i] = v;
    while (i > 0 && h[(i - 1) / 2] > h[i]) {
        size_t p = (i - 1) / 2, tmp = h[p];
        h[p] = h[i];
        h[i] = tmp;
        i = p;
    }
}

static size_t heap_pop(size_t *h, size_t *n)
{
    size_t top = h[0], i = 0;
    h[0] = h[--(*n)];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < *n && h[l] < h[m])
            m = l;
        if (r < *n && h[r] < h[m])
            m = r;
        if (m == i)
            break;
        size_t tmp = h[m];
        h[m] = h[i];
        h[i] = tmp;
        i = m;
    }
    return top;
}

/* Upstream lists, growable, deduplicated, in the order edges are added. */
typedef struct adj {
    size_t **up, *n_up, *cap_up;
} adj_t;

static bool adj_add(ctx_t *c, adj_t *a, size_t down, size_t up)
{
    for (size_t x = 0; x < a->n_up[down]; x++)
        if (a->up[down][x] == up)
            return true;
    if (a->n_up[down] == a->cap_up[down]) {
        size_t cap = a->cap_up[down] ? a->cap_up[down] * 2 : 4;
        size_t *p = realloc(a->up[down], cap * sizeof *p);
        if (!p) {
            c->oom = true;
            return false;
        }
        a->up[down] = p;
        a->cap_up[down] = cap;
    }
    a->up[down][a->n_up[down]++] = up;
    return true;
}

/* A dependency onto or from a task group, expanded once all tasks are linked. */
typedef struct gdep {
    bool down_group, up_group; /* whether each end is a group */
    size_t down, up;           /* task or group index */
    const ynode_t *at;         /* the dependency as written */
    int depth;                 /* innermost group holding both ends, -1 = none */
    size_t seq;                /* declaration order, for a stable sort */
} gdep_t;

static int gdep_cmp(const void *a, const void *b)
{
    const gdep_t *x = a, *y = b;
    if (x->depth != y->depth)
        return x->depth > y->depth ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Roots (which 0) and leaves (1) of each group, computed when first needed. */
typedef struct gends {
    size_t **members, *n_members;
    size_t **ends[2], *n_ends[2];
    bool *known[2];
    unsigned *mark, *dmark, cur;
} gends_t;

/*
 * Airflow's TaskGroup.get_roots / get_leaves: the group's tasks (nested
 * groups included) with no upstream / downstream among them. Dependencies
 * are expanded innermost first, so a group's own edges are all in place
 * when its ends are first asked for, and they do not change afterwards.
 */
static bool group_ends(ctx_t *c, gends_t *e, const adj_t *a, size_t g, int which)
{
    size_t nm = e->n_members[g];
    const size_t *mem = e->members[g];

    if (e->known[which][g])
        return true;
    if (!(e->ends[which][g] = calloc(nm ? nm : 1, sizeof **e->ends))) {
        c->oom = true;
        return false;
    }
    e->cur++;
    for (size_t i = 0; i < nm; i++)
        e->mark[mem[i]] = e->cur;
    for (size_t i = 0; i < nm; i++)
        for (size_t j = 0; j < a->n_up[mem[i]]; j++)
            if (e->mark[a->up[mem[i]][j]] == e->cur)
                e->dmark[a->up[mem[i]][j]] = e->cur;
    for (size_t i = 0; i < nm; i++) {
        bool end;
        if (which == 0) {
            end = true;
            for (size_t j = 0; j < a->n_up[mem[i]] && end; j++)
                end = e->mark[a->up[mem[i]][j]] != e->cur;
        } else {
            end = e->dmark[mem[i]] != e->cur;
        }
        if (end)
            e->ends[which][g][e->n_ends[which][g]++] = mem[i];
    }
    e->known[which][g] = true;
    return dl_spend(c, nm);
}

/*
 * Resolves one dependency name of a task (down_group false) or of a group:
 * a task edge goes into a, a group edge into gd. false after reporting.
 */
static bool link_dep(ctx_t *c, const ynode_t *d, const smap_t *names, const groups_t *gs,
                     const task_src_t *srcs, bool down_group, size_t down, const char *down_name,
                     adj_t *a, gdep_t **gd, size_t *n_gd, size_t *cap_gd)
{
    const char *name;
    void *at;
    int gi;

    if (!dl_get_str(c, d, "dependency", &name))
        return false;
    at = dl_smap_get(names, name, strlen(name));
    gi = dl_group_index(gs, name);
    if (!at && gi < 0) {
        if (down_group)
            ERR(c, d, "task group '%s' depends on unknown task or task group '%.100s'", down_name,
                name);
        else if (gs->n)
            ERR(c, d, "task '%s' depends on unknown task or task group '%.100s'", down_name, name);
        else
            ERR(c, d, "task '%s' depends on unknown task '%.100s'", down_name, name);
        return false;
    }
    if (at && !down_group)
        return adj_add(c, a, down, (uintptr_t)at - 1);

    gdep_t g = {.down_group = down_group,
                .down = down,
                .up_group = !at,
                .up = at ? (uintptr_t)at - 1 : (size_t)gi,
                .at = d,
                .seq = *n_gd};
    int dstart = down_group ? (int)down : srcs[down].group;
    int ustart = g.up_group ? (int)g.up : srcs[g.up].group;
    /* a group around both ends would make the edge a cycle */
    if (down_group && g.up_group && down == g.up) {
        ERR(c, d, "task group '%s' cannot depend on itself", down_name);
        return false;
    }
    if (down_group && dl_group_contains(gs, (int)down, ustart)) {
        ERR(c, d, "task group '%s' cannot depend on '%s' inside it", down_name, name);
        return false;
    }
    if (g.up_group && dl_group_contains(gs, gi, dstart)) {
        ERR(c, d, "%s '%s' cannot depend on task group '%s' around it",
            down_group ? "task group" : "task", down_name, name);
        return false;
    }
    g.depth = -1;
    for (int x = dstart; x >= 0; x = gs->g[x].parent)
        if (dl_group_contains(gs, x, ustart)) {
            g.depth = gs->g[x].depth;
            break;
        }
    if (*n_gd == *cap_gd) {
        size_t cap = *cap_gd ? *cap_gd * 2 : 8;
        gdep_t *p = realloc(*gd, cap * sizeof *p);
        if (!p) {
            c->oom = true;
            return false;
        }
        *gd = p;
        *cap_gd = cap;
    }
    (*gd)[(*n_gd)++] = g;
    return true;
}

/* One dl_link_tasks call: the task id map, the edges and the sort's arrays. */
typedef struct linker {
    size_t n;   /* tasks */
    smap_t ids; /* task name as written -> index + 1 */
    adj_t adj;  /* upstream lists */
    gends_t e;  /* group members and ends, when group edges exist */
    gdep_t *gd; /* dependencies onto or from groups, expanded last */
    size_t n_gd, cap_gd;
    size_t *indeg, *heap, *order, *pos;
    size_t **down, *n_down; /* downstream lists */
    size_t n_order;         /* tasks the sort placed */
} linker_t;

/* What a phase of dl_link_tasks returns. */
enum { LINK_OK = 0, LINK_STOP = 1 /* reported, or over the work budget */, LINK_OOM = -1 };

static int linker_init(linker_t *lk, const task_src_t *srcs, size_t n)
{
    lk->n = n;
    lk->adj.up = calloc(n + 1, sizeof *lk->adj.up);
    lk->adj.n_up = calloc(n + 1, sizeof *lk->adj.n_up);
    lk->adj.cap_up = calloc(n + 1, sizeof *lk->adj.cap_up);
    lk->down = calloc(n + 1, sizeof *lk->down);
    lk->n_down = calloc(n + 1, sizeof *lk->n_down);
    lk->indeg = calloc(n + 1, sizeof *lk->indeg);
    lk->heap = calloc(n + 1, sizeof *lk->heap);
    lk->order = calloc(n + 1, sizeof *lk->order);
    lk->pos = calloc(n + 1, sizeof *lk->pos);
    if (!lk->adj.up || !lk->adj.n_up || !lk->adj.cap_up || !lk->down || !lk->n_down || !lk->indeg ||
        !lk->heap || !lk->order || !lk->pos)
        return LINK_OOM;
    for (size_t i = 0; i < n; i++)
        if (dl_smap_put(&lk->ids, srcs[i].name, strlen(srcs[i].name), (void *)(uintptr_t)(i + 1)))
            return LINK_OOM;
    return LINK_OK;
}

static void linker_free(linker_t *lk, size_t ng)
{
    gends_t *e = &lk->e;

    for (size_t i = 0; i < lk->n; i++) {
        if (lk->adj.up)
            free(lk->adj.up[i]);
        if (lk->down)
            free(lk->down[i]);
    }
    free(lk->adj.up);
    free(lk->adj.n_up);
    free(lk->adj.cap_up);
    for (size_t g = 0; g < ng; g++) {
        if (e->members)
            free(e->members[g]);
        for (int w = 0; w < 2; w++)
            if (e->ends[w])
                free(e->ends[w][g]);
    }
    free(e->members);
    free(e->n_members);
    for (int w = 0; w < 2; w++) {
        free(e->ends[w]);
        free(e->n_ends[w]);
        free(e->known[w]);
    }
    free(e->mark);
    free(e->dmark);
    free(lk->gd);
    free(lk->down);
    free(lk->n_down);
    free(lk->indeg);
    free(lk->heap);
    free(lk->order);
    free(lk->pos);
    dl_smap_free(&lk->ids);
}

/*
 * The dependencies written on one task (or group when is_group): edges
 * between tasks now, edges onto or from groups queued in lk->gd.
 * *deps_ok becomes false after a reported problem.
 */
static int link_written(ctx_t *c, linker_t *lk, const groups_t *gs, const task_src_t *srcs,
                        bool is_group, size_t idx, const char *name, const ynode_t *deps,
                        bool *deps_ok)
{
    if (dl_is_null(deps))
        return LINK_OK;
    if (deps->kind != Y_SEQ) {
        if (is_group)
            ERR(c, deps, "dependencies of task group '%s' must be a list of names", name);
        else
            ERR(c, deps, "dependencies of task '%s' must be a list of task ids", name);
        *deps_ok = false;
        return LINK_OK;
    }
    if (!dl_spend(c, deps->n))
        return LINK_OOM;
    for (size_t j = 0; j < deps->n; j++)
        if (!link_dep(c, deps->kids[j], &lk->ids, gs, srcs, is_group, idx, name, &lk->adj, &lk->gd,
                      &lk->n_gd, &lk->cap_gd))
            *deps_ok = false;
    return c->oom ? LINK_OOM : LINK_OK;
}

/* Every dependency as written, tasks' then groups'. */
static int link_all_written(ctx_t *c, linker_t *lk, const groups_t *gs, const task_src_t *srcs)
{
    bool deps_ok = true;
    int rc;

    for (size_t i = 0; i < lk->n; i++)
        if ((rc = link_written(c, lk, gs, srcs, false, i, srcs[i].name, srcs[i].deps, &deps_ok)))
            return rc;
    for (size_t g = 0; g < gs->n; g++)
        if ((rc = link_written(c, lk, gs, srcs, true, g, gs->g[g].name, gs->g[g].deps, &deps_ok)))
            return rc;
    return deps_ok ? LINK_OK : LINK_STOP;
}

/* Each group's member tasks, nested groups' included (two passes: count, fill). */
static int group_members(ctx_t *c, linker_t *lk, const groups_t *gs, const task_src_t *srcs)
{
    gends_t *e = &lk->e;
    size_t n = lk->n, ng = gs->n;

    e->members = calloc(ng, sizeof *e->members);
    e->n_members = calloc(ng, sizeof *e->n_members);
    for (int w = 0; w < 2; w++) {
        e->ends[w] = calloc(ng, sizeof *e->ends[w]);
        e->n_ends[w] = calloc(ng, sizeof *e->n_ends[w]);
        e->known[w] = calloc(ng, sizeof *e->known[w]);
        if (!e->ends[w] || !e->n_ends[w] || !e->known[w])
            return LINK_OOM;
    }
    e->mark = calloc(n + 1, sizeof *e->mark);
    e->dmark = calloc(n + 1, sizeof *e->dmark);
    if (!e->members || !e->n_members || !e->mark || !e->dmark)
        return LINK_OOM;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++)
            for (int x = srcs[i].group; x >= 0; x = gs->g[x].parent) {
                if (pass)
                    e->members[x][e->n_members[x]++] = i;
                else
                    e->n_members[x]++;
            }
        for (size_t g = 0; !pass && g < ng; g++) {
            if (!dl_spend(c, e->n_members[g]))
                return LINK_STOP;
            if (!(e->members[g] =
                      calloc(e->n_members[g] ? e->n_members[g] : 1, sizeof **e->members)))
                return LINK_OOM;
            e->n_members[g] = 0;
        }
    }
    return LINK_OK;
}

/* Group edges: every leaf of an upstream group, every root of a downstream one. */
static int link_group_edges(ctx_t *c, linker_t *lk, const groups_t *gs, const task_src_t *srcs)
{
    gends_t *e = &lk->e;
    int rc;

    if (!lk->n_gd)
        return LINK_OK;
    if ((rc = group_members(c, lk, gs, srcs)))
        return rc;
    qsort(lk->gd, lk->n_gd, sizeof *lk->gd, gdep_cmp);
    for (size_t k = 0; k < lk->n_gd; k++) {
        const gdep_t *g = &lk->gd[k];
        const size_t *ups = &g->up, *downs = &g->down;
        size_t nu = 1, nd = 1;
        if (g->up_group) {
            if (!group_ends(c, e, &lk->adj, g->up, 1))
                return LINK_STOP;
            ups = e->ends[1][g->up];
            nu = e->n_ends[1][g->up];
        }
        if (g->down_group) {
            if (!group_ends(c, e, &lk->adj, g->down, 0))
                return LINK_STOP;
            downs = e->ends[0][g->down];
            nd = e->n_ends[0][g->down];
        }
        if (!nu || !nd)
            WARN(c, g->at, "task group '%s' has no tasks, this dependency does nothing",
                 gs->g[nu ? g->down : g->up].name);
        if (!dl_spend(c, nu * nd))
            return LINK_STOP;
        for (size_t x = 0; x < nd; x++)
            for (size_t y = 0; y < nu; y++)
                if (!adj_add(c, &lk->adj, downs[x], ups[y]))
                    return LINK_OOM;
    }
    return LINK_OK;
}

/* Upstream ids, as written then as expanded. */
static int set_upstream_ids(dag_t *dag, const linker_t *lk)
{
    for (size_t i = 0; i < lk->n; i++) {
        dag_task_t *t = &dag->tasks[i];
        if (!lk->adj.n_up[i])
            continue;
        if (!(t->upstream = calloc(lk->adj.n_up[i], sizeof *t->upstream)))
            return LINK_OOM;
        for (size_t j = 0; j < lk->adj.n_up[i]; j++) {
            if (!(t->upstream[j] = strdup(dag->tasks[lk->adj.up[i][j]].task_id)))
                return LINK_OOM;
            t->n_upstream++;
        }
    }
    return LINK_OK;
}

/* Downstream adjacency, then Kahn's sort into lk->order (lk->n_order placed). */
static int link_sort(linker_t *lk)
{
    size_t n = lk->n, nh = 0, no = 0;
    size_t **up = lk->adj.up, *n_up = lk->adj.n_up, **down = lk->down, *n_down = lk->n_down;

    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n_up[i]; j++)
            n_down[up[i][j]]++;
    for (size_t i = 0; i < n; i++) {
        if (!(down[i] = calloc(n_down[i] ? n_down[i] : 1, sizeof *down[i])))
            return LINK_OOM;
        n_down[i] = 0;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n_up[i]; j++)
            down[up[i][j]][n_down[up[i][j]]++] = i;

    for (size_t i = 0; i < n; i++) {
        lk->indeg[i] = n_up[i];
        if (!lk->indeg[i])
            heap_push(lk->heap, &nh, i);
    }
    while (nh) {
        size_t i = heap_pop(lk->heap, &nh);
        lk->order[no++] = i;
        for (size_t j = 0; j < n_down[i]; j++)
            if (--lk->indeg[down[i][j]] == 0)
                heap_push(lk->heap, &nh, down[i][j]);
    }
    lk->n_order = no;
    return LINK_OK;
}

/*
 * Reports one cycle among the tasks the sort could not place, at its
 * lowest-numbered task, in the downstream direction. LINK_STOP, or
 * LINK_OOM.
 */
static int report_cycle(ctx_t *c, const dag_t *dag, const task_src_t *srcs, linker_t *lk)
{
    size_t n = lk->n, *indeg = lk->indeg, *pos = lk->pos, *order = lk->order;
    size_t **up = lk->adj.up, *n_up = lk->adj.n_up;

    /* Walk upstream from the first task left until a task repeats. */
    size_t start = 0, cur, steps = 0;
    while (indeg[start] == 0)
        start++;
    for (size_t i = 0; i < n; i++)
        pos[i] = SIZE_MAX;
    cur = start;
    while (pos[cur] == SIZE_MAX) {
        pos[cur] = steps;
        order[steps++] = cur;
        for (size_t j = 0; j < n_up[cur]; j++)
            if (indeg[up[cur][j]] > 0) {
                cur = up[cur][j];
                break;
            }
    }
    /* order[pos[cur]..steps) is the cycle, walked upstream. */
    size_t first = pos[cur], len = steps - first, best = first;
    for (size_t i = first; i < steps; i++)
        if (order[i] < order[best])
            best = i;
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (!f)
        return LINK_OOM;
    /* Print downstream direction (a -> b: b depends on a), starting at best. */
    for (size_t k = 0; k <= len; k++) {
        size_t idx = first + (best - first + len - (k % len)) % len;
        fprintf(f, "%s%s", k ? " -> " : "", dag->tasks[order[idx]].task_id);
    }
    if (fclose(f) != 0) {
        free(buf);
        return LINK_OOM;
    }
    const dag_task_t *bt = &dag->tasks[order[best]];
    dl_diag_pos(c, srcs[order[best]].at->file ? srcs[order[best]].at->file : c->name, bt->line,
                bt->col, "dependency cycle: %s", buf);
    free(buf);
    return LINK_STOP;
}

/* Downstream names in topological order, then the tasks reordered. */
static int set_downstream_ids(dag_t *dag, linker_t *lk)
{
    size_t n = lk->n, **up = lk->adj.up, *n_up = lk->adj.n_up, **down = lk->down,
           *n_down = lk->n_down;

    /* Refilled in topological order of the downstream task, each list is
     * sorted at once (one pass; sorting each list cost a task with many
     * downstream tasks its square). The counts come out as before. */
    for (size_t i = 0; i < n; i++)
        n_down[i] = 0;
    for (size_t k = 0; k < n; k++) {
        size_t i = lk->order[k];
        for (size_t j = 0; j < n_up[i]; j++)
            down[up[i][j]][n_down[up[i][j]]++] = i;
    }
    for (size_t i = 0; i < n; i++) {
        dag_task_t *t = &dag->tasks[i];
        if (!n_down[i])
            continue;
        if (!(t->downstream = calloc(n_down[i], sizeof *t->downstream)))
            return LINK_OOM;
        for (size_t j = 0; j < n_down[i]; j++) {
            if (!(t->downstream[j] = strdup(dag->tasks[down[i][j]].task_id)))
                return LINK_OOM;
            t->n_downstream++;
        }
    }
    dag_task_t *sorted = malloc((n ? n : 1) * sizeof *sorted);
    if (!sorted)
        return LINK_OOM;
    for (size_t i = 0; i < n; i++)
        sorted[i] = dag->tasks[lk->order[i]];
    free(dag->tasks);
    dag->tasks = sorted;
    return LINK_OK;
}

/*
 * Resolves dependencies (task names as written and task group names) into
 * edges between tasks, sorts the tasks and fills upstream and downstream.
 * tasks[] is reordered in place. false after reporting.
 */
bool dl_link_tasks(ctx_t *c, dag_t *dag, task_src_t *srcs, const groups_t *gs)
{
    linker_t lk = {0};
    int rc;

    if (!(rc = linker_init(&lk, srcs, dag->n_tasks)) &&
        !(rc = link_all_written(c, &lk, gs, srcs)) && !(rc = link_group_edges(c, &lk, gs, srcs)) &&
        !(rc = set_upstream_ids(dag, &lk)) && !(rc = link_sort(&lk))) {
        if (lk.n_order < lk.n)
            rc = report_cycle(c, dag, srcs, &lk);
        else if (!(rc = set_downstream_ids(dag, &lk)) && dag_compute_priorities(dag) != 0)
            rc = LINK_OOM;
    }
    if (rc == LINK_OOM)
        c->oom = true;
    linker_free(&lk, gs->n);
    return rc == LINK_OK;
}
