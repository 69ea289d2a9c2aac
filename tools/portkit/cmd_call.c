/* SPDX-License-Identifier: MIT */
/* `portkit call`: opens a program as a port, sends the terms read from stdin
 * (Erlang text syntax, each ending with '.') as ETF the moment each is
 * complete, prints each reply as ~w or ~p as it arrives, then closes the
 * port's input, waits, reports the exit status on stderr and exits with it.
 * Lets a developer test a port program without starting Erlang.  --raw sends
 * and prints bytes as they are.
 *
 * Everything runs on one pk_loop: stdin, the port (its output, its input
 * queue and its exit through a pidfd, independent of EOF), the timeouts and
 * SIGINT/SIGTERM/SIGHUP.  Memory is bounded: stdin is read only while the
 * port takes input, and one term's text is capped (--max-input). */
#include "cli.h"
#include "common/dynbuf.h"
#include "portkit.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CALL_EXIT_TIMEOUT 124               /* as timeout(1) */
#define CALL_READ_CHUNK ((size_t)64 * 1024) /* bytes read from stdin at a time */
#define CALL_DEFAULT_MAX_INPUT (64ULL << 20)
#define CALL_HELD_PASSES 1000 /* loop passes to drain output after the exit */

static const char call_usage[] =
    "usage: portkit call [--packet N | --line L | --stream] [--nouse-stdio]\n"
    "                    [--stderr-to-stdout] [--timeout DURATION] [--format w|p] [--raw]\n"
    "                    [--max-input SIZE] -- PROG ARGS...\n"
    "\n"
    "Opens PROG as an Erlang port ({packet,4} unless told otherwise), reads terms in\n"
    "Erlang text syntax from stdin (each ending with '.'), sends each encoded as ETF\n"
    "as soon as it is complete and prints each reply on its own line as ~w (or ~p\n"
    "with --format p) as soon as it arrives, so it works from a terminal too.  When\n"
    "stdin ends and every request has its reply, it closes the port's input, waits\n"
    "for PROG, prints its exit status to stderr (exit_status N) and exits with it\n"
    "(128+N for death by signal N, as Erlang's exit_status).\n"
    "\n"
    "  --packet N          {packet,N} framing, N = 1, 2 or 4 (default 4)\n"
    "  --line L            {line,L} framing (needs --raw)\n"
    "  --stream            no framing (needs --raw)\n"
    "  --nouse-stdio       PROG talks on fds 3 and 4 (Erlang's nouse_stdio)\n"
    "  --stderr-to-stdout  PROG's stderr goes into the port's output\n"
    "  --timeout DURATION  the longest wait for each reply, for PROG to take its\n"
    "                      input, and for PROG to exit once its input is closed;\n"
    "                      then PROG's process group is killed and the exit status\n"
    "                      is 124.  DURATION is a number with a unit ms, s (default),\n"
    "                      m, h or d; 0 or 'infinity' waits forever (default: 60s)\n"
    "  --format w|p        print replies as ~w (default) or ~p\n"
    "  --raw               no ETF: with --packet each stdin line is one message and\n"
    "                      each reply is printed followed by a newline; with --line\n"
    "                      or --stream stdin is sent as it comes and the output\n"
    "                      printed as it comes (line pieces without eol get no newline)\n"
    "  --max-input SIZE    longest text of one term (or one --raw line) on stdin,\n"
    "                      with an optional suffix k, M or G (default 64M)\n"
    "\n"
    "Each request (a term, or a line with --raw --packet) expects a reply: if PROG\n"
    "closes its output or exits before replying to one, the call fails (status 1).\n"
    "PROG's exit is seen through its pidfd, not at end of its output: if a process\n"
    "it started still holds the output open, the call reports the exit at once,\n"
    "says the output may be incomplete, and kills what is left of its process group.\n"
    "SIGINT, SIGTERM and SIGHUP kill PROG's process group; PROG also gets SIGKILL if\n"
    "portkit itself dies (PR_SET_PDEATHSIG).\n"
    "\n"
    "Exit status: PROG's; 1 for bad input, a bad or missing reply; 100 for bad\n"
    "usage; 111 for a system failure; 124 on timeout; 127 if PROG is not found;\n"
    "128+N after signal N.\n"
    "\n"
    "Example: echo '{add, 2, 3}.' | portkit call -- build/examples/calc\n";

struct call_opts {
        struct pk_port_opts port;
        int64_t timeout_ms; /* < 0: forever */
        unsigned long long max_input;
        bool pretty;
        bool raw;
};

