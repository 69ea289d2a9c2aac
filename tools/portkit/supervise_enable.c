/* SPDX-License-Identifier: MIT */
/* Targets and the enabled set of `portkit supervise`, kept as systemd keeps
 * them: a target pulls in its Wants=/Requires= and the units linked in
 * `<dir>/<target>.wants/` and `.requires/` of every unit directory; `enable`
 * makes those links in the config directory from the unit's [Install]
 * section (WantedBy=, RequiredBy=, Alias=, Also=), `disable` removes them,
 * `is-enabled` reads them.  Docs: docs/supervise.md "Targets and the enabled
 * set". */
#include "supervise.h"

#include "common/dynbuf.h"

#include <portkit.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TARGET_DEPTH 8 /* targets wanting targets, at most this deep */
#define ALSO_DEPTH 4   /* Also= chains */

static int has_suffix(const char *s, const char *suf)
{
        size_t a = strlen(s), b = strlen(suf);
        return a >= b && strcmp(s + a - b, suf) == 0;
}

/* A unit name as given ("nginx") completed to "nginx.service". */
static void unit_name(const char *in, char *out, size_t size)
{
        if (strchr(in, '.'))
                snprintf(out, size, "%s", in);
        else
                snprintf(out, size, "%s.service", in);
}

static int valid_name(const char *n)
{
        return n[0] && n[0] != '.' && !strchr(n, '/') && strlen(n) < 256;
}

/* ---- targets ----------------------------------------------------------------------------- */

int pk_sv_names_add(struct pk_sv_names *l, const char *name)
{
        if (l->n >= PK_SV_MAX_UNITS)
                return -E2BIG;
        if (pk__array_grow((void **)&l->v, &l->cap, l->n + 1, sizeof(*l->v), 16) < 0)
                return -ENOMEM;
        char *d = strdup(name);
        if (!d)
                return -ENOMEM;
        if (pk__htab_put(&l->idx, pk__hash_str(d), d) < 0) {
                free(d);
                return -ENOMEM;
        }
        l->v[l->n++] = d;
        return 0;
}

void pk_sv_names_free(struct pk_sv_names *l)
{
        for (size_t i = 0; i < l->n; i++)
                free(l->v[i]);
        free(l->v);
        pk__htab_free(&l->idx);
        *l = (struct pk_sv_names){0};
}

static bool name_match(const void *v, const void *key)
{
        return strcmp(v, key) == 0;
}

int pk_sv_names_has(const struct pk_sv_names *l, const char *name)
{
        return pk__htab_get(&l->idx, pk__hash_str(name), name_match, name) != NULL;
}

struct collect {
        struct pk_sv_names *names;
        struct pk_sv_names seen; /* targets already expanded */
};

static int add_name(struct collect *c, const char *name)
{
        return pk_sv_names_has(c->names, name) ? 0 : pk_sv_names_add(c->names, name);
}

static int expand(struct collect *c, const char *target, const struct pk_unit_opts *uo, int depth);

