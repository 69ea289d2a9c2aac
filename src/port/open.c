/* SPDX-License-Identifier: MIT */
/* Opening a port on a program: pipes laid out as Erlang's spawn driver does
 * (0/1 or 3/4, stderr inherited, merged or captured), environment merged over
 * the host's, the child in its own session with default signal dispositions,
 * and exec/chdir failures reported by the open call itself. */
#include "port-host.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

extern char **environ;

/* Child-side descriptors are moved to at least this number before being
 * dup2()ed into place, so no source is clobbered by an earlier target. */
#define PK__HIGH_FD 10

static void close_pair(int fds[2])
{
        for (int i = 0; i < 2; i++)
                if (fds[i] >= 0) {
                        close(fds[i]);
                        fds[i] = -1;
                }
}

/* An environment: the host's, with opts->env applied ("K=V" sets, "K" unsets). */
static char **build_env(const char *const *changes)
{
        size_t n = 0, k = 0;
        while (environ && environ[n])
                n++;
        while (changes && changes[k])
                k++;
        char **env = calloc(n + k + 1, sizeof(*env));
        if (!env)
                return NULL;
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
                const char *e = environ[i];
                size_t nl = strcspn(e, "=");
                bool drop = false;
                for (size_t j = 0; j < k && !drop; j++) {
                        size_t cl = strcspn(changes[j], "=");
                        drop = cl == nl && strncmp(changes[j], e, nl) == 0;
                }
                if (!drop)
                        env[m++] = (char *)(uintptr_t)e;
        }
        for (size_t j = 0; j < k; j++) {
                const char *eq = strchr(changes[j], '=');
                /* Erlang unsets on an empty value too ({env,[{"K",""}]}). */
                if (eq && eq[1] != '\0') {
                        /* A later change of the same name wins. */
                        size_t cl = (size_t)(eq - changes[j]);
                        bool later = false;
                        for (size_t l = j + 1; l < k && !later; l++)
                                later = strcspn(changes[l], "=") == cl &&
                                        strncmp(changes[l], changes[j], cl) == 0;
                        if (!later)
                                env[m++] = (char *)(uintptr_t)changes[j];
                }
        }
        env[m] = NULL;
        return env;
}

static int check_env(const char *const *changes)
{
        for (size_t j = 0; changes && changes[j]; j++)
                if (changes[j][0] == '=' || changes[j][0] == '\0')
                        return -EINVAL;
        return 0;
}

/* A child-side copy of fd at PK__HIGH_FD or above, CLOEXEC. */
static int high_dup(int fd)
{
        int r = fcntl(fd, F_DUPFD_CLOEXEC, PK__HIGH_FD);
        return r < 0 ? -errno : r;
}

struct child_fds {
        int fd[5]; /* what the child gets as 0..4; -1: inherit (0..2) or none (3, 4) */
};

/* fork() path, used only for PK_PORT_PDEATHSIG, which posix_spawn cannot do. */
static int spawn_fork(const char *path, char *const *argv, char **envp, const char *cd,
                      const struct child_fds *cf, int pdeathsig, bool search, pid_t *ret_pid)
{
        int errp[2];
        if (pipe2(errp, O_CLOEXEC) < 0)
                return -errno;
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0) {
                int e = errno;
                close_pair(errp);
                return -e;
        }
        if (pid == 0) {
                /* Child: async-signal-safe calls only. */
                int err = 0;
                if (prctl(PR_SET_PDEATHSIG, pdeathsig) < 0)
                        err = errno;
                else if (getppid() != parent)
                        err = ESRCH; /* the host died before the signal was armed */
                if (!err && setsid() < 0)
                        err = errno;
                for (int i = 0; i < 5 && !err; i++)
                        if (cf->fd[i] >= 0 && dup2(cf->fd[i], i) < 0)
                                err = errno;
                if (!err)
                        syscall(SYS_close_range, (cf->fd[3] >= 0 || cf->fd[4] >= 0) ? 5u : 3u, ~0u,
                                0u);
                if (!err && cd && chdir(cd) < 0)
                        err = errno;
                if (!err) {
                        struct sigaction sa = {.sa_handler = SIG_DFL};
                        for (int s = 1; s < NSIG; s++)
                                sigaction(s, &sa, NULL);
                        sigset_t none;
                        sigemptyset(&none);
                        sigprocmask(SIG_SETMASK, &none, NULL);
                        if (search)
                                execvpe(path, argv, envp);
                        else
                                execve(path, argv, envp);
                        err = errno;
                }
                ssize_t w = write(errp[1], &err, sizeof(err));
                (void)w;
                _exit(127);
        }
        close(errp[1]);
        int err = 0;
        ssize_t n;
        do
                n = read(errp[0], &err, sizeof(err));
        while (n < 0 && errno == EINTR);
        close(errp[0]);
        if (n == (ssize_t)sizeof(err)) {
                int st;
                while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                        ;
                return -err;
        }
        *ret_pid = pid;
        return 0;
}

