/* SPDX-License-Identifier: MIT */
/* The host side of a port, blocking API: framed send with the child's output
 * pumped while its input is full (no deadlock), receive with a timeout over
 * stdout and a separate stderr stream, half-close, wait, kill and Erlang's
 * close; also the port's core, which reaches a driver (the loop-driven API
 * in driver_loop.c) only through p->drv.  Process creation lives in open.c,
 * the state tables in state.c. */
#include "port-host.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

static int64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left until deadline (-1: none) as a poll() timeout. */
static int poll_timeout(int64_t deadline)
{
        if (deadline < 0)
                return -1;
        int64_t left = deadline - now_ms();
        if (left <= 0)
                return 0;
        return left > 1000000 ? 1000000 : (int)left;
}

/* The unread output of one stream has reached the cap: stop reading it. */
static bool out_full(const struct pk_port *p)
{
        return pk__rd_open(p->in_st) && p->d && pk_deframer_pending(p->d) >= p->rbuf_max;
}

static bool err_full(const struct pk_port *p)
{
        return pk__rd_open(p->err_st) && p->derr && pk_deframer_pending(p->derr) >= p->rbuf_max;
}

/* Appends to pf[nf..] a POLLIN entry for the child's output and one for its
 * stderr pipe, those still open and under their cap; their indexes go in
 * *out_i / *err_i (-1: none).  Returns the new count. */
static nfds_t poll_outputs(const struct pk_port *p, struct pollfd *pf, nfds_t nf, int *out_i,
                           int *err_i)
{
        *out_i = *err_i = -1;
        if (pk__rd_open(p->in_st) && !out_full(p)) {
                *out_i = (int)nf;
                pf[nf++] = (struct pollfd){.fd = p->in_fd, .events = POLLIN};
        }
        if (pk__rd_open(p->err_st) && p->err_fd >= 0 && !err_full(p)) {
                *err_i = (int)nf;
                pf[nf++] = (struct pollfd){.fd = p->err_fd, .events = POLLIN};
        }
        return nf;
}

int pk__port_new(const struct pk_port_opts *opts, struct pk_port **ret)
{
        static const struct pk_port_opts defaults;
        if (!opts)
                opts = &defaults;
        struct pk_port *p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->in_fd = p->out_fd = p->err_fd = -1;
        p->flags = opts->flags;
        p->busy_high = opts->busy_high ? opts->busy_high : PK_PORT_DEFAULT_BUSY_HIGH;
        p->busy_low = opts->busy_low ? opts->busy_low : PK_PORT_DEFAULT_BUSY_LOW;
        if (p->busy_low > p->busy_high)
                p->busy_low = p->busy_high;
        p->kill_grace_ms =
            opts->kill_grace_ms ? opts->kill_grace_ms : PK_PORT_DEFAULT_KILL_GRACE_MS;
        p->send_timeout_ms = opts->send_timeout_ms;
        p->rbuf_max =
            opts->recv_buffer_max ? opts->recv_buffer_max : PK_PORT_DEFAULT_RECV_BUFFER_MAX;
        int r = pk_framing_normalize(&opts->framing, &p->f);
        if (r == 0 && !(p->flags & PK_PORT_OUT))
                r = pk_deframer_new(&p->f, &p->d);
        if (r == 0 && (p->flags & PK_PORT_STDERR_CAPTURE)) {
                struct pk_framing ef;
                r = pk_framing_normalize(&opts->stderr_framing, &ef);
                if (r == 0)
                        r = pk_deframer_new(&ef, &p->derr);
                if (r == 0 && p->rbuf_max < ef.max_message + 8)
                        p->rbuf_max = ef.max_message + 8;
        }
        /* Any message the framing allows (header included) must still fit. */
        if (r == 0 && p->rbuf_max < p->f.max_message + 8)
                p->rbuf_max = p->f.max_message + 8;
        if (r < 0) {
                pk__port_free(p);
                return r;
        }
        *ret = p;
        return 0;
}

void pk__port_free(struct pk_port *p)
{
        if (!p)
                return;
        if (p->drv)
                p->drv->detach(p);
        pk__port_close_fds(p);
        p->proc = pk_proc_free(p->proc);
        pk_deframer_free(p->d);
        pk_deframer_free(p->derr);
        pk__sendq_clear(&p->sq);
        free(p);
}

