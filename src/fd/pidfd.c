/* SPDX-License-Identifier: MIT */
/* Process descriptors through the raw syscalls, so they work on any libc
 * (glibc only wraps them from 2.36, musl not at all). */
#include "fd/fd-internal.h"

#include <sys/syscall.h>

#ifndef SYS_pidfd_open
#        define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#        define SYS_pidfd_send_signal 424
#endif
#ifndef PIDFD_SIGNAL_PROCESS_GROUP
#        define PIDFD_SIGNAL_PROCESS_GROUP (1U << 2)
#endif

int pk_fd_pidfd_open(pid_t pid, int flags)
{
        if (pid <= 0 || pk__bad_flags(flags, PK_FD_NONBLOCK))
                return -EINVAL;
        int saved = errno;
        /* PIDFD_NONBLOCK is O_NONBLOCK; the kernel always sets O_CLOEXEC. */
        long fd = syscall(SYS_pidfd_open, pid, (flags & PK_FD_NONBLOCK) ? O_NONBLOCK : 0);
        if (fd < 0)
                return pk__neg_errno();
        errno = saved;
        return (int)fd;
}

static int send_signal(int pidfd, int sig, unsigned flags)
{
        if (sig < 0 || sig >= NSIG)
                return -EINVAL;
        int saved = errno;
        if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, flags) < 0)
                return pk__neg_errno();
        errno = saved;
        return 0;
}

int pk_fd_pidfd_send_signal(int pidfd, int sig)
{
        return send_signal(pidfd, sig, 0);
}

int pk_fd_pidfd_send_signal_group(int pidfd, int sig)
{
        return send_signal(pidfd, sig, PIDFD_SIGNAL_PROCESS_GROUP);
}
