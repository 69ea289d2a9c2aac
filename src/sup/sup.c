/* SPDX-License-Identifier: MIT */
/* The supervisor's policy engine: child records, the state x event table that
 * decides every transition (s6-supervise's shape), OTP's strategies with
 * restart intensity and escalation, backoff, sequential reverse-order stops,
 * dependencies, and the ordered event queue.  Readiness lives in ready.c,
 * process-tree inspection and reaper mode in proc.c. */
#include "cglog-internal.h"
#include "common/dynbuf.h"
#include "sup-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- defaults (docs/sup.md "Defaults") ---------------------------------- */
#define DEF_INTENSITY 5
#define DEF_PERIOD_MS 30000
#define DEF_BACKOFF_BASE_MS 100
#define DEF_BACKOFF_CAP_MS 30000
#define DEF_BACKOFF_RESET_MS 10000
#define DEF_JITTER_PCT 10
#define DEF_SHUTDOWN_MS 5000
#define DEF_READY_DELAY_MS 1000
#define DEF_START_TIMEOUT_MS 90000
#define MAX_DURATION_MS (INT64_C(1) << 40) /* ~35 years: keeps ns arithmetic in range */

uint64_t pk__sup_now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct pk_sup *pk__sup_root(struct pk_sup *s)
{
        while (s->parent)
                s = s->parent;
        return s;
}

/* ---- names ----------------------------------------------------------------- */

static const char *const state_names[PK_SUP_NSTATES] = {
    "down", "waiting", "starting", "ready", "stopping", "backoff", "failed",
};

const char *pk_sup_state_name(int state)
{
        if (state < 0 || state >= PK_SUP_NSTATES)
                return "?";
        return state_names[state];
}

const char *pk_sup_event_name(int kind)
{
        static const char *const names[] = {
            "?",       "starting", "running", "ready",       "stopping", "exited", "restart",
            "gave-up", "status",   "mainpid", "spawn-error", "sup-down", "orphan", "stopped",
        };
        if (kind < 0 || (size_t)kind >= PK_ARRAY_SIZE(names))
                return "?";
        return names[kind];
}

const char *pk_sup_reason_name(int reason)
{
        static const char *const names[] = {
            "none",       "requested",     "strategy",         "intensity",
            "normal",     "start-timeout", "watchdog",         "spawn",
            "dependency", "auto-shutdown", "child-supervisor", "conflict",
            "signal",     "start-limit",
        };
        if (reason < 0 || (size_t)reason >= PK_ARRAY_SIZE(names))
                return "?";
        return names[reason];
}

/* ---- events ------------------------------------------------------------------ */

/* A queued call of a child's stop hook (never given to subscribers): `state`
 * holds the phase, `delay_ms` the start it belongs to. */
#define EV_HOOK_CALL (-1)

static bool queue_push(struct pk_sup *root, const struct pk_sup_event *ev)
{
        if (pk__array_grow((void **)&root->q, &root->qcap, root->qn + 1, sizeof(*root->q), 32) < 0)
                return false; /* out of memory: the event is lost, the state is not */
        root->q[root->qn++] = *ev;
        return true;
}

static void hook_call(const struct pk_sup_event *ev);

void pk__sup_emit(struct child *c, int kind, int reason, int err, const char *text)
{
        struct pk_sup_event ev;
        memset(&ev, 0, sizeof(ev));
        ev.kind = kind;
        ev.time_ns = pk__sup_now_ns();
        ev.sup = c->sup;
        snprintf(ev.id, sizeof(ev.id), "%s", c->id);
        ev.state = c->state;
        ev.pid = c->mainpid;
        ev.exit = c->last_exit;
        ev.reason = reason;
        ev.err = err;
        ev.restarts = c->restarts;
        if (kind == PK_SUP_EV_RESTART && c->next_restart_ns > ev.time_ns)
                ev.delay_ms = (int64_t)((c->next_restart_ns - ev.time_ns + 999999) / 1000000);
        if (text)
                snprintf(ev.text, sizeof(ev.text), "%s", text);
        (void)queue_push(pk__sup_root(c->sup), &ev);
}

void pk__sup_emit_sup(struct pk_sup *s, int kind, int reason, pid_t pid, const struct pk_exit *ex)
{
        struct pk_sup_event ev;
        memset(&ev, 0, sizeof(ev));
        ev.kind = kind;
        ev.time_ns = pk__sup_now_ns();
        ev.sup = s;
        ev.pid = pid;
        if (ex)
                ev.exit = *ex;
        ev.reason = reason;
        if (kind == PK_SUP_EV_SUP_DOWN)
                snprintf(ev.text, sizeof(ev.text), "%s", s->fail_id);
        (void)queue_push(pk__sup_root(s), &ev);
}

/* Delivers queued events in order.  Re-entrant calls (a subscriber calling
 * into the supervisor) only queue; the outermost flush delivers them. */
void pk__sup_flush(struct pk_sup *s)
{
        struct pk_sup *root = pk__sup_root(s);
        if (root->delivering)
                return;
        root->delivering = true;
        while (root->qhead < root->qn) {
                struct pk_sup_event ev = root->q[root->qhead++];
                if (!ev.sup)
                        continue; /* its supervisor was removed meanwhile */
                if (ev.kind == EV_HOOK_CALL) {
                        hook_call(&ev);
                        continue;
                }
                ev.sup_name = ev.sup->name;
                for (struct pk_sup *t = ev.sup; t; t = t->parent)
                        for (size_t i = 0; i < t->nsubs; i++)
                                t->subs[i].cb(t->subs[i].ud, &ev);
        }
        root->qhead = root->qn = 0;
        if (root->qcap > 256) {
                /* a burst (the start of 10,000 children queues 20,000 events)
                 * does not keep its buffer: ~800 bytes per child otherwise */
                free(root->q);
                root->q = NULL;
                root->qcap = 0;
        }
        root->delivering = false;
}

/* ---- the policy table ---------------------------------------------------------- */

/* Events of the table (internal; subscribers see pk_sup_event_kind). */
enum pev {
        PE_START,        /* wanted up: first start, pk_sup_start_child, pulled in */
        PE_DEPS_OK,      /* what it requires / is after is ready */
        PE_READY,        /* readiness reached */
        PE_EXIT,         /* the main process ended (or the nested supervisor finished) */
        PE_STOP,         /* stop requested (by the user, the strategy, a shutdown) */
        PE_STOP_TIMEOUT, /* shutdown_ms passed while stopping */
        PE_FAIL,         /* start timeout or watchdog */
        PE_RESTART_DUE,  /* the backoff timer fired */
        PE_HOOK_DONE,    /* pk_sup_stop_continue(): the stop hook let the stop go on */
        PE_NEVENTS
};

enum pact {
        A_NONE,      /* ignore */
        A_TRY_START, /* pull in dependencies; spawn now or wait (WAITING) */
        A_SPAWN,     /* spawn (STARTING) */
        A_READY,     /* -> READY, release waiters, arm the watchdog */
        A_EXIT,      /* exit while running: restart type, intensity, backoff, strategy */
        A_STOP,      /* stop signal + SIGCONT (or SIGKILL), arm shutdown timer (STOPPING) */
        A_CANCEL,    /* not running: drop the pending start (DOWN) */
        A_KILL,      /* SIGKILL the whole service */
        A_STOPPED,   /* exit while stopping: what after_stop says */
        A_FAIL_KILL, /* stop as a failure (restart policy applies when it is down) */
        A_HOOK_DONE, /* the stop hook is done: stop signal, the STOPPED phase, or stopped */
};

static const char *const action_names[] = {
    "-",      "try_start", "spawn",   "ready",     "exit",      "stop",
    "cancel", "kill",      "stopped", "fail_stop", "hook_done",
};

/* Rows: child state; columns: event.  Every transition of a child is here;
 * docs/sup.md prints this table and tests/test_sup.c checks the two agree. */
/* clang-format off */
static const unsigned char policy[PK_SUP_NSTATES][PE_NEVENTS] = {
        /*                   START        DEPS_OK  READY    EXIT       STOP      STOP_TMO FAIL         RESTART_DUE  HOOK_DONE */
        [PK_SUP_DOWN]     = {A_TRY_START, A_NONE,  A_NONE,  A_NONE,    A_NONE,   A_NONE,  A_NONE,      A_NONE,      A_NONE},
        [PK_SUP_WAITING]  = {A_NONE,      A_SPAWN, A_NONE,  A_NONE,    A_CANCEL, A_NONE,  A_NONE,      A_NONE,      A_NONE},
        [PK_SUP_STARTING] = {A_NONE,      A_NONE,  A_READY, A_EXIT,    A_STOP,   A_NONE,  A_FAIL_KILL, A_NONE,      A_NONE},
        [PK_SUP_READY]    = {A_NONE,      A_NONE,  A_NONE,  A_EXIT,    A_STOP,   A_NONE,  A_FAIL_KILL, A_NONE,      A_NONE},
        [PK_SUP_STOPPING] = {A_NONE,      A_NONE,  A_NONE,  A_STOPPED, A_NONE,   A_KILL,  A_NONE,      A_NONE,      A_HOOK_DONE},
        [PK_SUP_BACKOFF]  = {A_TRY_START, A_NONE,  A_NONE,  A_NONE,    A_CANCEL, A_NONE,  A_NONE,      A_TRY_START, A_NONE},
        [PK_SUP_FAILED]   = {A_TRY_START, A_NONE,  A_NONE,  A_NONE,    A_NONE,   A_NONE,  A_NONE,      A_NONE,      A_NONE},
};
/* clang-format on */

/* For docs and tests: one cell of the table as text. */
const char *pk__sup_policy_action(int state, int event);
static const char *const event_names[PE_NEVENTS] = {
    "start", "deps_ok", "ready", "exit", "stop", "stop_timeout", "fail", "restart_due", "hook_done",
};
const char *pk__sup_policy_event(int event);
const char *pk__sup_policy_event(int event)
{
        return event >= 0 && event < PE_NEVENTS ? event_names[event] : NULL;
}
const char *pk__sup_policy_action(int state, int event)
{
        if (state < 0 || state >= PK_SUP_NSTATES || event < 0 || event >= PE_NEVENTS)
                return NULL;
        return action_names[policy[state][event]];
}

static void dispatch(struct child *c, int ev, const struct pk_exit *ex);

/* ---- helpers --------------------------------------------------------------------- */

static bool match_id(const void *v, const void *key)
{
        return strcmp(((const struct child *)v)->id, key) == 0;
}

static struct child *find_child(const struct pk_sup *s, const char *id)
{
        if (!id)
                return NULL;
        return pk__htab_get(&s->by_id, pk__hash_str(id), match_id, id);
}

static size_t child_index(const struct child *c)
{
        return c->idx;
}

static bool has_process(const struct child *c)
{
        return c->state == PK_SUP_STARTING || c->state == PK_SUP_READY ||
               c->state == PK_SUP_STOPPING;
}

static bool is_active(const struct child *c)
{
        return c->state != PK_SUP_DOWN && c->state != PK_SUP_FAILED;
}

static bool match_pid(const void *v, const void *key)
{
        const struct child *c = v;
        pid_t pid = *(const pid_t *)key;
        return c->pid == pid || c->mainpid == pid;
}

struct child *pk__sup_find_pid(struct pk_sup *s, pid_t pid)
{
        if (pid <= 0)
                return NULL;
        return pk__htab_get(&pk__sup_root(s)->by_pid, pk__hash_u64((uint64_t)pid), match_pid, &pid);
}

int pk__sup_pid_room(struct child *c, size_t more)
{
        return pk__htab_reserve(&pk__sup_root(c->sup)->by_pid, more);
}

void pk__sup_unindex_pid(struct child *c, pid_t pid)
{
        if (pid > 0)
                (void)pk__htab_del(&pk__sup_root(c->sup)->by_pid, pk__hash_u64((uint64_t)pid), c);
}

void pk__sup_set_pids(struct child *c, pid_t pid, pid_t mainpid)
{
        struct pk__htab *t = &pk__sup_root(c->sup)->by_pid;
        if (c->pid > 0)
                (void)pk__htab_del(t, pk__hash_u64((uint64_t)c->pid), c);
        if (c->mainpid > 0 && c->mainpid != c->pid)
                (void)pk__htab_del(t, pk__hash_u64((uint64_t)c->mainpid), c);
        c->pid = pid;
        c->mainpid = mainpid;
        /* room was made (pk__sup_pid_room) before a new pid was taken on */
        if (pid > 0)
                (void)pk__htab_put(t, pk__hash_u64((uint64_t)pid), c);
        if (mainpid > 0 && mainpid != pid)
                (void)pk__htab_put(t, pk__hash_u64((uint64_t)mainpid), c);
}

static void set_state(struct child *c, int st)
{
        if (c->state == PK_SUP_WAITING)
                c->sup->nwaiting--;
        if (st == PK_SUP_WAITING)
                c->sup->nwaiting++;
        c->state = st;
        /* FileDescriptorStorePreserve=restart|no: a child that ends for good
         * (not restarted) loses its store; yes keeps it until removal. */
        if (c->x && c->x->ns && !c->keep_store && child_store_preserve(c) != PK_SUP_STORE_YES &&
            (st == PK_SUP_DOWN || st == PK_SUP_FAILED))
                pk__sup_fds_flush_store(c);
}

