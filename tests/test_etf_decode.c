/* SPDX-License-Identifier: MIT */
/* ETF decoder tests: every error code, hostile lengths, deep nesting, the
 * chain path, accepted odd forms, zero copy and the lone-binary path. */
#include "etf_testutil.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

TestSuite(etf_decode, .init = etf_setup, .fini = etf_teardown, .timeout = 120);

/* ---- decoder: every error code ---- */

Test(etf_decode, err_badversion)
{
        expect_err(DEC(130, 97, 1), PK_EBADVERSION, 0);
        expect_err(DEC(0), PK_EBADVERSION, 0);
}

Test(etf_decode, err_truncated)
{
        expect_err(dec(NULL, 0), PK_ETRUNCATED, 0);
        expect_err(DEC(131), PK_ETRUNCATED, 1);
        expect_err(DEC(131, 98, 0, 0), PK_ETRUNCATED, 1);
        expect_err(DEC(131, 109, 0, 0, 0, 100, 1, 2, 3), PK_ETRUNCATED, 1);
        expect_err(DEC(131, 104, 2, 97, 1), PK_ETRUNCATED, 5);
        expect_err(DEC(131, 100, 0, 5, 'a'), PK_ETRUNCATED, 1);
}

Test(etf_decode, err_badtag)
{
        expect_err(DEC(131, 200), PK_EBADTAG, 1);
        expect_err(DEC(131, 104, 1, 1), PK_EBADTAG, 3);
        /* Compressed is only legal right after the version byte. */
        expect_err(DEC(131, 104, 1, 80, 0, 0, 0, 1, 0), PK_EBADTAG, 3);
        /* A pid's node must be an atom. */
        expect_err(DEC(131, 88, 97, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), PK_EBADTAG, 2);
}

Test(etf_decode, err_atomlen)
{
        uint8_t buf[4 + 256];
        buf[0] = 131;
        buf[1] = 100;
        buf[2] = 1;
        buf[3] = 0;
        memset(buf + 4, 'a', 256);
        expect_err(dec(buf, sizeof(buf)), PK_EATOMLEN, 1);
        buf[2] = 0;
        buf[3] = 255; /* 255 characters: fine */
        cr_assert_eq(dec(buf, 4 + 255).rc, 0);
        /* UTF-8: 256 two-byte characters (512 bytes) is too long ... */
        uint8_t u[4 + 1020];
        u[0] = 131;
        u[1] = 118;
        u[2] = 512 >> 8;
        u[3] = 512 & 0xFF;
        for (int i = 0; i < 256; i++) {
                u[4 + 2 * i] = 0xC3;
                u[5 + 2 * i] = 0xA9;
        }
        expect_err(dec(u, 4 + 512), PK_EATOMLEN, 1);
        /* ... but 255 four-byte characters (1020 bytes) is fine, as in the VM. */
        u[2] = 1020 >> 8;
        u[3] = 1020 & 0xFF;
        for (int i = 0; i < 255; i++)
                memcpy(u + 4 + 4 * i, "\xF0\x9F\x98\x80", 4);
        struct dres r = dec(u, sizeof(u));
        cr_assert_eq(r.rc, 0, "%s", pk_strerror(r.rc));
        cr_assert_eq(r.t->v.atom.len, 1020);
        /* SMALL_ATOM_UTF8 of 255 ASCII bytes is fine; ATOM_UTF8 of 256 is not. */
        uint8_t s[4 + 256];
        s[0] = 131;
        s[1] = 118;
        s[2] = 1;
        s[3] = 0;
        memset(s + 4, 'x', 256);
        expect_err(dec(s, sizeof(s)), PK_EATOMLEN, 1);
}

Test(etf_decode, err_atomutf8)
{
        expect_err(DEC(131, 119, 2, 0xC3, 0x28), PK_EATOMUTF8, 1);
        expect_err(DEC(131, 119, 2, 0xC0, 0x80), PK_EATOMUTF8, 1);          /* overlong */
        expect_err(DEC(131, 118, 0, 3, 0xED, 0xA0, 0x80), PK_EATOMUTF8, 1); /* surrogate */
        expect_err(DEC(131, 119, 1, 0xFF), PK_EATOMUTF8, 1);
        expect_err(DEC(131, 104, 1, 119, 1, 0x80), PK_EATOMUTF8, 3);
}

static int only_ok(void *ctx, const char *name, size_t len)
{
        (void)ctx;
        return len == 2 && memcmp(name, "ok", 2) == 0;
}

Test(etf_decode, err_atomrefused)
{
        struct pk_etf_decode_opts o = {.atom_filter = only_ok};
        static const uint8_t good[] = {131, 104, 2, 100, 0, 2, 'o', 'k', 119, 2, 'o', 'k'};
        cr_assert_eq(dec_opts(good, sizeof(good), &o).rc, 0);
        static const uint8_t bad[] = {131, 104, 2, 100, 0, 2, 'o', 'k', 119, 2, 'n', 'o'};
        expect_err(dec_opts(bad, sizeof(bad), &o), PK_EATOMREFUSED, 8);
        /* Node names go through the filter too. */
        static const uint8_t pid[] = {131, 88, 119, 1, 'n', 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1};
        expect_err(dec_opts(pid, sizeof(pid), &o), PK_EATOMREFUSED, 2);
}

Test(etf_decode, err_depth)
{
        /* 5 nested one-element lists against a depth limit of 4. */
        static const uint8_t in[] = {131, 108, 0, 0, 0,   1,   108, 0,   0,   0,  1,
                                     108, 0,   0, 0, 1,   108, 0,   0,   0,   1,  108,
                                     0,   0,   0, 1, 106, 106, 106, 106, 106, 106};
        struct pk_etf_decode_opts o = {.max_depth = 4};
        expect_err(dec_opts(in, sizeof(in), &o), PK_EDEPTH, 21);
        o.max_depth = 5;
        cr_assert_eq(dec_opts(in, sizeof(in), &o).rc, 0);
}

/* Appends the bytes of s to b at *n. */
static void put(uint8_t *b, size_t *n, const char *s, size_t len)
{
        memcpy(b + *n, s, len);
        *n += len;
}

