/*
 * version.c - see version.h. git_version.h is written by the build (the
 * Makefile's $(O)/gen/git_version.h rule) and rewritten only when the
 * commit changes, so that an unchanged checkout recompiles nothing.
 */
#include "core/version.h"

#include <stddef.h>

#include "git_version.h"

const char *updraft_version(void)
{
    return UPDRAFT_VERSION;
}

const char *updraft_git_version(void)
{
    return UPDRAFT_GIT_VERSION;
}
