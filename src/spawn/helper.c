/* SPDX-License-Identifier: MIT */
/* The opt-in spawn helper (Erlang's erl_child_setup): a small process forked
 * once, early, that runs the clone + exec for its host so no host thread ever
 * waits on an execve stuck on a hung mount.  The host still does all the
 * preparation (PATH search, environment, pipes, files); it sends the prepared
 * plan over a Unix stream socket with the map's source fds as SCM_RIGHTS, and
 * the helper clones with CLONE_PARENT so the child is the host's own child
 * (waitable through the pidfd the helper sends back). */
#include "spawn-internal.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#define PK__HELPER_MAX_MSG (1u << 20) /* argv + env + the rest */
#define PK__HELPER_MAX_FDS 250        /* below SCM_MAX_FD (253) */
#define PK__HELPER_MAGIC 0x706b6831u

/* One request sent and not yet answered (FIFO: the helper answers in order). */
struct pending {
        struct pending *next;
        uint64_t id;
        struct pk_proc *proc; /* set by pk_spawn_helper_start once pk__spawn_with returns */
        char *path, *cwd;     /* for the error message */
};

struct pk_spawn_helper {
        int sock;
        pid_t pid;
        pthread_mutex_t lock; /* the socket's send side and the queue */
        pthread_mutex_t sync; /* pk_spawn_helper_spawn(): start + finish as one */
        uint64_t next_id;
        struct pending *queue;
};

/* The fixed part of a request; variable parts follow in this order:
 * groups, move targets, then NUL-terminated strings: path, cwd (if has_cwd),
 * root (if W_ROOT), argc argv strings, envc env strings. */
struct wire {
        uint32_t magic, total, nfds;
        int32_t nmoves, ctty_fd;
        uint32_t flags, ngroups, argc, envc, has_cwd;
        struct pk__attrs a; /* a.svc.cgroup_fd >= 0: the cgroup fd follows the map's fds */
        int32_t pid_env;    /* index of the pk_cmd_env_pid() "KEY=" string in envp, or -1 */
};

enum {
        W_GROUPS = 1 << 0,
        W_GID = 1 << 1,
        W_UID = 1 << 2,
        W_ROOT = 1 << 3,
};

struct reply {
        int32_t r;
        pid_t pid;
        struct pk__child_err err;
};

/* Request buffer: static so the helper never calls malloc (it was forked
 * from a host that may hold malloc's lock in another thread). */
static char helper_buf[PK__HELPER_MAX_MSG];

/* Sends len bytes with the fds riding on the first one: 0 or a negative errno. */
static int send_fds(int sock, const void *buf, size_t len, const int *fds, size_t nfds)
{
        ssize_t r = pk_fd_send_fds(sock, buf, len, fds, nfds);
        return r < 0 ? (int)r : 0;
}

/* Receives exactly len bytes; the fds attached to them land in fds (up to
 * maxfds, CLOEXEC), *ret_nfds says how many.  Returns 0, PK_EHELPER at EOF,
 * or a negative errno. */
static int recv_fds(int sock, void *buf, size_t len, int *fds, size_t maxfds, size_t *ret_nfds)
{
        size_t done = 0, nf = 0;
        while (done < len) {
                size_t got = 0;
                ssize_t n = pk_fd_recv_fds(sock, (char *)buf + done, len - done, fds + nf,
                                           maxfds - nf, &got);
                if (n < 0)
                        return (int)n;
                if (n == 0)
                        return PK_EHELPER;
                nf += got;
                done += (size_t)n;
        }
        if (ret_nfds)
                *ret_nfds = nf;
        return 0;
}

/* ---- the helper process ---- */

static const char *take_str(const char **cur, const char *end)
{
        const char *s = *cur;
        const char *z = memchr(s, '\0', (size_t)(end - s));
        if (!z)
                return NULL;
        *cur = z + 1;
        return s;
}

