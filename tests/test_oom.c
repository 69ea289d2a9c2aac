/* SPDX-License-Identifier: MIT */
/* Allocation failure, everywhere: each entry point below runs with the Nth
 * allocation of the library failing (src/common/alloc.c's test-only
 * countdown), for N = 1, 2, ... until it succeeds.  Each failure must be a
 * clean -ENOMEM with no descriptor and no child left behind; LeakSanitizer
 * checks at exit that no memory is (curl's allocation torture, sqlite's OOM
 * tests). */
#include "testutil.h"
#include <portkit/fd.h>

#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <portkit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <errno.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define PROBE PK_BUILD_DIR "/tests/helpers/port_probe"

/* Test-only hook of the library's allocator. */
long pk__alloc_fail_after(long n);

typedef int (*op_fn)(void *ctx);

/* Runs op with the Nth allocation failing for every N until it succeeds. */
static void torture(const char *name, op_fn op, void *ctx)
{
        int fds = tu_count_fds();
        long n;
        for (n = 1; n < 100000; n++) {
                pk__alloc_fail_after(n);
                int r = op(ctx);
                long left = pk__alloc_fail_after(0);
                cr_assert_eq(tu_count_fds(), fds, "%s leaked a descriptor at n=%ld", name, n);
                tu_assert_no_children("%s at n=%ld", name, n);
                if (left > 0) {
                        cr_assert_eq(r, 0, "%s failed with no allocation failing: %s", name,
                                     pk_strerror(r));
                        break;
                }
                cr_assert_eq(r, -ENOMEM, "%s at n=%ld: %d %s", name, n, r, pk_strerror(r));
        }
        cr_assert_gt(n, 1, "%s never allocated", name);
}

static int op_loop(void *ctx)
{
        (void)ctx;
        struct pk_loop *loop;
        int r = pk_loop_new(&loop);
        if (r == 0)
                pk_loop_free(loop);
        return r;
}

static int op_spawn(void *ctx)
{
        (void)ctx;
        struct pk_cmd *c;
        int r = pk_cmd_new("/bin/true", &c);
        if (r < 0)
                return r;
        if ((r = pk_cmd_arg(c, "x")) < 0 || (r = pk_cmd_env_set(c, "PK_OOM", "1")) < 0 ||
            (r = pk_cmd_fd_pipe(c, 1, 0)) < 0) {
                pk_cmd_free(c);
                return r;
        }
        struct pk_proc *p;
        r = pk_spawn(c, &p, NULL);
        pk_cmd_free(c);
        if (r == 0) {
                pk_proc_wait(p, -1, NULL);
                pk_proc_free(p);
        }
        return r;
}

static int op_run(void *ctx)
{
        (void)ctx;
        const char *args[] = {"-c", "echo out; echo err >&2", NULL};
        struct pk_cmd *c;
        int r = pk_cmd_new("/bin/sh", &c);
        if (r < 0)
                return r;
        if ((r = pk_cmd_args(c, args)) < 0) {
                pk_cmd_free(c);
                return r;
        }
        struct pk_run_result res;
        r = pk_run(c, NULL, &res, NULL);
        pk_cmd_free(c);
        if (r == 0)
                pk_run_result_free(&res);
        return r;
}

/* Opens a port the way ctx says, sends one message, reads the echo, closes. */
static int op_port(void *ctx)
{
        int how = *(int *)ctx;
        struct pk_port_opts o = {.framing = {.kind = PK_FRAMING_PACKET, .arg = 4},
                                 .flags = PK_PORT_STDERR_CAPTURE};
        /* "pid": the child answers the first message and then echoes
         * until its input ends, so its (silent) stderr stays open and
         * unreadable during the call.  With a child that exits after its
         * reply (echo-exit), the stderr EOF sometimes arrived in the same
         * poll as the reply and was read then: the capture buffer's
         * allocation came and went with the timing, and a failure there
         * ends the stderr stream without failing the port (host.c), so
         * the op succeeded with an allocation failed (seen in the -O2
         * build). */
        const char *args[] = {"pid", NULL};
        const char *argv[] = {PROBE, "pid", NULL};
        struct pk_port *p = NULL;
        struct pk_cmd *c = NULL;
        int r;
        switch (how) {
        case 0:
                r = pk_port_open_executable(PROBE, args, &o, &p);
                break;
        case 1:
                r = pk_port_open_argv(argv, &o, &p);
                break;
        case 2:
                r = pk_port_open_shell(PROBE " pid", &o, &p);
                break;
        default:
                r = pk_cmd_new(PROBE, &c);
                if (r == 0 && (r = pk_cmd_args(c, args)) == 0)
                        r = pk_port_open_cmd(c, &o, &p);
                pk_cmd_free(c);
                break;
        }
        if (r < 0)
                return r;
        struct pk_port_msg m;
        r = pk_port_call(p, "hi", 2, &m, 20000);
        pk_port_close_input(p);
        struct pk_exit ex;
        pk_port_wait(p, 20000, &ex);
        pk_port_close(p, NULL);
        return r == 1 ? 0 : r;
}

