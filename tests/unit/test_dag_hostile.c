/*
 * DAG files written to do harm: aliases and defaults that multiply a
 * string, $NAME naming updraft's own settings and secrets, and a FIFO
 * where a DAG or defaults file should be. Each is refused with a
 * diagnostic at its place, quickly and without blocking.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "model/dag.h"

#include "helpers.h"

#define MIB (1 << 20)

/* Loads text as h.yaml; returns what the loader returns, errors in *errors. */
static int load(const char *text, const char *allow, dag_list_t *dags, char **errors)
{
    dag_diags_t diags;
    int rc = ut_load_yaml_env("h.yaml", text, allow, dags, &diags);
    *errors = dag_diags_format(&diags, false);
    assert_non_null(*errors);
    dag_diags_free(&diags);
    return rc;
}

/* A 1 MiB string under an anchor, then text of up to extra bytes. */
static char *with_big_anchor(size_t extra, size_t *len)
{
    char *y = malloc(MIB + extra + 64);
    assert_non_null(y);
    memcpy(y, "big: &s \"", 9);
    memset(y + 9, 'x', MIB);
    memcpy(y + 9 + MIB, "\"\n", 3);
    *len = 9 + MIB + 2;
    return y;
}

/*
 * 200 aliases of a 1 MiB string would be 200 MiB once read into params
 * (and 200,000 of them, in a 1.6 MB file, took 20 GB): the expanded size
 * is counted as the aliases are read, and the one that passes 64 MiB is
 * the error.
 */
static void test_aliases_of_a_big_string_are_refused_at_the_alias_past_64_mib(void **state)
{
    (void)state;
    size_t len;
    char *y = with_big_anchor(64 + 200 * 16, &len), *errors;
    len += (size_t)sprintf(y + len, "d:\n  params:\n    p:\n      default:\n");
    for (int i = 0; i < 200; i++)
        len += (size_t)sprintf(y + len, "        - *s\n");
    dag_list_t dags;
    assert_int_equal(load(y, NULL, &dags, &errors), 1);
    assert_int_equal(dags.n, 0);
    /* the 63rd alias (line 68): 64 copies of 1 MiB + 1 pass 64 MiB */
    assert_string_equal(errors, "h.yaml:68:11: document too large once aliases and defaults are "
                                "expanded (more than 64 MiB)\n");
    free(errors);
    dag_list_free(&dags);
    free(y);
}

/* Aliases in a key nothing reads count as well: the expanded document is what is bounded. */
static void test_aliases_count_wherever_they_are(void **state)
{
    (void)state;
    size_t len;
    char *y = with_big_anchor(64 + 100 * 8, &len), *errors;
    len += (size_t)sprintf(y + len, "unused:\n");
    for (int i = 0; i < 100; i++)
        len += (size_t)sprintf(y + len, "- *s\n");
    dag_list_t dags;
    assert_int_equal(load(y, NULL, &dags, &errors), 1);
    assert_string_equal(errors, "h.yaml:65:3: document too large once aliases and defaults are "
                                "expanded (more than 64 MiB)\n");
    free(errors);
    dag_list_free(&dags);
    free(y);
}

/*
 * default_args are copied into every task: a 1 MiB bash_command there and
 * a hundred tasks would hold 100 MiB. The copies count, and the task
 * whose copy passes the budget is the error.
 */
static void test_defaults_copied_into_every_task_count_against_64_mib(void **state)
{
    (void)state;
    size_t len = 0;
    char *y = malloc(MIB + 100 * 64 + 256), *errors;
    assert_non_null(y);
    len += (size_t)sprintf(y, "d:\n  default_args:\n    bash_command: \"");
    memset(y + len, 'x', MIB);
    len += MIB;
    len += (size_t)sprintf(y + len, "\"\n  tasks:\n");
    for (int i = 0; i < 100; i++)
        len += (size_t)sprintf(y + len, "    t%d: {operator: bash}\n", i);
    dag_list_t dags;
    assert_int_equal(load(y, NULL, &dags, &errors), 1);
    assert_int_equal(dags.n, 0);
    assert_non_null(strstr(errors, ": document too large once aliases and defaults are expanded "
                                   "(more than 64 MiB)\n"));
    assert_int_equal(strncmp(errors, "h.yaml:", 7), 0);
    assert_non_null(strstr(errors, ":5: document")); /* at a task's key */
    free(errors);
    dag_list_free(&dags);
    free(y);
}

/*
 * $NAME naming the fernet key, the database URL, a connection, a
 * variable or libpq's settings is an error at its line:col, whatever the
 * allow-list says, and the value never reaches the diagnostics or a DAG.
 * ${NAME:-...} is left for bash, as written.
 */
