/* SPDX-License-Identifier: MIT */
/* port layer, loop-driven API: 1,000 ports on one loop with both directions
 * full (count + checksum per port), callbacks and their order, busy
 * watermarks, closing from a callback, and faulty port programs mixed with
 * good ones: each fault reported, the others unaffected, nothing leaked. */
#include "testutil.h"
#include <portkit/fd.h>

#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <portkit/loop.h>
#include <portkit/port.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#define PROBE PK_BUILD_DIR "/tests/helpers/port_probe"
#define ECHO PK_BUILD_DIR "/examples/echo"

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
        const uint8_t *b = p;
        for (size_t i = 0; i < n; i++)
                h = (h ^ b[i]) * 1099511628211ull;
        return h;
}

/* ---- 1,000 ports, both directions full -------------------------------- */

#define NPORTS 1000
#define NMSGS 40
#define MAXLEN 4096

struct peer {
        struct pk_port *port;
        int index;
        int sent, received;
        uint64_t h_sent, h_recv;
        bool eof, exited, closed;
        int status;
        int errors;
};

static int done_ports;

static size_t msg_len(int port, int k)
{
        return (size_t)((port * 7919 + k * 104729) % (MAXLEN + 1));
}

static void fill(uint8_t *buf, size_t len, int port, int k)
{
        uint32_t x = (uint32_t)(port * 2654435761u + (uint32_t)k * 40503u + 1u);
        for (size_t i = 0; i < len; i++) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                buf[i] = (uint8_t)x;
        }
}

static void maybe_close(struct peer *pe)
{
        if (pe->eof && pe->exited && !pe->closed) {
                pe->closed = true;
                done_ports++;
                /* closing from inside the port's own callback */
                cr_assert_eq(pk_port_close(pe->port, NULL), 0);
        }
}

static void pump_sends(struct peer *pe)
{
        uint8_t buf[MAXLEN];
        while (pe->sent < NMSGS) {
                size_t len = msg_len(pe->index, pe->sent);
                fill(buf, len, pe->index, pe->sent);
                int r = pk_port_send(pe->port, buf, len);
                if (r == PK_EBUSY_PORT)
                        return; /* the drain callback resumes */
                cr_assert_eq(r, 0, "send: %s", pk_strerror(r));
                pe->h_sent = fnv(fnv(pe->h_sent, &len, sizeof(len)), buf, len);
                pe->sent++;
        }
        cr_assert_eq(pk_port_close_input(pe->port), 0);
}

static void on_message(struct pk_port *p, const struct pk_port_msg *m, void *ctx)
{
        (void)p;
        struct peer *pe = ctx;
        size_t len = m->len;
        pe->h_recv = fnv(fnv(pe->h_recv, &len, sizeof(len)), m->data, m->len);
        pe->received++;
}

static void on_drain(struct pk_port *p, void *ctx)
{
        (void)p;
        pump_sends(ctx);
}

static void on_eof(struct pk_port *p, void *ctx)
{
        (void)p;
        struct peer *pe = ctx;
        pe->eof = true;
        maybe_close(pe);
}

static void on_exit_cb(struct pk_port *p, const struct pk_exit *ex, void *ctx)
{
        (void)p;
        struct peer *pe = ctx;
        pe->exited = true;
        pe->status = pk_exit_shell(ex);
        maybe_close(pe);
}

static void on_error(struct pk_port *p, int err, void *ctx)
{
        (void)p;
        struct peer *pe = ctx;
        pe->errors++;
        cr_log_error("port %d: %s", pe->index, pk_strerror(err));
}

static const struct pk_port_callbacks peer_cb = {
    .message = on_message,
    .eof = on_eof,
    .exit = on_exit_cb,
    .error = on_error,
    .drain = on_drain,
};

