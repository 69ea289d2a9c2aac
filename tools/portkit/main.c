/* SPDX-License-Identifier: MIT */
/* portkit's entry point: dispatches to the subcommands that registered
 * themselves (one cmd_*.c file each). */
#include "cli.h"
#include "supervise.h"

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
        fprintf(out, "\n`portkit COMMAND --help` describes a command.\n"
                     "Exit status: the command's own, 1 for bad input, 100 for bad usage, "
                     "111 for a system failure.\n");
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
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
            strcmp(argv[1], "help") == 0) {
                usage(stdout);
                return 0;
        }
        if (strcmp(argv[1], "--version") == 0) {
                puts("portkit 0.1.0");
                return 0;
        }
        for (size_t i = 0; i < n_commands; i++) {
                if (strcmp(argv[1], commands[i]->name) != 0)
                        continue;
                if (argc > 2 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
                        fputs(commands[i]->usage, stdout);
                        return 0;
                }
                return commands[i]->main(argc - 1, argv + 1);
        }
        fprintf(stderr, "portkit: unknown command '%s'\n", argv[1]);
        usage(stderr);
        return PK_CLI_EXIT_USAGE;
}
