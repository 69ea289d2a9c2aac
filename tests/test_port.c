/* SPDX-License-Identifier: MIT */
/* port layer, host and port side, blocking API: real child processes
 * (examples/echo, tests/helpers/port_probe, /bin tools), every framing, the
 * open_port options, exit statuses, half-close, kill on close, PDEATHSIG, and
 * the fault cases (hostile headers, deaths mid-message, EPIPE). */
#include "testutil.h"
#include <portkit/fd.h>

#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <portkit/port.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define ECHO PK_BUILD_DIR "/examples/echo"
#define PROBE PK_BUILD_DIR "/tests/helpers/port_probe"

static struct pk_port *open_probe(const char *const *args, unsigned int flags)
{
        struct pk_port_opts o = {.framing = {.kind = PK_FRAMING_PACKET, .arg = 4}, .flags = flags};
        struct pk_port *p = NULL;
        int r = pk_port_open_executable(PROBE, args, &o, &p);
        cr_assert_eq(r, 0, "open probe: %s", pk_strerror(r));
        return p;
}

static void expect_reply(struct pk_port *p, const char *want)
{
        struct pk_port_msg m;
        int r = pk_port_recv(p, &m, 20000);
        cr_assert_eq(r, 1, "recv: %d %s", r, pk_strerror(r));
        cr_assert_eq(m.len, strlen(want), "got %.*s want %s", (int)m.len, m.data, want);
        cr_assert_eq(memcmp(m.data, want, m.len), 0, "got %.*s want %s", (int)m.len, m.data, want);
}

static void echo_roundtrips(struct pk_framing f, bool nouse, int count, size_t max)
{
        const char *args[5] = {NULL};
        char num[16];
        int k = 0;
        if (f.kind == PK_FRAMING_PACKET) {
                snprintf(num, sizeof(num), "%u", f.arg);
                args[k++] = "--packet";
                args[k++] = num;
        } else if (f.kind == PK_FRAMING_LINE) {
                snprintf(num, sizeof(num), "%u", f.arg);
                args[k++] = "--line";
                args[k++] = num;
        } else {
                args[k++] = "--stream";
        }
        if (nouse)
                args[k++] = "--nouse-stdio";
        struct pk_port_opts o = {.framing = f, .flags = nouse ? PK_PORT_NOUSE_STDIO : 0};
        struct pk_port *p;
        cr_assert_eq(pk_port_open_executable(ECHO, args, &o, &p), 0);
        uint8_t *buf = malloc(max + 1), *got = malloc(max + 1);
        cr_assert(buf && got);
        srand(1234);
        for (int i = 0; i < count; i++) {
                size_t len = i == 0 ? 0 : i == 1 ? max : (size_t)rand() % (max + 1);
                for (size_t j = 0; j < len; j++) {
                        buf[j] = (uint8_t)rand();
                        if (f.kind == PK_FRAMING_LINE && buf[j] == '\n')
                                buf[j] = 'n';
                }
                if (f.kind == PK_FRAMING_LINE && len > 0 && buf[len - 1] == '\r')
                        buf[len - 1] = 'r';
                if (f.kind == PK_FRAMING_STREAM && len == 0)
                        continue;
                if (f.kind == PK_FRAMING_LINE)
                        buf[len] = '\n';
                int r = pk_port_send(p, buf, len + (f.kind == PK_FRAMING_LINE));
                cr_assert_eq(r, 0, "send %zu: %s", len, pk_strerror(r));
                size_t have = 0;
                for (;;) {
                        struct pk_port_msg m;
                        r = pk_port_recv(p, &m, 20000);
                        cr_assert_eq(r, 1, "recv: %s", pk_strerror(r));
                        cr_assert_leq(have + m.len, len);
                        memcpy(got + have, m.data, m.len);
                        have += m.len;
                        if (f.kind == PK_FRAMING_PACKET) {
                                cr_assert_eq(m.len, len);
                                break;
                        }
                        if (f.kind == PK_FRAMING_LINE) {
                                cr_assert_leq(m.len, f.arg);
                                if (m.flags == PK_PACKET_EOL)
                                        break;
                                cr_assert_eq(m.flags, PK_PACKET_NOEOL);
                        } else if (have == len) {
                                break;
                        }
                }
                cr_assert_eq(have, len);
                cr_assert(len == 0 || memcmp(got, buf, len) == 0, "message %d differs", i);
        }
        free(buf);
        free(got);
        struct pk_exit ex;
        /* echo exits 0 once its input closes. */
        cr_assert_eq(pk_port_close_input(p), 0);
        cr_assert_eq(pk_port_wait(p, 20000, &ex), 0);
        cr_assert_eq(pk_exit_shell(&ex), 0);
        cr_assert_eq(pk_port_close(p, NULL), 0);
}

/* Whether pid (not our child) is gone or a zombie within tries x 10 ms. */
static bool gone_within(pid_t pid, int tries)
{
        for (int i = 0; i < tries; i++) {
                if (kill(pid, 0) != 0)
                        return true;
                char path[64], state = 0;
                snprintf(path, sizeof(path), "/proc/%d/stat", pid);
                FILE *f = fopen(path, "r");
                if (f) {
                        bool zombie = fscanf(f, "%*d %*s %c", &state) == 1 && state == 'Z';
                        fclose(f);
                        if (zombie)
                                return true;
                }
                usleep(10000);
        }
        return false;
}

