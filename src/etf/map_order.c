/* SPDX-License-Identifier: MIT */
/* Every order a map's pairs come in, in one place: Erlang's map key order
 * (small maps, comparison, the text parser), the duplicate-key check, and the
 * order of maps over 32 keys, which OTP 25 keeps in a hash trie (HAMT) and
 * writes and prints in trie order.  The trie order needs the VM's internal
 * term hash (make_internal_hash in erts utils.c), written here for the keys
 * whose hash does not depend on the VM instance. */
#include "etf-internal.h"

#include <math.h>

/* ---- the key order cache ---- */

const uint32_t pk__korder_identity[1];

static size_t korder_slot(const struct pk__korder *ko, const struct pk_term *pairs, uint32_t n)
{
        uint64_t h = ((uint64_t)(uintptr_t)pairs ^ (uint64_t)n << 40) * 0x9E3779B97F4A7C15ull;
        return (size_t)(h >> 32) & (ko->cap - 1);
}

const uint32_t *pk__korder_get(const struct pk__korder *ko, const struct pk_term *pairs, uint32_t n)
{
        if (!ko || !ko->tab)
                return NULL;
        for (size_t i = korder_slot(ko, pairs, n);; i = (i + 1) & (ko->cap - 1)) {
                const struct pk__korder_ent *e = &ko->tab[i];
                if (!e->ord)
                        return NULL;
                if (e->pairs == pairs && e->n == n)
                        return e->ord;
        }
}

bool pk__korder_put(struct pk__korder *ko, const struct pk_term *pairs, uint32_t n,
                    const uint32_t *ord)
{
        if (!ko)
                return false;
        if (2 * (ko->used + 1) > ko->cap) {
                /* Rehash into a table twice the size (load stays <= 1/2). */
                size_t nc = ko->cap ? 2 * ko->cap : 16;
                struct pk__korder_ent *nt = calloc(nc, sizeof(*nt));
                if (!nt)
                        return false;
                struct pk__korder old = *ko;
                ko->tab = nt;
                ko->cap = nc;
                for (size_t i = 0; i < old.cap; i++) {
                        const struct pk__korder_ent *e = &old.tab[i];
                        if (!e->ord)
                                continue;
                        size_t j = korder_slot(ko, e->pairs, e->n);
                        while (nt[j].ord)
                                j = (j + 1) & (nc - 1);
                        nt[j] = *e;
                }
                free(old.tab);
        }
        size_t i = korder_slot(ko, pairs, n);
        while (ko->tab[i].ord) {
                if (ko->tab[i].pairs == pairs && ko->tab[i].n == n)
                        return false; /* known already: the caller keeps its copy */
                i = (i + 1) & (ko->cap - 1);
        }
        ko->tab[i] = (struct pk__korder_ent){.pairs = pairs, .ord = ord, .n = n};
        ko->used++;
        return true;
}

void pk__korder_free(struct pk__korder *ko)
{
        for (size_t i = 0; i < ko->cap; i++)
                if (ko->tab[i].ord != pk__korder_identity)
                        free((void *)(uintptr_t)ko->tab[i].ord);
        free(ko->tab);
        *ko = (struct pk__korder){0};
}

/* ---- Erlang's map key order ---- */

/* pk__key_cmp that records in *err (when it is not already set) the
 * -ENOMEM of a comparison that could not get its heap stack. */
static int key_cmp_err(const struct pk_term *a, const struct pk_term *b, struct pk__korder *ko,
                       int *err)
{
        if (a->type == b->type) {
                if (a->type == PK_TERM_ATOM) {
                        size_t n = a->v.atom.len < b->v.atom.len ? a->v.atom.len : b->v.atom.len;
                        int c = memcmp(a->v.atom.name, b->v.atom.name, n);
                        if (c)
                                return c;
                        return (a->v.atom.len > b->v.atom.len) - (a->v.atom.len < b->v.atom.len);
                }
                if (a->type == PK_TERM_INT)
                        return (a->v.i > b->v.i) - (a->v.i < b->v.i);
        }
        /* pk__term_cmp walks nested keys on a heap stack: no recursion. */
        int e = 0;
        int c = pk__term_cmp(a, b, 1, ko, &e);
        if (e && !*err)
                *err = e;
        return c;
}

int pk__key_cmp(const struct pk_term *a, const struct pk_term *b)
{
        int err = 0;
        return key_cmp_err(a, b, NULL, &err);
}

/* qsort_r's context: the pairs, the operation's cache, and the first error
 * of a comparison. */
