/*
 * test_dagignore.c - .airflowignore matching (model/dagignore.c), glob and
 * regexp, table-driven: ignore files per folder, then path -> ignored.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "model/dagignore.h"

typedef struct expect {
    const char *path;
    bool is_dir;
    bool ignored;
} expect_t;

static dagignore_t *load(dagignore_syntax_t syn, const char *base, const char *text)
{
    char err[256];
    dagignore_t *ig = dagignore_new(syn);
    assert_non_null(ig);
    assert_int_equal(dagignore_add(ig, base, text, strlen(text), err, sizeof(err)), 0);
    return ig;
}

static void check_all(const dagignore_t *ig, const expect_t *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bool got = dagignore_match(ig, e[i].path, e[i].is_dir);
        if (got != e[i].ignored)
            fail_msg("%s%s: expected %s", e[i].path, e[i].is_dir ? "/" : "",
                     e[i].ignored ? "ignored" : "kept");
    }
}

static void test_glob_matches_like_gitignore(void **state)
{
    (void)state;
    dagignore_t *ig = load(DAGIGNORE_GLOB, "",
                           "# comment line\n"
                           "\n"
                           "*_test.yaml   # trailing comment\n"
                           "scratch/\n"
                           "/top_only.yaml\n"
                           "lib/*.yml\n"
                           "deep/**/gen_*.yaml\n"
                           "tmp?.yaml\n"
                           "[ab]x.yaml\n"
                           "old_*.yaml\n"
                           "!old_keep.yaml\n");
    const expect_t e[] = {
        {"a_test.yaml", false, true},
        {"sub/b_test.yaml", false, true},
        {"a_test.yaml.bak", false, false},
        {"scratch", true, true},
        {"sub/scratch", true, true},
        {"scratch", false, false}, /* a file: dir-only */
        {"top_only.yaml", false, true},
        {"sub/top_only.yaml", false, false},
        {"lib/x.yml", false, true},
        {"lib/sub/x.yml", false, false},
        {"other/lib/x.yml", false, false},
        {"deep/gen_a.yaml", false, true},
        {"deep/a/b/gen_a.yaml", false, true},
        {"deep/a/b/keep.yaml", false, false},
        {"tmp1.yaml", false, true},
        {"tmp12.yaml", false, false},
        {"ax.yaml", false, true},
        {"cx.yaml", false, false},
        {"old_a.yaml", false, true},
        {"old_keep.yaml", false, false},
        {"sub/old_keep.yaml", false, false},
        {"dag.yaml", false, false},
    };
    check_all(ig, e, sizeof(e) / sizeof(e[0]));
    dagignore_free(ig);
}

static void test_rules_apply_below_their_folder_only(void **state)
{
    (void)state;
    char err[256];
    dagignore_t *ig = load(DAGIGNORE_GLOB, "", "*.tmp.yaml\n");
    size_t mark = dagignore_mark(ig);
    const char *sub = "/x.yaml\n!keep.tmp.yaml\n";
    assert_int_equal(dagignore_add(ig, "team/a", sub, strlen(sub), err, sizeof(err)), 0);
    const expect_t e[] = {
        {"team/a/x.yaml", false, true},         /* anchored to team/a */
        {"x.yaml", false, false},               /* not below team/a */
        {"team/x.yaml", false, false},          /* nor is this */
        {"team/a/b/x.yaml", false, false},      /* anchored: not deeper */
        {"team/a/keep.tmp.yaml", false, false}, /* re-included below team/a */
        {"team/b/keep.tmp.yaml", false, true},  /* not re-included elsewhere */
        {"team/ab/x.yaml", false, false},       /* a prefix is not a folder */
    };
    check_all(ig, e, sizeof(e) / sizeof(e[0]));
    dagignore_truncate(ig, mark); /* leaving team/a */
    assert_true(dagignore_match(ig, "team/a/keep.tmp.yaml", false));
    assert_false(dagignore_match(ig, "team/a/x.yaml", false));
    dagignore_free(ig);
}

