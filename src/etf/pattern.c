/* SPDX-License-Identifier: MIT */
/* Format-string helpers: pk_etf_pack() builds a term from a pattern in
 * Erlang text syntax whose ~x directives take C values; pk_etf_unpack()
 * matches a term against such a pattern and stores what the directives
 * bind.  Patterns are parsed on every call by the text parser (no cache). */
#include "text-internal.h"

#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

#define PATTERN_MAX_DEPTH 100u
#define PATTERN_MAX_HOLES 64u

/* Parser errors in a pattern are the programmer's: report PK_EPATTERN. */
static int pattern_error(int r)
{
        return r == PK_ESYNTAX || r == PK_EDEPTH || r == PK_EBIGNUM ? PK_EPATTERN : r;
}

/* ---- pack ---- */

struct pack_ctx {
        pk_arena *a;
        va_list ap;
        /* pk_etf_pack_args(): typed arguments instead of ap */
        const struct pk_etf_pack_arg *args;
        size_t n_args, next;
};

/* The next typed argument if it is one of the types in mask (1 << type), or
 * NULL: the wrong type, or none left (PK_EPATTERN for the caller). */
static const struct pk_etf_pack_arg *typed(struct pack_ctx *c, unsigned mask)
{
        if (c->next >= c->n_args || !(mask & (1u << c->args[c->next].type)))
                return NULL;
        return &c->args[c->next++];
}

#define T_INT (1u << PK_ETF_ARG_INT)
#define T_UINT (1u << PK_ETF_ARG_UINT)
#define T_FLOAT (1u << PK_ETF_ARG_FLOAT)
#define T_STR (1u << PK_ETF_ARG_STR)
#define T_PTR (1u << PK_ETF_ARG_PTR)
#define T_TERM (1u << PK_ETF_ARG_TERM)

/* Takes a directive's value from the typed arguments into the va_arg-shaped
 * slots pack_hole() uses.  Returns 0 or PK_EPATTERN. */
static int take_typed(struct pack_ctx *c, char d, int64_t *i, uint64_t *u, double *f,
                      const void **p, size_t *n)
{
        const struct pk_etf_pack_arg *x;
        switch (d) {
        case 'i':
                if (!(x = typed(c, T_INT | T_UINT)))
                        return PK_EPATTERN;
                if (x->type == PK_ETF_ARG_UINT && x->v.u > (uint64_t)INT64_MAX)
                        return PK_EPATTERN; /* ~u is the directive for these */
                *i = x->type == PK_ETF_ARG_INT ? x->v.i : (int64_t)x->v.u;
                return 0;
        case 'u':
                if (!(x = typed(c, T_INT | T_UINT)) || (x->type == PK_ETF_ARG_INT && x->v.i < 0))
                        return PK_EPATTERN;
                *u = x->type == PK_ETF_ARG_UINT ? x->v.u : (uint64_t)x->v.i;
                return 0;
        case 'f':
                if (!(x = typed(c, T_FLOAT | T_INT | T_UINT)))
                        return PK_EPATTERN;
                *f = x->type == PK_ETF_ARG_FLOAT ? x->v.f
                     : x->type == PK_ETF_ARG_INT ? (double)x->v.i
                                                 : (double)x->v.u;
                return 0;
        case 'a':
        case 's':
                if (!(x = typed(c, T_STR)))
                        return PK_EPATTERN;
                *p = x->v.p;
                return 0;
        case 'b':
                if (!(x = typed(c, T_STR | T_PTR)))
                        return PK_EPATTERN;
                *p = x->v.p;
                if (!(x = typed(c, T_INT | T_UINT)) || (x->type == PK_ETF_ARG_INT && x->v.i < 0))
                        return PK_EPATTERN;
                *n = x->type == PK_ETF_ARG_UINT ? (size_t)x->v.u : (size_t)x->v.i;
                return 0;
        case 't':
                if (!(x = typed(c, T_TERM)))
                        return PK_EPATTERN;
                *p = x->v.t;
                return 0;
        default:
                return PK_EPATTERN;
        }
}

/* The hole callbacks take their arguments from the va_list that
 * pk_etf_pack()/pk_etf_unpack() started and keep in the context; the analyzer
 * checks each callback on its own, cannot see that va_start, and would flag
 * every va_arg below. */
