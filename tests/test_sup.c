/* SPDX-License-Identifier: MIT */
/* Tests for the sup layer with real processes (/bin/sh scripts and
 * tests/helpers/sup_probe): every strategy x restart type x exit kind,
 * intensity escalation through three levels, the backoff sequence and its
 * reset read from the event stream's timestamps, readiness by every method,
 * dependency order and parallelism, stopping a tree whose grandchild
 * double-forks, orphan reaping, and bad specs.  No assertion depends on a
 * sleep: the loop runs until an event arrives (with a generous bound that
 * only turns a hang into a failure). */
#include <portkit.h>

#include "cg_testutil.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

pid_t pk__proc_ppid(pid_t pid);                          /* src/sup/proc.c */
const char *pk__sup_policy_action(int state, int event); /* src/sup/sup.c */
const char *pk__sup_policy_event(int event);

#define PROBE PK_BUILD_DIR "/tests/helpers/sup_probe"
#define BOUND_MS 20000 /* a hang becomes a failure after this; never a pass condition */

/* ---- harness ---------------------------------------------------------------------- */

#define MAX_EVENTS 4096

struct rec {
        struct pk_loop *loop;
        struct pk_sup_event ev[MAX_EVENTS];
        size_t n;
        /* stop the loop when this event (kind, id, nth occurrence) arrives */
        int stop_kind;
        char stop_id[PK_SUP_ID_MAX + 1];
        int stop_count;
        struct pk_sup *stop_sup; /* only events of this supervisor, if set */
        int seen;
        int stopped;
};

static struct rec R;

static void on_event(void *ud, const struct pk_sup_event *ev)
{
        struct rec *r = ud;
        if (r->n < MAX_EVENTS)
                r->ev[r->n++] = *ev;
        if (r->stop_kind && ev->kind == r->stop_kind && (!r->stop_sup || r->stop_sup == ev->sup) &&
            (!r->stop_id[0] || strcmp(r->stop_id, ev->id) == 0)) {
                if (++r->seen >= r->stop_count) {
                        r->stopped = 1;
                        pk_loop_stop(r->loop);
                }
        }
}

/* Runs the loop until the count-th `kind` event of `id` ("" any) since now. */
static void run_until(int kind, const char *id, int count)
{
        R.stop_kind = kind;
        snprintf(R.stop_id, sizeof(R.stop_id), "%s", id ? id : "");
        R.stop_count = count;
        R.seen = 0;
        R.stopped = 0;
        int r = pk_loop_run_timeout(R.loop, BOUND_MS);
        if (!R.stopped && getenv("SUP_DEBUG"))
                for (size_t i = 0; i < R.n; i++)
                        fprintf(stderr, "%llu %s %s %s\n",
                                (unsigned long long)R.ev[i].time_ns / 1000000, R.ev[i].id,
                                pk_sup_event_name(R.ev[i].kind),
                                pk_sup_reason_name(R.ev[i].reason));
        cr_assert(R.stopped, "no %s event for '%s' (x%d); loop returned %d",
                  pk_sup_event_name(kind), id ? id : "", count, r);
        R.stop_kind = 0;
        R.stop_sup = NULL;
}

static struct pk_sup *new_sup(const struct pk_sup_opts *o)
{
        struct pk_sup *s = NULL;
        if (!R.loop)
                cr_assert_eq(pk_loop_new(&R.loop), 0);
        cr_assert_eq(pk_sup_new(R.loop, o, &s), 0);
        cr_assert_eq(pk_sup_subscribe(s, on_event, &R), 0);
        return s;
}

static struct pk_cmd *sh(const char *script)
{
        struct pk_cmd *c = NULL;
        cr_assert_eq(pk_cmd_new("/bin/sh", &c), 0);
        cr_assert_eq(pk_cmd_pdeathsig(c, SIGKILL), 0); /* a failed test leaves nothing behind */
        cr_assert_eq(pk_cmd_arg(c, "-c"), 0);
        cr_assert_eq(pk_cmd_arg(c, script), 0);
        return c;
}

static struct pk_cmd *probe(const char *const *steps)
{
        struct pk_cmd *c = NULL;
        cr_assert_eq(pk_cmd_new(PROBE, &c), 0);
        cr_assert_eq(pk_cmd_pdeathsig(c, SIGKILL), 0);
        for (size_t i = 0; steps[i]; i++)
                cr_assert_eq(pk_cmd_arg(c, steps[i]), 0);
        return c;
}

static void add(struct pk_sup *s, const char *id, int restart, struct pk_cmd *cmd)
{
        struct pk_sup_child_spec sp;
        memset(&sp, 0, sizeof(sp));
        sp.id = id;
        sp.restart = restart;
        cr_assert_eq(pk_sup_add(s, &sp, cmd), 0);
}

/* A restart delay of ms every time: no doubling, no jitter, never reset by
 * a stable run (systemd's RestartSec= alone), so the schedule is exact. */
static void fixed_delay(struct pk_sup_child_spec *sp, int64_t ms)
{
        sp->backoff_base_ms = ms;
        sp->backoff_cap_ms = ms;
        sp->backoff_reset_ms = -1;
        sp->jitter_pct = -1;
}

/* Adds sp to s, a supervisor with cgroups on; where there is no writable
 * cgroup v2 the add fails and the test is skipped, not failed. */
static void add_or_skip(struct pk_sup *s, const struct pk_sup_child_spec *sp, struct pk_cmd *cmd)
{
        int r = pk_sup_add(s, sp, cmd);
        if (r < 0) {
                pk_sup_free(s);
                cr_skip_test("no writable cgroup v2 here (%s)", pk_strerror(r));
        }
}

static int count(int kind, const char *id)
{
        int n = 0;
        for (size_t i = 0; i < R.n; i++)
                if (R.ev[i].kind == kind && (!id || strcmp(R.ev[i].id, id) == 0))
                        n++;
        return n;
}

/* Index of the nth (1-based) event of kind for id, or -1. */
static long find(int kind, const char *id, int nth)
{
        for (size_t i = 0; i < R.n; i++)
                if (R.ev[i].kind == kind && (!id || strcmp(R.ev[i].id, id) == 0))
                        if (--nth == 0)
                                return (long)i;
        return -1;
}

static void finish(struct pk_sup *s)
{
        struct pk_sup_status st;
        pk_sup_state(s, &st);
        if (st.running && !st.finished) {
                cr_assert_eq(pk_sup_shutdown(s), 0);
                pk_sup_state(s, &st);
                if (!st.finished) {
                        R.stop_sup = s;
                        run_until(PK_SUP_EV_SUP_DOWN, "", 1);
                }
        }
        pk_sup_free(s);
        pk_loop_free(R.loop);
        R.loop = NULL;
}

static void reset(void)
{
        memset(&R, 0, sizeof(R));
}

TestSuite(sup, .init = reset, .fini = cgt_cleanup, .timeout = 60);

/* ---- bad specs ------------------------------------------------------------------------- */

Test(sup, bad_specs_are_clear_errors)
{
        struct pk_sup_opts o;
        memset(&o, 0, sizeof(o));
        struct pk_loop *loop;
        cr_assert_eq(pk_loop_new(&loop), 0);
        struct pk_sup *s = NULL;
        o.strategy = 9;
        cr_assert_eq(pk_sup_new(loop, &o, &s), -EINVAL);
        o.strategy = PK_SUP_SIMPLE_ONE_FOR_ONE; /* no template */
        cr_assert_eq(pk_sup_new(loop, &o, &s), -EINVAL);
        o.strategy = 0;
        o.period_ms = -1;
        cr_assert_eq(pk_sup_new(loop, &o, &s), -EINVAL);
        o.period_ms = 0;
        o.backoff_base_ms = 500;
        o.backoff_cap_ms = 100;
        cr_assert_eq(pk_sup_new(loop, &o, &s), -EINVAL);
        cr_assert_eq(pk_sup_new(loop, NULL, &s), 0);

        struct pk_sup_child_spec sp;
        memset(&sp, 0, sizeof(sp));
        cr_assert_eq(pk_sup_add(s, &sp, sh("true")), -EINVAL); /* no id */
        sp.id = "a/b";
        cr_assert_eq(pk_sup_add(s, &sp, sh("true")), -EINVAL);
        sp.id = "0123456789012345678901234567890123456789012345678901234567890123456789";
        cr_assert_eq(pk_sup_add(s, &sp, sh("true")), -EINVAL);
        sp.id = "a";
        sp.restart = 7;
        cr_assert_eq(pk_sup_add(s, &sp, sh("true")), -EINVAL);
        sp.restart = PK_SUP_PERMANENT;
        sp.significant = 1; /* a permanent child cannot be significant */
        cr_assert_eq(pk_sup_add(s, &sp, sh("true")), -EINVAL);
        sp.significant = 0;
        sp.ready = PK_SUP_READY_FD;
        sp.ready_fd = 1; /* must be >= 3 */
        cr_assert_eq(pk_sup_add(s, &sp, sh("true")), -EINVAL);
        sp.ready = PK_SUP_READY_EXEC;
        sp.watchdog_ms = 100; /* watchdog needs sd_notify */
        cr_assert_eq(pk_sup_add(s, &sp, sh("true")), -EINVAL);
        sp.watchdog_ms = 0;
        int codes[1] = {300};
        sp.success_codes = codes;
        sp.n_success_codes = 1;
        cr_assert_eq(pk_sup_add(s, &sp, sh("true")), -EINVAL);
        sp.success_codes = NULL;
        sp.n_success_codes = 0;
        cr_assert_eq(pk_sup_add(s, &sp, NULL), -EINVAL);
        cr_assert_eq(pk_sup_add(s, &sp, sh("sleep 100")), 0);
        cr_assert_eq(pk_sup_add(s, &sp, sh("true")), -EEXIST);
        cr_assert_eq(pk_sup_start_dynamic(s, "x", sh("true")), -EPERM);

        /* dependency errors name the place */
        const char *na[] = {"b", NULL}, *nb[] = {"c", NULL}, *nc[] = {"a", NULL};
        struct pk_sup *d = NULL;
        cr_assert_eq(pk_sup_new(loop, NULL, &d), 0);
        memset(&sp, 0, sizeof(sp));
        sp.id = "a";
        sp.requires_ids = na;
        cr_assert_eq(pk_sup_add(d, &sp, sh("true")), 0);
        char where[128];
        cr_assert_eq(pk_sup_start(d, where, sizeof(where)), PK_EDEPUNKNOWN); /* no b */
        cr_assert_str_eq(where, "a -> b");
        sp.id = "b";
        sp.requires_ids = NULL;
        sp.after = nb;
        cr_assert_eq(pk_sup_add(d, &sp, sh("true")), 0);
        sp.id = "c";
        sp.after = NULL;
        sp.binds_to = nc;
        cr_assert_eq(pk_sup_add(d, &sp, sh("true")), 0);
        cr_assert_eq(pk_sup_start(d, where, sizeof(where)), PK_EDEPCYCLE);
        cr_assert_str_eq(where, "a -> b -> c -> a");
        cr_assert_str_eq(pk_strerror(PK_EDEPCYCLE), "child dependencies form a cycle");
        pk_sup_free(d);
        pk_sup_free(s);
        pk_loop_free(loop);
}

/* ---- restart type x exit kind ------------------------------------------------------------- */

