/*
 * dag_priority.c - effective priorities (dag_compute_priorities), as
 * Airflow's priority_weight_total: the task's own weight plus the weights
 * of every distinct task reachable downstream (weight_rule downstream) or
 * upstream (upstream); absolute is the own weight alone.
 *
 * "Distinct" is what makes this more than a sum along edges: in a diamond
 * a -> {b, c} -> d, d counts once for a. A search from every task costs
 * O(n * (n + e)), quadratic on a long chain; this file does it in one
 * pass over the tasks in topological order where the graph allows, and
 * pays more only for the part that needs it:
 *
 *   - A task with two or more parents (in the direction summed) is a
 *     "join". Every other task has at most one parent, so the tasks
 *     reachable from v through non-joins form a tree under v, and its
 *     weight is sub(v) = w(v) + sum of sub(c) over v's children c that are
 *     not joins: one pass, children before parents.
 *   - Everything else v reaches lies under a join: the set reachable from
 *     v is the tree under v plus, for each join j reachable from v, the
 *     tree under j, and these trees are disjoint (walking up from a task
 *     through single parents ends at exactly one join or at v). So
 *     total(v) = sub(v) + the sum of sub(j) over the joins v reaches.
 *   - Which joins v reaches is a bitset over the joins, the union of its
 *     children's sets, computed 64 joins at a time in one more pass each;
 *     the sum over a 64-bit set takes eight table lookups.
 *
 * Chains, trees and forests have no joins: O(n + e). A DAG with k joins
 * costs O((n + e) * ceil(k / 64)). Sums are kept in 64 bits and clamped to
 * the int range at the end, as Airflow clamps the finished total.
 */
#include "model/dag.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The graph as indices: the downstream edges of each task, and the reverse. */
typedef struct graph {
    size_t n;
    size_t *down_off, *down; /* children of i: down[down_off[i] .. down_off[i + 1]) */
    size_t *up_off, *up;     /* parents, the same way */
    size_t *order;           /* topological: upstream before downstream */
} graph_t;

typedef struct name_idx {
    const char *name;
    size_t idx;
} name_idx_t;

static int cmp_name_idx(const void *a, const void *b)
{
    return strcmp(((const name_idx_t *)a)->name, ((const name_idx_t *)b)->name);
}

static void graph_free(graph_t *g)
{
    free(g->down_off);
    free(g->down);
    free(g->up_off);
    free(g->up);
    free(g->order);
}

/*
 * Builds the index graph from the tasks' downstream lists (names not in
 * the DAG are ignored) and sorts it. 0, -1 on OOM or a cycle.
 */
static int graph_build(const dag_t *dag, graph_t *g)
{
    size_t n = dag->n_tasks, e = 0, placed = 0, head = 0;
    name_idx_t *ix = calloc(n + 1, sizeof *ix);
    size_t *fill = calloc(n + 1, sizeof *fill);
    int rc = -1;

    memset(g, 0, sizeof *g);
    g->n = n;
    for (size_t i = 0; i < n; i++)
        e += dag->tasks[i].n_downstream;
    g->down_off = calloc(n + 1, sizeof *g->down_off);
    g->up_off = calloc(n + 1, sizeof *g->up_off);
    g->down = calloc(e + 1, sizeof *g->down);
    g->up = calloc(e + 1, sizeof *g->up);
    g->order = calloc(n + 1, sizeof *g->order);
    if (!ix || !fill || !g->down_off || !g->up_off || !g->down || !g->up || !g->order)
        goto out;
    for (size_t i = 0; i < n; i++)
        ix[i] = (name_idx_t){dag->tasks[i].task_id, i};
    qsort(ix, n, sizeof *ix, cmp_name_idx);

    /* Downstream edges, resolved once; parents counted on the way. */
    e = 0;
    for (size_t i = 0; i < n; i++) {
        const dag_task_t *t = &dag->tasks[i];
        g->down_off[i] = e;
        for (size_t k = 0; k < t->n_downstream; k++) {
            name_idx_t key = {t->downstream[k], 0};
            const name_idx_t *f = bsearch(&key, ix, n, sizeof *ix, cmp_name_idx);
            if (!f)
                continue;
            g->down[e++] = f->idx;
            g->up_off[f->idx + 1]++;
        }
    }
    g->down_off[n] = e;
    for (size_t i = 0; i < n; i++)
        g->up_off[i + 1] += g->up_off[i];
    for (size_t i = 0; i < n; i++)
        for (size_t k = g->down_off[i]; k < g->down_off[i + 1]; k++) {
            size_t c = g->down[k];
            g->up[g->up_off[c] + fill[c]++] = i;
        }

    /* Kahn's sort; fill counts the parents not yet placed. */
    for (size_t i = 0; i < n; i++) {
        fill[i] = g->up_off[i + 1] - g->up_off[i];
        if (!fill[i])
            g->order[placed++] = i;
    }
    while (head < placed) {
        size_t v = g->order[head++];
        for (size_t k = g->down_off[v]; k < g->down_off[v + 1]; k++)
            if (--fill[g->down[k]] == 0)
                g->order[placed++] = g->down[k];
    }
    rc = placed == n ? 0 : -1;
out:
    free(ix);
    free(fill);
    return rc;
}

/* One direction of the graph: children are downstream (down) or upstream. */
typedef struct side {
    const graph_t *g;
    bool down;
    const size_t *kid_off, *kid, *par_off;
} side_t;

