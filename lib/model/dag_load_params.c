/*
 * dag_load_params.c - the loader's params: YAML nodes as JSON with YAML
 * 1.1's implicit types, and Airflow Param objects.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/dag_load_int.h"

/* ------------------------------------------------------------------ */
/* params                                                              */

#define PARAMS_MAX_DEPTH 32

/*
 * A YAML node as JSON with YAML 1.1's implicit scalar types, as PyYAML
 * gives them to Airflow: null, booleans, integers, floats (a '.' is
 * needed, and a signed exponent), everything else a string. NULL with an
 * error reported.
 */
cJSON *dl_node_to_json(ctx_t *c, const ynode_t *n, int depth)
{
    cJSON *j = NULL;

    if (!dl_spend(c, 1))
        return NULL;
    if (depth > PARAMS_MAX_DEPTH) {
        ERR(c, n, "params nest deeper than %d levels", PARAMS_MAX_DEPTH);
        return NULL;
    }
    if (!n || dl_is_null(n))
        j = cJSON_CreateNull();
    else if (n->kind == Y_SEQ) {
        j = cJSON_CreateArray();
        for (size_t i = 0; j && i < n->n; i++) {
            cJSON *kid = dl_node_to_json(c, n->kids[i], depth + 1);
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
            if (dl_is_scalar(k) && !dl_spend_bytes(c, k, k->len)) {
                cJSON_Delete(j);
                return NULL;
            }
            if (!dl_is_scalar(k) || strlen(k->str) != k->len) {
                ERR(c, k, "params keys must be strings");
                cJSON_Delete(j);
                return NULL;
            }
            cJSON *kid = dl_node_to_json(c, MAP_VAL(n, i), depth + 1);
            if (!kid || !cJSON_AddItemToObject(j, k->str, kid)) {
                cJSON_Delete(kid);
                cJSON_Delete(j);
                return NULL;
            }
        }
    } else {
        bool b;
        long long iv;
        if (!dl_spend_bytes(c, n, n->len))
            return NULL;
        if (strlen(n->str) != n->len) {
            ERR(c, n, "params value contains a nul character");
            return NULL;
        }
        if (n->plain && dl_parse_bool(n, &b)) {
            j = cJSON_CreateBool(b);
        } else if (n->plain && dl_parse_int(n, &iv)) {
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
    const ynode_t *t = v && v->kind == Y_MAP ? dl_map_get(v, "__type__") : NULL;
    if (!dl_is_scalar(t))
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
        if (!(dflt = dl_node_to_json(c, v, 1)))
            goto fail;
        if (!(schema = cJSON_CreateObject()))
            goto oom;
    } else {
        const ynode_t *args = dl_map_get(v, "__args__");
        if (args && args->kind != Y_SEQ && !dl_is_null(args)) {
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
            if (dl_key_is(k, "__type__") || dl_key_is(k, "__args__"))
                continue;
            if (!dl_is_scalar(k) || strlen(k->str) != k->len) {
                ERR(c, k, "Param keys must be strings");
                goto fail;
            }
            if (!(jv = dl_node_to_json(c, val, 2)))
                goto fail;
            if (dl_key_is(k, "default")) {
                cJSON_Delete(dflt);
                dflt = jv;
            } else if (dl_key_is(k, "description")) {
                cJSON_Delete(desc);
                desc = jv;
            } else if (!cJSON_AddItemToObject(schema, k->str, jv)) {
                cJSON_Delete(jv);
                goto oom;
            }
        }
        if (args && args->kind == Y_SEQ && args->n >= 1 && !dflt &&
            !(dflt = dl_node_to_json(c, args->kids[0], 2)))
            goto fail;
        if (args && args->kind == Y_SEQ && args->n >= 2 && !desc &&
            !(desc = dl_node_to_json(c, args->kids[1], 2)))
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
bool dl_parse_params(ctx_t *c, const ynode_t *v, dag_t *dag)
{
    cJSON *params;
    char *text;
    bool ok = true;

    if (dl_is_null(v))
        return true;
    if (v->kind != Y_MAP) {
        ERR(c, v, "params must be a mapping of names to values, not %s", dl_kind_name(v));
        return false;
    }
    if (!(params = cJSON_CreateObject())) {
        c->oom = true;
        return false;
    }
    dl_warn_dups(c, v);
    for (size_t i = 0; i < MAP_PAIRS(v); i++) {
        const ynode_t *k = MAP_KEY(v, i);
        cJSON *p;
        if (!dl_is_scalar(k) || dl_is_null(k) || strlen(k->str) != k->len) {
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
