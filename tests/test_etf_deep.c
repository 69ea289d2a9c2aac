/* SPDX-License-Identifier: MIT */
/* Every walk of the etf layer (decode with its duplicate-key check, compare,
 * encode, ~w, ~p, parse, unpack) at its depth limit, run on a thread with a
 * 256 KiB stack: a walk whose C stack grows with the term's depth overflows
 * that stack and the test dies with SIGSEGV. */
#include <portkit/etf.h>

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SMALL_STACK (256u * 1024u)

/* Runs fn(arg) on a fresh thread with a 256 KiB stack and waits for it. */
static void on_small_stack(void *(*fn)(void *), void *arg)
{
        pthread_attr_t at;
        pthread_t th;
        cr_assert_eq(pthread_attr_init(&at), 0);
        cr_assert_eq(pthread_attr_setstacksize(&at, SMALL_STACK), 0);
        cr_assert_eq(pthread_create(&th, &at, fn, arg), 0);
        cr_assert_eq(pthread_join(th, NULL), 0);
        pthread_attr_destroy(&at);
}

/* Appends depth one-element LIST_EXT headers, a small atom named c, then
 * depth NILs: [[[...[c]...]]] with c at nesting depth+1... as a list element. */
static size_t put_deep_key(uint8_t *b, size_t depth, char c)
{
        size_t n = 0;
        for (size_t i = 0; i < depth; i++) {
                memcpy(b + n, "\x6c\x00\x00\x00\x01", 5);
                n += 5;
        }
        b[n++] = 119; /* SMALL_ATOM_UTF8_EXT */
        b[n++] = 1;
        b[n++] = (uint8_t)c;
        memset(b + n, 106, depth);
        return n + depth;
}

/* #{K1 => 1, K2 => 2} where each key is depth lists around the atom a or b. */
static uint8_t *deep_key_map(size_t depth, char k1, char k2, size_t *len)
{
        uint8_t *b = malloc(2 * (depth * 6 + 5) + 16);
        cr_assert_not_null(b);
        size_t n = 0;
        b[n++] = 131;
        b[n++] = 116;
        memcpy(b + n, "\x00\x00\x00\x02", 4);
        n += 4;
        n += put_deep_key(b + n, depth, k1);
        b[n++] = 97;
        b[n++] = 1;
        n += put_deep_key(b + n, depth, k2);
        b[n++] = 97;
        b[n++] = 2;
        *len = n;
        return b;
}

struct job {
        uint32_t depth;     /* list levels inside each key */
        uint32_t max_depth; /* decoder option (0: default) */
        char k1, k2;
        int rc;     /* decode's result */
        int cmp;    /* pk_term_compare of the two keys */
        int enc_rc; /* encode, then decode again and compare */
        int rt_cmp;
        char *w; /* ~w text (owned) */
        size_t wlen;
        int w_rc;
        int unpack_rc;
        const struct pk_term *bound;
};

static void *decode_walks(void *arg)
{
        struct job *j = arg;
        size_t len;
        uint8_t *in = deep_key_map(j->depth, j->k1, j->k2, &len);
        pk_arena *a = pk_arena_new(0);
        struct pk_etf_decode_opts o = {.max_depth = j->max_depth};
        struct pk_term *t = NULL;
        j->rc = pk_etf_decode(a, in, len, &o, &t, NULL, NULL);
        if (j->rc == 0) {
                j->cmp = pk_term_compare(&t->v.map.pairs[0], &t->v.map.pairs[2], 1);
                struct pk_etf_buf b;
                pk_etf_buf_init(&b, 0);
                j->enc_rc = pk_etf_encode(&b, t, NULL);
                struct pk_term *u = NULL;
                if (j->enc_rc == 0)
                        j->enc_rc = pk_etf_decode(a, b.data, b.len, &o, &u, NULL, NULL);
                if (j->enc_rc == 0)
                        j->rt_cmp = pk_term_compare(t, u, 0);
                pk_etf_buf_free(&b);
                j->w_rc = pk_etf_print_w(t, &j->w, &j->wlen);
                j->unpack_rc = pk_etf_unpack(t, "#{[[[a]]] => ~t}", &j->bound);
        }
        pk_arena_free(a);
        free(in);
        return NULL;
}

