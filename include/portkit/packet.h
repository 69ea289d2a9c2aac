/* SPDX-License-Identifier: MIT */
/**
 * @file packet.h
 * @brief Erlang port framing, sans-IO: framers and incremental deframers for
 *        `{packet,1|2|4}`, `{line,L}` and `stream`.
 *
 * Nothing here reads or writes a descriptor: bytes go in with
 * pk_deframer_feed() (or straight into the deframer's buffer with
 * pk_deframer_space() + pk_deframer_commit()), and messages come out of
 * pk_deframer_next().  However the bytes are split, the messages are the same.
 * A maximum message size bounds every allocation a peer can cause: a header
 * announcing more is an error (PK_EFRAMESIZE) before anything is allocated.
 */
#ifndef PORTKIT_PACKET_H
#define PORTKIT_PACKET_H

#include <portkit/error.h>

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @brief How messages are delimited on a byte stream. */
enum pk_framing_kind {
        /** No framing (Erlang's default `stream`): each chunk of bytes is a message. */
        PK_FRAMING_STREAM = 0,
        /** `{packet,N}`: an N-byte (1, 2 or 4) big-endian length, then the payload. */
        PK_FRAMING_PACKET = 1,
        /** `{line,L}`: input split at LF into pieces of at most L bytes; output unframed. */
        PK_FRAMING_LINE = 2
};

/** @brief Default maximum message size: 64 MiB. */
#define PK_PACKET_DEFAULT_MAX ((size_t)64 << 20)

/** @brief Erlang's `line` without a length means `{line,512}`. */
#define PK_PACKET_DEFAULT_LINE 512u

/**
 * @brief A framing: what Erlang writes as `{packet,N}`, `{line,L}` or `stream`.
 *
 * A zero-initialised struct is `stream` with the default maximum.
 */
struct pk_framing {
        /** Which framing. */
        enum pk_framing_kind kind;
        /** Header size 1, 2 or 4 for PK_FRAMING_PACKET; L >= 1 for PK_FRAMING_LINE; else 0. */
        unsigned int arg;
        /** Largest message accepted or sent, in bytes; 0 means PK_PACKET_DEFAULT_MAX. */
        size_t max_message;
};

/** @brief Message flag in line mode: the piece ended a line (Erlang's `eol`). */
#define PK_PACKET_EOL 0x1
/** @brief Message flag in line mode: the piece did not end a line (Erlang's `noeol`). */
#define PK_PACKET_NOEOL 0x2

/** @brief One deframed message. */
struct pk_packet_msg {
        /** The payload; borrowed from the deframer until its next call. Never NULL. */
        const uint8_t *data;
        /** Payload length in bytes (0 is a legal message in packet and line modes). */
        size_t len;
        /** PK_PACKET_EOL or PK_PACKET_NOEOL in line mode, else 0. */
        int flags;
};

/**
 * @brief Checks a framing and fills in its defaults.
 * @param f the framing to check.
 * @param[out] ret_norm the framing with max_message (and a zero line length) filled in;
 *             may be the same object as f.
 * @return 0, or -EINVAL for a NULL pointer, an unknown kind, a packet size other than
 *         1/2/4, or a line length of 0 or above max_message.
 */
PK_API int pk_framing_normalize(const struct pk_framing *f, struct pk_framing *ret_norm);

/**
 * @brief Parses one framing option of a command line, the way port programs,
 *        hosts and `portkit call` take them: `--packet N` (1, 2 or 4),
 *        `--line L` (1 <= L <= the framing's max_message) or `--stream`.
 * @param argc the number of arguments.
 * @param argv the arguments.
 * @param[in,out] i the index of the argument to look at; on a match it is
 *        left on the option's last word (its value), so a `for (...; i++)`
 *        loop goes on after it.
 * @param[in,out] f set on a match (kind and arg; max_message is kept).
 * @return 1 on a match; 0 if argv[*i] is not a framing option (nothing
 *         changed); -EINVAL for a missing or bad value (nothing changed).
 */
PK_API int pk_framing_option(int argc, char *const *argv, int *i, struct pk_framing *f);

/**
 * @brief Builds the header that goes before a payload of @p len bytes.
 *
 * Output that cannot be framed is a synchronous error here, unlike Erlang
 * (where it kills the port later with `einval`, or wraps past 4 GiB).
 * @param f a framing (need not be normalised).
 * @param len the payload size.
 * @param[out] ret_hdr receives 0..4 header bytes (stream and line output are unframed).
 * @param[out] ret_hdr_len the number of header bytes written.
 * @return 0; PK_EFRAMEHDR if len does not fit the header (over 255, 65535 or 2^32-1);
 *         PK_EFRAMESIZE if len is over the framing's maximum (packet mode only);
 *         -EINVAL for a bad framing or NULL output.
 */
