/* SPDX-License-Identifier: MIT */
/* fd layer: generic helpers (close, dup, toggles), full reads and writes,
 * SIGPIPE safety, splice/tee/vmsplice/sendfile, pipes, FIFOs, devices. */
#include "testutil.h"
#include <portkit/fd.h>

#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>

static bool sigpipe_pending(void)
{
        sigset_t p;
        sigpending(&p);
        return sigismember(&p, SIGPIPE) == 1;
}

static bool sigpipe_blocked(void)
{
        sigset_t m;
        pthread_sigmask(SIG_SETMASK, NULL, &m);
        return sigismember(&m, SIGPIPE) == 1;
}

Test(fd_io, close_accepts_minus_one_and_preserves_errno)
{
        int fds[2];
        cr_assert_eq(pk_fd_pipe(fds, 0), 0);
        errno = 1234;
        cr_assert_eq(pk_fd_close(-1), -EBADF);
        cr_assert_eq(pk_fd_close(fds[0]), -EBADF);
        cr_assert_eq(errno, 1234);
        cr_assert(!tu_fd_open(fds[0]), "descriptor still open after pk_fd_close");
        int fd = fds[1];
        fd = pk_fd_close(fd);
        cr_assert_eq(fd, -EBADF);
        cr_assert(!tu_fd_open(fds[1]));
}

Test(fd_io, raise_moves_only_the_middle_range)
{
        int base = tu_count_fds();
        cr_assert_eq(pk_fd_raise(-1), -EBADF);
        int low = pk_fd_dup(1, 3);
        cr_assert(low >= 3 && low < PK_FD_RAISE_FROM, "test runner holds too many fds: %d", low);
        cr_assert_eq(pk_fd_raise(low), low, "below the range: stays");
        int mid = pk_fd_dup(1, PK_FD_RAISE_FROM);
        cr_assert(mid >= PK_FD_RAISE_FROM && mid < PK_FD_RAISE_TO);
        int moved = pk_fd_raise(mid);
        cr_assert_geq(moved, PK_FD_RAISE_TO);
        cr_assert(!tu_fd_open(mid), "the old number is closed");
        cr_assert(tu_cloexec(moved));
        cr_assert_eq(pk_fd_raise(moved), moved, "above the range: stays");
        /* no room above PK_FD_RAISE_TO under the limit: stays, still open */
        struct rlimit rl;
        cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
        mid = pk_fd_dup(1, PK_FD_RAISE_FROM);
        struct rlimit tight = {PK_FD_RAISE_TO, rl.rlim_max};
        cr_assert_eq(setrlimit(RLIMIT_NOFILE, &tight), 0);
        cr_assert_eq(pk_fd_raise(mid), mid);
        cr_assert(tu_fd_open(mid));
        cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
        pk_fd_close(low);
        pk_fd_close(mid);
        pk_fd_close(moved);
        cr_assert_eq(tu_count_fds(), base);
}

Test(fd_io, dup_is_cloexec_and_above_min)
{
        int base = tu_count_fds();
        int fds[2];
        cr_assert_eq(pk_fd_pipe(fds, 0), 0);
        int d = pk_fd_dup(fds[1], 20);
        cr_assert_geq(d, 20);
        cr_assert(tu_cloexec(d));
        cr_assert_eq(pk_fd_write_all(d, "x", 1, NULL), 1);
        char c = 0;
        cr_assert_eq(pk_fd_read_all(fds[0], &c, 1, NULL), 1);
        cr_assert_eq(c, 'x');
        cr_assert_eq(pk_fd_dup(-1, 3), -EBADF);
        cr_assert_eq(pk_fd_dup(fds[0], -1), -EINVAL);
        pk_fd_close(d);
        pk_fd_close(fds[0]);
        pk_fd_close(fds[1]);
        cr_assert_eq(tu_count_fds(), base);
}

