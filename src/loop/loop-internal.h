/* SPDX-License-Identifier: MIT */
/* Private shape of struct pk_loop and the narrow API between the loop core
 * (loop.c), the watcher kinds (io.c, timer.c, signal.c, child.c, wake.c) and
 * the readiness backend (epoll.c, the only file that speaks epoll). */
#ifndef PORTKIT_LOOP_INTERNAL_H
#define PORTKIT_LOOP_INTERNAL_H

#include "internal.h"
#include "portkit/fd.h"
#include "portkit/loop.h"

#include <signal.h>
#include <stdint.h>

#define pk__container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* ---- backend (epoll.c) ----------------------------------------------------
 * Events are PK_LOOP_* bits both ways; each registration carries an opaque
 * pointer that comes back with its events.  pk__backend_del() also drops the
 * fetched-but-not-yet-delivered event of that pointer, so a watcher removed
 * during dispatch never sees a stale event. */
struct pk__backend {
        int fd;
        int n;   /* events fetched by the last poll */
        int cur; /* next fetched event to deliver */
        int cap;
        void *events; /* struct epoll_event[cap], kept opaque here */
};

int pk__backend_open(struct pk__backend *be);
void pk__backend_close(struct pk__backend *be);
int pk__backend_add(struct pk__backend *be, int fd, unsigned events, void *ptr);
int pk__backend_mod(struct pk__backend *be, int fd, unsigned events, void *ptr);
void pk__backend_del(struct pk__backend *be, int fd, void *ptr);
/* Waits up to timeout_ms (-1: forever) and fetches a batch; returns its size
 * or a negative errno.  An EINTR during a finite wait returns 0. */
int pk__backend_poll(struct pk__backend *be, int timeout_ms);
/* Next fetched event that was not invalidated: 1 and its pointer and
 * PK_LOOP_* bits, or 0 when the batch is exhausted. */
int pk__backend_next(struct pk__backend *be, void **ret_ptr, unsigned *ret_revents);

/* ---- watchers ------------------------------------------------------------ */
enum {
        PK__W_ACTIVE = 1u << 0,
        PK__W_UNREF = 1u << 1,
        PK__W_OWNED = 1u << 2, /* the loop allocated it (pk_loop_child_adopt) and frees it */
        PK__W_KIND_SHIFT = 8,
};
enum pk__kind {
        PK__K_IO = 1,
        PK__K_TIMER,
        PK__K_SIGNAL,
        PK__K_CHILD,
        PK__K_WAKE,
        PK__K_DEFER,
        PK__K_EVENTFD, /* the loop's own descriptors */
        PK__K_TIMERFD,
        PK__K_SIGNALFD,
};

struct pk_loop {
        struct pk__backend be;
        int event_fd;  /* wake-ups and deferred calls */
        int timer_fd;  /* armed for the earliest timer deadline */
        int signal_fd; /* -1 while no signal is watched */
        struct pk_loop_watcher event_src, timer_src, signal_src;

        uint64_t now;   /* ms, sampled at the start of each pass */
        unsigned alive; /* active referenced watchers */
        int running;
        int stop;

        struct pk_loop_timer **heap; /* binary min-heap on (due, seq) */
        size_t heap_len, heap_cap;
        uint64_t timer_seq;
        uint64_t timer_armed; /* deadline the timerfd is set to; UINT64_MAX: disarmed */

        struct pk_loop__link io_list, child_list, signal_list, wake_list, defer_list;
        int defer_signalled; /* event_fd written for the deferred queue, not yet drained */

        sigset_t sig_watched;    /* signals in the signalfd's mask */
        sigset_t sig_we_blocked; /* the subset the loop blocked itself */
        unsigned sig_count[NSIG];
};

static inline unsigned pk__kind(const struct pk_loop_watcher *w)
{
        return w->flags >> PK__W_KIND_SHIFT;
}

static inline int pk__active(const struct pk_loop_watcher *w)
{
        return (w->flags & PK__W_ACTIVE) != 0;
}

void pk__watcher_init(struct pk_loop *loop, struct pk_loop_watcher *w, enum pk__kind kind);
void pk__watcher_activate(struct pk_loop_watcher *w);
void pk__watcher_deactivate(struct pk_loop_watcher *w);

/* Intrusive circular lists; an unlinked node points at itself. */
static inline void pk__list_init(struct pk_loop__link *l)
{
        l->prev = l;
        l->next = l;
}
static inline int pk__list_empty(const struct pk_loop__link *l)
{
        return l->next == l;
}
static inline void pk__list_add_tail(struct pk_loop__link *head, struct pk_loop__link *l)
{
        l->prev = head->prev;
        l->next = head;
        head->prev->next = l;
        head->prev = l;
}
static inline void pk__list_del(struct pk_loop__link *l)
{
        l->prev->next = l->next;
        l->next->prev = l->prev;
        pk__list_init(l);
}
/* Moves every node of src to the (empty) dst. */
static inline void pk__list_move_all(struct pk_loop__link *dst, struct pk_loop__link *src)
{
        pk__list_init(dst);
        if (pk__list_empty(src))
                return;
        dst->next = src->next;
        dst->prev = src->prev;
        dst->next->prev = dst;
        dst->prev->next = dst;
        pk__list_init(src);
}

/* ---- per-kind hooks used by loop.c ----------------------------------------- */
uint64_t pk__clock_ms(void);
uint64_t pk__clock_ns(void);
int pk__write_eventfd(int fd);

void pk__io_dispatch(struct pk_loop_io *io, unsigned revents);
void pk__timers_sync(struct pk_loop *loop);
void pk__timers_changed(struct pk_loop *loop);
void pk__timers_run(struct pk_loop *loop);
void pk__timerfd_dispatch(struct pk_loop *loop);
void pk__signalfd_dispatch(struct pk_loop *loop);
void pk__child_dispatch(struct pk_loop_child *child);
/* Stops a child watcher for pk_loop_free(): an adopted one is reaped if it
 * has exited, then freed. */
void pk__child_release(struct pk_loop_child *child);
void pk__eventfd_dispatch(struct pk_loop *loop);
void pk__defers_run(struct pk_loop *loop);
void pk__defers_signal(struct pk_loop *loop);

#endif
