/* SPDX-License-Identifier: MIT */
/**
 * @file spawn.h
 * @brief Process creation: a command builder, any child fd layout, a process
 *        handle, run-to-completion with captured output, and pipelines.
 *
 * A `pk_cmd` describes everything the child gets.  All preparation (PATH
 * search, environment, pipes, files, user lookup) happens in the parent; the
 * child is created with `clone3(CLONE_VM | CLONE_VFORK | CLONE_PIDFD)` on a
 * small stack and makes only raw system calls before `execve`.  A failed step
 * in the child comes back as a negative errno plus a `pk_spawn_error` naming
 * the step, never as a child exiting 127.
 *
 * Descriptor rule: the child gets exactly the descriptors its command maps.
 * A new command maps 0, 1 and 2 to the parent's 0, 1 and 2 (skipped when the
 * parent's is closed); every other descriptor is closed in the child, whatever
 * the parent has open (CLOEXEC or not).
 *
 * Thread safety: distinct commands may be spawned from any number of threads
 * at once; one `pk_cmd` may be spawned from several threads at once only if
 * no thread modifies it meanwhile.  A `pk_proc` belongs to one thread at a time.
 */
#ifndef PORTKIT_SPAWN_H
#define PORTKIT_SPAWN_H

#include <portkit/error.h>
#include <portkit/loop.h>

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An opaque command description.  Build with pk_cmd_new(), free with pk_cmd_free(). */
struct pk_cmd;
/** An opaque handle on a started child.  Free with pk_proc_free(). */
struct pk_proc;

/** The step of a spawn that failed (in the parent or in the child). */
enum pk_spawn_step {
        PK_SPAWN_STEP_NONE = 0,  /**< no failure */
        PK_SPAWN_STEP_ARGS,      /**< bad arguments or out of memory in the parent */
        PK_SPAWN_STEP_LOOKUP,    /**< PATH search for the program */
        PK_SPAWN_STEP_PIPE,      /**< creating a pipe, socketpair or pty */
        PK_SPAWN_STEP_OPEN,      /**< opening a file or /dev/null for the fd map */
        PK_SPAWN_STEP_CLONE,     /**< creating the process */
        PK_SPAWN_STEP_SIGNALS,   /**< resetting signal dispositions */
        PK_SPAWN_STEP_SETSID,    /**< setsid() */
        PK_SPAWN_STEP_SETPGID,   /**< setpgid() */
        PK_SPAWN_STEP_DUP,       /**< placing a descriptor of the fd map */
        PK_SPAWN_STEP_CTTY,      /**< making the pty the controlling terminal */
        PK_SPAWN_STEP_CLOSE,     /**< closing the descriptors not in the map */
        PK_SPAWN_STEP_RLIMIT,    /**< setrlimit() */
        PK_SPAWN_STEP_NICE,      /**< setpriority() */
        PK_SPAWN_STEP_SETGROUPS, /**< setgroups() */
        PK_SPAWN_STEP_SETGID,    /**< setresgid() */
        PK_SPAWN_STEP_SETUID,    /**< setresuid() */
        PK_SPAWN_STEP_CHDIR,     /**< chdir() to the working directory */
        PK_SPAWN_STEP_PDEATHSIG, /**< prctl(PR_SET_PDEATHSIG) */
        PK_SPAWN_STEP_NNP,       /**< prctl(PR_SET_NO_NEW_PRIVS) */
        PK_SPAWN_STEP_SIGMASK,   /**< setting the child's signal mask */
        PK_SPAWN_STEP_EXEC,      /**< execve() */
        PK_SPAWN_STEP_HELPER,    /**< talking to the spawn helper process */
        PK_SPAWN_STEP_CGROUP,    /**< placing the child in its cgroup */
        PK_SPAWN_STEP_CAPBSET,   /**< dropping from the capability bounding set */
        PK_SPAWN_STEP_CAPS,      /**< capset() / raising the ambient capabilities */
        PK_SPAWN_STEP_OOM,       /**< writing /proc/self/oom_score_adj */
        PK_SPAWN_STEP_IOPRIO,    /**< ioprio_set() */
        PK_SPAWN_STEP_SCHED,     /**< sched_setscheduler() */
        PK_SPAWN_STEP_CHROOT     /**< chroot() to the root directory, or chdir("/") in it */
};