/* cgroup.kill on the child's cgroup.  The kernel (seen on 6.18) goes on
 * killing every process later cloned into a cgroup with CLONE_INTO_CGROUP
 * after a cgroup.kill, so the child's next start gets a fresh cgroup. */
static int kill_cgroup(struct child *c)
{
        c->cg_killed = true;
        return pk_cgroup_kill(c->cg);
}

/* Makes (or opens) the child's cgroup `<parent>/<sup name>.<id>` and has its
 * command born there.  A cgroup of that name with processes in it belongs to
 * someone else (e.g. a second supervisor in the same cgroup with the same
 * names): -EBUSY, never a kill of what runs there. */
/* The directory of the supervisor's cgroup parent, opened once and held: no
 * path walk and cgroup2 check for every child.  The held fd, or -errno. */
static int cgroup_parent_fd(struct pk_sup *s)
{
        if (s->cgroup_parent_fd < 0) {
                int pfd = pk__cgroup_parent_open(s->cgroup_parent);
                if (pfd < 0)
                        return pfd;
                s->cgroup_parent_fd = pk_fd_raise(pfd);
        }
        return s->cgroup_parent_fd;
}

static int open_child_cgroup(struct child *c)
{
        struct pk_sup *s = c->sup;
        if (!s->cgroup_parent) {
                /* our own cgroup, found once (mountinfo and /proc/self/cgroup,
                 * ten system calls), not again for every child */
                char self[PATH_MAX];
                int r = pk_cgroup_self(self, sizeof(self));
                if (r < 0)
                        return r;
                s->cgroup_parent = strdup(self);
                if (!s->cgroup_parent)
                        return -ENOMEM;
        }
        int pfd = cgroup_parent_fd(s);
        if (pfd < 0)
                return pfd;
        char name[2 * PK_SUP_ID_MAX + 2];
        snprintf(name, sizeof(name), "%s.%s", s->name, c->id);
        bool existed = false;
        int r = pk__cgroup_make_at(pfd, s->cgroup_parent, name, true, &existed, &c->cg);
        /* only a directory that was there can hold processes (another instance's) */
        if (r == 0 && existed && pk_cgroup_populated(c->cg) == 1)
                r = -EBUSY;
        if (r < 0)
                c->cg = pk_cgroup_free(c->cg);
        return r; /* its directory stays open for the clone; do_spawn() parks it after */
}

/* A fresh cgroup of the same name for a child whose cgroup was killed (it is
 * empty by now: a start follows the "populated 0" wait).  On failure the
 * child keeps no cgroup, or the start fails when cgroups are required. */
static int renew_cgroup(struct child *c)
{
        struct pk_sup *s = c->sup;
        c->cg_killed = false;
        c->cg = pk_cgroup_free(c->cg);
        int r = open_child_cgroup(c);
        if (r < 0) {
                c->cg = pk_cgroup_free(c->cg);
                (void)pk_cmd_cgroup(c->cmd, -1);
                if (s->opts.cgroup != PK_SUP_CGROUP_ON)
                        r = 0;
        }
        return r;
}

static int signal_service(struct child *c, int sig)
{
        int r = -ESRCH;
        if (c->cg && sig == SIGKILL && kill_cgroup(c) == 0)
                r = 0; /* everything in the cgroup, forks meanwhile included */
        if (c->pid > 0 && kill(-c->pid, sig) == 0) /* we made it lead its group */
                r = 0;
        if (c->proc && pk_proc_signal(c->proc, sig) == 0)
                r = 0;
        if (c->main_pidfd >= 0 && pk_fd_pidfd_send_signal(c->main_pidfd, sig) == 0)
                r = 0;
        struct pk_sup *root = pk__sup_root(c->sup);
        if (!c->cg && root->reaper &&
            pk__proc_kill_orphans(root, (const char(*)[PK__SUP_TOKEN])c->token, 1, sig) > 0)
                r = 0;
        return r;
}

static void stop_process_watchers(struct child *c)
{
        pk_loop_child_stop(&c->cw);
        pk__sup_main_unwatch(c);
}

/* The main process is gone: drop the process state, kill what the service
 * left behind (its process group, its orphans), record the exit, run the table. */
static void exit_complete(struct child *c)
{
        if (c->log)
                (void)pk_log_flush(c->log); /* its last words before the event */
        c->has_exit = 1;
        c->last_exit = c->pending_exit;
        dispatch(c, PE_EXIT, &c->last_exit);
}

static void on_cgroup_event(struct pk_loop_io *io, unsigned revents)
{
        struct child *c = io->w.ctx;
        struct pk_sup *sup_ = pk__sup_root(c->sup);
        (void)revents;
        int pop = pk_cgroup_populated(c->cg); /* reading re-arms the notification */
        if (pop == 1)
                return;
        pk_loop_io_stop(&c->cgio);
        c->await_empty = false;
        exit_complete(c);
        pk__sup_flush(sup_);
}

/* The main process is gone: drop the process state, kill what the service
 * left behind (its cgroup, or its process group and its orphans), record the
 * exit and run the table -- with a cgroup only once the cgroup is empty.
 * Without a cgroup, the orphans carrying the ended instance's token are
 * looked for by a scan batched over PK__SUP_LEFTOVER_MS (proc.c): it reads
 * this process's whole children list (linear in the services), so neither
 * the restart nor the next exit waits for it, and the replacement cannot be
 * hit by it (each start has its own token). */
void pk__sup_main_exited(struct child *c, const struct pk_exit *ex)
{
        pk__sup_ready_stop(c);
        pk__sup_watchdog_stop(c);
        pk_loop_timer_stop(&c->t_stop);
        c->pending_exit = *ex;
        struct pk_sup *root = pk__sup_root(c->sup);
        struct pk_proc *gone = NULL; /* closed once the table ran: a restart first */
        if (c->type == PK_SUP_WORKER) {
                stop_process_watchers(c);
                if (c->pid > 0)
                        (void)kill(-c->pid, SIGKILL);
                if (!c->cg && root->reaper)
                        pk__sup_leftover_add(root, c->token);
                /* a starter outlived by its MAINPID is killed with the group above */
                gone = c->proc;
                c->proc = NULL;
                if (c->cg && pk_cgroup_populated(c->cg) == 1) {
                        (void)kill_cgroup(c);
                        pk_loop_io_init(c->sup->loop, &c->cgio, pk_cgroup_events_fd(c->cg));
                        c->cgio.w.ctx = c;
                        if (pk_loop_io_start(&c->cgio, PK_LOOP_PRIORITY, on_cgroup_event) == 0) {
                                c->await_empty = true;
                                /* it may have emptied between the read and the watch */
                                if (pk_cgroup_populated(c->cg) == 1) {
                                        pk_proc_free(gone);
                                        return;
                                }
                                pk_loop_io_stop(&c->cgio);
                                c->await_empty = false;
                        }
                }
        }
        exit_complete(c); /* may restart c, or free it */
        pk_proc_free(gone);
}

/* 0 if the daemon named by the pid file now is the main pid; else *ex is
 * made abnormal (a start that did not hand over is a failed start). */
