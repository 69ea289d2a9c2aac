/* SPDX-License-Identifier: MIT */
/* Test helper for the spawn layer: reports from inside the child what it
 * received (argv, env, cwd, umask, ids, groups, limits, nice, signals, session,
 * fds, no_new_privs, pdeathsig), and a few behaviours the tests need
 * (streaming, exit codes, sleeping, grandchildren).
 *
 *   spawn_probe report FILE [ARGS...]  write "key=value" lines to FILE
 *   spawn_probe cat2                   copy stdin to stdout and stderr
 *   spawn_probe interleave N           N lines alternating stdout/stderr
 *   spawn_probe exit CODE | kill SIG | sleep SECONDS
 *   spawn_probe grandchild SECONDS     fork a child that sleeps, then sleep
 *   spawn_probe write TEXT | ewrite TEXT  TEXT to stdout / stderr
 *   spawn_probe flood N                N bytes to stdout, ignoring errors
 *   spawn_probe bind                   bind a TCP port below 1024 on 127.0.0.1:
 *                                      prints "bind=ok" (exit 0) or "bind=ERRNO" (exit 1)
 *   spawn_probe lines TAG N            N lines "TAG i" on stdout, one write each
 *   spawn_probe daemonize SECONDS      fork; the child calls setsid and forks a
 *                                      grandchild sleeping SECONDS, then exits;
 *                                      prints the grandchild's pid, sleeps SECONDS
 *   spawn_probe hop N                  escape by pid hopping: fork, the parent
 *                                      exits, the child calls setsid and goes on,
 *                                      N times (then exits); prints "hopping" first */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int full_write(int fd, const char *b, size_t n)
{
        while (n) {
                ssize_t w = write(fd, b, n);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return -1;
                }
                b += w;
                n -= (size_t)w;
        }
        return 0;
}

/* Copies the SigBlk/SigIgn/SigCgt lines of /proc/self/status. */
static void proc_status(FILE *out)
{
        FILE *f = fopen("/proc/self/status", "re");
        if (!f)
                return;
        char line[512];
        while (fgets(line, sizeof(line), f)) {
                if (strncmp(line, "SigBlk:", 7) == 0 || strncmp(line, "SigIgn:", 7) == 0 ||
                    strncmp(line, "SigCgt:", 7) == 0 || strncmp(line, "CapInh:", 7) == 0 ||
                    strncmp(line, "CapPrm:", 7) == 0 || strncmp(line, "CapEff:", 7) == 0 ||
                    strncmp(line, "CapBnd:", 7) == 0 || strncmp(line, "CapAmb:", 7) == 0) {
                        char *v = line + 7;
                        while (*v == ' ' || *v == '\t')
                                v++;
                        line[6] = '\0';
                        fprintf(out, "%s=%s", line, v);
                }
        }
        fclose(f);
}

