/* SPDX-License-Identifier: MIT */
/* A loaded service unit turned into a supervisor child: the pk_sup spec (restart
 * policy, readiness, stop sequence, dependencies) and the pk_cmd (credentials,
 * environment, limits, standard streams), plus the sentences naming what is
 * not enforced.  The Exec*= work sup cannot express (ExecStartPre=, oneshot,
 * forking) goes through a helper program given by the caller. */
#include "common/dynbuf.h"
#include "unit_int.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* The unit-exec helper's readiness pipe (Type=oneshot/forking): above every
 * descriptor a socket-activated child can get (listen fds and the fd store,
 * 3 .. 3 + 2 * PK_SUP_MAX_FDS - 1), so LISTEN_FDS start at 3 as
 * sd_listen_fds(3) expects.  The "--ready-fd=259" argument says the same. */
#define HELPER_READY_FD (3 + 2 * PK_SUP_MAX_FDS)
_Static_assert(HELPER_READY_FD == 259, "--ready-fd=259 below");

/* The private side of pk_unit_child: the storage the spec's pointers use. */
struct child_priv {
        struct pk_unit_child pub;
        char id[PK_SUP_ID_MAX + 1];
        int success[PK_SUP_MAX_SUCCESS];
        int no_restart[PK_SUP_MAX_SUCCESS];
        char **deps[7]; /* requires, wants, after, binds_to, conflicts, before, part_of */
        char *log_dir;
        size_t notes_cap;
};

static void strv_free(char **v)
{
        if (!v)
                return;
        for (char **p = v; *p; p++)
                free(*p);
        free(v);
}

