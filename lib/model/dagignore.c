/*
 * dagignore.c - .airflowignore rules (see dagignore.h).
 *
 * Lines are cleaned as Airflow cleans them: everything from the first '#'
 * (and the blanks before it) is a comment, surrounding blanks go, empty
 * lines are skipped. A glob pattern is kept as its '/'-separated segments
 * ("**" segments collapsed); matching a path is then a table over
 * (pattern segment, path segment) filled from the end, with fnmatch(3) for
 * one segment against one name: time grows with the product of the two
 * lengths, never exponentially, whatever the number of "**".
 */
#include "model/dagignore.h"

#include <fnmatch.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_SEGS_MAX 256
#define PATH_COPY_MAX 4096

typedef struct rule {
    char *base; /* folder of the ignore file, relative; "" = the DAG folder */
    size_t base_len;
    bool negate;   /* glob "!": re-include */
    bool dir_only; /* glob trailing "/" */
    char *text;    /* glob: the pattern with '/' turned into NULs */
    char **segs;   /* glob: its segments */
    size_t nsegs;
    bool has_re;
    regex_t re; /* regexp */
} rule_t;

struct dagignore {
    dagignore_syntax_t syntax;
    rule_t *rules;
    size_t n, cap;
};

int dagignore_parse_syntax(const char *s, dagignore_syntax_t *out)
{
    if (s && strcmp(s, "glob") == 0)
        *out = DAGIGNORE_GLOB;
    else if (s && strcmp(s, "regexp") == 0)
        *out = DAGIGNORE_REGEXP;
    else
        return -1;
    return 0;
}

dagignore_t *dagignore_new(dagignore_syntax_t syntax)
{
    dagignore_t *ig = calloc(1, sizeof(*ig));
    if (ig)
        ig->syntax = syntax;
    return ig;
}

static void rule_clear(rule_t *r)
{
    free(r->base);
    free(r->text);
    free(r->segs);
    if (r->has_re)
        regfree(&r->re);
    memset(r, 0, sizeof(*r));
}

void dagignore_truncate(dagignore_t *ig, size_t mark)
{
    while (ig->n > mark)
        rule_clear(&ig->rules[--ig->n]);
}

void dagignore_free(dagignore_t *ig)
{
    if (!ig)
        return;
    dagignore_truncate(ig, 0);
    free(ig->rules);
    free(ig);
}