/** Size of pk_spawn_error.path, including the terminating NUL. */
#define PK_SPAWN_ERROR_PATH 512

/**
 * Where a spawn failed.  Filled by pk_spawn() and friends on failure only;
 * `code` is the same negative code the call returned.
 */
struct pk_spawn_error {
        int step;  /**< an enum pk_spawn_step */
        int code;  /**< negative errno or PK_E* code, as returned */
        int fd;    /**< the child fd involved (DUP, OPEN, PIPE, CTTY), else -1 */
        int value; /**< the resource (RLIMIT), id (SETUID/SETGID) or parent fd (DUP), else 0 */
        char path[PK_SPAWN_ERROR_PATH]; /**< the path or name involved, maybe truncated; "" if none
                                         */
};

/** @brief The short name of a step ("chdir", "execve", ...); never NULL. */
PK_API const char *pk_spawn_step_name(int step);

/**
 * @brief Formats an error as `spawn failed: chdir "/nope": No such file or directory`.
 * @param e   the error (NULL gives "spawn failed").
 * @param buf output buffer, always NUL-terminated when size > 0.
 * @return the length the full message needs (snprintf semantics).
 */
PK_API int pk_spawn_strerror(const struct pk_spawn_error *e, char *buf, size_t size);

/* ---------------------------------------------------------------------------------------- */
/* Command builder.  Every setter copies its strings; returns 0 or a negative errno.          */

/**
 * @brief Creates a command for a program.
 * @param prog an absolute or relative path (contains '/'), or a name searched in
 *        PATH at spawn time (the command's PATH if it sets one, else the parent's).
 *        It is also the default argv[0].
 * @param[out] ret_cmd caller owns; free with pk_cmd_free().
 * @return 0, -EINVAL (NULL or empty prog), -ENOMEM.
 */
PK_API int pk_cmd_new(const char *prog, struct pk_cmd **ret_cmd);

/** @brief Frees a command (NULL accepted). @return NULL. */
PK_API struct pk_cmd *pk_cmd_free(struct pk_cmd *cmd);

/**
 * @brief Copies a command: everything it records (program, argv, environment
 *        changes, cwd, ids, limits, signals, the fd map).  Parent descriptors
 *        mapped with pk_cmd_fd() stay borrowed by both commands.
 * @param cmd the command to copy (borrowed).
 * @param[out] ret_cmd caller owns; free with pk_cmd_free().  Not written on failure.
 * @return 0, -EINVAL (NULL), -ENOMEM.
 */
PK_API int pk_cmd_dup(const struct pk_cmd *cmd, struct pk_cmd **ret_cmd);

/** @brief Appends one argument (after argv[0]). @return 0, -EINVAL, -ENOMEM. */
PK_API int pk_cmd_arg(struct pk_cmd *cmd, const char *arg);

/** @brief Appends a NULL-terminated argument list. @return 0, -EINVAL, -ENOMEM. */
PK_API int pk_cmd_args(struct pk_cmd *cmd, const char *const *args);

/** @brief Sets argv[0] independently of the program path. @return 0, -EINVAL, -ENOMEM. */
PK_API int pk_cmd_argv0(struct pk_cmd *cmd, const char *argv0);

/** @brief Starts the child with an empty environment (later set() calls still apply). */
PK_API int pk_cmd_env_clear(struct pk_cmd *cmd);

/**
 * @brief Sets KEY=VALUE in the child's environment (the last call for a key wins).
 * @return 0, -EINVAL (NULL, empty key or key containing '='), -ENOMEM.
 */
PK_API int pk_cmd_env_set(struct pk_cmd *cmd, const char *key, const char *value);

/** @brief Removes KEY from the child's environment (Erlang's `{"KEY", false}`). */
PK_API int pk_cmd_env_unset(struct pk_cmd *cmd, const char *key);

/**
 * @brief Sets KEY to the child's own pid, written by the child itself just
 *        before execve (systemd's LISTEN_PID: the parent cannot know the pid a
 *        child in another pid namespace sees).  Overrides any pk_cmd_env_set()
 *        or inherited value of KEY.  One such key per command; a later call
 *        replaces it, NULL removes it.
 * @param key the variable name (copied), or NULL.
 * @return 0, -EINVAL (NULL cmd, empty key or key containing '='), -ENOMEM.
 */
