/* SPDX-License-Identifier: MIT */
/* fd layer error paths the issue names: every constructor's descriptor is
 * close-on-exec, descriptor exhaustion (EMFILE) leaks nothing, and a
 * signal during a blocking read or write does not lose data. */
#include "testutil.h"
#include <portkit/fd.h>

#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>

#define CHECK_CLOEXEC(fd)                                                                          \
        do {                                                                                       \
                int fd_ = (fd);                                                                    \
                cr_assert_geq(fd_, 0, "%s failed: %s", #fd, pk_strerror(fd_));                     \
                cr_assert(tu_cloexec(fd_), "%s: FD_CLOEXEC not set", #fd);                         \
                opened[nopened++] = fd_;                                                           \
        } while (0)

Test(fd_errors, every_constructor_is_cloexec)
{
        int opened[64];
        int nopened = 0;
        int base = tu_count_fds();
        char dir[64], path[128], fifo[128];
        tu_tmpdir(dir, sizeof(dir));
        snprintf(path, sizeof(path), "%s/s", dir);
        snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
        int two[2];
        for (int nb = 0; nb <= PK_FD_NONBLOCK; nb += PK_FD_NONBLOCK) {
                cr_assert_eq(pk_fd_pipe(two, nb), 0);
                CHECK_CLOEXEC(two[0]);
                CHECK_CLOEXEC(two[1]);
                cr_assert_eq(pk_fd_socketpair(two, SOCK_STREAM, nb), 0);
                CHECK_CLOEXEC(two[0]);
                CHECK_CLOEXEC(two[1]);
        }
        cr_assert_eq(pk_fd_socketpair(two, SOCK_DGRAM, 0), 0);
        CHECK_CLOEXEC(two[0]);
        CHECK_CLOEXEC(two[1]);
        struct pk_fd_unix_listener l = PK_FD_UNIX_LISTENER_INIT;
        CHECK_CLOEXEC(pk_fd_unix_listen(path, SOCK_STREAM, NULL, &l));
        nopened--; /* closed through the listener below */
        CHECK_CLOEXEC(pk_fd_unix_connect(path, SOCK_STREAM, 0));
        CHECK_CLOEXEC(pk_fd_accept(l.fd, 0));
        int tl = pk_fd_tcp_listen("127.0.0.1", 0, 0, 0);
        CHECK_CLOEXEC(tl);
        int port = pk_fd_local_port(tl);
        CHECK_CLOEXEC(pk_fd_tcp_connect("127.0.0.1", (unsigned)port, 0));
        CHECK_CLOEXEC(pk_fd_tcp_connect("127.0.0.1", (unsigned)port, PK_FD_NONBLOCK));
        CHECK_CLOEXEC(pk_fd_accept(tl, 0));
        CHECK_CLOEXEC(pk_fd_udp_bind("127.0.0.1", 0, 0));
        CHECK_CLOEXEC(pk_fd_udp_connect("127.0.0.1", 9, 0));
        CHECK_CLOEXEC(pk_fd_eventfd(0, 0));
        CHECK_CLOEXEC(pk_fd_timerfd(0));
        int sigs[] = {SIGUSR1};
        CHECK_CLOEXEC(pk_fd_signalfd(sigs, 1, 0));
        CHECK_CLOEXEC(pk_fd_pidfd_open(getpid(), 0));
        CHECK_CLOEXEC(pk_fd_inotify(0));
        char mq[64];
        snprintf(mq, sizeof(mq), "/portkit-cloexec-%d", (int)getpid());
        CHECK_CLOEXEC(pk_fd_mq_open(mq, PK_FD_RDWR, PK_FD_CREATE, 0600, NULL));
        pk_fd_mq_unlink(mq);
        char ptyname[64];
        cr_assert_eq(pk_fd_pty_open(two, 0, ptyname, sizeof(ptyname)), 0);
        CHECK_CLOEXEC(two[0]);
        CHECK_CLOEXEC(two[1]);
        CHECK_CLOEXEC(pk_fd_serial_open(ptyname, 0));
        CHECK_CLOEXEC(pk_fd_chardev_open("/dev/null", PK_FD_RDWR, 0));
        CHECK_CLOEXEC(pk_fd_chardev_open("/dev/urandom", PK_FD_READ, PK_FD_NONBLOCK));
        CHECK_CLOEXEC(pk_fd_open(PK_SOURCE_DIR "/CMakeLists.txt", O_RDONLY, 0));
        cr_assert_eq(pk_fd_fifo_make(fifo, 0600), 0);
        CHECK_CLOEXEC(pk_fd_fifo_open(fifo, PK_FD_READ, 0));
        CHECK_CLOEXEC(pk_fd_fifo_open(fifo, PK_FD_WRITE, 0));
        CHECK_CLOEXEC(pk_fd_fifo_open(fifo, PK_FD_RDWR, 0));
        /* dup of a descriptor that is NOT close-on-exec is still made so. */
        cr_assert_eq(pk_fd_set_cloexec(opened[0], 0), 0);
        CHECK_CLOEXEC(pk_fd_dup(opened[0], 3));
        cr_assert_eq(pk_fd_set_cloexec(opened[0], 1), 0);
        /* Received descriptors. */
        cr_assert_eq(pk_fd_socketpair(two, SOCK_STREAM, 0), 0);
        CHECK_CLOEXEC(two[0]);
        CHECK_CLOEXEC(two[1]);
        int devnull = pk_fd_chardev_open("/dev/null", PK_FD_READ, 0);
        cr_assert_eq(pk_fd_set_cloexec(devnull, 0), 0);
        cr_assert_eq(pk_fd_send_fds(two[0], "x", 1, &devnull, 1), 1);
        pk_fd_close(devnull);
        char c;
        int got = -1;
        size_t n = 0;
        cr_assert_eq(pk_fd_recv_fds(two[1], &c, 1, &got, 1, &n), 1);
        cr_assert_eq(n, 1);
        CHECK_CLOEXEC(got);
        for (int i = 0; i < nopened; i++)
                pk_fd_close(opened[i]);
        pk_fd_unix_listener_close(&l);
        cr_assert_eq(tu_count_fds(), base);
        tu_rmrf(dir);
}

/* The lowest descriptor number open() would hand out now. */
static int lowest_free(void)
{
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        cr_assert_geq(fd, 0);
        close(fd);
        return fd;
}

static void set_nofile(rlim_t cur)
{
        struct rlimit r;
        cr_assert_eq(getrlimit(RLIMIT_NOFILE, &r), 0);
        r.rlim_cur = cur;
        cr_assert_eq(setrlimit(RLIMIT_NOFILE, &r), 0);
}

static rlim_t get_nofile(void)
{
        struct rlimit r;
        cr_assert_eq(getrlimit(RLIMIT_NOFILE, &r), 0);
        return r.rlim_cur;
}

enum { MAXR = 64 };
struct results {
        const char *what[MAXR];
        long got[MAXR];
        int n;
};
#define RECORD(res, expr)                                                                          \
        do {                                                                                       \
                (res)->what[(res)->n] = #expr;                                                     \
                (res)->got[(res)->n++] = (long)(expr);                                             \
        } while (0)

Test(fd_errors, emfile_when_no_descriptor_is_free)
{
        char dir[64], path[128], fifo[128], stale[128], abs[64], mq[64];
        tu_tmpdir(dir, sizeof(dir));
        snprintf(path, sizeof(path), "%s/s", dir);
        snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
        snprintf(stale, sizeof(stale), "%s/stale", dir);
        snprintf(abs, sizeof(abs), "@portkit-emfile-%d", (int)getpid());
        snprintf(mq, sizeof(mq), "/portkit-emfile-%d", (int)getpid());
        cr_assert_eq(pk_fd_fifo_make(fifo, 0600), 0);
        /* Set up everything that needs descriptors first. */
        struct pk_fd_unix_listener l = PK_FD_UNIX_LISTENER_INIT;
        cr_assert_geq(pk_fd_unix_listen(path, SOCK_STREAM, NULL, &l), 0);
        int pending = pk_fd_unix_connect(path, SOCK_STREAM, 0); /* waits in the backlog */
        cr_assert_geq(pending, 0);
        int tl = pk_fd_tcp_listen("127.0.0.1", 0, 0, 0);
        cr_assert_geq(tl, 0);
        int port = pk_fd_local_port(tl);
        int sv[2];
        cr_assert_eq(pk_fd_socketpair(sv, SOCK_STREAM, 0), 0);
        cr_assert_eq(pk_fd_send_fds(sv[0], "x", 1, &sv[0], 1), 1);
        int base = tu_count_fds();
        int free_before = lowest_free();
        rlim_t old = get_nofile();

        set_nofile((rlim_t)free_before); /* no free slot at all */
        struct results r = {.n = 0};
        int two[2] = {-9, -9};
        RECORD(&r, pk_fd_pipe(two, 0));
        RECORD(&r, pk_fd_socketpair(two, SOCK_STREAM, 0));
        RECORD(&r, pk_fd_pty_open(two, 0, NULL, 0));
        RECORD(&r, pk_fd_unix_listen(abs, SOCK_STREAM, NULL, &l));
        RECORD(&r, pk_fd_unix_connect(path, SOCK_STREAM, 0));
        RECORD(&r, pk_fd_accept(l.fd, 0));
        RECORD(&r, pk_fd_tcp_listen("127.0.0.1", 0, 0, 0));
        RECORD(&r, pk_fd_tcp_connect("127.0.0.1", (unsigned)port, 0));
        RECORD(&r, pk_fd_udp_bind("127.0.0.1", 0, 0));
        RECORD(&r, pk_fd_udp_connect("127.0.0.1", 9, 0));
        RECORD(&r, pk_fd_eventfd(0, 0));
        RECORD(&r, pk_fd_timerfd(0));
        int sigs[] = {SIGUSR1};
        RECORD(&r, pk_fd_signalfd(sigs, 1, 0));
        RECORD(&r, pk_fd_pidfd_open(getpid(), 0));
        RECORD(&r, pk_fd_inotify(0));
        RECORD(&r, pk_fd_mq_open(mq, PK_FD_RDWR, PK_FD_CREATE, 0600, NULL));
        RECORD(&r, pk_fd_chardev_open("/dev/null", PK_FD_READ, 0));
        RECORD(&r, pk_fd_open(PK_SOURCE_DIR "/CMakeLists.txt", O_RDONLY, 0));
        RECORD(&r, pk_fd_fifo_open(fifo, PK_FD_RDWR, 0));
        RECORD(&r, pk_fd_serial_open("/dev/ptmx", 0));
        RECORD(&r, pk_fd_dup(sv[0], 0));
        char c;
        int got = -1;
        size_t n = 0;
        RECORD(&r, pk_fd_recv_fds(sv[1], &c, 1, &got, 1, &n));
        set_nofile(old);

        for (int i = 0; i < r.n; i++)
                cr_expect_eq(r.got[i], -EMFILE, "%s gave %ld (%s)", r.what[i], r.got[i],
                             pk_strerror((int)r.got[i]));
        cr_assert_eq(two[0], -9, "out-parameter written on failure");
        cr_assert_eq(got, -1);
        sigset_t m;
        pthread_sigmask(SIG_SETMASK, NULL, &m);
        cr_assert(!sigismember(&m, SIGUSR1), "failed pk_fd_signalfd changed the mask");
        cr_assert_eq(pk_fd_mq_unlink(mq), -ENOENT, "failed mq_open left a queue");
        cr_assert_eq(tu_count_fds(), base, "descriptors leaked");
        cr_assert_eq(lowest_free(), free_before);
        /* The pending connection is still there to accept. */
        int s = pk_fd_accept(l.fd, 0);
        cr_assert_geq(s, 0);
        pk_fd_close(s);
        pk_fd_close(pending);
        pk_fd_close(tl);
        pk_fd_close(sv[0]);
        pk_fd_close(sv[1]);
        pk_fd_unix_listener_close(&l);
        tu_rmrf(dir);
}

Test(fd_errors, emfile_with_one_free_descriptor_unwinds)
{
        char dir[64], stale[128];
        tu_tmpdir(dir, sizeof(dir));
        snprintf(stale, sizeof(stale), "%s/stale", dir);
        /* A stale socket file: probing it needs a second descriptor. */
        int raw = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        strcpy(sa.sun_path, stale);
        cr_assert_eq(bind(raw, (struct sockaddr *)&sa, sizeof(sa)), 0);
        close(raw);
        int sv[2], p[2];
        cr_assert_eq(pk_fd_socketpair(sv, SOCK_STREAM, 0), 0);
        cr_assert_eq(pk_fd_pipe(p, 0), 0);
        int pass[2] = {p[0], p[1]};
        cr_assert_eq(pk_fd_send_fds(sv[0], "x", 1, pass, 2), 1);
        int base = tu_count_fds();
        int free_before = lowest_free();
        rlim_t old = get_nofile();

        set_nofile((rlim_t)free_before + 1); /* exactly one free slot */
        struct results r = {.n = 0};
        int two[2] = {-9, -9};
        RECORD(&r, pk_fd_pipe(two, 0));
        RECORD(&r, pk_fd_socketpair(two, SOCK_SEQPACKET, 0));
        RECORD(&r, pk_fd_pty_open(two, 0, NULL, 0)); /* master fits, slave does not */
        struct pk_fd_unix_listener l = PK_FD_UNIX_LISTENER_INIT;
        RECORD(&r, pk_fd_unix_listen(stale, SOCK_STREAM, NULL, &l)); /* probe does not fit */
        char c;
        int got[2] = {-1, -1};
        size_t n = 0;
        RECORD(&r, pk_fd_recv_fds(sv[1], &c, 1, got, 2, &n)); /* second fd does not fit */
        set_nofile(old);

        for (int i = 0; i < r.n; i++)
                cr_expect_eq(r.got[i], -EMFILE, "%s gave %ld (%s)", r.what[i], r.got[i],
                             pk_strerror((int)r.got[i]));
        cr_assert_eq(two[0], -9);
        cr_assert_eq(l.fd, -1);
        cr_assert_eq(tu_count_fds(), base, "descriptors leaked on a partial failure");
        cr_assert_eq(lowest_free(), free_before);
        struct stat st;
        cr_assert_eq(lstat(stale, &st), 0, "a socket file was removed without a probe");
        /* With descriptors back, the same calls work. */
        int fd = pk_fd_unix_listen(stale, SOCK_STREAM, NULL, &l);
        cr_assert_geq(fd, 0);
        pk_fd_unix_listener_close(&l);
        cr_assert_eq(pk_fd_pty_open(two, 0, NULL, 0), 0);
        pk_fd_close(two[0]);
        pk_fd_close(two[1]);
        for (int i = 0; i < 2; i++) {
                pk_fd_close(sv[i]);
                pk_fd_close(p[i]);
        }
        tu_rmrf(dir);
}

/* --- EINTR: a signal with a no-SA_RESTART handler while blocked --- */

static volatile sig_atomic_t hits;

static void on_usr1(int sig)
{
        (void)sig;
        hits++;
}

static void install_handler(void)
{
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_usr1;
        sa.sa_flags = 0; /* no SA_RESTART: the blocked call fails with EINTR */
        sigemptyset(&sa.sa_mask);
        cr_assert_eq(sigaction(SIGUSR1, &sa, NULL), 0);
}

/* The syscall thread tid is blocked in, from /proc (-1 if running). */
static long current_syscall(pid_t tid)
{
        char path[64], buf[128];
        snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -2;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return -2;
        buf[n] = '\0';
        if (strncmp(buf, "running", 7) == 0)
                return -1;
        return strtol(buf, NULL, 10);
}

/* Polls until tid sits in syscall nr; returns false after ~20 s so a
 * broken library fails the test instead of hanging it. */
static bool wait_blocked_in(pid_t tid, long nr)
{
        const struct timespec ms = {0, 1000000};
        for (int i = 0; i < 20000; i++) {
                if (current_syscall(tid) == nr)
                        return true;
                nanosleep(&ms, NULL);
        }
        return false;
}

static bool wait_hits(int want)
{
        const struct timespec ms = {0, 1000000};
        for (int i = 0; i < 20000 && hits < want; i++)
                nanosleep(&ms, NULL);
        return hits >= want;
}

struct intr_arg {
        pthread_t target;
        pid_t tid;
        int fd;
        bool ok;
};

static void *interrupt_reader(void *p)
{
        struct intr_arg *a = p;
        a->ok = false;
        /* Signal the blocked reader, check it went back to read(2), feed
         * half the data, signal again, feed the rest. */
        if (!wait_blocked_in(a->tid, SYS_read))
                return NULL;
        pthread_kill(a->target, SIGUSR1);
        if (!wait_hits(1) || !wait_blocked_in(a->tid, SYS_read))
                return NULL;
        if (write(a->fd, "hello ", 6) != 6)
                return NULL;
        if (!wait_blocked_in(a->tid, SYS_read))
                return NULL;
        pthread_kill(a->target, SIGUSR1);
        if (!wait_hits(2) || !wait_blocked_in(a->tid, SYS_read))
                return NULL;
        if (write(a->fd, "world!", 6) != 6)
                return NULL;
        a->ok = true;
        return NULL;
}

Test(fd_errors, eintr_during_blocking_read_loses_nothing)
{
        install_handler();
        cr_assert_geq(current_syscall((pid_t)syscall(SYS_gettid)), -1,
                      "/proc/self/task/N/syscall unreadable");
        int fds[2];
        cr_assert_eq(pk_fd_pipe(fds, 0), 0);
        struct intr_arg a = {
            .target = pthread_self(), .tid = (pid_t)syscall(SYS_gettid), .fd = fds[1]};
        pthread_t t;
        cr_assert_eq(pthread_create(&t, NULL, interrupt_reader, &a), 0);
        char buf[13] = {0};
        size_t done = 0;
        ssize_t n = pk_fd_read_all(fds[0], buf, 12, &done);
        pthread_join(t, NULL);
        cr_assert(a.ok, "interrupter gave up: reader did not go back to read(2)");
        cr_assert_eq(hits, 2, "handler ran %d times", (int)hits);
        cr_assert_eq(n, 12, "got %zd (%s)", n, n < 0 ? pk_strerror((int)n) : "");
        cr_assert_str_eq(buf, "hello world!");
        pk_fd_close(fds[0]);
        pk_fd_close(fds[1]);
}

struct drain_arg {
        struct intr_arg a;
        unsigned char *dst;
        size_t len;
};

static void *interrupt_writer(void *p)
{
        struct drain_arg *d = p;
        d->a.ok = false;
        /* First signal: the write(2) that filled the pipe returns a short
         * count.  Second: the retry, blocked with nothing written, fails
         * with EINTR.  The writer must go back to write(2) both times. */
        for (int i = 1; i <= 2; i++) {
                if (!wait_blocked_in(d->a.tid, SYS_write))
                        return NULL;
                pthread_kill(d->a.target, SIGUSR1);
                if (!wait_hits(i))
                        return NULL;
        }
        if (!wait_blocked_in(d->a.tid, SYS_write))
                return NULL;
        if (pk_fd_read_all(d->a.fd, d->dst, d->len, NULL) != (ssize_t)d->len)
                return NULL;
        d->a.ok = true;
        return NULL;
}

Test(fd_errors, eintr_during_blocking_write_loses_nothing)
{
        install_handler();
        int fds[2];
        cr_assert_eq(pk_fd_pipe(fds, 0), 0);
        int cap = pk_fd_pipe_get_size(fds[1]);
        size_t len = (size_t)cap * 3;
        unsigned char *src = malloc(len), *dst = calloc(1, len);
        cr_assert(src && dst);
        for (size_t i = 0; i < len; i++)
                src[i] = (unsigned char)(i * 13 + (i >> 9));
        struct drain_arg d = {
            .a = {.target = pthread_self(), .tid = (pid_t)syscall(SYS_gettid), .fd = fds[0]},
            .dst = dst,
            .len = len};
        pthread_t t;
        cr_assert_eq(pthread_create(&t, NULL, interrupt_writer, &d), 0);
        ssize_t n = pk_fd_write_all(fds[1], src, len, NULL);
        pthread_join(t, NULL);
        cr_assert(d.a.ok, "interrupter gave up: writer did not go back to write(2)");
        cr_assert_eq(hits, 2);
        cr_assert_eq(n, (ssize_t)len, "got %zd (%s)", n, n < 0 ? pk_strerror((int)n) : "");
        cr_assert(memcmp(src, dst, len) == 0, "data corrupted across the signal");
        free(src);
        free(dst);
        pk_fd_close(fds[0]);
        pk_fd_close(fds[1]);
}

struct connect_arg {
        struct intr_arg a;
        int listener;
};

static void *interrupt_connect(void *p)
{
        struct connect_arg *c = p;
        c->a.ok = false;
        /* The accept queue is full, so the SYN is dropped and connect(2)
         * blocks.  Interrupt it; the library must then wait (poll) for the
         * connection rather than fail. */
        if (!wait_blocked_in(c->a.tid, SYS_connect))
                return NULL;
        pthread_kill(c->a.target, SIGUSR1);
        if (!wait_hits(1))
                return NULL;
        const struct timespec ms = {0, 1000000};
        bool waiting = false;
        for (int i = 0; i < 20000 && !waiting; i++) {
                long nr = current_syscall(c->a.tid);
                waiting = nr == SYS_poll || nr == SYS_ppoll;
                if (!waiting)
                        nanosleep(&ms, NULL);
        }
        if (!waiting)
                return NULL;
        /* Make room until a retransmitted SYN of ours gets in (the filler
         * connections retransmit too, so keep draining while it waits). */
        for (int i = 0; i < 30000; i++) {
                long nr = current_syscall(c->a.tid);
                if (nr != SYS_poll && nr != SYS_ppoll)
                        break;
                int s = pk_fd_accept(c->listener, PK_FD_NONBLOCK);
                if (s >= 0)
                        pk_fd_close(s);
                else
                        nanosleep(&ms, NULL);
        }
        c->a.ok = true;
        return NULL;
}

Test(fd_errors, eintr_during_blocking_tcp_connect)
{
        install_handler();
        int l = pk_fd_tcp_listen("127.0.0.1", 0, 1, PK_FD_NONBLOCK);
        cr_assert_geq(l, 0);
        unsigned port = (unsigned)pk_fd_local_port(l);
        /* Fill the accept queue (backlog 1 holds two) with completed
         * connections. */
        int fill[4];
        for (int i = 0; i < 4; i++) {
                fill[i] = pk_fd_tcp_connect("127.0.0.1", port, PK_FD_NONBLOCK);
                cr_assert_geq(fill[i], 0);
        }
        for (int i = 0; i < 4; i++) {
                struct pollfd p = {.fd = fill[i], .events = POLLOUT};
                (void)poll(&p, 1, 200);
        }
        struct connect_arg c = {.a = {.target = pthread_self(), .tid = (pid_t)syscall(SYS_gettid)},
                                .listener = l};
        pthread_t t;
        cr_assert_eq(pthread_create(&t, NULL, interrupt_connect, &c), 0);
        int fd = pk_fd_tcp_connect("127.0.0.1", port, 0);
        pthread_join(t, NULL);
        cr_assert(c.a.ok, "connect was not interrupted while blocked, or did not wait after");
        cr_assert_eq(hits, 1);
        cr_assert_geq(fd, 0, "connect failed after a signal: %s", pk_strerror(fd));
        cr_assert_eq(pk_fd_connect_result(fd), 0);
        pk_fd_close(fd);
        for (int i = 0; i < 4; i++)
                pk_fd_close(fill[i]);
        pk_fd_close(l);
}
