/* SPDX-License-Identifier: MIT */
/* Run to completion: pk_run() and pk_pipeline_run() share one driver that
 * spawns the stages into one process group, then feeds stdin and drains
 * stdout/stderr with poll() until every stream is done, so no pipe can fill
 * up and deadlock whatever the sizes.  A deadline or an output cap kills the
 * whole group. */
#include "spawn-internal.h"

#include "common/dynbuf.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#define PK__RUN_DEFAULT_CAP ((size_t)64 << 20)

/* A capped, growable capture buffer (curl's dynbuf idea). */
/* Hands a capture buffer out NUL-terminated; NULL when capture was off. */
static char *capture_take(struct pk__dynbuf *b, bool captured, size_t *ret_len)
{
        *ret_len = 0;
        return captured ? pk__dynbuf_take(b, ret_len) : NULL;
}

static int64_t mono_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void closep(int *fd)
{
        *fd = pk_fd_close(*fd);
}

struct run_out {
        struct pk_exit *status; /* n */
        struct pk__dynbuf out, err;
        bool cap_out, cap_err;
};

/* The driver.  On success fills ro->status[] and the buffers. */
static int run_stages(const struct pk_cmd *const *cmds, size_t n, const struct pk_run_opts *o,
                      bool allow_merge, struct run_out *ro, struct pk_spawn_error *reterr)
{
        struct pk_run_opts dflt = {0};
        if (!o)
                o = &dflt;
        if (!cmds || n == 0 || o->stdout_mode == PK_RUN_MERGE ||
            (o->stderr_mode == PK_RUN_MERGE && !allow_merge) || (o->stdin_len && !o->stdin_data)) {
                pk__spawn_error_set(reterr, PK_SPAWN_STEP_ARGS, -EINVAL, -1, 0, NULL);
                return -EINVAL;
        }
        for (size_t i = 0; i < n; i++) {
                if (!cmds[i]) {
                        pk__spawn_error_set(reterr, PK_SPAWN_STEP_ARGS, -EINVAL, -1, 0, NULL);
                        return -EINVAL;
                }
        }
        size_t maxcap = o->output_cap ? o->output_cap : PK__RUN_DEFAULT_CAP;
        pk__dynbuf_init(&ro->out, maxcap, PK_EOUTPUTCAP);
        pk__dynbuf_init(&ro->err, maxcap, PK_EOUTPUTCAP);
        bool feed = o->stdin_mode == PK_RUN_DEFAULT && (o->stdin_data || o->stdin_len);
        ro->cap_out = o->stdout_mode == PK_RUN_DEFAULT || o->stdout_mode == PK_RUN_CAPTURE;
        ro->cap_err = o->stderr_mode == PK_RUN_DEFAULT || o->stderr_mode == PK_RUN_CAPTURE;
        bool merge = o->stderr_mode == PK_RUN_MERGE;

        /* Block SIGPIPE in this thread: a child that stops reading must give
         * us EPIPE, not kill us.  Remember whether one was already pending. */
        sigset_t pipeset, oldmask, pend;
        sigemptyset(&pipeset);
        sigaddset(&pipeset, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipeset, &oldmask);
        sigpending(&pend);
        bool pipe_was_pending = sigismember(&pend, SIGPIPE);

        int in_w = -1, in_r = -1, out_r = -1, out_w = -1, err_r = -1, err_w = -1;
        /* Every slot is -1 before the first failure point: the cleanup closes
         * what is >= 0, and a zeroed slot would be the caller's fd 0. */
        int *inter = malloc(2 * n * sizeof(int));
        if (inter)
                for (size_t i = 0; i < 2 * n; i++)
                        inter[i] = -1;
        struct pk_proc **procs = calloc(n, sizeof(struct pk_proc *));
        int r = 0;
        if (!inter || !procs) {
                r = -ENOMEM;
                pk__spawn_error_set(reterr, PK_SPAWN_STEP_ARGS, r, -1, 0, NULL);
                goto done;
        }

        int p[2];
#define MKPIPE(rd, wr)                                                                             \
        do {                                                                                       \
                if ((r = pk_fd_pipe(p, 0)) < 0) {                                                  \
                        pk__spawn_error_set(reterr, PK_SPAWN_STEP_PIPE, r, -1, 0, NULL);           \
                        goto done;                                                                 \
                }                                                                                  \
                (rd) = p[0];                                                                       \
                (wr) = p[1];                                                                       \
        } while (0)
        if (feed)
                MKPIPE(in_r, in_w);
        if (ro->cap_out)
                MKPIPE(out_r, out_w);
        if (ro->cap_err)
                MKPIPE(err_r, err_w);
        for (size_t i = 0; i + 1 < n; i++)
                MKPIPE(inter[2 * i], inter[2 * i + 1]);
#undef MKPIPE

        pid_t pgid = 0;
        for (size_t i = 0; i < n; i++) {
                struct pk__override ov = {.own_pgrp = true, .pgid = pgid};
                if (i == 0)
                        ov.fd[0] = feed ? in_r : o->stdin_mode == PK_RUN_INHERIT ? -1 : -2;
                else
                        ov.fd[0] = inter[2 * (i - 1)];
                if (i + 1 < n)
                        ov.fd[1] = inter[2 * i + 1];
                else
                        ov.fd[1] = ro->cap_out ? out_w : o->stdout_mode == PK_RUN_INHERIT ? -1 : -2;
                if (merge)
                        ov.fd[2] = ov.fd[1] == -1 ? 1 : ov.fd[1];
                else
                        ov.fd[2] = ro->cap_err ? err_w : o->stderr_mode == PK_RUN_INHERIT ? -1 : -2;
                r = pk__spawn(cmds[i], &ov, &procs[i], reterr);
                if (r < 0) {
                        if (reterr && n > 1)
                                reterr->fd = (int)i;
                        /* Earlier stages are running: end them. */
                        if (pgid > 0)
                                kill(-pgid, SIGKILL);
                        goto done;
                }
                if (i == 0)
                        pgid = procs[0]->own_group ? procs[0]->pid : 0;
        }
        /* Only the children hold the far ends now. */
        closep(&in_r);
        closep(&out_w);
        closep(&err_w);
        for (size_t i = 0; i < 2 * n; i++)
                closep(&inter[i]);
        if (in_w >= 0)
                (void)pk_fd_set_nonblock(in_w, 1);
        if (out_r >= 0)
                (void)pk_fd_set_nonblock(out_r, 1);
        if (err_r >= 0)
                (void)pk_fd_set_nonblock(err_r, 1);

        int64_t deadline = o->timeout_ms > 0 ? mono_ms() + o->timeout_ms : 0;
        const char *data = o->stdin_data;
        size_t left = feed ? o->stdin_len : 0;
        if (in_w >= 0 && left == 0)
                closep(&in_w);
        while (in_w >= 0 || out_r >= 0 || err_r >= 0) {
                struct pollfd pf[3];
                int np = 0, iw = -1, io = -1, ie = -1;
                if (in_w >= 0)
                        pf[iw = np++] = (struct pollfd){.fd = in_w, .events = POLLOUT};
                if (out_r >= 0)
                        pf[io = np++] = (struct pollfd){.fd = out_r, .events = POLLIN};
                if (err_r >= 0)
                        pf[ie = np++] = (struct pollfd){.fd = err_r, .events = POLLIN};
                int tmo = -1;
                if (deadline) {
                        int64_t d = deadline - mono_ms();
                        if (d <= 0) {
                                r = -ETIMEDOUT;
                                break;
                        }
                        tmo = d > INT_MAX ? INT_MAX : (int)d;
                }
                int k = poll(pf, (nfds_t)np, tmo);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        break;
                }
                if (k == 0)
                        continue; /* the deadline check above ends it */
                if (iw >= 0 && pf[iw].revents) {
                        while (left) {
                                ssize_t w = write(in_w, data, left > 65536 ? 65536 : left);
                                if (w > 0) {
                                        data += w;
                                        left -= (size_t)w;
                                } else if (w < 0 && errno == EINTR) {
                                        continue;
                                } else {
                                        if (w < 0 && errno == EAGAIN)
                                                break;
                                        left = 0; /* EPIPE: the child stopped reading */
                                }
                        }
                        if (!left)
                                closep(&in_w);
                }
                if (io >= 0 && pf[io].revents) {
                        int d = pk__dynbuf_read_fd(&ro->out, out_r, 0);
                        if (d == 1)
                                closep(&out_r);
                        else if (d < 0) {
                                r = d;
                                break;
                        }
                }
                if (ie >= 0 && pf[ie].revents) {
                        int d = pk__dynbuf_read_fd(&ro->err, err_r, 0);
                        if (d == 1)
                                closep(&err_r);
                        else if (d < 0) {
                                r = d;
                                break;
                        }
                }
        }
        closep(&in_w);
        closep(&out_r);
        closep(&err_r);
        /* The streams are done; now the exits, within what is left of the deadline. */
        for (size_t i = 0; i < n && r == 0; i++) {
                int t = -1;
                if (deadline) {
                        int64_t d = deadline - mono_ms();
                        t = d <= 0 ? 0 : d > INT_MAX ? INT_MAX : (int)d;
                }
                r = pk_proc_wait(procs[i], t, &ro->status[i]);
        }
        if (r < 0 && pgid > 0)
                kill(-pgid, SIGKILL);

