/* SPDX-License-Identifier: MIT */
/* The CLI's conventions through the real binary: --version, help, --help on
 * every (sub)subcommand, one wording for unknown options, `portkit etf`'s
 * limits and FILE arguments, and the man pages rendering with man -l. */
#include "testutil.h"

#include <criterion/criterion.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define PORTKIT PK_BUILD_DIR "/portkit"

Test(cli_help, version_and_help)
{
        char *out;
        cr_assert_eq(tu_sh(&out, "%s --version", PORTKIT), 0);
        cr_assert(strncmp(out, "portkit ", 8) == 0, "%s", out);
        free(out);
        cr_assert_eq(tu_sh(&out, "%s -V", PORTKIT), 0);
        cr_assert(strncmp(out, "portkit ", 8) == 0, "%s", out);
        free(out);
        const char *cmds[] = {"run", "call", "etf"};
        for (size_t i = 0; i < 3; i++) {
                char *a, *b;
                cr_assert_eq(tu_sh(&a, "%s help %s", PORTKIT, cmds[i]), 0);
                cr_assert_eq(tu_sh(&b, "%s %s --help", PORTKIT, cmds[i]), 0);
                cr_assert_str_eq(a, b);
                cr_assert(strstr(a, "usage: portkit"), "%s", a);
                free(a);
                free(b);
        }
        const char *sub[] = {"etf decode --help", "etf encode --help", "etf decode -h",
                             "run --env A=b --help", "call --timeout 5s --help"};
        for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
                cr_assert_eq(tu_sh(&out, "%s %s", PORTKIT, sub[i]), 0, "%s", sub[i]);
                cr_assert(strstr(out, "usage: portkit"), "%s: %s", sub[i], out);
                free(out);
        }
        cr_assert_eq(tu_sh(NULL, "%s help nosuch 2>/dev/null", PORTKIT), 100);
}

Test(cli_help, one_wording_for_unknown_options)
{
        const char *cases[][2] = {{"", "portkit: unknown option '--frob' (see portkit --help)"},
                                  {"run", "portkit run: unknown option '--frob' (see portkit run "
                                          "--help)"},
                                  {"call", "portkit call: unknown option '--frob' (see portkit "
                                           "call --help)"},
                                  {"etf decode", "portkit etf decode: unknown option '--frob' "
                                                 "(see portkit etf decode --help)"},
                                  {"etf encode", "portkit etf encode: unknown option '--frob' "
                                                 "(see portkit etf encode --help)"}};
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char *err;
                int st = tu_sh(&err, "%s %s --frob -- true 2>&1 </dev/null", PORTKIT, cases[i][0]);
                cr_assert_eq(st, 100, "%s", cases[i][0]);
                cr_assert(strstr(err, cases[i][1]), "%s: %s", cases[i][0], err);
                free(err);
        }
}

