/* SPDX-License-Identifier: MIT */
/* What happens at start time rather than load time: the service environment
 * (Environment=, EnvironmentFile=, PassEnvironment=, UnsetEnvironment=) and the
 * evaluation of Condition*=/Assert*= against the running system. */
#include "common/dynbuf.h"
#include "unit/unit_int.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

/* ---- environment files ---------------------------------------------------- */

struct envv {
        char **v;
        size_t n, cap;
};

static int envv_set(struct envv *e, const char *key, size_t kl, const char *val, size_t vl)
{
        char *s = malloc(kl + vl + 2);
        if (!s)
                return -ENOMEM;
        memcpy(s, key, kl);
        s[kl] = '=';
        memcpy(s + kl + 1, val, vl);
        s[kl + 1 + vl] = 0;
        for (size_t i = 0; i < e->n; i++)
                if (strncmp(e->v[i], key, kl) == 0 && e->v[i][kl] == '=') {
                        free(e->v[i]);
                        e->v[i] = s;
                        return 0;
                }
        if (pk__array_grow((void **)&e->v, &e->cap, e->n + 2, sizeof(char *), 16) < 0) {
                free(s);
                return -ENOMEM;
        }
        e->v[e->n++] = s;
        e->v[e->n] = NULL;
        return 0;
}

static int envv_put(struct envv *e, const char *kv)
{
        const char *eq = strchr(kv, '=');
        if (!eq)
                return 0;
        return envv_set(e, kv, (size_t)(eq - kv), eq + 1, strlen(eq + 1));
}

static void envv_unset(struct envv *e, const char *name)
{
        const char *eq = strchr(name, '=');
        size_t nl = eq ? (size_t)(eq - name) : strlen(name);
        for (size_t i = 0; i < e->n;) {
                bool match = strncmp(e->v[i], name, nl) == 0 && e->v[i][nl] == '=' &&
                             (!eq || strcmp(e->v[i], name) == 0);
                if (match) {
                        free(e->v[i]);
                        memmove(&e->v[i], &e->v[i + 1], (e->n - i) * sizeof(char *));
                        e->n--;
                } else {
                        i++;
                }
        }
}

static bool key_ok(const char *k, size_t n)
{
        if (n == 0 || isdigit((unsigned char)k[0]))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char)k[i]) && k[i] != '_')
                        return false;
        return true;
}

/* systemd's env file grammar: KEY=VALUE per line, '#'/';' comment lines,
 * '...' literal, "..." with \" \\ \` \$ escapes, backslash-newline joins,
 * unquoted trailing whitespace dropped, lines without a valid key ignored. */
