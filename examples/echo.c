/* SPDX-License-Identifier: MIT */
/* echo: a port program that sends every message back unchanged.
 *
 *   echo [--packet N | --line L | --stream] [--nouse-stdio]
 *
 * Open it from Erlang with the same framing, e.g.
 *   open_port({spawn_executable, "build/examples/echo"},
 *             [{packet, 4}, binary, exit_status, {args, ["--packet", "4"]}])
 * In line mode a complete line comes back with its newline, a piece of a long
 * line without one, so the host sees the same lines again.  Exits 0 when the
 * host closes the port, 1 on an error (reported on stderr). */
#include <portkit.h>
#include <signal.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
        fprintf(stderr, "usage: echo [--packet 1|2|4 | --line L | --stream] [--nouse-stdio]\n");
        return 2;
}

int main(int argc, char **argv)
{
        /* Like every child of the Erlang VM, this port program ignores
         * SIGPIPE: a host that went away is an -EPIPE return, and the port
         * side then skips its SIGPIPE guard (two syscalls per write). */
        signal(SIGPIPE, SIG_IGN);
        struct pk_framing f = {.kind = PK_FRAMING_STREAM};
        unsigned int flags = 0;
        for (int i = 1; i < argc; i++) {
                int m = pk_framing_option(argc, argv, &i, &f);
                if (m == 0 && strcmp(argv[i], "--nouse-stdio") == 0)
                        flags |= PK_PORT_SELF_NOUSE_STDIO;
                else if (m <= 0)
                        return usage();
        }
        struct pk_port_self *port;
        int r = pk_port_self_open(&f, flags, &port);
        if (r < 0) {
                fprintf(stderr, "echo: %s\n", pk_strerror(r));
                return r == -EINVAL ? usage() : 1;
        }
        struct pk_packet_msg m;
        while ((r = pk_port_self_read(port, &m)) == 1) {
                r = pk_port_self_write(port, m.data, m.len);
                if (r == 0 && m.flags == PK_PACKET_EOL)
                        r = pk_port_self_write(port, "\n", 1);
                if (r < 0)
                        break;
        }
        pk_port_self_close(port);
        if (r < 0) {
                fprintf(stderr, "echo: %s\n", pk_strerror(r));
                return 1;
        }
        return 0;
}
