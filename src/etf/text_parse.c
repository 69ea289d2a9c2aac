/* SPDX-License-Identifier: MIT */
/* Parses Erlang term literals (the subset file:consult/1 reads) into terms
 * in an arena.  Containers are built with an explicit frame stack and a
 * value stack, so hostile nesting meets the depth limit, never the C stack;
 * every literal has a size limit before anything is allocated for it. */
#include "text-internal.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_DEPTH 1000u
#define DEFAULT_MAX_INT_DIGITS 10000u
#define DEFAULT_MAX_BINARY (16u << 20)

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
};

static const char nonode[] = "nonode@nohost";

/* ---- errors ---- */

static __attribute__((format(printf, 4, 5))) int fail(struct parser *p, size_t at, int code,
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

static int fail_alloc(struct parser *p, size_t at)
{
        int code = pk_arena_last_error(p->a);
        if (code == 0)
                code = -ENOMEM;
        return fail(p, at, code, "%s",
                    code == PK_ETERMSIZE ? "term larger than the size limit" : "out of memory");
}

/* ---- scratch stacks ---- */

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
        if (need <= *cap)
                return 0;
        size_t nc = *cap ? *cap : 16;
        while (nc < need) {
                if (nc > SIZE_MAX / 2 / elem)
                        return -ENOMEM;
                nc *= 2;
        }
        void *n = realloc(*arr, nc * elem);
        if (!n)
                return -ENOMEM;
        *arr = n;
        *cap = nc;
        return 0;
}

static int push_value(struct parser *p, const struct pk_term *t, size_t at)
{
        if (grow((void **)&p->vs, &p->vcap, p->vn + 1, sizeof(*p->vs)) < 0)
                return fail(p, at, -ENOMEM, "out of memory");
        p->vs[p->vn++] = *t;
        return 0;
}

/* Bytes the arena can still hand out.  A literal that cannot fit in them
 * fails as it grows, before memory outside the arena is spent on it. */
static size_t arena_room(const struct parser *p)
{
        return p->a->max_bytes - p->a->handed_out;
}

static int push_cp(struct parser *p, uint32_t c, size_t at)
{
        if (p->cpn >= p->cp_max) {
                if (p->cp_code == PK_EATOMLEN)
                        return fail(p, at, PK_EATOMLEN, "atom longer than 255 characters");
                return fail(p, at, PK_ETERMSIZE, "%s longer than the size limit (%zu characters)",
                            p->str_max ? "binary string" : "string", p->cp_max);
        }
        if (grow((void **)&p->cps, &p->cpcap, p->cpn + 1, sizeof(*p->cps)) < 0)
                return fail(p, at, -ENOMEM, "out of memory");
        p->cps[p->cpn++] = c;
        return 0;
}

/* ---- characters ---- */

static bool at_end(const struct parser *p)
{
        return p->pos >= p->len;
}

static int peekc(const struct parser *p, size_t ahead)
{
        return p->pos + ahead < p->len ? p->s[p->pos + ahead] : -1;
}

