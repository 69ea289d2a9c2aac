/* SPDX-License-Identifier: MIT */
/* fd layer: eventfd, timerfd, signalfd, pidfd, inotify, POSIX message
 * queues, ptys and terminal settings, each on a real descriptor. */
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
#include <signal.h>
#include <stdint.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>

static void wait_readable(int fd)
{
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int n;
        do
                n = poll(&p, 1, -1);
        while (n < 0 && errno == EINTR);
        cr_assert_eq(n, 1);
}

Test(fd_eventfd, counter_and_semaphore)
{
        int base = tu_count_fds();
        int e = pk_fd_eventfd(5, PK_FD_NONBLOCK);
        cr_assert_geq(e, 0);
        cr_assert(tu_cloexec(e) && tu_nonblock(e));
        cr_assert_eq(pk_fd_eventfd_write(e, 3), 0);
        uint64_t v = 0;
        cr_assert_eq(pk_fd_eventfd_read(e, &v), 0);
        cr_assert_eq(v, 8);
        cr_assert_eq(pk_fd_eventfd_read(e, &v), -EAGAIN);
        cr_assert_eq(pk_fd_eventfd_write(e, UINT64_MAX), -EINVAL);
        cr_assert_eq(pk_fd_eventfd_write(e, UINT64_MAX - 1), 0);
        cr_assert_eq(pk_fd_eventfd_write(e, 1), -EAGAIN, "overflow on a non-blocking eventfd");
        pk_fd_close(e);
        e = pk_fd_eventfd(2, PK_FD_SEMAPHORE);
        cr_assert_geq(e, 0);
        cr_assert(!tu_nonblock(e));
        cr_assert_eq(pk_fd_eventfd_read(e, &v), 0);
        cr_assert_eq(v, 1);
        cr_assert_eq(pk_fd_eventfd_read(e, &v), 0);
        cr_assert_eq(v, 1);
        pk_fd_close(e);
        cr_assert_eq(pk_fd_eventfd(0, 0x100), -EINVAL);
        cr_assert_eq(tu_count_fds(), base);
}

static bool fdinfo_has(int fd, const char *needle)
{
        char path[64], buf[1024];
        snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
        FILE *f = fopen(path, "re");
        cr_assert(f != NULL);
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        return strstr(buf, needle) != NULL;
}

Test(fd_timerfd, one_shot_monotonic)
{
        int base = tu_count_fds();
        int t = pk_fd_timerfd(PK_FD_NONBLOCK);
        cr_assert_geq(t, 0);
        cr_assert(tu_cloexec(t) && tu_nonblock(t));
        cr_assert(fdinfo_has(t, "clockid: 1"), "not CLOCK_MONOTONIC");
        uint64_t n = 0;
        cr_assert_eq(pk_fd_timerfd_read(t, &n), -EAGAIN, "disarmed timer expired");
        cr_assert_eq(pk_fd_timerfd_set(t, 1000000, 0), 0);
        wait_readable(t);
        cr_assert_eq(pk_fd_timerfd_read(t, &n), 0);
        cr_assert_eq(n, 1);
        struct itimerspec its;
        cr_assert_eq(timerfd_gettime(t, &its), 0);
        cr_assert(its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0, "one-shot re-armed");
        cr_assert_eq(pk_fd_timerfd_read(t, &n), -EAGAIN);
        /* Arm far away, then disarm. */
        cr_assert_eq(pk_fd_timerfd_set(t, 3600ull * 1000000000ull, 0), 0);
        cr_assert_eq(timerfd_gettime(t, &its), 0);
        cr_assert_gt(its.it_value.tv_sec, 3000);
        cr_assert_eq(pk_fd_timerfd_set(t, 0, 0), 0);
        cr_assert_eq(timerfd_gettime(t, &its), 0);
        cr_assert(its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0);
        cr_assert_eq(pk_fd_timerfd_set(t, 0, 5), -EINVAL);
        pk_fd_close(t);
        cr_assert_eq(tu_count_fds(), base);
}

