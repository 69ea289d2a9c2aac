/* SPDX-License-Identifier: MIT */
/* The syntax of systemd.syntax(7), sans-IO: sections, comments, assignments
 * and line continuations, with limits on line length, file size and the number
 * of assignments; plus the unit's lifecycle (parse, drop-in, finish, free). */
#include "unit/unit_int.h"

#include <string.h>

static bool is_ws(char ch)
{
        return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

static struct pk_unit_opts norm_opts(const struct pk_unit_opts *o)
{
        struct pk_unit_opts n = {0};
        if (o)
                n = *o;
        if (!n.max_line)
                n.max_line = PK_UNIT_DEFAULT_MAX_LINE;
        if (!n.max_file)
                n.max_file = PK_UNIT_DEFAULT_MAX_FILE;
        if (!n.max_keys)
                n.max_keys = PK_UNIT_DEFAULT_MAX_KEYS;
        if (!n.max_dropins)
                n.max_dropins = PK_UNIT_DEFAULT_MAX_DROPINS;
        return n;
}

int pk__unit_note(struct pctx *c, bool warning, const char *key, const char *value,
                  const char *message)
{
        struct pk_unit *u = &c->p->pub;
        struct ua *a = &c->p->arena;
        struct pk_unit_note **v = warning ? &u->warnings.v : &u->not_enforced.v;
        size_t *n = warning ? &u->warnings.n : &u->not_enforced.n;
        if (ua_grow(a, (void **)v, *n, sizeof(**v), 0) < 0)
                return -ENOMEM;
        struct pk_unit_note *e = &(*v)[(*n)++];
        e->file = c->file;
        e->line = c->line;
        e->section = c->section ? ua_strdup(a, c->section) : "";
        e->key = ua_strdup(a, key ? key : "");
        e->value = ua_strdup(a, value ? value : "");
        e->message = message ? ua_strdup(a, message) : NULL;
        if (!e->section || !e->key || !e->value || (message && !e->message))
                return -ENOMEM;
        return 0;
}

/* Handles one logical line (continuations joined, not yet stripped). */
static int logical_line(struct pctx *c, char *l)
{
        while (is_ws(*l))
                l++;
        size_t len = strlen(l);
        while (len && is_ws(l[len - 1]))
                l[--len] = 0;
        if (len == 0 || *l == '#' || *l == ';')
                return 0;
        c->key = NULL;
        if (*l == '[') {
                if (l[len - 1] != ']' || len < 3)
                        return pk__unit_fail(c, PK_EUNITSYNTAX, "invalid section header");
                l[len - 1] = 0;
                for (char *s = l + 1; *s; s++)
                        if ((unsigned char)*s < 0x20 || *s == '[' || *s == ']')
                                return pk__unit_fail(c, PK_EUNITSYNTAX, "invalid section header");
                c->section = ua_strdup(&c->p->arena, l + 1);
                return c->section ? 0 : -ENOMEM;
        }
        if (strncmp(l, ".include", 8) == 0 && (is_ws(l[8]) || !l[8]))
                return pk__unit_fail(c, PK_EUNITSYNTAX,
                                     ".include is not supported (removed from systemd); use a "
                                     "drop-in");
        char *eq = strchr(l, '=');
        bool strict = c->o->flags & PK_UNIT_STRICT;
        if (!eq) {
                if (strict)
                        return pk__unit_fail(c, PK_EUNITSYNTAX, "missing '=' in assignment");
                return pk__unit_note(c, true, l, "", "missing '=': line ignored");
        }
        char *kend = eq;
        while (kend > l && is_ws(kend[-1]))
                kend--;
        *kend = 0;
        char *value = eq + 1;
        while (is_ws(*value))
                value++;
        if (!*l) {
                if (strict)
                        return pk__unit_fail(c, PK_EUNITSYNTAX, "empty key");
                return pk__unit_note(c, true, "", value, "empty key: line ignored");
        }
        if (!c->section) {
                c->key = l;
                if (strict)
                        return pk__unit_fail(c, PK_EUNITSYNTAX, "assignment outside a section");
                return pk__unit_note(c, true, l, value, "assignment outside a section: ignored");
        }
        if (++c->p->nkeys > c->o->max_keys) {
                c->key = l;
                return pk__unit_fail(c, PK_EUNITLIMIT, "more than %u assignments", c->o->max_keys);
        }
        return pk__unit_assign(c, c->section, l, value);
}

int pk__unit_lex(struct pctx *c, const char *buf, size_t len)
{
        c->line = 0;
        c->section = NULL;
        c->key = NULL;
        if (len > c->o->max_file)
                return pk__unit_fail(c, PK_EUNITLIMIT, "file larger than %zu bytes",
                                     c->o->max_file);
        if (memchr(buf, 0, len))
                return pk__unit_fail(c, PK_EUNITSYNTAX, "file contains a NUL byte");
        size_t max = c->o->max_line;
        /* A logical line is at most the file (a continuation's backslash
         * becomes one space), so a small file needs no max_line buffer:
         * zeroing 64 KiB a file was a tenth of supervise's start. */
        char *acc = malloc((len < max ? len : max) + 2);
        if (!acc)
                return -ENOMEM;
        size_t accn = 0;
        bool cont = false;
        unsigned start_line = 0;
        int r = 0;
        size_t pos = 0;
        if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
                pos = 3; /* UTF-8 byte order mark */
        unsigned lineno = 0;
        while (pos < len) {
                const char *nl = memchr(buf + pos, '\n', len - pos);
                size_t ll = nl ? (size_t)(nl - (buf + pos)) : len - pos;
                const char *l = buf + pos;
                pos += ll + (nl ? 1 : 0);
                lineno++;
                if (ll && l[ll - 1] == '\r')
                        ll--;
                if (cont) {
                        /* Comment lines inside a continuation are skipped. */
                        size_t k = 0;
                        while (k < ll && is_ws(l[k]))
                                k++;
                        if (k < ll && (l[k] == '#' || l[k] == ';'))
                                continue;
                } else {
                        start_line = lineno;
                        accn = 0;
                }
                /* A line ending in an unescaped backslash continues. */
                bool escaped = false;
                for (size_t k = 0; k < ll; k++)
                        escaped = escaped ? false : l[k] == '\\';
                size_t take = escaped ? ll - 1 : ll;
                if (accn + take + 1 > max) {
                        c->line = start_line;
                        c->key = NULL;
                        r = pk__unit_fail(c, PK_EUNITLIMIT, "line longer than %zu bytes", max);
                        goto out;
                }
                memcpy(acc + accn, l, take);
                accn += take;
                if (escaped) {
                        acc[accn++] = ' ';
                        cont = true;
                        continue;
                }
                cont = false;
                acc[accn] = 0;
                c->line = start_line;
                r = logical_line(c, acc);
                /* The key pointed into acc, which the next line overwrites. */
                c->key = NULL;
                if (r < 0)
                        goto out;
        }
        if (cont) {
                acc[accn] = 0;
                c->line = start_line;
                r = logical_line(c, acc);
        }
out:
        free(acc);
        return r;
}

/* ---- lifecycle ------------------------------------------------------------ */

struct pk_unit *pk_unit_free(struct pk_unit *u)
{
        if (!u)
                return NULL;
        struct unit_priv *p = unit_priv(u);
        ua_free(&p->arena);
        free(p);
        return NULL;
}

static int unit_new(const char *name, struct unit_priv **ret)
{
        struct unit_priv *p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        struct pk_unit *u = &p->pub;
        struct ua *a = &p->arena;
        u->name = ua_strdup(a, name);
        if (!u->name)
                goto nomem;
        const char *suffix = pk__unit_name_suffix(name);
        p->suffix = ua_strdup(a, suffix);
        size_t stem = strlen(name) - strlen(suffix) - 1;
        const char *at = memchr(name, '@', stem);
        p->prefix = ua_strndup(a, name, at ? (size_t)(at - name) : stem);
        if (!p->suffix || !p->prefix)
                goto nomem;
        if (at && (size_t)(at - name) + 1 < stem) {
                u->instance = ua_strndup(a, at + 1, stem - (size_t)(at - name) - 1);
                size_t tl = (size_t)(at - name) + 1;
                char *t = ua_alloc(a, tl + strlen(suffix) + 2);
                if (!u->instance || !t)
                        goto nomem;
                memcpy(t, name, tl);
                t[tl] = '.';
                memcpy(t + tl + 1, suffix, strlen(suffix) + 1);
                u->template_name = t;
        }
        if (strcmp(suffix, "service") == 0)
                u->kind = PK_UNIT_KIND_SERVICE;
        else if (strcmp(suffix, "socket") == 0)
                u->kind = PK_UNIT_KIND_SOCKET;
        else if (strcmp(suffix, "target") == 0)
                u->kind = PK_UNIT_KIND_TARGET;
        else
                u->kind = PK_UNIT_KIND_OTHER;
        pk__unit_defaults(u);
        *ret = p;
        return 0;
nomem:
        pk_unit_free(&p->pub);
        return -ENOMEM;
}

static int feed(struct unit_priv *p, const char *path, const char *buf, size_t len,
                const struct pk_unit_opts *opts, struct pk_unit_error *reterr, bool dropin)
{
        struct pk_unit_opts o = norm_opts(opts);
        struct pctx c = {.p = p, .o = &o, .err = reterr};
        char *file = ua_strdup(&p->arena, path ? path : "");
        if (!file)
                return -ENOMEM;
        c.file = file;
        if (dropin) {
                if (++p->ndropins > o.max_dropins)
                        return pk__unit_fail(&c, PK_EUNITLIMIT, "more than %u drop-ins",
                                             o.max_dropins);
                if (path) {
                        struct pk_unit_strv *d = &p->pub.dropin_paths;
                        if (ua_grow(&p->arena, (void **)&d->v, d->n, sizeof(char *), 1) < 0)
                                return -ENOMEM;
                        d->v[d->n++] = file;
                        d->v[d->n] = NULL;
                }
        }
        return pk__unit_lex(&c, buf, len);
}

int pk_unit_parse(const char *name, const char *path, const char *buf, size_t len,
                  const struct pk_unit_opts *opts, struct pk_unit **ret_unit,
                  struct pk_unit_error *reterr)
{
        if (!name || (!buf && len) || !ret_unit)
                return -EINVAL;
        if (!pk__unit_name_valid(name)) {
                pk__unit_err_set(reterr, path, 0, NULL, -EINVAL, "invalid unit name \"%.200s\"",
                                 name);
                return -EINVAL;
        }
        struct unit_priv *p;
        int r = unit_new(name, &p);
        if (r < 0)
                return r;
        if (path) {
                p->pub.fragment_path = ua_strdup(&p->arena, path);
                if (!p->pub.fragment_path) {
                        pk_unit_free(&p->pub);
                        return -ENOMEM;
                }
        }
        r = feed(p, path, buf ? buf : "", len, opts, reterr, false);
        if (r < 0) {
                pk_unit_free(&p->pub);
                return r;
        }
        *ret_unit = &p->pub;
        return 0;
}

int pk_unit_parse_dropin(struct pk_unit *u, const char *path, const char *buf, size_t len,
                         const struct pk_unit_opts *opts, struct pk_unit_error *reterr)
{
        if (!u || (!buf && len))
                return -EINVAL;
        return feed(unit_priv(u), path, buf ? buf : "", len, opts, reterr, true);
}
