/* SPDX-License-Identifier: MIT */
/* ETF codec benchmark: portkit (tree decode, tree encode, streaming encode)
 * against erl_interface's libei (decode walk, ei_x_encode_*) on a fixed term
 * mix, in one run, with ratios; Erlang's own term_to_binary/binary_to_term
 * figures come from etf_bench.escript through a results file.
 *
 * Then the printers: ~w and ~p of a large binary, a long list of integers
 * and a long string, and the decode and ~p of a zip bomb (100 KB of ETF
 * inflating to a 100 MiB binary), in MB/s of text written (issue 14 asks
 * for tens of MB/s at least).
 *
 * Usage: etf_bench write DIR          write the mix's ETF bytes to DIR/<name>.etf
 *        etf_bench run [ERLFILE]      time everything, print the table and ratios
 *        etf_bench print              time the printers only
 * BENCH_SECONDS (default 0.3) is the time spent per measurement. */
#include <ei.h>
#include <portkit/etf.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NTERMS 6
static const char *names[NTERMS] = {"ints1000", "map100", "deep1000", "bin1MiB", "rpc", "map1000"};

static uint8_t bin100[100];
static uint8_t *bin1m;
static char keys[100][8];
static const size_t BIN1M = 1 << 20;
/* map1000: #{1 => 1, ..., 1000 => 1000}, a hash trie in the VM; its keys in
 * the order term_to_binary writes them (found by the tree encoder in setup),
 * so every encoder writes the same bytes. */
static int64_t map1000_keys[1000];

/* ---- portkit streaming encoders, one per term ---- */

static void pk_deep(struct pk_etf_buf *b, int level)
{
        /* {[{[ ... ok ... ]}]}: tuples and lists alternate, 1000 levels. */
        for (int i = 0; i < level; i++) {
                if (i % 2 == 0)
                        pk_etf_put_tuple(b, 1);
                else
                        pk_etf_put_list(b, 1);
        }
        pk_etf_put_atom(b, "ok", 2);
        for (int i = level - 1; i >= 0; i--)
                if (i % 2 == 1)
                        pk_etf_put_nil(b);
}

static void pk_stream(struct pk_etf_buf *b, int which)
{
        pk_etf_put_version(b);
        switch (which) {
        case 0:
                pk_etf_put_list(b, 1000);
                for (int i = 1; i <= 1000; i++)
                        pk_etf_put_int(b, i);
                pk_etf_put_nil(b);
                break;
        case 1:
                pk_etf_put_map(b, 100);
                for (int i = 0; i < 100; i++) {
                        pk_etf_put_atom(b, keys[i], 4);
                        pk_etf_put_binary(b, bin100, 100);
                }
                break;
        case 2:
                pk_deep(b, 1000);
                break;
        case 3:
                pk_etf_put_binary(b, bin1m, BIN1M);
                break;
        case 4:
                /* {call, 12345, <<"users">>, get_user,
                 *  [#{fields => [name, email, created_at], id => 42, timeout => 5000},
                 *   <<"trace-abc123">>, 3.14, "text"]} */
                pk_etf_put_tuple(b, 5);
                pk_etf_put_atom(b, "call", 4);
                pk_etf_put_int(b, 12345);
                pk_etf_put_binary(b, "users", 5);
                pk_etf_put_atom(b, "get_user", 8);
                pk_etf_put_list(b, 4);
                pk_etf_put_map(b, 3);
                pk_etf_put_atom(b, "fields", 6);
                pk_etf_put_list(b, 3);
                pk_etf_put_atom(b, "name", 4);
                pk_etf_put_atom(b, "email", 5);
                pk_etf_put_atom(b, "created_at", 10);
                pk_etf_put_nil(b);
                pk_etf_put_atom(b, "id", 2);
                pk_etf_put_int(b, 42);
                pk_etf_put_atom(b, "timeout", 7);
                pk_etf_put_int(b, 5000);
                pk_etf_put_binary(b, "trace-abc123", 12);
                pk_etf_put_float(b, 3.14);
                pk_etf_put_string(b, "text", 4);
                pk_etf_put_nil(b);
                break;
        case 5:
                pk_etf_put_map(b, 1000);
                for (int i = 0; i < 1000; i++) {
                        pk_etf_put_int(b, map1000_keys[i]);
                        pk_etf_put_int(b, map1000_keys[i]);
                }
                break;
        }
}

