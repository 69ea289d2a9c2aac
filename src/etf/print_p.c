/* SPDX-License-Identifier: MIT */
/* Pretty-prints terms as io_lib:format("~p", [T]) does on OTP 25: the term
 * is first measured into an intermediate tree (io_lib_pretty's
 * print_length), then laid out with the same fit tests and indentation rules
 * (pp, cind).  Recursion follows term depth and is capped by max_depth. */
#include "text-internal.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_DEPTH PK_ETF_PRINT_DEFAULT_MAX_DEPTH

enum { N_LEAF, N_LIST, N_TUPLE, N_MAP, N_PAIR, N_BIN };

struct pnode {
        uint8_t kind;
        bool tagged;   /* N_TUPLE: an atom first and arity > 1 */
        bool improper; /* N_LIST: the last kid is the tail */
        long len;      /* characters */
        size_t off, n; /* N_LEAF, N_BIN: text bytes in the context's buffer */
        struct pnode *kids;
        uint32_t nkids;
};

struct pctx {
        pk_arena *a;
        struct pk__sbuf text; /* leaf texts */
        struct pk__sbuf *out;
        long ll, m;
        unsigned max_depth;
        int err;
};

static long chars_of(const char *s, size_t n)
{
        long c = 0;
        for (size_t i = 0; i < n; i++)
                if (((unsigned char)s[i] & 0xC0) != 0x80)
                        c++;
        return c;
}

static bool printable_latin1(uint64_t c)
{
        return (c >= 32 && c <= 126) || (c >= 160 && c <= 255) || c == '\n' || c == '\r' ||
               c == '\t' || c == '\v' || c == '\b' || c == '\f' || c == 27;
}

/* Is the list-like term a proper list of printable Latin-1 characters? */
static bool printable_list(const struct pk_term *t)
{
        for (;;) {
                if (t->type == PK_TERM_NIL)
                        return true;
                if (t->type == PK_TERM_STRING) {
                        for (uint32_t i = 0; i < t->v.string.len; i++)
                                if (!printable_latin1(t->v.string.bytes[i]))
                                        return false;
                        return true;
                }
                if (t->type != PK_TERM_LIST)
                        return false;
                for (uint32_t i = 0; i < t->v.list.len; i++) {
                        const struct pk_term *e = &t->v.list.elems[i];
                        if (e->type != PK_TERM_INT || e->v.i < 0 ||
                            !printable_latin1((uint64_t)e->v.i))
                                return false;
                }
                t = t->v.list.tail;
        }
}

static void leaf_begin(struct pctx *c, struct pnode *n)
{
        n->kind = N_LEAF;
        n->off = c->text.len;
}

static void leaf_end(struct pctx *c, struct pnode *n)
{
        n->n = c->text.len - n->off;
        n->len = chars_of(c->text.p ? c->text.p + n->off : "", n->n);
}

static void put_string_char(struct pctx *c, uint32_t ch)
{
        pk__txt_char_escaped(&c->text, ch, '"', true);
}

static int build(struct pctx *c, const struct pk_term *t, struct pnode *n, unsigned depth);

