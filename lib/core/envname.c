/*
 * envname.c - see envname.h.
 */
#include "core/envname.h"

#include <ctype.h>
#include <string.h>

static bool has_prefix(const char *name, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(name, prefix, n) == 0;
}

/* The service manager's variables, for the daemon alone (core/notify.h). */
static bool service_manager_name(const char *name, size_t len)
{
    static const char *const names[] = {"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (len == strlen(names[i]) && memcmp(name, names[i], len) == 0)
            return true;
    return false;
}

bool envname_reserved(const char *name, size_t len)
{
    return has_prefix(name, len, "UPDRAFT_") || envname_secret(name, len) ||
           service_manager_name(name, len);
}

bool envname_secret(const char *name, size_t len)
{
    static const char *const prefixes[] = {"UPDRAFT__", "UPDRAFT_CONN_", "UPDRAFT_VAR_",
                                           "AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_",
                                           "PG"};
    static const char *const names[] = {"UPDRAFT_CONFIG", "AIRFLOW_CONFIG", "REDISCLI_AUTH"};

    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (has_prefix(name, len, prefixes[i]))
            return true;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (len == strlen(names[i]) && memcmp(name, names[i], len) == 0)
            return true;
    return false;
}

static bool is_name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/*
 * The next item of list at *p: its start and length (spaces trimmed) and
 * whether it ends in '*'. false at the end of the list.
 */
static bool next_item(const char **p, const char **item, size_t *len, bool *prefix)
{
    const char *s = *p, *e;
    if (!*s)
        return false;
    while (*s == ' ')
        s++;
    e = s;
    while (*e && *e != ',')
        e++;
    *p = *e ? e + 1 : e;
    while (e > s && e[-1] == ' ')
        e--;
    *prefix = e > s && e[-1] == '*';
    *item = s;
    *len = (size_t)(e - s) - (*prefix ? 1 : 0);
    return true;
}

bool envname_list_valid(const char *list)
{
    const char *p = list, *item;
    size_t len;
    bool prefix;

    if (!*list)
        return true;
    while (next_item(&p, &item, &len, &prefix)) {
        if (len == 0)
            return false; /* an empty item, or a lone "*" */
        for (size_t i = 0; i < len; i++)
            if (!is_name_char(item[i]))
                return false;
        if (!*p && p > list && p[-1] == ',')
            return false; /* a trailing comma */
    }
    return true;
}

bool envname_listed(const char *list, const char *name, size_t len)
{
    const char *p = list, *item;
    size_t n;
    bool prefix;

    while (p && next_item(&p, &item, &n, &prefix)) {
        if (n == 0)
            continue;
        if (prefix ? len >= n && memcmp(name, item, n) == 0
                   : len == n && memcmp(name, item, n) == 0)
            return true;
    }
    return false;
}
