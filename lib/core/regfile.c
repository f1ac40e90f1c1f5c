/*
 * regfile.c - see regfile.h.
 */
#include "core/regfile.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "core/error.h"

int regfile_open(const char *path, int flags, int *fd, struct stat *st)
{
    int f, rc = UPDRAFT_EIO, saved;

    *fd = -1;
    /* Not even opened when it is something else now (opening a device
     * may do something); the fstat below catches a swap after this. */
    if (((flags & O_NOFOLLOW) ? lstat(path, st) : stat(path, st)) != 0)
        return errno == ENOENT ? UPDRAFT_ENOTFOUND : UPDRAFT_EIO;
    if (!S_ISREG(st->st_mode))
        return UPDRAFT_EINVALID;
    f = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY | flags);
    if (f < 0)
        return errno == ENOENT ? UPDRAFT_ENOTFOUND : UPDRAFT_EIO;
    if (fstat(f, st) != 0)
        goto fail;
    if (!S_ISREG(st->st_mode)) {
        rc = UPDRAFT_EINVALID;
        goto fail;
    }
    int fl = fcntl(f, F_GETFL);
    if (fl < 0 || fcntl(f, F_SETFL, fl & ~O_NONBLOCK) < 0)
        goto fail;
    *fd = f;
    return UPDRAFT_OK;
fail:
    saved = errno;
    close(f);
    errno = saved;
    return rc;
}
