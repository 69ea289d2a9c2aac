/* SPDX-License-Identifier: MIT */
/**
 * @file loop.h
 * @brief An epoll event loop: I/O watchers, timers, signals, child exits,
 *        cross-thread wake-ups and deferred calls, nestable in another loop.
 *
 * Memory: every watcher is a struct the caller allocates (on the stack, in a
 * larger struct, with malloc) and owns.  The loop only links to it while it
 * is active.  Once a watcher is stopped (or has stopped itself: a one-shot
 * timer that fired, a child watcher whose child was reaped, a deferred call
 * that ran) the loop never touches it again, so it may be freed at once --
 * even from inside its own callback, or from the callback of another watcher
 * whose event was fetched in the same batch: a stopped watcher's pending
 * events are invalidated and its callback never runs afterwards.  Freeing an
 * ACTIVE watcher is undefined: stop it first.
 *
 * Every watcher struct starts with a `struct pk_loop_watcher` named `w`,
 * whose `ctx` member is free for the caller; the other members of every
 * struct here are private to the loop.
 *
 * Threads: a loop and its watchers belong to one thread at a time; only
 * pk_loop_wake_send() may be called from any thread (or a signal handler).
 * There is no global state: loops are independent, except that signals are
 * a per-thread, per-process resource (see pk_loop_signal_start()).
 *
 * Errors: functions return 0 (or a documented non-negative value) on
 * success and a negative errno on failure.
 */
#ifndef PORTKIT_LOOP_H
#define PORTKIT_LOOP_H

#include <portkit/error.h>

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
/* glibc hides siginfo_t from strict ISO C (-std=c99 without feature macros). */
#if defined(__GLIBC__) && !defined(__siginfo_t_defined)
#        include <bits/types/siginfo_t.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/** An event loop; opaque.  Create with pk_loop_new(), free with pk_loop_free(). */
struct pk_loop;

/** Private doubly-linked list node. */
struct pk_loop__link {
        struct pk_loop__link *prev; /**< private */
        struct pk_loop__link *next; /**< private */
};

/**
 * @brief The part every watcher struct starts with.
 *
 * Only `ctx` is for the caller; pass `&x.w` to pk_loop_ref(),
 * pk_loop_unref() and pk_loop_is_active().
 */
struct pk_loop_watcher {
        void *ctx;                 /**< free for the caller; the loop never reads it */
        struct pk_loop *loop;      /**< private: the loop given to the init function */
        unsigned flags;            /**< private */
        struct pk_loop__link link; /**< private */
};

/** @name I/O event bits
 * Requested with pk_loop_io_start() and reported to pk_loop_io_cb.
 * @{ */
#define PK_LOOP_READ 0x01u     /**< readable (EPOLLIN); requested and reported */
#define PK_LOOP_WRITE 0x02u    /**< writable (EPOLLOUT); requested and reported */
#define PK_LOOP_PRIORITY 0x04u /**< urgent / exceptional data (EPOLLPRI) */
#define PK_LOOP_EDGE 0x08u     /**< request only: edge-triggered (EPOLLET) */
#define PK_LOOP_HUP 0x10u      /**< reported only: hang-up or peer shut down its write side */
#define PK_LOOP_ERROR 0x20u    /**< reported only: error condition (EPOLLERR) */
/** @} */

struct pk_loop_io;
struct pk_loop_timer;
struct pk_loop_signal;
struct pk_loop_child;
struct pk_loop_wake;
struct pk_loop_defer;

/**
 * @brief Called when an I/O watcher's fd is ready.
 * @param io      the watcher.
 * @param revents PK_LOOP_READ/WRITE/PRIORITY/HUP/ERROR.  On HUP or ERROR the
 *                requested READ/WRITE bits are set too, so a callback that
 *                only looks at PK_LOOP_READ still reads and sees the EOF or
 *                error.  Only bits of the currently requested events (plus
 *                HUP/ERROR) are reported.
 */
typedef void (*pk_loop_io_cb)(struct pk_loop_io *io, unsigned revents);
/** @brief Called when a timer expires. */
typedef void (*pk_loop_timer_cb)(struct pk_loop_timer *timer);

