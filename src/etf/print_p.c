/* SPDX-License-Identifier: MIT */
/* Pretty-prints terms as io_lib:format("~p", [T]) does on OTP 25: the term
 * is first measured into an intermediate tree (io_lib_pretty's
 * print_length), then laid out with the same fit tests and indentation rules
 * (pp, cind).  Every walk (build, write, cind, pp) keeps its own stack on
 * the heap, so term depth, capped by max_depth, never becomes C stack depth.
 * A list's consecutive leaves whose text has no comma (numbers, most atoms,
 * []) share one node, a run, whose text is theirs joined by commas; the
 * layout walks a run's elements by their commas, so a long list costs its
 * text and not a node per element. */
#include "text-internal.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_DEPTH PK_ETF_PRINT_DEFAULT_MAX_DEPTH

enum { N_LEAF, N_LIST, N_TUPLE, N_MAP, N_PAIR, N_BIN, N_RUN };

struct pnode {
        uint8_t kind;
        bool tagged;   /* N_TUPLE: an atom first and arity > 1 */
        bool improper; /* N_LIST: the last kid is the tail */
        long len;      /* characters */
        size_t off, n; /* N_LEAF, N_BIN, N_RUN: text bytes in the context's buffer */
        struct pnode *kids;
        uint32_t nkids;
};

