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
        return pk__open_typed(path, access, flags, S_IFIFO, -EINVAL);
}
