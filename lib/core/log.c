/*
 * log.c - see log.h. Writes whole lines with one write(2) so that lines of
 * concurrent threads and processes sharing stderr do not interleave.
 *
 * JSON lines are made from the same text as logfmt lines: the event is
 * formatted into one stack buffer, then converted into a second one (the
 * escapes can make it longer) by log_json_line, a small tokenizer over the
 * logfmt text. Nothing is allocated, so logging works when memory is out.
 */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "core/utf8.h"

#define LOG_TEXT_MAX 4096 /* one event's text, as logfmt */
#define LOG_JSON_MAX 8192 /* the same as JSON: room for escapes */

static const char *log_component = "updraft";
static log_level_t log_level = LOG_LEVEL_INFO;
static log_format_t log_format = LOG_FORMAT_TEXT;

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

void log_set_format(log_format_t format)
{
    log_format = format;
}

log_format_t log_get_format(void)
{
    return log_format;
}

int log_parse_format(const char *s, log_format_t *out)
{
    if (!s)
        return -1;
    if (!strcasecmp(s, "text"))
        *out = LOG_FORMAT_TEXT;
    else if (!strcasecmp(s, "json"))
        *out = LOG_FORMAT_JSON;
    else
        return -1;
    return 0;
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

/* ---- logfmt text to JSON ------------------------------------------------ */

/*
 * The output: everything is written below lim; the bytes from lim to cap
 * are kept for what closes the object ('"', ,"truncated":true, '}', '\n',
 * NUL), so a line cut anywhere still ends as valid JSON.
 */
#define JSON_TAIL ",\"truncated\":true"
#define JSON_RESERVE (sizeof(JSON_TAIL) - 1 + 4)

typedef struct jbuf {
    char *p;
    size_t len, lim;
    bool full;
} jbuf_t;

/* Appends n bytes whole, or nothing and marks the buffer full. */
static bool put_raw(jbuf_t *b, const char *s, size_t n)
{
    if (b->full || b->len + n > b->lim) {
        b->full = true;
        return false;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return true;
}

/* Appends s[0..n) as the inside of a JSON string, one character at a time. */
static bool put_escaped(jbuf_t *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned char c = u[i];
        char esc[6];
        int k = 0;
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            if (!put_raw(b, (const char *)&u[i], 1))
                return false;
            i++;
            continue;
        }
        if (c >= 0x80) {
            int l = utf8_decode(&u[i], n - i, NULL);
            if (l > 0) {
                if (!put_raw(b, (const char *)&u[i], (size_t)l))
                    return false;
                i += (size_t)l;
            } else {
                if (!put_raw(b, "\\ufffd", 6))
                    return false;
                i++;
            }
            continue;
        }
        esc[k++] = '\\';
        switch (c) {
        case '"':
            esc[k++] = '"';
            break;
        case '\\':
            esc[k++] = '\\';
            break;
        case '\n':
            esc[k++] = 'n';
            break;
        case '\r':
            esc[k++] = 'r';
            break;
        case '\t':
            esc[k++] = 't';
            break;
        default: /* other control characters and DEL */
            esc[k++] = 'u';
            esc[k++] = '0';
            esc[k++] = '0';
            esc[k++] = hex[c >> 4];
            esc[k++] = hex[c & 0xf];
        }
        if (!put_raw(b, esc, (size_t)k))
            return false;
        i++;
    }
    return true;
}

/* One token of the text after the message. */
typedef struct tok {
    bool pair;
    size_t k0, k1; /* key [k0,k1) of a pair */
    size_t v0, v1; /* value of a pair, or the whole bare token */
} tok_t;

static bool key_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool key_char(unsigned char c)
{
    return key_start(c) || (c >= '0' && c <= '9') || c == '.';
}

/* Whether a key= starts at t[i]; sets *eq to the '='. */
static bool pair_at(const char *t, size_t len, size_t i, size_t *eq)
{
    if (i >= len || !key_start((unsigned char)t[i]))
        return false;
    size_t j = i + 1;
    while (j < len && key_char((unsigned char)t[j]))
        j++;
    if (j >= len || t[j] != '=')
        return false;
    *eq = j;
    return true;
}

static size_t skip_spaces(const char *t, size_t len, size_t i)
{
    while (i < len && t[i] == ' ')
        i++;
    return i;
}

/* Whether what follows t[i] (spaces, then the end or a key=) ends a value. */
static bool ends_value(const char *t, size_t len, size_t i)
{
    size_t eq;
    if (i >= len)
        return true;
    if (t[i] != ' ')
        return false;
    i = skip_spaces(t, len, i);
    return i >= len || pair_at(t, len, i, &eq);
}

/* Reads the token at *pos (not a space); false at the end of the text. */
static bool next_tok(const char *t, size_t len, size_t *pos, tok_t *tk)
{
    size_t i = skip_spaces(t, len, *pos), eq;
    if (i >= len)
        return false;
    memset(tk, 0, sizeof(*tk));
    if (pair_at(t, len, i, &eq)) {
        tk->pair = true;
        tk->k0 = i;
        tk->k1 = eq;
        i = eq + 1;
        if (i < len && t[i] == '"') {
            size_t q = i + 1;
            tk->v0 = q;
            tk->v1 = len; /* unterminated: to the end */
            for (; q < len; q++) {
                if (t[q] == '"' && ends_value(t, len, q + 1)) {
                    tk->v1 = q;
                    q++;
                    break;
                }
            }
            *pos = q;
            return true;
        }
        tk->v0 = i;
    } else {
        tk->v0 = i;
    }
    while (i < len && t[i] != ' ')
        i++;
    tk->v1 = i;
    *pos = i;
    return true;
}

