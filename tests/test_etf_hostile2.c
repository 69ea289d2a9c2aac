/* SPDX-License-Identifier: MIT */
/* Maps keyed by maps, from a peer: the work of every walk that orders map
 * keys (decode's duplicate-key check, comparison, ~w, ~p, encode, parse)
 * grows linearly with the nesting depth, measured by the comparison's
 * test-only work counter rather than by time; and ordering keys under
 * allocation failure gives either the right order or -ENOMEM, never a wrong
 * order with success.  Also ~p of lists laid out through runs of leaves,
 * against erl 25 (the run's memory is in test_etf_hostile.c). */
#include <criterion/criterion.h>
#include <portkit/etf.h>

#include "etf/etf-internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Test-only hook of the library's allocator. */
long pk__alloc_fail_after(long n);

/* #{0 => 0, 1 => 1} */
static void put_small(struct pk_etf_buf *b)
{
        pk_etf_put_map(b, 2);
        pk_etf_put_int(b, 0);
        pk_etf_put_int(b, 0);
        pk_etf_put_int(b, 1);
        pk_etf_put_int(b, 1);
}

/* T(0) = #{2 => 0, 3 => 1}; T(d) = #{T(d-1) => 1, #{0 => 0, 1 => 1} => 2}:
 * each level's two keys are maps of two keys, so ordering them compares a
 * map with T(d-1), which needs T(d-1)'s keys in order, which needs
 * T(d-2)'s ...  Re-sorting that chain for every level made the work
 * quadratic in d (1000 levels, 22 KB: 3 s; 10,000 levels: minutes).  The
 * chain is written iteratively: every level's map header, then T(0), then
 * every level's remaining pairs.  leaf shifts T(0)'s first key.  sorted
 * writes each level's keys in key order (the small map first), as erl and
 * our encoder do; otherwise T(d-1) comes first. */
static void put_chain(struct pk_etf_buf *b, unsigned depth, int64_t leaf, bool sorted)
{
        pk_etf_put_version(b);
        for (unsigned d = 0; d < depth; d++) {
                pk_etf_put_map(b, 2);
                if (sorted) {
                        put_small(b);
                        pk_etf_put_int(b, 2);
                }
        }
        pk_etf_put_map(b, 2);
        pk_etf_put_int(b, 2 + leaf);
        pk_etf_put_int(b, 0);
        pk_etf_put_int(b, 3 + leaf);
        pk_etf_put_int(b, 1);
        for (unsigned d = 0; d < depth; d++) {
                pk_etf_put_int(b, 1);
                if (!sorted) {
                        put_small(b);
                        pk_etf_put_int(b, 2);
                }
        }
        cr_assert_eq(b->err, 0);
}

static struct pk_term *decode_chain(pk_arena *a, unsigned depth, int64_t leaf, bool sorted,
                                    uint64_t *work)
{
        struct pk_etf_buf b;
        pk_etf_buf_init(&b, 0);
        put_chain(&b, depth, leaf, sorted);
        struct pk_term *t = NULL;
        struct pk_etf_decode_opts o = {0};
        o.max_depth = 4 * depth + 16;
        uint64_t w0 = pk__term_cmp_work();
        int r = pk_etf_decode(a, b.data, b.len, &o, &t, NULL, NULL);
        *work = pk__term_cmp_work() - w0;
        cr_assert_eq(r, 0, "decode: %s", pk_strerror(r));
        pk_etf_buf_free(&b);
        return t;
}

/* The walks whose comparison work is counted. */
enum {
        W_DECODE,
        W_DECODE_SORTED,
        W_COMPARE,
        W_PRINT_W,
        W_PRINT_P,
        W_ENCODE,
        W_ENCODE_SORTED,
        W_PARSE,
        W_N
};
static const char *const walk_names[W_N] = {"decode",  "decode_sorted", "compare",       "print_w",
                                            "print_p", "encode",        "encode_sorted", "parse"};

