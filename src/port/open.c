/* SPDX-License-Identifier: MIT */
/* Opening a port on a program: pipes laid out as Erlang's spawn driver does
 * (0/1 or 3/4, stderr inherited, merged or captured), environment merged over
 * the host's, the child in its own session, started by the spawn layer
 * (default signal dispositions, only mapped descriptors, exec and chdir
 * failures reported by the open call itself). */
#include "port-host.h"
#include "portkit/spawn.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static int check_env(const char *const *changes)
{
        for (size_t j = 0; changes && changes[j]; j++)
                if (changes[j][0] == '=' || changes[j][0] == '\0')
                        return -EINVAL;
        return 0;
}

/* The child fds of the port's pipes: what it reads, what it writes. */
static int child_in_fd(unsigned int fl)
{
        return fl & PK_PORT_NOUSE_STDIO ? 3 : 0;
}

static int child_out_fd(unsigned int fl)
{
        return fl & PK_PORT_NOUSE_STDIO ? 4 : 1;
}

/* Applies the port's options to cmd: environment changes, cd, arg0, its own
 * session, PDEATHSIG and the descriptor map: a pipe for what the child reads
 * and one for what it writes (0/1, or 3/4 with nouse_stdio), stderr as the
 * command maps it (default: inherited), merged into the child's stdout (Erlang
 * dup2s 2 onto 1, whatever 1 is) or a pipe of its own; everything else
 * unmapped is closed in the child by the spawn layer. */
static int apply_opts(struct pk_cmd *cmd, const struct pk_port_opts *opts)
{
        int r;
        for (size_t j = 0; opts->env && opts->env[j]; j++) {
                const char *e = opts->env[j];
                const char *eq = strchr(e, '=');
                char *key = strndup(e, eq ? (size_t)(eq - e) : strlen(e));
                if (!key)
                        return -ENOMEM;
                /* "K" and (as Erlang) "K=" unset. */
                if (!eq || eq[1] == '\0')
                        r = pk_cmd_env_unset(cmd, key);
                else
                        r = pk_cmd_env_set(cmd, key, eq + 1);
                free(key);
                if (r < 0)
                        return r;
        }
        if (opts->cd && (r = pk_cmd_cwd(cmd, opts->cd)) < 0)
                return r;
        if (opts->arg0 && (r = pk_cmd_argv0(cmd, opts->arg0)) < 0)
                return r;
        /* As erl_child_setup: the child leads its own session, so a kill of the
         * group reaches everything it starts. */
        if ((r = pk_cmd_setsid(cmd)) < 0)
                return r;
        if ((opts->flags & PK_PORT_PDEATHSIG) &&
            (r = pk_cmd_pdeathsig(cmd, opts->pdeathsig ? opts->pdeathsig : SIGKILL)) < 0)
                return r;
        unsigned int fl = opts->flags;
        if ((!(fl & PK_PORT_IN) &&
             (r = pk_cmd_fd_pipe(cmd, child_in_fd(fl), PK_PIPE_CHILD_READS | PK_PIPE_NONBLOCK)) <
                 0) ||
            (!(fl & PK_PORT_OUT) &&
             (r = pk_cmd_fd_pipe(cmd, child_out_fd(fl), PK_PIPE_CHILD_WRITES)) < 0) ||
            ((fl & PK_PORT_STDERR_TO_STDOUT) && (r = pk_cmd_fd_same_as(cmd, 2, 1)) < 0) ||
            ((fl & PK_PORT_STDERR_CAPTURE) &&
             (r = pk_cmd_fd_pipe(cmd, 2, PK_PIPE_CHILD_WRITES | PK_PIPE_NONBLOCK)) < 0))
                return r;
        return 0;
}

static int check_opts(const struct pk_port_opts *opts)
{
        unsigned int fl = opts->flags;
        /* stderr_to_stdout needs a stdout of the child's: not with nouse_stdio
         * (Erlang's rule) and not with a stderr pipe of our own.  With `out`
         * the child's stdout is the host's, and its stderr goes there too, as
         * in Erlang (port_SUITE: [out, use_stdio, stderr_to_stdout]). */
        if ((fl & PK_PORT_OWN_FDS) || ((fl & PK_PORT_IN) && (fl & PK_PORT_OUT)) ||
            ((fl & PK_PORT_STDERR_TO_STDOUT) &&
             (fl & (PK_PORT_NOUSE_STDIO | PK_PORT_STDERR_CAPTURE))))
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
        return 0;
}

/* Opens a port on cmd, which it changes (the port's options and layout) and
 * always frees. */
