/* SPDX-License-Identifier: MIT */
/* Interop with a real Erlang VM (escript, OTP 25): Erlang opens the example
 * port programs with every framing and checks every reply, and Erlang's own
 * {line,L} framing is compared with portkit's deframer on random input. */
#include <criterion/criterion.h>
#include <portkit/packet.h>
#include <portkit/port.h>

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Runs argv, stdout to out_path (or inherited when NULL); returns the exit status. */
static int run(const char *const *cargv, const char *out_path)
{
        /* posix_spawn wants char *const[]: hand it copies. */
        char *argv[16];
        size_t n = 0;
        for (; n < 15 && cargv[n]; n++)
                argv[n] = strdup(cargv[n]);
        argv[n] = NULL;
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        if (out_path)
                posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC,
                                                 0600);
        pid_t pid;
        int r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        for (size_t i = 0; i < n; i++)
                free(argv[i]);
        cr_assert_eq(r, 0, "spawn %s: %s", argv[0], strerror(r));
        int st;
        while (waitpid(pid, &st, 0) < 0)
                cr_assert_eq(errno, EINTR);
        cr_assert(WIFEXITED(st), "%s died of signal %d", cargv[1], WTERMSIG(st));
        return WEXITSTATUS(st);
}

Test(interop, erlang_opens_echo_with_every_framing)
{
        const char *argv[] = {"escript",
                              PK_SOURCE_DIR "/tests/interop/echo_interop.escript",
                              PK_BUILD_DIR "/examples/echo",
                              PK_BUILD_DIR "/tests/helpers/port_probe",
                              "1000",
                              "42",
                              NULL};
        cr_assert_eq(run(argv, NULL), 0);
}

Test(interop, erlang_checks_calc_bignums_against_its_own_arithmetic)
{
        const char *argv[] = {"escript",
                              PK_SOURCE_DIR "/tests/interop/calc_interop.escript",
                              PK_BUILD_DIR "/examples/calc",
                              "1000",
                              "7",
                              NULL};
        cr_assert_eq(run(argv, NULL), 0);
}

static void hex(char *out, const uint8_t *p, size_t n)
{
        static const char digits[] = "0123456789ABCDEF";
        for (size_t i = 0; i < n; i++) {
                out[2 * i] = digits[p[i] >> 4];
                out[2 * i + 1] = digits[p[i] & 15];
        }
        out[2 * n] = 0;
}

/* Random CR/LF-heavy input, framed by Erlang (via cat) and by pk_deframer. */
Test(interop, line_framing_matches_erlang)
{
        char dir[] = "/tmp/pk_line_XXXXXX";
        cr_assert_not_null(mkdtemp(dir));
        char in_path[64], out_path[64];
        snprintf(in_path, sizeof(in_path), "%s/in", dir);
        snprintf(out_path, sizeof(out_path), "%s/out", dir);
        static const char alphabet[] = "ab\r\n";
        srand(7);
        for (int round = 0; round < 12; round++) {
                unsigned int L = 1 + (unsigned int)(rand() % 7);
                size_t n = (size_t)(rand() % 400);
                uint8_t data[400] = {0};
                for (size_t i = 0; i < n; i++)
                        data[i] = (uint8_t)alphabet[rand() % 4];
                FILE *f = fopen(in_path, "wb");
                cr_assert_not_null(f);
                cr_assert_eq(fwrite(data, 1, n, f), n);
                fclose(f);
                char lstr[16];
                snprintf(lstr, sizeof(lstr), "%u", L);
                const char *argv[] = {"escript", PK_SOURCE_DIR "/tests/interop/line_frames.escript",
                                      in_path, lstr, NULL};
                cr_assert_eq(run(argv, out_path), 0);

                /* portkit's framing of the same bytes, one byte at a time */
                struct pk_framing fr = {.kind = PK_FRAMING_LINE, .arg = L};
                struct pk_deframer *d;
                cr_assert_eq(pk_deframer_new(&fr, &d), 0);
                char *mine = calloc(1, 4 * n + 4096);
                cr_assert_not_null(mine);
                size_t len = 0;
                char h[64];
                for (size_t i = 0; i <= n; i++) {
                        if (i < n)
                                cr_assert_eq(pk_deframer_feed(d, data + i, 1), 0);
                        struct pk_packet_msg m;
                        int r;
                        while ((r = i < n ? pk_deframer_next(d, &m) : pk_deframer_finish(d, &m)) ==
                               1) {
                                hex(h, m.data, m.len);
                                len += (size_t)sprintf(mine + len, "%s %s\n",
                                                       m.flags == PK_PACKET_EOL ? "E" : "N", h);
                        }
                        cr_assert_eq(r, 0);
                }
                pk_deframer_free(d);

                f = fopen(out_path, "rb");
                cr_assert_not_null(f);
                char *theirs = calloc(1, 4 * n + 4096);
                cr_assert_not_null(theirs);
                size_t tl = fread(theirs, 1, 4 * n + 4095, f);
                fclose(f);
                theirs[tl] = 0;
                cr_assert_str_eq(mine, theirs, "L=%u input of %zu bytes", L, n);
                free(mine);
                free(theirs);
        }
        unlink(in_path);
        unlink(out_path);
        rmdir(dir);
}

