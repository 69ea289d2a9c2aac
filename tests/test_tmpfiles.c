/* SPDX-License-Identifier: MIT */
/* tmpfiles.d (src/unit/tmpfiles.c): small configurations applied into a
 * fresh temporary root, one test per rule: each line type, overrides by file
 * name across directories, specifiers, the ! - = + ~ ^ modifiers and the
 * : and ~ mode prefixes, and warnings and errors naming file:line.  Debian's
 * own /usr/lib/tmpfiles.d files must parse without a warning. */
#include "testutil.h"

#include <criterion/criterion.h>
#include <portkit/unit.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

static char g_root[256];
static char g_notes[64][640];
static int g_nnotes;

static void collect(void *ud, const struct pk_unit_tmpfiles_note *n)
{
        (void)ud;
        static const char *const kinds[] = {"warning", "error", "not-enforced"};
        if (g_nnotes < 64)
                snprintf(g_notes[g_nnotes++], sizeof(g_notes[0]), "%s %s:%u %s: %s", kinds[n->kind],
                         n->file, n->line, n->type, n->message);
}

static void setup(void)
{
        tu_tmpdir(g_root, sizeof(g_root));
        g_nnotes = 0;
}

static void teardown(void)
{
        if (g_root[0])
                tu_rmrf(g_root);
}

/* Writes text to root/rel, making the directories on the way. */
static void put(const char *rel, const char *text)
{
        char p[512];
        snprintf(p, sizeof(p), "%s%s", g_root, rel);
        for (char *s = p + strlen(g_root) + 1; (s = strchr(s, '/')); s++) {
                *s = '\0';
                (void)mkdir(p, 0755);
                *s = '/';
        }
        FILE *f = fopen(p, "w");
        cr_assert(f, "open %s: %s", p, strerror(errno));
        fputs(text, f);
        fclose(f);
}

static void mkdirs(const char *rel)
{
        char p[512];
        snprintf(p, sizeof(p), "%s%s/", g_root, rel);
        for (char *s = p + strlen(g_root) + 1; (s = strchr(s, '/')); s++) {
                *s = '\0';
                (void)mkdir(p, 0755);
                *s = '/';
        }
}

static const char *at(const char *rel)
{
        static char p[4][512];
        static int i;
        i = (i + 1) % 4;
        snprintf(p[i], sizeof(p[i]), "%s%s", g_root, rel);
        return p[i];
}

static struct stat st_of(const char *rel)
{
        struct stat st;
        cr_assert_eq(lstat(at(rel), &st), 0, "%s: %s", rel, strerror(errno));
        return st;
}

static bool exists(const char *rel)
{
        struct stat st;
        return lstat(at(rel), &st) == 0;
}

static char *content(const char *rel)
{
        return tu_slurp(at(rel), NULL);
}

static int apply(unsigned int flags, const struct pk_unit_host *host,
                 struct pk_unit_tmpfiles_stats *st)
{
        static const char *const dirs[] = {"/etc/tmpfiles.d", "/run/tmpfiles.d",
                                           "/usr/local/lib/tmpfiles.d", "/usr/lib/tmpfiles.d",
                                           NULL};
        struct pk_unit_tmpfiles_opts o = {
            .flags = flags, .dirs = dirs, .root = g_root, .host = host, .note = collect};
        return pk_unit_tmpfiles_apply(&o, st);
}

static bool noted(const char *needle)
{
        for (int i = 0; i < g_nnotes; i++)
                if (strstr(g_notes[i], needle))
                        return true;
        return false;
}

static void dump_notes(void)
{
        for (int i = 0; i < g_nnotes; i++)
                cr_log_info("note: %s", g_notes[i]);
}