Test(etf_decode, err_depth_shapes)
{
        /* The limit counts open containers whatever their shape (the decoder
         * keeps no frame for some of them): one-element tuples, a container
         * as a tuple's last element, map values; a list's tail does not count. */
        uint8_t b[128];
        size_t n;
        struct pk_etf_decode_opts o4 = {.max_depth = 4}, o5 = {.max_depth = 5};
        /* {{{{{[]}}}}}: tuple k starts at 1 + 2k. */
        n = 0;
        put(b, &n, "\x83", 1);
        for (int i = 0; i < 5; i++)
                put(b, &n, "\x68\x01", 2);
        put(b, &n, "\x6a", 1);
        expect_err(dec_opts(b, n, &o4), PK_EDEPTH, 9);
        cr_assert_eq(dec_opts(b, n, &o5).rc, 0);
        /* {1,{1,{1,{1,{1,1}}}}}: tuple k starts at 1 + 4k. */
        n = 0;
        put(b, &n, "\x83", 1);
        for (int i = 0; i < 5; i++)
                put(b, &n, "\x68\x02\x61\x01", 4);
        put(b, &n, "\x61\x01", 2);
        expect_err(dec_opts(b, n, &o4), PK_EDEPTH, 17);
        cr_assert_eq(dec_opts(b, n, &o5).rc, 0);
        /* #{1 => #{1 => ... []}}: map k starts at 1 + 7k. */
        n = 0;
        put(b, &n, "\x83", 1);
        for (int i = 0; i < 5; i++)
                put(b, &n, "\x74\x00\x00\x00\x01\x61\x01", 7);
        put(b, &n, "\x6a", 1);
        expect_err(dec_opts(b, n, &o4), PK_EDEPTH, 29);
        cr_assert_eq(dec_opts(b, n, &o5).rc, 0);
        /* {[{[{[]}]}]}: tuples of one list of one element, alternating. */
        n = 0;
        put(b, &n, "\x83", 1);
        for (int i = 0; i < 2; i++)
                put(b, &n, "\x68\x01\x6c\x00\x00\x00\x01", 7);
        put(b, &n, "\x68\x01\x6a\x6a\x6a", 5);
        expect_err(dec_opts(b, n, &o4), PK_EDEPTH, 15);
        struct dres r = dec_opts(b, n, &o5);
        cr_assert_eq(r.rc, 0);
        cr_assert_eq(r.used, n);
        cr_assert_eq(r.t->v.tuple.elems[0].v.list.tail->type, PK_TERM_NIL);
        /* [1|[1|[1|[1|[1|[]]]]]] written as five LIST_EXT, each the tail of
         * the one before: depth 1 throughout. */
        n = 0;
        put(b, &n, "\x83", 1);
        for (int i = 0; i < 5; i++)
                put(b, &n, "\x6c\x00\x00\x00\x01\x61\x01", 7);
        put(b, &n, "\x6a", 1);
        struct pk_etf_decode_opts o1 = {.max_depth = 1};
        r = dec_opts(b, n, &o1);
        cr_assert_eq(r.rc, 0, "%s", pk_strerror(r.rc));
        cr_assert_eq(pk_term_list_length(r.t), 5);
}

Test(etf_decode, err_termsize)
{
        /* A tuple of 100 nils needs 100 * 32 bytes of nodes. */
        uint8_t in[3 + 100];
        in[0] = 131;
        in[1] = 104;
        in[2] = 100;
        memset(in + 3, 106, 100);
        struct pk_etf_decode_opts o = {.max_size = 1024};
        expect_err(dec_opts(in, sizeof(in), &o), PK_ETERMSIZE, 1);
        o.max_size = 8192;
        cr_assert_eq(dec_opts(in, sizeof(in), &o).rc, 0);
}

Test(etf_decode, err_bignum)
{
        /* LARGE_BIG_EXT of 300 bytes against a 256-byte limit, then the default. */
        uint8_t in[6 + 1 + 300];
        memset(in, 0, sizeof(in));
        in[0] = 131;
        in[1] = 111;
        in[4] = 300 >> 8;
        in[5] = 300 & 0xFF;
        in[7 + 299] = 1;
        struct pk_etf_decode_opts o = {.max_bignum_bytes = 256};
        expect_err(dec_opts(in, sizeof(in), &o), PK_EBIGNUM, 1);
        struct dres r = dec(in, sizeof(in));
        cr_assert_eq(r.rc, 0);
        cr_assert_eq(r.t->type, PK_TERM_BIG);
        cr_assert_eq(r.t->v.big.len, 300);
        /* A claim over the default cap fails before the length check. */
        expect_err(DEC(131, 111, 0, 0x40, 0, 0, 0), PK_EBIGNUM, 1);
}

Test(etf_decode, err_zlib_and_zsize)
{
        uint8_t z[64];
        uLongf zl = sizeof(z);
        static const uint8_t inner[] = {104, 2, 97, 1, 97, 2};
        cr_assert_eq(compress(z, &zl, inner, sizeof(inner)), Z_OK);
        uint8_t in[6 + 64];
        in[0] = 131;
        in[1] = 80;
        in[2] = 0;
        in[3] = 0;
        in[4] = 0;
        in[5] = sizeof(inner);
        memcpy(in + 6, z, zl);
        struct dres r = dec(in, 6 + zl);
        cr_assert_eq(r.rc, 0, "%s", pk_strerror(r.rc));
        cr_assert_eq(r.used, 6 + zl);
        cr_assert_eq(r.t->type, PK_TERM_TUPLE);
        /* Declared size too small and too large. */
        in[5] = sizeof(inner) - 1;
        expect_err(dec(in, 6 + zl), PK_EZSIZE, 1);
        in[5] = sizeof(inner) + 1;
        expect_err(dec(in, 6 + zl), PK_EZSIZE, 1);
        /* Corrupt stream. */
        in[5] = sizeof(inner);
        in[6] ^= 0xFF;
        expect_err(dec(in, 6 + zl), PK_EZLIB, 1);
        in[6] ^= 0xFF;
        /* Cut short. */
        expect_err(dec(in, 6 + zl - 3), PK_ETRUNCATED, 1);
        /* An error inside inflated data reports an offset there. */
        static const uint8_t bad_inner[] = {104, 2, 97, 1, 200, 2};
        zl = sizeof(z);
        cr_assert_eq(compress(z, &zl, bad_inner, sizeof(bad_inner)), Z_OK);
        memcpy(in + 6, z, zl);
        r = dec(in, 6 + zl);
        expect_err(r, PK_EBADTAG, 4);
        cr_assert(r.err.in_compressed);
}

Test(etf_decode, hostile_compressed_4gib_claim)
{
        /* 14 bytes claiming 4 GiB inflated. */
        uint8_t z[32];
        uLongf zl = sizeof(z);
        static const uint8_t inner[] = {106};
        cr_assert_eq(compress(z, &zl, inner, 1), Z_OK);
        uint8_t in[6 + 32] = {131, 80, 0xFF, 0xFF, 0xFF, 0xFF};
        memcpy(in + 6, z, zl);
        cr_assert_eq(6 + zl, 15); /* 131, 80, size, 9-byte zlib stream */
        expect_err(dec(in, 14), PK_ETERMSIZE, 1);
        /* Even with no size cap, the claim is refused before any allocation. */
        struct pk_etf_decode_opts o = {.max_size = SIZE_MAX};
        expect_err(dec_opts(in, 14, &o), PK_EZSIZE, 1);
        cr_assert_lt(pk_arena_used(arena), 4096);
}

