/* SPDX-License-Identifier: MIT */
/* `portkit supervise`: loads systemd service units, runs them under one pk_sup
 * in reaper (PID 1 / subreaper) mode, and serves the control socket: {packet,4}
 * frames of ETF terms, SO_PEERCRED checked on every request, events pushed to
 * subscribers, every client bounded so none can stall the loop.  The daemon
 * runs ExecStartPost=/ExecReload=/ExecStop=/ExecStopPost= itself (they need
 * $MAINPID); the protocol is in docs/supervise.md. */
#include "cli.h"
#include "common/dynbuf.h"
#include "common/htab.h"
#include "supervise.h"
#include "supervise_socket.h"
#include "supervise_tmpfiles.h"

#include <portkit.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SV_MAX_DIRS 32

enum { HOOK_POST, HOOK_RELOAD, HOOK_STOP, HOOK_STOPPOST };
enum { STOP_STOP = 1, STOP_RESTART };

struct sv;

/* One loaded service. */
struct svc {
        char name[PK_SUP_ID_MAX + 1];
        struct pk_unit *u;
        struct pk_unit_child *ch;
        uint64_t hash;           /* of its files, for daemon-reload's diff */
        int in_sup;              /* added to the supervisor */
        int removing;            /* stop, then remove (daemon-reload) */
        struct svc *replacement; /* added once this one is removed */
        pid_t mainpid;
        /* A hook chain in progress (one at a time per service). */
        int hook; /* HOOK_* or -1 */
        size_t hook_idx;
        pid_t hook_pid;
        int hook_client; /* client id to answer when done, 0: none */
        int hook_failed;
        /* A stop or restart waiting for ExecStop= of this unit and of the units
         * PartOf= it (stop_for of each running chain points here). */
        int stop_verb;            /* STOP_* or 0 */
        struct svc *restart_with; /* PartOf= that unit, running when its restart began */
        unsigned stop_wait;       /* ExecStop= chains still running */
        int stop_client;          /* client id to answer when it is done, 0: none */
        struct svc *stop_for;     /* this unit's ExecStop= chain is part of that one's stop */
        int stoppost_pending;     /* the main process ended while a chain ran: ExecStopPost= next */
        /* A stop the supervisor makes (shutdown, group restart, dependency...)
         * holds for ExecStop= and ExecStopPost= (its stop hook, sv_stop_hook). */
        int stop_ran;   /* ExecStop= ran for this run of the main process (RUNNING clears it) */
        int sup_wait;   /* the PK_SUP_HOOK_* phase sup's stop waits in for us, 0: none */
        int for_sup;    /* the phase the chain that runs was started for: its end continues it */
        int sup_queued; /* HOOK_STOP/HOOK_STOPPOST + 1: such a chain, after the one that runs */
        /* Each hook command's timeout (TimeoutStartSec= for ExecStartPost=
         * and ExecReload=, TimeoutStopSec= for ExecStop= and ExecStopPost=). */
        struct pk_loop_timer hook_timer;
        int hook_timed_out;
        pid_t hook_pgid;    /* the command's own process group, 0 if none */
        int on_demand;      /* loaded by a start request, not by the configuration */
        struct pk_sup *sup; /* a tree file's supervisor it belongs to; NULL: the top one */
        int sup_gone;       /* that supervisor was removed (daemon-reload), its child with it */
        size_t ls_slot;     /* its index in the load_set that loaded it */
};

/* The supervisor a service is a child of. */
#define SUP_OF(sv, s) ((s)->sup ? (s)->sup : (sv)->sup)

struct client {
        int id;
        int fd;
        struct pk_loop_io io;
        struct pk_fd_cred cred;
        int control; /* may change things */
        struct pk_deframer *df;
        struct pk__dynbuf out; /* frames not yet sent, from out_off; capped at PK_SV_MAX_QUEUE */
        size_t out_off;
        int watch;
        int dead;       /* dropped: closed, unlinked, freed on the next loop pass */
        int want_write; /* the watcher asks for PK_LOOP_WRITE (the socket was full) */
        int dirty;      /* on sv->dirty: frames queued since the last flush */
        struct client *dirty_next;
        struct sv *sv;
        struct client *next;
};

struct sv {
        struct pk_loop *loop;
        struct pk_sup *sup;
        struct svc **svcs; /* n of cap, at most PK_SV_MAX_UNITS */
        size_t n, cap;
        struct pk__htab by_name; /* svcs by name (svc_named()) */
        /* configuration */
        char **configs;
        int nconfigs;
        const char *unit_path[SV_MAX_DIRS];
        int n_unit_path;
        const char *log_dir;
        const char *control;
        const char *config_dir;    /* where `enable` makes its links */
        struct pk_cgroup *inst_cg; /* this instance's cgroup, the services' parent */
        int strict;
        int cgroup;                /* enum pk_sup_cgroup_mode */
        int reclaim;               /* --reclaim=auto: 1 */
        int tmpfiles;              /* SV_TMPFILES_* */
        const char *tmpfiles_root; /* --tmpfiles-root, or NULL */
        gid_t ctl_gid;
        int have_gid;
        char self_exe[4096];
        /* control socket */
        struct pk_fd_unix_listener lis;
        struct pk_loop_io lio;
        struct client *clients;
        struct client *graveyard; /* dropped clients, freed by `reap` */
        struct pk_loop_defer reap;
        /* Clients with queued frames, written once per loop pass by `flush`
         * (an event to W watchers: W queue appends, then one send() each). */
        struct client *dirty;
        struct pk_loop_defer flush;
        int nclients;
        int next_client_id;
        int shutting_down;
        struct sk_set *sk; /* socket units (supervise_socket.c) */
        /* tree files: what each says (indexed as configs; NULL: not a tree), the
         * environment they are built with, and a reload's pending worker changes */
        struct pk_sv_tree **trees;
        struct pk_sv_tree_env tenv;
        struct tree_op *tree_ops;
        size_t n_tree_ops;
        struct reload_report *rep; /* during a daemon-reload: what it did */
};

/* A tree child a daemon-reload stops, then removes, then adds anew (a worker
 * with its new spec) or builds again from its file (a supervisor). */
struct tree_op {
        struct pk_sup *sup; /* its parent */
        char id[PK_SUP_ID_MAX + 1];
        char parent[PK_SV_TREE_PATH];  /* its parent's path, for the order */
        size_t config;                 /* the tree file's index in configs */
        int kind;                      /* PK_SV_TREE_WORKER or PK_SV_TREE_SUP */
        int rebuild;                   /* a supervisor: built again from the file */
        struct pk_sup_child_spec spec; /* a worker's replace: the new one (id set at use) */
        struct pk_cmd *cmd;            /* a worker's replace: the new command, owned */
};

/* The daemon's own events go to stderr, one line each, with a UTC time: one
 * write a line (stderr is unbuffered: fprintf made three), the time formatted
 * once a second (a thousand units starting log thousands of lines). */
void logf_(const char *fmt, ...)
{
        static time_t last = (time_t)-1;
        static char ts[32];
        time_t t = time(NULL);
        if (t != last) {
                struct tm tm;
                gmtime_r(&t, &tm);
                strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
                last = t;
        }
        char line[2048];
        int n = snprintf(line, sizeof(line), "%s portkit supervise: ", ts);
        va_list ap;
        va_start(ap, fmt);
        /* the analyzer flags an extern variadic function analysed on its own */
        // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized)
        int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
        va_end(ap);
        if (m < 0)
                return;
        if ((size_t)n + (size_t)m + 1 < sizeof(line)) {
                line[n + m] = '\n';
                (void)pk_fd_write_all(2, line, (size_t)n + (size_t)m + 1, NULL);
                return;
        }
        /* longer than the buffer: written as it comes */
        line[n] = '\0';
        fputs(line, stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized)
        va_end(ap);
        fputc('\n', stderr);
}

/* ---- loading units ------------------------------------------------------------------- */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
        const unsigned char *b = p;
        for (size_t i = 0; i < n; i++)
                h = (h ^ b[i]) * 0x100000001b3ull;
        return h;
}

uint64_t hash_file(uint64_t h, const char *path)
{
        if (!path)
                return h;
        h = fnv(h, path, strlen(path) + 1);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return fnv(h, "?", 1);
        char buf[8192];
        ssize_t r;
        while ((r = read(fd, buf, sizeof(buf))) > 0)
                h = fnv(h, buf, (size_t)r);
        close(fd);
        return h;
}

static struct svc *svc_free(struct svc *s)
{
        if (!s)
                return NULL;
        pk_loop_timer_stop(&s->hook_timer);
        pk_unit_child_free(s->ch);
        pk_unit_free(s->u);
        svc_free(s->replacement);
        free(s);
        return NULL;
}

/* Services loaded together (at start, by daemon-reload, on demand). */
struct load_set {
        struct svc **v; /* n of cap */
        size_t n, cap;
        struct pk__htab by_name; /* v by name: loading stays linear in the units */
};

/* Frees every service left in the set and the set's array. */
static void load_set_clear(struct load_set *ls)
{
        for (size_t i = 0; i < ls->n; i++)
                ls->v[i] = svc_free(ls->v[i]);
        free(ls->v);
        pk__htab_free(&ls->by_name);
        *ls = (struct load_set){0};
}

static bool svc_match(const void *v, const void *key)
{
        return strcmp(((const struct svc *)v)->name, key) == 0;
}

/* The service called @name in the index @t (sv->by_name, a load_set's), or NULL. */
static struct svc *svc_named(const struct pk__htab *t, const char *name)
{
        return pk__htab_get(t, pk__hash_str(name), svc_match, name);
}

/* Appends @s to sv->svcs and its index: 0, -E2BIG past PK_SV_MAX_UNITS, -ENOMEM. */
static int svc_push(struct sv *sv, struct svc *s)
{
        if (sv->n >= PK_SV_MAX_UNITS)
                return -E2BIG;
        if (pk__array_grow((void **)&sv->svcs, &sv->cap, sv->n + 1, sizeof(struct svc *), 64) < 0 ||
            pk__htab_put(&sv->by_name, pk__hash_str(s->name), s) < 0)
                return -ENOMEM;
        sv->svcs[sv->n++] = s;
        return 0;
}

static int ends_with(const char *s, const char *suf)
{
        size_t a = strlen(s), b = strlen(suf);
        return a >= b && strcmp(s + a - b, suf) == 0;
}

/* The host's specifier values, probed once. */
static const struct pk_unit_host *unit_host(void)
{
        static struct pk_unit_host host;
        static char hostbuf[4096];
        static int probed;
        if (!probed) {
                (void)pk_unit_host_probe(&host, hostbuf, sizeof(hostbuf));
                probed = 1;
        }
        return &host;
}

/* Appends @d to dirs[0..nd) unless it is there already (`--unit-path D D`
 * names D twice: each unit's file and drop-in directories were looked up in
 * it twice); returns the new count. */
static size_t add_dir(const char **dirs, size_t nd, const char *d)
{
        for (size_t i = 0; i < nd; i++)
                if (strcmp(dirs[i], d) == 0)
                        return nd;
        dirs[nd] = d;
        return nd + 1;
}

/* The search path for enable / is-enabled / loading on demand: the CONFIG
 * directories, then --unit-path or systemd's directories. */
static void search_dirs(struct sv *sv, const char **dirs, size_t max)
{
        size_t nd = 0;
        for (int i = 0; i < sv->nconfigs && nd + 1 < max; i++) {
                struct stat st;
                if (strchr(sv->configs[i], '/') && stat(sv->configs[i], &st) == 0 &&
                    S_ISDIR(st.st_mode))
                        nd = add_dir(dirs, nd, sv->configs[i]);
        }
        for (int i = 0; i < sv->n_unit_path && nd + 1 < max; i++)
                nd = add_dir(dirs, nd, sv->unit_path[i]);
        static const char *const sys[] = {"/etc/systemd/system", "/run/systemd/system",
                                          "/lib/systemd/system", "/usr/lib/systemd/system"};
        for (size_t i = 0; sv->n_unit_path == 0 && i < 4 && nd + 1 < max; i++)
                dirs[nd++] = sys[i];
        dirs[nd] = NULL;
}

/* ---- descriptors: the soft RLIMIT_NOFILE ---------------------------------------------- */

/* The soft and hard RLIMIT_NOFILE supervise started with; nofile_raised once
 * its own soft limit went up to the hard one (raise_nofile). */
static struct rlimit nofile_start;
static int nofile_raised;

/* As systemd does for itself: the soft limit up to the hard one, so that many
 * units and clients fit (each client is a descriptor, each unit several). */
static void raise_nofile(void)
{
        if (getrlimit(RLIMIT_NOFILE, &nofile_start) < 0 ||
            nofile_start.rlim_cur >= nofile_start.rlim_max)
                return;
        struct rlimit up = {nofile_start.rlim_max, nofile_start.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &up) == 0)
                nofile_raised = 1;
}

static uint64_t unit_limit(rlim_t v)
{
        return v == RLIM_INFINITY ? PK_UNIT_INFINITY : (uint64_t)v;
}

void pk_sv_unit_defaults(struct pk_unit *u)
{
        struct pk_unit_rlimit *l = &u->exec.limits[RLIMIT_NOFILE];
        if (!nofile_raised || l->set)
                return;
        l->set = true;
        l->soft = unit_limit(nofile_start.rlim_cur);
        l->hard = unit_limit(nofile_start.rlim_max);
}

/* Loads one unit by name with the search path `dirs`. */
static int load_one(struct sv *sv, const char *name, const char *const *dirs, struct load_set *ls,
                    char *err, size_t errsz)
{
        if (svc_named(&ls->by_name, name))
                return 0;
        if (ls->n >= PK_SV_MAX_UNITS) {
                snprintf(err, errsz, "%s: more than %d units (the limit)", name, PK_SV_MAX_UNITS);
                return -E2BIG;
        }
        if (pk__array_grow((void **)&ls->v, &ls->cap, ls->n + 1, sizeof(struct svc *), 64) < 0 ||
            pk__htab_reserve(&ls->by_name, 1) < 0) {
                snprintf(err, errsz, "%s: %s", name, pk_strerror(-ENOMEM));
                return -ENOMEM;
        }
        struct pk_unit_opts uo = {
            .flags = sv->strict ? PK_UNIT_STRICT : 0, .dirs = dirs, .host = unit_host()};
        struct pk_unit_error ue = {0};
        struct pk_unit *u = NULL;
        int r = pk_unit_load(name, &uo, &u, &ue);
        if (r < 0) {
                if (ue.file[0])
                        snprintf(err, errsz, "%s:%u: %s%s%s", ue.file, ue.line, ue.key,
                                 ue.key[0] ? ": " : "",
                                 ue.message[0] ? ue.message : pk_strerror(r));
                else
                        snprintf(err, errsz, "%s: %s", name, pk_strerror(r));
                return r;
        }
        pk_sv_unit_defaults(u);
        if (u->kind == PK_UNIT_KIND_SOCKET) {
                /* its sockets are made now; then the service it activates is loaded */
                const char *svc = NULL;
                r = sk_add(sv->sk, u, dirs, &svc, err, errsz);
                return r < 0 || !svc ? r : load_one(sv, svc, dirs, ls, err, errsz);
        }
        if (u->kind != PK_UNIT_KIND_SERVICE) {
                pk_unit_free(u);
                return 0; /* targets: only services and sockets are run */
        }
        if ((r = sk_check_service(u, err, errsz)) < 0) {
                pk_unit_free(u);
                return r;
        }
        const char *helper[] = {sv->self_exe, "unit-exec", NULL};
        extern char **environ;
        struct pk_unit_child_opts co = {.helper = helper,
                                        .log_dir = sv->log_dir,
                                        .manager_env = (const char *const *)environ,
                                        .dir_root = getenv("PORTKIT_DIR_ROOT"),
                                        .create_dirs = 1};
        struct pk_unit_child *ch = NULL;
        r = pk_unit_to_child(u, &co, &ch, &ue);
        if (r < 0) {
                snprintf(err, errsz, "%s:%u: %s%s%s", ue.file[0] ? ue.file : name, ue.line, ue.key,
                         ue.key[0] ? ": " : "", ue.message[0] ? ue.message : pk_strerror(r));
                pk_unit_free(u);
                return r;
        }
        struct svc *s = calloc(1, sizeof(*s));
        if (!s) {
                pk_unit_child_free(ch);
                pk_unit_free(u);
                return -ENOMEM;
        }
        snprintf(s->name, sizeof(s->name), "%s", u->name);
        s->u = u;
        s->ch = ch;
        s->hook = -1;
        uint64_t h = 0xcbf29ce484222325ull;
        h = hash_file(h, u->fragment_path);
        for (size_t i = 0; i < u->dropin_paths.n; i++)
                h = hash_file(h, u->dropin_paths.v[i]);
        s->hash = h;
        s->ls_slot = ls->n;
        ls->v[ls->n++] = s;
        (void)pk__htab_put(&ls->by_name, pk__hash_str(s->name), s); /* reserved above */
        /* Pull in what it requires or wants, as systemd does. */
        const struct pk_unit_strv *pulls[] = {&u->deps.requires_units, &u->deps.wants,
                                              &u->deps.binds_to};
        for (size_t k = 0; k < 3; k++)
                for (size_t i = 0; i < pulls[k]->n; i++) {
                        if (!ends_with(pulls[k]->v[i], ".service"))
                                continue;
                        char sub[512];
                        r = load_one(sv, pulls[k]->v[i], dirs, ls, sub, sizeof(sub));
                        if (r == -ENOENT && k == 1)
                                continue; /* a wanted unit may be absent */
                        if (r < 0) {
                                snprintf(err, errsz, "%s (pulled in by %s)", sub, s->name);
                                return r;
                        }
                }
        return 0;
}

