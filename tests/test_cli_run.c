/* SPDX-License-Identifier: MIT */
/* `portkit run` through the real binary: signals forwarded and the child
 * dying with the wrapper, timeout(1)'s shape (in a pty for --foreground),
 * --fd spellings and their strictness, identity and environment options,
 * --exec, --chroot and capabilities with and without --exec, usage errors. */
#include "chroot_root.h"
#include "testutil.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define PORTKIT PK_BUILD_DIR "/portkit"

static pid_t read_pid(const char *path)
{
        pid_t pid;
        tu_read_pids(path, &pid, 1);
        return pid;
}

/* Starts `run` on a child that writes its pid, sends sig to the wrapper,
 * returns the wrapper's status after checking the child is gone. */
static int signal_case(int sig, const char *extra)
{
        char dir[] = "/tmp/pk_cli_runXXXXXX";
        cr_assert_not_null(mkdtemp(dir));
        char pidfile[128], script[512];
        snprintf(pidfile, sizeof(pidfile), "%s/pid", dir);
        snprintf(script, sizeof(script), "echo $$ > %s.t && mv %s.t %s && exec sleep 1000", pidfile,
                 pidfile, pidfile);
        const char *a[] = {
            "run", extra ? extra : "--nice", extra ? "300s" : "0", "--", "sh", "-c", script, NULL};
        int out, err, ws;
        pid_t pid = tu_portkit_start(a, NULL, 0, NULL, &out, &err);
        pid_t child = read_pid(pidfile);
        cr_assert_eq(kill(pid, sig), 0);
        cr_assert_eq(waitpid(pid, &ws, 0), pid);
        tu_wait_gone(child);
        close(out);
        close(err);
        unlink(pidfile);
        rmdir(dir);
        return tu_status_of(ws);
}

Test(cli_run, catchable_signals_are_forwarded, .timeout = 120)
{
        prctl(PR_SET_CHILD_SUBREAPER, 1);
        const int sigs[] = {SIGHUP, SIGINT, SIGUSR1, SIGUSR2, SIGALRM, SIGTERM, SIGRTMIN + 1};
        for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
                cr_assert_eq(signal_case(sigs[i], NULL), 128 + sigs[i], "signal %d", sigs[i]);
                /* with --timeout the child leads its group and the group gets it */
                cr_assert_eq(signal_case(sigs[i], "--timeout"), 128 + sigs[i], "signal %d",
                             sigs[i]);
        }
}

Test(cli_run, the_child_dies_with_the_wrapper, .timeout = 60)
{
        prctl(PR_SET_CHILD_SUBREAPER, 1);
        cr_assert_eq(signal_case(SIGKILL, NULL), 128 + SIGKILL);
        cr_assert_eq(signal_case(SIGKILL, "--timeout"), 128 + SIGKILL);
}

Test(cli_run, timeout_has_the_shape_of_coreutils_timeout, .timeout = 60)
{
        struct tu_res r;
        const char *t[] = {"run", "--timeout", "200ms", "--", "sleep", "100", NULL};
        tu_portkit_run(t, NULL, &r);
        cr_assert_eq(r.status, 124, "%s", r.err);
        tu_res_free(&r);
        /* TERM ignored: KILL after --kill-after, status 137 */
        const char *k[] = {"run",
                           "--timeout",
                           "200ms",
                           "--kill-after",
                           "200ms",
                           "--",
                           "sh",
                           "-c",
                           "trap '' TERM; sleep 100 & wait",
                           NULL};
        tu_portkit_run(k, NULL, &r);
        cr_assert_eq(r.status, 137, "%s", r.err);
        tu_res_free(&r);
        /* --signal and --preserve-status */
        const char *s[] = {"run", "--timeout", "200ms", "--signal", "USR1", "--preserve-status",
                           "--",  "sleep",     "100",   NULL};
        tu_portkit_run(s, NULL, &r);
        cr_assert_eq(r.status, 128 + SIGUSR1, "%s", r.err);
        tu_res_free(&r);
        /* 0 and infinity: no timeout (the same meaning as in `call`) */
        const char *z[] = {"run", "--timeout", "0", "--", "true", NULL};
        tu_portkit_run(z, NULL, &r);
        cr_assert_eq(r.status, 0, "%s", r.err);
        tu_res_free(&r);
        const char *bad[] = {"0x10", " 5", "1e3", "5x", "-1"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                const char *b[] = {"run", "--timeout", bad[i], "--", "true", NULL};
                tu_portkit_run(b, NULL, &r);
                cr_assert_eq(r.status, 100, "'%s' accepted", bad[i]);
                tu_res_free(&r);
        }
}