/* ---- libei encoders, the same terms ---- */

static void ei_deep(ei_x_buff *x, int level)
{
        for (int i = 0; i < level; i++) {
                if (i % 2 == 0)
                        ei_x_encode_tuple_header(x, 1);
                else
                        ei_x_encode_list_header(x, 1);
        }
        ei_x_encode_atom(x, "ok");
        for (int i = level - 1; i >= 0; i--)
                if (i % 2 == 1)
                        ei_x_encode_empty_list(x);
}

static void ei_encode(ei_x_buff *x, int which)
{
        x->index = 0;
        ei_x_encode_version(x);
        switch (which) {
        case 0:
                ei_x_encode_list_header(x, 1000);
                for (int i = 1; i <= 1000; i++)
                        ei_x_encode_long(x, i);
                ei_x_encode_empty_list(x);
                break;
        case 1:
                ei_x_encode_map_header(x, 100);
                for (int i = 0; i < 100; i++) {
                        ei_x_encode_atom(x, keys[i]);
                        ei_x_encode_binary(x, bin100, 100);
                }
                break;
        case 2:
                ei_deep(x, 1000);
                break;
        case 3:
                ei_x_encode_binary(x, bin1m, (int)BIN1M);
                break;
        case 4:
                ei_x_encode_tuple_header(x, 5);
                ei_x_encode_atom(x, "call");
                ei_x_encode_long(x, 12345);
                ei_x_encode_binary(x, "users", 5);
                ei_x_encode_atom(x, "get_user");
                ei_x_encode_list_header(x, 4);
                ei_x_encode_map_header(x, 3);
                ei_x_encode_atom(x, "fields");
                ei_x_encode_list_header(x, 3);
                ei_x_encode_atom(x, "name");
                ei_x_encode_atom(x, "email");
                ei_x_encode_atom(x, "created_at");
                ei_x_encode_empty_list(x);
                ei_x_encode_atom(x, "id");
                ei_x_encode_long(x, 42);
                ei_x_encode_atom(x, "timeout");
                ei_x_encode_long(x, 5000);
                ei_x_encode_binary(x, "trace-abc123", 12);
                ei_x_encode_double(x, 3.14);
                ei_x_encode_string(x, "text");
                ei_x_encode_empty_list(x);
                break;
        case 5:
                ei_x_encode_map_header(x, 1000);
                for (int i = 0; i < 1000; i++) {
                        ei_x_encode_long(x, (long)map1000_keys[i]);
                        ei_x_encode_long(x, (long)map1000_keys[i]);
                }
                break;
        }
}

/* ---- libei decode walk: decode every value, as a consumer would ---- */

static long sink;

