/* SPDX-License-Identifier: MIT */
/* A `portkit supervise` killed with SIGKILL: with cgroups the next supervise
 * started in the same cgroup reclaims what it left (--reclaim=auto), never a
 * live sibling's services, and --reclaim=off leaves them; without cgroups
 * each service's main process dies with supervise (PR_SET_PDEATHSIG).  Each
 * test runs its supervisors in a cgroup of its own ("pk-test-<pid>-<tag>"),
 * which the suite's .fini kills and removes even after a failed assertion. */
#include <portkit.h>

#include <criterion/criterion.h>

#include "cg_testutil.h"
#include "sv_testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The temporary directories of a test, removed by the suite's fini. */
static char made_dirs[3][256];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st;
        (void)flag;
        (void)ftw;
        return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* Kills each test cgroup as a whole first (its supervise too, so that nothing
 * restarts a service the removal has just killed), then removes the trees. */
static void reclaim_cleanup(void)
{
        char self[PATH_MAX], prefix[64];
        if (pk_cgroup_self(self, sizeof(self)) == 0) {
                snprintf(prefix, sizeof(prefix), "pk-test-%ld-", (long)getpid());
                DIR *d = opendir(self);
                struct dirent *e;
                while (d && (e = readdir(d))) {
                        char sub[PATH_MAX];
                        if (e->d_type == DT_DIR &&
                            strncmp(e->d_name, prefix, strlen(prefix)) == 0 &&
                            snprintf(sub, sizeof(sub), "%s/%s", self, e->d_name) < (int)sizeof(sub))
                                cgt_write(sub, "cgroup.kill", "1");
                }
                if (d)
                        closedir(d);
        }
        cgt_cleanup();
        for (size_t i = 0; i < sizeof(made_dirs) / sizeof(made_dirs[0]); i++) {
                if (made_dirs[i][0])
                        (void)nftw(made_dirs[i], rm_entry, 16, FTW_DEPTH | FTW_PHYS);
                made_dirs[i][0] = '\0';
        }
}

/* cppcheck-suppress unknownMacro */
TestSuite(supervise_reclaim, .fini = reclaim_cleanup, .timeout = 120);

/* The test's cgroup "pk-test-<pid>-<tag>" (caller frees); skips without cgroup v2. */
static struct pk_cgroup *test_cgroup(const char *tag)
{
        char name[64];
        cgt_name(name, sizeof(name), tag);
        struct pk_cgroup *cg = NULL;
        int r = pk_cgroup_create(NULL, name, &cg);
        if (r == -ENOENT || r == -EOPNOTSUPP || r == -EACCES || r == -EROFS || r == -EPERM)
                cr_skip_test("no writable cgroup v2 here: %s", pk_strerror(r));
        cr_assert_eq(r, 0, "cgroup %s: %s", name, pk_strerror(r));
        return cg;
}

/* A supervise folder (slot of made_dirs) that will run in cg. */
static void sv_in(struct sv *s, int slot, const struct pk_cgroup *cg)
{
        svt_init(s, "/tmp/pk-reclaim-XXXXXX", false);
        snprintf(made_dirs[slot], sizeof(made_dirs[slot]), "%s", s->dir);
        s->cgfd = cg ? pk_cgroup_dirfd(cg) : 0;
}

/* Two units in s->units: df.service double-forks a grandchild into a session
 * of its own (the shape of a daemon that escapes its process group) and
 * writes main.pid and gc.pid in s->dir; simple.service writes simple.pid. */
static void write_units(struct sv *s)
{
        tu_write_file(s->dir, "df.sh",
                      "(setsid sh -c 'echo $$ > %s/gc.pid.new; mv %s/gc.pid.new %s/gc.pid; "
                      "exec sleep 1000' &)\n"
                      "echo $$ > %s/main.pid.new; mv %s/main.pid.new %s/main.pid\n"
                      "exec sleep 1000\n",
                      s->dir, s->dir, s->dir, s->dir, s->dir, s->dir);
        tu_write_file(s->dir, "simple.sh",
                      "echo $$ > %s/simple.pid.new; mv %s/simple.pid.new %s/simple.pid\n"
                      "exec sleep 1000\n",
                      s->dir, s->dir, s->dir);
        tu_write_file(s->units, "df.service", "[Service]\nExecStart=/bin/sh %s/df.sh\n", s->dir);
        tu_write_file(s->units, "simple.service", "[Service]\nExecStart=/bin/sh %s/simple.sh\n",
                      s->dir);
}

