/* SPDX-License-Identifier: MIT */
/* Stops in `portkit supervise` through the real binaries: every stop the
 * supervisor makes -- SIGTERM to it, `ctl shutdown`, a daemon-reload that
 * removes a unit -- runs the unit's ExecStop= (with $MAINPID, while the main
 * process runs) before the stop signal and ExecStopPost= once the main
 * process is gone, units in reverse start order; `ctl stop` runs ExecStop=
 * once, not twice; RestartForceExitStatus= restarts a Restart=no unit and
 * RestartPreventExitStatus= keeps a Restart=always one down.  Each hook
 * appends a line to one order file, so the order of it all is what the test
 * reads. */
#include <portkit.h>

#include <criterion/criterion.h>

#include "sv_testutil.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- one supervise per test, cleaned up by fini even when an assertion fails ---------- */

static struct sv S;

#define write_file(...) tu_write_file(S.units, __VA_ARGS__)
#define ctl(out, ...) svt_ctl(&S, out, __VA_ARGS__, (const char *)NULL)

static void setup(void)
{
        svt_init(&S, "/tmp/pk-svstop-XXXXXX", true);
}

static void teardown(void)
{
        svt_cleanup(&S);
}

/* cppcheck-suppress unknownMacro */
TestSuite(supervise_stop, .init = setup, .fini = teardown, .timeout = 120);

static void sv_start(void)
{
        const char *a[] = {S.units, NULL};
        svt_start(&S, a);
}

static long pid_of(const char *unit)
{
        char buf[64];
        svt_field(&S, unit, "pid", buf, sizeof(buf));
        return atol(buf);
}

static char *order(void)
{
        char path[400];
        snprintf(path, sizeof(path), "%s/order", S.dir);
        return tu_slurp_or_empty(path);
}

/* Waits (30 s at most: a hang) until the order file holds `want` whole. */
static void wait_order(const char *want)
{
        char *t = NULL;
        for (int i = 0; i < 600; i++) {
                free(t);
                t = order();
                if (strcmp(t, want) == 0)
                        break;
                svt_nap();
        }
        char *err = tu_slurp_or_empty(S.err);
        cr_assert_str_eq(t, want, "order file; supervisor said:\n%s", err);
        free(err);
        free(t);
}

/* A service NAME whose main process writes its pid to NAME.pid; its ExecStop=
 * writes "stop-NAME $MAINPID" if that process still runs, its ExecStopPost=
 * "post-NAME" only once it is gone ("post-NAME-early" otherwise). */
static void write_unit(const char *name, const char *unit_extra)
{
        char file[64];
        snprintf(file, sizeof(file), "%s.service", name);
        write_file(file,
                   "[Unit]\n%s[Service]\n"
                   "ExecStart=/bin/sh -c 'echo $$ > %s/%s.pid; exec sleep 1000'\n"
                   "ExecStop=/bin/sh -c 'kill -0 $MAINPID && echo stop-%s $MAINPID >> "
                   "%s/order'\n"
                   "ExecStopPost=/bin/sh -c 'if kill -0 $(cat %s/%s.pid) 2>/dev/null; then "
                   "echo post-%s-early; else echo post-%s; fi >> %s/order'\n",
                   unit_extra, S.dir, name, name, S.dir, S.dir, name, name, name, S.dir);
}

/* Units a, then b (After=a): started, then supervise is stopped by `how`;
 * b's ExecStop= (its main process alive, $MAINPID set) and ExecStopPost=
 * (its main process gone) come before a's. */
static void stop_whole_tree(int use_signal)
{
        write_unit("a", "");
        write_unit("b", "After=a.service\nWants=a.service\n");
        sv_start();
        svt_wait_field(&S, "a", "active", "active");
        svt_wait_field(&S, "b", "active", "active");
        long a = pid_of("a"), b = pid_of("b");
        cr_assert_gt(a, 0);
        cr_assert_gt(b, 0);
        if (use_signal) {
                cr_assert_eq(pk_proc_signal(S.p, SIGTERM), 0);
                struct pk_exit ex;
                cr_assert_eq(pk_proc_wait(S.p, 30000, &ex), 0);
                char *err = tu_slurp_or_empty(S.err);
                cr_assert_eq(pk_exit_shell(&ex), 0, "supervise exit %d:\n%s", pk_exit_shell(&ex),
                             err);
                free(err);
                S.p = pk_proc_free(S.p);
        } else {
                svt_stop(&S);
        }
        char want[256];
        snprintf(want, sizeof(want), "stop-b %ld\npost-b\nstop-a %ld\npost-a\n", b, a);
        char *t = order();
        char *err = tu_slurp_or_empty(S.err);
        cr_assert_str_eq(t, want, "supervisor said:\n%s", err);
        free(err);
        free(t);
}

Test(supervise_stop, sigterm_runs_exec_stop_then_exec_stop_post_in_reverse_order)
{
        stop_whole_tree(1);
}

Test(supervise_stop, ctl_shutdown_runs_exec_stop_then_exec_stop_post_in_reverse_order)
{
        stop_whole_tree(0);
}

/* `ctl stop` runs ExecStop= itself, then has the supervisor stop the unit:
 * ExecStop= runs once.  Started again, the new run's stop (a shutdown) runs
 * it once more, with the new $MAINPID. */
