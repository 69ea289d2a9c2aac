/* SPDX-License-Identifier: MIT */
/* The spawn engine, parent side: turns a command into a plan (PATH search,
 * environment, pipes, files, the fd moves), runs it (child.c), and the process
 * handle: wait, signal, status. */
#include "spawn-internal.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>

extern char **environ;

void pk__spawn_error_set(struct pk_spawn_error *e, int step, int err, int fd, int value,
                         const char *path)
{
        if (!e)
                return;
        e->step = step;
        e->code = err;
        e->fd = fd;
        e->value = value;
        e->path[0] = '\0';
        if (path) {
                size_t n = strlen(path);
                if (n >= sizeof(e->path))
                        n = sizeof(e->path) - 1;
                memcpy(e->path, path, n);
                e->path[n] = '\0';
        }
}

static const char *const step_names[] = {
    [PK_SPAWN_STEP_NONE] = "none",
    [PK_SPAWN_STEP_ARGS] = "arguments",
    [PK_SPAWN_STEP_LOOKUP] = "lookup",
    [PK_SPAWN_STEP_PIPE] = "pipe",
    [PK_SPAWN_STEP_OPEN] = "open",
    [PK_SPAWN_STEP_CLONE] = "clone",
    [PK_SPAWN_STEP_SIGNALS] = "signals",
    [PK_SPAWN_STEP_SETSID] = "setsid",
    [PK_SPAWN_STEP_SETPGID] = "setpgid",
    [PK_SPAWN_STEP_DUP] = "dup",
    [PK_SPAWN_STEP_CTTY] = "controlling tty",
    [PK_SPAWN_STEP_CLOSE] = "close_range",
    [PK_SPAWN_STEP_RLIMIT] = "setrlimit",
    [PK_SPAWN_STEP_NICE] = "nice",
    [PK_SPAWN_STEP_SETGROUPS] = "setgroups",
    [PK_SPAWN_STEP_SETGID] = "setgid",
    [PK_SPAWN_STEP_SETUID] = "setuid",
    [PK_SPAWN_STEP_CHDIR] = "chdir",
    [PK_SPAWN_STEP_PDEATHSIG] = "pdeathsig",
    [PK_SPAWN_STEP_NNP] = "no_new_privs",
    [PK_SPAWN_STEP_SIGMASK] = "sigmask",
    [PK_SPAWN_STEP_EXEC] = "execve",
    [PK_SPAWN_STEP_HELPER] = "spawn helper",
    [PK_SPAWN_STEP_CGROUP] = "cgroup",
    [PK_SPAWN_STEP_CAPBSET] = "capability bounding set",
    [PK_SPAWN_STEP_CAPS] = "capabilities",
    [PK_SPAWN_STEP_OOM] = "oom_score_adj",
    [PK_SPAWN_STEP_IOPRIO] = "ioprio",
    [PK_SPAWN_STEP_SCHED] = "sched_setscheduler",
    [PK_SPAWN_STEP_CHROOT] = "chroot",
};

const char *pk_spawn_step_name(int step)
{
        if (step < 0 || (size_t)step >= PK_ARRAY_SIZE(step_names) || !step_names[step])
                return "unknown step";
        return step_names[step];
}

int pk_spawn_strerror(const struct pk_spawn_error *e, char *buf, size_t size)
{
        if (!e || e->step == PK_SPAWN_STEP_NONE)
                return snprintf(buf, size, "spawn failed");
        const char *what = pk_spawn_step_name(e->step);
        const char *msg = pk_strerror(e->code);
        if (e->step == PK_SPAWN_STEP_DUP) /* path: "child" for pk_cmd_fd_same_as() */
                return snprintf(buf, size, "spawn failed: %s fd %d <- %s fd %d: %s", what, e->fd,
                                e->path[0] ? e->path : "parent", e->value, msg);
        if (e->step == PK_SPAWN_STEP_RLIMIT)
                return snprintf(buf, size, "spawn failed: %s %d: %s", what, e->value, msg);
        if (e->step == PK_SPAWN_STEP_SETUID || e->step == PK_SPAWN_STEP_SETGID)
                return snprintf(buf, size, "spawn failed: %s %d: %s", what, e->value, msg);
        if (e->path[0] && e->fd >= 0)
                return snprintf(buf, size, "spawn failed: %s fd %d \"%s\": %s", what, e->fd,
                                e->path, msg);
        if (e->path[0])
                return snprintf(buf, size, "spawn failed: %s \"%s\": %s", what, e->path, msg);
        if (e->fd >= 0)
                return snprintf(buf, size, "spawn failed: %s fd %d: %s", what, e->fd, msg);
        return snprintf(buf, size, "spawn failed: %s: %s", what, msg);
}