static int build_list(struct pctx *c, const struct pk_term *t, struct pnode *n, unsigned depth)
{
        /* Count cells and find the tail. */
        size_t cells = 0;
        const struct pk_term *x = t;
        for (;;) {
                if (x->type == PK_TERM_LIST) {
                        cells += x->v.list.len;
                        x = x->v.list.tail;
                } else if (x->type == PK_TERM_STRING) {
                        cells += x->v.string.len;
                        break;
                } else {
                        break;
                }
        }
        bool improper = x->type != PK_TERM_NIL && x->type != PK_TERM_STRING;
        size_t nk = cells + (improper ? 1 : 0);
        if (nk > UINT32_MAX)
                return PK_ETERMSIZE;
        struct pnode *k = pk_arena_alloc(c->a, nk * sizeof(*k));
        if (!k)
                return pk_arena_last_error(c->a);
        memset(k, 0, nk * sizeof(*k));
        n->kind = N_LIST;
        n->kids = k;
        n->nkids = (uint32_t)nk;
        n->improper = improper;
        size_t i = 0;
        x = t;
        int r;
        for (;;) {
                if (x->type == PK_TERM_LIST) {
                        for (uint32_t j = 0; j < x->v.list.len; j++)
                                if ((r = build(c, &x->v.list.elems[j], &k[i++], depth + 1)) < 0)
                                        return r;
                        x = x->v.list.tail;
                } else if (x->type == PK_TERM_STRING) {
                        for (uint32_t j = 0; j < x->v.string.len; j++) {
                                struct pk_term b;
                                pk_term_set_int(&b, x->v.string.bytes[j]);
                                if ((r = build(c, &b, &k[i++], depth + 1)) < 0)
                                        return r;
                        }
                        break;
                } else {
                        if (improper && (r = build(c, x, &k[i++], depth + 1)) < 0)
                                return r;
                        break;
                }
        }
        long len = 2;
        for (size_t j = 0; j < nk; j++)
                len += k[j].len + (j ? 1 : 0);
        n->len = len;
        return 0;
}

static int build(struct pctx *c, const struct pk_term *t, struct pnode *n, unsigned depth)
{
        if (depth > c->max_depth)
                return PK_EDEPTH;
        int r;
        switch (t->type) {
        case PK_TERM_NIL:
                leaf_begin(c, n);
                pk__sb_puts(&c->text, "[]");
                leaf_end(c, n);
                return c->text.err;
        case PK_TERM_STRING:
        case PK_TERM_LIST:
                if (printable_list(t)) {
                        leaf_begin(c, n);
                        pk__sb_putc(&c->text, '"');
                        const struct pk_term *x = t;
                        while (x->type == PK_TERM_LIST) {
                                for (uint32_t i = 0; i < x->v.list.len; i++)
                                        put_string_char(c, (uint32_t)x->v.list.elems[i].v.i);
                                x = x->v.list.tail;
                        }
                        if (x->type == PK_TERM_STRING)
                                pk__sb_latin1_escaped(&c->text, x->v.string.bytes, x->v.string.len,
                                                      '"');
                        pk__sb_putc(&c->text, '"');
                        leaf_end(c, n);
                        return c->text.err;
                }
                return build_list(c, t, n, depth);
        case PK_TERM_TUPLE: {
                uint32_t ar = t->v.tuple.arity;
                if (ar == 0) {
                        leaf_begin(c, n);
                        pk__sb_puts(&c->text, "{}");
                        leaf_end(c, n);
                        return c->text.err;
                }
                struct pnode *k = pk_arena_alloc(c->a, (size_t)ar * sizeof(*k));
                if (!k)
                        return pk_arena_last_error(c->a);
                memset(k, 0, (size_t)ar * sizeof(*k));
                long len = 2;
                for (uint32_t i = 0; i < ar; i++) {
                        if ((r = build(c, &t->v.tuple.elems[i], &k[i], depth + 1)) < 0)
                                return r;
                        len += k[i].len + (i ? 1 : 0);
                }
                n->kind = N_TUPLE;
                n->kids = k;
                n->nkids = ar;
                n->tagged = ar > 1 && t->v.tuple.elems[0].type == PK_TERM_ATOM;
                n->len = len;
                return 0;
        }
        case PK_TERM_MAP: {
                uint32_t ar = t->v.map.arity;
                if (ar == 0) {
                        leaf_begin(c, n);
                        pk__sb_puts(&c->text, "#{}");
                        leaf_end(c, n);
                        return c->text.err;
                }
                uint32_t *order = pk__map_order(t);
                struct pnode *k = pk_arena_alloc(c->a, (size_t)ar * 3 * sizeof(*k));
                if (!order || !k) {
                        free(order);
                        return order ? pk_arena_last_error(c->a) : -ENOMEM;
                }
                memset(k, 0, (size_t)ar * 3 * sizeof(*k));
                long len = 3;
                r = 0;
                for (uint32_t i = 0; i < ar && r == 0; i++) {
                        struct pnode *pair = &k[i], *kv = &k[ar + 2 * i];
                        uint32_t j = order[i];
                        if ((r = build(c, &t->v.map.pairs[2 * (size_t)j], &kv[0], depth + 1)) < 0)
                                break;
                        if ((r = build(c, &t->v.map.pairs[2 * j + 1], &kv[1], depth + 1)) < 0)
                                break;
                        pair->kind = N_PAIR;
                        pair->kids = kv;
                        pair->nkids = 2;
                        pair->len = kv[0].len + 4 + kv[1].len;
                        len += pair->len + (i ? 1 : 0);
                }
                free(order);
                if (r < 0)
                        return r;
                n->kind = N_MAP;
                n->kids = k;
                n->nkids = ar;
                n->len = len;
                return 0;
        }
        case PK_TERM_BINARY: {
                const uint8_t *d = t->v.bin.data;
                size_t sz = t->v.bin.size;
                bool printable = sz > 0 && t->v.bin.bits == 8;
                for (size_t i = 0; i < sz && printable; i++)
                        printable = printable_latin1(d[i]);
                leaf_begin(c, n);
                if (printable) {
                        pk__sb_puts(&c->text, "<<\"");
                        pk__sb_latin1_escaped(&c->text, d, sz, '"');
                        pk__sb_puts(&c->text, "\">>");
                } else {
                        if ((r = pk__txt_term(&c->text, t)) < 0)
                                return r;
                        if (sz > 0)
                                n->kind = N_BIN;
                }
                size_t off = n->off;
                uint8_t kind = n->kind;
                leaf_end(c, n);
                n->kind = kind;
                n->off = off;
                return c->text.err;
        }
        default:
                leaf_begin(c, n);
                if ((r = pk__txt_term(&c->text, t)) < 0)
                        return r;
                leaf_end(c, n);
                return c->text.err;
        }
}

