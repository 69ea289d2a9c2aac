/* SPDX-License-Identifier: MIT */
/**
 * @file sup.h
 * @brief Supervision trees of OS processes on a pk_loop: OTP's strategies,
 *        restart intensity with escalation, backoff, readiness (exec, delay,
 *        s6 notification-fd, sd_notify), dependencies, stop sequences and a
 *        reaper (PID 1 / subreaper) mode.
 *
 * Objects: `pk_sup` (a supervisor; nested supervisors are children of type
 * PK_SUP_SUPERVISOR), its children (named by id), `pk_sup_event` (what
 * subscribers receive), `pk_cgroup` (one cgroup v2 per service) and `pk_log`
 * (log capture with rotation, no logger process).
 *
 * Everything runs on the loop given to pk_sup_new(): child exits through
 * pidfds, timeouts and backoff as one-shot loop timers armed only while
 * something is due, readiness through the loop's I/O watchers.  Nothing
 * polls, and an idle tree arms no timer at all.
 *
 * The policy (what each event does in each child state) is one table in
 * src/sup/sup.c, printed in docs/sup.md.
 *
 * Errors: 0 (or a count) on success, a negative errno or PK_E* code on
 * failure.  The library never logs: everything it observes is an event.
 *
 * Threads: a supervisor belongs to its loop's thread.
 */
#ifndef PORTKIT_SUP_H
#define PORTKIT_SUP_H

#include <portkit/error.h>
#include <portkit/loop.h>
#include <portkit/spawn.h>

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A supervisor; opaque.  Create with pk_sup_new(), free with pk_sup_free(). */
struct pk_sup;
struct pk_log_opts;

/** Restart strategies (OTP's). */
enum pk_sup_strategy {
        PK_SUP_ONE_FOR_ONE = 0,    /**< restart only the child that exited */
        PK_SUP_ONE_FOR_ALL,        /**< stop all others (reverse order), restart all */
        PK_SUP_REST_FOR_ONE,       /**< stop those started after it, restart them and it */
        PK_SUP_SIMPLE_ONE_FOR_ONE, /**< one_for_one over dynamic children of one template */
};

/** Restart types (OTP's). */
enum pk_sup_restart {
        PK_SUP_PERMANENT = 0, /**< always restarted */
        PK_SUP_TRANSIENT,     /**< restarted only after an abnormal exit */
        PK_SUP_TEMPORARY,     /**< never restarted */
};

/** How a child is stopped. */
enum pk_sup_shutdown {
        PK_SUP_SHUTDOWN_TIMEOUT = 0, /**< stop signal (+SIGCONT), wait shutdown_ms, then SIGKILL */
        PK_SUP_SHUTDOWN_BRUTAL_KILL, /**< SIGKILL at once */
        PK_SUP_SHUTDOWN_INFINITY,    /**< stop signal, wait forever (default for supervisors) */
};

/** What a child is. */
enum pk_sup_child_type {
        PK_SUP_WORKER = 0, /**< a process described by a pk_cmd */
        PK_SUP_SUPERVISOR, /**< a nested pk_sup (pk_sup_add_sup()) */
};

/** auto_shutdown (OTP 24): when significant children end the supervisor. */
enum pk_sup_auto_shutdown {
        PK_SUP_AUTO_NEVER = 0,
        PK_SUP_AUTO_ANY_SIGNIFICANT, /**< a significant child ended and is not restarted */
        PK_SUP_AUTO_ALL_SIGNIFICANT, /**< every significant child ended and is not restarted */
};

/** When a started child counts as ready. */
enum pk_sup_ready {
        PK_SUP_READY_EXEC = 0, /**< as soon as execve succeeded */
        PK_SUP_READY_DELAY,    /**< ready_delay_ms after exec, if still running */
        PK_SUP_READY_FD,       /**< s6 notification-fd: a newline written on child fd ready_fd */
        PK_SUP_READY_NOTIFY,   /**< sd_notify "READY=1" on $NOTIFY_SOCKET */
};

/** Who may send sd_notify messages for a child (checked by SCM_CREDENTIALS). */
enum pk_sup_notify_access {
        PK_SUP_NOTIFY_MAIN = 0, /**< the main pid only (the spawned pid, or an accepted MAINPID) */
        PK_SUP_NOTIFY_EXEC,     /**< the main pid or the pid portkit spawned */
        PK_SUP_NOTIFY_ALL,      /**< any process of the service (a descendant, or in its group) */
};

/** The phases of a stop at which a child's stop hook is called
 *  (pk_sup_child_spec.stop_hook). */
enum pk_sup_hook_phase {
        /** A stop begins, before the stop signal (systemd's ExecStop=). */
        PK_SUP_HOOK_STOP = 1,
        /** The stopped child's process is gone (its PK_SUP_EV_EXITED came
         *  first), before the stop completes (systemd's ExecStopPost=). */
        PK_SUP_HOOK_STOPPED,
};

/**
 * @brief A child's stop hook: what its owner runs around a stop the
 *        supervisor makes (a request, a shutdown, a group restart, a
 *        dependency, a conflict, a removal).  Called like an event callback:
 *        after the change, in order with the events, never nested, so it may
 *        call any pk_sup_* function.
 * @param ctx pk_sup_child_spec.stop_hook_ctx.
 * @param sup the child's supervisor (borrowed).
 * @param id the child (borrowed for the call).
 * @param phase enum pk_sup_hook_phase.
 * @param reason the stop's enum pk_sup_reason.
 * @return 1: the stop waits until the owner calls pk_sup_stop_continue() (or
 *         the child's shutdown_ms passes); 0 or a negative value: it goes on
 *         at once.
 */
typedef int (*pk_sup_stop_hook_fn)(void *ctx, struct pk_sup *sup, const char *id, int phase,
                                   int reason);

/** Longest child id, in bytes, without the NUL. */
#define PK_SUP_ID_MAX 63
/** Most codes in pk_sup_child_spec.success_codes. */
#define PK_SUP_MAX_SUCCESS 16
/** Most ids in each dependency list. */
#define PK_SUP_MAX_DEPS 32

/**
 * @brief What a child is and how it is run.  Zero-initialise and set what you
 *        need: all zeros is a permanent worker, 5 s SIGTERM shutdown, ready at
 *        exec, no dependencies.  Every pointer is borrowed for the call only
 *        (strings and lists are copied).
 */
struct pk_sup_child_spec {
        const char *id;      /**< unique in its supervisor, 1..PK_SUP_ID_MAX bytes, no '/' */
        int type;            /**< enum pk_sup_child_type (set by pk_sup_add_sup()) */
        int restart;         /**< enum pk_sup_restart */
        int shutdown;        /**< enum pk_sup_shutdown */
        int64_t shutdown_ms; /**< PK_SUP_SHUTDOWN_TIMEOUT's wait; 0: 5000 */
        int stop_signal;     /**< 0: SIGTERM */
        int significant;     /**< 1: counts for auto_shutdown (transient/temporary only) */
        /** Exit codes that count as a normal exit besides 0 (OTP "normal"); a
         *  stop portkit asked for is always normal. */
        const int *success_codes;
        size_t n_success_codes; /**< <= PK_SUP_MAX_SUCCESS */

