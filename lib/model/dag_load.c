/*
 * dag_load.c - the dag-factory YAML loader (docs/dag-format.md).
 *
 * A file goes through these steps:
 *
 *   1. size check, then $NAME / ${NAME} expansion of the raw text, exactly
 *      like Python's os.path.expandvars (set variables only);
 *   2. libyaml events are built into a small tree of ynode_t that keeps
 *      each node's file and 1-based line:col. Anchors and aliases share
 *      nodes (an alias is a pointer, never a copy), YAML 1.1 merge keys
 *      (<<) are applied, and duplicate keys keep the last value as PyYAML
 *      does (remembered so that the validators can report them);
 *   3. defaults.yml files, the file's `default:` block and each DAG's own
 *      mapping are merged as dag-factory does (new mapping nodes whose
 *      children are shared, so merging costs the number of keys);
 *   4. each DAG mapping is validated key by key into a dag_t; every problem
 *      becomes one diagnostic that points at the node it is about;
 *   5. tasks are sorted topologically (Kahn, ties in declaration order) and
 *      their downstream lists filled.
 *
 * Errors in the `default:` block, in a defaults.yml, or in the YAML itself
 * fail the whole file; any other error fails only the DAG it belongs to.
 * Untrusted input: the file size is checked before reading, nothing
 * recurses deeper than NEST_MAX, and a work budget bounds the
 * cost of merging shared (aliased) nodes.
 */
#include "model/dag.h"
#include "core/hash.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "model/cron.h"
#include "model/operator.h"
#include "model/planner.h"

#define MAX_DIAGS 500           /* per file; then one "too many problems" */
#define WORK_BUDGET 1000000     /* keys copied by merges, per file */
#define NEST_MAX 64             /* collections inside collections; real DAG files need ~6 */
#define EXPANDED_MAX (2 * DAG_FILE_MAX)

/* ------------------------------------------------------------------ */
/* string -> pointer hash map (anchors, duplicate keys, task ids)     */

typedef struct smap_slot {
    const char *key;
    size_t len;
    void *val;
} smap_slot_t;

typedef struct smap {
    smap_slot_t *slots;
    size_t cap, n;
} smap_t;

static smap_slot_t *smap_slot(const smap_t *m, const char *key, size_t len)
{
    size_t i = hash_bytes(key, len) & (m->cap - 1);
    while (m->slots[i].key &&
           (m->slots[i].len != len || memcmp(m->slots[i].key, key, len) != 0))
        i = (i + 1) & (m->cap - 1);
    return &m->slots[i];
}

static void *smap_get(const smap_t *m, const char *key, size_t len)
{
    if (!m->cap)
        return NULL;
    smap_slot_t *s = smap_slot(m, key, len);
    return s->key ? s->val : NULL;
}

/* Inserts or replaces; the key is borrowed. 0, or -1 on OOM. */
static int smap_put(smap_t *m, const char *key, size_t len, void *val)
{
    if ((m->n + 1) * 2 > m->cap) {
        smap_t bigger = {.cap = m->cap ? m->cap * 2 : 16};
        if (!(bigger.slots = calloc(bigger.cap, sizeof *bigger.slots)))
            return -1;
        for (size_t i = 0; i < m->cap; i++)
            if (m->slots[i].key)
                *smap_slot(&bigger, m->slots[i].key, m->slots[i].len) = m->slots[i];
        bigger.n = m->n;
        free(m->slots);
        *m = bigger;
    }
    smap_slot_t *s = smap_slot(m, key, len);
    if (!s->key) {
        s->key = key;
        s->len = len;
        m->n++;
    }
    s->val = val;
    return 0;
}

static void smap_free(smap_t *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = m->n = 0;
}

/* ------------------------------------------------------------------ */
/* the document tree                                                  */

typedef enum ykind { Y_SCALAR, Y_SEQ, Y_MAP } ykind_t;

typedef struct ynode ynode_t;
struct ynode {
    ykind_t kind;
    const char *file;   /* for diagnostics */
    int line, col;      /* 1-based */
    char *str;          /* scalar text, NUL-terminated */
    size_t len;
    bool plain;         /* untagged plain scalar: YAML 1.1 implicit types apply */
    bool open;          /* collection still being built */
    ynode_t **kids;     /* seq: items; map: key0, val0, key1, val1, ... */
    size_t n, cap;      /* entries in kids */
    ynode_t **dups;     /* map: keys that a later duplicate replaced */
    size_t n_dups;
};

#define MAP_PAIRS(m) ((m)->n / 2)
#define MAP_KEY(m, i) ((m)->kids[2 * (i)])
#define MAP_VAL(m, i) ((m)->kids[2 * (i) + 1])

typedef struct ctx {
    const char *name;       /* the DAG file, for fileloc and diagnostics */
    dag_diags_t *diags;
    size_t errors;          /* distinct errors added by this load */
    size_t errors_seen;     /* every error reported, repeats included */
    size_t n_diags;
    smap_t seen_diags;      /* dedupe: the same node reported by several DAGs */
    char **diag_keys;       /* owned keys of seen_diags */
    size_t n_diag_keys, cap_diag_keys;
    ynode_t **nodes;        /* every node, for freeing */
    size_t n_nodes, cap_nodes;
    size_t work;
    bool oom, too_complex;
    const char *defaults_scope; /* messages about default_args other than the DAG's */
} ctx_t;

static void vdiag(ctx_t *c, const char *file, int line, int col, bool warning, const char *fmt,
                  va_list ap)
{
    char *msg = NULL, *key = NULL;

    if (!warning)
        c->errors_seen++;
    if (vasprintf(&msg, fmt, ap) < 0) {
        c->oom = true;
        return;
    }
    if (asprintf(&key, "%s\n%d\n%d\n%d\n%s", file, line, col, warning, msg) < 0) {
        c->oom = true;
        goto out;
    }
    if (smap_get(&c->seen_diags, key, strlen(key)))
        goto out;
    if (c->n_diag_keys == c->cap_diag_keys) {
        size_t cap = c->cap_diag_keys ? c->cap_diag_keys * 2 : 16;
        char **keys = realloc(c->diag_keys, cap * sizeof *keys);
        if (!keys) {
            c->oom = true;
            goto out;
        }
        c->diag_keys = keys;
        c->cap_diag_keys = cap;
    }
    if (smap_put(&c->seen_diags, key, strlen(key), key) != 0) {
        c->oom = true;
        goto out;
    }
    c->diag_keys[c->n_diag_keys++] = key;
    key = NULL;
    if (!warning)
        c->errors++;
    if (c->n_diags < MAX_DIAGS)
        dag_diags_add(c->diags, file, line, col, warning, "%s", msg);
    else if (c->n_diags == MAX_DIAGS)
        dag_diags_add(c->diags, file, 0, 0, false, "too many problems, the rest are not shown");
    c->n_diags++;
out:
    free(key);
    free(msg);
}

static void diag_at(ctx_t *c, const ynode_t *at, bool warning, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void diag_at(ctx_t *c, const ynode_t *at, bool warning, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vdiag(c, at && at->file ? at->file : c->name, at ? at->line : 0, at ? at->col : 0, warning,
          fmt, ap);
    va_end(ap);
}

static void diag_pos(ctx_t *c, const char *file, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void diag_pos(ctx_t *c, const char *file, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vdiag(c, file, line, col, false, fmt, ap);
    va_end(ap);
}

#define ERR(c, at, ...) diag_at((c), (at), false, __VA_ARGS__)
#define WARN(c, at, ...) diag_at((c), (at), true, __VA_ARGS__)

static ynode_t *node_new(ctx_t *c, ykind_t kind, const char *file, int line, int col)
{
    ynode_t *n;

    if (c->n_nodes == c->cap_nodes) {
        size_t cap = c->cap_nodes ? c->cap_nodes * 2 : 64;
        ynode_t **nodes = realloc(c->nodes, cap * sizeof *nodes);
        if (!nodes)
            goto oom;
        c->nodes = nodes;
        c->cap_nodes = cap;
    }
    if (!(n = calloc(1, sizeof *n)))
        goto oom;
    n->kind = kind;
    n->file = file;
    n->line = line;
    n->col = col;
    c->nodes[c->n_nodes++] = n;
    return n;
oom:
    c->oom = true;
    return NULL;
}

static int node_push(ctx_t *c, ynode_t *parent, ynode_t *kid)
{
    if (parent->n == parent->cap) {
        size_t cap = parent->cap ? parent->cap * 2 : 4;
        ynode_t **kids = realloc(parent->kids, cap * sizeof *kids);
        if (!kids) {
            c->oom = true;
            return -1;
        }
        parent->kids = kids;
        parent->cap = cap;
    }
    parent->kids[parent->n++] = kid;
    return 0;
}

static void ctx_free(ctx_t *c)
{
    for (size_t i = 0; i < c->n_nodes; i++) {
        free(c->nodes[i]->str);
        free(c->nodes[i]->kids);
        free(c->nodes[i]->dups);
        free(c->nodes[i]);
    }
    free(c->nodes);
    for (size_t i = 0; i < c->n_diag_keys; i++)
        free(c->diag_keys[i]);
    free(c->diag_keys);
    smap_free(&c->seen_diags);
}

static bool spend(ctx_t *c, size_t steps)
{
    c->work += steps;
    if (c->work > WORK_BUDGET)
        c->too_complex = true;
    return !c->too_complex;
}

static bool is_scalar(const ynode_t *n)
{
    return n && n->kind == Y_SCALAR;
}

static bool key_is(const ynode_t *k, const char *s)
{
    return is_scalar(k) && strcmp(k->str, s) == 0;
}

/* Index of key in map m, or -1. Linear: used on small mappings only. */
static ynode_t *map_get(const ynode_t *m, const char *key)
{
    if (!m || m->kind != Y_MAP)
        return NULL;
    for (size_t i = MAP_PAIRS(m); i-- > 0;)
        if (key_is(MAP_KEY(m, i), key))
            return MAP_VAL(m, i);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* building the tree from libyaml events                              */

/* A key for duplicate detection; non-scalar keys never compare equal. */
static bool pair_key(const ynode_t *k, const char **s, size_t *len)
{
    if (!is_scalar(k))
        return false;
    *s = k->str;
    *len = k->len;
    return true;
}

/*
 * Finishes a mapping: applies merge keys (<<, YAML 1.1: explicit keys win,
 * then earlier merge sources) and collapses duplicate keys to the last
 * value, at the first key's place, as a Python dict does. Returns 0, or -1
 * on a bad merge value (reported) or OOM.
 */
static int map_finish(ctx_t *c, ynode_t *m)
{
    ynode_t **out = NULL, **dups = NULL;
    bool *explicit = NULL;
    size_t n_out = 0, n_dups = 0, total = 0;
    smap_t idx = {0};
    int rc = -1;

    /* Count merge pairs first so one allocation fits all. */
    for (size_t i = 0; i < MAP_PAIRS(m); i++) {
        ynode_t *k = MAP_KEY(m, i), *v = MAP_VAL(m, i);
        if (!(k->plain && key_is(k, "<<")))
            continue;
        if (v->kind == Y_MAP) {
            total += MAP_PAIRS(v);
        } else if (v->kind == Y_SEQ) {
            for (size_t j = 0; j < v->n; j++) {
                if (v->kids[j]->kind != Y_MAP) {
                    ERR(c, v->kids[j], "merge key '<<' needs a mapping or a list of mappings");
                    goto out;
                }
                total += MAP_PAIRS(v->kids[j]);
            }
        } else {
            ERR(c, v, "merge key '<<' needs a mapping or a list of mappings");
            goto out;
        }
    }
    if (total == 0 && MAP_PAIRS(m) <= 1) {
        rc = 0;
        goto out;
    }
    if (!spend(c, total)) {
        ERR(c, m, "document too complex (too many merged or aliased keys)");
        goto out;
    }
    total += MAP_PAIRS(m);
    out = malloc(2 * total * sizeof *out);
    explicit = calloc(total, sizeof *explicit);
    dups = malloc(total * sizeof *dups);
    if (!out || !explicit || !dups)
        goto oom;

    /* Pass 1: merge sources, last source first so earlier ones win. */
    for (size_t i = MAP_PAIRS(m); i-- > 0;) {
        ynode_t *k = MAP_KEY(m, i), *v = MAP_VAL(m, i);
        if (!(k->plain && key_is(k, "<<")))
            continue;
        size_t nsrc = v->kind == Y_MAP ? 1 : v->n;
        for (size_t s = nsrc; s-- > 0;) {
            ynode_t *src = v->kind == Y_MAP ? v : v->kids[s];
            for (size_t j = 0; j < MAP_PAIRS(src); j++) {
                const char *ks;
                size_t kl;
                ynode_t *sk = MAP_KEY(src, j);
                void *at = pair_key(sk, &ks, &kl) ? smap_get(&idx, ks, kl) : NULL;
                if (at) {
                    out[2 * ((uintptr_t)at - 1) + 1] = MAP_VAL(src, j);
                    continue;
                }
                out[2 * n_out] = sk;
                out[2 * n_out + 1] = MAP_VAL(src, j);
                n_out++;
                if (pair_key(sk, &ks, &kl) && smap_put(&idx, ks, kl, (void *)(uintptr_t)n_out))
                    goto oom;
            }
        }
    }
    /* Pass 2: the mapping's own keys. */
    for (size_t i = 0; i < MAP_PAIRS(m); i++) {
        ynode_t *k = MAP_KEY(m, i), *v = MAP_VAL(m, i);
        const char *ks;
        size_t kl;
        if (k->plain && key_is(k, "<<"))
            continue;
        void *at = pair_key(k, &ks, &kl) ? smap_get(&idx, ks, kl) : NULL;
        if (at) {
            size_t slot = (uintptr_t)at - 1;
            if (explicit[slot])
                dups[n_dups++] = out[2 * slot];
            out[2 * slot] = k;
            out[2 * slot + 1] = v;
            explicit[slot] = true;
            continue;
        }
        out[2 * n_out] = k;
        out[2 * n_out + 1] = v;
        explicit[n_out] = true;
        n_out++;
        if (pair_key(k, &ks, &kl) && smap_put(&idx, ks, kl, (void *)(uintptr_t)n_out))
            goto oom;
    }
    free(m->kids);
    m->kids = out;
    m->n = m->cap = 2 * n_out;
    out = NULL;
    if (n_dups) {
        m->dups = dups;
        m->n_dups = n_dups;
        dups = NULL;
    }
    rc = 0;
    goto out;
oom:
    c->oom = true;
out:
    free(out);
    free(explicit);
    free(dups);
    smap_free(&idx);
    return rc;
}

static size_t offset_line_col(const char *text, size_t len, size_t off, int *col)
{
    size_t line = 1, start = 0;
    if (off > len)
        off = len;
    for (size_t i = 0; i < off; i++)
        if (text[i] == '\n') {
            line++;
            start = i + 1;
        }
    *col = (int)(off - start + 1);
    return line;
}

static void yaml_error(ctx_t *c, const char *file, const yaml_parser_t *p, const char *text,
                       size_t len)
{
    const char *problem = p->problem ? p->problem : "cannot parse the file";
    int line, col;

    if (p->error == YAML_MEMORY_ERROR) {
        c->oom = true;
        return;
    }
    if (p->error == YAML_READER_ERROR) {
        line = (int)offset_line_col(text, len, p->problem_offset, &col);
        diag_pos(c, file, line, col, "invalid yaml: %s", problem);
        return;
    }
    line = (int)p->problem_mark.line + 1;
    col = (int)p->problem_mark.column + 1;
    if (p->context)
        diag_pos(c, file, line, col, "invalid yaml: %s %s at %d:%d", problem, p->context,
                 (int)p->context_mark.line + 1, (int)p->context_mark.column + 1);
    else
        diag_pos(c, file, line, col, "invalid yaml: %s", problem);
}

/* Tags that keep YAML 1.1 implicit typing; anything else reads as a string. */
static bool tag_keeps_typing(const char *tag)
{
    static const char *const typed[] = {"tag:yaml.org,2002:null", "tag:yaml.org,2002:bool",
                                        "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
                                        "tag:yaml.org,2002:timestamp"};
    if (!tag || strcmp(tag, "!") == 0)
        return true;
    for (size_t i = 0; i < sizeof typed / sizeof typed[0]; i++)
        if (strcmp(tag, typed[i]) == 0)
            return true;
    return false;
}

/*
 * Parses text into a tree. *root is NULL for an empty stream. Returns 0,
 * or -1 when the file is unusable (reported).
 */
static int tree_parse(ctx_t *c, const char *file, const char *text, size_t len, ynode_t **root)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    ynode_t **stack = NULL;
    size_t depth = 0, cap = 0;
    smap_t anchors = {0};
    int docs = 0, rc = -1;
    bool done = false;

    *root = NULL;
    if (!yaml_parser_initialize(&parser)) {
        c->oom = true;
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    while (!done) {
        ynode_t *n = NULL;
        const char *anchor = NULL;
        if (!yaml_parser_parse(&parser, &ev)) {
            yaml_error(c, file, &parser, text, len);
            goto out;
        }
        int line = (int)ev.start_mark.line + 1, col = (int)ev.start_mark.column + 1;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++docs > 1) {
                diag_pos(c, file, line, col, "expected a single document in the file");
                goto fail_ev;
            }
            break;
        case YAML_SCALAR_EVENT:
            if (!(n = node_new(c, Y_SCALAR, file, line, col)))
                goto fail_ev;
            if (!(n->str = malloc(ev.data.scalar.length + 1))) {
                c->oom = true;
                goto fail_ev;
            }
            memcpy(n->str, ev.data.scalar.value, ev.data.scalar.length);
            n->str[ev.data.scalar.length] = '\0';
            n->len = ev.data.scalar.length;
            n->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                       tag_keeps_typing((const char *)ev.data.scalar.tag);
            anchor = (const char *)ev.data.scalar.anchor;
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (!(n = node_new(c, ev.type == YAML_SEQUENCE_START_EVENT ? Y_SEQ : Y_MAP, file,
                               line, col)))
                goto fail_ev;
            n->open = true;
            anchor = (const char *)(ev.type == YAML_SEQUENCE_START_EVENT
                                        ? ev.data.sequence_start.anchor
                                        : ev.data.mapping_start.anchor);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: {
            ynode_t *top = stack[--depth];
            top->open = false;
            if (top->kind == Y_MAP && map_finish(c, top) != 0)
                goto fail_ev;
            break;
        }
        case YAML_ALIAS_EVENT: {
            const char *a = (const char *)ev.data.alias.anchor;
            n = smap_get(&anchors, a, strlen(a));
            if (!n) {
                diag_pos(c, file, line, col, "invalid yaml: unknown alias '%s'", a);
                goto fail_ev;
            }
            if (n->open) {
                diag_pos(c, file, line, col, "invalid yaml: alias '%s' refers to itself", a);
                goto fail_ev;
            }
            break;
        }
        default:
            break;
        }
        if (n) {
            if (anchor) {
                /* The anchor name dies with the event: keep a copy, owned
                 * by an otherwise unused node so that ctx_free releases it. */
                ynode_t *holder = node_new(c, Y_SCALAR, file, line, col);
                if (!holder || !(holder->str = strdup(anchor))) {
                    c->oom = true;
                    goto fail_ev;
                }
                if (smap_put(&anchors, holder->str, strlen(holder->str), n) != 0) {
                    c->oom = true;
                    goto fail_ev;
                }
            }
            if (depth == 0) {
                *root = n;
            } else if (node_push(c, stack[depth - 1], n) != 0) {
                goto fail_ev;
            }
            if (n->open) {
                /* Also bounds libyaml's scanner, whose cost grows with the
                 * flow depth: stop before it does. */
                if (depth >= NEST_MAX) {
                    diag_pos(c, file, line, col, "invalid yaml: nested deeper than %d levels",
                             NEST_MAX);
                    goto fail_ev;
                }
                if (depth == cap) {
                    size_t ncap = cap ? cap * 2 : 16;
                    ynode_t **s = realloc(stack, ncap * sizeof *s);
                    if (!s) {
                        c->oom = true;
                        goto fail_ev;
                    }
                    stack = s;
                    cap = ncap;
                }
                stack[depth++] = n;
            }
        }
        yaml_event_delete(&ev);
    }
    rc = 0;
    goto out;
fail_ev:
    yaml_event_delete(&ev);
out:
    if (rc != 0)
        *root = NULL;
    free(stack);
    smap_free(&anchors);
    yaml_parser_delete(&parser);
    return rc;
}

/* ------------------------------------------------------------------ */
/* environment expansion (os.path.expandvars)                          */

static bool is_word(unsigned char ch)
{
    return isalnum(ch) || ch == '_';
}

/*
 * $name and ${name} are replaced when set in the environment, else kept.
 * Returns a malloc'd NUL-terminated copy, or NULL (OOM or too large; *big).
 */
static char *expand_env(const char *text, size_t len, size_t *outlen, bool *big)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    size_t i = 0;

    *big = false;
    if (!f)
        return NULL;
    while (i < len) {
        const char *dollar = memchr(text + i, '$', len - i);
        size_t stop = dollar ? (size_t)(dollar - text) : len;
        fwrite(text + i, 1, stop - i, f);
        i = stop;
        if (i >= len)
            break;
        size_t nstart, nlen, end;
        if (i + 1 < len && text[i + 1] == '{') {
            const char *close = memchr(text + i + 2, '}', len - i - 2);
            if (!close) {
                fputc('$', f);
                i++;
                continue;
            }
            nstart = i + 2;
            nlen = (size_t)(close - (text + nstart));
            end = (size_t)(close - text) + 1;
        } else {
            nstart = i + 1;
            nlen = 0;
            while (nstart + nlen < len && is_word((unsigned char)text[nstart + nlen]))
                nlen++;
            if (nlen == 0) {
                fputc('$', f);
                i++;
                continue;
            }
            end = nstart + nlen;
        }
        const char *val = NULL;
        char name[256];
        if (nlen < sizeof name && !memchr(text + nstart, '\0', nlen)) {
            memcpy(name, text + nstart, nlen);
            name[nlen] = '\0';
            val = getenv(name);
        }
        if (val)
            fputs(val, f);
        else
            fwrite(text + i, 1, end - i, f);
        i = end;
        if ((size_t)ftell(f) > EXPANDED_MAX) {
            *big = true;
            break;
        }
    }
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    if (*big || size > EXPANDED_MAX) {
        *big = true;
        free(buf);
        return NULL;
    }
    *outlen = size;
    return buf;
}

