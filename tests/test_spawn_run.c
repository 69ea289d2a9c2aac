/* SPDX-License-Identifier: MIT */
/* Tests of run-to-completion (pk_run), pipelines and the `portkit run` CLI. */
#include <portkit.h>

#include "testutil.h"
#include <portkit/fd.h>

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROBE PK_BUILD_DIR "/tests/helpers/spawn_probe"
#define PORTKIT PK_BUILD_DIR "/portkit"

static struct pk_cmd *cmdv(const char *prog, const char *const *args)
{
        struct pk_cmd *c;
        cr_assert_eq(pk_cmd_new(prog, &c), 0);
        if (args)
                cr_assert_eq(pk_cmd_args(c, args), 0);
        return c;
}

Test(run, capture_separately)
{
        struct pk_cmd *c = cmdv(PROBE, (const char *[]){"interleave", "6", NULL});
        struct pk_run_result r;
        int before = tu_count_fds();
        cr_assert_eq(pk_run(c, NULL, &r, NULL), 0);
        cr_assert(r.status.exited && r.status.code == 0);
        cr_assert_str_eq(r.out, "out 0\nout 2\nout 4\n");
        cr_assert_str_eq(r.err, "err 1\nerr 3\nerr 5\n");
        cr_assert_eq(r.out_len, 18);
        pk_run_result_free(&r);
        cr_assert_null(r.out);
        cr_assert_eq(tu_count_fds(), before);
        pk_cmd_free(c);
        tu_assert_no_children("end of test");
}

Test(run, merged_in_order)
{
        struct pk_cmd *c = cmdv(PROBE, (const char *[]){"interleave", "2000", NULL});
        struct pk_run_opts o = {.stderr_mode = PK_RUN_MERGE};
        struct pk_run_result r;
        cr_assert_eq(pk_run(c, &o, &r, NULL), 0);
        cr_assert_null(r.err);
        /* Every line, in the order written, alternating. */
        const char *p = r.out;
        for (int i = 0; i < 2000; i++) {
                char want[32];
                int n = snprintf(want, sizeof(want), "%s %d\n", i % 2 ? "err" : "out", i);
                cr_assert_eq(strncmp(p, want, (size_t)n), 0, "line %d", i);
                p += n;
        }
        cr_assert_eq(*p, '\0');
        pk_run_result_free(&r);
        pk_cmd_free(c);
}

Test(run, stdin_data_and_exit_status)
{
        struct pk_cmd *c = cmdv("/bin/sh", (const char *[]){"-c", "cat; exit 3", NULL});
        struct pk_run_opts o = {.stdin_data = "fed\n", .stdin_len = 4};
        struct pk_run_result r;
        cr_assert_eq(pk_run(c, &o, &r, NULL), 0);
        cr_assert_str_eq(r.out, "fed\n");
        cr_assert_eq(r.status.code, 3);
        pk_run_result_free(&r);
        /* Default stdin is /dev/null: cat ends at once. */
        cr_assert_eq(pk_run(c, NULL, &r, NULL), 0);
        cr_assert_str_eq(r.out, "");
        pk_run_result_free(&r);
        pk_cmd_free(c);
}

Test(run, child_ignores_stdin_no_sigpipe_death)
{
        /* The child exits without reading 8 MiB of stdin: we get EPIPE, not SIGPIPE. */
        size_t n = 8u << 20;
        char *big = malloc(n);
        memset(big, 'a', n);
        struct pk_cmd *c = cmdv(PROBE, (const char *[]){"exit", "0", NULL});
        struct pk_run_opts o = {.stdin_data = big, .stdin_len = n};
        struct pk_run_result r;
        cr_assert_eq(pk_run(c, &o, &r, NULL), 0);
        cr_assert_eq(r.status.code, 0);
        sigset_t pend;
        sigpending(&pend);
        cr_assert(!sigismember(&pend, SIGPIPE), "a SIGPIPE was left pending");
        pk_run_result_free(&r);
        pk_cmd_free(c);
        free(big);
}

