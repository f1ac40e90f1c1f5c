/*
 * wake.c - see wake.h.
 */
#include "scheduler/wake.h"

#include <poll.h>
#include <stdint.h>
#include <unistd.h>

void wake_drain(int fd)
{
    uint64_t v;
    ssize_t r = read(fd, &v, sizeof(v));
    (void)r;
}

void wake_wait(int fd, int ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    if (poll(&pfd, 1, ms) > 0)
        wake_drain(fd);
}

bool wake_nap(int ms, void *fdp)
{
    wake_wait(*(const int *)fdp, ms);
    return true;
}
