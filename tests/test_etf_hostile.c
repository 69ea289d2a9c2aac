/* SPDX-License-Identifier: MIT */
/* Text a peer controls: huge literals must fail at their limit without first
 * spending memory in proportion to the input (measured as the growth of the
 * process's peak RSS, reset through /proc/self/clear_refs), and wrong input
 * must be named right.  Also the bulk printers' exact output on edge cases. */
#include <portkit/etf.h>

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#define MiB (1024u * 1024u)

/* Reads a "Vm...:  N kB" line of /proc/self/status, in bytes. */
static size_t vm_kb(const char *key)
{
        FILE *f = fopen("/proc/self/status", "r");
        cr_assert_not_null(f);
        char line[256];
        size_t v = 0, kl = strlen(key);
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, key, kl) == 0 && line[kl] == ':')
                        v = strtoull(line + kl + 1, NULL, 10) * 1024;
        fclose(f);
        return v;
}

/* Resets the peak RSS to the current RSS (Linux >= 4.0). */
static void reset_peak(void)
{
        int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
        cr_assert_geq(fd, 0);
        cr_assert_eq(write(fd, "5", 1), 1);
        close(fd);
}

/* prefix, n copies of fill, suffix: the text of a huge literal. */
static char *huge(const char *prefix, char fill, size_t n, const char *suffix, size_t *len)
{
        size_t pl = strlen(prefix), sl = strlen(suffix);
        char *s = malloc(pl + n + sl + 1);
        cr_assert_not_null(s);
        memcpy(s, prefix, pl);
        memset(s + pl, fill, n);
        memcpy(s + pl + n, suffix, sl + 1);
        *len = pl + n + sl;
        return s;
}

/* Parses text under an arena of arena_max bytes; returns the result and the
 * peak RSS growth during the parse in *grew. */
static int parse_measured(const char *text, size_t len, size_t arena_max, size_t *grew,
                          struct pk_etf_text_error *e)
{
        pk_arena *a = pk_arena_new(arena_max);
        cr_assert_not_null(a);
        struct pk_term *t = NULL;
        reset_peak();
        size_t before = vm_kb("VmRSS");
        int r = pk_etf_parse(a, text, len, NULL, &t, NULL, e);
        size_t peak = vm_kb("VmHWM");
        *grew = peak > before ? peak - before : 0;
        pk_arena_free(a);
        return r;
}

/* Issue 14: a 100 MB binary literal under a 1 MiB arena grew RSS by 816 MB
 * before failing; a string literal by 400 MB.  Each now fails at the
 * arena's room, having spent a bounded amount (allowing for the sanitizer's
 * quarantine, which keeps freed blocks resident). */
Test(etf_hostile, huge_string_literal_fails_early)
{
        size_t len, grew;
        char *s = huge("\"", 'a', 100 * (size_t)MiB, "\".", &len);
        struct pk_etf_text_error e = {0};
        int r = parse_measured(s, len, MiB, &grew, &e);
        cr_assert_eq(r, PK_ETERMSIZE, "%d %s", r, e.message);
        cr_assert(strstr(e.message, "string longer than the size limit"), "%s", e.message);
        cr_assert_lt(grew, 32 * (size_t)MiB, "peak RSS grew by %zu bytes", grew);
        free(s);
}

Test(etf_hostile, huge_binary_literal_fails_early)
{
        size_t len, grew;
        char *s = huge("<<\"", 'a', 100 * (size_t)MiB, "\">>.", &len);
        struct pk_etf_text_error e = {0};
        int r = parse_measured(s, len, MiB, &grew, &e);
        cr_assert_eq(r, PK_ETERMSIZE, "%d %s", r, e.message);
        /* A binary's characters may be 1 bit each (<<"ab":1>>), so the string
         * stops at 8 characters per byte of room: 8 Mi code points. */
        cr_assert_lt(grew, 128 * (size_t)MiB, "peak RSS grew by %zu bytes", grew);
        free(s);
        /* A binary of byte values meets the arena's room too, not only the
         * 16 MiB max_binary. */
        size_t n = 4 * (size_t)MiB;
        char *t = malloc(2 * n + 8), *p = t;
        cr_assert_not_null(t);
        p += sprintf(p, "<<");
        for (size_t i = 0; i < n; i++) {
                *p++ = '7';
                *p++ = ',';
        }
        p[-1] = '>';
        p += sprintf(p, ">.");
        e = (struct pk_etf_text_error){0};
        r = parse_measured(t, (size_t)(p - t), MiB, &grew, &e);
        cr_assert_eq(r, PK_ETERMSIZE, "%d %s", r, e.message);
        cr_assert(strstr(e.message, "binary larger than"), "%s", e.message);
        cr_assert_lt(grew, 16 * (size_t)MiB, "peak RSS grew by %zu bytes", grew);
        free(t);
}

