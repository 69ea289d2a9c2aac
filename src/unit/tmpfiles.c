/* SPDX-License-Identifier: MIT */
/* tmpfiles.d: reads the configuration directories in systemd's precedence,
 * parses each line (type and modifiers, quoted fields, C escapes, specifiers,
 * mode, user, group, age, argument) and applies it as `systemd-tmpfiles
 * --create` does, so that a supervisor started on a fresh /run finds the
 * directories packages declare there.  Nothing is logged: every skipped or
 * failed line goes to the caller's note callback with its file and line. */
#include "common/dynbuf.h"
#include "common/htab.h"
#include "portkit/fd.h"
#include "unit/unit_int.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>

#define TF_DEFAULT_MAX_FILE ((size_t)1 << 20)
#define TF_DEFAULT_MAX_LINES 65536u
#define TF_MAX_FILES 4096u
#define TF_MAX_LINE ((size_t)64 << 10)
#define TF_MAX_PATH 4096u

/* One parsed line. */
struct tf_line {
        char type;
        bool plus, boot, minus, eq, tilde, caret;
        char typestr[8];
        char *path; /* absolute, specifiers expanded, without the root */
        char *arg;  /* NULL: none ("-" or missing) */
        size_t arg_len;
        unsigned int mode;
        bool mode_set, mode_create_only, mode_masked;
        uid_t uid;
        gid_t gid;
        bool uid_set, gid_set, uid_create_only, gid_create_only;
        bool age_set;
        bool done;            /* applied (or failed) in this run */
        struct tf_line *same; /* the next pending line with the same path */
        const char *file;
        unsigned int line;
};

struct tf {
        const struct pk_unit_tmpfiles_opts *o;
        struct pk_unit_tmpfiles_stats *st;
        const char *root; /* "" for none */
        size_t max_lines;
        int first_err;
        /* paths seen so far, one entry per class, for the duplicate check */
        struct pk__htab seen;
        /* lines admitted, applied once every file is read */
        struct tf_line *pend;
        size_t npend, cappend;
        /* configuration file names the lines point to (owned) */
        char **fnames;
        size_t nfnames, capfnames;
};

struct seen {
        int cls;
        char path[];
};

/* ---- notes -------------------------------------------------------------------------- */

