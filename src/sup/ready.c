/* SPDX-License-Identifier: MIT */
/* Readiness: at exec, after a delay, s6's notification-fd (a newline on a
 * pipe the child writes), and sd_notify over one abstract datagram socket per
 * supervisor whose senders are checked with SCM_CREDENTIALS.  Also the start
 * timeout and the watchdog.  Everything is a loop watcher: nothing polls. */
#include "sup-internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

/* Largest sd_notify datagram read; longer ones are dropped whole. */
#define NOTIFY_MAX 4096
/* Most descriptors taken from one sd_notify datagram (systemd: 768 per store). */
#define NOTIFY_MAX_FDS PK_SUP_MAX_FDS

static void on_ready_timer(struct pk_loop_timer *t)
{
        struct child *c = t->w.ctx;
        struct pk_sup *sup_ = pk__sup_root(c->sup);
        if (c->ready == PK_SUP_READY_DELAY)
                pk__sup_child_ready(c);
        else
                pk__sup_child_fail_stop(c, PK_SUP_R_START_TIMEOUT);
        pk__sup_flush(sup_);
}

static void on_watchdog(struct pk_loop_timer *t)
{
        struct child *c = t->w.ctx;
        struct pk_sup *sup_ = pk__sup_root(c->sup);
        pk__sup_child_fail_stop(c, PK_SUP_R_WATCHDOG);
        pk__sup_flush(sup_);
}

/* Whether the child needs its ready record from the start: every readiness
 * but "at exec" (a timer, a pipe or the notify socket; an exec-ready child
 * never waits, so its start timeout never runs) and a configured watchdog. */
static bool needs_ready_rec(const struct child *c)
{
        return c->ready != PK_SUP_READY_EXEC || c->watchdog_ms > 0 || c->forking;
}

/* The child's ready record, allocated on first use: at add when
 * needs_ready_rec() (so a start cannot fail for it), at WATCHDOG_USEC= for a
 * watchdog the service asks for itself.  NULL when out of memory. */

static struct child_ready *ready_rec(struct child *c)
{
        if (c->rd)
                return c->rd;
        struct child_ready *rd = calloc(1, sizeof(*rd));
        if (!rd)
                return NULL;
        rd->rfd = -1;
        pk_loop_timer_init(c->sup->loop, &rd->t_ready);
        pk_loop_io_init(c->sup->loop, &rd->rio, -1);
        pk_loop_timer_init(c->sup->loop, &rd->t_watchdog);
        pk_loop_child_init(c->sup->loop, &rd->mw);
        pk_loop_io_init(c->sup->loop, &rd->mio, -1);
        rd->t_ready.w.ctx = rd->rio.w.ctx = rd->t_watchdog.w.ctx = c;
        rd->mw.w.ctx = rd->mio.w.ctx = c;
        c->rd = rd;
        return rd;
}

void pk__sup_watchdog_stop(struct child *c)
{
        if (c->rd)
                pk_loop_timer_stop(&c->rd->t_watchdog);
}

static void watchdog_arm(struct child *c)
{
        if (c->watchdog_ms <= 0)
                return;
        struct child_ready *rd = ready_rec(c);
        if (!rd) {
                pk__sup_emit(c, PK_SUP_EV_STATUS, PK_SUP_R_NONE, -ENOMEM,
                             "watchdog not armed: out of memory");
                return;
        }
        (void)pk_loop_timer_start(&rd->t_watchdog, c->watchdog_ms, 0, on_watchdog);
}

static void rfd_close(struct child *c)
{
        if (!c->rd)
                return;
        pk_loop_io_stop(&c->rd->rio);
        c->rd->rfd = pk_fd_close(c->rd->rfd);
}

