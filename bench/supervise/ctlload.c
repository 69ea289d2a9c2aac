/* SPDX-License-Identifier: MIT */
/* The load client of bench/supervise: W watchers (`watch`, then every event
 * frame read and counted), R requesters issuing {status, [UNIT]} back to
 * back (one request in flight each) for S seconds, optionally a churner
 * restarting another unit back to back (so that events flow to the
 * watchers) and one hostile client that subscribes and never reads.  One
 * thread, one epoll set over every connection.
 * Prints "R LABEL KEY VALUE" lines:
 *   req_per_s        status replies per second, all requesters together
 *   requests         status replies in S seconds
 *   restarts         restart replies (the churner)
 *   events           event frames the watchers read (all of them)
 *   events_per_watcher
 *   hostile_dropped  1 if the daemon closed the hostile client (its queue cap)
 *   watchers_lost    watchers the daemon closed (should be 0)
 * Usage: ctlload --control PATH --unit NAME [--label L] [--watchers W]
 *                [--requesters R] [--seconds S] [--churn UNIT] [--hostile] */
#include <portkit.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { K_WATCH, K_REQ, K_CHURN, K_HOSTILE };

struct conn {
        int fd, kind, closed;
        unsigned char *in; /* bytes read, not yet a whole frame */
        size_t len, cap;
        unsigned long frames;
};

static const char *control, *unit, *churn, *label = "load";
/* A request as sent: 4-byte length, then the term. */
struct msg {
        unsigned char *data;
        size_t len;
};
static struct msg req_status, req_restart, req_watch;
static unsigned long replies, restarts, first_checked;

static uint64_t now_ns(void)
{
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void die(const char *what, int err)
{
        fprintf(stderr, "ctlload: %s: %s\n", what, strerror(err));
        exit(1);
}

/* Builds the frame of a request: Verb, {Verb, Arg} or {Verb, [Arg]}. */
static void frame(struct msg *m, const char *verb, const char *arg, int list)
{
        struct pk_etf_buf t, *b = &t;
        pk_etf_buf_init(b, 0);
        (void)pk_etf_put_version(b);
        if (arg) {
                (void)pk_etf_put_tuple(b, 2);
                (void)pk_etf_put_atom(b, verb, strlen(verb));
                if (list)
                        (void)pk_etf_put_list(b, 1);
                (void)pk_etf_put_binary(b, arg, strlen(arg));
                if (list)
                        (void)pk_etf_put_nil(b);
        } else {
                (void)pk_etf_put_atom(b, verb, strlen(verb));
        }
        if (b->err)
                die("encode", -b->err);
        size_t n = b->len;
        m->len = 4 + n;
        m->data = malloc(m->len);
        if (!m->data)
                die("malloc", ENOMEM);
        m->data[0] = (unsigned char)(n >> 24);
        m->data[1] = (unsigned char)(n >> 16);
        m->data[2] = (unsigned char)(n >> 8);
        m->data[3] = (unsigned char)n;
        memcpy(m->data + 4, b->data, n);
        pk_etf_buf_free(b);
}

/* Writes a whole frame (requests are small: the socket buffer takes them). */
static void send_frame(struct conn *c, const struct msg *b)
{
        size_t off = 0;
        while (off < b->len) {
                ssize_t w = send(c->fd, b->data + off, b->len - off, MSG_NOSIGNAL);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0 && errno == EAGAIN) {
                        struct timespec ts = {0, 100000};
                        nanosleep(&ts, NULL);
                        continue;
                }
                if (w < 0)
                        die("send", errno);
                off += (size_t)w;
        }
}

/* The first status reply is decoded: {ok, [_]} or the run is void. */
static void check_reply(const unsigned char *p, size_t n)
{
        pk_arena *a = pk_arena_new(0);
        struct pk_term *t = NULL;
        struct pk_etf_decode_opts o = {.flags = PK_ETF_COPY};
        int r = a ? pk_etf_decode(a, p, n, &o, &t, NULL, NULL) : -ENOMEM;
        if (r < 0 || t->type != PK_TERM_TUPLE || t->v.tuple.arity != 2 ||
            t->v.tuple.elems[0].type != PK_TERM_ATOM || t->v.tuple.elems[0].v.atom.len != 2 ||
            memcmp(t->v.tuple.elems[0].v.atom.name, "ok", 2) != 0) {
                fprintf(stderr, "ctlload: status %s: not {ok, _}\n", unit);
                exit(1);
        }
        pk_arena_free(a);
        first_checked = 1;
}