Test(tmpfiles, each_line_type_in_a_temp_root, .init = setup, .fini = teardown)
{
        if (geteuid() != 0)
                cr_skip_test("ownership and device nodes need root");
        /* what exists before */
        put("/run/fplus", "old content");
        put("/run/w", "");
        put("/run/f-old", "kept");
        put("/run/z", "");
        chmod(at("/run/z"), 0644);
        put("/run/Ztree/sub/file", "x");
        put("/run/r", "");
        put("/run/R/deep/file", "");
        put("/src/file", "copied\n");
        put("/run/D/old", "");
        mkdirs("/run/edir");
        chmod(at("/run/edir"), 0700);
        put("/etc/tmpfiles.d/all.conf", "# a comment, then a blank line\n"
                                        "\n"
                                        "d /run/a 0750 daemon daemon -\n"
                                        "D /run/D 0700 - - 10d\n"
                                        "v /run/v\n"
                                        "q /run/q\n"
                                        "Q /run/Q 0711\n"
                                        "e /run/edir 0750 - - 1d\n"
                                        "f /run/f 0600 1 1 - hello\\x20world\\n\n"
                                        "f /run/f-old 0600 - - - not written\n"
                                        "f+ /run/fplus - - - - new\n"
                                        "w /run/w - - - - written\n"
                                        "w+ /run/w - - - - +more\n"
                                        "w /run/missing - - - - nothing\n"
                                        "p /run/fifo 0620\n"
                                        "L /run/link - - - - /run/a\n"
                                        "L+ /run/link2 - - - - /target\n"
                                        "c /run/null 0666 - - - 1:3\n"
                                        "b /run/loop 0600 - - - 7:0\n"
                                        "z /run/z 0640 daemon -\n"
                                        "Z /run/Ztree 0700 daemon daemon\n"
                                        "x /run/x\n"
                                        "r /run/r\n"
                                        "R /run/R\n"
                                        "h /run/a - - - - +C\n"
                                        "a+ /run/a - - - - group:adm:r-x\n"
                                        "t /run/a - - - - user.x=1\n"
                                        "C /run/copy - - - - /src/file\n"
                                        "C /run/nosrc - - - - /src/none\n"
                                        "d /run/deep/er/dir\n");
        struct pk_unit_tmpfiles_stats s;
        int r = apply(0, NULL, &s);
        dump_notes();
        cr_assert_eq(r, 0, "%s", pk_strerror(r));
        cr_assert_eq(s.files, 1);
        cr_assert_eq(s.warnings, 0);
        cr_assert_eq(s.errors, 0);
        struct stat st = st_of("/run/a");
        cr_assert(S_ISDIR(st.st_mode));
        cr_assert_eq(st.st_mode & 07777, 0750);
        cr_assert_eq(st.st_uid, 1);
        cr_assert_eq(st.st_gid, 1);
        cr_assert(exists("/run/D/old"), "D contents stay without REMOVE");
        cr_assert_eq(st_of("/run/D").st_mode & 07777, 0700);
        cr_assert(S_ISDIR(st_of("/run/v").st_mode));
        cr_assert_eq(st_of("/run/edir").st_mode & 07777, 0750, "e adjusts an existing directory");
        cr_assert(S_ISDIR(st_of("/run/q").st_mode));
        cr_assert_eq(st_of("/run/Q").st_mode & 07777, 0711);
        st = st_of("/run/f");
        cr_assert(S_ISREG(st.st_mode));
        cr_assert_eq(st.st_mode & 07777, 0600);
        cr_assert_eq(st.st_uid, 1);
        char *c = content("/run/f");
        cr_assert_str_eq(c, "hello world\n");
        free(c);
        c = content("/run/f-old");
        cr_assert_str_eq(c, "kept", "f does not write an existing file");
        free(c);
        cr_assert_eq(st_of("/run/f-old").st_mode & 07777, 0600, "f still adjusts the mode");
        c = content("/run/fplus");
        cr_assert_str_eq(c, "new");
        free(c);
        c = content("/run/w");
        cr_assert_str_eq(c, "written+more");
        free(c);
        cr_assert(!exists("/run/missing"), "w creates nothing");
        st = st_of("/run/fifo");
        cr_assert(S_ISFIFO(st.st_mode));
        cr_assert_eq(st.st_mode & 07777, 0620);
        char lk[256];
        ssize_t n = readlink(at("/run/link"), lk, sizeof(lk) - 1);
        cr_assert_gt(n, 0);
        lk[n] = '\0';
        cr_assert_str_eq(lk, "/run/a");
        cr_assert(S_ISLNK(st_of("/run/link2").st_mode));
        st = st_of("/run/null");
        cr_assert(S_ISCHR(st.st_mode));
        cr_assert_eq(major(st.st_rdev), 1);
        cr_assert_eq(minor(st.st_rdev), 3);
        cr_assert(S_ISBLK(st_of("/run/loop").st_mode));
        st = st_of("/run/z");
        cr_assert_eq(st.st_mode & 07777, 0640);
        cr_assert_eq(st.st_uid, 1);
        st = st_of("/run/Ztree/sub/file");
        cr_assert_eq(st.st_mode & 07777, 0700);
        cr_assert_eq(st.st_gid, 1);
        cr_assert(exists("/run/r") && exists("/run/R/deep/file"), "r/R only with REMOVE");
        c = content("/run/copy");
        cr_assert_str_eq(c, "copied\n");
        free(c);
        cr_assert(!exists("/run/nosrc"), "C with a missing source is skipped");
        cr_assert(S_ISDIR(st_of("/run/deep/er/dir").st_mode), "parents are made");
        cr_assert_str_eq(s.not_enforced, "hat");
        cr_assert(noted("not-enforced ") && noted(":25 h: "), "h noted with its line");
        cr_assert_eq(s.aged, 2);
        /* skipped: x, r, R, C without a source */
        cr_assert_eq(s.skipped, 4, "skipped %u", s.skipped);
        /* twice is the same (d on an existing directory, f on a file, ...) */
        g_nnotes = 0;
        r = apply(0, NULL, &s);
        dump_notes();
        cr_assert_eq(r, 0, "%s", pk_strerror(r));
        cr_assert_eq(s.errors + s.warnings, 0);
}

