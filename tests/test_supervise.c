/* SPDX-License-Identifier: MIT */
/* `portkit supervise` and `portkit ctl` through the real binaries: units of
 * each Type, restarts, daemon-reload as a diff, refused configurations, the
 * systemctl name, authorization, hostile control clients.  Real services from
 * their Debian units are tests/supervise/debian.sh, one CTest entry each
 * (cmake/parts/supervise.cmake). */
#include <portkit.h>

#include <criterion/criterion.h>

#include "sv_testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PORTKIT SVT_PORTKIT
#define PROBE PK_BUILD_DIR "/tests/helpers/sup_probe"

/* The shared helpers (sv_testutil.h, testutil.h) by this file's names. */
#define write_file(...) tu_write_file(__VA_ARGS__)
#define read_file(path) tu_slurp_or_empty(path)
#define nap() svt_nap()
#define field(...) svt_field(__VA_ARGS__)
#define wait_field(...) svt_wait_field(__VA_ARGS__)
#define sv_stop(s) svt_stop(s)
#define sv_start_args(s, extra) svt_start(s, extra)

/* The test's temporary directory, removed by the suite's fini (which runs
 * after a failed assertion too). */
static char created_dir[256];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st;
        (void)flag;
        (void)ftw;
        return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

static void sv_cleanup(void)
{
        if (created_dir[0])
                (void)nftw(created_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        created_dir[0] = '\0';
}

/* Waits (30 s at most: a hang) until a hook's shell has written the whole of
 * path: `cmd > path` creates the file before cmd writes, so existence is not
 * enough; every file the test hooks write ends in a newline. */
static void wait_written(const char *path)
{
        for (int i = 0; i < 600; i++) {
                char *t = tu_slurp_or_empty(path);
                size_t n = strlen(t);
                int done = n > 0 && t[n - 1] == '\n';
                free(t);
                if (done)
                        return;
                nap();
        }
}

TestSuite(supervise, .fini = sv_cleanup);

static void sv_init(struct sv *s)
{
        svt_init(s, "/tmp/pk-sv-XXXXXX", true);
        snprintf(created_dir, sizeof(created_dir), "%s", s->dir);
        chmod(s->dir, 0755); /* the nobody client must reach the socket */
}

/* `portkit ctl --control CTL` (or argv0 with $PORTKIT_CONTROL), arguments to follow. */
static struct pk_cmd *ctl_cmd(struct sv *s, const char *argv0)
{
        if (!argv0)
                return svt_ctl_cmd(s);
        struct pk_cmd *cmd;
        cr_assert_eq(pk_cmd_new(PORTKIT, &cmd), 0);
        cr_assert_eq(pk_cmd_argv0(cmd, argv0), 0);
        cr_assert_eq(pk_cmd_env_set(cmd, "PORTKIT_CONTROL", s->ctl), 0);
        return cmd;
}

/* Runs `portkit ctl --control CTL args...` (or another argv[0]); returns its exit status. */
static int ctl_as(struct sv *s, const char *user, const char *argv0, char **out, const char *a1,
                  ...)
{
        struct pk_cmd *cmd = ctl_cmd(s, argv0);
        if (user)
                cr_assert_eq(pk_cmd_user(cmd, user), 0);
        va_list ap;
        va_start(ap, a1);
        int st = svt_vrun(cmd, 30000, out, a1, ap);
        va_end(ap);
        return st;
}

#define ctl(s, out, ...) ctl_as(s, NULL, NULL, out, __VA_ARGS__, (const char *)NULL)

static long pid_of(struct sv *s, const char *unit)
{
        char buf[64];
        field(s, unit, "pid", buf, sizeof(buf));
        return atol(buf);
}

static void sv_start(struct sv *s)
{
        const char *a[] = {s->units, NULL};
        sv_start_args(s, a);
}

static int alive(long pid)
{
        return pid > 0 && kill((pid_t)pid, 0) == 0;
}

/* ---- types ------------------------------------------------------------------------ */

Test(supervise, each_type_reaches_ready_and_stops)
{
        struct sv s;
        sv_init(&s);
        write_file(s.units, "simple.service",
                   "[Service]\nExecStart=/bin/sleep 1000\nExecStartPost=/bin/sh -c 'echo post "
                   "$MAINPID > %s/post'\nExecReload=/bin/sh -c 'echo reload $MAINPID > "
                   "%s/reload'\nExecStop=/bin/sh -c 'echo stop $MAINPID > %s/stop'\n"
                   "ExecStopPost=/bin/sh -c 'echo stoppost > %s/stoppost'\n",
                   s.dir, s.dir, s.dir, s.dir);
        write_file(s.units, "exec.service", "[Service]\nType=exec\nExecStart=/bin/sleep 1000\n");
        write_file(s.units, "notify.service",
                   "[Service]\nType=notify\nExecStart=" PROBE " sleep:100 send:READY=1 pause\n");
        write_file(s.units, "fork.service",
                   "[Service]\nType=forking\nPIDFile=%s/fork.pid\n"
                   "ExecStartPre=/bin/sh -c 'echo pre > %s/pre'\n"
                   "ExecStart=/bin/sh -c '/bin/sleep 1000 & echo $! > %s/fork.pid'\n",
                   s.dir, s.dir, s.dir);
        write_file(s.units, "once.service",
                   "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/sh -c 'echo one "
                   ">> %s/once'\nExecStart=/bin/sh -c 'echo two >> %s/once'\n",
                   s.dir, s.dir);
        sv_start(&s);
        const char *names[] = {"simple", "exec", "notify", "fork", "once"};
        for (size_t i = 0; i < 5; i++)
                wait_field(&s, names[i], "active", "active");
        /* Oneshot: both commands ran, in order.  Forking: the daemon's pid file was read. */
        char path[512];
        snprintf(path, sizeof(path), "%s/once", s.dir);
        char *t = read_file(path);
        cr_assert_str_eq(t, "one\ntwo\n");
        free(t);
        snprintf(path, sizeof(path), "%s/pre", s.dir);
        t = read_file(path);
        cr_assert_str_eq(t, "pre\n");
        free(t);
        snprintf(path, sizeof(path), "%s/fork.pid", s.dir);
        t = read_file(path);
        long daemon = atol(t);
        free(t);
        cr_assert(alive(daemon));
        /* ExecStartPost= and ExecReload= see $MAINPID. */
        long mp = pid_of(&s, "simple");
        char want[64];
        snprintf(want, sizeof(want), "post %ld\n", mp);
        snprintf(path, sizeof(path), "%s/post", s.dir);
        t = svt_wait_text(path, want);
        cr_assert_str_eq(t, want);
        free(t);
        cr_assert_eq(ctl(&s, NULL, "reload", "simple"), 0);
        snprintf(path, sizeof(path), "%s/reload", s.dir);
        snprintf(want, sizeof(want), "reload %ld\n", mp);
        t = read_file(path);
        cr_assert_str_eq(t, want);
        free(t);
        /* ExecStop= runs first, with $MAINPID; ExecStopPost= after the exit. */
        cr_assert_eq(ctl(&s, NULL, "stop", "simple"), 0);
        snprintf(path, sizeof(path), "%s/stop", s.dir);
        snprintf(want, sizeof(want), "stop %ld\n", mp);
        t = read_file(path);
        cr_assert_str_eq(t, want);
        free(t);
        wait_field(&s, "simple", "active", "inactive");
        snprintf(path, sizeof(path), "%s/stoppost", s.dir);
        for (int i = 0; i < 600 && access(path, F_OK) != 0; i++)
                nap();
        cr_assert_eq(access(path, F_OK), 0, "ExecStopPost= did not run");
        /* Stopping the forking unit ends its daemon (not our child: through the helper). */
        cr_assert_eq(ctl(&s, NULL, "stop", "fork"), 0);
        wait_field(&s, "fork", "active", "inactive");
        for (int i = 0; i < 600 && alive(daemon); i++)
                nap();
        cr_assert(!alive(daemon), "the forked daemon %ld survived its stop", daemon);
        long pids[5];
        for (size_t i = 0; i < 5; i++)
                pids[i] = pid_of(&s, names[i]);
        sv_stop(&s);
        for (size_t i = 0; i < 5; i++)
                cr_assert(!alive(pids[i]), "%s pid %ld alive after shutdown", names[i], pids[i]);
}

/* Reads DIR/NAME; "" if missing (freed by the caller). */
static char *read_in(struct sv *s, const char *name)
{
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", s->dir, name);
        return read_file(path);
}

/* A stop or restart of db reaches web (PartOf=db) and cache (PartOf=web):
 * each one's ExecStop= runs first, with its own $MAINPID, while its main
 * process still runs; a unit not PartOf= db is left alone. */
Test(supervise, part_of_stop_runs_the_dependents_exec_stop)
{
        struct sv s;
        sv_init(&s);
        const char *names[] = {"db", "web", "cache", "other"};
        const char *part_of[] = {"", "PartOf=db.service\n", "PartOf=web.service\n", ""};
        for (size_t i = 0; i < 4; i++) {
                char file[64];
                snprintf(file, sizeof(file), "%s.service", names[i]);
                write_file(s.units, file,
                           "[Unit]\n%s[Service]\nExecStart=/bin/sleep 1000\n"
                           "ExecStop=/bin/sh -c 'kill -0 $MAINPID && echo stop $MAINPID >> "
                           "%s/%s.stop'\n",
                           part_of[i], s.dir, names[i]);
        }
        sv_start(&s);
        long pid[4];
        for (size_t i = 0; i < 4; i++) {
                wait_field(&s, names[i], "active", "active");
                pid[i] = pid_of(&s, names[i]);
        }
        cr_assert_eq(ctl(&s, NULL, "stop", "db"), 0);
        for (size_t i = 0; i < 3; i++) {
                char want[64], file[64];
                snprintf(want, sizeof(want), "stop %ld\n", pid[i]);
                snprintf(file, sizeof(file), "%s.stop", names[i]);
                char *t = read_in(&s, file);
                cr_assert_str_eq(t, want, "%s's ExecStop= (with its $MAINPID, before the signal)",
                                 names[i]);
                free(t);
                wait_field(&s, names[i], "active", "inactive");
        }
        char *t = read_in(&s, "other.stop");
        cr_assert_str_eq(t, "", "a unit not PartOf= db was stopped");
        free(t);
        char buf[64];
        field(&s, "other", "active", buf, sizeof(buf));
        cr_assert_str_eq(buf, "active");
        /* restart: ExecStop= of each, then all three run again */
        for (size_t i = 0; i < 3; i++) {
                cr_assert_eq(ctl(&s, NULL, "start", names[i]), 0);
                wait_field(&s, names[i], "active", "active");
                pid[i] = pid_of(&s, names[i]);
        }
        cr_assert_eq(ctl(&s, NULL, "restart", "db"), 0);
        for (size_t i = 0; i < 3; i++) {
                char want[64], file[64];
                snprintf(file, sizeof(file), "%s.stop", names[i]);
                snprintf(want, sizeof(want), "stop %ld\n", pid[i]);
                t = read_in(&s, file);
                const char *nl = strchr(t, '\n');
                cr_assert(nl && strcmp(nl + 1, want) == 0, "%s after restart: '%s'", names[i], t);
                free(t);
                for (int k = 0; k < 600; k++) {
                        field(&s, names[i], "active", buf, sizeof(buf));
                        long p = pid_of(&s, names[i]);
                        if (strcmp(buf, "active") == 0 && p > 0 && p != pid[i])
                                break;
                        nap();
                }
                cr_assert_neq(pid_of(&s, names[i]), pid[i], "%s not restarted", names[i]);
        }
        sv_stop(&s);
}

/* The "0::" line of a /proc/PID/cgroup copy, without the newline ("" if none). */
static void cg_line(const char *text, char *buf, size_t size)
{
        const char *p = strstr(text, "0::");
        size_t n = p ? strcspn(p, "\n") : 0;
        snprintf(buf, size, "%.*s", (int)n, p ? p : "");
}

/* ExecStartPost=, ExecReload= and ExecStopPost= run in the unit's cgroup
 * (read from /proc/self/cgroup by the hook itself), ExecStop= outside it (sup
 * kills the cgroup when the main process ends, and ExecStop= may end it); all
 * write to the unit's log, as systemd runs a service's control processes;
 * ExecStopPost= also after the main process left a process behind (its
 * cgroup killed). */
Test(supervise, hooks_run_in_the_units_cgroup_and_write_its_log)
{
        struct sv s;
        sv_init(&s);
#define HOOK(tag)                                                                                  \
        "/bin/sh -c 'cat /proc/self/cgroup > %s/" tag ".cg; echo " tag "-out; echo " tag           \
        "-err >&2'\n"
        write_file(s.units, "hooks.service",
                   "[Service]\nExecStart=/bin/sh -c 'cat /proc/self/cgroup > %s/main.cg; exec "
                   "/bin/sleep 1000'\n"
                   "ExecStartPost=" HOOK("post") "ExecReload=" HOOK("reload") "ExecStop=" HOOK(
                       "stop") "ExecStopPost=" HOOK("stoppost"),
                   s.dir, s.dir, s.dir, s.dir, s.dir);
        /* the main process exits and leaves a process: its cgroup is killed
         * before ExecStopPost= runs */
        write_file(s.units, "leaves.service",
                   "[Service]\nExecStart=/bin/sh -c 'cat /proc/self/cgroup > %s/lmain.cg; "
                   "/bin/sleep 1000 & exit 0'\nExecStopPost=" HOOK("lpost"),
                   s.dir, s.dir);
#undef HOOK
        sv_start(&s);
        wait_field(&s, "hooks", "active", "active");
        char path[512];
        snprintf(path, sizeof(path), "%s/post.cg", s.dir);
        wait_written(path);
        cr_assert_eq(ctl(&s, NULL, "reload", "hooks"), 0);
        cr_assert_eq(ctl(&s, NULL, "stop", "hooks"), 0);
        wait_field(&s, "hooks", "active", "inactive");
        const char *tags[] = {"post", "reload", "stop", "stoppost", "lpost"};
        for (size_t i = 0; i < 5; i++) {
                snprintf(path, sizeof(path), "%s/%s.cg", s.dir, tags[i]);
                wait_written(path);
        }
        char *t = read_in(&s, "main.cg");
        char main_cg[512], lmain_cg[512], got[512];
        cg_line(t, main_cg, sizeof(main_cg));
        free(t);
        t = read_in(&s, "lmain.cg");
        cg_line(t, lmain_cg, sizeof(lmain_cg));
        free(t);
        if (!strstr(main_cg, "/supervise.hooks.service")) {
                sv_stop(&s);
                cr_skip_test("no cgroup for the unit here (%s)", main_cg);
        }
        cr_assert(strstr(lmain_cg, "/supervise.leaves.service"), "%s", lmain_cg);
        for (size_t i = 0; i < 5; i++) {
                char file[64];
                snprintf(file, sizeof(file), "%s.cg", tags[i]);
                t = read_in(&s, file);
                cg_line(t, got, sizeof(got));
                free(t);
                if (i == 2) /* ExecStop= must outlive a main process it ends: outside */
                        cr_assert_str_neq(got, main_cg, "ExecStop= ran in the unit's cgroup");
                else
                        cr_assert_str_eq(got, i == 4 ? lmain_cg : main_cg, "%s= ran in %s", tags[i],
                                         got);
        }
        /* their output is in the unit's log, not in the supervisor's stderr */
        snprintf(path, sizeof(path), "%s/hooks.service.log", s.log);
        t = svt_wait_text(path, "stoppost-err");
        char *err = read_file(s.err);
        for (size_t i = 0; i < 4; i++) {
                char want[64];
                snprintf(want, sizeof(want), "%s-out", tags[i]);
                cr_assert(strstr(t, want), "no %s in the unit's log:\n%s", want, t);
                cr_assert(!strstr(err, want), "%s in the supervisor's stderr", want);
                snprintf(want, sizeof(want), "%s-err", tags[i]);
                cr_assert(strstr(t, want), "no %s in the unit's log:\n%s", want, t);
        }
        free(t);
        free(err);
        snprintf(path, sizeof(path), "%s/leaves.service.log", s.log);
        t = svt_wait_text(path, "lpost-err");
        cr_assert(strstr(t, "lpost-out"), "leaves' log:\n%s", t);
        free(t);
        sv_stop(&s);
}

Test(supervise, killed_service_is_restarted)
{
        struct sv s;
        sv_init(&s);
        write_file(s.units, "a.service", "[Service]\nExecStart=/bin/sleep 1000\nRestart=always\n");
        sv_start(&s);
        wait_field(&s, "a", "active", "active");
        long p1 = pid_of(&s, "a");
        cr_assert_eq(kill((pid_t)p1, SIGKILL), 0);
        wait_field(&s, "a", "restarts", "1");
        wait_field(&s, "a", "active", "active");
        long p2 = pid_of(&s, "a");
        cr_assert_neq(p1, p2);
        char buf[32];
        field(&s, "a", "last_exit", buf, sizeof(buf));
        cr_assert_str_eq(buf, "137");
        /* kill --signal through ctl, and the systemctl name's exit codes. */
        cr_assert_eq(ctl(&s, NULL, "kill", "--signal", "SIGKILL", "a"), 0);
        wait_field(&s, "a", "restarts", "2");
        char link[512];
        snprintf(link, sizeof(link), "%s/systemctl", s.dir);
        cr_assert_eq(symlink(PORTKIT, link), 0);
        wait_field(&s, "a", "active", "active");
        cr_assert_eq(
            ctl_as(&s, NULL, "systemctl", NULL, "is-active", "-q", "a.service", (const char *)NULL),
            0);
        cr_assert_eq(
            ctl_as(&s, NULL, "systemctl", NULL, "stop", "--no-block", "a", (const char *)NULL), 0);
        wait_field(&s, "a", "active", "inactive");
        cr_assert_eq(
            ctl_as(&s, NULL, "systemctl", NULL, "is-active", "-q", "a", (const char *)NULL), 3);
        cr_assert_eq(
            ctl_as(&s, NULL, "systemctl", NULL, "is-enabled", "-q", "a", (const char *)NULL), 0);
        cr_assert_eq(
            ctl_as(&s, NULL, "systemctl", NULL, "is-enabled", "-q", "zz", (const char *)NULL), 1);
        cr_assert_eq(
            ctl_as(&s, NULL, "systemctl", NULL, "enable", "--now", "a", (const char *)NULL), 0);
        wait_field(&s, "a", "active", "active");
        cr_assert_eq(ctl(&s, NULL, "is-failed", "a"), 1);
        sv_stop(&s);
}

Test(supervise, failing_unit_is_failed)
{
        struct sv s;
        sv_init(&s);
        write_file(s.units, "bad.service",
                   "[Service]\nType=oneshot\nExecStart=/bin/false\nRemainAfterExit=yes\n");
        sv_start(&s);
        for (int i = 0; i < 600 && ctl(&s, NULL, "is-failed", "bad") != 0; i++)
                nap();
        cr_assert_eq(ctl(&s, NULL, "is-failed", "bad"), 0);
        sv_stop(&s);
}

Test(supervise, start_limit_fails_a_crash_looping_unit)
{
        struct sv s;
        sv_init(&s);
        /* Restart=always with RestartSec=: started 3 times within the interval, then
         * failed; the supervisor and its other units go on. */
        write_file(s.units, "loop.service",
                   "[Unit]\nStartLimitIntervalSec=1min\nStartLimitBurst=3\n"
                   "StartLimitAction=none\n"
                   "[Service]\nExecStart=/bin/sh -c 'echo start >> %s/starts; exit 1'\n"
                   "Restart=always\nRestartSec=150ms\n",
                   s.dir);
        write_file(s.units, "calm.service", "[Service]\nExecStart=/bin/sleep 1000\n");
        sv_start(&s);
        for (int i = 0; i < 600 && ctl(&s, NULL, "is-failed", "loop") != 0; i++)
                nap();
        cr_assert_eq(ctl(&s, NULL, "is-failed", "loop"), 0);
        char path[512];
        snprintf(path, sizeof(path), "%s/starts", s.dir);
        char *t = read_file(path);
        cr_assert_str_eq(t, "start\nstart\nstart\n", "three starts, then none");
        free(t);
        char buf[64];
        field(&s, "loop", "restarts", buf, sizeof(buf));
        cr_assert_str_eq(buf, "2");
        wait_field(&s, "calm", "active", "active");
        char *err = read_file(s.err);
        cr_assert(strstr(err, "loop.service: gave-up reason start-limit"), "%s", err);
        cr_assert(!strstr(err, "StartLimitAction"), "StartLimitAction=none is done:\n%s", err);
        cr_assert(!strstr(err, "RestartSec"), "RestartSec= is enforced:\n%s", err);
        free(err);
        /* reset-failed: inactive, and a start gets the full burst again */
        cr_assert_eq(ctl(&s, NULL, "reset-failed", "loop"), 0);
        cr_assert_eq(ctl(&s, NULL, "is-failed", "loop"), 1);
        wait_field(&s, "loop", "active", "inactive");
        cr_assert_eq(ctl(&s, NULL, "start", "loop"), 0);
        for (int i = 0; i < 600 && ctl(&s, NULL, "is-failed", "loop") != 0; i++)
                nap();
        t = read_file(path);
        cr_assert_str_eq(t, "start\nstart\nstart\nstart\nstart\nstart\n");
        free(t);
        sv_stop(&s);
}

static long read_pid_file(const char *dir, const char *name)
{
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        wait_written(path);
        char *t = read_file(path);
        long pid = atol(t);
        free(t);
        cr_assert_gt(pid, 0, "no pid in %s", path);
        return pid;
}

static void wait_dead(long pid, const char *what)
{
        for (int i = 0; i < 600 && alive(pid); i++)
                nap();
        cr_assert(!alive(pid), "%s (pid %ld) survived its timeout", what, pid);
}

Test(supervise, hanging_hooks_are_killed_at_their_timeouts)
{
        struct sv s;
        sv_init(&s);
        /* ("$$" is a "$" in a unit's command line.) */
        /* ExecStop= hangs (and so does what it started): killed at TimeoutStopSec=,
         * the later ExecStop= is skipped, and the stop proceeds. */
        write_file(s.units, "stop.service",
                   "[Service]\nExecStart=/bin/sleep 1000\nTimeoutStopSec=400ms\n"
                   "ExecStop=/bin/sh -c '/bin/sleep 1000 & echo $$! > %s/stopchild; "
                   "echo $$$$ > %s/stophook; wait'\n"
                   "ExecStop=/bin/sh -c 'echo ran > %s/stop2'\n",
                   s.dir, s.dir, s.dir);
        /* ExecReload= hangs: killed at TimeoutStartSec=, the reload fails, the
         * service runs on with the same pid. */
        write_file(s.units, "reload.service",
                   "[Service]\nExecStart=/bin/sleep 1000\nTimeoutStartSec=400ms\n"
                   "ExecReload=/bin/sh -c 'echo $$$$ > %s/reloadhook; exec /bin/sleep 1000'\n",
                   s.dir);
        /* ExecStartPost= hangs: killed at TimeoutStartSec=, the start failed, the
         * service is stopped and (Restart=no) ends failed. */
        write_file(s.units, "post.service",
                   "[Service]\nExecStart=/bin/sleep 1000\nTimeoutStartSec=400ms\n"
                   "ExecStartPost=/bin/sh -c 'echo $$$$ > %s/posthook; exec /bin/sleep 1000'\n",
                   s.dir);
        /* ExecStopPost= hangs after the service's exit: killed at TimeoutStopSec=. */
        write_file(s.units, "stoppost.service",
                   "[Service]\nExecStart=/bin/sh -c 'exit 0'\nTimeoutStopSec=400ms\n"
                   "ExecStopPost=/bin/sh -c 'echo $$$$ > %s/stoposthook; exec /bin/sleep 1000'\n",
                   s.dir);
        sv_start(&s);
        wait_field(&s, "stop", "active", "active");
        wait_field(&s, "reload", "active", "active");
        long main_pid = pid_of(&s, "stop");

        cr_assert_eq(ctl(&s, NULL, "stop", "stop"), 0, "the stop goes on after the timeout");
        long hook = read_pid_file(s.dir, "stophook");
        long child = read_pid_file(s.dir, "stopchild");
        wait_field(&s, "stop", "active", "inactive");
        wait_dead(hook, "ExecStop=");
        wait_dead(child, "what ExecStop= started");
        wait_dead(main_pid, "the service after its ExecStop= timed out");
        char path[512];
        snprintf(path, sizeof(path), "%s/stop2", s.dir);
        cr_assert_neq(access(path, F_OK), 0, "the ExecStop= after the timed-out one ran");

        long rpid = pid_of(&s, "reload");
        char *out = NULL;
        cr_assert_neq(ctl(&s, &out, "reload", "reload"), 0);
        cr_assert(strstr(out, "timed out"), "%s", out);
        free(out);
        wait_dead(read_pid_file(s.dir, "reloadhook"), "ExecReload=");
        wait_field(&s, "reload", "active", "active");
        cr_assert_eq(pid_of(&s, "reload"), rpid, "a failed reload leaves the service running");

        wait_dead(read_pid_file(s.dir, "posthook"), "ExecStartPost=");
        for (int i = 0; i < 600 && ctl(&s, NULL, "is-failed", "post") != 0; i++)
                nap();
        cr_assert_eq(ctl(&s, NULL, "is-failed", "post"), 0);

        wait_dead(read_pid_file(s.dir, "stoposthook"), "ExecStopPost=");
        char *err = read_file(s.err);
        cr_assert(strstr(err, "stop.service: ExecStop= timed out after 400 ms: killed"), "%s", err);
        cr_assert(strstr(err, "reload.service: ExecReload= timed out after 400 ms"), "%s", err);
        cr_assert(strstr(err, "post.service: ExecStartPost= timed out after 400 ms"), "%s", err);
        cr_assert(strstr(err, "stoppost.service: ExecStopPost= timed out after 400 ms"), "%s", err);
        free(err);
        sv_stop(&s);
}

Test(supervise, targets_and_the_enabled_set)
{
        struct sv s;
        sv_init(&s);
        /* A config directory as systemd keeps one: default.target -> multi-user.target,
         * which Wants=c.service; a.service is enabled (linked in .wants/), b.service
         * is installed but disabled, d.service is wanted by the enabled e.target
         * (target of a target). */
        write_file(s.units, "a.service",
                   "[Service]\nExecStart=/bin/sleep 1000\n[Install]\nWantedBy=multi-user.target\n");
        write_file(s.units, "b.service",
                   "[Service]\nExecStart=/bin/sleep 1000\n[Install]\nWantedBy=multi-user.target\n"
                   "Alias=bee.service\n");
        write_file(s.units, "c.service", "[Service]\nExecStart=/bin/sleep 1000\n");
        write_file(s.units, "d.service", "[Service]\nExecStart=/bin/sleep 1000\n");
        write_file(s.units, "multi-user.target",
                   "[Unit]\nDescription=Multi-User\nWants=c.service\n");
        write_file(s.units, "e.target", "[Unit]\nWants=d.service\n");
        char p[512], q[512];
        snprintf(p, sizeof(p), "%s/default.target", s.units);
        cr_assert_eq(symlink("multi-user.target", p), 0);
        snprintf(p, sizeof(p), "%s/multi-user.target.wants", s.units);
        cr_assert_eq(mkdir(p, 0755), 0);
        snprintf(p, sizeof(p), "%s/multi-user.target.wants/a.service", s.units);
        snprintf(q, sizeof(q), "%s/a.service", s.units);
        cr_assert_eq(symlink(q, p), 0);
        snprintf(p, sizeof(p), "%s/multi-user.target.wants/e.target", s.units);
        snprintf(q, sizeof(q), "%s/e.target", s.units);
        cr_assert_eq(symlink(q, p), 0);
        /* Only this directory: the host's own units stay out of it. */
        const char *args[] = {"--unit-path", s.units, s.units, NULL};
        sv_start_args(&s, args);
        wait_field(&s, "a", "active", "active");
        wait_field(&s, "c", "active", "active");
        wait_field(&s, "d", "active", "active");
        char *out = NULL;
        cr_assert_eq(ctl(&s, &out, "list"), 0);
        cr_assert(!strstr(out, "b.service"), "a disabled unit was started:\n%s", out);
        free(out);
        /* is-enabled reads the links */
        cr_assert_eq(ctl(&s, &out, "is-enabled", "a"), 0);
        cr_assert_str_eq(out, "enabled\n");
        free(out);
        cr_assert_eq(ctl(&s, &out, "is-enabled", "b"), 1);
        cr_assert_str_eq(out, "disabled\n");
        free(out);
        cr_assert_eq(ctl(&s, &out, "is-enabled", "c"), 0);
        cr_assert_str_eq(out, "static\n");
        free(out);
        cr_assert_eq(ctl(&s, &out, "is-enabled", "nope"), 1);
        cr_assert_str_eq(out, "not-found\n");
        free(out);
        /* enable makes the links of [Install] (WantedBy=, Alias=), and starts nothing */
        cr_assert_eq(ctl(&s, &out, "enable", "b"), 0);
        cr_assert(strstr(out, "Created symlink"), "%s", out);
        free(out);
        char tgt[512] = "";
        snprintf(p, sizeof(p), "%s/multi-user.target.wants/b.service", s.units);
        snprintf(q, sizeof(q), "%s/b.service", s.units);
        ssize_t l = readlink(p, tgt, sizeof(tgt) - 1);
        cr_assert_gt(l, 0, "no link %s", p);
        tgt[l] = '\0';
        cr_assert_str_eq(tgt, q);
        snprintf(p, sizeof(p), "%s/bee.service", s.units);
        l = readlink(p, tgt, sizeof(tgt) - 1);
        cr_assert_gt(l, 0, "no alias link %s", p);
        cr_assert_eq(ctl(&s, NULL, "is-enabled", "b"), 0);
        cr_assert_eq(ctl(&s, &out, "list"), 0);
        cr_assert(!strstr(out, "b.service"), "enable started b:\n%s", out);
        free(out);
        /* systemctl disable --now / enable --now */
        char link[512];
        snprintf(link, sizeof(link), "%s/systemctl", s.dir);
        cr_assert_eq(symlink(PORTKIT, link), 0);
        cr_assert_eq(
            ctl_as(&s, NULL, "systemctl", NULL, "disable", "--now", "a", (const char *)NULL), 0);
        wait_field(&s, "a", "active", "inactive");
        cr_assert_eq(ctl(&s, NULL, "is-enabled", "a"), 1);
        snprintf(p, sizeof(p), "%s/multi-user.target.wants/a.service", s.units);
        cr_assert_neq(access(p, F_OK), 0);
        cr_assert_eq(ctl_as(&s, NULL, "systemctl", NULL, "disable", "b", (const char *)NULL), 0);
        snprintf(p, sizeof(p), "%s/bee.service", s.units);
        cr_assert_neq(access(p, F_OK), 0, "disable left the alias");
        cr_assert_eq(
            ctl_as(&s, NULL, "systemctl", NULL, "enable", "--now", "b", (const char *)NULL), 0);
        wait_field(&s, "b", "active", "active"); /* loaded on demand */
        cr_assert_eq(ctl(&s, NULL, "is-enabled", "b"), 0);
        /* starting a target starts what it wants (loaded on demand) */
        write_file(s.units, "g.service", "[Service]\nExecStart=/bin/sleep 1000\n");
        write_file(s.units, "f.target", "[Unit]\nWants=g.service\n");
        cr_assert_eq(ctl(&s, NULL, "start", "f.target"), 0);
        wait_field(&s, "g", "active", "active");
        cr_assert_neq(ctl(&s, NULL, "start", "nothing.target"), 0);
        /* a unit started on demand (not enabled) survives a daemon-reload */
        cr_assert_eq(ctl(&s, NULL, "start", "a"), 0);
        wait_field(&s, "a", "active", "active");
        long apid = pid_of(&s, "a");
        cr_assert_eq(ctl(&s, NULL, "daemon-reload"), 0);
        wait_field(&s, "a", "active", "active");
        cr_assert_eq(pid_of(&s, "a"), apid);
        /* a restart of the supervisor starts the enabled set: b now, not a */
        sv_stop(&s);
        sv_start_args(&s, args);
        wait_field(&s, "b", "active", "active");
        cr_assert_eq(ctl(&s, &out, "list"), 0);
        cr_assert(!strstr(out, "a.service"), "a disabled unit was started:\n%s", out);
        free(out);
        sv_stop(&s);
}

/* Lines in dir/name (a worker appends its pid at each start). */
static int lines_in(const char *dir, const char *name)
{
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        char *t = read_file(path);
        int n = 0;
        for (char *p = t; *p; p++)
                n += *p == '\n';
        free(t);
        return n;
}

static void wait_lines(struct sv *s, const char *name, int want)
{
        for (int i = 0; i < 600 && lines_in(s->dir, name) < want; i++)
                nap();
        char *err = read_file(s->err);
        cr_assert_eq(lines_in(s->dir, name), want, "%s: %d starts, want %d; supervisor said:\n%s",
                     name, lines_in(s->dir, name), want, err);
        free(err);
}

/* The main process ends while ExecStartPost= still runs (in its cgroup: it
 * is killed with the rest): ExecStopPost= runs all the same, after it. */
Test(supervise, exec_stop_post_runs_after_a_hook_cut_short)
{
        struct sv s;
        sv_init(&s);
        write_file(s.units, "short.service",
                   "[Service]\nExecStart=/bin/sh -c 'sleep 0.3; exit 0'\n"
                   "ExecStartPost=/bin/sh -c 'echo $$$$ > %s/post.pid; exec /bin/sleep 1000'\n"
                   "ExecStopPost=/bin/sh -c 'echo ran > %s/stoppost'\n",
                   s.dir, s.dir);
        sv_start(&s);
        char path[512];
        snprintf(path, sizeof(path), "%s/stoppost", s.dir);
        for (int i = 0; i < 600 && access(path, F_OK) != 0; i++)
                nap();
        char *err = read_file(s.err);
        cr_assert_eq(access(path, F_OK), 0, "ExecStopPost= did not run; supervisor said:\n%s", err);
        free(err);
        long post = read_pid_file(s.dir, "post.pid");
        for (int i = 0; i < 600 && alive(post); i++)
                nap();
        cr_assert(!alive(post), "ExecStartPost= outlived its unit");
        sv_stop(&s);
}

Test(supervise, tree_file_one_for_all_and_rest_for_one)
{
        struct sv s;
        sv_init(&s);
        write_file(s.units, "u.service",
                   "[Service]\nExecStart=/bin/sh -c 'echo $$$$ >> %s/u; exec /bin/sleep 1000'\n"
                   "Restart=always\n",
                   s.dir);
#define W(id)                                                                                      \
        "{worker, " #id ", #{cmd => [\"/bin/sh\", \"-c\", \"echo $$ >> %s/" #id                    \
        "; exec /bin/sleep 1000\"]}}"
        write_file(
            s.dir, "app.tree",
            "%% one_for_all: a, a unit, b\n"
            "{supervisor, all, #{strategy => one_for_all, intensity => 5, period => 60000,\n"
            "                    backoff => #{base => 10, cap => 10, jitter => -1}},\n"
            " [" W(a) ", {unit, \"u.service\"}, " W(
                b) "]}.\n"
                   "%% rest_for_one: x, y, z\n"
                   "{supervisor, rest, #{strategy => rest_for_one, backoff => #{base => 10}},\n"
                   " [" W(x) ", " W(y) ", " W(z) "]}.\n",
            s.dir, s.dir, s.dir, s.dir, s.dir);
#undef W
        char tree[512];
        snprintf(tree, sizeof(tree), "%s/app.tree", s.dir);
        const char *args[] = {"--unit-path", s.units, tree, NULL};
        sv_start_args(&s, args);
        const char *ids[] = {"a", "u", "b", "x", "y", "z"};
        for (size_t i = 0; i < 6; i++)
                wait_lines(&s, ids[i], 1);
        wait_field(&s, "u", "active", "active");
        /* one_for_all: a dies, so all of its tree restart (the unit too) */
        long a1 = read_pid_file(s.dir, "a");
        long u1 = pid_of(&s, "u");
        cr_assert_eq(kill((pid_t)a1, SIGKILL), 0);
        wait_lines(&s, "a", 2);
        wait_lines(&s, "u", 2);
        wait_lines(&s, "b", 2);
        wait_field(&s, "u", "active", "active");
        cr_assert_neq(pid_of(&s, "u"), u1, "the unit in the tree was not restarted with it");
        cr_assert(!alive(u1));
        /* rest_for_one: y dies, so y and z restart, x does not */
        char path[512];
        snprintf(path, sizeof(path), "%s/y", s.dir);
        char *t = read_file(path);
        long y1 = atol(t);
        free(t);
        cr_assert_eq(kill((pid_t)y1, SIGKILL), 0);
        wait_lines(&s, "y", 2);
        wait_lines(&s, "z", 2);
        cr_assert_eq(lines_in(s.dir, "x"), 1, "x was restarted by rest_for_one");
        cr_assert_eq(lines_in(s.dir, "a"), 2, "the other tree was touched");
        sv_stop(&s);
}

/* The last pid appended to dir/name (0 if none). */
static long last_pid(const char *dir, const char *name)
{
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        char *t = read_file(path);
        long pid = 0;
        for (char *p = t; *p;) {
                pid = atol(p);
                p += strcspn(p, "\n");
                p += *p == '\n';
        }
        free(t);
        return pid;
}

/* daemon-reload re-reads a tree file and applies it as a diff: an unchanged
 * worker keeps its pid, a changed one restarts (back in its place: the
 * rest_for_one order still holds), a removed one stops, an added one starts
 * where the file puts it; a strategy change applies in place (every pid kept,
 * the next exit handled by the new strategy). */
Test(supervise, tree_file_daemon_reload_applies_a_diff_of_workers)
{
        struct sv s;
        sv_init(&s);
#define W(id, secs)                                                                                \
        "{worker, " #id ", #{cmd => [\"/bin/sh\", \"-c\", \"echo $$ >> %s/" #id                    \
        "; exec /bin/sleep " #secs "\"]}}"
#define FLAGS "#{strategy => rest_for_one, intensity => 50, backoff => #{base => 10, cap => 10}}"
        write_file(s.dir, "app.tree",
                   "{supervisor, rest, " FLAGS
                   ",\n [" W(x, 1000) ", " W(y, 1000) ", " W(gone, 1000) ", " W(z, 1000) "]}.\n",
                   s.dir, s.dir, s.dir, s.dir);
        char tree[512];
        snprintf(tree, sizeof(tree), "%s/app.tree", s.dir);
        const char *args[] = {"--unit-path", s.units, tree, NULL};
        sv_start_args(&s, args);
        const char *ids[] = {"x", "y", "gone", "z"};
        for (size_t i = 0; i < 4; i++)
                wait_lines(&s, ids[i], 1);
        long x1 = last_pid(s.dir, "x"), gone = last_pid(s.dir, "gone");
        /* y changed, gone removed, n added before z */
        write_file(s.dir, "app.tree",
                   "{supervisor, rest, " FLAGS
                   ",\n [" W(x, 1000) ", " W(y, 1001) ", " W(n, 1000) ", " W(z, 1000) "]}.\n",
                   s.dir, s.dir, s.dir, s.dir);
        char *out = NULL;
        cr_assert_eq(ctl(&s, &out, "daemon-reload"), 0, "%s", out);
        free(out);
        wait_lines(&s, "y", 2);
        wait_lines(&s, "n", 1);
        for (int i = 0; i < 600 && alive(gone); i++)
                nap();
        cr_assert(!alive(gone), "the removed worker runs on");
        cr_assert_eq(lines_in(s.dir, "x"), 1, "the unchanged x was restarted");
        cr_assert_eq(lines_in(s.dir, "z"), 1, "the unchanged z was restarted");
        cr_assert_eq(last_pid(s.dir, "x"), x1);
        cr_assert(alive(x1));
        /* the order is the file's: y dies, so y, n and z restart, x does not */
        cr_assert_eq(kill((pid_t)last_pid(s.dir, "y"), SIGKILL), 0);
        wait_lines(&s, "y", 3);
        wait_lines(&s, "n", 2);
        wait_lines(&s, "z", 2);
        cr_assert_eq(lines_in(s.dir, "x"), 1, "x was restarted by rest_for_one");
        /* the strategy changes in place (pk_sup_set_opts()): every worker keeps
         * its pid, and a kill of z now restarts all four (one_for_all), where
         * rest_for_one restarted z alone */
        long y2 = last_pid(s.dir, "y"), n2 = last_pid(s.dir, "n"), z2 = last_pid(s.dir, "z");
        write_file(s.dir, "app.tree",
                   "{supervisor, rest, #{strategy => one_for_all, intensity => 50, backoff => "
                   "#{base => 10, cap => 10}},\n [" W(x, 1000) ", " W(y, 1001) ", " W(
                       n, 1000) ", " W(z, 1000) "]}.\n",
                   s.dir, s.dir, s.dir, s.dir);
        out = NULL;
        cr_assert_eq(ctl(&s, &out, "daemon-reload"), 0, "%s", out);
        cr_assert(strstr(out, "changed in place (1): rest"), "%s", out);
        cr_assert(strstr(out, "kept (4): rest/x, rest/y, rest/n, rest/z"), "%s", out);
        free(out);
        cr_assert_eq(last_pid(s.dir, "x"), x1);
        cr_assert(alive(x1) && alive(y2) && alive(n2) && alive(z2), "a worker was stopped");
        cr_assert_eq(lines_in(s.dir, "y"), 3, "a flags change restarted y");
        cr_assert_eq(kill((pid_t)z2, SIGKILL), 0);
        wait_lines(&s, "z", 3);
        wait_lines(&s, "x", 2);
        wait_lines(&s, "y", 4);
        wait_lines(&s, "n", 3);
#undef W
#undef FLAGS
        sv_stop(&s);
}

/* The last pid dir/name got (a start appends it), checked to be running. */
static long unit_pid_alive(struct sv *s, const char *name)
{
        long pid = last_pid(s->dir, name);
        cr_assert(alive(pid), "%s (pid %ld) is not running", name, pid);
        return pid;
}

/* `ctl daemon-reload`: exits @rc and says @want (refused: the error with its place). */
static void reload_says(struct sv *s, int rc, const char *want)
{
        char *out = NULL;
        cr_assert_eq(ctl(s, &out, "daemon-reload"), rc, "%s", out);
        cr_assert(strstr(out, want), "'%s' not in:\n%s", want, out);
        free(out);
}

/* Worker w and unit u2 (of one one_for_all supervisor) had their @wn-th and
 * @un-th start: the processes before are gone, the new pids in *w and *u2;
 * u1, outside it, runs on. */
static void w_and_u2_restarted(struct sv *s, long *w, long *u2, int wn, int un, long u1)
{
        wait_lines(s, "w", wn);
        wait_lines(s, "u2", un);
        wait_dead(*w, "w before");
        wait_dead(*u2, "u2 before");
        *w = unit_pid_alive(s, "w");
        *u2 = unit_pid_alive(s, "u2");
        cr_assert_eq(unit_pid_alive(s, "u1"), u1, "u1 was restarted");
}

/* daemon-reload re-reads the unit files a tree names (a changed one restarts
 * in its supervisor, the others keep their pid) and applies structural
 * changes: a nested supervisor added starts with its child, removed stops
 * with it; a unit moved into it restarts there; a nested supervisor whose
 * spec as a child changed is rebuilt (its child restarts); an invalid tree
 * or a unit file that does not load refuses the whole reload. */
Test(supervise, tree_file_daemon_reload_rereads_units_and_restructures)
{
        struct sv s;
        sv_init(&s);
#define UNIT(id, secs)                                                                             \
        "[Service]\nExecStart=/bin/sh -c 'echo $$$$ >> %s/" id "; exec /bin/sleep " #secs "'\n"
#define W(id)                                                                                      \
        "{worker, " #id ", #{cmd => [\"/bin/sh\", \"-c\", \"echo $$ >> %s/" #id                    \
        "; exec /bin/sleep 1000\"]}}"
#define APP "{supervisor, app, #{backoff => #{base => 10, cap => 10}},\n ["
        write_file(s.units, "u1.service", UNIT("u1", 1000), s.dir);
        write_file(s.units, "u2.service", UNIT("u2", 1000), s.dir);
        write_file(s.dir, "app.tree", APP "{unit, \"u1.service\"}, {unit, \"u2.service\"}]}.\n");
        char tree[512];
        snprintf(tree, sizeof(tree), "%s/app.tree", s.dir);
        const char *args[] = {"--unit-path", s.units, tree, NULL};
        sv_start_args(&s, args);
        wait_lines(&s, "u1", 1);
        wait_lines(&s, "u2", 1);
        long u1 = unit_pid_alive(&s, "u1"), u2 = unit_pid_alive(&s, "u2");
        /* (a) u1's ExecStart= changes: only u1 restarts */
        write_file(s.units, "u1.service", UNIT("u1", 1001), s.dir);
        reload_says(&s, 0, "kept (1): u2.service\nrestarted (1): u1.service\n");
        wait_lines(&s, "u1", 2);
        wait_dead(u1, "u1 before its change");
        u1 = unit_pid_alive(&s, "u1");
        cr_assert_eq(unit_pid_alive(&s, "u2"), u2, "the unchanged u2 was restarted");
        cr_assert_eq(lines_in(s.dir, "u2"), 1);
        reload_says(&s, 0, "kept (2): u1.service, u2.service\n"); /* nothing changed */
        /* (b) a nested supervisor with a worker is added: it starts, the units stay */
        write_file(s.dir, "app.tree",
                   APP "{unit, \"u1.service\"}, {unit, \"u2.service\"},\n"
                       "  {supervisor, inner, #{strategy => one_for_all}, [" W(w) "]}]}.\n",
                   s.dir);
        reload_says(&s, 0, "added (1): app/inner");
        wait_lines(&s, "w", 1);
        long w = unit_pid_alive(&s, "w");
        cr_assert_eq(unit_pid_alive(&s, "u1"), u1);
        cr_assert_eq(unit_pid_alive(&s, "u2"), u2);
        /* u2 moves into it: stopped where it was, started there */
        write_file(s.dir, "app.tree",
                   APP "{unit, \"u1.service\"},\n"
                       "  {supervisor, inner, #{strategy => one_for_all}, [" W(
                           w) ", {unit, \"u2.service\"}]}]}.\n",
                   s.dir);
        reload_says(&s, 0, "restarted (1): u2.service");
        wait_lines(&s, "u2", 2);
        wait_dead(u2, "u2 in its old place");
        u2 = unit_pid_alive(&s, "u2");
        cr_assert_eq(unit_pid_alive(&s, "w"), w, "w was restarted by u2's move");
        cr_assert_eq(unit_pid_alive(&s, "u1"), u1);
        /* one_for_all in inner now covers u2: a kill of w restarts u2, not u1 */
        cr_assert_eq(kill((pid_t)w, SIGKILL), 0);
        w_and_u2_restarted(&s, &w, &u2, 2, 3, u1);
        /* (c) an invalid tree file, then a unit that does not load: refused
         * whole, with the place, and nothing changes */
        write_file(s.dir, "app.tree", APP "{unit, \"u1.service\"},\n  {worker, x, #{}}]}.\n");
        reload_says(&s, 1, "app.tree: worker x: cmd =>");
        write_file(s.dir, "app.tree", APP "{unit, \"u1.service\"}, {unit, \"nope.service\"}]}.\n");
        write_file(s.units, "u1.service", UNIT("u1", 1002), s.dir);
        reload_says(&s, 1, "app.tree: unit app/nope.service:");
        write_file(s.dir, "app.tree", APP "{unit, \"u1.service\"},\n [}.\n");
        reload_says(&s, 1, "app.tree:3:");
        /* what only the sup layer refuses: a backoff cap below its base, an
         * id with a '/' */
        write_file(s.dir, "app.tree",
                   "{supervisor, app, #{backoff => #{base => 500, cap => 100}},\n"
                   " [{unit, \"u1.service\"}]}.\n");
        reload_says(&s, 1, "app.tree: supervisor app: Invalid argument");
        write_file(s.dir, "app.tree",
                   APP "{unit, \"u1.service\"}, {worker, \"a/b\", #{cmd => [\"/bin/true\"]}}]}.\n");
        reload_says(&s, 1, "app.tree: worker a/b: Invalid argument");
        cr_assert_eq(unit_pid_alive(&s, "u1"), u1, "a refused reload restarted u1");
        cr_assert_eq(unit_pid_alive(&s, "u2"), u2, "a refused reload changed u2");
        cr_assert_eq(unit_pid_alive(&s, "w"), w, "a refused reload changed w");
        cr_assert_eq(lines_in(s.dir, "u1"), 2);
        /* (d) inner's spec as a child changes: rebuilt, its children restart */
        write_file(s.units, "u1.service", UNIT("u1", 1001), s.dir);
        write_file(s.dir, "app.tree",
                   APP "{unit, \"u1.service\"},\n"
                       "  {supervisor, inner, #{strategy => one_for_all, restart => transient},"
                       " [" W(w) ", {unit, \"u2.service\"}]}]}.\n",
                   s.dir);
        reload_says(&s, 0, "restarted (1): app/inner");
        w_and_u2_restarted(&s, &w, &u2, 3, 4, u1);
        /* (e) inner is removed with what it runs, and w moves out of it to
         * app: both stop, w starts again in app, nothing else is left */
        write_file(s.dir, "app.tree", APP "{unit, \"u1.service\"}, " W(w) "]}.\n", s.dir);
        reload_says(&s, 0, "added (1): app/w\nremoved (1): app/inner\n");
        wait_dead(w, "w of the removed inner");
        wait_dead(u2, "u2 of the removed inner");
        wait_lines(&s, "w", 4);
        w = unit_pid_alive(&s, "w");
        char *out = NULL;
        cr_assert_eq(ctl(&s, &out, "list"), 0);
        cr_assert(!strstr(out, "u2.service"), "u2 is still loaded:\n%s", out);
        free(out);
        cr_assert_eq(unit_pid_alive(&s, "u1"), u1);
        cr_assert_eq(lines_in(s.dir, "u1"), 2);
        /* and u2 can come back at the top of the tree */
        write_file(s.dir, "app.tree",
                   APP "{unit, \"u1.service\"}, " W(w) ", {unit, \"u2.service\"}]}.\n", s.dir);
        reload_says(&s, 0, "added (1): u2.service");
        wait_lines(&s, "u2", 5);
        cr_assert_eq(unit_pid_alive(&s, "u1"), u1);
        cr_assert_eq(unit_pid_alive(&s, "w"), w);
#undef UNIT
#undef W
#undef APP
        sv_stop(&s);
}

Test(supervise, tree_file_errors_name_the_place)
{
        struct sv s;
        sv_init(&s);
        write_file(s.dir, "bad.tree", "{supervisor, t, #{strategy => one_for_all},\n [}.\n");
        write_file(s.dir, "key.tree",
                   "{supervisor, t, #{strategy => one_for_all, colour => blue}, []}.\n");
        write_file(s.dir, "cmd.tree", "{supervisor, t, #{}, [{worker, w, #{}}]}.\n");
        const char *names[] = {"bad.tree", "key.tree", "cmd.tree"};
        const char *want[] = {"bad.tree:2:", "supervisor t: bad key or value: colour",
                              "worker w: cmd =>"};
        for (size_t i = 0; i < 3; i++) {
                char tree[512];
                snprintf(tree, sizeof(tree), "%s/%s", s.dir, names[i]);
                char *out = NULL;
                cr_assert_neq(svt_supervise_once(&s, 30000, &out, tree, (const char *)NULL), 0);
                cr_assert(strstr(out, want[i]), "%s: %s", names[i], out);
                free(out);
        }
}

/* ---- configuration ------------------------------------------------------------------- */

/* ExecReload=sshd -t then kill -HUP (ssh.service): a failed line ends the
 * chain, as in systemd, so a config the check refuses never reaches the
 * daemon; a '-' line's failure does not. */
Test(supervise, a_failed_hook_line_ends_the_chain)
{
        struct sv s;
        sv_init(&s);
        write_file(s.units, "a.service",
                   "[Service]\nExecStart=/bin/sleep 1000\nExecReload=/bin/false\n"
                   "ExecReload=/bin/touch %s/a-reloaded\n",
                   s.dir);
        write_file(s.units, "b.service",
                   "[Service]\nExecStart=/bin/sleep 1000\nExecReload=-/bin/false\n"
                   "ExecReload=/bin/touch %s/b-reloaded\n",
                   s.dir);
        sv_start(&s);
        wait_field(&s, "a", "active", "active");
        wait_field(&s, "b", "active", "active");
        char path[512];
        cr_assert_eq(ctl(&s, NULL, "reload", "a"), 1, "the failed check fails the reload");
        snprintf(path, sizeof(path), "%s/a-reloaded", s.dir);
        cr_assert_neq(access(path, F_OK), 0, "the line after the failed one ran");
        cr_assert_eq(ctl(&s, NULL, "reload", "b"), 0);
        snprintf(path, sizeof(path), "%s/b-reloaded", s.dir);
        cr_assert_eq(access(path, F_OK), 0, "the line after a '-' line did not run");
        sv_stop(&s);
}

/* A reload reaches the units that are ReloadPropagatedFrom= the reloaded one
 * (postgresql@.service from postgresql.service) and those it PropagatesReloadTo=. */
Test(supervise, reload_propagates)
{
        struct sv s;
        sv_init(&s);
        write_file(s.units, "top.service",
                   "[Unit]\nPropagatesReloadTo=to.service\n[Service]\nExecStart=/bin/sleep 1000\n"
                   "ExecReload=/bin/touch %s/top\n",
                   s.dir);
        write_file(
            s.units, "from.service",
            "[Unit]\nReloadPropagatedFrom=top.service\n[Service]\nExecStart=/bin/sleep 1000\n"
            "ExecReload=/bin/touch %s/from\n",
            s.dir);
        write_file(s.units, "to.service",
                   "[Service]\nExecStart=/bin/sleep 1000\nExecReload=/bin/touch %s/to\n", s.dir);
        write_file(s.units, "other.service",
                   "[Service]\nExecStart=/bin/sleep 1000\nExecReload=/bin/touch %s/other\n", s.dir);
        sv_start(&s);
        const char *units[] = {"top", "from", "to", "other"};
        for (size_t i = 0; i < 4; i++)
                wait_field(&s, units[i], "active", "active");
        cr_assert_eq(ctl(&s, NULL, "reload", "top"), 0);
        char path[512];
        const char *reached[] = {"top", "from", "to"};
        for (size_t i = 0; i < 3; i++) {
                snprintf(path, sizeof(path), "%s/%s", s.dir, reached[i]);
                for (int k = 0; k < 600 && access(path, F_OK) != 0; k++)
                        nap();
                cr_assert_eq(access(path, F_OK), 0, "%s not reloaded", reached[i]);
        }
        /* The propagated reloads have run: other's would have too by now. */
        snprintf(path, sizeof(path), "%s/other", s.dir);
        cr_assert_neq(access(path, F_OK), 0, "an unrelated unit was reloaded");
        char *err = read_file(s.err);
        cr_assert(strstr(err, "from.service: reload propagated from top.service"), "%s", err);
        free(err);
        sv_stop(&s);
}

Test(supervise, daemon_reload_applies_a_diff)
{
        struct sv s;
        sv_init(&s);
        write_file(s.units, "keep.service", "[Service]\nExecStart=/bin/sleep 1000\n");
        write_file(s.units, "change.service", "[Service]\nExecStart=/bin/sleep 1000\n");
        write_file(s.units, "remove.service", "[Service]\nExecStart=/bin/sleep 1000\n");
        sv_start(&s);
        const char *three[] = {"keep", "change", "remove"};
        for (size_t i = 0; i < 3; i++)
                wait_field(&s, three[i], "active", "active");
        long keep = pid_of(&s, "keep"), change = pid_of(&s, "change"),
             removed = pid_of(&s, "remove");

        /* A configuration with an error is refused whole, with its place. */
        write_file(s.units, "change.service", "[Service]\nExecStart=/bin/sleep 2000\n");
        write_file(s.units, "broken.service",
                   "[Service]\nExecStart=/bin/true\nRestart=sometimes\n");
        char *out = NULL;
        cr_assert_eq(ctl(&s, &out, "daemon-reload"), 1);
        cr_assert(strstr(out, "broken.service:3"), "no file:line in: %s", out);
        free(out);
        cr_assert_eq(pid_of(&s, "change"), change);

        char path[512];
        snprintf(path, sizeof(path), "%s/broken.service", s.units);
        unlink(path);
        snprintf(path, sizeof(path), "%s/remove.service", s.units);
        unlink(path);
        write_file(s.units, "add.service", "[Service]\nExecStart=/bin/sleep 1000\n");
        cr_assert_eq(ctl(&s, NULL, "daemon-reload"), 0);
        wait_field(&s, "add", "active", "active");
        wait_field(&s, "change", "active", "active");
        cr_assert_eq(pid_of(&s, "keep"), keep, "an unchanged unit kept its pid");
        cr_assert_neq(pid_of(&s, "change"), change, "a changed unit restarted");
        for (int i = 0; i < 600 && alive(removed); i++)
                nap();
        cr_assert(!alive(removed));
        cr_assert_neq(ctl(&s, NULL, "status", "remove"), 0);
        cr_assert(!alive(change));
        sv_stop(&s);
}

Test(supervise, unit_with_an_error_is_refused_with_file_and_line)
{
        struct sv s;
        sv_init(&s);
        write_file(s.units, "ok.service", "[Service]\nExecStart=/bin/sleep 1000\n");
        write_file(s.units, "bad.service",
                   "[Unit]\nDescription=x\n[Service]\nExecStart=/bin/true\n"
                   "TimeoutStopSec=soon\n");
        char *out = NULL;
        cr_assert_eq(svt_supervise_once(&s, 30000, &out, "--strict", s.units, (const char *)NULL),
                     1, "%s", out);
        cr_assert(strstr(out, "bad.service:5"), "%s", out);
        free(out);
}

/* ---- the control socket ---------------------------------------------------------------- */

Test(supervise, nobody_reads_but_cannot_control)
{
        struct sv s;
        sv_init(&s);
        write_file(s.units, "a.service", "[Service]\nExecStart=/bin/sleep 1000\n");
        sv_start(&s);
        wait_field(&s, "a", "active", "active");
        long p = pid_of(&s, "a");
        char *out = NULL;
        cr_assert_eq(ctl_as(&s, "nobody", NULL, &out, "stop", "a", (const char *)NULL), 1);
        cr_assert(strstr(out, "permission denied"), "%s", out);
        free(out);
        cr_assert_eq(ctl_as(&s, "nobody", NULL, NULL, "status", "a", (const char *)NULL), 0);
        cr_assert_eq(pid_of(&s, "a"), p);
        char *err = read_file(s.err);
        cr_assert(strstr(err, "refused stop from uid 65534"), "%s", err);
        free(err);
        sv_stop(&s);
}

/* `ctl VERB UNIT` as uid 65534 with gid `gid` and the supplementary `groups`. */
static int ctl_ids(struct sv *s, gid_t gid, const gid_t *groups, size_t n, char **out,
                   const char *verb, const char *unit)
{
        struct pk_cmd *cmd = ctl_cmd(s, NULL);
        cr_assert_eq(pk_cmd_gid(cmd, gid), 0);
        cr_assert_eq(pk_cmd_groups(cmd, groups, n), 0);
        cr_assert_eq(pk_cmd_uid(cmd, 65534), 0);
        const char *a[] = {verb, unit, NULL};
        cr_assert_eq(pk_cmd_args(cmd, a), 0);
        return svt_run(cmd, out);
}

/* --control-group staff: a client in that group, as its gid or as a
 * supplementary group, may control; one outside it only reads, and the
 * refusal is logged with its uid and pid. */
Test(supervise, control_group_members_control_others_read)
{
        struct group *g = getgrnam("staff");
        cr_assert_not_null(g, "the test needs Debian's group staff (base-passwd)");
        gid_t staff = g->gr_gid, nogroup = 65534;
        struct sv s;
        sv_init(&s);
        write_file(s.units, "a.service", "[Service]\nExecStart=/bin/sleep 1000\n");
        const char *extra[] = {"--control-group", "staff", s.units, NULL};
        sv_start_args(&s, extra);
        wait_field(&s, "a", "active", "active");
        long p = pid_of(&s, "a");

        /* Outside the group: status yes, restart no. */
        char *out = NULL;
        cr_assert_eq(ctl_ids(&s, nogroup, NULL, 0, &out, "restart", "a"), 1);
        cr_assert(strstr(out, "permission denied"), "%s", out);
        free(out);
        cr_assert_eq(ctl_ids(&s, nogroup, NULL, 0, NULL, "status", "a"), 0);
        cr_assert_eq(pid_of(&s, "a"), p, "not restarted");
        char *err = read_file(s.err);
        const char *line = strstr(err, "refused restart from uid 65534 pid ");
        cr_assert(line, "%s", err);
        cr_assert(atol(line + strlen("refused restart from uid 65534 pid ")) > 0, "%s", err);
        free(err);

        /* The group as a supplementary group. */
        cr_assert_eq(ctl_ids(&s, nogroup, &staff, 1, &out, "restart", "a"), 0, "%s", out);
        free(out);
        wait_field(&s, "a", "active", "active");
        long p2 = pid_of(&s, "a");
        cr_assert_neq(p2, p, "restarted by a supplementary member");

        /* The group as the client's gid. */
        cr_assert_eq(ctl_ids(&s, staff, NULL, 0, &out, "restart", "a"), 0, "%s", out);
        free(out);
        wait_field(&s, "a", "active", "active");
        cr_assert_neq(pid_of(&s, "a"), p2, "restarted by a member by gid");
        sv_stop(&s);
}

static int connect_ctl(struct sv *s)
{
        int fd = pk_fd_unix_connect(s->ctl, SOCK_STREAM, 0);
        cr_assert_geq(fd, 0, "connect: %s", pk_strerror(fd));
        return fd;
}

/* Reads until EOF or error; returns 1 if the daemon closed the connection. */
static int closed_by_peer(int fd)
{
        char buf[65536];
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n == 0 || (n < 0 && errno == ECONNRESET))
                        return 1;
                if (n < 0 && errno != EINTR)
                        return 0;
        }
}

