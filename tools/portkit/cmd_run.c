/* SPDX-License-Identifier: MIT */
/* `portkit run [options] [--] PROG ARGS...`: runs a program with the spawn
 * layer's options (what chpst, setpriv and timeout(1) users expect) and exits
 * with its status (128 + signal for a signal).  The wrapper forwards the
 * signals it gets, enforces --timeout as timeout(1) does, and makes the child
 * die with it (PR_SET_PDEATHSIG) when it cannot forward; --exec sets
 * everything up in this process and execs in place instead. */
#include "cli.h"
#include "internal.h"

#include <portkit.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RUN_EXIT_TIMEOUT 124
#define RUN_MAX_GROUPS 1024
#define RUN_MAX_FDS 64
#define RUN_MAX_ENV_OPS 256
#define RUN_ENVDIR_MAX_VALUE ((size_t)128 * 1024)

static const char run_usage[] =
    "usage: portkit run [OPTIONS] [--] PROG [ARGS...]\n"
    "\n"
    "Runs PROG (a path, or a name searched in PATH) and exits with its status:\n"
    "the exit code, or 128 + signal number.  124 if --timeout expired (137 if it\n"
    "took --kill-after's KILL), 126 if PROG could not be started, 127 if it was\n"
    "not found, 100 for bad usage, 111 for a system failure.\n"
    "\n"
    "environment and identity:\n"
    "  --env K=V             set K (repeatable)\n"
    "  --unset K             remove K (repeatable)\n"
    "  --clear-env           start from an empty environment\n"
    "  --envdir DIR          runit's envdir: each file NAME in DIR sets NAME to its\n"
    "                        first line (trailing blanks removed, NUL read as newline);\n"
    "                        an empty file removes NAME\n"
    "  --user NAME|UID       run as this user, with its gid and groups; HOME, USER,\n"
    "                        LOGNAME and SHELL come from the user database\n"
    "  --keep-user-env       with --user: leave HOME, USER, LOGNAME and SHELL alone\n"
    "  --group NAME|GID      run with this group\n"
    "  --groups LIST         supplementary groups: names or gids, comma-separated\n"
    "  --keep-groups         keep this process's supplementary groups\n"
    "  --clear-groups        no supplementary groups\n"
    "  --ambient-caps LIST   capabilities kept across --user as ambient ones, e.g.\n"
    "                        net_bind_service (names as capabilities(7), cap_ prefix\n"
    "                        optional, comma-separated); this process must hold them\n"
    "  --bounding-set LIST   drop every capability not in LIST from the bounding set\n"
    "                        (LIST as above; 'none' drops them all)\n"
    "  --cwd DIR             working directory\n"
    "  --chroot DIR          change the root directory (then --cwd, default /, is\n"
    "                        inside it; PROG is looked up inside it)\n"
    "  --umask OCTAL         umask, e.g. 027; applies to files --fd creates too\n"
    "  --nice N              nice value (-20..19)\n"
    "  --rlimit NAME=SOFT[:HARD]\n"
    "                        resource limit (repeatable); NAME is AS, CORE, CPU, DATA,\n"
    "                        FSIZE, LOCKS, MEMLOCK, MSGQUEUE, NICE, NOFILE, NPROC, RSS,\n"
    "                        RTPRIO, RTTIME, SIGPENDING or STACK (RLIMIT_ prefix and\n"
    "                        lower case accepted); values are numbers with an optional\n"
    "                        suffix k, M, G or T (x1024), or 'unlimited'\n"
    "  --setsid              start a new session\n"
    "  --no-new-privs        set no_new_privs\n"
    "  --argv0 NAME          argv[0] to give PROG\n"
    "\n"
    "descriptors (the child's fd N; later --fd N replaces earlier):\n"
    "  --fd N=PATH[:FLAGS]   open PATH; FLAGS is a set of r w a c t x (read, write,\n"
    "                        append, create, truncate, exclusive create; default r).\n"
    "                        c, t and x need w or a.  Everything after the last ':'\n"
    "                        must be flags, so a PATH containing ':' is given with\n"
    "                        its flags, e.g. --fd 1=a:b:w or --fd 0=a:b:\n"
    "  --fd N=&M             the same open file as the child's fd M (shell's N>&M),\n"
    "                        e.g. --fd 2=&1 sends stderr where stdout goes\n"
    "  --fd N=M              this process's fd M\n"
    "  --fd N=null           /dev/null\n"
    "  --fd N=close          closed\n"
    "  (a file named 'null' or 'close' is ./null or ./close)\n"
    "\n"
    "the wrapper:\n"
    "  --timeout DURATION    after DURATION send --signal to PROG's process group\n"
    "                        (and CONT); DURATION is a number with a unit ms, s\n"
    "                        (default), m, h or d; 0 or 'infinity': no timeout\n"
    "  --signal SIG          signal for --timeout (name or number; default TERM)\n"
    "  --kill-after DURATION also send KILL if PROG still runs DURATION after the\n"
    "                        --timeout signal\n"
    "  --foreground          PROG stays in this process group, so it can read the\n"
    "                        terminal and gets its signals; --timeout then signals\n"
    "                        PROG alone, not the processes it started\n"
    "  --preserve-status     exit with PROG's status even when --timeout expired\n"
    "  --pdeathsig SIG       signal PROG gets if this wrapper dies (default KILL;\n"
    "                        'none' turns it off)\n"
    "  --pidfile FILE        write PROG's pid to FILE (by rename, right after the\n"
    "                        start), removed when PROG ends\n"
    "  --exec                no wrapper process: set everything up here and exec\n"
    "                        PROG in place, as chpst does (refused with --timeout,\n"
    "                        --pidfile or --pdeathsig)\n"
    "\n"
    "Signals: the wrapper forwards HUP INT QUIT ABRT USR1 USR2 PIPE ALRM TERM\n"
    "URG XCPU XFSZ VTALRM PROF WINCH IO PWR SYS and the real-time signals to\n"
    "PROG (to its process group with --timeout), except those a terminal sent\n"
    "to a group PROG shares with it (PROG got them already).  KILL and STOP\n"
    "cannot be caught: PROG then gets --pdeathsig.  CHLD, the job-control\n"
    "signals (TSTP TTIN TTOU CONT) and faults (SEGV BUS FPE ILL TRAP) are not\n"
    "forwarded.\n";

