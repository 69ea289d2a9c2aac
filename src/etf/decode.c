/* SPDX-License-Identifier: MIT */
/* The decoder: ETF bytes -> term tree in an arena.  Input is hostile: every
 * length is checked against the bytes left (less one byte owed for each slot
 * still to fill) before anything is allocated, the walk is iterative with an
 * explicit stack on the heap, and each malformation has its own error code. */
#include "etf-internal.h"

#include <locale.h>
#include <math.h>
#include <stdlib.h>

/* DF_SEQ and DF_LIST must be 0 and 1: dec_tree adds the kind to the depth
 * room when it takes a frame's last slot (a list's tail does not count).
 * DF_CHAIN holds the pending tails of a chain (see chain_down); DF_END marks
 * the sentinel at the bottom of the stack. */
enum dframe_kind { DF_SEQ = 0, DF_LIST = 1, DF_MAP, DF_FUN, DF_CHAIN, DF_END };

/* An open container with slots still to fill.  A tuple (or list) frame is
 * dropped as soon as its last slot is taken, so the stack holds only frames
 * with work left plus maps and funs, which check their contents when done.
 * A chain frame has no slots (next == end) and stands for the 1-element
 * lists of a chain whose tails are still to come. */
struct dframe {
        struct pk_term *next, *end; /* slots still to fill */
        union {
                struct pk_term *owner; /* the container (MAP, FUN) */
                struct pk_term *base;  /* CHAIN: the chain's first node */
        };
        union {
                const uint8_t *at; /* where the container starts (MAP, FUN) */
                size_t tbase;      /* CHAIN: index of its first tail in tails[] */
        };
        uint32_t room; /* depth room left, this container open (CHAIN: outside it) */
        uint8_t kind;
};

/* A list's tail slot still to fill (a struct, so that sizeof reads plainly). */
struct tail {
        struct pk_term *slot;
};

struct dec {
        pk_arena *a;
        const uint8_t *base, *p, *end;
        size_t budget; /* bytes this decode may still allocate */
        size_t owed;   /* slots pushed but not yet filled: each needs >= 1 byte */
        uint32_t room; /* max_depth less the open containers (a list's tail
                          not counting its list) */
        size_t max_big;
        uint32_t max_depth;
        unsigned flags;
        int (*atom_filter)(void *ctx, const char *name, size_t len);
        void *atom_ctx;
        int err;
        const uint8_t *err_at;
        struct dframe *st, *st_end; /* st_end = st + cap */
        size_t sp, cap;             /* frames in use (st[0] is a sentinel), room */
        /* Tail slots of the chains' 1-element lists, outermost first; each
         * chain frame owns tails[tbase .. next chain frame's tbase or tsp). */
        struct tail *tails;
        size_t tsp, tcap;
        struct pk__korder ko; /* key orders of maps met in the duplicate-key checks */
        struct dframe local[64];
        struct tail tlocal[64];
};

static int fail(struct dec *d, int code, const uint8_t *at)
{
        d->err = code;
        d->err_at = at;
        return code;
}

static void *dalloc(struct dec *d, size_t n, const uint8_t *at)
{
        size_t need = (n + 7) & ~(size_t)7;
        if (need < n || need > d->budget) {
                fail(d, PK_ETERMSIZE, at);
                return NULL;
        }
        d->budget -= need;
        void *p = pk__arena_alloc(d->a, n);
        if (PK_UNLIKELY(!p))
                fail(d, pk_arena_last_error(d->a), at);
        return p;
}

/* Borrowed bytes, or an arena copy with PK_ETF_COPY. */
static const uint8_t *bytes_ref(struct dec *d, const uint8_t *s, size_t n, const uint8_t *at)
{
        if (!(d->flags & PK_ETF_COPY) || n == 0)
                return s;
        uint8_t *c = dalloc(d, n, at);
        if (c)
                memcpy(c, s, n);
        return c;
}

#define NEED(d, n, at)                                                                             \
        do {                                                                                       \
                if (PK_UNLIKELY((size_t)((d)->end - (d)->p) < (size_t)(n)))                        \
                        return fail((d), PK_ETRUNCATED, (at));                                     \
        } while (0)

/* The 8 bytes at p as a little-endian number (p[0] in the low byte). */
static inline uint64_t le64(const uint8_t *p)
{
        uint64_t v;
        memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        v = __builtin_bswap64(v);
#endif
        return v;
}

/* The header of a chain's level in 8 input bytes read with le64(): a
 * 1-tuple (SMALL_TUPLE_EXT, 1) or a 1-element list (LIST_EXT, 0 0 0 1). */
#define CHAIN_TUPLE(w) ((uint16_t)(w) == (PK_TAG_SMALL_TUPLE | 1u << 8))
#define CHAIN_LIST(w) (((w)&0xFFFFFFFFFFu) == (PK_TAG_LIST | (uint64_t)1 << 32))

/* True when the n bytes at q start with three chain levels.  dec_tree asks
 * after a 1-tuple or 1-element list, so that chain_down runs for four
 * levels at least: below that, its fixed cost is more than it saves. */
static inline bool chain_ahead(const uint8_t *q, size_t n)
{
        for (int i = 0; i < 3; i++) {
                /* Most elements are not containers: one byte settles it. */
                if (n < 8 || (q[0] | 4) != PK_TAG_LIST)
                        return false;
                uint64_t w = le64(q);
                size_t h = CHAIN_TUPLE(w) ? 2 : CHAIN_LIST(w) ? 5 : 0;
                if (!h)
                        return false;
                q += h;
                n -= h;
        }
        return true;
}

/* True when some byte is >= 0x80 (8 bytes at a time). */
static inline bool has_high_byte(const uint8_t *s, size_t n)
{
        uint64_t acc = 0;
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
                uint64_t w;
                memcpy(&w, s + i, 8);
                acc |= w;
        }
        for (; i < n; i++)
                acc |= s[i];
        return (acc & 0x8080808080808080ull) != 0;
}

