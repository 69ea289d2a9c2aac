/* SPDX-License-Identifier: MIT */
/* Named FIFOs: creation with an exact mode, and opening that never blocks
 * in open(2) waiting for the other side. */
#include "fd/fd-internal.h"

#include <fcntl.h>
#include <sys/stat.h>

int pk_fd_fifo_make(const char *path, mode_t mode)
{
        if (!path || !*path || (mode & ~(mode_t)07777))
                return -EINVAL;
        int saved = errno;
        if (mkfifo(path, mode) < 0) {
                int err = errno;
                struct stat st;
                if (err == EEXIST && lstat(path, &st) == 0 && S_ISFIFO(st.st_mode)) {
                        errno = saved;
                        return 1;
                }
                return -err;
        }
        /* mkfifo() applies the umask; the caller asked for this mode. */
        if (chmod(path, mode) < 0) {
                int err = errno;
                (void)unlink(path);
                errno = saved;
                return -err;
        }
        errno = saved;
        return 0;
}

int pk_fd_fifo_open(const char *path, int access, int flags)
{
        int acc = pk__access_oflags(access);
        if (!path || acc < 0 || pk__bad_flags(flags, PK_FD_NONBLOCK))
                return -EINVAL;
        /* O_NONBLOCK makes a read-only open return at once and a write-only
         * open fail with ENXIO instead of waiting for the other side. */
        PK_CLEANUP_FD int fd = pk_fd_open(path, acc | O_NONBLOCK, 0);
        if (fd < 0)
                return fd;
        int saved = errno;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return pk__neg_errno();
        if (!S_ISFIFO(st.st_mode))
                return -EINVAL;
        errno = saved;
        if (!(flags & PK_FD_NONBLOCK)) {
                int r = pk_fd_set_nonblock(fd, 0);
                if (r < 0)
                        return r;
        }
        return pk_take_fd(&fd);
}
