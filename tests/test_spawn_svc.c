/* SPDX-License-Identifier: MIT */
/* The spawn layer's service settings, each checked from inside the child
 * (tests/helpers/spawn_probe reports /proc/self/status, oom_score_adj,
 * ioprio_get and sched_getscheduler): ambient capabilities across the uid
 * change (a child running as nobody binds a port below 1024), the bounding
 * set, OOM score, I/O and CPU scheduling, the user's supplementary groups;
 * directly and through the spawn helper's wire. */
#include "portkit/spawn.h"

#include "testutil.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROBE PK_BUILD_DIR "/tests/helpers/spawn_probe"
#define CAP_NET_BIND_SERVICE 10
#define CAP_KILL 5

static struct pk_spawn_helper *helper; /* non-NULL: spawn through it */

/* The probe in mode, run from / (tu_probe_cmd). */
static struct pk_cmd *probe(const char *mode)
{
        struct pk_cmd *c = tu_probe_cmd(mode);
        pk_cmd_cwd(c, "/");
        return c;
}

/* Spawns (directly or through the helper) and waits; returns the exit code. */
static int run(struct pk_cmd *c, struct pk_spawn_error *se)
{
        struct pk_proc *p = NULL;
        int r = helper ? pk_spawn_helper_spawn(helper, c, &p, se) : pk_spawn(c, &p, se);
        if (r < 0)
                return r;
        struct pk_exit st;
        cr_assert_eq(pk_proc_wait(p, -1, &st), 0);
        pk_proc_free(p);
        cr_assert(st.exited, "killed by %d", st.signal);
        return st.code;
}

static char *report(struct pk_cmd *c)
{
        struct pk_spawn_error se;
        int r = run(c, &se);
        char msg[700];
        pk_spawn_strerror(&se, msg, sizeof(msg));
        cr_assert_eq(r, 0, "probe: %d %s", r, r < 0 ? msg : "");
        return tu_probe_take_report();
}

static unsigned long long hexval(const char *rep, const char *key)
{
        const char *v = tu_kv(rep, key);
        cr_assert(v, "no %s", key);
        return strtoull(v, NULL, 16);
}

#define SKIP_UNLESS_ROOT()                                                                         \
        do {                                                                                       \
                if (geteuid() != 0)                                                                \
                        cr_skip_test("needs root");                                                \
        } while (0)

/* ---- capabilities ---- */

static void ambient_bind_low_port(void)
{
        SKIP_UNLESS_ROOT();
        /* Without the capability, nobody cannot bind below 1024: the test can fail. */
        struct pk_cmd *c = probe("bind");
        pk_cmd_user(c, "nobody");
        pk_cmd_fd_null(c, 1);
        cr_assert_eq(run(c, NULL), 1, "nobody bound a low port without CAP_NET_BIND_SERVICE");
        pk_cmd_free(c);

        c = probe("bind");
        pk_cmd_user(c, "nobody");
        pk_cmd_fd_null(c, 1);
        cr_assert_eq(pk_cmd_ambient_caps(c, PK_CAP(CAP_NET_BIND_SERVICE)), 0);
        int r = run(c, NULL);
        cr_assert_eq(r, 0, "nobody with an ambient CAP_NET_BIND_SERVICE binds: %d", r);
        pk_cmd_free(c);

        c = probe("report");
        pk_cmd_user(c, "nobody");
        pk_cmd_ambient_caps(c, PK_CAP(CAP_NET_BIND_SERVICE));
        char *rep = report(c);
        cr_assert_str_neq(tu_kv(rep, "uid"), "0,0,0");
        cr_assert_eq(hexval(rep, "CapAmb"), PK_CAP(CAP_NET_BIND_SERVICE));
        cr_assert_eq(hexval(rep, "CapEff"), PK_CAP(CAP_NET_BIND_SERVICE));
        cr_assert_eq(hexval(rep, "CapPrm"), PK_CAP(CAP_NET_BIND_SERVICE), "nothing else kept");
        free(rep);
        pk_cmd_free(c);
}

Test(spawn_svc, ambient_caps_across_uid_change)
{
        ambient_bind_low_port();
}

Test(spawn_svc, ambient_caps_through_helper)
{
        cr_assert_eq(pk_spawn_helper_new(&helper), 0);
        ambient_bind_low_port();
        helper = pk_spawn_helper_free(helper);
}

Test(spawn_svc, ambient_caps_without_uid_change)
{
        SKIP_UNLESS_ROOT();
        struct pk_cmd *c = probe("report");
        pk_cmd_ambient_caps(c, PK_CAP(CAP_NET_BIND_SERVICE) | PK_CAP(CAP_KILL));
        char *rep = report(c);
        cr_assert_eq(hexval(rep, "CapAmb"), PK_CAP(CAP_NET_BIND_SERVICE) | PK_CAP(CAP_KILL));
        free(rep);
        pk_cmd_free(c);
}