Test(sup, strategy_by_restart_type_by_exit_kind)
{
        static const char *const scripts[] = {"exit 0", "exit 3", "exit 42", "kill -KILL $$"};
        static const int abnormal[] = {0, 1, 0 /* 42 is in the success set */, 1};
        for (int strat = PK_SUP_ONE_FOR_ONE; strat <= PK_SUP_SIMPLE_ONE_FOR_ONE; strat++) {
                for (int type = PK_SUP_PERMANENT; type <= PK_SUP_TEMPORARY; type++) {
                        for (size_t k = 0; k < sizeof(scripts) / sizeof(scripts[0]); k++) {
                                R.n = 0;
                                int codes[] = {42};
                                struct pk_sup_child_spec sp;
                                memset(&sp, 0, sizeof(sp));
                                sp.restart = type;
                                sp.success_codes = codes;
                                sp.n_success_codes = 1;
                                struct pk_sup_opts o;
                                memset(&o, 0, sizeof(o));
                                o.strategy = strat;
                                if (strat == PK_SUP_SIMPLE_ONE_FOR_ONE)
                                        o.template_spec = &sp;
                                struct pk_sup *s = new_sup(&o);
                                cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
                                /* a sibling started before "w" fails */
                                if (strat == PK_SUP_SIMPLE_ONE_FOR_ONE) {
                                        cr_assert_eq(
                                            pk_sup_start_dynamic(s, "s", sh("exec sleep 1000")), 0);
                                        cr_assert_eq(pk_sup_start_dynamic(s, "w", sh(scripts[k])),
                                                     0);
                                } else {
                                        struct pk_sup_child_spec sib;
                                        memset(&sib, 0, sizeof(sib));
                                        sib.id = "s";
                                        cr_assert_eq(pk_sup_add(s, &sib, sh("exec sleep 1000")), 0);
                                        sp.id = "w";
                                        cr_assert_eq(pk_sup_add(s, &sp, sh(scripts[k])), 0);
                                }
                                if (count(PK_SUP_EV_EXITED, "w") == 0)
                                        run_until(PK_SUP_EV_EXITED, "w", 1);
                                long ex = find(PK_SUP_EV_EXITED, "w", 1);
                                if (k == 3) {
                                        cr_assert_eq(R.ev[ex].exit.exited, 0);
                                        cr_assert_eq(R.ev[ex].exit.signal, SIGKILL);
                                } else {
                                        cr_assert_eq(R.ev[ex].exit.exited, 1);
                                }
                                int want = type == PK_SUP_PERMANENT ||
                                           (type == PK_SUP_TRANSIENT && abnormal[k]);
                                /* only one_for_all stops the sibling started before it */
                                int sib = want && strat == PK_SUP_ONE_FOR_ALL;
                                if (want && count(PK_SUP_EV_RESTART, "w") == 0)
                                        run_until(PK_SUP_EV_RESTART, "w", 1);
                                cr_assert_eq(count(PK_SUP_EV_RESTART, "w"), want,
                                             "strategy %d type %d script '%s': restart %d, want %d",
                                             strat, type, scripts[k], count(PK_SUP_EV_RESTART, "w"),
                                             want);
                                cr_assert_eq(count(PK_SUP_EV_STOPPING, "s"), sib,
                                             "strategy %d type %d script '%s': sibling stops %d",
                                             strat, type, scripts[k],
                                             count(PK_SUP_EV_STOPPING, "s"));
                                struct pk_sup_child_info ci;
                                int r = pk_sup_child_info(s, "w", &ci);
                                if (want) {
                                        cr_assert_eq(r, 0);
                                        cr_assert_eq(ci.state, PK_SUP_BACKOFF);
                                        cr_assert_gt(ci.next_restart_ns, 0);
                                } else if (strat == PK_SUP_SIMPLE_ONE_FOR_ONE) {
                                        cr_assert_eq(r, -ENOENT,
                                                     "a dynamic child that ended is removed");
                                } else {
                                        cr_assert_eq(r, 0);
                                        cr_assert_eq(ci.has_exited, 1);
                                        cr_assert_eq(ci.state,
                                                     type == PK_SUP_TEMPORARY && abnormal[k]
                                                         ? PK_SUP_FAILED
                                                         : PK_SUP_DOWN);
                                }
                                cr_assert_eq(count(PK_SUP_EV_GAVE_UP, "w"),
                                             type == PK_SUP_TEMPORARY && abnormal[k]);
                                finish(s);
                        }
                }
        }
}

/* ---- strategies --------------------------------------------------------------------------- */

static struct pk_sup *three(int strategy)
{
        struct pk_sup *s =
            new_sup(&(struct pk_sup_opts){.strategy = strategy, .backoff_base_ms = 1});
        add(s, "a", PK_SUP_PERMANENT, sh("exec sleep 1000"));
        add(s, "b", PK_SUP_PERMANENT, sh("exec sleep 1000"));
        add(s, "c", PK_SUP_PERMANENT, sh("exec sleep 1000"));
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        cr_assert_eq(count(PK_SUP_EV_READY, NULL), 3); /* ready at exec: all at once */
        return s;
}

Test(sup, one_for_one_restarts_only_the_child)
{
        struct pk_sup *s = three(PK_SUP_ONE_FOR_ONE);
        struct pk_sup_child_info a0, b0;
        pk_sup_child_info(s, "a", &a0);
        pk_sup_child_info(s, "b", &b0);
        cr_assert_eq(pk_sup_signal_child(s, "b", SIGKILL), 0);
        run_until(PK_SUP_EV_READY, "b", 1);
        struct pk_sup_child_info a1, b1;
        pk_sup_child_info(s, "a", &a1);
        pk_sup_child_info(s, "b", &b1);
        cr_assert_eq(a1.pid, a0.pid);
        cr_assert_neq(b1.pid, b0.pid);
        cr_assert_eq(b1.restarts, 1);
        cr_assert_eq(b1.last_exit.signal, SIGKILL);
        cr_assert_eq(count(PK_SUP_EV_STOPPING, NULL), 0);
        struct pk_sup_counts cc;
        pk_sup_count_children(s, &cc);
        cr_assert_eq(cc.specs, 3);
        cr_assert_eq(cc.active, 3);
        cr_assert_eq(cc.workers, 3);
        finish(s);
        /* the shutdown stopped them newest first */
}

Test(sup, one_for_all_stops_in_reverse_and_restarts_in_order)
{
        struct pk_sup *s = three(PK_SUP_ONE_FOR_ALL);
        size_t mark = R.n;
        cr_assert_eq(pk_sup_signal_child(s, "b", SIGKILL), 0);
        run_until(PK_SUP_EV_READY, "c", 1);
        long sc = find(PK_SUP_EV_STOPPING, "c", 1), sa = find(PK_SUP_EV_STOPPING, "a", 1);
        cr_assert(sc > (long)mark && sa > sc, "c stops before a");
        cr_assert_eq(R.ev[sc].reason, PK_SUP_R_STRATEGY);
        long xa = find(PK_SUP_EV_STARTING, "a", 2), xb = find(PK_SUP_EV_STARTING, "b", 2),
             xc = find(PK_SUP_EV_STARTING, "c", 2);
        cr_assert(xa > sa && xb > xa && xc > xb, "restart in start order a, b, c");
        cr_assert_eq(count(PK_SUP_EV_RESTART, NULL), 3); /* all three scheduled, one delay */
        finish(s);
}

Test(sup, rest_for_one_restarts_the_later_ones)
{
        struct pk_sup *s = three(PK_SUP_REST_FOR_ONE);
        cr_assert_eq(pk_sup_signal_child(s, "b", SIGKILL), 0);
        run_until(PK_SUP_EV_READY, "c", 1);
        cr_assert_eq(count(PK_SUP_EV_STOPPING, "a"), 0);
        cr_assert_eq(count(PK_SUP_EV_STARTING, "a"), 1);
        cr_assert_eq(count(PK_SUP_EV_STOPPING, "c"), 1);
        cr_assert(find(PK_SUP_EV_STARTING, "c", 2) > find(PK_SUP_EV_STARTING, "b", 2));
        /* the shutdown stops newest first: c, b, a (c and b were restarted after a) */
        cr_assert_eq(pk_sup_shutdown(s), 0);
        R.stop_sup = s;
        run_until(PK_SUP_EV_SUP_DOWN, "", 1);
        long pc = find(PK_SUP_EV_STOPPING, "c", 2), pb = find(PK_SUP_EV_STOPPING, "b", 1),
             pa = find(PK_SUP_EV_STOPPING, "a", 1);
        cr_assert(pc < pb && pb < pa, "reverse start order");
        finish(s);
}

/* Runs the loop until @s is down, and checks it failed for @reason. */
static void until_failed(struct pk_sup *s, int reason)
{
        R.stop_sup = s;
        run_until(PK_SUP_EV_SUP_DOWN, "", 1);
        struct pk_sup_status st;
        cr_assert_eq(pk_sup_state(s, &st), 0);
        cr_assert(st.finished && st.failed);
        cr_assert_eq(st.reason, reason);
}

/* pk_sup_set_opts(): one_for_one becomes one_for_all while the children run
 * (none is restarted by the change, the next exit restarts all three);
 * intensity 1 then gives the supervisor up at the second restart; what is
 * fixed at creation is refused and changes nothing. */
Test(sup, set_opts_changes_strategy_and_intensity_in_place)
{
        struct pk_sup *s = three(PK_SUP_ONE_FOR_ONE);
        struct pk_sup_child_info a0, c0;
        pk_sup_child_info(s, "a", &a0);
        pk_sup_child_info(s, "c", &c0);
        struct pk_sup_opts o;
        memset(&o, 0, sizeof(o));
        o.strategy = PK_SUP_ONE_FOR_ALL;
        o.backoff_base_ms = 1;
        o.name = "other";
        cr_assert_eq(pk_sup_set_opts(s, &o), -EINVAL); /* the name is fixed */
        o.name = NULL;
        o.strategy = PK_SUP_SIMPLE_ONE_FOR_ONE;
        cr_assert_eq(pk_sup_set_opts(s, &o), -EINVAL);
        o.strategy = PK_SUP_ONE_FOR_ALL;
        o.backoff_cap_ms = 1;
        o.backoff_base_ms = 2;
        cr_assert_eq(pk_sup_set_opts(s, &o), -EINVAL); /* cap below base */
        o.backoff_cap_ms = 0;
        o.backoff_base_ms = 1;
        o.intensity = 1;
        o.period_ms = 60000;
        cr_assert_eq(pk_sup_set_opts(NULL, &o), -EINVAL);
        cr_assert_eq(pk_sup_set_opts(s, &o), 0);
        cr_assert_eq(count(PK_SUP_EV_STOPPING, NULL), 0, "the change stopped a child");
        struct pk_sup_child_info a1;
        pk_sup_child_info(s, "a", &a1);
        cr_assert_eq(a1.pid, a0.pid);
        /* one_for_all now: b's death restarts a and c too */
        cr_assert_eq(pk_sup_signal_child(s, "b", SIGKILL), 0);
        run_until(PK_SUP_EV_READY, "c", 1);
        cr_assert_eq(count(PK_SUP_EV_STOPPING, "a"), 1);
        cr_assert_eq(count(PK_SUP_EV_STOPPING, "c"), 1);
        struct pk_sup_child_info c1;
        pk_sup_child_info(s, "c", &c1);
        cr_assert_neq(c1.pid, c0.pid);
        /* intensity 1 in 60 s: a second restart is one too many */
        cr_assert_eq(pk_sup_signal_child(s, "a", SIGKILL), 0);
        until_failed(s, PK_SUP_R_INTENSITY);
        finish(s);
}

Test(sup, simple_one_for_one_dynamic_children)
{
        struct pk_sup_child_spec t;
        memset(&t, 0, sizeof(t));
        t.restart = PK_SUP_TRANSIENT;
        struct pk_sup *s = new_sup(&(struct pk_sup_opts){
            .strategy = PK_SUP_SIMPLE_ONE_FOR_ONE, .template_spec = &t, .backoff_base_ms = 1});
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        cr_assert_eq(pk_sup_add(s, &t, sh("true")), -EPERM);
        cr_assert_eq(pk_sup_start_dynamic(s, "ok", sh("exit 0")), 0);
        cr_assert_eq(pk_sup_start_dynamic(s, "bad", sh("exit 1")), 0);
        cr_assert_eq(pk_sup_start_dynamic(s, "ok", sh("exit 0")), -EEXIST);
        run_until(PK_SUP_EV_EXITED, "bad", 2);
        /* "ok" ended normally: transient, not restarted, removed; "bad" restarted */
        struct pk_sup_child_info ci;
        cr_assert_eq(pk_sup_child_info(s, "ok", &ci), -ENOENT);
        cr_assert_eq(pk_sup_child_info(s, "bad", &ci), 0);
        cr_assert_geq(ci.restarts, 1);
        cr_assert_eq(pk_sup_which_children(s, NULL, 0), 1);
        finish(s);
}

/* ---- backoff ----------------------------------------------------------------------------- */

static long ev_ms_between(long from, long to)
{
        return (long)((R.ev[to].time_ns - R.ev[from].time_ns) / 1000000u);
}

Test(sup, backoff_doubles_to_the_cap)
{
        struct pk_sup *s = new_sup(&(struct pk_sup_opts){
            .intensity = 100,
            .backoff_base_ms = 20,
            .backoff_cap_ms = 160,
            .jitter_pct = -1, /* exact delays */
        });
        add(s, "w", PK_SUP_PERMANENT, sh("exit 1"));
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        run_until(PK_SUP_EV_STARTING, "w", 7);
        static const int64_t want[] = {20, 40, 80, 160, 160, 160};
        for (int i = 0; i < 6; i++) {
                long r = find(PK_SUP_EV_RESTART, "w", i + 1);
                long st = find(PK_SUP_EV_STARTING, "w", i + 2);
                cr_assert_geq(r, 0);
                /* the announced delay, within a ms of rounding */
                cr_assert(R.ev[r].delay_ms >= want[i] && R.ev[r].delay_ms <= want[i] + 1,
                          "restart %d: delay %lld, want %lld", i + 1, (long long)R.ev[r].delay_ms,
                          (long long)want[i]);
                /* and the stream's timestamps show it was kept (never early) */
                cr_assert_geq(ev_ms_between(r, st), want[i] - 1, "restart %d came early", i + 1);
                cr_assert_eq(R.ev[st].restarts, (unsigned)i + 1);
        }
        finish(s);
}

