/* SPDX-License-Identifier: MIT */
/* The I/O side of the unit layer: finding a unit in the search path (aliases,
 * masks, templates), collecting its drop-ins in systemd's order, and probing
 * the host for specifier values. */
#include "common/dynbuf.h"
#include "unit/unit_int.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>

static const char *const default_dirs[] = {"/etc/systemd/system", "/run/systemd/system",
                                           "/lib/systemd/system", "/usr/lib/systemd/system", NULL};

static const char *base_name(const char *p)
{
        const char *s = strrchr(p, '/');
        return s ? s + 1 : p;
}

/* Follows a symlink chain from path (at most 32 links).  Returns 1 and the
 * final path in out (size PATH_MAX), 0 if path does not exist, PK_EUNITMASKED
 * for a link to /dev/null, or a negative errno. */
static int resolve(const char *path, char *out, size_t outsz)
{
        char cur[4096];
        snprintf(cur, sizeof(cur), "%s", path);
        for (int hop = 0; hop < 32; hop++) {
                struct stat st;
                if (lstat(cur, &st) < 0)
                        return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
                if (!S_ISLNK(st.st_mode)) {
                        if (strcmp(cur, "/dev/null") == 0)
                                return PK_EUNITMASKED;
                        if (snprintf(out, outsz, "%s", cur) >= (int)outsz)
                                return -ENAMETOOLONG;
                        return 1;
                }
                char tgt[4096];
                ssize_t n = readlink(cur, tgt, sizeof(tgt) - 1);
                if (n < 0)
                        return -errno;
                tgt[n] = 0;
                if (strcmp(tgt, "/dev/null") == 0)
                        return PK_EUNITMASKED;
                if (tgt[0] == '/') {
                        snprintf(cur, sizeof(cur), "%s", tgt);
                } else {
                        char dir[4096];
                        const char *sl = strrchr(cur, '/');
                        snprintf(dir, sizeof(dir), "%.*s", sl ? (int)(sl - cur) : 1,
                                 sl ? cur : ".");
                        if (snprintf(cur, sizeof(cur), "%s/%s", dir, tgt) >= (int)sizeof(cur))
                                return -ENAMETOOLONG;
                }
        }
        return -ELOOP;
}

struct found {
        char path[4096]; /* the file to read */
        char name[256];  /* the unit's id */
        bool via_template;
        bool alias;
};

