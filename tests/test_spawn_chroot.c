/* SPDX-License-Identifier: MIT */
/* pk_cmd_chroot against a real root directory: a temporary tree holding a copy
 * of cat (under a name the host does not have) and the libraries it needs.
 * What the child reads proves where its "/" is; the uid change after it proves
 * the order (chroot needs CAP_SYS_CHROOT, which the uid change takes); the
 * spawn helper process carries the root too; errors name the step. */
#include "chroot_root.h"
#include "portkit/spawn.h"
#include "portkit/unit.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

TestSuite(spawn_chroot, .init = make_root, .fini = remove_root);

/* Runs cat with `arg` in the root (through PATH), optionally with a cwd and uid. */
static int run_cat(const char *arg, const char *cwd, int uid, struct pk_run_result *res,
                   struct pk_spawn_error *se)
{
        struct pk_cmd *c;
        cr_assert_eq(pk_cmd_new("pk-cat", &c), 0);
        pk_cmd_arg(c, arg);
        pk_cmd_env_set(c, "PATH", "/bin");
        cr_assert_eq(pk_cmd_chroot(c, root), 0);
        if (cwd)
                cr_assert_eq(pk_cmd_cwd(c, cwd), 0);
        if (uid >= 0) {
                cr_assert_eq(pk_cmd_uid(c, (uid_t)uid), 0);
                cr_assert_eq(pk_cmd_gid(c, (gid_t)uid), 0);
        }
        int r = pk_run(c, NULL, res, se);
        pk_cmd_free(c);
        return r;
}

Test(spawn_chroot, child_sees_the_root)
{
        if (geteuid() != 0)
                cr_skip_test("chroot needs CAP_SYS_CHROOT");
        struct pk_run_result res;
        struct pk_spawn_error se = {0};
        int r = run_cat("/pk-marker", NULL, -1, &res, &se);
        cr_assert_eq(r, 0, "%s (step %s)", pk_strerror(r), pk_spawn_step_name(se.step));
        cr_assert_eq(res.status.code, 0, "stderr: %s", res.err ? res.err : "");
        cr_assert_str_eq(res.out, "inside the root\n");
        pk_run_result_free(&res);
        /* The host has no /pk-marker: read from the host's "/", cat fails. */
        cr_assert_neq(access("/pk-marker", F_OK), 0);
}

Test(spawn_chroot, cwd_inside_the_root_then_uid)
{
        if (geteuid() != 0)
                cr_skip_test("chroot needs CAP_SYS_CHROOT");
        struct pk_run_result res;
        struct pk_spawn_error se = {0};
        /* chroot after the uid change would fail with EPERM: the order shows. */
        int r = run_cat("marker2", "/sub", 65534, &res, &se);
        cr_assert_eq(r, 0, "%s (step %s)", pk_strerror(r), pk_spawn_step_name(se.step));
        cr_assert_eq(res.status.code, 0, "stderr: %s", res.err ? res.err : "");
        cr_assert_str_eq(res.out, "in /sub\n");
        pk_run_result_free(&res);
}

Test(spawn_chroot, through_the_spawn_helper)
{
        if (geteuid() != 0)
                cr_skip_test("chroot needs CAP_SYS_CHROOT");
        struct pk_spawn_helper *h;
        cr_assert_eq(pk_spawn_helper_new(&h), 0);
        struct pk_cmd *c;
        cr_assert_eq(pk_cmd_new("/bin/pk-cat", &c), 0);
        pk_cmd_arg(c, "/pk-marker");
        pk_cmd_chroot(c, root);
        pk_cmd_fd_pipe(c, 1, PK_PIPE_CHILD_WRITES);
        struct pk_proc *p;
        struct pk_spawn_error se = {0};
        int r = pk_spawn_helper_spawn(h, c, &p, &se);
        cr_assert_eq(r, 0, "%s (step %s)", pk_strerror(r), pk_spawn_step_name(se.step));
        char buf[64] = "";
        FILE *out = fdopen(pk_proc_take_fd(p, 1), "r");
        char *got = fgets(buf, sizeof(buf), out);
        fclose(out);
        struct pk_exit st;
        pk_proc_wait(p, -1, &st);
        pk_proc_free(p);
        pk_cmd_free(c);
        pk_spawn_helper_free(h);
        cr_assert(got);
        cr_assert_str_eq(buf, "inside the root\n");
        cr_assert_eq(st.code, 0);
}