struct pctx {
        pk_arena *a;
        struct pk__sbuf text; /* leaf texts */
        struct pk__sbuf *out;
        long ll, m;
        unsigned max_depth;
        struct pk__korder ko; /* key orders of the maps sorted so far */
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

/* Grows a stack of elem-sized slots by one; returns the new slot or NULL. */
static void *stack_push(void **arr, size_t *n, size_t *cap, size_t elem)
{
        if (*n == *cap) {
                size_t nc = *cap ? *cap * 2 : 32;
                void *p = realloc(*arr, nc * elem);
                if (!p)
                        return NULL;
                *arr = p;
                *cap = nc;
        }
        return (char *)*arr + (*n)++ * elem;
}

/* ---- build: the term measured into a node tree, without recursion ---- */

/* A container whose kids are being built. */
struct bframe {
        const struct pk_term *t;
        struct pnode *n;
        const struct pk_term *cur; /* lists: the cells being walked (NULL: done) */
        uint32_t i;                /* index in cur, the tuple, or the map's kids */
        uint32_t k;                /* lists: next kid */
        uint32_t *order;           /* maps: pair order (owned) */
        struct pnode *run;         /* lists: the run the last kid joined, or NULL */
        unsigned depth;
};

/* Whether a list element's ~p text is a leaf with no comma, so it can share a
 * run: integers, floats, [] and atoms whose name has no comma (quoting adds
 * none). */
static bool run_leaf(const struct pk_term *t)
{
        switch (t->type) {
        case PK_TERM_INT:
        case PK_TERM_BIG:
        case PK_TERM_FLOAT:
        case PK_TERM_NIL:
                return true;
        case PK_TERM_ATOM:
                return !memchr(t->v.atom.name, ',', t->v.atom.len);
        default:
                return false;
        }
}

/* Builds a leaf into *n (returns 0), or sets up the container's node and
 * frame *f (returns 1); or an error. */
static int build_start(struct pctx *c, const struct pk_term *t, struct pnode *n, unsigned depth,
                       struct bframe *f)
{
        if (depth > c->max_depth)
                return PK_EDEPTH;
        int r;
        *f = (struct bframe){.t = t, .n = n, .depth = depth};
        switch (t->type) {
        case PK_TERM_NIL:
                leaf_begin(c, n);
                pk__sb_puts(&c->text, "[]");
                leaf_end(c, n);
                return c->text.err;
        case PK_TERM_STRING:
        case PK_TERM_LIST: {
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
                /* Count the kids (each run of leaves is one) and find the tail. */
                size_t kids = 0;
                bool in_run = false;
                const struct pk_term *x = t;
                for (;;) {
                        if (x->type == PK_TERM_LIST) {
                                for (uint32_t i = 0; i < x->v.list.len; i++) {
                                        bool leaf = run_leaf(&x->v.list.elems[i]);
                                        kids += !(leaf && in_run);
                                        in_run = leaf;
                                }
                                x = x->v.list.tail;
                        } else {
                                /* A byte list's cells are integers. */
                                if (x->type == PK_TERM_STRING)
                                        kids += !in_run;
                                break;
                        }
                }
                bool improper = x->type != PK_TERM_NIL && x->type != PK_TERM_STRING;
                size_t nk = kids + (improper ? 1 : 0);
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
                f->cur = t;
                return 1;
        }
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
                n->kind = N_TUPLE;
                n->kids = k;
                n->nkids = ar;
                n->tagged = ar > 1 && t->v.tuple.elems[0].type == PK_TERM_ATOM;
                return 1;
        }
        case PK_TERM_MAP: {
                uint32_t ar = t->v.map.arity;
                if (ar == 0) {
                        leaf_begin(c, n);
                        pk__sb_puts(&c->text, "#{}");
                        leaf_end(c, n);
                        return c->text.err;
                }
                uint32_t *order = pk__map_order(t, &c->ko);
                struct pnode *k = pk_arena_alloc(c->a, (size_t)ar * 3 * sizeof(*k));
                if (!order || !k) {
                        free(order);
                        return order ? pk_arena_last_error(c->a) : -ENOMEM;
                }
                memset(k, 0, (size_t)ar * 3 * sizeof(*k));
                n->kind = N_MAP;
                n->kids = k;
                n->nkids = ar;
                f->order = order;
                return 1;
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

/* The node a list element goes to: a fresh kid, or (*join set) f's current
 * run when both are run leaves. */
static struct pnode *list_kid(struct bframe *f, const struct pk_term *e, bool *join)
{
        bool leaf = run_leaf(e);
        *join = leaf && f->run;
        if (*join)
                return f->run;
        struct pnode *k = &f->n->kids[f->k++];
        f->run = leaf ? k : NULL;
        return k;
}

/* The next kid of f's container to build: its term (a STRING's byte goes to
 * *scratch) and node; NULL when every kid is built.  *join is set when the
 * term is the next element of the run *kid (lists only). */
static const struct pk_term *build_next(struct bframe *f, struct pk_term *scratch,
                                        struct pnode **kid, bool *join)
{
        *join = false;
        const struct pk_term *t = f->t;
        switch (t->type) {
        case PK_TERM_TUPLE:
                if (f->i == t->v.tuple.arity)
                        return NULL;
                *kid = &f->n->kids[f->i];
                return &t->v.tuple.elems[f->i++];
        case PK_TERM_MAP: {
                uint32_t ar = t->v.map.arity;
                if (f->i == 2 * ar || !f->order) /* build_start set order for every map */
                        return NULL;
                uint32_t pair = f->i / 2, side = f->i % 2;
                f->i++;
                *kid = &f->n->kids[ar + 2 * pair + side];
                return &t->v.map.pairs[2 * (size_t)f->order[pair] + side];
        }
        default:
                break;
        }
        for (;;) {
                const struct pk_term *x = f->cur;
                if (!x)
                        return NULL;
                if (x->type == PK_TERM_LIST) {
                        if (f->i < x->v.list.len) {
                                const struct pk_term *e = &x->v.list.elems[f->i++];
                                *kid = list_kid(f, e, join);
                                return e;
                        }
                        f->cur = x->v.list.tail;
                        f->i = 0;
                } else if (x->type == PK_TERM_STRING) {
                        if (f->i < x->v.string.len) {
                                pk_term_set_int(scratch, x->v.string.bytes[f->i++]);
                                *kid = list_kid(f, scratch, join);
                                return scratch;
                        }
                        f->cur = NULL;
                } else if (x->type == PK_TERM_NIL) {
                        f->cur = NULL;
                } else {
                        f->cur = NULL; /* an improper tail: the last kid, never in a run */
                        *kid = &f->n->kids[f->k++];
                        return x;
                }
        }
}

/* Sums the kids' lengths into the node once they are built. */
static void build_finish(struct bframe *f)
{
        struct pnode *n = f->n;
        if (n->kind == N_MAP) {
                uint32_t ar = n->nkids;
                long len = 3;
                for (uint32_t i = 0; i < ar; i++) {
                        struct pnode *pair = &n->kids[i], *kv = &n->kids[ar + 2 * i];
                        pair->kind = N_PAIR;
                        pair->kids = kv;
                        pair->nkids = 2;
                        pair->len = kv[0].len + 4 + kv[1].len;
                        len += pair->len + (i ? 1 : 0);
                }
                n->len = len;
                free(f->order);
                f->order = NULL;
                return;
        }
        long len = 2;
        for (uint32_t j = 0; j < n->nkids; j++)
                len += n->kids[j].len + (j ? 1 : 0);
        n->len = len;
}

static int build(struct pctx *c, const struct pk_term *root, struct pnode *rn)
{
        struct bframe *st = NULL, f;
        size_t n = 0, cap = 0;
        int r = build_start(c, root, rn, 0, &f);
        if (r <= 0)
                return r;
        struct bframe *slot = stack_push((void **)&st, &n, &cap, sizeof(*st));
        if (!slot) {
                free(f.order);
                return -ENOMEM;
        }
        *slot = f;
        while (n > 0) {
                struct bframe *top = &st[n - 1];
                struct pk_term scratch;
                struct pnode *kid;
                bool join;
                const struct pk_term *t = build_next(top, &scratch, &kid, &join);
                if (!t) {
                        build_finish(top);
                        n--;
                        continue;
                }
                if (join)
                        pk__sb_putc(&c->text, ',');
                struct pnode leaf;
                bool in_run = top->run == kid;
                r = build_start(c, t, in_run ? &leaf : kid, top->depth + 1, &f);
                if (r < 0)
                        goto fail;
                if (in_run) {
                        /* A run leaf: its text follows the run's (and the
                         * comma), nothing having been written since. */
                        if (!join) {
                                *kid = leaf;
                                kid->kind = N_RUN;
                        } else {
                                kid->len += 1 + leaf.len;
                        }
                        kid->n = c->text.len - kid->off;
                        continue;
                }
                if (r == 0)
                        continue;
                slot = stack_push((void **)&st, &n, &cap, sizeof(*st));
                if (!slot) {
                        free(f.order);
                        r = -ENOMEM;
                        goto fail;
                }
                *slot = f;
        }
        free(st);
        return 0;
fail:
        for (size_t i = 0; i < n; i++)
                free(st[i].order);
        free(st);
        return r;
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

/* The whole node on one line (io_lib_pretty:write/1), with a stack of
 * (node, next kid) instead of recursion. */
struct wstep {
        const struct pnode *n;
        uint32_t i;
};

static void write_open(struct pctx *c, const struct pnode *n)
{
        if (n->kind == N_TUPLE)
                pk__sb_putc(c->out, '{');
        else if (n->kind == N_LIST)
                pk__sb_putc(c->out, '[');
        else if (n->kind == N_MAP)
                pk__sb_puts(c->out, "#{");
}

/* Nodes written as they are: their text is all of them. */
static bool flat(const struct pnode *n)
{
        return n->kind == N_LEAF || n->kind == N_BIN || n->kind == N_RUN;
}

static void write_node(struct pctx *c, const struct pnode *root)
{
        if (flat(root)) {
                out_text(c, root);
                return;
        }
        struct wstep *st = NULL;
        size_t n = 0, cap = 0;
        struct wstep *s = stack_push((void **)&st, &n, &cap, sizeof(*st));
        if (!s)
                goto oom;
        *s = (struct wstep){.n = root};
        write_open(c, root);
        while (n > 0) {
                struct wstep *top = &st[n - 1];
                const struct pnode *nd = top->n;
                if (top->i == nd->nkids) {
                        if (nd->kind == N_TUPLE)
                                pk__sb_putc(c->out, '}');
                        else if (nd->kind == N_LIST)
                                pk__sb_putc(c->out, ']');
                        else if (nd->kind == N_MAP)
                                pk__sb_putc(c->out, '}');
                        n--;
                        continue;
                }
                uint32_t i = top->i++;
                if (nd->kind == N_PAIR) {
                        if (i)
                                pk__sb_puts(c->out, " => ");
                } else if (i) {
                        pk__sb_putc(c->out, nd->improper && i == nd->nkids - 1 ? '|' : ',');
                }
                const struct pnode *kid = &nd->kids[i];
                if (flat(kid)) {
                        out_text(c, kid);
                        continue;
                }
                if (!(s = stack_push((void **)&st, &n, &cap, sizeof(*st))))
                        goto oom;
                *s = (struct wstep){.n = kid};
                write_open(c, kid);
        }
        free(st);
        return;
oom:
        free(st);
        if (!c->out->err)
                c->out->err = -ENOMEM;
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

/* A list node's proper elements are in kids[0..proper); the rest is its tail. */
static uint32_t proper_count(const struct pnode *n)
{
        return n->kind == N_LIST && n->improper ? n->nkids - 1 : n->nkids;
}

/* An element of a list or tuple node: kid k, or, when that is a run, its
 * element at byte offset o of the run's text. */
struct ecur {
        uint32_t k;
        size_t o;
};

/* The element at cur (a kid, or for a run element a leaf node in *view) and
 * the cursor of the one after it in *next. */
static const struct pnode *elem_at(const struct pctx *c, const struct pnode *n, struct ecur cur,
                                   struct pnode *view, struct ecur *next)
{
        const struct pnode *kid = &n->kids[cur.k];
        *next = (struct ecur){cur.k + 1, 0};
        if (kid->kind != N_RUN)
                return kid;
        /* Elements are short: one pass finds the comma and counts characters. */
        const char *p = text_of(c, kid) + cur.o, *q = p, *end = p + (kid->n - cur.o);
        long chars = 0;
        for (; q < end && *q != ','; q++)
                chars += ((unsigned char)*q & 0xC0) != 0x80;
        size_t len = (size_t)(q - p);
        if (q < end)
                *next = (struct ecur){cur.k, cur.o + len + 1};
        *view = (struct pnode){.kind = N_LEAF, .off = kid->off + cur.o, .n = len, .len = chars};
        return view;
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

/* ---- cind: can a tagged-tuple indentation be used?  false = no_good ----
 *
 * io_lib_pretty's cind is a conjunction of checks on subterms whose
 * positions depend only on the lengths measured by build, never on another
 * check's outcome; so the checks are kept on a stack and run in any order,
 * the first failure deciding. */

struct ccheck {
        const struct pnode *n;
        long col, ind, ld, w;
};

struct cstack {
        struct ccheck *p;
        size_t n, cap;
        bool oom;
};

static void cpush(struct cstack *s, const struct pnode *n, long col, long ind, long ld, long w)
{
        struct ccheck *k = stack_push((void **)&s->p, &s->n, &s->cap, sizeof(*k));
        if (!k) {
                s->oom = true;
                return;
        }
        *k = (struct ccheck){.n = n, .col = col, .ind = ind, .ld = ld, .w = w};
}

/* cind_element: the element's width on its line; queues its own check
 * unless it is an atomic node (whose check always passes: e may be a run
 * element's view, which must not be queued). */
static long cind_element(const struct pctx *c, struct cstack *s, const struct pnode *e, long col,
                         long ind, long ld, long w)
{
        bool fit = fits(c, e, col, ld, w);
        if (atm(e))
                return fit ? e->len : c->ll;
        cpush(s, e, col, ind, ld, w);
        return c->ll;
}

/* cind_list from element cur onwards, then the tail. */
static void cind_list(const struct pctx *c, struct cstack *s, const struct pnode *n,
                      struct ecur cur, long col0, long ind, long ld, long w)
{
        uint32_t np = proper_count(n);
        if (cur.k >= np)
                return;
        struct pnode view;
        struct ecur next;
        const struct pnode *e = elem_at(c, n, cur, &view, &next);
        long we = cind_element(c, s, e, col0, ind, last_depth(next.k < np, ld), w);
        long col = col0 + we;
        w += we;
        for (cur = next; cur.k < np; cur = next) {
                e = elem_at(c, n, cur, &view, &next);
                long ld1 = last_depth(next.k < np, ld);
                long elen = 1 + e->len;
                if (tail_fits(c, elen, col, ld1, w, atm(e))) {
                        col += elen;
                        w += elen;
                } else {
                        we = cind_element(c, s, e, col0, ind, ld1, 0);
                        col = col0 + we;
                        w = we;
                }
        }
        if (np < n->nkids) {
                const struct pnode *tail = &n->kids[np];
                if (tail->len + 1 < c->ll - col - (ld + 1) &&
                    tail->len + 1 + w + (ld + 1) <= c->m && atm(tail))
                        return;
                cpush(s, tail, col, ind, ld + 1, 0);
        }
}

static long map_value_indent(long tind)
{
        return tind > 0 ? tind : 4;
}

static long cind_pair(const struct pctx *c, struct cstack *s, const struct pnode *p, long col,
                      long ind, long ld, long w)
{
        if (fits(c, p, col, ld, w))
                return atm_pair(p) ? p->len : c->ll;
        cpush(s, &p->kids[0], col, ind, ld, w);
        cpush(s, &p->kids[1], col + map_value_indent(ind), ind, ld, 0);
        return c->ll;
}

static void cind_map(const struct pctx *c, struct cstack *s, const struct pnode *n, long col0,
                     long ind, long ld, long w)
{
        uint32_t np = n->nkids;
        long pw = cind_pair(c, s, &n->kids[0], col0, ind, last_depth(np > 1, ld), w);
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
                        pw = cind_pair(c, s, p, col0, ind, ld1, 0);
                        col = col0 + pw;
                        w = pw;
                }
        }
}

/* One check: false when it fails by itself; its subterms' checks are queued. */
static bool cind_one(const struct pctx *c, struct cstack *s, const struct ccheck *k)
{
        const struct pnode *n = k->n;
        long col = k->col, ind = k->ind, ld = k->ld, w = k->w;
        if (fits(c, n, col, ld, w))
                return true;
        switch (n->kind) {
        case N_LIST:
                cind_list(c, s, n, (struct ecur){0, 0}, col + 1, ind, ld, w + 1);
                return true;
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
                                                long we = cind_element(c, s, e, col1, ind, ld1, 0);
                                                colx = col1 + we;
                                                wx = we;
                                        }
                                }
                                return true;
                        }
                        if (c->m + tcol < c->ll || tcol < c->ll / 2) {
                                cind_list(c, s, n, (struct ecur){1, 0}, tcol, ind, ld,
                                          w + tlen + 1);
                                return true;
                        }
                        return false;
                }
                cind_list(c, s, n, (struct ecur){0, 0}, col + 1, ind, ld, w + 1);
                return true;
        case N_MAP:
                cind_map(c, s, n, col + 2, ind, ld, w + 2);
                return true;
        default:
                return true;
        }
}

