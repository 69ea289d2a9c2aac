/* SPDX-License-Identifier: MIT */
/* The command builder: records what the child gets.  Nothing here creates a
 * descriptor or a process; pk_spawn() turns the command into a plan. */
#include "spawn-internal.h"

#include "common/dynbuf.h"

#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

int pk_cmd_new(const char *prog, struct pk_cmd **ret_cmd)
{
        if (!prog || !*prog || !ret_cmd)
                return -EINVAL;
        struct pk_cmd *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->prog = strdup(prog);
        c->argv_cap = 8;
        c->argv = calloc(c->argv_cap, sizeof(char *));
        c->fds = calloc(3, sizeof(*c->fds));
        if (!c->prog || !c->argv || !c->fds || !(c->argv[0] = strdup(prog))) {
                pk_cmd_free(c);
                return -ENOMEM;
        }
        c->argc = 1; /* argv[0] is the program as given until pk_cmd_argv0() */
        c->a.umask = -1;
        c->a.svc.cgroup_fd = -1;
        for (int i = 0; i < 3; i++)
                c->fds[i] =
                    (struct pk__fdspec){.child_fd = i, .kind = PK__FD_INHERIT, .parent_fd = i};
        c->nfds = 3;
        *ret_cmd = c;
        return 0;
}

struct pk_cmd *pk_cmd_free(struct pk_cmd *c)
{
        if (!c)
                return NULL;
        free(c->prog);
        if (c->argv) {
                for (size_t i = 0; i < c->argc; i++)
                        free(c->argv[i]);
                free(c->argv);
        }
        for (size_t i = 0; i < c->nenv; i++) {
                free(c->env[i].key);
                free(c->env[i].val);
        }
        free(c->env);
        free(c->pid_key);
        free(c->cwd);
        free(c->root);
        free(c->search_path);
        free(c->groups);
        for (size_t i = 0; i < c->nfds; i++)
                free(c->fds[i].path);
        free(c->fds);
        free(c);
        return NULL;
}

/* strdup() of NULL is NULL; *ok turns false when a copy fails. */
static char *dup_str(const char *s, bool *ok)
{
        if (!s)
                return NULL;
        char *d = strdup(s);
        if (!d)
                *ok = false;
        return d;
}

int pk_cmd_dup(const struct pk_cmd *c, struct pk_cmd **ret_cmd)
{
        if (!c || !ret_cmd)
                return -EINVAL;
        struct pk_cmd *d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        /* Plain values in one piece; every owned pointer is replaced below
         * (NULL first, so pk_cmd_free() can unwind a partial copy). */
        *d = *c;
        d->prog = NULL;
        d->argv = NULL;
        d->argc = 0;
        d->env = NULL;
        d->nenv = 0;
        d->cwd = NULL;
        d->root = NULL;
        d->search_path = NULL;
        d->groups = NULL;
        d->fds = NULL;
        d->nfds = 0;
        d->pid_key = NULL;
        bool ok = true;
        d->prog = dup_str(c->prog, &ok);
        d->pid_key = dup_str(c->pid_key, &ok);
        d->cwd = dup_str(c->cwd, &ok);
        d->root = dup_str(c->root, &ok);
        d->search_path = dup_str(c->search_path, &ok);
        d->argv = calloc(c->argv_cap, sizeof(char *));
        if (!d->argv)
                ok = false;
        for (size_t i = 0; ok && i < c->argc; i++, d->argc++)
                d->argv[i] = dup_str(c->argv[i], &ok);
        if (ok && c->nenv) {
                d->env = calloc(c->nenv, sizeof(*d->env));
                ok = d->env != NULL;
                for (size_t i = 0; ok && i < c->nenv; i++, d->nenv++) {
                        d->env[i].key = dup_str(c->env[i].key, &ok);
                        d->env[i].val = dup_str(c->env[i].val, &ok);
                }
        }
        if (ok && c->ngroups) {
                d->groups = malloc(c->ngroups * sizeof(*d->groups));
                ok = d->groups != NULL;
                if (ok)
                        memcpy(d->groups, c->groups, c->ngroups * sizeof(*d->groups));
        }
        if (ok) {
                d->fds = calloc(c->nfds ? c->nfds : 1, sizeof(*d->fds));
                ok = d->fds != NULL;
                for (size_t i = 0; ok && i < c->nfds; i++, d->nfds++) {
                        d->fds[i] = c->fds[i];
                        if (c->fds[i].kind == PK__FD_DATA) {
                                d->fds[i].path = malloc(c->fds[i].len + 1);
                                ok = d->fds[i].path != NULL;
                                if (ok)
                                        memcpy(d->fds[i].path, c->fds[i].path, c->fds[i].len);
                        } else {
                                d->fds[i].path = dup_str(c->fds[i].path, &ok);
                        }
                }
        }
        if (!ok) {
                pk_cmd_free(d);
                return -ENOMEM;
        }
        *ret_cmd = d;
        return 0;
}