// NOLINTBEGIN(clang-analyzer-valist.Uninitialized): va_start is in pk_etf_pack()
static int pack_hole(void *ctx, char d, struct pk_term *out)
{
        struct pack_ctx *c = ctx;
        int64_t ti = 0;
        uint64_t tu = 0;
        double tf = 0;
        const void *tp = NULL;
        size_t tn = 0;
        if (c->args) {
                int r = take_typed(c, d, &ti, &tu, &tf, &tp, &tn);
                if (r < 0)
                        return r;
        }
        bool typed_args = c->args != NULL;
        switch (d) {
        case 'i':
                pk_term_set_int(out, typed_args ? ti : va_arg(c->ap, int64_t));
                return 0;
        case 'u': {
                uint64_t v = typed_args ? tu : va_arg(c->ap, uint64_t);
                if (v <= (uint64_t)INT64_MAX) {
                        pk_term_set_int(out, (int64_t)v);
                        return 0;
                }
                uint8_t *dg = pk_arena_alloc(c->a, 8);
                if (!dg)
                        return pk_arena_last_error(c->a);
                for (int i = 0; i < 8; i++)
                        dg[i] = (uint8_t)(v >> (8 * i));
                pk_term_set_big(out, dg, 8, 0);
                return 0;
        }
        case 'f':
                return pk_term_set_float(out, typed_args ? tf : va_arg(c->ap, double));
        case 'a': {
                const char *s = typed_args ? tp : va_arg(c->ap, const char *);
                if (!s)
                        return -EINVAL;
                size_t n = strlen(s);
                if (n > (size_t)4 * 255)
                        return PK_EATOMLEN;
                char *name = pk_arena_memdup(c->a, s, n);
                if (!name)
                        return pk_arena_last_error(c->a);
                return pk_term_set_atom(out, name, n);
        }
        case 's': {
                const char *s = typed_args ? tp : va_arg(c->ap, const char *);
                if (!s)
                        return -EINVAL;
                size_t n = strlen(s);
                if (n > UINT32_MAX)
                        return PK_ETERMSIZE;
                uint8_t *b = pk_arena_memdup(c->a, s, n);
                if (!b)
                        return pk_arena_last_error(c->a);
                pk_term_set_string(out, b, (uint32_t)n);
                return 0;
        }
        case 'b': {
                const void *data = typed_args ? tp : va_arg(c->ap, const void *);
                size_t n = typed_args ? tn : va_arg(c->ap, size_t);
                if (!data && n)
                        return -EINVAL;
                void *b = pk_arena_memdup(c->a, data ? data : "", n);
                if (!b)
                        return pk_arena_last_error(c->a);
                pk_term_set_binary(out, b, n);
                return 0;
        }
        case 't': {
                const struct pk_term *t =
                    typed_args ? (const struct pk_term *)tp : va_arg(c->ap, const struct pk_term *);
                if (!t)
                        return -EINVAL;
                *out = *t;
                return 0;
        }
        default:
                return PK_EPATTERN;
        }
}
// NOLINTEND(clang-analyzer-valist.Uninitialized)

static int pack(struct pack_ctx *c, struct pk_term **ret_term, const char *pattern)
{
        struct pk__parse_cfg cfg = {
            .max_depth = PATTERN_MAX_DEPTH,
            .max_int_digits = 10000,
            .max_binary = 16u << 20,
            .no_dot = true,
            .hole = pack_hole,
            .hole_ctx = c,
        };
        struct pk_term *t;
        int r = pk__parse(c->a, pattern, strlen(pattern), &cfg, &t, NULL, NULL);
        if (r < 0)
                return pattern_error(r);
        if (c->args && c->next != c->n_args)
                return PK_EPATTERN; /* more arguments than directives */
        *ret_term = t;
        return 0;
}

int(pk_etf_pack)(pk_arena *a, struct pk_term **ret_term, const char *pattern, ...)
{
        if (!a || !ret_term || !pattern)
                return -EINVAL;
        struct pack_ctx c = {.a = a};
        va_start(c.ap, pattern);
        int r = pack(&c, ret_term, pattern);
        va_end(c.ap);
        return r;
}

int pk_etf_pack_args(pk_arena *a, struct pk_term **ret_term, const char *pattern,
                     const struct pk_etf_pack_arg *args, size_t n_args)
{
        static const struct pk_etf_pack_arg none;
        if (!a || !ret_term || !pattern || (!args && n_args))
                return -EINVAL;
        struct pack_ctx c = {.a = a, .args = args ? args : &none, .n_args = n_args};
        return pack(&c, ret_term, pattern);
}

/* ---- unpack ---- */

struct hole {
        char d;
        void *p1, *p2;
        const struct pk_term *bound;
        struct pk_term copy; /* the value, when bound to a byte of a string */
};

struct unpack_ctx {
        va_list ap;
        struct hole holes[PATTERN_MAX_HOLES];
        unsigned n;
};