static int note(struct child_priv *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int note(struct child_priv *c, const char *fmt, ...)
{
        struct pk_unit_strv *n = &c->pub.notes;
        if (pk__array_grow((void **)&n->v, &c->notes_cap, n->n + 2, sizeof(char *), 8) < 0)
                return -ENOMEM;
        char buf[512];
        va_list ap;
        va_start(ap, fmt);
        /* the analyzer flags a variadic function analysed on its own */
        // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized)
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        char *s = strdup(buf);
        if (!s)
                return -ENOMEM;
        n->v[n->n++] = s;
        n->v[n->n] = NULL;
        return 0;
}

static void set_err(struct pk_unit_error *e, int code, const struct pk_unit *u, const char *key,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void set_err(struct pk_unit_error *e, int code, const struct pk_unit *u, const char *key,
                    const char *fmt, ...)
{
        if (!e)
                return;
        memset(e, 0, sizeof(*e));
        e->code = code;
        snprintf(e->file, sizeof(e->file), "%s", u->fragment_path ? u->fragment_path : "");
        snprintf(e->key, sizeof(e->key), "%s", key ? key : "");
        va_list ap;
        va_start(ap, fmt);
        // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized)
        vsnprintf(e->message, sizeof(e->message), fmt, ap);
        va_end(ap);
}

/* Standard output and error (input stays /dev/null unless the unit says more). */
static int apply_stdio(struct pk_cmd *cmd, const struct pk_unit_stdio *s, int fd,
                       struct child_priv *c, const char *key)
{
        switch (s->kind) {
        case PK_UNIT_STDIO_NULL:
                return pk_cmd_fd_null(cmd, fd);
        case PK_UNIT_STDIO_FILE:
                return pk_cmd_fd_file(cmd, fd, s->path, O_WRONLY | O_CREAT, 0644);
        case PK_UNIT_STDIO_APPEND:
                return pk_cmd_fd_file(cmd, fd, s->path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        case PK_UNIT_STDIO_TRUNCATE:
                return pk_cmd_fd_file(cmd, fd, s->path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        case PK_UNIT_STDIO_JOURNAL:
        case PK_UNIT_STDIO_INHERIT:
                return 0; /* the log capture (spec.log_dir), or the supervisor's own */
        default:
                return c ? note(c, "%s= of this kind (tty, socket, fd:) is not enforced: inherited",
                                key)
                         : 0;
        }
}

/* Standard input.  Each command gets its own: data is a fresh sealed memfd
 * at every spawn and a file is opened again, as systemd does. */
static int apply_stdin(struct pk_cmd *cmd, const struct pk_unit_exec_ctx *x, struct child_priv *c)
{
        switch (x->std_input.kind) {
        case PK_UNIT_STDIO_NULL:
                return pk_cmd_fd_null(cmd, 0);
        case PK_UNIT_STDIO_DATA: /* no data: /dev/null (systemd's fixup_input) */
                return pk_cmd_fd_data(cmd, 0, x->input_data, x->input_data_len);
        case PK_UNIT_STDIO_FILE:
                return pk_cmd_fd_file(cmd, 0, x->std_input.path, O_RDONLY, 0);
        case PK_UNIT_STDIO_SOCKET:
                return 0; /* the caller's (an Accept=yes connection) */
        default:
                return c ? note(c, "StandardInput= of this kind (tty, fd:) is not enforced: "
                                   "inherited")
                         : 0;
        }
}

/* Whether we hold CAP_SYS_RESOURCE (bit 24 of CapEff), needed to raise hard limits. */
static bool have_sys_resource(void)
{
        FILE *f = fopen("/proc/self/status", "re");
        if (!f)
                return true;
        char line[256];
        bool yes = true;
        while (fgets(line, sizeof(line), f)) {
                unsigned long long caps;
                if (sscanf(line, "CapEff: %llx", &caps) == 1) {
                        yes = (caps >> 24) & 1;
                        break;
                }
        }
        fclose(f);
        return yes;
}

/* The supervisor's own oom_score_adj, or 0 when it cannot be read. */
static int own_oom_score_adj(void)
{
        FILE *f = fopen("/proc/self/oom_score_adj", "re");
        if (!f)
                return 0;
        int v = 0;
        if (fscanf(f, "%d", &v) != 1)
                v = 0;
        fclose(f);
        return v;
}

/* The exec context every command of the unit shares; `flags` are the line's prefixes. */
static int apply_ctx(struct pk_cmd *cmd, const struct pk_unit *u, unsigned flags,
                     struct child_priv *c)
{
        const struct pk_unit_exec_ctx *x = &u->exec;
        int r = 0;
        bool creds =
            !(flags & (PK_UNIT_EXEC_PRIVILEGED | PK_UNIT_EXEC_NO_SETUID | PK_UNIT_EXEC_AMBIENT));
        if (creds && x->user && (r = pk_cmd_user(cmd, x->user)) < 0)
                return r;
        if (creds && x->group && (r = pk_cmd_group(cmd, x->group)) < 0)
                return r;
        if (creds && x->supplementary_groups.n) {
                gid_t g[64];
                size_t n = 0;
                for (size_t i = 0; i < x->supplementary_groups.n && n < 64; i++) {
                        struct group *gr = getgrnam(x->supplementary_groups.v[i]);
                        if (!gr)
                                return PK_ENOGROUP;
                        g[n++] = gr->gr_gid;
                }
                if ((r = pk_cmd_groups(cmd, g, n)) < 0)
                        return r;
        }
        if (x->working_directory && !x->working_directory_optional &&
            (r = pk_cmd_cwd(cmd, x->working_directory)) < 0)
                return r;
        char wd_seen[PATH_MAX * 2] = "";
        if (x->working_directory && x->working_directory_optional)
                snprintf(wd_seen, sizeof(wd_seen), "%s%s",
                         x->root_directory ? x->root_directory : "", x->working_directory);
        if (x->working_directory && x->working_directory_optional && access(wd_seen, X_OK) == 0 &&
            (r = pk_cmd_cwd(cmd, x->working_directory)) < 0)
                return r;
        if (x->working_directory_home && x->user) {
                struct passwd *pw = getpwnam(x->user);
                if (pw && (r = pk_cmd_cwd(cmd, pw->pw_dir)) < 0)
                        return r;
        }
        if ((r = pk_cmd_umask(cmd, (mode_t)x->umask)) < 0)
                return r;
        if (x->nice_set && (r = pk_cmd_nice(cmd, x->nice)) < 0)
                return r;
        if (x->oom_score_adjust_set) {
                /* Lowering it takes CAP_SYS_RESOURCE: without it (a container) the
                 * unit keeps ours, as systemd does, and the note says so. */
                int own = own_oom_score_adj();
                if (x->oom_score_adjust < own && !have_sys_resource()) {
                        if (c && (r = note(c,
                                           "OOMScoreAdjust=%d not applied: lowering it needs "
                                           "CAP_SYS_RESOURCE (the supervisor's %d is kept)",
                                           x->oom_score_adjust, own)) < 0)
                                return r;
                } else if ((r = pk_cmd_oom_score_adj(cmd, x->oom_score_adjust)) < 0) {
                        return r;
                }
        }
        if (x->io_class >= 0 &&
            (r = pk_cmd_ioprio(cmd, x->io_class, x->io_priority >= 0 ? x->io_priority : 4)) < 0)
                return r;
        if (x->cpu_policy >= 0) {
                int pol = x->cpu_policy;
                if (x->cpu_reset_on_fork)
                        pol |= 0x40000000; /* SCHED_RESET_ON_FORK */
                if ((r = pk_cmd_sched(cmd, pol, x->cpu_priority >= 0 ? x->cpu_priority : 0)) < 0)
                        return r;
        }
        for (int i = 0; i < PK_UNIT_NLIMITS; i++) {
                const struct pk_unit_rlimit *l = &x->limits[i];
                if (!l->set)
                        continue;
                unsigned long long s = l->soft == PK_UNIT_INFINITY ? PK_RLIM_INFINITY : l->soft;
                unsigned long long h = l->hard == PK_UNIT_INFINITY ? PK_RLIM_INFINITY : l->hard;
                /* Without CAP_SYS_RESOURCE a hard limit cannot be raised: the unit
                 * gets ours (as in a container), and the note says so. */
                struct rlimit cur;
                if (!have_sys_resource() && getrlimit(i, &cur) == 0 &&
                    cur.rlim_max != RLIM_INFINITY && h > cur.rlim_max) {
                        if (c && (r = note(c,
                                           "Limit (resource %d) %llu clamped to the "
                                           "supervisor's hard limit %llu",
                                           i, h, (unsigned long long)cur.rlim_max)) < 0)
                                return r;
                        h = cur.rlim_max;
                        if (s > h)
                                s = h;
                }
                if ((r = pk_cmd_rlimit(cmd, i, s, h)) < 0)
                        return r;
        }
        if (x->no_new_privileges && !(flags & PK_UNIT_EXEC_PRIVILEGED) &&
            (r = pk_cmd_no_new_privs(cmd)) < 0)
                return r;
        if (creds && x->bounding_set_set &&
            (r = pk_cmd_cap_bounding(cmd, x->capability_bounding_set)) < 0)
                return r;
        if (creds && x->ambient_capabilities &&
            (r = pk_cmd_ambient_caps(cmd, x->ambient_capabilities)) < 0)
                return r;
        /* IgnoreSIGPIPE=no: a fresh exec's default disposition already. */
        if (x->ignore_sigpipe && (r = pk_cmd_signal_ignore(cmd, SIGPIPE)) < 0)
                return r;
        if ((r = apply_stdin(cmd, x, c)) < 0)
                return r;
        if ((r = apply_stdio(cmd, &x->std_output, 1, c, "StandardOutput")) < 0)
                return r;
        if (x->std_error.kind == PK_UNIT_STDIO_INHERIT &&
            x->std_output.kind != PK_UNIT_STDIO_JOURNAL &&
            x->std_output.kind != PK_UNIT_STDIO_INHERIT)
                return pk_cmd_fd_same_as(cmd, 2, 1);
        return apply_stdio(cmd, &x->std_error, 2, c, "StandardError");
}

static int set_env(struct pk_cmd *cmd, const char *const *env)
{
        int r = pk_cmd_env_clear(cmd);
        for (size_t i = 0; r == 0 && env && env[i]; i++) {
                const char *eq = strchr(env[i], '=');
                if (!eq)
                        continue;
                char key[256];
                size_t kl = (size_t)(eq - env[i]);
                if (kl == 0 || kl >= sizeof(key))
                        continue;
                memcpy(key, env[i], kl);
                key[kl] = '\0';
                r = pk_cmd_env_set(cmd, key, eq + 1);
        }
        return r;
}

/* ExecSearchPath=: where a bare command name is looked up (only there). */
static int set_search_path(struct pk_cmd *cmd, const struct pk_unit *u)
{
        char *dirs = pk__unit_search_path(u, "");
        if (!dirs)
                return -ENOMEM;
        int r = pk_cmd_search_path(cmd, dirs);
        free(dirs);
        return r;
}

/* One Exec line as a command; c (or NULL) collects the notes of what is clamped. */
static int exec_cmd(const struct pk_unit *u, const struct pk_unit_exec *e, const char *const *env,
                    struct child_priv *c, struct pk_cmd **ret)
{
        char **argv = NULL;
        int r = pk_unit_exec_expand(e, env, &argv);
        if (r < 0)
                return r;
        struct pk_cmd *cmd = NULL;
        r = pk_cmd_new(e->path, &cmd);
        if (r == 0 && argv[0] && (e->flags & PK_UNIT_EXEC_ARGV0))
                r = pk_cmd_argv0(cmd, argv[0]);
        if (r == 0 && argv[0])
                r = pk_cmd_args(cmd, (const char *const *)argv + 1);
        if (r == 0)
                r = set_env(cmd, env);
        if (r == 0 && u->exec.exec_search_path.n && !strchr(e->path, '/'))
                r = set_search_path(cmd, u);
        if (r == 0)
                r = apply_ctx(cmd, u, e->flags, c);
        /* RootDirectory= as systemd applies it: to every command but the
         * '+'-prefixed (full privileges) ones. */
        if (r == 0 && u->exec.root_directory && !(e->flags & PK_UNIT_EXEC_PRIVILEGED))
                r = pk_cmd_chroot(cmd, u->exec.root_directory);
        pk_unit_strv_free(argv);
        if (r < 0) {
                pk_cmd_free(cmd);
                return r;
        }
        *ret = cmd;
        return 0;
}

int pk_unit_exec_cmd(const struct pk_unit *u, const struct pk_unit_exec *e, const char *const *env,
                     struct pk_cmd **ret)
{
        if (!u || !e || !ret)
                return -EINVAL;
        return exec_cmd(u, e, env, NULL, ret);
}

/* The helper's argument protocol: "--pre FLAGS ARGC PATH ARGV..." per command. */
static int helper_cmd_args(struct pk_cmd *cmd, const char *opt, const struct pk_unit_exec *e,
                           const char *const *env)
{
        char **argv = NULL;
        int r = pk_unit_exec_expand(e, env, &argv);
        if (r < 0)
                return r;
        size_t argc = 0;
        while (argv[argc])
                argc++;
        char fl[16], ac[24];
        snprintf(fl, sizeof(fl), "%u", e->flags);
        snprintf(ac, sizeof(ac), "%zu", argc);
        if ((r = pk_cmd_arg(cmd, opt)) == 0 && (r = pk_cmd_arg(cmd, fl)) == 0 &&
            (r = pk_cmd_arg(cmd, ac)) == 0 && (r = pk_cmd_arg(cmd, e->path)) == 0)
                r = pk_cmd_args(cmd, (const char *const *)argv);
        pk_unit_strv_free(argv);
        return r;
}

static const char *const dir_base[PK_UNIT_DIR_COUNT] = {"/run", "/var/lib", "/var/cache",
                                                        "/var/log", "/etc"};

static int make_dirs(const struct pk_unit *u, const struct pk_unit_child_opts *o,
                     struct pk_unit_error *reterr)
{
        uid_t uid = (uid_t)-1;
        gid_t gid = (gid_t)-1;
        if (u->exec.user) {
                struct passwd *pw = getpwnam(u->exec.user);
                if (!pw) {
                        set_err(reterr, PK_ENOUSER, u, "User", "no such user: %s", u->exec.user);
                        return PK_ENOUSER;
                }
                uid = pw->pw_uid;
                gid = pw->pw_gid;
        }
        if (u->exec.group) {
                struct group *gr = getgrnam(u->exec.group);
                if (!gr) {
                        set_err(reterr, PK_ENOGROUP, u, "Group", "no such group: %s",
                                u->exec.group);
                        return PK_ENOGROUP;
                }
                gid = gr->gr_gid;
        }
        for (int k = 0; k < PK_UNIT_DIR_COUNT; k++) {
                const struct pk_unit_dirs *d = &u->exec.dirs[k];
                for (size_t i = 0; i < d->names.n; i++) {
                        char path[4096];
                        int n =
                            snprintf(path, sizeof(path), "%s%s/%s", o->dir_root ? o->dir_root : "",
                                     dir_base[k], d->names.v[i]);
                        if (n < 0 || (size_t)n >= sizeof(path))
                                return -ENAMETOOLONG;
                        /* Parents as root with 0755, the leaf with the unit's owner and mode. */
                        for (char *p = path + 1; *p; p++) {
                                if (*p != '/')
                                        continue;
                                *p = '\0';
                                if (mkdir(path, 0755) < 0 && errno != EEXIST) {
                                        int e = -errno;
                                        *p = '/';
                                        set_err(reterr, e, u, "RuntimeDirectory", "mkdir %s: %s",
                                                path, strerror(-e));
                                        return e;
                                }
                                *p = '/';
                        }
                        if (mkdir(path, d->mode) < 0 && errno != EEXIST) {
                                int e = -errno;
                                set_err(reterr, e, u, "RuntimeDirectory", "mkdir %s: %s", path,
                                        strerror(-e));
                                return e;
                        }
                        if (chmod(path, d->mode) < 0 ||
                            ((uid != (uid_t)-1 || gid != (gid_t)-1) && chown(path, uid, gid) < 0)) {
                                int e = -errno;
                                set_err(reterr, e, u, "RuntimeDirectory", "%s: %s", path,
                                        strerror(-e));
                                return e;
                        }
                }
        }
        return 0;
}

static int copy_deps(struct child_priv *c, int slot, const struct pk_unit_strv *a,
                     const struct pk_unit_strv *b, const char *const **out)
{
        size_t n = a->n + (b ? b->n : 0);
        if (n == 0)
                return 0;
        /* All of them (the file bounds the list): a caller keeps the units it
         * runs, and pk_sup_add refuses more than PK_SUP_MAX_DEPS, never a silent cut. */
        char **v = calloc(n + 1, sizeof(char *));
        if (!v)
                return -ENOMEM;
        c->deps[slot] = v;
        size_t k = 0;
        for (size_t i = 0; i < a->n && k < n; i++)
                if (!(v[k++] = strdup(a->v[i])))
                        return -ENOMEM;
        for (size_t i = 0; b && i < b->n && k < n; i++)
                if (!(v[k++] = strdup(b->v[i])))
                        return -ENOMEM;
        *out = (const char *const *)v;
        return 0;
}

/* Longest delay or window handed to sup (its limit is 2^40 ms). */
#define MAX_POLICY_MS ((uint64_t)1 << 39)

static int64_t policy_ms(uint64_t ms)
{
        return (int64_t)(ms == PK_UNIT_INFINITY || ms > MAX_POLICY_MS ? MAX_POLICY_MS : ms);
}

/* RestartSec=, RestartSteps=/RestartMaxDelaySec= and StartLimitIntervalSec=/
 * StartLimitBurst= as the child's own backoff and start limit: systemd waits
 * RestartSec= before every restart (no jitter, no "stable" reset), and a unit
 * started more than StartLimitBurst= times within StartLimitIntervalSec= fails
 * alone. */
static int map_restart_policy(struct child_priv *c, const struct pk_unit *u)
{
        const struct pk_unit_service *s = &u->service;
        struct pk_sup_child_spec *sp = &c->pub.spec;
        int r;
        sp->backoff_base_ms = s->restart_ms ? policy_ms(s->restart_ms) : -1; /* 0: at once */
        sp->backoff_cap_ms = sp->backoff_base_ms > 0 ? sp->backoff_base_ms : 0;
        if (s->restart_steps > 0 && s->restart_ms > 0 &&
            s->restart_max_delay_ms != PK_UNIT_INFINITY &&
            s->restart_max_delay_ms > s->restart_ms) {
                /* systemd climbs from RestartSec= to RestartMaxDelaySec= in
                 * RestartSteps= geometric steps: sup's backoff_steps. */
                sp->backoff_cap_ms = policy_ms(s->restart_max_delay_ms);
                sp->backoff_steps = s->restart_steps > 100000 ? 100000 : s->restart_steps;
        } else if (s->restart_steps > 0 &&
                   (r = note(c, "RestartSteps= without a non-zero RestartSec= and a finite "
                                "RestartMaxDelaySec= above it has no effect (as in systemd)")) <
                       0) {
                return r;
        }
        sp->backoff_reset_ms = -1;
        sp->jitter_pct = -1;
        /* StartLimitIntervalSec=0 or StartLimitBurst=0 turn the limit off. */
        if (u->start_limit_interval_ms && u->start_limit_burst) {
                sp->start_limit_burst =
                    u->start_limit_burst > 100000 ? 100000 : (int)u->start_limit_burst;
                sp->start_limit_interval_ms = policy_ms(u->start_limit_interval_ms);
        }
        return 0;
}

/* The first exit code >= from in the set, or 256.  An empty byte of the
 * bitmap skips its 8 codes: most units list none, and testing the 256 codes
 * one by one twice a unit was 4% of supervise's start. */
static int next_status(const struct pk_unit_status_set *set, int from)
{
        for (int code = from; code < 256; code++) {
                if (code % 8 == 0 && set->status[code / 8] == 0) {
                        code += 7;
                        continue;
                }
                if (pk_unit_status_has(set, code, 0))
                        return code;
        }
        return 256;
}

static int map_service(struct child_priv *c, const struct pk_unit *u,
                       const struct pk_unit_child_opts *o)
{
        const struct pk_unit_service *s = &u->service;
        struct pk_sup_child_spec *sp = &c->pub.spec;
        int r = 0;

        switch (s->restart) {
        case PK_UNIT_RESTART_NO:
                sp->restart = PK_SUP_TEMPORARY;
                break;
        case PK_UNIT_RESTART_ALWAYS:
                sp->restart = PK_SUP_PERMANENT;
                break;
        case PK_UNIT_RESTART_ON_FAILURE:
                sp->restart = PK_SUP_TRANSIENT;
                break;
        /* systemd.service(5)'s table: which ends restart the unit. */
        case PK_UNIT_RESTART_ON_SUCCESS:
                sp->restart = PK_SUP_TRANSIENT;
                sp->restart_on = PK_SUP_RESTART_ON_CLEAN;
                break;
        case PK_UNIT_RESTART_ON_ABNORMAL:
                sp->restart = PK_SUP_TRANSIENT;
                sp->restart_on = PK_SUP_RESTART_ON_SIGNAL | PK_SUP_RESTART_ON_TIMEOUT |
                                 PK_SUP_RESTART_ON_WATCHDOG;
                break;
        case PK_UNIT_RESTART_ON_ABORT:
                sp->restart = PK_SUP_TRANSIENT;
                sp->restart_on = PK_SUP_RESTART_ON_SIGNAL;
                break;
        case PK_UNIT_RESTART_ON_WATCHDOG:
                sp->restart = PK_SUP_TRANSIENT;
                sp->restart_on = PK_SUP_RESTART_ON_WATCHDOG;
                break;
        default:
                sp->restart = PK_SUP_TRANSIENT;
                break;
        }
        /* Exit statuses that count as success. */
        size_t n = 0;
        for (int code = next_status(&s->success_exit_status, 1);
             code < 256 && n < PK_SUP_MAX_SUCCESS;
             code = next_status(&s->success_exit_status, code + 1))
                c->success[n++] = code;
        sp->success_codes = n ? c->success : NULL;
        sp->n_success_codes = n;
        /* systemd's clean signals, and those SuccessExitStatus= adds: a death by
         * one is a normal end (Restart=on-failure does not restart it). */
        sp->success_signals = s->success_exit_status.signals | (UINT64_C(1) << (SIGHUP - 1)) |
                              (UINT64_C(1) << (SIGINT - 1)) | (UINT64_C(1) << (SIGTERM - 1)) |
                              (UINT64_C(1) << (SIGPIPE - 1));
        /* RestartPreventExitStatus= (ssh.service: 255, sshd's fatal errors). */
        const struct pk_unit_status_set *pv = &s->restart_prevent_exit_status;
        n = 0;
        for (int code = next_status(pv, 0); code < 256; code = next_status(pv, code + 1)) {
                if (n == PK_SUP_MAX_SUCCESS) {
                        if ((r = note(c,
                                      "RestartPreventExitStatus=: only the first %d codes "
                                      "are enforced",
                                      PK_SUP_MAX_SUCCESS)) < 0)
                                return r;
                        break;
                }
                c->no_restart[n++] = code;
        }
        sp->no_restart_codes = n ? c->no_restart : NULL;
        sp->n_no_restart_codes = n;
        sp->no_restart_signals = pv->signals;
        const struct pk_unit_status_set *fs = &s->restart_force_exit_status;
        bool force = fs->signals != 0;
        for (size_t i = 0; i < sizeof(fs->status) && !force; i++)
                force = fs->status[i] != 0;
        if (force &&
            (r = note(c, "RestartForceExitStatus= is not enforced: Restart= alone decides")) < 0)
                return r;
        if ((r = map_restart_policy(c, u)) < 0)
                return r;

        /* Stop sequence. */
        sp->stop_signal = u->kill.signal ? u->kill.signal : SIGTERM;
        if (!u->kill.send_sigkill) {
                sp->shutdown = PK_SUP_SHUTDOWN_INFINITY;
        } else {
                /* TimeoutStopSec=0 or infinity: no SIGKILL (systemd.service(5)). */
                sp->shutdown = PK_SUP_SHUTDOWN_TIMEOUT;
                if (s->timeout_stop_ms == PK_UNIT_INFINITY || s->timeout_stop_ms == 0)
                        sp->shutdown = PK_SUP_SHUTDOWN_INFINITY;
                else
                        sp->shutdown_ms = (int64_t)s->timeout_stop_ms;
        }
        if (u->kill.mode == PK_UNIT_KILL_PROCESS || u->kill.mode == PK_UNIT_KILL_NONE) {
                if ((r = note(c, "KillMode=%s: the whole control group is killed at stop",
                              u->kill.mode == PK_UNIT_KILL_NONE ? "none" : "process")) < 0)
                        return r;
        }
        if (u->kill.send_sighup && (r = note(c, "SendSIGHUP= is not enforced")) < 0)
                return r;

        /* Readiness. */
        if (s->timeout_start_ms == PK_UNIT_INFINITY)
                sp->start_timeout_ms = -1;
        else if (s->timeout_start_ms)
                sp->start_timeout_ms = (int64_t)s->timeout_start_ms;
        switch (s->type) {
        case PK_UNIT_TYPE_NOTIFY:
                sp->ready = PK_SUP_READY_NOTIFY;
                sp->notify_access = s->notify_access == PK_UNIT_NOTIFY_ALL    ? PK_SUP_NOTIFY_ALL
                                    : s->notify_access == PK_UNIT_NOTIFY_EXEC ? PK_SUP_NOTIFY_EXEC
                                                                              : PK_SUP_NOTIFY_MAIN;
                if (s->watchdog_ms && s->watchdog_ms != PK_UNIT_INFINITY)
                        sp->watchdog_ms = (int64_t)s->watchdog_ms;
                break;
        case PK_UNIT_TYPE_FORKING:
        case PK_UNIT_TYPE_ONESHOT:
                sp->ready = PK_SUP_READY_FD;
                sp->ready_fd = HELPER_READY_FD;
                if (s->type == PK_UNIT_TYPE_ONESHOT) {
                        /* A oneshot's end is its success: not restarted after that. */
                        if (sp->restart == PK_SUP_PERMANENT)
                                sp->restart = PK_SUP_TRANSIENT;
                        if (s->timeout_start_ms == 90000 || s->timeout_start_ms == 0)
                                sp->start_timeout_ms = -1;
                }
                break;
        default:
                sp->ready = PK_SUP_READY_EXEC;
        }
        if (s->runtime_max_ms != PK_UNIT_INFINITY &&
            (r = note(c, "RuntimeMaxSec= is not enforced")) < 0)
                return r;
        /* Sockets= and the socket units' descriptors are the caller's: it makes the
         * sockets and sets spec.listen_fds (portkit supervise does, supervise_socket.c). */
        /* FDSTORE=1 over sd_notify: the sup layer keeps them across restarts */
        sp->fd_store_max = s->fd_store_max > PK_SUP_MAX_FDS ? PK_SUP_MAX_FDS : s->fd_store_max;
        sp->fd_store_preserve = s->fd_store_preserve == 0   ? PK_SUP_STORE_NO
                                : s->fd_store_preserve == 1 ? PK_SUP_STORE_YES
                                                            : PK_SUP_STORE_RESTART;
        if (s->fd_store_max > PK_SUP_MAX_FDS &&
            (r = note(c, "FileDescriptorStoreMax=%u: at most %d are kept", s->fd_store_max,
                      PK_SUP_MAX_FDS)) < 0)
                return r;
        (void)o;
        return 0;
}

static bool needs_helper(const struct pk_unit *u)
{
        const struct pk_unit_service *s = &u->service;
        return s->exec_start_pre.n || s->exec_condition.n || s->type == PK_UNIT_TYPE_FORKING ||
               s->type == PK_UNIT_TYPE_ONESHOT;
}

static int build_cmd(struct child_priv *c, const struct pk_unit *u,
                     const struct pk_unit_child_opts *o)
{
        const struct pk_unit_service *s = &u->service;
        const char *const *env = (const char *const *)c->pub.env;
        int r;
        if (!needs_helper(u)) {
                if (s->exec_start.n != 1)
                        return -EINVAL;
                return exec_cmd(u, &s->exec_start.v[0], env, c, &c->pub.cmd);
        }
        if (!o->helper || !o->helper[0])
                return -EOPNOTSUPP;
        struct pk_cmd *cmd = NULL;
        if ((r = pk_cmd_new(o->helper[0], &cmd)) < 0)
                return r;
        c->pub.cmd = cmd;
        if (o->helper[1] && (r = pk_cmd_args(cmd, o->helper + 1)) < 0)
                return r;
        if (s->type == PK_UNIT_TYPE_FORKING) {
                char pf[4096];
                const char *p = s->pid_file ? s->pid_file : "";
                if (p[0] && p[0] != '/')
                        snprintf(pf, sizeof(pf), "/run/%s", p);
                else
                        snprintf(pf, sizeof(pf), "%s", p);
                if ((r = pk_cmd_arg(cmd, "--forking")) < 0 || (r = pk_cmd_arg(cmd, pf)) < 0)
                        return r;
        }
        if (s->type == PK_UNIT_TYPE_ONESHOT && (r = pk_cmd_arg(cmd, "--oneshot")) < 0)
                return r;
        if (s->remain_after_exit && (r = pk_cmd_arg(cmd, "--remain")) < 0)
                return r;
        if ((s->type == PK_UNIT_TYPE_FORKING || s->type == PK_UNIT_TYPE_ONESHOT) &&
            (r = pk_cmd_arg(cmd, "--ready-fd=259")) < 0)
                return r;
        if (u->exec.exec_search_path.n) {
                char *dirs = pk__unit_search_path(u, "--search-path=");
                if (!dirs)
                        return -ENOMEM;
                r = pk_cmd_arg(cmd, dirs);
                free(dirs);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < s->exec_condition.n; i++)
                if ((r = helper_cmd_args(cmd, "--condition", &s->exec_condition.v[i], env)) < 0)
                        return r;
        for (size_t i = 0; i < s->exec_start_pre.n; i++)
                if ((r = helper_cmd_args(cmd, "--pre", &s->exec_start_pre.v[i], env)) < 0)
                        return r;
        for (size_t i = 0; i < s->exec_start.n; i++)
                if ((r = helper_cmd_args(cmd, "--start", &s->exec_start.v[i], env)) < 0)
                        return r;
        if ((r = set_env(cmd, env)) < 0)
                return r;
        /* The helper runs with the unit's credentials, so prefixes that ask for
         * other credentials on one line cannot be honoured there. */
        unsigned any = 0;
        for (size_t i = 0; i < s->exec_start_pre.n; i++)
                any |= s->exec_start_pre.v[i].flags;
        for (size_t i = 0; i < s->exec_start.n; i++)
                any |= s->exec_start.v[i].flags;
        if ((any & (PK_UNIT_EXEC_PRIVILEGED | PK_UNIT_EXEC_NO_SETUID)) && u->exec.user &&
            (r = note(c, "the +/! prefixes of ExecStartPre=/ExecStart= run with User= "
                         "(one helper process runs them all)")) < 0)
                return r;
        unsigned main_flags = s->exec_start.n ? s->exec_start.v[0].flags : 0;
        return apply_ctx(cmd, u, main_flags & ~PK_UNIT_EXEC_IGNORE_FAILURE, c);
}

static int deps(struct child_priv *c, const struct pk_unit *u)
{
        struct pk_sup_child_spec *sp = &c->pub.spec;
        const struct pk_unit_deps *d = &u->deps;
        int r;
        if ((r = copy_deps(c, 0, &d->requires_units, &d->requisite, &sp->requires_ids)) < 0 ||
            (r = copy_deps(c, 1, &d->wants, NULL, &sp->wants)) < 0 ||
            (r = copy_deps(c, 2, &d->after, NULL, &sp->after)) < 0 ||
            (r = copy_deps(c, 3, &d->binds_to, NULL, &sp->binds_to)) < 0 ||
            (r = copy_deps(c, 4, &d->conflicts, NULL, &sp->conflicts)) < 0 ||
            (r = copy_deps(c, 5, &d->before, NULL, &sp->before)) < 0 ||
            (r = copy_deps(c, 6, &d->part_of, NULL, &sp->part_of)) < 0)
                return r;
        if (d->upholds.n && (r = note(c, "Upholds= is run as Wants=")) < 0)
                return r;
        if (d->requires_mounts_for.n &&
            (r = note(c, "RequiresMountsFor= is not enforced (no mount units)")) < 0)
                return r;
        if ((d->on_failure.n || d->on_success.n) &&
            (r = note(c, "OnFailure=/OnSuccess= are not enforced")) < 0)
                return r;
        return 0;
}

int pk_unit_to_child(const struct pk_unit *u, const struct pk_unit_child_opts *opts,
                     struct pk_unit_child **ret, struct pk_unit_error *reterr)
{
        static const struct pk_unit_child_opts none;
        if (!u || !ret || u->kind != PK_UNIT_KIND_SERVICE || !u->name)
                return -EINVAL;
        const struct pk_unit_child_opts *o = opts ? opts : &none;
        if (strlen(u->name) > PK_SUP_ID_MAX) {
                set_err(reterr, -EINVAL, u, "", "unit name longer than %d bytes", PK_SUP_ID_MAX);
                return -EINVAL;
        }
        struct child_priv *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        struct pk_unit_child *pub = &c->pub;
        snprintf(c->id, sizeof(c->id), "%s", u->name);
        pub->spec.id = c->id;
        int r = 0;

        /* Environment: what systemd gives every service, then the unit's. */
        char path_env[] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        char user_env[300], home_env[4200], logname_env[300];
        const char *base[6] = {path_env, NULL};
        size_t nb = 1;
        if (u->exec.user) {
                struct passwd *pw = getpwnam(u->exec.user);
                snprintf(user_env, sizeof(user_env), "USER=%s", pw ? pw->pw_name : u->exec.user);
                snprintf(logname_env, sizeof(logname_env), "LOGNAME=%s",
                         pw ? pw->pw_name : u->exec.user);
                base[nb++] = user_env;
                base[nb++] = logname_env;
                if (pw) {
                        snprintf(home_env, sizeof(home_env), "HOME=%s", pw->pw_dir);
                        base[nb++] = home_env;
                }
        }
        base[nb] = NULL;
        r = pk_unit_environment(u, base, o->manager_env, &pub->env, reterr);
        if (r < 0)
                goto fail;
        if (o->create_dirs && (r = make_dirs(u, o, reterr)) < 0)
                goto fail;
        if ((r = map_service(c, u, o)) < 0)
                goto fail;
        if ((r = build_cmd(c, u, o)) < 0) {
                if (r == -EOPNOTSUPP)
                        set_err(reterr, r, u, "Type",
                                "needs the unit-exec helper (ExecStartPre=, oneshot or forking)");
                else if (r == PK_ENOUSER)
                        set_err(reterr, r, u, "User", "no such user: %s",
                                u->exec.user ? u->exec.user : "");
                else if (r == PK_ENOGROUP)
                        set_err(reterr, r, u, "Group", "no such group");
                goto fail;
        }
        if ((r = deps(c, u)) < 0)
                goto fail;
        if (u->exec.std_output.kind == PK_UNIT_STDIO_JOURNAL ||
            u->exec.std_error.kind == PK_UNIT_STDIO_JOURNAL) {
                if (o->log_dir) {
                        if (!(c->log_dir = strdup(o->log_dir))) {
                                r = -ENOMEM;
                                goto fail;
                        }
                        pub->spec.log_dir = c->log_dir;
                }
        }
        if (u->exec.dynamic_user &&
            (r = note(c, "DynamicUser= is not enforced (runs as User= or root)")) < 0)
                goto fail;
        if (u->exec.root_directory && needs_helper(u) &&
            (r = note(c, "RootDirectory= is not enforced with the unit-exec helper "
                         "(ExecStartPre=, oneshot or forking): the helper runs outside it")) < 0)
                goto fail;
        for (size_t i = 0; i < u->not_enforced.n; i++) {
                const struct pk_unit_note *nt = &u->not_enforced.v[i];
                if (nt->key && nt->value && strcmp(nt->key, "StartLimitAction") == 0 &&
                    strcmp(nt->value, "none") == 0)
                        continue; /* the default, and what is done: the unit alone fails */
                if (nt->key && strcmp(nt->key, "OpenFile") == 0) {
                        /* systemd 253's; Debian 12's 252 ignores it as unknown */
                        if ((r = note(c,
                                      "OpenFile=%s (%s:%u) is not enforced (a systemd 253 key; "
                                      "Debian 12 runs 252): no file is opened or passed",
                                      nt->value, nt->file ? nt->file : "", nt->line)) < 0)
                                goto fail;
                        continue;
                }
                if ((r = note(c, "%s=%s (%s:%u) is not enforced", nt->key, nt->value,
                              nt->file ? nt->file : "", nt->line)) < 0)
                        goto fail;
        }
        *ret = pub;
        return 0;
fail:
        pk_unit_child_free(pub);
        return r;
}

struct pk_unit_child *pk_unit_child_free(struct pk_unit_child *pub)
{
        if (!pub)
                return NULL;
        struct child_priv *c = (struct child_priv *)(void *)pub;
        pk_cmd_free(pub->cmd);
        pk_unit_strv_free(pub->env);
        strv_free(pub->notes.v);
        for (size_t i = 0; i < sizeof(c->deps) / sizeof(c->deps[0]); i++)
                strv_free(c->deps[i]);
        free(c->log_dir);
        free(c);
        return NULL;
}