Test(run, no_deadlock_100mib_each_way)
{
        /* cat2 copies stdin to stdout AND stderr: 100 MiB in, 200 MiB out. */
        size_t n = 100u << 20;
        char *big = malloc(n);
        for (size_t i = 0; i < n; i++)
                big[i] = (char)('a' + i % 26);
        struct pk_cmd *c = cmdv(PROBE, (const char *[]){"cat2", NULL});
        struct pk_run_opts o = {.stdin_data = big, .stdin_len = n, .output_cap = n};
        struct pk_run_result r;
        cr_assert_eq(pk_run(c, &o, &r, NULL), 0);
        cr_assert_eq(r.status.code, 0);
        cr_assert_eq(r.out_len, n);
        cr_assert_eq(r.err_len, n);
        cr_assert_eq(memcmp(r.out, big, n), 0);
        cr_assert_eq(memcmp(r.err, big, n), 0);
        pk_run_result_free(&r);
        pk_cmd_free(c);
        free(big);
}

Test(run, timeout_kills_process_group)
{
        struct pk_cmd *c = cmdv(PROBE, (const char *[]){"grandchild", "60", NULL});
        /* Inherited stdout would keep no pipe open; capture to read the grandchild pid. */
        struct pk_run_opts o = {.timeout_ms = 300};
        struct pk_run_result r;
        struct pk_spawn_error e;
        int before = tu_count_fds();
        int rr = pk_run(c, &o, &r, &e);
        cr_assert_eq(rr, -ETIMEDOUT);
        cr_assert_eq(e.code, -ETIMEDOUT);
        cr_assert_eq(tu_count_fds(), before);
        tu_assert_no_children("end of test");
        pk_cmd_free(c);

        /* Now learn the grandchild's pid through a file and check it died. */
        char path[] = "/tmp/pk-run-gc-XXXXXX";
        close(mkstemp(path));
        c = cmdv(PROBE, (const char *[]){"grandchild", "60", NULL});
        pk_cmd_fd_file(c, 1, path, O_WRONLY | O_TRUNC, 0600);
        o.stdout_mode = PK_RUN_INHERIT;
        cr_assert_eq(pk_run(c, &o, &r, NULL), -ETIMEDOUT);
        FILE *f = fopen(path, "re");
        int gpid = 0;
        cr_assert_eq(fscanf(f, "%d", &gpid), 1);
        fclose(f);
        unlink(path);
        for (int i = 0; i < 200 && !tu_gone(gpid); i++)
                usleep(10000);
        cr_assert(tu_gone(gpid), "grandchild %d survived the timeout", gpid);
        pk_cmd_free(c);
}

Test(run, output_cap)
{
        struct pk_cmd *c = cmdv(PROBE, (const char *[]){"flood", "10000000", NULL});
        struct pk_run_opts o = {.output_cap = 4096};
        struct pk_run_result r;
        int before = tu_count_fds();
        cr_assert_eq(pk_run(c, &o, &r, NULL), PK_EOUTPUTCAP);
        cr_assert_eq(tu_count_fds(), before);
        tu_assert_no_children("end of test");
        /* Exactly at the cap is fine. */
        pk_cmd_free(c);
        c = cmdv(PROBE, (const char *[]){"flood", "4096", NULL});
        cr_assert_eq(pk_run(c, &o, &r, NULL), 0);
        cr_assert_eq(r.out_len, 4096);
        pk_run_result_free(&r);
        pk_cmd_free(c);
}

Test(run, spawn_error_reported)
{
        struct pk_cmd *c = cmdv("/nonexistent/x", NULL);
        struct pk_run_result r;
        struct pk_spawn_error e;
        int before = tu_count_fds();
        cr_assert_eq(pk_run(c, NULL, &r, &e), -ENOENT);
        cr_assert_eq(e.step, PK_SPAWN_STEP_EXEC);
        cr_assert_eq(tu_count_fds(), before);
        tu_assert_no_children("end of test");
        pk_cmd_free(c);
}