Test(port_loop, thousand_ports_both_directions_full)
{
        struct rlimit rl;
        getrlimit(RLIMIT_NOFILE, &rl);
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        cr_assert_geq(rl.rlim_cur, 4 * NPORTS, "need more descriptors");
        int fds_before = tu_count_fds();
        struct pk_loop *loop;
        cr_assert_eq(pk_loop_new(&loop), 0);
        struct peer *peers = calloc(NPORTS, sizeof(*peers));
        cr_assert_not_null(peers);
        /* cat echoes the framed bytes unchanged, as fast as the pipes let it */
        const char *argv[] = {"cat", NULL};
        struct pk_port_opts o = {.framing = {.kind = PK_FRAMING_PACKET, .arg = 4},
                                 .flags = PK_PORT_EXIT_STATUS | PK_PORT_EOF};
        for (int i = 0; i < NPORTS; i++) {
                peers[i].index = i;
                int r = pk_port_open_argv(argv, &o, &peers[i].port);
                cr_assert_eq(r, 0, "open %d: %s", i, pk_strerror(r));
                cr_assert_eq(pk_port_attach(peers[i].port, loop, &peer_cb, &peers[i]), 0);
        }
        for (int i = 0; i < NPORTS; i++)
                pump_sends(&peers[i]);
        done_ports = 0;
        int r = pk_loop_run(loop);
        cr_assert_eq(r, PK_LOOP_DONE);
        cr_assert_eq(done_ports, NPORTS);
        for (int i = 0; i < NPORTS; i++) {
                struct peer *pe = &peers[i];
                cr_assert_eq(pe->sent, NMSGS, "port %d", i);
                cr_assert_eq(pe->received, NMSGS, "port %d got %d", i, pe->received);
                cr_assert_eq(pe->h_recv, pe->h_sent, "port %d: checksum differs", i);
                cr_assert_eq(pe->status, 0);
                cr_assert_eq(pe->errors, 0);
        }
        free(peers);
        pk_loop_free(loop);
        cr_assert_eq(tu_count_fds(), fds_before, "descriptors leaked");
}

/* ---- faults mixed with good ports -------------------------------------- */

struct fault {
        struct pk_port *port;
        const char *name;
        int messages;
        int errors[4];
        int nerr;
        bool eof, exited;
        struct pk_exit ex;
        char last[64];
};

static void f_message(struct pk_port *p, const struct pk_port_msg *m, void *ctx)
{
        (void)p;
        struct fault *f = ctx;
        f->messages++;
        size_t n = m->len < sizeof(f->last) - 1 ? m->len : sizeof(f->last) - 1;
        memcpy(f->last, m->data, n);
        f->last[n] = 0;
}

static void f_error(struct pk_port *p, int err, void *ctx)
{
        struct fault *f = ctx;
        if (f->nerr < 4)
                f->errors[f->nerr++] = err;
        /* the host decides what a broken port deserves: here, EOF */
        if (err == PK_EFRAMESIZE)
                pk_port_close_input(p);
}

static void f_eof(struct pk_port *p, void *ctx)
{
        (void)p;
        ((struct fault *)ctx)->eof = true;
}

static void f_exit(struct pk_port *p, const struct pk_exit *ex, void *ctx)
{
        struct fault *f = ctx;
        f->exited = true;
        f->ex = *ex;
        /* a faulty port whose child is gone: close it right here */
        if (strcmp(f->name, "echo-exit") != 0) {
                pk_port_close(p, NULL);
                f->port = NULL;
        }
}

static const struct pk_port_callbacks fault_cb = {
    .message = f_message, .eof = f_eof, .exit = f_exit, .error = f_error};