/* The signals forwarded to the child (see the usage text). */
static const int forwarded[] = {SIGHUP,    SIGINT,  SIGQUIT,  SIGABRT, SIGUSR1, SIGUSR2,
                                SIGPIPE,   SIGALRM, SIGTERM,  SIGURG,  SIGXCPU, SIGXFSZ,
                                SIGVTALRM, SIGPROF, SIGWINCH, SIGIO,   SIGPWR,  SIGSYS};

enum fd_kind { FD_PATH, FD_SAME, FD_PARENT, FD_NULL, FD_CLOSE };

struct fd_spec {
        int n;
        enum fd_kind kind;
        int other; /* FD_SAME, FD_PARENT */
        int flags; /* FD_PATH */
        char *path;
};

enum env_kind { ENV_SET, ENV_UNSET };

struct env_op {
        enum env_kind kind;
        char *key;
        char *value;
};

/* Everything the options asked for.  (Ordered by size: clang-analyzer's
 * padding check.) */
struct run {
        struct pk_cmd *cmd;
        char **prog_argv;
        const char *argv0;
        const char *cwd;
        const char *chroot_dir;
        const char *user;
        const char *group;
        const char *pidfile;
        /* environment, applied in order after --clear-env and the user's vars */
        struct env_op env[RUN_MAX_ENV_OPS];
        size_t n_env;
        struct fd_spec fds[RUN_MAX_FDS];
        size_t n_fds;
        struct {
                unsigned long long soft, hard;
                int res;
        } rl[16];
        size_t n_rl;
        gid_t groups[RUN_MAX_GROUPS];
        size_t n_groups;
        /* the wrapper */
        int64_t timeout_ms; /* < 0: none */
        int64_t kill_after_ms;
        int timeout_sig;
        int pdeathsig;
        int nice;
        mode_t umask;
        bool keep_user_env, keep_groups, clear_groups, groups_set, clear_env, umask_set, nice_set;
        bool ambient_set, bounding_set;
        uint64_t ambient, bounding;
        bool setsid, no_new_privs, foreground, preserve_status, pdeathsig_set, exec_mode;
};

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        pk_cli_error("run", "%s", msg);
        return PK_CLI_EXIT_USAGE;
}

/* ---- option values ----------------------------------------------------- */

static int parse_signal(const char *s, int *ret)
{
        long long n;
        if (pk_cli_parse_int(s, 1, SIGRTMAX, &n) == 0) {
                *ret = (int)n;
                return 0;
        }
        if (strncasecmp(s, "SIG", 3) == 0)
                s += 3;
        for (int sig = 1; sig < NSIG; sig++) {
                const char *abbrev = sigabbrev_np(sig);
                if (abbrev && strcasecmp(abbrev, s) == 0) {
                        *ret = sig;
                        return 0;
                }
        }
        return -EINVAL;
}

static void list_rlimits(void)
{
        fprintf(stderr, "portkit run: valid --rlimit names:");
        for (size_t i = 0; pk_cli_rlimit_nth(i); i++)
                fprintf(stderr, " %s", pk_cli_rlimit_nth(i));
        fputc('\n', stderr);
}

static int opt_rlimit(struct run *r, const char *arg)
{
        int res;
        unsigned long long soft, hard;
        int e = pk_cli_parse_rlimit(arg, &res, &soft, &hard);
        const char *eq = strchr(arg, '=');
        const char *canon =
            eq ? pk_cli_rlimit_name(pk_cli_rlimit_from_name(arg, (size_t)(eq - arg))) : NULL;
        if (e == -EINVAL)
                return usage_error("--rlimit takes NAME=SOFT[:HARD], not '%s'", arg);
        if (e == -ENOENT) {
                pk_cli_error("run", "--rlimit: unknown resource '%.*s'", (int)(eq - arg), arg);
                list_rlimits();
                return PK_CLI_EXIT_USAGE;
        }
        if (e == -EDOM) {
                pk_cli_error("run",
                             "--rlimit RLIMIT_%s: bad value '%s' (a number with an optional "
                             "k, M, G or T, or 'unlimited')",
                             canon, eq + 1);
                return PK_CLI_EXIT_USAGE;
        }
        if (e < 0) {
                pk_cli_error("run", "--rlimit RLIMIT_%s: soft limit above the hard limit", canon);
                return PK_CLI_EXIT_USAGE;
        }
        if (r->n_rl >= sizeof(r->rl) / sizeof(r->rl[0]))
                return usage_error("too many --rlimit options");
        r->rl[r->n_rl].res = res;
        r->rl[r->n_rl].soft = soft;
        r->rl[r->n_rl].hard = hard;
        r->n_rl++;
        return 0;
}