PK_API int pk_cmd_env_pid(struct pk_cmd *cmd, const char *key);

/** @brief Sets the working directory (chdir in the child, after the uid change). */
PK_API int pk_cmd_cwd(struct pk_cmd *cmd, const char *dir);

/**
 * @brief Changes the child's root directory, as chroot(8) and systemd's
 *        RootDirectory= do: chroot(@p dir) then chdir("/") in the child, after
 *        the limits, priorities and bounding set and before the groups, gid and
 *        uid change (which would take CAP_SYS_CHROOT).  A pk_cmd_cwd()
 *        directory is then entered inside the new root, as the final user.
 *        The program is found inside the root too: a PATH search (a program
 *        name without '/') looks in @p dir's PATH directories, and a path is
 *        exec'd as the child sees it.  Descriptors of the fd map are opened
 *        by the parent, outside the root.  Needs CAP_SYS_CHROOT: without it
 *        pk_spawn() fails with step PK_SPAWN_STEP_CHROOT and -EPERM.
 * @param dir an absolute path (copied).
 * @return 0, -EINVAL (NULL, or not absolute), -ENAMETOOLONG (PATH_MAX or
 *         more), -ENOMEM.
 */
PK_API int pk_cmd_chroot(struct pk_cmd *cmd, const char *dir);

/**
 * @brief Where a program given by bare name (no '/') is looked up: the
 *        colon-separated directories @p dirs instead of the PATH the child
 *        will see (systemd's ExecSearchPath=).  The child's PATH is not
 *        changed.  Looked up at each spawn, as without it.
 * @param dirs the directories (copied); NULL: back to the child's PATH.
 * @return 0, -EINVAL (no cmd), -ENOMEM.
 */
PK_API int pk_cmd_search_path(struct pk_cmd *cmd, const char *dirs);

/** @brief Sets the child's umask (0..0777). @return 0 or -EINVAL. */
PK_API int pk_cmd_umask(struct pk_cmd *cmd, mode_t mask);

/** @brief Sets the child's absolute nice value (-20..19). @return 0 or -EINVAL. */
PK_API int pk_cmd_nice(struct pk_cmd *cmd, int nice);

/** The value meaning "no limit" for pk_cmd_rlimit(). */
#define PK_RLIM_INFINITY (~(unsigned long long)0)

/**
 * @brief Sets a resource limit (RLIMIT_* from <sys/resource.h>) in the child.
 * @return 0, -EINVAL (unknown resource or soft > hard), -ENOMEM.
 */
PK_API int pk_cmd_rlimit(struct pk_cmd *cmd, int resource, unsigned long long soft,
                         unsigned long long hard);

/** @brief Sets the child's real, effective and saved uid. */
PK_API int pk_cmd_uid(struct pk_cmd *cmd, uid_t uid);

/** @brief Sets the child's real, effective and saved gid. */
PK_API int pk_cmd_gid(struct pk_cmd *cmd, gid_t gid);

/**
 * @brief Runs the child as a named user (or a decimal uid): sets the uid, the
 *        user's primary gid and its supplementary groups (getgrouplist), unless
 *        pk_cmd_gid()/pk_cmd_groups() set them.  Looked up now, in the caller.
 *        A decimal uid with no passwd entry sets the uid only (and clears the
 *        groups): set the gid with pk_cmd_gid().
 * @return 0, PK_ENOUSER, -ENOMEM.
 */
PK_API int pk_cmd_user(struct pk_cmd *cmd, const char *name);

/** @brief Sets the gid from a group name (or decimal gid). @return 0, PK_ENOGROUP. */
PK_API int pk_cmd_group(struct pk_cmd *cmd, const char *name);

/**
 * @brief Sets the supplementary groups (n == 0 clears them).  Without this call
 *        the groups are left as the parent's, except that pk_cmd_user() sets the
 *        user's and pk_cmd_uid() alone clears them when the parent is root (no
 *        root groups for a dropped uid).
 */
PK_API int pk_cmd_groups(struct pk_cmd *cmd, const gid_t *groups, size_t n);

/** @brief The child calls setsid() (new session and process group). */
PK_API int pk_cmd_setsid(struct pk_cmd *cmd);

