/* SPDX-License-Identifier: MIT */
/* Arbitrary-precision integer arithmetic for examples/calc.c: add, multiply
 * and truncating division (Erlang's div) on sign + magnitude numbers held as
 * 32-bit limbs, converted from and to the little-endian bytes of ETF's
 * SMALL_BIG_EXT / LARGE_BIG_EXT.  Header-only so the example stays one
 * program; schoolbook multiplication and Knuth's algorithm D division. */
#ifndef CALC_BIGNUM_H
#define CALC_BIGNUM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct bn {
        uint32_t *l; /* limbs, least significant first; no leading zero limbs */
        size_t n;    /* 0 means zero */
        bool neg;
};

static void bn_free(struct bn *a)
{
        free(a->l);
        a->l = NULL;
        a->n = 0;
}

static void bn_trim(struct bn *a)
{
        while (a->n > 0 && a->l[a->n - 1] == 0)
                a->n--;
        if (a->n == 0)
                a->neg = false;
}

static int bn_alloc(struct bn *a, size_t n)
{
        a->l = calloc(n ? n : 1, sizeof(uint32_t));
        a->n = n;
        a->neg = false;
        return a->l ? 0 : -1;
}

/* From little-endian magnitude bytes and a sign. */
static int bn_from_bytes(struct bn *a, const uint8_t *d, size_t len, bool neg)
{
        if (bn_alloc(a, (len + 3) / 4) < 0)
                return -1;
        for (size_t i = 0; i < len; i++)
                a->l[i / 4] |= (uint32_t)d[i] << (8 * (i % 4));
        a->neg = neg;
        bn_trim(a);
        return 0;
}

static int bn_from_i64(struct bn *a, int64_t v)
{
        uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
        if (bn_alloc(a, 2) < 0)
                return -1;
        a->l[0] = (uint32_t)m;
        a->l[1] = (uint32_t)(m >> 32);
        a->neg = v < 0;
        bn_trim(a);
        return 0;
}

/* Little-endian magnitude bytes (caller frees *ret); *ret_len may be 0. */
static int bn_to_bytes(const struct bn *a, uint8_t **ret, size_t *ret_len)
{
        size_t len = a->n * 4;
        uint8_t *d = malloc(len ? len : 1);
        if (!d)
                return -1;
        for (size_t i = 0; i < len; i++)
                d[i] = (uint8_t)(a->l[i / 4] >> (8 * (i % 4)));
        while (len > 0 && d[len - 1] == 0)
                len--;
        *ret = d;
        *ret_len = len;
        return 0;
}

static int bn_cmp_mag(const struct bn *a, const struct bn *b)
{
        if (a->n != b->n)
                return a->n < b->n ? -1 : 1;
        for (size_t i = a->n; i-- > 0;)
                if (a->l[i] != b->l[i])
                        return a->l[i] < b->l[i] ? -1 : 1;
        return 0;
}

/* r = |a| + |b| */
static int bn_add_mag(struct bn *r, const struct bn *a, const struct bn *b)
{
        size_t n = (a->n > b->n ? a->n : b->n) + 1;
        if (bn_alloc(r, n) < 0)
                return -1;
        uint64_t carry = 0;
        for (size_t i = 0; i < n; i++) {
                uint64_t s = carry;
                if (i < a->n)
                        s += a->l[i];
                if (i < b->n)
                        s += b->l[i];
                r->l[i] = (uint32_t)s;
                carry = s >> 32;
        }
        bn_trim(r);
        return 0;
}

/* r = |a| - |b|, |a| >= |b| */
static int bn_sub_mag(struct bn *r, const struct bn *a, const struct bn *b)
{
        if (bn_alloc(r, a->n) < 0)
                return -1;
        int64_t borrow = 0;
        for (size_t i = 0; i < a->n; i++) {
                int64_t d = (int64_t)a->l[i] - borrow - (i < b->n ? (int64_t)b->l[i] : 0);
                borrow = d < 0;
                r->l[i] = (uint32_t)(d + (borrow ? ((int64_t)1 << 32) : 0));
        }
        bn_trim(r);
        return 0;
}

static int bn_add(struct bn *r, const struct bn *a, const struct bn *b)
{
        if (a->neg == b->neg) {
                if (bn_add_mag(r, a, b) < 0)
                        return -1;
                r->neg = a->neg;
        } else if (bn_cmp_mag(a, b) >= 0) {
                if (bn_sub_mag(r, a, b) < 0)
                        return -1;
                r->neg = a->neg;
        } else {
                if (bn_sub_mag(r, b, a) < 0)
                        return -1;
                r->neg = b->neg;
        }
        bn_trim(r);
        return 0;
}

