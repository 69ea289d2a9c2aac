/* SPDX-License-Identifier: MIT */
/* Tests for the sup layer's stop hooks (pk_sup_child_spec.stop_hook,
 * pk_sup_stop_continue()) and forced restarts (force_restart_codes and
 * _signals, systemd's RestartForceExitStatus=) with real processes: each hook
 * runs a real stop command and lets the stop go on when that command has
 * exited, the children record the stop signal they get, and a shared file
 * shows the order of it all.  No assertion depends on a sleep: the loop runs
 * until an event arrives (with a generous bound that only turns a hang into a
 * failure). */
#include <portkit.h>

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BOUND_MS 20000 /* a hang becomes a failure after this; never a pass condition */
#define MAX_EVENTS 1024
#define MAX_CALLS 64

/* ---- harness ---------------------------------------------------------------------- */

struct call {
        char id[PK_SUP_ID_MAX + 1];
        int phase;
        int reason;
        int alive;     /* STOP phase: the child's main process was still running */
        pid_t pid;     /* pk_sup_child_info()'s pid at the call */
        size_t events; /* how many events had been delivered before the call */
};

/* A stop command a hook runs; its exit lets the stop go on. */
struct stopcmd {
        struct pk_loop_child w;
        struct pk_proc *p;
        struct pk_sup *sup;
        char id[PK_SUP_ID_MAX + 1];
        int used;
};

static struct {
        struct pk_loop *loop;
        struct pk_sup_event ev[MAX_EVENTS];
        size_t n;
        struct call calls[MAX_CALLS];
        size_t ncalls;
        int stop_kind;
        char stop_id[PK_SUP_ID_MAX + 1];
        int stopped;
        char dir[64]; /* temporary folder: the order file and markers */
        int mode;     /* what the hook does, per test */
        int inner_rc; /* pk_sup_stop_continue() called inside the hook */
        struct stopcmd cmds[MAX_CALLS];
} T;

enum { HOOK_RUN_CMD, HOOK_HOLD_FOREVER, HOOK_CONTINUE_INSIDE, HOOK_GO_ON };

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st;
        (void)flag;
        (void)ftw;
        return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

static void setup(void)
{
        memset(&T, 0, sizeof(T));
        snprintf(T.dir, sizeof(T.dir), "/tmp/pk-suphook-XXXXXX");
        cr_assert_not_null(mkdtemp(T.dir));
        cr_assert_eq(pk_loop_new(&T.loop), 0);
}

