/*
 * error.h - the one error contract of the updraft library.
 *
 * A library function that can fail returns int: 0 (UPDRAFT_OK) on success,
 * or one of the negative codes below, with results through out-parameters.
 * Where a user must read why (a bad field, a missing key), the function also
 * fills a caller-supplied (char *err, size_t errlen) buffer; the code says
 * what kind of failure it was, so that callers decide by the code, never by
 * parsing the message. Predicates return bool and constructors NULL.
 *
 * The programs map a code to what their users see through one table each:
 * the webserver to an HTTP status (webserver/http.c), the CLI to an exit
 * status (cli/cli_util.c).
 */
#ifndef UPDRAFT_CORE_ERROR_H
#define UPDRAFT_CORE_ERROR_H

typedef enum updraft_err {
    UPDRAFT_OK = 0,
    UPDRAFT_ENOTFOUND = -1,    /* the named object does not exist */
    UPDRAFT_EEXISTS = -2,      /* an object with that name exists already */
    UPDRAFT_EINVALID = -3,     /* the input is malformed or out of range */
    UPDRAFT_ECONFLICT = -4,    /* the object's state does not allow it now */
    UPDRAFT_ENOKEY = -5,       /* a secret must be stored but no key is set */
    UPDRAFT_EDB = -6,          /* the database failed or could not be reached */
    UPDRAFT_EUNAVAILABLE = -7, /* another service (Redis, a remote) failed */
    UPDRAFT_ENOMEM = -8,       /* out of memory */
    UPDRAFT_EIO = -9,          /* a file or process could not be used */
    UPDRAFT_ELIMITED = -10,    /* too many attempts: try again later */
} updraft_err_t;

/* What a code means, lower-case ("not found"); "unknown error" for others. */
const char *updraft_strerror(int err);

#endif