Test(port_loop, faulty_ports_are_reported_and_others_keep_working)
{
        signal(SIGPIPE, SIG_DFL); /* the host must never die of it */
        int fds_before = tu_count_fds();
        struct pk_loop *loop;
        cr_assert_eq(pk_loop_new(&loop), 0);
        static const char *const modes[][3] = {
            {"bigheader", NULL},    {"midmsg", NULL}, {"garbage", NULL},
            {"closein", "1", NULL}, {"noread", NULL}, {"echo-exit", "0", NULL},
        };
        enum { NF = 6, NGOOD = 20 };
        struct fault f[NF + NGOOD];
        memset(f, 0, sizeof(f));
        struct pk_port_opts o = {.framing = {.kind = PK_FRAMING_PACKET, .arg = 4},
                                 /* PDEATHSIG: a failed assertion leaves no orphan */
                                 .flags = PK_PORT_EXIT_STATUS | PK_PORT_EOF |
                                          PK_PORT_KILL_ON_CLOSE | PK_PORT_PDEATHSIG,
                                 .kill_grace_ms = 100};
        for (int i = 0; i < NF + NGOOD; i++) {
                const char *const *args = i < NF ? modes[i] : modes[5];
                f[i].name = args[0];
                cr_assert_eq(pk_port_open_executable(PROBE, args, &o, &f[i].port), 0);
                cr_assert_eq(pk_port_attach(f[i].port, loop, &fault_cb, &f[i]), 0);
        }
        /* the good ones (echo one message, exit 0) get their message */
        for (int i = 5; i < NF + NGOOD; i++)
                cr_assert_eq(pk_port_send(f[i].port, "ping", 4), 0);
        /* fill the one that never reads until it is busy */
        char chunk[16384] = {0};
        int r = 0, sends = 0;
        while ((r = pk_port_send(f[4].port, chunk, sizeof(chunk))) == 0)
                sends++;
        cr_assert_eq(r, PK_EBUSY_PORT);
        cr_assert(pk_port_busy(f[4].port));
        cr_assert_geq(pk_port_queued(f[4].port), 8192);
        /* run: everything but the never-reader finishes */
        for (int round = 0; round < 400; round++) {
                bool all = true;
                for (int i = 0; i < NF + NGOOD; i++)
                        if (i != 4 && !(f[i].exited && f[i].eof))
                                all = false;
                if (all)
                        break;
                pk_loop_run_timeout(loop, 50);
        }
        /* bigheader: a clean error, no 4 GiB allocation */
        cr_assert_eq(f[0].nerr, 1);
        cr_assert_eq(f[0].errors[0], PK_EFRAMESIZE);
        cr_assert(f[0].eof);
        cr_assert(f[0].exited);
        cr_assert_eq(pk_exit_shell(&f[0].ex), 0);
        /* midmsg: partial frame, killed */
        cr_assert_eq(f[1].errors[0], PK_EPARTIAL);
        cr_assert(f[1].exited);
        cr_assert_eq(f[1].ex.signal, SIGKILL);
        /* garbage after a valid frame */
        cr_assert_eq(f[2].messages, 1);
        cr_assert_str_eq(f[2].last, "ok");
        cr_assert_eq(f[2].errors[0], PK_EPARTIAL);
        cr_assert_eq(pk_exit_shell(&f[2].ex), 0);
        /* closed its input early: its message still arrives */
        cr_assert_str_eq(f[3].last, "closed");
        cr_assert(f[3].exited);
        /* good ones */
        for (int i = 5; i < NF + NGOOD; i++) {
                cr_assert_eq(f[i].messages, 1, "port %d", i);
                cr_assert_str_eq(f[i].last, "ping");
                cr_assert(f[i].exited && f[i].eof);
                cr_assert_eq(pk_exit_shell(&f[i].ex), 0);
                cr_assert_eq(f[i].nerr, 0);
        }
        /* writing to a dead port: -EPIPE or closed, never SIGPIPE */
        cr_assert(f[6].port);
        r = pk_port_send(f[6].port, "x", 1);
        cr_assert(r == -EPIPE || r == PK_ECLOSED, "%s", pk_strerror(r));
        /* the never-reader is still busy; kill-on-close ends it (TERM) */
        cr_assert(pk_port_busy(f[4].port));
        struct pk_exit ex4;
        cr_assert_eq(pk_port_close(f[4].port, &ex4), 0);
        cr_assert_eq(ex4.signal, SIGTERM);
        for (int i = 0; i < NF + NGOOD; i++)
                if (i != 4 && f[i].port)
                        pk_port_close(f[i].port, NULL);
        pk_loop_free(loop);
        cr_assert_eq(tu_count_fds(), fds_before, "descriptors leaked");
}

/* ---- ordering, busy/drain, close in callback ---------------------------- */

struct order {
        char log[256];
        size_t len;
        int drains;
        struct pk_port *port;
};

static void o_log(struct order *o, const char *s)
{
        size_t n = strlen(s);
        if (o->len + n < sizeof(o->log)) {
                memcpy(o->log + o->len, s, n + 1);
                o->len += n;
        }
}

static void o_message(struct pk_port *p, const struct pk_port_msg *m, void *ctx)
{
        (void)p;
        char b[64];
        snprintf(b, sizeof(b), "m:%.*s ", (int)m->len, (const char *)m->data);
        o_log(ctx, b);
}

static void o_eof(struct pk_port *p, void *ctx)
{
        (void)p;
        o_log(ctx, "eof ");
}

static void o_exit(struct pk_port *p, const struct pk_exit *ex, void *ctx)
{
        char b[32];
        snprintf(b, sizeof(b), "exit:%d ", pk_exit_shell(ex));
        o_log(ctx, b);
        struct order *o = ctx;
        pk_port_close(p, NULL);
        o->port = NULL;
}

static void o_drain(struct pk_port *p, void *ctx)
{
        (void)p;
        ((struct order *)ctx)->drains++;
}

