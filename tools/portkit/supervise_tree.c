/* SPDX-License-Identifier: MIT */
/* Tree files of `portkit supervise` (CONFIG ending in .tree): supervision trees
 * with OTP's strategies, which unit files cannot express, written as Erlang
 * terms (read with the etf layer's text parser, as file:consult/1 would):
 *
 *   {supervisor, Name, #{strategy => one_for_all, intensity => 3, period => 5000,
 *                        backoff => #{base => 100, cap => 30000, reset => 10000,
 *                                     jitter => 10}},
 *    [{worker, Id, #{cmd => ["/usr/bin/prog", "arg"], restart => permanent}},
 *     {unit, "nginx.service"},
 *     {supervisor, Inner, #{...}, [...]}]}.
 *
 * Each top-level supervisor becomes a nested pk_sup under supervise's own.
 * Every key is checked: an unknown key or a bad value is an error naming the
 * file and the child.  Docs: docs/supervise.md "Supervision trees". */
#include "supervise.h"

#include <portkit.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TREE_MAX_FILE ((size_t)1 << 20)
#define TREE_MAX_DEPTH 8
#define TREE_MAX_ARGS 256

struct tctx {
        const struct pk_sv_tree_env *env;
        const char *file;
        char *err;
        size_t errsz;
        struct pk_sv_tree *rec; /* what the file says, node by node; NULL: not kept */
        /* 1: the tree is built unstarted under a scratch supervisor, without
         * cgroups, logs or units, only for pk_sup_new() and pk_sup_add() to
         * check every option and spec; workers' commands are kept in rec */
        int dry;
        char path[PK_SV_TREE_PATH];
};

/* Appends a node to t->rec (if kept); its definition is term @def printed.
 * Returns the node or NULL (no record kept, or -ENOMEM in *r). */
static struct pk_sv_tree_node *record(struct tctx *t, int kind, const char *id,
                                      const struct pk_term *def, int *r)
{
        *r = 0;
        if (!t->rec)
                return NULL;
        struct pk_sv_tree *rec = t->rec;
        if (rec->n == rec->cap) {
                size_t cap = rec->cap ? rec->cap * 2 : 16;
                struct pk_sv_tree_node *v = realloc(rec->v, cap * sizeof(*v));
                if (!v) {
                        *r = -ENOMEM;
                        return NULL;
                }
                rec->v = v;
                rec->cap = cap;
        }
        struct pk_sv_tree_node *n = &rec->v[rec->n];
        memset(n, 0, sizeof(*n));
        n->kind = kind;
        snprintf(n->parent, sizeof(n->parent), "%s", t->path);
        snprintf(n->id, sizeof(n->id), "%s", id);
        size_t len = 0;
        if (pk_etf_print_w(def, &n->sig, &len) < 0 || !n->sig) {
                *r = -ENOMEM;
                return NULL;
        }
        rec->n++;
        return n;
}

static int fail(struct tctx *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct tctx *t, const char *fmt, ...)
{
        char what[768];
        va_list ap;
        va_start(ap, fmt);
        /* the analyzer flags a variadic function analysed on its own */
        vsnprintf(what, sizeof(what), fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized)
        va_end(ap);
        snprintf(t->err, t->errsz, "%s: %s", t->file, what);
        return -EINVAL;
}

/* An atom, string or binary as a NUL-terminated name. */
static int text_of(const struct pk_term *v, char *buf, size_t size)
{
        const char *s = NULL;
        size_t l = 0;
        if (v->type == PK_TERM_ATOM) {
                s = v->v.atom.name;
                l = v->v.atom.len;
        } else if (v->type == PK_TERM_STRING) {
                s = (const char *)v->v.string.bytes;
                l = v->v.string.len;
        } else if (v->type == PK_TERM_BINARY && v->v.bin.bits == 8) {
                s = (const char *)v->v.bin.data;
                l = v->v.bin.size;
        } else {
                return -EINVAL;
        }
        if (l == 0 || l >= size || memchr(s, '\0', l))
                return -EINVAL;
        memcpy(buf, s, l);
        buf[l] = '\0';
        return 0;
}

static int is_atom(const struct pk_term *v, const char *name)
{
        return v->type == PK_TERM_ATOM && v->v.atom.len == strlen(name) &&
               memcmp(v->v.atom.name, name, v->v.atom.len) == 0;
}

