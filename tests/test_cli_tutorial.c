/* SPDX-License-Identifier: MIT */
/* docs/tutorial.md works as written: its files are extracted, built against
 * this build's library and driven from C, `portkit call`, Erlang and Elixir;
 * each output must be the one the tutorial shows. */
#include "testutil.h"

#include <criterion/criterion.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[] = "/tmp/pk_tutorialXXXXXX";
static char *doc;

static void setup(void)
{
        cr_assert_not_null(mkdtemp(dir));
        /* Each `<!-- file: NAME -->` line names the fenced block after it. */
        cr_assert_eq(
            tu_sh(NULL,
                  "cd %s && awk '/^<!-- file: / { name = $3; next } "
                  "name && /^```/ { if (open) { open = 0; name = \"\" } else open = 1; next } "
                  "open { print > name }' %s/docs/tutorial.md",
                  dir, PK_SOURCE_DIR),
            0);
        FILE *f = fopen(PK_SOURCE_DIR "/docs/tutorial.md", "r");
        cr_assert_not_null(f);
        doc = calloc(1, 1 << 16);
        cr_assert_not_null(doc);
        size_t n = fread(doc, 1, (1 << 16) - 1, f);
        doc[n] = 0;
        fclose(f);
        for (const char *p = "greet\0host\0"; *p; p += strlen(p) + 1)
                cr_assert_eq(
                    tu_sh(NULL,
                          "cd %s && %s -std=c17 -Wall -Wextra -Werror %s -I%s/include %s.c "
                          "-o %s %s/libportkit.a -lz -lpthread -lm",
                          dir, PK_TEST_CC, PK_TEST_CC_FLAGS, PK_SOURCE_DIR, p, p, PK_BUILD_DIR),
                    0, "%s.c does not build", p);
}

static void teardown(void)
{
        tu_sh(NULL, "rm -rf %s", dir);
        free(doc);
}

/* The command's output must appear in the tutorial verbatim. */
static void shows(const char *out)
{
        cr_assert_str_neq(out, "");
        cr_assert(strstr(doc, out), "the tutorial does not show:\n%s", out);
}

Test(cli_tutorial, c_host_and_portkit_call, .init = setup, .fini = teardown, .timeout = 120)
{
        char *out;
        cr_assert_eq(tu_sh(&out, "cd %s && ./host", dir), 0);
        shows(out);
        free(out);
        cr_assert_eq(tu_sh(&out,
                           "cd %s && echo '{hello, world}. {bye}.' | %s/portkit call --format p -- "
                           "./greet 2>&1",
                           dir, PK_BUILD_DIR),
                     0);
        shows(out);
        free(out);
}

Test(cli_tutorial, erlang_and_elixir, .init = setup, .fini = teardown, .timeout = 120)
{
        char *out;
        cr_assert_eq(tu_sh(&out, "cd %s && escript greet.escript", dir), 0);
        shows(out);
        free(out);
        if (tu_sh(NULL, "command -v elixir >/dev/null") != 0)
                cr_skip_test("elixir is not installed (scripts/deps check installs it)");
        cr_assert_eq(tu_sh(&out, "cd %s && elixir greet.exs", dir), 0);
        shows(out);
        free(out);
}
