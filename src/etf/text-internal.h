/* SPDX-License-Identifier: MIT */
/* Internals shared by the text half of the etf layer: the printers' string
 * (the common dynbuf), the ~w writers of leaves that ~p reuses, and the
 * parser entry the pattern code drives with its own hole callback. */
#ifndef PORTKIT_ETF_TEXT_INTERNAL_H
#define PORTKIT_ETF_TEXT_INTERNAL_H

#include "common/dynbuf.h"
#include "etf-internal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The printers write into the one capped buffer (src/common/dynbuf.h): NUL-
 * terminated, err latches the first failure; they set toobig to PK_ETERMSIZE. */
#define pk__sbuf pk__dynbuf

static inline void pk__sb_put(struct pk__sbuf *sb, const void *s, size_t n)
{
        (void)pk__dynbuf_add(sb, s, n);
}
static inline void pk__sb_putc(struct pk__sbuf *sb, char c)
{
        (void)pk__dynbuf_addc(sb, c);
}
static inline void pk__sb_puts(struct pk__sbuf *sb, const char *s)
{
        (void)pk__dynbuf_adds(sb, s);
}
static inline void pk__sb_free(struct pk__sbuf *sb)
{
        pk__dynbuf_free(sb);
}
void pk__sb_putu(struct pk__sbuf *sb, uint64_t v);
void pk__sb_puti(struct pk__sbuf *sb, int64_t v);
/* Appends the bytes as decimal numbers joined by commas ("1,22,255"), led
 * by a comma when lead_comma is set and n > 0: one reservation, no call per byte. */
void pk__sb_byte_list(struct pk__sbuf *sb, const uint8_t *d, size_t n, bool lead_comma);
/* Appends Latin-1 bytes with io_lib's escapes for a string quoted by quote
 * (pk__txt_char_escaped with latin1_only), copying unescaped runs whole. */
void pk__sb_latin1_escaped(struct pk__sbuf *sb, const uint8_t *d, size_t n, char quote);
void pk__sb_spaces(struct pk__sbuf *sb, size_t n);
/* Appends a code point as UTF-8. */
void pk__sb_utf8(struct pk__sbuf *sb, uint32_t cp);

/* Erlang's character classes (Latin-1 letters count, as in erl_scan) and
 * reserved words (text_chars.c), shared by the scanner and the printers. */
static inline bool pk__txt_lower_start(uint32_t c)
{
        return (c >= 'a' && c <= 'z') || (c >= 0xDF && c <= 0xFF && c != 0xF7);
}
static inline bool pk__txt_upper_start(uint32_t c)
{
        return (c >= 'A' && c <= 'Z') || c == '_' || (c >= 0xC0 && c <= 0xDE && c != 0xD7);
}
static inline bool pk__txt_name_char(uint32_t c)
{
        return pk__txt_lower_start(c) || pk__txt_upper_start(c) || (c >= '0' && c <= '9') ||
               c == '@';
}
/* True for the words an unquoted atom may not be (erl_scan:reserved_word/1). */
bool pk__txt_reserved(const char *s, size_t n);

/* Writes an atom as io_lib's ~w does (quoted when needed, code points above
 * 255 escaped as \x{HEX}). */
void pk__txt_atom(struct pk__sbuf *sb, const char *name, size_t len);
/* Writes a float as float_to_list(F, [short]). */
void pk__txt_float(struct pk__sbuf *sb, double f);
/* Writes an INT or BIG term in decimal. */
void pk__txt_integer(struct pk__sbuf *sb, const struct pk_term *t);
/* Writes any term as ~w (iteratively: no recursion on depth). */
int pk__txt_term(struct pk__sbuf *sb, const struct pk_term *t);
/* Writes one character of a quoted string or atom with io_lib's escapes;
 * latin1_only escapes code points above 255 as \x{HEX}. */
void pk__txt_char_escaped(struct pk__sbuf *sb, uint32_t c, char quote, bool latin1_only);

/* A term type the pattern code uses for holes (~i, _, ...); never escapes
 * this layer.  v.i holds the hole's index. */
#define PK__TERM_HOLE 0xE0

/* Hook the pattern code gives the parser: called for "~c" (c the directive
 * letter) and for a bare "_" (c == '_').  Fills *out; returns 0 or a
 * negative code. */
typedef int (*pk__hole_fn)(void *ctx, char directive, struct pk_term *out);

struct pk__parse_cfg {
        uint32_t max_depth;
        uint32_t max_int_digits;
        size_t max_binary; /* bytes of one binary literal */
        bool no_dot;       /* one term, no final '.', nothing after it */
        pk__hole_fn hole;  /* NULL outside patterns */
        void *hole_ctx;
};

int pk__parse(pk_arena *a, const char *text, size_t len, const struct pk__parse_cfg *cfg,
              struct pk_term **ret_term, size_t *ret_used, struct pk_etf_text_error *reterr);

#endif
