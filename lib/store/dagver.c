/*
 * dagver.c - the cache of DAG versions (see dagver.h).
 *
 * Entries live in one array of cap slots, found by a linear scan of their
 * ids (cap is small: tens to a few hundred); each carries a use tick and a
 * miss replaces the entry with the oldest. The per-task index is an array
 * sorted by task id, searched by bisection, so a claim of one task of a
 * large DAG costs a few string compares.
 */
#include "store/dagver.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"

static const char SQL_VERSION[] = "SELECT data::text FROM dag_version WHERE id = $1::bigint";

/* DAGVER_ALERTS: only what the alert sender reads, so that it never holds a
 * large DAG's whole document. An absent member comes back as JSON null. */
static const char SQL_VERSION_ALERTS[] =
    "SELECT jsonb_build_object('alerts', data -> 'alerts', 'tasks',"
    "       coalesce((SELECT jsonb_object_agg(t.key, jsonb_build_object("
    "                   'alerts', t.value -> 'alerts', 'sla_sec', t.value -> 'sla_sec'))"
    "                 FROM jsonb_each(data -> 'tasks') t), '{}'::jsonb))::text"
    "  FROM dag_version WHERE id = $1::bigint";

typedef struct dagver_task {
    const char *task_id; /* borrowed from the document */
    const cJSON *spec;   /* data.tasks[task_id] */
    int task;            /* index in dag->tasks once parsed, else -1 */
} dagver_task_t;

struct dagver {
    int64_t version_id; /* 0 = free slot */
    cJSON *doc;
    dagver_task_t *tasks; /* sorted by task_id */
    size_t n_tasks;
    dag_t *dag;      /* parsed on first use */
    bool dag_failed; /* the document is not a DAG this build reads: not tried again */
    uint64_t used;   /* the cache's tick at the last use */
};

struct dagver_cache {
    dagver_t *v;
    size_t cap, n;
    uint64_t tick;
    dagver_view_t view;
};

static void entry_clear(dagver_t *e)
{
    cJSON_Delete(e->doc);
    free(e->tasks);
    dag_free(e->dag);
    memset(e, 0, sizeof(*e));
}

dagver_cache_t *dagver_cache_new(size_t cap, dagver_view_t view)
{
    dagver_cache_t *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->cap = cap ? cap : 1;
    c->view = view;
    c->v = calloc(c->cap, sizeof(*c->v));
    if (!c->v) {
        free(c);
        return NULL;
    }
    return c;
}

void dagver_cache_clear(dagver_cache_t *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        entry_clear(&c->v[i]);
    c->n = 0;
}

void dagver_cache_free(dagver_cache_t *c)
{
    if (!c)
        return;
    dagver_cache_clear(c);
    free(c->v);
    free(c);
}

size_t dagver_cache_count(const dagver_cache_t *c)
{
    return c ? c->n : 0;
}

size_t dagver_cache_ids(const dagver_cache_t *c, int64_t *ids, size_t max)
{
    size_t k = 0;
    for (size_t i = 0; c && i < c->n && k < max; i++)
        ids[k++] = c->v[i].version_id;
    return k;
}

const dagver_t *dagver_find(const dagver_cache_t *c, int64_t version_id)
{
    for (size_t i = 0; c && i < c->n; i++)
        if (c->v[i].version_id == version_id)
            return &c->v[i];
    return NULL;
}

static int cmp_task(const void *a, const void *b)
{
    return strcmp(((const dagver_task_t *)a)->task_id, ((const dagver_task_t *)b)->task_id);
}