Test(pipeline, three_stages_statuses_and_pipefail)
{
        struct pk_cmd *a = cmdv(PROBE, (const char *[]){"write", "hello world\n", NULL});
        struct pk_cmd *b = cmdv("tr", (const char *[]){"a-z", "A-Z", NULL});
        struct pk_cmd *c = cmdv("/bin/cat", NULL);
        const struct pk_cmd *cmds[] = {a, b, c};
        struct pk_pipeline_result r;
        int before = tu_count_fds();
        cr_assert_eq(pk_pipeline_run(cmds, 3, NULL, &r, NULL), 0);
        cr_assert_eq(r.n, 3);
        cr_assert_str_eq(r.out, "HELLO WORLD\n");
        for (int i = 0; i < 3; i++)
                cr_assert(r.status[i].exited && r.status[i].code == 0);
        cr_assert_eq(r.pipefail, 0);
        pk_pipeline_result_free(&r);
        cr_assert_eq(tu_count_fds(), before);

        /* A middle stage fails: pipefail reports it, the last is still 0. */
        struct pk_cmd *bad = cmdv("/bin/sh", (const char *[]){"-c", "cat; exit 4", NULL});
        const struct pk_cmd *cmds2[] = {a, bad, c};
        cr_assert_eq(pk_pipeline_run(cmds2, 3, NULL, &r, NULL), 0);
        cr_assert_eq(r.status[1].code, 4);
        cr_assert_eq(r.status[2].code, 0);
        cr_assert_eq(r.pipefail, 4);
        cr_assert_str_eq(r.out, "hello world\n");
        pk_pipeline_result_free(&r);

        /* stdin to the first stage, stderr of all stages captured. */
        struct pk_cmd *e1 = cmdv("/bin/sh", (const char *[]){"-c", "echo one >&2; cat", NULL});
        struct pk_cmd *e2 = cmdv("/bin/sh", (const char *[]){"-c", "cat; echo two >&2", NULL});
        const struct pk_cmd *cmds3[] = {e1, e2};
        struct pk_run_opts o = {.stdin_data = "in\n", .stdin_len = 3};
        cr_assert_eq(pk_pipeline_run(cmds3, 2, &o, &r, NULL), 0);
        cr_assert_str_eq(r.out, "in\n");
        cr_assert(strstr(r.err, "one\n") && strstr(r.err, "two\n"));
        pk_pipeline_result_free(&r);

        o.stderr_mode = PK_RUN_MERGE;
        cr_assert_eq(pk_pipeline_run(cmds3, 2, &o, &r, NULL), -EINVAL);
        tu_assert_no_children("end of test");
        pk_cmd_free(a);
        pk_cmd_free(b);
        pk_cmd_free(c);
        pk_cmd_free(bad);
        pk_cmd_free(e1);
        pk_cmd_free(e2);
}

Test(pipeline, same_process_group_and_passthrough)
{
        char path[] = "/tmp/pk-pipe-out-XXXXXX";
        int fd = mkstemp(path);
        struct pk_cmd *a = cmdv("/bin/sh", (const char *[]){"-c", "ps -o pgid= -p $$", NULL});
        struct pk_cmd *b = cmdv("/bin/sh", (const char *[]){"-c", "cat; ps -o pgid= -p $$", NULL});
        pk_cmd_fd(b, 1, fd); /* passed through: the last stage writes to the file */
        const struct pk_cmd *cmds[] = {a, b};
        struct pk_run_opts o = {.stdout_mode = PK_RUN_INHERIT};
        struct pk_pipeline_result r;
        cr_assert_eq(pk_pipeline_run(cmds, 2, &o, &r, NULL), 0);
        cr_assert_null(r.out);
        pk_pipeline_result_free(&r);
        close(fd);
        FILE *f = fopen(path, "re");
        int g1 = 0, g2 = 0;
        cr_assert_eq(fscanf(f, "%d %d", &g1, &g2), 2);
        fclose(f);
        unlink(path);
        cr_assert_eq(g1, g2);
        cr_assert_neq(g1, getpgid(0));
        pk_cmd_free(a);
        pk_cmd_free(b);
}

Test(pipeline, failing_stage_spawn)
{
        struct pk_cmd *a = cmdv(PROBE, (const char *[]){"sleep", "30", NULL});
        struct pk_cmd *b = cmdv("/nonexistent/y", NULL);
        const struct pk_cmd *cmds[] = {a, b};
        struct pk_pipeline_result r;
        struct pk_spawn_error e;
        int before = tu_count_fds();
        cr_assert_eq(pk_pipeline_run(cmds, 2, NULL, &r, &e), -ENOENT);
        cr_assert_eq(e.fd, 1); /* the stage */
        cr_assert_eq(tu_count_fds(), before);
        tu_assert_no_children("end of test");
        pk_cmd_free(a);
        pk_cmd_free(b);
}

/* ---- the CLI ---- */

static int cli(const char *const *args, char **out, char **err)
{
        struct pk_cmd *c = cmdv(PORTKIT, args);
        struct pk_run_result r;
        cr_assert_eq(pk_run(c, NULL, &r, NULL), 0);
        pk_cmd_free(c);
        int code = pk_exit_shell(&r.status);
        if (out)
                *out = strdup(r.out);
        if (err)
                *err = strdup(r.err);
        pk_run_result_free(&r);
        return code;
}

