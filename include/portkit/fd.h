/* SPDX-License-Identifier: MIT */
/**
 * @file fd.h
 * @brief Constructors for every Linux descriptor kind, and the I/O helpers
 *        every other portkit layer uses.
 *
 * Rules that hold for the whole header:
 * - Every constructor creates its descriptor close-on-exec atomically
 *   (pipe2, SOCK_CLOEXEC, accept4, F_DUPFD_CLOEXEC, EFD_/TFD_/SFD_CLOEXEC,
 *   MSG_CMSG_CLOEXEC, O_CLOEXEC) and returns it (>= 0) or a negative errno.
 *   The caller owns the returned descriptor; close it with pk_fd_close().
 * - On failure nothing is leaked and no out-parameter is written (except
 *   the documented `reterr_*` ones).
 * - Blocking calls are retried on EINTR unless stated otherwise.
 * - Writes never raise SIGPIPE: sockets use MSG_NOSIGNAL, other descriptors
 *   are written with SIGPIPE blocked in the calling thread; a SIGPIPE the
 *   write itself raised is consumed before the mask is restored.
 * - Functions that succeed leave errno untouched.
 * - `flags` arguments take PK_FD_* bits; unknown bits give -EINVAL.
 */
#ifndef PORTKIT_FD_H
#define PORTKIT_FD_H

#include <portkit/error.h>

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

struct termios;
struct signalfd_siginfo;

/** Create the descriptor with O_NONBLOCK set (every constructor). */
#define PK_FD_NONBLOCK 0x01
/** eventfd: semaphore semantics (each read returns 1). */
#define PK_FD_SEMAPHORE 0x02
/** pk_fd_mq_open(): create the queue if it does not exist. */
#define PK_FD_CREATE 0x04
/** pk_fd_mq_open(): with PK_FD_CREATE, fail with -EEXIST if it exists. */
#define PK_FD_EXCL 0x08

/** Access modes for FIFOs, message queues and devices. */
#define PK_FD_READ 1
/** Open for writing only. */
#define PK_FD_WRITE 2
/** Open for reading and writing. */
#define PK_FD_RDWR 3

/* ------------------------------------------------------------------ */
/* Generic descriptor helpers (src/fd/io.c)                             */
/* ------------------------------------------------------------------ */

/**
 * @brief Closes a descriptor; never retries on EINTR (the descriptor is
 *        gone on Linux even then).
 * @param fd a descriptor, or any negative value (ignored).
 * @return always -EBADF, so `fd = pk_fd_close(fd);` resets the variable.
 *         errno is preserved.
 */
PK_API int pk_fd_close(int fd);

/**
 * @brief Duplicates @p fd onto the lowest free descriptor >= @p min_fd,
 *        close-on-exec (F_DUPFD_CLOEXEC).
 * @param fd descriptor to duplicate (borrowed).
 * @param min_fd lowest acceptable number; use 3 to stay off stdio.
 * @return the new descriptor (caller owns it), -EBADF, -EINVAL, -EMFILE.
 */
PK_API int pk_fd_dup(int fd, int min_fd);

/** Descriptors below this number stay where they are (pk_fd_raise()). */
#define PK_FD_RAISE_FROM 32
/** Where pk_fd_raise() moves a descriptor: the lowest free one from here. */
#define PK_FD_RAISE_TO 256

/**
 * @brief Moves a long-lived descriptor out of the low numbers, so that spawns
 *        stay cheap in a process that holds many descriptors.
 *
 * A child that pk_spawn() starts copies only the parent's descriptors below
 * its highest source descriptor (and closes them at exec); new descriptors
 * take the lowest free number, so a host whose low numbers are full of
 * descriptors it keeps (pidfds, pipes of ports, log files) makes every child
 * copy all of them.  pk_spawn() raises the pidfd and the pipe ends it hands
 * out; call this on others kept for long.  A descriptor in
 * [PK_FD_RAISE_FROM, PK_FD_RAISE_TO) moves to the lowest free one >=
 * PK_FD_RAISE_TO (F_DUPFD_CLOEXEC, then the old one is closed); one outside
 * that range, or one that cannot move (RLIMIT_NOFILE), stays.  Call it
 * before the number is registered anywhere (epoll keys by number).
 * @param fd descriptor (owned; closed when it moves).
 * @return the descriptor to use from now on (fd or its new number, which is
 *         close-on-exec); -EBADF if fd < 0.  Never fails otherwise.
 */
PK_API int pk_fd_raise(int fd);

/**
 * @brief Sets or clears O_NONBLOCK on @p fd (one F_GETFL, and an F_SETFL only
 *        if the state changes).
 * @return 0, or -EBADF.
 */
PK_API int pk_fd_set_nonblock(int fd, int on);

/**
 * @brief Sets or clears FD_CLOEXEC on @p fd.  Clearing is how a caller hands
 *        a descriptor to an exec'd child on purpose; portkit never sets it
 *        after creation itself.
 * @return 0, or -EBADF.
 */
PK_API int pk_fd_set_cloexec(int fd, int on);

/**
 * @brief Reads exactly @p len bytes unless end-of-file comes first.
 *
 * Retries on EINTR and on short reads.  A return value below @p len means
 * the peer closed (EOF) after that many bytes; 0 means EOF before any byte.
 * On a non-blocking descriptor that runs dry the call fails with -EAGAIN.
 * @param fd descriptor (borrowed).
 * @param buf destination of @p len bytes; may be NULL only if len is 0.
 * @param len bytes wanted, at most SSIZE_MAX.
 * @param[out] reterr_done optional; always set to the bytes stored in
 *        @p buf, also when the call fails (so data read before an error or
 *        -EAGAIN is not lost).
 * @return bytes read (== len, or < len at EOF), or a negative errno
 *         (-EAGAIN, -EBADF, -EIO, -ECONNRESET, -EINVAL ...).
 */