static bool cind(struct pctx *c, const struct pnode *n, long col, long ind, long ld, long w)
{
        struct cstack s = {0};
        bool ok = true;
        cpush(&s, n, col, ind, ld, w);
        while (ok && s.n > 0 && !s.oom) {
                struct ccheck k = s.p[--s.n];
                ok = cind_one(c, &s, &k);
        }
        if (s.oom) {
                ok = false;
                if (!c->out->err)
                        c->out->err = -ENOMEM;
        }
        free(s.p);
        return ok;
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
        /* io_lib_pretty takes "N," tokens while they fit in n, breaking the
         * line before the first that does not (which then starts n afresh).
         * The tokens that fit in n bytes end at the last comma among the
         * next n bytes, so the work is per line (one memrchr), not per
         * number, and the text between breaks is copied in one piece. */
        const char *run = s;
        while (s < end) {
                if (end - s <= n) {
                        s = end; /* the rest fits, the last number included */
                        break;
                }
                /* The tokens that fit end at the last comma within n bytes;
                 * the one after them does not fit and starts the next line
                 * (so what is left of n is not needed). */
                const char *last = n > 0 ? memrchr(s, ',', (size_t)n) : NULL;
                if (last)
                        s = last + 1;
                pk__sb_put(c->out, run, (size_t)(s - run));
                out_nl_ind(c, ind);
                run = s;
                const char *comma = memchr(s, ',', (size_t)(end - s));
                long len = comma ? (long)(comma + 1 - s) : (long)(end - s);
                n = n0 - len;
                s += len;
        }
        pk__sb_put(c->out, run, (size_t)(s - run));
        pk__sb_puts(c->out, ">>");
}

