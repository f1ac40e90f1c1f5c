/*
 * processor.h - the DAG file processor thread.
 *
 * Every scheduler.dag_dir_list_interval seconds it lists core.dags_folder
 * (recursively, following symlinked folders once, skipping hidden names),
 * and re-parses only the files whose content, or that of a defaults.y*ml
 * applying to them, changed since the hash recorded in dag_file (so a
 * restart re-stores nothing). Files with import errors are re-parsed on
 * every scan, so that an error caused by another file (a duplicate DAG id)
 * clears once that file is fixed. Each file is stored in its own
 * transaction: dag rows, a new dag_version only when the serialized DAG
 * changed, import_error rows, dag_file. It owns one db_t.
 */
#ifndef UPDRAFT_SCHEDULER_PROCESSOR_H
#define UPDRAFT_SCHEDULER_PROCESSOR_H

#include <stdbool.h>

#include "common/config.h"

typedef struct processor_args {
    const config_t *cfg;
    volatile bool *stop;  /* set by main; then wake_fd is written */
    int wake_fd;          /* eventfd: readable = scan now (or stop) */
    int loop_wake_fd;     /* written after a scan changed something */
} processor_args_t;

/* pthread entry point; arg is a processor_args_t. */
void *processor_thread(void *arg);

/*
 * Hex SHA-256 (65 bytes with the NUL) of len bytes. Returns 0, or -1 when
 * OpenSSL fails.
 */
int processor_sha256_hex(const void *data, size_t len, char out[65]);

#endif
