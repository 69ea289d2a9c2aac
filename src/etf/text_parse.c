/* SPDX-License-Identifier: MIT */
/* Parses Erlang term literals (the subset file:consult/1 reads) into terms
 * in an arena: the parser proper, on the tokens of text_scan.c and the
 * binaries of text_bits.c.  Containers are built with an explicit frame
 * stack and a value stack, so hostile nesting meets the depth limit, never
 * the C stack; every literal has a size limit before anything is allocated
 * for it. */
#include "text-parse.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_DEPTH 1000u
#define DEFAULT_MAX_INT_DIGITS 10000u
#define DEFAULT_MAX_BINARY (16u << 20)

static int push_value(struct parser *p, const struct pk_term *t, size_t at)
{
        if (pk__array_grow((void **)&p->vs, &p->vcap, p->vn + 1, sizeof(*p->vs), 16) < 0)
                return pk__tp_fail(p, at, -ENOMEM, "out of memory");
        p->vs[p->vn++] = *t;
        return 0;
}

/* ---- values ---- */

/* A string's code points become a byte string when they all fit 0..255,
 * else a list of integers. */
static int string_term(struct parser *p, size_t at, struct pk_term *t)
{
        size_t n = p->cpn;
        if (n == 0) {
                pk_term_set_nil(t);
                return 0;
        }
        if (n > UINT32_MAX)
                return pk__tp_fail(p, at, PK_ETERMSIZE, "string too long");
        bool bytes = true;
        for (size_t i = 0; i < n && bytes; i++)
                bytes = p->cps[i] <= 255;
        if (bytes) {
                uint8_t *b = pk_arena_alloc(p->a, n);
                if (!b)
                        return pk__tp_fail_alloc(p, at);
                for (size_t i = 0; i < n; i++)
                        b[i] = (uint8_t)p->cps[i];
                pk_term_set_string(t, b, (uint32_t)n);
                return 0;
        }
        struct pk_term *e = pk_arena_terms(p->a, n);
        if (!e)
                return pk__tp_fail_alloc(p, at);
        for (size_t i = 0; i < n; i++)
                pk_term_set_int(&e[i], p->cps[i]);
        if (pk_term_set_list(p->a, t, e, (uint32_t)n, NULL) < 0)
                return pk__tp_fail_alloc(p, at);
        return 0;
}

int pk__tp_negate(struct parser *p, struct pk_term *t, size_t at)
{
        if (t->type == PK_TERM_FLOAT) {
                t->v.f = -t->v.f;
        } else if (t->type == PK_TERM_INT) {
                t->v.i = -t->v.i; /* literals are >= 0, so this cannot overflow */
        } else if (t->type == PK_TERM_BIG) {
                pk_term_set_big(t, t->v.big.digits, t->v.big.len, !t->v.big.negative);
        } else {
                return pk__tp_fail(p, at, PK_ESYNTAX, "'-' must be followed by a number");
        }
        return 0;
}

/* ---- containers ---- */

static int push_frame(struct parser *p, enum frame_kind kind, size_t open)
{
        if (p->fn >= p->cfg->max_depth)
                return pk__tp_fail(p, open, PK_EDEPTH, "nested deeper than %u", p->cfg->max_depth);
        if (pk__array_grow((void **)&p->fs, &p->fcap, p->fn + 1, sizeof(*p->fs), 16) < 0)
                return pk__tp_fail(p, open, -ENOMEM, "out of memory");
        p->fs[p->fn++] = (struct frame){.kind = kind, .start = p->vn, .open = open};
        return 0;
}

static struct pk_term *take_values(struct parser *p, size_t start, size_t n, size_t at)
{
        struct pk_term *e = pk_arena_terms(p->a, n);
        if (!e) {
                pk__tp_fail_alloc(p, at);
                return NULL;
        }
        if (n)
                memcpy(e, p->vs + start, n * sizeof(*e));
        return e;
}