/* The expected ~w text of the map built by deep_key_map, keys in order. */
static char *expected_w(size_t depth, char lo, int lov, char hi, int hiv)
{
        size_t n = 2 * (2 * depth + 1 + 5) + 8;
        char *s = malloc(n), *p = s;
        cr_assert_not_null(s);
        p += sprintf(p, "#{");
        memset(p, '[', depth);
        p += depth;
        *p++ = lo;
        memset(p, ']', depth);
        p += depth;
        p += sprintf(p, " => %d,", lov);
        memset(p, '[', depth);
        p += depth;
        *p++ = hi;
        memset(p, ']', depth);
        p += depth;
        sprintf(p, " => %d}", hiv);
        return s;
}

Test(etf_deep, decode_map_keys_at_default_limit)
{
        /* The map is one level, so keys of 9,999 lists reach the default
         * limit of 10,000 exactly; one more level is refused. */
        uint32_t d = PK_ETF_DEFAULT_MAX_DEPTH - 1;
        struct job j = {.depth = d, .k1 = 'b', .k2 = 'a'};
        on_small_stack(decode_walks, &j);
        cr_assert_eq(j.rc, 0, "%s", pk_strerror(j.rc));
        cr_assert_gt(j.cmp, 0);
        cr_assert_eq(j.enc_rc, 0, "%s", pk_strerror(j.enc_rc));
        cr_assert_eq(j.rt_cmp, 0);
        cr_assert_eq(j.w_rc, 0);
        char *want = expected_w(d, 'a', 2, 'b', 1);
        cr_assert_eq(j.wlen, strlen(want));
        cr_assert(strcmp(j.w, want) == 0);
        free(want);
        free(j.w);
        /* The pattern's key is compared with both deep keys. */
        cr_assert_eq(j.unpack_rc, PK_ENOMATCH);

        struct job over = {.depth = d + 1, .k1 = 'b', .k2 = 'a'};
        on_small_stack(decode_walks, &over);
        cr_assert_eq(over.rc, PK_EDEPTH);
}

Test(etf_deep, decode_equal_deep_keys_is_a_duplicate)
{
        struct job j = {.depth = PK_ETF_DEFAULT_MAX_DEPTH - 1, .k1 = 'a', .k2 = 'a'};
        on_small_stack(decode_walks, &j);
        cr_assert_eq(j.rc, PK_EDUPKEY, "%s", pk_strerror(j.rc));
}

Test(etf_deep, decode_raised_limit_60000)
{
        /* Issue 14's case: two 60,000-deep keys with max_depth 2,000,000
         * crashed the 8 MiB main stack; here it runs in 256 KiB. */
        struct job j = {.depth = 60000, .max_depth = 2000000, .k1 = 'a', .k2 = 'b'};
        on_small_stack(decode_walks, &j);
        cr_assert_eq(j.rc, 0, "%s", pk_strerror(j.rc));
        cr_assert_lt(j.cmp, 0);
        cr_assert_eq(j.enc_rc, 0);
        cr_assert_eq(j.rt_cmp, 0);
        cr_assert_eq(j.w_rc, 0);
        cr_assert_eq(j.wlen, 4 + 2 * (2 * 60000 + 1 + 5));
        free(j.w);
        struct job dup = {.depth = 60000, .max_depth = 2000000, .k1 = 'b', .k2 = 'b'};
        on_small_stack(decode_walks, &dup);
        cr_assert_eq(dup.rc, PK_EDUPKEY);
}

/* ---- maps whose keys are maps: sorting keys must not recurse either ---- */

struct chain {
        pk_arena *a;
        uint32_t depth;
        struct pk_term *x, *y;
        int cmp, cmp_lt, w_rc, p_rc;
        char *w;
};

/* M(0) = v; M(d) = #{M(d-1) => d, #{s => d, t => v} => 0}: every level's two
 * keys are maps of the same size, so ordering them compares their keys. */
static struct pk_term *key_chain(pk_arena *a, uint32_t depth, int64_t v)
{
        struct pk_term *m = pk_arena_terms(a, 1);
        cr_assert_not_null(m);
        pk_term_set_int(m, v);
        for (uint32_t d = 1; d <= depth; d++) {
                struct pk_term *p = pk_arena_terms(a, 4), *q = pk_arena_terms(a, 5);
                cr_assert_not_null(p);
                cr_assert_not_null(q);
                /* q[0..3]: the small map's pairs; q[4]: the small map */
                pk_term_set_atom(&q[0], "s", 1);
                pk_term_set_int(&q[1], d);
                pk_term_set_atom(&q[2], "t", 1);
                pk_term_set_int(&q[3], v);
                pk_term_set_map(&q[4], q, 2);
                p[0] = *m;
                pk_term_set_int(&p[1], d);
                p[2] = q[4];
                pk_term_set_int(&p[3], 0);
                m = pk_arena_terms(a, 1);
                cr_assert_not_null(m);
                pk_term_set_map(m, p, 2);
        }
        return m;
}