/* One whole frame read from c. */
static void on_frame(struct conn *c, const unsigned char *p, size_t n)
{
        c->frames++;
        if (c->kind == K_REQ) {
                if (!first_checked)
                        check_reply(p, n);
                replies++;
                send_frame(c, &req_status);
        } else if (c->kind == K_CHURN) {
                restarts++;
                send_frame(c, &req_restart);
        }
}

/* Reads what is there; 0, or -1 when the daemon closed the connection. */
static int on_readable(struct conn *c)
{
        for (;;) {
                if (c->cap - c->len < 65536) {
                        size_t nc = c->cap ? c->cap * 2 : 131072;
                        unsigned char *m = realloc(c->in, nc);
                        if (!m)
                                die("realloc", ENOMEM);
                        c->in = m;
                        c->cap = nc;
                }
                ssize_t r = read(c->fd, c->in + c->len, c->cap - c->len);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0 && errno == EAGAIN)
                        break;
                if (r <= 0)
                        return -1;
                c->len += (size_t)r;
                size_t off = 0;
                while (c->len - off >= 4) {
                        const unsigned char *h = c->in + off;
                        size_t n =
                            (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
                        if (c->len - off - 4 < n)
                                break;
                        on_frame(c, h + 4, n);
                        off += 4 + n;
                }
                memmove(c->in, c->in + off, c->len - off);
                c->len -= off;
        }
        return 0;
}

static struct conn *connect_one(int kind)
{
        struct conn *c = calloc(1, sizeof(*c));
        if (!c)
                die("calloc", ENOMEM);
        c->kind = kind;
        c->fd = pk_fd_unix_connect(control, SOCK_STREAM, PK_FD_NONBLOCK);
        if (c->fd < 0)
                die(control, -c->fd);
        return c;
}

static long arg_long(const char *s)
{
        char *end;
        long v = strtol(s, &end, 10);
        if (*end || v < 0) {
                fprintf(stderr, "ctlload: bad number %s\n", s);
                exit(2);
        }
        return v;
}

