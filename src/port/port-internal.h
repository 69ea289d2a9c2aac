/* SPDX-License-Identifier: MIT */
/* Internal helpers of the port layer: full writes and reads that never let
 * SIGPIPE kill the process and retry on EINTR, on the fd layer's public
 * calls (pk_fd_writev, pk_fd_writev_all). */
#ifndef PORTKIT_PORT_INTERNAL_H
#define PORTKIT_PORT_INTERNAL_H

#include "internal.h"
#include "portkit/fd.h"

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>
#include <sys/uio.h>

/* True when SIGPIPE is ignored in this process, so writes need no guard
 * (PK_FD_SIGPIPE_IGNORED; the fd layer holds SIGPIPE off otherwise). */
bool pk__port_sigpipe_ignored(void);

/* Writes every byte of iov (modified in place) to fd, waiting with poll() if
 * fd is non-blocking.  guard: hold off SIGPIPE around the writes.  Returns 0
 * or a negative errno (-EPIPE when the reader is gone). */
int pk__port_writev_full(int fd, struct iovec *iov, int iovcnt, bool guard);

/* One writev() attempt, EINTR retried, SIGPIPE held off when guard is set.
 * Returns bytes written or a negative errno (-EAGAIN on a full non-blocking pipe). */
ssize_t pk__port_writev_once(int fd, const struct iovec *iov, int iovcnt, bool guard);

/* One read(), EINTR retried; bytes read, 0 at EOF, or a negative errno. */
ssize_t pk__port_read_once(int fd, void *buf, size_t len);

#endif
