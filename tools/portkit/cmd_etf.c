/* SPDX-License-Identifier: MIT */
/* `portkit etf decode|encode`: converts between concatenated ETF terms and
 * Erlang's text syntax.  Each term is printed or written only once it has
 * been converted whole, so a bad term leaves no partial output. */
#include "cli.h"
#include "common/dynbuf.h"

#include <portkit/etf.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The CLI's limits: a command-line tool reads what erl's binary_to_term would,
 * so its defaults are far above the library's safe ones (options change them). */
#define ETF_CLI_DEFAULT_MAX_SIZE ((size_t)4 << 30)
#define ETF_CLI_DEFAULT_MAX_DEPTH 10000u
/* Default cap on one decoded term's text: a small compressed term can
 * inflate to 128 MiB and print as four bytes a byte. */
#define ETF_CLI_DEFAULT_MAX_OUTPUT ((size_t)256 << 20)

static const char etf_usage[] =
    "usage: portkit etf decode [--format w|p] [--dot] [--max-output BYTES] [LIMITS]\n"
    "                          [FILE...]\n"
    "       portkit etf encode [--compressed[=LEVEL]] [--minor-version V] [--deterministic]\n"
    "                          [LIMITS] [FILE...]\n"
    "\n"
    "decode: reads one or more concatenated External Term Format terms from each\n"
    "        FILE (or stdin; '-' is stdin too) and prints each on its own line, as\n"
    "        io_lib:format(\"~w\") (default) or \"~p\" would.  A term whose text\n"
    "        would pass BYTES (default 268435456; 0: no cap) is refused as bad input.\n"
    "        --dot ends each term with '.', as encode reads them (decode --dot |\n"
    "        encode gives back the same bytes).\n"
    "encode: reads terms in Erlang text syntax, each ending with '.', and writes\n"
    "        their encodings concatenated to stdout, as term_to_binary(T,\n"
    "        [{minor_version, V}, {compressed, LEVEL}]) would (V 0..2, default 2;\n"
    "        LEVEL 0..9, 6 when --compressed has no value).  Maps of over 32 keys\n"
    "        come out in OTP 25's hash-trie order, or sorted with --deterministic\n"
    "        (term_to_binary's [deterministic]).\n"
    "\n"
    "LIMITS (what input may make portkit allocate):\n"
    "  --max-size SIZE    largest input and decoded term, and (encode) largest\n"
    "                     binary or string literal; suffix k, M, G or T (default 4G)\n"
    "  --max-depth N      deepest nesting of lists, tuples and maps (default 10000)\n"
    "\n"
    "Bad input: a message naming the file and the byte offset (decode) or line and\n"
    "column (encode), exit status 1; terms before the bad one are still written.\n";

struct etf_opts {
        bool pretty;
        bool dot; /* decode: end each term with '.' (what encode reads) */
        size_t max_size;
        size_t max_output; /* decode: longest text of one term (0: no cap) */
        uint32_t max_depth;
        struct pk_etf_encode_opts eo;
};

/* Reads all of fd into a buffer the caller frees, its length in *ret_len.
 * NULL on failure, *ret_err then -ENOMEM, PK_ETERMSIZE (over max) or
 * -errno.  (Success is the non-NULL buffer rather than a 0 return because
 * clang-analyzer cannot tell that -errno is negative.) */
static char *read_all(int fd, size_t max, size_t *ret_len, int *ret_err)
{
        struct pk__dynbuf b;
        pk__dynbuf_init(&b, max, PK_ETERMSIZE);
        int r = pk__dynbuf_read_fd(&b, fd, 0);
        char *s = r == 1 ? pk__dynbuf_take(&b, ret_len) : NULL;
        if (!s) {
                *ret_err = r == 1 ? b.err : r == 0 ? -EAGAIN : r;
                pk__dynbuf_free(&b);
        }
        return s;
}