static int int_of(const struct pk_term *v, int64_t lo, int64_t hi, int64_t *ret)
{
        if (v->type != PK_TERM_INT || v->v.i < lo || v->v.i > hi)
                return -EINVAL;
        *ret = v->v.i;
        return 0;
}

static int pick(const struct pk_term *v, const char *const *names, int *ret)
{
        for (int i = 0; names[i]; i++)
                if (is_atom(v, names[i])) {
                        *ret = i;
                        return 0;
                }
        return -EINVAL;
}

static const char *const restarts[] = {"permanent", "transient", "temporary", NULL};

/* shutdown => brutal_kill | infinity | Ms */
static int shutdown_of(const struct pk_term *v, struct pk_sup_child_spec *sp)
{
        int64_t ms;
        if (is_atom(v, "brutal_kill")) {
                sp->shutdown = PK_SUP_SHUTDOWN_BRUTAL_KILL;
        } else if (is_atom(v, "infinity")) {
                sp->shutdown = PK_SUP_SHUTDOWN_INFINITY;
        } else if (int_of(v, 1, INT64_C(1) << 32, &ms) == 0) {
                sp->shutdown = PK_SUP_SHUTDOWN_TIMEOUT;
                sp->shutdown_ms = ms;
        } else {
                return -EINVAL;
        }
        return 0;
}

/* backoff => #{base, cap, reset, jitter} (ms, ms, ms, %; -1: none) */
static int backoff_of(struct tctx *t, const char *who, const struct pk_term *m, int64_t *base,
                      int64_t *cap, int64_t *reset, int *jitter)
{
        if (m->type != PK_TERM_MAP)
                return fail(t, "%s: backoff is a map", who);
        for (uint32_t i = 0; i < m->v.map.arity; i++) {
                const struct pk_term *k = &m->v.map.pairs[2 * (size_t)i];
                const struct pk_term *v = k + 1;
                int64_t x = 0;
                int bad = int_of(v, -1, INT64_C(1) << 39, &x);
                if (is_atom(k, "base") && !bad)
                        *base = x;
                else if (is_atom(k, "cap") && !bad && x >= 0)
                        *cap = x;
                else if (is_atom(k, "reset") && !bad)
                        *reset = x;
                else if (is_atom(k, "jitter") && !bad && x <= 100)
                        *jitter = (int)x;
                else
                        return fail(t,
                                    "%s: bad backoff key or value (base, cap, reset in ms, "
                                    "jitter in %%; -1: none)",
                                    who);
        }
        return 0;
}

static int build_sup(struct tctx *t, struct pk_sup *parent, const struct pk_term *tup, int depth);

