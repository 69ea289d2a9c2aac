/* SPDX-License-Identifier: MIT */
/* Tests for the text half of the etf layer: the term literal parser, the
 * ~w and ~p printers (against a real erl, run at test time), and the
 * pack/unpack patterns. */
#include <portkit/etf.h>

#include "testutil.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CORPUS PK_SOURCE_DIR "/tests/interop/etf_text_corpus.txt"
#define ESCRIPT PK_SOURCE_DIR "/tests/interop/etf_print.escript"

static void run(const char *cmd)
{
        int st = system(cmd);
        cr_assert_eq(st, 0, "command failed: %s", cmd);
}

/* Parses one term (with its final '.') or fails the test. */
static struct pk_term *parse1(pk_arena *a, const char *text)
{
        struct pk_term *t = NULL;
        struct pk_etf_text_error e = {0};
        int r = pk_etf_parse(a, text, strlen(text), NULL, &t, NULL, &e);
        cr_assert_eq(r, 1, "parse '%s': %d %s at %u:%u", text, r, e.message, e.line, e.column);
        return t;
}

static char *w(const struct pk_term *t)
{
        char *s;
        cr_assert_eq(pk_etf_print_w(t, &s, NULL), 0);
        return s;
}

static char *p(const struct pk_term *t)
{
        char *s;
        cr_assert_eq(pk_etf_print_p(t, NULL, &s, NULL), 0);
        return s;
}

static void expect_w(const char *text, const char *want)
{
        pk_arena *a = pk_arena_new(0);
        char *s = w(parse1(a, text));
        cr_expect_str_eq(s, want, "~w of %s", text);
        free(s);
        pk_arena_free(a);
}

/* Escapes as the reference escript does: \\ and \n. */
static void escape_into(char *dst, const char *s)
{
        for (; *s; s++) {
                if (*s == '\\') {
                        *dst++ = '\\';
                        *dst++ = '\\';
                } else if (*s == '\n') {
                        *dst++ = '\\';
                        *dst++ = 'n';
                } else {
                        *dst++ = *s;
                }
        }
        *dst = '\0';
}

Test(etf_text, corpus_matches_erl_w_and_p)
{
        char out[] = "/tmp/pk_etf_text_XXXXXX";
        int fd = mkstemp(out);
        cr_assert_geq(fd, 0);
        close(fd);
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "escript %s %s %s", ESCRIPT, CORPUS, out);
        run(cmd);
        size_t tlen, elen;
        char *text = tu_slurp(CORPUS, &tlen);
        char *ref = tu_slurp(out, &elen);
        unlink(out);
        pk_arena *a = pk_arena_new(0);
        size_t off = 0;
        char *line = ref;
        int count = 0;
        for (;;) {
                struct pk_term *t;
                size_t used;
                struct pk_etf_text_error e = {0};
                int r = pk_etf_parse(a, text + off, tlen - off, NULL, &t, &used, &e);
                cr_assert_geq(r, 0, "corpus parse: %s at %u:%u", e.message, e.line, e.column);
                if (r == 0)
                        break;
                off += used;
                char *nl = strchr(line, '\n');
                cr_assert_not_null(nl, "erl gave fewer lines than terms");
                *nl = '\0';
                char *tab = strchr(line, '\t');
                cr_assert_not_null(tab);
                *tab = '\0';
                char *sw = w(t), *sp = p(t);
                char *ew = malloc(2 * strlen(sw) + 1), *ep = malloc(2 * strlen(sp) + 1);
                escape_into(ew, sw);
                escape_into(ep, sp);
                cr_expect_str_eq(ew, line, "~w of term %d", count);
                cr_expect_str_eq(ep, tab + 1, "~p of term %d", count);
                /* Round trip: our ~w text parses back to an equal term. */
                char *dotted = malloc(strlen(sw) + 2);
                strcat(strcpy(dotted, sw), ".");
                struct pk_term *back = parse1(a, dotted);
                free(dotted);
                cr_expect_eq(pk_term_compare(t, back, 1), 0, "round trip of %s", sw);
                free(sw);
                free(sp);
                free(ew);
                free(ep);
                line = nl + 1;
                count++;
        }
        cr_expect_eq(*line, '\0', "erl gave more lines than terms");
        cr_expect_gt(count, 40);
        pk_arena_free(a);
        free(text);
        free(ref);
}

Test(etf_text, floats_match_erl)
{
        char out[] = "/tmp/pk_etf_floats_XXXXXX";
        int fd = mkstemp(out);
        cr_assert_geq(fd, 0);
        close(fd);
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "escript %s floats 20000 42 %s", ESCRIPT, out);
        run(cmd);
        size_t len;
        char *text = tu_slurp(out, &len);
        unlink(out);
        pk_arena *a = pk_arena_new(0);
        size_t off = 0;
        int n = 0;
        while (off < len) {
                char *nl = strchr(text + off, '\n');
                cr_assert_not_null(nl);
                struct pk_term *t;
                size_t used;
                int r = pk_etf_parse(a, text + off, (size_t)(nl + 1 - (text + off)), NULL, &t,
                                     &used, NULL);
                cr_assert_eq(r, 1);
                cr_assert_eq(t->type, PK_TERM_FLOAT);
                char *s = w(t);
                nl[-1] = '\0'; /* drop the '.' */
                cr_expect_str_eq(s, text + off, "float %d", n);
                free(s);
                off = (size_t)(nl + 1 - text);
                n++;
                pk_arena_reset(a);
        }
        cr_expect_eq(n, 20000);
        pk_arena_free(a);
        free(text);
}