Test(tmpfiles, remove_flag_removes_r_R_and_D_contents, .init = setup, .fini = teardown)
{
        put("/run/r", "");
        put("/run/rglob1.lock", "");
        put("/run/rglob2.lock", "");
        put("/run/R/deep/file", "");
        put("/run/D/old", "");
        put("/usr/lib/tmpfiles.d/rm.conf", "r /run/r\n"
                                           "r! /run/rglob*.lock\n"
                                           "R /run/R\n"
                                           "D /run/D\n");
        struct pk_unit_tmpfiles_stats s;
        cr_assert_eq(apply(PK_UNIT_TMPFILES_REMOVE, NULL, &s), 0);
        cr_assert(!exists("/run/r") && !exists("/run/R"));
        cr_assert(exists("/run/rglob1.lock"), "r! needs BOOT too");
        cr_assert(exists("/run/D") && !exists("/run/D/old"));
        cr_assert_eq(apply(PK_UNIT_TMPFILES_REMOVE | PK_UNIT_TMPFILES_BOOT, NULL, &s), 0);
        cr_assert(!exists("/run/rglob1.lock") && !exists("/run/rglob2.lock"));
}

Test(tmpfiles, same_name_overrides_and_order_by_name_across_dirs, .init = setup, .fini = teardown)
{
        put("/usr/lib/tmpfiles.d/x.conf", "d /run/hidden\n");
        put("/etc/tmpfiles.d/x.conf", "d /run/x1 0700\n"
                                      "d /run/dup 0722\n");
        put("/run/tmpfiles.d/b.conf", "d /run/b\n");
        put("/usr/local/lib/tmpfiles.d/a.conf", "d /run/dup 0711\n");
        put("/usr/lib/tmpfiles.d/masked.conf", "d /run/masked\n");
        mkdirs("/etc/tmpfiles.d");
        cr_assert_eq(symlink("/dev/null", at("/etc/tmpfiles.d/masked.conf")), 0);
        put("/usr/lib/tmpfiles.d/notconf.txt", "d /run/notconf\n");
        struct pk_unit_tmpfiles_stats s;
        int r = apply(0, NULL, &s);
        dump_notes();
        cr_assert_eq(r, 0);
        cr_assert(!exists("/run/hidden"), "/usr/lib's x.conf is overridden by /etc's");
        cr_assert(!exists("/run/masked"), "a link to /dev/null masks");
        cr_assert(!exists("/run/notconf"));
        cr_assert(exists("/run/b"));
        cr_assert_eq(st_of("/run/x1").st_mode & 07777, 0700);
        /* a.conf sorts before x.conf whatever their directories: its line wins */
        cr_assert_eq(st_of("/run/dup").st_mode & 07777, 0711);
        cr_assert(noted("warning ") && noted("/etc/tmpfiles.d/x.conf:2 d: duplicate line"),
                  "the later duplicate is named");
        cr_assert_eq(s.files, 3);
}

