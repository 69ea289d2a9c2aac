/* SPDX-License-Identifier: MIT */
/* The one capped growable byte buffer (curl's dynbuf, docs/internals/DYNBUF.md,
 * is the model): always NUL-terminated once it holds memory, a hard cap with
 * its own error, sticky failures so a run of appends is checked once, take
 * and read-from-fd.  The library's printers, pk_run's capture and the CLI's
 * stdin readers write into it; pk_etf_buf (a public struct) grows through
 * the same pk__mem_grow(). */
#ifndef PORTKIT_COMMON_DYNBUF_H
#define PORTKIT_COMMON_DYNBUF_H

#include "portkit/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct pk__dynbuf {
        char *p;    /* owned; NULL until the first growth, else p[len] == '\0' */
        size_t len; /* bytes held (the NUL not counted) */
        size_t cap; /* bytes allocated (at most max + 1) */
        size_t max; /* hard cap on len; 0: none */
        int err;    /* first failure, sticky: -ENOMEM or toobig */
        int toobig; /* the code for passing max; 0 means PK_EBUFCAP */
};

/* Empties *b with cap max (0: none) and cap error toobig (0: PK_EBUFCAP).
 * Allocates nothing; a zeroed struct is an empty buffer without a cap. */
void pk__dynbuf_init(struct pk__dynbuf *b, size_t max, int toobig);
/* Frees b's memory and empties it, keeping max and toobig.  Accepts NULL. */
void pk__dynbuf_free(struct pk__dynbuf *b);
/* Sets len and err to 0, keeping the memory. */
void pk__dynbuf_reset(struct pk__dynbuf *b);

/* The growth policy every growable buffer shares: grows *mem (*cap bytes) to
 * hold need bytes, doubling from at least first bytes, never past limit.
 * Returns 0 (need <= *cap is a no-op) or -ENOMEM (*mem and *cap untouched).
 * need <= limit is the caller's check. */
int pk__mem_grow(void **mem, size_t *cap, size_t need, size_t limit, size_t first);

/* The same policy for an array of elem-byte slots: grows *arr (*cap slots)
 * to hold need slots, doubling from first.  Returns 0 or -ENOMEM (also when
 * need * elem overflows; *arr and *cap untouched). */
int pk__array_grow(void **arr, size_t *cap, size_t need, size_t elem, size_t first);

/* Slow path of pk__dynbuf_add (growth, cap and sticky error). */
int pk__dynbuf_add_slow(struct pk__dynbuf *b, const void *s, size_t n);

/* Appends n bytes of s (s may be NULL when n is 0).  Returns 0 or b's sticky
 * error: toobig when len + n would pass max, -ENOMEM. */
static inline int pk__dynbuf_add(struct pk__dynbuf *b, const void *s, size_t n)
{
        /* cap - len > n leaves the NUL's byte (and is false while p is
         * NULL); a set err sends every append to the slow path, which
         * returns it. */
        if (__builtin_expect(b->p && b->cap - b->len > n && !b->err, 1)) {
                if (n)
                        memcpy(b->p + b->len, s, n);
                b->len += n;
                b->p[b->len] = '\0';
                return 0;
        }
        return pk__dynbuf_add_slow(b, s, n);
}

static inline int pk__dynbuf_addc(struct pk__dynbuf *b, char c)
{
        return pk__dynbuf_add(b, &c, 1);
}

static inline int pk__dynbuf_adds(struct pk__dynbuf *b, const char *s)
{
        return pk__dynbuf_add(b, s, strlen(s));
}

/* Makes room for n more bytes (and the NUL) and returns where they go, or
 * NULL with b->err set.  Write up to n bytes there, then pk__dynbuf_commit(). */
char *pk__dynbuf_room(struct pk__dynbuf *b, size_t n);

/* Counts n bytes written at pk__dynbuf_room()'s pointer and NUL-terminates. */
static inline void pk__dynbuf_commit(struct pk__dynbuf *b, size_t n)
{
        b->len += n;
        b->p[b->len] = '\0';
}

/* Drops the first n (<= len) bytes, moving the rest to the front. */
void pk__dynbuf_consume(struct pk__dynbuf *b, size_t n);

/* Hands the bytes out: returns the NUL-terminated string (the caller owns it,
 * free() it; "" when empty) and its length in *ret_len (may be NULL), and
 * leaves b empty (cap kept).  Returns NULL when b->err is set (b untouched)
 * or, setting b->err to -ENOMEM, when an empty string cannot be allocated. */
char *pk__dynbuf_take(struct pk__dynbuf *b, size_t *ret_len);

/* Reads fd into b until EOF (returns 1), until fd would block (0), or until a
 * read fails (-errno; not sticky).  EINTR is retried.  Reads at most chunk
 * bytes per call (0: 64 KiB).  Passing the cap is b's sticky toobig: max
 * bytes followed by EOF is fine, a byte past max is read and dropped.  */
int pk__dynbuf_read_fd(struct pk__dynbuf *b, int fd, size_t chunk);

#endif
