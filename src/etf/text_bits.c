/* SPDX-License-Identifier: MIT */
/* The bit syntax of binary literals: <<1,2:4,"ab"/utf8,1.5/float>> and the
 * rest of what a term literal may hold, written bit by bit into a buffer
 * capped by max_binary and by the arena's room. */
#include "text-parse.h"

#include <stdlib.h>
#include <string.h>

/* ---- binaries ---- */

struct bitbuf {
        uint8_t *p;
        size_t bits, cap; /* cap in bytes */
        size_t max;       /* bytes */
};

static int bits_put(struct parser *p, struct bitbuf *b, uint64_t v, unsigned n, size_t at)
{
        /* Appends the low n (<= 64) bits of v, most significant first. */
        size_t need = (b->bits + n + 7) / 8;
        if (need > b->max)
                return pk__tp_fail(p, at, PK_ETERMSIZE, "binary larger than %zu bytes", b->max);
        if (pk__array_grow((void **)&b->p, &b->cap, need, 1, 16) < 0)
                return pk__tp_fail(p, at, -ENOMEM, "out of memory");
        for (unsigned i = n; i-- > 0;) {
                size_t byte = b->bits / 8;
                unsigned bit = 7 - (unsigned)(b->bits % 8);
                if (bit == 7)
                        b->p[byte] = 0;
                if ((v >> i) & 1)
                        b->p[byte] |= (uint8_t)(1u << bit);
                b->bits++;
        }
        return 0;
}

