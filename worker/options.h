/*
 * options.h - what updraft-worker runs with: the configuration file and
 * UPDRAFT_* overrides (core/config.h), the worker's own flags over them,
 * and what follows from both (the hostname it registers under, the
 * queues it consumes). Parsing prints its own errors to stderr: this is
 * the command line.
 */
#ifndef UPDRAFT_WORKER_OPTIONS_H
#define UPDRAFT_WORKER_OPTIONS_H

#include <stdbool.h>

#include "core/config.h"
#include "core/queue.h"

#define WORKER_MAX_QUEUES 16
#define WORKER_HOSTNAME_MAX 256

typedef struct worker_options {
    config_t cfg;
    bool have_cfg;           /* cfg was read (and is freed by worker_options_free) */
    const char *health_port; /* --health-port, NULL: none */
    int concurrency;
    bool orchestration_only;
    char hostname[WORKER_HOSTNAME_MAX];
    const char *queues[WORKER_MAX_QUEUES]; /* validated, de-duplicated; point into queues_buf */
    int nqueues;
    char queues_csv[WORKER_MAX_QUEUES * QUEUE_NAME_MAX]; /* the same, comma-joined */
    char *queues_buf;
} worker_options_t;

/*
 * Reads the configuration and the flags of argv (argv is reordered),
 * answers --help and --print-config, and starts the logger. Returns 0 to
 * run the worker, 1 when the process should exit with status 0 (help,
 * --print-config), -1 when it should exit with status 1 (the reason was
 * printed). Call worker_options_free afterwards in every case.
 */
int worker_options_load(int argc, char **argv, worker_options_t *w);
void worker_options_free(worker_options_t *w);

#endif
