/* SPDX-License-Identifier: MIT */
/* Maps over 32 keys: OTP 25 keeps them in a hash trie and writes and prints
 * them in trie order.  Unit checks of that order, then the cross-check with a
 * real VM (tests/interop/etf_bigmaps.escript). */
#include "testutil.h"

#include <criterion/criterion.h>
#include <portkit/etf.h>

#include "etf/etf-internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BIGMAPS PK_SOURCE_DIR "/tests/interop/etf_bigmaps.escript"

static pk_arena *arena;

static void setup(void)
{
        arena = pk_arena_new(0);
}

static void teardown(void)
{
        pk_arena_free(arena);
}

TestSuite(etf_maps, .init = setup, .fini = teardown);

static struct pk_term *parse(const char *text, size_t len)
{
        struct pk_term *t = NULL;
        struct pk_etf_text_error e = {0};
        struct pk_etf_parse_opts po = {.max_depth = 100000};
        int r = pk_etf_parse(arena, text, len, &po, &t, NULL, &e);
        cr_assert_eq(r, 1, "parse: %s at %u:%u: %s", pk_strerror(r), e.line, e.column, e.message);
        return t;
}

static struct pk_term *parse_str(const char *text)
{
        return parse(text, strlen(text));
}

static struct pk_etf_buf encode(const struct pk_term *t, int deterministic)
{
        struct pk_etf_buf b;
        pk_etf_buf_init(&b, 0);
        struct pk_etf_encode_opts o = {1, 0, 0, deterministic};
        int r = pk_etf_encode(&b, t, &o);
        cr_assert_eq(r, 0, "encode: %s", pk_strerror(r));
        return b;
}

static char *print_w(const struct pk_term *t)
{
        char *s;
        cr_assert_eq(pk_etf_print_w(t, &s, NULL), 0);
        return s;
}

/* A map of the integer keys ks[0..n) (each mapped to 0), its pairs in that order. */
static struct pk_term *int_map(const int64_t *ks, uint32_t n)
{
        struct pk_term *pairs = pk_arena_terms(arena, 2 * (size_t)n);
        struct pk_term *m = pk_arena_terms(arena, 1);
        cr_assert(pairs && m);
        for (uint32_t i = 0; i < n; i++) {
                pk_term_set_int(&pairs[2 * i], ks[i]);
                pk_term_set_int(&pairs[2 * i + 1], 0);
        }
        pk_term_set_map(m, pairs, n);
        return m;
}

/* maps:keys(maps:from_list([{K, x} || K <- lists:seq(1, 40)])) on OTP 25:
 * the wire order, which ~w prints reversed. */
static const int64_t otp25_keys_1_40[40] = {33, 12, 23, 29, 30, 39, 26, 31, 11, 37, 9,  32, 34, 25,
                                            28, 6,  38, 13, 40, 20, 15, 14, 2,  7,  1,  8,  3,  17,
                                            22, 21, 4,  36, 24, 10, 35, 27, 19, 5,  18, 16};

Test(etf_maps, encodes_40_int_keys_in_otp25_order_whatever_the_pair_order)
{
        int64_t asc[40], desc[40];
        for (int i = 0; i < 40; i++) {
                asc[i] = i + 1;
                desc[i] = 40 - i;
        }
        struct pk_etf_buf a = encode(int_map(asc, 40), 0);
        struct pk_etf_buf d = encode(int_map(desc, 40), 0);
        struct pk_etf_buf w = encode(int_map(otp25_keys_1_40, 40), 0);
        cr_assert_eq(a.len, w.len);
        cr_assert_eq(memcmp(a.data, w.data, a.len), 0);
        cr_assert_eq(memcmp(d.data, w.data, d.len), 0);
        /* The keys come in otp25_keys_1_40's order: 97 K 97 0 per pair. */
        for (int i = 0; i < 40; i++)
                cr_assert_eq(a.data[6 + 4 * i + 1], otp25_keys_1_40[i], "pair %d", i);
        /* [deterministic] sorts them. */
        struct pk_etf_buf s = encode(int_map(otp25_keys_1_40, 40), 1);
        for (int i = 0; i < 40; i++)
                cr_assert_eq(s.data[6 + 4 * i + 1], i + 1);
        pk_etf_buf_free(&a);
        pk_etf_buf_free(&d);
        pk_etf_buf_free(&w);
        pk_etf_buf_free(&s);
}