/* Where the scanner that splits stdin into terms is (see scan_terms()). */
enum scan_state {
        SC_NORMAL,
        SC_STRING,
        SC_STRING_ESC,
        SC_ATOM,
        SC_ATOM_ESC,
        SC_COMMENT,
        SC_CHAR,
        SC_CHAR_ESC,
        SC_DOT,
};

struct call {
        struct call_opts o;
        const char *prog;
        struct pk_loop *loop;
        struct pk_port *port;
        pid_t pid;
        /* stdin */
        struct pk_loop_io in_io;
        struct pk_loop_defer in_defer; /* stdin that epoll refuses (a file, /dev/null) */
        bool in_pollable;
        bool in_eof;     /* stdin ended (or failed) */
        bool input_done; /* nothing more will be sent */
        bool input_closed;
        struct pk__dynbuf in; /* unconsumed stdin bytes, capped (see read_input) */
        size_t base;          /* stdin offset of in.p[0] */
        size_t scan;          /* bytes of buf the scanner has seen */
        size_t dot_at;
        enum scan_state st;
        /* requests and replies */
        unsigned long long sent, replied;
        /* the port */
        bool eof_seen, exited, finished;
        bool draining, drained; /* reading the rest of stdin for requests after the end */
        struct pk_exit ex;
        unsigned held_passes;
        struct pk_loop_defer held_defer;
        struct pk_loop_timer t_send, t_recv;
        size_t last_queued;
        struct pk_loop_signal sig[3];
        int fail; /* first failure's exit code, 0 if none */
};

static bool requests(const struct call *c)
{
        return c->o.port.framing.kind == PK_FRAMING_PACKET;
}

static void fail(struct call *c, int code)
{
        if (!c->fail)
                c->fail = code;
}