static const char *const reserved_keys[] = {"timestamp", "level", "component", "message",
                                            "truncated"};

static bool is_reserved(const char *k, size_t n)
{
    for (size_t i = 0; i < sizeof(reserved_keys) / sizeof(reserved_keys[0]); i++)
        if (strlen(reserved_keys[i]) == n && !memcmp(reserved_keys[i], k, n))
            return true;
    return false;
}

/* Writes ,"name":"value" with the key's renames; false if it did not all fit. */
static bool put_member(jbuf_t *b, const char *t, const tok_t *tk, int repeat)
{
    size_t mark = b->len;
    char suffix[16] = "";
    if (repeat > 1)
        snprintf(suffix, sizeof(suffix), "_%d", repeat);
    bool reserved = is_reserved(t + tk->k0, tk->k1 - tk->k0);
    if (!put_raw(b, ",\"", 2) || (reserved && !put_raw(b, "log_", 4)) ||
        !put_raw(b, t + tk->k0, tk->k1 - tk->k0) || !put_raw(b, suffix, strlen(suffix)) ||
        !put_raw(b, "\":\"", 3)) {
        b->len = mark; /* no half key */
        return false;
    }
    bool ok = put_escaped(b, t + tk->v0, tk->v1 - tk->v0);
    b->p[b->len++] = '"'; /* from the reserve when full */
    return ok;
}

size_t log_json_line(char *out, size_t cap, const char *timestamp, const char *level,
                     const char *component, const char *text, size_t len, bool cut)
{
    if (cap < LOG_JSON_MIN_CAP)
        return 0;
    const char *nul = memchr(text, '\0', len);
    if (nul)
        len = (size_t)(nul - text);
    jbuf_t b = {out, 0, cap - JSON_RESERVE, false};
    bool ok = put_raw(&b, "{\"timestamp\":\"", 14) &&
              put_escaped(&b, timestamp, strlen(timestamp)) && put_raw(&b, "\",\"level\":\"", 11) &&
              put_escaped(&b, level, strlen(level)) && put_raw(&b, "\",\"component\":\"", 15) &&
              put_escaped(&b, component, strlen(component)) && put_raw(&b, "\",\"message\":\"", 13);
    if (!ok) { /* cap is too small for the header: only the smallest object */
        b.len = 0;
        memcpy(out, "{\"truncated\":true}\n", 19);
        out[19] = '\0';
        return 19;
    }

    /* The message: the text up to the first key=, then every bare token. */
    size_t pos = skip_spaces(text, len, 0), eq, end = pos;
    while (pos < len && !pair_at(text, len, pos, &eq)) {
        while (pos < len && text[pos] != ' ')
            pos++;
        end = pos;
        pos = skip_spaces(text, len, pos);
    }
    size_t start = skip_spaces(text, len, 0);
    ok = put_escaped(&b, text + start, end - start);
    size_t pairs = pos;
    tok_t tk;
    while (ok && next_tok(text, len, &pos, &tk)) {
        if (!tk.pair)
            ok = put_raw(&b, " ", 1) && put_escaped(&b, text + tk.v0, tk.v1 - tk.v0);
    }
    b.p[b.len++] = '"';

    /* The pairs, each as a member; keys kept to number repeats. */
    struct {
        size_t k0, n;
    } seen[LOG_JSON_MAX_FIELDS];
    int nseen = 0;
    pos = pairs;
    while (ok && next_tok(text, len, &pos, &tk)) {
        if (!tk.pair)
            continue;
        if (nseen == LOG_JSON_MAX_FIELDS) {
            ok = false;
            break;
        }
        size_t n = tk.k1 - tk.k0;
        int repeat = 1;
        for (int i = 0; i < nseen; i++)
            if (seen[i].n == n && !memcmp(text + seen[i].k0, text + tk.k0, n))
                repeat++;
        seen[nseen].k0 = tk.k0;
        seen[nseen].n = n;
        nseen++;
        ok = put_member(&b, text, &tk, repeat);
    }

    if (!ok || cut) {
        memcpy(b.p + b.len, JSON_TAIL, sizeof(JSON_TAIL) - 1);
        b.len += sizeof(JSON_TAIL) - 1;
    }
    b.p[b.len++] = '}';
    b.p[b.len++] = '\n';
    b.p[b.len] = '\0';
    return b.len;
}

void log_write(log_level_t level, const char *fmt, ...)
{
    struct timeval tv;
    struct tm tm;
    char ts[80]; /* sized for any int the compiler can imagine */
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (long)(tv.tv_usec / 1000));
    va_list ap;
    if (log_format == LOG_FORMAT_JSON) {
        char text[LOG_TEXT_MAX];
        char out[LOG_JSON_MAX];
        va_start(ap, fmt);
        int m = vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        if (m < 0)
            m = 0;
        bool cut = (size_t)m >= sizeof(text);
        size_t tlen = cut ? sizeof(text) - 1 : (size_t)m;
        size_t len =
            log_json_line(out, sizeof(out), ts, level_names[level], log_component, text, tlen, cut);
        ssize_t w = write(STDERR_FILENO, out, len);
        (void)w;
        return;
    }
    char line[LOG_TEXT_MAX];
    int n = snprintf(line, sizeof(line), "ts=%s level=%s component=%s ", ts, level_names[level],
                     log_component);
    if (n < 0)
        return;
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