static void note(struct tf *t, enum pk_unit_tmpfiles_kind kind, const struct tf_line *l,
                 const char *file, unsigned int line, int code, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

static void note(struct tf *t, enum pk_unit_tmpfiles_kind kind, const struct tf_line *l,
                 const char *file, unsigned int line, int code, const char *fmt, ...)
{
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (kind == PK_UNIT_TMPFILES_WARNING && (t->o->flags & PK_UNIT_TMPFILES_STRICT) &&
            code != 0)
                kind = PK_UNIT_TMPFILES_ERROR;
        if (kind == PK_UNIT_TMPFILES_WARNING) {
                t->st->warnings++;
        } else if (kind == PK_UNIT_TMPFILES_ERROR) {
                t->st->errors++;
                if (t->first_err == 0)
                        t->first_err = code ? code : -EINVAL;
        }
        if (t->o->note) {
                struct pk_unit_tmpfiles_note n = {.kind = kind,
                                                  .file = file,
                                                  .line = line,
                                                  .type = l ? l->typestr : "",
                                                  .path = l ? l->path : NULL,
                                                  .code = code,
                                                  .message = msg};
                t->o->note(t->o->ud, &n);
        }
}

/* A warning about a line's text: an error in strict mode (note() upgrades it). */
#define SYNTAX(t, file, line, l, ...)                                                              \
        note(t, PK_UNIT_TMPFILES_WARNING, l, file, line, PK_EUNITSYNTAX, __VA_ARGS__)

/* A failure of an operation: ignored (a warning) for `-` lines. */
static void fail(struct tf *t, const struct tf_line *l, int code, const char *what)
{
        if (l->minus)
                note(t, PK_UNIT_TMPFILES_WARNING, l, l->file, l->line, 0,
                     "%s %s: %s (ignored: '-')", what, l->path, pk_strerror(code));
        else
                note(t, PK_UNIT_TMPFILES_ERROR, l, l->file, l->line, code, "%s %s: %s", what,
                     l->path, pk_strerror(code));
}

/* ---- fields ------------------------------------------------------------------------- */

/* Appends the C escape at *p (just after the backslash) to o; *p moves past it.
 * NUL bytes are refused (paths and names are C strings). */
static int unescape_one(struct pk__dynbuf *o, const char **p)
{
        const char *s = *p;
        char c = *s++;
        int v;
        switch (c) {
        case 'a':
                v = '\a';
                break;
        case 'b':
                v = '\b';
                break;
        case 'f':
                v = '\f';
                break;
        case 'n':
                v = '\n';
                break;
        case 'r':
                v = '\r';
                break;
        case 't':
                v = '\t';
                break;
        case 'v':
                v = '\v';
                break;
        case '\\':
                v = '\\';
                break;
        case '"':
                v = '"';
                break;
        case '\'':
                v = '\'';
                break;
        case 's':
                v = ' ';
                break;
        case 'x': {
                int h = pk__hexval((unsigned char)s[0]),
                    l2 = h >= 0 ? pk__hexval((unsigned char)s[1]) : -1;
                if (h < 0 || l2 < 0)
                        return -EINVAL;
                v = h * 16 + l2;
                s += 2;
                break;
        }
        default:
                if (c >= '0' && c <= '7') {
                        if (s[0] < '0' || s[0] > '7' || s[1] < '0' || s[1] > '7')
                                return -EINVAL;
                        v = (c - '0') * 64 + (s[0] - '0') * 8 + (s[1] - '0');
                        if (v > 255)
                                return -EINVAL;
                        s += 2;
                        break;
                }
                return -EINVAL;
        }
        if (v == 0)
                return -EINVAL;
        *p = s;
        return pk__dynbuf_addc(o, (char)v);
}

/* Reads one whitespace-separated field at *p: quotes ('...' or "...") and C
 * escapes are resolved.  *ret is malloc'd (caller frees), NULL at the end of
 * the line.  -EINVAL: a bad escape or an open quote. */
static int field(const char **p, char **ret)
{
        const char *s = *p;
        while (*s == ' ' || *s == '\t')
                s++;
        *ret = NULL;
        if (!*s) {
                *p = s;
                return 0;
        }
        struct pk__dynbuf o;
        pk__dynbuf_init(&o, TF_MAX_LINE, 0);
        char quote = 0;
        int r = 0;
        while (*s && r == 0) {
                if (!quote && (*s == ' ' || *s == '\t'))
                        break;
                if (!quote && (*s == '"' || *s == '\'')) {
                        quote = *s++;
                        continue;
                }
                if (quote && *s == quote) {
                        quote = 0;
                        s++;
                        continue;
                }
                if (*s == '\\') {
                        s++;
                        r = unescape_one(&o, &s);
                        continue;
                }
                r = pk__dynbuf_addc(&o, *s++);
        }
        if (r == 0 && quote)
                r = -EINVAL;
        if (r == 0)
                r = pk__dynbuf_addc(&o, '\0'); /* an empty quoted field still gets memory */
        if (r < 0) {
                pk__dynbuf_free(&o);
                return r;
        }
        *p = s;
        *ret = o.p;
        return 0;
}

/* The argument: the rest of the line, C escapes resolved, quotes kept. */
static int argument(const char *s, char **ret, size_t *ret_len)
{
        while (*s == ' ' || *s == '\t')
                s++;
        *ret = NULL;
        *ret_len = 0;
        if (!*s || strcmp(s, "-") == 0)
                return 0;
        struct pk__dynbuf o;
        pk__dynbuf_init(&o, TF_MAX_LINE, 0);
        int r = 0;
        while (*s && r == 0) {
                if (*s == '\\') {
                        s++;
                        r = unescape_one(&o, &s);
                } else {
                        r = pk__dynbuf_addc(&o, *s++);
                }
        }
        if (r < 0) {
                pk__dynbuf_free(&o);
                return r;
        }
        *ret_len = o.len;
        *ret = o.p;
        return 0;
}

static const char *host_value(const struct pk_unit_host *h, char c)
{
        if (!h)
                return NULL;
        switch (c) {
        case 'a':
                return h->arch;
        case 'A':
                return h->image_ver ? h->image_ver : "";
        case 'b':
                return h->boot_id;
        case 'B':
                return h->os_build ? h->os_build : "";
        case 'H':
                return h->hostname;
        case 'm':
                return h->machine_id;
        case 'M':
                return h->image_id ? h->image_id : "";
        case 'o':
                return h->os_id;
        case 'v':
                return h->kernel;
        case 'w':
                return h->os_version ? h->os_version : "";
        case 'W':
                return h->os_variant ? h->os_variant : "";
        default:
                return NULL;
        }
}

static const char *tmp_dir(const char *fallback)
{
        static const char *const vars[] = {"TMPDIR", "TEMP", "TMP"};
        for (size_t i = 0; i < PK_ARRAY_SIZE(vars); i++) {
                const char *v = getenv(vars[i]);
                if (v && v[0] == '/')
                        return v;
        }
        return fallback;
}

/* Expands %-specifiers of @in for the system instance run by this process's
 * user.  *ret is malloc'd.  PK_EUNITSPEC names the bad one in @bad. */
static int specifiers(const struct tf *t, const char *in, char **ret, char *bad)
{
        struct pk__dynbuf o;
        pk__dynbuf_init(&o, TF_MAX_LINE, 0);
        char num[32];
        int r = 0;
        struct passwd *pw = NULL;
        struct group *gr = NULL;
        for (const char *s = in; *s && r == 0; s++) {
                if (*s != '%') {
                        r = pk__dynbuf_addc(&o, *s);
                        continue;
                }
                char c = *++s;
                const char *v = NULL;
                char shorthost[256];
                switch (c) {
                case '%':
                        v = "%";
                        break;
                case 't':
                        v = "/run";
                        break;
                case 'S':
                        v = "/var/lib";
                        break;
                case 'C':
                        v = "/var/cache";
                        break;
                case 'L':
                        v = "/var/log";
                        break;
                case 'T':
                        v = tmp_dir("/tmp");
                        break;
                case 'V':
                        v = tmp_dir("/var/tmp");
                        break;
                case 'u':
                case 'h':
                        if (!pw)
                                pw = getpwuid(geteuid());
                        if (c == 'u')
                                v = pw ? pw->pw_name : NULL;
                        else
                                v = pw ? pw->pw_dir : (geteuid() == 0 ? "/root" : NULL);
                        if (!v && c == 'u')
                                v = geteuid() == 0 ? "root" : NULL;
                        break;
                case 'U':
                        snprintf(num, sizeof(num), "%u", (unsigned)geteuid());
                        v = num;
                        break;
                case 'g':
                        if (!gr)
                                gr = getgrgid(getegid());
                        v = gr ? gr->gr_name : (getegid() == 0 ? "root" : NULL);
                        break;
                case 'G':
                        snprintf(num, sizeof(num), "%u", (unsigned)getegid());
                        v = num;
                        break;
                case 'l': {
                        const char *h = host_value(t->o->host, 'H');
                        if (h) {
                                size_t n = strcspn(h, ".");
                                if (n >= sizeof(shorthost))
                                        n = sizeof(shorthost) - 1;
                                memcpy(shorthost, h, n);
                                shorthost[n] = '\0';
                                v = shorthost;
                        }
                        break;
                }
                case '\0':
                        s--; /* the loop's s++ must stop at the NUL */
                        break;
                default:
                        v = host_value(t->o->host, c);
                        break;
                }
                if (!v) {
                        bad[0] = c ? c : ' ';
                        pk__dynbuf_free(&o);
                        return PK_EUNITSPEC;
                }
                r = pk__dynbuf_adds(&o, v);
        }
        if (r == 0)
                r = pk__dynbuf_addc(&o, '\0');
        if (r < 0) {
                pk__dynbuf_free(&o);
                return r;
        }
        *ret = o.p;
        return 0;
}

/* Canonical form: one slash between components, none at the end, no "." or
 * ".." components (refused: systemd-tmpfiles refuses paths that are not
 * normalized). */
static int path_check(char *p)
{
        if (p[0] != '/')
                return -EINVAL;
        char *w = p;
        for (const char *s = p; *s;) {
                while (*s == '/')
                        s++;
                if (!*s)
                        break;
                size_t n = strcspn(s, "/");
                if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
                        return -EINVAL;
                *w++ = '/';
                memmove(w, s, n);
                w += n;
                s += n;
        }
        if (w == p)
                *w++ = '/';
        *w = '\0';
        return (size_t)(w - p) < TF_MAX_PATH ? 0 : -ENAMETOOLONG;
}

static int parse_mode(const char *s, struct tf_line *l)
{
        for (;; s++) {
                if (*s == ':')
                        l->mode_create_only = true;
                else if (*s == '~')
                        l->mode_masked = true;
                else
                        break;
        }
        if (!*s || strspn(s, "01234567") != strlen(s) || strlen(s) > 5)
                return -EINVAL;
        unsigned long m = strtoul(s, NULL, 8);
        if (m > 07777)
                return -EINVAL;
        l->mode = (unsigned int)m;
        l->mode_set = true;
        return 0;
}

static bool all_digits(const char *s)
{
        return *s && strspn(s, "0123456789") == strlen(s) && strlen(s) < 11;
}

static int user_id(const char *name, uint32_t *ret_id)
{
        const struct passwd *pw = getpwnam(name);
        if (!pw)
                return PK_ENOUSER;
        *ret_id = pw->pw_uid;
        return 0;
}

static int group_id(const char *name, uint32_t *ret_id)
{
        const struct group *g = getgrnam(name);
        if (!g)
                return PK_ENOGROUP;
        *ret_id = g->gr_gid;
        return 0;
}

/* A user or group field: "[:]number" or "[:]name" (looked up by by_name)
 * into *ret_id, setting *ret_set, and *ret_create_only for the ':' prefix.
 * A number must be below (uint32_t)-1, which chown reads as "unchanged".
 * (uid_t and gid_t are uint32_t on Linux: the compiler checks the callers.) */
static int parse_owner(const char *s, int (*by_name)(const char *, uint32_t *), uint32_t *ret_id,
                       bool *ret_set, bool *ret_create_only)
{
        if (*s == ':') {
                *ret_create_only = true;
                s++;
        }
        if (all_digits(s)) {
                unsigned long v = strtoul(s, NULL, 10);
                if (v >= UINT32_MAX)
                        return -EINVAL;
                *ret_id = (uint32_t)v;
        } else {
                int r = by_name(s, ret_id);
                if (r < 0)
                        return r;
        }
        *ret_set = true;
        return 0;
}

/* An age: "-", or [~][age-by:]timespan. */
static int parse_age(const char *s)
{
        if (*s == '~')
                s++;
        const char *colon = strchr(s, ':');
        if (colon) {
                for (const char *b = s; b < colon; b++)
                        if (!strchr("abcmABCM", *b))
                                return -EINVAL;
                s = colon + 1;
        }
        uint64_t us;
        return pk_unit_timespan_parse(s, &us);
}

static void line_free(struct tf_line *l)
{
        free(l->path);
        free(l->arg);
        l->path = l->arg = NULL;
}

/* Types: which take globs, which create, which a class shares for duplicates. */
static bool type_known(char c)
{
        return c && strchr("fFwdDevqQpLcbCxXrRzZtThHaA", c);
}

static bool type_globs(char c)
{
        return strchr("wexXrRzZtThHaA", c) != NULL;
}

static int type_class(char c)
{
        if (strchr("fFwdDevqQpLcbC", c))
                return 0;
        if (strchr("zZ", c))
                return 1;
        if (strchr("xXrR", c))
                return 2;
        if (strchr("hH", c))
                return 3;
        if (strchr("aA", c))
                return 4;
        return 5; /* tT */
}

/* Parses one line into *l (fields malloc'd; line_free() in every case).
 * Returns 1 for a line to apply, 0 for one to skip (noted), < 0 for -ENOMEM. */
static int parse_line(struct tf *t, const char *text, const char *file, unsigned int lineno,
                      struct tf_line *l)
{
        memset(l, 0, sizeof(*l));
        l->file = file;
        l->line = lineno;
        char *f[6] = {0};
        const char *p = text;
        int r = 0, ret = 0;
        size_t nf = 0;
        for (; nf < 6; nf++) {
                if ((r = field(&p, &f[nf])) < 0)
                        break;
                if (!f[nf])
                        break;
        }
        if (r == -ENOMEM)
                goto oom;
        if (r < 0) {
                SYNTAX(t, file, lineno, NULL, "bad quoting or escape in field %zu", nf + 1);
                goto out;
        }
        if (nf < 2) {
                SYNTAX(t, file, lineno, NULL, "a line needs at least a type and a path");
                goto out;
        }
        /* type and modifiers */
        const char *ty = f[0];
        if (strlen(ty) >= sizeof(l->typestr) || !type_known(ty[0])) {
                snprintf(l->typestr, sizeof(l->typestr), "%.7s", ty);
                SYNTAX(t, file, lineno, NULL, "unknown line type '%s'", ty);
                goto out;
        }
        snprintf(l->typestr, sizeof(l->typestr), "%s", ty);
        l->type = ty[0];
        for (const char *m = ty + 1; *m; m++) {
                bool *flag = NULL;
                switch (*m) {
                case '+':
                        flag = &l->plus;
                        break;
                case '!':
                        flag = &l->boot;
                        break;
                case '-':
                        flag = &l->minus;
                        break;
                case '=':
                        flag = &l->eq;
                        break;
                case '~':
                        flag = &l->tilde;
                        break;
                case '^':
                        flag = &l->caret;
                        break;
                default:
                        break;
                }
                if (!flag || *flag) {
                        SYNTAX(t, file, lineno, l, "unknown or repeated modifier '%c' in '%s'", *m,
                               ty);
                        goto out;
                }
                *flag = true;
        }
        if (l->plus && !strchr("fwpLcbaA", l->type)) {
                SYNTAX(t, file, lineno, l, "'+' does not apply to type '%c'", l->type);
                goto out;
        }
        if ((l->tilde || l->caret) && !strchr("fw", l->type)) {
                SYNTAX(t, file, lineno, l, "'~' and '^' apply only to f and w lines");
                goto out;
        }
        if (l->type == 'F') { /* the old spelling of f+ */
                l->type = 'f';
                l->plus = true;
        }
        /* path */
        char bad[2] = "";
        r = specifiers(t, f[1], &l->path, bad);
        if (r == -ENOMEM)
                goto oom;
        if (r < 0) {
                note(t, PK_UNIT_TMPFILES_WARNING, l, file, lineno, PK_EUNITSPEC,
                     "unknown or unavailable specifier '%%%s' in the path", bad);
                goto out;
        }
        if (path_check(l->path) < 0) {
                SYNTAX(t, file, lineno, l, "path '%s' is not absolute and normalized", l->path);
                goto out;
        }
        /* mode, user, group, age */
        if (f[2] && strcmp(f[2], "-") != 0 && parse_mode(f[2], l) < 0) {
                SYNTAX(t, file, lineno, l, "bad mode '%s'", f[2]);
                goto out;
        }
        if (f[3] && strcmp(f[3], "-") != 0 &&
            (r = parse_owner(f[3], user_id, &l->uid, &l->uid_set, &l->uid_create_only)) < 0) {
                note(t, r == PK_ENOUSER ? PK_UNIT_TMPFILES_ERROR : PK_UNIT_TMPFILES_WARNING, l,
                     file, lineno, r == PK_ENOUSER ? r : PK_EUNITSYNTAX, "%s '%s'",
                     r == PK_ENOUSER ? "no such user" : "bad user", f[3]);
                goto out;
        }
        if (f[4] && strcmp(f[4], "-") != 0 &&
            (r = parse_owner(f[4], group_id, &l->gid, &l->gid_set, &l->gid_create_only)) < 0) {
                note(t, r == PK_ENOGROUP ? PK_UNIT_TMPFILES_ERROR : PK_UNIT_TMPFILES_WARNING, l,
                     file, lineno, r == PK_ENOGROUP ? r : PK_EUNITSYNTAX, "%s '%s'",
                     r == PK_ENOGROUP ? "no such group" : "bad group", f[4]);
                goto out;
        }
        if (f[5] && strcmp(f[5], "-") != 0) {
                if (parse_age(f[5]) < 0) {
                        SYNTAX(t, file, lineno, l, "bad age '%s'", f[5]);
                        goto out;
                }
                l->age_set = true;
        }
        /* argument: the rest of the line */
        if (f[5]) {
                r = argument(p, &l->arg, &l->arg_len);
                if (r == -ENOMEM)
                        goto oom;
                if (r < 0) {
                        SYNTAX(t, file, lineno, l, "bad escape in the argument");
                        goto out;
                }
        }
        if (l->arg && l->tilde) {
                if (pk__unit_unbase64(l->arg, &l->arg_len) < 0) {
                        SYNTAX(t, file, lineno, l, "the argument is not base64");
                        goto out;
                }
        } else if (l->arg && !l->caret && strchr(l->arg, '%')) {
                char *x = NULL;
                r = specifiers(t, l->arg, &x, bad);
                if (r == -ENOMEM)
                        goto oom;
                if (r < 0) {
                        note(t, PK_UNIT_TMPFILES_WARNING, l, file, lineno, PK_EUNITSPEC,
                             "unknown or unavailable specifier '%%%s' in the argument", bad);
                        goto out;
                }
                free(l->arg);
                l->arg = x;
                l->arg_len = strlen(x);
        }
        if (strchr("cb", l->type)) {
                unsigned int ma, mi;
                char end;
                if (!l->arg || sscanf(l->arg, "%u:%u%c", &ma, &mi, &end) != 2) {
                        SYNTAX(t, file, lineno, l, "a device needs major:minor as argument");
                        goto out;
                }
        }
        if ((l->type == 'w' || strchr("hHaAtT", l->type)) && !l->arg && !l->caret) {
                SYNTAX(t, file, lineno, l, "type '%c' needs an argument", l->type);
                goto out;
        }
        ret = 1;
out:
        for (size_t i = 0; i < 6; i++)
                free(f[i]);
        if (ret != 1)
                line_free(l);
        return ret;
oom:
        for (size_t i = 0; i < 6; i++)
                free(f[i]);
        line_free(l);
        return -ENOMEM;
}

/* ---- applying ----------------------------------------------------------------------- */

static bool dry(const struct tf *t)
{
        return (t->o->flags & PK_UNIT_TMPFILES_DRY_RUN) != 0;
}

/* root + path into buf. */
static int full_path(const struct tf *t, const char *path, char *buf, size_t size)
{
        int n = snprintf(buf, size, "%s%s", t->root, path);
        return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
        (void)sb;
        (void)ftw;
        int r = flag == FTW_DP ? rmdir(p) : unlink(p);
        return r < 0 && errno != ENOENT ? -1 : 0;
}

/* Removes p and everything under it, without following symlinks. */
static int rm_rf(const char *p)
{
        struct stat st;
        if (lstat(p, &st) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISDIR(st.st_mode))
                return unlink(p) < 0 && errno != ENOENT ? -errno : 0;
        return nftw(p, rm_cb, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 ? -errno : 0;
}

/* Removes the contents of directory p (not p). */
static int rm_contents(const char *p)
{
        DIR *d = opendir(p);
        if (!d)
                return errno == ENOENT ? 0 : -errno;
        int r = 0;
        struct dirent *e;
        char sub[TF_MAX_PATH * 2];
        while ((e = readdir(d))) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                        continue;
                int n = snprintf(sub, sizeof(sub), "%s/%s", p, e->d_name);
                if (n < 0 || (size_t)n >= sizeof(sub)) {
                        r = r ? r : -ENAMETOOLONG;
                        continue;
                }
                int q = rm_rf(sub);
                if (q < 0 && r == 0)
                        r = q;
        }
        closedir(d);
        return r;
}

/* Makes the directories leading to full path p (0755, owned by the caller);
 * with replace (`=`), a non-directory in the way is removed. */
static int mkparents(const struct tf *t, const char *p, bool replace)
{
        char buf[TF_MAX_PATH * 2];
        size_t rootlen = strlen(t->root);
        snprintf(buf, sizeof(buf), "%s", p);
        for (char *s = buf + rootlen + 1; (s = strchr(s, '/')); s++) {
                *s = '\0';
                if (mkdir(buf, 0755) < 0 && errno != EEXIST)
                        return -errno;
                struct stat st;
                if (stat(buf, &st) < 0)
                        return -errno;
                if (!S_ISDIR(st.st_mode)) {
                        if (!replace)
                                return -ENOTDIR;
                        int r = rm_rf(buf);
                        if (r < 0)
                                return r;
                        if (mkdir(buf, 0755) < 0)
                                return -errno;
                }
                *s = '/';
        }
        return 0;
}

/* chmod through an O_PATH descriptor (Linux cannot chmod a path without
 * following a link; /proc/self/fd/N reaches the very inode that was checked). */
static int fd_chmod(int fd, const char *p, mode_t m)
{
        char proc[64];
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        if (chmod(proc, m) == 0)
                return 0;
        if (errno != ENOENT)
                return -errno;
        return chmod(p, m) < 0 ? -errno : 0; /* no /proc (a chroot): by path */
}

/* Mode and owner of an existing object; created: whether this line just made
 * it.  The object is opened O_PATH|O_NOFOLLOW and changed through that
 * descriptor, so a link swapped in after a check is never followed (lines
 * apply as root in world-writable /tmp). */
static int adjust(const struct tf_line *l, const char *p, bool created)
{
        int fd = open(p, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        struct stat st;
        int r = 0;
        if (fstat(fd, &st) < 0) {
                r = -errno;
                goto out;
        }
        if (S_ISLNK(st.st_mode))
                goto out; /* modes and owners of links are not set */
        uid_t u = (uid_t)-1;
        gid_t g = (gid_t)-1;
        if (l->uid_set && (created || !l->uid_create_only) && st.st_uid != l->uid)
                u = l->uid;
        if (l->gid_set && (created || !l->gid_create_only) && st.st_gid != l->gid)
                g = l->gid;
        if ((u != (uid_t)-1 || g != (gid_t)-1) && fchownat(fd, "", u, g, AT_EMPTY_PATH) < 0) {
                r = -errno;
                goto out;
        }
        unsigned int m = 0;
        bool want = true;
        if (created && !l->mode_set && l->type != 'C') {
                /* the default mode, whatever the umask took off at creation */
                m = S_ISDIR(st.st_mode) ? 0755 : 0644;
        } else if (l->mode_set && (created || !l->mode_create_only)) {
                m = l->mode;
                if (l->mode_masked) {
                        unsigned int old = st.st_mode & 07777;
                        if (!(old & 0111))
                                m &= ~0111u;
                        if (!(old & 0444))
                                m &= ~0444u;
                        if (!(old & 0222))
                                m &= ~0222u;
                        if (!S_ISDIR(st.st_mode))
                                m &= ~07000u;
                }
        } else {
                want = false;
        }
        if (!want)
                goto out;
        /* chown may have cleared set-id bits: compare with a fresh stat */
        if (fstat(fd, &st) < 0) {
                r = -errno;
                goto out;
        }
        if ((st.st_mode & 07777) != m)
                r = fd_chmod(fd, p, (mode_t)m);
out:
        close(fd);
        return r;
}

/* Something is at p where a line makes an object of kind fmt (S_IFDIR,
 * S_IFREG...): returns 0 if it is of that kind (kept), else removes it and
 * returns 1 if replace is set, else -EEXIST; < 0 on failure. */
static int replace_if(const char *p, mode_t fmt, bool replace)
{
        struct stat st;
        if (lstat(p, &st) < 0)
                return -errno;
        if ((st.st_mode & S_IFMT) == fmt)
                return 0;
        if (!replace)
                return -EEXIST;
        int r = rm_rf(p);
        return r < 0 ? r : 1;
}

static int write_arg(int fd, const struct tf_line *l)
{
        if (!l->arg)
                return 0;
        ssize_t n = pk_fd_write_all(fd, l->arg, l->arg_len, NULL);
        return n < 0 ? (int)n : 0;
}

/* How a line makes its object at p: 0 or -errno (-EEXIST when something is
 * there already). */
typedef int tf_make_fn(const struct tf_line *l, const char *p);

/* Makes the object of kind fmt (S_IFDIR, S_IFIFO...) at p with make(); when
 * something is there already it is kept if it is of kind fmt, replaced if
 * replace is set, else -EEXIST.  Returns 1 if the object was made, 0 if it
 * was kept, < 0 on failure. */
static int make_or_replace(const struct tf_line *l, const char *p, mode_t fmt, bool replace,
                           tf_make_fn *make)
{
        int r = make(l, p);
        if (r != -EEXIST)
                return r < 0 ? r : 1;
        r = replace_if(p, fmt, replace);
        if (r != 1)
                return r;
        r = make(l, p);
        return r < 0 ? r : 1;
}

static int make_dir(const struct tf_line *l, const char *p)
{
        return mkdir(p, l->mode_set ? (mode_t)l->mode : 0755) < 0 ? -errno : 0;
}

static int do_dir(struct tf *t, const struct tf_line *l, const char *p)
{
        int r = mkparents(t, p, l->eq);
        if (r < 0)
                return r;
        r = make_or_replace(l, p, S_IFDIR, l->eq, make_dir);
        if (r < 0) {
                /* a link to a directory is accepted, as systemd does */
                struct stat st;
                if (r == -EEXIST && stat(p, &st) == 0 && S_ISDIR(st.st_mode))
                        return 0;
                return r;
        }
        bool created = r == 1;
        if (l->type == 'D' && !created && (t->o->flags & PK_UNIT_TMPFILES_REMOVE))
                if ((r = rm_contents(p)) < 0)
                        return r;
        return adjust(l, p, created);
}

static int do_file(struct tf *t, const struct tf_line *l, const char *p)
{
        int r = mkparents(t, p, l->eq);
        if (r < 0)
                return r;
        mode_t m = l->mode_set ? (mode_t)l->mode : 0644;
        bool created = false;
        int flags = O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY;
        int fd = open(p, flags | O_EXCL, m);
        if (fd >= 0) {
                created = true;
        } else if (errno == EEXIST) {
                r = replace_if(p, S_IFREG, l->eq);
                if (r < 0)
                        return r;
                if (r == 1 || l->plus) {
                        fd = open(p, flags | O_TRUNC, m);
                        if (fd < 0)
                                return -errno;
                        created = r == 1;
                }
        } else {
                return -errno;
        }
        if (fd >= 0) {
                r = (created || l->plus) ? write_arg(fd, l) : 0;
                close(fd);
                if (r < 0)
                        return r;
        }
        return adjust(l, p, created);
}

static int do_write(const struct tf_line *l, const char *p)
{
        int fd = open(p, O_WRONLY | O_NOCTTY | O_CLOEXEC | O_NONBLOCK | (l->plus ? O_APPEND : 0));
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno; /* w: only files that exist */
        int r = write_arg(fd, l);
        close(fd);
        return r;
}

/* The kind of node a p, c or b line makes. */
static mode_t node_fmt(const struct tf_line *l)
{
        return l->type == 'p' ? S_IFIFO : l->type == 'c' ? S_IFCHR : S_IFBLK;
}

/* p, c and b: the device numbers "major:minor" are the line's argument. */
static int make_node(const struct tf_line *l, const char *p)
{
        mode_t fmt = node_fmt(l);
        mode_t m = l->mode_set ? (mode_t)l->mode : 0644;
        dev_t dev = 0;
        if (fmt != S_IFIFO) {
                unsigned int ma = 0, mi = 0;
                (void)sscanf(l->arg, "%u:%u", &ma, &mi);
                dev = makedev(ma, mi);
        }
        return mknod(p, fmt | m, dev) < 0 ? -errno : 0;
}

static int do_node(struct tf *t, const struct tf_line *l, const char *p)
{
        int r = mkparents(t, p, l->eq);
        if (r < 0)
                return r;
        r = make_or_replace(l, p, node_fmt(l), l->plus || l->eq, make_node);
        return r < 0 ? r : adjust(l, p, r == 1);
}

static int do_link(struct tf *t, const struct tf_line *l, const char *p)
{
        char factory[TF_MAX_PATH + 32];
        const char *target = l->arg;
        if (!target) {
                snprintf(factory, sizeof(factory), "/usr/share/factory%s", l->path);
                target = factory;
        }
        int r = mkparents(t, p, l->eq);
        if (r < 0)
                return r;
        if (symlink(target, p) == 0)
                return 0;
        if (errno != EEXIST)
                return -errno;
        char cur[TF_MAX_PATH];
        ssize_t n = readlink(p, cur, sizeof(cur) - 1);
        if (n >= 0) {
                cur[n] = '\0';
                if (strcmp(cur, target) == 0)
                        return 0;
        }
        if (!l->plus)
                return 0; /* something else is there: left alone, as systemd does */
        if ((r = rm_rf(p)) < 0)
                return r;
        return symlink(target, p) < 0 ? -errno : 0;
}

/* C: copies a regular file or a symlink when the destination does not exist. */
static int do_copy(struct tf *t, const struct tf_line *l, const char *p, bool *skipped)
{
        char src[TF_MAX_PATH * 2];
        char factory[TF_MAX_PATH + 32];
        const char *s = l->arg;
        if (!s) {
                snprintf(factory, sizeof(factory), "/usr/share/factory%s", l->path);
                s = factory;
        }
        if (full_path(t, s, src, sizeof(src)) < 0)
                return -ENAMETOOLONG;
        struct stat st;
        if (lstat(src, &st) < 0) {
                if (errno != ENOENT)
                        return -errno;
                *skipped = true; /* systemd skips a missing source */
                return 0;
        }
        if (lstat(p, &(struct stat){0}) == 0)
                return 0;
        int r = mkparents(t, p, l->eq);
        if (r < 0)
                return r;
        if (S_ISDIR(st.st_mode))
                return -EOPNOTSUPP; /* noted: directory copies are not done */
        if (S_ISLNK(st.st_mode)) {
                char tgt[TF_MAX_PATH];
                ssize_t n = readlink(src, tgt, sizeof(tgt) - 1);
                if (n < 0)
                        return -errno;
                tgt[n] = '\0';
                return symlink(tgt, p) < 0 ? -errno : 0;
        }
        if (!S_ISREG(st.st_mode))
                return -EOPNOTSUPP;
        int in = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (in < 0)
                return -errno;
        mode_t m = l->mode_set ? (mode_t)l->mode : (st.st_mode & 07777);
        int out = open(p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, m);
        if (out < 0) {
                r = -errno;
                close(in);
                return r;
        }
        char buf[65536];
        for (;;) {
                ssize_t n = pk_fd_read_all(in, buf, sizeof(buf), NULL);
                if (n <= 0) {
                        r = (int)n;
                        break;
                }
                ssize_t w = pk_fd_write_all(out, buf, (size_t)n, NULL);
                if (w < 0) {
                        r = (int)w;
                        break;
                }
        }
        close(in);
        close(out);
        if (r < 0)
                return r;
        if (lstat(p, &st) < 0)
                return -errno;
        return adjust(l, p, true);
}

/* Z: adjusts p and, for a directory, everything under it on the same file
 * system, without following links (nftw has no user pointer: a walk of our
 * own keeps the library free of global state). */
static int adjust_tree(const struct tf_line *l, const char *p, const struct stat *st,
                       unsigned int depth)
{
        int r = adjust(l, p, false);
        if (!S_ISDIR(st->st_mode) || depth >= 64)
                return r;
        int dfd = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0)
                return r < 0 ? r : -errno;
        DIR *d = fdopendir(dfd);
        if (!d) {
                close(dfd);
                return r < 0 ? r : -errno;
        }
        struct dirent *e;
        char sub[TF_MAX_PATH * 2];
        while ((e = readdir(d))) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                        continue;
                int n = snprintf(sub, sizeof(sub), "%s/%s", p, e->d_name);
                struct stat cst;
                if (n < 0 || (size_t)n >= sizeof(sub) || lstat(sub, &cst) < 0)
                        continue;
                if (cst.st_dev != st->st_dev)
                        continue;
                int q = adjust_tree(l, sub, &cst, depth + 1);
                if (q < 0 && r == 0)
                        r = q;
        }
        closedir(d);
        return r;
}