static int ei_walk(const char *buf, int *idx)
{
        int type, size;
        if (ei_get_type(buf, idx, &type, &size) < 0)
                return -1;
        switch (type) {
        case ERL_SMALL_INTEGER_EXT:
        case ERL_INTEGER_EXT: {
                long v;
                if (ei_decode_long(buf, idx, &v) < 0)
                        return -1;
                sink += v;
                return 0;
        }
        case ERL_SMALL_BIG_EXT:
        case ERL_LARGE_BIG_EXT: {
                long long v;
                if (ei_decode_longlong(buf, idx, &v) < 0)
                        return ei_skip_term(buf, idx);
                sink += (long)v;
                return 0;
        }
        case ERL_FLOAT_EXT:
        case NEW_FLOAT_EXT: {
                double d;
                if (ei_decode_double(buf, idx, &d) < 0)
                        return -1;
                sink += (long)d;
                return 0;
        }
        case ERL_ATOM_EXT:
        case ERL_SMALL_ATOM_EXT:
        case ERL_ATOM_UTF8_EXT:
        case ERL_SMALL_ATOM_UTF8_EXT: {
                char a[MAXATOMLEN_UTF8];
                if (ei_decode_atom(buf, idx, a) < 0)
                        return -1;
                sink += a[0];
                return 0;
        }
        case ERL_SMALL_TUPLE_EXT:
        case ERL_LARGE_TUPLE_EXT: {
                int n;
                if (ei_decode_tuple_header(buf, idx, &n) < 0)
                        return -1;
                for (int i = 0; i < n; i++)
                        if (ei_walk(buf, idx) < 0)
                                return -1;
                return 0;
        }
        case ERL_NIL_EXT: {
                int n;
                return ei_decode_list_header(buf, idx, &n);
        }
        case ERL_STRING_EXT: {
                static char s[65536]; /* not on the stack: ei_walk recurses */
                if (ei_decode_string(buf, idx, s) < 0)
                        return -1;
                sink += s[0];
                return 0;
        }
        case ERL_LIST_EXT: {
                int n;
                if (ei_decode_list_header(buf, idx, &n) < 0)
                        return -1;
                for (int i = 0; i < n; i++)
                        if (ei_walk(buf, idx) < 0)
                                return -1;
                return ei_walk(buf, idx); /* the tail */
        }
        case ERL_MAP_EXT: {
                int n;
                if (ei_decode_map_header(buf, idx, &n) < 0)
                        return -1;
                for (int i = 0; i < 2 * n; i++)
                        if (ei_walk(buf, idx) < 0)
                                return -1;
                return 0;
        }
        case ERL_BINARY_EXT:
        case ERL_BIT_BINARY_EXT: {
                const char *p;
                unsigned int off;
                size_t bits;
                if (ei_decode_bitstring(buf, idx, &p, &off, &bits) < 0)
                        return -1;
                sink += (long)bits + p[0];
                return 0;
        }
        default:
                return ei_skip_term(buf, idx);
        }
}

/* ---- timing ---- */

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double budget = 0.3;

typedef void (*op_fn)(int which);

static int cmp_d(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;
        return (x > y) - (x < y);
}

static long calibrate(op_fn fn, int which)
{
        long iters = 1;
        for (;;) {
                double t0 = now();
                for (long i = 0; i < iters; i++)
                        fn(which);
                if (now() - t0 > budget / 50 || iters > (1L << 30))
                        return iters;
                iters *= 2;
        }
}

/* Times nops operations on one term, interleaved: each of 5 rounds runs every
 * op for budget/5 seconds, so machine drift hits them all alike.  Writes the
 * median ns per op of each into ns[]. */
static void measure_all(const op_fn *fns, int nops, int which, double *ns)
{
        long iters[8];
        double r[8][5];
        for (int k = 0; k < nops; k++)
                iters[k] = calibrate(fns[k], which);
        for (int round = 0; round < 5; round++)
                for (int k = 0; k < nops; k++) {
                        long n = 0;
                        double t0 = now(), dt;
                        do {
                                for (long i = 0; i < iters[k]; i++)
                                        fns[k](which);
                                n += iters[k];
                                dt = now() - t0;
                        } while (dt < budget / 5);
                        r[k][round] = dt * 1e9 / (double)n;
                }
        for (int k = 0; k < nops; k++) {
                qsort(r[k], 5, sizeof(double), cmp_d);
                ns[k] = r[k][2];
        }
}

static struct pk_etf_buf enc_bytes[NTERMS]; /* canonical bytes of each term */
static struct pk_term *trees[NTERMS];
static pk_arena *tree_arena, *dec_arena;
static struct pk_etf_buf out;
static ei_x_buff eix;
static uint8_t *memcpy_dst;

static void op_pk_decode(int w)
{
        static const struct pk_etf_decode_opts o = {.max_size = SIZE_MAX};
        pk_arena_reset(dec_arena);
        struct pk_term *t;
        if (pk_etf_decode(dec_arena, enc_bytes[w].data, enc_bytes[w].len, &o, &t, NULL, NULL))
                abort();
        sink += t->type;
}

static void op_pk_tree_encode(int w)
{
        pk_etf_buf_reset(&out);
        if (pk_etf_encode(&out, trees[w], NULL))
                abort();
}