/* The pids the two units wrote: main, grandchild, simple; the files are
 * removed so that the next run's are new. */
static void read_pids(struct sv *s, pid_t pids[3])
{
        const char *files[] = {"main.pid", "gc.pid", "simple.pid"};
        for (int i = 0; i < 3; i++) {
                char path[512];
                snprintf(path, sizeof(path), "%s/%s", s->dir, files[i]);
                tu_read_pids(path, &pids[i], 1);
                cr_assert_eq(unlink(path), 0);
                cr_assert_eq(kill(pids[i], 0), 0, "%s: pid %d is not running", files[i],
                             (int)pids[i]);
        }
        /* the grandchild really left: a session of its own */
        cr_assert_eq(getsid(pids[1]), pids[1]);
        cr_assert_neq(getsid(pids[1]), getsid(pids[0]));
}

/* `portkit supervise --control CTL [extra] units/df.service units/simple.service`. */
static void start_units(struct sv *s, const char *extra)
{
        char df[400], simple[400];
        snprintf(df, sizeof(df), "%s/df.service", s->units);
        snprintf(simple, sizeof(simple), "%s/simple.service", s->units);
        const char *a[] = {extra ? extra : df, extra ? df : simple, extra ? simple : NULL, NULL};
        svt_start(s, a);
}

/* SIGKILL to supervise, reaped. */
static void kill_supervise(struct sv *s)
{
        cr_assert_eq(pk_proc_signal(s->p, SIGKILL), 0);
        struct pk_exit ex;
        cr_assert_eq(pk_proc_wait(s->p, 30000, &ex), 0);
        cr_assert_eq(ex.signal, SIGKILL);
        s->p = pk_proc_free(s->p);
}

/* The instance cgroup supervise pid made in cg. */
static void instance_path(const struct pk_cgroup *cg, pid_t pid, char *buf, size_t size)
{
        snprintf(buf, size, "%s/portkit-supervise.%d", pk_cgroup_path(cg), (int)pid);
}

/* Waits until kill(pid, 0) says ESRCH: a killed process may stay a zombie
 * until init reaps it (bounded only so that a failure ends the test). */
static void wait_esrch(pid_t pid)
{
        for (int i = 0; i < 600 && (kill(pid, 0) == 0 || errno != ESRCH); i++)
                svt_nap();
        errno = 0;
        cr_assert(kill(pid, 0) < 0 && errno == ESRCH, "pid %d is still there", (int)pid);
}

/* s1 (slot 0) runs the two units in cg, their pids in old, its instance
 * cgroup's path in inst; s2 (slot 1) is a folder for a second instance in cg.
 * Returns s1's pid. */
static pid_t first_instance(const struct pk_cgroup *cg, struct sv *s1, struct sv *s2, pid_t old[3],
                            char *inst, size_t size)
{
        sv_in(s1, 0, cg);
        sv_in(s2, 1, cg);
        write_units(s1);
        start_units(s1, NULL);
        read_pids(s1, old);
        pid_t pid = pk_proc_pid(s1->p);
        instance_path(cg, pid, inst, size);
        return pid;
}

/* s2 runs a unit of its own, other.service, with the option extra (or NULL),
 * and its log shows no reclaim. */
static void other_instance(struct sv *s2, const char *extra)
{
        tu_write_file(s2->units, "other.service", "[Service]\nExecStart=/bin/sleep 1000\n");
        char other[400];
        snprintf(other, sizeof(other), "%s/other.service", s2->units);
        const char *a[] = {extra ? extra : other, extra ? other : NULL, NULL};
        svt_start(s2, a);
        svt_wait_field(s2, "other.service", "active", "active");
        char *err = tu_slurp_or_empty(s2->err);
        cr_assert_null(strstr(err, "reclaimed"), "%s", err);
        free(err);
}

