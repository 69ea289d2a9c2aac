/* SPDX-License-Identifier: MIT */
/* Fuzzes the order of maps over 32 keys (map_order.c).  The input is read as
 * a recipe of keys (integers at the VM's small/big boundary, bignums, floats,
 * binaries, bitstrings, atoms, tuples, lists, small and large maps), so most
 * runs build a large map, which random ETF bytes would seldom decode to.
 * Checks: the print and wire orders are permutations; with a computable
 * order, wire order is print order reversed, the trie keys ascend in print
 * order, and any order of the input pairs gives the same order; the encoding
 * decodes to an equal map in wire order that prints and re-encodes the same;
 * and comparison ignores pair order. */
#include "etf/etf-internal.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct recipe {
        const uint8_t *p, *end;
        pk_arena *a;
        bool atoms; /* atoms allowed (a map keyed by one has no computable order) */
};

static uint8_t take(struct recipe *r)
{
        return r->p < r->end ? *r->p++ : 0;
}

static uint64_t take64(struct recipe *r)
{
        uint64_t v = 0;
        for (int i = 0; i < 8; i++)
                v = v << 8 | take(r);
        return v;
}

static void key(struct recipe *r, struct pk_term *t, int depth);

/* A map of n keys from the recipe, duplicates dropped (the last wins). */
static void map_of(struct recipe *r, struct pk_term *t, uint32_t n, int depth)
{
        struct pk_term *raw = pk_arena_terms(r->a, 2 * (size_t)n);
        struct pk_term *pairs = pk_arena_terms(r->a, 2 * (size_t)n);
        if (!raw || !pairs) {
                pk_term_set_nil(t);
                return;
        }
        for (uint32_t i = 0; i < n; i++) {
                key(r, &raw[2 * i], depth + 1);
                pk_term_set_int(&raw[2 * i + 1], (int64_t)i);
        }
        size_t k = pk__map_sort_unique(raw, n, pairs, NULL);
        if (k == SIZE_MAX)
                abort();
        pk_term_set_map(t, pairs, (uint32_t)k);
}

static void key(struct recipe *r, struct pk_term *t, int depth)
{
        uint8_t c = take(r);
        if (depth > 3)
                c %= 6; /* leaves only */
        switch (c % 12) {
        case 0:
                pk_term_set_int(t, (int8_t)take(r));
                break;
        case 1: { /* around 2^59, the 64-bit VM's small integer limit */
                int64_t base = take(r) & 1 ? -((int64_t)1 << 59) : ((int64_t)1 << 59);
                pk_term_set_int(t, base + (int8_t)take(r));
                break;
        }
        case 2:
                pk_term_set_int(t, (int64_t)take64(r));
                break;
        case 3: {
                size_t n = 9 + take(r) % 24;
                uint8_t *d = pk_arena_alloc(r->a, n);
                if (!d) {
                        pk_term_set_nil(t);
                        break;
                }
                for (size_t i = 0; i < n; i++)
                        d[i] = take(r);
                d[n - 1] |= 1;
                pk_term_set_big(t, d, n, c & 16);
                break;
        }
        case 4: {
                uint64_t bits = take64(r);
                double f;
                memcpy(&f, &bits, 8);
                if (pk_term_set_float(t, f) != 0)
                        pk_term_set_float(t, bits & 1 ? -0.0 : 0.0);
                break;
        }
        case 5: {
                size_t n = take(r) % 20;
                uint8_t *d = pk_arena_alloc(r->a, n ? n : 1);
                if (!d) {
                        pk_term_set_nil(t);
                        break;
                }
                for (size_t i = 0; i < n; i++)
                        d[i] = take(r);
                unsigned bits = n ? 1 + take(r) % 8 : 8;
                if (bits < 8)
                        d[n - 1] &= (uint8_t)(0xFF00u >> bits);
                if (pk_term_set_bitstring(t, d, n, bits) != 0)
                        pk_term_set_nil(t);
                break;
        }
        case 6: {
                static const char *const names[] = {"a", "ok", "error", "k1", "k2", "zz"};
                const char *s = names[take(r) % 6];
                if (r->atoms)
                        pk_term_set_atom(t, s, strlen(s));
                else
                        pk_term_set_int(t, (int64_t)s[0] << 20);
                break;
        }
        case 7:
        case 8: {
                uint32_t n = take(r) % 4;
                struct pk_term *e = pk_arena_terms(r->a, n ? n : 1);
                if (!e) {
                        pk_term_set_nil(t);
                        break;
                }
                for (uint32_t i = 0; i < n; i++)
                        key(r, &e[i], depth + 1);
                if (c % 12 == 7) {
                        pk_term_set_tuple(t, e, n);
                } else {
                        struct pk_term *tail = NULL;
                        if (n && take(r) % 4 == 0) {
                                tail = pk_arena_terms(r->a, 1);
                                if (tail)
                                        pk_term_set_int(tail, 7);
                        }
                        if (pk_term_set_list(r->a, t, e, n, tail) != 0)
                                pk_term_set_nil(t);
                }
                break;
        }
        case 9: {
                size_t n = take(r) % 9;
                uint8_t *d = pk_arena_alloc(r->a, n ? n : 1);
                if (!d) {
                        pk_term_set_nil(t);
                        break;
                }
                for (size_t i = 0; i < n; i++)
                        d[i] = take(r);
                pk_term_set_string(t, d, (uint32_t)n);
                break;
        }
        case 10:
                map_of(r, t, take(r) % 5, depth);
                break;
        default: /* a large map, as a key of the top map only */
                map_of(r, t, depth ? take(r) % 5 : 33 + take(r) % 8, depth);
                break;
        }
}