int pk_cmd_arg(struct pk_cmd *c, const char *arg)
{
        if (!c || !arg)
                return -EINVAL;
        if (pk__array_grow((void **)&c->argv, &c->argv_cap, c->argc + 2, sizeof(char *), 8) < 0)
                return -ENOMEM;
        char *s = strdup(arg);
        if (!s)
                return -ENOMEM;
        c->argv[c->argc++] = s;
        c->argv[c->argc] = NULL;
        return 0;
}

int pk_cmd_args(struct pk_cmd *c, const char *const *args)
{
        if (!c || !args)
                return -EINVAL;
        for (size_t i = 0; args[i]; i++) {
                int r = pk_cmd_arg(c, args[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

int pk_cmd_argv0(struct pk_cmd *c, const char *argv0)
{
        if (!c || !argv0)
                return -EINVAL;
        char *s = strdup(argv0);
        if (!s)
                return -ENOMEM;
        free(c->argv[0]);
        c->argv[0] = s;
        return 0;
}

int pk_cmd_env_clear(struct pk_cmd *c)
{
        if (!c)
                return -EINVAL;
        c->env_clear = true;
        return 0;
}

static int env_op(struct pk_cmd *c, const char *key, const char *val)
{
        if (!c || !key || !*key || strchr(key, '='))
                return -EINVAL;
        /* Only the last operation on a key counts: replace it in place, so a
         * command set again before every spawn (the supervisor's) stays small. */
        for (size_t i = 0; i < c->nenv; i++) {
                if (strcmp(c->env[i].key, key) != 0)
                        continue;
                char *nv = val ? strdup(val) : NULL;
                if (val && !nv)
                        return -ENOMEM;
                free(c->env[i].val);
                c->env[i].val = nv;
                return 0;
        }
        char *k = strdup(key);
        char *v = val ? strdup(val) : NULL;
        struct pk__envop *e = realloc(c->env, (c->nenv + 1) * sizeof(*e));
        if (!k || (val && !v) || !e) {
                free(k);
                free(v);
                if (e)
                        c->env = e;
                return -ENOMEM;
        }
        c->env = e;
        c->env[c->nenv++] = (struct pk__envop){.key = k, .val = v};
        return 0;
}

int pk_cmd_env_set(struct pk_cmd *c, const char *key, const char *value)
{
        if (!value)
                return -EINVAL;
        return env_op(c, key, value);
}

int pk_cmd_env_unset(struct pk_cmd *c, const char *key)
{
        return env_op(c, key, NULL);
}

int pk_cmd_env_pid(struct pk_cmd *c, const char *key)
{
        if (!c || (key && (!*key || strchr(key, '='))))
                return -EINVAL;
        char *k = NULL;
        if (key && !(k = strdup(key)))
                return -ENOMEM;
        free(c->pid_key);
        c->pid_key = k;
        return 0;
}

int pk_cmd_cwd(struct pk_cmd *c, const char *dir)
{
        if (!c || !dir || !*dir)
                return -EINVAL;
        char *s = strdup(dir);
        if (!s)
                return -ENOMEM;
        free(c->cwd);
        c->cwd = s;
        return 0;
}

int pk_cmd_chroot(struct pk_cmd *c, const char *dir)
{
        if (!c || !dir || dir[0] != '/')
                return -EINVAL;
        if (strlen(dir) >= PATH_MAX)
                return -ENAMETOOLONG;
        char *s = strdup(dir);
        if (!s)
                return -ENOMEM;
        free(c->root);
        c->root = s;
        return 0;
}

int pk_cmd_search_path(struct pk_cmd *c, const char *dirs)
{
        if (!c)
                return -EINVAL;
        char *s = NULL;
        if (dirs && !(s = strdup(dirs)))
                return -ENOMEM;
        free(c->search_path);
        c->search_path = s;
        return 0;
}

int pk_cmd_umask(struct pk_cmd *c, mode_t mask)
{
        if (!c || mask > 0777)
                return -EINVAL;
        c->a.umask = (int)mask;
        return 0;
}

int pk_cmd_nice(struct pk_cmd *c, int nice)
{
        if (!c || nice < -20 || nice > 19)
                return -EINVAL;
        c->a.has_nice = true;
        c->a.nice = nice;
        return 0;
}

int pk_cmd_rlimit(struct pk_cmd *c, int resource, unsigned long long soft, unsigned long long hard)
{
        if (!c || resource < 0 || resource >= RLIMIT_NLIMITS || soft > hard)
                return -EINVAL;
        for (int i = 0; i < c->a.nrl; i++) {
                if (c->a.rl[i].resource == resource) {
                        c->a.rl[i].soft = soft;
                        c->a.rl[i].hard = hard;
                        return 0;
                }
        }
        if (c->a.nrl >= PK__MAX_RLIMITS)
                return -ENOMEM;
        c->a.rl[c->a.nrl++] = (struct pk__rlim){.resource = resource, .soft = soft, .hard = hard};
        return 0;
}

int pk_cmd_uid(struct pk_cmd *c, uid_t uid)
{
        if (!c || uid == (uid_t)-1)
                return -EINVAL;
        c->has_uid = true;
        c->a.uid = uid;
        return 0;
}

int pk_cmd_gid(struct pk_cmd *c, gid_t gid)
{
        if (!c || gid == (gid_t)-1)
                return -EINVAL;
        c->has_gid = true;
        c->gid_from_user = false;
        c->a.gid = gid;
        return 0;
}

static int set_groups(struct pk_cmd *c, const gid_t *groups, size_t n)
{
        gid_t *g = NULL;
        if (n) {
                g = malloc(n * sizeof(gid_t));
                if (!g)
                        return -ENOMEM;
                memcpy(g, groups, n * sizeof(gid_t));
        }
        free(c->groups);
        c->groups = g;
        c->ngroups = n;
        c->has_groups = true;
        return 0;
}

int pk_cmd_groups(struct pk_cmd *c, const gid_t *groups, size_t n)
{
        if (!c || (n && !groups) || n > NGROUPS_MAX)
                return -EINVAL;
        int r = set_groups(c, groups, n);
        if (r == 0)
                c->user_groups = false;
        return r;
}

/* Parses a whole decimal id, or returns -1. */
static long long parse_id(const char *s)
{
        if (!*s)
                return -1;
        long long v = 0;
        for (; *s; s++) {
                if (*s < '0' || *s > '9' || v > 0xfffffffell)
                        return -1;
                v = v * 10 + (*s - '0');
        }
        return v >= 0xffffffffll ? -1 : v;
}

int pk_cmd_user(struct pk_cmd *c, const char *name)
{
        if (!c || !name || !*name)
                return -EINVAL;
        char buf[4096];
        struct passwd pw, *res = NULL;
        long long id = parse_id(name);
        int e = id >= 0 ? getpwuid_r((uid_t)id, &pw, buf, sizeof(buf), &res)
                        : getpwnam_r(name, &pw, buf, sizeof(buf), &res);
        if (!res) {
                if (e == ENOMEM || e == ERANGE)
                        return -ENOMEM;
                if (id < 0)
                        return PK_ENOUSER;
                /* A numeric uid with no passwd entry: uid only, groups cleared. */
                c->has_uid = true;
                c->a.uid = (uid_t)id;
                if (!c->has_groups || c->user_groups) {
                        set_groups(c, NULL, 0);
                        c->user_groups = true;
                }
                return 0;
        }
        c->has_uid = true;
        c->a.uid = pw.pw_uid;
        if (!c->has_gid || c->gid_from_user) {
                c->has_gid = true;
                c->gid_from_user = true;
                c->a.gid = pw.pw_gid;
        }
        if (!c->has_groups || c->user_groups) {
                int n = 64;
                for (;;) {
                        gid_t *g = malloc((size_t)n * sizeof(gid_t));
                        if (!g)
                                return -ENOMEM;
                        int want = n;
                        if (getgrouplist(pw.pw_name, pw.pw_gid, g, &want) >= 0) {
                                int r = set_groups(c, g, (size_t)want);
                                free(g);
                                if (r < 0)
                                        return r;
                                break;
                        }
                        free(g);
                        if (want <= n || want > NGROUPS_MAX)
                                return -ENOMEM;
                        n = want;
                }
                c->user_groups = true;
        }
        return 0;
}

int pk_cmd_group(struct pk_cmd *c, const char *name)
{
        if (!c || !name || !*name)
                return -EINVAL;
        long long id = parse_id(name);
        if (id >= 0)
                return pk_cmd_gid(c, (gid_t)id);
        char buf[4096];
        struct group gr, *res = NULL;
        int e = getgrnam_r(name, &gr, buf, sizeof(buf), &res);
        if (!res)
                return e == ENOMEM || e == ERANGE ? -ENOMEM : PK_ENOGROUP;
        return pk_cmd_gid(c, gr.gr_gid);
}

int pk_cmd_setsid(struct pk_cmd *c)
{
        if (!c)
                return -EINVAL;
        c->a.setsid = true;
        c->a.setpgid = false;
        return 0;
}

bool pk__cmd_own_group(const struct pk_cmd *c)
{
        return c && (c->a.setsid || c->a.setpgid);
}

int pk_cmd_setpgid(struct pk_cmd *c, pid_t pgid)
{
        if (!c || pgid < 0)
                return -EINVAL;
        c->a.setpgid = true;
        c->a.setsid = false;
        c->a.pgid = pgid;
        return 0;
}

int pk_cmd_pdeathsig(struct pk_cmd *c, int sig)
{
        if (!c || sig < 0 || sig >= 65)
                return -EINVAL;
        c->a.pdeathsig = sig;
        return 0;
}

int pk_cmd_no_new_privs(struct pk_cmd *c)
{
        if (!c)
                return -EINVAL;
        c->a.nnp = true;
        return 0;
}

int pk_cmd_signal_ignore(struct pk_cmd *c, int sig)
{
        if (!c || sig < 1 || sig > 64 || sig == SIGKILL || sig == SIGSTOP)
                return -EINVAL;
        c->a.sig_ignore |= UINT64_C(1) << (sig - 1);
        return 0;
}

int pk_cmd_signal_block(struct pk_cmd *c, int sig)
{
        if (!c || sig < 1 || sig > 64 || sig == SIGKILL || sig == SIGSTOP)
                return -EINVAL;
        c->a.sig_block |= UINT64_C(1) << (sig - 1);
        return 0;
}

/* Returns the entry for child_fd, appending a fresh one if needed. */
static struct pk__fdspec *fd_slot(struct pk_cmd *c, int child_fd)
{
        for (size_t i = 0; i < c->nfds; i++) {
                if (c->fds[i].child_fd == child_fd) {
                        free(c->fds[i].path);
                        c->fds[i].path = NULL;
                        return &c->fds[i];
                }
        }
        struct pk__fdspec *v = realloc(c->fds, (c->nfds + 1) * sizeof(*v));
        if (!v)
                return NULL;
        c->fds = v;
        v[c->nfds] = (struct pk__fdspec){.child_fd = child_fd, .parent_fd = -1};
        return &v[c->nfds++];
}

static int fd_set_entry(struct pk_cmd *c, int child_fd, int kind, int parent_fd, int flags,
                        mode_t mode, const char *path)
{
        if (!c || child_fd < 0 || child_fd > INT_MAX / 2)
                return -EINVAL;
        char *p = NULL;
        if (path && !(p = strdup(path)))
                return -ENOMEM;
        struct pk__fdspec *s = fd_slot(c, child_fd);
        if (!s) {
                free(p);
                return -ENOMEM;
        }
        *s = (struct pk__fdspec){.child_fd = child_fd,
                                 .kind = kind,
                                 .parent_fd = parent_fd,
                                 .flags = flags,
                                 .mode = mode,
                                 .path = p};
        return 0;
}

int pk_cmd_fd(struct pk_cmd *c, int child_fd, int parent_fd)
{
        if (parent_fd < 0)
                return -EBADF;
        if (fcntl(parent_fd, F_GETFD) < 0)
                return -EBADF;
        return fd_set_entry(c, child_fd, PK__FD_PARENT, parent_fd, 0, 0, NULL);
}

int pk_cmd_fd_pipe(struct pk_cmd *c, int child_fd, int flags)
{
        int dir = flags & (PK_PIPE_CHILD_READS | PK_PIPE_CHILD_WRITES);
        if (dir == (PK_PIPE_CHILD_READS | PK_PIPE_CHILD_WRITES) ||
            (flags & ~(PK_PIPE_CHILD_READS | PK_PIPE_CHILD_WRITES | PK_PIPE_NONBLOCK)))
                return -EINVAL;
        if (!dir)
                flags |= child_fd == 0 ? PK_PIPE_CHILD_READS : PK_PIPE_CHILD_WRITES;
        return fd_set_entry(c, child_fd, PK__FD_PIPE, -1, flags, 0, NULL);
}

int pk_cmd_fd_socketpair(struct pk_cmd *c, int child_fd, int type)
{
        int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (base != SOCK_STREAM && base != SOCK_SEQPACKET && base != SOCK_DGRAM)
                return -EINVAL;
        return fd_set_entry(c, child_fd, PK__FD_SOCKETPAIR, -1, type & ~SOCK_CLOEXEC, 0, NULL);
}

int pk_cmd_fd_pty(struct pk_cmd *c, int child_fd)
{
        return fd_set_entry(c, child_fd, PK__FD_PTY, -1, 0, 0, NULL);
}

int pk_cmd_fd_null(struct pk_cmd *c, int child_fd)
{
        return fd_set_entry(c, child_fd, PK__FD_NULL, -1, 0, 0, NULL);
}

int pk_cmd_fd_file(struct pk_cmd *c, int child_fd, const char *path, int flags, mode_t mode)
{
        if (!path || !*path)
                return -EINVAL;
        return fd_set_entry(c, child_fd, PK__FD_FILE, -1, flags & ~O_CLOEXEC, mode, path);
}

int pk_cmd_fd_data(struct pk_cmd *c, int child_fd, const void *data, size_t len)
{
        if (len && !data)
                return -EINVAL;
        if (len == 0) /* nothing to read: /dev/null, as systemd gives */
                return pk_cmd_fd_null(c, child_fd);
        char *b = malloc(len + 1);
        if (!b)
                return -ENOMEM;
        memcpy(b, data, len);
        int r = fd_set_entry(c, child_fd, PK__FD_DATA, -1, 0, 0, NULL);
        if (r < 0) {
                free(b);
                return r;
        }
        struct pk__fdspec *s = fd_slot(c, child_fd); /* the entry just set */
        s->path = b;
        s->len = len;
        return 0;
}

int pk_cmd_fd_same_as(struct pk_cmd *c, int child_fd, int other_child_fd)
{
        if (other_child_fd < 0 || other_child_fd == child_fd)
                return -EINVAL;
        return fd_set_entry(c, child_fd, PK__FD_SAME, other_child_fd, 0, 0, NULL);
}

int pk_cmd_fd_close(struct pk_cmd *c, int child_fd)
{
        return fd_set_entry(c, child_fd, PK__FD_CLOSED, -1, 0, 0, NULL);
}

/* ---- what services need ---- */

int pk_cmd_cgroup(struct pk_cmd *c, int cgroup_dirfd)
{
        if (!c || cgroup_dirfd < -1)
                return -EINVAL;
        if (cgroup_dirfd >= 0 && fcntl(cgroup_dirfd, F_GETFD) < 0)
                return -EBADF;
        c->a.svc.cgroup_fd = cgroup_dirfd;
        return 0;
}

int pk_cmd_ambient_caps(struct pk_cmd *c, uint64_t caps)
{
        if (!c)
                return -EINVAL;
        c->a.svc.caps.has_ambient = caps != 0;
        c->a.svc.caps.ambient = caps;
        return 0;
}

int pk_cmd_cap_bounding(struct pk_cmd *c, uint64_t caps)
{
        if (!c)
                return -EINVAL;
        c->a.svc.caps.has_bounding = true;
        c->a.svc.caps.bounding = caps;
        return 0;
}

int pk_cmd_oom_score_adj(struct pk_cmd *c, int adj)
{
        if (!c || adj < -1000 || adj > 1000)
                return -EINVAL;
        c->a.svc.has_oom = true;
        c->a.svc.oom = adj;
        snprintf(c->a.svc.oom_str, sizeof(c->a.svc.oom_str), "%d", adj);
        return 0;
}

int pk_cmd_ioprio(struct pk_cmd *c, int ioclass, int level)
{
        if (!c || ioclass < PK_IOPRIO_CLASS_NONE || ioclass > PK_IOPRIO_CLASS_IDLE || level < 0 ||
            level > 7)
                return -EINVAL;
        c->a.svc.has_ioprio = true;
        c->a.svc.ioprio = ioclass << 13 | (ioclass == PK_IOPRIO_CLASS_IDLE ? 0 : level);
        return 0;
}

int pk_cmd_sched(struct pk_cmd *c, int policy, int priority)
{
        if (!c)
                return -EINVAL;
        int base = policy & ~SCHED_RESET_ON_FORK;
        bool rt = base == SCHED_FIFO || base == SCHED_RR;
        if (!(rt || base == SCHED_OTHER || base == SCHED_BATCH || base == SCHED_IDLE))
                return -EINVAL;
        if (rt ? priority < 1 || priority > 99 : priority != 0)
                return -EINVAL;
        c->a.svc.has_sched = true;
        c->a.svc.sched_policy = policy;
        c->a.svc.sched_prio = priority;
        return 0;
}
