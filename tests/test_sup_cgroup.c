/* SPDX-License-Identifier: MIT */
/* The sup layer's cgroup v2 piece against the real hierarchy: find the mount
 * (and a fake mountinfo without one), create, place children at birth (clone3
 * CLONE_INTO_CGROUP and both fallbacks), kill a tree whose grandchild calls
 * setsid and double-forks (cgroup.kill and the cgroup.procs fallback), learn
 * "populated 0" through the events fd on a loop, and limits refused with
 * -EOPNOTSUPP where no controller is delegated, a signal to the whole tree
 * (pk_cgroup_signal). */
#include "spawn/spawn-internal.h"
#include "sup/cglog-internal.h"

#include "cg_testutil.h"

#include "portkit/spawn.h"
#include "portkit/sup.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#define PROBE PK_BUILD_DIR "/tests/helpers/spawn_probe"
#define CGROUP2_MAGIC 0x63677270

/* A cgroup we may create here, or skip (no v2 mount, not delegated). */
static struct pk_cgroup *test_cgroup(const char *tag)
{
        char name[64];
        cgt_name(name, sizeof(name), tag);
        struct pk_cgroup *cg = NULL;
        int r = pk_cgroup_create(NULL, name, &cg);
        if (r == -ENOENT || r == -EACCES || r == -EPERM || r == -EROFS)
                cr_skip_test("no writable cgroup v2 here (%s)", pk_strerror(r));
        cr_assert_eq(r, 0, "pk_cgroup_create: %s", pk_strerror(r));
        return cg;
}

/* Blocks (no timer) until the cgroup is empty, through the events fd. */
static void wait_empty(struct pk_cgroup *cg)
{
        for (;;) {
                int pop = pk_cgroup_populated(cg);
                cr_assert_geq(pop, 0);
                if (pop == 0)
                        return;
                struct pollfd p = {.fd = pk_cgroup_events_fd(cg), .events = POLLPRI};
                cr_assert_geq(poll(&p, 1, -1), 0);
        }
}

static int count_procs(const struct pk_cgroup *cg)
{
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/cgroup.procs", pk_cgroup_path(cg));
        FILE *f = fopen(path, "re");
        cr_assert(f);
        int n = 0, pid;
        while (fscanf(f, "%d", &pid) == 1)
                n++;
        fclose(f);
        return n;
}

/* The "0::" cgroup of a pid, relative to the v2 mount ("/pk-test-..."). */
static void cgroup_of(pid_t pid, char *buf, size_t size)
{
        char path[64], line[512];
        snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
        FILE *f = fopen(path, "re");
        cr_assert(f, "%s: %s", path, strerror(errno));
        buf[0] = '\0';
        while (fgets(line, sizeof(line), f)) {
                if (strncmp(line, "0::", 3) == 0) {
                        line[strcspn(line, "\n")] = '\0';
                        snprintf(buf, size, "%s", line + 3);
                }
        }
        fclose(f);
}

/* spawn_probe MODE ARG, placed at birth in the cgroup whose directory fd is
 * cg_fd, its stdout a pipe when out_pipe.  Caller frees the command. */
static struct pk_cmd *probe_in(int cg_fd, const char *mode, const char *arg, bool out_pipe)
{
        struct pk_cmd *c;
        cr_assert_eq(pk_cmd_new(PROBE, &c), 0);
        const char *a[] = {mode, arg, NULL};
        cr_assert_eq(pk_cmd_args(c, a), 0);
        if (out_pipe)
                cr_assert_eq(pk_cmd_fd_pipe(c, 1, 0), 0);
        cr_assert_eq(pk_cmd_cgroup(c, cg_fd), 0);
        return c;
}

/* The number on the first line of p's stdout pipe ("daemonize": its
 * setsid'ed grandchild's pid), or 0 when there is none; closes the pipe.
 * Asserts nothing about the number, so a caller can clean up first. */
static pid_t first_pid(struct pk_proc *p)
{
        char buf[64] = "";
        FILE *out = fdopen(pk_proc_take_fd(p, 1), "r");
        cr_assert_not_null(out);
        const char *line = fgets(buf, sizeof(buf), out);
        fclose(out);
        return line ? (pid_t)atoi(buf) : 0;
}

