/* SPDX-License-Identifier: MIT */
/* `portkit supervise` running units that use the exec settings the unit
 * layer resolves for it: StandardInputData=/StandardInputText= as every
 * command's stdin (the main process, the unit-exec helper's commands and
 * supervise's own hooks), ExecSearchPath= both as the place commands are
 * found and as PATH, and the %d specifier.  Through the real binaries. */
#include <portkit.h>

#include <criterion/criterion.h>

#include "sv_testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The test's temporary directory, removed by the suite's fini (which runs
 * after a failed assertion too). */
static char created_dir[256];

static void cleanup(void)
{
        if (created_dir[0])
                tu_rmrf(created_dir);
        created_dir[0] = '\0';
}

TestSuite(supervise_exec, .fini = cleanup);

static void init(struct sv *s)
{
        svt_init(s, "/tmp/pk-svx-XXXXXX", false);
        snprintf(created_dir, sizeof(created_dir), "%s", s->dir);
}

static void start(struct sv *s)
{
        const char *a[] = {s->units, NULL};
        svt_start(s, a);
}

/* Waits (30 s at most: a hang) until `ctl is-failed UNIT` says yes. */
static void wait_failed(struct sv *s, const char *unit)
{
        for (int i = 0; i < 600; i++) {
                if (svt_ctl(s, NULL, "is-failed", unit, (const char *)NULL) == 0)
                        return;
                svt_nap();
        }
        char *err = tu_slurp_or_empty(s->err);
        cr_assert_fail("%s never failed; supervisor said:\n%s", unit, err);
}

/* Asserts the file dir/name holds exactly the n bytes want (binary-safe). */
static void assert_bytes(const char *dir, const char *name, const void *want, size_t n)
{
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        size_t len = 0;
        char *got = tu_slurp_if(path, &len);
        cr_assert_not_null(got, "%s was not written", path);
        cr_assert_eq(len, n, "%s: %zu bytes, not %zu", path, len, n);
        cr_assert(memcmp(got, want, n) == 0, "%s: other bytes", path);
        free(got);
}

static void assert_text(const char *dir, const char *name, const char *want)
{
        assert_bytes(dir, name, want, strlen(want));
}

/* "AP8KAGhp" is base64 for 00 ff 0a 00 68 69; the Text line adds "x y\n";
 * the Data after it "=" (base64 "PQ==") with no newline. */
#define DATA_KEYS                                                                                  \
        "StandardInputData=AP8K\nStandardInputData=AGhp\nStandardInputText=x\\sy\n"                \
        "StandardInputData=PQ==\n"
static const char data_bytes[] = {0, '\xff', '\n', 0, 'h', 'i', 'x', ' ', 'y', '\n', '='};

/* StandardInputData= and StandardInputText= without StandardInput=: the
 * main process reads exactly the decoded bytes, once per run. */
Test(supervise_exec, stdin_data_reaches_the_main_process)
{
        struct sv s;
        init(&s);
        tu_write_file(s.units, "feed.service",
                      "[Service]\nExecStart=/bin/cat\nStandardOutput=truncate:%s/out\n" DATA_KEYS,
                      s.dir);
        start(&s);
        svt_wait_field(&s, "feed", "active", "inactive");
        assert_bytes(s.dir, "out", data_bytes, sizeof(data_bytes));
        /* a second run gets the data again from its start */
        cr_assert_eq(svt_ctl(&s, NULL, "start", "feed", (const char *)NULL), 0);
        svt_wait_field(&s, "feed", "active", "inactive");
        assert_bytes(s.dir, "out", data_bytes, sizeof(data_bytes));
        svt_stop(&s);
}

/* Through the unit-exec helper (ExecStartPre=, oneshot) and supervise's own
 * hooks (ExecStartPost=, ExecStop=): each command reads the whole data, as
 * each gets a fresh descriptor from systemd. */
Test(supervise_exec, every_command_reads_the_whole_data)
{
        struct sv s;
        init(&s);
        tu_write_file(s.units, "many.service",
                      "[Service]\nType=oneshot\nRemainAfterExit=yes\nStandardInput=data\n" DATA_KEYS
                      "ExecStartPre=/bin/sh -c 'cat > %s/pre'\n"
                      "ExecStart=/bin/sh -c 'cat > %s/one'\n"
                      "ExecStart=/bin/sh -c 'cat > %s/two'\n"
                      "ExecStartPost=/bin/sh -c 'cat > %s/post'\n"
                      "ExecStop=/bin/sh -c 'cat > %s/stop'\n",
                      s.dir, s.dir, s.dir, s.dir, s.dir);
        start(&s);
        svt_wait_field(&s, "many", "active", "active");
        cr_assert_eq(svt_ctl(&s, NULL, "stop", "many", (const char *)NULL), 0);
        svt_wait_field(&s, "many", "active", "inactive");
        const char *files[] = {"pre", "one", "two", "post", "stop"};
        for (size_t i = 0; i < 5; i++)
                assert_bytes(s.dir, files[i], data_bytes, sizeof(data_bytes));
        svt_stop(&s);
}