static const dagver_task_t *find_task(const dagver_t *v, const char *task_id)
{
    size_t lo = 0, hi = v->n_tasks;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(task_id, v->tasks[mid].task_id);
        if (c == 0)
            return &v->tasks[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* Parses the document of one row into e (its index built). 0 or a negative code. */
static int entry_load(dagver_t *e, const PGresult *r, const char *idbuf)
{
    size_t len = (size_t)PQgetlength(r, 0, 0);
    if (PQgetisnull(r, 0, 0) || len > DAGVER_DATA_MAX) {
        log_error("dag version unreadable version_id=%s bytes=%zu", idbuf, len);
        return UPDRAFT_EINVALID;
    }
    e->doc = cJSON_ParseWithLengthOpts(PQgetvalue(r, 0, 0), len + 1, NULL, 1);
    const cJSON *tasks = cJSON_GetObjectItemCaseSensitive(e->doc, "tasks");
    if (!cJSON_IsObject(tasks)) {
        log_error("dag version unreadable version_id=%s error=\"%s\"", idbuf,
                  e->doc ? "no tasks object" : "invalid JSON");
        return UPDRAFT_EINVALID;
    }
    size_t n = (size_t)cJSON_GetArraySize(tasks);
    e->tasks = calloc(n + 1, sizeof(*e->tasks));
    if (!e->tasks)
        return UPDRAFT_ENOMEM;
    const cJSON *it;
    cJSON_ArrayForEach(it, tasks)
    {
        if (it->string)
            e->tasks[e->n_tasks++] = (dagver_task_t){it->string, it, -1};
    }
    qsort(e->tasks, e->n_tasks, sizeof(*e->tasks), cmp_task);
    return UPDRAFT_OK;
}

/*
 * DAGVER_DAG: parses the DAG now and drops the document, the index then
 * naming the DAG's own tasks (the task ids it borrows are the DAG's). A
 * document that is not a DAG stays an entry without one (not tried again).
 */
static int keep_dag_only(dagver_t *e)
{
    const dag_t *dag = dagver_dag(e);
    free(e->tasks);
    e->tasks = NULL;
    e->n_tasks = 0;
    if (dag) {
        e->tasks = calloc(dag->n_tasks + 1, sizeof(*e->tasks));
        if (!e->tasks)
            return UPDRAFT_ENOMEM;
        for (size_t i = 0; i < dag->n_tasks; i++)
            e->tasks[e->n_tasks++] = (dagver_task_t){dag->tasks[i].task_id, NULL, (int)i};
        qsort(e->tasks, e->n_tasks, sizeof(*e->tasks), cmp_task);
    }
    cJSON_Delete(e->doc);
    e->doc = NULL;
    return UPDRAFT_OK;
}

/* The slot a new entry goes to: a free one, else the least recently used (cleared). */
static dagver_t *take_slot(dagver_cache_t *c)
{
    if (c->n < c->cap)
        return &c->v[c->n++];
    dagver_t *victim = &c->v[0];
    for (size_t i = 1; i < c->n; i++)
        if (c->v[i].used < victim->used)
            victim = &c->v[i];
    entry_clear(victim);
    return victim;
}

int dagver_get(dagver_cache_t *c, db_t *db, int64_t version_id, dagver_t **out)
{
    char idbuf[24];
    dagver_t e = {.version_id = version_id};
    int rc;

    *out = NULL;
    for (size_t i = 0; i < c->n; i++) {
        if (c->v[i].version_id == version_id) {
            c->v[i].used = ++c->tick;
            *out = &c->v[i];
            return UPDRAFT_OK;
        }
    }
    snprintf(idbuf, sizeof(idbuf), "%" PRId64, version_id);
    const char *p[] = {idbuf};
    PGresult *r = c->view == DAGVER_ALERTS
                      ? db_query(db, "dagver_get_alerts", SQL_VERSION_ALERTS, 1, p)
                      : db_query(db, "dagver_get", SQL_VERSION, 1, p);
    if (!r)
        return UPDRAFT_EDB;
    if (PQntuples(r) == 0) {
        log_error("dag version missing version_id=%s", idbuf);
        rc = UPDRAFT_ENOTFOUND;
    } else {
        rc = entry_load(&e, r, idbuf);
    }
    PQclear(r);
    if (rc == UPDRAFT_OK && c->view == DAGVER_DAG)
        rc = keep_dag_only(&e);
    e.dag_failed = c->view == DAGVER_ALERTS; /* a projection is no DAG: never parsed */
    if (rc < 0) {
        entry_clear(&e);
        return rc;
    }
    dagver_t *slot = take_slot(c);
    *slot = e;
    slot->used = ++c->tick;
    *out = slot;
    return UPDRAFT_OK;
}

int64_t dagver_id(const dagver_t *v)
{
    return v->version_id;
}

const cJSON *dagver_doc(const dagver_t *v)
{
    return v->doc;
}

const cJSON *dagver_task_spec(const dagver_t *v, const char *task_id)
{
    const dagver_task_t *t = find_task(v, task_id);
    return t ? t->spec : NULL;
}

const dag_t *dagver_dag(dagver_t *v)
{
    char err[256];
    if (v->dag || v->dag_failed || !v->doc)
        return v->dag;
    v->dag = dag_from_json(v->doc, err, sizeof(err));
    if (!v->dag) {
        v->dag_failed = true;
        log_error("dag version unreadable version_id=%" PRId64 " error=\"%s\"", v->version_id, err);
        return NULL;
    }
    for (size_t i = 0; i < v->dag->n_tasks; i++) {
        dagver_task_t *t = (dagver_task_t *)find_task(v, v->dag->tasks[i].task_id);
        if (t)
            t->task = (int)i;
    }
    return v->dag;
}

int dagver_task_index(const dagver_t *v, const char *task_id)
{
    const dagver_task_t *t = v->dag ? find_task(v, task_id) : NULL;
    return t ? t->task : -1;
}