Test(port_loop, message_then_exit_and_busy_then_drain)
{
        struct pk_loop *loop;
        cr_assert_eq(pk_loop_new(&loop), 0);
        struct pk_port_callbacks cb = {
            .message = o_message, .eof = o_eof, .exit = o_exit, .drain = o_drain};
        struct order o = {{0}, 0, 0, NULL};
        struct pk_port_opts opts = {.framing = {.kind = PK_FRAMING_PACKET, .arg = 4},
                                    .flags = PK_PORT_EXIT_STATUS};
        const char *args[] = {"echo-exit", "5", NULL};
        cr_assert_eq(pk_port_open_executable(PROBE, args, &opts, &o.port), 0);
        cr_assert_eq(pk_port_attach(o.port, loop, &cb, &o), 0);
        struct pk_port_msg m;
        cr_assert_eq(pk_port_recv(o.port, &m, 0), -EINVAL); /* loop-driven now */
        cr_assert_eq(pk_port_send(o.port, "hello", 5), 0);
        cr_assert_eq(pk_loop_run(loop), PK_LOOP_DONE);
        /* the reply comes before the exit, which closed the port */
        cr_assert(strncmp(o.log, "m:hello ", 8) == 0, "%s", o.log);
        cr_assert(strstr(o.log, "exit:5"), "%s", o.log);
        cr_assert_null(o.port);

        /* busy and drain with a child that does read: echo, 64 KiB messages */
        struct order d = {{0}, 0, 0, NULL};
        struct pk_port_callbacks dcb = {.drain = o_drain};
        const char *eargs[] = {"--packet", "4", NULL};
        struct pk_port_opts eo = {.framing = {.kind = PK_FRAMING_PACKET, .arg = 4},
                                  .busy_high = 100000,
                                  .busy_low = 1000};
        cr_assert_eq(pk_port_open_executable(ECHO, eargs, &eo, &d.port), 0);
        cr_assert_eq(pk_port_attach(d.port, loop, &dcb, &d), 0);
        static char big[65536];
        int r;
        while ((r = pk_port_send(d.port, big, sizeof(big))) == 0)
                ;
        cr_assert_eq(r, PK_EBUSY_PORT);
        cr_assert_geq(pk_port_queued(d.port), 100000);
        for (int i = 0; i < 10000 && d.drains == 0; i++)
                pk_loop_run_timeout(loop, 100);
        cr_assert_eq(d.drains, 1);
        cr_assert_leq(pk_port_queued(d.port), 1000);
        cr_assert_eq(pk_port_busy(d.port), 0);
        cr_assert_eq(pk_port_send(d.port, big, 10), 0);
        pk_port_close(d.port, NULL);
        pk_loop_free(loop);
}

/* ---- an Erlang-style close of a running child on a loop ------------------ */

static void nop_msg(struct pk_port *p, const struct pk_port_msg *m, void *ctx)
{
        (void)p;
        (void)m;
        (void)ctx;
}

static struct pk_port *attached_noread(struct pk_loop *loop)
{
        static const char *args[] = {"noread", NULL};
        struct pk_port_opts o = {.framing = {.kind = PK_FRAMING_PACKET, .arg = 4}};
        struct pk_port *p;
        cr_assert_eq(pk_port_open_executable(PROBE, args, &o, &p), 0);
        struct pk_port_callbacks cb = {.message = nop_msg};
        cr_assert_eq(pk_port_attach(p, loop, &cb, NULL), 0);
        return p;
}

Test(port_loop, close_of_running_child_keeps_loop_until_reaped)
{
        int fds_before = tu_count_fds();
        struct pk_loop *loop;
        cr_assert_eq(pk_loop_new(&loop), 0);
        struct pk_port *p = attached_noread(loop);
        pid_t pid = pk_port_pid(p);
        cr_assert_eq(pk_port_close(p, NULL), -EINPROGRESS);
        /* The loop reaps it: it runs until the child is gone, not a moment less. */
        cr_assert_eq(pk_loop_run_nowait(loop), PK_LOOP_ALIVE);
        cr_assert_eq(kill(pid, SIGKILL), 0);
        cr_assert_eq(pk_loop_run(loop), PK_LOOP_DONE);
        cr_assert_eq(waitpid(pid, NULL, WNOHANG), -1, "the child was not reaped");
        cr_assert_eq(errno, ECHILD);
        pk_loop_free(loop);
        cr_assert_eq(tu_count_fds(), fds_before, "descriptors leaked");
}

Test(port_loop, loop_free_releases_a_running_childs_reaper)
{
        int fds_before = tu_count_fds();
        struct pk_loop *loop;
        cr_assert_eq(pk_loop_new(&loop), 0);
        struct pk_port *p = attached_noread(loop);
        pid_t pid = pk_port_pid(p);
        cr_assert_eq(pk_port_close(p, NULL), -EINPROGRESS);
        /* Freed while the child runs: no pidfd and no memory left (LeakSanitizer
         * checks the latter at exit); the child is ours to reap again. */
        pk_loop_free(loop);
        cr_assert_eq(tu_count_fds(), fds_before, "descriptors leaked");
        cr_assert_eq(kill(pid, SIGKILL), 0);
        cr_assert_eq(waitpid(pid, NULL, 0), pid);
}
