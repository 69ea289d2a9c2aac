/* SPDX-License-Identifier: MIT */
/**
 * @file sup.h
 * @brief Supervision of OS processes.  This header's objects: `pk_cgroup`
 *        (one cgroup v2 per service) and `pk_log` (log capture with rotation,
 *        no logger process); the supervisor core's objects join them here.
 *
 * Errors are negative errno values or PK_E* codes (see error.h).  Every
 * descriptor made here is close-on-exec from birth.  Nothing here blocks on
 * a child, installs a signal handler, or wakes the loop while idle.
 */
#ifndef PORTKIT_SUP_H
#define PORTKIT_SUP_H

#include <portkit/error.h>
#include <portkit/loop.h>

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

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
 * @brief Closes the cgroup's descriptors and removes its directory if it is
 *        empty (rmdir; a cgroup that still holds processes or child cgroups is
 *        left in place).  Neither kills nor waits: pk_cgroup_kill() first.
 * @param cg the cgroup, or NULL.
 * @return NULL.
 */
PK_API struct pk_cgroup *pk_cgroup_free(struct pk_cgroup *cg);

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