/* ---- pp ----
 *
 * io_lib_pretty's pp writes as it goes, and each step's position follows
 * from the lengths build measured, so the recursion becomes a stack of
 * tasks run last-in first-out: lay out a node, continue a list's or map's
 * tail from some element, or write closing text. */

enum pp_kind {
        PP_NODE,     /* pp(n, col, tind, ind, ld, w) */
        PP_TAIL,     /* pp_tail(n, i, col0, col, ...) */
        PP_MAP_TAIL, /* pp_map's loop from pair i */
        PP_ARROW,    /* " =>", then a new line indented by ind */
        PP_CLOSE,    /* the text in close */
};

struct ptask {
        uint8_t kind;
        char sep;
        const char *close;
        const struct pnode *n;
        uint32_t i; /* PP_TAIL: the next element (kid i, at o in a run); PP_MAP_TAIL: pair */
        size_t o;
        long col0, col, tind, ind, ld, w;
};

struct pstack {
        struct ptask *p;
        size_t n, cap;
        bool oom;
};

static void ppush(struct pstack *s, struct ptask t)
{
        struct ptask *k = stack_push((void **)&s->p, &s->n, &s->cap, sizeof(*k));
        if (!k) {
                s->oom = true;
                return;
        }
        *k = t;
}

/* pp_element's width, queueing its layout unless it is written at once. */
static long pp_element(struct pctx *c, struct pstack *s, const struct pnode *e, long col, long tind,
                       long ind, long ld, long w)
{
        /* An atomic node is written whether it fits or not (pp of a leaf
         * writes it), and at once: every caller has queued what follows it,
         * and e may be a run element's view, which must not be queued. */
        if (atm(e)) {
                bool fit = fits(c, e, col, ld, w);
                write_node(c, e);
                return fit ? e->len : c->ll;
        }
        ppush(s,
              (struct ptask){
                  .kind = PP_NODE, .n = e, .col = col, .tind = tind, .ind = ind, .ld = ld, .w = w});
        return c->ll;
}