/* ---- output ---- */

static const char *text_of(const struct pctx *c, const struct pnode *n)
{
        return c->text.p + n->off;
}

static void out_text(struct pctx *c, const struct pnode *n)
{
        pk__sb_put(c->out, text_of(c, n), n->n);
}

static void out_nl_ind(struct pctx *c, long ind)
{
        pk__sb_putc(c->out, '\n');
        pk__sb_spaces(c->out, ind > 0 ? (size_t)ind : 0);
}

/* The whole node on one line (io_lib_pretty:write/1). */
static void write_node(struct pctx *c, const struct pnode *n)
{
        switch (n->kind) {
        case N_LEAF:
        case N_BIN:
                out_text(c, n);
                return;
        case N_TUPLE:
        case N_LIST:
                pk__sb_putc(c->out, n->kind == N_TUPLE ? '{' : '[');
                for (uint32_t i = 0; i < n->nkids; i++) {
                        if (i)
                                pk__sb_putc(c->out, n->improper && i == n->nkids - 1 ? '|' : ',');
                        write_node(c, &n->kids[i]);
                }
                pk__sb_putc(c->out, n->kind == N_TUPLE ? '}' : ']');
                return;
        case N_MAP:
                pk__sb_puts(c->out, "#{");
                for (uint32_t i = 0; i < n->nkids; i++) {
                        if (i)
                                pk__sb_putc(c->out, ',');
                        write_node(c, &n->kids[i]);
                }
                pk__sb_putc(c->out, '}');
                return;
        case N_PAIR:
                write_node(c, &n->kids[0]);
                pk__sb_puts(c->out, " => ");
                write_node(c, &n->kids[1]);
                return;
        default:
                return;
        }
}

static bool atm(const struct pnode *n)
{
        return n->kind == N_LEAF;
}

static bool atm_pair(const struct pnode *p)
{
        return atm(&p->kids[0]) && atm(&p->kids[1]);
}

