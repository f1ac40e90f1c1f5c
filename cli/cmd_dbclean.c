/*
 * cmd_dbclean.c - `updraft db clean` and `updraft db drop-archived`, as
 * Airflow's: purge rows older than a timestamp from the metadata tables
 * (store/dbclean.h says what stays), archiving them first unless told
 * not to, in batches of bounded size; and drop the archive tables later.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/timeutil.h"
#include "store/dbclean.h"

/* A batch that waits for a row lock is tried this many times before giving up. */
#define LOCK_RETRIES 5

static void usage_clean(FILE *f)
{
    fputs("usage: updraft db clean --clean-before-timestamp TS [-t TABLE,...] [--dry-run]\n"
          "                        [--skip-archive] [--batch-size N] [-y] [-v]\n"
          "\n"
          "Deletes rows older than TS (ISO 8601; without an offset, UTC). Live runs and\n"
          "task instances and the latest scheduled run of each DAG stay. Deleted rows\n"
          "are copied into " DBCLEAN_ARCHIVE_PREFIX "TABLE__YYYYMMDDHHMMSS tables unless\n"
          "--skip-archive. Rows go in batches (default 5000), each its own transaction\n"
          "(-v prints each).\n"
          "tables:",
          f);
    for (size_t i = 0; i < dbclean_table_count(); i++)
        fprintf(f, "%s%s", i ? ", " : " ", dbclean_table_name(i));
    fputc('\n', f);
}

static void usage_drop(FILE *f)
{
    fputs("usage: updraft db drop-archived [-t TABLE,...] [-y]\n"
          "Drops the archive tables `db clean` made (of the given tables only with -t).\n",
          f);
}

typedef struct clean_opts {
    const char *before, *tables;
    bool dry_run, skip_archive, yes, verbose;
    int batch;
    bool selected[32];
} clean_opts_t;

/* Marks the tables named in list (comma-separated); false with a message on an unknown one. */
static bool select_tables(const char *list, bool *selected)
{
    char buf[512];
    if (strlen(list) >= sizeof(buf)) {
        fprintf(stderr, "updraft: --tables is too long\n");
        return false;
    }
    strcpy(buf, list);
    for (char *save = NULL, *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        int i = dbclean_find_table(t);
        if (i < 0) {
            fprintf(stderr, "updraft: cannot clean table '%s'\n", t);
            return false;
        }
        selected[i] = true;
    }
    return true;
}

static int parse_clean(int argc, char **argv, clean_opts_t *o)
{
    const char *v;
    memset(o, 0, sizeof(*o));
    o->batch = DBCLEAN_DEFAULT_BATCH;
    for (int i = 1; i < argc; i++) {
        if (cli_opt_value(argc, argv, &i, NULL, "--clean-before-timestamp", &v))
            o->before = v;
        else if (cli_opt_value(argc, argv, &i, "-t", "--tables", &v))
            o->tables = v;
        else if (cli_opt_value(argc, argv, &i, NULL, "--batch-size", &v)) {
            char *end;
            errno = 0;
            long n = strtol(v, &end, 10);
            if (errno || *end || end == v || n < 1 || n > DBCLEAN_MAX_BATCH) {
                fprintf(stderr, "updraft: --batch-size must be 1..%d\n", DBCLEAN_MAX_BATCH);
                return 2;
            }
            o->batch = (int)n;
        } else if (!strcmp(argv[i], "--dry-run"))
            o->dry_run = true;
        else if (!strcmp(argv[i], "--skip-archive"))
            o->skip_archive = true;
        else if (!strcmp(argv[i], "-y") || !strcmp(argv[i], "--yes"))
            o->yes = true;
        else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose"))
            o->verbose = true;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage_clean(stdout);
            return -1;
        } else
            return cli_usage_error(usage_clean);
    }
    if (!o->before)
        return cli_usage_error(usage_clean);
    if (o->tables) {
        if (!select_tables(o->tables, o->selected))
            return 2;
    } else
        for (size_t i = 0; i < dbclean_table_count(); i++)
            o->selected[i] = true;
    return 0;
}

