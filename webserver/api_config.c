/*
 * api_config.c - GET /api/v1/config (Airflow 2's get_config): the
 * configuration the webserver runs with, section by section, in the Config
 * shape ({"sections": [{"name", "options": [{"key", "value"}]}]}) or, when
 * the client prefers text/plain, as Airflow's text ("[core]\nkey = value").
 *
 * Values come from core/config.h's key table through config_visit, which
 * replaces every secret that has a value (the database and Redis URLs, the
 * Fernet keys) with "< hidden >", as Airflow's expose_config =
 * non-sensitive-only does; the masking is the table's, not this file's.
 * Every value is a string, as in Airflow.
 */
#include "webserver/api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/strbuf.h"
#include "webserver/http.h"

/* What the visitor writes into: one of the two forms, one section or all. */
typedef struct config_out {
    const char *only;    /* the section asked for, NULL: every section */
    const char *current; /* the section being written */
    bool text;
    jsonw_t w;
    strbuf_t sb;
    bool found;
} config_out_t;

static void close_section(config_out_t *o)
{
    if (!o->current || o->text)
        return;
    jsonw_arr_end(&o->w);
    jsonw_obj_end(&o->w);
}

static void write_option(const char *section, const char *key, const char *value, bool is_string,
                         void *arg)
{
    config_out_t *o = arg;

    (void)is_string;
    if (o->only && strcmp(o->only, section) != 0)
        return;
    o->found = true;
    if (o->current != section) {
        close_section(o);
        if (o->text) {
            /* Airflow joins the sections with a blank line. */
            strbuf_printf(&o->sb, "%s[%s]\n", o->current ? "\n" : "", section);
        } else {
            jsonw_obj_begin(&o->w);
            jsonw_key(&o->w, "name");
            jsonw_str(&o->w, section);
            jsonw_key(&o->w, "options");
            jsonw_arr_begin(&o->w);
        }
        o->current = section;
    }
    if (o->text) {
        strbuf_printf(&o->sb, "%s = %s\n", key, value);
        return;
    }
    jsonw_obj_begin(&o->w);
    jsonw_key(&o->w, "key");
    jsonw_str(&o->w, key);
    jsonw_key(&o->w, "value");
    jsonw_str(&o->w, value);
    jsonw_obj_end(&o->w);
}

/* Sends the text form of o; the status sent. */
static int send_text(api_req_t *r, config_out_t *o)
{
    char *body = strbuf_take(&o->sb);

    if (!body) {
        http_send_problem(r->conn, 500, NULL, "out of memory");
        return 500;
    }
    http_send(r->conn, 200, "text/plain", body, strlen(body));
    free(body);
    return 200;
}

int api_get_config(api_req_t *r)
{
    config_out_t o = {.only = httpq_get(&r->q, "section"), .text = http_prefers_text(r->conn)};
    int status, rc;

    if (o.only && !*o.only)
        o.only = NULL; /* as Airflow: an empty section is every section */
    if (!o.text) {
        jsonw_init(&o.w, 4096);
        jsonw_obj_begin(&o.w);
        jsonw_key(&o.w, "sections");
        jsonw_arr_begin(&o.w);
    }
    rc = config_visit(r->api->cfg, CONFIG_HIDDEN, write_option, &o);
    close_section(&o);
    if (rc < 0) {
        status = api_send_json(r, 500, NULL);
    } else if (o.only && !o.found) {
        status = api_not_found(r, "section not found.", "section=%s not found.", o.only);
    } else if (o.text) {
        status = send_text(r, &o);
    } else {
        jsonw_arr_end(&o.w);
        jsonw_obj_end(&o.w);
        status = api_send_jsonw(r, &o.w);
    }
    if (!o.text)
        jsonw_free(&o.w);
    strbuf_free(&o.sb);
    return status;
}