/* Serves one request; returns < 0 when the host is gone. */
static int helper_serve(int sock)
{
        struct wire w;
        int fds[PK__HELPER_MAX_FDS];
        size_t nf = 0;
        int r = recv_fds(sock, &w, sizeof(w), fds, PK__HELPER_MAX_FDS, &nf);
        if (r < 0)
                return r;
        struct reply rep = {.r = -EINVAL};
        int pidfd = -1;
        bool ok = w.magic == PK__HELPER_MAGIC && w.total >= sizeof(w) &&
                  w.total - sizeof(w) <= sizeof(helper_buf);
        if (!ok)
                return -EPROTO;
        size_t body = w.total - sizeof(w);
        r = recv_fds(sock, helper_buf, body, fds + nf, PK__HELPER_MAX_FDS - nf, NULL);
        if (r < 0)
                return r;
        const char *cur = helper_buf, *end = helper_buf + body;
        /* Fixed arrays (sizes validated against the body). */
        size_t need = (size_t)w.ngroups * sizeof(gid_t) + (size_t)w.nmoves * sizeof(int);
        static gid_t groups[65536];
        static struct pk__move moves[PK__HELPER_MAX_FDS];
        static int scratch[PK__HELPER_MAX_FDS];
        static char *argv[65536], *envp[65536];
        uint32_t has_cg = w.a.svc.cgroup_fd >= 0;
        if (w.a.nrl < 0 || w.a.nrl > PK__MAX_RLIMITS || w.ngroups > 65536 || w.nmoves < 0 ||
            (uint32_t)w.nmoves + has_cg != w.nfds || w.nfds != nf || need > body ||
            w.argc >= 65536 || w.envc >= 65536 || w.a.svc.oom_str[sizeof(w.a.svc.oom_str) - 1])
                goto reply;
        if (has_cg)
                w.a.svc.cgroup_fd = fds[w.nmoves];
        memcpy(groups, cur, (size_t)w.ngroups * sizeof(gid_t));
        cur += (size_t)w.ngroups * sizeof(gid_t);
        for (int i = 0; i < w.nmoves; i++) {
                memcpy(&moves[i].target, cur, sizeof(int));
                cur += sizeof(int);
                moves[i].src = fds[i];
        }
        const char *path = take_str(&cur, end);
        const char *cwd = w.has_cwd ? take_str(&cur, end) : NULL;
        const char *root = (w.flags & W_ROOT) ? take_str(&cur, end) : NULL;
        if (!path || (w.has_cwd && !cwd) || ((w.flags & W_ROOT) && !root))
                goto reply;
        for (uint32_t i = 0; i < w.argc; i++)
                if (!(argv[i] = (char *)(uintptr_t)take_str(&cur, end)))
                        goto reply;
        argv[w.argc] = NULL;
        for (uint32_t i = 0; i < w.envc; i++)
                if (!(envp[i] = (char *)(uintptr_t)take_str(&cur, end)))
                        goto reply;
        envp[w.envc] = NULL;
        /* The pid slot: "KEY=" copied where the child has room to write its pid. */
        static char pid_env[256 + PK__PID_SLOT];
        char *pid_slot = NULL;
        if (w.pid_env >= 0) {
                size_t kl = (uint32_t)w.pid_env < w.envc ? strlen(envp[w.pid_env]) : SIZE_MAX;
                if (kl >= 256)
                        goto reply;
                memset(pid_env, 0, sizeof(pid_env));
                memcpy(pid_env, envp[w.pid_env], kl);
                envp[w.pid_env] = pid_env;
                pid_slot = pid_env + kl;
        }

        struct pk__plan plan = {
            .path = path,
            .argv = argv,
            .envp = envp,
            .cwd = cwd,
            .root = root,
            .a = w.a,
            .parent_pid = getppid(),
            .set_groups = w.flags & W_GROUPS,
            .set_gid = w.flags & W_GID,
            .set_uid = w.flags & W_UID,
            .groups = groups,
            .ngroups = w.ngroups,
            .moves = moves,
            .nmoves = w.nmoves,
            .scratch = scratch,
            .ctty_fd = w.ctty_fd,
            .clone_parent = true,
            .err = &rep.err,
            .pid_slot = pid_slot,
        };
        pid_t pid = -1;
        rep.r = pk__spawn_plan(&plan, &pid, &pidfd);
        rep.pid = pid;
reply:
        for (size_t i = 0; i < nf; i++)
                fds[i] = pk_fd_close(fds[i]);
        r = send_fds(sock, &rep, sizeof(rep), &pidfd, pidfd >= 0 ? 1 : 0);
        if (pidfd >= 0)
                pidfd = pk_fd_close(pidfd);
        return r;
}

