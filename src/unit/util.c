/* SPDX-License-Identifier: MIT */
/* The unit layer's small parts: the arena a unit's strings live in, error
 * reporting with file:line, systemd's word splitting (quotes and C escapes),
 * specifiers, and the value syntaxes (booleans, sizes, time spans, signals,
 * modes, capability names, unit-name escaping). */
#include "common/dynbuf.h"
#include "unit/unit_int.h"

#include <ctype.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

/* ---- arena ---------------------------------------------------------------- */

struct ua_block {
        struct ua_block *next;
        size_t used, cap;
        max_align_t data[];
};

void *ua_alloc(struct ua *a, size_t size)
{
        size = (size + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
        if (size == 0)
                size = sizeof(max_align_t);
        struct ua_block *b = a->head;
        if (!b || b->cap - b->used < size) {
                size_t cap = size > 8192 ? size : 8192;
                b = malloc(sizeof(*b) + cap);
                if (!b)
                        return NULL;
                b->used = 0;
                b->cap = cap;
                if (a->head && size > 8192) {
                        /* A big one-off block goes behind the current one so the
                         * current block's free space stays in use. */
                        b->next = a->head->next;
                        a->head->next = b;
                } else {
                        b->next = a->head;
                        a->head = b;
                }
        }
        void *p = (char *)b->data + b->used;
        b->used += size;
        memset(p, 0, size);
        return p;
}

void ua_free(struct ua *a)
{
        struct ua_block *b = a->head;
        while (b) {
                struct ua_block *next = b->next;
                free(b);
                b = next;
        }
        a->head = NULL;
}

char *ua_strndup(struct ua *a, const char *s, size_t n)
{
        char *r = ua_alloc(a, n + 1);
        if (r) {
                memcpy(r, s, n);
                r[n] = 0;
        }
        return r;
}

char *ua_strdup(struct ua *a, const char *s)
{
        return s ? ua_strndup(a, s, strlen(s)) : NULL;
}

int ua_grow(struct ua *a, void **v, size_t n, size_t elem, size_t extra)
{
        if (n != 0 && (n < 4 || (n & (n - 1)) != 0))
                return 0;
        size_t cap = n < 4 ? 4 : n * 2;
        void *nv = ua_alloc(a, (cap + extra) * elem);
        if (!nv)
                return -ENOMEM;
        if (n && *v)
                memcpy(nv, *v, n * elem);
        *v = nv;
        return 0;
}

/* ---- errors --------------------------------------------------------------- */

__attribute__((format(printf, 6, 0))) static void vset(struct pk_unit_error *e, int code,
                                                       const char *file, unsigned int line,
                                                       const char *key, const char *fmt, va_list ap)
{
        e->code = code;
        snprintf(e->file, sizeof(e->file), "%s", file ? file : "");
        e->line = line;
        snprintf(e->key, sizeof(e->key), "%s", key ? key : "");
        vsnprintf(e->message, sizeof(e->message), fmt, ap);
}

void pk__unit_err_set(struct pk_unit_error *e, const char *file, unsigned int line, const char *key,
                      int code, const char *fmt, ...)
{
        if (!e)
                return;
        va_list ap;
        va_start(ap, fmt);
        vset(e, code, file, line, key, fmt, ap);
        va_end(ap);
}

int pk__unit_fail(struct pctx *c, int code, const char *fmt, ...)
{
        if (c->err) {
                va_list ap;
                va_start(ap, fmt);
                vset(c->err, code, c->file, c->line, c->key, fmt, ap);
                va_end(ap);
        }
        return code;
}

/* ---- words ---------------------------------------------------------------- */

static bool is_ws(char ch)
{
        return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

/* One C escape after a backslash at *p; writes to o, returns bytes written
 * or -1.  Advances *p past the escape. */
static int cunescape_one(const char **p, char *o)
{
        const char *s = *p;
        char ch = *s++;
        int n = 1;
        switch (ch) {
        case 'a':
                *o = '\a';
                break;
        case 'b':
                *o = '\b';
                break;
        case 'f':
                *o = '\f';
                break;
        case 'n':
                *o = '\n';
                break;
        case 'r':
                *o = '\r';
                break;
        case 't':
                *o = '\t';
                break;
        case 'v':
                *o = '\v';
                break;
        case 's':
                *o = ' ';
                break;
        case '\\':
        case '"':
        case '\'':
        case ' ':
        case '\t':
        case ';':
                *o = ch;
                break;
        case 'x': {
                int a = pk__hexval(s[0]), b = a >= 0 ? pk__hexval(s[1]) : -1;
                if (a < 0 || b < 0 || (a == 0 && b == 0))
                        return -1;
                *o = (char)(a * 16 + b);
                s += 2;
                break;
        }
        case 'u':
        case 'U': {
                int digits = ch == 'u' ? 4 : 8;
                uint32_t cp = 0;
                for (int i = 0; i < digits; i++) {
                        int v = pk__hexval(s[i]);
                        if (v < 0)
                                return -1;
                        cp = cp * 16 + (uint32_t)v;
                }
                if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        return -1;
                s += digits;
                n = (int)pk__utf8_encode(cp, (uint8_t *)o);
                break;
        }
        default:
                if (ch >= '0' && ch <= '7') {
                        if (s[0] < '0' || s[0] > '7' || s[1] < '0' || s[1] > '7')
                                return -1;
                        int v = (ch - '0') * 64 + (s[0] - '0') * 8 + (s[1] - '0');
                        if (v == 0 || v > 255)
                                return -1;
                        *o = (char)v;
                        s += 2;
                        break;
                }
                return -1;
        }
        *p = s;
        return n;
}

int pk__unit_cunescape(struct ua *a, const char *s, char **ret)
{
        /* An escape never writes more bytes than it reads (\u takes 6 for at
         * most 3, \U 10 for at most 4). */
        char *o = ua_alloc(a, strlen(s) + 1);
        if (!o)
                return -ENOMEM;
        size_t n = 0;
        while (*s) {
                if (*s != '\\') {
                        o[n++] = *s++;
                        continue;
                }
                s++;
                int k = *s ? cunescape_one(&s, o + n) : -1;
                if (k < 0)
                        return -EINVAL;
                n += (size_t)k;
        }
        o[n] = '\0';
        *ret = o;
        return 0;
}

static int b64val(char c)
{
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '+')
                return 62;
        if (c == '/')
                return 63;
        return -1;
}

int pk__unit_unbase64(char *s, size_t *len)
{
        uint32_t acc = 0;
        int bits = 0;
        size_t w = 0;
        bool pad = false;
        for (size_t i = 0; i < *len; i++) {
                char c = s[i];
                if (is_ws(c))
                        continue;
                if (c == '=') {
                        pad = true;
                        continue;
                }
                int v = b64val(c);
                if (v < 0 || pad)
                        return -EINVAL;
                acc = (acc << 6) | (uint32_t)v;
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        s[w++] = (char)((acc >> bits) & 0xff);
                }
        }
        *len = w;
        return 0;
}