static int env_parse_into(struct envv *e, const char *buf, size_t len)
{
        if (memchr(buf, 0, len))
                return -EINVAL;
        char *val = malloc(len + 1);
        if (!val)
                return -ENOMEM;
        size_t i = 0;
        int r = 0;
        while (i < len) {
                while (i < len &&
                       (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r'))
                        i++;
                if (i >= len)
                        break;
                if (buf[i] == '#' || buf[i] == ';') {
                        while (i < len && buf[i] != '\n')
                                i++;
                        continue;
                }
                size_t ks = i;
                while (i < len && buf[i] != '=' && buf[i] != '\n')
                        i++;
                if (i >= len || buf[i] != '=') {
                        continue; /* no '=': ignored */
                }
                size_t ke = i;
                while (ke > ks && (buf[ke - 1] == ' ' || buf[ke - 1] == '\t'))
                        ke--;
                i++; /* '=' */
                while (i < len && (buf[i] == ' ' || buf[i] == '\t'))
                        i++;
                size_t vn = 0, last_nonws = 0;
                bool done = false;
                while (i < len && !done) {
                        char ch = buf[i++];
                        if (ch == '\n') {
                                done = true;
                        } else if (ch == '\\') {
                                if (i < len && buf[i] == '\n') {
                                        i++;
                                } else if (i < len) {
                                        val[vn++] = buf[i++];
                                        last_nonws = vn;
                                }
                        } else if (ch == '\'') {
                                while (i < len && buf[i] != '\'')
                                        val[vn++] = buf[i++];
                                if (i < len)
                                        i++;
                                last_nonws = vn;
                        } else if (ch == '"') {
                                while (i < len && buf[i] != '"') {
                                        if (buf[i] == '\\' && i + 1 < len) {
                                                char nx = buf[i + 1];
                                                if (strchr("\"\\`$", nx)) {
                                                        val[vn++] = nx;
                                                        i += 2;
                                                        continue;
                                                }
                                                if (nx == '\n') {
                                                        i += 2;
                                                        continue;
                                                }
                                        }
                                        val[vn++] = buf[i++];
                                }
                                if (i < len)
                                        i++;
                                last_nonws = vn;
                        } else {
                                val[vn++] = ch;
                                if (ch != ' ' && ch != '\t' && ch != '\r')
                                        last_nonws = vn;
                        }
                }
                if (key_ok(buf + ks, ke - ks)) {
                        r = envv_set(e, buf + ks, ke - ks, val, last_nonws);
                        if (r < 0)
                                break;
                }
        }
        free(val);
        return r;
}

/* Ends a parse into e that returned r (0 or a negative errno): on success
 * hands e's vector out as *ret_env (an empty one when nothing was added;
 * caller frees with pk_unit_strv_free()), on failure frees it. */
static int envv_finish(struct envv *e, int r, char ***ret_env)
{
        if (r == 0 && !e->v) {
                e->v = calloc(1, sizeof(char *));
                if (!e->v)
                        r = -ENOMEM;
        }
        if (r < 0) {
                e->v = pk_unit_strv_free(e->v);
                return r;
        }
        *ret_env = e->v;
        return 0;
}

int pk_unit_env_parse(const char *buf, size_t len, char ***ret_env)
{
        if ((!buf && len) || !ret_env)
                return -EINVAL;
        struct envv e = {0};
        int r = env_parse_into(&e, buf ? buf : "", len);
        return envv_finish(&e, r, ret_env);
}

/* Reads a whole regular file up to max bytes. */
static int read_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        struct stat st;
        if (fstat(fd, &st) < 0) {
                int e = -errno;
                close(fd);
                return e;
        }
        if (S_ISDIR(st.st_mode)) {
                close(fd);
                return -EISDIR;
        }
        struct pk__dynbuf b;
        pk__dynbuf_init(&b, max, PK_EUNITLIMIT);
        int r = pk__dynbuf_read_fd(&b, fd, 4096);
        close(fd);
        char *s = r == 1 ? pk__dynbuf_take(&b, ret_len) : NULL;
        if (!s) {
                r = r == 1 ? b.err : r == 0 ? -EAGAIN : r;
                pk__dynbuf_free(&b);
                return r;
        }
        *ret = s;
        return 0;
}

int pk__unit_read_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
        return read_file(path, max, ret, ret_len);
}

char *pk__unit_search_path(const struct pk_unit *u, const char *prefix)
{
        const struct pk_unit_strv *sp = &u->exec.exec_search_path;
        size_t len = strlen(prefix) + 1;
        for (size_t i = 0; i < sp->n; i++)
                len += strlen(sp->v[i]) + 1;
        char *s = malloc(len);
        if (!s)
                return NULL;
        size_t o = (size_t)snprintf(s, len, "%s", prefix);
        for (size_t i = 0; i < sp->n; i++)
                o += (size_t)snprintf(s + o, len - o, "%s%s", i ? ":" : "", sp->v[i]);
        return s;
}