Test(cli_help, etf_limits_are_options_and_files_are_read, .timeout = 240)
{
        char dir[] = "/tmp/pk_cli_etfXXXXXX";
        cr_assert_not_null(mkdtemp(dir));
        /* A 17 MiB binary literal: over the library's 16 MiB default, inside the
         * CLI's.  (Encode only: printing it back is another layer's speed.) */
        size_t n = 17u << 20;
        char path[256], text[256];
        snprintf(path, sizeof(path), "%s/big.etf", dir);
        snprintf(text, sizeof(text), "%s/big.txt", dir);
        FILE *f = fopen(path, "w"), *t = fopen(text, "w");
        cr_assert(f && t);
        unsigned char hdr[6] = {131,
                                109,
                                (unsigned char)(n >> 24),
                                (unsigned char)(n >> 16),
                                (unsigned char)(n >> 8),
                                (unsigned char)n};
        fwrite(hdr, 1, 6, f);
        fputs("<<\"", t);
        for (size_t i = 0; i < n; i++) {
                fputc('a', f);
                fputc('a', t);
        }
        fputs("\">>.\n", t);
        fclose(f);
        fclose(t);
        cr_assert_eq(tu_sh(NULL, "%s etf encode %s | cmp -s - %s", PORTKIT, text, path), 0);
        unlink(text);
        /* decode --dot | encode gives back the bytes, in ~w and in ~p */
        char rt[256];
        snprintf(rt, sizeof(rt), "%s/rt.etf", dir);
        cr_assert_eq(tu_sh(NULL,
                           "printf '%%s' '{a,[1,2],<<\"v\">>,#{k => 1.5}}. \"str\". [].' | "
                           "%s etf encode > %s",
                           PORTKIT, rt),
                     0);
        cr_assert_eq(tu_sh(NULL, "%s etf decode --dot %s | %s etf encode | cmp -s - %s", PORTKIT,
                           rt, PORTKIT, rt),
                     0);
        cr_assert_eq(tu_sh(NULL, "%s etf decode --dot --format p %s | %s etf encode | cmp -s - %s",
                           PORTKIT, rt, PORTKIT, rt),
                     0);
        cr_assert_neq(
            tu_sh(NULL, "%s etf decode %s | %s etf encode >/dev/null 2>&1", PORTKIT, rt, PORTKIT),
            0, "without --dot the text has no term ends");
        unlink(rt);
        /* --max-size refuses, naming the option */
        char *out;
        cr_assert_eq(tu_sh(&out, "%s etf decode --max-size 1M %s 2>&1 >/dev/null", PORTKIT, path),
                     1);
        cr_assert(strstr(out, "--max-size"), "%s", out);
        free(out);
        cr_assert_eq(
            tu_sh(&out, "echo '[[[[1]]]].' | %s etf encode --max-depth 3 2>&1 >/dev/null", PORTKIT),
            1);
        cr_assert(strstr(out, "--max-depth"), "%s", out);
        free(out);
        /* several FILEs, and '-' for stdin */
        char small[256];
        snprintf(small, sizeof(small), "%s/small.etf", dir);
        cr_assert_eq(tu_sh(NULL, "echo 'a. {b, 1}.' | %s etf encode > %s", PORTKIT, small), 0);
        cr_assert_eq(tu_sh(&out, "echo '\"c\".' | %s etf encode | %s etf decode %s - %s", PORTKIT,
                           PORTKIT, small, small),
                     0);
        cr_assert_str_eq(out, "a\n{b,1}\n[99]\na\n{b,1}\n");
        free(out);
        cr_assert_eq(tu_sh(&out, "%s etf decode %s/missing 2>&1", PORTKIT, dir), 1);
        cr_assert(strstr(out, "missing"), "%s", out);
        free(out);
        unlink(small);
        unlink(path);
        rmdir(dir);
}

/* Every option a command's --help lists is in its man page, and the pages
 * render without warnings. */
Test(cli_help, man_pages_render_and_cover_every_option, .timeout = 120)
{
        const char *pages[][2] = {{"portkit", ""},
                                  {"portkit-call", "call"},
                                  {"portkit-etf", "etf"},
                                  {"portkit-run", "run"}};
        for (size_t i = 0; i < 4; i++) {
                char *out;
                cr_assert_eq(tu_sh(&out,
                                   "MANWIDTH=80 man --warnings -l %s/man/%s.1 2>&1 >/dev/null",
                                   PK_SOURCE_DIR, pages[i][0]),
                             0);
                cr_assert_str_eq(out, "", "%s warns: %s", pages[i][0], out);
                free(out);
                char *missing;
                cr_assert_eq(
                    tu_sh(&missing,
                          "page=$(MANWIDTH=200 man -l %s/man/%s.1 2>/dev/null); "
                          "%s %s --help | grep -o -- '--[a-z][a-z0-9-]*' | sort -u | "
                          "while read o; do printf '%%s\\n' \"$page\" | grep -q -- \"$o\" || "
                          "echo \"$o\"; done",
                          PK_SOURCE_DIR, pages[i][0], PORTKIT, pages[i][1]),
                    0);
                cr_assert_str_eq(missing, "", "%s lacks: %s", pages[i][0], missing);
                free(missing);
        }
}

/* The bash completion offers subcommands, options and values. */
Test(cli_help, bash_completion)
{
        char *out;
        cr_assert_eq(
            tu_sh(&out,
                  "bash -c 'source %s/completions/portkit.bash; "
                  "COMP_WORDS=(portkit r); COMP_CWORD=1; _portkit; echo ${COMPREPLY[*]}; "
                  "COMP_WORDS=(portkit run --time); COMP_CWORD=2; _portkit; "
                  "echo ${COMPREPLY[*]}; "
                  "COMP_WORDS=(portkit etf de); COMP_CWORD=2; _portkit; echo ${COMPREPLY[*]}; "
                  "COMP_WORDS=(portkit call --format "
                  "); COMP_CWORD=3; _portkit; "
                  "echo ${COMPREPLY[*]}'",
                  PK_SOURCE_DIR),
            0);
        cr_assert_str_eq(out, "run\n--timeout\ndecode\nw p\n");
        free(out);
}
