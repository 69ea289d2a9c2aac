/* SPDX-License-Identifier: MIT */
/* Internal helpers shared by the etf sources. */
#ifndef PORTKIT_ETF_INTERNAL_H
#define PORTKIT_ETF_INTERNAL_H

#include "internal.h"
#include "portkit/etf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Counts the code points of len bytes of UTF-8, rejecting overlongs,
 * surrogates and values above U+10FFFF.  Returns the count or -1. */
ptrdiff_t pk__utf8_count(const uint8_t *s, size_t len);

/* Decodes the code point at s[*i] with the same rules and advances *i;
 * returns the code point, or -1 (at the end or on invalid UTF-8). */
int32_t pk__utf8_next(const uint8_t *s, size_t len, size_t *i);

/* Checks an atom name: 0, PK_EATOMUTF8 or PK_EATOMLEN (> 255 characters). */
int pk__atom_check(const char *name, size_t len);

/* True when the term is a list-like value: NIL, LIST or STRING. */
static inline bool pk__is_listish(const struct pk_term *t)
{
        return t->type == PK_TERM_NIL || t->type == PK_TERM_LIST || t->type == PK_TERM_STRING;
}

/* ---- arena internals (arena.c), exposed for an inline fast path ---- */
#define PK_ARENA_ALIGN 8u

struct pk_arena_block {
        struct pk_arena_block *next;
        size_t size; /* usable bytes after the header */
        size_t used;
        /* data follows, aligned by the header's size (a multiple of 8) */
};

struct pk_arena {
        struct pk_arena_block *head; /* current block; older ones follow */
        size_t max_bytes;
        size_t handed_out;
        size_t next_block;
        int last_error;
};

static inline uint8_t *pk__arena_block_data(struct pk_arena_block *b)
{
        return (uint8_t *)(b + 1);
}

/* pk_arena_alloc with the common case (room in the current block) inlined. */
static inline void *pk__arena_alloc(pk_arena *a, size_t n)
{
        size_t need = (n + PK_ARENA_ALIGN - 1) & ~(size_t)(PK_ARENA_ALIGN - 1);
        struct pk_arena_block *b = a->head;
        if (PK_LIKELY(b && need >= n && b->size - b->used >= need &&
                      need <= a->max_bytes - a->handed_out)) {
                void *p = pk__arena_block_data(b) + b->used;
                b->used += need;
                a->handed_out += need;
                return p;
        }
        return pk_arena_alloc(a, n);
}

/* ---- ETF tags ---- */
enum {
        PK_TAG_VERSION = 131,
        PK_TAG_COMPRESSED = 80,
        PK_TAG_NEW_FLOAT = 70,
        PK_TAG_BIT_BINARY = 77,
        PK_TAG_ATOM_CACHE_REF = 82,
        PK_TAG_DIST_HEADER = 68,
        PK_TAG_DIST_FRAG_HEADER = 69,
        PK_TAG_NEW_PID = 88,
        PK_TAG_NEW_PORT = 89,
        PK_TAG_NEWER_REFERENCE = 90,
        PK_TAG_SMALL_INTEGER = 97,
        PK_TAG_INTEGER = 98,
        PK_TAG_FLOAT = 99,
        PK_TAG_ATOM = 100,
        PK_TAG_REFERENCE = 101,
        PK_TAG_PORT = 102,
        PK_TAG_PID = 103,
        PK_TAG_SMALL_TUPLE = 104,
        PK_TAG_LARGE_TUPLE = 105,
        PK_TAG_NIL = 106,
        PK_TAG_STRING = 107,
        PK_TAG_LIST = 108,
        PK_TAG_BINARY = 109,
        PK_TAG_SMALL_BIG = 110,
        PK_TAG_LARGE_BIG = 111,
        PK_TAG_NEW_FUN = 112,
        PK_TAG_EXPORT = 113,
        PK_TAG_NEW_REFERENCE = 114,
        PK_TAG_SMALL_ATOM = 115,
        PK_TAG_MAP = 116,
        PK_TAG_FUN = 117,
        PK_TAG_ATOM_UTF8 = 118,
        PK_TAG_SMALL_ATOM_UTF8 = 119,
        PK_TAG_V4_PORT = 120,
        PK_TAG_LOCAL = 121
};

/* A bignum magnitude (little-endian bytes) less its high zero bytes: returns
 * the length left and, when that is at most 8, the value in *m. */
static inline size_t pk__mag_trim(const uint8_t *digits, size_t len, uint64_t *m)
{
        while (len > 0 && digits[len - 1] == 0)
                len--;
        if (len <= 8) {
                uint64_t v = 0;
                for (size_t i = len; i-- > 0;)
                        v = v << 8 | digits[i];
                *m = v;
        }
        return len;
}

/* ---- big-endian loads and stores ---- */
static inline uint16_t pk__be16(const uint8_t *p)
{
        return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}