static int write_all(int fd, const void *p, size_t len)
{
        const char *s = p;
        while (len > 0) {
                ssize_t n = write(fd, s, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return -1;
                s += n;
                len -= (size_t)n;
        }
        return 0;
}

static void update(struct call *c);
static void on_recv_timer(struct pk_loop_timer *t);

/* Kills the port's process group: the program and what it started. */
static void kill_tree(struct call *c)
{
        if (c->pid > 0)
                (void)kill(-c->pid, SIGKILL);
}

static void stop_input(struct call *c)
{
        c->input_done = true;
        if (c->in_pollable)
                pk_loop_io_stop(&c->in_io);
        else
                pk_loop_defer_stop(&c->in_defer);
}

static void close_input(struct call *c)
{
        stop_input(c);
        if (c->input_closed)
                return;
        c->input_closed = true;
        (void)pk_port_close_input(c->port);
        /* From now on the wait is for the exit, bounded by --timeout from here. */
        if (c->o.timeout_ms >= 0 && !c->exited)
                (void)pk_loop_timer_start(&c->t_recv, c->o.timeout_ms, 0, on_recv_timer);
}

/* ---- ending --------------------------------------------------------------- */

static void start_drain(struct call *c);

static void finish(struct call *c)
{
        if (c->finished || c->draining)
                return;
        /* The port ended with every request answered.  Whether this was a
         * request-free run depends on what stdin still holds: read it until the
         * first term or EOF (not from a terminal, where nothing typed yet is
         * nothing asked). */
        if (!c->drained && !c->fail && requests(c) && c->replied >= c->sent &&
            (!c->in_eof || c->in.len > 0) && (c->in_eof || !isatty(0))) {
                start_drain(c);
                return;
        }
        c->finished = true;
        bool unanswered = requests(c) && c->replied < c->sent;
        if (!c->fail && unanswered) {
                pk_cli_error("call", "%s %s before replying to request %llu%s", c->prog,
                             c->eof_seen ? "closed its output" : "exited", c->replied + 1,
                             c->eof_seen ? "" : " (a process it started holds its output open)");
                fail(c, PK_CLI_EXIT_BADINPUT);
        } else if (!c->fail && !c->eof_seen) {
                pk_cli_error("call",
                             "%s exited but a process it started holds its output open; "
                             "output may be incomplete",
                             c->prog);
        }
        /* What is left of the group (a process holding the output) goes too. */
        if (!c->eof_seen)
                kill_tree(c);
        pk_loop_timer_stop(&c->t_send);
        pk_loop_timer_stop(&c->t_recv);
        stop_input(c);
        pk_loop_stop(c->loop);
}

static void held_check(struct pk_loop_defer *d)
{
        struct call *c = d->w.ctx;
        if (c->eof_seen || c->finished) {
                finish(c);
                return;
        }
        int fd = pk_port_output_fd(c->port);
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (fd < 0 || ++c->held_passes > CALL_HELD_PASSES || poll(&pf, 1, 0) == 0) {
                finish(c);
                return;
        }
        /* Output is still coming in (or its EOF is): let the loop read it. */
        (void)pk_loop_defer_start(&c->held_defer, held_check);
}

static void timed_out(struct call *c, const char *what)
{
        if (c->finished || c->exited)
                return;
        if (!c->fail)
                pk_cli_error("call", "%s%s within the timeout; killing it",
                             what[0] == ' ' ? c->prog : "", what);
        fail(c, CALL_EXIT_TIMEOUT);
        kill_tree(c);
        stop_input(c);
        pk_loop_timer_stop(&c->t_send);
        pk_loop_timer_stop(&c->t_recv);
}

static void on_send_timer(struct pk_loop_timer *t)
{
        struct call *c = t->w.ctx;
        size_t q = pk_port_queued(c->port);
        if (q == 0)
                return;
        if (q < c->last_queued) { /* it reads, slowly: that is progress */
                c->last_queued = q;
                (void)pk_loop_timer_start(t, c->o.timeout_ms, 0, on_send_timer);
                return;
        }
        timed_out(c,
                  c->input_closed ? "PROG did not read its input" : "PROG did not take its input");
}

static void on_recv_timer(struct pk_loop_timer *t)
{
        struct call *c = t->w.ctx;
        if (c->draining) { /* stdin says nothing more within the timeout */
                c->draining = false;
                stop_input(c);
                finish(c);
                return;
        }
        if (pk_port_queued(c->port) > 0)
                timed_out(c, " did not read its input");
        else if (c->input_closed && (!requests(c) || c->replied >= c->sent))
                timed_out(c, " did not exit");
        else
                timed_out(c, "no reply");
}

static void on_signal(struct pk_loop_signal *s, const struct pk_loop_siginfo *si)
{
        struct call *c = s->w.ctx;
        (void)si;
        if (c->fail && c->fail > 128)
                return;
        c->fail = 128 + s->signo; /* a signal overrides any earlier failure */
        kill_tree(c);
        stop_input(c);
        pk_loop_timer_stop(&c->t_send);
        pk_loop_timer_stop(&c->t_recv);
}

/* ---- sending -------------------------------------------------------------- */

static int send_msg(struct call *c, const void *data, size_t len)
{
        int r = pk_port_send(c->port, data, len);
        if (r == -EPIPE || r == PK_ECLOSED) {
                /* It stopped reading: the request still counts (it has no reply),
                 * and the end tells why. */
                if (requests(c))
                        c->sent++;
                stop_input(c);
                return r;
        }
        if (r < 0) {
                pk_cli_error("call", "cannot send to %s: %s", c->prog, pk_strerror(r));
                fail(c, PK_CLI_EXIT_BADINPUT);
                stop_input(c);
                return r;
        }
        if (requests(c)) {
                if (c->sent == c->replied && c->o.timeout_ms >= 0)
                        (void)pk_loop_timer_start(&c->t_recv, c->o.timeout_ms, 0, on_recv_timer);
                c->sent++;
        }
        return 0;
}

/* Encodes one term's text as ETF and sends it.  Returns 0, or -1 after a
 * message (input then stops). */
static int send_term_text(struct call *c, size_t start, size_t end)
{
        size_t pos = start;
        while (pos < end && !c->input_done) {
                pk_arena *a = pk_arena_new(0);
                if (!a) {
                        pk_cli_error("call", "out of memory");
                        fail(c, PK_CLI_EXIT_SYSTEM);
                        stop_input(c);
                        return -1;
                }
                struct pk_term *t = NULL;
                size_t used = 0;
                struct pk_etf_text_error te = {0};
                int r = pk_etf_parse(a, c->in.p + pos, end - pos, NULL, &t, &used, &te);
                if (r == 0 || (r > 0 && !t)) {
                        pk_arena_free(a);
                        return 0; /* blanks and comments */
                }
                struct pk_etf_buf out;
                pk_etf_buf_init(&out, 0);
                if (r > 0) {
                        const struct pk_etf_encode_opts eo = PK_ETF_ENCODE_OPTS_INIT;
                        r = pk_etf_encode(&out, t, &eo);
                }
                pk_arena_free(a);
                if (r < 0) {
                        if (r == PK_ESYNTAX)
                                pk_cli_error("call", "stdin: %s at byte %zu",
                                             te.message[0] ? te.message : "syntax error",
                                             c->base + pos + te.offset);
                        else
                                pk_cli_error("call", "bad term at byte %zu of stdin: %s",
                                             c->base + pos, pk_strerror(r));
                        pk_etf_buf_free(&out);
                        fail(c, PK_CLI_EXIT_BADINPUT);
                        stop_input(c);
                        return -1;
                }
                r = send_msg(c, out.data, out.len);
                pk_etf_buf_free(&out);
                if (r < 0)
                        return -1;
                pos += used ? used : end - pos;
        }
        return 0;
}

static bool is_blank(char ch)
{
        return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

/* Advances the scanner over buf[scan..len) and returns the end of the first
 * complete term text (just past its terminating '.'), or 0 if none is
 * complete yet.  A '.' ends a term when it is followed by a blank, a '%' or
 * the end of input, outside strings, quoted atoms, comments and character
 * literals (so 1.5 and $. do not).  Returns (size_t)-1 on a NUL byte. */
static size_t scan_terms(struct call *c)
{
        for (; c->scan < c->in.len; c->scan++) {
                char ch = c->in.p[c->scan];
                switch (c->st) {
                case SC_DOT:
                        c->st = SC_NORMAL;
                        if (is_blank(ch) || ch == '%')
                                return c->dot_at + 1;
                        /* not an end: look at ch as ordinary text */
                        __attribute__((fallthrough));
                case SC_NORMAL:
                        if (ch == '\0')
                                return (size_t)-1;
                        if (ch == '"')
                                c->st = SC_STRING;
                        else if (ch == '\'')
                                c->st = SC_ATOM;
                        else if (ch == '%')
                                c->st = SC_COMMENT;
                        else if (ch == '$')
                                c->st = SC_CHAR;
                        else if (ch == '.') {
                                c->st = SC_DOT;
                                c->dot_at = c->scan;
                        }
                        break;
                case SC_STRING:
                        c->st = ch == '\\' ? SC_STRING_ESC : ch == '"' ? SC_NORMAL : SC_STRING;
                        break;
                case SC_STRING_ESC:
                        c->st = SC_STRING;
                        break;
                case SC_ATOM:
                        c->st = ch == '\\' ? SC_ATOM_ESC : ch == '\'' ? SC_NORMAL : SC_ATOM;
                        break;
                case SC_ATOM_ESC:
                        c->st = SC_ATOM;
                        break;
                case SC_COMMENT:
                        if (ch == '\n')
                                c->st = SC_NORMAL;
                        break;
                case SC_CHAR:
                        c->st = ch == '\\' ? SC_CHAR_ESC : SC_NORMAL;
                        break;
                case SC_CHAR_ESC:
                        c->st = SC_NORMAL;
                        break;
                }
        }
        if (c->in_eof && c->st == SC_DOT) {
                c->st = SC_NORMAL;
                return c->dot_at + 1;
        }
        return 0;
}

static void consume(struct call *c, size_t n)
{
        pk__dynbuf_consume(&c->in, n);
        c->base += n;
        c->scan = c->scan > n ? c->scan - n : 0;
        c->dot_at = c->dot_at > n ? c->dot_at - n : 0;
}

/* Sends what stdin's buffer holds, as far as the port takes it. */
static void process_input(struct call *c)
{
        /* Set when the first pending term or line is (or cannot yet be less
         * than) longer than --max-input. */
        bool too_long = false;
        while (!c->input_done && !pk_port_busy(c->port) && c->in.len > 0) {
                if (c->o.raw && !requests(c)) {
                        if (send_msg(c, c->in.p, c->in.len) == 0)
                                consume(c, c->in.len);
                        return;
                }
                size_t end;
                if (c->o.raw) {
                        const char *nl = memchr(c->in.p, '\n', c->in.len);
                        end = nl ? (size_t)(nl - c->in.p) : c->in.len;
                        too_long = end > c->o.max_input;
                        if (too_long || (!nl && !c->in_eof))
                                break;
                        if (send_msg(c, c->in.p, end) == 0)
                                consume(c, nl ? end + 1 : end);
                        continue;
                }
                end = scan_terms(c);
                if (end == (size_t)-1) {
                        pk_cli_error("call", "stdin: a NUL byte at byte %zu (terms are text)",
                                     c->base + c->scan);
                        fail(c, PK_CLI_EXIT_BADINPUT);
                        stop_input(c);
                        return;
                }
                if (end == 0 && c->in_eof)
                        end = c->in.len; /* the last term's text, with or without its '.' */
                too_long = (end ? end : c->in.len) > c->o.max_input;
                if (end == 0 || too_long)
                        break;
                if (send_term_text(c, 0, end) < 0)
                        return;
                consume(c, end);
        }
        if (too_long && !c->input_done) {
                pk_cli_error("call",
                             "stdin: a %s longer than %llu bytes at byte %zu (see --max-input)",
                             c->o.raw ? "line" : "term", c->o.max_input, c->base);
                fail(c, PK_CLI_EXIT_BADINPUT);
                stop_input(c);
        }
}

/* Draining (see finish()): is there one more request in stdin? */
static void drain_check(struct call *c)
{
        bool more = false;
        if (c->o.raw) {
                more = memchr(c->in.p, '\n', c->in.len) || (c->in_eof && c->in.len > 0);
        } else {
                size_t end = scan_terms(c);
                more = end != 0;
                if (!more && c->in_eof && c->in.len > 0) {
                        pk_arena *a = pk_arena_new(0);
                        struct pk_term *t = NULL;
                        more = !a || pk_etf_parse(a, c->in.p, c->in.len, NULL, &t, NULL, NULL) != 0;
                        pk_arena_free(a);
                }
        }
        more = more || c->in.len > c->o.max_input;
        if (!more && !c->in_eof)
                return;
        if (more)
                c->sent++; /* one that will never be answered */
        c->draining = false;
        stop_input(c);
        finish(c);
}

static void read_input(struct call *c)
{
        if (c->in_eof || (!c->draining && (c->input_done || pk_port_busy(c->port))))
                return;
        /* Input is read only while what is pending is shorter than
         * --max-input (process_input and drain_check stop it otherwise), so
         * the cap of --max-input plus one read is never reached by input
         * that is accepted; it bounds the buffer whatever happens. */
        char *room = pk__dynbuf_room(&c->in, CALL_READ_CHUNK);
        if (!room) {
                if (c->in.err == -ENOMEM)
                        pk_cli_error("call", "out of memory reading stdin");
                else
                        pk_cli_error("call", "stdin: more than %zu bytes pending (see --max-input)",
                                     c->in.max);
                fail(c, c->in.err == -ENOMEM ? PK_CLI_EXIT_SYSTEM : PK_CLI_EXIT_BADINPUT);
                stop_input(c);
                return;
        }
        ssize_t n = read(0, room, CALL_READ_CHUNK);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return;
        if (n < 0) {
                pk_cli_error("call", "cannot read stdin: %s", strerror(errno));
                fail(c, PK_CLI_EXIT_SYSTEM);
                stop_input(c);
                return;
        }
        if (n == 0)
                c->in_eof = true;
        pk__dynbuf_commit(&c->in, (size_t)n);
        if (c->draining)
                drain_check(c);
        else
                process_input(c);
}

static void on_stdin(struct pk_loop_io *io, unsigned revents);
static void on_stdin_defer(struct pk_loop_defer *d);

static void start_drain(struct call *c)
{
        c->draining = c->drained = true;
        if (!c->in_eof) {
                if (c->in_pollable)
                        (void)pk_loop_io_start(&c->in_io, PK_LOOP_READ, on_stdin);
                else
                        (void)pk_loop_defer_start(&c->in_defer, on_stdin_defer);
                if (c->o.timeout_ms >= 0)
                        (void)pk_loop_timer_start(&c->t_recv, c->o.timeout_ms, 0, on_recv_timer);
        }
        drain_check(c);
}

static void on_stdin(struct pk_loop_io *io, unsigned revents)
{
        struct call *c = io->w.ctx;
        (void)revents;
        read_input(c);
        update(c);
}

static void on_stdin_defer(struct pk_loop_defer *d)
{
        struct call *c = d->w.ctx;
        read_input(c);
        if (c->draining && !c->in_eof)
                (void)pk_loop_defer_start(&c->in_defer, on_stdin_defer);
        update(c);
}

/* Decides what to watch next and whether the input can be closed. */
static void update(struct call *c)
{
        if (c->finished || c->draining)
                return;
        bool want = !c->input_done && !c->in_eof && !pk_port_busy(c->port);
        if (c->in_pollable) {
                if (want && !pk_loop_is_active(&c->in_io.w))
                        (void)pk_loop_io_start(&c->in_io, PK_LOOP_READ, on_stdin);
                else if (!want)
                        pk_loop_io_stop(&c->in_io);
        } else if (want) {
                (void)pk_loop_defer_start(&c->in_defer, on_stdin_defer);
        }
        if (c->in_eof && c->in.len == 0)
                c->input_done = true;
        bool all_replied = !requests(c) || c->replied >= c->sent;
        if (c->input_done && !c->input_closed && (all_replied || c->fail || c->eof_seen))
                close_input(c);
        size_t q = pk_port_queued(c->port);
        if (q > 0 && c->o.timeout_ms >= 0 && !pk_loop_is_active(&c->t_send.w)) {
                c->last_queued = q;
                (void)pk_loop_timer_start(&c->t_send, c->o.timeout_ms, 0, on_send_timer);
        } else if (q == 0) {
                pk_loop_timer_stop(&c->t_send);
        }
}

/* ---- the port's callbacks ------------------------------------------------- */

/* Decodes an ETF reply and prints it as ~w or ~p into *ret_text (caller frees). */
static int print_term(const uint8_t *data, size_t len, bool pretty, char **ret_text,
                      size_t *ret_len)
{
        pk_arena *a = pk_arena_new(0);
        if (!a)
                return -ENOMEM;
        struct pk_term *t;
        const struct pk_etf_decode_opts dopts = {.flags = PK_ETF_NO_TRAILING};
        int r = pk_etf_decode(a, data, len, &dopts, &t, NULL, NULL);
        if (r == 0)
                r = pretty ? pk_etf_print_p(t, NULL, ret_text, ret_len)
                           : pk_etf_print_w(t, ret_text, ret_len);
        pk_arena_free(a);
        return r;
}

static void on_message(struct pk_port *p, const struct pk_port_msg *m, void *ctx)
{
        struct call *c = ctx;
        (void)p;
        if (c->finished || c->fail == CALL_EXIT_TIMEOUT || c->fail > 128)
                return; /* interrupted or timed out: the rest is not wanted */
        int w = 0;
        if (c->o.raw) {
                bool nl = requests(c) || m->flags == PK_PACKET_EOL;
                w = write_all(1, m->data, m->len) < 0 || (nl && write_all(1, "\n", 1) < 0);
        } else {
                char *text = NULL;
                size_t tlen = 0;
                int r = print_term(m->data, m->len, c->o.pretty, &text, &tlen);
                if (r < 0) {
                        if (!c->fail)
                                pk_cli_error("call", "reply %llu is not a valid term (%s)",
                                             c->replied + 1, pk_strerror(r));
                        fail(c, PK_CLI_EXIT_BADINPUT);
                        stop_input(c);
                } else {
                        w = write_all(1, text, tlen) < 0 || write_all(1, "\n", 1) < 0;
                        free(text);
                }
        }
        if (w) {
                pk_cli_error("call", "cannot write stdout: %s", strerror(errno));
                fail(c, PK_CLI_EXIT_SYSTEM);
                stop_input(c);
        }
        if (requests(c)) {
                c->replied++;
                if (c->replied < c->sent && c->o.timeout_ms >= 0)
                        (void)pk_loop_timer_start(&c->t_recv, c->o.timeout_ms, 0, on_recv_timer);
                else if (!c->input_closed)
                        pk_loop_timer_stop(&c->t_recv);
        }
        update(c);
}

static void on_eof(struct pk_port *p, void *ctx)
{
        struct call *c = ctx;
        (void)p;
        c->eof_seen = true;
        if (requests(c)) {
                /* No reply can come any more: stop sending. */
                stop_input(c);
        }
        if (c->exited)
                finish(c);
        else
                update(c);
}

static void on_exit_cb(struct pk_port *p, const struct pk_exit *ex, void *ctx)
{
        struct call *c = ctx;
        (void)p;
        c->exited = true;
        c->ex = *ex;
        pk_loop_timer_stop(&c->t_send);
        pk_loop_timer_stop(&c->t_recv);
        stop_input(c);
        if (c->eof_seen)
                finish(c);
        else
                held_check(&c->held_defer);
}

static void on_error(struct pk_port *p, int err, void *ctx)
{
        struct call *c = ctx;
        (void)p;
        if (err == -EPIPE) { /* it stopped reading: the end says why */
                stop_input(c);
                update(c);
                return;
        }
        if (!c->fail) {
                if (err == PK_EFRAMESIZE)
                        pk_cli_error("call",
                                     "%s sent a frame header over the maximum size "
                                     "(is its framing the same as --packet?)",
                                     c->prog);
                else if (err == PK_EPARTIAL)
                        pk_cli_error("call", "%s's output ended inside a frame", c->prog);
                else
                        pk_cli_error("call", "%s: %s", c->prog, pk_strerror(err));
        }
        fail(c, PK_CLI_EXIT_BADINPUT);
        stop_input(c);
        update(c);
}

static void on_drain(struct pk_port *p, void *ctx)
{
        struct call *c = ctx;
        (void)p;
        process_input(c);
        update(c);
}

/* ---- options and main ----------------------------------------------------- */

static int parse_args(int argc, char **argv, struct call_opts *o, int *ret_prog)
{
        memset(o, 0, sizeof(*o));
        o->port.framing = (struct pk_framing){.kind = PK_FRAMING_PACKET, .arg = 4};
        o->port.flags = PK_PORT_EXIT_STATUS | PK_PORT_EOF | PK_PORT_PDEATHSIG;
        o->timeout_ms = PK_CLI_CALL_DEFAULT_TIMEOUT_MS;
        o->max_input = CALL_DEFAULT_MAX_INPUT;
        int i = 1;
        for (; i < argc; i++) {
                if (pk_cli_options_end(argv, &i))
                        break;
                const char *a = argv[i];
                if (pk_cli_is_help(a)) {
                        fputs(call_usage, stdout);
                        return 1;
                }
                int m = pk_framing_option(argc, argv, &i, &o->port.framing);
                if (m < 0) {
                        pk_cli_error("call", "%s takes %s", a,
                                     strcmp(a, "--packet") == 0 ? "1, 2 or 4"
                                                                : "a length of 1 to 64 MiB");
                        return -EINVAL;
                }
                bool has_val = i + 1 < argc;
                if (m > 0) {
                        continue;
                } else if (strcmp(a, "--nouse-stdio") == 0) {
                        o->port.flags |= PK_PORT_NOUSE_STDIO;
                } else if (strcmp(a, "--stderr-to-stdout") == 0) {
                        o->port.flags |= PK_PORT_STDERR_TO_STDOUT;
                } else if (strcmp(a, "--raw") == 0) {
                        o->raw = true;
                } else if (strcmp(a, "--timeout") == 0 || strcmp(a, "--format") == 0 ||
                           strcmp(a, "--max-input") == 0) {
                        if (!has_val) {
                                pk_cli_missing_value("call", a);
                                return -EINVAL;
                        }
                        const char *v = argv[++i];
                        if (a[2] == 't') {
                                if (pk_cli_parse_timeout(v, &o->timeout_ms) < 0) {
                                        pk_cli_error("call",
                                                     "bad duration '%s' (a number with a unit "
                                                     "ms, s, m, h or d; 0 or infinity: none)",
                                                     v);
                                        return -EINVAL;
                                }
                        } else if (a[2] == 'f') {
                                if (strcmp(v, "w") != 0 && strcmp(v, "p") != 0) {
                                        pk_cli_error("call", "--format takes w or p");
                                        return -EINVAL;
                                }
                                o->pretty = v[0] == 'p';
                        } else if (pk_cli_parse_size(v, 1ULL << 40, &o->max_input) < 0 ||
                                   o->max_input == 0) {
                                pk_cli_error("call", "bad size '%s' for --max-input", v);
                                return -EINVAL;
                        }
                } else {
                        pk_cli_unknown_option("call", a);
                        return -EINVAL;
                }
        }
        if (i >= argc || !argv[i][0]) {
                pk_cli_error("call", i >= argc ? "no program given (-- PROG ARGS...)"
                                               : "the program name is empty");
                return -EINVAL;
        }
        if (!o->raw && o->port.framing.kind != PK_FRAMING_PACKET) {
                pk_cli_error("call", "terms need --packet N; use --raw with --line or --stream");
                return -EINVAL;
        }
        if ((o->port.flags & PK_PORT_NOUSE_STDIO) && (o->port.flags & PK_PORT_STDERR_TO_STDOUT)) {
                pk_cli_error("call", "--stderr-to-stdout needs stdio (not --nouse-stdio)");
                return -EINVAL;
        }
        *ret_prog = i;
        return 0;
}

/* The port's status as Erlang reports it: the code, or 128 + the signal. */
static int exit_status(const struct pk_exit *ex)
{
        return pk_exit_shell(ex);
}

static int run_call(struct call *c, char **argv)
{
        static const int sigs[3] = {SIGINT, SIGTERM, SIGHUP};
        int r = pk_loop_new(&c->loop);
        if (r < 0) {
                pk_cli_error("call", "cannot create a loop: %s", pk_strerror(r));
                return PK_CLI_EXIT_SYSTEM;
        }
        /* Signals are watched before the child exists, so none is lost. */
        for (int k = 0; k < 3; k++) {
                pk_loop_signal_init(c->loop, &c->sig[k]);
                c->sig[k].w.ctx = c;
                (void)pk_loop_signal_start(&c->sig[k], sigs[k], on_signal);
        }
        pk_loop_timer_init(c->loop, &c->t_send);
        pk_loop_timer_init(c->loop, &c->t_recv);
        pk_loop_defer_init(c->loop, &c->held_defer);
        pk_loop_defer_init(c->loop, &c->in_defer);
        pk_loop_io_init(c->loop, &c->in_io, 0);
        c->t_send.w.ctx = c->t_recv.w.ctx = c->held_defer.w.ctx = c->in_defer.w.ctx =
            c->in_io.w.ctx = c;
        r = pk_port_open_argv((const char *const *)argv, &c->o.port, &c->port);
        if (r < 0) {
                pk_cli_error("call", "%s: %s", c->prog, pk_strerror(r));
                pk_loop_free(c->loop);
                return r == -ENOENT                    ? 127
                       : r == -EACCES || r == -ENOEXEC ? 126
                                                       : PK_CLI_EXIT_SYSTEM;
        }
        c->pid = pk_port_pid(c->port);
        const struct pk_port_callbacks cb = {.message = on_message,
                                             .eof = on_eof,
                                             .exit = on_exit_cb,
                                             .error = on_error,
                                             .drain = on_drain};
        r = pk_port_attach(c->port, c->loop, &cb, c);
        if (r < 0) {
                pk_cli_error("call", "cannot watch the port: %s", pk_strerror(r));
                kill_tree(c);
                pk_port_close(c->port, NULL);
                pk_loop_free(c->loop);
                return PK_CLI_EXIT_SYSTEM;
        }
        r = pk_loop_io_start(&c->in_io, PK_LOOP_READ, on_stdin);
        c->in_pollable = r == 0;
        if (r == -EPERM) {
                (void)pk_loop_defer_start(&c->in_defer, on_stdin_defer);
        } else if (r < 0) {
                c->in_eof = true; /* stdin closed: no requests */
        }
        update(c);
        while (!c->finished) {
                r = pk_loop_run(c->loop);
                if (r < 0 && r != -EINTR) {
                        pk_cli_error("call", "loop: %s", pk_strerror(r));
                        fail(c, PK_CLI_EXIT_SYSTEM);
                        kill_tree(c);
                        break;
                }
                if (r == PK_LOOP_DONE && !c->finished) {
                        /* Nothing left to wait on (cannot happen while the child runs). */
                        break;
                }
        }
        pk_loop_io_stop(&c->in_io);
        pk_port_close(c->port, NULL);
        for (int k = 0; k < 3; k++)
                pk_loop_signal_stop(&c->sig[k]);
        pk_loop_free(c->loop);
        pk__dynbuf_free(&c->in);
        if (!c->exited)
                return c->fail ? c->fail : PK_CLI_EXIT_SYSTEM;
        if (c->ex.signal)
                fprintf(stderr, "exit_status %d (signal %d, %s)\n", exit_status(&c->ex),
                        c->ex.signal,
                        sigabbrev_np(c->ex.signal) ? sigabbrev_np(c->ex.signal) : "?");
        else
                fprintf(stderr, "exit_status %d\n", exit_status(&c->ex));
        return c->fail ? c->fail : exit_status(&c->ex);
}

static int call_main(int argc, char **argv)
{
        struct call c;
        memset(&c, 0, sizeof(c));
        int prog;
        int r = parse_args(argc, argv, &c.o, &prog);
        if (r != 0)
                return r < 0 ? PK_CLI_EXIT_USAGE : 0; /* 1: --help shown */
        c.prog = argv[prog];
        pk__dynbuf_init(&c.in, (size_t)c.o.max_input + CALL_READ_CHUNK, 0);
        return run_call(&c, argv + prog);
}

static const struct pk_cli_command call_cmd = {
    .name = "call",
    .summary = "open a program as a port, send terms from stdin, print the replies",
    .usage = call_usage,
    .main = call_main,
};
PK_CLI_COMMAND(call_cmd)
