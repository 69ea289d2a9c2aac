/* SPDX-License-Identifier: MIT */
/* `portkit call`: opens a program as a port, sends the terms read from stdin
 * (Erlang text syntax, each ending with '.') as ETF, prints each reply as ~w
 * or ~p, then closes the port's input, waits, reports the exit status on
 * stderr and exits with it.  Lets a developer test a port program without
 * starting Erlang.  --raw sends and prints bytes as they are. */
#include "cli.h"
#include "portkit.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CALL_EXIT_TIMEOUT 124 /* as timeout(1) */

static const char call_usage[] =
    "usage: portkit call [--packet N | --line L | --stream] [--nouse-stdio]\n"
    "                    [--stderr-to-stdout] [--timeout DURATION] [--format w|p] [--raw]\n"
    "                    -- PROG ARGS...\n"
    "\n"
    "Opens PROG as an Erlang port ({packet,4} unless told otherwise), reads terms in\n"
    "Erlang text syntax from stdin (each ending with '.'), sends each encoded as ETF\n"
    "and prints each reply on its own line as ~w (or ~p with --format p).  Then it\n"
    "closes the port's input, waits for PROG, prints its exit status to stderr and\n"
    "exits with it (128+N for death by signal N, as Erlang's exit_status).\n"
    "\n"
    "  --packet N          {packet,N} framing, N = 1, 2 or 4 (default 4)\n"
    "  --line L            {line,L} framing (needs --raw)\n"
    "  --stream            no framing (needs --raw)\n"
    "  --nouse-stdio       PROG talks on fds 3 and 4 (Erlang's nouse_stdio)\n"
    "  --stderr-to-stdout  PROG's stderr goes into the port's output\n"
    "  --timeout DURATION  wait at most this long for each reply and for the exit\n"
    "                      (number with unit ms, s or m; default: forever); exit 124\n"
    "  --format w|p        print replies as ~w (default) or ~p\n"
    "  --raw               no ETF: with --packet each stdin line is one message and\n"
    "                      each reply is printed followed by a newline; with --line\n"
    "                      or --stream stdin is sent as it is and the output printed\n"
    "                      as it comes (line pieces without eol get no newline)\n"
    "\n"
    "Exit status: PROG's, 1 for bad input or a bad reply, 100 for bad usage,\n"
    "111 for a system failure, 124 on timeout.\n"
    "\n"
    "Example: echo '{add, 2, 3}.' | portkit call -- build/examples/calc\n";

struct call_opts {
        struct pk_port_opts port;
        int64_t timeout_ms;
        bool pretty;
        bool raw;
        bool framing_given;
};

/* Parses the next term (text ending with '.') from text and encodes it as
 * ETF into *ret_buf (caller frees).  *ret_used is 0 when only blanks and
 * comments are left.  On a syntax error, *reterr says where. */
static int pk_call_etf_parse(const char *text, size_t len, void **ret_buf, size_t *ret_len,
                             size_t *ret_used, struct pk_etf_text_error *reterr)
{
        pk_arena *a = pk_arena_new(0);
        if (!a)
                return -ENOMEM;
        struct pk_term *t = NULL;
        size_t used = 0;
        int r = pk_etf_parse(a, text, len, NULL, &t, &used, reterr);
        if (r < 0) {
                pk_arena_free(a);
                return r;
        }
        if (r == 0 || !t) {
                pk_arena_free(a);
                *ret_used = 0;
                return 0;
        }
        struct pk_etf_buf out;
        pk_etf_buf_init(&out, 0);
        const struct pk_etf_encode_opts eo = PK_ETF_ENCODE_OPTS_INIT;
        r = pk_etf_encode(&out, t, &eo);
        pk_arena_free(a);
        if (r < 0) {
                pk_etf_buf_free(&out);
                return r;
        }
        void *copy = malloc(out.len ? out.len : 1);
        if (copy)
                memcpy(copy, out.data, out.len);
        *ret_len = out.len;
        pk_etf_buf_free(&out);
        if (!copy)
                return -ENOMEM;
        *ret_buf = copy;
        *ret_used = used;
        return 0;
}