/* Decodes every term of in[0..len) and prints it; returns 0 or an exit code. */
static int etf_decode(const struct etf_opts *o, const char *name, const char *in, size_t len)
{
        pk_arena *a = pk_arena_new(o->max_size);
        if (!a) {
                pk_cli_error("etf", "out of memory");
                return PK_CLI_EXIT_SYSTEM;
        }
        const struct pk_etf_decode_opts dopts = {.max_depth = o->max_depth,
                                                 .max_size = o->max_size};
        const struct pk_etf_print_opts popts = {.max_depth = o->max_depth,
                                                .max_len = o->max_output};
        int status = 0;
        size_t off = 0;
        for (unsigned n = 1; off < len; n++) {
                struct pk_term *t;
                size_t used;
                struct pk_etf_error err = {0};
                int r = pk_etf_decode(a, in + off, len - off, &dopts, &t, &used, &err);
                if (r < 0) {
                        if (err.in_compressed)
                                pk_cli_error("etf",
                                             "%s: term %u at byte offset %zu: %s (at offset %zu "
                                             "of its inflated data)",
                                             name, n, off, pk_strerror(r), err.offset);
                        else
                                pk_cli_error("etf", "%s: term %u at byte offset %zu: %s%s", name, n,
                                             off + err.offset, pk_strerror(r),
                                             r == PK_ETERMSIZE ? " (see --max-size)"
                                             : r == PK_EDEPTH  ? " (see --max-depth)"
                                                               : "");
                        status = PK_CLI_EXIT_BADINPUT;
                        break;
                }
                char *s;
                size_t slen;
                r = o->pretty ? pk_etf_print_p(t, &popts, &s, &slen)
                              : pk_etf_print_w_opts(t, &popts, &s, &slen);
                if (r == PK_ETERMSIZE) {
                        pk_cli_error("etf",
                                     "%s: term %u at byte offset %zu: text longer than %zu bytes "
                                     "(see --max-output)",
                                     name, n, off, popts.max_len);
                        status = PK_CLI_EXIT_BADINPUT;
                        break;
                }
                if (r < 0) {
                        pk_cli_error("etf", "%s: term %u at byte offset %zu: cannot print: %s",
                                     name, n, off, pk_strerror(r));
                        status = PK_CLI_EXIT_BADINPUT;
                        break;
                }
                size_t wrote = fwrite(s, 1, slen, stdout);
                free(s);
                const char *end = o->dot ? ".\n" : "\n";
                if (wrote != slen || fputs(end, stdout) == EOF) {
                        pk_cli_error("etf", "cannot write stdout");
                        status = PK_CLI_EXIT_SYSTEM;
                        break;
                }
                off += used;
                pk_arena_reset(a);
        }
        pk_arena_free(a);
        return status;
}

/* Parses every term of in[0..len) and writes its encoding; 0 or an exit code. */
static int etf_encode(const struct etf_opts *o, const char *name, const char *in, size_t len)
{
        pk_arena *a = pk_arena_new(o->max_size);
        if (!a) {
                pk_cli_error("etf", "out of memory");
                return PK_CLI_EXIT_SYSTEM;
        }
        const struct pk_etf_parse_opts popts = {
            .max_depth = o->max_depth,
            .max_binary = o->max_size,
        };
        struct pk_etf_buf out;
        pk_etf_buf_init(&out, o->max_size);
        int status = 0;
        size_t off = 0;
        /* Line and column of `off`, so errors inside later terms are reported
         * against the whole input. */
        unsigned line0 = 1, col0 = 1;
        for (;;) {
                struct pk_term *t;
                size_t used;
                struct pk_etf_text_error err = {0};
                int r = pk_etf_parse(a, in + off, len - off, &popts, &t, &used, &err);
                if (r == 0)
                        break;
                if (r < 0) {
                        unsigned line = line0 + err.line - 1;
                        unsigned col = err.line == 1 ? col0 + err.column - 1 : err.column;
                        pk_cli_error("etf", "%s: line %u, column %u: %s%s", name, line, col,
                                     err.message,
                                     r == PK_ETERMSIZE ? " (see --max-size)"
                                     : r == PK_EDEPTH  ? " (see --max-depth)"
                                                       : "");
                        status = PK_CLI_EXIT_BADINPUT;
                        break;
                }
                pk_etf_buf_reset(&out);
                r = pk_etf_encode(&out, t, &o->eo);
                if (r < 0) {
                        pk_cli_error("etf", "%s: line %u: cannot encode: %s", name, line0,
                                     pk_strerror(r));
                        status = PK_CLI_EXIT_BADINPUT;
                        break;
                }
                if (fwrite(out.data, 1, out.len, stdout) != out.len) {
                        pk_cli_error("etf", "cannot write stdout");
                        status = PK_CLI_EXIT_SYSTEM;
                        break;
                }
                for (size_t i = off; i < off + used; i++) {
                        if (in[i] == '\n') {
                                line0++;
                                col0 = 1;
                        } else if (((unsigned char)in[i] & 0xC0) != 0x80) {
                                col0++;
                        }
                }
                off += used;
                pk_arena_reset(a);
        }
        pk_etf_buf_free(&out);
        pk_arena_free(a);
        return status;
}