Test(etf_hostile, huge_quoted_atom_fails_at_256_characters)
{
        size_t len, grew;
        char *s = huge("'", 'a', 100 * (size_t)MiB, "'.", &len);
        struct pk_etf_text_error e = {0};
        int r = parse_measured(s, len, 0, &grew, &e);
        cr_assert_eq(r, PK_EATOMLEN, "%d %s", r, e.message);
        cr_assert_lt(grew, 16 * (size_t)MiB, "peak RSS grew by %zu bytes", grew);
        free(s);
}

Test(etf_hostile, string_within_room_still_parses)
{
        /* The limit is the arena's room: a string that fits still parses. */
        size_t len;
        char *s = huge("\"", 'b', 1000, "\".", &len);
        pk_arena *a = pk_arena_new(4096);
        struct pk_term *t = NULL;
        cr_assert_eq(pk_etf_parse(a, s, len, NULL, &t, NULL, NULL), 1);
        cr_assert_eq(t->type, PK_TERM_STRING);
        cr_assert_eq(t->v.string.len, 1000);
        pk_arena_free(a);
        free(s);
}

Test(etf_hostile, dot_then_nul_names_the_nul)
{
        pk_arena *a = pk_arena_new(0);
        struct pk_term *t = NULL;
        struct pk_etf_text_error e = {0};
        static const char text[] = "ok.\0";
        int r = pk_etf_parse(a, text, 4, NULL, &t, NULL, &e);
        cr_assert_eq(r, PK_ESYNTAX);
        cr_assert(strstr(e.message, "U+0000"), "%s", e.message);
        cr_assert_eq(e.offset, 3);
        cr_assert_eq(e.column, 4);
        /* Other control characters likewise; '.' before a letter is still
         * the dot's fault. */
        e = (struct pk_etf_text_error){0};
        cr_assert_eq(pk_etf_parse(a, "ok.\x01", 4, NULL, &t, NULL, &e), PK_ESYNTAX);
        cr_assert(strstr(e.message, "U+0001"), "%s", e.message);
        e = (struct pk_etf_text_error){0};
        cr_assert_eq(pk_etf_parse(a, "ok.x", 4, NULL, &t, NULL, &e), PK_ESYNTAX);
        cr_assert_str_eq(e.message, "unexpected '.'");
        pk_arena_free(a);
}

/* ---- the bulk printers' exact text ---- */

static char *pw(const struct pk_term *t)
{
        char *s;
        cr_assert_eq(pk_etf_print_w(t, &s, NULL), 0);
        return s;
}

static char *pp(const struct pk_term *t)
{
        char *s;
        cr_assert_eq(pk_etf_print_p(t, NULL, &s, NULL), 0);
        return s;
}

Test(etf_hostile, byte_lists_print_exactly)
{
        static const uint8_t d[] = {0, 9, 10, 99, 100, 199, 255, 1};
        struct pk_term t;
        pk_term_set_binary(&t, d, sizeof(d));
        char *s = pw(&t);
        cr_assert_str_eq(s, "<<0,9,10,99,100,199,255,1>>");
        free(s);
        cr_assert_eq(pk_term_set_bitstring(&t, d, 3, 3), 0);
        s = pw(&t);
        cr_assert_str_eq(s, "<<0,9,0:3>>"); /* 10 >> 5 */
        free(s);
        cr_assert_eq(pk_term_set_bitstring(&t, d + 6, 1, 7), 0);
        s = pw(&t);
        cr_assert_str_eq(s, "<<127:7>>");
        free(s);
        pk_term_set_binary(&t, d, 0);
        s = pw(&t);
        cr_assert_str_eq(s, "<<>>");
        free(s);
        pk_term_set_string(&t, d, sizeof(d));
        s = pw(&t);
        cr_assert_str_eq(s, "[0,9,10,99,100,199,255,1]");
        free(s);
        /* [-5, 200 | "ab"] : a list whose tail is a byte string. */
        pk_arena *a = pk_arena_new(0);
        struct pk_term *e = pk_arena_terms(a, 3), l;
        pk_term_set_int(&e[0], -5);
        pk_term_set_int(&e[1], INT64_MIN);
        pk_term_set_string(&e[2], (const uint8_t *)"ab", 2);
        cr_assert_eq(pk_term_set_list(a, &l, e, 2, &e[2]), 0);
        s = pw(&l);
        cr_assert_str_eq(s, "[-5,-9223372036854775808,97,98]");
        free(s);
        pk_arena_free(a);
}

