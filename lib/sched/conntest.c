/*
 * conntest.c - see conntest.h. The connection goes through its JSON form
 * (connection_to_json), the form the operators read it in, so that a test
 * builds the URL and the libpq keywords exactly as a task would
 * (model/connclient.h).
 */
#include "sched/conntest.h"

#include <curl/curl.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "core/secrets.h"
#include "core/strbuf.h"
#include "model/connclient.h"

#define TESTED "Connection successfully tested"

/* The answer body is not needed: counted, not kept. */
static size_t discard(char *data, size_t size, size_t nmemb, void *arg)
{
    (void)data;
    (void)arg;
    return size * nmemb;
}

/* An HTTP reason phrase for the usual statuses (HttpHook reports "code:reason"). */
static const char *reason_of(long code)
{
    switch (code) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "";
    }
}

static int test_http(const cJSON *conn, bool *ok, char *msg, size_t msglen)
{
    const char *login = connclient_str(conn, "login");
    const char *password = connclient_str(conn, "password");
    strbuf_t u = {0};
    char *url;
    long code = 0;
    CURLcode cc;
    CURL *h;

    connclient_http_base_url(conn, &u);
    if (!(url = strbuf_take(&u)))
        return UPDRAFT_ENOMEM;
    if (!(h = curl_easy_init())) {
        secrets_free_str(url);
        return UPDRAFT_ENOMEM;
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "updraft-conntest/1");
    curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)CONNTEST_TIMEOUT_SEC);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)CONNTEST_TIMEOUT_SEC);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    if (login) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERNAME, login);
        curl_easy_setopt(h, CURLOPT_PASSWORD, password ? password : "");
    }
    cc = curl_easy_perform(h);
    if (cc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(h);
    /* the URL may carry a password (user:pass@host) */
    secrets_free_str(url);
    *ok = cc == CURLE_OK && code < 400;
    if (cc != CURLE_OK)
        snprintf(msg, msglen, "%s", curl_easy_strerror(cc));
    else if (code >= 400)
        snprintf(msg, msglen, "%ld:%s", code, reason_of(code));
    else
        snprintf(msg, msglen, TESTED);
    return UPDRAFT_OK;
}

static int test_postgres(const cJSON *conn, bool *ok, char *msg, size_t msglen)
{
    connclient_pg_t params;
    PGconn *pg;

    if (connclient_pg_params(conn, NULL, CONNTEST_TIMEOUT_SEC, CONNTEST_TIMEOUT_SEC, &params) < 0)
        return UPDRAFT_ENOMEM;
    pg = PQconnectdbParams(params.kw, params.val, 0);
    connclient_pg_free(&params);
    if (!pg)
        return UPDRAFT_ENOMEM;
    *ok = PQstatus(pg) == CONNECTION_OK;
    if (*ok) {
        snprintf(msg, msglen, TESTED);
    } else {
        size_t n;
        snprintf(msg, msglen, "%s", PQerrorMessage(pg));
        n = strlen(msg);
        while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
            msg[--n] = '\0';
    }
    PQfinish(pg);
    return UPDRAFT_OK;
}

/* Deletes conn, its password wiped first. */
static void delete_wiped(cJSON *conn)
{
    cJSON *pw = cJSON_DetachItemFromObjectCaseSensitive(conn, "password");

    if (cJSON_IsString(pw) && pw->valuestring) {
        secrets_free_str(pw->valuestring);
        pw->valuestring = NULL;
    }
    cJSON_Delete(pw);
    cJSON_Delete(conn);
}

int conntest_run(const connection_t *c, bool *ok, char *msg, size_t msglen)
{
    const char *type = c->conn_type ? c->conn_type : "";
    cJSON *conn;
    int rc;

    *ok = false;
    if (strcasecmp(type, "http") != 0 && strcasecmp(type, "https") != 0 &&
        strcasecmp(type, "postgres") != 0) {
        snprintf(msg, msglen, "Testing connections of type '%.64s' is not supported", type);
        return UPDRAFT_OK;
    }
    if (!(conn = connection_to_json(c, true)))
        return UPDRAFT_ENOMEM;
    rc = strcasecmp(type, "postgres") == 0 ? test_postgres(conn, ok, msg, msglen)
                                           : test_http(conn, ok, msg, msglen);
    delete_wiped(conn);
    return rc;
}