static inline uint32_t pk__be32(const uint8_t *p)
{
        uint32_t v;
        memcpy(&v, p, 4);
        return __builtin_bswap32(v);
}
static inline uint64_t pk__be64(const uint8_t *p)
{
        uint64_t v;
        memcpy(&v, p, 8);
        return __builtin_bswap64(v);
}
static inline void pk__put16(uint8_t *p, uint16_t v)
{
        p[0] = (uint8_t)(v >> 8);
        p[1] = (uint8_t)v;
}
static inline void pk__put32(uint8_t *p, uint32_t v)
{
        v = __builtin_bswap32(v);
        memcpy(p, &v, 4);
}
static inline void pk__put64(uint8_t *p, uint64_t v)
{
        v = __builtin_bswap64(v);
        memcpy(p, &v, 8);
}

/* ---- output buffer (stream.c) ---- */

/* Slow path of pk__buf_room: grows b so n more bytes fit, or sets b->err. */
int pk__buf_grow(struct pk_etf_buf *b, size_t n);

/* Returns where n more bytes go (the caller then adds n to b->len), or NULL
 * with b->err set. */
static inline uint8_t *pk__buf_room(struct pk_etf_buf *b, size_t n)
{
        if (PK_UNLIKELY(b->err))
                return NULL;
        if (PK_UNLIKELY(b->cap - b->len < n) && pk__buf_grow(b, n) < 0)
                return NULL;
        return b->data + b->len;
}

/* Records err as b's sticky error (if none yet) and returns b->err. */
static inline int pk__buf_fail(struct pk_etf_buf *b, int err)
{
        if (!b->err)
                b->err = err;
        return b->err;
}

/* Writes v with the smallest integer tag. */
static inline int pk__w_int(struct pk_etf_buf *b, int64_t v)
{
        uint8_t *p = pk__buf_room(b, 11);
        if (PK_UNLIKELY(!p))
                return b->err;
        if ((uint64_t)v <= 255) {
                p[0] = PK_TAG_SMALL_INTEGER;
                p[1] = (uint8_t)v;
                b->len += 2;
        } else if (v >= INT32_MIN && v <= INT32_MAX) {
                p[0] = PK_TAG_INTEGER;
                pk__put32(p + 1, (uint32_t)v);
                b->len += 5;
        } else {
                uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
                unsigned n = 0;
                p[0] = PK_TAG_SMALL_BIG;
                p[2] = v < 0;
                while (m) {
                        p[3 + n++] = (uint8_t)m;
                        m >>= 8;
                }
                p[1] = (uint8_t)n;
                b->len += 3 + n;
        }
        return 0;
}

/* Shared writers (stream.c); the tree encoder and the put functions both use them. */
int pk__w_atom(struct pk_etf_buf *b, int minor_version, const char *name, size_t len);
int pk__w_float(struct pk_etf_buf *b, int minor_version, double f);
int pk__w_big(struct pk_etf_buf *b, const uint8_t *digits, size_t len, int negative);
int pk__w_bits(struct pk_etf_buf *b, const uint8_t *data, size_t len, unsigned bits);
int pk__w_string(struct pk_etf_buf *b, const uint8_t *bytes, size_t len);

/* Writes a container header: small_tag with a u8 count when it fits (and
 * small_tag is nonzero), else large_tag with a u32 count. */
static inline int pk__w_header(struct pk_etf_buf *b, uint8_t small_tag, uint8_t large_tag,
                               uint32_t n)
{
        uint8_t *p = pk__buf_room(b, 5);
        if (PK_UNLIKELY(!p))
                return b->err;
        if (small_tag && n <= 255) {
                p[0] = small_tag;
                p[1] = (uint8_t)n;
                b->len += 2;
        } else {
                p[0] = large_tag;
                pk__put32(p + 1, n);
                b->len += 5;
        }
        return 0;
}

static inline int pk__w_nil(struct pk_etf_buf *b)
{
        uint8_t *p = pk__buf_room(b, 1);
        if (PK_UNLIKELY(!p))
                return b->err;
        *p = PK_TAG_NIL;
        b->len++;
        return 0;
}

/* Inflates a zlib stream into exactly dstlen bytes (compress.c).  Returns 0
 * with *consumed = compressed bytes used, PK_EZSIZE when the stream holds more
 * or fewer bytes than dstlen, PK_EZLIB for a corrupt stream, PK_ETRUNCATED
 * when the input ends inside the stream, or -ENOMEM. */
int pk__inflate(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen, size_t *consumed);

/* ---- map key orders known during one operation (map_order.c) ----
 *
 * Comparing two maps needs both maps' keys in Erlang's key order, and keys
 * may be maps whose keys are maps ...  Sorting a nested map again for every
 * comparison that reaches it costs time quadratic in the nesting depth (a
 * peer controls that depth), so an operation (a decode, a parse, a print, an
 * encode, one comparison) keeps the orders it has computed here, keyed by
 * (pairs, arity), and sorts each map at most once.  Valid only while the
 * terms stay unchanged: a cache lives no longer than the operation. */