PK_API ssize_t pk_fd_read_all(int fd, void *buf, size_t len, size_t *reterr_done);

/**
 * @brief Writes all @p len bytes, retrying on EINTR and short writes,
 *        without ever raising SIGPIPE.
 *
 * Sockets are written with send(MSG_NOSIGNAL).  Other descriptors are
 * written with SIGPIPE blocked in the calling thread for the duration; if
 * the write fails with EPIPE the SIGPIPE it raised is consumed
 * (sigtimedwait) unless one was already pending before, then the mask is
 * restored.  Other threads' masks and the process's dispositions are not
 * touched.  Cost: one send() on a socket; on a pipe the first call probes
 * with send() (ENOTSOCK) and each thread remembers its last non-socket
 * descriptor so later calls skip the probe (three syscalls: mask, write,
 * mask).  The hint is harmless if the number is reused for a socket.
 * @param fd descriptor (borrowed).
 * @param buf @p len bytes; may be NULL only if len is 0.
 * @param[out] reterr_done optional; always set to the bytes written,
 *        also on failure (-EAGAIN on a full non-blocking descriptor).
 * @return @p len, or a negative errno (-EPIPE when the reader is gone,
 *         -EAGAIN, -EBADF, -EINVAL ...).
 */
PK_API ssize_t pk_fd_write_all(int fd, const void *buf, size_t len, size_t *reterr_done);

/** pk_fd_writev() / pk_fd_writev_all() flag: the caller ignores SIGPIPE
 *  process-wide, so the write needs no guard (saves two syscalls). */
#define PK_FD_SIGPIPE_IGNORED 0x10

/**
 * @brief One writev(2), retried on EINTR, with SIGPIPE held off in the calling
 *        thread as pk_fd_write_all() does (unless @p flags has
 *        PK_FD_SIGPIPE_IGNORED).
 * @param fd descriptor (borrowed).
 * @param iov @p iovcnt buffers (borrowed for the call).
 * @param iovcnt 1..IOV_MAX.
 * @param flags 0 or PK_FD_SIGPIPE_IGNORED.
 * @return bytes written (possibly fewer than asked), or a negative errno
 *         (-EAGAIN on a full non-blocking descriptor, -EPIPE, -EINVAL ...).
 */
PK_API ssize_t pk_fd_writev(int fd, const struct iovec *iov, int iovcnt, int flags);

/**
 * @brief Writes every byte of @p iov, finishing short writes and waiting with
 *        poll(2) while a non-blocking descriptor is full; SIGPIPE as for
 *        pk_fd_writev().
 * @param fd descriptor (borrowed).
 * @param iov @p iovcnt buffers; consumed in place (lengths reach 0).
 * @param iovcnt 0..IOV_MAX.
 * @param flags 0 or PK_FD_SIGPIPE_IGNORED.
 * @param[out] reterr_done optional; the bytes written, also on failure.
 * @return the total written, or a negative errno (-EPIPE when the reader is
 *         gone, -EBADF, -EINVAL ...).
 */
PK_API ssize_t pk_fd_writev_all(int fd, struct iovec *iov, int iovcnt, int flags,
                                size_t *reterr_done);

/**
 * @brief Moves @p len bytes from @p fd_in to @p fd_out with splice(2); one
 *        side must be a pipe.
 * @param off_in in/out file offset for a non-pipe @p fd_in, or NULL to use
 *        (and advance) the file position.  Likewise @p off_out.
 * @param flags SPLICE_F_* bits passed through (SPLICE_F_MOVE, _MORE,
 *        _NONBLOCK).
 * @return bytes moved: @p len, or fewer if @p fd_in hit EOF; a negative
 *         errno otherwise (-EAGAIN with SPLICE_F_NONBLOCK and nothing moved,
 *         -EPIPE without SIGPIPE, -EINVAL).  If an error follows partial
 *         progress, the partial count is returned and the error is left for
 *         the next call.
 */
PK_API ssize_t pk_fd_splice(int fd_in, int64_t *off_in, int fd_out, int64_t *off_out, size_t len,
                            unsigned flags);

/**
 * @brief Duplicates up to @p len bytes at the head of pipe @p fd_in into pipe
 *        @p fd_out with tee(2), without consuming them.
 *
 * tee(2) has no offset, so it cannot be resumed after a short copy: the
 * call retries EINTR and returns what one successful tee moved, which is
 * short when @p fd_in holds less or @p fd_out has less room.
 * @return bytes duplicated (0: no writer and empty input), or a negative
 *         errno (-EAGAIN with SPLICE_F_NONBLOCK, -EPIPE, -EINVAL).
 */
PK_API ssize_t pk_fd_tee(int fd_in, int fd_out, size_t len, unsigned flags);

/**
 * @brief Writes @p len bytes of user memory into pipe @p pipe_fd with
 *        vmsplice(2), retrying short counts and EINTR.
 *
 * The kernel may reference @p buf's pages instead of copying them: the
 * caller must not modify @p buf until the reader has consumed the data
 * (or pass SPLICE_F_GIFT with page-aligned, never-reused memory).
 * @return @p len, or a negative errno (-EPIPE without SIGPIPE, -EAGAIN with
 *         SPLICE_F_NONBLOCK and nothing written; after partial progress the
 *         partial count).
 */
PK_API ssize_t pk_fd_vmsplice(int pipe_fd, const void *buf, size_t len, unsigned flags);

/**
 * @brief Copies @p len bytes from @p in_fd (a file supporting mmap-like
 *        reads) to @p out_fd with sendfile(2).
 * @param offset in/out read offset, or NULL to use and advance the file
 *        position of @p in_fd.
 * @return bytes copied (@p len, or fewer at EOF of @p in_fd), or a negative
 *         errno (-EPIPE without SIGPIPE, -EAGAIN, -EINVAL); after partial
 *         progress an error returns the partial count.
 */
