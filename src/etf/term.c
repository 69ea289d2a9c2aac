/* SPDX-License-Identifier: MIT */
/* The term model's setters, list length and Erlang term order. */
#include "etf-internal.h"

#include <math.h>
#include <string.h>

int32_t pk__utf8_next(const uint8_t *s, size_t len, size_t *i)
{
        size_t start = *i;
        size_t n = len - start;
        if (n == 0)
                return -1;
        uint8_t c = s[start];
        uint32_t cp;
        size_t k;
        if (c < 0x80) {
                *i = start + 1;
                return c;
        } else if ((c & 0xE0) == 0xC0) {
                cp = c & 0x1F;
                k = 1;
        } else if ((c & 0xF0) == 0xE0) {
                cp = c & 0x0F;
                k = 2;
        } else if ((c & 0xF8) == 0xF0) {
                cp = c & 0x07;
                k = 3;
        } else {
                return -1;
        }
        if (n <= k)
                return -1;
        for (size_t j = 1; j <= k; j++) {
                if ((s[start + j] & 0xC0) != 0x80)
                        return -1;
                cp = (cp << 6) | (s[start + j] & 0x3F);
        }
        static const uint32_t min_cp[4] = {0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[k] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                return -1;
        *i = start + k + 1;
        return (int32_t)cp;
}

ptrdiff_t pk__utf8_count(const uint8_t *s, size_t len)
{
        ptrdiff_t n = 0;
        size_t i = 0;
        while (i < len) {
                if (s[i] < 0x80)
                        i++;
                else if (pk__utf8_next(s, len, &i) < 0)
                        return -1;
                n++;
        }
        return n;
}

int pk__atom_check(const char *name, size_t len)
{
        if (len > (size_t)4 * 255)
                return PK_EATOMLEN;
        ptrdiff_t n = pk__utf8_count((const uint8_t *)name, len);
        if (n < 0)
                return PK_EATOMUTF8;
        return n > 255 ? PK_EATOMLEN : 0;
}

void pk_term_set_int(struct pk_term *t, int64_t v)
{
        t->type = PK_TERM_INT;
        t->v.i = v;
}

int pk_term_set_float(struct pk_term *t, double v)
{
        if (!isfinite(v))
                return PK_EBADFLOAT;
        t->type = PK_TERM_FLOAT;
        t->v.f = v;
        return 0;
}

void pk_term_set_big(struct pk_term *t, const uint8_t *digits, size_t len, int negative)
{
        uint64_t m = 0;
        len = pk__mag_trim(digits, len, &m);
        if (len <= 8) {
                if (!negative && m <= (uint64_t)INT64_MAX) {
                        pk_term_set_int(t, (int64_t)m);
                        return;
                }
                if (negative && m <= (uint64_t)INT64_MAX + 1) {
                        pk_term_set_int(t, m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m);
                        return;
                }
        }
        t->type = PK_TERM_BIG;
        t->v.big.digits = digits;
        t->v.big.len = (uint32_t)len;
        t->v.big.negative = negative ? 1 : 0;
}

int pk_term_set_atom(struct pk_term *t, const char *name, size_t len)
{
        int r = pk__atom_check(name, len);
        if (r < 0)
                return r;
        t->type = PK_TERM_ATOM;
        t->v.atom.name = name;
        t->v.atom.len = (uint16_t)len;
        return 0;
}

void pk_term_set_nil(struct pk_term *t)
{
        t->type = PK_TERM_NIL;
}

void pk_term_set_tuple(struct pk_term *t, struct pk_term *elems, uint32_t arity)
{
        t->type = PK_TERM_TUPLE;
        t->v.tuple.elems = elems;
        t->v.tuple.arity = arity;
}

int pk_term_set_list(pk_arena *a, struct pk_term *t, struct pk_term *elems, uint32_t len,
                     struct pk_term *tail)
{
        if (!tail) {
                if (len == 0) {
                        pk_term_set_nil(t);
                        return 0;
                }
                tail = pk_arena_terms(a, 1);
                if (!tail)
                        return -ENOMEM;
                pk_term_set_nil(tail);
        }
        if (len == 0) {
                *t = *tail;
                return 0;
        }
        t->type = PK_TERM_LIST;
        t->v.list.elems = elems;
        t->v.list.len = len;
        t->v.list.tail = tail;
        return 0;
}

void pk_term_set_string(struct pk_term *t, const uint8_t *bytes, uint32_t len)
{
        if (len == 0) {
                pk_term_set_nil(t);
                return;
        }
        t->type = PK_TERM_STRING;
        t->v.string.bytes = bytes;
        t->v.string.len = len;
}

void pk_term_set_map(struct pk_term *t, struct pk_term *pairs, uint32_t arity)
{
        t->type = PK_TERM_MAP;
        t->v.map.pairs = pairs;
        t->v.map.arity = arity;
}

void pk_term_set_binary(struct pk_term *t, const void *data, size_t size)
{
        t->type = PK_TERM_BINARY;
        t->v.bin.data = data;
        t->v.bin.size = size;
        t->v.bin.bits = 8;
}

int pk_term_set_bitstring(struct pk_term *t, const void *data, size_t size, unsigned bits)
{
        if (bits < 1 || bits > 8 || (size == 0 && bits != 8))
                return PK_EBITS;
        pk_term_set_binary(t, data, size);
        t->v.bin.bits = (uint8_t)bits;
        return 0;
}

int64_t pk_term_list_length(const struct pk_term *t)
{
        int64_t n = 0;
        for (;;) {
                switch (t->type) {
                case PK_TERM_NIL:
                        return n;
                case PK_TERM_STRING:
                        return n + t->v.string.len;
                case PK_TERM_LIST:
                        n += t->v.list.len;
                        t = t->v.list.tail;
                        break;
                default:
                        return -1;
                }
        }
}

/* ---- term order ---- */

enum order_class {
        ORD_NUMBER,
        ORD_ATOM,
        ORD_REF,
        ORD_FUN,
        ORD_PORT,
        ORD_PID,
        ORD_TUPLE,
        ORD_MAP,
        ORD_NIL,
        ORD_LIST,
        ORD_BITSTRING
};

static enum order_class order_class(const struct pk_term *t)
{
        switch (t->type) {
        case PK_TERM_INT:
        case PK_TERM_BIG:
        case PK_TERM_FLOAT:
                return ORD_NUMBER;
        case PK_TERM_ATOM:
                return ORD_ATOM;
        case PK_TERM_REF:
                return ORD_REF;
        case PK_TERM_EXPORT:
        case PK_TERM_FUN:
                return ORD_FUN;
        case PK_TERM_PORT:
                return ORD_PORT;
        case PK_TERM_PID:
                return ORD_PID;
        case PK_TERM_TUPLE:
                return ORD_TUPLE;
        case PK_TERM_MAP:
                return ORD_MAP;
        case PK_TERM_NIL:
                return ORD_NIL;
        case PK_TERM_LIST:
        case PK_TERM_STRING:
                return ORD_LIST;
        default:
                return ORD_BITSTRING;
        }
}

static int cmp_u64(uint64_t a, uint64_t b)
{
        return (a > b) - (a < b);
}

static int cmp_bytes(const void *a, size_t alen, const void *b, size_t blen)
{
        size_t n = alen < blen ? alen : blen;
        int c = n ? memcmp(a, b, n) : 0;
        if (c)
                return c < 0 ? -1 : 1;
        return cmp_u64(alen, blen);
}

/* Magnitude compare of little-endian canonical byte strings. */
static int cmp_mag(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
        if (alen != blen)
                return alen < blen ? -1 : 1;
        for (size_t i = alen; i-- > 0;)
                if (a[i] != b[i])
                        return a[i] < b[i] ? -1 : 1;
        return 0;
}

/* Little-endian magnitude of an int64 into buf[8]; returns its length. */
static size_t int_mag(int64_t v, uint8_t buf[8])
{
        uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
        size_t n = 0;
        while (m) {
                buf[n++] = (uint8_t)m;
                m >>= 8;
        }
        return n;
}

/* Integral double (|f| >= 2^53) to a little-endian magnitude; returns length. */
static size_t float_mag(double f, uint8_t buf[136])
{
        int e;
        double m = frexp(fabs(f), &e); /* |f| = m * 2^e, 0.5 <= m < 1 */
        uint64_t mant = (uint64_t)ldexp(m, 53);
        int shift = e - 53;
        memset(buf, 0, 136);
        for (int bit = 0; bit < 53; bit++) {
                if (!(mant >> bit & 1))
                        continue;
                int pos = bit + shift;
                buf[pos / 8] |= (uint8_t)(1u << (pos % 8));
        }
        size_t n = (size_t)(e + 7) / 8;
        while (n > 0 && buf[n - 1] == 0)
                n--;
        return n;
}

/* Compares two integer terms (INT or BIG). */
static int cmp_integers(const struct pk_term *a, const struct pk_term *b)
{
        if (a->type == PK_TERM_INT && b->type == PK_TERM_INT)
                return (a->v.i > b->v.i) - (a->v.i < b->v.i);
        int an = a->type == PK_TERM_INT ? a->v.i < 0 : a->v.big.negative;
        int bn = b->type == PK_TERM_INT ? b->v.i < 0 : b->v.big.negative;
        if (an != bn)
                return an ? -1 : 1;
        uint8_t abuf[8], bbuf[8];
        const uint8_t *ad = abuf, *bd = bbuf;
        size_t al, bl;
        if (a->type == PK_TERM_INT) {
                al = int_mag(a->v.i, abuf);
        } else {
                ad = a->v.big.digits;
                al = a->v.big.len;
        }
        if (b->type == PK_TERM_INT) {
                bl = int_mag(b->v.i, bbuf);
        } else {
                bd = b->v.big.digits;
                bl = b->v.big.len;
        }
        int c = cmp_mag(ad, al, bd, bl);
        return an ? -c : c;
}

/* Compares an integer term with a double, exactly. */
static int cmp_int_float(const struct pk_term *a, double f)
{
        if (fabs(f) < 9007199254740992.0) { /* 2^53: the integer part fits exactly */
                double fl = floor(f);
                struct pk_term ft;
                pk_term_set_int(&ft, (int64_t)fl);
                int c = cmp_integers(a, &ft);
                if (c)
                        return c;
                return f > fl ? -1 : 0;
        }
        uint8_t buf[136];
        size_t n = float_mag(f, buf);
        struct pk_term ft;
        ft.type = PK_TERM_BIG;
        ft.v.big.digits = buf;
        ft.v.big.len = (uint32_t)n;
        ft.v.big.negative = f < 0;
        return cmp_integers(a, &ft);
}

static int cmp_numbers(const struct pk_term *a, const struct pk_term *b, int exact)
{
        /* Map key order (exact): every integer sorts before every float,
         * whatever their values; erl orders #{2 => a, 1.5 => b} as [2, 1.5]. */
        if (exact && (a->type == PK_TERM_FLOAT) != (b->type == PK_TERM_FLOAT))
                return a->type == PK_TERM_FLOAT ? 1 : -1;
        int c;
        if (a->type == PK_TERM_FLOAT && b->type == PK_TERM_FLOAT)
                c = (a->v.f > b->v.f) - (a->v.f < b->v.f);
        else if (a->type == PK_TERM_FLOAT)
                c = -cmp_int_float(b, a->v.f);
        else if (b->type == PK_TERM_FLOAT)
                c = cmp_int_float(a, b->v.f);
        else
                c = cmp_integers(a, b);
        return c;
}

static int cmp_bits(const struct pk_term *a, const struct pk_term *b)
{
        uint64_t abits = a->v.bin.size ? (a->v.bin.size - 1) * 8 + a->v.bin.bits : 0;
        uint64_t bbits = b->v.bin.size ? (b->v.bin.size - 1) * 8 + b->v.bin.bits : 0;
        uint64_t common = abits < bbits ? abits : bbits;
        size_t full = (size_t)(common / 8);
        int c = full ? memcmp(a->v.bin.data, b->v.bin.data, full) : 0;
        if (c)
                return c < 0 ? -1 : 1;
        unsigned rest = (unsigned)(common % 8);
        if (rest) {
                uint8_t mask = (uint8_t)(0xFF00u >> rest);
                uint8_t x = a->v.bin.data[full] & mask, y = b->v.bin.data[full] & mask;
                if (x != y)
                        return x < y ? -1 : 1;
        }
        return cmp_u64(abits, bbits);
}

/* ---- the iterative comparison ----
 *
 * Containers are compared by a loop over an explicit stack of frames on the
 * heap, so the depth of a term (which a peer controls up to the decoder's
 * max_depth) never becomes C stack depth.  A frame either asks for one more
 * pair of subterms to compare or finishes with a result for its parent; a
 * nonzero result from a child ends a tuple, list or map at once.  Maps need
 * their keys in Erlang's map key order (exact term order: the order
 * pk__map_key_order in map_order.c gives), so a map frame sorts them itself
 * (a bottom-up merge sort whose comparisons are pushed on the same stack)
 * instead of calling that sort, which would call back into the comparison
 * once per level of maps nested in keys.  Each order it sorts goes into the
 * operation's key order cache, so a map nested in keys is sorted once per
 * operation, not once per comparison that reaches it (which made a chain of
 * maps keyed by maps cost time quadratic in its depth). */

enum cmp_kind { CF_ELEMS, CF_LIST, CF_MAP };

/* A bottom-up merge sort of pair indexes, one comparison at a time. */
struct msort {
        uint32_t *src, *dst; /* a pass merges runs of src into dst */
        uint32_t width, lo, mid, hi, p, q, k;
        bool merging;
};

/* The state of a map frame: both maps' key orders, then keys, then values. */
struct cmap {
        uint32_t n;
        uint32_t k;            /* next key or value to compare */
        uint8_t phase;         /* 0, 1: sorting a's or b's keys; 2: keys; 3: values */
        struct msort s;        /* the sort in progress (phases 0 and 1) */
        const uint32_t *ord_a; /* a's sorted pair indexes (from the cache or sort_a) */
        const uint32_t *ord_b;
        uint32_t *sort_a; /* 2n: a's indexes and scratch; NULL when a's order was cached */
        uint32_t *sort_b;
};

static void cmap_free(struct cmap *m)
{
        if (!m)
                return;
        free(m->sort_a);
        free(m->sort_b);
        free(m);
}

/* Puts a finished sort's order (in s->src, within buf) first in buf and
 * hands it to the cache when it can; returns the order to use.  Whatever the
 * cache did not take stays in buf, which the frame frees. */
static const uint32_t *msort_keep(struct pk__korder *ko, const struct pk_term *pairs, uint32_t n,
                                  const struct msort *s, uint32_t **buf)
{
        uint32_t *ord = *buf;
        if (s->src != ord)
                memcpy(ord, s->src, (size_t)n * sizeof(*ord));
        uint32_t k = 0;
        while (k < n && ord[k] == k)
                k++;
        if (k == n) {
                (void)pk__korder_put(ko, pairs, n, pk__korder_identity);
                return pk__korder_identity;
        }
        if (pk__korder_put(ko, pairs, n, ord))
                *buf = NULL;
        return ord;
}

struct cframe {
        const struct pk_term *a, *b; /* CF_ELEMS: element arrays; CF_LIST: current cells */
        uint32_t i, j;               /* CF_ELEMS: next index and count; CF_LIST: indexes in a, b */
        uint8_t kind;
        uint8_t exact;
        struct cmap *m; /* CF_MAP: owned, freed when the frame is popped */
};

/* What a frame's step asks of the loop. */
enum cmp_act { ACT_FINISH, ACT_COMPARE, ACT_REPLACE };

static void msort_init(struct msort *s, uint32_t *idx, uint32_t *scratch, uint32_t n)
{
        for (uint32_t i = 0; i < n; i++)
                idx[i] = i;
        *s = (struct msort){.src = idx, .dst = scratch, .width = 1};
}

/* Advances the sort, taking the result c of the comparison it asked for last
 * (when have is set).  Returns true when it needs the keys of src[p] and
 * src[q] compared, false when done (the order is then in s->src). */
static bool msort_step(struct msort *s, uint32_t n, bool have, int c)
{
        for (;;) {
                if (s->merging) {
                        if (have) {
                                s->dst[s->k++] = c <= 0 ? s->src[s->p++] : s->src[s->q++];
                                have = false;
                        }
                        if (s->p < s->mid && s->q < s->hi)
                                return true;
                        while (s->p < s->mid)
                                s->dst[s->k++] = s->src[s->p++];
                        while (s->q < s->hi)
                                s->dst[s->k++] = s->src[s->q++];
                        s->merging = false;
                        s->lo = s->hi;
                }
                if (s->width >= n)
                        return false;
                if (s->lo >= n) {
                        uint32_t *t = s->src;
                        s->src = s->dst;
                        s->dst = t;
                        s->width = s->width > n / 2 ? n : s->width * 2;
                        s->lo = 0;
                        continue;
                }
                s->mid = n - s->lo > s->width ? s->lo + s->width : n;
                s->hi = n - s->mid > s->width ? s->mid + s->width : n;
                s->p = s->lo;
                s->q = s->mid;
                s->k = s->lo;
                s->merging = true;
        }
}

/* Fetches the next head of a list-like term (t, *i); a STRING's byte goes to
 * *scratch.  Returns NULL at the end of the cells, leaving *t at the tail. */
static const struct pk_term *cell_next(const struct pk_term **t, uint32_t *i,
                                       struct pk_term *scratch)
{
        static const struct pk_term nil = {.type = PK_TERM_NIL};
        for (;;) {
                const struct pk_term *c = *t;
                if (c->type == PK_TERM_STRING) {
                        if (*i < c->v.string.len) {
                                pk_term_set_int(scratch, c->v.string.bytes[(*i)++]);
                                return scratch;
                        }
                        *t = &nil;
                        *i = 0;
                } else if (c->type == PK_TERM_LIST) {
                        if (*i < c->v.list.len)
                                return &c->v.list.elems[(*i)++];
                        *t = c->v.list.tail;
                        *i = 0;
                } else {
                        return NULL;
                }
        }
}

/* One step of frame f; have/c carry the result of the comparison it asked for
 * last.  On ACT_FINISH *c is the frame's result; on ACT_COMPARE and
 * ACT_REPLACE the next pair is in *x, *y, *ex (ACT_REPLACE: the pair's result
 * is the frame's result, so the frame can go first). */
static enum cmp_act frame_step(struct cframe *f, struct pk__korder *ko, bool have, int *c,
                               const struct pk_term **x, const struct pk_term **y, int *ex,
                               struct pk_term scratch[2])
{
        switch (f->kind) {
        case CF_ELEMS:
                if (have && *c)
                        return ACT_FINISH;
                *x = &f->a[f->i];
                *y = &f->b[f->i];
                *ex = f->exact;
                return ++f->i == f->j ? ACT_REPLACE : ACT_COMPARE;
        case CF_LIST: {
                if (have && *c)
                        return ACT_FINISH;
                const struct pk_term *p = cell_next(&f->a, &f->i, &scratch[0]);
                const struct pk_term *q = cell_next(&f->b, &f->j, &scratch[1]);
                /* A side that ran out of cells is left with its tail (NIL or an
                 * improper tail), which is compared with the other side's
                 * remaining list cell by type class alone. */
                if (!p && !q) {
                        *x = f->a;
                        *y = f->b;
                        *ex = f->exact;
                        return ACT_REPLACE;
                }
                if (!p || !q) {
                        const struct pk_term *tail = p ? f->b : f->a;
                        int below = order_class(tail) < ORD_LIST;
                        *c = (below ? -1 : 1) * (p ? -1 : 1);
                        return ACT_FINISH;
                }
                *x = p;
                *y = q;
                *ex = f->exact;
                return ACT_COMPARE;
        }
        default: {
                struct cmap *m = f->m;
                const struct pk_term *pa = f->a->v.map.pairs, *pb = f->b->v.map.pairs;
                if (m->phase == 0 && m->ord_a) {
                        m->phase = 1;
                        /* b may share a's pairs (a copied term): then a's sort is b's. */
                        if (!m->ord_b && (m->ord_b = pk__korder_get(ko, pb, m->n))) {
                                free(m->sort_b);
                                m->sort_b = NULL;
                        }
                        if (!m->ord_b)
                                msort_init(&m->s, m->sort_b, m->sort_b + m->n, m->n);
                }
                if (m->phase == 1 && m->ord_b) {
                        m->phase = 2;
                        m->k = 0;
                        have = false;
                }
                if (m->phase <= 1) {
                        const struct pk_term *pairs = m->phase == 0 ? pa : pb;
                        if (msort_step(&m->s, m->n, have, *c)) {
                                *x = &pairs[2 * (size_t)m->s.src[m->s.p]];
                                *y = &pairs[2 * (size_t)m->s.src[m->s.q]];
                                *ex = 1;
                                return ACT_COMPARE;
                        }
                        if (m->phase == 0)
                                m->ord_a = msort_keep(ko, pa, m->n, &m->s, &m->sort_a);
                        else
                                m->ord_b = msort_keep(ko, pb, m->n, &m->s, &m->sort_b);
                        return frame_step(f, ko, false, c, x, y, ex, scratch);
                }
                if (have && *c)
                        return ACT_FINISH;
                if (m->k == m->n) {
                        if (m->phase == 3) {
                                *c = 0;
                                return ACT_FINISH;
                        }
                        m->phase = 3;
                        m->k = 0;
                }
                size_t off = m->phase == 3;
                *x = &pa[2 * (size_t)pk__korder_at(m->ord_a, m->k) + off];
                *y = &pb[2 * (size_t)pk__korder_at(m->ord_b, m->k) + off];
                *ex = m->phase == 3 ? f->exact : 1;
                m->k++;
                return ACT_COMPARE;
        }
        }
}

static _Thread_local uint64_t cmp_work;

uint64_t pk__term_cmp_work(void)
{
        return cmp_work;
}

/* The state of a map frame comparing a and b (of n > 0 pairs each), with
 * each side's order taken from the cache or a sort buffer ready; NULL when
 * out of memory. */
static struct cmap *cmap_new(struct pk__korder *ko, const struct pk_term *a,
                             const struct pk_term *b, uint32_t n)
{
        struct cmap *m = calloc(1, sizeof(*m));
        if (!m)
                return NULL;
        m->n = n;
        m->ord_a = pk__korder_get(ko, a->v.map.pairs, n);
        m->ord_b = pk__korder_get(ko, b->v.map.pairs, n);
        size_t bytes = 2 * (size_t)n * sizeof(uint32_t);
        if ((!m->ord_a && !(m->sort_a = malloc(bytes))) ||
            (!m->ord_b && !(m->sort_b = malloc(bytes)))) {
                cmap_free(m);
                return NULL;
        }
        if (!m->ord_a)
                msort_init(&m->s, m->sort_a, m->sort_a + n, n);
        return m;
}

/* Compares x and y when that needs no frame (*c set, returns false), or
 * fills *f for a container pair (returns true).  Sets *err to -ENOMEM when a
 * map's state cannot be allocated (then *c orders by address). */
static bool cmp_start(const struct pk_term *x, const struct pk_term *y, int ex, int *c,
                      struct cframe *f, struct pk__korder *ko, int *err)
{
        cmp_work++;
        *c = 0;
        if (x == y)
                return false; /* a term is equal to itself, in either order */
        enum order_class ka = order_class(x), kb = order_class(y);
        if (ka != kb) {
                *c = ka < kb ? -1 : 1;
                return false;
        }
        const struct pk_term *a = x, *b = y;
        *c = 0;
        switch (ka) {
        case ORD_NUMBER:
                *c = cmp_numbers(a, b, ex);
                return false;
        case ORD_ATOM:
                *c = cmp_bytes(a->v.atom.name, a->v.atom.len, b->v.atom.name, b->v.atom.len);
                return false;
        case ORD_REF:
                if ((*c = cmp_bytes(a->v.ref.node, a->v.ref.node_len, b->v.ref.node,
                                    b->v.ref.node_len)))
                        return false;
                if (a->v.ref.len != b->v.ref.len) {
                        *c = a->v.ref.len < b->v.ref.len ? -1 : 1;
                        return false;
                }
                for (uint16_t i = a->v.ref.len; i-- > 0;)
                        if ((*c = cmp_u64(a->v.ref.ids[i], b->v.ref.ids[i])))
                                return false;
                *c = cmp_u64(a->v.ref.creation, b->v.ref.creation);
                return false;
        case ORD_FUN:
                if (a->type != b->type) {
                        *c = a->type == PK_TERM_FUN ? -1 : 1;
                        return false;
                }
                if (a->type == PK_TERM_EXPORT) {
                        if ((*c = cmp_bytes(a->v.mfa.module, a->v.mfa.module_len, b->v.mfa.module,
                                            b->v.mfa.module_len)))
                                return false;
                        if ((*c = cmp_bytes(a->v.mfa.function, a->v.mfa.function_len,
                                            b->v.mfa.function, b->v.mfa.function_len)))
                                return false;
                        *c = cmp_u64(a->v.mfa.arity, b->v.mfa.arity);
                        return false;
                }
                if ((*c = cmp_bytes(a->v.fun->module, a->v.fun->module_len, b->v.fun->module,
                                    b->v.fun->module_len)))
                        return false;
                if ((*c = cmp_u64(a->v.fun->index, b->v.fun->index)))
                        return false;
                if ((*c = cmp_bytes(a->v.fun->uniq, 16, b->v.fun->uniq, 16)))
                        return false;
                if ((*c = cmp_u64(a->v.fun->num_free, b->v.fun->num_free)) ||
                    a->v.fun->num_free == 0)
                        return false;
                *f = (struct cframe){.kind = CF_ELEMS,
                                     .exact = (uint8_t)ex,
                                     .a = a->v.fun->free_vars,
                                     .b = b->v.fun->free_vars,
                                     .j = a->v.fun->num_free};
                return true;
        case ORD_PORT:
                if ((*c = cmp_bytes(a->v.port.node, a->v.port.node_len, b->v.port.node,
                                    b->v.port.node_len)))
                        return false;
                if ((*c = cmp_u64(a->v.port.id, b->v.port.id)))
                        return false;
                *c = cmp_u64(a->v.port.creation, b->v.port.creation);
                return false;
        case ORD_PID:
                if ((*c = cmp_bytes(a->v.pid.node, a->v.pid.node_len, b->v.pid.node,
                                    b->v.pid.node_len)))
                        return false;
                if ((*c = cmp_u64(a->v.pid.serial, b->v.pid.serial)))
                        return false;
                if ((*c = cmp_u64(a->v.pid.id, b->v.pid.id)))
                        return false;
                *c = cmp_u64(a->v.pid.creation, b->v.pid.creation);
                return false;
        case ORD_TUPLE:
                if (a->v.tuple.arity != b->v.tuple.arity) {
                        *c = a->v.tuple.arity < b->v.tuple.arity ? -1 : 1;
                        return false;
                }
                if (a->v.tuple.arity == 0)
                        return false;
                *f = (struct cframe){.kind = CF_ELEMS,
                                     .exact = (uint8_t)ex,
                                     .a = a->v.tuple.elems,
                                     .b = b->v.tuple.elems,
                                     .j = a->v.tuple.arity};
                return true;
        case ORD_MAP: {
                uint32_t n = a->v.map.arity;
                if (n != b->v.map.arity) {
                        *c = n < b->v.map.arity ? -1 : 1;
                        return false;
                }
                if (n == 0)
                        return false;
                struct cmap *m = cmap_new(ko, a, b, n);
                if (!m) {
                        /* Out of memory: order by address so the result stays consistent. */
                        *err = -ENOMEM;
                        *c = cmp_u64((uintptr_t)a, (uintptr_t)b);
                        return false;
                }
                *f = (struct cframe){.kind = CF_MAP, .exact = (uint8_t)ex, .a = a, .b = b, .m = m};
                return true;
        }
        case ORD_NIL:
                return false;
        case ORD_LIST:
                /* Two byte lists: their bytes in order, then the shorter first. */
                if (a->type == PK_TERM_STRING && b->type == PK_TERM_STRING) {
                        *c = cmp_bytes(a->v.string.bytes, a->v.string.len, b->v.string.bytes,
                                       b->v.string.len);
                        return false;
                }
                *f = (struct cframe){.kind = CF_LIST, .exact = (uint8_t)ex, .a = a, .b = b};
                return true;
        case ORD_BITSTRING:
                *c = cmp_bits(a, b);
                return false;
        }
        return false;
}

int pk__term_cmp(const struct pk_term *a, const struct pk_term *b, int exact, struct pk__korder *ko,
                 int *err)
{
        struct pk__korder own = {0};
        if (!ko)
                ko = &own;
        /* Most comparisons are shallow: a few frames here, the heap beyond. */
        struct cframe local[16];
        struct cframe *st = local;
        size_t n = 0, cap = sizeof(local) / sizeof(local[0]);
        struct pk_term scratch[2];
        const struct pk_term *x = a, *y = b;
        int ex = exact, c = 0;
        *err = 0;
        for (;;) {
                struct cframe f;
                bool have = true;
                if (cmp_start(x, y, ex, &c, &f, ko, err)) {
                        if (n == cap) {
                                size_t nc = cap * 2;
                                struct cframe *ns = st == local ? malloc(nc * sizeof(*ns))
                                                                : realloc(st, nc * sizeof(*ns));
                                if (!ns) {
                                        if (f.kind == CF_MAP)
                                                cmap_free(f.m);
                                        *err = -ENOMEM;
                                        c = cmp_u64((uintptr_t)a, (uintptr_t)b);
                                        goto out;
                                }
                                if (st == local)
                                        memcpy(ns, local, sizeof(local));
                                st = ns;
                                cap = nc;
                        }
                        st[n++] = f;
                        have = false;
                }
                /* Feed results up until some frame asks for another pair. */
                for (;;) {
                        if (n == 0)
                                goto out;
                        struct cframe *top = &st[n - 1];
                        enum cmp_act act = frame_step(top, ko, have, &c, &x, &y, &ex, scratch);
                        if (act != ACT_COMPARE) {
                                if (top->kind == CF_MAP)
                                        cmap_free(top->m);
                                n--;
                        }
                        if (act != ACT_FINISH)
                                break;
                        have = true;
                }
        }
out:
        for (size_t i = 0; i < n; i++)
                if (st[i].kind == CF_MAP)
                        cmap_free(st[i].m);
        if (st != local)
                free(st);
        pk__korder_free(&own);
        return c;
}

int pk_term_compare(const struct pk_term *a, const struct pk_term *b, int exact)
{
        int err;
        return pk__term_cmp(a, b, exact, NULL, &err);
}
