/* SPDX-License-Identifier: MIT */
/* Orphan maker of bench/sup: forks M children that block reading a pipe,
 * prints "ready" and waits for a line on stdin, then exits: the children
 * see the pipe's end (EOF), exit at once and are reparented to the pid
 * namespace's init, which must reap all M.
 * Usage: orph M */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
        int m = argc == 2 ? atoi(argv[1]) : 0;
        int p[2];
        if (m <= 0 || pipe(p) < 0)
                return 100;
        for (int i = 0; i < m; i++) {
                pid_t pid = fork();
                if (pid < 0)
                        return 111;
                if (pid == 0) {
                        char c;
                        close(p[1]);
                        /* the parent's exit (EOF): exit at once.  Whether the
                         * kernel reparents it before or after it died (a
                         * reparented zombie notifies its new parent), init
                         * has to reap it. */
                        while (read(p[0], &c, 1) > 0)
                                ;
                        _exit(0);
                }
        }
        close(p[0]);
        printf("ready\n");
        fflush(stdout);
        char line[16];
        if (!fgets(line, sizeof(line), stdin))
                return 0;
        return 0;
}
