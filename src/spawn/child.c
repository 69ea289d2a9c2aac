/* SPDX-License-Identifier: MIT */
/* The child side of a spawn and the clone that starts it.  The child is
 * created with clone3(CLONE_VM | CLONE_VFORK | CLONE_FILES | CLONE_PIDFD | CLONE_CLEAR_SIGHAND)
 * (or clone() with every signal blocked where clone3 is missing) on a stack
 * carved from the caller's frame.  It runs only raw system calls and reports
 * a failed step by writing into the parent's memory, which CLONE_VM shares and
 * CLONE_VFORK keeps still until the child execs or exits. */
#include "spawn-internal.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#ifndef CLONE_CLEAR_SIGHAND
#        define CLONE_CLEAR_SIGHAND 0x100000000ULL
#endif
#ifndef SYS_clone3
#        define SYS_clone3 435
#endif
#ifndef CLONE_INTO_CGROUP
#        define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef PR_CAP_AMBIENT
#        define PR_CAP_AMBIENT 47
#        define PR_CAP_AMBIENT_RAISE 2
#endif

/* capget/capset, version 3 (two 32-bit words per set). */
#define PK__CAP_V3 0x20080522
#define PK__CAP_SETPCAP 8
struct pk__cap_hdr {
        uint32_t version;
        int pid;
};
struct pk__cap_data {
        uint32_t effective, permitted, inheritable;
};

/* What the child gets: the plan, and whether the kernel already reset every
 * handled signal to default (clone3's CLONE_CLEAR_SIGHAND; SIG_IGN survives). */
struct pk__child_arg {
        const struct pk__plan *plan;
        bool handlers_cleared;
        int sigreset;        /* PK__SIGRESET_*: how step 1 finds the signals to reset */
        int cgroup_procs_fd; /* >= 0: the cgroup was not given to clone3; write "0" here */
        unsigned int keep;   /* the parent's descriptors the child copies: those below */
        const int *pidfd;    /* where the kernel wrote the pidfd before the child ran */
};

/* The child's stack lives in pk__spawn_plan()'s frame.  The child's own frames
 * are small (no sanitizer instrumentation, no libc beyond syscall()). */
#define PK__CHILD_STACK 16384

/* ---------------------------------------------------------------------------------------- */
/* The child.  Everything below until the parent section runs between clone and
 * execve in a process that shares the parent's memory: no allocation, no
 * locks, no sanitizer instrumentation, and only syscall().                                  */

#define PK__CHILD __attribute__((noinline, no_sanitize("address", "undefined")))

/* The kernel's struct sigaction layout for rt_sigaction (handler, flags,
 * restorer, 64-bit mask) on x86_64 and aarch64. */
struct pk__ksigaction {
        void (*handler)(int);
        unsigned long flags;
        void (*restorer)(void);
        uint64_t mask;
};

