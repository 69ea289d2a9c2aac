/* SPDX-License-Identifier: MIT */
/* `portkit call` through the real binary: the end of a port before its reply,
 * exit seen apart from EOF, timeouts on sending, signals that must take the
 * port's tree with them, streaming in both directions, strict options. */
#include "testutil.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define PORTKIT PK_BUILD_DIR "/portkit"
#define ECHO PK_BUILD_DIR "/examples/echo"
#define CALC PK_BUILD_DIR "/examples/calc"

static unsigned count(const char *hay, const char *needle)
{
        unsigned n = 0;
        for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
                n++;
        return n;
}

Test(cli_call, a_port_gone_before_its_reply_fails_every_time, .timeout = 120)
{
        for (int i = 0; i < 40; i++) {
                struct tu_res r;
                const char *a[] = {"call", "--", "true", NULL};
                tu_portkit_run(a, "{a}.\n", &r);
                cr_assert_eq(r.status, 1, "run %d: %d %s", i, r.status, r.err);
                cr_assert_eq(count(r.err, "portkit call:"), 1, "run %d: %s", i, r.err);
                cr_assert(strstr(r.err, "before replying to request 1"), "%s", r.err);
                tu_res_free(&r);
                /* a bad header, then exit */
                const char *b[] = {"call", "--", "sh", "-c", "printf '\\377\\377\\377\\377'", NULL};
                tu_portkit_run(b, "a.\n", &r);
                cr_assert_eq(r.status, 1, "run %d: %d %s", i, r.status, r.err);
                cr_assert_eq(count(r.err, "portkit call:"), 1, "run %d: %s", i, r.err);
                tu_res_free(&r);
        }
        /* Without requests the port's own status is the answer. */
        struct tu_res r;
        const char *e[] = {"call", "--", "sh", "-c", "exit 3", NULL};
        tu_portkit_run(e, "% only a comment\n", &r);
        cr_assert_eq(r.status, 3, "%s", r.err);
        cr_assert_str_eq(r.err, "exit_status 3\n");
        tu_res_free(&r);
}

Test(cli_call, exit_is_seen_while_a_grandchild_holds_the_output, .timeout = 60)
{
        struct tu_res r;
        const char *a[] = {"call", "--", "/bin/sh", "-c", "sleep 1000 & exit 7", NULL};
        tu_portkit_run(a, "", &r);
        cr_assert_eq(r.status, 7, "%s", r.err);
        cr_assert(strstr(r.err, "output may be incomplete"), "%s", r.err);
        cr_assert(strstr(r.err, "exit_status 7\n"), "%s", r.err);
        tu_res_free(&r);
        tu_portkit_run(a, "hello.\n", &r);
        cr_assert_eq(r.status, 1, "%s", r.err);
        cr_assert(strstr(r.err, "exited before replying to request 1"), "%s", r.err);
        cr_assert(strstr(r.err, "exit_status 7\n"), "%s", r.err);
        tu_res_free(&r);
}

Test(cli_call, the_timeout_bounds_sending, .timeout = 60)
{
        /* a 3 MB binary term to a program that never reads */
        size_t n = 3u << 20;
        char *text = malloc(n + 16);
        cr_assert_not_null(text);
        memcpy(text, "<<\"", 3);
        memset(text + 3, 'a', n);
        memcpy(text + 3 + n, "\">>.\n", 6);
        int out, err, ws;
        const char *a[] = {"call", "--timeout", "300ms", "--", "sleep", "1000", NULL};
        pid_t pid = tu_portkit_start(a, text, strlen(text), NULL, &out, &err);
        cr_assert_eq(waitpid(pid, &ws, 0), pid);
        char *e = tu_slurp_fd(err);
        cr_assert_eq(tu_status_of(ws), 124, "%s", e);
        cr_assert(strstr(e, "did not read its input"), "%s", e);
        free(e);
        free(tu_slurp_fd(out));
        /* raw stream: 20 MB to `yes`, which floods its output and never reads */
        free(text);
        n = 20u << 20;
        text = calloc(1, n);
        const char *b[] = {"call", "--raw", "--stream", "--timeout", "300ms", "--", "yes", NULL};
        int in;
        pid = tu_portkit_start(b, NULL, 0, &in, &out, &err);
        /* feed until portkit stops reading or goes */
        signal(SIGPIPE, SIG_IGN);
        for (size_t off = 0; off < n;) {
                ssize_t w = write(in, text + off, n - off > 65536 ? 65536 : n - off);
                if (w <= 0)
                        break;
                off += (size_t)w;
                if (waitpid(pid, &ws, WNOHANG) == pid)
                        goto reaped;
        }
        cr_assert_eq(waitpid(pid, &ws, 0), pid);
reaped:
        close(in);
        free(text);
        e = tu_slurp_fd(err);
        cr_assert_eq(tu_status_of(ws), 124, "%s", e);
        free(e);
        close(out);
}

