/* SPDX-License-Identifier: MIT */
/* Generic descriptor helpers: close/dup/flag toggles, the EINTR-safe
 * full read and write every layer uses, the SIGPIPE guard, and the
 * zero-copy movers (splice, tee, vmsplice, sendfile). */
#include "fd/fd-internal.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>

void pk__sigpipe_block(struct pk__sigpipe *s)
{
        sigset_t pipe_set;
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        /* One syscall both blocks it and tells us whether the caller had. */
        (void)pthread_sigmask(SIG_BLOCK, &pipe_set, &s->old);
        s->was_blocked = sigismember(&s->old, SIGPIPE) == 1;
        s->was_pending = false;
        if (s->was_blocked) {
                /* A SIGPIPE pending from before belongs to the caller: it
                 * must survive our clean-up. */
                sigset_t pending;
                if (sigpending(&pending) == 0)
                        s->was_pending = sigismember(&pending, SIGPIPE) == 1;
        }
}

void pk__sigpipe_restore(struct pk__sigpipe *s, bool epipe)
{
        int saved = errno;
        sigset_t pipe_set;
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        if (epipe && !s->was_pending) {
                const struct timespec zero = {0, 0};
                /* The failed write queued SIGPIPE on this thread; take it
                 * so unblocking does not deliver it. */
                while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
                        ;
        }
        /* Unblock just SIGPIPE rather than reinstating the old mask, so
         * nothing else about the thread's mask can be undone. */
        if (!s->was_blocked)
                (void)pthread_sigmask(SIG_UNBLOCK, &pipe_set, NULL);
        errno = saved;
}

int pk_fd_close(int fd)
{
        if (fd >= 0) {
                int saved = errno;
                /* Linux releases the descriptor even when close() reports
                 * EINTR; retrying could close a descriptor another thread
                 * just got. */
                (void)close(fd);
                errno = saved;
        }
        return -EBADF;
}

int pk_fd_dup(int fd, int min_fd)
{
        if (fd < 0 || min_fd < 0)
                return fd < 0 ? -EBADF : -EINVAL;
        int saved = errno;
        int r = fcntl(fd, F_DUPFD_CLOEXEC, min_fd);
        if (r < 0)
                return pk__neg_errno();
        errno = saved;
        return r;
}

int pk_fd_raise(int fd)
{
        if (fd < 0)
                return -EBADF;
        if (fd < PK_FD_RAISE_FROM || fd >= PK_FD_RAISE_TO)
                return fd;
        int saved = errno;
        int high = fcntl(fd, F_DUPFD_CLOEXEC, PK_FD_RAISE_TO);
        errno = saved;
        if (high < 0) /* EINVAL or EMFILE: the limit leaves no room up there */
                return fd;
        pk_fd_close(fd);
        return high;
}

/* Sets or clears bit in the flags fcntl(get) reads and fcntl(set) writes,
 * skipping the write when nothing changes; errno untouched on success. */
static int fcntl_flag(int fd, int get, int set, int bit, int on)
{
        int saved = errno;
        int fl = fcntl(fd, get);
        if (fl < 0)
                return pk__neg_errno();
        int want = on ? (fl | bit) : (fl & ~bit);
        if (want != fl && fcntl(fd, set, want) < 0)
                return pk__neg_errno();
        errno = saved;
        return 0;
}

int pk_fd_set_nonblock(int fd, int on)
{
        return fcntl_flag(fd, F_GETFL, F_SETFL, O_NONBLOCK, on);
}

int pk_fd_set_cloexec(int fd, int on)
{
        return fcntl_flag(fd, F_GETFD, F_SETFD, FD_CLOEXEC, on);
}

