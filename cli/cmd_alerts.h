/*
 * cmd_alerts.h - `updraft alerts test CONN_ID`: one test message through a
 * Slack or webhook connection, by the code path the scheduler's alert
 * sender uses (common/alerts.h).
 */
#ifndef UPDRAFT_CLI_CMD_ALERTS_H
#define UPDRAFT_CLI_CMD_ALERTS_H

#include "common/config.h"

/* `alerts ...` (argv[0] is the group). Returns the exit status. */
int cli_alerts(const config_t *cfg, int argc, char **argv);

#endif
