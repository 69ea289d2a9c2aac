/* SPDX-License-Identifier: MIT */
/* The three exact ways the spawn child finds the signal dispositions to reset
 * (src/spawn/child.c, pk__spawn_bench_sigreset; bench/spawn measures them):
 * with handlers and ignored signals in the parent, the child (cat) must see
 * every disposition default except the one the command ignores, whichever way
 * is used and whether clone3 cleared the handlers or not.  (execve resets
 * handlers by itself, so SigCgt only shows a leak from exec onwards; SigIgn,
 * which survives execve, is what tells a missed reset.) */
#include "spawn/spawn-internal.h"

#include <criterion/criterion.h>
#include <portkit.h>

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_sig(int sig)
{
        (void)sig;
}

/* The child's SigIgn and SigCgt masks, as cat sees them in its own status. */
static void child_masks(uint64_t *ign, uint64_t *cgt)
{
        struct pk_cmd *c;
        cr_assert_eq(pk_cmd_new("cat", &c), 0);
        cr_assert_eq(pk_cmd_arg(c, "/proc/self/status"), 0);
        cr_assert_eq(pk_cmd_signal_ignore(c, SIGUSR2), 0);
        struct pk_run_result res;
        int r = pk_run(c, NULL, &res, NULL);
        pk_cmd_free(c);
        cr_assert_eq(r, 0, "%s", pk_strerror(r));
        const char *i = strstr(res.out, "\nSigIgn:"), *g = strstr(res.out, "\nSigCgt:");
        cr_assert(i && g);
        *ign = strtoull(i + 8, NULL, 16);
        *cgt = strtoull(g + 8, NULL, 16);
        pk_run_result_free(&res);
}

static void check_mode(int mode, int fallback)
{
        struct sigaction sa = {.sa_handler = on_sig};
        cr_assert_eq(sigaction(SIGUSR1, &sa, NULL), 0);
        cr_assert_eq(sigaction(SIGRTMIN + 3, &sa, NULL), 0);
        signal(SIGHUP, SIG_IGN);
        signal(SIGRTMAX, SIG_IGN);
        pk__spawn_test_fallback(fallback);
        pk__spawn_bench_sigreset(mode);
        uint64_t ign, cgt;
        child_masks(&ign, &cgt);
        pk__spawn_bench_sigreset(PK__SIGRESET_QUERY); /* back to the default */
        pk__spawn_test_fallback(0);
        cr_assert_eq(cgt, 0, "mode %d fallback %d: handled in the child: %#" PRIx64, mode, fallback,
                     cgt);
        cr_assert_eq(ign, UINT64_C(1) << (SIGUSR2 - 1),
                     "mode %d fallback %d: ignored in the child: %#" PRIx64, mode, fallback, ign);
}

Test(spawn_sigreset, status)
{
        check_mode(PK__SIGRESET_STATUS, 0);
        check_mode(PK__SIGRESET_STATUS, 2);
}

Test(spawn_sigreset, reset_all)
{
        check_mode(PK__SIGRESET_ALL, 0);
        check_mode(PK__SIGRESET_ALL, 2);
}

Test(spawn_sigreset, query)
{
        check_mode(PK__SIGRESET_QUERY, 0);
        check_mode(PK__SIGRESET_QUERY, 2);
}