/** @brief The child joins process group `pgid` (0: its own new group). */
PK_API int pk_cmd_setpgid(struct pk_cmd *cmd, pid_t pgid);

/**
 * @brief The child gets `sig` when the thread that spawned it exits
 *        (PR_SET_PDEATHSIG, set after the uid change; if the parent is already
 *        gone the child gets the signal at once).  0 disables.
 */
PK_API int pk_cmd_pdeathsig(struct pk_cmd *cmd, int sig);

/** @brief Sets PR_SET_NO_NEW_PRIVS in the child. */
PK_API int pk_cmd_no_new_privs(struct pk_cmd *cmd);

/**
 * @brief Signal `sig` starts ignored (SIG_IGN) in the child instead of default.
 * @return 0 or -EINVAL (SIGKILL, SIGSTOP, out of range).
 */
PK_API int pk_cmd_signal_ignore(struct pk_cmd *cmd, int sig);

/** @brief Signal `sig` starts blocked in the child (the mask is otherwise empty). */
PK_API int pk_cmd_signal_block(struct pk_cmd *cmd, int sig);

/* ---- what services need (init systems, supervisors) ---- */

/**
 * @brief Places the child in a cgroup v2 at birth: clone3(CLONE_INTO_CGROUP),
 *        so no instruction of the child runs outside it and nothing it forks
 *        can escape.  On kernels without it (< 5.7) the child writes "0" into
 *        the cgroup's cgroup.procs (opened by the parent) as its first step.
 * @param cgroup_dirfd an O_RDONLY|O_DIRECTORY descriptor of the cgroup
 *        (pk_cgroup_dirfd()), borrowed: it must stay open until pk_spawn()
 *        returns.  -1 removes the setting.
 * @return 0, -EINVAL, -EBADF (not open now).  pk_spawn() then fails with step
 *         PK_SPAWN_STEP_CGROUP and -EBUSY (the cgroup has controllers enabled
 *         for its children: only leaves take processes), -EACCES, -EOPNOTSUPP,
 *         -EBADF (not a cgroup v2 directory), -ENODEV (cgroup being removed).
 */
PK_API int pk_cmd_cgroup(struct pk_cmd *cmd, int cgroup_dirfd);

/** A capability as a bit of the masks below: PK_CAP(CAP_NET_BIND_SERVICE). */
#define PK_CAP(n) ((uint64_t)1 << (n))

/**
 * @brief A capability's number from its name, as capabilities(7) spells it:
 *        "cap_net_bind_service" or "net_bind_service", in any case.
 * @param name the name (NULL is -EINVAL).
 * @return the CAP_* number (0..40), or -EINVAL for a name Linux 6.x does not know.
 */
PK_API int pk_cap_from_name(const char *name);

/**
 * @brief Ambient capabilities the program starts with, kept across the uid
 *        change (pk_cmd_uid()/pk_cmd_user()): e.g. a service running as an
 *        ordinary user that binds port 80 with PK_CAP(CAP_NET_BIND_SERVICE).
 *        The child keeps them permitted through setresuid (PR_SET_KEEPCAPS),
 *        then sets permitted = effective = inheritable = @p caps (when the
 *        uid changes; else adds them to the inheritable set) and raises
 *        each in the ambient set.  The spawning process must hold them.
 *        0 removes the setting.
 * @return 0 or -EINVAL.  pk_spawn() fails with step PK_SPAWN_STEP_CAPS (-EPERM)
 *         when a capability is not ours to give.
 */
PK_API int pk_cmd_ambient_caps(struct pk_cmd *cmd, uint64_t caps);

/**
 * @brief The capability bounding set: every capability not in @p caps is
 *        dropped (PR_CAPBSET_DROP, before the uid change; needs CAP_SETPCAP).
 *        Neither the program nor anything it runs can regain them.
 * @return 0 or -EINVAL.  pk_spawn() fails with step PK_SPAWN_STEP_CAPBSET on -EPERM.
 */
PK_API int pk_cmd_cap_bounding(struct pk_cmd *cmd, uint64_t caps);

/**
 * @brief The child's OOM score adjustment (-1000 never killed .. 1000 killed
 *        first), written to /proc/self/oom_score_adj before the uid change
 *        (lowering it needs CAP_SYS_RESOURCE).
 * @return 0 or -EINVAL (out of range).
 */