Test(supervise, hostile_clients_do_not_stall_the_supervisor)
{
        struct sv s;
        sv_init(&s);
        write_file(s.units, "a.service", "[Service]\nExecStart=/bin/sleep 1000\n");
        sv_start(&s);

        /* A 4 GiB header: dropped at once, nothing allocated. */
        int fd = connect_ctl(&s);
        unsigned char huge[4] = {0xff, 0xff, 0xff, 0xff};
        cr_assert_eq(write(fd, huge, 4), 4);
        cr_assert(closed_by_peer(fd));
        close(fd);

        /* Garbage in a well-formed frame: an error reply, then dropped. */
        fd = connect_ctl(&s);
        unsigned char junk[] = {0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o'};
        cr_assert_eq(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
        cr_assert(closed_by_peer(fd));
        close(fd);

        /* A client that sends requests and never reads: dropped at the queue cap. */
        fd = connect_ctl(&s);
        struct pk_etf_buf b;
        pk_etf_buf_init(&b, 0);
        pk_etf_put_version(&b);
        pk_etf_put_atom(&b, "status", 6);
        unsigned char frame[64];
        size_t fl = 4 + b.len;
        frame[0] = 0;
        frame[1] = 0;
        frame[2] = 0;
        frame[3] = (unsigned char)b.len;
        memcpy(frame + 4, b.data, b.len);
        pk_etf_buf_free(&b);
        int fl_ = fcntl(fd, F_GETFL);
        fcntl(fd, F_SETFL, fl_ | O_NONBLOCK);
        int dropped = 0;
        for (int i = 0; i < 200000 && !dropped; i++) {
                ssize_t w = send(fd, frame, fl, MSG_NOSIGNAL);
                if (w < 0 && (errno == EPIPE || errno == ECONNRESET))
                        dropped = 1;
                else if (w < 0 && errno == EAGAIN)
                        nap();
        }
        cr_assert(dropped, "a client that never reads was not dropped");
        close(fd);

        /* Many clients at once: the ones over the limit (4096, PK_SV_MAX_CLIENTS)
         * are closed; the rest work. */
        enum { NFDS = 4100 };
        int *fds = calloc(NFDS, sizeof(*fds));
        cr_assert(fds);
        for (int i = 0; i < NFDS; i++)
                fds[i] = connect_ctl(&s);
        cr_assert_neq(ctl(&s, NULL, "ping"), 0, "a 4101st client got through the limit");
        for (int i = 0; i < NFDS; i++)
                close(fds[i]);
        free(fds);
        for (int i = 0; i < 600 && ctl(&s, NULL, "ping") != 0; i++)
                nap();
        cr_assert_eq(ctl(&s, NULL, "ping"), 0);
        wait_field(&s, "a", "active", "active");
        char *err = read_file(s.err);
        cr_assert(strstr(err, "frame too large"), "%s", err);
        cr_assert(strstr(err, "output queue full"), "%s", err);
        free(err);
        sv_stop(&s);
}

/* ---- many units ---------------------------------------------------------------------- */

/* Lines of `text` that contain `part`. */
static int count_in(const char *text, const char *part)
{
        int n = 0;
        for (const char *p = text; (p = strstr(p, part)); p += strlen(part))
                n++;
        return n;
}

Test(supervise, a_thousand_units_load_and_start, .timeout = 600)
{
        struct sv s;
        sv_init(&s);
        enum { N = 1000 };
        for (int i = 0; i < N; i++) {
                char name[32];
                snprintf(name, sizeof(name), "u%04d.service", i);
                write_file(s.units, name, "[Service]\nExecStart=/bin/sleep infinity\n");
        }
        sv_start(&s);
        char *out = NULL;
        int rc = 3;
        for (int i = 0; i < 1200 && rc != 0; i++) {
                free(out);
                out = NULL;
                rc = ctl(&s, &out, "status"); /* 0: every unit active */
                if (rc != 0)
                        nap();
        }
        cr_assert_eq(rc, 0, "not every unit became active:\n%.2000s", out);
        cr_assert_eq(count_in(out, "active: active"), N, "%.2000s", out);
        free(out);
        cr_assert_eq(ctl(&s, &out, "list"), 0);
        cr_assert_eq(count_in(out, ".service"), N);
        free(out);
        /* each one is a running process */
        cr_assert(alive(pid_of(&s, "u0999")));
        cr_assert(alive(pid_of(&s, "u0000")));
        /* a status request naming more than 256 units answers for all of them */
        struct pk_cmd *cmd = ctl_cmd(&s, NULL);
        cr_assert_eq(pk_cmd_arg(cmd, "status"), 0);
        for (int i = 0; i < 300; i++) {
                char name[32];
                snprintf(name, sizeof(name), "u%04d", i);
                cr_assert_eq(pk_cmd_arg(cmd, name), 0);
        }
        cr_assert_eq(svt_run(cmd, &out), 0, "%.2000s", out);
        cr_assert_eq(count_in(out, "active: active"), 300);
        free(out);
        sv_stop(&s);
}

/* Fifteen thousand units load (by name lookups in hash tables: loading was
 * quadratic in the units once) and are all listed.  They are held by one
 * socket unit (Sockets=), so none is started: the test loads, it does not
 * spawn 15,000 processes.  Each holds its own copy of the socket's
 * descriptor (the sup layer's), and this machine's hard RLIMIT_NOFILE is
 * 20,000: hence 15,000.  No timing is asserted; the timeout catches a
 * return of the quadratic load (minutes at this size). */
Test(supervise, fifteen_thousand_units_load_and_are_all_listed, .timeout = 600)
{
        struct sv s;
        sv_init(&s);
        s.log[0] = '\0'; /* no --log-dir: a log file per unit is one more descriptor each */
        enum { N = 15000 };
        write_file(s.units, "hold.socket",
                   "[Socket]\nListenStream=%s/hold.sock\nService=u00000.service\n", s.dir);
        for (int i = 0; i < N; i++) {
                char name[32];
                snprintf(name, sizeof(name), "u%05d.service", i);
                /* names to look up: a dependency of every unit, a unit it pulls in */
                write_file(s.units, name,
                           "[Unit]\nAfter=%s\nWants=u%05d.service\n[Service]\n"
                           "ExecStart=/bin/sleep infinity\nSockets=hold.socket\n",
                           i ? "u00000.service" : "", (i * 7 + 1) % N);
        }
        const char *args[] = {"--cgroup", "off", "--unit-path", s.units, s.units, NULL};
        sv_start_args(&s, args);
        char *out = NULL;
        cr_assert_eq(ctl(&s, &out, "list"), 0);
        cr_assert_eq(count_in(out, ".service"), N, "%.2000s", out);
        /* each one by name, the first, the last and one in between */
        cr_assert(strstr(out, "u00000.service"));
        cr_assert(strstr(out, "u12345.service"));
        cr_assert(strstr(out, "u14999.service"));
        free(out);
        char buf[64];
        field(&s, "u14999", "state", buf, sizeof(buf));
        cr_assert_str_eq(buf, "down", "held by its socket, not started");
        field(&s, "hold.socket", "state", buf, sizeof(buf));
        cr_assert_str_eq(buf, "listening");
        sv_stop(&s);
}

Test(supervise, units_past_the_limit_are_an_error_naming_it, .timeout = 600)
{
        struct sv s;
        sv_init(&s);
        /* 65,537 unit files: refused when the directory is read, before any is
         * loaded (empty files: never parsed), so the real limit is cheap to test. */
        enum { N = 65537 };
        for (int i = 0; i < N; i++) {
                char path[512];
                snprintf(path, sizeof(path), "%s/u%05d.service", s.units, i);
                int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
                cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
                close(fd);
        }
        char *out = NULL;
        cr_assert_eq(svt_supervise_once(&s, 120000, &out, s.units, (const char *)NULL), 1, "%s",
                     out);
        cr_assert(strstr(out, "more than 65536 units (the limit)"), "%s", out);
        free(out);
}

Test(supervise, a_dependency_list_past_its_limit_is_an_error)
{
        struct sv s;
        sv_init(&s);
        char after[33 * 16 + 1] = "";
        for (int i = 0; i < 33; i++) {
                char name[32];
                snprintf(name, sizeof(name), "d%02d.service", i);
                write_file(s.units, name, "[Service]\nExecStart=/bin/sleep infinity\n");
                strcat(after, name);
                strcat(after, " ");
        }
        write_file(s.units, "zz.service", "[Unit]\nAfter=%s\n[Service]\nExecStart=/bin/true\n",
                   after);
        char *out = NULL;
        cr_assert_eq(
            svt_supervise_once(&s, 30000, &out, "--cgroup", "off", s.units, (const char *)NULL), 1,
            "%s", out);
        cr_assert(
            strstr(out, "zz.service: cannot add: more than 32 loaded units in one dependency list"),
            "%s", out);
        free(out);
}

Test(supervise, watch_pushes_events)
{
        struct sv s;
        sv_init(&s);
        write_file(s.units, "a.service", "[Service]\nExecStart=/bin/sleep 1000\n");
        sv_start(&s);
        wait_field(&s, "a", "active", "active");
        int fd = connect_ctl(&s);
        struct pk_etf_buf b;
        pk_etf_buf_init(&b, 0);
        pk_etf_put_version(&b);
        pk_etf_put_atom(&b, "watch", 5);
        unsigned char hdr[4] = {0, 0, 0, (unsigned char)b.len};
        cr_assert_eq(write(fd, hdr, 4), 4);
        cr_assert_eq(write(fd, b.data, b.len), (ssize_t)b.len);
        pk_etf_buf_free(&b);
        cr_assert_eq(ctl(&s, NULL, "restart", "a"), 0);
        /* Frames until one names a "stopping" event of a.service. */
        char all[1 << 16];
        size_t n = 0;
        int seen = 0;
        while (!seen && n < sizeof(all) - 1) {
                ssize_t r = read(fd, all + n, sizeof(all) - 1 - n);
                cr_assert_gt(r, 0);
                n += (size_t)r;
                all[n] = '\0';
                seen = memmem(all, n, "stopping", 8) && memmem(all, n, "a.service", 9);
        }
        cr_assert(seen);
        close(fd);
        sv_stop(&s);
}

/* "Max open files" soft and hard of /proc/PID/limits ("unlimited" is -1). */
static void nofile_of(long pid, long *soft, long *hard)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%ld/limits", pid);
        char *t = read_file(path);
        const char *l = strstr(t, "Max open files");
        cr_assert(l, "%s", t);
        l += strlen("Max open files");
        char s1[32], s2[32];
        cr_assert_eq(sscanf(l, "%31s %31s", s1, s2), 2);
        *soft = strcmp(s1, "unlimited") == 0 ? -1 : atol(s1);
        *hard = strcmp(s2, "unlimited") == 0 ? -1 : atol(s2);
        free(t);
}

/* Waits (30 s: a hang, not a timing measure) for DIR/NAME; returns its number. */
static long number_in(const char *dir, const char *name)
{
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        for (int i = 0; i < 600; i++) {
                struct stat st;
                if (stat(path, &st) == 0 && st.st_size > 0) {
                        char *t = read_file(path);
                        long v = atol(t);
                        free(t);
                        return v;
                }
                nap();
        }
        cr_assert_fail("%s never written", path);
        return -1;
}

Test(supervise, nofile_raised_for_itself_units_keep_the_original)
{
        /* The test process's own limits (each Criterion test is a process of its
         * own): soft 512, hard 8192, inherited by supervise. */
        struct rlimit rl = {512, 8192};
        cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0, "%s", strerror(errno));
        struct sv s;
        sv_init(&s);
        write_file(s.units, "plain.service",
                   "[Service]\nExecStart=/bin/sh -c 'ulimit -n > %s/plain.tmp; "
                   "mv %s/plain.tmp %s/plain; exec sleep 1000'\n"
                   "ExecStartPost=/bin/sh -c 'ulimit -n > %s/hook.tmp; mv %s/hook.tmp %s/hook'\n",
                   s.dir, s.dir, s.dir, s.dir, s.dir, s.dir);
        write_file(s.units, "big.service",
                   "[Service]\nLimitNOFILE=4096\nExecStart=/bin/sh -c 'ulimit -n > %s/big.tmp; "
                   "mv %s/big.tmp %s/big; exec sleep 1000'\n",
                   s.dir, s.dir, s.dir);
        sv_start(&s);
        long soft, hard;
        nofile_of((long)pk_proc_pid(s.p), &soft, &hard);
        cr_assert_eq(soft, 8192, "supervise's soft limit %ld", soft);
        cr_assert_eq(hard, 8192);
        cr_assert_eq(number_in(s.dir, "plain"), 512);
        cr_assert_eq(number_in(s.dir, "hook"), 512);
        cr_assert_eq(number_in(s.dir, "big"), 4096);
        long pid = pid_of(&s, "plain");
        cr_assert_gt(pid, 0);
        nofile_of(pid, &soft, &hard);
        cr_assert_eq(soft, 512);
        cr_assert_eq(hard, 8192);
        sv_stop(&s);
}

