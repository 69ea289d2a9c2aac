/* SPDX-License-Identifier: MIT */
/* `portkit ctl` (also answering as `systemctl`): one request to the control
 * socket of `portkit supervise`, the reply printed, exit codes as systemctl's
 * for is-active / is-failed / is-enabled.  Protocol: docs/supervise.md. */
#include "cli.h"
#include "supervise.h"

#include <portkit.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char ctl_usage[] =
    "usage: portkit ctl [--control PATH] VERB [ARGS]\n"
    "  status [UNIT...]   list   watch   shutdown   daemon-reload\n"
    "  start|stop|restart|reload|try-restart UNIT...\n"
    "  kill [--signal S] UNIT...   log [-n N] UNIT\n"
    "  is-active|is-failed|is-enabled UNIT...   (exit 0 yes, 3 / 1 no, as systemctl)\n"
    "  enable|disable [--now] UNIT...   (the [Install] links of the config directory)\n"
    "  reset-failed UNIT...   (a failed unit becomes inactive, its start limit forgotten)\n"
    "As `systemctl`: start stop restart reload enable disable is-active is-enabled status\n"
    "daemon-reload, with --no-block, -q/--quiet, --now.\n";

static int send_req(int fd, const struct pk_etf_buf *b)
{
        uint32_t n = (uint32_t)b->len;
        unsigned char hdr[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
                                (unsigned char)(n >> 8), (unsigned char)n};
        if (pk_fd_write_all(fd, hdr, 4, NULL) < 0 || pk_fd_write_all(fd, b->data, b->len, NULL) < 0)
                return -EPIPE;
        return 0;
}

/* Reads one reply frame into *ret (caller frees). */
static int recv_reply(int fd, unsigned char **ret, size_t *ret_len)
{
        unsigned char hdr[4];
        ssize_t r = pk_fd_read_all(fd, hdr, 4, NULL);
        if (r != 4)
                return r < 0 ? (int)r : -ECONNRESET;
        size_t n = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
        if (n > PK_SV_MAX_REPLY)
                return PK_EFRAMESIZE;
        unsigned char *buf = malloc(n ? n : 1);
        if (!buf)
                return -ENOMEM;
        r = pk_fd_read_all(fd, buf, n, NULL);
        if (r < 0 || (size_t)r != n) {
                free(buf);
                return r < 0 ? (int)r : -ECONNRESET;
        }
        *ret = buf;
        *ret_len = n;
        return 0;
}

struct ctl {
        int fd;
        int quiet;
        const char *prog;
};

/* Sends the request in b, decodes the reply into a (the caller's arena). */
static int call(struct ctl *c, struct pk_etf_buf *b, pk_arena *a, struct pk_term **ret)
{
        if (b->err)
                return b->err;
        int r = send_req(c->fd, b);
        if (r < 0)
                return r;
        unsigned char *data = NULL;
        size_t len = 0;
        if ((r = recv_reply(c->fd, &data, &len)) < 0)
                return r;
        struct pk_etf_decode_opts o = {.flags = PK_ETF_COPY};
        r = pk_etf_decode(a, data, len, &o, ret, NULL, NULL);
        free(data);
        return r;
}

static void put_atom(struct pk_etf_buf *b, const char *s)
{
        pk_etf_put_atom(b, s, strlen(s));
}

/* {Verb, Unit} or {Verb, Unit, Int}; verb dashes become underscores. */
static void build(struct pk_etf_buf *b, const char *verb, const char *unit, int has_int, long n)
{
        char v[32];
        snprintf(v, sizeof(v), "%s", verb);
        for (char *p = v; *p; p++)
                if (*p == '-')
                        *p = '_';
        pk_etf_buf_reset(b);
        pk_etf_put_version(b);
        if (!unit) {
                put_atom(b, v);
                return;
        }
        pk_etf_put_tuple(b, has_int ? 3 : 2);
        put_atom(b, v);
        pk_etf_put_binary(b, unit, strlen(unit));
        if (has_int)
                pk_etf_put_int(b, n);
}