PK_API ssize_t pk_fd_sendfile(int out_fd, int in_fd, int64_t *offset, size_t len);

/**
 * @brief Opens a file with open(2), always adding O_CLOEXEC (and O_NOCTTY).
 * @param path file path (borrowed).
 * @param oflags O_* flags for open(2); O_CLOEXEC is forced.
 * @param mode creation mode when O_CREAT/O_TMPFILE is given.
 * @return the descriptor, or a negative errno from open(2).
 */
PK_API int pk_fd_open(const char *path, int oflags, mode_t mode);

/**
 * @brief A sealed memfd holding a copy of @p buf, positioned at 0: an
 *        in-memory read-only file (systemd's StandardInputData=).
 *
 * Made with memfd_create(2) (MFD_CLOEXEC | MFD_ALLOW_SEALING) and sealed
 * against writes, growing, shrinking and further seals, so whoever gets it
 * can read (and seek) but never change it.
 * @param name the memfd's name (shown in /proc/PID/fd; borrowed).
 * @param buf the bytes (borrowed for the call); may be NULL when @p len is 0.
 * @param len their number.
 * @return the descriptor (the caller owns it), or -EINVAL, or a negative
 *         errno from memfd_create(2), write(2) or fcntl(2).
 */
PK_API int pk_fd_memfd_data(const char *name, const void *buf, size_t len);

/**
 * @brief pk_fd_open() relative to a directory descriptor (openat(2)), always
 *        adding O_CLOEXEC and O_NOCTTY; EINTR is retried.
 * @param dirfd a directory descriptor (borrowed), or AT_FDCWD.
 * @param path file path (borrowed); an absolute path ignores @p dirfd.
 * @return the descriptor, or a negative errno from openat(2) (-EBADF, -ENOTDIR, ...).
 */
PK_API int pk_fd_openat(int dirfd, const char *path, int oflags, mode_t mode);

/**
 * @brief Opens a character device (e.g. "/dev/null", "/dev/urandom",
 *        "/dev/ttyS0") close-on-exec and without making it the controlling
 *        terminal.
 * @param path device path (borrowed).
 * @param access PK_FD_READ, PK_FD_WRITE or PK_FD_RDWR.
 * @param flags PK_FD_NONBLOCK.
 * @return the descriptor, -ENODEV if @p path is not a character device,
 *         -EINVAL for bad arguments, or an open(2) errno.
 */
PK_API int pk_fd_chardev_open(const char *path, int access, int flags);

/* ------------------------------------------------------------------ */
/* Pipes and FIFOs (src/fd/pipe.c, src/fd/fifo.c)                       */
/* ------------------------------------------------------------------ */

/**
 * @brief Creates a pipe with pipe2(O_CLOEXEC).
 * @param[out] ret_fds ret_fds[0] is the read end, ret_fds[1] the write end;
 *        the caller owns both.  Untouched on failure.
 * @param flags PK_FD_NONBLOCK sets O_NONBLOCK on both ends.
 * @return 0, or -EMFILE, -ENFILE, -EINVAL.
 */
PK_API int pk_fd_pipe(int ret_fds[2], int flags);

/**
 * @brief Sets a pipe's buffer size (F_SETPIPE_SZ).
 * @param fd either end of the pipe.
 * @param size wanted size in bytes; the kernel rounds up to a power-of-two
 *        number of pages.
 * @return the size actually set, -EINVAL (size above INT_MAX or below the
 *         current contents), -EPERM (above /proc/sys/fs/pipe-max-size
 *         without CAP_SYS_RESOURCE), -EBADF (not a pipe).
 */
PK_API int pk_fd_pipe_set_size(int fd, size_t size);

/**
 * @brief Returns a pipe's buffer size in bytes (F_GETPIPE_SZ), or -EBADF.
 */
PK_API int pk_fd_pipe_get_size(int fd);

/**
 * @brief Creates a named FIFO with exactly @p mode (umask does not apply).
 * @return 0 if created, 1 if a FIFO already existed at @p path (its mode
 *         untouched), -EEXIST if something else exists there, or an errno
 *         from mkfifo(3)/chmod(2).
 */
PK_API int pk_fd_fifo_make(const char *path, mode_t mode);

/**
 * @brief Opens a FIFO without ever blocking in open(2).
 *
 * The FIFO is opened O_NONBLOCK; unless @p flags has PK_FD_NONBLOCK,
 * O_NONBLOCK is then cleared, so later reads and writes block as usual.
 * - PK_FD_READ always succeeds at once.  Until a writer opens the FIFO a
 *   blocking read returns 0 (EOF) immediately: wait for readiness with
 *   poll/the loop (POLLIN) or open with PK_FD_RDWR.
 * - PK_FD_WRITE fails with -ENXIO when no reader has the FIFO open; retry
 *   later (nothing is created).
 * - PK_FD_RDWR always succeeds (Linux-specific): the descriptor counts as
 *   both a reader and a writer, so reads never see EOF and writes never
 *   see EPIPE.
 * @return the descriptor, -ENXIO (write, no reader), -EINVAL (not a FIFO,
 *         bad access/flags), or an open(2) errno.
 */
PK_API int pk_fd_fifo_open(const char *path, int access, int flags);

/* ------------------------------------------------------------------ */
/* Unix-domain sockets (src/fd/unix.c)                                  */
/* ------------------------------------------------------------------ */

/** Bytes in sockaddr_un.sun_path on Linux; a path needs one for its NUL. */
#define PK_FD_UNIX_PATH_MAX 108

/**
 * @brief A listening (stream/seqpacket) or bound (datagram) Unix socket
 *        created by pk_fd_unix_listen().  Caller-allocated; release with
 *        pk_fd_unix_listener_close(), which also removes the socket file.
 */
