/* SPDX-License-Identifier: MIT */
/* portkit's entry point: dispatches to the subcommands that registered
 * themselves (one cmd_*.c file each). */
#include "cli.h"
#include "supervise.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PK_CLI_MAX_COMMANDS 16

static const struct pk_cli_command *commands[PK_CLI_MAX_COMMANDS];
static size_t n_commands;

void pk_cli_register(const struct pk_cli_command *cmd)
{
        if (n_commands < PK_CLI_MAX_COMMANDS)
                commands[n_commands++] = cmd;
}

static int by_name(const void *a, const void *b)
{
        const struct pk_cli_command *const *x = a, *const *y = b;
        return strcmp((*x)->name, (*y)->name);
}

static void usage(FILE *out)
{
        fprintf(out, "usage: portkit COMMAND [OPTIONS] ...\n\n"
                     "Runs programs as Erlang-style ports and speaks the Erlang External Term "
                     "Format.\n\ncommands:\n");
        for (size_t i = 0; i < n_commands; i++)
                fprintf(out, "  %-8s %s\n", commands[i]->name, commands[i]->summary);
        fprintf(out, "\n`portkit help COMMAND` or `portkit COMMAND --help` describes a command;\n"
                     "`portkit --version` (-V) prints the version.\n"
                     "Exit status: the command's own, 1 for bad input, 100 for bad usage, "
                     "111 for a system failure.\n");
}

static const struct pk_cli_command *find(const char *name)
{
        for (size_t i = 0; i < n_commands; i++)
                if (strcmp(name, commands[i]->name) == 0)
                        return commands[i];
        return NULL;
}

static int unknown_command(const char *name)
{
        fprintf(stderr, "portkit: unknown command '%s' (see portkit --help)\n", name);
        return PK_CLI_EXIT_USAGE;
}

int main(int argc, char **argv)
{
        qsort(commands, n_commands, sizeof(const struct pk_cli_command *), by_name);
        /* Invoked through a `systemctl` symlink: the ctl command in systemctl's clothes. */
        const char *base = argc > 0 ? strrchr(argv[0], '/') : NULL;
        if (argc > 0 && strcmp(base ? base + 1 : argv[0], "systemctl") == 0)
                return pk_sv_ctl_main(argc, argv, 1);
        if (argc < 2) {
                usage(stderr);
                return PK_CLI_EXIT_USAGE;
        }
        const char *a = argv[1];
        if (pk_cli_is_help(a)) {
                usage(stdout);
                return 0;
        }
        if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
                printf("portkit %s\n", PK_CLI_VERSION);
                return 0;
        }
        if (strcmp(a, "help") == 0) {
                if (argc < 3) {
                        usage(stdout);
                        return 0;
                }
                const struct pk_cli_command *c = find(argv[2]);
                if (!c)
                        return unknown_command(argv[2]);
                fputs(c->usage, stdout);
                return 0;
        }
        if (a[0] == '-') {
                fprintf(stderr, "portkit: unknown option '%s' (see portkit --help)\n", a);
                return PK_CLI_EXIT_USAGE;
        }
        const struct pk_cli_command *c = find(a);
        if (!c)
                return unknown_command(a);
        /* `portkit CMD --help`; each command also takes --help among its options. */
        if (argc > 2 && pk_cli_is_help(argv[2])) {
                fputs(c->usage, stdout);
                return 0;
        }
        return c->main(argc - 1, argv + 1);
}