void pk__port_close_fds(struct pk_port *p)
{
        bool own = p->proc || (p->flags & PK_PORT_OWN_FDS);
        if (p->out_fd >= 0 && own && p->out_fd != p->in_fd)
                p->out_fd = pk_fd_close(p->out_fd);
        if (p->in_fd >= 0 && own)
                p->in_fd = pk_fd_close(p->in_fd);
        if (p->err_fd >= 0)
                p->err_fd = pk_fd_close(p->err_fd);
        p->in_fd = p->out_fd = p->err_fd = -1;
        pk__rd_step(&p->in_st, PK__RD_END);
        pk__rd_step(&p->err_st, PK__RD_END);
        pk__wr_step(&p->out_st, PK__WR_CLOSE);
}

void pk__port_close_in(struct pk_port *p)
{
        pk__rd_step(&p->in_st, PK__RD_END);
        pk__port_changed(p);
        bool own = p->proc || (p->flags & PK_PORT_OWN_FDS);
        if (p->in_fd >= 0 && p->in_fd != p->out_fd) {
                if (own)
                        p->in_fd = pk_fd_close(p->in_fd);
                p->in_fd = -1;
        } else if (p->in_fd >= 0) {
                shutdown(p->in_fd, SHUT_RD);
        }
}

int pk_port_open_fds(int in_fd, int out_fd, const struct pk_port_opts *opts, struct pk_port **ret)
{
        unsigned int flags = opts ? opts->flags : 0;
        bool own = flags & PK_PORT_OWN_FDS;
        int r = -EINVAL;
        if (!ret)
                goto fail;
        if (opts &&
            (opts->cd || opts->env || opts->arg0 ||
             (flags & (PK_PORT_EXIT_STATUS | PK_PORT_KILL_ON_CLOSE | PK_PORT_PDEATHSIG |
                       PK_PORT_STDERR_CAPTURE | PK_PORT_STDERR_TO_STDOUT | PK_PORT_NOUSE_STDIO))))
                goto fail;
        if ((flags & PK_PORT_IN) && (flags & PK_PORT_OUT))
                goto fail;
        r = -EBADF;
        if (!(flags & PK_PORT_OUT) && (in_fd < 0 || fcntl(in_fd, F_GETFD) < 0))
                goto fail;
        if (!(flags & PK_PORT_IN) && (out_fd < 0 || fcntl(out_fd, F_GETFD) < 0))
                goto fail;
        struct pk_port *p;
        r = pk__port_new(opts, &p);
        if (r < 0)
                goto fail;
        p->in_fd = (flags & PK_PORT_OUT) ? -1 : in_fd;
        p->out_fd = (flags & PK_PORT_IN) ? -1 : out_fd;
        if (p->in_fd < 0)
                pk__rd_step(&p->in_st, PK__RD_END);
        if (p->out_fd < 0)
                pk__wr_step(&p->out_st, PK__WR_CLOSE);
        pk__rd_step(&p->err_st, PK__RD_END); /* no stderr stream */
        if ((p->in_fd >= 0 && (r = pk_fd_set_nonblock(p->in_fd, 1)) < 0) ||
            (p->out_fd >= 0 && (r = pk_fd_set_nonblock(p->out_fd, 1)) < 0)) {
                pk__port_free(p);
                return r;
        }
        p->guard = !pk__port_sigpipe_ignored();
        *ret = p;
        return 0;
fail:
        if (own) {
                /* Taken even on failure; one socket both ways is closed once. */
                if (out_fd != in_fd)
                        pk_fd_close(out_fd);
                pk_fd_close(in_fd);
        }
        return r;
}

/* Reads what is available on one stream into its deframer.  Returns 0 (or
 * -EAGAIN when nothing was there) or a negative error; sets *eof at EOF. */
static int pump_one(int fd, struct pk_deframer *d, bool *eof)
{
        void *buf;
        size_t room;
        int r = pk_deframer_space(d, 0, &buf, &room);
        if (r < 0)
                return r;
        ssize_t n = pk__port_read_once(fd, buf, room);
        if (n == 0) {
                *eof = true;
                return 0;
        }
        if (n < 0)
                return (int)n;
        pk_deframer_commit(d, (size_t)n);
        return 0;
}

