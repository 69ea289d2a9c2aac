/* SPDX-License-Identifier: MIT */
/* The scanner of the text parser (erl_scan's share): characters and
 * escapes, numbers, atoms, strings, pids, ports, refs and exports, turned
 * into tokens.  Quoted literals meet their limits as they grow. */
#include "text-parse.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char nonode[] = "nonode@nohost";

/* ---- errors ---- */

__attribute__((format(printf, 4, 5))) int pk__tp_fail(struct parser *p, size_t at, int code,
                                                      const char *fmt, ...)
{
        struct pk_etf_text_error *e = p->err;
        if (!e || e->message[0])
                return code;
        if (at > p->len)
                at = p->len;
        uint32_t line = 1, col = 1;
        for (size_t i = 0; i < at; i++) {
                if (p->s[i] == '\n') {
                        line++;
                        col = 1;
                } else if ((p->s[i] & 0xC0) != 0x80) {
                        col++;
                }
        }
        e->offset = at;
        e->line = line;
        e->column = col;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->message, sizeof(e->message), fmt, ap);
        va_end(ap);
        if (!e->message[0])
                snprintf(e->message, sizeof(e->message), "%s", pk_strerror(code));
        return code;
}

int pk__tp_fail_alloc(struct parser *p, size_t at)
{
        int code = pk_arena_last_error(p->a);
        if (code == 0)
                code = -ENOMEM;
        return pk__tp_fail(p, at, code, "%s",
                           code == PK_ETERMSIZE ? "term larger than the size limit"
                                                : "out of memory");
}

/* ---- scratch stacks ---- */

static int push_cp(struct parser *p, uint32_t c, size_t at)
{
        if (p->cpn >= p->cp_max) {
                if (p->cp_code == PK_EATOMLEN)
                        return pk__tp_fail(p, at, PK_EATOMLEN, "atom longer than 255 characters");
                return pk__tp_fail(p, at, PK_ETERMSIZE,
                                   "%s longer than the size limit (%zu characters)",
                                   p->str_max ? "binary string" : "string", p->cp_max);
        }
        if (pk__array_grow((void **)&p->cps, &p->cpcap, p->cpn + 1, sizeof(*p->cps), 16) < 0)
                return pk__tp_fail(p, at, -ENOMEM, "out of memory");
        p->cps[p->cpn++] = c;
        return 0;
}

/* ---- characters ---- */

static int peekc(const struct parser *p, size_t ahead)
{
        return p->pos + ahead < p->len ? p->s[p->pos + ahead] : -1;
}

