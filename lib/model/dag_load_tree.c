/*
 * dag_load_tree.c - the loader's YAML document tree: the string map, the
 * diagnostics, libyaml events built into ynode_t (positions, anchors and
 * aliases, YAML 1.1 merge keys, duplicate keys) and $NAME expansion of
 * the raw text. See dag_load.c for the steps of a load.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/envname.h"
#include "core/hash.h"
#include "model/dag_load_int.h"

static smap_slot_t *smap_slot(const smap_t *m, const char *key, size_t len)
{
    size_t i = hash_bytes(key, len) & (m->cap - 1);
    while (m->slots[i].key && (m->slots[i].len != len || memcmp(m->slots[i].key, key, len) != 0))
        i = (i + 1) & (m->cap - 1);
    return &m->slots[i];
}

void *dl_smap_get(const smap_t *m, const char *key, size_t len)
{
    if (!m->cap)
        return NULL;
    smap_slot_t *s = smap_slot(m, key, len);
    return s->key ? s->val : NULL;
}

/* Inserts or replaces; the key is borrowed. 0, or -1 on OOM. */
int dl_smap_put(smap_t *m, const char *key, size_t len, void *val)
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

void dl_smap_free(smap_t *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = m->n = 0;
}

static void vdiag(ctx_t *c, const char *file, int line, int col, bool warning, const char *fmt,
                  va_list ap) __attribute__((format(printf, 6, 0)));

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
    if (dl_smap_get(&c->seen_diags, key, strlen(key)))
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
    if (dl_smap_put(&c->seen_diags, key, strlen(key), key) != 0) {
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

void dl_diag_at(ctx_t *c, const ynode_t *at, bool warning, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vdiag(c, at && at->file ? at->file : c->name, at ? at->line : 0, at ? at->col : 0, warning, fmt,
          ap);
    va_end(ap);
}

void dl_diag_pos(ctx_t *c, const char *file, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vdiag(c, file, line, col, false, fmt, ap);
    va_end(ap);
}

ynode_t *dl_node_new(ctx_t *c, ykind_t kind, const char *file, int line, int col)
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

void dl_ctx_free(ctx_t *c)
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
    dl_smap_free(&c->seen_diags);
}

bool dl_spend(ctx_t *c, size_t steps)
{
    c->work += steps;
    if (c->work > WORK_BUDGET)
        c->too_complex = true;
    return !c->too_complex;
}

bool dl_spend_bytes_pos(ctx_t *c, const char *file, int line, int col, size_t n)
{
    if (c->too_big)
        return false;
    if (n <= LOAD_BYTES_MAX - c->bytes) { /* c->bytes <= LOAD_BYTES_MAX until too_big */
        c->bytes += n;
        return true;
    }
    dl_diag_pos(c, file, line, col,
                "document too large once aliases and defaults are expanded (more than %d MiB)",
                LOAD_BYTES_MAX >> 20);
    c->too_big = c->too_complex = true;
    return false;
}

bool dl_spend_bytes(ctx_t *c, const ynode_t *at, size_t n)
{
    return dl_spend_bytes_pos(c, at && at->file ? at->file : c->name, at ? at->line : 0,
                              at ? at->col : 0, n);
}

bool dl_is_scalar(const ynode_t *n)
{
    return n && n->kind == Y_SCALAR;
}

bool dl_key_is(const ynode_t *k, const char *s)
{
    return dl_is_scalar(k) && strcmp(k->str, s) == 0;
}