/* Parses decode's or encode's options; *ret_first is the first FILE. */
static int etf_options(bool encode, int argc, char **argv, struct etf_opts *o, int *ret_first)
{
        const char *cmd = encode ? "etf encode" : "etf decode";
        int i = 2;
        for (; i < argc; i++) {
                if (pk_cli_options_end(argv, &i))
                        break;
                const char *arg = argv[i];
                const char *eq = strchr(arg, '=');
                size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);
                const char *val = eq ? eq + 1 : NULL;
#define IS(name) (nlen == strlen(name) && strncmp(arg, name, nlen) == 0)
                if (encode && IS("--compressed")) {
                        long long v = 6;
                        if (val && pk_cli_parse_int(val, 0, 9, &v) < 0) {
                                pk_cli_error(cmd, "compression level must be 0..9");
                                return PK_CLI_EXIT_USAGE;
                        }
                        o->eo.compress_level = (int)v;
                        continue;
                }
                if (!encode && IS("--dot") && !val) {
                        o->dot = true;
                        continue;
                }
                if (encode && IS("--deterministic") && !val) {
                        o->eo.deterministic = 1;
                        continue;
                }
                bool takes = IS("--max-size") || IS("--max-depth") || (!encode && IS("--format")) ||
                             (!encode && IS("--max-output")) || (encode && IS("--minor-version"));
                if (!takes)
                        return pk_cli_unknown_option(cmd, arg);
                if (!val) {
                        if (i + 1 >= argc)
                                return pk_cli_missing_value(cmd, arg);
                        val = argv[++i];
                }
                long long v;
                unsigned long long sz;
                if (IS("--format")) {
                        if (strcmp(val, "w") != 0 && strcmp(val, "p") != 0) {
                                pk_cli_error(cmd, "--format takes w or p, not '%s'", val);
                                return PK_CLI_EXIT_USAGE;
                        }
                        o->pretty = val[0] == 'p';
                } else if (IS("--minor-version")) {
                        if (pk_cli_parse_int(val, 0, 2, &v) < 0) {
                                pk_cli_error(cmd, "minor version must be 0, 1 or 2");
                                return PK_CLI_EXIT_USAGE;
                        }
                        o->eo.minor_version = (int)v;
                } else if (IS("--max-output")) {
                        if (pk_cli_parse_int(val, 0, (long long)(SIZE_MAX / 2), &v) < 0) {
                                pk_cli_error(cmd, "bad --max-output '%s' (bytes; 0: no cap)", val);
                                return PK_CLI_EXIT_USAGE;
                        }
                        o->max_output = (size_t)v;
                } else if (IS("--max-size")) {
                        if (pk_cli_parse_size(val, SIZE_MAX / 2, &sz) < 0 || sz == 0) {
                                pk_cli_error(cmd, "bad --max-size '%s'", val);
                                return PK_CLI_EXIT_USAGE;
                        }
                        o->max_size = (size_t)sz;
                } else {
                        if (pk_cli_parse_int(val, 1, 100000000, &v) < 0) {
                                pk_cli_error(cmd, "--max-depth takes 1..100000000, not '%s'", val);
                                return PK_CLI_EXIT_USAGE;
                        }
                        o->max_depth = (uint32_t)v;
                }
#undef IS
        }
        *ret_first = i;
        return 0;
}

static int etf_main(int argc, char **argv)
{
        if (argc < 2) {
                fputs(etf_usage, stderr);
                return PK_CLI_EXIT_USAGE;
        }
        bool encode = strcmp(argv[1], "encode") == 0;
        if (!encode && strcmp(argv[1], "decode") != 0) {
                pk_cli_error("etf", "unknown subcommand '%s' (decode or encode)", argv[1]);
                return PK_CLI_EXIT_USAGE;
        }
        for (int i = 2; i < argc && strcmp(argv[i], "--") != 0; i++) {
                if (pk_cli_is_help(argv[i])) {
                        fputs(etf_usage, stdout);
                        return 0;
                }
        }
        struct etf_opts o = {.max_size = ETF_CLI_DEFAULT_MAX_SIZE,
                             .max_output = ETF_CLI_DEFAULT_MAX_OUTPUT,
                             .max_depth = ETF_CLI_DEFAULT_MAX_DEPTH,
                             .eo = PK_ETF_ENCODE_OPTS_INIT};
        int first = argc;
        int status = etf_options(encode, argc, argv, &o, &first);
        if (status)
                return status;
        char *stdin_name[] = {(char *)(uintptr_t) "-"};
        char **files = first < argc ? argv + first : stdin_name;
        int nfiles = first < argc ? argc - first : 1;
        for (int k = 0; k < nfiles && status == 0; k++) {
                bool is_stdin = strcmp(files[k], "-") == 0;
                const char *name = is_stdin ? "stdin" : files[k];
                int fd = is_stdin ? 0 : open(files[k], O_RDONLY | O_CLOEXEC);
                if (fd < 0) {
                        pk_cli_error("etf", "%s: %s", name, strerror(errno));
                        status = PK_CLI_EXIT_BADINPUT;
                        break;
                }
                size_t len = 0;
                int r = 0;
                char *in = read_all(fd, o.max_size, &len, &r);
                if (!is_stdin)
                        close(fd);
                if (!in) {
                        pk_cli_error("etf", "cannot read %s: %s%s", name, pk_strerror(r),
                                     r == PK_ETERMSIZE ? " (see --max-size)" : "");
                        status = r == PK_ETERMSIZE ? PK_CLI_EXIT_BADINPUT : PK_CLI_EXIT_SYSTEM;
                        break;
                }
                status = encode ? etf_encode(&o, name, in, len) : etf_decode(&o, name, in, len);
                free(in);
        }
        if (fflush(stdout) != 0 && status == 0) {
                pk_cli_error("etf", "cannot write stdout");
                status = PK_CLI_EXIT_SYSTEM;
        }
        return status;
}

static const struct pk_cli_command etf_command = {
    .name = "etf",
    .summary = "convert between External Term Format and Erlang text",
    .usage = etf_usage,
    .main = etf_main,
};
PK_CLI_COMMAND(etf_command)
