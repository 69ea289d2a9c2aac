/* SPDX-License-Identifier: MIT */
/* A real root directory for chroot tests (tests/test_spawn_chroot.c,
 * tests/test_cli_run.c): a temporary tree holding a copy of cat as
 * /bin/pk-cat (a name the host does not have) with the libraries ldd lists,
 * /pk-marker ("inside the root") and /sub/marker2 ("in /sub").  Criterion
 * asserts; remove_root() takes it all away. */
#ifndef PK_TEST_CHROOT_ROOT_H
#define PK_TEST_CHROOT_ROOT_H

#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The root directory made by make_root() ("" before). */
static char root[64];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st;
        (void)flag;
        (void)ftw;
        (void)remove(path);
        return 0;
}

/* root + path (absolute) into p; a path past PATH_MAX fails the test. */
static void root_path(char p[PATH_MAX], const char *path)
{
        int n = snprintf(p, PATH_MAX, "%s%s", root, path);
        cr_assert(n >= 0 && n < PATH_MAX, "too long: %s%s", root, path);
}

/* mkdir -p of root + dir (dir absolute). */
static void mkdirs(const char *dir)
{
        char p[PATH_MAX];
        root_path(p, dir);
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
        root_path(to, to_in_root);
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
        root_path(p, in_root);
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

#endif