Test(etf_maps, prints_33_keys_in_trie_order_and_32_sorted)
{
        int64_t ks[40];
        for (int i = 0; i < 40; i++)
                ks[i] = i + 1;
        char *s32 = print_w(int_map(ks, 32));
        cr_assert(strncmp(s32, "#{1 => 0,2 => 0,3 => 0,", 23) == 0, "%s", s32);
        free(s32);
        /* ~w of the 40-key map: otp25_keys_1_40 reversed. */
        char *s40 = print_w(int_map(ks, 40));
        char want[1024] = "#{";
        for (int i = 39; i >= 0; i--)
                snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s%lld => 0",
                         i == 39 ? "" : ",", (long long)otp25_keys_1_40[i]);
        strcat(want, "}");
        cr_assert_str_eq(s40, want);
        free(s40);
}

Test(etf_maps, decode_keeps_wire_order_and_compare_ignores_pair_order)
{
        int64_t asc[40];
        for (int i = 0; i < 40; i++)
                asc[i] = i + 1;
        struct pk_term *m = int_map(asc, 40);
        struct pk_etf_buf b = encode(m, 0);
        struct pk_term *t;
        cr_assert_eq(pk_etf_decode(arena, b.data, b.len, NULL, &t, NULL, NULL), 0);
        for (int i = 0; i < 40; i++)
                cr_assert_eq(t->v.map.pairs[2 * i].v.i, otp25_keys_1_40[i]);
        cr_assert_eq(pk_term_compare(t, m, 1), 0);
        cr_assert_eq(pk_term_compare(t, m, 0), 0);
        /* One value changed: no longer equal, whatever the order. */
        t->v.map.pairs[1].v.i = 1;
        cr_assert_neq(pk_term_compare(t, m, 1), 0);
        pk_etf_buf_free(&b);
}

Test(etf_maps, atom_keys_keep_their_order)
{
        /* Atoms hash by their index in a VM's atom table: no order exists
         * outside that VM, so the pairs are written as they are and printed
         * reversed (the VM's ~w of a map it wrote). */
        char text[2048] = "#{";
        for (int i = 0; i < 33; i++)
                snprintf(text + strlen(text), sizeof(text) - strlen(text), "%sa%d => %d",
                         i ? "," : "", i, i);
        strcat(text, "}.");
        struct pk_term *m = parse_str(text);
        uint32_t idx[33];
        cr_assert_eq(pk__map_trie_order(m->v.map.pairs, 33, idx), 1);
        cr_assert_eq(pk__map_wire_order(m->v.map.pairs, 33, idx, NULL), 0);
        for (uint32_t i = 0; i < 33; i++)
                cr_assert_eq(idx[i], i);
        cr_assert_eq(pk__map_print_order(m->v.map.pairs, 33, idx, NULL), 0);
        for (uint32_t i = 0; i < 33; i++)
                cr_assert_eq(idx[i], 32 - i);
}

Test(etf_maps, zero_and_minus_zero_hash_alike)
{
        struct pk_term a, b;
        cr_assert_eq(pk_term_set_float(&a, 0.0), 0);
        cr_assert_eq(pk_term_set_float(&b, -0.0), 0);
        uint32_t ha, hb;
        cr_assert_eq(pk__ihash(&a, 0, &ha), 0);
        cr_assert_eq(pk__ihash(&b, 0, &hb), 0);
        cr_assert_eq(ha, hb);
}

static int cmp_u64(const void *x, const void *y)
{
        uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
        return (a > b) - (a < b);
}