struct pk_fd_unix_listener {
        int fd;                             /**< the socket; -1 when closed */
        int abstract;                       /**< 1 for an abstract-namespace name */
        unsigned long long dev;             /**< st_dev of the socket file we made */
        unsigned long long ino;             /**< st_ino of the socket file we made */
        char path[PK_FD_UNIX_PATH_MAX + 1]; /**< the name as given ("" once closed) */
};

/** Initialiser for a closed listener, so closing it is a no-op. */
#define PK_FD_UNIX_LISTENER_INIT                                                                   \
        {                                                                                          \
                -1, 0, 0, 0,                                                                       \
                {                                                                                  \
                        0                                                                          \
                }                                                                                  \
        }

/** Options for pk_fd_unix_listen(); all zero means the defaults. */
struct pk_fd_unix_opts {
        int flags;          /**< PK_FD_NONBLOCK */
        int backlog;        /**< listen(2) backlog; 0 means SOMAXCONN */
        mode_t dir_mode;    /**< create missing parent folders with this exact
                                 mode; 0 means do not create them (-ENOENT) */
        mode_t socket_mode; /**< chmod the socket file to this; 0 leaves the
                                 umask-given mode */
};

/**
 * @brief Creates a Unix socket bound to @p path, listening if it is a
 *        stream or seqpacket socket.
 *
 * Path hygiene:
 * - A name starting with '@' is abstract (the '@' becomes the leading NUL;
 *   no file is created, nothing to clean up).
 * - strlen(path) must be below PK_FD_UNIX_PATH_MAX, else -ENAMETOOLONG.
 * - Missing parent folders are created with opts->dir_mode if non-zero.
 * - If a socket file already exists, a connect(2) probe decides: refused
 *   means stale and the file is removed and bind retried once; anything
 *   else (accepted, backlog full, wrong type) means live: -EADDRINUSE.  A
 *   non-socket file at @p path is never removed: -EADDRINUSE.
 * - The file's device and inode are recorded so that
 *   pk_fd_unix_listener_close() removes only the file this call made.
 * @param path socket path or "@name" (borrowed, copied).
 * @param type SOCK_STREAM, SOCK_SEQPACKET or SOCK_DGRAM.
 * @param opts options, or NULL for the defaults.
 * @param[out] ret_listener filled on success; the caller owns it and
 *        releases it with pk_fd_unix_listener_close().
 * @return the socket descriptor (also in ret_listener->fd), -ENAMETOOLONG,
 *         -EADDRINUSE, -EINVAL, -ENOENT, -EACCES, -EMFILE ...
 */
PK_API int pk_fd_unix_listen(const char *path, int type, const struct pk_fd_unix_opts *opts,
                             struct pk_fd_unix_listener *ret_listener);

/**
 * @brief Closes the listener's socket and, for a path name, unlinks the
 *        socket file if it is still the one pk_fd_unix_listen() created
 *        (same device and inode).  Accepts NULL and closed listeners.
 *
 * In a forked child that must not remove the parent's file, close
 * `l->fd` with pk_fd_close() instead.
 * @return always -EBADF (destructor convention); l->fd is set to -1.
 */
PK_API int pk_fd_unix_listener_close(struct pk_fd_unix_listener *l);

/**
 * @brief Connects a new Unix socket of @p type to @p path ("@name" for an
 *        abstract name).
 *
 * With PK_FD_NONBLOCK the connect is non-blocking; on a Unix socket it
 * either completes at once or fails with -EAGAIN when the listener's
 * backlog is full.
 * @return the connected descriptor, -ENOENT (no such file),
 *         -ECONNREFUSED (nobody listening), -ENAMETOOLONG, -EAGAIN,
 *         -EPROTOTYPE (type mismatch), -EINVAL, -EMFILE ...
 */
PK_API int pk_fd_unix_connect(const char *path, int type, int flags);

/**
 * @brief Creates a connected socket pair with socketpair(AF_UNIX).
 * @param[out] ret_fds both ends; the caller owns them.  Untouched on
 *        failure.
 * @param type SOCK_STREAM, SOCK_SEQPACKET or SOCK_DGRAM.
 * @param flags PK_FD_NONBLOCK.
 * @return 0, or -EINVAL, -EMFILE, -ENFILE.
 */
PK_API int pk_fd_socketpair(int ret_fds[2], int type, int flags);

/**
 * @brief Accepts a connection with accept4(SOCK_CLOEXEC), retrying EINTR
 *        and ECONNABORTED.  Works on Unix and TCP listeners.
 * @param flags PK_FD_NONBLOCK sets O_NONBLOCK on the accepted socket.
 * @return the new descriptor, -EAGAIN (non-blocking listener, nobody
 *         waiting), -EMFILE, -EINVAL ...
 */
PK_API int pk_fd_accept(int listen_fd, int flags);

/** Credentials of a Unix socket's peer, as of connect/socketpair time. */
struct pk_fd_cred {
        pid_t pid; /**< process id */
        uid_t uid; /**< effective user id */
        gid_t gid; /**< effective group id */
};

/**
 * @brief Reads the peer's credentials (SO_PEERCRED) of a connected Unix
 *        socket.
 * @param[out] ret_cred filled on success.
 * @return 0, -ENOTSOCK, -ENOTCONN, -EINVAL.
 */
PK_API int pk_fd_peercred(int fd, struct pk_fd_cred *ret_cred);

/** Most descriptors one SCM_RIGHTS message carries (the kernel's SCM_MAX_FD). */
#define PK_FD_MAX_PASS 253