static void teardown(void)
{
        if (T.dir[0])
                (void)nftw(T.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* cppcheck-suppress unknownMacro */
TestSuite(sup_hook, .init = setup, .fini = teardown, .timeout = 60);

static void on_event(void *ud, const struct pk_sup_event *ev)
{
        (void)ud;
        if (T.n < MAX_EVENTS)
                T.ev[T.n++] = *ev;
        if (T.stop_kind && ev->kind == T.stop_kind &&
            (!T.stop_id[0] || strcmp(T.stop_id, ev->id) == 0)) {
                T.stopped = 1;
                pk_loop_stop(T.loop);
        }
}

static void run_until(int kind, const char *id)
{
        T.stop_kind = kind;
        snprintf(T.stop_id, sizeof(T.stop_id), "%s", id ? id : "");
        T.stopped = 0;
        (void)pk_loop_run_timeout(T.loop, BOUND_MS);
        cr_assert(T.stopped, "no %s event for '%s'", pk_sup_event_name(kind), id ? id : "");
        T.stop_kind = 0;
}

static int count(int kind, const char *id)
{
        int n = 0;
        for (size_t i = 0; i < T.n; i++)
                if (T.ev[i].kind == kind && (!id || strcmp(T.ev[i].id, id) == 0))
                        n++;
        return n;
}

static void until_total(int kind, const char *id, int n)
{
        while (count(kind, id) < n)
                run_until(kind, id);
}

/* Index of the first event of kind for id, or -1. */
static long first(int kind, const char *id)
{
        for (size_t i = 0; i < T.n; i++)
                if (T.ev[i].kind == kind && strcmp(T.ev[i].id, id) == 0)
                        return (long)i;
        return -1;
}

static struct pk_cmd *sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static struct pk_cmd *sh(const char *fmt, ...)
{
        char script[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(script, sizeof(script), fmt, ap);
        va_end(ap);
        struct pk_cmd *c = NULL;
        cr_assert_eq(pk_cmd_new("/bin/sh", &c), 0);
        cr_assert_eq(pk_cmd_pdeathsig(c, SIGKILL), 0); /* a failed test leaves nothing behind */
        cr_assert_eq(pk_cmd_arg(c, "-c"), 0);
        cr_assert_eq(pk_cmd_arg(c, script), 0);
        return c;
}

/* A child that says it is ready (fd 3) once it traps its stop signal, and
 * appends "term-ID" to the order file when the signal comes. */
static struct pk_cmd *trapper(const char *id)
{
        return sh(
            "exec 2>/dev/null; trap 'echo term-%s >> %s/order; exit 0' TERM; echo >&3; exec 3>&-; "
            "while :; do sleep 0.2; done",
            id, T.dir);
}

static void on_stopcmd_exit(struct pk_loop_child *w, int err, const struct pk_exit *ex)
{
        struct stopcmd *sc = w->w.ctx;
        (void)err;
        pk_proc_set_reaped(sc->p, ex);
        sc->p = pk_proc_free(sc->p);
        cr_assert_eq(pk_sup_stop_continue(sc->sup, sc->id), 0, "%s's stop was not held", sc->id);
}

/* Starts `echo WORD-ID >> order` as the stop command of id; its exit
 * continues the stop. */
static void run_stopcmd(struct pk_sup *sup, const char *id, const char *word)
{
        struct stopcmd *sc = NULL;
        for (size_t i = 0; i < MAX_CALLS && !sc; i++)
                if (!T.cmds[i].used)
                        sc = &T.cmds[i];
        cr_assert_not_null(sc);
        sc->used = 1;
        sc->sup = sup;
        snprintf(sc->id, sizeof(sc->id), "%s", id);
        struct pk_cmd *cmd = sh("echo %s-%s >> %s/order", word, id, T.dir);
        cr_assert_eq(pk_spawn(cmd, &sc->p, NULL), 0);
        pk_cmd_free(cmd);
        pk_loop_child_init(T.loop, &sc->w);
        sc->w.w.ctx = sc;
        cr_assert_eq(pk_proc_watch(sc->p, &sc->w, on_stopcmd_exit), 0);
}

static int hook(void *ctx, struct pk_sup *sup, const char *id, int phase, int reason)
{
        (void)ctx;
        cr_assert_lt(T.ncalls, MAX_CALLS);
        struct call *c = &T.calls[T.ncalls++];
        snprintf(c->id, sizeof(c->id), "%s", id);
        c->phase = phase;
        c->reason = reason;
        c->events = T.n;
        struct pk_sup_child_info ci;
        cr_assert_eq(pk_sup_child_info(sup, id, &ci), 0);
        cr_assert_eq(ci.state, PK_SUP_STOPPING, "a hook runs while the child is stopping");
        c->pid = ci.pid;
        c->alive = ci.pid > 0 && kill(ci.pid, 0) == 0;
        switch (T.mode) {
        case HOOK_RUN_CMD:
                run_stopcmd(sup, id, phase == PK_SUP_HOOK_STOP ? "stop" : "post");
                return 1;
        case HOOK_HOLD_FOREVER:
                return 1;
        case HOOK_CONTINUE_INSIDE:
                T.inner_rc = pk_sup_stop_continue(sup, id);
                return 1;
        default:
                return 0;
        }
}

static struct pk_sup *new_sup(int strategy)
{
        struct pk_sup_opts o;
        memset(&o, 0, sizeof(o));
        o.name = "hook";
        o.strategy = strategy;
        o.backoff_base_ms = 10;
        o.jitter_pct = -1;
        struct pk_sup *s = NULL;
        cr_assert_eq(pk_sup_new(T.loop, &o, &s), 0);
        cr_assert_eq(pk_sup_subscribe(s, on_event, NULL), 0);
        return s;
}

static void add_hooked(struct pk_sup *s, const char *id, struct pk_cmd *cmd, int ready_fd,
                       int64_t shutdown_ms)
{
        struct pk_sup_child_spec sp;
        memset(&sp, 0, sizeof(sp));
        sp.id = id;
        sp.restart = PK_SUP_PERMANENT;
        if (ready_fd) {
                sp.ready = PK_SUP_READY_FD;
                sp.ready_fd = ready_fd;
        }
        sp.shutdown_ms = shutdown_ms;
        sp.stop_hook = hook;
        sp.stop_hook_ctx = &T;
        cr_assert_eq(pk_sup_add(s, &sp, cmd), 0);
}

static char *order_file(void)
{
        char path[128];
        snprintf(path, sizeof(path), "%s/order", T.dir);
        FILE *f = fopen(path, "re");
        static char buf[4096];
        buf[0] = '\0';
        if (f) {
                size_t n = fread(buf, 1, sizeof(buf) - 1, f);
                buf[n] = '\0';
                fclose(f);
        }
        return buf;
}

static void finish(struct pk_sup *s)
{
        struct pk_sup_status st;
        pk_sup_state(s, &st);
        if (st.running && !st.finished) {
                T.mode = HOOK_GO_ON;
                (void)pk_sup_shutdown(s);
                pk_sup_state(s, &st);
                if (!st.finished)
                        run_until(PK_SUP_EV_SUP_DOWN, "");
        }
        pk_sup_free(s);
        for (size_t i = 0; i < MAX_CALLS; i++)
                if (T.cmds[i].p) {
                        pk_loop_child_stop(&T.cmds[i].w);
                        T.cmds[i].p = pk_proc_free(T.cmds[i].p);
                }
        pk_loop_free(T.loop);
        T.loop = NULL;
}

/* ---- stop hooks ------------------------------------------------------------------- */

/* Shutdown stops c, b, a (reverse start order); each one's STOP hook runs
 * its stop command while the process lives and before its stop signal, its
 * STOPPED hook once it is gone, and only then does the next child's stop
 * begin. */
Test(sup_hook, hooks_run_in_reverse_start_order_at_shutdown)
{
        struct pk_sup *s = new_sup(PK_SUP_ONE_FOR_ONE);
        const char *ids[] = {"a", "b", "c"};
        for (size_t i = 0; i < 3; i++)
                add_hooked(s, ids[i], trapper(ids[i]), 3, 10000);
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        for (size_t i = 0; i < 3; i++)
                until_total(PK_SUP_EV_READY, ids[i], 1);
        cr_assert_eq(T.ncalls, 0, "no hook before a stop");
        cr_assert_eq(pk_sup_shutdown(s), 0);
        run_until(PK_SUP_EV_SUP_DOWN, "");
        cr_assert_str_eq(order_file(), "stop-c\nterm-c\npost-c\n"
                                       "stop-b\nterm-b\npost-b\n"
                                       "stop-a\nterm-a\npost-a\n");
        cr_assert_eq(T.ncalls, 6);
        for (size_t i = 0; i < 3; i++) {
                const char *id = ids[2 - i];
                struct call *stop = &T.calls[2 * i], *post = &T.calls[2 * i + 1];
                cr_assert_str_eq(stop->id, id);
                cr_assert_eq(stop->phase, PK_SUP_HOOK_STOP);
                cr_assert_eq(stop->reason, PK_SUP_R_REQUESTED);
                cr_assert(stop->alive, "%s: its process runs during the STOP phase", id);
                cr_assert_str_eq(post->id, id);
                cr_assert_eq(post->phase, PK_SUP_HOOK_STOPPED);
                cr_assert_eq(post->pid, 0, "%s: no pid once its process is gone", id);
                long ex = first(PK_SUP_EV_EXITED, id);
                cr_assert_geq(ex, 0);
                cr_assert_lt((size_t)ex, post->events, "%s: EXITED comes before STOPPED", id);
                cr_assert_eq(T.ev[ex].state, PK_SUP_STOPPING);
                cr_assert(T.ev[ex].exit.exited && T.ev[ex].exit.code == 0,
                          "%s ended by its trap (the stop signal), not a kill", id);
                long done = first(PK_SUP_EV_STOPPED, id);
                cr_assert_geq(done, (long)post->events, "%s: STOPPED once its STOPPED hook is done",
                              id);
                cr_assert_eq(count(PK_SUP_EV_STOPPED, id), 1);
        }
        cr_assert_eq(pk_sup_stop_continue(s, "a"), -EALREADY);
        finish(s);
}

/* A hook that never lets the stop go on: shutdown_ms bounds it -- the
 * service is SIGKILLed (its stop signal never came), then the STOPPED phase
 * is bounded by one more shutdown_ms and the shutdown completes. */
Test(sup_hook, a_hook_that_never_continues_is_bounded_by_shutdown_ms)
{
        struct pk_sup *s = new_sup(PK_SUP_ONE_FOR_ONE);
        add_hooked(s, "stuck", sh("exec sleep 1000"), 0, 100);
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        until_total(PK_SUP_EV_READY, "stuck", 1);
        T.mode = HOOK_HOLD_FOREVER;
        cr_assert_eq(pk_sup_shutdown(s), 0);
        run_until(PK_SUP_EV_SUP_DOWN, "");
        long ex = first(PK_SUP_EV_EXITED, "stuck");
        cr_assert_geq(ex, 0);
        cr_assert(!T.ev[ex].exit.exited && T.ev[ex].exit.signal == SIGKILL,
                  "held past shutdown_ms: SIGKILL, never the stop signal (exited %d signal %d)",
                  T.ev[ex].exit.exited, T.ev[ex].exit.signal);
        cr_assert_eq(T.ncalls, 2);
        cr_assert_eq(T.calls[0].phase, PK_SUP_HOOK_STOP);
        cr_assert_eq(T.calls[1].phase, PK_SUP_HOOK_STOPPED);
        struct pk_sup_status st;
        cr_assert_eq(pk_sup_state(s, &st), 0);
        cr_assert(st.finished && !st.failed);
        cr_assert_eq(pk_sup_stop_continue(s, "stuck"), -EALREADY);
        finish(s);
}

/* one_for_all: c fails once; the supervisor stops b then a, each through its
 * hooks (c ended by itself: no hook), then restarts all three. */
Test(sup_hook, a_group_restart_runs_the_hooks_of_the_stopped_siblings)
{
        struct pk_sup *s = new_sup(PK_SUP_ONE_FOR_ALL);
        add_hooked(s, "a", trapper("a"), 3, 10000);
        add_hooked(s, "b", trapper("b"), 3, 10000);
        add_hooked(s, "c",
                   sh("echo >&3; if [ -e %s/failed ]; then exec sleep 1000; fi; "
                      "while [ ! -e %s/go ]; do sleep 0.05; done; touch %s/failed; exit 1",
                      T.dir, T.dir, T.dir),
                   3, 10000);
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        until_total(PK_SUP_EV_READY, "a", 1);
        until_total(PK_SUP_EV_READY, "b", 1);
        until_total(PK_SUP_EV_READY, "c", 1);
        char go[128];
        snprintf(go, sizeof(go), "%s/go", T.dir);
        int fd = open(go, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        cr_assert_geq(fd, 0);
        close(fd);
        until_total(PK_SUP_EV_READY, "c", 2);
        until_total(PK_SUP_EV_READY, "a", 2);
        until_total(PK_SUP_EV_READY, "b", 2);
        cr_assert_str_eq(order_file(), "stop-b\nterm-b\npost-b\nstop-a\nterm-a\npost-a\n");
        cr_assert_eq(T.ncalls, 4);
        cr_assert_str_eq(T.calls[0].id, "b");
        cr_assert_eq(T.calls[0].reason, PK_SUP_R_STRATEGY);
        cr_assert_str_eq(T.calls[2].id, "a");
        for (size_t i = 0; i < 4; i++)
                cr_assert_str_neq(T.calls[i].id, "c", "c ended by itself: no hook");
        finish(s);
}

/* The hook may let the stop go on from inside itself (and return 1 or 0). */
Test(sup_hook, continue_from_inside_the_hook)
{
        struct pk_sup *s = new_sup(PK_SUP_ONE_FOR_ONE);
        add_hooked(s, "x", sh("exec sleep 1000"), 0, 10000);
        add_hooked(s, "y", sh("exec sleep 1000"), 0, 10000);
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        until_total(PK_SUP_EV_READY, "y", 1);
        T.mode = HOOK_CONTINUE_INSIDE;
        T.inner_rc = 1;
        cr_assert_eq(pk_sup_stop_child(s, "x"), 0);
        until_total(PK_SUP_EV_EXITED, "x", 1);
        cr_assert_eq(T.inner_rc, 0);
        long ex = first(PK_SUP_EV_EXITED, "x");
        cr_assert(!T.ev[ex].exit.exited && T.ev[ex].exit.signal == SIGTERM);
        T.mode = HOOK_GO_ON;
        cr_assert_eq(pk_sup_stop_child(s, "y"), 0);
        until_total(PK_SUP_EV_EXITED, "y", 1);
        ex = first(PK_SUP_EV_EXITED, "y");
        cr_assert(!T.ev[ex].exit.exited && T.ev[ex].exit.signal == SIGTERM);
        struct pk_sup_child_info ci;
        cr_assert_eq(pk_sup_child_info(s, "y", &ci), 0);
        cr_assert_eq(ci.state, PK_SUP_DOWN);
        cr_assert_eq(T.ncalls, 4);
        cr_assert_eq(pk_sup_stop_continue(s, "nosuch"), -ENOENT);
        cr_assert_eq(pk_sup_stop_continue(NULL, "x"), -EINVAL);
        finish(s);
}

/* Reaper mode's shutdown deadline ends a stop a hook holds (shutdown
 * infinity: nothing else would): the service is SIGKILLed, no STOPPED phase
 * is called or awaited, and the tree ends with exit status 2. */
Test(sup_hook, the_reaper_deadline_ends_a_held_stop)
{
        struct pk_sup *s = new_sup(PK_SUP_ONE_FOR_ONE);
        struct pk_sup_child_spec sp;
        memset(&sp, 0, sizeof(sp));
        sp.id = "held";
        sp.shutdown = PK_SUP_SHUTDOWN_INFINITY;
        sp.stop_hook = hook;
        cr_assert_eq(pk_sup_add(s, &sp, sh("exec sleep 1000")), 0);
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        until_total(PK_SUP_EV_READY, "held", 1);
        cr_assert_eq(pk_sup_reaper(s, 200, NULL, NULL), 0);
        T.mode = HOOK_HOLD_FOREVER;
        cr_assert_eq(kill(getpid(), SIGTERM), 0); /* taken by the loop's signalfd */
        run_until(PK_SUP_EV_SUP_DOWN, "");
        long ex = first(PK_SUP_EV_EXITED, "held");
        cr_assert_geq(ex, 0);
        cr_assert(!T.ev[ex].exit.exited && T.ev[ex].exit.signal == SIGKILL);
        cr_assert_eq(T.ncalls, 1, "only the STOP phase: nothing is awaited past the deadline");
        struct pk_sup_status st;
        cr_assert_eq(pk_sup_state(s, &st), 0);
        cr_assert_eq(st.exit_status, 2);
        cr_assert_eq(T.calls[0].reason, PK_SUP_R_SIGNAL);
        finish(s);
}

Test(sup_hook, bad_hook_and_force_specs_are_refused)
{
        struct pk_sup *s = new_sup(PK_SUP_ONE_FOR_ONE);
        struct pk_sup_opts o;
        memset(&o, 0, sizeof(o));
        o.name = "nested";
        struct pk_sup *n = NULL;
        cr_assert_eq(pk_sup_new(T.loop, &o, &n), 0);
        struct pk_sup_child_spec sp;
        memset(&sp, 0, sizeof(sp));
        sp.id = "n";
        sp.stop_hook = hook;
        cr_assert_eq(pk_sup_add_sup(s, &sp, n), -EINVAL, "a supervisor child takes no hook");
        memset(&sp, 0, sizeof(sp));
        sp.id = "f";
        const int bad[] = {256};
        sp.force_restart_codes = bad;
        sp.n_force_restart_codes = 1;
        cr_assert_eq(pk_sup_add(s, &sp, sh("true")), -EINVAL);
        sp.force_restart_codes = NULL;
        cr_assert_eq(pk_sup_add(s, &sp, sh("true")), -EINVAL, "a count without a list");
        const int many[PK_SUP_MAX_SUCCESS + 1] = {0};
        sp.force_restart_codes = many;
        sp.n_force_restart_codes = PK_SUP_MAX_SUCCESS + 1;
        cr_assert_eq(pk_sup_add(s, &sp, sh("true")), -EINVAL);
        finish(s);
}

/* ---- forced restarts ------------------------------------------------------------------ */

static void add_forced(struct pk_sup *s, const char *id, int restart, unsigned restart_on,
                       const int *codes, size_t n, uint64_t sigs, struct pk_cmd *cmd)
{
        struct pk_sup_child_spec sp;
        memset(&sp, 0, sizeof(sp));
        sp.id = id;
        sp.restart = restart;
        sp.restart_on = restart_on;
        sp.force_restart_codes = codes;
        sp.n_force_restart_codes = n;
        sp.force_restart_signals = sigs;
        cr_assert_eq(pk_sup_add(s, &sp, cmd), 0);
}

/* The first run ends as `end` (a shell command), the next sleeps. */
static struct pk_cmd *once(const char *id, const char *end)
{
        return sh("if [ -e %s/%s.ran ]; then exec sleep 1000; fi; touch %s/%s.ran; %s", T.dir, id,
                  T.dir, id, end);
}

/* A temporary child (Restart=no) is restarted after a forced code or signal,
 * a transient one restarting on clean ends only (Restart=on-success) after a
 * forced failure code; another code is not forced. */
Test(sup_hook, force_restart_codes_restart_a_temporary_child)
{
        struct pk_sup *s = new_sup(PK_SUP_ONE_FOR_ONE);
        const int three[] = {3};
        add_forced(s, "code", PK_SUP_TEMPORARY, 0, three, 1, 0, once("code", "exit 3"));
        add_forced(s, "other", PK_SUP_TEMPORARY, 0, three, 1, 0, once("other", "exit 4"));
        add_forced(s, "sig", PK_SUP_TEMPORARY, 0, NULL, 0, UINT64_C(1) << (SIGUSR1 - 1),
                   once("sig", "kill -USR1 $$"));
        add_forced(s, "onclean", PK_SUP_TRANSIENT, PK_SUP_RESTART_ON_CLEAN, three, 1, 0,
                   once("onclean", "exit 3"));
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        until_total(PK_SUP_EV_RUNNING, "code", 2);
        until_total(PK_SUP_EV_RUNNING, "sig", 2);
        until_total(PK_SUP_EV_RUNNING, "onclean", 2);
        until_total(PK_SUP_EV_GAVE_UP, "other", 1);
        cr_assert_eq(count(PK_SUP_EV_RESTART, "code"), 1);
        cr_assert_eq(count(PK_SUP_EV_RESTART, "sig"), 1);
        cr_assert_eq(count(PK_SUP_EV_RESTART, "onclean"), 1);
        cr_assert_eq(count(PK_SUP_EV_RESTART, "other"), 0, "exit 4 is not forced");
        struct pk_sup_child_info ci;
        cr_assert_eq(pk_sup_child_info(s, "other", &ci), 0);
        cr_assert_eq(ci.state, PK_SUP_FAILED);
        finish(s);
}

/* systemd's order: RestartPreventExitStatus= wins over RestartForceExitStatus=
 * and over Restart=always. */
Test(sup_hook, prevent_wins_over_force_and_always)
{
        struct pk_sup *s = new_sup(PK_SUP_ONE_FOR_ONE);
        const int three[] = {3};
        struct pk_sup_child_spec sp;
        memset(&sp, 0, sizeof(sp));
        sp.id = "both";
        sp.restart = PK_SUP_PERMANENT;
        sp.force_restart_codes = three;
        sp.n_force_restart_codes = 1;
        sp.no_restart_codes = three;
        sp.n_no_restart_codes = 1;
        cr_assert_eq(pk_sup_add(s, &sp, once("both", "exit 3")), 0);
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        until_total(PK_SUP_EV_GAVE_UP, "both", 1);
        cr_assert_eq(count(PK_SUP_EV_RESTART, "both"), 0);
        finish(s);
}

/* A simple_one_for_one template's forced codes reach its dynamic children. */
Test(sup_hook, force_restart_of_a_template_reaches_dynamic_children)
{
        const int three[] = {3};
        struct pk_sup_child_spec t;
        memset(&t, 0, sizeof(t));
        t.restart = PK_SUP_TEMPORARY;
        t.force_restart_codes = three;
        t.n_force_restart_codes = 1;
        struct pk_sup_opts o;
        memset(&o, 0, sizeof(o));
        o.name = "tmpl";
        o.strategy = PK_SUP_SIMPLE_ONE_FOR_ONE;
        o.template_spec = &t;
        struct pk_sup *s = NULL;
        cr_assert_eq(pk_sup_new(T.loop, &o, &s), 0);
        cr_assert_eq(pk_sup_subscribe(s, on_event, NULL), 0);
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        cr_assert_eq(pk_sup_start_dynamic(s, "dyn", once("dyn", "exit 3")), 0);
        until_total(PK_SUP_EV_RUNNING, "dyn", 2);
        cr_assert_eq(count(PK_SUP_EV_RESTART, "dyn"), 1);
        finish(s);
}