/* Expands and parses one file's text. 0, or -1 (reported). */
static int parse_text(ctx_t *c, const char *file, const char *text, size_t len, ynode_t **root)
{
    bool big;
    size_t elen = 0;
    char *expanded;
    int rc;

    if (len > DAG_FILE_MAX) {
        diag_pos(c, file, 0, 0, "file is larger than %d bytes", DAG_FILE_MAX);
        return -1;
    }
    if (!(expanded = expand_env(text, len, &elen, &big))) {
        if (big)
            diag_pos(c, file, 0, 0, "file is larger than %d bytes after expanding variables",
                     EXPANDED_MAX);
        else
            c->oom = true;
        return -1;
    }
    rc = tree_parse(c, file, expanded, elen, root);
    free(expanded);
    return rc;
}

/* ------------------------------------------------------------------ */
/* scalars (YAML 1.1 rules)                                            */

static bool is_null(const ynode_t *n)
{
    if (!n)
        return true;
    if (n->kind != Y_SCALAR || !n->plain)
        return false;
    return n->len == 0 || strcmp(n->str, "~") == 0 || strcmp(n->str, "null") == 0 ||
           strcmp(n->str, "Null") == 0 || strcmp(n->str, "NULL") == 0;
}

static const char *kind_name(const ynode_t *n)
{
    if (is_null(n))
        return "null";
    return n->kind == Y_MAP ? "a mapping" : n->kind == Y_SEQ ? "a list" : "a scalar";
}

/* A string value (any scalar but null, no NUL bytes). */
static bool get_str(ctx_t *c, const ynode_t *n, const char *what, const char **out)
{
    if (!is_scalar(n) || is_null(n)) {
        ERR(c, n, "%s must be a string, not %s", what, kind_name(n));
        return false;
    }
    if (strlen(n->str) != n->len) {
        ERR(c, n, "%s contains a nul character", what);
        return false;
    }
    *out = n->str;
    return true;
}