int pk__unit_word(struct ua *a, const char **pp, char **ret, bool *ret_bare_sep, const char **why)
{
        const char *p = *pp;
        while (*p && is_ws(*p))
                p++;
        if (!*p) {
                *pp = p;
                return 0;
        }
        /* Output is never longer than the input (escapes shrink; \u gives at
         * most 4 bytes for 6 in). */
        size_t cap = strlen(p) + 1;
        char *o = ua_alloc(a, cap);
        if (!o)
                return -ENOMEM;
        size_t n = 0;
        char quote = 0;
        bool escaped_any = false, quoted_any = false;
        for (;;) {
                char ch = *p;
                if (!ch) {
                        if (quote) {
                                *why = "unbalanced quoting";
                                return -EINVAL;
                        }
                        break;
                }
                if (!quote && is_ws(ch))
                        break;
                p++;
                if (ch == '\\') {
                        if (!*p) {
                                *why = "trailing backslash";
                                return -EINVAL;
                        }
                        int k = cunescape_one(&p, o + n);
                        if (k < 0) {
                                *why = "invalid escape sequence";
                                return -EINVAL;
                        }
                        n += (size_t)k;
                        escaped_any = true;
                } else if (quote && ch == quote) {
                        quote = 0;
                } else if (!quote && (ch == '"' || ch == '\'')) {
                        quote = ch;
                        quoted_any = true;
                } else {
                        o[n++] = ch;
                }
        }
        o[n] = 0;
        if (ret_bare_sep)
                *ret_bare_sep = !escaped_any && !quoted_any && n == 1 && o[0] == ';';
        *ret = o;
        *pp = p;
        return 1;
}

/* ---- name escaping ------------------------------------------------------- */

