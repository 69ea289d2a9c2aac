/* SPDX-License-Identifier: MIT */
/* ETF codec tests: every decoder error code, hostile lengths, deep nesting,
 * round trips of every type, the streaming encoder, and byte-for-byte
 * equality with a real erl's term_to_binary across minor versions. */
#include <criterion/criterion.h>
#include <portkit/etf.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

/* ---- helpers ---- */

struct dres {
        int rc;
        struct pk_term *t;
        size_t used;
        struct pk_etf_error err;
};

static pk_arena *arena;

static void setup(void)
{
        arena = pk_arena_new(0);
        cr_assert_not_null(arena);
}

static void teardown(void)
{
        arena = pk_arena_free(arena);
}

// cppcheck-suppress unknownMacro
TestSuite(etf, .init = setup, .fini = teardown, .timeout = 120);

static struct dres dec_opts(const void *buf, size_t len, const struct pk_etf_decode_opts *o)
{
        struct dres r;
        memset(&r, 0, sizeof(r));
        r.rc = pk_etf_decode(arena, buf, len, o, &r.t, &r.used, &r.err);
        return r;
}

static struct dres dec(const void *buf, size_t len)
{
        return dec_opts(buf, len, NULL);
}

#define DEC(...)                                                                                   \
        ({                                                                                         \
                static const uint8_t in_[] = {__VA_ARGS__};                                        \
                dec(in_, sizeof(in_));                                                             \
        })

static void expect_err(struct dres r, int code, size_t offset)
{
        cr_assert_eq(r.rc, code, "rc %d (%s), want %d (%s)", r.rc, pk_strerror(r.rc), code,
                     pk_strerror(code));
        cr_assert_eq(r.err.code, code);
        cr_assert_eq(r.err.offset, offset, "offset %zu, want %zu", r.err.offset, offset);
}

/* Encodes t with minor version mv into a fresh buffer (caller frees). */
static struct pk_etf_buf enc_det(const struct pk_term *t, int mv, int level, int deterministic)
{
        struct pk_etf_buf b;
        pk_etf_buf_init(&b, 0);
        struct pk_etf_encode_opts o = {mv, level, 0, deterministic};
        int rc = pk_etf_encode(&b, t, &o);
        cr_assert_eq(rc, 0, "encode: %s", pk_strerror(rc));
        return b;
}

static struct pk_etf_buf enc(const struct pk_term *t, int mv, int level)
{
        return enc_det(t, mv, level, 0);
}

static void hexdump(const char *what, const uint8_t *p, size_t n)
{
        fprintf(stderr, "%s (%zu):", what, n);
        for (size_t i = 0; i < n && i < 200; i++)
                fprintf(stderr, " %u", p[i]);
        fprintf(stderr, "%s\n", n > 200 ? " ..." : "");
}

/* ---- decoder: every error code ---- */

Test(etf, err_badversion)
{
        expect_err(DEC(130, 97, 1), PK_EBADVERSION, 0);
        expect_err(DEC(0), PK_EBADVERSION, 0);
}

Test(etf, err_truncated)
{
        expect_err(dec(NULL, 0), PK_ETRUNCATED, 0);
        expect_err(DEC(131), PK_ETRUNCATED, 1);
        expect_err(DEC(131, 98, 0, 0), PK_ETRUNCATED, 1);
        expect_err(DEC(131, 109, 0, 0, 0, 100, 1, 2, 3), PK_ETRUNCATED, 1);
        expect_err(DEC(131, 104, 2, 97, 1), PK_ETRUNCATED, 5);
        expect_err(DEC(131, 100, 0, 5, 'a'), PK_ETRUNCATED, 1);
}

Test(etf, err_badtag)
{
        expect_err(DEC(131, 200), PK_EBADTAG, 1);
        expect_err(DEC(131, 104, 1, 1), PK_EBADTAG, 3);
        /* Compressed is only legal right after the version byte. */
        expect_err(DEC(131, 104, 1, 80, 0, 0, 0, 1, 0), PK_EBADTAG, 3);
        /* A pid's node must be an atom. */
        expect_err(DEC(131, 88, 97, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), PK_EBADTAG, 2);
}

Test(etf, err_atomlen)
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

