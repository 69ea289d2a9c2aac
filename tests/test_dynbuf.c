/* SPDX-License-Identifier: MIT */
/* The one capped growable buffer (src/common/dynbuf.h): NUL termination after
 * every operation, the cap and its own error, sticky failures, take, consume,
 * and reading from real pipes (EOF, EAGAIN, EINTR, the cap hit mid-read and
 * at exactly max bytes), with allocation failures injected. */
#include "common/dynbuf.h"

#include <criterion/criterion.h>
#include <portkit.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

long pk__alloc_fail_after(long n);

static void assert_str(const struct pk__dynbuf *b, const char *want)
{
        cr_assert_eq(b->len, strlen(want));
        cr_assert_not_null(b->p);
        cr_assert_eq(b->p[b->len], '\0', "not NUL-terminated");
        cr_assert_str_eq(b->p, want);
}

Test(dynbuf, append_keeps_nul_and_grows)
{
        struct pk__dynbuf b = {0};
        cr_assert_eq(pk__dynbuf_add(&b, NULL, 0), 0);
        cr_assert_eq(pk__dynbuf_adds(&b, "ab"), 0);
        cr_assert_eq(pk__dynbuf_addc(&b, 'c'), 0);
        assert_str(&b, "abc");
        char big[5000];
        memset(big, 'x', sizeof(big));
        cr_assert_eq(pk__dynbuf_add(&b, big, sizeof(big)), 0);
        cr_assert_eq(b.len, 5003);
        cr_assert_eq(b.p[b.len], '\0');
        cr_assert_geq(b.cap, b.len + 1);
        pk__dynbuf_reset(&b);
        assert_str(&b, "");
        pk__dynbuf_free(&b);
        cr_assert_null(b.p);
        pk__dynbuf_free(NULL);
}

Test(dynbuf, cap_is_exact_and_sticky_with_its_own_error)
{
        struct pk__dynbuf b;
        pk__dynbuf_init(&b, 4, 0);
        cr_assert_eq(pk__dynbuf_adds(&b, "abcd"), 0, "exactly max bytes fit");
        assert_str(&b, "abcd");
        cr_assert_leq(b.cap, 5, "never allocates past max + 1");
        cr_assert_eq(pk__dynbuf_addc(&b, 'e'), PK_EBUFCAP);
        assert_str(&b, "abcd");
        cr_assert_eq(pk__dynbuf_add(&b, NULL, 0), PK_EBUFCAP, "the error is sticky");
        cr_assert_null(pk__dynbuf_take(&b, NULL), "take refuses a failed buffer");
        pk__dynbuf_reset(&b);
        cr_assert_eq(pk__dynbuf_adds(&b, "xy"), 0, "reset clears the error");
        pk__dynbuf_free(&b);

        pk__dynbuf_init(&b, 2, PK_EOUTPUTCAP);
        cr_assert_eq(pk__dynbuf_adds(&b, "xyz"), PK_EOUTPUTCAP, "the owner's code");
        cr_assert_eq(b.len, 0);
        pk__dynbuf_free(&b);
        cr_assert_eq(b.max, 2, "free keeps the cap");
        cr_assert_eq(b.toobig, PK_EOUTPUTCAP);
        cr_assert_str_neq(pk_strerror(PK_EBUFCAP), "unknown error");
        cr_assert_str_eq(pk_strerror_name(PK_EBUFCAP), "PK_EBUFCAP");
}

Test(dynbuf, room_commit_consume_take)
{
        struct pk__dynbuf b = {0};
        char *o = pk__dynbuf_room(&b, 3);
        cr_assert_not_null(o);
        cr_assert_eq(b.p[b.len], '\0', "room keeps the string terminated");
        memcpy(o, "hey", 3);
        pk__dynbuf_commit(&b, 3);
        cr_assert_eq(pk__dynbuf_adds(&b, " you"), 0);
        pk__dynbuf_consume(&b, 4);
        assert_str(&b, "you");
        size_t len = 99;
        char *s = pk__dynbuf_take(&b, &len);
        cr_assert_str_eq(s, "you");
        cr_assert_eq(len, 3);
        cr_assert_null(b.p);
        cr_assert_eq(b.len, 0);
        free(s);
        s = pk__dynbuf_take(&b, &len);
        cr_assert_str_eq(s, "", "an empty buffer hands out \"\"");
        cr_assert_eq(len, 0);
        free(s);
}

Test(dynbuf, oom_is_clean_and_sticky)
{
        for (long n = 1; n <= 2; n++) {
                struct pk__dynbuf b = {0};
                pk__alloc_fail_after(n);
                int r = 0;
                for (int i = 0; i < 200 && r == 0; i++)
                        r = pk__dynbuf_adds(&b, "0123456789");
                long left = pk__alloc_fail_after(0);
                cr_assert_eq(left, 0, "the countdown fired");
                cr_assert_eq(r, -ENOMEM);
                cr_assert_eq(b.err, -ENOMEM);
                if (b.p)
                        cr_assert_eq(b.p[b.len], '\0', "still terminated after a failed growth");
                cr_assert_eq(pk__dynbuf_addc(&b, 'x'), -ENOMEM);
                pk__dynbuf_free(&b);
        }
        struct pk__dynbuf b = {0};
        pk__alloc_fail_after(1);
        cr_assert_null(pk__dynbuf_take(&b, NULL));
        pk__alloc_fail_after(0);
        cr_assert_eq(b.err, -ENOMEM);
        pk__dynbuf_free(&b);
}