PK_API int pk_cmd_oom_score_adj(struct pk_cmd *cmd, int adj);

/** I/O scheduling classes for pk_cmd_ioprio() (as ionice(1)). */
enum pk_ioprio_class {
        PK_IOPRIO_CLASS_NONE = 0, /**< derived from the CPU nice value */
        PK_IOPRIO_CLASS_RT = 1,   /**< real time (needs CAP_SYS_ADMIN) */
        PK_IOPRIO_CLASS_BE = 2,   /**< best effort */
        PK_IOPRIO_CLASS_IDLE = 3  /**< only when the disk is otherwise idle */
};

/**
 * @brief The child's I/O scheduling class and level (0 highest .. 7; ignored
 *        for IDLE), set with ioprio_set before the uid change.
 * @return 0 or -EINVAL.
 */
PK_API int pk_cmd_ioprio(struct pk_cmd *cmd, int ioclass, int level);

/**
 * @brief The child's CPU scheduling policy (SCHED_OTHER, SCHED_BATCH,
 *        SCHED_IDLE with priority 0; SCHED_FIFO, SCHED_RR with 1..99), optionally
 *        | SCHED_RESET_ON_FORK, set with sched_setscheduler before the uid change.
 * @return 0 or -EINVAL.
 */
PK_API int pk_cmd_sched(struct pk_cmd *cmd, int policy, int priority);

/* ---- the descriptor map: child fd N gets ... (a later call for the same N replaces) ---- */

/**
 * @brief Child fd `child_fd` gets a duplicate of the parent's `parent_fd`
 *        (borrowed: it must stay open until pk_spawn() returns).
 * @return 0, -EBADF (parent_fd not open now), -EINVAL, -ENOMEM.
 */
PK_API int pk_cmd_fd(struct pk_cmd *cmd, int child_fd, int parent_fd);

/** pk_cmd_fd_pipe() flags. */
enum {
        PK_PIPE_CHILD_READS = 1 << 0,  /**< the child gets the read end (default for fd 0) */
        PK_PIPE_CHILD_WRITES = 1 << 1, /**< the child gets the write end (default otherwise) */
        PK_PIPE_NONBLOCK = 1 << 2      /**< the parent's end is O_NONBLOCK */
};

/**
 * @brief Child fd N gets one end of a new pipe made at each spawn; the other
 *        end (O_CLOEXEC) is the parent's: pk_proc_fd() / pk_proc_take_fd().
 */
PK_API int pk_cmd_fd_pipe(struct pk_cmd *cmd, int child_fd, int flags);

/**
 * @brief Child fd N gets one end of a new AF_UNIX socketpair of `type`
 *        (SOCK_STREAM or SOCK_SEQPACKET, optionally | SOCK_NONBLOCK for the
 *        parent's end); the other end is the parent's.
 */
PK_API int pk_cmd_fd_socketpair(struct pk_cmd *cmd, int child_fd, int type);

/**
 * @brief Child fd N gets the slave of a pty made at each spawn (all pty
 *        entries of one command share one pty); the master is the parent's
 *        (pk_proc_pty()).  With pk_cmd_setsid() the slave becomes the
 *        child's controlling terminal.
 */
PK_API int pk_cmd_fd_pty(struct pk_cmd *cmd, int child_fd);

/** @brief Child fd N gets /dev/null opened read-write. */
PK_API int pk_cmd_fd_null(struct pk_cmd *cmd, int child_fd);

/**
 * @brief Child fd N gets `path` opened with `flags` (O_RDONLY, O_WRONLY|O_CREAT|O_APPEND,
 *        ...) and `mode`.  The file is opened in the parent at spawn time, with the
 *        parent's credentials, as a shell opens redirections: the error comes back
 *        with the path (step OPEN) and the child does no path lookup.
 */
PK_API int pk_cmd_fd_file(struct pk_cmd *cmd, int child_fd, const char *path, int flags,
                          mode_t mode);

/**
 * @brief Child fd N gets a fresh read-only, sealed memfd holding a copy of
 *        `data`, made at each spawn and positioned at 0 (pk_fd_memfd_data();
 *        systemd's StandardInputData=).  `len` 0 maps /dev/null instead.
 * @param data the bytes, copied (borrowed for the call); NULL only when len is 0.
 * @return 0, -EINVAL, -ENOMEM.
 */