static bool is_blank(int c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

void pk__scan_skip_blanks(struct parser *p)
{
        while (!pk__scan_at_end(p)) {
                int c = p->s[p->pos];
                if (is_blank(c)) {
                        p->pos++;
                } else if (c == '%') {
                        while (!pk__scan_at_end(p) && p->s[p->pos] != '\n')
                                p->pos++;
                } else {
                        break;
                }
        }
}

static bool is_digit(int c)
{
        return c >= '0' && c <= '9';
}

/* Decodes the UTF-8 character at p->pos without consuming it; -1 at the end
 * or on invalid UTF-8 (*n set to 0). */
static int32_t peek_cp(const struct parser *p, size_t *n)
{
        size_t i = p->pos;
        int32_t c = pk__utf8_next(p->s, p->len, &i);
        *n = c < 0 ? 0 : i - p->pos;
        return c;
}

/* ---- escapes, strings, quoted atoms, characters ---- */

/* Reads one character of a quoted literal (after the opening quote) or of
 * a $ literal, handling backslash escapes; returns the code point or a
 * negative error. */
static int64_t read_char(struct parser *p)
{
        size_t at = p->pos;
        if (pk__scan_at_end(p))
                return pk__tp_fail(p, at, PK_ESYNTAX, "unexpected end of input in a literal");
        if (p->s[p->pos] != '\\') {
                size_t n;
                int32_t c = peek_cp(p, &n);
                if (c < 0)
                        return pk__tp_fail(p, at, PK_ESYNTAX, "invalid UTF-8");
                p->pos += n;
                return c;
        }
        p->pos++;
        if (pk__scan_at_end(p))
                return pk__tp_fail(p, at, PK_ESYNTAX, "unexpected end of input after '\\'");
        int c = p->s[p->pos++];
        switch (c) {
        case 'b':
                return '\b';
        case 'd':
                return 127;
        case 'e':
                return 27;
        case 'f':
                return '\f';
        case 'n':
                return '\n';
        case 'r':
                return '\r';
        case 's':
                return ' ';
        case 't':
                return '\t';
        case 'v':
                return '\v';
        case '^': {
                if (pk__scan_at_end(p))
                        return pk__tp_fail(p, at, PK_ESYNTAX,
                                           "unexpected end of input after '\\^'");
                return p->s[p->pos++] & 31; /* as erl_scan: $\^? is 31 too */
        }
        case 'x': {
                int64_t v = 0;
                if (peekc(p, 0) == '{') {
                        p->pos++;
                        int nd = 0;
                        while (!pk__scan_at_end(p) && pk__hexval(p->s[p->pos]) >= 0) {
                                v = v * 16 + pk__hexval(p->s[p->pos++]);
                                if (v > 0x10FFFF)
                                        return pk__tp_fail(p, at, PK_ESYNTAX,
                                                           "character code above 16#10FFFF");
                                nd++;
                        }
                        if (nd == 0 || peekc(p, 0) != '}')
                                return pk__tp_fail(p, at, PK_ESYNTAX, "bad \\x{...} escape");
                        p->pos++;
                        return v;
                }
                for (int i = 0; i < 2; i++) {
                        int h = pk__hexval(peekc(p, 0));
                        if (h < 0)
                                return pk__tp_fail(p, at, PK_ESYNTAX,
                                                   "bad \\x escape: two hex digits");
                        v = v * 16 + h;
                        p->pos++;
                }
                return v;
        }
        default:
                if (c >= '0' && c <= '7') {
                        int64_t v = c - '0';
                        for (int i = 0; i < 2 && peekc(p, 0) >= '0' && peekc(p, 0) <= '7'; i++)
                                v = v * 8 + (p->s[p->pos++] - '0');
                        return v;
                }
                if (c >= 0x80) { /* an escaped non-ASCII character stands for itself */
                        p->pos--;
                        size_t n;
                        int32_t cp = peek_cp(p, &n);
                        if (cp < 0)
                                return pk__tp_fail(p, at, PK_ESYNTAX, "invalid UTF-8");
                        p->pos += n;
                        return cp;
                }
                return c;
        }
}

/* Appends the characters of a quoted literal (p->pos at the opening quote)
 * to p->cps. */
static int read_quoted(struct parser *p, char q)
{
        size_t at = p->pos;
        p->pos++;
        if (q == '"') {
                /* Every character takes at least one byte of the arena (or,
                 * in a binary, at least one bit of it). */
                p->cp_max = p->str_max ? p->str_max : pk__tp_arena_room(p);
                p->cp_code = PK_ETERMSIZE;
        } else {
                p->cp_max = 256; /* one past the longest atom: fails at the 256th */
                p->cp_code = PK_EATOMLEN;
        }
        for (;;) {
                if (pk__scan_at_end(p))
                        return pk__tp_fail(p, at, PK_ESYNTAX, "unterminated %s",
                                           q == '"' ? "string" : "quoted atom");
                if (p->s[p->pos] == (uint8_t)q) {
                        p->pos++;
                        return 0;
                }
                int64_t c = read_char(p);
                if (c < 0)
                        return (int)c;
                int r = push_cp(p, (uint32_t)c, at);
                if (r < 0)
                        return r;
        }
}

/* Makes an atom term from code points; copies the UTF-8 into the arena. */
static int atom_from_cps(struct parser *p, const uint32_t *cps, size_t n, struct pk_term *t,
                         size_t at)
{
        if (n > 255)
                return pk__tp_fail(p, at, PK_EATOMLEN, "atom longer than 255 characters");
        struct pk__sbuf sb = {0};
        for (size_t i = 0; i < n; i++)
                pk__sb_utf8(&sb, cps[i]);
        if (sb.err) {
                pk__sb_free(&sb);
                return pk__tp_fail(p, at, -ENOMEM, "out of memory");
        }
        char *name = pk_arena_memdup(p->a, sb.p ? sb.p : "", sb.len);
        size_t nlen = sb.len;
        pk__sb_free(&sb);
        if (!name)
                return pk__tp_fail_alloc(p, at);
        int r = pk_term_set_atom(t, name, nlen);
        if (r < 0)
                return pk__tp_fail(p, at, r, "%s", pk_strerror(r));
        return 0;
}

static int atom_from_bytes(struct parser *p, const uint8_t *s, size_t n, struct pk_term *t,
                           size_t at)
{
        char *name = pk_arena_memdup(p->a, s, n);
        if (!name)
                return pk__tp_fail_alloc(p, at);
        int r = pk_term_set_atom(t, name, n);
        if (r < 0)
                return pk__tp_fail(p, at, r, "%s", pk_strerror(r));
        return 0;
}

/* ---- numbers ---- */

/* Multiplies the little-endian limbs by m and adds d; grows *n as needed
 * (cap limbs allocated). */
static void limbs_muladd(uint32_t *l, size_t *n, uint32_t m, uint32_t d)
{
        uint64_t carry = d;
        for (size_t i = 0; i < *n; i++) {
                uint64_t v = (uint64_t)l[i] * m + carry;
                l[i] = (uint32_t)v;
                carry = v >> 32;
        }
        if (carry)
                l[(*n)++] = (uint32_t)carry;
}

static int digit_in_base(int c, unsigned base)
{
        int v;
        if (c >= '0' && c <= '9')
                v = c - '0';
        else if (c >= 'a' && c <= 'z')
                v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'Z')
                v = c - 'A' + 10;
        else
                return -1;
        return (unsigned)v < base ? v : -1;
}

