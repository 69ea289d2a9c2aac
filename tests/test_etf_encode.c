/* SPDX-License-Identifier: MIT */
/* ETF encoder tests: integers, atoms and floats by minor version, string
 * rules, the buffer cap, the streaming writers against the tree encoder,
 * round trips of every type and compression. */
#include "etf_testutil.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

TestSuite(etf_encode, .init = etf_setup, .fini = etf_teardown, .timeout = 120);

/* ---- encoder ---- */

Test(etf_encode, encode_ints)
{
        static const struct {
                int64_t v;
                uint8_t bytes[12];
                size_t n;
        } cases[] = {
            {0, {131, 97, 0}, 3},
            {255, {131, 97, 255}, 3},
            {256, {131, 98, 0, 0, 1, 0}, 6},
            {-1, {131, 98, 255, 255, 255, 255}, 6},
            {INT32_MAX, {131, 98, 127, 255, 255, 255}, 6},
            {(int64_t)INT32_MAX + 1, {131, 110, 4, 0, 0, 0, 0, 128}, 8},
            {INT32_MIN, {131, 98, 128, 0, 0, 0}, 6},
            {(int64_t)INT32_MIN - 1, {131, 110, 4, 1, 1, 0, 0, 128}, 8},
            {INT64_MIN, {131, 110, 8, 1, 0, 0, 0, 0, 0, 0, 0, 128}, 12},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                struct pk_term t;
                pk_term_set_int(&t, cases[i].v);
                struct pk_etf_buf b = enc(&t, 2, 0);
                cr_assert_eq(b.len, cases[i].n, "case %zu", i);
                cr_assert_arr_eq(b.data, cases[i].bytes, cases[i].n, "case %zu", i);
                pk_etf_buf_free(&b);
        }
}

Test(etf_encode, encode_atoms_by_version)
{
        struct pk_term t;
        cr_assert_eq(pk_term_set_atom(&t, "\xC3\xA9", 2), 0);
        struct pk_etf_buf b = enc(&t, 1, 0);
        static const uint8_t v1[] = {131, 100, 0, 1, 0xE9};
        cr_assert_arr_eq(b.data, v1, sizeof(v1));
        pk_etf_buf_free(&b);
        b = enc(&t, 2, 0);
        static const uint8_t v2[] = {131, 119, 2, 0xC3, 0xA9};
        cr_assert_arr_eq(b.data, v2, sizeof(v2));
        pk_etf_buf_free(&b);
        cr_assert_eq(pk_term_set_atom(&t, "\xC4\x81", 2), 0); /* U+0101: not Latin-1 */
        b = enc(&t, 0, 0);
        static const uint8_t v0[] = {131, 119, 2, 0xC4, 0x81};
        cr_assert_arr_eq(b.data, v0, sizeof(v0));
        pk_etf_buf_free(&b);
        /* Malformed atoms in a hand-built tree are refused. */
        t.type = PK_TERM_ATOM;
        t.v.atom.name = "\xFF";
        t.v.atom.len = 1;
        struct pk_etf_buf o;
        pk_etf_buf_init(&o, 0);
        cr_assert_eq(pk_etf_encode(&o, &t, NULL), PK_EATOMUTF8);
        cr_assert_eq(o.len, 0);
        cr_assert_eq(o.err, 0);
        pk_etf_buf_free(&o);
}

Test(etf_encode, encode_float_v0_format)
{
        struct pk_term t;
        pk_term_set_float(&t, 1.5);
        struct pk_etf_buf b = enc(&t, 0, 0);
        cr_assert_eq(b.len, 33);
        cr_assert_eq(b.data[1], 99);
        cr_assert_str_eq((const char *)b.data + 2, "1.50000000000000000000e+00");
        cr_assert_eq(b.data[32], 0);
        pk_etf_buf_free(&b);
        struct pk_term nan = {.type = PK_TERM_FLOAT, .v.f = NAN};
        struct pk_etf_buf o;
        pk_etf_buf_init(&o, 0);
        cr_assert_eq(pk_etf_encode(&o, &nan, NULL), PK_EBADFLOAT);
        pk_etf_buf_free(&o);
}

