/*
 * conntest.h - testing a connection, as Airflow's Connection.test_connection
 * does through its hook (the REST API's POST /connections/test, behind
 * core.test_connection): the test reaches the system the connection names
 * and says whether that worked.
 *
 * Types tested, the ones updraft's operators use:
 *   http, https   a GET of the base URL (model/connclient.h) with libcurl,
 *                 basic authentication when a login is set, redirects not
 *                 followed: any status below 400 passes (HttpHook's
 *                 check_response), else "404:Not Found";
 *   postgres      a libpq connection with the connection's keywords,
 *                 closed at once.
 * Any other type is reported as not supported (status false). The
 * program calls curl_global_init before it starts threads.
 */
#ifndef UPDRAFT_SCHED_CONNTEST_H
#define UPDRAFT_SCHED_CONNTEST_H

#include <stdbool.h>
#include <stddef.h>

#include "model/connuri.h"

#define CONNTEST_TIMEOUT_SEC 10 /* the longest a test may take (connect and answer) */

/*
 * Tests c within CONNTEST_TIMEOUT_SEC: *ok and the message Airflow's
 * ConnectionTest carries (msg, msglen bytes: "Connection successfully
 * tested", or why not; never the password). 0, or UPDRAFT_ENOMEM.
 */
int conntest_run(const connection_t *c, bool *ok, char *msg, size_t msglen);

#endif
