/* SPDX-License-Identifier: MIT */
/* The key table: every key of [Unit], [Service], [Socket] and [Install] that
 * portkit knows, each parsed into a typed field of struct pk_unit; sandboxing
 * and other accepted-but-not-enforced keys recorded as such; anything else a
 * warning (an error in strict mode).  Also the unit's defaults and
 * pk_unit_finish(). */
#include "unit/unit_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

enum {
        S_UNIT = 1,
        S_SERVICE = 2,
        S_SOCKET = 4,
        S_INSTALL = 8,
        S_EXEC = S_SERVICE | S_SOCKET,
};

struct keydef;
typedef int (*key_fn)(struct pctx *c, const struct keydef *k, char *v);

/* Initialisers read {name, sections, handler, offset, arg}, hence this order. */
struct keydef { // NOLINT(clang-analyzer-optin.performance.Padding)
        const char *name;
        unsigned int sections;
        key_fn fn;
        size_t off;
        int arg;
};

#define U(field) offsetof(struct pk_unit, field)
#define FIELD(c, k, type) ((type *)(void *)((char *)&(c)->p->pub + (k)->off))

static int bad(struct pctx *c, const char *what, const char *v)
{
        return pk__unit_fail(c, PK_EUNITVALUE, "invalid %s \"%.120s\"", what, v);
}

static struct ua *A(struct pctx *c)
{
        return &c->p->arena;
}

static int strv_add(struct pctx *c, struct pk_unit_strv *sv, const char *s)
{
        if (ua_grow(A(c), (void **)&sv->v, sv->n, sizeof(char *), 1) < 0)
                return -ENOMEM;
        char *d = ua_strdup(A(c), s);
        if (!d)
                return -ENOMEM;
        sv->v[sv->n++] = d;
        sv->v[sv->n] = NULL;
        return 0;
}

static void strv_reset(struct pk_unit_strv *sv)
{
        sv->v = NULL;
        sv->n = 0;
}

/* Empties one of the unit's arrays ({v, n}); the arena keeps the memory. */
#define LIST_CLEAR(l) ((l).v = NULL, (l).n = 0)

/* Appends the elem bytes at item to the arena array *v of *n elements. */
static int list_push(struct pctx *c, void **v, size_t *n, const void *item, size_t elem)
{
        if (ua_grow(A(c), v, *n, elem, 0) < 0)
                return -ENOMEM;
        memcpy((char *)*v + *n * elem, item, elem);
        ++*n;
        return 0;
}

/* Calls fn on each word of v (quotes and escapes removed). */
static int each_word(struct pctx *c, const char *v, int (*fn)(struct pctx *, void *, char *),
                     void *ud)
{
        const char *p = v;
        for (;;) {
                char *w;
                const char *why = NULL;
                int r = pk__unit_word(A(c), &p, &w, NULL, &why);
                if (r == -EINVAL)
                        return pk__unit_fail(c, PK_EUNITVALUE, "%s in \"%.120s\"", why, v);
                if (r <= 0)
                        return r;
                /* Specifiers are resolved per word, after unquoting, as systemd
                 * does: a value with spaces stays one word, escapes in it stay. */
                char *x;
                r = pk__unit_specifiers(c, w, &x);
                if (r < 0)
                        return r;
                r = fn(c, ud, x);
                if (r < 0)
                        return r;
        }
}

/* A list key as systemd reads one: an empty assignment empties the list
 * (the lines before it no longer count), else fn checks and adds each word
 * of v to sv. */
static int strv_assign(struct pctx *c, struct pk_unit_strv *sv, const char *v,
                       int (*fn)(struct pctx *, void *, char *))
{
        if (!*v) {
                strv_reset(sv);
                return 0;
        }
        return each_word(c, v, fn, sv);
}

static bool path_ok(const char *s)
{
        return s[0] == '/' && !strstr(s, "/../") &&
               strcmp(s + strlen(s) - (strlen(s) >= 3 ? 3 : 0), "/..") != 0;
}

/* ---- generic handlers ----------------------------------------------------- */

static int h_string(struct pctx *c, const struct keydef *k, char *v)
{
        *FIELD(c, k, char *) = *v ? v : NULL;
        return 0;
}

/* arg 1: absolute path required; arg 2: PIDFile (relative is under /run). */
static int h_path(struct pctx *c, const struct keydef *k, char *v)
{
        char **f = FIELD(c, k, char *);
        if (!*v) {
                *f = NULL;
                return 0;
        }
        if (k->arg == 2 && v[0] != '/') {
                size_t l = strlen(v) + 6;
                char *n = ua_alloc(A(c), l);
                if (!n)
                        return -ENOMEM;
                snprintf(n, l, "/run/%s", v);
                v = n;
        }
        if (!path_ok(v))
                return bad(c, "absolute path", v);
        *f = v;
        return 0;
}

static int word_unit(struct pctx *c, void *ud, char *w)
{
        if (!pk__unit_name_valid(w))
                return bad(c, "unit name", w);
        return strv_add(c, ud, w);
}

static int word_path(struct pctx *c, void *ud, char *w)
{
        if (!path_ok(w))
                return bad(c, "absolute path", w);
        return strv_add(c, ud, w);
}

static int word_any(struct pctx *c, void *ud, char *w)
{
        return strv_add(c, ud, w);
}

/* arg 0: any words; 1: unit names; 2: absolute paths. */
static int h_strv(struct pctx *c, const struct keydef *k, char *v)
{
        return strv_assign(c, FIELD(c, k, struct pk_unit_strv), v,
                           k->arg == 1   ? word_unit
                           : k->arg == 2 ? word_path
                                         : word_any);
}

static int h_bool(struct pctx *c, const struct keydef *k, char *v)
{
        int b = pk__unit_bool(v);
        if (b < 0)
                return bad(c, "boolean", v);
        *FIELD(c, k, bool) = b;
        return 0;
}

/* arg: 1 = zero means infinity; the default when empty is restored by the
 * table's second entry... simpler: empty resets to arg2 via defaults below. */
static int parse_ms(struct pctx *c, const char *v, bool zero_inf, uint64_t *ret)
{
        uint64_t us;
        if (pk_unit_timespan_parse(v, &us) < 0)
                return bad(c, "time span", v);
        if (zero_inf && us == 0)
                us = UINT64_MAX;
        *ret = pk__unit_usec_to_ms(us);
        return 0;
}

static int h_ms(struct pctx *c, const struct keydef *k, char *v)
{
        if (k->off == U(service.timeout_start_ms))
                c->p->timeout_start_set = true;
        return parse_ms(c, v, k->arg & 1, FIELD(c, k, uint64_t));
}

static int h_uint(struct pctx *c, const struct keydef *k, char *v)
{
        uint64_t x;
        if (pk__unit_uint(v, k->arg ? (uint64_t)k->arg : UINT32_MAX, &x) < 0)
                return bad(c, "number", v);
        *FIELD(c, k, unsigned int) = (unsigned int)x;
        return 0;
}

static int h_size(struct pctx *c, const struct keydef *k, char *v)
{
        uint64_t x;
        if (pk__unit_size(v, &x) < 0)
                return bad(c, "size", v);
        *FIELD(c, k, uint64_t) = x;
        return 0;
}

static int h_mode(struct pctx *c, const struct keydef *k, char *v)
{
        unsigned int m;
        if (pk__unit_mode(v, &m) < 0)
                return bad(c, "octal mode", v);
        *FIELD(c, k, unsigned int) = m;
        return 0;
}

static int h_signal(struct pctx *c, const struct keydef *k, char *v)
{
        int s = pk_unit_signal_parse(v);
        if (s < 0)
                return bad(c, "signal", v);
        *FIELD(c, k, int) = s;
        if (k->off == U(kill.restart_signal))
                c->p->restart_signal_set = true;
        return 0;
}

static int h_exec(struct pctx *c, const struct keydef *k, char *v)
{
        return pk__unit_exec_parse(c, FIELD(c, k, struct pk_unit_exec_list), v);
}

static int h_not_enforced(struct pctx *c, const struct keydef *k, char *v)
{
        /* Two of them change what makes a unit whole (pk_unit_finish()). */
        if (strcmp(k->name, "SuccessAction") == 0)
                c->p->success_action = *v != 0;
        if (strncmp(k->name, "Listen", 6) == 0)
                c->p->other_listen = *v != 0;
        return pk__unit_note(c, false, c->key, v, NULL);
}

/* A name table for enums: {"simple", 0}, ... */
struct nv {
        const char *name;
        int value;
};

static int lookup(const struct nv *t, const char *s, int *ret)
{
        for (; t->name; t++)
                if (strcmp(t->name, s) == 0) {
                        *ret = t->value;
                        return 0;
                }
        return -EINVAL;
}

static const struct nv types[] = {
    {"simple", PK_UNIT_TYPE_SIMPLE},   {"exec", PK_UNIT_TYPE_EXEC},
    {"forking", PK_UNIT_TYPE_FORKING}, {"oneshot", PK_UNIT_TYPE_ONESHOT},
    {"notify", PK_UNIT_TYPE_NOTIFY},   {"dbus", PK_UNIT_TYPE_DBUS},
    {"idle", PK_UNIT_TYPE_IDLE},       {NULL, 0}};
