/*
 * cli.h - the `updraft` command line: one function per command group.
 * Each returns the process exit status (0 ok, 1 failure, 2 usage error);
 * a library error code becomes an exit status through cli_exit_status().
 */
#ifndef UPDRAFT_CLI_H
#define UPDRAFT_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/config.h"
#include "core/db.h"
#include "core/error.h"
#include "store/dagrun.h"
#include "store/eventlog.h"

int cli_db(const config_t *cfg, int argc, char **argv);
/* `db clean` and `db drop-archived` (cmd_dbclean.c; argv[0] is the verb). */
int cli_db_clean(const config_t *cfg, int argc, char **argv);
int cli_db_drop_archived(const config_t *cfg, int argc, char **argv);
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
/* `updraft users ...` (cmd_users.c; argv[0] is the group). */
int cli_users(const config_t *cfg, int argc, char **argv);
/* `updraft roles list [-p] [-o FMT]` (cmd_users.c): the permission table, no database needed. */
int cli_roles(int argc, char **argv);
/* `updraft config list|get-value` (cli/cmd_config.c); cfg NULL only for list --markdown. */
int cli_config(const config_t *cfg, int argc, char **argv);
/*
 * A duration: seconds, or a number with s, m, h, d or w ("90m", "30d").
 * 0 with *sec, or -1.
 */
int cli_parse_duration(const char *s, int64_t *sec);

/* What the event log records of one command line (audit.c). */
typedef struct cli_audit_entry {
    char event[64];                     /* "cli_dags_trigger" */
    const char *dag_id, *run_id;        /* borrowed from argv; NULL when the command names none */
    char extra[EVENTLOG_EXTRA_MAX + 1]; /* the command line, values masked as "***" */
} cli_audit_entry_t;

/*
 * Whether argv (a whole command line: argv[1] is the group) is a command
 * that changes state, and if so what its event log row says. Option values
 * and positional arguments are masked but for a few harmless ones (DAG,
 * run, key, pool and connection ids, usernames, roles); see audit.c.
 */
bool cli_audit_describe(int argc, char **argv, cli_audit_entry_t *e);
/*
 * Writes the event log row of a command line that succeeded (nothing for
 * one that changes no state). A failure is a warning on stderr.
 */
void cli_audit(const config_t *cfg, int argc, char **argv);

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

/*
 * The exit status of a library error code (core/error.h), from one table:
 * 0 for UPDRAFT_OK, 1 for every failure, as Airflow's CLI exits. 2 is a
 * usage error (cli_usage_error), including a command's arguments that the
 * library finds malformed where the command says so (dags trigger --conf).
 */
int cli_exit_status(int err);
/* Prints "updraft: msg" on stderr; returns cli_exit_status(err). */
int cli_fail(int err, const char *msg);

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

/*
 * `GROUP import FILE`'s frame: reads path (at most CLI_MAX_IMPORT_BYTES),
 * parses it as a JSON object unless what is NULL (else "updraft: PATH:
 * invalid WHAT file (expected a JSON object)"), and runs apply(db, ring,
 * text, root, ud) in one transaction (root NULL when what is NULL; apply
 * may modify text): committed when apply returns 0, rolled back when it
 * fails (after printing why). The text is wiped, as it may hold secrets.
 * Returns 0 once committed, else 1.
 */
typedef int (*cli_import_fn)(db_t *db, const struct secrets_keyring *ring, char *text,
                             const struct cJSON *root, void *ud);
int cli_import(db_t *db, const struct secrets_keyring *ring, const char *path, const char *what,
               cli_import_fn apply, void *ud);

/*
 * `GROUP export FILE`'s end: writes text (NULL: out of memory) to path
 * (cli_write_secret_file), then a closing newline when newline, and prints
 * done on stdout unless path is "-". Returns the exit status.
 */
int cli_export(const char *path, const char *text, bool newline, const char *done);

/* A column of a listing: the header, and the member of each row object shown. */
typedef struct cli_column {
    const char *name;
    int width; /* printf field width: negative left-aligns, 0 none */
} cli_column_t;

typedef struct cli_list_layout {
    const cli_column_t *cols;
    size_t ncols;
    bool ruled; /* table: the one column's header padded to the widest cell, then a rule of '=' */
    bool plain_bars; /* plain: the rows as in the table (without the header), not tab-separated */
} cli_list_layout_t;

/*
 * `GROUP list`'s output: rows (a JSON array of objects, deleted here) in
 * fmt: json prints the array; table a header line and one line per row,
 * cells separated by " | "; plain the rows alone, cells separated by tabs.
 * A cell is a string member as is, a number as an integer, else empty.
 */
void cli_print_list(struct cJSON *rows, const char *fmt, const cli_list_layout_t *layout);

/* The messages of `GROUP delete ID`, each printed as before, the id, after. */
typedef struct cli_delete_text {
    const char *missing[2]; /* on stderr when there is no such id (exit 1) */
    const char *deleted[2]; /* on stdout once deleted */
} cli_delete_text_t;

/*
 * `GROUP delete ID` (argv[0] is the verb): del returns 0 deleted,
 * UPDRAFT_ENOTFOUND, or another code with err. Returns the exit status.
 */
int cli_delete(db_t *db, int argc, char **argv, void (*usage)(FILE *),
               int (*del)(db_t *db, const char *id, char *err, size_t errlen),
               const cli_delete_text_t *text);

/* Connects to the configured database and checks the schema; NULL with a message on stderr. */
db_t *cli_connect(const config_t *cfg, bool check_schema);

/*
 * Finds dag_id's run whose run_id is run_or_date, or else whose logical
 * date it is (ISO 8601; dagrun_find). Returns 0, UPDRAFT_ENOTFOUND, or
 * another code with the message printed.
 */
int cli_find_run(db_t *db, const char *dag_id, const char *run_or_date, dagrun_ref_t *out);

/*
 * Asks question on the terminal unless yes. 1 = go ahead, 0 = the user
 * said no, -1 = stdin is not a terminal (a message tells to pass -y).
 */
int cli_confirm(const char *question, bool yes);

/* Warns on stderr when no scheduler has heartbeated lately (runs would wait). */
void cli_warn_no_scheduler(db_t *db);

#endif
