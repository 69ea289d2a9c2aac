/* SPDX-License-Identifier: MIT */
/* Exec*= command lines: prefixes (- + ! !! @ :), quoting, C escapes and `;`
 * separated commands at load time; `$VAR`/`${VAR}` expansion at exec time,
 * following systemd's rules (a whole-word $VAR splits, ${VAR} never does). */
#include "common/dynbuf.h"
#include "unit/unit_int.h"

#include <string.h>

#define EXPAND_MAX ((size_t)1 << 20)

int pk__unit_exec_parse(struct pctx *c, struct pk_unit_exec_list *list, const char *value)
{
        struct ua *a = &c->p->arena;
        if (!*value) {
                list->v = NULL;
                list->n = 0;
                return 0;
        }
        const char *p = value;
        for (;;) {
                char *w;
                bool sep = false;
                const char *why = NULL;
                int r = pk__unit_word(a, &p, &w, &sep, &why);
                if (r == -EINVAL)
                        return pk__unit_fail(c, PK_EUNITVALUE, "%s in \"%.120s\"", why, value);
                if (r < 0)
                        return r;
                if (r == 0)
                        return 0;
                if (sep)
                        continue; /* an empty command between separators */
                /* Specifiers are resolved per word, after unquoting (as systemd). */
                r = pk__unit_specifiers(c, w, &w);
                if (r < 0)
                        return r;
                struct pk_unit_exec e = {.file = c->file, .line = c->line};
                /* Prefixes, in any order, each at most once ('!!' counts as one). */
                for (;;) {
                        unsigned f = 0;
                        if (*w == '-')
                                f = PK_UNIT_EXEC_IGNORE_FAILURE;
                        else if (*w == '+')
                                f = PK_UNIT_EXEC_PRIVILEGED;
                        else if (*w == '@')
                                f = PK_UNIT_EXEC_ARGV0;
                        else if (*w == ':')
                                f = PK_UNIT_EXEC_NO_EXPAND;
                        else if (w[0] == '!' && w[1] == '!')
                                f = PK_UNIT_EXEC_AMBIENT;
                        else if (*w == '!')
                                f = PK_UNIT_EXEC_NO_SETUID;
                        if (!f)
                                break;
                        if (e.flags & f)
                                return pk__unit_fail(c, PK_EUNITVALUE,
                                                     "Exec prefix repeated in \"%.120s\"", value);
                        e.flags |= f;
                        w += f == PK_UNIT_EXEC_AMBIENT ? 2 : 1;
                }
                if ((e.flags & PK_UNIT_EXEC_PRIVILEGED) &&
                    (e.flags & (PK_UNIT_EXEC_NO_SETUID | PK_UNIT_EXEC_AMBIENT)))
                        return pk__unit_fail(c, PK_EUNITVALUE,
                                             "Exec prefixes '+' and '!' exclude each other");
                if (!*w)
                        return pk__unit_fail(c, PK_EUNITVALUE,
                                             "empty executable path in \"%.120s\"", value);
                if (strchr(w, '/') && w[0] != '/')
                        return pk__unit_fail(c, PK_EUNITVALUE,
                                             "executable path \"%.120s\" is neither absolute nor "
                                             "a plain file name",
                                             w);
                if (w[strlen(w) - 1] == '/')
                        return pk__unit_fail(c, PK_EUNITVALUE,
                                             "executable path \"%.120s\" is a directory", w);
                e.path = w;
                /* Arguments up to a separate ';'. */
                struct pk_unit_strv argv = {0};
                if (!(e.flags & PK_UNIT_EXEC_ARGV0)) {
                        if (ua_grow(a, (void **)&argv.v, argv.n, sizeof(char *), 1) < 0)
                                return -ENOMEM;
                        argv.v[argv.n++] = w;
                }
                for (;;) {
                        char *arg;
                        bool s2 = false;
                        r = pk__unit_word(a, &p, &arg, &s2, &why);
                        if (r == -EINVAL)
                                return pk__unit_fail(c, PK_EUNITVALUE, "%s in \"%.120s\"", why,
                                                     value);
                        if (r < 0)
                                return r;
                        if (r == 0 || s2)
                                break;
                        r = pk__unit_specifiers(c, arg, &arg);
                        if (r < 0)
                                return r;
                        if (ua_grow(a, (void **)&argv.v, argv.n, sizeof(char *), 1) < 0)
                                return -ENOMEM;
                        argv.v[argv.n++] = arg;
                }
                if (argv.n == 0)
                        return pk__unit_fail(c, PK_EUNITVALUE,
                                             "'@' prefix without an argv[0] in \"%.120s\"", value);
                argv.v[argv.n] = NULL;
                e.argv = argv.v;
                e.argc = argv.n;
                if (ua_grow(a, (void **)&list->v, list->n, sizeof(e), 0) < 0)
                        return -ENOMEM;
                list->v[list->n++] = e;
        }
}

