/* SPDX-License-Identifier: MIT */
/* The open-addressing pointer table (src/common/htab.c) the sup layer
 * indexes its children with: puts, gets and deletes against a plain array
 * as the model, with every key in a few buckets (long probe runs that wrap
 * around the end, so backward-shift deletion is exercised), growth, and a
 * failed allocation leaving the table as it was. */
#include "common/htab.h"
#include "internal.h"

#include <criterion/criterion.h>
#include <stdint.h>

struct item {
        uint64_t key;
        bool in;
};

static bool match(const void *v, const void *key)
{
        return ((const struct item *)v)->key == *(const uint64_t *)key;
}

/* A hash with many collisions, and one that lands near the table's end. */
static uint64_t bad_hash(uint64_t k)
{
        return (k % 3) * 5 + 13;
}

static void check_all(const struct pk__htab *t, struct item *items, size_t n,
                      uint64_t (*h)(uint64_t))
{
        size_t in = 0;
        for (size_t i = 0; i < n; i++) {
                void *got = pk__htab_get(t, h(items[i].key), match, &items[i].key);
                if (items[i].in) {
                        cr_assert_eq(got, &items[i], "key %llu", (unsigned long long)items[i].key);
                        in++;
                } else {
                        cr_assert_null(got, "key %llu deleted", (unsigned long long)items[i].key);
                }
        }
        cr_assert_eq(t->n, in);
}

static void churn(uint64_t (*h)(uint64_t))
{
        enum { N = 600 };
        static struct item items[N];
        struct pk__htab t = {0};
        for (size_t i = 0; i < N; i++) {
                items[i].key = i * 7919 + 1;
                items[i].in = true;
                cr_assert_eq(pk__htab_put(&t, h(items[i].key), &items[i]), 0);
        }
        check_all(&t, items, N, h);
        /* delete every third, then every other, checking after each sweep */
        for (size_t step = 3; step >= 2; step--) {
                for (size_t i = 0; i < N; i += step) {
                        bool was = items[i].in;
                        cr_assert_eq(pk__htab_del(&t, h(items[i].key), &items[i]), was);
                        items[i].in = false;
                }
                check_all(&t, items, N, h);
        }
        /* put half of them back */
        for (size_t i = 0; i < N; i += 2) {
                cr_assert_eq(pk__htab_put(&t, h(items[i].key), &items[i]), 0);
                items[i].in = true;
        }
        check_all(&t, items, N, h);
        pk__htab_free(&t);
        cr_assert_eq(t.n, 0);
        cr_assert_null(pk__htab_get(&t, 1, match, &items[0].key));
        cr_assert_eq(pk__htab_del(&t, 1, &items[0]), false);
}

Test(htab, churn_with_a_good_hash)
{
        churn(pk__hash_u64);
}

Test(htab, churn_with_colliding_hashes)
{
        churn(bad_hash);
}

Test(htab, same_hash_same_key_distinct_values)
{
        struct item a = {.key = 5}, b = {.key = 5};
        struct pk__htab t = {0};
        cr_assert_eq(pk__htab_put(&t, 9, &a), 0);
        cr_assert_eq(pk__htab_put(&t, 9, &b), 0);
        cr_assert_eq(pk__htab_del(&t, 9, &a), true);
        cr_assert_eq(pk__htab_get(&t, 9, match, &b.key), &b);
        cr_assert_eq(pk__htab_del(&t, 9, &a), false);
        cr_assert_eq(pk__htab_put(&t, 9, NULL), -EINVAL);
        pk__htab_free(&t);
}

Test(htab, reserve_makes_puts_infallible_and_failure_changes_nothing)
{
        static struct item items[1000];
        struct pk__htab t = {0};
        cr_assert_eq(pk__htab_reserve(&t, 100), 0);
        size_t cap = t.cap, n = 0;
        cr_assert(cap >= 200 && cap / 2 < PK_ARRAY_SIZE(items));
        pk__alloc_fail_after(1); /* any allocation from here fails */
        /* every put up to half the capacity needs no allocation */
        for (; (n + 1) * 2 <= cap; n++) {
                items[n].key = n;
                cr_assert_eq(pk__htab_put(&t, pk__hash_u64(n), &items[n]), 0);
        }
        cr_assert_geq(n, 100);
        cr_assert_eq(t.cap, cap, "no growth was needed");
        items[n].key = n;
        cr_assert_eq(pk__htab_put(&t, pk__hash_u64(n), &items[n]), -ENOMEM);
        pk__alloc_fail_after(0);
        cr_assert_eq(t.n, n);
        cr_assert_eq(t.cap, cap);
        for (size_t i = 0; i < n; i++)
                cr_assert_eq(pk__htab_get(&t, pk__hash_u64(i), match, &items[i].key), &items[i]);
        cr_assert_null(pk__htab_get(&t, pk__hash_u64(n), match, &items[n].key));
        cr_assert_eq(pk__htab_reserve(&t, SIZE_MAX / 2), -ENOMEM);
        cr_assert_eq(pk__htab_put(&t, pk__hash_u64(n), &items[n]), 0, "grows when it can");
        pk__htab_free(&t);
}

Test(htab, string_hash_differs_and_is_stable)
{
        cr_assert_neq(pk__hash_str("s1"), pk__hash_str("s2"));
        cr_assert_eq(pk__hash_str(""), 0xcbf29ce484222325ULL);
        cr_assert_neq(pk__hash_u64(1), pk__hash_u64(2));
}
