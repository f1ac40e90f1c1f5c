/*
 * dag_load_scalar.c - reading the loader's scalars with YAML 1.1's rules
 * (null, booleans, integers, durations, dates, ids), merging mappings as
 * dag-factory does, and the key tables' lookups.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/dag_load_int.h"

/* ------------------------------------------------------------------ */
/* scalars (YAML 1.1 rules)                                            */

bool dl_is_null(const ynode_t *n)
{
    if (!n)
        return true;
    if (n->kind != Y_SCALAR || !n->plain)
        return false;
    return n->len == 0 || strcmp(n->str, "~") == 0 || strcmp(n->str, "null") == 0 ||
           strcmp(n->str, "Null") == 0 || strcmp(n->str, "NULL") == 0;
}

const char *dl_kind_name(const ynode_t *n)
{
    if (dl_is_null(n))
        return "null";
    return n->kind == Y_MAP ? "a mapping" : n->kind == Y_SEQ ? "a list" : "a scalar";
}

/* A string value (any scalar but null, no NUL bytes). */
bool dl_get_str(ctx_t *c, const ynode_t *n, const char *what, const char **out)
{
    if (!dl_is_scalar(n) || dl_is_null(n)) {
        ERR(c, n, "%s must be a string, not %s", what, dl_kind_name(n));
        return false;
    }
    /* read to be kept: counted before even strlen reads it */
    if (!dl_spend_bytes(c, n, n->len))
        return false;
    if (strlen(n->str) != n->len) {
        ERR(c, n, "%s contains a nul character", what);
        return false;
    }
    *out = n->str;
    return true;
}