/* Deletes the old rows of table i in batches; 0, or the exit status of a failure. */
static int clean_table(db_t *db, size_t i, const clean_opts_t *o, const char *before,
                       const char *stamp)
{
    const char *name = dbclean_table_name(i);
    char archive[DBCLEAN_NAME_MAX] = "";
    long total = 0, done = 0, n;
    int64_t last = 0;
    bool more = true, tty = isatty(STDERR_FILENO);
    int rc;

    if ((rc = dbclean_count(db, i, before, &total)) < 0)
        return cli_fail(rc, db_error(db));
    if (total == 0) {
        printf("%s: no rows to delete\n", name);
        return 0;
    }
    if (!o->skip_archive && (rc = dbclean_archive_create(db, i, stamp, archive)) < 0)
        return cli_fail(rc, db_error(db));
    for (int tries = 0; more;) {
        rc = dbclean_batch(db, i, before, o->skip_archive ? NULL : archive, o->batch, &last, &n,
                           &more);
        if (rc == UPDRAFT_ECONFLICT && ++tries < LOCK_RETRIES) {
            sleep(1);
            continue;
        }
        if (rc < 0) {
            if (tty)
                fputc('\n', stderr);
            fprintf(stderr, "updraft: %s: stopped after %ld rows: %s\n", name, done,
                    rc == UPDRAFT_ECONFLICT ? "rows stayed locked (try again later)"
                                            : db_error(db));
            return 1;
        }
        tries = 0;
        done += n;
        if (o->verbose && n > 0)
            printf("%s: batch of %ld rows committed\n", name, n);
        if (tty && n > 0)
            fprintf(stderr, "\r%s: %ld/%ld rows deleted", name, done, total);
    }
    if (tty)
        fputc('\n', stderr);
    if (*archive)
        printf("%s: %ld rows deleted, archived in %s\n", name, done, archive);
    else
        printf("%s: %ld rows deleted\n", name, done);
    return 0;
}

int cli_db_clean(const config_t *cfg, int argc, char **argv)
{
    clean_opts_t o;
    ts_us_t t;
    char before[TS_ISO_LEN], stamp[32], question[1024];
    int rc = parse_clean(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    if (ts_parse(o.before, &t) != 0) {
        fprintf(stderr, "updraft: --clean-before-timestamp: not a timestamp: %s\n", o.before);
        return 2;
    }
    ts_format_iso(t, before);
    db_t *db = cli_connect(cfg, true);
    if (!db)
        return 1;
    if (o.dry_run) {
        printf("%-16s %s\n", "table", "rows to delete");
        for (size_t i = 0; i < dbclean_table_count() && rc == 0; i++) {
            long n;
            if (!o.selected[i])
                continue;
            if ((rc = dbclean_count(db, i, before, &n)) < 0)
                rc = cli_fail(rc, db_error(db));
            else
                printf("%-16s %ld\n", dbclean_table_name(i), n);
        }
        db_close(db);
        return rc;
    }
    snprintf(question, sizeof(question),
             "Purge all rows older than %s from %s? This is irreversible%s.", before,
             o.tables ? o.tables : "every cleanable table",
             o.skip_archive ? " and nothing is archived" : "");
    int c = cli_confirm(question, o.yes);
    if (c <= 0) {
        db_close(db);
        return c < 0 ? 2 : 1;
    }
    time_t now = time(NULL);
    struct tm tm;
    strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", gmtime_r(&now, &tm));
    for (size_t i = 0; i < dbclean_table_count() && rc == 0; i++)
        if (o.selected[i])
            rc = clean_table(db, i, &o, before, stamp);
    db_close(db);
    return rc;
}

int cli_db_drop_archived(const config_t *cfg, int argc, char **argv)
{
    const char *tables = NULL, *v;
    const char *only[32];
    size_t nonly = 0;
    bool yes = false, selected[32] = {false};
    char **names = NULL;
    size_t n = 0;
    int rc;

    for (int i = 1; i < argc; i++) {
        if (cli_opt_value(argc, argv, &i, "-t", "--tables", &v))
            tables = v;
        else if (!strcmp(argv[i], "-y") || !strcmp(argv[i], "--yes"))
            yes = true;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage_drop(stdout);
            return 0;
        } else
            return cli_usage_error(usage_drop);
    }
    if (tables) {
        if (!select_tables(tables, selected))
            return 2;
        for (size_t i = 0; i < dbclean_table_count(); i++)
            if (selected[i])
                only[nonly++] = dbclean_table_name(i);
    }
    db_t *db = cli_connect(cfg, true);
    if (!db)
        return 1;
    if ((rc = dbclean_list_archives(db, tables ? only : NULL, nonly, &names, &n)) < 0) {
        rc = cli_fail(rc, rc == UPDRAFT_EDB ? db_error(db) : "cannot list the archive tables");
        goto out;
    }
    if (n == 0) {
        printf("no archive tables\n");
        goto out;
    }
    for (size_t k = 0; k < n; k++)
        printf("%s\n", names[k]);
    int c = cli_confirm("Drop the archive tables above? This is irreversible.", yes);
    if (c <= 0) {
        rc = c < 0 ? 2 : 1;
        goto out;
    }
    for (size_t k = 0; k < n; k++) {
        if ((rc = dbclean_drop_archive(db, names[k])) < 0) {
            rc = cli_fail(rc, db_error(db));
            goto out;
        }
    }
    printf("dropped %zu archive table%s\n", n, n == 1 ? "" : "s");
out:
    dbclean_names_free(names, n);
    db_close(db);
    return rc;
}