static int opt_fd(struct run *r, const char *arg)
{
        const char *eq = strchr(arg, '=');
        long long n;
        char num[16];
        size_t nl = eq ? (size_t)(eq - arg) : 0;
        if (!eq || nl == 0 || nl >= sizeof(num))
                return usage_error("--fd takes N=WHAT, not '%s'", arg);
        memcpy(num, arg, nl);
        num[nl] = '\0';
        if (pk_cli_parse_int(num, 0, 65535, &n) < 0 || num[0] == '-')
                return usage_error("--fd '%s': '%s' is not a descriptor number (0..65535)", arg,
                                   num);
        if (r->n_fds >= RUN_MAX_FDS)
                return usage_error("too many --fd options");
        struct fd_spec *f = &r->fds[r->n_fds];
        memset(f, 0, sizeof(*f));
        f->n = (int)n;
        const char *v = eq + 1;
        long long m;
        if (!*v)
                return usage_error("--fd '%s': nothing after '='", arg);
        if (strcmp(v, "null") == 0) {
                f->kind = FD_NULL;
        } else if (strcmp(v, "close") == 0) {
                f->kind = FD_CLOSE;
        } else if (v[0] == '&') {
                if (pk_cli_parse_int(v + 1, 0, 65535, &m) < 0 || v[1] == '-')
                        return usage_error("--fd '%s': '&' takes a descriptor number", arg);
                if (m == n)
                        return usage_error("--fd '%s': a descriptor cannot be the same as "
                                           "itself",
                                           arg);
                f->kind = FD_SAME;
                f->other = (int)m;
        } else if (v[0] == '-' ||
                   (v[0] >= '0' && v[0] <= '9' && !strchr(v, ':') && !strchr(v, '/'))) {
                if (pk_cli_parse_int(v, 0, 65535, &m) < 0)
                        return usage_error("--fd '%s': '%s' is not a descriptor number (a path "
                                           "starting with '-' or a digit is ./PATH)",
                                           arg, v);
                f->kind = FD_PARENT;
                f->other = (int)m;
        } else {
                const char *colon = strrchr(v, ':');
                const char *fl = colon ? colon + 1 : "";
                size_t plen = colon ? (size_t)(colon - v) : strlen(v);
                bool rd = false, wr = false, ap = false, cr = false, tr = false, ex = false;
                for (const char *p = fl; *p; p++) {
                        bool *b = *p == 'r'   ? &rd
                                  : *p == 'w' ? &wr
                                  : *p == 'a' ? &ap
                                  : *p == 'c' ? &cr
                                  : *p == 't' ? &tr
                                  : *p == 'x' ? &ex
                                              : NULL;
                        if (!b) {
                                char bad[2] = {*p, 0};
                                return usage_error("--fd '%s': unknown flag '%s' (flags are r w "
                                                   "a c t x after the last ':')",
                                                   arg, bad);
                        }
                        *b = true;
                }
                if ((cr || tr || ex) && !(wr || ap))
                        return usage_error("--fd '%s': c, t and x need w or a", arg);
                if (ap && tr)
                        return usage_error("--fd '%s': a (append) and t (truncate) contradict "
                                           "each other",
                                           arg);
                if (plen == 0)
                        return usage_error("--fd '%s': no path", arg);
                if (!rd && !wr && !ap)
                        rd = true;
                int flags = rd && (wr || ap) ? O_RDWR : (wr || ap) ? O_WRONLY : O_RDONLY;
                if (ap)
                        flags |= O_APPEND;
                if (cr)
                        flags |= O_CREAT;
                if (tr)
                        flags |= O_TRUNC;
                if (ex)
                        flags |= O_EXCL | O_CREAT;
                f->kind = FD_PATH;
                f->flags = flags;
                f->path = strndup(v, plen);
                if (!f->path)
                        return PK_CLI_EXIT_SYSTEM;
        }
        /* A later --fd N replaces an earlier one. */
        for (size_t i = 0; i < r->n_fds; i++) {
                if (r->fds[i].n == f->n) {
                        free(r->fds[i].path);
                        r->fds[i] = *f;
                        return 0;
                }
        }
        r->n_fds++;
        return 0;
}

static int add_env(struct run *r, enum env_kind kind, const char *key, size_t klen,
                   const char *value)
{
        if (r->n_env >= RUN_MAX_ENV_OPS) {
                pk_cli_error("run", "too many environment changes (at most %d)", RUN_MAX_ENV_OPS);
                return PK_CLI_EXIT_USAGE;
        }
        struct env_op *e = &r->env[r->n_env];
        e->kind = kind;
        e->key = strndup(key, klen);
        e->value = value ? strdup(value) : NULL;
        if (!e->key || (value && !e->value)) {
                free(e->key);
                free(e->value);
                return PK_CLI_EXIT_SYSTEM;
        }
        r->n_env++;
        return 0;
}

/* runit's envdir: file NAME sets NAME to its first line, an empty file unsets it. */
static int opt_envdir(struct run *r, const char *dir)
{
        DIR *d = opendir(dir);
        if (!d) {
                pk_cli_error("run", "--envdir %s: %s", dir, strerror(errno));
                return PK_CLI_EXIT_BADINPUT;
        }
        int rc = 0;
        struct dirent *de;
        while (rc == 0 && (de = readdir(d))) {
                const char *name = de->d_name;
                if (name[0] == '.' || strchr(name, '='))
                        continue;
                int fd = openat(dirfd(d), name, O_RDONLY | O_CLOEXEC);
                if (fd < 0) {
                        pk_cli_error("run", "--envdir %s/%s: %s", dir, name, strerror(errno));
                        rc = PK_CLI_EXIT_BADINPUT;
                        break;
                }
                struct stat st;
                if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                        close(fd);
                        continue;
                }
                char *buf = malloc(RUN_ENVDIR_MAX_VALUE + 1);
                ssize_t n = buf ? read(fd, buf, RUN_ENVDIR_MAX_VALUE) : -1;
                close(fd);
                if (n < 0) {
                        pk_cli_error("run", "--envdir %s/%s: cannot read", dir, name);
                        free(buf);
                        rc = PK_CLI_EXIT_BADINPUT;
                        break;
                }
                if (n == 0) {
                        rc = add_env(r, ENV_UNSET, name, strlen(name), NULL);
                } else {
                        size_t len = (size_t)n;
                        char *nl = memchr(buf, '\n', len);
                        if (nl)
                                len = (size_t)(nl - buf);
                        while (len > 0 && (buf[len - 1] == ' ' || buf[len - 1] == '\t'))
                                len--;
                        for (size_t i = 0; i < len; i++)
                                if (buf[i] == '\0')
                                        buf[i] = '\n';
                        buf[len] = '\0';
                        rc = add_env(r, ENV_SET, name, strlen(name), buf);
                }
                free(buf);
        }
        closedir(d);
        return rc;
}