Test(supervise_reclaim, a_new_supervise_kills_what_a_killed_one_left)
{
        struct pk_cgroup *cg = test_cgroup("reclaim");
        struct sv s1, s2;
        pid_t old[3];
        char stale[512];
        pid_t pid1 = first_instance(cg, &s1, &s2, old, stale, sizeof(stale));
        cr_assert_eq(access(stale, F_OK), 0, "%s", stale);

        kill_supervise(&s1);
        /* the problem: with cgroups nothing kills them when supervise dies */
        for (int i = 0; i < 3; i++)
                cr_assert_eq(kill(old[i], 0), 0, "pid %d died with supervise", (int)old[i]);

        /* s2 runs s1's units (their files, their pid files) */
        memcpy(s2.units, s1.units, sizeof(s2.units));
        start_units(&s2, NULL);
        /* the reclaim is done before the new instance answers */
        char *err = tu_slurp_or_empty(s2.err);
        char want[640];
        snprintf(want, sizeof(want),
                 "reclaimed %s, left by supervise %d which is gone: killed 3 "
                 "processes in ",
                 stale, (int)pid1);
        const char *line = strstr(err, want);
        cr_assert(line, "no reclaim line:\n%s", err);
        line += strlen(want);
        cr_assert(strstr(line, "supervise.df.service") && strstr(line, "supervise.simple.service"),
                  "%s", err);
        free(err);
        for (int i = 0; i < 3; i++) {
                /* exited before the reclaim returned (the cgroup was empty)... */
                cr_assert(tu_gone(old[i]), "pid %d survived the reclaim", (int)old[i]);
                /* ...and reaped by init */
                wait_esrch(old[i]);
        }
        cr_assert(access(stale, F_OK) < 0 && errno == ENOENT, "%s is still there", stale);

        /* the new copies run, in the new instance's cgroup */
        svt_wait_field(&s2, "df.service", "active", "active");
        svt_wait_field(&s2, "simple.service", "active", "active");
        pid_t now[3];
        read_pids(&s1, now);
        char fresh[512];
        instance_path(cg, pk_proc_pid(s2.p), fresh, sizeof(fresh));
        cr_assert(cgt_populated(fresh), "%s", fresh);
        svt_stop(&s2);
        pk_cgroup_free(cg);
}

Test(supervise_reclaim, a_live_sibling_keeps_its_services)
{
        struct pk_cgroup *cg = test_cgroup("live");
        struct sv s1, s2;
        pid_t old[3];
        char inst1[512];
        first_instance(cg, &s1, &s2, old, inst1, sizeof(inst1));
        /* a second instance, same cgroup, its own unit */
        other_instance(&s2, NULL);
        for (int i = 0; i < 3; i++)
                cr_assert_eq(kill(old[i], 0), 0, "pid %d of the live instance died", (int)old[i]);
        cr_assert(cgt_populated(inst1), "%s", inst1);
        svt_wait_field(&s1, "df.service", "active", "active");
        svt_stop(&s2);
        svt_stop(&s1);
        pk_cgroup_free(cg);
}

Test(supervise_reclaim, reclaim_off_leaves_them)
{
        struct pk_cgroup *cg = test_cgroup("off");
        struct sv s1, s2;
        pid_t old[3];
        char stale[512], name[64];
        pid_t pid1 = first_instance(cg, &s1, &s2, old, stale, sizeof(stale));
        snprintf(name, sizeof(name), "portkit-supervise.%d", (int)pid1);
        kill_supervise(&s1);

        other_instance(&s2, "--reclaim=off");
        for (int i = 0; i < 3; i++)
                cr_assert_eq(kill(old[i], 0), 0, "pid %d died", (int)old[i]);
        cr_assert(cgt_populated(stale), "%s", stale);
        svt_stop(&s2);

        /* the test cleans up itself, with the library call supervise uses */
        int killed = -1;
        cr_assert_eq(pk_cgroup_reclaim(pk_cgroup_path(cg), name, 30000, &killed), 0);
        cr_assert_eq(killed, 3);
        for (int i = 0; i < 3; i++)
                cr_assert(tu_gone(old[i]), "pid %d survived", (int)old[i]);
        cr_assert(access(stale, F_OK) < 0 && errno == ENOENT, "%s", stale);
        /* done by someone else first: ENOENT, nothing made */
        cr_assert_eq(pk_cgroup_reclaim(pk_cgroup_path(cg), name, 0, &killed), -ENOENT);
        cr_assert(access(stale, F_OK) < 0 && errno == ENOENT, "%s", stale);
        pk_cgroup_free(cg);
}

