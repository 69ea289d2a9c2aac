/* SPDX-License-Identifier: MIT */
/* `portkit etf decode|encode`: converts between concatenated ETF terms and
 * Erlang's text syntax.  Each term is printed or written only once it has
 * been converted whole, so a bad term leaves no partial output. */
#include "cli.h"

#include <portkit/etf.h>

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define ETF_MAX_INPUT ((size_t)1 << 30)
/* Default cap on one decoded term's text: a small compressed term can
 * inflate to 128 MiB and print as four bytes a byte. */
#define ETF_DEFAULT_MAX_OUTPUT ((size_t)256 << 20)

static const char etf_usage[] =
    "usage: portkit etf decode [--format w|p] [--max-output BYTES]\n"
    "       portkit etf encode [--compressed[=LEVEL]] [--minor-version V]\n"
    "\n"
    "decode: reads one or more concatenated External Term Format terms on stdin\n"
    "        and prints each on its own line, as io_lib:format(\"~w\") (default)\n"
    "        or \"~p\" would.  A term whose text would pass BYTES (default\n"
    "        268435456; 0: no cap) is refused as bad input.\n"
    "encode: reads terms in Erlang text syntax, each ending with '.', and writes\n"
    "        their encodings concatenated to stdout, as term_to_binary(T,\n"
    "        [{minor_version, V}, {compressed, LEVEL}]) would (V 0..2, default 2;\n"
    "        LEVEL 0..9, 6 when --compressed has no value).\n"
    "\n"
    "Bad input: a message naming the byte offset (decode) or line and column\n"
    "(encode), exit status 1; terms before the bad one are still written.\n";

/* Reads all of stdin into a buffer the caller frees, its length in *ret_len.
 * NULL on failure, *ret_err then -ENOMEM, PK_ETERMSIZE (over the cap) or
 * -errno.  (Success is the non-NULL buffer rather than a 0 return because
 * clang-analyzer cannot tell that -errno is negative.) */
static char *read_all(size_t *ret_len, int *ret_err)
{
        size_t cap = 1 << 16, len = 0;
        char *buf = malloc(cap);
        if (!buf) {
                *ret_err = -ENOMEM;
                return NULL;
        }
        for (;;) {
                if (len == cap) {
                        if (cap >= ETF_MAX_INPUT) {
                                free(buf);
                                *ret_err = PK_ETERMSIZE;
                                return NULL;
                        }
                        char *nb = realloc(buf, cap * 2);
                        if (!nb) {
                                free(buf);
                                *ret_err = -ENOMEM;
                                return NULL;
                        }
                        buf = nb;
                        cap *= 2;
                }
                size_t n = fread(buf + len, 1, cap - len, stdin);
                len += n;
                if (n == 0) {
                        if (ferror(stdin)) {
                                *ret_err = errno ? -errno : -EIO;
                                free(buf);
                                return NULL;
                        }
                        break;
                }
        }
        *ret_len = len;
        return buf;
}

static int input_failure(int r)
{
        pk_cli_error("etf", "cannot read stdin: %s", pk_strerror(r));
        return PK_CLI_EXIT_SYSTEM;
}

static int etf_decode(int argc, char **argv)
{
        bool pretty = false;
        struct pk_etf_print_opts popts = {.max_len = ETF_DEFAULT_MAX_OUTPUT};
        for (int i = 2; i < argc; i++) {
                const char *fmt = NULL, *max = NULL;
                bool is_max = true;
                if (strcmp(argv[i], "--max-output") == 0 && i + 1 < argc)
                        max = argv[++i];
                else if (strncmp(argv[i], "--max-output=", 13) == 0)
                        max = argv[i] + 13;
                else
                        is_max = false;
                if (is_max) {
                        long long v;
                        if (!max || pk_cli_parse_int(max, 0, LLONG_MAX, &v) < 0) {
                                pk_cli_error("etf", "decode: bad --max-output '%s' (bytes)", max);
                                return PK_CLI_EXIT_USAGE;
                        }
                        popts.max_len = v == 0 ? 0 : (size_t)v;
                        continue;
                }
                if (strcmp(argv[i], "--format") == 0 && i + 1 < argc)
                        fmt = argv[++i];
                else if (strncmp(argv[i], "--format=", 9) == 0)
                        fmt = argv[i] + 9;
                if (!fmt || (strcmp(fmt, "w") != 0 && strcmp(fmt, "p") != 0)) {
                        pk_cli_error("etf", "decode: bad argument '%s' (--format w|p)", argv[i]);
                        return PK_CLI_EXIT_USAGE;
                }
                pretty = fmt[0] == 'p';
        }
        size_t len;
        int r;
        char *in = read_all(&len, &r);
        if (!in)
                return input_failure(r);
        pk_arena *a = pk_arena_new(0);
        if (!a) {
                free(in);
                return input_failure(-ENOMEM);
        }
        int status = 0;
        size_t off = 0;
        for (unsigned n = 1; off < len; n++) {
                struct pk_term *t;
                size_t used;
                struct pk_etf_error err = {0};
                r = pk_etf_decode(a, in + off, len - off, NULL, &t, &used, &err);
                if (r < 0) {
                        if (err.in_compressed)
                                pk_cli_error("etf",
                                             "term %u at byte offset %zu: %s (at offset %zu of "
                                             "its inflated data)",
                                             n, off, pk_strerror(r), err.offset);
                        else
                                pk_cli_error("etf", "term %u at byte offset %zu: %s", n,
                                             off + err.offset, pk_strerror(r));
                        status = PK_CLI_EXIT_BADINPUT;
                        break;
                }
                char *s;
                size_t slen;
                r = pretty ? pk_etf_print_p(t, &popts, &s, &slen)
                           : pk_etf_print_w_opts(t, &popts, &s, &slen);
                if (r == PK_ETERMSIZE) {
                        pk_cli_error("etf",
                                     "term %u at byte offset %zu: text longer than %zu bytes "
                                     "(--max-output)",
                                     n, off, popts.max_len);
                        status = PK_CLI_EXIT_BADINPUT;
                        break;
                }
                if (r < 0) {
                        pk_cli_error("etf", "term %u at byte offset %zu: cannot print: %s", n, off,
                                     pk_strerror(r));
                        status = PK_CLI_EXIT_BADINPUT;
                        break;
                }
                s[slen] = '\n';
                size_t wrote = fwrite(s, 1, slen + 1, stdout);
                free(s);
                if (wrote != slen + 1) {
                        pk_cli_error("etf", "cannot write stdout");
                        status = PK_CLI_EXIT_SYSTEM;
                        break;
                }
                off += used;
                pk_arena_reset(a);
        }
        if (fflush(stdout) != 0 && status == 0) {
                pk_cli_error("etf", "cannot write stdout");
                status = PK_CLI_EXIT_SYSTEM;
        }
        pk_arena_free(a);
        free(in);
        return status;
}