static int take(struct collect *c, const char *name, const struct pk_unit_opts *uo, int depth)
{
        if (!valid_name(name))
                return 0;
        if (has_suffix(name, ".target"))
                return expand(c, name, uo, depth + 1);
        if (has_suffix(name, ".service"))
                return add_name(c, name);
        return 0; /* sockets, timers, ...: not run from a target here */
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static int scan_links(struct collect *c, const char *dir, const char *target, const char *suffix,
                      const struct pk_unit_opts *uo, int depth)
{
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s%s", dir, target, suffix);
        DIR *d = opendir(path);
        if (!d)
                return 0;
        /* Sorted, so the start order does not depend on the directory's. */
        struct pk_sv_names names = {0};
        struct dirent *de;
        int r = 0;
        while (r == 0 && (de = readdir(d)))
                if (de->d_name[0] != '.')
                        r = pk_sv_names_add(&names, de->d_name);
        closedir(d);
        if (r == 0 && names.n > 1)
                qsort(names.v, names.n, sizeof(*names.v), cmp_str);
        for (size_t i = 0; i < names.n && r == 0; i++)
                r = take(c, names.v[i], uo, depth);
        pk_sv_names_free(&names);
        return r;
}

/* default.target is an alias (a symlink) naming the real target. */
static void resolve_default(const char *const *dirs, char *out, size_t size)
{
        snprintf(out, size, "multi-user.target");
        for (size_t i = 0; dirs && dirs[i]; i++) {
                char p[PATH_MAX], t[PATH_MAX];
                snprintf(p, sizeof(p), "%s/default.target", dirs[i]);
                ssize_t l = readlink(p, t, sizeof(t) - 1);
                if (l <= 0)
                        continue;
                t[l] = '\0';
                const char *base = strrchr(t, '/') ? strrchr(t, '/') + 1 : t;
                if (valid_name(base) && has_suffix(base, ".target"))
                        snprintf(out, size, "%s", base);
                return;
        }
}

static int expand(struct collect *c, const char *target, const struct pk_unit_opts *uo, int depth)
{
        if (depth > TARGET_DEPTH) {
                /* a target chain this deep is a loop the seen-list missed or a
                 * config error: said, not silently cut */
                fprintf(stderr,
                        "portkit supervise: %s: targets nested more than %d deep: not "
                        "expanded further\n",
                        target, TARGET_DEPTH);
                return 0;
        }
        char name[256];
        if (strcmp(target, "default.target") == 0)
                resolve_default(uo->dirs, name, sizeof(name));
        else
                snprintf(name, sizeof(name), "%s", target);
        if (pk_sv_names_has(&c->seen, name))
                return 0;
        int r = pk_sv_names_add(&c->seen, name);
        if (r < 0)
                return r;
        /* The target's own file is optional: a container has the .wants/
         * directories that packages made, rarely systemd's target files. */
        struct pk_unit *u = NULL;
        if (pk_unit_load(name, uo, &u, NULL) == 0) {
                const struct pk_unit_strv *l[] = {&u->deps.requires_units, &u->deps.wants};
                for (size_t k = 0; k < 2 && r == 0; k++)
                        for (size_t i = 0; i < l[k]->n && r == 0; i++)
                                r = take(c, l[k]->v[i], uo, depth);
                pk_unit_free(u);
        }
        for (size_t i = 0; uo->dirs && uo->dirs[i] && r == 0; i++) {
                r = scan_links(c, uo->dirs[i], name, ".requires", uo, depth);
                if (r == 0)
                        r = scan_links(c, uo->dirs[i], name, ".wants", uo, depth);
        }
        return r;
}

int pk_sv_target_services(const char *target, const struct pk_unit_opts *uo,
                          struct pk_sv_names *names)
{
        struct collect c = {.names = names};
        int r = expand(&c, target, uo, 0);
        pk_sv_names_free(&c.seen);
        return r;
}

int pk_sv_is_config_dir(const char *dir)
{
        char p[PATH_MAX];
        struct stat st;
        snprintf(p, sizeof(p), "%s/default.target", dir);
        if (lstat(p, &st) == 0)
                return 1;
        DIR *d = opendir(dir);
        if (!d)
                return 0;
        int yes = 0;
        struct dirent *de;
        while (!yes && (de = readdir(d)))
                yes = has_suffix(de->d_name, ".target.wants") ||
                      has_suffix(de->d_name, ".target.requires");
        closedir(d);
        return yes;
}

/* ---- enable / disable / is-enabled --------------------------------------------------------------
 */

/* Appends one line to the caller's message buffer (truncated to fit). */
static void say(char *msg, size_t size, const char *line)
{
        size_t used = strlen(msg);
        if (used + 1 < size)
                snprintf(msg + used, size - used, "%s\n", line);
}

static int link_to(const char *target, const char *dir, const char *sub, const char *name,
                   char *msg, size_t msgsz)
{
        char d[PATH_MAX], p[PATH_MAX + 256];
        if (sub) {
                snprintf(d, sizeof(d), "%s/%s", dir, sub);
                if (mkdir(d, 0755) < 0 && errno != EEXIST)
                        return -errno;
        } else {
                snprintf(d, sizeof(d), "%s", dir);
        }
        snprintf(p, sizeof(p), "%s/%s", d, name);
        char cur[PATH_MAX];
        ssize_t l = readlink(p, cur, sizeof(cur) - 1);
        if (l > 0) {
                cur[l] = '\0';
                if (strcmp(cur, target) == 0)
                        return 0; /* already there */
        }
        if (strcmp(p, target) == 0)
                return 0; /* an alias naming the file itself */
        struct stat st;
        if (lstat(p, &st) == 0) {
                if (!S_ISLNK(st.st_mode))
                        return -EEXIST; /* a real unit file is in the way */
                if (unlink(p) < 0)
                        return -errno;
        }
        if (symlink(target, p) < 0)
                return -errno;
        char line[2 * PATH_MAX + 300];
        snprintf(line, sizeof(line), "Created symlink %s \xe2\x86\x92 %s.", p, target);
        say(msg, msgsz, line);
        return 0;
}

static int unlink_if_link(const char *p, char *msg, size_t msgsz)
{
        struct stat st;
        if (lstat(p, &st) < 0 || !S_ISLNK(st.st_mode))
                return 0;
        if (unlink(p) < 0)
                return -errno;
        char line[PATH_MAX + 300];
        snprintf(line, sizeof(line), "Removed %s.", p);
        say(msg, msgsz, line);
        return 0;
}

static int enable_one(const char *dir, const char *name, const struct pk_unit_opts *uo, int enable,
                      int depth, char *msg, size_t msgsz)
{
        struct pk_unit *u = NULL;
        int r = pk_unit_load(name, uo, &u, NULL);
        if (r < 0)
                return r;
        const struct pk_unit_install *in = &u->install;
        if (enable && !in->wanted_by.n && !in->required_by.n && !in->alias.n && !in->also.n) {
                char line[320];
                snprintf(line, sizeof(line), "%s has no [Install] section: static, nothing to do.",
                         name);
                say(msg, msgsz, line);
        }
        if (enable && !u->fragment_path)
                r = -ENOENT;
        for (size_t i = 0; i < in->wanted_by.n && r == 0; i++) {
                char sub[300];
                snprintf(sub, sizeof(sub), "%s.wants", in->wanted_by.v[i]);
                if (!valid_name(in->wanted_by.v[i]))
                        continue;
                if (enable)
                        r = link_to(u->fragment_path, dir, sub, name, msg, msgsz);
        }
        for (size_t i = 0; i < in->required_by.n && r == 0; i++) {
                char sub[300];
                snprintf(sub, sizeof(sub), "%s.requires", in->required_by.v[i]);
                if (valid_name(in->required_by.v[i]) && enable)
                        r = link_to(u->fragment_path, dir, sub, name, msg, msgsz);
        }
        for (size_t i = 0; i < in->alias.n && r == 0; i++) {
                if (!valid_name(in->alias.v[i]))
                        continue;
                if (enable) {
                        r = link_to(u->fragment_path, dir, NULL, in->alias.v[i], msg, msgsz);
                } else {
                        char p[PATH_MAX];
                        snprintf(p, sizeof(p), "%s/%s", dir, in->alias.v[i]);
                        r = unlink_if_link(p, msg, msgsz);
                }
        }
        if (!enable && r == 0) {
                /* Every link to it in any *.wants/ or *.requires/ of the directory,
                 * whatever section asked for it (as systemctl disable). */
                DIR *d = opendir(dir);
                struct dirent *de;
                while (d && r == 0 && (de = readdir(d))) {
                        if (!has_suffix(de->d_name, ".wants") &&
                            !has_suffix(de->d_name, ".requires"))
                                continue;
                        char p[PATH_MAX];
                        snprintf(p, sizeof(p), "%s/%s/%s", dir, de->d_name, name);
                        r = unlink_if_link(p, msg, msgsz);
                }
                if (d)
                        closedir(d);
        }
        for (size_t i = 0; i < in->also.n && r == 0 && depth < ALSO_DEPTH; i++)
                if (valid_name(in->also.v[i]) && strcmp(in->also.v[i], name) != 0)
                        r = enable_one(dir, in->also.v[i], uo, enable, depth + 1, msg, msgsz);
        pk_unit_free(u);
        return r;
}

int pk_sv_enable(const char *config_dir, const char *unit, const struct pk_unit_opts *uo,
                 int enable, char *msg, size_t msgsz)
{
        char name[256];
        unit_name(unit, name, sizeof(name));
        if (!valid_name(name) || !config_dir)
                return -EINVAL;
        msg[0] = '\0';
        return enable_one(config_dir, name, uo, enable, 0, msg, msgsz);
}

/* A link named @name in some <dir>/<x>.wants or .requires of the search path. */
static int linked(const char *const *dirs, const char *name)
{
        for (size_t i = 0; dirs && dirs[i]; i++) {
                DIR *d = opendir(dirs[i]);
                if (!d)
                        continue;
                struct dirent *de;
                int yes = 0;
                while (!yes && (de = readdir(d))) {
                        if (!has_suffix(de->d_name, ".wants") &&
                            !has_suffix(de->d_name, ".requires"))
                                continue;
                        char p[PATH_MAX];
                        struct stat st;
                        snprintf(p, sizeof(p), "%s/%s/%s", dirs[i], de->d_name, name);
                        yes = lstat(p, &st) == 0;
                }
                closedir(d);
                if (yes)
                        return 1;
        }
        return 0;
}

const char *pk_sv_enabled_state(const char *unit, const struct pk_unit_opts *uo)
{
        char name[256];
        unit_name(unit, name, sizeof(name));
        if (!valid_name(name))
                return "not-found";
        struct pk_unit *u = NULL;
        int r = pk_unit_load(name, uo, &u, NULL);
        if (r == PK_EUNITMASKED)
                return "masked";
        if (r < 0)
                return "not-found";
        const struct pk_unit_install *in = &u->install;
        int has_install = in->wanted_by.n || in->required_by.n || in->alias.n || in->also.n;
        pk_unit_free(u);
        if (linked(uo->dirs, name))
                return "enabled";
        return has_install ? "disabled" : "static";
}