/* pp_tail over kids[t->i..] of a list or tuple node, continuing at t->col:
 * writes what fits and stops at the first element laid out on its own,
 * queueing the rest after it. */
static void pp_tail(struct pctx *c, struct pstack *s, const struct ptask *t)
{
        const struct pnode *n = t->n;
        uint32_t np = proper_count(n);
        long col = t->col, w = t->w;
        struct pnode view;
        struct ecur next;
        for (struct ecur cur = {t->i, t->o}; cur.k < np; cur = next) {
                const struct pnode *e = elem_at(c, n, cur, &view, &next);
                long ld1 = last_depth(next.k < np, t->ld);
                long elen = 1 + e->len;
                if (tail_fits(c, elen, col, ld1, w, atm(e))) {
                        pk__sb_putc(c->out, ',');
                        write_node(c, e);
                        col += elen;
                        w += elen;
                        continue;
                }
                pk__sb_putc(c->out, ',');
                out_nl_ind(c, t->ind);
                struct ptask rest = *t;
                rest.i = next.k;
                rest.o = next.o;
                bool now = fits(c, e, t->col0, ld1, 0) && atm(e);
                long we = now ? e->len : c->ll;
                rest.col = t->col0 + we;
                rest.w = we;
                ppush(s, rest);
                (void)pp_element(c, s, e, t->col0, t->tind, t->ind, ld1, 0);
                return;
        }
        if (np < n->nkids) {
                const struct pnode *tail = &n->kids[np];
                pk__sb_putc(c->out, t->sep);
                if (tail->len + 1 < c->ll - col - (t->ld + 1) &&
                    tail->len + 1 + w + (t->ld + 1) <= c->m && atm(tail)) {
                        write_node(c, tail);
                        return;
                }
                out_nl_ind(c, t->ind);
                ppush(s, (struct ptask){.kind = PP_NODE,
                                        .n = tail,
                                        .col = t->col0,
                                        .tind = t->tind,
                                        .ind = t->ind,
                                        .ld = t->ld + 1});
        }
}

