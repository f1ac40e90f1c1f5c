/*
 * server.h - the civetweb server of updraft-webserver: options, the
 * database pool, and the run loop until a stop signal.
 */
#ifndef UPDRAFT_WEBSERVER_SERVER_H
#define UPDRAFT_WEBSERVER_SERVER_H

#include <signal.h>

#include "core/config.h"

/*
 * Serves the API on listen ("HOST:PORT", civetweb's listening_ports form)
 * with cfg->webserver.threads worker threads until *stop becomes non-zero.
 * Returns 0 after a clean stop, -1 if the server could not start (logged).
 */
int server_run(const config_t *cfg, const char *listen, volatile sig_atomic_t *stop);

#endif