Test(etf, err_atomutf8)
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

Test(etf, err_atomrefused)
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

Test(etf, err_depth)
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

Test(etf, err_depth_shapes)
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

Test(etf, err_termsize)
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

Test(etf, err_bignum)
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

Test(etf, err_zlib_and_zsize)
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

Test(etf, hostile_compressed_4gib_claim)
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

Test(etf, err_dupkey)
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

Test(etf, dupkey_collisions_fall_back_to_sort)
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

Test(etf, err_badfloat)
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

Test(etf, err_bits)
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

Test(etf, err_fun)
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

Test(etf, err_local)
{
        expect_err(DEC(131, 121, 1, 2, 3), PK_ELOCAL, 1);
        expect_err(DEC(131, 104, 1, 121), PK_ELOCAL, 3);
}

Test(etf, err_trailing)
{
        struct dres r = DEC(131, 97, 1, 0);
        cr_assert_eq(r.rc, 0);
        cr_assert_eq(r.used, 3);
        static const uint8_t in[] = {131, 97, 1, 0};
        struct pk_etf_decode_opts o = {.flags = PK_ETF_NO_TRAILING};
        expect_err(dec_opts(in, sizeof(in), &o), PK_ETRAILING, 3);
        cr_assert_eq(dec_opts(in, 3, &o).rc, 0);
}

Test(etf, err_badref)
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

Test(etf, err_atomcache)
{
        expect_err(DEC(131, 82, 0), PK_EATOMCACHE, 1);
        expect_err(DEC(131, 68, 0), PK_EATOMCACHE, 1);
        expect_err(DEC(131, 69, 0), PK_EATOMCACHE, 1);
        expect_err(DEC(131, 113, 82, 1, 100, 0, 1, 'f', 97, 1), PK_EATOMCACHE, 2);
}

Test(etf, err_badarity)
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

Test(etf, einval)
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

Test(etf, hostile_list_length)
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

Test(etf, deep_nesting_million)
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

Test(etf, long_improper_chain_is_flat)
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
        if (len < 1)
                return *off = 0, PK_ETRUNCATED;
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

Test(etf, chain_depth_limit)
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

Test(etf, chain_truncated_at_every_byte)
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

Test(etf, chain_size_limit_and_arena_blocks)
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

Test(etf, chain_tails_not_nil)
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

Test(etf, chains_among_other_terms)
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

Test(etf, noncanonical_bignums)
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

Test(etf, old_tags)
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

Test(etf, zero_copy_and_used)
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

Test(etf, big_binary_zero_copy)
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

Test(etf, no_version_flag)
{
        static const uint8_t in[] = {97, 42};
        struct pk_etf_decode_opts o = {.flags = PK_ETF_NO_VERSION};
        struct dres r = dec_opts(in, sizeof(in), &o);
        cr_assert_eq(r.rc, 0);
        cr_assert_eq(r.t->v.i, 42);
}

/* ---- encoder ---- */

Test(etf, encode_ints)
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

Test(etf, encode_atoms_by_version)
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

Test(etf, encode_float_v0_format)
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

Test(etf, encode_string_rules)
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

Test(etf, map_key_order_int_before_float)
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

Test(etf, buffer_cap_and_sticky_error)
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

/* Builds {ok, [1, 300, -5 | tail], #{a => <<"x">>, 1 => 2.5}, "hi", <<1:3>>, 2^70, 'é', pid}. */
static void stream_sample(struct pk_etf_buf *b, int mv)
{
        static const uint8_t big70[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0x40};
        pk_etf_put_version(b);
        pk_etf_put_tuple(b, 8);
        pk_etf_put_atom_v(b, mv, "ok", 2);
        pk_etf_put_list(b, 3);
        pk_etf_put_int(b, 1);
        pk_etf_put_int(b, 300);
        pk_etf_put_int(b, -5);
        pk_etf_put_atom_v(b, mv, "tail", 4);
        pk_etf_put_map(b, 2);
        pk_etf_put_int(b, 1);
        pk_etf_put_float_v(b, mv, 2.5);
        pk_etf_put_atom_v(b, mv, "a", 1);
        pk_etf_put_binary(b, "x", 1);
        pk_etf_put_string(b, "hi", 2);
        pk_etf_put_bitstring(b, "\xff", 1, 3);
        pk_etf_put_big(b, big70, 9, 0);
        pk_etf_put_atom_v(b, mv, "\xC3\xA9", 2);
        pk_etf_put_pid(b, mv, "n@h", 3, 1, 2, 3);
}