/* ---- preparation ---- */

/* The PATH the child will see: the command's own if it sets one, else ours. */
static const char *cmd_path_var(const struct pk_cmd *c)
{
        for (size_t i = c->nenv; i-- > 0;) {
                if (strcmp(c->env[i].key, "PATH") == 0)
                        return c->env[i].val; /* NULL if unset */
        }
        return getenv("PATH");
}

/* Searches PATH as execvp does: the first regular executable file wins;
 * -EACCES if only non-executable candidates were found, else -ENOENT. */
static int lookup(const struct pk_cmd *c, char **ret_path)
{
        const char *name = c->prog;
        size_t nlen = strlen(name);
        if (nlen > NAME_MAX)
                return -ENAMETOOLONG;
        const char *path = c->search_path ? c->search_path : cmd_path_var(c);
        if (!path)
                path = "/usr/local/bin:/usr/bin:/bin";
        int err = -ENOENT;
        char buf[PATH_MAX];
        for (const char *p = path;; p++) {
                const char *end = strchrnul(p, ':');
                size_t dlen = (size_t)(end - p);
                if (dlen + nlen + 2 <= sizeof(buf)) {
                        if (dlen == 0) {
                                buf[0] = '.';
                                dlen = 1;
                        } else {
                                memcpy(buf, p, dlen);
                        }
                        buf[dlen] = '/';
                        memcpy(buf + dlen + 1, name, nlen + 1);
                        /* With a root directory the child searches inside it:
                         * look there (symlinks leading out of it are followed
                         * on this side, a limit of looking from outside). */
                        char in_root[2 * PATH_MAX];
                        const char *probe = buf;
                        if (c->root) {
                                snprintf(in_root, sizeof(in_root), "%s%s%s", c->root,
                                         buf[0] == '/' ? "" : "/", buf);
                                probe = in_root;
                        }
                        struct stat st;
                        if (stat(probe, &st) == 0 && S_ISREG(st.st_mode)) {
                                if (faccessat(AT_FDCWD, probe, X_OK, AT_EACCESS) == 0) {
                                        char *s = strdup(buf);
                                        if (!s)
                                                return -ENOMEM;
                                        *ret_path = s;
                                        return 0;
                                }
                                err = -EACCES;
                        }
                }
                if (!*end)
                        break;
                p = end;
        }
        return err;
}

static void env_free(char **env, char **owned)
{
        if (!owned)
                return;
        for (size_t i = 0; owned[i]; i++)
                free(owned[i]);
        free(owned);
        free(env);
}

/* Builds the child's environment.  *ret_env is environ itself when the
 * command changes nothing (no allocation); else a malloc'd array whose
 * "K=V" strings are malloc'd too (freed by env_free). */
