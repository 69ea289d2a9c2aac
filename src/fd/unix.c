/* SPDX-License-Identifier: MIT */
/* Unix-domain sockets: socketpairs, listeners with path hygiene (parent
 * folders, stale-file probing, removal on close), connect, accept, peer
 * credentials and descriptor passing. */
#include "fd/fd-internal.h"

#include <limits.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

static bool valid_type(int type)
{
        return type == SOCK_STREAM || type == SOCK_SEQPACKET || type == SOCK_DGRAM;
}

static int sock_flags(int flags)
{
        return SOCK_CLOEXEC | ((flags & PK_FD_NONBLOCK) ? SOCK_NONBLOCK : 0);
}

/* Fills a sockaddr_un from a path or "@abstract" name. */
static int make_addr(const char *path, struct sockaddr_un *sa, socklen_t *ret_len,
                     bool *ret_abstract)
{
        if (!path || !*path)
                return -EINVAL;
        size_t n = strlen(path);
        memset(sa, 0, sizeof(*sa));
        sa->sun_family = AF_UNIX;
        if (path[0] == '@') {
                /* The '@' turns into the leading NUL: n bytes in all. */
                if (n > sizeof(sa->sun_path))
                        return -ENAMETOOLONG;
                if (n == 1)
                        return -EINVAL;
                memcpy(sa->sun_path + 1, path + 1, n - 1);
                *ret_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
                *ret_abstract = true;
        } else {
                /* Keep room for the NUL so the path is a C string for every
                 * tool that reads it back. */
                if (n >= sizeof(sa->sun_path))
                        return -ENAMETOOLONG;
                memcpy(sa->sun_path, path, n + 1);
                *ret_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
                *ret_abstract = false;
        }
        return 0;
}

/* mkdir -p for every parent of path, new folders getting exactly mode. */
static int make_parents(const char *path, mode_t mode)
{
        char buf[PK_FD_UNIX_PATH_MAX];
        size_t n = strlen(path);
        if (n >= sizeof(buf))
                return -ENAMETOOLONG;
        memcpy(buf, path, n + 1);
        for (char *p = buf + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (mkdir(buf, mode) == 0) {
                        /* mkdir() applied the umask. */
                        if (chmod(buf, mode) < 0)
                                return pk__neg_errno();
                } else if (errno != EEXIST) {
                        return pk__neg_errno();
                }
                *p = '/';
        }
        return 0;
}

/* A bind() hit EADDRINUSE on a path: remove the file if it is a socket
 * nobody listens on.  Returns 0 when bind may be retried, -EADDRINUSE when
 * the path is live or not a socket, another errno on failure. */
static int clear_stale(const char *path, int type, const struct sockaddr_un *sa, socklen_t len)
{
        struct stat before;
        if (lstat(path, &before) < 0)
                return errno == ENOENT ? 0 : pk__neg_errno();
        if (!S_ISSOCK(before.st_mode))
                return -EADDRINUSE;
        int probe = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (probe < 0)
                return pk__neg_errno();
        int r = connect(probe, (const struct sockaddr *)sa, len);
        int err = r < 0 ? errno : 0;
        pk_fd_close(probe);
        if (err == ENOENT)
                return 0;
        /* Accepted, backlog full (EAGAIN) or a live socket of another type
         * (EPROTOTYPE): somebody is there. */
        if (err != ECONNREFUSED)
                return -EADDRINUSE;
        /* Only remove the file we probed, not one a racing listener just
         * put in its place. */
        struct stat now;
        if (lstat(path, &now) == 0 && now.st_dev == before.st_dev && now.st_ino == before.st_ino &&
            unlink(path) < 0 && errno != ENOENT)
                return pk__neg_errno();
        return 0;
}

