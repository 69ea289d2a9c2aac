/* SPDX-License-Identifier: MIT */
/* Every error struct names the returned code the same way, `code`, and holds
 * exactly what the call returned: pk_etf_error, pk_etf_text_error,
 * pk_spawn_error and pk_unit_error. */
#include <criterion/criterion.h>
#include <portkit.h>

#include <errno.h>
#include <string.h>

Test(error_structs, etf_text_error_code)
{
        pk_arena *a = pk_arena_new(0);
        cr_assert_not_null(a);
        struct pk_term *t;
        struct pk_etf_text_error e;
        memset(&e, 0x55, sizeof(e));
        const char bad[] = "{a, .";
        int r = pk_etf_parse(a, bad, strlen(bad), NULL, &t, NULL, &e);
        cr_assert_lt(r, 0);
        cr_assert_eq(e.code, r, "%d vs %d", e.code, r);
        pk_arena_free(a);
}

Test(error_structs, etf_decode_error_code)
{
        pk_arena *a = pk_arena_new(0);
        const unsigned char bad[] = {131, 200};
        struct pk_term *t;
        struct pk_etf_error e;
        int r = pk_etf_decode(a, bad, sizeof(bad), NULL, &t, NULL, &e);
        cr_assert_lt(r, 0);
        cr_assert_eq(e.code, r);
        pk_arena_free(a);
}

Test(error_structs, spawn_error_code)
{
        struct pk_cmd *c;
        cr_assert_eq(pk_cmd_new("/nonexistent/portkit-test", &c), 0);
        struct pk_proc *p;
        struct pk_spawn_error e;
        int r = pk_spawn(c, &p, &e);
        pk_cmd_free(c);
        cr_assert_eq(r, -ENOENT);
        cr_assert_eq(e.code, r);
}

Test(error_structs, unit_error_code)
{
        const char text[] = "[Service]\nExecStart=/bin/true\n[Unit\n";
        struct pk_unit *u = NULL;
        struct pk_unit_error e;
        memset(&e, 0x55, sizeof(e));
        int r = pk_unit_parse("a.service", "/test/a.service", text, strlen(text), NULL, &u, &e);
        cr_assert_lt(r, 0);
        cr_assert_eq(e.code, r, "%d vs %d (%s)", e.code, r, e.message);
        pk_unit_free(u);
}