static int forking_handover(struct child *c, struct pk_exit *ex)
{
        char buf[32] = "";
        int r = -EINVAL;
        if (ex->exited && ex->code == 0) {
                int fd = open(c->x->pid_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                if (fd < 0) {
                        r = -errno;
                        snprintf(buf, sizeof(buf), "%s", "(no pid file)");
                } else {
                        ssize_t n = read(fd, buf, sizeof(buf) - 1);
                        close(fd);
                        buf[n > 0 ? n : 0] = 0;
                        r = pk__sup_set_mainpid(c, buf, true);
                }
        }
        if (r == 0) {
                c->proc = pk_proc_free(c->proc); /* the starter, reaped */
                pk__sup_set_pids(c, 0, c->mainpid);
                if (c->ready == PK_SUP_READY_EXEC)
                        pk__sup_child_ready(c);
                return 0;
        }
        if (r != -EPERM) /* set_mainpid reported its refusals itself */
                pk__sup_emit(c, PK_SUP_EV_MAINPID, PK_SUP_R_NONE, r, buf);
        if (ex->exited && ex->code == 0)
                *ex = (struct pk_exit){.exited = 0, .code = -1, .signal = 0, .core_dumped = 0};
        return r;
}

static void on_spawned_exit(struct pk_loop_child *w, int err, const struct pk_exit *exp)
{
        struct child *c = w->w.ctx;
        struct pk_sup *sup_ = pk__sup_root(c->sup);
        struct pk_exit ex = *exp; /* {0, -1, 0, 0} when someone else reaped it (err < 0) */
        if (err == 0)
                pk_proc_set_reaped(c->proc, exp);
        pk__sup_unindex_pid(c, c->pid); /* dead: a later process with its pid is not ours */
        /* The orphans a reaper sweep left behind this child are reaped now,
         * before a hand-over looks at the daemon, or else once the restart
         * is under way (it does not need them gone). */
        bool handover = c->forking || c->mainpid != c->pid;
        if (handover && sup_->reaper)
                pk__sup_reap_sweep(sup_); /* every orphan, whether a sweep stopped or not */
        if (c->forking && c->state == PK_SUP_STARTING && c->main_pidfd < 0) {
                /* Type=forking: the starter's exit hands over to the daemon */
                if (forking_handover(c, &ex) == 0) {
                        pk__sup_flush(sup_);
                        return;
                }
        }
        if (c->mainpid != c->pid && c->main_pidfd >= 0) {
                /* the starter ended but a MAINPID it named lives on */
                pk__sup_set_pids(c, 0, c->mainpid);
                return;
        }
        pk__sup_main_exited(c, &ex); /* may free c */
        if (!handover)
                pk__sup_after_reap(sup_);
        pk__sup_flush(sup_);
}

/* ---- intensity and backoff -------------------------------------------------------------- */

/* Records one restart; false if that exceeds intensity within period. */
static bool intensity_ok(struct pk_sup *s, uint64_t now)
{
        if (s->opts.intensity < 0)
                return false;
        uint64_t period = (uint64_t)s->opts.period_ms * 1000000u;
        /* drop restarts older than the period */
        while (s->hist_n > 0 && now - s->hist[s->hist_head] > period) {
                s->hist_head = (s->hist_head + 1) % s->hist_cap;
                s->hist_n--;
        }
        if (s->hist_n + 1 > (size_t)s->opts.intensity)
                return false;
        s->hist[(s->hist_head + s->hist_n) % s->hist_cap] = now;
        s->hist_n++;
        return true;
}

static unsigned next_rand(struct pk_sup *s)
{
        /* xorshift32: jitter only needs to spread restarts, not be secret */
        unsigned x = s->rng ? s->rng : 2463534242u;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        s->rng = x;
        return x;
}

static int64_t backoff_delay(struct child *c, uint64_t now)
{
        struct pk_sup *s = c->sup;
        struct sup_backoff b;
        pk__sup_backoff_params(c, &b); /* the child's own, else the supervisor's */
        uint64_t up = c->start_ns && now > c->start_ns ? now - c->start_ns : 0;
        if (c->start_ns && b.reset_ms >= 0 && up >= (uint64_t)b.reset_ms * 1000000u) {
                c->fails = 0;
                return 0; /* the first restart of a stable child is immediate */
        }
        int64_t d = pk__sup_backoff_at(&b, c->fails); /* doubling, or the steps */
        c->fails++;
        if (b.jitter_pct > 0 && d > 0) {
                int64_t span = d * b.jitter_pct / 100;
                if (span > 0)
                        d += (int64_t)(next_rand(s) % (uint64_t)(span + 1));
        }
        return d;
}

/* ---- sequential stops and the supervisor's phases ------------------------------------------ */

static void sup_finished(struct pk_sup *s);
static void sup_shutdown_internal(struct pk_sup *s, int reason);
static void kick_waiting(struct pk_sup *s);
static void kick_waiting_inner(struct pk_sup *s);
static void child_down(struct child *c);

static void on_restart_timer(struct pk_loop_timer *t)
{
        struct child *c = t->w.ctx;
        struct pk_sup *sup_ = pk__sup_root(c->sup);
        c->next_restart_ns = 0;
        dispatch(c, PE_RESTART_DUE, NULL);
        pk__sup_flush(sup_);
}

/* BACKOFF, then the start after `delay` ms.  `at_once`: a delay of 0 starts
 * it now, in this dispatch (a 0 ms timer would cost a timerfd arming and a
 * loop pass, or wait a pass whenever the millisecond clock ticked meanwhile);
 * given only for a process that exited, never for a failed spawn, so a spawn
 * that keeps failing goes through the timer and cannot recurse. */
static void schedule_restart(struct child *c, int64_t delay, bool at_once)
{
        set_state(c, PK_SUP_BACKOFF);
        if (delay == 0 && at_once) {
                c->next_restart_ns = 0;
                pk__sup_emit(c, PK_SUP_EV_RESTART, PK_SUP_R_NONE, 0, NULL);
                dispatch(c, PE_RESTART_DUE, NULL);
                return;
        }
        c->next_restart_ns = pk__sup_now_ns() + (uint64_t)delay * 1000000u;
        pk__sup_emit(c, PK_SUP_EV_RESTART, PK_SUP_R_NONE, 0, NULL);
        if (pk_loop_timer_start(&c->t_restart, delay, 0, on_restart_timer) < 0) {
                /* no memory for the timer: restart now rather than never */
                c->next_restart_ns = 0;
                dispatch(c, PE_RESTART_DUE, NULL);
        }
}

/* Stops marked children one at a time, newest start first.  When none is
 * left, completes the phase that marked them. */
static void advance_stops(struct pk_sup *s)
{
        for (;;) {
                struct child *pick = NULL;
                bool waiting = false;
                for (size_t i = 0; i < s->n; i++) {
                        struct child *c = s->kids[i];
                        if (!c->stop_mark)
                                continue;
                        if (!is_active(c) || (c->state == PK_SUP_BACKOFF && c->in_group &&
                                              !pk_loop_is_active(&c->t_restart.w))) {
                                c->stop_mark = false;
                                continue;
                        }
                        if (c->state == PK_SUP_STOPPING) {
                                waiting = true;
                                continue;
                        }
                        if (!has_process(c)) { /* WAITING / BACKOFF: nothing to stop */
                                c->stop_mark = false;
                                dispatch(c, PE_STOP, NULL);
                                continue;
                        }
                        if (!pick || c->start_seq > pick->start_seq)
                                pick = c;
                }
                if (waiting)
                        return;
                if (pick) {
                        dispatch(pick, PE_STOP, NULL);
                        if (pick->state == PK_SUP_STOPPING)
                                return;
                        continue; /* stopped at once (a nested supervisor with nothing to stop) */
                }
                break;
        }
        if (s->phase == PHASE_GROUP) {
                s->phase = PHASE_RUNNING;
                for (size_t i = 0; i < s->n; i++) {
                        struct child *c = s->kids[i];
                        if (!c->in_group)
                                continue;
                        c->in_group = false;
                        schedule_restart(c, s->group_delay, false);
                }
        } else if (s->phase == PHASE_SHUTDOWN) {
                sup_finished(s);
        }
}

static void mark_stop(struct child *c, int after, int reason)
{
        c->stop_mark = true;
        c->after_stop = after;
        c->stop_reason = reason;
}

void pk__sup_shutdown(struct pk_sup *s, int reason)
{
        sup_shutdown_internal(s, reason);
}

static void sup_shutdown_internal(struct pk_sup *s, int reason)
{
        if (s->phase == PHASE_IDLE || s->phase == PHASE_DONE || s->phase == PHASE_SHUTDOWN)
                return;
        s->phase = PHASE_SHUTDOWN;
        s->end_reason = reason;
        for (size_t i = 0; i < s->n; i++) {
                struct child *c = s->kids[i];
                c->in_group = false;
                if (is_active(c))
                        mark_stop(c, c->after_stop == AFTER_REMOVE ? AFTER_REMOVE : AFTER_DOWN,
                                  reason);
        }
        advance_stops(s);
}

static void sup_fail(struct pk_sup *s, int reason, const char *id)
{
        if (s->phase == PHASE_SHUTDOWN || s->phase == PHASE_DONE)
                return;
        s->failed = true;
        snprintf(s->fail_id, sizeof(s->fail_id), "%s", id ? id : "");
        sup_shutdown_internal(s, reason);
}

static void sup_start_internal(struct pk_sup *s)
{
        s->phase = PHASE_RUNNING;
        s->failed = false;
        s->finished = false;
        s->end_reason = PK_SUP_R_NONE;
        s->fail_id[0] = 0;
        s->hist_n = s->hist_head = 0;
        s->starting_up = true; /* not ready to the parent before every child had its start */
        /* A child ordered after a later one in the list waits for it too. */
        for (size_t i = 0; i < s->n; i++)
                s->kids[i]->start_pending =
                    !s->kids[i]->manual &&
                    (s->kids[i]->state == PK_SUP_DOWN || s->kids[i]->state == PK_SUP_FAILED);
        for (size_t i = 0; i < s->n; i++) {
                struct child *c = s->kids[i];
                if (c->start_pending) {
                        c->start_pending = false;
                        dispatch(c, PE_START, NULL);
                }
        }
        s->starting_up = false;
        kick_waiting(s);
}

static void sup_finished(struct pk_sup *s)
{
        s->phase = PHASE_DONE;
        s->finished = true;
        pk__sup_emit_sup(s, PK_SUP_EV_SUP_DOWN, s->end_reason, 0, NULL);
        /* remove what asked to be removed, and ended dynamic children */
        for (size_t i = s->n; i-- > 0;) {
                struct child *c = s->kids[i];
                if (c->after_stop == AFTER_REMOVE || c->dynamic) {
                        c->after_stop = AFTER_DOWN;
                        (void)pk_sup_remove_child(s, c->id);
                }
        }
        if (s->parent) {
                struct pk_exit ex = {.exited = 1, .code = s->failed ? 1 : 0};
                pk__sup_main_exited(s->as_child, &ex);
        } else {
                pk__sup_notify_close(s);
                if (s->reaper)
                        pk__sup_reaper_off(s);
        }
}

/* ---- dependencies --------------------------------------------------------------------- */

static bool lists(const struct child *c, int kind, const char *id);

/* 1: may start now; 0: wait; -1: a required child failed (give up). */
static int deps_state(struct child *c)
{
        struct pk_sup *s = c->sup;
        static const int hard[] = {DEP_REQUIRES, DEP_BINDS};
        for (size_t k = 0; k < PK_ARRAY_SIZE(hard); k++) {
                for (char **d = child_deps(c, hard[k]); d && *d; d++) {
                        struct child *t = find_child(s, *d);
                        if (!t || t->state == PK_SUP_FAILED)
                                return -1;
                        if (t->state != PK_SUP_READY)
                                return 0;
                }
        }
        for (char **d = child_deps(c, DEP_AFTER); d && *d; d++) {
                struct child *t = find_child(s, *d);
                if (t && (is_active(t) || t->start_pending) && t->state != PK_SUP_READY)
                        return 0;
        }
        /* siblings that are before this one (none lists a before: no scan) */
        for (size_t i = 0; s->n_before > 0 && i < s->n; i++) {
                struct child *t = s->kids[i];
                if (t != c && lists(t, DEP_BEFORE, c->id) && (is_active(t) || t->start_pending) &&
                    t->state != PK_SUP_READY)
                        return 0;
        }
        for (char **d = child_deps(c, DEP_CONFLICTS); d && *d; d++) {
                struct child *t = find_child(s, *d);
                if (t && is_active(t))
                        return 0;
        }
        return 1;
}

static bool lists(const struct child *c, int kind, const char *id)
{
        for (char **d = child_deps(c, kind); d && *d; d++)
                if (strcmp(*d, id) == 0)
                        return true;
        return false;
}

static void give_up(struct child *c, int reason)
{
        pk_loop_timer_stop(&c->t_restart);
        c->next_restart_ns = 0;
        set_state(c, PK_SUP_FAILED);
        pk__sup_emit(c, PK_SUP_EV_GAVE_UP, reason, 0, NULL);
        child_down(c);
}

/* A nested supervisor is ready (to its parent's dependents) once none of its
 * children is still on its way up: each is ready, or down / failed. */
static void nested_ready_check(struct pk_sup *s)
{
        struct child *me = s->as_child;
        if (!me || me->state != PK_SUP_STARTING || s->phase != PHASE_RUNNING || s->starting_up)
                return;
        for (size_t i = 0; i < s->n; i++) {
                int st = s->kids[i]->state;
                if (st == PK_SUP_WAITING || st == PK_SUP_STARTING || st == PK_SUP_BACKOFF)
                        return;
        }
        dispatch(me, PE_READY, NULL);
}

static void kick_waiting(struct pk_sup *s)
{
        kick_waiting_inner(s);
        nested_ready_check(s);
}

static void kick_waiting_inner(struct pk_sup *s)
{
        if (s->phase != PHASE_RUNNING && s->phase != PHASE_GROUP)
                return;
        bool again = s->nwaiting > 0; /* nothing waits: no scan (10,000 children) */
        while (again) {
                again = false;
                for (size_t i = 0; i < s->n; i++) {
                        struct child *c = s->kids[i];
                        if (c->state != PK_SUP_WAITING)
                                continue;
                        int r = deps_state(c);
                        if (r > 0) {
                                dispatch(c, PE_DEPS_OK, NULL);
                                again = true;
                        } else if (r < 0) {
                                give_up(c, PK_SUP_R_DEPENDENCY);
                                again = true;
                        }
                        if (i >= s->n || s->kids[i] != c)
                                break; /* the list changed (c may be freed): start over */
                }
        }
}

/* A child settled DOWN or FAILED: release waiters, stop dependents,
 * auto_shutdown, drop a finished dynamic child. */
static void child_down(struct child *c)
{
        struct pk_sup *s = c->sup;
        if (s->phase == PHASE_RUNNING) {
                for (size_t i = 0; i < s->n; i++) {
                        struct child *d = s->kids[i];
                        if (d == c || !is_active(d))
                                continue;
                        bool req = lists(d, DEP_REQUIRES, c->id);
                        bool bind = lists(d, DEP_BINDS, c->id);
                        if (c->state == PK_SUP_FAILED && (req || bind)) {
                                if (has_process(d)) {
                                        if (d->state != PK_SUP_STOPPING) {
                                                d->after_stop = AFTER_GAVE_UP;
                                                d->stop_reason = PK_SUP_R_DEPENDENCY;
                                                dispatch(d, PE_STOP, NULL);
                                        }
                                } else {
                                        give_up(d, PK_SUP_R_DEPENDENCY);
                                }
                        } else if (bind && has_process(d) && d->state != PK_SUP_STOPPING) {
                                d->after_stop = AFTER_DOWN;
                                d->stop_reason = PK_SUP_R_DEPENDENCY;
                                dispatch(d, PE_STOP, NULL);
                        }
                }
                if (c->significant && s->opts.auto_shutdown != PK_SUP_AUTO_NEVER) {
                        bool all = true;
                        for (size_t i = 0; i < s->n; i++)
                                if (s->kids[i]->significant && is_active(s->kids[i]))
                                        all = false;
                        if (s->opts.auto_shutdown == PK_SUP_AUTO_ANY_SIGNIFICANT || all) {
                                sup_shutdown_internal(s, PK_SUP_R_AUTO_SHUTDOWN);
                                return;
                        }
                }
                if (c->dynamic && !is_active(c) && !c->stop_mark) {
                        (void)pk_sup_remove_child(s, c->id);
                        kick_waiting(s);
                        return;
                }
        }
        kick_waiting(s);
}

/* ---- actions -------------------------------------------------------------------------------- */

static void on_stop_timer(struct pk_loop_timer *t)
{
        struct child *c = t->w.ctx;
        struct pk_sup *sup_ = pk__sup_root(c->sup);
        dispatch(c, PE_STOP_TIMEOUT, NULL);
        pk__sup_flush(sup_);
}

void pk__sup_extend_stop(struct child *c, int64_t ms)
{
        (void)pk_loop_timer_start(&c->t_stop, ms, 0, on_stop_timer);
}

/* With a cgroup the stop signal reaches every process of the service
 * (systemd's KillMode=control-group), not only the main pid's group. */
static void signal_cgroup(struct child *c, int sig)
{
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/cgroup.procs", pk_cgroup_path(c->cg));
        FILE *f = fopen(path, "re");
        if (!f)
                return;
        long pid;
        for (int n = 0; n < 65536 && fscanf(f, "%ld", &pid) == 1; n++) {
                int fd = pk_fd_pidfd_open((pid_t)pid, 0);
                if (fd >= 0) { /* never a recycled pid */
                        (void)pk_fd_pidfd_send_signal(fd, sig);
                        pk_fd_close(fd);
                }
        }
        fclose(f);
}

/* Gives this start a token of its own, "<our pid>.<record>.<start>": the
 * leftovers of an instance that ended are killed by its token once its
 * replacement runs (pk__sup_main_exited), which must not match the
 * replacement's processes.  The "<our pid>.<record>" part is made at add. */
static int start_token(struct child *c)
{
        char *dot = strchr(c->token, '.');
        char *end = dot ? strchr(dot + 1, '.') : NULL;
        if (!end)
                end = c->token + strlen(c->token);
        size_t room = sizeof(c->token) - (size_t)(end - c->token);
        snprintf(end, room, ".%llx", (unsigned long long)c->start_seq);
        return pk_cmd_env_set(c->cmd, "PORTKIT_SUP_UNIT", c->token);
}

static void do_spawn(struct child *c)
{
        struct pk_sup *s = c->sup;
        pk__sup_emit(c, PK_SUP_EV_STARTING, PK_SUP_R_NONE, 0, NULL);
        c->start_seq = ++pk__sup_root(s)->start_seq;
        c->start_ns = pk__sup_now_ns();
        c->ready_ns = 0;
        pk__sup_limit_started(c, c->start_ns);
        if (c->type == PK_SUP_SUPERVISOR) {
                set_state(c, PK_SUP_STARTING);
                pk__sup_set_pids(c, 0, 0);
                /* ready once its children have settled (see nested_ready_check) */
                sup_start_internal(c->nested);
                return;
        }
        struct pk_spawn_error err;
        struct pk_proc *p = NULL;
        int r = 0;
        if (c->cg_killed && (r = renew_cgroup(c)) < 0)
                pk__spawn_error_set(&err, PK_SPAWN_STEP_NONE, r, -1, 0, "cgroup");
        if (r == 0 && (r = start_token(c)) < 0)
                pk__spawn_error_set(&err, PK_SPAWN_STEP_NONE, r, -1, 0, "token");
        if (r == 0 && (r = pk__sup_fds_apply(c)) < 0)
                pk__spawn_error_set(&err, PK_SPAWN_STEP_NONE, r, -1, 0, "listen fds");
        if (r == 0 && (r = pk__sup_pid_room(c, 2)) < 0)
                pk__spawn_error_set(&err, PK_SPAWN_STEP_NONE, r, -1, 0, "pid index");
        /* Without a cgroup nothing finds the process again once we are gone:
         * it dies with the thread that runs the supervisors (the option). */
        int orphan_sig = pk__sup_root(s)->opts.orphan_signal;
        if (r == 0 && !c->cg && orphan_sig > 0 && (r = pk_cmd_pdeathsig(c->cmd, orphan_sig)) < 0)
                pk__spawn_error_set(&err, PK_SPAWN_STEP_NONE, r, -1, 0, "orphan signal");
        /* the cgroup's descriptor is parked between starts (below): opened again */
        if (r == 0 && c->cg) {
                int cgfd = pk_cgroup_dirfd(c->cg);
                if ((r = cgfd < 0 ? cgfd : pk_cmd_cgroup(c->cmd, cgfd)) < 0)
                        pk__spawn_error_set(&err, PK_SPAWN_STEP_NONE, r, -1, 0, "cgroup");
        }
        if (r == 0)
                r = pk_spawn(c->cmd, &p, &err);
        /* Not held while it runs: every descriptor held is one more file each
         * later spawn copies and each exec closes (pk__cgroup_park). */
        if (c->cg && !c->await_empty)
                pk__cgroup_park(c->cg);
        if (r == 0) {
                c->proc = p;
                pk__sup_set_pids(c, pk_proc_pid(p), pk_proc_pid(p));
                r = pk_proc_watch(p, &c->cw, on_spawned_exit);
                if (r < 0) { /* cannot watch it: do not leave it unsupervised */
                        (void)pk_proc_signal(p, SIGKILL);
                        (void)pk_proc_wait(p, -1, NULL);
                        c->proc = pk_proc_free(p);
                        pk__sup_set_pids(c, 0, 0);
                        pk__spawn_error_set(&err, PK_SPAWN_STEP_NONE, r, -1, 0, "pidfd watch");
                }
        }
        if (r < 0) {
                char msg[PK_SUP_TEXT_MAX + 1];
                pk_spawn_strerror(&err, msg, sizeof(msg));
                set_state(c, PK_SUP_STARTING);
                pk__sup_emit(c, PK_SUP_EV_SPAWN_ERROR, PK_SUP_R_SPAWN, r, msg);
                /* a failed spawn is a failed start: the restart policy decides */
                struct pk_exit ex = {.exited = 1, .code = 127};
                c->has_exit = 1;
                c->last_exit = ex;
                c->fail_reason = PK_SUP_R_SPAWN;
                dispatch(c, PE_EXIT, &ex);
                return;
        }
        set_state(c, PK_SUP_STARTING);
        pk__sup_emit(c, PK_SUP_EV_RUNNING, PK_SUP_R_NONE, 0, NULL);
        /* a forking service is ready at the handover, not at the starter's exec */
        r = c->forking && c->ready == PK_SUP_READY_EXEC ? 0 : pk__sup_ready_start(c);
        if (r < 0)
                pk__sup_child_fail_stop(c, PK_SUP_R_START_TIMEOUT);
}

static void try_start(struct child *c)
{
        struct pk_sup *s = c->sup;
        pk_loop_timer_stop(&c->t_restart);
        c->next_restart_ns = 0;
        c->after_stop = AFTER_DOWN;
        if (s->phase != PHASE_RUNNING && s->phase != PHASE_GROUP) {
                set_state(c, PK_SUP_DOWN);
                return;
        }
        set_state(c, PK_SUP_WAITING);
        /* stop what conflicts with it, both directions (none lists a conflict:
         * no scan of every sibling on each start) */
        for (size_t i = 0; s->n_conflicts > 0 && i < s->n; i++) {
                struct child *d = s->kids[i];
                if (d == c || !is_active(d))
                        continue;
                if ((lists(c, DEP_CONFLICTS, d->id) || lists(d, DEP_CONFLICTS, c->id))) {
                        if (!lists(c, DEP_CONFLICTS, d->id)) {
                                /* make the wait symmetric: c waits for d to be down */
                        }
                        d->stop_reason = PK_SUP_R_CONFLICT;
                        d->after_stop = AFTER_DOWN;
                        dispatch(d, PE_STOP, NULL);
                }
        }
        /* pull in what it requires / wants / binds to */
        static const int pull[] = {DEP_REQUIRES, DEP_WANTS, DEP_BINDS};
        for (size_t k = 0; k < PK_ARRAY_SIZE(pull); k++)
                for (char **d = child_deps(c, pull[k]); d && *d; d++) {
                        struct child *t = find_child(s, *d);
                        if (t && (t->state == PK_SUP_DOWN || t->state == PK_SUP_FAILED)) {
                                t->fails =
                                    0; /* pulled in anew, as systemd restarts a failed Requires= */
                                dispatch(t, PE_START, NULL);
                        }
                }
        if (c->state != PK_SUP_WAITING)
                return;
        int r = deps_state(c);
        if (r > 0)
                dispatch(c, PE_DEPS_OK, NULL);
        else if (r < 0)
                give_up(c, PK_SUP_R_DEPENDENCY);
}

/* ---- stop hooks ---- */

/* The child's stop hook; none once reaper mode's shutdown deadline has passed
 * (everything was killed: nothing is awaited any more). */
static pk_sup_stop_hook_fn child_hook(struct child *c)
{
        if (!c->x || c->type != PK_SUP_WORKER || pk__sup_root(c->sup)->killed_all)
                return NULL;
        return c->x->stop_hook;
}

/* Holds c's stop for its hook's `phase`: the call is queued with the events,
 * so the hook runs as a subscriber does (after the change, never nested).
 * False (nothing held) when it cannot be queued (out of memory). */
static bool hook_hold(struct child *c, int phase)
{
        struct pk_sup_event ev;
        memset(&ev, 0, sizeof(ev));
        ev.kind = EV_HOOK_CALL;
        ev.sup = c->sup;
        snprintf(ev.id, sizeof(ev.id), "%s", c->id);
        ev.state = phase;
        ev.reason = c->stop_reason;
        ev.delay_ms = (int64_t)c->start_seq;
        if (!queue_push(pk__sup_root(c->sup), &ev))
                return false;
        c->hook_wait = true;
        c->hook_post = phase == PK_SUP_HOOK_STOPPED;
        return true;
}

/* Whether c still waits for the hook call `ev` was queued for. */
static bool hook_awaited(const struct child *c, const struct pk_sup_event *ev)
{
        return c && c->hook_wait && c->start_seq == (uint64_t)ev->delay_ms &&
               c->hook_post == (ev->state == PK_SUP_HOOK_STOPPED);
}

/* A queued hook call, from the event delivery: the hook holds the stop (1)
 * or lets it go on now. */
static void hook_call(const struct pk_sup_event *ev)
{
        struct child *c = find_child(ev->sup, ev->id);
        if (!hook_awaited(c, ev))
                return; /* the stop went on meanwhile (shutdown_ms), or the child is gone */
        pk_sup_stop_hook_fn fn = child_hook(c);
        if (fn && fn(c->x->stop_hook_ctx, ev->sup, ev->id, ev->state, ev->reason) > 0)
                return;
        c = find_child(ev->sup, ev->id); /* the hook may have let it go on already */
        if (hook_awaited(c, ev))
                dispatch(c, PE_HOOK_DONE, NULL);
}

static void send_stop_signal(struct child *c, int sig_override)
{
        int sig = sig_override ? sig_override : c->stop_signal;
        (void)signal_service(c, sig);
        if (c->cg) {
                signal_cgroup(c, sig);
                signal_cgroup(c, SIGCONT);
        }
        (void)signal_service(c, SIGCONT);
}

/* STOPPING; the stop signal, or (`hook`) first the child's stop hook.  The
 * shutdown timer bounds the hook and the wait for the exit together. */
static void begin_stop(struct child *c, int sig_override, bool hook)
{
        pk__sup_ready_stop(c);
        pk__sup_watchdog_stop(c);
        set_state(c, PK_SUP_STOPPING);
        c->hook_wait = c->hook_gone = c->hook_post = false;
        pk__sup_emit(c, PK_SUP_EV_STOPPING, c->stop_reason, 0, NULL);
        if (c->type == PK_SUP_SUPERVISOR) {
                sup_shutdown_internal(c->nested, PK_SUP_R_REQUESTED);
                return;
        }
        if (c->shutdown == PK_SUP_SHUTDOWN_BRUTAL_KILL) {
                (void)signal_service(c, SIGKILL);
                return;
        }
        if (c->shutdown == PK_SUP_SHUTDOWN_TIMEOUT)
                (void)pk_loop_timer_start(&c->t_stop, c->shutdown_ms, 0, on_stop_timer);
        if (hook && child_hook(c) && hook_hold(c, PK_SUP_HOOK_STOP))
                return; /* the signal once the hook lets the stop go on */
        send_stop_signal(c, sig_override);
}

/* Whether the exit is in a set of exit codes and signals (bit sig-1). */
static bool exit_in(const struct pk_exit *ex, const uint8_t *codes, size_t n, uint64_t sigs)
{
        if (!ex)
                return false;
        if (!ex->exited)
                return ex->signal >= 1 && ex->signal <= 64 && (sigs >> (ex->signal - 1)) & 1;
        for (size_t i = 0; i < n; i++)
                if (codes[i] == ex->code)
                        return true;
        return false;
}

/* Whether the exit is one the child's no_restart lists forbid restarting after. */
static bool restart_prevented(const struct child *c, const struct pk_exit *ex)
{
        const struct child_cold *x = c->x;
        return x && exit_in(ex, x->no_restart, x->nno_restart, x->no_restart_signals);
}

/* Whether the exit is one the child's force_restart lists restart after
 * whatever its restart type says (RestartForceExitStatus=). */
static bool restart_forced(const struct child *c, const struct pk_exit *ex)
{
        const struct child_cold *x = c->x;
        return x && exit_in(ex, x->force_restart, x->nforce_restart, x->force_restart_signals);
}

/* Restart type (or the child's restart_on set) says restart?  Then intensity,
 * backoff and the strategy.  `ex`: the exit, when the child exited (not for a
 * failed spawn or a kill of ours); `why`: the kill's or the spawn's reason. */
static void on_failure_or_exit(struct child *c, bool normal, const struct pk_exit *ex, int why)
{
        struct pk_sup *s = c->sup;
        int on = pk__sup_restart_on(c, normal, ex, why);
        /* systemd's order: RestartPreventExitStatus=, then
         * RestartForceExitStatus=, then Restart= */
        bool restart = (restart_forced(c, ex) ||
                        (on >= 0 ? on == 1
                                 : c->restart == PK_SUP_PERMANENT ||
                                       (c->restart == PK_SUP_TRANSIENT && !normal))) &&
                       !restart_prevented(c, ex);
        if (s->phase != PHASE_RUNNING && s->phase != PHASE_GROUP) {
                set_state(c, PK_SUP_DOWN);
                if (c->stop_mark)
                        advance_stops(s);
                return;
        }
        if (!restart) {
                if (!normal) { /* temporary and failed: it gives up (dependents follow) */
                        give_up(c, c->fail_reason ? c->fail_reason : PK_SUP_R_NONE);
                        return;
                }
                set_state(c, PK_SUP_DOWN);
                child_down(c);
                return;
        }
        uint64_t now = pk__sup_now_ns();
        if (!pk__sup_limit_ok(c, now)) { /* its own start limit: it alone gives up */
                give_up(c, PK_SUP_R_START_LIMIT);
                return;
        }
        if (!intensity_ok(s, now)) {
                set_state(c, PK_SUP_FAILED);
                pk__sup_emit(c, PK_SUP_EV_GAVE_UP, PK_SUP_R_INTENSITY, 0, NULL);
                sup_fail(s, PK_SUP_R_INTENSITY, c->id);
                return;
        }
        int64_t delay = backoff_delay(c, now);
        c->restarts++;
        int strat = s->opts.strategy;
        if (strat == PK_SUP_ONE_FOR_ONE || strat == PK_SUP_SIMPLE_ONE_FOR_ONE ||
            s->phase == PHASE_GROUP) {
                if (s->phase == PHASE_GROUP) {
                        /* a group restart is under way: join it */
                        c->in_group = true;
                        set_state(c, PK_SUP_BACKOFF);
                        if (delay > s->group_delay)
                                s->group_delay = delay;
                        advance_stops(s);
                        return;
                }
                schedule_restart(c, delay, ex != NULL);
                return;
        }
        size_t me = child_index(c);
        c->in_group = true;
        set_state(c, PK_SUP_BACKOFF); /* held: its timer starts with the group's */
        s->phase = PHASE_GROUP;
        s->group_delay = delay;
        for (size_t i = 0; i < s->n; i++) {
                struct child *d = s->kids[i];
                if (d == c || (strat == PK_SUP_REST_FOR_ONE && i < me))
                        continue;
                if (d->restart == PK_SUP_TEMPORARY && !is_active(d))
                        continue;
                if (!is_active(d) && d->state != PK_SUP_DOWN)
                        continue;
                if (d->state == PK_SUP_DOWN && !d->has_exit && d->restarts == 0 && d->start_ns == 0)
                        continue; /* never started (stopped by request): leave it */
                if (d->state == PK_SUP_DOWN)
                        continue;
                d->in_group = true;
                mark_stop(d, AFTER_GROUP, PK_SUP_R_STRATEGY);
        }
        advance_stops(s);
}

static bool is_normal(const struct child *c, const struct pk_exit *ex)
{
        if (!ex->exited) /* a clean signal (success_signals) is a normal end */
                return c->x && ex->signal >= 1 && ex->signal <= 64 &&
                       ((c->x->lim.success_signals >> (ex->signal - 1)) & 1);
        if (ex->code == 0)
                return true;
        for (size_t i = 0; c->x && i < c->x->nsuccess; i++)
                if (c->x->success[i] == ex->code)
                        return true;
        return false;
}

static void act_stopped(struct child *c)
{
        struct pk_sup *s = c->sup;
        int after = c->after_stop;
        c->after_stop = AFTER_DOWN;
        bool marked = c->stop_mark;
        c->stop_mark = false;
        if (child_store_preserve(c) == PK_SUP_STORE_NO)
                pk__sup_fds_flush_store(c); /* every end of the process */
        switch (after) {
        case AFTER_RESTART:
                c->keep_store = true; /* a requested restart: DOWN for a moment only */
                set_state(c, PK_SUP_DOWN);
                c->keep_store = false;
                dispatch(c, PE_START, NULL);
                break;
        case AFTER_GROUP:
                set_state(c, PK_SUP_BACKOFF); /* held until the group is down */
                break;
        case AFTER_FAILURE:
                on_failure_or_exit(c, false, NULL, c->stop_reason);
                break;
        case AFTER_REMOVE:
                set_state(c, PK_SUP_DOWN);
                (void)pk_sup_remove_child(s, c->id);
                kick_waiting(s);
                break;
        case AFTER_GAVE_UP:
                give_up(c, PK_SUP_R_DEPENDENCY);
                break;
        default:
                set_state(c, PK_SUP_DOWN);
                child_down(c);
                break;
        }
        if (marked || s->phase == PHASE_GROUP || s->phase == PHASE_SHUTDOWN)
                advance_stops(s);
}

/* The stop is complete (its hooks, if any, done or timed out): what after_stop says. */
static void stop_complete(struct child *c)
{
        /* after EXITED, the hooks held it: say when it is over (a subscriber
         * asking for the state at EXITED saw it stopping still) */
        if (c->hook_gone)
                pk__sup_emit(c, PK_SUP_EV_STOPPED, c->stop_reason, 0, NULL);
        c->hook_wait = c->hook_gone = c->hook_post = false;
        pk_loop_timer_stop(&c->t_stop);
        act_stopped(c);
}

/* The stopped child's process is gone: its STOPPED hook phase (after the
 * STOP phase if that one still runs), bounded by one more shutdown_ms, or
 * the stop completes. */
static void stop_exited(struct child *c)
{
        if (child_hook(c)) {
                c->hook_gone = true;
                if (c->hook_wait || hook_hold(c, PK_SUP_HOOK_STOPPED)) {
                        if (c->shutdown != PK_SUP_SHUTDOWN_INFINITY)
                                (void)pk_loop_timer_start(&c->t_stop, c->shutdown_ms, 0,
                                                          on_stop_timer);
                        return;
                }
        }
        stop_complete(c);
}

/* pk_sup_stop_continue(): the hook of the phase awaited is done. */
static void hook_done(struct child *c)
{
        if (!c->hook_wait)
                return;
        c->hook_wait = false;
        if (!c->hook_gone)
                send_stop_signal(c, 0); /* STOP phase done, the process runs */
        else if (!c->hook_post && hook_hold(c, PK_SUP_HOOK_STOPPED))
                return; /* STOP phase done after the exit: the STOPPED phase now */
        else
                stop_complete(c);
}

/* Runs the table.  `ex` is the exit for PE_EXIT. */
static void dispatch(struct child *c, int ev, const struct pk_exit *ex)
{
        switch (policy[c->state][ev]) {
        case A_NONE:
                break;
        case A_TRY_START:
                try_start(c);
                break;
        case A_SPAWN:
                do_spawn(c);
                break;
        case A_READY:
                pk__sup_ready_timer_stop(c);
                set_state(c, PK_SUP_READY);
                c->ready_ns = pk__sup_now_ns();
                pk__sup_emit(c, PK_SUP_EV_READY, PK_SUP_R_NONE, 0, NULL);
                kick_waiting(c->sup);
                break;
        case A_EXIT: {
                int reason = c->fail_reason;
                c->fail_reason = 0;
                if (child_store_preserve(c) == PK_SUP_STORE_NO)
                        pk__sup_fds_flush_store(c); /* every end of the process */
                if (ex && reason != PK_SUP_R_SPAWN)
                        pk__sup_emit(c, PK_SUP_EV_EXITED, PK_SUP_R_NONE, 0, NULL);
                on_failure_or_exit(c, reason != PK_SUP_R_SPAWN && ex && is_normal(c, ex),
                                   reason != PK_SUP_R_SPAWN ? ex : NULL, reason);
                break;
        }
        case A_STOP:
                begin_stop(c, 0, true);
                break;
        case A_CANCEL:
                pk_loop_timer_stop(&c->t_restart);
                c->next_restart_ns = 0;
                set_state(c, PK_SUP_DOWN);
                if (c->after_stop == AFTER_REMOVE) {
                        c->after_stop = AFTER_DOWN;
                        (void)pk_sup_remove_child(c->sup, c->id);
                } else if (!c->in_group) {
                        c->after_stop = AFTER_DOWN;
                }
                break;
        case A_KILL:
                if (c->hook_gone) { /* the hooks after the exit are not awaited any more */
                        stop_complete(c);
                        break;
                }
                c->hook_wait = false; /* nor is a STOP phase past shutdown_ms */
                (void)signal_service(c, SIGKILL);
                break;
        case A_STOPPED:
                pk__sup_emit(c, PK_SUP_EV_EXITED, c->stop_reason, 0, NULL);
                stop_exited(c);
                break;
        case A_FAIL_KILL:
                c->after_stop = AFTER_FAILURE;
                begin_stop(c, c->stop_reason == PK_SUP_R_WATCHDOG ? SIGABRT : 0, false);
                break;
        case A_HOOK_DONE:
                hook_done(c);
                break;
        default:
                break;
        }
}

void pk__sup_child_ready(struct child *c)
{
        dispatch(c, PE_READY, NULL);
}

void pk__sup_child_fail_stop(struct child *c, int reason)
{
        if (!has_process(c) || c->state == PK_SUP_STOPPING)
                return;
        c->stop_reason = reason; /* the STOPPING event carries it */
        dispatch(c, PE_FAIL, NULL);
}

/* ---- specs ----------------------------------------------------------------------------------- */

static void free_deps(struct child *c)
{
        for (int k = 0; c->x && k < DEP_NKINDS; k++) {
                for (char **d = c->x->deps[k]; d && *d; d++)
                        free(*d);
                free(c->x->deps[k]);
                c->x->deps[k] = NULL;
        }
}

struct child_cold *pk__sup_child_cold(struct child *c)
{
        if (!c->x)
                c->x = calloc(1, sizeof(*c->x));
        return c->x;
}

/* Frees the side records (config copies; the fds are fds.c's, closed before). */
static void free_side(struct child *c)
{
        free_deps(c);
        pk__sup_limit_free(c);
        if (c->x) {
                free(c->x->log_dir);
                free(c->x->log_opts);
                free(c->x->pid_file);
                free(c->x);
                c->x = NULL;
        }
        free(c->rd);
        c->rd = NULL;
}

/* Whether a spec sets anything that lives in the child's cold record (the
 * log dir and options only for a template: a child's log is made at add). */
static bool spec_needs_cold(const struct pk_sup_child_spec *sp, bool tmpl)
{
        if (sp->n_success_codes || sp->n_no_restart_codes || sp->no_restart_signals ||
            sp->n_force_restart_codes || sp->force_restart_signals || sp->stop_hook ||
            sp->pid_file || sp->n_listen_fds || sp->fd_store_max ||
            sp->fd_store_preserve != PK_SUP_STORE_RESTART)
                return true;
        if (tmpl && (sp->log_dir || sp->log_opts))
                return true;
        if (sp->backoff_base_ms || sp->backoff_cap_ms || sp->backoff_reset_ms || sp->jitter_pct ||
            sp->start_limit_burst || sp->backoff_steps || sp->restart_on || sp->success_signals)
                return true;
        const char *const *lists[] = {sp->requires_ids, sp->wants,  sp->after,  sp->binds_to,
                                      sp->conflicts,    sp->before, sp->part_of};
        for (size_t k = 0; k < PK_ARRAY_SIZE(lists); k++)
                if (lists[k] && lists[k][0])
                        return true;
        return false;
}

static bool valid_id(const char *id)
{
        size_t n = id ? strlen(id) : 0;
        if (n == 0 || n > PK_SUP_ID_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (id[i] == '/' || (unsigned char)id[i] < 0x20)
                        return false;
        return true;
}

static int copy_list(const char *const *src, char ***ret)
{
        size_t n = 0;
        if (!src)
                return 0;
        while (src[n]) {
                if (!valid_id(src[n]))
                        return -EINVAL;
                if (++n > PK_SUP_MAX_DEPS)
                        return -EINVAL;
        }
        char **l = calloc(n + 1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                l[i] = strdup(src[i]);
                if (!l[i]) {
                        for (size_t j = 0; j < i; j++)
                                free(l[j]);
                        free(l);
                        return -ENOMEM;
                }
        }
        *ret = l;
        return 0;
}

/* A list of exit codes: at most PK_SUP_MAX_SUCCESS, each 0..255, NULL only when empty. */
static bool codes_ok(const int *codes, size_t n)
{
        if (n > PK_SUP_MAX_SUCCESS || (n && !codes))
                return false;
        for (size_t i = 0; i < n; i++)
                if (codes[i] < 0 || codes[i] > 255)
                        return false;
        return true;
}

/* Validates and copies a spec into a child record (no id check for templates;
 * a template keeps the log dir and options to pass on, a child's log is made
 * from the spec by prepare_cmd()). */
static int spec_apply(struct child *c, const struct pk_sup_child_spec *sp, int type, bool tmpl)
{
        if (sp->restart < PK_SUP_PERMANENT || sp->restart > PK_SUP_TEMPORARY)
                return -EINVAL;
        if (sp->shutdown < PK_SUP_SHUTDOWN_TIMEOUT || sp->shutdown > PK_SUP_SHUTDOWN_INFINITY)
                return -EINVAL;
        if (sp->shutdown_ms < 0 || sp->shutdown_ms > MAX_DURATION_MS)
                return -EINVAL;
        if (sp->stop_signal < 0 || sp->stop_signal > 64)
                return -EINVAL;
        if (sp->significant && sp->restart == PK_SUP_PERMANENT)
                return -EINVAL; /* OTP: a significant child must be transient or temporary */
        if (!codes_ok(sp->success_codes, sp->n_success_codes) ||
            !codes_ok(sp->no_restart_codes, sp->n_no_restart_codes) ||
            !codes_ok(sp->force_restart_codes, sp->n_force_restart_codes))
                return -EINVAL;
        if (sp->stop_hook && type != PK_SUP_WORKER)
                return -EINVAL; /* a nested supervisor's children have their own */
        if (sp->ready < PK_SUP_READY_EXEC || sp->ready > PK_SUP_READY_NOTIFY)
                return -EINVAL;
        if (type == PK_SUP_SUPERVISOR && sp->ready != PK_SUP_READY_EXEC)
                return -EINVAL;
        if (sp->ready == PK_SUP_READY_FD && (sp->ready_fd < 3 || sp->ready_fd > 1023))
                return -EINVAL;
        if (sp->ready_delay_ms < 0 || sp->ready_delay_ms > MAX_DURATION_MS ||
            sp->start_timeout_ms > MAX_DURATION_MS || sp->watchdog_ms < 0 ||
            sp->watchdog_ms > MAX_DURATION_MS)
                return -EINVAL;
        if (sp->watchdog_ms > 0 && sp->ready != PK_SUP_READY_NOTIFY)
                return -EINVAL;
        if (sp->notify_access < PK_SUP_NOTIFY_MAIN || sp->notify_access > PK_SUP_NOTIFY_ALL)
                return -EINVAL;
        /* every value below was range-checked above: the narrowing casts keep them */
        c->type = (uint8_t)type;
        c->restart = (uint8_t)sp->restart;
        c->shutdown = (uint8_t)sp->shutdown;
        if (type == PK_SUP_SUPERVISOR && sp->shutdown == PK_SUP_SHUTDOWN_TIMEOUT &&
            sp->shutdown_ms == 0)
                c->shutdown = PK_SUP_SHUTDOWN_INFINITY;
        c->shutdown_ms = sp->shutdown_ms ? sp->shutdown_ms : DEF_SHUTDOWN_MS;
        c->stop_signal = (uint8_t)(sp->stop_signal ? sp->stop_signal : SIGTERM);
        c->significant = sp->significant != 0;
        struct child_cold *x = NULL;
        if (spec_needs_cold(sp, tmpl) && !(x = pk__sup_child_cold(c)))
                return -ENOMEM;
        if (x) {
                x->nsuccess = (uint8_t)sp->n_success_codes;
                for (size_t i = 0; i < x->nsuccess; i++)
                        x->success[i] = (uint8_t)sp->success_codes[i];
                x->nno_restart = (uint8_t)sp->n_no_restart_codes;
                for (size_t i = 0; i < x->nno_restart; i++)
                        x->no_restart[i] = (uint8_t)sp->no_restart_codes[i];
                x->no_restart_signals = sp->no_restart_signals;
                x->nforce_restart = (uint8_t)sp->n_force_restart_codes;
                for (size_t i = 0; i < x->nforce_restart; i++)
                        x->force_restart[i] = (uint8_t)sp->force_restart_codes[i];
                x->force_restart_signals = sp->force_restart_signals;
                x->stop_hook = sp->stop_hook;
                x->stop_hook_ctx = sp->stop_hook ? sp->stop_hook_ctx : NULL;
        }
        c->ready = (uint8_t)sp->ready;
        c->ready_fd = (int16_t)sp->ready_fd;
        c->ready_delay_ms = sp->ready_delay_ms ? sp->ready_delay_ms : DEF_READY_DELAY_MS;
        c->start_timeout_ms = sp->start_timeout_ms;
        if (c->start_timeout_ms == 0)
                c->start_timeout_ms =
                    (sp->ready == PK_SUP_READY_FD || sp->ready == PK_SUP_READY_NOTIFY)
                        ? DEF_START_TIMEOUT_MS
                        : -1;
        c->notify_access = (uint8_t)sp->notify_access;
        c->watchdog_ms = sp->watchdog_ms;
        if (sp->forking) {
                if (type != PK_SUP_WORKER || !sp->pid_file || sp->pid_file[0] != '/' ||
                    sp->ready == PK_SUP_READY_FD)
                        return -EINVAL;
                c->forking = true;
                if (!x) /* spec_needs_cold() made it: never NULL here */
                        return -ENOMEM;
                x->pid_file = strdup(sp->pid_file);
                if (!x->pid_file)
                        return -ENOMEM;
        } else if (sp->pid_file) {
                return -EINVAL;
        }
        if (sp->log_dir) {
                if (type != PK_SUP_WORKER || !sp->log_dir[0])
                        return -EINVAL;
        }
        if (tmpl && (sp->log_dir || sp->log_opts) && !x)
                return -ENOMEM; /* spec_needs_cold() made it: never here */
        if (tmpl && sp->log_dir) {
                x->log_dir = strdup(sp->log_dir);
                if (!x->log_dir)
                        return -ENOMEM;
        }
        if (tmpl && sp->log_opts) {
                x->log_opts = malloc(sizeof(*x->log_opts));
                if (!x->log_opts)
                        return -ENOMEM;
                *x->log_opts = *sp->log_opts;
        }
        int lr = pk__sup_limit_apply(c, sp);
        if (lr < 0)
                return lr;
        const char *const *lists_in[DEP_NKINDS] = {sp->requires_ids, sp->wants,     sp->after,
                                                   sp->binds_to,     sp->conflicts, sp->before,
                                                   sp->part_of};
        for (int k = 0; k < DEP_NKINDS; k++) {
                if (!lists_in[k] || !lists_in[k][0])
                        continue; /* empty: as none (and then x may be NULL) */
                int r = copy_list(lists_in[k], &x->deps[k]);
                if (r < 0) {
                        free_deps(c);
                        return r;
                }
        }
        return 0;
}

static void child_free(struct child *c);

/* A child record with its id ("" for a template) stored at its end, exactly sized. */
static struct child *child_new(struct pk_sup *s, const char *id)
{
        size_t idlen = strlen(id);
        struct child *c = calloc(1, sizeof(*c) + idlen + 1);
        if (!c)
                return NULL;
        memcpy(c->id, id, idlen + 1);
        c->sup = s;
        c->main_pidfd = -1;
        pk_loop_child_init(s->loop, &c->cw);
        pk_loop_io_init(s->loop, &c->cgio, -1);
        pk_loop_timer_init(s->loop, &c->t_restart);
        pk_loop_timer_init(s->loop, &c->t_stop);
        c->cw.w.ctx = c->cgio.w.ctx = c;
        c->t_restart.w.ctx = c->t_stop.w.ctx = c;
        return c;
}

/* Kills and reaps a live process at once (pk_sup_free, removal of a running
 * nested tree): SIGKILL cannot be ignored, so the wait is short. */
static void child_kill_now(struct child *c)
{
        pk_loop_io_stop(&c->cgio);
        c->await_empty = false;
        if (c->cg && pk_cgroup_populated(c->cg) == 1) {
                (void)kill_cgroup(c);
                /* SIGKILLed processes leave quickly; wait (bounded) so the directory can go */
                (void)pk_cgroup_wait_empty(c->cg, 2000);
        }
        stop_process_watchers(c);
        if (c->proc) {
                if (c->pid > 0)
                        (void)kill(-c->pid, SIGKILL);
                (void)pk_proc_signal(c->proc, SIGKILL);
                (void)pk_proc_wait(c->proc, -1, NULL);
        }
        c->proc = pk_proc_free(c->proc);
}

static void sup_free_internal(struct pk_sup *s);

static void child_free(struct child *c)
{
        if (!c)
                return;
        pk__sup_ready_stop(c);
        pk__sup_watchdog_stop(c);
        pk_loop_timer_stop(&c->t_restart);
        pk_loop_timer_stop(&c->t_stop);
        child_kill_now(c);
        pk__sup_set_pids(c, 0, 0);
        c->cg = pk_cgroup_free(c->cg);
        if (c->rd)
                c->rd->rfd = pk_fd_close(c->rd->rfd);
        if (c->nested) {
                /* purge its queued events: their sup pointer would dangle */
                struct pk_sup *root = pk__sup_root(c->sup);
                for (size_t i = root->qhead; i < root->qn; i++)
                        for (struct pk_sup *t = root->q[i].sup; t; t = t->parent)
                                if (t == c->nested) {
                                        root->q[i].sup = NULL;
                                        break;
                                }
                sup_free_internal(c->nested);
        }
        c->cmd = pk_cmd_free(c->cmd);
        pk__sup_fds_free(c);
        c->log = pk_log_free(c->log);
        free_side(c);
        free(c);
}

/* The environment and descriptor changes every worker's command gets. */
static int prepare_cmd(struct child *c, const struct pk_sup_child_spec *sp)
{
        if (!pk__cmd_own_group(c->cmd)) {
                int r = pk_cmd_setpgid(c->cmd, 0);
                if (r < 0)
                        return r;
        }
        snprintf(c->token, sizeof(c->token), "%d.%llx", (int)getpid(),
                 (unsigned long long)(uintptr_t)c);
        int r = pk_cmd_env_set(c->cmd, "PORTKIT_SUP_UNIT", c->token);
        if (r < 0)
                return r;
        struct pk_sup *s = c->sup;
        if (s->opts.cgroup != PK_SUP_CGROUP_OFF) {
                r = open_child_cgroup(c);
                if (r < 0 && s->opts.cgroup == PK_SUP_CGROUP_ON)
                        return r;
        }
        if (sp->log_dir) {
                r = pk_log_new(s->loop, sp->log_dir, c->id, sp->log_opts, &c->log);
                if (r == 0)
                        r = pk_cmd_fd(c->cmd, 1, pk_log_fd(c->log, 1));
                if (r == 0)
                        r = pk_cmd_fd(c->cmd, 2, pk_log_fd(c->log, 2));
                if (r < 0)
                        return r;
        }
        return pk__sup_ready_prepare(c);
}

/* Whether c lists any dependency of that kind. */
static bool has_deps(const struct child *c, int kind)
{
        char **d = child_deps(c, kind);
        return d && d[0];
}

static int add_child(struct pk_sup *s, struct child *c)
{
        int r = pk__htab_reserve(&s->by_id, 1);
        if (r < 0)
                return r;
        if (pk__array_grow((void **)&s->kids, &s->cap, s->n + 1, sizeof(struct child *), 8) < 0)
                return -ENOMEM;
        c->idx = s->n;
        s->kids[s->n++] = c;
        s->n_before += has_deps(c, DEP_BEFORE);
        s->n_conflicts += has_deps(c, DEP_CONFLICTS);
        (void)pk__htab_put(&s->by_id, pk__hash_str(c->id), c); /* room made above */
        return 0;
}

/* Takes c out of s's list and id index (the inverse of add_child). */
static void detach_child(struct pk_sup *s, struct child *c)
{
        size_t i = child_index(c);
        (void)pk__htab_del(&s->by_id, pk__hash_str(c->id), c);
        if (c->state == PK_SUP_WAITING)
                s->nwaiting--;
        s->n_before -= has_deps(c, DEP_BEFORE);
        s->n_conflicts -= has_deps(c, DEP_CONFLICTS);
        memmove(&s->kids[i], &s->kids[i + 1], (s->n - i - 1) * sizeof(struct child *));
        s->n--;
        for (; i < s->n; i++)
                s->kids[i]->idx = i;
}

static int check_deps(struct pk_sup *s, char *reterr, size_t size);

static int add_common(struct pk_sup *s, const struct pk_sup_child_spec *spec, struct pk_cmd *cmd,
                      struct pk_sup *nested, bool dynamic)
{
        int r;
        struct child *c = NULL;
        if (!s || !spec || (!cmd && !nested)) {
                pk_cmd_free(cmd);
                if (nested)
                        sup_free_internal(nested);
                return -EINVAL;
        }
        if (!valid_id(spec->id)) {
                r = -EINVAL;
                goto fail;
        }
        if (find_child(s, spec->id)) {
                r = -EEXIST;
                goto fail;
        }
        if (s->phase == PHASE_SHUTDOWN) {
                r = -ESHUTDOWN;
                goto fail;
        }
        c = child_new(s, spec->id);
        if (!c) {
                r = -ENOMEM;
                goto fail;
        }
        r = spec_apply(c, spec, nested ? PK_SUP_SUPERVISOR : PK_SUP_WORKER, false);
        if (r == 0)
                r = pk__sup_fds_copy(c, spec);
        if (r < 0)
                goto fail;
        c->dynamic = dynamic;
        c->cmd = cmd;
        cmd = NULL;
        if (nested) {
                c->nested = nested;
                nested->parent = s;
                nested->as_child = c;
                nested = NULL;
        }
        if (c->cmd) {
                r = prepare_cmd(c, spec);
                if (r < 0)
                        goto fail;
        }
        r = add_child(s, c);
        if (r < 0)
                goto fail;
        if (s->phase == PHASE_RUNNING || s->phase == PHASE_GROUP) {
                r = check_deps(s, NULL, 0);
                if (r < 0) {
                        detach_child(s, c);
                        goto fail;
                }
                if (!c->manual)
                        dispatch(c, PE_START, NULL);
                pk__sup_flush(s);
        }
        return 0;
fail:
        if (c) {
                if (c->nested) {
                        c->nested->parent = NULL;
                        c->nested->as_child = NULL;
                        nested = c->nested;
                        c->nested = NULL;
                }
                child_free(c);
        }
        pk_cmd_free(cmd);
        if (nested)
                sup_free_internal(nested);
        return r;
}

int pk_sup_add(struct pk_sup *s, const struct pk_sup_child_spec *spec, struct pk_cmd *cmd)
{
        if (s && s->opts.strategy == PK_SUP_SIMPLE_ONE_FOR_ONE) {
                pk_cmd_free(cmd);
                return -EPERM;
        }
        if (spec && spec->type == PK_SUP_SUPERVISOR) {
                pk_cmd_free(cmd);
                return -EINVAL;
        }
        return add_common(s, spec, cmd, NULL, false);
}

int pk_sup_add_sup(struct pk_sup *s, const struct pk_sup_child_spec *spec, struct pk_sup *child)
{
        if (!child || child->parent || child == s || (s && child->loop != s->loop) ||
            child->phase != PHASE_IDLE || child->reaper ||
            (s && s->opts.strategy == PK_SUP_SIMPLE_ONE_FOR_ONE)) {
                if (child && !child->parent && child != s)
                        sup_free_internal(child);
                return -EINVAL;
        }
        return add_common(s, spec, NULL, child, false);
}

int pk_sup_start_dynamic(struct pk_sup *s, const char *id, struct pk_cmd *cmd)
{
        if (!s || s->opts.strategy != PK_SUP_SIMPLE_ONE_FOR_ONE) {
                pk_cmd_free(cmd);
                return s ? -EPERM : -EINVAL;
        }
        const struct child *t = s->tmpl;
        struct pk_sup_child_spec sp;
        memset(&sp, 0, sizeof(sp));
        sp.id = id;
        sp.restart = t->restart;
        sp.shutdown = t->shutdown;
        sp.shutdown_ms = t->shutdown_ms;
        sp.stop_signal = t->stop_signal;
        sp.significant = t->significant;
        int success[PK_SUP_MAX_SUCCESS], no_restart[PK_SUP_MAX_SUCCESS];
        int force_restart[PK_SUP_MAX_SUCCESS];
        const struct child_cold *x = t->x;
        if (x) {
                for (size_t i = 0; i < x->nsuccess; i++)
                        success[i] = x->success[i];
                for (size_t i = 0; i < x->nno_restart; i++)
                        no_restart[i] = x->no_restart[i];
                for (size_t i = 0; i < x->nforce_restart; i++)
                        force_restart[i] = x->force_restart[i];
                sp.success_codes = success;
                sp.n_success_codes = x->nsuccess;
                sp.no_restart_codes = no_restart;
                sp.n_no_restart_codes = x->nno_restart;
                sp.no_restart_signals = x->no_restart_signals;
                sp.force_restart_codes = force_restart;
                sp.n_force_restart_codes = x->nforce_restart;
                sp.force_restart_signals = x->force_restart_signals;
                sp.stop_hook = x->stop_hook;
                sp.stop_hook_ctx = x->stop_hook_ctx;
                sp.log_dir = x->log_dir;
                sp.pid_file = x->pid_file;
                sp.log_opts = x->log_opts;
        }
        sp.ready = t->ready;
        sp.ready_delay_ms = t->ready_delay_ms;
        sp.ready_fd = t->ready_fd;
        sp.start_timeout_ms = t->start_timeout_ms;
        sp.notify_access = t->notify_access;
        sp.watchdog_ms = t->watchdog_ms;
        sp.wants = (const char *const *)child_deps(t, DEP_WANTS);
        sp.after = (const char *const *)child_deps(t, DEP_AFTER);
        sp.conflicts = (const char *const *)child_deps(t, DEP_CONFLICTS);
        sp.forking = t->forking;
        pk__sup_limit_to_spec(t, &sp);
        return add_common(s, &sp, cmd, NULL, true);
}

/* ---- dependency check (cycles, unknown names) --------------------------------------------- */

static int dfs(struct pk_sup *s, size_t i, unsigned char *color, size_t *stack, size_t depth,
               char *reterr, size_t size)
{
        color[i] = 1;
        stack[depth] = i;
        struct child *c = s->kids[i];
        static const int order[] = {DEP_REQUIRES, DEP_AFTER, DEP_BINDS};
        for (size_t k = 0; k < PK_ARRAY_SIZE(order); k++) {
                for (char **d = child_deps(c, order[k]); d && *d; d++) {
                        struct child *t = find_child(s, *d);
                        if (!t)
                                continue;
                        size_t j = child_index(t);
                        if (color[j] == 1) {
                                if (reterr && size) {
                                        /* the cycle: from j's place on the stack back to j */
                                        size_t from = 0;
                                        while (stack[from] != j)
                                                from++;
                                        size_t off = 0;
                                        reterr[0] = 0;
                                        for (size_t x = from; x <= depth && off < size; x++) {
                                                int w = snprintf(reterr + off, size - off, "%s -> ",
                                                                 s->kids[stack[x]]->id);
                                                if (w < 0)
                                                        break;
                                                off += (size_t)w;
                                        }
                                        if (off < size)
                                                snprintf(reterr + off, size - off, "%s", t->id);
                                }
                                return PK_EDEPCYCLE;
                        }
                        if (color[j] == 0) {
                                int r = dfs(s, j, color, stack, depth + 1, reterr, size);
                                if (r < 0)
                                        return r;
                        }
                }
        }
        /* t is before c: c waits for t, an edge c -> t as with c's after (a
         * scan of every child, so only when some child has a Before=). */
        for (size_t j = 0; s->n_before > 0 && j < s->n; j++) {
                if (j == i || !lists(s->kids[j], DEP_BEFORE, c->id))
                        continue;
                if (color[j] == 1) {
                        if (reterr && size)
                                snprintf(reterr, size, "%s -> %s (Before=)", c->id, s->kids[j]->id);
                        return PK_EDEPCYCLE;
                }
                if (color[j] == 0) {
                        int r = dfs(s, j, color, stack, depth + 1, reterr, size);
                        if (r < 0)
                                return r;
                }
        }
        color[i] = 2;
        return 0;
}

static int check_deps(struct pk_sup *s, char *reterr, size_t size)
{
        for (size_t i = 0; i < s->n; i++) {
                struct child *c = s->kids[i];
                static const int must[] = {DEP_REQUIRES, DEP_BINDS};
                for (size_t k = 0; k < PK_ARRAY_SIZE(must); k++)
                        for (char **d = child_deps(c, must[k]); d && *d; d++)
                                if (!find_child(s, *d) || strcmp(*d, c->id) == 0) {
                                        if (reterr && size)
                                                snprintf(reterr, size, "%s -> %s", c->id, *d);
                                        return strcmp(*d, c->id) == 0 ? PK_EDEPCYCLE
                                                                      : PK_EDEPUNKNOWN;
                                }
        }
        if (s->n == 0)
                return 0;
        unsigned char *color = calloc(s->n, 1);
        size_t *stack = calloc(s->n, sizeof(*stack));
        int r = color && stack ? 0 : -ENOMEM;
        for (size_t i = 0; r == 0 && i < s->n; i++)
                if (color[i] == 0)
                        r = dfs(s, i, color, stack, 0, reterr, size);
        free(color);
        free(stack);
        return r;
}

/* ---- public life cycle ------------------------------------------------------------------------
 */

/* The checks of every option's range, shared by pk_sup_new() and
 * pk_sup_set_opts(): 0 or -EINVAL. */
static int opts_valid(const struct pk_sup_opts *d)
{
        if (d->strategy < PK_SUP_ONE_FOR_ONE || d->strategy > PK_SUP_SIMPLE_ONE_FOR_ONE)
                return -EINVAL;
        if (d->auto_shutdown < PK_SUP_AUTO_NEVER || d->auto_shutdown > PK_SUP_AUTO_ALL_SIGNIFICANT)
                return -EINVAL;
        if (d->period_ms < 0 || d->backoff_base_ms < 0 || d->backoff_cap_ms < 0 ||
            d->backoff_reset_ms < 0 || d->period_ms > MAX_DURATION_MS ||
            d->backoff_base_ms > MAX_DURATION_MS || d->backoff_cap_ms > MAX_DURATION_MS ||
            d->backoff_reset_ms > MAX_DURATION_MS || d->jitter_pct > 100 || d->intensity > 100000)
                return -EINVAL;
        if ((d->strategy == PK_SUP_SIMPLE_ONE_FOR_ONE) != (d->template_spec != NULL))
                return -EINVAL;
        if (d->name && !valid_id(d->name))
                return -EINVAL;
        if (d->cgroup < PK_SUP_CGROUP_OFF || d->cgroup > PK_SUP_CGROUP_ON)
                return -EINVAL;
        if (d->cgroup_parent && d->cgroup_parent[0] != '/')
                return -EINVAL;
        if (d->orphan_signal < 0 || d->orphan_signal >= NSIG)
                return -EINVAL;
        return 0;
}

/* Puts the defaults in place of the zeros of the restart settings: 0, or
 * -EINVAL for a backoff cap below its base. */
static int opts_defaults(struct pk_sup_opts *d)
{
        if (d->intensity == 0)
                d->intensity = DEF_INTENSITY;
        if (d->period_ms == 0)
                d->period_ms = DEF_PERIOD_MS;
        if (d->backoff_base_ms == 0)
                d->backoff_base_ms = DEF_BACKOFF_BASE_MS;
        if (d->backoff_cap_ms == 0)
                d->backoff_cap_ms = DEF_BACKOFF_CAP_MS;
        if (d->backoff_cap_ms < d->backoff_base_ms)
                return -EINVAL;
        if (d->backoff_reset_ms == 0)
                d->backoff_reset_ms = DEF_BACKOFF_RESET_MS;
        if (d->jitter_pct == 0)
                d->jitter_pct = DEF_JITTER_PCT;
        return 0;
}

static int opts_apply(struct pk_sup *s, const struct pk_sup_opts *o)
{
        struct pk_sup_opts d;
        memset(&d, 0, sizeof(d));
        if (o)
                d = *o;
        int r = opts_valid(&d);
        if (r < 0)
                return r;
        if (d.cgroup_parent) {
                s->cgroup_parent = strdup(d.cgroup_parent);
                if (!s->cgroup_parent)
                        return -ENOMEM;
                d.cgroup_parent = NULL;
        }
        snprintf(s->name, sizeof(s->name), "%s", d.name ? d.name : "sup");
        d.name = NULL;
        if ((r = opts_defaults(&d)) < 0)
                return r;
        if (d.template_spec) {
                if (d.template_spec->type == PK_SUP_SUPERVISOR || d.template_spec->requires_ids ||
                    d.template_spec->binds_to)
                        return -EINVAL;
                s->tmpl = child_new(s, "");
                if (!s->tmpl)
                        return -ENOMEM;
                r = spec_apply(s->tmpl, d.template_spec, PK_SUP_WORKER, true);
                if (r < 0)
                        return r;
        }
        s->opts = d;
        s->hist_cap = (size_t)(d.intensity > 0 ? d.intensity : 0) + 1;
        s->hist = calloc(s->hist_cap, sizeof(*s->hist));
        return s->hist ? 0 : -ENOMEM;
}

int pk_sup_set_opts(struct pk_sup *s, const struct pk_sup_opts *o)
{
        if (!s || !o)
                return -EINVAL;
        struct pk_sup_opts d = *o;
        int r = opts_valid(&d);
        if (r < 0)
                return r;
        /* What is fixed at creation must be left unset or be the same. */
        if ((d.name && strcmp(d.name, s->name) != 0) || d.cgroup != s->opts.cgroup ||
            (d.cgroup_parent &&
             (!s->cgroup_parent || strcmp(d.cgroup_parent, s->cgroup_parent) != 0)) ||
            d.template_spec || s->opts.strategy == PK_SUP_SIMPLE_ONE_FOR_ONE)
                return -EINVAL;
        if ((r = opts_defaults(&d)) < 0)
                return r;
        /* A group restart or a stop under way was decided by the old strategy. */
        if (s->phase == PHASE_GROUP || s->phase == PHASE_SHUTDOWN)
                return -EBUSY;
        /* The restart history: the newest restarts that the new intensity keeps. */
        size_t cap = (size_t)(d.intensity > 0 ? d.intensity : 0) + 1;
        uint64_t *hist = calloc(cap, sizeof(*hist));
        if (!hist)
                return -ENOMEM;
        size_t keep = s->hist_n < cap - 1 ? s->hist_n : cap - 1;
        for (size_t i = 0; i < keep; i++)
                hist[i] = s->hist[(s->hist_head + s->hist_n - keep + i) % s->hist_cap];
        free(s->hist);
        s->hist = hist;
        s->hist_cap = cap;
        s->hist_head = 0;
        s->hist_n = keep;
        d.name = NULL;
        d.cgroup_parent = NULL;
        s->opts = d;
        return 0;
}

int pk_sup_new(struct pk_loop *loop, const struct pk_sup_opts *opts, struct pk_sup **ret)
{
        if (!loop || !ret)
                return -EINVAL;
        struct pk_sup *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->loop = loop;
        s->notify.fd = -1;
        s->cgroup_parent_fd = -1;
        pk_loop_io_init(loop, &s->nio, -1);
        s->nio.w.ctx = s;
        s->rng = (unsigned)(pk__sup_now_ns() ^ (uint64_t)getpid() ^ (uintptr_t)s);
        int r = opts_apply(s, opts);
        if (r < 0) {
                sup_free_internal(s);
                return r;
        }
        if (s->tmpl) {
                /* the template's spec is stored; its pointers are not kept */
                s->opts.template_spec = NULL;
        }
        /* A parent given: its directory is held from now on (not from the first
         * child on, which would look like a descriptor the child left); one
         * that fails here fails again, with its error, at the child's start. */
        if (s->cgroup_parent && s->opts.cgroup != PK_SUP_CGROUP_OFF)
                (void)cgroup_parent_fd(s);
        *ret = s;
        return 0;
}

static void sup_free_internal(struct pk_sup *s)
{
        if (!s)
                return;
        for (size_t i = s->n; i-- > 0;)
                child_free(s->kids[i]);
        s->n = 0;
        free(s->kids);
        pk__htab_free(&s->by_id);
        pk__htab_free(&s->by_pid);
        if (s->tmpl) {
                free_side(s->tmpl);
                free(s->tmpl);
        }
        free(s->cgroup_parent);
        pk_fd_close(s->cgroup_parent_fd);
        pk__sup_notify_close(s);
        if (s->reaper)
                pk__sup_reaper_off(s);
        free(s->hist);
        free(s->q);
        free(s);
}

struct pk_sup *pk_sup_free(struct pk_sup *s)
{
        if (!s || s->parent || s->delivering)
                return s && (s->parent || s->delivering) ? s : NULL;
        sup_free_internal(s);
        return NULL;
}

int pk_sup_start(struct pk_sup *s, char *reterr_id, size_t reterr_size)
{
        if (!s || s->parent)
                return -EINVAL;
        if (s->phase == PHASE_RUNNING || s->phase == PHASE_GROUP || s->phase == PHASE_SHUTDOWN)
                return -EALREADY;
        if (s->phase == PHASE_DONE)
                return -EINVAL;
        if (reterr_id && reterr_size)
                reterr_id[0] = 0;
        /* every level of the tree is checked before anything starts */
        struct pk_sup *stack[64];
        size_t sp = 0;
        stack[sp++] = s;
        while (sp) {
                struct pk_sup *t = stack[--sp];
                int r = check_deps(t, reterr_id, reterr_size);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < t->n; i++)
                        if (t->kids[i]->nested && sp < PK_ARRAY_SIZE(stack))
                                stack[sp++] = t->kids[i]->nested;
        }
        sup_start_internal(s);
        pk__sup_flush(s);
        return 0;
}

int pk_sup_shutdown(struct pk_sup *s)
{
        if (!s || s->parent)
                return -EINVAL;
        if (s->phase != PHASE_RUNNING && s->phase != PHASE_GROUP)
                return -EALREADY;
        sup_shutdown_internal(s, PK_SUP_R_REQUESTED);
        pk__sup_flush(s);
        return 0;
}

int pk_sup_state(const struct pk_sup *s, struct pk_sup_status *ret)
{
        if (!s || !ret)
                return -EINVAL;
        memset(ret, 0, sizeof(*ret));
        ret->running =
            s->phase == PHASE_RUNNING || s->phase == PHASE_GROUP || s->phase == PHASE_SHUTDOWN;
        ret->finished = s->finished;
        ret->failed = s->failed;
        ret->reason = s->end_reason;
        memcpy(ret->id, s->fail_id, sizeof(ret->id));
        ret->exit_status = s->exit_status ? s->exit_status : (s->failed ? 1 : 0);
        return 0;
}

/* ---- run-time control ---------------------------------------------------------------------------
 */

int pk_sup_start_child(struct pk_sup *s, const char *id)
{
        if (!s || !id)
                return -EINVAL;
        struct child *c = find_child(s, id);
        if (!c)
                return -ENOENT;
        if (s->phase != PHASE_RUNNING && s->phase != PHASE_GROUP)
                return -ESHUTDOWN;
        if (c->state != PK_SUP_DOWN && c->state != PK_SUP_FAILED && c->state != PK_SUP_BACKOFF)
                return -EALREADY;
        if (c->state == PK_SUP_FAILED) {
                c->fails = 0;
                pk__sup_limit_reset(c); /* as `systemctl reset-failed` then start */
        }
        dispatch(c, PE_START, NULL);
        pk__sup_flush(s);
        return 0;
}

int pk_sup_set_listen_fds(struct pk_sup *s, const char *id, const int *fds, size_t n,
                          const char *const *names)
{
        if (!s || !id)
                return -EINVAL;
        struct child *c = find_child(s, id);
        if (!c)
                return -ENOENT;
        return pk__sup_fds_replace(c, fds, n, names);
}

int pk_sup_reset_child(struct pk_sup *s, const char *id)
{
        if (!s || !id)
                return -EINVAL;
        struct child *c = find_child(s, id);
        if (!c)
                return -ENOENT;
        if (c->state != PK_SUP_FAILED)
                return -EALREADY;
        c->fails = 0;
        pk__sup_limit_reset(c);
        set_state(c, PK_SUP_DOWN); /* no event: nothing ran or stopped */
        return 0;
}

static void stop_child(struct pk_sup *s, struct child *c, int reason);
static void restart_child(struct pk_sup *s, struct child *c, int reason);

/* Passes a requested stop or restart of child `id` on to the siblings that are
 * part of it (and theirs, once each: a loop of part_of ends at the first). */
static void propagate(struct pk_sup *s, const char *id, bool restart)
{
        struct child *c = find_child(s, id);
        if (!c || c->propagating)
                return;
        /* Names first: a stop may change the list of children. */
        size_t n = 0;
        char(*deps)[PK_SUP_ID_MAX + 1] = calloc(s->n ? s->n : 1, sizeof(*deps));
        if (!deps)
                return;
        for (size_t i = 0; i < s->n; i++)
                if (s->kids[i] != c && lists(s->kids[i], DEP_PARTOF, id))
                        snprintf(deps[n++], sizeof(deps[0]), "%s", s->kids[i]->id);
        c->propagating = true;
        for (size_t i = 0; i < n; i++) {
                struct child *d = find_child(s, deps[i]);
                if (!d || d->propagating)
                        continue;
                if (restart && is_active(d)) /* systemd: a try-restart */
                        restart_child(s, d, PK_SUP_R_DEPENDENCY);
                else if (is_active(d) && d->state != PK_SUP_STOPPING)
                        stop_child(s, d, PK_SUP_R_DEPENDENCY);
        }
        free(deps);
        c = find_child(s, id);
        if (c)
                c->propagating = false;
}

static void stop_child(struct pk_sup *s, struct child *c, int reason)
{
        char id[PK_SUP_ID_MAX + 1];
        snprintf(id, sizeof(id), "%s", c->id);
        c->after_stop = AFTER_DOWN;
        c->in_group = false;
        if (c->state != PK_SUP_STOPPING) {
                c->stop_reason = reason;
                dispatch(c, PE_STOP, NULL);
                c = find_child(s, id);               /* a dynamic child may be gone */
                if (c && c->state == PK_SUP_BACKOFF) /* held in a group restart */
                        set_state(c, PK_SUP_DOWN);
        }
        propagate(s, id, false);
}

int pk_sup_stop_child(struct pk_sup *s, const char *id)
{
        if (!s || !id)
                return -EINVAL;
        struct child *c = find_child(s, id);
        if (!c)
                return -ENOENT;
        stop_child(s, c, PK_SUP_R_REQUESTED);
        pk__sup_flush(s);
        return 0;
}

int pk_sup_fail_child(struct pk_sup *s, const char *id)
{
        if (!s || !id)
                return -EINVAL;
        struct child *c = find_child(s, id);
        if (!c)
                return -ENOENT;
        if (c->type != PK_SUP_WORKER || !has_process(c) || c->state == PK_SUP_STOPPING)
                return -ESRCH;
        pk__sup_child_fail_stop(c, PK_SUP_R_START_TIMEOUT);
        pk__sup_flush(s);
        return 0;
}

int pk_sup_restart_child(struct pk_sup *s, const char *id)
{
        if (!s || !id)
                return -EINVAL;
        struct child *c = find_child(s, id);
        if (!c)
                return -ENOENT;
        if (s->phase != PHASE_RUNNING && s->phase != PHASE_GROUP)
                return -ESHUTDOWN;
        restart_child(s, c, PK_SUP_R_REQUESTED);
        pk__sup_flush(s);
        return 0;
}

static void restart_child(struct pk_sup *s, struct child *c, int reason)
{
        char id[PK_SUP_ID_MAX + 1];
        snprintf(id, sizeof(id), "%s", c->id);
        if (has_process(c)) {
                c->stop_reason = reason;
                if (c->state != PK_SUP_STOPPING)
                        dispatch(c, PE_STOP, NULL);
                c->after_stop = AFTER_RESTART;
        } else {
                dispatch(c, c->state == PK_SUP_WAITING ? PE_STOP : PE_START, NULL);
                c = find_child(s, id); /* a dynamic child may be gone */
                if (c && c->state == PK_SUP_DOWN)
                        dispatch(c, PE_START, NULL);
        }
        propagate(s, id, true);
}

int pk_sup_stop_continue(struct pk_sup *s, const char *id)
{
        if (!s || !id)
                return -EINVAL;
        struct child *c = find_child(s, id);
        if (!c)
                return -ENOENT;
        if (c->state != PK_SUP_STOPPING || !c->hook_wait)
                return -EALREADY;
        dispatch(c, PE_HOOK_DONE, NULL);
        pk__sup_flush(s);
        return 0;
}

int pk_sup_signal_child(struct pk_sup *s, const char *id, int sig)
{
        if (!s || !id || sig < 0 || sig > 64)
                return -EINVAL;
        struct child *c = find_child(s, id);
        if (!c)
                return -ENOENT;
        if (c->main_pidfd >= 0)
                return pk_fd_pidfd_send_signal(c->main_pidfd, sig);
        if (!c->proc)
                return -ESRCH;
        return pk_proc_signal(c->proc, sig);
}

int pk_sup_move_child(struct pk_sup *s, const char *id, size_t index)
{
        if (!s || !id)
                return -EINVAL;
        struct child *c = find_child(s, id);
        if (!c)
                return -ENOENT;
        if (index >= s->n)
                return -ERANGE;
        if (s->phase == PHASE_GROUP || s->phase == PHASE_SHUTDOWN)
                return -EBUSY; /* the stops in progress walk the order */
        size_t i = child_index(c);
        if (i < index)
                memmove(&s->kids[i], &s->kids[i + 1], (index - i) * sizeof(struct child *));
        else if (i > index)
                memmove(&s->kids[index + 1], &s->kids[index], (i - index) * sizeof(struct child *));
        s->kids[index] = c;
        for (size_t k = 0; k < s->n; k++)
                s->kids[k]->idx = k;
        return 0;
}

int pk_sup_child_cmd(struct pk_sup *s, const char *id, struct pk_cmd *cmd, unsigned flags)
{
        if (!s || !id || !cmd ||
            (flags & ~(unsigned)(PK_SUP_CMD_LOG_OUT | PK_SUP_CMD_LOG_ERR | PK_SUP_CMD_NO_CGROUP)))
                return -EINVAL;
        struct child *c = find_child(s, id);
        if (!c)
                return -ENOENT;
        if (c->type != PK_SUP_WORKER)
                return -EINVAL;
        int r = 0;
        if (c->log && (flags & PK_SUP_CMD_LOG_OUT))
                r = pk_cmd_fd(cmd, 1, pk_log_fd(c->log, 1));
        if (r == 0 && c->log && (flags & PK_SUP_CMD_LOG_ERR))
                r = pk_cmd_fd(cmd, 2, pk_log_fd(c->log, 2));
        if (r < 0 || !c->cg || (flags & PK_SUP_CMD_NO_CGROUP))
                return r;
        if (c->cg_killed) {
                /* cloned into a killed cgroup, it would die at birth (kill_cgroup) */
                if (pk_cgroup_populated(c->cg) == 1)
                        return -EBUSY;
                if ((r = renew_cgroup(c)) < 0 || !c->cg)
                        return r;
        }
        return pk_cmd_cgroup(cmd, pk_cgroup_dirfd(c->cg));
}

int pk_sup_remove_child(struct pk_sup *s, const char *id)
{
        if (!s || !id)
                return -EINVAL;
        struct child *c = find_child(s, id);
        if (!c)
                return -ENOENT;
        if (is_active(c) && c->state != PK_SUP_BACKOFF)
                return -EBUSY;
        detach_child(s, c);
        child_free(c);
        return 0;
}

int pk__sup_child_sides(struct pk_sup *s, const char *id)
{
        const struct child *c = s ? (id ? find_child(s, id) : s->tmpl) : NULL;
        if (!c)
                return -ENOENT;
        return (c->x ? 1 : 0) | (c->rd ? 2 : 0);
}

static void fill_info(const struct child *c, struct pk_sup_child_info *r)
{
        memset(r, 0, sizeof(*r));
        snprintf(r->id, sizeof(r->id), "%s", c->id);
        r->type = c->type;
        r->state = c->state;
        r->pid = has_process(c) && !c->hook_gone ? c->mainpid : 0;
        if (has_process(c) && c->start_ns)
                r->uptime_ns = pk__sup_now_ns() - c->start_ns;
        r->restarts = c->restarts;
        r->has_exited = c->has_exit;
        r->last_exit = c->last_exit;
        r->next_restart_ns = c->next_restart_ns;
        r->sup = c->nested;
}

int pk_sup_child_info(const struct pk_sup *s, const char *id, struct pk_sup_child_info *ret)
{
        if (!s || !id || !ret)
                return -EINVAL;
        const struct child *c = find_child(s, id);
        if (!c)
                return -ENOENT;
        fill_info(c, ret);
        return 0;
}

int pk_sup_which_children(const struct pk_sup *s, struct pk_sup_child_info *ret, size_t max)
{
        if (!s || (max && !ret))
                return -EINVAL;
        for (size_t i = 0; i < s->n && i < max; i++)
                fill_info(s->kids[i], &ret[i]);
        return (int)s->n;
}

int pk_sup_count_children(const struct pk_sup *s, struct pk_sup_counts *ret)
{
        if (!s || !ret)
                return -EINVAL;
        memset(ret, 0, sizeof(*ret));
        for (size_t i = 0; i < s->n; i++) {
                const struct child *c = s->kids[i];
                ret->specs++;
                if (has_process(c))
                        ret->active++;
                if (c->type == PK_SUP_SUPERVISOR)
                        ret->supervisors++;
                else
                        ret->workers++;
        }
        return 0;
}

int pk_sup_subscribe(struct pk_sup *s, pk_sup_event_cb cb, void *ud)
{
        if (!s || !cb)
                return -EINVAL;
        if (s->nsubs == SUP_MAX_SUBS)
                return -ENOSPC;
        s->subs[s->nsubs++] = (struct sub){cb, ud};
        return 0;
}

int pk_sup_unsubscribe(struct pk_sup *s, pk_sup_event_cb cb, void *ud)
{
        if (!s || !cb)
                return -EINVAL;
        for (size_t i = 0; i < s->nsubs; i++)
                if (s->subs[i].cb == cb && s->subs[i].ud == ud) {
                        memmove(&s->subs[i], &s->subs[i + 1],
                                (s->nsubs - i - 1) * sizeof(s->subs[0]));
                        s->nsubs--;
                        return 0;
                }
        return -ENOENT;
}