static int open_owned_cmd(struct pk_cmd *cmd, const struct pk_port_opts *opts, struct pk_port **ret)
{
        struct pk_port *p = NULL;
        struct pk_proc *proc = NULL;
        int r = apply_opts(cmd, opts);
        if (r < 0)
                goto fail;
        r = pk__port_new(opts, &p);
        if (r < 0)
                goto fail;
        r = pk_spawn(cmd, &proc, NULL);
        cmd = pk_cmd_free(cmd);
        if (r < 0)
                goto fail;
        /* The port keeps the handle (wait, signals, watch) and takes its
         * pipe ends. */
        unsigned int fl = opts->flags;
        p->proc = proc;
        p->out_fd = fl & PK_PORT_IN ? -1 : pk_proc_take_fd(proc, child_in_fd(fl));
        p->in_fd = fl & PK_PORT_OUT ? -1 : pk_proc_take_fd(proc, child_out_fd(fl));
        p->err_fd = fl & PK_PORT_STDERR_CAPTURE ? pk_proc_take_fd(proc, 2) : -1;
        pk__ch_step(&p->ch_st, PK__CH_SPAWNED);
        if (p->out_fd < 0)
                pk__wr_step(&p->out_st, PK__WR_CLOSE);
        if (p->in_fd < 0)
                pk__rd_step(&p->in_st, PK__RD_END);
        if (p->err_fd < 0)
                pk__rd_step(&p->err_st, PK__RD_END);
        /* The child's output pipe stays blocking (the others are not): every
         * read of it follows a poll, except a blocking recv that has nothing
         * else to wait for, which then saves one system call per message.
         * Attaching to a loop makes it non-blocking. */
        p->in_blocking = p->in_fd >= 0;
        p->guard = !pk__port_sigpipe_ignored();
        *ret = p;
        return 0;
fail:
        pk_cmd_free(cmd);
        pk__port_free(p);
        return r;
}

int pk_port_open_cmd(const struct pk_cmd *cmd, const struct pk_port_opts *opts,
                     struct pk_port **ret)
{
        static const struct pk_port_opts defaults;
        if (!opts)
                opts = &defaults;
        if (!cmd || !ret)
                return -EINVAL;
        int r = check_opts(opts);
        if (r < 0)
                return r;
        struct pk_cmd *copy;
        r = pk_cmd_dup(cmd, &copy);
        if (r < 0)
                return r;
        return open_owned_cmd(copy, opts, ret);
}

/* Opens a port on path with argv: PATH searched (search) or not (then
 * "prog" means ./prog, as spawn_executable). */
static int open_program(const char *path, char *const *argv, bool search,
                        const struct pk_port_opts *opts, struct pk_port **ret)
{
        static const struct pk_port_opts defaults;
        if (!opts)
                opts = &defaults;
        if (!ret || !path || !argv || !argv[0])
                return -EINVAL;
        int r = check_opts(opts);
        if (r < 0)
                return r;
        struct pk_cmd *cmd = NULL;
        char *prog = NULL;
        if (!search && !strchr(path, '/')) {
                size_t n = strlen(path) + 3;
                prog = malloc(n);
                if (!prog)
                        return -ENOMEM;
                snprintf(prog, n, "./%s", path);
        }
        r = pk_cmd_new(prog ? prog : path, &cmd);
        free(prog);
        if (r < 0)
                return r;
        if ((r = pk_cmd_argv0(cmd, argv[0])) < 0 ||
            (r = pk_cmd_args(cmd, (const char *const *)(uintptr_t)(argv + 1))) < 0) {
                pk_cmd_free(cmd);
                return r;
        }
        return open_owned_cmd(cmd, opts, ret);
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
        argv[0] = file; /* opts->arg0, if any, replaces it in open_owned_cmd() */
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
        return open_program(argv[0], (char *const *)(uintptr_t)argv, true, opts, ret);
}

int pk_port_open_shell(const char *command, const struct pk_port_opts *opts, struct pk_port **ret)
{
        if (!command || (opts && opts->arg0))
                return -EINVAL;
        size_t n = strlen(command) + 6;
        char *cmd = malloc(n);
        if (!cmd)
                return -ENOMEM;
        snprintf(cmd, n, "exec %s", command);
        /* As the VM: execle("/bin/sh", "sh", "-c", "exec " ++ Command). */
        const char *argv[] = {"sh", "-c", cmd, NULL};
        int r = open_program("/bin/sh", (char *const *)(uintptr_t)argv, false, opts, ret);
        free(cmd);
        return r;
}