/** What a signal watcher's callback learns (from struct signalfd_siginfo). */
struct pk_loop_siginfo {
        int signo;  /**< the signal number */
        int code;   /**< si_code: SI_USER, SI_QUEUE, CLD_EXITED, ... */
        pid_t pid;  /**< sending process (for SI_USER/SI_QUEUE/SIGCHLD) */
        uid_t uid;  /**< real uid of the sender */
        int status; /**< exit status or signal (SIGCHLD) */
        int value;  /**< sigqueue() integer value */
};
/** @brief Called on the loop thread for each received signal. */
typedef void (*pk_loop_signal_cb)(struct pk_loop_signal *sig, const struct pk_loop_siginfo *info);

/**
 * @brief How a process ended: the one exit shape of every layer (the loop's
 *        child watchers, pk_proc_wait(), pk_run(), ports).
 */
struct pk_exit {
        int exited;      /**< 1 if the process called exit(); 0 if a signal killed it */
        int code;        /**< exit code (0..255) when exited, else -1 */
        int signal;      /**< the signal that killed it when !exited, else 0 */
        int core_dumped; /**< 1 if it was killed and dumped core, else 0 */
};

/**
 * @brief Decodes a status word as waitpid() reports it.  A status that is
 *        neither an exit nor a death by signal (stopped, continued) gives
 *        {0, -1, 0, 0}.
 */
PK_API struct pk_exit pk_exit_from_wait_status(int wstatus);

/**
 * @brief Decodes what waitid() reports: si_code CLD_EXITED, CLD_KILLED or
 *        CLD_DUMPED with si_status.  NULL or any other si_code gives
 *        {0, -1, 0, 0}.
 */
PK_API struct pk_exit pk_exit_from_siginfo(const siginfo_t *si);

/**
 * @brief The status as a shell (and Erlang's `{exit_status, N}`) reports it:
 *        the exit code, or 128 + the signal number.  -1 for NULL or for an
 *        exit that is neither.
 */
PK_API int pk_exit_shell(const struct pk_exit *e);

/**
 * @brief Called once when a watched child has exited and been reaped.
 * @param child the watcher, already stopped; pk_loop_child_pid() names the child.
 * @param err   0, or a negative errno if the child could not be reaped
 *              (e.g. -ECHILD: someone else reaped it).
 * @param ex    how it ended; never NULL ({0, -1, 0, 0} when err < 0); borrowed
 *              for the call.
 */
typedef void (*pk_loop_child_cb)(struct pk_loop_child *child, int err, const struct pk_exit *ex);
/** @brief Called on the loop thread after pk_loop_wake_send(). */
typedef void (*pk_loop_wake_cb)(struct pk_loop_wake *wake);
/** @brief A deferred call. */
typedef void (*pk_loop_defer_cb)(struct pk_loop_defer *defer);

/** I/O watcher: one fd, read and/or write interest, level- or edge-triggered. */
struct pk_loop_io {
        struct pk_loop_watcher w; /**< common part; `w.ctx` is the caller's */
        pk_loop_io_cb cb;         /**< private */
        int fd;                   /**< private */
        unsigned events;          /**< private: requested PK_LOOP_* bits */
};

/** Timer: one-shot or repeating, millisecond resolution, CLOCK_MONOTONIC. */
struct pk_loop_timer {
        struct pk_loop_watcher w; /**< common part; `w.ctx` is the caller's */
        pk_loop_timer_cb cb;      /**< private */
        uint64_t due;             /**< private: absolute deadline, ms */
        uint64_t repeat;          /**< private: period, ms (0: one-shot) */
        uint64_t seq;             /**< private: start order, breaks deadline ties */
        size_t heap_index;        /**< private */
};

/** Signal watcher. */
struct pk_loop_signal {
        struct pk_loop_watcher w; /**< common part; `w.ctx` is the caller's */
        pk_loop_signal_cb cb;     /**< private */
        int signo;                /**< private */
};

/** Child-exit watcher (pidfd). */
struct pk_loop_child {
        struct pk_loop_watcher w; /**< common part; `w.ctx` is the caller's */
        pk_loop_child_cb cb;      /**< private */
        pid_t pid;                /**< private */
        int pidfd;                /**< private */
        int owns_pidfd;           /**< private */
};