/* Decodes an ETF reply and prints it as ~w or ~p into *ret_text (caller frees). */
static int pk_call_etf_print(const uint8_t *data, size_t len, bool pretty, char **ret_text,
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

static int write_all(int fd, const void *p, size_t len)
{
        const char *c = p;
        while (len > 0) {
                ssize_t n = write(fd, c, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return -1;
                c += n;
                len -= (size_t)n;
        }
        return 0;
}

/* Reads all of stdin into a NUL-terminated buffer (caller frees). */
static char *read_stdin(size_t *ret_len)
{
        size_t cap = 4096, len = 0;
        char *buf = malloc(cap);
        while (buf) {
                if (cap - len < 2) {
                        char *nb = realloc(buf, cap * 2);
                        if (!nb)
                                break;
                        buf = nb;
                        cap *= 2;
                }
                ssize_t n = read(0, buf + len, cap - len - 1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        break;
                if (n == 0) {
                        buf[len] = 0;
                        *ret_len = len;
                        return buf;
                }
                len += (size_t)n;
        }
        free(buf);
        return NULL;
}

static int parse_args(int argc, char **argv, struct call_opts *o, int *ret_prog)
{
        memset(o, 0, sizeof(*o));
        o->port.framing = (struct pk_framing){.kind = PK_FRAMING_PACKET, .arg = 4};
        o->port.flags = PK_PORT_EXIT_STATUS | PK_PORT_EOF;
        o->timeout_ms = -1;
        int i = 1;
        for (; i < argc; i++) {
                const char *a = argv[i];
                if (strcmp(a, "--") == 0) {
                        i++;
                        break;
                }
                if (a[0] != '-')
                        break;
                int m = pk_framing_option(argc, argv, &i, &o->port.framing);
                if (m < 0) {
                        pk_cli_error("call", "%s takes %s", a,
                                     strcmp(a, "--packet") == 0 ? "1, 2 or 4"
                                                                : "a length of 1 to 64 MiB");
                        return -EINVAL;
                }
                if (m > 0) {
                        o->framing_given = true;
                } else if (strcmp(a, "--nouse-stdio") == 0) {
                        o->port.flags |= PK_PORT_NOUSE_STDIO;
                } else if (strcmp(a, "--stderr-to-stdout") == 0) {
                        o->port.flags |= PK_PORT_STDERR_TO_STDOUT;
                } else if (strcmp(a, "--timeout") == 0 && i + 1 < argc) {
                        if (pk_cli_parse_duration(argv[++i], &o->timeout_ms) < 0) {
                                pk_cli_error("call", "bad duration '%s'", argv[i]);
                                return -EINVAL;
                        }
                } else if (strcmp(a, "--format") == 0 && i + 1 < argc) {
                        const char *f = argv[++i];
                        if (strcmp(f, "w") != 0 && strcmp(f, "p") != 0) {
                                pk_cli_error("call", "--format takes w or p");
                                return -EINVAL;
                        }
                        o->pretty = f[0] == 'p';
                } else if (strcmp(a, "--raw") == 0) {
                        o->raw = true;
                } else {
                        pk_cli_error("call", "unknown option '%s'", a);
                        return -EINVAL;
                }
        }
        if (i >= argc) {
                pk_cli_error("call", "no program given");
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

/* Prints one reply.  Returns 0, or an exit code. */
static int print_reply(const struct call_opts *o, const struct pk_port_msg *m)
{
        if (o->raw) {
                bool nl = o->port.framing.kind == PK_FRAMING_PACKET || m->flags == PK_PACKET_EOL;
                if (write_all(1, m->data, m->len) < 0 || (nl && write_all(1, "\n", 1) < 0))
                        return PK_CLI_EXIT_SYSTEM;
                return 0;
        }
        char *text = NULL;
        size_t tlen = 0;
        int r = pk_call_etf_print(m->data, m->len, o->pretty, &text, &tlen);
        if (r < 0) {
                pk_cli_error("call", "reply is not a valid term (%s)", pk_strerror(r));
                return PK_CLI_EXIT_BADINPUT;
        }
        int w = write_all(1, text, tlen) < 0 || write_all(1, "\n", 1) < 0;
        free(text);
        return w ? PK_CLI_EXIT_SYSTEM : 0;
}

static int recv_one(struct pk_port *p, const struct call_opts *o, struct pk_port_msg *m)
{
        int r = pk_port_recv(p, m, o->timeout_ms);
        if (r == -ETIMEDOUT) {
                pk_cli_error("call", "no reply within the timeout");
                return -CALL_EXIT_TIMEOUT;
        }
        if (r == 0) {
                pk_cli_error("call", "the port closed its output before replying");
                return -PK_CLI_EXIT_BADINPUT;
        }
        if (r < 0) {
                pk_cli_error("call", "receive: %s", pk_strerror(r));
                return -PK_CLI_EXIT_BADINPUT;
        }
        return 0;
}

/* Sends everything and prints the replies; returns 0 or an exit code. */
static int exchange(struct pk_port *p, const struct call_opts *o, const char *in, size_t len)
{
        struct pk_port_msg m;
        int r;
        if (o->raw && o->port.framing.kind != PK_FRAMING_PACKET) {
                if (len > 0 && (r = pk_port_send(p, in, len)) < 0) {
                        pk_cli_error("call", "send: %s", pk_strerror(r));
                        return r == -EPIPE ? 0 : PK_CLI_EXIT_SYSTEM;
                }
                pk_port_close_input(p);
                while ((r = pk_port_recv(p, &m, o->timeout_ms)) == 1)
                        if ((r = print_reply(o, &m)) != 0)
                                return r;
                if (r == -ETIMEDOUT) {
                        pk_cli_error("call", "no output within the timeout");
                        return CALL_EXIT_TIMEOUT;
                }
                return 0;
        }
        size_t pos = 0;
        while (pos < len) {
                const void *msg;
                size_t mlen = 0;
                void *owned = NULL;
                if (o->raw) {
                        const char *nl = memchr(in + pos, '\n', len - pos);
                        size_t end = nl ? (size_t)(nl - in) : len;
                        msg = in + pos;
                        mlen = end - pos;
                        pos = nl ? end + 1 : len;
                } else {
                        size_t used = 0;
                        struct pk_etf_text_error te = {0};
                        r = pk_call_etf_parse(in + pos, len - pos, &owned, &mlen, &used, &te);
                        if (r == 0 && used == 0)
                                break; /* only blanks and comments left */
                        if (r < 0) {
                                if (r == PK_ESYNTAX)
                                        pk_cli_error("call", "stdin: %s at byte %zu",
                                                     te.message[0] ? te.message : "syntax error",
                                                     pos + te.offset);
                                else
                                        pk_cli_error("call", "bad term at byte %zu of stdin: %s",
                                                     pos, pk_strerror(r));
                                return PK_CLI_EXIT_BADINPUT;
                        }
                        msg = owned;
                        pos += used;
                }
                r = pk_port_send(p, msg, mlen);
                free(owned);
                if (r < 0) {
                        pk_cli_error("call", "send: %s", pk_strerror(r));
                        return r == -EPIPE ? 0 : PK_CLI_EXIT_BADINPUT;
                }
                r = recv_one(p, o, &m);
                if (r < 0)
                        return -r;
                if ((r = print_reply(o, &m)) != 0)
                        return r;
        }
        return 0;
}

static int call_main(int argc, char **argv)
{
        struct call_opts o;
        int prog;
        if (parse_args(argc, argv, &o, &prog) < 0)
                return PK_CLI_EXIT_USAGE;
        size_t len = 0;
        char *in = read_stdin(&len);
        if (!in) {
                pk_cli_error("call", "reading stdin failed");
                return PK_CLI_EXIT_SYSTEM;
        }
        struct pk_port *p;
        int r = pk_port_open_argv((const char *const *)(argv + prog), &o.port, &p);
        if (r < 0) {
                pk_cli_error("call", "%s: %s", argv[prog], pk_strerror(r));
                free(in);
                return r == -ENOENT || r == -EACCES ? 127 : PK_CLI_EXIT_SYSTEM;
        }
        int rc = exchange(p, &o, in, len);
        free(in);
        pk_port_close_input(p);
        struct pk_exit ex;
        r = pk_port_wait(p, o.timeout_ms, &ex);
        if (r == -ETIMEDOUT) {
                pk_cli_error("call", "%s did not exit within the timeout; killing it", argv[prog]);
                pk_port_kill(p, SIGKILL);
                pk_port_wait(p, -1, &ex);
                rc = rc ? rc : CALL_EXIT_TIMEOUT;
        } else if (r < 0) {
                pk_cli_error("call", "wait: %s", pk_strerror(r));
                pk_port_close(p, NULL);
                return PK_CLI_EXIT_SYSTEM;
        }
        pk_port_close(p, NULL);
        int status = pk_exit_shell(&ex);
        if (ex.signal)
                fprintf(stderr, "exit_status %d (signal %d, %s)\n", status, ex.signal,
                        sigabbrev_np(ex.signal) ? sigabbrev_np(ex.signal) : "?");
        else
                fprintf(stderr, "exit_status %d\n", status);
        return rc ? rc : status;
}

static const struct pk_cli_command call_cmd = {
    .name = "call",
    .summary = "open a program as a port, send terms from stdin, print the replies",
    .usage = call_usage,
    .main = call_main,
};
PK_CLI_COMMAND(call_cmd)
