/*
 * updraft - the operator's command line, with Airflow's verbs:
 *
 *   updraft db migrate | check | clean ... | drop-archived [-t T] [-y]
 *   updraft dags list [-o table|json] | list-import-errors | validate PATH...
 *   updraft dags trigger DAG_ID [--conf JSON] [--run-id ID] [--logical-date TS]
 *   updraft dags pause DAG_ID | unpause DAG_ID
 *   updraft dags backfill DAG_ID -s DATE -e DATE [...] | test DAG_ID [DATE] | state DAG_ID RUN
 *   updraft tasks clear DAG_ID [...] | state DAG_ID TASK_ID RUN
 *   updraft variables get|set|delete|list|import|export ...
 *   updraft pools list|get|set|delete|import|export ...
 *   updraft jobs check [--job-type T] [--hostname H] [--limit N] [--allow-multiple]
 *   updraft connections get|add|delete|list|import|export ...
 *   updraft users create|list|delete|reset-password|add-role|remove-role|token ...
 *   updraft roles list [-p]
 *   updraft rotate-fernet-key
 *   updraft alerts test CONN_ID
 *   updraft metrics list --markdown
 *   updraft standalone
 *   updraft version
 *
 * Single-threaded; every command opens what it needs and exits. A command
 * that changes state and succeeds leaves one row in the event log
 * (cli_audit, audit.c), written here and nowhere else.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/version.h"

static void usage(FILE *f)
{
    fputs("usage: updraft [--config PATH] [--print-config] COMMAND ...\n"
          "\n"
          "commands:\n"
          "  db migrate                 apply the schema migrations\n"
          "  db check                   exit 0 when the database is reachable and migrated\n"
          "  db clean --clean-before-timestamp TS [-t TABLE,...] [--dry-run] [--skip-archive]\n"
          "                [--batch-size N] [-y]   purge old rows (updraft db clean -h)\n"
          "  db drop-archived [-t TABLE,...] [-y]  drop the tables db clean archived into\n"
          "  dags list [-o table|json]  list the DAGs in the database\n"
          "  dags list-import-errors    list DAG files that failed to load\n"
          "  dags validate PATH...      check DAG files (no database needed)\n"
          "  dags trigger DAG_ID [--conf JSON] [--run-id ID] [--logical-date TS]\n"
          "  dags pause DAG_ID | dags unpause DAG_ID\n"
          "  dags backfill DAG_ID --start-date D --end-date D [--reset-dagruns]\n"
          "                [--rerun-failed-tasks] [--run-backwards] [--dry-run] [-y]\n"
          "  dags test DAG_ID [LOGICAL_DATE]  run one DAG run in the foreground, printing logs\n"
          "  dags state DAG_ID RUN_ID_OR_DATE\n"
          "  tasks clear DAG_ID [-t REGEX] [-s START] [-e END] [--downstream] [--upstream]\n"
          "                [--only-failed] [-y]\n"
          "  tasks state DAG_ID TASK_ID RUN_ID_OR_DATE\n"
          "  variables get|set|delete|list|import|export ...   (updraft variables -h)\n"
          "  connections get|add|delete|list|import|export ... (updraft connections -h)\n"
          "  pools list|get|set|delete|import|export ...       (updraft pools -h)\n"
          "  users create|list|delete|reset-password|add-role|remove-role|token ...\n"
          "                             users, passwords and API tokens (updraft users -h)\n"
          "  roles list [-p]            the roles and their permissions\n"
          "  jobs check [--job-type T] [--hostname H]          (updraft jobs -h)\n"
          "  config list [--defaults|--markdown] | config get-value SECTION KEY\n"
          "  metrics list --markdown    the metric table of docs/metrics.md\n"
          "                             the settings in effect (secrets hidden)\n"
          "  rotate-fernet-key          re-encrypt every secret with the first core.fernet_key\n"
          "  alerts test CONN_ID        send a test alert through a Slack or webhook connection\n"
          "  standalone                 private Postgres + Redis and every daemon, for trying "
          "updraft\n"
          "  version                    print the release (and, with -v, the commit built from)\n",
          f);
}

int main(int argc, char **argv)
{
    config_t cfg;
    log_init("cli", LOG_LEVEL_WARN);
    if (argc >= 2 &&
        (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))) {
        usage(stdout);
        return 0;
    }
    /* version, standalone and validate work before any config or database exists. */
    if (argc >= 2 && !strcmp(argv[1], "version")) {
        const char *git = updraft_git_version();
        printf("%s\n", updraft_version());
        if (argc >= 3 && (!strcmp(argv[2], "-v") || !strcmp(argv[2], "--verbose")))
            printf("git_version: %s\n", git ? git : "unknown");
        return 0;
    }
    if (argc >= 2 && !strcmp(argv[1], "standalone"))
        return cli_standalone(argv[0], argc - 1, argv + 1);
    /* The key reference is made from the key table alone (the docs' build). */
    if (argc == 4 && !strcmp(argv[1], "config") && !strcmp(argv[2], "list") &&
        !strcmp(argv[3], "--markdown"))
        return cli_config(NULL, argc - 1, argv + 1);
    /* The metric table of docs/metrics.md, from the table in core/metrics.c. */
    if (argc == 4 && !strcmp(argv[1], "metrics") && !strcmp(argv[2], "list") &&
        !strcmp(argv[3], "--markdown"))
        return metrics_write_markdown(stdout) == 0 && fflush(stdout) == 0 ? 0 : 1;
    int rc = config_from_args(&argc, argv, &cfg);
    if (rc != 0)
        return rc > 0 ? 0 : 1;
    log_level_t lvl;
    if (log_parse_level(cfg.logging.level, &lvl) == 0 && lvl > LOG_LEVEL_WARN)
        log_set_level(lvl);
    if (argc < 2) {
        usage(stderr);
        config_free(&cfg);
        return 2;
    }
    if (!strcmp(argv[1], "db"))
        rc = cli_db(&cfg, argc - 1, argv + 1);
    else if (!strcmp(argv[1], "dags"))
        rc = cli_dags(&cfg, argc - 1, argv + 1);
    else if (!strcmp(argv[1], "tasks"))
        rc = cli_tasks(&cfg, argc - 1, argv + 1);
    else if (!strcmp(argv[1], "variables"))
        rc = cli_variables(&cfg, argc - 1, argv + 1);
    else if (!strcmp(argv[1], "connections"))
        rc = cli_connections(&cfg, argc - 1, argv + 1);
    else if (!strcmp(argv[1], "pools"))
        rc = cli_pools(&cfg, argc - 1, argv + 1);
    else if (!strcmp(argv[1], "jobs"))
        rc = cli_jobs(&cfg, argc - 1, argv + 1);
    else if (!strcmp(argv[1], "rotate-fernet-key"))
        rc = cli_rotate_fernet_key(&cfg, argc - 1, argv + 1);
    else if (!strcmp(argv[1], "alerts"))
        rc = cli_alerts(&cfg, argc - 1, argv + 1);
    else if (!strcmp(argv[1], "users"))
        rc = cli_users(&cfg, argc - 1, argv + 1);
    else if (!strcmp(argv[1], "config"))
        rc = cli_config(&cfg, argc - 1, argv + 1);
    else if (!strcmp(argv[1], "roles"))
        rc = cli_roles(argc - 1, argv + 1);
    else {
        fprintf(stderr, "updraft: unknown command '%s'\n", argv[1]);
        usage(stderr);
        rc = 2;
    }
    if (rc == 0)
        cli_audit(&cfg, argc, argv);
    config_free(&cfg);
    return rc;
}