Test(fd_io, toggles)
{
        int fds[2];
        cr_assert_eq(pk_fd_pipe(fds, 0), 0);
        cr_assert(!tu_nonblock(fds[0]));
        cr_assert_eq(pk_fd_set_nonblock(fds[0], 1), 0);
        cr_assert(tu_nonblock(fds[0]));
        cr_assert_eq(pk_fd_set_nonblock(fds[0], 1), 0);
        cr_assert(tu_nonblock(fds[0]));
        cr_assert_eq(pk_fd_set_nonblock(fds[0], 0), 0);
        cr_assert(!tu_nonblock(fds[0]));
        cr_assert(tu_cloexec(fds[1]));
        cr_assert_eq(pk_fd_set_cloexec(fds[1], 0), 0);
        cr_assert(!tu_cloexec(fds[1]));
        cr_assert_eq(pk_fd_set_cloexec(fds[1], 1), 0);
        cr_assert(tu_cloexec(fds[1]));
        cr_assert_eq(pk_fd_set_nonblock(-1, 1), -EBADF);
        cr_assert_eq(pk_fd_set_cloexec(-1, 1), -EBADF);
        pk_fd_close(fds[0]);
        pk_fd_close(fds[1]);
}

struct writer_arg {
        int fd;
        const unsigned char *buf;
        size_t len;
        ssize_t result;
};

static void *writer(void *p)
{
        struct writer_arg *a = p;
        a->result = pk_fd_write_all(a->fd, a->buf, a->len, NULL);
        pk_fd_close(a->fd);
        return NULL;
}

Test(fd_io, read_all_write_all_large_through_pipe)
{
        int base = tu_count_fds();
        enum { N = 3 * 1024 * 1024 + 17 };
        unsigned char *src = malloc(N), *dst = malloc(N + 10);
        cr_assert(src && dst);
        for (size_t i = 0; i < N; i++)
                src[i] = (unsigned char)(i * 7 + (i >> 11));
        int fds[2];
        cr_assert_eq(pk_fd_pipe(fds, 0), 0);
        struct writer_arg a = {.fd = fds[1], .buf = src, .len = N};
        pthread_t t;
        cr_assert_eq(pthread_create(&t, NULL, writer, &a), 0);
        /* Ask for more than will come: the short count reports EOF. */
        size_t done = 0;
        ssize_t n = pk_fd_read_all(fds[0], dst, N + 10, &done);
        pthread_join(t, NULL);
        cr_assert_eq(a.result, (ssize_t)N);
        cr_assert_eq(n, (ssize_t)N);
        cr_assert_eq(done, (size_t)N);
        cr_assert(memcmp(src, dst, N) == 0);
        /* At EOF a further read returns 0. */
        cr_assert_eq(pk_fd_read_all(fds[0], dst, 1, &done), 0);
        cr_assert_eq(done, 0);
        pk_fd_close(fds[0]);
        free(src);
        free(dst);
        cr_assert_eq(tu_count_fds(), base);
}

Test(fd_io, bad_arguments)
{
        size_t done = 99;
        cr_assert_eq(pk_fd_read_all(0, NULL, 1, &done), -EINVAL);
        cr_assert_eq(done, 0);
        cr_assert_eq(pk_fd_write_all(1, NULL, 1, NULL), -EINVAL);
        cr_assert_eq(pk_fd_read_all(-1, &done, 1, NULL), -EBADF);
        cr_assert_eq(pk_fd_write_all(-1, "x", 1, NULL), -EBADF);
        cr_assert_eq(pk_fd_read_all(-1, NULL, 0, NULL), 0);
        cr_assert_eq(pk_fd_write_all(-1, NULL, 0, NULL), 0);
}

Test(fd_io, nonblocking_partial_progress_is_reported)
{
        int fds[2];
        cr_assert_eq(pk_fd_pipe(fds, PK_FD_NONBLOCK), 0);
        int cap = pk_fd_pipe_get_size(fds[1]);
        cr_assert_gt(cap, 0);
        size_t big = (size_t)cap * 2;
        char *buf = calloc(1, big);
        size_t done = 0;
        cr_assert_eq(pk_fd_write_all(fds[1], buf, big, &done), -EAGAIN);
        cr_assert_eq(done, (size_t)cap, "wrote %zu of a %d-byte pipe", done, cap);
        /* Reading more than is there: the bytes we got are reported. */
        cr_assert_eq(pk_fd_read_all(fds[0], buf, big, &done), -EAGAIN);
        cr_assert_eq(done, (size_t)cap);
        free(buf);
        pk_fd_close(fds[0]);
        pk_fd_close(fds[1]);
}