static bool is_blank(int c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static void skip_blanks(struct parser *p)
{
        while (!at_end(p)) {
                int c = p->s[p->pos];
                if (is_blank(c)) {
                        p->pos++;
                } else if (c == '%') {
                        while (!at_end(p) && p->s[p->pos] != '\n')
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

static int hexval(int c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Reads one character of a quoted literal (after the opening quote) or of
 * a $ literal, handling backslash escapes; returns the code point or a
 * negative error. */
static int64_t read_char(struct parser *p)
{
        size_t at = p->pos;
        if (at_end(p))
                return fail(p, at, PK_ESYNTAX, "unexpected end of input in a literal");
        if (p->s[p->pos] != '\\') {
                size_t n;
                int32_t c = peek_cp(p, &n);
                if (c < 0)
                        return fail(p, at, PK_ESYNTAX, "invalid UTF-8");
                p->pos += n;
                return c;
        }
        p->pos++;
        if (at_end(p))
                return fail(p, at, PK_ESYNTAX, "unexpected end of input after '\\'");
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
                if (at_end(p))
                        return fail(p, at, PK_ESYNTAX, "unexpected end of input after '\\^'");
                return p->s[p->pos++] & 31; /* as erl_scan: $\^? is 31 too */
        }
        case 'x': {
                int64_t v = 0;
                if (peekc(p, 0) == '{') {
                        p->pos++;
                        int nd = 0;
                        while (!at_end(p) && hexval(p->s[p->pos]) >= 0) {
                                v = v * 16 + hexval(p->s[p->pos++]);
                                if (v > 0x10FFFF)
                                        return fail(p, at, PK_ESYNTAX,
                                                    "character code above 16#10FFFF");
                                nd++;
                        }
                        if (nd == 0 || peekc(p, 0) != '}')
                                return fail(p, at, PK_ESYNTAX, "bad \\x{...} escape");
                        p->pos++;
                        return v;
                }
                for (int i = 0; i < 2; i++) {
                        int h = hexval(peekc(p, 0));
                        if (h < 0)
                                return fail(p, at, PK_ESYNTAX, "bad \\x escape: two hex digits");
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
                                return fail(p, at, PK_ESYNTAX, "invalid UTF-8");
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
                p->cp_max = p->str_max ? p->str_max : arena_room(p);
                p->cp_code = PK_ETERMSIZE;
        } else {
                p->cp_max = 256; /* one past the longest atom: fails at the 256th */
                p->cp_code = PK_EATOMLEN;
        }
        for (;;) {
                if (at_end(p))
                        return fail(p, at, PK_ESYNTAX, "unterminated %s",
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
                return fail(p, at, PK_EATOMLEN, "atom longer than 255 characters");
        struct pk__sbuf sb = {0};
        for (size_t i = 0; i < n; i++)
                pk__sb_utf8(&sb, cps[i]);
        if (sb.err) {
                pk__sb_free(&sb);
                return fail(p, at, -ENOMEM, "out of memory");
        }
        char *name = pk_arena_memdup(p->a, sb.p ? sb.p : "", sb.len);
        size_t nlen = sb.len;
        pk__sb_free(&sb);
        if (!name)
                return fail_alloc(p, at);
        int r = pk_term_set_atom(t, name, nlen);
        if (r < 0)
                return fail(p, at, r, "%s", pk_strerror(r));
        return 0;
}

static int atom_from_bytes(struct parser *p, const uint8_t *s, size_t n, struct pk_term *t,
                           size_t at)
{
        char *name = pk_arena_memdup(p->a, s, n);
        if (!name)
                return fail_alloc(p, at);
        int r = pk_term_set_atom(t, name, n);
        if (r < 0)
                return fail(p, at, r, "%s", pk_strerror(r));
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
        while (!at_end(p)) {
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
                return fail(p, from, PK_EBIGNUM, "integer literal longer than %u digits", max);
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
                return fail(p, from, -ENOMEM, "out of memory");
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
                return fail_alloc(p, from);
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
                        return fail(p, from, PK_ESYNTAX, "integer base must be 2..36");
                p->pos++;
                size_t dfrom = p->pos;
                size_t n = scan_digits(p, base);
                if (n == 0)
                        return fail(p, from, PK_ESYNTAX, "no digits after '%u#'", base);
                if (!at_end(p) && (isalnum(p->s[p->pos]) || p->s[p->pos] == '_'))
                        return fail(p, p->pos, PK_ESYNTAX, "bad digit for base %u", base);
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
                        return fail(p, from, -ENOMEM, "out of memory");
                size_t k = 0;
                for (size_t i = from; i < p->pos; i++)
                        if (p->s[i] != '_')
                                buf[k++] = (char)p->s[i];
                buf[k] = '\0';
                double v = strtod(buf, NULL);
                free(buf);
                if (!isfinite(v))
                        return fail(p, from, PK_ESYNTAX, "float out of range");
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
                return fail(p, at, PK_ESYNTAX, "expected a number in %s", what);
        while (is_digit(peekc(p, 0))) {
                uint64_t d = (uint64_t)(p->s[p->pos++] - '0');
                if (v > (max - d) / 10)
                        return fail(p, at, PK_ESYNTAX, "number out of range in %s", what);
                v = v * 10 + d;
        }
        *ret = v;
        return 0;
}

static int expect_char(struct parser *p, char c, const char *what)
{
        if (peekc(p, 0) != (uint8_t)c)
                return fail(p, p->pos, PK_ESYNTAX, "expected '%c' in %s", c, what);
        p->pos++;
        return 0;
}

/* Reads a node name for the remote forms: a bare or quoted atom. */
static int read_node(struct parser *p, const char **name, uint16_t *len, const char *what)
{
        size_t at = p->pos;
        struct pk_term t;
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
                        return fail(p, at, PK_ESYNTAX, "expected a node name in %s", what);
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
         * fail() is variadic, so the analyzer does not see it return < 0. */
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
                return fail(p, at, PK_ESYNTAX,
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
                return fail(p, at, PK_ESYNTAX, "local funs cannot be written as text");
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
                                return fail(p, at, PK_ESYNTAX, "a reference has at most 5 words");
                        if ((r = read_uint(p, UINT32_MAX, &v, "a reference")) < 0)
                                return r;
                        words[n++] = (uint32_t)v;
                }
                if ((r = expect_char(p, '>', "a reference")) < 0)
                        return r;
                if (n == 0)
                        return fail(p, at, PK_ESYNTAX, "a reference needs at least one word");
                uint32_t *ids = pk_arena_alloc(p->a, n * sizeof(*ids));
                if (!ids)
                        return fail_alloc(p, at);
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
        return fail(p, at, PK_ESYNTAX, "unexpected '#'");
}

/* ---- tokens ---- */

static int next_token(struct parser *p, struct token *tok);

/* fun M:F/A, after the word fun. */
static int read_fun(struct parser *p, size_t at, struct pk_term *t)
{
        struct token m, f, ar;
        int r;
        if ((r = next_token(p, &m)) < 0)
                return r;
        if (m.type != T_ATOM)
                return fail(p, m.start, PK_ESYNTAX, "expected a module atom after 'fun'");
        if ((r = next_token(p, &f)) < 0)
                return r;
        if (f.type != T_PUNCT || f.punct != ':')
                return fail(p, f.start, PK_ESYNTAX, "expected ':' in fun M:F/A");
        if ((r = next_token(p, &f)) < 0)
                return r;
        if (f.type != T_ATOM)
                return fail(p, f.start, PK_ESYNTAX, "expected a function atom in fun M:F/A");
        if ((r = next_token(p, &ar)) < 0)
                return r;
        if (ar.type != T_PUNCT || ar.punct != '/')
                return fail(p, ar.start, PK_ESYNTAX, "expected '/' in fun M:F/A");
        if ((r = next_token(p, &ar)) < 0)
                return r;
        if (ar.type != T_INT || ar.term.type != PK_TERM_INT || ar.term.v.i < 0 || ar.term.v.i > 255)
                return fail(p, ar.start, PK_ESYNTAX, "fun arity must be an integer 0..255");
        (void)at;
        t->type = PK_TERM_EXPORT;
        t->v.export.module = m.term.v.atom.name;
        t->v.export.module_len = m.term.v.atom.len;
        t->v.export.function = f.term.v.atom.name;
        t->v.export.function_len = f.term.v.atom.len;
        t->v.export.arity = (uint8_t)ar.term.v.i;
        return 0;
}

static int next_token(struct parser *p, struct token *tok)
{
        if (p->has_peek) {
                *tok = p->peeked;
                p->has_peek = false;
                return 0;
        }
        skip_blanks(p);
        memset(tok, 0, sizeof(*tok));
        tok->start = p->pos;
        if (at_end(p)) {
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
                return fail(p, at, PK_ESYNTAX, "unexpected '='");
        case '>':
                if (c1 == '>') {
                        p->pos += 2;
                        tok->type = T_PUNCT;
                        tok->punct = P_BINCLOSE;
                        return 0;
                }
                return fail(p, at, PK_ESYNTAX, "unexpected '>'");
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
                        return fail(p, at + 1, PK_ESYNTAX, "unexpected character U+%04X after '.'",
                                    (unsigned)n);
                return fail(p, at, PK_ESYNTAX, "unexpected '.'");
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
                        skip_blanks(p);
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
                        return r < 0 ? fail(p, at, r, "bad directive '~%c'", c1) : 0;
                }
                return fail(p, at, PK_ESYNTAX, "unexpected '~'");
        default:
                break;
        }
        size_t n;
        int32_t cp = peek_cp(p, &n);
        if (cp < 0)
                return fail(p, at, PK_ESYNTAX, "invalid UTF-8");
        if (pk__txt_lower_start((uint32_t)cp)) {
                while ((cp = peek_cp(p, &n)) >= 0 && pk__txt_name_char((uint32_t)cp))
                        p->pos += n;
                size_t len = p->pos - at;
                if (len == 3 && memcmp(p->s + at, "fun", 3) == 0) {
                        tok->type = T_VALUE;
                        return read_fun(p, at, &tok->term);
                }
                if (pk__txt_reserved((const char *)p->s + at, len))
                        return fail(p, at, PK_ESYNTAX, "reserved word '%.*s' must be quoted",
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
                        return r < 0 ? fail(p, at, r, "bad wildcard") : 0;
                }
                return fail(p, at, PK_ESYNTAX, "variable '%.*s' is not a term", (int)(p->pos - at),
                            (const char *)p->s + at);
        }
        if (cp < 0x80 && cp > ' ' && cp < 0x7F)
                return fail(p, at, PK_ESYNTAX, "unexpected '%c'", (char)cp);
        return fail(p, at, PK_ESYNTAX, "unexpected character U+%04X", (unsigned)cp);
}

static int peek_token(struct parser *p, struct token *tok)
{
        if (!p->has_peek) {
                int r = next_token(p, &p->peeked);
                if (r < 0)
                        return r;
                p->has_peek = true;
        }
        *tok = p->peeked;
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
                return fail(p, at, PK_ETERMSIZE, "string too long");
        bool bytes = true;
        for (size_t i = 0; i < n && bytes; i++)
                bytes = p->cps[i] <= 255;
        if (bytes) {
                uint8_t *b = pk_arena_alloc(p->a, n);
                if (!b)
                        return fail_alloc(p, at);
                for (size_t i = 0; i < n; i++)
                        b[i] = (uint8_t)p->cps[i];
                pk_term_set_string(t, b, (uint32_t)n);
                return 0;
        }
        struct pk_term *e = pk_arena_terms(p->a, n);
        if (!e)
                return fail_alloc(p, at);
        for (size_t i = 0; i < n; i++)
                pk_term_set_int(&e[i], p->cps[i]);
        if (pk_term_set_list(p->a, t, e, (uint32_t)n, NULL) < 0)
                return fail_alloc(p, at);
        return 0;
}

static int negate(struct parser *p, struct pk_term *t, size_t at)
{
        if (t->type == PK_TERM_FLOAT) {
                t->v.f = -t->v.f;
        } else if (t->type == PK_TERM_INT) {
                t->v.i = -t->v.i; /* literals are >= 0, so this cannot overflow */
        } else if (t->type == PK_TERM_BIG) {
                pk_term_set_big(t, t->v.big.digits, t->v.big.len, !t->v.big.negative);
        } else {
                return fail(p, at, PK_ESYNTAX, "'-' must be followed by a number");
        }
        return 0;
}

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
                return fail(p, at, PK_ETERMSIZE, "binary larger than %zu bytes", b->max);
        if (grow((void **)&b->p, &b->cap, need, 1) < 0)
                return fail(p, at, -ENOMEM, "out of memory");
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
                return fail(p, at, PK_ETERMSIZE, "binary larger than %zu bytes", b->max);
        if (little) {
                if (size % 8)
                        return fail(p, at, PK_ESYNTAX,
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

static size_t utf8_encode(uint32_t cp, uint8_t out[4])
{
        if (cp < 0x80) {
                out[0] = (uint8_t)cp;
                return 1;
        }
        if (cp < 0x800) {
                out[0] = (uint8_t)(0xC0 | (cp >> 6));
                out[1] = (uint8_t)(0x80 | (cp & 0x3F));
                return 2;
        }
        if (cp < 0x10000) {
                out[0] = (uint8_t)(0xE0 | (cp >> 12));
                out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
                out[2] = (uint8_t)(0x80 | (cp & 0x3F));
                return 3;
        }
        out[0] = (uint8_t)(0xF0 | (cp >> 18));
        out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
        out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[3] = (uint8_t)(0x80 | (cp & 0x3F));
        return 4;
}

enum seg_type { SEG_INTEGER, SEG_FLOAT, SEG_BINARY, SEG_UTF8 };

/* Parses the segments after "<<" up to ">>". */
static int read_binary(struct parser *p, size_t at, struct pk_term *out)
{
        /* The binary is copied into the arena at the end, so the arena's room
         * bounds it as much as max_binary does. */
        size_t room = arena_room(p);
        struct bitbuf b = {.max = room < p->cfg->max_binary ? room : p->cfg->max_binary};
        uint32_t *scp = NULL;
        struct token tok;
        p->str_max = b.max > SIZE_MAX / 8 ? SIZE_MAX : b.max * 8;
        if (p->str_max == 0)
                p->str_max = 1; /* 0 means "outside a binary" */
        int r = peek_token(p, &tok);
        if (r < 0)
                return r;
        if (tok.type == T_PUNCT && tok.punct == P_BINCLOSE) {
                (void)next_token(p, &tok);
                pk_term_set_binary(out, "", 0);
                return 0;
        }
        for (;;) {
                /* Value */
                if ((r = next_token(p, &tok)) < 0)
                        goto out;
                size_t vat = tok.start;
                bool neg = false;
                if (tok.type == T_PUNCT && (tok.punct == '-' || tok.punct == '+')) {
                        neg = tok.punct == '-';
                        if ((r = next_token(p, &tok)) < 0)
                                goto out;
                        if (tok.type != T_INT && tok.type != T_FLOAT) {
                                r = fail(p, tok.start, PK_ESYNTAX, "expected a number after sign");
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
                        r = fail(p, vat, PK_ESYNTAX,
                                 "a binary segment must be an integer, a float or a string");
                        goto out;
                }
                if (neg && (r = negate(p, &val, vat)) < 0)
                        goto out;
                /* :Size */
                int64_t size = -1;
                if ((r = peek_token(p, &tok)) < 0)
                        goto out;
                if (tok.type == T_PUNCT && tok.punct == ':') {
                        (void)next_token(p, &tok);
                        if ((r = next_token(p, &tok)) < 0)
                                goto out;
                        if (tok.type != T_INT || tok.term.type != PK_TERM_INT ||
                            tok.term.v.i > (int64_t)p->cfg->max_binary * 8) {
                                r = fail(p, tok.start, PK_ESYNTAX,
                                         "segment size must be a small non-negative integer");
                                goto out;
                        }
                        size = tok.term.v.i;
                        if ((r = peek_token(p, &tok)) < 0)
                                goto out;
                }
                /* /Type-Spec */
                enum seg_type type = val.type == PK_TERM_FLOAT ? SEG_FLOAT : SEG_INTEGER;
                bool little = false;
                if (tok.type == T_PUNCT && tok.punct == '/') {
                        (void)next_token(p, &tok);
                        for (;;) {
                                if ((r = next_token(p, &tok)) < 0)
                                        goto out;
                                if (tok.type != T_ATOM) {
                                        r = fail(p, tok.start, PK_ESYNTAX,
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
                                        r = fail(p, tok.start, PK_ESYNTAX,
                                                 "unsupported type specifier '%.*s'", (int)nl, nm);
                                        goto out;
                                }
#undef IS
                                if ((r = peek_token(p, &tok)) < 0)
                                        goto out;
                                if (!(tok.type == T_PUNCT && tok.punct == '-'))
                                        break;
                                (void)next_token(p, &tok);
                        }
                }
                /* Emit */
                for (size_t i = 0; i < ncp; i++) {
                        int64_t iv = is_string                 ? (int64_t)scp[i]
                                     : val.type == PK_TERM_INT ? val.v.i
                                                               : 0;
                        if (!is_string && val.type == PK_TERM_BIG) {
                                r = fail(p, vat, PK_ESYNTAX,
                                         "integer too large for a binary segment");
                                goto out;
                        }
                        switch (type) {
                        case SEG_INTEGER:
                                if (val.type == PK_TERM_FLOAT && !is_string) {
                                        r = fail(p, vat, PK_ESYNTAX,
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
                                        r = fail(p, vat, PK_ESYNTAX,
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
                                        r = fail(p, vat, PK_ESYNTAX, "bad utf8 segment");
                                        goto out;
                                }
                                uint8_t tmp[4];
                                size_t k = utf8_encode((uint32_t)iv, tmp);
                                for (size_t j = 0; j < k && r >= 0; j++)
                                        r = bits_put(p, &b, tmp[j], 8, vat);
                                break;
                        }
                        case SEG_BINARY:
                                /* Erlang too refuses a string (a list) as a
                                 * binary segment; nested binaries are not
                                 * literals this parser reads. */
                                r = fail(p, vat, PK_ESYNTAX,
                                         "a /binary segment needs a binary value");
                                goto out;
                        }
                        if (r < 0)
                                goto out;
                }
                /* , or >> */
                if ((r = next_token(p, &tok)) < 0)
                        goto out;
                if (tok.type == T_PUNCT && tok.punct == ',')
                        continue;
                if (tok.type == T_PUNCT && tok.punct == P_BINCLOSE)
                        break;
                r = fail(p, tok.start, PK_ESYNTAX, "expected ',' or '>>' in a binary");
                goto out;
        }
        {
                size_t nbytes = (b.bits + 7) / 8;
                uint8_t *data = pk_arena_memdup(p->a, b.p ? b.p : (const uint8_t *)"", nbytes);
                if (!data) {
                        r = fail_alloc(p, at);
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

/* ---- containers ---- */

static int push_frame(struct parser *p, enum frame_kind kind, size_t open)
{
        if (p->fn >= p->cfg->max_depth)
                return fail(p, open, PK_EDEPTH, "nested deeper than %u", p->cfg->max_depth);
        if (grow((void **)&p->fs, &p->fcap, p->fn + 1, sizeof(*p->fs)) < 0)
                return fail(p, open, -ENOMEM, "out of memory");
        p->fs[p->fn++] = (struct frame){.kind = kind, .start = p->vn, .open = open};
        return 0;
}

static struct pk_term *take_values(struct parser *p, size_t start, size_t n, size_t at)
{
        struct pk_term *e = pk_arena_terms(p->a, n);
        if (!e) {
                fail_alloc(p, at);
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
                return fail(p, f->open, PK_ETERMSIZE, "tuple too large");
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
                return fail(p, f->open, PK_ETERMSIZE, "list too long");
        struct pk_term *e = take_values(p, f->start, n, f->open);
        if (!e)
                return pk_arena_last_error(p->a) ? pk_arena_last_error(p->a) : -ENOMEM;
        struct pk_term *tp = NULL;
        if (tail.type != PK_TERM_NIL || n > 0) {
                tp = pk_arena_terms(p->a, 1);
                if (!tp)
                        return fail_alloc(p, f->open);
                *tp = tail;
        }
        if (n == 0)
                *out = tail;
        else if (pk_term_set_list(p->a, out, e, (uint32_t)n, tp) < 0)
                return fail_alloc(p, f->open);
        p->vn = f->start;
        p->fn--;
        return 0;
}

static int key_cmp(const void *x, const void *y, void *arg)
{
        const struct pk_term *pairs = arg;
        uint32_t i = *(const uint32_t *)x, j = *(const uint32_t *)y;
        int c = pk_term_compare(&pairs[2 * (size_t)i], &pairs[2 * (size_t)j], 1);
        if (c)
                return c;
        return (i > j) - (i < j);
}

/* Closes a map: pairs sorted by key, a repeated key keeps its last value. */
static int close_map(struct parser *p, struct pk_term *out)
{
        struct frame *f = &p->fs[p->fn - 1];
        size_t nv = p->vn - f->start;
        size_t n = nv / 2;
        if (n > UINT32_MAX)
                return fail(p, f->open, PK_ETERMSIZE, "map too large");
        const struct pk_term *pairs = n ? p->vs + f->start : NULL;
        uint32_t *idx = malloc((n ? n : 1) * sizeof(*idx));
        if (!idx)
                return fail(p, f->open, -ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++)
                idx[i] = (uint32_t)i;
        qsort_r(idx, n, sizeof(*idx), key_cmp, (void *)(uintptr_t)pairs);
        struct pk_term *e = pk_arena_terms(p->a, 2 * n);
        if (!e) {
                free(idx);
                return fail_alloc(p, f->open);
        }
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
                if (i + 1 < n && pk_term_compare(&pairs[2 * (size_t)idx[i]],
                                                 &pairs[2 * (size_t)idx[i + 1]], 1) == 0)
                        continue; /* a later duplicate wins */
                e[2 * k] = pairs[2 * (size_t)idx[i]];
                e[2 * k + 1] = pairs[2 * (size_t)idx[i] + 1];
                k++;
        }
        free(idx);
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
        if ((r = next_token(p, &tok)) < 0)
                return r;
        switch (tok.type) {
        case T_EOF:
                return fail(p, tok.start, PK_ESYNTAX, "unexpected end of input");
        case T_DOT:
                return fail(p, tok.start, PK_ESYNTAX, "unexpected '.'");
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
                        if ((r = next_token(p, &num)) < 0)
                                return r;
                        if (num.type != T_INT && num.type != T_FLOAT)
                                return fail(p, num.start, PK_ESYNTAX,
                                            "'%c' must be followed by a number", tok.punct);
                        v = num.term;
                        if (tok.punct == '-' && (r = negate(p, &v, tok.start)) < 0)
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
                        if ((r = peek_token(p, &nx)) < 0)
                                return r;
                        int closer = tok.punct == '[' ? ']' : '}';
                        if (nx.type == T_PUNCT && nx.punct == closer) {
                                (void)next_token(p, &nx);
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
                        if ((r = read_binary(p, tok.start, &v)) < 0)
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
                if ((r = next_token(p, &tok)) < 0)
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
                        return fail(p, tok.start, PK_ESYNTAX, "expected ',' or '}' in a tuple");
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
                        return fail(p, tok.start, PK_ESYNTAX, "expected ',', '|' or ']' in a list");
                case F_LIST_TAIL:
                        if (c == ']') {
                                if ((r = close_list(p, true, &v)) < 0)
                                        return r;
                                break;
                        }
                        return fail(p, tok.start, PK_ESYNTAX, "expected ']' after a list tail");
                case F_MAP_KEY:
                        if (c == P_ARROW) {
                                f->kind = F_MAP_VAL;
                                goto expect_value;
                        }
                        return fail(p, tok.start, PK_ESYNTAX, "expected '=>' in a map");
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
                        return fail(p, tok.start, PK_ESYNTAX, "expected ',' or '}' in a map");
                }
                if ((r = push_value(p, &v, tok.start)) < 0)
                        return r;
        }
unexpected:
        if (tok.type == T_PUNCT && tok.punct < 256)
                return fail(p, tok.start, PK_ESYNTAX, "unexpected '%c'", tok.punct);
        return fail(p, tok.start, PK_ESYNTAX, "unexpected '%.2s'", (const char *)p->s + tok.start);
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
        skip_blanks(&p);
        if (at_end(&p)) {
                if (cfg->no_dot) {
                        r = fail(&p, p.pos, PK_ESYNTAX, "empty input");
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
        if ((r = next_token(&p, &tok)) < 0)
                goto out;
        if (cfg->no_dot) {
                if (tok.type != T_EOF) {
                        r = fail(&p, tok.start, PK_ESYNTAX, "unexpected text after the term");
                        goto out;
                }
        } else if (tok.type != T_DOT) {
                r = fail(&p, tok.start, PK_ESYNTAX,
                         tok.type == T_EOF ? "missing '.' after the term"
                                           : "expected '.' after the term");
                goto out;
        }
        struct pk_term *t = pk_arena_terms(a, 1);
        if (!t) {
                r = fail_alloc(&p, 0);
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
                        fail(&p, p.pos, r, "%s", pk_strerror(r));
                *reterr = scratch;
        }
        free(p.vs);
        free(p.fs);
        free(p.cps);
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