bool dl_parse_bool(const ynode_t *n, bool *out)
{
    static const char *const yes[] = {"yes",  "Yes", "YES", "true", "True",
                                      "TRUE", "on",  "On",  "ON"};
    static const char *const no[] = {"no",    "No",  "NO",  "false", "False",
                                     "FALSE", "off", "Off", "OFF"};
    if (!dl_is_scalar(n) || !n->plain)
        return false;
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcmp(n->str, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcmp(n->str, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

bool dl_get_bool(ctx_t *c, const ynode_t *n, const char *what, bool *out)
{
    if (dl_parse_bool(n, out))
        return true;
    ERR(c, n, "%s must be a boolean (true/false), not '%s'", what,
        dl_is_scalar(n) ? n->str : dl_kind_name(n));
    return false;
}

/* YAML 1.1 integers: [-+]digits (with _), 0x.., 0b.., 0 octal. */
bool dl_parse_int(const ynode_t *n, long long *out)
{
    const char *p;
    char digits[64];
    size_t nd = 0;
    int base = 10;
    bool neg = false;

    if (!dl_is_scalar(n) || n->len == 0 || n->len >= sizeof digits)
        return false;
    p = n->str;
    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    if (n->plain && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
    } else if (n->plain && p[0] == '0' && (p[1] == 'b' || p[1] == 'B')) {
        base = 2;
        p += 2;
    } else if (n->plain && p[0] == '0' && p[1]) {
        base = 8;
        p++;
    }
    for (; *p; p++) {
        if (*p == '_' && n->plain)
            continue;
        int v = isdigit((unsigned char)*p)    ? *p - '0'
                : isxdigit((unsigned char)*p) ? tolower((unsigned char)*p) - 'a' + 10
                                              : 99;
        if (v >= base)
            return false;
        digits[nd++] = *p;
    }
    if (nd == 0)
        return false;
    digits[nd] = '\0';
    errno = 0;
    long long v = strtoll(digits, NULL, base);
    if (errno)
        return false;
    *out = neg ? -v : v;
    return true;
}

bool dl_get_int(ctx_t *c, const ynode_t *n, const char *what, int min, int *out)
{
    long long v;
    if (!dl_parse_int(n, &v)) {
        ERR(c, n, "%s must be an integer, not '%s'", what,
            dl_is_scalar(n) ? n->str : dl_kind_name(n));
        return false;
    }
    if (v < min || v > INT_MAX) {
        ERR(c, n, "%s must be between %d and %d, not %lld", what, min, INT_MAX, v);
        return false;
    }
    *out = (int)v;
    return true;
}

/*
 * A duration in seconds: an integer (0.x *_sec keys, or Airflow's number
 * of seconds) or a {__type__: datetime.timedelta, days:, hours:, ...}.
 */
bool dl_get_seconds(ctx_t *c, const ynode_t *n, const char *what, int *out)
{
    static const struct {
        const char *key;
        long long mul;
    } units[] = {
        {"weeks", 604800}, {"days", 86400}, {"hours", 3600}, {"minutes", 60}, {"seconds", 1}};
    if (!n || n->kind != Y_MAP)
        return dl_get_int(c, n, what, 0, out);
    const ynode_t *type = dl_map_get(n, "__type__");
    if (!dl_key_is(type, "datetime.timedelta")) {
        ERR(c, n, "%s must be a number of seconds or a datetime.timedelta", what);
        return false;
    }
    long long total = 0;
    for (size_t i = 0; i < MAP_PAIRS(n); i++) {
        const ynode_t *k = MAP_KEY(n, i), *v = MAP_VAL(n, i);
        long long x = 0, mul = 0;
        if (dl_key_is(k, "__type__"))
            continue;
        for (size_t u = 0; u < sizeof units / sizeof units[0]; u++)
            if (dl_key_is(k, units[u].key))
                mul = units[u].mul;
        if (!mul) {
            ERR(c, k, "unsupported timedelta key '%s' in %s", dl_is_scalar(k) ? k->str : "?", what);
            return false;
        }
        if (!dl_parse_int(v, &x) || x < 0 || x > INT_MAX) {
            ERR(c, v, "timedelta %s in %s must be a whole non-negative number", k->str, what);
            return false;
        }
        total += x * mul;
        if (total > INT_MAX) {
            ERR(c, n, "%s is too long", what);
            return false;
        }
    }
    *out = (int)total;
    return true;
}

/*
 * dag-factory's relative date ("2 days", "3 hours", "1 minute", "30
 * seconds", any case): midnight at the start of today minus that much, as
 * a wall-clock value (the caller gives it the DAG's zone, as dag-factory
 * does). Like Airflow's days_ago, it moves with the day the file is
 * parsed. "Today" is the UTC date. false when s is not of that form.
 */
static bool relative_date(const char *s, ts_us_t *out)
{
    static const struct {
        const char *unit;
        int64_t sec;
    } units[] = {{"day", 86400}, {"hour", 3600}, {"minute", 60}, {"second", 1}};
    char *end;

    if (!isdigit((unsigned char)s[0]))
        return false;
    errno = 0;
    unsigned long long n = strtoull(s, &end, 10);
    if (errno != 0 || n > 3650ULL * 86400 || !isspace((unsigned char)*end))
        return false;
    while (isspace((unsigned char)*end))
        end++;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        size_t ul = strlen(units[i].unit);
        if (strncasecmp(end, units[i].unit, ul) != 0)
            continue;
        const char *rest = end + ul;
        if (*rest == 's' || *rest == 'S')
            rest++;
        while (isspace((unsigned char)*rest))
            rest++;
        if (*rest != '\0' || (int64_t)n > INT64_C(3650) * 86400 / units[i].sec)
            return false;
        ts_us_t now = ts_now();
        ts_us_t day = TS_US_PER_SEC * 86400;
        ts_us_t midnight = now - ((now % day) + day) % day;
        *out = midnight - (ts_us_t)n * units[i].sec * TS_US_PER_SEC;
        return true;
    }
    return false;
}

bool dl_get_date(ctx_t *c, const ynode_t *n, const char *what, ts_us_t *out)
{
    if (dl_is_null(n)) {
        *out = TS_NONE;
        return true;
    }
    if (dl_is_scalar(n) && strlen(n->str) == n->len && ts_parse(n->str, out) == 0)
        return true;
    if (dl_is_scalar(n) && strlen(n->str) == n->len && relative_date(n->str, out))
        return true;
    if (dl_is_scalar(n) && n->len > 0 && isdigit((unsigned char)n->str[0]) && strchr(n->str, ' ') &&
        !strchr(n->str, '-'))
        ERR(c, n,
            "relative %s '%s' must be a whole number of days, hours, minutes or seconds "
            "(as '2 days')",
            what, n->str);
    else
        ERR(c, n, "%s must be a date such as 2024-01-01 or 2024-01-01T10:00:00, not '%s'", what,
            dl_is_scalar(n) ? n->str : dl_kind_name(n));
    return false;
}

/* Airflow's KEY_REGEX: [A-Za-z0-9_.-]+, at most 250 characters. */
static bool valid_id(const char *s, size_t len, const char **why)
{
    if (len == 0) {
        *why = "it is empty";
        return false;
    }
    if (len > DAG_ID_MAX) {
        *why = "it is longer than 250 characters";
        return false;
    }
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-') {
            *why = "only letters, digits, '_', '.' and '-' are allowed";
            return false;
        }
    return true;
}

bool dl_get_id(ctx_t *c, const ynode_t *n, const char *what, const char **out)
{
    const char *why;
    if (!dl_is_scalar(n) || dl_is_null(n)) {
        ERR(c, n, "%s must be a string, not %s", what, dl_kind_name(n));
        return false;
    }
    if (!valid_id(n->str, n->len, &why)) {
        ERR(c, n, "invalid %s '%.*s': %s", what, (int)(n->len > 80 ? 80 : n->len), n->str, why);
        return false;
    }
    *out = n->str;
    return true;
}

bool dl_set_str(ctx_t *c, char **dst, const char *src)
{
    char *s = src ? strdup(src) : NULL;
    if (src && !s) {
        c->oom = true;
        return false;
    }
    free(*dst);
    *dst = s;
    return true;
}

/* ------------------------------------------------------------------ */
/* merging (dag-factory's defaults)                                    */

static ynode_t *map_new_like(ctx_t *c, const ynode_t *pos, size_t cap)
{
    ynode_t *m =
        dl_node_new(c, Y_MAP, pos ? pos->file : c->name, pos ? pos->line : 0, pos ? pos->col : 0);
    if (!m)
        return NULL;
    if (cap && !(m->kids = malloc(2 * cap * sizeof *m->kids))) {
        c->oom = true;
        return NULL;
    }
    m->cap = 2 * cap;
    return m;
}

static ynode_t *map_lookup_idx(const ynode_t *m, const smap_t *idx, const ynode_t *k)
{
    const char *ks;
    size_t kl;
    if (!dl_pair_key(k, &ks, &kl))
        return NULL;
    void *at = dl_smap_get(idx, ks, kl);
    (void)m;
    return at ? MAP_VAL(m, (uintptr_t)at - 1) : NULL;
}

static int index_map(ctx_t *c, const ynode_t *m, smap_t *idx)
{
    for (size_t i = 0; i < MAP_PAIRS(m); i++) {
        const char *ks;
        size_t kl;
        if (dl_pair_key(MAP_KEY(m, i), &ks, &kl) &&
            dl_smap_put(idx, ks, kl, (void *)(uintptr_t)(i + 1))) {
            c->oom = true;
            return -1;
        }
    }
    return 0;
}

/*
 * {**base, **over}: base's keys in order (over's value where both have
 * one), then over's other keys. Either may be NULL. NULL on failure.
 */
ynode_t *dl_merge_shallow(ctx_t *c, const ynode_t *base, const ynode_t *over, const ynode_t *pos)
{
    size_t nb = base ? MAP_PAIRS(base) : 0, no = over ? MAP_PAIRS(over) : 0;
    smap_t idx = {0};
    ynode_t *m = NULL;

    if (!dl_spend(c, nb + no) || !(m = map_new_like(c, pos, nb + no)))
        return NULL;
    if (over && index_map(c, over, &idx) != 0)
        goto fail;
    for (size_t i = 0; i < nb; i++) {
        ynode_t *ov = map_lookup_idx(over, &idx, MAP_KEY(base, i));
        m->kids[m->n++] = MAP_KEY(base, i);
        m->kids[m->n++] = ov ? ov : MAP_VAL(base, i);
    }
    dl_smap_free(&idx);
    if (base && index_map(c, base, &idx) != 0)
        goto fail;
    for (size_t i = 0; i < no; i++) {
        if (map_lookup_idx(base, &idx, MAP_KEY(over, i)))
            continue;
        m->kids[m->n++] = MAP_KEY(over, i);
        m->kids[m->n++] = MAP_VAL(over, i);
    }
    dl_smap_free(&idx);
    return m;
fail:
    dl_smap_free(&idx);
    return NULL;
}

/*
 * dag-factory's merge_configs: keys missing in config come from dflt;
 * where both values are mappings they merge recursively; otherwise the
 * config's value wins whole. Recursion depth is bounded by the nesting of
 * dflt, which is bounded by the budget.
 */
ynode_t *dl_merge_configs(ctx_t *c, const ynode_t *config, const ynode_t *dflt, int depth)
{
    size_t nc = MAP_PAIRS(config), nd = MAP_PAIRS(dflt);
    smap_t idx = {0};
    ynode_t *m = NULL;

    if (depth > 64) {
        c->too_complex = true;
        return NULL;
    }
    if (!dl_spend(c, nc + nd) || !(m = map_new_like(c, config, nc + nd)))
        return NULL;
    if (index_map(c, dflt, &idx) != 0)
        goto fail;
    for (size_t i = 0; i < nc; i++) {
        ynode_t *k = MAP_KEY(config, i), *v = MAP_VAL(config, i);
        ynode_t *dv = map_lookup_idx(dflt, &idx, k);
        if (dv && dv->kind == Y_MAP && v->kind == Y_MAP &&
            !(v = dl_merge_configs(c, v, dv, depth + 1)))
            goto fail;
        m->kids[m->n++] = k;
        m->kids[m->n++] = v;
    }
    dl_smap_free(&idx);
    if (index_map(c, config, &idx) != 0)
        goto fail;
    for (size_t i = 0; i < nd; i++) {
        if (map_lookup_idx(config, &idx, MAP_KEY(dflt, i)))
            continue;
        m->kids[m->n++] = MAP_KEY(dflt, i);
        m->kids[m->n++] = MAP_VAL(dflt, i);
    }
    dl_smap_free(&idx);
    return m;
fail:
    dl_smap_free(&idx);
    return NULL;
}

key_id_t dl_key_lookup(const key_def_t *defs, const ynode_t *k)
{
    if (!dl_is_scalar(k))
        return K_UNKNOWN;
    for (size_t i = 0; defs[i].name; i++)
        if (strcmp(defs[i].name, k->str) == 0)
            return defs[i].id;
    return K_UNKNOWN;
}

/* A key's text for messages (clipped). */
const char *dl_key_text(const ynode_t *k)
{
    return dl_is_scalar(k) ? k->str : "?";
}

/* Reports duplicate keys of a mapping as warnings (PyYAML keeps the last). */
void dl_warn_dups(ctx_t *c, const ynode_t *m)
{
    for (size_t i = 0; m && m->kind == Y_MAP && i < m->n_dups; i++)
        WARN(c, m->dups[i], "duplicate key '%.100s' (the later value is used)",
             dl_key_text(m->dups[i]));
}