static void interrupt_case(int sig)
{
        char dir[] = "/tmp/pk_cli_sigXXXXXX";
        cr_assert_not_null(mkdtemp(dir));
        char pidfile[128], script[1024];
        snprintf(pidfile, sizeof(pidfile), "%s/pids", dir);
        snprintf(script, sizeof(script),
                 "echo $$ > %s.t; sleep 1000 & echo $! >> %s.t; mv %s.t %s; wait", pidfile, pidfile,
                 pidfile, pidfile);
        const char *a[] = {"call", "--", "sh", "-c", script, NULL};
        int in, out, err, ws;
        pid_t pid = tu_portkit_start(a, NULL, 0, &in, &out, &err);
        pid_t pids[2];
        tu_read_pids(pidfile, pids, 2);
        cr_assert_eq(kill(pid, sig), 0);
        cr_assert_eq(waitpid(pid, &ws, 0), pid);
        cr_assert_eq(tu_status_of(ws), 128 + sig, "status %d", tu_status_of(ws));
        tu_wait_gone(pids[0]);
        if (sig != SIGKILL)
                tu_wait_gone(pids[1]);
        else
                kill(pids[1], SIGKILL); /* PDEATHSIG reaches the child only */
        close(in);
        close(out);
        close(err);
        unlink(pidfile);
        rmdir(dir);
}

Test(cli_call, signals_take_the_port_tree_with_them, .timeout = 60)
{
        prctl(PR_SET_CHILD_SUBREAPER, 1);
        interrupt_case(SIGINT);
        interrupt_case(SIGTERM);
        interrupt_case(SIGHUP);
        interrupt_case(SIGKILL);
}

/* Reads from fd until the text read so far contains want. */
static void read_until(int fd, const char *want)
{
        char buf[4096];
        size_t len = 0;
        off_t off = 0;
        for (int i = 0; i < 4000; i++) {
                ssize_t n = pread(fd, buf + len, sizeof(buf) - 1 - len, off);
                if (n > 0) {
                        len += (size_t)n;
                        off += n;
                        buf[len] = 0;
                        if (strstr(buf, want))
                                return;
                }
                usleep(5000);
        }
        cr_assert_fail("never saw '%s' (got '%.*s')", want, (int)len, buf);
}

Test(cli_call, each_term_goes_out_when_complete_and_each_reply_comes_back, .timeout = 60)
{
        const char *a[] = {"call", "--", CALC, NULL};
        int in, out, err, ws;
        pid_t pid = tu_portkit_start(a, NULL, 0, &in, &out, &err);
        /* The reply comes while stdin is still open: nothing waits for EOF. */
        cr_assert_eq(write(in, "{add, 1, 2}.\n{mul,", 18), 18);
        read_until(out, "{ok,3}\n");
        cr_assert_eq(write(in, " 2, 5}.\n", 8), 8);
        read_until(out, "{ok,10}\n");
        close(in);
        cr_assert_eq(waitpid(pid, &ws, 0), pid);
        cr_assert_eq(tu_status_of(ws), 0);
        char *o = tu_slurp_fd(out), *e = tu_slurp_fd(err);
        cr_assert_str_eq(o, "{ok,3}\n{ok,10}\n");
        cr_assert_str_eq(e, "exit_status 0\n");
        free(o);
        free(e);
}