        int ready;              /**< enum pk_sup_ready */
        int64_t ready_delay_ms; /**< PK_SUP_READY_DELAY: the delay (0: 1000) */
        int ready_fd;           /**< PK_SUP_READY_FD: the child's fd number (3..1023) */
        /** Time from spawn to readiness before the start counts as failed and
         *  the child is killed: 0: 90000 for FD/NOTIFY, none for EXEC/DELAY;
         *  < 0: none. */
        int64_t start_timeout_ms;
        int notify_access;   /**< enum pk_sup_notify_access (READY_NOTIFY) */
        int64_t watchdog_ms; /**< READY_NOTIFY: > 0 kills (SIGABRT) a child silent this long */

        /* Dependencies on siblings, NULL-terminated id lists (or NULL). */
        const char *const *requires_ids; /**< start after these are ready; stop when they give up */
        const char *const *wants;        /**< start them too; no failure propagation */
        const char *const *after;     /**< order only: start after these are ready (if started) */
        const char *const *binds_to;  /**< requires, and stop when they stop for any reason */
        const char *const *conflicts; /**< starting this stops those (and the reverse) */

        /** Type=forking: the spawned starter forks the real daemon and exits 0;
         *  its exit is not the service's.  The main pid is then read from
         *  @p pid_file (required) and must be a process of the service (it
         *  carries the service's PORTKIT_SUP_UNIT token and no other child
         *  claims it); the child is ready at that point (unless ready says
         *  otherwise).  A starter that fails, or a missing or foreign pid,
         *  fails the start. */
        int forking;
        const char *pid_file; /**< absolute path (copied) */

        /** Log capture (pk_log): stdout and stderr of every run of the child go
         *  to @p log_dir/&lt;id&gt;.log through pipes the supervisor holds across
         *  restarts.  NULL: the command's own fds 1 and 2. */
        const char *log_dir;
        const struct pk_log_opts *log_opts; /**< NULL: defaults (copied) */

        /* Per-child restart policy: systemd's per-unit RestartSec=,
         * RestartMaxDelaySec= and StartLimitIntervalSec=/StartLimitBurst=.
         * 0 inherits the supervisor's option of the same name
         * (pk_sup_opts); docs/sup.md "Per-child restart policy". */
        int64_t backoff_base_ms; /**< first restart delay; 0: the supervisor's; < 0: none */
        int64_t backoff_cap_ms;  /**< largest delay; 0: the supervisor's (raised to the base) */
        /** Uptime after which the child counts as stable (its next restart is
         *  immediate and the delays start again from the base); 0: the
         *  supervisor's; < 0: never (every restart waits, as RestartSec=). */
        int64_t backoff_reset_ms;
        int jitter_pct; /**< 0: the supervisor's; < 0: none; else 1..100 */
        /** > 0: at most this many starts (the first one, restarts, starts asked
         *  for) within start_limit_interval_ms; a restart beyond that gives the
         *  child up (FAILED, PK_SUP_EV_GAVE_UP with PK_SUP_R_START_LIMIT) without
         *  failing the supervisor.  0: no limit of its own (only the
         *  supervisor's intensity applies, as always). */
        int start_limit_burst;
        int64_t start_limit_interval_ms; /**< 0: 10000 */
        /** 1: neither pk_sup_start() nor an add while running starts the child;
         *  pk_sup_start_child() (or a sibling that requires or wants it) does,
         *  e.g. a socket-activated service on its first connection. */
        int manual;
        /** Socket activation (sd_listen_fds(3)): every run of the child gets
         *  these descriptors at fds 3, 4, ... with LISTEN_FDS, LISTEN_FDNAMES
         *  and LISTEN_PID (its own pid, set by the child: pk_cmd_env_pid()).
         *  Duplicated at add (the caller keeps its own); the supervisor closes
         *  its copies when the child is removed.  Workers only. */
        const int *listen_fds;
        size_t n_listen_fds; /**< <= PK_SUP_MAX_FDS */
        /** One name per listen fd (copied; NULL entries or a NULL list: "unknown"). */
        const char *const *listen_fd_names;
        /** systemd's FileDescriptorStoreMax=: how many descriptors the child may
         *  hand over with sd_notify "FDSTORE=1" (SCM_RIGHTS, named by FDNAME=,
         *  dropped by "FDSTOREREMOVE=1"); the next run gets them after the listen
         *  fds, named in LISTEN_FDNAMES.  Kept across restarts, closed when the
         *  child is removed.  0: refused (closed on arrival).  > 0 also sets
         *  NOTIFY_SOCKET whatever @p ready is.  <= PK_SUP_MAX_FDS. */
        unsigned fd_store_max;
        /** When the fd store is closed (systemd's FileDescriptorStorePreserve=):
         *  enum pk_sup_store_preserve; 0 (PK_SUP_STORE_RESTART) is systemd's
         *  default. */
        int fd_store_preserve;
        /** Order only, from this side: these start after this child is ready
         *  (when both start), as if each listed it in @p after (systemd's Before=). */
        const char *const *before;
        /** A stop or restart of these (pk_sup_stop_child(), pk_sup_restart_child())
         *  is passed on to this child; no requirement, no ordering (systemd's PartOf=). */
        const char *const *part_of;
        /** Exit codes (0..255) after which the child is not restarted whatever
         *  its restart type says (systemd's RestartPreventExitStatus=); a
         *  failure then gives it up (FAILED), a normal exit leaves it DOWN. */
        const int *no_restart_codes;
        size_t n_no_restart_codes; /**< <= PK_SUP_MAX_SUCCESS */
        /** The same for deaths by signal: bit (sig - 1) for signal sig. */
        uint64_t no_restart_signals;
        /** > 0: the restart delay climbs from backoff_base_ms to backoff_cap_ms
         *  in this many steps, geometrically (systemd's RestartSteps=): the
         *  k-th consecutive restart (k from 0) waits base * (cap/base)^(k/steps),
         *  the cap from k = steps on.  0: the delay doubles.  <= 100000. */
        unsigned backoff_steps;
        /** Which ends restart the child: PK_SUP_RESTART_ON_* bits (systemd's
         *  Restart=on-success, on-abort, ...).  0: its restart type decides.
         *  Either way no_restart_codes/no_restart_signals still forbid. */
        unsigned restart_on;
        /** Deaths by these signals (bit sig - 1) count as a normal exit, as exit 0
         *  does: not restarted as transient, DOWN rather than FAILED (systemd's
         *  clean signals SIGHUP, SIGINT, SIGTERM, SIGPIPE and the signals of
         *  SuccessExitStatus=).  0: none (every death by a signal is abnormal). */
        uint64_t success_signals;
        /** Exit codes (0..255) after which the child is restarted whatever its
         *  restart type or restart_on say (systemd's RestartForceExitStatus=);
         *  no_restart_codes/no_restart_signals still forbid, and the
         *  intensity, start limit and backoff apply as to any restart. */
        const int *force_restart_codes;
        size_t n_force_restart_codes; /**< <= PK_SUP_MAX_SUCCESS */
        /** The same for deaths by signal: bit (sig - 1) for signal sig. */
        uint64_t force_restart_signals;
        /** Called around every stop of this worker that the supervisor makes
         *  (docs/sup.md "Stop hooks"): before the stop signal
         *  (PK_SUP_HOOK_STOP) and once its process is gone
         *  (PK_SUP_HOOK_STOPPED); each may hold the stop until
         *  pk_sup_stop_continue().  NULL: none.  Workers only; not called
         *  for a brutal_kill's signal, a start timeout's or watchdog's kill
         *  (their STOPPED phase is), nor for an exit that no stop caused. */
        pk_sup_stop_hook_fn stop_hook;
        void *stop_hook_ctx; /**< given to stop_hook (borrowed; must outlive the child) */
};