/* Reads an atom (any atom tag) at d->p into name and len (UTF-8). */
static int rd_atom(struct dec *d, const char **name, uint16_t *len)
{
        const uint8_t *at = d->p;
        NEED(d, 1, at);
        uint8_t tag = *d->p++;
        size_t n;
        int latin;
        switch (tag) {
        case PK_TAG_ATOM:
                NEED(d, 2, at);
                n = pk__be16(d->p);
                d->p += 2;
                latin = 1;
                break;
        case PK_TAG_SMALL_ATOM:
                NEED(d, 1, at);
                n = *d->p++;
                latin = 1;
                break;
        case PK_TAG_ATOM_UTF8:
                NEED(d, 2, at);
                n = pk__be16(d->p);
                d->p += 2;
                latin = 0;
                break;
        case PK_TAG_SMALL_ATOM_UTF8:
                NEED(d, 1, at);
                n = *d->p++;
                latin = 0;
                break;
        case PK_TAG_ATOM_CACHE_REF:
                return fail(d, PK_EATOMCACHE, at);
        default:
                return fail(d, PK_EBADTAG, at);
        }
        NEED(d, n, at);
        const uint8_t *s = d->p;
        d->p += n;
        size_t high = 0;
        if (PK_UNLIKELY(has_high_byte(s, n)))
                for (size_t i = 0; i < n; i++)
                        high += s[i] >> 7;
        const char *out = (const char *)s;
        size_t out_len = n;
        if (latin) {
                if (n > 255)
                        return fail(d, PK_EATOMLEN, at);
                if (high) {
                        /* Latin-1 -> UTF-8 so the atom equals its UTF-8 twin. */
                        uint8_t *u = dalloc(d, n + high, at);
                        if (!u)
                                return d->err;
                        uint8_t *q = u;
                        for (size_t i = 0; i < n; i++) {
                                if (s[i] < 0x80) {
                                        *q++ = s[i];
                                } else {
                                        *q++ = (uint8_t)(0xC0 | s[i] >> 6);
                                        *q++ = (uint8_t)(0x80 | (s[i] & 0x3F));
                                }
                        }
                        out = (const char *)u;
                        out_len = n + high;
                }
        } else if (high) {
                int r = pk__atom_check((const char *)s, n);
                if (r < 0)
                        return fail(d, r, at);
        } else if (n > 255) {
                return fail(d, PK_EATOMLEN, at);
        }
        if ((d->flags & PK_ETF_COPY) && out == (const char *)s && n) {
                out = (const char *)bytes_ref(d, s, n, at);
                if (!out)
                        return d->err;
        }
        if (d->atom_filter && !d->atom_filter(d->atom_ctx, out, out_len))
                return fail(d, PK_EATOMREFUSED, at);
        *name = out;
        *len = (uint16_t)out_len;
        return 0;
}

static bool is_digit(uint8_t c)
{
        return c >= '0' && c <= '9';
}

/* FLOAT_EXT: the VM's syntax ([+-]digits[.,]digits[eE[+-]digits], then NULs). */
static int parse_float_ext(const uint8_t *s, double *out)
{
        char buf[32];
        memcpy(buf, s, 31);
        buf[31] = 0;
        char *c = buf;
        if (*c == '+' || *c == '-')
                c++;
        if (!is_digit((uint8_t)*c))
                return PK_EBADFLOAT;
        while (is_digit((uint8_t)*c))
                c++;
        if (*c != '.' && *c != ',')
                return PK_EBADFLOAT;
        *c++ = '.';
        if (!is_digit((uint8_t)*c))
                return PK_EBADFLOAT;
        while (is_digit((uint8_t)*c))
                c++;
        if (*c == 'e' || *c == 'E') {
                c++;
                if (*c == '+' || *c == '-')
                        c++;
                if (!is_digit((uint8_t)*c))
                        return PK_EBADFLOAT;
                while (is_digit((uint8_t)*c))
                        c++;
        }
        if (*c)
                return PK_EBADFLOAT;
        /* strtod in the C locale, whatever the application set. */
        locale_t loc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
        if (!loc)
                return -ENOMEM;
        char *endp;
        int saved = errno;
        double v = strtod_l(buf, &endp, loc);
        errno = saved;
        freelocale(loc);
        if (endp != c || !isfinite(v))
                return PK_EBADFLOAT;
        *out = v;
        return 0;
}

static int grow_stack(struct dec *d, const uint8_t *at)
{
        /* Leave the on-stack array for a roomy heap one at once: deep terms
         * would otherwise pay for several reallocations per call. */
        size_t cap = d->st == d->local ? 1024 : d->cap * 2;
        struct dframe *st;
        if (d->st == d->local) {
                st = malloc(cap * sizeof(*st));
                if (st)
                        memcpy(st, d->local, d->sp * sizeof(*st));
        } else {
                st = realloc(d->st, cap * sizeof(*st));
        }
        if (!st)
                return fail(d, -ENOMEM, at);
        d->st = st;
        d->cap = cap;
        d->st_end = st + cap;
        return 0;
}

/* Grows the tail stack of the chains: the on-stack array goes to a roomy
 * heap one at once (as grow_stack does), which then doubles. */
static int grow_tails(struct dec *d)
{
        size_t cap = d->tails == d->tlocal ? 1024 : d->tcap * 2;
        if (cap > SIZE_MAX / sizeof(struct tail))
                return -ENOMEM;
        struct tail *t;
        if (d->tails == d->tlocal) {
                t = malloc(cap * sizeof(*t));
                if (t)
                        memcpy(t, d->tlocal, d->tsp * sizeof(struct tail));
        } else {
                t = realloc(d->tails, cap * sizeof(struct tail));
        }
        if (!t)
                return -ENOMEM;
        d->tails = t;
        d->tcap = cap;
        return 0;
}

/* Pushes a frame for a container of n >= 1 slots (the slow path's funs;
 * dec_tree pushes its own containers inline, with the same checks in the
 * same order). */
static int push(struct dec *d, struct pk_term *elems, size_t n, uint8_t kind, struct pk_term *owner,
                const uint8_t *at)
{
        if (PK_UNLIKELY(d->room == 0))
                return fail(d, PK_EDEPTH, at);
        if (PK_UNLIKELY(d->sp == d->cap) && grow_stack(d, at) < 0)
                return d->err;
        struct dframe *f = &d->st[d->sp++];
        f->next = elems;
        f->end = elems + n;
        f->owner = owner;
        f->at = at;
        f->room = --d->room;
        f->kind = kind;
        d->owed += n;
        return 0;
}

/* Checks that n more slots can each get at least one byte of input. */
static int check_slots(struct dec *d, uint64_t n, const uint8_t *at)
{
        size_t left = (size_t)(d->end - d->p);
        if (n > left || n > left - (d->owed < left ? d->owed : left))
                return fail(d, PK_ETRUNCATED, at);
        return 0;
}

static int rd_node(struct dec *d, const char **node, uint16_t *len)
{
        return rd_atom(d, node, len);
}

/* The slow path of dec_tree: decodes the term at d->p into t, for every tag
 * but the tuple, list and map tags (dec_tree decodes those itself, and the
 * fast leaves again here only to report their errors).  Kept out of line:
 * inlined, it would crowd dec_tree's registers. */