Test(etf_decode, err_dupkey)
{
        expect_err(DEC(131, 116, 0, 0, 0, 2, 97, 1, 106, 97, 1, 106), PK_EDUPKEY, 1);
        /* 1 and 1.0 are distinct keys; 0.0 and -0.0 are not (OTP 25). */
        cr_assert_eq(
            DEC(131, 116, 0, 0, 0, 2, 97, 1, 106, 70, 0x3F, 0xF0, 0, 0, 0, 0, 0, 0, 106).rc, 0);
        expect_err(DEC(131, 116, 0, 0, 0, 2, 70, 0, 0, 0, 0, 0, 0, 0, 0, 97, 1, 70, 0x80, 0, 0, 0,
                       0, 0, 0, 0, 97, 2),
                   PK_EDUPKEY, 1);
        /* A STRING_EXT key equals the same LIST_EXT key. */
        expect_err(DEC(131, 116, 0, 0, 0, 2, 107, 0, 1, 5, 106, 108, 0, 0, 0, 1, 97, 5, 106, 106),
                   PK_EDUPKEY, 1);
        /* Large maps (hash path): 100 distinct keys pass, one duplicate fails. */
        struct pk_etf_buf b;
        pk_etf_buf_init(&b, 0);
        pk_etf_put_version(&b);
        pk_etf_put_map(&b, 100);
        for (int i = 0; i < 100; i++) {
                pk_etf_put_tuple(&b, 2);
                pk_etf_put_atom(&b, "k", 1);
                pk_etf_put_int(&b, i);
                pk_etf_put_nil(&b);
        }
        cr_assert_eq(b.err, 0);
        cr_assert_eq(dec(b.data, b.len).rc, 0);
        /* Make key 99 equal key 3: {k, 3}.  The input ends ..., 97, 99, 106. */
        cr_assert_eq(b.data[b.len - 2], 99);
        b.data[b.len - 2] = 3;
        expect_err(dec(b.data, b.len), PK_EDUPKEY, 1);
        pk_etf_buf_free(&b);
}

Test(etf_decode, dupkey_collisions_fall_back_to_sort)
{
        /* 2000 keys that differ only below the hash's depth: all collide. */
        struct pk_etf_buf b;
        pk_etf_buf_init(&b, 0);
        pk_etf_put_version(&b);
        pk_etf_put_map(&b, 2000);
        for (int i = 0; i < 2000; i++) {
                for (int k = 0; k < 6; k++)
                        pk_etf_put_tuple(&b, 1);
                pk_etf_put_int(&b, i);
                pk_etf_put_nil(&b);
        }
        cr_assert_eq(dec(b.data, b.len).rc, 0);
        /* Key 1999 := key 0 (INTEGER_EXT 0 equals SMALL_INTEGER_EXT 0). */
        cr_assert_eq(b.data[b.len - 6], 98);
        memset(b.data + b.len - 5, 0, 4);
        expect_err(dec(b.data, b.len), PK_EDUPKEY, 1);
        pk_etf_buf_free(&b);
}

Test(etf_decode, err_badfloat)
{
        expect_err(DEC(131, 70, 0x7F, 0xF0, 0, 0, 0, 0, 0, 0), PK_EBADFLOAT, 1); /* inf */
        expect_err(DEC(131, 70, 0xFF, 0xF8, 0, 0, 0, 0, 0, 0), PK_EBADFLOAT, 1); /* nan */
        /* FLOAT_EXT follows the VM's syntax: these are all refused. */
        static const char *bad[] = {"1",   " 1.5", "1.5x", "inf",  "1e400", "1.0 junk",
                                    "nan", "1.e5", ".5",   "1.5e", ""};
        for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
                uint8_t in[33] = {131, 99};
                memcpy(in + 2, bad[i], strlen(bad[i]));
                expect_err(dec(in, sizeof(in)), PK_EBADFLOAT, 1);
        }
        static const struct {
                const char *s;
                double v;
        } good[] = {{"1.5", 1.5},
                    {"-0.00000000000000000000e+00", -0.0},
                    {"1,25", 1.25},
                    {"+2.5E1", 25.0},
                    {"1.0\0junk", 1.0}};
        for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
                uint8_t in[33] = {131, 99};
                memcpy(in + 2, good[i].s, strlen(good[i].s) + (i == 4 ? 5 : 0));
                struct dres r = dec(in, sizeof(in));
                cr_assert_eq(r.rc, 0, "%s", good[i].s);
                cr_assert_eq(r.t->type, PK_TERM_FLOAT);
                cr_assert_eq(r.t->v.f, good[i].v);
                cr_assert_eq(signbit(r.t->v.f), signbit(good[i].v));
        }
}

Test(etf_decode, err_bits)
{
        expect_err(DEC(131, 77, 0, 0, 0, 1, 0, 255), PK_EBITS, 1);
        expect_err(DEC(131, 77, 0, 0, 0, 1, 9, 255), PK_EBITS, 1);
        expect_err(DEC(131, 77, 0, 0, 0, 0, 3), PK_EBITS, 1);
        expect_err(DEC(131, 77, 0, 0, 0, 0, 8), PK_EBITS, 1);
        struct dres r = DEC(131, 77, 0, 0, 0, 0, 0);
        cr_assert_eq(r.rc, 0);
        cr_assert_eq(r.t->v.bin.size, 0);
        cr_assert_eq(r.t->v.bin.bits, 8);
        r = DEC(131, 77, 0, 0, 0, 1, 3, 255);
        cr_assert_eq(r.rc, 0);
        cr_assert_eq(r.t->v.bin.bits, 3);
        /* Re-encoding clears the unused bits, as erl does (255 -> 224). */
        struct pk_etf_buf b = enc(r.t, 1, 0);
        static const uint8_t want[] = {131, 77, 0, 0, 0, 1, 3, 224};
        cr_assert_eq(b.len, sizeof(want));
        cr_assert_arr_eq(b.data, want, sizeof(want));
        pk_etf_buf_free(&b);
}

Test(etf_decode, err_fun)
{
        /* FUN_EXT is always refused. */
        expect_err(DEC(131, 117, 0, 0, 0, 0), PK_EFUN, 1);
        /* NEW_FUN_EXT and EXPORT_EXT are refused with PK_ETF_NO_FUNS. */
        static const uint8_t exp[] = {131, 113, 100, 0, 1, 'm', 100, 0, 1, 'f', 97, 2};
        cr_assert_eq(dec(exp, sizeof(exp)).rc, 0);
        struct pk_etf_decode_opts o = {.flags = PK_ETF_NO_FUNS};
        expect_err(dec_opts(exp, sizeof(exp), &o), PK_EFUN, 1);
        /* NEW_FUN_EXT whose OldIndex is not an integer. */
        uint8_t fun[128] = {131, 112, 0, 0, 0, 0, 1};
        size_t n = 7 + 16;
        memset(fun + 7, 0xAB, 16);
        n += 8; /* index 0, num_free 0 */
        memcpy(fun + n, "\x77\x01m", 3);
        n += 3;
        memcpy(fun + n, "\x6a\x61\x01", 3); /* OldIndex [] (bad), OldUniq 1 */
        n += 3;
        static const uint8_t pid[] = {88, 119, 1, 'n', 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1};
        memcpy(fun + n, pid, sizeof(pid));
        n += sizeof(pid);
        expect_err(dec(fun, n), PK_EFUN, 1);
        expect_err(dec_opts(fun, n, &o), PK_EFUN, 1);
}

