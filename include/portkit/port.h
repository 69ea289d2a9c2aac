/* SPDX-License-Identifier: MIT */
/**
 * @file port.h
 * @brief Erlang-style ports: the host side (open a port on a program or a descriptor
 *        pair, send, receive, exit status) and the port side (a port program's view of itself).
 *
 * A port program talks to its host over two descriptors: fds 0 and 1
 * (Erlang's default `use_stdio`) or fds 3 and 4 (`nouse_stdio`, which leaves
 * stdout free for debug output), with the framing the host opened it with.
 * pk_port_self_read() returns one message at a time and 0 at end of input, so
 * the program can exit cleanly when its host closes the port; writes return
 * -EPIPE (never SIGPIPE) once the host is gone.
 */
#ifndef PORTKIT_PORT_H
#define PORTKIT_PORT_H

#include <portkit/error.h>
#include <portkit/etf.h>
#include <portkit/loop.h>
#include <portkit/packet.h>
#include <portkit/spawn.h>

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Port side                                                           */
/* ------------------------------------------------------------------ */

/** @brief A port program's connection to its host (opaque). */
struct pk_port_self;

/** @brief pk_port_self_open() flag: talk on fds 3 (in) and 4 (out), Erlang's `nouse_stdio`. */
#define PK_PORT_SELF_NOUSE_STDIO 0x1u

/**
 * @brief Opens the port program's side on fds 0/1, or 3/4 with PK_PORT_SELF_NOUSE_STDIO.
 *
 * The descriptors are borrowed: pk_port_self_close() leaves them open.
 * @param f the framing the host uses (copied); NULL means `stream`.
 * @param flags 0 or PK_PORT_SELF_NOUSE_STDIO.
 * @param[out] ret the connection; the caller owns it (pk_port_self_close()).
 * @return 0; -EBADF if a descriptor is not open; -EINVAL for a bad framing or
 *         unknown flag; -ENOMEM.
 */
PK_API int pk_port_self_open(const struct pk_framing *f, unsigned int flags,
                             struct pk_port_self **ret);

/**
 * @brief Opens the port side on any pair of descriptors (borrowed, as above).
 * @param f the framing (NULL: stream).
 * @param in_fd the descriptor messages are read from.
 * @param out_fd the descriptor messages are written to.
 * @param[out] ret the connection; the caller owns it.
 * @return 0, -EBADF, -EINVAL or -ENOMEM.
 */
PK_API int pk_port_self_open_fds(const struct pk_framing *f, int in_fd, int out_fd,
                                 struct pk_port_self **ret);

/**
 * @brief Reads the next message, blocking until one is complete.
 * @param s the connection.
 * @param[out] ret the message; its bytes are borrowed until the next call on @p s.
 * @return 1 with a message; 0 at end of input (the host closed the port: exit now);
 *         PK_EFRAMESIZE for a header over the maximum; PK_EPARTIAL when input ended
 *         inside a frame; a negative errno from read().
 */
PK_API int pk_port_self_read(struct pk_port_self *s, struct pk_packet_msg *ret);

/**
 * @brief Writes one message with the connection's framing, blocking until all is written.
 *
 * Line and stream output are written as they are (Erlang frames only input in
 * line mode).  SIGPIPE is kept away from the process for the call.
 * @param s the connection.
 * @param data the payload, borrowed for the call (NULL allowed when len is 0).
 * @param len its size.
 * @return 0; -EPIPE when the host has gone; PK_EFRAMEHDR / PK_EFRAMESIZE for a
 *         payload the framing cannot carry (nothing is written); another negative errno.
 */
PK_API int pk_port_self_write(struct pk_port_self *s, const void *data, size_t len);

/**
 * @brief Frees the connection; its descriptors stay open.
 * @param s the connection, or NULL.
 * @return NULL.
 */
PK_API struct pk_port_self *pk_port_self_close(struct pk_port_self *s);

/** @brief The connection's normalised framing (borrowed from @p s). */
PK_API const struct pk_framing *pk_port_self_framing(const struct pk_port_self *s);

/**
 * @brief A request handler for pk_port_serve().
 * @param ctx the pointer given to pk_port_serve().
 * @param req the decoded request; valid for the call.
 * @param a an arena for the reply's terms and bytes; reset after each request.
 * @param[out] ret_reply the reply to send.
 * @return 0 to send *ret_reply; a negative code stops pk_port_serve(), which returns it.
 */
typedef int (*pk_port_serve_fn)(void *ctx, const struct pk_term *req, pk_arena *a,
                                struct pk_term *ret_reply);

