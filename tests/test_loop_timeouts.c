/* SPDX-License-Identifier: MIT */
/* The loop's timeouts follow the library's one rule (int64_t milliseconds; as
 * an argument 0 polls and < 0 waits forever): pk_loop_run_timeout() with 0
 * makes one pass without waiting, with -1 runs until the loop is done; a
 * timer refuses a negative time. */
#include <criterion/criterion.h>
#include <portkit.h>

#include <errno.h>

static int fired;

static void on_timer(struct pk_loop_timer *t)
{
        (void)t;
        fired++;
}

Test(loop_timeouts, zero_polls_negative_waits_forever)
{
        struct pk_loop *loop;
        cr_assert_eq(pk_loop_new(&loop), 0);
        struct pk_loop_timer t;
        pk_loop_timer_init(loop, &t);
        fired = 0;
        cr_assert_eq(pk_loop_timer_start(&t, 200, 0, on_timer), 0);
        /* The timer cannot be due yet: a poll returns without firing it. */
        cr_assert_eq(pk_loop_run_timeout(loop, 0), PK_LOOP_TIMEDOUT);
        cr_assert_eq(fired, 0);
        /* Forever: returns only once the timer fired and nothing is left. */
        cr_assert_eq(pk_loop_run_timeout(loop, -1), PK_LOOP_DONE);
        cr_assert_eq(fired, 1);
        pk_loop_free(loop);
}

Test(loop_timeouts, timer_refuses_negative)
{
        struct pk_loop *loop;
        cr_assert_eq(pk_loop_new(&loop), 0);
        struct pk_loop_timer t;
        pk_loop_timer_init(loop, &t);
        cr_assert_eq(pk_loop_timer_start(&t, -1, 0, on_timer), -EINVAL);
        cr_assert_eq(pk_loop_timer_start(&t, 10, -5, on_timer), -EINVAL);
        cr_assert_not(pk_loop_is_active(&t.w));
        cr_assert_eq(pk_loop_timer_start(&t, 0, 0, on_timer), 0);
        fired = 0;
        cr_assert_eq(pk_loop_run(loop), PK_LOOP_DONE);
        cr_assert_eq(fired, 1);
        pk_loop_free(loop);
}
