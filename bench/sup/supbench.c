/* SPDX-License-Identifier: MIT */
/* The measurer of bench/sup.  Runs one supervisor (CMD) as PID 1 of a new
 * pid namespace (`unshare -fp --mount-proc --kill-child`), follows its
 * process tree through the kernel's proc connector (netlink, CN_IDX_PROC:
 * fork / exec / exit with the kernel's CLOCK_MONOTONIC timestamps; needs
 * root) and measures, by the kernel's clock, not by polling:
 *   cold      from the supervisor's exec to the exec of its N-th service
 *   pss       PSS (smaps_rollup) of the supervision processes, services excluded
 *   idle      context switches per second of those processes (all their
 *             threads) over S seconds, 2 s after the last service started
 *   rounds    SIGKILL one service (one that ran >= --min-uptime, 1.5 s), then
 *             exit->fork, kill->fork and exit->exec of its replacement
 *   orphans   M orphans made inside the namespace (bench/sup/orph through
 *             nsenter): time from their parent's exit until the last one is
 *             reaped (reaping has no kernel event: kill(pid, 0) is polled
 *             every 100 us for that one figure)
 * Services are recognised by /proc/PID/exe == SVC at their exec.
 * Prints "R LABEL KEY VALUE" lines (one per sample for latencies).
 * Usage: supbench --label L --svc SVC --n N [--rounds R] [--idle S]
 *                 [--orph ORPH --orphans M] [--timeout S] [--min-uptime S]
 *                 -- CMD... */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { T_NONE, T_PEER, T_ORPH };

struct proc {
        uint8_t tree; /* T_* */
        bool svc, alive;
        pid_t ppid;
        uint64_t fork_ts, exec_ts;
};

static struct proc *tab;
static long pid_max;
static int nl = -1;
static const char *svc_path, *label = "peer";
static char svc_real[PATH_MAX];
static long want_n, svc_alive, svc_execs;
static uint64_t nth_exec_ts;
static pid_t root = -1, pid1 = -1, orph_root = -1, orph_pid = -1;
static uint64_t pid1_exec_ts, orph_exit_ts;
static pid_t *orphans;
static long norphans, orphans_seen;
static volatile sig_atomic_t stop;
static unsigned long lost;

/* the kill round in progress */
static pid_t tgt, tgt_ppid, new_pid;
static uint64_t tgt_exit_ts, new_fork_ts, new_exec_ts;