static int close_tuple(struct parser *p, struct pk_term *out)
{
        struct frame *f = &p->fs[p->fn - 1];
        size_t n = p->vn - f->start;
        if (n > UINT32_MAX)
                return pk__tp_fail(p, f->open, PK_ETERMSIZE, "tuple too large");
        struct pk_term *e = take_values(p, f->start, n, f->open);
        if (!e)
                return pk_arena_last_error(p->a) ? pk_arena_last_error(p->a) : -ENOMEM;
        pk_term_set_tuple(out, e, (uint32_t)n);
        p->vn = f->start;
        p->fn--;
        return 0;
}

/* Closes a list; with_tail: the last value is the tail.  A list or string
 * tail is spliced in, so the result is one flat list. */
static int close_list(struct parser *p, bool with_tail, struct pk_term *out)
{
        struct frame *f = &p->fs[p->fn - 1];
        struct pk_term tail;
        pk_term_set_nil(&tail);
        if (with_tail)
                tail = p->vs[--p->vn];
        int r;
        while (tail.type == PK_TERM_LIST || tail.type == PK_TERM_STRING) {
                if (tail.type == PK_TERM_STRING) {
                        for (uint32_t i = 0; i < tail.v.string.len; i++) {
                                struct pk_term b;
                                pk_term_set_int(&b, tail.v.string.bytes[i]);
                                if ((r = push_value(p, &b, f->open)) < 0)
                                        return r;
                        }
                        pk_term_set_nil(&tail);
                } else {
                        for (uint32_t i = 0; i < tail.v.list.len; i++)
                                if ((r = push_value(p, &tail.v.list.elems[i], f->open)) < 0)
                                        return r;
                        tail = *tail.v.list.tail;
                }
        }
        size_t n = p->vn - f->start;
        if (n > UINT32_MAX)
                return pk__tp_fail(p, f->open, PK_ETERMSIZE, "list too long");
        struct pk_term *e = take_values(p, f->start, n, f->open);
        if (!e)
                return pk_arena_last_error(p->a) ? pk_arena_last_error(p->a) : -ENOMEM;
        struct pk_term *tp = NULL;
        if (tail.type != PK_TERM_NIL || n > 0) {
                tp = pk_arena_terms(p->a, 1);
                if (!tp)
                        return pk__tp_fail_alloc(p, f->open);
                *tp = tail;
        }
        if (n == 0)
                *out = tail;
        else if (pk_term_set_list(p->a, out, e, (uint32_t)n, tp) < 0)
                return pk__tp_fail_alloc(p, f->open);
        p->vn = f->start;
        p->fn--;
        return 0;
}

/* Closes a map: pairs sorted by key, a repeated key keeps its last value. */
static int close_map(struct parser *p, struct pk_term *out)
{
        struct frame *f = &p->fs[p->fn - 1];
        size_t nv = p->vn - f->start;
        size_t n = nv / 2;
        if (n > UINT32_MAX)
                return pk__tp_fail(p, f->open, PK_ETERMSIZE, "map too large");
        const struct pk_term *pairs = n ? p->vs + f->start : NULL;
        struct pk_term *e = pk_arena_terms(p->a, 2 * n);
        if (!e)
                return pk__tp_fail_alloc(p, f->open);
        size_t k = pk__map_sort_unique(pairs, n, e, &p->ko);
        if (k == SIZE_MAX)
                return pk__tp_fail(p, f->open, -ENOMEM, "out of memory");
        pk_term_set_map(out, e, (uint32_t)k);
        p->vn = f->start;
        p->fn--;
        return 0;
}

