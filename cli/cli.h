/*
 * cli.h - the `updraft` command line: one function per command group.
 * Each returns the process exit status (0 ok, 1 failure, 2 usage error).
 */
#ifndef UPDRAFT_CLI_H
#define UPDRAFT_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/config.h"
#include "core/db.h"

int cli_db(const config_t *cfg, int argc, char **argv);
int cli_dags(const config_t *cfg, int argc, char **argv);
int cli_standalone(const char *argv0, int argc, char **argv);
int cli_tasks(const config_t *cfg, int argc, char **argv);
/* `dags backfill`, `dags test` and `dags state` (argv after the verb). */
int cli_dags_backfill(const config_t *cfg, int argc, char **argv);
int cli_dags_test(const config_t *cfg, int argc, char **argv);
int cli_dags_state(const config_t *cfg, int argc, char **argv);

/* `variables ...`, `connections ...` and `rotate-fernet-key` (argv[0] is the group). */
int cli_variables(const config_t *cfg, int argc, char **argv);
int cli_connections(const config_t *cfg, int argc, char **argv);
int cli_rotate_fernet_key(const config_t *cfg, int argc, char **argv);
/* `pools list|get|set|delete|import|export` (argv[0] is the group). */
int cli_pools(const config_t *cfg, int argc, char **argv);
/* `updraft alerts test CONN_ID` (cmd_alerts.c): one test message through the alert code path. */
int cli_alerts(const config_t *cfg, int argc, char **argv);
/* `updraft jobs check` (cmd_jobs.c). */
int cli_jobs(const config_t *cfg, int argc, char **argv);

/* The keyring of core.fernet_key (possibly empty); NULL with a message on stderr. */
struct secrets_keyring *cli_keyring(const config_t *cfg);
/* The largest file `variables import` / `connections import` read. */
#define CLI_MAX_IMPORT_BYTES (64 << 20)
/* A whole file ("-" = stdin) up to max bytes, NUL-terminated; NULL with a message. */
char *cli_read_file(const char *path, size_t max, size_t *len);
/*
 * Writes text to path ("-" = stdout) created with mode 0600, as it may hold
 * secrets; text NULL appends the closing newline. 0, or -1 with a message.
 */
int cli_write_secret_file(const char *path, const char *text);

/* Prints usage on stderr; returns 2, the exit status of a usage error. */
int cli_usage_error(void (*usage)(FILE *));
/*
 * Finds "--name VALUE", "--name=VALUE" or "-s VALUE" (s may be NULL) at
 * argv[*i]; on a match *out is the value and *i moves past it.
 */
bool cli_opt_value(int argc, char **argv, int *i, const char *s, const char *name,
                   const char **out);
/*
 * Takes arg as the one FILE argument ("-" allowed): false when arg is an
 * option or *path is already set (a usage error).
 */
bool cli_take_path(const char *arg, const char **path);
/* True for table, json or plain; otherwise false with a message on stderr. */
bool cli_valid_output(const char *fmt);
/* Prints item as indented JSON (fallback when item is NULL or on OOM) and deletes it. */
struct cJSON;
void cli_print_json(struct cJSON *item, const char *fallback);

/* One verb of a command group that needs the keyring and the database. */
typedef struct cli_verb {
    const char *name;
    /* argv[0] is the verb; returns the exit status */
    int (*run)(db_t *db, const struct secrets_keyring *ring, int argc, char **argv);
} cli_verb_t;

/*
 * Runs `updraft GROUP VERB ...` (argv[0] is the group): no verb or -h/--help
 * prints usage, an unknown verb is a usage error; otherwise loads the
 * keyring, connects (schema checked), runs the verb and closes both.
 * Returns the exit status.
 */
int cli_run_verb(const config_t *cfg, const char *group, const cli_verb_t *verbs, size_t nverbs,
                 void (*usage)(FILE *), int argc, char **argv);

/* The messages of `GROUP delete ID`, each printed as before, the id, after. */
typedef struct cli_delete_text {
    const char *missing[2]; /* on stderr when there is no such id (exit 1) */
    const char *deleted[2]; /* on stdout once deleted */
} cli_delete_text_t;

/*
 * `GROUP delete ID` (argv[0] is the verb): del returns 1 deleted, 0 not
 * found, -1 error with err. Returns the exit status.
 */
int cli_delete(db_t *db, int argc, char **argv, void (*usage)(FILE *),
               int (*del)(db_t *db, const char *id, char *err, size_t errlen),
               const cli_delete_text_t *text);

/* Connects to the configured database and checks the schema; NULL with a message on stderr. */
db_t *cli_connect(const config_t *cfg, bool check_schema);

/* A DAG run found by run id or logical date. */
typedef struct cli_run {
    int64_t id;
    char run_id[256];
    char state[16];
    int64_t logical_date; /* microseconds since the epoch, UTC */
} cli_run_t;

/*
 * Finds dag_id's run whose run_id is run_or_date, or else whose logical
 * date it is (ISO 8601). Returns 1 (found), 0 (none), -1 (database error,
 * printed).
 */
int cli_find_run(db_t *db, const char *dag_id, const char *run_or_date, cli_run_t *out);

/*
 * Asks question on the terminal unless yes. 1 = go ahead, 0 = the user
 * said no, -1 = stdin is not a terminal (a message tells to pass -y).
 */
int cli_confirm(const char *question, bool yes);

/* Warns on stderr when no scheduler has heartbeated lately (runs would wait). */
void cli_warn_no_scheduler(db_t *db);

#endif
