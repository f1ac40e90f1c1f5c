/*
 * dagignore.h - .airflowignore files: which paths under the DAG folder the
 * DAG processor does not look at.
 *
 * As Airflow's: a `.airflowignore` in any folder under core.dags_folder
 * holds one pattern a line; its patterns apply to the paths below that
 * folder, relative to it, and add to those of the folders above. Blank
 * lines and lines starting with `#` are skipped. A folder that matches is
 * not entered at all. core.dag_ignore_file_syntax picks the syntax:
 *
 *   glob    (the default, as in Airflow 3) gitignore's wildmatch: `*`, `?`
 *           and `[...]` within one path segment, `**` across segments, a
 *           leading `!` re-includes what an earlier pattern ignored (the
 *           last pattern that matches decides), a trailing `/` matches
 *           only folders, a pattern with a `/` before its end is anchored
 *           to the ignore file's folder, one without matches a name at any
 *           depth;
 *   regexp  (Airflow 2's default) a path is ignored when any pattern is
 *           found anywhere in it (a search, not a full match). The
 *           patterns are POSIX extended regular expressions (glibc's,
 *           with \w, \s, \b; there is no \d: write [0-9]).
 *
 * Pure: no I/O. The caller reads the files (with size limits) and walks
 * the folders, pushing each folder's rules on the way down and truncating
 * back to the mark on the way up.
 */
#ifndef UPDRAFT_MODEL_DAGIGNORE_H
#define UPDRAFT_MODEL_DAGIGNORE_H

#include <stdbool.h>
#include <stddef.h>

#define DAGIGNORE_FILE ".airflowignore"
#define DAGIGNORE_MAX_BYTES (256 * 1024) /* a longer ignore file is not read */
#define DAGIGNORE_MAX_LINE 1024          /* longer patterns are skipped (reported) */
#define DAGIGNORE_MAX_RULES 10000        /* over every folder of one walk */

typedef enum dagignore_syntax { DAGIGNORE_GLOB = 0, DAGIGNORE_REGEXP } dagignore_syntax_t;

typedef struct dagignore dagignore_t;

/* "glob" or "regexp": 0 with *out set, -1 for anything else. */
int dagignore_parse_syntax(const char *s, dagignore_syntax_t *out);

/* An empty rule set. NULL when out of memory. */
dagignore_t *dagignore_new(dagignore_syntax_t syntax);
void dagignore_free(dagignore_t *ig);

/*
 * Adds the patterns of one ignore file (len bytes of text, need not be
 * NUL-terminated) found in folder base, relative to the DAG folder ("" is
 * the DAG folder itself; no leading or trailing '/'). Returns the number
 * of patterns that were skipped (a regexp that does not compile, a line
 * too long, the rule limit reached) with the first reason in err
 * ("line N: ..."), 0 when every line was taken, or -1 when out of memory.
 */
int dagignore_add(dagignore_t *ig, const char *base, const char *text, size_t len, char *err,
                  size_t errlen);

/* How many rules are held: a mark for dagignore_truncate. */
size_t dagignore_mark(const dagignore_t *ig);
/* Drops the rules added after mark (leaving a folder). */
void dagignore_truncate(dagignore_t *ig, size_t mark);

/*
 * Whether path (relative to the DAG folder, no leading '/') is ignored;
 * is_dir: it is a folder. Rules whose base is not a folder above path do
 * not apply.
 */
bool dagignore_match(const dagignore_t *ig, const char *path, bool is_dir);

#endif