static int report(int argc, char **argv)
{
        /* The fd list first, before this program opens anything. */
        char fdlines[65536];
        size_t fl = 0;
        fdlines[0] = '\0';
        DIR *d = opendir("/proc/self/fd");
        int dfd = d ? dirfd(d) : -1;
        struct dirent *de;
        while (d && (de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                int fd = atoi(de->d_name);
                if (fd == dfd)
                        continue;
                char target[PATH_MAX];
                char link[64];
                snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
                ssize_t n = readlink(link, target, sizeof(target) - 1);
                target[n < 0 ? 0 : n] = '\0';
                int fdfl = fcntl(fd, F_GETFD), stfl = fcntl(fd, F_GETFL);
                int w = snprintf(fdlines + fl, sizeof(fdlines) - fl, "fd.%d=%s\nfdflags.%d=%d,%o\n",
                                 fd, target, fd, fdfl, stfl & (O_ACCMODE | O_NONBLOCK | O_APPEND));
                if (w > 0 && (size_t)w < sizeof(fdlines) - fl)
                        fl += (size_t)w;
        }
        if (d)
                closedir(d);

        FILE *out = fopen(argv[2], "we");
        if (!out)
                return 99;
        fputs(fdlines, out);
        fprintf(out, "argc=%d\n", argc);
        for (int i = 0; i < argc; i++)
                fprintf(out, "argv.%d=%s\n", i, argv[i]);
        for (char **e = environ; e && *e; e++)
                fprintf(out, "env.%s\n", *e);
        char cwd[PATH_MAX];
        if (getcwd(cwd, sizeof(cwd)))
                fprintf(out, "cwd=%s\n", cwd);
        mode_t m = umask(0);
        fprintf(out, "umask=%04o\n", (unsigned)m);
        uid_t r, e, s;
        getresuid(&r, &e, &s);
        fprintf(out, "uid=%u,%u,%u\n", r, e, s);
        gid_t gr, ge, gs;
        getresgid(&gr, &ge, &gs);
        fprintf(out, "gid=%u,%u,%u\n", gr, ge, gs);
        gid_t groups[256];
        int ng = getgroups(256, groups);
        fprintf(out, "groups=");
        for (int i = 0; i < ng; i++)
                fprintf(out, "%s%u", i ? "," : "", groups[i]);
        fprintf(out, "\n");
        errno = 0;
        fprintf(out, "nice=%d\n", getpriority(PRIO_PROCESS, 0));
        static const struct {
                const char *name;
                int res;
        } lims[] = {{"NOFILE", RLIMIT_NOFILE}, {"CORE", RLIMIT_CORE}, {"NPROC", RLIMIT_NPROC},
                    {"STACK", RLIMIT_STACK},   {"CPU", RLIMIT_CPU},   {"FSIZE", RLIMIT_FSIZE}};
        for (size_t i = 0; i < sizeof(lims) / sizeof(lims[0]); i++) {
                struct rlimit rl;
                getrlimit(lims[i].res, &rl);
                fprintf(out, "rlimit.%s=%lld,%lld\n", lims[i].name,
                        rl.rlim_cur == RLIM_INFINITY ? -1LL : (long long)rl.rlim_cur,
                        rl.rlim_max == RLIM_INFINITY ? -1LL : (long long)rl.rlim_max);
        }
        proc_status(out);
        /* The same through sigaction(), which works without /proc. */
        unsigned long long dign = 0, dcgt = 0;
        for (int sig = 1; sig <= 64; sig++) {
                struct sigaction sa;
                if (sigaction(sig, NULL, &sa) < 0)
                        continue;
                if (sa.sa_handler == SIG_IGN)
                        dign |= 1ULL << (sig - 1);
                else if (sa.sa_handler != SIG_DFL)
                        dcgt |= 1ULL << (sig - 1);
        }
        fprintf(out, "dispign=%016llx\ndispcgt=%016llx\n", dign, dcgt);
        fprintf(out, "pid=%d\nppid=%d\nsid=%d\npgid=%d\n", getpid(), getppid(), getsid(0),
                getpgid(0));
        fprintf(out, "nnp=%d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
        int pds = -1;
        prctl(PR_GET_PDEATHSIG, &pds, 0, 0, 0);
        fprintf(out, "pdeathsig=%d\n", pds);
        int ctty = open("/dev/tty", O_RDONLY | O_NOCTTY | O_CLOEXEC);
        fprintf(out, "ctty=%d\n", ctty >= 0);
        if (ctty >= 0)
                close(ctty);
        fprintf(out, "tcpgrp0=%d\n", tcgetpgrp(0));
        FILE *oom = fopen("/proc/self/oom_score_adj", "re");
        int adj = -9999;
        if (oom) {
                if (fscanf(oom, "%d", &adj) != 1)
                        adj = -9999;
                fclose(oom);
        }
        fprintf(out, "oom_score_adj=%d\n", adj);
        long iop = syscall(SYS_ioprio_get, 1 /* IOPRIO_WHO_PROCESS */, 0);
        fprintf(out, "ioprio=%ld,%ld\n", iop < 0 ? -1 : iop >> 13, iop < 0 ? -1 : iop & 0xff);
        struct sched_param sp = {0};
        sched_getparam(0, &sp);
        fprintf(out, "sched=%d,%d\n", sched_getscheduler(0), sp.sched_priority);
        FILE *cg = fopen("/proc/self/cgroup", "re");
        char cgl[512];
        while (cg && fgets(cgl, sizeof(cgl), cg))
                if (strncmp(cgl, "0::", 3) == 0)
                        fprintf(out, "cgroup=%s", cgl + 3);
        if (cg)
                fclose(cg);
        fprintf(out, "end=1\n");
        return fclose(out) == 0 ? 0 : 98;
}

int main(int argc, char **argv)
{
        if (argc < 2)
                return 2;
        const char *mode = argv[1];
        if (strcmp(mode, "report") == 0 && argc >= 3)
                return report(argc, argv);
        if (strcmp(mode, "cat2") == 0) {
                static char buf[1 << 16];
                for (;;) {
                        ssize_t n = read(0, buf, sizeof(buf));
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0)
                                return n < 0 ? 3 : 0;
                        if (full_write(1, buf, (size_t)n) < 0 || full_write(2, buf, (size_t)n) < 0)
                                return 4;
                }
        }
        if (strcmp(mode, "interleave") == 0 && argc >= 3) {
                int n = atoi(argv[2]);
                for (int i = 0; i < n; i++) {
                        char line[64];
                        int fd = i % 2 ? 2 : 1;
                        int len =
                            snprintf(line, sizeof(line), "%s %d\n", fd == 1 ? "out" : "err", i);
                        full_write(fd, line, (size_t)len);
                }
                return 0;
        }
        if (strcmp(mode, "exit") == 0 && argc >= 3)
                return atoi(argv[2]);
        if (strcmp(mode, "kill") == 0 && argc >= 3) {
                int sig = atoi(argv[2]);
                signal(sig, SIG_DFL);
                raise(sig);
                return 5;
        }
        if (strcmp(mode, "sleep") == 0 && argc >= 3) {
                sleep((unsigned)atoi(argv[2]));
                return 0;
        }
        if (strcmp(mode, "grandchild") == 0 && argc >= 3) {
                pid_t p = fork();
                if (p == 0) {
                        /* Report the grandchild's pid on stdout, then linger. */
                        printf("%d\n", getpid());
                        fflush(stdout);
                        sleep((unsigned)atoi(argv[2]));
                        _exit(0);
                }
                sleep((unsigned)atoi(argv[2]));
                waitpid(p, NULL, 0);
                return 0;
        }
        if (strcmp(mode, "write") == 0 && argc >= 3)
                return full_write(1, argv[2], strlen(argv[2])) ? 6 : 0;
        if (strcmp(mode, "ewrite") == 0 && argc >= 3)
                return full_write(2, argv[2], strlen(argv[2])) ? 6 : 0;
        if (strcmp(mode, "flood") == 0 && argc >= 3) {
                static char buf[1 << 16];
                memset(buf, 'x', sizeof(buf));
                long long n = atoll(argv[2]);
                while (n > 0) {
                        size_t k = n > (long long)sizeof(buf) ? sizeof(buf) : (size_t)n;
                        if (full_write(1, buf, k) < 0)
                                return 7;
                        n -= (long long)k;
                }
                return 0;
        }
        if (strcmp(mode, "bind") == 0) {
                int e = 0;
                for (int port = 600; port < 1024; port++) {
                        int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                        if (s < 0)
                                return 8;
                        struct sockaddr_in a = {.sin_family = AF_INET,
                                                .sin_port = htons((uint16_t)port),
                                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
                        e = bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 ? 0 : errno;
                        close(s);
                        if (e != EADDRINUSE)
                                break;
                }
                printf("bind=%s\n", e == 0 ? "ok" : e == EACCES ? "EACCES" : strerror(e));
                return e == 0 ? 0 : 1;
        }
        if (strcmp(mode, "lines") == 0 && argc >= 4) {
                int n = atoi(argv[3]);
                for (int i = 0; i < n; i++) {
                        char line[256];
                        int len = snprintf(line, sizeof(line), "%s %d\n", argv[2], i);
                        if (full_write(1, line, (size_t)len) < 0)
                                return 7;
                }
                return 0;
        }
        if (strcmp(mode, "hop") == 0 && argc >= 3) {
                long n = atol(argv[2]);
                full_write(1, "hopping\n", 8);
                for (long i = 0; i < n; i++) {
                        pid_t p = fork();
                        if (p < 0)
                                continue;
                        if (p > 0)
                                _exit(0);
                        setsid();
                }
                return 0;
        }
        if (strcmp(mode, "daemonize") == 0 && argc >= 3) {
                unsigned secs = (unsigned)atoi(argv[2]);
                int pfd[2];
                if (pipe(pfd) < 0)
                        return 9;
                pid_t p = fork();
                if (p == 0) {
                        setsid();
                        pid_t g = fork();
                        if (g == 0) {
                                close(pfd[0]);
                                char b[32];
                                int len = snprintf(b, sizeof(b), "%d\n", getpid());
                                full_write(pfd[1], b, (size_t)len);
                                close(pfd[1]);
                                sleep(secs);
                                _exit(0);
                        }
                        _exit(0);
                }
                close(pfd[1]);
                waitpid(p, NULL, 0);
                char b[32];
                ssize_t n = read(pfd[0], b, sizeof(b) - 1);
                if (n <= 0)
                        return 10;
                full_write(1, b, (size_t)n);
                sleep(secs);
                return 0;
        }
        return 2;
}