/* The message for pk_sv_names_add's or pk_sv_target_services's error @r. */
static void names_error(char *err, size_t errsz, const char *where, int r)
{
        if (r == -E2BIG)
                snprintf(err, errsz, "%s: more than %d units (the limit)", where, PK_SV_MAX_UNITS);
        else
                snprintf(err, errsz, "%s: %s", where, pk_strerror(r));
}

/* Loads every CONFIG: unit names, unit files, or directories of them.  All or nothing. */
static int load_all(struct sv *sv, struct load_set *ls, char *err, size_t errsz)
{
        const char *dirs[SV_MAX_DIRS * 2 + 8];
        size_t nd = 0;
        char *owned[SV_MAX_DIRS * 2];
        size_t no = 0;
        struct pk_sv_names names = {0};
        int r = 0, failed = 0; /* failed: err is set */
        const char *last = "";
        for (int i = 0; i < sv->nconfigs && r == 0; i++) {
                const char *c = sv->configs[i];
                last = c;
                struct stat st;
                if (ends_with(c, ".tree"))
                        continue; /* tree files: supervise_tree.c (at start; reload: trees_read) */
                int isdir = strchr(c, '/') && stat(c, &st) == 0 && S_ISDIR(st.st_mode);
                if ((isdir || strchr(c, '/')) && nd >= SV_MAX_DIRS) {
                        snprintf(err, errsz, "%s: more than %d directories (the limit)", c,
                                 SV_MAX_DIRS);
                        r = -E2BIG;
                        failed = 1;
                        break;
                }
                if (isdir) {
                        nd = add_dir(dirs, nd, c);
                        if (pk_sv_is_config_dir(c)) {
                                /* An enabled set: what default.target wants, not every unit. */
                                r = pk_sv_names_add(&names, "default.target");
                                continue;
                        }
                        DIR *d = opendir(c);
                        if (!d) {
                                snprintf(err, errsz, "%s: %s", c, strerror(errno));
                                r = -errno;
                                failed = 1;
                                break;
                        }
                        struct dirent *de;
                        while (r == 0 && (de = readdir(d)))
                                if ((ends_with(de->d_name, ".service") ||
                                     ends_with(de->d_name, ".socket")) &&
                                    !strchr(de->d_name, '@'))
                                        r = pk_sv_names_add(&names, de->d_name);
                        closedir(d);
                } else if (strchr(c, '/')) {
                        char *dup = strdup(c);
                        if (!dup) {
                                r = -ENOMEM;
                                break;
                        }
                        char *slash = strrchr(dup, '/');
                        *slash = '\0';
                        owned[no++] = dup;
                        nd = add_dir(dirs, nd, dup[0] ? dup : "/");
                        r = pk_sv_names_add(&names, slash + 1);
                } else {
                        r = pk_sv_names_add(&names, c);
                }
        }
        if (r < 0 && !failed)
                names_error(err, errsz, last, r);
        for (int i = 0; i < sv->n_unit_path; i++)
                nd = add_dir(dirs, nd, sv->unit_path[i]);
        if (sv->n_unit_path == 0) {
                dirs[nd++] = "/etc/systemd/system";
                dirs[nd++] = "/run/systemd/system";
                dirs[nd++] = "/lib/systemd/system";
                dirs[nd++] = "/usr/lib/systemd/system";
        }
        dirs[nd] = NULL;
        /* Targets stand for the services they pull in (appended to names). */
        for (size_t i = 0; i < names.n && r == 0; i++) {
                if (!ends_with(names.v[i], ".target"))
                        continue;
                struct pk_unit_opts uo = {.dirs = dirs, .host = unit_host()};
                char target[256];
                snprintf(target, sizeof(target), "%s", names.v[i]);
                r = pk_sv_target_services(target, &uo, &names);
                if (r < 0)
                        names_error(err, errsz, target, r);
        }
        for (size_t i = 0; i < names.n && r == 0; i++)
                if (!ends_with(names.v[i], ".target"))
                        r = load_one(sv, names.v[i], dirs, ls, err, errsz);
        for (size_t i = 0; i < no; i++)
                free(owned[i]);
        pk_sv_names_free(&names);
        if (r < 0)
                load_set_clear(ls);
        return r;
}

static void report_notes(const struct svc *s)
{
        for (size_t i = 0; i < s->ch->notes.n; i++)
                logf_("%s: %s", s->name, s->ch->notes.v[i]);
}

/* Whether a CONFIG names the unit itself (its name or its file), not a directory of it. */
static int named_in_configs(const struct sv *sv, const char *name)
{
        for (int i = 0; i < sv->nconfigs; i++) {
                const char *c = sv->configs[i];
                const char *slash = strrchr(c, '/');
                if (strcmp(slash ? slash + 1 : c, name) == 0)
                        return 1;
        }
        return 0;
}

static int sv_stop_hook(void *ud, struct pk_sup *sup, const char *id, int phase, int reason);

/* Hands the service to the supervisor: dependencies on units not loaded are
 * dropped; more than PK_SUP_MAX_DEPS loaded ones in one list is an error. */
static int svc_add(struct sv *sv, struct svc *s)
{
        struct pk_sup_child_spec spec = s->ch->spec;
        /* socket activation: the sockets' fds, and no eager start unless named itself */
        sk_attach(sv->sk, s->u, named_in_configs(sv, s->name), &spec);
        const char *const **lists[] = {&spec.requires_ids, &spec.wants,     &spec.after,
                                       &spec.binds_to,     &spec.conflicts, &spec.before,
                                       &spec.part_of};
        const char *kept[7][PK_SUP_MAX_DEPS + 1];
        for (size_t k = 0; k < 7; k++) {
                size_t n = 0;
                for (const char *const *p = *lists[k]; p && *p; p++) {
                        if (!svc_named(&sv->by_name, *p))
                                continue;
                        if (n == PK_SUP_MAX_DEPS) {
                                logf_("%s: cannot add: more than %d loaded units in one "
                                      "dependency list (the limit)",
                                      s->name, PK_SUP_MAX_DEPS);
                                return -E2BIG;
                        }
                        kept[k][n++] = *p;
                }
                kept[k][n] = NULL;
                *lists[k] = n ? kept[k] : NULL;
        }
        spec.stop_hook = sv_stop_hook; /* ExecStop=, ExecStopPost= around every stop */
        spec.stop_hook_ctx = sv;
        struct pk_cmd *cmd = s->ch->cmd;
        s->ch->cmd = NULL;
        int r = pk_sup_add(SUP_OF(sv, s), &spec, cmd);
        if (r < 0)
                logf_("%s: cannot add: %s", s->name, pk_strerror(r));
        else
                s->in_sup = 1;
        return r;
}

static struct svc *find(struct sv *sv, const char *name, size_t len)
{
        char key[PK_SUP_ID_MAX + 1];
        if (len >= sizeof(key) || memchr(name, '\0', len))
                return NULL; /* no loaded name is that long */
        memcpy(key, name, len);
        key[len] = '\0';
        struct svc *s = svc_named(&sv->by_name, key);
        /* "nginx" means "nginx.service". */
        if (!s && len + 8 < sizeof(key)) {
                memcpy(key + len, ".service", 9);
                s = svc_named(&sv->by_name, key);
        }
        return s;
}

/* ---- clients: output ------------------------------------------------------------------ */

static void client_drop(struct client *c, const char *why);
static void client_io(struct pk_loop_io *io, unsigned revents);

/* Writes what the socket takes now; the rest waits for PK_LOOP_WRITE. */
static void client_flush(struct client *c)
{
        if (c->dead)
                return;
        while (c->out_off < c->out.len) {
                ssize_t w = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off,
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        break;
                if (w < 0) {
                        client_drop(c, "write error");
                        return;
                }
                c->out_off += (size_t)w;
        }
        if (c->out_off == c->out.len) {
                c->out_off = 0;
                pk__dynbuf_reset(&c->out);
        }
        /* epoll_ctl only when the interest changes (not once per frame). */
        int want = c->out.len != 0;
        if (want != c->want_write &&
            pk_loop_io_start(&c->io, PK_LOOP_READ | (want ? PK_LOOP_WRITE : 0), client_io) == 0)
                c->want_write = want;
}

static void flush_clients(struct pk_loop_defer *d)
{
        struct sv *sv = d->w.ctx;
        struct client *c = sv->dirty;
        sv->dirty = NULL;
        while (c) {
                struct client *next = c->dirty_next;
                c->dirty = 0;
                c->dirty_next = NULL;
                client_flush(c); /* may drop c (not another client) */
                c = next;
        }
}

/* Takes c off sv->dirty (a dropped client must not wait there to be flushed). */
static void client_undirty(struct client *c)
{
        if (!c->dirty)
                return;
        for (struct client **pp = &c->sv->dirty; *pp; pp = &(*pp)->dirty_next)
                if (*pp == c) {
                        *pp = c->dirty_next;
                        break;
                }
        c->dirty = 0;
        c->dirty_next = NULL;
}

/* Queues one frame, written at the end of the loop pass (flush_clients), after
 * the frames queued before it on this connection: replies and events keep their
 * order.  A queue that would pass the cap is first written out as far as the
 * socket takes it; a client whose queue still would is dropped. */
static int client_send(struct client *c, const struct pk_etf_buf *b)
{
        if (c->dead)
                return -EPIPE;
        if (b->err)
                return b->err;
        if (c->out.len - c->out_off + 4 + b->len > PK_SV_MAX_QUEUE) {
                client_flush(c);
                if (c->dead)
                        return -EPIPE;
        }
        pk__dynbuf_consume(&c->out, c->out_off);
        c->out_off = 0;
        unsigned char *o = (unsigned char *)pk__dynbuf_room(&c->out, 4 + b->len);
        if (!o) {
                int r = c->out.err == -ENOMEM ? -ENOMEM : -ENOBUFS;
                client_drop(c, r == -ENOMEM ? "out of memory"
                                            : "output queue full (client not reading)");
                return r;
        }
        uint32_t n = (uint32_t)b->len;
        o[0] = (unsigned char)(n >> 24);
        o[1] = (unsigned char)(n >> 16);
        o[2] = (unsigned char)(n >> 8);
        o[3] = (unsigned char)n;
        memcpy(o + 4, b->data, b->len);
        pk__dynbuf_commit(&c->out, 4 + b->len);
        if (!c->dirty && !c->want_write) { /* want_write: PK_LOOP_WRITE flushes it */
                c->dirty = 1;
                c->dirty_next = c->sv->dirty;
                c->sv->dirty = c;
                (void)pk_loop_defer_start(&c->sv->flush, flush_clients);
        }
        return 0;
}

static void put_bin(struct pk_etf_buf *b, const char *s)
{
        pk_etf_put_binary(b, s, strlen(s));
}

static void put_atom(struct pk_etf_buf *b, const char *s)
{
        pk_etf_put_atom(b, s, strlen(s));
}

static void reply_simple(struct client *c, const char *atom, const char *text)
{
        struct pk_etf_buf b;
        pk_etf_buf_init(&b, PK_SV_MAX_REPLY);
        pk_etf_put_version(&b);
        if (text) {
                pk_etf_put_tuple(&b, 2);
                put_atom(&b, atom);
                put_bin(&b, text);
        } else {
                put_atom(&b, atom);
        }
        client_send(c, &b);
        pk_etf_buf_free(&b);
}

static struct client *client_by_id(struct sv *sv, int id)
{
        for (struct client *c = sv->clients; c; c = c->next)
                if (c->id == id)
                        return c;
        return NULL;
}

/* ---- status ---------------------------------------------------------------------------- */

static const char *active_state(int st)
{
        switch (st) {
        case PK_SUP_READY:
                return "active";
        case PK_SUP_STARTING:
        case PK_SUP_WAITING:
        case PK_SUP_BACKOFF:
                return "activating";
        case PK_SUP_STOPPING:
                return "deactivating";
        case PK_SUP_FAILED:
                return "failed";
        default:
                return "inactive";
        }
}

static void put_status(struct sv *sv, struct pk_etf_buf *b, struct svc *s)
{
        struct pk_sup_child_info ci;
        memset(&ci, 0, sizeof(ci));
        int r = s->in_sup ? pk_sup_child_info(SUP_OF(sv, s), s->name, &ci) : -ENOENT;
        pk_etf_put_map(b, 9);
        put_atom(b, "name");
        put_bin(b, s->name);
        put_atom(b, "description");
        put_bin(b, s->u->description ? s->u->description : "");
        put_atom(b, "state");
        put_atom(b, r == 0 ? pk_sup_state_name(ci.state) : "down");
        put_atom(b, "active");
        put_atom(b, r == 0 ? active_state(ci.state) : "inactive");
        put_atom(b, "pid");
        pk_etf_put_int(b, r == 0 ? ci.pid : 0);
        put_atom(b, "restarts");
        pk_etf_put_int(b, r == 0 ? ci.restarts : 0);
        put_atom(b, "uptime_ms");
        pk_etf_put_int(b, r == 0 ? (int64_t)(ci.uptime_ns / 1000000) : 0);
        put_atom(b, "last_exit");
        if (r == 0 && ci.has_exited) {
                pk_etf_put_int(b, pk_exit_shell(&ci.last_exit));
        } else {
                put_atom(b, "none");
        }
        put_atom(b, "not_enforced");
        size_t n = s->ch->notes.n;
        if (n == 0) {
                pk_etf_put_nil(b);
        } else {
                pk_etf_put_list(b, (uint32_t)n);
                for (size_t i = 0; i < n; i++)
                        put_bin(b, s->ch->notes.v[i]);
                pk_etf_put_nil(b);
        }
}

/* ---- hooks (ExecStartPost=, ExecReload=, ExecStop=, ExecStopPost=) ----------------------- */