Test(etf_text, literals)
{
        expect_w("16#ff.", "255");
        expect_w("2#101.", "5");
        expect_w("36#zz.", "1295");
        expect_w("1_000_000.", "1000000");
        expect_w("-16#FF.", "-255");
        expect_w("$a.", "97");
        expect_w("$\\n.", "10");
        expect_w("$\\x{41}.", "65");
        expect_w("$\\\\.", "92");
        expect_w("$\\s.", "32");
        expect_w("$\\^A.", "1");
        expect_w("$\\^?.", "31");
        expect_w("$\\101.", "65");
        expect_w("$é.", "233");
        expect_w("-9223372036854775808.", "-9223372036854775808");
        expect_w("9223372036854775808.", "9223372036854775808");
        expect_w("-0.0.", "-0.0");
        expect_w("2.5E-3.", "0.0025");
        expect_w("1_0.5.", "10.5");
        expect_w("\"ab\" \"cd\"  % comment\n \"e\".", "[97,98,99,100,101]");
        expect_w("\"\".", "[]");
        expect_w("\"\\x{3E8}a\".", "[1000,97]");
        expect_w("'hello world'.", "'hello world'");
        expect_w("'\\x{3E8}'.", "'\\x{3E8}'");
        expect_w("[1,2|[3|[]]].", "[1,2,3]");
        expect_w("[1|\"ab\"].", "[1,97,98]");
        expect_w("[a|b].", "[a|b]");
        expect_w("#{a => 1, a => 2}.", "#{a => 2}");
        expect_w("#{}.", "#{}");
        expect_w("<<\"ab\">>.", "<<97,98>>");
        expect_w("<<1,2:4>>.", "<<1,2:4>>");
        expect_w("<<\"é\"/utf8>>.", "<<195,169>>");
        expect_w("<<-1>>.", "<<255>>");
        expect_w("<<256:16,1:1>>.", "<<1,0,1:1>>");
        expect_w("<<1:16/little>>.", "<<1,0>>");
        expect_w("<<1.5/float>>.", "<<63,248,0,0,0,0,0,0>>");
        expect_w("<<\"ab\":16>>.", "<<0,97,0,98>>");
        expect_w("<<>>.", "<<>>");
        expect_w("fun lists:map/2.", "fun lists:map/2");
        expect_w("fun 'A':'b c'/0.", "fun 'A':'b c'/0");
        expect_w("<0.80.0>.", "<0.80.0>");
        expect_w("#Ref<0.1.2.3>.", "#Ref<0.1.2.3>");
        expect_w("#Port<0.5>.", "#Port<0.5>");
        expect_w("#Pid<'a@b.c'.5.6.7>.", "#Pid<'a@b.c'.5.6.7>");
        expect_w("#Ref<a@b.9.1.2>.", "#Ref<a@b.9.1.2>");
        expect_w("#Port<a@b.5.9>.", "#Port<a@b.5.9>");
        expect_w("{}.", "{}");
        expect_w("{ok, [1.0e10, 'Foo']}.", "{ok,[1.0e10,'Foo']}");
        expect_w("'fun'.", "'fun'");
        expect_w("#{1.5 => a, 42 => b}.", "#{42 => b,1.5 => a}");
}

Test(etf_text, string_kinds)
{
        pk_arena *a = pk_arena_new(0);
        struct pk_term *t = parse1(a, "\"aé\".");
        cr_assert_eq(t->type, PK_TERM_STRING);
        cr_assert_eq(t->v.string.len, 2);
        cr_assert_eq(t->v.string.bytes[1], 233);
        t = parse1(a, "\"a\\x{100}\".");
        cr_assert_eq(t->type, PK_TERM_LIST);
        cr_assert_eq(t->v.list.elems[1].v.i, 256);
        pk_arena_free(a);
}

Test(etf_text, several_terms_and_used)
{
        const char *text = "a. %c\n{b}.\n\t[c]. % trailing\n";
        pk_arena *a = pk_arena_new(0);
        size_t off = 0, len = strlen(text);
        const char *want[] = {"a", "{b}", "[c]"};
        for (int i = 0; i < 3; i++) {
                struct pk_term *t;
                size_t used;
                cr_assert_eq(pk_etf_parse(a, text + off, len - off, NULL, &t, &used, NULL), 1);
                char *s = w(t);
                cr_expect_str_eq(s, want[i]);
                free(s);
                off += used;
        }
        struct pk_term *t = (struct pk_term *)1;
        size_t used = 0;
        cr_assert_eq(pk_etf_parse(a, text + off, len - off, NULL, &t, &used, NULL), 0);
        cr_expect_null(t);
        cr_expect_eq(used, len - off);
        /* A final term at EOF needs no blank after its dot. */
        cr_assert_eq(pk_etf_parse(a, "x.", 2, NULL, &t, &used, NULL), 1);
        cr_expect_eq(used, 2);
        pk_arena_free(a);
}

struct bad {
        const char *text;
        int code;
        uint32_t line, column;
        const char *msg; /* substring of the message */
};