static const struct nv restarts[] = {{"no", PK_UNIT_RESTART_NO},
                                     {"on-success", PK_UNIT_RESTART_ON_SUCCESS},
                                     {"on-failure", PK_UNIT_RESTART_ON_FAILURE},
                                     {"on-abnormal", PK_UNIT_RESTART_ON_ABNORMAL},
                                     {"on-watchdog", PK_UNIT_RESTART_ON_WATCHDOG},
                                     {"on-abort", PK_UNIT_RESTART_ON_ABORT},
                                     {"always", PK_UNIT_RESTART_ALWAYS},
                                     {NULL, 0}};
static const struct nv kill_modes[] = {{"control-group", PK_UNIT_KILL_CONTROL_GROUP},
                                       {"mixed", PK_UNIT_KILL_MIXED},
                                       {"process", PK_UNIT_KILL_PROCESS},
                                       {"none", PK_UNIT_KILL_NONE},
                                       {NULL, 0}};
static const struct nv notify_accesses[] = {{"none", PK_UNIT_NOTIFY_NONE},
                                            {"main", PK_UNIT_NOTIFY_MAIN},
                                            {"exec", PK_UNIT_NOTIFY_EXEC},
                                            {"all", PK_UNIT_NOTIFY_ALL},
                                            {NULL, 0}};
static const struct nv io_classes[] = {{"none", 0}, {"realtime", 1}, {"best-effort", 2},
                                       {"idle", 3}, {"0", 0},        {"1", 1},
                                       {"2", 2},    {"3", 3},        {NULL, 0}};
static const struct nv cpu_policies[] = {{"other", SCHED_OTHER}, {"batch", SCHED_BATCH},
                                         {"idle", SCHED_IDLE},   {"fifo", SCHED_FIFO},
                                         {"rr", SCHED_RR},       {NULL, 0}};
static const struct nv preserves[] = {{"no", 0},   {"yes", 1}, {"restart", 2}, {"false", 0},
                                      {"true", 1}, {"0", 0},   {"1", 1},       {NULL, 0}};
static const struct nv ipv6_only[] = {{"default", 0}, {"both", 1}, {"ipv6-only", 2}, {NULL, 0}};

/* arg: index of the table above. */
static const struct nv *const enum_tables[] = {
    types, restarts, kill_modes, notify_accesses, io_classes, cpu_policies, preserves, ipv6_only};

static int h_enum(struct pctx *c, const struct keydef *k, char *v)
{
        int x;
        if (lookup(enum_tables[k->arg], v, &x) < 0)
                return bad(c, "value", v);
        if (k->off == U(service.type))
                c->p->type_set = true;
        if (k->off == U(service.notify_access))
                c->p->notify_access_set = true;
        *FIELD(c, k, int) = x;
        return 0;
}

/* ---- specific handlers ---------------------------------------------------- */

static int h_timeout_both(struct pctx *c, const struct keydef *k, char *v)
{
        (void)k;
        uint64_t ms = 0;
        if (!*v) {
                c->p->pub.service.timeout_start_ms = 90000;
                c->p->pub.service.timeout_stop_ms = 90000;
                c->p->timeout_start_set = false;
                return 0;
        }
        int r = parse_ms(c, v, true, &ms);
        if (r < 0)
                return r;
        c->p->pub.service.timeout_start_ms = ms;
        c->p->timeout_start_set = true;
        c->p->pub.service.timeout_stop_ms = ms;
        return 0;
}

static int h_timeout_abort(struct pctx *c, const struct keydef *k, char *v)
{
        c->p->timeout_abort_set = *v != 0;
        if (!*v)
                return 0;
        return h_ms(c, k, v);
}

static int h_int(struct pctx *c, const struct keydef *k, char *v)
{
        struct pk_unit_exec_ctx *x = &c->p->pub.exec;
        int64_t n;
        if (!*v) {
                /* Empty: back to the default. */
                if (k->arg == 0)
                        x->nice_set = false;
                else if (k->arg == 1)
                        x->oom_score_adjust_set = false;
                else if (k->arg == 2)
                        x->io_priority = -1;
                else if (k->arg == 3)
                        x->cpu_priority = -1;
                else
                        x->umask = 0022;
                return 0;
        }
        switch (k->arg) {
        case 0: /* Nice */
                if (pk__unit_int(v, -20, 19, &n) < 0)
                        return bad(c, "nice level (-20..19)", v);
                x->nice = (int)n;
                x->nice_set = true;
                break;
        case 1: /* OOMScoreAdjust */
                if (pk__unit_int(v, -1000, 1000, &n) < 0)
                        return bad(c, "OOM score adjustment (-1000..1000)", v);
                x->oom_score_adjust = (int)n;
                x->oom_score_adjust_set = true;
                break;
        case 2: /* IOSchedulingPriority */
                if (pk__unit_int(v, 0, 7, &n) < 0)
                        return bad(c, "I/O priority (0..7)", v);
                x->io_priority = (int)n;
                break;
        case 3: /* CPUSchedulingPriority */
                if (pk__unit_int(v, 0, 99, &n) < 0)
                        return bad(c, "CPU priority (0..99)", v);
                x->cpu_priority = (int)n;
                break;
        default: /* UMask */ {
                unsigned int m;
                if (pk__unit_mode(v, &m) < 0)
                        return bad(c, "umask", v);
                x->umask = (int)m;
        }
        }
        return 0;
}

static int h_user(struct pctx *c, const struct keydef *k, char *v)
{
        /* Names as systemd's valid_user_group_name (relaxed), or numbers. */
        for (const char *s = v; *s; s++)
                if (!isalnum((unsigned char)*s) && !strchr("_-.$", *s))
                        return bad(c, "user or group name", v);
        if (*v == '-' || strlen(v) > 256)
                return bad(c, "user or group name", v);
        return h_string(c, k, v);
}

static int word_group(struct pctx *c, void *ud, char *w)
{
        for (const char *s = w; *s; s++)
                if (!isalnum((unsigned char)*s) && !strchr("_-.$", *s))
                        return bad(c, "group name", w);
        return strv_add(c, ud, w);
}

static int h_groups(struct pctx *c, const struct keydef *k, char *v)
{
        return strv_assign(c, FIELD(c, k, struct pk_unit_strv), v, word_group);
}

static int env_name_ok(const char *s, size_t n)
{
        if (n == 0 || isdigit((unsigned char)s[0]))
                return 0;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char)s[i]) && s[i] != '_')
                        return 0;
        return 1;
}

static int word_env(struct pctx *c, void *ud, char *w)
{
        const char *eq = strchr(w, '=');
        if (!eq || !env_name_ok(w, (size_t)(eq - w)))
                return bad(c, "environment assignment", w);
        return strv_add(c, ud, w);
}

static int word_env_name(struct pctx *c, void *ud, char *w)
{
        const char *eq = strchr(w, '=');
        if (!env_name_ok(w, eq ? (size_t)(eq - w) : strlen(w)))
                return bad(c, "environment variable name", w);
        return strv_add(c, ud, w);
}

static int h_env(struct pctx *c, const struct keydef *k, char *v)
{
        return strv_assign(c, FIELD(c, k, struct pk_unit_strv), v,
                           k->arg ? word_env_name : word_env);
}

static int h_env_file(struct pctx *c, const struct keydef *k, char *v)
{
        (void)k;
        struct pk_unit_exec_ctx *x = &c->p->pub.exec;
        if (!*v) {
                LIST_CLEAR(x->environment_files);
                return 0;
        }
        bool opt = *v == '-';
        if (opt)
                v++;
        if (!path_ok(v))
                return bad(c, "absolute path", v);
        struct pk_unit_env_file f = {.path = v, .optional = opt};
        return list_push(c, (void **)&x->environment_files.v, &x->environment_files.n, &f,
                         sizeof(f));
}

static int h_workdir(struct pctx *c, const struct keydef *k, char *v)
{
        (void)k;
        struct pk_unit_exec_ctx *x = &c->p->pub.exec;
        x->working_directory = NULL;
        x->working_directory_optional = false;
        x->working_directory_home = false;
        if (!*v)
                return 0;
        if (*v == '-') {
                x->working_directory_optional = true;
                v++;
        }
        if (strcmp(v, "~") == 0) {
                x->working_directory_home = true;
                return 0;
        }
        if (!path_ok(v))
                return bad(c, "working directory (absolute path or ~)", v);
        x->working_directory = v;
        return 0;
}

/* Limit*=: arg is the RLIMIT_* number. */
static int limit_one(int res, const char *s, uint64_t *ret)
{
        if (strcmp(s, "infinity") == 0) {
                *ret = PK_UNIT_INFINITY;
                return 0;
        }
        uint64_t v, us;
        switch (res) {
        case 0: /* CPU: seconds */
                if (pk_unit_timespan_parse(s, &us) < 0)
                        return -EINVAL;
                *ret = us / 1000000 + (us % 1000000 != 0);
                return 0;
        case 15: /* RTTIME: microseconds, bare number is usec */
                if (pk__unit_uint(s, UINT64_MAX - 1, &v) == 0) {
                        *ret = v;
                        return 0;
                }
                if (pk_unit_timespan_parse(s, &us) < 0)
                        return -EINVAL;
                *ret = us;
                return 0;
        case 13: /* NICE: +N/-N nice level, or raw 0..40 */
                if (*s == '+' || *s == '-') {
                        int64_t n;
                        if (pk__unit_int(s, -20, 19, &n) < 0)
                                return -EINVAL;
                        *ret = (uint64_t)(20 - n);
                        return 0;
                }
                if (pk__unit_uint(s, 40, &v) < 0)
                        return -EINVAL;
                *ret = v;
                return 0;
        case 1:
        case 2:
        case 3:
        case 4:
        case 5:
        case 8:
        case 9:
        case 12: /* byte sizes */
                return pk__unit_size(s, ret) < 0 ? -EINVAL : 0;
        default: /* counts */
                return pk__unit_uint(s, UINT64_MAX - 1, ret) < 0 ? -EINVAL : 0;
        }
}