Test(etf_decode, err_local)
{
        expect_err(DEC(131, 121, 1, 2, 3), PK_ELOCAL, 1);
        expect_err(DEC(131, 104, 1, 121), PK_ELOCAL, 3);
}

Test(etf_decode, err_trailing)
{
        struct dres r = DEC(131, 97, 1, 0);
        cr_assert_eq(r.rc, 0);
        cr_assert_eq(r.used, 3);
        static const uint8_t in[] = {131, 97, 1, 0};
        struct pk_etf_decode_opts o = {.flags = PK_ETF_NO_TRAILING};
        expect_err(dec_opts(in, sizeof(in), &o), PK_ETRAILING, 3);
        cr_assert_eq(dec_opts(in, 3, &o).rc, 0);
}

Test(etf_decode, err_badref)
{
        expect_err(DEC(131, 90, 0, 6, 119, 1, 'n', 0, 0, 0, 1), PK_EBADREF, 1);
        expect_err(DEC(131, 114, 0, 0, 119, 1, 'n', 1), PK_EBADREF, 1);
        /* NEWER_REFERENCE_EXT with no words is accepted, as by the VM. */
        struct dres r = DEC(131, 90, 0, 0, 100, 0, 3, 'a', '@', 'b', 0, 0, 0, 1);
        cr_assert_eq(r.rc, 0);
        cr_assert_eq(r.t->type, PK_TERM_REF);
        cr_assert_eq(r.t->v.ref.len, 0);
        r = DEC(131, 90, 0, 5, 119, 1, 'n', 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0,
                4, 0, 0, 0, 5);
        cr_assert_eq(r.rc, 0);
        cr_assert_eq(r.t->v.ref.ids[4], 5);
}

Test(etf_decode, err_atomcache)
{
        expect_err(DEC(131, 82, 0), PK_EATOMCACHE, 1);
        expect_err(DEC(131, 68, 0), PK_EATOMCACHE, 1);
        expect_err(DEC(131, 69, 0), PK_EATOMCACHE, 1);
        expect_err(DEC(131, 113, 82, 1, 100, 0, 1, 'f', 97, 1), PK_EATOMCACHE, 2);
}

Test(etf_decode, err_badarity)
{
        /* EXPORT_EXT's arity must be a small integer (INTEGER_EXT 0..255 is accepted). */
        expect_err(DEC(131, 113, 119, 1, 'm', 119, 1, 'f', 106), PK_EBADARITY, 8);
        expect_err(DEC(131, 113, 119, 1, 'm', 119, 1, 'f', 98, 0, 0, 1, 0), PK_EBADARITY, 8);
        struct dres r = DEC(131, 113, 119, 1, 'm', 119, 1, 'f', 98, 0, 0, 0, 1);
        cr_assert_eq(r.rc, 0);
        cr_assert_eq(r.t->v.mfa.arity, 1);
        /* NEW_FUN_EXT with NumFree over 255. */
        uint8_t fun[40] = {131, 112, 0, 0, 0, 40, 0};
        fun[7 + 16 + 4 + 2] = 1; /* NumFree = 256 */
        expect_err(dec(fun, sizeof(fun)), PK_EBADARITY, 1);
}

Test(etf_decode, einval)
{
        struct pk_term *t;
        cr_assert_eq(pk_etf_decode(NULL, "\x83j", 2, NULL, &t, NULL, NULL), -EINVAL);
        cr_assert_eq(pk_etf_decode(arena, "\x83j", 2, NULL, NULL, NULL, NULL), -EINVAL);
        struct pk_etf_buf b;
        pk_etf_buf_init(&b, 0);
        struct pk_term nil = {.type = PK_TERM_NIL};
        struct pk_etf_encode_opts o = {3, 0, 0, 0};
        cr_assert_eq(pk_etf_encode(&b, &nil, &o), -EINVAL);
        o = (struct pk_etf_encode_opts){2, 10, 0, 0};
        cr_assert_eq(pk_etf_encode(&b, &nil, &o), -EINVAL);
        o = (struct pk_etf_encode_opts){2, 0, 26, 0};
        cr_assert_eq(pk_etf_encode(&b, &nil, &o), -EINVAL);
        cr_assert_eq(b.len, 0);
        o = (struct pk_etf_encode_opts){2, 0, 25, 0};
        cr_assert_eq(pk_etf_encode(&b, &nil, &o), 0);
        cr_assert_eq(b.len, 2);
        pk_etf_buf_free(&b);
}

/* ---- hostile lengths ---- */

Test(etf_decode, hostile_list_length)
{
        /* LIST_EXT claiming 2^32-1 elements in 7 bytes: refused before allocating. */
        expect_err(DEC(131, 108, 0xFF, 0xFF, 0xFF, 0xFF, 106), PK_ETRUNCATED, 1);
        expect_err(DEC(131, 105, 0xFF, 0xFF, 0xFF, 0xFF, 106), PK_ETRUNCATED, 1);
        expect_err(DEC(131, 116, 0x80, 0, 0, 0, 106, 106), PK_ETRUNCATED, 1);
        expect_err(DEC(131, 109, 0xFF, 0xFF, 0xFF, 0xFF, 1), PK_ETRUNCATED, 1);
        expect_err(DEC(131, 107, 0xFF, 0xFF, 1), PK_ETRUNCATED, 1);
        cr_assert_lt(pk_arena_used(arena), 4096);
        /* Nested claims each fit the bytes left but not together: the bytes
         * owed to outer slots count too. */
        expect_err(DEC(131, 104, 3, 104, 3, 106, 106, 106), PK_ETRUNCATED, 3);
}

static uint8_t *deep_lists(size_t depth, size_t *len)
{
        /* [[[...[]...]]]: depth LIST_EXT headers of 1 element, then NILs. */
        size_t n = 1 + depth * 5 + 1 + depth;
        uint8_t *b = malloc(n);
        cr_assert_not_null(b);
        b[0] = 131;
        for (size_t i = 0; i < depth; i++)
                memcpy(b + 1 + 5 * i, "\x6c\x00\x00\x00\x01", 5);
        memset(b + 1 + 5 * depth, 106, depth + 1);
        *len = n;
        return b;
}