static int build_env(const struct pk_cmd *c, char ***ret_env, char ***ret_owned,
                     char **ret_pid_slot)
{
        *ret_owned = NULL;
        *ret_pid_slot = NULL;
        if (!c->env_clear && c->nenv == 0 && !c->pid_key) {
                *ret_env = environ;
                return 0;
        }
        size_t nbase = 0;
        if (!c->env_clear && environ)
                while (environ[nbase])
                        nbase++;
        char **env = calloc(nbase + c->nenv + 2, sizeof(char *));
        char **owned = calloc(c->nenv + 2, sizeof(char *));
        if (!env || !owned) {
                free(env);
                free(owned);
                return -ENOMEM;
        }
        size_t n = 0, no = 0;
        for (size_t i = 0; i < nbase; i++) {
                const char *eq = strchr(environ[i], '=');
                size_t klen = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
                bool touched = c->pid_key && strlen(c->pid_key) == klen &&
                               memcmp(c->pid_key, environ[i], klen) == 0;
                for (size_t j = 0; j < c->nenv && !touched; j++)
                        touched = strlen(c->env[j].key) == klen &&
                                  memcmp(c->env[j].key, environ[i], klen) == 0;
                if (!touched)
                        env[n++] = environ[i];
        }
        for (size_t j = 0; j < c->nenv; j++) {
                bool later = false;
                for (size_t k = j + 1; k < c->nenv && !later; k++)
                        later = strcmp(c->env[k].key, c->env[j].key) == 0;
                if (later || !c->env[j].val ||
                    (c->pid_key && strcmp(c->pid_key, c->env[j].key) == 0))
                        continue;
                size_t kl = strlen(c->env[j].key), vl = strlen(c->env[j].val);
                char *s = malloc(kl + vl + 2);
                if (!s) {
                        env_free(env, owned); /* owned is NULL-terminated: calloc */
                        return -ENOMEM;
                }
                memcpy(s, c->env[j].key, kl);
                s[kl] = '=';
                memcpy(s + kl + 1, c->env[j].val, vl + 1);
                owned[no++] = s;
                env[n++] = s;
        }
        if (c->pid_key) {
                /* "KEY=" and a zeroed slot the child fills with its pid. */
                size_t kl = strlen(c->pid_key);
                char *s = calloc(1, kl + 1 + PK__PID_SLOT);
                if (!s) {
                        env_free(env, owned); /* owned is NULL-terminated: calloc */
                        return -ENOMEM;
                }
                memcpy(s, c->pid_key, kl);
                s[kl] = '=';
                owned[no++] = s;
                env[n++] = s;
                *ret_pid_slot = s + kl + 1;
        }
        *ret_env = env;
        *ret_owned = owned;
        return 0;
}

int pk__cap_last(void)
{
        char buf[16];
        int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
        if (fd >= 0)
                close(fd);
        if (n <= 0)
                return 40; /* CAP_CHECKPOINT_RESTORE, Linux 5.9; the child ignores EINVAL */
        buf[n] = '\0';
        int v = atoi(buf);
        return v > 0 && v < 64 ? v : 63;
}

/* Per-spawn scratch: what pk__spawn() creates and must release. */
struct prep {
        struct pk__move *moves;
        int *scratch;
        struct pk__procfd *pfds; /* parent ends, to the handle */
        size_t npfds;
        int *tmp; /* child-side ends and opened files: closed after the clone */
        size_t ntmp;
        int null_fd;
        int pty_master, pty_slave;
        bool check_inherit;
        int inherit_floor; /* one above the highest optional inherit's parent fd */
};

/* A descriptor made for the spawn must not take the number of an optional
 * inherit that is closed in the parent: the child would take it for that one
 * (a closed stdin turning into a pipe end).  One made below inherit_floor (the
 * lowest free numbers are below it only when the parent closed its stdio)
 * moves up; fd itself if it cannot. */
static int clear_of_inherits(const struct prep *pp, int fd)
{
        if (fd < 0 || fd >= pp->inherit_floor)
                return fd;
        int up = pk_fd_dup(fd, pp->inherit_floor);
        if (up < 0)
                return fd;
        pk_fd_close(fd);
        return up;
}

/* The child copies every parent descriptor below its highest source
 * (child.c, step 0): a source at or above PK_FD_RAISE_FROM is replaced by a
 * duplicate on the lowest free number when that one is lower (closed after
 * the clone), so a host whose table is large spawns as cheaply as a small one.
 * Never on or below an optional inherit's number: that one may be closed
 * (the child finds out), and a duplicate there would pass for it. */