static int worker(struct tctx *t, struct pk_sup *parent, const struct pk_term *tup)
{
        char id[PK_SUP_ID_MAX + 1];
        if (tup->v.tuple.arity != 3 || text_of(&tup->v.tuple.elems[1], id, sizeof(id)) < 0 ||
            tup->v.tuple.elems[2].type != PK_TERM_MAP)
                return fail(t, "a worker is {worker, Id, #{cmd => [...], ...}}");
        const struct pk_term *m = &tup->v.tuple.elems[2];
        struct pk_sup_child_spec sp;
        memset(&sp, 0, sizeof(sp));
        sp.id = id;
        sp.log_dir = t->env->log_dir;
        const struct pk_term *cmdv = NULL;
        for (uint32_t i = 0; i < m->v.map.arity; i++) {
                const struct pk_term *k = &m->v.map.pairs[2 * (size_t)i];
                const struct pk_term *v = k + 1;
                int64_t x = 0;
                int r = 0;
                if (is_atom(k, "cmd"))
                        cmdv = v;
                else if (is_atom(k, "restart"))
                        r = pick(v, restarts, &sp.restart);
                else if (is_atom(k, "shutdown"))
                        r = shutdown_of(v, &sp);
                else if (is_atom(k, "stop_signal") && (r = int_of(v, 1, 64, &x)) == 0)
                        sp.stop_signal = (int)x;
                else if (is_atom(k, "backoff"))
                        r = backoff_of(t, id, v, &sp.backoff_base_ms, &sp.backoff_cap_ms,
                                       &sp.backoff_reset_ms, &sp.jitter_pct) < 0
                                ? -2
                                : 0;
                else
                        r = -EINVAL;
                if (r == -2)
                        return -EINVAL; /* message set */
                if (r < 0) {
                        char key[64] = "?";
                        (void)text_of(k, key, sizeof(key));
                        return fail(t, "worker %s: bad key or value: %s", id, key);
                }
        }
        if (!cmdv || (cmdv->type != PK_TERM_LIST && cmdv->type != PK_TERM_STRING))
                return fail(t, "worker %s: cmd => [\"/path/prog\", \"arg\", ...] is required", id);
        if (cmdv->type == PK_TERM_STRING)
                return fail(t, "worker %s: cmd is a list of strings, not one string", id);
        if (cmdv->v.list.len > TREE_MAX_ARGS)
                return fail(t, "worker %s: more than %d arguments", id, TREE_MAX_ARGS);
        struct pk_cmd *cmd = NULL;
        int r = 0;
        char arg[4096];
        for (uint32_t i = 0; i < cmdv->v.list.len && r == 0; i++) {
                if (text_of(&cmdv->v.list.elems[i], arg, sizeof(arg)) < 0) {
                        pk_cmd_free(cmd);
                        return fail(t, "worker %s: argument %u is not a string", id, i + 1);
                }
                r = i == 0 ? pk_cmd_new(arg, &cmd) : pk_cmd_arg(cmd, arg);
        }
        if (r < 0) {
                pk_cmd_free(cmd);
                return fail(t, "worker %s: %s", id, pk_strerror(r));
        }
        struct pk_sv_tree_node *n = record(t, PK_SV_TREE_WORKER, id, m, &r);
        if (r < 0) {
                pk_cmd_free(cmd);
                return fail(t, "worker %s: %s", id, pk_strerror(r));
        }
        if (n) { /* for a reload (the id is set at each use: the array moves) */
                n->spec = sp;
                n->spec.id = NULL;
        }
        if (t->dry) { /* kept for a reload to add (t->dry always keeps a record); a copy is checked
                       */
                struct pk_cmd *copy = NULL;
                r = pk_cmd_dup(cmd, &copy);
                if (n)
                        n->cmd = cmd;
                else
                        pk_cmd_free(cmd);
                if (r < 0)
                        return fail(t, "worker %s: %s", id, pk_strerror(r));
                cmd = copy;
                sp.log_dir = NULL;
        }
        r = pk_sup_add(parent, &sp, cmd); /* takes cmd */
        if (r < 0)
                return fail(t, "worker %s: %s", id, pk_strerror(r));
        return 0;
}

static int child(struct tctx *t, struct pk_sup *parent, const struct pk_term *c, int depth)
{
        if (c->type != PK_TERM_TUPLE || c->v.tuple.arity < 2)
                return fail(t, "a child is {worker, ...}, {unit, Name} or {supervisor, ...}");
        const struct pk_term *kind = &c->v.tuple.elems[0];
        if (is_atom(kind, "worker"))
                return worker(t, parent, c);
        if (is_atom(kind, "supervisor"))
                return build_sup(t, parent, c, depth + 1);
        if (is_atom(kind, "unit")) {
                char name[256];
                if (c->v.tuple.arity != 2 || text_of(&c->v.tuple.elems[1], name, sizeof(name)) < 0)
                        return fail(t, "a unit child is {unit, \"name.service\"}");
                int r = 0;
                (void)record(t, PK_SV_TREE_UNIT, name, &c->v.tuple.elems[1], &r);
                if (r < 0)
                        return fail(t, "unit %s: %s", name, pk_strerror(r));
                if (t->dry)
                        return 0;
                char sub[1024] = "";
                r = t->env->add_unit(t->env->ud, parent, name, sub, sizeof(sub));
                if (r < 0)
                        return fail(t, "unit %s: %s", name, sub[0] ? sub : pk_strerror(r));
                return 0;
        }
        return fail(t, "a child is {worker, ...}, {unit, Name} or {supervisor, ...}");
}