/**
 * @brief Runs a request/reply loop on ETF terms until the host closes the port.
 *
 * Each message is decoded (safe defaults of pk_etf_decode(), funs refused)
 * and handed to @p fn; its reply is encoded and written back.  A message that
 * is not a valid term gets the reply `{error,badarg}` and the loop goes on.
 * Use a packet framing: stream and line framings do not delimit terms.
 * @param s the connection.
 * @param fn the handler.
 * @param ctx passed to fn.
 * @return 0 when input ended cleanly; fn's error; -EPIPE when the host went away;
 *         the errors of pk_port_self_read(); -ENOMEM.
 */
PK_API int pk_port_serve(struct pk_port_self *s, pk_port_serve_fn fn, void *ctx);

/* ------------------------------------------------------------------ */
/* Host side                                                           */
/* ------------------------------------------------------------------ */

/** @brief A port as its host sees it: a child program (or a descriptor pair) and its framing. */
struct pk_port;

/** @name Port options (pk_port_opts.flags), Erlang's open_port settings and portkit's own. */
/**@{*/
/** Child reads fd 3 and writes fd 4 (Erlang `nouse_stdio`); its fds 0 and 1 are the host's own,
 *  as in Erlang, so its stdout stays usable for debug output. */
#define PK_PORT_NOUSE_STDIO 0x0001u
/** Child's stderr is the same file as its stdout (Erlang `stderr_to_stdout`; needs use_stdio):
 *  the output pipe, or with PK_PORT_OUT the host's own stdout, as in Erlang. */
#define PK_PORT_STDERR_TO_STDOUT 0x0002u
/** Input only (Erlang `in`): the host only reads; the child's stdin is the host's, as in Erlang. */
#define PK_PORT_IN 0x0004u
/** Output only (Erlang `out`): the host only writes; the child's stdout is the host's, as in
 *  Erlang. */
#define PK_PORT_OUT 0x0008u
/** Report the child's exit (Erlang `exit_status`): the loop's exit callback; pk_port_wait()
 *  works with or without it. */
#define PK_PORT_EXIT_STATUS 0x0010u
/** At end of the child's output keep the port open (Erlang `eof`).  Without it, EOF closes
 *  the port's sending side as Erlang closes the whole port. */
#define PK_PORT_EOF 0x0020u
/** portkit: capture the child's stderr as its own message stream (framing stderr_framing). */
#define PK_PORT_STDERR_CAPTURE 0x0040u
/** portkit: on close, SIGTERM the child's process group, give the child kill_grace_ms to exit,
 *  then SIGKILL the group in every case (a grandchild may ignore SIGTERM or outlive the child),
 *  even when the child had already exited or been reaped. */
#define PK_PORT_KILL_ON_CLOSE 0x0080u
/** portkit: the child gets pdeathsig (default SIGKILL) when the host thread that opened it dies. */
#define PK_PORT_PDEATHSIG 0x0100u
/** pk_port_open_fds(): the port owns the descriptors and closes them (Erlang never does). */
#define PK_PORT_OWN_FDS 0x0200u
/**@}*/

/** @brief Erlang's default busy limits: a port is busy at 8192 queued bytes until below 4096. */
#define PK_PORT_DEFAULT_BUSY_HIGH 8192u
/** @brief See PK_PORT_DEFAULT_BUSY_HIGH. */
#define PK_PORT_DEFAULT_BUSY_LOW 4096u
/** @brief Default cap on the unread output a blocking port holds per stream: 16 MiB. */
#define PK_PORT_DEFAULT_RECV_BUFFER_MAX (16u << 20)
/** @brief Default grace between SIGTERM and SIGKILL with PK_PORT_KILL_ON_CLOSE. */
#define PK_PORT_DEFAULT_KILL_GRACE_MS 5000

