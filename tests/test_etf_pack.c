/* SPDX-License-Identifier: MIT */
/* pk_etf_pack()'s checked form: any integer type works for ~i/~u/~b's
 * length, and an argument of the wrong type or count is PK_EPATTERN instead
 * of garbage (an int read as int64_t printed 4294967295). */
#include <criterion/criterion.h>
#include <portkit/etf.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

static char *w(const struct pk_term *t)
{
        char *s;
        cr_assert_eq(pk_etf_print_w(t, &s, NULL), 0);
        return s;
}

Test(etf_pack, any_integer_type_and_the_right_value)
{
        pk_arena *a = pk_arena_new(0);
        struct pk_term *t;
        int minus_one = -1;
        short sh = -2;
        unsigned char uc = 200;
        long long ll = INT64_MIN;
        size_t len = 2;
        const uint8_t bin[] = {1, 2, 3};
        cr_assert_eq(
            pk_etf_pack(a, &t, "{ok, ~i, ~i, ~u, ~i, ~f, ~b}", minus_one, sh, uc, ll, 2, bin, len),
            0);
        char *s = w(t);
        cr_expect_str_eq(s, "{ok,-1,-2,200,-9223372036854775808,2.0,<<1,2>>}");
        free(s);
        cr_assert_eq(pk_etf_pack(a, &t, "{~u, ~a, ~s, ~b}", UINT64_MAX, "x", "hi", "abc", 3), 0);
        s = w(t);
        cr_expect_str_eq(s, "{18446744073709551615,x,[104,105],<<97,98,99>>}");
        free(s);
        pk_arena_free(a);
}

Test(etf_pack, wrong_types_and_counts_are_refused)
{
        pk_arena *a = pk_arena_new(0);
        struct pk_term *t = NULL;
        cr_expect_eq(pk_etf_pack(a, &t, "{ok, ~i}", "str"), PK_EPATTERN);
        cr_expect_eq(pk_etf_pack(a, &t, "{ok, ~i}", 1.5), PK_EPATTERN);
        cr_expect_eq(pk_etf_pack(a, &t, "{ok, ~a}", 7), PK_EPATTERN);
        cr_expect_eq(pk_etf_pack(a, &t, "{ok, ~u}", -1), PK_EPATTERN);
        cr_expect_eq(pk_etf_pack(a, &t, "{ok, ~i}", UINT64_MAX), PK_EPATTERN);
        cr_expect_eq(pk_etf_pack(a, &t, "{ok, ~b}", "abc", -1), PK_EPATTERN);
        cr_expect_eq(pk_etf_pack(a, &t, "{ok, ~t}", "abc"), PK_EPATTERN);
        cr_expect_eq(pk_etf_pack(a, &t, "{ok, ~i, ~i}", 1), PK_EPATTERN); /* too few */
        cr_expect_eq(pk_etf_pack(a, &t, "{ok, ~i}", 1, 2), PK_EPATTERN);  /* too many */
        cr_expect_eq(pk_etf_pack(a, &t, "ok", 1), PK_EPATTERN);
        cr_expect_eq(pk_etf_pack(a, &t, "~a", (const char *)NULL), -EINVAL);
        cr_expect_null(t);
        /* the plain variadic function stays, with its exact types */
        cr_assert_eq((pk_etf_pack)(a, &t, "{ok, ~i}", (int64_t)-1), 0);
        char *s = w(t);
        cr_expect_str_eq(s, "{ok,-1}");
        free(s);
        /* and the typed entry point for C++ and other FFIs */
        struct pk_etf_pack_arg args[1] = {{.type = PK_ETF_ARG_INT, .v.i = -5}};
        cr_assert_eq(pk_etf_pack_args(a, &t, "[~i]", args, 1), 0);
        s = w(t);
        cr_expect_str_eq(s, "[-5]");
        free(s);
        cr_expect_eq(pk_etf_pack_args(a, &t, "[~i]", args, 0), PK_EPATTERN);
        pk_arena_free(a);
}