int pk__port_pump(struct pk_port *p, bool out_ready, bool err_ready)
{
        if (out_ready && pk__rd_open(p->in_st)) {
                bool eof = false;
                int r = pump_one(p->in_fd, p->d, &eof);
                if (r < 0 && r != -EAGAIN) {
                        p->in_error = r;
                        eof = true;
                }
                if (eof)
                        pk__rd_step(&p->in_st, PK__RD_END);
                if (eof && !(p->flags & PK_PORT_EOF) && p->out_st != PK__WR_CLOSED && p->proc) {
                        /* Erlang closes the whole port at EOF unless `eof` is set: the
                         * child's input is closed with it. */
                        pk_port_close_input(p);
                }
        }
        if (err_ready && pk__rd_open(p->err_st)) {
                bool eof = false;
                int r = pump_one(p->err_fd, p->derr, &eof);
                if (eof || (r < 0 && r != -EAGAIN))
                        pk__rd_step(&p->err_st, PK__RD_END);
        }
        return 0;
}

int pk_port_send(struct pk_port *p, const void *data, size_t len)
{
        if (!p || (!data && len > 0))
                return -EINVAL;
        if (p->flags & PK_PORT_IN)
                return -EINVAL;
        if (!pk__wr_accepting(p->out_st))
                return p->out_error ? p->out_error : PK_ECLOSED;
        if (p->drv)
                return p->drv->send(p, data, len);
        uint8_t hdr[4];
        size_t hlen;
        int r = pk_packet_header(&p->f, len, hdr, &hlen);
        if (r < 0)
                return r;
        struct iovec iov[2] = {
            {.iov_base = hdr, .iov_len = hlen},
            {.iov_base = (void *)(uintptr_t)data, .iov_len = len},
        };
        int first = hlen ? 0 : 1;
        size_t written = 0;
        int64_t deadline = p->send_timeout_ms > 0 ? now_ms() + p->send_timeout_ms : -1;
        while (first < 2) {
                ssize_t n = pk__port_writev_once(p->out_fd, iov + first, 2 - first, p->guard);
                if (n >= 0) {
                        written += (size_t)n;
                        first = pk__iov_advance(iov, 2, first, (size_t)n);
                        while (first < 2 && iov[first].iov_len == 0)
                                first++;
                        continue;
                }
                if (n != -EAGAIN) {
                        p->out_error = (int)n;
                        pk_port_close_input(p);
                        return (int)n;
                }
                /* The child's input is full: wait until it drains, and meanwhile read
                 * its output so a child blocked writing to us can go on. */
                struct pollfd pf[3] = {{.fd = p->out_fd, .events = POLLOUT}};
                int out_i, err_i;
                nfds_t nf = poll_outputs(p, pf, 1, &out_i, &err_i);
                if (nf == 1 && (out_full(p) || err_full(p))) {
                        /* Its unread output is at the cap and its input is full:
                         * reading on would grow without bound, waiting would wait
                         * on a child that waits on us.  Say so instead. */
                        int pr = poll(pf, 1, 0);
                        if (pr < 0 && errno != EINTR)
                                return -errno;
                        if (pr <= 0) {
                                if (written > 0) {
                                        /* Part of a frame is out: the stream is broken. */
                                        p->out_error = PK_ECLOSED;
                                        pk_port_close_input(p);
                                }
                                return -ENOBUFS;
                        }
                        continue;
                }
                int to = poll_timeout(deadline);
                int pr = poll(pf, nf, to);
                if (pr < 0 && errno != EINTR)
                        return -errno;
                if (pr == 0 && deadline >= 0 && poll_timeout(deadline) == 0) {
                        /* Part of a frame may be out: the stream can no longer be trusted. */
                        p->out_error = PK_ECLOSED;
                        pk_port_close_input(p);
                        return -ETIMEDOUT;
                }
                pk__port_pump(p, out_i >= 0 && pf[out_i].revents, err_i >= 0 && pf[err_i].revents);
                /* EOF on the output closes the sending side too (Erlang's
                 * default): the rest of this message cannot go out. */
                if (p->out_st == PK__WR_CLOSED)
                        return p->out_error ? p->out_error : PK_ECLOSED;
        }
        return 0;
}

