/* SPDX-License-Identifier: MIT */
/* inotify instances, watches, and a parser that walks a read buffer
 * without trusting any length in it. */
#include "fd/fd-internal.h"

#include <string.h>
#include <sys/inotify.h>

int pk_fd_inotify(int flags)
{
        if (pk__bad_flags(flags, PK_FD_NONBLOCK))
                return -EINVAL;
        int saved = errno;
        int fd = inotify_init1(IN_CLOEXEC | ((flags & PK_FD_NONBLOCK) ? IN_NONBLOCK : 0));
        if (fd < 0)
                return pk__neg_errno();
        errno = saved;
        return fd;
}

int pk_fd_inotify_add(int fd, const char *path, uint32_t mask)
{
        if (!path || !mask)
                return -EINVAL;
        int saved = errno;
        int wd = inotify_add_watch(fd, path, mask);
        if (wd < 0)
                return pk__neg_errno();
        errno = saved;
        return wd;
}

int pk_fd_inotify_rm(int fd, int wd)
{
        int saved = errno;
        if (inotify_rm_watch(fd, wd) < 0)
                return pk__neg_errno();
        errno = saved;
        return 0;
}

int pk_fd_inotify_next(const void *buf, size_t len, size_t *offset,
                       struct pk_fd_inotify_event *ret_event)
{
        if (!offset || !ret_event || (!buf && len) || *offset > len)
                return -EINVAL;
        size_t left = len - *offset;
        if (left == 0)
                return 0;
        struct inotify_event hdr;
        if (left < sizeof(hdr))
                return -EBADMSG;
        const char *p = (const char *)buf + *offset;
        /* memcpy: the caller's buffer need not be aligned for the struct. */
        memcpy(&hdr, p, sizeof(hdr));
        if (hdr.len > left - sizeof(hdr))
                return -EBADMSG;
        const char *name = NULL;
        if (hdr.len) {
                name = p + sizeof(hdr);
                /* The kernel pads the name with NULs; an unterminated one
                 * would send the caller past the event. */
                if (!memchr(name, '\0', hdr.len))
                        return -EBADMSG;
                if (!*name)
                        name = NULL;
        }
        ret_event->wd = hdr.wd;
        ret_event->mask = hdr.mask;
        ret_event->cookie = hdr.cookie;
        ret_event->name = name;
        *offset += sizeof(hdr) + hdr.len;
        return 1;
}
