/*
 * regfile.h - opening a file that must be a regular file without ever
 * blocking on something else put in its place.
 *
 * open(2) of a FIFO for reading blocks until a writer comes, and a device
 * may block or never end. Folders that untrusted people can write to (the
 * DAG folder) may hold either under any name, or a symlink to one, and
 * stat() before open() leaves a window in which the file can be swapped.
 * So anything stat() does not call a regular file is not opened at all,
 * and the file is then opened with O_NONBLOCK (which a FIFO honours at
 * once), checked again on its descriptor with fstat(), and only then made
 * blocking again for the ordinary reads of a regular file.
 */
#ifndef UPDRAFT_CORE_REGFILE_H
#define UPDRAFT_CORE_REGFILE_H

#include <sys/stat.h>

/*
 * Opens path read-only (close-on-exec) when it is a regular file, symlinks
 * followed unless flags holds O_NOFOLLOW (flags are added to the open).
 * 0 with *fd (the caller closes it) and *st filled; UPDRAFT_ENOTFOUND when
 * it does not exist, UPDRAFT_EINVALID when it is not a regular file (a
 * FIFO, a socket, a device, a folder: nothing was read from it), else
 * UPDRAFT_EIO with errno set. *fd is -1 on failure.
 */
int regfile_open(const char *path, int flags, int *fd, struct stat *st);

#endif