Test(tmpfiles, specifiers, .init = setup, .fini = teardown)
{
        const struct pk_unit_host h = {.hostname = "box.example.org",
                                       .machine_id = "0123456789abcdef0123456789abcdef",
                                       .boot_id = "b00t",
                                       .kernel = "6.1.0-test",
                                       .arch = "x86-64",
                                       .os_id = "debian",
                                       .os_version = "12"};
        put("/etc/tmpfiles.d/s.conf",
            "d /run/%m-%l\n"
            "f /run/spec - - - - %t|%S|%C|%L|%h|%U|%G|%u|%g|%%|%v|%b|%H|%a|%o|%w|%B\n"
            "f /run/raw~ - - - - %Z\n"
            "d /run/bad-%Z\n");
        unsetenv("TMPDIR");
        unsetenv("TEMP");
        unsetenv("TMP");
        struct pk_unit_tmpfiles_stats s;
        int r = apply(0, &h, &s);
        dump_notes();
        cr_assert(exists("/run/0123456789abcdef0123456789abcdef-box"));
        char *c = content("/run/spec");
        char want[512];
        snprintf(want, sizeof(want),
                 "/run|/var/lib|/var/cache|/var/log|%s|%u|%u|%s|%s|%%|6.1.0-test|b00t|box.example."
                 "org|x86-64|debian|12|",
                 geteuid() == 0 ? "/root" : getenv("HOME"), (unsigned)geteuid(),
                 (unsigned)getegid(), geteuid() == 0 ? "root" : "", geteuid() == 0 ? "root" : "");
        if (geteuid() == 0)
                cr_assert_str_eq(c, want);
        free(c);
        cr_assert(noted("warning ") && noted("s.conf:3 f: unknown or unavailable specifier '%Z'"));
        cr_assert(noted("s.conf:4 d: unknown or unavailable specifier '%Z' in the path"));
        cr_assert_eq(s.warnings, 2);
        cr_assert_eq(r, 0, "warnings are not failures");
        /* %T and %V follow $TMPDIR; without host values %m is refused */
        setenv("TMPDIR", "/scratch", 1);
        g_nnotes = 0;
        put("/etc/tmpfiles.d/s.conf", "f /run/tv - - - - %T|%V\n"
                                      "d /run/%m\n");
        r = apply(0, NULL, &s);
        unsetenv("TMPDIR");
        c = content("/run/tv");
        cr_assert_str_eq(c, "/scratch|/scratch");
        free(c);
        cr_assert(noted("s.conf:2 d: unknown or unavailable specifier '%m'"));
}