static void test_regexp_searches_the_relative_path(void **state)
{
    (void)state;
    char err[256];
    dagignore_t *ig = load(DAGIGNORE_REGEXP, "",
                           "project_a\n"
                           "tenant_[0-9]+\n"
                           "^exact\\.yaml$   # comment\n");
    const char *sub = "^local\n";
    assert_int_equal(dagignore_add(ig, "nested", sub, strlen(sub), err, sizeof(err)), 0);
    const expect_t e[] = {
        {"project_a", true, true},
        {"x/my_project_a_dag.yaml", false, true},
        {"tenant_12/dag.yaml", false, true},
        {"tenant_x/dag.yaml", false, false},
        {"exact.yaml", false, true},
        {"sub/exact.yaml", false, false},
        {"nested/local_dag.yaml", false, true}, /* ^ is the start of the path below nested */
        {"local_dag.yaml", false, false},
        {"dag.yaml", false, false},
    };
    check_all(ig, e, sizeof(e) / sizeof(e[0]));
    dagignore_free(ig);
}

static void test_bad_lines_are_reported_and_skipped(void **state)
{
    (void)state;
    char err[256];
    dagignore_t *ig = dagignore_new(DAGIGNORE_REGEXP);
    const char *text = "good\n(unclosed\nalso(bad\n";
    assert_int_equal(dagignore_add(ig, "", text, strlen(text), err, sizeof(err)), 2);
    assert_non_null(strstr(err, "line 2: '(unclosed' is not a regular expression"));
    assert_true(dagignore_match(ig, "good.yaml", false));
    dagignore_free(ig);

    ig = dagignore_new(DAGIGNORE_GLOB);
    char big[DAGIGNORE_MAX_LINE + 10];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\n';
    assert_int_equal(dagignore_add(ig, "", big, sizeof(big), err, sizeof(err)), 1);
    assert_non_null(strstr(err, "line 1: the pattern is longer"));
    const char *nul = "a\0b\n!\n";
    assert_int_equal(dagignore_add(ig, "", nul, 6, err, sizeof(err)), 2);
    assert_int_equal(dagignore_mark(ig), 0);
    dagignore_free(ig);
}

static void test_many_double_stars_stay_cheap(void **state)
{
    (void)state;
    /* "**" between every segment against a deep path: a table, not backtracking */
    char pat[DAGIGNORE_MAX_LINE], path[1024];
    size_t n = 0, m = 0;
    for (int i = 0; i < 200 && n + 6 < sizeof(pat); i++)
        n += (size_t)snprintf(pat + n, sizeof(pat) - n, "a/**/");
    snprintf(pat + n, sizeof(pat) - n, "b\n");
    for (int i = 0; i < 60; i++)
        m += (size_t)snprintf(path + m, sizeof(path) - m, "a/");
    snprintf(path + m, sizeof(path) - m, "c");
    dagignore_t *ig = load(DAGIGNORE_GLOB, "", pat);
    assert_false(dagignore_match(ig, path, false));
    dagignore_free(ig);
}

static void test_syntax_names(void **state)
{
    (void)state;
    dagignore_syntax_t s;
    assert_int_equal(dagignore_parse_syntax("glob", &s), 0);
    assert_int_equal(s, DAGIGNORE_GLOB);
    assert_int_equal(dagignore_parse_syntax("regexp", &s), 0);
    assert_int_equal(s, DAGIGNORE_REGEXP);
    assert_int_equal(dagignore_parse_syntax("regex", &s), -1);
    assert_int_equal(dagignore_parse_syntax(NULL, &s), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_glob_matches_like_gitignore),
        cmocka_unit_test(test_rules_apply_below_their_folder_only),
        cmocka_unit_test(test_regexp_searches_the_relative_path),
        cmocka_unit_test(test_bad_lines_are_reported_and_skipped),
        cmocka_unit_test(test_many_double_stars_stay_cheap),
        cmocka_unit_test(test_syntax_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
