/* SPDX-License-Identifier: MIT */
/* `portkit unit-exec`: the helper pk_unit_to_child() puts in front of a unit
 * whose start sup cannot express alone.  It runs ExecCondition= and
 * ExecStartPre= commands, then either execs the one ExecStart= (keeping its
 * pid, so the supervisor sees the service itself), runs a oneshot's commands
 * in order, or starts a forking daemon and stands in for it (subreaper: the
 * daemon becomes our child; signals are forwarded; we exit as it exits).
 * Protocol: docs/supervise.md "The unit-exec helper". */
#include "cli.h"

#include <portkit.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define UE_MAX_CMDS 64

struct ue_cmd {
        int kind; /* 'c' condition, 'p' pre, 's' start */
        unsigned flags;
        char *path;
        char **argv;
        size_t argc;
};

static const char ue_usage[] =
    "usage: portkit unit-exec [--forking PIDFILE] [--oneshot] [--remain] [--ready-fd=N]\n"
    "                         [--search-path=DIRS]\n"
    "                         (--condition|--pre|--start FLAGS ARGC PATH ARGV...)...\n"
    "Internal helper of `portkit supervise` (see docs/supervise.md).\n";

/* The socket-activation descriptors we were given (sd_listen_fds(3)): fds
 * 3 .. 3 + n - 1 when LISTEN_PID is our pid, else 0. */
static int listen_fds_given(void)
{
        const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
        long long p, n;
        if (!pid || !fds || pk_cli_parse_int(pid, 1, 0x7fffffff, &p) < 0 || p != getpid() ||
            pk_cli_parse_int(fds, 1, 1000, &n) < 0)
                return 0;
        return (int)n;
}

/* ExecSearchPath= (--search-path=DIRS): where bare command names are looked up. */
static const char *ue_search;

/* StandardInputData=/Text= come as a sealed memfd on fd 0, which every
 * command shares: each reads it from the start, as each gets a fresh one from
 * systemd.  Only a memfd answers F_GET_SEALS; other stdins are left alone. */
static void rewind_stdin_data(void)
{
        if (fcntl(0, F_GET_SEALS) >= 0)
                (void)lseek(0, 0, SEEK_SET);
}

/* Runs one command to its end; returns its shell status (0..255, 128+sig).
 * nfds > 0: an ExecStart= of a oneshot or forking unit, which gets the
 * listen fds at 3.. with LISTEN_PID set to its own pid, as systemd passes
 * them to the main commands; ExecCondition=/ExecStartPre= get none. */
static int run_one(const struct ue_cmd *c, int nfds)
{
        struct pk_cmd *cmd = NULL;
        int r = pk_cmd_new(c->path, &cmd);
        if (r == 0 && (c->flags & PK_UNIT_EXEC_ARGV0))
                r = pk_cmd_argv0(cmd, c->argv[0]);
        if (r == 0 && c->argv[0])
                r = pk_cmd_args(cmd, (const char *const *)c->argv + 1);
        if (r == 0 && ue_search && !strchr(c->path, '/'))
                r = pk_cmd_search_path(cmd, ue_search);
        for (int fd = 3; r == 0 && fd < 3 + nfds; fd++)
                r = pk_cmd_fd(cmd, fd, fd);
        if (r == 0 && nfds > 0)
                r = pk_cmd_env_pid(cmd, "LISTEN_PID");
        static const char *const listen_env[] = {"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"};
        for (size_t i = 0; r == 0 && nfds == 0 && i < 3; i++)
                r = pk_cmd_env_unset(cmd, listen_env[i]);
        /* Our parent-death signal (supervise without cgroups) goes down one
         * more step: a command we wait for dies with us. */
        int pdeath = 0;
        if (r == 0 && prctl(PR_GET_PDEATHSIG, &pdeath, 0, 0, 0) == 0 && pdeath > 0)
                r = pk_cmd_pdeathsig(cmd, pdeath);
        struct pk_proc *p = NULL;
        struct pk_spawn_error se;
        rewind_stdin_data();
        if (r == 0)
                r = pk_spawn(cmd, &p, &se);
        pk_cmd_free(cmd);
        if (r < 0) {
                fprintf(stderr, "portkit unit-exec: %s: %s\n", c->path, pk_strerror(r));
                return 127;
        }
        struct pk_exit ex;
        r = pk_proc_wait(p, -1, &ex);
        pk_proc_free(p);
        return r < 0 ? 127 : pk_exit_shell(&ex);
}

