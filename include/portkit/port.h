/* SPDX-License-Identifier: MIT */
/**
 * @file port.h
 * @brief Erlang-style ports: the port side (a port program's view of itself).
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
#include <portkit/packet.h>

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

#ifdef __cplusplus
}
#endif
#endif