static int h_limit(struct pctx *c, const struct keydef *k, char *v)
{
        struct pk_unit_rlimit *l = &c->p->pub.exec.limits[k->arg];
        if (!*v) {
                memset(l, 0, sizeof(*l));
                return 0;
        }
        char *colon = strchr(v, ':');
        uint64_t soft, hard;
        if (colon) {
                *colon = 0;
                if (limit_one(k->arg, v, &soft) < 0 || limit_one(k->arg, colon + 1, &hard) < 0) {
                        *colon = ':';
                        return bad(c, "resource limit", v);
                }
                if (soft > hard)
                        return pk__unit_fail(c, PK_EUNITVALUE, "soft limit above the hard limit");
        } else {
                if (limit_one(k->arg, v, &soft) < 0)
                        return bad(c, "resource limit", v);
                hard = soft;
        }
        l->set = true;
        l->soft = soft;
        l->hard = hard;
        return 0;
}

/* CapabilityBoundingSet= (arg 0) / AmbientCapabilities= (arg 1). */
struct capacc {
        uint64_t sum;
};

static int word_cap(struct pctx *c, void *ud, char *w)
{
        int n = pk__unit_cap_from_name(w);
        if (n < 0)
                return bad(c, "capability", w);
        ((struct capacc *)ud)->sum |= (uint64_t)1 << n;
        return 0;
}

static int h_caps(struct pctx *c, const struct keydef *k, char *v)
{
        struct pk_unit_exec_ctx *x = &c->p->pub.exec;
        uint64_t *set = k->arg ? &x->ambient_capabilities : &x->capability_bounding_set;
        bool *init = k->arg ? &c->p->ambient_set : &x->bounding_set_set;
        const uint64_t all = ((uint64_t)1 << 41) - 1;
        if (!*v) {
                /* An empty assignment is the empty set, replacing prior lines. */
                *set = 0;
                *init = true;
                return 0;
        }
        bool invert = *v == '~';
        if (invert)
                v++;
        struct capacc acc = {0};
        int r = each_word(c, v, word_cap, &acc);
        if (r < 0)
                return r;
        if (invert) {
                /* "~A B": everything except A and B; several lines narrow. */
                *set = (*init ? *set : all) & ~acc.sum;
        } else {
                *set = (*init ? *set : 0) | acc.sum;
        }
        *init = true;
        return 0;
}

static int dir_word(struct pctx *c, void *ud, char *w)
{
        if (w[0] == '/' || strstr(w, "..") || strchr(w, ':') || !*w)
                return bad(c, "relative directory name", w);
        return strv_add(c, ud, w);
}

/* RuntimeDirectory= etc.: arg is pk_unit_dir_kind; +16 for *Mode=. */
static int h_dirs(struct pctx *c, const struct keydef *k, char *v)
{
        struct pk_unit_dirs *d = &c->p->pub.exec.dirs[k->arg & 15];
        if (k->arg & 16) {
                unsigned int m;
                if (!*v) {
                        d->mode = 0755;
                        return 0;
                }
                if (pk__unit_mode(v, &m) < 0)
                        return bad(c, "octal mode", v);
                d->mode = m;
                return 0;
        }
        return strv_assign(c, &d->names, v, dir_word);
}

/* Standard*=: arg 0 input, 1 output, 2 error. */
static int h_stdio(struct pctx *c, const struct keydef *k, char *v)
{
        struct pk_unit_stdio *s = FIELD(c, k, struct pk_unit_stdio);
        static const struct nv in[] = {
            {"null", PK_UNIT_STDIO_NULL},     {"tty", PK_UNIT_STDIO_TTY},
            {"tty-force", PK_UNIT_STDIO_TTY}, {"tty-fail", PK_UNIT_STDIO_TTY},
            {"data", PK_UNIT_STDIO_DATA},     {"socket", PK_UNIT_STDIO_SOCKET},
            {"fd", PK_UNIT_STDIO_FD},         {NULL, 0}};
        static const struct nv out[] = {{"inherit", PK_UNIT_STDIO_INHERIT},
                                        {"null", PK_UNIT_STDIO_NULL},
                                        {"tty", PK_UNIT_STDIO_TTY},
                                        {"journal", PK_UNIT_STDIO_JOURNAL},
                                        {"syslog", PK_UNIT_STDIO_JOURNAL},
                                        {"kmsg", PK_UNIT_STDIO_JOURNAL},
                                        {"journal+console", PK_UNIT_STDIO_JOURNAL},
                                        {"syslog+console", PK_UNIT_STDIO_JOURNAL},
                                        {"kmsg+console", PK_UNIT_STDIO_JOURNAL},
                                        {"socket", PK_UNIT_STDIO_SOCKET},
                                        {"fd", PK_UNIT_STDIO_FD},
                                        {NULL, 0}};
        static const struct {
                const char *prefix;
                enum pk_unit_stdio_kind kind;
                bool input_ok;
        } pre[] = {{"file:", PK_UNIT_STDIO_FILE, true},
                   {"append:", PK_UNIT_STDIO_APPEND, false},
                   {"truncate:", PK_UNIT_STDIO_TRUNCATE, false},
                   {"fd:", PK_UNIT_STDIO_FD, true}};
        int x;
        if (!*v) {
                s->kind = k->arg == 0   ? PK_UNIT_STDIO_NULL
                          : k->arg == 1 ? PK_UNIT_STDIO_JOURNAL
                                        : PK_UNIT_STDIO_INHERIT;
                s->path = NULL;
                return 0;
        }
        if (lookup(k->arg == 0 ? in : out, v, &x) == 0) {
                s->kind = (enum pk_unit_stdio_kind)x;
                s->path = NULL;
                return 0;
        }
        for (size_t i = 0; i < PK_ARRAY_SIZE(pre); i++) {
                size_t l = strlen(pre[i].prefix);
                if (strncmp(v, pre[i].prefix, l) != 0)
                        continue;
                if (k->arg == 0 && !pre[i].input_ok)
                        break;
                char *arg = v + l;
                if (pre[i].kind == PK_UNIT_STDIO_FD ? !*arg || strchr(arg, ':') : !path_ok(arg))
                        return bad(c, "standard stream argument", v);
                s->kind = pre[i].kind;
                s->path = arg;
                return 0;
        }
        return bad(c, "standard stream setting", v);
}

/* Appends bytes (and a newline) to the unit's standard input data. */
static int input_append(struct pctx *c, const char *b, size_t len, bool newline)
{
        struct pk_unit_exec_ctx *x = &c->p->pub.exec;
        size_t total = x->input_data_len + len + (newline ? 1 : 0);
        if (total > c->o->max_file)
                return pk__unit_fail(c, PK_EUNITLIMIT, "standard input data over %zu bytes",
                                     c->o->max_file);
        unsigned char *n = ua_alloc(A(c), total + 1);
        if (!n)
                return -ENOMEM;
        if (x->input_data_len)
                memcpy(n, x->input_data, x->input_data_len);
        if (len)
                memcpy(n + x->input_data_len, b, len);
        if (newline)
                n[total - 1] = '\n';
        x->input_data = n;
        x->input_data_len = total;
        return 0;
}

/* StandardInputText=: C escapes, then specifiers (systemd's order), a newline
 * after each line; StandardInputData= (arg 1): base64, bytes joined as they
 * are.  Both feed one buffer; an empty assignment empties it.  Raw value. */
static int h_input(struct pctx *c, const struct keydef *k, char *v)
{
        struct pk_unit_exec_ctx *x = &c->p->pub.exec;
        if (!*v) {
                x->input_data = NULL;
                x->input_data_len = 0;
                return 0;
        }
        if (k->arg == 1) {
                size_t len = strlen(v);
                if (pk__unit_unbase64(v, &len) < 0)
                        return bad(c, "base64 data", v);
                return input_append(c, v, len, false);
        }
        char *un, *text;
        if (pk__unit_cunescape(A(c), v, &un) < 0)
                return bad(c, "C-escaped text", v);
        int r = pk__unit_specifiers(c, un, &text);
        if (r < 0)
                return r;
        return input_append(c, text, strlen(text), true);
}

/* ExecSearchPath=: colon-separated absolute directories, specifiers resolved in
 * each; lines append, an empty one resets.  Raw value. */
static int h_search_path(struct pctx *c, const struct keydef *k, char *v)
{
        struct pk_unit_strv *sv = FIELD(c, k, struct pk_unit_strv);
        if (!*v) {
                strv_reset(sv);
                return 0;
        }
        for (char *p = v;;) {
                char *colon = strchr(p, ':');
                if (colon)
                        *colon = '\0';
                char *dir;
                int r = pk__unit_specifiers(c, p, &dir);
                if (r < 0)
                        return r;
                if (!path_ok(dir))
                        return bad(c, "ExecSearchPath= directory (absolute paths only)", dir);
                if ((r = strv_add(c, sv, dir)) < 0)
                        return r;
                if (!colon)
                        return 0;
                p = colon + 1;
        }
}

