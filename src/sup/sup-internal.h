/* SPDX-License-Identifier: MIT */
/* The sup layer's private pieces: the supervisor and child records shared by
 * the policy engine (sup.c), readiness (ready.c) and the process-tree helpers
 * and reaper mode (proc.c). */
#ifndef PORTKIT_SUP_INTERNAL_H
#define PORTKIT_SUP_INTERNAL_H

#include "common/htab.h"
#include "internal.h"
#include "portkit/fd.h"
#include "portkit/loop.h"
#include "portkit/spawn.h"
#include "portkit/sup.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Dependency kinds, indexes into child.deps. */
enum {
        DEP_REQUIRES,
        DEP_WANTS,
        DEP_AFTER,
        DEP_BINDS,
        DEP_CONFLICTS,
        DEP_BEFORE,
        DEP_PARTOF,
        DEP_NKINDS
};

/* What happens once a stopping child is down. */
enum after_stop {
        AFTER_DOWN = 0, /* stay down */
        AFTER_RESTART,  /* start again at once (restart_child) */
        AFTER_GROUP,    /* part of a one_for_all / rest_for_one restart */
        AFTER_FAILURE,  /* killed for a start timeout / watchdog: a failure exit */
        AFTER_REMOVE,   /* remove the child */
        AFTER_GAVE_UP,  /* FAILED (a dependency gave up) */
};

/* A child's own restart policy (pk_sup_child_spec's per-child fields, 0 =
 * the supervisor's) and the times of its recent starts (limit.c). */
struct child_limit {
        int64_t base_ms, cap_ms, reset_ms;
        int jitter_pct;
        unsigned steps;           /* > 0: geometric steps from base to cap (RestartSteps=) */
        unsigned restart_on;      /* PK_SUP_RESTART_ON_* bits, 0: the restart type decides */
        uint64_t success_signals; /* deaths by these (bit sig - 1) are normal exits */
        int burst;                /* 0: no start limit of its own */
        int64_t interval_ms;      /* start limit window */
        uint64_t *starts;         /* ring of `burst` start times (ns) */
        size_t head, n;
};

/* A child's rarely set configuration, allocated (child_cold_get()) only when
 * its spec sets one of these: a plain service holds none.  Exit codes are
 * 0..255 (spec_apply() checks), so a byte each. */
struct child_cold {
        uint8_t success[PK_SUP_MAX_SUCCESS];
        uint8_t no_restart[PK_SUP_MAX_SUCCESS];    /* RestartPreventExitStatus= codes */
        uint8_t force_restart[PK_SUP_MAX_SUCCESS]; /* RestartForceExitStatus= codes */
        uint8_t nsuccess, nno_restart, nforce_restart;
        uint64_t no_restart_signals;    /* bit sig-1 */
        uint64_t force_restart_signals; /* bit sig-1 */
        pk_sup_stop_hook_fn stop_hook;  /* spec.stop_hook, or NULL */
        void *stop_hook_ctx;
        char **deps[DEP_NKINDS]; /* NULL-terminated copies */
        char *pid_file;
        char *log_dir;                /* templates only: passed on to dynamic children */
        struct pk_log_opts *log_opts; /* templates only; NULL: defaults */
        struct child_limit lim;       /* per-child backoff and start limit (limit.c) */
        /* socket activation and the fd store (fds.c) */
        int *lfds;              /* listen fds: owned duplicates */
        char **lnames;          /* their names */
        size_t nl;              /* how many */
        int *sfds;              /* the fd store: owned */
        char **snames;          /* their FDNAME= */
        size_t ns;              /* how many */
        unsigned store_max;     /* spec.fd_store_max */
        uint8_t store_preserve; /* spec.fd_store_preserve */
};

/* Readiness state beyond "ready at exec": the readiness / start timeout
 * timer, the READY_FD pipe, the watchdog timer and the watchers of a moved
 * main pid, allocated (ready.c) only for a child that is not ready at exec,
 * has a watchdog or forks, or at run time (WATCHDOG_USEC=, MAINPID=). */
struct child_ready {
        struct pk_loop_timer t_ready; /* READY_DELAY's delay, else the start timeout */
        struct pk_loop_io rio;        /* READY_FD pipe */
        int rfd;
        struct pk_loop_timer t_watchdog;
        struct pk_loop_child mw; /* moved main pid, when it is our child */
        struct pk_loop_io mio;   /* moved main pid's pidfd, when it is not */
};