int main(int argc, char **argv)
{
        long watchers = 0, requesters = 1, seconds = 5;
        int hostile = 0;
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
                if (strcmp(a, "--hostile") == 0) {
                        hostile = 1;
                        continue;
                }
                if (!v) {
                        fprintf(stderr, "ctlload: %s needs a value\n", a);
                        return 2;
                }
                i++;
                if (strcmp(a, "--control") == 0)
                        control = v;
                else if (strcmp(a, "--unit") == 0)
                        unit = v;
                else if (strcmp(a, "--label") == 0)
                        label = v;
                else if (strcmp(a, "--churn") == 0)
                        churn = v;
                else if (strcmp(a, "--watchers") == 0)
                        watchers = arg_long(v);
                else if (strcmp(a, "--requesters") == 0)
                        requesters = arg_long(v);
                else if (strcmp(a, "--seconds") == 0)
                        seconds = arg_long(v);
                else {
                        fprintf(stderr, "ctlload: unknown option %s\n", a);
                        return 2;
                }
        }
        if (!control || !unit || requesters < 1 || seconds < 1) {
                fprintf(stderr, "usage: ctlload --control PATH --unit NAME [--label L] "
                                "[--watchers W] [--requesters R] [--seconds S] [--churn UNIT] "
                                "[--hostile]\n");
                return 2;
        }
        frame(&req_status, "status", unit, 1);
        frame(&req_watch, "watch", NULL, 0);
        if (churn)
                frame(&req_restart, "restart", churn, 0);
        int ep = epoll_create1(EPOLL_CLOEXEC);
        if (ep < 0)
                die("epoll_create1", errno);
        size_t nconn = (size_t)watchers + (size_t)requesters + 2;
        struct conn **all = calloc(nconn, sizeof(*all));
        if (!all)
                die("calloc", ENOMEM);
        size_t n = 0;
        /* The watchers first, each subscribed (its `ok` read) before the next. */
        for (long i = 0; i < watchers; i++) {
                struct conn *c = connect_one(K_WATCH);
                send_frame(c, &req_watch);
                while (c->frames == 0) {
                        struct epoll_event e = {.events = EPOLLIN};
                        if (on_readable(c) < 0) {
                                fprintf(stderr, "ctlload: watcher %ld refused (client limit?)\n",
                                        i + 1);
                                return 1;
                        }
                        if (c->frames == 0) {
                                int one = epoll_create1(EPOLL_CLOEXEC);
                                e.data.ptr = c;
                                (void)epoll_ctl(one, EPOLL_CTL_ADD, c->fd, &e);
                                (void)epoll_wait(one, &e, 1, 1000);
                                close(one);
                        }
                }
                all[n++] = c;
        }
        struct conn *bad = NULL;
        if (hostile) {
                bad = connect_one(K_HOSTILE);
                send_frame(bad, &req_watch); /* and never a read */
        }
        for (size_t i = 0; i < n; i++) {
                struct epoll_event e = {.events = EPOLLIN, .data.ptr = all[i]};
                if (epoll_ctl(ep, EPOLL_CTL_ADD, all[i]->fd, &e) < 0)
                        die("epoll_ctl", errno);
        }
        unsigned long ev_before = 0;
        for (size_t i = 0; i < n; i++)
                ev_before += all[i]->frames;
        size_t first_req = n;
        for (long i = 0; i < requesters + (churn ? 1 : 0); i++) {
                struct conn *c = connect_one(i < requesters ? K_REQ : K_CHURN);
                struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
                if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e) < 0)
                        die("epoll_ctl", errno);
                all[n++] = c;
        }
        uint64_t t0 = now_ns(), end = t0 + (uint64_t)seconds * 1000000000u;
        for (size_t i = first_req; i < n; i++)
                send_frame(all[i], all[i]->kind == K_REQ ? &req_status : &req_restart);
        unsigned long lost = 0;
        int failed = 0;
        struct epoll_event evs[256];
        for (uint64_t t = t0; t < end; t = now_ns()) {
                int k = epoll_wait(ep, evs, 256, (int)((end - t) / 1000000u) + 1);
                if (k < 0 && errno != EINTR)
                        die("epoll_wait", errno);
                for (int i = 0; i < k; i++) {
                        struct conn *c = evs[i].data.ptr;
                        if (c->closed || on_readable(c) == 0)
                                continue;
                        c->closed = 1;
                        (void)epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                        if (c->kind == K_WATCH) {
                                lost++;
                        } else {
                                fprintf(stderr, "ctlload: the daemon closed a requester\n");
                                failed = 1;
                                end = t0; /* stop; report what was done */
                        }
                }
        }
        double secs = (double)(now_ns() - t0) / 1e9;
        unsigned long events = 0;
        for (size_t i = 0; i < first_req; i++)
                events += all[i]->frames;
        events -= ev_before;
        int dropped = 0;
        if (bad) {
                /* What it never read is there, then EOF if the daemon dropped it. */
                for (;;) {
                        unsigned char buf[65536];
                        ssize_t r = recv(bad->fd, buf, sizeof(buf), MSG_DONTWAIT);
                        if (r > 0 || (r < 0 && errno == EINTR))
                                continue;
                        dropped = r == 0 || (r < 0 && errno == ECONNRESET);
                        break;
                }
        }
        printf("R %s req_per_s %.1f\n", label, (double)replies / secs);
        printf("R %s requests %lu\n", label, replies);
        printf("R %s restarts %lu\n", label, restarts);
        printf("R %s events %lu\n", label, events);
        printf("R %s events_per_watcher %.1f\n", label,
               watchers ? (double)events / (double)watchers : 0.0);
        printf("R %s watchers_lost %lu\n", label, lost);
        if (bad)
                printf("R %s hostile_dropped %d\n", label, dropped);
        for (size_t i = 0; i < n; i++) {
                close(all[i]->fd);
                free(all[i]->in);
                free(all[i]);
        }
        if (bad) {
                close(bad->fd);
                free(bad);
        }
        free(all);
        close(ep);
        free(req_status.data);
        free(req_watch.data);
        free(req_restart.data);
        return replies > 0 && !failed ? 0 : 1;
}