Test(tmpfiles, modifiers_and_mode_prefixes, .init = setup, .fini = teardown)
{
        put("/run/blocker", "");
        put("/run/eq", "a file where a directory goes");
        mkdirs("/run/keep");
        chmod(at("/run/keep"), 0700);
        put("/run/masked-mode", "");
        chmod(at("/run/masked-mode"), 0600);
        put("/run/p+", "");
        put("/etc/tmpfiles.d/m.conf", "d! /run/bootonly\n"
                                      "d- /run/blocker/sub\n"
                                      "d= /run/eq\n"
                                      "f~ /run/b64 - - - - aGVsbG8K\n"
                                      "f^ /run/cred - - - - some.credential\n"
                                      "d /run/keep :0755\n"
                                      "z /run/masked-mode ~0775\n"
                                      "p+ /run/p+\n");
        struct pk_unit_tmpfiles_stats s;
        int r = apply(0, NULL, &s);
        dump_notes();
        cr_assert_eq(r, 0, "a '-' line's failure is no failure: %s", pk_strerror(r));
        cr_assert(!exists("/run/bootonly"));
        cr_assert(noted("warning ") && noted("m.conf:2 d-: create /run/blocker/sub:") &&
                  noted("(ignored: '-')"));
        cr_assert(S_ISDIR(st_of("/run/eq").st_mode), "= replaces a file by a directory");
        char *c = content("/run/b64");
        cr_assert_str_eq(c, "hello\n");
        free(c);
        cr_assert(!exists("/run/cred"), "no credentials: ^ lines are skipped");
        cr_assert_eq(st_of("/run/keep").st_mode & 07777, 0700,
                     ": applies the mode on creation only");
        cr_assert_eq(st_of("/run/masked-mode").st_mode & 07777, 0664,
                     "~ keeps x bits off where none were set");
        cr_assert(S_ISFIFO(st_of("/run/p+").st_mode), "p+ replaces a file");
        cr_assert_eq(s.warnings, 1);
        r = apply(PK_UNIT_TMPFILES_BOOT, NULL, &s);
        cr_assert(exists("/run/bootonly"));
        /* without '-' the same failure is an error */
        g_nnotes = 0;
        put("/etc/tmpfiles.d/m.conf", "d /run/blocker/sub\n");
        r = apply(0, NULL, &s);
        cr_assert_eq(r, -ENOTDIR, "%s", pk_strerror(r));
        cr_assert_eq(s.errors, 1);
        cr_assert(noted("error ") && noted("m.conf:1 d: create /run/blocker/sub"));
}

Test(tmpfiles, errors_and_warnings_name_file_and_line, .init = setup, .fini = teardown)
{
        put("/usr/lib/tmpfiles.d/bad.conf", "Y /run/y\n"
                                            "d /run/m 9999\n"
                                            "d run/relative\n"
                                            "d /run/u 0755 no-such-user-pk\n"
                                            "d /run/g 0755 - no-such-group-pk\n"
                                            "d \"/run/open\n"
                                            "w /run/noarg\n"
                                            "d+ /run/plus\n"
                                            "c /run/dev 0600 - - - nodev\n"
                                            "d /run/../etc\n"
                                            "d /run/age - - - 3fortnights\n"
                                            "d\n"
                                            "d /run/good\n");
        struct pk_unit_tmpfiles_stats s;
        int r = apply(0, NULL, &s);
        dump_notes();
        cr_assert_eq(r, PK_ENOUSER, "a missing user is an error: %s", pk_strerror(r));
        const char *f = "/usr/lib/tmpfiles.d/bad.conf";
        static const char *const want[][2] = {
            {"warning", ":1 : unknown line type 'Y'"},
            {"warning", ":2 d: bad mode '9999'"},
            {"warning", ":3 d: path 'run/relative' is not absolute"},
            {"error", ":4 d: no such user 'no-such-user-pk'"},
            {"error", ":5 d: no such group 'no-such-group-pk'"},
            {"warning", ":6 : bad quoting"},
            {"warning", ":7 w: type 'w' needs an argument"},
            {"warning", ":8 d+: '+' does not apply"},
            {"warning", ":9 c: a device needs major:minor"},
            {"warning", ":10 d: path '/run/../etc' is not absolute and normalized"},
            {"warning", ":11 d: bad age '3fortnights'"},
            {"warning", ":12 : a line needs at least a type and a path"},
        };
        for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
                char w[512];
                snprintf(w, sizeof(w), "%s %s%s%s", want[i][0], g_root, f, want[i][1]);
                cr_assert(noted(w), "no note '%s'", w);
        }
        cr_assert_eq(s.errors, 2);
        cr_assert_eq(s.warnings, 10);
        cr_assert(exists("/run/good"), "the apply goes on after bad lines");
        cr_assert(!exists("/run/y") && !exists("/run/u") && !exists("/run/m"));
        /* strict: the warnings are errors */
        g_nnotes = 0;
        put("/usr/lib/tmpfiles.d/bad.conf", "Y /run/y\n");
        r = apply(PK_UNIT_TMPFILES_STRICT, NULL, &s);
        cr_assert_eq(r, PK_EUNITSYNTAX, "%s", pk_strerror(r));
        cr_assert_eq(s.errors, 1);
        cr_assert_eq(s.warnings, 0);
}