Test(etf_decode, deep_nesting_million)
{
        size_t len;
        uint8_t *in = deep_lists(1000000, &len);
        /* The default depth limit refuses it ... */
        struct dres r = dec(in, len);
        cr_assert_eq(r.rc, PK_EDEPTH);
        cr_assert_eq(r.err.offset, 1 + 5 * PK_ETF_DEFAULT_MAX_DEPTH);
        /* ... and with the limit raised it decodes iteratively (no stack
         * overflow, under ASan too) and re-encodes to the same bytes. */
        struct pk_etf_decode_opts o = {.max_depth = 2000000, .max_size = SIZE_MAX};
        r = dec_opts(in, len, &o);
        cr_assert_eq(r.rc, 0, "%s", pk_strerror(r.rc));
        cr_assert_eq(r.used, len);
        const struct pk_term *t = r.t;
        size_t depth = 0;
        while (t->type == PK_TERM_LIST) {
                t = &t->v.list.elems[0];
                depth++;
        }
        cr_assert_eq(depth, 1000000);
        struct pk_etf_buf b = enc(r.t, 1, 0);
        cr_assert_eq(b.len, len);
        cr_assert(memcmp(b.data, in, len) == 0);
        pk_etf_buf_free(&b);
        free(in);
}

Test(etf_decode, long_improper_chain_is_flat)
{
        /* [1|[2|[3|...]]] written as 10^5 one-element LIST_EXTs chained
         * through their tails: not nesting, so the default depth accepts it. */
        size_t n = 100000, len = 1 + n * 7 + 1;
        uint8_t *in = malloc(len);
        in[0] = 131;
        for (size_t i = 0; i < n; i++)
                memcpy(in + 1 + 7 * i, "\x6c\x00\x00\x00\x01\x61\x07", 7);
        in[len - 1] = 106;
        struct dres r = dec(in, len);
        cr_assert_eq(r.rc, 0, "%s", pk_strerror(r.rc));
        cr_assert_eq(pk_term_list_length(r.t), (int64_t)n);
        /* Re-encoding flattens it, as erl would: LIST_EXT n, then the elements. */
        struct pk_etf_buf b = enc(r.t, 1, 0);
        cr_assert_eq(b.len, 1 + 5 + 2 * n + 1);
        cr_assert_eq(b.data[1], 108);
        pk_etf_buf_free(&b);
        free(in);
}

/* ---- chains of 1-tuples and 1-element lists (the decoder's chain path) ---- */

/* A chain: levels[i] is 't' for a 1-tuple or 'l' for a 1-element list, the
 * innermost element is the atom ok, and every list's tail is []. */
static uint8_t *chain_term(const char *levels, size_t *len)
{
        size_t nl = strlen(levels), n = 0;
        uint8_t *b = malloc(1 + 5 * nl + 4 + nl);
        cr_assert_not_null(b);
        put(b, &n, "\x83", 1);
        for (size_t i = 0; i < nl; i++) {
                if (levels[i] == 't')
                        put(b, &n, "\x68\x01", 2);
                else
                        put(b, &n, "\x6c\x00\x00\x00\x01", 5);
        }
        put(b, &n, "\x77\x02ok", 4);
        for (size_t i = 0; i < nl; i++)
                if (levels[i] == 'l')
                        put(b, &n, "\x6a", 1);
        *len = n;
        return b;
}

/* levels as a string of 't' (even i) and 'l' (odd i): {[{[ ... ]}]}. */
static char *alternating(size_t nl)
{
        char *s = malloc(nl + 1);
        cr_assert_not_null(s);
        for (size_t i = 0; i < nl; i++)
                s[i] = i % 2 ? 'l' : 't';
        s[nl] = 0;
        return s;
}

/* Checks that t is the chain of levels around the atom ok. */
static void check_chain(const struct pk_term *t, const char *levels)
{
        for (size_t i = 0; levels[i]; i++) {
                if (levels[i] == 't') {
                        cr_assert_eq(t->type, PK_TERM_TUPLE, "level %zu", i);
                        cr_assert_eq(t->v.tuple.arity, 1);
                        t = &t->v.tuple.elems[0];
                } else {
                        cr_assert_eq(t->type, PK_TERM_LIST, "level %zu", i);
                        cr_assert_eq(t->v.list.len, 1);
                        cr_assert_eq(t->v.list.tail->type, PK_TERM_NIL, "level %zu", i);
                        t = &t->v.list.elems[0];
                }
        }
        cr_assert_eq(t->type, PK_TERM_ATOM);
        cr_assert_eq(t->v.atom.len, 2);
        cr_assert(memcmp(t->v.atom.name, "ok", 2) == 0);
}

/* Where the decoder stops on the first len bytes of chain_term(levels) with
 * a max_size of budget bytes (SIZE_MAX: none): the first check that fails,
 * in the general path's order.  Returns the error code, *off its offset. */
static int chain_model(const char *levels, size_t len, size_t budget, size_t *off)
{
        size_t q = 1, owed = 0, need = sizeof(struct pk_term);
        *off = 1;
        if (len < 1) {
                *off = 0;
                return PK_ETRUNCATED;
        }
        if (need > budget)
                return PK_ETERMSIZE;
        for (size_t i = 0; levels[i]; i++) {
                size_t hdr = levels[i] == 't' ? 2 : 5, slots = levels[i] == 't' ? 1 : 2;
                *off = q;
                if (len - q < hdr || slots + owed > len - q - hdr)
                        return PK_ETRUNCATED;
                need += slots * sizeof(struct pk_term);
                if (need > budget)
                        return PK_ETERMSIZE;
                owed += slots - 1;
                q += hdr;
        }
        *off = q;
        if (len - q < 4)
                return PK_ETRUNCATED;
        for (q += 4; q < len && owed; q++, owed--)
                ;
        *off = q;
        return owed ? PK_ETRUNCATED : 0;
}

Test(etf_decode, chain_depth_limit)
{
        /* 10,000 levels decode under the default depth limit, 10,001 do not:
         * the error names the level over the limit. */
        size_t len;
        for (int shape = 0; shape < 3; shape++) {
                for (size_t nl = PK_ETF_DEFAULT_MAX_DEPTH; nl <= PK_ETF_DEFAULT_MAX_DEPTH + 1;
                     nl++) {
                        char *lv = alternating(nl);
                        if (shape < 2)
                                memset(lv, shape ? 'l' : 't', nl);
                        uint8_t *in = chain_term(lv, &len);
                        pk_arena *a = pk_arena_new(0);
                        struct pk_term *t;
                        struct pk_etf_error err;
                        int rc = pk_etf_decode(a, in, len, NULL, &t, NULL, &err);
                        if (nl == PK_ETF_DEFAULT_MAX_DEPTH) {
                                cr_assert_eq(rc, 0, "shape %d: %s", shape, pk_strerror(rc));
                                check_chain(t, lv);
                                size_t lists = shape == 0 ? 0 : shape == 1 ? nl : nl / 2;
                                cr_assert_eq(pk_arena_used(a),
                                             (1 + nl + lists) * sizeof(struct pk_term));
                        } else {
                                size_t off = 1;
                                for (size_t i = 0; i < PK_ETF_DEFAULT_MAX_DEPTH; i++)
                                        off += lv[i] == 't' ? 2 : 5;
                                cr_assert_eq(rc, PK_EDEPTH, "shape %d: %s", shape, pk_strerror(rc));
                                cr_assert_eq(err.offset, off, "shape %d: offset %zu, want %zu",
                                             shape, err.offset, off);
                        }
                        pk_arena_free(a);
                        free(in);
                        free(lv);
                }
        }
}