static const struct pk_unit_exec_list *hook_list(struct svc *s, int hook)
{
        const struct pk_unit_service *sv = &s->u->service;
        switch (hook) {
        case HOOK_POST:
                return &sv->exec_start_post;
        case HOOK_RELOAD:
                return &sv->exec_reload;
        case HOOK_STOP:
                return &sv->exec_stop;
        default:
                return &sv->exec_stop_post;
        }
}

static void hook_done(struct sv *sv, struct svc *s);

static const char *const hook_key[] = {"ExecStartPost", "ExecReload", "ExecStop", "ExecStopPost"};

/* How long one command of the hook may run, in ms; 0: no limit.  systemd
 * gives ExecStartPost= and ExecReload= TimeoutStartSec=, ExecStop= and
 * ExecStopPost= TimeoutStopSec= (0 and infinity: none), each command anew. */
static uint64_t hook_timeout_ms(const struct svc *s, int hook)
{
        const struct pk_unit_service *u = &s->u->service;
        uint64_t t =
            hook == HOOK_POST || hook == HOOK_RELOAD ? u->timeout_start_ms : u->timeout_stop_ms;
        return t == PK_UNIT_INFINITY ? 0 : t;
}

/* The command outlived its timeout: kill it (and what it started in its
 * process group); its exit, reported by the reaper, ends the chain. */
static void on_hook_timeout(struct pk_loop_timer *t)
{
        struct svc *s = t->w.ctx;
        if (s->hook < 0 || s->hook_pid <= 0)
                return;
        logf_("%s: %s= timed out after %llu ms: killed", s->name, hook_key[s->hook],
              (unsigned long long)hook_timeout_ms(s, s->hook));
        s->hook_timed_out = 1;
        if (s->hook_pgid > 0)
                (void)kill(-s->hook_pgid, SIGKILL);
        (void)kill(s->hook_pid, SIGKILL);
}

/* Starts command s->hook_idx of the chain; its end arrives as an orphan event
 * (reaper mode reaps every process that is not a supervised child). */
static void hook_next(struct sv *sv, struct svc *s)
{
        const struct pk_unit_exec_list *l = hook_list(s, s->hook);
        while (s->hook_idx < l->n) {
                const struct pk_unit_exec *e = &l->v[s->hook_idx];
                size_t ne = 0;
                while (s->ch->env && s->ch->env[ne])
                        ne++;
                const char **env = calloc(ne + 2, sizeof(char *));
                char mp[32];
                snprintf(mp, sizeof(mp), "MAINPID=%d", (int)s->mainpid);
                struct pk_cmd *cmd = NULL;
                int r = -ENOMEM;
                if (env) {
                        for (size_t i = 0; i < ne; i++)
                                env[i] = s->ch->env[i];
                        if (s->mainpid > 0)
                                env[ne++] = mp;
                        r = pk_unit_exec_cmd(s->u, e, env, &cmd);
                }
                free(env);
                /* In the unit's cgroup and log, as systemd runs a control process.
                 * ExecStop= only in the log: sup kills what is left in the cgroup
                 * when the main process ends, and a stop command that ends it
                 * (pg_ctlcluster stop) must outlive it, as systemd lets it. */
                if (r == 0 && s->in_sup) {
                        const struct pk_unit_exec_ctx *x = &s->u->exec;
                        int out_log = x->std_output.kind == PK_UNIT_STDIO_JOURNAL;
                        int err_log = x->std_error.kind == PK_UNIT_STDIO_JOURNAL ||
                                      (x->std_error.kind == PK_UNIT_STDIO_INHERIT && out_log);
                        int cr = pk_sup_child_cmd(
                            SUP_OF(sv, s), s->name, cmd,
                            (out_log ? PK_SUP_CMD_LOG_OUT : 0u) |
                                (err_log ? PK_SUP_CMD_LOG_ERR : 0u) |
                                (s->hook == HOOK_STOP ? PK_SUP_CMD_NO_CGROUP : 0u));
                        if (cr < 0)
                                logf_("%s: %s= runs outside the unit's cgroup: %s", s->name,
                                      hook_key[s->hook], pk_strerror(cr));
                }
                /* Its own process group, so that a timeout kills all it started. */
                int own_group = r == 0 && pk_cmd_setpgid(cmd, 0) == 0;
                struct pk_proc *p = NULL;
                if (r == 0)
                        r = pk_spawn(cmd, &p, NULL);
                pk_cmd_free(cmd);
                if (r < 0) {
                        logf_("%s: %s:%u: %s", s->name, e->file ? e->file : "", e->line,
                              pk_strerror(r));
                        if (!(e->flags & PK_UNIT_EXEC_IGNORE_FAILURE)) {
                                s->hook_failed = 1;
                                break; /* as systemd: a failed line ends the chain */
                        }
                        s->hook_idx++;
                        continue;
                }
                s->hook_pid = pk_proc_pid(p);
                s->hook_pgid = own_group ? s->hook_pid : 0;
                pk_proc_free(p); /* the reaper reaps it and reports the pid */
                uint64_t tmo = hook_timeout_ms(s, s->hook);
                if (tmo) {
                        pk_loop_timer_init(sv->loop, &s->hook_timer);
                        s->hook_timer.w.ctx = s;
                        if (pk_loop_timer_start(&s->hook_timer, tmo, 0, on_hook_timeout) < 0)
                                logf_("%s: %s=: no timer for its timeout", s->name,
                                      hook_key[s->hook]);
                }
                return;
        }
        hook_done(sv, s);
}

static void hook_start(struct sv *sv, struct svc *s, int hook, int client_id)
{
        if (s->hook >= 0) {
                /* One chain at a time; a later request waits its turn by failing fast. */
                struct client *c = client_by_id(sv, client_id);
                if (c)
                        reply_simple(c, "error", "busy: another command of this unit runs");
                return;
        }
        s->hook = hook;
        if (hook == HOOK_STOP)
                s->stop_ran = 1; /* once per run of the main process, whoever asked */
        s->hook_idx = 0;
        s->hook_client = client_id;
        s->hook_failed = 0;
        s->hook_timed_out = 0;
        hook_next(sv, s);
}

static void stop_finish(struct sv *sv, struct svc *x);

static int strv_has(const struct pk_unit_strv *v, const char *name);

/* `ctl stop` / `restart` of x: ExecStop= of x (when it runs) and of every
 * running unit PartOf= x (and of theirs, once each: the units sup passes the
 * stop or restart on to), each with its own $MAINPID and timeouts, all at
 * once; once the last chain ends, the stop or restart of x, which sup passes
 * on (the stop signal to each).  The client is answered then. */
static void stop_request(struct sv *sv, struct svc *x, int verb, int client_id)
{
        struct client *c = client_by_id(sv, client_id);
        if (x->stop_verb || x->hook >= 0) {
                if (c)
                        reply_simple(c, "error", "busy: another command of this unit runs");
                return;
        }
        /* breadth first over the units PartOf= x; seen and queue index sv->svcs */
        char *seen = calloc(sv->n ? sv->n : 1, 1);
        size_t *queue = calloc(sv->n ? sv->n : 1, sizeof(*queue));
        if (!seen || !queue) {
                free(seen);
                free(queue);
                if (c)
                        reply_simple(c, "error", pk_strerror(-ENOMEM));
                return;
        }
        x->stop_verb = verb;
        x->stop_client = client_id;
        x->stop_wait = 0;
        size_t qh = 0, qn = 0;
        for (size_t i = 0; i < sv->n; i++)
                if (sv->svcs[i] == x) {
                        seen[i] = 1;
                        queue[qn++] = i;
                }
        while (qh < qn) {
                struct svc *t = sv->svcs[queue[qh++]];
                /* who is PartOf= t: reached in turn */
                for (size_t i = 0; i < sv->n; i++) {
                        struct svc *d = sv->svcs[i];
                        if (!seen[i] && d->in_sup && SUP_OF(sv, d) == SUP_OF(sv, x) &&
                            strv_has(&d->u->deps.part_of, t->name)) {
                                seen[i] = 1;
                                queue[qn++] = i;
                        }
                }
                struct pk_sup_child_info ci;
                if (!t->in_sup || pk_sup_child_info(SUP_OF(sv, t), t->name, &ci) < 0 ||
                    (ci.state != PK_SUP_READY && ci.state != PK_SUP_STARTING))
                        continue;
                if (t != x && verb == STOP_RESTART)
                        t->restart_with = x; /* it comes back with x, whatever its stop did */
                if (!t->u->service.exec_stop.n)
                        continue;
                if (t->hook >= 0 || (t != x && t->stop_verb)) {
                        logf_("%s: ExecStop= skipped: another command of this unit runs", t->name);
                        continue;
                }
                if (t != x)
                        logf_("%s: stopping (PartOf=%s): ExecStop=", t->name, x->name);
                t->stop_for = x;
                x->stop_wait++;
                hook_start(sv, t, HOOK_STOP, 0);
        }
        free(seen);
        free(queue);
        if (x->stop_wait == 0)
                stop_finish(sv, x);
}

/* One ExecStop= chain of x's stop ended. */
static void stop_chain_done(struct sv *sv, struct svc *t)
{
        struct svc *x = t->stop_for;
        t->stop_for = NULL;
        if (x && x->stop_wait > 0 && --x->stop_wait == 0)
                stop_finish(sv, x);
}

/* Every ExecStop= is done: the stop signal (sup passes it on to the PartOf= units). */
static void stop_finish(struct sv *sv, struct svc *x)
{
        int verb = x->stop_verb;
        struct client *c = client_by_id(sv, x->stop_client);
        x->stop_verb = 0;
        x->stop_client = 0;
        int r = verb == STOP_RESTART ? pk_sup_restart_child(SUP_OF(sv, x), x->name)
                                     : pk_sup_stop_child(SUP_OF(sv, x), x->name);
        /* sup passes a restart on to what runs; a unit PartOf= x that ran when
         * the restart began and has ended meanwhile (its ExecStop= stopped its
         * main process) is started again, as systemd's propagated restart does */
        for (size_t i = 0; i < sv->n; i++) {
                struct svc *t = sv->svcs[i];
                if (t->restart_with != x)
                        continue;
                t->restart_with = NULL;
                struct pk_sup_child_info ci;
                if (r == 0 && pk_sup_child_info(SUP_OF(sv, t), t->name, &ci) == 0 &&
                    (ci.state == PK_SUP_DOWN || ci.state == PK_SUP_FAILED))
                        (void)pk_sup_start_child(SUP_OF(sv, t), t->name);
        }
        if (c)
                reply_simple(c, r < 0 ? "error" : "ok", r < 0 ? pk_strerror(r) : NULL);
}

static int strv_has(const struct pk_unit_strv *v, const char *name)
{
        for (size_t i = 0; i < v->n; i++)
                if (strcmp(v->v[i], name) == 0)
                        return 1;
        return 0;
}

/* A reload of s reaches the running units it PropagatesReloadTo= and those
 * ReloadPropagatedFrom= it (postgresql@.service from postgresql.service); each
 * runs its own ExecReload=, answering nobody. */
static void propagate_reload(struct sv *sv, struct svc *s)
{
        for (size_t i = 0; i < sv->n; i++) {
                struct svc *t = sv->svcs[i];
                struct pk_sup_child_info ci;
                if (t == s || !t->in_sup || !t->u->service.exec_reload.n ||
                    pk_sup_child_info(sv->sup, t->name, &ci) < 0 || ci.state != PK_SUP_READY)
                        continue;
                if (strv_has(&s->u->deps.propagates_reload_to, t->name) ||
                    strv_has(&t->u->deps.reload_propagated_from, s->name)) {
                        logf_("%s: reload propagated from %s", t->name, s->name);
                        hook_start(sv, t, HOOK_RELOAD, 0);
                }
        }
}

static void hook_done_inner(struct sv *sv, struct svc *s);

static void hook_done(struct sv *sv, struct svc *s)
{
        hook_done_inner(sv, s);
        if (s->hook >= 0)
                return;
        if (s->sup_queued) {
                int hook = s->sup_queued - 1;
                s->sup_queued = 0;
                if (hook == HOOK_STOPPOST)
                        s->stoppost_pending = 0; /* one ExecStopPost= run covers both */
                s->for_sup = hook == HOOK_STOP ? PK_SUP_HOOK_STOP : PK_SUP_HOOK_STOPPED;
                hook_start(sv, s, hook, 0);
        } else if (s->stoppost_pending) {
                s->stoppost_pending = 0;
                hook_start(sv, s, HOOK_STOPPOST, 0);
        }
}

/* Runs ExecStop= or ExecStopPost= for a stop the supervisor holds in `phase`
 * (now, or after the chain that runs); its end lets the stop go on.  Returns
 * 1 (held). */
static int sup_chain(struct sv *sv, struct svc *s, int hook, int phase)
{
        s->sup_wait = phase;
        if (s->hook >= 0) {
                s->sup_queued = hook + 1;
                return 1;
        }
        s->for_sup = phase;
        hook_start(sv, s, hook, 0);
        return 1;
}

/* The supervisor's stop hook for every unit (pk_sup_child_spec.stop_hook):
 * every stop it makes -- `ctl shutdown`, SIGTERM, a group restart, a
 * dependency that gave up, a daemon-reload removal, `ctl stop` itself --
 * runs ExecStop= before the stop signal (once per run: `ctl stop` ran it
 * already) and ExecStopPost= once the main process is gone, as systemd does. */
static int sv_stop_hook(void *ud, struct pk_sup *sup, const char *id, int phase, int reason)
{
        struct sv *sv = ud;
        (void)sup;
        struct svc *s = find(sv, id, strlen(id));
        if (!s || !s->in_sup)
                return 0;
        if (phase == PK_SUP_HOOK_STOPPED) {
                s->mainpid = 0;
                return s->u->service.exec_stop_post.n
                           ? sup_chain(sv, s, HOOK_STOPPOST, PK_SUP_HOOK_STOPPED)
                           : 0;
        }
        if (s->hook == HOOK_STOP) { /* `ctl stop`'s ExecStop= runs: the signal after it */
                s->sup_wait = s->for_sup = PK_SUP_HOOK_STOP;
                return 1;
        }
        if (s->stop_ran || !s->u->service.exec_stop.n)
                return 0;
        logf_("%s: stopping (%s): ExecStop=", s->name, pk_sup_reason_name(reason));
        return sup_chain(sv, s, HOOK_STOP, PK_SUP_HOOK_STOP);
}

static void hook_done_inner(struct sv *sv, struct svc *s)
{
        int hook = s->hook;
        int timed_out = s->hook_timed_out;
        pk_loop_timer_stop(&s->hook_timer);
        s->hook = -1;
        s->hook_pid = s->hook_pgid = 0;
        s->hook_timed_out = 0;
        struct client *c = client_by_id(sv, s->hook_client);
        s->hook_client = 0;
        int phase = s->for_sup;
        s->for_sup = 0;
        if (phase && phase == s->sup_wait) { /* the stop sup holds for this chain goes on */
                s->sup_wait = 0; /* (a chain of a phase sup left, past TimeoutStopSec=, does not) */
                (void)pk_sup_stop_continue(SUP_OF(sv, s), s->name);
        }
        if (hook == HOOK_POST && timed_out) {
                /* As systemd: the start failed; the stop signal ends the service and
                 * its exit is a failure (the restart policy decides). */
                logf_("%s: start failed (ExecStartPost= timed out): stopping", s->name);
                (void)pk_sup_fail_child(SUP_OF(sv, s), s->name);
        }
        if (hook == HOOK_STOP) {
                /* A timed-out ExecStop= skips the rest; the stop signal follows
                 * once every ExecStop= of the stop is done. */
                stop_chain_done(sv, s);
                return;
        }
        if (c)
                reply_simple(c, s->hook_failed ? "error" : "ok",
                             timed_out        ? "a command timed out"
                             : s->hook_failed ? "a command failed"
                                              : NULL);
}