/** pk_sup_child_spec.restart_on: the kinds of end after which a child is restarted. */
enum pk_sup_restart_on {
        PK_SUP_RESTART_ON_CLEAN = 1 << 0,    /**< a normal exit (0 or a success code) */
        PK_SUP_RESTART_ON_CODE = 1 << 1,     /**< any other exit code (or a failed spawn) */
        PK_SUP_RESTART_ON_SIGNAL = 1 << 2,   /**< killed by a signal portkit did not send */
        PK_SUP_RESTART_ON_TIMEOUT = 1 << 3,  /**< killed for start_timeout_ms */
        PK_SUP_RESTART_ON_WATCHDOG = 1 << 4, /**< killed for watchdog_ms */
};

/** Most descriptors in listen_fds, and most in a child's fd store. */
#define PK_SUP_MAX_FDS 128

/** pk_sup_child_spec.fd_store_preserve: when the fd store is closed. */
enum pk_sup_store_preserve {
        /** When the child ends and is not restarted (DOWN or FAILED); kept
         *  across automatic restarts and pk_sup_restart_child(). */
        PK_SUP_STORE_RESTART = 0,
        PK_SUP_STORE_NO,  /**< whenever the child's process ends, restarted or not */
        PK_SUP_STORE_YES, /**< only when the child is removed */
};

/** Whether workers run in a cgroup v2 of their own (pk_sup_opts.cgroup). */
enum pk_sup_cgroup_mode {
        PK_SUP_CGROUP_OFF = 0, /**< process group + reaper-mode fallback */
        PK_SUP_CGROUP_AUTO,    /**< a cgroup when one can be made here, else the fallback */
        PK_SUP_CGROUP_ON,      /**< a cgroup or pk_sup_add() fails with the reason */
};

/** Options of a supervisor; zero-initialise.  0 means the default. */
struct pk_sup_opts {
        const char *name;         /**< for events (copied); NULL: "sup" */
        int strategy;             /**< enum pk_sup_strategy */
        int intensity;            /**< restarts allowed in period_ms; 0: 5; < 0: none allowed */
        int64_t period_ms;        /**< 0: 30000 */
        int auto_shutdown;        /**< enum pk_sup_auto_shutdown */
        int64_t backoff_base_ms;  /**< first delay of a flapping child; 0: 100 */
        int64_t backoff_cap_ms;   /**< largest delay; 0: 30000 */
        int64_t backoff_reset_ms; /**< uptime after which a child counts as stable; 0: 10000 */
        int jitter_pct;           /**< random extra, 0..100 % of each delay; 0: 10; < 0: none */
        /** PK_SUP_SIMPLE_ONE_FOR_ONE: the spec every dynamic child gets (its id
         *  is ignored); copied.  Required for that strategy, refused otherwise. */
        const struct pk_sup_child_spec *template_spec;
        /** enum pk_sup_cgroup_mode: each worker in the cgroup
         *  cgroup_parent/&lt;name&gt;.&lt;id&gt;, placed at birth (CLONE_INTO_CGROUP);
         *  a stop is complete when that cgroup is empty. */
        int cgroup;
        /** Absolute path of a delegated cgroup v2 directory (copied); NULL:
         *  this process's own cgroup, as it is when the first child's cgroup
         *  is made (kept from then on). */
        const char *cgroup_parent;
        /** A worker that runs without a cgroup gets this signal (e.g. SIGKILL)
         *  through PR_SET_PDEATHSIG (pk_cmd_pdeathsig(), replacing the
         *  command's own) when the thread that spawned it, the one running
         *  this supervisor's loop, ends: nothing else could find it once the
         *  supervisor is gone.  Only its main process: what it forks does not
         *  inherit the signal.  0: none.  Nested supervisors use their root's. */
        int orphan_signal;
};

/** The states a child goes through (the rows of the policy table). */
enum pk_sup_state {
        PK_SUP_DOWN = 0, /**< not running, not wanted (stopped, or not restarted) */
        PK_SUP_WAITING,  /**< wanted, waiting for what it requires / is after */
        PK_SUP_STARTING, /**< spawned, not yet ready */
        PK_SUP_READY,    /**< running and ready */
        PK_SUP_STOPPING, /**< stop hook running, or stop signal sent: waiting for the exit */
        PK_SUP_BACKOFF,  /**< exited; restart scheduled at next_restart_ns */
        PK_SUP_FAILED,   /**< gave up (start failure, required child failed, supervisor limit) */
        PK_SUP_NSTATES
};

/** What happened; the `kind` of a pk_sup_event. */
enum pk_sup_event_kind {
        PK_SUP_EV_STARTING = 1, /**< about to spawn (or to start a nested supervisor) */
        PK_SUP_EV_RUNNING,      /**< exec succeeded: pid set */
        PK_SUP_EV_READY,        /**< readiness reached */
        PK_SUP_EV_STOPPING,     /**< a stop began (reason says why) */
        PK_SUP_EV_EXITED,       /**< the process ended: exit set */
        PK_SUP_EV_RESTART,      /**< restart scheduled in delay_ms */
        PK_SUP_EV_GAVE_UP,      /**< not restarted any more (reason says why) */
        PK_SUP_EV_STATUS,       /**< sd_notify STATUS= / RELOADING / STOPPING / ERRNO: text */
        PK_SUP_EV_MAINPID,      /**< sd_notify MAINPID= accepted (pid) or refused (err) */
        PK_SUP_EV_SPAWN_ERROR,  /**< pk_spawn() failed: err, text = pk_spawn_strerror() */
        PK_SUP_EV_SUP_DOWN,     /**< the supervisor itself finished: reason; id is "" */
        PK_SUP_EV_ORPHAN,       /**< reaper mode: an orphan was reaped (pid, exit) */
        /** A stop its stop hook held after the exit (PK_SUP_HOOK_STOPPED)
         *  completed: the child's state now is the one the stop leads to. */
        PK_SUP_EV_STOPPED,
};