static bool fits(const struct pctx *c, const struct pnode *n, long col, long ld, long w)
{
        return n->len < c->ll - col - ld && n->len + w + ld <= c->m;
}

/* A list node's proper elements are kids[0..proper); the rest is its tail. */
static uint32_t proper_count(const struct pnode *n)
{
        return n->kind == N_LIST && n->improper ? n->nkids - 1 : n->nkids;
}

static long last_depth(bool more, long ld)
{
        return more ? 0 : ld + 1;
}

/* Tail fit test shared by pp_tail, pp_pairs_tail and their cind twins. */
static bool tail_fits(const struct pctx *c, long elen, long col, long ld1, long w, bool atomic)
{
        if (!atomic)
                return false;
        if (ld1 == 0)
                return elen + 1 < c->ll - col && w + elen + 1 <= c->m;
        return elen < c->ll - col - ld1 && w + elen + ld1 <= c->m;
}

/* ---- cind: can a tagged-tuple indentation be used?  false = no_good ---- */

static bool cind(struct pctx *c, const struct pnode *n, long col, long ind, long ld, long w);

static bool cind_element(struct pctx *c, const struct pnode *e, long col, long ind, long ld, long w,
                         long *ret)
{
        if (fits(c, e, col, ld, w) && atm(e)) {
                *ret = e->len;
                return true;
        }
        *ret = c->ll;
        return cind(c, e, col, ind, ld, w);
}

/* cind_list from element i (i < proper) onwards, then the tail. */
static bool cind_list(struct pctx *c, const struct pnode *n, uint32_t i, long col0, long ind,
                      long ld, long w)
{
        uint32_t np = proper_count(n);
        if (i >= np)
                return true;
        long we;
        if (!cind_element(c, &n->kids[i], col0, ind, last_depth(i + 1 < np, ld), w, &we))
                return false;
        long col = col0 + we;
        w += we;
        for (i++; i < np; i++) {
                const struct pnode *e = &n->kids[i];
                long ld1 = last_depth(i + 1 < np, ld);
                long elen = 1 + e->len;
                if (tail_fits(c, elen, col, ld1, w, atm(e))) {
                        col += elen;
                        w += elen;
                } else {
                        if (!cind_element(c, e, col0, ind, ld1, 0, &we))
                                return false;
                        col = col0 + we;
                        w = we;
                }
        }
        if (np < n->nkids) {
                const struct pnode *e = &n->kids[np];
                if (e->len + 1 < c->ll - col - (ld + 1) && e->len + 1 + w + (ld + 1) <= c->m &&
                    atm(e))
                        return true;
                return cind(c, e, col, ind, ld + 1, 0);
        }
        return true;
}

static long map_value_indent(long tind)
{
        return tind > 0 ? tind : 4;
}

static bool cind_pair(struct pctx *c, const struct pnode *p, long col, long ind, long ld, long w,
                      long *ret)
{
        if (fits(c, p, col, ld, w)) {
                *ret = atm_pair(p) ? p->len : c->ll;
                return true;
        }
        *ret = c->ll;
        if (!cind(c, &p->kids[0], col, ind, ld, w))
                return false;
        return cind(c, &p->kids[1], col + map_value_indent(ind), ind, ld, 0);
}

static bool cind_map(struct pctx *c, const struct pnode *n, long col0, long ind, long ld, long w)
{
        long pw;
        uint32_t np = n->nkids;
        if (!cind_pair(c, &n->kids[0], col0, ind, last_depth(np > 1, ld), w, &pw))
                return false;
        long col = col0 + pw;
        w += pw;
        for (uint32_t i = 1; i < np; i++) {
                const struct pnode *p = &n->kids[i];
                long ld1 = last_depth(i + 1 < np, ld);
                long elen = 1 + p->len;
                if (tail_fits(c, elen, col, ld1, w, atm_pair(p))) {
                        col += elen;
                        w += elen;
                } else {
                        if (!cind_pair(c, p, col0, ind, ld1, 0, &pw))
                                return false;
                        col = col0 + pw;
                        w = pw;
                }
        }
        return true;
}