static void hook_exited(struct sv *sv, pid_t pid, const struct pk_exit *ex)
{
        for (size_t i = 0; i < sv->n; i++) {
                struct svc *s = sv->svcs[i];
                if (s->hook < 0 || s->hook_pid != pid)
                        continue;
                pk_loop_timer_stop(&s->hook_timer);
                const struct pk_unit_exec *e = &hook_list(s, s->hook)->v[s->hook_idx];
                int st = pk_exit_shell(ex);
                if (st != 0) {
                        logf_("%s: %s exited with %d", s->name, e->path, st);
                        if (!(e->flags & PK_UNIT_EXEC_IGNORE_FAILURE)) {
                                /* As systemd: the lines after a failed one do not run
                                 * (ExecReload=sshd -t, then kill -HUP: a bad config
                                 * must not reach the daemon). */
                                s->hook_failed = 1;
                                hook_done(sv, s);
                                return;
                        }
                }
                s->hook_idx++;
                if (s->hook_timed_out) {
                        s->hook_failed = 1; /* even with "-": a timeout is not an exit */
                        s->hook_idx = hook_list(s, s->hook)->n; /* the rest is skipped */
                }
                hook_next(sv, s);
                return;
        }
}

/* ---- tree files on daemon-reload ------------------------------------------------------------ */

static void svc_removed(struct sv *sv, struct svc *s);
static void svc_retire(struct sv *sv, struct svc *s, struct svc *replacement);
static int tree_add_unit(void *ud, struct pk_sup *parent, const char *name, char *err,
                         size_t errsz);
static int tree_adopt(struct sv *sv, struct load_set *ls, size_t from, struct pk_sup *parent,
                      char *err, size_t errsz);

/* What a daemon-reload did, for its reply and its log: the names of what was
 * kept, restarted, added, removed, and supervisors changed in place (each
 * list capped; the counts are not). */
enum { REP_KEPT, REP_RESTARTED, REP_ADDED, REP_REMOVED, REP_UPDATED, REP_N };
static const char *const report_what[REP_N] = {"kept", "restarted", "added", "removed",
                                               "changed in place"};
struct reload_report {
        char names[REP_N][1024];
        size_t used[REP_N];
        unsigned n[REP_N];
};

static void report_add(struct sv *sv, int what, const char *parent, const char *id)
{
        struct reload_report *rp = sv->rep;
        if (!rp)
                return; /* a step a reload left for later (a stop to wait for) */
        rp->n[what]++;
        size_t sz = sizeof(rp->names[what]), *u = &rp->used[what];
        if (*u + 4 >= sz)
                return;
        int k = snprintf(rp->names[what] + *u, sz - *u, "%s%s%s%s", *u ? ", " : "", parent,
                         parent[0] ? "/" : "", id);
        if (k > 0 && *u + (size_t)k < sz)
                *u += (size_t)k;
        else
                *u = sz - 4 + snprintf(rp->names[what] + sz - 4, 4, "...");
}

/* The nested supervisor at @path ("app/web") under the top one, or NULL. */
static struct pk_sup *tree_sup_at(struct sv *sv, const char *path)
{
        struct pk_sup *cur = sv->sup;
        char buf[PK_SV_TREE_PATH];
        snprintf(buf, sizeof(buf), "%s", path);
        for (char *save = NULL, *comp = strtok_r(buf, "/", &save); comp && cur;
             comp = strtok_r(NULL, "/", &save)) {
                struct pk_sup_child_info ci;
                cur = pk_sup_child_info(cur, comp, &ci) == 0 ? ci.sup : NULL;
        }
        return cur == sv->sup ? NULL : cur;
}

/* The supervisor the children of path @parent are in: the top one for "". */
static struct pk_sup *tree_parent_at(struct sv *sv, const char *parent)
{
        return parent[0] ? tree_sup_at(sv, parent) : sv->sup;
}

/* Puts the children of the supervisor at @parent back in the file's order
 * (workers a reload added are appended by pk_sup_add()). */
static void tree_reorder(struct sv *sv, const struct pk_sv_tree *rec, const char *parent)
{
        struct pk_sup *p = tree_sup_at(sv, parent);
        size_t k = 0;
        for (size_t i = 0; p && i < rec->n; i++) {
                const struct pk_sv_tree_node *nd = &rec->v[i];
                if (strcmp(nd->parent, parent) != 0)
                        continue;
                char id[PK_SUP_ID_MAX + 9];
                snprintf(id, sizeof(id), "%s", nd->id);
                struct pk_sup_child_info ci;
                if (pk_sup_child_info(p, id, &ci) < 0 && nd->kind == PK_SV_TREE_UNIT)
                        snprintf(id, sizeof(id), "%s.service", nd->id); /* {unit, "nginx"} */
                if (pk_sup_move_child(p, id, k) == 0)
                        k++;
        }
}

/* Every nested supervisor of every tree file in its file's order. */
static void trees_reorder(struct sv *sv)
{
        for (int i = 0; sv->trees && i < sv->nconfigs; i++) {
                const struct pk_sv_tree *n = sv->trees[i];
                for (size_t k = 0; n && k < n->n; k++)
                        if (n->v[k].kind == PK_SV_TREE_SUP) {
                                char path[PK_SV_TREE_PATH + PK_SUP_ID_MAX + 2];
                                pk_sv_tree_path(&n->v[k], path, sizeof(path));
                                tree_reorder(sv, n, path);
                        }
        }
}

/* Appends @s and the supervisors below it to *v (n of cap); -ENOMEM. */
static int sups_below(struct pk_sup *s, struct pk_sup ***v, size_t *n, size_t *cap, int depth)
{
        if (pk__array_grow((void **)v, cap, *n + 1, sizeof(struct pk_sup *), 16) < 0)
                return -ENOMEM;
        (*v)[(*n)++] = s;
        int k = pk_sup_which_children(s, NULL, 0);
        if (k <= 0 || depth > 64)
                return 0;
        struct pk_sup_child_info *ci = calloc((size_t)k, sizeof(*ci));
        if (!ci)
                return -ENOMEM;
        k = pk_sup_which_children(s, ci, (size_t)k);
        int r = 0;
        for (int i = 0; i < k && r == 0; i++)
                if (ci[i].sup)
                        r = sups_below(ci[i].sup, v, n, cap, depth + 1);
        free(ci);
        return r;
}

/* A reload removed a nested supervisor (pk_sup_remove_child() freed it): the
 * services that ran in it are dropped; a replacement waiting for one's
 * removal (a unit moved elsewhere) is added. */
static void tree_forget(struct sv *sv)
{
        struct pk_sup **live = NULL;
        size_t nlive = 0, cap = 0;
        if (sups_below(sv->sup, &live, &nlive, &cap, 0) < 0) {
                free(live);
                logf_("daemon-reload: %s: services of a removed supervisor kept",
                      pk_strerror(-ENOMEM));
                return;
        }
        for (;;) {
                struct svc *gone = NULL;
                for (size_t i = 0; i < sv->n && !gone; i++) {
                        struct svc *s = sv->svcs[i];
                        int found = !s->sup;
                        for (size_t k = 0; k < nlive && !found; k++)
                                found = live[k] == s->sup;
                        gone = found ? NULL : s;
                }
                if (!gone)
                        break;
                gone->sup_gone = 1; /* its supervisor and its child record went together */
                svc_removed(sv, gone);
        }
        /* A reload's step waiting in a removed supervisor went with it. */
        for (size_t i = 0; i < sv->n_tree_ops;) {
                int found = 0;
                for (size_t k = 0; k < nlive && !found; k++)
                        found = live[k] == sv->tree_ops[i].sup;
                if (found) {
                        i++;
                        continue;
                }
                pk_cmd_free(sv->tree_ops[i].cmd);
                sv->tree_ops[i] = sv->tree_ops[--sv->n_tree_ops];
        }
        free(live);
}

/* A reload's {unit, Name} under @parent (env->add_unit of a reload's builds):
 * kept if it runs there from the same files; else loaded again and started
 * there once the running one (wherever it is) stopped. */
static int tree_place_unit(void *ud, struct pk_sup *parent, const char *name, char *err,
                           size_t errsz)
{
        struct sv *sv = ud;
        struct svc *old = find(sv, name, strlen(name));
        const char *ppath = ""; /* for the report: the unit's name says enough */
        if (!old) {
                int r = tree_add_unit(ud, parent, name, err, errsz);
                if (r == 0)
                        report_add(sv, REP_ADDED, ppath, name);
                return r;
        }
        const char *dirs[SV_MAX_DIRS * 2 + 8];
        search_dirs(sv, dirs, sizeof(dirs) / sizeof(dirs[0]));
        struct load_set ls = {0};
        int r = load_one(sv, old->name, dirs, &ls, err, errsz);
        if (r == 0 && ls.n == 0) {
                snprintf(err, errsz, "not a service");
                r = -EINVAL;
        }
        if (r < 0) {
                load_set_clear(&ls);
                return r;
        }
        struct svc *n = ls.v[0];
        /* what runs there once a step under way is done */
        const struct svc *cur = old->removing ? old->replacement : old;
        if (cur && cur->sup == parent && n->hash == cur->hash) {
                load_set_clear(&ls);
                report_add(sv, REP_KEPT, ppath, old->name);
                return 0;
        }
        ls.v[0] = NULL;
        n->sup = parent;
        logf_("daemon-reload: %s %s: restarting", old->name,
              old->sup == parent ? "changed" : "moved");
        report_add(sv, REP_RESTARTED, ppath, old->name);
        r = tree_adopt(sv, &ls, 1, parent, err, errsz); /* what it pulls in anew */
        load_set_clear(&ls);
        old->replacement = svc_free(old->replacement); /* a reload before this one's end */
        svc_retire(sv, old, n);
        return r;
}

/* A reload's stop of tree child @id of @sup is complete: remove it, then add
 * a worker's replacement or build a supervisor again from its file. */
static void tree_ops_advance(struct sv *sv, struct pk_sup *sup, const char *id)
{
        for (size_t i = 0; i < sv->n_tree_ops; i++) {
                struct tree_op *op = &sv->tree_ops[i];
                struct pk_sup_child_info ci;
                if (op->sup != sup || strcmp(op->id, id) != 0 ||
                    pk_sup_child_info(sup, id, &ci) < 0 ||
                    (ci.state != PK_SUP_DOWN && ci.state != PK_SUP_FAILED))
                        continue;
                if (pk_sup_remove_child(sup, id) < 0)
                        continue;       /* a later event retries */
                struct tree_op o = *op; /* what follows may queue more */
                sv->tree_ops[i] = sv->tree_ops[--sv->n_tree_ops];
                const struct pk_sv_tree *rec = sv->trees[o.config];
                int r = 0;
                char err[1024] = "";
                if (o.kind == PK_SV_TREE_SUP) {
                        tree_forget(sv);
                        const struct pk_sv_tree_node *nd =
                            o.rebuild && rec ? pk_sv_tree_find(rec, PK_SV_TREE_SUP, o.parent, o.id)
                                             : NULL;
                        if (nd) {
                                struct pk_sv_tree_env env = sv->tenv;
                                env.add_unit = tree_place_unit;
                                r = pk_sv_tree_build(sv->trees[o.config], (size_t)(nd - rec->v),
                                                     &env, sup, err, sizeof(err));
                                if (r < 0)
                                        tree_forget(sv); /* what it had loaded */
                                else
                                        logf_("daemon-reload: supervisor %s%s%s started again",
                                              o.parent, o.parent[0] ? "/" : "", o.id);
                        }
                } else if (o.cmd) {
                        o.spec.id = o.id;
                        r = pk_sup_add(sup, &o.spec, o.cmd); /* takes cmd; starts it */
                        if (r < 0)
                                snprintf(err, sizeof(err), "%s", pk_strerror(r));
                }
                if (r < 0)
                        logf_("daemon-reload: %s %s%s%s: %s",
                              o.kind == PK_SV_TREE_SUP ? "supervisor" : "tree worker", o.parent,
                              o.parent[0] ? "/" : "", o.id, err);
                trees_reorder(sv);
                return;
        }
}

/* Queues the stop-then-remove of tree child @nd of @sup, then (a worker with
 * @cmd) its add with its new spec or (a supervisor with @rebuild) its build
 * from the file. */
static void tree_op_queue(struct sv *sv, size_t config, struct pk_sup *sup,
                          const struct pk_sv_tree_node *nd, struct pk_cmd *cmd, int rebuild)
{
        struct tree_op *v = realloc(sv->tree_ops, (sv->n_tree_ops + 1) * sizeof(*v));
        if (!v) {
                logf_("daemon-reload: tree child %s/%s: %s", nd->parent, nd->id,
                      pk_strerror(-ENOMEM));
                pk_cmd_free(cmd);
                return;
        }
        sv->tree_ops = v;
        struct tree_op *op = &v[sv->n_tree_ops++];
        memset(op, 0, sizeof(*op));
        op->sup = sup;
        op->config = config;
        op->kind = nd->kind;
        op->rebuild = rebuild;
        snprintf(op->id, sizeof(op->id), "%s", nd->id);
        snprintf(op->parent, sizeof(op->parent), "%s", nd->parent);
        if (cmd) {
                op->spec = nd->spec;
                op->cmd = cmd;
        }
        (void)pk_sup_stop_child(sup, nd->id); /* stopped already: nothing happens */
        tree_ops_advance(sv, sup, op->id);
}

/* Reads every tree file again into news[] (indexed as configs) and checks it
 * whole before anything changes: the files, the names, and every unit they
 * name (loaded and dropped again; @ls is the new set of the other units, a
 * unit runs in one place).  All or nothing. */
static int trees_read(struct sv *sv, const struct load_set *ls, struct pk_sv_tree **news, char *err,
                      size_t errsz)
{
        const char *dirs[SV_MAX_DIRS * 2 + 8];
        search_dirs(sv, dirs, sizeof(dirs) / sizeof(dirs[0]));
        for (int i = 0; i < sv->nconfigs; i++) {
                if (!sv->trees || !sv->trees[i])
                        continue;
                int r = pk_sv_tree_read(sv->configs[i], &sv->tenv, &news[i], err, errsz);
                if (r < 0)
                        return r;
        }
        int r = pk_sv_tree_check_names((const char *const *)sv->configs, news, (size_t)sv->nconfigs,
                                       err, errsz);
        for (int i = 0; i < sv->nconfigs && r == 0; i++)
                for (size_t k = 0; news[i] && k < news[i]->n && r == 0; k++) {
                        const struct pk_sv_tree_node *nd = &news[i]->v[k];
                        if (nd->kind != PK_SV_TREE_UNIT)
                                continue;
                        struct load_set tls = {0};
                        char sub[768] = "";
                        r = load_one(sv, nd->id, dirs, &tls, sub, sizeof(sub));
                        if (r == 0 && tls.n == 0) {
                                snprintf(sub, sizeof(sub), "not a service");
                                r = -EINVAL;
                        }
                        const char *name = r == 0 ? tls.v[0]->name : nd->id;
                        for (size_t j = 0; j < ls->n && r == 0; j++)
                                if (strcmp(ls->v[j]->name, name) == 0) {
                                        snprintf(sub, sizeof(sub),
                                                 "also loaded outside the tree files (a unit "
                                                 "runs in one place)");
                                        r = -EEXIST;
                                }
                        struct svc *now = r == 0 ? find(sv, name, strlen(name)) : NULL;
                        if (now && !now->sup) {
                                snprintf(sub, sizeof(sub),
                                         "runs outside the tree files: moving it into a tree "
                                         "needs a restart of supervise");
                                r = -EEXIST;
                        }
                        for (int g = 0; g <= i && r == 0; g++)
                                for (size_t j = 0; news[g] && j < (g == i ? k : news[g]->n); j++)
                                        if (news[g]->v[j].kind == PK_SV_TREE_UNIT &&
                                            strcmp(news[g]->v[j].id, nd->id) == 0) {
                                                snprintf(sub, sizeof(sub),
                                                         "named twice (a unit runs in one "
                                                         "place)");
                                                r = -EEXIST;
                                                break;
                                        }
                        if (r < 0)
                                snprintf(err, errsz, "%s: unit %s%s%s: %s", sv->configs[i],
                                         nd->parent, nd->parent[0] ? "/" : "", nd->id, sub);
                        load_set_clear(&tls);
                }
        /* A tree's unit the new trees no longer name but the unit list does. */
        for (size_t j = 0; j < ls->n && r == 0; j++) {
                struct svc *now = find(sv, ls->v[j]->name, strlen(ls->v[j]->name));
                if (now && now->sup) {
                        snprintf(err, errsz,
                                 "%s: runs in a tree file: moving it out of the tree files needs "
                                 "a restart of supervise",
                                 now->name);
                        r = -EEXIST;
                }
        }
        return r;
}

