/* SPDX-License-Identifier: MIT */
/* The tree encoder: term tree -> ETF bytes, choosing exactly the tags OTP 25's
 * term_to_binary chooses for a minor version.  It walks the tree with an
 * explicit stack on the heap, so no tree is too deep to encode. */
#include "etf-internal.h"

static const struct pk_term nil_term = {.type = PK_TERM_NIL};

/* ---- encoder state ---- */

enum eframe_kind { EF_SEQ, EF_MAP, EF_LIST, EF_FUN };

struct eframe {
        uint8_t kind;
        uint32_t i, n;               /* SEQ/FUN: next element, count; MAP: next slot of 2n */
        const struct pk_term *elems; /* SEQ/FUN: elements; MAP: pairs; LIST: current segment */
        size_t aux;                  /* MAP: offset of its order in scratch; FUN: Size field */
};

struct enc {
        struct pk_etf_buf *b;
        int mv;
        bool sorted; /* every map in key order ([deterministic]) */
        struct eframe *st;
        size_t sp, cap;
        struct pk__korder ko; /* key orders met while ordering maps */
        uint32_t *scratch;
        size_t sc_len, sc_cap;
        struct eframe local[64];
};

static int grow_stack(struct enc *e)
{
        /* Leave the on-stack array for a roomy heap one at once: deep terms
         * would otherwise pay for several reallocations per call. */
        size_t cap = e->st == e->local ? 1024 : e->cap * 2;
        struct eframe *st;
        if (e->st == e->local) {
                st = malloc(cap * sizeof(*st));
                if (st)
                        memcpy(st, e->local, e->sp * sizeof(*st));
        } else {
                st = realloc(e->st, cap * sizeof(*st));
        }
        if (!st)
                return pk__buf_fail(e->b, -ENOMEM);
        e->st = st;
        e->cap = cap;
        return 0;
}

static inline int push(struct enc *e, uint8_t kind, const struct pk_term *elems, uint32_t n,
                       size_t aux)
{
        if (PK_UNLIKELY(e->sp == e->cap) && grow_stack(e) < 0)
                return e->b->err;
        struct eframe *f = &e->st[e->sp++];
        f->kind = kind;
        f->i = 0;
        f->n = n;
        f->elems = elems;
        f->aux = aux;
        return 0;
}

static uint32_t *scratch_alloc(struct enc *e, uint32_t n, size_t *off)
{
        if (e->sc_cap - e->sc_len < n) {
                size_t cap = e->sc_cap ? e->sc_cap : 64;
                while (cap - e->sc_len < n)
                        cap *= 2;
                uint32_t *s = realloc(e->scratch, cap * sizeof(*s));
                if (!s) {
                        pk__buf_fail(e->b, -ENOMEM);
                        return NULL;
                }
                e->scratch = s;
                e->sc_cap = cap;
        }
        *off = e->sc_len;
        e->sc_len += n;
        return e->scratch + *off;
}

static int w_node(struct pk_etf_buf *b, int mv, const char *node, uint16_t len)
{
        return pk__w_atom(b, mv, node, len);
}

/* Writes a LIST-headed chain of LIST/STRING segments: STRING_EXT when it is a
 * proper list of 1..65535 bytes (as erl does), else a LIST_EXT header and a
 * frame.  Sets *tail_out to a term still to encode when no frame was pushed. */