static void lower_sources(struct prep *pp, int nmoves)
{
        for (int i = 0; i < nmoves; i++) {
                int s = pp->moves[i].src;
                if (s < PK_FD_RAISE_FROM || pp->moves[i].optional)
                        continue;
                int d = pk_fd_dup(s, pp->inherit_floor);
                if (d < 0)
                        continue; /* not open: the child's dup3 reports it */
                if (d > s) {
                        pk_fd_close(d);
                        continue;
                }
                pp->tmp[pp->ntmp++] = d;
                pp->moves[i].src = d;
        }
}

/* The descriptors the handle keeps live as long as the child: out of the
 * low numbers that later spawns copy (pk_fd_raise). */
static void raise_kept(struct prep *pp, int *pidfd)
{
        if (*pidfd >= 0)
                *pidfd = pk_fd_raise(*pidfd);
        for (size_t i = 0; i < pp->npfds; i++)
                if (pp->pfds[i].fd >= 0)
                        pp->pfds[i].fd = pk_fd_raise(pp->pfds[i].fd);
        if (pp->pty_master >= 0)
                pp->pty_master = pk_fd_raise(pp->pty_master);
}

static void prep_release(struct prep *pp, bool keep_parent_ends)
{
        for (size_t i = 0; i < pp->ntmp; i++)
                pp->tmp[i] = pk_fd_close(pp->tmp[i]);
        if (!keep_parent_ends) {
                for (size_t i = 0; i < pp->npfds; i++)
                        pp->pfds[i].fd = pk_fd_close(pp->pfds[i].fd);
                pp->pty_master = pk_fd_close(pp->pty_master);
        }
        free(pp->moves);
        free(pp->scratch);
        free(pp->pfds);
        free(pp->tmp);
}

/* Creates the descriptors of one fd entry.  Returns 0 with *ret_src the
 * parent fd to place (-1: the entry adds nothing: closed, or inherited but
 * closed in the parent), or a negative errno with reterr filled. */