Test(etf_text, error_paths)
{
        static const struct bad cases[] = {
            {"{a, b.", PK_ESYNTAX, 1, 6, "expected ',' or '}'"},
            {"[a b].", PK_ESYNTAX, 1, 4, "expected ','"},
            {"\n  X.", PK_ESYNTAX, 2, 3, "variable"},
            {"end.", PK_ESYNTAX, 1, 1, "reserved word"},
            {"a", PK_ESYNTAX, 1, 2, "missing '.'"},
            {"a b.", PK_ESYNTAX, 1, 3, "expected '.'"},
            {"\"abc.", PK_ESYNTAX, 1, 1, "unterminated string"},
            {"'abc.", PK_ESYNTAX, 1, 1, "unterminated quoted atom"},
            {"37#1.", PK_ESYNTAX, 1, 1, "base"},
            {"16#.", PK_ESYNTAX, 1, 1, "no digits"},
            {"2#102.", PK_ESYNTAX, 1, 5, "bad digit"},
            {"1.0e999.", PK_ESYNTAX, 1, 1, "out of range"},
            {"1..", PK_ESYNTAX, 1, 2, "unexpected '.'"},
            {"#{a}.", PK_ESYNTAX, 1, 4, "'=>'"},
            {"[a|b|c].", PK_ESYNTAX, 1, 5, "expected ']'"},
            {"<<a>>.", PK_ESYNTAX, 1, 3, "binary segment"},
            {"<<1/foo>>.", PK_ESYNTAX, 1, 5, "type specifier"},
            {"<<1:4/little>>.", PK_ESYNTAX, 1, 3, "whole bytes"},
            {"<<\"a\"/binary>>.", PK_ESYNTAX, 1, 3, "/binary segment"},
            {"<<1/utf8-little:8>>.", PK_ESYNTAX, 1, 16, "expected ',' or '>>'"},
            {"- a.", PK_ESYNTAX, 1, 3, "followed by a number"},
            {"<1.2.3>.", PK_ESYNTAX, 1, 1, "another node"},
            {"#Fun<a.1.2>.", PK_ESYNTAX, 1, 1, "local funs"},
            {"#Ref<0>.", PK_ESYNTAX, 1, 1, "at least one word"},
            {"#Ref<0.1.2.3.4.5.6>.", PK_ESYNTAX, 1, 1, "at most 5"},
            {"fun m:f/256.", PK_ESYNTAX, 1, 9, "arity"},
            {"fun m/1.", PK_ESYNTAX, 1, 6, "':'"},
            {"$\\x{110000}.", PK_ESYNTAX, 1, 2, "10FFFF"},
            {"\"\\x4\".", PK_ESYNTAX, 1, 2, "two hex"},
            {"\xff.", PK_ESYNTAX, 1, 1, "UTF-8"},
            {"~i.", PK_ESYNTAX, 1, 1, "'~'"},
            {"_.", PK_ESYNTAX, 1, 1, "variable"},
            {"=.", PK_ESYNTAX, 1, 1, "'='"},
            {"{a}\n  }.", PK_ESYNTAX, 2, 3, "expected '.'"},
            {"'\\x{3E8}\\x{3E8}\\x{3E8}\\x{3E8}\\x{3E8}\\x{3E8}\\x{3E8}\\x{3E8}\\x{3E8}\\x{3E8}"
             "\\x{3E8}\\x{3E8}\\x{3E8}\\x{3E8}\\x{3E8}\\x{3E8}\\x{3E8}\\x{3E8}\\x{3E8}\\x{3E8}"
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'.",
             PK_EATOMLEN, 1, 1, "255"},
        };
        pk_arena *a = pk_arena_new(0);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                const struct bad *c = &cases[i];
                struct pk_term *t = (struct pk_term *)1;
                struct pk_etf_text_error e = {0};
                int r = pk_etf_parse(a, c->text, strlen(c->text), NULL, &t, NULL, &e);
                cr_expect_eq(r, c->code, "'%s': got %d (%s)", c->text, r, e.message);
                cr_expect_eq(e.line, c->line, "'%s': line %u", c->text, e.line);
                cr_expect_eq(e.column, c->column, "'%s': column %u (%s)", c->text, e.column,
                             e.message);
                cr_expect_not_null(strstr(e.message, c->msg), "'%s': message '%s'", c->text,
                                   e.message);
                cr_expect_eq(t, (struct pk_term *)1, "ret_term written on failure");
        }
        /* Arguments. */
        struct pk_term *t;
        cr_expect_eq(pk_etf_parse(NULL, "a.", 2, NULL, &t, NULL, NULL), -EINVAL);
        cr_expect_eq(pk_etf_parse(a, NULL, 2, NULL, &t, NULL, NULL), -EINVAL);
        cr_expect_eq(pk_etf_parse(a, "a.", 2, NULL, NULL, NULL, NULL), -EINVAL);
        /* NO_DOT: exactly one term. */
        struct pk_etf_parse_opts o = {.flags = PK_ETF_PARSE_NO_DOT};
        cr_expect_eq(pk_etf_parse(a, "{a} % c", 7, &o, &t, NULL, NULL), 1);
        cr_expect_eq(pk_etf_parse(a, "{a}.", 4, &o, &t, NULL, NULL), PK_ESYNTAX);
        cr_expect_eq(pk_etf_parse(a, "  ", 2, &o, &t, NULL, NULL), PK_ESYNTAX);
        pk_arena_free(a);
}