/** Why a stop, give-up or supervisor end happened. */
enum pk_sup_reason {
        PK_SUP_R_NONE = 0,
        PK_SUP_R_REQUESTED,     /**< pk_sup_stop_child(), pk_sup_shutdown(), removal */
        PK_SUP_R_STRATEGY,      /**< a sibling failed (one_for_all / rest_for_one) */
        PK_SUP_R_INTENSITY,     /**< restart intensity exceeded */
        PK_SUP_R_NORMAL,        /**< exited normally, and its restart type says no restart */
        PK_SUP_R_START_TIMEOUT, /**< not ready within start_timeout_ms */
        PK_SUP_R_WATCHDOG,      /**< no WATCHDOG=1 within watchdog_ms */
        PK_SUP_R_SPAWN,         /**< could not be spawned */
        PK_SUP_R_DEPENDENCY,    /**< something it requires gave up or stopped */
        PK_SUP_R_AUTO_SHUTDOWN, /**< significant children ended (auto_shutdown) */
        PK_SUP_R_CHILD_SUP,     /**< a nested supervisor failed (escalation) */
        PK_SUP_R_CONFLICT,      /**< a conflicting sibling started */
        PK_SUP_R_SIGNAL,        /**< reaper mode: SIGTERM/SIGINT */
        PK_SUP_R_START_LIMIT,   /**< the child's own start_limit_burst was reached */
};

/** Longest text of an event (STATUS=, spawn errors), without the NUL. */
#define PK_SUP_TEXT_MAX 255

/** One state change, given to subscribers in order. */
struct pk_sup_event {
        int kind;                       /**< enum pk_sup_event_kind */
        uint64_t time_ns;               /**< CLOCK_MONOTONIC when it happened */
        struct pk_sup *sup;             /**< the supervisor the child belongs to (borrowed) */
        const char *sup_name;           /**< its name (valid during the callback) */
        char id[PK_SUP_ID_MAX + 1];     /**< the child ("" for PK_SUP_EV_SUP_DOWN) */
        int state;                      /**< the child's state after the change */
        pid_t pid;                      /**< the process, if any, else 0 */
        struct pk_exit exit;            /**< PK_SUP_EV_EXITED, PK_SUP_EV_ORPHAN */
        int64_t delay_ms;               /**< PK_SUP_EV_RESTART */
        int reason;                     /**< enum pk_sup_reason */
        int err;                        /**< a negative error, if any */
        unsigned restarts;              /**< the child's restart count */
        char text[PK_SUP_TEXT_MAX + 1]; /**< STATUS text, spawn error ... */
};

/**
 * @brief A subscriber.  Events are delivered after the change is complete, in
 *        order, never from inside another subscriber's call; the callback may
 *        call any pk_sup_* function (the events those cause follow).  A nested
 *        supervisor's events also reach every ancestor's subscribers.
 */
typedef void (*pk_sup_event_cb)(void *ctx, const struct pk_sup_event *ev);

/** A child as pk_sup_child_info() and pk_sup_which_children() report it. */
struct pk_sup_child_info {
        char id[PK_SUP_ID_MAX + 1]; /**< its id */
        int type;                   /**< enum pk_sup_child_type */
        int state;                  /**< enum pk_sup_state */
        pid_t pid;                  /**< main pid, 0 if none */
        uint64_t uptime_ns;         /**< since the last spawn, 0 if not running */
        unsigned restarts;          /**< restarts so far */
        int has_exited;             /**< 1 if last_exit is set */
        struct pk_exit last_exit;   /**< the last exit */
        uint64_t next_restart_ns;   /**< CLOCK_MONOTONIC of the scheduled restart, 0 if none */
        struct pk_sup *sup;         /**< a nested supervisor (borrowed), else NULL */
};

/** Counts as OTP's count_children. */
struct pk_sup_counts {
        unsigned specs;       /**< children */
        unsigned active;      /**< with a running process (or a running nested supervisor) */
        unsigned supervisors; /**< children of type supervisor */
        unsigned workers;     /**< children of type worker */
};

/** The supervisor's own state (pk_sup_state()). */
struct pk_sup_status {
        int running;  /**< 1 between pk_sup_start() and the end of its shutdown */
        int finished; /**< 1 once it stopped (shut down, failed, or auto shutdown) */
        int failed;   /**< 1 if it ended by escalation (intensity or a failed nested sup) */
        int reason;   /**< enum pk_sup_reason of the end */
        char id[PK_SUP_ID_MAX + 1]; /**< the child whose failure ended it, if any */
        /** A suggested exit status for the process: 0 a clean end (requested,
         *  a signal handled within the deadline, auto_shutdown), 1 failed by
         *  escalation, 2 reaper mode's deadline passed and processes were killed. */
        int exit_status;
};

/* ---- life cycle ----------------------------------------------------------- */

/**
 * @brief Creates a supervisor on @p loop (borrowed; must outlive it).
 * @param opts NULL for the defaults; copied.
 * @param[out] ret caller owns; free with pk_sup_free().  Untouched on failure.
 * @return 0, -EINVAL (bad option: unknown strategy, negative period, template
 *         missing or not allowed), -ENOMEM.
 */
PK_API int pk_sup_new(struct pk_loop *loop, const struct pk_sup_opts *opts, struct pk_sup **ret);

/**
 * @brief Frees a supervisor and every nested one.  A process still running
 *        gets SIGKILL (its process group too) and is reaped here, which waits
 *        for the kill to take effect; shut down first with pk_sup_shutdown()
 *        for an orderly stop.  Must not be called from one of its own event
 *        callbacks, nor on a nested supervisor (its parent owns it).
 * @return NULL.
 */
PK_API struct pk_sup *pk_sup_free(struct pk_sup *sup);

/**
 * @brief Adds a worker.  Takes ownership of @p cmd, even on failure.  The
 *        supervisor modifies it before each spawn: it makes the child lead its
 *        own process group (unless the command asks for setsid), sets
 *        PORTKIT_SUP_UNIT (used to find the service's orphans), NOTIFY_SOCKET
 *        and WATCHDOG_USEC for READY_NOTIFY, and maps ready_fd for READY_FD.
 *        Added while the supervisor runs, the child is started at once (OTP
 *        start_child).
 * @return 0; -EINVAL (bad spec, see docs/sup.md "Bad specs"), -EEXIST (id
 *         taken), -EPERM (simple_one_for_one: use pk_sup_start_dynamic()),
 *         -ENOMEM, PK_EDEPCYCLE.
 */