/* What a reload does with a supervisor of a tree file. */
enum { FATE_KEEP, FATE_SET, FATE_REBUILD, FATE_GONE };
enum { DEAD_NO, DEAD_STOPS, DEAD_MISSING };

/* Whether @a and @b say the same of a supervisor as a child of its parent. */
static int same_child_spec(const struct pk_sup_child_spec *a, const struct pk_sup_child_spec *b)
{
        return a->restart == b->restart && a->shutdown == b->shutdown &&
               a->shutdown_ms == b->shutdown_ms;
}

/* Applies tree file @i's new reading @n over its running @o: supervisors
 * whose flags changed get them in place (pk_sup_set_opts()), or are stopped
 * and built again when that cannot be (their spec as a child changed, or a
 * restart of their group is under way); removed ones are stopped and
 * removed, added ones built and started; then the workers and units under
 * the supervisors that stay: unchanged ones keep running, changed ones
 * restart with their new definition in their place, removed ones stop, added
 * ones start; a child that moved stops in the old place and starts in the
 * new.  Takes @n. */
static void tree_apply(struct sv *sv, int i, struct pk_sv_tree *n)
{
        struct pk_sv_tree *o = sv->trees[i];
        /* old node j stops with its supervisor (DEAD_STOPS: a queued stop then
         * builds it again if the file still has it; DEAD_MISSING: nothing of it
         * runs, e.g. a build an earlier reload failed to make) */
        unsigned char *dead = calloc(o->n + 1, 1);
        unsigned char *fresh = calloc(n->n + 1, 1); /* new node k is built with its supervisor */
        if (!dead || !fresh) {
                free(dead);
                free(fresh);
                logf_("daemon-reload: %s: %s", sv->configs[i], pk_strerror(-ENOMEM));
                pk_sv_tree_free(n);
                return;
        }
        sv->trees[i] = n; /* what the later steps (and ops) build from */
        char path[PK_SV_TREE_PATH + PK_SUP_ID_MAX + 2];
        /* Supervisors, parents before children (file order). */
        for (size_t j = 0; j < o->n; j++) {
                const struct pk_sv_tree_node *od = &o->v[j];
                int pdead = 0;
                for (size_t q = 0; q < j; q++) {
                        char pp[PK_SV_TREE_PATH + PK_SUP_ID_MAX + 2];
                        if (o->v[q].kind == PK_SV_TREE_SUP && dead[q]) {
                                pk_sv_tree_path(&o->v[q], pp, sizeof(pp));
                                pdead |= strcmp(pp, od->parent) == 0;
                        }
                }
                dead[j] = (unsigned char)pdead;
                if (od->kind != PK_SV_TREE_SUP || pdead)
                        continue;
                pk_sv_tree_path(od, path, sizeof(path));
                const struct pk_sv_tree_node *nd =
                    pk_sv_tree_find(n, PK_SV_TREE_SUP, od->parent, od->id);
                struct pk_sup *p = tree_parent_at(sv, od->parent);
                struct pk_sup *me = tree_sup_at(sv, path);
                if (!p || !me) {
                        dead[j] = DEAD_MISSING; /* not there: built anew if the file has it */
                        continue;
                }
                int fate = !nd                                      ? FATE_GONE
                           : strcmp(nd->sig, od->sig) == 0          ? FATE_KEEP
                           : !same_child_spec(&nd->spec, &od->spec) ? FATE_REBUILD
                                                                    : FATE_SET;
                if (fate == FATE_SET) {
                        struct pk_sup_opts so = nd->opts;
                        so.cgroup = sv->tenv.cgroup;
                        int r = pk_sup_set_opts(me, &so);
                        if (r == 0) {
                                logf_("daemon-reload: supervisor %s: flags changed in place", path);
                                report_add(sv, REP_UPDATED, "", path);
                                continue;
                        }
                        logf_("daemon-reload: supervisor %s: flags not changeable in place (%s)",
                              path, pk_strerror(r));
                        fate = FATE_REBUILD;
                }
                if (fate == FATE_KEEP)
                        continue;
                dead[j] = DEAD_STOPS;
                logf_("daemon-reload: supervisor %s %s", path,
                      fate == FATE_GONE ? "removed: stopping" : "changed: stopping to rebuild it");
                report_add(sv, fate == FATE_GONE ? REP_REMOVED : REP_RESTARTED, "", path);
                tree_op_queue(sv, (size_t)i, p, od, NULL, fate == FATE_REBUILD);
        }
        /* Which new nodes come with a supervisor built anew (added, or rebuilt). */
        for (size_t k = 0; k < n->n; k++) {
                const struct pk_sv_tree_node *nd = &n->v[k];
                for (size_t q = 0; q < k && !fresh[k]; q++)
                        if (n->v[q].kind == PK_SV_TREE_SUP && fresh[q]) {
                                pk_sv_tree_path(&n->v[q], path, sizeof(path));
                                fresh[k] = strcmp(path, nd->parent) == 0;
                        }
                if (fresh[k] || nd->kind != PK_SV_TREE_SUP)
                        continue;
                const struct pk_sv_tree_node *od =
                    pk_sv_tree_find(o, PK_SV_TREE_SUP, nd->parent, nd->id);
                fresh[k] = !od || dead[od - o->v];
        }
        /* Workers and units of the old tree whose supervisor stays. */
        for (size_t j = 0; j < o->n; j++) {
                const struct pk_sv_tree_node *od = &o->v[j];
                if (od->kind == PK_SV_TREE_SUP || dead[j])
                        continue;
                struct pk_sup *p = tree_parent_at(sv, od->parent);
                if (!p)
                        continue;
                const struct pk_sv_tree_node *nd = pk_sv_tree_find(n, od->kind, od->parent, od->id);
                if (nd && !fresh[nd - n->v])
                        continue; /* kept or changed: below */
                if (od->kind == PK_SV_TREE_WORKER) {
                        logf_("daemon-reload: tree worker %s/%s removed: stopping", od->parent,
                              od->id);
                        report_add(sv, REP_REMOVED, od->parent, od->id);
                        tree_op_queue(sv, (size_t)i, p, od, NULL, 0);
                        continue;
                }
                /* a unit: moved (placed where it goes below) or removed */
                int named = 0;
                for (int f = 0; f < sv->nconfigs && !named; f++)
                        for (size_t k = 0; sv->trees[f] && k < sv->trees[f]->n && !named; k++)
                                named = sv->trees[f]->v[k].kind == PK_SV_TREE_UNIT &&
                                        strcmp(sv->trees[f]->v[k].id, od->id) == 0;
                struct svc *s = find(sv, od->id, strlen(od->id));
                if (named || !s || s->removing)
                        continue;
                logf_("daemon-reload: %s removed from %s: stopping", s->name, od->parent);
                report_add(sv, REP_REMOVED, "", s->name);
                svc_retire(sv, s, NULL);
        }
        /* New nodes under supervisors that stay. */
        struct pk_sv_tree_env env = sv->tenv;
        env.add_unit = tree_place_unit;
        for (size_t k = 0; k < n->n; k++) {
                struct pk_sv_tree_node *nd = &n->v[k];
                if (fresh[k] && nd->kind != PK_SV_TREE_SUP)
                        continue; /* with its supervisor */
                int top_fresh = nd->kind == PK_SV_TREE_SUP && fresh[k];
                if (top_fresh) {
                        /* only the top of a fresh subtree; a rebuilt one waits for its stop */
                        const struct pk_sv_tree_node *od =
                            pk_sv_tree_find(o, PK_SV_TREE_SUP, nd->parent, nd->id);
                        int pfresh = 0;
                        for (size_t q = 0; q < k; q++)
                                if (n->v[q].kind == PK_SV_TREE_SUP && fresh[q]) {
                                        pk_sv_tree_path(&n->v[q], path, sizeof(path));
                                        pfresh |= strcmp(path, nd->parent) == 0;
                                }
                        if ((od && dead[od - o->v] == DEAD_STOPS) || pfresh)
                                continue;
                } else if (nd->kind == PK_SV_TREE_SUP) {
                        continue; /* kept */
                }
                struct pk_sup *p = tree_parent_at(sv, nd->parent);
                if (!p)
                        continue; /* its supervisor is gone (gave up) */
                char err[1024] = "";
                int r = 0;
                struct pk_sup_child_info ci;
                if (top_fresh && pk_sup_child_info(p, nd->id, &ci) == 0) {
                        /* a top supervisor that moved from another tree file and
                         * still stops there: built once it is gone */
                        for (size_t q = 0; q < sv->n_tree_ops; q++)
                                if (sv->tree_ops[q].sup == p &&
                                    strcmp(sv->tree_ops[q].id, nd->id) == 0) {
                                        sv->tree_ops[q].rebuild = 1;
                                        sv->tree_ops[q].config = (size_t)i;
                                        top_fresh = 0;
                                }
                        if (!top_fresh) {
                                report_add(sv, REP_ADDED, "", nd->id);
                                continue;
                        }
                }
                if (top_fresh) {
                        pk_sv_tree_path(nd, path, sizeof(path));
                        logf_("daemon-reload: supervisor %s added: starting", path);
                        report_add(sv, REP_ADDED, "", path);
                        r = pk_sv_tree_build(n, k, &env, p, err, sizeof(err));
                        if (r < 0)
                                tree_forget(sv); /* the units it had loaded */
                } else if (nd->kind == PK_SV_TREE_UNIT) {
                        r = tree_place_unit(sv, p, nd->id, err, sizeof(err));
                } else {
                        const struct pk_sv_tree_node *od =
                            pk_sv_tree_find(o, PK_SV_TREE_WORKER, nd->parent, nd->id);
                        if (od && strcmp(od->sig, nd->sig) == 0) {
                                report_add(sv, REP_KEPT, nd->parent, nd->id);
                                continue;
                        }
                        struct pk_cmd *cmd = nd->cmd;
                        nd->cmd = NULL;
                        logf_("daemon-reload: tree worker %s/%s %s", nd->parent, nd->id,
                              od ? "changed: restarting" : "added: starting");
                        report_add(sv, od ? REP_RESTARTED : REP_ADDED, nd->parent, nd->id);
                        if (od) {
                                tree_op_queue(sv, (size_t)i, p, nd, cmd, 0);
                                continue;
                        }
                        struct pk_sup_child_spec sp = nd->spec;
                        sp.id = nd->id;
                        r = pk_sup_add(p, &sp, cmd); /* takes cmd */
                        if (r < 0)
                                snprintf(err, sizeof(err), "%s", pk_strerror(r));
                }
                if (r < 0)
                        logf_("daemon-reload: %s %s/%s: %s",
                              nd->kind == PK_SV_TREE_SUP    ? "supervisor"
                              : nd->kind == PK_SV_TREE_UNIT ? "unit"
                                                            : "tree worker",
                              nd->parent, nd->id, err);
        }
        free(dead);
        free(fresh);
        pk_sv_tree_free(o);
        trees_reorder(sv);
}

/* Applies news[i] over sv->trees[i] for every tree file.  Takes news[]. */
static void trees_apply(struct sv *sv, struct pk_sv_tree **news)
{
        for (int i = 0; i < sv->nconfigs; i++) {
                struct pk_sv_tree *n = news[i];
                news[i] = NULL;
                if (sv->trees && sv->trees[i] && n)
                        tree_apply(sv, i, n);
                else
                        pk_sv_tree_free(n);
        }
}

/* ---- events ------------------------------------------------------------------------------ */

static void svc_removed(struct sv *sv, struct svc *s);

static void on_event(void *ud, const struct pk_sup_event *ev)
{
        struct sv *sv = ud;
        if (ev->kind == PK_SUP_EV_ORPHAN) {
                hook_exited(sv, ev->pid, &ev->exit);
                return;
        }
        if (ev->kind == PK_SUP_EV_EXITED)
                logf_("%s: %s pid %d status %d", ev->id, pk_sup_event_name(ev->kind), (int)ev->pid,
                      pk_exit_shell(&ev->exit));
        else if (ev->kind == PK_SUP_EV_SUP_DOWN)
                logf_("supervisor %s down (%s)", ev->sup_name ? ev->sup_name : "",
                      pk_sup_reason_name(ev->reason));
        else
                logf_("%s: %s%s%s%s%s", ev->id, pk_sup_event_name(ev->kind),
                      ev->reason ? " reason " : "",
                      ev->reason ? pk_sup_reason_name(ev->reason) : "", ev->text[0] ? " " : "",
                      ev->text);
        struct svc *s = ev->id[0] ? find(sv, ev->id, strlen(ev->id)) : NULL;
        if (s) {
                if (ev->kind == PK_SUP_EV_RUNNING || ev->kind == PK_SUP_EV_MAINPID)
                        s->mainpid = ev->pid;
                if (ev->kind == PK_SUP_EV_RUNNING)
                        s->stop_ran = 0; /* a new run: its stop runs ExecStop= anew */
                if (ev->kind == PK_SUP_EV_READY && s->u->service.exec_start_post.n)
                        hook_start(sv, s, HOOK_POST, 0);
                /* An exit a stop made (state stopping): the stop hook's STOPPED
                 * phase runs ExecStopPost= (sv_stop_hook), holding the stop. */
                if (ev->kind == PK_SUP_EV_EXITED)
                        s->mainpid = 0;
                if (ev->kind == PK_SUP_EV_EXITED && ev->state != PK_SUP_STOPPING) {
                        if (s->u->service.exec_stop_post.n && s->hook < 0)
                                hook_start(sv, s, HOOK_STOPPOST, 0);
                        else if (s->u->service.exec_stop_post.n && s->hook != HOOK_STOPPOST)
                                s->stoppost_pending = 1; /* after the chain that runs */
                }
                /* The event's state is the one at emission; ask for the current one. */
                struct pk_sup_child_info ci;
                if (s->removing && pk_sup_child_info(SUP_OF(sv, s), s->name, &ci) == 0 &&
                    (ci.state == PK_SUP_DOWN || ci.state == PK_SUP_FAILED))
                        svc_removed(sv, s);
        }
        if (ev->id[0] && sv->n_tree_ops)
                tree_ops_advance(sv, ev->sup, ev->id);
        if (ev->kind == PK_SUP_EV_SUP_DOWN && ev->sup == sv->sup)
                pk_loop_stop(sv->loop); /* a tree file's supervisor going down is an event */
        /* Push to watchers (none, as at a start: nothing to encode). */
        struct client *w = sv->clients;
        while (w && !w->watch)
                w = w->next;
        if (!w)
                return;
        struct pk_etf_buf b;
        pk_etf_buf_init(&b, PK_SV_MAX_REPLY);
        pk_etf_put_version(&b);
        pk_etf_put_tuple(&b, 2);
        put_atom(&b, "event");
        pk_etf_put_map(&b, 6);
        put_atom(&b, "kind");
        put_atom(&b, pk_sup_event_name(ev->kind));
        put_atom(&b, "unit");
        put_bin(&b, ev->id);
        put_atom(&b, "state");
        put_atom(&b, pk_sup_state_name(ev->state));
        put_atom(&b, "pid");
        pk_etf_put_int(&b, ev->pid);
        put_atom(&b, "reason");
        put_atom(&b, pk_sup_reason_name(ev->reason));
        put_atom(&b, "text");
        put_bin(&b, ev->text);
        for (struct client *c = w, *next; c; c = next) {
                next = c->next;
                if (c->watch)
                        client_send(c, &b);
        }
        pk_etf_buf_free(&b);
}