static bool cind(struct pctx *c, const struct pnode *n, long col, long ind, long ld, long w)
{
        if (fits(c, n, col, ld, w))
                return true;
        switch (n->kind) {
        case N_LIST:
                return cind_list(c, n, 0, col + 1, ind, ld, w + 1);
        case N_TUPLE:
                if (n->tagged) {
                        long tlen = n->kids[0].len;
                        long tagind = tlen + 2, tcol = col + tagind;
                        w += 1;
                        if (ind > 0 && tagind > ind) {
                                long col1 = col + ind;
                                if (!(c->m + col1 <= c->ll || col1 <= c->ll / 2))
                                        return false;
                                /* cind_tail(L, Col1, Tcol, ...): the rest
                                 * continues on the tag's line. */
                                long colx = tcol, wx = w + tlen;
                                for (uint32_t i = 1; i < n->nkids; i++) {
                                        const struct pnode *e = &n->kids[i];
                                        long ld1 = last_depth(i + 1 < n->nkids, ld);
                                        long elen = 1 + e->len;
                                        if (tail_fits(c, elen, colx, ld1, wx, atm(e))) {
                                                colx += elen;
                                                wx += elen;
                                        } else {
                                                long we;
                                                if (!cind_element(c, e, col1, ind, ld1, 0, &we))
                                                        return false;
                                                colx = col1 + we;
                                                wx = we;
                                        }
                                }
                                return true;
                        }
                        if (c->m + tcol < c->ll || tcol < c->ll / 2)
                                return cind_list(c, n, 1, tcol, ind, ld, w + tlen + 1);
                        return false;
                }
                return cind_list(c, n, 0, col + 1, ind, ld, w + 1);
        case N_MAP:
                return cind_map(c, n, col + 2, ind, ld, w + 2);
        default:
                return true;
        }
}

/* ---- pp ---- */

static int pp(struct pctx *c, const struct pnode *n, long col, long tind, long ind, long ld,
              long w);

static int pp_element(struct pctx *c, const struct pnode *e, long col, long tind, long ind, long ld,
                      long w, long *ret)
{
        if (fits(c, e, col, ld, w) && atm(e)) {
                write_node(c, e);
                *ret = e->len;
                return 0;
        }
        *ret = c->ll;
        return pp(c, e, col, tind, ind, ld, w);
}

/* pp_tail over kids[i..] of a list or tuple node, continuing at col. */
static int pp_tail(struct pctx *c, const struct pnode *n, uint32_t i, long col0, long col,
                   long tind, long ind, long ld, char sep, long w)
{
        uint32_t np = proper_count(n);
        int r;
        for (; i < np; i++) {
                const struct pnode *e = &n->kids[i];
                long ld1 = last_depth(i + 1 < np, ld);
                long elen = 1 + e->len;
                if (tail_fits(c, elen, col, ld1, w, atm(e))) {
                        pk__sb_putc(c->out, ',');
                        write_node(c, e);
                        col += elen;
                        w += elen;
                } else {
                        long we;
                        pk__sb_putc(c->out, ',');
                        out_nl_ind(c, ind);
                        if ((r = pp_element(c, e, col0, tind, ind, ld1, 0, &we)) < 0)
                                return r;
                        col = col0 + we;
                        w = we;
                }
        }
        if (np < n->nkids) {
                const struct pnode *e = &n->kids[np];
                pk__sb_putc(c->out, sep);
                if (e->len + 1 < c->ll - col - (ld + 1) && e->len + 1 + w + (ld + 1) <= c->m &&
                    atm(e)) {
                        write_node(c, e);
                        return 0;
                }
                out_nl_ind(c, ind);
                return pp(c, e, col0, tind, ind, ld + 1, 0);
        }
        return 0;
}