Test(port_host, echo_every_framing_both_stdio_modes)
{
        int before = tu_count_fds();
        static const struct pk_framing fr[] = {
            {.kind = PK_FRAMING_PACKET, .arg = 1}, {.kind = PK_FRAMING_PACKET, .arg = 2},
            {.kind = PK_FRAMING_PACKET, .arg = 4}, {.kind = PK_FRAMING_LINE, .arg = 100},
            {.kind = PK_FRAMING_STREAM},
        };
        static const size_t max[] = {255, 65535, 1 << 20, 5000, 1 << 20};
        for (size_t i = 0; i < 5; i++)
                for (int nouse = 0; nouse < 2; nouse++)
                        echo_roundtrips(fr[i], nouse, 60, max[i]);
        cr_assert_eq(tu_count_fds(), before, "descriptors leaked");
}

Test(port_host, eight_mib_message_through_cat_does_not_deadlock)
{
        /* cat answers while it reads: a host that did not read during a long
         * send would deadlock with it once both pipes are full. */
        const char *argv[] = {"cat", NULL};
        struct pk_port *p;
        cr_assert_eq(pk_port_open_argv(argv, NULL, &p), 0);
        size_t len = (size_t)8 << 20;
        uint8_t *buf = malloc(len);
        cr_assert_not_null(buf);
        for (size_t i = 0; i < len; i++)
                buf[i] = (uint8_t)(i * 31 + (i >> 13));
        cr_assert_eq(pk_port_send(p, buf, len), 0);
        cr_assert_eq(pk_port_close_input(p), 0);
        size_t have = 0;
        struct pk_port_msg m;
        int r;
        while ((r = pk_port_recv(p, &m, 20000)) == 1) {
                cr_assert_leq(have + m.len, len);
                cr_assert_eq(memcmp(buf + have, m.data, m.len), 0);
                have += m.len;
        }
        cr_assert_eq(r, 0);
        cr_assert_eq(have, len);
        struct pk_exit ex;
        cr_assert_eq(pk_port_wait(p, 20000, &ex), 0);
        cr_assert_eq(pk_exit_shell(&ex), 0);
        cr_assert_eq(pk_port_close(p, &ex), 0);
        cr_assert_eq(pk_exit_shell(&ex), 0);
        free(buf);
}

Test(port_host, exit_status_as_erlang_reports_it)
{
        static const struct {
                const char *mode, *arg;
                int status, code, sig;
        } cases[] = {
            {"exit", "0", 0, 0, 0},        {"exit", "3", 3, 3, 0},
            {"exit", "255", 255, 255, 0},  {"signal", "9", 137, -1, 9},
            {"signal", "15", 143, -1, 15}, {"signal", "11", 139, -1, 11},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                const char *args[] = {cases[i].mode, cases[i].arg, NULL};
                struct pk_port *p = open_probe(args, PK_PORT_EXIT_STATUS);
                struct pk_exit ex;
                cr_assert_eq(pk_port_wait(p, 20000, &ex), 0);
                cr_assert_eq(pk_exit_shell(&ex), cases[i].status, "%s %s", cases[i].mode,
                             cases[i].arg);
                cr_assert_eq(ex.code, cases[i].code);
                cr_assert_eq(ex.signal, cases[i].sig);
                struct pk_exit ex2;
                cr_assert_eq(pk_port_close(p, &ex2), 0);
                cr_assert_eq(pk_exit_shell(&ex2), cases[i].status);
        }
}

Test(port_host, exec_and_cd_errors_come_back_from_open)
{
        struct pk_port *p = NULL;
        cr_assert_eq(pk_port_open_executable("/nonexistent/prog", NULL, NULL, &p), -ENOENT);
        cr_assert_null(p);
        cr_assert_eq(pk_port_open_executable("/etc/passwd", NULL, NULL, &p), -EACCES);
        struct pk_port_opts o = {.cd = "/nonexistent-dir"};
        cr_assert_eq(pk_port_open_executable(PROBE, NULL, &o, &p), -ENOENT);
        const char *argv[] = {"no-such-program-pk", NULL};
        cr_assert_eq(pk_port_open_argv(argv, NULL, &p), -ENOENT);
        struct pk_port_opts bad = {.flags = PK_PORT_NOUSE_STDIO | PK_PORT_STDERR_TO_STDOUT};
        cr_assert_eq(pk_port_open_executable(PROBE, NULL, &bad, &p), -EINVAL);
        struct pk_port_opts bad2 = {.flags = PK_PORT_IN | PK_PORT_OUT};
        cr_assert_eq(pk_port_open_executable(PROBE, NULL, &bad2, &p), -EINVAL);
        struct pk_port_opts bad3 = {.framing = {.kind = PK_FRAMING_PACKET, .arg = 3}};
        cr_assert_eq(pk_port_open_executable(PROBE, NULL, &bad3, &p), -EINVAL);
        cr_assert_null(p);
}

