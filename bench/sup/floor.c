/* SPDX-License-Identifier: MIT */
/* The floor of bench/sup: the least a supervisor can do.  Starts N copies
 * of PROG with posix_spawn, then blocks in waitpid(-1) and starts a new copy
 * for each one that dies (other pids, orphans when it is PID 1, are just
 * reaped).  No restart policy, no limits, no events.
 * With CGDIR (the floor+cgroup peer), each copy i is born in its own cgroup
 * CGDIR/floor.s<i> (made at start, kept across restarts) by clone3 with
 * CLONE_INTO_CGROUP and the flags glibc's posix_spawn uses (CLONE_VM |
 * CLONE_VFORK): the kernel's cost of a cgroup per service and nothing else,
 * for the portkit+cgroup peer to be measured against.
 * Usage: floor N PROG [CGDIR] */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static char *args[2];

/* clone3 inline: as after vfork, the child runs on our stack (stack 0)
 * while we wait for its execve, so it must not return from a function it
 * did not call; it continues in spawn_into's frame and calls execve. */
static inline __attribute__((always_inline)) long clone3_inline(struct clone_args *ca)
{
        long r;
#if defined(__x86_64__)
        __asm__ volatile("syscall"
                         : "=a"(r)
                         : "0"((long)SYS_clone3), "D"(ca), "S"(sizeof(*ca))
                         : "rcx", "r11", "memory");
#elif defined(__aarch64__)
        register long x8 __asm__("x8") = SYS_clone3;
        register long x0 __asm__("x0") = (long)ca;
        register long x1 __asm__("x1") = (long)sizeof(*ca);
        __asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1) : "memory");
        r = x0;
#else
// cppcheck-suppress preprocessorErrorDirective
#        error "floor.c: add this architecture's clone3"
#endif
        return r;
}

/* PROG born in the cgroup of directory fd cg. */
static __attribute__((noinline)) pid_t spawn_into(int cg)
{
        struct clone_args ca;
        memset(&ca, 0, sizeof(ca));
        ca.flags = CLONE_VM | CLONE_VFORK | CLONE_INTO_CGROUP;
        ca.exit_signal = SIGCHLD;
        ca.cgroup = (uint64_t)cg;
        long pid = clone3_inline(&ca);
        if (pid == 0) {
                syscall(SYS_execve, args[0], args, environ);
                syscall(SYS_exit, 127);
        }
        return (pid_t)pid;
}

static pid_t start(const int *cgs, long i)
{
        pid_t pid = -1;
        if (cgs)
                return spawn_into(cgs[i]);
        return posix_spawn(&pid, args[0], NULL, NULL, args, environ) == 0 ? pid : -1;
}

int main(int argc, char **argv)
{
        if (argc != 3 && argc != 4)
                return 100;
        long n = atol(argv[1]);
        if (n <= 0 || n > 1000000)
                return 100;
        args[0] = argv[2];
        pid_t *pids = calloc((size_t)n, sizeof(*pids));
        int *cgs = argc == 4 ? calloc((size_t)n, sizeof(*cgs)) : NULL;
        int parent = argc == 4 ? open(argv[3], O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
        if (!pids || (argc == 4 && (!cgs || parent < 0)))
                return 111;
        for (long i = 0; i < n; i++) {
                if (cgs) {
                        char name[32];
                        snprintf(name, sizeof(name), "floor.s%ld", i);
                        /* an earlier run's (killed with its namespace) is reused */
                        if ((mkdirat(parent, name, 0755) != 0 && errno != EEXIST) ||
                            (cgs[i] = openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
                                return 111;
                }
                if ((pids[i] = start(cgs, i)) < 0)
                        return 111;
        }
        for (;;) {
                pid_t pid = waitpid(-1, NULL, 0);
                if (pid < 0 && errno == ECHILD)
                        return 111; /* a restart failed: nothing left to wait for */
                if (pid < 0)
                        continue;
                for (long i = 0; i < n; i++)
                        if (pids[i] == pid)
                                pids[i] = start(cgs, i);
        }
}
