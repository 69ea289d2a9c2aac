/* SPDX-License-Identifier: MIT */
/* The growable output buffer and the streaming encoder.  The writers here are
 * the only code that lays out atoms, floats, bignums, bitstrings and strings;
 * the tree encoder (encode.c) calls them too, so both produce the same bytes. */
#include "etf-internal.h"

#include "common/dynbuf.h"

#include <math.h>
#include <stdio.h>

void pk_etf_buf_init(struct pk_etf_buf *b, size_t max)
{
        b->data = NULL;
        b->len = 0;
        b->cap = 0;
        b->max = max;
        b->err = 0;
}

void pk_etf_buf_free(struct pk_etf_buf *b)
{
        if (!b)
                return;
        free(b->data);
        pk_etf_buf_init(b, b->max);
}

void pk_etf_buf_reset(struct pk_etf_buf *b)
{
        b->len = 0;
        b->err = 0;
}

int pk__buf_grow(struct pk_etf_buf *b, size_t n)
{
        size_t max = b->max ? b->max : SIZE_MAX;
        if (b->len > max || n > max - b->len)
                return pk__buf_fail(b, PK_ETERMSIZE);
        void *d = b->data;
        if (pk__mem_grow(&d, &b->cap, b->len + n, max, 256) < 0)
                return pk__buf_fail(b, -ENOMEM);
        b->data = d;
        return 0;
}

int pk_etf_buf_reserve(struct pk_etf_buf *b, size_t n)
{
        if (b->err)
                return b->err;
        return b->cap - b->len < n ? pk__buf_grow(b, n) : 0;
}

int pk_etf_buf_append(struct pk_etf_buf *b, const void *p, size_t n)
{
        uint8_t *d = pk__buf_room(b, n);
        if (!d)
                return b->err;
        if (n)
                memcpy(d, p, n);
        b->len += n;
        return 0;
}

/* ---- shared writers ---- */

int pk__w_atom(struct pk_etf_buf *b, int minor_version, const char *name, size_t len)
{
        /* The empty name may come as NULL (from the caller or a hand-built
         * term); memcpy() below must not see a NULL even for 0 bytes. */
        const uint8_t *s = (const uint8_t *)(len ? name : "");
        size_t i = 0;
        while (i < len && s[i] < 0x80)
                i++;
        int ascii = i == len;
        if (ascii) {
                if (len > 255)
                        return pk__buf_fail(b, PK_EATOMLEN);
        } else {
                int r = pk__atom_check(name, len);
                if (r < 0)
                        return pk__buf_fail(b, r);
        }
        if (minor_version < 2) {
                /* OTP 25 writes ATOM_EXT whenever every code point fits Latin-1;
                 * in valid UTF-8 that means every lead byte is 0xC2 or 0xC3. */
                size_t latin = 0;
                int fits = 1;
                for (size_t k = i; k < len; k++) {
                        if (s[k] >= 0xC4) {
                                fits = 0;
                                break;
                        }
                        if (s[k] < 0x80 || s[k] >= 0xC0)
                                latin++;
                }
                if (fits) {
                        size_t out = i + latin;
                        uint8_t *p = pk__buf_room(b, 3 + out);
                        if (!p)
                                return b->err;
                        p[0] = PK_TAG_ATOM;
                        pk__put16(p + 1, (uint16_t)out);
                        memcpy(p + 3, s, i);
                        uint8_t *q = p + 3 + i;
                        for (size_t k = i; k < len; k++) {
                                if (s[k] < 0x80)
                                        *q++ = s[k];
                                else if (s[k] >= 0xC0)
                                        *q++ = (uint8_t)(((s[k] & 0x03) << 6) | (s[k + 1] & 0x3F));
                        }
                        b->len += 3 + out;
                        return 0;
                }
        }
        uint8_t *p = pk__buf_room(b, 3 + len);
        if (!p)
                return b->err;
        if (len <= 255) {
                p[0] = PK_TAG_SMALL_ATOM_UTF8;
                p[1] = (uint8_t)len;
                memcpy(p + 2, s, len);
                b->len += 2 + len;
        } else {
                p[0] = PK_TAG_ATOM_UTF8;
                pk__put16(p + 1, (uint16_t)len);
                memcpy(p + 3, s, len);
                b->len += 3 + len;
        }
        return 0;
}

