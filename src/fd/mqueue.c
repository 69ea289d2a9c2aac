/* SPDX-License-Identifier: MIT */
/* POSIX message queues.  On Linux an mqd_t is a descriptor (the kernel
 * always makes it close-on-exec), so it fits the loop like any other. */
#include "fd/fd-internal.h"

#include <mqueue.h>
#include <string.h>

static bool valid_name(const char *name)
{
        return name && name[0] == '/' && name[1] && !strchr(name + 1, '/') && strlen(name) <= 255;
}

int pk_fd_mq_open(const char *name, int access, int flags, mode_t mode,
                  const struct pk_fd_mq_attr *attr)
{
        int acc = pk__access_oflags(access);
        if (!valid_name(name) || acc < 0 ||
            pk__bad_flags(flags, PK_FD_NONBLOCK | PK_FD_CREATE | PK_FD_EXCL) ||
            ((flags & PK_FD_EXCL) && !(flags & PK_FD_CREATE)))
                return -EINVAL;
        int of = acc | O_CLOEXEC;
        if (flags & PK_FD_NONBLOCK)
                of |= O_NONBLOCK;
        if (flags & PK_FD_CREATE)
                of |= O_CREAT;
        if (flags & PK_FD_EXCL)
                of |= O_EXCL;
        struct mq_attr ma;
        struct mq_attr *pma = NULL;
        if (attr && (attr->maxmsg || attr->msgsize)) {
                /* The kernel needs both or neither. */
                if (attr->maxmsg <= 0 || attr->msgsize <= 0)
                        return -EINVAL;
                memset(&ma, 0, sizeof(ma));
                ma.mq_maxmsg = attr->maxmsg;
                ma.mq_msgsize = attr->msgsize;
                pma = &ma;
        }
        int saved = errno;
        mqd_t q;
        do
                q = mq_open(name, of, mode, pma);
        while (q == (mqd_t)-1 && errno == EINTR);
        if (q == (mqd_t)-1)
                return pk__neg_errno();
        errno = saved;
        return (int)q;
}

int pk_fd_mq_unlink(const char *name)
{
        if (!valid_name(name))
                return -EINVAL;
        int saved = errno;
        if (mq_unlink(name) < 0)
                return pk__neg_errno();
        errno = saved;
        return 0;
}

int pk_fd_mq_send(int fd, const void *buf, size_t len, unsigned prio)
{
        if (!buf && len)
                return -EINVAL;
        if (!buf)
                buf = ""; /* an empty message: mq_send() declares its buffer nonnull */
        int saved = errno;
        int r;
        do
                r = mq_send((mqd_t)fd, buf, len, prio);
        while (r < 0 && errno == EINTR);
        if (r < 0)
                return pk__neg_errno();
        errno = saved;
        return 0;
}

ssize_t pk_fd_mq_recv(int fd, void *buf, size_t len, unsigned *ret_prio)
{
        if (!buf)
                return -EINVAL;
        int saved = errno;
        unsigned prio = 0;
        ssize_t n;
        do
                n = mq_receive((mqd_t)fd, buf, len, &prio);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return pk__neg_errno();
        errno = saved;
        if (ret_prio)
                *ret_prio = prio;
        return n;
}

int pk_fd_mq_getattr(int fd, struct pk_fd_mq_attr *ret_attr)
{
        if (!ret_attr)
                return -EINVAL;
        struct mq_attr ma;
        int saved = errno;
        if (mq_getattr((mqd_t)fd, &ma) < 0)
                return pk__neg_errno();
        errno = saved;
        ret_attr->maxmsg = ma.mq_maxmsg;
        ret_attr->msgsize = ma.mq_msgsize;
        ret_attr->curmsgs = ma.mq_curmsgs;
        return 0;
}