struct pk__korder_ent {
        const struct pk_term *pairs;
        const uint32_t *ord; /* owned, or pk__korder_identity */
        uint32_t n;
};
struct pk__korder {
        struct pk__korder_ent *tab; /* open addressing; NULL until the first put */
        size_t cap, used;
};

/* The order of a map whose keys are already in key order (no array). */
extern const uint32_t pk__korder_identity[1];

static inline uint32_t pk__korder_at(const uint32_t *ord, uint32_t k)
{
        return ord == pk__korder_identity ? k : ord[k];
}

/* The cached key order of (pairs, n), borrowed until pk__korder_free, or NULL. */
const uint32_t *pk__korder_get(const struct pk__korder *ko, const struct pk_term *pairs,
                               uint32_t n);

/* Records ord (malloc'd, or pk__korder_identity) as the key order of
 * (pairs, n): true when ko took ownership of it, false (ord still the
 * caller's) when the table could not grow.  A cache that cannot grow only
 * makes later work slower, never wrong. */
bool pk__korder_put(struct pk__korder *ko, const struct pk_term *pairs, uint32_t n,
                    const uint32_t *ord);

/* Frees every order ko owns and empties it (ko itself is the caller's). */
void pk__korder_free(struct pk__korder *ko);

/* pk_term_compare that also reports, in *err, -ENOMEM when it could not get
 * the heap memory its walk needs (the result then orders by address: still
 * consistent, but not Erlang's order); *err is 0 otherwise.  Uses no C stack
 * in proportion to the terms' depth.  ko: NULL, or the operation's cache of
 * key orders, which it reads and extends. */
int pk__term_cmp(const struct pk_term *a, const struct pk_term *b, int exact, struct pk__korder *ko,
                 int *err);

/* Test only: the number of term pairs pk__term_cmp has started comparing in
 * this thread (a deterministic measure of comparison work). */
uint64_t pk__term_cmp_work(void);

/* ---- map orders (map_order.c) ----
 * Every function below taking a ko accepts NULL (a cache of its own for the
 * call) or the operation's cache. */

/* Erlang keeps maps of up to this many keys sorted (flatmaps); larger ones
 * are hash tries. */
#define PK__FLATMAP_MAX 32

/* Erlang's map key order (exact pk_term_compare, with atom and integer fast
 * paths): <0, 0 or >0.  Out of memory it orders by address (see
 * pk__term_cmp); code that must know uses the functions below. */
int pk__key_cmp(const struct pk_term *a, const struct pk_term *b);

/* Erlang's map key order on the keys of a map: fills idx[0..n) with the pair
 * indexes sorted (exact pk_term_compare).  0, or -ENOMEM (idx then holds no
 * order and nothing was cached). */
int pk__map_key_order(const struct pk_term *pairs, uint32_t n, uint32_t *idx,
                      struct pk__korder *ko);

/* Writes the n pairs to out (room for 2n terms) sorted by key, a repeated key
 * keeping its last value; returns the number of pairs written, or SIZE_MAX
 * when out of memory. */
size_t pk__map_sort_unique(const struct pk_term *pairs, size_t n, struct pk_term *out,
                           struct pk__korder *ko);

/* 0 when the n keys are distinct, PK_EDUPKEY when two are =:=, or -ENOMEM. */
int pk__map_dups(const struct pk_term *pairs, uint32_t n, struct pk__korder *ko);

/* OTP 25's hash of a map key for trie levels 8*round to 8*round+7
 * (make_map_hash, which salts make_internal_hash with the round): 0 and *ret
 * set; 1 when the key holds an atom, pid, port, ref or fun (hashed by
 * VM-local words, so no order exists outside that VM); or -ENOMEM. */
int pk__ihash(const struct pk_term *key, uint32_t round, uint32_t *ret);

/* Fills idx[0..n) with the pair indexes in the order OTP 25's map iterator
 * visits a hash trie of these keys (~w/~p order).  0, 1 when some key has
 * no VM-independent hash (idx untouched), or -ENOMEM. */
int pk__map_trie_order(const struct pk_term *pairs, uint32_t n, uint32_t *idx);

/* The order Erlang prints a map's pairs in: key order up to 32 keys, else
 * trie order; keys without a VM-independent hash are taken to be in wire
 * order (as decoded) and printed reversed.  0 or -ENOMEM. */
int pk__map_print_order(const struct pk_term *pairs, uint32_t n, uint32_t *idx,
                        struct pk__korder *ko);

/* The order OTP 25's term_to_binary writes a map's pairs in: key order up to
 * 32 keys, else trie order reversed; keys without a VM-independent hash keep
 * the order they are in.  0 or -ENOMEM. */
int pk__map_wire_order(const struct pk_term *pairs, uint32_t n, uint32_t *idx,
                       struct pk__korder *ko);

/* pk__map_print_order in a malloc'd array (caller frees), NULL when out of memory. */
uint32_t *pk__map_order(const struct pk_term *m, struct pk__korder *ko);

#endif