Test(etf, streaming_matches_tree)
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

Test(etf, streaming_input_errors)
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

Test(etf, round_trip_every_type)
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

Test(etf, compress_only_when_smaller)
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

/* ---- byte-for-byte equality with a real erl ---- */

static uint8_t *read_file(const char *path, size_t *len)
{
        FILE *f = fopen(path, "rb");
        cr_assert_not_null(f, "%s: %s", path, strerror(errno));
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *b = malloc((size_t)n + 1);
        cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
        fclose(f);
        *len = (size_t)n;
        return b;
}

/* Runs tests/interop/etf_gen.escript; returns the records file's bytes. */
static uint8_t *generate(int n, int seed, size_t *len)
{
        char out[] = "/tmp/pk_etf_gen_XXXXXX";
        int fd = mkstemp(out);
        cr_assert_geq(fd, 0);
        close(fd);
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), "escript %s/tests/interop/etf_gen.escript %d %d %s",
                 PK_SOURCE_DIR, n, seed, out);
        int st = system(cmd);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s failed", cmd);
        uint8_t *b = read_file(out, len);
        unlink(out);
        return b;
}

static const uint8_t *next_rec(const uint8_t **p, const uint8_t *end, size_t *len)
{
        cr_assert_geq(end - *p, 4);
        *len = (size_t)(*p)[0] << 24 | (size_t)(*p)[1] << 16 | (size_t)(*p)[2] << 8 | (*p)[3];
        const uint8_t *r = *p + 4;
        cr_assert_geq((size_t)(end - r), *len);
        *p = r + *len;
        return r;
}

static void check_equal(int term, const char *what, const struct pk_etf_buf *ours,
                        const uint8_t *erl, size_t erl_len)
{
        if (ours->len == erl_len && memcmp(ours->data, erl, erl_len) == 0)
                return;
        hexdump("erl ", erl, erl_len);
        hexdump("ours", ours->data, ours->len);
        cr_assert_fail("term %d: %s differs from erl", term, what);
}

static int has_large_map(const struct pk_term *t)
{
        switch (t->type) {
        case PK_TERM_MAP:
                if (t->v.map.arity > 32)
                        return 1;
                for (uint32_t i = 0; i < 2 * t->v.map.arity; i++)
                        if (has_large_map(&t->v.map.pairs[i]))
                                return 1;
                return 0;
        case PK_TERM_TUPLE:
                for (uint32_t i = 0; i < t->v.tuple.arity; i++)
                        if (has_large_map(&t->v.tuple.elems[i]))
                                return 1;
                return 0;
        case PK_TERM_LIST:
                for (uint32_t i = 0; i < t->v.list.len; i++)
                        if (has_large_map(&t->v.list.elems[i]))
                                return 1;
                return has_large_map(t->v.list.tail);
        case PK_TERM_FUN:
                for (uint32_t i = 0; i < t->v.fun->num_free; i++)
                        if (has_large_map(&t->v.fun->free_vars[i]))
                                return 1;
                return 0;
        default:
                return 0;
        }
}

