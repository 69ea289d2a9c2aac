/* SPDX-License-Identifier: MIT */
/* Reads and writes for ports: EINTR retried, partial writes finished, and
 * SIGPIPE blocked around pipe writes (the fd layer's guard) so a dead peer is
 * an -EPIPE return and never a signal death. */
#include "port-internal.h"

#include <poll.h>
#include <pthread.h>
#include <time.h>

bool pk__port_sigpipe_ignored(void)
{
        struct sigaction sa;
        if (sigaction(SIGPIPE, NULL, &sa) < 0)
                return false;
        return !(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == SIG_IGN;
}

ssize_t pk__port_writev_once(int fd, const struct iovec *iov, int iovcnt, bool guard)
{
        struct pk__sigpipe g;
        if (guard)
                pk__sigpipe_block(&g);
        ssize_t n;
        do
                n = writev(fd, iov, iovcnt);
        while (n < 0 && errno == EINTR);
        int err = n < 0 ? errno : 0;
        if (guard)
                pk__sigpipe_restore(&g, err == EPIPE);
        return n < 0 ? -err : n;
}

int pk__port_iov_advance(struct iovec *iov, int iovcnt, int first, size_t n)
{
        while (first < iovcnt && n >= iov[first].iov_len) {
                n -= iov[first].iov_len;
                iov[first].iov_len = 0;
                first++;
        }
        if (first < iovcnt && n > 0) {
                iov[first].iov_base = (char *)iov[first].iov_base + n;
                iov[first].iov_len -= n;
        }
        return first;
}

int pk__port_writev_full(int fd, struct iovec *iov, int iovcnt, bool guard)
{
        int first = 0;
        while (first < iovcnt && iov[first].iov_len == 0)
                first++;
        while (first < iovcnt) {
                ssize_t n = pk__port_writev_once(fd, iov + first, iovcnt - first, guard);
                if (n == -EAGAIN) {
                        struct pollfd p = {.fd = fd, .events = POLLOUT};
                        if (poll(&p, 1, -1) < 0 && errno != EINTR)
                                return -errno;
                        continue;
                }
                if (n < 0)
                        return (int)n;
                first = pk__port_iov_advance(iov, iovcnt, first, (size_t)n);
                while (first < iovcnt && iov[first].iov_len == 0)
                        first++;
        }
        return 0;
}

ssize_t pk__port_read_once(int fd, void *buf, size_t len)
{
        ssize_t n;
        do
                n = read(fd, buf, len);
        while (n < 0 && errno == EINTR);
        return n < 0 ? -errno : n;
}