static int build_sup(struct tctx *t, struct pk_sup *parent, const struct pk_term *tup, int depth)
{
        char name[PK_SUP_ID_MAX + 1];
        if (depth > TREE_MAX_DEPTH)
                return fail(t, "supervisors nested more than %d deep", TREE_MAX_DEPTH);
        if (tup->type != PK_TERM_TUPLE || tup->v.tuple.arity != 4 ||
            !is_atom(&tup->v.tuple.elems[0], "supervisor") ||
            text_of(&tup->v.tuple.elems[1], name, sizeof(name)) < 0 ||
            tup->v.tuple.elems[2].type != PK_TERM_MAP ||
            (tup->v.tuple.elems[3].type != PK_TERM_LIST &&
             tup->v.tuple.elems[3].type != PK_TERM_NIL))
                return fail(t, "a supervisor is {supervisor, Name, #{...}, [Children]}");
        const struct pk_term *m = &tup->v.tuple.elems[2];
        struct pk_sup_opts o;
        memset(&o, 0, sizeof(o));
        o.name = name;
        o.cgroup = t->env->cgroup;
        o.cgroup_parent = t->env->cgroup_parent;
        struct pk_sup_child_spec sp; /* the nested supervisor as a child of its parent */
        memset(&sp, 0, sizeof(sp));
        sp.id = name;
        static const char *const strategies[] = {"one_for_one", "one_for_all", "rest_for_one",
                                                 NULL};
        static const char *const autos[] = {"never", "any_significant", "all_significant", NULL};
        for (uint32_t i = 0; i < m->v.map.arity; i++) {
                const struct pk_term *k = &m->v.map.pairs[2 * (size_t)i];
                const struct pk_term *v = k + 1;
                int64_t x = 0;
                int r = 0;
                if (is_atom(k, "strategy"))
                        r = pick(v, strategies, &o.strategy);
                else if (is_atom(k, "intensity") && (r = int_of(v, 0, 100000, &x)) == 0)
                        o.intensity = x ? (int)x : -1; /* OTP: 0 allows no restart */
                else if (is_atom(k, "period") && (r = int_of(v, 1, INT64_C(1) << 39, &x)) == 0)
                        o.period_ms = x;
                else if (is_atom(k, "auto_shutdown"))
                        r = pick(v, autos, &o.auto_shutdown);
                else if (is_atom(k, "backoff"))
                        r = backoff_of(t, name, v, &o.backoff_base_ms, &o.backoff_cap_ms,
                                       &o.backoff_reset_ms, &o.jitter_pct) < 0
                                ? -2
                                : 0;
                else if (is_atom(k, "restart"))
                        r = pick(v, restarts, &sp.restart);
                else if (is_atom(k, "shutdown"))
                        r = shutdown_of(v, &sp);
                else
                        r = -EINVAL;
                if (r == -2)
                        return -EINVAL;
                if (r < 0) {
                        char key[64] = "?";
                        (void)text_of(k, key, sizeof(key));
                        return fail(t, "supervisor %s: bad key or value: %s", name, key);
                }
        }
        /* The backoff cap must not be below its base (pk_sup_new refuses it). */
        if (o.backoff_base_ms > 0 && o.backoff_cap_ms == 0 && o.backoff_base_ms > 30000)
                o.backoff_cap_ms = o.backoff_base_ms;
        if (o.backoff_base_ms < 0)
                o.backoff_base_ms = 0;
        if (o.backoff_reset_ms < 0)
                o.backoff_reset_ms = INT64_C(1) << 39; /* "never" */
        int r = 0;
        /* its definition: the flags map; the children are nodes of their own */
        struct pk_sv_tree_node *n = record(t, PK_SV_TREE_SUP, name, m, &r);
        if (r < 0)
                return fail(t, "supervisor %s: %s", name, pk_strerror(r));
        if (n) { /* for a reload: pk_sup_set_opts() or a rebuild */
                n->opts = o;
                n->opts.name = NULL;
                n->opts.cgroup_parent = NULL;
                n->spec = sp;
                n->spec.id = NULL;
        }
        struct pk_sup *s = NULL;
        if (t->dry)
                o.cgroup = PK_SUP_CGROUP_OFF; /* a check: no cgroup of the running one's name */
        if ((r = pk_sup_new(t->env->loop, &o, &s)) < 0)
                return fail(t, "supervisor %s: %s", name, pk_strerror(r));
        size_t plen = strlen(t->path);
        if (plen + 1 + strlen(name) >= sizeof(t->path)) {
                pk_sup_free(s);
                return fail(t, "supervisor %s: path too long", name);
        }
        snprintf(t->path + plen, sizeof(t->path) - plen, "%s%s", plen ? "/" : "", name);
        const struct pk_term *l = &tup->v.tuple.elems[3];
        for (uint32_t i = 0; l->type == PK_TERM_LIST && i < l->v.list.len; i++) {
                r = child(t, s, &l->v.list.elems[i], depth);
                if (r < 0) {
                        t->path[plen] = '\0';
                        pk_sup_free(s);
                        return r;
                }
        }
        t->path[plen] = '\0';
        r = pk_sup_add_sup(parent, &sp, s); /* takes s */
        if (r < 0)
                return fail(t, "supervisor %s: %s", name, pk_strerror(r));
        return 0;
}