static void *chain_walks(void *arg)
{
        struct chain *c = arg;
        c->cmp = pk_term_compare(c->x, c->y, 1);
        struct pk_term *z = key_chain(c->a, c->depth, 8);
        c->cmp_lt = pk_term_compare(c->x, z, 1);
        c->w_rc = pk_etf_print_w(c->x, &c->w, NULL);
        return NULL;
}

Test(etf_deep, map_keys_that_are_maps)
{
        struct chain c = {.a = pk_arena_new(0), .depth = 1000};
        c.x = key_chain(c.a, c.depth, 7);
        c.y = key_chain(c.a, c.depth, 7);
        on_small_stack(chain_walks, &c);
        cr_assert_eq(c.cmp, 0);
        cr_assert_lt(c.cmp_lt, 0);
        cr_assert_eq(c.w_rc, 0);
        free(c.w);
        pk_arena_free(c.a);
}

Test(etf_deep, map_compare_sorts_keys)
{
        /* Maps compare by size, then keys in order, then values in key
         * order, whatever order their pairs are stored in. */
        pk_arena *a = pk_arena_new(0);
        struct pk_term p[3][10], m[3];
        static const int64_t keys[3][5] = {{5, 3, 1, 4, 2}, {1, 2, 3, 4, 5}, {1, 2, 3, 4, 6}};
        for (int k = 0; k < 3; k++) {
                for (int i = 0; i < 5; i++) {
                        pk_term_set_int(&p[k][2 * i], keys[k][i]);
                        pk_term_set_int(&p[k][2 * i + 1], keys[k][i] * 10);
                }
                pk_term_set_map(&m[k], p[k], 5);
        }
        cr_assert_eq(pk_term_compare(&m[0], &m[1], 1), 0);
        cr_assert_lt(pk_term_compare(&m[1], &m[2], 1), 0);
        cr_assert_gt(pk_term_compare(&m[2], &m[0], 1), 0);
        /* Same keys, one value differs: the value of the smallest differing key decides. */
        pk_term_set_int(&p[0][1], 49); /* key 5 => 49 instead of 50 */
        cr_assert_lt(pk_term_compare(&m[0], &m[1], 1), 0);
        pk_term_set_float(&p[0][1], 50.0);
        cr_assert_eq(pk_term_compare(&m[0], &m[1], 0), 0);
        cr_assert_gt(pk_term_compare(&m[0], &m[1], 1), 0);
        pk_arena_free(a);
}

/* ---- the text side ---- */

struct text_job {
        const char *text;
        size_t len;
        uint32_t max_depth;
        int rc;
        int p_rc;
        size_t plen;
        int w_rc;
        int un_rc;
};

static void *text_walks(void *arg)
{
        struct text_job *j = arg;
        pk_arena *a = pk_arena_new(0);
        struct pk_term *t = NULL;
        struct pk_etf_parse_opts o = {.max_depth = j->max_depth};
        j->rc = pk_etf_parse(a, j->text, j->len, &o, &t, NULL, NULL);
        if (j->rc == 1) {
                char *s;
                j->w_rc = pk_etf_print_w(t, &s, NULL);
                if (j->w_rc == 0)
                        free(s);
                const struct pk_term *k;
                j->un_rc = pk_etf_unpack(t, "#{[[[x]]] => ~t, a => 2}", &k);
        }
        pk_arena_free(a);
        return NULL;
}

/* "#{[[..[x]..]] => 1, a => 2, [[..[y]..]] => 3}." with depth lists per key. */
static char *deep_text(size_t depth)
{
        char *s = malloc(4 * depth + 64), *p = s;
        cr_assert_not_null(s);
        p += sprintf(p, "#{");
        memset(p, '[', depth);
        p += depth;
        *p++ = 'x';
        memset(p, ']', depth);
        p += depth;
        p += sprintf(p, " => 1, a => 2, ");
        memset(p, '[', depth);
        p += depth;
        *p++ = 'y';
        memset(p, ']', depth);
        p += depth;
        sprintf(p, " => 3}.");
        return s;
}