static int prep_entry(struct prep *pp, const struct pk__fdspec *s, int *ctty_target, int *ret_src,
                      int *ret_optional, struct pk_spawn_error *reterr)
{
        int t = s->child_fd, src = -1;
        *ret_src = -1;
        *ret_optional = 0;
        switch (s->kind) {
        case PK__FD_CLOSED:
        case PK__FD_SAME: /* resolved once every other entry is placed */
                return 0;
        case PK__FD_INHERIT:
                /* The child finds out itself whether it is open (one call
                 * fewer), except through the helper: SCM_RIGHTS needs open fds. */
                if (pp->check_inherit && fcntl(s->parent_fd, F_GETFD) < 0)
                        return 0;
                src = s->parent_fd;
                *ret_optional = 1;
                break;
        case PK__FD_PARENT:
                src = s->parent_fd;
                break;
        case PK__FD_PIPE: {
                int p[2];
                int e = pk_fd_pipe(p, 0);
                if (e < 0) {
                        pk__spawn_error_set(reterr, PK_SPAWN_STEP_PIPE, e, t, 0, NULL);
                        return e;
                }
                p[0] = clear_of_inherits(pp, p[0]);
                p[1] = clear_of_inherits(pp, p[1]);
                bool reads = s->flags & PK_PIPE_CHILD_READS;
                src = reads ? p[0] : p[1];
                int mine = reads ? p[1] : p[0];
                pp->tmp[pp->ntmp++] = src;
                pp->pfds[pp->npfds++] = (struct pk__procfd){.child_fd = t, .fd = mine};
                if (s->flags & PK_PIPE_NONBLOCK) {
                        e = pk_fd_set_nonblock(mine, 1);
                        if (e < 0) {
                                pk__spawn_error_set(reterr, PK_SPAWN_STEP_PIPE, e, t, 0, NULL);
                                return e;
                        }
                }
                break;
        }
        case PK__FD_SOCKETPAIR: {
                int sv[2];
                int e = pk_fd_socketpair(sv, s->flags & ~SOCK_NONBLOCK, 0);
                if (e < 0) {
                        pk__spawn_error_set(reterr, PK_SPAWN_STEP_PIPE, e, t, 0, NULL);
                        return e;
                }
                sv[0] = clear_of_inherits(pp, sv[0]);
                sv[1] = clear_of_inherits(pp, sv[1]);
                src = sv[1];
                pp->tmp[pp->ntmp++] = sv[1];
                pp->pfds[pp->npfds++] = (struct pk__procfd){.child_fd = t, .fd = sv[0]};
                if (s->flags & SOCK_NONBLOCK) {
                        e = pk_fd_set_nonblock(sv[0], 1);
                        if (e < 0) {
                                pk__spawn_error_set(reterr, PK_SPAWN_STEP_PIPE, e, t, 0, NULL);
                                return e;
                        }
                }
                break;
        }
        case PK__FD_PTY:
                if (pp->pty_master < 0) {
                        int pty[2];
                        int e = pk_fd_pty_open(pty, 0, NULL, 0);
                        if (e < 0) {
                                pk__spawn_error_set(reterr, PK_SPAWN_STEP_PIPE, e, t, 0,
                                                    "/dev/ptmx");
                                return e;
                        }
                        pp->pty_master = clear_of_inherits(pp, pty[0]);
                        pp->pty_slave = clear_of_inherits(pp, pty[1]);
                        pp->tmp[pp->ntmp++] = pp->pty_slave;
                        *ctty_target = t;
                }
                src = pp->pty_slave;
                break;
        case PK__FD_NULL:
                if (pp->null_fd < 0) {
                        pp->null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
                        if (pp->null_fd < 0) {
                                int e = -errno;
                                pk__spawn_error_set(reterr, PK_SPAWN_STEP_OPEN, e, t, 0,
                                                    "/dev/null");
                                return e;
                        }
                        pp->null_fd = clear_of_inherits(pp, pp->null_fd);
                        pp->tmp[pp->ntmp++] = pp->null_fd;
                }
                src = pp->null_fd;
                break;
        case PK__FD_FILE:
                src = open(s->path, s->flags | O_CLOEXEC, s->mode);
                if (src < 0) {
                        int e = -errno;
                        pk__spawn_error_set(reterr, PK_SPAWN_STEP_OPEN, e, t, 0, s->path);
                        return e;
                }
                src = clear_of_inherits(pp, src);
                pp->tmp[pp->ntmp++] = src;
                break;
        case PK__FD_DATA:
                src = pk_fd_memfd_data("pk-data", s->path, s->len);
                if (src < 0) {
                        pk__spawn_error_set(reterr, PK_SPAWN_STEP_OPEN, src, t, 0, "memfd");
                        return src;
                }
                src = clear_of_inherits(pp, src);
                pp->tmp[pp->ntmp++] = src;
                break;
        default:
                return -EINVAL;
        }
        *ret_src = src;
        return 0;
}

/* Inserts (target, src) into the sorted move list of length *n. */
static void insert_move(struct pk__move *m, int *n, int target, int src, int optional)
{
        int i = *n;
        while (i > 0 && m[i - 1].target > target) {
                m[i] = m[i - 1];
                i--;
        }
        m[i] = (struct pk__move){.target = target, .src = src, .optional = optional};
        (*n)++;
}

/* The move placing target, or NULL. */
static const struct pk__move *find_move(const struct pk__move *m, int n, int target)
{
        for (int i = 0; i < n; i++)
                if (m[i].target == target)
                        return &m[i];
        return NULL;
}

int pk__spawn(const struct pk_cmd *c, const struct pk__override *ov, struct pk_proc **ret_proc,
              struct pk_spawn_error *reterr)
{
        return pk__spawn_with(c, ov, NULL, NULL, ret_proc, reterr);
}