/* One {packet,4} frame of the atom @name as the daemon encodes it, into f. */
static size_t atom_frame(unsigned char *f, size_t size, const char *name)
{
        struct pk_etf_buf b;
        pk_etf_buf_init(&b, 0);
        pk_etf_put_version(&b);
        pk_etf_put_atom(&b, name, strlen(name));
        cr_assert(b.len + 4 <= size);
        f[0] = f[1] = f[2] = 0;
        f[3] = (unsigned char)b.len;
        memcpy(f + 4, b.data, b.len);
        size_t n = b.len + 4;
        pk_etf_buf_free(&b);
        return n;
}

Test(supervise, replies_keep_their_order_on_a_connection)
{
        struct sv s;
        sv_init(&s);
        write_file(s.units, "a.service", "[Service]\nExecStart=/bin/sleep 1000\n");
        sv_start(&s);
        wait_field(&s, "a", "active", "active");
        /* watch, ping, ping in one write: queued in one pass, written together,
         * still ok, pong, pong in that order before any event. */
        unsigned char req[256], want[256];
        size_t rn = 0, wn = 0;
        rn += atom_frame(req + rn, sizeof(req) - rn, "watch");
        rn += atom_frame(req + rn, sizeof(req) - rn, "ping");
        rn += atom_frame(req + rn, sizeof(req) - rn, "ping");
        wn += atom_frame(want + wn, sizeof(want) - wn, "ok");
        wn += atom_frame(want + wn, sizeof(want) - wn, "pong");
        wn += atom_frame(want + wn, sizeof(want) - wn, "pong");
        int fd = connect_ctl(&s);
        cr_assert_eq(write(fd, req, rn), (ssize_t)rn);
        unsigned char got[256];
        cr_assert_eq(pk_fd_read_all(fd, got, wn, NULL), (ssize_t)wn);
        cr_assert_eq(memcmp(got, want, wn), 0);
        close(fd);
        sv_stop(&s);
}