static int op_port_fds(void *ctx)
{
        (void)ctx;
        int sv[2];
        cr_assert_eq(pk_fd_socketpair(sv, SOCK_STREAM, 0), 0);
        struct pk_port_opts o = {.framing = {.kind = PK_FRAMING_PACKET, .arg = 2},
                                 .flags = PK_PORT_OWN_FDS};
        struct pk_port *p;
        int r = pk_port_open_fds(sv[0], sv[0], &o, &p); /* owns sv[0] even on failure */
        if (r == 0) {
                r = pk_port_send(p, "hi", 2);
                pk_port_close(p, NULL);
        }
        pk_fd_close(sv[1]);
        return r;
}

static const char sample[] =
    "{ok, [1, 2, 3 | tail], <<\"bytes\">>, \"string\", #{a => 1, \"k\" => [x]}, 3.5, "
    "123456789012345678901234567890, 'Quoted atom', {}}.";

static int op_parse(void *ctx)
{
        (void)ctx;
        pk_arena *a = pk_arena_new(0);
        if (!a)
                return -ENOMEM;
        struct pk_term *t;
        int r = pk_etf_parse(a, sample, strlen(sample), NULL, &t, NULL, NULL);
        pk_arena_free(a);
        return r == 1 ? 0 : r;
}

struct encoded {
        const void *data;
        size_t len;
};

static int op_decode(void *ctx)
{
        const struct encoded *e = ctx;
        pk_arena *a = pk_arena_new(0);
        if (!a)
                return -ENOMEM;
        struct pk_term *t;
        int r = pk_etf_decode(a, e->data, e->len, NULL, &t, NULL, NULL);
        pk_arena_free(a);
        return r;
}

Test(oom, loop_new)
{
        torture("pk_loop_new", op_loop, NULL);
}

Test(oom, spawn)
{
        torture("pk_spawn", op_spawn, NULL);
}

Test(oom, run)
{
        torture("pk_run", op_run, NULL);
}

Test(oom, port_open_every_way)
{
        static const char *names[] = {"pk_port_open_executable", "pk_port_open_argv",
                                      "pk_port_open_shell", "pk_port_open_cmd"};
        for (int how = 0; how < 4; how++)
                torture(names[how], op_port, &how);
        torture("pk_port_open_fds", op_port_fds, NULL);
}

Test(oom, etf_parse_and_decode)
{
        torture("pk_etf_parse", op_parse, NULL);
        pk_arena *a = pk_arena_new(0);
        struct pk_term *t;
        cr_assert_eq(pk_etf_parse(a, sample, strlen(sample), NULL, &t, NULL, NULL), 1);
        struct pk_etf_buf b;
        pk_etf_buf_init(&b, 0);
        cr_assert_eq(pk_etf_encode(&b, t, NULL), 0);
        struct encoded e = {b.data, b.len};
        torture("pk_etf_decode", op_decode, &e);
        pk_etf_buf_free(&b);
        pk_arena_free(a);
}

/* The growable buffers (src/common/dynbuf.c): both printers' strings and the
 * encoder's pk_etf_buf, grown from empty. */
static int op_print_encode(void *ctx)
{
        const struct pk_term *t = ctx;
        char *s = NULL;
        size_t len;
        int r = pk_etf_print_w(t, &s, &len);
        free(s);
        s = NULL;
        if (r == 0)
                r = pk_etf_print_p(t, NULL, &s, &len);
        free(s);
        if (r == 0) {
                struct pk_etf_buf b;
                pk_etf_buf_init(&b, 0);
                r = pk_etf_encode(&b, t, NULL);
                pk_etf_buf_free(&b);
        }
        return r;
}

Test(oom, etf_print_and_encode)
{
        pk_arena *a = pk_arena_new(0);
        struct pk_term *t;
        cr_assert_eq(pk_etf_parse(a, sample, strlen(sample), NULL, &t, NULL, NULL), 1);
        torture("pk_etf_print_w/print_p/encode", op_print_encode, t);
        pk_arena_free(a);
}