__attribute__((noinline)) static int dec_one(struct dec *d, struct pk_term *t)
{
        const uint8_t *at = d->p;
        NEED(d, 1, at);
        uint8_t tag = *d->p++;
        int r;
        size_t n;
        switch (tag) {
        case PK_TAG_SMALL_INTEGER:
                NEED(d, 1, at);
                t->type = PK_TERM_INT;
                t->v.i = *d->p++;
                return 0;
        case PK_TAG_INTEGER:
                NEED(d, 4, at);
                t->type = PK_TERM_INT;
                t->v.i = (int32_t)pk__be32(d->p);
                d->p += 4;
                return 0;
        case PK_TAG_SMALL_BIG:
        case PK_TAG_LARGE_BIG: {
                int sign;
                if (tag == PK_TAG_SMALL_BIG) {
                        NEED(d, 2, at);
                        n = d->p[0];
                        sign = d->p[1];
                        d->p += 2;
                } else {
                        NEED(d, 5, at);
                        n = pk__be32(d->p);
                        sign = d->p[4];
                        d->p += 5;
                }
                if (n > d->max_big)
                        return fail(d, PK_EBIGNUM, at);
                NEED(d, n, at);
                pk_term_set_big(t, d->p, n, sign != 0);
                d->p += n;
                if (t->type == PK_TERM_BIG && (d->flags & PK_ETF_COPY)) {
                        t->v.big.digits = bytes_ref(d, t->v.big.digits, t->v.big.len, at);
                        if (!t->v.big.digits)
                                return d->err;
                }
                return 0;
        }
        case PK_TAG_NEW_FLOAT: {
                NEED(d, 8, at);
                uint64_t bits = pk__be64(d->p);
                double f;
                memcpy(&f, &bits, 8);
                if (!isfinite(f))
                        return fail(d, PK_EBADFLOAT, at);
                d->p += 8;
                t->type = PK_TERM_FLOAT;
                t->v.f = f;
                return 0;
        }
        case PK_TAG_FLOAT: {
                NEED(d, 31, at);
                double f = 0;
                if ((r = parse_float_ext(d->p, &f)) < 0)
                        return fail(d, r, at);
                d->p += 31;
                t->type = PK_TERM_FLOAT;
                t->v.f = f;
                return 0;
        }
        case PK_TAG_ATOM:
        case PK_TAG_SMALL_ATOM:
        case PK_TAG_ATOM_UTF8:
        case PK_TAG_SMALL_ATOM_UTF8:
                d->p = at;
                t->type = PK_TERM_ATOM;
                return rd_atom(d, &t->v.atom.name, &t->v.atom.len);
        case PK_TAG_NIL:
                t->type = PK_TERM_NIL;
                return 0;
        case PK_TAG_STRING:
                NEED(d, 2, at);
                n = pk__be16(d->p);
                d->p += 2;
                NEED(d, n, at);
                if (n == 0) {
                        t->type = PK_TERM_NIL;
                        return 0;
                }
                t->type = PK_TERM_STRING;
                t->v.string.bytes = bytes_ref(d, d->p, n, at);
                if (!t->v.string.bytes)
                        return d->err;
                t->v.string.len = (uint32_t)n;
                d->p += n;
                return 0;
        case PK_TAG_BINARY:
                NEED(d, 4, at);
                n = pk__be32(d->p);
                d->p += 4;
                NEED(d, n, at);
                t->type = PK_TERM_BINARY;
                t->v.bin.data = bytes_ref(d, d->p, n, at);
                if (!t->v.bin.data)
                        return d->err;
                t->v.bin.size = n;
                t->v.bin.bits = 8;
                d->p += n;
                return 0;
        case PK_TAG_BIT_BINARY: {
                NEED(d, 5, at);
                n = pk__be32(d->p);
                unsigned bits = d->p[4];
                d->p += 5;
                /* The VM: 1..8 bits when there are bytes, and 0 for none. */
                if (n ? bits < 1 || bits > 8 : bits != 0)
                        return fail(d, PK_EBITS, at);
                NEED(d, n, at);
                t->type = PK_TERM_BINARY;
                t->v.bin.data = bytes_ref(d, d->p, n, at);
                if (!t->v.bin.data)
                        return d->err;
                t->v.bin.size = n;
                t->v.bin.bits = (uint8_t)(n ? bits : 8);
                d->p += n;
                return 0;
        }
        case PK_TAG_NEW_PID:
        case PK_TAG_PID:
                t->type = PK_TERM_PID;
                if ((r = rd_node(d, &t->v.pid.node, &t->v.pid.node_len)) < 0)
                        return r;
                NEED(d, tag == PK_TAG_NEW_PID ? 12 : 9, at);
                t->v.pid.id = pk__be32(d->p);
                t->v.pid.serial = pk__be32(d->p + 4);
                if (tag == PK_TAG_NEW_PID) {
                        t->v.pid.creation = pk__be32(d->p + 8);
                        d->p += 12;
                } else {
                        t->v.pid.creation = d->p[8];
                        d->p += 9;
                }
                return 0;
        case PK_TAG_NEW_PORT:
        case PK_TAG_PORT:
        case PK_TAG_V4_PORT:
                t->type = PK_TERM_PORT;
                if ((r = rd_node(d, &t->v.port.node, &t->v.port.node_len)) < 0)
                        return r;
                if (tag == PK_TAG_V4_PORT) {
                        NEED(d, 12, at);
                        t->v.port.id = pk__be64(d->p);
                        t->v.port.creation = pk__be32(d->p + 8);
                        d->p += 12;
                } else if (tag == PK_TAG_NEW_PORT) {
                        NEED(d, 8, at);
                        t->v.port.id = pk__be32(d->p);
                        t->v.port.creation = pk__be32(d->p + 4);
                        d->p += 8;
                } else {
                        NEED(d, 5, at);
                        t->v.port.id = pk__be32(d->p);
                        t->v.port.creation = d->p[4];
                        d->p += 5;
                }
                return 0;
        case PK_TAG_NEWER_REFERENCE:
        case PK_TAG_NEW_REFERENCE:
        case PK_TAG_REFERENCE: {
                size_t words = 1;
                if (tag != PK_TAG_REFERENCE) {
                        NEED(d, 2, at);
                        words = pk__be16(d->p);
                        d->p += 2;
                        /* The VM takes 0 words only in NEWER_REFERENCE_EXT. */
                        if (words > 5 || (words == 0 && tag == PK_TAG_NEW_REFERENCE))
                                return fail(d, PK_EBADREF, at);
                }
                t->type = PK_TERM_REF;
                if ((r = rd_node(d, &t->v.ref.node, &t->v.ref.node_len)) < 0)
                        return r;
                uint32_t *ids = NULL;
                if (tag == PK_TAG_REFERENCE) {
                        NEED(d, 5, at);
                        if (!(ids = dalloc(d, 4, at)))
                                return d->err;
                        ids[0] = pk__be32(d->p);
                        t->v.ref.creation = d->p[4];
                        d->p += 5;
                } else {
                        size_t cre = tag == PK_TAG_NEWER_REFERENCE ? 4 : 1;
                        NEED(d, cre + 4 * words, at);
                        t->v.ref.creation = cre == 4 ? pk__be32(d->p) : d->p[0];
                        d->p += cre;
                        if (words && !(ids = dalloc(d, 4 * words, at)))
                                return d->err;
                        for (size_t k = 0; k < words; k++)
                                ids[k] = pk__be32(d->p + 4 * k);
                        d->p += 4 * words;
                }
                t->v.ref.len = (uint16_t)words;
                t->v.ref.ids = ids;
                return 0;
        }
        case PK_TAG_EXPORT: {
                if (d->flags & PK_ETF_NO_FUNS)
                        return fail(d, PK_EFUN, at);
                t->type = PK_TERM_EXPORT;
                if ((r = rd_atom(d, &t->v.mfa.module, &t->v.mfa.module_len)) < 0 ||
                    (r = rd_atom(d, &t->v.mfa.function, &t->v.mfa.function_len)) < 0)
                        return r;
                /* The arity is an integer term; the VM takes SMALL_INTEGER_EXT
                 * or INTEGER_EXT holding 0..255. */
                const uint8_t *ap = d->p;
                NEED(d, 1, ap);
                int64_t arity;
                if (*d->p == PK_TAG_SMALL_INTEGER) {
                        NEED(d, 2, ap);
                        arity = d->p[1];
                        d->p += 2;
                } else if (*d->p == PK_TAG_INTEGER) {
                        NEED(d, 5, ap);
                        arity = (int32_t)pk__be32(d->p + 1);
                        d->p += 5;
                } else {
                        return fail(d, PK_EBADARITY, ap);
                }
                if (arity < 0 || arity > 255)
                        return fail(d, PK_EBADARITY, ap);
                t->v.mfa.arity = (uint8_t)arity;
                return 0;
        }
        case PK_TAG_NEW_FUN: {
                if (d->flags & PK_ETF_NO_FUNS)
                        return fail(d, PK_EFUN, at);
                NEED(d, 29, at);
                const uint8_t *h = d->p;
                uint32_t num_free = pk__be32(h + 25);
                if (num_free > 255)
                        return fail(d, PK_EBADARITY, at);
                d->p += 29;
                struct pk_fun *f = dalloc(d, sizeof(*f), at);
                if (!f)
                        return d->err;
                f->arity = h[4];
                memcpy(f->uniq, h + 5, 16);
                f->index = pk__be32(h + 21);
                f->num_free = num_free;
                if ((r = rd_atom(d, &f->module, &f->module_len)) < 0)
                        return r;
                /* OldIndex, OldUniq, Pid, then the free variables: decoded as
                 * ordinary slots and type-checked when the frame completes. */
                if ((r = check_slots(d, 3 + (uint64_t)num_free, at)) < 0)
                        return r;
                struct pk_term *e = dalloc(d, (3 + (size_t)num_free) * sizeof(*e), at);
                if (!e)
                        return d->err;
                f->old_index = &e[0];
                f->old_uniq = &e[1];
                f->pid = &e[2];
                f->free_vars = &e[3];
                t->type = PK_TERM_FUN;
                t->v.fun = f;
                return push(d, e, 3 + (size_t)num_free, DF_FUN, t, at);
        }
        case PK_TAG_FUN:
                return fail(d, PK_EFUN, at);
        case PK_TAG_LOCAL:
                return fail(d, PK_ELOCAL, at);
        case PK_TAG_ATOM_CACHE_REF:
        case PK_TAG_DIST_HEADER:
        case PK_TAG_DIST_FRAG_HEADER:
                return fail(d, PK_EATOMCACHE, at);
        default:
                return fail(d, PK_EBADTAG, at);
        }
}

