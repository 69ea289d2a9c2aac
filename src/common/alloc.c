/* SPDX-License-Identifier: MIT */
/* The library's one allocator: every malloc/calloc/realloc/strdup/strndup in
 * src/ comes here (internal.h maps the names), so a test can make the Nth
 * allocation fail (curl's allocation torture, sqlite's OOM tests) and check
 * that every error path frees and closes what it owns.  The countdown is per
 * thread and off unless a test sets it; the cost is one thread-local load. */
#include "internal.h"

#undef malloc
#undef calloc
#undef realloc
#undef strdup
#undef strndup

#include <string.h>

static _Thread_local long countdown; /* 0: off; N: the Nth allocation from now fails */

long pk__alloc_fail_after(long n)
{
        long left = countdown;
        countdown = n > 0 ? n : 0;
        return left;
}

/* True (once) when the countdown reaches this allocation. */
static bool fail_now(void)
{
        if (PK_LIKELY(countdown == 0))
                return false;
        if (--countdown > 0)
                return false;
        errno = ENOMEM;
        return true;
}

void *pk__malloc(size_t n)
{
        return fail_now() ? NULL : malloc(n);
}

void *pk__calloc(size_t n, size_t size)
{
        return fail_now() ? NULL : calloc(n, size);
}

void *pk__realloc(void *p, size_t n)
{
        return fail_now() ? NULL : realloc(p, n);
}

char *pk__strdup(const char *s)
{
        return fail_now() ? NULL : strdup(s);
}

char *pk__strndup(const char *s, size_t n)
{
        return fail_now() ? NULL : strndup(s, n);
}