done:
        if (procs) {
                for (size_t i = 0; i < n; i++) {
                        if (!procs[i])
                                continue;
                        if (r < 0) {
                                pk_proc_signal(procs[i], SIGKILL);
                                pk_proc_wait(procs[i], -1, NULL);
                        }
                        pk_proc_free(procs[i]);
                }
        }
        closep(&in_w);
        closep(&in_r);
        closep(&out_r);
        closep(&out_w);
        closep(&err_r);
        closep(&err_w);
        if (inter)
                for (size_t i = 0; i < 2 * n; i++)
                        closep(&inter[i]);
        free(inter);
        free(procs);
        if (!pipe_was_pending) {
                sigpending(&pend);
                if (sigismember(&pend, SIGPIPE)) {
                        struct timespec zero = {0, 0};
                        while (sigtimedwait(&pipeset, NULL, &zero) < 0 && errno == EINTR)
                                ;
                }
        }
        pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
        if (r < 0) {
                pk__dynbuf_free(&ro->out);
                pk__dynbuf_free(&ro->err);
                if (reterr && (r == -ETIMEDOUT || r == PK_EOUTPUTCAP))
                        pk__spawn_error_set(reterr, PK_SPAWN_STEP_NONE, r, -1, 0, NULL);
        }
        return r;
}