int pk_unit_environment(const struct pk_unit *u, const char *const *base,
                        const char *const *manager_env, char ***ret_env,
                        struct pk_unit_error *reterr)
{
        if (!u || !ret_env)
                return -EINVAL;
        struct envv e = {0};
        int r = 0;
        for (const char *const *s = base; s && *s && r == 0; s++)
                r = envv_put(&e, *s);
        const struct pk_unit_exec_ctx *x = &u->exec;
        /* ExecSearchPath= is the PATH unless PassEnvironment=, Environment= or
         * an EnvironmentFile= sets one (they come later and win). */
        if (r == 0 && x->exec_search_path.n) {
                char *joined = pk__unit_search_path(u, "PATH=");
                r = joined ? envv_put(&e, joined) : -ENOMEM;
                free(joined);
        }
        for (size_t i = 0; i < x->pass_environment.n && r == 0; i++) {
                const char *name = x->pass_environment.v[i];
                size_t nl = strlen(name);
                for (const char *const *s = manager_env; s && *s; s++)
                        if (strncmp(*s, name, nl) == 0 && (*s)[nl] == '=')
                                r = envv_put(&e, *s);
        }
        for (size_t i = 0; i < x->environment.n && r == 0; i++)
                r = envv_put(&e, x->environment.v[i]);
        for (size_t i = 0; i < x->environment_files.n && r == 0; i++) {
                const struct pk_unit_env_file *f = &x->environment_files.v[i];
                char *buf;
                size_t len;
                r = read_file(f->path, PK_UNIT_DEFAULT_MAX_FILE, &buf, &len);
                if (r == -ENOENT && f->optional) {
                        r = 0;
                        continue;
                }
                if (r < 0) {
                        pk__unit_err_set(reterr, f->path, 0, "EnvironmentFile", r,
                                         "cannot read environment file: %s", pk_strerror(r));
                        break;
                }
                r = env_parse_into(&e, buf, len);
                free(buf);
                if (r == -EINVAL)
                        pk__unit_err_set(reterr, f->path, 0, "EnvironmentFile", r,
                                         "environment file contains a NUL byte");
        }
        for (size_t i = 0; i < x->unset_environment.n && r == 0; i++)
                envv_unset(&e, x->unset_environment.v[i]);
        return envv_finish(&e, r, ret_env);
}

/* ---- conditions ----------------------------------------------------------- */

static bool is_mount_point(const char *path)
{
        struct stat a, b;
        if (stat(path, &a) < 0)
                return false;
        size_t l = strlen(path);
        char *parent = malloc(l + 4);
        if (!parent)
                return false;
        snprintf(parent, l + 4, "%s/..", path);
        int r = stat(parent, &b);
        free(parent);
        if (r < 0)
                return false;
        return a.st_dev != b.st_dev || a.st_ino == b.st_ino;
}

static bool dir_not_empty(const char *path)
{
        DIR *d = opendir(path);
        if (!d)
                return false;
        struct dirent *de;
        bool any = false;
        while ((de = readdir(d)) != NULL)
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
                        any = true;
                        break;
                }
        closedir(d);
        return any;
}

static bool cmdline_has(const char *want)
{
        char *buf = NULL;
        size_t len = 0;
        if (read_file("/proc/cmdline", 65536, &buf, &len) < 0 || !buf)
                return false;
        bool found = false;
        bool want_kv = strchr(want, '=') != NULL;
        size_t wl = strlen(want);
        for (char *tok = strtok(buf, " \t\n"); tok && !found; tok = strtok(NULL, " \t\n")) {
                if (want_kv)
                        found = strcmp(tok, want) == 0;
                else
                        found = strcmp(tok, want) == 0 ||
                                (strncmp(tok, want, wl) == 0 && tok[wl] == '=');
        }
        free(buf);
        return found;
}

static bool user_matches(const char *p)
{
        uid_t uid = getuid();
        if (strcmp(p, "@system") == 0)
                return uid < 1000;
        char *end;
        unsigned long n = strtoul(p, &end, 10);
        if (*p && !*end)
                return n == uid;
        struct passwd pw, *res = NULL;
        char buf[4096];
        return getpwnam_r(p, &pw, buf, sizeof(buf), &res) == 0 && res && res->pw_uid == uid;
}

static bool group_matches(const char *p)
{
        gid_t gid;
        char *end;
        unsigned long n = strtoul(p, &end, 10);
        if (*p && !*end) {
                gid = (gid_t)n;
        } else {
                struct group gr, *res = NULL;
                char buf[4096];
                if (getgrnam_r(p, &gr, buf, sizeof(buf), &res) != 0 || !res)
                        return false;
                gid = res->gr_gid;
        }
        if (gid == getgid() || gid == getegid())
                return true;
        gid_t list[256];
        int k = getgroups(256, list);
        for (int i = 0; i < k; i++)
                if (list[i] == gid)
                        return true;
        return false;
}