struct key_sort {
        const struct pk_term *pairs;
        struct pk__korder *ko;
        int err;
};

static int key_qsort_cmp(const void *x, const void *y, void *arg)
{
        struct key_sort *ks = arg;
        uint32_t i = *(const uint32_t *)x, j = *(const uint32_t *)y;
        int c = key_cmp_err(&ks->pairs[2 * (size_t)i], &ks->pairs[2 * (size_t)j], ks->ko, &ks->err);
        /* Ties (repeated keys) keep their input order, so "last wins" can
         * be read off the sorted order. */
        return c ? c : (i > j) - (i < j);
}

/* Sorts idx[0..n) (pair indexes) by key: insertion sort for a few keys or
 * a sorted prefix, qsort_r otherwise; ties keep their input order.  0 or the
 * first comparison's -ENOMEM (idx is then a permutation in no useful order). */
static int sort_keys(const struct pk_term *pairs, uint32_t n, uint32_t *idx, struct pk__korder *ko)
{
        struct key_sort ks = {.pairs = pairs, .ko = ko};
        /* Maps decoded from erl or built in order are usually sorted already. */
        uint32_t k = 1;
        while (k < n && key_qsort_cmp(&idx[k - 1], &idx[k], &ks) < 0)
                k++;
        if (k >= n || ks.err)
                return ks.err;
        if (n <= 16) {
                for (uint32_t a = k; a < n && !ks.err; a++) {
                        uint32_t v = idx[a], b = a;
                        while (b > 0 && key_qsort_cmp(&idx[b - 1], &v, &ks) > 0) {
                                idx[b] = idx[b - 1];
                                b--;
                        }
                        idx[b] = v;
                }
                return ks.err;
        }
        qsort_r(idx, n, sizeof(*idx), key_qsort_cmp, &ks);
        return ks.err;
}

int pk__map_key_order(const struct pk_term *pairs, uint32_t n, uint32_t *idx, struct pk__korder *ko)
{
        const uint32_t *known = pk__korder_get(ko, pairs, n);
        for (uint32_t k = 0; k < n; k++)
                idx[k] = known ? pk__korder_at(known, k) : k;
        if (known)
                return 0;
        struct pk__korder own = {0};
        int r = sort_keys(pairs, n, idx, ko ? ko : &own);
        pk__korder_free(&own);
        return r;
}

size_t pk__map_sort_unique(const struct pk_term *pairs, size_t n, struct pk_term *out,
                           struct pk__korder *ko)
{
        if (n > UINT32_MAX)
                return SIZE_MAX;
        uint32_t *idx = malloc((n ? n : 1) * sizeof(*idx));
        if (!idx)
                return SIZE_MAX;
        struct pk__korder own = {0};
        struct key_sort ks = {.pairs = pairs, .ko = ko ? ko : &own};
        ks.err = pk__map_key_order(pairs, (uint32_t)n, idx, ks.ko);
        size_t k = 0;
        for (size_t i = 0; i < n && !ks.err; i++) {
                if (i + 1 < n && key_cmp_err(&pairs[2 * (size_t)idx[i]],
                                             &pairs[2 * (size_t)idx[i + 1]], ks.ko, &ks.err) == 0)
                        continue; /* a later duplicate wins */
                out[2 * k] = pairs[2 * (size_t)idx[i]];
                out[2 * k + 1] = pairs[2 * (size_t)idx[i] + 1];
                k++;
        }
        free(idx);
        pk__korder_free(&own);
        /* A comparison out of memory leaves the order (and so the duplicates
         * found) unreliable. */
        return ks.err ? SIZE_MAX : k;
}

/* ---- duplicate keys ---- */

static uint64_t hmix(uint64_t h, uint64_t v)
{
        /* Multiply, then fold the high half down: the table index takes the
         * low bits, which a multiply alone leaves depending on low input bits. */
        h = (h ^ v) * 0x9E3779B97F4A7C15ull;
        return h ^ (h >> 32);
}

static uint64_t hbytes(uint64_t h, const uint8_t *s, size_t n)
{
        while (n >= 8) {
                uint64_t w;
                memcpy(&w, s, 8);
                h = hmix(h, w);
                s += 8;
                n -= 8;
        }
        /* 0..7 bytes left: two overlapping loads, no variable-length copy. */
        uint64_t w;
        if (n >= 4) {
                uint32_t lo, hi;
                memcpy(&lo, s, 4);
                memcpy(&hi, s + n - 4, 4);
                w = (uint64_t)hi << 32 | lo;
        } else if (n > 0) {
                w = (uint64_t)s[0] | (uint64_t)s[n / 2] << 8 | (uint64_t)s[n - 1] << 16;
        } else {
                w = 0;
        }
        return hmix(h, w ^ (uint64_t)n << 56);
}