__attribute__((noreturn)) static void helper_main(int sock)
{
        /* Keep only the socket; leave the host's session and signal handlers. */
        if (sock > 0)
                syscall(SYS_close_range, 0, sock - 1, 0);
        syscall(SYS_close_range, sock + 1, ~0U, 0);
        setsid();
        for (int sig = 1; sig < NSIG; sig++)
                signal(sig, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        while (helper_serve(sock) >= 0)
                ;
        _exit(0);
}

int pk_spawn_helper_new(struct pk_spawn_helper **ret)
{
        if (!ret)
                return -EINVAL;
        struct pk_spawn_helper *h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
                int e = -errno;
                free(h);
                return e;
        }
        pid_t pid = fork();
        if (pid < 0) {
                int e = -errno;
                sv[0] = pk_fd_close(sv[0]);
                sv[1] = pk_fd_close(sv[1]);
                free(h);
                return e;
        }
        if (pid == 0)
                helper_main(sv[1]);
        sv[1] = pk_fd_close(sv[1]);
        h->sock = sv[0];
        h->pid = pid;
        pthread_mutex_init(&h->lock, NULL);
        pthread_mutex_init(&h->sync, NULL);
        *ret = h;
        return 0;
}

struct pk_spawn_helper *pk_spawn_helper_free(struct pk_spawn_helper *h)
{
        if (!h)
                return NULL;
        h->sock = pk_fd_close(h->sock); /* EOF: the helper exits */
        while (waitpid(h->pid, NULL, 0) < 0 && errno == EINTR)
                ;
        /* Requests never finished: their children (if any) keep running. */
        while (h->queue) {
                struct pending *rec = h->queue;
                h->queue = rec->next;
                pk_proc_free(rec->proc);
                free(rec->path);
                free(rec->cwd);
                free(rec);
        }
        pthread_mutex_destroy(&h->lock);
        pthread_mutex_destroy(&h->sync);
        free(h);
        return NULL;
}

static size_t strv_len(char *const *v, uint32_t *count)
{
        size_t n = 0;
        uint32_t c = 0;
        for (; v && v[c]; c++)
                n += strlen(v[c]) + 1;
        *count = c;
        return n;
}

static char *put_str(char *p, const char *s)
{
        size_t n = strlen(s) + 1;
        memcpy(p, s, n);
        return p + n;
}

struct send_ctx {
        struct pk_spawn_helper *h;
        struct pending *rec;
};

