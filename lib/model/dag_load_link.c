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

/*
 * Resolves dependencies (task names as written and task group names) into
 * edges between tasks, sorts the tasks and fills upstream and downstream.
 * tasks[] is reordered in place. false after reporting.
 */
bool dl_link_tasks(ctx_t *c, dag_t *dag, task_src_t *srcs, const groups_t *gs)
{
    size_t n = dag->n_tasks, ng = gs->n;
    smap_t ids = {0};
    adj_t adj = {0};
    gends_t e = {0};
    gdep_t *gd = NULL;
    size_t n_gd = 0, cap_gd = 0;
    size_t *indeg = NULL, *heap = NULL, *order = NULL, *pos = NULL;
    size_t **down = NULL, *n_down = NULL;
    bool ok = false, deps_ok = true;
    size_t nh = 0, no = 0;

    adj.up = calloc(n + 1, sizeof *adj.up);
    adj.n_up = calloc(n + 1, sizeof *adj.n_up);
    adj.cap_up = calloc(n + 1, sizeof *adj.cap_up);
    down = calloc(n + 1, sizeof *down);
    n_down = calloc(n + 1, sizeof *n_down);
    indeg = calloc(n + 1, sizeof *indeg);
    heap = calloc(n + 1, sizeof *heap);
    order = calloc(n + 1, sizeof *order);
    pos = calloc(n + 1, sizeof *pos);
    if (!adj.up || !adj.n_up || !adj.cap_up || !down || !n_down || !indeg || !heap || !order ||
        !pos)
        goto oom;
    for (size_t i = 0; i < n; i++)
        if (dl_smap_put(&ids, srcs[i].name, strlen(srcs[i].name), (void *)(uintptr_t)(i + 1)))
            goto oom;

    /* dependencies as written: task edges now, group edges below */
    for (size_t i = 0; i < n; i++) {
        const ynode_t *deps = srcs[i].deps;
        if (dl_is_null(deps))
            continue;
        if (deps->kind != Y_SEQ) {
            ERR(c, deps, "dependencies of task '%s' must be a list of task ids", srcs[i].name);
            deps_ok = false;
            continue;
        }
        if (!dl_spend(c, deps->n))
            goto oom;
        for (size_t j = 0; j < deps->n; j++)
            if (!link_dep(c, deps->kids[j], &ids, gs, srcs, false, i, srcs[i].name, &adj, &gd,
                          &n_gd, &cap_gd))
                deps_ok = false;
        if (c->oom)
            goto oom;
    }
    for (size_t g = 0; g < ng; g++) {
        const ynode_t *deps = gs->g[g].deps;
        if (dl_is_null(deps))
            continue;
        if (deps->kind != Y_SEQ) {
            ERR(c, deps, "dependencies of task group '%s' must be a list of names", gs->g[g].name);
            deps_ok = false;
            continue;
        }
        if (!dl_spend(c, deps->n))
            goto oom;
        for (size_t j = 0; j < deps->n; j++)
            if (!link_dep(c, deps->kids[j], &ids, gs, srcs, true, g, gs->g[g].name, &adj, &gd,
                          &n_gd, &cap_gd))
                deps_ok = false;
        if (c->oom)
            goto oom;
    }
    if (!deps_ok)
        goto out;

    /* group edges: every leaf of an upstream group, every root of a downstream one */
    if (n_gd) {
        e.members = calloc(ng, sizeof *e.members);
        e.n_members = calloc(ng, sizeof *e.n_members);
        for (int w = 0; w < 2; w++) {
            e.ends[w] = calloc(ng, sizeof *e.ends[w]);
            e.n_ends[w] = calloc(ng, sizeof *e.n_ends[w]);
            e.known[w] = calloc(ng, sizeof *e.known[w]);
            if (!e.ends[w] || !e.n_ends[w] || !e.known[w])
                goto oom;
        }
        e.mark = calloc(n + 1, sizeof *e.mark);
        e.dmark = calloc(n + 1, sizeof *e.dmark);
        if (!e.members || !e.n_members || !e.mark || !e.dmark)
            goto oom;
        for (int pass = 0; pass < 2; pass++) {
            for (size_t i = 0; i < n; i++)
                for (int x = srcs[i].group; x >= 0; x = gs->g[x].parent) {
                    if (pass)
                        e.members[x][e.n_members[x]++] = i;
                    else
                        e.n_members[x]++;
                }
            for (size_t g = 0; !pass && g < ng; g++) {
                if (!dl_spend(c, e.n_members[g]))
                    goto out;
                if (!(e.members[g] =
                          calloc(e.n_members[g] ? e.n_members[g] : 1, sizeof **e.members)))
                    goto oom;
                e.n_members[g] = 0;
            }
        }
        qsort(gd, n_gd, sizeof *gd, gdep_cmp);
        for (size_t k = 0; k < n_gd; k++) {
            const gdep_t *g = &gd[k];
            const size_t *ups = &g->up, *downs = &g->down;
            size_t nu = 1, nd = 1;
            if (g->up_group) {
                if (!group_ends(c, &e, &adj, g->up, 1))
                    goto out;
                ups = e.ends[1][g->up];
                nu = e.n_ends[1][g->up];
            }
            if (g->down_group) {
                if (!group_ends(c, &e, &adj, g->down, 0))
                    goto out;
                downs = e.ends[0][g->down];
                nd = e.n_ends[0][g->down];
            }
            if (!nu || !nd)
                WARN(c, g->at, "task group '%s' has no tasks, this dependency does nothing",
                     gs->g[nu ? g->down : g->up].name);
            if (!dl_spend(c, nu * nd))
                goto out;
            for (size_t x = 0; x < nd; x++)
                for (size_t y = 0; y < nu; y++)
                    if (!adj_add(c, &adj, downs[x], ups[y]))
                        goto oom;
        }
    }

    /* upstream ids, as written then as expanded */
    for (size_t i = 0; i < n; i++) {
        dag_task_t *t = &dag->tasks[i];
        if (!adj.n_up[i])
            continue;
        if (!(t->upstream = calloc(adj.n_up[i], sizeof *t->upstream)))
            goto oom;
        for (size_t j = 0; j < adj.n_up[i]; j++) {
            if (!(t->upstream[j] = strdup(dag->tasks[adj.up[i][j]].task_id)))
                goto oom;
            t->n_upstream++;
        }
    }
    size_t **up = adj.up, *n_up = adj.n_up;

    /* downstream adjacency */
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n_up[i]; j++)
            n_down[up[i][j]]++;
    for (size_t i = 0; i < n; i++) {
        if (!(down[i] = calloc(n_down[i] ? n_down[i] : 1, sizeof *down[i])))
            goto oom;
        n_down[i] = 0;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n_up[i]; j++)
            down[up[i][j]][n_down[up[i][j]]++] = i;

    for (size_t i = 0; i < n; i++) {
        indeg[i] = n_up[i];
        if (!indeg[i])
            heap_push(heap, &nh, i);
    }
    while (nh) {
        size_t i = heap_pop(heap, &nh);
        order[no++] = i;
        for (size_t j = 0; j < n_down[i]; j++)
            if (--indeg[down[i][j]] == 0)
                heap_push(heap, &nh, down[i][j]);
    }
    if (no < n) {
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
            goto oom;
        /* Print downstream direction (a -> b: b depends on a), starting at best. */
        for (size_t k = 0; k <= len; k++) {
            size_t idx = first + (best - first + len - (k % len)) % len;
            fprintf(f, "%s%s", k ? " -> " : "", dag->tasks[order[idx]].task_id);
        }
        if (fclose(f) != 0) {
            free(buf);
            goto oom;
        }
        const dag_task_t *bt = &dag->tasks[order[best]];
        dl_diag_pos(c, srcs[order[best]].at->file ? srcs[order[best]].at->file : c->name, bt->line,
                    bt->col, "dependency cycle: %s", buf);
        free(buf);
        goto out;
    }

    /* Downstream names in topological order, then reorder tasks. */
    for (size_t i = 0; i < n; i++)
        pos[order[i]] = i;
    for (size_t i = 0; i < n; i++) {
        dag_task_t *t = &dag->tasks[i];
        if (!n_down[i])
            continue;
        /* insertion sort by topological position: lists are short */
        for (size_t a = 1; a < n_down[i]; a++)
            for (size_t b = a; b > 0 && pos[down[i][b - 1]] > pos[down[i][b]]; b--) {
                size_t tmp = down[i][b];
                down[i][b] = down[i][b - 1];
                down[i][b - 1] = tmp;
            }
        if (!(t->downstream = calloc(n_down[i], sizeof *t->downstream)))
            goto oom;
        for (size_t j = 0; j < n_down[i]; j++) {
            if (!(t->downstream[j] = strdup(dag->tasks[down[i][j]].task_id)))
                goto oom;
            t->n_downstream++;
        }
    }
    dag_task_t *sorted = malloc((n ? n : 1) * sizeof *sorted);
    if (!sorted)
        goto oom;
    for (size_t i = 0; i < n; i++)
        sorted[i] = dag->tasks[order[i]];
    free(dag->tasks);
    dag->tasks = sorted;
    if (dag_compute_priorities(dag) != 0)
        goto oom;
    ok = true;
    goto out;
oom:
    c->oom = true;
out:
    for (size_t i = 0; i < n; i++) {
        if (adj.up)
            free(adj.up[i]);
        if (down)
            free(down[i]);
    }
    free(adj.up);
    free(adj.n_up);
    free(adj.cap_up);
    for (size_t g = 0; g < gs->n; g++) {
        if (e.members)
            free(e.members[g]);
        for (int w = 0; w < 2; w++)
            if (e.ends[w])
                free(e.ends[w][g]);
    }
    free(e.members);
    free(e.n_members);
    for (int w = 0; w < 2; w++) {
        free(e.ends[w]);
        free(e.n_ends[w]);
        free(e.known[w]);
    }
    free(e.mark);
    free(e.dmark);
    free(gd);
    free(down);
    free(n_down);
    free(indeg);
    free(heap);
    free(order);
    free(pos);
    dl_smap_free(&ids);
    return ok;
}