Test(fd_io, write_all_pipe_without_reader_is_epipe_not_sigpipe)
{
        /* The default SIGPIPE disposition kills: this test dies if the
         * library lets one through. */
        signal(SIGPIPE, SIG_DFL);
        int fds[2];
        cr_assert_eq(pk_fd_pipe(fds, 0), 0);
        pk_fd_close(fds[0]);
        errno = 0;
        size_t done = 7;
        cr_assert_eq(pk_fd_write_all(fds[1], "hello", 5, &done), -EPIPE);
        cr_assert_eq(done, 0);
        cr_assert_eq(errno, 0, "errno changed");
        cr_assert(!sigpipe_pending(), "SIGPIPE left pending");
        cr_assert(!sigpipe_blocked(), "signal mask not restored");
        pk_fd_close(fds[1]);
}

Test(fd_io, write_all_keeps_a_callers_pending_sigpipe)
{
        signal(SIGPIPE, SIG_DFL);
        sigset_t s;
        sigemptyset(&s);
        sigaddset(&s, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &s, NULL);
        pthread_kill(pthread_self(), SIGPIPE);
        cr_assert(sigpipe_pending());
        int fds[2];
        cr_assert_eq(pk_fd_pipe(fds, 0), 0);
        pk_fd_close(fds[0]);
        cr_assert_eq(pk_fd_write_all(fds[1], "x", 1, NULL), -EPIPE);
        cr_assert(sigpipe_pending(), "the caller's own SIGPIPE was consumed");
        cr_assert(sigpipe_blocked(), "the caller's mask was changed");
        /* Blocked but not pending before: ours is consumed. */
        const struct timespec zero = {0, 0};
        cr_assert_eq(sigtimedwait(&s, NULL, &zero), SIGPIPE);
        cr_assert_eq(pk_fd_write_all(fds[1], "x", 1, NULL), -EPIPE);
        cr_assert(!sigpipe_pending());
        cr_assert(sigpipe_blocked());
        pk_fd_close(fds[1]);
}

Test(fd_io, write_all_socket_without_peer_is_epipe_not_sigpipe)
{
        signal(SIGPIPE, SIG_DFL);
        int sv[2];
        cr_assert_eq(pk_fd_socketpair(sv, SOCK_STREAM, 0), 0);
        pk_fd_close(sv[1]);
        cr_assert_eq(pk_fd_write_all(sv[0], "hello", 5, NULL), -EPIPE);
        cr_assert(!sigpipe_pending());
        cr_assert(!sigpipe_blocked());
        pk_fd_close(sv[0]);
}

static int tmpfile_with(const char *dir, const char *data, size_t len)
{
        char path[256];
        snprintf(path, sizeof(path), "%s/f", dir);
        int fd = pk_fd_open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
        cr_assert_geq(fd, 0);
        cr_assert_eq(pk_fd_write_all(fd, data, len, NULL), (ssize_t)len);
        unlink(path);
        return fd;
}

Test(fd_io, splice_moves_exact_count_and_updates_offsets)
{
        char dir[64];
        tu_tmpdir(dir, sizeof(dir));
        int base = tu_count_fds();
        const char msg[] = "0123456789abcdefghij";
        int file = tmpfile_with(dir, msg, 20);
        int fds[2];
        cr_assert_eq(pk_fd_pipe(fds, 0), 0);
        int64_t off = 3;
        cr_assert_eq(pk_fd_splice(file, &off, fds[1], NULL, 10, 0), 10);
        cr_assert_eq(off, 13);
        /* Asking for more than the file holds stops at EOF. */
        cr_assert_eq(pk_fd_splice(file, &off, fds[1], NULL, 100, 0), 7);
        cr_assert_eq(off, 20);
        char buf[32] = {0};
        cr_assert_eq(pk_fd_read_all(fds[0], buf, 17, NULL), 17);
        cr_assert_str_eq(buf, "3456789abcdefghij");
        /* Pipe to file at an offset. */
        cr_assert_eq(pk_fd_write_all(fds[1], "XYZ", 3, NULL), 3);
        int64_t woff = 1;
        cr_assert_eq(pk_fd_splice(fds[0], NULL, file, &woff, 3, 0), 3);
        cr_assert_eq(woff, 4);
        cr_assert_eq(pread(file, buf, 5, 0), 5);
        cr_assert(memcmp(buf, "0XYZ4", 5) == 0);
        /* Neither side a pipe. */
        cr_assert_eq(pk_fd_splice(file, NULL, file, NULL, 1, 0), -EINVAL);
        pk_fd_close(file);
        pk_fd_close(fds[0]);
        pk_fd_close(fds[1]);
        cr_assert_eq(tu_count_fds(), base);
        tu_rmrf(dir);
}

