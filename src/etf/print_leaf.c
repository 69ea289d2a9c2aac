/* SPDX-License-Identifier: MIT */
/* The leaf writers both printers use: the growable string they write into,
 * atoms with io_lib's quoting and escapes (io_lib:write_atom_as_latin1),
 * floats in the form of float_to_list(F, [short]), integers of any size, and
 * byte lists and Latin-1 strings written in bulk. */
#include "text-internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Writes v's decimal digits ending just before end; returns where they start. */
static char *dec_digits(char *end, uint64_t v)
{
        do {
                *--end = (char)('0' + v % 10);
                v /= 10;
        } while (v);
        return end;
}

void pk__sb_putu(struct pk__sbuf *sb, uint64_t v)
{
        char buf[24];
        char *p = dec_digits(buf + sizeof(buf), v);
        pk__sb_put(sb, p, (size_t)(buf + sizeof(buf) - p));
}

void pk__sb_puti(struct pk__sbuf *sb, int64_t v)
{
        char buf[24];
        char *p = dec_digits(buf + sizeof(buf), v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v);
        if (v < 0)
                *--p = '-';
        pk__sb_put(sb, p, (size_t)(buf + sizeof(buf) - p));
}

/* Writes b (0..255) in decimal at o; returns the end. */
static inline char *byte_dec(char *o, unsigned b)
{
        if (b >= 100) {
                *o++ = (char)('0' + b / 100);
                b %= 100;
                *o++ = (char)('0' + b / 10);
        } else if (b >= 10) {
                *o++ = (char)('0' + b / 10);
        }
        *o++ = (char)('0' + b % 10);
        return o;
}

void pk__sb_byte_list(struct pk__sbuf *sb, const uint8_t *d, size_t n, bool lead_comma)
{
        if (n == 0)
                return;
        /* Measure exactly (a cap must fail only when the text passes it),
         * reserve once, then plain stores: memory speed on large binaries
         * and strings, where a call per byte ran at ~0.3 us a byte. */
        size_t need = (lead_comma ? 1 : 0) + (n - 1);
        for (size_t i = 0; i < n; i++)
                need += 1 + (d[i] >= 10) + (d[i] >= 100);
        char *start = pk__dynbuf_room(sb, need);
        if (!start)
                return;
        char *o = start;
        if (lead_comma)
                *o++ = ',';
        o = byte_dec(o, d[0]);
        for (size_t i = 1; i < n; i++) {
                *o++ = ',';
                o = byte_dec(o, d[i]);
        }
        pk__dynbuf_commit(sb, (size_t)(o - start));
}

void pk__sb_latin1_escaped(struct pk__sbuf *sb, const uint8_t *d, size_t n, char quote)
{
        size_t i = 0;
        while (i < n) {
                /* Copy the longest run that needs no escape in one piece. */
                size_t j = i;
                while (j < n && d[j] >= ' ' && d[j] <= '~' && d[j] != (uint8_t)quote &&
                       d[j] != '\\')
                        j++;
                if (j > i)
                        pk__sb_put(sb, d + i, j - i);
                if (j < n)
                        pk__txt_char_escaped(sb, d[j], quote, true);
                i = j + 1;
        }
}

void pk__sb_spaces(struct pk__sbuf *sb, size_t n)
{
        char *o = pk__dynbuf_room(sb, n);
        if (!o)
                return;
        memset(o, ' ', n);
        pk__dynbuf_commit(sb, n);
}

void pk__sb_utf8(struct pk__sbuf *sb, uint32_t cp)
{
        uint8_t b[4];
        pk__sb_put(sb, b, pk__utf8_encode(cp, b));
}

/* ---- atoms ---- */

