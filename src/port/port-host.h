/* SPDX-License-Identifier: MIT */
/* The host-side port object, shared by the blocking API (host.c), process
 * creation (open.c), the send queue (sendq.c) and the loop-driven API. */
#ifndef PORTKIT_PORT_HOST_H
#define PORTKIT_PORT_HOST_H

#include "port-internal.h"
#include "portkit/loop.h"
#include "portkit/port.h"
#include "portkit/spawn.h"

#include <stdint.h>

/* One queued message: header and payload copied into one block. */
struct pk__sendq_item {
        struct pk__sendq_item *next;
        size_t len; /* bytes in data */
        size_t off; /* bytes already written */
        uint8_t data[];
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
        /* The child (NULL for a port on descriptors): the spawn layer's handle
         * waits, signals and watches it; the port took its pipe ends. */
        struct pk_proc *proc;
        struct pk_deframer *d;
        struct pk_deframer *derr;
        bool guard;      /* hold off SIGPIPE around writes */
        bool in_eof;     /* the child's output reached EOF */
        bool in_dead;    /* input stopped by an error (oversize header) */
        bool err_eof;    /* the stderr stream reached EOF */
        bool out_closed; /* no more sending: half-closed, EOF-closed or broken */
        bool reaped;     /* proc's exit is known and copied to exit */
        bool eof_told;   /* the loop API's eof callback has run */
        int in_error;    /* read error to report once */
        int out_error;   /* why sending stopped (-EPIPE ...) */
        struct pk_exit exit;
        size_t busy_high, busy_low;
        int64_t kill_grace_ms;
        int64_t send_timeout_ms;
        /* send queue (loop-driven API) */
        struct pk__sendq_item *sq_head, *sq_tail;
        size_t sendq_bytes;
        bool busy;
        bool shut_pending; /* close_input asked: EOF once the queue is written */
        /* loop-driven API */
        struct pk_loop *loop;
        struct pk_loop_io w_in, w_out, w_err;
        struct pk_loop_child w_child;
        struct pk_port_callbacks cb;
        void *ctx;
        int cb_depth;       /* callbacks running on the stack */
        bool close_pending; /* closed inside a callback: free when it returns */
};

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

/* Send queue. */
int pk__port_send_queued(struct pk_port *p, const void *data, size_t len);
/* Writes as much of the queue as the pipe takes now: 0, or a negative errno. */
int pk__sendq_write(struct pk_port *p);
void pk__sendq_clear(struct pk_port *p);
void pk__sendq_flush_blocking(struct pk_port *p);

/* Loop-driven API hooks (no-ops for a port not attached to a loop). */
void pk__port_update_watchers(struct pk_port *p);
void pk__port_detach(struct pk_port *p);

#endif
