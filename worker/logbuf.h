/*
 * logbuf.h - the log of one task try, buffered between flushes to task_log.
 *
 * Task output is arbitrary bytes; task_log.data is Postgres text. The
 * buffer therefore holds only valid UTF-8 without NUL: invalid sequences and
 * NUL bytes become U+FFFD, and a multi-byte character split across two
 * reads is held back until its end arrives, so that any prefix the buffer
 * hands out can be stored as is.
 *
 * Task output counts against a cap per try; past it one line says the log
 * was truncated and further output is discarded (the pipe is still read so
 * that the task does not block). Lines written by the worker itself (the
 * first "Running command" line, the exit code) do not count.
 */
#ifndef UPDRAFT_WORKER_LOGBUF_H
#define UPDRAFT_WORKER_LOGBUF_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

typedef struct logbuf logbuf_t;

/* cap: bytes of task output kept per try (> 0). NULL on out of memory. */
logbuf_t *logbuf_new(size_t cap);
void logbuf_free(logbuf_t *lb);

/* Appends raw task output. Returns 0, or -1 when out of memory (output lost). */
int logbuf_append_output(logbuf_t *lb, const char *data, size_t len);
/*
 * The task's output has ended: a character still incomplete is replaced by
 * U+FFFD. Later output is appended as a new stream.
 */
void logbuf_end_output(logbuf_t *lb);

/*
 * Appends one line written by the worker, formatted as Airflow's task logs:
 * "[<iso time>] {worker} <LEVEL> - <message>\n". Ends the output first so a
 * line never lands inside a character. 0 or -1 (out of memory).
 */
int logbuf_append_line(logbuf_t *lb, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Secrets masking: every occurrence of a value added here is replaced by
 * "***" in what the buffer hands out, in task output and in worker lines
 * alike. Output that may be the start of a secret split across two reads
 * is held back until the next read (or the end of the output) decides it.
 * Values shorter than LOGBUF_MIN_SECRET bytes are not masked (masking "a"
 * would make a log unreadable and reveal little). Add the secrets before
 * the first output. 0, or -1 (out of memory, too many or too long: the
 * caller must not run the task then).
 */
#define LOGBUF_MIN_SECRET 3
#define LOGBUF_MAX_SECRETS 1024
#define LOGBUF_MAX_SECRET_LEN (64 * 1024)
int logbuf_add_secret(logbuf_t *lb, const char *value);
size_t logbuf_secret_count(const logbuf_t *lb);

/*
 * Adds the strings under the sensitive keys of a JSON document
 * (model/sensitive.h: at any depth, the whole subtree of such a key), as
 * they are and as JSON escapes them. 0, or -1 as logbuf_add_secret.
 */
int logbuf_add_json_secrets(logbuf_t *lb, const cJSON *doc);

/*
 * A copy of text with every secret added so far replaced by "***", as the
 * log masks it (the leftmost match first, the longest at one position):
 * the task's rendered fields are stored masked the same way. NULL when out
 * of memory (the caller must not store text then).
 */
char *logbuf_mask_copy(const logbuf_t *lb, const char *text);

/* Bytes ready to ship, and a borrowed pointer to them (valid UTF-8, no NUL). */
size_t logbuf_pending(const logbuf_t *lb);
const char *logbuf_data(const logbuf_t *lb);
/* Drops the first n pending bytes after they were stored. */
void logbuf_consume(logbuf_t *lb, size_t n);

/* Task output bytes accepted so far, and whether the cap was hit. */
size_t logbuf_output_bytes(const logbuf_t *lb);
bool logbuf_truncated(const logbuf_t *lb);

#endif