Test(etf_decode, chain_truncated_at_every_byte)
{
        /* Every prefix of a chain fails where the general path's checks
         * fail: the slots owed against the bytes left, at a level's header. */
        const char *shapes[] = {"tltltltltltltltltltltltltltltltltltltlt", "llllllllllllllllllll",
                                "tttttttttttttttttttt", "ttttlllllttttttlllllllll"};
        for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
                size_t len;
                uint8_t *in = chain_term(shapes[s], &len);
                for (size_t m = 0; m <= len; m++) {
                        size_t off;
                        int want = chain_model(shapes[s], m, SIZE_MAX, &off);
                        /* An exact copy, so that ASan sees a read past it. */
                        uint8_t *cp = malloc(m ? m : 1);
                        cr_assert_not_null(cp);
                        memcpy(cp, in, m);
                        struct dres r = dec(cp, m);
                        if (m == len) {
                                cr_assert_eq(want, 0);
                                cr_assert_eq(r.rc, 0, "%s", pk_strerror(r.rc));
                                cr_assert_eq(r.used, len);
                                check_chain(r.t, shapes[s]);
                        } else {
                                cr_assert_eq(r.rc, want, "shape %zu, %zu of %zu bytes: %s", s, m,
                                             len, pk_strerror(r.rc));
                                cr_assert_eq(r.err.offset, off,
                                             "shape %zu, %zu of %zu bytes: offset %zu, want %zu", s,
                                             m, len, r.err.offset, off);
                        }
                        free(cp);
                }
                free(in);
        }
}

Test(etf_decode, chain_size_limit_and_arena_blocks)
{
        /* A max_size anywhere along the chain stops it at the level whose
         * nodes no longer fit, and an arena whose current block ends
         * anywhere along it gives the same tree and byte count. */
        char *lv = alternating(60);
        size_t len;
        uint8_t *in = chain_term(lv, &len);
        size_t total = (1 + 60 + 30) * sizeof(struct pk_term);
        for (size_t budget = 8; budget <= total; budget += 8) {
                size_t off;
                int want = chain_model(lv, len, budget, &off);
                pk_arena *a = pk_arena_new(0);
                struct pk_etf_decode_opts o = {.max_size = budget};
                struct pk_term *t;
                struct pk_etf_error err;
                int rc = pk_etf_decode(a, in, len, &o, &t, NULL, &err);
                cr_assert_eq(rc, want, "budget %zu: %s", budget, pk_strerror(rc));
                if (rc == 0)
                        check_chain(t, lv);
                else
                        cr_assert_eq(err.offset, off, "budget %zu: offset %zu, want %zu", budget,
                                     err.offset, off);
                pk_arena_free(a);
        }
        for (size_t pre = 0; pre <= 4096; pre += 8) {
                pk_arena *a = pk_arena_new(0);
                cr_assert_not_null(pk_arena_alloc(a, pre ? pre : 8));
                size_t before = pk_arena_used(a);
                struct pk_term *t;
                int rc = pk_etf_decode(a, in, len, NULL, &t, NULL, NULL);
                cr_assert_eq(rc, 0, "pre %zu: %s", pre, pk_strerror(rc));
                check_chain(t, lv);
                cr_assert_eq(pk_arena_used(a) - before, total, "pre %zu", pre);
                pk_arena_free(a);
        }
        /* The arena's own cap, too. */
        pk_arena *a = pk_arena_new(total - 8);
        struct pk_term *t;
        struct pk_etf_error err;
        size_t off;
        cr_assert_eq(chain_model(lv, len, total - 8, &off), PK_ETERMSIZE);
        cr_assert_eq(pk_etf_decode(a, in, len, NULL, &t, NULL, &err), PK_ETERMSIZE);
        cr_assert_eq(err.offset, off);
        pk_arena_free(a);
        free(in);
        free(lv);
}

Test(etf_decode, chain_tails_not_nil)
{
        /* Eight nested 1-element lists around the atom a; their tails,
         * innermost first: {{{{{b}}}}}, [], c, [[[[[7]]]]], [], [], 9, [].
         * A tail stands in its list's place: the innermost list is the 8th
         * open container, so its tail's tuples are the 8th to 12th. */
        uint8_t b[256];
        size_t n = 0;
        put(b, &n, "\x83", 1);
        for (int i = 0; i < 8; i++)
                put(b, &n, "\x6c\x00\x00\x00\x01", 5);
        put(b, &n,
            "\x77\x01"
            "a",
            3);
        size_t tuples_at = n;
        for (int i = 0; i < 5; i++)
                put(b, &n, "\x68\x01", 2);
        put(b, &n,
            "\x77\x01"
            "b",
            3);
        put(b, &n,
            "\x6a\x77\x01"
            "c",
            4);
        for (int i = 0; i < 5; i++)
                put(b, &n, "\x6c\x00\x00\x00\x01", 5);
        put(b, &n, "\x61\x07\x6a\x6a\x6a\x6a\x6a", 7);
        put(b, &n, "\x6a\x6a\x61\x09\x6a", 5);
        struct pk_etf_decode_opts o = {.max_depth = 12};
        struct dres r = dec_opts(b, n, &o);
        cr_assert_eq(r.rc, 0, "%s", pk_strerror(r.rc));
        cr_assert_eq(r.used, n);
        /* The tree, through its ~w text. */
        static const char want[] = "[[[[[[[[a|{{{{{b}}}}}]]|c],[[[[7]]]]]]]|9]]"; /* erl's ~w */
        char *text = NULL;
        size_t tlen = 0;
        cr_assert_eq(pk_etf_print_w(r.t, &text, &tlen), 0);
        cr_assert_eq(tlen, strlen(want), "%s", text);
        cr_assert(memcmp(text, want, tlen) == 0, "%.*s", (int)tlen, text);
        free(text);
        /* One level less of room: the 5th tuple of the tail is refused. */
        o.max_depth = 11;
        expect_err(dec_opts(b, n, &o), PK_EDEPTH, tuples_at + 8);
        /* And every prefix is refused as truncated. */
        for (size_t m = 0; m < n; m++) {
                r = dec(b, m);
                cr_assert_eq(r.rc, PK_ETRUNCATED, "%zu bytes: %s", m, pk_strerror(r.rc));
                cr_assert_leq(r.err.offset, m);
        }
}