Test(sup, backoff_resets_after_stable_uptime)
{
        struct pk_sup *s = new_sup(&(struct pk_sup_opts){
            .intensity = 100,
            .backoff_base_ms = 5000, /* a flapping child would wait 5 s */
            .backoff_reset_ms = 100, /* but 100 ms up counts as stable */
        });
        add(s, "w", PK_SUP_PERMANENT, sh("sleep 0.2; exit 1"));
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        run_until(PK_SUP_EV_STARTING, "w", 3);
        for (int i = 1; i <= 2; i++) {
                long r = find(PK_SUP_EV_RESTART, "w", i);
                cr_assert_eq(R.ev[r].delay_ms, 0, "restart %d of a stable child is immediate", i);
        }
        finish(s);
}

/* ---- per-child restart policy ------------------------------------------------------------- */

Test(sup, per_child_backoff_overrides_the_supervisor)
{
        struct pk_sup *s = new_sup(&(struct pk_sup_opts){
            .intensity = 1000,
            .backoff_base_ms = 1, /* the supervisor's: 1 ms doubling, with jitter */
            .backoff_cap_ms = 4,
        });
        struct pk_sup_child_spec sp;
        memset(&sp, 0, sizeof(sp));
        /* "fixed": systemd's RestartSec=60ms: the same delay every time, no jitter,
         * never stable (the exit after a long run waits too) */
        sp.id = "fixed";
        fixed_delay(&sp, 60);
        cr_assert_eq(pk_sup_add(s, &sp, sh("exit 1")), 0);
        /* "steps": its own base and cap, doubling */
        sp.id = "steps";
        sp.backoff_base_ms = 30;
        sp.backoff_cap_ms = 120;
        sp.backoff_reset_ms = 0;
        cr_assert_eq(pk_sup_add(s, &sp, sh("exit 1")), 0);
        /* "now": < 0 is no delay at all */
        sp.id = "now";
        sp.backoff_base_ms = -1;
        sp.backoff_cap_ms = 0;
        cr_assert_eq(pk_sup_add(s, &sp, sh("sleep 0.05; exit 1")), 0);
        /* "inherit": zeros are the supervisor's (delays 1..4 ms plus jitter) */
        memset(&sp, 0, sizeof(sp));
        sp.id = "inherit";
        cr_assert_eq(pk_sup_add(s, &sp, sh("sleep 0.05; exit 1")), 0);
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        run_until(PK_SUP_EV_STARTING, "steps", 5); /* 30 + 60 + 120 + 120 ms */
        for (int i = 1; i <= 4; i++) {
                long r = find(PK_SUP_EV_RESTART, "fixed", i);
                long st = find(PK_SUP_EV_STARTING, "fixed", i + 1);
                cr_assert(r >= 0 && st >= 0);
                cr_assert(R.ev[r].delay_ms >= 60 && R.ev[r].delay_ms <= 61,
                          "fixed restart %d: delay %lld", i, (long long)R.ev[r].delay_ms);
                cr_assert_geq(ev_ms_between(r, st), 59, "fixed restart %d came early", i);
        }
        static const int64_t want[] = {30, 60, 120, 120};
        for (int i = 1; i <= 4; i++) {
                long r = find(PK_SUP_EV_RESTART, "steps", i);
                cr_assert_geq(r, 0);
                cr_assert(R.ev[r].delay_ms >= want[i - 1] && R.ev[r].delay_ms <= want[i - 1] + 1,
                          "steps restart %d: delay %lld, want %lld", i, (long long)R.ev[r].delay_ms,
                          (long long)want[i - 1]);
        }
        for (int i = 1; i <= 3; i++) {
                long r = find(PK_SUP_EV_RESTART, "now", i);
                cr_assert_geq(r, 0);
                cr_assert_eq(R.ev[r].delay_ms, 0);
                r = find(PK_SUP_EV_RESTART, "inherit", i);
                cr_assert_geq(r, 0);
                cr_assert_leq(R.ev[r].delay_ms, 5, "inherit restart %d: %lld", i,
                              (long long)R.ev[r].delay_ms);
        }
        finish(s);
}

Test(sup, per_child_backoff_reset_never_keeps_the_delay)
{
        struct pk_sup *s = new_sup(&(struct pk_sup_opts){
            .intensity = 100,
            .backoff_reset_ms = 50, /* the supervisor would call 150 ms of uptime stable */
        });
        struct pk_sup_child_spec sp;
        memset(&sp, 0, sizeof(sp));
        sp.id = "w";
        fixed_delay(&sp, 40); /* but this child waits every time */
        cr_assert_eq(pk_sup_add(s, &sp, sh("sleep 0.15; exit 1")), 0);
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        run_until(PK_SUP_EV_STARTING, "w", 3);
        for (int i = 1; i <= 2; i++) {
                long r = find(PK_SUP_EV_RESTART, "w", i);
                cr_assert(R.ev[r].delay_ms >= 40 && R.ev[r].delay_ms <= 41, "restart %d: %lld", i,
                          (long long)R.ev[r].delay_ms);
        }
        finish(s);
}

Test(sup, per_child_start_limit_gives_up_the_child_only)
{
        struct pk_sup *s = new_sup(&(struct pk_sup_opts){
            .intensity = 100, /* the supervisor's own limit is far away */
            .jitter_pct = -1,
        });
        struct pk_sup_child_spec sp;
        memset(&sp, 0, sizeof(sp));
        sp.id = "flaky";
        sp.backoff_base_ms = 5;
        sp.backoff_cap_ms = 5;
        sp.start_limit_burst = 3;
        sp.start_limit_interval_ms = 60000;
        const char *need[] = {"flaky", NULL};
        cr_assert_eq(pk_sup_add(s, &sp, sh("exit 1")), 0);
        memset(&sp, 0, sizeof(sp));
        sp.id = "dependent";
        sp.requires_ids = need;
        sp.after = need;
        cr_assert_eq(pk_sup_add(s, &sp, sh("exec sleep 1000")), 0);
        add(s, "bystander", PK_SUP_PERMANENT, sh("exec sleep 1000"));
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        run_until(PK_SUP_EV_GAVE_UP, "flaky", 1);
        /* three starts in the window, then no fourth */
        cr_assert_eq(count(PK_SUP_EV_STARTING, "flaky"), 3);
        cr_assert_eq(count(PK_SUP_EV_EXITED, "flaky"), 3);
        long g = find(PK_SUP_EV_GAVE_UP, "flaky", 1);
        cr_assert_eq(R.ev[g].reason, PK_SUP_R_START_LIMIT);
        cr_assert_str_eq(pk_sup_reason_name(PK_SUP_R_START_LIMIT), "start-limit");
        struct pk_sup_child_info ci;
        cr_assert_eq(pk_sup_child_info(s, "flaky", &ci), 0);
        cr_assert_eq(ci.state, PK_SUP_FAILED);
        /* the supervisor did not fail; its other child runs on */
        struct pk_sup_status st;
        cr_assert_eq(pk_sup_state(s, &st), 0);
        cr_assert(st.running && !st.finished);
        cr_assert_eq(pk_sup_child_info(s, "bystander", &ci), 0);
        cr_assert_eq(ci.state, PK_SUP_READY);
        cr_assert_eq(count(PK_SUP_EV_SUP_DOWN, NULL), 0);
        /* what requires it is stopped with it (it ran meanwhile: ready at exec) */
        long d = find(PK_SUP_EV_STOPPING, "dependent", 1);
        cr_assert_gt(d, g);
        cr_assert_eq(R.ev[d].reason, PK_SUP_R_DEPENDENCY);
        /* reset (systemctl reset-failed): down, not started */
        cr_assert_eq(pk_sup_reset_child(s, "flaky"), 0);
        cr_assert_eq(pk_sup_child_info(s, "flaky", &ci), 0);
        cr_assert_eq(ci.state, PK_SUP_DOWN);
        cr_assert_eq(pk_sup_reset_child(s, "flaky"), -EALREADY);
        cr_assert_eq(pk_sup_reset_child(s, "nope"), -ENOENT);
        cr_assert_eq(count(PK_SUP_EV_STARTING, "flaky"), 3);
        /* a start asked for clears the history (reset-failed + start): three more */
        cr_assert_eq(pk_sup_start_child(s, "flaky"), 0);
        run_until(PK_SUP_EV_GAVE_UP, "flaky", 1);
        cr_assert_eq(count(PK_SUP_EV_STARTING, "flaky"), 6);
        finish(s);
}

Test(sup, per_child_start_limit_window_slides)
{
        /* restarts 140 ms apart under a limit of 3 starts in 250 ms: the window
         * slides, so the child is never given up (a counter that never forgot
         * would stop it at the third) */
        struct pk_sup *s = new_sup(&(struct pk_sup_opts){.intensity = 100, .period_ms = 60000});
        struct pk_sup_child_spec sp;
        memset(&sp, 0, sizeof(sp));
        sp.id = "w";
        fixed_delay(&sp, 140);
        sp.start_limit_burst = 3;
        sp.start_limit_interval_ms = 250;
        cr_assert_eq(pk_sup_add(s, &sp, sh("exit 1")), 0);
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        run_until(PK_SUP_EV_STARTING, "w", 6);
        cr_assert_eq(count(PK_SUP_EV_GAVE_UP, "w"), 0);
        /* and the stream shows the limit kept: any 4 starts span 250 ms or more */
        for (int i = 1; i + 3 <= 6; i++) {
                long a = find(PK_SUP_EV_STARTING, "w", i), b = find(PK_SUP_EV_STARTING, "w", i + 3);
                cr_assert_geq(ev_ms_between(a, b), 250);
        }
        finish(s);
}

Test(sup, per_child_policy_bad_values)
{
        struct pk_loop *loop;
        cr_assert_eq(pk_loop_new(&loop), 0);
        struct pk_sup *s = NULL;
        cr_assert_eq(pk_sup_new(loop, NULL, &s), 0);
        struct pk_sup_child_spec sp;
        memset(&sp, 0, sizeof(sp));
        sp.id = "a";
        sp.backoff_cap_ms = -1;
        cr_assert_eq(pk_sup_add(s, &sp, sh("true")), -EINVAL);
        sp.backoff_cap_ms = 0;
        sp.jitter_pct = 101;
        cr_assert_eq(pk_sup_add(s, &sp, sh("true")), -EINVAL);
        sp.jitter_pct = 0;
        sp.start_limit_burst = -1;
        cr_assert_eq(pk_sup_add(s, &sp, sh("true")), -EINVAL);
        sp.start_limit_burst = 2;
        sp.start_limit_interval_ms = -5;
        cr_assert_eq(pk_sup_add(s, &sp, sh("true")), -EINVAL);
        sp.start_limit_interval_ms = 0;
        cr_assert_eq(pk_sup_add(s, &sp, sh("true")), 0);
        pk_sup_free(s);
        pk_loop_free(loop);
}

/* a template's per-child policy reaches every dynamic child */
Test(sup, per_child_policy_of_a_template)
{
        struct pk_sup_child_spec t;
        memset(&t, 0, sizeof(t));
        t.backoff_base_ms = 1;
        t.backoff_cap_ms = 1;
        t.start_limit_burst = 2;
        struct pk_sup *s = new_sup(&(struct pk_sup_opts){
            .strategy = PK_SUP_SIMPLE_ONE_FOR_ONE, .template_spec = &t, .intensity = 100});
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        cr_assert_eq(pk_sup_start_dynamic(s, "d1", sh("exit 1")), 0);
        run_until(PK_SUP_EV_GAVE_UP, "d1", 1);
        cr_assert_eq(count(PK_SUP_EV_STARTING, "d1"), 2);
        long g = find(PK_SUP_EV_GAVE_UP, "d1", 1);
        cr_assert_eq(R.ev[g].reason, PK_SUP_R_START_LIMIT);
        finish(s);
}

/* ---- intensity and escalation ------------------------------------------------------------- */

