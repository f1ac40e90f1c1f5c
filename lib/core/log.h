/*
 * log.h - leveled, one-line-per-event logging to stderr.
 *
 * Text lines (logfmt) read `ts=... level=info component=scheduler event text
 * key=value key="value with spaces"`. JSON lines (logging.format json) carry
 * the same event as one object: "timestamp", "level", "component",
 * "message" and each key=value as a string member (log_json_line).
 * A line is formatted only when its level is enabled. Never pass a secret.
 * The logger is one of the few mutable globals: set it once at start.
 */
#ifndef UPDRAFT_LOG_H
#define UPDRAFT_LOG_H

#include <stdbool.h>
#include <stddef.h>

typedef enum log_level {
    LOG_LEVEL_DEBUG = 0,
    LOG_LEVEL_INFO,
    LOG_LEVEL_WARN,
    LOG_LEVEL_ERROR,
    LOG_LEVEL_OFF
} log_level_t;

typedef enum log_format {
    LOG_FORMAT_TEXT = 0, /* logfmt, the default */
    LOG_FORMAT_JSON      /* one JSON object per line */
} log_format_t;

/* Sets the component name (borrowed; must outlive the process) and level. */
void log_init(const char *component, log_level_t level);
void log_set_level(log_level_t level);
/* Parses "debug|info|warning|warn|error|off" (case-insensitive); -1 if unknown. */
int log_parse_level(const char *s, log_level_t *out);
bool log_enabled(log_level_t level);
/* Format of the lines written from now on (log_init leaves it as it is). */
void log_set_format(log_format_t format);
log_format_t log_get_format(void);
/* Parses "text|json" (case-insensitive); -1 if unknown. */
int log_parse_format(const char *s, log_format_t *out);

/* Smallest out buffer log_json_line accepts. */
#define LOG_JSON_MIN_CAP 256
/* Most key=value pairs of one line that become members; more are dropped
 * and the line is marked truncated. */
#define LOG_JSON_MAX_FIELDS 64

/*
 * Converts one event (text[0..len): the event text and its ` key=value`
 * pairs, as log_write's fmt produces) into a JSON object followed by '\n',
 * written to out (cap >= LOG_JSON_MIN_CAP) and NUL-terminated; returns its
 * length without the NUL. No allocation.
 *
 * The object is {"timestamp","level","component","message", key: value...},
 * always valid JSON in UTF-8 whatever the input (NUL bytes end the text):
 * - the message is the text before the first `key=` token, plus any later
 *   token that is not key=value (so no text is lost);
 * - a key is [A-Za-z_][A-Za-z0-9_.]* followed by '='; every value is a JSON
 *   string (numbers too, so that a field keeps one type in an index);
 *   `key=` gives ""; a value without quotes ends at the next space;
 * - a value starting with '"' runs to the first '"' that ends the text or is
 *   followed by spaces and the next key=, so a quoted error holding quotes
 *   stays whole; an unterminated one runs to the end of the text;
 * - a key named like a member above (or "truncated") is written with "log_"
 *   in front; a repeated key gets "_2", "_3"...;
 * - control characters, DEL, '"' and '\\' are escaped, bytes that are not UTF-8
 *   become U+FFFD;
 * - when it does not fit in cap, or cut is true (the text was already cut
 *   short), or there are more than LOG_JSON_MAX_FIELDS pairs, the object
 *   ends early with "truncated":true and is still valid.
 */
size_t log_json_line(char *out, size_t cap, const char *timestamp, const char *level,
                     const char *component, const char *text, size_t len, bool cut);

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