/* Looks for want in every directory. */
static int find_one(const char *const *dirs, const char *want, struct found *f,
                    struct pk_unit_error *reterr)
{
        for (size_t i = 0; dirs[i]; i++) {
                char p[4096];
                if (snprintf(p, sizeof(p), "%s/%s", dirs[i], want) >= (int)sizeof(p))
                        continue;
                int r = resolve(p, f->path, sizeof(f->path));
                if (r == 0)
                        continue;
                if (r == PK_EUNITMASKED) {
                        pk__unit_err_set(reterr, p, 0, NULL, r, "unit %s is masked", want);
                        return r;
                }
                if (r < 0) {
                        pk__unit_err_set(reterr, p, 0, NULL, r, "cannot read unit: %s",
                                         pk_strerror(r));
                        return r;
                }
                /* systemd treats an empty unit file as masked, too. */
                struct stat st;
                if (stat(f->path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0) {
                        pk__unit_err_set(reterr, p, 0, NULL, PK_EUNITMASKED,
                                         "unit %s is masked (empty file)", want);
                        return PK_EUNITMASKED;
                }
                snprintf(f->name, sizeof(f->name), "%s", want);
                const char *bn = base_name(f->path);
                if (strcmp(bn, want) != 0 && pk__unit_name_valid(bn)) {
                        const char *ws = pk__unit_name_suffix(want), *bs = pk__unit_name_suffix(bn);
                        if (strcmp(ws, bs) != 0) {
                                pk__unit_err_set(reterr, p, 0, NULL, -EINVAL,
                                                 "alias %s points to a unit of another type (%s)",
                                                 want, bn);
                                return -EINVAL;
                        }
                        /* A valid name is at most 255 bytes: it fits. */
                        memcpy(f->name, bn, strlen(bn) + 1);
                        f->alias = true;
                }
                return 1;
        }
        return 0;
}

struct dropin {
        char *base; /* file name, e.g. "10-override.conf" */
        char *path;
        int rank; /* lower is stronger: dir index * 64 + specificity */
        bool masked;
};

struct dropins {
        struct dropin *v;
        size_t n, cap;
        unsigned int max;
};

static void dropins_free(struct dropins *d)
{
        for (size_t i = 0; i < d->n; i++) {
                free(d->v[i].base);
                free(d->v[i].path);
        }
        free(d->v);
}

static int dropin_add(struct dropins *d, const char *dir, const char *base, int rank, bool masked)
{
        for (size_t i = 0; i < d->n; i++)
                if (strcmp(d->v[i].base, base) == 0) {
                        if (rank >= d->v[i].rank)
                                return 0;
                        size_t nl = strlen(dir) + strlen(base) + 2;
                        char *np = malloc(nl);
                        if (!np)
                                return -ENOMEM;
                        snprintf(np, nl, "%s/%s", dir, base);
                        free(d->v[i].path);
                        d->v[i].path = np;
                        d->v[i].rank = rank;
                        d->v[i].masked = masked;
                        return 0;
                }
        if (d->n >= d->max)
                return PK_EUNITLIMIT;
        if (pk__array_grow((void **)&d->v, &d->cap, d->n + 1, sizeof(*d->v), 16) < 0)
                return -ENOMEM;
        struct dropin *e = &d->v[d->n];
        e->base = strdup(base);
        size_t pl = strlen(dir) + strlen(base) + 2;
        e->path = malloc(pl);
        if (!e->base || !e->path) {
                free(e->base);
                free(e->path);
                return -ENOMEM;
        }
        snprintf(e->path, pl, "%s/%s", dir, base);
        e->rank = rank;
        e->masked = masked;
        d->n++;
        return 0;
}

static int scan_dropin_dir(struct dropins *d, const char *dir, int rank)
{
        DIR *dh = opendir(dir);
        if (!dh)
                return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
        struct dirent *de;
        int r = 0;
        while (r == 0 && (de = readdir(dh)) != NULL) {
                size_t l = strlen(de->d_name);
                if (de->d_name[0] == '.' || l < 6 || strcmp(de->d_name + l - 5, ".conf") != 0)
                        continue;
                char p[4096], out[4096];
                if (snprintf(p, sizeof(p), "%s/%s", dir, de->d_name) >= (int)sizeof(p))
                        continue;
                int k = resolve(p, out, sizeof(out));
                if (k == 0)
                        continue; /* dangling link */
                r = dropin_add(d, dir, de->d_name, rank, k == PK_EUNITMASKED);
        }
        closedir(dh);
        return r;
}

static int cmp_dropin(const void *a, const void *b)
{
        return strcmp(((const struct dropin *)a)->base, ((const struct dropin *)b)->base);
}

/* Names whose NAME.d/ directories apply, least specific first. */
static int dropin_names(const struct pk_unit *u, const char *requested, char names[][256], int max)
{
        int n = 0;
        const char *suffix = pk__unit_name_suffix(u->name);
        /* Type-wide: "service.d". */
        snprintf(names[n++], 256, "%s", suffix);
        /* Dash prefixes: "a-.service", "a-b-.service" for "a-b-c.service". */
        size_t stem = strlen(u->name) - strlen(suffix) - 1;
        const char *at = memchr(u->name, '@', stem);
        size_t plen = at ? (size_t)(at - u->name) : stem;
        for (size_t i = 0; i + 1 < plen && n < max - 4; i++)
                if (u->name[i] == '-')
                        snprintf(names[n++], 256, "%.*s.%s", (int)i + 1, u->name, suffix);
        if (u->template_name && n < max)
                snprintf(names[n++], 256, "%s", u->template_name);
        for (size_t i = 0; i < u->aliases.n && n < max - 1; i++)
                snprintf(names[n++], 256, "%s", u->aliases.v[i]);
        if (n < max)
                snprintf(names[n++], 256, "%s", u->name);
        if (requested && strcmp(requested, u->name) != 0 && n < max)
                snprintf(names[n++], 256, "%s", requested);
        return n;
}

int pk_unit_load(const char *name, const struct pk_unit_opts *opts, struct pk_unit **ret_unit,
                 struct pk_unit_error *reterr)
{
        if (!name || !ret_unit)
                return -EINVAL;
        if (!pk__unit_name_valid(name)) {
                pk__unit_err_set(reterr, "", 0, NULL, -EINVAL, "invalid unit name \"%.200s\"",
                                 name);
                return -EINVAL;
        }
        const char *const *dirs = opts && opts->dirs ? opts->dirs : default_dirs;
        struct pk_unit_opts o = {0};
        if (opts)
                o = *opts;
        if (!o.max_file)
                o.max_file = PK_UNIT_DEFAULT_MAX_FILE;
        if (!o.max_dropins)
                o.max_dropins = PK_UNIT_DEFAULT_MAX_DROPINS;