Test(spawn_chroot, errors)
{
        struct pk_cmd *c;
        cr_assert_eq(pk_cmd_new("/bin/pk-cat", &c), 0);
        cr_assert_eq(pk_cmd_chroot(c, "relative"), -EINVAL);
        cr_assert_eq(pk_cmd_chroot(c, NULL), -EINVAL);
        cr_assert_eq(pk_cmd_chroot(NULL, "/"), -EINVAL);
        char missing[PATH_MAX];
        snprintf(missing, sizeof(missing), "%s/no-such-dir", root);
        cr_assert_eq(pk_cmd_chroot(c, missing), 0);
        struct pk_proc *p = NULL;
        struct pk_spawn_error se = {0};
        int r = pk_spawn(c, &p, &se);
        cr_assert_eq(r, -ENOENT, "%s", pk_strerror(r));
        cr_assert_eq(se.step, PK_SPAWN_STEP_CHROOT);
        cr_assert_str_eq(pk_spawn_step_name(PK_SPAWN_STEP_CHROOT), "chroot");
        char msg[512];
        pk_spawn_strerror(&se, msg, sizeof(msg));
        cr_assert(strstr(msg, "no-such-dir"), "%s", msg);
        /* A PATH search under a root that lacks the program fails in the parent. */
        struct pk_cmd *d;
        cr_assert_eq(pk_cmd_new("cat", &d), 0);
        pk_cmd_env_set(d, "PATH", "/bin");
        pk_cmd_chroot(d, root);
        r = pk_spawn(d, &p, &se);
        cr_assert_eq(r, -ENOENT);
        cr_assert_eq(se.step, PK_SPAWN_STEP_LOOKUP);
        /* A copy keeps the root. */
        struct pk_cmd *e;
        cr_assert_eq(pk_cmd_dup(c, &e), 0);
        r = pk_spawn(e, &p, &se);
        cr_assert_eq(se.step, PK_SPAWN_STEP_CHROOT);
        pk_cmd_free(e);
        pk_cmd_free(d);
        pk_cmd_free(c);
}

/* The unit layer's RootDirectory=: every command of the unit runs inside it
 * (WorkingDirectory= too); with the unit-exec helper it is reported as not
 * enforced. */
Test(spawn_chroot, unit_root_directory)
{
        if (geteuid() != 0)
                cr_skip_test("chroot needs CAP_SYS_CHROOT");
        char text[512];
        snprintf(text, sizeof(text),
                 "[Service]\nExecStart=/bin/pk-cat marker2\nRootDirectory=%s\n"
                 "WorkingDirectory=-/sub\n",
                 root);
        struct pk_unit *u = NULL;
        struct pk_unit_error e;
        cr_assert_eq(pk_unit_parse("r.service", "/x/r.service", text, strlen(text), NULL, &u, &e),
                     0, "%s", e.message);
        cr_assert_eq(pk_unit_finish(u, &e), 0, "%s", e.message);
        struct pk_unit_child *c = NULL;
        cr_assert_eq(pk_unit_to_child(u, NULL, &c, &e), 0, "%s", e.message);
        for (size_t i = 0; i < c->notes.n; i++)
                cr_assert_null(strstr(c->notes.v[i], "RootDirectory"), "%s", c->notes.v[i]);
        struct pk_run_result res;
        struct pk_spawn_error se = {0};
        int r = pk_run(c->cmd, NULL, &res, &se);
        cr_assert_eq(r, 0, "%s (step %s)", pk_strerror(r), pk_spawn_step_name(se.step));
        cr_assert_eq(res.status.code, 0, "stderr: %s", res.err ? res.err : "");
        cr_assert_str_eq(res.out, "in /sub\n");
        pk_run_result_free(&res);
        pk_unit_child_free(c);
        pk_unit_free(u);

        snprintf(text, sizeof(text),
                 "[Service]\nType=oneshot\nExecStart=/bin/pk-cat /pk-marker\nRootDirectory=%s\n",
                 root);
        cr_assert_eq(pk_unit_parse("h.service", "/x/h.service", text, strlen(text), NULL, &u, &e),
                     0, "%s", e.message);
        cr_assert_eq(pk_unit_finish(u, &e), 0, "%s", e.message);
        const char *helper[] = {"/usr/bin/portkit", "unit-exec", NULL};
        struct pk_unit_child_opts o = {.helper = helper};
        cr_assert_eq(pk_unit_to_child(u, &o, &c, &e), 0, "%s", e.message);
        bool noted = false;
        for (size_t i = 0; i < c->notes.n; i++)
                noted = noted || strstr(c->notes.v[i], "RootDirectory= is not enforced");
        cr_assert(noted, "with the helper, RootDirectory= is reported");
        pk_unit_child_free(c);
        pk_unit_free(u);
}