/* Index of key in map m, or -1. Linear: used on small mappings only. */
ynode_t *dl_map_get(const ynode_t *m, const char *key)
{
    if (!m || m->kind != Y_MAP)
        return NULL;
    for (size_t i = MAP_PAIRS(m); i-- > 0;)
        if (dl_key_is(MAP_KEY(m, i), key))
            return MAP_VAL(m, i);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* building the tree from libyaml events                              */

/* A key for duplicate detection; non-scalar keys never compare equal. */
bool dl_pair_key(const ynode_t *k, const char **s, size_t *len)
{
    if (!dl_is_scalar(k))
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
        if (!(k->plain && dl_key_is(k, "<<")))
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
    if (!dl_spend(c, total)) {
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
        if (!(k->plain && dl_key_is(k, "<<")))
            continue;
        size_t nsrc = v->kind == Y_MAP ? 1 : v->n;
        for (size_t s = nsrc; s-- > 0;) {
            ynode_t *src = v->kind == Y_MAP ? v : v->kids[s];
            for (size_t j = 0; j < MAP_PAIRS(src); j++) {
                const char *ks;
                size_t kl;
                ynode_t *sk = MAP_KEY(src, j);
                void *at = dl_pair_key(sk, &ks, &kl) ? dl_smap_get(&idx, ks, kl) : NULL;
                if (at) {
                    out[2 * ((uintptr_t)at - 1) + 1] = MAP_VAL(src, j);
                    continue;
                }
                out[2 * n_out] = sk;
                out[2 * n_out + 1] = MAP_VAL(src, j);
                n_out++;
                if (dl_pair_key(sk, &ks, &kl) &&
                    dl_smap_put(&idx, ks, kl, (void *)(uintptr_t)n_out))
                    goto oom;
            }
        }
    }
    /* Pass 2: the mapping's own keys. */
    for (size_t i = 0; i < MAP_PAIRS(m); i++) {
        ynode_t *k = MAP_KEY(m, i), *v = MAP_VAL(m, i);
        const char *ks;
        size_t kl;
        if (k->plain && dl_key_is(k, "<<"))
            continue;
        void *at = dl_pair_key(k, &ks, &kl) ? dl_smap_get(&idx, ks, kl) : NULL;
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
        if (dl_pair_key(k, &ks, &kl) && dl_smap_put(&idx, ks, kl, (void *)(uintptr_t)n_out))
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
    dl_smap_free(&idx);
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
        dl_diag_pos(c, file, line, col, "invalid yaml: %s", problem);
        return;
    }
    line = (int)p->problem_mark.line + 1;
    col = (int)p->problem_mark.column + 1;
    if (p->context)
        dl_diag_pos(c, file, line, col, "invalid yaml: %s %s at %d:%d", problem, p->context,
                    (int)p->context_mark.line + 1, (int)p->context_mark.column + 1);
    else
        dl_diag_pos(c, file, line, col, "invalid yaml: %s", problem);
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

/* The tree being built from one file's events. */
typedef struct builder {
    ctx_t *c;
    const char *file;
    ynode_t **stack; /* open collections, innermost last */
    size_t depth, cap;
    smap_t anchors; /* anchor name -> node */
    int docs;
    ynode_t **root;
} builder_t;

/*
 * One libyaml event: *n is the node it makes (or the alias's target) and
 * *anchor its anchor, both NULL for events that make none; *done at the
 * stream's end. 0, or -1 (reported, or c->oom).
 */
static int tree_event(builder_t *b, const yaml_event_t *ev, int line, int col, ynode_t **n,
                      const char **anchor, bool *done)
{
    ctx_t *c = b->c;

    switch (ev->type) {
    case YAML_STREAM_END_EVENT:
        *done = true;
        break;
    case YAML_DOCUMENT_START_EVENT:
        if (++b->docs > 1) {
            dl_diag_pos(c, b->file, line, col, "expected a single document in the file");
            return -1;
        }
        break;
    case YAML_SCALAR_EVENT:
        if (!(*n = dl_node_new(c, Y_SCALAR, b->file, line, col)))
            return -1;
        if (!((*n)->str = malloc(ev->data.scalar.length + 1))) {
            c->oom = true;
            return -1;
        }
        memcpy((*n)->str, ev->data.scalar.value, ev->data.scalar.length);
        (*n)->str[ev->data.scalar.length] = '\0';
        (*n)->len = ev->data.scalar.length;
        (*n)->esize = (*n)->len + 1; /* written out, something separates it */
        if (!dl_spend_bytes_pos(c, b->file, line, col, (*n)->esize))
            return -1;
        (*n)->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                      tag_keeps_typing((const char *)ev->data.scalar.tag);
        *anchor = (const char *)ev->data.scalar.anchor;
        break;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        if (!(*n = dl_node_new(c, ev->type == YAML_SEQUENCE_START_EVENT ? Y_SEQ : Y_MAP, b->file,
                               line, col)))
            return -1;
        (*n)->open = true;
        (*n)->esize = 2; /* its brackets */
        if (!dl_spend_bytes_pos(c, b->file, line, col, (*n)->esize))
            return -1;
        *anchor =
            (const char *)(ev->type == YAML_SEQUENCE_START_EVENT ? ev->data.sequence_start.anchor
                                                                 : ev->data.mapping_start.anchor);
        break;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT: {
        ynode_t *top = b->stack[--b->depth];
        top->open = false;
        if (b->depth > 0)
            b->stack[b->depth - 1]->esize += top->esize;
        if (top->kind == Y_MAP && map_finish(c, top) != 0)
            return -1;
        break;
    }
    case YAML_ALIAS_EVENT: {
        const char *a = (const char *)ev->data.alias.anchor;
        *n = dl_smap_get(&b->anchors, a, strlen(a));
        if (!*n) {
            dl_diag_pos(c, b->file, line, col, "invalid yaml: unknown alias '%s'", a);
            return -1;
        }
        if ((*n)->open) {
            dl_diag_pos(c, b->file, line, col, "invalid yaml: alias '%s' refers to itself", a);
            return -1;
        }
        /* What the alias stands for is counted again: written out, the
         * document would be this much larger. */
        if (!dl_spend_bytes_pos(c, b->file, line, col, (*n)->esize))
            return -1;
        break;
    }
    default:
        break;
    }
    return 0;
}

/*
 * Puts node n where it belongs: under its anchor, into the open
 * collection (or as the root), and onto the stack when it opens one.
 * 0, or -1 (reported, or c->oom).
 */
static int tree_place(builder_t *b, ynode_t *n, const char *anchor, int line, int col)
{
    ctx_t *c = b->c;

    if (anchor) {
        /* The anchor name dies with the event: keep a copy, owned
         * by an otherwise unused node so that ctx_free releases it. */
        ynode_t *holder = dl_node_new(c, Y_SCALAR, b->file, line, col);
        if (!holder || !(holder->str = strdup(anchor))) {
            c->oom = true;
            return -1;
        }
        if (dl_smap_put(&b->anchors, holder->str, strlen(holder->str), n) != 0) {
            c->oom = true;
            return -1;
        }
    }
    if (b->depth == 0) {
        *b->root = n;
    } else {
        ynode_t *parent = b->stack[b->depth - 1];
        if (node_push(c, parent, n) != 0)
            return -1;
        /* a collection adds its size when it closes; every esize was
         * counted toward LOAD_BYTES_MAX, so none overflows */
        if (!n->open)
            parent->esize += n->esize;
    }
    if (!n->open)
        return 0;
    /* Also bounds libyaml's scanner, whose cost grows with the
     * flow depth: stop before it does. */
    if (b->depth >= NEST_MAX) {
        dl_diag_pos(c, b->file, line, col, "invalid yaml: nested deeper than %d levels", NEST_MAX);
        return -1;
    }
    if (b->depth == b->cap) {
        size_t ncap = b->cap ? b->cap * 2 : 16;
        ynode_t **s = realloc(b->stack, ncap * sizeof *s);
        if (!s) {
            c->oom = true;
            return -1;
        }
        b->stack = s;
        b->cap = ncap;
    }
    b->stack[b->depth++] = n;
    return 0;
}

/*
 * Parses text into a tree. *root is NULL for an empty stream. Returns 0,
 * or -1 when the file is unusable (reported).
 */
static int tree_parse(ctx_t *c, const char *file, const char *text, size_t len, ynode_t **root)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    builder_t b = {.c = c, .file = file, .root = root};
    int rc = -1;
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
        if (tree_event(&b, &ev, line, col, &n, &anchor, &done) != 0 ||
            (n && tree_place(&b, n, anchor, line, col) != 0)) {
            yaml_event_delete(&ev);
            goto out;
        }
        yaml_event_delete(&ev);
    }
    rc = 0;
out:
    if (rc != 0)
        *root = NULL;
    free(b.stack);
    dl_smap_free(&b.anchors);
    yaml_parser_delete(&parser);
    return rc;
}