Test(sup, intensity_escalates_through_three_levels)
{
        struct pk_sup_opts o;
        memset(&o, 0, sizeof(o));
        o.intensity = 1;
        o.period_ms = 60000;
        o.backoff_base_ms = 1;
        o.jitter_pct = -1;
        o.name = "top";
        struct pk_sup *top = new_sup(&o);
        struct pk_sup *mid = NULL, *leaf = NULL;
        o.name = "mid";
        cr_assert_eq(pk_sup_new(R.loop, &o, &mid), 0);
        o.name = "leaf";
        cr_assert_eq(pk_sup_new(R.loop, &o, &leaf), 0);
        add(leaf, "bad", PK_SUP_PERMANENT, sh("exit 1"));
        add(leaf, "good", PK_SUP_PERMANENT, sh("exec sleep 1000"));
        struct pk_sup_child_spec sp;
        memset(&sp, 0, sizeof(sp));
        sp.id = "leaf";
        cr_assert_eq(pk_sup_add_sup(mid, &sp, leaf), 0);
        sp.id = "mid";
        cr_assert_eq(pk_sup_add_sup(top, &sp, mid), 0);
        add(top, "other", PK_SUP_PERMANENT, sh("exec sleep 1000"));
        cr_assert_eq(pk_sup_add_sup(mid, &sp, leaf), -EINVAL); /* already owned */
        cr_assert_eq(pk_sup_start(top, NULL, 0), 0);
        until_failed(top, PK_SUP_R_INTENSITY);
        struct pk_sup_status st;
        cr_assert_eq(pk_sup_state(top, &st), 0);
        cr_assert_str_eq(st.id, "mid");
        /* leaf failed 4 times (twice per mid incarnation), mid twice, top once */
        int leaf_down = 0, mid_down = 0;
        for (size_t i = 0; i < R.n; i++)
                if (R.ev[i].kind == PK_SUP_EV_SUP_DOWN) {
                        if (strcmp(R.ev[i].sup_name, "leaf") == 0)
                                leaf_down++;
                        else if (strcmp(R.ev[i].sup_name, "mid") == 0)
                                mid_down++;
                }
        cr_assert_eq(leaf_down, 4);
        cr_assert_eq(mid_down, 2);
        /* nothing of the tree runs any more */
        struct pk_sup_child_info ci;
        cr_assert_eq(pk_sup_child_info(top, "other", &ci), 0);
        cr_assert_eq(ci.pid, 0);
        cr_assert_eq(pk_sup_child_info(leaf, "good", &ci), 0);
        cr_assert_eq(ci.pid, 0);
        /* "other" was stopped by the failing top, not restarted */
        long so = find(PK_SUP_EV_STOPPING, "other", 1);
        cr_assert_geq(so, 0);
        cr_assert_eq(R.ev[so].reason, PK_SUP_R_INTENSITY);
        finish(top);
}

Test(sup, auto_shutdown_any_significant)
{
        struct pk_sup *s =
            new_sup(&(struct pk_sup_opts){.auto_shutdown = PK_SUP_AUTO_ANY_SIGNIFICANT});
        struct pk_sup_child_spec sp;
        memset(&sp, 0, sizeof(sp));
        sp.id = "job";
        sp.restart = PK_SUP_TRANSIENT;
        sp.significant = 1;
        cr_assert_eq(pk_sup_add(s, &sp, sh("sleep 0.05; exit 0")), 0);
        add(s, "svc", PK_SUP_PERMANENT, sh("exec sleep 1000"));
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        R.stop_sup = s;
        run_until(PK_SUP_EV_SUP_DOWN, "", 1);
        struct pk_sup_status st;
        pk_sup_state(s, &st);
        cr_assert(st.finished && !st.failed);
        cr_assert_eq(st.reason, PK_SUP_R_AUTO_SHUTDOWN);
        cr_assert_eq(count(PK_SUP_EV_STOPPING, "svc"), 1);
        finish(s);
}

/* ---- run-time control ---------------------------------------------------------------------- */

Test(sup, stop_start_restart_remove)
{
        struct pk_sup *s = new_sup(NULL);
        add(s, "w", PK_SUP_PERMANENT, sh("exec sleep 1000"));
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        cr_assert_eq(pk_sup_remove_child(s, "w"), -EBUSY);
        cr_assert_eq(pk_sup_stop_child(s, "w"), 0);
        run_until(PK_SUP_EV_EXITED, "w", 1);
        struct pk_sup_child_info ci;
        pk_sup_child_info(s, "w", &ci);
        cr_assert_eq(ci.state, PK_SUP_DOWN);
        cr_assert_eq(ci.last_exit.signal, SIGTERM);
        cr_assert_eq(count(PK_SUP_EV_RESTART, "w"), 0); /* a requested stop is not restarted */
        cr_assert_eq(pk_sup_start_child(s, "w"), 0);
        cr_assert_eq(pk_sup_start_child(s, "w"), -EALREADY);
        pk_sup_child_info(s, "w", &ci);
        pid_t first = ci.pid;
        cr_assert_eq(pk_sup_restart_child(s, "w"), 0);
        run_until(PK_SUP_EV_READY, "w", 1);
        pk_sup_child_info(s, "w", &ci);
        cr_assert_neq(ci.pid, first);
        cr_assert_eq(ci.restarts, 0, "a requested restart does not count");
        cr_assert_eq(pk_sup_signal_child(s, "nope", SIGTERM), -ENOENT);
        /* a child added while running starts at once */
        add(s, "late", PK_SUP_PERMANENT, sh("exec sleep 1000"));
        pk_sup_child_info(s, "late", &ci);
        cr_assert_eq(ci.state, PK_SUP_READY);
        cr_assert_gt(ci.pid, 0);
        cr_assert_eq(pk_sup_stop_child(s, "late"), 0);
        run_until(PK_SUP_EV_EXITED, "late", 1);
        cr_assert_eq(pk_sup_remove_child(s, "late"), 0);
        cr_assert_eq(pk_sup_which_children(s, NULL, 0), 1);
        finish(s);
}

/* Adds "stubborn": it ignores SIGTERM (its stop ends with SIGKILL after
 * 100 ms), ready once its trap is in place (s6 notification-fd). */
static void add_stubborn(struct pk_sup *s)
{
        struct pk_sup_child_spec sp;
        memset(&sp, 0, sizeof(sp));
        sp.id = "stubborn";
        sp.shutdown_ms = 100;
        sp.ready = PK_SUP_READY_FD;
        sp.ready_fd = 3;
        cr_assert_eq(pk_sup_add(s, &sp, sh("trap '' TERM; echo >&3; while :; do sleep 1; done")),
                     0);
}

Test(sup, stop_escalates_to_kill_after_timeout)
{
        struct pk_sup *s = new_sup(NULL);
        add_stubborn(s);
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        run_until(PK_SUP_EV_READY, "stubborn", 1);
        finish(s);
        long ex = find(PK_SUP_EV_EXITED, "stubborn", 1);
        cr_assert_geq(ex, 0);
        cr_assert_eq(R.ev[ex].exit.signal, SIGKILL);
        long sp_ = find(PK_SUP_EV_STOPPING, "stubborn", 1);
        cr_assert_geq(ev_ms_between(sp_, ex), 99);
}

/* pk_sup_set_opts() while a one_for_all group restart stops the group is
 * refused (-EBUSY: the old strategy decided it) and changes nothing; once the
 * group runs again it applies. */
Test(sup, set_opts_waits_for_a_group_restart)
{
        struct pk_sup_opts o;
        memset(&o, 0, sizeof(o));
        o.strategy = PK_SUP_ONE_FOR_ALL;
        o.backoff_base_ms = 1;
        struct pk_sup *s = new_sup(&o);
        add_stubborn(s);
        add(s, "b", PK_SUP_PERMANENT, sh("exec sleep 1000"));
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        run_until(PK_SUP_EV_READY, "stubborn", 1);
        cr_assert_eq(pk_sup_signal_child(s, "b", SIGKILL), 0);
        run_until(PK_SUP_EV_STOPPING, "stubborn", 1); /* it ignores SIGTERM: 100 ms to SIGKILL */
        o.strategy = PK_SUP_ONE_FOR_ONE;
        cr_assert_eq(pk_sup_set_opts(s, &o), -EBUSY);
        run_until(PK_SUP_EV_READY, "stubborn", 1);
        cr_assert_eq(pk_sup_set_opts(s, &o), 0);
        /* one_for_one now: b's death leaves stubborn alone */
        struct pk_sup_child_info st0;
        pk_sup_child_info(s, "stubborn", &st0);
        cr_assert_eq(pk_sup_signal_child(s, "b", SIGKILL), 0);
        run_until(PK_SUP_EV_READY, "b", 1);
        struct pk_sup_child_info st1;
        pk_sup_child_info(s, "stubborn", &st1);
        cr_assert_eq(st1.pid, st0.pid, "one_for_one restarted stubborn");
        cr_assert_eq(count(PK_SUP_EV_STOPPING, "stubborn"), 1);
        finish(s);
}

/* ---- readiness ------------------------------------------------------------------------------ */

static void add_ready(struct pk_sup *s, const char *id, int how, struct pk_cmd *cmd,
                      const struct pk_sup_child_spec *extra)
{
        struct pk_sup_child_spec sp;
        memset(&sp, 0, sizeof(sp));
        if (extra)
                sp = *extra;
        sp.id = id;
        sp.ready = how;
        if (how == PK_SUP_READY_FD && !sp.ready_fd)
                sp.ready_fd = 3;
        cr_assert_eq(pk_sup_add(s, &sp, cmd), 0);
}

Test(sup, ready_by_delay)
{
        struct pk_sup *s = new_sup(NULL);
        struct pk_sup_child_spec x;
        memset(&x, 0, sizeof(x));
        x.ready_delay_ms = 150;
        add_ready(s, "d", PK_SUP_READY_DELAY, sh("exec sleep 1000"), &x);
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        run_until(PK_SUP_EV_READY, "d", 1);
        cr_assert_geq(ev_ms_between(find(PK_SUP_EV_RUNNING, "d", 1), find(PK_SUP_EV_READY, "d", 1)),
                      149);
        finish(s);
}

Test(sup, ready_by_notification_fd)
{
        struct pk_sup *s = new_sup(NULL);
        add_ready(s, "n", PK_SUP_READY_FD,
                  probe((const char *[]){"sleep:50", "fd:3", "pause", NULL}), NULL);
        /* a child that closes the fd without a newline never becomes ready: start timeout */
        struct pk_sup_child_spec x;
        memset(&x, 0, sizeof(x));
        x.start_timeout_ms = 200;
        x.restart = PK_SUP_TEMPORARY;
        add_ready(s, "mute", PK_SUP_READY_FD, sh("exec 3>&-; exec sleep 1000"), &x);
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        run_until(PK_SUP_EV_READY, "n", 1);
        cr_assert_lt(find(PK_SUP_EV_RUNNING, "n", 1), find(PK_SUP_EV_READY, "n", 1));
        run_until(PK_SUP_EV_GAVE_UP, "mute", 1);
        long st = find(PK_SUP_EV_STOPPING, "mute", 1);
        cr_assert_eq(R.ev[st].reason, PK_SUP_R_START_TIMEOUT);
        cr_assert_eq(count(PK_SUP_EV_READY, "mute"), 0);
        finish(s);
}

Test(sup, ready_by_sd_notify_with_status)
{
        struct pk_sup *s = new_sup(NULL);
        add_ready(s, "n", PK_SUP_READY_NOTIFY,
                  probe((const char *[]){"send:STATUS=warming up", "sleep:20",
                                         "send:READY=1\\nSTATUS=serving", "pause", NULL}),
                  NULL);
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        run_until(PK_SUP_EV_READY, "n", 1);
        long st1 = find(PK_SUP_EV_STATUS, "n", 1);
        cr_assert_geq(st1, 0);
        cr_assert_str_eq(R.ev[st1].text, "STATUS=warming up");
        cr_assert_lt(st1, find(PK_SUP_EV_READY, "n", 1));
        if (count(PK_SUP_EV_STATUS, "n") < 2) /* same datagram: usually already here */
                run_until(PK_SUP_EV_STATUS, "n", 1);
        cr_assert_str_eq(R.ev[find(PK_SUP_EV_STATUS, "n", 2)].text, "STATUS=serving");
        finish(s);
}

Test(sup, sd_notify_access_is_checked)
{
        struct pk_sup *s = new_sup(NULL);
        struct pk_sup_child_spec x;
        memset(&x, 0, sizeof(x));
        x.start_timeout_ms = 300;
        x.restart = PK_SUP_TEMPORARY;
        x.notify_access = PK_SUP_NOTIFY_MAIN;
        /* READY=1 from a forked child: refused under "main" ... */
        add_ready(s, "main", PK_SUP_READY_NOTIFY,
                  probe((const char *[]){"fsend:READY=1", "pause", NULL}), &x);
        x.notify_access = PK_SUP_NOTIFY_ALL;
        /* ... accepted under "all" (a timeout no loaded machine reaches: the
         * short one above only ends the refused child sooner) */
        x.start_timeout_ms = 60000;
        add_ready(s, "all", PK_SUP_READY_NOTIFY,
                  probe((const char *[]){"fsend:READY=1", "pause", NULL}), &x);
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        run_until(PK_SUP_EV_GAVE_UP, "main", 1);
        cr_assert_eq(count(PK_SUP_EV_READY, "main"), 0);
        cr_assert_eq(R.ev[find(PK_SUP_EV_STOPPING, "main", 1)].reason, PK_SUP_R_START_TIMEOUT);
        if (count(PK_SUP_EV_READY, "all") == 0)
                run_until(PK_SUP_EV_READY, "all", 1);
        cr_assert_eq(count(PK_SUP_EV_READY, "all"), 1);
        cr_assert_eq(count(PK_SUP_EV_GAVE_UP, "all"), 0);
        finish(s);
}

