/*
 * processor.h - the DAG file processor thread.
 *
 * Every scheduler.dag_dir_list_interval seconds it lists core.dags_folder
 * (recursively, following symlinked folders once, skipping hidden names)
 * and re-parses only the files that changed. What it remembers between
 * scans is, per file, its stat identity (device, inode, size, mtime,
 * ctime) and the SHA-256 of its content plus the defaults.y*ml files that
 * apply to it; parsed DAGs are never kept. An unchanged file costs one
 * stat(); a file whose stat changed (or that lies under a folder whose
 * defaults files changed) is hashed, and parsed only when the hash
 * differs. After a restart, or after a database error, the hashes recorded
 * in dag_file are the reference instead, so a restart re-stores nothing.
 * Files with import errors are re-parsed on every scan, so that an error
 * caused by another file (a duplicate DAG id) clears once that file is
 * fixed.
 *
 * Changed files are stored in batches: one transaction per batch of files,
 * a handful of set-based statements per batch (dag rows, new dag_version
 * rows only where the serialized DAG changed, import_error and dag_file
 * rows). Each scan logs one info line:
 *   dag folder scanned files=N parsed=N changed=N ms=N removed=N errors=N
 * It owns one db_t.
 */
#ifndef UPDRAFT_SCHEDULER_PROCESSOR_H
#define UPDRAFT_SCHEDULER_PROCESSOR_H

#include <stdbool.h>

#include "core/config.h"

typedef struct processor_args {
    const config_t *cfg;
    volatile bool *stop; /* set by main; then wake_fd is written */
    int wake_fd;         /* eventfd: readable = scan now (or stop) */
    int loop_wake_fd;    /* written after a scan changed something */
} processor_args_t;

/* pthread entry point; arg is a processor_args_t. */
void *processor_thread(void *arg);

/*
 * Hex SHA-256 (65 bytes with the NUL) of len bytes. Returns 0, or -1 when
 * OpenSSL fails.
 */
int processor_sha256_hex(const void *data, size_t len, char out[65]);

#endif
