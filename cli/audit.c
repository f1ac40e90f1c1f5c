/*
 * audit.c - the event log of the command line: after a command that
 * changes state succeeds, main() calls cli_audit(), which writes one
 * event_log row ("cli_<group>_<verb>", the OS user, the DAG and run the
 * command names, and the command line with its values masked).
 *
 * Which commands change state, and how each one's arguments read, is the
 * table below, one row a command. The command line in extra shows the
 * options and their values only where a value is harmless (a DAG id, a
 * run id, a username, a role...); every other value is "***". What the
 * table does not know is masked too: an option it does not list has its
 * name and value masked, and after it no positional argument is shown
 * (the table may have missed that the option takes no value). A new flag
 * of a command costs a row edit here, never a leak.
 *
 * A failed write is a warning on stderr: the command's change is done and
 * its exit status stands.
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "store/eventlog.h"

#define MASK "***"

typedef struct audit_rule {
    const char *words;       /* the command after "updraft" */
    int shown;               /* leading positional arguments shown (ids of DAGs, keys, pools) */
    bool dag_first;          /* the first positional argument is a DAG id */
    const char *flags;       /* " a b ": its options that take no value */
    const char *shown_opts;  /* its options whose value is shown */
    const char *masked_opts; /* its other options that take a value */
    const char *run_opts;    /* the options that name a run id */
} audit_rule_t;

#define NO " "
static const audit_rule_t rules[] = {
    {"dags trigger", 1, true, NO, " -r --run-id ", " -c --conf -e --logical-date --exec-date ",
     " -r --run-id "},
    {"dags pause", 1, true, NO, NO, NO, NO},
    {"dags unpause", 1, true, NO, NO, NO, NO},
    {"dags backfill", 1, true,
     " --reset-dagruns --rerun-failed-tasks -B --run-backwards --dry-run -y --yes ", NO,
     " -s --start-date -e --end-date ", NO},
    {"dags test", 1, true, NO, NO, NO, NO},
    {"tasks clear", 1, true, " -d --downstream -u --upstream -f --only-failed -y --yes ",
     " -t --task-regex ", " -s --start-date -e --end-date ", NO},
    {"variables set", 1, false, " -j --json ", NO, " --description ", NO},
    {"variables delete", 1, false, NO, NO, NO, NO},
    {"variables import", 0, false, NO, " -a --action-on-existing-key ", NO, NO},
    {"connections add", 1, false, NO, " --conn-type ",
     " --conn-uri --conn-json --conn-host --conn-login --conn-password --conn-port --conn-schema"
     " --conn-extra --conn-description ",
     NO},
    {"connections delete", 1, false, NO, NO, NO, NO},
    {"connections import", 0, false, " --overwrite ", NO, NO, NO},
    {"pools set", 1, false, " --include-deferred ", NO, NO, NO},
    {"pools delete", 1, false, NO, NO, NO, NO},
    {"pools import", 0, false, NO, NO, NO, NO},
    {"rotate-fernet-key", 0, false, NO, NO, NO, NO},
    {"db clean", 0, false, " --dry-run --skip-archive -y --yes -v --verbose ",
     " --clean-before-timestamp -t --tables --batch-size ", NO, NO},
    {"db drop-archived", 0, false, " -y --yes ", " -t --tables ", NO, NO},
    {"users create", 0, false, " --use-random-password ", " -u --username -r --role ",
     " -f --firstname -l --lastname -e --email -p --password ", NO},
    {"users delete", 0, false, NO, " -u --username ", NO, NO},
    {"users reset-password", 0, false, " --use-random-password ", " -u --username ",
     " -p --password ", NO},
    {"users add-role", 0, false, NO, " -u --username -r --role ", NO, NO},
    {"users remove-role", 0, false, NO, " -u --username -r --role ", NO, NO},
    {"users token create", 0, false, NO, " -u --username --expires-in ", NO, NO},
    {"users token revoke", 0, false, NO, " -u --username --id ", NO, NO},
};

/* Whether name is one of list's space-separated words (list starts and ends with a space). */
static bool in_list(const char *list, const char *name, size_t n)
{
    for (const char *p = list; (p = strstr(p, " ")) && p[1]; p++)
        if (strncmp(p + 1, name, n) == 0 && p[1 + n] == ' ')
            return true;
    return false;
}

/* How many of argv's words the rule's command takes (0: it is not this command). */
static int match_words(const audit_rule_t *r, int argc, char **argv)
{
    const char *w = r->words;
    int k = 0;

    while (*w) {
        size_t n = strcspn(w, " ");
        if (k >= argc || strlen(argv[k]) != n || strncmp(argv[k], w, n) != 0)
            return 0;
        k++;
        w += n;
        w += *w == ' ';
    }
    return k;
}