/* Runs when a frame's slots are all filled. */
static int frame_done(struct dec *d, const struct dframe *f)
{
        if (f->kind == DF_MAP) {
                int r = pk__map_dups(f->owner->v.map.pairs, f->owner->v.map.arity, &d->ko);
                if (r < 0)
                        return fail(d, r, f->at);
        } else if (f->kind == DF_FUN) {
                const struct pk_fun *fn = f->owner->v.fun;
                if (fn->old_index->type != PK_TERM_INT || fn->old_uniq->type != PK_TERM_INT ||
                    fn->pid->type != PK_TERM_PID)
                        return fail(d, PK_EFUN, f->at);
        }
        return 0;
}

/* The arena bytes dec_tree hands out without calling the allocator: the free
 * tail of the arena's current block, capped by the decode's budget and the
 * arena's own cap, so a fast allocation succeeds exactly when dalloc would
 * have succeeded from the same block. */
struct lease {
        struct pk_arena_block *b;
        uint8_t *start, *next, *lim;
};

static inline void lease_take(struct dec *d, struct lease *l)
{
        struct pk_arena_block *b = d->a->head;
        l->b = b;
        if (!b) {
                l->start = l->next = l->lim = NULL;
                return;
        }
        size_t avail = b->size - b->used;
        size_t cap = d->a->max_bytes - d->a->handed_out;
        avail = avail < cap ? avail : cap;
        avail = avail < d->budget ? avail : d->budget;
        l->start = l->next = pk__arena_block_data(b) + b->used;
        l->lim = l->next + avail;
}

/* Books what was handed out since lease_take into the arena and the budget. */
static inline void lease_give(struct dec *d, struct lease *l)
{
        size_t n = (size_t)(l->next - l->start);
        if (n) {
                l->b->used += n;
                d->a->handed_out += n;
                d->budget -= n;
        }
}

/* Decodes the levels of a chain: the container at d->p, to go in slot, is a
 * 1-tuple or a 1-element list, and so is its element, and maybe its
 * element's element ... (`{[{[ ... ]}]}`).  Their nodes come from the lease
 * one after the other (the layout the general path gives them); a 1-tuple
 * needs no frame, and a list's pending tail is one pointer on tails[] under a
 * single chain frame instead of a frame of its own.  Each chunk of levels is
 * sized beforehand so that every level in it passes the general path's
 * checks (the slots owed against the bytes left, the depth, the lease); the
 * chain stops where no level is sure to pass, and the general path takes
 * that level, with its exact errors.  Returns the slot for the element of
 * the last level decoded, or NULL when not one level was (nothing changed). */