/* One supervised child.  Hot state only: what every service needs inline;
 * the rest is in the side records above (docs/sup.md "Memory per service"). */
/* A start's token: "<pid>.<record hex>.<start hex>", at most 7+1+16+1+16 and a NUL. */
#define PK__SUP_TOKEN 42

struct child {
        struct pk_sup *sup;
        size_t idx;                                   /* its place in sup->kids */
        uint8_t type, restart, shutdown, stop_signal; /* enum pk_sup_child_type ... , 1..64 */
        uint8_t ready, notify_access; /* enum pk_sup_ready, enum pk_sup_notify_access */
        int16_t ready_fd;             /* 3..1023 */
        int64_t shutdown_ms;
        int64_t ready_delay_ms, start_timeout_ms, watchdog_ms;
        struct child_cold *x;   /* rare configuration, or NULL */
        struct child_ready *rd; /* READY_FD / watchdog state, or NULL */

        struct pk_cmd *cmd;     /* worker: owned */
        struct pk_cgroup *cg;   /* worker with a cgroup: owned */
        struct pk_loop_io cgio; /* its cgroup.events while waiting for "populated 0" */
        struct pk_exit pending_exit;
        struct pk_log *log;    /* log capture: owned */
        struct pk_sup *nested; /* supervisor: owned */

        struct pk_proc *proc; /* the spawned process while it lives */
        pid_t pid;            /* spawned pid */
        pid_t mainpid;        /* == pid unless MAINPID= moved it */
        int main_pidfd;       /* pidfd of a moved main pid (watched by rd->mw / rd->mio), else -1 */
        struct pk_loop_child cw; /* spawned pid */
        struct pk_loop_timer t_restart, t_stop;

        int state;
        int after_stop;
        int stop_reason;
        int fail_reason; /* for AFTER_FAILURE: START_TIMEOUT / WATCHDOG */
        bool significant : 1;
        bool in_group : 1;  /* restarts with a group (one_for_all / rest_for_one) */
        bool stop_mark : 1; /* to be stopped by the supervisor's sequential stop */
        bool dynamic : 1;   /* simple_one_for_one child: removed when it ends for good */
        bool wanted : 1;    /* WAITING: pulled in; used by dependency start */
        bool forking : 1;
        bool await_empty : 1;   /* main pid gone, cgroup not yet empty */
        bool cg_killed : 1;     /* cgroup.kill was written: renew before the next start */
        bool propagating : 1;   /* a stop/restart being passed to its part_of dependents */
        bool start_pending : 1; /* sup_start_internal() will start it: after/before wait for it */
        bool manual : 1;        /* spec.manual */
        bool has_exit : 1;
        bool keep_store : 1; /* a requested restart passes through DOWN: keep the store */
        bool hook_wait : 1;  /* STOPPING: the stop waits for pk_sup_stop_continue() */
        bool hook_gone : 1;  /* STOPPING: the process ended (EXITED emitted), hooks remain */
        bool hook_post : 1;  /* STOPPING: the STOPPED phase's hook was called */
        unsigned restarts;   /* restarts so far */
        unsigned fails;      /* consecutive quick failures (backoff exponent) */
        uint64_t start_ns, ready_ns, next_restart_ns;
        uint64_t start_seq; /* order of the last spawn, for reverse-order stops */
        struct pk_exit last_exit;
        size_t mapped;             /* child fds 3.. mapped in cmd at the last spawn (fds.c) */
        char token[PK__SUP_TOKEN]; /* PORTKIT_SUP_UNIT: "<pid>.<record hex>.<start hex>" */
        char id[];                 /* exactly sized; "" for a template */
};

/* The child's side record of rare configuration, allocated on first use:
 * NULL (and nothing allocated) only when out of memory. */
struct child_cold *pk__sup_child_cold(struct child *c);
/* Test only: which side records the child `id` of s (NULL: s's template)
 * holds now: bit 0 its cold record, bit 1 its ready record; -ENOENT. */
int pk__sup_child_sides(struct pk_sup *s, const char *id);
/* Its FileDescriptorStoreMax= (0: none). */
static inline unsigned child_store_max(const struct child *c)
{
        return c->x ? c->x->store_max : 0;
}
/* Its FileDescriptorStorePreserve= (the default without a cold record). */
static inline int child_store_preserve(const struct child *c)
{
        return c->x ? c->x->store_preserve : PK_SUP_STORE_RESTART;
}
/* Its dependency list of kind k (NULL-terminated), or NULL. */
static inline char **child_deps(const struct child *c, int k)
{
        return c->x ? c->x->deps[k] : NULL;
}

