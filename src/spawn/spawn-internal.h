/* SPDX-License-Identifier: MIT */
/* The spawn layer's private pieces: the command's representation, the
 * prepared plan the child executes, and the engine entry points shared by
 * pk_spawn(), pk_run(), pipelines and the helper process. */
#ifndef PORTKIT_SPAWN_INTERNAL_H
#define PORTKIT_SPAWN_INTERNAL_H

#include "internal.h"
#include "portkit/fd.h"
#include "portkit/spawn.h"

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

/* Kernel constants older libc headers may lack. */
#ifndef CLONE_PIDFD
#        define CLONE_PIDFD 0x00001000
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#        define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef P_PIDFD
#        define P_PIDFD 3
#endif
#ifndef SYS_close_range
#        define SYS_close_range 436
#endif

/* One entry of a command's fd map. */
enum pk__fd_kind {
        PK__FD_INHERIT, /* default 0,1,2: the parent's own fd N if open, else closed */
        PK__FD_PARENT,  /* a parent fd */
        PK__FD_PIPE,
        PK__FD_SOCKETPAIR,
        PK__FD_PTY,
        PK__FD_NULL,
        PK__FD_FILE,
        PK__FD_DATA, /* a sealed memfd made from the bytes in path (len of them) */
        PK__FD_SAME, /* what child fd parent_fd gets */
        PK__FD_CLOSED,
};

struct pk__fdspec {
        int child_fd;
        int kind;
        int parent_fd; /* PARENT; the other child fd for SAME */
        int flags;     /* PIPE flags, socket type, open flags */
        mode_t mode;
        char *path; /* FILE; the bytes for DATA */
        size_t len; /* DATA: how many bytes path holds */
};

struct pk__envop {
        char *key;
        char *val; /* NULL: unset */
};

struct pk__rlim {
        int resource;
        unsigned long long soft, hard;
};

#define PK__MAX_RLIMITS 16

/* What services need beyond a plain command (init systems): placement in a
 * cgroup, capabilities, OOM score, I/O and CPU scheduling.  Kept as one
 * struct so the command, the plan and the helper's wire carry it whole. */
struct pk__svc {
        int cgroup_fd;        /* -1: none; borrowed from the caller */
        struct pk__caps caps; /* cap_last read in the parent */
        bool has_oom, has_ioprio, has_sched;
        int oom;          /* -1000..1000 */
        int ioprio;       /* class << 13 | level */
        int sched_policy; /* SCHED_* | SCHED_RESET_ON_FORK */
        int sched_prio;
        char oom_str[8]; /* oom as text, made in the parent */
};

/* What a command sets in its child that is a plain value (no pointer, so
 * the helper's wire sends it as bytes): one struct that the command, the plan
 * and the wire each hold and copy in one piece. */
struct pk__attrs {
        int umask; /* -1: unchanged */
        bool has_nice;
        int nice;
        bool setsid, setpgid;
        pid_t pgid;
        int pdeathsig;
        bool nnp;
        uid_t uid;           /* used when the command's has_uid (the plan's set_uid) */
        gid_t gid;           /* used when has_gid (set_gid) */
        uint64_t sig_ignore; /* bit (sig-1) */
        uint64_t sig_block;
        struct pk__rlim rl[PK__MAX_RLIMITS];
        int nrl;
        struct pk__svc svc;
};

struct pk_cmd {
        char *prog;
        char **argv; /* NULL-terminated; argv[0] is the program as given or pk_cmd_argv0() */
        size_t argc, argv_cap;
        bool env_clear;
        struct pk__envop *env;
        size_t nenv;
        char *cwd;
        char *root;        /* pk_cmd_chroot(), absolute; NULL: none */
        char *search_path; /* pk_cmd_search_path(); NULL: the PATH the child sees */
        struct pk__attrs a;
        bool has_uid, has_gid, has_groups;
        gid_t *groups;
        size_t ngroups;
        bool user_groups; /* groups came from pk_cmd_user(), a later gid/groups call wins */
        bool gid_from_user;
        struct pk__fdspec *fds;
        size_t nfds;
        char *pid_key; /* pk_cmd_env_pid(): KEY set to the child's own pid, or NULL */
};

/* The child's error record: with CLONE_VM the child writes it into the
 * parent's memory before exiting, so no error pipe is needed. */
struct pk__child_err {
        int step;
        int err; /* positive errno */
        int fd;
        int value;
};