static void op_pk_stream(int w)
{
        pk_etf_buf_reset(&out);
        pk_stream(&out, w);
        if (out.err)
                abort();
}

static void op_ei_encode(int w)
{
        ei_encode(&eix, w);
}

static void op_ei_walk(int w)
{
        int idx = 0, v;
        if (ei_decode_version((const char *)enc_bytes[w].data, &idx, &v) < 0 ||
            ei_walk((const char *)enc_bytes[w].data, &idx) < 0)
                abort();
}

static void op_memcpy(int w)
{
        memcpy(memcpy_dst, enc_bytes[w].data, enc_bytes[w].len);
        __asm__ volatile("" : : "r"(memcpy_dst) : "memory");
}

/* ---- printing ---- */

enum { PR_W, PR_P, PR_DECODE_P };

struct print_case {
        const char *name;
        int how;
        const struct pk_term *t; /* PR_W, PR_P */
        struct pk_etf_buf etf;   /* PR_DECODE_P: the bytes decoded each time */
        size_t text;             /* bytes of text one run writes */
};

#define NPRINTS 7
static struct print_case prints[NPRINTS];

static void op_print(int w)
{
        struct print_case *c = &prints[w];
        const struct pk_term *t = c->t;
        if (c->how == PR_DECODE_P) {
                static const struct pk_etf_decode_opts o = {.max_size = SIZE_MAX};
                struct pk_term *d;
                pk_arena_reset(dec_arena);
                if (pk_etf_decode(dec_arena, c->etf.data, c->etf.len, &o, &d, NULL, NULL))
                        abort();
                t = d;
        }
        char *s;
        size_t len;
        int r = c->how == PR_W ? pk_etf_print_w(t, &s, &len) : pk_etf_print_p(t, NULL, &s, &len);
        if (r)
                abort();
        c->text = len;
        sink += (long)len;
        free(s);
}

static void setup_prints(void)
{
        /* ints100k: [0, 7919, 15838, ...], numbers of 1 to 9 digits. */
        uint32_t n = 100000;
        struct pk_term *e = pk_arena_terms(tree_arena, n), *ints = pk_arena_terms(tree_arena, 1);
        /* string1MiB: printable text, a list of bytes as binary_to_term gives it. */
        uint8_t *str = pk_arena_alloc(tree_arena, BIN1M);
        struct pk_term *string = pk_arena_terms(tree_arena, 1);
        if (!e || !ints || !str || !string)
                abort();
        for (uint32_t i = 0; i < n; i++)
                pk_term_set_int(&e[i], (int64_t)i * 7919);
        if (pk_term_set_list(tree_arena, ints, e, n, NULL))
                abort();
        for (size_t i = 0; i < BIN1M; i++)
                str[i] = (uint8_t)(i % 64 == 63 ? ' ' : 'a' + i % 26);
        pk_term_set_string(string, str, (uint32_t)BIN1M);
        /* The zip bomb: a 100 MiB binary of zeros, compressed. */
        size_t bomb = 100 * BIN1M;
        uint8_t *zeros = calloc(1, bomb);
        struct pk_term zt;
        if (!zeros)
                abort();
        pk_term_set_binary(&zt, zeros, bomb);
        struct pk_etf_encode_opts eo = PK_ETF_ENCODE_OPTS_INIT;
        eo.compress_level = 9;
        struct print_case *c = prints;
        *c++ = (struct print_case){.name = "print ~w bin1MiB", .how = PR_W, .t = trees[3]};
        *c++ = (struct print_case){.name = "print ~p bin1MiB", .how = PR_P, .t = trees[3]};
        *c++ = (struct print_case){.name = "print ~w ints100k", .how = PR_W, .t = ints};
        *c++ = (struct print_case){.name = "print ~p ints100k", .how = PR_P, .t = ints};
        *c++ = (struct print_case){.name = "print ~w string1MiB", .how = PR_W, .t = string};
        *c++ = (struct print_case){.name = "print ~p string1MiB", .how = PR_P, .t = string};
        *c = (struct print_case){.name = "decode+print ~p zip bomb", .how = PR_DECODE_P};
        pk_etf_buf_init(&c->etf, 0);
        if (pk_etf_encode(&c->etf, &zt, &eo))
                abort();
        free(zeros);
}

