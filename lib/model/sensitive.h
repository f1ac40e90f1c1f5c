/*
 * sensitive.h - the secrets inside a JSON document, found by key name at
 * any depth, as Airflow's secrets masker finds them.
 *
 * A key is sensitive when secrets_name_is_sensitive (core/secrets.h) says
 * so: password, secret, token, api_key, ... anywhere in the name. Every
 * value under a sensitive key is secret, the whole subtree included: in
 *
 *     {"db": {"host": "h", "password": "p1"}, "auth": {"token": ["t1", {"x": "t2"}]},
 *      "private_key": {"pem": "k1", "bits": 2048}}
 *
 * the secret values are "p1", "t1", "t2", "k1" and 2048; "h" is not. A
 * list keeps the name of the key that holds it. The callers are the
 * template engine (what a render prints), the task's log masks (a run's
 * conf, the connections handed to the operator runner) and the REST API
 * (a connection's extra as answered).
 *
 * Depth is bounded by cJSON's parser (CJSON_NESTING_LIMIT).
 */
#ifndef UPDRAFT_SENSITIVE_H
#define UPDRAFT_SENSITIVE_H

#include <cjson/cJSON.h>
#include <stdbool.h>

/* Called for each secret scalar (string, number, boolean or null); nonzero stops the walk. */
typedef int (*sensitive_leaf_fn)(const cJSON *leaf, void *ud);

/*
 * Calls fn for every scalar of node that sits under a sensitive key; under
 * true treats node itself as under one. Returns 0, or the first nonzero
 * value fn returned.
 */
int sensitive_json_each(const cJSON *node, bool under, sensitive_leaf_fn fn, void *ud);

/* True when node holds a sensitive key at any depth. */
bool sensitive_json_has(const cJSON *node);

/*
 * Replaces every scalar under a sensitive key with the string "***",
 * keeping the shape of objects and lists. 0, or -1 when out of memory
 * (then the values not yet replaced are emptied or removed: a secret is
 * never left in place).
 */
int sensitive_json_redact(cJSON *node);

#endif