static void test_updrafts_own_variables_are_refused_where_they_are_named(void **state)
{
    (void)state;
    setenv("UPDRAFT__CORE__FERNET_KEY", "fernet-secret-value", 1);
    setenv("UPDRAFT__DATABASE__URL", "postgresql://u:db-secret@h/db", 1);
    setenv("PGPASSWORD", "pg-secret", 1);
    setenv("AIRFLOW_CONN_X", "http://u:conn-secret@h", 1);
    char *errors;
    dag_list_t dags;
    assert_int_equal(
        load("d:\n"
             "  description: \"key=${UPDRAFT__CORE__FERNET_KEY} db=$UPDRAFT__DATABASE__URL\"\n"
             "  tasks:\n"
             "    t:\n"
             "      operator: bash\n"
             "      bash_command: echo $PGPASSWORD ${PGHOST:-none} $AIRFLOW_CONN_X "
             "$AIRFLOW_VAR_Y $AIRFLOW__CORE__FERNET_KEY $UPDRAFT_CONN_DB $UPDRAFT_VAR_Z\n",
             "UPDRAFT__CORE__FERNET_KEY,UPDRAFT_*,PG*,AIRFLOW_*", &dags, &errors),
        8);
    assert_int_equal(dags.n, 0);
    const char *tail = " is one of updraft's own settings or secrets, which a DAG file cannot "
                       "read (to leave it to bash at run time, write ${";
    char want[4096];
    snprintf(want, sizeof want,
             "h.yaml:2:21: $UPDRAFT__CORE__FERNET_KEY%sUPDRAFT__CORE__FERNET_KEY:-})\n"
             "h.yaml:2:53: $UPDRAFT__DATABASE__URL%sUPDRAFT__DATABASE__URL:-})\n"
             "h.yaml:6:26: $PGPASSWORD%sPGPASSWORD:-})\n"
             "h.yaml:6:54: $AIRFLOW_CONN_X%sAIRFLOW_CONN_X:-})\n"
             "h.yaml:6:70: $AIRFLOW_VAR_Y%sAIRFLOW_VAR_Y:-})\n"
             "h.yaml:6:85: $AIRFLOW__CORE__FERNET_KEY%sAIRFLOW__CORE__FERNET_KEY:-})\n"
             "h.yaml:6:112: $UPDRAFT_CONN_DB%sUPDRAFT_CONN_DB:-})\n"
             "h.yaml:6:129: $UPDRAFT_VAR_Z%sUPDRAFT_VAR_Z:-})\n",
             tail, tail, tail, tail, tail, tail, tail, tail);
    assert_string_equal(errors, want);
    assert_null(strstr(errors, "-secret")); /* no value */
    free(errors);
    dag_list_free(&dags);

    /* as bash reads it at run time: left as written, no error */
    assert_int_equal(load("d:\n  tasks:\n    t: {operator: bash, bash_command: "
                          "'echo ${PGPASSWORD:-} ${UPDRAFT__CORE__FERNET_KEY:-x}'}\n",
                          NULL, &dags, &errors),
                     0);
    assert_string_equal(dags.items[0]->tasks[0].bash_command,
                        "echo ${PGPASSWORD:-} ${UPDRAFT__CORE__FERNET_KEY:-x}");
    free(errors);
    dag_list_free(&dags);
    unsetenv("UPDRAFT__CORE__FERNET_KEY");
    unsetenv("UPDRAFT__DATABASE__URL");
    unsetenv("PGPASSWORD");
    unsetenv("AIRFLOW_CONN_X");
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
}

static char *load_file_errors(const char *path, const char *root, int want_rc)
{
    dag_list_t dags;
    dag_diags_t diags;
    dag_list_init(&dags);
    dag_diags_init(&diags);
    assert_int_equal(dag_load_file(path, root, NULL, &dags, &diags), want_rc);
    assert_int_equal(dags.n, 0);
    char *s = dag_diags_format(&diags, false);
    assert_non_null(s);
    dag_list_free(&dags);
    dag_diags_free(&diags);
    return s;
}

/*
 * A FIFO named defaults.yml, a FIFO named like a DAG file, and a symlink
 * to a FIFO are refused as "not a regular file" at once; opening one to
 * read used to wait for a writer forever. (A hang ends the test through
 * alarm() rather than stopping the run.)
 */
static void test_a_fifo_in_place_of_a_dag_or_defaults_file_is_refused_without_blocking(void **state)
{
    (void)state;
    char root[] = "/tmp/test_dag_hostile_XXXXXX", path[160], fifo[160], link[160], dflt[160];
    char want[512];
    assert_non_null(mkdtemp(root));
    snprintf(path, sizeof path, "%s/d.yaml", root);
    snprintf(fifo, sizeof fifo, "%s/f.yaml", root);
    snprintf(link, sizeof link, "%s/l.yaml", root);
    snprintf(dflt, sizeof dflt, "%s/defaults.yml", root);
    write_file(path, "d:\n  tasks:\n    t: {operator: bash, bash_command: echo}\n");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(symlink("f.yaml", link), 0);
    assert_int_equal(mkfifo(dflt, 0600), 0);
    alarm(20);

    char *s = load_file_errors(path, root, 1);
    snprintf(want, sizeof want, "%s: not a regular file\n", dflt);
    assert_string_equal(s, want);
    free(s);
    unlink(dflt);
    s = load_file_errors(fifo, root, -1);
    snprintf(want, sizeof want, "%s: not a regular file\n", fifo);
    assert_string_equal(s, want);
    free(s);
    s = load_file_errors(link, root, -1);
    snprintf(want, sizeof want, "%s: not a regular file\n", link);
    assert_string_equal(s, want);
    free(s);

    alarm(0);
    unlink(link);
    unlink(fifo);
    unlink(path);
    rmdir(root);
}