/* Execs the main command (returns only on failure): a bare name is looked
 * up in ExecSearchPath= when given.  execvpe() searches our own PATH, so
 * that is pointed there for the search only: the command gets the
 * environment we were given. */
static void exec_main(const struct ue_cmd *c)
{
        extern char **environ;
        rewind_stdin_data();
        if (!ue_search || strchr(c->path, '/')) {
                execvp(c->path, c->argv);
                return;
        }
        size_t n = 0;
        while (environ[n])
                n++;
        char **env = calloc(n + 1, sizeof(char *));
        if (!env)
                return;
        memcpy(env, environ, n * sizeof(char *)); /* the strings stay: setenv adds its own */
        if (setenv("PATH", ue_search, 1) == 0)
                execvpe(c->path, c->argv, env);
        free(env);
}

static void ready(int fd)
{
        if (fd >= 0) {
                (void)pk_fd_write_all(fd, "\n", 1, NULL);
                close(fd);
        }
}

static int read_pidfile(const char *path, pid_t *ret)
{
        char buf[32];
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return -EINVAL;
        buf[n] = '\0';
        long long v;
        char *nl = strchr(buf, '\n');
        if (nl)
                *nl = '\0';
        if (pk_cli_parse_int(buf, 1, 0x7fffffff, &v) < 0)
                return -EINVAL;
        *ret = (pid_t)v;
        return 0;
}

/* The daemon is gone: what it left behind was reparented to us (subreaper)
 * and dies with it, as with systemd's KillMode=control-group.  Bounded passes:
 * each kills every child listed, then reaps what died. */
static void kill_leftovers(void)
{
        for (int pass = 0; pass < 64; pass++) {
                char path[64];
                snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)getpid());
                FILE *f = fopen(path, "re");
                if (!f)
                        return;
                int n = 0, pid;
                while (n < 4096 && fscanf(f, "%d", &pid) == 1) {
                        (void)kill(pid, SIGKILL);
                        n++;
                }
                fclose(f);
                if (n == 0)
                        return;
                while (waitpid(-1, NULL, 0) > 0)
                        ;
        }
}

/* Waits for signals: forwards stop/reload signals to `mainpid` (0: none, then
 * a stop signal ends us with 0), and returns the daemon's status when it ends. */
static int stand_in(pid_t mainpid);

/* The mask stand_in() blocked is restored before we return, so that exit-time
 * work (a sanitizer's leak check forks and waits) sees ordinary signals. */
static int stand_in_restoring(pid_t mainpid)
{
        sigset_t old;
        sigprocmask(SIG_SETMASK, NULL, &old);
        int st = stand_in(mainpid);
        sigprocmask(SIG_SETMASK, &old, NULL);
        return st;
}

static int stand_in(pid_t mainpid)
{
        sigset_t set;
        sigemptyset(&set);
        int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCHLD, SIGCONT};
        for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
                sigaddset(&set, sigs[i]);
        sigprocmask(SIG_BLOCK, &set, NULL);
        for (;;) {
                /* Reap whatever ended (the daemon's own children come to us too). */
                for (;;) {
                        int st;
                        pid_t w = waitpid(-1, &st, WNOHANG);
                        if (w <= 0)
                                break;
                        if (mainpid > 0 && w == mainpid) {
                                struct pk_exit ex = pk_exit_from_wait_status(st);
                                kill_leftovers();
                                return pk_exit_shell(&ex);
                        }
                }
                if (mainpid > 0 && kill(mainpid, 0) < 0 && errno == ESRCH)
                        return 0; /* not our child and gone */
                siginfo_t si;
                int s = sigwaitinfo(&set, &si);
                if (s < 0)
                        continue;
                if (s == SIGCHLD)
                        continue;
                if (mainpid > 0) {
                        (void)kill(mainpid, s);
                        continue;
                }
                if (s == SIGTERM || s == SIGINT || s == SIGQUIT)
                        return 0;
        }
}