/* Takes a complete message already buffered, if any (stdout first). */
static int take_buffered(struct pk_port *p, bool want_err, struct pk_port_msg *ret)
{
        struct pk_packet_msg m;
        int r = 0;
        if (p->d && p->in_st != PK__RD_DEAD) {
                r = pk_deframer_next(p->d, &m);
                if (r == 0 && !pk__rd_open(p->in_st)) {
                        r = pk_deframer_finish(p->d, &m);
                        /* A read error ended the stream: it is the cause, also
                         * of a frame left half read (not PK_EPARTIAL). */
                        if (r <= 0 && p->in_error) {
                                r = p->in_error;
                                p->in_error = 0;
                        }
                }
                if (r < 0 && r != PK_EPARTIAL) {
                        pk__rd_step(&p->in_st, PK__RD_HOSTILE);
                        pk__port_close_in(p);
                }
                if (r != 0) {
                        if (r == 1)
                                *ret =
                                    (struct pk_port_msg){m.data, m.len, m.flags, PK_PORT_FROM_OUT};
                        return r;
                }
        }
        if (want_err && p->derr) {
                r = pk_deframer_next(p->derr, &m);
                if (r == 0 && !pk__rd_open(p->err_st))
                        r = pk_deframer_finish(p->derr, &m);
                if (r == 1)
                        *ret = (struct pk_port_msg){m.data, m.len, m.flags, PK_PORT_FROM_ERR};
                if (r < 0) {
                        /* A broken stderr stream is not worth failing the port for. */
                        pk_deframer_free(p->derr);
                        p->derr = NULL;
                        r = 0;
                }
        }
        return r;
}

static bool input_done(const struct pk_port *p, bool want_err)
{
        bool out_done = !p->d || p->in_st == PK__RD_DEAD ||
                        (!pk__rd_open(p->in_st) && pk_deframer_pending(p->d) == 0);
        bool err_done =
            !want_err || !p->derr || (!pk__rd_open(p->err_st) && pk_deframer_pending(p->derr) == 0);
        return out_done && err_done;
}