PK_API int pk_cmd_fd_data(struct pk_cmd *cmd, int child_fd, const void *data, size_t len);

/**
 * @brief Child fd N gets the same open file as child fd `other_child_fd`, as a
 *        shell's `N>&M` (e.g. 2 same as 1: stderr into the stdout pipe).
 *        Resolved at each spawn, after every other entry; `other_child_fd`
 *        must then be mapped by another kind of entry (not itself "same as"),
 *        else pk_spawn() fails with -EBADF (step DUP).
 * @return 0, -EINVAL (negative fds, N == M), -ENOMEM.
 */
PK_API int pk_cmd_fd_same_as(struct pk_cmd *cmd, int child_fd, int other_child_fd);

/** @brief Child fd N is closed (removes a mapping, e.g. the default 0, 1, 2). */
PK_API int pk_cmd_fd_close(struct pk_cmd *cmd, int child_fd);

/* ---------------------------------------------------------------------------------------- */
/* Spawning and the process handle.                                                          */

/**
 * @brief Starts a child as `cmd` describes.
 *
 * The calling thread waits until the child has called execve (CLONE_VFORK):
 * a program on a hung network mount stalls it; use pk_spawn_helper_spawn() on
 * hosts that must never block.  Signals are blocked in the calling thread for
 * that time.
 *
 * @param[out] ret_proc caller owns; free with pk_proc_free().  Not written on failure.
 * @param[out] reterr optional; on failure names the step and path.
 * @return 0, or a negative errno (-ENOENT, -EACCES, -EMFILE, -EAGAIN ...) or
 *         PK_ENOUSER.  On failure nothing is left behind: no descriptor, no zombie.
 */
PK_API int pk_spawn(const struct pk_cmd *cmd, struct pk_proc **ret_proc,
                    struct pk_spawn_error *reterr);

/** @brief The child's pid. */
PK_API pid_t pk_proc_pid(const struct pk_proc *p);

/**
 * @brief The child's pidfd (borrowed; closed by pk_proc_free()).  It becomes
 *        readable when the child exits: register it with a loop's child
 *        watcher or poll(), then call pk_proc_wait(p, 0, ...).
 */
PK_API int pk_proc_pidfd(const struct pk_proc *p);

/**
 * @brief The parent's end of the pipe or socketpair mapped on child fd N
 *        (borrowed), or -1 if there is none (or it was taken).  For a pty see
 *        pk_proc_pty().
 */
PK_API int pk_proc_fd(const struct pk_proc *p, int child_fd);

/** @brief Like pk_proc_fd() but the caller owns the descriptor from now on. */
PK_API int pk_proc_take_fd(struct pk_proc *p, int child_fd);

/** @brief The pty master (borrowed), or -1. */
PK_API int pk_proc_pty(const struct pk_proc *p);

/**
 * @brief Waits for the child to exit and reaps it.
 * @param timeout_ms < 0 blocks; 0 only checks; > 0 waits at most that long.
 * @param[out] ret_exit optional; how it ended (see struct pk_exit in loop.h),
 *             written on success.
 * @return 0 (exited, reaped; later calls return the same exit), -ETIMEDOUT
 *         (still running), or a negative errno.
 */
PK_API int pk_proc_wait(struct pk_proc *p, int64_t timeout_ms, struct pk_exit *ret_exit);

/** @brief Sends `sig` through the pidfd (never hits a recycled pid). -ESRCH once reaped. */
PK_API int pk_proc_signal(struct pk_proc *p, int sig);

/**
 * @brief Sends `sig` to the child's process group.  Only for a child that leads
 *        its own group (pk_cmd_setsid() or pk_cmd_setpgid(cmd, 0)): -EINVAL
 *        otherwise, so the caller's own group is never hit.  Works after the
 *        child was reaped too, reaching what is left of its group: through the
 *        pidfd on Linux 6.9+ (never a reused group id), by number before.
 * @return 0, -ESRCH (nobody left in the group), -EPERM, -EINVAL.
 */
PK_API int pk_proc_kill_group(struct pk_proc *p, int sig);