Test(spawn_svc, bounding_set)
{
        SKIP_UNLESS_ROOT();
        struct pk_cmd *c = probe("report");
        uint64_t keep = PK_CAP(CAP_NET_BIND_SERVICE) | PK_CAP(CAP_KILL);
        cr_assert_eq(pk_cmd_cap_bounding(c, keep), 0);
        char *rep = report(c);
        cr_assert_eq(hexval(rep, "CapBnd"), keep);
        /* Root's permitted set after exec is limited by the bounding set. */
        cr_assert_eq(hexval(rep, "CapPrm"), keep);
        free(rep);
        pk_cmd_free(c);

        /* An ambient capability outside the bounding set cannot be given. */
        c = probe("report");
        pk_cmd_user(c, "nobody");
        pk_cmd_cap_bounding(c, PK_CAP(CAP_KILL));
        pk_cmd_ambient_caps(c, PK_CAP(CAP_NET_BIND_SERVICE));
        struct pk_spawn_error se;
        int r = run(c, &se);
        cr_assert_eq(r, -EPERM, "%d", r);
        cr_assert_eq(se.step, PK_SPAWN_STEP_CAPS, "step %s", pk_spawn_step_name(se.step));
        cr_assert_str_eq(pk_spawn_step_name(PK_SPAWN_STEP_CAPBSET), "capability bounding set");
        pk_cmd_free(c);
}

/* ---- OOM score, I/O and CPU scheduling ---- */

Test(spawn_svc, oom_score_adj)
{
        int values[] = {500, -500, 1000};
        for (size_t i = 0; i < 3; i++) {
                struct pk_cmd *c = probe("report");
                cr_assert_eq(pk_cmd_oom_score_adj(c, values[i]), 0);
                if (values[i] < 0) {
                        /* Lowering needs CAP_SYS_RESOURCE (this sandbox's root
                         * lacks it): then a clear OOM step error. */
                        struct pk_spawn_error se;
                        int r = run(c, &se);
                        if (r != 0) {
                                cr_assert_eq(r, -EACCES, "%d", r);
                                cr_assert_eq(se.step, PK_SPAWN_STEP_OOM);
                                cr_assert_eq(se.value, values[i]);
                                pk_cmd_free(c);
                                continue;
                        }
                        unlink(tu_probe_report_path());
                }
                char *rep = report(c);
                char want[16];
                snprintf(want, sizeof(want), "%d", values[i]);
                cr_assert_str_eq(tu_kv(rep, "oom_score_adj"), want);
                free(rep);
                pk_cmd_free(c);
        }
        /* Only the child: the parent's own score is untouched (CLONE_VFORK). */
        FILE *f = fopen("/proc/self/oom_score_adj", "re");
        int mine = 12345;
        cr_assert_eq(fscanf(f, "%d", &mine), 1);
        fclose(f);
        cr_assert_neq(mine, 1000);
        struct pk_cmd *c = probe("report");
        cr_assert_eq(pk_cmd_oom_score_adj(c, 1001), -EINVAL);
        cr_assert_eq(pk_cmd_oom_score_adj(c, -1001), -EINVAL);
        pk_cmd_free(c);
}

Test(spawn_svc, ioprio)
{
        struct pk_cmd *c = probe("report");
        cr_assert_eq(pk_cmd_ioprio(c, PK_IOPRIO_CLASS_BE, 6), 0);
        char *rep = report(c);
        cr_assert_str_eq(tu_kv(rep, "ioprio"), "2,6");
        free(rep);
        pk_cmd_free(c);

        c = probe("report");
        cr_assert_eq(pk_cmd_ioprio(c, PK_IOPRIO_CLASS_IDLE, 0), 0);
        rep = report(c);
        cr_assert_str_eq(tu_kv(rep, "ioprio"), "3,0");
        free(rep);
        cr_assert_eq(pk_cmd_ioprio(c, 4, 0), -EINVAL);
        cr_assert_eq(pk_cmd_ioprio(c, PK_IOPRIO_CLASS_BE, 8), -EINVAL);
        pk_cmd_free(c);
}