static int opt_groups(struct run *r, const char *list)
{
        r->n_groups = 0;
        r->groups_set = true;
        const char *p = list;
        while (*p) {
                const char *comma = strchr(p, ',');
                size_t len = comma ? (size_t)(comma - p) : strlen(p);
                char name[256];
                if (len == 0 || len >= sizeof(name))
                        return usage_error("--groups '%s': empty or overlong name", list);
                memcpy(name, p, len);
                name[len] = '\0';
                long long id;
                gid_t g;
                if (pk_cli_parse_int(name, 0, 0x7fffffff, &id) == 0) {
                        g = (gid_t)id;
                } else {
                        struct group *gr = getgrnam(name);
                        if (!gr) {
                                pk_cli_error("run", "--groups: no group '%s'", name);
                                return PK_CLI_EXIT_BADINPUT;
                        }
                        g = gr->gr_gid;
                }
                if (r->n_groups >= RUN_MAX_GROUPS)
                        return usage_error("--groups: too many groups");
                r->groups[r->n_groups++] = g;
                p += len;
                if (*p == ',')
                        p++;
        }
        return 0;
}

/* ---- parsing ------------------------------------------------------------ */

static bool is_opt(const char *a, const char *name, const char **ret_inline)
{
        size_t n = strlen(name);
        if (strncmp(a, name, n) != 0)
                return false;
        if (a[n] == '\0') {
                *ret_inline = NULL;
                return true;
        }
        if (a[n] == '=') {
                *ret_inline = a + n + 1;
                return true;
        }
        return false;
}

/* A comma-separated capability list ("none" is the empty set) as a mask. */
static int opt_caps(const char *opt, const char *list, uint64_t *ret)
{
        *ret = 0;
        if (strcmp(list, "none") == 0)
                return 0;
        const char *p = list;
        for (;;) {
                const char *comma = strchr(p, ',');
                size_t n = comma ? (size_t)(comma - p) : strlen(p);
                char name[40];
                if (n == 0 || n >= sizeof(name))
                        return usage_error("%s '%s': empty or overlong capability name", opt, list);
                memcpy(name, p, n);
                name[n] = '\0';
                int cap = pk_cap_from_name(name);
                if (cap < 0)
                        return usage_error("%s: unknown capability '%s' (names as in "
                                           "capabilities(7), e.g. net_bind_service)",
                                           opt, name);
                *ret |= PK_CAP(cap);
                if (!comma)
                        return 0;
                p = comma + 1;
        }
}