static bool host_matches(const char *p)
{
        char h[256] = {0};
        if (gethostname(h, sizeof(h) - 1) == 0 && strcasecmp(h, p) == 0)
                return true;
        char *mid = NULL;
        size_t len = 0;
        if (read_file("/etc/machine-id", 4096, &mid, &len) == 0 && mid) {
                mid[strcspn(mid, "\n")] = 0;
                bool m = strcasecmp(mid, p) == 0;
                free(mid);
                return m;
        }
        return false;
}

static bool cond_test(const struct pk_unit_condition *c, const char *const *env)
{
        struct stat st;
        const char *p = c->param;
        switch (c->kind) {
        case PK_UNIT_COND_PATH_EXISTS:
                return access(p, F_OK) == 0;
        case PK_UNIT_COND_PATH_EXISTS_GLOB: {
                glob_t g;
                int r = glob(p, GLOB_NOSORT | GLOB_BRACE, NULL, &g);
                bool ok = r == 0 && g.gl_pathc > 0;
                if (r == 0 || r == GLOB_NOMATCH)
                        globfree(&g);
                return ok;
        }
        case PK_UNIT_COND_PATH_IS_DIRECTORY:
                return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
        case PK_UNIT_COND_PATH_IS_SYMLINK:
                return lstat(p, &st) == 0 && S_ISLNK(st.st_mode);
        case PK_UNIT_COND_PATH_IS_MOUNT_POINT:
                return is_mount_point(p);
        case PK_UNIT_COND_PATH_IS_READ_WRITE: {
                struct statvfs sv;
                return statvfs(p, &sv) == 0 && !(sv.f_flag & ST_RDONLY);
        }
        case PK_UNIT_COND_DIRECTORY_NOT_EMPTY:
                return dir_not_empty(p);
        case PK_UNIT_COND_FILE_NOT_EMPTY:
                return stat(p, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
        case PK_UNIT_COND_FILE_IS_EXECUTABLE:
                return stat(p, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
        case PK_UNIT_COND_ENVIRONMENT: {
                const char *eq = strchr(p, '=');
                size_t nl = eq ? (size_t)(eq - p) : strlen(p);
                for (const char *const *s = env; s && *s; s++)
                        if (strncmp(*s, p, nl) == 0 && (*s)[nl] == '=')
                                if (!eq || strcmp(*s, p) == 0)
                                        return true;
                return false;
        }
        case PK_UNIT_COND_USER:
                return user_matches(p);
        case PK_UNIT_COND_GROUP:
                return group_matches(p);
        case PK_UNIT_COND_HOST:
                return host_matches(p);
        case PK_UNIT_COND_KERNEL_COMMAND_LINE:
                return cmdline_has(p);
        case PK_UNIT_COND_OTHER:
        default:
                return true;
        }
}

/* Checks one family; returns true if it passes, else sets *failed. */
static bool family_ok(const struct pk_unit *u, bool asserts, const char *const *env,
                      const struct pk_unit_condition **failed)
{
        bool have_trigger = false, trigger_ok = false;
        const struct pk_unit_condition *first_trigger = NULL;
        for (size_t i = 0; i < u->conditions.n; i++) {
                const struct pk_unit_condition *c = &u->conditions.v[i];
                if (c->is_assert != asserts)
                        continue;
                bool ok = cond_test(c, env) != c->negate;
                if (c->kind == PK_UNIT_COND_OTHER)
                        ok = true;
                if (c->trigger) {
                        have_trigger = true;
                        if (!first_trigger)
                                first_trigger = c;
                        trigger_ok = trigger_ok || ok;
                } else if (!ok) {
                        *failed = c;
                        return false;
                }
        }
        if (have_trigger && !trigger_ok) {
                *failed = first_trigger;
                return false;
        }
        return true;
}

int pk_unit_conditions_check(const struct pk_unit *u, const char *const *env,
                             const struct pk_unit_condition **ret_failed)
{
        if (!u)
                return -EINVAL;
        const struct pk_unit_condition *failed = NULL;
        int r = 1;
        /* Conditions first: a unit skipped by one never checks its asserts. */
        if (!family_ok(u, false, env, &failed))
                r = 0;
        else if (!family_ok(u, true, env, &failed))
                r = PK_EUNITASSERT;
        if (ret_failed)
                *ret_failed = failed;
        return r;
}