void pk__txt_char_escaped(struct pk__sbuf *sb, uint32_t c, char quote, bool latin1_only)
{
        if (c == (uint32_t)(unsigned char)quote || c == '\\') {
                pk__sb_putc(sb, '\\');
                pk__sb_putc(sb, (char)c);
                return;
        }
        if (c >= ' ' && c <= '~') {
                pk__sb_putc(sb, (char)c);
                return;
        }
        if (c >= 0xA0 && (!latin1_only || c <= 0xFF)) {
                pk__sb_utf8(sb, c);
                return;
        }
        if (c > 0xFF) {
                char buf[16];
                int n = snprintf(buf, sizeof(buf), "\\x{%X}", (unsigned)c);
                pk__sb_put(sb, buf, (size_t)n);
                return;
        }
        const char *esc = NULL;
        switch (c) {
        case '\n':
                esc = "\\n";
                break;
        case '\r':
                esc = "\\r";
                break;
        case '\t':
                esc = "\\t";
                break;
        case '\v':
                esc = "\\v";
                break;
        case '\b':
                esc = "\\b";
                break;
        case '\f':
                esc = "\\f";
                break;
        case 27:
                esc = "\\e";
                break;
        case 127:
                esc = "\\d";
                break;
        default:
                break;
        }
        if (esc) {
                pk__sb_puts(sb, esc);
                return;
        }
        char oct[5] = {'\\', (char)('0' + (c >> 6)), (char)('0' + ((c >> 3) & 7)),
                       (char)('0' + (c & 7)), 0};
        pk__sb_put(sb, oct, 4);
}

/* io_lib:quote_atom/2: reserved words, and anything not a lower-case start
 * followed by name characters. */
static bool atom_needs_quotes(const uint8_t *s, size_t len)
{
        if (len == 0 || pk__txt_reserved((const char *)s, len))
                return true;
        size_t i = 0;
        int32_t c = pk__utf8_next(s, len, &i);
        if (c < 0 || !pk__txt_lower_start((uint32_t)c))
                return true;
        while (i < len) {
                c = pk__utf8_next(s, len, &i);
                if (c < 0 || !pk__txt_name_char((uint32_t)c))
                        return true;
        }
        return false;
}

void pk__txt_atom(struct pk__sbuf *sb, const char *name, size_t len)
{
        const uint8_t *s = (const uint8_t *)name;
        if (!atom_needs_quotes(s, len)) {
                pk__sb_put(sb, name, len);
                return;
        }
        pk__sb_putc(sb, '\'');
        size_t i = 0;
        while (i < len) {
                int32_t c = pk__utf8_next(s, len, &i);
                if (c < 0) { /* not from a valid atom: write the byte as Latin-1 */
                        c = s[i++];
                }
                pk__txt_char_escaped(sb, (uint32_t)c, '\'', true);
        }
        pk__sb_putc(sb, '\'');
}

/* ---- floats ---- */

/* Shortest decimal digits that read back as v (v > 0, finite): digits in
 * d[0..*nd), value = 0.d * 10^(*exp10 + 1), i.e. d[0] is at 10^*exp10.
 * Tries each precision and keeps the first correctly rounded string that
 * round-trips (Ryu's answer: the shortest, and of those the nearest). */
static void shortest_digits(double v, char d[20], int *nd, int *exp10)
{
        char buf[48];
        for (int p = 1; p <= 17; p++) {
                snprintf(buf, sizeof(buf), "%.*e", p - 1, v);
                if (strtod(buf, NULL) == v || p == 17)
                        break;
                /* The nearest p-digit number missed; at a power of two the
                 * interval is lopsided and a neighbour may still read back. */
                uint64_t m = 0;
                const char *q = buf;
                for (; *q && *q != 'e'; q++)
                        if (*q >= '0' && *q <= '9')
                                m = m * 10 + (uint64_t)(*q - '0');
                int e = atoi(q + 1) - (p - 1);
                bool hit = false;
                for (int delta = -1; delta <= 1 && !hit; delta += 2) {
                        uint64_t alt_m = m + (uint64_t)(int64_t)delta;
                        char alt[48];
                        snprintf(alt, sizeof(alt), "%llue%d", (unsigned long long)alt_m, e);
                        if (alt_m == 0 || strtod(alt, NULL) != v)
                                continue;
                        char digs[24];
                        int nd0 = snprintf(digs, sizeof(digs), "%llu", (unsigned long long)alt_m);
                        snprintf(buf, sizeof(buf), "%c.%se%d", digs[0], digs + 1, e + nd0 - 1);
                        hit = true;
                }
                if (hit)
                        break;
        }
        /* buf = D[.DDD]e[+-]XX */
        int n = 0;
        const char *q = buf;
        for (; *q && *q != 'e'; q++)
                if (*q >= '0' && *q <= '9' && n < 19)
                        d[n++] = *q;
        int e = atoi(q + 1);
        if (n == 0) /* "%e" always writes a digit; keeps *nd >= 1 visible */
                d[n++] = '0';
        while (n > 1 && d[n - 1] == '0')
                n--;
        *nd = n;
        *exp10 = e;
}