Test(fd_io, splice_into_pipe_without_reader_is_epipe_not_sigpipe)
{
        signal(SIGPIPE, SIG_DFL);
        int a[2], b[2];
        cr_assert_eq(pk_fd_pipe(a, 0), 0);
        cr_assert_eq(pk_fd_pipe(b, 0), 0);
        cr_assert_eq(pk_fd_write_all(a[1], "abc", 3, NULL), 3);
        pk_fd_close(b[0]);
        cr_assert_eq(pk_fd_splice(a[0], NULL, b[1], NULL, 3, 0), -EPIPE);
        cr_assert(!sigpipe_pending());
        cr_assert_eq(pk_fd_vmsplice(b[1], "abc", 3, 0), -EPIPE);
        cr_assert_eq(pk_fd_tee(a[0], b[1], 3, 0), -EPIPE);
        cr_assert(!sigpipe_pending());
        cr_assert(!sigpipe_blocked());
        pk_fd_close(a[0]);
        pk_fd_close(a[1]);
        pk_fd_close(b[1]);
}

Test(fd_io, tee_duplicates_without_consuming)
{
        int a[2], b[2];
        cr_assert_eq(pk_fd_pipe(a, 0), 0);
        cr_assert_eq(pk_fd_pipe(b, 0), 0);
        cr_assert_eq(pk_fd_write_all(a[1], "teedata", 7, NULL), 7);
        cr_assert_eq(pk_fd_tee(a[0], b[1], 4, 0), 4);
        char x[8] = {0}, y[8] = {0};
        cr_assert_eq(pk_fd_read_all(b[0], y, 4, NULL), 4);
        cr_assert_str_eq(y, "teed");
        cr_assert_eq(pk_fd_read_all(a[0], x, 7, NULL), 7);
        cr_assert_str_eq(x, "teedata");
        /* Empty input, non-blocking: nothing to duplicate. */
        cr_assert_eq(pk_fd_tee(a[0], b[1], 4, SPLICE_F_NONBLOCK), -EAGAIN);
        for (int i = 0; i < 2; i++) {
                pk_fd_close(a[i]);
                pk_fd_close(b[i]);
        }
}

Test(fd_io, vmsplice_writes_whole_buffer)
{
        int fds[2];
        cr_assert_eq(pk_fd_pipe(fds, 0), 0);
        char src[1000];
        for (size_t i = 0; i < sizeof(src); i++)
                src[i] = (char)('a' + i % 26);
        cr_assert_eq(pk_fd_vmsplice(fds[1], src, sizeof(src), 0), (ssize_t)sizeof(src));
        char dst[1000];
        cr_assert_eq(pk_fd_read_all(fds[0], dst, sizeof(dst), NULL), (ssize_t)sizeof(dst));
        cr_assert(memcmp(src, dst, sizeof(src)) == 0);
        pk_fd_close(fds[0]);
        pk_fd_close(fds[1]);
}