Test(fd_timerfd, absolute_deadline)
{
        int t = pk_fd_timerfd(PK_FD_NONBLOCK);
        cr_assert_geq(t, 0);
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        uint64_t now_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
        /* An hour ahead: armed, not expired. */
        cr_assert_eq(pk_fd_timerfd_set_abs(t, now_ns + 3600ull * 1000000000u, 0), 0);
        struct itimerspec its;
        cr_assert_eq(timerfd_gettime(t, &its), 0);
        cr_assert_gt(its.it_value.tv_sec, 3000, "not taken as absolute");
        uint64_t n;
        cr_assert_eq(pk_fd_timerfd_read(t, &n), -EAGAIN);
        /* Already past: expires at once. */
        cr_assert_eq(pk_fd_timerfd_set_abs(t, now_ns - 1, 0), 0);
        wait_readable(t);
        cr_assert_eq(pk_fd_timerfd_read(t, &n), 0);
        cr_assert_eq(n, 1);
        cr_assert_eq(pk_fd_timerfd_set_abs(t, 0, 1), -EINVAL);
        pk_fd_close(t);
}

Test(fd_timerfd, periodic_blocking)
{
        int t = pk_fd_timerfd(0);
        cr_assert_geq(t, 0);
        cr_assert(!tu_nonblock(t));
        cr_assert_eq(pk_fd_timerfd_set(t, 1000000, 1500000000), 0);
        struct itimerspec its;
        cr_assert_eq(timerfd_gettime(t, &its), 0);
        cr_assert_eq(its.it_interval.tv_sec, 1);
        cr_assert_eq(its.it_interval.tv_nsec, 500000000);
        cr_assert_eq(pk_fd_timerfd_set(t, 1000000, 1000000), 0);
        uint64_t total = 0;
        for (int i = 0; i < 3; i++) {
                uint64_t n = 0;
                cr_assert_eq(pk_fd_timerfd_read(t, &n), 0); /* blocks */
                cr_assert_geq(n, 1);
                total += n;
        }
        cr_assert_geq(total, 3);
        cr_assert_eq(timerfd_gettime(t, &its), 0);
        cr_assert_eq(its.it_interval.tv_nsec, 1000000, "periodic timer lost its interval");
        pk_fd_close(t);
}

Test(fd_signalfd, blocks_mask_and_reads)
{
        int base = tu_count_fds();
        cr_assert(!tu_blocked(SIGUSR1));
        int sigs[] = {SIGUSR1, SIGUSR2};
        int s = pk_fd_signalfd(sigs, 2, PK_FD_NONBLOCK);
        cr_assert_geq(s, 0);
        cr_assert(tu_cloexec(s) && tu_nonblock(s));
        cr_assert(tu_blocked(SIGUSR1) && tu_blocked(SIGUSR2), "mask not blocked for the caller");
        cr_assert(!tu_blocked(SIGTERM));
        cr_assert_eq(pk_fd_signalfd_read(s, NULL), -EAGAIN);
        /* Without the block, the default action would kill us here. */
        kill(getpid(), SIGUSR2);
        struct signalfd_siginfo si;
        cr_assert_eq(pk_fd_signalfd_read(s, &si), SIGUSR2);
        cr_assert_eq(si.ssi_signo, (uint32_t)SIGUSR2);
        cr_assert_eq(si.ssi_pid, (uint32_t)getpid());
        cr_assert_eq(pk_fd_signalfd_read(s, &si), -EAGAIN);
        pk_fd_close(s);
        cr_assert_eq(tu_count_fds(), base);
}

Test(fd_signalfd, update_replaces_the_set)
{
        int one[] = {SIGUSR1};
        int s = pk_fd_signalfd(one, 1, PK_FD_NONBLOCK);
        cr_assert_geq(s, 0);
        cr_assert(!tu_blocked(SIGUSR2));
        int two[] = {SIGUSR2, SIGHUP};
        cr_assert_eq(pk_fd_signalfd_update(s, two, 2), 0);
        cr_assert(tu_blocked(SIGUSR2) && tu_blocked(SIGHUP));
        cr_assert(tu_nonblock(s) && tu_cloexec(s), "flags lost on update");
        kill(getpid(), SIGHUP);
        cr_assert_eq(pk_fd_signalfd_read(s, NULL), SIGHUP);
        /* SIGUSR1 is no longer in the set: it stays pending, unread. */
        kill(getpid(), SIGUSR1);
        cr_assert_eq(pk_fd_signalfd_read(s, NULL), -EAGAIN);
        sigset_t p;
        sigpending(&p);
        cr_assert(sigismember(&p, SIGUSR1));
        int bad[] = {SIGSTOP};
        cr_assert_eq(pk_fd_signalfd_update(s, bad, 1), -EINVAL);
        cr_assert_eq(pk_fd_signalfd_update(-1, two, 2), -EBADF);
        int e = pk_fd_eventfd(0, 0);
        cr_assert_eq(pk_fd_signalfd_update(e, two, 2), -EINVAL);
        pk_fd_close(e);
        pk_fd_close(s);
}