/* One existing path of a glob line; full path p. */
static int do_existing(const struct tf_line *l, const char *p)
{
        struct stat st;
        switch (l->type) {
        case 'w':
                return do_write(l, p);
        case 'e':
        case 'z':
                if (lstat(p, &st) < 0)
                        return errno == ENOENT ? 0 : -errno;
                if (l->type == 'e' && !S_ISDIR(st.st_mode))
                        return 0;
                return adjust(l, p, false);
        case 'Z':
                if (lstat(p, &st) < 0)
                        return errno == ENOENT ? 0 : -errno;
                return adjust_tree(l, p, &st, 0);
        case 'r':
                if (lstat(p, &st) < 0)
                        return errno == ENOENT ? 0 : -errno;
                if (S_ISDIR(st.st_mode))
                        return rmdir(p) < 0 && errno != ENOTEMPTY && errno != EEXIST ? -errno : 0;
                return unlink(p) < 0 && errno != ENOENT ? -errno : 0;
        case 'R':
                return rm_rf(p);
        default:
                return 0;
        }
}

static int do_glob(const struct tf_line *l, const char *p)
{
        if (!type_globs(l->type) || !strpbrk(l->path, "*?["))
                return do_existing(l, p);
        glob_t g;
        int gr = glob(p, GLOB_NOSORT, NULL, &g);
        if (gr == GLOB_NOMATCH)
                return 0;
        if (gr != 0)
                return gr == GLOB_NOSPACE ? -ENOMEM : -EIO;
        int r = 0;
        for (size_t i = 0; i < g.gl_pathc; i++) {
                int q = do_existing(l, g.gl_pathv[i]);
                if (q < 0 && r == 0)
                        r = q;
        }
        globfree(&g);
        return r;
}