/** @brief How to open a port.  A zero-initialised struct gives Erlang's defaults. */
struct pk_port_opts {
        /** Framing of messages both ways (default: stream). */
        struct pk_framing framing;
        /** PK_PORT_* flags. */
        unsigned int flags;
        /** Working directory for the child (Erlang `{cd,Dir}`); NULL: the host's. */
        const char *cd;
        /** Environment changes (Erlang `{env,Env}`): "NAME=VALUE" sets, "NAME" (no '=') unsets;
         *  merged over the host's current environment; NULL-terminated; NULL: no change. */
        const char *const *env;
        /** argv[0] for the child (Erlang `{arg0,S}`); NULL: the program path as given. */
        const char *arg0;
        /** Send-queue high watermark in bytes for the loop-driven API (0: 8192). */
        size_t busy_high;
        /** Send-queue low watermark (0: 4096; clamped to busy_high). */
        size_t busy_low;
        /** SIGTERM-to-SIGKILL grace for PK_PORT_KILL_ON_CLOSE in ms (0: 5000; negative: KILL at
         *  once). */
        int64_t kill_grace_ms;
        /** Signal for PK_PORT_PDEATHSIG (0: SIGKILL). */
        int pdeathsig;
        /** Framing of the stderr stream with PK_PORT_STDERR_CAPTURE (default: stream). */
        struct pk_framing stderr_framing;
        /** Blocking API: give up a send after this many ms (0: wait forever). */
        int64_t send_timeout_ms;
        /** Blocking API: most bytes of the child's output, and of its captured stderr, the host
         *  holds unread, each (0: PK_PORT_DEFAULT_RECV_BUFFER_MAX).  Raised to the framing's
         *  max_message + 8 so any message the framing allows still fits.  At the cap the host
         *  stops reading that stream (the child blocks writing it), and a send or call that
         *  would need more returns -ENOBUFS instead of growing. */
        size_t recv_buffer_max;
};

/** @brief Where a message came from. */
enum pk_port_source {
        PK_PORT_FROM_OUT = 0, /**< the child's output (fd 1, or 4 with nouse_stdio) */
        PK_PORT_FROM_ERR = 1  /**< the child's stderr, with PK_PORT_STDERR_CAPTURE */
};

/** @brief One message received from a port. */
struct pk_port_msg {
        /** Payload, borrowed until the next call on the port. Never NULL. */
        const uint8_t *data;
        /** Payload size. */
        size_t len;
        /** PK_PACKET_EOL / PK_PACKET_NOEOL in line mode, else 0. */
        int flags;
        /** An enum pk_port_source value. */
        int source;
};

/**
 * @brief Opens a port on an executable, Erlang's `{spawn_executable, File}` with `{args, Args}`.
 *
 * No shell and no PATH search: @p file is executed as given (relative to
 * opts->cd when set).  argv is opts->arg0 (or @p file) followed by @p args.
 * Errors the child meets before exec (a missing file, a bad cd) come back from
 * this call, not as an exit status.
 * @param file the program; borrowed for the call.
 * @param args NULL-terminated arguments (NULL: none); borrowed for the call.
 * @param opts options (NULL: defaults).
 * @param[out] ret the port; the caller owns it and ends it with pk_port_close().
 * @return 0; -ENOENT, -EACCES, -ENOEXEC ... from exec; -EINVAL for conflicting options
 *         (packet with line is impossible by construction; stderr_to_stdout with nouse_stdio
 *         or PK_PORT_STDERR_CAPTURE; in with out); -ENOMEM; -EMFILE.
 */
PK_API int pk_port_open_executable(const char *file, const char *const *args,
                                   const struct pk_port_opts *opts, struct pk_port **ret);

/**
 * @brief Opens a port on argv, searching PATH for argv[0] as execvp() does; never a shell.
 * @param argv NULL-terminated, at least one element; borrowed.
 * @param opts options (NULL: defaults); opts->arg0 replaces argv[0] as seen by the child.
 * @param[out] ret the port (caller owns).
 * @return as pk_port_open_executable().
 */
PK_API int pk_port_open_argv(const char *const *argv, const struct pk_port_opts *opts,
                             struct pk_port **ret);

/**
 * @brief Opens a port on a command line, Erlang's `{spawn, Command}`: runs
 *        `/bin/sh -c "exec COMMAND"` exactly as the VM does (so the first word must be a program).
 * @param command the command line; borrowed.
 * @param opts options (NULL: defaults); arg0 is not allowed (-EINVAL), as in Erlang.
 * @param[out] ret the port (caller owns).
 * @return as pk_port_open_executable().
 */
PK_API int pk_port_open_shell(const char *command, const struct pk_port_opts *opts,
                              struct pk_port **ret);

/**
 * @brief Opens a port on a spawn-layer command: everything a command can give
 *        its child (user, groups, rlimits, nice, umask, signals, extra
 *        descriptors, a cleared environment) plus the port's own layout.
 *
 * The port copies @p cmd and applies @p opts to the copy: env changes, cd
 * and arg0 on top of the command's own; the child leads its own session
 * (replacing the command's setsid/setpgid choice, so pk_port_kill() reaches
 * its tree); the port's descriptors (0/1, or 3/4 with nouse_stdio, and 2
 * with stderr_to_stdout or PK_PORT_STDERR_CAPTURE) replace whatever the
 * command maps there, and every other mapping of the command stays.
 * @param cmd the command; borrowed for the call (pk_cmd_fd() descriptors
 *            are mapped, not taken).
 * @param opts options (NULL: defaults).
 * @param[out] ret the port (caller owns).
 * @return 0 or the errors of pk_spawn() (-ENOENT, -EACCES, -EPERM, PK_ENOUSER ...);
 *         -EINVAL as pk_port_open_executable(); -ENOMEM.
 */