Test(port_host, env_cd_arg0_and_argv)
{
        setenv("PK_TEST_KEEP", "kept", 1);
        setenv("PK_TEST_GONE", "x", 1);
        const char *env[] = {"PK_TEST_NEW=new", "PK_TEST_GONE", NULL};
        struct pk_port_opts o = {.framing = {.kind = PK_FRAMING_PACKET, .arg = 4},
                                 .env = env,
                                 .cd = "/tmp",
                                 .arg0 = "probe-zero"};
        static const struct {
                const char *name, *want;
        } vars[] = {{"PK_TEST_KEEP", "kept"}, {"PK_TEST_NEW", "new"}, {"PK_TEST_GONE", "<unset>"}};
        for (size_t i = 0; i < 3; i++) {
                const char *args[] = {"env", vars[i].name, NULL};
                struct pk_port *p;
                cr_assert_eq(pk_port_open_executable(PROBE, args, &o, &p), 0);
                expect_reply(p, vars[i].want);
                pk_port_close(p, NULL);
        }
        const char *cwd[] = {"cwd", NULL};
        struct pk_port *p;
        cr_assert_eq(pk_port_open_executable(PROBE, cwd, &o, &p), 0);
        expect_reply(p, "/tmp");
        pk_port_close(p, NULL);
        const char *av[] = {"argv", "a b", "", NULL};
        cr_assert_eq(pk_port_open_executable(PROBE, av, &o, &p), 0);
        expect_reply(p, "probe-zero|argv|a b|");
        pk_port_close(p, NULL);
}

Test(port_host, shell_form_runs_sh_c_exec)
{
        struct pk_port_opts o = {.flags = PK_PORT_EXIT_STATUS};
        struct pk_port *p;
        /* "exec " is forced in front, so builtins chains fail as in Erlang. */
        cr_assert_eq(pk_port_open_shell("cd / && pwd", &o, &p), 0);
        struct pk_exit ex;
        cr_assert_eq(pk_port_wait(p, 20000, &ex), 0);
        cr_assert_eq(pk_exit_shell(&ex), 127);
        pk_port_close(p, NULL);
        cr_assert_eq(pk_port_open_shell("echo \"$0\" 'two words'", &o, &p), 0);
        struct pk_port_msg m;
        char got[64] = {0};
        size_t n = 0;
        int r;
        while ((r = pk_port_recv(p, &m, 20000)) == 1) {
                memcpy(got + n, m.data, m.len < 60 - n ? m.len : 60 - n);
                n += m.len;
        }
        cr_assert_eq(r, 0);
        cr_assert_str_eq(got, "sh two words\n");
        cr_assert_eq(pk_port_wait(p, 20000, &ex), 0);
        cr_assert_eq(pk_exit_shell(&ex), 0);
        cr_assert_eq(pk_port_close(p, NULL), 0);
}

Test(port_host, stdio_layouts)
{
        /* use_stdio: fds 0 1 2; nouse_stdio: 0 1 2 3 4; nothing else leaks */
        const char *args[] = {"fds", NULL};
        struct pk_port *p = open_probe(args, 0);
        expect_reply(p, "0 1 2");
        pk_port_close(p, NULL);
        const char *nargs[] = {"--nouse-stdio", "fds", NULL};
        p = open_probe(nargs, PK_PORT_NOUSE_STDIO);
        expect_reply(p, "0 1 2 3 4");
        pk_port_close(p, NULL);
}

Test(port_host, stderr_to_stdout_and_captured_stderr)
{
        /* stderr_to_stdout: the text arrives in the same stream (stream framing) */
        const char *args[] = {"stderr", "oops", NULL};
        struct pk_port_opts o = {.flags = PK_PORT_STDERR_TO_STDOUT};
        struct pk_port *p;
        cr_assert_eq(pk_port_open_executable(PROBE, args, &o, &p), 0);
        char got[64] = {0};
        size_t n = 0;
        while (n < 12) {
                struct pk_port_msg m;
                cr_assert_eq(pk_port_recv(p, &m, 20000), 1);
                memcpy(got + n, m.data, m.len < 60 - n ? m.len : 60 - n);
                n += m.len;
        }
        cr_assert_eq(memcmp(got, "oops\0\0\0\4done", 12), 0);
        pk_port_close(p, NULL);

        /* captured: its own stream, its own framing (lines), not mixed in */
        struct pk_port_opts c = {.framing = {.kind = PK_FRAMING_PACKET, .arg = 4},
                                 .flags = PK_PORT_STDERR_CAPTURE,
                                 .stderr_framing = {.kind = PK_FRAMING_LINE, .arg = 80}};
        const char *args2[] = {"stderr", "first line\nsecond", NULL};
        cr_assert_eq(pk_port_open_executable(PROBE, args2, &c, &p), 0);
        bool got_done = false;
        int lines = 0;
        cr_assert_eq(pk_port_close_input(p), 0);
        struct pk_port_msg m;
        int r;
        while ((r = pk_port_recv(p, &m, 20000)) == 1) {
                if (m.source == PK_PORT_FROM_OUT) {
                        cr_assert(m.len == 4 && memcmp(m.data, "done", 4) == 0);
                        got_done = true;
                } else {
                        cr_assert_eq(m.source, PK_PORT_FROM_ERR);
                        if (lines == 0)
                                cr_assert(m.flags == PK_PACKET_EOL && m.len == 10 &&
                                          memcmp(m.data, "first line", 10) == 0);
                        else
                                cr_assert(m.flags == PK_PACKET_NOEOL && m.len == 6 &&
                                          memcmp(m.data, "second", 6) == 0);
                        lines++;
                }
        }
        cr_assert_eq(r, 0);
        cr_assert(got_done);
        cr_assert_eq(lines, 2);
        pk_port_close(p, NULL);
}