Test(fd_io, sendfile_copies_count_from_offset)
{
        char dir[64];
        tu_tmpdir(dir, sizeof(dir));
        int file = tmpfile_with(dir, "hello sendfile world", 20);
        int sv[2];
        cr_assert_eq(pk_fd_socketpair(sv, SOCK_STREAM, 0), 0);
        int64_t off = 6;
        cr_assert_eq(pk_fd_sendfile(sv[0], file, &off, 8), 8);
        cr_assert_eq(off, 14);
        cr_assert_eq(pk_fd_sendfile(sv[0], file, &off, 100), 6);
        char buf[16] = {0};
        cr_assert_eq(pk_fd_read_all(sv[1], buf, 14, NULL), 14);
        cr_assert_str_eq(buf, "sendfile world");
        /* With NULL the file position is used and advanced. */
        cr_assert_eq(lseek(file, 0, SEEK_SET), 0);
        cr_assert_eq(pk_fd_sendfile(sv[0], file, NULL, 5), 5);
        cr_assert_eq(lseek(file, 0, SEEK_CUR), 5);
        pk_fd_close(sv[1]);
        signal(SIGPIPE, SIG_DFL);
        cr_assert_eq(pk_fd_sendfile(sv[0], file, NULL, 5), -EPIPE);
        cr_assert(!sigpipe_pending());
        pk_fd_close(sv[0]);
        pk_fd_close(file);
        tu_rmrf(dir);
}

Test(fd_pipe, flags_and_size)
{
        int base = tu_count_fds();
        int fds[2] = {-7, -7};
        cr_assert_eq(pk_fd_pipe(fds, 0x100), -EINVAL);
        cr_assert_eq(fds[0], -7, "out-parameter written on failure");
        cr_assert_eq(pk_fd_pipe(fds, PK_FD_NONBLOCK), 0);
        cr_assert(tu_nonblock(fds[0]) && tu_nonblock(fds[1]));
        cr_assert(tu_cloexec(fds[0]) && tu_cloexec(fds[1]));
        int sz = pk_fd_pipe_set_size(fds[1], 1 << 20);
        cr_assert_geq(sz, 1 << 20);
        cr_assert_eq(pk_fd_pipe_get_size(fds[0]), sz);
        sz = pk_fd_pipe_set_size(fds[0], 100);
        cr_assert_eq(sz, (int)sysconf(_SC_PAGESIZE), "rounded to one page");
        cr_assert_eq(pk_fd_pipe_set_size(fds[0], (size_t)1 << 40), -EINVAL);
        pk_fd_close(fds[0]);
        pk_fd_close(fds[1]);
        int devnull = pk_fd_chardev_open("/dev/null", PK_FD_RDWR, 0);
        cr_assert_eq(pk_fd_pipe_get_size(devnull), -EBADF);
        cr_assert_eq(pk_fd_pipe_set_size(devnull, 4096), -EBADF);
        pk_fd_close(devnull);
        cr_assert_eq(tu_count_fds(), base);
}

Test(fd_fifo, make_with_exact_mode)
{
        char dir[64], path[128];
        tu_tmpdir(dir, sizeof(dir));
        snprintf(path, sizeof(path), "%s/fifo", dir);
        umask(077);
        cr_assert_eq(pk_fd_fifo_make(path, 0666), 0);
        struct stat st;
        cr_assert_eq(lstat(path, &st), 0);
        cr_assert(S_ISFIFO(st.st_mode));
        cr_assert_eq(st.st_mode & 07777, 0666, "mode %o", st.st_mode & 07777);
        cr_assert_eq(pk_fd_fifo_make(path, 0600), 1, "existing FIFO accepted");
        char file[128];
        snprintf(file, sizeof(file), "%s/file", dir);
        int f = pk_fd_open(file, O_WRONLY | O_CREAT, 0600);
        pk_fd_close(f);
        cr_assert_eq(pk_fd_fifo_make(file, 0600), -EEXIST);
        cr_assert_eq(pk_fd_fifo_open(file, PK_FD_READ, 0), -EINVAL, "not a FIFO");
        cr_assert_eq(pk_fd_fifo_make(path, 010000), -EINVAL);
        tu_rmrf(dir);
}