static int bn_mul(struct bn *r, const struct bn *a, const struct bn *b)
{
        if (bn_alloc(r, a->n + b->n) < 0)
                return -1;
        for (size_t i = 0; i < a->n; i++) {
                uint64_t carry = 0;
                for (size_t j = 0; j < b->n; j++) {
                        uint64_t t = (uint64_t)a->l[i] * b->l[j] + r->l[i + j] + carry;
                        r->l[i + j] = (uint32_t)t;
                        carry = t >> 32;
                }
                r->l[i + b->n] = (uint32_t)carry;
        }
        r->neg = a->neg != b->neg;
        bn_trim(r);
        return 0;
}

/* q = a div b truncated toward zero; b must not be zero. */
static int bn_div(struct bn *q, const struct bn *a, const struct bn *b)
{
        if (bn_cmp_mag(a, b) < 0)
                return bn_alloc(q, 0);
        size_t m = a->n, n = b->n;
        if (bn_alloc(q, m - n + 1) < 0)
                return -1;
        q->neg = a->neg != b->neg;
        if (n == 1) {
                uint64_t rem = 0;
                for (size_t j = m; j-- > 0;) {
                        uint64_t cur = (rem << 32) | a->l[j];
                        q->l[j] = (uint32_t)(cur / b->l[0]);
                        rem = cur % b->l[0];
                }
                bn_trim(q);
                return 0;
        }
        /* Knuth D: normalise so the divisor's top limb has its high bit set.
         * That limb is non-zero (a bn has no leading zero limbs), so
         * __builtin_clz is defined and s < 32. */
        unsigned int s = (unsigned int)__builtin_clz(b->l[n - 1]);
        uint32_t *vn = calloc(n, sizeof(uint32_t));
        uint32_t *un = calloc(m + 1, sizeof(uint32_t));
        if (!vn || !un) {
                free(vn);
                free(un);
                bn_free(q);
                return -1;
        }
        for (size_t i = n - 1; i > 0; i--)
                vn[i] = (b->l[i] << s) | (s ? (uint32_t)((uint64_t)b->l[i - 1] >> (32 - s)) : 0);
        vn[0] = b->l[0] << s;
        un[m] = s ? (uint32_t)((uint64_t)a->l[m - 1] >> (32 - s)) : 0;
        for (size_t i = m - 1; i > 0; i--)
                un[i] = (a->l[i] << s) | (s ? (uint32_t)((uint64_t)a->l[i - 1] >> (32 - s)) : 0);
        un[0] = a->l[0] << s;
        const uint64_t B = (uint64_t)1 << 32;
        for (size_t j = m - n + 1; j-- > 0;) {
                uint64_t num = ((uint64_t)un[j + n] << 32) | un[j + n - 1];
                uint64_t qhat = num / vn[n - 1];
                uint64_t rhat = num % vn[n - 1];
                while (qhat >= B || qhat * vn[n - 2] > ((rhat << 32) | un[j + n - 2])) {
                        qhat--;
                        rhat += vn[n - 1];
                        if (rhat >= B)
                                break;
                }
                /* multiply and subtract */
                int64_t borrow = 0;
                uint64_t carry = 0;
                for (size_t i = 0; i < n; i++) {
                        uint64_t p = qhat * vn[i] + carry;
                        carry = p >> 32;
                        int64_t t = (int64_t)un[i + j] - borrow - (int64_t)(uint32_t)p;
                        un[i + j] = (uint32_t)t;
                        borrow = t < 0 ? 1 : 0;
                }
                int64_t t = (int64_t)un[j + n] - borrow - (int64_t)carry;
                un[j + n] = (uint32_t)t;
                if (t < 0) {
                        /* qhat was one too large: add the divisor back */
                        qhat--;
                        uint64_t c = 0;
                        for (size_t i = 0; i < n; i++) {
                                uint64_t sum = (uint64_t)un[i + j] + vn[i] + c;
                                un[i + j] = (uint32_t)sum;
                                c = sum >> 32;
                        }
                        un[j + n] = (uint32_t)(un[j + n] + c);
                }
                q->l[j] = (uint32_t)qhat;
        }
        free(vn);
        free(un);
        bn_trim(q);
        return 0;
}

#endif