Test(etf_decode, chains_among_other_terms)
{
        /* Chains inside a map, as list elements with siblings after them
         * (slots owed), and longer than the decoder's on-stack tail stack:
         * the tree re-encodes to the input. */
        size_t len;
        char *lv = alternating(7);
        uint8_t *c1 = chain_term(lv, &len);
        size_t c1len = len - 1;
        char deep[3001];
        memset(deep, 'l', 3000);
        deep[3000] = 0;
        uint8_t *c2 = chain_term(deep, &len);
        size_t c2len = len - 1;
        uint8_t *b = malloc(64 + 2 * c1len + c2len);
        cr_assert_not_null(b);
        size_t n = 0;
        put(b, &n, "\x83\x6c\x00\x00\x00\x05", 6);
        put(b, &n, (const char *)c1 + 1, c1len);
        put(b, &n, "\x74\x00\x00\x00\x01\x77\x01k", 8);
        put(b, &n, (const char *)c1 + 1, c1len);
        put(b, &n, (const char *)c2 + 1, c2len);
        put(b, &n, "\x6a\x6a\x6a", 3);
        struct dres r = dec(b, n);
        cr_assert_eq(r.rc, 0, "%s", pk_strerror(r.rc));
        cr_assert_eq(r.used, n);
        cr_assert_eq(pk_term_list_length(r.t), 5);
        check_chain(&r.t->v.list.elems[0], lv);
        check_chain(&r.t->v.list.elems[1].v.map.pairs[1], lv);
        check_chain(&r.t->v.list.elems[2], deep);
        struct pk_etf_buf e = enc(r.t, 2, 0);
        cr_assert_eq(e.len, n);
        cr_assert(memcmp(e.data, b, n) == 0);
        pk_etf_buf_free(&e);
        free(b);
        free(c1);
        free(c2);
        free(lv);
}

/* ---- accepted odd forms ---- */

Test(etf_decode, noncanonical_bignums)
{
        struct dres r = DEC(131, 110, 0, 0);
        cr_assert_eq(r.rc, 0);
        cr_assert_eq(r.t->type, PK_TERM_INT);
        cr_assert_eq(r.t->v.i, 0);
        r = DEC(131, 110, 8, 0, 5, 0, 0, 0, 0, 0, 0, 0);
        cr_assert_eq(r.t->type, PK_TERM_INT);
        cr_assert_eq(r.t->v.i, 5);
        r = DEC(131, 110, 1, 2, 5); /* any nonzero sign byte is negative */
        cr_assert_eq(r.t->v.i, -5);
        r = DEC(131, 111, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0);
        cr_assert_eq(r.t->type, PK_TERM_BIG);
        cr_assert_eq(r.t->v.big.len, 8);
        r = DEC(131, 110, 8, 1, 0, 0, 0, 0, 0, 0, 0, 0x80);
        cr_assert_eq(r.t->type, PK_TERM_INT);
        cr_assert_eq(r.t->v.i, INT64_MIN);
        /* Re-encoded in the canonical smallest form. */
        struct pk_etf_buf b = enc(DEC(131, 110, 8, 0, 5, 0, 0, 0, 0, 0, 0, 0).t, 1, 0);
        cr_assert_eq(b.len, 3);
        cr_assert_eq(b.data[1], 97);
        pk_etf_buf_free(&b);
}

Test(etf_decode, old_tags)
{
        struct dres r = DEC(131, 103, 100, 0, 3, 'a', '@', 'b', 0, 0, 0, 1, 0, 0, 0, 2, 1);
        cr_assert_eq(r.rc, 0);
        cr_assert_eq(r.t->type, PK_TERM_PID);
        cr_assert_eq(r.t->v.pid.creation, 1);
        struct pk_etf_buf b = enc(r.t, 1, 0);
        static const uint8_t pid[] = {131, 88, 100, 0, 3, 97, 64, 98, 0, 0,
                                      0,   1,  0,   0, 0, 2,  0,  0,  0, 1};
        cr_assert_eq(b.len, sizeof(pid));
        cr_assert_arr_eq(b.data, pid, sizeof(pid));
        pk_etf_buf_free(&b);
        r = DEC(131, 102, 100, 0, 3, 'a', '@', 'b', 0, 0, 0, 1, 1);
        cr_assert_eq(r.t->type, PK_TERM_PORT);
        b = enc(r.t, 1, 0);
        static const uint8_t port[] = {131, 89, 100, 0, 3, 97, 64, 98, 0, 0, 0, 1, 0, 0, 0, 1};
        cr_assert_arr_eq(b.data, port, sizeof(port));
        pk_etf_buf_free(&b);
        r = DEC(131, 101, 100, 0, 3, 'a', '@', 'b', 0, 0, 0, 1, 1);
        cr_assert_eq(r.t->type, PK_TERM_REF);
        b = enc(r.t, 1, 0);
        static const uint8_t ref[] = {131, 90, 0, 1, 100, 0, 3, 97, 64, 98, 0, 0, 0, 1, 0, 0, 0, 1};
        cr_assert_eq(b.len, sizeof(ref));
        cr_assert_arr_eq(b.data, ref, sizeof(ref));
        pk_etf_buf_free(&b);
        r = DEC(131, 114, 0, 1, 100, 0, 3, 'a', '@', 'b', 1, 0, 0, 0, 5);
        cr_assert_eq(r.t->v.ref.ids[0], 5);
        /* V4_PORT_EXT round-trips; a small id is written as NEW_PORT_EXT. */
        r = DEC(131, 120, 119, 1, 'n', 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 3);
        cr_assert_eq(r.t->v.port.id, (uint64_t)1 << 32);
        b = enc(r.t, 2, 0);
        cr_assert_eq(b.data[1], 120);
        pk_etf_buf_free(&b);
        /* SMALL_ATOM_EXT, Latin-1, becomes UTF-8 and equals the UTF-8 atom. */
        r = DEC(131, 115, 2, 0xE9, 'a');
        cr_assert_eq(r.t->v.atom.len, 3);
        cr_assert(memcmp(r.t->v.atom.name,
                         "\xC3\xA9"
                         "a",
                         3) == 0);
        struct dres u = DEC(131, 119, 3, 0xC3, 0xA9, 'a');
        cr_assert_eq(pk_term_compare(r.t, u.t, 1), 0);
        /* LIST_EXT of zero elements is just its tail, as in the VM. */
        r = DEC(131, 108, 0, 0, 0, 0, 97, 5);
        cr_assert_eq(r.t->type, PK_TERM_INT);
        cr_assert_eq(r.t->v.i, 5);
}

/* ---- zero copy, used bytes, copy mode ---- */