Test(etf_text, limits)
{
        pk_arena *a = pk_arena_new(0);
        struct pk_term *t;
        struct pk_etf_text_error e = {0};
        /* Integer digits. */
        struct pk_etf_parse_opts o = {.max_int_digits = 20};
        cr_expect_eq(pk_etf_parse(a, "123456789012345678901.", 22, &o, &t, NULL, &e), PK_EBIGNUM);
        cr_expect_eq(pk_etf_parse(a, "12345678901234567890.", 21, &o, &t, NULL, &e), 1);
        /* Binary size. */
        struct pk_etf_parse_opts ob = {.max_binary = 4};
        cr_expect_eq(pk_etf_parse(a, "<<1,2,3,4,5>>.", 14, &ob, &t, NULL, &e), PK_ETERMSIZE);
        cr_expect_eq(pk_etf_parse(a, "<<0:100000000000>>.", 19, &ob, &t, NULL, &e), PK_ESYNTAX);
        /* Arena cap. */
        pk_arena *small = pk_arena_new(256);
        const char *big = "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20].";
        cr_expect_eq(pk_etf_parse(small, big, strlen(big), NULL, &t, NULL, &e), PK_ETERMSIZE);
        pk_arena_free(small);
        /* A big integer converts exactly. */
        const char *b = "-16#123456789abcdef0123456789abcdef.";
        t = parse1(a, b);
        cr_assert_eq(t->type, PK_TERM_BIG);
        char *s = w(t);
        cr_expect_str_eq(s, "-1512366075204170929049582354406559215");
        free(s);
        pk_arena_free(a);
}

Test(etf_text, deep_nesting_does_not_crash)
{
        size_t n = 1000000;
        char *text = malloc(2 * n + 2);
        memset(text, '[', n);
        memset(text + n, ']', n);
        text[2 * n] = '.';
        pk_arena *a = pk_arena_new(0);
        struct pk_term *t;
        struct pk_etf_text_error e = {0};
        cr_expect_eq(pk_etf_parse(a, text, 2 * n + 1, NULL, &t, NULL, &e), PK_EDEPTH);
        cr_expect_eq(e.column, 1001);
        /* With the limit raised, the same input parses iteratively, and ~w
         * writes it without recursion. */
        struct pk_etf_parse_opts o = {.max_depth = 2000000};
        cr_assert_eq(pk_etf_parse(a, text, 2 * n + 1, &o, &t, NULL, &e), 1);
        char *s;
        size_t len;
        cr_assert_eq(pk_etf_print_w(t, &s, &len), 0);
        cr_expect_eq(len, 2 * n);
        text[2 * n] = '\0';
        cr_expect_eq(memcmp(s, text, 2 * n), 0);
        free(s);
        /* ~p refuses past its depth limit instead of overflowing the stack. */
        cr_expect_eq(pk_etf_print_p(t, NULL, &s, NULL), PK_EDEPTH);
        pk_arena_free(a);
        free(text);
}

Test(etf_text, print_p_options)
{
        pk_arena *a = pk_arena_new(0);
        struct pk_term *t = parse1(a, "{ok, [aaaa, bbbb, cccc]}.");
        struct pk_etf_print_opts o = {.line_length = 12};
        char *s;
        cr_assert_eq(pk_etf_print_p(t, &o, &s, NULL), 0);
        cr_expect_str_eq(s, "{ok,[aaaa,\n     bbbb,\n     cccc]}");
        free(s);
        cr_expect_eq(pk_etf_print_p(NULL, NULL, &s, NULL), -EINVAL);
        cr_expect_eq(pk_etf_print_w(t, NULL, NULL), -EINVAL);
        pk_arena_free(a);
}

/* A bignum of no digits breaks the canonical form the header asks for, but
 * a caller can build one; the printers must not read outside their buffers
 * (they read groups[-1] before), and print its value, 0. */
Test(etf_text, print_big_without_digits)
{
        struct pk_term t = {.type = PK_TERM_BIG};
        t.v.big.digits = (const uint8_t *)"";
        t.v.big.len = 0;
        char *s = w(&t);
        cr_expect_str_eq(s, "0");
        free(s);
        s = p(&t);
        cr_expect_str_eq(s, "0");
        free(s);
}

Test(etf_text, pack)
{
        pk_arena *a = pk_arena_new(0);
        struct pk_term *t, *inner = parse1(a, "[x|y].");
        uint8_t bin[] = {1, 2, 3};
        int r = pk_etf_pack(a, &t, "{ok, ~i, ~u, ~f, ~a, ~s, ~b, ~t, #{k => ~i}, [\"lit\" | ~a]}",
                            (int64_t)-7, (uint64_t)UINT64_MAX, 1.5, "Atom", "str", bin, sizeof(bin),
                            inner, (int64_t)1, "tail");
        cr_assert_eq(r, 0);
        char *s = w(t);
        cr_expect_str_eq(s, "{ok,-7,18446744073709551615,1.5,'Atom',[115,116,114],<<1,2,3>>,[x|y],"
                            "#{k => 1},[[108,105,116]|tail]}");
        free(s);
        cr_expect_eq(pk_etf_pack(a, &t, "{~q}", 1), PK_EPATTERN);
        cr_expect_eq(pk_etf_pack(a, &t, "{~i", (int64_t)1), PK_EPATTERN);
        cr_expect_eq(pk_etf_pack(a, &t, "~f", 1.0 / 0.0), PK_EBADFLOAT);
        cr_expect_eq(pk_etf_pack(a, &t, "~a", (const char *)NULL), -EINVAL);
        cr_expect_eq(pk_etf_pack(a, &t, "~t", (const struct pk_term *)NULL), -EINVAL);
        cr_expect_eq(pk_etf_pack(NULL, &t, "a"), -EINVAL);
        pk_arena_free(a);
}