static bool seen_match(const void *v, const void *key)
{
        const struct seen *a = v, *b = key;
        return a->cls == b->cls && strcmp(a->path, b->path) == 0;
}

/* 1 if a line of the same class already named this path (then this one is a
 * duplicate), 0 after recording it. */
static int seen_before(struct tf *t, const struct tf_line *l)
{
        size_t n = strlen(l->path);
        struct seen *e = malloc(sizeof(*e) + n + 1);
        if (!e)
                return -ENOMEM;
        e->cls = type_class(l->type);
        memcpy(e->path, l->path, n + 1);
        uint64_t h = pk__hash_u64(pk__hash_str(e->path) + (uint64_t)e->cls);
        if (pk__htab_get(&t->seen, h, seen_match, e)) {
                free(e);
                return 1;
        }
        if (pk__htab_put(&t->seen, h, e) < 0) {
                free(e);
                return -ENOMEM;
        }
        return 0;
}

static void add_not_enforced(struct tf *t, char c)
{
        char *ne = t->st->not_enforced;
        if (strchr(ne, c))
                return;
        size_t n = strlen(ne);
        if (n + 1 < sizeof(t->st->not_enforced)) {
                ne[n] = c;
                ne[n + 1] = '\0';
        }
}

/* Whether a parsed line is to be applied: 1; 0 when it is skipped by design
 * or noted (boot-only, credentials, cleaning or removal only, not enforced,
 * a duplicate); -ENOMEM. */