/* pp_list from element first: the first element, then the tail after it. */
static void pp_list(struct pctx *c, struct pstack *s, const struct pnode *n, uint32_t first,
                    long col0, long tind, long ind, long ld, char sep, long w)
{
        uint32_t np = proper_count(n);
        struct pnode view;
        struct ecur next;
        const struct pnode *e = elem_at(c, n, (struct ecur){first, 0}, &view, &next);
        long ld1 = last_depth(next.k < np, ld);
        long we = fits(c, e, col0, ld1, w) && atm(e) ? e->len : c->ll;
        ppush(s, (struct ptask){.kind = PP_TAIL,
                                .sep = sep,
                                .n = n,
                                .i = next.k,
                                .o = next.o,
                                .col0 = col0,
                                .col = col0 + we,
                                .tind = tind,
                                .ind = ind,
                                .ld = ld,
                                .w = w + we});
        (void)pp_element(c, s, e, col0, tind, ind, ld1, w);
}

/* pp_pair's width; a pair too wide for the line has its key and value
 * laid out on lines of their own. */
static long pp_pair(struct pctx *c, struct pstack *s, const struct pnode *p, long col0, long tind,
                    long ind0, long ld, long w)
{
        if (fits(c, p, col0, ld, w)) {
                write_node(c, p);
                return atm_pair(p) ? p->len : c->ll;
        }
        long i = map_value_indent(tind);
        ppush(s, (struct ptask){.kind = PP_NODE,
                                .n = &p->kids[1],
                                .col = col0 + i,
                                .tind = tind,
                                .ind = ind0 + i,
                                .ld = ld});
        ppush(s, (struct ptask){.kind = PP_ARROW, .ind = ind0 + i});
        ppush(s, (struct ptask){.kind = PP_NODE,
                                .n = &p->kids[0],
                                .col = col0,
                                .tind = tind,
                                .ind = ind0,
                                .ld = ld,
                                .w = w});
        return c->ll;
}