/* ExecSearchPath=: a bare command name is found there (and only there), in
 * the main process, the helper's commands and exec; it is the PATH unless
 * Environment= sets one. */
Test(supervise_exec, exec_search_path_finds_commands_and_sets_path)
{
        struct sv s;
        init(&s);
        char bin[512];
        snprintf(bin, sizeof(bin), "%s/bin", s.dir);
        cr_assert_eq(mkdir(bin, 0755), 0);
        tu_write_file(bin, "pk-probe-tool", "#!/bin/sh\necho \"$1 $PATH\" > %s/out.$1\n", s.dir);
        char tool[600];
        snprintf(tool, sizeof(tool), "%s/pk-probe-tool", bin);
        cr_assert_eq(chmod(tool, 0755), 0);
        /* main process, spawned by the supervisor */
        tu_write_file(s.units, "a.service",
                      "[Service]\nExecSearchPath=/nonexistent:%s\nExecStart=pk-probe-tool a\n",
                      bin);
        /* the helper's commands (oneshot), PATH set by the unit */
        tu_write_file(s.units, "b.service",
                      "[Service]\nType=oneshot\nExecSearchPath=%s\nEnvironment=PATH=/usr/bin:/bin\n"
                      "ExecStartPre=pk-probe-tool bpre\nExecStart=pk-probe-tool b\n",
                      bin);
        /* the helper's exec of the main process */
        tu_write_file(s.units, "c.service",
                      "[Service]\nExecSearchPath=%s\nEnvironment=PATH=/usr/bin:/bin\n"
                      "ExecStartPre=pk-probe-tool cpre\nExecStart=pk-probe-tool c\n",
                      bin);
        /* /bin/true exists, but not in the search path: the start fails */
        tu_write_file(s.units, "d.service", "[Service]\nExecSearchPath=%s\nExecStart=true\n", bin);
        tu_write_file(s.units, "e.service",
                      "[Service]\nType=oneshot\nExecSearchPath=%s\nExecStart=true\n", bin);
        start(&s);
        svt_wait_field(&s, "a", "active", "inactive");
        svt_wait_field(&s, "b", "active", "inactive");
        svt_wait_field(&s, "c", "active", "inactive");
        char want[1200];
        snprintf(want, sizeof(want), "a /nonexistent:%s\n", bin);
        assert_text(s.dir, "out.a", want);
        assert_text(s.dir, "out.bpre", "bpre /usr/bin:/bin\n");
        assert_text(s.dir, "out.b", "b /usr/bin:/bin\n");
        assert_text(s.dir, "out.cpre", "cpre /usr/bin:/bin\n");
        assert_text(s.dir, "out.c", "c /usr/bin:/bin\n");
        wait_failed(&s, "d");
        wait_failed(&s, "e");
        svt_stop(&s);
}

/* %d is the credentials directory systemd names for the unit. */
Test(supervise_exec, credentials_directory_specifier)
{
        struct sv s;
        init(&s);
        tu_write_file(s.units, "creds.service",
                      "[Service]\nExecStart=/bin/sh -c 'echo %%d > %s/out'\n", s.dir);
        start(&s);
        svt_wait_field(&s, "creds", "active", "inactive");
        assert_text(s.dir, "out", "/run/credentials/creds.service\n");
        svt_stop(&s);
}

/* What stays undone is said: OpenFile= (systemd 253, not Debian 12's 252)
 * and the stdin kinds not given (tty, fd:). */
Test(supervise_exec, open_file_and_tty_input_are_reported)
{
        static const char text[] = "[Service]\nExecStart=/bin/cat\nOpenFile=/etc/hostname:host\n"
                                   "StandardInput=tty\n";
        struct pk_unit *u = NULL;
        struct pk_unit_error e;
        cr_assert_eq(pk_unit_parse("of.service", "/x/of.service", text, strlen(text), NULL, &u, &e),
                     0, "%s", e.message);
        cr_assert_eq(pk_unit_finish(u, &e), 0, "%s", e.message);
        struct pk_unit_child *c = NULL;
        cr_assert_eq(pk_unit_to_child(u, NULL, &c, &e), 0, "%s", e.message);
        int open_file = 0, tty = 0;
        for (size_t i = 0; i < c->notes.n; i++) {
                open_file |= strstr(c->notes.v[i], "OpenFile=/etc/hostname:host (/x/of.service:3) "
                                                   "is not enforced (a systemd 253 key") != NULL;
                tty |= strstr(c->notes.v[i], "StandardInput= of this kind") != NULL;
        }
        pk_unit_child_free(c);
        pk_unit_free(u);
        cr_assert(open_file, "OpenFile= is reported");
        cr_assert(tty, "StandardInput=tty is reported");
}