static uint64_t now_ns(void)
{
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static bool is_svc(pid_t pid)
{
        char path[64], buf[PATH_MAX];
        snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
        ssize_t n = readlink(path, buf, sizeof(buf) - 1);
        if (n <= 0)
                return false;
        buf[n] = 0;
        return strcmp(buf, svc_real) == 0;
}

static void on_fork(pid_t parent, pid_t child, uint64_t ts)
{
        if (parent <= 0 || parent >= pid_max || child <= 0 || child >= pid_max)
                return;
        struct proc *p = &tab[parent], *c = &tab[child];
        if (child == root || child == orph_root)
                return; /* ours: entered in the table at its fork() */
        memset(c, 0, sizeof(*c));
        if (!p->tree || !p->alive)
                return;
        c->tree = p->tree;
        c->alive = true;
        c->ppid = parent;
        c->fork_ts = ts;
        if (parent == root && pid1 < 0)
                pid1 = child;
        if (parent == orph_pid && orphans_seen < norphans)
                orphans[orphans_seen++] = child;
        if (parent == orph_root && orph_pid < 0)
                orph_pid = child;
}

static void on_exec(pid_t pid, uint64_t ts)
{
        if (pid <= 0 || pid >= pid_max || tab[pid].tree != T_PEER)
                return;
        struct proc *p = &tab[pid];
        if (pid == pid1 && !pid1_exec_ts)
                pid1_exec_ts = ts;
        p->exec_ts = ts;
        if (p->svc || !is_svc(pid))
                return;
        p->svc = true;
        svc_alive++;
        if (++svc_execs == want_n)
                nth_exec_ts = ts;
        if (tgt && !new_pid && p->ppid == tgt_ppid && pid != tgt) {
                new_pid = pid;
                new_fork_ts = p->fork_ts;
                new_exec_ts = ts;
        }
}

static void on_exit_ev(pid_t pid, uint64_t ts)
{
        if (pid <= 0 || pid >= pid_max)
                return;
        struct proc *p = &tab[pid];
        if (pid == tgt && !tgt_exit_ts)
                tgt_exit_ts = ts;
        if (pid == orph_pid)
                orph_exit_ts = ts;
        if (!p->tree || !p->alive)
                return;
        p->alive = false;
        if (p->svc)
                svc_alive--;
}

/* Reads what the connector has queued, waiting up to timeout_ms for the first. */
static void pump(int timeout_ms)
{
        struct pollfd pfd = {.fd = nl, .events = POLLIN};
        if (poll(&pfd, 1, timeout_ms) <= 0)
                return;
        for (;;) {
                char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
                ssize_t n = recv(nl, buf, sizeof(buf), MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == ENOBUFS) {
                                lost++;
                                continue;
                        }
                        return;
                }
                for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
                     h = NLMSG_NEXT(h, n)) {
                        if (h->nlmsg_type != NLMSG_DONE)
                                continue;
                        struct cn_msg *cn = NLMSG_DATA(h);
                        if (cn->id.idx != CN_IDX_PROC || cn->id.val != CN_VAL_PROC)
                                continue;
                        struct proc_event e; /* cn->data is not 8-byte aligned */
                        memset(&e, 0, sizeof(e));
                        memcpy(&e, cn->data, cn->len < sizeof(e) ? cn->len : sizeof(e));
                        const struct proc_event *ev = &e;
                        uint64_t ts = ev->timestamp_ns;
                        switch (ev->what) {
                        case PROC_EVENT_FORK:
                                if (ev->event_data.fork.child_pid == ev->event_data.fork.child_tgid)
                                        on_fork(ev->event_data.fork.parent_tgid,
                                                ev->event_data.fork.child_pid, ts);
                                break;
                        case PROC_EVENT_EXEC:
                                on_exec(ev->event_data.exec.process_tgid, ts);
                                break;
                        case PROC_EVENT_EXIT:
                                if (ev->event_data.exit.process_pid ==
                                    ev->event_data.exit.process_tgid)
                                        on_exit_ev(ev->event_data.exit.process_pid, ts);
                                break;
                        default:
                                break;
                        }
                }
        }
}