/**
 * @brief Sends @p len bytes with @p nfds descriptors attached (SCM_RIGHTS)
 *        over a Unix socket, with MSG_NOSIGNAL.
 *
 * The descriptors ride with the first byte; on a stream socket the rest of
 * the data is written until done.  The caller keeps ownership of @p fds
 * (the receiver gets duplicates).
 * @param len at least 1: a stream socket cannot carry descriptors alone.
 * @param nfds 0..PK_FD_MAX_PASS.
 * @return @p len, or -EINVAL, -EPIPE, -EAGAIN, -ETOOMANYREFS, -EBADF ...
 *         If writing the rest of a short stream send fails, that error is
 *         returned although the descriptors were already delivered.
 */
PK_API ssize_t pk_fd_send_fds(int sock, const void *buf, size_t len, const int *fds, size_t nfds);

/**
 * @brief Receives up to @p len bytes and the descriptors attached to them,
 *        created close-on-exec (MSG_CMSG_CLOEXEC).  Retries EINTR.
 *
 * @param[out] ret_fds room for @p max_fds descriptors; the caller owns
 *        the first *ret_nfds entries on success.
 * @param[out] ret_nfds descriptors received (0 if none came).
 * @return bytes received (0 = EOF), or a negative errno.  If the kernel
 *         truncated the descriptors (MSG_CTRUNC) every descriptor that did
 *         arrive is closed and the call fails: -EMFILE when fewer than
 *         @p max_fds could be installed (descriptor limit), -ETOOMANYREFS
 *         when the sender passed more than @p max_fds.  A datagram larger
 *         than @p len (MSG_TRUNC) closes the descriptors and gives
 *         -EMSGSIZE.  In these cases the message's data is consumed.
 */
PK_API ssize_t pk_fd_recv_fds(int sock, void *buf, size_t len, int *ret_fds, size_t max_fds,
                              size_t *ret_nfds);

/* ------------------------------------------------------------------ */
/* TCP and UDP, IPv4 and IPv6 (src/fd/inet.c)                           */
/* ------------------------------------------------------------------ */

/*
 * Addresses are numeric literals only ("127.0.0.1", "::1", "0.0.0.0",
 * "::"); no name resolution happens, so nothing blocks on DNS.  NULL or ""
 * means the IPv4 wildcard for listen/bind and is invalid for connect.  A
 * port is 0..65535; 0 binds an ephemeral port (see pk_fd_local_port()).
 * IPv6 sockets are IPV6_V6ONLY.
 */

/**
 * @brief Creates a TCP listener (SO_REUSEADDR) on @p host : @p port.
 * @param backlog listen(2) backlog; 0 means SOMAXCONN.
 * @param flags PK_FD_NONBLOCK.
 * @return the listening descriptor, -EINVAL (bad literal or port),
 *         -EADDRINUSE, -EADDRNOTAVAIL (e.g. no IPv6 loopback), -EMFILE ...
 */
PK_API int pk_fd_tcp_listen(const char *host, unsigned port, int backlog, int flags);

/** Options for pk_fd_inet_listen(); all zero means the defaults. */
struct pk_fd_inet_opts {
        int flags;      /**< PK_FD_NONBLOCK */
        int backlog;    /**< listen(2) backlog (stream sockets); 0 means SOMAXCONN */
        int dual_stack; /**< 1: an IPv6 socket also takes IPv4 (IPV6_V6ONLY off); 0: v6 only */
        int reuse_port; /**< 1: SO_REUSEPORT */
        int free_bind;  /**< 1: IP_FREEBIND / IPV6_FREEBIND (bind an address not yet up) */
        /** IPv6 scope: the interface of a link-local address ("eth0"), or NULL. */
        const char *scope;
        /** SO_BINDTODEVICE interface name, or NULL (needs CAP_NET_RAW). */
        const char *device;
        /** The IP protocol (systemd's SocketProtocol=): 0 for the type's
         *  default (TCP, UDP), IPPROTO_SCTP (SOCK_STREAM or SOCK_SEQPACKET) or
         *  IPPROTO_UDPLITE (SOCK_DGRAM). */
        int protocol;
};

/**
 * @brief Creates a bound TCP listener or UDP socket with the options socket
 *        activation needs (systemd.socket(5): BindIPv6Only=, ReusePort=,
 *        FreeBind=, BindToDevice=, Backlog=, SocketProtocol=).  Stream and
 *        sequential-packet sockets get SO_REUSEADDR and listen(2).
 * @param host numeric literal; NULL or "" is "::" with @p opts->dual_stack,
 *        else "0.0.0.0".
 * @param type SOCK_STREAM or SOCK_DGRAM; SOCK_SEQPACKET with IPPROTO_SCTP.
 * @param opts options or NULL.
 * @return the descriptor (the caller owns it), -EINVAL (bad literal, port,
 *         type, a type the protocol does not make, or a scope on a non-IPv6
 *         address), -ENODEV (no such scope interface), -EADDRINUSE,
 *         -EADDRNOTAVAIL, -EAFNOSUPPORT (no IPv6 in this kernel),
 *         -ESOCKTNOSUPPORT or -EPROTONOSUPPORT (the protocol is not in this
 *         kernel: SCTP without its module), -EPERM (device), -EMFILE ...
 */
PK_API int pk_fd_inet_listen(const char *host, unsigned port, int type,
                             const struct pk_fd_inet_opts *opts);

/**
 * @brief Connects a TCP socket to @p host : @p port.
 *
 * Without PK_FD_NONBLOCK the call blocks until connected (a signal does
 * not abort it: the wait resumes).  With PK_FD_NONBLOCK it returns the
 * descriptor at once, possibly still connecting; wait for it to become
 * writable, then call pk_fd_connect_result().
 * @return the descriptor, or -ECONNREFUSED, -ETIMEDOUT, -ENETUNREACH,
 *         -EINVAL, -EMFILE ...
 */
PK_API int pk_fd_tcp_connect(const char *host, unsigned port, int flags);