/* Default modes (0755 directories, 0644 the rest) whatever the umask. */
Test(tmpfiles, default_modes_ignore_the_umask, .init = setup, .fini = teardown)
{
        put("/etc/tmpfiles.d/u.conf", "d /run/um\nf /run/umf\np /run/ump\nd /run/um2 0770\n");
        mode_t old = umask(077);
        struct pk_unit_tmpfiles_stats s;
        int r = apply(0, NULL, &s);
        umask(old);
        cr_assert_eq(r, 0);
        cr_assert_eq(st_of("/run/um").st_mode & 07777, 0755);
        cr_assert_eq(st_of("/run/umf").st_mode & 07777, 0644);
        cr_assert_eq(st_of("/run/ump").st_mode & 07777, 0644);
        cr_assert_eq(st_of("/run/um2").st_mode & 07777, 0770);
}

/* Modes and owners are never set through a link (a link planted in /tmp must
 * not redirect a root chmod). */
Test(tmpfiles, links_are_not_followed, .init = setup, .fini = teardown)
{
        put("/run/target", "");
        chmod(at("/run/target"), 0644);
        mkdirs("/run/tdir");
        chmod(at("/run/tdir"), 0755);
        cr_assert_eq(symlink(at("/run/target"), at("/run/lnk")), 0);
        cr_assert_eq(symlink(at("/run/tdir"), at("/run/dlink")), 0);
        put("/etc/tmpfiles.d/l.conf", "z /run/lnk 0600\n"
                                      "Z /run/dlink 0700\n"
                                      "d /run/dlink 0700\n"
                                      "f /run/lnk 0600\n");
        struct pk_unit_tmpfiles_stats s;
        (void)apply(0, NULL, &s);
        dump_notes();
        cr_assert_eq(st_of("/run/target").st_mode & 07777, 0644);
        cr_assert_eq(st_of("/run/tdir").st_mode & 07777, 0755);
        cr_assert(S_ISLNK(st_of("/run/lnk").st_mode));
}

/* systemd-tmpfiles' order: a parent path's line before its children's lines,
 * whatever the files' order; glob lines after all the others. */
Test(tmpfiles, parents_first_and_globs_last, .init = setup, .fini = teardown)
{
        mkdirs("/run/real");
        put("/etc/tmpfiles.d/a.conf", "d /run/par/child 0700\n"
                                      "z /run/g* 0700\n");
        put("/etc/tmpfiles.d/b.conf", "L /run/par - - - - real\n"
                                      "d /run/gdir 0755\n");
        struct pk_unit_tmpfiles_stats s;
        int r = apply(0, NULL, &s);
        dump_notes();
        cr_assert_eq(r, 0, "%s", pk_strerror(r));
        cr_assert(S_ISLNK(st_of("/run/par").st_mode), "the parent's L line came first");
        cr_assert(S_ISDIR(st_of("/run/real/child").st_mode));
        cr_assert_eq(st_of("/run/gdir").st_mode & 07777, 0700, "the glob line came last");
        cr_assert_eq(s.applied, 4);
}

/* Lines before the line limit are applied; the limit is an error. */
Test(tmpfiles, line_limit, .init = setup, .fini = teardown)
{
        put("/etc/tmpfiles.d/a.conf", "d /run/l1\nd /run/l2\nd /run/l3\n");
        static const char *const dirs[] = {"/etc/tmpfiles.d", NULL};
        struct pk_unit_tmpfiles_opts o = {
            .dirs = dirs, .root = g_root, .max_lines = 2, .note = collect};
        struct pk_unit_tmpfiles_stats s;
        int r = pk_unit_tmpfiles_apply(&o, &s);
        dump_notes();
        cr_assert_eq(r, PK_EUNITLIMIT, "%s", pk_strerror(r));
        cr_assert(exists("/run/l1") && exists("/run/l2") && !exists("/run/l3"));
        cr_assert(noted("a.conf:3 : more than 2 lines"));
}