Test(fd_signalfd, bad_signals_change_nothing)
{
        int bad[] = {SIGUSR1, SIGKILL};
        cr_assert_eq(pk_fd_signalfd(bad, 2, 0), -EINVAL);
        cr_assert(!tu_blocked(SIGUSR1), "mask changed on failure");
        int zero[] = {0};
        cr_assert_eq(pk_fd_signalfd(zero, 1, 0), -EINVAL);
        cr_assert_eq(pk_fd_signalfd(NULL, 1, 0), -EINVAL);
        int one[] = {SIGUSR1};
        cr_assert_eq(pk_fd_signalfd(one, 0, 0), -EINVAL);
        cr_assert_eq(pk_fd_signalfd(one, 1, 0x10), -EINVAL);
        cr_assert(!tu_blocked(SIGUSR1));
}

Test(fd_pidfd, open_signal_poll)
{
        int base = tu_count_fds();
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                for (;;)
                        pause();
        }
        int p = pk_fd_pidfd_open(pid, 0);
        cr_assert_geq(p, 0, "%s", pk_strerror(p));
        cr_assert(tu_cloexec(p));
        cr_assert_eq(pk_fd_pidfd_send_signal(p, 0), 0, "child should be alive");
        struct pollfd q = {.fd = p, .events = POLLIN};
        cr_assert_eq(poll(&q, 1, 0), 0, "pidfd readable while child alive");
        cr_assert_eq(pk_fd_pidfd_send_signal(p, SIGTERM), 0);
        wait_readable(p);
        int st = 0;
        cr_assert_eq(waitpid(pid, &st, 0), pid);
        cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
        cr_assert_eq(pk_fd_pidfd_send_signal(p, SIGTERM), -ESRCH);
        pk_fd_close(p);
        int nb = pk_fd_pidfd_open(getpid(), PK_FD_NONBLOCK);
        cr_assert_geq(nb, 0);
        cr_assert(tu_nonblock(nb) && tu_cloexec(nb));
        pk_fd_close(nb);
        cr_assert_eq(pk_fd_pidfd_open(0, 0), -EINVAL);
        cr_assert_eq(pk_fd_pidfd_open(pid, 0), -ESRCH, "reaped child");
        cr_assert_eq(pk_fd_pidfd_send_signal(p, 99999), -EINVAL);
        cr_assert_eq(tu_count_fds(), base);
}