Test(etf_text, unpack)
{
        pk_arena *a = pk_arena_new(0);
        struct pk_term *t = parse1(
            a, "{add, 1, -2, 3.5, 'Name', \"bytes\", <<9,8>>, {any}, #{k => 7, z => 0}, [1,2|x]}.");
        int64_t x = 0, y = 0, k = 0;
        double f = 0;
        const char *name;
        size_t nlen, slen, blen;
        const uint8_t *str, *bin;
        const struct pk_term *any, *tail;
        int r = pk_etf_unpack(t, "{add, ~i, ~i, ~f, ~a, ~s, ~b, ~t, #{k => ~i}, [_, 2 | ~t]}", &x,
                              &y, &f, &name, &nlen, &str, &slen, &bin, &blen, &any, &k, &tail);
        cr_assert_eq(r, 0);
        cr_expect_eq(x, 1);
        cr_expect_eq(y, -2);
        cr_expect_eq(f, 3.5);
        cr_expect_eq(nlen, 4);
        cr_expect_eq(memcmp(name, "Name", 4), 0);
        cr_expect_eq(slen, 5);
        cr_expect_eq(memcmp(str, "bytes", 5), 0);
        cr_expect_eq(blen, 2);
        cr_expect_eq(bin[0], 9);
        cr_expect_eq(any->type, PK_TERM_TUPLE);
        cr_expect_eq(k, 7);
        cr_expect_eq(tail->type, PK_TERM_ATOM);

        /* No match: nothing is written. */
        x = 99;
        cr_expect_eq(pk_etf_unpack(t, "{sub, ~i, _, _, _, _, _, _, _, _}", &x), PK_ENOMATCH);
        cr_expect_eq(pk_etf_unpack(t, "{add, ~i}", &x), PK_ENOMATCH);
        cr_expect_eq(x, 99);
        struct pk_term *u = parse1(a, "{1.0, [a], #{}}.");
        cr_expect_eq(pk_etf_unpack(u, "{~i, _, _}", &x), PK_ENOMATCH);
        cr_expect_eq(pk_etf_unpack(u, "{1, _, _}"), PK_ENOMATCH); /* =:= literals */
        cr_expect_eq(pk_etf_unpack(u, "{_, [a, b], _}"), PK_ENOMATCH);
        cr_expect_eq(pk_etf_unpack(u, "{_, [], _}"), PK_ENOMATCH);
        cr_expect_eq(pk_etf_unpack(u, "{_, _, #{a => _}}"), PK_ENOMATCH);
        cr_expect_eq(pk_etf_unpack(u, "{_, \"a\", _}"), PK_ENOMATCH);
        cr_expect_eq(pk_etf_unpack(u, "{_, ~s, _}", &str, &slen), PK_ENOMATCH);
        cr_expect_eq(pk_etf_unpack(u, "{~_, [a], #{}}"), 0);

        /* Ranges. */
        struct pk_term *big = parse1(a, "{18446744073709551615, -1, 18446744073709551616}.");
        uint64_t uv = 0;
        cr_expect_eq(pk_etf_unpack(big, "{~i, _, _}", &x), PK_ERANGE_INT);
        cr_expect_eq(pk_etf_unpack(big, "{~u, _, _}", &uv), 0);
        cr_expect_eq(uv, UINT64_MAX);
        cr_expect_eq(pk_etf_unpack(big, "{_, ~u, _}", &uv), PK_ERANGE_INT);
        cr_expect_eq(pk_etf_unpack(big, "{_, _, ~u}", &uv), PK_ERANGE_INT);

        /* Malformed patterns and arguments. */
        cr_expect_eq(pk_etf_unpack(t, "{add, ~q}", &x), PK_EPATTERN);
        cr_expect_eq(pk_etf_unpack(t, "{add,", &x), PK_EPATTERN);
        cr_expect_eq(pk_etf_unpack(u, "{_, _, #{~i => 1}}", &x), PK_EPATTERN);
        cr_expect_eq(pk_etf_unpack(t, "{add, ~i}", (int64_t *)NULL), -EINVAL);
        cr_expect_eq(pk_etf_unpack(NULL, "_"), -EINVAL);
        /* A string term matches a literal list of its bytes and vice versa. */
        struct pk_term *s1 = parse1(a, "\"ab\".");
        cr_expect_eq(pk_etf_unpack(s1, "[$a, ~i]", &x), 0);
        cr_expect_eq(x, 'b');
        pk_arena_free(a);
}

/* 1000 seeded random terms from erl: our parse of Erlang's ~w text prints
 * back exactly Erlang's ~w and ~p. */