void pk__txt_float(struct pk__sbuf *sb, double f)
{
        if (f == 0) {
                pk__sb_puts(sb, signbit(f) ? "-0.0" : "0.0");
                return;
        }
        if (f < 0)
                pk__sb_putc(sb, '-');
        double v = fabs(f);
        char d[20];
        int L, exp10;
        shortest_digits(v, d, &L, &exp10);
        int place = exp10 - (L - 1); /* exponent of the last digit */
        char expl[8];
        int explen = snprintf(expl, sizeof(expl), "%d", exp10);
        int expcost = explen + 2;
        if (place < 0) {
                if (exp10 >= 0) {
                        /* d[0..exp10] '.' rest */
                        pk__sb_put(sb, d, (size_t)exp10 + 1);
                        pk__sb_putc(sb, '.');
                        pk__sb_put(sb, d + exp10 + 1, (size_t)(L - exp10 - 1));
                        return;
                }
                /* OTP 25 keeps 0.0001 (a tie with 1.0e-4) in decimal; it
                 * switches only when scientific is strictly shorter. */
                int dec_len = 2 - place;
                int sci_len = (L == 1 ? 3 : L + 1) + 1 + explen;
                if (dec_len <= sci_len) {
                        pk__sb_puts(sb, "0.");
                        for (int i = 0; i < -place - L; i++)
                                pk__sb_putc(sb, '0');
                        pk__sb_put(sb, d, (size_t)L);
                        return;
                }
        } else {
                int dot = L == 1 ? 1 : 0;
                if (expcost + dot >= place + 2 && v < 9007199254740992.0) {
                        pk__sb_put(sb, d, (size_t)L);
                        for (int i = 0; i < place; i++)
                                pk__sb_putc(sb, '0');
                        pk__sb_puts(sb, ".0");
                        return;
                }
        }
        /* Scientific. */
        pk__sb_putc(sb, d[0]);
        pk__sb_putc(sb, '.');
        if (L == 1)
                pk__sb_putc(sb, '0');
        else
                pk__sb_put(sb, d + 1, (size_t)L - 1);
        pk__sb_putc(sb, 'e');
        pk__sb_put(sb, expl, (size_t)explen);
}

/* ---- integers ---- */

void pk__txt_integer(struct pk__sbuf *sb, const struct pk_term *t)
{
        if (t->type == PK_TERM_INT) {
                pk__sb_puti(sb, t->v.i);
                return;
        }
        /* Big: repeated division of 32-bit limbs by 10^9. */
        size_t nl = (t->v.big.len + 3) / 4;
        uint32_t *limb = calloc(nl ? nl : 1, sizeof(*limb));
        size_t ndec = (size_t)t->v.big.len * 3 / 8 + 2; /* 9-digit groups: ~2.41 bytes each */
        uint32_t *groups = malloc(ndec * sizeof(*groups));
        if (!limb || !groups) {
                free(limb);
                free(groups);
                sb->err = -ENOMEM;
                return;
        }
        for (size_t i = 0; i < t->v.big.len; i++)
                limb[i / 4] |= (uint32_t)t->v.big.digits[i] << (8 * (i % 4));
        /* At least one group, so a zero magnitude (len 0: not canonical, but
         * a caller may build it) prints "0" rather than reading groups[-1]. */
        size_t top = nl, ng = 0;
        do {
                uint64_t rem = 0;
                for (size_t i = top; i-- > 0;) {
                        uint64_t cur = (rem << 32) | limb[i];
                        limb[i] = (uint32_t)(cur / 1000000000u);
                        rem = cur % 1000000000u;
                }
                groups[ng++] = (uint32_t)rem;
                while (top > 0 && limb[top - 1] == 0)
                        top--;
        } while (top > 0 && ng < ndec);
        if (t->v.big.negative)
                pk__sb_putc(sb, '-');
        char buf[16];
        int n = snprintf(buf, sizeof(buf), "%u", groups[ng - 1]);
        pk__sb_put(sb, buf, (size_t)n);
        for (size_t i = ng - 1; i-- > 0;) {
                n = snprintf(buf, sizeof(buf), "%09u", groups[i]);
                pk__sb_put(sb, buf, (size_t)n);
        }
        free(limb);
        free(groups);
}
