/*
 * log.c - see log.h. Writes whole lines with one write(2) so that lines of
 * concurrent threads and processes sharing stderr do not interleave.
 */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *log_component = "updraft";
static log_level_t log_level = LOG_LEVEL_INFO;

static const char *const level_names[] = {"debug", "info", "warning", "error", "off"};

void log_init(const char *component, log_level_t level)
{
    if (component)
        log_component = component;
    log_level = level;
}

void log_set_level(log_level_t level)
{
    log_level = level;
}

bool log_enabled(log_level_t level)
{
    return level >= log_level && level < LOG_LEVEL_OFF;
}

int log_parse_level(const char *s, log_level_t *out)
{
    if (!s)
        return -1;
    if (!strcasecmp(s, "warn")) {
        *out = LOG_LEVEL_WARN;
        return 0;
    }
    for (int i = 0; i <= LOG_LEVEL_OFF; i++) {
        if (!strcasecmp(s, level_names[i])) {
            *out = (log_level_t)i;
            return 0;
        }
    }
    return -1;
}

void log_write(log_level_t level, const char *fmt, ...)
{
    char line[4096];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof(line),
                     "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s component=%s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (long)(tv.tv_usec / 1000), level_names[level], log_component);
    if (n < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