Test(etf_text, random_terms_match_erl)
{
        char out[] = "/tmp/pk_etf_random_XXXXXX";
        int fd = mkstemp(out);
        cr_assert_geq(fd, 0);
        close(fd);
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "escript %s random 1000 7 %s", ESCRIPT, out);
        run(cmd);
        size_t len;
        char *ref = tu_slurp(out, &len);
        unlink(out);
        pk_arena *a = pk_arena_new(0);
        char *line = ref;
        int n = 0;
        while (*line) {
                char *nl = strchr(line, '\n');
                cr_assert_not_null(nl);
                *nl = '\0';
                char *tab = strchr(line, '\t');
                cr_assert_not_null(tab);
                *tab = '\0';
                /* Unescape ~w into Erlang text and parse it. */
                size_t wl = strlen(line);
                char *text = malloc(wl + 2);
                size_t k = 0;
                for (size_t i = 0; i < wl; i++) {
                        if (line[i] == '\\' && i + 1 < wl &&
                            (line[i + 1] == '\\' || line[i + 1] == 'n')) {
                                text[k++] = line[i + 1] == 'n' ? '\n' : '\\';
                                i++;
                        } else {
                                text[k++] = line[i];
                        }
                }
                text[k++] = '.';
                struct pk_term *t;
                struct pk_etf_text_error e = {0};
                int r = pk_etf_parse(a, text, k, NULL, &t, NULL, &e);
                cr_assert_eq(r, 1, "term %d: %s", n, e.message);
                char *sw = w(t), *sp = p(t);
                char *ew = malloc(2 * strlen(sw) + 1), *ep = malloc(2 * strlen(sp) + 1);
                escape_into(ew, sw);
                escape_into(ep, sp);
                cr_expect_str_eq(ew, line, "~w of random term %d", n);
                cr_expect_str_eq(ep, tab + 1, "~p of random term %d", n);
                free(sw);
                free(sp);
                free(ew);
                free(ep);
                free(text);
                pk_arena_reset(a);
                line = nl + 1;
                n++;
        }
        cr_expect_eq(n, 1000);
        pk_arena_free(a);
        free(ref);
}

/* ---- the cross-check with a real VM (needs the codec) ---- */

#define CROSSCHECK PK_SOURCE_DIR "/tests/interop/etf_crosscheck.escript"
#define CROSSCHECK_TERMS "10000"

/* Decodes an Erlang encoding and prints it as ~w (or ~p). */
static bool decoded_prints(pk_arena *a, struct tu_field b, struct tu_field want, bool pretty)
{
        struct pk_term *t;
        if (pk_etf_decode(a, b.p, b.n, NULL, &t, NULL, NULL) != 0)
                return false;
        char *s;
        size_t len;
        if ((pretty ? pk_etf_print_p(t, NULL, &s, &len) : pk_etf_print_w(t, &s, &len)) != 0)
                return false;
        bool ok = len == want.n && memcmp(s, want.p, len) == 0;
        free(s);
        return ok;
}

/* >= 10,000 seeded random terms generated by erl: our ~w/~p of Erlang's
 * encodings equal Erlang's text, our encodings of the parsed text equal
 * term_to_binary byte for byte (minor versions 1 and 2, and compressed), and
 * erl reads our encodings back as the same terms. */
Test(etf_text, crosscheck_with_erl)
{
        char gen[] = "/tmp/pk_etf_cc_gen_XXXXXX", ours[] = "/tmp/pk_etf_cc_ours_XXXXXX";
        int fd = mkstemp(gen);
        cr_assert_geq(fd, 0);
        close(fd);
        fd = mkstemp(ours);
        cr_assert_geq(fd, 0);
        close(fd);
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), "escript %s gen %s 2026 %s", CROSSCHECK, CROSSCHECK_TERMS, gen);
        run(cmd);
        size_t len;
        uint8_t *data = (uint8_t *)tu_slurp(gen, &len);
        FILE *out = fopen(ours, "wb");
        cr_assert_not_null(out);
        struct tu_tally tw = {.what = "~w of term_to_binary(T)"},
                        tp = {.what = "~p of term_to_binary(T)"},
                        tw2 = {.what = "~w of minor_version 2"}, twc = {.what = "~w of compressed"},
                        tparse = {.what = "parse of Erlang's ~w"},
                        te1 = {.what = "encoding, minor_version 1"},
                        te2 = {.what = "encoding, minor_version 2"},
                        tec = {.what = "encoding, compressed"};
        struct tu_tally *all[] = {&tw, &tp, &tw2, &twc, &tparse, &te1, &te2, &tec};
        pk_arena *a = pk_arena_new(0);
        struct pk_etf_buf buf;
        pk_etf_buf_init(&buf, 0);
        const uint8_t *p = data, *end = data + len;
        unsigned n = 0;
        while (p < end) {
                struct tu_field w, b1, b2, bc, pp;
                p = tu_next_field(p, end, &w);
                p = tu_next_field(p, end, &b1);
                p = tu_next_field(p, end, &b2);
                p = tu_next_field(p, end, &bc);
                p = tu_next_field(p, end, &pp);
                tu_count(&tw, decoded_prints(a, b1, w, false), n);
                tu_count(&tp, decoded_prints(a, b1, pp, true), n);
                tu_count(&tw2, decoded_prints(a, b2, w, false), n);
                tu_count(&twc, decoded_prints(a, bc, w, false), n);
                char *text = malloc(w.n + 2);
                memcpy(text, w.p, w.n);
                text[w.n] = '.';
                struct pk_term *t = NULL;
                struct pk_etf_text_error e = {0};
                struct pk_etf_parse_opts po = {.max_depth = 100000};
                bool parsed = pk_etf_parse(a, text, w.n + 1, &po, &t, NULL, &e) == 1;
                tu_count(&tparse, parsed, n);
                free(text);
                const struct tu_field bs[3] = {b1, b2, bc};
                const struct pk_etf_encode_opts eo[3] = {{1, 0, 0, 0}, {2, 0, 0, 0}, {1, 6, 0, 0}};
                struct tu_tally *te[3] = {&te1, &te2, &tec};
                for (int k = 0; k < 3; k++) {
                        pk_etf_buf_reset(&buf);
                        bool ok = parsed && pk_etf_encode(&buf, t, &eo[k]) == 0;
                        tu_count(te[k],
                                 ok && buf.len == bs[k].n && !memcmp(buf.data, bs[k].p, buf.len),
                                 n);
                        tu_put_field(out, buf.data, ok ? buf.len : 0);
                }
                pk_arena_reset(a);
                n++;
        }
        cr_assert_eq(fclose(out), 0);
        pk_etf_buf_free(&buf);
        pk_arena_free(a);
        free(data);
        cr_expect_geq(n, 10000);
        for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
                cr_expect_eq(all[i]->bad, 0, "%s: %u of %u terms differ (first: term %u)",
                             all[i]->what, all[i]->bad, n, all[i]->first);
        snprintf(cmd, sizeof(cmd), "escript %s verify %s %s", CROSSCHECK, gen, ours);
        int st = system(cmd);
        cr_expect_eq(st, 0, "erl does not read our encodings back as the same terms");
        unlink(gen);
        unlink(ours);
}