/* A hash consistent with exact pk_term_compare equality: equal keys hash
 * equal.  Recursion is bounded (depth 4, 16 list cells); deeper structure
 * only costs collisions, which the caller bounds too. */
static uint64_t key_hash(const struct pk_term *t, int depth)
{
        switch (t->type) {
        case PK_TERM_INT:
                return hmix(1, (uint64_t)t->v.i);
        case PK_TERM_BIG:
                return hbytes(2 + t->v.big.negative, t->v.big.digits, t->v.big.len);
        case PK_TERM_FLOAT: {
                double f = t->v.f == 0 ? 0.0 : t->v.f; /* -0.0 =:= 0.0 on OTP 25 */
                uint64_t bits;
                memcpy(&bits, &f, 8);
                return hmix(4, bits);
        }
        case PK_TERM_ATOM:
                return hbytes(5, (const uint8_t *)t->v.atom.name, t->v.atom.len);
        case PK_TERM_BINARY: {
                size_t n = t->v.bin.size;
                uint64_t h = hmix(6, t->v.bin.bits);
                if (n == 0)
                        return h;
                h = hbytes(h, t->v.bin.data, n - 1);
                return hmix(h, t->v.bin.data[n - 1] & (0xFF00u >> t->v.bin.bits));
        }
        case PK_TERM_NIL:
                return 7;
        case PK_TERM_LIST:
        case PK_TERM_STRING: {
                uint64_t h = 8;
                if (depth >= 4)
                        return h;
                const struct pk_term *s = t;
                uint32_t i = 0;
                for (int cells = 0; cells < 16;) {
                        if (s->type == PK_TERM_LIST && i < s->v.list.len) {
                                h = hmix(h, key_hash(&s->v.list.elems[i++], depth + 1));
                                cells++;
                        } else if (s->type == PK_TERM_LIST) {
                                s = s->v.list.tail;
                                i = 0;
                        } else if (s->type == PK_TERM_STRING && i < s->v.string.len) {
                                h = hmix(h, hmix(1, s->v.string.bytes[i++]));
                                cells++;
                        } else {
                                break;
                        }
                }
                return h;
        }
        case PK_TERM_TUPLE: {
                uint64_t h = hmix(9, t->v.tuple.arity);
                if (depth >= 4)
                        return h;
                uint32_t n = t->v.tuple.arity < 16 ? t->v.tuple.arity : 16;
                for (uint32_t k = 0; k < n; k++)
                        h = hmix(h, key_hash(&t->v.tuple.elems[k], depth + 1));
                return h;
        }
        case PK_TERM_MAP:
                return hmix(10, t->v.map.arity);
        case PK_TERM_PID:
                return hmix(hmix(11, t->v.pid.id), t->v.pid.serial);
        case PK_TERM_PORT:
                return hmix(12, t->v.port.id);
        case PK_TERM_REF:
                return hmix(13, t->v.ref.len ? t->v.ref.ids[0] : 0);
        default:
                return t->type;
        }
}

/* Whether two keys are =:=; a comparison out of memory sets *err. */
static bool key_eq(const struct pk_term *a, const struct pk_term *b, struct pk__korder *ko,
                   int *err)
{
        if (a->type == PK_TERM_ATOM && b->type == PK_TERM_ATOM)
                return a->v.atom.len == b->v.atom.len &&
                       memcmp(a->v.atom.name, b->v.atom.name, a->v.atom.len) == 0;
        if (a->type == PK_TERM_INT && b->type == PK_TERM_INT)
                return a->v.i == b->v.i;
        return key_cmp_err(a, b, ko, err) == 0;
}

/* Sorts the keys and looks for equal neighbours: O(n log n) whatever the keys. */
static int dups_by_sort(const struct pk_term *pairs, uint32_t n, struct pk__korder *ko)
{
        uint32_t *idx = malloc((size_t)n * sizeof(*idx));
        if (!idx)
                return -ENOMEM;
        int err = pk__map_key_order(pairs, n, idx, ko);
        int r = 0;
        for (uint32_t k = 1; k < n && !r && !err; k++)
                if (key_eq(&pairs[2 * (size_t)idx[k - 1]], &pairs[2 * (size_t)idx[k]], ko, &err))
                        r = PK_EDUPKEY;
        free(idx);
        /* Out of memory in a comparison: neither answer can be trusted. */
        return err ? err : r;
}