/**
 * @brief Reports how a non-blocking connect on @p fd ended.
 * @return 0 if connected, -EINPROGRESS if still connecting (not yet
 *         writable), or the connect's errno (-ECONNREFUSED ...).  Reading
 *         a failure clears it (SO_ERROR).
 */
PK_API int pk_fd_connect_result(int fd);

/**
 * @brief Creates a UDP socket bound to @p host : @p port.
 * @return the descriptor, or -EINVAL, -EADDRINUSE, -EADDRNOTAVAIL ...
 */
PK_API int pk_fd_udp_bind(const char *host, unsigned port, int flags);

/**
 * @brief Creates a UDP socket connected (default peer set) to @p host :
 *        @p port; send/recv then need no address.
 * @return the descriptor, or -EINVAL, -ENETUNREACH, -EMFILE ...
 */
PK_API int pk_fd_udp_connect(const char *host, unsigned port, int flags);

/**
 * @brief Returns the local port a TCP/UDP socket is bound to (after binding
 *        port 0), or -EBADF, -ENOTSOCK, -EAFNOSUPPORT.
 */
PK_API int pk_fd_local_port(int fd);

/* ------------------------------------------------------------------ */
/* eventfd, timerfd, signalfd (src/fd/event.c)                          */
/* ------------------------------------------------------------------ */

/**
 * @brief Creates an eventfd with counter @p initval.
 * @param flags PK_FD_NONBLOCK, PK_FD_SEMAPHORE.
 * @return the descriptor, or -EINVAL, -EMFILE ...
 */
PK_API int pk_fd_eventfd(unsigned initval, int flags);

/**
 * @brief Adds @p value to an eventfd's counter (retries EINTR).  Safe from
 *        any thread and from signal handlers.
 * @return 0, -EAGAIN (counter would overflow, non-blocking), -EINVAL
 *         (value is UINT64_MAX).
 */
PK_API int pk_fd_eventfd_write(int fd, uint64_t value);

/**
 * @brief Reads and resets an eventfd's counter (or takes 1 in semaphore
 *        mode), retrying EINTR.
 * @param[out] ret_value the value read.
 * @return 0, or -EAGAIN (counter zero, non-blocking) ...
 */
PK_API int pk_fd_eventfd_read(int fd, uint64_t *ret_value);

/**
 * @brief Creates a CLOCK_MONOTONIC timerfd, disarmed.
 * @param flags PK_FD_NONBLOCK.
 * @return the descriptor, or -EINVAL, -EMFILE ...
 */
PK_API int pk_fd_timerfd(int flags);

/**
 * @brief Arms (or disarms) a timerfd with relative times.
 * @param initial_ns first expiry, from now; 0 disarms the timer.
 * @param interval_ns period after the first expiry; 0 for a one-shot.
 * @return 0, -EINVAL, -EBADF.
 */
PK_API int pk_fd_timerfd_set(int fd, uint64_t initial_ns, uint64_t interval_ns);

/**
 * @brief Arms (or disarms) a timerfd at an absolute CLOCK_MONOTONIC time
 *        (TFD_TIMER_ABSTIME), as clock_gettime(CLOCK_MONOTONIC) counts it.
 * @param deadline_ns first expiry in nanoseconds since the clock's epoch;
 *        a time already past expires at once; 0 disarms the timer.
 * @param interval_ns period after the first expiry; 0 for a one-shot.
 * @return 0, -EINVAL, -EBADF.
 */
PK_API int pk_fd_timerfd_set_abs(int fd, uint64_t deadline_ns, uint64_t interval_ns);

/**
 * @brief Reads a timerfd: blocks (unless non-blocking) until it expired
 *        at least once, retrying EINTR.
 * @param[out] ret_expirations expiries since the last read (>= 1).
 * @return 0, or -EAGAIN (non-blocking, not expired) ...
 */
PK_API int pk_fd_timerfd_read(int fd, uint64_t *ret_expirations);

/**
 * @brief Blocks @p signals in the calling thread and creates a signalfd
 *        that receives them.
 *
 * Mask handling: signals sent to the process are delivered to one thread
 * that does not block them; only when every thread blocks a signal does it
 * stay pending for the signalfd.  This call blocks them in the calling
 * thread (added to its mask, nothing unblocked) — call it in the main
 * thread before creating other threads, which inherit the mask, or block
 * the signals in every thread yourself.  Children inherit the blocked mask
 * across exec: reset it in the child (portkit's spawn layer does).
 * SIGKILL and SIGSTOP cannot be caught and give -EINVAL.
 * @param signals signal numbers (borrowed), @p count of them (1..64).
 * @param flags PK_FD_NONBLOCK.
 * @return the descriptor (caller owns; the mask stays blocked after close),
 *         -EINVAL, -EMFILE ...
 */
PK_API int pk_fd_signalfd(const int *signals, size_t count, int flags);

/**
 * @brief Replaces the set of signals an existing signalfd receives, and
 *        blocks the new set in the calling thread (signals dropped from
 *        the set stay blocked: unblock them yourself if wanted).
 * @param fd a signalfd made by pk_fd_signalfd() (borrowed; its flags are
 *        kept).
 * @return 0, -EINVAL (bad signal, or @p fd is not a signalfd), -EBADF.
 */
PK_API int pk_fd_signalfd_update(int fd, const int *signals, size_t count);

/**
 * @brief Reads one signal record from a signalfd (retries EINTR).
 * @param[out] ret_info optional: the full record (include
 *        <sys/signalfd.h> for the struct).
 * @return the signal number (> 0), or -EAGAIN (non-blocking, none
 *         pending), -EBADF ...
 */
PK_API int pk_fd_signalfd_read(int fd, struct signalfd_siginfo *ret_info);