int pk__w_float(struct pk_etf_buf *b, int minor_version, double f)
{
        if (!isfinite(f))
                return pk__buf_fail(b, PK_EBADFLOAT);
        if (minor_version == 0) {
                /* FLOAT_EXT: "%.20e" in 31 NUL-padded bytes.  The radix is
                 * forced to '.' whatever LC_NUMERIC says. */
                char txt[40];
                memset(txt, 0, sizeof(txt));
                snprintf(txt, sizeof(txt), "%.20e", f);
                for (char *c = txt; *c; c++)
                        if (*c == ',')
                                *c = '.';
                uint8_t *p = pk__buf_room(b, 32);
                if (!p)
                        return b->err;
                p[0] = PK_TAG_FLOAT;
                memcpy(p + 1, txt, 31);
                b->len += 32;
                return 0;
        }
        uint8_t *p = pk__buf_room(b, 9);
        if (!p)
                return b->err;
        uint64_t bits;
        memcpy(&bits, &f, 8);
        p[0] = PK_TAG_NEW_FLOAT;
        pk__put64(p + 1, bits);
        b->len += 9;
        return 0;
}

int pk__w_big(struct pk_etf_buf *b, const uint8_t *digits, size_t len, int negative)
{
        uint64_t m = 0;
        len = pk__mag_trim(digits, len, &m);
        if (len <= 8) {
                if (!negative && m <= (uint64_t)INT64_MAX)
                        return pk__w_int(b, (int64_t)m);
                if (negative && m <= (uint64_t)INT64_MAX)
                        return pk__w_int(b, -(int64_t)m);
        }
        if (len > UINT32_MAX)
                return pk__buf_fail(b, PK_EUNENCODABLE);
        uint8_t *p = pk__buf_room(b, 6 + len);
        if (!p)
                return b->err;
        if (len <= 255) {
                p[0] = PK_TAG_SMALL_BIG;
                p[1] = (uint8_t)len;
                p[2] = negative ? 1 : 0;
                memcpy(p + 3, digits, len);
                b->len += 3 + len;
        } else {
                p[0] = PK_TAG_LARGE_BIG;
                pk__put32(p + 1, (uint32_t)len);
                p[5] = negative ? 1 : 0;
                memcpy(p + 6, digits, len);
                b->len += 6 + len;
        }
        return 0;
}

int pk__w_bits(struct pk_etf_buf *b, const uint8_t *data, size_t len, unsigned bits)
{
        if (bits < 1 || bits > 8 || (len == 0 && bits != 8))
                return pk__buf_fail(b, PK_EBITS);
        if (len > UINT32_MAX)
                return pk__buf_fail(b, PK_EUNENCODABLE);
        size_t hdr = bits == 8 ? 5 : 6;
        if (len > SIZE_MAX - hdr)
                return pk__buf_fail(b, PK_ETERMSIZE);
        uint8_t *p = pk__buf_room(b, hdr + len);
        if (!p)
                return b->err;
        if (bits == 8) {
                p[0] = PK_TAG_BINARY;
                pk__put32(p + 1, (uint32_t)len);
        } else {
                p[0] = PK_TAG_BIT_BINARY;
                pk__put32(p + 1, (uint32_t)len);
                p[5] = (uint8_t)bits;
        }
        if (len) {
                memcpy(p + hdr, data, len);
                if (bits != 8)
                        p[hdr + len - 1] &= (uint8_t)(0xFF00u >> bits);
        }
        b->len += hdr + len;
        return 0;
}

int pk__w_string(struct pk_etf_buf *b, const uint8_t *bytes, size_t len)
{
        if (len == 0)
                return pk_etf_put_nil(b);
        if (len <= 65535) {
                uint8_t *p = pk__buf_room(b, 3 + len);
                if (!p)
                        return b->err;
                p[0] = PK_TAG_STRING;
                pk__put16(p + 1, (uint16_t)len);
                memcpy(p + 3, bytes, len);
                b->len += 3 + len;
                return 0;
        }
        /* Longer byte lists are LIST_EXT of SMALL_INTEGER_EXT, as erl writes them. */
        if (len > UINT32_MAX)
                return pk__buf_fail(b, PK_EUNENCODABLE);
        if (len > (SIZE_MAX - 6) / 2)
                return pk__buf_fail(b, PK_ETERMSIZE);
        uint8_t *p = pk__buf_room(b, 6 + 2 * len);
        if (!p)
                return b->err;
        p[0] = PK_TAG_LIST;
        pk__put32(p + 1, (uint32_t)len);
        uint8_t *q = p + 5;
        for (size_t k = 0; k < len; k++) {
                *q++ = PK_TAG_SMALL_INTEGER;
                *q++ = bytes[k];
        }
        *q = PK_TAG_NIL;
        b->len += 6 + 2 * len;
        return 0;
}