/* ---- daemon-reload --------------------------------------------------------------------- */

static void svc_removed(struct sv *sv, struct svc *s)
{
        int r = s->sup_gone ? 0 : pk_sup_remove_child(SUP_OF(sv, s), s->name);
        if (r < 0 && r != -ENOENT)
                return; /* still running: a later event retries */
        for (size_t i = 0; i < sv->n; i++) {
                if (sv->svcs[i]->stop_for == s)
                        sv->svcs[i]->stop_for = NULL; /* its stop is gone with it */
                if (sv->svcs[i]->restart_with == s)
                        sv->svcs[i]->restart_with = NULL;
        }
        if (s->stop_for) {
                struct svc *x = s->stop_for;
                s->stop_for = NULL;
                if (x->stop_wait > 0 && --x->stop_wait == 0)
                        stop_finish(sv, x);
        }
        s->in_sup = 0;
        s->removing = 0;
        struct svc *rep = s->replacement;
        s->replacement = NULL;
        (void)pk__htab_del(&sv->by_name, pk__hash_str(s->name), s);
        if (rep) /* room: one was just removed */
                (void)pk__htab_put(&sv->by_name, pk__hash_str(rep->name), rep);
        for (size_t i = 0; i < sv->n; i++) {
                if (sv->svcs[i] != s)
                        continue;
                if (rep) {
                        sv->svcs[i] = rep;
                } else {
                        for (size_t j = i; j + 1 < sv->n; j++)
                                sv->svcs[j] = sv->svcs[j + 1];
                        sv->n--;
                }
                break;
        }
        svc_free(s);
        if (rep) {
                report_notes(rep);
                (void)svc_add(sv, rep);
                if (rep->sup)
                        trees_reorder(sv); /* a tree's unit: back in its place */
        }
}

static void svc_retire(struct sv *sv, struct svc *s, struct svc *replacement)
{
        s->removing = 1;
        s->replacement = replacement;
        struct pk_sup_child_info ci;
        if (pk_sup_child_info(SUP_OF(sv, s), s->name, &ci) == 0 &&
            (ci.state == PK_SUP_DOWN || ci.state == PK_SUP_FAILED)) {
                svc_removed(sv, s);
                return;
        }
        (void)pk_sup_stop_child(SUP_OF(sv, s), s->name);
        if (pk_sup_child_info(SUP_OF(sv, s), s->name, &ci) == 0 &&
            (ci.state == PK_SUP_DOWN || ci.state == PK_SUP_FAILED))
                svc_removed(sv, s);
}

static int daemon_reload(struct sv *sv, struct reload_report *rep, char *err, size_t errsz)
{
        struct load_set ls = {0};
        sk_reload_begin(sv->sk); /* socket units: a diff, in place once all is loaded */
        int r = load_all(sv, &ls, err, errsz);
        if (r < 0) {
                sk_reload_abort(sv->sk);
                return r;
        }
        /* A loaded unit whose file is still there stays (re-read), whether the
         * configuration names it or it was started on demand or disabled since:
         * a reload is not a stop.  A unit whose file is gone is removed. */
        const char *dirs[SV_MAX_DIRS * 2 + 8];
        search_dirs(sv, dirs, sizeof(dirs) / sizeof(dirs[0]));
        for (size_t i = 0; i < sv->n; i++) {
                if (sv->svcs[i]->sup)
                        continue; /* a tree file's unit: re-read with its tree (trees_read) */
                size_t before = ls.n;
                char sub[512];
                r = load_one(sv, sv->svcs[i]->name, dirs, &ls, sub, sizeof(sub));
                if (r == -ENOENT)
                        continue; /* its file is gone: removed */
                if (r < 0) {
                        snprintf(err, errsz, "%s", sub);
                        load_set_clear(&ls);
                        sk_reload_abort(sv->sk);
                        return r;
                }
                for (size_t k = before; k < ls.n; k++)
                        ls.v[k]->on_demand = 1;
        }
        /* Tree files too, and the units they name, before anything changes. */
        struct pk_sv_tree **news = calloc((size_t)sv->nconfigs + 1, sizeof(struct pk_sv_tree *));
        if (!news) {
                load_set_clear(&ls);
                sk_reload_abort(sv->sk);
                return -ENOMEM;
        }
        if ((r = trees_read(sv, &ls, news, err, errsz)) < 0) {
                for (int i = 0; i < sv->nconfigs; i++)
                        pk_sv_tree_free(news[i]);
                free(news);
                load_set_clear(&ls);
                sk_reload_abort(sv->sk);
                return r;
        }
        sk_reload_commit(sv->sk);
        sv->rep = rep;
        unsigned kept = 0, changed = 0, added = 0, removed = 0, notadded = 0;
        /* Removed and changed first. */
        for (size_t i = sv->n; i-- > 0;) {
                struct svc *s = sv->svcs[i];
                struct svc *n = NULL;
                if (s->sup)
                        continue; /* a tree's unit: its tree is diffed below */
                n = svc_named(&ls.by_name, s->name);
                if (n) {
                        ls.v[n->ls_slot] = NULL;
                        (void)pk__htab_del(&ls.by_name, pk__hash_str(n->name), n);
                        if (n->hash == s->hash) {
                                svc_free(n);
                                kept++;
                                report_add(sv, REP_KEPT, "", s->name);
                                continue;
                        }
                        changed++;
                } else {
                        removed++;
                }
                report_add(sv, n ? REP_RESTARTED : REP_REMOVED, "", s->name);
                logf_("daemon-reload: %s %s", s->name,
                      n ? "changed: restarting" : "removed: stopping");
                svc_retire(sv, s, n);
        }
        for (size_t j = 0; j < ls.n; j++) {
                struct svc *s = ls.v[j];
                ls.v[j] = NULL;
                if (!s)
                        continue;
                if ((r = svc_push(sv, s)) < 0) {
                        names_error(err, errsz, s->name, r);
                        logf_("daemon-reload: not added: %s", err);
                        svc_free(s);
                        notadded++;
                        continue;
                }
                added++;
                logf_("daemon-reload: %s added: starting", s->name);
                report_add(sv, REP_ADDED, "", s->name);
                report_notes(s);
                (void)svc_add(sv, s);
        }
        load_set_clear(&ls); /* its services were moved or freed */
        logf_("daemon-reload: %u unchanged, %u changed, %u added, %u removed", kept, changed, added,
              removed);
        trees_apply(sv, news);
        free(news);
        sv->rep = NULL;
        for (int k = 0; k < REP_N; k++)
                if (rep->n[k])
                        logf_("daemon-reload: %s (%u): %s", report_what[k], rep->n[k],
                              rep->names[k]);
        return notadded ? -E2BIG : 0; /* err names the last one */
}

/* ---- requests -------------------------------------------------------------------------- */

static int read_log_tail(const char *dir, const char *name, long n, char **ret, size_t *ret_len)
{
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s.log", dir, name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        struct stat st;
        if (fstat(fd, &st) < 0) {
                close(fd);
                return -errno;
        }
        size_t want = (size_t)st.st_size > (1u << 20) ? (1u << 20) : (size_t)st.st_size;
        char *buf = malloc(want + 1);
        if (!buf) {
                close(fd);
                return -ENOMEM;
        }
        ssize_t got = pread(fd, buf, want, st.st_size - (off_t)want);
        close(fd);
        if (got < 0) {
                free(buf);
                return -EIO;
        }
        size_t len = (size_t)got, start = len;
        long lines = 0;
        while (start > 0) {
                if (buf[start - 1] == '\n' && start != len && ++lines >= n)
                        break;
                start--;
        }
        memmove(buf, buf + start, len - start);
        *ret = buf;
        *ret_len = len - start;
        return 0;
}

static int term_text(const struct pk_term *t, const char **s, size_t *len);

/* enable / disable / is_enabled {Verb, Unit}: the links of the config directory. */
static void enable_request(struct sv *sv, const char *verb, const struct pk_term *arg,
                           struct pk_etf_buf *b)
{
        const char *s = NULL;
        size_t l = 0;
        char name[256];
        if (!arg || term_text(arg, &s, &l) < 0 || l == 0 || l >= sizeof(name)) {
                pk_etf_put_tuple(b, 2);
                put_atom(b, "error");
                put_bin(b, "badarg: a unit name is needed");
                return;
        }
        snprintf(name, sizeof(name), "%.*s", (int)l, s);
        const char *dirs[SV_MAX_DIRS * 2 + 8];
        search_dirs(sv, dirs, sizeof(dirs) / sizeof(dirs[0]));
        struct pk_unit_opts uo = {.dirs = dirs, .host = unit_host()};
        pk_etf_put_tuple(b, 2);
        if (strcmp(verb, "is_enabled") == 0) {
                put_atom(b, "ok");
                put_bin(b, pk_sv_enabled_state(name, &uo));
                return;
        }
        char msg[4096];
        int r = pk_sv_enable(sv->config_dir, name, &uo, verb[0] == 'e', msg, sizeof(msg));
        if (r < 0) {
                char e[512];
                snprintf(e, sizeof(e), "%s %s in %s: %s", verb, name, sv->config_dir,
                         pk_strerror(r));
                logf_("%s", e);
                put_atom(b, "error");
                put_bin(b, e);
                return;
        }
        size_t ml = strlen(msg);
        logf_("%s %s: %.*s", verb, name, (int)(ml && msg[ml - 1] == '\n' ? ml - 1 : ml),
              msg[0] ? msg : "nothing to do");
        put_atom(b, "ok");
        put_bin(b, msg);
}

/* A unit asked for by name that is not loaded (enabled since, or never
 * enabled): loaded now and handed to the supervisor, which starts it. */
static struct svc *load_on_demand(struct sv *sv, const char *s, size_t l)
{
        char name[256];
        if (l == 0 || l >= sizeof(name) - 8)
                return NULL;
        snprintf(name, sizeof(name), "%.*s%s", (int)l, s, memchr(s, '.', l) ? "" : ".service");
        const char *dirs[SV_MAX_DIRS * 2 + 8];
        search_dirs(sv, dirs, sizeof(dirs) / sizeof(dirs[0]));
        struct load_set ls = {0};
        char err[1024] = "";
        if (load_one(sv, name, dirs, &ls, err, sizeof(err)) < 0 || ls.n == 0) {
                if (err[0])
                        logf_("%s", err);
                load_set_clear(&ls);
                return NULL;
        }
        struct svc *got = NULL;
        for (size_t i = 0; i < ls.n; i++) {
                struct svc *n = ls.v[i];
                int r = find(sv, n->name, strlen(n->name))
                            ? 1 /* what it pulls in that runs already */
                            : svc_push(sv, n);
                if (r != 0) {
                        if (r < 0) {
                                names_error(err, sizeof(err), n->name, r);
                                logf_("not loaded on demand: %s", err);
                        }
                        ls.v[i] = svc_free(n);
                        continue;
                }
                n->on_demand = 1;
                if (strcmp(n->name, name) == 0)
                        got = n;
        }
        /* What it pulls in first, so that its dependencies name known children. */
        for (size_t i = ls.n; i-- > 0;) {
                struct svc *n = ls.v[i];
                ls.v[i] = NULL; /* moved to sv */
                if (!n)
                        continue;
                logf_("loaded %s (%s) on demand", n->name,
                      n->u->fragment_path ? n->u->fragment_path : "");
                report_notes(n);
                (void)svc_add(sv, n);
        }
        load_set_clear(&ls);
        return got;
}

/* {start, "x.target"}: starts every service the target pulls in (loading
 * those not loaded); targets have no state of their own. */
static void start_target(struct sv *sv, const char *s, size_t l, struct pk_etf_buf *b)
{
        char name[256];
        snprintf(name, sizeof(name), "%.*s", (int)(l < 255 ? l : 255), s);
        const char *dirs[SV_MAX_DIRS * 2 + 8];
        search_dirs(sv, dirs, sizeof(dirs) / sizeof(dirs[0]));
        struct pk_unit_opts uo = {.dirs = dirs, .host = unit_host()};
        struct pk_sv_names got = {0};
        int r = pk_sv_target_services(name, &uo, &got);
        int failed = 0;
        for (size_t i = 0; i < got.n; i++) {
                struct svc *x = find(sv, got.v[i], strlen(got.v[i]));
                if (!x)
                        x = load_on_demand(sv, got.v[i], strlen(got.v[i]));
                if (!x || (pk_sup_start_child(SUP_OF(sv, x), x->name) < 0 && x->in_sup == 0))
                        failed++;
        }
        size_t ng = got.n;
        pk_sv_names_free(&got);
        if (r == 0 && ng == 0)
                r = -ENOENT;
        if (r < 0 || failed) {
                char e[300];
                if (r < 0)
                        names_error(e, sizeof(e), name, r);
                else
                        snprintf(e, sizeof(e), "%s: some of its units could not be loaded", name);
                pk_etf_put_tuple(b, 2);
                put_atom(b, "error");
                put_bin(b, e);
                return;
        }
        logf_("started %s (%zu units)", name, ng);
        put_atom(b, "ok");
}

static int term_text(const struct pk_term *t, const char **s, size_t *len)
{
        if (t->type == PK_TERM_BINARY && t->v.bin.bits == 8) {
                *s = (const char *)t->v.bin.data;
                *len = t->v.bin.size;
                return 0;
        }
        if (t->type == PK_TERM_STRING) {
                *s = (const char *)t->v.string.bytes;
                *len = t->v.string.len;
                return 0;
        }
        if (t->type == PK_TERM_ATOM) {
                *s = t->v.atom.name;
                *len = t->v.atom.len;
                return 0;
        }
        return -EINVAL;
}

/* A status/list name: a loaded service (*x) or else a socket unit (*k >= 0).
 * 0 when it is neither. */
static int pick_unit(struct sv *sv, const struct pk_term *t, struct svc **x, long *k)
{
        const char *s;
        size_t l;
        *x = NULL;
        *k = -1;
        if (term_text(t, &s, &l) < 0)
                return 0;
        if ((*x = find(sv, s, l)))
                return 1;
        *k = sk_find(sv->sk, s, l);
        return *k >= 0;
}