static char *print(const struct pk_term *t)
{
        char *s;
        if (pk_etf_print_w(t, &s, NULL) != 0)
                abort();
        return s;
}

static void check_permutation(const uint32_t *idx, uint32_t n)
{
        uint8_t *seen = calloc(n ? n : 1, 1);
        if (!seen)
                abort();
        for (uint32_t i = 0; i < n; i++) {
                if (idx[i] >= n || seen[idx[i]])
                        abort();
                seen[idx[i]] = 1;
        }
        free(seen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        pk_arena *a = pk_arena_new(64u << 20);
        if (!a)
                return 0;
        /* The first byte: bit 0 allows atoms, 0xFF asks for 32 keys (the
         * last flatmap size). */
        struct recipe r = {.p = data, .end = data + size, .a = a, .atoms = size && data[0] & 1};
        uint32_t want = 33 + (uint32_t)(size / 4 > 400 ? 400 : size / 4);
        if (size && data[0] == 0xFF)
                want = 32;
        struct pk_term m;
        r.p += size ? 1 : 0;
        map_of(&r, &m, want, 0);
        if (m.type != PK_TERM_MAP)
                goto out;
        const uint32_t n = m.v.map.arity;
        const struct pk_term *pairs = m.v.map.pairs;
        uint32_t *po = malloc((n ? n : 1) * sizeof(*po)), *wo = malloc((n ? n : 1) * sizeof(*wo));
        uint32_t *ro = malloc((n ? n : 1) * sizeof(*ro));
        struct pk_term *rev = pk_arena_terms(a, 2 * (size_t)(n ? n : 1));
        if (!po || !wo || !ro || !rev)
                abort();
        if (pk__map_print_order(pairs, n, po, NULL) != 0 ||
            pk__map_wire_order(pairs, n, wo, NULL) != 0)
                abort();
        check_permutation(po, n);
        check_permutation(wo, n);
        /* The same pairs, reversed. */
        for (uint32_t i = 0; i < n; i++) {
                rev[2 * i] = pairs[2 * (n - 1 - i)];
                rev[2 * i + 1] = pairs[2 * (n - 1 - i) + 1];
        }
        struct pk_term mr;
        pk_term_set_map(&mr, rev, n);
        if (pk_term_compare(&m, &mr, 1) != 0 || pk_term_compare(&m, &mr, 0) != 0)
                abort();
        int tr = n > PK__FLATMAP_MAX ? pk__map_trie_order(pairs, n, ro) : 1;
        if (tr < 0)
                abort();
        if (tr == 0) {
                for (uint32_t i = 0; i < n; i++)
                        if (wo[i] != po[n - 1 - i] || po[i] != ro[i])
                                abort();
                uint32_t prev = 0;
                for (uint32_t i = 0; i < n; i++) {
                        uint32_t h;
                        if (pk__ihash(&pairs[2 * (size_t)po[i]], 0, &h) != 0)
                                abort();
                        /* The trie key: 4-bit groups reversed, so it ascends. */
                        h = (h & 0x0F0F0F0Fu) << 4 | (h >> 4 & 0x0F0F0F0Fu);
                        h = __builtin_bswap32(h);
                        if (i && h < prev)
                                abort();
                        prev = h;
                }
                /* Reversed input pairs: the same keys in the same order. */
                uint32_t *po2 = malloc((n ? n : 1) * sizeof(*po2));
                if (!po2 || pk__map_print_order(rev, n, po2, NULL) != 0)
                        abort();
                for (uint32_t i = 0; i < n; i++)
                        if (pk__key_cmp(&pairs[2 * (size_t)po[i]], &rev[2 * (size_t)po2[i]]) != 0)
                                abort();
                free(po2);
                char *s1 = print(&m), *s2 = print(&mr);
                if (strcmp(s1, s2) != 0)
                        abort();
                free(s1);
                free(s2);
        }
        /* Encode, decode: an equal map, its pairs in wire order, printed and
         * encoded the same. */
        struct pk_etf_buf b1, b2;
        pk_etf_buf_init(&b1, 0);
        pk_etf_buf_init(&b2, 0);
        if (pk_etf_encode(&b1, &m, NULL) != 0)
                abort();
        struct pk_term *d;
        struct pk_etf_decode_opts dopts = {.max_depth = 1000};
        if (pk_etf_decode(a, b1.data, b1.len, &dopts, &d, NULL, NULL) != 0)
                abort();
        if (d->type != PK_TERM_MAP || d->v.map.arity != n || pk_term_compare(&m, d, 1) != 0)
                abort();
        for (uint32_t i = 0; i < n; i++)
                if (pk__key_cmp(&pairs[2 * (size_t)wo[i]], &d->v.map.pairs[2 * (size_t)i]) != 0)
                        abort();
        if (pk_etf_encode(&b2, d, NULL) != 0 || b1.len != b2.len ||
            memcmp(b1.data, b2.data, b1.len) != 0)
                abort();
        char *s1 = print(&m), *s2 = print(d);
        if (strcmp(s1, s2) != 0)
                abort();
        free(s1);
        free(s2);
        pk_etf_buf_free(&b1);
        pk_etf_buf_free(&b2);
        free(po);
        free(wo);
        free(ro);
out:
        pk_arena_free(a);
        return 0;
}