Test(fd_inotify, watch_create_and_remove)
{
        char dir[64], path[128];
        tu_tmpdir(dir, sizeof(dir));
        int base = tu_count_fds();
        int in = pk_fd_inotify(PK_FD_NONBLOCK);
        cr_assert_geq(in, 0);
        cr_assert(tu_cloexec(in) && tu_nonblock(in));
        int wd = pk_fd_inotify_add(in, dir, IN_CREATE | IN_DELETE);
        cr_assert_geq(wd, 1);
        snprintf(path, sizeof(path), "%s/newfile", dir);
        int f = pk_fd_open(path, O_WRONLY | O_CREAT, 0600);
        pk_fd_close(f);
        unlink(path);
        /* Aligned like the kernel wants, then parsed at an odd offset to
         * show the parser does not need alignment. */
        _Alignas(struct inotify_event) char raw[4096 + 1];
        ssize_t n = read(in, raw, 4096);
        cr_assert_gt(n, 0);
        memmove(raw + 1, raw, (size_t)n);
        size_t off = 0;
        struct pk_fd_inotify_event ev;
        cr_assert_eq(pk_fd_inotify_next(raw + 1, (size_t)n, &off, &ev), 1);
        cr_assert_eq(ev.wd, wd);
        cr_assert(ev.mask & IN_CREATE);
        cr_assert_str_eq(ev.name, "newfile");
        cr_assert_eq(pk_fd_inotify_next(raw + 1, (size_t)n, &off, &ev), 1);
        cr_assert(ev.mask & IN_DELETE);
        cr_assert_str_eq(ev.name, "newfile");
        cr_assert_eq(pk_fd_inotify_next(raw + 1, (size_t)n, &off, &ev), 0);
        cr_assert_eq(off, (size_t)n);
        cr_assert_eq(pk_fd_inotify_rm(in, wd), 0);
        wait_readable(in);
        n = read(in, raw, 4096);
        off = 0;
        cr_assert_eq(pk_fd_inotify_next(raw, (size_t)n, &off, &ev), 1);
        cr_assert(ev.mask & IN_IGNORED);
        cr_assert(ev.name == NULL);
        cr_assert_eq(pk_fd_inotify_rm(in, wd), -EINVAL);
        cr_assert_eq(pk_fd_inotify_add(in, "/nonexistent/x", IN_CREATE), -ENOENT);
        pk_fd_close(in);
        cr_assert_eq(tu_count_fds(), base);
        tu_rmrf(dir);
}

/* Writes an event header claiming a name of len bytes, followed by the
 * ncopy bytes of name actually present. */
static size_t put_event(unsigned char *p, int wd, uint32_t mask, uint32_t len, const char *name,
                        size_t ncopy)
{
        struct inotify_event h = {.wd = wd, .mask = mask, .cookie = 7, .len = len};
        memcpy(p, &h, sizeof(h));
        if (ncopy)
                memcpy(p + sizeof(h), name, ncopy);
        return sizeof(h) + ncopy;
}

Test(fd_inotify, parser_rejects_corrupt_buffers)
{
        unsigned char buf[256];
        struct pk_fd_inotify_event ev;
        size_t off = 0;
        size_t n = put_event(buf, 3, IN_OPEN, 8, "abc\0\0\0\0\0", 8);
        n += put_event(buf + n, 4, IN_CLOSE, 0, NULL, 0);
        cr_assert_eq(pk_fd_inotify_next(buf, n, &off, &ev), 1);
        cr_assert_eq(ev.wd, 3);
        cr_assert_eq(ev.cookie, 7);
        cr_assert_str_eq(ev.name, "abc");
        cr_assert_eq(pk_fd_inotify_next(buf, n, &off, &ev), 1);
        cr_assert_eq(ev.wd, 4);
        cr_assert(ev.name == NULL);
        cr_assert_eq(pk_fd_inotify_next(buf, n, &off, &ev), 0);
        /* Truncated header. */
        off = 0;
        cr_assert_eq(pk_fd_inotify_next(buf, 10, &off, &ev), -EBADMSG);
        cr_assert_eq(off, 0);
        /* Name length past the end of the buffer. */
        n = put_event(buf, 1, IN_OPEN, 200, "x\0\0\0\0\0\0", 8);
        cr_assert_eq(pk_fd_inotify_next(buf, n, &off, &ev), -EBADMSG);
        n = put_event(buf, 1, IN_OPEN, 0xfffffff0u, NULL, 0);
        cr_assert_eq(pk_fd_inotify_next(buf, sizeof(buf), &off, &ev), -EBADMSG);
        /* Name without a terminating NUL. */
        n = put_event(buf, 1, IN_OPEN, 4, "abcd", 4);
        cr_assert_eq(pk_fd_inotify_next(buf, n, &off, &ev), -EBADMSG);
        /* Offset beyond the buffer. */
        off = 999;
        cr_assert_eq(pk_fd_inotify_next(buf, n, &off, &ev), -EINVAL);
        off = 0;
        cr_assert_eq(pk_fd_inotify_next(NULL, 0, &off, &ev), 0);
}