/* Appends an integer of size bits (sign-extended beyond 64 bits). */
static int bits_int(struct parser *p, struct bitbuf *b, int64_t v, uint64_t size, bool little,
                    size_t at)
{
        if ((b->bits + size + 7) / 8 > b->max)
                return pk__tp_fail(p, at, PK_ETERMSIZE, "binary larger than %zu bytes", b->max);
        if (little) {
                if (size % 8)
                        return pk__tp_fail(p, at, PK_ESYNTAX,
                                           "little-endian segments must be whole bytes here");
                for (uint64_t i = 0; i < size / 8; i++) {
                        uint64_t byte =
                            i < 8 ? ((uint64_t)v >> (8 * i)) & 0xFF : (v < 0 ? 0xFFu : 0u);
                        int r = bits_put(p, b, byte, 8, at);
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        while (size > 64) {
                uint64_t n = size - 64 > 64 ? 64 : size - 64;
                int r = bits_put(p, b, v < 0 ? UINT64_MAX : 0, (unsigned)n, at);
                if (r < 0)
                        return r;
                size -= n;
        }
        return bits_put(p, b, (uint64_t)v, (unsigned)size, at);
}

enum seg_type { SEG_INTEGER, SEG_FLOAT, SEG_BINARY, SEG_UTF8 };

/* Parses the segments after "<<" up to ">>". */
int pk__tp_binary(struct parser *p, size_t at, struct pk_term *out)
{
        /* The binary is copied into the arena at the end, so the arena's room
         * bounds it as much as max_binary does. */
        size_t room = pk__tp_arena_room(p);
        struct bitbuf b = {.max = room < p->cfg->max_binary ? room : p->cfg->max_binary};
        uint32_t *scp = NULL;
        struct token tok;
        p->str_max = b.max > SIZE_MAX / 8 ? SIZE_MAX : b.max * 8;
        if (p->str_max == 0)
                p->str_max = 1; /* 0 means "outside a binary" */
        int r = pk__scan_peek(p, &tok);
        if (r < 0)
                return r;
        if (tok.type == T_PUNCT && tok.punct == P_BINCLOSE) {
                (void)pk__scan_next(p, &tok);
                pk_term_set_binary(out, "", 0);
                return 0;
        }
        for (;;) {
                /* Value */
                if ((r = pk__scan_next(p, &tok)) < 0)
                        goto out;
                size_t vat = tok.start;
                bool neg = false;
                if (tok.type == T_PUNCT && (tok.punct == '-' || tok.punct == '+')) {
                        neg = tok.punct == '-';
                        if ((r = pk__scan_next(p, &tok)) < 0)
                                goto out;
                        if (tok.type != T_INT && tok.type != T_FLOAT) {
                                r = pk__tp_fail(p, tok.start, PK_ESYNTAX,
                                                "expected a number after sign");
                                goto out;
                        }
                }
                struct pk_term val = tok.term;
                bool is_string = tok.type == T_STRING;
                free(scp);
                scp = NULL;
                size_t ncp = 1;
                if (is_string) {
                        /* Keep the characters: later tokens refill p->cps,
                         * so take its buffer rather than copy it. */
                        ncp = p->cpn;
                        scp = p->cps;
                        p->cps = NULL;
                        p->cpn = p->cpcap = 0;
                }
                if (tok.type != T_INT && tok.type != T_FLOAT && !is_string) {
                        r = pk__tp_fail(p, vat, PK_ESYNTAX,
                                        "a binary segment must be an integer, a float or a string");
                        goto out;
                }
                if (neg && (r = pk__tp_negate(p, &val, vat)) < 0)
                        goto out;
                /* :Size */
                int64_t size = -1;
                if ((r = pk__scan_peek(p, &tok)) < 0)
                        goto out;
                if (tok.type == T_PUNCT && tok.punct == ':') {
                        (void)pk__scan_next(p, &tok);
                        if ((r = pk__scan_next(p, &tok)) < 0)
                                goto out;
                        if (tok.type != T_INT || tok.term.type != PK_TERM_INT ||
                            tok.term.v.i > (int64_t)p->cfg->max_binary * 8) {
                                r = pk__tp_fail(
                                    p, tok.start, PK_ESYNTAX,
                                    "segment size must be a small non-negative integer");
                                goto out;
                        }
                        size = tok.term.v.i;
                        if ((r = pk__scan_peek(p, &tok)) < 0)
                                goto out;
                }
                /* /Type-Spec */
                enum seg_type type = val.type == PK_TERM_FLOAT ? SEG_FLOAT : SEG_INTEGER;
                bool little = false;
                if (tok.type == T_PUNCT && tok.punct == '/') {
                        (void)pk__scan_next(p, &tok);
                        for (;;) {
                                if ((r = pk__scan_next(p, &tok)) < 0)
                                        goto out;
                                if (tok.type != T_ATOM) {
                                        r = pk__tp_fail(p, tok.start, PK_ESYNTAX,
                                                        "expected a type specifier");
                                        goto out;
                                }
                                const char *nm = tok.term.v.atom.name;
                                size_t nl = tok.term.v.atom.len;
#define IS(s) (nl == sizeof(s) - 1 && memcmp(nm, s, nl) == 0)
                                if (IS("integer"))
                                        type = SEG_INTEGER;
                                else if (IS("float"))
                                        type = SEG_FLOAT;
                                else if (IS("binary") || IS("bytes") || IS("bits") ||
                                         IS("bitstring"))
                                        type = SEG_BINARY;
                                else if (IS("utf8"))
                                        type = SEG_UTF8;
                                else if (IS("little"))
                                        little = true;
                                else if (IS("big") || IS("signed") || IS("unsigned"))
                                        little = little && !IS("big");
                                else {
                                        r = pk__tp_fail(p, tok.start, PK_ESYNTAX,
                                                        "unsupported type specifier '%.*s'",
                                                        (int)nl, nm);
                                        goto out;
                                }
#undef IS
                                if ((r = pk__scan_peek(p, &tok)) < 0)
                                        goto out;
                                if (!(tok.type == T_PUNCT && tok.punct == '-'))
                                        break;
                                (void)pk__scan_next(p, &tok);
                        }
                }
                /* Emit */
                for (size_t i = 0; i < ncp; i++) {
                        int64_t iv = is_string                 ? (int64_t)scp[i]
                                     : val.type == PK_TERM_INT ? val.v.i
                                                               : 0;
                        if (!is_string && val.type == PK_TERM_BIG) {
                                r = pk__tp_fail(p, vat, PK_ESYNTAX,
                                                "integer too large for a binary segment");
                                goto out;
                        }
                        switch (type) {
                        case SEG_INTEGER:
                                if (val.type == PK_TERM_FLOAT && !is_string) {
                                        r = pk__tp_fail(p, vat, PK_ESYNTAX,
                                                        "a float segment needs /float");
                                        goto out;
                                }
                                r = bits_int(p, &b, iv, size < 0 ? 8 : (uint64_t)size, little, vat);
                                break;
                        case SEG_FLOAT: {
                                double d = val.type == PK_TERM_FLOAT ? val.v.f : (double)iv;
                                int64_t sz = size < 0 ? 64 : size;
                                uint64_t bitsv;
                                if (sz == 64) {
                                        memcpy(&bitsv, &d, 8);
                                } else if (sz == 32) {
                                        float f = (float)d;
                                        uint32_t u;
                                        memcpy(&u, &f, 4);
                                        bitsv = u;
                                } else {
                                        r = pk__tp_fail(p, vat, PK_ESYNTAX,
                                                        "float segments must be 32 or 64 bits");
                                        goto out;
                                }
                                if (little) {
                                        uint64_t sw = 0;
                                        for (int k = 0; k < sz / 8; k++)
                                                sw = (sw << 8) | ((bitsv >> (8 * k)) & 0xFF);
                                        bitsv = sw;
                                }
                                r = bits_put(p, &b, bitsv, (unsigned)sz, vat);
                                break;
                        }
                        case SEG_UTF8: {
                                if (iv < 0 || iv > 0x10FFFF || (iv >= 0xD800 && iv <= 0xDFFF) ||
                                    size >= 0) {
                                        r = pk__tp_fail(p, vat, PK_ESYNTAX, "bad utf8 segment");
                                        goto out;
                                }
                                uint8_t tmp[4];
                                size_t k = pk__utf8_encode((uint32_t)iv, tmp);
                                for (size_t j = 0; j < k && r >= 0; j++)
                                        r = bits_put(p, &b, tmp[j], 8, vat);
                                break;
                        }
                        case SEG_BINARY:
                                /* Erlang too refuses a string (a list) as a
                                 * binary segment; nested binaries are not
                                 * literals this parser reads. */
                                r = pk__tp_fail(p, vat, PK_ESYNTAX,
                                                "a /binary segment needs a binary value");
                                goto out;
                        }
                        if (r < 0)
                                goto out;
                }
                /* , or >> */
                if ((r = pk__scan_next(p, &tok)) < 0)
                        goto out;
                if (tok.type == T_PUNCT && tok.punct == ',')
                        continue;
                if (tok.type == T_PUNCT && tok.punct == P_BINCLOSE)
                        break;
                r = pk__tp_fail(p, tok.start, PK_ESYNTAX, "expected ',' or '>>' in a binary");
                goto out;
        }
        {
                size_t nbytes = (b.bits + 7) / 8;
                uint8_t *data = pk_arena_memdup(p->a, b.p ? b.p : (const uint8_t *)"", nbytes);
                if (!data) {
                        r = pk__tp_fail_alloc(p, at);
                        goto out;
                }
                unsigned rest = (unsigned)(b.bits % 8);
                if (rest)
                        (void)pk_term_set_bitstring(out, data, nbytes, rest);
                else
                        pk_term_set_binary(out, data, nbytes);
                r = 0;
        }
out:
        p->str_max = 0;
        free(scp);
        free(b.p);
        return r;
}