Test(etf_encode, encode_string_rules)
{
        /* A LIST of integers 0..255 is written as STRING_EXT, as erl does. */
        struct pk_term el[3], t;
        for (int i = 0; i < 3; i++)
                pk_term_set_int(&el[i], 'a' + i);
        cr_assert_eq(pk_term_set_list(arena, &t, el, 3, NULL), 0);
        struct pk_etf_buf b = enc(&t, 2, 0);
        static const uint8_t s[] = {131, 107, 0, 3, 'a', 'b', 'c'};
        cr_assert_eq(b.len, sizeof(s));
        cr_assert_arr_eq(b.data, s, sizeof(s));
        pk_etf_buf_free(&b);
        /* 256 breaks it. */
        pk_term_set_int(&el[1], 256);
        b = enc(&t, 2, 0);
        cr_assert_eq(b.data[1], 108);
        pk_etf_buf_free(&b);
        /* A STRING of 65536 bytes is LIST_EXT of SMALL_INTEGER_EXT. */
        uint8_t *big = calloc(65536, 1);
        pk_term_set_string(&t, big, 65536);
        b = enc(&t, 2, 0);
        cr_assert_eq(b.len, 1 + 5 + 2 * 65536 + 1);
        cr_assert_eq(b.data[1], 108);
        pk_etf_buf_free(&b);
        pk_term_set_string(&t, big, 65535);
        b = enc(&t, 2, 0);
        cr_assert_eq(b.len, 1 + 3 + 65535);
        pk_etf_buf_free(&b);
        free(big);
}

Test(etf_encode, map_key_order_int_before_float)
{
        /* erl: #{2 => a, 1.5 => b, 1 => c, 1.0 => d} keys come out [1, 2, 1.0, 1.5]. */
        struct pk_term k[4];
        pk_term_set_int(&k[0], 2);
        pk_term_set_float(&k[1], 1.5);
        pk_term_set_int(&k[2], 1);
        pk_term_set_float(&k[3], 1.0);
        cr_assert_lt(pk_term_compare(&k[0], &k[1], 1), 0);
        cr_assert_gt(pk_term_compare(&k[0], &k[1], 0), 0);
        cr_assert_lt(pk_term_compare(&k[2], &k[3], 1), 0);
        cr_assert_eq(pk_term_compare(&k[2], &k[3], 0), 0);
}

Test(etf_encode, buffer_cap_and_sticky_error)
{
        struct pk_etf_buf b;
        pk_etf_buf_init(&b, 10);
        cr_assert_eq(pk_etf_put_version(&b), 0);
        cr_assert_eq(pk_etf_put_binary(&b, "abc", 3), 0); /* 1 + 8 = 9 bytes */
        cr_assert_eq(pk_etf_put_int(&b, 1000), PK_ETERMSIZE);
        cr_assert_eq(b.err, PK_ETERMSIZE);
        cr_assert_eq(b.len, 9);
        cr_assert_eq(pk_etf_put_nil(&b), PK_ETERMSIZE); /* sticky, even though it would fit */
        cr_assert_eq(b.len, 9);
        pk_etf_buf_reset(&b);
        cr_assert_eq(pk_etf_put_nil(&b), 0);
        pk_etf_buf_free(&b);
        /* The tree encoder restores the buffer on failure. */
        pk_etf_buf_init(&b, 8);
        struct pk_term t;
        pk_term_set_binary(&t, "0123456789", 10);
        cr_assert_eq(pk_etf_encode(&b, &t, NULL), PK_ETERMSIZE);
        cr_assert_eq(b.len, 0);
        cr_assert_eq(b.err, 0);
        pk_etf_buf_free(&b);
}

Test(etf_encode, streaming_matches_tree)
{
        for (int mv = 0; mv <= 2; mv++) {
                struct pk_etf_buf s;
                pk_etf_buf_init(&s, 0);
                stream_sample(&s, mv);
                cr_assert_eq(s.err, 0);
                struct dres r = dec(s.data, s.len);
                cr_assert_eq(r.rc, 0, "%s", pk_strerror(r.rc));
                cr_assert_eq(r.used, s.len);
                struct pk_etf_buf t = enc(r.t, mv, 0);
                if (t.len != s.len || memcmp(t.data, s.data, s.len) != 0) {
                        hexdump("stream", s.data, s.len);
                        hexdump("tree", t.data, t.len);
                        cr_assert_fail("minor version %d differs", mv);
                }
                /* put_term writes the same bytes as the tree encoder. */
                struct pk_etf_buf p;
                pk_etf_buf_init(&p, 0);
                pk_etf_put_version(&p);
                cr_assert_eq(pk_etf_put_term(&p, mv, r.t), 0);
                cr_assert_eq(p.len, s.len);
                cr_assert_arr_eq(p.data, s.data, s.len);
                pk_etf_buf_free(&p);
                pk_etf_buf_free(&t);
                pk_etf_buf_free(&s);
        }
}