int pk_run(const struct pk_cmd *cmd, const struct pk_run_opts *opts, struct pk_run_result *ret,
           struct pk_spawn_error *reterr)
{
        if (!cmd || !ret) {
                pk__spawn_error_set(reterr, PK_SPAWN_STEP_ARGS, -EINVAL, -1, 0, NULL);
                return -EINVAL;
        }
        struct pk_exit st = {.code = -1};
        struct run_out ro = {.status = &st};
        int r = run_stages(&cmd, 1, opts, true, &ro, reterr);
        if (r < 0)
                return r;
        struct pk_run_result res = {.status = st};
        res.out = capture_take(&ro.out, ro.cap_out, &res.out_len);
        res.err = capture_take(&ro.err, ro.cap_err, &res.err_len);
        if ((ro.cap_out && !res.out) || (ro.cap_err && !res.err)) {
                pk_run_result_free(&res);
                pk__dynbuf_free(&ro.out);
                pk__dynbuf_free(&ro.err);
                return -ENOMEM;
        }
        *ret = res;
        return 0;
}

void pk_run_result_free(struct pk_run_result *r)
{
        if (!r)
                return;
        free(r->out);
        free(r->err);
        *r = (struct pk_run_result){.status = {.code = -1}};
}

int pk_pipeline_run(const struct pk_cmd *const *cmds, size_t n, const struct pk_run_opts *opts,
                    struct pk_pipeline_result *ret, struct pk_spawn_error *reterr)
{
        if (!cmds || !n || !ret || n > 4096) {
                pk__spawn_error_set(reterr, PK_SPAWN_STEP_ARGS, -EINVAL, -1, 0, NULL);
                return -EINVAL;
        }
        struct pk_exit *st = calloc(n, sizeof(*st));
        if (!st) {
                pk__spawn_error_set(reterr, PK_SPAWN_STEP_ARGS, -ENOMEM, -1, 0, NULL);
                return -ENOMEM;
        }
        struct run_out ro = {.status = st};
        int r = run_stages(cmds, n, opts, false, &ro, reterr);
        if (r < 0) {
                free(st);
                return r;
        }
        struct pk_pipeline_result res = {.n = n, .status = st};
        for (size_t i = 0; i < n; i++) {
                int s = pk_exit_shell(&st[i]);
                if (s != 0)
                        res.pipefail = s;
        }
        res.out = capture_take(&ro.out, ro.cap_out, &res.out_len);
        res.err = capture_take(&ro.err, ro.cap_err, &res.err_len);
        if ((ro.cap_out && !res.out) || (ro.cap_err && !res.err)) {
                pk_pipeline_result_free(&res);
                pk__dynbuf_free(&ro.out);
                pk__dynbuf_free(&ro.err);
                return -ENOMEM;
        }
        *ret = res;
        return 0;
}

void pk_pipeline_result_free(struct pk_pipeline_result *r)
{
        if (!r)
                return;
        free(r->status);
        free(r->out);
        free(r->err);
        *r = (struct pk_pipeline_result){0};
}