static int map_get(const struct pk_term *m, const char *key, const struct pk_term **ret)
{
        if (m->type != PK_TERM_MAP)
                return -EINVAL;
        for (uint32_t i = 0; i < m->v.map.arity; i++) {
                const struct pk_term *k = &m->v.map.pairs[2 * (size_t)i];
                if (k->type == PK_TERM_ATOM && k->v.atom.len == strlen(key) &&
                    memcmp(k->v.atom.name, key, k->v.atom.len) == 0) {
                        *ret = &m->v.map.pairs[2 * (size_t)i + 1];
                        return 0;
                }
        }
        return -ENOENT;
}

static void print_text(const struct pk_term *t)
{
        if (t->type == PK_TERM_BINARY)
                fwrite(t->v.bin.data, 1, t->v.bin.size, stdout);
        else if (t->type == PK_TERM_ATOM)
                fwrite(t->v.atom.name, 1, t->v.atom.len, stdout);
        else if (t->type == PK_TERM_INT)
                printf("%lld", (long long)t->v.i);
        else if (t->type == PK_TERM_NIL)
                ;
        else {
                char *s = NULL;
                size_t l = 0;
                if (pk_etf_print_w(t, &s, &l) == 0) {
                        fwrite(s, 1, l, stdout);
                        free(s);
                }
        }
}

static const char *field_atom(const struct pk_term *m, const char *key, char *buf, size_t size)
{
        const struct pk_term *v;
        buf[0] = '\0';
        if (map_get(m, key, &v) == 0 && v->type == PK_TERM_ATOM)
                snprintf(buf, size, "%.*s", (int)v->v.atom.len, v->v.atom.name);
        return buf;
}

static void print_status(const struct pk_term *m)
{
        const struct pk_term *v;
        /* services, then what socket units add (service, accept, connections, result) */
        static const char *const keys[] = {
            "name",      "description", "active", "state",       "pid",    "restarts", "uptime_ms",
            "last_exit", "service",     "accept", "connections", "result", NULL};
        for (size_t i = 0; keys[i]; i++) {
                if (map_get(m, keys[i], &v) < 0)
                        continue;
                printf("%s%s: ", i ? "  " : "", keys[i]);
                print_text(v);
                putchar('\n');
        }
        if (map_get(m, "listen", &v) == 0 && v->type == PK_TERM_LIST)
                for (uint32_t i = 0; i < v->v.list.len; i++) {
                        printf("  listen: ");
                        print_text(&v->v.list.elems[i]);
                        putchar('\n');
                }
        if (map_get(m, "not_enforced", &v) == 0 && v->type == PK_TERM_LIST) {
                printf("  not enforced:\n");
                for (uint32_t i = 0; i < v->v.list.len; i++) {
                        printf("    ");
                        print_text(&v->v.list.elems[i]);
                        putchar('\n');
                }
        }
}

/* Prints an error reply; returns 1 for {error, _}, 0 for ok. */
static int check(struct ctl *c, const struct pk_term *t, const char *what)
{
        if (t->type == PK_TERM_TUPLE && t->v.tuple.arity == 2 &&
            t->v.tuple.elems[0].type == PK_TERM_ATOM && t->v.tuple.elems[0].v.atom.len == 5 &&
            memcmp(t->v.tuple.elems[0].v.atom.name, "error", 5) == 0) {
                fprintf(stderr, "%s: %s: ", c->prog, what);
                fflush(stdout);
                const struct pk_term *e = &t->v.tuple.elems[1];
                if (e->type == PK_TERM_BINARY)
                        fwrite(e->v.bin.data, 1, e->v.bin.size, stderr);
                fputc('\n', stderr);
                return 1;
        }
        return 0;
}

/* One request about one unit: sends what is in @p b and checks the reply.
 * Returns 0 when it succeeded, 1 when the supervisor refused it (*rc set as
 * systemctl's exit code), -1 when the control socket failed (*rc set, printed). */
static int ask_unit(struct ctl *c, struct pk_etf_buf *b, pk_arena *a, struct pk_term **t,
                    const char *unit, int *rc)
{
        int r = call(c, b, a, t);
        if (r < 0) {
                fprintf(stderr, "%s: %s\n", c->prog, pk_strerror(r));
                *rc = PK_CLI_EXIT_SYSTEM;
                return -1;
        }
        if (check(c, *t, unit)) {
                *rc = strstr(c->prog, "systemctl") ? 5 : 1;
                return 1;
        }
        return 0;
}

