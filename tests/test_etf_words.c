/* SPDX-License-Identifier: MIT */
/* The printer and the parser share one table of reserved words and atom
 * characters: every reserved word (erl_scan:reserved_word/1 on OTP 25,
 * 'fun' included) is printed quoted and refused bare, and the words OTP 25
 * does not reserve ('maybe', 'else') go both ways unquoted. */
#include <portkit/etf.h>

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const reserved[] = {
    "after", "and",  "andalso", "band",   "begin",   "bnot", "bor", "bsl",  "bsr",
    "bxor",  "case", "catch",   "cond",   "div",     "end",  "fun", "if",   "let",
    "not",   "of",   "or",      "orelse", "receive", "rem",  "try", "when", "xor"};

static int parse(pk_arena *a, const char *text, struct pk_term **t, struct pk_etf_text_error *e)
{
        return pk_etf_parse(a, text, strlen(text), NULL, t, NULL, e);
}

Test(etf_words, reserved_words_quoted_and_refused_bare)
{
        pk_arena *a = pk_arena_new(0);
        for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
                const char *wd = reserved[i];
                char text[64], want[64];
                struct pk_term *t = NULL;
                struct pk_etf_text_error e = {0};
                snprintf(text, sizeof(text), "'%s'.", wd);
                cr_assert_eq(parse(a, text, &t, &e), 1, "%s: %s", text, e.message);
                cr_assert_eq(t->type, PK_TERM_ATOM);
                char *s;
                cr_assert_eq(pk_etf_print_w(t, &s, NULL), 0);
                snprintf(want, sizeof(want), "'%s'", wd);
                cr_assert_str_eq(s, want);
                free(s);
                snprintf(text, sizeof(text), "%s.", wd);
                e = (struct pk_etf_text_error){0};
                cr_assert_eq(parse(a, text, &t, &e), PK_ESYNTAX, "%s parsed bare", wd);
                /* In a container too. */
                snprintf(text, sizeof(text), "[%s].", wd);
                cr_assert_eq(parse(a, text, &t, NULL), PK_ESYNTAX, "[%s] parsed", wd);
        }
        pk_arena_free(a);
}

Test(etf_words, feature_words_are_plain_atoms_on_otp25)
{
        pk_arena *a = pk_arena_new(0);
        static const char *const words[] = {"maybe", "else", "spec", "funny", "ender"};
        for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
                char text[32];
                struct pk_term *t = NULL;
                snprintf(text, sizeof(text), "%s.", words[i]);
                cr_assert_eq(parse(a, text, &t, NULL), 1, "%s", words[i]);
                char *s;
                cr_assert_eq(pk_etf_print_w(t, &s, NULL), 0);
                cr_assert_str_eq(s, words[i]);
                free(s);
        }
        pk_arena_free(a);
}

Test(etf_words, bare_fun_starts_an_export)
{
        pk_arena *a = pk_arena_new(0);
        struct pk_term *t = NULL;
        cr_assert_eq(parse(a, "fun lists:map/2.", &t, NULL), 1);
        cr_assert_eq(t->type, PK_TERM_EXPORT);
        struct pk_etf_text_error e = {0};
        cr_assert_eq(parse(a, "fun.", &t, &e), PK_ESYNTAX);
        cr_assert(strstr(e.message, "fun"), "%s", e.message);
        pk_arena_free(a);
}

Test(etf_words, latin1_letters_as_erl_scan)
{
        /* A Latin-1 lower-case start (ß, à) needs no quotes; an upper-case
         * one (À) or × / ÷ does. */
        pk_arena *a = pk_arena_new(0);
        struct {
                const char *in, *out;
        } cases[] = {{"'\xc3\x9f"
                      "a'.",
                      "\xc3\x9f"
                      "a"},
                     {"'\xc3\xa0"
                      "b@c'.",
                      "\xc3\xa0"
                      "b@c"},
                     {"'\xc3\x80"
                      "b'.",
                      "'\xc3\x80"
                      "b'"},
                     {"'a\xc3\x97'.", "'a\xc3\x97'"},
                     {"'a\xc3\xb7'.", "'a\xc3\xb7'"},
                     {"'a\xc3\x9e"
                      "x'.",
                      "a\xc3\x9e"
                      "x"}};
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct pk_term *t = NULL;
                cr_assert_eq(parse(a, cases[i].in, &t, NULL), 1, "%s", cases[i].in);
                char *s;
                cr_assert_eq(pk_etf_print_w(t, &s, NULL), 0);
                cr_assert_str_eq(s, cases[i].out);
                free(s);
                /* What prints bare parses bare back to the same atom. */
                if (cases[i].out[0] != '\'') {
                        char text[32];
                        struct pk_term *u = NULL;
                        snprintf(text, sizeof(text), "%s.", cases[i].out);
                        cr_assert_eq(parse(a, text, &u, NULL), 1, "%s", text);
                        cr_assert_eq(pk_term_compare(t, u, 1), 0);
                }
        }
        pk_arena_free(a);
}
