/* SPDX-License-Identifier: MIT */
/* The capped growable buffer (dynbuf.h) and the growth policy every growable
 * byte buffer in the library shares. */
#include "common/dynbuf.h"

#include "internal.h"

#include <stdint.h>

int pk__mem_grow(void **mem, size_t *cap, size_t need, size_t limit, size_t first)
{
        if (need <= *cap)
                return 0;
        size_t c = *cap ? *cap : first;
        while (c < need)
                c = c > SIZE_MAX / 2 ? SIZE_MAX : c * 2;
        if (c > limit)
                c = limit;
        void *m = realloc(*mem, c);
        if (!m)
                return -ENOMEM;
        *mem = m;
        *cap = c;
        return 0;
}

int pk__array_grow(void **arr, size_t *cap, size_t need, size_t elem, size_t first)
{
        if (need <= *cap)
                return 0;
        if (!elem || need > SIZE_MAX / elem)
                return -ENOMEM;
        size_t limit = SIZE_MAX / elem, bytes = *cap * elem;
        first = first < limit ? first : limit;
        /* Every size pk__mem_grow picks stays a multiple of elem: it doubles
         * *cap * elem or first * elem and is clamped to limit * elem. */
        int r = pk__mem_grow(arr, &bytes, need * elem, limit * elem, first * elem);
        if (r == 0)
                *cap = bytes / elem;
        return r;
}

void pk__dynbuf_init(struct pk__dynbuf *b, size_t max, int toobig)
{
        *b = (struct pk__dynbuf){.max = max, .toobig = toobig};
}

void pk__dynbuf_free(struct pk__dynbuf *b)
{
        if (!b)
                return;
        free(b->p);
        pk__dynbuf_init(b, b->max, b->toobig);
}

void pk__dynbuf_reset(struct pk__dynbuf *b)
{
        b->len = 0;
        b->err = 0;
        if (b->p)
                b->p[0] = '\0';
}

static int fail(struct pk__dynbuf *b, int err)
{
        if (!b->err)
                b->err = err;
        return b->err;
}

char *pk__dynbuf_room(struct pk__dynbuf *b, size_t n)
{
        if (b->err)
                return NULL;
        size_t max = b->max ? b->max : SIZE_MAX - 1;
        if (b->len > max || n > max - b->len) {
                fail(b, b->toobig ? b->toobig : PK_EBUFCAP);
                return NULL;
        }
        void *m = b->p;
        if (pk__mem_grow(&m, &b->cap, b->len + n + 1, max + 1, 64) < 0) {
                fail(b, -ENOMEM);
                return NULL;
        }
        b->p = m;
        b->p[b->len] = '\0';
        return b->p + b->len;
}

int pk__dynbuf_add_slow(struct pk__dynbuf *b, const void *s, size_t n)
{
        char *d = pk__dynbuf_room(b, n);
        if (!d)
                return b->err;
        if (n)
                memcpy(d, s, n);
        pk__dynbuf_commit(b, n);
        return 0;
}

void pk__dynbuf_consume(struct pk__dynbuf *b, size_t n)
{
        if (!n)
                return;
        memmove(b->p, b->p + n, b->len - n);
        b->len -= n;
        b->p[b->len] = '\0';
}

char *pk__dynbuf_take(struct pk__dynbuf *b, size_t *ret_len)
{
        if (b->err)
                return NULL;
        if (!b->p && !pk__dynbuf_room(b, 0))
                return NULL;
        char *s = b->p;
        if (ret_len)
                *ret_len = b->len;
        b->p = NULL;
        b->len = b->cap = 0;
        return s;
}

int pk__dynbuf_read_fd(struct pk__dynbuf *b, int fd, size_t chunk)
{
        if (b->err)
                return b->err;
        if (!chunk)
                chunk = 65536;
        for (;;) {
                ssize_t n;
                if (b->max && b->len == b->max) {
                        /* Full: one byte more tells a stream of exactly max
                         * bytes from a longer one. */
                        char one;
                        n = read(fd, &one, 1);
                        if (n > 0)
                                return fail(b, b->toobig ? b->toobig : PK_EBUFCAP);
                } else {
                        size_t want = chunk;
                        if (b->max && want > b->max - b->len)
                                want = b->max - b->len;
                        /* Read into what is free when that is a fair share
                         * of a chunk, else grow by a chunk. */
                        size_t room = b->cap > b->len ? b->cap - b->len - 1 : 0;
                        if (room < want / 2 || room == 0) {
                                if (!pk__dynbuf_room(b, want))
                                        return b->err;
                                room = want;
                        } else if (room > want) {
                                room = want;
                        }
                        n = read(fd, b->p + b->len, room);
                        if (n > 0) {
                                pk__dynbuf_commit(b, (size_t)n);
                                continue;
                        }
                }
                if (n == 0)
                        return 1;
                if (errno == EINTR)
                        continue;
                return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
        }
}