Test(cli, run_options_reach_the_child)
{
        char dir[] = "/tmp/pk-cli-XXXXXX";
        cr_assert(mkdtemp(dir));
        char rep[128], fdfile[128], fdarg[160];
        snprintf(rep, sizeof(rep), "%s/report", dir);
        snprintf(fdfile, sizeof(fdfile), "%s/fd7", dir);
        snprintf(fdarg, sizeof(fdarg), "7=%s:wct", fdfile);
        int code = cli(
            (const char *[]){
                "run",     "--cwd",  "/usr",     "--env",         "A=1",      "--unset", "HOME",
                "--umask", "027",    "--rlimit", "NOFILE=99:100", "--setsid", "--fd",    fdarg,
                "--fd",    "9=null", "--fd",     "0=close",       "--argv0",  "zero",    "--nice",
                "3",       "--",     PROBE,      "report",        rep,        NULL},
            NULL, NULL);
        cr_assert_eq(code, 0);
        FILE *f = fopen(rep, "re");
        cr_assert(f);
        char line[4096];
        int hits = 0;
        bool home = false, fd0 = false;
        while (fgets(line, sizeof(line), f)) {
                hits += strcmp(line, "cwd=/usr\n") == 0;
                hits += strcmp(line, "env.A=1\n") == 0;
                hits += strcmp(line, "umask=0027\n") == 0;
                hits += strcmp(line, "rlimit.NOFILE=99,100\n") == 0;
                hits += strcmp(line, "argv.0=zero\n") == 0;
                hits += strcmp(line, "nice=3\n") == 0;
                hits += strcmp(line, "fd.9=/dev/null\n") == 0;
                char want[200];
                snprintf(want, sizeof(want), "fd.7=%s\n", fdfile);
                hits += strcmp(line, want) == 0;
                home |= strncmp(line, "env.HOME=", 9) == 0;
                fd0 |= strncmp(line, "fd.0=", 5) == 0;
                if (strncmp(line, "sid=", 4) == 0) {
                        int sid = atoi(line + 4);
                        hits += sid != getsid(0);
                }
        }
        fclose(f);
        cr_assert_eq(hits, 9, "hits %d", hits);
        cr_assert(!home && !fd0);
        unlink(rep);
        unlink(fdfile);
        rmdir(dir);
}

Test(cli, run_exit_status_signal_timeout_errors)
{
        cr_assert_eq(cli((const char *[]){"run", "--", PROBE, "exit", "42", NULL}, NULL, NULL), 42);
        cr_assert_eq(cli((const char *[]){"run", "--", PROBE, "kill", "15", NULL}, NULL, NULL),
                     128 + 15);
        char *err = NULL;
        cr_assert_eq(cli((const char *[]){"run", "--timeout", "200ms", "--", PROBE, "grandchild",
                                          "60", NULL},
                         NULL, &err),
                     124);
        free(err);
        cr_assert_eq(cli((const char *[]){"run", "--", "/nonexistent/z", NULL}, NULL, &err), 127);
        cr_assert(strstr(err, "spawn failed: execve \"/nonexistent/z\": No such file or directory"),
                  "%s", err);
        free(err);
        cr_assert_eq(cli((const char *[]){"run", "--cwd", "/nope", "--", PROBE, "exit", "0", NULL},
                         NULL, &err),
                     126);
        cr_assert(strstr(err, "chdir \"/nope\""), "%s", err);
        free(err);
        cr_assert_eq(
            cli((const char *[]){"run", "--user", "pk-no-such-user", "--", "/bin/true", NULL}, NULL,
                NULL),
            1);
        cr_assert_eq(cli((const char *[]){"run", "--bogus", "--", "/bin/true", NULL}, NULL, NULL),
                     100);
        /* `--` is optional (as for timeout(1) and chpst); no PROG at all is usage. */
        cr_assert_eq(cli((const char *[]){"run", "/bin/true", NULL}, NULL, NULL), 0);
        cr_assert_eq(cli((const char *[]){"run", "--setsid", NULL}, NULL, NULL), 100);
        cr_assert_eq(
            cli((const char *[]){"run", "--timeout", "1x", "--", "/bin/true", NULL}, NULL, NULL),
            100);
        char *out = NULL;
        cr_assert_eq(cli((const char *[]){"run", "--env", "X=y z", "--", "/bin/sh", "-c",
                                          "echo \"$X\"", NULL},
                         &out, NULL),
                     0);
        cr_assert_str_eq(out, "y z\n");
        free(out);
        cr_assert_eq(cli((const char *[]){"run", "--clear-env", "--env", "ONLY=1", "--",
                                          "/usr/bin/env", NULL},
                         &out, NULL),
                     0);
        cr_assert_str_eq(out, "ONLY=1\n");
        free(out);
        cr_assert_eq(
            cli((const char *[]){"run", "--fd", "1=2", "--", "/bin/sh", "-c", "echo e", NULL}, &out,
                &err),
            0);
        cr_assert_str_eq(out, "");
        cr_assert_str_eq(err, "e\n");
        free(out);
        free(err);
}