/** Cross-thread wake-up. */
struct pk_loop_wake {
        struct pk_loop_watcher w; /**< common part; `w.ctx` is the caller's */
        pk_loop_wake_cb cb;       /**< private */
        int pending;              /**< private; accessed atomically */
};

/** Deferred call. */
struct pk_loop_defer {
        struct pk_loop_watcher w; /**< common part; `w.ctx` is the caller's */
        pk_loop_defer_cb cb;      /**< private */
};

/** @name Results of the run functions (non-negative)
 * @{ */
#define PK_LOOP_DONE 0     /**< no active, referenced watcher remains */
#define PK_LOOP_ALIVE 1    /**< (run_once/run_nowait) watchers remain active */
#define PK_LOOP_STOPPED 2  /**< pk_loop_stop() was called */
#define PK_LOOP_TIMEDOUT 3 /**< (run_timeout) the timeout passed */
/** @} */

/* ---- the loop ---------------------------------------------------------- */

/**
 * @brief Creates a loop.
 *
 * Opens an epoll fd, an eventfd (wake-ups and deferred calls) and a timerfd
 * (the next timer deadline), all close-on-exec.
 * @param[out] ret_loop the new loop, owned by the caller; free with
 *                      pk_loop_free().  Untouched on failure.
 * @return 0, -EINVAL if ret_loop is NULL, -ENOMEM, or the errno of
 *         epoll_create1/eventfd/timerfd_create (-EMFILE...).
 */
PK_API int pk_loop_new(struct pk_loop **ret_loop);

/**
 * @brief Frees a loop.
 *
 * Active watchers are stopped first (their callbacks never run; their
 * memory stays the caller's and may be freed afterwards), which closes the
 * pidfds the loop opened and restores the signal mask.  Must not be called
 * while the loop runs (from a callback): the loop is then left untouched
 * and returned.
 * @param loop the loop, or NULL.
 * @return NULL (or @p loop if it is running).
 */
PK_API struct pk_loop *pk_loop_free(struct pk_loop *loop);

/**
 * @brief Runs until no active referenced watcher remains or pk_loop_stop().
 * @return PK_LOOP_DONE, PK_LOOP_STOPPED, -EINVAL (NULL), -EBUSY if the loop
 *         is already running (called from a callback), or a negative errno
 *         if epoll_wait fails (EINTR is retried).
 */
PK_API int pk_loop_run(struct pk_loop *loop);

/**
 * @brief Like pk_loop_run() but returns after at most @p timeout_ms.
 *
 * Never returns PK_LOOP_TIMEDOUT before @p timeout_ms milliseconds have
 * passed on CLOCK_MONOTONIC since the call.
 * @param timeout_ms 0: one pass without waiting (poll); < 0: forever, as
 *                   pk_loop_run().
 * @return PK_LOOP_DONE, PK_LOOP_STOPPED, PK_LOOP_TIMEDOUT, or a negative
 *         errno as pk_loop_run().
 */
PK_API int pk_loop_run_timeout(struct pk_loop *loop, int64_t timeout_ms);

/**
 * @brief Runs one pass: waits (without limit) for at least one event if
 *        there is nothing to do yet, then dispatches one batch of events,
 *        the due timers and the deferred calls.
 *
 * Returns at once, without waiting, if no active referenced watcher exists.
 * A pass may end without any callback having run (a stopped timer's old
 * deadline, a coalesced wake-up).
 * @return PK_LOOP_DONE, PK_LOOP_ALIVE, PK_LOOP_STOPPED, or a negative errno.
 */
PK_API int pk_loop_run_once(struct pk_loop *loop);

/**
 * @brief Runs one pass without blocking (for embedding; see pk_loop_fd()).
 * @return PK_LOOP_DONE, PK_LOOP_ALIVE, PK_LOOP_STOPPED, or a negative errno.
 */
PK_API int pk_loop_run_nowait(struct pk_loop *loop);

/**
 * @brief Makes the running (or next) run call return PK_LOOP_STOPPED after
 *        the current pass completes.
 *
 * The rest of the current pass (events already fetched, due timers,
 * deferred calls) still runs.  Called while the loop is not running, the
 * next run call does one non-blocking pass and returns PK_LOOP_STOPPED.
 * Loop thread only.  NULL is ignored.
 */
