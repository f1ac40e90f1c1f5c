/*
 * cmd_config.c - `updraft config list|get-value`, as Airflow's:
 *
 *   updraft config list [--defaults]      every section and key with its
 *                                         effective value (file, then
 *                                         environment, then default), or
 *                                         the defaults alone, INI-style;
 *   updraft config list --markdown        the key reference of
 *                                         docs/configuration.md, generated
 *                                         from the key table (core/config.h);
 *   updraft config get-value SECTION KEY  one key's effective value; exit 1
 *                                         with a message for a key that
 *                                         does not exist.
 *
 * A secret (a password-bearing URL, the fernet key) that has a value is
 * printed as "< hidden >", as GET /api/v1/config shows it: the real value
 * is in the environment file or updraft.yaml that set it. Nothing here
 * needs the database.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/error.h"

static void usage(FILE *f)
{
    fputs("usage: updraft config list [--defaults | --markdown]\n"
          "       updraft config get-value SECTION KEY\n",
          f);
}

typedef struct list_state {
    const char *section; /* printed last */
} list_state_t;

static void print_ini(const char *section, const char *key, const char *value, bool is_string,
                      void *arg)
{
    list_state_t *st = arg;
    (void)is_string;
    if (st->section != section) {
        printf("%s[%s]\n", st->section ? "\n" : "", section);
        st->section = section;
    }
    printf("%s = %s\n", key, value);
}

static int cmd_list(const config_t *cfg, int argc, char **argv)
{
    bool defaults = false, markdown = false;
    list_state_t st = {NULL};
    char err[256];

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--defaults")) {
            defaults = true;
        } else if (!strcmp(argv[i], "--markdown")) {
            markdown = true;
        } else {
            fprintf(stderr, "updraft: config list: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (markdown) {
        if (config_write_markdown(stdout, err, sizeof(err)) < 0) {
            fprintf(stderr, "updraft: config list --markdown: %s\n", err[0] ? err : "write error");
            return 1;
        }
        return 0;
    }
    if (defaults)
        config_visit_defaults(print_ini, &st);
    else if (config_visit(cfg, CONFIG_HIDDEN, print_ini, &st) < 0) {
        fprintf(stderr, "updraft: out of memory\n");
        return 1;
    }
    return fflush(stdout) == 0 ? 0 : 1;
}

static int cmd_get_value(const config_t *cfg, int argc, char **argv)
{
    char *value = NULL;

    if (argc != 3) {
        usage(stderr);
        return 2;
    }
    int rc = config_get_text(cfg, argv[1], argv[2], CONFIG_HIDDEN, &value);
    if (rc == UPDRAFT_ENOTFOUND) {
        fprintf(stderr, "updraft: the option [%.64s/%.64s] is not found in the configuration\n",
                argv[1], argv[2]);
        return 1;
    }
    if (rc != 0) {
        fprintf(stderr, "updraft: out of memory\n");
        return 1;
    }
    printf("%s\n", value);
    free(value);
    return 0;
}

int cli_config(const config_t *cfg, int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "list"))
        return cmd_list(cfg, argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "get-value"))
        return cmd_get_value(cfg, argc - 1, argv + 1);
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage(stdout);
        return 0;
    }
    usage(stderr);
    return 2;
}