Test(port_host, half_close_keeps_reading_and_reports_exit)
{
        /* wc -c answers only after EOF on its input: impossible in Erlang. */
        const char *argv[] = {"wc", "-c", NULL};
        struct pk_port *p;
        cr_assert_eq(pk_port_open_argv(argv, NULL, &p), 0);
        cr_assert_eq(pk_port_send(p, "hello", 5), 0);
        cr_assert_eq(pk_port_close_input(p), 0);
        cr_assert_eq(pk_port_send(p, "x", 1), PK_ECLOSED);
        struct pk_port_msg m;
        cr_assert_eq(pk_port_recv(p, &m, 20000), 1);
        cr_assert(m.len >= 2 && m.data[m.len - 2] == '5' && m.data[m.len - 1] == '\n');
        struct pk_exit ex;
        cr_assert_eq(pk_port_wait(p, 20000, &ex), 0);
        cr_assert_eq(pk_exit_shell(&ex), 0);
        pk_port_close(p, NULL);
}

Test(port_host, close_does_not_signal_by_default)
{
        /* Erlang's close: the child sees EOF; a child that does not read lives on. */
        const char *args[] = {"noread", NULL};
        struct pk_port *p = open_probe(args, 0);
        pid_t pid = pk_port_pid(p);
        cr_assert_gt(pid, 0);
        struct pk_exit ex;
        cr_assert_eq(pk_port_close(p, &ex), -EINPROGRESS);
        cr_assert_eq(ex.code, -1);
        cr_assert_eq(kill(pid, 0), 0, "the child must still run");
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
}

Test(port_host, kill_on_close_term_then_kill_the_group)
{
        struct pk_port_opts o = {.flags = PK_PORT_KILL_ON_CLOSE, .kill_grace_ms = 300};
        struct pk_port *p;
        /* obeys TERM */
        const char *args[] = {"noread", NULL};
        o.framing = (struct pk_framing){.kind = PK_FRAMING_PACKET, .arg = 4};
        cr_assert_eq(pk_port_open_executable(PROBE, args, &o, &p), 0);
        struct pk_exit ex;
        cr_assert_eq(pk_port_close(p, &ex), 0);
        cr_assert_eq(ex.signal, SIGTERM);
        cr_assert_eq(pk_exit_shell(&ex), 143);
        /* ignores TERM, and has a grandchild in its group: both get KILL */
        o.framing = (struct pk_framing){.kind = PK_FRAMING_STREAM};
        cr_assert_eq(
            pk_port_open_shell("sh -c 'trap \"\" TERM; sleep 100 & echo $!; wait'", &o, &p), 0);
        struct pk_port_msg m;
        cr_assert_eq(pk_port_recv(p, &m, 20000), 1);
        int grandchild = atoi((const char *)m.data);
        cr_assert_gt(grandchild, 0);
        cr_assert_eq(pk_port_close(p, &ex), 0);
        cr_assert_eq(ex.signal, SIGKILL);
        cr_assert_eq(pk_exit_shell(&ex), 137);
        /* the grandchild was killed with its group (it is init's now: poll) */
        cr_assert(gone_within(grandchild, 200), "grandchild %d survived", grandchild);
}

/* Opens `script` (stream framing, kill on close with a long grace) and reads
 * the pid the script prints first. */
static struct pk_port *open_tree(const char *script, pid_t *ret_grandchild)
{
        struct pk_port_opts o = {.flags = PK_PORT_KILL_ON_CLOSE, .kill_grace_ms = 20000};
        struct pk_port *p;
        cr_assert_eq(pk_port_open_shell(script, &o, &p), 0);
        struct pk_port_msg m;
        cr_assert_eq(pk_port_recv(p, &m, 20000), 1);
        *ret_grandchild = atoi((const char *)m.data);
        cr_assert_gt(*ret_grandchild, 0);
        return p;
}

Test(port_host, kill_on_close_kills_what_remains_of_the_tree)
{
        /* The child dies of TERM within the grace period; its grandchild ignores
         * TERM (and prints its pid only once it does): the group still gets KILL. */
        pid_t g;
        struct pk_port *p = open_tree(
            "sh -c 'sh -c \"trap \\\"\\\" TERM; echo \\$\\$; exec sleep 1000\" & wait'", &g);
        struct pk_exit ex;
        cr_assert_eq(pk_port_close(p, &ex), 0);
        cr_assert_eq(ex.signal, SIGTERM);
        cr_assert(gone_within(g, 500), "grandchild %d survived a TERM-killed child", g);

        /* The child has exited (not yet reaped) leaving a background grandchild. */
        p = open_tree("sh -c 'sleep 1000 & echo $!; exit 7'", &g);
        siginfo_t si;
        cr_assert_eq(waitid(P_PID, (id_t)pk_port_pid(p), &si, WEXITED | WNOWAIT), 0);
        cr_assert_eq(pk_port_close(p, &ex), 0);
        cr_assert_eq(ex.code, 7);
        cr_assert(gone_within(g, 500), "grandchild %d of an exited child survived", g);

        /* The same, with the child reaped by pk_port_wait() before the close. */
        p = open_tree("sh -c 'sleep 1000 & echo $!; exit 7'", &g);
        cr_assert_eq(pk_port_wait(p, 20000, &ex), 0);
        cr_assert_eq(ex.code, 7);
        cr_assert_eq(pk_port_close(p, &ex), 0);
        cr_assert_eq(ex.code, 7);
        cr_assert(gone_within(g, 500), "grandchild %d of a reaped child survived", g);
}

