/*
 * dagver.h - the one cache of DAG versions: dag_version rows, parsed, keyed
 * by dag_version.id. A version never changes once written, so an entry is
 * never stale; the cache is bounded (least recently used entry evicted) and
 * a miss is one statement.
 *
 * Every reader of versions shares it: run planning (sched/planrun.h) reads
 * the parsed dag_t, the worker's claim reads one task's serialized spec
 * (the claim is hot: with its versions cached, the claim statement leaves
 * the spec column NULL and the spec comes from here, found by task id in an
 * index kept with the entry), and the alert sender reads the alert settings
 * of the document. An entry keeps the document (cJSON) and the index from
 * the load; the dag_t is parsed from the document on first use only, so a
 * reader that needs only specs never pays for it.
 *
 * Each cache keeps one view of its versions, chosen when it is made, so
 * that a reader holds no more of a large DAG than it reads:
 *   DAGVER_FULL    the document, its task index, and the parsed DAG on
 *                  first use (the worker: specs for claims, the DAG for
 *                  its mini-scheduler);
 *   DAGVER_DAG     the parsed DAG and its task index only, the document
 *                  dropped once parsed (the scheduler's planning);
 *   DAGVER_ALERTS  a projection of the document, loaded as such:
 *                  {"alerts": ..., "tasks": {task_id: {"alerts": ...,
 *                  "sla_sec": ...}}} (the alert sender).
 *
 * A cache is owned by one thread (no locking). Pointers to an entry and to
 * what it holds stay valid until the next dagver_get() on the same cache
 * (which may evict), dagver_cache_clear() or dagver_cache_free().
 */
#ifndef UPDRAFT_STORE_DAGVER_H
#define UPDRAFT_STORE_DAGVER_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "core/db.h"
#include "model/dag.h"

#define DAGVER_DATA_MAX (64 << 20) /* a serialized version larger than this is refused */

typedef struct dagver_cache dagver_cache_t;
typedef struct dagver dagver_t;

typedef enum dagver_view { DAGVER_FULL, DAGVER_DAG, DAGVER_ALERTS } dagver_view_t;

/* A cache of at most cap versions (0 counts as 1) in view; NULL on OOM. */
dagver_cache_t *dagver_cache_new(size_t cap, dagver_view_t view);
void dagver_cache_free(dagver_cache_t *c);
/* Drops every entry (an idle worker gives the memory back); NULL is a no-op. */
void dagver_cache_clear(dagver_cache_t *c);
/* The number of versions held (0 for NULL). */
size_t dagver_cache_count(const dagver_cache_t *c);
/* Writes the ids of the versions held into ids (at most max); returns how many. */
size_t dagver_cache_ids(const dagver_cache_t *c, int64_t *ids, size_t max);

/*
 * The entry of version_id in *out, loaded on a miss (one statement). Returns
 * 0, UPDRAFT_ENOTFOUND (no such row), UPDRAFT_EINVALID (larger than
 * DAGVER_DATA_MAX, not JSON, or without a "tasks" object: logged, not
 * cached), UPDRAFT_EDB or UPDRAFT_ENOMEM. A hit marks the entry used.
 */
int dagver_get(dagver_cache_t *c, db_t *db, int64_t version_id, dagver_t **out);

/* The entry of version_id if held, else NULL; never loads, never marks. */
const dagver_t *dagver_find(const dagver_cache_t *c, int64_t version_id);

int64_t dagver_id(const dagver_t *v);
/* The dag_version.data document as the view holds it (borrowed); NULL in DAGVER_DAG. */
const cJSON *dagver_doc(const dagver_t *v);
/* data.tasks[task_id] as the view holds it (borrowed), or NULL (always in DAGVER_DAG). */
const cJSON *dagver_task_spec(const dagver_t *v, const char *task_id);

/*
 * The parsed DAG (borrowed), parsed from the document on the first call
 * (at the load in DAGVER_DAG). NULL when the document is not a DAG this
 * build reads (logged once, with the reason), out of memory, or in
 * DAGVER_ALERTS.
 */
const dag_t *dagver_dag(dagver_t *v);
/* The index of task_id in dagver_dag(v)->tasks, or -1 (also before dagver_dag succeeded). */
int dagver_task_index(const dagver_t *v, const char *task_id);

#endif