static int admit_line(struct tf *t, const struct tf_line *l)
{
        const unsigned int fl = t->o->flags;
        if (l->boot && !(fl & PK_UNIT_TMPFILES_BOOT)) {
                t->st->skipped++;
                return 0;
        }
        if (l->age_set)
                t->st->aged++;
        if (l->caret) {
                t->st->skipped++; /* no credentials here: skipped, as systemd does when unset */
                return 0;
        }
        if (strchr("xX", l->type) || (strchr("rR", l->type) && !(fl & PK_UNIT_TMPFILES_REMOVE))) {
                t->st->skipped++;
                return 0;
        }
        if (strchr("hHaAtT", l->type)) {
                add_not_enforced(t, l->type);
                static const char *const what[] = {"file attributes (chattr)", "ACLs",
                                                   "extended attributes"};
                int k = strchr("hH", l->type) ? 0 : strchr("aA", l->type) ? 1 : 2;
                note(t, PK_UNIT_TMPFILES_NOT_ENFORCED, l, l->file, l->line, 0,
                     "%s of %s are not set", what[k], l->path);
                return 0;
        }
        if (!(l->type == 'w' && l->plus)) {
                int d = seen_before(t, l);
                if (d < 0)
                        return d;
                if (d == 1) {
                        t->st->skipped++;
                        note(t, PK_UNIT_TMPFILES_WARNING, l, l->file, l->line, 0,
                             "duplicate line for path %s, ignored", l->path);
                        return 0;
                }
        }
        return 1;
}