Test(port_host, pdeathsig_kills_the_child_when_the_host_dies)
{
        int fds[2];
        cr_assert_eq(pipe(fds), 0);
        pid_t host = fork();
        cr_assert_geq(host, 0);
        if (host == 0) {
                struct pk_port_opts o = {.flags = PK_PORT_PDEATHSIG};
                const char *args[] = {"noread", NULL};
                struct pk_port *p;
                if (pk_port_open_executable(PROBE, args, &o, &p) != 0)
                        _exit(1);
                pid_t pid = pk_port_pid(p);
                if (write(fds[1], &pid, sizeof(pid)) != sizeof(pid))
                        _exit(1);
                _exit(0); /* dies without closing the port */
        }
        close(fds[1]);
        int pid = 0;
        cr_assert_eq(read(fds[0], &pid, sizeof(pid)), (ssize_t)sizeof(pid));
        waitpid(host, NULL, 0);
        cr_assert(gone_within(pid, 500), "port child %d outlived its host", pid);
}

Test(port_host, writing_to_a_dead_port_is_epipe_not_sigpipe)
{
        signal(SIGPIPE, SIG_DFL);
        const char *args[] = {"closein", "5", NULL};
        struct pk_port *p = open_probe(args, 0);
        expect_reply(p, "closed"); /* its input is closed by now */
        int r = 0;
        char big[4096] = {0};
        for (int i = 0; i < 100 && r == 0; i++)
                r = pk_port_send(p, big, sizeof(big));
        cr_assert_eq(r, -EPIPE);
        cr_assert_eq(pk_port_send(p, "x", 1), -EPIPE);
        pk_port_kill(p, SIGKILL);
        pk_port_close(p, NULL);

        /* a port that died: same */
        const char *ex[] = {"exit", "0", NULL};
        p = open_probe(ex, 0);
        cr_assert_eq(pk_port_wait(p, 20000, NULL), 0);
        cr_assert_eq(pk_port_send(p, "x", 1), -EPIPE);
        pk_port_close(p, NULL);
}

Test(port_host, hostile_and_broken_output)
{
        struct pk_port_msg m;
        struct pk_exit ex;
        /* a 4 GiB length header: an error, no allocation, no hang */
        const char *big[] = {"bigheader", NULL};
        struct pk_port *p = open_probe(big, 0);
        cr_assert_eq(pk_port_recv(p, &m, 20000), PK_EFRAMESIZE);
        cr_assert_eq(pk_port_recv(p, &m, 20000), 0);
        pk_port_close_input(p);
        cr_assert_eq(pk_port_wait(p, 20000, &ex), 0);
        cr_assert_eq(pk_exit_shell(&ex), 0);
        pk_port_close(p, NULL);

        /* a valid frame then garbage: the frame, then PK_EPARTIAL, then EOF */
        const char *garbage[] = {"garbage", NULL};
        p = open_probe(garbage, 0);
        expect_reply(p, "ok");
        cr_assert_eq(pk_port_recv(p, &m, 20000), PK_EPARTIAL);
        cr_assert_eq(pk_port_recv(p, &m, 20000), 0);
        cr_assert_eq(pk_port_wait(p, 20000, &ex), 0);
        cr_assert_eq(pk_exit_shell(&ex), 0);
        pk_port_close(p, NULL);

        /* killed mid-message */
        const char *mid[] = {"midmsg", NULL};
        p = open_probe(mid, 0);
        cr_assert_eq(pk_port_recv(p, &m, 20000), PK_EPARTIAL);
        cr_assert_eq(pk_port_recv(p, &m, 20000), 0);
        cr_assert_eq(pk_port_wait(p, 20000, &ex), 0);
        cr_assert_eq(ex.signal, SIGKILL);
        pk_port_close(p, NULL);

        /* never reads: a send timeout, then the port refuses to send */
        struct pk_port_opts o = {.framing = {.kind = PK_FRAMING_PACKET, .arg = 4},
                                 .send_timeout_ms = 200,
                                 .flags = PK_PORT_KILL_ON_CLOSE,
                                 .kill_grace_ms = -1};
        const char *noread[] = {"noread", NULL};
        cr_assert_eq(pk_port_open_executable(PROBE, noread, &o, &p), 0);
        size_t len = (size_t)4 << 20;
        char *buf = calloc(1, len);
        cr_assert_eq(pk_port_send(p, buf, len), -ETIMEDOUT);
        cr_assert_eq(pk_port_send(p, buf, 1), PK_ECLOSED);
        free(buf);
        cr_assert_eq(pk_port_close(p, &ex), 0);
        cr_assert_eq(ex.signal, SIGKILL);
}

Test(port_host, unframable_output_is_a_synchronous_error)
{
        struct pk_port_opts o = {.framing = {.kind = PK_FRAMING_PACKET, .arg = 1}};
        struct pk_port *p;
        const char *args[] = {"--packet", "1", NULL};
        cr_assert_eq(pk_port_open_executable(ECHO, args, &o, &p), 0);
        char buf[256] = {0};
        cr_assert_eq(pk_port_send(p, buf, 256), PK_EFRAMEHDR);
        struct pk_port_msg m;
        cr_assert_eq(pk_port_call(p, buf, 255, &m, 20000), 1);
        cr_assert_eq(m.len, 255);
        pk_port_close(p, NULL);
}

