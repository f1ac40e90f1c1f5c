/*
 * roles.h - Airflow's roles and the one table of who may do what.
 *
 * A permission is an (action, resource) pair with Airflow's names
 * ("can_read" on "DAG Runs"). The five roles are Airflow's defaults and
 * nest as they do there: Public (nothing) < Viewer (reads) < User (also
 * changes runs and task instances) < Op (also variables, connections,
 * pools, configuration) < Admin (also users and roles); Viewer also
 * reads the jobs (the schedulers and workers alive). The table in
 * roles.c gives each permission the lowest role that has it; a user with
 * several roles has every permission of each. Every API route names the
 * permission it needs (webserver/api.c), and docs/security.md prints the
 * table (`updraft roles list -p`).
 */
#ifndef UPDRAFT_ROLES_H
#define UPDRAFT_ROLES_H

#include <stdbool.h>
#include <stddef.h>

typedef enum role { ROLE_PUBLIC, ROLE_VIEWER, ROLE_USER, ROLE_OP, ROLE_ADMIN, ROLE__COUNT } role_t;

/* A set of roles: bit (1u << role). */
typedef unsigned role_mask_t;
#define ROLE_BIT(r) (1u << (r))

typedef enum perm_action {
    ACT_NONE, /* no permission needed (the public routes) */
    ACT_READ,
    ACT_EDIT,
    ACT_CREATE,
    ACT_DELETE,
    ACT__COUNT
} perm_action_t;

typedef enum perm_resource {
    RES_NONE,
    RES_DAGS,
    RES_DAG_CODE,
    RES_DAG_RUNS,
    RES_TASK_INSTANCES,
    RES_TASK_LOGS,
    RES_XCOMS,
    RES_POOLS,
    RES_IMPORT_ERRORS,
    RES_AUDIT_LOGS,
    RES_VARIABLES,
    RES_CONNECTIONS,
    RES_CONFIG,
    RES_USERS,
    RES_ROLES,
    RES_PERMISSIONS,
    RES_WEBSITE,
    RES_JOBS,
    RES__COUNT
} perm_resource_t;

typedef struct perm {
    perm_action_t action;
    perm_resource_t resource;
    role_t min_role; /* the lowest role that has it */
} perm_t;

/* Airflow's name of a role ("Viewer"), action ("can_read"), resource ("DAG Runs"). */
const char *roles_name(role_t role);
const char *roles_action_name(perm_action_t action);
const char *roles_resource_name(perm_resource_t resource);

/* The role named name (case-insensitive), or -1. */
int roles_parse(const char *name);

/* Whether a caller holding roles may do action on resource (ACT_NONE: always). */
bool roles_allow(role_mask_t roles, perm_action_t action, perm_resource_t resource);

/* The lowest role that may do action on resource; ROLE__COUNT when none may. */
role_t roles_min_role(perm_action_t action, perm_resource_t resource);

/* The table itself: *n rows, ordered by resource then action. */
const perm_t *roles_table(size_t *n);

#endif