PK_API int pk_port_open_cmd(const struct pk_cmd *cmd, const struct pk_port_opts *opts,
                            struct pk_port **ret);

/**
 * @brief Opens a port on existing descriptors, Erlang's `{fd, In, Out}`: a socket, a FIFO, a tty.
 *
 * The port sets O_NONBLOCK on both.  It does not close them unless opts has
 * PK_PORT_OWN_FDS (then it owns them even on failure).  There is no child, so
 * cd, env, arg0, exit status and kill options do not apply (-EINVAL).
 * @param in_fd what the host reads messages from (-1 with PK_PORT_OUT).
 * @param out_fd what the host writes messages to (-1 with PK_PORT_IN).
 * @param opts options (NULL: defaults).
 * @param[out] ret the port (caller owns).
 * @return 0, -EBADF, -EINVAL or -ENOMEM.
 */
PK_API int pk_port_open_fds(int in_fd, int out_fd, const struct pk_port_opts *opts,
                            struct pk_port **ret);

/**
 * @brief Sends one message, blocking until it is written (Erlang's port_command).
 *
 * While the child's input is full, the port keeps reading the child's output
 * into its buffers, so a child that answers while it reads never deadlocks
 * with its host.  Those buffers stop at recv_buffer_max per stream: a child
 * that floods its output while it does not read gets -ENOBUFS, not the host's
 * memory.
 * @param p the port.
 * @param data payload, borrowed for the call (NULL allowed when len is 0).
 * @param len its size.
 * @return 0; -EPIPE if the child no longer reads (it closed its input or died); PK_ECLOSED
 *         after close_input or EOF without PK_PORT_EOF; PK_EFRAMEHDR / PK_EFRAMESIZE for a
 *         payload the framing cannot carry (nothing is written); -ETIMEDOUT after
 *         send_timeout_ms (the port is then broken: later sends return PK_ECLOSED);
 *         -ENOBUFS when the child's input stays full while its unread output has reached
 *         recv_buffer_max (pk_port_recv() it and send again; if part of the message was
 *         already written the port is broken as after a timeout);
 *         -EINVAL on an `in` port.
 */
PK_API int pk_port_send(struct pk_port *p, const void *data, size_t len);

/**
 * @brief Receives the next message, waiting up to @p timeout_ms (negative: forever).
 * @param p the port.
 * @param[out] ret the message; its data is borrowed until the next call on @p p.
 * @param timeout_ms how long to wait; 0 polls.
 * @return 1 with a message; 0 at end of the child's output (and of its stderr stream
 *         when captured); -ETIMEDOUT; PK_EFRAMESIZE for a header over the maximum (the
 *         port's input is then dead: later calls return 0); PK_EPARTIAL once when the
 *         output ended inside a frame; -EINVAL on an `out` port.
 */
PK_API int pk_port_recv(struct pk_port *p, struct pk_port_msg *ret, int64_t timeout_ms);

/**
 * @brief Sends one message and waits for the next message from the child's output.
 *
 * Messages on the stderr stream are kept for later pk_port_recv() calls, up to
 * recv_buffer_max bytes.
 * @return 1 with the reply; 0 if the output ended first; -ENOBUFS once the kept stderr
 *         reaches recv_buffer_max (pk_port_recv() takes it); the errors of pk_port_send()
 *         and pk_port_recv().
 */
PK_API int pk_port_call(struct pk_port *p, const void *data, size_t len, struct pk_port_msg *ret,
                        int64_t timeout_ms);

/**
 * @brief Half-close: gives the child EOF on its input while the host still reads its output
 *        and gets its exit status.  Erlang has no way to do this.
 * @return 0, or -EINVAL if the port has no sending side; later sends return PK_ECLOSED.
 */
PK_API int pk_port_close_input(struct pk_port *p);

/**
 * @brief Waits up to @p timeout_ms (negative: forever) for the child to exit and reaps it.
 * @param p the port.
 * @param timeout_ms 0 only checks.
 * @param[out] ret_exit how it ended (may be NULL); Erlang's `{exit_status, N}` is
 *             pk_exit_shell(ret_exit).
 * @return 0; -ETIMEDOUT; -ECHILD for a port without a child (pk_port_open_fds()).
 */
PK_API int pk_port_wait(struct pk_port *p, int64_t timeout_ms, struct pk_exit *ret_exit);