Test(etf_hostile, printable_text_prints_exactly)
{
        static const char raw[] = "plain \"q\" back\\slash tab\t nl\n \xe9 \x1b end";
        struct pk_term t;
        pk_term_set_binary(&t, raw, sizeof(raw) - 1);
        char *s = pp(&t);
        cr_assert_str_eq(s, "<<\"plain \\\"q\\\" back\\\\slash tab\\t nl\\n \xc3\xa9 \\e end\">>");
        free(s);
        pk_term_set_string(&t, (const uint8_t *)raw, sizeof(raw) - 1);
        s = pp(&t);
        cr_assert_str_eq(s, "\"plain \\\"q\\\" back\\\\slash tab\\t nl\\n \xc3\xa9 \\e end\"");
        free(s);
}

Test(etf_hostile, large_binary_breaks_like_io_lib)
{
        /* ~p of a non-printable binary wider than the line: the runs between
         * breaks are copied whole; check the shape io_lib_pretty gives. */
        uint8_t d[200];
        for (size_t i = 0; i < sizeof(d); i++)
                d[i] = (uint8_t)(i * 7);
        struct pk_term t;
        pk_term_set_binary(&t, d, sizeof(d));
        char *s = pp(&t);
        char *w = pw(&t);
        /* Same numbers in the same order, only newlines and indentation added. */
        size_t k = 0;
        for (const char *p = s; *p; p++)
                if (*p != '\n' && *p != ' ') {
                        cr_assert_eq(*p, w[k], "at %zu", k);
                        k++;
                }
        cr_assert_eq(w[k], '\0');
        for (const char *line = s; line; line = strchr(line + 1, '\n')) {
                const char *end = strchr(line + 1, '\n');
                size_t l = end ? (size_t)(end - line) : strlen(line);
                cr_assert_leq(l, 81, "line too long: %zu", l);
        }
        free(s);
        free(w);
}

/* ---- output caps ---- */

Test(etf_hostile, print_caps_output)
{
        uint8_t *d = malloc(MiB);
        cr_assert_not_null(d);
        memset(d, 255, MiB);
        struct pk_term t;
        pk_term_set_binary(&t, d, MiB);
        size_t full = 4 + 4 * (size_t)MiB - 1; /* "<<" "255," x n without the last ',' ">>" */
        char *s = NULL;
        size_t len = 0;
        struct pk_etf_print_opts o = {.max_len = full};
        cr_assert_eq(pk_etf_print_w_opts(&t, &o, &s, &len), 0);
        cr_assert_eq(len, full);
        free(s);
        o.max_len = full - 1;
        s = NULL;
        cr_assert_eq(pk_etf_print_w_opts(&t, &o, &s, &len), PK_ETERMSIZE);
        cr_assert_null(s);
        o.max_len = 1000;
        cr_assert_eq(pk_etf_print_p(&t, &o, &s, &len), PK_ETERMSIZE);
        /* A long list of small terms meets the cap as well (~p builds a
         * layout node per element: bounded by the cap too). */
        pk_term_set_string(&t, d, MiB);
        cr_assert_eq(pk_etf_print_w_opts(&t, &o, &s, &len), PK_ETERMSIZE);
        cr_assert_eq(pk_etf_print_p(&t, &o, &s, &len), PK_ETERMSIZE);
        free(d);
}

#define PORTKIT PK_BUILD_DIR "/portkit"

/* Writes a compressed ETF binary of n bytes of 255 (a small "zip bomb"). */
static void write_bomb(const char *path, size_t n)
{
        size_t raw_len = 5 + n;
        uint8_t *raw = malloc(raw_len);
        cr_assert_not_null(raw);
        raw[0] = 109;
        raw[1] = (uint8_t)(n >> 24);
        raw[2] = (uint8_t)(n >> 16);
        raw[3] = (uint8_t)(n >> 8);
        raw[4] = (uint8_t)n;
        memset(raw + 5, 255, n);
        uLongf zl = compressBound(raw_len);
        uint8_t *z = malloc(6 + zl);
        cr_assert_not_null(z);
        cr_assert_eq(compress2(z + 6, &zl, raw, raw_len, 1), Z_OK);
        z[0] = 131;
        z[1] = 80;
        z[2] = (uint8_t)(raw_len >> 24);
        z[3] = (uint8_t)(raw_len >> 16);
        z[4] = (uint8_t)(raw_len >> 8);
        z[5] = (uint8_t)raw_len;
        FILE *f = fopen(path, "wb");
        cr_assert_not_null(f);
        cr_assert_eq(fwrite(z, 1, 6 + zl, f), 6 + zl);
        fclose(f);
        free(raw);
        free(z);
}

