/* SPDX-License-Identifier: MIT */
/* The portkit CLI's shared pieces: subcommand registration, exit codes and
 * option parsers every subcommand uses (durations, integers). */
#ifndef PORTKIT_CLI_H
#define PORTKIT_CLI_H

#include <stdint.h>
#include <stdio.h>

/* Fixed exit codes (s6 style): bad input, usage, system failure.  `run` and
 * `call` exit with the child's status instead when there is one. */
enum {
        PK_CLI_EXIT_BADINPUT = 1,
        PK_CLI_EXIT_USAGE = 100,
        PK_CLI_EXIT_SYSTEM = 111,
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

/* Parses a duration as timeout(1) reads it: a non-negative number (fraction
 * allowed) with an optional unit ms, s (default) or m.  Returns 0 and sets
 * *ret_ms, or -EINVAL. */
int pk_cli_parse_duration(const char *s, int64_t *ret_ms);

/* Parses a whole decimal integer in [min, max]; 0 or -EINVAL/-ERANGE. */
int pk_cli_parse_int(const char *s, long long min, long long max, long long *ret);

#endif