/* Parses one term (no terminator). */
static int parse_term(struct parser *p, struct pk_term *result)
{
        struct token tok;
        int r;
        struct pk_term v;
expect_value:
        if ((r = pk__scan_next(p, &tok)) < 0)
                return r;
        switch (tok.type) {
        case T_EOF:
                return pk__tp_fail(p, tok.start, PK_ESYNTAX, "unexpected end of input");
        case T_DOT:
                return pk__tp_fail(p, tok.start, PK_ESYNTAX, "unexpected '.'");
        case T_INT:
        case T_FLOAT:
        case T_ATOM:
        case T_VALUE:
                v = tok.term;
                break;
        case T_STRING:
                if ((r = string_term(p, tok.start, &v)) < 0)
                        return r;
                break;
        case T_PUNCT:
                switch (tok.punct) {
                case '-':
                case '+': {
                        struct token num;
                        if ((r = pk__scan_next(p, &num)) < 0)
                                return r;
                        if (num.type != T_INT && num.type != T_FLOAT)
                                return pk__tp_fail(p, num.start, PK_ESYNTAX,
                                                   "'%c' must be followed by a number", tok.punct);
                        v = num.term;
                        if (tok.punct == '-' && (r = pk__tp_negate(p, &v, tok.start)) < 0)
                                return r;
                        break;
                }
                case '{':
                case '[':
                case P_MAPOPEN: {
                        enum frame_kind k = tok.punct == '{'   ? F_TUPLE
                                            : tok.punct == '[' ? F_LIST
                                                               : F_MAP_KEY;
                        if ((r = push_frame(p, k, tok.start)) < 0)
                                return r;
                        struct token nx;
                        if ((r = pk__scan_peek(p, &nx)) < 0)
                                return r;
                        int closer = tok.punct == '[' ? ']' : '}';
                        if (nx.type == T_PUNCT && nx.punct == closer) {
                                (void)pk__scan_next(p, &nx);
                                if (k == F_TUPLE)
                                        r = close_tuple(p, &v);
                                else if (k == F_LIST)
                                        r = close_list(p, false, &v);
                                else
                                        r = close_map(p, &v);
                                if (r < 0)
                                        return r;
                                break;
                        }
                        goto expect_value;
                }
                case P_BINOPEN:
                        if ((r = pk__tp_binary(p, tok.start, &v)) < 0)
                                return r;
                        break;
                default:
                        goto unexpected;
                }
                break;
        default:
                goto unexpected;
        }
        if ((r = push_value(p, &v, tok.start)) < 0)
                return r;
        /* After a value: continue or close the enclosing containers. */
        for (;;) {
                if (p->fn == 0) {
                        *result = p->vs[--p->vn];
                        return 0;
                }
                struct frame *f = &p->fs[p->fn - 1];
                if ((r = pk__scan_next(p, &tok)) < 0)
                        return r;
                bool punct = tok.type == T_PUNCT;
                int c = punct ? tok.punct : -1;
                switch (f->kind) {
                case F_TUPLE:
                        if (c == ',')
                                goto expect_value;
                        if (c == '}') {
                                if ((r = close_tuple(p, &v)) < 0)
                                        return r;
                                break;
                        }
                        return pk__tp_fail(p, tok.start, PK_ESYNTAX,
                                           "expected ',' or '}' in a tuple");
                case F_LIST:
                        if (c == ',')
                                goto expect_value;
                        if (c == '|') {
                                f->kind = F_LIST_TAIL;
                                goto expect_value;
                        }
                        if (c == ']') {
                                if ((r = close_list(p, false, &v)) < 0)
                                        return r;
                                break;
                        }
                        return pk__tp_fail(p, tok.start, PK_ESYNTAX,
                                           "expected ',', '|' or ']' in a list");
                case F_LIST_TAIL:
                        if (c == ']') {
                                if ((r = close_list(p, true, &v)) < 0)
                                        return r;
                                break;
                        }
                        return pk__tp_fail(p, tok.start, PK_ESYNTAX,
                                           "expected ']' after a list tail");
                case F_MAP_KEY:
                        if (c == P_ARROW) {
                                f->kind = F_MAP_VAL;
                                goto expect_value;
                        }
                        return pk__tp_fail(p, tok.start, PK_ESYNTAX, "expected '=>' in a map");
                case F_MAP_VAL:
                        if (c == ',') {
                                f->kind = F_MAP_KEY;
                                goto expect_value;
                        }
                        if (c == '}') {
                                if ((r = close_map(p, &v)) < 0)
                                        return r;
                                break;
                        }
                        return pk__tp_fail(p, tok.start, PK_ESYNTAX,
                                           "expected ',' or '}' in a map");
                }
                if ((r = push_value(p, &v, tok.start)) < 0)
                        return r;
        }
unexpected:
        if (tok.type == T_PUNCT && tok.punct < 256)
                return pk__tp_fail(p, tok.start, PK_ESYNTAX, "unexpected '%c'", tok.punct);
        return pk__tp_fail(p, tok.start, PK_ESYNTAX, "unexpected '%.2s'",
                           (const char *)p->s + tok.start);
}