int pk__spawn_with(const struct pk_cmd *c, const struct pk__override *ov, pk__runner_fn *runner,
                   void *ctx, struct pk_proc **ret_proc, struct pk_spawn_error *reterr)
{
        if (!c || !ret_proc) {
                pk__spawn_error_set(reterr, PK_SPAWN_STEP_ARGS, -EINVAL, -1, 0, NULL);
                return -EINVAL;
        }
        int r;
        char *found = NULL;
        const char *path = c->prog;
        if (!strchr(c->prog, '/')) {
                r = lookup(c, &found);
                if (r < 0) {
                        pk__spawn_error_set(reterr, PK_SPAWN_STEP_LOOKUP, r, -1, 0, c->prog);
                        return r;
                }
                path = found;
        }
        char **env, **env_owned, *pid_slot;
        r = build_env(c, &env, &env_owned, &pid_slot);
        if (r < 0) {
                free(found);
                pk__spawn_error_set(reterr, PK_SPAWN_STEP_ARGS, r, -1, 0, NULL);
                return r;
        }

        size_t cap = c->nfds + 3;
        struct prep pp = {
            .null_fd = -1, .pty_master = -1, .pty_slave = -1, .check_inherit = runner != NULL};
        pp.moves = malloc(cap * sizeof(*pp.moves));
        pp.scratch = malloc(cap * sizeof(int));
        pp.pfds = malloc(cap * sizeof(*pp.pfds));
        pp.tmp = malloc((2 * cap + 2) * sizeof(int)); /* + a lowered copy per source */
        for (size_t i = 0; i < c->nfds; i++)
                if (c->fds[i].kind == PK__FD_INHERIT && c->fds[i].parent_fd >= pp.inherit_floor &&
                    !(ov && c->fds[i].child_fd < 3 && ov->fd[c->fds[i].child_fd] != -1))
                        pp.inherit_floor = c->fds[i].parent_fd + 1;
        struct pk_proc *proc = NULL;
        int nmoves = 0, ctty = -1;
        if (!pp.moves || !pp.scratch || !pp.pfds || !pp.tmp) {
                r = -ENOMEM;
                pk__spawn_error_set(reterr, PK_SPAWN_STEP_ARGS, r, -1, 0, NULL);
                goto fail;
        }

        /* Overrides from pk_run(): fds 0..2. */
        for (int k = 0; ov && k < 3; k++) {
                if (ov->fd[k] == -1)
                        continue;
                struct pk__fdspec s = {.child_fd = k,
                                       .kind = ov->fd[k] >= 0 ? PK__FD_PARENT : PK__FD_NULL,
                                       .parent_fd = ov->fd[k]};
                int src, opt;
                r = prep_entry(&pp, &s, &ctty, &src, &opt, reterr);
                if (r < 0)
                        goto fail;
                insert_move(pp.moves, &nmoves, k, src, opt);
        }
        for (size_t i = 0; i < c->nfds; i++) {
                const struct pk__fdspec *s = &c->fds[i];
                if (ov && s->child_fd < 3 && ov->fd[s->child_fd] != -1)
                        continue;
                int src, opt;
                r = prep_entry(&pp, s, &ctty, &src, &opt, reterr);
                if (r < 0)
                        goto fail;
                if (src >= 0)
                        insert_move(pp.moves, &nmoves, s->child_fd, src, opt);
        }
        for (size_t i = 0; i < c->nfds; i++) {
                const struct pk__fdspec *s = &c->fds[i];
                if (s->kind != PK__FD_SAME || (ov && s->child_fd < 3 && ov->fd[s->child_fd] != -1))
                        continue;
                const struct pk__move *m = find_move(pp.moves, nmoves, s->parent_fd);
                if (!m) {
                        r = -EBADF;
                        pk__spawn_error_set(reterr, PK_SPAWN_STEP_DUP, r, s->child_fd, s->parent_fd,
                                            "child");
                        goto fail;
                }
                insert_move(pp.moves, &nmoves, s->child_fd, m->src, m->optional);
        }

        lower_sources(&pp, nmoves);

        bool own_group = c->a.setsid || (c->a.setpgid && c->a.pgid == 0);
        struct pk__child_err cerr = {0};
        struct pk__plan plan = {
            .path = path,
            .argv = c->argv,
            .envp = env,
            .cwd = c->cwd,
            .root = c->root,
            .a = c->a,
            .parent_pid = c->a.pdeathsig ? getpid() : 0,
            .set_groups = c->has_groups || (c->has_uid && geteuid() == 0),
            .set_gid = c->has_gid,
            .set_uid = c->has_uid,
            .groups = c->groups,
            .ngroups = c->has_groups ? c->ngroups : 0,
            .moves = pp.moves,
            .nmoves = nmoves,
            .scratch = pp.scratch,
            .ctty_fd = -1,
            .err = &cerr,
            .pid_slot = pid_slot,
        };
        if (plan.a.svc.caps.has_bounding)
                plan.a.svc.caps.cap_last = pk__cap_last();
        if (ov && ov->own_pgrp && !c->a.setsid) {
                plan.a.setpgid = true;
                plan.a.pgid = ov->pgid;
                own_group = ov->pgid == 0;
        }
        if (ctty >= 0 && plan.a.setsid)
                plan.ctty_fd = ctty;

        pid_t pid = -1;
        int pidfd = -1;
        r = runner ? runner(ctx, &plan, &pid, &pidfd) : pk__spawn_plan(&plan, &pid, &pidfd);
        if (r == PK__SPAWN_DEFERRED) {
                /* The helper process runs it: hand out a handle without a pid
                 * yet, holding the parent's ends; the helper code completes it. */
                pid = -1;
                pidfd = -1;
                r = 0;
        }
        if (r < 0) {
                const char *what = NULL;
                if (cerr.step == PK_SPAWN_STEP_EXEC)
                        what = path;
                else if (cerr.step == PK_SPAWN_STEP_CHDIR)
                        what = c->cwd;
                else if (cerr.step == PK_SPAWN_STEP_CHROOT)
                        what = c->root;
                if (cerr.step == PK_SPAWN_STEP_NONE)
                        cerr = (struct pk__child_err){.step = PK_SPAWN_STEP_HELPER, .fd = -1};
                pk__spawn_error_set(reterr, cerr.step, r, cerr.fd, cerr.value, what);
                goto fail;
        }
        raise_kept(&pp, &pidfd);
        proc = pk__proc_new(pid, pidfd, own_group, pp.pty_master, pp.pfds, pp.npfds);
        if (!proc && pid < 0) {
                r = -ENOMEM;
                pk__spawn_error_set(reterr, PK_SPAWN_STEP_ARGS, r, -1, 0, NULL);
                goto fail;
        }
        if (!proc) {
                /* Out of memory after the child started: it cannot be handed out. */
                (void)pk_fd_pidfd_send_signal(pidfd, SIGKILL);
                siginfo_t si;
                while (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED) < 0 && errno == EINTR)
                        ;
                pk_fd_close(pidfd);
                r = -ENOMEM;
                pk__spawn_error_set(reterr, PK_SPAWN_STEP_ARGS, r, -1, 0, NULL);
                goto fail;
        }
        prep_release(&pp, true);
        env_free(env, env_owned);
        free(found);
        *ret_proc = proc;
        return 0;
