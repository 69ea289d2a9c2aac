/* SPDX-License-Identifier: MIT */
/* Erlang port framing without I/O: the header framer and the incremental
 * deframer for {packet,N}, {line,L} and stream.  The deframer keeps one
 * growable buffer whose size a peer can only push up to the maximum message
 * size, so a hostile length header costs an error, never an allocation. */
#include "portkit/packet.h"
#include "common/dynbuf.h"
#include "internal.h"

#include <string.h>

/* A read size that suits pipes (their default capacity) and stream mode. */
#define PK__READ_CHUNK ((size_t)64 << 10)

struct pk_deframer {
        struct pk_framing f;
        uint8_t *buf;
        size_t cap;
        size_t start;   /* first byte not yet returned */
        size_t end;     /* one past the last byte stored */
        size_t lent;    /* space lent by pk_deframer_space(), not yet committed */
        size_t scanned; /* line mode: bytes after start known to hold no LF */
        int error;      /* sticky error (PK_EFRAMESIZE) */
};

/* A non-NULL pointer for empty messages when no buffer exists yet. */
static const uint8_t pk__empty[1];

int pk_framing_normalize(const struct pk_framing *f, struct pk_framing *ret_norm)
{
        if (!f || !ret_norm)
                return -EINVAL;
        struct pk_framing n = *f;
        if (n.max_message == 0)
                n.max_message = PK_PACKET_DEFAULT_MAX;
        switch (n.kind) {
        case PK_FRAMING_STREAM:
                n.arg = 0;
                break;
        case PK_FRAMING_PACKET:
                if (n.arg != 1 && n.arg != 2 && n.arg != 4)
                        return -EINVAL;
                break;
        case PK_FRAMING_LINE:
                if (n.arg == 0 || n.arg > n.max_message)
                        return -EINVAL;
                break;
        default:
                return -EINVAL;
        }
        *ret_norm = n;
        return 0;
}

int pk_packet_header(const struct pk_framing *f, size_t len, uint8_t ret_hdr[4],
                     size_t *ret_hdr_len)
{
        struct pk_framing n;
        int r = pk_framing_normalize(f, &n);
        if (r < 0)
                return r;
        if (!ret_hdr || !ret_hdr_len)
                return -EINVAL;
        if (n.kind != PK_FRAMING_PACKET) {
                *ret_hdr_len = 0;
                return 0;
        }
        /* Erlang accepts these and fails the port later (or wraps the length
         * past 4 GiB); a header that lies is worse than a synchronous error. */
        if ((n.arg == 1 && len > 0xffu) || (n.arg == 2 && len > 0xffffu) ||
            (uint64_t)len > 0xffffffffu)
                return PK_EFRAMEHDR;
        if (len > n.max_message)
                return PK_EFRAMESIZE;
        for (unsigned int i = 0; i < n.arg; i++)
                ret_hdr[i] = (uint8_t)(len >> (8 * (n.arg - 1 - i)));
        *ret_hdr_len = n.arg;
        return 0;
}

int pk_packet_encode(const struct pk_framing *f, const void *data, size_t len, void *out,
                     size_t out_cap, size_t *ret_len)
{
        uint8_t hdr[4];
        size_t hlen;
        if (!out || !ret_len || (!data && len > 0))
                return -EINVAL;
        int r = pk_packet_header(f, len, hdr, &hlen);
        if (r < 0)
                return r;
        if (out_cap < hlen || out_cap - hlen < len)
                return -ENOBUFS;
        memcpy(out, hdr, hlen);
        if (len > 0)
                memcpy((uint8_t *)out + hlen, data, len);
        *ret_len = hlen + len;
        return 0;
}

int pk_deframer_new(const struct pk_framing *f, struct pk_deframer **ret)
{
        struct pk_framing n;
        if (!ret)
                return -EINVAL;
        int r = pk_framing_normalize(f, &n);
        if (r < 0)
                return r;
        struct pk_deframer *d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        d->f = n;
        *ret = d;
        return 0;
}

struct pk_deframer *pk_deframer_free(struct pk_deframer *d)
{
        if (d) {
                free(d->buf);
                free(d);
        }
        return NULL;
}

/* Makes room for at least `want` bytes after end: moves pending bytes to the
 * front first, grows only if that is not enough. */
static int reserve(struct pk_deframer *d, size_t want)
{
        if (d->start == d->end) {
                /* Keep the buffer: freeing a large one here would cost an
                 * mmap and its page faults on every big message.
                 * pk_deframer_shrink() gives it back when the owner is idle. */
                d->start = d->end = 0;
                d->scanned = 0;
        }
        if (d->cap - d->end >= want)
                return 0;
        if (d->start > 0) {
                memmove(d->buf, d->buf + d->start, d->end - d->start);
                d->end -= d->start;
                d->start = 0;
                if (d->cap - d->end >= want)
                        return 0;
        }
        if (want > SIZE_MAX - d->end)
                return -ENOMEM;
        void *nb = d->buf;
        if (pk__mem_grow(&nb, &d->cap, d->end + want, SIZE_MAX, 4096) < 0)
                return -ENOMEM;
        d->buf = nb;
        return 0;
}