/* Finds two integer keys whose level-0 hashes are equal (a 32-bit collision). */
static void find_collision(int64_t *ra, int64_t *rb)
{
        const uint32_t n = 400000;
        uint64_t *v = malloc(n * sizeof(*v));
        cr_assert_not_null(v);
        for (uint32_t i = 0; i < n; i++) {
                struct pk_term k;
                pk_term_set_int(&k, (int64_t)i);
                uint32_t h;
                cr_assert_eq(pk__ihash(&k, 0, &h), 0);
                v[i] = (uint64_t)h << 32 | i;
        }
        qsort(v, n, sizeof(*v), cmp_u64);
        for (uint32_t i = 1; i < n; i++)
                if (v[i] >> 32 == v[i - 1] >> 32) {
                        *ra = (int64_t)(uint32_t)v[i - 1];
                        *rb = (int64_t)(uint32_t)v[i];
                        free(v);
                        return;
                }
        free(v);
        cr_assert_fail("no collision among %u keys", n);
}

/* Keys whose 32-bit hashes collide part at level 8, hashed again with a
 * salt: the VM prints such a map exactly as we do. */
Test(etf_maps, hash_collisions_match_erl, .timeout = 120)
{
        int64_t ks[34];
        find_collision(&ks[0], &ks[1]);
        for (int i = 2; i < 34; i++)
                ks[i] = 1000000 + i;
        struct pk_term *m = int_map(ks, 34);
        char *ours = print_w(m);
        char cmd[1024] = "erl -noshell -eval 'io:format(\"~w\", [maps:from_list([";
        for (int i = 0; i < 34; i++)
                snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), "%s{%lld,0}", i ? "," : "",
                         (long long)ks[i]);
        strcat(cmd, "])]), halt().'");
        FILE *p = popen(cmd, "r");
        cr_assert_not_null(p);
        char erl[4096];
        size_t n = fread(erl, 1, sizeof(erl) - 1, p);
        erl[n] = '\0';
        cr_assert_eq(pclose(p), 0);
        cr_assert_str_eq(ours, erl, "keys %lld and %lld collide", (long long)ks[0],
                         (long long)ks[1]);
        free(ours);
}

/* portkit etf encode writes erl's bytes for large maps, and with
 * --deterministic those of term_to_binary(M, [deterministic]). */
Test(etf_maps, cli_encode_matches_erl, .timeout = 120)
{
        char dir[] = "/tmp/pk_etf_maps_cli_XXXXXX";
        cr_assert_not_null(mkdtemp(dir));
        char cmd[2048];
        snprintf(cmd, sizeof(cmd),
                 "erl -noshell -eval '"
                 "M = maps:from_list([{K, K * 2} || K <- lists:seq(-20, 20)]),"
                 "ok = file:write_file(\"%s/in.txt\", io_lib:format(\"~w.~n\", [M])),"
                 "ok = file:write_file(\"%s/erl.bin\", term_to_binary(M, [{minor_version, 2}])),"
                 "ok = file:write_file(\"%s/det.bin\","
                 " term_to_binary(M, [{minor_version, 2}, deterministic])),"
                 "halt().'",
                 dir, dir, dir);
        cr_assert_eq(system(cmd), 0, "%s", cmd);
        snprintf(cmd, sizeof(cmd),
                 "%s/portkit etf encode < %s/in.txt > %s/ours.bin && cmp -s %s/ours.bin %s/erl.bin"
                 " && %s/portkit etf encode --deterministic < %s/in.txt > %s/det_ours.bin"
                 " && cmp -s %s/det_ours.bin %s/det.bin && ! cmp -s %s/erl.bin %s/det.bin",
                 PK_BUILD_DIR, dir, dir, dir, dir, PK_BUILD_DIR, dir, dir, dir, dir, dir, dir);
        cr_assert_eq(system(cmd), 0, "%s", cmd);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        cr_assert_eq(system(cmd), 0);
}

/* ---- the cross-check with a real VM ---- */