static int map_dups(const struct pk_term *pairs, uint32_t n, struct pk__korder *ko)
{
        if (n < 2)
                return 0;
        /* Keys in strictly ascending map key order are distinct.  erl writes
         * small maps that way and our encoder writes every small map that
         * way, so this linear check usually settles those. */
        int err = 0;
        uint32_t asc = 1;
        while (asc < n &&
               key_cmp_err(&pairs[2 * (size_t)(asc - 1)], &pairs[2 * (size_t)asc], ko, &err) < 0)
                asc++;
        if (err)
                return err;
        if (asc == n)
                return 0;
        if (n <= 8) {
                for (uint32_t i = 1; i < n; i++)
                        for (uint32_t j = 0; j < i; j++) {
                                bool eq =
                                    key_eq(&pairs[2 * (size_t)i], &pairs[2 * (size_t)j], ko, &err);
                                if (err)
                                        return err;
                                if (eq)
                                        return PK_EDUPKEY;
                        }
                return 0;
        }
        size_t size = 16;
        while (size < 2 * (size_t)n)
                size *= 2;
        uint32_t local[256];
        uint32_t *tab = size <= PK_ARRAY_SIZE(local) ? local : malloc(size * sizeof(*tab));
        if (!tab)
                return -ENOMEM;
        memset(tab, 0, size * sizeof(*tab));
        /* Collisions between unequal keys cost full compares; past a budget,
         * switch to sorting so crafted keys cannot make this quadratic. */
        size_t budget = 4 * (size_t)n + 64;
        int r = 0;
        for (uint32_t i = 0; i < n && !r; i++) {
                const struct pk_term *k = &pairs[2 * (size_t)i];
                size_t h = (size_t)key_hash(k, 0) & (size - 1);
                while (tab[h]) {
                        if (budget-- == 0) {
                                r = 1;
                                break;
                        }
                        bool eq = key_eq(k, &pairs[2 * (size_t)(tab[h] - 1)], ko, &err);
                        if (err) {
                                r = err;
                                break;
                        }
                        if (eq) {
                                r = PK_EDUPKEY;
                                break;
                        }
                        h = (h + 1) & (size - 1);
                }
                if (!r)
                        tab[h] = i + 1;
        }
        if (tab != local)
                free(tab);
        return r == 1 ? dups_by_sort(pairs, n, ko) : r;
}

int pk__map_dups(const struct pk_term *pairs, uint32_t n, struct pk__korder *ko)
{
        struct pk__korder own = {0};
        int r = map_dups(pairs, n, ko ? ko : &own);
        pk__korder_free(&own);
        return r;
}

/* ---- OTP 25's internal term hash ----
 *
 * The VM hashes the words of its own term representation (64-bit build):
 * an immediate (small integer, [], atom, local pid or port) by its tagged
 * word, the rest by content with Bob Jenkins' mix.  Integers, floats, [],
 * binaries, lists, tuples and maps of those hash the same in every VM, so
 * their trie order can be computed here.  Atoms hash by their index in the
 * running VM's atom table, and remote pids, ports and refs by a node
 * pointer: a key holding one has no order outside that VM, and pk__ihash
 * reports it (1). */

#define HC 0x9e3779b9u /* the golden ratio, and HC * k mod 2^32 below */
#define HC_4 0x78dde6e4u
#define HC_9 0x8ff34781u
#define HC_10 0x2e2ac13au
#define HC_11 0xcc623af3u
#define HC_12 0x6a99b4acu
#define HC_13 0x08d12e65u
#define HC_15 0x454021d7u
#define HC_16 0xe3779b90u
#define HC_17 0x81af1549u
#define HC_18 0x1fe68f02u
#define HC_22 0x98c475e6u
#define IHASH_SALT 3432918353u

/* Keys nest no deeper than this for an order to be computed. */
#define IHASH_MAX_DEPTH 200

/* What a map of over 32 keys inside a key counts for against
 * IHASH_MAX_DEPTH.  Hashing such a map hashes its keys twice (once to find
 * their trie order, once for its content), so work doubles with every one
 * nested in a key: at most 200 / 25 = 8 of them (256 times the key's size),
 * not 2^200.  A key past that has no order here (the fallback). */
#define IHASH_LARGE_MAP_DEPTH 25

/* One line of Jenkins' mix: x -= y; x -= z; x ^= z shifted (right by s > 0,
 * left by -s). */