static void do_line(struct tf *t, struct tf_line *l)
{
        l->done = true;
        char p[TF_MAX_PATH * 2];
        if (full_path(t, l->path, p, sizeof(p)) < 0) {
                fail(t, l, -ENAMETOOLONG, "path");
                return;
        }
        if (dry(t)) {
                t->st->applied++;
                return;
        }
        if (strcmp(l->path, "/") == 0 && strchr("rR", l->type)) {
                fail(t, l, -EPERM, "refusing to remove");
                return;
        }
        int r;
        bool skipped = false;
        const char *what = "create";
        switch (l->type) {
        case 'd':
        case 'D':
        case 'v':
        case 'q':
        case 'Q':
                r = do_dir(t, l, p);
                break;
        case 'f':
                r = do_file(t, l, p);
                break;
        case 'p':
        case 'c':
        case 'b':
                r = do_node(t, l, p);
                break;
        case 'L':
                r = do_link(t, l, p);
                break;
        case 'C':
                r = do_copy(t, l, p, &skipped);
                what = "copy to";
                break;
        default:
                what = strchr("rR", l->type) ? "remove" : l->type == 'w' ? "write" : "adjust";
                r = do_glob(l, p);
                break;
        }
        if (r < 0) {
                if (r == -EOPNOTSUPP && l->type == 'C') {
                        add_not_enforced(t, 'C');
                        note(t, PK_UNIT_TMPFILES_NOT_ENFORCED, l, l->file, l->line, 0,
                             "only files and links are copied; %s is not", l->arg ? l->arg : "");
                        return;
                }
                fail(t, l, r, what);
                return;
        }
        if (skipped)
                t->st->skipped++;
        else
                t->st->applied++;
        return;
}

