/*
 * migrate.h - the SQL migrations compiled into every binary
 * (generated from proto/migrations/NNNN_name.sql by embed-migrations.sh).
 */
#ifndef UPDRAFT_MIGRATE_H
#define UPDRAFT_MIGRATE_H

typedef struct migration {
    int version;
    const char *name;
    const char *sql;
} migration_t;

extern const migration_t migrations[];
extern const int migrations_count;

#endif