Test(fd_mqueue, priorities_and_attributes)
{
        char name[64];
        snprintf(name, sizeof(name), "/portkit-test-%d", (int)getpid());
        pk_fd_mq_unlink(name);
        int base = tu_count_fds();
        struct pk_fd_mq_attr a = {.maxmsg = 4, .msgsize = 64};
        int q =
            pk_fd_mq_open(name, PK_FD_RDWR, PK_FD_CREATE | PK_FD_EXCL | PK_FD_NONBLOCK, 0600, &a);
        cr_assert_geq(q, 0, "mq_open: %s", pk_strerror(q));
        cr_assert(tu_cloexec(q));
        struct pk_fd_mq_attr got;
        cr_assert_eq(pk_fd_mq_getattr(q, &got), 0);
        cr_assert_eq(got.maxmsg, 4);
        cr_assert_eq(got.msgsize, 64);
        cr_assert_eq(got.curmsgs, 0);
        cr_assert_eq(pk_fd_mq_send(q, "low", 3, 1), 0);
        cr_assert_eq(pk_fd_mq_send(q, "high", 4, 5), 0);
        cr_assert_eq(pk_fd_mq_send(q, "mid", 3, 3), 0);
        cr_assert_eq(pk_fd_mq_send(q, "mid2", 4, 3), 0);
        cr_assert_eq(pk_fd_mq_send(q, "full", 4, 0), -EAGAIN);
        cr_assert_eq(pk_fd_mq_getattr(q, &got), 0);
        cr_assert_eq(got.curmsgs, 4);
        char big[65];
        cr_assert_eq(pk_fd_mq_send(q, big, 65, 0), -EMSGSIZE);
        char buf[64];
        unsigned prio = 0;
        cr_assert_eq(pk_fd_mq_recv(q, buf, 10, &prio), -EMSGSIZE, "buffer below msgsize");
        const char *want[] = {"high", "mid", "mid2", "low"};
        unsigned wprio[] = {5, 3, 3, 1};
        for (int i = 0; i < 4; i++) {
                ssize_t n = pk_fd_mq_recv(q, buf, sizeof(buf), &prio);
                cr_assert_eq(n, (ssize_t)strlen(want[i]));
                cr_assert(memcmp(buf, want[i], (size_t)n) == 0);
                cr_assert_eq(prio, wprio[i]);
        }
        cr_assert_eq(pk_fd_mq_recv(q, buf, sizeof(buf), NULL), -EAGAIN);
        /* A second descriptor, write-only, blocking. */
        int w = pk_fd_mq_open(name, PK_FD_WRITE, 0, 0, NULL);
        cr_assert_geq(w, 0);
        cr_assert(tu_cloexec(w));
        cr_assert_eq(pk_fd_mq_send(w, "via w", 5, 2), 0);
        wait_readable(q);
        cr_assert_eq(pk_fd_mq_recv(q, buf, sizeof(buf), &prio), 5);
        cr_assert_eq(pk_fd_mq_open(name, PK_FD_RDWR, PK_FD_CREATE | PK_FD_EXCL, 0600, NULL),
                     -EEXIST);
        cr_assert_eq(pk_fd_mq_unlink(name), 0);
        cr_assert_eq(pk_fd_mq_open(name, PK_FD_READ, 0, 0, NULL), -ENOENT);
        cr_assert_eq(pk_fd_mq_unlink(name), -ENOENT);
        cr_assert_eq(pk_fd_mq_open("noslash", PK_FD_READ, 0, 0, NULL), -EINVAL);
        cr_assert_eq(pk_fd_mq_open("/a/b", PK_FD_READ, 0, 0, NULL), -EINVAL);
        cr_assert_eq(pk_fd_mq_open(name, PK_FD_READ, PK_FD_EXCL, 0, NULL), -EINVAL);
        struct pk_fd_mq_attr half = {.maxmsg = 4};
        cr_assert_eq(pk_fd_mq_open(name, PK_FD_READ, PK_FD_CREATE, 0600, &half), -EINVAL);
        pk_fd_close(w);
        pk_fd_close(q);
        cr_assert_eq(tu_count_fds(), base);
}

/* NULL with len 0 is an empty message; mq_send() declares its buffer
 * nonnull, so the layer must not pass that NULL on (UBSan's
 * nonnull-attribute check stops the test otherwise). */