/* Scans digits of a base with single '_' between digits; returns the count
 * of digits (0 if none).  Leaves p->pos after them. */
static size_t scan_digits(struct parser *p, unsigned base)
{
        size_t n = 0;
        while (!pk__scan_at_end(p)) {
                int c = p->s[p->pos];
                if (digit_in_base(c, base) >= 0) {
                        n++;
                        p->pos++;
                } else if (c == '_' && n > 0 && digit_in_base(peekc(p, 1), base) >= 0) {
                        p->pos++;
                } else {
                        break;
                }
        }
        return n;
}

/* Builds an integer term from the digits in s[from..to) (with '_'). */
static int make_integer(struct parser *p, size_t from, size_t to, size_t ndigits, unsigned base,
                        struct pk_term *t)
{
        uint32_t max = p->cfg->max_int_digits;
        if (ndigits > max)
                return pk__tp_fail(p, from, PK_EBIGNUM, "integer literal longer than %u digits",
                                   max);
        /* Most literals fit an int64: no scratch limbs, nothing in the arena. */
        if (ndigits <= 12) {
                uint64_t v = 0; /* 36^12 < 2^63 */
                for (size_t i = from; i < to; i++) {
                        int d = digit_in_base(p->s[i], base);
                        if (d >= 0)
                                v = v * base + (uint64_t)d;
                }
                pk_term_set_int(t, (int64_t)v);
                return 0;
        }
        /* Bits needed: ndigits * log2(base) <= ndigits * 6. */
        size_t cap = ndigits * 6 / 32 + 2;
        uint32_t *l = calloc(cap, sizeof(*l));
        if (!l)
                return pk__tp_fail(p, from, -ENOMEM, "out of memory");
        size_t n = 0;
        uint32_t chunk = 0, mul = 1;
        for (size_t i = from; i < to; i++) {
                int d = digit_in_base(p->s[i], base);
                if (d < 0)
                        continue;
                chunk = chunk * base + (uint32_t)d;
                mul *= base;
                if (mul > UINT32_MAX / 36 / 36) {
                        limbs_muladd(l, &n, mul, chunk);
                        chunk = 0;
                        mul = 1;
                }
        }
        if (mul > 1)
                limbs_muladd(l, &n, mul, chunk);
        size_t nbytes = n * 4;
        uint8_t *bytes = pk_arena_alloc(p->a, nbytes ? nbytes : 1);
        if (!bytes) {
                free(l);
                return pk__tp_fail_alloc(p, from);
        }
        for (size_t i = 0; i < nbytes; i++)
                bytes[i] = (uint8_t)(l[i / 4] >> (8 * (i % 4)));
        free(l);
        pk_term_set_big(t, bytes, nbytes, 0);
        return 0;
}