// NOLINTBEGIN(clang-analyzer-valist.Uninitialized): va_start is in pk_etf_unpack()
static int unpack_hole(void *ctx, char d, struct pk_term *out)
{
        struct unpack_ctx *c = ctx;
        if (c->n >= PATTERN_MAX_HOLES)
                return PK_EPATTERN;
        struct hole *h = &c->holes[c->n];
        *h = (struct hole){.d = d};
        switch (d) {
        case '_':
                break;
        case 'i':
        case 'u':
        case 'f':
        case 't':
                h->p1 = va_arg(c->ap, void *);
                if (!h->p1)
                        return -EINVAL;
                break;
        case 'a':
        case 's':
        case 'b':
                h->p1 = va_arg(c->ap, void *);
                h->p2 = va_arg(c->ap, void *);
                if (!h->p1 || !h->p2)
                        return -EINVAL;
                break;
        default:
                return PK_EPATTERN;
        }
        out->type = PK__TERM_HOLE;
        out->v.i = c->n++;
        return 0;
}
// NOLINTEND(clang-analyzer-valist.Uninitialized)

static bool has_hole(const struct pk_term *p, unsigned depth)
{
        if (depth > PATTERN_MAX_DEPTH)
                return true;
        switch (p->type) {
        case PK__TERM_HOLE:
                return true;
        case PK_TERM_TUPLE:
                for (uint32_t i = 0; i < p->v.tuple.arity; i++)
                        if (has_hole(&p->v.tuple.elems[i], depth + 1))
                                return true;
                return false;
        case PK_TERM_LIST:
                for (uint32_t i = 0; i < p->v.list.len; i++)
                        if (has_hole(&p->v.list.elems[i], depth + 1))
                                return true;
                return has_hole(p->v.list.tail, depth + 1);
        case PK_TERM_MAP:
                for (uint32_t i = 0; i < 2 * p->v.map.arity; i++)
                        if (has_hole(&p->v.map.pairs[i], depth + 1))
                                return true;
                return false;
        default:
                return false;
        }
}

/* Checks that t suits the hole's directive.  scratch: t is a transient
 * integer made for one byte of a string term. */
static int bind_hole(struct hole *h, const struct pk_term *t, bool scratch)
{
        if (scratch) {
                if (h->d == 't')
                        return PK_EPATTERN; /* no term to point at: use ~i */
                h->copy = *t;
                t = &h->copy;
        }
        switch (h->d) {
        case 'i':
                if (t->type == PK_TERM_BIG)
                        return PK_ERANGE_INT;
                if (t->type != PK_TERM_INT)
                        return PK_ENOMATCH;
                break;
        case 'u':
                if (t->type == PK_TERM_INT) {
                        if (t->v.i < 0)
                                return PK_ERANGE_INT;
                } else if (t->type == PK_TERM_BIG) {
                        if (t->v.big.negative || t->v.big.len > 8)
                                return PK_ERANGE_INT;
                } else {
                        return PK_ENOMATCH;
                }
                break;
        case 'f':
                if (t->type != PK_TERM_FLOAT)
                        return PK_ENOMATCH;
                break;
        case 'a':
                if (t->type != PK_TERM_ATOM)
                        return PK_ENOMATCH;
                break;
        case 's':
                if (t->type != PK_TERM_STRING && t->type != PK_TERM_NIL)
                        return PK_ENOMATCH;
                break;
        case 'b':
                if (t->type != PK_TERM_BINARY || t->v.bin.bits != 8)
                        return PK_ENOMATCH;
                break;
        default: /* t, _ */
                break;
        }
        h->bound = t;
        return 0;
}

struct cursor {
        const struct pk_term *t; /* current list-like term, or the tail */
        uint32_t i;
        struct pk_term byte;
};