/* ------------------------------------------------------------------ */
/* pidfd (src/fd/pidfd.c)                                               */
/* ------------------------------------------------------------------ */

/**
 * @brief Opens a pidfd for process @p pid (pidfd_open(2), Linux 5.3+; the
 *        kernel always makes it close-on-exec).  It becomes readable when
 *        the process exits.
 * @param flags PK_FD_NONBLOCK (Linux 5.10+: waitid(P_PIDFD) does not
 *        block).
 * @return the descriptor, -ESRCH (no such process), -ENOSYS, -EINVAL,
 *         -EMFILE ...
 */
PK_API int pk_fd_pidfd_open(pid_t pid, int flags);

/**
 * @brief Sends @p sig to the process behind @p pidfd
 *        (pidfd_send_signal(2)); immune to pid reuse.  @p sig 0 checks
 *        that the process is alive.
 * @return 0, -ESRCH (process already exited), -EPERM, -EINVAL, -EBADF.
 */
PK_API int pk_fd_pidfd_send_signal(int pidfd, int sig);

/**
 * @brief Sends @p sig to the process group whose id is the pid behind
 *        @p pidfd (pidfd_send_signal(2) with PIDFD_SIGNAL_PROCESS_GROUP,
 *        Linux 6.9+).  The group is named by the pidfd, not by a number, so
 *        this stays safe after the leader was reaped: it reaches what is left
 *        of that group, never a new group that reused the number.
 * @return 0, -ESRCH (no process left in the group), -EINVAL (kernel without
 *         the flag, or a bad @p sig), -EPERM, -EBADF.
 */
PK_API int pk_fd_pidfd_send_signal_group(int pidfd, int sig);

/* ------------------------------------------------------------------ */
/* inotify (src/fd/inotify.c)                                           */
/* ------------------------------------------------------------------ */

/**
 * @brief Creates an inotify instance.
 * @param flags PK_FD_NONBLOCK.
 * @return the descriptor, -EMFILE (also when the per-user instance limit
 *         is hit), ...
 */
PK_API int pk_fd_inotify(int flags);

/**
 * @brief Adds or updates a watch on @p path for the IN_* events in @p mask.
 * @return the watch descriptor (>= 1), or -ENOENT, -EACCES, -ENOSPC
 *         (watch limit), -EINVAL ...
 */
PK_API int pk_fd_inotify_add(int fd, const char *path, uint32_t mask);

/**
 * @brief Removes watch @p wd (an IN_IGNORED event follows).
 * @return 0, or -EINVAL (no such watch).
 */
PK_API int pk_fd_inotify_rm(int fd, int wd);

/** One parsed inotify event.  @c name points into the read buffer. */
struct pk_fd_inotify_event {
        int wd;           /**< watch descriptor */
        uint32_t mask;    /**< IN_* bits */
        uint32_t cookie;  /**< pairs IN_MOVED_FROM with IN_MOVED_TO */
        const char *name; /**< NUL-terminated name inside a watched folder,
                               or NULL; borrowed from the buffer */
};

/**
 * @brief Parses the next event from a buffer filled by read(2) on an
 *        inotify descriptor.  Validates every length against the buffer,
 *        so a short or corrupt buffer is an error, never an overread; the
 *        buffer needs no particular alignment.
 * @param buf bytes read (borrowed; @c name stays valid while it does).
 * @param len bytes in @p buf.
 * @param[in,out] offset where to parse; start at 0.  Advanced past the
 *        event on success.
 * @param[out] ret_event the event.
 * @return 1 with an event, 0 at the end of the buffer, -EBADMSG if the
 *         remaining bytes are not a whole, well-formed event.
 */
PK_API int pk_fd_inotify_next(const void *buf, size_t len, size_t *offset,
                              struct pk_fd_inotify_event *ret_event);

/* ------------------------------------------------------------------ */
/* POSIX message queues (src/fd/mqueue.c)                               */
/* ------------------------------------------------------------------ */

/** Attributes of a message queue. */
struct pk_fd_mq_attr {
        long maxmsg;  /**< capacity in messages (0 at creation: default) */
        long msgsize; /**< largest message in bytes (0 at creation: default) */
        long curmsgs; /**< messages queued now (ignored at creation) */
};

/**
 * @brief Opens (optionally creates) a POSIX message queue, O_CLOEXEC.  On
 *        Linux a queue is a descriptor and can be polled.
 * @param name "/name" (one leading slash, no other).
 * @param access PK_FD_READ, PK_FD_WRITE, PK_FD_RDWR.
 * @param flags PK_FD_NONBLOCK, PK_FD_CREATE, PK_FD_EXCL.
 * @param mode permission bits used when created.
 * @param attr capacity when created, or NULL for the system defaults.
 * @return the descriptor, -ENOENT, -EEXIST, -EINVAL (bad name or sizes),
 *         -EMFILE, -ENOSPC, -EACCES ...
 */
PK_API int pk_fd_mq_open(const char *name, int access, int flags, mode_t mode,
                         const struct pk_fd_mq_attr *attr);

/**
 * @brief Removes queue @p name (open descriptors stay usable).
 * @return 0, -ENOENT, -EACCES.
 */
PK_API int pk_fd_mq_unlink(const char *name);

/**
 * @brief Queues one message with priority @p prio (higher comes out first),
 *        retrying EINTR.
 * @return 0, -EAGAIN (full, non-blocking), -EMSGSIZE (len > msgsize),
 *         -EINVAL (prio too large), -EBADF.
 */
PK_API int pk_fd_mq_send(int fd, const void *buf, size_t len, unsigned prio);

/**
 * @brief Takes the oldest highest-priority message, retrying EINTR.
 * @param len room in @p buf; must be at least the queue's msgsize.
 * @param[out] ret_prio optional priority of the message.
 * @return its length, -EAGAIN (empty, non-blocking), -EMSGSIZE (@p len
 *         below msgsize), -EBADF.
 */
