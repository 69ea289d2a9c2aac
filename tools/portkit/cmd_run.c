/* SPDX-License-Identifier: MIT */
/* `portkit run [options] -- PROG ARGS...`: runs a program with the spawn
 * layer's options and exits with its status (128 + signal for a signal). */
#include "cli.h"

#include <portkit.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

static const char run_usage[] =
    "usage: portkit run [OPTIONS] -- PROG [ARGS...]\n"
    "\n"
    "Runs PROG (a path, or a name searched in PATH) and exits with its status:\n"
    "the exit code, or 128 + signal number.  124 if --timeout expired, 126 if\n"
    "PROG could not be started, 127 if it was not found.\n"
    "\n"
    "options:\n"
    "  --cwd DIR             working directory\n"
    "  --env K=V             set K in the environment (repeatable)\n"
    "  --unset K             remove K from the environment (repeatable)\n"
    "  --clear-env           start from an empty environment\n"
    "  --user NAME|UID       run as this user (its gid and groups too)\n"
    "  --group NAME|GID      run with this group\n"
    "  --umask OCTAL         umask, e.g. 027\n"
    "  --nice N              nice value (-20..19)\n"
    "  --rlimit NAME=N       resource limit: NOFILE, CORE, CPU, ... N is soft[:hard]\n"
    "                        or 'unlimited' (repeatable)\n"
    "  --setsid              start a new session\n"
    "  --no-new-privs        set no_new_privs\n"
    "  --argv0 NAME          argv[0] to give PROG\n"
    "  --fd N=PATH[:FLAGS]   child fd N opens PATH; FLAGS from r w a c t x\n"
    "                        (read, write, append, create, truncate, exclusive; default r)\n"
    "  --fd N=null           child fd N is /dev/null\n"
    "  --fd N=M              child fd N is this process's fd M\n"
    "  --fd N=close          child fd N is closed\n"
    "  --timeout DURATION    kill PROG's whole process group after DURATION\n"
    "                        (a number with an optional unit ms, s (default) or m)\n";

static const struct {
        const char *name;
        int res;
} rlimit_names[] = {
    {"AS", RLIMIT_AS},           {"CORE", RLIMIT_CORE},         {"CPU", RLIMIT_CPU},
    {"DATA", RLIMIT_DATA},       {"FSIZE", RLIMIT_FSIZE},       {"LOCKS", RLIMIT_LOCKS},
    {"MEMLOCK", RLIMIT_MEMLOCK}, {"MSGQUEUE", RLIMIT_MSGQUEUE}, {"NICE", RLIMIT_NICE},
    {"NOFILE", RLIMIT_NOFILE},   {"NPROC", RLIMIT_NPROC},       {"RSS", RLIMIT_RSS},
    {"RTPRIO", RLIMIT_RTPRIO},   {"RTTIME", RLIMIT_RTTIME},     {"SIGPENDING", RLIMIT_SIGPENDING},
    {"STACK", RLIMIT_STACK},
};

static int parse_limit_value(const char *s, unsigned long long *ret)
{
        if (strcmp(s, "unlimited") == 0 || strcmp(s, "infinity") == 0) {
                *ret = PK_RLIM_INFINITY;
                return 0;
        }
        long long v;
        if (pk_cli_parse_int(s, 0, 0x7fffffffffffffffLL, &v) < 0)
                return -EINVAL;
        *ret = (unsigned long long)v;
        return 0;
}

static int opt_rlimit(struct pk_cmd *c, const char *arg)
{
        const char *eq = strchr(arg, '=');
        if (!eq)
                return -EINVAL;
        size_t nl = (size_t)(eq - arg);
        const char *name = arg;
        if (nl > 7 && strncasecmp(arg, "RLIMIT_", 7) == 0) {
                name += 7;
                nl -= 7;
        }
        int res = -1;
        for (size_t i = 0; i < sizeof(rlimit_names) / sizeof(rlimit_names[0]); i++)
                if (strlen(rlimit_names[i].name) == nl &&
                    strncasecmp(rlimit_names[i].name, name, nl) == 0)
                        res = rlimit_names[i].res;
        if (res < 0)
                return -EINVAL;
        char buf[64];
        snprintf(buf, sizeof(buf), "%s", eq + 1);
        char *colon = strchr(buf, ':');
        unsigned long long soft, hard;
        if (colon)
                *colon = '\0';
        if (parse_limit_value(buf, &soft) < 0)
                return -EINVAL;
        hard = soft;
        if (colon && parse_limit_value(colon + 1, &hard) < 0)
                return -EINVAL;
        return pk_cmd_rlimit(c, res, soft, hard);
}

