/* SPDX-License-Identifier: MIT */
/* Timers: a binary min-heap ordered by (deadline, start sequence), so start,
 * stop and expiry are O(log n) and ties fire in start order.  One timerfd in
 * the epoll set is kept armed for the earliest deadline, which is what makes
 * the loop fd readable when a timer is due. */
#include "common/dynbuf.h"
#include "loop-internal.h"

#include <sys/timerfd.h>

/* Deadlines saturate here (about 292 years of uptime) so arithmetic and the
 * timerfd's timespec cannot overflow. */
#define DUE_MAX ((uint64_t)INT64_MAX / 1000000u)

static int before(const struct pk_loop_timer *a, const struct pk_loop_timer *b)
{
        return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void place(struct pk_loop *loop, size_t i, struct pk_loop_timer *t)
{
        loop->heap[i] = t;
        t->heap_index = i;
}

static void sift_up(struct pk_loop *loop, size_t i)
{
        struct pk_loop_timer *t = loop->heap[i];
        while (i > 0) {
                size_t parent = (i - 1) / 2;
                if (!before(t, loop->heap[parent]))
                        break;
                place(loop, i, loop->heap[parent]);
                i = parent;
        }
        place(loop, i, t);
}

static void sift_down(struct pk_loop *loop, size_t i)
{
        struct pk_loop_timer *t = loop->heap[i];
        size_t n = loop->heap_len;
        for (;;) {
                size_t c = 2 * i + 1;
                if (c >= n)
                        break;
                if (c + 1 < n && before(loop->heap[c + 1], loop->heap[c]))
                        c++;
                if (!before(loop->heap[c], t))
                        break;
                place(loop, i, loop->heap[c]);
                i = c;
        }
        place(loop, i, t);
}

static void heap_remove(struct pk_loop *loop, size_t i)
{
        struct pk_loop_timer *last = loop->heap[--loop->heap_len];
        if (i == loop->heap_len)
                return;
        place(loop, i, last);
        sift_down(loop, i);
        sift_up(loop, last->heap_index);
}

static void heap_insert(struct pk_loop *loop, struct pk_loop_timer *t)
{
        /* Capacity was ensured by the caller. */
        loop->heap[loop->heap_len++] = t;
        sift_up(loop, loop->heap_len - 1);
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
        return b > DUE_MAX - a ? DUE_MAX : a + b;
}

void pk__timers_sync(struct pk_loop *loop)
{
        uint64_t want = loop->heap_len ? loop->heap[0]->due : UINT64_MAX;
        if (want == loop->timer_armed)
                return;
        struct itimerspec its = {{0, 0}, {0, 0}};
        if (want != UINT64_MAX) {
                its.it_value.tv_sec = (time_t)(want / 1000u);
                its.it_value.tv_nsec = (long)(want % 1000u) * 1000000L;
                if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
                        its.it_value.tv_nsec = 1; /* zero would disarm */
        }
        if (timerfd_settime(loop->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
                loop->timer_armed = want;
        else
                loop->timer_armed = UINT64_MAX - 1; /* unknown: retry next time */
}

void pk__timers_changed(struct pk_loop *loop)
{
        /* While running, the pass arms the timerfd before it polls and when the
         * run returns; outside, do it now so pk_loop_fd() stays truthful. */
        if (!loop->running)
                pk__timers_sync(loop);
}

void pk__timerfd_dispatch(struct pk_loop *loop)
{
        uint64_t ticks;
        /* Clears readability; re-arming happens in pk__timers_sync(). */
        if (read(loop->timer_fd, &ticks, sizeof(ticks)) < 0 && errno == EAGAIN)
                return;
        loop->timer_armed = UINT64_MAX;
}

void pk_loop_timer_init(struct pk_loop *loop, struct pk_loop_timer *timer)
{
        if (!timer)
                return;
        pk__watcher_init(loop, &timer->w, PK__K_TIMER);
        timer->cb = NULL;
        timer->due = timer->repeat = timer->seq = 0;
        timer->heap_index = 0;
}

int pk_loop_timer_start(struct pk_loop_timer *timer, int64_t timeout_ms, int64_t repeat_ms,
                        pk_loop_timer_cb cb)
{
        if (!timer || !timer->w.loop || !cb || timeout_ms < 0 || repeat_ms < 0)
                return -EINVAL;
        struct pk_loop *loop = timer->w.loop;
        pk_loop_timer_stop(timer);
        if (pk__array_grow((void **)&loop->heap, &loop->heap_cap, loop->heap_len + 1,
                           sizeof(struct pk_loop_timer *), 64) < 0)
                return -ENOMEM;
        timer->cb = cb;
        timer->due = add_sat(pk__clock_ms(), (uint64_t)timeout_ms);
        timer->repeat = (uint64_t)repeat_ms;
        timer->seq = ++loop->timer_seq;
        heap_insert(loop, timer);
        pk__watcher_activate(&timer->w);
        if (loop->heap[0] == timer)
                pk__timers_changed(loop);
        return 0;
}

void pk_loop_timer_stop(struct pk_loop_timer *timer)
{
        if (!timer || !pk__active(&timer->w))
                return;
        struct pk_loop *loop = timer->w.loop;
        int was_first = timer->heap_index == 0;
        heap_remove(loop, timer->heap_index);
        pk__watcher_deactivate(&timer->w);
        if (was_first)
                pk__timers_changed(loop);
}

uint64_t pk_loop_timer_due(const struct pk_loop_timer *timer)
{
        return timer && pk__active(&timer->w) ? timer->due : 0;
}

void pk__timers_run(struct pk_loop *loop)
{
        /* Timers started from here on (seq above the mark) wait for the next
         * pass, so a 0 ms timer re-started from its callback cannot spin. */
        uint64_t mark = loop->timer_seq;
        while (loop->heap_len > 0) {
                struct pk_loop_timer *t = loop->heap[0];
                if (t->due > loop->now || t->seq > mark)
                        break;
                heap_remove(loop, 0);
                if (t->repeat) {
                        /* Re-arm before the callback, which may stop it or free it
                         * (after stopping it). */
                        t->due = add_sat(loop->now, t->repeat);
                        t->seq = ++loop->timer_seq;
                        heap_insert(loop, t);
                } else {
                        pk__watcher_deactivate(&t->w);
                }
                t->cb(t);
        }
}