struct pk_sv_tree *pk_sv_tree_free(struct pk_sv_tree *rec)
{
        if (!rec)
                return NULL;
        for (size_t i = 0; i < rec->n; i++) {
                free(rec->v[i].sig);
                pk_cmd_free(rec->v[i].cmd);
        }
        free(rec->v);
        free(rec);
        return NULL;
}

static int tree_parse(struct tctx *t, const char *file, struct pk_sup *parent);

int pk_sv_tree_load(const char *file, const struct pk_sv_tree_env *env, struct pk_sup *parent,
                    struct pk_sv_tree **ret, char *err, size_t errsz)
{
        struct tctx t = {.env = env, .file = file, .err = err, .errsz = errsz};
        if (ret && !(t.rec = calloc(1, sizeof(*t.rec))))
                return -ENOMEM;
        int r = tree_parse(&t, file, parent);
        if (ret && r == 0)
                *ret = t.rec;
        else
                pk_sv_tree_free(t.rec);
        return r;
}

int pk_sv_tree_read(const char *file, const struct pk_sv_tree_env *env, struct pk_sv_tree **ret,
                    char *err, size_t errsz)
{
        struct tctx t = {.env = env, .file = file, .err = err, .errsz = errsz, .dry = 1};
        struct pk_sup *scratch = NULL; /* never started: nothing runs */
        int r = pk_sup_new(env->loop, NULL, &scratch);
        if (r < 0)
                return r;
        if (!(t.rec = calloc(1, sizeof(*t.rec)))) {
                pk_sup_free(scratch);
                return -ENOMEM;
        }
        r = tree_parse(&t, file, scratch);
        pk_sup_free(scratch);
        if (r == 0)
                *ret = t.rec;
        else
                pk_sv_tree_free(t.rec);
        return r;
}

const struct pk_sv_tree_node *pk_sv_tree_find(const struct pk_sv_tree *rec, int kind,
                                              const char *parent, const char *id)
{
        for (size_t i = 0; i < rec->n; i++)
                if (rec->v[i].kind == kind && strcmp(rec->v[i].parent, parent) == 0 &&
                    strcmp(rec->v[i].id, id) == 0)
                        return &rec->v[i];
        return NULL;
}

void pk_sv_tree_path(const struct pk_sv_tree_node *nd, char *buf, size_t size)
{
        snprintf(buf, size, "%s%s%s", nd->parent, nd->parent[0] ? "/" : "", nd->id);
}

int pk_sv_tree_check_names(const char *const *files, struct pk_sv_tree *const *recs, size_t n,
                           char *err, size_t errsz)
{
        static const char *const kinds[] = {"supervisor", "worker", "unit"};
        for (size_t f = 0; f < n; f++)
                for (size_t i = 0; recs[f] && i < recs[f]->n; i++) {
                        const struct pk_sv_tree_node *x = &recs[f]->v[i];
                        /* earlier in this file, or (top supervisors) in an earlier one */
                        for (size_t g = 0; g <= f; g++)
                                for (size_t k = 0; recs[g] && k < (g == f ? i : recs[g]->n); k++) {
                                        const struct pk_sv_tree_node *y = &recs[g]->v[k];
                                        if ((g != f && x->parent[0]) ||
                                            strcmp(y->parent, x->parent) != 0 ||
                                            strcmp(y->id, x->id) != 0)
                                                continue;
                                        snprintf(err, errsz,
                                                 "%s: %s %s%s%s: the name is taken (by a %s%s%s)",
                                                 files[f], kinds[x->kind], x->parent,
                                                 x->parent[0] ? "/" : "", x->id, kinds[y->kind],
                                                 g != f ? " of " : "", g != f ? files[g] : "");
                                        return -EINVAL;
                                }
                }
        return 0;
}

