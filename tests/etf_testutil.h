/* SPDX-License-Identifier: MIT */
/* Shared by the tests/test_etf_{decode,encode,interop}.c programs: one arena
 * per test (the suite's .init/.fini), decoding into a result record, encoding
 * into a fresh buffer, and the streaming writers' sample term. */
#ifndef PORTKIT_ETF_TESTUTIL_H
#define PORTKIT_ETF_TESTUTIL_H

#include <portkit/etf.h>

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* One decode's outcome: pk_etf_decode()'s return, tree, bytes used, error. */
struct dres {
        int rc;
        struct pk_term *t;
        size_t used;
        struct pk_etf_error err;
};

/* The test's arena: made by etf_setup(), freed by etf_teardown(). */
static pk_arena *arena;

static inline void etf_setup(void)
{
        arena = pk_arena_new(0);
        cr_assert_not_null(arena);
}

static inline void etf_teardown(void)
{
        arena = pk_arena_free(arena);
}

static inline struct dres dec_opts(const void *buf, size_t len, const struct pk_etf_decode_opts *o)
{
        struct dres r;
        memset(&r, 0, sizeof(r));
        r.rc = pk_etf_decode(arena, buf, len, o, &r.t, &r.used, &r.err);
        return r;
}

static inline struct dres dec(const void *buf, size_t len)
{
        return dec_opts(buf, len, NULL);
}

/* Decodes the bytes given as arguments (kept in a static array). */
#define DEC(...)                                                                                   \
        ({                                                                                         \
                static const uint8_t in_[] = {__VA_ARGS__};                                        \
                dec(in_, sizeof(in_));                                                             \
        })

static inline void expect_err(struct dres r, int code, size_t offset)
{
        cr_assert_eq(r.rc, code, "rc %d (%s), want %d (%s)", r.rc, pk_strerror(r.rc), code,
                     pk_strerror(code));
        cr_assert_eq(r.err.code, code);
        cr_assert_eq(r.err.offset, offset, "offset %zu, want %zu", r.err.offset, offset);
}

/* Encodes t with minor version mv into a fresh buffer (caller frees). */
static inline struct pk_etf_buf enc_det(const struct pk_term *t, int mv, int level,
                                        int deterministic)
{
        struct pk_etf_buf b;
        pk_etf_buf_init(&b, 0);
        struct pk_etf_encode_opts o = {mv, level, 0, deterministic};
        int rc = pk_etf_encode(&b, t, &o);
        cr_assert_eq(rc, 0, "encode: %s", pk_strerror(rc));
        return b;
}

static inline struct pk_etf_buf enc(const struct pk_term *t, int mv, int level)
{
        return enc_det(t, mv, level, 0);
}

/* The first 200 bytes of p to stderr, for a failing comparison. */
static inline void hexdump(const char *what, const uint8_t *p, size_t n)
{
        fprintf(stderr, "%s (%zu):", what, n);
        for (size_t i = 0; i < n && i < 200; i++)
                fprintf(stderr, " %u", p[i]);
        fprintf(stderr, "%s\n", n > 200 ? " ..." : "");
}

/* Builds {ok, [1, 300, -5 | tail], #{a => <<"x">>, 1 => 2.5}, "hi", <<1:3>>, 2^70, 'é', pid}. */
static inline void stream_sample(struct pk_etf_buf *b, int mv)
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

#endif