/* The host side of a request: a pk__runner_fn that only sends. */
static int helper_send(void *ctx, const struct pk__plan *plan, pid_t *ret_pid, int *ret_pidfd)
{
        struct send_ctx *sc = ctx;
        struct pk_spawn_helper *h = sc->h;
        (void)ret_pid;
        (void)ret_pidfd;
        bool has_cg = plan->a.svc.cgroup_fd >= 0;
        if (plan->nmoves + has_cg > PK__HELPER_MAX_FDS)
                return -E2BIG;
        struct wire w = {
            .magic = PK__HELPER_MAGIC,
            .nfds = (uint32_t)plan->nmoves + has_cg,
            .nmoves = plan->nmoves,
            .ctty_fd = plan->ctty_fd,
            .flags = (plan->set_groups ? W_GROUPS : 0) | (plan->set_gid ? W_GID : 0) |
                     (plan->set_uid ? W_UID : 0) | (plan->root ? W_ROOT : 0),
            .ngroups = (uint32_t)plan->ngroups,
            .has_cwd = plan->cwd != NULL,
            .a = plan->a,
            .pid_env = -1,
        };
        for (int32_t i = 0; plan->pid_slot && plan->envp[i]; i++)
                if (plan->pid_slot > plan->envp[i] &&
                    plan->pid_slot <= plan->envp[i] + strlen(plan->envp[i]))
                        w.pid_env = i;
        size_t sl = strv_len(plan->argv, &w.argc) + strv_len(plan->envp, &w.envc);
        sl += strlen(plan->path) + 1 + (plan->cwd ? strlen(plan->cwd) + 1 : 0);
        sl += plan->root ? strlen(plan->root) + 1 : 0;
        size_t body = plan->ngroups * sizeof(gid_t) + (size_t)plan->nmoves * sizeof(int) + sl;
        if (body > PK__HELPER_MAX_MSG)
                return -E2BIG;
        w.total = (uint32_t)(sizeof(w) + body);
        char *msg = malloc(sizeof(w) + body);
        int *fds = malloc(((size_t)plan->nmoves + 2) * sizeof(int));
        struct pending *rec = calloc(1, sizeof(*rec));
        if (rec) {
                rec->path = strdup(plan->path);
                rec->cwd = plan->cwd ? strdup(plan->cwd) : NULL;
        }
        if (!msg || !fds || !rec || !rec->path || (plan->cwd && !rec->cwd)) {
                free(msg);
                free(fds);
                if (rec) {
                        free(rec->path);
                        free(rec->cwd);
                }
                free(rec);
                return -ENOMEM;
        }
        char *p = msg;
        memcpy(p, &w, sizeof(w));
        p += sizeof(w);
        if (plan->ngroups)
                memcpy(p, plan->groups, plan->ngroups * sizeof(gid_t));
        p += plan->ngroups * sizeof(gid_t);
        for (int i = 0; i < plan->nmoves; i++) {
                memcpy(p, &plan->moves[i].target, sizeof(int));
                p += sizeof(int);
                fds[i] = plan->moves[i].src;
        }
        if (has_cg)
                fds[plan->nmoves] = plan->a.svc.cgroup_fd;
        p = put_str(p, plan->path);
        if (plan->cwd)
                p = put_str(p, plan->cwd);
        if (plan->root)
                p = put_str(p, plan->root);
        for (uint32_t i = 0; i < w.argc; i++)
                p = put_str(p, plan->argv[i]);
        for (uint32_t i = 0; i < w.envc; i++)
                p = put_str(p, plan->envp[i]);

        pthread_mutex_lock(&h->lock);
        int r = send_fds(h->sock, msg, sizeof(w) + body, fds, (size_t)plan->nmoves + has_cg);
        /* Sent: rec joins the queue (h owns it).  Not sent (r < 0, the exact
         * complement): freed below. */
        if (r >= 0) {
                rec->id = ++h->next_id;
                struct pending **tail = &h->queue;
                while (*tail)
                        tail = &(*tail)->next;
                *tail = rec;
                sc->rec = rec;
        }
        pthread_mutex_unlock(&h->lock);
        free(msg);
        free(fds);
        if (r < 0) {
                free(rec->path);
                free(rec->cwd);
                free(rec);
                return r == -EPIPE || r == -ECONNRESET ? PK_EHELPER : r;
        }
        return PK__SPAWN_DEFERRED;
}

static void reap_pidfd(int pidfd)
{
        siginfo_t si;
        while (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED) < 0 && errno == EINTR)
                ;
        pk_fd_close(pidfd);
}

pid_t pk_spawn_helper_pid(const struct pk_spawn_helper *h)
{
        return h ? h->pid : -1;
}

int pk_spawn_helper_fd(const struct pk_spawn_helper *h)
{
        return h ? h->sock : -EINVAL;
}

int pk_spawn_helper_start(struct pk_spawn_helper *h, const struct pk_cmd *cmd, uint64_t *ret_id,
                          struct pk_spawn_error *reterr)
{
        if (!h || !cmd) {
                pk__spawn_error_set(reterr, PK_SPAWN_STEP_ARGS, -EINVAL, -1, 0, NULL);
                return -EINVAL;
        }
        struct send_ctx sc = {.h = h};
        struct pk_proc *proc = NULL;
        int r = pk__spawn_with(cmd, NULL, helper_send, &sc, &proc, reterr);
        if (r < 0 && sc.rec) {
                /* Sent, but the handle could not be made: finish() ends the child. */
                r = 0;
        }
        if (r < 0)
                return r;
        pthread_mutex_lock(&h->lock);
        sc.rec->proc = proc;
        pthread_mutex_unlock(&h->lock);
        if (ret_id)
                *ret_id = sc.rec->id;
        return 0;
}