/* PK_ETF_MAPS_N and PK_ETF_MAPS_SEED scale the run (e.g. 20000 maps). */
Test(etf_maps, crosscheck_with_erl, .timeout = 600)
{
        const char *ns = getenv("PK_ETF_MAPS_N"), *ss = getenv("PK_ETF_MAPS_SEED");
        int want = ns ? atoi(ns) : 2000, seed = ss ? atoi(ss) : 15;
        char gen[] = "/tmp/pk_etf_maps_gen_XXXXXX", ours[] = "/tmp/pk_etf_maps_ours_XXXXXX";
        int fd = mkstemp(gen);
        cr_assert_geq(fd, 0);
        close(fd);
        fd = mkstemp(ours);
        cr_assert_geq(fd, 0);
        close(fd);
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), "escript %s gen %d %d %s", BIGMAPS, want, seed, gen);
        cr_assert_eq(system(cmd), 0, "%s", cmd);
        size_t len;
        uint8_t *data = (uint8_t *)tu_slurp(gen, &len);
        FILE *out = fopen(ours, "wb");
        cr_assert_not_null(out);
        struct tu_tally tw = {.what = "~w of term_to_binary(M)"},
                        tp = {.what = "~p of term_to_binary(M)"},
                        tre = {.what = "re-encoding of term_to_binary(M)"},
                        tdet = {.what = "[deterministic] encoding"},
                        tcmp = {.what = "decoded =:= parsed (pk_term_compare)"},
                        tpw = {.what = "~w of the map parsed from ~w"},
                        tpe = {.what = "encoding of the map parsed from ~w"};
        struct tu_tally *all[] = {&tw, &tp, &tre, &tdet, &tcmp, &tpw, &tpe};
        const uint8_t *p = data, *end = data + len;
        unsigned n = 0, computable = 0, large = 0;
        while (p < end) {
                struct tu_field w, b, pp, det, c;
                p = tu_next_field(p, end, &w);
                p = tu_next_field(p, end, &b);
                p = tu_next_field(p, end, &pp);
                p = tu_next_field(p, end, &det);
                p = tu_next_field(p, end, &c);
                struct pk_term *t;
                cr_assert_eq(pk_etf_decode(arena, b.p, b.n, NULL, &t, NULL, NULL), 0, "map %u", n);
                large += t->v.map.arity > PK__FLATMAP_MAX;
                char *s;
                size_t slen;
                cr_assert_eq(pk_etf_print_w(t, &s, &slen), 0);
                tu_count(&tw, tu_same(s, slen, w), n);
                free(s);
                if (pp.n) {
                        cr_assert_eq(pk_etf_print_p(t, NULL, &s, &slen), 0);
                        tu_count(&tp, tu_same(s, slen, pp), n);
                        free(s);
                }
                struct pk_etf_buf e = encode(t, 0);
                tu_count(&tre, tu_same(e.data, e.len, b), n);
                pk_etf_buf_free(&e);
                e = encode(t, 1);
                tu_count(&tdet, tu_same(e.data, e.len, det), n);
                pk_etf_buf_free(&e);
                /* The ~w text, parsed: a map built in C, its pairs sorted. */
                char *text = malloc(w.n + 1);
                cr_assert_not_null(text);
                memcpy(text, w.p, w.n);
                text[w.n] = '.';
                struct pk_term *pt = parse(text, w.n + 1);
                free(text);
                tu_count(&tcmp, pk_term_compare(t, pt, 1) == 0, n);
                e = encode(pt, 0);
                tu_put_field(out, e.data, e.len);
                if (c.p[0]) {
                        computable++;
                        tu_count(&tpe, tu_same(e.data, e.len, b), n);
                        cr_assert_eq(pk_etf_print_w(pt, &s, &slen), 0);
                        tu_count(&tpw, tu_same(s, slen, w), n);
                        free(s);
                }
                pk_etf_buf_free(&e);
                pk_arena_reset(arena);
                n++;
        }
        cr_assert_eq(fclose(out), 0);
        free(data);
        cr_assert_eq((int)n, want);
        for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
                cr_expect_eq(all[i]->bad, 0, "%s: %u of %u maps differ (first: map %u)",
                             all[i]->what, all[i]->bad, all[i]->done, all[i]->first);
        /* The mix must exercise what it claims to. */
        cr_expect_gt(large, (unsigned)want * 9 / 10);
        cr_expect_gt(computable, (unsigned)want / 2);
        cr_expect_gt(tp.done, (unsigned)want / 2);
        fprintf(stderr, "etf_maps: %u maps, %u of over 32 keys, %u with a computable order\n", n,
                large, computable);
        snprintf(cmd, sizeof(cmd), "escript %s verify %s %s", BIGMAPS, gen, ours);
        cr_expect_eq(system(cmd), 0, "erl does not read our encodings back as the same maps");
        unlink(gen);
        unlink(ours);
}