/* Whether a line names several paths (a glob, applied after the others). */
static bool is_glob(const struct tf_line *l)
{
        return type_globs(l->type) && strpbrk(l->path, "*?[") != NULL;
}

/* Lines by exact path, for the parents-first order. */
struct pkey {
        const char *p;
        size_t n;
};

static uint64_t hash_bytes(const char *p, size_t n)
{
        uint64_t h = 0xcbf29ce484222325ull;
        for (size_t i = 0; i < n; i++)
                h = (h ^ (unsigned char)p[i]) * 0x100000001b3ull;
        return pk__hash_u64(h);
}

static bool path_match(const void *v, const void *key)
{
        const struct tf_line *l = v;
        const struct pkey *k = key;
        return strncmp(l->path, k->p, k->n) == 0 && l->path[k->n] == '\0';
}

/* Applies the admitted lines as systemd-tmpfiles orders them: a line for a
 * parent path before its children's lines (a file's order otherwise), lines
 * with globs last.  r/R lines are never pulled in as parents. */
static int run_pending(struct tf *t)
{
        struct pk__htab by_path = {0};
        int r = 0;
        for (size_t i = 0; i < t->npend && r == 0; i++) {
                struct tf_line *l = &t->pend[i];
                if (is_glob(l) || strchr("rR", l->type))
                        continue;
                struct pkey k = {l->path, strlen(l->path)};
                uint64_t h = hash_bytes(k.p, k.n);
                struct tf_line *head = pk__htab_get(&by_path, h, path_match, &k);
                if (head) {
                        while (head->same)
                                head = head->same;
                        head->same = l;
                } else {
                        r = pk__htab_put(&by_path, h, l);
                }
        }
        for (size_t i = 0; i < t->npend && r == 0; i++) {
                struct tf_line *l = &t->pend[i];
                if (l->done || is_glob(l))
                        continue;
                if (!strchr("rR", l->type)) {
                        /* the lines of each parent, shortest first: their own
                         * parents are shorter prefixes, so they come first too */
                        for (size_t n = 1; l->path[n]; n++) {
                                if (l->path[n] != '/')
                                        continue;
                                struct pkey k = {l->path, n};
                                for (struct tf_line *q =
                                         pk__htab_get(&by_path, hash_bytes(k.p, n), path_match, &k);
                                     q; q = q->same)
                                        if (!q->done)
                                                do_line(t, q);
                        }
                }
                do_line(t, l);
        }
        for (size_t i = 0; i < t->npend && r == 0; i++)
                if (!t->pend[i].done)
                        do_line(t, &t->pend[i]);
        pk__htab_free(&by_path);
        return r;
}

/* Splits buf into lines, parses each and queues the admitted ones. */
static int apply_text(struct tf *t, const char *buf, size_t len, const char *file)
{
        char *line = malloc(TF_MAX_LINE + 1);
        if (!line)
                return -ENOMEM;
        unsigned int lineno = 0;
        int r = 0;
        for (size_t i = 0; i < len && r == 0;) {
                const char *nl = memchr(buf + i, '\n', len - i);
                size_t n = nl ? (size_t)(nl - (buf + i)) : len - i;
                const char *s = buf + i;
                i += n + (nl ? 1 : 0);
                lineno++;
                if (n > TF_MAX_LINE) {
                        SYNTAX(t, file, lineno, NULL, "line longer than %zu bytes", TF_MAX_LINE);
                        continue;
                }
                if (memchr(s, '\0', n)) {
                        SYNTAX(t, file, lineno, NULL, "NUL byte in the line");
                        continue;
                }
                memcpy(line, s, n);
                line[n] = '\0';
                if (n && line[n - 1] == '\r')
                        line[n - 1] = '\0';
                const char *q = line + strspn(line, " \t");
                if (!*q || *q == '#')
                        continue;
                if (t->st->lines >= t->max_lines) {
                        note(t, PK_UNIT_TMPFILES_ERROR, NULL, file, lineno, PK_EUNITLIMIT,
                             "more than %zu lines: the rest is not applied", t->max_lines);
                        r = PK_EUNITLIMIT;
                        break;
                }
                t->st->lines++;
                struct tf_line l;
                int pr = parse_line(t, q, file, lineno, &l);
                if (pr < 0) {
                        r = pr;
                        break;
                }
                if (pr == 1) {
                        int a = admit_line(t, &l);
                        if (a == 1) {
                                a = pk__array_grow((void **)&t->pend, &t->cappend, t->npend + 1,
                                                   sizeof(*t->pend), 64);
                                if (a == 0) {
                                        t->pend[t->npend++] = l;
                                        continue;
                                }
                        }
                        line_free(&l);
                        if (a < 0)
                                r = a;
                }
        }
        free(line);
        return r;
}