PK_API int pk_sup_add(struct pk_sup *sup, const struct pk_sup_child_spec *spec, struct pk_cmd *cmd);

/**
 * @brief Adds a nested supervisor as a child of type supervisor.  Takes
 *        ownership of @p child (freed with @p sup), even on failure.
 *        spec->shutdown defaults to PK_SUP_SHUTDOWN_INFINITY: the parent waits
 *        for the nested tree's orderly stop.
 * @return as pk_sup_add(); -EINVAL if @p child already has a parent, runs, or
 *         uses another loop.
 */
PK_API int pk_sup_add_sup(struct pk_sup *sup, const struct pk_sup_child_spec *spec,
                          struct pk_sup *child);

/**
 * @brief Starts a dynamic child of a PK_SUP_SIMPLE_ONE_FOR_ONE supervisor
 *        with the template spec and @p cmd (taken, even on failure).
 * @return 0, -EPERM (other strategy), -EINVAL, -EEXIST, -ENOMEM.
 */
PK_API int pk_sup_start_dynamic(struct pk_sup *sup, const char *id, struct pk_cmd *cmd);

/**
 * @brief Starts the tree: every child in order (a child waits for what it
 *        requires / is after to be ready; independent children start at once).
 * @return 0, -EALREADY (running), -EINVAL (finished: create a new one),
 *         PK_EDEPCYCLE (a cycle; @p reterr_id optional, gets the cycle as
 *         "a -> b -> a"), PK_EDEPUNKNOWN (a dependency names no child).
 */
PK_API int pk_sup_start(struct pk_sup *sup, char *reterr_id, size_t reterr_size);

/**
 * @brief Orderly stop of the whole tree, children in reverse start order.
 *        Returns at once; PK_SUP_EV_SUP_DOWN follows when all are stopped.
 * @return 0, -EINVAL (NULL or a nested supervisor: stop it through its
 *         parent), -EALREADY (not running).
 */
PK_API int pk_sup_shutdown(struct pk_sup *sup);

/** @brief The supervisor's own state (see struct pk_sup_status). */
PK_API int pk_sup_state(const struct pk_sup *sup, struct pk_sup_status *ret);

/**
 * @brief Changes a supervisor's restart settings in place, running or not,
 *        nested or not: strategy (among one_for_one, one_for_all and
 *        rest_for_one), intensity, period_ms, auto_shutdown, the backoff
 *        (backoff_base_ms, backoff_cap_ms, backoff_reset_ms, jitter_pct),
 *        orphan_signal (from the next spawn on); 0
 *        means the default, as for pk_sup_new().  Children keep running.  The
 *        restart history is kept (its newest entries, as many as the new
 *        intensity counts); a restart already waiting keeps its delay, the
 *        next one uses the new backoff; the next exit uses the new strategy.
 * @param opts borrowed for the call.  name, cgroup, cgroup_parent and
 *        template_spec are fixed at creation: leave name and cgroup_parent
 *        NULL (or as they are), cgroup as it is, template_spec NULL.
 * @return 0; -EINVAL (NULL, a bad value, a change of what is fixed, a
 *         simple_one_for_one supervisor or a change to or from that
 *         strategy); -EBUSY (a one_for_all / rest_for_one group restart or a
 *         shutdown is under way: decided by the old settings); -ENOMEM.  On
 *         failure nothing changed.
 */
PK_API int pk_sup_set_opts(struct pk_sup *sup, const struct pk_sup_opts *opts);

/* ---- run-time control of one child ----------------------------------------- */

/** @brief Starts a stopped, failed or waiting child (clears FAILED). -ENOENT, -EALREADY. */
PK_API int pk_sup_start_child(struct pk_sup *sup, const char *id);
/**
 * @brief `systemctl reset-failed`: a FAILED child becomes DOWN (not started)
 *        and forgets its recorded starts and backoff exponent.
 * @return 0, -ENOENT, -EINVAL (NULL), -EALREADY (not failed: nothing done).
 */
PK_API int pk_sup_reset_child(struct pk_sup *sup, const char *id);
/**
 * @brief Replaces a worker's listen fds (pk_sup_child_spec.listen_fds): the
 *        supervisor closes its copies of the old ones and duplicates @p fds
 *        (borrowed); a running child keeps what it has, its next run gets these.
 * @param names one per fd (copied; NULL entries or a NULL list: "unknown").
 * @return 0, -ENOENT, -EINVAL (not a worker, n over PK_SUP_MAX_FDS, a bad
 *         name, a collision with ready_fd), -ENOMEM, -EMFILE.  On failure the
 *         child keeps its old fds.
 */
PK_API int pk_sup_set_listen_fds(struct pk_sup *sup, const char *id, const int *fds, size_t n,
                                 const char *const *names);
/** @brief Stops a child; it stays stopped (not restarted). -ENOENT. */
PK_API int pk_sup_stop_child(struct pk_sup *sup, const char *id);
/** @brief Stops then starts a child (not counted against intensity). -ENOENT. */
PK_API int pk_sup_restart_child(struct pk_sup *sup, const char *id);
/**
 * @brief Ends a running child's start as failed, as its start_timeout_ms
 *        expiring would (systemd's ExecStartPost= timing out): STOPPING with
 *        reason PK_SUP_R_START_TIMEOUT, the stop signal, SIGKILL after
 *        shutdown_ms, then its restart policy for a failure (the TIMEOUT kind of
 *        restart_on).  -ENOENT, -ESRCH (not running, or already stopping).
 */
PK_API int pk_sup_fail_child(struct pk_sup *sup, const char *id);
/**
 * @brief Lets a stop held by the child's stop hook go on: after the
 *        PK_SUP_HOOK_STOP phase the stop signal is sent (or, if the process
 *        ended meanwhile, the PK_SUP_HOOK_STOPPED phase follows); after the
 *        PK_SUP_HOOK_STOPPED phase the stop completes (restart, removal, the
 *        next child of an ordered stop...).  May be called from inside the
 *        hook itself.
 * @return 0; -ENOENT (no such child); -EALREADY (no hook of it is awaited:
 *         it returned 0, or shutdown_ms passed and the stop went on);
 *         -EINVAL (NULL).
 */
PK_API int pk_sup_stop_continue(struct pk_sup *sup, const char *id);
/** @brief Sends @p sig to the child's main process. -ENOENT, -ESRCH (not running). */
PK_API int pk_sup_signal_child(struct pk_sup *sup, const char *id, int sig);
/** @brief Removes a stopped child (DOWN or FAILED). -ENOENT, -EBUSY (running). */
PK_API int pk_sup_remove_child(struct pk_sup *sup, const char *id);

