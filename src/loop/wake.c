/* SPDX-License-Identifier: MIT */
/* Cross-thread wake-ups and deferred calls, both carried by the loop's one
 * eventfd: a sender marks its watcher pending (atomically) and writes the
 * eventfd only on the 0 -> 1 transition, so sends coalesce; the deferred
 * queue writes it so that an outer loop sees pk_loop_fd() readable. */
#include "loop-internal.h"

#define WATCHER_OF(l) pk__container_of(l, struct pk_loop_watcher, link)

void pk_loop_wake_init(struct pk_loop *loop, struct pk_loop_wake *wake)
{
        if (!wake)
                return;
        pk__watcher_init(loop, &wake->w, PK__K_WAKE);
        wake->cb = NULL;
        __atomic_store_n(&wake->pending, 0, __ATOMIC_RELAXED);
}

int pk_loop_wake_start(struct pk_loop_wake *wake, pk_loop_wake_cb cb)
{
        if (!wake || !wake->w.loop || !cb)
                return -EINVAL;
        wake->cb = cb;
        if (pk__active(&wake->w))
                return 0;
        pk__list_add_tail(&wake->w.loop->wake_list, &wake->w.link);
        pk__watcher_activate(&wake->w);
        /* A send that came before the start still gets its callback. */
        if (__atomic_load_n(&wake->pending, __ATOMIC_ACQUIRE))
                return pk__write_eventfd(wake->w.loop->event_fd);
        return 0;
}

void pk_loop_wake_stop(struct pk_loop_wake *wake)
{
        if (!wake || !pk__active(&wake->w))
                return;
        pk__list_del(&wake->w.link);
        pk__watcher_deactivate(&wake->w);
        __atomic_store_n(&wake->pending, 0, __ATOMIC_RELEASE);
}

int pk_loop_wake_send(struct pk_loop_wake *wake)
{
        if (!wake || !wake->w.loop)
                return -EINVAL;
        if (__atomic_exchange_n(&wake->pending, 1, __ATOMIC_ACQ_REL) != 0)
                return 0; /* already pending: the callback is still to come */
        return pk__write_eventfd(wake->w.loop->event_fd);
}

void pk__eventfd_dispatch(struct pk_loop *loop)
{
        uint64_t count;
        /* Drain first, then look at the flags: a send racing with us either
         * is seen below or writes the eventfd again after our read. */
        while (read(loop->event_fd, &count, sizeof(count)) < 0 && errno == EINTR)
                ;
        loop->defer_signalled = 0;
        struct pk_loop__link todo;
        pk__list_move_all(&todo, &loop->wake_list);
        while (!pk__list_empty(&todo)) {
                struct pk_loop__link *l = todo.next;
                pk__list_del(l);
                pk__list_add_tail(&loop->wake_list, l);
                struct pk_loop_wake *w = pk__container_of(WATCHER_OF(l), struct pk_loop_wake, w);
                if (__atomic_exchange_n(&w->pending, 0, __ATOMIC_ACQ_REL))
                        w->cb(w);
        }
}

void pk_loop_defer_init(struct pk_loop *loop, struct pk_loop_defer *defer)
{
        if (!defer)
                return;
        pk__watcher_init(loop, &defer->w, PK__K_DEFER);
        defer->cb = NULL;
}

void pk__defers_signal(struct pk_loop *loop)
{
        if (loop->defer_signalled)
                return;
        if (pk__write_eventfd(loop->event_fd) == 0)
                loop->defer_signalled = 1;
}

int pk_loop_defer_start(struct pk_loop_defer *defer, pk_loop_defer_cb cb)
{
        if (!defer || !defer->w.loop || !cb)
                return -EINVAL;
        defer->cb = cb;
        if (pk__active(&defer->w))
                return 0;
        struct pk_loop *loop = defer->w.loop;
        pk__list_add_tail(&loop->defer_list, &defer->w.link);
        pk__watcher_activate(&defer->w);
        /* While running, the pass polls without blocking instead, and the
         * run signals on return if calls are still queued. */
        if (!loop->running)
                pk__defers_signal(loop);
        return 0;
}

void pk_loop_defer_stop(struct pk_loop_defer *defer)
{
        if (!defer || !pk__active(&defer->w))
                return;
        pk__list_del(&defer->w.link);
        pk__watcher_deactivate(&defer->w);
}

void pk__defers_run(struct pk_loop *loop)
{
        /* Only what was queued before this point runs now; calls queued by
         * these callbacks land on loop->defer_list for the next pass. */
        struct pk_loop__link todo;
        pk__list_move_all(&todo, &loop->defer_list);
        while (!pk__list_empty(&todo)) {
                struct pk_loop__link *l = todo.next;
                pk__list_del(l);
                struct pk_loop_defer *d = pk__container_of(WATCHER_OF(l), struct pk_loop_defer, w);
                pk__watcher_deactivate(&d->w);
                d->cb(d);
        }
}