/* ---- the converter (library) ------------------------------------------------------------ */

static struct pk_unit_child *convert(const char *name, const char *text,
                                     const struct pk_unit_child_opts *o, int *ret_err)
{
        struct pk_unit *u = NULL;
        struct pk_unit_error e;
        cr_assert_eq(pk_unit_parse(name, "/x/unit", text, strlen(text), NULL, &u, &e), 0, "%s",
                     e.message);
        cr_assert_eq(pk_unit_finish(u, &e), 0, "%s", e.message);
        struct pk_unit_child *c = NULL;
        *ret_err = pk_unit_to_child(u, o, &c, &e);
        pk_unit_free(u);
        return c;
}

static int has_note(const struct pk_unit_child *c, const char *part)
{
        for (size_t i = 0; i < c->notes.n; i++)
                if (strstr(c->notes.v[i], part))
                        return 1;
        return 0;
}

Test(unit_child, restart_stop_and_readiness)
{
        int r;
        struct pk_unit_child *c =
            convert("a.service",
                    "[Unit]\nRequires=b.service\nAfter=b.service c.service\nConflicts=d.service\n"
                    "[Service]\nType=notify\nNotifyAccess=all\nExecStart=/bin/true\n"
                    "Restart=always\nKillSignal=SIGINT\nTimeoutStopSec=7\n"
                    "SuccessExitStatus=3 SIGUSR1\nProtectSystem=strict\n",
                    NULL, &r);
        cr_assert_eq(r, 0);
        const struct pk_sup_child_spec *s = &c->spec;
        cr_assert_str_eq(s->id, "a.service");
        cr_assert_eq(s->restart, PK_SUP_PERMANENT);
        cr_assert_eq(s->stop_signal, SIGINT);
        cr_assert_eq(s->shutdown, PK_SUP_SHUTDOWN_TIMEOUT);
        cr_assert_eq(s->shutdown_ms, 7000);
        cr_assert_eq(s->ready, PK_SUP_READY_NOTIFY);
        cr_assert_eq(s->notify_access, PK_SUP_NOTIFY_ALL);
        cr_assert_eq(s->n_success_codes, 1);
        cr_assert_eq(s->success_codes[0], 3);
        cr_assert_str_eq(s->requires_ids[0], "b.service");
        cr_assert_null(s->requires_ids[1]);
        cr_assert_str_eq(s->after[1], "c.service");
        cr_assert_str_eq(s->conflicts[0], "d.service");
        cr_assert(!has_note(c, "SuccessExitStatus= signals"), "enforced, not noted");
        cr_assert(c->spec.success_signals & (UINT64_C(1) << (SIGUSR1 - 1)));
        /* systemd's clean signals are normal ends too */
        cr_assert(c->spec.success_signals & (UINT64_C(1) << (SIGTERM - 1)));
        cr_assert(c->spec.success_signals & (UINT64_C(1) << (SIGPIPE - 1)));
        cr_assert(!(c->spec.success_signals & (UINT64_C(1) << (SIGKILL - 1))));
        cr_assert(has_note(c, "ProtectSystem=strict (/x/unit:"), "the unit's own list is kept");
        cr_assert_not_null(c->cmd);
        pk_unit_child_free(c);

        c = convert("b.service",
                    "[Service]\nExecStart=/bin/true\nRestart=on-abnormal\nSendSIGKILL=no\n", NULL,
                    &r);
        cr_assert_eq(r, 0);
        cr_assert_eq(c->spec.restart, PK_SUP_TRANSIENT);
        cr_assert_eq(c->spec.restart_on, PK_SUP_RESTART_ON_SIGNAL | PK_SUP_RESTART_ON_TIMEOUT |
                                             PK_SUP_RESTART_ON_WATCHDOG);
        cr_assert_eq(c->spec.shutdown, PK_SUP_SHUTDOWN_INFINITY);
        cr_assert(!has_note(c, "on-abnormal"), "enforced, not noted");
        pk_unit_child_free(c);
        /* systemd.service(5)'s Restart= table, each value as a restart_on set */
        static const struct {
                const char *v;
                unsigned on;
        } tab[] = {{"on-success", PK_SUP_RESTART_ON_CLEAN},
                   {"on-abort", PK_SUP_RESTART_ON_SIGNAL},
                   {"on-watchdog", PK_SUP_RESTART_ON_WATCHDOG},
                   {"on-failure", 0},
                   {"always", 0}};
        for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
                char text[128];
                snprintf(text, sizeof(text), "[Service]\nExecStart=/bin/true\nRestart=%s\n",
                         tab[i].v);
                c = convert("b.service", text, NULL, &r);
                cr_assert_eq(r, 0);
                cr_assert_eq(c->spec.restart_on, tab[i].on, "Restart=%s", tab[i].v);
                cr_assert(!has_note(c, "Restart="), "Restart=%s noted", tab[i].v);
                pk_unit_child_free(c);
        }

        /* RestartSec= and StartLimit*= are the child's own policy */
        c = convert("r.service",
                    "[Unit]\nStartLimitIntervalSec=1min\nStartLimitBurst=3\n"
                    "[Service]\nExecStart=/bin/true\nRestart=always\nRestartSec=250ms\n",
                    NULL, &r);
        cr_assert_eq(r, 0);
        cr_assert_eq(c->spec.backoff_base_ms, 250);
        cr_assert_eq(c->spec.backoff_cap_ms, 250, "RestartSec= alone is a fixed delay");
        cr_assert_lt(c->spec.backoff_reset_ms, 0, "systemd waits RestartSec= every time");
        cr_assert_lt(c->spec.jitter_pct, 0);
        cr_assert_eq(c->spec.start_limit_burst, 3);
        cr_assert_eq(c->spec.start_limit_interval_ms, 60000);
        cr_assert(!has_note(c, "RestartSec"));
        cr_assert(!has_note(c, "StartLimit"));
        pk_unit_child_free(c);
        c = convert("r.service",
                    "[Unit]\nStartLimitIntervalSec=0\nStartLimitAction=reboot\n"
                    "[Service]\nExecStart=/bin/true\nRestart=always\nRestartSec=0\n"
                    "RestartSteps=3\nRestartMaxDelaySec=8s\n",
                    NULL, &r);
        cr_assert_eq(r, 0);
        cr_assert_eq(c->spec.start_limit_burst, 0, "interval 0 turns the limit off");
        cr_assert_eq(c->spec.backoff_steps, 0, "RestartSec=0: the steps have no effect");
        cr_assert(has_note(c, "RestartSteps= without"));
        cr_assert(has_note(c, "StartLimitAction=reboot"), "other actions are reported");
        pk_unit_child_free(c);
        /* RestartSteps= climbs from RestartSec= to RestartMaxDelaySec= (sup's backoff_steps) */
        c = convert("r.service",
                    "[Service]\nExecStart=/bin/true\nRestart=always\nRestartSec=1s\n"
                    "RestartSteps=3\nRestartMaxDelaySec=8s\n",
                    NULL, &r);
        cr_assert_eq(r, 0);
        cr_assert_eq(c->spec.backoff_base_ms, 1000);
        cr_assert_eq(c->spec.backoff_cap_ms, 8000);
        cr_assert_eq(c->spec.backoff_steps, 3);
        cr_assert(!has_note(c, "RestartSteps"));
        pk_unit_child_free(c);
        c = convert("r.service", "[Service]\nExecStart=/bin/true\nRestart=always\nRestartSec=0\n",
                    NULL, &r);
        cr_assert_eq(r, 0);
        cr_assert_lt(c->spec.backoff_base_ms, 0, "RestartSec=0: at once");
        cr_assert_eq(c->spec.start_limit_burst, 5, "systemd's default 5 in 10 s");
        cr_assert_eq(c->spec.start_limit_interval_ms, 10000);
        pk_unit_child_free(c);

        c = convert("c.service", "[Service]\nExecStart=/bin/true\nTimeoutStopSec=0\n", NULL, &r);
        cr_assert_eq(r, 0);
        cr_assert_eq(c->spec.restart, PK_SUP_TEMPORARY);
        cr_assert_eq(c->spec.shutdown, PK_SUP_SHUTDOWN_INFINITY, "TimeoutStopSec=0: no SIGKILL");
        pk_unit_child_free(c);
}