static int recv_from(struct pk_port *p, bool want_err, struct pk_port_msg *ret, int64_t timeout_ms)
{
        if (!p || !ret)
                return -EINVAL;
        if ((p->flags & PK_PORT_OUT) || p->drv)
                return -EINVAL;
        int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
        for (;;) {
                int r = take_buffered(p, want_err, ret);
                if (r != 0)
                        return r;
                if (input_done(p, want_err))
                        return 0;
                /* pk_port_call keeps stderr for later, up to the cap. */
                if (!want_err && err_full(p))
                        return -ENOBUFS;
                if (p->in_blocking && deadline < 0 && pk__rd_open(p->in_st) &&
                    (!want_err || !pk__rd_open(p->err_st) || p->err_fd < 0)) {
                        /* Nothing else to wait for: a blocking read saves the poll. */
                        pk__port_pump(p, true, false);
                        continue;
                }
                struct pollfd pf[2];
                int out_i, err_i;
                nfds_t nf = poll_outputs(p, pf, 0, &out_i, &err_i);
                if (nf == 0)
                        return 0;
                int pr = poll(pf, nf, poll_timeout(deadline));
                if (pr < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (pr == 0)
                        return -ETIMEDOUT;
                pk__port_pump(p, out_i >= 0 && pf[out_i].revents, err_i >= 0 && pf[err_i].revents);
        }
}

int pk_port_recv(struct pk_port *p, struct pk_port_msg *ret, int64_t timeout_ms)
{
        return recv_from(p, true, ret, timeout_ms);
}

int pk_port_call(struct pk_port *p, const void *data, size_t len, struct pk_port_msg *ret,
                 int64_t timeout_ms)
{
        if (!ret || !p || p->drv)
                return -EINVAL;
        int r = pk_port_send(p, data, len);
        if (r < 0)
                return r;
        return recv_from(p, false, ret, timeout_ms);
}

int pk_port_close_input(struct pk_port *p)
{
        if (!p || (p->flags & PK_PORT_IN))
                return -EINVAL;
        if (p->sq.head && !p->out_error && p->out_fd >= 0) {
                /* Loop-driven with data queued: EOF goes out after it. */
                pk__wr_step(&p->out_st, PK__WR_SHUT);
                return 0;
        }
        pk__wr_step(&p->out_st, PK__WR_CLOSE);
        pk__sendq_clear(&p->sq);
        /* Stop watching before closing: a closed fd can linger in epoll. */
        pk__port_changed(p);
        if (p->out_fd >= 0) {
                bool own = p->proc || (p->flags & PK_PORT_OWN_FDS);
                if (p->out_fd == p->in_fd) {
                        /* One socket both ways: shut down only the sending half. */
                        shutdown(p->out_fd, SHUT_WR);
                } else if (own) {
                        p->out_fd = pk_fd_close(p->out_fd);
                }
                p->out_fd = -1;
        }
        return 0;
}

int pk__port_reap(struct pk_port *p, int64_t timeout_ms)
{
        if (p->ch_st == PK__CH_REAPED)
                return 0;
        int r = pk_proc_wait(p->proc, timeout_ms, &p->exit);
        if (r == 0)
                pk__ch_step(&p->ch_st, PK__CH_REAP);
        return r;
}

void pk__port_set_reaped(struct pk_port *p, const struct pk_exit *ex)
{
        pk_proc_set_reaped(p->proc, ex);
        p->exit = *ex;
        pk__ch_step(&p->ch_st, PK__CH_REAP);
}

int pk_port_wait(struct pk_port *p, int64_t timeout_ms, struct pk_exit *ret_exit)
{
        if (!p)
                return -EINVAL;
        if (!p->proc)
                return -ECHILD;
        if (p->drv && p->ch_st != PK__CH_REAPED)
                return -EINVAL;
        int r = pk__port_reap(p, timeout_ms);
        if (r == 0 && ret_exit)
                *ret_exit = p->exit;
        return r;
}

int pk_port_kill(struct pk_port *p, int sig)
{
        if (!p)
                return -EINVAL;
        if (!p->proc)
                return -ECHILD;
        if (p->ch_st == PK__CH_REAPED)
                return -ESRCH;
        /* The child leads its own process group (setsid), so this reaches the
         * whole tree it started unless something moved itself out. */
        int r = pk_proc_kill_group(p->proc, sig);
        if (r != -ESRCH)
                return r;
        /* Not a group leader (yet, or any more): signal the process itself,
         * through its pidfd so a recycled pid is never hit. */
        return pk_proc_signal(p->proc, sig);
}

/* PK_PORT_KILL_ON_CLOSE: SIGTERM to the group and the grace period for the
 * child to exit, then SIGKILL to the group whatever happened: a grandchild
 * that ignores SIGTERM, or one a child that already exited left running in
 * the background, may remain.  The child is reaped last, so until then its
 * zombie holds the group's id (and the pidfd names the group after). */
static void kill_tree(struct pk_port *p)
{
        if (p->ch_st == PK__CH_RUNNING && p->kill_grace_ms > 0) {
                (void)pk_proc_kill_group(p->proc, SIGTERM);
                /* Wait for the exit without reaping: the pidfd turns readable. */
                int64_t deadline = now_ms() + p->kill_grace_ms;
                struct pollfd pf = {.fd = pk_proc_pidfd(p->proc), .events = POLLIN};
                int to;
                while ((to = poll_timeout(deadline)) > 0 && poll(&pf, 1, to) < 0 && errno == EINTR)
                        ;
        }
        (void)pk_proc_kill_group(p->proc, SIGKILL);
        if (p->ch_st == PK__CH_RUNNING) {
                (void)pk_proc_signal(p->proc, SIGKILL); /* should it have left the group */
                (void)pk__port_reap(p, -1);
        }
}

int pk_port_close(struct pk_port *p, struct pk_exit *ret_exit)
{
        if (!p)
                return 0;
        if (p->close_pending)
                return -EINVAL;
        struct pk_loop *loop = p->drv ? p->loop : NULL;
        if (p->drv)
                p->drv->detach(p); /* from here on, blocking semantics */
        if (p->out_st != PK__WR_CLOSED && p->out_fd >= 0 && p->sq.bytes > 0)
                pk__sendq_flush_blocking(&p->sq, p->out_fd, p->guard, p->kill_grace_ms);
        pk__port_close_fds(p);
        int rc = 0;
        if (p->proc && (p->flags & PK_PORT_KILL_ON_CLOSE)) {
                kill_tree(p);
        } else if (p->ch_st == PK__CH_RUNNING) {
                if (pk__port_reap(p, 0) != 0) {
                        rc = -EINPROGRESS;
                        /* Loop-driven: the loop reaps it when it exits (and
                         * runs until then, or pk_loop_free() releases it). */
                        if (loop)
                                (void)pk_loop_child_adopt(loop, pk_proc_pid(p->proc));
                }
        }
        if (ret_exit) {
                if (p->ch_st == PK__CH_REAPED)
                        *ret_exit = p->exit;
                else
                        *ret_exit = (struct pk_exit){.code = -1};
        }
        if (p->cb_depth > 0) {
                /* Inside one of this port's callbacks: freed when it returns. */
                p->close_pending = true;
                return rc;
        }
        pk__port_free(p);
        return rc;
}

pid_t pk_port_pid(const struct pk_port *p)
{
        return p && p->proc ? pk_proc_pid(p->proc) : -1;
}

int pk_port_output_fd(const struct pk_port *p)
{
        return p ? p->in_fd : -1;
}

const struct pk_framing *pk_port_framing(const struct pk_port *p)
{
        return p ? &p->f : NULL;
}
