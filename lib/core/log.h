/*
 * log.h - leveled, one-line-per-event logging to stderr.
 *
 * Lines read `ts=... level=info component=scheduler msg="..." key=value`.
 * A line is formatted only when its level is enabled. Never pass a secret.
 * The logger is one of the few mutable globals: set it once at start.
 */
#ifndef UPDRAFT_LOG_H
#define UPDRAFT_LOG_H

#include <stdbool.h>

typedef enum log_level {
    LOG_LEVEL_DEBUG = 0,
    LOG_LEVEL_INFO,
    LOG_LEVEL_WARN,
    LOG_LEVEL_ERROR,
    LOG_LEVEL_OFF
} log_level_t;

/* Sets the component name (borrowed; must outlive the process) and level. */
void log_init(const char *component, log_level_t level);
void log_set_level(log_level_t level);
/* Parses "debug|info|warning|warn|error|off" (case-insensitive); -1 if unknown. */
int log_parse_level(const char *s, log_level_t *out);
bool log_enabled(log_level_t level);

/* fmt is the event text followed by optional ` key=value` pairs. */
void log_write(log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (log_enabled(LOG_LEVEL_DEBUG))                                                          \
            log_write(LOG_LEVEL_DEBUG, __VA_ARGS__);                                               \
    } while (0)
#define log_info(...)                                                                              \
    do {                                                                                           \
        if (log_enabled(LOG_LEVEL_INFO))                                                           \
            log_write(LOG_LEVEL_INFO, __VA_ARGS__);                                                \
    } while (0)
#define log_warn(...)                                                                              \
    do {                                                                                           \
        if (log_enabled(LOG_LEVEL_WARN))                                                           \
            log_write(LOG_LEVEL_WARN, __VA_ARGS__);                                                \
    } while (0)
#define log_error(...)                                                                             \
    do {                                                                                           \
        if (log_enabled(LOG_LEVEL_ERROR))                                                          \
            log_write(LOG_LEVEL_ERROR, __VA_ARGS__);                                               \
    } while (0)

#endif