static void tf_init(struct tf *t, const struct pk_unit_tmpfiles_opts *o,
                    struct pk_unit_tmpfiles_stats *st)
{
        memset(t, 0, sizeof(*t));
        t->o = o;
        t->st = st;
        memset(st, 0, sizeof(*st));
        t->root = o->root && strcmp(o->root, "/") != 0 ? o->root : "";
        t->max_lines = o->max_lines ? o->max_lines : TF_DEFAULT_MAX_LINES;
}

static void tf_done(struct tf *t)
{
        for (size_t i = 0; i < t->seen.cap; i++)
                free(t->seen.slots[i].v);
        pk__htab_free(&t->seen);
        for (size_t i = 0; i < t->npend; i++)
                line_free(&t->pend[i]);
        free(t->pend);
        for (size_t i = 0; i < t->nfnames; i++)
                free(t->fnames[i]);
        free(t->fnames);
}

int pk_unit_tmpfiles_apply_buf(const char *buf, size_t len, const char *file,
                               const struct pk_unit_tmpfiles_opts *opts,
                               struct pk_unit_tmpfiles_stats *ret_stats)
{
        static const struct pk_unit_tmpfiles_opts defaults = {0};
        struct pk_unit_tmpfiles_stats st_;
        struct tf t;
        tf_init(&t, opts ? opts : &defaults, ret_stats ? ret_stats : &st_);
        if ((!buf && len) || !file) {
                tf_done(&t);
                return -EINVAL;
        }
        t.st->files = 1;
        int r = apply_text(&t, buf ? buf : "", len, file);
        if (r == 0 || r == PK_EUNITLIMIT) { /* the lines before the limit still apply */
                int q = run_pending(&t);
                r = r ? r : q;
        }
        tf_done(&t);
        return r < 0 ? r : t.first_err;
}

/* A configuration file: its name and the directory it comes from. */
struct cfile {
        char *name;
        size_t dir;
};

static int cfile_cmp(const void *a, const void *b)
{
        return strcmp(((const struct cfile *)a)->name, ((const struct cfile *)b)->name);
}

int pk_unit_tmpfiles_apply(const struct pk_unit_tmpfiles_opts *opts,
                           struct pk_unit_tmpfiles_stats *ret_stats)
{
        static const char *const default_dirs[] = {"/etc/tmpfiles.d", "/run/tmpfiles.d",
                                                   "/usr/local/lib/tmpfiles.d",
                                                   "/usr/lib/tmpfiles.d", NULL};
        static const struct pk_unit_tmpfiles_opts defaults = {0};
        struct pk_unit_tmpfiles_stats st_;
        struct tf t;
        tf_init(&t, opts ? opts : &defaults, ret_stats ? ret_stats : &st_);
        const char *const *dirs = t.o->dirs ? t.o->dirs : default_dirs;
        size_t max_file = t.o->max_file ? t.o->max_file : TF_DEFAULT_MAX_FILE;
        struct cfile *files = NULL;
        size_t nfiles = 0, cap = 0;
        int r = 0;
        char path[TF_MAX_PATH * 2];
        for (size_t di = 0; dirs[di] && r == 0; di++) {
                if (full_path(&t, dirs[di], path, sizeof(path)) < 0)
                        continue;
                DIR *d = opendir(path);
                if (!d)
                        continue;
                struct dirent *e;
                while ((e = readdir(d)) && r == 0) {
                        size_t n = strlen(e->d_name);
                        if (n < 6 || strcmp(e->d_name + n - 5, ".conf") != 0 || e->d_name[0] == '.')
                                continue;
                        bool dup = false;
                        for (size_t i = 0; i < nfiles && !dup; i++)
                                dup = strcmp(files[i].name, e->d_name) == 0;
                        if (dup)
                                continue; /* a higher directory has it */
                        if (nfiles >= TF_MAX_FILES) {
                                r = PK_EUNITLIMIT;
                                break;
                        }
                        if ((r = pk__array_grow((void **)&files, &cap, nfiles + 1, sizeof(*files),
                                                32)) < 0)
                                break;
                        char *c = strdup(e->d_name);
                        if (!c) {
                                r = -ENOMEM;
                                break;
                        }
                        files[nfiles].name = c;
                        files[nfiles].dir = di;
                        nfiles++;
                }
                closedir(d);
        }
        if (r == PK_EUNITLIMIT)
                note(&t, PK_UNIT_TMPFILES_ERROR, NULL, "", 0, r, "more than %u configuration files",
                     TF_MAX_FILES);
        if (nfiles)
                qsort(files, nfiles, sizeof(*files), cfile_cmp);
        for (size_t i = 0; i < nfiles && r == 0; i++) {
                char rel[TF_MAX_PATH];
                snprintf(rel, sizeof(rel), "%s/%s", dirs[files[i].dir], files[i].name);
                if (full_path(&t, rel, path, sizeof(path)) < 0)
                        continue;
                struct stat fst;
                if (stat(path, &fst) == 0 && S_ISCHR(fst.st_mode))
                        continue; /* masked: a link to /dev/null */
                char *buf = NULL;
                size_t len = 0;
                int q = pk__unit_read_file(path, max_file, &buf, &len);
                if (q == -ENOMEM) {
                        r = q;
                        break;
                }
                if (q < 0) {
                        note(&t, PK_UNIT_TMPFILES_ERROR, NULL, path, 0, q, "cannot read: %s",
                             pk_strerror(q));
                        continue;
                }
                t.st->files++;
                /* the lines point to their file's name until they are applied */
                char *name = NULL;
                r = pk__array_grow((void **)&t.fnames, &t.capfnames, t.nfnames + 1,
                                   sizeof(*t.fnames), 32);
                if (r == 0 && !(name = strdup(path)))
                        r = -ENOMEM;
                if (r == 0) {
                        t.fnames[t.nfnames++] = name;
                        r = apply_text(&t, buf, len, name);
                }
                free(buf);
        }
        if (r == 0 || r == PK_EUNITLIMIT) { /* the lines before the limit still apply */
                int q = run_pending(&t);
                r = r ? r : q;
        }
        for (size_t i = 0; i < nfiles; i++)
                free(files[i].name);
        free(files);
        tf_done(&t);
        return r < 0 ? r : t.first_err;
}