/**
 * @brief Sends a signal to the child's process group (the child leads its own).
 * @return 0, -ECHILD (no child), -ESRCH (already reaped) or another negative errno.
 */
PK_API int pk_port_kill(struct pk_port *p, int sig);

/**
 * @brief Closes a port as Erlang's port_close does, and frees it.
 *
 * Closes the host's ends, so the child sees EOF on its input.  The child is
 * not signalled (Erlang's behaviour) unless the port has PK_PORT_KILL_ON_CLOSE:
 * then its process group gets SIGTERM, the child kill_grace_ms to exit, and
 * the group SIGKILL (always: whatever of the tree remains).  A
 * child that has exited is reaped; one that still runs is left running (on a
 * loop-driven port it is handed to the loop with pk_loop_child_adopt(): the loop
 * runs until it has reaped it, and pk_loop_free() reaps or releases it).
 * @param p the port, or NULL.
 * @param[out] ret_exit how the child ended, when it has (may be NULL; {0, -1, 0, 0}
 *             if it has not).
 * @return 0 if the child was reaped (or there was none), -EINPROGRESS if it still runs.
 */
PK_API int pk_port_close(struct pk_port *p, struct pk_exit *ret_exit);

/** @brief The child's pid, or -1 (no child). */
PK_API pid_t pk_port_pid(const struct pk_port *p);

/** @brief The descriptor the host reads the child's output from, or -1.  For a port on a program
 *  it is blocking until the port is attached to a loop (poll it before reading yourself). */
PK_API int pk_port_output_fd(const struct pk_port *p);

/** @brief The port's normalised framing (borrowed from @p p). */
PK_API const struct pk_framing *pk_port_framing(const struct pk_port *p);

/* ------------------------------------------------------------------ */
/* Loop-driven host API                                                */
/* ------------------------------------------------------------------ */

/**
 * @brief What a loop-driven port tells its owner.  Every member may be NULL.
 *
 * Callbacks run on the loop's thread.  Any of them may call pk_port_send(),
 * pk_port_close_input() or pk_port_close() on the port (the port is then
 * freed once the callback returns; no further callback follows).
 */
struct pk_port_callbacks {
        /** A message from the child's output or captured stderr; borrowed for the call. */
        void (*message)(struct pk_port *p, const struct pk_port_msg *m, void *ctx);
        /** The child's output ended (all its messages were delivered first). */
        void (*eof)(struct pk_port *p, void *ctx);
        /** The child exited (only with PK_PORT_EXIT_STATUS).  Output it wrote before exiting
         *  and that is in the pipe is delivered first; the exit does not wait for EOF.  (In
         *  line mode this includes a trailing unterminated line, flagged PK_PACKET_NOEOL, when
         *  the pipe is at EOF by then; Erlang with exit_status delivers that last piece after
         *  `{exit_status,_}`.) */
        void (*exit)(struct pk_port *p, const struct pk_exit *ex, void *ctx);
        /** A failure: PK_EFRAMESIZE (input stopped and closed), PK_EPARTIAL (output ended
         *  inside a frame), -EPIPE (the child stopped reading: sending stopped), or another
         *  negative errno from read or write. */
        void (*error)(struct pk_port *p, int err, void *ctx);
        /** The send queue fell to the low watermark after pk_port_send() said PK_EBUSY_PORT. */
        void (*drain)(struct pk_port *p, void *ctx);
};

/**
 * @brief Drives the port from @p loop: many ports can share one loop.
 *
 * From then on pk_port_send() never blocks: it writes what the pipe takes and
 * queues the rest (one copy), and refuses with PK_EBUSY_PORT while the queue
 * holds busy_high bytes or more (Erlang's busy port) until the drain callback.
 * pk_port_recv(), pk_port_call() and pk_port_wait() return -EINVAL.
 * @param p the port (not already attached).
 * @param loop the loop; must outlive the port's attachment (close the port first).
 * @param cb the callbacks, copied.
 * @param ctx passed to every callback.
 * @return 0, -EINVAL, -EEXIST (already attached), or an error of the loop's watchers.
 */
PK_API int pk_port_attach(struct pk_port *p, struct pk_loop *loop,
                          const struct pk_port_callbacks *cb, void *ctx);

/** @brief Bytes queued for the child and not yet written (loop-driven API). */
PK_API size_t pk_port_queued(const struct pk_port *p);

/** @brief Nonzero while the port is busy (queue reached busy_high, not yet back to busy_low). */
PK_API int pk_port_busy(const struct pk_port *p);

#ifdef __cplusplus
}
#endif
#endif