ssize_t pk_fd_read_all(int fd, void *buf, size_t len, size_t *reterr_done)
{
        size_t done = 0;
        int err = 0;
        if (len > SSIZE_MAX || (!buf && len)) {
                err = EINVAL;
                goto out;
        }
        int saved = errno;
        unsigned char *p = buf;
        while (done < len) {
                ssize_t n = read(fd, p + done, len - done);
                if (n > 0) {
                        done += (size_t)n;
                } else if (n == 0) {
                        break; /* EOF: report the short count */
                } else if (errno != EINTR) {
                        err = errno;
                        break;
                }
        }
        errno = saved;
out:
        if (reterr_done)
                *reterr_done = done;
        return err ? -err : (ssize_t)done;
}

/* Writes through write(2) with SIGPIPE blocked around the loop. */
static int write_guarded(int fd, const unsigned char *p, size_t len, size_t *done)
{
        struct pk__sigpipe guard;
        int err = 0;
        pk__sigpipe_block(&guard);
        while (*done < len) {
                ssize_t n = write(fd, p + *done, len - *done);
                if (n > 0) {
                        *done += (size_t)n;
                } else if (n == 0) {
                        err = EIO; /* no progress and no error: give up */
                        break;
                } else if (errno != EINTR) {
                        err = errno;
                        break;
                }
        }
        pk__sigpipe_restore(&guard, err == EPIPE);
        return err;
}

/* The last descriptor this thread found not to be a socket.  Only a hint
 * that saves the send() probe on repeated pipe writes: if the number has
 * since been reused for a socket, the guarded write() path is still
 * correct for it (SIGPIPE blocked and consumed), just slower. */
static _Thread_local int last_nonsocket = -1;

ssize_t pk_fd_write_all(int fd, const void *buf, size_t len, size_t *reterr_done)
{
        size_t done = 0;
        int err = 0;
        if (len > SSIZE_MAX || (!buf && len)) {
                err = EINVAL;
                goto out;
        }
        int saved = errno;
        const unsigned char *p = buf;
        if (fd == last_nonsocket && len) {
                err = write_guarded(fd, p, len, &done);
                goto restore;
        }
        /* Try the socket path first: on a non-socket send() fails with
         * ENOTSOCK before touching any data, which costs no more than an
         * fstat() and nothing at all for the common socket case. */
        while (done < len) {
                ssize_t n = send(fd, p + done, len - done, MSG_NOSIGNAL);
                if (n > 0) {
                        done += (size_t)n;
                } else if (n == 0) {
                        err = EIO;
                        break;
                } else if (errno == ENOTSOCK) {
                        last_nonsocket = fd;
                        err = write_guarded(fd, p, len, &done);
                        break;
                } else if (errno != EINTR) {
                        err = errno;
                        break;
                }
        }
restore:
        errno = saved;
out:
        if (reterr_done)
                *reterr_done = done;
        return err ? -err : (ssize_t)done;
}

/* One call of a transfer: moves up to left more bytes, done having moved
 * already; returns the bytes moved, 0, or -1 with errno set. */
typedef ssize_t (*xfer_step)(const void *ctx, size_t done, size_t left);

/* Calls step until len bytes have moved, SIGPIPE held off and EINTR retried.
 * A 0 from step ends it: the input's end (zero_err 0, a short count) or the
 * error zero_err.  Returns the bytes moved, or -errno when none did; errno is
 * left as it was. */
static ssize_t transfer(size_t len, int zero_err, xfer_step step, const void *ctx)
{
        int saved = errno;
        size_t done = 0;
        int err = 0;
        struct pk__sigpipe guard;
        pk__sigpipe_block(&guard);
        while (done < len) {
                ssize_t n = step(ctx, done, len - done);
                if (n > 0) {
                        done += (size_t)n;
                } else if (n == 0) {
                        err = zero_err;
                        break;
                } else if (errno != EINTR) {
                        err = errno;
                        break;
                }
        }
        pk__sigpipe_restore(&guard, err == EPIPE);
        errno = saved;
        if (err && done == 0)
                return -err;
        return (ssize_t)done;
}

struct splice_args {
        int fd_in, fd_out;
        loff_t *off_in, *off_out;
        unsigned flags;
};

static ssize_t splice_step(const void *ctx, size_t done, size_t left)
{
        const struct splice_args *x = ctx;
        (void)done;
        return splice(x->fd_in, x->off_in, x->fd_out, x->off_out, left, x->flags);
}