static int unescape_into(const char *s, char *o)
{
        size_t n = 0;
        while (*s) {
                if (*s == '-') {
                        o[n++] = '/';
                        s++;
                } else if (*s == '\\') {
                        if (s[1] != 'x')
                                return -EINVAL;
                        int a = pk__hexval(s[2]), b = a >= 0 ? pk__hexval(s[3]) : -1;
                        if (a < 0 || b < 0 || (a == 0 && b == 0))
                                return -EINVAL;
                        o[n++] = (char)(a * 16 + b);
                        s += 4;
                } else {
                        o[n++] = *s++;
                }
        }
        o[n] = 0;
        return 0;
}

int pk_unit_name_unescape(const char *s, char **ret)
{
        if (!s || !ret)
                return -EINVAL;
        char *o = malloc(strlen(s) + 1);
        if (!o)
                return -ENOMEM;
        int r = unescape_into(s, o);
        if (r < 0) {
                free(o);
                return r;
        }
        *ret = o;
        return 0;
}

static char *ua_unescape(struct ua *a, const char *s)
{
        char *o = ua_alloc(a, strlen(s) + 1);
        if (o && unescape_into(s, o) < 0)
                return NULL;
        return o;
}

bool pk__unit_name_valid(const char *name)
{
        size_t len = strlen(name);
        if (len == 0 || len > 255)
                return false;
        const char *dot = strrchr(name, '.');
        if (!dot || dot == name || dot[1] == 0)
                return false;
        int ats = 0;
        for (const char *s = name; s < dot; s++) {
                unsigned char ch = (unsigned char)*s;
                if (ch == '@') {
                        if (++ats > 1 || s == name)
                                return false;
                        continue;
                }
                if (!isalnum(ch) && !strchr(":-_.\\", ch))
                        return false;
        }
        static const char *const types[] = {"service", "socket", "target",    "timer",
                                            "path",    "mount",  "automount", "swap",
                                            "slice",   "scope",  "device"};
        for (size_t i = 0; i < PK_ARRAY_SIZE(types); i++)
                if (strcmp(dot + 1, types[i]) == 0)
                        return true;
        return false;
}

const char *pk__unit_name_suffix(const char *name)
{
        const char *dot = strrchr(name, '.');
        return dot ? dot + 1 : NULL;
}

/* ---- specifiers ----------------------------------------------------------- */

