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
        while (len > 0 && digits[len - 1] == 0)
                len--;
        if (len <= 8) {
                uint64_t m = 0;
                for (size_t i = len; i-- > 0;)
                        m = (m << 8) | digits[i];
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

/* Walks list-like terms one cell at a time. */
struct list_cursor {
        const struct pk_term *t; /* current list-like term, or a non-list tail */
        uint32_t i;              /* index within t's elements */
        struct pk_term byte;     /* scratch for a STRING element */
};

/* Fetches the next head; returns NULL at the end of the cells (c->t is then the tail). */
static const struct pk_term *cursor_next(struct list_cursor *c)
{
        for (;;) {
                if (c->t->type == PK_TERM_STRING) {
                        if (c->i < c->t->v.string.len) {
                                pk_term_set_int(&c->byte, c->t->v.string.bytes[c->i++]);
                                return &c->byte;
                        }
                        static const struct pk_term nil = {.type = PK_TERM_NIL};
                        c->t = &nil;
                        c->i = 0;
                } else if (c->t->type == PK_TERM_LIST) {
                        if (c->i < c->t->v.list.len)
                                return &c->t->v.list.elems[c->i++];
                        c->t = c->t->v.list.tail;
                        c->i = 0;
                } else {
                        return NULL;
                }
        }
}

static int cmp_lists(const struct pk_term *a, const struct pk_term *b, int exact)
{
        struct list_cursor ca = {.t = a}, cb = {.t = b};
        for (;;) {
                const struct pk_term *x = cursor_next(&ca);
                const struct pk_term *y = cursor_next(&cb);
                /* A side that ran out of cells is left with its tail (NIL or an
                 * improper tail), which is compared with the other side's
                 * remaining list cell by type class alone. */
                if (!x && !y)
                        return pk_term_compare(ca.t, cb.t, exact);
                if (!x)
                        return order_class(ca.t) < ORD_LIST ? -1 : 1;
                if (!y)
                        return order_class(cb.t) < ORD_LIST ? 1 : -1;
                int c = pk_term_compare(x, y, exact);
                if (c)
                        return c;
        }
}

static uint32_t *sorted_keys(const struct pk_term *m)
{
        uint32_t n = m->v.map.arity;
        uint32_t *idx = malloc((n ? n : 1) * sizeof(*idx));
        if (idx)
                pk__map_key_order(m->v.map.pairs, n, idx);
        return idx;
}

static int cmp_maps(const struct pk_term *a, const struct pk_term *b, int exact)
{
        if (a->v.map.arity != b->v.map.arity)
                return a->v.map.arity < b->v.map.arity ? -1 : 1;
        uint32_t *ia = sorted_keys(a), *ib = sorted_keys(b);
        int c = 0;
        if (!ia || !ib) {
                /* Out of memory: order by address so the result stays consistent. */
                c = cmp_u64((uintptr_t)a, (uintptr_t)b);
                goto out;
        }
        for (uint32_t k = 0; k < a->v.map.arity && !c; k++)
                c = pk_term_compare(&a->v.map.pairs[2 * (size_t)ia[k]],
                                    &b->v.map.pairs[2 * (size_t)ib[k]], 1);
        for (uint32_t k = 0; k < a->v.map.arity && !c; k++)
                c = pk_term_compare(&a->v.map.pairs[2 * ia[k] + 1], &b->v.map.pairs[2 * ib[k] + 1],
                                    exact);
out:
        free(ia);
        free(ib);
        return c;
}

int pk_term_compare(const struct pk_term *a, const struct pk_term *b, int exact)
{
        enum order_class ka = order_class(a), kb = order_class(b);
        if (ka != kb)
                return ka < kb ? -1 : 1;
        int c;
        switch (ka) {
        case ORD_NUMBER:
                return cmp_numbers(a, b, exact);
        case ORD_ATOM:
                return cmp_bytes(a->v.atom.name, a->v.atom.len, b->v.atom.name, b->v.atom.len);
        case ORD_REF:
                if ((c = cmp_bytes(a->v.ref.node, a->v.ref.node_len, b->v.ref.node,
                                   b->v.ref.node_len)))
                        return c;
                if (a->v.ref.len != b->v.ref.len)
                        return a->v.ref.len < b->v.ref.len ? -1 : 1;
                for (uint16_t i = a->v.ref.len; i-- > 0;)
                        if ((c = cmp_u64(a->v.ref.ids[i], b->v.ref.ids[i])))
                                return c;
                return cmp_u64(a->v.ref.creation, b->v.ref.creation);
        case ORD_FUN:
                if (a->type != b->type)
                        return a->type == PK_TERM_FUN ? -1 : 1;
                if (a->type == PK_TERM_EXPORT) {
                        if ((c = cmp_bytes(a->v.mfa.module, a->v.mfa.module_len, b->v.mfa.module,
                                           b->v.mfa.module_len)))
                                return c;
                        if ((c = cmp_bytes(a->v.mfa.function, a->v.mfa.function_len,
                                           b->v.mfa.function, b->v.mfa.function_len)))
                                return c;
                        return cmp_u64(a->v.mfa.arity, b->v.mfa.arity);
                }
                if ((c = cmp_bytes(a->v.fun->module, a->v.fun->module_len, b->v.fun->module,
                                   b->v.fun->module_len)))
                        return c;
                if ((c = cmp_u64(a->v.fun->index, b->v.fun->index)))
                        return c;
                if ((c = cmp_bytes(a->v.fun->uniq, 16, b->v.fun->uniq, 16)))
                        return c;
                if ((c = cmp_u64(a->v.fun->num_free, b->v.fun->num_free)))
                        return c;
                for (uint32_t i = 0; i < a->v.fun->num_free; i++)
                        if ((c = pk_term_compare(&a->v.fun->free_vars[i], &b->v.fun->free_vars[i],
                                                 exact)))
                                return c;
                return 0;
        case ORD_PORT:
                if ((c = cmp_bytes(a->v.port.node, a->v.port.node_len, b->v.port.node,
                                   b->v.port.node_len)))
                        return c;
                if ((c = cmp_u64(a->v.port.id, b->v.port.id)))
                        return c;
                return cmp_u64(a->v.port.creation, b->v.port.creation);
        case ORD_PID:
                if ((c = cmp_bytes(a->v.pid.node, a->v.pid.node_len, b->v.pid.node,
                                   b->v.pid.node_len)))
                        return c;
                if ((c = cmp_u64(a->v.pid.serial, b->v.pid.serial)))
                        return c;
                if ((c = cmp_u64(a->v.pid.id, b->v.pid.id)))
                        return c;
                return cmp_u64(a->v.pid.creation, b->v.pid.creation);
        case ORD_TUPLE:
                if (a->v.tuple.arity != b->v.tuple.arity)
                        return a->v.tuple.arity < b->v.tuple.arity ? -1 : 1;
                for (uint32_t i = 0; i < a->v.tuple.arity; i++)
                        if ((c = pk_term_compare(&a->v.tuple.elems[i], &b->v.tuple.elems[i],
                                                 exact)))
                                return c;
                return 0;
        case ORD_MAP:
                return cmp_maps(a, b, exact);
        case ORD_NIL:
                return 0;
        case ORD_LIST:
                return cmp_lists(a, b, exact);
        case ORD_BITSTRING:
                return cmp_bits(a, b);
        }
        return 0;
}