Test(supervise_reclaim, a_bad_reclaim_value_is_a_usage_error)
{
        struct sv s;
        sv_in(&s, 0, NULL);
        struct pk_cmd *cmd;
        cr_assert_eq(pk_cmd_new(SVT_PORTKIT, &cmd), 0);
        const char *a[] = {"supervise", "--control", s.ctl, "--reclaim=maybe", s.units, NULL};
        cr_assert_eq(pk_cmd_args(cmd, a), 0);
        char *out = NULL;
        cr_assert_eq(svt_run(cmd, &out), 100, "%s", out); /* PK_CLI_EXIT_USAGE */
        cr_assert(strstr(out, "[--reclaim auto|off]"), "%s", out);
        free(out);
}

/* Without cgroups nothing finds a service again once supervise is gone: its
 * main process has PR_SET_PDEATHSIG (SIGKILL) and dies with it. */
Test(supervise_reclaim, without_cgroups_the_main_process_dies_with_supervise)
{
        /* a cgroup only for the cleanup: supervise itself makes none */
        struct pk_cgroup *cg = test_cgroup("pdeath");
        struct sv s;
        sv_in(&s, 0, cg);
        write_units(&s);
        start_units(&s, "--cgroup=off");
        pid_t pids[3];
        read_pids(&s, pids);
        char inst[512];
        instance_path(cg, pk_proc_pid(s.p), inst, sizeof(inst));
        cr_assert(access(inst, F_OK) < 0, "%s made with --cgroup=off", inst);
        char pid[32];
        svt_field(&s, "simple.service", "pid", pid, sizeof(pid));
        cr_assert_eq(atoi(pid), pids[2], "simple.service's main pid %s, wrote %d", pid,
                     (int)pids[2]);
        int fds[2] = {(int)syscall(SYS_pidfd_open, pids[0], 0),
                      (int)syscall(SYS_pidfd_open, pids[2], 0)};
        cr_assert(fds[0] >= 0 && fds[1] >= 0, "pidfd_open: %s", strerror(errno));
        kill_supervise(&s);
        for (int i = 0; i < 2; i++) {
                /* readable once the process has ended (bounded: a hang, not a measure) */
                struct pollfd p = {.fd = fds[i], .events = POLLIN};
                cr_assert_eq(poll(&p, 1, 30000), 1, "main process %d outlived supervise",
                             (int)pids[i ? 2 : 0]);
                close(fds[i]);
        }
        wait_esrch(pids[0]);
        wait_esrch(pids[2]);
        /* what a daemon double-forks escapes PR_SET_PDEATHSIG (documented) */
        cr_assert_eq(kill(pids[1], 0), 0);
        pk_cgroup_free(cg);
}

/* The unit-exec helper is the main process of a unit with ExecStartPre=; it
 * passes its parent-death signal on to the commands it waits for, so a start
 * command hanging when supervise dies goes with it. */