/* The comparison work of each walk over one chain of the given depth. */
static void chain_work(unsigned depth, uint64_t w[W_N])
{
        pk_arena *a = pk_arena_new(0);
        cr_assert_not_null(a);
        struct pk_term *x = decode_chain(a, depth, 0, false, &w[W_DECODE]);
        struct pk_term *y = decode_chain(a, depth, 0, true, &w[W_DECODE_SORTED]);
        uint64_t ignored;
        struct pk_term *z = decode_chain(a, depth, 100, false, &ignored);

        uint64_t w0 = pk__term_cmp_work();
        /* Equal copies (different memory) compare equal; a change at the
         * bottom of the chain is found and ordered like the bottom keys. */
        cr_assert_eq(pk_term_compare(x, y, 1), 0);
        cr_assert_lt(pk_term_compare(x, z, 1), 0);
        cr_assert_gt(pk_term_compare(z, y, 0), 0);
        w[W_COMPARE] = pk__term_cmp_work() - w0;

        char *s = NULL;
        size_t len = 0;
        w0 = pk__term_cmp_work();
        cr_assert_eq(pk_etf_print_w(x, &s, &len), 0);
        w[W_PRINT_W] = pk__term_cmp_work() - w0;

        struct pk_etf_print_opts po = {.max_depth = 4 * depth + 16};
        char *p = NULL;
        w0 = pk__term_cmp_work();
        cr_assert_eq(pk_etf_print_p(x, &po, &p, NULL), 0);
        w[W_PRINT_P] = pk__term_cmp_work() - w0;
        free(p);

        struct pk_etf_buf b;
        pk_etf_buf_init(&b, 0);
        w0 = pk__term_cmp_work();
        cr_assert_eq(pk_etf_encode(&b, x, NULL), 0);
        w[W_ENCODE] = pk__term_cmp_work() - w0;
        /* Our encoder writes each level's keys in key order, as erl does. */
        struct pk_etf_buf want;
        pk_etf_buf_init(&want, 0);
        put_chain(&want, depth, 0, true);
        cr_assert_eq(b.len, want.len);
        cr_assert_eq(memcmp(b.data, want.data, b.len), 0);
        pk_etf_buf_reset(&b);
        struct pk_etf_encode_opts eo = PK_ETF_ENCODE_OPTS_INIT;
        eo.deterministic = 1;
        w0 = pk__term_cmp_work();
        cr_assert_eq(pk_etf_encode(&b, x, &eo), 0);
        w[W_ENCODE_SORTED] = pk__term_cmp_work() - w0;
        pk_etf_buf_free(&b);
        pk_etf_buf_free(&want);

        /* The ~w text parses back (through close_map's sort) to an equal term. */
        char *text = malloc(len + 2);
        cr_assert_not_null(text);
        memcpy(text, s, len);
        memcpy(text + len, ".", 2);
        struct pk_term *q = NULL;
        struct pk_etf_parse_opts pa = {.max_depth = 4 * depth + 16};
        w0 = pk__term_cmp_work();
        cr_assert_eq(pk_etf_parse(a, text, len + 1, &pa, &q, NULL, NULL), 1);
        w[W_PARSE] = pk__term_cmp_work() - w0;
        cr_assert_eq(pk_term_compare(q, x, 1), 0);
        free(text);
        free(s);
        pk_arena_free(a);
}

/* Issue 14: maps keyed by maps cost time quadratic in the nesting depth.
 * Doubling the depth now at most doubles each walk's comparison work (with
 * room for rounding), and the work per level is a small constant. */
Test(etf_hostile2, map_keyed_by_maps_is_linear_in_depth)
{
        uint64_t wa[W_N], wb[W_N];
        unsigned d = 1000;
        chain_work(d, wa);
        chain_work(2 * d, wb);
        const char *const *names = walk_names;
        for (size_t i = 0; i < W_N; i++) {
                cr_assert_leq(wb[i], 2 * wa[i] + 64, "%s: depth %u: %llu, depth %u: %llu", names[i],
                              d, (unsigned long long)wa[i], 2 * d, (unsigned long long)wb[i]);
                /* Quadratic work would be ~d * d / 2 = 500,000 here. */
                cr_assert_leq(wa[i], 40 * (uint64_t)d, "%s: %llu comparisons at depth %u", names[i],
                              (unsigned long long)wa[i], d);
        }
}

/* The same chain at a depth the quadratic code could not finish within the
 * test's time (about an hour under the sanitizers), as a plain decode and
 * print. */
