/* SPDX-License-Identifier: MIT */
/* A portkit port program for the throughput runs: reads {packet,4} messages
 * with pk_port_self, counts their bytes and answers an empty message with
 * the 8-byte total.  --nouse-stdio talks on fds 3/4. */
#include <portkit.h>

#include <string.h>

int main(int argc, char **argv)
{
        struct pk_framing f = {.kind = PK_FRAMING_PACKET, .arg = 4};
        unsigned int flags =
            argc > 1 && strcmp(argv[1], "--nouse-stdio") == 0 ? PK_PORT_SELF_NOUSE_STDIO : 0;
        struct pk_port_self *s;
        if (pk_port_self_open(&f, flags, &s) < 0)
                return 1;
        uint64_t total = 0;
        struct pk_packet_msg m;
        int r;
        while ((r = pk_port_self_read(s, &m)) == 1) {
                total += m.len;
                if (m.len == 0 && pk_port_self_write(s, &total, sizeof(total)) < 0)
                        break;
        }
        pk_port_self_close(s);
        return r == 0 ? 0 : 1;
}