/* Capabilities (see internal.h): raw system calls only. */
PK__CHILD int pk__caps_apply(const struct pk__caps *cp, bool set_uid, int phase, int *ret_step,
                             int *ret_value)
{
        *ret_step = phase == 0 ? PK_SPAWN_STEP_CAPBSET : PK_SPAWN_STEP_CAPS;
        *ret_value = 0;
        if (phase == 0) {
                /* The bounding set, CAP_SETPCAP dropped last (it is what
                 * allows the drops). */
                if (cp->has_bounding) {
                        for (int cap = 0; cap <= cp->cap_last + 1; cap++) {
                                int c = cap <= cp->cap_last ? cap : PK__CAP_SETPCAP;
                                if ((c == PK__CAP_SETPCAP && cap <= cp->cap_last) ||
                                    ((cp->bounding >> c) & 1))
                                        continue;
                                if (syscall(SYS_prctl, PR_CAPBSET_DROP, c, 0, 0, 0) < 0 &&
                                    errno != EINVAL) {
                                        *ret_value = c;
                                        return -errno;
                                }
                        }
                }
                /* Keep the permitted set through setresuid, for the ambient set. */
                *ret_step = PK_SPAWN_STEP_CAPS;
                if (cp->has_ambient && set_uid &&
                    syscall(SYS_prctl, PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
                        return -errno;
                return 0;
        }
        if (!cp->has_ambient)
                return 0;
        /* Permitted and inheritable first (the kernel requires both), then
         * raised one by one.  execve of a plain program then gives them as
         * permitted and effective. */
        struct pk__cap_hdr h = {.version = PK__CAP_V3};
        struct pk__cap_data d[2];
        if (syscall(SYS_capget, &h, d) < 0)
                return -errno;
        for (int i = 0; i < 2; i++) {
                uint32_t amb = (uint32_t)(cp->ambient >> (32 * i));
                if (set_uid) {
                        d[i].permitted = d[i].effective = d[i].inheritable = amb;
                } else {
                        d[i].inheritable |= amb;
                }
        }
        if (syscall(SYS_capset, &h, d) < 0)
                return -errno;
        for (int cap = 0; cap < 64; cap++) {
                if (((cp->ambient >> cap) & 1) &&
                    syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0) {
                        *ret_value = cap;
                        return -errno;
                }
        }
        return 0;
}

PK__CHILD __attribute__((noreturn)) static void child_fail(const struct pk__plan *p, int step,
                                                           int fd, int value)
{
        int e = errno;
        p->err->step = step;
        p->err->err = e ? e : EIO;
        p->err->fd = fd;
        p->err->value = value;
        for (;;)
                syscall(SYS_exit_group, 127);
}

/* Finds "\nKEY" in [buf, end) and parses the hex mask after it; 0 and *ok
 * false if absent. */
PK__CHILD static uint64_t child_hex_field(const char *buf, const char *end, const char *key,
                                          bool *ok)
{
        size_t kl = 0;
        while (key[kl])
                kl++;
        for (const char *p = buf; p + kl < end; p++) {
                if (*p != '\n')
                        continue;
                size_t i = 0;
                while (i < kl && p[1 + i] == key[i])
                        i++;
                if (i < kl)
                        continue;
                const char *q = p + 1 + kl;
                while (q < end && (*q == ' ' || *q == '\t'))
                        q++;
                uint64_t v = 0;
                int digits = 0;
                for (; q < end; q++, digits++) {
                        char c = *q;
                        int d = c >= '0' && c <= '9'   ? c - '0'
                                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                       : -1;
                        if (d < 0)
                                break;
                        v = v << 4 | (uint64_t)d;
                }
                if (digits == 0)
                        break;
                return v;
        }
        *ok = false;
        return 0;
}

/* The signals whose disposition is not SIG_DFL in this (child) process, from
 * the SigIgn (and, unless the kernel already cleared the handlers, SigCgt)
 * lines of /proc/self/status; all of them if /proc cannot be read.  Read here,
 * after the clone, because only the child's own table is exact: another thread
 * may change the parent's at any moment.  (/proc/self/stat would be shorter
 * but masks them to signals 1-31.) */
PK__CHILD static uint64_t child_nondefault_signals(bool handlers_cleared)
{
        char buf[4096];
        long fd = syscall(SYS_openat, AT_FDCWD, "/proc/self/status", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return ~UINT64_C(0);
        /* One read normally returns the whole file; read on only while the
         * lines wanted are not complete (SigCgt comes after SigIgn). */
        long n = 0;
        bool ok = false;
        uint64_t ign = 0, cgt = 0;
        for (;;) {
                long k = syscall(SYS_read, fd, buf + n, sizeof(buf) - (size_t)n);
                if (k <= 0)
                        break;
                n += k;
                ok = true;
                ign = child_hex_field(buf, buf + n, "SigIgn:", &ok);
                if (!handlers_cleared)
                        cgt = child_hex_field(buf, buf + n, "SigCgt:", &ok);
                if ((ok && buf[n - 1] == '\n') || n == (long)sizeof(buf))
                        break;
        }
        syscall(SYS_close, fd);
        return ok ? ign | cgt : ~UINT64_C(0);
}

/* Whether fd is a target of the map (binary search: targets are sorted). */
PK__CHILD static bool child_is_target(const struct pk__plan *p, int fd)
{
        int lo = 0, hi = p->nmoves - 1;
        while (lo <= hi) {
                int mid = lo + (hi - lo) / 2, t = p->moves[mid].target;
                if (t == fd)
                        return true;
                if (t < fd)
                        lo = mid + 1;
                else
                        hi = mid - 1;
        }
        return false;
}

PK__CHILD static int child_main(void *arg)
{
        const struct pk__child_arg *a = arg;
        const struct pk__plan *p = a->plan;

        /* 0. Into the cgroup first, when clone3 could not put us there. */
        if (a->cgroup_procs_fd >= 0 && syscall(SYS_write, a->cgroup_procs_fd, "0", 1) != 1)
                child_fail(p, PK_SPAWN_STEP_CGROUP, -1, 0);

        /* 0b. A descriptor table of our own.  The clone shared the parent's
         * (CLONE_FILES) instead of copying it; this copies only the descriptors
         * below `keep`, the highest source of the map plus one, and drops the
         * rest, which step 4 would close at exec anyway: a parent holding
         * thousands of descriptors costs the child nothing (Linux 5.9; older
         * kernels copy the whole table).  Nothing touches the table before. */
        if (syscall(SYS_close_range, a->keep, ~0U, CLOSE_RANGE_UNSHARE) < 0 &&
            syscall(SYS_unshare, CLONE_FILES) < 0)
                child_fail(p, PK_SPAWN_STEP_CLOSE, (int)a->keep, 0);
        /* The clone put our pidfd in the shared table, on the lowest free
         * number: on a source that was not open (an optional inherit, or one
         * closed too early) it would pass as that source.  Not ours to keep. */
        int own_pidfd = *(const volatile int *)a->pidfd;
        if (own_pidfd >= 0 && (unsigned int)own_pidfd < a->keep)
                syscall(SYS_close, own_pidfd);

        /* 1. Every disposition back to default (or ignored when asked).  No
         * handler of the parent can run on this shared memory meanwhile: clone3
         * cleared them all (CLONE_CLEAR_SIGHAND), or the parent blocked every
         * signal before clone.  Only the signals that are not already default
         * need a call; three exact ways to know them (bench/spawn compares
         * them, docs/PERFORMANCE.md): /proc/self/status names them (SigIgn,
         * SigCgt) in three calls; resetting all 62 unconditionally costs 62;
         * asking each (the default: never slower in two 9-round runs, 8-15%
         * faster for a tiny child) costs 62 plus one per signal to reset. */
        uint64_t touch = p->a.sig_ignore;
        if (a->sigreset == PK__SIGRESET_STATUS)
                touch |= child_nondefault_signals(a->handlers_cleared);
        else if (a->sigreset == PK__SIGRESET_ALL)
                touch = ~UINT64_C(0);
        struct pk__ksigaction dfl = {.handler = SIG_DFL}, ign = {.handler = SIG_IGN};
        for (int sig = 1; sig <= 64; sig++) {
                if (sig == SIGKILL || sig == SIGSTOP)
                        continue;
                if (a->sigreset == PK__SIGRESET_QUERY && !((touch >> (sig - 1)) & 1)) {
                        struct pk__ksigaction old;
                        if (syscall(SYS_rt_sigaction, sig, NULL, &old, sizeof(uint64_t)) != 0 ||
                            old.handler != SIG_DFL)
                                touch |= UINT64_C(1) << (sig - 1);
                }
                if (!((touch >> (sig - 1)) & 1))
                        continue;
                const struct pk__ksigaction *sa = (p->a.sig_ignore >> (sig - 1)) & 1 ? &ign : &dfl;
                syscall(SYS_rt_sigaction, sig, sa, NULL, sizeof(uint64_t));
        }

        /* 2. Session / process group. */
        if (p->a.setsid) {
                if (syscall(SYS_setsid) < 0)
                        child_fail(p, PK_SPAWN_STEP_SETSID, -1, 0);
        } else if (p->a.setpgid) {
                if (syscall(SYS_setpgid, 0, p->a.pgid) < 0)
                        child_fail(p, PK_SPAWN_STEP_SETPGID, -1, (int)p->a.pgid);
        }

        /* 3. The fd map, placed in ascending target order.  A source that is
         * also a lower target would be overwritten before its turn: such
         * sources (and only those) are first moved above the highest target
         * with F_DUPFD_CLOEXEC, so swaps and cycles need no further ordering. */
        int n = p->nmoves;
        int *src = p->scratch;
        int maxt = n ? p->moves[n - 1].target : -1;
        for (int i = 0; i < n; i++) {
                int s = p->moves[i].src;
                if (s < p->moves[i].target && child_is_target(p, s)) {
                        long r = syscall(SYS_fcntl, s, F_DUPFD_CLOEXEC, maxt + 1);
                        if (r < 0)
                                child_fail(p, PK_SPAWN_STEP_DUP, p->moves[i].target, s);
                        s = (int)r;
                }
                src[i] = s;
        }
        for (int i = 0; i < n; i++) {
                int t = p->moves[i].target;
                long r = src[i] == t ? syscall(SYS_fcntl, t, F_SETFD, 0)
                                     : syscall(SYS_dup3, src[i], t, 0);
                if (r < 0 && !(p->moves[i].optional && errno == EBADF))
                        child_fail(p, PK_SPAWN_STEP_DUP, t, p->moves[i].src);
        }
        if (p->ctty_fd >= 0 && syscall(SYS_ioctl, p->ctty_fd, TIOCSCTTY, 0) < 0)
                child_fail(p, PK_SPAWN_STEP_CTTY, p->ctty_fd, 0);

        /* 4. Everything not in the map is closed, CLOEXEC or not: mark the gaps
         * between targets close-on-exec (one call per gap). */
        unsigned int lo = 0;
        for (int i = 0; i <= n; i++) {
                unsigned int hi = i < n ? (unsigned int)p->moves[i].target : ~0U;
                if (hi > lo) {
                        unsigned int last = i < n ? hi - 1 : ~0U;
                        if (syscall(SYS_close_range, lo, last, CLOSE_RANGE_CLOEXEC) < 0) {
                                if (errno == EINVAL || errno == ENOSYS) {
                                        /* Kernel < 5.11 (no CLOEXEC flag) or < 5.9. */
                                        if (syscall(SYS_close_range, lo, last, 0) < 0) {
                                                struct {
                                                        unsigned long long cur, max;
                                                } nf = {65536, 65536};
                                                syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &nf);
                                                unsigned int top =
                                                    last < nf.cur ? last : (unsigned int)nf.cur;
                                                for (unsigned int fd = lo; fd <= top && fd >= lo;
                                                     fd++)
                                                        syscall(SYS_close, fd);
                                        }
                                } else {
                                        child_fail(p, PK_SPAWN_STEP_CLOSE, (int)lo, 0);
                                }
                        }
                }
                if (i < n)
                        lo = hi + 1;
        }

        /* 5. Limits, priority, umask. */
        for (int i = 0; i < p->a.nrl; i++) {
                struct {
                        unsigned long long cur, max;
                } lim = {p->a.rl[i].soft, p->a.rl[i].hard};
                if (syscall(SYS_prlimit64, 0, p->a.rl[i].resource, &lim, NULL) < 0)
                        child_fail(p, PK_SPAWN_STEP_RLIMIT, -1, p->a.rl[i].resource);
        }
        if (p->a.has_nice && syscall(SYS_setpriority, 0 /* PRIO_PROCESS */, 0, p->a.nice) < 0)
                child_fail(p, PK_SPAWN_STEP_NICE, -1, p->a.nice);
        if (p->a.umask >= 0)
                syscall(SYS_umask, p->a.umask);

        /* 5b. OOM score, I/O and CPU scheduling: before the uid change, which
         * would take the privilege to lower or raise them.  With CLONE_VFORK
         * the kernel keeps the oom_score_adj write to this process although
         * it shares the parent's memory. */
        const struct pk__svc *sv = &p->a.svc;
        if (sv->has_oom) {
                long fd =
                    syscall(SYS_openat, AT_FDCWD, "/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
                size_t len = 0;
                while (sv->oom_str[len])
                        len++;
                if (fd < 0 || syscall(SYS_write, fd, sv->oom_str, len) != (long)len)
                        child_fail(p, PK_SPAWN_STEP_OOM, -1, sv->oom);
                syscall(SYS_close, fd);
        }
        if (sv->has_ioprio &&
            syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, sv->ioprio) < 0)
                child_fail(p, PK_SPAWN_STEP_IOPRIO, -1, sv->ioprio);
        if (sv->has_sched) {
                struct {
                        int prio;
                } sp = {sv->sched_prio};
                if (syscall(SYS_sched_setscheduler, 0, sv->sched_policy, &sp) < 0)
                        child_fail(p, PK_SPAWN_STEP_SCHED, -1, sv->sched_policy);
        }

        /* 5c. The bounding set, while we may still change it (CAP_SETPCAP). */
        int cstep = 0, cval = 0;
        if (pk__caps_apply(&sv->caps, p->set_uid, 0, &cstep, &cval) < 0)
                child_fail(p, cstep, -1, cval);

        /* 5d. The root directory, then "/" inside it: before the uid change,
         * which takes CAP_SYS_CHROOT (chroot(8), systemd's RootDirectory=). */
        if (p->root && (syscall(SYS_chroot, p->root) < 0 || syscall(SYS_chdir, "/") < 0))
                child_fail(p, PK_SPAWN_STEP_CHROOT, -1, 0);

        /* 6. Credentials: groups, then gid, then uid (after which we could not). */
        if (p->set_groups && syscall(SYS_setgroups, p->ngroups, p->groups) < 0)
                child_fail(p, PK_SPAWN_STEP_SETGROUPS, -1, (int)p->ngroups);
        if (p->set_gid && syscall(SYS_setresgid, p->a.gid, p->a.gid, p->a.gid) < 0)
                child_fail(p, PK_SPAWN_STEP_SETGID, -1, (int)p->a.gid);
        if (p->set_uid && syscall(SYS_setresuid, p->a.uid, p->a.uid, p->a.uid) < 0)
                child_fail(p, PK_SPAWN_STEP_SETUID, -1, (int)p->a.uid);

        /* 6b. Ambient capabilities (after the uid change, which clears them). */
        if (pk__caps_apply(&sv->caps, p->set_uid, 1, &cstep, &cval) < 0)
                child_fail(p, cstep, -1, cval);

        /* 7. Working directory, as the final user so its permissions apply. */
        if (p->cwd && syscall(SYS_chdir, p->cwd) < 0)
                child_fail(p, PK_SPAWN_STEP_CHDIR, -1, 0);

        /* 8. Parent-death signal: after the uid change, which clears it.  If
         * the parent already died, the signal would never come: send it now. */
        if (p->a.pdeathsig) {
                if (syscall(SYS_prctl, PR_SET_PDEATHSIG, p->a.pdeathsig, 0, 0, 0) < 0)
                        child_fail(p, PK_SPAWN_STEP_PDEATHSIG, -1, p->a.pdeathsig);
                if (syscall(SYS_getppid) != p->parent_pid)
                        syscall(SYS_kill, syscall(SYS_getpid), p->a.pdeathsig);
        }
        if (p->a.nnp && syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                child_fail(p, PK_SPAWN_STEP_NNP, -1, 0);

        /* 9. The signal mask the program starts with, then exec. */
        uint64_t mask = p->a.sig_block;
        if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, &mask, NULL, sizeof(mask)) < 0)
                child_fail(p, PK_SPAWN_STEP_SIGMASK, -1, 0);
        /* 10. KEY=<own pid> (LISTEN_PID for socket activation): only the child
         * knows its pid as its own namespace numbers it. */
        if (p->pid_slot) {
                char digits[PK__PID_SLOT];
                long pid = syscall(SYS_getpid);
                int nd = 0;
                do {
                        digits[nd++] = (char)('0' + pid % 10);
                        pid /= 10;
                } while (pid > 0 && nd < PK__PID_SLOT - 1);
                for (int i = 0; i < nd; i++)
                        p->pid_slot[i] = digits[nd - 1 - i];
                p->pid_slot[nd] = '\0';
        }
        syscall(SYS_execve, p->path, p->argv, p->envp);
        child_fail(p, PK_SPAWN_STEP_EXEC, -1, 0);
}

/* ---------------------------------------------------------------------------------------- */
/* The parent.                                                                               */

#if defined(__x86_64__) || defined(__aarch64__)
#        define PK__HAVE_CLONE3 1

/* clone3's argument block up to version 2 (cgroup, Linux 5.7); version 0
 * (64 bytes, Linux 5.3) is passed when no cgroup is asked for. */
struct pk__clone_args {
        uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
        uint64_t set_tid, set_tid_size, cgroup;
};
#        define PK__CLONE_ARGS_V0 64

/* clone3 with the child calling fn(arg) on the new stack and exiting with its
 * result; returns the pid or -errno in the parent.  Assembly because right
 * after the system call the child runs on a stack without frames, where no
 * compiled code of this function may run (glibc exports no clone3 wrapper). */
static long clone3_run(struct pk__clone_args *ca, size_t size, int (*fn)(void *), void *arg)
{
#        if defined(__x86_64__)
        register long rax __asm__("rax") = SYS_clone3;
        register struct pk__clone_args *rdi __asm__("rdi") = ca;
        register unsigned long rsi __asm__("rsi") = size;
        register int (*r12)(void *) __asm__("r12") = fn;
        register void *r13 __asm__("r13") = arg;
        __asm__ volatile("syscall\n\t"
                         "test %%rax, %%rax\n\t"
                         "jnz 1f\n\t"
                         "xor %%ebp, %%ebp\n\t"
                         "mov %%r13, %%rdi\n\t"
                         "call *%%r12\n\t"
                         "mov %%eax, %%edi\n\t"
                         "mov $231, %%eax\n\t" /* exit_group */
                         "syscall\n\t"
                         "ud2\n"
                         "1:"
                         : "+r"(rax)
                         : "r"(rdi), "r"(rsi), "r"(r12), "r"(r13)
                         : "rcx", "r11", "memory", "cc");
        return rax;
#        else
        register long x0 __asm__("x0") = (long)ca;
        register long x1 __asm__("x1") = (long)size;
        register long x2 __asm__("x2") = (long)fn;
        register long x3 __asm__("x3") = (long)arg;
        register long x8 __asm__("x8") = SYS_clone3;
        __asm__ volatile("svc #0\n\t"
                         "cbnz x0, 1f\n\t"
                         "mov x29, xzr\n\t"
                         "mov x0, x3\n\t"
                         "blr x2\n\t"
                         "mov x8, #94\n\t" /* exit_group */
                         "svc #0\n\t"
                         "brk #0\n"
                         "1:"
                         : "+r"(x0)
                         : "r"(x1), "r"(x2), "r"(x3), "r"(x8)
                         : "memory", "cc");
        return x0;
#        endif
}

/* Set once clone3 with CLONE_CLEAR_SIGHAND is refused (kernel < 5.5, or a
 * seccomp filter refusing clone3): every later spawn uses clone(). */
static atomic_bool clone3_missing;
#endif
/* Set once clone3 refuses CLONE_INTO_CGROUP (kernel < 5.7): the child then
 * writes its cgroup.procs itself. */
static atomic_bool into_cgroup_missing;

/* How the child finds the signals to reset (bench only; 0, the default: ask each signal). */
static atomic_int sigreset_mode;

void pk__spawn_bench_sigreset(int mode)
{
        atomic_store(&sigreset_mode, mode);
}

void pk__spawn_test_fallback(int mode)
{
#ifdef PK__HAVE_CLONE3
        atomic_store(&clone3_missing, mode == 2);
#endif
        atomic_store(&into_cgroup_missing, mode >= 1);
}

/* Whether clone3 failed on the cgroup rather than on the process (the
 * errors of cgroup_css_set_fork() and cgroup_can_fork()). */
static bool cgroup_errno(long e)
{
        return e == -EBUSY || e == -EACCES || e == -EBADF || e == -EOPNOTSUPP || e == -ENODEV ||
               e == -ENOENT;
}

/* The cgroup's cgroup.procs, opened for the child to write "0" into. */
static int open_procs(int cgroup_dirfd)
{
        int fd = openat(cgroup_dirfd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

/* One more than the highest descriptor the map reads: what the child copies. */
static unsigned int plan_keep(const struct pk__plan *plan)
{
        int top = -1;
        for (int i = 0; i < plan->nmoves; i++)
                if (plan->moves[i].src > top)
                        top = plan->moves[i].src;
        return (unsigned int)(top + 1);
}

int pk__spawn_plan(const struct pk__plan *plan, pid_t *ret_pid, int *ret_pidfd)
{
        /* The child's stack: the parent is suspended (CLONE_VFORK) while the
         * child uses it, so a piece of this frame serves without an mmap. */
        _Alignas(64) char stack[PK__CHILD_STACK];
        int pidfd = -1;
        *plan->err = (struct pk__child_err){0};
        struct pk__child_arg arg = {.plan = plan,
                                    .cgroup_procs_fd = -1,
                                    .sigreset = atomic_load(&sigreset_mode),
                                    .keep = plan_keep(plan),
                                    .pidfd = &pidfd};
        long pid = -ENOSYS;
        int cgfd = plan->a.svc.cgroup_fd;
        bool into = cgfd >= 0 && !atomic_load_explicit(&into_cgroup_missing, memory_order_relaxed);
        if (cgfd >= 0 && !into) {
                arg.cgroup_procs_fd = open_procs(cgfd);
                if (arg.cgroup_procs_fd < 0) {
                        pid = arg.cgroup_procs_fd;
                        goto cgroup_failed;
                }
        }
        int flags = CLONE_VM | CLONE_VFORK | CLONE_PIDFD | CLONE_FILES;
        if (plan->clone_parent)
                flags |= CLONE_PARENT;

#ifdef PK__HAVE_CLONE3
        if (!atomic_load_explicit(&clone3_missing, memory_order_relaxed)) {
                /* The kernel resets every handled signal in the child, so no
                 * parent handler can run there: no need to block signals. */
                arg.handlers_cleared = true;
                struct pk__clone_args ca = {
                    .flags = (uint64_t)flags | CLONE_CLEAR_SIGHAND,
                    .pidfd = (uintptr_t)&pidfd,
                    .exit_signal = SIGCHLD,
                    .stack = (uintptr_t)stack,
                    .stack_size = sizeof(stack),
                };
                if (into) {
                        ca.flags |= CLONE_INTO_CGROUP;
                        ca.cgroup = (uint64_t)cgfd;
                }
                size_t size = into ? sizeof(ca) : PK__CLONE_ARGS_V0;
                pid = clone3_run(&ca, size, child_main, &arg);
                if (into && (pid == -EINVAL || pid == -E2BIG)) {
                        /* The kernel predates CLONE_INTO_CGROUP. */
                        atomic_store_explicit(&into_cgroup_missing, true, memory_order_relaxed);
                        into = false;
                        arg.cgroup_procs_fd = open_procs(cgfd);
                        if (arg.cgroup_procs_fd < 0) {
                                pid = arg.cgroup_procs_fd;
                                goto cgroup_failed;
                        }
                        ca.flags &= ~CLONE_INTO_CGROUP;
                        ca.cgroup = 0;
                        pid = clone3_run(&ca, PK__CLONE_ARGS_V0, child_main, &arg);
                }
                if (into && cgroup_errno(pid))
                        goto cgroup_failed;
                if (pid == -ENOSYS || pid == -EINVAL || pid == -EPERM) {
                        atomic_store_explicit(&clone3_missing, true, memory_order_relaxed);
                        pid = -ENOSYS;
                }
        }
#endif
        if (pid == -ENOSYS && cgfd >= 0 && arg.cgroup_procs_fd < 0) {
                arg.cgroup_procs_fd = open_procs(cgfd);
                if (arg.cgroup_procs_fd < 0) {
                        pid = arg.cgroup_procs_fd;
                        goto cgroup_failed;
                }
        }
        if (pid == -ENOSYS) {
                /* No parent handler may run in the child on shared memory: block
                 * all (the child inherits the mask, resets dispositions, then
                 * sets its own). */
                arg.handlers_cleared = false;
                sigset_t all, old;
                sigfillset(&all);
                pthread_sigmask(SIG_SETMASK, &all, &old);
                pid = clone(child_main, stack + sizeof(stack), flags | SIGCHLD, &arg, &pidfd);
                pid = pid < 0 ? -errno : pid;
                pthread_sigmask(SIG_SETMASK, &old, NULL);
        }

        if (arg.cgroup_procs_fd >= 0)
                close(arg.cgroup_procs_fd);
        if (pid < 0) {
                plan->err->step = PK_SPAWN_STEP_CLONE;
                plan->err->err = (int)-pid;
                plan->err->fd = -1;
                return (int)pid;
        }
        *ret_pid = (pid_t)pid;
        *ret_pidfd = pidfd;
        if (plan->err->step == PK_SPAWN_STEP_NONE)
                return 0;
        int r = -plan->err->err;
        if (!plan->clone_parent) {
                /* The failed child has exited (VFORK returned): reap it now. */
                siginfo_t si;
                while (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED) < 0 && errno == EINTR)
                        ;
                close(pidfd);
                *ret_pidfd = -1;
        }
        return r;
cgroup_failed:
        if (arg.cgroup_procs_fd >= 0)
                close(arg.cgroup_procs_fd);
        plan->err->step = PK_SPAWN_STEP_CGROUP;
        plan->err->err = (int)-pid;
        plan->err->fd = -1;
        return (int)pid;
}
