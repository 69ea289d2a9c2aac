/* SPDX-License-Identifier: MIT */
/* The framing options of a command line (--packet N, --line L, --stream), one
 * parser for port programs, hosts and the CLI so they all agree. */
#include "internal.h"
#include "portkit/packet.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

/* A decimal number of 1..UINT_MAX with nothing around it, or 0. */
static unsigned int parse_count(const char *s)
{
        unsigned long long v = 0;
        if (!s || !*s)
                return 0;
        for (; *s; s++) {
                if (*s < '0' || *s > '9')
                        return 0;
                v = v * 10 + (unsigned)(*s - '0');
                if (v > UINT_MAX)
                        return 0;
        }
        return (unsigned int)v;
}

int pk_framing_option(int argc, char *const *argv, int *i, struct pk_framing *f)
{
        if (!argv || !i || !f || *i < 0 || *i >= argc || !argv[*i])
                return -EINVAL;
        const char *a = argv[*i];
        struct pk_framing n = *f;
        if (strcmp(a, "--stream") == 0) {
                n.kind = PK_FRAMING_STREAM;
                n.arg = 0;
        } else if (strcmp(a, "--packet") == 0 || strcmp(a, "--line") == 0) {
                if (*i + 1 >= argc)
                        return -EINVAL;
                n.kind = a[2] == 'p' ? PK_FRAMING_PACKET : PK_FRAMING_LINE;
                n.arg = parse_count(argv[*i + 1]);
        } else {
                return 0;
        }
        struct pk_framing checked;
        if (pk_framing_normalize(&n, &checked) < 0)
                return -EINVAL;
        *i += n.kind == PK_FRAMING_STREAM ? 0 : 1;
        f->kind = n.kind;
        f->arg = n.arg;
        return 1;
}