/* Returns the expansion of %ch (NULL with *why set when unavailable). */
static const char *spec_value(struct pctx *c, char ch, const char **why, char *tmp, size_t tmpsz)
{
        struct unit_priv *p = c->p;
        struct pk_unit *u = &p->pub;
        const struct pk_unit_host *h = c->o->host;
        const char *hv = NULL;
        bool host = false;
        switch (ch) {
        case 'n':
                return u->name;
        case 'N':
                snprintf(tmp, tmpsz, "%.*s", (int)(strlen(u->name) - strlen(p->suffix) - 1),
                         u->name);
                return tmp;
        case 'p':
                return p->prefix;
        case 'P':
                return ua_unescape(&p->arena, p->prefix);
        case 'i':
                return u->instance ? u->instance : "";
        case 'I':
                return u->instance ? ua_unescape(&p->arena, u->instance) : "";
        case 'j':
        case 'J': {
                const char *dash = strrchr(p->prefix, '-');
                const char *j = dash ? dash + 1 : p->prefix;
                return ch == 'j' ? j : ua_unescape(&p->arena, j);
        }
        case 'f': {
                const char *src = u->instance ? u->instance : p->prefix;
                const char *un = ua_unescape(&p->arena, src);
                if (!un)
                        return NULL;
                snprintf(tmp, tmpsz, "%s%s", un[0] == '/' ? "" : "/", un);
                return tmp;
        }
        case 'y':
                if (!u->fragment_path) {
                        *why = "%y needs the unit's file path";
                        return NULL;
                }
                return u->fragment_path;
        case 'Y': {
                if (!u->fragment_path) {
                        *why = "%Y needs the unit's file path";
                        return NULL;
                }
                const char *sl = strrchr(u->fragment_path, '/');
                if (!sl)
                        return ".";
                snprintf(tmp, tmpsz, "%.*s",
                         sl == u->fragment_path ? 1 : (int)(sl - u->fragment_path),
                         u->fragment_path);
                return tmp;
        }
        /* The system manager's own user and the system directories. */
        case 'u':
        case 'g':
                return "root";
        case 'U':
        case 'G':
                return "0";
        case 'h':
                return "/root";
        case 's':
                return "/bin/sh";
        case 't':
                return "/run";
        case 'S':
                return "/var/lib";
        case 'C':
                return "/var/cache";
        case 'L':
                return "/var/log";
        case 'E':
                return "/etc";
        case 'T':
                return "/tmp";
        case 'V':
                return "/var/tmp";
        case 'H':
        case 'l':
                host = true;
                hv = h ? h->hostname : NULL;
                if (hv && ch == 'l') {
                        snprintf(tmp, tmpsz, "%.*s", (int)strcspn(hv, "."), hv);
                        hv = tmp;
                }
                break;
        case 'q':
                host = true;
                hv = h ? (h->pretty_host ? h->pretty_host : h->hostname) : NULL;
                break;
        case 'm':
                host = true;
                hv = h ? h->machine_id : NULL;
                break;
        case 'b':
                host = true;
                hv = h ? h->boot_id : NULL;
                break;
        case 'v':
                host = true;
                hv = h ? h->kernel : NULL;
                break;
        case 'a':
                host = true;
                hv = h ? h->arch : NULL;
                break;
        case 'o':
                host = true;
                hv = h ? h->os_id : NULL;
                break;
        case 'w':
                host = true;
                hv = h ? h->os_version : NULL;
                break;
        case 'W':
                host = true;
                hv = h ? h->os_variant : NULL;
                break;
        case 'B':
                host = true;
                hv = h ? h->os_build : NULL;
                break;
        case 'M':
                host = true;
                hv = h ? h->image_id : NULL;
                break;
        case 'A':
                host = true;
                hv = h ? h->image_ver : NULL;
                break;
        case 'd':
                /* The credentials directory, as systemd 252 resolves it for the
                 * system manager: under %t, named after the unit, whether or not
                 * the unit has credentials (portkit never makes it). */
                snprintf(tmp, tmpsz, "/run/credentials/%s", u->name);
                return tmp;
        default:
                *why = NULL;
                return NULL;
        }
        if (host && !hv) {
                /* os-release fields may legitimately be absent: systemd expands
                 * them to "" then; the host itself must be described. */
                if (h && strchr("wWBMA", ch))
                        return "";
                *why = "this host value is unavailable (pass a struct pk_unit_host, e.g. from "
                       "pk_unit_host_probe())";
                return NULL;
        }
        return hv;
}

int pk__unit_specifiers(struct pctx *c, const char *in, char **ret)
{
        if (!strchr(in, '%')) {
                *ret = ua_strdup(&c->p->arena, in);
                return *ret ? 0 : -ENOMEM;
        }
        size_t max = c->o->max_line;
        struct pk__dynbuf o;
        pk__dynbuf_init(&o, max, 0);
        char tmp[1024];
        int r = 0;
        for (const char *s = in; *s; s++) {
                const char *v;
                size_t vl;
                if (*s != '%') {
                        v = s;
                        vl = 1;
                } else if (s[1] == '%') {
                        v = "%";
                        vl = 1;
                        s++;
                } else if (!s[1]) {
                        r = pk__unit_fail(c, PK_EUNITSPEC, "'%%' at the end of the value");
                        goto out;
                } else {
                        const char *why = NULL;
                        v = spec_value(c, s[1], &why, tmp, sizeof(tmp));
                        if (!v && !why && strchr("PIJf", s[1]))
                                why = "the unit name has an invalid \\x escape";
                        if (!v) {
                                if (why)
                                        r = pk__unit_fail(c, PK_EUNITSPEC, "specifier %%%c: %s",
                                                          s[1], why);
                                else if (s[1] >= 0x20 && s[1] < 0x7f)
                                        r = pk__unit_fail(c, PK_EUNITSPEC, "unknown specifier %%%c",
                                                          s[1]);
                                else
                                        r = pk__unit_fail(c, PK_EUNITSPEC,
                                                          "unknown specifier %%\\x%02x",
                                                          (unsigned char)s[1]);
                                goto out;
                        }
                        vl = strlen(v);
                        s++;
                }
                if ((r = pk__dynbuf_add(&o, v, vl)) == PK_EBUFCAP) {
                        r = pk__unit_fail(c, PK_EUNITLIMIT,
                                          "value longer than %zu bytes after specifiers", max);
                        goto out;
                }
                if (r < 0)
                        goto out;
        }
        *ret = ua_strndup(&c->p->arena, o.p ? o.p : "", o.len);
        r = *ret ? 0 : -ENOMEM;
out:
        pk__dynbuf_free(&o);
        return r;
}