static void handle(struct client *c, const struct pk_term *req)
{
        struct sv *sv = c->sv;
        const struct pk_term *verb = req, *arg = NULL, *arg2 = NULL;
        if (req->type == PK_TERM_TUPLE && req->v.tuple.arity >= 1) {
                verb = &req->v.tuple.elems[0];
                if (req->v.tuple.arity >= 2)
                        arg = &req->v.tuple.elems[1];
                if (req->v.tuple.arity >= 3)
                        arg2 = &req->v.tuple.elems[2];
        }
        if (verb->type != PK_TERM_ATOM) {
                reply_simple(c, "error",
                             "badarg: a request is an atom or a tuple starting with one");
                return;
        }
        char vname[32];
        snprintf(vname, sizeof(vname), "%.*s", (int)(verb->v.atom.len < 31 ? verb->v.atom.len : 31),
                 verb->v.atom.name);
        static const char *const readonly[] = {"status", "list",       "log", "watch",
                                               "ping",   "is_enabled", NULL};
        int ro = 0;
        for (size_t i = 0; readonly[i]; i++)
                if (strcmp(vname, readonly[i]) == 0)
                        ro = 1;
        if (!ro && !c->control) {
                logf_("refused %s from uid %u pid %d: not root nor in the control group", vname,
                      (unsigned)c->cred.uid, (int)c->cred.pid);
                reply_simple(c, "error", "permission denied");
                return;
        }
        struct pk_etf_buf b;
        pk_etf_buf_init(&b, PK_SV_MAX_REPLY);
        pk_etf_put_version(&b);
        if (strcmp(vname, "ping") == 0) {
                put_atom(&b, "pong");
        } else if (strcmp(vname, "list") == 0 || strcmp(vname, "status") == 0) {
                int status = vname[0] == 's';
                /* status takes a list of names (or none: all): every name is
                 * checked first; services are listed, then socket units. */
                const struct pk_term *names = arg && arg->type == PK_TERM_LIST ? arg : NULL;
                size_t nl = names ? names->v.list.len : sv->n + sk_count(sv->sk);
                struct svc *x;
                long k;
                for (uint32_t i = 0; names && i < names->v.list.len; i++) {
                        if (!pick_unit(sv, &names->v.list.elems[i], &x, &k)) {
                                pk_etf_buf_reset(&b);
                                pk_etf_put_version(&b);
                                pk_etf_put_tuple(&b, 2);
                                put_atom(&b, "error");
                                put_bin(&b, "no such unit");
                                goto send;
                        }
                }
                pk_etf_put_tuple(&b, 2);
                put_atom(&b, "ok");
                if (nl)
                        pk_etf_put_list(&b, (uint32_t)nl);
                for (size_t i = 0; i < (names ? names->v.list.len : sv->n); i++) {
                        x = names ? NULL : sv->svcs[i];
                        if (names && !pick_unit(sv, &names->v.list.elems[i], &x, &k))
                                continue;
                        if (x && status)
                                put_status(sv, &b, x);
                        else if (x)
                                put_bin(&b, x->name);
                }
                for (size_t i = 0; i < (names ? names->v.list.len : sk_count(sv->sk)); i++) {
                        x = NULL;
                        k = (long)i;
                        if (names && (!pick_unit(sv, &names->v.list.elems[i], &x, &k) || x))
                                continue;
                        if (status)
                                sk_put_status(sv->sk, &b, (size_t)k);
                        else
                                put_bin(&b, sk_name(sv->sk, (size_t)k));
                }
                pk_etf_put_nil(&b);
        } else if (strcmp(vname, "watch") == 0) {
                c->watch = 1;
                put_atom(&b, "ok");
        } else if (strcmp(vname, "shutdown") == 0) {
                put_atom(&b, "ok");
                if (!sv->shutting_down) {
                        sv->shutting_down = 1;
                        logf_("shutdown requested by uid %u pid %d", (unsigned)c->cred.uid,
                              (int)c->cred.pid);
                        (void)pk_sup_shutdown(sv->sup);
                }
        } else if (strcmp(vname, "enable") == 0 || strcmp(vname, "disable") == 0 ||
                   strcmp(vname, "is_enabled") == 0) {
                enable_request(sv, vname, arg, &b);
        } else if (strcmp(vname, "daemon_reload") == 0) {
                char err[1024] = "";
                struct reload_report rep;
                memset(&rep, 0, sizeof(rep));
                int r = daemon_reload(sv, &rep, err, sizeof(err));
                if (r < 0) {
                        logf_("daemon-reload refused: %s", err);
                        pk_etf_put_tuple(&b, 2);
                        put_atom(&b, "error");
                        put_bin(&b, err);
                } else {
                        /* {ok, <<"kept: a, b\nrestarted: ...\n...">>}: what it did */
                        char text[REP_N * 1100] = "";
                        size_t used = 0;
                        for (int k = 0; k < REP_N; k++) {
                                if (!rep.n[k])
                                        continue;
                                int w = snprintf(text + used, sizeof(text) - used, "%s (%u): %s\n",
                                                 report_what[k], rep.n[k], rep.names[k]);
                                if (w > 0 && used + (size_t)w < sizeof(text))
                                        used += (size_t)w;
                        }
                        pk_etf_put_tuple(&b, 2);
                        put_atom(&b, "ok");
                        put_bin(&b, text);
                }
        } else {
                const char *s = NULL;
                size_t l = 0;
                struct svc *x = NULL;
                if (arg && term_text(arg, &s, &l) == 0)
                        x = find(sv, s, l);
                long k = !x && arg && s ? sk_find(sv->sk, s, l) : -1;
                if (k >= 0) { /* a socket unit: start, stop, restart (supervise_socket.c) */
                        int r = sk_control(sv->sk, (size_t)k, vname);
                        if (r < 0) {
                                pk_etf_put_tuple(&b, 2);
                                put_atom(&b, "error");
                                put_bin(&b, r == -EOPNOTSUPP ? "not supported for a socket unit"
                                                             : pk_strerror(r));
                        } else {
                                put_atom(&b, "ok");
                        }
                        goto send;
                }
                if (!x && arg && strcmp(vname, "start") == 0 && l > 7 &&
                    memcmp(s + l - 7, ".target", 7) == 0) {
                        start_target(sv, s, l, &b); /* what the target wants */
                        goto send;
                }
                if (!x && arg && (strcmp(vname, "start") == 0 || strcmp(vname, "restart") == 0))
                        x = load_on_demand(sv, s, l); /* e.g. after `enable` */
                if (!x) {
                        pk_etf_put_tuple(&b, 2);
                        put_atom(&b, "error");
                        put_bin(&b, arg ? "no such unit" : "badarg: a unit name is needed");
                        goto send;
                }
                int r = 0;
                struct pk_sup_child_info ci;
                memset(&ci, 0, sizeof(ci));
                (void)pk_sup_child_info(SUP_OF(sv, x), x->name, &ci);
                int running = ci.state == PK_SUP_READY || ci.state == PK_SUP_STARTING;
                if (strcmp(vname, "start") == 0) {
                        r = pk_sup_start_child(SUP_OF(sv, x), x->name);
                        if (r == -EALREADY)
                                r = 0;
                } else if (strcmp(vname, "stop") == 0) {
                        stop_request(sv, x, STOP_STOP, c->id);
                        goto out; /* answered when every ExecStop= is done */
                } else if (strcmp(vname, "reset_failed") == 0) {
                        r = pk_sup_reset_child(SUP_OF(sv, x), x->name);
                        if (r == -EALREADY)
                                r = 0; /* not failed: nothing to reset, as systemctl */
                } else if (strcmp(vname, "restart") == 0 ||
                           (strcmp(vname, "try_restart") == 0 && running)) {
                        stop_request(sv, x, STOP_RESTART, c->id);
                        goto out; /* ExecStop= first, as a stop */
                } else if (strcmp(vname, "try_restart") == 0) {
                        r = 0;
                } else if (strcmp(vname, "reload") == 0) {
                        if (!running) {
                                r = -ESRCH;
                        } else if (x->u->service.exec_reload.n) {
                                hook_start(sv, x, HOOK_RELOAD, c->id);
                                propagate_reload(sv, x);
                                goto out;
                        } else {
                                r = -EOPNOTSUPP;
                        }
                } else if (strcmp(vname, "kill") == 0) {
                        int64_t sig = SIGTERM;
                        if (arg2 && arg2->type == PK_TERM_INT)
                                sig = arg2->v.i;
                        r = (sig < 1 || sig > 64)
                                ? -EINVAL
                                : pk_sup_signal_child(SUP_OF(sv, x), x->name, (int)sig);
                } else if (strcmp(vname, "log") == 0) {
                        int64_t n = 10;
                        if (arg2 && arg2->type == PK_TERM_INT)
                                n = arg2->v.i;
                        char *text = NULL;
                        size_t len = 0;
                        r = sv->log_dir ? read_log_tail(sv->log_dir, x->name, (long)n, &text, &len)
                                        : -ENOENT;
                        if (r == 0) {
                                pk_etf_put_tuple(&b, 2);
                                put_atom(&b, "ok");
                                pk_etf_put_binary(&b, text, len);
                                free(text);
                                goto send;
                        }
                } else {
                        pk_etf_put_tuple(&b, 2);
                        put_atom(&b, "error");
                        put_bin(&b, "unknown request");
                        goto send;
                }
                if (r < 0) {
                        pk_etf_put_tuple(&b, 2);
                        put_atom(&b, "error");
                        put_bin(&b, pk_strerror(r));
                } else {
                        put_atom(&b, "ok");
                }
        }
send:
        client_send(c, &b);
out:
        pk_etf_buf_free(&b);
}

/* ---- clients: input ------------------------------------------------------------------- */

/* Whether the peer is in group gid: its gid (SO_PEERCRED) or one of its
 * supplementary groups (SO_PEERGROUPS), both as they were at connect(). */
static int peer_in_group(int fd, const struct pk_fd_cred *cred, gid_t gid)
{
        if (cred->gid == gid)
                return 1;
        gid_t small[64];
        gid_t *g = small;
        socklen_t len = sizeof(small);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) < 0) {
                /* ERANGE gives the size; the kernel caps a process at 65536 groups. */
                if (errno != ERANGE || len > 65536 * sizeof(gid_t) || !(g = malloc(len)))
                        return 0;
                if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) < 0)
                        len = 0;
        }
        int in = 0;
        for (size_t i = 0; i < len / sizeof(gid_t) && !in; i++)
                in = g[i] == gid;
        if (g != small)
                free(g);
        return in;
}

static void client_free(struct client *c)
{
        if (!c->dead) {
                pk_loop_io_stop(&c->io);
                close(c->fd);
        }
        pk_deframer_free(c->df);
        pk__dynbuf_free(&c->out);
        free(c);
}

static void reap_clients(struct pk_loop_defer *d)
{
        struct sv *sv = d->w.ctx;
        for (struct client *c = sv->graveyard, *next; c; c = next) {
                next = c->next;
                client_free(c);
        }
        sv->graveyard = NULL;
}

/* Drops a client: closed and unlinked now, freed on the next loop pass, so that
 * callers up the stack may still look at c->dead. */
static void client_drop(struct client *c, const char *why)
{
        struct sv *sv = c->sv;
        if (c->dead)
                return;
        if (why)
                logf_("control: dropping client uid %u pid %d: %s", (unsigned)c->cred.uid,
                      (int)c->cred.pid, why);
        for (struct client **pp = &sv->clients; *pp; pp = &(*pp)->next)
                if (*pp == c) {
                        *pp = c->next;
                        break;
                }
        sv->nclients--;
        client_undirty(c);
        pk_loop_io_stop(&c->io);
        close(c->fd);
        c->fd = -1;
        c->dead = 1;
        c->next = sv->graveyard;
        sv->graveyard = c;
        (void)pk_loop_defer_start(&sv->reap, reap_clients);
}

