/* SPDX-License-Identifier: MIT */
/* The physical floor: two C processes on two pipes, no framing, no library.
 *   pingpong rtt N      N round trips of a 16-byte message; prints round trips/s
 *   pingpong bw N       N one-way 1 MiB writes; prints MB/s (1e6 bytes) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int full_read(int fd, char *buf, size_t len)
{
        size_t have = 0;
        while (have < len) {
                ssize_t n = read(fd, buf + have, len - have);
                if (n <= 0)
                        return -1;
                have += (size_t)n;
        }
        return 0;
}

static int full_write(int fd, const char *buf, size_t len)
{
        size_t done = 0;
        while (done < len) {
                ssize_t n = write(fd, buf + done, len - done);
                if (n <= 0)
                        return -1;
                done += (size_t)n;
        }
        return 0;
}

int main(int argc, char **argv)
{
        if (argc < 3)
                return 2;
        long n = atol(argv[2]);
        int bw = strcmp(argv[1], "bw") == 0;
        size_t len = bw ? (size_t)1 << 20 : 16;
        int a[2], b[2];
        if (pipe(a) < 0 || pipe(b) < 0)
                return 1;
        char *buf = calloc(1, len);
        if (!buf)
                return 1;
        pid_t c = fork();
        if (c == 0) {
                close(a[1]);
                close(b[0]);
                if (bw) {
                        long total = 0;
                        ssize_t k;
                        while ((k = read(a[0], buf, len)) > 0)
                                total += k;
                        full_write(b[1], (char *)&total, sizeof(total));
                } else {
                        while (full_read(a[0], buf, len) == 0)
                                full_write(b[1], buf, len);
                }
                _exit(0);
        }
        close(a[0]);
        close(b[1]);
        double t0 = now();
        for (long i = 0; i < n; i++) {
                full_write(a[1], buf, len);
                if (!bw)
                        full_read(b[0], buf, len);
        }
        close(a[1]);
        if (bw) {
                long total;
                full_read(b[0], (char *)&total, sizeof(total));
        }
        double dt = now() - t0;
        waitpid(c, NULL, 0);
        if (bw)
                printf("%.1f\n", (double)n * (double)len / dt / 1e6);
        else
                printf("%.0f\n", (double)n / dt);
        return 0;
}