        struct found f = {0};
        int r = find_one(dirs, name, &f, reterr);
        if (r < 0)
                return r;
        const char *pre_at = strchr(name, '@');
        if (r == 0 && pre_at && pre_at[1] != '.') {
                /* An instance without its own file: its template. */
                const char *suffix = pk__unit_name_suffix(name);
                char tmpl[256];
                snprintf(tmpl, sizeof(tmpl), "%.*s@.%s", (int)(pre_at - name), name, suffix);
                r = find_one(dirs, tmpl, &f, reterr);
                if (r < 0)
                        return r;
                if (r > 0) {
                        f.via_template = true;
                        /* The instance keeps its instance under the template's
                         * (possibly aliased) prefix. */
                        const char *tat = strchr(f.name, '@');
                        char inst[256];
                        snprintf(inst, sizeof(inst), "%.*s%s", tat ? (int)(tat - f.name + 1) : 0,
                                 f.name, pre_at + 1);
                        snprintf(f.name, sizeof(f.name), "%s", inst);
                        f.alias = strcmp(f.name, name) != 0;
                }
        }
        if (r == 0) {
                pk__unit_err_set(reterr, "", 0, NULL, -ENOENT,
                                 "unit %s not found in the search path", name);
                return -ENOENT;
        }
        char *buf;
        size_t len;
        r = pk__unit_read_file(f.path, o.max_file, &buf, &len);
        if (r < 0) {
                pk__unit_err_set(reterr, f.path, 0, NULL, r,
                                 r == PK_EUNITLIMIT ? "file larger than the limit"
                                                    : "cannot read unit file");
                return r;
        }
        struct pk_unit *u = NULL;
        r = pk_unit_parse(f.name, f.path, buf, len, &o, &u, reterr);
        free(buf);
        if (r < 0)
                return r;
        struct unit_priv *p = unit_priv(u);
        if (strcmp(f.name, name) != 0) {
                struct pk_unit_strv *al = &u->aliases;
                if (ua_grow(&p->arena, (void **)&al->v, al->n, sizeof(char *), 1) < 0 ||
                    !(al->v[al->n] = ua_strdup(&p->arena, name))) {
                        pk_unit_free(u);
                        return -ENOMEM;
                }
                al->n++;
                al->v[al->n] = NULL;
        }