Test(supervise_stop, ctl_stop_runs_exec_stop_once_per_run)
{
        write_unit("one", "");
        sv_start();
        svt_wait_field(&S, "one", "active", "active");
        long p1 = pid_of("one");
        cr_assert_eq(ctl(NULL, "stop", "one"), 0);
        svt_wait_field(&S, "one", "active", "inactive");
        char want[256];
        snprintf(want, sizeof(want), "stop-one %ld\npost-one\n", p1);
        wait_order(want);
        cr_assert_eq(ctl(NULL, "start", "one"), 0);
        svt_wait_field(&S, "one", "active", "active");
        long p2 = pid_of("one");
        cr_assert_neq(p2, p1);
        svt_stop(&S);
        snprintf(want, sizeof(want), "stop-one %ld\npost-one\nstop-one %ld\npost-one\n", p1, p2);
        wait_order(want);
}

/* A unit a daemon-reload removes is stopped through its ExecStop= and
 * ExecStopPost= too. */
Test(supervise_stop, daemon_reload_removal_runs_exec_stop)
{
        write_unit("gone", "");
        write_file("stay.service", "[Service]\nExecStart=/bin/sleep 1000\n");
        sv_start();
        svt_wait_field(&S, "gone", "active", "active");
        long p = pid_of("gone");
        char path[400];
        snprintf(path, sizeof(path), "%s/gone.service", S.units);
        cr_assert_eq(unlink(path), 0);
        cr_assert_eq(ctl(NULL, "daemon-reload"), 0);
        char want[256];
        snprintf(want, sizeof(want), "stop-gone %ld\npost-gone\n", p);
        wait_order(want);
        svt_stop(&S);
}

/* An ExecStop= that hangs: TimeoutStopSec= kills it and bounds the wait for
 * the main process (which ignores its stop signal: SIGKILL ends it);
 * ExecStopPost= still runs, after the main process is gone, and the shutdown
 * completes. */
Test(supervise_stop, a_hanging_exec_stop_is_bounded_and_exec_stop_post_still_runs)
{
        write_file("hang.service",
                   "[Service]\nTimeoutStopSec=1\n"
                   "ExecStart=/bin/sh -c 'echo $$ > %s/hang.pid; trap \"\" TERM; "
                   "while :; do sleep 0.1; done'\n"
                   "ExecStop=/bin/sh -c 'echo stop-hang >> %s/order; exec sleep 1000'\n"
                   "ExecStopPost=/bin/sh -c 'if kill -0 $(cat %s/hang.pid) 2>/dev/null; then "
                   "echo post-hang-early; else echo post-hang; fi >> %s/order'\n",
                   S.dir, S.dir, S.dir, S.dir);
        sv_start();
        svt_wait_field(&S, "hang", "active", "active");
        svt_stop(&S);
        wait_order("stop-hang\npost-hang\n");
}

/* ---- RestartForceExitStatus= / RestartPreventExitStatus= ------------------------------ */

/* Each run appends a line to NAME.runs; the first run ends with `end`, the
 * later ones sleep. */
static void write_once_unit(const char *name, const char *keys, const char *end)
{
        char file[64];
        snprintf(file, sizeof(file), "%s.service", name);
        write_file(file,
                   "[Service]\n%s"
                   "ExecStart=/bin/sh -c 'echo run >> %s/%s.runs; "
                   "if [ -e %s/%s.ran ]; then exec sleep 1000; fi; touch %s/%s.ran; %s'\n",
                   keys, S.dir, name, S.dir, name, S.dir, name, end);
}

static int runs(const char *name)
{
        char path[400];
        snprintf(path, sizeof(path), "%s/%s.runs", S.dir, name);
        char *t = tu_slurp_or_empty(path);
        int n = 0;
        for (const char *p = t; (p = strchr(p, '\n')); p++)
                n++;
        free(t);
        return n;
}

Test(supervise_stop, restart_force_and_prevent_exit_status)
{
        write_once_unit("forced", "Restart=no\nRestartForceExitStatus=3\nRestartSec=0\n", "exit 3");
        write_once_unit("notforced", "Restart=no\nRestartForceExitStatus=3\n", "exit 4");
        write_once_unit("prevented", "Restart=always\nRestartPreventExitStatus=3\nRestartSec=0\n",
                        "exit 3");
        sv_start();
        for (int i = 0; i < 600 && runs("forced") < 2; i++)
                svt_nap();
        cr_assert_eq(runs("forced"), 2, "Restart=no + RestartForceExitStatus=3: restarted on 3");
        svt_wait_field(&S, "forced", "active", "active");
        svt_wait_field(&S, "notforced", "active", "failed");
        svt_wait_field(&S, "prevented", "active", "failed");
        cr_assert_eq(runs("notforced"), 1, "exit 4 is not forced");
        cr_assert_eq(runs("prevented"), 1, "RestartPreventExitStatus= wins over Restart=always");
        char *out = NULL;
        (void)ctl(&out, "status", "forced");
        cr_assert_null(strstr(out, "RestartForceExitStatus"), "no 'not enforced' note: %s", out);
        free(out);
        svt_stop(&S);
}