/* Runs portkit as the foreground job of a new pty; writes `input` to the
 * terminal and returns the exit status. */
static int in_pty(const char *const *argv, const char *input, char *outbuf, size_t outsz)
{
        int m;
        pid_t pid = tu_portkit_start_pty(argv, &m);
        cr_assert_eq(write(m, input, strlen(input)), (ssize_t)strlen(input));
        size_t len = 0;
        for (;;) {
                ssize_t k = read(m, outbuf + len, outsz - 1 - len);
                if (k <= 0)
                        break; /* EIO once every slave fd is closed */
                len += (size_t)k;
        }
        outbuf[len] = 0;
        int ws;
        cr_assert_eq(waitpid(pid, &ws, 0), pid);
        close(m);
        return tu_status_of(ws);
}

Test(cli_run, foreground_lets_the_child_read_the_terminal, .timeout = 60)
{
        char out[4096];
        const char *fg[] = {"run", "--timeout",           "30s", "--foreground", "--", "sh",
                            "-c",  "read x; echo got:$x", NULL};
        cr_assert_eq(in_pty(fg, "hello\n", out, sizeof(out)), 0, "%s", out);
        cr_assert(strstr(out, "got:hello"), "%s", out);
        /* Without it the child is in a background group: its read stops it
         * (SIGTTIN) until the timeout. */
        const char *bg[] = {"run", "--timeout",           "300ms", "--", "sh",
                            "-c",  "read x; echo got:$x", NULL};
        cr_assert_eq(in_pty(bg, "hello\n", out, sizeof(out)), 124, "%s", out);
        cr_assert_null(strstr(out, "got:hello"), "%s", out);
}

Test(cli_run, fd_spellings_and_umask)
{
        char dir[] = "/tmp/pk_cli_fdXXXXXX";
        cr_assert_not_null(mkdtemp(dir));
        char path[256], spec[300];
        /* 2=&1: stderr goes where the child's stdout goes */
        snprintf(path, sizeof(path), "%s/out", dir);
        snprintf(spec, sizeof(spec), "1=%s:wc", path);
        struct tu_res r;
        const char *a[] = {
            "run", "--fd", spec, "--fd", "2=&1", "--", "sh", "-c", "echo out; echo err >&2", NULL};
        tu_portkit_run(a, NULL, &r);
        cr_assert_eq(r.status, 0, "%s", r.err);
        cr_assert_str_eq(r.err, "");
        tu_res_free(&r);
        FILE *f = fopen(path, "r");
        char text[64] = {0};
        cr_assert_not_null(f);
        cr_assert_gt(fread(text, 1, sizeof(text) - 1, f), 0);
        fclose(f);
        cr_assert_str_eq(text, "out\nerr\n");
        /* --umask applies to the file --fd creates */
        snprintf(path, sizeof(path), "%s/masked", dir);
        snprintf(spec, sizeof(spec), "1=%s:wc", path);
        const char *u[] = {"run", "--fd", spec, "--umask", "077", "--", "true", NULL};
        tu_portkit_run(u, NULL, &r);
        cr_assert_eq(r.status, 0, "%s", r.err);
        tu_res_free(&r);
        struct stat st;
        cr_assert_eq(stat(path, &st), 0);
        cr_assert_eq(st.st_mode & 0777, 0600, "mode %o", st.st_mode & 0777);
        /* a path with ':' is given with its flags */
        snprintf(path, sizeof(path), "%s/a:b", dir);
        snprintf(spec, sizeof(spec), "1=%s:wc", path);
        const char *colon[] = {"run", "--fd", spec, "--", "true", NULL};
        tu_portkit_run(colon, NULL, &r);
        cr_assert_eq(r.status, 0, "%s", r.err);
        tu_res_free(&r);
        cr_assert_eq(stat(path, &st), 0);
        unlink(path);
        snprintf(path, sizeof(path), "%s/masked", dir);
        unlink(path);
        snprintf(path, sizeof(path), "%s/out", dir);
        unlink(path);
        rmdir(dir);
        /* strictness */
        const char *bad[] = {"1=l2:q", "1=/tmp/x:c", "1=/tmp/x:t", "1=/tmp/x:at", "1=-1",
                             "x=null", "1=",         "1=&1",       "1=&x",        "-1=null"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                const char *b[] = {"run", "--fd", bad[i], "--", "true", NULL};
                tu_portkit_run(b, NULL, &r);
                cr_assert_eq(r.status, 100, "--fd %s: %d %s", bad[i], r.status, r.err);
                cr_assert(strstr(r.err, "--fd"), "%s", r.err);
                tu_res_free(&r);
        }
        const char *h[] = {"run", "--help", NULL};
        tu_portkit_run(h, NULL, &r);
        cr_assert(strstr(r.out, "2=&1"), "%s", r.out);
        cr_assert(strstr(r.out, "forwards"), "%s", r.out);
        tu_res_free(&r);
}