Test(etf_hostile2, deep_map_chain_decodes_and_prints)
{
        unsigned depth = 50000;
        pk_arena *a = pk_arena_new(0);
        uint64_t work;
        struct pk_term *t = decode_chain(a, depth, 0, false, &work);
        cr_assert_leq(work, 40 * (uint64_t)depth);
        char *s = NULL;
        cr_assert_eq(pk_etf_print_w(t, &s, NULL), 0);
        cr_assert_eq(strncmp(s, "#{#{0 => 0,1 => 1} => 2,#{", 26), 0, "%.40s", s);
        free(s);
        pk_arena_free(a);
}

/* ---- ordering keys under allocation failure ---- */

/* A map of n keys, each a map #{i => x, [i] => y} with a map as x for some,
 * in a scrambled order: ordering it needs the comparison's heap state, sort
 * buffers and the order cache. */
static struct pk_term *scrambled_map(pk_arena *a, uint32_t n)
{
        struct pk_term *pairs = pk_arena_terms(a, 2 * (size_t)n);
        cr_assert_not_null(pairs);
        for (uint32_t i = 0; i < n; i++) {
                uint32_t v = (i * 7919u + 13u) % n; /* n prime: a permutation */
                struct pk_term *kp = pk_arena_terms(a, 4);
                struct pk_term *inner = pk_arena_terms(a, 4);
                struct pk_term *l = pk_arena_terms(a, 1);
                cr_assert(kp && inner && l);
                pk_term_set_int(&inner[0], v % 3);
                pk_term_set_int(&inner[1], v);
                pk_term_set_int(&inner[2], 5);
                pk_term_set_int(&inner[3], v / 3);
                pk_term_set_int(&kp[0], v % 5);
                pk_term_set_map(&kp[1], inner, 2);
                pk_term_set_int(l, v);
                cr_assert_eq(pk_term_set_list(a, &kp[2], l, 1, NULL), 0);
                pk_term_set_int(&kp[3], v);
                pk_term_set_map(&pairs[2 * (size_t)i], kp, 2);
                pk_term_set_int(&pairs[2 * (size_t)i + 1], i);
        }
        struct pk_term *m = pk_arena_terms(a, 1);
        cr_assert_not_null(m);
        pk_term_set_map(m, pairs, n);
        return m;
}

/* Issue 14: pk__map_key_order ignored a comparison's -ENOMEM and returned a
 * misordered index (printed and encoded as if right).  Now each failure
 * point gives -ENOMEM, and a success (some failures only cost the cache)
 * gives exactly the order with no failure. */
Test(etf_hostile2, key_order_never_misorders_out_of_memory)
{
        pk_arena *a = pk_arena_new(0);
        static const uint32_t sizes[] = {5, 17, 37};
        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
                uint32_t n = sizes[s];
                struct pk_term *m = scrambled_map(a, n);
                uint32_t want[64], got[64];
                cr_assert_eq(pk__map_key_order(m->v.map.pairs, n, want, NULL), 0);
                for (uint32_t i = 1; i < n; i++)
                        cr_assert_lt(pk_term_compare(&m->v.map.pairs[2 * (size_t)want[i - 1]],
                                                     &m->v.map.pairs[2 * (size_t)want[i]], 1),
                                     0);
                long k;
                int failures = 0;
                for (k = 1; k < 100000; k++) {
                        memset(got, 0xFF, sizeof(got));
                        pk__alloc_fail_after(k);
                        int r = pk__map_key_order(m->v.map.pairs, n, got, NULL);
                        long left = pk__alloc_fail_after(0);
                        if (r == 0) {
                                cr_assert_eq(memcmp(got, want, n * sizeof(*got)), 0,
                                             "n=%u: a wrong order at failure %ld", n, k);
                        } else {
                                cr_assert_eq(r, -ENOMEM, "n=%u k=%ld: %d", n, k, r);
                                cr_assert_eq(left, 0);
                                failures++;
                        }
                        if (left > 0)
                                break;
                }
                cr_assert_gt(failures, 0, "n=%u: no allocation to fail", n);
        }
        pk_arena_free(a);
}

/* The same through the public walks: each allocation failure in turn gives
 * -ENOMEM or the exact bytes / text of a run without failures. */