Test(port_host, open_on_existing_descriptors)
{
        int sv[2];
        cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        pid_t child = fork();
        cr_assert_geq(child, 0);
        if (child == 0) {
                close(sv[0]);
                struct pk_framing f = {.kind = PK_FRAMING_PACKET, .arg = 2};
                struct pk_port_self *s;
                if (pk_port_self_open_fds(&f, sv[1], sv[1], &s) < 0)
                        _exit(1);
                struct pk_packet_msg m;
                while (pk_port_self_read(s, &m) == 1)
                        pk_port_self_write(s, m.data, m.len);
                _exit(0);
        }
        close(sv[1]);
        struct pk_port_opts o = {.framing = {.kind = PK_FRAMING_PACKET, .arg = 2}};
        struct pk_port *p;
        cr_assert_eq(pk_port_open_fds(sv[0], sv[0], &o, &p), 0);
        struct pk_port_msg m;
        cr_assert_eq(pk_port_call(p, "over a socket", 13, &m, 20000), 1);
        cr_assert(m.len == 13 && memcmp(m.data, "over a socket", 13) == 0);
        cr_assert_eq(pk_port_wait(p, 0, NULL), -ECHILD);
        /* half-close on a socket is shutdown(SHUT_WR): the child sees EOF */
        cr_assert_eq(pk_port_close_input(p), 0);
        cr_assert_eq(pk_port_recv(p, &m, 20000), 0);
        pk_port_close(p, NULL);
        /* not owned: still open */
        cr_assert_geq(fcntl(sv[0], F_GETFD), 0);
        close(sv[0]);
        int st;
        waitpid(child, &st, 0);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        struct pk_port_opts bad = {.flags = PK_PORT_EXIT_STATUS};
        cr_assert_eq(pk_port_open_fds(0, 1, &bad, &p), -EINVAL);
}

Test(port_host, eof_closes_the_port_unless_eof_option)
{
        /* Without PK_PORT_EOF the child's EOF on output closes our sending side too. */
        const char *argv[] = {"true", NULL};
        struct pk_port *p;
        cr_assert_eq(pk_port_open_argv(argv, NULL, &p), 0);
        struct pk_port_msg m;
        cr_assert_eq(pk_port_recv(p, &m, 20000), 0);
        cr_assert_eq(pk_port_send(p, "x", 1), PK_ECLOSED);
        pk_port_close(p, NULL);
        struct pk_port_opts o = {.flags = PK_PORT_EOF};
        cr_assert_eq(pk_port_open_argv(argv, &o, &p), 0);
        cr_assert_eq(pk_port_recv(p, &m, 20000), 0);
        cr_assert_eq(pk_port_wait(p, 20000, NULL), 0);
        cr_assert_eq(pk_port_send(p, "x", 1), -EPIPE);
        pk_port_close(p, NULL);
}

Test(port_self, exits_cleanly_on_eof_and_reports_epipe)
{
        /* echo as a plain pipeline: EOF on input means exit 0 */
        int in[2], out[2];
        cr_assert_eq(pipe(in), 0);
        cr_assert_eq(pipe(out), 0);
        pid_t c = fork();
        if (c == 0) {
                dup2(in[0], 0);
                dup2(out[1], 1);
                close(in[1]);
                close(out[0]);
                execl(ECHO, "echo", "--packet", "4", (char *)NULL);
                _exit(127);
        }
        close(in[0]);
        close(out[1]);
        cr_assert_eq(write(in[1], "\0\0\0\2hi", 6), 6);
        char buf[16];
        cr_assert_eq(read(out[0], buf, sizeof(buf)), 6);
        cr_assert_eq(memcmp(buf, "\0\0\0\2hi", 6), 0);
        close(in[1]);
        int st;
        waitpid(c, &st, 0);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        close(out[0]);

        /* a port program whose host is gone gets -EPIPE, not SIGPIPE */
        signal(SIGPIPE, SIG_DFL);
        cr_assert_eq(pipe(in), 0);
        cr_assert_eq(pipe(out), 0);
        close(out[0]);
        struct pk_port_self *s;
        struct pk_framing f = {.kind = PK_FRAMING_PACKET, .arg = 4};
        cr_assert_eq(pk_port_self_open_fds(&f, in[0], out[1], &s), 0);
        cr_assert_eq(pk_port_self_write(s, "x", 1), -EPIPE);
        cr_assert_eq(pk_port_self_write(s, NULL, 300), -EINVAL);
        pk_port_self_close(s);
        close(in[0]);
        close(in[1]);
        close(out[1]);
        cr_assert_eq(pk_port_self_open(&f, 0x80, &s), -EINVAL);
}