/**
 * @brief Watches the child's exit through a loop: starts `w` (already set up
 *        with pk_loop_child_init()) on the handle's pidfd.  The loop reaps the
 *        child and calls `cb`; there, call pk_proc_set_reaped() so that
 *        pk_proc_wait() returns that status.  Stop the watcher before
 *        pk_proc_free() (which closes the pidfd).
 * @return as pk_loop_child_start_pidfd(); -EINVAL if already reaped.
 */
PK_API int pk_proc_watch(struct pk_proc *p, struct pk_loop_child *w, pk_loop_child_cb cb);

/**
 * @brief Records an exit reaped by someone else (the loop's callback passes
 *        its `ex` on): pk_proc_wait() returns it.  NULL @p ex is ignored.
 */
PK_API void pk_proc_set_reaped(struct pk_proc *p, const struct pk_exit *ex);

/**
 * @brief Frees the handle: closes the pidfd and the parent's fds.  It neither
 *        kills nor waits: a child still running keeps running, and if it was
 *        not reaped by pk_proc_wait() it is reaped by whoever reaps the parent's
 *        children (waitpid(-1), a SIGCHLD handler, or init if the parent exits).
 *        Call pk_proc_signal() and pk_proc_wait() first to end it.  NULL accepted.
 * @return NULL.
 */
PK_API struct pk_proc *pk_proc_free(struct pk_proc *p);

/* ---------------------------------------------------------------------------------------- */
/* Run to completion.                                                                        */

/** What pk_run() does with one of the child's standard streams. */
enum pk_run_stream {
        PK_RUN_DEFAULT = 0, /**< stdin: /dev/null (or the data given); stdout/stderr: capture */
        PK_RUN_CAPTURE,     /**< capture into the result */
        PK_RUN_INHERIT,     /**< whatever the command maps (default: the parent's) */
        PK_RUN_NULL,        /**< /dev/null */
        PK_RUN_MERGE        /**< stderr only: into the stdout capture, in the order written */
};

/** Options of pk_run() and pk_pipeline_run(); zero-initialise and set what you need. */
struct pk_run_opts {
        const void *stdin_data; /**< fed to the child's stdin, then closed (borrowed) */
        size_t stdin_len;       /**< bytes of stdin_data */
        int stdin_mode;     /**< PK_RUN_DEFAULT (data if given, else /dev/null), _INHERIT, _NULL */
        int stdout_mode;    /**< enum pk_run_stream */
        int stderr_mode;    /**< enum pk_run_stream */
        int64_t timeout_ms; /**< <= 0: none.  On expiry the whole process group gets SIGKILL */
        size_t output_cap;  /**< max captured bytes per stream; 0: 64 MiB */
};

/** The result of pk_run(). */
struct pk_run_result {
        struct pk_exit status; /**< how the child ended */
        char *out;             /**< captured stdout (+ stderr if merged), NUL-terminated, or NULL */
        size_t out_len;        /**< bytes in out */
        char *err;             /**< captured stderr, NUL-terminated, or NULL */
        size_t err_len;        /**< bytes in err */
};

/**
 * @brief Runs `cmd` to completion: feeds stdin, captures stdout/stderr, no
 *        deadlock at any size.  The child leads its own process group (unless the
 *        command asks for setsid) so a timeout kills all it started.
 *        The calling thread blocks SIGPIPE during the call.
 * @param opts optional (NULL: defaults).
 * @param[out] ret caller frees with pk_run_result_free(); written on success only.
 * @param[out] reterr optional, as for pk_spawn().
 * @return 0, a spawn error, -ETIMEDOUT (child group killed and reaped),
 *         PK_EOUTPUTCAP (output over the cap: child group killed and reaped).
 */
PK_API int pk_run(const struct pk_cmd *cmd, const struct pk_run_opts *opts,
                  struct pk_run_result *ret, struct pk_spawn_error *reterr);

/** @brief Frees the buffers of a result (NULL accepted) and zeroes it. */
PK_API void pk_run_result_free(struct pk_run_result *r);

/** The result of pk_pipeline_run(). */
struct pk_pipeline_result {
        size_t n;               /**< number of stages */
        struct pk_exit *status; /**< how each stage ended (n entries) */
        int pipefail;           /**< shell status of the last stage that failed, else 0 */
        char *out;              /**< last stage's captured stdout, or NULL */
        size_t out_len;         /**< bytes in out */
        char *err;              /**< captured stderr of all stages, or NULL */
        size_t err_len;         /**< bytes in err */
};