static int pp_list(struct pctx *c, const struct pnode *n, uint32_t first, long col0, long tind,
                   long ind, long ld, char sep, long w)
{
        uint32_t np = proper_count(n);
        long we;
        int r =
            pp_element(c, &n->kids[first], col0, tind, ind, last_depth(first + 1 < np, ld), w, &we);
        if (r < 0)
                return r;
        return pp_tail(c, n, first + 1, col0, col0 + we, tind, ind, ld, sep, w + we);
}

static int pp_pair(struct pctx *c, const struct pnode *p, long col0, long tind, long ind0, long ld,
                   long w, long *ret)
{
        if (fits(c, p, col0, ld, w)) {
                write_node(c, p);
                *ret = atm_pair(p) ? p->len : c->ll;
                return 0;
        }
        long i = map_value_indent(tind);
        int r = pp(c, &p->kids[0], col0, tind, ind0, ld, w);
        if (r < 0)
                return r;
        pk__sb_puts(c->out, " =>");
        out_nl_ind(c, ind0 + i);
        *ret = c->ll;
        return pp(c, &p->kids[1], col0 + i, tind, ind0 + i, ld, 0);
}

static int pp_map(struct pctx *c, const struct pnode *n, long col0, long tind, long ind, long ld,
                  long w)
{
        uint32_t np = n->nkids;
        long pw;
        int r = pp_pair(c, &n->kids[0], col0, tind, ind, last_depth(np > 1, ld), w, &pw);
        if (r < 0)
                return r;
        long col = col0 + pw;
        w = pw;
        for (uint32_t i = 1; i < np; i++) {
                const struct pnode *p = &n->kids[i];
                long ld1 = last_depth(i + 1 < np, ld);
                long elen = 1 + p->len;
                if (tail_fits(c, elen, col, ld1, w, atm_pair(p))) {
                        pk__sb_putc(c->out, ',');
                        write_node(c, p);
                        col += elen;
                        w += elen;
                } else {
                        pk__sb_putc(c->out, ',');
                        out_nl_ind(c, ind);
                        if ((r = pp_pair(c, p, col0, tind, ind, ld1, 0, &pw)) < 0)
                                return r;
                        col = col0 + pw;
                        w = pw;
                }
        }
        return 0;
}

/* Breaks "<<1,2,3>>" at commas to fit width n (io_lib_pretty:pp_binary). */
static void pp_binary(struct pctx *c, const struct pnode *b, long col, long ind, long ld, long w)
{
        long lim = c->ll - col < c->m - 4 - w ? c->ll - col : c->m - 4 - w;
        long n0 = lim - ld > 8 ? lim - ld : 8;
        long n = n0;
        const char *s = text_of(c, b) + 2;
        const char *end = text_of(c, b) + b->n - 2;
        pk__sb_puts(c->out, "<<");
        /* Text between line breaks is copied in one piece, not per number. */
        const char *run = s;
        while (s < end) {
                const char *comma = memchr(s, ',', (size_t)(end - s));
                if (!comma) {
                        long len = (long)(end - s);
                        if (len > n) {
                                pk__sb_put(c->out, run, (size_t)(s - run));
                                out_nl_ind(c, ind);
                                run = s;
                        }
                        s = end;
                        break;
                }
                long len = (long)(comma - s) + 1;
                if (n - len < 0) {
                        pk__sb_put(c->out, run, (size_t)(s - run));
                        out_nl_ind(c, ind);
                        run = s;
                        n = n0 - len;
                } else {
                        n -= len;
                }
                s = comma + 1;
        }
        pk__sb_put(c->out, run, (size_t)(s - run));
        pk__sb_puts(c->out, ">>");
}