Test(fd_mqueue, empty_message_from_null)
{
        char name[64];
        snprintf(name, sizeof(name), "/portkit-test-empty-%d", (int)getpid());
        pk_fd_mq_unlink(name);
        struct pk_fd_mq_attr a = {.maxmsg = 2, .msgsize = 16};
        int q =
            pk_fd_mq_open(name, PK_FD_RDWR, PK_FD_CREATE | PK_FD_EXCL | PK_FD_NONBLOCK, 0600, &a);
        cr_assert_geq(q, 0, "mq_open: %s", pk_strerror(q));
        cr_assert_eq(pk_fd_mq_unlink(name), 0);
        cr_assert_eq(pk_fd_mq_send(q, NULL, 0, 7), 0);
        cr_assert_eq(pk_fd_mq_send(q, NULL, 1, 7), -EINVAL);
        char buf[16];
        unsigned prio = 0;
        cr_assert_eq(pk_fd_mq_recv(q, buf, sizeof(buf), &prio), 0);
        cr_assert_eq(prio, 7);
        cr_assert_eq(pk_fd_mq_recv(q, buf, sizeof(buf), NULL), -EAGAIN);
        pk_fd_close(q);
}

Test(fd_pty, pair_winsize_and_data)
{
        int base = tu_count_fds();
        int pty[2] = {-5, -5};
        char name[64] = {0};
        cr_assert_eq(pk_fd_pty_open(pty, 0, name, sizeof(name)), 0);
        cr_assert(tu_cloexec(pty[0]) && tu_cloexec(pty[1]));
        cr_assert(isatty(pty[1]));
        cr_assert(strncmp(name, "/dev/pts/", 9) == 0, "name %s", name);
        cr_assert_str_eq(ttyname(pty[1]), name);
        struct pk_fd_winsize ws = {.rows = 42, .cols = 132};
        cr_assert_eq(pk_fd_pty_set_winsize(pty[0], &ws), 0);
        struct pk_fd_winsize got = {0};
        cr_assert_eq(pk_fd_pty_get_winsize(pty[1], &got), 0);
        cr_assert_eq(got.rows, 42);
        cr_assert_eq(got.cols, 132);
        /* Canonical mode: a line typed on the master reaches the slave. */
        cr_assert_eq(pk_fd_write_all(pty[0], "hi\n", 3, NULL), 3);
        char buf[16] = {0};
        cr_assert_eq(read(pty[1], buf, sizeof(buf)), 3);
        cr_assert_str_eq(buf, "hi\n");
        int fds[2];
        cr_assert_eq(pk_fd_pipe(fds, 0), 0);
        cr_assert_eq(pk_fd_pty_get_winsize(fds[0], &got), -ENOTTY);
        cr_assert_eq(pk_fd_pty_set_winsize(fds[0], &ws), -ENOTTY);
        pk_fd_close(fds[0]);
        pk_fd_close(fds[1]);
        char tiny[4];
        int other[2] = {-5, -5};
        cr_assert_eq(pk_fd_pty_open(other, 0, tiny, sizeof(tiny)), -ERANGE);
        cr_assert_eq(other[0], -5);
        cr_assert_eq(pk_fd_pty_open(other, PK_FD_NONBLOCK, NULL, 0), 0);
        cr_assert(tu_nonblock(other[0]));
        pk_fd_close(other[0]);
        pk_fd_close(other[1]);
        pk_fd_close(pty[0]);
        pk_fd_close(pty[1]);
        cr_assert_eq(tu_count_fds(), base);
}