/**
 * @brief Runs `cmds[0] | cmds[1] | ... ` to completion, all stages in one
 *        process group.  stdin_data goes to the first stage; stdout_mode applies
 *        to the last stage's stdout; stderr_mode to every stage's stderr
 *        (MERGE is refused: -EINVAL).
 * @param[out] ret caller frees with pk_pipeline_result_free(); written on success only.
 * @return as pk_run(); reterr->fd is then the failing stage's index.
 */
PK_API int pk_pipeline_run(const struct pk_cmd *const *cmds, size_t n,
                           const struct pk_run_opts *opts, struct pk_pipeline_result *ret,
                           struct pk_spawn_error *reterr);

/** @brief Frees a pipeline result (NULL accepted) and zeroes it. */
PK_API void pk_pipeline_result_free(struct pk_pipeline_result *r);

/* ---------------------------------------------------------------------------------------- */
/* Spawn helper process (opt-in; Erlang's erl_child_setup).                                  */

/** An opaque spawn helper. */
struct pk_spawn_helper;

/**
 * @brief Forks a small long-lived helper process that spawns on the caller's
 *        behalf, so that no thread of the caller ever waits on an execve (hung
 *        NFS).  Call it early, while the process is small.  Children it starts
 *        are the caller's children (CLONE_PARENT): wait for them as usual.
 *        The helper exits when its socket closes (pk_spawn_helper_free()).
 * @param[out] ret caller owns; free with pk_spawn_helper_free().
 * @return 0 or a negative errno.
 */
PK_API int pk_spawn_helper_new(struct pk_spawn_helper **ret);

/**
 * @brief Stops and reaps the helper (children already started keep running). NULL ok.
 * @return NULL.
 */
PK_API struct pk_spawn_helper *pk_spawn_helper_free(struct pk_spawn_helper *h);

/**
 * @brief Sends a spawn request to the helper and returns without waiting for
 *        the child: the calling thread never waits on an execve.  Preparation
 *        (PATH search, pipes, files) happens here, in the caller.  Replies come
 *        in request order on pk_spawn_helper_fd(); collect each with
 *        pk_spawn_helper_finish().  One thread should collect.
 * @param[out] ret_id optional: the request's id (1, 2, ...), echoed by finish.
 * @return 0, or as pk_spawn() for a failure in the parent, or PK_EHELPER.
 */
PK_API int pk_spawn_helper_start(struct pk_spawn_helper *h, const struct pk_cmd *cmd,
                                 uint64_t *ret_id, struct pk_spawn_error *reterr);

/** @brief The helper process's pid (to monitor it), or -1 for NULL. */
PK_API pid_t pk_spawn_helper_pid(const struct pk_spawn_helper *h);

/** @brief The helper's socket (borrowed): readable when a reply is ready. */
PK_API int pk_spawn_helper_fd(const struct pk_spawn_helper *h);

/**
 * @brief Collects the oldest pending request's result (blocks until it comes;
 *        poll pk_spawn_helper_fd() first to never block).
 * @param[out] ret_id optional: which request this was.
 * @param[out] ret_proc caller owns; the child is the caller's child.
 * @return 0, the child's failed step (as pk_spawn()), PK_EHELPER if the helper
 *         died, -ENOENT if nothing is pending.
 */
PK_API int pk_spawn_helper_finish(struct pk_spawn_helper *h, uint64_t *ret_id,
                                  struct pk_proc **ret_proc, struct pk_spawn_error *reterr);

/**
 * @brief pk_spawn_helper_start() then pk_spawn_helper_finish(): the result of
 *        pk_spawn(), with the clone done by the helper.  This waits for the
 *        child's execve (through the helper); use start/finish to never wait.
 *        Thread-safe.  pk_cmd_pdeathsig() then follows the helper process,
 *        not the calling thread.
 */
PK_API int pk_spawn_helper_spawn(struct pk_spawn_helper *h, const struct pk_cmd *cmd,
                                 struct pk_proc **ret_proc, struct pk_spawn_error *reterr);

#ifdef __cplusplus
}
#endif
#endif