/* ---- expansion ------------------------------------------------------------ */

char **pk_unit_strv_free(char **v)
{
        if (v) {
                for (char **s = v; *s; s++)
                        free(*s);
                free(v);
        }
        return NULL;
}

/* The value of name[0..n) in env (the last assignment wins), or NULL. */
static const char *env_get(const char *const *env, const char *name, size_t n)
{
        const char *found = NULL;
        for (; env && *env; env++)
                if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
                        found = *env + n + 1;
        return found;
}

struct vec {
        char **v;
        size_t n, cap, bytes;
};

static int vec_push(struct vec *v, char *s)
{
        if (!s)
                return -ENOMEM;
        v->bytes += strlen(s) + 1 + sizeof(char *);
        if (v->bytes > EXPAND_MAX) {
                free(s);
                return -E2BIG;
        }
        if (pk__array_grow((void **)&v->v, &v->cap, v->n + 2, sizeof(char *), 8) < 0) {
                free(s);
                return -ENOMEM;
        }
        v->v[v->n++] = s;
        v->v[v->n] = NULL;
        return 0;
}

/* ${NAME} and $$ inside one word. */
static char *expand_word(const char *w, const char *const *env)
{
        struct pk__dynbuf o;
        pk__dynbuf_init(&o, EXPAND_MAX - 1, 0);
        for (const char *s = w; *s;) {
                const char *add = s;
                size_t al = 1;
                size_t adv = 1;
                if (s[0] == '$' && s[1] == '$') {
                        adv = 2;
                } else if (s[0] == '$' && s[1] == '{') {
                        const char *end = strchr(s + 2, '}');
                        if (end) {
                                const char *v = env_get(env, s + 2, (size_t)(end - s - 2));
                                add = v ? v : "";
                                al = strlen(add);
                                adv = (size_t)(end - s) + 1;
                        }
                }
                if (pk__dynbuf_add(&o, add, al) < 0)
                        break;
                s += adv;
        }
        char *r = pk__dynbuf_take(&o, NULL);
        pk__dynbuf_free(&o);
        return r;
}

int pk_unit_exec_expand(const struct pk_unit_exec *e, const char *const *env, char ***ret_argv)
{
        if (!e || !e->argv || !ret_argv)
                return -EINVAL;
        struct vec v = {0};
        int r = 0;
        for (size_t i = 0; i < e->argc; i++) {
                const char *w = e->argv[i];
                if (e->flags & PK_UNIT_EXEC_NO_EXPAND) {
                        r = vec_push(&v, strdup(w));
                } else if (w[0] == '$' && w[1] != '{' && w[1] != '$' && w[1]) {
                        /* A whole-word $NAME: the value split at whitespace. */
                        const char *val = env_get(env, w + 1, strlen(w + 1));
                        const char *s = val ? val : "";
                        while (r == 0 && *s) {
                                size_t skip = strspn(s, " \t\n\r");
                                s += skip;
                                size_t wl = strcspn(s, " \t\n\r");
                                if (wl)
                                        r = vec_push(&v, strndup(s, wl));
                                s += wl;
                        }
                } else {
                        char *x = expand_word(w, env);
                        r = x ? vec_push(&v, x) : -ENOMEM;
                }
                if (r < 0)
                        goto fail;
        }
        if (!v.v) {
                v.v = calloc(1, sizeof(char *));
                if (!v.v)
                        return -ENOMEM;
        }
        *ret_argv = v.v;
        return 0;
fail:
        pk_unit_strv_free(v.v);
        return r;
}