Test(cli_run, identity_and_environment)
{
        struct tu_res r;
        if (geteuid() == 0) {
                const char *u[] = {
                    "run", "--user", "nobody", "--", "sh", "-c", "echo $HOME:$USER:$LOGNAME:$SHELL",
                    NULL};
                tu_portkit_run(u, NULL, &r);
                cr_assert_eq(r.status, 0, "%s", r.err);
                cr_assert_str_neq(r.out, "");
                cr_assert(strstr(r.out, ":nobody:nobody:"), "%s", r.out);
                tu_res_free(&r);
                const char *k[] = {"run",   "--user",     "nobody", "--keep-user-env",
                                   "--env", "USER=kept",  "--",     "sh",
                                   "-c",    "echo $USER", NULL};
                tu_portkit_run(k, NULL, &r);
                cr_assert_str_eq(r.out, "kept\n");
                tu_res_free(&r);
                /* ambient capabilities survive the uid change; the bounding set is
                 * exactly the list (CAP_KILL is 5, CAP_NET_BIND_SERVICE 10) */
                const char *amb[] = {
                    "run", "--user", "nobody",  "--ambient-caps",    "net_bind_service",
                    "--",  "grep",   "^CapAmb", "/proc/self/status", NULL};
                tu_portkit_run(amb, NULL, &r);
                cr_assert_eq(r.status, 0, "%s", r.err);
                cr_assert_str_eq(r.out, "CapAmb:\t0000000000000400\n");
                tu_res_free(&r);
                const char *bnd[] = {"run",  "--bounding-set", "CAP_NET_BIND_SERVICE,kill", "--",
                                     "grep", "^CapBnd",        "/proc/self/status",         NULL};
                tu_portkit_run(bnd, NULL, &r);
                cr_assert_eq(r.status, 0, "%s", r.err);
                cr_assert_str_eq(r.out, "CapBnd:\t0000000000000420\n");
                tu_res_free(&r);
                const char *bad[] = {"run", "--ambient-caps", "net_bind_servic",
                                     "--",  "true",           NULL};
                tu_portkit_run(bad, NULL, &r);
                cr_assert_eq(r.status, 100);
                cr_assert(strstr(r.err, "unknown capability 'net_bind_servic'"), "%s", r.err);
                tu_res_free(&r);
                const char *g[] = {"run", "--groups", "0,1,2", "--", "id", "-G", NULL};
                tu_portkit_run(g, NULL, &r);
                cr_assert_eq(r.status, 0, "%s", r.err);
                cr_assert(strstr(r.out, "1 2") || strstr(r.out, "0 1 2"), "%s", r.out);
                tu_res_free(&r);
        }
        char dir[] = "/tmp/pk_cli_envXXXXXX";
        cr_assert_not_null(mkdtemp(dir));
        char path[256];
        snprintf(path, sizeof(path), "%s/FOO", dir);
        FILE *f = fopen(path, "w");
        fputs("value \t\nsecond line\n", f);
        fclose(f);
        snprintf(path, sizeof(path), "%s/GONE", dir);
        fclose(fopen(path, "w"));
        const char *e[] = {"run",      "--env", "GONE=here",
                           "--envdir", dir,     "--",
                           "sh",       "-c",    "echo \"[$FOO][${GONE-unset}]\"",
                           NULL};
        tu_portkit_run(e, NULL, &r);
        cr_assert_str_eq(r.out, "[value][unset]\n", "%s %s", r.out, r.err);
        tu_res_free(&r);
        unlink(path);
        snprintf(path, sizeof(path), "%s/FOO", dir);
        unlink(path);
        /* --clear-env clears what came before it, not what comes after */
        const char *ce[] = {"run", "--env", "A=1",          "--clear-env", "--env",
                            "B=2", "--",    "/usr/bin/env", NULL};
        tu_portkit_run(ce, NULL, &r);
        cr_assert_str_eq(r.out, "B=2\n", "%s", r.err);
        tu_res_free(&r);
        /* --pidfile holds the child's pid while it runs */
        snprintf(path, sizeof(path), "%s/pid", dir);
        char script[1024];
        /* (written right after the spawn: the child may start first) */
        snprintf(script, sizeof(script),
                 "while [ ! -s %s ]; do sleep 0.01; done; test \"$(cat %s)\" = $$", path, path);
        const char *p[] = {"run", "--pidfile", path, "--", "sh", "-c", script, NULL};
        tu_portkit_run(p, NULL, &r);
        cr_assert_eq(r.status, 0, "%s", r.err);
        cr_assert_eq(access(path, F_OK), -1, "the pidfile stays");
        tu_res_free(&r);
        rmdir(dir);
        /* --exec: no wrapper, PROG has the CLI's pid */
        const char *x[] = {"run", "--exec", "--env",         "A=b", "--",
                           "sh",  "-c",     "echo $A $PPID", NULL};
        int out, err, ws;
        pid_t pid = tu_portkit_start(x, NULL, 0, NULL, &out, &err);
        cr_assert_eq(waitpid(pid, &ws, 0), pid);
        char *o = tu_slurp_fd(out);
        char want[64];
        snprintf(want, sizeof(want), "b %d\n", (int)getpid());
        cr_assert_str_eq(o, want);
        free(o);
        free(tu_slurp_fd(err));
}