Test(etf_encode, streaming_input_errors)
{
        struct pk_etf_buf b;
        pk_etf_buf_init(&b, 0);
        cr_assert_eq(pk_etf_put_float(&b, INFINITY), PK_EBADFLOAT);
        pk_etf_buf_reset(&b);
        cr_assert_eq(pk_etf_put_bitstring(&b, "a", 1, 0), PK_EBITS);
        pk_etf_buf_reset(&b);
        char name[256];
        memset(name, 'a', sizeof(name));
        cr_assert_eq(pk_etf_put_atom(&b, name, 256), PK_EATOMLEN);
        pk_etf_buf_reset(&b);
        cr_assert_eq(pk_etf_put_atom(&b, "\xC3", 1), PK_EATOMUTF8);
        pk_etf_buf_reset(&b);
        cr_assert_eq(pk_etf_put_uint(&b, UINT64_MAX), 0);
        static const uint8_t want[] = {110, 8, 0, 255, 255, 255, 255, 255, 255, 255, 255};
        cr_assert_arr_eq(b.data, want, sizeof(want));
        pk_etf_buf_free(&b);
}

/* ---- round trips of every type, built with the setters ---- */

Test(etf_encode, round_trip_every_type)
{
        struct pk_term *e = pk_arena_terms(arena, 32);
        int n = 0;
        pk_term_set_int(&e[n++], -123456789012LL);
        static const uint8_t mag[20] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                                        11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
        pk_term_set_big(&e[n++], mag, 20, 1);
        pk_term_set_float(&e[n++], -0.0);
        pk_term_set_float(&e[n++], 1e-310);
        pk_term_set_atom(&e[n++], "\xE6\x97\xA5", 3);
        pk_term_set_nil(&e[n++]);
        pk_term_set_string(&e[n++], (const uint8_t *)"str", 3);
        struct pk_term *tail = pk_arena_terms(arena, 1);
        pk_term_set_atom(tail, "t", 1);
        pk_term_set_list(arena, &e[n++], e, 3, tail);
        pk_term_set_binary(&e[n++], "bin", 3);
        pk_term_set_bitstring(&e[n++], "\xA0", 1, 3);
        struct pk_term *pairs = pk_arena_terms(arena, 4);
        pk_term_set_atom(&pairs[0], "k", 1);
        pk_term_set_int(&pairs[1], 1);
        pk_term_set_int(&pairs[2], 1);
        pk_term_set_atom(&pairs[3], "v", 1);
        pk_term_set_map(&e[n++], pairs, 2);
        e[n].type = PK_TERM_PID;
        e[n].v.pid.node = "n@h";
        e[n].v.pid.node_len = 3;
        e[n].v.pid.id = 7;
        e[n].v.pid.serial = 8;
        e[n++].v.pid.creation = 9;
        e[n].type = PK_TERM_PORT;
        e[n].v.port.node = "n@h";
        e[n].v.port.node_len = 3;
        e[n++].v.port.id = 77;
        static const uint32_t ids[3] = {1, 2, 3};
        e[n].type = PK_TERM_REF;
        e[n].v.ref.node = "n@h";
        e[n].v.ref.node_len = 3;
        e[n].v.ref.len = 3;
        e[n++].v.ref.ids = ids;
        e[n].type = PK_TERM_EXPORT;
        e[n].v.mfa.module = "lists";
        e[n].v.mfa.module_len = 5;
        e[n].v.mfa.function = "map";
        e[n].v.mfa.function_len = 3;
        e[n++].v.mfa.arity = 2;
        struct pk_fun *f = pk_arena_alloc(arena, sizeof(*f));
        memset(f, 0, sizeof(*f));
        struct pk_term *fv = pk_arena_terms(arena, 5);
        f->arity = 1;
        memset(f->uniq, 0x11, 16);
        f->index = 3;
        f->module = "m";
        f->module_len = 1;
        f->num_free = 2;
        pk_term_set_int(&fv[0], 0);
        pk_term_set_int(&fv[1], 12345678);
        fv[2] = e[11]; /* the pid */
        pk_term_set_tuple(&fv[3], e, 2);
        pk_term_set_atom(&fv[4], "free", 4);
        f->old_index = &fv[0];
        f->old_uniq = &fv[1];
        f->pid = &fv[2];
        f->free_vars = &fv[3];
        e[n].type = PK_TERM_FUN;
        e[n++].v.fun = f;
        struct pk_term root;
        pk_term_set_tuple(&root, e, (uint32_t)n);
        for (int mv = 0; mv <= 2; mv++)
                for (int level = 0; level <= 9; level += 9) {
                        struct pk_etf_buf b = enc(&root, mv, level);
                        struct dres r = dec(b.data, b.len);
                        cr_assert_eq(r.rc, 0, "mv %d: %s at %zu", mv, pk_strerror(r.rc),
                                     r.err.offset);
                        cr_assert_eq(r.used, b.len);
                        cr_assert_eq(pk_term_compare(&root, r.t, 1), 0, "mv %d", mv);
                        /* And encoding the decoded tree gives the same bytes. */
                        struct pk_etf_buf b2 = enc(r.t, mv, level);
                        cr_assert_eq(b2.len, b.len);
                        cr_assert_arr_eq(b2.data, b.data, b.len);
                        pk_etf_buf_free(&b2);
                        pk_etf_buf_free(&b);
                }
}

