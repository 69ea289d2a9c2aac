/* SPDX-License-Identifier: MIT */
/* The readiness backend: the only file that knows about epoll.  The loop core
 * speaks PK_LOOP_* bits and opaque pointers; this file translates them and
 * owns the fetched-event batch, including invalidating a removed watcher's
 * fetched event (as libuv's uv__platform_invalidate_fd does). */
#include "loop-internal.h"

#include <sys/epoll.h>

#define PK__BATCH 1024

static uint32_t to_epoll(unsigned events)
{
        uint32_t e = 0;
        if (events & PK_LOOP_READ)
                e |= EPOLLIN | EPOLLRDHUP;
        if (events & PK_LOOP_WRITE)
                e |= EPOLLOUT;
        if (events & PK_LOOP_PRIORITY)
                e |= EPOLLPRI;
        if (events & PK_LOOP_EDGE)
                e |= EPOLLET;
        return e;
}

static unsigned from_epoll(uint32_t e)
{
        unsigned r = 0;
        if (e & EPOLLIN)
                r |= PK_LOOP_READ;
        if (e & EPOLLOUT)
                r |= PK_LOOP_WRITE;
        if (e & EPOLLPRI)
                r |= PK_LOOP_PRIORITY;
        if (e & (EPOLLHUP | EPOLLRDHUP))
                r |= PK_LOOP_HUP;
        if (e & EPOLLERR)
                r |= PK_LOOP_ERROR;
        return r;
}

int pk__backend_open(struct pk__backend *be)
{
        be->n = 0;
        be->cur = 0;
        be->cap = PK__BATCH;
        be->events = calloc(PK__BATCH, sizeof(struct epoll_event));
        if (!be->events)
                return -ENOMEM;
        be->fd = epoll_create1(EPOLL_CLOEXEC);
        if (be->fd < 0) {
                int r = -errno;
                free(be->events);
                be->events = NULL;
                return r;
        }
        return 0;
}

void pk__backend_close(struct pk__backend *be)
{
        if (be->fd >= 0)
                be->fd = pk_fd_close(be->fd);
        be->fd = -1;
        free(be->events);
        be->events = NULL;
        be->n = be->cur = 0;
}

static int ctl(struct pk__backend *be, int op, int fd, unsigned events, void *ptr)
{
        struct epoll_event ev = {.events = to_epoll(events), .data.ptr = ptr};
        if (epoll_ctl(be->fd, op, fd, &ev) < 0)
                return -errno;
        return 0;
}

int pk__backend_add(struct pk__backend *be, int fd, unsigned events, void *ptr)
{
        return ctl(be, EPOLL_CTL_ADD, fd, events, ptr);
}

int pk__backend_mod(struct pk__backend *be, int fd, unsigned events, void *ptr)
{
        return ctl(be, EPOLL_CTL_MOD, fd, events, ptr);
}

void pk__backend_del(struct pk__backend *be, int fd, void *ptr)
{
        /* Failure (the caller closed the fd first) leaves nothing to undo; the
         * fetched event is dropped either way. */
        (void)epoll_ctl(be->fd, EPOLL_CTL_DEL, fd, NULL);
        struct epoll_event *ev = be->events;
        for (int i = be->cur; i < be->n; i++)
                if (ev[i].data.ptr == ptr)
                        ev[i].data.ptr = NULL;
}

int pk__backend_poll(struct pk__backend *be, int timeout_ms)
{
        be->n = 0;
        be->cur = 0;
        for (;;) {
                int n = epoll_wait(be->fd, be->events, be->cap, timeout_ms);
                if (n >= 0) {
                        be->n = n;
                        return n;
                }
                if (errno != EINTR)
                        return -errno;
                /* A finite wait returns so the caller recomputes its timeout. */
                if (timeout_ms > 0)
                        return 0;
        }
}

int pk__backend_next(struct pk__backend *be, void **ret_ptr, unsigned *ret_revents)
{
        struct epoll_event *ev = be->events;
        while (be->cur < be->n) {
                int i = be->cur++;
                if (ev[i].data.ptr) {
                        *ret_ptr = ev[i].data.ptr;
                        *ret_revents = from_epoll(ev[i].events);
                        return 1;
                }
        }
        return 0;
}
