/* SPDX-License-Identifier: MIT */
/* Option parsers and error printing shared by every subcommand. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void pk_cli_error(const char *cmd, const char *fmt, ...)
{
        va_list ap;
        fprintf(stderr, "portkit %s: ", cmd);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

int pk_cli_parse_duration(const char *s, int64_t *ret_ms)
{
        if (!s || !*s || *s == '-' || *s == '+')
                return -EINVAL;
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (errno || end == s || !isfinite(v) || v < 0)
                return -EINVAL;
        double scale;
        if (*end == '\0' || strcmp(end, "s") == 0)
                scale = 1000.0;
        else if (strcmp(end, "ms") == 0)
                scale = 1.0;
        else if (strcmp(end, "m") == 0)
                scale = 60000.0;
        else
                return -EINVAL;
        double ms = ceil(v * scale);
        if (ms > 9.0e15)
                return -ERANGE;
        *ret_ms = (int64_t)ms;
        return 0;
}

int pk_cli_parse_int(const char *s, long long min, long long max, long long *ret)
{
        if (!s || !*s)
                return -EINVAL;
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (end == s || *end)
                return -EINVAL;
        if (errno == ERANGE || v < min || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}