static int opt_fd(struct pk_cmd *c, const char *arg)
{
        const char *eq = strchr(arg, '=');
        if (!eq || eq == arg)
                return -EINVAL;
        char num[16];
        size_t nl = (size_t)(eq - arg);
        if (nl >= sizeof(num))
                return -EINVAL;
        memcpy(num, arg, nl);
        num[nl] = '\0';
        long long n;
        if (pk_cli_parse_int(num, 0, 65535, &n) < 0)
                return -EINVAL;
        const char *v = eq + 1;
        if (!*v)
                return -EINVAL;
        if (strcmp(v, "null") == 0)
                return pk_cmd_fd_null(c, (int)n);
        if (strcmp(v, "close") == 0)
                return pk_cmd_fd_close(c, (int)n);
        long long m;
        if (pk_cli_parse_int(v, 0, 65535, &m) == 0)
                return pk_cmd_fd(c, (int)n, (int)m);
        /* PATH[:FLAGS]: the part after the last ':' is flags if it is only flag letters. */
        const char *colon = strrchr(v, ':');
        const char *fl = "r";
        size_t plen = strlen(v);
        if (colon && colon[1] && strspn(colon + 1, "rwactx") == strlen(colon + 1)) {
                fl = colon + 1;
                plen = (size_t)(colon - v);
        }
        bool r = strchr(fl, 'r') != NULL, w = strchr(fl, 'w') || strchr(fl, 'a');
        int flags = r && w ? O_RDWR : w ? O_WRONLY : O_RDONLY;
        if (strchr(fl, 'a'))
                flags |= O_APPEND;
        if (strchr(fl, 'c'))
                flags |= O_CREAT;
        if (strchr(fl, 't'))
                flags |= O_TRUNC;
        if (strchr(fl, 'x'))
                flags |= O_EXCL | O_CREAT;
        char *path = strndup(v, plen);
        if (!path)
                return -ENOMEM;
        int rr = pk_cmd_fd_file(c, (int)n, path, flags, 0666);
        free(path);
        return rr;
}