Test(fd_term, raw_mode_and_restore)
{
        int pty[2];
        cr_assert_eq(pk_fd_pty_open(pty, 0, NULL, 0), 0);
        struct termios saved, now;
        cr_assert_eq(pk_fd_term_set_raw(pty[1], &saved), 0);
        cr_assert(saved.c_lflag & ICANON);
        cr_assert_eq(tcgetattr(pty[1], &now), 0);
        cr_assert(!(now.c_lflag & (ICANON | ECHO | ISIG)));
        cr_assert_eq(now.c_cc[VMIN], 1);
        /* Raw: one byte arrives without a newline, and is not echoed. */
        cr_assert_eq(pk_fd_write_all(pty[0], "x", 1, NULL), 1);
        char c = 0;
        cr_assert_eq(read(pty[1], &c, 1), 1);
        cr_assert_eq(c, 'x');
        struct pollfd p = {.fd = pty[0], .events = POLLIN};
        cr_assert_eq(poll(&p, 1, 0), 0, "raw mode echoed");
        cr_assert_eq(pk_fd_term_restore(pty[1], &saved), 0);
        cr_assert_eq(tcgetattr(pty[1], &now), 0);
        cr_assert(now.c_lflag & ICANON);
        cr_assert_eq(pk_fd_term_set_raw(pty[1], NULL), 0);
        cr_assert_eq(pk_fd_term_restore(pty[1], NULL), -EINVAL);
        int fds[2];
        cr_assert_eq(pk_fd_pipe(fds, 0), 0);
        cr_assert_eq(pk_fd_term_set_raw(fds[0], NULL), -ENOTTY);
        pk_fd_close(fds[0]);
        pk_fd_close(fds[1]);
        pk_fd_close(pty[0]);
        pk_fd_close(pty[1]);
}

Test(fd_term, serial_settings_on_a_pty)
{
        int pty[2];
        char name[64];
        cr_assert_eq(pk_fd_pty_open(pty, 0, name, sizeof(name)), 0);
        int s = pk_fd_serial_open(name, 0);
        cr_assert_geq(s, 0, "%s", pk_strerror(s));
        cr_assert(tu_cloexec(s));
        cr_assert(!tu_nonblock(s));
        struct pk_fd_serial cfg = {
            .baud = 9600, .data_bits = 8, .parity = 'N', .stop_bits = 2, .rtscts = 1};
        cr_assert_eq(pk_fd_term_config(s, &cfg), 0);
        struct termios t;
        cr_assert_eq(tcgetattr(s, &t), 0);
        cr_assert_eq(cfgetospeed(&t), B9600);
        cr_assert_eq(cfgetispeed(&t), B9600);
        cr_assert_eq(t.c_cflag & CSIZE, CS8);
        cr_assert(!(t.c_cflag & PARENB));
        cr_assert(t.c_cflag & CSTOPB);
        cr_assert(t.c_cflag & CRTSCTS);
        cr_assert((t.c_cflag & (CLOCAL | CREAD)) == (CLOCAL | CREAD));
        cr_assert(!(t.c_lflag & (ICANON | ECHO)), "not raw");
        struct pk_fd_serial got;
        cr_assert_eq(pk_fd_term_get(pty[1], &got), 0, "same terminal through the other fd");
        cr_assert_eq(got.baud, 9600);
        cr_assert_eq(got.parity, 'N');
        cr_assert_eq(got.stop_bits, 2);
        cr_assert_eq(got.data_bits, 8);
        cr_assert_eq(got.rtscts, 1);
        cr_assert_eq(got.xonxoff, 0);

        struct pk_fd_serial c2 = {
            .baud = 115200, .data_bits = 8, .parity = 'N', .stop_bits = 1, .xonxoff = 1};
        cr_assert_eq(pk_fd_term_config(s, &c2), 0);
        cr_assert_eq(pk_fd_term_get(s, &got), 0);
        cr_assert_eq(got.baud, 115200);
        cr_assert_eq(got.stop_bits, 1);
        cr_assert_eq(got.rtscts, 0);
        cr_assert_eq(got.xonxoff, 1);

        /* A pty forces CS8 and clears PARENB: the readback catches it. */
        struct pk_fd_serial par = c2;
        par.parity = 'E';
        cr_assert_eq(pk_fd_term_config(s, &par), -ENOTSUP);
        struct pk_fd_serial seven = c2;
        seven.data_bits = 7;
        cr_assert_eq(pk_fd_term_config(s, &seven), -ENOTSUP);

        struct pk_fd_serial bad = cfg;
        bad.baud = 12345;
        cr_assert_eq(pk_fd_term_config(s, &bad), -EINVAL);
        bad = cfg;
        bad.data_bits = 9;
        cr_assert_eq(pk_fd_term_config(s, &bad), -EINVAL);
        bad = cfg;
        bad.parity = 'X';
        cr_assert_eq(pk_fd_term_config(s, &bad), -EINVAL);
        bad = cfg;
        bad.stop_bits = 3;
        cr_assert_eq(pk_fd_term_config(s, &bad), -EINVAL);
        cr_assert_eq(pk_fd_term_config(s, NULL), -EINVAL);
        /* Bytes pass through the configured line untouched. */
        cr_assert_eq(pk_fd_term_config(s, &cfg), 0);
        cr_assert_eq(pk_fd_write_all(s, "\x01\xff\n", 3, NULL), 3);
        unsigned char b[3];
        cr_assert_eq(pk_fd_read_all(pty[0], b, 3, NULL), 3);
        cr_assert(b[0] == 1 && b[1] == 0xff && b[2] == '\n', "output was post-processed");
        pk_fd_close(s);
        cr_assert_eq(pk_fd_serial_open("/dev/null", 0), -ENOTTY);
        cr_assert_eq(pk_fd_serial_open("/nonexistent", 0), -ENOENT);
        int fds[2];
        cr_assert_eq(pk_fd_pipe(fds, 0), 0);
        cr_assert_eq(pk_fd_term_get(fds[0], &got), -ENOTTY);
        cr_assert_eq(pk_fd_term_config(fds[0], &cfg), -ENOTTY);
        pk_fd_close(fds[0]);
        pk_fd_close(fds[1]);
        pk_fd_close(pty[0]);
        pk_fd_close(pty[1]);
}

