/* SPDX-License-Identifier: MIT */
/* The loop core: creation, the run modes, one pass (poll, dispatch the batch,
 * due timers, deferred calls), the loop clock and the watcher bookkeeping
 * shared by every kind (active flag, reference counting for "alive"). */
#include "loop-internal.h"

#include <limits.h>
#include <time.h>

uint64_t pk__clock_ns(void)
{
        struct timespec ts;
        (void)clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t pk__clock_ms(void)
{
        return pk__clock_ns() / 1000000u;
}

int pk__write_eventfd(int fd)
{
        int r = pk_fd_eventfd_write(fd, 1);
        /* -EAGAIN: the counter is saturated, so the fd is readable anyway. */
        return r == -EAGAIN ? 0 : r;
}

void pk__watcher_init(struct pk_loop *loop, struct pk_loop_watcher *w, enum pk__kind kind)
{
        /* w->ctx is the caller's and is left alone. */
        w->loop = loop;
        w->flags = (unsigned)kind << PK__W_KIND_SHIFT;
        pk__list_init(&w->link);
}

void pk__watcher_activate(struct pk_loop_watcher *w)
{
        if (pk__active(w))
                return;
        w->flags |= PK__W_ACTIVE;
        if (!(w->flags & PK__W_UNREF))
                w->loop->alive++;
}

void pk__watcher_deactivate(struct pk_loop_watcher *w)
{
        if (!pk__active(w))
                return;
        w->flags &= ~(unsigned)PK__W_ACTIVE;
        if (!(w->flags & PK__W_UNREF))
                w->loop->alive--;
}

void pk_loop_unref(struct pk_loop_watcher *w)
{
        if (!w || (w->flags & PK__W_UNREF))
                return;
        w->flags |= PK__W_UNREF;
        if (pk__active(w))
                w->loop->alive--;
}

void pk_loop_ref(struct pk_loop_watcher *w)
{
        if (!w || !(w->flags & PK__W_UNREF))
                return;
        w->flags &= ~(unsigned)PK__W_UNREF;
        if (pk__active(w))
                w->loop->alive++;
}

int pk_loop_is_active(const struct pk_loop_watcher *w)
{
        return w && pk__active(w);
}

int pk_loop_new(struct pk_loop **ret_loop)
{
        if (!ret_loop)
                return -EINVAL;
        struct pk_loop *loop = calloc(1, sizeof(*loop));
        if (!loop)
                return -ENOMEM;
        loop->event_fd = loop->timer_fd = loop->signal_fd = -1;
        loop->be.fd = -1;
        loop->timer_armed = UINT64_MAX;
        pk__list_init(&loop->io_list);
        pk__list_init(&loop->child_list);
        pk__list_init(&loop->signal_list);
        pk__list_init(&loop->wake_list);
        pk__list_init(&loop->defer_list);
        sigemptyset(&loop->sig_watched);
        sigemptyset(&loop->sig_we_blocked);
        pk__watcher_init(loop, &loop->event_src, PK__K_EVENTFD);
        pk__watcher_init(loop, &loop->timer_src, PK__K_TIMERFD);
        pk__watcher_init(loop, &loop->signal_src, PK__K_SIGNALFD);

        int r = pk__backend_open(&loop->be);
        if (r < 0)
                goto fail;
        loop->event_fd = pk_fd_eventfd(0, PK_FD_NONBLOCK);
        if (loop->event_fd < 0) {
                r = loop->event_fd;
                goto fail;
        }
        loop->timer_fd = pk_fd_timerfd(PK_FD_NONBLOCK);
        if (loop->timer_fd < 0) {
                r = loop->timer_fd;
                goto fail;
        }
        r = pk__backend_add(&loop->be, loop->event_fd, PK_LOOP_READ, &loop->event_src);
        if (r < 0)
                goto fail;
        r = pk__backend_add(&loop->be, loop->timer_fd, PK_LOOP_READ, &loop->timer_src);
        if (r < 0)
                goto fail;
        loop->now = pk__clock_ms();
        *ret_loop = loop;
        return 0;
fail:
        loop->timer_fd = pk_fd_close(loop->timer_fd);
        loop->event_fd = pk_fd_close(loop->event_fd);
        pk__backend_close(&loop->be);
        free(loop);
        return r;
}

static struct pk_loop_watcher *first(struct pk_loop__link *head)
{
        return pk__container_of(head->next, struct pk_loop_watcher, link);
}

struct pk_loop *pk_loop_free(struct pk_loop *loop)
{
        if (!loop)
                return NULL;
        if (loop->running)
                return loop;
        while (!pk__list_empty(&loop->io_list))
                pk_loop_io_stop(pk__container_of(first(&loop->io_list), struct pk_loop_io, w));
        while (!pk__list_empty(&loop->child_list))
                pk__child_release(
                    pk__container_of(first(&loop->child_list), struct pk_loop_child, w));
        while (!pk__list_empty(&loop->signal_list))
                pk_loop_signal_stop(
                    pk__container_of(first(&loop->signal_list), struct pk_loop_signal, w));
        while (!pk__list_empty(&loop->wake_list))
                pk_loop_wake_stop(
                    pk__container_of(first(&loop->wake_list), struct pk_loop_wake, w));
        while (!pk__list_empty(&loop->defer_list))
                pk_loop_defer_stop(
                    pk__container_of(first(&loop->defer_list), struct pk_loop_defer, w));
        while (loop->heap_len > 0)
                pk_loop_timer_stop(loop->heap[loop->heap_len - 1]);
        free(loop->heap);
        if (loop->signal_fd >= 0)
                loop->signal_fd = pk_fd_close(loop->signal_fd);
        loop->timer_fd = pk_fd_close(loop->timer_fd);
        loop->event_fd = pk_fd_close(loop->event_fd);
        pk__backend_close(&loop->be);
        free(loop);
        return NULL;
}

int pk_loop_fd(const struct pk_loop *loop)
{
        return loop ? loop->be.fd : -EINVAL;
}

uint64_t pk_loop_now(const struct pk_loop *loop)
{
        return loop ? loop->now : 0;
}

unsigned pk_loop_alive(const struct pk_loop *loop)
{
        return loop ? loop->alive : 0;
}

void pk_loop_stop(struct pk_loop *loop)
{
        if (loop)
                loop->stop = 1;
}

static void dispatch(struct pk_loop *loop, struct pk_loop_watcher *w, unsigned revents)
{
        switch (pk__kind(w)) {
        case PK__K_IO:
                pk__io_dispatch(pk__container_of(w, struct pk_loop_io, w), revents);
                break;
        case PK__K_CHILD:
                pk__child_dispatch(pk__container_of(w, struct pk_loop_child, w));
                break;
        case PK__K_EVENTFD:
                pk__eventfd_dispatch(loop);
                break;
        case PK__K_TIMERFD:
                pk__timerfd_dispatch(loop);
                break;
        case PK__K_SIGNALFD:
                pk__signalfd_dispatch(loop);
                break;
        default:
                break;
        }
}

/* One pass: wait up to timeout_ms (-1: no limit), then run the fetched batch,
 * the due timers and the deferred calls queued before this pass. */
static int pass(struct pk_loop *loop, int timeout_ms)
{
        if (loop->stop || !pk__list_empty(&loop->defer_list))
                timeout_ms = 0;
        pk__timers_sync(loop);
        int n = pk__backend_poll(&loop->be, timeout_ms);
        if (n < 0)
                return n;
        loop->now = pk__clock_ms();
        void *ptr;
        unsigned revents;
        while (pk__backend_next(&loop->be, &ptr, &revents))
                dispatch(loop, ptr, revents);
        pk__timers_run(loop);
        pk__defers_run(loop);
        return 0;
}

enum run_mode { RUN_DEFAULT, RUN_TIMEOUT, RUN_ONCE, RUN_NOWAIT };

static int timeout_until(uint64_t deadline_ns)
{
        uint64_t now = pk__clock_ns();
        if (now >= deadline_ns)
                return 0;
        /* Round up: epoll_wait sleeps at least this long, so we never wake
         * before the deadline and spin. */
        uint64_t ms = (deadline_ns - now + 999999u) / 1000000u;
        return ms > INT_MAX ? INT_MAX : (int)ms;
}

static int run(struct pk_loop *loop, enum run_mode mode, uint64_t timeout_ms)
{
        if (!loop)
                return -EINVAL;
        if (loop->running)
                return -EBUSY;
        loop->running = 1;
        uint64_t deadline_ns = UINT64_MAX;
        if (mode == RUN_TIMEOUT) {
                uint64_t start = pk__clock_ns();
                deadline_ns = timeout_ms > (UINT64_MAX - start) / 1000000u
                                  ? UINT64_MAX
                                  : start + timeout_ms * 1000000u;
        }
        int r;
        for (;;) {
                int t;
                if (mode == RUN_DEFAULT || mode == RUN_TIMEOUT) {
                        if (!loop->stop && loop->alive == 0) {
                                r = PK_LOOP_DONE;
                                break;
                        }
                        t = mode == RUN_TIMEOUT ? timeout_until(deadline_ns) : -1;
                } else if (mode == RUN_ONCE) {
                        t = loop->alive ? -1 : 0;
                } else {
                        t = 0;
                }
                r = pass(loop, t);
                if (r < 0)
                        break;
                if (loop->stop) {
                        r = PK_LOOP_STOPPED;
                        break;
                }
                if (loop->alive == 0) {
                        r = PK_LOOP_DONE;
                        break;
                }
                if (mode == RUN_ONCE || mode == RUN_NOWAIT) {
                        r = PK_LOOP_ALIVE;
                        break;
                }
                if (mode == RUN_TIMEOUT && pk__clock_ns() >= deadline_ns) {
                        r = PK_LOOP_TIMEDOUT;
                        break;
                }
        }
        loop->stop = 0;
        loop->running = 0;
        /* Leave the loop fd telling the truth for an outer loop: the timerfd
         * set for the earliest deadline, the eventfd written if deferred
         * calls wait. */
        pk__timers_sync(loop);
        if (!pk__list_empty(&loop->defer_list))
                pk__defers_signal(loop);
        return r;
}

int pk_loop_run(struct pk_loop *loop)
{
        return run(loop, RUN_DEFAULT, 0);
}

int pk_loop_run_timeout(struct pk_loop *loop, int64_t timeout_ms)
{
        if (timeout_ms < 0)
                return run(loop, RUN_DEFAULT, 0);
        return run(loop, RUN_TIMEOUT, (uint64_t)timeout_ms);
}

int pk_loop_run_once(struct pk_loop *loop)
{
        return run(loop, RUN_ONCE, 0);
}

int pk_loop_run_nowait(struct pk_loop *loop)
{
        return run(loop, RUN_NOWAIT, 0);
}