TestSuite(unit_child, .fini = sv_cleanup);

Test(unit_child, helper_logs_and_directories)
{
        int r;
        /* Forking and oneshot need the helper; without one they are refused. */
        struct pk_unit_child *c = convert(
            "f.service", "[Service]\nType=forking\nPIDFile=f.pid\nExecStart=/bin/true\n", NULL, &r);
        cr_assert_eq(r, -EOPNOTSUPP);
        cr_assert_null(c);

        char root[] = "/tmp/pk-uc-XXXXXX";
        cr_assert(mkdtemp(root));
        snprintf(created_dir, sizeof(created_dir), "%s", root); /* removed by the fini */
        const char *helper[] = {"/usr/bin/portkit", "unit-exec", NULL};
        struct pk_unit_child_opts o = {
            .helper = helper, .log_dir = "/var/log/x", .dir_root = root, .create_dirs = 1};
        c = convert("f.service",
                    "[Service]\nType=forking\nPIDFile=f.pid\nExecStart=/bin/true\n"
                    "RuntimeDirectory=f/sub\nRuntimeDirectoryMode=0710\nStateDirectory=f\n",
                    &o, &r);
        cr_assert_eq(r, 0);
        cr_assert_eq(c->spec.ready, PK_SUP_READY_FD);
        cr_assert_eq(c->spec.ready_fd, 259); /* above the listen fds and the fd store */
        cr_assert_str_eq(c->spec.log_dir, "/var/log/x", "journal output goes to the log");
        char path[256];
        struct stat st;
        snprintf(path, sizeof(path), "%s/run/f/sub", root);
        cr_assert_eq(stat(path, &st), 0, "%s", path);
        cr_assert_eq(st.st_mode & 07777, 0710);
        snprintf(path, sizeof(path), "%s/var/lib/f", root);
        cr_assert_eq(stat(path, &st), 0, "%s", path);
        cr_assert_eq(st.st_mode & 07777, 0755);
        pk_unit_child_free(c);

        /* file: output is the command's own; no log capture then. */
        c = convert("o.service",
                    "[Service]\nExecStart=/bin/true\nStandardOutput=append:/tmp/o.log\n"
                    "StandardError=inherit\n",
                    &o, &r);
        cr_assert_eq(r, 0);
        cr_assert_null(c->spec.log_dir);
        pk_unit_child_free(c);
}

