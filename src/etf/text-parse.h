/* SPDX-License-Identifier: MIT */
/* The text parser's parts, shared by its three files as Erlang splits its
 * own: the scanner (text_scan.c, erl_scan's job: characters, literals,
 * tokens), the bit syntax (text_bits.c: binary literals) and the parser
 * proper (text_parse.c, erl_parse's job: containers, the entry points). */
#ifndef PORTKIT_ETF_TEXT_PARSE_H
#define PORTKIT_ETF_TEXT_PARSE_H

#include "text-internal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tok_type {
        T_EOF,
        T_INT,    /* term */
        T_FLOAT,  /* term */
        T_ATOM,   /* term */
        T_STRING, /* code points in p->cps */
        T_VALUE,  /* a finished value: pid, port, ref, export, hole */
        T_PUNCT,  /* punct */
        T_DOT,    /* the terminator */
};

enum {
        P_MAPOPEN = 256, /* #{ */
        P_ARROW,         /* => */
        P_BINOPEN,       /* << */
        P_BINCLOSE,      /* >> */
};

struct token {
        enum tok_type type;
        int punct;
        size_t start;
        struct pk_term term;
};

enum frame_kind { F_TUPLE, F_LIST, F_LIST_TAIL, F_MAP_KEY, F_MAP_VAL };

struct frame {
        enum frame_kind kind;
        size_t start; /* first value of this container on the value stack */
        size_t open;  /* offset of the opening bracket, for errors */
};

struct parser {
        pk_arena *a;
        const uint8_t *s;
        size_t len, pos;
        const struct pk__parse_cfg *cfg;
        struct pk_etf_text_error *err;
        struct pk_term *vs;
        size_t vn, vcap;
        struct frame *fs;
        size_t fn, fcap;
        uint32_t *cps;
        size_t cpn, cpcap;
        size_t cp_max;  /* the quoted literal being read fails beyond this many characters */
        int cp_code;    /* ... with this code */
        size_t str_max; /* inside a binary: cp_max for its strings (0: outside) */
        struct token peeked;
        bool has_peek;
        struct pk__korder ko; /* key orders of the maps sorted so far */
};

/* Records where and why parsing failed (the first failure wins) and returns
 * code. */
__attribute__((format(printf, 4, 5))) int pk__tp_fail(struct parser *p, size_t at, int code,
                                                      const char *fmt, ...);
/* The arena's error (-ENOMEM or PK_ETERMSIZE) as a failure at at. */
int pk__tp_fail_alloc(struct parser *p, size_t at);

/* Bytes the arena can still hand out.  A literal that cannot fit in them
 * fails as it grows, before memory outside the arena is spent on it. */
static inline size_t pk__tp_arena_room(const struct parser *p)
{
        return p->a->max_bytes - p->a->handed_out;
}

static inline bool pk__scan_at_end(const struct parser *p)
{
        return p->pos >= p->len;
}

/* Skips blanks and comments. */
void pk__scan_skip_blanks(struct parser *p);
/* The next token (consumed), or a peek at it (not consumed). */
int pk__scan_next(struct parser *p, struct token *tok);
int pk__scan_peek(struct parser *p, struct token *tok);

/* Negates a number term; PK_ESYNTAX for anything else. */
int pk__tp_negate(struct parser *p, struct pk_term *t, size_t at);
/* Reads the segments of a binary literal after "<<" (at) up to ">>". */
int pk__tp_binary(struct parser *p, size_t at, struct pk_term *out);

#endif