/* ---- portkit etf decode|encode ---- */

#define PORTKIT PK_BUILD_DIR "/portkit"

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
        char cmd[2048];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(cmd, sizeof(cmd), fmt, ap);
        va_end(ap);
        int st = system(cmd);
        cr_assert(WIFEXITED(st), "command died: %s", cmd);
        return WEXITSTATUS(st);
}

static bool same_file(const char *x, const char *y)
{
        size_t a, b;
        char *p = tu_slurp(x, &a), *q = tu_slurp(y, &b);
        bool same = a == b && memcmp(p, q, a) == 0;
        free(p);
        free(q);
        return same;
}

#define CLI_TERMS                                                                                  \
        "{ok, [1,2,3], <<\"abc\">>, #{a => 1.5, 42 => x}, \"str\", fun m:f/2}. "                   \
        "'é'. [a|b]. 1.0e10. -18446744073709551616. <<1,2:4>>. "                                  \
        "[\"a long repeated string\", \"a long repeated string\", \"a long repeated string\"]."

Test(etf_text, cli_encode_matches_term_to_binary)
{
        char dir[] = "/tmp/pk_etf_cli_XXXXXX";
        cr_assert_not_null(mkdtemp(dir));
        for (int mv = 0; mv <= 2; mv++) {
                cr_assert_eq(sh("printf '%%s' '" CLI_TERMS "' > %s/in.txt", dir), 0);
                cr_assert_eq(sh("erl -noshell -eval '{ok, Ts} = file:consult(\"%s/in.txt\"), "
                                "ok = file:write_file(\"%s/erl.bin\", [term_to_binary(T, "
                                "[{minor_version, %d}]) || T <- Ts]), "
                                "ok = file:write_file(\"%s/erlc.bin\", [term_to_binary(T, "
                                "[{minor_version, %d}, compressed]) || T <- Ts]), halt().'",
                                dir, dir, mv, dir, mv),
                             0);
                cr_assert_eq(sh("%s etf encode --minor-version %d < %s/in.txt > %s/ours.bin",
                                PORTKIT, mv, dir, dir),
                             0);
                char x[128], y[128];
                snprintf(x, sizeof(x), "%s/erl.bin", dir);
                snprintf(y, sizeof(y), "%s/ours.bin", dir);
                cr_expect(same_file(x, y), "minor version %d differs", mv);
                cr_assert_eq(sh("%s etf encode --compressed --minor-version=%d < %s/in.txt > "
                                "%s/ours.bin",
                                PORTKIT, mv, dir, dir),
                             0);
                snprintf(x, sizeof(x), "%s/erlc.bin", dir);
                cr_expect(same_file(x, y), "compressed, minor version %d differs", mv);
        }
        sh("rm -rf %s", dir);
}

