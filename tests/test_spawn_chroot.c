/* SPDX-License-Identifier: MIT */
/* pk_cmd_chroot against a real root directory: a temporary tree holding a copy
 * of cat (under a name the host does not have) and the libraries it needs.
 * What the child reads proves where its "/" is; the uid change after it proves
 * the order (chroot needs CAP_SYS_CHROOT, which the uid change takes); the
 * spawn helper process carries the root too; errors name the step. */
#include "portkit/spawn.h"

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

static char root[64];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st;
        (void)flag;
        (void)ftw;
        (void)remove(path);
        return 0;
}

/* mkdir -p of root + dir (dir absolute). */
static void mkdirs(const char *dir)
{
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s%s", root, dir);
        for (char *s = p + strlen(root) + 1; *s; s++) {
                if (*s == '/') {
                        *s = '\0';
                        mkdir(p, 0755);
                        *s = '/';
                }
        }
        mkdir(p, 0755);
}

static void copy_file(const char *from, const char *to_in_root, mode_t mode)
{
        char to[PATH_MAX];
        snprintf(to, sizeof(to), "%s%s", root, to_in_root);
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s", to_in_root);
        *strrchr(dir, '/') = '\0';
        if (dir[0])
                mkdirs(dir);
        FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
        cr_assert(in && out, "copy %s -> %s: %s", from, to, strerror(errno));
        char buf[65536];
        size_t n;
        while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
                cr_assert_eq(fwrite(buf, 1, n, out), n);
        fclose(in);
        fclose(out);
        chmod(to, mode);
}

static void write_text(const char *in_root, const char *text)
{
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s%s", root, in_root);
        FILE *f = fopen(p, "w");
        cr_assert(f);
        fputs(text, f);
        fclose(f);
}

/* The root: /bin/pk-cat (cat), its libraries as ldd lists them, /pk-marker,
 * /sub/marker2. */
static void make_root(void)
{
        snprintf(root, sizeof(root), "/tmp/pk-chroot-XXXXXX");
        cr_assert(mkdtemp(root));
        chmod(root, 0755);
        copy_file("/bin/cat", "/bin/pk-cat", 0755);
        FILE *l = popen("ldd /bin/cat", "r");
        cr_assert(l);
        char line[512];
        while (fgets(line, sizeof(line), l)) {
                char *lib = strchr(line, '/');
                if (!lib)
                        continue;
                lib[strcspn(lib, " \n")] = '\0';
                copy_file(lib, lib, 0755);
        }
        pclose(l);
        write_text("/pk-marker", "inside the root\n");
        mkdirs("/sub");
        write_text("/sub/marker2", "in /sub\n");
}

static void remove_root(void)
{
        if (root[0])
                nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

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
