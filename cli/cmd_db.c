/*
 * cmd_db.c - `updraft db ...` and the shared database connection helper.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

db_t *cli_connect(const config_t *cfg, bool check_schema)
{
    char err[512], masked[512];
    db_target_t t;
    config_db_target(cfg, &t);
    db_t *db = db_open(&t, err, sizeof(err));
    if (!db) {
        config_mask_url(cfg->database.url, masked, sizeof(masked));
        fprintf(stderr, "updraft: cannot connect to the database %s: %s\n", masked, err);
        return NULL;
    }
    if (check_schema && db_check_schema(db, err, sizeof(err)) != 0) {
        fprintf(stderr, "updraft: %s\n", err);
        db_close(db);
        return NULL;
    }
    return db;
}

int cli_db(const config_t *cfg, int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: updraft db migrate|check|clean|drop-archived\n");
        return 2;
    }
    if (!strcmp(argv[1], "migrate")) {
        db_t *db = cli_connect(cfg, false);
        if (!db)
            return 1;
        int applied = 0;
        int rc = db_migrate(db, &applied);
        if (rc != 0)
            fprintf(stderr, "updraft: migration failed: %s\n", db_error(db));
        else
            printf("database migrated (%d migration%s applied)\n", applied,
                   applied == 1 ? "" : "s");
        db_close(db);
        return rc == 0 ? 0 : 1;
    }
    if (!strcmp(argv[1], "check")) {
        db_t *db = cli_connect(cfg, true);
        if (!db)
            return 1;
        db_close(db);
        printf("database ok\n");
        return 0;
    }
    if (!strcmp(argv[1], "clean"))
        return cli_db_clean(cfg, argc - 1, argv + 1);
    if (!strcmp(argv[1], "drop-archived"))
        return cli_db_drop_archived(cfg, argc - 1, argv + 1);
    fprintf(stderr, "updraft: unknown db command '%s'\n", argv[1]);
    return 2;
}
