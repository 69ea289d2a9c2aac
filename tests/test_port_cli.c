/* SPDX-License-Identifier: MIT */
/* `portkit call`, run as a real process (through portkit's own port API):
 * raw and term modes, exit status reporting, timeouts, usage errors. */
#include <criterion/criterion.h>
#include <portkit/port.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PORTKIT PK_BUILD_DIR "/portkit"
#define ECHO PK_BUILD_DIR "/examples/echo"
#define CALC PK_BUILD_DIR "/examples/calc"
#define PROBE PK_BUILD_DIR "/tests/helpers/port_probe"

struct result {
        char out[8192];
        char err[8192];
        size_t out_len, err_len;
        int status;
};

/* Runs portkit with argv, feeding input on stdin; collects stdout, stderr, status. */
static void run(const char *const *argv, const char *input, struct result *res)
{
        memset(res, 0, sizeof(*res));
        struct pk_port_opts o = {.flags = PK_PORT_STDERR_CAPTURE | PK_PORT_EOF};
        struct pk_port *p;
        int r = pk_port_open_executable(PORTKIT, argv, &o, &p);
        cr_assert_eq(r, 0, "open portkit: %s", pk_strerror(r));
        if (input && *input)
                cr_assert_eq(pk_port_send(p, input, strlen(input)), 0);
        cr_assert_eq(pk_port_close_input(p), 0);
        struct pk_port_msg m;
        while ((r = pk_port_recv(p, &m, 30000)) == 1) {
                char *dst = m.source == PK_PORT_FROM_ERR ? res->err : res->out;
                size_t *len = m.source == PK_PORT_FROM_ERR ? &res->err_len : &res->out_len;
                cr_assert_lt(*len + m.len, sizeof(res->out));
                memcpy(dst + *len, m.data, m.len);
                *len += m.len;
        }
        cr_assert_eq(r, 0, "recv: %s", pk_strerror(r));
        struct pk_exit ex;
        cr_assert_eq(pk_port_wait(p, 30000, &ex), 0);
        res->status = pk_exit_shell(&ex);
        pk_port_close(p, NULL);
}

Test(cli_call, raw_packet_and_line)
{
        struct result r;
        const char *a[] = {"call", "--raw", "--packet", "2", "--", ECHO, "--packet", "2", NULL};
        run(a, "hello\nworld\n", &r);
        cr_assert_str_eq(r.out, "hello\nworld\n");
        cr_assert_str_eq(r.err, "exit_status 0\n");
        cr_assert_eq(r.status, 0);
        const char *l[] = {"call", "--raw", "--line", "4", "--", ECHO, "--line", "4", NULL};
        run(l, "ab\ncdefghij\n", &r);
        cr_assert_str_eq(r.out, "ab\ncdefghij\n");
        const char *s[] = {"call",     "--raw",         "--stream", "--nouse-stdio", "--", ECHO,
                           "--stream", "--nouse-stdio", NULL};
        run(s, "no framing at all", &r);
        cr_assert_str_eq(r.out, "no framing at all");
        cr_assert_eq(r.status, 0);
}

Test(cli_call, exit_status_is_reported_and_returned)
{
        struct result r;
        const char *e[] = {"call", "--raw", "--", PROBE, "exit", "3", NULL};
        run(e, "", &r);
        cr_assert_str_eq(r.err, "exit_status 3\n");
        cr_assert_eq(r.status, 3);
        const char *k[] = {"call", "--raw", "--", PROBE, "signal", "9", NULL};
        run(k, "", &r);
        cr_assert_str_eq(r.err, "exit_status 137 (signal 9, KILL)\n");
        cr_assert_eq(r.status, 137);
}

Test(cli_call, timeout_and_usage_errors)
{
        struct result r;
        const char *t[] = {"call", "--raw", "--timeout", "200ms", "--", PROBE, "noread", NULL};
        run(t, "never answered\n", &r);
        cr_assert_eq(r.status, 124);
        cr_assert(strstr(r.err, "timeout"), "%s", r.err);
        const char *bad[][8] = {
            {"call", "--packet", "3", "--", ECHO, NULL},
            {"call", "--line", "4", "--", ECHO, NULL},
            {"call", "--raw", NULL},
            {"call", "--timeout", "5x", "--", ECHO, NULL},
            {"call", "--format", "q", "--", ECHO, NULL},
            {"call", "--nouse-stdio", "--stderr-to-stdout", "--", ECHO, NULL},
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                run(bad[i], "", &r);
                cr_assert_eq(r.status, 100, "case %zu: %s", i, r.err);
        }
        const char *missing[] = {"call", "--raw", "--", "/nonexistent/prog", NULL};
        run(missing, "", &r);
        cr_assert_eq(r.status, 127);
}

Test(cli_call, terms_in_text_replies_as_w_and_p)
{
        struct result r;
        const char *a[] = {"call", "--", CALC, NULL};
        run(a,
            "{add, 2, 3}.\n{mul, 123456789012345678901234567890, 98765432109876543210}.\n"
            "{divide, -7, 2}. {divide, 7, 0}. % a comment\nhello.\n",
            &r);
        cr_assert_str_eq(r.out, "{ok,5}\n{ok,12193263113702179522496570642237463801111263526900}\n"
                                "{ok,-3}\n{error,badarith}\n{error,badarg}\n");
        cr_assert_str_eq(r.err, "exit_status 0\n");
        cr_assert_eq(r.status, 0);
        /* echo sends the ETF bytes back: ~w and ~p differ on strings */
        const char *w[] = {"call", "--", ECHO, "--packet", "4", NULL};
        run(w, "[104,105]. <<\"bin\">>.", &r);
        cr_assert_str_eq(r.out, "[104,105]\n<<98,105,110>>\n"); /* as Erlang ~w */
        const char *p[] = {"call", "--format", "p", "--nouse-stdio", "--",
                           ECHO,   "--packet", "4", "--nouse-stdio", NULL};
        run(p, "[104,105].", &r);
        cr_assert_str_eq(r.out, "\"hi\"\n");
        cr_assert_eq(r.status, 0);
}

Test(cli_call, bad_terms_and_bad_replies)
{
        struct result r;
        const char *a[] = {"call", "--", CALC, NULL};
        run(a, "{add, 1, 2}. {oops", &r);
        cr_assert_str_eq(r.out, "{ok,3}\n");
        cr_assert_eq(r.status, 1);
        cr_assert(strstr(r.err, "byte"), "%s", r.err);
        /* a reply that is not ETF */
        const char *b[] = {"call", "--", PROBE, "env", "HOME", NULL};
        run(b, "ping.", &r);
        cr_assert_eq(r.status, 1);
        cr_assert(strstr(r.err, "not a valid term"), "%s", r.err);
}