Test(cli, run_user_group)
{
        if (geteuid() != 0)
                cr_skip_test("needs root");
        char *out = NULL;
        cr_assert_eq(cli((const char *[]){"run", "--user", "65534", "--group", "65534", "--",
                                          "/bin/sh", "-c", "id -u; id -g; id -G", NULL},
                         &out, NULL),
                     0);
        cr_assert_str_eq(out, "65534\n65534\n65534\n");
        free(out);
}

Test(cli, run_forwards_termination_signals)
{
        for (int with_timeout = 0; with_timeout < 2; with_timeout++) {
                struct pk_cmd *c =
                    with_timeout
                        ? cmdv(PORTKIT, (const char *[]){"run", "--timeout", "60", "--", "/bin/sh",
                                                         "-c", "echo ready; exec sleep 60", NULL})
                        : cmdv(PORTKIT, (const char *[]){"run", "--", "/bin/sh", "-c",
                                                         "echo ready; exec sleep 60", NULL});
                pk_cmd_fd_pipe(c, 1, 0);
                struct pk_proc *p;
                cr_assert_eq(pk_spawn(c, &p, NULL), 0);
                char buf[16] = {0};
                cr_assert_eq(read(pk_proc_fd(p, 1), buf, 6), 6);
                cr_assert_str_eq(buf, "ready\n");
                cr_assert_eq(pk_proc_signal(p, SIGTERM), 0);
                struct pk_exit st;
                cr_assert_eq(pk_proc_wait(p, 20000, &st), 0);
                /* portkit itself exited normally, with the child's 128 + SIGTERM */
                cr_assert(st.exited, "portkit was killed by %d", st.signal);
                cr_assert_eq(st.code, 128 + SIGTERM);
                pk_proc_free(p);
                pk_cmd_free(c);
        }
        tu_assert_no_children("end of test");
}

/* Test-only hook of the library's allocator (src/common/alloc.c). */
long pk__alloc_fail_after(long n);

Test(run, allocation_failure_at_every_step_closes_only_its_own)
{
        /* pk_run and pk_pipeline_run with the Nth allocation failing, for every
         * N until they succeed: each failure is -ENOMEM, the caller's fd 0 stays
         * open (a zeroed pipe slot once closed it) and nothing leaks. */
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        cr_assert_geq(null, 0);
        if (!tu_fd_open(0))
                cr_assert_eq(dup2(null, 0), 0);
        struct stat st0;
        cr_assert_eq(fstat(0, &st0), 0);
        const char *const a[] = {"-c", "echo hi; echo err >&2", NULL};
        const char *const b[] = {"-c", "tr a-z A-Z", NULL};
        struct pk_cmd *c1 = cmdv("/bin/sh", a), *c2 = cmdv("/bin/sh", b);
        const struct pk_cmd *const pipeline[] = {c1, c2};
        int before = tu_count_fds();
        for (int which = 0; which < 2; which++) {
                long n;
                for (n = 1; n < 1000; n++) {
                        pk__alloc_fail_after(n);
                        int r;
                        if (which == 0) {
                                struct pk_run_result res;
                                r = pk_run(c1, NULL, &res, NULL);
                                if (r == 0)
                                        pk_run_result_free(&res);
                        } else {
                                struct pk_pipeline_result res;
                                r = pk_pipeline_run(pipeline, 2, NULL, &res, NULL);
                                if (r == 0)
                                        pk_pipeline_result_free(&res);
                        }
                        long left = pk__alloc_fail_after(0);
                        struct stat st;
                        cr_assert_eq(fstat(0, &st), 0, "fd 0 closed (n=%ld, %s)", n,
                                     which ? "pipeline" : "run");
                        cr_assert(st.st_ino == st0.st_ino && st.st_dev == st0.st_dev);
                        cr_assert_eq(tu_count_fds(), before, "fd leaked (n=%ld)", n);
                        tu_assert_no_children("end of test");
                        if (left > 0) {
                                cr_assert_eq(r, 0); /* no allocation failed: done */
                                break;
                        }
                        cr_assert_eq(r, -ENOMEM, "n=%ld: %s", n, pk_strerror(r));
                }
                cr_assert_gt(n, 2, "the loop must have injected failures");
        }
        pk_cmd_free(c1);
        pk_cmd_free(c2);
        close(null);
}