Test(etf_deep, parse_print_unpack_at_parse_limit)
{
        /* The parser's default limit is 1,000 levels: the map and 999 lists. */
        char *s = deep_text(999);
        struct text_job j = {.text = s, .len = strlen(s)};
        on_small_stack(text_walks, &j);
        cr_assert_eq(j.rc, 1);
        cr_assert_eq(j.w_rc, 0);
        cr_assert_eq(j.un_rc, PK_ENOMATCH);
        free(s);
        s = deep_text(1000);
        struct text_job over = {.text = s, .len = strlen(s)};
        on_small_stack(text_walks, &over);
        cr_assert_eq(over.rc, PK_EDEPTH);
        free(s);
}

static void *print_p_walk(void *arg)
{
        struct text_job *j = arg;
        pk_arena *a = pk_arena_new(0);
        struct pk_etf_decode_opts o = {.max_depth = j->max_depth + 1};
        struct pk_term *t = NULL;
        j->rc = pk_etf_decode(a, j->text, j->len, &o, &t, NULL, NULL);
        if (j->rc == 0) {
                char *s;
                j->p_rc = pk_etf_print_p(t, NULL, &s, &j->plen);
                if (j->p_rc == 0)
                        free(s);
        }
        pk_arena_free(a);
        return NULL;
}

/* [[[...[x, long atom]...]]] deep enough and wide enough that ~p breaks
 * every level over lines. */
static uint8_t *wide_deep(size_t depth, size_t *len)
{
        uint8_t *b = malloc(depth * 80 + 16), *p = b;
        cr_assert_not_null(b);
        *p++ = 131;
        for (size_t i = 0; i < depth; i++) {
                memcpy(p, "\x6c\x00\x00\x00\x02", 5);
                p += 5;
                *p++ = 119;
                *p++ = 60;
                memset(p, 'q', 60);
                p += 60;
        }
        *p++ = 106;
        for (size_t i = 0; i < depth; i++)
                *p++ = 106;
        *len = (size_t)(p - b);
        return b;
}

Test(etf_deep, print_p_at_its_depth_limit)
{
        /* ~p's default max_depth: a term that deep prints, one deeper gives
         * PK_EDEPTH, both within a 256 KiB stack. */
        size_t len;
        uint8_t *in = wide_deep(PK_ETF_PRINT_DEFAULT_MAX_DEPTH, &len);
        struct text_job j = {
            .text = (const char *)in, .len = len, .max_depth = PK_ETF_PRINT_DEFAULT_MAX_DEPTH};
        on_small_stack(print_p_walk, &j);
        cr_assert_eq(j.rc, 0);
        cr_assert_eq(j.p_rc, 0, "%s", pk_strerror(j.p_rc));
        cr_assert_gt(j.plen, (size_t)PK_ETF_PRINT_DEFAULT_MAX_DEPTH * 60);
        free(in);
        in = wide_deep(PK_ETF_PRINT_DEFAULT_MAX_DEPTH + 2, &len);
        struct text_job over = {
            .text = (const char *)in, .len = len, .max_depth = PK_ETF_PRINT_DEFAULT_MAX_DEPTH + 2};
        on_small_stack(print_p_walk, &over);
        cr_assert_eq(over.rc, 0);
        cr_assert_eq(over.p_rc, PK_EDEPTH);
        free(in);
}

static void *unpack_walk(void *arg)
{
        int *rc = arg;
        /* A pattern 100 levels deep (the pattern limit) against the same term. */
        char pat[512], *p = pat;
        memset(p, '{', 100);
        p += 100;
        p += sprintf(p, "~i");
        memset(p, '}', 100);
        p[100] = '\0';
        pk_arena *a = pk_arena_new(0);
        struct pk_term *t = NULL;
        rc[0] = pk_etf_pack(a, &t, pat, (int64_t)42);
        int64_t v = 0;
        if (rc[0] == 0)
                rc[1] = pk_etf_unpack(t, pat, &v);
        rc[2] = (int)v;
        pk_arena_free(a);
        return NULL;
}

Test(etf_deep, pack_unpack_at_pattern_limit)
{
        int rc[3] = {-1, -1, 0};
        on_small_stack(unpack_walk, rc);
        cr_assert_eq(rc[0], 0, "%s", pk_strerror(rc[0]));
        cr_assert_eq(rc[1], 0, "%s", pk_strerror(rc[1]));
        cr_assert_eq(rc[2], 42);
}

