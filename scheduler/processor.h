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
 * A file whose own content failed to load (a YAML or DAG error, a FIFO or
 * other non-regular file under a DAG file's name) is not parsed again
 * until it or a defaults file over it changes, or the scheduler restarts:
 * a hostile file costs one parse, not one per scan. Files whose only
 * error is a DAG id another file owns are re-parsed on every scan, so that
 * the error clears once that file is fixed; so are files that could not
 * be read at all (out of memory, an I/O error), which may pass next time.
 * Only regular files are opened, never in a way that could block.
 *
 * Changed files are stored in batches: one transaction per batch of files,
 * a handful of set-based statements per batch (dag rows, new dag_version
 * rows only where the serialized DAG changed, import_error and dag_file
 * rows). Each scan logs one info line:
 *   dag folder scanned files=N parsed=N changed=N ms=N removed=N errors=N
 * It owns one db_t.
 *
 * Its progress (processor_status_t) is what the scheduler reports as the
 * DAG processor's health: the loop thread writes it into its job row at
 * each heartbeat, and stops telling the health server of its passes while
 * the processor is stalled.
 */
#ifndef UPDRAFT_SCHEDULER_PROCESSOR_H
#define UPDRAFT_SCHEDULER_PROCESSOR_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"

/* A scan that shows no progress this long is stalled (jobs.h's threshold). */
#define PROCESSOR_STALL_SEC 30

/*
 * What the processor thread tells the others of its progress. Written by
 * the processor only; read by any thread.
 */
typedef struct processor_status {
    _Atomic int64_t progress_us; /* ts_mono_us() of its last progress: a file, a batch */
    _Atomic bool busy;           /* scanning (or connecting), not waiting for the next scan */
} processor_status_t;

/*
 * How long the processor has gone without progress, in microseconds: 0
 * while it waits between scans, else the time since its last progress.
 */
int64_t processor_stalled_us(const processor_status_t *s);

typedef struct processor_args {
    const config_t *cfg;
    volatile bool *stop;        /* set by main; then wake_fd is written */
    int wake_fd;                /* eventfd: readable = scan now (or stop) */
    int loop_wake_fd;           /* written after a scan changed something */
    processor_status_t *status; /* owned by main, shared with the loop */
} processor_args_t;

/* pthread entry point; arg is a processor_args_t. */
void *processor_thread(void *arg);

/*
 * Hex SHA-256 (65 bytes with the NUL) of len bytes. Returns 0, or -1 when
 * OpenSSL fails.
 */
int processor_sha256_hex(const void *data, size_t len, char out[65]);

#endif