Test(etf_text, cli_decode_prints_like_erl)
{
        char dir[] = "/tmp/pk_etf_cli_XXXXXX";
        cr_assert_not_null(mkdtemp(dir));
        cr_assert_eq(sh("printf '%%s' '" CLI_TERMS "' > %s/in.txt", dir), 0);
        cr_assert_eq(sh("erl -noshell -eval '{ok, Ts} = file:consult(\"%s/in.txt\"), "
                        "ok = file:write_file(\"%s/in.bin\", [term_to_binary(T, [compressed]) "
                        "|| T <- Ts]), "
                        "ok = file:write_file(\"%s/w.txt\", unicode:characters_to_binary("
                        "[io_lib:format(\"~w~n\", [T]) || T <- Ts])), "
                        "ok = file:write_file(\"%s/p.txt\", unicode:characters_to_binary("
                        "[io_lib:format(\"~p~n\", [T]) || T <- Ts])), halt().'",
                        dir, dir, dir, dir),
                     0);
        cr_assert_eq(sh("%s etf decode < %s/in.bin > %s/ours_w.txt", PORTKIT, dir, dir), 0);
        cr_assert_eq(sh("%s etf decode --format p < %s/in.bin > %s/ours_p.txt", PORTKIT, dir, dir),
                     0);
        cr_assert_eq(
            sh("%s etf decode --format=w < %s/in.bin | cmp -s - %s/w.txt", PORTKIT, dir, dir), 0);
        char x[128], y[128];
        snprintf(x, sizeof(x), "%s/w.txt", dir);
        snprintf(y, sizeof(y), "%s/ours_w.txt", dir);
        cr_expect(same_file(x, y), "~w output differs");
        snprintf(x, sizeof(x), "%s/p.txt", dir);
        snprintf(y, sizeof(y), "%s/ours_p.txt", dir);
        cr_expect(same_file(x, y), "~p output differs");
        /* Empty input: nothing, success. */
        cr_expect_eq(
            sh("%s etf decode < /dev/null > %s/empty && test ! -s %s/empty", PORTKIT, dir, dir), 0);
        sh("rm -rf %s", dir);
}

Test(etf_text, cli_bad_input)
{
        char dir[] = "/tmp/pk_etf_cli_XXXXXX";
        cr_assert_not_null(mkdtemp(dir));
        /* encode: the first term is written, the bad one is not; exit 1. */
        cr_expect_eq(
            sh("printf 'ok.\\n{a,\\n  b c}.\\nlast.\\n' | %s etf encode > %s/out 2> %s/err",
               PORTKIT, dir, dir),
            1);
        cr_expect_eq(sh("printf '\\203w\\002ok' | cmp -s - %s/out", dir), 0);
        cr_expect_eq(sh("grep -q 'line 3, column 5: expected' %s/err", dir), 0);
        /* decode: a good term, then a truncated one. */
        cr_expect_eq(sh("printf '\\203a\\001\\203m\\000\\000\\000\\011ab' | %s etf decode > %s/out "
                        "2> %s/err",
                        PORTKIT, dir, dir),
                     1);
        cr_expect_eq(sh("printf '1\\n' | cmp -s - %s/out", dir), 0);
        cr_expect_eq(sh("grep -q 'term 2 at byte offset 4: term truncated' %s/err", dir), 0);
        cr_expect_eq(sh("printf 'x' | %s etf decode > %s/out 2> %s/err", PORTKIT, dir, dir), 1);
        cr_expect_eq(
            sh("grep -q 'byte offset 0: term does not start with version byte' %s/err", dir), 0);
        /* A compressed term whose inflated size lies: the offset is named. */
        cr_expect_eq(
            sh("erl -noshell -eval '<<131,80,_:32,Z/binary>> = term_to_binary(lists:duplicate("
               "100, a), [compressed]), file:write_file(\"%s/lie.bin\", <<131,80,999:32,"
               "Z/binary>>), halt().' && %s etf decode < %s/lie.bin 2> %s/err",
               dir, PORTKIT, dir, dir),
            1);
        cr_expect_eq(sh("grep -q 'byte offset' %s/err", dir), 0);
        /* Usage errors. */
        cr_expect_eq(sh("%s etf < /dev/null 2>/dev/null", PORTKIT), 100);
        cr_expect_eq(sh("%s etf frob < /dev/null 2>/dev/null", PORTKIT), 100);
        cr_expect_eq(sh("%s etf decode --format x < /dev/null 2>/dev/null", PORTKIT), 100);
        cr_expect_eq(sh("%s etf encode --compressed=10 < /dev/null 2>/dev/null", PORTKIT), 100);
        cr_expect_eq(sh("%s etf encode --minor-version 3 < /dev/null 2>/dev/null", PORTKIT), 100);
        cr_expect_eq(sh("%s etf encode --bogus < /dev/null 2>/dev/null", PORTKIT), 100);
        cr_expect_eq(sh("%s etf --help | grep -q 'portkit etf decode'", PORTKIT), 0);
        sh("rm -rf %s", dir);
}

/* A local VM's own pid, ref and port: printed as erl prints them, and the
 * text encodes back to the same bytes. */
Test(etf_text, cli_pid_ref_port_like_erl)
{
        char dir[] = "/tmp/pk_etf_cli_XXXXXX";
        cr_assert_not_null(mkdtemp(dir));
        cr_assert_eq(sh("erl -noshell -eval 'T = {self(), make_ref(), hd(erlang:ports()), "
                        "[self()]}, ok = file:write_file(\"%s/in.bin\", term_to_binary(T)), "
                        "ok = file:write_file(\"%s/w.txt\", io_lib:format(\"~w~n\", [T])), "
                        "halt().'",
                        dir, dir),
                     0);
        cr_expect_eq(sh("%s etf decode < %s/in.bin | cmp -s - %s/w.txt", PORTKIT, dir, dir), 0);
        cr_expect_eq(sh("sed 's/$/./' %s/w.txt | %s etf encode --minor-version 1 | cmp -s - "
                        "%s/in.bin",
                        dir, PORTKIT, dir),
                     0);
        sh("rm -rf %s", dir);
}