/* Drops CAP_SYS_RESOURCE from this (forked test) process's effective set, as in a container. */
static void drop_sys_resource(void)
{
        struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
        struct __user_cap_data_struct d[2];
        cr_assert_eq(syscall(SYS_capget, &h, d), 0);
        d[CAP_SYS_RESOURCE / 32].effective &= ~(1u << (CAP_SYS_RESOURCE % 32));
        cr_assert_eq(syscall(SYS_capset, &h, d), 0);
}

/* postgresql@.service has OOMScoreAdjust=-900: without CAP_SYS_RESOURCE the
 * kernel refuses to lower it, so the unit keeps ours (as systemd does in a
 * container) and the note says so; the spawn then succeeds. */
Test(unit_child, oom_score_adjust_without_sys_resource)
{
        drop_sys_resource();
        int r;
        struct pk_unit_child *c = convert(
            "pg.service", "[Service]\nExecStart=/bin/true\nOOMScoreAdjust=-900\n", NULL, &r);
        cr_assert_eq(r, 0);
        cr_assert(has_note(c, "OOMScoreAdjust=-900 not applied"));
        struct pk_run_result res;
        struct pk_run_opts o = {.timeout_ms = 10000};
        cr_assert_eq(pk_run(c->cmd, &o, &res, NULL), 0);
        cr_assert_eq(pk_exit_shell(&res.status), 0);
        pk_run_result_free(&res);
        pk_unit_child_free(c);

        /* Raising it needs no privilege: applied, no note. */
        c = convert(
            "up.service",
            "[Service]\nExecStart=/bin/sh -c 'exit $(($(cat /proc/self/oom_score_adj) / 10))'\n"
            "OOMScoreAdjust=500\n",
            NULL, &r);
        cr_assert_eq(r, 0);
        cr_assert_not(has_note(c, "OOMScoreAdjust"));
        cr_assert_eq(pk_run(c->cmd, &o, &res, NULL), 0);
        cr_assert_eq(pk_exit_shell(&res.status), 50, "oom_score_adj 500 in the child");
        pk_run_result_free(&res);
        pk_unit_child_free(c);
}