Test(cli_call, strict_options_and_input_limits)
{
        const char *bad_durations[] = {"0x10", " 5", "5 ", "1e3", "inf", "nan",
                                       "-1",   "+1", "5x", "",    "."};
        for (size_t i = 0; i < sizeof(bad_durations) / sizeof(bad_durations[0]); i++) {
                struct tu_res r;
                const char *a[] = {"call", "--timeout", bad_durations[i], "--", "true", NULL};
                tu_portkit_run(a, "", &r);
                cr_assert_eq(r.status, 100, "'%s' accepted", bad_durations[i]);
                tu_res_free(&r);
        }
        const char *good[] = {"0", "infinity", "1.5s", "100ms", "2m", "1h", "1d"};
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                struct tu_res r;
                const char *a[] = {"call", "--timeout", good[i], "--", ECHO, "--packet", "4", NULL};
                tu_portkit_run(a, "x.\n", &r);
                cr_assert_eq(r.status, 0, "'%s': %s", good[i], r.err);
                cr_assert_str_eq(r.out, "x\n");
                tu_res_free(&r);
        }
        struct tu_res r;
        const char *empty[] = {"call", "--", "", NULL};
        tu_portkit_run(empty, "", &r);
        cr_assert_eq(r.status, 100, "%s", r.err);
        tu_res_free(&r);
        const char *unknown[] = {"call", "--bogus", "--", ECHO, NULL};
        tu_portkit_run(unknown, "", &r);
        cr_assert_eq(r.status, 100);
        cr_assert(strstr(r.err, "unknown option '--bogus'"), "%s", r.err);
        tu_res_free(&r);
        /* a term longer than --max-input */
        char big[3000];
        memset(big, 'a', sizeof(big));
        big[0] = '"';
        memcpy(big + sizeof(big) - 4, "\".\n", 4);
        const char *cap[] = {"call", "--max-input", "1k", "--", ECHO, NULL};
        tu_portkit_run(cap, big, &r);
        cr_assert_eq(r.status, 1, "%s", r.err);
        cr_assert(strstr(r.err, "--max-input"), "%s", r.err);
        tu_res_free(&r);
        /* a NUL byte is named */
        int out, err, ws;
        const char *a[] = {"call", "--", ECHO, NULL};
        pid_t pid = tu_portkit_start(a, "ok.\0\n", 5, NULL, &out, &err);
        cr_assert_eq(waitpid(pid, &ws, 0), pid);
        char *e = tu_slurp_fd(err);
        cr_assert(strstr(e, "NUL byte"), "%s", e);
        free(e);
        free(tu_slurp_fd(out));
        /* --help names the default timeout */
        const char *h[] = {"call", "--help", NULL};
        tu_portkit_run(h, "", &r);
        cr_assert_eq(r.status, 0);
        cr_assert(strstr(r.out, "default: 60s"), "%s", r.out);
        cr_assert(strstr(r.out, "infinity"), "%s", r.out);
        tu_res_free(&r);
}

/* Reads the pty master until its text so far contains want. */
static void pty_until(int m, const char *want, char *buf, size_t size)
{
        size_t len = 0;
        buf[0] = 0;
        while (!strstr(buf, want)) {
                ssize_t n = read(m, buf + len, size - 1 - len);
                cr_assert_gt(n, 0, "the terminal closed before '%s' (got '%s')", want, buf);
                len += (size_t)n;
                buf[len] = 0;
        }
}

/* In a terminal: each line typed gets its reply at once; ^D ends the call. */
Test(cli_call, works_in_a_terminal, .timeout = 60)
{
        const char *a[] = {"call", "--", CALC, NULL};
        int m;
        pid_t pid = tu_portkit_start_pty(a, &m);
        char buf[4096];
        cr_assert_eq(write(m, "{add, 1, 2}.\n", 13), 13);
        pty_until(m, "{ok,3}", buf, sizeof(buf));
        cr_assert_eq(write(m, "{mul, 6, 7}.\n", 13), 13);
        pty_until(m, "{ok,42}", buf, sizeof(buf));
        cr_assert_eq(write(m, "\x04", 1), 1); /* ^D: end of input */
        pty_until(m, "exit_status 0", buf, sizeof(buf));
        int ws;
        cr_assert_eq(waitpid(pid, &ws, 0), pid);
        cr_assert_eq(tu_status_of(ws), 0);
        close(m);
}