__attribute__((noinline)) static struct pk_term *chain_down(struct dec *d, struct pk_term *slot)
{
        if (PK_UNLIKELY(d->sp == d->cap) && grow_stack(d, d->p) < 0)
                return NULL;
        struct lease ls;
        lease_take(d, &ls);
        struct pk_term *c = (struct pk_term *)(void *)ls.next;
        struct pk_term *const c0 = c;
        struct pk_term *const clim = c + (size_t)(ls.lim - ls.next) / sizeof(struct pk_term);
        const size_t ti0 = d->tsp;
        struct tail *tsp = d->tails + ti0;
        struct tail *tlim = d->tails + d->tcap;
        const uint8_t *q = d->p;
        const uint8_t *const end = d->end;
        for (;;) {
                size_t lists = (size_t)(tsp - d->tails) - ti0;
                size_t levels = (size_t)(c - c0) - lists;
                /* A level eats at most 6 bytes of slack: a list's header and
                 * the byte its tail will need.  With 8 bytes of slack left, a
                 * level passes the general path's check (slots + owed <=
                 * bytes after the header) whatever its kind, and 8 bytes can
                 * be loaded at q. */
                size_t ow = d->owed + lists;
                size_t rest = (size_t)(end - q);
                size_t k = rest >= ow + 8 ? (rest - ow - 8) / 6 + 1 : 0;
                if (k > d->room - levels)
                        k = d->room - levels;
                if (k > (size_t)(clim - c) / 2)
                        k = (size_t)(clim - c) / 2;
                if (k == 0)
                        break;
                do {
                        uint64_t w = le64(q);
                        if (CHAIN_TUPLE(w)) {
                                slot->type = PK_TERM_TUPLE;
                                slot->v.tuple.elems = c;
                                slot->v.tuple.arity = 1;
                                slot = c++;
                                q += 2;
                        } else if (CHAIN_LIST(w)) {
                                if (PK_UNLIKELY(tsp == tlim)) {
                                        size_t at = (size_t)(tsp - d->tails);
                                        d->tsp = at; /* what grow_tails copies */
                                        if (grow_tails(d) < 0)
                                                goto done;
                                        tsp = d->tails + at;
                                        tlim = d->tails + d->tcap;
                                }
                                slot->type = PK_TERM_LIST;
                                slot->v.list.elems = c;
                                slot->v.list.tail = c + 1;
                                slot->v.list.len = 1;
                                (tsp++)->slot = c + 1;
                                slot = c;
                                c += 2;
                                q += 5;
                        } else {
                                goto done;
                        }
                } while (--k);
        }
done:;
        size_t lists = (size_t)(tsp - d->tails) - ti0;
        size_t levels = (size_t)(c - c0) - lists;
        if (levels == 0) {
                d->tsp = ti0;
                return NULL;
        }
        ls.next = (uint8_t *)c;
        lease_give(d, &ls);
        if (lists) {
                struct dframe *f = &d->st[d->sp++];
                f->next = f->end = c0;
                f->base = c0;
                f->tbase = ti0;
                f->room = d->room;
                f->kind = DF_CHAIN;
                d->tsp = ti0 + lists;
                d->owed += lists;
        }
        d->room -= (uint32_t)levels;
        d->p = q;
        return slot;
}

/* Runs when every level of the chain frame on top is filled: then come the
 * tails of its lists, innermost first.  [] tails are set here (eight at a
 * time when they come in a run).  Returns NULL when they all were [] (the
 * frame is gone), or the slot of the first other tail, to be decoded by the
 * general path in its list's place (d->room set for it). */
__attribute__((noinline)) static struct pk_term *chain_tails(struct dec *d)
{
        struct dframe *const f = &d->st[d->sp - 1];
        struct tail *const tb = d->tails + f->tbase;
        struct tail *tsp = d->tails + d->tsp;
        const uint8_t *p = d->p;
        size_t k = (size_t)(tsp - tb);
        if (k > (size_t)(d->end - p))
                k = (size_t)(d->end - p);
        const uint8_t *const p0 = p;
        static const uint64_t nils = 0x0101010101010101ull * PK_TAG_NIL;
        for (; k >= 8 && le64(p) == nils; k -= 8, p += 8)
                for (int j = 0; j < 8; j++)
                        (--tsp)->slot->type = PK_TERM_NIL;
        for (; k && *p == PK_TAG_NIL; k--, p++)
                (--tsp)->slot->type = PK_TERM_NIL;
        d->owed -= (size_t)(p - p0);
        d->p = p;
        if (tsp == tb) {
                d->tsp = f->tbase;
                d->sp--;
                return NULL;
        }
        struct pk_term *slot = (--tsp)->slot;
        d->owed--;
        /* The list whose tail this is sits i levels below the chain's
         * first: its nodes came before this tail, one per level and one more
         * per list (the tails before it). */
        size_t i = (size_t)(slot - f->base) - (size_t)(tsp - tb) - 1;
        d->room = f->room - (uint32_t)i;
        d->tsp = (size_t)(tsp - d->tails);
        /* The last tail stands in the chain's place: drop the frame first,
         * so that chains of tails stay flat. */
        if (tsp == tb)
                d->sp--;
        return slot;
}

/* Decodes the term at d->p into *root.  One loop with its state in locals:
 * the tag switch decodes the common leaves and every container inline, and
 * hands the rest to dec_one with the state written back to d.  A container's
 * first slot is decoded right after its header, and a tuple of one element
 * gets no frame.  Runs of four or more 1-tuples and 1-element lists go to
 * chain_down, and their tails to chain_tails.  st[0] is a sentinel with no
 * slots, so the walk is over when the top frame is st[0] again. */
/* Bytes the leaf loop of dec_tree keeps back for the slots after e in its
 * batch (that ends at kend): 5 each. */
static inline size_t spare(const struct pk_term *e, const struct pk_term *kend)
{
        return 5 * (size_t)(kend - e - 1);
}