Test(fd_fifo, open_never_blocks)
{
        char dir[64], path[128];
        tu_tmpdir(dir, sizeof(dir));
        snprintf(path, sizeof(path), "%s/fifo", dir);
        cr_assert_eq(pk_fd_fifo_make(path, 0600), 0);
        int base = tu_count_fds();
        /* No reader: a writer is refused instead of blocking. */
        cr_assert_eq(pk_fd_fifo_open(path, PK_FD_WRITE, 0), -ENXIO);
        /* A reader opens at once (a plain open would block here). */
        int r = pk_fd_fifo_open(path, PK_FD_READ, 0);
        cr_assert_geq(r, 0);
        cr_assert(tu_cloexec(r));
        cr_assert(!tu_nonblock(r), "O_NONBLOCK should be cleared");
        int w = pk_fd_fifo_open(path, PK_FD_WRITE, PK_FD_NONBLOCK);
        cr_assert_geq(w, 0);
        cr_assert(tu_nonblock(w));
        cr_assert_eq(pk_fd_write_all(w, "fifo!", 5, NULL), 5);
        char buf[6] = {0};
        cr_assert_eq(pk_fd_read_all(r, buf, 5, NULL), 5);
        cr_assert_str_eq(buf, "fifo!");
        pk_fd_close(w);
        /* All writers gone: blocking read sees EOF. */
        cr_assert_eq(pk_fd_read_all(r, buf, 1, NULL), 0);
        pk_fd_close(r);
        /* Both ways: never EOF, never EPIPE. */
        int rw = pk_fd_fifo_open(path, PK_FD_RDWR, 0);
        cr_assert_geq(rw, 0);
        cr_assert_eq(pk_fd_write_all(rw, "xy", 2, NULL), 2);
        cr_assert_eq(pk_fd_read_all(rw, buf, 2, NULL), 2);
        pk_fd_close(rw);
        cr_assert_eq(pk_fd_fifo_open(path, 7, 0), -EINVAL);
        cr_assert_eq(tu_count_fds(), base);
        tu_rmrf(dir);
}

Test(fd_dev, null_and_urandom)
{
        int base = tu_count_fds();
        int n = pk_fd_chardev_open("/dev/null", PK_FD_WRITE, 0);
        cr_assert_geq(n, 0);
        cr_assert(tu_cloexec(n));
        cr_assert(!tu_nonblock(n));
        cr_assert_eq(pk_fd_write_all(n, "gone", 4, NULL), 4);
        pk_fd_close(n);
        int u = pk_fd_chardev_open("/dev/urandom", PK_FD_READ, 0);
        cr_assert_geq(u, 0);
        unsigned char buf[64] = {0}, zero[64] = {0};
        cr_assert_eq(pk_fd_read_all(u, buf, sizeof(buf), NULL), 64);
        cr_assert(memcmp(buf, zero, 64) != 0);
        pk_fd_close(u);
        cr_assert_eq(pk_fd_chardev_open(PK_SOURCE_DIR "/CMakeLists.txt", PK_FD_READ, 0), -ENODEV);
        cr_assert_eq(pk_fd_chardev_open("/nonexistent", PK_FD_READ, 0), -ENOENT);
        cr_assert_eq(pk_fd_chardev_open("/dev/null", 0, 0), -EINVAL);
        cr_assert_eq(tu_count_fds(), base);
}

Test(fd_io, write_all_after_descriptor_number_reuse)
{
        /* pk_fd_write_all remembers the last non-socket it saw; a socket
         * that reuses that number must still work and still not SIGPIPE. */
        signal(SIGPIPE, SIG_DFL);
        int fds[2];
        cr_assert_eq(pk_fd_pipe(fds, 0), 0);
        cr_assert_eq(pk_fd_write_all(fds[1], "p", 1, NULL), 1);
        int num = fds[1];
        pk_fd_close(fds[1]);
        int sv[2];
        cr_assert_eq(pk_fd_socketpair(sv, SOCK_STREAM, 0), 0);
        cr_assert(sv[0] == num || sv[1] == num, "number not reused (%d %d vs %d)", sv[0], sv[1],
                  num);
        int mine = sv[0] == num ? sv[0] : sv[1];
        int peer = sv[0] == num ? sv[1] : sv[0];
        cr_assert_eq(pk_fd_write_all(mine, "sock", 4, NULL), 4);
        char buf[4];
        cr_assert_eq(pk_fd_read_all(peer, buf, 4, NULL), 4);
        cr_assert(memcmp(buf, "sock", 4) == 0);
        pk_fd_close(peer);
        cr_assert_eq(pk_fd_write_all(mine, "x", 1, NULL), -EPIPE);
        cr_assert(!sigpipe_pending());
        cr_assert(!sigpipe_blocked());
        pk_fd_close(mine);
        pk_fd_close(fds[0]);
}