size_t dagignore_mark(const dagignore_t *ig)
{
    return ig->n;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/*
 * Splits a glob pattern (NUL-terminated, in r->text, already without its
 * "!" and trailing "/") into segments; a pattern without a '/' matches at
 * any depth, so it gets a leading "**". 0 or -1 (memory).
 */
static int glob_compile(rule_t *r)
{
    char *p = r->text;
    bool anchored = strchr(p, '/') != NULL;
    size_t n = 2;

    if (*p == '/')
        p++;
    for (const char *c = p; *c; c++)
        n += *c == '/';
    if (!(r->segs = calloc(n, sizeof(*r->segs))))
        return -1;
    if (!anchored)
        r->segs[r->nsegs++] = (char *)"**";
    for (char *seg = p;;) {
        char *slash = strchr(seg, '/');
        if (slash)
            *slash = '\0';
        bool dstar = strcmp(seg, "**") == 0;
        if (*seg && !(dstar && r->nsegs > 0 && strcmp(r->segs[r->nsegs - 1], "**") == 0))
            r->segs[r->nsegs++] = seg;
        if (!slash)
            break;
        seg = slash + 1;
    }
    return 0;
}

/* Adds one cleaned line. 0, 1 when skipped (why in err), -1 on memory. */
static int add_line(dagignore_t *ig, const char *base, const char *line, size_t len, char *why,
                    size_t whylen)
{
    rule_t r;
    memset(&r, 0, sizeof(r));
    if (ig->n >= DAGIGNORE_MAX_RULES) {
        snprintf(why, whylen, "more than %d patterns", DAGIGNORE_MAX_RULES);
        return 1;
    }
    if (ig->n == ig->cap) {
        size_t ncap = ig->cap ? ig->cap * 2 : 16;
        rule_t *nr = realloc(ig->rules, ncap * sizeof(*nr));
        if (!nr)
            return -1;
        ig->rules = nr;
        ig->cap = ncap;
    }
    if (!(r.base = strdup(base)))
        return -1;
    r.base_len = strlen(base);
    if (ig->syntax == DAGIGNORE_REGEXP) {
        char *pat = strndup(line, len);
        if (!pat)
            goto oom;
        int e = regcomp(&r.re, pat, REG_EXTENDED | REG_NOSUB);
        free(pat);
        if (e != 0) {
            char msg[128];
            regerror(e, &r.re, msg, sizeof(msg));
            snprintf(why, whylen, "'%.*s' is not a regular expression: %s",
                     (int)(len > 200 ? 200 : len), line, msg);
            free(r.base);
            return 1;
        }
        r.has_re = true;
    } else {
        if (*line == '!') {
            r.negate = true;
            line++;
            len--;
        } else if (*line == '\\' && len > 1 && line[1] == '!') {
            line++; /* "\!" is a literal '!' */
            len--;
        }
        while (len > 0 && line[len - 1] == '/') {
            r.dir_only = true;
            len--;
        }
        if (len == 0) {
            snprintf(why, whylen, "an empty pattern");
            free(r.base);
            return 1;
        }
        if (!(r.text = strndup(line, len)) || glob_compile(&r) < 0)
            goto oom;
        if (r.nsegs == 0) {
            snprintf(why, whylen, "'%.*s' matches nothing", (int)(len > 200 ? 200 : len), line);
            rule_clear(&r);
            return 1;
        }
    }
    ig->rules[ig->n++] = r;
    return 0;
oom:
    rule_clear(&r);
    return -1;
}

int dagignore_add(dagignore_t *ig, const char *base, const char *text, size_t len, char *err,
                  size_t errlen)
{
    int skipped = 0, lineno = 0;
    size_t i = 0;

    if (errlen)
        err[0] = '\0';
    while (i < len) {
        size_t start = i, end;
        while (i < len && text[i] != '\n')
            i++;
        end = i;
        if (i < len)
            i++; /* the newline */
        lineno++;
        const char *hash = memchr(text + start, '#', end - start);
        if (hash)
            end = (size_t)(hash - text);
        while (start < end && is_blank(text[start]))
            start++;
        while (end > start && is_blank(text[end - 1]))
            end--;
        if (start == end)
            continue;
        char why[320];
        int rc;
        if (end - start > DAGIGNORE_MAX_LINE || memchr(text + start, '\0', end - start)) {
            snprintf(why, sizeof(why), "the pattern is longer than %d bytes or holds a NUL",
                     DAGIGNORE_MAX_LINE);
            rc = 1;
        } else {
            rc = add_line(ig, base, text + start, end - start, why, sizeof(why));
        }
        if (rc < 0)
            return -1;
        if (rc > 0) {
            if (skipped == 0 && errlen)
                snprintf(err, errlen, "line %d: %s", lineno, why);
            skipped++;
        }
    }
    return skipped;
}

/* Whether the glob segments match the path segments (see the file's opening). */
static bool glob_match(char *const *pat, size_t np, char *const *seg, size_t ns)
{
    /* m[i][j]: pat[i..] matches seg[j..]; one row of ns + 1 per pattern segment */
    size_t w = ns + 1;
    bool *m = calloc((np + 1) * w, sizeof(*m));
    bool ok;

    if (!m)
        return false;
    m[np * w + ns] = true;
    for (size_t i = np; i-- > 0;) {
        bool dstar = strcmp(pat[i], "**") == 0;
        for (size_t j = ns + 1; j-- > 0;) {
            bool v;
            if (dstar)
                v = m[(i + 1) * w + j] || (j < ns && m[i * w + j + 1]);
            else
                v = j < ns && m[(i + 1) * w + j + 1] && fnmatch(pat[i], seg[j], 0) == 0;
            m[i * w + j] = v;
        }
    }
    ok = m[0];
    free(m);
    return ok;
}

bool dagignore_match(const dagignore_t *ig, const char *path, bool is_dir)
{
    char copy[PATH_COPY_MAX];
    char *segs[PATH_SEGS_MAX];
    bool ignored = false;

    for (size_t k = 0; k < ig->n; k++) {
        const rule_t *r = &ig->rules[k];
        const char *rel = path;
        if (r->base_len > 0) {
            if (strncmp(path, r->base, r->base_len) != 0 || path[r->base_len] != '/')
                continue;
            rel = path + r->base_len + 1;
        }
        if (!*rel)
            continue;
        if (ig->syntax == DAGIGNORE_REGEXP) {
            if (regexec(&r->re, rel, 0, NULL, 0) == 0)
                return true;
            continue;
        }
        if (r->dir_only && !is_dir)
            continue;
        if (r->negate != ignored)
            continue; /* it could not change the answer */
        size_t len = strlen(rel), ns = 0;
        if (len >= sizeof(copy))
            continue;
        memcpy(copy, rel, len + 1);
        for (char *s = copy;;) {
            char *slash = strchr(s, '/');
            if (slash)
                *slash = '\0';
            if (*s) {
                if (ns == PATH_SEGS_MAX)
                    break;
                segs[ns++] = s;
            }
            if (!slash)
                break;
            s = slash + 1;
        }
        if (ns == PATH_SEGS_MAX)
            continue;
        if (glob_match(r->segs, r->nsegs, segs, ns))
            ignored = !r->negate;
    }
    return ignored;
}