static int dec_tree(struct dec *d, struct pk_term *root)
{
        const uint8_t *p = d->p;
        const uint8_t *const end = d->end;
        struct pk_term *slot = root;
        size_t owed = d->owed;
        uint32_t room = d->room;
        struct dframe *top = &d->st[d->sp - 1];
        /* Leaves may point into the input and need no atom filter call. */
        const bool plain = !(d->flags & PK_ETF_COPY) && !d->atom_filter;
        struct lease ls;
        struct pk_term *e;
        size_t n;
        int r;
        lease_take(d, &ls);

/* Writes the locals back to d, before anything that reads or moves them. */
#define SYNC()                                                                                     \
        do {                                                                                       \
                d->p = p;                                                                          \
                d->owed = owed;                                                                    \
                d->room = room;                                                                    \
                d->sp = (size_t)(top - d->st) + 1;                                                 \
                lease_give(d, &ls);                                                                \
        } while (0)
#define RELOAD()                                                                                   \
        do {                                                                                       \
                p = d->p;                                                                          \
                owed = d->owed;                                                                    \
                room = d->room;                                                                    \
                top = &d->st[d->sp - 1];                                                           \
                lease_take(d, &ls);                                                                \
        } while (0)
#define FAIL(code, where)                                                                          \
        do {                                                                                       \
                r = fail(d, (code), (where));                                                      \
                goto out;                                                                          \
        } while (0)
/* The container cases below keep p at the container's tag (where errors
 * point) until they step over its header of hdr bytes at the end. */

/* Claims nslots slots: each slot still to fill, these and those owed to open
 * containers, needs at least one byte of what follows the header (so no
 * length can ask for more nodes than the input could fill); then allocates
 * them, from the lease when they fit. */
#define CLAIM(nslots, hdr)                                                                         \
        do {                                                                                       \
                uint64_t ns_ = (nslots);                                                           \
                if (PK_UNLIKELY(ns_ + owed > (uint64_t)(end - p) - (hdr)))                         \
                        FAIL(PK_ETRUNCATED, p);                                                    \
                /* Only reachable where size_t is narrower than 64 bits. */                        \
                if (PK_UNLIKELY(ns_ > SIZE_MAX / sizeof(struct pk_term)))                          \
                        FAIL(PK_ETERMSIZE, p);                                                     \
                size_t bytes_ = (size_t)ns_ * sizeof(struct pk_term);                              \
                if (PK_LIKELY(bytes_ <= (size_t)(ls.lim - ls.next))) {                             \
                        e = (struct pk_term *)(void *)ls.next;                                     \
                        ls.next += bytes_;                                                         \
                } else {                                                                           \
                        SYNC();                                                                    \
                        e = dalloc(d, bytes_, p);                                                  \
                        lease_take(d, &ls);                                                        \
                        if (!e) {                                                                  \
                                r = d->err;                                                        \
                                goto out; /* the fresh lease is empty */                           \
                        }                                                                          \
                }                                                                                  \
        } while (0)
/* Enters the container: the depth limit counts open containers. */
#define DEEPER()                                                                                   \
        do {                                                                                       \
                if (PK_UNLIKELY(room == 0))                                                        \
                        FAIL(PK_EDEPTH, p);                                                        \
                room--;                                                                            \
        } while (0)
/* Pushes the frame for slots e[1..nslots) of a container of the given kind. */
#define PUSH(kind_, nslots)                                                                        \
        do {                                                                                       \
                if (PK_UNLIKELY(top + 1 == d->st_end)) {                                           \
                        d->sp = (size_t)(top - d->st) + 1;                                         \
                        if (grow_stack(d, p) < 0) {                                                \
                                r = d->err;                                                        \
                                goto out;                                                          \
                        }                                                                          \
                        top = &d->st[d->sp - 1];                                                   \
                }                                                                                  \
                top++;                                                                             \
                top->next = e + 1;                                                                 \
                top->end = e + (nslots);                                                           \
                top->room = room;                                                                  \
                top->kind = (kind_);                                                               \
                owed += (size_t)(nslots)-1;                                                        \
        } while (0)
/* A tuple of n elements: its first element goes in next, straight away. */
#define TUPLE(hdr)                                                                                 \
        do {                                                                                       \
                slot->type = PK_TERM_TUPLE;                                                        \
                slot->v.tuple.arity = (uint32_t)n;                                                 \
                if (n == 0) {                                                                      \
                        slot->v.tuple.elems = NULL;                                                \
                        p += (hdr);                                                                \
                        goto filled;                                                               \
                }                                                                                  \
                CLAIM(n, hdr);                                                                     \
                slot->v.tuple.elems = e;                                                           \
                DEEPER();                                                                          \
                /* A lone element closes the tuple: no frame needed. */                            \
                if (n > 1)                                                                         \
                        PUSH(DF_SEQ, n);                                                           \
                slot = e;                                                                          \
                p += (hdr);                                                                        \
        } while (0)

        for (;;) {
                size_t left = (size_t)(end - p);
                if (PK_UNLIKELY(left < 1))
                        FAIL(PK_ETRUNCATED, p);
                switch (*p) {
                case PK_TAG_SMALL_INTEGER:
                        if (PK_UNLIKELY(left < 2))
                                goto slow;
                        slot->type = PK_TERM_INT;
                        slot->v.i = p[1];
                        p += 2;
                        goto filled;
                case PK_TAG_INTEGER:
                        if (PK_UNLIKELY(left < 5))
                                goto slow;
                        slot->type = PK_TERM_INT;
                        slot->v.i = (int32_t)pk__be32(p + 1);
                        p += 5;
                        goto filled;
                case PK_TAG_NIL:
                        slot->type = PK_TERM_NIL;
                        p++;
                        goto filled;
                case PK_TAG_SMALL_ATOM_UTF8:
                        /* An ASCII name needs no check, no copy and no filter call. */
                        if (PK_UNLIKELY(!plain || left < 2 || left - 2 < p[1] ||
                                        has_high_byte(p + 2, p[1])))
                                goto slow;
                        slot->type = PK_TERM_ATOM;
                        slot->v.atom.name = (const char *)p + 2;
                        slot->v.atom.len = p[1];
                        p += 2 + (size_t)p[1];
                        goto filled;
                case PK_TAG_BINARY:
                        if (PK_UNLIKELY(!plain || left < 5))
                                goto slow;
                        n = pk__be32(p + 1);
                        if (PK_UNLIKELY(left - 5 < n))
                                goto slow;
                        slot->type = PK_TERM_BINARY;
                        slot->v.bin.data = p + 5;
                        slot->v.bin.size = n;
                        slot->v.bin.bits = 8;
                        p += 5 + n;
                        goto filled;
                case PK_TAG_STRING:
                        if (PK_UNLIKELY(!plain || left < 3))
                                goto slow;
                        n = pk__be16(p + 1);
                        if (PK_UNLIKELY(n == 0 || left - 3 < n))
                                goto slow;
                        slot->type = PK_TERM_STRING;
                        slot->v.string.bytes = p + 3;
                        slot->v.string.len = (uint32_t)n;
                        p += 3 + n;
                        goto filled;
                case PK_TAG_NEW_FLOAT: {
                        if (PK_UNLIKELY(left < 9))
                                goto slow;
                        uint64_t bits = pk__be64(p + 1);
                        double f;
                        memcpy(&f, &bits, 8);
                        if (PK_UNLIKELY(!isfinite(f)))
                                goto slow;
                        slot->type = PK_TERM_FLOAT;
                        slot->v.f = f;
                        p += 9;
                        goto filled;
                }
                case PK_TAG_SMALL_TUPLE:
                        if (PK_UNLIKELY(left < 2))
                                FAIL(PK_ETRUNCATED, p);
                        n = p[1];
                tuple_small:
                        TUPLE(2);
                        /* A lone element that starts a chain: see chain_down.
                         * CLAIM left it at least a byte. */
                        if (n == 1 && (*p | 4) == PK_TAG_LIST && chain_ahead(p, (size_t)(end - p)))
                                goto chain;
                        continue;
                case PK_TAG_LARGE_TUPLE:
                        if (PK_UNLIKELY(left < 5))
                                FAIL(PK_ETRUNCATED, p);
                        n = pk__be32(p + 1);
                        TUPLE(5);
                        continue;
                case PK_TAG_LIST:
                        if (PK_UNLIKELY(left < 5))
                                FAIL(PK_ETRUNCATED, p);
                        n = pk__be32(p + 1);
                list:
                        /* No elements: the list is just its tail, in this slot. */
                        if (n == 0) {
                                p += 5;
                                continue;
                        }
                        CLAIM((uint64_t)n + 1, 5);
                        slot->type = PK_TERM_LIST;
                        slot->v.list.elems = e;
                        slot->v.list.len = (uint32_t)n;
                        slot->v.list.tail = &e[n];
                        DEEPER();
                        PUSH(DF_LIST, n + 1);
                        slot = e;
                        p += 5;
                        if (n == 1 && (*p | 4) == PK_TAG_LIST && chain_ahead(p, (size_t)(end - p)))
                                goto chain;
                        continue;
                case PK_TAG_MAP:
                        if (PK_UNLIKELY(left < 5))
                                FAIL(PK_ETRUNCATED, p);
                        n = pk__be32(p + 1);
                        slot->type = PK_TERM_MAP;
                        slot->v.map.arity = (uint32_t)n;
                        if (n == 0) {
                                slot->v.map.pairs = NULL;
                                p += 5;
                                goto filled;
                        }
                        CLAIM(2 * (uint64_t)n, 5);
                        slot->v.map.pairs = e;
                        DEEPER();
                        PUSH(DF_MAP, 2 * n);
                        /* frame_done reads these when the map is complete. */
                        top->owner = slot;
                        top->at = p;
                        slot = e;
                        p += 5;
                        continue;
                default:
                        goto slow;
                }

        slow:
                SYNC();
                r = dec_one(d, slot);
                RELOAD();
                if (PK_UNLIKELY(r < 0))
                        goto out;

        filled:
                /* Fill the top frame's next slots while they hold leaves that
                 * need nothing but a store (no depth, no frame, no copy). */
                e = top->next;
                /* In batches: no leaf reads more than 5 bytes before its own
                 * length check and the fixed-size ones take at most 5, so k
                 * slots with 5k bytes left need no check per slot.  An atom or
                 * binary, which may take more, is taken here only if it leaves
                 * 5 bytes for each slot after it in the batch (spare()); else
                 * it, like anything that does not fit, goes to the general
                 * path. */
                for (struct pk_term *const fend = top->end;;) {
                        size_t k = (size_t)(fend - e), rest = (size_t)(end - p);
                        if (PK_UNLIKELY(k > rest / 5))
                                k = rest / 5;
                        if (k == 0)
                                break;
                        for (struct pk_term *const kend = e + k; e < kend; e++) {
                                if (*p == PK_TAG_SMALL_INTEGER) {
                                        e->type = PK_TERM_INT;
                                        e->v.i = p[1];
                                        p += 2;
                                } else if (*p == PK_TAG_INTEGER) {
                                        e->type = PK_TERM_INT;
                                        e->v.i = (int32_t)pk__be32(p + 1);
                                        p += 5;
                                } else if (*p == PK_TAG_NIL) {
                                        e->type = PK_TERM_NIL;
                                        p++;
                                } else if (*p == PK_TAG_SMALL_ATOM_UTF8 && plain &&
                                           (size_t)(end - p) - spare(e, kend) - 2 >= p[1] &&
                                           !has_high_byte(p + 2, p[1])) {
                                        e->type = PK_TERM_ATOM;
                                        e->v.atom.name = (const char *)p + 2;
                                        e->v.atom.len = p[1];
                                        p += 2 + (size_t)p[1];
                                } else if (*p == PK_TAG_BINARY && plain &&
                                           (size_t)(end - p) - spare(e, kend) - 5 >=
                                               (n = pk__be32(p + 1))) {
                                        e->type = PK_TERM_BINARY;
                                        e->v.bin.data = p + 5;
                                        e->v.bin.size = n;
                                        e->v.bin.bits = 8;
                                        p += 5 + n;
                                } else {
                                        goto leaves_done;
                                }
                        }
                }
        leaves_done:
                owed -= (size_t)(e - top->next);
                top->next = e;
                /* Then the next slot, which holds something else. */
                if (PK_LIKELY(e < top->end)) {
                        slot = top->next++;
                        owed--;
                        room = top->room;
                        /* A tuple's or list's last slot closes its frame; a
                         * list's tail stands in the list's place (so long
                         * improper chains stay flat) and does not count
                         * towards the depth. */
                        if (top->next == top->end && top->kind <= DF_LIST) {
                                room += top->kind;
                                top--;
                        }
                        continue;
                }
                /* Every slot filled: close the frame (a map or fun checks
                 * its contents first), and go on with the one below. */
                if (top->kind >= DF_MAP) {
                        if (top->kind == DF_END) {
                                r = 0;
                                goto out;
                        }
                        if (top->kind == DF_CHAIN)
                                goto chain_up;
                        if ((r = frame_done(d, top)) < 0)
                                goto out;
                }
                top--;
                goto filled;

        chain:
                /* Out of line, so that its state does not crowd this loop's
                 * registers; once per chain. */
                SYNC();
                e = chain_down(d, slot);
                RELOAD();
                if (!e) {
                        /* Not one level is sure to pass: the general path decides. */
                        if (*p == PK_TAG_SMALL_TUPLE)
                                goto tuple_small;
                        goto list;
                }
                slot = e;
                continue;

        chain_up:
                SYNC();
                e = chain_tails(d);
                RELOAD();
                if (!e)
                        goto filled;
                slot = e;
                continue;
        }
out:
        SYNC();
        return r;
#undef SYNC
#undef RELOAD
#undef FAIL
#undef CLAIM
#undef DEEPER
#undef PUSH
#undef TUPLE
}