int pk_spawn_helper_finish(struct pk_spawn_helper *h, uint64_t *ret_id, struct pk_proc **ret_proc,
                           struct pk_spawn_error *reterr)
{
        if (!h || !ret_proc) {
                pk__spawn_error_set(reterr, PK_SPAWN_STEP_ARGS, -EINVAL, -1, 0, NULL);
                return -EINVAL;
        }
        pthread_mutex_lock(&h->lock);
        struct pending *rec = h->queue;
        pthread_mutex_unlock(&h->lock);
        if (!rec) {
                pk__spawn_error_set(reterr, PK_SPAWN_STEP_ARGS, -ENOENT, -1, 0, NULL);
                return -ENOENT;
        }
        struct reply rep;
        int pidfd = -1;
        size_t nf = 0;
        int r = recv_fds(h->sock, &rep, sizeof(rep), &pidfd, 1, &nf);
        if (nf == 0)
                pidfd = -1;
        if (r < 0) {
                /* The helper is gone: fail every pending request at once. */
                pthread_mutex_lock(&h->lock);
                rec = h->queue;
                h->queue = rec->next;
                pthread_mutex_unlock(&h->lock);
                pk_proc_free(rec->proc);
                free(rec->path);
                free(rec->cwd);
                free(rec);
                r = r == -ECONNRESET ? PK_EHELPER : r;
                pk__spawn_error_set(reterr, PK_SPAWN_STEP_HELPER, r, -1, 0, NULL);
                return r;
        }
        pthread_mutex_lock(&h->lock);
        h->queue = rec->next;
        pthread_mutex_unlock(&h->lock);
        if (ret_id)
                *ret_id = rec->id;
        struct pk_proc *proc = rec->proc;
        if (rep.r < 0 || pidfd < 0 || !proc) {
                if (pidfd >= 0 && rep.r < 0) {
                        reap_pidfd(pidfd); /* the failed child is ours to reap */
                } else if (pidfd >= 0) {
                        (void)pk_fd_pidfd_send_signal(pidfd, SIGKILL);
                        reap_pidfd(pidfd);
                }
                r = rep.r < 0 ? rep.r : pidfd < 0 ? PK_EHELPER : -ENOMEM;
                const char *what = rep.err.step == PK_SPAWN_STEP_EXEC    ? rec->path
                                   : rep.err.step == PK_SPAWN_STEP_CHDIR ? rec->cwd
                                                                         : NULL;
                int step = rep.r < 0 ? rep.err.step : PK_SPAWN_STEP_HELPER;
                pk__spawn_error_set(reterr, step, r, rep.r < 0 ? rep.err.fd : -1,
                                    rep.r < 0 ? rep.err.value : 0, what);
                pk_proc_free(proc);
                free(rec->path);
                free(rec->cwd);
                free(rec);
                return r;
        }
        free(rec->path);
        free(rec->cwd);
        free(rec);
        proc->pid = rep.pid;
        proc->pidfd = pk_fd_raise(pidfd); /* kept as long as the child: out of the low numbers */
        *ret_proc = proc;
        return 0;
}

int pk_spawn_helper_spawn(struct pk_spawn_helper *h, const struct pk_cmd *cmd,
                          struct pk_proc **ret_proc, struct pk_spawn_error *reterr)
{
        if (!h) {
                pk__spawn_error_set(reterr, PK_SPAWN_STEP_ARGS, -EINVAL, -1, 0, NULL);
                return -EINVAL;
        }
        /* Start and finish back to back; the sync lock keeps another thread's
         * finish() from taking this request's reply. */
        pthread_mutex_lock(&h->sync);
        uint64_t id;
        int r = pk_spawn_helper_start(h, cmd, &id, reterr);
        if (r == 0)
                r = pk_spawn_helper_finish(h, NULL, ret_proc, reterr);
        pthread_mutex_unlock(&h->sync);
        return r;
}