Test(etf_hostile2, map_walks_out_of_memory_fail_cleanly)
{
        pk_arena *a = pk_arena_new(0);
        struct pk_term *m = scrambled_map(a, 37);
        struct pk_etf_encode_opts eo = PK_ETF_ENCODE_OPTS_INIT;
        eo.deterministic = 1;
        struct pk_etf_buf want;
        pk_etf_buf_init(&want, 0);
        cr_assert_eq(pk_etf_encode(&want, m, &eo), 0);
        char *wtext = NULL, *ptext = NULL;
        cr_assert_eq(pk_etf_print_w(m, &wtext, NULL), 0);
        cr_assert_eq(pk_etf_print_p(m, NULL, &ptext, NULL), 0);
        for (int walk = 0; walk < 4; walk++) {
                long k;
                for (k = 1; k < 100000; k++) {
                        struct pk_etf_buf b;
                        pk_etf_buf_init(&b, 0);
                        char *s = NULL;
                        pk__alloc_fail_after(k);
                        int r;
                        if (walk == 0) {
                                r = pk_etf_encode(&b, m, &eo);
                        } else if (walk == 1) {
                                r = pk_etf_print_w(m, &s, NULL);
                        } else if (walk == 2) {
                                r = pk_etf_print_p(m, NULL, &s, NULL);
                        } else {
                                pk_arena *d = pk_arena_new(0);
                                struct pk_term *t = NULL;
                                r = d ? pk_etf_decode(d, want.data, want.len, NULL, &t, NULL, NULL)
                                      : -ENOMEM;
                                long left = pk__alloc_fail_after(0);
                                if (r == 0)
                                        cr_assert_eq(pk_term_compare(t, m, 1), 0);
                                pk__alloc_fail_after(left);
                                pk_arena_free(d);
                        }
                        long left = pk__alloc_fail_after(0);
                        if (r == 0 && walk == 0)
                                cr_assert(b.len == want.len &&
                                              memcmp(b.data, want.data, b.len) == 0,
                                          "encode: other bytes at failure %ld", k);
                        if (r == 0 && walk == 1)
                                cr_assert_str_eq(s, wtext, "~w at failure %ld", k);
                        if (r == 0 && walk == 2)
                                cr_assert_str_eq(s, ptext, "~p at failure %ld", k);
                        if (r != 0)
                                cr_assert_eq(r, -ENOMEM, "walk %d at failure %ld: %d", walk, k, r);
                        free(s);
                        pk_etf_buf_free(&b);
                        if (left > 0)
                                break;
                }
                cr_assert_gt(k, 1, "walk %d never allocated", walk);
        }
        free(wtext);
        free(ptext);
        pk_etf_buf_free(&want);
        pk_arena_free(a);
}

/* ---- ~p of long lists ---- */

#define ESCRIPT PK_SOURCE_DIR "/tests/interop/etf_print.escript"

/* Lists laid out through runs, against erl 25's io_lib:format("~p"): long
 * runs, runs broken by other elements, atoms that need quotes (one with a
 * comma, which cannot join a run), floats, bignums, improper tails, lists in
 * tagged tuples and maps, elements wider than a line. */
static const char *const run_terms[] = {
    NULL, /* [1, 2, ..., 300], written by the test */
    "[1,a,'b,c',2.5,[],{x},3,\"str\",<<1,2>>,4,-5,100000000000000000000000,x,y,z|tail].",
    "{reply,[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,"
    "30,31,32,33,34,35,36,37,38,39,40],ok}.",
    "['hello world','a\\'b',ok,'Caps',[],'with,comma','é',ünïcödé,x,y,z,w,v,u,t,s,r,q,p,o,n,m,"
    "l,k,j,i,h,g,f,e,d,c,b,a].",
    "[123456789012345678901234567890123456789012345678901234567890123456789012345678901234567"
    "890,1,2,3,1234567890123456789012345678901234567890123456789012345678901234567890,4].",
    "[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,"
    "32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,300,0,1,2].",
    "#{a => [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,"
    "31,32,33,34,35,36],b => [x,y|z]}.",
    "[[1,2,3],[4,5,6],7,8,[9,10],11,[],[],12|13].",
    "{state,[1.5,2.25,-3.0e-10,4.0e100,5.0,6.0,7.0,8.0,9.0,10.0,11.0,12.0,13.0,14.0,15.0,16.0],"
    "[a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r,s,t,u,v,w,x,y,z,aa,bb,cc,dd,ee,ff,gg]}.",
    "[{a,1},1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,"
    "{b,2},31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50|{c,3}].",
};