/* The width pp_pair will report for p, known before it runs. */
static long pair_width(const struct pctx *c, const struct pnode *p, long col0, long ld, long w)
{
        return fits(c, p, col0, ld, w) && atm_pair(p) ? p->len : c->ll;
}

/* pp_map's loop from pair t->i, at t->col with width t->w so far. */
static void pp_map_tail(struct pctx *c, struct pstack *s, const struct ptask *t)
{
        const struct pnode *n = t->n;
        uint32_t np = n->nkids;
        long col = t->col, w = t->w;
        for (uint32_t i = t->i; i < np; i++) {
                const struct pnode *p = &n->kids[i];
                long ld1 = last_depth(i + 1 < np, t->ld);
                long elen = 1 + p->len;
                pk__sb_putc(c->out, ',');
                if (tail_fits(c, elen, col, ld1, w, atm_pair(p))) {
                        write_node(c, p);
                        col += elen;
                        w += elen;
                        continue;
                }
                out_nl_ind(c, t->ind);
                struct ptask rest = *t;
                long pw = pair_width(c, p, t->col0, ld1, 0);
                rest.i = i + 1;
                rest.col = t->col0 + pw;
                rest.w = pw;
                ppush(s, rest);
                (void)pp_pair(c, s, p, t->col0, t->tind, t->ind, ld1, 0);
                return;
        }
}

static void pp_map(struct pctx *c, struct pstack *s, const struct pnode *n, long col0, long tind,
                   long ind, long ld, long w)
{
        uint32_t np = n->nkids;
        long ld0 = last_depth(np > 1, ld);
        long pw = pair_width(c, &n->kids[0], col0, ld0, w);
        ppush(s, (struct ptask){.kind = PP_MAP_TAIL,
                                .n = n,
                                .i = 1,
                                .col0 = col0,
                                .col = col0 + pw,
                                .tind = tind,
                                .ind = ind,
                                .ld = ld,
                                .w = pw});
        (void)pp_pair(c, s, &n->kids[0], col0, tind, ind, ld0, w);
}

