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
};

static int fail(struct tctx *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct tctx *t, const char *fmt, ...)
{
        char what[768];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
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
                char sub[1024] = "";
                int r = t->env->add_unit(t->env->ud, parent, name, sub, sizeof(sub));
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
        struct pk_sup *s = NULL;
        int r = pk_sup_new(t->env->loop, &o, &s);
        if (r < 0)
                return fail(t, "supervisor %s: %s", name, pk_strerror(r));
        const struct pk_term *l = &tup->v.tuple.elems[3];
        for (uint32_t i = 0; l->type == PK_TERM_LIST && i < l->v.list.len; i++) {
                r = child(t, s, &l->v.list.elems[i], depth);
                if (r < 0) {
                        pk_sup_free(s);
                        return r;
                }
        }
        r = pk_sup_add_sup(parent, &sp, s); /* takes s */
        if (r < 0)
                return fail(t, "supervisor %s: %s", name, pk_strerror(r));
        return 0;
}

int pk_sv_tree_load(const char *file, const struct pk_sv_tree_env *env, struct pk_sup *parent,
                    char *err, size_t errsz)
{
        struct tctx t = {.env = env, .file = file, .err = err, .errsz = errsz};
        int fd = open(file, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                int e = errno;
                (void)fail(&t, "%s", strerror(e));
                return -e;
        }
        struct stat st;
        if (fstat(fd, &st) < 0 || (size_t)st.st_size > TREE_MAX_FILE) {
                close(fd);
                return fail(&t, "not readable or larger than %zu bytes", TREE_MAX_FILE);
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
                r = build_sup(&t, parent, term, 0);
                nsup++;
        }
        if (r == 0 && nsup == 0)
                r = fail(&t, "no {supervisor, Name, #{...}, [Children]} term");
        pk_arena_free(a);
        free(text);
        return r;
}
