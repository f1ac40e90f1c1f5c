/*
 * version.h - updraft's release and the commit its binaries were built
 * from, as `updraft version` prints them and GET /api/v1/version answers
 * them (Airflow's VersionInfo: version, git_version).
 */
#ifndef UPDRAFT_CORE_VERSION_H
#define UPDRAFT_CORE_VERSION_H

#define UPDRAFT_VERSION "0.1.0"

/* The release, UPDRAFT_VERSION. */
const char *updraft_version(void);

/*
 * The commit of the checkout the build ran in: its abbreviated hash, with
 * ".dirty" when the checkout had uncommitted changes; NULL when it was not
 * built from a git checkout.
 */
const char *updraft_git_version(void);

#endif