/**
 * @brief Moves child @p id to place @p index among its siblings (0: first),
 *        the others keeping their order: the order of the first start, of
 *        rest_for_one and of stops (a reload that replaced a child with
 *        pk_sup_remove_child() + pk_sup_add() puts it back).  Nothing is started
 *        or stopped.
 * @return 0; -ENOENT; -ERANGE (@p index past the last child); -EBUSY (a
 *         one_for_all / rest_for_one restart or a shutdown is under way);
 *         -EINVAL (NULL).
 */
PK_API int pk_sup_move_child(struct pk_sup *sup, const char *id, size_t index);

/** pk_sup_child_cmd() flags. */
enum pk_sup_child_cmd_flags {
        PK_SUP_CMD_LOG_OUT = 1 << 0,   /**< stdout into the child's log (if it has log_dir) */
        PK_SUP_CMD_LOG_ERR = 1 << 1,   /**< stderr into the child's log (if it has log_dir) */
        PK_SUP_CMD_NO_CGROUP = 1 << 2, /**< not in the child's cgroup (the log only) */
};
/**
 * @brief Prepares @p cmd, a command the caller spawns on behalf of worker
 *        @p id (systemd's ExecStartPost=, ExecReload=, ExecStop=, ExecStopPost=),
 *        to run as part of the child: born in the child's cgroup when it has
 *        one (a cgroup emptied by a kill is made afresh first, as for a start),
 *        and with the @p flags streams into the child's log.  Call it right
 *        before pk_spawn(): the descriptors set are borrowed from the child.
 *        What runs in the cgroup is the child's for its stops (they signal it
 *        and wait for it) and is killed with the rest when the main process
 *        ends, as systemd treats a service's control processes.
 * @return 0; -ENOENT (no such child); -EINVAL (a nested supervisor, NULL, bad
 *         flags); -EBUSY (its cgroup was killed and still holds processes: the
 *         command would be killed at birth; the log is set anyway); or an error
 *         of pk_cmd_cgroup(), pk_cmd_fd() or of making the cgroup.
 */
PK_API int pk_sup_child_cmd(struct pk_sup *sup, const char *id, struct pk_cmd *cmd, unsigned flags);

/** @brief Fills @p ret for child @p id. @return 0 or -ENOENT. */
PK_API int pk_sup_child_info(const struct pk_sup *sup, const char *id,
                             struct pk_sup_child_info *ret);
/**
 * @brief Lists the children in start order, at most @p max into @p ret.
 * @return the number of children (may exceed @p max), or -EINVAL.
 */
PK_API int pk_sup_which_children(const struct pk_sup *sup, struct pk_sup_child_info *ret,
                                 size_t max);
/** @brief OTP's count_children. */
PK_API int pk_sup_count_children(const struct pk_sup *sup, struct pk_sup_counts *ret);

/* ---- events ---------------------------------------------------------------- */

/**
 * @brief Subscribes @p cb (with @p ctx) to every event of @p sup and of
 *        its nested supervisors.  At most 16 subscribers per supervisor.
 * @return 0, -EINVAL, -ENOSPC.
 */
PK_API int pk_sup_subscribe(struct pk_sup *sup, pk_sup_event_cb cb, void *ctx);
/** @brief Removes a subscription (same cb and ctx). @return 0 or -ENOENT. */
PK_API int pk_sup_unsubscribe(struct pk_sup *sup, pk_sup_event_cb cb, void *ctx);

/** @brief Short names for logs ("ready", "restart", ...); never NULL. */
PK_API const char *pk_sup_state_name(int state);
PK_API const char *pk_sup_event_name(int kind);
PK_API const char *pk_sup_reason_name(int reason);

/* ---- reaper (PID 1 / subreaper) mode ---------------------------------------- */

/**
 * @brief Makes the top supervisor the process's reaper: sets
 *        PR_SET_CHILD_SUBREAPER (unless it is PID 1), watches SIGCHLD, reaps
 *        every child that is not one of the tree's processes as soon as it
 *        exits (peeking with waitid(WNOWAIT) so that supervised children keep
 *        their pidfd path), and on SIGTERM / SIGINT shuts the tree down within
 *        @p shutdown_deadline_ms, then SIGKILLs everything left
 *        (kill(-1) as PID 1).  0: the tree's own stop budget at the signal
 *        (each child's shutdown_ms, twice with a stop hook, a nested
 *        supervisor's children's, summed: they stop one at a time) plus 10 s,
 *        at most 30 minutes; no deadline when a worker's shutdown is
 *        infinity.  SIGHUP calls @p on_hup (may be NULL).  Without
 *        this mode a stopped service's double-forked orphans are not ours to
 *        kill (they go to init); see docs/sup.md "Stopping".
 *        The process must not wait for other children by itself meanwhile.
 * @return 0, -EINVAL (a nested supervisor), -EALREADY, or a negative errno
 *         from prctl / the signal watchers.
 */
PK_API int pk_sup_reaper(struct pk_sup *sup, int64_t shutdown_deadline_ms,
                         void (*on_hup)(void *ctx), void *ctx);

/* ======================================================================================== */
/* cgroups and logs (src/sup/cgroup.c, src/sup/log.c; branch `supplat`).                    */
/* Self-contained section: the supervisor core's declarations go in their own section.      */
/* ======================================================================================== */

/* ---- cgroup v2 ---------------------------------------------------------------------------- */

/** An opaque cgroup v2 directory held open.  Make with pk_cgroup_create(). */
struct pk_cgroup;

/**
 * @brief Finds where the cgroup v2 hierarchy is mounted, from
 *        /proc/self/mountinfo (pure v2 hosts: "/sys/fs/cgroup"; hybrid hosts:
 *        usually "/sys/fs/cgroup/unified").  When several cgroup2 mounts exist,
 *        the first one that shows the hierarchy's root wins.
 * @param[out] buf receives the NUL-terminated mount point.
 * @return 0; -ENOENT (no cgroup2 mount: an older or v1-only host, use the
 *         process-group fallback); -ENAMETOOLONG (@p size too small); -EINVAL
 *         (NULL buf, size 0); or the errno of reading mountinfo.
 */
PK_API int pk_cgroup_v2_mount(char *buf, size_t size);

/**
 * @brief The calling process's own cgroup v2 directory: the v2 mount joined
 *        with the "0::" line of /proc/self/cgroup.
 * @param[out] buf receives the NUL-terminated absolute path.
 * @return 0, -ENOENT (no v2 mount or no "0::" line), -ENAMETOOLONG, -EINVAL.
 */
PK_API int pk_cgroup_self(char *buf, size_t size);