int pk_fd_unix_listen(const char *path, int type, const struct pk_fd_unix_opts *opts,
                      struct pk_fd_unix_listener *ret_listener)
{
        static const struct pk_fd_unix_opts defaults = {0};
        if (!opts)
                opts = &defaults;
        if (!ret_listener || !valid_type(type) || pk__bad_flags(opts->flags, PK_FD_NONBLOCK) ||
            opts->backlog < 0 || (opts->dir_mode & ~(mode_t)07777) ||
            (opts->socket_mode & ~(mode_t)07777))
                return -EINVAL;
        struct sockaddr_un sa;
        socklen_t len;
        bool abstract;
        int r = make_addr(path, &sa, &len, &abstract);
        if (r < 0)
                return r;
        int saved = errno;
        if (!abstract && opts->dir_mode) {
                r = make_parents(path, opts->dir_mode);
                if (r < 0)
                        return r;
        }
        PK_CLEANUP_FD int fd = socket(AF_UNIX, type | sock_flags(opts->flags), 0);
        if (fd < 0)
                return pk__neg_errno();
        if (bind(fd, (struct sockaddr *)&sa, len) < 0) {
                if (errno != EADDRINUSE || abstract)
                        return pk__neg_errno();
                r = clear_stale(path, type, &sa, len);
                if (r < 0)
                        return r;
                if (bind(fd, (struct sockaddr *)&sa, len) < 0)
                        return pk__neg_errno();
        }
        struct stat st = {0};
        if (!abstract) {
                /* From here on the file is ours: remove it on failure. */
                if ((opts->socket_mode && chmod(path, opts->socket_mode) < 0) ||
                    lstat(path, &st) < 0)
                        goto fail;
        }
        if (type != SOCK_DGRAM && listen(fd, opts->backlog ? opts->backlog : SOMAXCONN) < 0)
                goto fail;
        errno = saved;
        ret_listener->fd = fd;
        ret_listener->abstract = abstract;
        ret_listener->dev = (unsigned long long)st.st_dev;
        ret_listener->ino = (unsigned long long)st.st_ino;
        memcpy(ret_listener->path, path, strlen(path) + 1);
        return pk_take_fd(&fd);
fail:
        r = pk__neg_errno();
        if (!abstract)
                (void)unlink(path);
        errno = saved;
        return r;
}

int pk_fd_unix_listener_close(struct pk_fd_unix_listener *l)
{
        if (!l)
                return -EBADF;
        int saved = errno;
        if (l->fd >= 0 && !l->abstract && l->path[0]) {
                /* Unlink before close: while our socket is still bound, a
                 * racing pk_fd_unix_listen() sees it live and backs off. */
                struct stat st;
                if (lstat(l->path, &st) == 0 && (unsigned long long)st.st_dev == l->dev &&
                    (unsigned long long)st.st_ino == l->ino)
                        (void)unlink(l->path);
        }
        l->fd = pk_fd_close(l->fd);
        l->fd = -1;
        l->path[0] = '\0';
        errno = saved;
        return -EBADF;
}

int pk_fd_unix_connect(const char *path, int type, int flags)
{
        if (!valid_type(type) || pk__bad_flags(flags, PK_FD_NONBLOCK))
                return -EINVAL;
        struct sockaddr_un sa;
        socklen_t len;
        bool abstract;
        int r = make_addr(path, &sa, &len, &abstract);
        if (r < 0)
                return r;
        int saved = errno;
        PK_CLEANUP_FD int fd = socket(AF_UNIX, type | sock_flags(flags), 0);
        if (fd < 0)
                return pk__neg_errno();
        /* A Unix connect has no in-progress state, so retrying after a
         * signal is simply a new attempt. */
        while (connect(fd, (struct sockaddr *)&sa, len) < 0) {
                if (errno != EINTR)
                        return pk__neg_errno();
        }
        errno = saved;
        return pk_take_fd(&fd);
}

int pk_fd_socketpair(int ret_fds[2], int type, int flags)
{
        if (!ret_fds || !valid_type(type) || pk__bad_flags(flags, PK_FD_NONBLOCK))
                return -EINVAL;
        int saved = errno;
        int fds[2];
        if (socketpair(AF_UNIX, type | sock_flags(flags), 0, fds) < 0)
                return pk__neg_errno();
        errno = saved;
        ret_fds[0] = fds[0];
        ret_fds[1] = fds[1];
        return 0;
}

int pk_fd_accept(int listen_fd, int flags)
{
        if (pk__bad_flags(flags, PK_FD_NONBLOCK))
                return -EINVAL;
        int saved = errno;
        for (;;) {
                int fd = accept4(listen_fd, NULL, NULL, sock_flags(flags));
                if (fd >= 0) {
                        errno = saved;
                        return fd;
                }
                /* A connection reset while queued is not the listener's
                 * failure: wait for the next one. */
                if (errno != EINTR && errno != ECONNABORTED)
                        return pk__neg_errno();
        }
}