static void print_row(const char *what, double ns, size_t bytes);

static void run_prints(void)
{
        printf("\nprinting (MB/s of text written)\n");
        for (int w = 0; w < NPRINTS; w++) {
                static const op_fn fns[1] = {op_print};
                double ns;
                measure_all(fns, 1, w, &ns);
                char what[64];
                if (prints[w].how == PR_DECODE_P)
                        snprintf(what, sizeof(what), "%s (%zu KB)", prints[w].name,
                                 prints[w].etf.len / 1000);
                else
                        snprintf(what, sizeof(what), "%s", prints[w].name);
                print_row(what, ns, prints[w].text);
        }
}

static void find_map1000_order(void)
{
        struct pk_term *pairs = pk_arena_terms(tree_arena, 2000), m, *t;
        if (!pairs)
                abort();
        for (int i = 0; i < 1000; i++) {
                pk_term_set_int(&pairs[2 * i], i + 1);
                pk_term_set_int(&pairs[2 * i + 1], i + 1);
        }
        pk_term_set_map(&m, pairs, 1000);
        pk_etf_buf_reset(&out);
        if (pk_etf_encode(&out, &m, NULL) ||
            pk_etf_decode(dec_arena, out.data, out.len, NULL, &t, NULL, NULL))
                abort();
        for (int i = 0; i < 1000; i++)
                map1000_keys[i] = t->v.map.pairs[2 * i].v.i;
        pk_arena_reset(dec_arena);
}

static void setup(void)
{
        for (int i = 0; i < 100; i++) {
                snprintf(keys[i], sizeof(keys[i]), "k%03d", i + 1);
                bin100[i] = (uint8_t)i;
        }
        bin1m = malloc(BIN1M);
        memcpy_dst = malloc(BIN1M + 16);
        for (size_t i = 0; i < BIN1M; i++)
                bin1m[i] = (uint8_t)(i * 31);
        tree_arena = pk_arena_new(0);
        dec_arena = pk_arena_new(0);
        pk_etf_buf_init(&out, 0);
        find_map1000_order();
        ei_init();
        ei_x_new(&eix);
        for (int w = 0; w < NTERMS; w++) {
                pk_etf_buf_init(&enc_bytes[w], 0);
                pk_stream(&enc_bytes[w], w);
                struct pk_etf_decode_opts o = {.max_size = SIZE_MAX};
                if (pk_etf_decode(tree_arena, enc_bytes[w].data, enc_bytes[w].len, &o, &trees[w],
                                  NULL, NULL))
                        abort();
                /* The three encoders must agree byte for byte. */
                pk_etf_buf_reset(&out);
                pk_etf_encode(&out, trees[w], NULL);
                ei_encode(&eix, w);
                if (out.len != enc_bytes[w].len || memcmp(out.data, enc_bytes[w].data, out.len))
                        fprintf(stderr, "warning: %s: tree and stream bytes differ\n", names[w]);
                if ((size_t)eix.index != out.len || memcmp(out.data, eix.buff, out.len))
                        fprintf(stderr, "note: %s: libei bytes differ from ours\n", names[w]);
        }
}

static int write_terms(const char *dir)
{
        setup();
        for (int w = 0; w < NTERMS; w++) {
                char path[4096];
                snprintf(path, sizeof(path), "%s/%s.etf", dir, names[w]);
                FILE *f = fopen(path, "wb");
                if (!f || fwrite(enc_bytes[w].data, 1, enc_bytes[w].len, f) != enc_bytes[w].len) {
                        perror(path);
                        return 1;
                }
                fclose(f);
        }
        return 0;
}

static void print_row(const char *what, double ns, size_t bytes)
{
        printf("  %-26s %12.0f ns %12.0f terms/s %10.1f MB/s\n", what, ns, 1e9 / ns,
               (double)bytes / ns * 1e3);
}