static void client_io(struct pk_loop_io *io, unsigned revents)
{
        struct client *c = io->w.ctx;
        struct sv *sv = c->sv;
        if (revents & PK_LOOP_WRITE) {
                client_flush(c);
                if (c->dead)
                        return;
        }
        if (!(revents & (PK_LOOP_READ | PK_LOOP_HUP | PK_LOOP_ERROR)))
                return;
        void *space;
        size_t len;
        if (pk_deframer_space(c->df, 0, &space, &len) < 0) {
                client_drop(c, "frame too large");
                return;
        }
        if (len > 65536)
                len = 65536;
        ssize_t n = recv(c->fd, space, len, MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return;
        if (n <= 0) {
                client_drop(c, NULL);
                return;
        }
        pk_deframer_commit(c->df, (size_t)n);
        /* Peer credentials are checked on every request: read them again. */
        struct pk_packet_msg m;
        int r;
        int budget = 64; /* requests per wake-up, so one client cannot hog the loop */
        while (budget-- > 0 && (r = pk_deframer_next(c->df, &m)) == 1) {
                if (pk_fd_peercred(c->fd, &c->cred) == 0)
                        c->control = c->cred.uid == 0 || c->cred.uid == geteuid() ||
                                     (sv->have_gid && peer_in_group(c->fd, &c->cred, sv->ctl_gid));
                pk_arena *a = pk_arena_new(1 << 20);
                struct pk_term *t = NULL;
                struct pk_etf_decode_opts o = {
                    .max_depth = 32, .max_size = 1 << 20, .flags = PK_ETF_NO_FUNS};
                int dr = a ? pk_etf_decode(a, m.data, m.len, &o, &t, NULL, NULL) : -ENOMEM;
                if (dr < 0) {
                        reply_simple(c, "error", "badarg: not an ETF term");
                        pk_arena_free(a);
                        client_drop(c, "garbage frame");
                        return;
                }
                handle(c, t);
                pk_arena_free(a);
                if (c->dead)
                        return;
        }
        if (budget > 0 && r == PK_EFRAMESIZE)
                client_drop(c, "frame too large");
}

static void accept_cb(struct pk_loop_io *io, unsigned revents)
{
        struct sv *sv = io->w.ctx;
        (void)revents;
        for (int i = 0; i < 16; i++) {
                int fd = pk_fd_accept(sv->lis.fd, PK_FD_NONBLOCK);
                if (fd < 0)
                        return;
                struct pk_fd_cred cred = {0};
                (void)pk_fd_peercred(fd, &cred);
                if (sv->nclients >= PK_SV_MAX_CLIENTS) {
                        logf_("control: too many clients, refusing uid %u pid %d",
                              (unsigned)cred.uid, (int)cred.pid);
                        close(fd);
                        continue;
                }
                struct client *c = calloc(1, sizeof(*c));
                struct pk_framing f = {
                    .kind = PK_FRAMING_PACKET, .arg = 4, .max_message = PK_SV_MAX_REQUEST};
                if (!c || pk_deframer_new(&f, &c->df) < 0) {
                        free(c);
                        close(fd);
                        continue;
                }
                c->fd = fd;
                pk__dynbuf_init(&c->out, PK_SV_MAX_QUEUE, 0);
                c->sv = sv;
                c->cred = cred;
                c->id = ++sv->next_client_id;
                pk_loop_io_init(sv->loop, &c->io, fd);
                c->io.w.ctx = c;
                if (pk_loop_io_start(&c->io, PK_LOOP_READ, client_io) < 0) {
                        pk_deframer_free(c->df);
                        free(c);
                        close(fd);
                        continue;
                }
                pk_loop_unref(&c->io.w);
                c->next = sv->clients;
                sv->clients = c;
                sv->nclients++;
        }
}

/* ---- main --------------------------------------------------------------------------------- */

/* Moves ls->v[from ..] into the services of tree supervisor @parent and adds
 * them to it, what each pulls in first (a service loaded already stays where
 * it runs).  0, or the first error with its message in @err. */
static int tree_adopt(struct sv *sv, struct load_set *ls, size_t from, struct pk_sup *parent,
                      char *err, size_t errsz)
{
        int r = 0;
        /* ls->v[from .. moved) are sv's now (NULL: ran already, freed); the rest stays ls's. */
        size_t moved = from;
        for (; moved < ls->n; moved++) {
                struct svc *n = ls->v[moved];
                if (find(sv, n->name, strlen(n->name))) {
                        ls->v[moved] = svc_free(n);
                        continue;
                }
                if ((r = svc_push(sv, n)) < 0) {
                        names_error(err, errsz, n->name, r);
                        break;
                }
                n->sup = parent;
        }
        /* What it pulls in first (its dependencies must name known children). */
        for (size_t i = moved; i-- > from;) {
                struct svc *n = ls->v[i];
                ls->v[i] = NULL;
                if (!n || r < 0)
                        continue;
                logf_("loaded %s (%s) into a tree", n->name,
                      n->u->fragment_path ? n->u->fragment_path : "");
                report_notes(n);
                if ((r = svc_add(sv, n)) < 0)
                        snprintf(err, errsz, "%s: %s", n->name, pk_strerror(r));
        }
        return r;
}

/* A tree file's {unit, Name} child: loaded as a service (with what it pulls
 * in) and added to the tree's supervisor @parent. */
static int tree_add_unit(void *ud, struct pk_sup *parent, const char *name, char *err, size_t errsz)
{
        struct sv *sv = ud;
        if (find(sv, name, strlen(name))) {
                snprintf(err, errsz, "already loaded (a unit runs in one place)");
                return -EEXIST;
        }
        const char *dirs[SV_MAX_DIRS * 2 + 8];
        search_dirs(sv, dirs, sizeof(dirs) / sizeof(dirs[0]));
        struct load_set ls = {0};
        int r = load_one(sv, name, dirs, &ls, err, errsz);
        if (r == 0 && ls.n == 0) {
                snprintf(err, errsz, "not a service");
                r = -EINVAL;
        }
        if (r == 0)
                r = tree_adopt(sv, &ls, 0, parent, err, errsz);
        load_set_clear(&ls);
        return r;
}

static const char sv_usage[] =
    "usage: portkit supervise [--control PATH] [--log-dir DIR] [--strict] [--unit-path DIR]...\n"
    "                         [--control-group GROUP] [--cgroup auto|on|off]\n"
    "                         [--tmpfiles auto|on|off] [--tmpfiles-root DIR]\n"
    "                         [--reclaim auto|off] CONFIG...\n"
    "Runs systemd service units in the foreground (PID 1 capable).  CONFIG is a unit name,\n"
    "a unit file, a directory of unit files (with default.target or *.target.wants/: what\n"
    "default.target wants), or a .tree file of OTP supervisors in Erlang terms.\n"
    "The control socket (default " PK_SV_DEFAULT_CONTROL ")\n"
    "takes `portkit ctl` requests.  SIGTERM/SIGINT stop everything; SIGHUP is daemon-reload.\n";

static void on_hup(void *ud)
{
        struct sv *sv = ud;
        char err[1024] = "";
        struct reload_report rep;
        memset(&rep, 0, sizeof(rep));
        if (daemon_reload(sv, &rep, err, sizeof(err)) < 0)
                logf_("daemon-reload (SIGHUP) refused: %s", err);
}

static int sv_main(int argc, char **argv)
{
        struct sv sv_, *sv = &sv_;
        memset(sv, 0, sizeof(*sv));
        sv->lis.fd = -1;
        sv->control = PK_SV_DEFAULT_CONTROL;
        sv->cgroup = PK_SUP_CGROUP_AUTO;
        sv->reclaim = 1;
        enum { OPT_RECLAIM = 0x100 };
        static const struct option lo[] = {{"control", required_argument, NULL, 'c'},
                                           {"log-dir", required_argument, NULL, 'l'},
                                           {"strict", no_argument, NULL, 's'},
                                           {"unit-path", required_argument, NULL, 'u'},
                                           {"control-group", required_argument, NULL, 'g'},
                                           {"cgroup", required_argument, NULL, 'C'},
                                           {"tmpfiles", required_argument, NULL, 'T'},
                                           {"tmpfiles-root", required_argument, NULL, 'R'},
                                           {"reclaim", required_argument, NULL, OPT_RECLAIM},
                                           {NULL, 0, NULL, 0}};
        int o;
        optind = 1;
        while ((o = getopt_long(argc, argv, "+c:l:su:g:C:T:R:", lo, NULL)) != -1) {
                switch (o) {
                case 'c':
                        sv->control = optarg;
                        break;
                case 'l':
                        sv->log_dir = optarg;
                        break;
                case 's':
                        sv->strict = 1;
                        break;
                case 'u':
                        if (sv->n_unit_path == SV_MAX_DIRS) {
                                pk_cli_error("supervise", "more than %d --unit-path (the limit)",
                                             SV_MAX_DIRS);
                                return PK_CLI_EXIT_USAGE;
                        }
                        sv->unit_path[sv->n_unit_path++] = optarg;
                        break;
                case 'C':
                        if (strcmp(optarg, "auto") == 0) {
                                sv->cgroup = PK_SUP_CGROUP_AUTO;
                        } else if (strcmp(optarg, "on") == 0) {
                                sv->cgroup = PK_SUP_CGROUP_ON;
                        } else if (strcmp(optarg, "off") == 0) {
                                sv->cgroup = PK_SUP_CGROUP_OFF;
                        } else {
                                fputs(sv_usage, stderr);
                                return PK_CLI_EXIT_USAGE;
                        }
                        break;
                case 'T':
                        if (pk_sv_tmpfiles_mode(optarg, &sv->tmpfiles) < 0) {
                                fputs(sv_usage, stderr);
                                return PK_CLI_EXIT_USAGE;
                        }
                        break;
                case 'R':
                        sv->tmpfiles_root = optarg;
                        break;
                case OPT_RECLAIM:
                        if (strcmp(optarg, "auto") != 0 && strcmp(optarg, "off") != 0) {
                                fputs(sv_usage, stderr);
                                return PK_CLI_EXIT_USAGE;
                        }
                        sv->reclaim = strcmp(optarg, "auto") == 0;
                        break;
                case 'g': {
                        struct group *g = getgrnam(optarg);
                        if (!g) {
                                pk_cli_error("supervise", "no such group: %s", optarg);
                                return PK_CLI_EXIT_USAGE;
                        }
                        sv->ctl_gid = g->gr_gid;
                        sv->have_gid = 1;
                        break;
                }
                default:
                        fputs(sv_usage, stderr);
                        return PK_CLI_EXIT_USAGE;
                }
        }
        if (optind >= argc) {
                fputs(sv_usage, stderr);
                return PK_CLI_EXIT_USAGE;
        }
        sv->configs = argv + optind;
        sv->nconfigs = argc - optind;
        ssize_t l = readlink("/proc/self/exe", sv->self_exe, sizeof(sv->self_exe) - 1);
        if (l <= 0) {
                pk_cli_error("supervise", "cannot find my own executable");
                return PK_CLI_EXIT_SYSTEM;
        }
        sv->self_exe[l] = '\0';
        raise_nofile();
        if (sv->log_dir)
                (void)mkdir(sv->log_dir, 0755);
        /* `enable` links into the first CONFIG directory, else the first
         * --unit-path, else /etc/systemd/system (as systemctl). */
        const char *sd[SV_MAX_DIRS * 2 + 8];
        search_dirs(sv, sd, sizeof(sd) / sizeof(sd[0]));
        sv->config_dir = sd[0] ? sd[0] : "/etc/systemd/system";

        /* Before any socket is bound or unit started: what a killed instance
         * left running would hold its ports and data. */
        if (sv->reclaim && pk_sv_reclaim() < 0)
                return PK_CLI_EXIT_SYSTEM;
        struct load_set ls = {0};
        char err[1024] = "";
        int rc = PK_CLI_EXIT_SYSTEM;
        int r = sk_set_new(sv->self_exe, sv->log_dir, sv->strict, &sv->sk);
        if (r < 0) {
                pk_cli_error("supervise", "%s", pk_strerror(r));
                return PK_CLI_EXIT_SYSTEM;
        }
        r = load_all(sv, &ls, err, sizeof(err));
        if (r < 0) {
                pk_cli_error("supervise", "%s", err);
                sv->sk = sk_set_free(sv->sk);
                return PK_CLI_EXIT_BADINPUT;
        }
        sv->svcs = ls.v; /* sv owns the services, the array and the index now */
        sv->n = ls.n;
        sv->cap = ls.cap;
        sv->by_name = ls.by_name;
        /* before any unit starts, as systemd-tmpfiles-setup.service */
        if (pk_sv_tmpfiles(sv->tmpfiles, sv->tmpfiles_root, sv->strict, unit_host()) < 0) {
                rc = PK_CLI_EXIT_BADINPUT;
                goto out;
        }
        if ((r = pk_loop_new(&sv->loop)) < 0) {
                pk_cli_error("supervise", "loop: %s", pk_strerror(r));
                goto out;
        }
        /* The services' cgroups go under one of this instance's own, so that two
         * supervisors in one cgroup never share "supervise.<unit>" (one's stop
         * would kill the other's service). */
        if (sv->cgroup != PK_SUP_CGROUP_OFF) {
                char cgname[64];
                snprintf(cgname, sizeof(cgname), PK_SV_INSTANCE_PREFIX "%ld", (long)getpid());
                r = pk_cgroup_create(NULL, cgname, &sv->inst_cg);
                if (r < 0 && sv->cgroup == PK_SUP_CGROUP_ON) {
                        pk_cli_error("supervise", "cgroup %s: %s", cgname, pk_strerror(r));
                        goto out;
                }
                /* held for life: what tells a reclaim this instance is live */
                if (sv->inst_cg && (r = pk_sv_instance_lock(sv->inst_cg)) < 0) {
                        pk_cli_error("supervise",
                                     "cgroup %s: %s (a live supervise of another pid namespace "
                                     "has the same name: give each its own cgroup)",
                                     pk_cgroup_path(sv->inst_cg), pk_strerror(r));
                        /* closed, not freed: that would rmdir the other one's
                         * directory when it is empty */
                        sv->inst_cg = pk_cgroup_close(sv->inst_cg);
                        goto out;
                }
        }
        struct pk_sup_opts so = {.name = "supervise",
                                 .intensity = 1000,
                                 .period_ms = 1000,
                                 .cgroup = sv->cgroup,
                                 .cgroup_parent = pk_cgroup_path(sv->inst_cg),
                                 /* PID 1's end is the namespace's: the kernel kills them */
                                 .orphan_signal = getpid() != 1 ? SIGKILL : 0};
        if ((r = pk_sup_new(sv->loop, &so, &sv->sup)) < 0) {
                pk_cli_error("supervise", "supervisor: %s", pk_strerror(r));
                goto out;
        }
        (void)pk_sup_subscribe(sv->sup, on_event, sv);
        for (size_t i = 0; i < sv->n; i++) {
                logf_("loaded %s (%s)", sv->svcs[i]->name,
                      sv->svcs[i]->u->fragment_path ? sv->svcs[i]->u->fragment_path : "");
                report_notes(sv->svcs[i]);
                if (svc_add(sv, sv->svcs[i]) < 0) {
                        rc = PK_CLI_EXIT_BADINPUT;
                        goto out;
                }
        }
        struct pk_fd_unix_opts uo = {
            .flags = PK_FD_NONBLOCK, .dir_mode = 0755, .socket_mode = 0666};
        if ((r = pk_fd_unix_listen(sv->control, SOCK_STREAM, &uo, &sv->lis)) < 0) {
                pk_cli_error("supervise", "control socket %s: %s", sv->control, pk_strerror(r));
                goto out;
        }
        pk_loop_defer_init(sv->loop, &sv->reap);
        sv->reap.w.ctx = sv;
        pk_loop_defer_init(sv->loop, &sv->flush);
        sv->flush.w.ctx = sv;
        pk_loop_io_init(sv->loop, &sv->lio, sv->lis.fd);
        sv->lio.w.ctx = sv;
        /* Referenced: the daemon runs until shutdown, even with every unit down. */
        (void)pk_loop_io_start(&sv->lio, PK_LOOP_READ, accept_cb);
        if ((r = pk_sup_reaper(sv->sup, 0, on_hup, sv)) < 0) {
                pk_cli_error("supervise", "reaper mode: %s", pk_strerror(r));
                goto out;
        }
        sv->tenv = (struct pk_sv_tree_env){.loop = sv->loop,
                                           .log_dir = sv->log_dir,
                                           .cgroup = sv->cgroup,
                                           .cgroup_parent = pk_cgroup_path(sv->inst_cg),
                                           .add_unit = tree_add_unit,
                                           .ud = sv};
        for (int i = 0; i < sv->nconfigs; i++) {
                if (!ends_with(sv->configs[i], ".tree"))
                        continue;
                if (!sv->trees &&
                    !(sv->trees = calloc((size_t)sv->nconfigs, sizeof(struct pk_sv_tree *)))) {
                        pk_cli_error("supervise", "%s", pk_strerror(-ENOMEM));
                        rc = PK_CLI_EXIT_BADINPUT;
                        goto out;
                }
                if (pk_sv_tree_load(sv->configs[i], &sv->tenv, sv->sup, &sv->trees[i], err,
                                    sizeof(err)) < 0) {
                        pk_cli_error("supervise", "%s", err);
                        rc = PK_CLI_EXIT_BADINPUT;
                        goto out;
                }
                logf_("loaded tree %s", sv->configs[i]);
        }
        char cyc[256] = "";
        if ((r = pk_sup_start(sv->sup, cyc, sizeof(cyc))) < 0) {
                pk_cli_error("supervise", "start: %s %s", pk_strerror(r), cyc);
                rc = PK_CLI_EXIT_BADINPUT;
                goto out;
        }
        if ((r = sk_start(sv->sk, sv->loop, sv->sup)) < 0) {
                pk_cli_error("supervise", "sockets: %s", pk_strerror(r));
                goto out;
        }
        logf_("running %zu units and %zu sockets as pid %d%s, control socket %s", sv->n,
              sk_count(sv->sk), (int)getpid(), getpid() == 1 ? " (init)" : "", sv->control);
        (void)pk_loop_run(sv->loop);
        struct pk_sup_status st;
        memset(&st, 0, sizeof(st));
        (void)pk_sup_state(sv->sup, &st);
        rc = st.exit_status;
        logf_("stopped");
out:
        if (sv->lis.fd >= 0) { /* the last replies (shutdown's ok) and events */
                pk_loop_defer_stop(&sv->flush);
                flush_clients(&sv->flush);
        }
        for (struct client *c = sv->clients, *next; c; c = next) {
                next = c->next;
                client_free(c);
        }
        sv->clients = NULL;
        if (sv->lis.fd >= 0)
                pk_loop_defer_stop(&sv->reap);
        for (struct client *c = sv->graveyard, *next; c; c = next) {
                next = c->next;
                client_free(c);
        }
        sv->graveyard = NULL;
        if (sv->lis.fd >= 0) {
                pk_loop_io_stop(&sv->lio);
                pk_fd_unix_listener_close(&sv->lis);
        }
        sv->sk = sk_set_free(sv->sk); /* Accept=yes instances leave the supervisor first */
        sv->sup = pk_sup_free(sv->sup);
        sv->inst_cg = pk_cgroup_free(sv->inst_cg); /* removed once empty */
        for (size_t i = 0; i < sv->n; i++)
                svc_free(sv->svcs[i]);
        free(sv->svcs);
        pk__htab_free(&sv->by_name);
        for (int i = 0; sv->trees && i < sv->nconfigs; i++)
                pk_sv_tree_free(sv->trees[i]);
        free(sv->trees);
        for (size_t i = 0; i < sv->n_tree_ops; i++)
                pk_cmd_free(sv->tree_ops[i].cmd);
        free(sv->tree_ops);
        pk_loop_free(sv->loop);
        return rc;
}

static const struct pk_cli_command cmd_supervise = {
    .name = "supervise",
    .summary = "run systemd service units under a supervisor (PID 1 capable)",
    .usage = sv_usage,
    .main = sv_main,
};
PK_CLI_COMMAND(cmd_supervise)
