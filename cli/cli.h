/*
 * cli.h - the `updraft` command line: one function per command group.
 * Each returns the process exit status (0 ok, 1 failure, 2 usage error).
 */
#ifndef UPDRAFT_CLI_H
#define UPDRAFT_CLI_H

#include "common/config.h"
#include "common/db.h"

int cli_db(const config_t *cfg, int argc, char **argv);
int cli_dags(const config_t *cfg, int argc, char **argv);
int cli_standalone(const char *argv0, int argc, char **argv);

/* Connects to the configured database and checks the schema; NULL with a message on stderr. */
db_t *cli_connect(const config_t *cfg, bool check_schema);

#endif