/* One dup2 of the map, as the child performs it. */
struct pk__move {
        int target;   /* child fd */
        int src;      /* parent fd (CLOEXEC or not) */
        int optional; /* an inherited 0/1/2: closed in the parent means closed in the child */
};

/* Everything the child needs, prepared by the parent: read-only in the child. */
struct pk__plan {
        const char *path;
        char *const *argv;
        char *const *envp;
        const char *cwd;
        const char *root; /* chroot() then chdir("/"), before the credentials; NULL: none */
        struct pk__attrs a;
        pid_t parent_pid;
        bool set_groups, set_gid, set_uid;
        const gid_t *groups;
        size_t ngroups;
        const struct pk__move *moves; /* sorted by target, targets unique */
        int nmoves;
        int *scratch;      /* nmoves ints the child may write */
        int ctty_fd;       /* child fd of the pty slave to make controlling, or -1 */
        bool clone_parent; /* helper: the child becomes the helper's parent's child */
        struct pk__child_err *err;
        /* pk_cmd_env_pid(): PK__PID_SLOT bytes of a per-spawn "KEY=" string in envp,
         * which the child fills with its own pid (the one write it makes outside
         * `scratch` and `err`); NULL: none. */
        char *pid_slot;
};

/* Room for a pid in decimal and its NUL. */
#define PK__PID_SLOT 12

/* Test hook (child.c): 0 normal; 1 never CLONE_INTO_CGROUP (the child
 * writes cgroup.procs itself); 2 never clone3 (clone() and a blocked mask). */
void pk__spawn_test_fallback(int mode);

/* Bench hook (child.c; bench/spawn): how the child finds the signal
 * dispositions to reset, all three exact.  STATUS (the default): SigIgn and
 * SigCgt of /proc/self/status; ALL: 62 unconditional resets; QUERY: asks each
 * signal, resets the ones not default.  Process-wide; not for production. */
enum { PK__SIGRESET_QUERY, PK__SIGRESET_STATUS, PK__SIGRESET_ALL }; /* 0: the default */
void pk__spawn_bench_sigreset(int mode);

/* Runs the plan (child.c): clone + child setup + exec.  Returns 0 with
 * *ret_pid and *ret_pidfd, or a negative errno with plan->err filled (step
 * etc.); reaps a failed child.  Blocks the calling thread's signals around
 * the clone only where clone3 cannot clear the child's handlers. */
int pk__spawn_plan(const struct pk__plan *plan, pid_t *ret_pid, int *ret_pidfd);

/* Overrides pk_run()/pipelines apply to a command without copying it. */
struct pk__override {
        int fd[3];     /* >= 0: child fd 0/1/2 gets this parent fd; -2: /dev/null; -1: as cmd */
        bool own_pgrp; /* setpgid(pgid) unless the command sets a session */
        pid_t pgid;
};

/* pk_spawn() with optional overrides (NULL: none). */
int pk__spawn(const struct pk_cmd *cmd, const struct pk__override *ov, struct pk_proc **ret_proc,
              struct pk_spawn_error *reterr);

/* Runs a prepared plan somewhere (default: pk__spawn_plan in this thread).
 * Same contract as pk__spawn_plan; a failed child must already be reaped.
 * PK__SPAWN_DEFERRED: the plan was sent away; the handle gets no pid yet. */
#define PK__SPAWN_DEFERRED 1
typedef int pk__runner_fn(void *ctx, const struct pk__plan *plan, pid_t *ret_pid, int *ret_pidfd);

/* pk__spawn() with a runner (the helper process uses it). */
int pk__spawn_with(const struct pk_cmd *cmd, const struct pk__override *ov, pk__runner_fn *runner,
                   void *ctx, struct pk_proc **ret_proc, struct pk_spawn_error *reterr);

/* The process handle. */
struct pk__procfd {
        int child_fd;
        int fd;
};

struct pk_proc {
        pid_t pid;
        int pidfd;
        bool reaped;
        bool own_group;
        struct pk_exit status;
        int pty;
        size_t nfds;
        struct pk__procfd fds[];
};

/* Makes a handle owning pidfd and the nfds parent fds in fds[] (taken even on failure). */
struct pk_proc *pk__proc_new(pid_t pid, int pidfd, bool own_group, int pty,
                             const struct pk__procfd *fds, size_t nfds);

#endif