/* ---- public streaming encoder ---- */

int pk_etf_put_version(struct pk_etf_buf *b)
{
        uint8_t v = PK_TAG_VERSION;
        return pk_etf_buf_append(b, &v, 1);
}

int pk_etf_put_int(struct pk_etf_buf *b, int64_t v)
{
        return pk__w_int(b, v);
}

int pk_etf_put_uint(struct pk_etf_buf *b, uint64_t v)
{
        if (v <= (uint64_t)INT64_MAX)
                return pk__w_int(b, (int64_t)v);
        uint8_t d[8];
        for (int k = 0; k < 8; k++)
                d[k] = (uint8_t)(v >> (8 * k));
        return pk__w_big(b, d, 8, 0);
}

int pk_etf_put_big(struct pk_etf_buf *b, const uint8_t *digits, size_t len, int negative)
{
        if (!digits && len)
                return pk__buf_fail(b, -EINVAL);
        return pk__w_big(b, digits, len, negative);
}

int pk_etf_put_float(struct pk_etf_buf *b, double f)
{
        return pk__w_float(b, 2, f);
}

int pk_etf_put_float_v(struct pk_etf_buf *b, int minor_version, double f)
{
        if (minor_version < 0 || minor_version > 2)
                return pk__buf_fail(b, -EINVAL);
        return pk__w_float(b, minor_version, f);
}

int pk_etf_put_atom(struct pk_etf_buf *b, const char *name, size_t len)
{
        return pk_etf_put_atom_v(b, 2, name, len);
}

int pk_etf_put_atom_v(struct pk_etf_buf *b, int minor_version, const char *name, size_t len)
{
        if (minor_version < 0 || minor_version > 2 || (!name && len))
                return pk__buf_fail(b, -EINVAL);
        return pk__w_atom(b, minor_version, name, len);
}

int pk_etf_put_nil(struct pk_etf_buf *b)
{
        return pk__w_nil(b);
}

int pk_etf_put_tuple(struct pk_etf_buf *b, uint32_t arity)
{
        return pk__w_header(b, PK_TAG_SMALL_TUPLE, PK_TAG_LARGE_TUPLE, arity);
}

int pk_etf_put_list(struct pk_etf_buf *b, uint32_t len)
{
        if (len == 0)
                return pk__buf_fail(b, -EINVAL);
        return pk__w_header(b, 0, PK_TAG_LIST, len);
}

int pk_etf_put_string(struct pk_etf_buf *b, const void *bytes, size_t len)
{
        return pk__w_string(b, bytes, len);
}

int pk_etf_put_binary(struct pk_etf_buf *b, const void *data, size_t len)
{
        return pk__w_bits(b, data, len, 8);
}

int pk_etf_put_bitstring(struct pk_etf_buf *b, const void *data, size_t len, unsigned bits)
{
        return pk__w_bits(b, data, len, bits);
}

int pk_etf_put_map(struct pk_etf_buf *b, uint32_t arity)
{
        return pk__w_header(b, 0, PK_TAG_MAP, arity);
}

int pk_etf_put_pid(struct pk_etf_buf *b, int minor_version, const char *node, size_t node_len,
                   uint32_t id, uint32_t serial, uint32_t creation)
{
        uint8_t *p = pk__buf_room(b, 1);
        if (!p)
                return b->err;
        size_t start = b->len;
        *p = PK_TAG_NEW_PID;
        b->len++;
        int r = pk_etf_put_atom_v(b, minor_version, node, node_len);
        if (r < 0) {
                b->len = start;
                return r;
        }
        p = pk__buf_room(b, 12);
        if (!p)
                return b->err;
        pk__put32(p, id);
        pk__put32(p + 4, serial);
        pk__put32(p + 8, creation);
        b->len += 12;
        return 0;
}
