/* SPDX-License-Identifier: MIT */
/* Option parsers and error printing shared by every subcommand. */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>

void pk_cli_error(const char *cmd, const char *fmt, ...)
{
        va_list ap;
        fprintf(stderr, "portkit %s: ", cmd);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

int pk_cli_unknown_option(const char *cmd, const char *opt)
{
        pk_cli_error(cmd, "unknown option '%s' (see portkit %s --help)", opt, cmd);
        return PK_CLI_EXIT_USAGE;
}

int pk_cli_missing_value(const char *cmd, const char *opt)
{
        pk_cli_error(cmd, "option '%s' needs a value (see portkit %s --help)", opt, cmd);
        return PK_CLI_EXIT_USAGE;
}

/* Reads DIGITS[.DIGITS] at *s: the value scaled by 10^9 (so fractions up to
 * nanoseconds are exact) in *ret, or -EINVAL/-ERANGE.  No sign, no blanks,
 * no hex, no exponent: strtod() accepts all of those. */
static int parse_decimal(const char **s, unsigned long long *ret_nano)
{
        const char *p = *s;
        unsigned long long whole = 0, frac = 0, scale = 1000000000ULL;
        if (*p < '0' || *p > '9')
                return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++) {
                if (whole > (~0ULL / 1000000000ULL - 10) / 10)
                        return -ERANGE;
                whole = whole * 10 + (unsigned)(*p - '0');
        }
        if (*p == '.') {
                p++;
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                for (; *p >= '0' && *p <= '9'; p++) {
                        if (scale > 1) {
                                scale /= 10;
                                frac += (unsigned)(*p - '0') * scale;
                        }
                }
        }
        *ret_nano = whole * 1000000000ULL + frac;
        *s = p;
        return 0;
}

int pk_cli_parse_duration(const char *s, int64_t *ret_ms)
{
        if (!s)
                return -EINVAL;
        unsigned long long nano;
        int r = parse_decimal(&s, &nano);
        if (r < 0)
                return r;
        /* nano is the number in units of 1e-9; per_unit is one unit in ms. */
        static const struct {
                const char *name;
                unsigned long long ms;
        } units[] = {{"", 1000},   {"ms", 1},      {"s", 1000},
                     {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
                if (strcmp(s, units[i].name) != 0)
                        continue;
                /* ms = ceil(nano * unit_ms / 1e9), without overflow. */
                unsigned long long q = nano / 1000000000ULL, rem = nano % 1000000000ULL;
                if (q > (unsigned long long)INT64_MAX / 2 / units[i].ms)
                        return -ERANGE;
                unsigned long long ms = q * units[i].ms;
                ms += (rem * units[i].ms + 999999999ULL) / 1000000000ULL;
                if (ms > (unsigned long long)INT64_MAX / 2)
                        return -ERANGE;
                *ret_ms = (int64_t)ms;
                return 0;
        }
        return -EINVAL;
}

int pk_cli_parse_timeout(const char *s, int64_t *ret_ms)
{
        if (s && strcmp(s, "infinity") == 0) {
                *ret_ms = -1;
                return 0;
        }
        int64_t ms;
        int r = pk_cli_parse_duration(s, &ms);
        if (r < 0)
                return r;
        *ret_ms = ms == 0 ? -1 : ms;
        return 0;
}

int pk_cli_parse_int(const char *s, long long min, long long max, long long *ret)
{
        if (!s || !*s)
                return -EINVAL;
        /* strtoll() skips leading blanks and takes a '+': refuse both. */
        if (!(*s == '-' || (*s >= '0' && *s <= '9')))
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

int pk_cli_parse_size(const char *s, unsigned long long max, unsigned long long *ret)
{
        if (!s || *s < '0' || *s > '9')
                return -EINVAL;
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        unsigned shift = 0;
        if (*end) {
                const char *u = end;
                switch (*u) {
                case 'k':
                case 'K':
                        shift = 10;
                        break;
                case 'M':
                        shift = 20;
                        break;
                case 'G':
                        shift = 30;
                        break;
                case 'T':
                        shift = 40;
                        break;
                default:
                        return -EINVAL;
                }
                u++;
                if (*u == 'i')
                        u++;
                if (*u == 'B')
                        u++;
                if (*u)
                        return -EINVAL;
        }
        if (shift && v > (max >> shift))
                return -ERANGE;
        v <<= shift;
        if (v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

static const struct {
        const char *name;
        int res;
} rlimit_names[] = {
    {"AS", RLIMIT_AS},           {"CORE", RLIMIT_CORE},         {"CPU", RLIMIT_CPU},
    {"DATA", RLIMIT_DATA},       {"FSIZE", RLIMIT_FSIZE},       {"LOCKS", RLIMIT_LOCKS},
    {"MEMLOCK", RLIMIT_MEMLOCK}, {"MSGQUEUE", RLIMIT_MSGQUEUE}, {"NICE", RLIMIT_NICE},
    {"NOFILE", RLIMIT_NOFILE},   {"NPROC", RLIMIT_NPROC},       {"RSS", RLIMIT_RSS},
    {"RTPRIO", RLIMIT_RTPRIO},   {"RTTIME", RLIMIT_RTTIME},     {"SIGPENDING", RLIMIT_SIGPENDING},
    {"STACK", RLIMIT_STACK},
};

int pk_cli_rlimit_from_name(const char *name, size_t len)
{
        for (size_t i = 0; i < sizeof(rlimit_names) / sizeof(rlimit_names[0]); i++)
                if (strlen(rlimit_names[i].name) == len &&
                    strncasecmp(rlimit_names[i].name, name, len) == 0)
                        return rlimit_names[i].res;
        return -1;
}

const char *pk_cli_rlimit_name(int res)
{
        for (size_t i = 0; i < sizeof(rlimit_names) / sizeof(rlimit_names[0]); i++)
                if (rlimit_names[i].res == res)
                        return rlimit_names[i].name;
        return NULL;
}

const char *pk_cli_rlimit_nth(size_t i)
{
        return i < sizeof(rlimit_names) / sizeof(rlimit_names[0]) ? rlimit_names[i].name : NULL;
}