/* A binary or string term's bytes. */
static int ctl_text(const struct pk_term *t, const char **s, size_t *len)
{
        if (t->type == PK_TERM_BINARY && t->v.bin.bits == 8) {
                *s = (const char *)t->v.bin.data;
                *len = t->v.bin.size;
                return 0;
        }
        if (t->type == PK_TERM_STRING) {
                *s = (const char *)t->v.string.bytes;
                *len = t->v.string.len;
                return 0;
        }
        return -EINVAL;
}

/* is-active / is-failed / is-enabled: systemctl's exit codes. */
static int is_query(struct ctl *c, const char *verb, char **units, int n)
{
        int all = 1;
        int enabled_q = strcmp(verb, "is-enabled") == 0;
        for (int i = 0; i < n; i++) {
                struct pk_etf_buf b;
                pk_etf_buf_init(&b, 1 << 16);
                if (enabled_q) {
                        build(&b, "is_enabled", units[i], 0, 0); /* {ok, State} */
                } else {
                        pk_etf_put_version(&b);
                        pk_etf_put_tuple(&b, 2);
                        put_atom(&b, "status");
                        pk_etf_put_list(&b, 1);
                        pk_etf_put_binary(&b, units[i], strlen(units[i]));
                        pk_etf_put_nil(&b);
                }
                pk_arena *a = pk_arena_new(0);
                struct pk_term *t = NULL;
                int r = a ? call(c, &b, a, &t) : -ENOMEM;
                pk_etf_buf_free(&b);
                char active[32] = "unknown";
                int found = 0;
                const char *s;
                size_t sl;
                if (enabled_q && r == 0 && t->type == PK_TERM_TUPLE && t->v.tuple.arity == 2 &&
                    ctl_text(&t->v.tuple.elems[1], &s, &sl) == 0) {
                        snprintf(active, sizeof(active), "%.*s", (int)sl, s);
                        found = 1;
                } else if (!enabled_q && r == 0 && t->type == PK_TERM_TUPLE &&
                           t->v.tuple.arity == 2 && t->v.tuple.elems[1].type == PK_TERM_LIST) {
                        field_atom(&t->v.tuple.elems[1].v.list.elems[0], "active", active,
                                   sizeof(active));
                        found = 1;
                }
                pk_arena_free(a);
                if (r < 0) {
                        fprintf(stderr, "%s: %s\n", c->prog, pk_strerror(r));
                        return 4;
                }
                const char *out;
                int yes;
                if (enabled_q) {
                        /* systemctl: 0 for enabled and static, 1 otherwise */
                        out = found ? active : "not-found";
                        yes = found &&
                              (strcmp(active, "enabled") == 0 || strcmp(active, "static") == 0);
                } else if (strcmp(verb, "is-failed") == 0) {
                        out = found ? active : "inactive";
                        yes = strcmp(active, "failed") == 0;
                } else {
                        out = found ? active : "inactive";
                        yes = strcmp(active, "active") == 0;
                }
                if (!c->quiet)
                        puts(out);
                if (!yes)
                        all = 0;
        }
        if (all)
                return 0;
        return strcmp(verb, "is-active") == 0 ? 3 : 1;
}

static int do_watch(struct ctl *c)
{
        struct pk_etf_buf b;
        pk_etf_buf_init(&b, 1 << 16);
        build(&b, "watch", NULL, 0, 0);
        int r = send_req(c->fd, &b);
        pk_etf_buf_free(&b);
        while (r == 0) {
                unsigned char *data = NULL;
                size_t len = 0;
                if ((r = recv_reply(c->fd, &data, &len)) < 0)
                        break;
                pk_arena *a = pk_arena_new(0);
                struct pk_term *t = NULL;
                if (a && pk_etf_decode(a, data, len, NULL, &t, NULL, NULL) == 0) {
                        char *s = NULL;
                        size_t l = 0;
                        if (pk_etf_print_w(t, &s, &l) == 0) {
                                fwrite(s, 1, l, stdout);
                                putchar('\n');
                                fflush(stdout);
                                free(s);
                        }
                }
                pk_arena_free(a);
                free(data);
        }
        return r == -ECONNRESET ? 0 : PK_CLI_EXIT_SYSTEM;
}