static int pp(struct pctx *c, const struct pnode *n, long col, long tind, long ind, long ld, long w)
{
        if (fits(c, n, col, ld, w)) {
                write_node(c, n);
                return 0;
        }
        int r = 0;
        switch (n->kind) {
        case N_LIST:
                pk__sb_putc(c->out, '[');
                r = pp_list(c, n, 0, col + 1, tind, ind + 1, ld, '|', w + 1);
                pk__sb_putc(c->out, ']');
                break;
        case N_TUPLE:
                pk__sb_putc(c->out, '{');
                if (n->tagged) {
                        const struct pnode *tag = &n->kids[0];
                        long tlen = tag->len, tagind = tlen + 2, tcol = col + tagind;
                        w += 1;
                        if (tind > 0 && tagind > tind) {
                                write_node(c, tag);
                                r = pp_tail(c, n, 1, col + tind, tcol, tind, ind + tind, ld, ',',
                                            w + tlen);
                        } else {
                                write_node(c, tag);
                                pk__sb_putc(c->out, ',');
                                r = pp_list(c, n, 1, tcol, tind, ind + tagind, ld, ',',
                                            w + tlen + 1);
                        }
                } else {
                        r = pp_list(c, n, 0, col + 1, tind, ind + 1, ld, ',', w + 1);
                }
                pk__sb_putc(c->out, '}');
                break;
        case N_MAP:
                pk__sb_puts(c->out, "#{");
                r = pp_map(c, n, col + 2, tind, ind + 2, ld, w + 1);
                pk__sb_putc(c->out, '}');
                break;
        case N_BIN:
                pp_binary(c, n, col + 2, ind + 2, ld, w);
                break;
        default:
                write_node(c, n);
                break;
        }
        return r;
}

int pk_etf_print_p(const struct pk_term *t, const struct pk_etf_print_opts *opts, char **ret_str,
                   size_t *ret_len)
{
        if (!t || !ret_str)
                return -EINVAL;
        size_t max_len = opts ? opts->max_len : 0;
        struct pk__sbuf out = {.max = max_len};
        struct pctx c = {
            .text = {.max = max_len}, /* every leaf's text is part of the output */
            .out = &out,
            .ll = opts && opts->line_length ? (long)opts->line_length : 80,
            .max_depth = opts && opts->max_depth ? opts->max_depth : DEFAULT_MAX_DEPTH,
        };
        long col = opts && opts->column ? (long)opts->column : 1;
        int r;
        if (t->type == PK_TERM_ATOM ||
            !(t->type == PK_TERM_TUPLE || t->type == PK_TERM_LIST || t->type == PK_TERM_STRING ||
              t->type == PK_TERM_NIL || t->type == PK_TERM_MAP || t->type == PK_TERM_BINARY)) {
                r = pk__txt_term(&out, t);
                goto done;
        }
        /* Each node prints as at least one byte, so under a cap the layout
         * tree is bounded too (a map pair takes three nodes). */
        size_t node_cap = max_len && max_len < SIZE_MAX / (4 * sizeof(struct pnode))
                              ? max_len * 4 * sizeof(struct pnode)
                              : 0;
        c.a = pk_arena_new(node_cap);
        if (!c.a) {
                r = -ENOMEM;
                goto done;
        }
        struct pnode root = {0};
        r = build(&c, t, &root, 0);
        if (r == 0)
                r = c.text.err;
        if (r == 0) {
                c.m = root.len;
                if (root.len < c.ll - col) {
                        write_node(&c, &root);
                } else {
                        long tind = 1;
                        if (cind(&c, &root, col, -1, 0, 0))
                                tind = -1;
                        else if (cind(&c, &root, col, 4, 0, 0))
                                tind = 4;
                        r = pp(&c, &root, col, tind, col - 1, 0, 0);
                }
        }
        pk__sb_free(&c.text);
        pk_arena_free(c.a);
done:
        if (r == 0 && !out.p)
                pk__sb_put(&out, "", 0);
        if (r == 0)
                r = out.err;
        if (r < 0) {
                pk__sb_free(&out);
                return r;
        }
        *ret_str = out.p;
        if (ret_len)
                *ret_len = out.len;
        return 0;
}
