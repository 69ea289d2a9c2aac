/* SPDX-License-Identifier: MIT */
/* The host-side port object: its core (host.c: descriptors, the child, the
 * blocking API), process creation (open.c), the send queue (sendq.c, a plain
 * queue that knows no port) and one optional driver (driver_loop.c, the
 * loop-driven API) that the core calls only through struct pk__port_driver.
 *
 * The port's state is three small machines, each an enum with a state x event
 * table in state.c (s6-supervise's way): the two streams the host reads (the
 * child's output and its captured stderr), the stream it writes (the child's
 * input) and the child itself.  Every change of state goes through
 * pk__rd_step(), pk__wr_step() or pk__ch_step(). */
#ifndef PORTKIT_PORT_HOST_H
#define PORTKIT_PORT_HOST_H

#include "port-internal.h"
#include "portkit/loop.h"
#include "portkit/port.h"
#include "portkit/spawn.h"

#include <stdint.h>

/* ---- the state machines (state.c) ---------------------------------------- */

/* A stream the host reads: the child's output, or its captured stderr. */
enum pk__rd {
        PK__RD_OPEN, /* being read */
        PK__RD_EOF,  /* ended (EOF, a read error, or the host stopped reading):
                      * what is buffered is still delivered */
        PK__RD_DEAD, /* stopped by a hostile frame header: nothing more is delivered */
        PK__RD_TOLD, /* ended, and the loop API's eof callback has run (output only) */
        PK__RD_NSTATES
};
enum pk__rd_ev {
        PK__RD_END,     /* EOF, read error, or the host closes its end */
        PK__RD_HOSTILE, /* the deframer refused a header */
        PK__RD_TELL,    /* the eof callback runs */
        PK__RD_NEVENTS
};

/* The stream the host writes: the child's input. */
enum pk__wr {
        PK__WR_OPEN,     /* sends accepted */
        PK__WR_BUSY,     /* loop API: the queue reached busy_high; sends refused until busy_low */
        PK__WR_SHUTTING, /* close_input asked with data queued: EOF once it is written */
        PK__WR_CLOSED,   /* half-closed, closed at EOF, or broken (out_error says why) */
        PK__WR_NSTATES
};
enum pk__wr_ev {
        PK__WR_HIGH,  /* the queue reached busy_high */
        PK__WR_LOW,   /* the queue fell to busy_low */
        PK__WR_SHUT,  /* close_input with data still queued */
        PK__WR_CLOSE, /* the sending side is closed (or was never there) */
        PK__WR_NEVENTS
};

/* The child. */
enum pk__ch {
        PK__CH_NONE,    /* a port on descriptors: no child */
        PK__CH_RUNNING, /* not reaped yet (it may have exited) */
        PK__CH_REAPED,  /* reaped: its exit is in p->exit */
        PK__CH_NSTATES
};
enum pk__ch_ev { PK__CH_SPAWNED, PK__CH_REAP, PK__CH_NEVENTS };

void pk__rd_step(enum pk__rd *st, enum pk__rd_ev ev);
void pk__wr_step(enum pk__wr *st, enum pk__wr_ev ev);
void pk__ch_step(enum pk__ch *st, enum pk__ch_ev ev);

/* Still being read. */
static inline bool pk__rd_open(enum pk__rd st)
{
        return st == PK__RD_OPEN;
}
/* Sends are accepted. */
static inline bool pk__wr_accepting(enum pk__wr st)
{
        return st == PK__WR_OPEN || st == PK__WR_BUSY;
}

/* ---- the send queue (sendq.c): knows descriptors and bytes, not ports ---- */

/* One queued message: header and payload copied into one block. */
struct pk__sendq_item {
        struct pk__sendq_item *next;
        size_t len; /* bytes in data */
        size_t off; /* bytes already written */
        uint8_t data[];
};

struct pk__sendq {
        struct pk__sendq_item *head, *tail;
        size_t bytes; /* queued and not yet written */
};