static int w_list(struct enc *e, const struct pk_term *t, const struct pk_term **next)
{
        uint64_t cells = 0;
        const struct pk_term *s = t;
        while (s->type == PK_TERM_LIST || s->type == PK_TERM_STRING) {
                if (s->type == PK_TERM_STRING) {
                        cells += s->v.string.len;
                        s = &nil_term;
                        break;
                }
                cells += s->v.list.len;
                s = s->v.list.tail;
                if (!s)
                        return pk__buf_fail(e->b, PK_EUNENCODABLE);
        }
        if (cells == 0) {
                *next = s;
                return 0;
        }
        if (s->type == PK_TERM_NIL && cells <= 65535) {
                int bytes = 1;
                for (const struct pk_term *g = t; bytes && g->type == PK_TERM_LIST;
                     g = g->v.list.tail)
                        for (uint32_t k = 0; k < g->v.list.len; k++) {
                                const struct pk_term *x = &g->v.list.elems[k];
                                if (x->type != PK_TERM_INT || (uint64_t)x->v.i > 255) {
                                        bytes = 0;
                                        break;
                                }
                        }
                if (bytes) {
                        uint8_t *p = pk__buf_room(e->b, 3 + (size_t)cells);
                        if (!p)
                                return e->b->err;
                        p[0] = PK_TAG_STRING;
                        pk__put16(p + 1, (uint16_t)cells);
                        uint8_t *q = p + 3;
                        for (const struct pk_term *g = t; g->type != PK_TERM_NIL;) {
                                if (g->type == PK_TERM_STRING) { /* always the last part */
                                        memcpy(q, g->v.string.bytes, g->v.string.len);
                                        break;
                                }
                                for (uint32_t k = 0; k < g->v.list.len; k++)
                                        *q++ = (uint8_t)g->v.list.elems[k].v.i;
                                g = g->v.list.tail;
                        }
                        e->b->len += 3 + (size_t)cells;
                        *next = NULL;
                        return 0;
                }
        }
        if (cells > UINT32_MAX)
                return pk__buf_fail(e->b, PK_EUNENCODABLE);
        int r = pk__w_header(e->b, 0, PK_TAG_LIST, (uint32_t)cells);
        if (r < 0)
                return r;
        *next = NULL;
        if ((r = push(e, EF_LIST, t, 0, 0)) < 0 || t->type != PK_TERM_LIST || t->v.list.len == 0)
                return r;
        /* The first element goes next, without a trip through next_term. */
        e->st[e->sp - 1].i = 1;
        *next = &t->v.list.elems[0];
        return 0;
}

/* Writes one term; containers write their header and push a frame.  *next
 * is set to a term to encode right away (a list's tail), or NULL. */