/**
 * @brief Creates (or opens, if it exists) the cgroup @p parent/@p name and
 *        holds it open: its directory and its cgroup.events file.
 * @param parent absolute path of a cgroup v2 directory (borrowed), or NULL for
 *        the calling process's own cgroup (pk_cgroup_self()).
 * @param name one path component: not empty, no '/', not "." or "..".
 * @param[out] ret caller owns; free with pk_cgroup_free().  Not written on failure.
 * @return 0; -EINVAL (bad name, NULL ret); -ENOENT (no cgroup v2 at all, or
 *         no such parent); -EOPNOTSUPP (parent is not in a cgroup2 file
 *         system); -EACCES / -EPERM / -EROFS (not delegated to us); -ENOMEM.
 */
PK_API int pk_cgroup_create(const char *parent, const char *name, struct pk_cgroup **ret);

/**
 * @brief The cgroup directory's descriptor (borrowed; valid until
 *        pk_cgroup_free()), e.g. for pk_cmd_cgroup().
 * @return the fd, or -EINVAL for NULL.
 */
PK_API int pk_cgroup_dirfd(const struct pk_cgroup *cg);

/** @brief The cgroup's absolute path (borrowed until pk_cgroup_free()), or NULL for NULL. */
PK_API const char *pk_cgroup_path(const struct pk_cgroup *cg);

/**
 * @brief Kills every process in the cgroup and its descendants with SIGKILL:
 *        one write to cgroup.kill (Linux >= 5.14), which also catches
 *        processes forking meanwhile.  Without cgroup.kill: SIGKILL to every
 *        pid listed in cgroup.procs (this cgroup and each descendant), pass
 *        after pass until a pass finds none.  Does not wait for the deaths:
 *        watch pk_cgroup_events_fd() for "populated 0".
 * @return 0; -EAGAIN (fallback only: processes were still listed after 64
 *         passes, e.g. stuck in uninterruptible sleep: call again later);
 *         -EINVAL (NULL); or an errno of the writes and reads.
 */
PK_API int pk_cgroup_kill(struct pk_cgroup *cg);

/**
 * @brief Sends @p sig to every process listed in the cgroup's cgroup.procs and
 *        in those of its descendant cgroups (up to 32 levels), one pass: a
 *        process forked after its parent was signalled is not reached (for
 *        SIGKILL use pk_cgroup_kill(), which catches forks).  For a stop
 *        sequence's SIGTERM/SIGCONT to a whole tree whatever its process
 *        groups and sessions; @p sig 0 only counts the members.
 * @return how many processes were signalled (one exiting meanwhile still
 *         counts: its ESRCH is not an error); -EINVAL
 *         (NULL, bad signal); -ENOMEM; or an errno of the reads and kill()
 *         (-EPERM for a member we may not signal).
 */
PK_API int pk_cgroup_signal(struct pk_cgroup *cg, int sig);

/**
 * @brief Whether any process is in the cgroup or its descendants ("populated"
 *        of cgroup.events), read through pk_cgroup_events_fd(): calling this
 *        is also what re-arms that descriptor's EPOLLPRI notification.
 * @return 1 populated, 0 empty, -EINVAL (NULL), -EIO (unexpected content), or a read errno.
 */
PK_API int pk_cgroup_populated(const struct pk_cgroup *cg);

/**
 * @brief The cgroup.events descriptor (borrowed, valid until pk_cgroup_free()).
 *        Watch it with PK_LOOP_PRIORITY (EPOLLPRI; the kernel adds EPOLLERR):
 *        it fires when "populated" (or "frozen") changes.  The notification
 *        stays raised until the file is read again, so a level-triggered
 *        watcher's callback must call pk_cgroup_populated().
 * @return the fd, or -EINVAL for NULL.
 */
PK_API int pk_cgroup_events_fd(const struct pk_cgroup *cg);

/**
 * @brief Writes @p value into the cgroup's control file @p file, e.g.
 *        ("memory.max", "64M"), ("pids.max", "100"), ("cpu.max", "50000 100000").
 * @param file a file name in the cgroup directory (no '/').
 * @return 0; -EOPNOTSUPP when the file's controller (the part of @p file before
 *         the first '.': name it with pk_cgroup_controller()) is not enabled
 *         for this cgroup, i.e. not listed in its cgroup.controllers because the
 *         parent's cgroup.subtree_control does not delegate it; -ENOENT (no such
 *         file although the controller is there); -EINVAL (bad name, or the
 *         kernel refused the value); or the write's errno.
 */
PK_API int pk_cgroup_set(struct pk_cgroup *cg, const char *file, const char *value);

/**
 * @brief Names the controller a control file belongs to ("memory" for
 *        "memory.max"): the part before the first '.'.  For messages after
 *        pk_cgroup_set() returned -EOPNOTSUPP.
 * @param[out] buf receives the NUL-terminated name (truncated to fit; snprintf rules).
 * @return the name's length, or -EINVAL (NULL file or no '.').
 */
PK_API int pk_cgroup_controller(const char *file, char *buf, size_t size);

/**
 * @brief Enables controllers for the cgroup's children (writes "+memory +pids"
 *        style words into its cgroup.subtree_control), so that cgroups created
 *        under it can be limited.  The kernel refuses this (-EBUSY) while the
 *        cgroup itself holds processes, unless it is the root.
 * @param controllers space-separated names without '+', e.g. "memory pids cpu".
 * @return 0; -EOPNOTSUPP naming nothing if a controller is not available here
 *         (not in this cgroup's cgroup.controllers); -EBUSY; -EINVAL; write errno.
 */
PK_API int pk_cgroup_delegate(struct pk_cgroup *cg, const char *controllers);

/**
 * @brief Waits until the cgroup and its descendants hold no process
 *        ("populated 0" in cgroup.events), sleeping in poll() on
 *        pk_cgroup_events_fd() (no polling loop).  Blocks: for a loop use the
 *        events descriptor instead.
 * @param timeout_ms at most this long; 0: look once; < 0: forever.
 * @return 0 (empty); -ETIMEDOUT (still populated); -EINVAL (NULL); or the
 *         errno of the read or of poll().
 */
PK_API int pk_cgroup_wait_empty(const struct pk_cgroup *cg, int64_t timeout_ms);

/**
 * @brief Empties and removes a cgroup tree its owner left behind (e.g. one a
 *        supervisor killed with SIGKILL made for its services): SIGKILL to every
 *        process in @p parent/@p name and below (one counted pass, then
 *        pk_cgroup_kill(), which catches forks), a wait of at most
 *        @p timeout_ms until it is empty (pk_cgroup_wait_empty()), then rmdir
 *        of each directory below it, deepest first (32 levels at most), and of
 *        itself.  Never creates anything: a cgroup someone else removed
 *        meanwhile is -ENOENT, and directories that vanish during the removal
 *        are not errors, so two callers reclaiming the same cgroup both end
 *        well or with -ENOENT.
 * @param parent absolute path of a cgroup v2 directory (borrowed).
 * @param name the cgroup to reclaim, a child of @p parent (no '/').
 * @param timeout_ms the wait for the deaths; < 0: forever.
 * @param[out] ret_killed optional: how many processes the counted pass
 *        signalled (written on success only).
 * @return 0; -ENOENT (no such cgroup); -EOPNOTSUPP (@p parent is not in a
 *         cgroup2 file system); -ETIMEDOUT (processes still there after
 *         @p timeout_ms, e.g. in uninterruptible sleep: the tree is left in
 *         place); -ELOOP (deeper than 32 levels); -EINVAL; or an errno of the
 *         kills, reads and rmdirs (-EPERM for a member we may not signal).
 */