/* ssh.service has RestartPreventExitStatus=255: the spec's no_restart lists;
 * RestartForceExitStatus= is listed as not enforced, not silently dropped. */
Test(unit_child, restart_exit_status_sets)
{
        int r;
        struct pk_unit_child *c = convert("ssh.service",
                                          "[Service]\nExecStart=/bin/true\nRestart=on-failure\n"
                                          "RestartPreventExitStatus=255 SIGUSR2\n",
                                          NULL, &r);
        cr_assert_eq(r, 0);
        cr_assert_eq(c->spec.n_no_restart_codes, 1);
        cr_assert_eq(c->spec.no_restart_codes[0], 255);
        cr_assert_eq(c->spec.no_restart_signals, (uint64_t)1 << (SIGUSR2 - 1));
        cr_assert_not(has_note(c, "RestartPreventExitStatus"));
        cr_assert_not(has_note(c, "RestartForceExitStatus"));
        pk_unit_child_free(c);
        c = convert("f.service", "[Service]\nExecStart=/bin/true\nRestartForceExitStatus=SIGHUP\n",
                    NULL, &r);
        cr_assert_eq(r, 0);
        cr_assert(has_note(c, "RestartForceExitStatus= is not enforced"));
        cr_assert_eq(c->spec.n_no_restart_codes, 0);
        pk_unit_child_free(c);
}