/* ------------------------------------------------------------------ */
/* environment expansion (os.path.expandvars, within the allow-list)   */

static bool is_word(unsigned char ch)
{
    return isalnum(ch) || ch == '_';
}

/* Line and column (1-based) of offset off, counting on from a known place. */
typedef struct text_pos {
    size_t off, line_start;
    int line;
} text_pos_t;

static void pos_advance(text_pos_t *p, const char *text, size_t off, int *line, int *col)
{
    for (const char *nl; p->off < off && (nl = memchr(text + p->off, '\n', off - p->off));) {
        p->line++;
        p->line_start = p->off = (size_t)(nl - text) + 1;
    }
    p->off = off;
    *line = p->line;
    *col = (int)(off - p->line_start + 1);
}

/*
 * The value $name stands for, or NULL to leave it as written: names that
 * are not plain names (${NAME:-x}), updraft's own names and names outside
 * the allow-list are never looked up; a name that carries updraft's
 * settings or secrets is reported at its place (*bad set), while the ones
 * a task is given at run time ($UPDRAFT_XCOM_FILE in a bash command) stay
 * as written for the task's shell.
 */
static const char *env_value(ctx_t *c, const char *file, const char *text, text_pos_t *pos,
                             size_t dollar, const char *name, size_t nlen, bool *bad)
{
    char buf[256];
    int line, col;

    if (nlen == 0 || nlen >= sizeof buf)
        return NULL;
    for (size_t i = 0; i < nlen; i++)
        if (!is_word((unsigned char)name[i]))
            return NULL;
    if (envname_secret(name, nlen)) {
        pos_advance(pos, text, dollar, &line, &col);
        dl_diag_pos(c, file, line, col,
                    "$%.*s is one of updraft's own settings or secrets, which a DAG file cannot "
                    "read (to leave it to bash at run time, write ${%.*s:-})",
                    (int)(nlen > 64 ? 64 : nlen), name, (int)(nlen > 64 ? 64 : nlen), name);
        *bad = true;
        return NULL;
    }
    if (envname_reserved(name, nlen) || !envname_listed(c->env_allowlist, name, nlen))
        return NULL;
    memcpy(buf, name, nlen);
    buf[nlen] = '\0';
    return getenv(buf);
}