/* pp of one node: writes it whole if it fits, else opens it and queues its
 * kids' layout and its closing text. */
static void pp_node(struct pctx *c, struct pstack *s, const struct ptask *t)
{
        const struct pnode *n = t->n;
        long col = t->col, tind = t->tind, ind = t->ind, ld = t->ld, w = t->w;
        if (fits(c, n, col, ld, w)) {
                write_node(c, n);
                return;
        }
        switch (n->kind) {
        case N_LIST:
                pk__sb_putc(c->out, '[');
                ppush(s, (struct ptask){.kind = PP_CLOSE, .close = "]"});
                pp_list(c, s, n, 0, col + 1, tind, ind + 1, ld, '|', w + 1);
                break;
        case N_TUPLE:
                pk__sb_putc(c->out, '{');
                ppush(s, (struct ptask){.kind = PP_CLOSE, .close = "}"});
                if (n->tagged) {
                        const struct pnode *tag = &n->kids[0];
                        long tlen = tag->len, tagind = tlen + 2, tcol = col + tagind;
                        w += 1;
                        write_node(c, tag);
                        if (tind > 0 && tagind > tind) {
                                struct ptask rest = {.kind = PP_TAIL,
                                                     .sep = ',',
                                                     .n = n,
                                                     .i = 1,
                                                     .col0 = col + tind,
                                                     .col = tcol,
                                                     .tind = tind,
                                                     .ind = ind + tind,
                                                     .ld = ld,
                                                     .w = w + tlen};
                                pp_tail(c, s, &rest);
                        } else {
                                pk__sb_putc(c->out, ',');
                                pp_list(c, s, n, 1, tcol, tind, ind + tagind, ld, ',',
                                        w + tlen + 1);
                        }
                } else {
                        pp_list(c, s, n, 0, col + 1, tind, ind + 1, ld, ',', w + 1);
                }
                break;
        case N_MAP:
                pk__sb_puts(c->out, "#{");
                ppush(s, (struct ptask){.kind = PP_CLOSE, .close = "}"});
                pp_map(c, s, n, col + 2, tind, ind + 2, ld, w + 1);
                break;
        case N_BIN:
                pp_binary(c, n, col + 2, ind + 2, ld, w);
                break;
        default:
                write_node(c, n);
                break;
        }
}

static int pp(struct pctx *c, const struct pnode *root, long col, long tind, long ind, long ld,
              long w)
{
        struct pstack s = {0};
        ppush(&s, (struct ptask){.kind = PP_NODE,
                                 .n = root,
                                 .col = col,
                                 .tind = tind,
                                 .ind = ind,
                                 .ld = ld,
                                 .w = w});
        while (s.n > 0 && !s.oom && !c->out->err) {
                struct ptask t = s.p[--s.n];
                switch (t.kind) {
                case PP_NODE:
                        pp_node(c, &s, &t);
                        break;
                case PP_TAIL:
                        pp_tail(c, &s, &t);
                        break;
                case PP_MAP_TAIL:
                        pp_map_tail(c, &s, &t);
                        break;
                case PP_ARROW:
                        pk__sb_puts(c->out, " =>");
                        out_nl_ind(c, t.ind);
                        break;
                case PP_CLOSE:
                        pk__sb_puts(c->out, t.close);
                        break;
                default:
                        break;
                }
        }
        free(s.p);
        return s.oom ? -ENOMEM : c->out->err;
}

int pk_etf_print_p(const struct pk_term *t, const struct pk_etf_print_opts *opts, char **ret_str,
                   size_t *ret_len)
{
        if (!t || !ret_str)
                return -EINVAL;
        size_t max_len = opts ? opts->max_len : 0;
        struct pk__sbuf out = {.max = max_len, .toobig = PK_ETERMSIZE};
        struct pctx c = {
            /* every leaf's text is part of the output */
            .text = {.max = max_len, .toobig = PK_ETERMSIZE},
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
        r = build(&c, t, &root);
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
        pk__korder_free(&c.ko);
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