PK_API int pk_packet_header(const struct pk_framing *f, size_t len, uint8_t ret_hdr[4],
                            size_t *ret_hdr_len);

/**
 * @brief Frames a payload into a caller buffer: header then payload.
 * @param f a framing.
 * @param data the payload (may be NULL when len is 0).
 * @param len payload size.
 * @param out the buffer to write into; borrowed for the call.
 * @param out_cap its size.
 * @param[out] ret_len bytes written (header + payload).
 * @return 0; -ENOBUFS if out_cap is too small; the errors of pk_packet_header().
 */
PK_API int pk_packet_encode(const struct pk_framing *f, const void *data, size_t len, void *out,
                            size_t out_cap, size_t *ret_len);

/** @brief An incremental deframer (opaque). */
struct pk_deframer;

/**
 * @brief Creates a deframer for input in framing @p f.
 * @param f the framing; copied.
 * @param[out] ret the new deframer; the caller owns it and frees it with pk_deframer_free().
 * @return 0, -EINVAL (see pk_framing_normalize()) or -ENOMEM.  *ret is untouched on failure.
 */
PK_API int pk_deframer_new(const struct pk_framing *f, struct pk_deframer **ret);

/**
 * @brief Frees a deframer and its buffer.
 * @param d the deframer, or NULL.
 * @return NULL, so `d = pk_deframer_free(d);` clears the pointer.
 */
PK_API struct pk_deframer *pk_deframer_free(struct pk_deframer *d);

/**
 * @brief Copies input bytes into the deframer.
 * @param d the deframer.
 * @param data the bytes (borrowed for the call; NULL allowed when len is 0).
 * @param len how many.
 * @return 0; -ENOMEM; the deframer's sticky error if it has failed before; -EINVAL for NULL.
 */
PK_API int pk_deframer_feed(struct pk_deframer *d, const void *data, size_t len);

/**
 * @brief Lends free space at the end of the buffer, for a zero-copy read().
 *
 * In packet mode the space covers at least the rest of the frame being
 * received (never more than the maximum message size allows).  Follow with
 * pk_deframer_commit() of the bytes actually stored.
 * @param d the deframer.
 * @param min_len the least free space wanted (0: a sensible read size, 64 KiB).
 * @param[out] ret_ptr where to store bytes; valid until the next call on @p d.
 * @param[out] ret_len how many bytes may be stored there (>= 1).
 * @return 0, -ENOMEM, or the sticky error.
 */
PK_API int pk_deframer_space(struct pk_deframer *d, size_t min_len, void **ret_ptr,
                             size_t *ret_len);

/**
 * @brief Accounts for @p n bytes stored into the space from pk_deframer_space().
 * @return 0, or -EINVAL if n is larger than the space lent.
 */
PK_API int pk_deframer_commit(struct pk_deframer *d, size_t n);

/**
 * @brief Takes the next complete message out of the buffered bytes.
 *
 * Stream mode returns everything buffered as one message.  Line mode returns
 * a line of at most L bytes (CRLF or LF stripped) flagged PK_PACKET_EOL, or an
 * L-byte piece of a longer line flagged PK_PACKET_NOEOL, exactly as Erlang.
 * @param d the deframer.
 * @param[out] ret the message; its data is borrowed until the next call on @p d.
 * @return 1 with a message; 0 if more input is needed; PK_EFRAMESIZE if a header
 *         announces more than the maximum (the error then sticks: every later call
 *         returns it).
 */
PK_API int pk_deframer_next(struct pk_deframer *d, struct pk_packet_msg *ret);

/**
 * @brief Drains the deframer at end of input.
 *
 * Call repeatedly after the last pk_deframer_next() returned 0.  Line mode
 * returns a trailing unterminated line as PK_PACKET_NOEOL pieces (Erlang's
 * behaviour); stream mode returns what is left.
 * @param d the deframer.
 * @param[out] ret the message, borrowed until the next call on @p d.
 * @return 1 with a message; 0 when nothing is left; PK_EPARTIAL in packet mode
 *         when input ended inside a frame (Erlang drops such bytes silently; the
 *         buffered bytes are discarded, so a second call returns 0).
 */
PK_API int pk_deframer_finish(struct pk_deframer *d, struct pk_packet_msg *ret);

/**
 * @brief Bytes buffered and not yet returned as messages.
 * @param d the deframer (NULL gives 0).
 */
PK_API size_t pk_deframer_pending(const struct pk_deframer *d);

/**
 * @brief Releases the buffer if nothing is pending (for idle connections).
 * @param d the deframer, or NULL.
 */
PK_API void pk_deframer_shrink(struct pk_deframer *d);

/**
 * @brief The deframer's normalised framing.
 * @return a pointer borrowed from @p d.
 */
PK_API const struct pk_framing *pk_deframer_framing(const struct pk_deframer *d);

#ifdef __cplusplus
}
#endif
#endif