Test(port_host, in_and_out_only_ports)
{
        /* in: the host only reads */
        const char *argv[] = {"echo", "one way", NULL};
        struct pk_port_opts in = {.flags = PK_PORT_IN};
        struct pk_port *p;
        cr_assert_eq(pk_port_open_argv(argv, &in, &p), 0);
        cr_assert_eq(pk_port_send(p, "x", 1), -EINVAL);
        struct pk_port_msg m;
        cr_assert_eq(pk_port_recv(p, &m, 20000), 1);
        cr_assert(m.len == 8 && memcmp(m.data, "one way\n", 8) == 0);
        cr_assert_eq(pk_port_wait(p, 20000, NULL), 0);
        pk_port_close(p, NULL);

        /* out: the host only writes; the child's stdout is the host's own */
        char path[] = "/tmp/pk_out_XXXXXX";
        int fd = mkstemp(path);
        cr_assert_geq(fd, 0);
        close(fd);
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "cat > %s", path);
        struct pk_port_opts out = {.flags = PK_PORT_OUT};
        cr_assert_eq(pk_port_open_shell(cmd, &out, &p), 0);
        cr_assert_eq(pk_port_recv(p, &m, 0), -EINVAL);
        cr_assert_eq(pk_port_send(p, "written", 7), 0);
        cr_assert_eq(pk_port_close_input(p), 0);
        struct pk_exit ex;
        cr_assert_eq(pk_port_wait(p, 20000, &ex), 0);
        cr_assert_eq(pk_exit_shell(&ex), 0);
        pk_port_close(p, NULL);
        char buf[16] = {0};
        FILE *f = fopen(path, "r");
        cr_assert_not_null(f);
        cr_assert_eq(fread(buf, 1, sizeof(buf) - 1, f), 7);
        fclose(f);
        unlink(path);
        cr_assert_str_eq(buf, "written");
}

/* Reads the whole of fd from offset 0 into buf (NUL-terminated). */
static size_t slurp_fd(int fd, char *buf, size_t cap)
{
        size_t n = 0;
        ssize_t r;
        while (n + 1 < cap && (r = pread(fd, buf + n, cap - 1 - n, (off_t)n)) > 0)
                n += (size_t)r;
        buf[n] = 0;
        return n;
}

Test(port_host, out_with_stderr_to_stdout_as_erlang)
{
        /* OTP port_SUITE: [out, use_stdio, stderr_to_stdout] is accepted and the
         * child has 3 open fds; its stdout is the host's, and stderr joins it. */
        char path[] = "/tmp/pkport.XXXXXX";
        int file = mkostemp(path, O_CLOEXEC);
        cr_assert_geq(file, 0);
        unlink(path);
        int saved = dup(1);
        cr_assert_geq(saved, 0);
        cr_assert_eq(dup2(file, 1), 1);
        struct pk_port_opts o = {.framing = {.kind = PK_FRAMING_PACKET, .arg = 4},
                                 .flags = PK_PORT_OUT | PK_PORT_STDERR_TO_STDOUT};
        const char *args[] = {"fds", NULL};
        struct pk_port *p = NULL;
        int r = pk_port_open_executable(PROBE, args, &o, &p);
        const char *sh[] = {"sh", "-c", "echo to-stderr >&2", NULL};
        struct pk_port *q = NULL;
        int r2 = pk_port_open_argv(sh, &o, &q);
        dup2(saved, 1);
        close(saved);
        cr_assert_eq(r, 0, "%s", pk_strerror(r));
        cr_assert_eq(r2, 0, "%s", pk_strerror(r2));
        struct pk_exit ex;
        cr_assert_eq(pk_port_close_input(p), 0); /* the probe echoes until EOF */
        cr_assert_eq(pk_port_wait(p, 20000, &ex), 0);
        cr_assert_eq(pk_exit_shell(&ex), 0);
        cr_assert_eq(pk_port_wait(q, 20000, &ex), 0);
        cr_assert_eq(pk_exit_shell(&ex), 0);
        pk_port_close(p, NULL);
        pk_port_close(q, NULL);
        char buf[256];
        size_t n = slurp_fd(file, buf, sizeof(buf));
        close(file);
        /* The probe's framed reply "0 1 2" and the shell's stderr line, in either order. */
        cr_assert_not_null(memmem(buf, n, "\0\0\0\0050 1 2", 9), "got %zu bytes", n);
        cr_assert_not_null(memmem(buf, n, "to-stderr\n", 10));
        /* Still refused where Erlang refuses it, or where it has no meaning. */
        struct pk_port_opts bad = {.flags = PK_PORT_NOUSE_STDIO | PK_PORT_STDERR_TO_STDOUT};
        cr_assert_eq(pk_port_open_executable(PROBE, args, &bad, &p), -EINVAL);
        struct pk_port_opts bad2 = {.flags = PK_PORT_STDERR_CAPTURE | PK_PORT_STDERR_TO_STDOUT};
        cr_assert_eq(pk_port_open_executable(PROBE, args, &bad2, &p), -EINVAL);
}