static const struct pk_term *cursor_next(struct cursor *c)
{
        static const struct pk_term nil = {.type = PK_TERM_NIL};
        for (;;) {
                if (c->t->type == PK_TERM_STRING) {
                        if (c->i < c->t->v.string.len) {
                                pk_term_set_int(&c->byte, c->t->v.string.bytes[c->i++]);
                                return &c->byte;
                        }
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

static int match(struct unpack_ctx *c, const struct pk_term *p, const struct pk_term *t,
                 unsigned depth, bool scratch)
{
        if (depth > PATTERN_MAX_DEPTH)
                return PK_EPATTERN;
        int r;
        switch (p->type) {
        case PK__TERM_HOLE:
                return bind_hole(&c->holes[p->v.i], t, scratch);
        case PK_TERM_TUPLE:
                if (t->type != PK_TERM_TUPLE || t->v.tuple.arity != p->v.tuple.arity)
                        return PK_ENOMATCH;
                for (uint32_t i = 0; i < p->v.tuple.arity; i++)
                        if ((r = match(c, &p->v.tuple.elems[i], &t->v.tuple.elems[i], depth + 1,
                                       false)) < 0)
                                return r;
                return 0;
        case PK_TERM_LIST:
        case PK_TERM_STRING:
        case PK_TERM_NIL: {
                if (!pk__is_listish(t))
                        return PK_ENOMATCH;
                struct cursor pc = {.t = p}, tc = {.t = t};
                for (;;) {
                        const struct pk_term *pe = cursor_next(&pc);
                        const struct pk_term *te = cursor_next(&tc);
                        if (!pe && !te) {
                                /* Both ran out of cells: the tails must match
                                 * (a hole in the tail binds the term's tail). */
                                if (pc.t->type == PK_TERM_NIL && tc.t->type == PK_TERM_NIL)
                                        return 0;
                                return match(c, pc.t, tc.t, depth + 1, false);
                        }
                        if (!pe || !te)
                                return PK_ENOMATCH;
                        if ((r = match(c, pe, te, depth + 1, te == &tc.byte)) < 0)
                                return r;
                }
        }
        case PK_TERM_MAP:
                if (t->type != PK_TERM_MAP)
                        return PK_ENOMATCH;
                for (uint32_t i = 0; i < p->v.map.arity; i++) {
                        const struct pk_term *k = &p->v.map.pairs[2 * (size_t)i];
                        if (has_hole(k, 0))
                                return PK_EPATTERN;
                        const struct pk_term *v = NULL;
                        for (uint32_t j = 0; j < t->v.map.arity && !v; j++)
                                if (pk_term_compare(k, &t->v.map.pairs[2 * (size_t)j], 1) == 0)
                                        v = &t->v.map.pairs[2 * j + 1];
                        if (!v)
                                return PK_ENOMATCH;
                        if ((r = match(c, &p->v.map.pairs[2 * i + 1], v, depth + 1, false)) < 0)
                                return r;
                }
                return 0;
        default:
                return pk_term_compare(p, t, 1) == 0 ? 0 : PK_ENOMATCH;
        }
}

static void store(const struct hole *h)
{
        const struct pk_term *t = h->bound;
        switch (h->d) {
        case 'i':
                *(int64_t *)h->p1 = t->v.i;
                break;
        case 'u':
                if (t->type == PK_TERM_INT) {
                        *(uint64_t *)h->p1 = (uint64_t)t->v.i;
                } else {
                        uint64_t v = 0;
                        for (uint32_t i = t->v.big.len; i-- > 0;)
                                v = (v << 8) | t->v.big.digits[i];
                        *(uint64_t *)h->p1 = v;
                }
                break;
        case 'f':
                *(double *)h->p1 = t->v.f;
                break;
        case 'a':
                *(const char **)h->p1 = t->v.atom.name;
                *(size_t *)h->p2 = t->v.atom.len;
                break;
        case 's':
                if (t->type == PK_TERM_NIL) {
                        *(const uint8_t **)h->p1 = (const uint8_t *)"";
                        *(size_t *)h->p2 = 0;
                } else {
                        *(const uint8_t **)h->p1 = t->v.string.bytes;
                        *(size_t *)h->p2 = t->v.string.len;
                }
                break;
        case 'b':
                *(const uint8_t **)h->p1 = t->v.bin.data;
                *(size_t *)h->p2 = t->v.bin.size;
                break;
        case 't':
                *(const struct pk_term **)h->p1 = t;
                break;
        default:
                break;
        }
}

int pk_etf_unpack(const struct pk_term *t, const char *pattern, ...)
{
        if (!t || !pattern)
                return -EINVAL;
        struct unpack_ctx ctx, *c = &ctx;
        pk_arena *a = pk_arena_new(0);
        int r;
        if (!a) {
                r = -ENOMEM;
                goto out;
        }
        c->n = 0;
        va_start(c->ap, pattern);
        struct pk__parse_cfg cfg = {
            .max_depth = PATTERN_MAX_DEPTH,
            .max_int_digits = 10000,
            .max_binary = 1u << 20,
            .no_dot = true,
            .hole = unpack_hole,
            .hole_ctx = c,
        };
        struct pk_term *p;
        r = pk__parse(a, pattern, strlen(pattern), &cfg, &p, NULL, NULL);
        va_end(c->ap);
        if (r < 0) {
                r = pattern_error(r);
                goto out;
        }
        r = match(c, p, t, 0, false);
        if (r == 0)
                for (unsigned i = 0; i < c->n; i++)
                        if (c->holes[i].bound)
                                store(&c->holes[i]);
out:
        pk_arena_free(a);
        return r;
}