Test(sup, watchdog_timeout_restarts_a_silent_child)
{
        struct pk_sup *s = new_sup(&(struct pk_sup_opts){.backoff_base_ms = 1});
        struct pk_sup_child_spec x;
        memset(&x, 0, sizeof(x));
        x.watchdog_ms = 150;
        /* pets the watchdog three times, 50 ms apart, then goes silent */
        add_ready(s, "dog", PK_SUP_READY_NOTIFY,
                  probe((const char *[]){"send:READY=1", "sleep:50", "send:WATCHDOG=1", "sleep:50",
                                         "send:WATCHDOG=1", "sleep:50", "send:WATCHDOG=1", "pause",
                                         NULL}),
                  &x);
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        run_until(PK_SUP_EV_RESTART, "dog", 1);
        long st = find(PK_SUP_EV_STOPPING, "dog", 1), ex = find(PK_SUP_EV_EXITED, "dog", 1);
        cr_assert_eq(R.ev[st].reason, PK_SUP_R_WATCHDOG);
        cr_assert_eq(R.ev[ex].exit.signal, SIGABRT);
        /* the pets kept it alive past the first 150 ms */
        cr_assert_geq(ev_ms_between(find(PK_SUP_EV_READY, "dog", 1), st), 249);
        finish(s);
}

Test(sup, mainpid_must_belong_to_the_service)
{
        struct pk_sup *s = new_sup(NULL);
        /* a lie: pid 1 is not ours */
        add_ready(s, "liar", PK_SUP_READY_NOTIFY,
                  probe((const char *[]){"send:MAINPID=1", "send:READY=1", "pause", NULL}), NULL);
        /* the truth: a forked child of the service; READY=1 then comes from the
         * spawned pid, which "exec" access allows besides the main pid */
        struct pk_sup_child_spec x;
        memset(&x, 0, sizeof(x));
        x.notify_access = PK_SUP_NOTIFY_EXEC;
        add_ready(s, "fork", PK_SUP_READY_NOTIFY,
                  probe((const char *[]){"mainchild", "send:READY=1", "pause", NULL}), &x);
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        R.stop_id[0] = 0;
        run_until(PK_SUP_EV_READY, "liar", 1);
        if (count(PK_SUP_EV_READY, "fork") == 0)
                run_until(PK_SUP_EV_READY, "fork", 1);
        long m = find(PK_SUP_EV_MAINPID, "liar", 1);
        cr_assert_geq(m, 0);
        cr_assert_eq(R.ev[m].err, -EPERM);
        struct pk_sup_child_info ci;
        pk_sup_child_info(s, "liar", &ci);
        cr_assert_neq(ci.pid, 1);
        long f = find(PK_SUP_EV_MAINPID, "fork", 1);
        cr_assert_geq(f, 0);
        cr_assert_eq(R.ev[f].err, 0);
        pk_sup_child_info(s, "fork", &ci);
        long named = strtol(R.ev[f].text, NULL, 10); /* the value sent */
        cr_assert_eq(ci.pid, (pid_t)named);
        cr_assert_eq(pk__proc_ppid(ci.pid), R.ev[find(PK_SUP_EV_RUNNING, "fork", 1)].pid);
        finish(s);
}

/* ---- dependencies --------------------------------------------------------------------------- */

Test(sup, dependencies_order_and_parallelism)
{
        struct pk_sup *s = new_sup(NULL);
        struct pk_sup_child_spec x;
        memset(&x, 0, sizeof(x));
        /* db takes a while to become ready (notification fd) */
        add_ready(s, "db", PK_SUP_READY_FD,
                  probe((const char *[]){"sleep:100", "fd:3", "pause", NULL}), NULL);
        /* app requires db; web is after app; cache is independent */
        const char *need_db[] = {"db", NULL}, *after_app[] = {"app", NULL};
        x.requires_ids = need_db;
        add_ready(s, "app", PK_SUP_READY_EXEC, sh("exec sleep 1000"), &x);
        memset(&x, 0, sizeof(x));
        x.after = after_app;
        add_ready(s, "web", PK_SUP_READY_EXEC, sh("exec sleep 1000"), &x);
        add_ready(s, "cache", PK_SUP_READY_EXEC, sh("exec sleep 1000"), NULL);
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        /* independent children started at once, in parallel with db's start */
        cr_assert_eq(count(PK_SUP_EV_READY, "cache"), 1);
        cr_assert_eq(count(PK_SUP_EV_STARTING, "app"), 0);
        struct pk_sup_child_info ci;
        pk_sup_child_info(s, "app", &ci);
        cr_assert_eq(ci.state, PK_SUP_WAITING);
        run_until(PK_SUP_EV_READY, "web", 1);
        long rdb = find(PK_SUP_EV_READY, "db", 1), sapp = find(PK_SUP_EV_STARTING, "app", 1),
             rapp = find(PK_SUP_EV_READY, "app", 1), sweb = find(PK_SUP_EV_STARTING, "web", 1);
        cr_assert(rdb < sapp && rapp < sweb, "db ready < app starts; app ready < web starts");
        /* stop in reverse start order: web, app, cache, db (db spawned first, cache second) */
        cr_assert_eq(pk_sup_shutdown(s), 0);
        R.stop_sup = s;
        run_until(PK_SUP_EV_SUP_DOWN, "", 1);
        long pw = find(PK_SUP_EV_STOPPING, "web", 1), pa = find(PK_SUP_EV_STOPPING, "app", 1),
             pd = find(PK_SUP_EV_STOPPING, "db", 1), pc = find(PK_SUP_EV_STOPPING, "cache", 1);
        cr_assert(pw < pa && pa < pc && pc < pd, "reverse order: %ld %ld %ld %ld", pw, pa, pc, pd);
        finish(s);
}

Test(sup, a_required_child_that_gives_up_stops_its_dependents)
{
        struct pk_sup *s = new_sup(NULL);
        struct pk_sup_child_spec x;
        memset(&x, 0, sizeof(x));
        x.restart = PK_SUP_TEMPORARY;
        add_ready(s, "base", PK_SUP_READY_EXEC, sh("sleep 0.1; exit 1"), &x);
        const char *need[] = {"base", NULL};
        memset(&x, 0, sizeof(x));
        x.requires_ids = need;
        add_ready(s, "dep", PK_SUP_READY_EXEC, sh("exec sleep 1000"), &x);
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        run_until(PK_SUP_EV_GAVE_UP, "dep", 1);
        cr_assert_eq(R.ev[find(PK_SUP_EV_STOPPING, "dep", 1)].reason, PK_SUP_R_DEPENDENCY);
        struct pk_sup_child_info ci;
        pk_sup_child_info(s, "dep", &ci);
        cr_assert_eq(ci.state, PK_SUP_FAILED);
        cr_assert_eq(count(PK_SUP_EV_RESTART, "dep"), 0);
        /* starting it again pulls its requirement in again */
        cr_assert_eq(pk_sup_start_child(s, "dep"), 0);
        pk_sup_child_info(s, "base", &ci);
        cr_assert_eq(ci.state, PK_SUP_READY);
        finish(s);
}

/* Runs the loop until id has had n `kind` events in all (some may be in already). */
static void until_total(int kind, const char *id, int n)
{
        int have = count(kind, id);
        if (have < n)
                run_until(kind, id, n - have);
}

/* Ordering against a sibling added later: "late" is before "early" (systemd's
 * Before=, postgresql@.service Before=postgresql.service), and "after" is after
 * "late" though added first; both wait for late's readiness at the first start. */
Test(sup, before_and_after_a_later_sibling_order_the_first_start)
{
        struct pk_sup *s = new_sup(NULL);
        struct pk_sup_child_spec x;
        memset(&x, 0, sizeof(x));
        add_ready(s, "early", PK_SUP_READY_EXEC, sh("exec sleep 1000"), NULL);
        const char *late[] = {"late", NULL};
        x.after = late;
        add_ready(s, "after", PK_SUP_READY_EXEC, sh("exec sleep 1000"), &x);
        memset(&x, 0, sizeof(x));
        const char *early[] = {"early", NULL};
        x.before = early;
        add_ready(s, "late", PK_SUP_READY_FD,
                  probe((const char *[]){"sleep:100", "fd:3", "pause", NULL}), &x);
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        until_total(PK_SUP_EV_READY, "early", 1);
        until_total(PK_SUP_EV_READY, "after", 1);
        long rl = find(PK_SUP_EV_READY, "late", 1);
        cr_assert_gt(rl, -1);
        cr_assert_lt(rl, find(PK_SUP_EV_STARTING, "early", 1), "before: late ready first");
        cr_assert_lt(rl, find(PK_SUP_EV_STARTING, "after", 1), "after: late ready first");
        /* the shutdown stops in reverse: early and after before late */
        cr_assert_eq(pk_sup_shutdown(s), 0);
        R.stop_sup = s;
        run_until(PK_SUP_EV_SUP_DOWN, "", 1);
        cr_assert_lt(find(PK_SUP_EV_STOPPING, "early", 1), find(PK_SUP_EV_STOPPING, "late", 1));
        finish(s);
}

/* A cycle through before is refused like one through after: a is after b
 * (a waits for b) and before b (b waits for a). */
Test(sup, a_cycle_through_before_is_refused)
{
        struct pk_sup *s = new_sup(NULL);
        add_ready(s, "b", PK_SUP_READY_EXEC, sh("exec sleep 1000"), NULL);
        struct pk_sup_child_spec x;
        memset(&x, 0, sizeof(x));
        const char *b[] = {"b", NULL};
        x.after = b;
        x.before = b;
        add_ready(s, "a", PK_SUP_READY_EXEC, sh("exec sleep 1000"), &x);
        char err[128] = "";
        cr_assert_eq(pk_sup_start(s, err, sizeof(err)), PK_EDEPCYCLE);
        cr_assert(strstr(err, "a") && strstr(err, "b"), "%s", err);
        pk_sup_free(s);
        pk_loop_free(R.loop);
        R.loop = NULL;
}

/* part_of (systemd's PartOf=): a requested stop or restart of "main" reaches
 * "part", a restart only when part runs (try-restart); part's own stop or a
 * start of main leaves the other alone; no start ordering or requirement. */
Test(sup, part_of_follows_stops_and_restarts)
{
        struct pk_sup *s = new_sup(NULL);
        struct pk_sup_child_spec x;
        memset(&x, 0, sizeof(x));
        const char *main_[] = {"main", NULL};
        x.part_of = main_;
        add_ready(s, "part", PK_SUP_READY_EXEC, sh("exec sleep 1000"), &x);
        add_ready(s, "main", PK_SUP_READY_EXEC, sh("exec sleep 1000"), NULL);
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        cr_assert_eq(count(PK_SUP_EV_READY, "part"), 1, "no waiting for main");
        cr_assert_eq(count(PK_SUP_EV_READY, "main"), 1);

        cr_assert_eq(pk_sup_restart_child(s, "main"), 0);
        until_total(PK_SUP_EV_READY, "main", 2);
        until_total(PK_SUP_EV_READY, "part", 2);
        cr_assert_eq(count(PK_SUP_EV_READY, "part"), 2, "restarted with main");
        cr_assert_eq(R.ev[find(PK_SUP_EV_STOPPING, "part", 1)].reason, PK_SUP_R_DEPENDENCY);

        cr_assert_eq(pk_sup_stop_child(s, "part"), 0);
        until_total(PK_SUP_EV_EXITED, "part", 2);
        struct pk_sup_child_info ci;
        pk_sup_child_info(s, "main", &ci);
        cr_assert_eq(ci.state, PK_SUP_READY, "part's stop does not reach main");

        cr_assert_eq(pk_sup_restart_child(s, "main"), 0);
        until_total(PK_SUP_EV_READY, "main", 3);
        pk_sup_child_info(s, "part", &ci);
        cr_assert_eq(ci.state, PK_SUP_DOWN, "a stopped part is not started by main's restart");

        cr_assert_eq(pk_sup_start_child(s, "part"), 0);
        until_total(PK_SUP_EV_READY, "part", 3);
        cr_assert_eq(pk_sup_stop_child(s, "main"), 0);
        until_total(PK_SUP_EV_EXITED, "part", 3);
        pk_sup_child_info(s, "part", &ci);
        cr_assert_eq(ci.state, PK_SUP_DOWN, "stopped with main");
        finish(s);
}

/* no_restart_codes / no_restart_signals (RestartPreventExitStatus=): a
 * transient child exiting 255 and a permanent one killed by SIGUSR2 are not
 * restarted and give up; another failure still restarts. */