static int nl_open(void)
{
        nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_CONNECTOR);
        if (nl < 0)
                return -errno;
        int sz = 64 << 20;
        (void)setsockopt(nl, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz));
        struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC, .nl_pid = 0};
        if (bind(nl, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return -errno;
        /* nlmsghdr, cn_msg, then the op: laid out by hand in one buffer, since
         * cn_msg ends in a flexible array and cannot sit inside a struct. */
        union {
                char b[NLMSG_LENGTH(sizeof(struct cn_msg) + sizeof(enum proc_cn_mcast_op))];
                struct nlmsghdr align;
        } msg;
        memset(&msg, 0, sizeof(msg));
        struct nlmsghdr *h = (struct nlmsghdr *)msg.b;
        struct cn_msg *cn = (struct cn_msg *)NLMSG_DATA(h);
        enum proc_cn_mcast_op op = PROC_CN_MCAST_LISTEN;
        h->nlmsg_len = sizeof(msg.b);
        h->nlmsg_type = NLMSG_DONE;
        h->nlmsg_pid = (unsigned)getpid();
        cn->id.idx = CN_IDX_PROC;
        cn->id.val = CN_VAL_PROC;
        cn->len = sizeof(op);
        memcpy(cn->data, &op, sizeof(op));
        if (send(nl, msg.b, sizeof(msg.b), 0) < 0)
                return -errno;
        return 0;
}

/* Adds every "KEY value" line of a /proc file to *sum. */
static void add_keys(const char *file, const char *const *keys, long long *sum)
{
        FILE *f = fopen(file, "re");
        char line[256];
        while (f && fgets(line, sizeof(line), f))
                for (size_t k = 0; keys[k]; k++)
                        if (strncmp(line, keys[k], strlen(keys[k])) == 0)
                                *sum += atoll(line + strlen(keys[k]));
        if (f)
                fclose(f);
}

/* The supervision processes: the peer's tree, alive, not a service, not
 * unshare itself.  pss: their smaps_rollup Pss (KiB); else the context
 * switches of all their threads. */
static long long sum_sup(bool pss, long *nproc)
{
        static const char *const pss_keys[] = {"Pss:", NULL};
        static const char *const cs_keys[] = {
            "voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:", NULL};
        long long sum = 0;
        long np = 0;
        for (pid_t pid = 1; pid < pid_max; pid++) {
                const struct proc *p = &tab[pid];
                if (p->tree != T_PEER || !p->alive || p->svc || pid == root)
                        continue;
                np++;
                char path[PATH_MAX];
                if (pss) {
                        snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
                        add_keys(path, pss_keys, &sum);
                        continue;
                }
                snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
                DIR *d = opendir(path);
                struct dirent *e;
                while (d && (e = readdir(d))) {
                        if (e->d_name[0] == '.')
                                continue;
                        snprintf(path, sizeof(path), "/proc/%d/task/%.20s/status", (int)pid,
                                 e->d_name);
                        add_keys(path, cs_keys, &sum);
                }
                if (d)
                        closedir(d);
        }
        if (nproc)
                *nproc = np;
        return sum;
}

static void on_signal(int sig)
{
        (void)sig;
        stop = 1;
}

static pid_t spawn_root(char **argv, int in_fd, int out_fd)
{
        pid_t p = fork();
        if (p == 0) {
                (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (in_fd >= 0)
                        dup2(in_fd, 0);
                if (out_fd >= 0)
                        dup2(out_fd, 1);
                signal(SIGINT, SIG_DFL);
                signal(SIGTERM, SIG_DFL);
                execvp(argv[0], argv);
                _exit(127);
        }
        return p;
}

static bool wait_for(bool (*cond)(void), double timeout_s)
{
        uint64_t end = now_ns() + (uint64_t)(timeout_s * 1e9);
        while (!cond()) {
                if (stop || now_ns() > end)
                        return false;
                pump(100);
        }
        return true;
}

static bool all_started(void)
{
        return svc_execs >= want_n && svc_alive >= want_n && pid1_exec_ts;
}

static bool round_done(void)
{
        return tgt_exit_ts && new_pid;
}

static bool orphans_forked(void)
{
        return orphans_seen >= norphans;
}

static void out(const char *key, double v)
{
        printf("R %s %s %.3f\n", label, key, v);
}

int main(int argc, char **argv)
{
        long rounds = 0;
        double idle = 0, timeout = 120, min_up = 1.5;
        const char *orph = NULL;
        int i;
        for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i += 2) { /* OPTION VALUE pairs */
                const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
                if (strcmp(a, "--label") == 0)
                        label = v;
                else if (strcmp(a, "--svc") == 0)
                        svc_path = v;
                else if (strcmp(a, "--n") == 0)
                        want_n = atol(v);
                else if (strcmp(a, "--rounds") == 0)
                        rounds = atol(v);
                else if (strcmp(a, "--idle") == 0)
                        idle = atof(v);
                else if (strcmp(a, "--orph") == 0)
                        orph = v;
                else if (strcmp(a, "--orphans") == 0)
                        norphans = atol(v);
                else if (strcmp(a, "--timeout") == 0)
                        timeout = atof(v);
                else if (strcmp(a, "--min-uptime") == 0)
                        min_up = atof(v);
                else
                        break;
        }
        if (i >= argc - 1 || strcmp(argv[i], "--") != 0 || !svc_path || want_n <= 0 ||
            !realpath(svc_path, svc_real) || (norphans > 0 && !orph)) {
                fprintf(stderr,
                        "usage: supbench --label L --svc SVC --n N [--rounds R] "
                        "[--idle S] [--orph ORPH --orphans M] [--timeout S] [--min-uptime S] "
                        "-- CMD...\n");
                return 100;
        }
        char **cmd = &argv[i + 1];
        FILE *pm = fopen("/proc/sys/kernel/pid_max", "re");
        if (!pm || fscanf(pm, "%ld", &pid_max) != 1)
                pid_max = 4194304;
        if (pm)
                fclose(pm);
        tab = calloc((size_t)pid_max + 1, sizeof(*tab));
        orphans = calloc((size_t)norphans + 1, sizeof(*orphans));
        if (!tab || !orphans)
                return 111;
        int r = nl_open();
        if (r < 0) {
                fprintf(stderr, "supbench: proc connector: %s (needs root)\n", strerror(-r));
                return 111;
        }
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        signal(SIGPIPE, SIG_IGN);

        /* unshare -fp --mount-proc --kill-child CMD...: CMD is PID 1 of its namespace */
        int nargs = 0;
        while (cmd[nargs])
                nargs++;
        char **uargv = calloc((size_t)nargs + 5, sizeof(char *));
        if (!uargv)
                return 111;
        static char u0[] = "unshare", u1[] = "-fp", u2[] = "--mount-proc", u3[] = "--kill-child";
        uargv[0] = u0;
        uargv[1] = u1;
        uargv[2] = u2;
        uargv[3] = u3;
        for (int k = 0; k < nargs; k++)
                uargv[4 + k] = cmd[k];
        /* events are read only in pump(): root is in the table before its first */
        root = spawn_root(uargv, -1, -1);
        if (root > 0 && root < pid_max) {
                tab[root].tree = T_PEER;
                tab[root].alive = true;
        }
        if (root < 0) {
                free(uargv);
                return 111;
        }
        int status = 0;
        if (!wait_for(all_started, timeout)) {
                fprintf(stderr, "supbench: %s: %ld of %ld services running after %.0f s\n", label,
                        svc_alive, want_n, timeout);
                status = 1;
                goto done;
        }
        out("cold_ms", (double)(nth_exec_ts - pid1_exec_ts) / 1e6);
        pump(0);
        long np = 0;
        out("pss_kib", (double)sum_sup(true, &np));
        out("sup_procs", (double)np);
        if (idle > 0) {
                /* settle first: one-off timers of the start (a child's
                 * "stable after 1 s", a scan period) are not idleness */
                uint64_t settle = now_ns() + 2000000000u;
                while (now_ns() < settle && !stop)
                        pump(100);
                long long a = sum_sup(false, NULL);
                uint64_t t = now_ns(), end = t + (uint64_t)(idle * 1e9);
                while (now_ns() < end && !stop)
                        pump(100);
                long long b = sum_sup(false, NULL);
                out("idle_wps", (double)(b - a) / ((double)(now_ns() - t) / 1e9));
        }
        pid_t cursor = 1;
        for (long rd = 0; rd < rounds && !stop; rd++) {
                /* the next service (round robin by pid) that has run >= min_up s */
                pid_t pick = 0;
                for (long k = 0; k < pid_max && !pick; k++) {
                        pid_t p = (pid_t)((cursor + k) % pid_max);
                        const struct proc *e = &tab[p];
                        if (p > 0 && e->tree == T_PEER && e->alive && e->svc &&
                            now_ns() - e->exec_ts > (uint64_t)(min_up * 1e9))
                                pick = p;
                }
                if (!pick) {
                        pump(200);
                        rd--;
                        continue;
                }
                cursor = pick + 1;
                tgt_ppid = tab[pick].ppid;
                tgt_exit_ts = new_fork_ts = new_exec_ts = 0;
                new_pid = 0;
                tgt = pick;
                uint64_t t_kill = now_ns();
                kill(pick, SIGKILL);
                if (!wait_for(round_done, timeout)) {
                        fprintf(stderr, "supbench: %s: no replacement for pid %d\n", label,
                                (int)pick);
                        status = 1;
                        break;
                }
                tgt = 0;
                out("exit_fork_us", (double)(int64_t)(new_fork_ts - tgt_exit_ts) / 1e3);
                out("kill_fork_us", (double)(int64_t)(new_fork_ts - t_kill) / 1e3);
                out("exit_exec_us", (double)(int64_t)(new_exec_ts - tgt_exit_ts) / 1e3);
        }
        if (norphans > 0 && !stop && status == 0) {
                int in[2], outp[2];
                if (pipe2(in, O_CLOEXEC) < 0 || pipe2(outp, O_CLOEXEC) < 0)
                        return 111;
                char pidbuf[32], mbuf[32];
                snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid1);
                snprintf(mbuf, sizeof(mbuf), "%ld", norphans);
                static char n0[] = "nsenter", n1[] = "-t", n3[] = "-p";
                char orphbuf[PATH_MAX];
                snprintf(orphbuf, sizeof(orphbuf), "%s", orph);
                char *nargv[] = {n0, n1, pidbuf, n3, orphbuf, mbuf, NULL};
                orph_root = spawn_root(nargv, in[0], outp[1]);
                if (orph_root > 0 && orph_root < pid_max) {
                        tab[orph_root].tree = T_ORPH;
                        tab[orph_root].alive = true;
                }
                close(in[0]);
                close(outp[1]);
                char line[16] = "";
                ssize_t n = read(outp[0], line, sizeof(line) - 1); /* "ready" */
                if (n <= 0 || !wait_for(orphans_forked, timeout)) {
                        fprintf(stderr, "supbench: %s: orphan maker failed\n", label);
                        status = 1;
                } else {
                        (void)!write(in[1], "\n", 1); /* its exit orphans them */
                        uint64_t end = now_ns() + (uint64_t)(timeout * 1e9), t_last = 0;
                        long left = norphans, k0 = 0;
                        while (left > 0 && now_ns() < end && !stop) {
                                struct timespec ts = {0, 100000};
                                nanosleep(&ts, NULL);
                                pump(0);
                                for (long k = k0; k < norphans; k++) {
                                        if (orphans[k] <= 0 || kill(orphans[k], 0) == 0 ||
                                            errno != ESRCH)
                                                continue;
                                        orphans[k] = 0;
                                        left--;
                                        t_last = now_ns();
                                }
                                while (k0 < norphans && orphans[k0] == 0)
                                        k0++;
                        }
                        while (!orph_exit_ts && now_ns() < end && !stop)
                                pump(100);
                        if (left > 0) {
                                fprintf(stderr, "supbench: %s: %ld of %ld orphans not reaped\n",
                                        label, left, norphans);
                                out("orphans_left", (double)left);
                        } else {
                                out("reap_ms", (double)(int64_t)(t_last - orph_exit_ts) / 1e6);
                        }
                }
                close(in[1]);
                close(outp[0]);
                kill(orph_root, SIGKILL);
                waitpid(orph_root, NULL, 0);
        }
done:
        if (lost)
                fprintf(stderr, "supbench: %s: the connector dropped events %lu times\n", label,
                        lost);
        /* SIGKILL to the namespace's init takes everything in it; unshare
         * exits once that init is gone, so its exit means a clean slate */
        kill(pid1 > 0 ? pid1 : root, SIGKILL);
        waitpid(root, NULL, 0);
        fflush(stdout);
        free(uargv);
        free(orphans);
        free(tab);
        return stop ? 130 : status;
}