/* Reads a number at p->pos (a digit): integer, based integer or float. */
static int read_number(struct parser *p, struct token *tok)
{
        size_t from = p->pos;
        size_t nd = scan_digits(p, 10);
        if (peekc(p, 0) == '#') {
                /* Base#Digits: the base is the decimal prefix. */
                unsigned base = 0;
                for (size_t i = from; i < p->pos; i++) {
                        if (p->s[i] == '_')
                                continue;
                        base = base * 10 + (unsigned)(p->s[i] - '0');
                        if (base > 36)
                                break;
                }
                if (base < 2 || base > 36)
                        return pk__tp_fail(p, from, PK_ESYNTAX, "integer base must be 2..36");
                p->pos++;
                size_t dfrom = p->pos;
                size_t n = scan_digits(p, base);
                if (n == 0)
                        return pk__tp_fail(p, from, PK_ESYNTAX, "no digits after '%u#'", base);
                if (!pk__scan_at_end(p) && (isalnum(p->s[p->pos]) || p->s[p->pos] == '_'))
                        return pk__tp_fail(p, p->pos, PK_ESYNTAX, "bad digit for base %u", base);
                tok->type = T_INT;
                return make_integer(p, dfrom, p->pos, n, base, &tok->term);
        }
        if (peekc(p, 0) == '.' && is_digit(peekc(p, 1))) {
                p->pos++;
                scan_digits(p, 10);
                if (peekc(p, 0) == 'e' || peekc(p, 0) == 'E') {
                        size_t save = p->pos;
                        p->pos++;
                        if (peekc(p, 0) == '+' || peekc(p, 0) == '-')
                                p->pos++;
                        if (scan_digits(p, 10) == 0)
                                p->pos = save;
                }
                size_t n = p->pos - from;
                char *buf = malloc(n + 1);
                if (!buf)
                        return pk__tp_fail(p, from, -ENOMEM, "out of memory");
                size_t k = 0;
                for (size_t i = from; i < p->pos; i++)
                        if (p->s[i] != '_')
                                buf[k++] = (char)p->s[i];
                buf[k] = '\0';
                double v = strtod(buf, NULL);
                free(buf);
                if (!isfinite(v))
                        return pk__tp_fail(p, from, PK_ESYNTAX, "float out of range");
                tok->type = T_FLOAT;
                pk_term_set_float(&tok->term, v);
                return 0;
        }
        tok->type = T_INT;
        return make_integer(p, from, p->pos, nd, 10, &tok->term);
}

/* ---- pids, ports, refs ---- */

static int read_uint(struct parser *p, uint64_t max, uint64_t *ret, const char *what)
{
        size_t at = p->pos;
        uint64_t v = 0;
        if (!is_digit(peekc(p, 0)))
                return pk__tp_fail(p, at, PK_ESYNTAX, "expected a number in %s", what);
        while (is_digit(peekc(p, 0))) {
                uint64_t d = (uint64_t)(p->s[p->pos++] - '0');
                if (v > (max - d) / 10)
                        return pk__tp_fail(p, at, PK_ESYNTAX, "number out of range in %s", what);
                v = v * 10 + d;
        }
        *ret = v;
        return 0;
}

