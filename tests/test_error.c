/* SPDX-License-Identifier: MIT */
/* pk_strerror names every errno and every PK_E* code. */
#include <criterion/criterion.h>
#include <errno.h>
#include <portkit.h>
#include <string.h>

Test(error, names_errno_values)
{
        cr_assert_str_eq(pk_strerror(-ENOENT), "No such file or directory");
        cr_assert_str_eq(pk_strerror(ENOENT), "No such file or directory");
        cr_assert_str_eq(pk_strerror_name(-EPIPE), "EPIPE");
}

Test(error, names_every_portkit_code)
{
#define CHECK(name, value, msg)                                                                    \
        cr_assert_str_eq(pk_strerror(PK_##name), msg);                                             \
        cr_assert_str_eq(pk_strerror_name(PK_##name), "PK_" #name);                                \
        cr_assert_lt(PK_##name, -4000 + 1);
        PK_ERRNO_MAP(CHECK)
#undef CHECK
}

Test(error, unknown_codes_are_named_not_null)
{
        cr_assert_str_eq(pk_strerror(-3999), "unknown error");
        cr_assert_str_eq(pk_strerror(-99999), "unknown error");
        cr_assert_null(pk_strerror_name(-99999));
}