Test(spawn_svc, sched_policy)
{
        static const int pol[] = {SCHED_BATCH, SCHED_IDLE};
        for (size_t i = 0; i < 2; i++) {
                struct pk_cmd *c = probe("report");
                cr_assert_eq(pk_cmd_sched(c, pol[i], 0), 0);
                char *rep = report(c);
                char want[16];
                snprintf(want, sizeof(want), "%d,0", pol[i]);
                cr_assert_str_eq(tu_kv(rep, "sched"), want);
                free(rep);
                pk_cmd_free(c);
        }
        /* Real time: granted to root unless the host's RT budget forbids it,
         * which must then come back as the SCHED step, not a dead child. */
        char want[32];
        struct pk_cmd *c = probe("report");
        cr_assert_eq(pk_cmd_sched(c, SCHED_FIFO | SCHED_RESET_ON_FORK, 3), 0);
        struct pk_spawn_error se;
        int r = run(c, &se);
        if (r == 0) {
                char *rep = tu_probe_take_report();
                /* sched_getscheduler() shows the flag in the policy. */
                snprintf(want, sizeof(want), "%d,3", SCHED_FIFO | SCHED_RESET_ON_FORK);
                cr_assert_str_eq(tu_kv(rep, "sched"), want);
                free(rep);
        } else {
                cr_assert_eq(r, -EPERM, "%d", r);
                cr_assert_eq(se.step, PK_SPAWN_STEP_SCHED);
        }
        cr_assert_eq(pk_cmd_sched(c, SCHED_FIFO, 0), -EINVAL);
        cr_assert_eq(pk_cmd_sched(c, SCHED_OTHER, 5), -EINVAL);
        cr_assert_eq(pk_cmd_sched(c, 99, 0), -EINVAL);
        pk_cmd_free(c);
}

Test(spawn_svc, all_through_helper)
{
        cr_assert_eq(pk_spawn_helper_new(&helper), 0);
        struct pk_cmd *c = probe("report");
        pk_cmd_oom_score_adj(c, 700);
        pk_cmd_ioprio(c, PK_IOPRIO_CLASS_BE, 5);
        pk_cmd_sched(c, SCHED_BATCH, 0);
        char *rep = report(c);
        cr_assert_str_eq(tu_kv(rep, "oom_score_adj"), "700");
        cr_assert_str_eq(tu_kv(rep, "ioprio"), "2,5");
        char want[16];
        snprintf(want, sizeof(want), "%d,0", SCHED_BATCH);
        cr_assert_str_eq(tu_kv(rep, "sched"), want);
        free(rep);
        pk_cmd_free(c);
        helper = pk_spawn_helper_free(helper);
}

/* ---- supplementary groups from the user database ---- */

Test(spawn_svc, user_supplementary_groups)
{
        SKIP_UNLESS_ROOT();
        /* A user that has a supplementary group in /etc/group. */
        struct group *gr;
        char *user = NULL;
        gid_t extra = 0;
        setgrent();
        while (!user && (gr = getgrent())) {
                for (char **m = gr->gr_mem; m && *m; m++) {
                        struct passwd *pw = getpwnam(*m);
                        if (pw && pw->pw_gid != gr->gr_gid) {
                                user = strdup(*m);
                                extra = gr->gr_gid;
                                break;
                        }
                }
        }
        endgrent();
        if (!user)
                cr_skip_test("no user with a supplementary group here");
        struct pk_cmd *c = probe("report");
        cr_assert_eq(pk_cmd_user(c, user), 0);
        char *rep = report(c);
        const char *groups = tu_kv(rep, "groups");
        char want[32];
        snprintf(want, sizeof(want), "%u", (unsigned)extra);
        bool found = false;
        char copy[1024];
        snprintf(copy, sizeof(copy), "%s", groups);
        for (char *s, *t = strtok_r(copy, ",", &s); t; t = strtok_r(NULL, ",", &s))
                found |= strcmp(t, want) == 0;
        cr_assert(found, "%s's group %s in %s", user, want, groups);
        cr_assert(!strstr(tu_kv(rep, "groups"), ",0,") &&
                      strncmp(tu_kv(rep, "groups"), "0,", 2) != 0,
                  "no root group");
        free(rep);
        pk_cmd_free(c);
        free(user);
}

Test(spawn_svc, dup_keeps_service_settings)
{
        struct pk_cmd *c = probe("report");
        pk_cmd_oom_score_adj(c, 600);
        pk_cmd_ioprio(c, PK_IOPRIO_CLASS_BE, 3);
        struct pk_cmd *d;
        cr_assert_eq(pk_cmd_dup(c, &d), 0);
        pk_cmd_free(c);
        char *rep = report(d);
        cr_assert_str_eq(tu_kv(rep, "oom_score_adj"), "600");
        cr_assert_str_eq(tu_kv(rep, "ioprio"), "2,3");
        free(rep);
        pk_cmd_free(d);
}