static int expect_char(struct parser *p, char c, const char *what)
{
        if (peekc(p, 0) != (uint8_t)c)
                return pk__tp_fail(p, p->pos, PK_ESYNTAX, "expected '%c' in %s", c, what);
        p->pos++;
        return 0;
}

/* Reads a node name for the remote forms: a bare or quoted atom. */
static int read_node(struct parser *p, const char **name, uint16_t *len, const char *what)
{
        size_t at = p->pos;
        struct pk_term t = {0}; /* (pk__tp_fail is in another file: the analyzer cannot see it
                                   return a negative code) */
        int r;
        if (peekc(p, 0) == '\'') {
                p->cpn = 0;
                if ((r = read_quoted(p, '\'')) < 0)
                        return r;
                r = atom_from_cps(p, p->cps, p->cpn, &t, at);
        } else {
                size_t n;
                int32_t c = peek_cp(p, &n);
                if (c < 0 || !pk__txt_lower_start((uint32_t)c))
                        return pk__tp_fail(p, at, PK_ESYNTAX, "expected a node name in %s", what);
                while ((c = peek_cp(p, &n)) >= 0 && pk__txt_name_char((uint32_t)c))
                        p->pos += n;
                r = atom_from_bytes(p, p->s + at, p->pos - at, &t, at);
        }
        if (r < 0)
                return r;
        *name = t.v.atom.name;
        *len = t.v.atom.len;
        return 0;
}

/* <0.ID.SERIAL>; p->pos at '<'. */
static int read_local_pid(struct parser *p, struct pk_term *t)
{
        size_t at = p->pos;
        /* Initialised although read_uint() sets each before it returns 0:
         * pk__tp_fail() is variadic, so the analyzer does not see it return < 0. */
        uint64_t a = 0, id = 0, serial = 0;
        int r;
        p->pos++;
        if ((r = read_uint(p, UINT32_MAX, &a, "a pid")) < 0 ||
            (r = expect_char(p, '.', "a pid")) < 0 ||
            (r = read_uint(p, UINT32_MAX, &id, "a pid")) < 0 ||
            (r = expect_char(p, '.', "a pid")) < 0 ||
            (r = read_uint(p, UINT32_MAX, &serial, "a pid")) < 0 ||
            (r = expect_char(p, '>', "a pid")) < 0)
                return r;
        if (a != 0)
                return pk__tp_fail(
                    p, at, PK_ESYNTAX,
                    "a pid of another node must be written #Pid<Node.ID.Serial.Creation>");
        t->type = PK_TERM_PID;
        t->v.pid.node = nonode;
        t->v.pid.node_len = sizeof(nonode) - 1;
        t->v.pid.id = (uint32_t)id;
        t->v.pid.serial = (uint32_t)serial;
        t->v.pid.creation = 0;
        return 0;
}

static bool starts(const struct parser *p, const char *s)
{
        size_t n = strlen(s);
        return p->len - p->pos >= n && memcmp(p->s + p->pos, s, n) == 0;
}

