/* SPDX-License-Identifier: MIT */
/* Option parsers and error printing shared by every subcommand. */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>

#include <portkit/spawn.h>

void pk_cli_error(const char *cmd, const char *fmt, ...)
{
        va_list ap;
        fprintf(stderr, "portkit %s: ", cmd);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

bool pk_cli_is_help(const char *arg)
{
        return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

bool pk_cli_options_end(char **argv, int *i)
{
        const char *a = argv[*i];
        if (strcmp(a, "--") == 0) {
                ++*i;
                return true;
        }
        return a[0] != '-' || a[1] == '\0';
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
        if (len > 7 && strncasecmp(name, "RLIMIT_", 7) == 0) {
                name += 7;
                len -= 7;
        }
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

/* One side of an --rlimit value: s[0..len) as a size or "unlimited". */
static int parse_limit(const char *s, size_t len, unsigned long long *ret)
{
        char buf[32]; /* 2^63-1 is 19 digits; a suffix adds 3 at most */
        if (len >= sizeof(buf))
                return -EDOM;
        memcpy(buf, s, len);
        buf[len] = '\0';
        if (strcmp(buf, "unlimited") == 0 || strcmp(buf, "infinity") == 0) {
                *ret = PK_RLIM_INFINITY;
                return 0;
        }
        return pk_cli_parse_size(buf, 0x7fffffffffffffffULL, ret) < 0 ? -EDOM : 0;
}

int pk_cli_parse_rlimit(const char *arg, int *ret_res, unsigned long long *ret_soft,
                        unsigned long long *ret_hard)
{
        const char *eq = arg ? strchr(arg, '=') : NULL;
        if (!eq || eq == arg)
                return -EINVAL;
        int res = pk_cli_rlimit_from_name(arg, (size_t)(eq - arg));
        if (res < 0)
                return -ENOENT;
        const char *v = eq + 1, *colon = strchr(v, ':');
        unsigned long long soft, hard;
        if (parse_limit(v, colon ? (size_t)(colon - v) : strlen(v), &soft) < 0)
                return -EDOM;
        hard = soft;
        if (colon && parse_limit(colon + 1, strlen(colon + 1), &hard) < 0)
                return -EDOM;
        if (soft > hard)
                return -ERANGE;
        *ret_res = res;
        *ret_soft = soft;
        *ret_hard = hard;
        return 0;
}

int pk_cli_parse_umask(const char *s, unsigned *ret)
{
        char *end;
        if (!s || *s < '0' || *s > '7')
                return -EINVAL;
        unsigned long m = strtoul(s, &end, 8);
        if (*end || m > 0777)
                return -EINVAL;
        *ret = (unsigned)m;
        return 0;
}

int pk_cli_env_key_len(const char *kv)
{
        const char *eq = kv ? strchr(kv, '=') : NULL;
        if (!eq || eq == kv)
                return -EINVAL;
        return (int)(eq - kv);
}