static int parse(struct run *r, int argc, char **argv)
{
        static const char *const flags[] = {
            "--clear-env",     "--setsid",          "--no-new-privs",
            "--keep-user-env", "--keep-groups",     "--clear-groups",
            "--foreground",    "--preserve-status", "--exec"};
        static const char *const valued[] = {
            "--cwd",        "--env",       "--unset",   "--envdir",       "--user",
            "--group",      "--groups",    "--chroot",  "--umask",        "--nice",
            "--rlimit",     "--argv0",     "--fd",      "--timeout",      "--signal",
            "--kill-after", "--pdeathsig", "--pidfile", "--ambient-caps", "--bounding-set"};
        r->timeout_ms = -1;
        r->kill_after_ms = -1;
        r->timeout_sig = SIGTERM;
        r->pdeathsig = SIGKILL;
        int i = 1;
        for (; i < argc; i++) {
                if (pk_cli_options_end(argv, &i))
                        break;
                const char *a = argv[i];
                if (pk_cli_is_help(a)) {
                        fputs(run_usage, stdout);
                        return PK_CLI_HELP_SHOWN;
                }
                bool known = false;
                for (size_t k = 0; k < sizeof(flags) / sizeof(flags[0]); k++) {
                        if (strcmp(a, flags[k]) == 0)
                                known = true;
                }
                if (known) {
                        if (!strcmp(a, "--clear-env")) {
                                /* what came before is cleared too */
                                r->clear_env = true;
                                for (size_t k = 0; k < r->n_env; k++) {
                                        free(r->env[k].key);
                                        free(r->env[k].value);
                                }
                                r->n_env = 0;
                        } else if (!strcmp(a, "--setsid"))
                                r->setsid = true;
                        else if (!strcmp(a, "--no-new-privs"))
                                r->no_new_privs = true;
                        else if (!strcmp(a, "--keep-user-env"))
                                r->keep_user_env = true;
                        else if (!strcmp(a, "--keep-groups"))
                                r->keep_groups = true;
                        else if (!strcmp(a, "--clear-groups"))
                                r->clear_groups = true;
                        else if (!strcmp(a, "--foreground"))
                                r->foreground = true;
                        else if (!strcmp(a, "--preserve-status"))
                                r->preserve_status = true;
                        else
                                r->exec_mode = true;
                        continue;
                }
                const char *o = NULL, *v = NULL;
                for (size_t k = 0; k < sizeof(valued) / sizeof(valued[0]) && !o; k++) {
                        if (is_opt(a, valued[k], &v))
                                o = valued[k];
                }
                if (!o)
                        return pk_cli_unknown_option("run", a);
                if (!v) {
                        if (i + 1 >= argc)
                                return pk_cli_missing_value("run", o);
                        v = argv[++i];
                }
                int rc = 0;
                if (!strcmp(o, "--cwd")) {
                        r->cwd = v;
                } else if (!strcmp(o, "--env")) {
                        int kl = pk_cli_env_key_len(v);
                        if (kl < 0)
                                return usage_error("--env takes K=V, not '%s'", v);
                        rc = add_env(r, ENV_SET, v, (size_t)kl, v + kl + 1);
                } else if (!strcmp(o, "--unset")) {
                        if (!*v || strchr(v, '='))
                                return usage_error("--unset takes a name, not '%s'", v);
                        rc = add_env(r, ENV_UNSET, v, strlen(v), NULL);
                } else if (!strcmp(o, "--envdir")) {
                        rc = opt_envdir(r, v);
                } else if (!strcmp(o, "--user")) {
                        r->user = v;
                } else if (!strcmp(o, "--group")) {
                        r->group = v;
                } else if (!strcmp(o, "--groups")) {
                        rc = opt_groups(r, v);
                } else if (!strcmp(o, "--ambient-caps")) {
                        rc = opt_caps(o, v, &r->ambient);
                        r->ambient_set = true;
                } else if (!strcmp(o, "--bounding-set")) {
                        rc = opt_caps(o, v, &r->bounding);
                        r->bounding_set = true;
                } else if (!strcmp(o, "--chroot")) {
                        r->chroot_dir = v;
                } else if (!strcmp(o, "--umask")) {
                        unsigned m;
                        if (pk_cli_parse_umask(v, &m) < 0)
                                return usage_error("--umask takes an octal mode such as 027, "
                                                   "not '%s'",
                                                   v);
                        r->umask_set = true;
                        r->umask = (mode_t)m;
                } else if (!strcmp(o, "--nice")) {
                        long long nv;
                        if (pk_cli_parse_int(v, -20, 19, &nv) < 0)
                                return usage_error("--nice takes -20..19, not '%s'", v);
                        r->nice_set = true;
                        r->nice = (int)nv;
                } else if (!strcmp(o, "--rlimit")) {
                        rc = opt_rlimit(r, v);
                } else if (!strcmp(o, "--argv0")) {
                        r->argv0 = v;
                } else if (!strcmp(o, "--fd")) {
                        rc = opt_fd(r, v);
                } else if (!strcmp(o, "--timeout") || !strcmp(o, "--kill-after")) {
                        int64_t *dst = o[2] == 't' ? &r->timeout_ms : &r->kill_after_ms;
                        if (pk_cli_parse_timeout(v, dst) < 0)
                                return usage_error("%s: bad duration '%s' (a number with a unit "
                                                   "ms, s, m, h or d)",
                                                   o, v);
                } else if (!strcmp(o, "--signal")) {
                        if (parse_signal(v, &r->timeout_sig) < 0)
                                return usage_error("--signal: unknown signal '%s'", v);
                } else if (!strcmp(o, "--pdeathsig")) {
                        r->pdeathsig_set = true;
                        if (strcmp(v, "none") == 0 || strcmp(v, "0") == 0)
                                r->pdeathsig = 0;
                        else if (parse_signal(v, &r->pdeathsig) < 0)
                                return usage_error("--pdeathsig: unknown signal '%s'", v);
                } else if (!strcmp(o, "--pidfile")) {
                        r->pidfile = v;
                }
                if (rc)
                        return rc;
        }
        if (i >= argc)
                return usage_error("no program given (portkit run [OPTIONS] [--] PROG "
                                   "ARGS...)");
        if (!argv[i][0])
                return usage_error("the program name is empty");
        if (r->keep_groups + r->clear_groups + r->groups_set > 1)
                return usage_error("--groups, --keep-groups and --clear-groups exclude each "
                                   "other");
        if (r->keep_user_env && !r->user)
                return usage_error("--keep-user-env needs --user");
        if (r->exec_mode && (r->timeout_ms >= 0 || r->pidfile || r->pdeathsig_set))
                return usage_error("--exec leaves no wrapper for --timeout, --pidfile or "
                                   "--pdeathsig");
        if (r->kill_after_ms >= 0 && r->timeout_ms < 0)
                return usage_error("--kill-after needs --timeout");
        r->prog_argv = argv + i;
        return 0;
}

/* ---- building the command ------------------------------------------------ */

/* HOME, USER, LOGNAME and SHELL of the --user, as setpriv --reset-env does. */
static int user_env(struct run *r, struct pk_cmd *c)
{
        struct passwd *pw = NULL;
        long long uid;
        if (pk_cli_parse_int(r->user, 0, 0x7fffffff, &uid) == 0)
                pw = getpwuid((uid_t)uid);
        else
                pw = getpwnam(r->user);
        if (!pw)
                return 0; /* a bare uid: nothing to take from the database */
        int e = 0;
        if (!e)
                e = pk_cmd_env_set(c, "HOME", pw->pw_dir);
        if (!e)
                e = pk_cmd_env_set(c, "USER", pw->pw_name);
        if (!e)
                e = pk_cmd_env_set(c, "LOGNAME", pw->pw_name);
        if (!e)
                e = pk_cmd_env_set(c, "SHELL",
                                   pw->pw_shell && *pw->pw_shell ? pw->pw_shell : "/bin/sh");
        return e;
}

