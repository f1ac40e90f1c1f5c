/*
 * loop.h - the scheduling loop thread: heartbeat, run creation, run
 * planning, enqueue and resend (DESIGN.md "Scheduler loop").
 *
 * It owns one db_t (which LISTENs on updraft_scheduler) and one queue_t.
 * It waits in poll() on the database socket and on wake_fd (an eventfd the
 * DAG processor and main write to) for at most the time until the next due
 * thing, and never exits on a database or Redis failure: it rolls back,
 * reconnects with backoff and carries on until *stop.
 */
#ifndef UPDRAFT_SCHEDULER_LOOP_H
#define UPDRAFT_SCHEDULER_LOOP_H

#include <stdbool.h>

#include "core/config.h"

typedef struct loop_args {
    const config_t *cfg;
    const char *hostname;     /* for the job row */
    volatile bool *stop;      /* set by main on SIGINT/SIGTERM (then wake_fd is written) */
    int wake_fd;              /* eventfd; readable = "look now" */
    int exit_code;            /* out: 0 on a clean stop */
    struct healthsrv *health; /* borrowed, NULL = none: told of every completed pass while
                                 the DAG processor is not stalled */
    const struct processor_status *processor; /* borrowed, NULL = none: its progress goes into
                                                 the job row at each heartbeat */
} loop_args_t;

/* pthread entry point; arg is a loop_args_t. */
void *loop_thread(void *arg);

/* Writes to an eventfd so that its reader wakes; async-signal-safe. */
void loop_wake(int fd);

#endif