PK_API void pk_loop_stop(struct pk_loop *loop);

/**
 * @brief The loop's epoll fd, for nesting the loop in another one.
 *
 * The fd becomes readable when the loop has work: an I/O event, a due timer
 * (through the timerfd in the set), a signal, a child exit, a wake-up or a
 * pending deferred call.  Register it for reading (level-triggered) in the
 * outer loop (libuv uv_poll, GLib g_unix_fd_add, epoll, poll) and call
 * pk_loop_run_nowait() when it is readable.  Readability can be spurious;
 * run_nowait then simply does nothing.
 * @return the fd, borrowed: it stays owned by the loop and valid until
 *         pk_loop_free(); -EINVAL if loop is NULL.
 */
PK_API int pk_loop_fd(const struct pk_loop *loop);

/**
 * @brief The loop's clock: CLOCK_MONOTONIC in milliseconds, sampled at the
 *        start of the current pass (cheap; does not read the clock).
 */
PK_API uint64_t pk_loop_now(const struct pk_loop *loop);

/**
 * @brief Number of active watchers that keep the loop alive (referenced).
 */
PK_API unsigned pk_loop_alive(const struct pk_loop *loop);

/* ---- common to every watcher --------------------------------------------- */

/**
 * @brief Lets an active or future-active watcher stop keeping the loop alive.
 *
 * pk_loop_run() returns PK_LOOP_DONE when only unreferenced watchers are
 * left; they still fire while the loop runs.  Sticky across stop/start.
 * @param w `&watcher.w` of any watcher (after its init function); NULL is ignored.
 */
PK_API void pk_loop_unref(struct pk_loop_watcher *w);

/** @brief Undoes pk_loop_unref() (the default). NULL is ignored. */
PK_API void pk_loop_ref(struct pk_loop_watcher *w);

/** @brief 1 if the watcher is active (started and not yet stopped), else 0. */
PK_API int pk_loop_is_active(const struct pk_loop_watcher *w);

/* ---- I/O ----------------------------------------------------------------- */

/**
 * @brief Prepares an I/O watcher for @p fd (the fd stays the caller's).
 *
 * Must not be called on an active watcher.  Close the fd only after
 * stopping the watcher: an fd closed while registered can keep reporting
 * events if another descriptor shares its open file (a dup, a forked child).
 * Only one watcher per fd per loop (epoll's rule; use dup() for a second).
 */
PK_API void pk_loop_io_init(struct pk_loop *loop, struct pk_loop_io *io, int fd);

/**
 * @brief Starts watching, or changes the events of an active watcher.
 * @param io     an initialised watcher.
 * @param events PK_LOOP_READ and/or PK_LOOP_WRITE and/or PK_LOOP_PRIORITY,
 *               optionally | PK_LOOP_EDGE.  With EDGE the callback runs only
 *               when the state changes (new data, new room): read or write
 *               until -EAGAIN.  Without it (level) it runs on every pass
 *               while the condition holds.
 * @param cb     callback, not NULL.
 * @return 0; -EINVAL (NULL, no interest bit, unknown bit); -EEXIST if another
 *         watcher of this loop has the fd; -EBADF; -EPERM (the fd does not
 *         support epoll, e.g. a regular file); -ENOMEM/-ENOSPC from epoll_ctl.
 *         On failure an active watcher keeps its previous events.
 */
PK_API int pk_loop_io_start(struct pk_loop_io *io, unsigned events, pk_loop_io_cb cb);

/**
 * @brief Stops an I/O watcher (no-op if inactive).  Its already-fetched
 *        events are dropped; it may be freed afterwards.
 */
PK_API void pk_loop_io_stop(struct pk_loop_io *io);

/** @brief The watcher's fd. */
PK_API int pk_loop_io_fd(const struct pk_loop_io *io);

/* ---- timers -------------------------------------------------------------- */

/** @brief Prepares a timer. Must not be called on an active timer. */
PK_API void pk_loop_timer_init(struct pk_loop *loop, struct pk_loop_timer *timer);

