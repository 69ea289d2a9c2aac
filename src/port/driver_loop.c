/* SPDX-License-Identifier: MIT */
/* The loop driver of a port (the loop-driven host API): its pipes and pidfd
 * as watchers of a pk_loop, messages and exits delivered through callbacks, a
 * non-blocking send queue with Erlang's busy watermarks.  The port's core
 * (host.c) reaches this file only through the struct pk__port_driver hook set
 * by pk_port_attach().  A callback may close its own port: the port is then
 * freed only when the dispatch unwinds. */
#include "port-host.h"

/* Runs a callback with the port marked busy-in-callback; false if the
 * callback closed the port (the caller must stop touching it). */
#define PK__CALL(p, fn, ...)                                                                       \
        ({                                                                                         \
                if ((p)->cb.fn) {                                                                  \
                        (p)->cb_depth++;                                                           \
                        (p)->cb.fn((p), __VA_ARGS__);                                              \
                        (p)->cb_depth--;                                                           \
                }                                                                                  \
                !(p)->close_pending;                                                               \
        })

static void io_cb(struct pk_loop_io *io, unsigned revents);

/* The events each descriptor should be watched for now. */
static unsigned want_in(const struct pk_port *p)
{
        return p->in_fd >= 0 && pk__rd_open(p->in_st) ? PK_LOOP_READ : 0;
}

static unsigned want_out(const struct pk_port *p)
{
        return p->out_fd >= 0 && p->out_st != PK__WR_CLOSED && p->sq.head ? PK_LOOP_WRITE : 0;
}

static void set_watch(struct pk_loop_io *io, unsigned events)
{
        if (!events) {
                pk_loop_io_stop(io);
                return;
        }
        if (pk_loop_is_active(&io->w) && io->events == events)
                return;
        (void)pk_loop_io_start(io, events, io_cb);
}

static void update(struct pk_port *p)
{
        if (p->in_fd >= 0 && p->in_fd == p->out_fd) {
                set_watch(&p->w_in, want_in(p) | want_out(p));
        } else {
                if (p->in_fd >= 0)
                        set_watch(&p->w_in, want_in(p));
                if (p->out_fd >= 0)
                        set_watch(&p->w_out, want_out(p));
        }
        if (p->err_fd >= 0)
                set_watch(&p->w_err, pk__rd_open(p->err_st) ? PK_LOOP_READ : 0);
}

static void detach(struct pk_port *p)
{
        pk_loop_io_stop(&p->w_in);
        pk_loop_io_stop(&p->w_out);
        pk_loop_io_stop(&p->w_err);
        pk_loop_child_stop(&p->w_child);
        p->drv = NULL;
        p->loop = NULL;
}

/* pk_port_send() on a driven port: writes what the pipe takes now and queues
 * the rest (one copy); refuses with PK_EBUSY_PORT at the high watermark. */
static int send_queued(struct pk_port *p, const void *data, size_t len)
{
        if (p->sq.bytes >= p->busy_high) {
                pk__wr_step(&p->out_st, PK__WR_HIGH);
                return PK_EBUSY_PORT;
        }
        uint8_t hdr[4];
        size_t hlen;
        int r = pk_packet_header(&p->f, len, hdr, &hlen);
        if (r < 0)
                return r;
        if (hlen + len == 0)
                return 0;
        size_t off = 0;
        if (!p->sq.head) {
                /* Nothing queued: try the pipe first, copy only what it refuses. */
                struct iovec iov[2] = {{hdr, hlen}, {(void *)(uintptr_t)data, len}};
                ssize_t w = pk__port_writev_once(p->out_fd, iov, 2, p->guard);
                if (w < 0 && w != -EAGAIN) {
                        p->out_error = (int)w;
                        return (int)w;
                }
                if (w > 0)
                        off = (size_t)w;
                if (off == hlen + len)
                        return 0;
        }
        r = pk__sendq_append(&p->sq, hdr, hlen, data, len, off);
        if (r < 0)
                return r;
        if (p->sq.bytes >= p->busy_high)
                pk__wr_step(&p->out_st, PK__WR_HIGH);
        update(p);
        return 0;
}

static const struct pk__port_driver loop_driver = {
    .update = update,
    .detach = detach,
    .send = send_queued,
};

/* Delivers every complete message buffered on one stream; at EOF also the
 * trailing ones, the framing error, and the eof callback.  Returns false if
 * a callback closed the port. */
static bool deliver(struct pk_port *p, bool err_stream)
{
        struct pk_deframer *d = err_stream ? p->derr : p->d;
        enum pk__rd st = err_stream ? p->err_st : p->in_st;
        bool eof = !pk__rd_open(st);
        if (!d || (!err_stream && (st == PK__RD_DEAD || st == PK__RD_TOLD)))
                return true;
        for (;;) {
                struct pk_packet_msg m;
                int r = eof ? pk_deframer_finish(d, &m) : pk_deframer_next(d, &m);
                if (r == 1) {
                        struct pk_port_msg pm = {m.data, m.len, m.flags,
                                                 err_stream ? PK_PORT_FROM_ERR : PK_PORT_FROM_OUT};
                        if (!PK__CALL(p, message, &pm, p->ctx))
                                return false;
                        continue;
                }
                if (r < 0 && !err_stream) {
                        if (r != PK_EPARTIAL) {
                                /* A hostile header: stop reading for good and close our
                                 * end so the child is not left blocked writing to us. */
                                pk__rd_step(&p->in_st, PK__RD_HOSTILE);
                                update(p);
                                pk__port_close_in(p);
                        }
                        if (!PK__CALL(p, error, r, p->ctx))
                                return false;
                        eof = true;
                }
                break;
        }
        if (!err_stream && eof && p->in_st != PK__RD_TOLD) {
                pk__rd_step(&p->in_st, PK__RD_TELL);
                if (p->in_error) {
                        int e = p->in_error;
                        p->in_error = 0;
                        if (!PK__CALL(p, error, e, p->ctx))
                                return false;
                }
                if (!PK__CALL(p, eof, p->ctx))
                        return false;
        }
        return true;
}