/* ---- maps over 32 keys: their print and wire order hashes the keys ----
 *
 * OTP 25 keeps a map of over 32 keys in a hash trie, so ~w, ~p and encode
 * order its pairs by the VM's hash of each key (map_order.c), which walks
 * the key: through nested tuples and lists, and through nested maps (whose
 * own order, when they are large too, needs their keys' hashes).  That walk
 * recurses, bounded at 200 levels (deeper keys fall back to wire order);
 * these keys go past the bound, on the small stack.  Large maps nested in
 * keys also count 25 levels each: hashing one hashes its keys twice, and
 * before that bound 300 of them (40 KB of ETF) took 2^200 steps. */

enum { BIG_DEPTH = 300 };

/* A 33-pair map: key0 => 0 and the integers 1..32 => k. */
static struct pk_term *big_map_around(pk_arena *a, const struct pk_term *key0)
{
        struct pk_term *p = pk_arena_terms(a, 2 * 33 + 1);
        cr_assert_not_null(p);
        p[0] = *key0;
        pk_term_set_int(&p[1], 0);
        for (int k = 1; k < 33; k++) {
                pk_term_set_int(&p[2 * k], k);
                pk_term_set_int(&p[2 * k + 1], k);
        }
        pk_term_set_map(&p[66], p, 33);
        return &p[66];
}

/* kind 0: large maps nested as keys; 1: two-key maps nested as keys inside
 * one large map; 2: one-element lists nested inside one large map's key. */
static struct pk_term *big_key_term(pk_arena *a, int kind, uint32_t depth)
{
        struct pk_term *t = pk_arena_terms(a, 1);
        cr_assert_not_null(t);
        pk_term_set_int(t, -1);
        for (uint32_t d = 0; d < depth; d++) {
                if (kind == 0) {
                        t = big_map_around(a, t);
                        continue;
                }
                struct pk_term *p = pk_arena_terms(a, 5);
                cr_assert_not_null(p);
                if (kind == 1) {
                        p[0] = *t;
                        pk_term_set_int(&p[1], d);
                        pk_term_set_atom(&p[2], "s", 1);
                        pk_term_set_int(&p[3], d);
                        pk_term_set_map(&p[4], p, 2);
                } else {
                        p[0] = *t;
                        cr_assert_eq(pk_term_set_list(a, &p[4], p, 1, NULL), 0);
                }
                t = &p[4];
        }
        return kind == 0 ? t : big_map_around(a, t);
}

struct big_job {
        pk_arena *a;
        const struct pk_term *t;
        int enc_rc, dec_rc, rt_cmp, w_rc, p_rc;
};

static void *big_walks(void *arg)
{
        struct big_job *j = arg;
        struct pk_etf_buf b;
        pk_etf_buf_init(&b, 0);
        j->enc_rc = pk_etf_encode(&b, j->t, NULL);
        if (j->enc_rc == 0) {
                struct pk_etf_decode_opts o = {.max_depth = 4 * BIG_DEPTH};
                struct pk_term *u = NULL;
                j->dec_rc = pk_etf_decode(j->a, b.data, b.len, &o, &u, NULL, NULL);
                if (j->dec_rc == 0)
                        j->rt_cmp = pk_term_compare(j->t, u, 1);
        }
        pk_etf_buf_free(&b);
        char *s = NULL;
        j->w_rc = pk_etf_print_w(j->t, &s, NULL);
        free(s);
        s = NULL;
        struct pk_etf_print_opts po = {.max_depth = 4 * BIG_DEPTH};
        j->p_rc = pk_etf_print_p(j->t, &po, &s, NULL);
        free(s);
        return NULL;
}

Test(etf_deep, large_maps_hash_deep_keys)
{
        for (int kind = 0; kind < 3; kind++) {
                struct big_job j = {.a = pk_arena_new(0)};
                cr_assert_not_null(j.a);
                j.t = big_key_term(j.a, kind, BIG_DEPTH);
                on_small_stack(big_walks, &j);
                cr_assert_eq(j.enc_rc, 0, "kind %d: %s", kind, pk_strerror(j.enc_rc));
                cr_assert_eq(j.dec_rc, 0, "kind %d: %s", kind, pk_strerror(j.dec_rc));
                cr_assert_eq(j.rt_cmp, 0, "kind %d", kind);
                cr_assert_eq(j.w_rc, 0, "kind %d: %s", kind, pk_strerror(j.w_rc));
                cr_assert_eq(j.p_rc, 0, "kind %d: %s", kind, pk_strerror(j.p_rc));
                pk_arena_free(j.a);
        }
}