/*
 * $name and ${name} are replaced when the name is allowed
 * (core.dag_env_allowlist) and set in the environment, else kept.
 * Returns a malloc'd NUL-terminated copy, or NULL: *big when too large,
 * *bad when a name was refused (reported), else out of memory.
 */
static char *expand_env(ctx_t *c, const char *file, const char *text, size_t len, size_t *outlen,
                        bool *big, bool *bad)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    size_t i = 0;
    text_pos_t pos = {.line = 1};

    *big = *bad = false;
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
        const char *val = env_value(c, file, text, &pos, i, text + nstart, nlen, bad);
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
    if (*big || size > EXPANDED_MAX || *bad) {
        *big = !*bad;
        free(buf);
        return NULL;
    }
    *outlen = size;
    return buf;
}

/* Expands and parses one file's text. 0, or -1 (reported). */
int dl_parse_text(ctx_t *c, const char *file, const char *text, size_t len, ynode_t **root)
{
    bool big, bad;
    size_t elen = 0;
    char *expanded;
    int rc;

    if (len > DAG_FILE_MAX) {
        dl_diag_pos(c, file, 0, 0, "file is larger than %d bytes", DAG_FILE_MAX);
        return -1;
    }
    if (!(expanded = expand_env(c, file, text, len, &elen, &big, &bad))) {
        if (big)
            dl_diag_pos(c, file, 0, 0, "file is larger than %d bytes after expanding variables",
                        EXPANDED_MAX);
        else if (!bad)
            c->oom = true;
        return -1;
    }
    rc = tree_parse(c, file, expanded, elen, root);
    free(expanded);
    return rc;
}