Test(cli_run, usage_errors)
{
        struct tu_res r;
        const char *const cases[][8] = {
            {"run", "--", "", NULL},
            {"run", "--bogus", "--", "true", NULL},
            {"run", "--rlimit", "FOO=1", "--", "true", NULL},
            {"run", "--rlimit", "NOFILE=1x", "--", "true", NULL},
            {"run", "--exec", "--timeout", "1s", "--", "true", NULL},
            {"run", "--kill-after", "1s", "--", "true", NULL},
            {"run", "--groups", "0", "--clear-groups", "--", "true", NULL},
            {"run", NULL},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                tu_portkit_run(cases[i], NULL, &r);
                cr_assert_eq(r.status, 100, "case %zu: %d %s", i, r.status, r.err);
                tu_res_free(&r);
        }
        const char *rl[] = {"run", "--rlimit", "FOO=1", "--", "true", NULL};
        tu_portkit_run(rl, NULL, &r);
        cr_assert(strstr(r.err, "NOFILE") && strstr(r.err, "RTPRIO"), "%s", r.err);
        tu_res_free(&r);
        /* a limit the kernel refuses is named */
        const char *nf[] = {"run", "--rlimit", "nofile=1T", "--", "true", NULL};
        tu_portkit_run(nf, NULL, &r);
        cr_assert_eq(r.status, 126, "%s", r.err);
        cr_assert(strstr(r.err, "RLIMIT_NOFILE"), "%s", r.err);
        tu_res_free(&r);
        const char *sz[] = {"run", "--rlimit", "fsize=2k", "--", "sh", "-c", "ulimit -f", NULL};
        tu_portkit_run(sz, NULL, &r);
        cr_assert_eq(r.status, 0, "%s", r.err);
        cr_assert_str_eq(r.out, "4\n"); /* ulimit -f counts 512-byte blocks */
        tu_res_free(&r);
}

/* --chroot with the spawn layer (no --exec) and in place (--exec), with --cwd
 * inside the root; --ambient-caps and --bounding-set with --exec as without. */
/* run and wrap share one reader of --rlimit, --umask and --env values
 * (tools/portkit/cli_util.c): the same values work in both and the same ones
 * are refused with the usage exit.  wrap runs under a shell: it wants pipes
 * (epoll) for its stdin and stdout. */