void pk__sendq_clear(struct pk__sendq *q);
/* Appends hdr+data minus the first `skip` bytes (already written): 0 or -ENOMEM. */
int pk__sendq_append(struct pk__sendq *q, const uint8_t *hdr, size_t hlen, const void *data,
                     size_t len, size_t skip);
/* Writes as much of the queue as fd takes now: 0, or a negative errno. */
int pk__sendq_write(struct pk__sendq *q, int fd, bool guard);
/* Erlang's close flushes queued output first; a child that never reads would
 * hold us forever, so this gives up after about grace_ms.  Empties q. */
void pk__sendq_flush_blocking(struct pk__sendq *q, int fd, bool guard, int64_t grace_ms);

/* ---- the port ------------------------------------------------------------ */

/* What drives a port other than the blocking calls (the loop API).  The core
 * calls it only through this hook, so it never depends on the driver. */
struct pk__port_driver {
        /* Something changed (state, queue, descriptors): re-arm the watchers. */
        void (*update)(struct pk_port *p);
        /* Stop driving (close, free); the port is blocking again after. */
        void (*detach)(struct pk_port *p);
        /* pk_port_send() on a driven port: never blocks. */
        int (*send)(struct pk_port *p, const void *data, size_t len);
};

struct pk_port {
        struct pk_framing f;
        unsigned int flags;
        int in_fd;  /* host reads the child's output here */
        int out_fd; /* host writes the child's input here */
        int err_fd; /* the child's stderr, with PK_PORT_STDERR_CAPTURE */
        /* in_fd was left blocking (spawned ports, until attached to a loop):
         * a recv with nothing else to wait for reads without a poll first. */
        bool in_blocking;
        bool guard; /* hold off SIGPIPE around writes */
        /* The child (NULL for a port on descriptors): the spawn layer's handle
         * waits, signals and watches it; the port took its pipe ends. */
        struct pk_proc *proc;
        struct pk_deframer *d;
        struct pk_deframer *derr;
        enum pk__rd in_st;  /* the child's output */
        enum pk__rd err_st; /* its captured stderr (PK__RD_EOF when there is none) */
        enum pk__wr out_st; /* the child's input */
        enum pk__ch ch_st;
        int in_error;  /* read error to report once */
        int out_error; /* why sending stopped (-EPIPE ...) */
        struct pk_exit exit;
        size_t busy_high, busy_low;
        int64_t kill_grace_ms;
        int64_t send_timeout_ms;
        size_t rbuf_max;     /* unread bytes held per output stream, blocking API */
        struct pk__sendq sq; /* loop-driven API */
        /* The driver, NULL for a blocking port. */
        const struct pk__port_driver *drv;
        struct pk_loop *loop;
        struct pk_loop_io w_in, w_out, w_err;
        struct pk_loop_child w_child;
        struct pk_port_callbacks cb;
        void *ctx;
        int cb_depth;       /* callbacks running on the stack */
        bool close_pending; /* closed inside a callback: free when it returns */
};

/* Tells the driver, if any, that the port changed. */
static inline void pk__port_changed(struct pk_port *p)
{
        if (p->drv)
                p->drv->update(p);
}

int pk__port_new(const struct pk_port_opts *opts, struct pk_port **ret);
void pk__port_free(struct pk_port *p);
void pk__port_close_fds(struct pk_port *p);
/* Stops reading the child's output for good and closes that pipe end. */
void pk__port_close_in(struct pk_port *p);
/* Reads what is ready on the output / stderr streams into the deframers. */
int pk__port_pump(struct pk_port *p, bool out_ready, bool err_ready);
/* Reaps the child if it exits within timeout_ms (0: only check, < 0: wait):
 * 0 (p->exit set), -ETIMEDOUT (still running) or an error. */
int pk__port_reap(struct pk_port *p, int64_t timeout_ms);
/* Records an exit the driver reaped. */
void pk__port_set_reaped(struct pk_port *p, const struct pk_exit *ex);

#endif