Test(tmpfiles, dry_run_touches_nothing, .init = setup, .fini = teardown)
{
        put("/etc/tmpfiles.d/d.conf", "d /run/dry\nf /run/dryf\nL /run/dryl - - - - /x\n");
        struct pk_unit_tmpfiles_stats s;
        cr_assert_eq(apply(PK_UNIT_TMPFILES_DRY_RUN, NULL, &s), 0);
        cr_assert_eq(s.applied, 3);
        cr_assert(!exists("/run/dry") && !exists("/run/dryf") && !exists("/run/dryl"));
}

/* The files Debian's packages ship here parse without a warning (dry run). */
Test(tmpfiles, debian_files_parse_cleanly, .init = setup, .fini = teardown)
{
        DIR *d = opendir("/usr/lib/tmpfiles.d");
        if (!d)
                cr_skip_test("no /usr/lib/tmpfiles.d");
        struct pk_unit_host h;
        char hb[4096];
        cr_assert_eq(pk_unit_host_probe(&h, hb, sizeof(hb)), 0);
        struct dirent *e;
        int nfiles = 0;
        while ((e = readdir(d))) {
                if (!strstr(e->d_name, ".conf"))
                        continue;
                char p[512];
                snprintf(p, sizeof(p), "/usr/lib/tmpfiles.d/%s", e->d_name);
                size_t len = 0;
                char *text = tu_slurp(p, &len);
                struct pk_unit_tmpfiles_opts o = {.flags = PK_UNIT_TMPFILES_DRY_RUN |
                                                           PK_UNIT_TMPFILES_BOOT,
                                                  .host = &h,
                                                  .note = collect};
                struct pk_unit_tmpfiles_stats s;
                g_nnotes = 0;
                int r = pk_unit_tmpfiles_apply_buf(text, len, p, &o, &s);
                dump_notes();
                free(text);
                /* a user or group a package names but did not create is an error here
                 * as in systemd-tmpfiles; no line may be a syntax warning */
                cr_assert_eq(s.warnings, 0, "%s: %u warnings", p, s.warnings);
                cr_assert(r == 0 || r == PK_ENOUSER || r == PK_ENOGROUP, "%s: %s", p,
                          pk_strerror(r));
                nfiles++;
        }
        closedir(d);
        cr_assert_gt(nfiles, 0);
}

/* portkit supervise --tmpfiles-root: applied before the first unit starts
 * (the unit sees the directory), the summary logged; --strict refuses a bad
 * line with its file:line before anything starts; a bad mode is a usage error. */