enum sup_phase { PHASE_IDLE, PHASE_RUNNING, PHASE_GROUP, PHASE_SHUTDOWN, PHASE_DONE };

struct sub {
        pk_sup_event_cb cb;
        void *ud;
};

#define SUP_MAX_SUBS 16

struct pk_sup {
        struct pk_loop *loop;
        char name[PK_SUP_ID_MAX + 1];
        struct pk_sup_opts opts;
        struct child *tmpl; /* simple_one_for_one template (no cmd) */
        struct child **kids;
        size_t n, cap;
        struct pk__htab by_id;  /* kids by id */
        struct pk__htab by_pid; /* root only: every worker of the tree by pid and by mainpid */
        size_t nwaiting;        /* kids in PK_SUP_WAITING */
        size_t n_before;        /* kids listing a `before` (deps_state scans siblings) */
        size_t n_conflicts;     /* kids listing a `conflicts` (try_start scans siblings) */
        struct pk_sup *parent;
        struct child *as_child; /* our record in the parent */

        int phase;
        bool starting_up; /* sup_start_internal() is starting the children */
        int end_reason;   /* why the shutdown phase began */
        bool failed;
        bool finished;
        char fail_id[PK_SUP_ID_MAX + 1];
        int64_t group_delay;

        uint64_t *hist; /* restart times (ns), a ring of intensity + 1 */
        size_t hist_n, hist_head, hist_cap;

        struct sub subs[SUP_MAX_SUBS];
        size_t nsubs;

        /* root only: event queue, delivered in order */
        struct pk_sup_event *q;
        size_t qn, qhead, qcap;
        bool delivering;

        /* sd_notify socket (created when the first READY_NOTIFY child exists) */
        struct pk_fd_unix_listener notify;
        struct pk_loop_io nio;
        char notify_name[PK_FD_UNIX_PATH_MAX + 1];

        char *cgroup_parent;  /* copied option */
        int cgroup_parent_fd; /* its directory, held once a child's cgroup was made; -1 */

        uint64_t seq;       /* tokens */
        uint64_t start_seq; /* spawn order */
        unsigned rng;

        /* reaper mode (root only) */
        bool reaper;
        bool killed_all;
        bool sweep_blocked; /* the last sweep stopped at a supervised zombie */
        int exit_status;
        int64_t reap_deadline_ms;
        void (*on_hup)(void *);
        void *hup_ud;
        struct pk_loop_signal s_chld, s_term, s_int, s_hup;
        struct pk_loop_timer t_deadline;
        /* tokens of ended instances whose leftovers the next batched scan kills */
        char (*leftover)[PK__SUP_TOKEN];
        size_t nleftover, capleftover;
        struct pk_loop_timer t_leftover;
};

/* sup.c */
uint64_t pk__sup_now_ns(void);
struct pk_sup *pk__sup_root(struct pk_sup *s);
void pk__sup_emit(struct child *c, int kind, int reason, int err, const char *text);
void pk__sup_emit_sup(struct pk_sup *s, int kind, int reason, pid_t pid, const struct pk_exit *ex);
void pk__sup_flush(struct pk_sup *s);
void pk__sup_child_ready(struct child *c);
void pk__sup_child_fail_stop(struct child *c, int reason);
void pk__sup_main_exited(struct child *c, const struct pk_exit *ex);
/* The worker of s's tree (s's root's) whose pid or main pid is `pid`, or NULL. */
struct child *pk__sup_find_pid(struct pk_sup *s, pid_t pid);
/* Makes room for `more` new pids in the root's pid index (before setting
 * them): 0 or -ENOMEM. */
int pk__sup_pid_room(struct child *c, size_t more);
/* Sets c->pid and c->mainpid and keeps the root's pid index in step; the
 * new pids need room made by pk__sup_pid_room() first. */
void pk__sup_set_pids(struct child *c, pid_t pid, pid_t mainpid);
/* Takes a reaped (dead) pid of c out of the index; c->pid / c->mainpid keep
 * it (the process group is still killed by that number). */
void pk__sup_unindex_pid(struct child *c, pid_t pid);
void pk__sup_shutdown(struct pk_sup *s, int reason);
void pk__sup_extend_stop(struct child *c, int64_t ms); /* EXTEND_TIMEOUT_USEC while stopping */