Test(fd_term, encode_decode_parity_and_size)
{
        /* Parity and character size cannot be kept by a pty, so their
         * encoding is checked on the termios struct itself. */
        struct termios t;
        memset(&t, 0, sizeof(t));
        t.c_lflag = ICANON | ECHO;
        struct pk_fd_serial c = {.baud = 19200, .data_bits = 7, .parity = 'O', .stop_bits = 1};
        cr_assert_eq(pk_fd_termios_encode(&t, &c), 0);
        cr_assert_eq(t.c_cflag & CSIZE, CS7);
        cr_assert((t.c_cflag & (PARENB | PARODD)) == (PARENB | PARODD));
        cr_assert(t.c_iflag & INPCK);
        cr_assert(!(t.c_cflag & CSTOPB));
        cr_assert(!(t.c_lflag & (ICANON | ECHO)));
        cr_assert_eq(cfgetospeed(&t), B19200);
        struct pk_fd_serial d;
        cr_assert_eq(pk_fd_termios_decode(&t, &d), 0);
        cr_assert_eq(d.baud, 19200);
        cr_assert_eq(d.data_bits, 7);
        cr_assert_eq(d.parity, 'O');
        cr_assert_eq(d.stop_bits, 1);

        struct pk_fd_serial e = {.baud = 300, .data_bits = 5, .parity = 'E', .stop_bits = 2};
        cr_assert_eq(pk_fd_termios_encode(&t, &e), 0);
        cr_assert_eq(t.c_cflag & CSIZE, CS5);
        cr_assert(t.c_cflag & PARENB);
        cr_assert(!(t.c_cflag & PARODD));
        cr_assert(t.c_cflag & CSTOPB);
        cr_assert_eq(pk_fd_termios_decode(&t, &d), 0);
        cr_assert_eq(d.parity, 'E');
        cr_assert_eq(d.data_bits, 5);
        cr_assert_eq(d.stop_bits, 2);
        cr_assert_eq(d.baud, 300);

        struct pk_fd_serial n = {.baud = 4000000, .data_bits = 6, .parity = 'N', .stop_bits = 1};
        cr_assert_eq(pk_fd_termios_encode(&t, &n), 0);
        cr_assert(!(t.c_cflag & (PARENB | PARODD)));
        cr_assert(!(t.c_iflag & INPCK));
        cr_assert_eq(t.c_cflag & CSIZE, CS6);
        cr_assert_eq(pk_fd_termios_decode(&t, &d), 0);
        cr_assert_eq(d.baud, 4000000);

        struct termios before = t;
        struct pk_fd_serial bad = n;
        bad.baud = 1234;
        cr_assert_eq(pk_fd_termios_encode(&t, &bad), -EINVAL);
        cr_assert(memcmp(&t, &before, sizeof(t)) == 0, "struct changed on failure");
        cr_assert_eq(pk_fd_termios_encode(NULL, &n), -EINVAL);
        cr_assert_eq(pk_fd_termios_decode(&t, NULL), -EINVAL);
}
