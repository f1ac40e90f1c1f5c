/*
 * sensitive.c - secrets inside JSON documents, by key name (see
 * sensitive.h).
 */
#include "model/sensitive.h"

#include <stdlib.h>
#include <string.h>

#include "core/secrets.h"

static bool key_sensitive(const cJSON *it)
{
    return it->string && secrets_name_is_sensitive(it->string);
}

int sensitive_json_each(const cJSON *node, bool under, sensitive_leaf_fn fn, void *ud)
{
    if (!node)
        return 0;
    if (!cJSON_IsObject(node) && !cJSON_IsArray(node))
        return under ? fn(node, ud) : 0;
    for (const cJSON *it = node->child; it; it = it->next) {
        int rc = sensitive_json_each(it, under || key_sensitive(it), fn, ud);
        if (rc != 0)
            return rc;
    }
    return 0;
}

bool sensitive_json_has(const cJSON *node)
{
    if (!cJSON_IsObject(node) && !cJSON_IsArray(node))
        return false;
    for (const cJSON *it = node->child; it; it = it->next)
        if (key_sensitive(it) || sensitive_json_has(it))
            return true;
    return false;
}

/* Masks every scalar of node (which is under a sensitive key, or is one). */
static int redact_all(cJSON *parent, cJSON *node)
{
    if (cJSON_IsObject(node) || cJSON_IsArray(node)) {
        int rc = 0;
        for (cJSON *it = node->child, *next; it; it = next) {
            next = it->next;
            if (redact_all(node, it) < 0)
                rc = -1;
        }
        return rc;
    }
    if (cJSON_IsString(node) && strcmp(node->valuestring, "***") == 0)
        return 0;
    cJSON *masked = cJSON_CreateString("***");
    char *name = masked && node->string ? strdup(node->string) : NULL;
    if (!masked || (node->string && !name)) {
        /* cannot mask: drop the value rather than show it */
        cJSON_Delete(masked);
        cJSON_Delete(cJSON_DetachItemViaPointer(parent, node));
        return -1;
    }
    masked->string = name; /* cJSON_ReplaceItemViaPointer keeps no key */
    cJSON_ReplaceItemViaPointer(parent, node, masked);
    return 0;
}

int sensitive_json_redact(cJSON *node)
{
    int rc = 0;

    if (!cJSON_IsObject(node) && !cJSON_IsArray(node))
        return 0;
    for (cJSON *it = node->child, *next; it; it = next) {
        next = it->next;
        if ((key_sensitive(it) ? redact_all(node, it) : sensitive_json_redact(it)) < 0)
            rc = -1;
    }
    return rc;
}