/* Exit status sets; arg unused. */
struct statacc {
        struct pk_unit_status_set *set;
};

/* Exit status names systemd accepts: generic, LSB init script and BSD sysexits. */
static const struct nv exit_names[] = {
    {"SUCCESS", 0},      {"FAILURE", 1},      {"INVALIDARGUMENT", 2}, {"NOTIMPLEMENTED", 3},
    {"NOPERMISSION", 4}, {"NOTINSTALLED", 5}, {"NOTCONFIGURED", 6},   {"NOTRUNNING", 7},
    {"USAGE", 64},       {"DATAERR", 65},     {"NOINPUT", 66},        {"NOUSER", 67},
    {"NOHOST", 68},      {"UNAVAILABLE", 69}, {"SOFTWARE", 70},       {"OSERR", 71},
    {"OSFILE", 72},      {"CANTCREAT", 73},   {"IOERR", 74},          {"TEMPFAIL", 75},
    {"PROTOCOL", 76},    {"NOPERM", 77},      {"CONFIG", 78},         {NULL, 0}};

static int word_status(struct pctx *c, void *ud, char *w)
{
        struct pk_unit_status_set *set = ud;
        uint64_t n;
        int named;
        if (lookup(exit_names, w, &named) == 0) {
                set->status[named / 8] |= (uint8_t)(1u << (named % 8));
                return 0;
        }
        if (pk__unit_uint(w, 255, &n) == 0) {
                set->status[n / 8] |= (uint8_t)(1u << (n % 8));
                return 0;
        }
        if (strncmp(w, "SIG", 3) == 0) {
                int s = pk_unit_signal_parse(w);
                if (s > 0) {
                        set->signals |= (uint64_t)1 << (s - 1);
                        return 0;
                }
        }
        return bad(c, "exit status (0..255, a sysexits/LSB name or a SIG name)", w);
}

static int h_status(struct pctx *c, const struct keydef *k, char *v)
{
        struct pk_unit_status_set *set = FIELD(c, k, struct pk_unit_status_set);
        if (!*v) {
                memset(set, 0, sizeof(*set));
                return 0;
        }
        return each_word(c, v, word_status, set);
}

/* Conditions. */
static const struct {
        const char *name;
        enum pk_unit_cond_kind kind;
} cond_names[] = {
    {"PathExists", PK_UNIT_COND_PATH_EXISTS},
    {"PathExistsGlob", PK_UNIT_COND_PATH_EXISTS_GLOB},
    {"PathIsDirectory", PK_UNIT_COND_PATH_IS_DIRECTORY},
    {"PathIsSymbolicLink", PK_UNIT_COND_PATH_IS_SYMLINK},
    {"PathIsMountPoint", PK_UNIT_COND_PATH_IS_MOUNT_POINT},
    {"PathIsReadWrite", PK_UNIT_COND_PATH_IS_READ_WRITE},
    {"DirectoryNotEmpty", PK_UNIT_COND_DIRECTORY_NOT_EMPTY},
    {"FileNotEmpty", PK_UNIT_COND_FILE_NOT_EMPTY},
    {"FileIsExecutable", PK_UNIT_COND_FILE_IS_EXECUTABLE},
    {"Environment", PK_UNIT_COND_ENVIRONMENT},
    {"User", PK_UNIT_COND_USER},
    {"Group", PK_UNIT_COND_GROUP},
    {"Host", PK_UNIT_COND_HOST},
    {"KernelCommandLine", PK_UNIT_COND_KERNEL_COMMAND_LINE},
    {"Architecture", PK_UNIT_COND_OTHER},
    {"Virtualization", PK_UNIT_COND_OTHER},
    {"Security", PK_UNIT_COND_OTHER},
    {"Capability", PK_UNIT_COND_OTHER},
    {"ACPower", PK_UNIT_COND_OTHER},
    {"NeedsUpdate", PK_UNIT_COND_OTHER},
    {"FirstBoot", PK_UNIT_COND_OTHER},
    {"KernelVersion", PK_UNIT_COND_OTHER},
    {"Credential", PK_UNIT_COND_OTHER},
    {"ControlGroupController", PK_UNIT_COND_OTHER},
    {"Memory", PK_UNIT_COND_OTHER},
    {"CPUs", PK_UNIT_COND_OTHER},
    {"CPUFeature", PK_UNIT_COND_OTHER},
    {"OSRelease", PK_UNIT_COND_OTHER},
    {"MemoryPressure", PK_UNIT_COND_OTHER},
    {"CPUPressure", PK_UNIT_COND_OTHER},
    {"IOPressure", PK_UNIT_COND_OTHER},
    {"PathIsEncrypted", PK_UNIT_COND_OTHER},
    {"Firmware", PK_UNIT_COND_OTHER},
};

static int h_condition(struct pctx *c, const struct keydef *k, char *v)
{
        bool is_assert = k->arg >= 1000;
        int idx = k->arg % 1000;
        struct pk_unit *u = &c->p->pub;
        if (!*v) {
                /* Empty resets every condition of this family (Condition or Assert). */
                size_t j = 0;
                for (size_t i = 0; i < u->conditions.n; i++)
                        if (u->conditions.v[i].is_assert != is_assert)
                                u->conditions.v[j++] = u->conditions.v[i];
                u->conditions.n = j;
                return 0;
        }
        struct pk_unit_condition cd = {.kind = cond_names[idx].kind, .is_assert = is_assert};
        if (*v == '|') {
                cd.trigger = true;
                v++;
                while (*v == ' ' || *v == '\t')
                        v++;
        }
        if (*v == '!') {
                cd.negate = true;
                v++;
                while (*v == ' ' || *v == '\t')
                        v++;
        }
        if (cd.kind <= PK_UNIT_COND_FILE_IS_EXECUTABLE && !path_ok(v))
                return bad(c, "absolute path", v);
        if (!*v)
                return bad(c, "condition", v);
        cd.key = ua_strdup(A(c), c->key);
        cd.param = v;
        cd.file = c->file;
        cd.line = c->line;
        if (!cd.key)
                return -ENOMEM;
        if (cd.kind == PK_UNIT_COND_OTHER) {
                int r = pk__unit_note(c, false, c->key, v, NULL);
                if (r < 0)
                        return r;
        }
        return list_push(c, (void **)&u->conditions.v, &u->conditions.n, &cd, sizeof(cd));
}

/* Listen*=: arg is pk_unit_listen_kind. */
static int parse_listen(struct pctx *c, enum pk_unit_listen_kind kind, char *v,
                        struct pk_unit_listen *l)
{
        l->kind = kind;
        if (v[0] == '/') {
                if (!path_ok(v) || strlen(v) > 107)
                        return bad(c, "socket path (at most 107 bytes)", v);
                l->addr = PK_UNIT_ADDR_PATH;
                l->path = v;
                return 0;
        }
        if (kind == PK_UNIT_LISTEN_FIFO)
                return bad(c, "FIFO path", v);
        if (v[0] == '@') {
                if (!v[1] || strlen(v) > 107)
                        return bad(c, "abstract socket name", v);
                l->addr = PK_UNIT_ADDR_ABSTRACT;
                l->path = v + 1;
                return 0;
        }
        uint64_t port;
        char *colon = strrchr(v, ':');
        if (!colon) {
                if (pk__unit_uint(v, 65535, &port) < 0 || port == 0)
                        return bad(c, "listen address", v);
                l->addr = PK_UNIT_ADDR_PORT;
                l->port = (uint16_t)port;
                return 0;
        }
        if (pk__unit_uint(colon + 1, 65535, &port) < 0 || port == 0)
                return bad(c, "port", v);
        *colon = 0;
        char *host = v;
        unsigned char tmp[16];
        if (host[0] == '[') {
                size_t hl = strlen(host);
                if (hl < 3 || host[hl - 1] != ']') {
                        *colon = ':';
                        return bad(c, "IPv6 address", v);
                }
                host[hl - 1] = 0;
                host++;
                char *pct = strchr(host, '%');
                if (pct) {
                        *pct = 0;
                        l->ifname = pct + 1;
                        if (!*l->ifname || strlen(l->ifname) > 15) {
                                *colon = ':';
                                return bad(c, "interface name", v);
                        }
                }
                if (inet_pton(AF_INET6, host, tmp) != 1) {
                        *colon = ':';
                        return bad(c, "IPv6 address", v);
                }
                l->addr = PK_UNIT_ADDR_INET6;
        } else {
                if (inet_pton(AF_INET, host, tmp) != 1) {
                        *colon = ':';
                        return bad(c, "IPv4 address", v);
                }
                l->addr = PK_UNIT_ADDR_INET4;
        }
        l->path = host;
        l->port = (uint16_t)port;
        return 0;
}

static int h_listen(struct pctx *c, const struct keydef *k, char *v)
{
        struct pk_unit_socket *s = &c->p->pub.socket;
        if (!*v) {
                LIST_CLEAR(s->listen);
                return 0;
        }
        struct pk_unit_listen l = {.file = c->file, .line = c->line};
        int r = parse_listen(c, (enum pk_unit_listen_kind)k->arg, v, &l);
        if (r < 0)
                return r;
        return list_push(c, (void **)&s->listen.v, &s->listen.n, &l, sizeof(l));
}

