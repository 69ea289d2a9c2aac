/* SPDX-License-Identifier: MIT */
/* portkit host side benchmarks (blocking API, {packet,4}):
 *   host_bench rtt N [--nouse] PROG ARGS...   N calls of 16 bytes; prints round trips/s
 *   host_bench bw N [--nouse] PROG ARGS...    N one-way 1 MiB messages to a sink port
 *                                             (answers an empty message with its byte
 *                                             count); prints MB/s
 *   host_bench idle N PROG ARGS...            opens N ports; prints heap bytes per idle port */
#include <portkit.h>
#include <signal.h>

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int r)
{
        fprintf(stderr, "host_bench: %s: %s\n", what, pk_strerror(r));
        exit(1);
}

int main(int argc, char **argv)
{
        /* Hosts ignore SIGPIPE, as the BEAM does; the port layer then skips
         * its SIGPIPE guard (two syscalls per write). */
        signal(SIGPIPE, SIG_IGN);
        if (argc < 4)
                return 2;
        const char *mode = argv[1];
        long n = atol(argv[2]);
        int i = 3;
        struct pk_port_opts o = {.framing = {.kind = PK_FRAMING_PACKET, .arg = 4}};
        if (strcmp(argv[i], "--nouse") == 0) {
                o.flags |= PK_PORT_NOUSE_STDIO;
                i++;
        }
        const char *prog = argv[i];
        const char *const *args = (const char *const *)(argv + i + 1);
        if (strcmp(mode, "idle") == 0) {
                struct pk_port **ports = calloc((size_t)n, sizeof(*ports));
                struct mallinfo2 before = mallinfo2();
                for (long k = 0; k < n; k++) {
                        int r = pk_port_open_executable(prog, args, &o, &ports[k]);
                        if (r < 0)
                                die("open", r);
                }
                struct mallinfo2 after = mallinfo2();
                printf("%.0f\n", (double)(after.uordblks - before.uordblks) / (double)n);
                for (long k = 0; k < n; k++) {
                        pk_port_close_input(ports[k]);
                        pk_port_wait(ports[k], -1, NULL);
                        pk_port_close(ports[k], NULL);
                }
                free(ports);
                return 0;
        }
        struct pk_port *p;
        int r = pk_port_open_executable(prog, args, &o, &p);
        if (r < 0)
                die("open", r);
        struct pk_port_msg m;
        double t0, dt;
        if (strcmp(mode, "rtt") == 0) {
                char msg[16] = "0123456789abcdef";
                t0 = now();
                for (long k = 0; k < n; k++)
                        if ((r = pk_port_call(p, msg, sizeof(msg), &m, -1)) != 1)
                                die("call", r);
                dt = now() - t0;
                printf("%.0f\n", (double)n / dt);
        } else {
                size_t len = (size_t)1 << 20;
                char *buf = calloc(1, len);
                t0 = now();
                for (long k = 0; k < n; k++)
                        if ((r = pk_port_send(p, buf, len)) < 0)
                                die("send", r);
                if ((r = pk_port_call(p, "", 0, &m, -1)) != 1 || m.len != 8)
                        die("sink reply", r);
                dt = now() - t0;
                uint64_t total;
                memcpy(&total, m.data, 8);
                if (total != (uint64_t)n * len)
                        die("sink count", -EIO);
                printf("%.1f\n", (double)n * (double)len / dt / 1e6);
                free(buf);
        }
        pk_port_close_input(p);
        pk_port_wait(p, -1, NULL);
        pk_port_close(p, NULL);
        return 0;
}