int pk_sv_ctl_main(int argc, char **argv, int as_systemctl)
{
        struct ctl c = {.fd = -1, .prog = as_systemctl ? "systemctl" : "portkit ctl"};
        const char *control = getenv("PORTKIT_CONTROL");
        if (!control)
                control = PK_SV_DEFAULT_CONTROL;
        int sig = SIGTERM, now = 0;
        long lines = 10;
        char **words = argv; /* the words, moved down in argv (nw < i): no cap */
        int nw = 0;
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                if ((strcmp(a, "--control") == 0) && i + 1 < argc) {
                        control = argv[++i];
                } else if (strncmp(a, "--control=", 10) == 0) {
                        control = a + 10;
                } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
                        c.quiet = 1;
                } else if (strcmp(a, "--no-block") == 0 || strcmp(a, "--no-pager") == 0 ||
                           strcmp(a, "--system") == 0) {
                        /* requests return once the supervisor acted */
                } else if (strcmp(a, "--now") == 0) {
                        now = 1;
                } else if ((strcmp(a, "--signal") == 0 || strcmp(a, "-s") == 0) && i + 1 < argc) {
                        const char *s = argv[++i];
                        sig = pk_unit_signal_parse(s);
                        if (sig < 0) {
                                pk_cli_error("ctl", "bad signal: %s", s);
                                return PK_CLI_EXIT_USAGE;
                        }
                } else if (strcmp(a, "-n") == 0 && i + 1 < argc) {
                        long long v;
                        if (pk_cli_parse_int(argv[++i], 1, 100000, &v) < 0) {
                                pk_cli_error("ctl", "bad line count");
                                return PK_CLI_EXIT_USAGE;
                        }
                        lines = (long)v;
                } else if (pk_cli_is_help(a)) {
                        fputs(ctl_usage, stdout);
                        return 0;
                } else if (a[0] == '-' && a[1]) {
                        pk_cli_error("ctl", "unknown option %s", a);
                        return PK_CLI_EXIT_USAGE;
                } else {
                        words[nw++] = argv[i];
                }
        }
        if (nw == 0) {
                fputs(ctl_usage, stderr);
                return PK_CLI_EXIT_USAGE;
        }
        const char *verb = words[0];
        static const char *const known[] = {"status",
                                            "list",
                                            "start",
                                            "stop",
                                            "restart",
                                            "reload",
                                            "try-restart",
                                            "kill",
                                            "log",
                                            "daemon-reload",
                                            "watch",
                                            "shutdown",
                                            "is-active",
                                            "is-failed",
                                            "is-enabled",
                                            "enable",
                                            "disable",
                                            "ping",
                                            "reload-or-restart",
                                            "reset-failed",
                                            NULL};
        int ok = 0;
        for (size_t i = 0; known[i]; i++)
                if (strcmp(verb, known[i]) == 0)
                        ok = 1;
        if (!ok) {
                pk_cli_error("ctl", "unknown verb %s", verb);
                return PK_CLI_EXIT_USAGE;
        }
        c.fd = pk_fd_unix_connect(control, SOCK_STREAM, 0);
        if (c.fd < 0) {
                fprintf(stderr, "%s: cannot reach the supervisor at %s: %s\n", c.prog, control,
                        pk_strerror(c.fd));
                return strncmp(verb, "is-", 3) == 0 ? (strcmp(verb, "is-active") == 0 ? 3 : 1)
                                                    : PK_CLI_EXIT_SYSTEM;
        }
        int rc = 0;
        if (strncmp(verb, "is-", 3) == 0) {
                rc = is_query(&c, verb, words + 1, nw - 1);
                close(c.fd);
                return rc;
        }
        if (strcmp(verb, "watch") == 0) {
                rc = do_watch(&c);
                close(c.fd);
                return rc;
        }
        struct pk_etf_buf b;
        pk_etf_buf_init(&b, 1 << 20);
        pk_arena *a = pk_arena_new(0);
        struct pk_term *t = NULL;
        int r;
        if (!a) {
                rc = PK_CLI_EXIT_SYSTEM;
        } else if (strcmp(verb, "status") == 0 || strcmp(verb, "list") == 0) {
                pk_etf_put_version(&b);
                if (nw > 1) {
                        pk_etf_put_tuple(&b, 2);
                        put_atom(&b, verb);
                        pk_etf_put_list(&b, (uint32_t)(nw - 1));
                        for (int i = 1; i < nw; i++)
                                pk_etf_put_binary(&b, words[i], strlen(words[i]));
                        pk_etf_put_nil(&b);
                } else {
                        put_atom(&b, verb);
                }
                r = call(&c, &b, a, &t);
                if (r < 0) {
                        fprintf(stderr, "%s: %s\n", c.prog, pk_strerror(r));
                        rc = PK_CLI_EXIT_SYSTEM;
                } else if (check(&c, t, verb)) {
                        rc = strcmp(verb, "status") == 0 ? 4 : 1;
                } else if (t->type == PK_TERM_TUPLE && t->v.tuple.arity == 2 &&
                           t->v.tuple.elems[1].type == PK_TERM_LIST) {
                        const struct pk_term *l = &t->v.tuple.elems[1];
                        for (uint32_t i = 0; i < l->v.list.len; i++) {
                                if (verb[0] == 'l') {
                                        print_text(&l->v.list.elems[i]);
                                        putchar('\n');
                                        continue;
                                }
                                print_status(&l->v.list.elems[i]);
                                char act[32];
                                field_atom(&l->v.list.elems[i], "active", act, sizeof(act));
                                /* systemctl status: 3 when a unit is not active. */
                                if (strcmp(act, "active") != 0 && rc == 0)
                                        rc = 3;
                        }
                }
        } else if (strcmp(verb, "daemon-reload") == 0 || strcmp(verb, "shutdown") == 0 ||
                   strcmp(verb, "ping") == 0) {
                build(&b, verb, NULL, 0, 0);
                r = call(&c, &b, a, &t);
                if (r < 0) {
                        fprintf(stderr, "%s: %s\n", c.prog, pk_strerror(r));
                        rc = PK_CLI_EXIT_SYSTEM;
                } else if (check(&c, t, verb)) {
                        rc = 1;
                } else if (!c.quiet && !strstr(c.prog, "systemctl") && t->type == PK_TERM_TUPLE &&
                           t->v.tuple.arity == 2) {
                        print_text(&t->v.tuple.elems[1]); /* daemon-reload: what it did */
                }
        } else {
                if (nw < 2) {
                        pk_cli_error("ctl", "%s needs a unit", verb);
                        rc = PK_CLI_EXIT_USAGE;
                }
                for (int i = 1; i < nw && rc != PK_CLI_EXIT_USAGE; i++) {
                        const char *v = verb;
                        /* enable/disable: the links in the supervisor's config
                         * directory ([Install]); --now also starts/stops. */
                        if (strcmp(verb, "enable") == 0 || strcmp(verb, "disable") == 0) {
                                build(&b, verb, words[i], 0, 0);
                                int q = ask_unit(&c, &b, a, &t, words[i], &rc);
                                if (q < 0)
                                        break;
                                if (q > 0)
                                        continue;
                                const char *s;
                                size_t sl;
                                if (!c.quiet && t->type == PK_TERM_TUPLE && t->v.tuple.arity == 2 &&
                                    ctl_text(&t->v.tuple.elems[1], &s, &sl) == 0)
                                        fwrite(s, 1, sl, stderr); /* as systemctl, on stderr */
                                if (!now)
                                        continue;
                                v = verb[0] == 'e' ? "start" : "stop";
                        }
                        if (strcmp(verb, "reload-or-restart") == 0)
                                v = "restart";
                        if (strcmp(v, "kill") == 0)
                                build(&b, v, words[i], 1, sig);
                        else if (strcmp(v, "log") == 0)
                                build(&b, v, words[i], 1, lines);
                        else
                                build(&b, v, words[i], 0, 0);
                        int q = ask_unit(&c, &b, a, &t, words[i], &rc);
                        if (q < 0)
                                break;
                        if (q == 0 && strcmp(v, "log") == 0 && t->type == PK_TERM_TUPLE &&
                            t->v.tuple.arity == 2)
                                print_text(&t->v.tuple.elems[1]);
                }
        }
        pk_arena_free(a);
        pk_etf_buf_free(&b);
        close(c.fd);
        return rc;
}

static int ctl_main(int argc, char **argv)
{
        return pk_sv_ctl_main(argc, argv, 0);
}

static const struct pk_cli_command cmd_ctl = {
    .name = "ctl",
    .summary = "control a running `portkit supervise` (also answers as systemctl)",
    .usage = ctl_usage,
    .main = ctl_main,
};
PK_CLI_COMMAND(cmd_ctl)