/* Everything but the lone binary: out of line, so its large frame (the
 * decoder state and its first frames) costs nothing to pk_etf_decode's short
 * path. */
__attribute__((noinline)) static int decode_full(pk_arena *a, const void *buf, size_t len,
                                                 const struct pk_etf_decode_opts *opts,
                                                 struct pk_term **ret_term, size_t *ret_used,
                                                 struct pk_etf_error *reterr)
{
        /* Field by field: a designated initializer would zero local[] too. */
        struct dec d;
        d.a = a;
        d.base = d.p = buf;
        d.end = (const uint8_t *)buf + len;
        d.budget = opts->max_size ? opts->max_size : PK_ETF_DEFAULT_MAX_SIZE;
        d.owed = 0;
        d.max_big = opts->max_bignum_bytes ? opts->max_bignum_bytes : PK_ETF_DEFAULT_MAX_BIGNUM;
        d.max_depth = opts->max_depth ? opts->max_depth : PK_ETF_DEFAULT_MAX_DEPTH;
        d.room = d.max_depth;
        d.flags = opts->flags;
        d.atom_filter = opts->atom_filter;
        d.atom_ctx = opts->atom_ctx;
        d.err = 0;
        d.err_at = NULL;
        /* st[0]: the sentinel under every frame, with no slots. */
        d.local[0].next = d.local[0].end = NULL;
        d.local[0].owner = NULL;
        d.local[0].at = NULL;
        d.local[0].room = d.max_depth;
        d.local[0].kind = DF_END;
        d.sp = 1;
        d.cap = PK_ARRAY_SIZE(d.local);
        d.st = d.local;
        d.st_end = d.local + d.cap;
        d.tails = d.tlocal;
        d.tsp = 0;
        d.tcap = PK_ARRAY_SIZE(d.tlocal);
        d.ko = (struct pk__korder){0};
        const uint8_t *in = buf;
        int in_compressed = 0;
        size_t used = 0;
        struct pk_term *root = NULL;
        int r = 0;
        if (!(opts->flags & PK_ETF_NO_VERSION)) {
                if (len < 1) {
                        r = fail(&d, PK_ETRUNCATED, in);
                        goto out;
                }
                if (in[0] != PK_TAG_VERSION) {
                        r = fail(&d, PK_EBADVERSION, in);
                        goto out;
                }
                d.p++;
        }
        if (!(root = dalloc(&d, sizeof(*root), d.p))) {
                r = d.err;
                goto out;
        }
        if (d.p < d.end && *d.p == PK_TAG_COMPRESSED) {
                const uint8_t *at = d.p;
                if (d.end - d.p < 5) {
                        r = fail(&d, PK_ETRUNCATED, at);
                        goto out;
                }
                size_t declared = pk__be32(d.p + 1);
                const uint8_t *z = d.p + 5;
                size_t zlen = (size_t)(d.end - z);
                /* Deflate cannot beat 1032:1, so a bigger claim is a lie. */
                if (declared > d.budget) {
                        r = fail(&d, PK_ETERMSIZE, at);
                        goto out;
                }
                if (declared / 1032 > zlen + 1) {
                        r = fail(&d, PK_EZSIZE, at);
                        goto out;
                }
                uint8_t *inflated = dalloc(&d, declared ? declared : 1, at);
                if (!inflated) {
                        r = d.err;
                        goto out;
                }
                size_t consumed = 0;
                r = pk__inflate(z, zlen, inflated, declared, &consumed);
                if (r < 0) {
                        r = fail(&d, r, at);
                        goto out;
                }
                used = (size_t)(z - in) + consumed;
                in_compressed = 1;
                d.base = d.p = inflated;
                d.end = inflated + declared;
                /* Inflated data is private to the arena: no need to copy from it. */
                d.flags &= ~(unsigned)PK_ETF_COPY;
                if ((r = dec_tree(&d, root)) < 0)
                        goto out;
                if (d.p != d.end && (d.flags & PK_ETF_NO_TRAILING)) {
                        r = fail(&d, PK_ETRAILING, d.p);
                        goto out;
                }
                if (used != len && (d.flags & PK_ETF_NO_TRAILING)) {
                        in_compressed = 0;
                        d.base = in;
                        r = fail(&d, PK_ETRAILING, in + used);
                        goto out;
                }
        } else {
                if ((r = dec_tree(&d, root)) < 0)
                        goto out;
                used = (size_t)(d.p - in);
                if (used != len && (d.flags & PK_ETF_NO_TRAILING)) {
                        r = fail(&d, PK_ETRAILING, d.p);
                        goto out;
                }
        }
out:
        if (d.st != d.local)
                free(d.st);
        if (d.tails != d.tlocal)
                free(d.tails);
        pk__korder_free(&d.ko);
        if (r < 0) {
                if (reterr) {
                        reterr->code = r;
                        reterr->offset = d.err_at ? (size_t)(d.err_at - d.base) : 0;
                        reterr->in_compressed = in_compressed;
                }
                return r;
        }
        *ret_term = root;
        if (ret_used)
                *ret_used = used;
        return 0;
}