fail:
        prep_release(&pp, false);
        env_free(env, env_owned);
        free(found);
        return r;
}

int pk_spawn(const struct pk_cmd *cmd, struct pk_proc **ret_proc, struct pk_spawn_error *reterr)
{
        return pk__spawn(cmd, NULL, ret_proc, reterr);
}

/* ---- the handle ---- */

struct pk_proc *pk__proc_new(pid_t pid, int pidfd, bool own_group, int pty,
                             const struct pk__procfd *fds, size_t nfds)
{
        struct pk_proc *p = malloc(sizeof(*p) + nfds * sizeof(p->fds[0]));
        if (!p)
                return NULL;
        p->pid = pid;
        p->pidfd = pidfd;
        p->reaped = false;
        p->own_group = own_group;
        p->status = (struct pk_exit){.code = -1};
        p->pty = pty;
        p->nfds = nfds;
        if (nfds)
                memcpy(p->fds, fds, nfds * sizeof(p->fds[0]));
        return p;
}

pid_t pk_proc_pid(const struct pk_proc *p)
{
        return p ? p->pid : -1;
}

int pk_proc_pidfd(const struct pk_proc *p)
{
        return p ? p->pidfd : -1;
}

int pk_proc_fd(const struct pk_proc *p, int child_fd)
{
        if (!p)
                return -1;
        for (size_t i = 0; i < p->nfds; i++)
                if (p->fds[i].child_fd == child_fd)
                        return p->fds[i].fd;
        return -1;
}