static inline uint32_t jstep(uint32_t x, uint32_t y, uint32_t z, int s)
{
        x -= y;
        x -= z;
        return x ^ (s > 0 ? z >> s : z << -s);
}

/* Bob Jenkins' lookup2 mix of three words. */
static inline void jmix(uint32_t *pa, uint32_t *pb, uint32_t *pc)
{
        uint32_t a = *pa, b = *pb, c = *pc;
        a = jstep(a, b, c, 13);
        b = jstep(b, c, a, -8);
        c = jstep(c, a, b, 13);
        a = jstep(a, b, c, 12);
        b = jstep(b, c, a, -16);
        c = jstep(c, a, b, 5);
        a = jstep(a, b, c, 3);
        b = jstep(b, c, a, -10);
        c = jstep(c, a, b, 15);
        *pa = a;
        *pb = b;
        *pc = c;
}

/* The VM's UINT32_HASH_2: mixes two words and a constant into *h. */
static inline void hash2(uint32_t *h, uint32_t x, uint32_t y, uint32_t k)
{
        uint32_t a = k + x, b = k + y;
        jmix(&a, &b, h);
}

/* The VM's CONST_HASH: a light mix of a type constant. */
static inline void const_hash(uint32_t *h, uint32_t k)
{
        *h ^= k;
        *h = (*h << 17) ^ (*h >> 15);
}

static inline void hash_word(uint32_t *h, uint64_t w)
{
        hash2(h, (uint32_t)w, (uint32_t)(w >> 32), HC);
}

/* block_hash: Jenkins' lookup2 over the bytes, seeded with c. */
static uint32_t block_hash(const uint8_t *k, size_t length, uint32_t c)
{
        uint32_t a = HC, b = HC;
        size_t len = length;
        while (len >= 12) {
                a += (uint32_t)k[0] | (uint32_t)k[1] << 8 | (uint32_t)k[2] << 16 |
                     (uint32_t)k[3] << 24;
                b += (uint32_t)k[4] | (uint32_t)k[5] << 8 | (uint32_t)k[6] << 16 |
                     (uint32_t)k[7] << 24;
                c += (uint32_t)k[8] | (uint32_t)k[9] << 8 | (uint32_t)k[10] << 16 |
                     (uint32_t)k[11] << 24;
                jmix(&a, &b, &c);
                k += 12;
                len -= 12;
        }
        c += (uint32_t)length;
        /* The last 0..11 bytes; c's low byte carries the length. */
        if (len >= 11)
                c += (uint32_t)k[10] << 24;
        if (len >= 10)
                c += (uint32_t)k[9] << 16;
        if (len >= 9)
                c += (uint32_t)k[8] << 8;
        if (len >= 8)
                b += (uint32_t)k[7] << 24;
        if (len >= 7)
                b += (uint32_t)k[6] << 16;
        if (len >= 6)
                b += (uint32_t)k[5] << 8;
        if (len >= 5)
                b += k[4];
        if (len >= 4)
                a += (uint32_t)k[3] << 24;
        if (len >= 3)
                a += (uint32_t)k[2] << 16;
        if (len >= 2)
                a += (uint32_t)k[1] << 8;
        if (len >= 1)
                a += k[0];
        jmix(&a, &b, &c);
        return c;
}

/* A small integer's tagged word (64-bit VM: 60-bit signed value, tag 0xF). */
#define SMALL_MIN (-((int64_t)1 << 59))
#define SMALL_MAX (((int64_t)1 << 59) - 1)
#define NIL_WORD 0x3Bull

static inline uint64_t small_word(int64_t v)
{
        return (uint64_t)v << 4 | 0xF;
}

/* A bignum: its magnitude in 64-bit digits, least significant first. */
static void hash_bignum(uint32_t *h, const uint8_t *mag, size_t len, bool negative)
{
        uint32_t con = negative ? HC_10 : HC_11;
        size_t i = 0;
        do {
                uint64_t d = 0;
                for (size_t j = 0; j < 8 && i + j < len; j++)
                        d |= (uint64_t)mag[i + j] << (8 * j);
                hash2(h, (uint32_t)d, (uint32_t)(d >> 32), con);
                i += 8;
        } while (i < len);
}

static int ihash(uint32_t *h, const struct pk_term *t, int depth);

static bool is_byte(const struct pk_term *t)
{
        return t->type == PK_TERM_INT && t->v.i >= 0 && t->v.i <= 255;
}

/* Moves a list position past exhausted segments: afterwards *seg is a
 * segment with a cell at *i, or the list's tail. */