int pk_etf_decode(pk_arena *a, const void *buf, size_t len, const struct pk_etf_decode_opts *opts,
                  struct pk_term **ret_term, size_t *ret_used, struct pk_etf_error *reterr)
{
        static const struct pk_etf_decode_opts defaults;
        if (!opts)
                opts = &defaults;
        if (!a || (!buf && len) || !ret_term)
                return -EINVAL;
        /* An empty input may be NULL: the walk's pointers (start + length)
         * need an object, since NULL + 0 is undefined in C. */
        if (!buf)
                buf = "";
        /* A lone binary (a blob in a message) needs no walk and no decoder
         * state: one node pointing into the input.  Anything unusual (a
         * copy, no version byte, a short or odd input, a tiny max_size, an
         * arena that cannot give the node) takes the general path, which
         * then reports it exactly. */
        const uint8_t *bin = buf;
        if (!(opts->flags & (PK_ETF_COPY | PK_ETF_NO_VERSION)) && len >= 6 &&
            bin[0] == PK_TAG_VERSION && bin[1] == PK_TAG_BINARY) {
                size_t n = pk__be32(bin + 2);
                size_t max = opts->max_size ? opts->max_size : PK_ETF_DEFAULT_MAX_SIZE;
                struct pk_term *t;
                if (n <= len - 6 && (n == len - 6 || !(opts->flags & PK_ETF_NO_TRAILING)) &&
                    max >= sizeof(*t) && (t = pk__arena_alloc(a, sizeof(*t))) != NULL) {
                        t->type = PK_TERM_BINARY;
                        t->v.bin.data = bin + 6;
                        t->v.bin.size = n;
                        t->v.bin.bits = 8;
                        *ret_term = t;
                        if (ret_used)
                                *ret_used = 6 + n;
                        return 0;
                }
        }
        return decode_full(a, buf, len, opts, ret_term, ret_used, reterr);
}