static void write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "we");
        cr_assert(f);
        fputs(text, f);
        fclose(f);
}

TestSuite(sup_cgroup, .fini = cgt_cleanup);

Test(sup_cgroup, v2_mount_found_and_is_cgroup2)
{
        char mnt[PATH_MAX];
        int r = pk_cgroup_v2_mount(mnt, sizeof(mnt));
        if (r == -ENOENT)
                cr_skip_test("no cgroup2 mount");
        cr_assert_eq(r, 0);
        struct statfs s;
        cr_assert_eq(statfs(mnt, &s), 0);
        cr_assert_eq((unsigned long)s.f_type, (unsigned long)CGROUP2_MAGIC, "%s", mnt);
        char small[4];
        cr_assert_eq(pk_cgroup_v2_mount(small, sizeof(small)), -ENAMETOOLONG);
        cr_assert_eq(pk_cgroup_v2_mount(NULL, 10), -EINVAL);

        char self[PATH_MAX];
        cr_assert_eq(pk_cgroup_self(self, sizeof(self)), 0);
        cr_assert_eq(strncmp(self, mnt, strlen(mnt)), 0, "%s under %s", self, mnt);
        cr_assert_eq(statfs(self, &s), 0, "%s", self);
}

Test(sup_cgroup, fake_mountinfo_without_v2_and_hybrid)
{
        char dir[] = "/tmp/pk-cgmi-XXXXXX";
        cr_assert(mkdtemp(dir));
        char mi[PATH_MAX], pc[PATH_MAX], buf[PATH_MAX];
        snprintf(mi, sizeof(mi), "%s/mountinfo", dir);
        snprintf(pc, sizeof(pc), "%s/cgroup", dir);

        /* v1 only: no cgroup2 line, a clean -ENOENT for the fallback path. */
        write_file(mi,
                   "22 1 0:21 / / rw - ext4 /dev/sda1 rw\n"
                   "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n"
                   "35 31 0:32 / /sys/fs/cgroup/memory rw shared:9 - cgroup cgroup rw,memory\n");
        write_file(pc, "4:memory:/x\n1:name=systemd:/\n");
        cr_assert_eq(pk__cgroup_v2_mount_from(mi, buf, sizeof(buf)), -ENOENT);
        cr_assert_eq(pk__cgroup_self_from(mi, pc, buf, sizeof(buf)), -ENOENT);

        /* Hybrid, with optional fields and an escaped space; a bind mount of a
         * subtree (root not "/") loses to the real root. */
        write_file(mi, "35 31 0:32 / /sys/fs/cgroup/memory rw shared:9 - cgroup cgroup rw,memory\n"
                       "40 31 0:38 /sub /mnt/bound rw shared:1 master:2 - cgroup2 cgroup2 rw\n"
                       "41 31 0:38 / /sys/fs/cgroup/uni\\040fied rw shared:14 - cgroup2 cgroup2 "
                       "rw,nsdelegate\n");
        write_file(pc, "4:memory:/x\n0::/svc/a.service\n");
        cr_assert_eq(pk__cgroup_v2_mount_from(mi, buf, sizeof(buf)), 0);
        cr_assert_str_eq(buf, "/sys/fs/cgroup/uni fied");
        cr_assert_eq(pk__cgroup_self_from(mi, pc, buf, sizeof(buf)), 0);
        cr_assert_str_eq(buf, "/sys/fs/cgroup/uni fied/svc/a.service");
        /* Pure v2, process in the root cgroup. */
        write_file(mi, "29 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
        write_file(pc, "0::/\n");
        cr_assert_eq(pk__cgroup_self_from(mi, pc, buf, sizeof(buf)), 0);
        cr_assert_str_eq(buf, "/sys/fs/cgroup");
        cr_assert_eq(pk__cgroup_v2_mount_from("/nonexistent/mountinfo", buf, sizeof(buf)), -ENOENT);
        unlink(mi);
        unlink(pc);
        rmdir(dir);
}

Test(sup_cgroup, create_errors)
{
        struct pk_cgroup *cg = NULL;
        cr_assert_eq(pk_cgroup_create(NULL, "", &cg), -EINVAL);
        cr_assert_eq(pk_cgroup_create(NULL, "a/b", &cg), -EINVAL);
        cr_assert_eq(pk_cgroup_create(NULL, "..", &cg), -EINVAL);
        cr_assert_eq(pk_cgroup_create("relative", "x", &cg), -EINVAL);
        cr_assert_eq(pk_cgroup_create(NULL, "x", NULL), -EINVAL);
        cr_assert_eq(pk_cgroup_create("/tmp", "x", &cg), -EOPNOTSUPP);
        cr_assert_eq(pk_cgroup_create("/nonexistent-dir", "x", &cg), -ENOENT);
        cr_assert_null(cg);
        cr_assert_null(pk_cgroup_free(NULL));
        cr_assert_eq(pk_cgroup_kill(NULL), -EINVAL);
        cr_assert_eq(pk_cgroup_populated(NULL), -EINVAL);
        cr_assert_eq(pk_cgroup_dirfd(NULL), -EINVAL);
}

Test(sup_cgroup, create_empty_free_removes)
{
        struct pk_cgroup *cg = test_cgroup("empty");
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s", pk_cgroup_path(cg));
        struct stat st;
        cr_assert_eq(stat(path, &st), 0);
        cr_assert_eq(pk_cgroup_populated(cg), 0);
        cr_assert_eq(count_procs(cg), 0);
        /* Opening it again while it exists is fine (a restarted supervisor). */
        struct pk_cgroup *again = NULL;
        char parent[PATH_MAX];
        snprintf(parent, sizeof(parent), "%s", path);
        *strrchr(parent, '/') = '\0';
        cr_assert_eq(pk_cgroup_create(parent, strrchr(path, '/') + 1, &again), 0);
        cr_assert_str_eq(pk_cgroup_path(again), path);
        pk_cgroup_free(again);
        cr_assert_eq(stat(path, &st), -1, "the empty cgroup is removed");
        pk_cgroup_free(cg); /* rmdir of a removed one is harmless */
}

/* Spawns "daemonize" into cg (fallback mode given), checks both the child and
 * the setsid'ed grandchild are in it, kills with kill_fn, waits for empty. */
static void kill_tree(const char *tag, int fallback, int (*kill_fn)(struct pk_cgroup *))
{
        struct pk_cgroup *cg = test_cgroup(tag);
        pk__spawn_test_fallback(fallback);
        struct pk_cmd *c = probe_in(pk_cgroup_dirfd(cg), "daemonize", "300", true);
        struct pk_proc *p;
        struct pk_spawn_error se;
        int r = pk_spawn(c, &p, &se);
        cr_assert_eq(r, 0, "spawn: %s (step %s)", pk_strerror(r), pk_spawn_step_name(se.step));

        pid_t gpid = first_pid(p);
        cr_assert_gt(gpid, 0, "grandchild pid");

        char want[PATH_MAX], got[PATH_MAX], mnt[PATH_MAX];
        cr_assert_eq(pk_cgroup_v2_mount(mnt, sizeof(mnt)), 0);
        snprintf(want, sizeof(want), "%s", pk_cgroup_path(cg) + strlen(mnt));
        cgroup_of(pk_proc_pid(p), got, sizeof(got));
        cr_assert_str_eq(got, want, "the child is placed");
        cgroup_of(gpid, got, sizeof(got));
        cr_assert_str_eq(got, want, "the setsid'ed grandchild is inside too");
        cr_assert_eq(pk_cgroup_populated(cg), 1);
        cr_assert_eq(count_procs(cg), 2);

        cr_assert_eq(kill_fn(cg), 0);
        wait_empty(cg);
        cr_assert_eq(count_procs(cg), 0);
        struct pk_exit st;
        cr_assert_eq(pk_proc_wait(p, -1, &st), 0);
        cr_assert_eq(st.signal, SIGKILL);
        /* The grandchild is gone or a zombie waiting for init: not running. */
        char stat_path[64], stat_line[256] = "";
        snprintf(stat_path, sizeof(stat_path), "/proc/%d/stat", (int)gpid);
        FILE *sf = fopen(stat_path, "re");
        if (sf) {
                cr_assert(fgets(stat_line, sizeof(stat_line), sf));
                fclose(sf);
                const char *rp = strrchr(stat_line, ')');
                cr_assert(rp && (rp[2] == 'Z' || rp[2] == 'X'), "grandchild state: %s", stat_line);
        }
        pk_proc_free(p);
        pk_cmd_free(c);
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s", pk_cgroup_path(cg));
        pk_cgroup_free(cg);
        struct stat sst;
        cr_assert_eq(stat(path, &sst), -1, "emptied cgroup removed by free");
}

Test(sup_cgroup, kill_tree_clone_into_cgroup, .timeout = 60)
{
        kill_tree("into", 0, pk_cgroup_kill);
}

Test(sup_cgroup, kill_tree_child_writes_procs, .timeout = 60)
{
        kill_tree("procs", 1, pk_cgroup_kill);
}

Test(sup_cgroup, kill_tree_clone_fallback, .timeout = 60)
{
        kill_tree("clone", 2, pk_cgroup_kill);
}

Test(sup_cgroup, kill_tree_without_cgroup_kill, .timeout = 60)
{
        kill_tree("kfall", 0, pk__cgroup_kill_procs);
}

Test(sup_cgroup, kill_reaches_child_cgroups, .timeout = 60)
{
        struct pk_cgroup *cg = test_cgroup("nest");
        struct pk_cgroup *sub = NULL;
        cr_assert_eq(pk_cgroup_create(pk_cgroup_path(cg), "inner", &sub), 0);
        struct pk_cmd *c = probe_in(pk_cgroup_dirfd(sub), "sleep", "300", false);
        struct pk_proc *p;
        cr_assert_eq(pk_spawn(c, &p, NULL), 0);
        cr_assert_eq(pk_cgroup_populated(cg), 1, "populated counts descendants");
        cr_assert_eq(pk__cgroup_kill_procs(cg), 0);
        wait_empty(cg);
        cr_assert_eq(pk_proc_wait(p, -1, NULL), 0);
        pk_proc_free(p);
        pk_cmd_free(c);
        pk_cgroup_free(sub);
        pk_cgroup_free(cg);
}

/* A tree two levels deep with a process in each cgroup, left by an owner
 * that is gone: reclaimed (killed, counted, removed deepest first); a second
 * reclaim finds nothing and makes nothing. */
Test(sup_cgroup, reclaim_kills_counts_and_removes_a_tree, .timeout = 60)
{
        struct pk_cgroup *top = test_cgroup("reclaim");
        struct pk_cgroup *inst = NULL, *svc = NULL;
        cr_assert_eq(pk_cgroup_create(pk_cgroup_path(top), "inst", &inst), 0);
        cr_assert_eq(pk_cgroup_create(pk_cgroup_path(inst), "svc", &svc), 0);
        struct pk_cmd *c1 = probe_in(pk_cgroup_dirfd(inst), "sleep", "300", false);
        struct pk_cmd *c2 = probe_in(pk_cgroup_dirfd(svc), "sleep", "300", false);
        struct pk_proc *p1, *p2;
        cr_assert_eq(pk_spawn(c1, &p1, NULL), 0);
        cr_assert_eq(pk_spawn(c2, &p2, NULL), 0);
        cr_assert_eq(pk_cgroup_wait_empty(inst, 0), -ETIMEDOUT, "two processes in it");
        char inst_path[PATH_MAX];
        snprintf(inst_path, sizeof(inst_path), "%s", pk_cgroup_path(inst));
        /* the owner's handles are gone; only the directories are left */
        svc = pk_cgroup_free(svc);
        inst = pk_cgroup_free(inst);
        cr_assert_eq(access(inst_path, F_OK), 0);
        int killed = -1;
        cr_assert_eq(pk_cgroup_reclaim(pk_cgroup_path(top), "inst", 30000, &killed), 0);
        cr_assert_eq(killed, 2);
        cr_assert(access(inst_path, F_OK) < 0 && errno == ENOENT, "%s is still there", inst_path);
        struct pk_exit ex;
        cr_assert_eq(pk_proc_wait(p1, 0, &ex), 0, "exited before the reclaim returned");
        cr_assert_eq(ex.signal, SIGKILL);
        cr_assert_eq(pk_proc_wait(p2, 0, &ex), 0);
        cr_assert_eq(ex.signal, SIGKILL);
        cr_assert_eq(pk_cgroup_reclaim(pk_cgroup_path(top), "inst", 0, NULL), -ENOENT);
        cr_assert(access(inst_path, F_OK) < 0, "a reclaim never makes the cgroup");
        cr_assert_eq(pk_cgroup_reclaim(pk_cgroup_path(top), "../x", 0, NULL), -EINVAL);
        cr_assert_eq(pk_cgroup_reclaim(NULL, "inst", 0, NULL), -EINVAL);
        cr_assert_eq(pk_cgroup_wait_empty(top, 0), 0);
        cr_assert_eq(pk_cgroup_wait_empty(NULL, 0), -EINVAL);
        pk_proc_free(p1);
        pk_proc_free(p2);
        pk_cmd_free(c1);
        pk_cmd_free(c2);
        pk_cgroup_free(top);
}

/* A process that keeps moving to a new pid (fork, parent exits) is what a
 * kill by pid list races with; the cgroup catches it either way. */
static int kill_until_done(struct pk_cgroup *cg)
{
        int r;
        while ((r = pk__cgroup_kill_procs(cg)) == -EAGAIN)
                ;
        return r;
}

static void kill_hopper(const char *tag, int (*kill_fn)(struct pk_cgroup *))
{
        struct pk_cgroup *cg = test_cgroup(tag);
        /* bounded: a failed test leaves nothing running for long */
        struct pk_cmd *c = probe_in(pk_cgroup_dirfd(cg), "hop", "200000", true);
        struct pk_proc *p;
        cr_assert_eq(pk_spawn(c, &p, NULL), 0);
        char buf[16] = "";
        cr_assert_eq(read(pk_proc_fd(p, 1), buf, 8), 8, "the hopping has started");
        cr_assert_eq(kill_fn(cg), 0);
        wait_empty(cg);
        cr_assert_eq(count_procs(cg), 0);
        pk_proc_wait(p, -1, NULL);
        pk_proc_free(p);
        pk_cmd_free(c);
        pk_cgroup_free(cg);
}

Test(sup_cgroup, kill_catches_a_pid_hopper, .timeout = 120)
{
        kill_hopper("hop", pk_cgroup_kill);
}

Test(sup_cgroup, kill_fallback_catches_a_pid_hopper, .timeout = 120)
{
        kill_hopper("hopf", kill_until_done);
}

/* ---- the events fd on a loop ---- */

struct watch {
        struct pk_loop_io io;
        struct pk_cgroup *cg;
        int fired, last, saw_full, saw_empty;
};

static void on_events(struct pk_loop_io *io, unsigned revents)
{
        struct watch *w = io->w.ctx;
        cr_assert(revents & PK_LOOP_PRIORITY);
        w->fired++;
        w->last = pk_cgroup_populated(w->cg); /* re-arms the notification */
        if (w->last == 1)
                w->saw_full = 1;
        if (w->last == 0 && w->saw_full) {
                w->saw_empty = 1;
                pk_loop_stop(io->w.loop);
        }
}

Test(sup_cgroup, events_fd_fires_on_the_loop, .timeout = 60)
{
        struct pk_cgroup *cg = test_cgroup("events");
        struct pk_loop *loop;
        cr_assert_eq(pk_loop_new(&loop), 0);
        struct watch w = {.cg = cg};
        pk_loop_io_init(loop, &w.io, pk_cgroup_events_fd(cg));
        w.io.w.ctx = &w;
        cr_assert_eq(pk_loop_io_start(&w.io, PK_LOOP_PRIORITY, on_events), 0);

        struct pk_cmd *c = probe_in(pk_cgroup_dirfd(cg), "sleep", "300", false);
        struct pk_proc *p;
        cr_assert_eq(pk_spawn(c, &p, NULL), 0);
        /* populated 0 -> 1: one event, and the loop stays quiet afterwards
         * (the callback's read re-armed it): run_nowait passes see nothing. */
        while (!w.saw_full)
                cr_assert_geq(pk_loop_run_once(loop), 0);
        int fired = w.fired;
        for (int i = 0; i < 5; i++)
                cr_assert_geq(pk_loop_run_nowait(loop), 0);
        cr_assert_eq(w.fired, fired, "no repeated event without a change");

        cr_assert_eq(pk_cgroup_kill(cg), 0);
        cr_assert_eq(pk_loop_run(loop), PK_LOOP_STOPPED);
        cr_assert(w.saw_empty);
        cr_assert_eq(w.last, 0);
        pk_loop_io_stop(&w.io);
        pk_proc_wait(p, -1, NULL);
        pk_proc_free(p);
        pk_cmd_free(c);
        pk_loop_free(loop);
        pk_cgroup_free(cg);
}

/* ---- limits ---- */

Test(sup_cgroup, limits_need_delegated_controllers)
{
        struct pk_cgroup *cg = test_cgroup("limits");
        char ctl[1024] = "";
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/cgroup.controllers", pk_cgroup_path(cg));
        FILE *f = fopen(path, "re");
        cr_assert(f);
        if (!fgets(ctl, sizeof(ctl), f))
                ctl[0] = '\0';
        fclose(f);
        static const struct {
                const char *file, *value, *controller;
        } lim[] = {{"memory.max", "64M", "memory"},
                   {"pids.max", "100", "pids"},
                   {"cpu.max", "50000 100000", "cpu"}};
        for (size_t i = 0; i < sizeof(lim) / sizeof(lim[0]); i++) {
                char name[32];
                cr_assert_eq(pk_cgroup_controller(lim[i].file, name, sizeof(name)),
                             (int)strlen(lim[i].controller));
                cr_assert_str_eq(name, lim[i].controller);
                int r = pk_cgroup_set(cg, lim[i].file, lim[i].value);
                if (strstr(ctl, lim[i].controller)) {
                        cr_assert_eq(r, 0, "%s: %s", lim[i].file, pk_strerror(r));
                } else {
                        cr_assert_eq(r, -EOPNOTSUPP, "%s not delegated: %s", lim[i].file,
                                     pk_strerror(r));
                        cr_assert_eq(pk_cgroup_delegate(cg, lim[i].controller), -EOPNOTSUPP);
                }
        }
        cr_assert_eq(pk_cgroup_set(cg, "cgroup.nosuchfile", "1"), -ENOENT);
        cr_assert_eq(pk_cgroup_set(cg, "../cgroup.procs", "1"), -EINVAL);
        cr_assert_eq(pk_cgroup_set(cg, "cgroup.max.descendants", "bogus"), -EINVAL);
        cr_assert_eq(pk_cgroup_set(cg, "cgroup.max.descendants", "5"), 0, "a core file works");
        cr_assert_eq(pk_cgroup_controller("nodot", ctl, sizeof(ctl)), -EINVAL);
        cr_assert_eq(pk_cgroup_delegate(cg, ""), -EINVAL);
        pk_cgroup_free(cg);
}

/* ---- placement errors ---- */

Test(sup_cgroup, spawn_into_a_non_cgroup_fails_with_step)
{
        int tmp = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        cr_assert_geq(tmp, 0);
        for (int mode = 0; mode < 3; mode++) {
                pk__spawn_test_fallback(mode);
                struct pk_cmd *c = probe_in(tmp, "exit", "0", false);
                struct pk_proc *p = NULL;
                struct pk_spawn_error se;
                int r = pk_spawn(c, &p, &se);
                /* clone3 refuses a non-cgroup fd (EBADF); /tmp has no cgroup.procs (ENOENT). */
                cr_assert(r == -EBADF || r == -ENOENT, "mode %d: %s", mode, pk_strerror(r));
                cr_assert_eq(se.step, PK_SPAWN_STEP_CGROUP, "mode %d: step %s", mode,
                             pk_spawn_step_name(se.step));
                cr_assert_null(p);
                pk_cmd_free(c);
        }
        close(tmp);
        struct pk_cmd *c;
        pk_cmd_new(PROBE, &c);
        cr_assert_eq(pk_cmd_cgroup(c, 9999), -EBADF);
        cr_assert_eq(pk_cmd_cgroup(c, -5), -EINVAL);
        cr_assert_eq(pk_cmd_cgroup(c, -1), 0);
        pk_cmd_free(c);
}

Test(sup_cgroup, spawn_helper_places_in_cgroup, .timeout = 60)
{
        struct pk_cgroup *cg = test_cgroup("helper");
        struct pk_spawn_helper *h;
        cr_assert_eq(pk_spawn_helper_new(&h), 0);
        struct pk_cmd *c = probe_in(pk_cgroup_dirfd(cg), "sleep", "300", false);
        struct pk_proc *p;
        int r = pk_spawn_helper_spawn(h, c, &p, NULL);
        cr_assert_eq(r, 0, "%s", pk_strerror(r));
        char got[PATH_MAX], mnt[PATH_MAX];
        pk_cgroup_v2_mount(mnt, sizeof(mnt));
        cgroup_of(pk_proc_pid(p), got, sizeof(got));
        cr_assert_str_eq(got, pk_cgroup_path(cg) + strlen(mnt));
        cr_assert_eq(pk_cgroup_kill(cg), 0);
        wait_empty(cg);
        pk_proc_wait(p, -1, NULL);
        pk_proc_free(p);
        pk_cmd_free(c);
        pk_spawn_helper_free(h);
        pk_cgroup_free(cg);
}

/* pk_cgroup_signal reaches the whole tree (a setsid'ed grandchild in another
 * session and process group too), counts it, and 0 only counts.  The checks
 * run after a pk_cgroup_kill so that a failing one leaves nothing behind. */
Test(sup_cgroup, signal_reaches_the_whole_tree, .timeout = 60)
{
        cr_assert_eq(pk_cgroup_signal(NULL, SIGTERM), -EINVAL);
        struct pk_cgroup *cg = test_cgroup("signal");
        cr_assert_eq(pk_cgroup_signal(cg, -1), -EINVAL);
        cr_assert_eq(pk_cgroup_signal(cg, 0), 0, "empty cgroup: nobody");
        struct pk_cmd *c = probe_in(pk_cgroup_dirfd(cg), "daemonize", "300", true);
        struct pk_proc *p;
        int r = pk_spawn(c, &p, NULL);
        cr_assert_eq(r, 0, "spawn: %s", pk_strerror(r));
        pid_t gpid = first_pid(p);

        int counted = pk_cgroup_signal(cg, 0);
        int signalled = pk_cgroup_signal(cg, SIGTERM);
        struct pk_exit st = {0};
        int wr = pk_proc_wait(p, -1, &st);
        /* The grandchild (re-parented to init) is gone when the cgroup is
         * empty; a generous bound instead of the test's timeout, so that a
         * failure still cleans up below. */
        int g_alive = pk_cgroup_populated(cg) == 1;
        while (g_alive) {
                struct pollfd pe = {.fd = pk_cgroup_events_fd(cg), .events = POLLPRI};
                if (poll(&pe, 1, 30000) <= 0)
                        break;
                g_alive = pk_cgroup_populated(cg) == 1;
        }
        (void)pk_cgroup_kill(cg);
        wait_empty(cg);
        pk_proc_free(p);
        pk_cmd_free(c);
        pk_cgroup_free(cg);

        cr_assert(gpid > 0, "grandchild pid");
        cr_assert_eq(counted, 2, "child and grandchild counted: %d", counted);
        cr_assert_eq(signalled, 2, "child and grandchild signalled: %d", signalled);
        cr_assert_eq(wr, 0);
        cr_assert_eq(st.signal, SIGTERM, "the child died of the signal");
        cr_assert_not(g_alive, "the grandchild died of SIGTERM (cgroup emptied without the kill)");
}

/* The suite's .fini (tests/cg_testutil.h) kills what runs in a test's
 * cgroups and removes them, nested ones too: what a failed assertion leaves. */
Test(sup_cgroup, fini_cleanup_removes_populated_cgroups, .timeout = 60)
{
        struct pk_cgroup *cg = test_cgroup("left");
        struct pk_cgroup *sub = NULL;
        cr_assert_eq(pk_cgroup_create(pk_cgroup_path(cg), "inner", &sub), 0);
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s", pk_cgroup_path(cg));
        struct pk_cmd *c = probe_in(pk_cgroup_dirfd(sub), "sleep", "300", false);
        struct pk_proc *p;
        cr_assert_eq(pk_spawn(c, &p, NULL), 0);
        pk_cmd_free(c);
        /* forget the handles as a failed test would (the fds close with the process) */
        cgt_cleanup();
        struct stat st;
        cr_assert_eq(stat(path, &st), -1, "%s removed", path);
        cr_assert_eq(pk_proc_wait(p, -1, NULL), 0);
        pk_proc_free(p);
        pk_cgroup_free(sub);
        pk_cgroup_free(cg);
}