static void cell_norm(const struct pk_term **seg, uint32_t *i)
{
        static const struct pk_term nil = {.type = PK_TERM_NIL};
        for (;;) {
                if ((*seg)->type == PK_TERM_STRING && *i >= (*seg)->v.string.len) {
                        *seg = &nil;
                        *i = 0;
                } else if ((*seg)->type == PK_TERM_LIST && *i >= (*seg)->v.list.len) {
                        *seg = (*seg)->v.list.tail;
                        *i = 0;
                } else {
                        return;
                }
        }
}

static bool is_cell(const struct pk_term *seg)
{
        return seg->type == PK_TERM_LIST || seg->type == PK_TERM_STRING;
}

/* A list: runs of bytes are packed four to a word (the VM's string
 * shortcut); any other head is hashed after a cons marker, and an improper
 * tail after a tail marker (a tail right after a run of bytes has none). */
static int ihash_list(uint32_t *h, const struct pk_term *t, int depth)
{
        const struct pk_term *seg = t;
        uint32_t i = 0;
        cell_norm(&seg, &i);
        while (is_cell(seg)) {
                uint32_t sh = 0, c = 0;
                for (;;) {
                        int32_t byte = -1;
                        if (seg->type == PK_TERM_STRING)
                                byte = seg->v.string.bytes[i];
                        else if (is_byte(&seg->v.list.elems[i]))
                                byte = (int32_t)seg->v.list.elems[i].v.i;
                        if (byte < 0)
                                break;
                        sh = (sh << 8) + (uint32_t)byte;
                        if (c == 3) {
                                hash2(h, sh, 0, HC_4);
                                c = sh = 0;
                        } else {
                                c++;
                        }
                        i++;
                        cell_norm(&seg, &i);
                        if (!is_cell(seg))
                                break;
                }
                if (c > 0)
                        hash2(h, sh, c, HC_22);
                if (!is_cell(seg))
                        break; /* the tail, hashed below with no marker */
                const struct pk_term *head = &seg->v.list.elems[i++];
                cell_norm(&seg, &i);
                const_hash(h, HC_17);
                int r = ihash(h, head, depth + 1);
                if (r != 0)
                        return r;
                if (!is_cell(seg))
                        const_hash(h, HC_18);
        }
        return ihash(h, seg, depth + 1);
}

static int trie_order(const struct pk_term *pairs, uint32_t n, uint32_t *idx, int depth);

static void reverse(uint32_t *idx, uint32_t n)
{
        for (uint32_t a = 0, b = n ? n - 1 : 0; a < b; a++, b--) {
                uint32_t v = idx[a];
                idx[a] = idx[b];
                idx[b] = v;
        }
}

/* A map key that is itself a map: its size, then key and value of each pair
 * in the order the VM holds them: a small map's sorted keys, or a hash
 * trie's pairs depth first from slot 15 down (its nodes push their children
 * on a stack slot 0 first), which is wire order. */
static int ihash_map(uint32_t *h, const struct pk_term *t, int depth)
{
        uint32_t n = t->v.map.arity;
        hash2(h, n, 0, HC_16);
        if (n == 0)
                return 0;
        uint32_t local[PK__FLATMAP_MAX];
        uint32_t *idx = local;
        int r = 0;
        if (n > PK__FLATMAP_MAX) {
                depth += IHASH_LARGE_MAP_DEPTH;
                if (depth > IHASH_MAX_DEPTH)
                        return 1;
        }
        if (n <= PK__FLATMAP_MAX) {
                r = pk__map_key_order(t->v.map.pairs, n, idx, NULL);
        } else {
                idx = malloc((size_t)n * sizeof(*idx));
                if (!idx)
                        return -ENOMEM;
                r = trie_order(t->v.map.pairs, n, idx, depth + 1);
                if (r == 0)
                        reverse(idx, n);
        }
        for (uint32_t k = 0; k < n && r == 0; k++) {
                r = ihash(h, &t->v.map.pairs[2 * (size_t)idx[k]], depth + 1);
                if (r == 0)
                        r = ihash(h, &t->v.map.pairs[2 * (size_t)idx[k] + 1], depth + 1);
        }
        if (idx != local)
                free(idx);
        return r;
}

/* Hashes t into *h: 0, 1 when t holds a term hashed by VM-local words (or
 * nests too deep), or -ENOMEM. */
