/* SPDX-License-Identifier: MIT */
/* Anonymous pipes: pipe2(O_CLOEXEC) and the pipe buffer size. */
#include "fd/fd-internal.h"

#include <fcntl.h>
#include <limits.h>

int pk_fd_pipe(int ret_fds[2], int flags)
{
        if (!ret_fds || pk__bad_flags(flags, PK_FD_NONBLOCK))
                return -EINVAL;
        int saved = errno;
        int fds[2];
        if (pipe2(fds, O_CLOEXEC | ((flags & PK_FD_NONBLOCK) ? O_NONBLOCK : 0)) < 0)
                return pk__neg_errno();
        errno = saved;
        ret_fds[0] = fds[0];
        ret_fds[1] = fds[1];
        return 0;
}

int pk_fd_pipe_set_size(int fd, size_t size)
{
        if (size > INT_MAX)
                return -EINVAL;
        int saved = errno;
        int r = fcntl(fd, F_SETPIPE_SZ, (int)size);
        if (r < 0)
                return pk__neg_errno();
        errno = saved;
        return r;
}

int pk_fd_pipe_get_size(int fd)
{
        int saved = errno;
        int r = fcntl(fd, F_GETPIPE_SZ);
        if (r < 0)
                return pk__neg_errno();
        errno = saved;
        return r;
}