int pk_proc_take_fd(struct pk_proc *p, int child_fd)
{
        if (!p)
                return -1;
        for (size_t i = 0; i < p->nfds; i++) {
                if (p->fds[i].child_fd == child_fd) {
                        int fd = p->fds[i].fd;
                        p->fds[i].fd = -1;
                        return fd;
                }
        }
        return -1;
}

int pk_proc_pty(const struct pk_proc *p)
{
        return p ? p->pty : -1;
}

static int64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int pk_proc_wait(struct pk_proc *p, int64_t timeout_ms, struct pk_exit *ret_exit)
{
        if (!p)
                return -EINVAL;
        if (!p->reaped) {
                int64_t deadline = timeout_ms > 0 ? now_ms() + timeout_ms : 0;
                for (;;) {
                        siginfo_t si;
                        si.si_pid = 0;
                        int opts = WEXITED | (timeout_ms < 0 ? 0 : WNOHANG);
                        if (waitid((idtype_t)P_PIDFD, (id_t)p->pidfd, &si, opts) < 0) {
                                if (errno == EINTR)
                                        continue;
                                return -errno;
                        }
                        if (si.si_pid != 0) {
                                p->status = pk_exit_from_siginfo(&si);
                                p->reaped = true;
                                break;
                        }
                        if (timeout_ms == 0)
                                return -ETIMEDOUT;
                        int64_t left = deadline - now_ms();
                        if (left <= 0)
                                return -ETIMEDOUT;
                        struct pollfd pfd = {.fd = p->pidfd, .events = POLLIN};
                        if (poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left) < 0 &&
                            errno != EINTR)
                                return -errno;
                }
        }
        if (ret_exit)
                *ret_exit = p->status;
        return 0;
}

int pk_proc_signal(struct pk_proc *p, int sig)
{
        if (!p || sig < 0 || sig > 64)
                return -EINVAL;
        if (p->reaped)
                return -ESRCH;
        return pk_fd_pidfd_send_signal(p->pidfd, sig);
}

int pk_proc_kill_group(struct pk_proc *p, int sig)
{
        if (!p || sig < 0 || sig > 64 || !p->own_group)
                return -EINVAL;
        if (p->pidfd >= 0) {
                /* Named by the pidfd: safe even once the leader is reaped. */
                int r = pk_fd_pidfd_send_signal_group(p->pidfd, sig);
                if (r != -EINVAL)
                        return r;
        }
        /* Linux < 6.9: by number.  Until the leader is reaped its zombie keeps
         * the number; afterwards any process left in the group does. */
        if (kill(-p->pid, sig) < 0)
                return -errno;
        return 0;
}

int pk_proc_watch(struct pk_proc *p, struct pk_loop_child *w, pk_loop_child_cb cb)
{
        if (!p || !w || !cb || p->reaped || p->pidfd < 0)
                return -EINVAL;
        return pk_loop_child_start_pidfd(w, p->pidfd, cb);
}

void pk_proc_set_reaped(struct pk_proc *p, const struct pk_exit *ex)
{
        if (!p || !ex)
                return;
        p->status = *ex;
        p->reaped = true;
}

struct pk_proc *pk_proc_free(struct pk_proc *p)
{
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->nfds; i++)
                p->fds[i].fd = pk_fd_close(p->fds[i].fd);
        p->pty = pk_fd_close(p->pty);
        p->pidfd = pk_fd_close(p->pidfd);
        free(p);
        return NULL;
}