        /* Drop-ins. */
        char names[64][256];
        int nn = dropin_names(u, name, names, 64);
        struct dropins d = {.max = o.max_dropins};
        for (size_t i = 0; dirs[i] && r == 0; i++)
                for (int k = 0; k < nn && r == 0; k++) {
                        char dir[4096];
                        if (snprintf(dir, sizeof(dir), "%s/%s.d", dirs[i], names[k]) >=
                            (int)sizeof(dir))
                                continue;
                        /* Earlier directory first; within one, the more specific name. */
                        r = scan_dropin_dir(&d, dir, (int)i * 64 + (63 - k));
                }
        if (r < 0) {
                pk__unit_err_set(reterr, f.path, 0, NULL, r,
                                 r == PK_EUNITLIMIT ? "more drop-ins than the limit"
                                                    : "cannot read drop-in directory");
                goto fail;
        }
        if (d.n > 1)
                qsort(d.v, d.n, sizeof(*d.v), cmp_dropin);
        for (size_t i = 0; i < d.n; i++) {
                if (d.v[i].masked)
                        continue;
                r = pk__unit_read_file(d.v[i].path, o.max_file, &buf, &len);
                if (r < 0) {
                        pk__unit_err_set(reterr, d.v[i].path, 0, NULL, r, "cannot read drop-in: %s",
                                         pk_strerror(r));
                        goto fail;
                }
                r = pk_unit_parse_dropin(u, d.v[i].path, buf, len, &o, reterr);
                free(buf);
                if (r < 0)
                        goto fail;
        }
        dropins_free(&d);
        r = pk_unit_finish(u, reterr);
        if (r < 0) {
                pk_unit_free(u);
                return r;
        }
        *ret_unit = u;
        return 0;
fail:
        dropins_free(&d);
        pk_unit_free(u);
        return r;
}

/* ---- host ----------------------------------------------------------------- */

struct sbuf {
        char *b;
        size_t size, used;
        int err;
};

static const char *sput(struct sbuf *s, const char *v, size_t n)
{
        if (s->used + n + 1 > s->size) {
                s->err = -ENOBUFS;
                return NULL;
        }
        char *d = s->b + s->used;
        memcpy(d, v, n);
        d[n] = 0;
        s->used += n + 1;
        return d;
}

static const char *file_line(struct sbuf *s, const char *path)
{
        char *buf;
        size_t len;
        if (pk__unit_read_file(path, 4096, &buf, &len) < 0)
                return NULL;
        const char *r = len ? sput(s, buf, strcspn(buf, "\n")) : NULL;
        free(buf);
        return r;
}

static const char *env_value(struct sbuf *s, char **env, const char *key)
{
        size_t kl = strlen(key);
        for (; env && *env; env++)
                if (strncmp(*env, key, kl) == 0 && (*env)[kl] == '=')
                        return sput(s, *env + kl + 1, strlen(*env + kl + 1));
        return NULL;
}

int pk_unit_host_probe(struct pk_unit_host *ret_host, char *buf, size_t size)
{
        if (!ret_host || !buf || size == 0)
                return -EINVAL;
        struct sbuf s = {.b = buf, .size = size};
        struct pk_unit_host h = {0};
        struct utsname un;
        if (uname(&un) == 0) {
                h.hostname = sput(&s, un.nodename, strlen(un.nodename));
                h.kernel = sput(&s, un.release, strlen(un.release));
                static const struct {
                        const char *uname, *sd;
                } arch[] = {{"x86_64", "x86-64"},   {"aarch64", "arm64"}, {"i686", "x86"},
                            {"i586", "x86"},        {"i386", "x86"},      {"armv7l", "arm"},
                            {"ppc64le", "ppc64-le"}};
                const char *a = un.machine;
                for (size_t i = 0; i < PK_ARRAY_SIZE(arch); i++)
                        if (strcmp(un.machine, arch[i].uname) == 0)
                                a = arch[i].sd;
                h.arch = sput(&s, a, strlen(a));
        }
        h.machine_id = file_line(&s, "/etc/machine-id");
        h.boot_id = file_line(&s, "/proc/sys/kernel/random/boot_id");
        char *osbuf;
        size_t oslen;
        if (pk__unit_read_file("/etc/os-release", 65536, &osbuf, &oslen) == 0 ||
            pk__unit_read_file("/usr/lib/os-release", 65536, &osbuf, &oslen) == 0) {
                char **env = NULL;
                if (pk_unit_env_parse(osbuf, oslen, &env) == 0) {
                        h.os_id = env_value(&s, env, "ID");
                        h.os_version = env_value(&s, env, "VERSION_ID");
                        h.os_variant = env_value(&s, env, "VARIANT_ID");
                        h.os_build = env_value(&s, env, "BUILD_ID");
                        h.image_id = env_value(&s, env, "IMAGE_ID");
                        h.image_ver = env_value(&s, env, "IMAGE_VERSION");
                        pk_unit_strv_free(env);
                }
                free(osbuf);
        }
        if (pk__unit_read_file("/etc/machine-info", 65536, &osbuf, &oslen) == 0) {
                char **env = NULL;
                if (pk_unit_env_parse(osbuf, oslen, &env) == 0) {
                        h.pretty_host = env_value(&s, env, "PRETTY_HOSTNAME");
                        pk_unit_strv_free(env);
                }
                free(osbuf);
        }
        if (s.err)
                return s.err;
        *ret_host = h;
        return 0;
}
