/* SPDX-License-Identifier: MIT */
/* Reads and writes for ports, on the fd layer's calls: EINTR retried, partial
 * writes finished, and SIGPIPE held off around pipe writes (unless the process
 * ignores it) so a dead peer is an -EPIPE return and never a signal death. */
#include "port-internal.h"

bool pk__port_sigpipe_ignored(void)
{
        struct sigaction sa;
        if (sigaction(SIGPIPE, NULL, &sa) < 0)
                return false;
        return !(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == SIG_IGN;
}

ssize_t pk__port_writev_once(int fd, const struct iovec *iov, int iovcnt, bool guard)
{
        return pk_fd_writev(fd, iov, iovcnt, guard ? 0 : PK_FD_SIGPIPE_IGNORED);
}

int pk__port_writev_full(int fd, struct iovec *iov, int iovcnt, bool guard)
{
        ssize_t r = pk_fd_writev_all(fd, iov, iovcnt, guard ? 0 : PK_FD_SIGPIPE_IGNORED, NULL);
        return r < 0 ? (int)r : 0;
}

ssize_t pk__port_read_once(int fd, void *buf, size_t len)
{
        ssize_t n;
        do
                n = read(fd, buf, len);
        while (n < 0 && errno == EINTR);
        return n < 0 ? -errno : n;
}