/* Reads once from a ready stream, then delivers. */
static bool on_readable(struct pk_port *p, bool err_stream)
{
        if (pk__rd_open(err_stream ? p->err_st : p->in_st)) {
                pk__port_pump(p, !err_stream, err_stream);
                if (!pk__rd_open(err_stream ? p->err_st : p->in_st))
                        update(p);
        }
        return deliver(p, err_stream);
}

static bool on_writable(struct pk_port *p)
{
        int r = pk__sendq_write(&p->sq, p->out_fd, p->guard);
        if (r < 0) {
                p->out_error = r;
                pk__sendq_clear(&p->sq);
                pk_port_close_input(p);
                return PK__CALL(p, error, r, p->ctx);
        }
        if (!p->sq.head && p->out_st == PK__WR_SHUTTING)
                pk_port_close_input(p);
        update(p);
        if (p->out_st == PK__WR_BUSY && p->sq.bytes <= p->busy_low) {
                pk__wr_step(&p->out_st, PK__WR_LOW);
                return PK__CALL(p, drain, p->ctx);
        }
        return true;
}

static void finish_dispatch(struct pk_port *p)
{
        if (p->close_pending && p->cb_depth == 0)
                pk__port_free(p);
}

static void io_cb(struct pk_loop_io *io, unsigned revents)
{
        struct pk_port *p = io->w.ctx;
        bool alive = true;
        if (io == &p->w_err) {
                alive = on_readable(p, true);
        } else {
                bool is_in = io == &p->w_in;
                bool is_out = io == &p->w_out || (is_in && p->in_fd >= 0 && p->in_fd == p->out_fd);
                if (is_in && (revents & PK_LOOP_READ))
                        alive = on_readable(p, false);
                if (alive && is_out && (revents & PK_LOOP_WRITE))
                        alive = on_writable(p);
        }
        (void)alive;
        finish_dispatch(p);
}

static void child_cb(struct pk_loop_child *c, int err, const struct pk_exit *ex)
{
        struct pk_port *p = c->w.ctx;
        /* Output the child wrote before it died comes first: drain what the
         * pipes hold now (without waiting for EOF, which a grandchild can hold
         * back forever). */
        bool alive = true;
        for (int i = 0; i < 64 && alive && pk__rd_open(p->in_st) && p->in_fd >= 0; i++) {
                size_t before = pk_deframer_pending(p->d);
                int r = pk__port_pump(p, true, false);
                (void)r;
                alive = deliver(p, false);
                if (alive && pk__rd_open(p->in_st) && pk_deframer_pending(p->d) == before)
                        break; /* nothing more right now */
        }
        if (alive && p->err_fd >= 0 && pk__rd_open(p->err_st)) {
                pk__port_pump(p, false, true);
                alive = deliver(p, true);
        }
        if (!alive) {
                finish_dispatch(p);
                return;
        }
        (void)err; /* on failure ex is {0, -1, 0, 0}: "unknown" */
        pk__port_set_reaped(p, ex);
        update(p);
        if (p->flags & PK_PORT_EXIT_STATUS)
                (void)PK__CALL(p, exit, &p->exit, p->ctx);
        finish_dispatch(p);
}

int pk_port_attach(struct pk_port *p, struct pk_loop *loop, const struct pk_port_callbacks *cb,
                   void *ctx)
{
        if (!p || !loop || !cb)
                return -EINVAL;
        if (p->drv)
                return -EEXIST;
        if (p->in_blocking) {
                int r = pk_fd_set_nonblock(p->in_fd, 1);
                if (r < 0)
                        return r;
                p->in_blocking = false;
        }
        p->loop = loop;
        p->cb = *cb;
        p->ctx = ctx;
        pk_loop_io_init(loop, &p->w_in, p->in_fd);
        pk_loop_io_init(loop, &p->w_out, p->out_fd);
        pk_loop_io_init(loop, &p->w_err, p->err_fd);
        pk_loop_child_init(loop, &p->w_child);
        p->w_in.w.ctx = p->w_out.w.ctx = p->w_err.w.ctx = p->w_child.w.ctx = p;
        if (p->ch_st == PK__CH_RUNNING) {
                int r = pk_proc_watch(p->proc, &p->w_child, child_cb);
                if (r < 0) {
                        p->loop = NULL;
                        return r;
                }
        }
        p->drv = &loop_driver;
        update(p);
        return 0;
}

size_t pk_port_queued(const struct pk_port *p)
{
        return p ? p->sq.bytes : 0;
}

int pk_port_busy(const struct pk_port *p)
{
        return p && p->out_st == PK__WR_BUSY;
}