PK_API ssize_t pk_fd_mq_recv(int fd, void *buf, size_t len, unsigned *ret_prio);

/**
 * @brief Reads a queue's attributes.
 * @return 0, or -EBADF.
 */
PK_API int pk_fd_mq_getattr(int fd, struct pk_fd_mq_attr *ret_attr);

/* ------------------------------------------------------------------ */
/* Pseudo-terminals and terminal settings (src/fd/pty.c)                */
/* ------------------------------------------------------------------ */

/**
 * @brief Opens a pseudo-terminal pair: posix_openpt, grantpt, unlockpt,
 *        then the slave via TIOCGPTPEER (no path lookup race) or its name.
 *        Neither end becomes a controlling terminal (O_NOCTTY).
 * @param[out] ret_fds ret_fds[0] master, ret_fds[1] slave; caller owns
 *        both.  Untouched on failure.
 * @param flags PK_FD_NONBLOCK (on the master only).
 * @param[out] ret_name optional buffer for the slave's path ("/dev/pts/N").
 * @param name_size size of @p ret_name.
 * @return 0, -EMFILE, -ENOSPC (no free pty), -ERANGE (@p ret_name too
 *         small) ...
 */
PK_API int pk_fd_pty_open(int ret_fds[2], int flags, char *ret_name, size_t name_size);

/** A terminal window size. */
struct pk_fd_winsize {
        unsigned short rows;   /**< character rows */
        unsigned short cols;   /**< character columns */
        unsigned short xpixel; /**< width in pixels, usually 0 */
        unsigned short ypixel; /**< height in pixels, usually 0 */
};

/**
 * @brief Sets a terminal's window size (TIOCSWINSZ); the foreground
 *        process group gets SIGWINCH.
 * @return 0, -ENOTTY, -EBADF.
 */
PK_API int pk_fd_pty_set_winsize(int fd, const struct pk_fd_winsize *ws);

/**
 * @brief Reads a terminal's window size (TIOCGWINSZ).
 * @return 0, -ENOTTY, -EBADF.
 */
PK_API int pk_fd_pty_get_winsize(int fd, struct pk_fd_winsize *ret_ws);

/**
 * @brief Puts a terminal in raw mode (cfmakeraw: no echo, no line
 *        editing, no signals from keys, 8-bit, VMIN=1 VTIME=0).
 * @param[out] ret_saved optional: the previous settings, to restore with
 *        pk_fd_term_restore() (include <termios.h> for the struct).
 * @return 0, -ENOTTY, -EBADF (EINTR is retried).
 */
PK_API int pk_fd_term_set_raw(int fd, struct termios *ret_saved);

/**
 * @brief Restores settings saved by pk_fd_term_set_raw() (TCSADRAIN).
 * @return 0, -ENOTTY, -EBADF, -EINVAL.
 */
PK_API int pk_fd_term_restore(int fd, const struct termios *saved);

/** Serial line parameters for pk_fd_term_config(). */
struct pk_fd_serial {
        unsigned baud; /**< 50 .. 4000000, one of the standard rates */
        int data_bits; /**< 5, 6, 7 or 8 */
        char parity;   /**< 'N' none, 'E' even, 'O' odd */
        int stop_bits; /**< 1 or 2 */
        int rtscts;    /**< 1: hardware flow control (CRTSCTS) */
        int xonxoff;   /**< 1: software flow control (IXON|IXOFF) */
};

/**
 * @brief Opens a serial device (e.g. "/dev/ttyUSB0") close-on-exec,
 *        without becoming its controlling terminal and without waiting for
 *        carrier: it opens O_NONBLOCK, sets CLOCAL, then clears O_NONBLOCK
 *        unless PK_FD_NONBLOCK is given.
 * @return the descriptor, -ENOTTY (not a terminal), or an open(2) errno.
 */
PK_API int pk_fd_serial_open(const char *path, int flags);

/**
 * @brief Configures a terminal as a raw serial line: speed, character
 *        size, parity, stop bits, flow control (applied with TCSANOW;
 *        CREAD and CLOCAL set), then reads the settings back.
 *
 * Drivers silently override settings they cannot honour — a pty, for
 * one, always forces CS8 and clears PARENB — so a readback that differs
 * from @p cfg fails with -ENOTSUP (the other settings stay applied).
 * @return 0, -EINVAL (unsupported value), -ENOTSUP (the driver did not keep
 *         a setting), -ENOTTY, -EBADF.
 */
PK_API int pk_fd_term_config(int fd, const struct pk_fd_serial *cfg);

/**
 * @brief Encodes @p cfg into @p t (cfmakeraw, CSIZE, PARENB/PARODD,
 *        CSTOPB, CRTSCTS, IXON/IXOFF, INPCK when parity is on, speeds,
 *        VMIN=1 VTIME=0) without touching any device; @p t is left
 *        unchanged on failure.  pk_fd_term_config() uses it.
 * @return 0, or -EINVAL (unsupported value, NULL argument).
 */
PK_API int pk_fd_termios_encode(struct termios *t, const struct pk_fd_serial *cfg);

/**
 * @brief Decodes the serial parameters held in @p t (baud 0 if the
 *        output speed is not a standard rate).
 * @return 0, or -EINVAL (NULL argument).
 */
PK_API int pk_fd_termios_decode(const struct termios *t, struct pk_fd_serial *ret_cfg);

/**
 * @brief Reads a terminal's serial parameters.
 * @param[out] ret_cfg the current settings (baud 0 if the speed is not a
 *        standard rate).
 * @return 0, -ENOTTY, -EBADF.
 */
PK_API int pk_fd_term_get(int fd, struct pk_fd_serial *ret_cfg);

#ifdef __cplusplus
}
#endif
#endif