/* Appends s (NULL: nothing) and a space before it when the text is not empty; cut at the end. */
static void put(char *out, size_t outlen, size_t *len, const char *s, size_t n)
{
    if (*len + 1 >= outlen)
        return;
    if (*len > 0)
        out[(*len)++] = ' ';
    if (n > outlen - 1 - *len)
        n = outlen - 1 - *len;
    memcpy(out + *len, s, n);
    *len += n;
    out[*len] = '\0';
}

/* Appends "name=value" or "name value" with value shown or masked. */
static void put_option(char *out, size_t outlen, size_t *len, const char *name, size_t n,
                       const char *value, bool eq, bool show)
{
    char buf[128];
    const char *v = show ? value : MASK;

    if (!eq) {
        put(out, outlen, len, name, n);
        put(out, outlen, len, v, strlen(v));
        return;
    }
    if (n > sizeof(buf) - 2)
        n = sizeof(buf) - 2;
    memcpy(buf, name, n);
    buf[n] = '=';
    buf[n + 1] = '\0';
    put(out, outlen, len, buf, n + 1);
    /* glue the value to its '=' */
    if (*len + strlen(v) < outlen) {
        memcpy(out + *len, v, strlen(v) + 1);
        *len += strlen(v);
    }
}

bool cli_audit_describe(int argc, char **argv, cli_audit_entry_t *e)
{
    const audit_rule_t *r = NULL;
    int words = 0, positional = 0;
    bool certain = true;
    size_t len = 0;

    memset(e, 0, sizeof(*e));
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]) && !r; i++)
        if ((words = match_words(&rules[i], argc - 1, argv + 1)) > 0)
            r = &rules[i];
    if (!r)
        return false;
    /* Help and dry runs change nothing. */
    for (int i = 1 + words; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help") || !strcmp(argv[i], "--dry-run"))
            return false;
    snprintf(e->event, sizeof(e->event), "cli_%s", r->words);
    for (char *c = e->event; *c; c++)
        if (*c == ' ' || *c == '-')
            *c = '_';
    put(e->extra, sizeof(e->extra), &len, "updraft", 7);
    put(e->extra, sizeof(e->extra), &len, r->words, strlen(r->words));
    for (int i = 1 + words; i < argc; i++) {
        const char *a = argv[i], *eq = strchr(a, '=');
        size_t n = eq ? (size_t)(eq - a) : strlen(a);
        if (a[0] != '-' || a[1] == '\0') {
            bool show = certain && positional < r->shown;
            if (positional == 0 && r->dag_first)
                e->dag_id = a;
            positional++;
            put(e->extra, sizeof(e->extra), &len, show ? a : MASK, show ? strlen(a) : 3);
        } else if (!eq && in_list(r->flags, a, n)) {
            put(e->extra, sizeof(e->extra), &len, a, n);
        } else if (in_list(r->shown_opts, a, n) || in_list(r->masked_opts, a, n)) {
            bool show = in_list(r->shown_opts, a, n);
            const char *v = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
            if (!v) {
                put(e->extra, sizeof(e->extra), &len, a, n);
                break;
            }
            if (in_list(r->run_opts, a, n))
                e->run_id = v;
            put_option(e->extra, sizeof(e->extra), &len, a, n, v, eq != NULL, show);
        } else {
            /* Unknown (or "--"): its name, its value and what follows stay masked. */
            put(e->extra, sizeof(e->extra), &len, MASK, 3);
            certain = false;
        }
    }
    return true;
}

/* The OS user running the command ("uid N" when it has no name). */
static void os_user(char *buf, size_t len)
{
    struct passwd *pw = getpwuid(geteuid());

    if (pw && pw->pw_name && *pw->pw_name)
        snprintf(buf, len, "%s", pw->pw_name);
    else
        snprintf(buf, len, "uid %u", (unsigned)geteuid());
}

void cli_audit(const config_t *cfg, int argc, char **argv)
{
    cli_audit_entry_t *e = malloc(sizeof(*e));
    char owner[256], err[512];
    db_t *db;

    if (!e) {
        fprintf(stderr, "updraft: warning: the event log was not written: out of memory\n");
        return;
    }
    if (!cli_audit_describe(argc, argv, e)) {
        free(e);
        return;
    }
    os_user(owner, sizeof(owner));
    eventlog_entry_t entry = {.event = e->event,
                              .dag_id = e->dag_id,
                              .run_id = e->run_id,
                              .map_index = -2,
                              .execution_date = TS_NONE,
                              .owner = owner,
                              .owner_display_name = owner,
                              .extra = e->extra};
    /* A connection of its own: the command has closed its connection by now. */
    db = cli_connect(cfg, false);
    if (!db)
        fprintf(stderr, "updraft: warning: the event log was not written (no database)\n");
    else if (eventlog_add(db, &entry, err, sizeof(err)) < 0)
        fprintf(stderr, "updraft: warning: the event log was not written: %s\n", err);
    db_close(db);
    free(e);
}