/**
 * @brief Starts (or restarts) a timer.
 *
 * The deadline is the current CLOCK_MONOTONIC time in ms plus @p timeout_ms;
 * it fires on the first pass whose pk_loop_now() is at or past it.  Timers
 * fire in deadline order, and in start order for equal deadlines.  A timer
 * started from a timer callback never fires in the same pass, even with a
 * 0 timeout.  Starting is O(log n) and allocation-free except when the
 * loop's heap array grows.
 * @param timeout_ms first expiry, from now (0: next pass; < 0: -EINVAL, a
 *                   timer that never fires is no timer).
 * @param repeat_ms  0 for one-shot; otherwise after each expiry the timer is
 *                   re-armed for pk_loop_now() + repeat_ms before its
 *                   callback runs (no catch-up bursts after a stall); < 0:
 *                   -EINVAL.
 * @param cb         callback, not NULL.
 * @return 0, -EINVAL, -ENOMEM (heap growth; the timer stays inactive).
 */
PK_API int pk_loop_timer_start(struct pk_loop_timer *timer, int64_t timeout_ms, int64_t repeat_ms,
                               pk_loop_timer_cb cb);

/** @brief Stops a timer (no-op if inactive). It may be freed afterwards. */
PK_API void pk_loop_timer_stop(struct pk_loop_timer *timer);

/** @brief The active timer's absolute deadline in loop-clock ms (0 if inactive). */
PK_API uint64_t pk_loop_timer_due(const struct pk_loop_timer *timer);

/* ---- signals ------------------------------------------------------------- */

/** @brief Prepares a signal watcher. Must not be called on an active one. */
PK_API void pk_loop_signal_init(struct pk_loop *loop, struct pk_loop_signal *sig);

/**
 * @brief Watches @p signo through the loop's signalfd.
 *
 * The signal is BLOCKED IN THE CALLING THREAD (pthread_sigmask) when its
 * first watcher starts, so that it queues for the signalfd instead of
 * running its disposition.  A process-directed signal (kill, Ctrl-C) can
 * still be taken by another thread that leaves it unblocked: block it in
 * every thread (e.g. before creating threads) if that matters.  When the
 * last watcher of @p signo stops, the mask is restored: if the loop blocked
 * the signal it unblocks it, after discarding any instance still pending
 * (so stopping never lets its default action run later).  A signal that was
 * already blocked stays blocked and its pending instances are left alone.
 * Start and stop signal watchers from the thread that runs the loop, and
 * watch a given signal in one loop only.  Starting an active watcher moves
 * it to @p signo (or only changes @p cb).  Several watchers of one signal all
 * get each instance; standard signals coalesce while pending (kernel rule).
 * @return 0, -EINVAL (NULL cb, signo out of range, SIGKILL, SIGSTOP),
 *         -ENOMEM, -EMFILE... (creating the signalfd).
 */
PK_API int pk_loop_signal_start(struct pk_loop_signal *sig, int signo, pk_loop_signal_cb cb);

/** @brief Stops a signal watcher (no-op if inactive); see pk_loop_signal_start(). */
PK_API void pk_loop_signal_stop(struct pk_loop_signal *sig);

/* ---- children ------------------------------------------------------------ */

/** @brief Prepares a child watcher. Must not be called on an active one. */
PK_API void pk_loop_child_init(struct pk_loop *loop, struct pk_loop_child *child);

/**
 * @brief Watches child @p pid for exit through a pidfd the loop opens
 *        (and closes when the watcher stops).
 *
 * THE LOOP REAPS THE CHILD: when it exits, the loop collects it with
 * waitid(P_PIDFD, ..., WEXITED), stops the watcher, then calls @p cb once
 * with the decoded status.  @p pid must be an unreaped child of this
 * process (a zombie is fine); nobody else may wait for it meanwhile.
 * Starting an active watcher stops it first (it then watches @p pid).
 * @return 0; -EINVAL (NULL, pid <= 0); -ESRCH (no such process); -ECHILD
 *         (not a child of this process); -EMFILE...; -ENOSYS (kernel < 5.3).
 */
PK_API int pk_loop_child_start(struct pk_loop_child *child, pid_t pid, pk_loop_child_cb cb);