static int sh(const char *cmd)
{
        int st = system(cmd);
        cr_assert(WIFEXITED(st), "command died: %s", cmd);
        return WEXITSTATUS(st);
}

Test(etf_hostile, cli_decode_output_limit)
{
        char dir[] = "/tmp/pk_bomb_XXXXXX", path[64], cmd[512];
        cr_assert_not_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/bomb", dir);
        /* 100 MB of 255 inflates from ~100 KB and would print as 400 MB:
         * the default cap (256 MiB) refuses it as bad input. */
        write_bomb(path, 100 * 1000 * 1000);
        snprintf(cmd, sizeof(cmd), "%s etf decode < %s > %s/out 2> %s/err", PORTKIT, path, dir,
                 dir);
        cr_assert_eq(sh(cmd), 1);
        snprintf(cmd, sizeof(cmd),
                 "grep -q 'longer than 268435456 bytes' %s/err && test ! -s %s/out", dir, dir);
        cr_assert_eq(sh(cmd), 0);
        /* An explicit cap, in both formats; 0 lifts it. */
        write_bomb(path, 1000);
        snprintf(cmd, sizeof(cmd), "%s etf decode --max-output 4002 < %s > /dev/null 2>&1", PORTKIT,
                 path);
        cr_assert_eq(sh(cmd), 1);
        /* ~p prints 255 as the printable 'ÿ' (2 bytes of UTF-8): 2,006 bytes. */
        snprintf(cmd, sizeof(cmd),
                 "%s etf decode --format p --max-output=2005 < %s >/dev/null 2>&1", PORTKIT, path);
        cr_assert_eq(sh(cmd), 1);
        snprintf(cmd, sizeof(cmd), "%s etf decode --format p --max-output=2006 < %s >/dev/null",
                 PORTKIT, path);
        cr_assert_eq(sh(cmd), 0);
        snprintf(cmd, sizeof(cmd), "%s etf decode --max-output 4003 < %s | wc -c | grep -qx 4004",
                 PORTKIT, path);
        cr_assert_eq(sh(cmd), 0); /* 4,003 bytes of text and a newline */
        snprintf(cmd, sizeof(cmd), "%s etf decode --max-output 0 < %s > /dev/null", PORTKIT, path);
        cr_assert_eq(sh(cmd), 0);
        snprintf(cmd, sizeof(cmd), "%s etf decode --max-output 1k < %s 2>/dev/null", PORTKIT, path);
        cr_assert_eq(sh(cmd), 100);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        sh(cmd);
}

/* Issue 14: ~p built a 48-byte layout node per list element, so 8 Mi bytes
 * as a byte list (16 MB of text) took 400 MB of nodes.  Runs of leaves now
 * share a node: the peak stays near the text's own size (the sanitizer's
 * quarantine keeps the buffers' earlier sizes resident too). */
Test(etf_hostile, long_list_p_memory_follows_text)
{
        size_t n = 8u << 20;
        uint8_t *bytes = malloc(n);
        cr_assert_not_null(bytes);
        memset(bytes, 1, n); /* not printable: a list of numbers */
        struct pk_term t;
        pk_term_set_string(&t, bytes, (uint32_t)n);
        reset_peak();
        size_t before = vm_kb("VmRSS");
        char *s = NULL;
        size_t len = 0;
        cr_assert_eq(pk_etf_print_p(&t, NULL, &s, &len), 0);
        size_t peak = vm_kb("VmHWM");
        size_t grew = peak > before ? peak - before : 0;
        cr_assert_gt(len, 2 * n);
        cr_assert_eq(strncmp(s, "[1,1,1,", 7), 0);
        cr_assert_lt(grew, 256u << 20, "peak RSS grew by %zu MB for %zu bytes of text", grew >> 20,
                     len);
        free(s);
        free(bytes);
}
