/* SPDX-License-Identifier: MIT */
/* The floor of bench/sup: the least a supervisor can do.  Starts N copies
 * of PROG with posix_spawn, then blocks in waitpid(-1) and starts a new copy
 * for each one that dies (other pids, orphans when it is PID 1, are just
 * reaped).  No restart policy, no limits, no events.
 * Usage: floor N PROG */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

extern char **environ;

int main(int argc, char **argv)
{
        if (argc != 3)
                return 100;
        long n = atol(argv[1]);
        if (n <= 0 || n > 1000000)
                return 100;
        pid_t *pids = calloc((size_t)n, sizeof(*pids));
        char *args[] = {argv[2], NULL};
        if (!pids)
                return 111;
        for (long i = 0; i < n; i++)
                if (posix_spawn(&pids[i], argv[2], NULL, NULL, args, environ) != 0)
                        return 111;
        for (;;) {
                pid_t pid = waitpid(-1, NULL, 0);
                if (pid < 0)
                        continue;
                for (long i = 0; i < n; i++)
                        if (pids[i] == pid)
                                (void)posix_spawn(&pids[i], argv[2], NULL, NULL, args, environ);
        }
}