ssize_t pk_fd_splice(int fd_in, int64_t *off_in, int fd_out, int64_t *off_out, size_t len,
                     unsigned flags)
{
        if (len > SSIZE_MAX)
                return -EINVAL;
        loff_t oin = off_in ? (loff_t)*off_in : 0;
        loff_t oout = off_out ? (loff_t)*off_out : 0;
        const struct splice_args x = {fd_in, fd_out, off_in ? &oin : NULL, off_out ? &oout : NULL,
                                      flags};
        ssize_t r = transfer(len, 0, splice_step, &x); /* 0: input at EOF */
        if (off_in)
                *off_in = (int64_t)oin;
        if (off_out)
                *off_out = (int64_t)oout;
        return r;
}

ssize_t pk_fd_tee(int fd_in, int fd_out, size_t len, unsigned flags)
{
        if (len > SSIZE_MAX)
                return -EINVAL;
        int saved = errno;
        struct pk__sigpipe guard;
        pk__sigpipe_block(&guard);
        ssize_t n;
        do
                n = tee(fd_in, fd_out, len, flags);
        while (n < 0 && errno == EINTR);
        int err = n < 0 ? errno : 0;
        pk__sigpipe_restore(&guard, err == EPIPE);
        errno = saved;
        return err ? -err : n;
}

struct vmsplice_args {
        int fd;
        const void *buf;
        unsigned flags;
};

static ssize_t vmsplice_step(const void *ctx, size_t done, size_t left)
{
        const struct vmsplice_args *x = ctx;
        /* iov_base is not const in the ABI; vmsplice only reads it when
         * writing to a pipe. */
        struct iovec iov = {.iov_base = (void *)((uintptr_t)x->buf + done), .iov_len = left};
        return vmsplice(x->fd, &iov, 1, x->flags);
}

ssize_t pk_fd_vmsplice(int pipe_fd, const void *buf, size_t len, unsigned flags)
{
        if (len > SSIZE_MAX || (!buf && len))
                return -EINVAL;
        const struct vmsplice_args x = {pipe_fd, buf, flags};
        return transfer(len, EIO, vmsplice_step, &x); /* 0: no progress, give up */
}

struct sendfile_args {
        int out_fd, in_fd;
        off_t *off;
};

static ssize_t sendfile_step(const void *ctx, size_t done, size_t left)
{
        const struct sendfile_args *x = ctx;
        (void)done;
        return sendfile(x->out_fd, x->in_fd, x->off, left);
}

ssize_t pk_fd_sendfile(int out_fd, int in_fd, int64_t *offset, size_t len)
{
        if (len > SSIZE_MAX)
                return -EINVAL;
        off_t off = offset ? (off_t)*offset : 0;
        const struct sendfile_args x = {out_fd, in_fd, offset ? &off : NULL};
        ssize_t r = transfer(len, 0, sendfile_step, &x); /* 0: input at EOF */
        if (offset)
                *offset = (int64_t)off;
        return r;
}

int pk_fd_openat(int dirfd, const char *path, int oflags, mode_t mode)
{
        if (!path)
                return -EINVAL;
        int saved = errno;
        int fd;
        do
                fd = openat(dirfd, path, oflags | O_CLOEXEC | O_NOCTTY, mode);
        while (fd < 0 && errno == EINTR);
        if (fd < 0)
                return pk__neg_errno();
        errno = saved;
        return fd;
}