Test(tmpfiles, supervise_applies_before_units_start, .init = setup, .fini = teardown)
{
        put("/etc/tmpfiles.d/sv.conf", "d /run/svdir 0710\n");
        char unit[600], ctl[600], okfile[600];
        snprintf(ctl, sizeof(ctl), "%s/ctl", g_root);
        snprintf(okfile, sizeof(okfile), "%s/ok", g_root);
        char text[2048];
        snprintf(text, sizeof(text),
                 "[Service]\nType=oneshot\nRemainAfterExit=yes\n"
                 "ExecStart=/bin/sh -c 'test -d %s/run/svdir && touch %s'\n",
                 g_root, okfile);
        put("/units/tfcheck.service", text);
        snprintf(unit, sizeof(unit), "%s/units/tfcheck.service", g_root);
        const char *argv[] = {"supervise",       "--cgroup", "off", "--control", ctl,
                              "--tmpfiles-root", g_root,     unit,  NULL};
        int out = -1, err = -1;
        pid_t pid = tu_portkit_start(argv, NULL, 0, NULL, &out, &err);
        /* the unit runs once; bounded only so that a failure ends the test */
        for (int i = 0; i < 3000 && !exists("/ok"); i++)
                usleep(10000);
        bool ok = exists("/ok");
        const char *stop[] = {"ctl", "--control", ctl, "shutdown", NULL};
        struct tu_res sr;
        tu_portkit_run(stop, NULL, &sr);
        tu_res_free(&sr);
        int ws = 0;
        cr_assert_eq(waitpid(pid, &ws, 0), pid);
        char *o = tu_slurp_fd(out), *e = tu_slurp_fd(err);
        cr_log_info("%s", e);
        cr_assert(ok, "the unit did not see %s/run/svdir", g_root);
        cr_assert_eq(st_of("/run/svdir").st_mode & 07777, 0710);
        cr_assert(strstr(e, "tmpfiles.d: 1 lines in 1 files: 1 applied, 0 skipped"), "%s", e);
        cr_assert(strstr(e, "0 warnings, 0 errors; not enforced: none"), "%s", e);
        free(o);
        free(e);

        put("/etc/tmpfiles.d/sv.conf", "d /run/svdir 0710\nY /run/unknown\n");
        const char *strict[] = {"supervise", "--strict",        "--cgroup", "off", "--control",
                                ctl,         "--tmpfiles-root", g_root,     unit,  NULL};
        struct tu_res r;
        tu_portkit_run(strict, NULL, &r);
        cr_assert_eq(r.status, 1, "status %d: %s", r.status, r.err);
        char want[600];
        snprintf(want, sizeof(want),
                 "tmpfiles.d: error: %s/etc/tmpfiles.d/sv.conf:2: unknown line type 'Y'", g_root);
        cr_assert(strstr(r.err, want), "%s", r.err);
        cr_assert(strstr(r.err, "(--strict)"), "%s", r.err);
        cr_assert(!strstr(r.err, "tfcheck.service: starting"), "%s", r.err);
        tu_res_free(&r);

        const char *bad[] = {"supervise", "--tmpfiles", "sometimes", unit, NULL};
        tu_portkit_run(bad, NULL, &r);
        cr_assert_eq(r.status, 100, "status %d", r.status);
        tu_res_free(&r);
}

/* Test-only hook of the library's allocator (src/common/alloc.c). */
long pk__alloc_fail_after(long n);

/* Every allocation failure is a clean -ENOMEM (LeakSanitizer checks that
 * nothing leaks), in a dry run and applied into the root. */
Test(tmpfiles, allocation_failures_are_enomem, .init = setup, .fini = teardown)
{
        static const char text[] = "d /run/o1 0755 root root 1d\n"
                                   "d /run/o1\n"
                                   "f /run/o2 - - - - a\\x20b %t\n"
                                   "w+ /run/o2 - - - - \"quoted\"\n"
                                   "Y unknown\n"
                                   "L /run/o3 - - - - /run/o1\n"
                                   "z /run/o* 0755\n";
        put("/etc/tmpfiles.d/oom.conf", text);
        for (int real = 0; real < 2; real++) {
                long n;
                for (n = 1; n < 10000; n++) {
                        struct pk_unit_tmpfiles_stats s;
                        struct pk_unit_tmpfiles_opts o = {
                            .flags = real ? 0 : PK_UNIT_TMPFILES_DRY_RUN, .root = g_root};
                        pk__alloc_fail_after(n);
                        int r = real ? apply(0, NULL, &s)
                                     : pk_unit_tmpfiles_apply_buf(text, strlen(text), "oom.conf",
                                                                  &o, &s);
                        long left = pk__alloc_fail_after(0);
                        if (left > 0) { /* no failure was injected: done */
                                cr_assert_eq(r, 0, "%s", pk_strerror(r));
                                break;
                        }
                        cr_assert_eq(r, -ENOMEM, "allocation %ld (%s): %s", n,
                                     real ? "applied" : "dry run", pk_strerror(r));
                }
                cr_assert_lt(n, 10000);
                cr_assert_gt(n, 3, "the allocations were not reached");
        }
}