struct drain_arg {
        int fd;
        size_t got;
};

static void *drain_pipe(void *p)
{
        struct drain_arg *a = p;
        char buf[4096];
        ssize_t n;
        while ((n = read(a->fd, buf, sizeof(buf))) > 0)
                a->got += (size_t)n;
        return NULL;
}

Test(fd_io, writev_and_writev_all_finish_short_writes_without_sigpipe)
{
        int p[2];
        cr_assert_eq(pk_fd_pipe(p, PK_FD_NONBLOCK), 0);
        /* One writev: partial on a full non-blocking pipe, then -EAGAIN. */
        static char big[300000];
        memset(big, 'x', sizeof(big));
        struct iovec one[2] = {{big, 10}, {big, sizeof(big) - 10}};
        ssize_t n = pk_fd_writev(p[1], one, 2, 0);
        cr_assert(n > 0 && (size_t)n < sizeof(big), "wrote %zd", n);
        cr_assert_eq(pk_fd_writev(p[1], one, 2, 0), -EAGAIN);
        /* writev_all: waits for the reader and finishes every buffer. */
        struct drain_arg a = {.fd = p[0]};
        cr_assert_eq(pk_fd_set_nonblock(p[0], 0), 0);
        pthread_t t;
        cr_assert_eq(pthread_create(&t, NULL, drain_pipe, &a), 0);
        struct iovec all[3] = {{big, 1}, {big, 0}, {big, sizeof(big) - 1}};
        size_t done = 0;
        cr_assert_eq(pk_fd_writev_all(p[1], all, 3, 0, &done), (ssize_t)sizeof(big));
        cr_assert_eq(done, sizeof(big));
        cr_assert(all[0].iov_len == 0 && all[2].iov_len == 0);
        p[1] = pk_fd_close(p[1]);
        pthread_join(t, NULL);
        cr_assert_eq(a.got, (size_t)n + sizeof(big));
        /* A gone reader: -EPIPE, and this process is still alive. */
        int q[2];
        cr_assert_eq(pk_fd_pipe(q, 0), 0);
        q[0] = pk_fd_close(q[0]);
        struct iovec x = {big, 1};
        cr_assert_eq(pk_fd_writev(q[1], &x, 1, 0), -EPIPE);
        cr_assert_eq(pk_fd_writev_all(q[1], &x, 1, 0, &done), -EPIPE);
        cr_assert_eq(done, 0);
        cr_assert_eq(pk_fd_writev(q[1], &x, 1, 0x100), -EINVAL);
        q[1] = pk_fd_close(q[1]);
        p[0] = pk_fd_close(p[0]);
}

/* pk_fd_memfd_data(): the bytes at offset 0, close-on-exec, sealed for good. */
Test(fd_io, memfd_data_is_sealed_and_at_its_start)
{
        int fd = pk_fd_memfd_data("t", "abc\0d", 5);
        cr_assert_geq(fd, 0, "%s", pk_strerror(fd));
        cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        cr_assert_eq(lseek(fd, 0, SEEK_CUR), 0);
        int seals = fcntl(fd, F_GET_SEALS);
        cr_assert_eq(seals & (F_SEAL_SEAL | F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK),
                     F_SEAL_SEAL | F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK);
        char buf[8];
        cr_assert_eq(read(fd, buf, sizeof(buf)), 5);
        cr_assert(memcmp(buf, "abc\0d", 5) == 0);
        cr_assert_lt(pk_fd_write_all(fd, "x", 1, NULL), 0);
        cr_assert_lt(ftruncate(fd, 0), 0);
        close(fd);
        fd = pk_fd_memfd_data("empty", NULL, 0);
        cr_assert_geq(fd, 0);
        cr_assert_eq(read(fd, buf, sizeof(buf)), 0);
        close(fd);
        cr_assert_eq(pk_fd_memfd_data(NULL, "a", 1), -EINVAL);
        cr_assert_eq(pk_fd_memfd_data("t", NULL, 1), -EINVAL);
}