Test(sup, no_restart_exit_statuses_are_not_restarted)
{
        struct pk_sup *s = new_sup(NULL);
        struct pk_sup_child_spec x;
        memset(&x, 0, sizeof(x));
        const int codes[] = {255};
        x.restart = PK_SUP_TRANSIENT;
        x.no_restart_codes = codes;
        x.n_no_restart_codes = 1;
        add_ready(s, "code", PK_SUP_READY_EXEC, sh("sleep 0.1; exit 255"), &x);
        memset(&x, 0, sizeof(x));
        x.restart = PK_SUP_PERMANENT;
        x.no_restart_signals = (uint64_t)1 << (SIGUSR2 - 1);
        add_ready(s, "sig", PK_SUP_READY_EXEC, sh("sleep 0.1; kill -USR2 $$"), &x);
        memset(&x, 0, sizeof(x));
        x.restart = PK_SUP_TRANSIENT;
        x.no_restart_codes = codes;
        x.n_no_restart_codes = 1;
        add_ready(s, "other", PK_SUP_READY_EXEC, sh("sleep 0.1; exit 3"), &x);
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        until_total(PK_SUP_EV_GAVE_UP, "code", 1);
        until_total(PK_SUP_EV_GAVE_UP, "sig", 1);
        until_total(PK_SUP_EV_RESTART, "other", 1);
        cr_assert_eq(count(PK_SUP_EV_RESTART, "code"), 0);
        cr_assert_eq(count(PK_SUP_EV_RESTART, "sig"), 0);
        struct pk_sup_child_info ci;
        pk_sup_child_info(s, "code", &ci);
        cr_assert_eq(ci.state, PK_SUP_FAILED);
        /* out of range is refused */
        memset(&x, 0, sizeof(x));
        const int bad[] = {256};
        x.id = "bad";
        x.no_restart_codes = bad;
        x.n_no_restart_codes = 1;
        cr_assert_eq(pk_sup_add(s, &x, sh("true")), -EINVAL);
        finish(s);
}

Test(sup, conflicts_stop_each_other)
{
        struct pk_sup *s = new_sup(NULL);
        struct pk_sup_child_spec x;
        memset(&x, 0, sizeof(x));
        add_ready(s, "old", PK_SUP_READY_EXEC, sh("exec sleep 1000"), NULL);
        const char *c[] = {"old", NULL};
        x.conflicts = c;
        add_ready(s, "new", PK_SUP_READY_EXEC, sh("exec sleep 1000"), &x);
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        run_until(PK_SUP_EV_READY, "new", 1);
        cr_assert_eq(R.ev[find(PK_SUP_EV_STOPPING, "old", 1)].reason, PK_SUP_R_CONFLICT);
        cr_assert_lt(find(PK_SUP_EV_EXITED, "old", 1), find(PK_SUP_EV_STARTING, "new", 1));
        struct pk_sup_child_info ci;
        pk_sup_child_info(s, "old", &ci);
        cr_assert_eq(ci.state, PK_SUP_DOWN);
        finish(s);
}

/* ---- stopping a whole service, and reaper duty ------------------------------------------- */

static pid_t read_pid(const char *path)
{
        FILE *f = fopen(path, "r");
        cr_assert_not_null(f, "%s", path);
        long v = 0;
        cr_assert_eq(fscanf(f, "%ld", &v), 1);
        fclose(f);
        return (pid_t)v;
}

/* Exited: no such process, or a zombie waiting for its parent. */
static int dead(pid_t pid)
{
        char path[64], buf[512];
        snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
        FILE *f = fopen(path, "r");
        if (!f)
                return 1;
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = 0;
        const char *p = strrchr(buf, ')');
        return p && (p[2] == 'Z' || p[2] == 'X');
}

static void assert_gone(pid_t pid)
{
        /* it is our child (we are its subreaper) or already reaped by the sweep */
        int st;
        pid_t r = waitpid(pid, &st, 0);
        if (r == pid)
                cr_assert(WIFSIGNALED(st), "the daemon was killed");
        else
                cr_assert_eq(errno, ECHILD);
        cr_assert_eq(kill(pid, 0), -1);
        cr_assert_eq(errno, ESRCH);
}

/* The loop runs until the reaper reports `pid` reaped as an orphan, killed by
 * SIGKILL (the batched leftover scan runs from the loop, PK__SUP_LEFTOVER_MS
 * after the exit); at most BOUND_MS per wait. */
static void run_until_orphan_killed(pid_t pid)
{
        for (size_t seen = 0;;) {
                for (; seen < R.n; seen++)
                        if (R.ev[seen].kind == PK_SUP_EV_ORPHAN && R.ev[seen].pid == pid) {
                                cr_assert(R.ev[seen].exit.signal == SIGKILL,
                                          "orphan %ld: exit %d signal %d", (long)pid,
                                          R.ev[seen].exit.code, R.ev[seen].exit.signal);
                                cr_assert_eq(kill(pid, 0), -1);
                                return;
                        }
                run_until(PK_SUP_EV_ORPHAN, "", 1);
        }
}

Test(sup, stop_kills_a_double_forked_grandchild_without_cgroups)
{
        struct pk_sup *s = new_sup(NULL);
        cr_assert_eq(pk_sup_reaper(s, 0, NULL, NULL), 0);
        cr_assert_eq(pk_sup_reaper(s, 0, NULL, NULL), -EALREADY);
        char file[64], arg[80];
        snprintf(file, sizeof(file), "/tmp/pk-sup-daemon-%ld", (long)getpid());
        snprintf(arg, sizeof(arg), "daemon:%s", file);
        unlink(file);
        add_ready(s, "svc", PK_SUP_READY_FD, probe((const char *[]){arg, "fd:3", "pause", NULL}),
                  NULL);
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        run_until(PK_SUP_EV_READY, "svc", 1);
        pid_t g = read_pid(file);
        unlink(file);
        struct pk_sup_child_info ci;
        pk_sup_child_info(s, "svc", &ci);
        /* it escaped the service's session and process group, and was reparented to us */
        cr_assert_neq(getsid(g), getsid(ci.pid));
        cr_assert_neq(getpgid(g), ci.pid);
        cr_assert_eq(pk__proc_ppid(g), getpid());
        cr_assert_eq(pk_sup_stop_child(s, "svc"), 0);
        run_until(PK_SUP_EV_EXITED, "svc", 1);
        assert_gone(g);
        finish(s);
}

/* The PORTKIT_SUP_UNIT token in a process's environment ("" if none). */
static void env_token(pid_t pid, char *out, size_t size)
{
        char path[64], buf[16384];
        snprintf(path, sizeof(path), "/proc/%ld/environ", (long)pid);
        out[0] = 0;
        FILE *f = fopen(path, "r");
        cr_assert_not_null(f, "%s", path);
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = 0;
        for (size_t off = 0; off < n; off += strlen(buf + off) + 1)
                if (strncmp(buf + off, "PORTKIT_SUP_UNIT=", 17) == 0)
                        snprintf(out, size, "%s", buf + off + 17);
}

/* Without a cgroup, the leftovers of a service that ended by itself are killed
 * once its replacement is started (the scan of the supervisor's children no
 * longer delays the restart), by the ended instance's token: each start has a
 * token of its own, so that kill cannot reach the replacement's processes. */
Test(sup, exit_kills_a_double_forked_leftover_after_the_restart_without_cgroups)
{
        struct pk_sup *s = new_sup(&(struct pk_sup_opts){
            .backoff_reset_ms = 1, /* up over 1 ms: restarted at once, no timer */
        });
        cr_assert_eq(pk_sup_reaper(s, 0, NULL, NULL), 0);
        char file[64], mark[64], script[512];
        snprintf(file, sizeof(file), "/tmp/pk-sup-left-%ld", (long)getpid());
        snprintf(mark, sizeof(mark), "/tmp/pk-sup-left-mark-%ld", (long)getpid());
        unlink(file);
        unlink(mark);
        /* the first instance leaves a daemon and exits 1; the second stays */
        snprintf(script, sizeof(script),
                 "if [ -e %s ]; then exec %s daemon:%s fd:3 pause; "
                 "else : > %s; exec %s daemon:%s fd:3 sleep:50 exit:1; fi",
                 mark, PROBE, file, mark, PROBE, file);
        struct pk_sup_child_spec x;
        memset(&x, 0, sizeof(x));
        x.restart = PK_SUP_PERMANENT;
        add_ready(s, "svc", PK_SUP_READY_FD, sh(script), &x);
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        run_until(PK_SUP_EV_READY, "svc", 1);
        pid_t g1 = read_pid(file);
        unlink(file);
        char t1[128], t2[128];
        env_token(g1, t1, sizeof(t1));
        run_until(PK_SUP_EV_READY, "svc", 1);
        unlink(mark);
        pid_t g2 = read_pid(file);
        unlink(file);
        env_token(g2, t2, sizeof(t2));
        /* the first instance's daemon was killed after it, by the batched scan */
        run_until_orphan_killed(g1);
        /* restarted at once, in the exit's own dispatch */
        long rs = find(PK_SUP_EV_RESTART, "svc", 1);
        cr_assert_geq(rs, 0);
        cr_assert_eq(R.ev[rs].delay_ms, 0);
        cr_assert_lt(find(PK_SUP_EV_EXITED, "svc", 1), rs);
        cr_assert_lt(rs, find(PK_SUP_EV_STARTING, "svc", 2));
        /* one service, two starts: the same "<pid>.<record>" and different tokens */
        cr_assert_neq(t1[0], 0);
        cr_assert_str_neq(t1, t2);
        const char *d1 = strrchr(t1, '.'), *d2 = strrchr(t2, '.');
        cr_assert(d1 && d2 && d1 - t1 == d2 - t2 && strncmp(t1, t2, (size_t)(d1 - t1)) == 0,
                  "%s / %s", t1, t2);
        /* the replacement's daemon lives until the service is stopped */
        cr_assert(!dead(g2));
        cr_assert_eq(pk_sup_stop_child(s, "svc"), 0);
        run_until(PK_SUP_EV_EXITED, "svc", 1);
        assert_gone(g2);
        finish(s);
}

/* Runs tests/helpers/sup_init as PID 1 of a new pid namespace with `services`
 * sleep services and `orphans` orphans, and checks its report. */
static void pid1_run(const char *services, const char *orphans, int want_orphans)
{
        char dir[] = "/tmp/pk-sup-init-XXXXXX";
        cr_assert_not_null(mkdtemp(dir));
        char pf[128];
        snprintf(pf, sizeof(pf), "%s/daemon.pid", dir);
        struct pk_cmd *c = NULL;
        cr_assert_eq(pk_cmd_new("unshare", &c), 0);
        const char *args[] = {"-fp",
                              "--mount-proc",
                              PK_BUILD_DIR "/tests/helpers/sup_init",
                              PROBE,
                              dir,
                              services,
                              orphans,
                              NULL};
        cr_assert_eq(pk_cmd_args(c, args), 0);
        struct pk_run_opts o;
        memset(&o, 0, sizeof(o));
        o.timeout_ms = 480000; /* a hang guard above sup_init's own stop deadline */
        struct pk_run_result res;
        int r = pk_run(c, &o, &res, NULL);
        pk_cmd_free(c);
        unlink(pf);
        rmdir(dir);
        cr_assert_eq(r, 0);
        const char *out = res.out ? res.out : "";
        cr_log_info("%s%s", out, res.err ? res.err : "");
        char want[64];
        cr_assert(strstr(out, "pid=1\n"), "runs as PID 1:\n%s", out);
        snprintf(want, sizeof(want), "services_ready=%s\nadd=0\n", services);
        cr_assert(strstr(out, want), "every service ready, then the orphan maker added:\n%s", out);
        /* the orphans, then the daemon killed with its service */
        snprintf(want, sizeof(want), "orphans=%d\n", want_orphans);
        cr_assert(strstr(out, want), "every orphan reaped (%s):\n%s", want, out);
        cr_assert(strstr(out, "hups=1\n"), "%s", out);
        cr_assert(strstr(out, "finished=1\nreason=signal\nstatus=0\n"), "%s", out);
        /* the supervised child's status was not stolen by the orphan reaper */
        cr_assert(strstr(out, "orph_signal=15\norph_unknown=0\n"), "%s", out);
        cr_assert(strstr(out, "daemon_gone=1\n"), "%s", out);
        cr_assert_eq(res.status.exited, 1);
        cr_assert_eq(res.status.code, 0);
        pk_run_result_free(&res);
}

Test(sup, pid1_reaps_orphans_and_shuts_down_on_sigterm)
{
        pid1_run("0", "200", 201);
}

/* Issue 10: 1,000 orphans reaped while 1,000 services are supervised (the
 * pid index and the reaper's "is it ours?" look-up at that size). */
Test(sup, pid1_reaps_1000_orphans_while_supervising_1000_services, .timeout = 500)
{
        pid1_run("1000", "1000", 1001);
}