Test(etf_decode, zero_copy_and_used)
{
        static const uint8_t in[] = {131, 104, 3,   109, 0,   0, 0,   3,   'a', 'b', 'c', 107,
                                     0,   2,   'x', 'y', 119, 2, 'o', 'k', 131, 97,  7};
        struct dres r = dec(in, sizeof(in));
        cr_assert_eq(r.rc, 0);
        cr_assert_eq(r.used, 20);
        const struct pk_term *e = r.t->v.tuple.elems;
        cr_assert_eq(e[0].v.bin.data, in + 8);
        cr_assert_eq((const void *)e[1].v.string.bytes, (const void *)(in + 14));
        cr_assert_eq((const void *)e[2].v.atom.name, (const void *)(in + 18));
        /* Walk the second, concatenated term. */
        struct dres r2 = dec(in + r.used, sizeof(in) - r.used);
        cr_assert_eq(r2.rc, 0);
        cr_assert_eq(r2.t->v.i, 7);
        /* PK_ETF_COPY: nothing points into the input. */
        struct pk_etf_decode_opts o = {.flags = PK_ETF_COPY};
        r = dec_opts(in, sizeof(in), &o);
        e = r.t->v.tuple.elems;
        const uint8_t *lo = in, *hi = in + sizeof(in);
        cr_assert(!(e[0].v.bin.data >= lo && e[0].v.bin.data < hi));
        cr_assert(!(e[1].v.string.bytes >= lo && e[1].v.string.bytes < hi));
        cr_assert(
            !((const uint8_t *)e[2].v.atom.name >= lo && (const uint8_t *)e[2].v.atom.name < hi));
        cr_assert(memcmp(e[0].v.bin.data, "abc", 3) == 0);
}

Test(etf_decode, big_binary_zero_copy)
{
        size_t n = 1 << 20;
        uint8_t *in = malloc(6 + n);
        in[0] = 131;
        in[1] = 109;
        in[2] = 0;
        in[3] = 0x10;
        in[4] = 0;
        in[5] = 0;
        memset(in + 6, 0x5A, n);
        struct dres r = dec(in, 6 + n);
        cr_assert_eq(r.rc, 0);
        cr_assert_eq(r.t->v.bin.data, in + 6);
        cr_assert_lt(pk_arena_used(arena), 4096);
        free(in);
}

Test(etf_decode, no_version_flag)
{
        static const uint8_t in[] = {97, 42};
        struct pk_etf_decode_opts o = {.flags = PK_ETF_NO_VERSION};
        struct dres r = dec_opts(in, sizeof(in), &o);
        cr_assert_eq(r.rc, 0);
        cr_assert_eq(r.t->v.i, 42);
}

Test(etf_decode, leaf_runs_truncated_at_every_byte)
{
        /* Runs of leaves (integers, [], atoms, binaries) in tuples, lists
         * and a map, so the leaf loop's batches end on every kind of leaf:
         * every prefix, in a buffer of exactly that size (ASan sees any read
         * past it), is refused as truncated; the whole decodes to the same
         * bytes. */
        static const char text[] =
            "{[1,300,ok,<<\"bin\">>,[],a,70000,<<>>,7,'',255,<<1,2,3,4,5,6>>,x,[]],"
            "{<<\"k\">>,1,2,3,4,5,abcdefgh,<<>>},#{a => <<\"12345\">>, b => 2, c => [], d => zz},"
            "[b,b,b,b,b,b,b,b,b,b],[<<\"0123456789\">>,1,<<\"0123456789\">>,2]}.";
        pk_arena *a = pk_arena_new(0);
        struct pk_term *t;
        cr_assert_eq(pk_etf_parse(a, text, sizeof(text) - 1, NULL, &t, NULL, NULL), 1);
        struct pk_etf_buf b = {0};
        cr_assert_eq(pk_etf_encode(&b, t, NULL), 0);
        for (size_t m = 0; m <= b.len; m++) {
                uint8_t *cp = malloc(m ? m : 1);
                cr_assert_not_null(cp);
                memcpy(cp, b.data, m);
                struct dres r = dec(cp, m);
                if (m < b.len) {
                        cr_assert_eq(r.rc, PK_ETRUNCATED, "%zu of %zu bytes: %s", m, b.len,
                                     pk_strerror(r.rc));
                } else {
                        cr_assert_eq(r.rc, 0);
                        struct pk_etf_buf again = {0};
                        cr_assert_eq(pk_etf_encode(&again, r.t, NULL), 0);
                        cr_assert_eq(again.len, b.len);
                        cr_assert_arr_eq(again.data, b.data, b.len);
                        pk_etf_buf_free(&again);
                }
                free(cp);
        }
        pk_etf_buf_free(&b);
        pk_arena_free(a);
}

Test(etf_decode, lone_binary_every_edge)
{
        /* A term that is one binary takes a short path: it must agree with
         * the general one on every edge. */
        static const uint8_t in[] = {131, 109, 0, 0, 0, 3, 'a', 'b', 'c', 'X', 'Y'};
        struct dres r = dec(in, 9);
        cr_assert_eq(r.rc, 0);
        cr_assert_eq(r.t->type, PK_TERM_BINARY);
        cr_assert(r.t->v.bin.data == in + 6, "zero-copy");
        cr_assert(r.t->v.bin.size == 3 && r.t->v.bin.bits == 8 && r.used == 9);
        /* Trailing bytes: used stops at the term, or PK_ETRAILING when asked. */
        r = dec(in, sizeof(in));
        cr_assert(r.rc == 0 && r.used == 9);
        struct pk_etf_decode_opts o = {.flags = PK_ETF_NO_TRAILING};
        expect_err(dec_opts(in, sizeof(in), &o), PK_ETRAILING, 9);
        /* Truncated payload and truncated length. */
        expect_err(dec(in, 8), PK_ETRUNCATED, 1);
        expect_err(dec(in, 5), PK_ETRUNCATED, 1);
        /* A copy when asked. */
        o = (struct pk_etf_decode_opts){.flags = PK_ETF_COPY};
        r = dec_opts(in, 9, &o);
        cr_assert_eq(r.rc, 0);
        cr_assert(r.t->v.bin.data != in + 6 && memcmp(r.t->v.bin.data, "abc", 3) == 0);
        /* No version byte. */
        o = (struct pk_etf_decode_opts){.flags = PK_ETF_NO_VERSION};
        r = dec_opts(in + 1, 8, &o);
        cr_assert(r.rc == 0 && r.t->v.bin.size == 3 && r.used == 8);
        /* A max_size below one node, and an arena that cannot give one. */
        o = (struct pk_etf_decode_opts){.max_size = sizeof(struct pk_term) - 1};
        expect_err(dec_opts(in, 9, &o), PK_ETERMSIZE, 1);
        pk_arena *tiny = pk_arena_new(8);
        struct pk_term *t;
        cr_assert_eq(pk_etf_decode(tiny, in, 9, NULL, &t, NULL, NULL), PK_ETERMSIZE);
        pk_arena_free(tiny);
        /* An empty binary. */
        static const uint8_t empty[] = {131, 109, 0, 0, 0, 0};
        r = dec(empty, sizeof(empty));
        cr_assert(r.rc == 0 && r.t->v.bin.size == 0 && r.used == 6);
}