Test(port_host, open_cmd_gets_everything_a_command_can)
{
        /* A command with a cleared environment, one variable, an rlimit and an
         * extra descriptor; its own fd 1 mapping is replaced by the port's pipe. */
        int extra[2];
        cr_assert_eq(pipe2(extra, O_CLOEXEC), 0);
        struct pk_cmd *cmd;
        cr_assert_eq(pk_cmd_new(PROBE, &cmd), 0);
        cr_assert_eq(pk_cmd_arg(cmd, "fds"), 0);
        cr_assert_eq(pk_cmd_env_clear(cmd), 0);
        cr_assert_eq(pk_cmd_fd(cmd, 7, extra[1]), 0);
        cr_assert_eq(pk_cmd_fd_null(cmd, 1), 0);
        struct pk_port_opts o = {.framing = {.kind = PK_FRAMING_PACKET, .arg = 4}};
        struct pk_port *p;
        int before = tu_count_fds();
        cr_assert_eq(pk_port_open_cmd(cmd, &o, &p), 0);
        expect_reply(p, "0 1 2 7");
        struct pk_exit ex;
        cr_assert_eq(pk_port_close_input(p), 0);
        cr_assert_eq(pk_port_wait(p, 20000, &ex), 0);
        cr_assert_eq(pk_port_close(p, NULL), 0);
        cr_assert_eq(tu_count_fds(), before, "descriptors leaked");

        /* The port copied the command: it opens again, and so does a copy
         * that outlives its original. */
        struct pk_cmd *dup;
        cr_assert_eq(pk_cmd_dup(cmd, &dup), 0);
        cr_assert_eq(pk_port_open_cmd(cmd, &o, &p), 0);
        pk_cmd_free(cmd);
        expect_reply(p, "0 1 2 7");
        pk_port_close(p, NULL);
        cr_assert_eq(pk_port_open_cmd(dup, &o, &p), 0);
        pk_cmd_free(dup);
        expect_reply(p, "0 1 2 7");
        pk_port_close(p, NULL);

        /* Environment: the command's (cleared, one set) with the options' on top. */
        const char *env[] = {"PK_FROM_OPTS=o", NULL};
        o.env = env;
        const char *cases[][2] = {{"PK_FROM_CMD", "c"}, {"PK_FROM_OPTS", "o"}, {"HOME", "<unset>"}};
        for (int i = 0; i < 3; i++) {
                cr_assert_eq(pk_cmd_new(PROBE, &cmd), 0);
                cr_assert_eq(pk_cmd_arg(cmd, "env"), 0);
                cr_assert_eq(pk_cmd_arg(cmd, cases[i][0]), 0);
                cr_assert_eq(pk_cmd_env_clear(cmd), 0);
                cr_assert_eq(pk_cmd_env_set(cmd, "PK_FROM_CMD", "c"), 0);
                cr_assert_eq(pk_port_open_cmd(cmd, &o, &p), 0);
                pk_cmd_free(cmd);
                expect_reply(p, cases[i][1]);
                pk_port_close(p, NULL);
        }
        close(extra[0]);
        close(extra[1]);
        cr_assert_eq(pk_port_open_cmd(NULL, &o, &p), -EINVAL);
}

/* Kills the port's child, then reads everything left until EOF: what the host
 * had buffered plus what the pipes held.  Returns the byte count per source. */
static void drain_after_kill(struct pk_port *p, size_t *ret_out, size_t *ret_err)
{
        *ret_out = *ret_err = 0;
        cr_assert_eq(pk_port_kill(p, SIGKILL), 0);
        struct pk_port_msg m;
        int r;
        while ((r = pk_port_recv(p, &m, 20000)) == 1)
                *(m.source == PK_PORT_FROM_ERR ? ret_err : ret_out) += m.len;
        cr_assert_eq(r, 0, "%s", pk_strerror(r));
}

Test(port_host, flooding_child_meets_the_receive_cap_during_a_send)
{
        /* `yes` never reads: a big send waits on a full pipe while yes floods
         * its output.  The host reads up to the cap, then the send fails. */
        struct pk_port_opts o = {.framing = {.kind = PK_FRAMING_STREAM, .max_message = 65536},
                                 .recv_buffer_max = 1u << 20,
                                 .send_timeout_ms = 60000};
        const char *argv[] = {"yes", NULL};
        struct pk_port *p;
        cr_assert_eq(pk_port_open_argv(argv, &o, &p), 0);
        size_t big = 8u << 20;
        char *buf = calloc(1, big);
        cr_assert_not_null(buf);
        cr_assert_eq(pk_port_send(p, buf, big), -ENOBUFS);
        free(buf);
        /* Part of the message went out: the sending side is closed for good. */
        cr_assert_eq(pk_port_send(p, "x", 1), PK_ECLOSED);
        size_t out, err;
        int pipe_size = fcntl(pk_port_output_fd(p), F_GETPIPE_SZ);
        cr_assert_gt(pipe_size, 0);
        drain_after_kill(p, &out, &err);
        cr_assert_geq(out, 1u << 20, "the host read %zu bytes", out);
        cr_assert_leq(out, (1u << 20) + 2 * 65536 + (size_t)pipe_size, "the host held %zu bytes",
                      out);
        pk_port_close(p, NULL);
}

Test(port_host, call_keeps_stderr_only_up_to_the_cap)
{
        struct pk_port_opts o = {
            .framing = {.kind = PK_FRAMING_STREAM, .max_message = 65536},
            .stderr_framing = {.kind = PK_FRAMING_STREAM, .max_message = 65536},
            .flags = PK_PORT_STDERR_CAPTURE,
            .recv_buffer_max = 1u << 20};
        /* The shell keeps stdout open while yes floods stderr. */
        const char *argv[] = {"sh", "-c", "yes >&2", NULL};
        struct pk_port *p;
        cr_assert_eq(pk_port_open_argv(argv, &o, &p), 0);
        struct pk_port_msg m;
        int r = pk_port_call(p, "x", 1, &m, 60000);
        cr_assert_eq(r, -ENOBUFS, "call: %d %s", r, pk_strerror(r));
        /* What was kept is there for pk_port_recv(). */
        cr_assert_eq(pk_port_recv(p, &m, 0), 1);
        cr_assert_eq(m.source, PK_PORT_FROM_ERR);
        cr_assert(m.len > 0 && m.data[0] == 'y');
        size_t out, err;
        drain_after_kill(p, &out, &err);
        cr_assert_eq(out, 0);
        cr_assert_leq(err, (1u << 20) + 2 * 65536 + (1u << 20), "the host held %zu bytes", err);
        pk_port_close(p, NULL);
}
