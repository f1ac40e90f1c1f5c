/*
 * error.c - see error.h.
 */
#include "core/error.h"

const char *updraft_strerror(int err)
{
    switch (err) {
    case UPDRAFT_OK:
        return "ok";
    case UPDRAFT_ENOTFOUND:
        return "not found";
    case UPDRAFT_EEXISTS:
        return "already exists";
    case UPDRAFT_EINVALID:
        return "invalid";
    case UPDRAFT_ECONFLICT:
        return "conflict";
    case UPDRAFT_ENOKEY:
        return "no encryption key";
    case UPDRAFT_EDB:
        return "database error";
    case UPDRAFT_EUNAVAILABLE:
        return "service unavailable";
    case UPDRAFT_ENOMEM:
        return "out of memory";
    case UPDRAFT_EIO:
        return "i/o error";
    case UPDRAFT_ELIMITED:
        return "too many attempts";
    }
    return "unknown error";
}