/* pk_cmd_fd_data(): a fresh sealed memfd at each spawn, read from its start,
 * binary-safe, never writable; no bytes is /dev/null. */
Test(run, fd_data_is_a_fresh_sealed_file_each_spawn)
{
        static const char data[] = {'a', 0, 'b', '\n', '\xff'};
        struct pk_cmd *c = cmdv("/bin/sh", (const char *[]){"-c",
                                                            "cat; (printf z >&0) 2>/dev/null || "
                                                            "echo sealed",
                                                            NULL});
        cr_assert_eq(pk_cmd_fd_data(c, 0, data, sizeof(data)), 0);
        struct pk_cmd *d = NULL;
        cr_assert_eq(pk_cmd_dup(c, &d), 0);
        /* pk_run() leaves stdin to the command's map */
        const struct pk_run_opts keep_stdin = {.stdin_mode = PK_RUN_INHERIT};
        int before = tu_count_fds();
        for (int run = 0; run < 2; run++) {
                struct pk_run_result r;
                cr_assert_eq(pk_run(run ? d : c, &keep_stdin, &r, NULL), 0);
                cr_assert_eq(r.out_len, sizeof(data) + 7, "run %d: %zu bytes", run, r.out_len);
                cr_assert(memcmp(r.out, data, sizeof(data)) == 0, "run %d", run);
                cr_assert_str_eq(r.out + sizeof(data), "sealed\n");
                pk_run_result_free(&r);
        }
        cr_assert_eq(tu_count_fds(), before);
        pk_cmd_free(d);
        pk_cmd_free(c);
        c = cmdv("/bin/sh", (const char *[]){"-c", "readlink /proc/self/fd/0", NULL});
        cr_assert_eq(pk_cmd_fd_data(c, 0, NULL, 0), 0);
        struct pk_run_result r;
        cr_assert_eq(pk_run(c, &keep_stdin, &r, NULL), 0);
        cr_assert_str_eq(r.out, "/dev/null\n");
        pk_run_result_free(&r);
        cr_assert_eq(pk_cmd_fd_data(c, 0, NULL, 3), -EINVAL);
        pk_cmd_free(c);
}

/* pk_cmd_search_path(): a bare name is looked up there and only there; the
 * child's PATH stays its own. */
Test(run, search_path_replaces_path_for_the_lookup)
{
        char dir[] = "/tmp/pk-sp-XXXXXX";
        cr_assert_not_null(mkdtemp(dir));
        tu_write_file(dir, "pk-sp-tool", "#!/bin/sh\necho \"found $PATH\"\n");
        char tool[64];
        snprintf(tool, sizeof(tool), "%s/pk-sp-tool", dir);
        cr_assert_eq(chmod(tool, 0755), 0);
        struct pk_cmd *c = cmdv("pk-sp-tool", NULL);
        cr_assert_eq(pk_cmd_env_set(c, "PATH", "/usr/bin:/bin"), 0);
        cr_assert_eq(pk_cmd_search_path(c, dir), 0);
        struct pk_run_result r;
        int rr = pk_run(c, NULL, &r, NULL);
        if (rr == 0) {
                cr_expect_str_eq(r.out, "found /usr/bin:/bin\n");
                pk_run_result_free(&r);
        }
        pk_cmd_free(c);
        /* `true` is in /usr/bin, not in the search path */
        c = cmdv("true", NULL);
        cr_assert_eq(pk_cmd_search_path(c, dir), 0);
        struct pk_spawn_error se;
        int rt = pk_run(c, NULL, &r, &se);
        cr_assert_eq(pk_cmd_search_path(c, NULL), 0);
        int rn = pk_run(c, NULL, &r, NULL);
        if (rn == 0)
                pk_run_result_free(&r);
        pk_cmd_free(c);
        unlink(tool);
        rmdir(dir);
        cr_assert_eq(rr, 0, "%s", pk_strerror(rr));
        cr_assert_eq(rt, -ENOENT, "%s", pk_strerror(rt));
        cr_assert_eq(rn, 0, "back to PATH: %s", pk_strerror(rn));
}
