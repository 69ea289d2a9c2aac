/* SPDX-License-Identifier: MIT */
/* Child-exit watchers: a pidfd in the epoll set becomes readable when the
 * child exits; the loop then reaps it with waitid(P_PIDFD, WEXITED) and hands
 * the decoded exit (struct pk_exit, see exit.c) to the callback. */
#include "loop-internal.h"

#include <sys/syscall.h>
#include <sys/wait.h>

#ifndef P_PIDFD
#        define P_PIDFD 3
#endif

void pk_loop_child_init(struct pk_loop *loop, struct pk_loop_child *child)
{
        if (!child)
                return;
        pk__watcher_init(loop, &child->w, PK__K_CHILD);
        child->cb = NULL;
        child->pid = 0;
        child->pidfd = -1;
        child->owns_pidfd = 0;
}

/* Fails with -ECHILD unless pidfd is an unreaped child of ours (without
 * reaping it: WNOWAIT), and -EINVAL/-EBADF unless it is a pidfd. */
static int check_child(int pidfd)
{
        siginfo_t si;
        for (;;) {
                si.si_pid = 0;
                if (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG | WNOWAIT) == 0)
                        return 0;
                if (errno != EINTR)
                        return -errno;
        }
}

static int start(struct pk_loop_child *child, pid_t pid, int pidfd, int owns, pk_loop_child_cb cb)
{
        int r = check_child(pidfd);
        if (r < 0)
                return r;
        struct pk_loop *loop = child->w.loop;
        r = pk__backend_add(&loop->be, pidfd, PK_LOOP_READ, &child->w);
        if (r < 0)
                return r;
        child->cb = cb;
        child->pid = pid;
        child->pidfd = pidfd;
        child->owns_pidfd = owns;
        pk__list_add_tail(&loop->child_list, &child->w.link);
        pk__watcher_activate(&child->w);
        return 0;
}

int pk_loop_child_start(struct pk_loop_child *child, pid_t pid, pk_loop_child_cb cb)
{
        if (!child || !child->w.loop || !cb || pid <= 0)
                return -EINVAL;
        pk_loop_child_stop(child);
        int fd = pk_fd_pidfd_open(pid, 0);
        if (fd < 0)
                return fd;
        fd = pk_fd_raise(fd); /* held while the child lives: out of what spawns copy */
        int r = start(child, pid, fd, 1, cb);
        if (r < 0)
                pk_fd_close(fd);
        return r;
}

int pk_loop_child_start_pidfd(struct pk_loop_child *child, int pidfd, pk_loop_child_cb cb)
{
        if (!child || !child->w.loop || !cb)
                return -EINVAL;
        if (pidfd < 0)
                return -EBADF;
        pk_loop_child_stop(child);
        return start(child, 0, pidfd, 0, cb);
}

void pk_loop_child_stop(struct pk_loop_child *child)
{
        if (!child || !pk__active(&child->w))
                return;
        pk__backend_del(&child->w.loop->be, child->pidfd, &child->w);
        pk__list_del(&child->w.link);
        pk__watcher_deactivate(&child->w);
        if (child->owns_pidfd)
                pk_fd_close(child->pidfd);
        child->pidfd = -1;
        child->owns_pidfd = 0;
}

/* An adopted child was reaped: its watcher is the loop's to free. */
static void adopted_cb(struct pk_loop_child *child, int err, const struct pk_exit *ex)
{
        (void)err;
        (void)ex;
        free(child);
}

int pk_loop_child_adopt(struct pk_loop *loop, pid_t pid)
{
        if (!loop || pid <= 0)
                return -EINVAL;
        struct pk_loop_child *c = malloc(sizeof(*c));
        if (!c)
                return -ENOMEM;
        pk_loop_child_init(loop, c);
        c->w.flags |= PK__W_OWNED;
        int r = pk_loop_child_start(c, pid, adopted_cb);
        if (r < 0) {
                free(c);
                return r;
        }
        return 0;
}

void pk__child_release(struct pk_loop_child *child)
{
        if (!(child->w.flags & PK__W_OWNED)) {
                pk_loop_child_stop(child);
                return;
        }
        /* Reap it if it is a zombie already; one that still runs is left to
         * whoever reaps this process's children, as pk_proc_free() does. */
        siginfo_t si;
        while (waitid((idtype_t)P_PIDFD, (id_t)child->pidfd, &si, WEXITED | WNOHANG) < 0 &&
               errno == EINTR)
                ;
        pk_loop_child_stop(child);
        free(child);
}

pid_t pk_loop_child_pid(const struct pk_loop_child *child)
{
        return child ? child->pid : 0;
}

void pk__child_dispatch(struct pk_loop_child *child)
{
        int err = 0;
        siginfo_t si;
        for (;;) {
                si.si_pid = 0;
                if (waitid((idtype_t)P_PIDFD, (id_t)child->pidfd, &si, WEXITED | WNOHANG) == 0)
                        break;
                if (errno != EINTR) {
                        err = -errno;
                        break;
                }
        }
        struct pk_exit ex = {.code = -1};
        if (err == 0) {
                if (si.si_pid == 0)
                        return; /* not waitable yet: stay active */
                child->pid = si.si_pid;
                ex = pk_exit_from_siginfo(&si);
        }
        /* Stop first: the callback may free the watcher or start it again. */
        pk_loop_child_stop(child);
        child->cb(child, err, &ex);
}