int pk_fd_peercred(int fd, struct pk_fd_cred *ret_cred)
{
        if (!ret_cred)
                return -EINVAL;
        int saved = errno;
        struct ucred uc;
        socklen_t len = sizeof(uc);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
                return pk__neg_errno();
        if (len != sizeof(uc))
                return -EINVAL;
        errno = saved;
        ret_cred->pid = uc.pid;
        ret_cred->uid = uc.uid;
        ret_cred->gid = uc.gid;
        return 0;
}

/* Control buffer big enough for PK_FD_MAX_PASS descriptors, aligned. */
union fd_cmsg {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * PK_FD_MAX_PASS)];
};

ssize_t pk_fd_send_fds(int sock, const void *buf, size_t len, const int *fds, size_t nfds)
{
        if (!buf || len == 0 || len > SSIZE_MAX || nfds > PK_FD_MAX_PASS || (nfds && !fds))
                return -EINVAL;
        union fd_cmsg ctl;
        memset(&ctl, 0, sizeof(ctl));
        struct iovec iov = {.iov_base = (void *)(uintptr_t)buf, .iov_len = len};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
        if (nfds) {
                msg.msg_control = ctl.buf;
                msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
                struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
                if (!c) /* cannot happen: controllen covers one header */
                        return -EINVAL;
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
                memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
        }
        int saved = errno;
        ssize_t n;
        do
                n = sendmsg(sock, &msg, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return pk__neg_errno();
        errno = saved;
        if ((size_t)n < len) {
                /* Stream socket, short send: the descriptors went with the
                 * first part; the rest is plain data. */
                ssize_t r = pk_fd_write_all(sock, (const char *)buf + n, len - (size_t)n, NULL);
                if (r < 0)
                        return r;
        }
        return (ssize_t)len;
}

ssize_t pk_fd_recv_fds(int sock, void *buf, size_t len, int *ret_fds, size_t max_fds,
                       size_t *ret_nfds)
{
        if (!buf || len == 0 || len > SSIZE_MAX || max_fds > PK_FD_MAX_PASS ||
            (max_fds && !ret_fds) || !ret_nfds)
                return -EINVAL;
        union fd_cmsg ctl;
        memset(&ctl, 0, sizeof(ctl));
        struct iovec iov = {.iov_base = buf, .iov_len = len};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
        if (max_fds) {
                msg.msg_control = ctl.buf;
                msg.msg_controllen = CMSG_SPACE(sizeof(int) * max_fds);
        }
        int saved = errno;
        ssize_t n;
        do
                n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return pk__neg_errno();
        errno = saved;

        /* Collect every descriptor that arrived, whatever happens next, so
         * that the error paths can close them all. */
        int got[PK_FD_MAX_PASS + 8];
        size_t ngot = 0;
        bool overflow = false;
        if (msg.msg_controllen) {
                for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
                        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
                            c->cmsg_len < CMSG_LEN(0))
                                continue;
                        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                        const unsigned char *data = CMSG_DATA(c);
                        for (size_t i = 0; i < k; i++) {
                                int fd;
                                memcpy(&fd, data + i * sizeof(int), sizeof(int));
                                if (ngot < max_fds) {
                                        got[ngot++] = fd;
                                } else {
                                        /* CMSG_SPACE rounding can let the kernel
                                         * install more than asked for. */
                                        pk_fd_close(fd);
                                        overflow = true;
                                }
                        }
                }
        }
        int err = 0;
        if ((msg.msg_flags & MSG_CTRUNC) || overflow)
                err = ngot < max_fds ? -EMFILE : -ETOOMANYREFS;
        else if (msg.msg_flags & MSG_TRUNC)
                err = -EMSGSIZE;
        if (err) {
                for (size_t i = 0; i < ngot; i++)
                        pk_fd_close(got[i]);
                return err;
        }
        if (ngot)
                memcpy(ret_fds, got, sizeof(int) * ngot);
        *ret_nfds = ngot;
        return n;
}