static int ue_main(int argc, char **argv)
{
        struct ue_cmd cmds[UE_MAX_CMDS];
        size_t n = 0;
        const char *pidfile = NULL;
        int oneshot = 0, remain = 0, ready_fd = -1;
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                if (strcmp(a, "--forking") == 0 && i + 1 < argc) {
                        pidfile = argv[++i];
                } else if (strcmp(a, "--oneshot") == 0) {
                        oneshot = 1;
                } else if (strcmp(a, "--remain") == 0) {
                        remain = 1;
                } else if (strncmp(a, "--search-path=", 14) == 0 && a[14]) {
                        ue_search = a + 14;
                } else if (strncmp(a, "--ready-fd=", 11) == 0) {
                        long long v;
                        if (pk_cli_parse_int(a + 11, 3, 1023, &v) < 0)
                                goto usage;
                        ready_fd = (int)v;
                } else if ((strcmp(a, "--condition") == 0 || strcmp(a, "--pre") == 0 ||
                            strcmp(a, "--start") == 0) &&
                           i + 3 < argc && n < UE_MAX_CMDS) {
                        long long fl, ac;
                        if (pk_cli_parse_int(argv[i + 1], 0, 0xffff, &fl) < 0 ||
                            pk_cli_parse_int(argv[i + 2], 1, 4096, &ac) < 0 ||
                            i + 3 + ac >= (long long)argc)
                                goto usage;
                        cmds[n].kind = a[2] == 'c' ? 'c' : a[2] == 'p' ? 'p' : 's';
                        cmds[n].flags = (unsigned)fl;
                        cmds[n].path = argv[i + 3];
                        cmds[n].argv = argv + i + 4;
                        cmds[n].argc = (size_t)ac;
                        i += 3 + (int)ac;
                        n++;
                } else {
                        goto usage;
                }
        }
        /* Each command's argv ends where the next option word starts: cut there,
         * now that every word has been read. */
        for (size_t k = 0; k < n; k++)
                cmds[k].argv[cmds[k].argc] = NULL;
        if (ready_fd >= 0 && fcntl(ready_fd, F_GETFD) < 0)
                ready_fd = -1;
        if (pidfile || oneshot) /* our ready fd is not the daemon's business */
                (void)fcntl(ready_fd, F_SETFD, FD_CLOEXEC);
        if (pidfile)
                (void)prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        int nfds = listen_fds_given();

        size_t nstart = 0;
        for (size_t k = 0; k < n; k++) {
                const struct ue_cmd *c = &cmds[k];
                int ign = (c->flags & PK_UNIT_EXEC_IGNORE_FAILURE) != 0;
                if (c->kind == 'c') {
                        int st = run_one(c, 0);
                        if (st == 0)
                                continue;
                        if (st < 255 && st < 128) {
                                fprintf(stderr,
                                        "portkit unit-exec: condition %s failed (%d): "
                                        "skipped\n",
                                        c->path, st);
                                return 0;
                        }
                        return st;
                }
                if (c->kind == 'p') {
                        int st = run_one(c, 0);
                        if (st != 0 && !ign) {
                                fprintf(stderr, "portkit unit-exec: ExecStartPre %s: status %d\n",
                                        c->path, st);
                                return st;
                        }
                        continue;
                }
                nstart++;
                if (!oneshot && !pidfile) {
                        /* The main process: become it. */
                        exec_main(c);
                        fprintf(stderr, "portkit unit-exec: exec %s: %s\n", c->path,
                                strerror(errno));
                        return 127;
                }
                int st = run_one(c, nfds);
                if (st != 0 && !ign)
                        return st;
        }
        if (pidfile) {
                pid_t mainpid = 0;
                int r = read_pidfile(pidfile, &mainpid);
                if (r < 0) {
                        fprintf(stderr, "portkit unit-exec: PIDFile %s: %s\n", pidfile,
                                pk_strerror(r));
                        return 1;
                }
                ready(ready_fd);
                return stand_in_restoring(mainpid);
        }
        ready(ready_fd);
        if (oneshot && remain)
                return stand_in_restoring(0);
        (void)nstart;
        return 0;
usage:
        fputs(ue_usage, stderr);
        return PK_CLI_EXIT_USAGE;
}

static const struct pk_cli_command cmd_unitexec = {
    .name = "unit-exec",
    .summary = "internal: the start helper of `portkit supervise`",
    .usage = ue_usage,
    .main = ue_main,
};
PK_CLI_COMMAND(cmd_unitexec)