PK_API int pk_cgroup_reclaim(const char *parent, const char *name, int64_t timeout_ms,
                             int *ret_killed);

/**
 * @brief Closes the cgroup's descriptors and removes its directory if it is
 *        empty (rmdir; a cgroup that still holds processes or child cgroups is
 *        left in place).  Neither kills nor waits: pk_cgroup_kill() first.
 * @param cg the cgroup, or NULL.
 * @return NULL.
 */
PK_API struct pk_cgroup *pk_cgroup_free(struct pk_cgroup *cg);

/**
 * @brief Closes the cgroup's descriptors and frees the handle, leaving the
 *        directory as it is (pk_cgroup_free() also removes it when empty):
 *        for a directory that turns out to be someone else's.
 * @param cg the cgroup, or NULL.
 * @return NULL.
 */
PK_API struct pk_cgroup *pk_cgroup_close(struct pk_cgroup *cg);

/* ---- logs --------------------------------------------------------------------------------- */

/** An opaque per-service log: pipes the children write into, files on disk. */
struct pk_log;

/** Timestamp formats for pk_log_opts.timestamps. */
enum pk_log_time {
        PK_LOG_TIME_NONE = 0, /**< the line as written */
        PK_LOG_TIME_ISO8601,  /**< "2026-12-03T07:45:47.123456Z " (UTC, microseconds) */
        PK_LOG_TIME_TAI64N /**< "@4000000065f0c3a71a2b3c4d " (daemontools/s6 style, TAI = UTC + 10
                              s) */
};

/** Options of pk_log_new(); zero-initialise and set what you need (0: default). */
struct pk_log_opts {
        uint64_t max_bytes; /**< rotate when the current file would pass this size; 0: 1 MiB */
        unsigned max_files; /**< older files kept (name.log.1 .. name.log.N); 0: 10 */
        int no_old_files; /**< 1: keep none (a full file is removed at rotation); max_files ignored
                           */
        int64_t max_age_ms; /**< also rotate a non-empty file this long after its first line; 0:
                               never */
        int timestamps;     /**< enum pk_log_time */
        size_t line_max;    /**< longer lines are split at this many bytes; 0: 8192 */
        size_t buffer_max;  /**< bytes held while the file refuses writes; 0: 64 KiB */
        int apart;          /**< 0: stdout and stderr merged into name.log, in the order
                                 written (one pipe); 1: stdout to name.log, stderr to name.err.log */
        unsigned mode;      /**< file mode for new files; 0: 0640 */
};

/** Counters of a log, since pk_log_new() (both streams together). */
struct pk_log_stats {
        uint64_t lines; /**< lines written to the files */
        uint64_t bytes; /**< bytes written to the files (timestamps included) */
        uint64_t
            dropped_lines; /**< lines lost because the file refused them and the buffer was full */
        uint64_t dropped_bytes;  /**< their bytes */
        uint64_t split_lines;    /**< lines longer than line_max, split (nothing lost) */
        uint64_t rotations;      /**< rotations done (by size or by age) */
        uint64_t buffered_bytes; /**< bytes held now, waiting for the file to take them */
        uint64_t write_errors;   /**< failed writes, opens or renames of the files */
        int last_error;          /**< the last such failure's negative errno, else 0 */
};

/**
 * @brief Creates a log for one service: a pipe per stream (one if merged)
 *        whose write end the children get (pk_log_fd()), read through @p loop;
 *        lines go to @p dir/@p name.log (and @p name.err.log if apart).  The log
 *        keeps both ends of its pipes open for its whole life, so children may
 *        come and go (restarts) without a line being lost or reordered.
 *
 * Files: the current file is @p name.log; rotation renames it to
 * @p name.log.1 after shifting name.log.K to name.log.K+1 (the oldest beyond
 * max_files is overwritten), then opens a new name.log.  All files are created
 * O_CLOEXEC | O_APPEND with opts->mode.  When a write fails (disk full, I/O
 * error) the formatted lines are held up to buffer_max and retried from a
 * one-shot timer (1 s); lines beyond the buffer are dropped and counted, and
 * once writing works again a line "pk_log: dropped N lines (M bytes)" records
 * the gap in the file.  Writes are synchronous: a disk that blocks stalls the
 * loop (and, through the pipe filling, the children), never memory.
 *
 * The loop's watchers are unreferenced: the log never keeps pk_loop_run() alive.
 * Memory while idle: the struct and no buffer (a partial line is held only
 * until its end comes).
 * @param loop borrowed; must outlive the log.
 * @param dir an existing directory (opened now; borrowed string).
 * @param name the file name stem: one path component.
 * @param opts optional (NULL: defaults); copied.
 * @param[out] ret caller owns; free with pk_log_free().
 * @return 0, -EINVAL, -ENOMEM, or an errno of opening the directory, the file, the pipes.
 */
PK_API int pk_log_new(struct pk_loop *loop, const char *dir, const char *name,
                      const struct pk_log_opts *opts, struct pk_log **ret);

/**
 * @brief The write end of the pipe for @p stream (1: stdout, 2: stderr; the
 *        same fd for both when merged), borrowed: give it to a child with
 *        pk_cmd_fd(cmd, stream, fd).  Valid until pk_log_free().
 * @return the fd, or -EINVAL.
 */
PK_API int pk_log_fd(const struct pk_log *log, int stream);

/**
 * @brief Reads everything now in the pipes, ends a partial last line (as if
 *        it had ended with '\n'), and writes out.  Call it when a child
 *        exits, so its last words are in the file before the event is
 *        reported and a half line is not glued to the next child's first.
 * @return 0, or the last write error (also counted in the stats).
 */
PK_API int pk_log_flush(struct pk_log *log);

/** @brief Copies the counters. @return 0 or -EINVAL. */
PK_API int pk_log_stats(const struct pk_log *log, struct pk_log_stats *ret);

/**
 * @brief Flushes (pk_log_flush()), stops the watchers, closes the pipes and
 *        files.  Children still holding the write ends then get EPIPE/SIGPIPE.
 * @param log the log, or NULL.
 * @return NULL.
 */
PK_API struct pk_log *pk_log_free(struct pk_log *log);

/* ======================================================================================== */
/* end of the cgroups and logs section                                                       */
/* ======================================================================================== */

#ifdef __cplusplus
}
#endif
#endif