static int spawn_posix(const char *path, char *const *argv, char **envp, const char *cd,
                       const struct child_fds *cf, bool search, pid_t *ret_pid)
{
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t at;
        int r = posix_spawn_file_actions_init(&fa);
        if (r)
                return -r;
        r = posix_spawnattr_init(&at);
        if (r) {
                posix_spawn_file_actions_destroy(&fa);
                return -r;
        }
        for (int i = 0; i < 5 && !r; i++)
                if (cf->fd[i] >= 0)
                        r = posix_spawn_file_actions_adddup2(&fa, cf->fd[i], i);
        /* Only the mapped descriptors reach the child, even ones the host
         * opened without O_CLOEXEC. */
        if (!r)
                r = posix_spawn_file_actions_addclosefrom_np(
                    &fa, (cf->fd[3] >= 0 || cf->fd[4] >= 0) ? 5 : 3);
        if (!r && cd)
                r = posix_spawn_file_actions_addchdir_np(&fa, cd);
        sigset_t all, none;
        sigfillset(&all);
        sigemptyset(&none);
        if (!r)
                r = posix_spawnattr_setsigdefault(&at, &all);
        if (!r)
                r = posix_spawnattr_setsigmask(&at, &none);
        if (!r)
                r = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK |
                                                      POSIX_SPAWN_SETSID);
        pid_t pid = -1;
        if (!r)
                r = search ? posix_spawnp(&pid, path, &fa, &at, argv, envp)
                           : posix_spawn(&pid, path, &fa, &at, argv, envp);
        posix_spawnattr_destroy(&at);
        posix_spawn_file_actions_destroy(&fa);
        if (r)
                return -r;
        *ret_pid = pid;
        return 0;
}