/* portkit's host drives a real Erlang VM as its port program: an escript that
 * opens {fd,0,1} or {fd,3,4} and echoes, with every framing. */
Test(interop, portkit_host_drives_an_erlang_port)
{
        static const struct {
                const char *arg;
                struct pk_framing f;
                size_t max;
        } fr[] = {
            {"packet1", {PK_FRAMING_PACKET, 1, 0}, 255},
            {"packet2", {PK_FRAMING_PACKET, 2, 0}, 65535},
            {"packet4", {PK_FRAMING_PACKET, 4, 0}, 1 << 20},
            {"line", {PK_FRAMING_LINE, 65536, 0}, 200000},
            {"stream", {PK_FRAMING_STREAM, 0, 0}, 1 << 20},
        };
        uint8_t *buf = malloc((1 << 20) + 1), *got = malloc((1 << 20) + 1);
        cr_assert(buf && got);
        srand(99);
        for (size_t i = 0; i < sizeof(fr) / sizeof(fr[0]); i++) {
                for (int nouse = 0; nouse < 2; nouse++) {
                        const char *argv[] = {"escript",
                                              PK_SOURCE_DIR "/examples/erlang/echo_port.escript",
                                              fr[i].arg, nouse ? "nouse_stdio" : "use_stdio", NULL};
                        struct pk_port_opts o = {.framing = fr[i].f,
                                                 .flags = (nouse ? PK_PORT_NOUSE_STDIO : 0u) |
                                                          PK_PORT_KILL_ON_CLOSE | PK_PORT_PDEATHSIG,
                                                 .kill_grace_ms = 2000};
                        struct pk_port *p;
                        int r = pk_port_open_argv(argv, &o, &p);
                        cr_assert_eq(r, 0, "open escript: %s", pk_strerror(r));
                        bool line = fr[i].f.kind == PK_FRAMING_LINE;
                        bool stream = fr[i].f.kind == PK_FRAMING_STREAM;
                        for (int k = 0; k < 40; k++) {
                                size_t len = k == 0   ? 0
                                             : k == 1 ? fr[i].max
                                                      : (size_t)rand() % (fr[i].max + 1);
                                if (stream && len == 0)
                                        continue;
                                for (size_t j = 0; j < len; j++) {
                                        buf[j] = (uint8_t)rand();
                                        if (line && (buf[j] == '\n' || buf[j] == '\r'))
                                                buf[j] = 'x';
                                }
                                if (line)
                                        buf[len] = '\n';
                                cr_assert_eq(pk_port_send(p, buf, len + line), 0);
                                size_t have = 0;
                                for (;;) {
                                        struct pk_port_msg m;
                                        r = pk_port_recv(p, &m, 30000);
                                        cr_assert_eq(r, 1, "%s: recv %s", fr[i].arg,
                                                     pk_strerror(r));
                                        cr_assert_leq(have + m.len, len);
                                        memcpy(got + have, m.data, m.len);
                                        have += m.len;
                                        if (!line && !stream)
                                                break;
                                        if (line && m.flags == PK_PACKET_EOL)
                                                break;
                                        if (stream && have == len)
                                                break;
                                }
                                cr_assert_eq(have, len, "%s message %d", fr[i].arg, k);
                                cr_assert(len == 0 || memcmp(got, buf, len) == 0, "%s message %d",
                                          fr[i].arg, k);
                        }
                        /* the escript halts when its input closes */
                        cr_assert_eq(pk_port_close_input(p), 0);
                        struct pk_exit ex;
                        cr_assert_eq(pk_port_wait(p, 30000, &ex), 0);
                        cr_assert_eq(pk_exit_shell(&ex), 0);
                        pk_port_close(p, NULL);
                }
        }
        free(buf);
        free(got);
}

