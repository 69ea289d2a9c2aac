/* SPDX-License-Identifier: MIT */
/* ETF against a real erl: byte-for-byte equality with term_to_binary across
 * minor versions and compression (tests/interop/etf_gen.escript), and erl's
 * binary_to_term reading our encodings. */
#include "etf_testutil.h"
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

TestSuite(etf_interop, .init = etf_setup, .fini = etf_teardown, .timeout = 120);

/* ---- byte-for-byte equality with a real erl ---- */

/* Runs tests/interop/etf_gen.escript; returns the records file's bytes. */
static uint8_t *generate(int n, int seed, size_t *len)
{
        char out[] = "/tmp/pk_etf_gen_XXXXXX";
        int fd = mkstemp(out);
        cr_assert_geq(fd, 0);
        close(fd);
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), "escript %s/tests/interop/etf_gen.escript %d %d %s",
                 PK_SOURCE_DIR, n, seed, out);
        int st = system(cmd);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s failed", cmd);
        uint8_t *b = (uint8_t *)tu_slurp(out, len);
        unlink(out);
        return b;
}

static void check_equal(int term, const char *what, const struct pk_etf_buf *ours,
                        const uint8_t *erl, size_t erl_len)
{
        if (ours->len == erl_len && memcmp(ours->data, erl, erl_len) == 0)
                return;
        hexdump("erl ", erl, erl_len);
        hexdump("ours", ours->data, ours->len);
        cr_assert_fail("term %d: %s differs from erl", term, what);
}

static int has_large_map(const struct pk_term *t)
{
        switch (t->type) {
        case PK_TERM_MAP:
                if (t->v.map.arity > 32)
                        return 1;
                for (uint32_t i = 0; i < 2 * t->v.map.arity; i++)
                        if (has_large_map(&t->v.map.pairs[i]))
                                return 1;
                return 0;
        case PK_TERM_TUPLE:
                for (uint32_t i = 0; i < t->v.tuple.arity; i++)
                        if (has_large_map(&t->v.tuple.elems[i]))
                                return 1;
                return 0;
        case PK_TERM_LIST:
                for (uint32_t i = 0; i < t->v.list.len; i++)
                        if (has_large_map(&t->v.list.elems[i]))
                                return 1;
                return has_large_map(t->v.list.tail);
        case PK_TERM_FUN:
                for (uint32_t i = 0; i < t->v.fun->num_free; i++)
                        if (has_large_map(&t->v.fun->free_vars[i]))
                                return 1;
                return 0;
        default:
                return 0;
        }
}

Test(etf_interop, interop_byte_equality_with_erl, .timeout = 300)
{
        /* PK_ETF_INTEROP_N / PK_ETF_INTEROP_SEED scale the run up (e.g. 10000). */
        const char *ns = getenv("PK_ETF_INTEROP_N"), *ss = getenv("PK_ETF_INTEROP_SEED");
        int want = ns ? atoi(ns) : 400;
        size_t len;
        uint8_t *file = generate(want, ss ? atoi(ss) : 1, &len);
        const uint8_t *p = file, *end = file + len;
        static const struct {
                int mv, level;
                const char *what;
        } variants[] = {{1, 0, "minor_version 1"},        {0, 0, "minor_version 0"},
                        {2, 0, "minor_version 2"},        {1, 6, "compressed"},
                        {2, 1, "{compressed,1} minor 2"}, {0, 9, "{compressed,9} minor 0"}};
        int terms = 0, large = 0;
        struct pk_etf_decode_opts o = {.flags = PK_ETF_NO_TRAILING};
        while (p < end) {
                const uint8_t *rec[7];
                size_t rlen[7];
                for (int v = 0; v < 7; v++) {
                        struct tu_field f;
                        p = tu_next_field(p, end, &f);
                        rec[v] = f.p;
                        rlen[v] = f.n;
                }
                struct dres r = dec_opts(rec[0], rlen[0], &o);
                if (r.rc) {
                        hexdump("input", rec[0], rlen[0]);
                        cr_assert_fail("term %d: decode: %s at %zu", terms, pk_strerror(r.rc),
                                       r.err.offset);
                }
                /* Maps over 32 keys: erl writes them in hash-trie order, and
                 * with [deterministic] sorted. */
                large += has_large_map(r.t);
                struct pk_etf_buf d = enc_det(r.t, 1, 0, 1);
                check_equal(terms, "[deterministic]", &d, rec[6], rlen[6]);
                pk_etf_buf_free(&d);
                for (int v = 0; v < 6; v++) {
                        struct pk_etf_buf b = enc(r.t, variants[v].mv, variants[v].level);
                        check_equal(terms, variants[v].what, &b, rec[v], rlen[v]);
                        pk_etf_buf_free(&b);
                        /* Every variant decodes to the same term. */
                        struct dres rv = dec_opts(rec[v], rlen[v], &o);
                        cr_assert_eq(rv.rc, 0, "term %d variant %d: %s", terms, v,
                                     pk_strerror(rv.rc));
                        cr_assert_eq(pk_term_compare(r.t, rv.t, 1), 0, "term %d variant %d", terms,
                                     v);
                }
                terms++;
                pk_arena_reset(arena);
        }
        cr_assert_eq(terms, want);
        cr_assert_gt(large, 0); /* the [deterministic] comparison saw large maps */
        free(file);
}

/* Our encodings, fed to erl's binary_to_term, come back as the same term:
 * erl re-encodes each and we compare the bytes. */
Test(etf_interop, interop_erl_decodes_ours, .timeout = 300)
{
        char path[] = "/tmp/pk_etf_ours_XXXXXX";
        int fd = mkstemp(path);
        cr_assert_geq(fd, 0);
        FILE *f = fdopen(fd, "wb");
        struct pk_etf_buf b;
        pk_etf_buf_init(&b, 0);
        stream_sample(&b, 0);
        stream_sample(&b, 2);
        struct pk_etf_buf c = enc(dec(b.data, b.len).t, 1, 9);
        fwrite(b.data, 1, b.len, f);
        fwrite(c.data, 1, c.len, f);
        fclose(f);
        char cmd[1024];
        snprintf(cmd, sizeof(cmd),
                 "erl -noshell -eval '{ok, B} = file:read_file(\"%s\"), "
                 "F = fun G(<<>>, Acc) -> lists:reverse(Acc); "
                 "G(Bin, Acc) -> {T, N} = binary_to_term(Bin, [used]), "
                 "<<_:N/binary, R/binary>> = Bin, G(R, [T | Acc]) end, "
                 "Ts = F(B, []), 3 = length(Ts), "
                 "[A, A, A] = [setelement(8, T, x) || T <- Ts], "
                 "io:format(\"~w\", [hd(Ts)]), halt(0).' > %s.out",
                 path, path);
        int st = system(cmd);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "erl could not decode our terms");
        char outp[64];
        snprintf(outp, sizeof(outp), "%s.out", path);
        size_t n;
        char *txt = tu_slurp(outp, &n);
        cr_assert(strstr(txt, "{ok,[1,300,-5|tail],#{1 => 2.5,a => <<120>>},[104,105],<<7:3>>,"
                              "1180591620717411303424,") == txt,
                  "erl saw %s", txt);
        unlink(outp);
        unlink(path);
        free(txt);
        pk_etf_buf_free(&b);
        pk_etf_buf_free(&c);
}