static int w_one(struct enc *e, const struct pk_term *t, const struct pk_term **next)
{
        struct pk_etf_buf *b = e->b;
        uint8_t *p;
        int r;
        *next = NULL;
        switch (t->type) {
        case PK_TERM_INT:
                return pk__w_int(b, t->v.i);
        case PK_TERM_BIG:
                if (!t->v.big.digits && t->v.big.len)
                        return pk__buf_fail(b, PK_EUNENCODABLE);
                return pk__w_big(b, t->v.big.digits, t->v.big.len, t->v.big.negative);
        case PK_TERM_FLOAT:
                return pk__w_float(b, e->mv, t->v.f);
        case PK_TERM_ATOM:
                return pk__w_atom(b, e->mv, t->v.atom.name, t->v.atom.len);
        case PK_TERM_NIL:
                return pk__w_nil(b);
        case PK_TERM_STRING:
                return pk__w_string(b, t->v.string.bytes, t->v.string.len);
        case PK_TERM_LIST:
                return w_list(e, t, next);
        case PK_TERM_BINARY:
                return pk__w_bits(b, t->v.bin.data, t->v.bin.size, t->v.bin.bits);
        case PK_TERM_TUPLE:
                r = pk__w_header(b, PK_TAG_SMALL_TUPLE, PK_TAG_LARGE_TUPLE, t->v.tuple.arity);
                if (r < 0 || t->v.tuple.arity == 0)
                        return r;
                return push(e, EF_SEQ, t->v.tuple.elems, t->v.tuple.arity, 0);
        case PK_TERM_MAP: {
                r = pk__w_header(b, 0, PK_TAG_MAP, t->v.map.arity);
                if (r < 0 || t->v.map.arity == 0)
                        return r;
                size_t off;
                uint32_t *idx = scratch_alloc(e, t->v.map.arity, &off);
                if (!idx)
                        return b->err;
                r = e->sorted ? pk__map_key_order(t->v.map.pairs, t->v.map.arity, idx, &e->ko)
                              : pk__map_wire_order(t->v.map.pairs, t->v.map.arity, idx, &e->ko);
                if (r < 0)
                        return pk__buf_fail(b, r);
                return push(e, EF_MAP, t->v.map.pairs, t->v.map.arity, off);
        }
        case PK_TERM_PID:
                if (!(p = pk__buf_room(b, 1)))
                        return b->err;
                *p = PK_TAG_NEW_PID;
                b->len++;
                if ((r = w_node(b, e->mv, t->v.pid.node, t->v.pid.node_len)) < 0)
                        return r;
                if (!(p = pk__buf_room(b, 12)))
                        return b->err;
                pk__put32(p, t->v.pid.id);
                pk__put32(p + 4, t->v.pid.serial);
                pk__put32(p + 8, t->v.pid.creation);
                b->len += 12;
                return 0;
        case PK_TERM_PORT: {
                int v4 = t->v.port.id > UINT32_MAX;
                if (!(p = pk__buf_room(b, 1)))
                        return b->err;
                *p = v4 ? PK_TAG_V4_PORT : PK_TAG_NEW_PORT;
                b->len++;
                if ((r = w_node(b, e->mv, t->v.port.node, t->v.port.node_len)) < 0)
                        return r;
                if (!(p = pk__buf_room(b, 12)))
                        return b->err;
                if (v4) {
                        pk__put64(p, t->v.port.id);
                        pk__put32(p + 8, t->v.port.creation);
                        b->len += 12;
                } else {
                        pk__put32(p, (uint32_t)t->v.port.id);
                        pk__put32(p + 4, t->v.port.creation);
                        b->len += 8;
                }
                return 0;
        }
        case PK_TERM_REF:
                if (t->v.ref.len > 5 || (t->v.ref.len && !t->v.ref.ids))
                        return pk__buf_fail(b, PK_EUNENCODABLE);
                if (!(p = pk__buf_room(b, 3)))
                        return b->err;
                p[0] = PK_TAG_NEWER_REFERENCE;
                pk__put16(p + 1, t->v.ref.len);
                b->len += 3;
                if ((r = w_node(b, e->mv, t->v.ref.node, t->v.ref.node_len)) < 0)
                        return r;
                if (!(p = pk__buf_room(b, 4 + 4 * (size_t)t->v.ref.len)))
                        return b->err;
                pk__put32(p, t->v.ref.creation);
                for (uint16_t k = 0; k < t->v.ref.len; k++)
                        pk__put32(p + 4 + 4 * (size_t)k, t->v.ref.ids[k]);
                b->len += 4 + 4 * (size_t)t->v.ref.len;
                return 0;
        case PK_TERM_EXPORT:
                if (!(p = pk__buf_room(b, 1)))
                        return b->err;
                *p = PK_TAG_EXPORT;
                b->len++;
                if ((r = pk__w_atom(b, e->mv, t->v.mfa.module, t->v.mfa.module_len)) < 0 ||
                    (r = pk__w_atom(b, e->mv, t->v.mfa.function, t->v.mfa.function_len)) < 0)
                        return r;
                return pk__w_int(b, t->v.mfa.arity);
        case PK_TERM_FUN: {
                const struct pk_fun *f = t->v.fun;
                if (!f || !f->old_index || !f->old_uniq || !f->pid ||
                    (f->num_free && !f->free_vars) || f->old_index->type != PK_TERM_INT ||
                    f->old_uniq->type != PK_TERM_INT || f->pid->type != PK_TERM_PID)
                        return pk__buf_fail(b, PK_EUNENCODABLE);
                if (!(p = pk__buf_room(b, 30)))
                        return b->err;
                size_t size_pos = b->len + 1;
                p[0] = PK_TAG_NEW_FUN;
                p[5] = f->arity;
                memcpy(p + 6, f->uniq, 16);
                pk__put32(p + 22, f->index);
                pk__put32(p + 26, f->num_free);
                b->len += 30;
                const struct pk_term *dummy;
                if ((r = pk__w_atom(b, e->mv, f->module, f->module_len)) < 0 ||
                    (r = pk__w_int(b, f->old_index->v.i)) < 0 ||
                    (r = pk__w_int(b, f->old_uniq->v.i)) < 0 || (r = w_one(e, f->pid, &dummy)) < 0)
                        return r;
                return push(e, EF_FUN, f->free_vars, f->num_free, size_pos);
        }
        default:
                return pk__buf_fail(b, PK_EUNENCODABLE);
        }
}