Test(etf_hostile2, long_lists_p_match_erl)
{
        char in[] = "/tmp/pk_hostile2_in_XXXXXX", out[] = "/tmp/pk_hostile2_out_XXXXXX";
        int fd = mkstemp(in);
        cr_assert_geq(fd, 0);
        FILE *f = fdopen(fd, "w");
        size_t nterms = sizeof(run_terms) / sizeof(run_terms[0]);
        char seq[2048], *q = seq;
        for (int k = 1; k <= 300; k++)
                q += sprintf(q, "%c%d", k == 1 ? '[' : ',', k);
        strcpy(q, "].");
        for (size_t i = 0; i < nterms; i++)
                fprintf(f, "%s\n", run_terms[i] ? run_terms[i] : seq);
        fclose(f);
        fd = mkstemp(out);
        cr_assert_geq(fd, 0);
        close(fd);
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "escript %s %s %s", ESCRIPT, in, out);
        int st = system(cmd);
        unlink(in);
        f = fopen(out, "r");
        unlink(out);
        cr_assert_eq(st, 0, "%s", cmd);
        cr_assert_not_null(f);
        pk_arena *a = pk_arena_new(0);
        static char line[1 << 16];
        for (size_t i = 0; i < nterms; i++) {
                cr_assert_not_null(fgets(line, sizeof(line), f), "erl gave %zu lines", i);
                line[strcspn(line, "\n")] = '\0';
                char *want = strchr(line, '\t');
                cr_assert_not_null(want);
                want++;
                struct pk_term *t = NULL;
                const char *text = run_terms[i] ? run_terms[i] : seq;
                struct pk_etf_text_error e = {0};
                cr_assert_eq(pk_etf_parse(a, text, strlen(text), NULL, &t, NULL, &e), 1, "%s: %s",
                             text, e.message);
                char *s = NULL;
                cr_assert_eq(pk_etf_print_p(t, NULL, &s, NULL), 0);
                /* erl's line escapes \ and newlines: do the same to ours. */
                char *esc = malloc(2 * strlen(s) + 1), *d = esc;
                for (const char *p = s; *p; p++) {
                        if (*p == '\\' || *p == '\n') {
                                *d++ = '\\';
                                *d++ = *p == '\n' ? 'n' : '\\';
                        } else {
                                *d++ = *p;
                        }
                }
                *d = '\0';
                cr_expect_str_eq(esc, want, "~p of %s", text);
                free(esc);
                free(s);
        }
        fclose(f);
        pk_arena_free(a);
}

/* ~p of lists with runs under allocation failure: -ENOMEM or the same text. */
Test(etf_hostile2, long_list_p_out_of_memory)
{
        static const char text[] =
            "{reply,[1,a,'b,c',2.5,[],{x},3,\"str\",<<1,2>>,4,-5,100000000000000000000000,x,y,z,"
            "aaaaaaaaaaaaaaaaaaaa,bbbbbbbbbbbbbbbbbbbbbbbbb,ccccccccccccccccccccccc,dddddddddddd,"
            "eeeeeeeeeeeeeeeeeeee,[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,"
            "25,26,27,28,29,30]|tail],#{k => [7,8,9]}}.";
        pk_arena *a = pk_arena_new(0);
        struct pk_term *t = NULL;
        cr_assert_eq(pk_etf_parse(a, text, sizeof(text) - 1, NULL, &t, NULL, NULL), 1);
        char *want = NULL;
        cr_assert_eq(pk_etf_print_p(t, NULL, &want, NULL), 0);
        cr_assert(strchr(want, '\n'), "the term should need several lines: %s", want);
        long k;
        for (k = 1; k < 100000; k++) {
                char *s = NULL;
                pk__alloc_fail_after(k);
                int r = pk_etf_print_p(t, NULL, &s, NULL);
                long left = pk__alloc_fail_after(0);
                if (r == 0)
                        cr_assert_str_eq(s, want, "at failure %ld", k);
                else
                        cr_assert_eq(r, -ENOMEM, "at failure %ld: %d", k, r);
                free(s);
                if (left > 0)
                        break;
        }
        cr_assert_gt(k, 1);
        free(want);
        pk_arena_free(a);
}