int pk_fd_memfd_data(const char *name, const void *buf, size_t len)
{
        if (!name || (len && !buf))
                return -EINVAL;
        int saved = errno;
        int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
                return pk__neg_errno();
        ssize_t w = len ? pk_fd_write_all(fd, buf, len, NULL) : 0;
        int r = w < 0 ? (int)w : 0;
        /* Read-only for good: no write, no resize, no new seals. */
        if (r == 0 &&
            fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
                r = pk__neg_errno();
        if (r == 0 && lseek(fd, 0, SEEK_SET) < 0)
                r = pk__neg_errno();
        if (r < 0) {
                pk_fd_close(fd);
                return r;
        }
        errno = saved;
        return fd;
}

int pk_fd_open(const char *path, int oflags, mode_t mode)
{
        if (!path)
                return -EINVAL;
        int saved = errno;
        int fd;
        do
                fd = open(path, oflags | O_CLOEXEC | O_NOCTTY, mode);
        while (fd < 0 && errno == EINTR);
        if (fd < 0)
                return pk__neg_errno();
        errno = saved;
        return fd;
}

/* Opens path without blocking, checks its file type, then applies the
 * caller's blocking mode: the shared core of the FIFO and device openers. */
int pk__open_typed(const char *path, int access, int flags, mode_t type, int wrong_type)
{
        int acc = pk__access_oflags(access);
        if (!path || acc < 0 || pk__bad_flags(flags, PK_FD_NONBLOCK))
                return -EINVAL;
        /* O_NONBLOCK keeps open() from waiting (a FIFO without a peer, a
         * modem line) before we have checked what the path is; a write-only
         * FIFO open fails with ENXIO instead of waiting for a reader. */
        PK_CLEANUP_FD int fd = pk_fd_open(path, acc | O_NONBLOCK, 0);
        if (fd < 0)
                return fd;
        int saved = errno;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return pk__neg_errno();
        if ((st.st_mode & S_IFMT) != type)
                return wrong_type;
        errno = saved;
        if (!(flags & PK_FD_NONBLOCK)) {
                int r = pk_fd_set_nonblock(fd, 0);
                if (r < 0)
                        return r;
        }
        return pk_take_fd(&fd);
}

int pk_fd_chardev_open(const char *path, int access, int flags)
{
        return pk__open_typed(path, access, flags, S_IFCHR, -ENODEV);
}

ssize_t pk_fd_writev(int fd, const struct iovec *iov, int iovcnt, int flags)
{
        if ((!iov && iovcnt) || iovcnt < 0 || pk__bad_flags(flags, PK_FD_SIGPIPE_IGNORED))
                return -EINVAL;
        bool guard = !(flags & PK_FD_SIGPIPE_IGNORED);
        struct pk__sigpipe g;
        if (guard)
                pk__sigpipe_block(&g);
        int saved = errno;
        ssize_t n;
        do
                n = writev(fd, iov, iovcnt);
        while (n < 0 && errno == EINTR);
        int err = n < 0 ? errno : 0;
        errno = saved;
        if (guard)
                pk__sigpipe_restore(&g, err == EPIPE);
        return n < 0 ? -err : n;
}

int pk__iov_advance(struct iovec *iov, int iovcnt, int first, size_t n)
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
        while (first < iovcnt && iov[first].iov_len == 0)
                first++;
        return first;
}

ssize_t pk_fd_writev_all(int fd, struct iovec *iov, int iovcnt, int flags, size_t *reterr_done)
{
        size_t done = 0;
        ssize_t r = 0;
        if ((!iov && iovcnt) || iovcnt < 0 || pk__bad_flags(flags, PK_FD_SIGPIPE_IGNORED)) {
                r = -EINVAL;
                goto out;
        }
        int saved = errno;
        int first = pk__iov_advance(iov, iovcnt, 0, 0);
        while (first < iovcnt) {
                ssize_t n = pk_fd_writev(fd, iov + first, iovcnt - first, flags);
                if (n == -EAGAIN) {
                        struct pollfd p = {.fd = fd, .events = POLLOUT};
                        if (poll(&p, 1, -1) < 0 && errno != EINTR) {
                                r = pk__neg_errno();
                                break;
                        }
                        continue;
                }
                if (n < 0) {
                        r = n;
                        break;
                }
                done += (size_t)n;
                first = pk__iov_advance(iov, iovcnt, first, (size_t)n);
        }
        errno = saved;
out:
        if (reterr_done)
                *reterr_done = done;
        return r < 0 ? r : (ssize_t)done;
}