Test(supervise_reclaim, without_cgroups_a_start_pre_command_dies_too)
{
        struct pk_cgroup *cg = test_cgroup("pdeath-pre");
        struct sv s;
        sv_in(&s, 0, cg);
        tu_write_file(s.dir, "pre.sh",
                      "echo $$ > %s/pre.pid.new; mv %s/pre.pid.new %s/pre.pid; exec sleep 1000\n",
                      s.dir, s.dir, s.dir);
        tu_write_file(s.units, "pre.service",
                      "[Service]\nExecStartPre=/bin/sh %s/pre.sh\nExecStart=/bin/sleep 1000\n",
                      s.dir);
        char unit[400];
        snprintf(unit, sizeof(unit), "%s/pre.service", s.units);
        const char *a[] = {"--cgroup=off", unit, NULL};
        svt_start(&s, a);
        char path[512];
        snprintf(path, sizeof(path), "%s/pre.pid", s.dir);
        pid_t pre;
        tu_read_pids(path, &pre, 1);
        char helper[32];
        svt_field(&s, "pre.service", "pid", helper, sizeof(helper));
        pid_t hp = (pid_t)atoi(helper);
        cr_assert(hp > 0 && hp != pre, "main pid '%s', pre %d", helper, (int)pre);
        int fds[2] = {(int)syscall(SYS_pidfd_open, hp, 0), (int)syscall(SYS_pidfd_open, pre, 0)};
        cr_assert(fds[0] >= 0 && fds[1] >= 0, "pidfd_open: %s", strerror(errno));
        kill_supervise(&s);
        for (int i = 0; i < 2; i++) {
                struct pollfd p = {.fd = fds[i], .events = POLLIN};
                cr_assert_eq(poll(&p, 1, 30000), 1, "%s outlived supervise",
                             i ? "ExecStartPre=" : "the unit-exec helper");
                close(fds[i]);
        }
        wait_esrch(pre);
        pk_cgroup_free(cg);
}

/* An instance whose supervise holds the lock on its directory is live even
 * when its pid is not in the cgroup (a supervise in another pid namespace,
 * where pids differ): here the test process plays it, from outside the
 * cgroup, with its own pid in the name.  Once the lock is gone, the next
 * supervise reclaims it. */
Test(supervise_reclaim, a_locked_instance_is_live_whatever_its_pid)
{
        struct pk_cgroup *cg = test_cgroup("lock");
        char name[64];
        snprintf(name, sizeof(name), "portkit-supervise.%d", (int)getpid());
        struct pk_cgroup *inst = NULL, *svc = NULL;
        cr_assert_eq(pk_cgroup_create(pk_cgroup_path(cg), name, &inst), 0);
        cr_assert_eq(pk_cgroup_create(pk_cgroup_path(inst), "supervise.x.service", &svc), 0);
        struct pk_cmd *cmd;
        cr_assert_eq(pk_cmd_new("/bin/sleep", &cmd), 0);
        cr_assert_eq(pk_cmd_arg(cmd, "1000"), 0);
        cr_assert_eq(pk_cmd_cgroup(cmd, pk_cgroup_dirfd(svc)), 0);
        struct pk_proc *p;
        cr_assert_eq(pk_spawn(cmd, &p, NULL), 0);
        pk_cmd_free(cmd);
        cr_assert_eq(flock(pk_cgroup_dirfd(inst), LOCK_EX | LOCK_NB), 0);

        struct sv s1, s2;
        sv_in(&s1, 0, cg);
        sv_in(&s2, 1, cg);
        other_instance(&s1, NULL);
        struct pk_exit ex;
        cr_assert_eq(pk_proc_wait(p, 0, &ex), -ETIMEDOUT, "the locked instance's service died");
        cr_assert(cgt_populated(pk_cgroup_path(inst)));
        svt_stop(&s1);

        cr_assert_eq(flock(pk_cgroup_dirfd(inst), LOCK_UN), 0);
        tu_write_file(s2.units, "x.service", "[Service]\nExecStart=/bin/sleep 1000\n");
        char unit[400];
        snprintf(unit, sizeof(unit), "%s/x.service", s2.units);
        const char *a[] = {unit, NULL};
        svt_start(&s2, a);
        char *err = tu_slurp_or_empty(s2.err);
        char want[640];
        snprintf(want, sizeof(want),
                 "reclaimed %s, left by supervise %d which is gone: killed 1 processes in "
                 "supervise.x.service",
                 pk_cgroup_path(inst), (int)getpid());
        cr_assert(strstr(err, want), "wanted '%s' in:\n%s", want, err);
        free(err);
        cr_assert_eq(pk_proc_wait(p, 0, &ex), 0, "gone before the reclaim returned");
        cr_assert_eq(ex.signal, SIGKILL);
        pk_proc_free(p);
        svt_wait_field(&s2, "x.service", "active", "active");
        svt_stop(&s2);
        pk_cgroup_free(svc);
        pk_cgroup_free(inst);
        pk_cgroup_free(cg);
}