/**
 * @brief Like pk_loop_child_start() with an existing pidfd (e.g. from
 *        clone(CLONE_PIDFD) or pidfd_open()).
 *
 * Borrows @p pidfd: the caller keeps it open while the watcher is active
 * and closes it afterwards; the loop never closes it.  Since the pidfd is
 * added to the loop's epoll set, do not also watch it with an I/O watcher.
 * @return as pk_loop_child_start(); -EBADF/-EINVAL if pidfd is not a pidfd.
 */
PK_API int pk_loop_child_start_pidfd(struct pk_loop_child *child, int pidfd, pk_loop_child_cb cb);

/**
 * @brief Stops watching (no-op if inactive); the child is then not reaped
 *        by the loop.  Closes the pidfd if the loop opened it.
 */
PK_API void pk_loop_child_stop(struct pk_loop_child *child);

/**
 * @brief Hands child @p pid to the loop to reap, with no callback: "reap it
 *        when it exits, I no longer care" (a port closed Erlang-style while
 *        its program still runs uses this).
 *
 * The loop owns the watcher it allocates for this.  It counts as an active,
 * referenced watcher: pk_loop_run() keeps running until the child has exited
 * and been reaped.  pk_loop_free() reaps the child if it has exited by then,
 * and otherwise releases it (closes the pidfd, frees the watcher) without
 * waiting: it is then left to whoever reaps this process's children.
 * @return 0; -EINVAL (NULL loop, pid <= 0); -ENOMEM; the errors of
 *         pk_loop_child_start() (-ECHILD: not an unreaped child of ours ...).
 */
PK_API int pk_loop_child_adopt(struct pk_loop *loop, pid_t pid);

/**
 * @brief The pid of the watched child: the one given to pk_loop_child_start(),
 *        or (started on a pidfd) the one waitid() reported once reaped; 0 if
 *        unknown.  Valid in the callback and until the watcher is started again.
 */
PK_API pid_t pk_loop_child_pid(const struct pk_loop_child *child);

/* ---- cross-thread wake-up ------------------------------------------------ */

/** @brief Prepares a wake-up watcher. Must not be called on an active one. */
PK_API void pk_loop_wake_init(struct pk_loop *loop, struct pk_loop_wake *wake);

/**
 * @brief Activates a wake-up watcher (loop thread).
 *
 * An active wake-up watcher keeps pk_loop_run() alive; pk_loop_unref() it
 * if that is not wanted.  A send made before the start is not lost.
 * @return 0, -EINVAL (NULL), or a negative errno from write(2) when
 *         re-signalling such an early send.
 */
PK_API int pk_loop_wake_start(struct pk_loop_wake *wake, pk_loop_wake_cb cb);

/** @brief Deactivates a wake-up watcher (loop thread; no-op if inactive). */
PK_API void pk_loop_wake_stop(struct pk_loop_wake *wake);

/**
 * @brief Asks for @p wake's callback to run on the loop thread.
 *
 * Safe from any thread and from a signal handler (an atomic exchange and at
 * most one eventfd write).  Sends COALESCE: several sends before the
 * callback runs give one call; every send is followed by at least one call
 * that starts after it.  The watcher must be active, and must not be
 * stopped or freed while another thread may still call this.
 * @return 0, -EINVAL (NULL), or a negative errno from write(2).
 */
PK_API int pk_loop_wake_send(struct pk_loop_wake *wake);

/* ---- deferred calls ------------------------------------------------------ */

/** @brief Prepares a deferred call. Must not be called on an active one. */
PK_API void pk_loop_defer_init(struct pk_loop *loop, struct pk_loop_defer *defer);

/**
 * @brief Queues @p cb to run once, on the next pass of the loop.
 *
 * The loop does not block while deferred calls are queued, and pk_loop_fd()
 * is readable.  Calls queued from a deferred callback run on the following
 * pass, not the current one.  The watcher is inactive again when its
 * callback runs, so the callback may queue it again.  Queuing an already
 * queued call does nothing (it keeps its place).
 * @return 0 or -EINVAL (NULL).
 */
PK_API int pk_loop_defer_start(struct pk_loop_defer *defer, pk_loop_defer_cb cb);

/** @brief Cancels a queued deferred call (no-op if not queued). */
PK_API void pk_loop_defer_stop(struct pk_loop_defer *defer);

#ifdef __cplusplus
}
#endif
#endif