Test(cli_run, run_and_wrap_read_option_values_alike)
{
        static const char script[] = "ulimit -S -f; ulimit -H -f; umask; echo $K";
        static const char want[] = "4\n8\n0027\na=b\n";
        const char *good[] = {"run",     "--rlimit", "RLIMIT_fsize=2k:4KiB",
                              "--umask", "027",      "--env",
                              "K=a=b",   "--",       "sh",
                              "-c",      script,     NULL};
        struct tu_res r;
        tu_portkit_run(good, NULL, &r);
        cr_assert_eq(r.status, 0, "run: %s", r.err);
        cr_assert_str_eq(r.out, want, "run");
        tu_res_free(&r);
        char *out = NULL;
        int st = tu_sh(&out,
                       ": | %s wrap --transparent --rlimit RLIMIT_fsize=2k:4KiB --umask 027 "
                       "--env K=a=b -- sh -c '%s'",
                       PORTKIT, script);
        cr_assert_eq(st, 0, "wrap: %s", out);
        cr_assert_str_eq(out, want, "wrap");
        free(out);
        static const char *const bad[][2] = {
            {"--rlimit", "nofile"},
            {"--rlimit", "=1"},
            {"--rlimit", "bogus=1"},
            {"--rlimit", "nofile=1x"},
            {"--rlimit", "nofile=10:5"},
            {"--rlimit", "nofile=unlimited:5"},
            {"--rlimit", "nofile=1::2"},
            {"--umask", "+7"},
            {"--umask", "0778"},
            {"--umask", ""},
            {"--env", "=v"},
            {"--env", "novalue"},
        };
        for (size_t b = 0; b < sizeof(bad) / sizeof(bad[0]); b++) {
                const char *argv[] = {"run", bad[b][0], bad[b][1], "--", "true", NULL};
                tu_portkit_run(argv, NULL, &r);
                cr_assert_eq(r.status, 100, "run %s '%s': %d %s", bad[b][0], bad[b][1], r.status,
                             r.err);
                tu_res_free(&r);
                st = tu_sh(NULL, ": | %s wrap --transparent %s '%s' -- true 2>/dev/null", PORTKIT,
                           bad[b][0], bad[b][1]);
                cr_assert_eq(st, 100, "wrap %s '%s': %d", bad[b][0], bad[b][1], st);
        }
}

Test(cli_run, chroot_and_caps_with_and_without_exec, .init = make_root, .fini = remove_root)
{
        if (geteuid() != 0)
                cr_skip_test("chroot and capabilities need root");
        struct tu_res r;
        const char *w[] = {"run", "--chroot", root, "--", "pk-cat", "/pk-marker", NULL};
        tu_portkit_run(w, NULL, &r);
        cr_assert_eq(r.status, 0, "%s", r.err);
        cr_assert_str_eq(r.out, "inside the root\n");
        tu_res_free(&r);
        const char *wc[] = {"run",   "--chroot", root,     "--cwd",   "/sub", "--user",
                            "65534", "--",       "pk-cat", "marker2", NULL};
        tu_portkit_run(wc, NULL, &r);
        cr_assert_eq(r.status, 0, "%s", r.err);
        cr_assert_str_eq(r.out, "in /sub\n");
        tu_res_free(&r);
        const char *x[] = {"run",  "--exec", "--chroot", root,      "--cwd",
                           "/sub", "--",     "pk-cat",   "marker2", NULL};
        tu_portkit_run(x, NULL, &r);
        cr_assert_eq(r.status, 0, "%s", r.err);
        cr_assert_str_eq(r.out, "in /sub\n");
        tu_res_free(&r);
        const char *bad[] = {"run", "--chroot", "/nonexistent-pk-root", "--", "true", NULL};
        tu_portkit_run(bad, NULL, &r);
        cr_assert_eq(r.status, 127, "%s", r.err);
        cr_assert(strstr(r.err, "nonexistent-pk-root"), "%s", r.err);
        tu_res_free(&r);
        /* The same capability results as the spawn child gives (cli_run's
         * identity_and_environment): CAP_NET_BIND_SERVICE is 10, CAP_KILL 5. */
        const char *amb[] = {"run",
                             "--exec",
                             "--user",
                             "nobody",
                             "--ambient-caps",
                             "net_bind_service",
                             "--",
                             "grep",
                             "^CapAmb",
                             "/proc/self/status",
                             NULL};
        tu_portkit_run(amb, NULL, &r);
        cr_assert_eq(r.status, 0, "%s", r.err);
        cr_assert_str_eq(r.out, "CapAmb:\t0000000000000400\n");
        tu_res_free(&r);
        const char *bnd[] = {"run", "--exec", "--bounding-set", "CAP_NET_BIND_SERVICE,kill",
                             "--",  "grep",   "^CapBnd",        "/proc/self/status",
                             NULL};
        tu_portkit_run(bnd, NULL, &r);
        cr_assert_eq(r.status, 0, "%s", r.err);
        cr_assert_str_eq(r.out, "CapBnd:\t0000000000000420\n");
        tu_res_free(&r);
}