/* Returns 0 or an exit code after a message. */
static int build_cmd(struct run *r, struct pk_cmd **ret)
{
        struct pk_cmd *c;
        int e = pk_cmd_new(r->prog_argv[0], &c);
        if (e < 0) {
                pk_cli_error("run", "%s", pk_strerror(e));
                return PK_CLI_EXIT_SYSTEM;
        }
        for (int k = 1; r->prog_argv[k] && e == 0; k++)
                e = pk_cmd_arg(c, r->prog_argv[k]);
        if (!e && r->argv0)
                e = pk_cmd_argv0(c, r->argv0);
        if (!e && r->clear_env)
                e = pk_cmd_env_clear(c);
        if (!e && r->user) {
                e = pk_cmd_user(c, r->user);
                if (e == PK_ENOUSER) {
                        pk_cli_error("run", "--user: no user '%s'", r->user);
                        pk_cmd_free(c);
                        return PK_CLI_EXIT_BADINPUT;
                }
                if (!e && !r->keep_user_env)
                        e = user_env(r, c);
        }
        for (size_t k = 0; k < r->n_env && !e; k++)
                e = r->env[k].kind == ENV_SET ? pk_cmd_env_set(c, r->env[k].key, r->env[k].value)
                                              : pk_cmd_env_unset(c, r->env[k].key);
        if (!e && r->group) {
                e = pk_cmd_group(c, r->group);
                if (e == PK_ENOGROUP) {
                        pk_cli_error("run", "--group: no group '%s'", r->group);
                        pk_cmd_free(c);
                        return PK_CLI_EXIT_BADINPUT;
                }
        }
        if (!e && r->groups_set)
                e = pk_cmd_groups(c, r->groups, r->n_groups);
        if (!e && r->clear_groups)
                e = pk_cmd_groups(c, NULL, 0);
        if (!e && r->keep_groups) {
                gid_t g[RUN_MAX_GROUPS];
                int n = getgroups(RUN_MAX_GROUPS, g);
                e = n < 0 ? -errno : pk_cmd_groups(c, g, (size_t)n);
        }
        if (!e && r->ambient_set)
                e = pk_cmd_ambient_caps(c, r->ambient);
        if (!e && r->bounding_set)
                e = pk_cmd_cap_bounding(c, r->bounding);
        if (!e && r->chroot_dir) {
                /* The spawn layer takes an absolute root (its helper may
                 * run elsewhere); chroot(8) takes a relative one too. */
                char *abs = realpath(r->chroot_dir, NULL);
                if (!abs) {
                        pk_cli_error("run", "--chroot %s: %s", r->chroot_dir, strerror(errno));
                        pk_cmd_free(c);
                        return errno == ENOENT ? 127 : 126;
                }
                e = pk_cmd_chroot(c, abs);
                free(abs);
        }
        if (!e && r->cwd)
                e = pk_cmd_cwd(c, r->cwd);
        if (!e && r->umask_set)
                e = pk_cmd_umask(c, r->umask);
        if (!e && r->nice_set)
                e = pk_cmd_nice(c, r->nice);
        for (size_t k = 0; k < r->n_rl && !e; k++)
                e = pk_cmd_rlimit(c, r->rl[k].res, r->rl[k].soft, r->rl[k].hard);
        if (!e && r->setsid)
                e = pk_cmd_setsid(c);
        if (!e && r->no_new_privs)
                e = pk_cmd_no_new_privs(c);
        for (size_t k = 0; k < r->n_fds && !e; k++) {
                const struct fd_spec *f = &r->fds[k];
                switch (f->kind) {
                case FD_PATH:
                        e = pk_cmd_fd_file(c, f->n, f->path, f->flags, 0666);
                        break;
                case FD_SAME:
                        e = pk_cmd_fd_same_as(c, f->n, f->other);
                        break;
                case FD_PARENT:
                        e = pk_cmd_fd(c, f->n, f->other);
                        if (e == -EBADF) {
                                pk_cli_error("run", "--fd %d=%d: this process has no fd %d", f->n,
                                             f->other, f->other);
                                pk_cmd_free(c);
                                return PK_CLI_EXIT_USAGE;
                        }
                        break;
                case FD_NULL:
                        e = pk_cmd_fd_null(c, f->n);
                        break;
                case FD_CLOSE:
                        e = pk_cmd_fd_close(c, f->n);
                        break;
                }
        }
        /* With --timeout the child leads its own process group so the whole
         * tree can be signalled, unless it must stay in the terminal's. */
        if (!e && r->timeout_ms >= 0 && !r->foreground && !r->setsid)
                e = pk_cmd_setpgid(c, 0);
        if (!e && r->pdeathsig)
                e = pk_cmd_pdeathsig(c, r->pdeathsig);
        if (e < 0) {
                pk_cli_error("run", "%s", pk_strerror(e));
                pk_cmd_free(c);
                return PK_CLI_EXIT_SYSTEM;
        }
        *ret = c;
        return 0;
}

/* ---- --exec: set up here, exec in place ---------------------------------- */

static int exec_fail(const char *what, const char *arg)
{
        pk_cli_error("run", "%s%s%s: %s", what, arg ? " " : "", arg ? arg : "", strerror(errno));
        return errno == ENOENT ? 127 : 126;
}

/* A capability step failed before the exec in place. */
static int exec_caps_fail(int err, int step, int cap)
{
        errno = -err;
        char what[48];
        snprintf(what, sizeof(what), "%s (capability %d)", pk_spawn_step_name(step), cap);
        return exec_fail(what, NULL);
}

static void exec_env(struct run *r)
{
        if (r->clear_env)
                clearenv();
        if (r->user && !r->keep_user_env) {
                struct passwd *pw = getpwnam(r->user);
                long long uid;
                if (!pw && pk_cli_parse_int(r->user, 0, 0x7fffffff, &uid) == 0)
                        pw = getpwuid((uid_t)uid);
                if (pw) {
                        setenv("HOME", pw->pw_dir, 1);
                        setenv("USER", pw->pw_name, 1);
                        setenv("LOGNAME", pw->pw_name, 1);
                        setenv("SHELL", pw->pw_shell && *pw->pw_shell ? pw->pw_shell : "/bin/sh",
                               1);
                }
        }
        for (size_t k = 0; k < r->n_env; k++) {
                if (r->env[k].kind == ENV_SET)
                        setenv(r->env[k].key, r->env[k].value, 1);
                else
                        unsetenv(r->env[k].key);
        }
}

static int exec_fds(struct run *r)
{
        for (size_t k = 0; k < r->n_fds; k++) {
                const struct fd_spec *f = &r->fds[k];
                int fd = -1;
                switch (f->kind) {
                case FD_PATH:
                        fd = open(f->path, f->flags | O_CLOEXEC, 0666);
                        if (fd < 0)
                                return exec_fail("open", f->path);
                        break;
                case FD_NULL:
                        fd = open("/dev/null", O_RDWR | O_CLOEXEC);
                        if (fd < 0)
                                return exec_fail("open", "/dev/null");
                        break;
                case FD_SAME:
                case FD_PARENT:
                        fd = fcntl(f->other, F_DUPFD_CLOEXEC, 3);
                        if (fd < 0)
                                return exec_fail("--fd", NULL);
                        break;
                case FD_CLOSE:
                        close(f->n);
                        continue;
                }
                if (fd != f->n) {
                        if (dup2(fd, f->n) < 0)
                                return exec_fail("dup2", NULL);
                        close(fd);
                } else if (fcntl(fd, F_SETFD, 0) < 0) {
                        return exec_fail("fcntl", NULL);
                }
        }
        return 0;
}

