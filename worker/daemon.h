/*
 * daemon.h - the worker daemon's life (the threads are described in
 * worker/main.c): connections, the job row, the consumer and supervisor
 * threads, and the shutdown driven by signals.
 */
#ifndef UPDRAFT_WORKER_DAEMON_H
#define UPDRAFT_WORKER_DAEMON_H

#include "worker/options.h"

/*
 * Runs the worker with w until it is shut down. SIGTERM and SIGINT: warm
 * (stop consuming, let running tries finish for up to
 * worker.shutdown_grace_sec, then kill and hand back the rest); SIGQUIT
 * or a second signal: cold (kill and hand back at once). Returns the
 * process's exit status: 0 after a warm shutdown, 1 after a cold one or
 * when the worker could not start.
 */
int worker_daemon_run(const worker_options_t *w);

#endif