/* fds.c */
int pk__sup_fds_copy(struct child *c, const struct pk_sup_child_spec *sp); /* at add */
int pk__sup_fds_apply(struct child *c); /* before each spawn: map fds, set LISTEN_* */
void pk__sup_fds_free(struct child *c); /* at removal */
/* pk_sup_set_listen_fds(): the child's listen fds become copies of fds[0..n). */
int pk__sup_fds_replace(struct child *c, const int *fds, size_t n, const char *const *names);
/* Closes the fd store (FileDescriptorStorePreserve=). */
void pk__sup_fds_flush_store(struct child *c);
/* sd_notify FDSTORE=1 / FDSTOREREMOVE=1: takes ownership of fds[0..n) in every case. */
void pk__sup_fds_notify(struct child *c, bool store, bool remove, const char *name, int *fds,
                        size_t n);

/* ready.c */
int pk__sup_ready_prepare(struct child *c); /* once, at add: cmd changes */
int pk__sup_ready_start(struct child *c);   /* after a spawn */
void pk__sup_ready_stop(struct child *c);   /* when the process is gone / stopping */
void pk__sup_notify_close(struct pk_sup *s);
void pk__sup_watchdog_stop(struct child *c);
void pk__sup_ready_timer_stop(struct child *c); /* the readiness / start timeout timer */
void pk__sup_main_unwatch(struct child *c); /* stops watching a moved main pid, closes its pidfd */
/* MAINPID= or a forking service's pid file: validate, watch.  0 or -errno. */
int pk__sup_set_mainpid(struct child *c, const char *val, bool forking);

/* proc.c */
pid_t pk__proc_ppid(pid_t pid);
bool pk__proc_descends(pid_t pid, pid_t ancestor);
bool pk__proc_has_token(pid_t pid, const char *token);
/* Signals the orphans (children of this process that no supervisor runs)
 * carrying one of the n tokens, and all their descendants. Returns how many. */
int pk__proc_kill_orphans(struct pk_sup *root, const char (*tokens)[PK__SUP_TOKEN], size_t n,
                          int sig);
/* Reaper mode without a cgroup: the leftovers of an ended instance are
 * SIGKILLed by a scan batched over PK__SUP_LEFTOVER_MS (one read of the
 * children list for every instance that ended meanwhile); _flush scans now. */
#define PK__SUP_LEFTOVER_MS 10
void pk__sup_leftover_add(struct pk_sup *root, const char *token);
void pk__sup_leftover_flush(struct pk_sup *root);
void pk__sup_reap_sweep(struct pk_sup *root);
/* After a pidfd watcher reaped a supervised child: in reaper mode, the
 * orphans a sweep left behind it are reaped now. */
void pk__sup_after_reap(struct pk_sup *s);
void pk__sup_reaper_off(struct pk_sup *root);

/* ---- per-child restart policy (limit.c) ---- */

/* The backoff parameters in force for a child: its own, else the supervisor's. */
struct sup_backoff {
        int64_t base_ms, cap_ms, reset_ms; /* reset_ms < 0: never stable */
        int jitter_pct;                    /* <= 0: none */
        unsigned steps;                    /* > 0: geometric steps (RestartSteps=) */
};
/* The delay before consecutive restart number @k (from 0), without jitter. */
int64_t pk__sup_backoff_at(const struct sup_backoff *b, unsigned k);
/* Whether the child's restart_on set asks for a restart after this end: @normal
 * a normal exit, @ex the exit (NULL: a failed spawn or a kill for @reason,
 * PK_SUP_R_START_TIMEOUT or PK_SUP_R_WATCHDOG).  -1: no restart_on set (the
 * restart type decides), else 0 or 1. */
int pk__sup_restart_on(const struct child *c, bool normal, const struct pk_exit *ex, int reason);
/* Validates and copies the spec's per-child fields (and allocates the start
 * ring).  0, -EINVAL, -ENOMEM. */
int pk__sup_limit_apply(struct child *c, const struct pk_sup_child_spec *sp);
/* Writes the child's per-child fields back into a spec (templates). */
void pk__sup_limit_to_spec(const struct child *c, struct pk_sup_child_spec *sp);
void pk__sup_backoff_params(const struct child *c, struct sup_backoff *ret);
/* Records a start at @now. */
void pk__sup_limit_started(struct child *c, uint64_t now);
/* Whether one more start at @now stays within the child's start limit. */
bool pk__sup_limit_ok(struct child *c, uint64_t now);
/* Forgets the recorded starts (a start asked for after a give-up). */
void pk__sup_limit_reset(struct child *c);
void pk__sup_limit_free(struct child *c);

#endif