static int etf_encode(int argc, char **argv)
{
        struct pk_etf_encode_opts eo = PK_ETF_ENCODE_OPTS_INIT;
        for (int i = 2; i < argc; i++) {
                long long v;
                const char *arg = argv[i];
                if (strcmp(arg, "--compressed") == 0) {
                        eo.compress_level = 6;
                } else if (strncmp(arg, "--compressed=", 13) == 0) {
                        if (pk_cli_parse_int(arg + 13, 0, 9, &v) < 0) {
                                pk_cli_error("etf", "encode: compression level must be 0..9");
                                return PK_CLI_EXIT_USAGE;
                        }
                        eo.compress_level = (int)v;
                } else if (strcmp(arg, "--minor-version") == 0 ||
                           strncmp(arg, "--minor-version=", 16) == 0) {
                        const char *val =
                            arg[15] == '=' ? arg + 16 : (i + 1 < argc ? argv[++i] : "");
                        if (pk_cli_parse_int(val, 0, 2, &v) < 0) {
                                pk_cli_error("etf", "encode: minor version must be 0, 1 or 2");
                                return PK_CLI_EXIT_USAGE;
                        }
                        eo.minor_version = (int)v;
                } else {
                        pk_cli_error("etf", "encode: unknown argument '%s'", arg);
                        return PK_CLI_EXIT_USAGE;
                }
        }
        size_t len;
        int r;
        char *in = read_all(&len, &r);
        if (!in)
                return input_failure(r);
        pk_arena *a = pk_arena_new(0);
        struct pk_etf_buf out;
        pk_etf_buf_init(&out, 0);
        if (!a) {
                free(in);
                return input_failure(-ENOMEM);
        }
        int status = 0;
        size_t off = 0;
        /* Line and column of `off`, so errors inside later terms are reported
         * against the whole input. */
        unsigned line0 = 1, col0 = 1;
        for (;;) {
                struct pk_term *t;
                size_t used;
                struct pk_etf_text_error err = {0};
                r = pk_etf_parse(a, in + off, len - off, NULL, &t, &used, &err);
                if (r == 0)
                        break;
                if (r < 0) {
                        unsigned line = line0 + err.line - 1;
                        unsigned col = err.line == 1 ? col0 + err.column - 1 : err.column;
                        pk_cli_error("etf", "line %u, column %u: %s", line, col, err.message);
                        status = PK_CLI_EXIT_BADINPUT;
                        break;
                }
                pk_etf_buf_reset(&out);
                r = pk_etf_encode(&out, t, &eo);
                if (r < 0) {
                        pk_cli_error("etf", "line %u: cannot encode: %s", line0, pk_strerror(r));
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
        if (fflush(stdout) != 0 && status == 0) {
                pk_cli_error("etf", "cannot write stdout");
                status = PK_CLI_EXIT_SYSTEM;
        }
        pk_etf_buf_free(&out);
        pk_arena_free(a);
        free(in);
        return status;
}

static int etf_main(int argc, char **argv)
{
        if (argc < 2) {
                fputs(etf_usage, stderr);
                return PK_CLI_EXIT_USAGE;
        }
        if (strcmp(argv[1], "decode") == 0)
                return etf_decode(argc, argv);
        if (strcmp(argv[1], "encode") == 0)
                return etf_encode(argc, argv);
        pk_cli_error("etf", "unknown subcommand '%s' (decode or encode)", argv[1]);
        return PK_CLI_EXIT_USAGE;
}

static const struct pk_cli_command etf_command = {
    .name = "etf",
    .summary = "convert between External Term Format and Erlang text",
    .usage = etf_usage,
    .main = etf_main,
};
PK_CLI_COMMAND(etf_command)