Test(etf_encode, compress_only_when_smaller)
{
        struct pk_term t;
        pk_term_set_binary(&t, "ab", 2);
        struct pk_etf_buf b = enc(&t, 1, 6);
        cr_assert_eq(b.data[1], 109);
        pk_etf_buf_free(&b);
        static uint8_t zeros[1000];
        pk_term_set_binary(&t, zeros, sizeof(zeros));
        b = enc(&t, 1, 6);
        cr_assert_eq(b.data[1], 80);
        cr_assert_lt(b.len, 100);
        struct dres r = dec(b.data, b.len);
        cr_assert_eq(r.rc, 0);
        cr_assert_eq(r.t->v.bin.size, 1000);
        pk_etf_buf_free(&b);
}

Test(etf_encode, encode_unencodable)
{
        struct pk_etf_buf b;
        pk_etf_buf_init(&b, 0);
        static const uint32_t ids[6] = {1, 2, 3, 4, 5, 6};
        struct pk_term t = {.type = PK_TERM_REF};
        t.v.ref.node = "n";
        t.v.ref.node_len = 1;
        t.v.ref.len = 6;
        t.v.ref.ids = ids;
        cr_assert_eq(pk_etf_encode(&b, &t, NULL), PK_EUNENCODABLE);
        struct pk_term bad = {.type = 0};
        cr_assert_eq(pk_etf_encode(&b, &bad, NULL), PK_EUNENCODABLE);
        struct pk_term el;
        pk_term_set_int(&el, 1);
        struct pk_term l = {.type = PK_TERM_LIST};
        l.v.list.elems = &el;
        l.v.list.len = 1;
        l.v.list.tail = NULL;
        cr_assert_eq(pk_etf_encode(&b, &l, NULL), PK_EUNENCODABLE);
        /* Nested inside a tuple: the buffer is rolled back to where it was. */
        cr_assert_eq(pk_etf_put_version(&b), 0);
        struct pk_term tup;
        pk_term_set_tuple(&tup, &t, 1);
        cr_assert_eq(pk_etf_encode(&b, &tup, NULL), PK_EUNENCODABLE);
        cr_assert_eq(b.len, 1);
        pk_etf_buf_free(&b);
}

/* The empty atom '' may be written from a NULL name (len 0); the writer must
 * not hand that NULL on to memcpy(), whose arguments are declared nonnull
 * (UBSan's nonnull-attribute check stops the test otherwise). */
Test(etf_encode, put_atom_empty_from_null)
{
        static const uint8_t latin1[] = {100, 0, 0}, utf8[] = {119, 0};
        for (int mv = 0; mv <= 2; mv++) {
                struct pk_etf_buf b;
                pk_etf_buf_init(&b, 0);
                cr_assert_eq(pk_etf_put_atom_v(&b, mv, NULL, 0), 0);
                const uint8_t *want = mv < 2 ? latin1 : utf8;
                size_t n = mv < 2 ? sizeof(latin1) : sizeof(utf8);
                cr_assert_eq(b.len, n, "minor version %d", mv);
                cr_assert_arr_eq(b.data, want, n);
                pk_etf_buf_free(&b);
        }
        struct pk_etf_buf b;
        pk_etf_buf_init(&b, 0);
        cr_assert_eq(pk_etf_put_atom(&b, NULL, 0), 0);
        cr_assert_arr_eq(b.data, utf8, sizeof(utf8));
        pk_etf_buf_reset(&b);
        /* A NULL name with a length is refused, as by pk_etf_put_atom_v(). */
        cr_assert_eq(pk_etf_put_atom(&b, NULL, 3), -EINVAL);
        cr_assert_eq(pk_etf_put_atom_v(&b, 2, NULL, 3), -EINVAL);
        pk_etf_buf_free(&b);
}