/* ---- logs and PID 1 ---------------------------------------------------------------------- */

Test(supervise, log_tail_of_a_unit)
{
        struct sv s;
        sv_init(&s);
        write_file(s.units, "talk.service",
                   "[Service]\nExecStart=/bin/sh -c 'for i in 1 2 3 4 5; do echo line$i; done; "
                   "echo oops >&2; exec sleep 1000'\n");
        sv_start(&s);
        wait_field(&s, "talk", "active", "active");
        char *out = NULL;
        for (int i = 0; i < 600; i++) {
                free(out);
                out = NULL;
                if (ctl(&s, &out, "log", "-n", "2", "talk") == 0 && strstr(out, "oops"))
                        break;
                nap();
        }
        cr_assert_str_eq(out, "line5\noops\n");
        free(out);
        sv_stop(&s);
}

Test(supervise, runs_as_pid_1_of_a_namespace)
{
        struct sv s;
        sv_init(&s);
        /* A service that leaves an orphan behind: PID 1 must reap it. */
        write_file(s.units, "a.service",
                   "[Service]\nExecStart=/bin/sh -c '(sleep 0.1 &) ; exec sleep 1000'\n"
                   "ExecStartPost=/bin/sh -c 'echo $$ > %s/post'\n",
                   s.dir);
        struct pk_cmd *cmd;
        cr_assert_eq(pk_cmd_new("unshare", &cmd), 0);
        const char *a[] = {"-fp",       "--mount-proc", PORTKIT, "supervise",
                           "--control", s.ctl,          s.units, NULL};
        cr_assert_eq(pk_cmd_args(cmd, a), 0);
        cr_assert_eq(pk_cmd_fd_file(cmd, 2, s.err, O_WRONLY | O_CREAT | O_TRUNC, 0644), 0);
        cr_assert_eq(pk_cmd_pdeathsig(cmd, SIGKILL), 0);
        cr_assert_eq(pk_spawn(cmd, &s.p, NULL), 0);
        pk_cmd_free(cmd);
        for (int i = 0; i < 600 && ctl(&s, NULL, "ping") != 0; i++)
                nap();
        wait_field(&s, "a", "active", "active");
        char path[512];
        snprintf(path, sizeof(path), "%s/post", s.dir);
        for (int i = 0; i < 600 && access(path, F_OK) != 0; i++)
                nap();
        /* Pids inside the namespace: the service is a small number, not ours. */
        long pid = pid_of(&s, "a");
        cr_assert_gt(pid, 1);
        cr_assert_lt(pid, 100);
        sv_stop(&s);
        char *err = read_file(s.err);
        cr_assert(strstr(err, "as pid 1 (init)"), "%s", err);
        cr_assert(strstr(err, "stopped"), "%s", err);
        free(err);
}