Test(sup, stop_kills_a_double_forked_grandchild_with_a_cgroup)
{
        struct pk_sup_opts o;
        memset(&o, 0, sizeof(o));
        o.cgroup = PK_SUP_CGROUP_ON;
        char name[32];
        cgt_name(name, sizeof(name), "t");
        o.name = name;
        struct pk_sup *s = new_sup(&o);
        char file[64], arg[80];
        snprintf(file, sizeof(file), "/tmp/pk-sup-cgdaemon-%ld", (long)getpid());
        snprintf(arg, sizeof(arg), "daemon:%s", file);
        unlink(file);
        struct pk_sup_child_spec sp;
        memset(&sp, 0, sizeof(sp));
        sp.id = "svc";
        sp.ready = PK_SUP_READY_FD;
        sp.ready_fd = 3;
        add_or_skip(s, &sp, probe((const char *[]){arg, "fd:3", "pause", NULL}));
        /* no reaper mode: the cgroup alone must catch the escaped grandchild */
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        run_until(PK_SUP_EV_READY, "svc", 1);
        pid_t g = read_pid(file);
        unlink(file);
        char path[64], line[512];
        snprintf(path, sizeof(path), "/proc/%ld/cgroup", (long)g);
        FILE *f = fopen(path, "r");
        cr_assert_not_null(f);
        while (fgets(line, sizeof(line), f) && strncmp(line, "0::", 3) != 0)
                ; /* the v2 line (hybrid hosts list v1 hierarchies first) */
        fclose(f);
        char want[80];
        snprintf(want, sizeof(want), "/%s.svc\n", name);
        cr_assert(strstr(line, want), "the grandchild is in the service's cgroup: %s", line);
        cr_assert_eq(pk_sup_stop_child(s, "svc"), 0);
        run_until(PK_SUP_EV_EXITED, "svc", 1);
        /* "stopped" means the cgroup is empty: the grandchild has exited by now (a
         * zombie until init, its parent after the double fork, reaps it) */
        cr_assert(dead(g), "grandchild %ld survived", (long)g);
        finish(s);
}

/* Two supervisors with the same name in the same cgroup: the second finds the
 * first's service cgroup in use and refuses (-EBUSY) instead of sharing it,
 * so its kills can never reach the first's processes. */
Test(sup, a_service_cgroup_in_use_is_refused, .timeout = 60)
{
        struct pk_sup_opts o;
        memset(&o, 0, sizeof(o));
        o.cgroup = PK_SUP_CGROUP_ON;
        char name[32];
        cgt_name(name, sizeof(name), "busy");
        o.name = name;
        struct pk_sup *s1 = new_sup(&o);
        struct pk_sup_child_spec sp;
        memset(&sp, 0, sizeof(sp));
        sp.id = "svc";
        sp.ready = PK_SUP_READY_FD;
        sp.ready_fd = 3;
        add_or_skip(s1, &sp, probe((const char *[]){"fd:3", "pause", NULL}));
        cr_assert_eq(pk_sup_start(s1, NULL, 0), 0);
        run_until(PK_SUP_EV_READY, "svc", 1);
        struct pk_sup *s2 = new_sup(&o);
        struct pk_sup_child_spec sp2;
        memset(&sp2, 0, sizeof(sp2));
        sp2.id = "svc";
        int r = pk_sup_add(s2, &sp2, probe((const char *[]){"pause", NULL}));
        pk_sup_free(s2);
        cr_assert_eq(r, -EBUSY, "the second supervisor: %s", pk_strerror(r));
        cr_assert_eq(count(PK_SUP_EV_EXITED, "svc"), 0, "the first one's service still runs");
        finish(s1);
}

Test(sup, logs_survive_restarts_in_order)
{
        char dir[] = "/tmp/pk-sup-log-XXXXXX";
        cr_assert_not_null(mkdtemp(dir));
        struct pk_sup *s = new_sup(&(struct pk_sup_opts){
            .intensity = 1000, .backoff_base_ms = 1, .jitter_pct = -1, .backoff_cap_ms = 1});
        struct pk_sup_child_spec sp;
        memset(&sp, 0, sizeof(sp));
        sp.id = "talker";
        sp.log_dir = dir;
        /* each run prints its number (from a counter file) on stdout and stderr, then fails */
        char script[512];
        snprintf(script, sizeof(script),
                 "n=$(cat %s/n 2>/dev/null || echo 0); echo \"out $n\"; echo \"err $n\" >&2; "
                 "echo $((n+1)) > %s/n; exit 1",
                 dir, dir);
        cr_assert_eq(pk_sup_add(s, &sp, sh(script)), 0);
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        run_until(PK_SUP_EV_EXITED, "talker", 20);
        finish(s); /* frees the log: flushed */
        char path[128];
        snprintf(path, sizeof(path), "%s/talker.log", dir);
        FILE *f = fopen(path, "r");
        cr_assert_not_null(f);
        char line[128];
        int n = 0;
        while (n < 40 && fgets(line, sizeof(line), f)) {
                char want[64];
                snprintf(want, sizeof(want), "%s %d\n", n % 2 ? "err" : "out", n / 2);
                cr_assert_str_eq(line, want, "line %d", n);
                n++;
        }
        fclose(f);
        cr_assert_eq(n, 40, "20 runs, 2 lines each, none lost");
        char cmd[200];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        cr_assert_eq(system(cmd), 0);
}

/* ---- the documented table is the code's table --------------------------------------------- */

Test(sup, docs_print_the_policy_table)
{
        FILE *f = fopen(PK_SOURCE_DIR "/docs/sup.md", "r");
        cr_assert_not_null(f);
        static char doc[1 << 17];
        size_t n = fread(doc, 1, sizeof(doc) - 1, f);
        fclose(f);
        doc[n] = 0;
        char line[512];
        int off = snprintf(line, sizeof(line), "| state \\ event |");
        for (int e = 0; pk__sup_policy_event(e); e++)
                off += snprintf(line + off, sizeof(line) - (size_t)off, " %s |",
                                pk__sup_policy_event(e));
        cr_assert(strstr(doc, line), "docs/sup.md lacks the header row:\n%s", line);
        for (int st = 0; st < PK_SUP_NSTATES; st++) {
                off = snprintf(line, sizeof(line), "| **%s** |", pk_sup_state_name(st));
                for (int e = 0; pk__sup_policy_event(e); e++)
                        off += snprintf(line + off, sizeof(line) - (size_t)off, " %s |",
                                        pk__sup_policy_action(st, e));
                cr_assert(strstr(doc, line), "docs/sup.md lacks or differs in the row:\n%s", line);
        }
}

/* ---- Type=forking -------------------------------------------------------------------------- */

Test(sup, forking_service_main_pid_from_a_validated_pid_file)
{
        struct pk_sup *s = new_sup(&(struct pk_sup_opts){.backoff_base_ms = 1});
        char good[64], liar[64], arg[96], script[160];
        snprintf(good, sizeof(good), "/tmp/pk-sup-fork-%ld.pid", (long)getpid());
        snprintf(liar, sizeof(liar), "/tmp/pk-sup-liar-%ld.pid", (long)getpid());
        unlink(good);
        unlink(liar);
        snprintf(arg, sizeof(arg), "daemon:%s", good);
        struct pk_sup_child_spec sp;
        memset(&sp, 0, sizeof(sp));
        sp.id = "forker";
        sp.forking = 1;
        sp.pid_file = "relative.pid";
        cr_assert_eq(pk_sup_add(s, &sp, sh("true")), -EINVAL);
        sp.pid_file = good;
        /* the starter double-forks the daemon, which writes the pid file, then exits 0 */
        cr_assert_eq(pk_sup_add(s, &sp, probe((const char *[]){arg, "exit:0", NULL})), 0);
        /* a starter whose pid file names a process that is not the service's */
        memset(&sp, 0, sizeof(sp));
        sp.id = "liar";
        sp.forking = 1;
        sp.restart = PK_SUP_TEMPORARY;
        sp.pid_file = liar;
        snprintf(script, sizeof(script), "echo 1 > %s; exit 0", liar);
        cr_assert_eq(pk_sup_add(s, &sp, sh(script)), 0);
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        run_until(PK_SUP_EV_READY, "forker", 1);
        pid_t d = read_pid(good);
        struct pk_sup_child_info ci;
        pk_sup_child_info(s, "forker", &ci);
        cr_assert_eq(ci.pid, d, "the daemon is the main pid");
        cr_assert_eq(ci.state, PK_SUP_READY);
        cr_assert_neq(R.ev[find(PK_SUP_EV_RUNNING, "forker", 1)].pid, d);
        if (count(PK_SUP_EV_GAVE_UP, "liar") == 0)
                run_until(PK_SUP_EV_GAVE_UP, "liar", 1);
        long m = find(PK_SUP_EV_MAINPID, "liar", 1);
        cr_assert_geq(m, 0);
        cr_assert_eq(R.ev[m].err, -EPERM);
        cr_assert_eq(count(PK_SUP_EV_READY, "liar"), 0);
        /* stopping the service stops the daemon (through its pidfd) */
        cr_assert_eq(pk_sup_stop_child(s, "forker"), 0);
        run_until(PK_SUP_EV_EXITED, "forker", 1);
        cr_assert(dead(d));
        unlink(good);
        unlink(liar);
        finish(s);
}

Test(sup, sigchld_storm_loses_no_status)
{
        struct pk_sup *s = new_sup(NULL);
        cr_assert_eq(pk_sup_reaper(s, 0, NULL, NULL), 0);
        /* 40 services exit together, each leaving 5 orphans behind */
        for (int i = 0; i < 40; i++) {
                char id[16];
                snprintf(id, sizeof(id), "s%d", i);
                struct pk_sup_child_spec sp;
                memset(&sp, 0, sizeof(sp));
                sp.id = id;
                sp.restart = PK_SUP_TRANSIENT;
                int codes[] = {3};
                sp.success_codes = codes; /* exit 3 is normal: not restarted */
                sp.n_success_codes = 1;
                cr_assert_eq(
                    pk_sup_add(s, &sp, probe((const char *[]){"orphans:5", "exit:3", NULL})), 0);
        }
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        if (count(PK_SUP_EV_EXITED, NULL) < 40)
                run_until(PK_SUP_EV_EXITED, "", 40 - count(PK_SUP_EV_EXITED, NULL));
        if (count(PK_SUP_EV_ORPHAN, NULL) < 200)
                run_until(PK_SUP_EV_ORPHAN, "", 200 - count(PK_SUP_EV_ORPHAN, NULL));
        for (size_t i = 0; i < R.n; i++)
                if (R.ev[i].kind == PK_SUP_EV_EXITED) {
                        cr_assert_eq(R.ev[i].exit.exited, 1, "%s: status lost", R.ev[i].id);
                        cr_assert_eq(R.ev[i].exit.code, 3, "%s", R.ev[i].id);
                } else if (R.ev[i].kind == PK_SUP_EV_ORPHAN) {
                        /* An orphan exits 0 at once, unless its service's exit
                         * came first and the leftover kill reached it. */
                        const struct pk_exit *ox = &R.ev[i].exit;
                        cr_assert((ox->exited && ox->code == 0) ||
                                      (!ox->exited && ox->signal == SIGKILL),
                                  "orphan %ld: exited %d code %d signal %d", (long)R.ev[i].pid,
                                  ox->exited, ox->code, ox->signal);
                }
        cr_assert_eq(count(PK_SUP_EV_EXITED, NULL), 40);
        cr_assert_eq(count(PK_SUP_EV_ORPHAN, NULL), 200);
        finish(s);
}

Test(sup, with_a_cgroup_the_stop_signal_reaches_every_process)
{
        struct pk_sup_opts o;
        memset(&o, 0, sizeof(o));
        o.cgroup = PK_SUP_CGROUP_ON;
        char name[32], got[64], pidf[64], script[1024];
        cgt_name(name, sizeof(name), "u");
        snprintf(got, sizeof(got), "/tmp/pk-sup-got-%ld", (long)getpid());
        snprintf(pidf, sizeof(pidf), "/tmp/pk-sup-inner-%ld", (long)getpid());
        unlink(got);
        unlink(pidf);
        o.name = name;
        struct pk_sup *s = new_sup(&o);
        /* the main shell exits on TERM only once the escaped (setsid) shell has
         * written that it got TERM too: a stop that signalled only the main
         * process group would end in SIGKILL after shutdown_ms, with no file */
        snprintf(script, sizeof(script),
                 "trap 'while [ ! -e %s ]; do sleep 0.01; done; exit 0' TERM; "
                 "setsid sh -c 'trap \"echo got > %s; exit 0\" TERM; echo $$ > %s; "
                 "while :; do sleep 0.01; done' & "
                 "while [ ! -e %s ]; do sleep 0.01; done; echo >&3; "
                 "while :; do sleep 0.01; done",
                 got, got, pidf, pidf);
        struct pk_sup_child_spec sp;
        memset(&sp, 0, sizeof(sp));
        sp.id = "svc";
        sp.ready = PK_SUP_READY_FD;
        sp.ready_fd = 3;
        sp.shutdown_ms = 10000;
        add_or_skip(s, &sp, sh(script));
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        run_until(PK_SUP_EV_READY, "svc", 1);
        cr_assert_eq(pk_sup_stop_child(s, "svc"), 0);
        run_until(PK_SUP_EV_EXITED, "svc", 1);
        long ex = find(PK_SUP_EV_EXITED, "svc", 1);
        cr_assert_eq(R.ev[ex].exit.exited, 1, "the main shell exited by its trap, not SIGKILL");
        cr_assert_eq(R.ev[ex].exit.code, 0);
        cr_assert_eq(access(got, F_OK), 0, "the escaped process got the stop signal");
        unlink(got);
        unlink(pidf);
        finish(s);
}

