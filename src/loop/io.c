/* SPDX-License-Identifier: MIT */
/* I/O watchers: one fd in the epoll set, read/write/priority interest, level
 * or edge triggered, changeable while active. */
#include "loop-internal.h"

#define IO_INTEREST (PK_LOOP_READ | PK_LOOP_WRITE | PK_LOOP_PRIORITY)

void pk_loop_io_init(struct pk_loop *loop, struct pk_loop_io *io, int fd)
{
        if (!io)
                return;
        pk__watcher_init(loop, &io->w, PK__K_IO);
        io->cb = NULL;
        io->fd = fd;
        io->events = 0;
}

int pk_loop_io_start(struct pk_loop_io *io, unsigned events, pk_loop_io_cb cb)
{
        if (!io || !io->w.loop || !cb || !(events & IO_INTEREST) ||
            (events & ~(IO_INTEREST | PK_LOOP_EDGE)))
                return -EINVAL;
        if (io->fd < 0)
                return -EBADF;
        struct pk_loop *loop = io->w.loop;
        int r;
        if (pk__active(&io->w)) {
                r = pk__backend_mod(&loop->be, io->fd, events, &io->w);
                if (r < 0)
                        return r;
        } else {
                r = pk__backend_add(&loop->be, io->fd, events, &io->w);
                if (r < 0)
                        return r;
                pk__list_add_tail(&loop->io_list, &io->w.link);
                pk__watcher_activate(&io->w);
        }
        io->events = events;
        io->cb = cb;
        return 0;
}

void pk_loop_io_stop(struct pk_loop_io *io)
{
        if (!io || !pk__active(&io->w))
                return;
        pk__backend_del(&io->w.loop->be, io->fd, &io->w);
        pk__list_del(&io->w.link);
        pk__watcher_deactivate(&io->w);
}

int pk_loop_io_fd(const struct pk_loop_io *io)
{
        return io ? io->fd : -EINVAL;
}

void pk__io_dispatch(struct pk_loop_io *io, unsigned revents)
{
        /* Report only what is asked for now: the interest may have changed
         * since the batch was fetched (a callback earlier in it). */
        unsigned want = io->events & IO_INTEREST;
        unsigned r = revents & (want | PK_LOOP_HUP | PK_LOOP_ERROR);
        if (r & (PK_LOOP_HUP | PK_LOOP_ERROR))
                r |= want & (PK_LOOP_READ | PK_LOOP_WRITE);
        if (r)
                io->cb(io, r);
}
