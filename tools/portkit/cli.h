/* SPDX-License-Identifier: MIT */
/* The portkit CLI's shared pieces: subcommand registration, exit codes and
 * option parsers every subcommand uses (durations, integers). */
#ifndef PORTKIT_CLI_H
#define PORTKIT_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* The version `portkit --version` prints (CMake passes the project's). */
#ifndef PK_CLI_VERSION
#        define PK_CLI_VERSION "0.1.0"
#endif

/* Fixed exit codes (s6 style): bad input, usage, system failure.  `run` and
 * `call` exit with the child's status instead when there is one. */
enum {
        PK_CLI_EXIT_BADINPUT = 1,
        PK_CLI_EXIT_USAGE = 100,
        PK_CLI_EXIT_SYSTEM = 111,
        PK_CLI_HELP_SHOWN = -1, /* internal: a parser printed --help; exit 0 */
};

struct pk_cli_command {
        const char *name;                   /* "run", "etf", "call" */
        const char *summary;                /* one line for `portkit --help` */
        const char *usage;                  /* full text for `portkit NAME --help` */
        int (*main)(int argc, char **argv); /* argv[0] is NAME */
};

void pk_cli_register(const struct pk_cli_command *cmd);

/* Each cmd_*.c file registers itself; main.c needs no list of them. */
#define PK_CLI_COMMAND(var)                                                                        \
        __attribute__((constructor)) static void var##_register(void)                              \
        {                                                                                          \
                pk_cli_register(&(var));                                                           \
        }

/* Prints "portkit NAME: message" to stderr. */
void pk_cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* True for "--help" and "-h". */
bool pk_cli_is_help(const char *arg);

/* The option loop's stop test for `[OPTIONS] [--] OPERANDS...`, the same in
 * every subcommand: true when argv[*i] ends the options, either "--" (*i
 * then steps past it) or a word that is not an option (no leading '-', or a
 * lone "-").  argv[*i] must exist. */
bool pk_cli_options_end(char **argv, int *i);

/* Prints "unknown option 'OPT' (see portkit CMD --help)" and returns
 * PK_CLI_EXIT_USAGE: every subcommand words it the same way. */
int pk_cli_unknown_option(const char *cmd, const char *opt);

/* Prints "option 'OPT' needs a value ..." and returns PK_CLI_EXIT_USAGE. */
int pk_cli_missing_value(const char *cmd, const char *opt);

/* Parses a duration as timeout(1) reads it, strictly: DIGITS[.DIGITS] with
 * an optional unit ms, s (default), m, h or d; no sign, blank, hex or
 * exponent.  Rounds up to whole ms.  Returns 0 and sets *ret_ms, or
 * -EINVAL/-ERANGE. */
int pk_cli_parse_duration(const char *s, int64_t *ret_ms);

/* A --timeout value, the same for every subcommand: a duration, where 0 and
 * "infinity" mean no timeout (*ret_ms = -1). */
int pk_cli_parse_timeout(const char *s, int64_t *ret_ms);

/* Parses a whole decimal integer in [min, max]; 0 or -EINVAL/-ERANGE.  No
 * leading blanks or '+'. */
int pk_cli_parse_int(const char *s, long long min, long long max, long long *ret);

/* Parses a byte count with an optional suffix k, M, G or T (powers of 1024;
 * "Ki"/"KiB"/"kB" spellings accepted) up to max; 0 or -EINVAL/-ERANGE. */
int pk_cli_parse_size(const char *s, unsigned long long max, unsigned long long *ret);

/* Resource limits by name, for --rlimit (run, wrap): the RLIMIT_* number of
 * the name[0..len) ("NOFILE" or "RLIMIT_NOFILE", any case), or -1. */
int pk_cli_rlimit_from_name(const char *name, size_t len);

/* Parses an --rlimit value NAME=SOFT[:HARD], the same for every subcommand:
 * NAME as pk_cli_rlimit_from_name() reads it; SOFT and HARD a byte count
 * (pk_cli_parse_size(), up to 2^63-1) or "unlimited"/"infinity"
 * (PK_RLIM_INFINITY); HARD defaults to SOFT.  Returns 0 and sets *ret_res,
 * *ret_soft and *ret_hard; or -EINVAL (no NAME=), -ENOENT (unknown NAME),
 * -EDOM (bad SOFT or HARD), -ERANGE (SOFT above HARD), writing nothing. */
int pk_cli_parse_rlimit(const char *arg, int *ret_res, unsigned long long *ret_soft,
                        unsigned long long *ret_hard);

/* Parses a --umask value: an octal mode 0..0777, digits 0-7 only (no sign or
 * blank).  0 and *ret, or -EINVAL. */
int pk_cli_parse_umask(const char *s, unsigned *ret);

/* Splits an --env value K=V: the length of K (at least 1), or -EINVAL when
 * there is no '=' or K is empty.  V starts after the '='. */
int pk_cli_env_key_len(const char *kv);

/* The name (without RLIMIT_) of resource number res, or NULL. */
const char *pk_cli_rlimit_name(int res);

/* The i'th known name, NULL past the last (for listing them). */
const char *pk_cli_rlimit_nth(size_t i);

/* Default --timeout of `portkit call`, in ms (generous, finite). */
#define PK_CLI_CALL_DEFAULT_TIMEOUT_MS 60000

#endif