int pk_deframer_feed(struct pk_deframer *d, const void *data, size_t len)
{
        if (!d || (!data && len > 0))
                return -EINVAL;
        if (d->error)
                return d->error;
        if (len == 0)
                return 0;
        d->lent = 0;
        int r = reserve(d, len);
        if (r < 0)
                return r;
        memcpy(d->buf + d->end, data, len);
        d->end += len;
        return 0;
}

/* The length announced by the packet header at start; needs arg bytes pending. */
static size_t packet_len(const struct pk_deframer *d)
{
        const uint8_t *p = d->buf + d->start;
        size_t len = 0;
        for (unsigned int i = 0; i < d->f.arg; i++)
                len = (len << 8) | p[i];
        return len;
}

int pk_deframer_space(struct pk_deframer *d, size_t min_len, void **ret_ptr, size_t *ret_len)
{
        if (!d || !ret_ptr || !ret_len)
                return -EINVAL;
        if (d->error)
                return d->error;
        size_t want = min_len ? min_len : PK__READ_CHUNK;
        if (d->f.kind == PK_FRAMING_PACKET && d->end - d->start >= d->f.arg) {
                size_t len = packet_len(d);
                if (len > d->f.max_message)
                        return d->error = PK_EFRAMESIZE;
                size_t total = d->f.arg + len, have = d->end - d->start;
                if (have < total && total - have > want)
                        want = total - have;
        }
        int r = reserve(d, want);
        if (r < 0)
                return r;
        d->lent = d->cap - d->end;
        *ret_ptr = d->buf + d->end;
        *ret_len = d->lent;
        return 0;
}

int pk_deframer_commit(struct pk_deframer *d, size_t n)
{
        if (!d || n > d->lent)
                return -EINVAL;
        d->end += n;
        d->lent = 0;
        return 0;
}

static int emit(struct pk_deframer *d, size_t off, size_t len, size_t consumed, int flags,
                struct pk_packet_msg *ret)
{
        ret->data = d->buf ? d->buf + d->start + off : pk__empty;
        ret->len = len;
        ret->flags = flags;
        d->start += consumed;
        d->scanned = 0;
        d->lent = 0;
        return 1;
}

static int next_line(struct pk_deframer *d, struct pk_packet_msg *ret)
{
        const size_t L = d->f.arg;
        const uint8_t *p = d->buf + d->start;
        size_t n = d->end - d->start;
        /* Only the first L + 2 bytes can decide the next message: a line end
         * further away means an L-byte noeol piece comes first. */
        size_t lim = n < L + 2 ? n : L + 2;
        const uint8_t *lf = NULL;
        if (d->scanned < lim)
                lf = memchr(p + d->scanned, '\n', lim - d->scanned);
        if (lf) {
                size_t e = (size_t)(lf - p);
                size_t c = (e > 0 && p[e - 1] == '\r') ? e - 1 : e;
                if (c <= L)
                        return emit(d, 0, c, e + 1, PK_PACKET_EOL, ret);
                return emit(d, 0, L, L, PK_PACKET_NOEOL, ret);
        }
        d->scanned = lim;
        /* No LF yet.  The line is certainly longer than L once L + 2 bytes are
         * here, or L + 1 whose last is not a CR (a CR there may still be the
         * start of a CRLF that ends a line of exactly L bytes). */
        if (n >= L + 2 || (n == L + 1 && p[L] != '\r'))
                return emit(d, 0, L, L, PK_PACKET_NOEOL, ret);
        return 0;
}

int pk_deframer_next(struct pk_deframer *d, struct pk_packet_msg *ret)
{
        if (!d || !ret)
                return -EINVAL;
        if (d->error)
                return d->error;
        size_t n = d->end - d->start;
        switch (d->f.kind) {
        case PK_FRAMING_PACKET: {
                if (n < d->f.arg)
                        return 0;
                size_t len = packet_len(d);
                if (len > d->f.max_message)
                        return d->error = PK_EFRAMESIZE;
                if (n - d->f.arg < len)
                        return 0;
                return emit(d, d->f.arg, len, d->f.arg + len, 0, ret);
        }
        case PK_FRAMING_LINE:
                return n == 0 ? 0 : next_line(d, ret);
        case PK_FRAMING_STREAM:
        default:
                return n == 0 ? 0 : emit(d, 0, n, n, 0, ret);
        }
}

int pk_deframer_finish(struct pk_deframer *d, struct pk_packet_msg *ret)
{
        int r = pk_deframer_next(d, ret);
        if (r != 0)
                return r;
        size_t n = d->end - d->start;
        if (n == 0)
                return 0;
        if (d->f.kind == PK_FRAMING_LINE) {
                /* At EOF a trailing line is not a line: noeol pieces of at most L. */
                size_t len = n < d->f.arg ? n : d->f.arg;
                return emit(d, 0, len, len, PK_PACKET_NOEOL, ret);
        }
        /* Packet mode: input ended inside a frame. */
        d->start = d->end = 0;
        d->scanned = 0;
        return PK_EPARTIAL;
}

size_t pk_deframer_pending(const struct pk_deframer *d)
{
        return d ? d->end - d->start : 0;
}

void pk_deframer_shrink(struct pk_deframer *d)
{
        if (d && d->start == d->end) {
                free(d->buf);
                d->buf = NULL;
                d->cap = d->start = d->end = d->lent = d->scanned = 0;
        }
}

const struct pk_framing *pk_deframer_framing(const struct pk_deframer *d)
{
        return d ? &d->f : NULL;
}