/* #Pid<...>, #Port<...>, #Ref<...>; p->pos at '#'. */
static int read_hash_form(struct parser *p, struct pk_term *t)
{
        size_t at = p->pos;
        int r;
        uint64_t v = 0; /* read_uint() sets it; initialised as in read_local_pid() */
        if (starts(p, "#Fun<"))
                return pk__tp_fail(p, at, PK_ESYNTAX, "local funs cannot be written as text");
        if (starts(p, "#Pid<")) {
                p->pos += 5;
                const char *node = nonode; /* read_node() sets it, see read_local_pid() */
                uint16_t nlen = sizeof(nonode) - 1;
                uint64_t id = 0, serial = 0, creation = 0;
                if ((r = read_node(p, &node, &nlen, "a pid")) < 0 ||
                    (r = expect_char(p, '.', "a pid")) < 0 ||
                    (r = read_uint(p, UINT32_MAX, &id, "a pid")) < 0 ||
                    (r = expect_char(p, '.', "a pid")) < 0 ||
                    (r = read_uint(p, UINT32_MAX, &serial, "a pid")) < 0 ||
                    (r = expect_char(p, '.', "a pid")) < 0 ||
                    (r = read_uint(p, UINT32_MAX, &creation, "a pid")) < 0 ||
                    (r = expect_char(p, '>', "a pid")) < 0)
                        return r;
                t->type = PK_TERM_PID;
                t->v.pid.node = node;
                t->v.pid.node_len = nlen;
                t->v.pid.id = (uint32_t)id;
                t->v.pid.serial = (uint32_t)serial;
                t->v.pid.creation = (uint32_t)creation;
                return 0;
        }
        if (starts(p, "#Port<")) {
                p->pos += 6;
                const char *node = nonode;
                uint16_t nlen = sizeof(nonode) - 1;
                uint64_t id = 0, creation = 0;
                if (is_digit(peekc(p, 0))) {
                        if ((r = read_uint(p, 0, &v, "a port")) < 0)
                                return r;
                        if ((r = expect_char(p, '.', "a port")) < 0 ||
                            (r = read_uint(p, UINT64_MAX, &id, "a port")) < 0)
                                return r;
                } else {
                        if ((r = read_node(p, &node, &nlen, "a port")) < 0 ||
                            (r = expect_char(p, '.', "a port")) < 0 ||
                            (r = read_uint(p, UINT64_MAX, &id, "a port")) < 0 ||
                            (r = expect_char(p, '.', "a port")) < 0 ||
                            (r = read_uint(p, UINT32_MAX, &creation, "a port")) < 0)
                                return r;
                }
                if ((r = expect_char(p, '>', "a port")) < 0)
                        return r;
                t->type = PK_TERM_PORT;
                t->v.port.node = node;
                t->v.port.node_len = nlen;
                t->v.port.id = id;
                t->v.port.creation = (uint32_t)creation;
                return 0;
        }
        if (starts(p, "#Ref<")) {
                p->pos += 5;
                const char *node = nonode;
                uint16_t nlen = sizeof(nonode) - 1;
                uint64_t creation = 0;
                if (is_digit(peekc(p, 0))) {
                        if ((r = read_uint(p, 0, &v, "a reference")) < 0)
                                return r;
                } else {
                        if ((r = read_node(p, &node, &nlen, "a reference")) < 0 ||
                            (r = expect_char(p, '.', "a reference")) < 0 ||
                            (r = read_uint(p, UINT32_MAX, &creation, "a reference")) < 0)
                                return r;
                }
                uint32_t words[5];
                unsigned n = 0;
                while (peekc(p, 0) == '.') {
                        p->pos++;
                        if (n == 5)
                                return pk__tp_fail(p, at, PK_ESYNTAX,
                                                   "a reference has at most 5 words");
                        if ((r = read_uint(p, UINT32_MAX, &v, "a reference")) < 0)
                                return r;
                        words[n++] = (uint32_t)v;
                }
                if ((r = expect_char(p, '>', "a reference")) < 0)
                        return r;
                if (n == 0)
                        return pk__tp_fail(p, at, PK_ESYNTAX,
                                           "a reference needs at least one word");
                uint32_t *ids = pk_arena_alloc(p->a, n * sizeof(*ids));
                if (!ids)
                        return pk__tp_fail_alloc(p, at);
                for (unsigned i = 0; i < n; i++)
                        ids[i] = words[n - 1 - i];
                t->type = PK_TERM_REF;
                t->v.ref.node = node;
                t->v.ref.node_len = nlen;
                t->v.ref.creation = (uint32_t)creation;
                t->v.ref.len = (uint16_t)n;
                t->v.ref.ids = ids;
                return 0;
        }
        return pk__tp_fail(p, at, PK_ESYNTAX, "unexpected '#'");
}

/* ---- tokens ---- */

