/* SPDX-License-Identifier: MIT */
/* Signal watchers: one signalfd per loop whose mask is the union of watched
 * signals.  The loop blocks a signal in the calling thread when its first
 * watcher starts and, if it was the one to block it, discards what is
 * pending and unblocks it when the last watcher stops. */
#include "loop-internal.h"

#include <pthread.h>
#include <sys/signalfd.h>
#include <time.h>

void pk_loop_signal_init(struct pk_loop *loop, struct pk_loop_signal *sig)
{
        if (!sig)
                return;
        pk__watcher_init(loop, &sig->w, PK__K_SIGNAL);
        sig->cb = NULL;
        sig->signo = 0;
}

/* Points the signalfd at loop->sig_watched: creates it, changes its mask, or
 * closes it when nothing is watched. */
static int update_signalfd(struct pk_loop *loop)
{
        if (sigisemptyset(&loop->sig_watched)) {
                if (loop->signal_fd >= 0) {
                        pk__backend_del(&loop->be, loop->signal_fd, &loop->signal_src);
                        loop->signal_fd = pk_fd_close(loop->signal_fd);
                }
                return 0;
        }
        /* The fd layer takes a list; the loop has already blocked these
         * signals itself (sig_we_blocked), so the fd layer's block is a no-op. */
        int list[NSIG];
        size_t n = 0;
        for (int s = 1; s < NSIG; s++)
                if (sigismember(&loop->sig_watched, s) == 1)
                        list[n++] = s;
        if (loop->signal_fd >= 0)
                return pk_fd_signalfd_update(loop->signal_fd, list, n);
        int fd = pk_fd_signalfd(list, n, PK_FD_NONBLOCK);
        if (fd < 0)
                return fd;
        int r = pk__backend_add(&loop->be, fd, PK_LOOP_READ, &loop->signal_src);
        if (r < 0) {
                pk_fd_close(fd);
                return r;
        }
        loop->signal_fd = fd;
        return 0;
}

/* Drops pending instances of signo (thread and process queues) so that
 * unblocking it does not run its disposition for a signal meant for us. */
static void discard_pending(int signo)
{
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, signo);
        const struct timespec zero = {0, 0};
        int saved = errno;
        while (sigtimedwait(&one, NULL, &zero) == signo)
                ;
        errno = saved;
}

static int first_watcher(struct pk_loop *loop, int signo)
{
        sigset_t one, old;
        sigemptyset(&one);
        sigaddset(&one, signo);
        int e = pthread_sigmask(SIG_BLOCK, &one, &old);
        if (e)
                return -e;
        int we_blocked = !sigismember(&old, signo);
        sigaddset(&loop->sig_watched, signo);
        int r = update_signalfd(loop);
        if (r < 0) {
                sigdelset(&loop->sig_watched, signo);
                if (we_blocked)
                        (void)pthread_sigmask(SIG_UNBLOCK, &one, NULL);
                return r;
        }
        if (we_blocked)
                sigaddset(&loop->sig_we_blocked, signo);
        return 0;
}

static void last_watcher(struct pk_loop *loop, int signo)
{
        sigdelset(&loop->sig_watched, signo);
        (void)update_signalfd(loop);
        if (sigismember(&loop->sig_we_blocked, signo)) {
                sigdelset(&loop->sig_we_blocked, signo);
                discard_pending(signo);
                sigset_t one;
                sigemptyset(&one);
                sigaddset(&one, signo);
                (void)pthread_sigmask(SIG_UNBLOCK, &one, NULL);
        }
}

int pk_loop_signal_start(struct pk_loop_signal *sig, int signo, pk_loop_signal_cb cb)
{
        if (!sig || !sig->w.loop || !cb || signo <= 0 || signo >= NSIG || signo == SIGKILL ||
            signo == SIGSTOP)
                return -EINVAL;
        if (pk__active(&sig->w) && sig->signo == signo) {
                sig->cb = cb;
                return 0;
        }
        pk_loop_signal_stop(sig);
        struct pk_loop *loop = sig->w.loop;
        if (loop->sig_count[signo] == 0) {
                int r = first_watcher(loop, signo);
                if (r < 0)
                        return r;
        }
        loop->sig_count[signo]++;
        sig->signo = signo;
        sig->cb = cb;
        pk__list_add_tail(&loop->signal_list, &sig->w.link);
        pk__watcher_activate(&sig->w);
        return 0;
}

void pk_loop_signal_stop(struct pk_loop_signal *sig)
{
        if (!sig || !pk__active(&sig->w))
                return;
        struct pk_loop *loop = sig->w.loop;
        pk__list_del(&sig->w.link);
        pk__watcher_deactivate(&sig->w);
        if (--loop->sig_count[sig->signo] == 0)
                last_watcher(loop, sig->signo);
}

static void deliver(struct pk_loop *loop, const struct signalfd_siginfo *si)
{
        struct pk_loop_siginfo info = {
            .signo = (int)si->ssi_signo,
            .code = si->ssi_code,
            .pid = (pid_t)si->ssi_pid,
            .uid = (uid_t)si->ssi_uid,
            .status = si->ssi_status,
            .value = si->ssi_int,
        };
        /* Walk a detached copy of the list: each watcher moves back before
         * its callback, and a callback that stops a watcher not yet visited
         * simply unlinks it from the copy. */
        struct pk_loop__link todo;
        pk__list_move_all(&todo, &loop->signal_list);
        while (!pk__list_empty(&todo)) {
                struct pk_loop__link *l = todo.next;
                pk__list_del(l);
                pk__list_add_tail(&loop->signal_list, l);
                struct pk_loop_signal *s = pk__container_of(
                    pk__container_of(l, struct pk_loop_watcher, link), struct pk_loop_signal, w);
                if (s->signo == info.signo)
                        s->cb(s, &info);
        }
}

void pk__signalfd_dispatch(struct pk_loop *loop)
{
        struct signalfd_siginfo si[16];
        while (loop->signal_fd >= 0) {
                ssize_t n = read(loop->signal_fd, si, sizeof(si));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return;
                size_t count = (size_t)n / sizeof(si[0]);
                for (size_t i = 0; i < count; i++)
                        deliver(loop, &si[i]);
                if (count < PK_ARRAY_SIZE(si))
                        return;
        }
}