/* The i-th task to visit so that children come before their parents. */
static size_t side_visit(const side_t *s, size_t i)
{
    return s->down ? s->g->order[s->g->n - 1 - i] : s->g->order[i];
}

/*
 * Adds to total[] the weight of the joins each task reaches: for each
 * block of 64 joins, one pass that unions the children's bitsets and sums
 * the new set through byte tables. sub: sub() of each join by join number.
 */
static void add_join_weights(const side_t *s, const size_t *join_of, size_t n_joins,
                             const long long *sub, uint64_t *mask, long long (*lut)[256],
                             long long *total)
{
    size_t n = s->g->n;

    for (size_t base = 0; base < n_joins; base += 64) {
        size_t width = n_joins - base < 64 ? n_joins - base : 64;
        /* lut[b][x]: the weight of the joins base + 8b + (the bits of x) */
        for (size_t b = 0; b < 8; b++) {
            lut[b][0] = 0;
            for (unsigned x = 1; x < 256; x++) {
                size_t bit = 8 * b + (size_t)__builtin_ctz(x);
                lut[b][x] = lut[b][x & (x - 1)] + (bit < width ? sub[base + bit] : 0);
            }
        }
        for (size_t i = 0; i < n; i++) {
            size_t v = side_visit(s, i);
            uint64_t m = 0;
            for (size_t k = s->kid_off[v]; k < s->kid_off[v + 1]; k++) {
                size_t c = s->kid[k], j = join_of[c];
                m |= mask[c];
                if (j != SIZE_MAX && j >= base && j - base < 64)
                    m |= UINT64_C(1) << (j - base);
            }
            mask[v] = m;
            for (size_t b = 0; m && b < 8; b++, m >>= 8)
                total[v] += lut[b][m & 0xff];
        }
    }
}

/*
 * The weight reachable from every task in one direction (down: along
 * downstream edges), its own included, into total[]. 0, -1 on OOM.
 */
static int reach_weights(const dag_t *dag, const graph_t *g, bool down, long long *total)
{
    side_t s = {.g = g,
                .down = down,
                .kid_off = down ? g->down_off : g->up_off,
                .kid = down ? g->down : g->up,
                .par_off = down ? g->up_off : g->down_off};
    size_t n = g->n, n_joins = 0;
    size_t *join_of = malloc((n + 1) * sizeof *join_of); /* join number, or SIZE_MAX */
    long long *sub = NULL, (*lut)[256] = NULL;
    uint64_t *mask = NULL;
    int rc = -1;

    if (!join_of)
        goto out;
    for (size_t i = 0; i < n; i++)
        join_of[i] = s.par_off[i + 1] - s.par_off[i] >= 2 ? n_joins++ : SIZE_MAX;
    /* sub(v): v and the tree under it that no join interrupts */
    for (size_t i = 0; i < n; i++) {
        size_t v = side_visit(&s, i);
        long long w = dag->tasks[v].priority_weight;
        for (size_t k = s.kid_off[v]; k < s.kid_off[v + 1]; k++)
            if (join_of[s.kid[k]] == SIZE_MAX)
                w += total[s.kid[k]];
        total[v] = w;
    }
    if (n_joins > 0) {
        sub = malloc(n_joins * sizeof *sub);
        mask = malloc(n * sizeof *mask);
        lut = malloc(8 * sizeof *lut);
        if (!sub || !mask || !lut)
            goto out;
        for (size_t i = 0; i < n; i++)
            if (join_of[i] != SIZE_MAX)
                sub[join_of[i]] = total[i];
        add_join_weights(&s, join_of, n_joins, sub, mask, lut, total);
    }
    rc = 0;
out:
    free(join_of);
    free(sub);
    free(mask);
    free(lut);
    return rc;
}

static int clamp_int(long long v)
{
    return v > INT_MAX ? INT_MAX : v < INT_MIN ? INT_MIN : (int)v;
}

int dag_compute_priorities(dag_t *dag)
{
    size_t n = dag->n_tasks;
    bool need[2] = {false, false}; /* [0] downstream, [1] upstream */
    long long *sums[2] = {NULL, NULL};
    graph_t g;
    int rc = -1;

    for (size_t i = 0; i < n; i++) {
        need[0] = need[0] || dag->tasks[i].weight_rule == DAG_WEIGHT_DOWNSTREAM;
        need[1] = need[1] || dag->tasks[i].weight_rule == DAG_WEIGHT_UPSTREAM;
    }
    if (graph_build(dag, &g) != 0)
        goto out;
    for (int d = 0; d < 2; d++)
        if (need[d] && (!(sums[d] = calloc(n + 1, sizeof *sums[d])) ||
                        reach_weights(dag, &g, d == 0, sums[d]) != 0))
            goto out;
    for (size_t i = 0; i < n; i++) {
        dag_task_t *t = &dag->tasks[i];
        long long v = t->weight_rule == DAG_WEIGHT_DOWNSTREAM ? sums[0][i]
                      : t->weight_rule == DAG_WEIGHT_UPSTREAM ? sums[1][i]
                                                              : t->priority_weight;
        t->priority_weight_total = clamp_int(v);
    }
    rc = 0;
out:
    graph_free(&g);
    free(sums[0]);
    free(sums[1]);
    return rc;
}