/* Picks the next term to write from the frame on top, popping finished frames. */
static const struct pk_term *next_term(struct enc *e, size_t base)
{
        while (e->sp > base) {
                struct eframe *f = &e->st[e->sp - 1];
                switch (f->kind) {
                case EF_SEQ:
                        /* The last element needs nothing after it: the frame
                         * goes now, so a chain of tuples keeps the stack flat. */
                        if (f->i + 1 >= f->n)
                                e->sp--;
                        if (f->i < f->n)
                                return &f->elems[f->i++];
                        break;
                case EF_FUN:
                        if (f->i < f->n)
                                return &f->elems[f->i++];
                        if (f->kind == EF_FUN)
                                pk__put32(e->b->data + f->aux, (uint32_t)(e->b->len - f->aux));
                        e->sp--;
                        break;
                case EF_MAP:
                        if (f->i < 2 * f->n) {
                                uint32_t k = e->scratch[f->aux + f->i / 2];
                                return &f->elems[2 * (size_t)k + (f->i++ & 1)];
                        }
                        e->sc_len = f->aux;
                        e->sp--;
                        break;
                case EF_LIST: {
                        const struct pk_term *s = f->elems;
                        if (s->type == PK_TERM_LIST) {
                                if (f->i < s->v.list.len)
                                        return &s->v.list.elems[f->i++];
                                s = s->v.list.tail;
                        } else { /* a STRING segment: its bytes are small integers */
                                if (f->i < s->v.string.len) {
                                        if (pk__w_int(e->b, s->v.string.bytes[f->i++]) < 0)
                                                return NULL;
                                        break;
                                }
                                s = &nil_term;
                        }
                        if (s->type == PK_TERM_LIST || s->type == PK_TERM_STRING) {
                                f->elems = s;
                                f->i = 0;
                                break;
                        }
                        e->sp--; /* the tail is encoded in the parent's place */
                        if (s->type == PK_TERM_NIL) {
                                if (pk__w_nil(e->b) < 0)
                                        return NULL;
                                break;
                        }
                        return s;
                }
                }
        }
        return NULL;
}

static int enc_run(struct enc *e, const struct pk_term *t)
{
        size_t base = e->sp;
        while (t) {
                const struct pk_term *tail = NULL;
                /* The commonest leaves skip w_one's big switch. */
                int r;
                if (t->type == PK_TERM_INT)
                        r = pk__w_int(e->b, t->v.i);
                else if (t->type == PK_TERM_TUPLE) {
                        r = pk__w_header(e->b, PK_TAG_SMALL_TUPLE, PK_TAG_LARGE_TUPLE,
                                         t->v.tuple.arity);
                        /* The first element goes next; a frame holds the rest. */
                        if (r == 0 && t->v.tuple.arity) {
                                tail = &t->v.tuple.elems[0];
                                if (t->v.tuple.arity > 1) {
                                        r = push(e, EF_SEQ, t->v.tuple.elems, t->v.tuple.arity, 0);
                                        e->st[e->sp - 1].i = 1;
                                }
                        }
                } else if (t->type == PK_TERM_BINARY && t->v.bin.bits == 8)
                        r = pk__w_bits(e->b, t->v.bin.data, t->v.bin.size, 8);
                else
                        r = w_one(e, t, &tail);
                if (r < 0)
                        return e->b->err;
                t = tail ? tail : next_term(e, base);
                if (e->b->err)
                        return e->b->err;
        }
        return 0;
}

static int encode_with(struct pk_etf_buf *b, int mv, bool sorted, const struct pk_term *t)
{
        /* Field by field: a designated initializer would zero local[] too. */
        struct enc e;
        e.b = b;
        e.mv = mv;
        e.sorted = sorted;
        e.st = e.local;
        e.sp = 0;
        e.cap = PK_ARRAY_SIZE(e.local);
        e.scratch = NULL;
        e.sc_len = 0;
        e.sc_cap = 0;
        e.ko = (struct pk__korder){0};
        int r = enc_run(&e, t);
        if (e.st != e.local)
                free(e.st);
        pk__korder_free(&e.ko);
        free(e.scratch);
        return r;
}

int pk_etf_put_term(struct pk_etf_buf *b, int minor_version, const struct pk_term *t)
{
        if (!t || minor_version < 0 || minor_version > 2)
                return pk__buf_fail(b, -EINVAL);
        if (b->err)
                return b->err;
        return encode_with(b, minor_version, false, t);
}

int pk_etf_encode(struct pk_etf_buf *out, const struct pk_term *t,
                  const struct pk_etf_encode_opts *opts)
{
        static const struct pk_etf_encode_opts defaults = PK_ETF_ENCODE_OPTS_INIT;
        if (!opts)
                opts = &defaults;
        if (!out || !t || opts->minor_version < 0 || opts->minor_version > 2 ||
            opts->compress_level < 0 || opts->compress_level > 9 ||
            (opts->map_order_otp != 0 && opts->map_order_otp != 25))
                return -EINVAL;
        if (out->err)
                return out->err;
        size_t start = out->len;
        int r = pk_etf_put_version(out);
        if (r == 0)
                r = encode_with(out, opts->minor_version, opts->deterministic != 0, t);
        if (r == 0 && opts->compress_level > 0)
                r = pk_etf_compress(out, start, opts->compress_level);
        if (r < 0) {
                out->len = start;
                out->err = 0;
        }
        return r;
}