Test(etf, interop_byte_equality_with_erl, .timeout = 300)
{
        /* PK_ETF_INTEROP_N / PK_ETF_INTEROP_SEED scale the run up (e.g. 10000). */
        const char *ns = getenv("PK_ETF_INTEROP_N"), *ss = getenv("PK_ETF_INTEROP_SEED");
        int want = ns ? atoi(ns) : 400;
        size_t len;
        uint8_t *file = generate(want, ss ? atoi(ss) : 1, &len);
        const uint8_t *p = file, *end = file + len;
        static const struct {
                int mv, level;
                const char *what;
        } variants[] = {{1, 0, "minor_version 1"},        {0, 0, "minor_version 0"},
                        {2, 0, "minor_version 2"},        {1, 6, "compressed"},
                        {2, 1, "{compressed,1} minor 2"}, {0, 9, "{compressed,9} minor 0"}};
        int terms = 0, large = 0;
        struct pk_etf_decode_opts o = {.flags = PK_ETF_NO_TRAILING};
        while (p < end) {
                const uint8_t *rec[7];
                size_t rlen[7];
                for (int v = 0; v < 7; v++)
                        rec[v] = next_rec(&p, end, &rlen[v]);
                struct dres r = dec_opts(rec[0], rlen[0], &o);
                if (r.rc) {
                        hexdump("input", rec[0], rlen[0]);
                        cr_assert_fail("term %d: decode: %s at %zu", terms, pk_strerror(r.rc),
                                       r.err.offset);
                }
                /* Maps over 32 keys: erl writes them in hash-trie order, and
                 * with [deterministic] sorted. */
                large += has_large_map(r.t);
                struct pk_etf_buf d = enc_det(r.t, 1, 0, 1);
                check_equal(terms, "[deterministic]", &d, rec[6], rlen[6]);
                pk_etf_buf_free(&d);
                for (int v = 0; v < 6; v++) {
                        struct pk_etf_buf b = enc(r.t, variants[v].mv, variants[v].level);
                        check_equal(terms, variants[v].what, &b, rec[v], rlen[v]);
                        pk_etf_buf_free(&b);
                        /* Every variant decodes to the same term. */
                        struct dres rv = dec_opts(rec[v], rlen[v], &o);
                        cr_assert_eq(rv.rc, 0, "term %d variant %d: %s", terms, v,
                                     pk_strerror(rv.rc));
                        cr_assert_eq(pk_term_compare(r.t, rv.t, 1), 0, "term %d variant %d", terms,
                                     v);
                }
                terms++;
                pk_arena_reset(arena);
        }
        cr_assert_eq(terms, want);
        cr_assert_gt(large, 0); /* the [deterministic] comparison saw large maps */
        free(file);
}

/* Our encodings, fed to erl's binary_to_term, come back as the same term:
 * erl re-encodes each and we compare the bytes. */
Test(etf, interop_erl_decodes_ours, .timeout = 300)
{
        char path[] = "/tmp/pk_etf_ours_XXXXXX";
        int fd = mkstemp(path);
        cr_assert_geq(fd, 0);
        FILE *f = fdopen(fd, "wb");
        struct pk_etf_buf b;
        pk_etf_buf_init(&b, 0);
        stream_sample(&b, 0);
        stream_sample(&b, 2);
        struct pk_etf_buf c = enc(dec(b.data, b.len).t, 1, 9);
        fwrite(b.data, 1, b.len, f);
        fwrite(c.data, 1, c.len, f);
        fclose(f);
        char cmd[1024];
        snprintf(cmd, sizeof(cmd),
                 "erl -noshell -eval '{ok, B} = file:read_file(\"%s\"), "
                 "F = fun G(<<>>, Acc) -> lists:reverse(Acc); "
                 "G(Bin, Acc) -> {T, N} = binary_to_term(Bin, [used]), "
                 "<<_:N/binary, R/binary>> = Bin, G(R, [T | Acc]) end, "
                 "Ts = F(B, []), 3 = length(Ts), "
                 "[A, A, A] = [setelement(8, T, x) || T <- Ts], "
                 "io:format(\"~w\", [hd(Ts)]), halt(0).' > %s.out",
                 path, path);
        int st = system(cmd);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "erl could not decode our terms");
        char outp[64];
        snprintf(outp, sizeof(outp), "%s.out", path);
        size_t n;
        char *txt = (char *)read_file(outp, &n);
        txt[n] = 0;
        cr_assert(strstr(txt, "{ok,[1,300,-5|tail],#{1 => 2.5,a => <<120>>},[104,105],<<7:3>>,"
                              "1180591620717411303424,") == txt,
                  "erl saw %s", txt);
        unlink(outp);
        unlink(path);
        free(txt);
        pk_etf_buf_free(&b);
        pk_etf_buf_free(&c);
}

Test(etf, encode_unencodable)
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
Test(etf, put_atom_empty_from_null)
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

Test(etf, leaf_runs_truncated_at_every_byte)
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

Test(etf, lone_binary_every_edge)
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
