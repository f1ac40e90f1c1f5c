/*
 * roles.c - the permission table (see roles.h). Airflow's default roles,
 * as its security manager builds them: Viewer reads, User also changes
 * DAGs, runs and task instances, Op also the variables, connections,
 * pools and configuration, Admin also users and roles.
 */
#include "model/roles.h"

#include <strings.h>

static const char *const role_names[ROLE__COUNT] = {"Public", "Viewer", "User", "Op", "Admin"};

static const char *const action_names[ACT__COUNT] = {"", "can_read", "can_edit", "can_create",
                                                     "can_delete"};

static const char *const resource_names[RES__COUNT] = {
    "",      "DAGs",        "DAG Code",   "DAG Runs",  "Task Instances", "Task Logs",      "XComs",
    "Pools", "ImportError", "Audit Logs", "Variables", "Connections",    "Configurations", "Users",
    "Roles", "Permissions", "Website",    "Jobs",
};

/* Ordered by resource, then action. */
static const perm_t table[] = {
    {ACT_READ, RES_DAGS, ROLE_VIEWER},
    {ACT_EDIT, RES_DAGS, ROLE_USER},
    {ACT_DELETE, RES_DAGS, ROLE_USER},
    {ACT_READ, RES_DAG_CODE, ROLE_VIEWER},
    {ACT_READ, RES_DAG_RUNS, ROLE_VIEWER},
    {ACT_EDIT, RES_DAG_RUNS, ROLE_USER},
    {ACT_CREATE, RES_DAG_RUNS, ROLE_USER},
    {ACT_DELETE, RES_DAG_RUNS, ROLE_USER},
    {ACT_READ, RES_TASK_INSTANCES, ROLE_VIEWER},
    {ACT_EDIT, RES_TASK_INSTANCES, ROLE_USER},
    {ACT_CREATE, RES_TASK_INSTANCES, ROLE_USER},
    {ACT_DELETE, RES_TASK_INSTANCES, ROLE_USER},
    {ACT_READ, RES_TASK_LOGS, ROLE_VIEWER},
    {ACT_READ, RES_XCOMS, ROLE_VIEWER},
    {ACT_CREATE, RES_XCOMS, ROLE_OP},
    {ACT_DELETE, RES_XCOMS, ROLE_OP},
    {ACT_READ, RES_POOLS, ROLE_VIEWER},
    {ACT_EDIT, RES_POOLS, ROLE_OP},
    {ACT_CREATE, RES_POOLS, ROLE_OP},
    {ACT_DELETE, RES_POOLS, ROLE_OP},
    {ACT_READ, RES_IMPORT_ERRORS, ROLE_VIEWER},
    {ACT_READ, RES_AUDIT_LOGS, ROLE_VIEWER},
    {ACT_READ, RES_VARIABLES, ROLE_OP},
    {ACT_EDIT, RES_VARIABLES, ROLE_OP},
    {ACT_CREATE, RES_VARIABLES, ROLE_OP},
    {ACT_DELETE, RES_VARIABLES, ROLE_OP},
    {ACT_READ, RES_CONNECTIONS, ROLE_OP},
    {ACT_EDIT, RES_CONNECTIONS, ROLE_OP},
    {ACT_CREATE, RES_CONNECTIONS, ROLE_OP},
    {ACT_DELETE, RES_CONNECTIONS, ROLE_OP},
    {ACT_READ, RES_CONFIG, ROLE_OP},
    {ACT_READ, RES_USERS, ROLE_ADMIN},
    {ACT_EDIT, RES_USERS, ROLE_ADMIN},
    {ACT_CREATE, RES_USERS, ROLE_ADMIN},
    {ACT_DELETE, RES_USERS, ROLE_ADMIN},
    {ACT_READ, RES_ROLES, ROLE_ADMIN},
    {ACT_READ, RES_PERMISSIONS, ROLE_ADMIN},
    {ACT_READ, RES_WEBSITE, ROLE_VIEWER},
    {ACT_READ, RES_JOBS, ROLE_VIEWER},
};

const char *roles_name(role_t role)
{
    return role < ROLE__COUNT ? role_names[role] : "";
}

const char *roles_action_name(perm_action_t action)
{
    return action < ACT__COUNT ? action_names[action] : "";
}

const char *roles_resource_name(perm_resource_t resource)
{
    return resource < RES__COUNT ? resource_names[resource] : "";
}

int roles_parse(const char *name)
{
    for (int i = 0; name && i < ROLE__COUNT; i++)
        if (strcasecmp(name, role_names[i]) == 0)
            return i;
    return -1;
}

role_t roles_min_role(perm_action_t action, perm_resource_t resource)
{
    if (action == ACT_NONE)
        return ROLE_PUBLIC;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (table[i].action == action && table[i].resource == resource)
            return table[i].min_role;
    return ROLE__COUNT;
}

bool roles_allow(role_mask_t roles, perm_action_t action, perm_resource_t resource)
{
    role_t min = roles_min_role(action, resource);

    if (min == ROLE_PUBLIC)
        return true;
    /* The roles nest: holding any role at or above min is enough. */
    for (int r = (int)min; r < ROLE__COUNT; r++)
        if (roles & ROLE_BIT(r))
            return true;
    return false;
}

const perm_t *roles_table(size_t *n)
{
    *n = sizeof(table) / sizeof(table[0]);
    return table;
}