static void on_ready_fd(struct pk_loop_io *io, unsigned revents)
{
        struct child *c = io->w.ctx;
        struct pk_sup *sup_ = pk__sup_root(c->sup);
        (void)revents;
        char buf[512];
        for (;;) {
                ssize_t n = read(c->rd->rfd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return;
                if (n <= 0) { /* EOF before a newline: never ready this way */
                        rfd_close(c);
                        return;
                }
                if (memchr(buf, '\n', (size_t)n)) {
                        rfd_close(c); /* s6 closes it too: later writes get EPIPE */
                        if (c->state == PK_SUP_STARTING)
                                pk__sup_child_ready(c);
                        pk__sup_flush(sup_);
                        return;
                }
        }
}

/* ---- sd_notify ------------------------------------------------------------------ */

static bool sender_ok(const struct child *c, pid_t pid)
{
        if (pid <= 0)
                return false;
        if (pid == c->mainpid)
                return true;
        if (c->notify_access == PK_SUP_NOTIFY_MAIN)
                return false;
        if (pid == c->pid)
                return true;
        if (c->notify_access == PK_SUP_NOTIFY_EXEC)
                return false;
        if ((c->pid > 0 && getpgid(pid) == c->pid) ||
            (c->pid > 0 && pk__proc_descends(pid, c->pid)) ||
            (c->mainpid > 0 && pk__proc_descends(pid, c->mainpid)))
                return true;
        return pk__proc_has_token(pid, c->token);
}

static struct child *notify_owner(struct pk_sup *s, pid_t pid)
{
        /* the main pids first, so ALL never hides a sibling's main process */
        for (size_t i = 0; i < s->n; i++) {
                struct child *c = s->kids[i];
                if ((c->ready == PK_SUP_READY_NOTIFY || child_store_max(c) > 0) &&
                    c->mainpid == pid && pid > 0 &&
                    (c->state == PK_SUP_STARTING || c->state == PK_SUP_READY ||
                     c->state == PK_SUP_STOPPING))
                        return c;
        }
        for (size_t i = 0; i < s->n; i++) {
                struct child *c = s->kids[i];
                if ((c->ready == PK_SUP_READY_NOTIFY || child_store_max(c) > 0) &&
                    (c->state == PK_SUP_STARTING || c->state == PK_SUP_READY ||
                     c->state == PK_SUP_STOPPING) &&
                    sender_ok(c, pid))
                        return c;
        }
        return NULL;
}

static void on_main_gone(struct pk_loop_io *io, unsigned revents)
{
        struct child *c = io->w.ctx;
        struct pk_sup *sup_ = pk__sup_root(c->sup);
        (void)revents;
        /* not our child: its status is not ours to collect */
        struct pk_exit ex = {.exited = 0, .code = -1, .signal = 0};
        pk__sup_unindex_pid(c, c->mainpid);
        pk__sup_main_exited(c, &ex);
        pk__sup_flush(sup_);
}

static void on_main_exit(struct pk_loop_child *w, int err, const struct pk_exit *ex)
{
        struct child *c = w->w.ctx;
        struct pk_sup *sup_ = pk__sup_root(c->sup);
        (void)err; /* ex is {0, -1, 0, 0} if someone else reaped it */
        pk__sup_unindex_pid(c, c->mainpid);
        pk__sup_main_exited(c, ex);
        pk__sup_after_reap(sup_);
        pk__sup_flush(sup_);
}

/* MAINPID=: accepted only for a process of the service (a descendant of the
 * spawned pid, or an orphan we adopted that carries the service's token). */
int pk__sup_set_mainpid(struct child *c, const char *val, bool forking)
{
        char *end;
        errno = 0;
        long v = strtol(val, &end, 10);
        pid_t pid = (pid_t)v;
        bool ok =
            errno == 0 && end != val && (*end == 0 || *end == '\n') && v > 0 && v <= INT32_MAX;
        if (ok && pid == c->mainpid && !forking)
                return 0;
        if (ok && pid != c->pid) {
                bool unclaimed = !pk__sup_find_pid(pk__sup_root(c->sup), pid);
                if (forking) /* the starter is gone: the daemon must carry the service's token */
                        ok = unclaimed && pk__proc_has_token(pid, c->token);
                else
                        ok = (c->pid > 0 && pk__proc_descends(pid, c->pid)) ||
                             (pk__proc_ppid(pid) == getpid() && unclaimed &&
                              pk__proc_has_token(pid, c->token));
        } else if (ok && forking) {
                ok = false; /* the starter itself, which just exited */
        }
        if (!ok) {
                pk__sup_emit(c, PK_SUP_EV_MAINPID, PK_SUP_R_NONE, -EPERM, val);
                return -EPERM;
        }
        pk__sup_main_unwatch(c);
        if (pid == c->pid) {
                pk__sup_set_pids(c, c->pid, pid);
                pk__sup_emit(c, PK_SUP_EV_MAINPID, PK_SUP_R_NONE, 0, val);
                return 0;
        }
        int r = pk__sup_pid_room(c, 1);
        struct child_ready *rd = r < 0 ? NULL : ready_rec(c);
        if (r == 0 && !rd)
                r = -ENOMEM;
        if (r < 0) {
                pk__sup_emit(c, PK_SUP_EV_MAINPID, PK_SUP_R_NONE, r, val);
                return r;
        }
        int fd = pk_fd_pidfd_open(pid, 0);
        if (fd < 0) {
                pk__sup_emit(c, PK_SUP_EV_MAINPID, PK_SUP_R_NONE, fd, val);
                return fd;
        }
        fd = pk_fd_raise(fd); /* held while the main process lives */
        r = pk_loop_child_start_pidfd(&rd->mw, fd, on_main_exit);
        if (r == -ECHILD) { /* not our child: watch for its end, do not reap */
                pk_loop_io_init(c->sup->loop, &rd->mio, fd);
                rd->mio.w.ctx = c;
                r = pk_loop_io_start(&rd->mio, PK_LOOP_READ, on_main_gone);
        }
        if (r < 0) {
                pk_fd_close(fd);
                pk__sup_emit(c, PK_SUP_EV_MAINPID, PK_SUP_R_NONE, r, val);
                return r;
        }
        c->main_pidfd = fd;
        pk__sup_set_pids(c, c->pid, pid);
        pk__sup_emit(c, PK_SUP_EV_MAINPID, PK_SUP_R_NONE, 0, val);
        return 0;
}

static void notify_line(struct child *c, const char *line)
{
        const char *eq = strchr(line, '=');
        if (!eq)
                return;
        size_t klen = (size_t)(eq - line);
        const char *val = eq + 1;
#define KEY(k) (klen == sizeof(k) - 1 && memcmp(line, k, klen) == 0)
        if (c->ready != PK_SUP_READY_NOTIFY) {
                /* here only for its fd store: readiness is not its protocol */
                if (KEY("STATUS"))
                        pk__sup_emit(c, PK_SUP_EV_STATUS, PK_SUP_R_NONE, 0, line);
                return;
        }
        if (KEY("READY") && strcmp(val, "1") == 0) {
                if (c->state == PK_SUP_STARTING) {
                        pk__sup_child_ready(c);
                        watchdog_arm(c);
                } else if (c->state == PK_SUP_READY) {
                        pk__sup_emit(c, PK_SUP_EV_STATUS, PK_SUP_R_NONE, 0, line);
                }
        } else if (KEY("STATUS") || KEY("RELOADING") || KEY("STOPPING")) {
                pk__sup_emit(c, PK_SUP_EV_STATUS, PK_SUP_R_NONE, 0, line);
        } else if (KEY("ERRNO")) {
                long e = strtol(val, NULL, 10);
                pk__sup_emit(c, PK_SUP_EV_STATUS, PK_SUP_R_NONE, e > 0 && e < 4096 ? -(int)e : 0,
                             line);
        } else if (KEY("MAINPID")) {
                (void)pk__sup_set_mainpid(c, val, false);
        } else if (KEY("WATCHDOG")) {
                if (strcmp(val, "1") == 0 && c->state == PK_SUP_READY)
                        watchdog_arm(c);
                else if (strcmp(val, "trigger") == 0)
                        pk__sup_child_fail_stop(c, PK_SUP_R_WATCHDOG);
        } else if (KEY("WATCHDOG_USEC")) {
                long long us = strtoll(val, NULL, 10);
                if (us > 0 && us / 1000 < (1LL << 40)) {
                        c->watchdog_ms = (us + 999) / 1000;
                        if (c->state == PK_SUP_READY)
                                watchdog_arm(c);
                }
        } else if (KEY("EXTEND_TIMEOUT_USEC")) {
                long long us = strtoll(val, NULL, 10);
                if (us > 0 && us / 1000 < (1LL << 40)) {
                        int64_t ms = (us + 999) / 1000;
                        if (c->state == PK_SUP_STARTING && c->rd &&
                            pk_loop_is_active(&c->rd->t_ready.w))
                                (void)pk_loop_timer_start(&c->rd->t_ready, ms, 0, on_ready_timer);
                        else if (c->state == PK_SUP_STOPPING && pk_loop_is_active(&c->t_stop.w))
                                pk__sup_extend_stop(c, ms);
                }
        }
#undef KEY
}

static void on_notify(struct pk_loop_io *io, unsigned revents)
{
        struct pk_sup *s = io->w.ctx;
        (void)revents;
        for (int round = 0; round < 64; round++) { /* a burst is finished on later passes */
                char buf[NOTIFY_MAX + 1];
                union {
                        struct cmsghdr h;
                        char b[CMSG_SPACE(sizeof(struct ucred)) +
                               CMSG_SPACE(sizeof(int) * NOTIFY_MAX_FDS)];
                } cm;
                int fds[NOTIFY_MAX_FDS];
                size_t nfds = 0;
                struct iovec iov = {.iov_base = buf, .iov_len = NOTIFY_MAX};
                struct msghdr mh;
                memset(&mh, 0, sizeof(mh));
                mh.msg_iov = &iov;
                mh.msg_iovlen = 1;
                mh.msg_control = cm.b;
                mh.msg_controllen = sizeof(cm.b);
                ssize_t n = recvmsg(s->notify.fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        break;
                pid_t pid = 0;
                for (struct cmsghdr *h = CMSG_FIRSTHDR(&mh); h; h = CMSG_NXTHDR(&mh, h)) {
                        if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_CREDENTIALS) {
                                struct ucred uc;
                                memcpy(&uc, CMSG_DATA(h), sizeof(uc));
                                pid = uc.pid;
                        } else if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS) {
                                /* kept for FDSTORE=1; whatever is not stored is closed */
                                size_t nfd = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                                for (size_t k = 0; k < nfd; k++) {
                                        int fd;
                                        memcpy(&fd, CMSG_DATA(h) + k * sizeof(int), sizeof(fd));
                                        if (nfds < NOTIFY_MAX_FDS)
                                                fds[nfds++] = fd;
                                        else
                                                pk_fd_close(fd);
                                }
                        }
                }
                struct child *c =
                    (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ? NULL : notify_owner(s, pid);
                if (!c) {
                        for (size_t k = 0; k < nfds; k++)
                                pk_fd_close(fds[k]);
                        continue;
                }
                buf[n] = 0;
                /* FDSTORE=, FDSTOREREMOVE= and FDNAME= belong together, wherever they are */
                char fdname[256] = "";
                bool store = false, remove = false, named = false;
                for (char *p = buf; p && *p;) {
                        char *nl = strchr(p, '\n');
                        size_t ll = nl ? (size_t)(nl - p) : strlen(p);
                        if (ll == 9 && memcmp(p, "FDSTORE=1", 9) == 0)
                                store = true;
                        else if (ll == 15 && memcmp(p, "FDSTOREREMOVE=1", 15) == 0)
                                remove = true;
                        else if (ll > 7 && memcmp(p, "FDNAME=", 7) == 0 &&
                                 ll - 7 < sizeof(fdname)) {
                                memcpy(fdname, p + 7, ll - 7);
                                fdname[ll - 7] = 0;
                                named = true;
                        }
                        p = nl ? nl + 1 : NULL;
                }
                if (store || remove || nfds)
                        pk__sup_fds_notify(c, store, remove, named ? fdname : NULL, fds, nfds);
                char *save = NULL;
                for (char *line = strtok_r(buf, "\n", &save); line;
                     line = strtok_r(NULL, "\n", &save)) {
                        notify_line(c, line);
                        /* a line may have stopped or moved the child */
                        if (notify_owner(s, pid) != c)
                                break;
                }
        }
        pk__sup_flush(s);
}

static int notify_open(struct pk_sup *s)
{
        if (s->notify.fd >= 0)
                return 0;
        snprintf(s->notify_name, sizeof(s->notify_name), "@portkit/sup/%ld/%llx", (long)getpid(),
                 (unsigned long long)(uintptr_t)s);
        struct pk_fd_unix_opts o;
        memset(&o, 0, sizeof(o));
        o.flags = PK_FD_NONBLOCK;
        int fd = pk_fd_unix_listen(s->notify_name, SOCK_DGRAM, &o, &s->notify);
        if (fd < 0)
                return fd;
        int one = 1;
        if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0) {
                int r = -errno;
                pk_fd_unix_listener_close(&s->notify);
                return r;
        }
        pk_loop_io_init(s->loop, &s->nio, fd);
        s->nio.w.ctx = s;
        int r = pk_loop_io_start(&s->nio, PK_LOOP_READ, on_notify);
        if (r < 0) {
                pk_fd_unix_listener_close(&s->notify);
                return r;
        }
        pk_loop_unref(&s->nio.w); /* the socket alone keeps nothing alive */
        return 0;
}