static bool parse_bool(const ynode_t *n, bool *out)
{
    static const char *const yes[] = {"yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"};
    static const char *const no[] = {"no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"};
    if (!is_scalar(n) || !n->plain)
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

static bool get_bool(ctx_t *c, const ynode_t *n, const char *what, bool *out)
{
    if (parse_bool(n, out))
        return true;
    ERR(c, n, "%s must be a boolean (true/false), not '%s'", what,
        is_scalar(n) ? n->str : kind_name(n));
    return false;
}

/* YAML 1.1 integers: [-+]digits (with _), 0x.., 0b.., 0 octal. */
static bool parse_int(const ynode_t *n, long long *out)
{
    const char *p;
    char digits[64];
    size_t nd = 0;
    int base = 10;
    bool neg = false;

    if (!is_scalar(n) || n->len == 0 || n->len >= sizeof digits)
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
        int v = isdigit((unsigned char)*p) ? *p - '0'
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

static bool get_int(ctx_t *c, const ynode_t *n, const char *what, int min, int *out)
{
    long long v;
    if (!parse_int(n, &v)) {
        ERR(c, n, "%s must be an integer, not '%s'", what, is_scalar(n) ? n->str : kind_name(n));
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
static bool get_seconds(ctx_t *c, const ynode_t *n, const char *what, int *out)
{
    static const struct {
        const char *key;
        long long mul;
    } units[] = {{"weeks", 604800}, {"days", 86400}, {"hours", 3600}, {"minutes", 60}, {"seconds", 1}};
    if (!n || n->kind != Y_MAP)
        return get_int(c, n, what, 0, out);
    const ynode_t *type = map_get(n, "__type__");
    if (!key_is(type, "datetime.timedelta")) {
        ERR(c, n, "%s must be a number of seconds or a datetime.timedelta", what);
        return false;
    }
    long long total = 0;
    for (size_t i = 0; i < MAP_PAIRS(n); i++) {
        const ynode_t *k = MAP_KEY(n, i), *v = MAP_VAL(n, i);
        long long x = 0, mul = 0;
        if (key_is(k, "__type__"))
            continue;
        for (size_t u = 0; u < sizeof units / sizeof units[0]; u++)
            if (key_is(k, units[u].key))
                mul = units[u].mul;
        if (!mul) {
            ERR(c, k, "unsupported timedelta key '%s' in %s", is_scalar(k) ? k->str : "?", what);
            return false;
        }
        if (!parse_int(v, &x) || x < 0 || x > INT_MAX) {
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

static bool get_date(ctx_t *c, const ynode_t *n, const char *what, ts_us_t *out)
{
    if (is_null(n)) {
        *out = TS_NONE;
        return true;
    }
    if (is_scalar(n) && strlen(n->str) == n->len && ts_parse(n->str, out) == 0)
        return true;
    if (is_scalar(n) && n->len > 0 && isdigit((unsigned char)n->str[0]) && strchr(n->str, ' ') &&
        !strchr(n->str, '-'))
        ERR(c, n, "relative %s '%s' is not supported, write a date such as 2024-01-01", what,
            n->str);
    else
        ERR(c, n, "%s must be a date such as 2024-01-01 or 2024-01-01T10:00:00, not '%s'", what,
            is_scalar(n) ? n->str : kind_name(n));
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

static bool get_id(ctx_t *c, const ynode_t *n, const char *what, const char **out)
{
    const char *why;
    if (!is_scalar(n) || is_null(n)) {
        ERR(c, n, "%s must be a string, not %s", what, kind_name(n));
        return false;
    }
    if (!valid_id(n->str, n->len, &why)) {
        ERR(c, n, "invalid %s '%.*s': %s", what, (int)(n->len > 80 ? 80 : n->len), n->str, why);
        return false;
    }
    *out = n->str;
    return true;
}

static bool set_str(ctx_t *c, char **dst, const char *src)
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
    ynode_t *m = node_new(c, Y_MAP, pos ? pos->file : c->name, pos ? pos->line : 0,
                          pos ? pos->col : 0);
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
    if (!pair_key(k, &ks, &kl))
        return NULL;
    void *at = smap_get(idx, ks, kl);
    (void)m;
    return at ? MAP_VAL(m, (uintptr_t)at - 1) : NULL;
}

static int index_map(ctx_t *c, const ynode_t *m, smap_t *idx)
{
    for (size_t i = 0; i < MAP_PAIRS(m); i++) {
        const char *ks;
        size_t kl;
        if (pair_key(MAP_KEY(m, i), &ks, &kl) && smap_put(idx, ks, kl, (void *)(uintptr_t)(i + 1))) {
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
static ynode_t *merge_shallow(ctx_t *c, const ynode_t *base, const ynode_t *over,
                              const ynode_t *pos)
{
    size_t nb = base ? MAP_PAIRS(base) : 0, no = over ? MAP_PAIRS(over) : 0;
    smap_t idx = {0};
    ynode_t *m = NULL;

    if (!spend(c, nb + no) || !(m = map_new_like(c, pos, nb + no)))
        return NULL;
    if (over && index_map(c, over, &idx) != 0)
        goto fail;
    for (size_t i = 0; i < nb; i++) {
        ynode_t *ov = map_lookup_idx(over, &idx, MAP_KEY(base, i));
        m->kids[m->n++] = MAP_KEY(base, i);
        m->kids[m->n++] = ov ? ov : MAP_VAL(base, i);
    }
    smap_free(&idx);
    if (base && index_map(c, base, &idx) != 0)
        goto fail;
    for (size_t i = 0; i < no; i++) {
        if (map_lookup_idx(base, &idx, MAP_KEY(over, i)))
            continue;
        m->kids[m->n++] = MAP_KEY(over, i);
        m->kids[m->n++] = MAP_VAL(over, i);
    }
    smap_free(&idx);
    return m;
fail:
    smap_free(&idx);
    return NULL;
}

/*
 * dag-factory's merge_configs: keys missing in config come from dflt;
 * where both values are mappings they merge recursively; otherwise the
 * config's value wins whole. Recursion depth is bounded by the nesting of
 * dflt, which is bounded by the budget.
 */
static ynode_t *merge_configs(ctx_t *c, const ynode_t *config, const ynode_t *dflt, int depth)
{
    size_t nc = MAP_PAIRS(config), nd = MAP_PAIRS(dflt);
    smap_t idx = {0};
    ynode_t *m = NULL;

    if (depth > 64) {
        c->too_complex = true;
        return NULL;
    }
    if (!spend(c, nc + nd) || !(m = map_new_like(c, config, nc + nd)))
        return NULL;
    if (index_map(c, dflt, &idx) != 0)
        goto fail;
    for (size_t i = 0; i < nc; i++) {
        ynode_t *k = MAP_KEY(config, i), *v = MAP_VAL(config, i);
        ynode_t *dv = map_lookup_idx(dflt, &idx, k);
        if (dv && dv->kind == Y_MAP && v->kind == Y_MAP && !(v = merge_configs(c, v, dv, depth + 1)))
            goto fail;
        m->kids[m->n++] = k;
        m->kids[m->n++] = v;
    }
    smap_free(&idx);
    if (index_map(c, config, &idx) != 0)
        goto fail;
    for (size_t i = 0; i < nd; i++) {
        if (map_lookup_idx(config, &idx, MAP_KEY(dflt, i)))
            continue;
        m->kids[m->n++] = MAP_KEY(dflt, i);
        m->kids[m->n++] = MAP_VAL(dflt, i);
    }
    smap_free(&idx);
    return m;
fail:
    smap_free(&idx);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* keys                                                                */

typedef enum key_id {
    K_UNKNOWN = 0,
    /* DAG level */
    K_DESCRIPTION, K_SCHEDULE, K_SCHEDULE_INTERVAL, K_START_DATE, K_END_DATE, K_CATCHUP,
    K_TAGS, K_MAX_ACTIVE_RUNS, K_MAX_ACTIVE_TASKS, K_CONCURRENCY, K_PAUSED, K_DEFAULT_ARGS,
    K_TASKS, K_TASK_GROUPS, K_TIMEZONE, K_PARAMS, K_DAGRUN_TIMEOUT, K_DAGRUN_TIMEOUT_SEC,
    K_MAX_CONSEC_FAILED, K_DAG_IGNORED, K_DAG_ON_FAILURE, K_DAG_ON_SUCCESS, K_DAG_SLA_MISS,
    /* task level */
    K_TASK_ID, K_OPERATOR, K_DECORATOR, K_BASH_COMMAND, K_ENV, K_APPEND_ENV, K_CWD,
    K_DEPENDENCIES, K_OWNER, K_RETRIES, K_RETRY_DELAY_SEC, K_RETRY_DELAY, K_QUEUE, K_POOL,
    K_POOL_SLOTS, K_PRIORITY_WEIGHT, K_TRIGGER_RULE, K_EXEC_TIMEOUT_SEC, K_EXEC_TIMEOUT,
    K_TASK_GROUP_NAME, K_DEPENDS_ON_PAST, K_WAIT_FOR_DOWNSTREAM, K_RETRY_EXP_BACKOFF,
    K_MAX_RETRY_DELAY, K_MAX_RETRY_DELAY_SEC, K_SKIP_ON_EXIT_CODE, K_WEIGHT_RULE,
    K_MAX_TIS_PER_DAG, K_MAX_TIS_PER_DAGRUN, K_DO_XCOM_PUSH, K_EXPAND, K_PARTIAL, K_ON_FAILURE, K_ON_RETRY, K_ON_SUCCESS, K_SLA, K_TASK_IGNORED
} key_id_t;

typedef struct key_def {
    const char *name;
    key_id_t id;
} key_def_t;

static const key_def_t dag_keys[] = {
    {"description", K_DESCRIPTION}, {"schedule", K_SCHEDULE},
    {"schedule_interval", K_SCHEDULE_INTERVAL}, {"start_date", K_START_DATE},
    {"end_date", K_END_DATE}, {"catchup", K_CATCHUP}, {"tags", K_TAGS},
    {"max_active_runs", K_MAX_ACTIVE_RUNS}, {"max_active_tasks", K_MAX_ACTIVE_TASKS},
    {"concurrency", K_CONCURRENCY}, {"is_paused_upon_creation", K_PAUSED},
    {"default_args", K_DEFAULT_ARGS}, {"tasks", K_TASKS}, {"task_groups", K_TASK_GROUPS},
    {"timezone", K_TIMEZONE}, {"params", K_PARAMS}, {"dagrun_timeout", K_DAGRUN_TIMEOUT},
    {"dagrun_timeout_sec", K_DAGRUN_TIMEOUT_SEC},
    {"max_consecutive_failed_dag_runs", K_MAX_CONSEC_FAILED},
    /* accepted by Airflow or dag-factory, not used by updraft yet */
    {"default_view", K_DAG_IGNORED}, {"orientation", K_DAG_IGNORED}, {"doc_md", K_DAG_IGNORED},
    {"doc_md_file_path", K_DAG_IGNORED}, {"doc_md_python_callable_file", K_DAG_IGNORED},
    {"doc_md_python_callable_name", K_DAG_IGNORED}, {"doc_md_python_arguments", K_DAG_IGNORED},
    {"render_template_as_native_obj", K_DAG_IGNORED}, {"sla_miss_callback", K_DAG_SLA_MISS},
    {"on_success_callback", K_DAG_ON_SUCCESS}, {"on_failure_callback", K_DAG_ON_FAILURE},
    {"on_success_alert", K_DAG_ON_SUCCESS}, {"on_failure_alert", K_DAG_ON_FAILURE},
    {"sla_miss_alert", K_DAG_SLA_MISS},
    {"on_execute_callback", K_DAG_IGNORED}, {"on_success_callback_name", K_DAG_IGNORED},
    {"on_success_callback_file", K_DAG_IGNORED}, {"on_failure_callback_name", K_DAG_IGNORED},
    {"on_failure_callback_file", K_DAG_IGNORED}, {"sla_miss_callback_name", K_DAG_IGNORED},
    {"sla_miss_callback_file", K_DAG_IGNORED}, {"access_control", K_DAG_IGNORED},
    {"owner_links", K_DAG_IGNORED},
    {"jinja_environment_kwargs", K_DAG_IGNORED}, {"template_searchpath", K_DAG_IGNORED},
    {"user_defined_macros", K_DAG_IGNORED}, {"user_defined_filters", K_DAG_IGNORED},
    {"dag_display_name", K_DAG_IGNORED}, {"timetable", K_DAG_IGNORED},
    {"fail_stop", K_DAG_IGNORED}, {"auto_register", K_DAG_IGNORED},
    {"doc", K_DAG_IGNORED},
    {NULL, K_UNKNOWN}};

static const key_def_t task_keys[] = {
    {"task_id", K_TASK_ID}, {"operator", K_OPERATOR}, {"decorator", K_DECORATOR},
    {"bash_command", K_BASH_COMMAND}, {"env", K_ENV}, {"append_env", K_APPEND_ENV},
    {"cwd", K_CWD}, {"dependencies", K_DEPENDENCIES}, {"owner", K_OWNER},
    {"retries", K_RETRIES}, {"retry_delay_sec", K_RETRY_DELAY_SEC},
    {"retry_delay", K_RETRY_DELAY}, {"queue", K_QUEUE}, {"pool", K_POOL},
    {"pool_slots", K_POOL_SLOTS}, {"priority_weight", K_PRIORITY_WEIGHT},
    {"trigger_rule", K_TRIGGER_RULE}, {"execution_timeout_sec", K_EXEC_TIMEOUT_SEC},
    {"execution_timeout_secs", K_EXEC_TIMEOUT_SEC}, {"execution_timeout", K_EXEC_TIMEOUT},
    {"task_group_name", K_TASK_GROUP_NAME}, {"depends_on_past", K_DEPENDS_ON_PAST},
    {"wait_for_downstream", K_WAIT_FOR_DOWNSTREAM},
    {"retry_exponential_backoff", K_RETRY_EXP_BACKOFF}, {"max_retry_delay", K_MAX_RETRY_DELAY},
    {"max_retry_delay_sec", K_MAX_RETRY_DELAY_SEC}, {"skip_on_exit_code", K_SKIP_ON_EXIT_CODE},
    {"weight_rule", K_WEIGHT_RULE}, {"max_active_tis_per_dag", K_MAX_TIS_PER_DAG},
    {"max_active_tis_per_dagrun", K_MAX_TIS_PER_DAGRUN}, {"do_xcom_push", K_DO_XCOM_PUSH},
    {"expand", K_EXPAND}, {"partial", K_PARTIAL},
    /* accepted by Airflow on every task; safe to ignore for now */
    {"doc", K_TASK_IGNORED}, {"doc_md", K_TASK_IGNORED}, {"doc_json", K_TASK_IGNORED},
    {"doc_yaml", K_TASK_IGNORED}, {"doc_rst", K_TASK_IGNORED}, {"email", K_TASK_IGNORED},
    {"email_on_failure", K_TASK_IGNORED}, {"email_on_retry", K_TASK_IGNORED},
    {"task_display_name", K_TASK_IGNORED},
    {"ui_color", K_TASK_IGNORED}, {"ui_fgcolor", K_TASK_IGNORED}, {"sla", K_SLA},
    {"sla_secs", K_SLA}, {"output_encoding", K_TASK_IGNORED},
    {"inlets", K_TASK_IGNORED}, {"outlets", K_TASK_IGNORED},
    {"executor_config", K_TASK_IGNORED}, {"on_execute_callback", K_TASK_IGNORED},
    {"on_success_callback", K_ON_SUCCESS}, {"on_failure_callback", K_ON_FAILURE},
    {"on_retry_callback", K_ON_RETRY}, {"on_skipped_callback", K_TASK_IGNORED},
    {"on_success_alert", K_ON_SUCCESS}, {"on_failure_alert", K_ON_FAILURE},
    {"on_retry_alert", K_ON_RETRY},
    {"on_failure_callback_name", K_TASK_IGNORED}, {"on_failure_callback_file", K_TASK_IGNORED},
    {"on_success_callback_name", K_TASK_IGNORED}, {"on_success_callback_file", K_TASK_IGNORED},
    {"on_retry_callback_name", K_TASK_IGNORED}, {"on_retry_callback_file", K_TASK_IGNORED},
    {"params", K_TASK_IGNORED},
    {NULL, K_UNKNOWN}};

static key_id_t key_lookup(const key_def_t *defs, const ynode_t *k)
{
    if (!is_scalar(k))
        return K_UNKNOWN;
    for (size_t i = 0; defs[i].name; i++)
        if (strcmp(defs[i].name, k->str) == 0)
            return defs[i].id;
    return K_UNKNOWN;
}

/* A key's text for messages (clipped). */
static const char *key_text(const ynode_t *k)
{
    return is_scalar(k) ? k->str : "?";
}

/* Reports duplicate keys of a mapping as warnings (PyYAML keeps the last). */
static void warn_dups(ctx_t *c, const ynode_t *m)
{
    for (size_t i = 0; m && m->kind == Y_MAP && i < m->n_dups; i++)
        WARN(c, m->dups[i], "duplicate key '%.100s' (the later value is used)", key_text(m->dups[i]));
}

/* ------------------------------------------------------------------ */
/* DAGs and tasks                                                      */

typedef struct task_src {
    const ynode_t *at;          /* position for task-level messages */
    const ynode_t *deps;        /* dependencies node (may be NULL) */
    const char *name;           /* task id as written (dependencies use it) */
    int group;                  /* loader's task group index, -1 = none */
    bool ok;
} task_src_t;

/* Airflow 2's trigger rules, plus all_done_min_one_success (Airflow 3.1). */
static const char *const trigger_rules[] = {
    "all_success", "all_failed", "all_done", "all_done_min_one_success", "all_skipped",
    "one_success", "one_failed", "one_done", "none_failed", "none_failed_min_one_success",
    "none_skipped", "always", NULL};

/*
 * A trigger_rule value. Airflow's deprecated names are renamed with a
 * warning, as BaseOperator does (dummy -> always, none_failed_or_skipped
 * -> none_failed_min_one_success). A rule is accepted only once the
 * planner (model/planner.c) evaluates it: a rule it does not know would
 * silently behave as all_success.
 */
static bool parse_trigger_rule(ctx_t *c, const ynode_t *v, const char *what, dag_task_t *t,
                               const char *tid)
{
    const char *s, *rule = NULL;

    if (!get_str(c, v, what, &s))
        return false;
    if (strcmp(s, "dummy") == 0) {
        WARN(c, v, "trigger_rule 'dummy' is deprecated, 'always' is used");
        rule = "always";
    } else if (strcmp(s, "none_failed_or_skipped") == 0) {
        WARN(c, v, "trigger_rule 'none_failed_or_skipped' is deprecated, "
                   "'none_failed_min_one_success' is used");
        rule = "none_failed_min_one_success";
    }
    for (size_t i = 0; !rule && trigger_rules[i]; i++)
        if (strcmp(trigger_rules[i], s) == 0)
            rule = trigger_rules[i];
    if (!rule) {
        if (strcmp(s, "all_done_setup_success") == 0)
            ERR(c, v, "trigger_rule 'all_done_setup_success' in task '%s' is not supported "
                      "(setup and teardown tasks are not supported yet)", tid);
        else
            ERR(c, v, "invalid trigger_rule '%.100s' in task '%s' (expected all_success, "
                      "all_failed, all_done, all_done_min_one_success, all_skipped, one_success, "
                      "one_failed, one_done, none_failed, none_failed_min_one_success, "
                      "none_skipped or always)", s, tid);
        return false;
    }
    if (!planner_trigger_rule_known(rule)) {
        ERR(c, v, "trigger_rule '%s' in task '%s' is not supported yet", rule, tid);
        return false;
    }
    return set_str(c, &t->trigger_rule, rule);
}

static bool parse_env(ctx_t *c, const ynode_t *v, dag_task_t *t, const char *tid)
{
    dag_env_t *env = NULL;
    size_t n = 0;

    if (is_null(v))
        goto done;
    if (v->kind != Y_MAP) {
        ERR(c, v, "env of task '%s' must be a mapping of names to strings", tid);
        return false;
    }
    warn_dups(c, v);
    if (!(env = calloc(MAP_PAIRS(v) ? MAP_PAIRS(v) : 1, sizeof *env))) {
        c->oom = true;
        return false;
    }
    for (size_t i = 0; i < MAP_PAIRS(v); i++) {
        const ynode_t *k = MAP_KEY(v, i), *val = MAP_VAL(v, i);
        const char *name, *value;
        if (!get_str(c, k, "env name", &name) || !get_str(c, val, "env value", &value))
            goto fail;
        if (!*name || strchr(name, '=')) {
            ERR(c, k, "invalid env name '%.100s' in task '%s'", name, tid);
            goto fail;
        }
        if (!(env[n].name = strdup(name)) || !(env[n].value = strdup(value))) {
            n++;
            c->oom = true;
            goto fail;
        }
        n++;
    }
done:
    for (size_t i = 0; i < t->n_env; i++) {
        free(t->env[i].name);
        free(t->env[i].value);
    }
    free(t->env);
    t->env = env;
    t->n_env = n;
    return true;
fail:
    for (size_t i = 0; i < n; i++) {
        free(env[i].name);
        free(env[i].value);
    }
    free(env);
    return false;
}

/*
 * skip_on_exit_code (BashOperator): an exit code, a list of them, or null
 * (no exit code skips). Codes are 0-255 as a shell sees them.
 */
static bool parse_skip_codes(ctx_t *c, const ynode_t *v, const char *what, dag_task_t *t)
{
    int codes[DAG_SKIP_CODES_MAX];
    size_t n = 0;
    if (is_null(v)) {
        t->n_skip_on_exit_code = 0;
        return true;
    }
    if (v->kind == Y_SEQ) {
        if (v->n > DAG_SKIP_CODES_MAX) {
            ERR(c, v, "%s lists more than %d exit codes", what, DAG_SKIP_CODES_MAX);
            return false;
        }
        for (size_t i = 0; i < v->n; i++) {
            int x;
            if (!get_int(c, v->kids[i], what, 0, &x))
                return false;
            if (x > 255) {
                ERR(c, v->kids[i], "%s: exit code %d is not between 0 and 255", what, x);
                return false;
            }
            codes[n++] = x;
        }
    } else {
        int x;
        if (!get_int(c, v, what, 0, &x))
            return false;
        if (x > 255) {
            ERR(c, v, "%s: exit code %d is not between 0 and 255", what, x);
            return false;
        }
        codes[n++] = x;
    }
    memcpy(t->skip_on_exit_code, codes, n * sizeof codes[0]);
    t->n_skip_on_exit_code = n;
    return true;
}

/*
 * Applies one task key (from default_args when from_defaults) to t.
 * Returns false after reporting an error.
 */
/* ------------------------------------------------------------------ */
/* callbacks and alerts (docs/dag-format.md "Alerts")                  */

/* Airflow's Slack webhook notifier, by the last component of its path. */
static bool is_slack_notifier(const char *path)
{
    const char *dot = strrchr(path, '.');
    const char *name = dot ? dot + 1 : path;
    return strcmp(name, "send_slack_webhook_notification") == 0 ||
           strcmp(name, "SlackWebhookNotifier") == 0;
}

/* Adds {"conn_id", "kind", "text"?, "channel"?} to arr. */
static bool alert_add(ctx_t *c, cJSON *arr, const char *conn_id, const char *kind,
                      const char *text, const char *channel)
{
    cJSON *a = cJSON_CreateObject();
    if (!a || !cJSON_AddStringToObject(a, "conn_id", conn_id) ||
        !cJSON_AddStringToObject(a, "kind", kind) ||
        (text && !cJSON_AddStringToObject(a, "text", text)) ||
        (channel && !cJSON_AddStringToObject(a, "channel", channel)) ||
        !cJSON_AddItemToArray(arr, a)) {
        cJSON_Delete(a);
        c->oom = true;
        return false;
    }
    return true;
}

static bool alert_conn_valid(ctx_t *c, const ynode_t *n, const char *s, const char *what)
{
    if (!*s || strlen(s) > DAG_ID_MAX) {
        ERR(c, n, "%s: invalid connection id '%.100s'", what, s);
        return false;
    }
    return true;
}

/* One callback or alert (not a list) into arr. */
static bool parse_alert_one(ctx_t *c, const ynode_t *v, const char *what, cJSON *arr)
{
    const char *s;
    if (is_scalar(v) && !is_null(v)) {
        if (!get_str(c, v, what, &s))
            return false;
        if (strchr(s, '.')) { /* a Python path */
            if (is_slack_notifier(s))
                return alert_add(c, arr, "slack_default", "slack", NULL, NULL);
            WARN(c, v, "%s: Python callback '%.200s' is not run (use Airflow's Slack webhook "
                       "notifier or the native form {slack: CONN_ID})", what, s);
            return true;
        }
        /* a bare connection id: Slack or webhook by the connection's type */
        return alert_conn_valid(c, v, s, what) && alert_add(c, arr, s, "auto", NULL, NULL);
    }
    if (v->kind != Y_MAP) {
        ERR(c, v, "%s must be a callback path, a connection id or a mapping, not %s", what,
            kind_name(v));
        return false;
    }
    warn_dups(c, v);
    const ynode_t *cb = map_get(v, "callback");
    if (!cb)
        cb = map_get(v, "__type__");
    const ynode_t *slack = map_get(v, "slack"), *hook = map_get(v, "webhook");
    const ynode_t *textn = map_get(v, "text"), *chan = map_get(v, "channel");
    const char *text = NULL, *channel = NULL, *conn = NULL, *kind = NULL;
    if (textn && !is_null(textn) && !get_str(c, textn, what, &text))
        return false;
    if (chan && !is_null(chan) && !get_str(c, chan, what, &channel))
        return false;
    if (cb) {
        if (!get_str(c, cb, what, &s))
            return false;
        if (!is_slack_notifier(s)) {
            WARN(c, cb, "%s: Python callback '%.200s' is not run (use Airflow's Slack webhook "
                        "notifier or the native form {slack: CONN_ID})", what, s);
            return true;
        }
        const ynode_t *cid = map_get(v, "slack_webhook_conn_id");
        conn = "slack_default";
        if (cid && !get_str(c, cid, what, &conn))
            return false;
        kind = "slack";
        for (size_t i = 0; i < MAP_PAIRS(v); i++) {
            const ynode_t *k = MAP_KEY(v, i);
            if (!key_is(k, "callback") && !key_is(k, "__type__") &&
                !key_is(k, "slack_webhook_conn_id") && !key_is(k, "text") &&
                !key_is(k, "channel"))
                WARN(c, k, "%s: notifier argument '%.100s' is ignored", what, key_text(k));
        }
    } else if (slack || hook) {
        if (slack && hook) {
            ERR(c, v, "%s: give slack or webhook, not both", what);
            return false;
        }
        if (!get_str(c, slack ? slack : hook, what, &conn))
            return false;
        kind = slack ? "slack" : "webhook";
        for (size_t i = 0; i < MAP_PAIRS(v); i++) {
            const ynode_t *k = MAP_KEY(v, i);
            if (!key_is(k, "slack") && !key_is(k, "webhook") && !key_is(k, "text") &&
                !key_is(k, "channel")) {
                ERR(c, k, "%s: unknown key '%.100s' (expected slack or webhook, channel, text)",
                    what, key_text(k));
                return false;
            }
        }
    } else {
        ERR(c, v, "%s: a mapping needs slack: CONN_ID, webhook: CONN_ID, or callback: "
                  "<Slack webhook notifier>", what);
        return false;
    }
    return alert_conn_valid(c, v, conn, what) && alert_add(c, arr, conn, kind, text, channel);
}

/*
 * A callback or alert key (on_failure_callback, on_failure_alert, ...),
 * one or a list, into (*alerts)[event], replacing what default_args set.
 */
static bool parse_alerts(ctx_t *c, const ynode_t *k, const ynode_t *v, const char *event,
                         cJSON **alerts, const char *owner)
{
    char what[300];
    if (strncmp(owner, key_text(k), strlen(key_text(k))) == 0)
        snprintf(what, sizeof what, "%s", owner); /* already "key of task 't'" */
    else
        snprintf(what, sizeof what, "%s of %s", key_text(k), owner);
    cJSON *arr = cJSON_CreateArray();
    if (!arr) {
        c->oom = true;
        return false;
    }
    bool ok = true;
    if (is_null(v)) {
        /* null: no alerts for this event */
    } else if (v->kind == Y_SEQ) {
        for (size_t i = 0; ok && i < v->n; i++)
            ok = parse_alert_one(c, v->kids[i], what, arr);
    } else {
        ok = parse_alert_one(c, v, what, arr);
    }
    if (!ok) {
        cJSON_Delete(arr);
        return false;
    }
    if (!*alerts && !(*alerts = cJSON_CreateObject())) {
        cJSON_Delete(arr);
        c->oom = true;
        return false;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(*alerts, event);
    if (!cJSON_AddItemToObject(*alerts, event, arr)) {
        cJSON_Delete(arr);
        c->oom = true;
        return false;
    }
    return true;
}

static bool task_apply_key(ctx_t *c, key_id_t id, const ynode_t *k, const ynode_t *v,
                           dag_task_t *t, const char *tid, bool from_defaults, bool *has_op)
{
    const char *s;
    bool b;
    char what[300];

    snprintf(what, sizeof what, "%s of %s '%s'", key_text(k),
             !from_defaults ? "task" : c->defaults_scope ? c->defaults_scope : "default_args in dag",
             tid);
    switch (id) {
    case K_OPERATOR:
        if (!get_str(c, v, what, &s))
            return false;
        if (!operator_parse(s, &t->op)) {
            ERR(c, v, "unknown operator '%.200s' in task '%s' (supported: bash, empty, branch, "
                      "short_circuit, latest_only, python, http, sql, trigger_dag_run, file_sensor, "
                      "http_sensor, sql_sensor, external_task_sensor, time_delta_sensor, "
                      "date_time_sensor, or their Airflow class names)", s, tid);
            return false;
        }
        *has_op = true;
        return true;
    case K_DECORATOR:
        ERR(c, k, "task '%s': decorator (python) tasks are not supported", tid);
        return false;
    case K_BASH_COMMAND:
        return get_str(c, v, what, &s) && set_str(c, &t->bash_command, s);
    case K_ENV:
        return parse_env(c, v, t, tid);
    case K_APPEND_ENV:
        if (!get_bool(c, v, what, &b))
            return false;
        t->append_env = b;
        return true;
    case K_CWD:
        if (is_null(v))
            return set_str(c, &t->cwd, NULL);
        return get_str(c, v, what, &s) && set_str(c, &t->cwd, s);
    case K_OWNER:
        return get_str(c, v, what, &s) && set_str(c, &t->owner, s);
    case K_RETRIES:
        return get_int(c, v, what, 0, &t->retries);
    case K_RETRY_DELAY_SEC:
        return get_int(c, v, what, 0, &t->retry_delay_sec);
    case K_RETRY_DELAY:
        return get_seconds(c, v, what, &t->retry_delay_sec);
    case K_QUEUE:
        if (!get_str(c, v, what, &s))
            return false;
        if (!*s || strlen(s) > 127 || strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-") != strlen(s)) {
            ERR(c, v, "invalid queue '%.200s' in task '%s': use 1-127 of [A-Za-z0-9_.:-]", s, tid);
            return false;
        }
        return set_str(c, &t->queue, s);
    case K_POOL:
        if (!get_str(c, v, what, &s))
            return false;
        if (!*s || strlen(s) > 256) {
            ERR(c, v, "invalid pool name in task '%s'", tid);
            return false;
        }
        return set_str(c, &t->pool, s);
    case K_POOL_SLOTS:
        return get_int(c, v, what, 1, &t->pool_slots);
    case K_PRIORITY_WEIGHT: {
        long long x;
        if (!parse_int(v, &x) || x < INT_MIN || x > INT_MAX) {
            ERR(c, v, "%s must be an integer, not '%s'", what, is_scalar(v) ? v->str : kind_name(v));
            return false;
        }
        t->priority_weight = (int)x;
        return true;
    }
    case K_WEIGHT_RULE:
        if (!get_str(c, v, what, &s))
            return false;
        if (dag_weight_rule_parse(s, &t->weight_rule) != 0) {
            ERR(c, v, "unknown weight_rule '%.64s' in task '%s': use downstream, upstream or"
                " absolute", s, tid);
            return false;
        }
        return true;
    case K_MAX_TIS_PER_DAG:
        if (is_null(v)) {
            t->max_active_tis_per_dag = 0;
            return true;
        }
        return get_int(c, v, what, 1, &t->max_active_tis_per_dag);
    case K_MAX_TIS_PER_DAGRUN:
        if (is_null(v)) {
            t->max_active_tis_per_dagrun = 0;
            return true;
        }
        return get_int(c, v, what, 1, &t->max_active_tis_per_dagrun);
    case K_TRIGGER_RULE:
        return parse_trigger_rule(c, v, what, t, tid);
    case K_EXEC_TIMEOUT_SEC:
        return get_int(c, v, what, 0, &t->execution_timeout_sec);
    case K_EXEC_TIMEOUT:
        if (is_null(v)) {
            t->execution_timeout_sec = 0;
            return true;
        }
        return get_seconds(c, v, what, &t->execution_timeout_sec);
    case K_RETRY_EXP_BACKOFF:
        if (!get_bool(c, v, what, &b))
            return false;
        t->retry_exponential_backoff = b;
        return true;
    case K_DO_XCOM_PUSH:
        if (!get_bool(c, v, what, &b))
            return false;
        t->no_xcom_push = !b;
        return true;
    case K_MAX_RETRY_DELAY:
        if (is_null(v)) {
            t->max_retry_delay_sec = 0;
            return true;
        }
        return get_seconds(c, v, what, &t->max_retry_delay_sec);
    case K_MAX_RETRY_DELAY_SEC:
        return get_int(c, v, what, 0, &t->max_retry_delay_sec);
    case K_SKIP_ON_EXIT_CODE:
        return parse_skip_codes(c, v, what, t);
    case K_TASK_GROUP_NAME:
        return true; /* read with the task groups (task_group_of) */
    case K_ON_FAILURE:
        return parse_alerts(c, k, v, "failure", &t->alerts, what);
    case K_ON_RETRY:
        return parse_alerts(c, k, v, "retry", &t->alerts, what);
    case K_ON_SUCCESS:
        return parse_alerts(c, k, v, "success", &t->alerts, what);
    case K_SLA:
        if (is_null(v)) {
            t->sla_sec = 0;
            return true;
        }
        return get_seconds(c, v, what, &t->sla_sec);
    case K_DEPENDS_ON_PAST:
        if (!get_bool(c, v, what, &b))
            return false;
        t->depends_on_past = b;
        return true;
    case K_WAIT_FOR_DOWNSTREAM:
        if (!get_bool(c, v, what, &b))
            return false;
        t->wait_for_downstream = b;
        return true;
    case K_TASK_IGNORED:
        WARN(c, k, "ignored key '%s' in task '%s' (not supported yet)", key_text(k), tid);
        return true;
    default:
        return true;
    }
}

/* The dates of one level (the DAG's keys or its default_args) and the
 * zone their wall-clock values are read in (dag-factory's `timezone`). */
typedef struct date_zone {
    const ynode_t *start, *end; /* the date nodes, NULL when absent */
    const char *tz_name;        /* NULL = UTC */
    const ynode_t *tz_node;
} date_zone_t;

static cJSON *node_to_json(ctx_t *c, const ynode_t *n, int depth);
static const operator_arg_t *any_operator_arg(const char *name, dag_operator_t *op);
static bool read_arg(ctx_t *c, const operator_arg_t *a, const ynode_t *v, const char *what,
                     cJSON **out);
static bool args_set(ctx_t *c, cJSON **args, const char *name, cJSON *val);

/* default_args may carry any operator's arguments; a task keeps those its operator takes. */
static bool default_arg(ctx_t *c, const ynode_t *k, const ynode_t *v, dag_task_t *tpl,
                        const char *scope)
{
    dag_operator_t op;
    const operator_arg_t *a = is_scalar(k) ? any_operator_arg(k->str, &op) : NULL;
    char what[300];
    cJSON *val;
    if (!a) {
        WARN(c, k, "unknown key '%.100s' in %s (ignored)", key_text(k), scope);
        return true;
    }
    snprintf(what, sizeof what, "%s in %s", a->name, scope);
    return read_arg(c, a, v, what, &val) && args_set(c, &tpl->args, a->name, val);
}

/* default_args: task defaults plus the DAG's start/end date and owner. */
static bool parse_default_args(ctx_t *c, const ynode_t *da, const char *dag_id, dag_task_t *tpl,
                               ts_us_t *start, ts_us_t *end, date_zone_t *dz)
{
    bool ok = true, dummy = false;

    if (is_null(da))
        return true;
    if (da->kind != Y_MAP) {
        ERR(c, da, "default_args of dag '%s' must be a mapping, not %s", dag_id, kind_name(da));
        return false;
    }
    warn_dups(c, da);
    for (size_t i = 0; i < MAP_PAIRS(da); i++) {
        const ynode_t *k = MAP_KEY(da, i), *v = MAP_VAL(da, i);
        key_id_t id = key_lookup(task_keys, k);
        if (key_is(k, "start_date")) {
            ok = get_date(c, v, "start_date", start) && ok;
            dz->start = v;
        } else if (key_is(k, "end_date")) {
            ok = get_date(c, v, "end_date", end) && ok;
            dz->end = v;
        } else if (key_is(k, "timezone")) {
            if (get_str(c, v, "timezone", &dz->tz_name))
                dz->tz_node = v;
            else
                ok = false;
        } else if (id == K_TASK_ID || id == K_OPERATOR || id == K_DECORATOR ||
                   id == K_DEPENDENCIES || id == K_TASK_GROUP_NAME) {
            WARN(c, k, "ignored key '%s' in default_args (it only applies to a task)", key_text(k));
        } else if (id == K_UNKNOWN) {
            ok = default_arg(c, k, v, tpl, "default_args") && ok;
        } else if (id == K_TASK_IGNORED) {
            WARN(c, k, "ignored key '%s' in default_args (not supported yet)", key_text(k));
        } else {
            ok = task_apply_key(c, id, k, v, tpl, dag_id, true, &dummy) && ok;
        }
    }
    return ok;
}

static bool task_copy(ctx_t *c, const dag_task_t *src, dag_task_t *dst)
{
    *dst = (dag_task_t){.op = src->op, .append_env = src->append_env, .retries = src->retries,
                        .retry_delay_sec = src->retry_delay_sec, .pool_slots = src->pool_slots,
                        .priority_weight = src->priority_weight,
                        .weight_rule = src->weight_rule,
                        .max_active_tis_per_dag = src->max_active_tis_per_dag,
                        .max_active_tis_per_dagrun = src->max_active_tis_per_dagrun,
                        .execution_timeout_sec = src->execution_timeout_sec,
                        .retry_exponential_backoff = src->retry_exponential_backoff,
                        .no_xcom_push = src->no_xcom_push,
                        .max_retry_delay_sec = src->max_retry_delay_sec,
                        .depends_on_past = src->depends_on_past,
                        .wait_for_downstream = src->wait_for_downstream,
                        .n_skip_on_exit_code = src->n_skip_on_exit_code};
    dst->sla_sec = src->sla_sec;
    if (src->alerts && !(dst->alerts = cJSON_Duplicate(src->alerts, 1))) {
        c->oom = true;
        return false;
    }
    if (src->args && !(dst->args = cJSON_Duplicate(src->args, 1))) {
        c->oom = true;
        return false;
    }
    memcpy(dst->skip_on_exit_code, src->skip_on_exit_code, sizeof dst->skip_on_exit_code);
    if (!set_str(c, &dst->bash_command, src->bash_command) || !set_str(c, &dst->cwd, src->cwd) ||
        !set_str(c, &dst->owner, src->owner) || !set_str(c, &dst->queue, src->queue) ||
        !set_str(c, &dst->pool, src->pool) || !set_str(c, &dst->trigger_rule, src->trigger_rule))
        return false;
    if (src->env) { /* declared, even empty: it replaces the inherited environment */
        if (!(dst->env = calloc(src->n_env ? src->n_env : 1, sizeof *dst->env))) {
            c->oom = true;
            return false;
        }
        for (size_t i = 0; i < src->n_env; i++) {
            dst->n_env++;
            if (!set_str(c, &dst->env[i].name, src->env[i].name) ||
                !set_str(c, &dst->env[i].value, src->env[i].value))
                return false;
        }
    }
    return true;
}

/* The first operator that takes argument name (default_args carry arguments for any). */
static const operator_arg_t *any_operator_arg(const char *name, dag_operator_t *op)
{
    for (int o = 0; o < DAG_OP_COUNT; o++) {
        const operator_arg_t *a = operator_find_arg((dag_operator_t)o, name);
        if (a) {
            *op = (dag_operator_t)o;
            return a;
        }
    }
    return NULL;
}

/* Reads one operator argument by its type into *out (a new JSON value). */
static bool read_arg(ctx_t *c, const operator_arg_t *a, const ynode_t *v, const char *what,
                     cJSON **out)
{
    const char *s;
    bool b;
    int i;

    *out = NULL;
    if (is_null(v)) {
        *out = cJSON_CreateNull();
    } else {
        switch (a->type) {
        case ARG_STRING:
            if (!get_str(c, v, what, &s))
                return false;
            *out = cJSON_CreateString(s);
            break;
        case ARG_INT:
            if (!get_int(c, v, what, 0, &i))
                return false;
            *out = cJSON_CreateNumber(i);
            break;
        case ARG_SECONDS:
            if (!get_seconds(c, v, what, &i))
                return false;
            *out = cJSON_CreateNumber(i);
            break;
        case ARG_BOOL:
            if (!get_bool(c, v, what, &b))
                return false;
            *out = cJSON_CreateBool(b);
            break;
        case ARG_STRING_LIST:
            if (is_scalar(v)) {
                if (!get_str(c, v, what, &s))
                    return false;
                if ((*out = cJSON_CreateArray()))
                    cJSON_AddItemToArray(*out, cJSON_CreateString(s));
                break;
            }
            if (v->kind != Y_SEQ) {
                ERR(c, v, "%s must be a list of strings", what);
                return false;
            }
            *out = cJSON_CreateArray();
            for (size_t k = 0; *out && k < v->n; k++) {
                if (!get_str(c, v->kids[k], what, &s)) {
                    cJSON_Delete(*out);
                    *out = NULL;
                    return false;
                }
                cJSON_AddItemToArray(*out, cJSON_CreateString(s));
            }
            break;
        case ARG_OBJECT:
            if (v->kind != Y_MAP) {
                ERR(c, v, "%s must be a mapping, not %s", what, kind_name(v));
                return false;
            }
            /* fall through */
        case ARG_ANY:
            if (!(*out = node_to_json(c, v, 1)))
                return false;
            break;
        }
    }
    if (!*out)
        c->oom = true;
    return *out != NULL;
}

/* Sets args[name] = val (taking val); false on OOM. */
static bool args_set(ctx_t *c, cJSON **args, const char *name, cJSON *val)
{
    if (!*args && !(*args = cJSON_CreateObject())) {
        cJSON_Delete(val);
        c->oom = true;
        return false;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(*args, name);
    if (!cJSON_AddItemToObject(*args, name, val)) {
        cJSON_Delete(val);
        c->oom = true;
        return false;
    }
    return true;
}

/*
 * An XCom reference in expand, as dag-factory writes it: "task.output",
 * "XcomArg(task)" or "+task". The task name (as written) goes to name.
 */
static bool xcom_ref(const char *s, char *name, size_t cap)
{
    size_t len = strlen(s);
    const char *p = s;
    size_t n = 0;
    if (len > 7 && strcmp(s + len - 7, ".output") == 0) {
        n = len - 7;
    } else if (len > 9 && (strncmp(s, "XcomArg(", 8) == 0 || strncmp(s, "XComArg(", 8) == 0) &&
               s[len - 1] == ')') {
        p = s + 8;
        n = len - 9;
    } else if (len > 1 && s[0] == '+') {
        p = s + 1;
        n = len - 1;
    } else {
        return false;
    }
    if (n == 0 || n >= cap)
        return false;
    memcpy(name, p, n);
    name[n] = '\0';
    return true;
}

/*
 * expand: {field: [values...] | "<task>.output"}. Literal lists are kept
 * as arrays; an XCom reference becomes {"xcom_task": name as written}
 * (resolve_expand makes it the full task id once every task is known).
 */
static bool parse_expand(ctx_t *c, const ynode_t *v, dag_task_t *t, const char *tid,
                         dag_operator_t op)
{
    if (v->kind != Y_MAP || MAP_PAIRS(v) == 0) {
        ERR(c, v, "expand of task '%s' must be a mapping of argument names to lists", tid);
        return false;
    }
    warn_dups(c, v);
    cJSON *e = cJSON_CreateObject();
    if (!e) {
        c->oom = true;
        return false;
    }
    for (size_t i = 0; i < MAP_PAIRS(v); i++) {
        const ynode_t *k = MAP_KEY(v, i), *val = MAP_VAL(v, i);
        char name[DAG_ID_MAX + 1];
        cJSON *item = NULL;
        if (!is_scalar(k) || !dag_expandable_field(op, k->str)) {
            ERR(c, k, "task '%s' cannot expand over '%.100s' (%s expands over: %s)", tid,
                key_text(k), operator_class_name(op),
                operator_takes_bash(op) ? "bash_command, env" : "its templated arguments");
            cJSON_Delete(e);
            return false;
        }
        if (is_scalar(val) && !is_null(val) && xcom_ref(val->str, name, sizeof name)) {
            item = cJSON_CreateObject();
            if (item && !cJSON_AddStringToObject(item, "xcom_task", name)) {
                cJSON_Delete(item);
                item = NULL;
            }
        } else if (val->kind == Y_SEQ) {
            if (val->n > OPERATOR_MAP_LITERAL_MAX) {
                ERR(c, val, "expand of task '%s' has %zu values (at most %d)", tid, val->n,
                    OPERATOR_MAP_LITERAL_MAX);
                cJSON_Delete(e);
                return false;
            }
            if (!(item = node_to_json(c, val, 1))) {
                cJSON_Delete(e);
                return false;
            }
        } else {
            ERR(c, val, "expand '%s' of task '%s' must be a list, or an upstream task's output "
                        "('<task_id>.output', 'XcomArg(<task_id>)' or '+<task_id>')",
                key_text(k), tid);
            cJSON_Delete(e);
            return false;
        }
        if (!item || !cJSON_AddItemToObject(e, k->str, item)) {
            cJSON_Delete(item);
            cJSON_Delete(e);
            c->oom = true;
            return false;
        }
    }
    cJSON_Delete(t->expand);
    t->expand = e;
    return true;
}

/* Reads one key of a task (or of its partial) into t. */
static bool task_key(ctx_t *c, const ynode_t *k, const ynode_t *v, dag_task_t *t, const char *tid,
                     dag_operator_t op, task_src_t *src, bool in_partial, bool *has_op,
                     bool *op_ok)
{
    key_id_t id = key_lookup(task_keys, k);
    char what[300];
    if (id == K_UNKNOWN) {
        const operator_arg_t *a = is_scalar(k) ? operator_find_arg(op, k->str) : NULL;
        if (!a) {
            ERR(c, k, "unknown key '%.100s' in task '%s'%s", key_text(k), tid,
                is_scalar(k) && any_operator_arg(k->str, &(dag_operator_t){DAG_OP_BASH})
                    ? " (it is not an argument of this operator)"
                    : "");
            return false;
        }
        cJSON *val;
        snprintf(what, sizeof what, "%s of task '%s'", a->name, tid);
        return read_arg(c, a, v, what, &val) && args_set(c, &t->args, a->name, val);
    }
    if (id == K_TASK_ID)
        return true; /* checked by the caller */
    if (id == K_DEPENDENCIES && !in_partial) {
        src->deps = v;
        return true;
    }
    if (in_partial && (id == K_DEPENDENCIES || id == K_OPERATOR || id == K_DECORATOR ||
                       id == K_EXPAND || id == K_PARTIAL || id == K_TASK_GROUP_NAME)) {
        ERR(c, k, "key '%s' cannot be in partial of task '%s'", key_text(k), tid);
        return false;
    }
    if (!operator_takes_bash(op) &&
        (id == K_BASH_COMMAND || id == K_ENV || id == K_APPEND_ENV || id == K_CWD)) {
        ERR(c, k, "key '%s' is not valid for %s task '%s'", key_text(k), operator_class_name(op),
            tid);
        return false;
    }
    if (id == K_EXPAND)
        return parse_expand(c, v, t, tid, op);
    if (id == K_PARTIAL) {
        if (v->kind != Y_MAP) {
            ERR(c, v, "partial of task '%s' must be a mapping", tid);
            return false;
        }
        bool ok = true;
        for (size_t i = 0; i < MAP_PAIRS(v); i++)
            ok = task_key(c, MAP_KEY(v, i), MAP_VAL(v, i), t, tid, op, src, true, has_op, op_ok) &&
                 ok;
        return ok;
    }
    if (!task_apply_key(c, id, k, v, t, tid, false, has_op)) {
        *op_ok = *op_ok && id != K_OPERATOR && id != K_DECORATOR;
        return false;
    }
    return true;
}

/* Drops the arguments that came from default_args but that op does not take. */
static void args_keep_own(dag_task_t *t, dag_operator_t op)
{
    cJSON *it = t->args ? t->args->child : NULL;
    while (it) {
        cJSON *next = it->next;
        if (!operator_find_arg(op, it->string))
            cJSON_Delete(cJSON_DetachItemViaPointer(t->args, it));
        it = next;
    }
    if (t->args && !t->args->child) {
        cJSON_Delete(t->args);
        t->args = NULL;
    }
}

/* Parses one task mapping into t (already holding the defaults). */
static bool parse_task(ctx_t *c, const ynode_t *m, const char *tid, const ynode_t *at,
                       dag_task_t *t, task_src_t *src)
{
    bool ok = true, has_op = false, op_ok = true;

    src->at = at;
    src->deps = NULL;
    warn_dups(c, m);
    t->line = at->line;
    t->col = at->col;
    /* Bash-only keys that came from default_args do not apply to other operators. */
    const ynode_t *opnode = map_get(m, "operator");
    dag_operator_t op = DAG_OP_BASH;
    if (is_scalar(opnode) && !is_null(opnode) && strlen(opnode->str) == opnode->len &&
        operator_parse(opnode->str, &op) && !operator_takes_bash(op)) {
        free(t->bash_command);
        t->bash_command = NULL;
        free(t->cwd);
        t->cwd = NULL;
        for (size_t i = 0; i < t->n_env; i++) {
            free(t->env[i].name);
            free(t->env[i].value);
        }
        free(t->env);
        t->env = NULL;
        t->n_env = 0;
    }
    args_keep_own(t, op);
    /* A key both in partial and at the task's top level is an error (dag-factory). */
    const ynode_t *partial = map_get(m, "partial");
    for (size_t i = 0; partial && partial->kind == Y_MAP && i < MAP_PAIRS(partial); i++) {
        const ynode_t *pk = MAP_KEY(partial, i);
        if (is_scalar(pk) && map_get(m, pk->str)) {
            ERR(c, pk, "key '%.100s' of task '%s' is both in partial and in the task", pk->str,
                tid);
            ok = false;
        }
    }
    for (size_t i = 0; i < MAP_PAIRS(m); i++)
        ok = task_key(c, MAP_KEY(m, i), MAP_VAL(m, i), t, tid, op, src, false, &has_op, &op_ok) &&
             ok;
    if (!has_op && !map_get(m, "operator") && !map_get(m, "decorator")) {
        ERR(c, at, "task '%s' has no operator", tid);
        ok = false;
    }
    if (has_op && op_ok && t->op == DAG_OP_BASH && (!t->bash_command || !*t->bash_command) &&
        !(t->expand && cJSON_GetObjectItemCaseSensitive(t->expand, "bash_command"))) {
        ERR(c, at, "bash task '%s' has no bash_command", tid);
        ok = false;
    }
    if (t->wait_for_downstream)
        t->depends_on_past = true; /* as Airflow's BaseOperator */
    if (has_op && op_ok) {
        const char *key = NULL;
        char err[300];
        /* A mapped argument is given by expand: check as if it were set. */
        cJSON *check = t->args ? cJSON_Duplicate(t->args, 1) : cJSON_CreateObject();
        const cJSON *it;
        if (!check) {
            c->oom = true;
            return false;
        }
        cJSON_ArrayForEach(it, t->expand) {
            if (!cJSON_GetObjectItemCaseSensitive(check, it->string))
                cJSON_AddItemToObject(check, it->string, cJSON_CreateString("x"));
        }
        bool bash_set = (t->bash_command && *t->bash_command) ||
                        (t->expand && cJSON_GetObjectItemCaseSensitive(t->expand, "bash_command"));
        if (operator_check_args(t->op, check, bash_set, &key, err, sizeof err) != 0) {
            const ynode_t *kn = NULL;
            for (size_t i = 0; key && !kn && i < MAP_PAIRS(m); i++)
                if (key_is(MAP_KEY(m, i), key))
                    kn = MAP_VAL(m, i);
            ERR(c, kn ? kn : at, "task '%s': %s", tid, err);
            ok = false;
        }
        cJSON_Delete(check);
    }
    return ok;
}

/*
 * Makes expand's XCom references full task ids (before link_tasks
 * reorders the tasks, while tasks[i] is srcs[i]).
 */
static bool resolve_expand(ctx_t *c, dag_t *dag, const task_src_t *srcs)
{
    bool ok = true;
    for (size_t i = 0; i < dag->n_tasks; i++) {
        cJSON *it;
        cJSON_ArrayForEach(it, dag->tasks[i].expand) {
            cJSON *ref = cJSON_GetObjectItemCaseSensitive(it, "xcom_task");
            if (!cJSON_IsString(ref))
                continue;
            size_t j = 0;
            while (j < dag->n_tasks && strcmp(srcs[j].name, ref->valuestring) != 0)
                j++;
            if (j == dag->n_tasks) {
                diag_pos(c, srcs[i].at->file ? srcs[i].at->file : c->name, dag->tasks[i].line,
                         dag->tasks[i].col, "expand of task '%s' refers to unknown task '%s'",
                         srcs[i].name, ref->valuestring);
                ok = false;
                continue;
            }
            if (dag->tasks[j].expand) {
                diag_pos(c, srcs[i].at->file ? srcs[i].at->file : c->name, dag->tasks[i].line,
                         dag->tasks[i].col,
                         "expand of task '%s' uses the output of mapped task '%s' (not supported)",
                         srcs[i].name, ref->valuestring);
                ok = false;
                continue;
            }
            if (!cJSON_ReplaceItemInObjectCaseSensitive(
                    it, "xcom_task", cJSON_CreateString(dag->tasks[j].task_id))) {
                c->oom = true;
                return false;
            }
        }
    }
    return ok;
}

/* After link_tasks: a task expanding over another's output must depend on it. */
static bool check_expand_upstream(ctx_t *c, const dag_t *dag)
{
    bool ok = true;
    for (size_t i = 0; i < dag->n_tasks; i++) {
        const dag_task_t *t = &dag->tasks[i];
        const cJSON *it;
        cJSON_ArrayForEach(it, t->expand) {
            const cJSON *ref = cJSON_GetObjectItemCaseSensitive(it, "xcom_task");
            if (!cJSON_IsString(ref))
                continue;
            bool found = false;
            for (size_t u = 0; u < t->n_upstream && !found; u++)
                found = strcmp(t->upstream[u], ref->valuestring) == 0;
            if (!found) {
                diag_pos(c, dag->fileloc, t->line, t->col,
                         "task '%s' expands over the output of '%s', which must be in its "
                         "dependencies",
                         t->task_id, ref->valuestring);
                ok = false;
            }
        }
    }
    return ok;
}

/* Min-heap of task indices (Kahn's algorithm, ties in declaration order). */
static void heap_push(size_t *h, size_t *n, size_t v)
{
    size_t i = (*n)++;
    h[i] = v;
    while (i > 0 && h[(i - 1) / 2] > h[i]) {
        size_t p = (i - 1) / 2, tmp = h[p];
        h[p] = h[i];
        h[i] = tmp;
        i = p;
    }
}

static size_t heap_pop(size_t *h, size_t *n)
{
    size_t top = h[0], i = 0;
    h[0] = h[--(*n)];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < *n && h[l] < h[m])
            m = l;
        if (r < *n && h[r] < h[m])
            m = r;
        if (m == i)
            break;
        size_t tmp = h[m];
        h[m] = h[i];
        h[i] = tmp;
        i = m;
    }
    return top;
}

/* ------------------------------------------------------------------ */
/* task groups                                                         */

#define GROUPS_MAX 1000 /* task groups per DAG */

/* One task group while a DAG loads. */
typedef struct lgroup {
    const char *name;           /* as written; dependencies use it */
    const ynode_t *at;          /* its name node */
    const ynode_t *cfg;         /* its mapping */
    const ynode_t *deps;        /* dependencies node (may be NULL) */
    const ynode_t *da;          /* default_args node (may be NULL) */
    int parent;                 /* index, -1 = top level */
    int depth;                  /* 0 = top level */
    char *id;                   /* full group id */
    bool prefix;                /* prefix_group_id */
    char *tooltip;
    dag_task_t tpl;             /* defaults of its tasks */
} lgroup_t;

typedef struct groups {
    lgroup_t *g;
    size_t n;
    size_t *order;              /* pre-order: parents first, siblings as declared */
    smap_t by_name, by_id;
} groups_t;

static void groups_free(groups_t *gs)
{
    for (size_t i = 0; i < gs->n; i++) {
        free(gs->g[i].id);
        free(gs->g[i].tooltip);
        dag_task_clear(&gs->g[i].tpl);
    }
    free(gs->g);
    free(gs->order);
    smap_free(&gs->by_name);
    smap_free(&gs->by_id);
    memset(gs, 0, sizeof *gs);
}

/* Whether group inner is outer or nested in it (inner -1: never). */
static bool group_contains(const groups_t *gs, int outer, int inner)
{
    for (int x = inner; x >= 0; x = gs->g[x].parent)
        if (x == outer)
            return true;
    return false;
}

static int group_index(const groups_t *gs, const char *name)
{
    void *at = smap_get(&gs->by_name, name, strlen(name));
    return at ? (int)((uintptr_t)at - 1) : -1;
}

/* Airflow's validate_group_key: [A-Za-z0-9_-]+, at most 200 characters. */
static bool valid_group_name(const char *s, size_t len, const char **why)
{
    if (len == 0) {
        *why = "it is empty";
        return false;
    }
    if (len > 200) {
        *why = "it is longer than 200 characters";
        return false;
    }
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-') {
            *why = "only letters, digits, '_' and '-' are allowed";
            return false;
        }
    return true;
}

static void group_preorder(groups_t *gs, int parent, size_t *k)
{
    for (size_t i = 0; i < gs->n; i++)
        if (gs->g[i].parent == parent) {
            gs->order[(*k)++] = i;
            group_preorder(gs, (int)i, k);
        }
}

/* A group's default_args over its parent's (or the DAG's) task defaults. */
static bool group_defaults(ctx_t *c, lgroup_t *g, const dag_task_t *base)
{
    bool ok = true, dummy = false;
    const ynode_t *da = g->da;

    if (!task_copy(c, base, &g->tpl))
        return false;
    if (is_null(da))
        return true;
    if (da->kind != Y_MAP) {
        ERR(c, da, "default_args of task group '%s' must be a mapping, not %s", g->name,
            kind_name(da));
        return false;
    }
    warn_dups(c, da);
    c->defaults_scope = "default_args of task group";
    for (size_t i = 0; i < MAP_PAIRS(da); i++) {
        const ynode_t *k = MAP_KEY(da, i), *v = MAP_VAL(da, i);
        key_id_t id = key_lookup(task_keys, k);
        if (key_is(k, "start_date") || key_is(k, "end_date") || key_is(k, "timezone") ||
            id == K_TASK_IGNORED)
            WARN(c, k, "ignored key '%s' in default_args of task group '%s' (not supported yet)",
                 key_text(k), g->name);
        else if (id == K_TASK_ID || id == K_OPERATOR || id == K_DECORATOR || id == K_DEPENDENCIES ||
                 id == K_TASK_GROUP_NAME)
            WARN(c, k, "ignored key '%s' in default_args of task group '%s' (it only applies to a task)",
                 key_text(k), g->name);
        else if (id == K_UNKNOWN)
            ok = default_arg(c, k, v, &g->tpl, "default_args of a task group") && ok;
        else
            ok = task_apply_key(c, id, k, v, &g->tpl, g->name, true, &dummy) && ok;
    }
    c->defaults_scope = NULL;
    return ok;
}

/*
 * Reads a DAG's task_groups (dag-factory's list or mapping form) into gs:
 * names, parents (no cycles, at most DAG_GROUP_DEPTH_MAX deep), full ids
 * as Airflow builds them, and each group's task defaults (dag's
 * default_args, then each enclosing group's, innermost last). false after
 * reporting.
 */
static bool parse_groups(ctx_t *c, const ynode_t *v, const char *dag_id, const dag_task_t *dtpl,
                         groups_t *gs)
{
    static const char *const ignored[] = {"ui_color", "ui_fgcolor", "group_display_name",
                                          "add_suffix_on_collision", NULL};
    bool ok = true;
    int *state = NULL;

    if (is_null(v))
        return true;
    if (v->kind != Y_SEQ && v->kind != Y_MAP) {
        ERR(c, v, "task_groups of dag '%s' must be a list or a mapping, not %s", dag_id,
            kind_name(v));
        return false;
    }
    size_t n = v->kind == Y_SEQ ? v->n : MAP_PAIRS(v);
    if (n > GROUPS_MAX) {
        /* serializing costs groups x (tasks + groups): keep it bounded */
        ERR(c, v, "dag '%s' has more than %d task groups", dag_id, GROUPS_MAX);
        return false;
    }
    if (!spend(c, n))
        return false;
    if (!(gs->g = calloc(n ? n : 1, sizeof *gs->g)) || !(gs->order = calloc(n ? n : 1, sizeof *gs->order)) ||
        !(state = calloc(n ? n : 1, sizeof *state))) {
        c->oom = true;
        goto out;
    }
    if (v->kind == Y_MAP)
        for (size_t i = 0; i < v->n_dups; i++) {
            ERR(c, v->dups[i], "duplicate task group '%.100s' in dag '%s'", key_text(v->dups[i]), dag_id);
            ok = false;
        }
    for (size_t i = 0; i < n; i++) {
        const ynode_t *m, *namen;
        const char *why;
        if (v->kind == Y_SEQ) {
            m = v->kids[i];
            if (!m || m->kind != Y_MAP) {
                ERR(c, m, "task group in dag '%s' must be a mapping, not %s", dag_id, kind_name(m));
                ok = false;
                continue;
            }
            if (!(namen = map_get(m, "group_name"))) {
                ERR(c, m, "task group in dag '%s' has no group_name", dag_id);
                ok = false;
                continue;
            }
        } else {
            namen = MAP_KEY(v, i);
            m = MAP_VAL(v, i);
            if (!m || m->kind != Y_MAP) {
                ERR(c, m, "task group '%.100s' must be a mapping, not %s", key_text(namen), kind_name(m));
                ok = false;
                continue;
            }
            const ynode_t *own = map_get(m, "group_name");
            if (own && is_scalar(namen) && !(is_scalar(own) && strcmp(own->str, namen->str) == 0))
                WARN(c, own, "group_name '%.100s' differs from its key '%.100s', the key is used",
                     is_scalar(own) ? own->str : "?", key_text(namen));
        }
        if (!is_scalar(namen) || is_null(namen)) {
            ERR(c, namen, "group_name must be a string, not %s", kind_name(namen));
            ok = false;
            continue;
        }
        if (!valid_group_name(namen->str, namen->len, &why)) {
            ERR(c, namen, "invalid task group name '%.80s': %s", namen->str, why);
            ok = false;
            continue;
        }
        if (group_index(gs, namen->str) >= 0) {
            if (v->kind == Y_SEQ)
                ERR(c, namen, "duplicate task group '%s' in dag '%s'", namen->str, dag_id);
            ok = false;
            continue;
        }
        lgroup_t *g = &gs->g[gs->n];
        *g = (lgroup_t){.name = namen->str, .at = namen, .cfg = m, .parent = -1, .prefix = true};
        if (smap_put(&gs->by_name, g->name, namen->len, (void *)(uintptr_t)(gs->n + 1)) != 0) {
            c->oom = true;
            goto out;
        }
        gs->n++;
    }

    /* keys */
    for (size_t i = 0; i < gs->n; i++) {
        lgroup_t *g = &gs->g[i];
        const char *s;
        bool b;
        warn_dups(c, g->cfg);
        for (size_t j = 0; j < MAP_PAIRS(g->cfg); j++) {
            const ynode_t *k = MAP_KEY(g->cfg, j), *val = MAP_VAL(g->cfg, j);
            bool ign = false;
            for (size_t x = 0; ignored[x]; x++)
                ign = ign || key_is(k, ignored[x]);
            if (key_is(k, "group_name")) {
                continue;
            } else if (key_is(k, "parent_group_name")) {
                if (is_null(val))
                    continue;
                if (!get_str(c, val, "parent_group_name", &s)) {
                    ok = false;
                } else if ((g->parent = group_index(gs, s)) < 0) {
                    ERR(c, val, "task group '%s' has unknown parent group '%.100s'", g->name, s);
                    ok = false;
                }
            } else if (key_is(k, "dependencies")) {
                g->deps = val;
            } else if (key_is(k, "default_args")) {
                g->da = val;
            } else if (key_is(k, "tooltip")) {
                if (is_null(val))
                    s = "";
                else if (!get_str(c, val, "tooltip", &s)) {
                    ok = false;
                    continue;
                }
                if (!set_str(c, &g->tooltip, s))
                    goto out;
            } else if (key_is(k, "prefix_group_id")) {
                if (get_bool(c, val, "prefix_group_id", &b))
                    g->prefix = b;
                else
                    ok = false;
            } else if (ign) {
                WARN(c, k, "ignored key '%s' in task group '%s' (not supported yet)", key_text(k), g->name);
            } else {
                ERR(c, k, "unknown key '%.100s' in task group '%s'", key_text(k), g->name);
                ok = false;
            }
        }
    }
    if (!ok)
        goto out;

    /* parent cycles (dag-factory: "Circular dependency detected"), then depths */
    for (size_t i = 0; i < gs->n; i++) {
        int x = (int)i, stamp = (int)i + 1;
        while (x >= 0 && state[x] == 0) {
            state[x] = stamp;
            x = gs->g[x].parent;
        }
        if (x < 0 || state[x] != stamp)
            continue;
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        if (!f) {
            c->oom = true;
            goto out;
        }
        int y = x;
        do {
            fprintf(f, "%s -> ", gs->g[y].name);
            y = gs->g[y].parent;
        } while (y != x);
        fprintf(f, "%s", gs->g[x].name);
        if (fclose(f) != 0) {
            free(buf);
            c->oom = true;
            goto out;
        }
        ERR(c, gs->g[x].at, "task group parent cycle in dag '%s': %s", dag_id, buf);
        free(buf);
        ok = false;
        goto out;
    }
    for (size_t i = 0; i < gs->n; i++) {
        for (int x = gs->g[i].parent; x >= 0 && gs->g[i].depth < DAG_GROUP_DEPTH_MAX;
             x = gs->g[x].parent)
            gs->g[i].depth++;
        if (gs->g[i].depth >= DAG_GROUP_DEPTH_MAX) {
            ERR(c, gs->g[i].at, "task group '%s' is nested deeper than %d levels", gs->g[i].name,
                DAG_GROUP_DEPTH_MAX);
            ok = false;
            goto out;
        }
    }

    /* ids and defaults, parents first */
    size_t k = 0;
    group_preorder(gs, -1, &k);
    for (size_t i = 0; i < gs->n; i++) {
        lgroup_t *g = &gs->g[gs->order[i]];
        const lgroup_t *p = g->parent >= 0 ? &gs->g[g->parent] : NULL;
        int r = p && p->prefix ? asprintf(&g->id, "%s.%s", p->id, g->name)
                               : ((g->id = strdup(g->name)) ? 0 : -1);
        if (r < 0) {
            g->id = NULL;
            c->oom = true;
            goto out;
        }
        if (smap_put(&gs->by_id, g->id, strlen(g->id), g) != 0) {
            c->oom = true;
            goto out;
        }
        if (!g->tooltip && !set_str(c, &g->tooltip, ""))
            goto out;
        ok = group_defaults(c, g, p ? &p->tpl : dtpl) && ok;
    }
out:
    free(state);
    return ok && !c->oom;
}

/*
 * The group a task mapping names with task_group_name: its index, -1 for
 * none, -2 after reporting a problem.
 */
static int task_group_of(ctx_t *c, const ynode_t *m, const char *tid, const groups_t *gs)
{
    const ynode_t *v = map_get(m, "task_group_name");
    const char *s;
    int gi;

    for (size_t i = 0; i < m->n_dups; i++)
        if (key_is(m->dups[i], "task_group_name")) {
            ERR(c, m->dups[i], "task '%s' names task_group_name twice (a task is in one task group)", tid);
            return -2;
        }
    if (is_null(v))
        return -1;
    if (v->kind == Y_SEQ) {
        ERR(c, v, "task '%s' is put in several task groups (a task is in one task group)", tid);
        return -2;
    }
    if (!get_str(c, v, "task_group_name", &s))
        return -2;
    if ((gi = group_index(gs, s)) < 0) {
        ERR(c, v, "task '%s' is in unknown task group '%.100s'", tid, s);
        return -2;
    }
    return gi;
}

/* Copies the loader's groups into the DAG, in pre-order. */
static bool groups_to_dag(ctx_t *c, const groups_t *gs, dag_t *dag)
{
    if (!gs->n)
        return true;
    if (!(dag->groups = calloc(gs->n, sizeof *dag->groups))) {
        c->oom = true;
        return false;
    }
    for (size_t i = 0; i < gs->n; i++) {
        const lgroup_t *g = &gs->g[gs->order[i]];
        dag_group_t *d = &dag->groups[dag->n_groups++];
        d->prefix_group_id = g->prefix;
        if (!set_str(c, &d->group_id, g->id) || !set_str(c, &d->label, g->name) ||
            !set_str(c, &d->tooltip, g->tooltip) ||
            !set_str(c, &d->parent_id, g->parent >= 0 ? gs->g[g->parent].id : NULL))
            return false;
    }
    return true;
}

/*
 * Sets a task's id: its name, prefixed with its group's id when the group
 * prefixes its children (Airflow's TaskGroup.child_id). Returns 0, 1 after
 * reporting a clash (the id is set all the same), or -1 on OOM.
 */
static int set_task_id(ctx_t *c, dag_task_t *t, const char *tid, const ynode_t *idn,
                       const lgroup_t *g, const groups_t *gs, smap_t *fids, const char *dag_id)
{
    if (g && g->prefix) {
        if (asprintf(&t->task_id, "%s.%s", g->id, tid) < 0) {
            t->task_id = NULL;
            c->oom = true;
            return -1;
        }
    } else if (!set_str(c, &t->task_id, tid)) {
        return -1;
    }
    if (g && !set_str(c, &t->task_group, g->id))
        return -1;
    size_t len = strlen(t->task_id);
    if (len > DAG_ID_MAX) {
        ERR(c, idn, "task id '%.80s...' is longer than %d characters with its task group prefix",
            t->task_id, DAG_ID_MAX);
        return 1;
    }
    if (group_index(gs, tid) < 0 && smap_get(&gs->by_id, t->task_id, len)) {
        ERR(c, idn, "task id '%s' is also the id of a task group in dag '%s'", t->task_id, dag_id);
        return 1;
    }
    if (smap_get(fids, t->task_id, len)) {
        ERR(c, idn, "duplicate task id '%s' in dag '%s' (with its task group prefix)", t->task_id,
            dag_id);
        return 1;
    }
    if (smap_put(fids, t->task_id, len, t) != 0) {
        c->oom = true;
        return -1;
    }
    return 0;
}

/* Upstream lists, growable, deduplicated, in the order edges are added. */
typedef struct adj {
    size_t **up, *n_up, *cap_up;
} adj_t;

static bool adj_add(ctx_t *c, adj_t *a, size_t down, size_t up)
{
    for (size_t x = 0; x < a->n_up[down]; x++)
        if (a->up[down][x] == up)
            return true;
    if (a->n_up[down] == a->cap_up[down]) {
        size_t cap = a->cap_up[down] ? a->cap_up[down] * 2 : 4;
        size_t *p = realloc(a->up[down], cap * sizeof *p);
        if (!p) {
            c->oom = true;
            return false;
        }
        a->up[down] = p;
        a->cap_up[down] = cap;
    }
    a->up[down][a->n_up[down]++] = up;
    return true;
}

/* A dependency onto or from a task group, expanded once all tasks are linked. */
typedef struct gdep {
    bool down_group, up_group;  /* whether each end is a group */
    size_t down, up;            /* task or group index */
    const ynode_t *at;          /* the dependency as written */
    int depth;                  /* innermost group holding both ends, -1 = none */
    size_t seq;                 /* declaration order, for a stable sort */
} gdep_t;

static int gdep_cmp(const void *a, const void *b)
{
    const gdep_t *x = a, *y = b;
    if (x->depth != y->depth)
        return x->depth > y->depth ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Roots (which 0) and leaves (1) of each group, computed when first needed. */
typedef struct gends {
    size_t **members, *n_members;
    size_t **ends[2], *n_ends[2];
    bool *known[2];
    unsigned *mark, *dmark, cur;
} gends_t;

/*
 * Airflow's TaskGroup.get_roots / get_leaves: the group's tasks (nested
 * groups included) with no upstream / downstream among them. Dependencies
 * are expanded innermost first, so a group's own edges are all in place
 * when its ends are first asked for, and they do not change afterwards.
 */
static bool group_ends(ctx_t *c, gends_t *e, const adj_t *a, size_t g, int which)
{
    size_t nm = e->n_members[g];
    const size_t *mem = e->members[g];

    if (e->known[which][g])
        return true;
    if (!(e->ends[which][g] = calloc(nm ? nm : 1, sizeof **e->ends))) {
        c->oom = true;
        return false;
    }
    e->cur++;
    for (size_t i = 0; i < nm; i++)
        e->mark[mem[i]] = e->cur;
    for (size_t i = 0; i < nm; i++)
        for (size_t j = 0; j < a->n_up[mem[i]]; j++)
            if (e->mark[a->up[mem[i]][j]] == e->cur)
                e->dmark[a->up[mem[i]][j]] = e->cur;
    for (size_t i = 0; i < nm; i++) {
        bool end;
        if (which == 0) {
            end = true;
            for (size_t j = 0; j < a->n_up[mem[i]] && end; j++)
                end = e->mark[a->up[mem[i]][j]] != e->cur;
        } else {
            end = e->dmark[mem[i]] != e->cur;
        }
        if (end)
            e->ends[which][g][e->n_ends[which][g]++] = mem[i];
    }
    e->known[which][g] = true;
    return spend(c, nm);
}

/*
 * Resolves one dependency name of a task (down_group false) or of a group:
 * a task edge goes into a, a group edge into gd. false after reporting.
 */
static bool link_dep(ctx_t *c, const ynode_t *d, const smap_t *names, const groups_t *gs,
                     const task_src_t *srcs, bool down_group, size_t down, const char *down_name,
                     adj_t *a, gdep_t **gd, size_t *n_gd, size_t *cap_gd)
{
    const char *name;
    void *at;
    int gi;

    if (!get_str(c, d, "dependency", &name))
        return false;
    at = smap_get(names, name, strlen(name));
    gi = group_index(gs, name);
    if (!at && gi < 0) {
        if (down_group)
            ERR(c, d, "task group '%s' depends on unknown task or task group '%.100s'", down_name, name);
        else if (gs->n)
            ERR(c, d, "task '%s' depends on unknown task or task group '%.100s'", down_name, name);
        else
            ERR(c, d, "task '%s' depends on unknown task '%.100s'", down_name, name);
        return false;
    }
    if (at && !down_group)
        return adj_add(c, a, down, (uintptr_t)at - 1);

    gdep_t g = {.down_group = down_group, .down = down, .up_group = !at,
                .up = at ? (uintptr_t)at - 1 : (size_t)gi, .at = d, .seq = *n_gd};
    int dstart = down_group ? (int)down : srcs[down].group;
    int ustart = g.up_group ? (int)g.up : srcs[g.up].group;
    /* a group around both ends would make the edge a cycle */
    if (down_group && g.up_group && down == g.up) {
        ERR(c, d, "task group '%s' cannot depend on itself", down_name);
        return false;
    }
    if (down_group && group_contains(gs, (int)down, ustart)) {
        ERR(c, d, "task group '%s' cannot depend on '%s' inside it", down_name, name);
        return false;
    }
    if (g.up_group && group_contains(gs, gi, dstart)) {
        ERR(c, d, "%s '%s' cannot depend on task group '%s' around it",
            down_group ? "task group" : "task", down_name, name);
        return false;
    }
    g.depth = -1;
    for (int x = dstart; x >= 0; x = gs->g[x].parent)
        if (group_contains(gs, x, ustart)) {
            g.depth = gs->g[x].depth;
            break;
        }
    if (*n_gd == *cap_gd) {
        size_t cap = *cap_gd ? *cap_gd * 2 : 8;
        gdep_t *p = realloc(*gd, cap * sizeof *p);
        if (!p) {
            c->oom = true;
            return false;
        }
        *gd = p;
        *cap_gd = cap;
    }
    (*gd)[(*n_gd)++] = g;
    return true;
}

/*
 * Resolves dependencies (task names as written and task group names) into
 * edges between tasks, sorts the tasks and fills upstream and downstream.
 * tasks[] is reordered in place. false after reporting.
 */
static bool link_tasks(ctx_t *c, dag_t *dag, task_src_t *srcs, const groups_t *gs)
{
    size_t n = dag->n_tasks, ng = gs->n;
    smap_t ids = {0};
    adj_t adj = {0};
    gends_t e = {0};
    gdep_t *gd = NULL;
    size_t n_gd = 0, cap_gd = 0;
    size_t *indeg = NULL, *heap = NULL, *order = NULL, *pos = NULL;
    size_t **down = NULL, *n_down = NULL;
    bool ok = false, deps_ok = true;
    size_t nh = 0, no = 0;

    adj.up = calloc(n + 1, sizeof *adj.up);
    adj.n_up = calloc(n + 1, sizeof *adj.n_up);
    adj.cap_up = calloc(n + 1, sizeof *adj.cap_up);
    down = calloc(n + 1, sizeof *down);
    n_down = calloc(n + 1, sizeof *n_down);
    indeg = calloc(n + 1, sizeof *indeg);
    heap = calloc(n + 1, sizeof *heap);
    order = calloc(n + 1, sizeof *order);
    pos = calloc(n + 1, sizeof *pos);
    if (!adj.up || !adj.n_up || !adj.cap_up || !down || !n_down || !indeg || !heap || !order || !pos)
        goto oom;
    for (size_t i = 0; i < n; i++)
        if (smap_put(&ids, srcs[i].name, strlen(srcs[i].name), (void *)(uintptr_t)(i + 1)))
            goto oom;

    /* dependencies as written: task edges now, group edges below */
    for (size_t i = 0; i < n; i++) {
        const ynode_t *deps = srcs[i].deps;
        if (is_null(deps))
            continue;
        if (deps->kind != Y_SEQ) {
            ERR(c, deps, "dependencies of task '%s' must be a list of task ids", srcs[i].name);
            deps_ok = false;
            continue;
        }
        if (!spend(c, deps->n))
            goto oom;
        for (size_t j = 0; j < deps->n; j++)
            if (!link_dep(c, deps->kids[j], &ids, gs, srcs, false, i, srcs[i].name, &adj, &gd, &n_gd,
                          &cap_gd))
                deps_ok = false;
        if (c->oom)
            goto oom;
    }
    for (size_t g = 0; g < ng; g++) {
        const ynode_t *deps = gs->g[g].deps;
        if (is_null(deps))
            continue;
        if (deps->kind != Y_SEQ) {
            ERR(c, deps, "dependencies of task group '%s' must be a list of names", gs->g[g].name);
            deps_ok = false;
            continue;
        }
        if (!spend(c, deps->n))
            goto oom;
        for (size_t j = 0; j < deps->n; j++)
            if (!link_dep(c, deps->kids[j], &ids, gs, srcs, true, g, gs->g[g].name, &adj, &gd, &n_gd,
                          &cap_gd))
                deps_ok = false;
        if (c->oom)
            goto oom;
    }
    if (!deps_ok)
        goto out;

    /* group edges: every leaf of an upstream group, every root of a downstream one */
    if (n_gd) {
        e.members = calloc(ng, sizeof *e.members);
        e.n_members = calloc(ng, sizeof *e.n_members);
        for (int w = 0; w < 2; w++) {
            e.ends[w] = calloc(ng, sizeof *e.ends[w]);
            e.n_ends[w] = calloc(ng, sizeof *e.n_ends[w]);
            e.known[w] = calloc(ng, sizeof *e.known[w]);
            if (!e.ends[w] || !e.n_ends[w] || !e.known[w])
                goto oom;
        }
        e.mark = calloc(n + 1, sizeof *e.mark);
        e.dmark = calloc(n + 1, sizeof *e.dmark);
        if (!e.members || !e.n_members || !e.mark || !e.dmark)
            goto oom;
        for (int pass = 0; pass < 2; pass++) {
            for (size_t i = 0; i < n; i++)
                for (int x = srcs[i].group; x >= 0; x = gs->g[x].parent) {
                    if (pass)
                        e.members[x][e.n_members[x]++] = i;
                    else
                        e.n_members[x]++;
                }
            for (size_t g = 0; !pass && g < ng; g++) {
                if (!spend(c, e.n_members[g]))
                    goto out;
                if (!(e.members[g] = calloc(e.n_members[g] ? e.n_members[g] : 1, sizeof **e.members)))
                    goto oom;
                e.n_members[g] = 0;
            }
        }
        qsort(gd, n_gd, sizeof *gd, gdep_cmp);
        for (size_t k = 0; k < n_gd; k++) {
            const gdep_t *g = &gd[k];
            const size_t *ups = &g->up, *downs = &g->down;
            size_t nu = 1, nd = 1;
            if (g->up_group) {
                if (!group_ends(c, &e, &adj, g->up, 1))
                    goto out;
                ups = e.ends[1][g->up];
                nu = e.n_ends[1][g->up];
            }
            if (g->down_group) {
                if (!group_ends(c, &e, &adj, g->down, 0))
                    goto out;
                downs = e.ends[0][g->down];
                nd = e.n_ends[0][g->down];
            }
            if (!nu || !nd)
                WARN(c, g->at, "task group '%s' has no tasks, this dependency does nothing",
                     gs->g[nu ? g->down : g->up].name);
            if (!spend(c, nu * nd))
                goto out;
            for (size_t x = 0; x < nd; x++)
                for (size_t y = 0; y < nu; y++)
                    if (!adj_add(c, &adj, downs[x], ups[y]))
                        goto oom;
        }
    }

    /* upstream ids, as written then as expanded */
    for (size_t i = 0; i < n; i++) {
        dag_task_t *t = &dag->tasks[i];
        if (!adj.n_up[i])
            continue;
        if (!(t->upstream = calloc(adj.n_up[i], sizeof *t->upstream)))
            goto oom;
        for (size_t j = 0; j < adj.n_up[i]; j++) {
            if (!(t->upstream[j] = strdup(dag->tasks[adj.up[i][j]].task_id)))
                goto oom;
            t->n_upstream++;
        }
    }
    size_t **up = adj.up, *n_up = adj.n_up;

    /* downstream adjacency */
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n_up[i]; j++)
            n_down[up[i][j]]++;
    for (size_t i = 0; i < n; i++) {
        if (!(down[i] = calloc(n_down[i] ? n_down[i] : 1, sizeof *down[i])))
            goto oom;
        n_down[i] = 0;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n_up[i]; j++)
            down[up[i][j]][n_down[up[i][j]]++] = i;

    for (size_t i = 0; i < n; i++) {
        indeg[i] = n_up[i];
        if (!indeg[i])
            heap_push(heap, &nh, i);
    }
    while (nh) {
        size_t i = heap_pop(heap, &nh);
        order[no++] = i;
        for (size_t j = 0; j < n_down[i]; j++)
            if (--indeg[down[i][j]] == 0)
                heap_push(heap, &nh, down[i][j]);
    }
    if (no < n) {
        /* Walk upstream from the first task left until a task repeats. */
        size_t start = 0, cur, steps = 0;
        while (indeg[start] == 0)
            start++;
        for (size_t i = 0; i < n; i++)
            pos[i] = SIZE_MAX;
        cur = start;
        while (pos[cur] == SIZE_MAX) {
            pos[cur] = steps;
            order[steps++] = cur;
            for (size_t j = 0; j < n_up[cur]; j++)
                if (indeg[up[cur][j]] > 0) {
                    cur = up[cur][j];
                    break;
                }
        }
        /* order[pos[cur]..steps) is the cycle, walked upstream. */
        size_t first = pos[cur], len = steps - first, best = first;
        for (size_t i = first; i < steps; i++)
            if (order[i] < order[best])
                best = i;
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        if (!f)
            goto oom;
        /* Print downstream direction (a -> b: b depends on a), starting at best. */
        for (size_t k = 0; k <= len; k++) {
            size_t idx = first + (best - first + len - (k % len)) % len;
            fprintf(f, "%s%s", k ? " -> " : "", dag->tasks[order[idx]].task_id);
        }
        if (fclose(f) != 0) {
            free(buf);
            goto oom;
        }
        const dag_task_t *bt = &dag->tasks[order[best]];
        diag_pos(c, srcs[order[best]].at->file ? srcs[order[best]].at->file : c->name, bt->line,
                 bt->col, "dependency cycle: %s", buf);
        free(buf);
        goto out;
    }

    /* Downstream names in topological order, then reorder tasks. */
    for (size_t i = 0; i < n; i++)
        pos[order[i]] = i;
    for (size_t i = 0; i < n; i++) {
        dag_task_t *t = &dag->tasks[i];
        if (!n_down[i])
            continue;
        /* insertion sort by topological position: lists are short */
        for (size_t a = 1; a < n_down[i]; a++)
            for (size_t b = a; b > 0 && pos[down[i][b - 1]] > pos[down[i][b]]; b--) {
                size_t tmp = down[i][b];
                down[i][b] = down[i][b - 1];
                down[i][b - 1] = tmp;
            }
        if (!(t->downstream = calloc(n_down[i], sizeof *t->downstream)))
            goto oom;
        for (size_t j = 0; j < n_down[i]; j++) {
            if (!(t->downstream[j] = strdup(dag->tasks[down[i][j]].task_id)))
                goto oom;
            t->n_downstream++;
        }
    }
    dag_task_t *sorted = malloc((n ? n : 1) * sizeof *sorted);
    if (!sorted)
        goto oom;
    for (size_t i = 0; i < n; i++)
        sorted[i] = dag->tasks[order[i]];
    free(dag->tasks);
    dag->tasks = sorted;
    if (dag_compute_priorities(dag) != 0)
        goto oom;
    ok = true;
    goto out;
oom:
    c->oom = true;
out:
    for (size_t i = 0; i < n; i++) {
        if (adj.up)
            free(adj.up[i]);
        if (down)
            free(down[i]);
    }
    free(adj.up);
    free(adj.n_up);
    free(adj.cap_up);
    for (size_t g = 0; g < gs->n; g++) {
        if (e.members)
            free(e.members[g]);
        for (int w = 0; w < 2; w++)
            if (e.ends[w])
                free(e.ends[w][g]);
    }
    free(e.members);
    free(e.n_members);
    for (int w = 0; w < 2; w++) {
        free(e.ends[w]);
        free(e.n_ends[w]);
        free(e.known[w]);
    }
    free(e.mark);
    free(e.dmark);
    free(gd);
    free(down);
    free(n_down);
    free(indeg);
    free(heap);
    free(order);
    free(pos);
    smap_free(&ids);
    return ok;
}

static bool parse_tags(ctx_t *c, const ynode_t *v, dag_t *dag)
{
    if (is_null(v))
        return true;
    if (v->kind != Y_SEQ) {
        ERR(c, v, "tags of dag '%s' must be a list of strings", dag->dag_id);
        return false;
    }
    if (!(dag->tags = calloc(v->n ? v->n : 1, sizeof *dag->tags))) {
        c->oom = true;
        return false;
    }
    for (size_t i = 0; i < v->n; i++) {
        const char *s;
        bool seen = false;
        if (!get_str(c, v->kids[i], "tag", &s))
            return false;
        if (strlen(s) > 100) {
            ERR(c, v->kids[i], "tag '%.40s...' is longer than 100 characters", s);
            return false;
        }
        for (size_t j = 0; j < dag->n_tags && !seen; j++)
            seen = strcmp(dag->tags[j], s) == 0;
        if (seen)
            continue;
        if (!(dag->tags[dag->n_tags] = strdup(s))) {
            c->oom = true;
            return false;
        }
        dag->n_tags++;
    }
    return true;
}

static bool parse_schedule(ctx_t *c, const ynode_t *v, dag_t *dag)
{
    schedule_t sched;
    char err[256];
    const char *s;

    free(dag->schedule);
    dag->schedule = NULL;
    if (is_null(v))
        return true;
    if (v->kind == Y_MAP && key_is(map_get(v, "__type__"), "datetime.timedelta")) {
        /* DeltaDataIntervalTimetable; kept as its canonical text, "1h30m" */
        char text[32];
        int secs;
        if (!get_seconds(c, v, "schedule", &secs))
            return false;
        if (secs <= 0 || !schedule_format_delta(secs, text, sizeof text)) {
            ERR(c, v, "schedule interval of dag '%s' must be positive", dag->dag_id);
            return false;
        }
        return set_str(c, &dag->schedule, text);
    }
    if (v->kind != Y_SCALAR) {
        ERR(c, v, "schedule of dag '%s' must be a cron expression, a preset, an interval "
                  "(datetime.timedelta) or null (dataset and timetable schedules are not "
                  "supported yet)", dag->dag_id);
        return false;
    }
    if (!get_str(c, v, "schedule", &s))
        return false;
    size_t b = strspn(s, " \t"), e = strlen(s);
    while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t'))
        e--;
    if (e - b == 4 && strncasecmp(s + b, "none", 4) == 0)
        return true;
    if (schedule_parse(s, &sched, err, sizeof err) != 0) {
        ERR(c, v, "%s", err);
        return false;
    }
    if (sched.kind == SCHEDULE_NONE)
        return true;
    return set_str(c, &dag->schedule, s);
}

/*
 * Explicit UTC offset written in a date ("...T10:00:00+02:00", "...Z"):
 * returns true and sets *off (seconds east); false for a naive value.
 */
static bool date_offset(const ynode_t *n, int32_t *off)
{
    char naive[64];
    ts_us_t with, without;
    if (!is_scalar(n) || n->len <= 10 || n->len >= sizeof naive)
        return false;
    size_t cut = strcspn(n->str + 10, "Zz+-") + 10;
    if (cut >= n->len)
        return false;
    memcpy(naive, n->str, cut);
    naive[cut] = '\0';
    if (ts_parse(n->str, &with) != 0 || ts_parse(naive, &without) != 0)
        return false;
    *off = (int32_t)((without - with) / TS_US_PER_SEC);
    return true;
}

/*
 * Reads the naive dates of one level in its zone, as dag-factory does
 * (the wall-clock value is given the zone), and names the zone of its
 * start_date in zone_out (IANA name, "+02:00", or "" for UTC). A date with
 * an explicit offset keeps it. Returns false after reporting an unknown
 * zone.
 */
static bool localize_dates(ctx_t *c, const date_zone_t *dz, ts_us_t *start, ts_us_t *end,
                           char *zone_out, size_t zone_len)
{
    schedule_tz_t *tz = NULL;
    char err[200];
    int32_t off;

    zone_out[0] = '\0';
    if (dz->tz_name && schedule_tz_load(dz->tz_name, &tz, err, sizeof err) != 0) {
        ERR(c, dz->tz_node, "%s", err);
        return false;
    }
    if (tz)
        snprintf(zone_out, zone_len, "%s", dz->tz_name);
    if (dz->start && *start != TS_NONE) {
        if (date_offset(dz->start, &off)) {
            if (off == 0)
                zone_out[0] = '\0';
            else
                snprintf(zone_out, zone_len, "%c%02d:%02d", off < 0 ? '-' : '+',
                         abs(off) / 3600, abs(off) / 60 % 60);
        } else {
            *start = schedule_tz_from_local(tz, *start);
        }
    }
    if (dz->end && *end != TS_NONE && !date_offset(dz->end, &off))
        *end = schedule_tz_from_local(tz, *end);
    schedule_tz_free(tz);
    return true;
}

/* ------------------------------------------------------------------ */
/* params                                                              */

#define PARAMS_MAX_DEPTH 32

/*
 * A YAML node as JSON with YAML 1.1's implicit scalar types, as PyYAML
 * gives them to Airflow: null, booleans, integers, floats (a '.' is
 * needed, and a signed exponent), everything else a string. NULL with an
 * error reported.
 */
static cJSON *node_to_json(ctx_t *c, const ynode_t *n, int depth)
{
    cJSON *j = NULL;

    if (!spend(c, 1))
        return NULL;
    if (depth > PARAMS_MAX_DEPTH) {
        ERR(c, n, "params nest deeper than %d levels", PARAMS_MAX_DEPTH);
        return NULL;
    }
    if (!n || is_null(n))
        j = cJSON_CreateNull();
    else if (n->kind == Y_SEQ) {
        j = cJSON_CreateArray();
        for (size_t i = 0; j && i < n->n; i++) {
            cJSON *kid = node_to_json(c, n->kids[i], depth + 1);
            if (!kid || !cJSON_AddItemToArray(j, kid)) {
                cJSON_Delete(kid);
                cJSON_Delete(j);
                return NULL;
            }
        }
    } else if (n->kind == Y_MAP) {
        j = cJSON_CreateObject();
        for (size_t i = 0; j && i < MAP_PAIRS(n); i++) {
            const ynode_t *k = MAP_KEY(n, i);
            if (!is_scalar(k) || strlen(k->str) != k->len) {
                ERR(c, k, "params keys must be strings");
                cJSON_Delete(j);
                return NULL;
            }
            cJSON *kid = node_to_json(c, MAP_VAL(n, i), depth + 1);
            if (!kid || !cJSON_AddItemToObject(j, k->str, kid)) {
                cJSON_Delete(kid);
                cJSON_Delete(j);
                return NULL;
            }
        }
    } else {
        bool b;
        long long iv;
        if (strlen(n->str) != n->len) {
            ERR(c, n, "params value contains a nul character");
            return NULL;
        }
        if (n->plain && parse_bool(n, &b)) {
            j = cJSON_CreateBool(b);
        } else if (n->plain && parse_int(n, &iv)) {
            j = cJSON_CreateNumber((double)iv);
        } else if (n->plain && strchr(n->str, '.') && n->len < 64) {
            char num[64], *end;
            size_t k = 0;
            const char *e = strpbrk(n->str, "eE");
            for (const char *p = n->str; *p; p++)
                if (*p != '_')
                    num[k++] = *p;
            num[k] = '\0';
            double d = strtod(num, &end);
            bool digit = strpbrk(num, "0123456789") != NULL;
            if (*end == '\0' && digit && isdigit((unsigned char)num[k - 1]) &&
                (!e || e[1] == '+' || e[1] == '-') && !strpbrk(num, "xXnNiI")) {
                if (!isfinite(d)) {
                    ERR(c, n, "params value '%s' cannot be written as JSON", n->str);
                    return NULL;
                }
                j = cJSON_CreateNumber(d);
            } else {
                j = cJSON_CreateString(n->str);
            }
        } else if (n->plain && (!strcmp(n->str, ".inf") || !strcmp(n->str, "-.inf") ||
                                !strcmp(n->str, ".nan") || !strcmp(n->str, ".NaN"))) {
            ERR(c, n, "params value '%s' cannot be written as JSON", n->str);
            return NULL;
        } else {
            j = cJSON_CreateString(n->str);
        }
    }
    if (!j)
        c->oom = true;
    return j;
}

/* True for {__type__: ...Param} (airflow.models.param.Param, airflow.sdk.Param). */
static bool is_param_object(const ynode_t *v)
{
    const ynode_t *t = v && v->kind == Y_MAP ? map_get(v, "__type__") : NULL;
    if (!is_scalar(t))
        return false;
    const char *dot = strrchr(t->str, '.');
    return strcmp(dot ? dot + 1 : t->str, "Param") == 0;
}

/*
 * One param as {"default"?: v, "description": s|null, "schema": {...}}:
 * a plain value is its default; Airflow's Param(default, description,
 * **schema) is written {__type__: airflow.models.param.Param, default: ..,
 * description: .., type: .., ...} or with __args__: [default, description].
 */
static cJSON *param_to_json(ctx_t *c, const ynode_t *v)
{
    cJSON *p = cJSON_CreateObject(), *schema = NULL, *dflt = NULL, *desc = NULL;

    if (!p)
        goto oom;
    if (!is_param_object(v)) {
        if (!(dflt = node_to_json(c, v, 1)))
            goto fail;
        if (!(schema = cJSON_CreateObject()))
            goto oom;
    } else {
        const ynode_t *args = map_get(v, "__args__");
        if (args && args->kind != Y_SEQ && !is_null(args)) {
            ERR(c, args, "__args__ of a Param must be a list");
            goto fail;
        }
        if (args && args->kind == Y_SEQ && args->n > 2) {
            ERR(c, args, "a Param takes at most 2 positional arguments (default, description)");
            goto fail;
        }
        if (!(schema = cJSON_CreateObject()))
            goto oom;
        for (size_t i = 0; i < MAP_PAIRS(v); i++) {
            const ynode_t *k = MAP_KEY(v, i), *val = MAP_VAL(v, i);
            cJSON *jv;
            if (key_is(k, "__type__") || key_is(k, "__args__"))
                continue;
            if (!is_scalar(k) || strlen(k->str) != k->len) {
                ERR(c, k, "Param keys must be strings");
                goto fail;
            }
            if (!(jv = node_to_json(c, val, 2)))
                goto fail;
            if (key_is(k, "default")) {
                cJSON_Delete(dflt);
                dflt = jv;
            } else if (key_is(k, "description")) {
                cJSON_Delete(desc);
                desc = jv;
            } else if (!cJSON_AddItemToObject(schema, k->str, jv)) {
                cJSON_Delete(jv);
                goto oom;
            }
        }
        if (args && args->kind == Y_SEQ && args->n >= 1 && !dflt &&
            !(dflt = node_to_json(c, args->kids[0], 2)))
            goto fail;
        if (args && args->kind == Y_SEQ && args->n >= 2 && !desc &&
            !(desc = node_to_json(c, args->kids[1], 2)))
            goto fail;
        if (desc && !cJSON_IsString(desc) && !cJSON_IsNull(desc)) {
            ERR(c, v, "the description of a Param must be a string");
            goto fail;
        }
    }
    if (dflt && !cJSON_AddItemToObject(p, "default", dflt)) {
        cJSON_Delete(dflt);
        dflt = NULL;
        goto oom;
    }
    dflt = NULL;
    if (!desc && !(desc = cJSON_CreateNull()))
        goto oom;
    if (!cJSON_AddItemToObject(p, "description", desc)) {
        cJSON_Delete(desc);
        desc = NULL;
        goto oom;
    }
    desc = NULL;
    if (!cJSON_AddItemToObject(p, "schema", schema)) {
        cJSON_Delete(schema);
        schema = NULL;
        goto oom;
    }
    return p;
oom:
    c->oom = true;
fail:
    cJSON_Delete(dflt);
    cJSON_Delete(desc);
    cJSON_Delete(schema);
    cJSON_Delete(p);
    return NULL;
}

/* DAG-level params: a mapping of name to value or Param. */
static bool parse_params(ctx_t *c, const ynode_t *v, dag_t *dag)
{
    cJSON *params;
    char *text;
    bool ok = true;

    if (is_null(v))
        return true;
    if (v->kind != Y_MAP) {
        ERR(c, v, "params must be a mapping of names to values, not %s", kind_name(v));
        return false;
    }
    if (!(params = cJSON_CreateObject())) {
        c->oom = true;
        return false;
    }
    warn_dups(c, v);
    for (size_t i = 0; i < MAP_PAIRS(v); i++) {
        const ynode_t *k = MAP_KEY(v, i);
        cJSON *p;
        if (!is_scalar(k) || is_null(k) || strlen(k->str) != k->len) {
            ERR(c, k, "param names must be strings");
            ok = false;
            continue;
        }
        if (!(p = param_to_json(c, MAP_VAL(v, i)))) {
            ok = false;
            continue;
        }
        if (!cJSON_AddItemToObject(params, k->str, p)) {
            cJSON_Delete(p);
            c->oom = true;
            ok = false;
        }
    }
    text = ok ? cJSON_PrintUnformatted(params) : NULL;
    if (ok && !text) {
        c->oom = true;
        ok = false;
    }
    if (ok && strlen(text) > DAG_PARAMS_MAX) {
        ERR(c, v, "params are larger than %d bytes as JSON", DAG_PARAMS_MAX);
        ok = false;
    }
    cJSON_free(text);
    if (!ok) {
        cJSON_Delete(params);
        return false;
    }
    cJSON_Delete(dag->params);
    dag->params = params;
    return true;
}

/*
 * Builds one DAG from its merged mapping. In check_only mode (the file's
 * default: block) only the DAG-level keys are checked and nothing is
 * built. Returns the DAG, or NULL (errors reported, or check_only).
 */
static dag_t *parse_dag(ctx_t *c, const char *dag_id, const ynode_t *idnode, const ynode_t *cfg,
                        bool check_only)
{
    dag_t *dag = calloc(1, sizeof *dag);
    dag_task_t tpl = {0};
    task_src_t *srcs = NULL;
    const ynode_t *groups_node = NULL;
    groups_t gs = {0};
    const ynode_t *tasks = NULL, *sched = NULL, *sched_iv = NULL, *da = NULL, *params = NULL;
    bool ok = true;
    ts_us_t da_start = TS_NONE, da_end = TS_NONE;
    bool start_set = false, end_set = false, mar_set = false;
    date_zone_t dag_dz = {0}, da_dz = {0};
    char dag_zone[64], da_zone[64];
    size_t errors_before = c->errors_seen;

    if (!dag) {
        c->oom = true;
        return NULL;
    }
    dag->start_date = dag->end_date = TS_NONE;
    dag->catchup = dag->is_paused_upon_creation = -1;
    dag->max_active_runs = dag->max_active_tasks = 16;
    if (!set_str(c, &dag->dag_id, dag_id) || !set_str(c, &dag->fileloc, c->name))
        goto fail;
    tpl.retry_delay_sec = 300;
    tpl.skip_on_exit_code[0] = 99; /* BashOperator's default */
    tpl.n_skip_on_exit_code = 1;
    tpl.pool_slots = 1;
    tpl.priority_weight = 1;
    if (!set_str(c, &tpl.owner, "airflow") || !set_str(c, &tpl.queue, "default") ||
        !set_str(c, &tpl.pool, "default_pool") || !set_str(c, &tpl.trigger_rule, "all_success"))
        goto fail;

    warn_dups(c, cfg);
    for (size_t i = 0; i < MAP_PAIRS(cfg); i++) {
        const ynode_t *k = MAP_KEY(cfg, i), *v = MAP_VAL(cfg, i);
        const char *s;
        bool b;
        switch (key_lookup(dag_keys, k)) {
        case K_DESCRIPTION:
            if (is_null(v))
                ok = set_str(c, &dag->description, NULL) && ok;
            else
                ok = get_str(c, v, "description", &s) && set_str(c, &dag->description, s) && ok;
            break;
        case K_SCHEDULE:
            sched = v;
            break;
        case K_SCHEDULE_INTERVAL:
            sched_iv = v;
            break;
        case K_START_DATE:
            ok = get_date(c, v, "start_date", &dag->start_date) && ok;
            start_set = true;
            dag_dz.start = v;
            break;
        case K_END_DATE:
            ok = get_date(c, v, "end_date", &dag->end_date) && ok;
            end_set = true;
            dag_dz.end = v;
            break;
        case K_CATCHUP:
            if (get_bool(c, v, "catchup", &b))
                dag->catchup = b;
            else
                ok = false;
            break;
        case K_PAUSED:
            if (get_bool(c, v, "is_paused_upon_creation", &b))
                dag->is_paused_upon_creation = b;
            else
                ok = false;
            break;
        case K_TAGS:
            ok = parse_tags(c, v, dag) && ok;
            break;
        case K_MAX_ACTIVE_RUNS:
            ok = get_int(c, v, "max_active_runs", 1, &dag->max_active_runs) && ok;
            mar_set = true;
            break;
        case K_MAX_ACTIVE_TASKS:
            if (!map_get(cfg, "concurrency"))
                ok = get_int(c, v, "max_active_tasks", 1, &dag->max_active_tasks) && ok;
            break;
        case K_CONCURRENCY:
            WARN(c, k, "'concurrency' is deprecated, use max_active_tasks");
            ok = get_int(c, v, "concurrency", 1, &dag->max_active_tasks) && ok;
            break;
        case K_DEFAULT_ARGS:
            da = v;
            break;
        case K_TASKS:
            tasks = v;
            break;
        case K_TASK_GROUPS:
            groups_node = v;
            break;
        case K_TIMEZONE:
            if (get_str(c, v, "timezone", &dag_dz.tz_name))
                dag_dz.tz_node = v;
            else
                ok = false;
            break;
        case K_PARAMS:
            params = v;
            ok = parse_params(c, v, dag) && ok;
            break;
        case K_DAGRUN_TIMEOUT:
            if (is_null(v))
                dag->dagrun_timeout_sec = 0;
            else
                ok = get_seconds(c, v, "dagrun_timeout", &dag->dagrun_timeout_sec) && ok;
            break;
        case K_DAGRUN_TIMEOUT_SEC:
            ok = get_int(c, v, "dagrun_timeout_sec", 0, &dag->dagrun_timeout_sec) && ok;
            break;
        case K_MAX_CONSEC_FAILED:
            ok = get_int(c, v, "max_consecutive_failed_dag_runs", 0,
                         &dag->max_consecutive_failed_dag_runs) && ok;
            break;
        case K_DAG_IGNORED:
            WARN(c, k, "ignored key '%s' (not supported yet)", key_text(k));
            break;
        case K_DAG_ON_FAILURE:
            ok = parse_alerts(c, k, v, "failure", &dag->alerts, "the dag") && ok;
            break;
        case K_DAG_ON_SUCCESS:
            ok = parse_alerts(c, k, v, "success", &dag->alerts, "the dag") && ok;
            break;
        case K_DAG_SLA_MISS:
            ok = parse_alerts(c, k, v, "sla_miss", &dag->alerts, "the dag") && ok;
            break;
        default:
            WARN(c, k, "unknown key '%.100s' (ignored)", key_text(k));
            break;
        }
    }
    if (sched && sched_iv)
        WARN(c, sched_iv, "both schedule and schedule_interval are set, schedule_interval is ignored");
    if (sched || sched_iv)
        ok = parse_schedule(c, sched ? sched : sched_iv, dag) && ok;
    ok = parse_default_args(c, da, dag_id, &tpl, &da_start, &da_end, &da_dz) && ok;
    ok = localize_dates(c, &dag_dz, &dag->start_date, &dag->end_date, dag_zone,
                        sizeof dag_zone) && ok;
    ok = localize_dates(c, &da_dz, &da_start, &da_end, da_zone, sizeof da_zone) && ok;
    if (!start_set)
        dag->start_date = da_start;
    if (!end_set)
        dag->end_date = da_end;
    /* Airflow: the DAG's zone is its start_date's (DAG level first, then
     * default_args); dag-factory gives a naive start_date its timezone */
    {
        const char *zone = start_set ? dag_zone : da_dz.start ? da_zone : dag_zone;
        if (*zone && !set_str(c, &dag->timezone, zone))
            goto fail;
    }
    if (dag->schedule && strcasecmp(dag->schedule, "@continuous") == 0) {
        /* ContinuousTimetable allows one active run */
        if (mar_set && dag->max_active_runs > 1) {
            ERR(c, idnode, "dag '%s' with schedule @continuous needs max_active_runs 1, not %d",
                dag_id, dag->max_active_runs);
            ok = false;
        }
        dag->max_active_runs = 1;
    }
    if (!set_str(c, &dag->owner, tpl.owner))
        goto fail;
    if (dag->params && dag->schedule) {
        /* Airflow: a scheduled DAG's params must all have valid defaults. */
        cJSON *resolved = NULL;
        char perr[256];
        if (dag_params_resolve(dag->params, NULL, &resolved, perr, sizeof perr) < 0) {
            ERR(c, params, "dag '%s' has a schedule, so every param needs a valid default: %s",
                dag_id, perr);
            ok = false;
        }
        cJSON_Delete(resolved);
    }
    if (dag->start_date != TS_NONE && dag->end_date != TS_NONE && dag->end_date < dag->start_date) {
        ERR(c, idnode, "end_date of dag '%s' is before its start_date", dag_id);
        ok = false;
    }

    if (check_only) {
        if (tasks && !is_null(tasks) && tasks->kind == Y_SCALAR) {
            ERR(c, tasks, "tasks must be a list or a mapping, not a scalar");
        }
        goto fail;
    }
    if (is_null(tasks)) {
        ERR(c, idnode, "dag '%s' has no tasks", dag_id);
        goto fail;
    }
    if (tasks->kind == Y_SCALAR) {
        ERR(c, tasks, "tasks of dag '%s' must be a list or a mapping, not a scalar", dag_id);
        goto fail;
    }
    if (!parse_groups(c, groups_node, dag_id, &tpl, &gs))
        goto fail;
    size_t nt = tasks->kind == Y_SEQ ? tasks->n : MAP_PAIRS(tasks);
    if (!spend(c, nt))
        goto fail;
    dag->tasks = calloc(nt ? nt : 1, sizeof *dag->tasks);
    srcs = calloc(nt ? nt : 1, sizeof *srcs);
    if (!dag->tasks || !srcs) {
        c->oom = true;
        goto fail;
    }
    smap_t seen = {0}, fids = {0};
    if (tasks->kind == Y_MAP) {
        for (size_t i = 0; i < tasks->n_dups; i++) {
            ERR(c, tasks->dups[i], "duplicate task id '%.100s' in dag '%s'", key_text(tasks->dups[i]), dag_id);
            ok = false;
        }
    }
    for (size_t i = 0; i < nt; i++) {
        const ynode_t *m, *idn, *at;
        const char *tid;
        if (tasks->kind == Y_SEQ) {
            m = tasks->kids[i];
            at = m;
            if (!m || m->kind != Y_MAP) {
                ERR(c, m, "task in dag '%s' must be a mapping, not %s", dag_id, kind_name(m));
                ok = false;
                continue;
            }
            idn = map_get(m, "task_id");
            if (!idn) {
                ERR(c, m, "task in dag '%s' has no task_id", dag_id);
                ok = false;
                continue;
            }
        } else {
            idn = at = MAP_KEY(tasks, i);
            m = MAP_VAL(tasks, i);
            if (!m || m->kind != Y_MAP) {
                ERR(c, m, "task '%s' must be a mapping, not %s", key_text(idn), kind_name(m));
                ok = false;
                continue;
            }
            const ynode_t *own = map_get(m, "task_id");
            if (own && is_scalar(idn) && !(is_scalar(own) && strcmp(own->str, idn->str) == 0))
                WARN(c, own, "task_id '%.100s' differs from its key '%.100s', the key is used",
                     is_scalar(own) ? own->str : "?", key_text(idn));
        }
        if (!get_id(c, idn, "task_id", &tid)) {
            ok = false;
            continue;
        }
        if (tasks->kind == Y_SEQ && smap_get(&seen, tid, strlen(tid))) {
            ERR(c, idn, "duplicate task id '%s' in dag '%s'", tid, dag_id);
            ok = false;
            continue;
        }
        if (smap_put(&seen, tid, strlen(tid), (void *)idn) != 0) {
            c->oom = true;
            break;
        }
        int gi = task_group_of(c, m, tid, &gs), idrc;
        if (gi == -2) {
            ok = false;
            gi = -1;
        }
        if (group_index(&gs, tid) >= 0) {
            ERR(c, idn, "task '%s' has the same name as a task group in dag '%s'", tid, dag_id);
            ok = false;
        }
        dag_task_t *t = &dag->tasks[dag->n_tasks];
        task_src_t *src = &srcs[dag->n_tasks];
        dag->n_tasks++;
        src->name = tid;
        src->group = gi;
        if (!task_copy(c, gi >= 0 ? &gs.g[gi].tpl : &tpl, t) ||
            (idrc = set_task_id(c, t, tid, idn, gi >= 0 ? &gs.g[gi] : NULL, &gs, &fids, dag_id)) < 0) {
            ok = false;
            continue;
        }
        ok = idrc == 0 && ok;
        ok = parse_task(c, m, tid, at, t, src) && ok;
    }
    smap_free(&seen);
    smap_free(&fids);
    /* Dependencies are checked even after other errors, to report them all. */
    if (!c->oom && ok && !resolve_expand(c, dag, srcs))
        ok = false;
    if (c->oom || !link_tasks(c, dag, srcs, &gs) || !ok || c->errors_seen > errors_before ||
        !check_expand_upstream(c, dag) || !groups_to_dag(c, &gs, dag))
        goto fail;
    dag_task_clear(&tpl);
    groups_free(&gs);
    free(srcs);
    return dag;
fail:
    dag_task_clear(&tpl);
    groups_free(&gs);
    free(srcs);
    dag_free(dag);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* files                                                               */

static bool is_sorted_tag_less(const ynode_t *a, const ynode_t *b)
{
    return strcmp(a->str, b->str) < 0;
}

/*
 * Combines the defaults.yml mappings (nearest first) into one mapping:
 * keys nearest-wins, default_args nearest-wins key by key, tags unioned
 * and sorted. NULL when there are none.
 */
static ynode_t *combine_defaults_files(ctx_t *c, ynode_t **files, size_t n)
{
    ynode_t *acc = NULL, *da = NULL, *tags = NULL;

    for (size_t i = n; i-- > 0;) {
        ynode_t *f = files[i];
        ynode_t *fda = map_get(f, "default_args");
        ynode_t *ftags = map_get(f, "tags");
        if (!(acc = merge_shallow(c, acc, f, f)))
            return NULL;
        if (fda && fda->kind == Y_MAP && (!da || da->kind == Y_MAP)) {
            if (!(da = merge_shallow(c, da, fda, fda)))
                return NULL;
        } else if (fda) {
            da = fda;
        }
        if (ftags && ftags->kind == Y_SEQ) {
            ynode_t *u = node_new(c, Y_SEQ, ftags->file, ftags->line, ftags->col);
            if (!u)
                return NULL;
            size_t total = (tags ? tags->n : 0) + ftags->n;
            if (!spend(c, total * 8))
                return NULL;
            if (!(u->kids = malloc((total ? total : 1) * sizeof *u->kids))) {
                c->oom = true;
                return NULL;
            }
            u->cap = total;
            for (size_t pass = 0; pass < 2; pass++) {
                const ynode_t *src = pass ? ftags : tags;
                for (size_t j = 0; src && j < src->n; j++) {
                    ynode_t *t = src->kids[j];
                    bool dup = false;
                    if (!is_scalar(t)) {
                        u->kids[u->n++] = t; /* reported when the tags are read */
                        continue;
                    }
                    for (size_t x = 0; x < u->n && !dup; x++)
                        dup = is_scalar(u->kids[x]) && strcmp(u->kids[x]->str, t->str) == 0;
                    if (!dup)
                        u->kids[u->n++] = t;
                }
            }
            for (size_t a = 1; a < u->n; a++)
                for (size_t b = a; b > 0 && is_scalar(u->kids[b]) && is_scalar(u->kids[b - 1]) &&
                                   is_sorted_tag_less(u->kids[b], u->kids[b - 1]);
                     b--) {
                    ynode_t *tmp = u->kids[b];
                    u->kids[b] = u->kids[b - 1];
                    u->kids[b - 1] = tmp;
                }
            tags = u;
        } else if (ftags) {
            tags = ftags;
        }
    }
    if (!acc)
        return NULL;
    for (size_t i = 0; i < MAP_PAIRS(acc); i++) {
        if (key_is(MAP_KEY(acc, i), "default_args") && da)
            MAP_VAL(acc, i) = da;
        if (key_is(MAP_KEY(acc, i), "tags") && tags)
            MAP_VAL(acc, i) = tags;
    }
    return acc;
}

/*
 * The loader proper: defaults (already parsed, nearest first) + the file.
 * Returns the number of errors, or -1 when the file cannot be used.
 */
static int load_tree(ctx_t *c, const char *text, size_t len, ynode_t **dfiles, size_t n_dfiles,
                     dag_list_t *out)
{
    ynode_t *root = NULL, *fdefault = NULL, *yml = NULL, *eff = NULL;
    size_t errors_before;

    for (size_t i = 0; i < n_dfiles; i++) {
        errors_before = c->errors;
        warn_dups(c, dfiles[i]);
        parse_dag(c, "default", dfiles[i], dfiles[i], true);
        if (c->errors > errors_before)
            return (int)c->errors;
    }
    if (parse_text(c, c->name, text, len, &root) != 0)
        return c->oom ? -1 : (int)c->errors;
    if (!root || is_null(root))
        return (int)c->errors;
    if (root->kind != Y_MAP) {
        ERR(c, root, "the top level must be a mapping of dag ids to dags, not %s", kind_name(root));
        return (int)c->errors;
    }
    for (size_t i = 0; i < root->n_dups; i++)
        ERR(c, root->dups[i], "duplicate dag id '%.100s'", key_text(root->dups[i]));

    /* The file's default: block; an error there fails the whole file. */
    fdefault = map_get(root, "default");
    if (fdefault && !is_null(fdefault)) {
        errors_before = c->errors;
        if (fdefault->kind != Y_MAP) {
            ERR(c, fdefault, "default must be a mapping, not %s", kind_name(fdefault));
            return (int)c->errors;
        }
        warn_dups(c, fdefault);
        parse_dag(c, "default", fdefault, fdefault, true);
        if (c->errors > errors_before || c->oom)
            return c->oom ? -1 : (int)c->errors;
    } else {
        fdefault = NULL;
    }

    /* eff = defaults.yml keys under default:, default_args key by key. */
    if (n_dfiles && !(yml = combine_defaults_files(c, dfiles, n_dfiles)))
        goto budget;
    eff = fdefault;
    if (yml) {
        ynode_t *yda = map_get(yml, "default_args"), *fda = map_get(fdefault, "default_args");
        if (!(eff = merge_shallow(c, yml, fdefault, fdefault ? fdefault : yml)))
            goto budget;
        if (yda && yda->kind == Y_MAP && fda && fda->kind == Y_MAP) {
            ynode_t *m = merge_shallow(c, yda, fda, fda);
            if (!m)
                goto budget;
            for (size_t i = 0; i < MAP_PAIRS(eff); i++)
                if (key_is(MAP_KEY(eff, i), "default_args"))
                    MAP_VAL(eff, i) = m;
        }
    }

    for (size_t i = 0; i < MAP_PAIRS(root); i++) {
        ynode_t *k = MAP_KEY(root, i), *v = MAP_VAL(root, i);
        const char *dag_id;
        if (key_is(k, "default"))
            continue;
        if (key_is(k, "task_groups")) {
            /* reserved by dag-factory, which reads task_groups only inside a DAG */
            WARN(c, k, "top-level 'task_groups' is ignored (put task_groups under a dag or under default)");
            continue;
        }
        if (!get_id(c, k, "dag id", &dag_id))
            continue;
        bool dup = false;
        for (size_t j = 0; j < root->n_dups && !dup; j++)
            dup = strcmp(root->dups[j]->str, dag_id) == 0;
        if (dup)
            continue;
        if (!v || v->kind != Y_MAP) {
            ERR(c, k, "dag '%s' must be a mapping, not %s", dag_id, kind_name(v));
            continue;
        }
        ynode_t *cfg = v;
        if (eff && !(cfg = merge_configs(c, v, eff, 0)))
            goto budget;
        dag_t *dag = parse_dag(c, dag_id, k, cfg, false);
        if (c->too_complex)
            goto budget;
        if (!dag)
            continue;
        if (out->n == out->cap) {
            size_t cap = out->cap ? out->cap * 2 : 4;
            dag_t **items = realloc(out->items, cap * sizeof *items);
            if (!items) {
                dag_free(dag);
                c->oom = true;
                return -1;
            }
            out->items = items;
            out->cap = cap;
        }
        out->items[out->n++] = dag;
    }
    return c->oom ? -1 : (int)c->errors;
budget:
    if (c->oom)
        return -1;
    ERR(c, root, "document too complex (too many merged or aliased keys)");
    return (int)c->errors;
}

/* Drops the DAGs appended since mark (used when the whole file fails). */
static void list_truncate(dag_list_t *l, size_t mark)
{
    while (l->n > mark)
        dag_free(l->items[--l->n]);
}

static int finish(ctx_t *c, int rc, dag_list_t *out, size_t mark)
{
    if (c->oom) {
        diag_pos(c, c->name, 0, 0, "out of memory while loading the file");
        rc = -1;
    }
    if (rc < 0)
        list_truncate(out, mark);
    ctx_free(c);
    return rc;
}

int dag_load_buffer(const char *name, const char *text, size_t len, dag_list_t *out,
                    dag_diags_t *diags)
{
    ctx_t c = {.name = name ? name : "<buffer>", .diags = diags};
    size_t mark = out->n;
    int rc = load_tree(&c, text, len, NULL, 0, out);
    return finish(&c, rc, out, mark);
}

/*
 * Reads a whole file with the size limit checked before reading.
 * missing_ok: ENOENT returns 1 quietly. 0 ok, -1 reported.
 */
static int read_file(ctx_t *c, const char *path, bool missing_ok, char **text, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    char *buf = NULL;
    size_t got = 0;

    *text = NULL;
    if (fd < 0) {
        if (missing_ok && errno == ENOENT)
            return 1;
        diag_pos(c, path, 0, 0, "cannot open: %s", strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        diag_pos(c, path, 0, 0, "not a regular file");
        goto fail;
    }
    if (st.st_size > DAG_FILE_MAX) {
        diag_pos(c, path, 0, 0, "file is larger than %d bytes", DAG_FILE_MAX);
        goto fail;
    }
    if (!(buf = malloc((size_t)st.st_size + 1))) {
        c->oom = true;
        goto fail;
    }
    /* Read at most the limit even if the file grows meanwhile. */
    for (;;) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size + 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            diag_pos(c, path, 0, 0, "cannot read: %s", strerror(errno));
            goto fail;
        }
        if (r == 0)
            break;
        got += (size_t)r;
        if (got > (size_t)st.st_size) {
            diag_pos(c, path, 0, 0, "file changed while it was read");
            goto fail;
        }
    }
    close(fd);
    *text = buf;
    *len = got;
    return 0;
fail:
    free(buf);
    close(fd);
    return -1;
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

/*
 * Lists the folders whose defaults files apply, nearest first: the file's
 * folder and each parent up to root; root alone when it is not an
 * ancestor. Returns a malloc'd array of malloc'd paths, or NULL on OOM.
 */
static char **defaults_dirs(const char *path, const char *root, size_t *n)
{
    char *dir = dir_of(path), *rdir = NULL, *rroot = NULL;
    char **dirs = NULL;
    size_t count = 0, cap = 0;
    bool reached = false;

    *n = 0;
    if (!dir)
        return NULL;
    rdir = realpath(dir, NULL);
    rroot = root ? realpath(root, NULL) : NULL;
    if (!rdir) {
        /* folder vanished: only look at the file's folder as written */
        rdir = dir;
        dir = NULL;
    }
    for (char *cur = rdir;;) {
        if (count + 2 > cap) {
            cap = cap ? cap * 2 : 8;
            char **d = realloc(dirs, cap * sizeof *d);
            if (!d)
                goto oom;
            dirs = d;
        }
        if (!(dirs[count] = strdup(cur)))
            goto oom;
        count++;
        if (!rroot || strcmp(cur, rroot) == 0) {
            reached = true;
            break;
        }
        char *slash = strrchr(cur, '/');
        if (!slash || (slash == cur && cur[1] == '\0'))
            break;
        if (slash == cur)
            slash[1] = '\0';
        else
            *slash = '\0';
    }
    if (!reached && rroot) {
        /* root is not an ancestor: the file's folder and root only */
        for (size_t i = 1; i < count; i++)
            free(dirs[i]);
        count = 1;
        if (!(dirs[count] = strdup(rroot)))
            goto oom;
        count++;
    }
    free(dir);
    free(rdir);
    free(rroot);
    *n = count;
    return dirs;
oom:
    for (size_t i = 0; i < count; i++)
        free(dirs[i]);
    free(dirs);
    free(dir);
    free(rdir);
    free(rroot);
    return NULL;
}

int dag_load_file(const char *path, const char *root, dag_list_t *out, dag_diags_t *diags)
{
    ctx_t c = {.name = path, .diags = diags};
    size_t mark = out->n, n_dirs = 0, n_dfiles = 0;
    char *text = NULL, **dirs = NULL, **dnames = NULL;
    ynode_t **dfiles = NULL;
    size_t len = 0;
    int rc = -1;

    if (read_file(&c, path, false, &text, &len) != 0)
        goto out;
    if (!(dirs = defaults_dirs(path, root, &n_dirs))) {
        c.oom = true;
        goto out;
    }
    dfiles = calloc(n_dirs ? n_dirs : 1, sizeof *dfiles);
    dnames = calloc(n_dirs ? n_dirs : 1, sizeof *dnames);
    if (!dfiles || !dnames) {
        c.oom = true;
        goto out;
    }
    for (size_t i = 0; i < n_dirs; i++) {
        static const char *const names[] = {"defaults.yml", "defaults.yaml"};
        for (size_t j = 0; j < 2; j++) {
            char *dpath = NULL, *dtext = NULL;
            size_t dlen = 0;
            ynode_t *droot = NULL;
            if (asprintf(&dpath, "%s/%s", dirs[i], names[j]) < 0) {
                c.oom = true;
                goto out;
            }
            dnames[n_dfiles] = dpath; /* owned from here; nodes point to it */
            int r = read_file(&c, dpath, true, &dtext, &dlen);
            if (r == 1) {
                free(dpath);
                dnames[n_dfiles] = NULL;
                continue;
            }
            if (r != 0) {
                n_dfiles++;
                rc = c.oom ? -1 : (int)c.errors;
                goto out;
            }
            n_dfiles++;
            int pr = parse_text(&c, dpath, dtext, dlen, &droot);
            free(dtext);
            if (pr != 0) {
                rc = c.oom ? -1 : (int)c.errors;
                goto out;
            }
            if (droot && !is_null(droot) && droot->kind != Y_MAP) {
                ERR(&c, droot, "a defaults file must be a mapping, not %s", kind_name(droot));
                rc = (int)c.errors;
                goto out;
            }
            if (droot && droot->kind == Y_MAP)
                dfiles[n_dfiles - 1] = droot;
            break; /* defaults.yml wins over defaults.yaml in the same folder */
        }
    }
    /* compact: drop empty defaults files, keep nearest-first order */
    size_t nd = 0;
    ynode_t **compact = calloc(n_dfiles ? n_dfiles : 1, sizeof *compact);
    if (!compact) {
        c.oom = true;
        goto out;
    }
    for (size_t i = 0; i < n_dfiles; i++)
        if (dfiles[i])
            compact[nd++] = dfiles[i];
    rc = load_tree(&c, text, len, compact, nd, out);
    free(compact);
out:
    rc = finish(&c, rc, out, mark);
    for (size_t i = 0; dnames && i < n_dfiles; i++)
        free(dnames[i]);
    free(dnames);
    free(dfiles);
    for (size_t i = 0; i < n_dirs; i++)
        free(dirs[i]);
    free(dirs);
    free(text);
    return rc;
}

bool dag_is_dag_file(const char *filename)
{
    const char *base = strrchr(filename, '/');
    size_t n;

    base = base ? base + 1 : filename;
    n = strlen(base);
    if (base[0] == '.')
        return false;
    if (strcmp(base, "defaults.yml") == 0 || strcmp(base, "defaults.yaml") == 0)
        return false;
    return (n > 5 && strcmp(base + n - 5, ".yaml") == 0) || (n > 4 && strcmp(base + n - 4, ".yml") == 0);
}