int pk__scan_next(struct parser *p, struct token *tok);

/* fun M:F/A, after the word fun. */
static int read_fun(struct parser *p, size_t at, struct pk_term *t)
{
        struct token m, f, ar;
        int r;
        if ((r = pk__scan_next(p, &m)) < 0)
                return r;
        if (m.type != T_ATOM)
                return pk__tp_fail(p, m.start, PK_ESYNTAX, "expected a module atom after 'fun'");
        if ((r = pk__scan_next(p, &f)) < 0)
                return r;
        if (f.type != T_PUNCT || f.punct != ':')
                return pk__tp_fail(p, f.start, PK_ESYNTAX, "expected ':' in fun M:F/A");
        if ((r = pk__scan_next(p, &f)) < 0)
                return r;
        if (f.type != T_ATOM)
                return pk__tp_fail(p, f.start, PK_ESYNTAX, "expected a function atom in fun M:F/A");
        if ((r = pk__scan_next(p, &ar)) < 0)
                return r;
        if (ar.type != T_PUNCT || ar.punct != '/')
                return pk__tp_fail(p, ar.start, PK_ESYNTAX, "expected '/' in fun M:F/A");
        if ((r = pk__scan_next(p, &ar)) < 0)
                return r;
        if (ar.type != T_INT || ar.term.type != PK_TERM_INT || ar.term.v.i < 0 || ar.term.v.i > 255)
                return pk__tp_fail(p, ar.start, PK_ESYNTAX, "fun arity must be an integer 0..255");
        (void)at;
        t->type = PK_TERM_EXPORT;
        t->v.mfa.module = m.term.v.atom.name;
        t->v.mfa.module_len = m.term.v.atom.len;
        t->v.mfa.function = f.term.v.atom.name;
        t->v.mfa.function_len = f.term.v.atom.len;
        t->v.mfa.arity = (uint8_t)ar.term.v.i;
        return 0;
}