int main(int argc, char **argv)
{
        if (argc >= 3 && strcmp(argv[1], "write") == 0)
                return write_terms(argv[2]);
        if (argc >= 5 && strcmp(argv[1], "once") == 0) {
                /* etf_bench once OP TERM N: run one op N times (for callgrind,
                 * whose instruction counts do not drift with machine load). */
                static const char *ops[6] = {"decode", "eiwalk",   "tree",
                                             "stream", "eiencode", "memcpy"};
                static const op_fn fns[6] = {op_pk_decode, op_ei_walk,   op_pk_tree_encode,
                                             op_pk_stream, op_ei_encode, op_memcpy};
                setup();
                for (int k = 0; k < 6; k++)
                        for (int w = 0; w < NTERMS; w++)
                                if (!strcmp(argv[2], ops[k]) && !strcmp(argv[3], names[w])) {
                                        for (long i = atol(argv[4]); i > 0; i--)
                                                fns[k](w);
                                        return 0;
                                }
                return 2;
        }
        bool print_only = argc >= 2 && strcmp(argv[1], "print") == 0;
        if (argc < 2 || (strcmp(argv[1], "run") != 0 && !print_only)) {
                fprintf(stderr, "usage: etf_bench write DIR | etf_bench run [ERLFILE] | "
                                "etf_bench print | etf_bench once OP TERM N\n");
                return 2;
        }
        const char *bs = getenv("BENCH_SECONDS");
        if (bs)
                budget = atof(bs);
        setup();
        setup_prints();
        if (print_only) {
                run_prints();
                return (int)(sink & 0);
        }
        double erl_enc[NTERMS] = {0}, erl_dec[NTERMS] = {0};
        if (argc >= 3) {
                FILE *f = fopen(argv[2], "r");
                char name[64];
                double e, d;
                while (f && fscanf(f, "%63s %lf %lf", name, &e, &d) == 3)
                        for (int w = 0; w < NTERMS; w++)
                                if (strcmp(name, names[w]) == 0) {
                                        erl_enc[w] = e;
                                        erl_dec[w] = d;
                                }
                if (f)
                        fclose(f);
        }
        printf("ETF codec, median of 5 interleaved rounds, %.2f s per measurement\n", budget);
        double ratios[NTERMS][5];
        for (int w = 0; w < NTERMS; w++) {
                size_t n = enc_bytes[w].len;
                printf("%s (%zu bytes)\n", names[w], n);
                static const op_fn fns[6] = {op_pk_decode, op_ei_walk,   op_pk_tree_encode,
                                             op_pk_stream, op_ei_encode, op_memcpy};
                double ns[6];
                measure_all(fns, w == 3 ? 6 : 5, w, ns);
                double pd = ns[0], ew = ns[1], pt = ns[2], ps = ns[3], ee = ns[4];
                print_row("portkit tree decode", pd, n);
                print_row("libei decode walk", ew, n);
                if (erl_dec[w] > 0)
                        print_row("erl binary_to_term", erl_dec[w], n);
                print_row("portkit tree encode", pt, n);
                print_row("portkit streaming encode", ps, n);
                print_row("libei ei_x_encode", ee, n);
                if (erl_enc[w] > 0)
                        print_row("erl term_to_binary", erl_enc[w], n);
                if (w == 3)
                        print_row("memcpy of the term", ns[5], n);
                ratios[w][0] = ew / pd;
                ratios[w][1] = erl_dec[w] > 0 ? erl_dec[w] / pd : 0;
                ratios[w][2] = ee / ps;
                ratios[w][3] = ee / pt;
                ratios[w][4] = erl_enc[w] > 0 ? erl_enc[w] / ps : 0;
        }
        printf("\nratios (higher is better for portkit; target in brackets)\n");
        printf("  %-10s %14s %14s %14s %14s %14s\n", "term", "dec/ei [1.5]", "dec/b2t [3]",
               "stream/ei[1.5]", "tree/ei [1.2]", "stream/t2b");
        for (int w = 0; w < NTERMS; w++)
                printf("  %-10s %14.2f %14.2f %14.2f %14.2f %14.2f\n", names[w], ratios[w][0],
                       ratios[w][1], ratios[w][2], ratios[w][3], ratios[w][4]);
        run_prints();
        return (int)(sink & 0);
}