int pk__parse(pk_arena *a, const char *text, size_t len, const struct pk__parse_cfg *cfg,
              struct pk_term **ret_term, size_t *ret_used, struct pk_etf_text_error *reterr)
{
        struct pk_etf_text_error scratch;
        struct parser p = {
            .a = a,
            .s = (const uint8_t *)text,
            .len = len,
            .cfg = cfg,
            .err = &scratch,
        };
        scratch.message[0] = '\0';
        int r;
        struct token tok;
        pk__scan_skip_blanks(&p);
        if (pk__scan_at_end(&p)) {
                if (cfg->no_dot) {
                        r = pk__tp_fail(&p, p.pos, PK_ESYNTAX, "empty input");
                        goto out;
                }
                *ret_term = NULL;
                if (ret_used)
                        *ret_used = len;
                r = 0;
                goto out;
        }
        struct pk_term value;
        if ((r = parse_term(&p, &value)) < 0)
                goto out;
        if ((r = pk__scan_next(&p, &tok)) < 0)
                goto out;
        if (cfg->no_dot) {
                if (tok.type != T_EOF) {
                        r = pk__tp_fail(&p, tok.start, PK_ESYNTAX,
                                        "unexpected text after the term");
                        goto out;
                }
        } else if (tok.type != T_DOT) {
                r = pk__tp_fail(&p, tok.start, PK_ESYNTAX,
                                tok.type == T_EOF ? "missing '.' after the term"
                                                  : "expected '.' after the term");
                goto out;
        }
        struct pk_term *t = pk_arena_terms(a, 1);
        if (!t) {
                r = pk__tp_fail_alloc(&p, 0);
                goto out;
        }
        *t = value;
        *ret_term = t;
        if (ret_used)
                *ret_used = p.pos;
        r = 1;
out:
        if (r < 0 && reterr) {
                if (!scratch.message[0])
                        pk__tp_fail(&p, p.pos, r, "%s", pk_strerror(r));
                scratch.code = r;
                *reterr = scratch;
        }
        free(p.vs);
        free(p.fs);
        free(p.cps);
        pk__korder_free(&p.ko);
        return r;
}

int pk_etf_parse(pk_arena *a, const char *text, size_t len, const struct pk_etf_parse_opts *opts,
                 struct pk_term **ret_term, size_t *ret_used, struct pk_etf_text_error *reterr)
{
        if (!a || (!text && len) || !ret_term)
                return -EINVAL;
        struct pk__parse_cfg cfg = {
            .max_depth = opts && opts->max_depth ? opts->max_depth : DEFAULT_MAX_DEPTH,
            .max_int_digits =
                opts && opts->max_int_digits ? opts->max_int_digits : DEFAULT_MAX_INT_DIGITS,
            .max_binary = opts && opts->max_binary ? opts->max_binary : DEFAULT_MAX_BINARY,
            .no_dot = opts && (opts->flags & PK_ETF_PARSE_NO_DOT),
        };
        return pk__parse(a, text ? text : "", len, &cfg, ret_term, ret_used, reterr);
}
