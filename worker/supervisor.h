/*
 * supervisor.h - the thread that runs claimed tries to their end.
 *
 * It owns the task processes (spawn, output pipes, SIGCHLD through a
 * signalfd, execution timeouts, kills), each try's log buffer and its
 * shipping to task_log, the worker's heartbeats, outcomes (kept in memory
 * and retried with backoff while Postgres is away; the tasks keep running)
 * and the acknowledgement of each try's message once its outcome committed.
 * It owns one db_t and one queue_t.
 *
 * It is also the mini-scheduler: the transaction that writes outcomes plans
 * the runs they touch (sched/planrun.h), queues the tasks that became
 * ready, and claims some of them for itself at once with the slots of the
 * tries that just ended; the rest are XADDed after the commit.
 *
 * SIGCHLD must be blocked in every thread before supervisor_new (the
 * signalfd reads it).
 */
#ifndef UPDRAFT_WORKER_SUPERVISOR_H
#define UPDRAFT_WORKER_SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/db.h"
#include "core/queue.h"
#include "core/secrets.h"
#include "worker/handoff.h"

typedef struct supervisor_opts {
    db_t *db;           /* ownership passes to the supervisor */
    queue_t *queue;     /* ownership passes; used for acks */
    handoff_t *handoff; /* borrowed */
    int64_t job_id;
    const char *hostname;      /* for direct claims; copied */
    const char *const *queues; /* borrowed: the queues this worker serves (direct claims) */
    size_t nqueues;
    int pid;
    int heartbeat_sec;
    int log_flush_ms;
    size_t max_log_bytes;              /* per try */
    size_t max_xcom_size;              /* bytes of one XCom value (core.max_xcom_size) */
    int max_map_length;                /* core.max_map_length, for the mini-scheduler's mapping */
    size_t max_templated_field_length; /* core.max_templated_field_length (characters) */
    int rendered_keep_runs;            /* core.max_num_rendered_ti_fields_per_task (0 = keep all) */
    const secrets_keyring_t *ring;     /* borrowed: core.fernet_key, decrypts what templates read */
    const char *self_exe;    /* borrowed: this binary, run as the operator runner; NULL = none */
    const char *bash;        /* borrowed: the bash bash tasks run with (executor_find_bash) */
    const char *db_url;      /* borrowed: handed to operators that use updraft's own tables */
    bool db_pooled;          /* db_url is a transaction pooler (database.pooler) */
    bool orchestration_only; /* benchmarks: complete every try as success, run nothing */
    volatile bool *stop;     /* warm shutdown: no new tries; running ones get shutdown_grace_sec */
    volatile bool *kill_now; /* cold shutdown: hand every running try back now */
    int shutdown_grace_sec;  /* then running tries are killed and handed back */
    const char *default_run_as_user; /* borrowed: tasks without run_as_user run as it, NULL none */
    bool allow_root_tasks;           /* worker.allow_root_tasks (worker/runas.h) */
    struct healthsrv *health;        /* borrowed, NULL = none: told of every heartbeat written */
} supervisor_opts_t;

typedef struct supervisor supervisor_t;

/* NULL with err filled (signalfd, memory); on failure the db/queue are not taken. */
supervisor_t *supervisor_new(const supervisor_opts_t *o, char *err, size_t errlen);
/* Starts the thread. 0 or -1. */
int supervisor_start(supervisor_t *s);
/*
 * True once the thread has returned: the hand-off was closed and every try
 * was reported, or kill_now was set and the tasks were killed.
 */
bool supervisor_done(supervisor_t *s);
void supervisor_join(supervisor_t *s);
void supervisor_free(supervisor_t *s);

#endif
