/* SPDX-License-Identifier: MIT */
/* The anchor: a {packet,4} port program written with no library, the way
 * Erlang's documentation shows.  Echoes every message; with "sink" it only
 * counts bytes and answers an empty message with the 8-byte total. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int read_exact(uint8_t *buf, size_t len)
{
        size_t have = 0;
        while (have < len) {
                ssize_t n = read(0, buf + have, len - have);
                if (n <= 0)
                        return -1;
                have += (size_t)n;
        }
        return 0;
}

static int write_exact(const uint8_t *buf, size_t len)
{
        size_t done = 0;
        while (done < len) {
                ssize_t n = write(1, buf + done, len - done);
                if (n <= 0)
                        return -1;
                done += (size_t)n;
        }
        return 0;
}

int main(int argc, char **argv)
{
        int sink = argc > 1 && strcmp(argv[1], "sink") == 0;
        size_t cap = 1 << 16;
        uint8_t *buf = malloc(cap + 4);
        uint64_t total = 0;
        uint8_t h[4];
        if (!buf)
                return 1;
        while (read_exact(h, 4) == 0) {
                size_t len = (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
                if (len > cap) {
                        uint8_t *nb = realloc(buf, len + 4);
                        if (!nb)
                                return 1;
                        buf = nb;
                        cap = len;
                }
                if (read_exact(buf + 4, len) < 0)
                        return 1;
                total += len;
                if (sink && len > 0)
                        continue;
                if (sink) {
                        uint8_t out[12] = {0, 0, 0, 8};
                        memcpy(out + 4, &total, 8);
                        if (write_exact(out, 12) < 0)
                                return 1;
                        continue;
                }
                memcpy(buf, h, 4);
                if (write_exact(buf, len + 4) < 0)
                        return 1;
        }
        free(buf);
        return 0;
}