/* {line, L} with exit_status: the same pieces as the VM, the unterminated
 * tail as a last noeol included; the order differs by design (port.h, the
 * exit callback): the VM sends {exit_status,_} before that last piece, the
 * port layer delivers what the child left in the pipe before its exit. */
struct line_exit {
        char *log;
        size_t len;
        int exits;
        bool eof;
};

static void le_message(struct pk_port *p, const struct pk_port_msg *m, void *ctx)
{
        (void)p;
        struct line_exit *le = ctx;
        char h[64];
        hex(h, m->data, m->len < 20 ? m->len : 20);
        le->len +=
            (size_t)sprintf(le->log + le->len, "%s %s\n", m->flags == PK_PACKET_EOL ? "E" : "N", h);
}

static void le_exit(struct pk_port *p, const struct pk_exit *ex, void *ctx)
{
        (void)p;
        struct line_exit *le = ctx;
        le->exits++;
        le->len += (size_t)sprintf(le->log + le->len, "X %d\n", pk_exit_shell(ex));
        if (le->eof)
                pk_port_close(p, NULL);
}

/* EOF and the exit may come in either order: the port closes after both. */
static void le_eof(struct pk_port *p, void *ctx)
{
        struct line_exit *le = ctx;
        le->eof = true;
        if (le->exits)
                pk_port_close(p, NULL);
}

Test(interop, line_tail_and_exit_status_against_erlang)
{
        static const char script[] = "printf 'x\\nabcdefg'";
        char dir[] = "/tmp/pk_line_exit_XXXXXX";
        cr_assert_not_null(mkdtemp(dir));
        char out_path[64];
        snprintf(out_path, sizeof(out_path), "%s/out", dir);
        const char *argv[] = {"escript", PK_SOURCE_DIR "/tests/interop/line_exit.escript", script,
                              "3", NULL};
        int rc = run(argv, out_path);
        char theirs[512] = "";
        FILE *f = fopen(out_path, "rb");
        size_t tl = f ? fread(theirs, 1, sizeof(theirs) - 1, f) : 0;
        if (f)
                fclose(f);
        theirs[tl] = '\0';
        unlink(out_path);
        rmdir(dir);
        cr_assert_eq(rc, 0);
        /* x, then abc and def as L-byte pieces, the exit, then the tail g. */
        cr_assert_str_eq(theirs, "E 78\nN 616263\nN 646566\nX 0\nN 67\n");

        char mine[512] = "";
        struct line_exit le = {.log = mine};
        struct pk_loop *loop;
        cr_assert_eq(pk_loop_new(&loop), 0);
        struct pk_port_opts o = {.framing = {.kind = PK_FRAMING_LINE, .arg = 3},
                                 .flags = PK_PORT_EXIT_STATUS | PK_PORT_EOF};
        struct pk_port *p;
        cr_assert_eq(pk_port_open_shell(script, &o, &p), 0);
        static const struct pk_port_callbacks cb = {
            .message = le_message, .exit = le_exit, .eof = le_eof};
        cr_assert_eq(pk_port_attach(p, loop, &cb, &le), 0);
        cr_assert_eq(pk_loop_run(loop), PK_LOOP_DONE);
        pk_loop_free(loop);
        cr_assert_eq(le.exits, 1);
        cr_assert_str_eq(mine, "E 78\nN 616263\nN 646566\nN 67\nX 0\n");
}