static int ihash(uint32_t *h, const struct pk_term *t, int depth)
{
        if (depth > IHASH_MAX_DEPTH)
                return 1;
        switch (t->type) {
        case PK_TERM_INT:
                if (t->v.i >= SMALL_MIN && t->v.i <= SMALL_MAX) {
                        hash_word(h, small_word(t->v.i));
                } else {
                        uint64_t m = t->v.i < 0 ? (uint64_t)0 - (uint64_t)t->v.i : (uint64_t)t->v.i;
                        uint8_t mag[8];
                        for (int j = 0; j < 8; j++)
                                mag[j] = (uint8_t)(m >> (8 * j));
                        hash_bignum(h, mag, 8, t->v.i < 0);
                }
                return 0;
        case PK_TERM_BIG: {
                /* Normally longer than 8 bytes; a non-canonical short one that
                 * fits a small integer is an immediate in the VM. */
                uint64_t m = 0;
                size_t len = pk__mag_trim(t->v.big.digits, t->v.big.len, &m);
                if (len <= 8) {
                        if (m <= (uint64_t)SMALL_MAX + (t->v.big.negative ? 1u : 0u)) {
                                int64_t v = t->v.big.negative ? -(int64_t)m : (int64_t)m;
                                hash_word(h, small_word(v));
                                return 0;
                        }
                }
                hash_bignum(h, t->v.big.digits, len, t->v.big.negative);
                return 0;
        }
        case PK_TERM_FLOAT: {
                double f = t->v.f == 0 ? 0.0 : t->v.f; /* the VM hashes -0.0 as 0.0 */
                uint64_t w;
                memcpy(&w, &f, 8);
                hash2(h, (uint32_t)w, (uint32_t)(w >> 32), HC_12);
                return 0;
        }
        case PK_TERM_NIL:
                hash_word(h, NIL_WORD);
                return 0;
        case PK_TERM_BINARY: {
                size_t full = t->v.bin.bits == 8 ? t->v.bin.size : t->v.bin.size - 1;
                unsigned rest = t->v.bin.bits == 8 ? 0 : t->v.bin.bits;
                uint32_t con = HC_13 + *h;
                if (full == 0 && rest == 0) {
                        *h = con;
                        return 0;
                }
                *h = block_hash(t->v.bin.data, full, con);
                if (rest)
                        hash2(h, rest, (uint32_t)(t->v.bin.data[full] >> (8 - rest)), HC_15);
                return 0;
        }
        case PK_TERM_TUPLE:
                hash2(h, t->v.tuple.arity, 0, HC_9);
                for (uint32_t k = 0; k < t->v.tuple.arity; k++) {
                        int r = ihash(h, &t->v.tuple.elems[k], depth + 1);
                        if (r != 0)
                                return r;
                }
                return 0;
        case PK_TERM_LIST:
        case PK_TERM_STRING:
                return ihash_list(h, t, depth);
        case PK_TERM_MAP:
                return ihash_map(h, t, depth);
        default:
                /* Atoms, pids, ports, refs, funs: hashed by VM-local words. */
                return 1;
        }
}

/* make_map_hash: a key's hash for trie levels 8*round to 8*round+7, from
 * make_internal_hash salted with the round. */
static int key_hash_at(const struct pk_term *key, uint32_t round, int depth, uint32_t *ret)
{
        uint32_t salt = 0;
        if (round > 0)
                hash2(&salt, round, 1, HC_22);
        uint32_t h = salt ^ IHASH_SALT;
        int r = ihash(&h, key, depth);
        if (r == 0)
                *ret = h;
        return r;
}

int pk__ihash(const struct pk_term *key, uint32_t round, uint32_t *ret)
{
        return key_hash_at(key, round, 0, ret);
}

/* ---- the trie order of a large map ----
 *
 * A key's place in the trie is the sequence of 4-bit groups of its hash,
 * least significant first: the hash salted with 0 for levels 0-7, with 1 for
 * levels 8-15, and so on, so keys whose hashes collide part at a deeper
 * level.  The VM's iterator (and so ~w/~p) visits the trie depth first,
 * slot 0 first; term_to_binary and maps:to_list visit it slot 15 first.
 * Print order is therefore ascending in the key's groups read as one
 * number (level 0's group the most significant), wire order descending. */

/* The hash with its 4-bit groups reversed, so that integer order is trie order. */
static uint32_t trie_key(uint32_t h)
{
        h = (h & 0x0F0F0F0Fu) << 4 | (h >> 4 & 0x0F0F0F0Fu);
        return __builtin_bswap32(h);
}

struct slot {
        uint32_t tk;  /* trie_key of the current round's hash */
        uint32_t idx; /* pair index */
};