/* SocketProtocol=: the IP protocol of the Listen*= sockets (systemd's two). */
static int h_socket_protocol(struct pctx *c, const struct keydef *k, char *v)
{
        (void)k;
        int *proto = &c->p->pub.socket.protocol;
        if (!*v)
                *proto = 0;
        else if (strcmp(v, "sctp") == 0)
                *proto = IPPROTO_SCTP;
        else if (strcmp(v, "udplite") == 0)
                *proto = IPPROTO_UDPLITE;
        else
                return bad(c, "SocketProtocol (udplite or sctp)", v);
        return 0;
}

static int h_fdname(struct pctx *c, const struct keydef *k, char *v)
{
        if (strlen(v) > 255 || strchr(v, ':'))
                return bad(c, "file descriptor name", v);
        for (const char *s = v; *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                        return bad(c, "file descriptor name", v);
        return h_string(c, k, v);
}

static int h_exit_type(struct pctx *c, const struct keydef *k, char *v)
{
        (void)k;
        if (strcmp(v, "main") != 0 && strcmp(v, "cgroup") != 0 && *v)
                return bad(c, "ExitType (main or cgroup)", v);
        c->p->pub.service.exit_type_cgroup = strcmp(v, "cgroup") == 0;
        return 0;
}

static int h_unit_name(struct pctx *c, const struct keydef *k, char *v)
{
        if (*v && !pk__unit_name_valid(v))
                return bad(c, "unit name", v);
        return h_string(c, k, v);
}

/* ---- the table ------------------------------------------------------------ */

#define SV(f) U(service.f)
#define SK(f) U(socket.f)
#define EX(f) U(exec.f)
#define KL(f) U(kill.f)
#define DP(f) U(deps.f)
#define IN(f) U(install.f)
#define NE(name, sec)                                                                              \
        {                                                                                          \
                name, sec, h_not_enforced, 0, 0                                                    \
        }

static const struct keydef keys[] = {
    /* [Unit] */
    {"Description", S_UNIT, h_string, U(description), 0},
    {"Documentation", S_UNIT, h_strv, U(documentation), 0},
    {"After", S_UNIT, h_strv, DP(after), 1},
    {"Before", S_UNIT, h_strv, DP(before), 1},
    {"Requires", S_UNIT, h_strv, DP(requires_units), 1},
    {"Wants", S_UNIT, h_strv, DP(wants), 1},
    {"BindsTo", S_UNIT, h_strv, DP(binds_to), 1},
    {"BindTo", S_UNIT, h_strv, DP(binds_to), 1}, /* old name, still accepted */
    {"PartOf", S_UNIT, h_strv, DP(part_of), 1},
    {"Requisite", S_UNIT, h_strv, DP(requisite), 1},
    {"Conflicts", S_UNIT, h_strv, DP(conflicts), 1},
    {"OnFailure", S_UNIT, h_strv, DP(on_failure), 1},
    {"OnSuccess", S_UNIT, h_strv, DP(on_success), 1},
    {"Upholds", S_UNIT, h_strv, DP(upholds), 1},
    {"PropagatesReloadTo", S_UNIT, h_strv, DP(propagates_reload_to), 1},
    {"ReloadPropagatedFrom", S_UNIT, h_strv, DP(reload_propagated_from), 1},
    {"PropagateReloadTo", S_UNIT, h_strv, DP(propagates_reload_to), 1},     /* old name */
    {"PropagateReloadFrom", S_UNIT, h_strv, DP(reload_propagated_from), 1}, /* old name */
    {"RequiresMountsFor", S_UNIT, h_strv, DP(requires_mounts_for), 2},
    {"DefaultDependencies", S_UNIT, h_bool, U(default_dependencies), 0},
    {"RefuseManualStart", S_UNIT, h_bool, U(refuse_manual_start), 0},
    {"RefuseManualStop", S_UNIT, h_bool, U(refuse_manual_stop), 0},
    {"StopWhenUnneeded", S_UNIT, h_bool, U(stop_when_unneeded), 0},
    {"AllowIsolate", S_UNIT, h_bool, U(allow_isolate), 0},
    {"StartLimitIntervalSec", S_UNIT, h_ms, U(start_limit_interval_ms), 0},
    {"StartLimitInterval", S_UNIT | S_SERVICE, h_ms, U(start_limit_interval_ms), 0},
    {"StartLimitBurst", S_UNIT | S_SERVICE, h_uint, U(start_limit_burst), 0},
    NE("StartLimitAction", S_UNIT | S_SERVICE),
    NE("FailureAction", S_UNIT | S_SERVICE),
    NE("SuccessAction", S_UNIT | S_SERVICE),
    NE("FailureActionExitStatus", S_UNIT),
    NE("SuccessActionExitStatus", S_UNIT),
    NE("RebootArgument", S_UNIT | S_SERVICE),
    NE("JobTimeoutSec", S_UNIT),
    NE("JobRunningTimeoutSec", S_UNIT),
    NE("JobTimeoutAction", S_UNIT),
    NE("JobTimeoutRebootArgument", S_UNIT),
    NE("IgnoreOnIsolate", S_UNIT),
    NE("CollectMode", S_UNIT),
    NE("SourcePath", S_UNIT),
    NE("OnFailureJobMode", S_UNIT),
    NE("JoinsNamespaceOf", S_UNIT),
    NE("StopPropagatedFrom", S_UNIT),
    NE("PropagatesStopTo", S_UNIT),
    NE("SurviveFinalKillSignal", S_UNIT),

    /* [Service] */
    {"Type", S_SERVICE, h_enum, SV(type), 0},
    {"ExecCondition", S_SERVICE, h_exec, SV(exec_condition), 0},
    {"ExecStartPre", S_SERVICE, h_exec, SV(exec_start_pre), 0},
    {"ExecStart", S_SERVICE, h_exec, SV(exec_start), 0},
    {"ExecStartPost", S_SERVICE, h_exec, SV(exec_start_post), 0},
    {"ExecReload", S_SERVICE, h_exec, SV(exec_reload), 0},
    {"ExecStop", S_SERVICE, h_exec, SV(exec_stop), 0},
    {"ExecStopPost", S_SERVICE, h_exec, SV(exec_stop_post), 0},
    {"PIDFile", S_SERVICE, h_path, SV(pid_file), 2},
    {"RemainAfterExit", S_SERVICE, h_bool, SV(remain_after_exit), 0},
    {"GuessMainPID", S_SERVICE, h_bool, SV(guess_main_pid), 0},
    {"NotifyAccess", S_SERVICE, h_enum, SV(notify_access), 3},
    {"BusName", S_SERVICE, h_string, SV(bus_name), 0},
    {"Restart", S_SERVICE, h_enum, SV(restart), 1},
    {"RestartSec", S_SERVICE, h_ms, SV(restart_ms), 0},
    {"RestartSteps", S_SERVICE, h_uint, SV(restart_steps), 0},
    {"RestartMaxDelaySec", S_SERVICE, h_ms, SV(restart_max_delay_ms), 0},
    {"TimeoutStartSec", S_SERVICE, h_ms, SV(timeout_start_ms), 1},
    {"TimeoutStopSec", S_SERVICE, h_ms, SV(timeout_stop_ms), 1},
    {"TimeoutAbortSec", S_SERVICE, h_timeout_abort, SV(timeout_abort_ms), 1},
    {"TimeoutSec", S_SERVICE, h_timeout_both, 0, 0},
    {"RuntimeMaxSec", S_SERVICE, h_ms, SV(runtime_max_ms), 1},
    {"WatchdogSec", S_SERVICE, h_ms, SV(watchdog_ms), 0},
    {"SuccessExitStatus", S_SERVICE, h_status, SV(success_exit_status), 0},
    {"RestartPreventExitStatus", S_SERVICE, h_status, SV(restart_prevent_exit_status), 0},
    {"RestartForceExitStatus", S_SERVICE, h_status, SV(restart_force_exit_status), 0},
    {"Sockets", S_SERVICE, h_strv, SV(sockets), 1},
    {"ExitType", S_SERVICE, h_exit_type, 0, 0},
    {"FileDescriptorStoreMax", S_SERVICE, h_uint, SV(fd_store_max), 0},
    {"FileDescriptorStorePreserve", S_SERVICE, h_enum, SV(fd_store_preserve), 6},
    NE("TimeoutStartFailureMode", S_SERVICE),
    NE("TimeoutStopFailureMode", S_SERVICE),
    NE("RuntimeRandomizedExtraSec", S_SERVICE),
    NE("RootDirectoryStartOnly", S_SERVICE),
    NE("PermissionsStartOnly", S_SERVICE),
    NE("NonBlocking", S_SERVICE),
    NE("USBFunctionDescriptors", S_SERVICE),
    NE("USBFunctionStrings", S_SERVICE),
    NE("OOMPolicy", S_SERVICE),
    NE("OpenFile", S_SERVICE),
    NE("ReloadSignal", S_SERVICE),

    /* systemd.exec(5), services and sockets */
    {"User", S_EXEC, h_user, EX(user), 0},
    {"Group", S_EXEC, h_user, EX(group), 0},
    {"SupplementaryGroups", S_EXEC, h_groups, EX(supplementary_groups), 0},
    {"DynamicUser", S_EXEC, h_bool, EX(dynamic_user), 0},
    {"WorkingDirectory", S_EXEC, h_workdir, 0, 0},
    {"RootDirectory", S_EXEC, h_path, EX(root_directory), 1},
    {"Environment", S_EXEC, h_env, EX(environment), 0},
    {"EnvironmentFile", S_EXEC, h_env_file, 0, 0},
    {"PassEnvironment", S_EXEC, h_env, EX(pass_environment), 1},
    {"UnsetEnvironment", S_EXEC, h_env, EX(unset_environment), 1},
    {"UMask", S_EXEC, h_int, 0, 9},
    {"Nice", S_EXEC, h_int, 0, 0},
    {"OOMScoreAdjust", S_EXEC, h_int, 0, 1},
    {"IOSchedulingClass", S_EXEC, h_enum, EX(io_class), 4},
    {"IOSchedulingPriority", S_EXEC, h_int, 0, 2},
    {"CPUSchedulingPolicy", S_EXEC, h_enum, EX(cpu_policy), 5},
    {"CPUSchedulingPriority", S_EXEC, h_int, 0, 3},
    {"CPUSchedulingResetOnFork", S_EXEC, h_bool, EX(cpu_reset_on_fork), 0},
    {"LimitCPU", S_EXEC, h_limit, 0, 0},
    {"LimitFSIZE", S_EXEC, h_limit, 0, 1},
    {"LimitDATA", S_EXEC, h_limit, 0, 2},
    {"LimitSTACK", S_EXEC, h_limit, 0, 3},
    {"LimitCORE", S_EXEC, h_limit, 0, 4},
    {"LimitRSS", S_EXEC, h_limit, 0, 5},
    {"LimitNPROC", S_EXEC, h_limit, 0, 6},
    {"LimitNOFILE", S_EXEC, h_limit, 0, 7},
    {"LimitMEMLOCK", S_EXEC, h_limit, 0, 8},
    {"LimitAS", S_EXEC, h_limit, 0, 9},
    {"LimitLOCKS", S_EXEC, h_limit, 0, 10},
    {"LimitSIGPENDING", S_EXEC, h_limit, 0, 11},
    {"LimitMSGQUEUE", S_EXEC, h_limit, 0, 12},
    {"LimitNICE", S_EXEC, h_limit, 0, 13},
    {"LimitRTPRIO", S_EXEC, h_limit, 0, 14},
    {"LimitRTTIME", S_EXEC, h_limit, 0, 15},
    {"NoNewPrivileges", S_EXEC, h_bool, EX(no_new_privileges), 0},
    {"CapabilityBoundingSet", S_EXEC, h_caps, 0, 0},
    {"AmbientCapabilities", S_EXEC, h_caps, 0, 1},
    {"RuntimeDirectory", S_EXEC, h_dirs, 0, PK_UNIT_DIR_RUNTIME},
    {"StateDirectory", S_EXEC, h_dirs, 0, PK_UNIT_DIR_STATE},
    {"CacheDirectory", S_EXEC, h_dirs, 0, PK_UNIT_DIR_CACHE},
    {"LogsDirectory", S_EXEC, h_dirs, 0, PK_UNIT_DIR_LOGS},
    {"ConfigurationDirectory", S_EXEC, h_dirs, 0, PK_UNIT_DIR_CONFIGURATION},
    {"RuntimeDirectoryMode", S_EXEC, h_dirs, 0, 16 + PK_UNIT_DIR_RUNTIME},
    {"StateDirectoryMode", S_EXEC, h_dirs, 0, 16 + PK_UNIT_DIR_STATE},
    {"CacheDirectoryMode", S_EXEC, h_dirs, 0, 16 + PK_UNIT_DIR_CACHE},
    {"LogsDirectoryMode", S_EXEC, h_dirs, 0, 16 + PK_UNIT_DIR_LOGS},
    {"ConfigurationDirectoryMode", S_EXEC, h_dirs, 0, 16 + PK_UNIT_DIR_CONFIGURATION},
    {"RuntimeDirectoryPreserve", S_EXEC, h_enum, EX(runtime_directory_preserve), 6},
    {"StandardInput", S_EXEC, h_stdio, EX(std_input), 0},
    {"StandardOutput", S_EXEC, h_stdio, EX(std_output), 1},
    {"StandardError", S_EXEC, h_stdio, EX(std_error), 2},
    {"StandardInputText", S_EXEC, h_input, 0, 0},
    {"StandardInputData", S_EXEC, h_input, 0, 1},
    {"ExecSearchPath", S_EXEC, h_search_path, EX(exec_search_path), 0},
    {"TTYPath", S_EXEC, h_path, EX(tty_path), 1},
    {"SyslogIdentifier", S_EXEC, h_string, EX(syslog_identifier), 0},
    {"IgnoreSIGPIPE", S_EXEC, h_bool, EX(ignore_sigpipe), 0},

    /* systemd.kill(5) */
    {"KillMode", S_EXEC, h_enum, KL(mode), 2},
    {"KillSignal", S_EXEC, h_signal, KL(signal), 0},
    {"RestartKillSignal", S_EXEC, h_signal, KL(restart_signal), 0},
    {"FinalKillSignal", S_EXEC, h_signal, KL(final_signal), 0},
    {"WatchdogSignal", S_EXEC, h_signal, KL(watchdog_signal), 0},
    {"SendSIGKILL", S_EXEC, h_bool, KL(send_sigkill), 0},
    {"SendSIGHUP", S_EXEC, h_bool, KL(send_sighup), 0},

    /* Accepted, not enforced: sandboxing, cgroup resource control, logging
     * details, security modules and the rest of systemd.exec(5). */
    NE("ProtectSystem", S_EXEC),
    NE("ProtectHome", S_EXEC),
    NE("ProtectKernelTunables", S_EXEC),
    NE("ProtectKernelModules", S_EXEC),
    NE("ProtectKernelLogs", S_EXEC),
    NE("ProtectControlGroups", S_EXEC),
    NE("ProtectClock", S_EXEC),
    NE("ProtectHostname", S_EXEC),
    NE("ProtectProc", S_EXEC),
    NE("ProcSubset", S_EXEC),
    NE("PrivateTmp", S_EXEC),
    NE("PrivateDevices", S_EXEC),
    NE("PrivateNetwork", S_EXEC),
    NE("PrivateUsers", S_EXEC),
    NE("PrivateIPC", S_EXEC),
    NE("PrivateMounts", S_EXEC),
    NE("RestrictAddressFamilies", S_EXEC),
    NE("RestrictNamespaces", S_EXEC),
    NE("RestrictRealtime", S_EXEC),
    NE("RestrictSUIDSGID", S_EXEC),
    NE("RestrictFileSystems", S_EXEC),
    NE("RestrictNetworkInterfaces", S_EXEC),
    NE("SystemCallFilter", S_EXEC),
    NE("SystemCallArchitectures", S_EXEC),
    NE("SystemCallErrorNumber", S_EXEC),
    NE("SystemCallLog", S_EXEC),
    NE("ReadWritePaths", S_EXEC),
    NE("ReadOnlyPaths", S_EXEC),
    NE("InaccessiblePaths", S_EXEC),
    NE("ExecPaths", S_EXEC),
    NE("NoExecPaths", S_EXEC),
    NE("ReadWriteDirectories", S_EXEC),
    NE("ReadOnlyDirectories", S_EXEC),
    NE("InaccessibleDirectories", S_EXEC),
    NE("TemporaryFileSystem", S_EXEC),
    NE("BindPaths", S_EXEC),
    NE("BindReadOnlyPaths", S_EXEC),
    NE("DeviceAllow", S_EXEC),
    NE("DevicePolicy", S_EXEC),
    NE("IPAddressAllow", S_EXEC),
    NE("IPAddressDeny", S_EXEC),
    NE("IPAccounting", S_EXEC),
    NE("IPIngressFilterPath", S_EXEC),
    NE("IPEgressFilterPath", S_EXEC),
    NE("LockPersonality", S_EXEC),
    NE("MemoryDenyWriteExecute", S_EXEC),
    NE("RemoveIPC", S_EXEC),
    NE("KeyringMode", S_EXEC),
    NE("NetworkNamespacePath", S_EXEC),
    NE("IPCNamespacePath", S_EXEC),
    NE("MountFlags", S_EXEC),
    NE("SecureBits", S_EXEC),
    NE("SELinuxContext", S_EXEC),
    NE("AppArmorProfile", S_EXEC),
    NE("SmackProcessLabel", S_EXEC),
    NE("PAMName", S_EXEC),
    NE("UtmpIdentifier", S_EXEC),
    NE("UtmpMode", S_EXEC),
    NE("TTYReset", S_EXEC),
    NE("TTYVHangup", S_EXEC),
    NE("TTYVTDisallocate", S_EXEC),
    NE("TTYRows", S_EXEC),
    NE("TTYColumns", S_EXEC),
    NE("CPUAffinity", S_EXEC),
    NE("NUMAPolicy", S_EXEC),
    NE("NUMAMask", S_EXEC),
    NE("Personality", S_EXEC),
    NE("LogLevelMax", S_EXEC),
    NE("LogExtraFields", S_EXEC),
    NE("LogRateLimitIntervalSec", S_EXEC),
    NE("LogRateLimitBurst", S_EXEC),
    NE("LogNamespace", S_EXEC),
    NE("LogFilterPatterns", S_EXEC),
    NE("SyslogFacility", S_EXEC),
    NE("SyslogLevel", S_EXEC),
    NE("SyslogLevelPrefix", S_EXEC),
    NE("TimerSlackNSec", S_EXEC),
    NE("CoredumpFilter", S_EXEC),
    NE("LoadCredential", S_EXEC),
    NE("LoadCredentialEncrypted", S_EXEC),
    NE("SetCredential", S_EXEC),
    NE("SetCredentialEncrypted", S_EXEC),
    NE("ImportCredential", S_EXEC),
    NE("RootImage", S_EXEC),
    NE("RootImageOptions", S_EXEC),
    NE("RootHash", S_EXEC),
    NE("RootHashSignature", S_EXEC),
    NE("RootVerity", S_EXEC),
    NE("MountImages", S_EXEC),
    NE("ExtensionImages", S_EXEC),
    NE("ExtensionDirectories", S_EXEC),
    NE("MountAPIVFS", S_EXEC),
    NE("CoredumpReceive", S_EXEC),
    NE("MemoryKSM", S_EXEC),
    NE("Slice", S_EXEC),
    NE("Delegate", S_EXEC),
    NE("DelegateSubgroup", S_EXEC),
    NE("CPUAccounting", S_EXEC),
    NE("CPUWeight", S_EXEC),
    NE("StartupCPUWeight", S_EXEC),
    NE("CPUShares", S_EXEC),
    NE("StartupCPUShares", S_EXEC),
    NE("CPUQuota", S_EXEC),
    NE("CPUQuotaPeriodSec", S_EXEC),
    NE("AllowedCPUs", S_EXEC),
    NE("StartupAllowedCPUs", S_EXEC),
    NE("AllowedMemoryNodes", S_EXEC),
    NE("MemoryAccounting", S_EXEC),
    NE("MemoryMin", S_EXEC),
    NE("MemoryLow", S_EXEC),
    NE("MemoryHigh", S_EXEC),
    NE("MemoryMax", S_EXEC),
    NE("MemorySwapMax", S_EXEC),
    NE("MemoryZSwapMax", S_EXEC),
    NE("MemoryLimit", S_EXEC),
    NE("TasksAccounting", S_EXEC),
    NE("TasksMax", S_EXEC),
    NE("IOAccounting", S_EXEC),
    NE("IOWeight", S_EXEC),
    NE("StartupIOWeight", S_EXEC),
    NE("IODeviceWeight", S_EXEC),
    NE("IOReadBandwidthMax", S_EXEC),
    NE("IOWriteBandwidthMax", S_EXEC),
    NE("IOReadIOPSMax", S_EXEC),
    NE("IOWriteIOPSMax", S_EXEC),
    NE("IODeviceLatencyTargetSec", S_EXEC),
    NE("BlockIOAccounting", S_EXEC),
    NE("BlockIOWeight", S_EXEC),
    NE("BlockIODeviceWeight", S_EXEC),
    NE("BlockIOReadBandwidth", S_EXEC),
    NE("BlockIOWriteBandwidth", S_EXEC),
    NE("ManagedOOMSwap", S_EXEC),
    NE("ManagedOOMMemoryPressure", S_EXEC),
    NE("ManagedOOMMemoryPressureLimit", S_EXEC),
    NE("ManagedOOMPreference", S_EXEC),
    NE("DisableControllers", S_EXEC),
    NE("SocketBindAllow", S_EXEC),
    NE("SocketBindDeny", S_EXEC),
    NE("BPFProgram", S_EXEC),
    NE("DefaultMemoryMin", S_EXEC),
    NE("DefaultMemoryLow", S_EXEC),
    NE("MemoryPressureWatch", S_EXEC),
    NE("MemoryPressureThresholdSec", S_EXEC),
    NE("NFTSet", S_EXEC),

    /* [Socket] */
    {"ListenStream", S_SOCKET, h_listen, 0, PK_UNIT_LISTEN_STREAM},
    {"ListenDatagram", S_SOCKET, h_listen, 0, PK_UNIT_LISTEN_DATAGRAM},
    {"ListenSequentialPacket", S_SOCKET, h_listen, 0, PK_UNIT_LISTEN_SEQPACKET},
    {"ListenFIFO", S_SOCKET, h_listen, 0, PK_UNIT_LISTEN_FIFO},
    {"Accept", S_SOCKET, h_bool, SK(accept), 0},
    {"FileDescriptorName", S_SOCKET, h_fdname, SK(fd_name), 0},
    {"SocketUser", S_SOCKET, h_user, SK(user), 0},
    {"SocketGroup", S_SOCKET, h_user, SK(group), 0},
    {"SocketMode", S_SOCKET, h_mode, SK(mode), 0},
    {"DirectoryMode", S_SOCKET, h_mode, SK(directory_mode), 0},
    {"Service", S_SOCKET, h_unit_name, SK(service), 0},
    {"Backlog", S_SOCKET, h_uint, SK(backlog), 0},
    {"BindIPv6Only", S_SOCKET, h_enum, SK(bind_ipv6_only), 7},
    {"ReusePort", S_SOCKET, h_bool, SK(reuse_port), 0},
    {"FreeBind", S_SOCKET, h_bool, SK(free_bind), 0},
    {"KeepAlive", S_SOCKET, h_bool, SK(keep_alive), 0},
    {"NoDelay", S_SOCKET, h_bool, SK(no_delay), 0},
    {"PassCredentials", S_SOCKET, h_bool, SK(pass_credentials), 0},
    {"RemoveOnStop", S_SOCKET, h_bool, SK(remove_on_stop), 0},
    {"Writable", S_SOCKET, h_bool, SK(writable), 0},
    {"ReceiveBuffer", S_SOCKET, h_size, SK(receive_buffer), 0},
    {"SendBuffer", S_SOCKET, h_size, SK(send_buffer), 0},
    {"MaxConnections", S_SOCKET, h_uint, SK(max_connections), 0},
    {"Symlinks", S_SOCKET, h_strv, SK(symlinks), 2},
    {"BindToDevice", S_SOCKET, h_string, SK(bind_to_device), 0},
    {"SocketProtocol", S_SOCKET, h_socket_protocol, 0, 0},
    {"ExecStartPre", S_SOCKET, h_exec, SK(exec_start_pre), 0},
    {"ExecStartPost", S_SOCKET, h_exec, SK(exec_start_post), 0},
    {"ExecStopPre", S_SOCKET, h_exec, SK(exec_stop_pre), 0},
    {"ExecStopPost", S_SOCKET, h_exec, SK(exec_stop_post), 0},
    NE("ListenSpecial", S_SOCKET),
    NE("ListenNetlink", S_SOCKET),
    NE("ListenMessageQueue", S_SOCKET),
    NE("ListenUSBFunction", S_SOCKET),
    NE("MaxConnectionsPerSource", S_SOCKET),
    NE("KeepAliveTimeSec", S_SOCKET),
    NE("KeepAliveIntervalSec", S_SOCKET),
    NE("KeepAliveProbes", S_SOCKET),
    NE("Priority", S_SOCKET),
    NE("DeferAcceptSec", S_SOCKET),
    NE("PassSecurity", S_SOCKET),
    NE("PassPacketInfo", S_SOCKET),
    NE("Timestamping", S_SOCKET),
    NE("IPTOS", S_SOCKET),
    NE("IPTTL", S_SOCKET),
    NE("Mark", S_SOCKET),
    NE("PipeSize", S_SOCKET),
    NE("MessageQueueMaxMessages", S_SOCKET),
    NE("MessageQueueMessageSize", S_SOCKET),
    NE("Broadcast", S_SOCKET),
    NE("SmackLabel", S_SOCKET),
    NE("SmackLabelIPIn", S_SOCKET),
    NE("SmackLabelIPOut", S_SOCKET),
    NE("SELinuxContextFromNet", S_SOCKET),
    NE("TCPCongestion", S_SOCKET),
    NE("TimeoutSec", S_SOCKET),
    NE("TriggerLimitIntervalSec", S_SOCKET),
    NE("TriggerLimitBurst", S_SOCKET),
    NE("FlushPending", S_SOCKET),
    NE("PollLimitIntervalSec", S_SOCKET),
    NE("PollLimitBurst", S_SOCKET),

    /* [Install] */
    {"WantedBy", S_INSTALL, h_strv, IN(wanted_by), 1},
    {"RequiredBy", S_INSTALL, h_strv, IN(required_by), 1},
    {"UpheldBy", S_INSTALL, h_strv, IN(upheld_by), 1},
    {"Alias", S_INSTALL, h_strv, IN(alias), 1},
    {"Also", S_INSTALL, h_strv, IN(also), 1},
    {"DefaultInstance", S_INSTALL, h_string, IN(default_instance), 0},
};

void pk__unit_defaults(struct pk_unit *u)
{
        u->default_dependencies = true;
        u->start_limit_interval_ms = 10000;
        u->start_limit_burst = 5;
        struct pk_unit_service *s = &u->service;
        s->guess_main_pid = true;
        s->restart_ms = 100;
        s->restart_max_delay_ms = PK_UNIT_INFINITY;
        s->timeout_start_ms = 90000;
        s->timeout_stop_ms = 90000;
        s->timeout_abort_ms = 90000;
        s->runtime_max_ms = PK_UNIT_INFINITY;
        struct pk_unit_exec_ctx *x = &u->exec;
        x->umask = 0022;
        x->io_class = -1;
        x->io_priority = -1;
        x->cpu_policy = -1;
        x->cpu_priority = -1;
        x->ignore_sigpipe = true;
        for (int i = 0; i < PK_UNIT_DIR_COUNT; i++)
                x->dirs[i].mode = 0755;
        x->std_input.kind = PK_UNIT_STDIO_NULL;
        u->service.fd_store_preserve = 2; /* restart, systemd's default */
        x->std_output.kind = PK_UNIT_STDIO_JOURNAL;
        x->std_error.kind = PK_UNIT_STDIO_INHERIT;
        u->kill.mode = PK_UNIT_KILL_CONTROL_GROUP;
        u->kill.signal = SIGTERM;
        u->kill.restart_signal = SIGTERM;
        u->kill.final_signal = SIGKILL;
        u->kill.watchdog_signal = SIGABRT;
        u->kill.send_sigkill = true;
        u->socket.mode = 0666;
        u->socket.directory_mode = 0755;
        u->socket.backlog = 4096;
        u->socket.max_connections = 64;
}

/* Sections of other unit types: their keys are recorded as not enforced. */
static const char *const other_sections[] = {"Timer", "Path",  "Mount", "Automount",
                                             "Swap",  "Slice", "Scope"};

int pk__unit_assign(struct pctx *c, const char *section, const char *key, char *value)
{
        struct unit_priv *p = c->p;
        c->key = key;
        unsigned int sec = 0;
        if (strcmp(section, "Unit") == 0)
                sec = S_UNIT;
        else if (strcmp(section, "Install") == 0)
                sec = S_INSTALL;
        else if (strcmp(section, "Service") == 0 && p->pub.kind == PK_UNIT_KIND_SERVICE)
                sec = S_SERVICE;
        else if (strcmp(section, "Socket") == 0 && p->pub.kind == PK_UNIT_KIND_SOCKET)
                sec = S_SOCKET;
        if (strncmp(section, "X-", 2) == 0 || strncmp(key, "X-", 2) == 0)
                return pk__unit_note(c, false, key, value, "extension (X-) key, ignored");
        if (!sec) {
                for (size_t i = 0; i < PK_ARRAY_SIZE(other_sections); i++)
                        if (strcmp(section, other_sections[i]) == 0 &&
                            strcasecmp(p->suffix, section) == 0)
                                return pk__unit_note(c, false, key, value,
                                                     "unit type not run by portkit");
                if (c->o->flags & PK_UNIT_STRICT)
                        return pk__unit_fail(c, PK_EUNITKEY,
                                             "unknown section [%.60s] for a .%s unit", section,
                                             p->suffix);
                return pk__unit_note(c, true, key, value, "unknown section for this unit type");
        }
        const struct keydef *k = NULL;
        for (size_t i = 0; i < PK_ARRAY_SIZE(keys); i++)
                if ((keys[i].sections & sec) && strcmp(keys[i].name, key) == 0) {
                        k = &keys[i];
                        break;
                }
        if (!k && sec == S_UNIT &&
            (strncmp(key, "Condition", 9) == 0 || strncmp(key, "Assert", 6) == 0)) {
                bool as = key[0] == 'A';
                const char *rest = key + (as ? 6 : 9);
                for (size_t i = 0; i < PK_ARRAY_SIZE(cond_names); i++)
                        if (strcmp(rest, cond_names[i].name) == 0) {
                                struct keydef ck = {key, S_UNIT, h_condition, 0,
                                                    (int)i + (as ? 1000 : 0)};
                                char *v;
                                int r = pk__unit_specifiers(c, value, &v);
                                if (r < 0)
                                        return r;
                                return h_condition(c, &ck, v);
                        }
        }
        if (!k) {
                if (c->o->flags & PK_UNIT_STRICT)
                        return pk__unit_fail(c, PK_EUNITKEY, "unknown key in [%.60s]", section);
                return pk__unit_note(c, true, key, value, "unknown key");
        }
        if (k->fn == h_not_enforced)
                return h_not_enforced(c, k, value);
        if (!*value && (k->fn == h_bool || k->fn == h_ms || k->fn == h_uint || k->fn == h_enum ||
                        k->fn == h_signal || k->fn == h_mode || k->fn == h_size)) {
                /* An empty assignment restores the scalar's default. */
                struct pk_unit def;
                memset(&def, 0, sizeof(def));
                pk__unit_defaults(&def);
                size_t sz = k->fn == h_bool                      ? sizeof(bool)
                            : (k->fn == h_ms || k->fn == h_size) ? sizeof(uint64_t)
                                                                 : sizeof(int);
                memcpy((char *)&p->pub + k->off, (const char *)&def + k->off, sz);
                if (k->off == U(service.type))
                        p->type_set = false;
                else if (k->off == U(service.notify_access))
                        p->notify_access_set = false;
                else if (k->off == U(kill.restart_signal))
                        p->restart_signal_set = false;
                else if (k->off == U(service.timeout_start_ms))
                        p->timeout_start_set = false;
                return 0;
        }
        if (k->fn == h_strv || k->fn == h_groups || k->fn == h_env || k->fn == h_caps ||
            k->fn == h_dirs || k->fn == h_status || k->fn == h_exec || k->fn == h_input ||
            k->fn == h_search_path) {
                /* Word lists (specifiers resolved word by word) and the keys that
                 * resolve them themselves, or never (StandardInputData=). */
                char *raw = ua_strdup(A(c), value);
                return raw ? k->fn(c, k, raw) : -ENOMEM;
        }
        char *v;
        int r = pk__unit_specifiers(c, value, &v);
        if (r < 0)
                return r;
        return k->fn(c, k, v);
}

/* ---- finish --------------------------------------------------------------- */

int pk_unit_finish(struct pk_unit *u, struct pk_unit_error *reterr)
{
        if (!u)
                return -EINVAL;
        struct unit_priv *p = unit_priv(u);
        const char *file = u->fragment_path ? u->fragment_path : "";
        struct pk_unit_service *s = &u->service;
        if (!p->restart_signal_set)
                u->kill.restart_signal = u->kill.signal;
        if (!p->timeout_abort_set)
                s->timeout_abort_ms = s->timeout_stop_ms;
        if (u->kind == PK_UNIT_KIND_SERVICE) {
                if (!p->type_set) {
                        if (s->bus_name)
                                s->type = PK_UNIT_TYPE_DBUS;
                        else if (s->exec_start.n)
                                s->type = PK_UNIT_TYPE_SIMPLE;
                        else
                                s->type = PK_UNIT_TYPE_ONESHOT;
                }
                /* StandardInputText=/Data= make data the input unless another
                 * kind was chosen (null is the default: systemd cannot tell it
                 * from an explicit null either). */
                if (u->exec.std_input.kind == PK_UNIT_STDIO_NULL && u->exec.input_data_len)
                        u->exec.std_input.kind = PK_UNIT_STDIO_DATA;
                if (!p->notify_access_set && s->type == PK_UNIT_TYPE_NOTIFY)
                        s->notify_access = PK_UNIT_NOTIFY_MAIN;
                if (s->type == PK_UNIT_TYPE_ONESHOT) {
                        /* oneshot services have no start timeout unless given one. */
                        if (!p->timeout_start_set)
                                s->timeout_start_ms = PK_UNIT_INFINITY;
                        if (!s->exec_start.n && !s->exec_stop.n && !p->success_action) {
                                pk__unit_err_set(reterr, file, 0, "ExecStart", PK_EUNITVALUE,
                                                 "service has neither ExecStart=, ExecStop= nor "
                                                 "SuccessAction=");
                                return PK_EUNITVALUE;
                        }
                } else {
                        if (!s->exec_start.n) {
                                pk__unit_err_set(reterr, file, 0, "ExecStart", PK_EUNITVALUE,
                                                 "service has no ExecStart=, which only "
                                                 "Type=oneshot allows");
                                return PK_EUNITVALUE;
                        }
                        if (s->exec_start.n > 1) {
                                pk__unit_err_set(reterr, file, s->exec_start.v[1].line, "ExecStart",
                                                 PK_EUNITVALUE,
                                                 "more than one ExecStart= command, which only "
                                                 "Type=oneshot allows");
                                return PK_EUNITVALUE;
                        }
                }
                if (s->type == PK_UNIT_TYPE_ONESHOT && s->restart != PK_UNIT_RESTART_NO &&
                    s->restart != PK_UNIT_RESTART_ON_FAILURE &&
                    s->restart != PK_UNIT_RESTART_ON_ABNORMAL &&
                    s->restart != PK_UNIT_RESTART_ON_WATCHDOG &&
                    s->restart != PK_UNIT_RESTART_ON_ABORT) {
                        pk__unit_err_set(reterr, file, 0, "Restart", PK_EUNITVALUE,
                                         "Type=oneshot allows only Restart=no or on-failure-like "
                                         "policies");
                        return PK_EUNITVALUE;
                }
        }
        if (u->kind == PK_UNIT_KIND_SOCKET) {
                struct pk_unit_socket *so = &u->socket;
                if (!so->listen.n && !p->other_listen) {
                        pk__unit_err_set(reterr, file, 0, "ListenStream", PK_EUNITVALUE,
                                         "socket unit has no Listen*= setting");
                        return PK_EUNITVALUE;
                }
                if (!so->service) {
                        size_t l = strlen(p->prefix) + 10;
                        char *n = ua_alloc(&p->arena, l);
                        if (!n)
                                return -ENOMEM;
                        snprintf(n, l, "%s%s.service", p->prefix, so->accept ? "@" : "");
                        so->service = n;
                } else if (so->accept) {
                        pk__unit_err_set(reterr, file, 0, "Service", PK_EUNITVALUE,
                                         "Service= cannot be used with Accept=yes");
                        return PK_EUNITVALUE;
                }
                if (!so->fd_name) {
                        so->fd_name = u->name;
                }
        }
        return 0;
}