static int64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int run_main(int argc, char **argv)
{
        struct pk_cmd *c = NULL;
        int i = 1;
        int64_t timeout = 0;
        bool has_timeout = false;
        /* Options are applied once PROG is known, so collect them first. */
        int prog_at = -1;
        for (int k = 1; k < argc; k++) {
                if (strcmp(argv[k], "--") == 0) {
                        prog_at = k + 1;
                        break;
                }
        }
        if (prog_at < 0 || prog_at >= argc) {
                pk_cli_error("run", "missing -- PROG (see portkit run --help)");
                return PK_CLI_EXIT_USAGE;
        }
        int r = pk_cmd_new(argv[prog_at], &c);
        if (r < 0) {
                pk_cli_error("run", "%s", pk_strerror(r));
                return PK_CLI_EXIT_SYSTEM;
        }
        for (int k = prog_at + 1; k < argc && r == 0; k++)
                r = pk_cmd_arg(c, argv[k]);
        for (i = 1; i < prog_at - 1 && r == 0; i++) {
                const char *o = argv[i];
                const char *val = i + 1 < prog_at - 1 ? argv[i + 1] : NULL;
                bool takes = true;
                if (strcmp(o, "--clear-env") == 0) {
                        r = pk_cmd_env_clear(c);
                        takes = false;
                } else if (strcmp(o, "--setsid") == 0) {
                        r = pk_cmd_setsid(c);
                        takes = false;
                } else if (strcmp(o, "--no-new-privs") == 0) {
                        r = pk_cmd_no_new_privs(c);
                        takes = false;
                } else if (!val) {
                        pk_cli_error("run", "unknown option or missing value: %s", o);
                        pk_cmd_free(c);
                        return PK_CLI_EXIT_USAGE;
                } else if (strcmp(o, "--cwd") == 0) {
                        r = pk_cmd_cwd(c, val);
                } else if (strcmp(o, "--env") == 0) {
                        const char *eq = strchr(val, '=');
                        if (!eq) {
                                r = -EINVAL;
                        } else {
                                char *k = strndup(val, (size_t)(eq - val));
                                r = k ? pk_cmd_env_set(c, k, eq + 1) : -ENOMEM;
                                free(k);
                        }
                } else if (strcmp(o, "--unset") == 0) {
                        r = pk_cmd_env_unset(c, val);
                } else if (strcmp(o, "--user") == 0) {
                        r = pk_cmd_user(c, val);
                } else if (strcmp(o, "--group") == 0) {
                        r = pk_cmd_group(c, val);
                } else if (strcmp(o, "--umask") == 0) {
                        char *end;
                        unsigned long m = strtoul(val, &end, 8);
                        r = *val && !*end && m <= 0777 ? pk_cmd_umask(c, (mode_t)m) : -EINVAL;
                } else if (strcmp(o, "--nice") == 0) {
                        long long nv;
                        r = pk_cli_parse_int(val, -20, 19, &nv);
                        if (r == 0)
                                r = pk_cmd_nice(c, (int)nv);
                } else if (strcmp(o, "--rlimit") == 0) {
                        r = opt_rlimit(c, val);
                } else if (strcmp(o, "--argv0") == 0) {
                        r = pk_cmd_argv0(c, val);
                } else if (strcmp(o, "--fd") == 0) {
                        r = opt_fd(c, val);
                } else if (strcmp(o, "--timeout") == 0) {
                        r = pk_cli_parse_duration(val, &timeout);
                        has_timeout = true;
                } else {
                        pk_cli_error("run", "unknown option: %s", o);
                        pk_cmd_free(c);
                        return PK_CLI_EXIT_USAGE;
                }
                if (r < 0) {
                        pk_cli_error("run", "%s %s: %s", o, val ? val : "", pk_strerror(r));
                        pk_cmd_free(c);
                        return r == PK_ENOUSER || r == PK_ENOGROUP ? PK_CLI_EXIT_BADINPUT
                                                                   : PK_CLI_EXIT_USAGE;
                }
                if (takes)
                        i++;
        }
        if (r < 0) {
                pk_cli_error("run", "%s", pk_strerror(r));
                pk_cmd_free(c);
                return PK_CLI_EXIT_SYSTEM;
        }

        struct pk_spawn_error e;
        struct pk_exit st;
        bool timed_out = false;
        /* With a timeout the child leads its own process group, so the whole
         * tree can be killed.  Termination signals sent to us are forwarded
         * (to the group, or to the child), as timeout(1) does. */
        if (has_timeout && timeout > 0)
                pk_cmd_setpgid(c, 0);
        sigset_t fwd, old;
        sigemptyset(&fwd);
        sigaddset(&fwd, SIGINT);
        sigaddset(&fwd, SIGTERM);
        sigaddset(&fwd, SIGHUP);
        sigaddset(&fwd, SIGQUIT);
        sigprocmask(SIG_BLOCK, &fwd, &old); /* the child starts with an empty mask anyway */
        int sfd = signalfd(-1, &fwd, SFD_CLOEXEC | SFD_NONBLOCK);
        struct pk_proc *p = NULL;
        r = pk_spawn(c, &p, &e);
        if (r == 0) {
                bool group = has_timeout && timeout > 0;
                int64_t t0 = now_ms();
                for (;;) {
                        int left = -1;
                        if (group) {
                                int64_t d = t0 + timeout - now_ms();
                                left = d <= 0 ? 0 : d > 0x7fffffff ? 0x7fffffff : (int)d;
                        }
                        struct pollfd pf[2] = {{.fd = pk_proc_pidfd(p), .events = POLLIN},
                                               {.fd = sfd, .events = POLLIN}};
                        int k = poll(pf, sfd >= 0 ? 2 : 1, left);
                        if (k < 0 && errno != EINTR) {
                                r = -errno;
                                break;
                        }
                        if (k == 0) {
                                timed_out = true;
                                pk_proc_kill_group(p, SIGKILL);
                                r = pk_proc_wait(p, -1, &st);
                                break;
                        }
                        if (sfd >= 0 && k > 0 && (pf[1].revents & POLLIN)) {
                                struct signalfd_siginfo si;
                                while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                                        int sig = (int)si.ssi_signo;
                                        if (group)
                                                pk_proc_kill_group(p, sig);
                                        else
                                                pk_proc_signal(p, sig);
                                }
                        }
                        if (k > 0 && (pf[0].revents & POLLIN)) {
                                r = pk_proc_wait(p, -1, &st);
                                break;
                        }
                }
                if (r < 0)
                        e.step = PK_SPAWN_STEP_NONE;
                if (group)
                        pk_proc_kill_group(p, SIGKILL); /* whatever the leader left behind */
                pk_proc_free(p);
        }
        if (sfd >= 0)
                close(sfd);
        sigprocmask(SIG_SETMASK, &old, NULL);
        if (timed_out) {
                pk_cli_error("run", "timed out; process group killed");
                pk_cmd_free(c);
                return 124;
        }
        pk_cmd_free(c);
        if (r < 0) {
                char msg[PK_SPAWN_ERROR_PATH + 128];
                if (e.step != PK_SPAWN_STEP_NONE)
                        pk_spawn_strerror(&e, msg, sizeof(msg));
                else
                        snprintf(msg, sizeof(msg), "%s", pk_strerror(r));
                pk_cli_error("run", "%s", msg);
                bool notfound = r == -ENOENT &&
                                (e.step == PK_SPAWN_STEP_EXEC || e.step == PK_SPAWN_STEP_LOOKUP);
                return notfound ? 127 : 126;
        }
        return pk_exit_shell(&st);
}

static const struct pk_cli_command run_cmd = {
    .name = "run",
    .summary = "run a program with a chosen environment, ids, limits and fds",
    .usage = run_usage,
    .main = run_main,
};
PK_CLI_COMMAND(run_cmd)