static int open_program(const char *path, char *const *argv, bool search,
                        const struct pk_port_opts *opts, struct pk_port **ret)
{
        static const struct pk_port_opts defaults;
        if (!opts)
                opts = &defaults;
        unsigned int fl = opts->flags;
        if (!ret || !path || !argv || !argv[0])
                return -EINVAL;
        if ((fl & PK_PORT_OWN_FDS) || ((fl & PK_PORT_IN) && (fl & PK_PORT_OUT)) ||
            ((fl & PK_PORT_STDERR_TO_STDOUT) &&
             (fl & (PK_PORT_NOUSE_STDIO | PK_PORT_STDERR_CAPTURE | PK_PORT_OUT))))
                return -EINVAL;
        int r = check_env(opts->env);
        if (r < 0)
                return r;
        if (opts->cd) {
                /* Erlang reports a bad cd only as exit status 2 and a line on
                 * stderr; check it here so it is an error of the open call. */
                struct stat st;
                if (stat(opts->cd, &st) < 0)
                        return -errno;
                if (!S_ISDIR(st.st_mode))
                        return -ENOTDIR;
        }
        struct pk_port *p;
        r = pk__port_new(opts, &p);
        if (r < 0)
                return r;
        int to_child[2] = {-1, -1}, from_child[2] = {-1, -1}, errpipe[2] = {-1, -1};
        struct child_fds cf = {{-1, -1, -1, -1, -1}};
        int high[3] = {-1, -1, -1};
        char **envp = NULL;
        bool nouse = fl & PK_PORT_NOUSE_STDIO;
        if (!(fl & PK_PORT_IN)) {
                if (pipe2(to_child, O_CLOEXEC) < 0)
                        goto fail_errno;
                if ((r = high_dup(to_child[0])) < 0)
                        goto fail;
                high[0] = r;
                cf.fd[nouse ? 3 : 0] = high[0];
        }
        if (!(fl & PK_PORT_OUT)) {
                if (pipe2(from_child, O_CLOEXEC) < 0)
                        goto fail_errno;
                if ((r = high_dup(from_child[1])) < 0)
                        goto fail;
                high[1] = r;
                cf.fd[nouse ? 4 : 1] = high[1];
                if (fl & PK_PORT_STDERR_TO_STDOUT)
                        cf.fd[2] = high[1];
        }
        if (fl & PK_PORT_STDERR_CAPTURE) {
                if (pipe2(errpipe, O_CLOEXEC) < 0)
                        goto fail_errno;
                if ((r = high_dup(errpipe[1])) < 0)
                        goto fail;
                high[2] = r;
                cf.fd[2] = high[2];
        }
        envp = build_env(opts->env);
        if (!envp) {
                r = -ENOMEM;
                goto fail;
        }
        pid_t pid = -1;
        if (fl & PK_PORT_PDEATHSIG)
                r = spawn_fork(path, argv, envp, opts->cd, &cf,
                               opts->pdeathsig ? opts->pdeathsig : SIGKILL, search, &pid);
        else
                r = spawn_posix(path, argv, envp, opts->cd, &cf, search, &pid);
        if (r < 0)
                goto fail;
        free(envp);
        envp = NULL;
        for (int i = 0; i < 3; i++)
                if (high[i] >= 0)
                        close(high[i]);
        p->pid = pid;
        long pfd = syscall(SYS_pidfd_open, pid, 0);
        p->pidfd = pfd < 0 ? -1 : (int)pfd;
        if (to_child[0] >= 0)
                close(to_child[0]);
        if (from_child[1] >= 0)
                close(from_child[1]);
        if (errpipe[1] >= 0)
                close(errpipe[1]);
        p->out_fd = to_child[1];
        p->in_fd = from_child[0];
        p->err_fd = errpipe[0];
        p->out_closed = p->out_fd < 0;
        p->in_eof = p->in_fd < 0;
        p->err_eof = p->err_fd < 0;
        int fds[3] = {p->out_fd, p->in_fd, p->err_fd};
        for (int i = 0; i < 3; i++)
                if (fds[i] >= 0)
                        pk__port_set_nonblock(fds[i]);
        p->guard = !pk__port_sigpipe_ignored();
        *ret = p;
        return 0;
fail_errno:
        r = -errno;
fail:
        free(envp);
        for (int i = 0; i < 3; i++)
                if (high[i] >= 0)
                        close(high[i]);
        close_pair(to_child);
        close_pair(from_child);
        close_pair(errpipe);
        pk__port_free(p);
        return r;
}

int pk_port_open_executable(const char *file, const char *const *args,
                            const struct pk_port_opts *opts, struct pk_port **ret)
{
        if (!file)
                return -EINVAL;
        size_t n = 0;
        while (args && args[n])
                n++;
        const char **argv = calloc(n + 2, sizeof(*argv));
        if (!argv)
                return -ENOMEM;
        argv[0] = opts && opts->arg0 ? opts->arg0 : file;
        for (size_t i = 0; i < n; i++)
                argv[i + 1] = args[i];
        int r = open_program(file, (char *const *)(uintptr_t)argv, false, opts, ret);
        free(argv);
        return r;
}

int pk_port_open_argv(const char *const *argv, const struct pk_port_opts *opts,
                      struct pk_port **ret)
{
        if (!argv || !argv[0])
                return -EINVAL;
        if (!opts || !opts->arg0)
                return open_program(argv[0], (char *const *)(uintptr_t)argv, true, opts, ret);
        size_t n = 0;
        while (argv[n])
                n++;
        const char **a = calloc(n + 1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        memcpy(a, argv, n * sizeof(*a));
        a[0] = opts->arg0;
        int r = open_program(argv[0], (char *const *)(uintptr_t)a, true, opts, ret);
        free(a);
        return r;
}

int pk_port_open_shell(const char *command, const struct pk_port_opts *opts, struct pk_port **ret)
{
        if (!command || (opts && opts->arg0))
                return -EINVAL;
        size_t len = strlen(command);
        char *cmd = malloc(len + 6);
        if (!cmd)
                return -ENOMEM;
        memcpy(cmd, "exec ", 5);
        memcpy(cmd + 5, command, len + 1);
        /* As the VM: execle("/bin/sh", "sh", "-c", "exec " ++ Command). */
        const char *argv[] = {"sh", "-c", cmd, NULL};
        int r = open_program("/bin/sh", (char *const *)(uintptr_t)argv, false, opts, ret);
        free(cmd);
        return r;
}