int pk_sv_tree_build(struct pk_sv_tree *rec, size_t k, const struct pk_sv_tree_env *env,
                     struct pk_sup *parent, char *err, size_t errsz)
{
        if (k >= rec->n || rec->v[k].kind != PK_SV_TREE_SUP)
                return -EINVAL;
        char path[PK_SV_TREE_PATH + PK_SUP_ID_MAX + 2];
        pk_sv_tree_path(&rec->v[k], path, sizeof(path));
        struct pk_sup_opts o = rec->v[k].opts;
        o.name = rec->v[k].id;
        o.cgroup = env->cgroup;
        o.cgroup_parent = env->cgroup_parent;
        struct pk_sup *s = NULL;
        int r = pk_sup_new(env->loop, &o, &s);
        if (r < 0) {
                snprintf(err, errsz, "supervisor %s: %s", path, pk_strerror(r));
                return r;
        }
        for (size_t i = k + 1; i < rec->n && r == 0; i++) {
                struct pk_sv_tree_node *nd = &rec->v[i];
                if (strcmp(nd->parent, path) != 0)
                        continue;
                if (nd->kind == PK_SV_TREE_SUP) {
                        r = pk_sv_tree_build(rec, i, env, s, err, errsz);
                } else if (nd->kind == PK_SV_TREE_WORKER) {
                        struct pk_sup_child_spec sp = nd->spec;
                        sp.id = nd->id;
                        sp.log_dir = env->log_dir;
                        struct pk_cmd *cmd = nd->cmd;
                        nd->cmd = NULL;
                        r = cmd ? pk_sup_add(s, &sp, cmd) : -EINVAL; /* takes cmd */
                        if (r < 0)
                                snprintf(err, errsz, "worker %s/%s: %s", path, nd->id,
                                         cmd ? pk_strerror(r) : "its command was used already");
                } else {
                        char sub[768] = "";
                        r = env->add_unit(env->ud, s, nd->id, sub, sizeof(sub));
                        if (r < 0)
                                snprintf(err, errsz, "unit %s/%s: %s", path, nd->id,
                                         sub[0] ? sub : pk_strerror(r));
                }
        }
        if (r < 0) {
                pk_sup_free(s);
                return r;
        }
        struct pk_sup_child_spec sp = rec->v[k].spec;
        sp.id = rec->v[k].id;
        r = pk_sup_add_sup(parent, &sp, s); /* takes s */
        if (r < 0)
                snprintf(err, errsz, "supervisor %s: %s", path, pk_strerror(r));
        return r;
}

static int tree_parse(struct tctx *t, const char *file, struct pk_sup *parent)
{
        char *err = t->err;
        size_t errsz = t->errsz;
        int fd = open(file, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                int e = errno;
                (void)fail(t, "%s", strerror(e));
                return -e;
        }
        struct stat st;
        if (fstat(fd, &st) < 0 || (size_t)st.st_size > TREE_MAX_FILE) {
                close(fd);
                return fail(t, "not readable or larger than %zu bytes", TREE_MAX_FILE);
        }
        char *text = calloc(1, (size_t)st.st_size + 1);
        if (!text) {
                close(fd);
                return -ENOMEM;
        }
        size_t got = 0;
        (void)pk_fd_read_all(fd, text, (size_t)st.st_size,
                             &got); /* a short read parses what came */
        close(fd);
        pk_arena *a = pk_arena_new(0);
        int r = a ? 0 : -ENOMEM;
        size_t off = 0;
        int nsup = 0;
        while (r == 0) {
                struct pk_term *term = NULL;
                size_t used = 0;
                struct pk_etf_text_error te;
                memset(&te, 0, sizeof(te));
                int p = pk_etf_parse(a, text + off, got - off, NULL, &term, &used, &te);
                if (p < 0) {
                        /* the line within the whole file */
                        unsigned line = te.line;
                        for (size_t i = 0; i < off; i++)
                                line += text[i] == '\n';
                        snprintf(err, errsz, "%s:%u: %s", file, line,
                                 te.message[0] ? te.message : pk_strerror(p));
                        r = p;
                        break;
                }
                if (p == 0 || !term)
                        break;
                off += used;
                r = build_sup(t, parent, term, 0);
                nsup++;
        }
        if (r == 0 && nsup == 0)
                r = fail(t, "no {supervisor, Name, #{...}, [Children]} term");
        pk_arena_free(a);
        free(text);
        return r;
}