int pk__scan_next(struct parser *p, struct token *tok)
{
        if (p->has_peek) {
                *tok = p->peeked;
                p->has_peek = false;
                return 0;
        }
        pk__scan_skip_blanks(p);
        memset(tok, 0, sizeof(*tok));
        tok->start = p->pos;
        if (pk__scan_at_end(p)) {
                tok->type = T_EOF;
                return 0;
        }
        size_t at = p->pos;
        int c = p->s[p->pos];
        int c1 = peekc(p, 1);
        if (is_digit(c))
                return read_number(p, tok);
        switch (c) {
        case '{':
        case '}':
        case '[':
        case ']':
        case '|':
        case ',':
        case ':':
        case '/':
        case '-':
        case '+':
                p->pos++;
                tok->type = T_PUNCT;
                tok->punct = c;
                return 0;
        case '=':
                if (c1 == '>') {
                        p->pos += 2;
                        tok->type = T_PUNCT;
                        tok->punct = P_ARROW;
                        return 0;
                }
                return pk__tp_fail(p, at, PK_ESYNTAX, "unexpected '='");
        case '>':
                if (c1 == '>') {
                        p->pos += 2;
                        tok->type = T_PUNCT;
                        tok->punct = P_BINCLOSE;
                        return 0;
                }
                return pk__tp_fail(p, at, PK_ESYNTAX, "unexpected '>'");
        case '<':
                if (c1 == '<') {
                        p->pos += 2;
                        tok->type = T_PUNCT;
                        tok->punct = P_BINOPEN;
                        return 0;
                }
                tok->type = T_VALUE;
                return read_local_pid(p, &tok->term);
        case '#':
                if (c1 == '{') {
                        p->pos += 2;
                        tok->type = T_PUNCT;
                        tok->punct = P_MAPOPEN;
                        return 0;
                }
                tok->type = T_VALUE;
                return read_hash_form(p, &tok->term);
        case '.': {
                int n = c1;
                if (n < 0 || is_blank(n) || n == '%') {
                        p->pos++;
                        tok->type = T_DOT;
                        return 0;
                }
                /* A control character after the dot is what is wrong (erl_scan
                 * would take it as a blank; this parser does not): name it. */
                if (n < 0x20 || n == 0x7F)
                        return pk__tp_fail(p, at + 1, PK_ESYNTAX,
                                           "unexpected character U+%04X after '.'", (unsigned)n);
                return pk__tp_fail(p, at, PK_ESYNTAX, "unexpected '.'");
        }
        case '$': {
                p->pos++;
                int64_t v = read_char(p);
                if (v < 0)
                        return (int)v;
                tok->type = T_INT;
                pk_term_set_int(&tok->term, v);
                return 0;
        }
        case '"': {
                p->cpn = 0;
                int r;
                do {
                        if ((r = read_quoted(p, '"')) < 0)
                                return r;
                        pk__scan_skip_blanks(p);
                } while (peekc(p, 0) == '"');
                tok->type = T_STRING;
                return 0;
        }
        case '\'': {
                p->cpn = 0;
                int r = read_quoted(p, '\'');
                if (r < 0)
                        return r;
                tok->type = T_ATOM;
                return atom_from_cps(p, p->cps, p->cpn, &tok->term, at);
        }
        case '~':
                if (p->cfg->hole && c1 > 0 && ((c1 >= 'a' && c1 <= 'z') || c1 == '_')) {
                        p->pos += 2;
                        tok->type = T_VALUE;
                        int r = p->cfg->hole(p->cfg->hole_ctx, (char)c1, &tok->term);
                        return r < 0 ? pk__tp_fail(p, at, r, "bad directive '~%c'", c1) : 0;
                }
                return pk__tp_fail(p, at, PK_ESYNTAX, "unexpected '~'");
        default:
                break;
        }
        size_t n;
        int32_t cp = peek_cp(p, &n);
        if (cp < 0)
                return pk__tp_fail(p, at, PK_ESYNTAX, "invalid UTF-8");
        if (pk__txt_lower_start((uint32_t)cp)) {
                while ((cp = peek_cp(p, &n)) >= 0 && pk__txt_name_char((uint32_t)cp))
                        p->pos += n;
                size_t len = p->pos - at;
                if (len == 3 && memcmp(p->s + at, "fun", 3) == 0) {
                        tok->type = T_VALUE;
                        return read_fun(p, at, &tok->term);
                }
                if (pk__txt_reserved((const char *)p->s + at, len))
                        return pk__tp_fail(p, at, PK_ESYNTAX, "reserved word '%.*s' must be quoted",
                                           (int)len, (const char *)p->s + at);
                tok->type = T_ATOM;
                return atom_from_bytes(p, p->s + at, len, &tok->term, at);
        }
        if (pk__txt_upper_start((uint32_t)cp)) {
                while ((cp = peek_cp(p, &n)) >= 0 && pk__txt_name_char((uint32_t)cp))
                        p->pos += n;
                if (p->cfg->hole && p->pos - at == 1 && p->s[at] == '_') {
                        tok->type = T_VALUE;
                        int r = p->cfg->hole(p->cfg->hole_ctx, '_', &tok->term);
                        return r < 0 ? pk__tp_fail(p, at, r, "bad wildcard") : 0;
                }
                return pk__tp_fail(p, at, PK_ESYNTAX, "variable '%.*s' is not a term",
                                   (int)(p->pos - at), (const char *)p->s + at);
        }
        if (cp < 0x80 && cp > ' ' && cp < 0x7F)
                return pk__tp_fail(p, at, PK_ESYNTAX, "unexpected '%c'", (char)cp);
        return pk__tp_fail(p, at, PK_ESYNTAX, "unexpected character U+%04X", (unsigned)cp);
}

int pk__scan_peek(struct parser *p, struct token *tok)
{
        if (!p->has_peek) {
                int r = pk__scan_next(p, &p->peeked);
                if (r < 0)
                        return r;
                p->has_peek = true;
        }
        *tok = p->peeked;
        return 0;
}