static int exec_in_place(struct run *r)
{
        struct passwd *pw = NULL;
        uid_t uid = 0;
        gid_t gid = 0;
        bool have_gid = false;
        if (r->user) {
                long long id;
                pw = getpwnam(r->user);
                if (!pw && pk_cli_parse_int(r->user, 0, 0x7fffffff, &id) == 0) {
                        pw = getpwuid((uid_t)id);
                        uid = (uid_t)id;
                } else if (!pw) {
                        pk_cli_error("run", "--user: no user '%s'", r->user);
                        return PK_CLI_EXIT_BADINPUT;
                }
                if (pw) {
                        uid = pw->pw_uid;
                        gid = pw->pw_gid;
                        have_gid = true;
                }
        }
        if (r->group) {
                long long id;
                struct group *gr = getgrnam(r->group);
                if (gr)
                        gid = gr->gr_gid;
                else if (pk_cli_parse_int(r->group, 0, 0x7fffffff, &id) == 0)
                        gid = (gid_t)id;
                else {
                        pk_cli_error("run", "--group: no group '%s'", r->group);
                        return PK_CLI_EXIT_BADINPUT;
                }
                have_gid = true;
        }
        exec_env(r);
        for (size_t k = 0; k < r->n_rl; k++) {
                struct rlimit rl = {
                    .rlim_cur = r->rl[k].soft == PK_RLIM_INFINITY ? RLIM_INFINITY : r->rl[k].soft,
                    .rlim_max = r->rl[k].hard == PK_RLIM_INFINITY ? RLIM_INFINITY : r->rl[k].hard};
                if (setrlimit(r->rl[k].res, &rl) < 0)
                        return exec_fail("setrlimit", NULL);
        }
        if (r->nice_set && setpriority(PRIO_PROCESS, 0, r->nice) < 0)
                return exec_fail("setpriority", NULL);
        if (r->umask_set)
                umask(r->umask);
        int rc = exec_fds(r); /* with our credentials, as a shell's redirections */
        if (rc)
                return rc;
        /* Capabilities exactly as the spawn child sets them (pk__caps_apply):
         * the bounding set now, the ambient set after the uid change. */
        struct pk__caps sv = {.has_ambient = r->ambient_set,
                              .ambient = r->ambient,
                              .has_bounding = r->bounding_set,
                              .bounding = r->bounding,
                              .cap_last = pk__cap_last()};
        int cstep = 0, cval = 0, cr = pk__caps_apply(&sv, r->user != NULL, 0, &cstep, &cval);
        if (cr < 0)
                return exec_caps_fail(cr, cstep, cval);
        if (r->chroot_dir && (chroot(r->chroot_dir) < 0 || chdir("/") < 0))
                return exec_fail("chroot", r->chroot_dir);
        /* Groups before gid before uid: each later step may drop the right to the earlier. */
        if (r->groups_set && setgroups(r->n_groups, r->groups) < 0)
                return exec_fail("setgroups", NULL);
        if (r->clear_groups && setgroups(0, NULL) < 0)
                return exec_fail("setgroups", NULL);
        if (r->user && pw && !r->groups_set && !r->clear_groups && !r->keep_groups &&
            initgroups(pw->pw_name, gid) < 0)
                return exec_fail("initgroups", r->user);
        if (have_gid && setresgid(gid, gid, gid) < 0)
                return exec_fail("setgid", NULL);
        if (r->user && setresuid(uid, uid, uid) < 0)
                return exec_fail("setuid", r->user);
        cr = pk__caps_apply(&sv, r->user != NULL, 1, &cstep, &cval);
        if (cr < 0)
                return exec_caps_fail(cr, cstep, cval);
        if (r->cwd && chdir(r->cwd) < 0)
                return exec_fail("chdir", r->cwd);
        if (r->setsid && setsid() < 0)
                return exec_fail("setsid", NULL);
        if (r->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return exec_fail("no_new_privs", NULL);
        const char *file = r->prog_argv[0];
        if (r->argv0)
                r->prog_argv[0] = (char *)(uintptr_t)r->argv0;
        execvp(file, r->prog_argv);
        return exec_fail("exec", file);
}

/* ---- the wrapper ---------------------------------------------------------- */

static int64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int shell_status(const struct pk_exit *st)
{
        return pk_exit_shell(st);
}

static void write_pidfile(const char *path, pid_t pid)
{
        char tmp[4096];
        snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
        FILE *f = fopen(tmp, "we");
        if (!f || fprintf(f, "%d\n", (int)pid) < 0 || fclose(f) != 0 || rename(tmp, path) < 0) {
                pk_cli_error("run", "--pidfile %s: %s", path, strerror(errno));
                unlink(tmp);
        }
}

struct wrap {
        struct run *r;
        struct pk_proc *p;
        bool group; /* the child leads its own process group */
};

static void send_to_child(struct wrap *w, int sig)
{
        if (w->group)
                (void)pk_proc_kill_group(w->p, sig);
        else
                (void)pk_proc_signal(w->p, sig);
}

static int wrap_run(struct run *r, struct pk_cmd *c)
{
        sigset_t fwd, old;
        sigemptyset(&fwd);
        for (size_t k = 0; k < sizeof(forwarded) / sizeof(forwarded[0]); k++)
                sigaddset(&fwd, forwarded[k]);
        for (int s = SIGRTMIN; s <= SIGRTMAX; s++)
                sigaddset(&fwd, s);
        /* Blocked before the spawn so nothing is lost; the child starts with an
         * empty mask and default dispositions (spawn layer). */
        sigprocmask(SIG_BLOCK, &fwd, &old);
        int sfd = signalfd(-1, &fwd, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sfd < 0) {
                pk_cli_error("run", "signalfd: %s", strerror(errno));
                sigprocmask(SIG_SETMASK, &old, NULL);
                return PK_CLI_EXIT_SYSTEM;
        }
        /* Files --fd creates get the child's umask, as a shell's redirections do. */
        mode_t saved_umask = 0;
        if (r->umask_set)
                saved_umask = umask(r->umask);
        struct pk_spawn_error e;
        struct wrap w = {.r = r, .group = r->timeout_ms >= 0 && !r->foreground};
        w.group = w.group || r->setsid;
        int rc = pk_spawn(c, &w.p, &e);
        if (r->umask_set)
                umask(saved_umask);
        if (rc < 0) {
                close(sfd);
                sigprocmask(SIG_SETMASK, &old, NULL);
                char msg[PK_SPAWN_ERROR_PATH + 128];
                pk_spawn_strerror(&e, msg, sizeof(msg));
                const char *rl = e.step == PK_SPAWN_STEP_RLIMIT && e.value >= 0
                                     ? pk_cli_rlimit_name(e.value)
                                     : NULL;
                if (rl) /* the resource by name, not by number */
                        pk_cli_error("run", "spawn failed: setrlimit RLIMIT_%s: %s", rl,
                                     pk_strerror(e.code));
                else
                        pk_cli_error("run", "%s", msg);
                bool notfound = rc == -ENOENT &&
                                (e.step == PK_SPAWN_STEP_EXEC || e.step == PK_SPAWN_STEP_LOOKUP);
                return notfound ? 127 : 126;
        }
        if (r->pidfile)
                write_pidfile(r->pidfile, pk_proc_pid(w.p));
        pid_t our_pgrp = getpgrp();
        int64_t deadline = r->timeout_ms >= 0 ? now_ms() + r->timeout_ms : -1;
        int64_t kill_deadline = -1;
        bool timed_out = false, killed = false;
        struct pk_exit st = {0};
        for (;;) {
                int left = -1;
                int64_t next = kill_deadline >= 0 ? kill_deadline : timed_out ? -1 : deadline;
                if (next >= 0) {
                        int64_t d = next - now_ms();
                        left = d <= 0 ? 0 : d > 0x7fffffff ? 0x7fffffff : (int)d;
                }
                struct pollfd pf[2] = {{.fd = pk_proc_pidfd(w.p), .events = POLLIN},
                                       {.fd = sfd, .events = POLLIN}};
                int k = poll(pf, 2, left);
                if (k < 0 && errno != EINTR) {
                        rc = -errno;
                        break;
                }
                if (k == 0 && !timed_out && deadline >= 0) {
                        timed_out = true;
                        send_to_child(&w, r->timeout_sig);
                        if (r->timeout_sig != SIGKILL && r->timeout_sig != SIGCONT)
                                send_to_child(&w, SIGCONT);
                        if (r->kill_after_ms >= 0)
                                kill_deadline = now_ms() + r->kill_after_ms;
                        continue;
                }
                if (k == 0 && kill_deadline >= 0) {
                        killed = true;
                        kill_deadline = -1;
                        send_to_child(&w, SIGKILL);
                        continue;
                }
                if (k > 0 && (pf[1].revents & POLLIN)) {
                        struct signalfd_siginfo si;
                        while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                                /* A terminal's signal reached the child already when it
                                 * shares our process group. */
                                bool from_tty = si.ssi_code == SI_KERNEL;
                                if (from_tty && !w.group && getpgid(pk_proc_pid(w.p)) == our_pgrp)
                                        continue;
                                send_to_child(&w, (int)si.ssi_signo);
                        }
                }
                if (k > 0 && (pf[0].revents & POLLIN)) {
                        rc = pk_proc_wait(w.p, -1, &st);
                        break;
                }
        }
        if (w.group)
                (void)pk_proc_kill_group(w.p, SIGKILL); /* whatever the leader left behind */
        pk_proc_free(w.p);
        if (r->pidfile)
                unlink(r->pidfile);
        close(sfd);
        sigprocmask(SIG_SETMASK, &old, NULL);
        if (rc < 0) {
                pk_cli_error("run", "wait: %s", pk_strerror(rc));
                return PK_CLI_EXIT_SYSTEM;
        }
        if (timed_out && !r->preserve_status)
                return killed ? 128 + SIGKILL : RUN_EXIT_TIMEOUT;
        return shell_status(&st);
}

static void run_free(struct run *r)
{
        for (size_t k = 0; k < r->n_fds; k++)
                free(r->fds[k].path);
        for (size_t k = 0; k < r->n_env; k++) {
                free(r->env[k].key);
                free(r->env[k].value);
        }
        free(r);
}

static int run_main(int argc, char **argv)
{
        struct run *r = calloc(1, sizeof(*r));
        if (!r) {
                pk_cli_error("run", "out of memory");
                return PK_CLI_EXIT_SYSTEM;
        }
        int rc = parse(r, argc, argv);
        if (rc) {
                run_free(r);
                return rc == PK_CLI_HELP_SHOWN ? 0 : rc;
        }
        if (r->exec_mode) {
                rc = exec_in_place(r);
                run_free(r);
                return rc;
        }
        struct pk_cmd *c = NULL;
        rc = build_cmd(r, &c);
        if (rc == 0)
                rc = wrap_run(r, c);
        pk_cmd_free(c);
        run_free(r);
        return rc;
}

static const struct pk_cli_command run_cmd = {
    .name = "run",
    .summary = "run a program with a chosen environment, ids, limits, fds and timeout",
    .usage = run_usage,
    .main = run_main,
};
PK_CLI_COMMAND(run_cmd)