Test(sup, a_nested_supervisor_is_ready_when_its_children_are)
{
        struct pk_sup *top = new_sup(NULL);
        struct pk_sup *tree = NULL;
        struct pk_sup_opts o;
        memset(&o, 0, sizeof(o));
        o.name = "tree";
        cr_assert_eq(pk_sup_new(R.loop, &o, &tree), 0);
        add_ready(tree, "fast", PK_SUP_READY_EXEC, sh("exec sleep 1000"), NULL);
        add_ready(tree, "slow", PK_SUP_READY_FD,
                  probe((const char *[]){"sleep:100", "fd:3", "pause", NULL}), NULL);
        struct pk_sup_child_spec sp;
        memset(&sp, 0, sizeof(sp));
        sp.id = "tree";
        cr_assert_eq(pk_sup_add_sup(top, &sp, tree), 0);
        const char *need[] = {"tree", NULL};
        memset(&sp, 0, sizeof(sp));
        sp.requires_ids = need;
        add_ready(top, "user", PK_SUP_READY_EXEC, sh("exec sleep 1000"), &sp);
        cr_assert_eq(pk_sup_start(top, NULL, 0), 0);
        run_until(PK_SUP_EV_READY, "user", 1);
        long rs = find(PK_SUP_EV_READY, "slow", 1), rt = find(PK_SUP_EV_READY, "tree", 1),
             su = find(PK_SUP_EV_STARTING, "user", 1);
        cr_assert(rs >= 0 && rs < rt && rt < su,
                  "slow ready < tree ready < user starts (%ld %ld %ld)", rs, rt, su);
        finish(top);
}

/* A service whose main process dies while a child of it lives on: the
 * leftover is killed through cgroup.kill, and the restart must run (the kernel
 * kills whatever is later cloned into a cgroup that had cgroup.kill written,
 * so the restart needs a fresh cgroup). */
Test(sup, a_restart_after_a_cgroup_kill_runs)
{
        struct pk_sup_opts o;
        memset(&o, 0, sizeof(o));
        o.cgroup = PK_SUP_CGROUP_ON;
        char name[32], mark[64], script[512];
        cgt_name(name, sizeof(name), "k");
        snprintf(mark, sizeof(mark), "/tmp/pk-sup-cgkill-%ld", (long)getpid());
        unlink(mark);
        o.name = name;
        struct pk_sup *s = new_sup(&o);
        /* first run: leave a sleeper behind and die of SIGKILL; second: exit 0 */
        snprintf(script, sizeof(script),
                 "if [ -e %s ]; then exit 0; fi; : > %s; sleep 100 & kill -9 $$", mark, mark);
        struct pk_sup_child_spec sp;
        memset(&sp, 0, sizeof(sp));
        sp.id = "svc";
        sp.restart = PK_SUP_TRANSIENT;
        add_or_skip(s, &sp, sh(script));
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        run_until(PK_SUP_EV_EXITED, "svc", 2);
        long first = find(PK_SUP_EV_EXITED, "svc", 1);
        long second = find(PK_SUP_EV_EXITED, "svc", 2);
        cr_assert_eq(R.ev[first].exit.signal, SIGKILL);
        cr_assert_eq(R.ev[second].exit.exited, 1, "the restart was killed at birth (signal %d)",
                     R.ev[second].exit.signal);
        cr_assert_eq(R.ev[second].exit.code, 0);
        unlink(mark);
        finish(s);
}

/* ---- restart_on and backoff_steps (systemd's Restart=on-* and RestartSteps=) ------------ */

/* backoff_steps: the delay climbs geometrically from the base to the cap in
 * that many steps (10 -> 1000 ms in 4: 10, 31, 100, 316, then 1000 for good;
 * doubling would be 10, 20, 40, 80), read from
 * the RESTART events' delay_ms (the schedule, not the wall clock). */
Test(sup, backoff_steps_climb_geometrically_to_the_cap)
{
        struct pk_sup *s = new_sup(&(struct pk_sup_opts){.intensity = 1000});
        struct pk_sup_child_spec sp;
        memset(&sp, 0, sizeof(sp));
        sp.id = "w";
        sp.backoff_base_ms = 10;
        sp.backoff_cap_ms = 1000;
        sp.backoff_steps = 4;
        sp.backoff_reset_ms = -1;
        sp.jitter_pct = -1;
        cr_assert_eq(pk_sup_add(s, &sp, sh("exit 1")), 0);
        /* one step: base then cap */
        sp.id = "one";
        sp.backoff_cap_ms = 80;
        sp.backoff_steps = 1;
        cr_assert_eq(pk_sup_add(s, &sp, sh("exit 1")), 0);
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        until_total(PK_SUP_EV_RESTART, "w", 6);
        until_total(PK_SUP_EV_RESTART, "one", 3);
        static const int64_t want[] = {10, 31, 100, 316, 1000, 1000};
        for (int i = 1; i <= 6; i++) {
                long r = find(PK_SUP_EV_RESTART, "w", i);
                cr_assert_geq(r, 0);
                /* the event's delay is rounded up from ns; the step itself is
                 * truncated to ms as systemd truncates to µs */
                cr_assert(R.ev[r].delay_ms >= want[i - 1] - 1 &&
                              R.ev[r].delay_ms <= want[i - 1] + 1,
                          "restart %d: delay %lld, want %lld", i, (long long)R.ev[r].delay_ms,
                          (long long)want[i - 1]);
        }
        static const int64_t want1[] = {10, 80, 80};
        for (int i = 1; i <= 3; i++) {
                long r = find(PK_SUP_EV_RESTART, "one", i);
                cr_assert_geq(r, 0);
                cr_assert(R.ev[r].delay_ms >= want1[i - 1] && R.ev[r].delay_ms <= want1[i - 1] + 1,
                          "one: restart %d: delay %lld", i, (long long)R.ev[r].delay_ms);
        }
        finish(s);
}

/* restart_on: each child is restarted only after the kinds of end it lists. */
Test(sup, restart_on_picks_the_ends_that_restart)
{
        struct pk_sup *s = new_sup(&(struct pk_sup_opts){.intensity = 1000});
        struct pk_sup_child_spec sp;
        memset(&sp, 0, sizeof(sp));
        sp.restart = PK_SUP_TRANSIENT;
        fixed_delay(&sp, 5);
#define ADD_ON(name, on, script)                                                                   \
        do {                                                                                       \
                sp.id = (name);                                                                    \
                sp.restart_on = (on);                                                              \
                cr_assert_eq(pk_sup_add(s, &sp, sh(script)), 0);                                   \
        } while (0)
        ADD_ON("clean", PK_SUP_RESTART_ON_CLEAN, "exit 0");       /* on-success */
        ADD_ON("clean_code", PK_SUP_RESTART_ON_CLEAN, "exit 3");  /* not restarted */
        ADD_ON("sig", PK_SUP_RESTART_ON_SIGNAL, "kill -KILL $$"); /* on-abort */
        ADD_ON("sig_code", PK_SUP_RESTART_ON_SIGNAL, "exit 2");
        ADD_ON("sig_clean", PK_SUP_RESTART_ON_SIGNAL, "exit 0");
        ADD_ON("code", PK_SUP_RESTART_ON_CODE, "exit 2");
        ADD_ON("code_sig", PK_SUP_RESTART_ON_CODE, "kill -KILL $$");
        /* success_signals: a death by SIGTERM is a clean end (systemd's clean signals) */
        sp.success_signals = UINT64_C(1) << (SIGTERM - 1);
        ADD_ON("term_clean", PK_SUP_RESTART_ON_CLEAN, "kill -TERM $$"); /* restarted */
        ADD_ON("term_sig", PK_SUP_RESTART_ON_SIGNAL, "kill -TERM $$");  /* not */
        ADD_ON("term_transient", 0, "kill -TERM $$");                   /* not (on-failure) */
        ADD_ON("kill_transient", 0, "kill -KILL $$");                   /* restarted */
        sp.success_signals = 0;
        /* a start timeout (never ready): restarted with TIMEOUT, not with SIGNAL */
        sp.ready = PK_SUP_READY_FD;
        sp.ready_fd = 3;
        sp.start_timeout_ms = 30;
        ADD_ON("to", PK_SUP_RESTART_ON_TIMEOUT, "exec sleep 100");
        ADD_ON("to_sig", PK_SUP_RESTART_ON_SIGNAL, "exec sleep 100");
#undef ADD_ON
        /* a bad bit is refused */
        sp.id = "bad";
        sp.restart_on = 1u << 12;
        cr_assert_eq(pk_sup_add(s, &sp, sh("true")), -EINVAL);
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        const char *const again[] = {"clean", "sig", "code", "to", "term_clean", "kill_transient"};
        for (size_t i = 0; i < 6; i++)
                until_total(PK_SUP_EV_STARTING, again[i], 3);
        /* a clean end, not restarted: down, not failed */
        const char *const clean_down[] = {"term_sig", "term_transient"};
        for (size_t i = 0; i < 2; i++) {
                until_total(PK_SUP_EV_EXITED, clean_down[i], 1);
                cr_assert_eq(count(PK_SUP_EV_STARTING, clean_down[i]), 1, "%s restarted",
                             clean_down[i]);
                cr_assert_eq(count(PK_SUP_EV_GAVE_UP, clean_down[i]), 0, "%s failed",
                             clean_down[i]);
                struct pk_sup_child_info di;
                cr_assert_eq(pk_sup_child_info(s, clean_down[i], &di), 0);
                cr_assert_eq(di.state, PK_SUP_DOWN, "%s", clean_down[i]);
        }
        const char *const given_up[] = {"clean_code", "sig_code", "code_sig", "to_sig"};
        for (size_t i = 0; i < 4; i++) {
                until_total(PK_SUP_EV_GAVE_UP, given_up[i], 1);
                cr_assert_eq(count(PK_SUP_EV_STARTING, given_up[i]), 1, "%s restarted",
                             given_up[i]);
        }
        until_total(PK_SUP_EV_EXITED, "sig_clean", 1);
        cr_assert_eq(count(PK_SUP_EV_RESTART, "sig_clean"), 0);
        struct pk_sup_child_info ci;
        cr_assert_eq(pk_sup_child_info(s, "sig_clean", &ci), 0);
        cr_assert_eq(ci.state, PK_SUP_DOWN);
        finish(s);
}

/* Reaper mode's default deadline is the tree's own stop budget plus 10 s, no
 * longer a fixed 10 s: a service that ignores SIGTERM and has a shutdown of
 * 10.5 s is ended by its own stop timer (SIGKILL at 10.5 s) and the tree ends
 * cleanly (exit status 0), where the fixed 10 s deadline killed everything
 * first (exit status 2).  Lasts about 10.5 s. */
Test(sup, reaper_deadline_is_the_trees_stop_budget, .timeout = 60)
{
        struct pk_sup *s = new_sup(&(struct pk_sup_opts){0});
        struct pk_sup_child_spec sp;
        memset(&sp, 0, sizeof(sp));
        sp.id = "stubborn";
        sp.restart = PK_SUP_PERMANENT;
        sp.shutdown = PK_SUP_SHUTDOWN_TIMEOUT;
        sp.shutdown_ms = 10500;
        char mark[64], script[160];
        snprintf(mark, sizeof(mark), "/tmp/pk-sup-trap-%ld", (long)getpid());
        unlink(mark);
        snprintf(script, sizeof(script), "trap '' TERM; : > %s; while :; do sleep 1; done", mark);
        cr_assert_eq(pk_sup_add(s, &sp, sh(script)), 0);
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0); /* spawned in it: RUNNING emitted */
        cr_assert_eq(count(PK_SUP_EV_RUNNING, "stubborn"), 1);
        cr_assert_eq(pk_sup_reaper(s, 0, NULL, NULL), 0);
        for (int i = 0; i < 2000 && access(mark, F_OK) != 0; i++)
                usleep(5000); /* until the shell has set its trap */
        unlink(mark);
        cr_assert_eq(kill(getpid(), SIGTERM), 0); /* taken by the loop's signalfd */
        R.stop_sup = s;
        run_until(PK_SUP_EV_SUP_DOWN, "", 1);
        long ex = find(PK_SUP_EV_EXITED, "stubborn", 1);
        cr_assert_geq(ex, 0);
        cr_assert(!R.ev[ex].exit.exited && R.ev[ex].exit.signal == SIGKILL);
        struct pk_sup_status st;
        cr_assert_eq(pk_sup_state(s, &st), 0);
        cr_assert_eq(st.exit_status, 0, "the deadline passed first: %d", st.exit_status);
        finish(s);
}