void pk__sup_notify_close(struct pk_sup *s)
{
        if (s->notify.fd < 0)
                return;
        pk_loop_io_stop(&s->nio);
        pk_fd_unix_listener_close(&s->notify);
}

int pk__sup_ready_prepare(struct child *c)
{
        int r = 0;
        if (needs_ready_rec(c) && !ready_rec(c))
                return -ENOMEM;
        if (c->ready == PK_SUP_READY_FD) {
                r = pk_cmd_fd_pipe(c->cmd, c->ready_fd, PK_PIPE_CHILD_WRITES | PK_PIPE_NONBLOCK);
        }
        if (r == 0 && (c->ready == PK_SUP_READY_NOTIFY || child_store_max(c) > 0)) {
                r = notify_open(c->sup);
                if (r == 0)
                        r = pk_cmd_env_set(c->cmd, "NOTIFY_SOCKET", c->sup->notify_name);
                if (r == 0 && c->watchdog_ms > 0) {
                        char v[32];
                        snprintf(v, sizeof(v), "%lld", (long long)c->watchdog_ms * 1000);
                        r = pk_cmd_env_set(c->cmd, "WATCHDOG_USEC", v);
                }
        }
        return r;
}

int pk__sup_ready_start(struct child *c)
{
        if (c->ready == PK_SUP_READY_EXEC) {
                pk__sup_child_ready(c);
                return 0;
        }
        struct child_ready *rd =
            ready_rec(c); /* made at add for a worker (pk__sup_ready_prepare) */
        if (!rd)
                return -ENOMEM;
        switch (c->ready) {
        case PK_SUP_READY_DELAY:
                return pk_loop_timer_start(&rd->t_ready, c->ready_delay_ms, 0, on_ready_timer);
        case PK_SUP_READY_FD: {
                rd->rfd = pk_proc_take_fd(c->proc, c->ready_fd);
                if (rd->rfd < 0)
                        return -EBADF;
                pk_loop_io_init(c->sup->loop, &rd->rio, rd->rfd);
                rd->rio.w.ctx = c;
                int r = pk_loop_io_start(&rd->rio, PK_LOOP_READ, on_ready_fd);
                if (r < 0)
                        return r;
                break;
        }
        default:
                break;
        }
        if (c->start_timeout_ms > 0)
                return pk_loop_timer_start(&rd->t_ready, c->start_timeout_ms, 0, on_ready_timer);
        return 0;
}

void pk__sup_main_unwatch(struct child *c)
{
        if (c->rd) {
                pk_loop_child_stop(&c->rd->mw);
                pk_loop_io_stop(&c->rd->mio);
        }
        c->main_pidfd = pk_fd_close(c->main_pidfd);
}

void pk__sup_ready_timer_stop(struct child *c)
{
        if (c->rd)
                pk_loop_timer_stop(&c->rd->t_ready);
}

void pk__sup_ready_stop(struct child *c)
{
        pk__sup_ready_timer_stop(c);
        rfd_close(c);
}