/* ---- values --------------------------------------------------------------- */

int pk__unit_bool(const char *s)
{
        static const char *const yes[] = {"1", "yes", "y", "true", "t", "on"};
        static const char *const no[] = {"0", "no", "n", "false", "f", "off"};
        for (size_t i = 0; i < PK_ARRAY_SIZE(yes); i++) {
                if (strcasecmp(s, yes[i]) == 0)
                        return 1;
                if (strcasecmp(s, no[i]) == 0)
                        return 0;
        }
        return -EINVAL;
}

int pk__unit_uint(const char *s, uint64_t max, uint64_t *ret)
{
        if (!isdigit((unsigned char)*s))
                return -EINVAL;
        uint64_t v = 0;
        for (; *s; s++) {
                if (!isdigit((unsigned char)*s))
                        return -EINVAL;
                unsigned d = (unsigned)(*s - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        if (v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

int pk__unit_int(const char *s, int64_t min, int64_t max, int64_t *ret)
{
        bool neg = false;
        if (*s == '-' || *s == '+') {
                neg = *s == '-';
                s++;
        }
        uint64_t v;
        int r = pk__unit_uint(s, (uint64_t)INT64_MAX, &v);
        if (r < 0)
                return r;
        int64_t sv = neg ? -(int64_t)v : (int64_t)v;
        if (sv < min || sv > max)
                return -ERANGE;
        *ret = sv;
        return 0;
}

int pk__unit_size(const char *s, uint64_t *ret)
{
        size_t len = strlen(s);
        if (len == 0)
                return -EINVAL;
        static const char units[] = "KMGTPE";
        unsigned shift = 0;
        char last = s[len - 1];
        const char *u = strchr(units, last);
        char buf[32];
        if (u && last) {
                shift = 10u * (unsigned)(u - units + 1);
                len--;
        } else if (last == 'B' && len > 1) {
                len--;
        }
        if (len == 0 || len >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, s, len);
        buf[len] = 0;
        uint64_t v;
        int r = pk__unit_uint(buf, UINT64_MAX, &v);
        if (r < 0)
                return r;
        if (shift && v > (UINT64_MAX >> shift))
                return -ERANGE;
        *ret = v << shift;
        return 0;
}

int pk__unit_mode(const char *s, unsigned int *ret)
{
        /* Octal, leading zeros allowed ("02755"), at most 07777. */
        if (!*s || strlen(s) > 8)
                return -EINVAL;
        unsigned v = 0;
        for (; *s; s++) {
                if (*s < '0' || *s > '7')
                        return -EINVAL;
                v = v * 8 + (unsigned)(*s - '0');
        }
        if (v > 07777)
                return -ERANGE;
        *ret = v;
        return 0;
}

uint64_t pk__unit_usec_to_ms(uint64_t usec)
{
        if (usec == UINT64_MAX)
                return PK_UNIT_INFINITY;
        return usec / 1000 + (usec % 1000 != 0);
}

int pk_unit_timespan_parse(const char *s, uint64_t *ret_usec)
{
        static const struct {
                const char *name;
                uint64_t usec;
        } units[] = {
            {"seconds", 1000000},
            {"second", 1000000},
            {"sec", 1000000},
            {"s", 1000000},
            {"minutes", 60000000},
            {"minute", 60000000},
            {"min", 60000000},
            {"months", 2629800000000ULL},
            {"month", 2629800000000ULL},
            {"M", 2629800000000ULL},
            {"msec", 1000},
            {"ms", 1000},
            {"m", 60000000},
            {"hours", 3600000000ULL},
            {"hour", 3600000000ULL},
            {"hr", 3600000000ULL},
            {"h", 3600000000ULL},
            {"days", 86400000000ULL},
            {"day", 86400000000ULL},
            {"d", 86400000000ULL},
            {"weeks", 604800000000ULL},
            {"week", 604800000000ULL},
            {"w", 604800000000ULL},
            {"years", 31557600000000ULL},
            {"year", 31557600000000ULL},
            {"y", 31557600000000ULL},
            {"usec", 1},
            {"us", 1},
            {"\xce\xbcs", 1},
        };
        if (!s || !ret_usec)
                return -EINVAL;
        while (is_ws(*s))
                s++;
        if (strncmp(s, "infinity", 8) == 0) {
                const char *t = s + 8;
                while (is_ws(*t))
                        t++;
                if (!*t) {
                        *ret_usec = UINT64_MAX;
                        return 0;
                }
        }
        uint64_t total = 0;
        bool any = false;
        while (*s) {
                if (!isdigit((unsigned char)*s))
                        return -EINVAL;
                uint64_t v = 0;
                while (isdigit((unsigned char)*s)) {
                        unsigned d = (unsigned)(*s++ - '0');
                        if (v > (UINT64_MAX - d) / 10)
                                return -ERANGE;
                        v = v * 10 + d;
                }
                /* Fraction: "1.5s". */
                uint64_t frac = 0, fdiv = 1;
                if (*s == '.') {
                        s++;
                        if (!isdigit((unsigned char)*s))
                                return -EINVAL;
                        while (isdigit((unsigned char)*s)) {
                                if (fdiv < 1000000000ULL) {
                                        frac = frac * 10 + (unsigned)(*s - '0');
                                        fdiv *= 10;
                                }
                                s++;
                        }
                }
                while (is_ws(*s))
                        s++;
                uint64_t mul = 1000000;
                size_t ulen = 0;
                for (size_t i = 0; i < PK_ARRAY_SIZE(units); i++) {
                        size_t l = strlen(units[i].name);
                        if (strncmp(s, units[i].name, l) == 0 && !isalpha((unsigned char)s[l]) &&
                            (unsigned char)s[l] < 0x80) {
                                mul = units[i].usec;
                                ulen = l;
                                break;
                        }
                }
                if (ulen == 0 && isalpha((unsigned char)*s))
                        return -EINVAL;
                s += ulen;
                if (v > UINT64_MAX / mul)
                        return -ERANGE;
                uint64_t add = v * mul + frac * mul / fdiv;
                if (total > UINT64_MAX - 1 - add)
                        return -ERANGE;
                total += add;
                any = true;
                while (is_ws(*s))
                        s++;
        }
        if (!any)
                return -EINVAL;
        *ret_usec = total;
        return 0;
}

int pk_unit_signal_parse(const char *s)
{
        static const char *const names[] = {
            NULL,     "HUP",  "INT",    "QUIT", "ILL",   "TRAP", "ABRT", "BUS",
            "FPE",    "KILL", "USR1",   "SEGV", "USR2",  "PIPE", "ALRM", "TERM",
            "STKFLT", "CHLD", "CONT",   "STOP", "TSTP",  "TTIN", "TTOU", "URG",
            "XCPU",   "XFSZ", "VTALRM", "PROF", "WINCH", "IO",   "PWR",  "SYS",
        };
        if (!s || !*s)
                return -EINVAL;
        if (isdigit((unsigned char)*s)) {
                uint64_t v;
                if (pk__unit_uint(s, 64, &v) < 0 || v == 0)
                        return -EINVAL;
                return (int)v;
        }
        if (strncmp(s, "SIG", 3) == 0)
                s += 3;
        for (int i = 1; i < (int)PK_ARRAY_SIZE(names); i++)
                if (strcmp(s, names[i]) == 0)
                        return i;
        if (strcmp(s, "IOT") == 0)
                return SIGABRT;
        if (strcmp(s, "POLL") == 0)
                return SIGIO;
        if (strncmp(s, "RTMIN", 5) == 0 || strncmp(s, "RTMAX", 5) == 0) {
                bool min = s[3] == 'I';
                const char *t = s + 5;
                int64_t off = 0;
                if (*t && pk__unit_int(t, -64, 64, &off) < 0)
                        return -EINVAL;
                if (*t && ((min && *t != '+') || (!min && *t != '-')))
                        return -EINVAL;
                int sig = (min ? SIGRTMIN : SIGRTMAX) + (int)off;
                if (sig < SIGRTMIN || sig > SIGRTMAX)
                        return -EINVAL;
                return sig;
        }
        return -EINVAL;
}

bool pk_unit_status_has(const struct pk_unit_status_set *set, int code, int sig)
{
        if (!set)
                return false;
        if (sig > 0)
                return sig <= 64 && (set->signals >> (sig - 1)) & 1u;
        return code >= 0 && code <= 255 && (set->status[code / 8] >> (code % 8)) & 1u;
}

int pk__unit_cap_from_name(const char *name)
{
        /* systemd spells them with the CAP_ prefix only */
        if (strncasecmp(name, "cap_", 4) != 0)
                return -EINVAL;
        return pk_cap_from_name(name);
}