/*
 * Lists a file may make long are read in one pass: 60,000 tags (each
 * kept once, in order), a defaults file of 60,000 tags in reverse (merged
 * and sorted), 30,000 DAG ids each given twice (each reported, none
 * loaded), and a task with 30,000 downstream tasks whose declared order
 * is the reverse of their topological one. Each was a search or an
 * insertion sort per item: seconds to minutes for a file under 4 MiB
 * (138 s for 120,000 tags in a defaults file).
 */
static void test_long_lists_in_a_file_are_read_in_one_pass(void **state)
{
    (void)state;
    size_t cap = 4 * MIB, len;
    char *y = malloc(cap), *errors;
    dag_list_t dags;
    assert_non_null(y);

    len = (size_t)snprintf(y, cap, "d:\n  tags: [");
    for (int i = 0; i < 60000; i++)
        len += (size_t)snprintf(y + len, cap - len, "%st%d", i ? ", " : "", i % 40000);
    snprintf(y + len, cap - len, "]\n  tasks:\n    t: {operator: bash, bash_command: x}\n");
    assert_int_equal(load(y, NULL, &dags, &errors), 0);
    assert_int_equal(dags.items[0]->n_tags, 40000);
    assert_string_equal(dags.items[0]->tags[39999], "t39999");
    free(errors);
    dag_list_free(&dags);

    len = 0;
    for (int i = 0; i < 30000; i++)
        len += (size_t)snprintf(y + len, cap - len, "d%d: 1\nd%d: 2\n", i, i);
    assert_int_equal(load(y, NULL, &dags, &errors), 30000);
    assert_int_equal(dags.n, 0);
    free(errors);
    dag_list_free(&dags);

    len = (size_t)snprintf(y, cap, "d:\n  tasks:\n    s: {operator: bash, bash_command: x}\n");
    for (int i = 1; i <= 30000; i++)
        len +=
            (size_t)snprintf(y + len, cap - len,
                             "    c%d: {operator: bash, bash_command: x, dependencies: [s%s%d]}\n",
                             i, i < 30000 ? ", c" : "", i < 30000 ? i + 1 : 0);
    assert_true(len < cap);
    /* the last line depends on [s0]: make it [s] */
    char *last = strstr(y + len - 80, "[s0]");
    assert_non_null(last);
    memmove(last + 2, last + 3, strlen(last + 3) + 1);
    assert_int_equal(load(y, NULL, &dags, &errors), 0);
    const dag_task_t *s0 = &dags.items[0]->tasks[dag_find_task(dags.items[0], "s")];
    assert_int_equal(s0->n_downstream, 30000);
    assert_string_equal(s0->downstream[0], "c30000"); /* topological order */
    assert_string_equal(s0->downstream[29999], "c1");
    free(errors);
    dag_list_free(&dags);
    free(y);

    char root[] = "/tmp/test_dag_hostile_XXXXXX", path[160];
    assert_non_null(mkdtemp(root));
    snprintf(path, sizeof path, "%s/defaults.yml", root);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("tags: [x00002", f);
    for (int i = 60000; i > 0; i--)
        fprintf(f, ", x%05d", i);
    fputs("]\n", f);
    assert_int_equal(fclose(f), 0);
    snprintf(path, sizeof path, "%s/d.yaml", root);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("d:\n  tasks:\n    t: {operator: bash, bash_command: x}\n", f);
    assert_int_equal(fclose(f), 0);
    dag_diags_t diags;
    dag_list_init(&dags);
    dag_diags_init(&diags);
    assert_int_equal(dag_load_file(path, root, NULL, &dags, &diags), 0);
    const dag_t *d = dags.items[0];
    assert_int_equal(d->n_tags, 60000); /* each once, sorted */
    assert_string_equal(d->tags[0], "x00001");
    assert_string_equal(d->tags[1], "x00002");
    assert_string_equal(d->tags[59999], "x60000");
    dag_list_free(&dags);
    dag_diags_free(&diags);
    unlink(path);
    snprintf(path, sizeof path, "%s/defaults.yml", root);
    unlink(path);
    rmdir(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aliases_of_a_big_string_are_refused_at_the_alias_past_64_mib),
        cmocka_unit_test(test_aliases_count_wherever_they_are),
        cmocka_unit_test(test_defaults_copied_into_every_task_count_against_64_mib),
        cmocka_unit_test(test_updrafts_own_variables_are_refused_where_they_are_named),
        cmocka_unit_test(
            test_a_fifo_in_place_of_a_dag_or_defaults_file_is_refused_without_blocking),
        cmocka_unit_test(test_long_lists_in_a_file_are_read_in_one_pass),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