static int make_pipe(int p[2], bool nonblock)
{
        return pipe2(p, O_CLOEXEC | (nonblock ? O_NONBLOCK : 0));
}

Test(dynbuf, read_fd_until_eof_and_eagain)
{
        int p[2];
        cr_assert_eq(make_pipe(p, true), 0);
        struct pk__dynbuf b = {0};
        cr_assert_eq(pk__dynbuf_read_fd(&b, p[0], 0), 0, "empty non-blocking pipe: would block");
        cr_assert_eq(write(p[1], "hello ", 6), 6);
        cr_assert_eq(pk__dynbuf_read_fd(&b, p[0], 4), 0, "small chunks, then would block");
        assert_str(&b, "hello ");
        cr_assert_eq(write(p[1], "world", 5), 5);
        close(p[1]);
        cr_assert_eq(pk__dynbuf_read_fd(&b, p[0], 0), 1, "EOF");
        assert_str(&b, "hello world");
        close(p[0]);
        cr_assert_eq(pk__dynbuf_read_fd(&b, p[0], 0), -EBADF, "read errors are returned");
        cr_assert_eq(b.err, 0, "and are not sticky");
        pk__dynbuf_free(&b);
}

Test(dynbuf, read_fd_cap_exact_and_mid_read)
{
        int p[2];
        cr_assert_eq(make_pipe(p, true), 0);
        struct pk__dynbuf b;
        pk__dynbuf_init(&b, 8, 0);
        cr_assert_eq(write(p[1], "12345678", 8), 8);
        cr_assert_eq(pk__dynbuf_read_fd(&b, p[0], 3), 0, "exactly max bytes: not an error");
        assert_str(&b, "12345678");
        close(p[1]);
        cr_assert_eq(pk__dynbuf_read_fd(&b, p[0], 0), 1, "max bytes then EOF");
        close(p[0]);
        pk__dynbuf_free(&b);

        cr_assert_eq(make_pipe(p, true), 0);
        pk__dynbuf_init(&b, 8, 0);
        cr_assert_eq(write(p[1], "1234567890", 10), 10);
        cr_assert_eq(pk__dynbuf_read_fd(&b, p[0], 0), PK_EBUFCAP, "a byte past the cap");
        assert_str(&b, "12345678");
        cr_assert_eq(pk__dynbuf_read_fd(&b, p[0], 0), PK_EBUFCAP, "sticky");
        close(p[0]);
        close(p[1]);
        pk__dynbuf_free(&b);
}

static void on_alarm(int sig)
{
        (void)sig;
}

struct late {
        int fd;
        pthread_t reader;
};

static void *late_writer(void *arg)
{
        struct late *l = arg;
        /* Most likely the reader is blocked in read() by now: the signal
         * interrupts it, and the bytes written after it are what the retried
         * read must get.  (Had the signal come first, read() blocks as usual;
         * the test then passes without exercising EINTR, never falsely fails.) */
        usleep(100 * 1000);
        pthread_kill(l->reader, SIGUSR1);
        usleep(50 * 1000);
        (void)!write(l->fd, "late", 4);
        close(l->fd);
        return NULL;
}

Test(dynbuf, read_fd_retries_eintr)
{
        struct sigaction sa = {.sa_handler = on_alarm}; /* no SA_RESTART: read fails EINTR */
        cr_assert_eq(sigaction(SIGUSR1, &sa, NULL), 0);
        int p[2];
        cr_assert_eq(make_pipe(p, false), 0);
        struct late arg = {.fd = p[1], .reader = pthread_self()};
        pthread_t t;
        cr_assert_eq(pthread_create(&t, NULL, late_writer, &arg), 0);
        struct pk__dynbuf b = {0};
        int r = pk__dynbuf_read_fd(&b, p[0], 0);
        pthread_join(t, NULL);
        cr_assert_eq(r, 1, "EINTR was retried up to EOF: %d", r);
        assert_str(&b, "late");
        close(p[0]);
        pk__dynbuf_free(&b);
}

Test(dynbuf, array_grow_doubles_and_refuses_overflow)
{
        int *v = NULL;
        size_t cap = 0;
        cr_assert_eq(pk__array_grow((void **)&v, &cap, 1, sizeof(int), 4), 0);
        cr_assert_eq(cap, 4, "starts at first");
        cr_assert_eq(pk__array_grow((void **)&v, &cap, 4, sizeof(int), 4), 0);
        cr_assert_eq(cap, 4, "no growth while it fits");
        cr_assert_eq(pk__array_grow((void **)&v, &cap, 5, sizeof(int), 4), 0);
        cr_assert_eq(cap, 8, "doubles");
        cr_assert_eq(pk__array_grow((void **)&v, &cap, 100, sizeof(int), 4), 0);
        cr_assert_eq(cap, 128);
        for (int i = 0; i < 100; i++)
                v[i] = i; /* ASan: every slot up to need is there */
        int *before = v;
        cr_assert_eq(pk__array_grow((void **)&v, &cap, SIZE_MAX / 2, sizeof(int), 4), -ENOMEM);
        cr_assert_eq(v, before, "untouched on failure");
        cr_assert_eq(cap, 128);
        pk__alloc_fail_after(1);
        cr_assert_eq(pk__array_grow((void **)&v, &cap, 129, sizeof(int), 4), -ENOMEM);
        pk__alloc_fail_after(0);
        cr_assert_eq(cap, 128);
        free(v);
}