static int slot_cmp(const void *x, const void *y)
{
        const struct slot *a = x, *b = y;
        if (a->tk != b->tk)
                return a->tk < b->tk ? -1 : 1;
        return (a->idx > b->idx) - (a->idx < b->idx);
}

/* Deeper rounds than this (all hashes equal 16 times over) fall back to key order. */
#define MAX_ROUNDS 16

/* Orders s[0..n) (all equal in the previous round) by the hash salted with
 * round: 0 or -ENOMEM (the keys hashed in round 0 hash in every round). */
static int order_run(const struct pk_term *pairs, struct slot *s, size_t n, uint32_t round,
                     int depth)
{
        if (round >= MAX_ROUNDS) {
                /* Never seen: keep a deterministic order. */
                int err = 0;
                for (size_t a = 1; a < n && !err; a++) {
                        struct slot v = s[a];
                        size_t b = a;
                        while (b > 0 && key_cmp_err(&pairs[2 * (size_t)s[b - 1].idx],
                                                    &pairs[2 * (size_t)v.idx], NULL, &err) > 0) {
                                s[b] = s[b - 1];
                                b--;
                        }
                        s[b] = v;
                }
                return err;
        }
        if (round > 0) {
                for (size_t k = 0; k < n; k++) {
                        uint32_t h = 0;
                        int r = key_hash_at(&pairs[2 * (size_t)s[k].idx], round, depth, &h);
                        if (r != 0)
                                return r < 0 ? r : -EINVAL;
                        s[k].tk = trie_key(h);
                }
        }
        qsort(s, n, sizeof(*s), slot_cmp);
        for (size_t a = 0; a < n;) {
                size_t b = a + 1;
                while (b < n && s[b].tk == s[a].tk)
                        b++;
                if (b - a > 1) {
                        int r = order_run(pairs, s + a, b - a, round + 1, depth);
                        if (r < 0)
                                return r;
                }
                a = b;
        }
        return 0;
}

static int trie_order(const struct pk_term *pairs, uint32_t n, uint32_t *idx, int depth)
{
        struct slot *s = malloc((n ? n : 1) * sizeof(*s));
        if (!s)
                return -ENOMEM;
        int r = 0;
        for (uint32_t k = 0; k < n && r == 0; k++) {
                uint32_t h = 0;
                r = key_hash_at(&pairs[2 * (size_t)k], 0, depth, &h);
                s[k].tk = trie_key(h);
                s[k].idx = k;
        }
        if (r == 0)
                r = order_run(pairs, s, n, 0, depth);
        for (uint32_t k = 0; k < n && r == 0; k++)
                idx[k] = s[k].idx;
        free(s);
        return r;
}

int pk__map_trie_order(const struct pk_term *pairs, uint32_t n, uint32_t *idx)
{
        return trie_order(pairs, n, idx, 0);
}

/* Key order up to 32 keys; else trie order (the iterator's, for printing)
 * or trie order reversed (term_to_binary's).  Keys without a VM-independent
 * hash are taken to be in wire order (as decoded): kept for the wire,
 * reversed for printing. */
static int pair_order(const struct pk_term *pairs, uint32_t n, uint32_t *idx, struct pk__korder *ko,
                      bool for_wire)
{
        if (n <= PK__FLATMAP_MAX)
                return pk__map_key_order(pairs, n, idx, ko);
        int r = pk__map_trie_order(pairs, n, idx);
        if (r < 0)
                return r;
        bool reversed = for_wire;
        if (r == 1) {
                for (uint32_t k = 0; k < n; k++)
                        idx[k] = k;
                reversed = !for_wire;
        }
        if (reversed)
                reverse(idx, n);
        return 0;
}

int pk__map_print_order(const struct pk_term *pairs, uint32_t n, uint32_t *idx,
                        struct pk__korder *ko)
{
        return pair_order(pairs, n, idx, ko, false);
}

int pk__map_wire_order(const struct pk_term *pairs, uint32_t n, uint32_t *idx,
                       struct pk__korder *ko)
{
        return pair_order(pairs, n, idx, ko, true);
}

uint32_t *pk__map_order(const struct pk_term *m, struct pk__korder *ko)
{
        uint32_t n = m->v.map.arity;
        uint32_t *idx = malloc((n ? n : 1) * sizeof(*idx));
        if (idx && pk__map_print_order(m->v.map.pairs, n, idx, ko) < 0) {
                free(idx);
                idx = NULL;
        }
        return idx;
}
