/* SPDX-License-Identifier: MIT */
/* One `portkit supervise` run by a test (tests/test_supervise*.c) through the
 * real binary: its folder (units/, the control socket, the stderr file and
 * optionally log/), starting it until it answers `ctl ping`, `ctl` calls,
 * the fields of `ctl status`, a clean shutdown.  Each helper asserts
 * (Criterion) where it cannot do its job, as testutil.h's do; the test's
 * .fini still owns removing the folder. */
#ifndef PORTKIT_SV_TESTUTIL_H
#define PORTKIT_SV_TESTUTIL_H

#include "testutil.h"

#include <portkit.h>

#include <criterion/criterion.h>

#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define SVT_PORTKIT PK_BUILD_DIR "/portkit"

struct sv {
        char dir[256];
        char ctl[320];   /* the control socket */
        char units[320]; /* the unit folder, made by svt_init() */
        char log[320];   /* --log-dir when not empty */
        char err[320];   /* supervise's stderr */
        struct pk_proc *p;
        int cgfd; /* > 0: svt_start() has supervise born in this cgroup (borrowed) */
};

/* A fresh folder from tmpl (a mkdtemp template) with units/ in it, and the
 * paths below it; with_log names log/ for --log-dir (supervise makes it). */
static inline void svt_init(struct sv *s, const char *tmpl, bool with_log)
{
        memset(s, 0, sizeof(*s));
        snprintf(s->dir, sizeof(s->dir), "%s", tmpl);
        cr_assert(mkdtemp(s->dir), "mkdtemp %s", tmpl);
        snprintf(s->ctl, sizeof(s->ctl), "%s/ctl", s->dir);
        snprintf(s->units, sizeof(s->units), "%s/units", s->dir);
        snprintf(s->err, sizeof(s->err), "%s/stderr", s->dir);
        if (with_log)
                snprintf(s->log, sizeof(s->log), "%s/log", s->dir);
        cr_assert_eq(mkdir(s->units, 0755), 0);
}

/* A short pause between two looks at something that is on its way. */
static inline void svt_nap(void)
{
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
}

/* `portkit pre...` (pre NULL-terminated); the caller owns the command and
 * adds to it. */
static inline struct pk_cmd *svt_portkit(const char *const *pre)
{
        struct pk_cmd *cmd;
        cr_assert_eq(pk_cmd_new(SVT_PORTKIT, &cmd), 0);
        cr_assert_eq(pk_cmd_args(cmd, pre), 0);
        return cmd;
}

/* Waits (30 s at most: a hang, not a timing measure) until the file at path
 * holds want, and returns its text as it is then, want or not (caller
 * frees; "" for a file that is not there). */
static inline char *svt_wait_text(const char *path, const char *want)
{
        char *t = tu_slurp_or_empty(path);
        for (int i = 0; i < 600 && !strstr(t, want); i++) {
                free(t);
                svt_nap();
                t = tu_slurp_or_empty(path);
        }
        return t;
}

/* Runs cmd to its end (timeout_ms at most: a hang) and frees it; returns its
 * exit status as a shell shows it, its stdout then stderr in *out when out
 * is not NULL (caller frees). */
static inline int svt_run_for(struct pk_cmd *cmd, int64_t timeout_ms, char **out)
{
        struct pk_run_opts o = {.timeout_ms = timeout_ms};
        struct pk_run_result res;
        int r = pk_run(cmd, &o, &res, NULL);
        pk_cmd_free(cmd);
        cr_assert_eq(r, 0, "pk_run portkit: %s", pk_strerror(r));
        int st = pk_exit_shell(&res.status);
        if (out) {
                size_t n = res.out_len + res.err_len + 1;
                *out = malloc(n);
                cr_assert_not_null(*out);
                snprintf(*out, n, "%s%s", res.out ? res.out : "", res.err ? res.err : "");
        }
        pk_run_result_free(&res);
        return st;
}

/* svt_run_for() with 30 s. */
static inline int svt_run(struct pk_cmd *cmd, char **out)
{
        return svt_run_for(cmd, 30000, out);
}

/* Appends a1 and the arguments after it in ap, up to a NULL, to cmd. */
static inline void svt_args(struct pk_cmd *cmd, const char *a1, va_list ap)
{
        for (const char *a = a1; a; a = va_arg(ap, const char *))
                cr_assert_eq(pk_cmd_arg(cmd, a), 0);
}

/* Appends a1 and ap (up to a NULL) to cmd, then runs it as svt_run_for(). */
static inline int svt_vrun(struct pk_cmd *cmd, int64_t timeout_ms, char **out, const char *a1,
                           va_list ap)
{
        svt_args(cmd, a1, ap);
        return svt_run_for(cmd, timeout_ms, out);
}

/* `portkit ctl --control CTL`, arguments to follow (caller owns it). */
static inline struct pk_cmd *svt_ctl_cmd(const struct sv *s)
{
        return svt_portkit((const char *const[]){"ctl", "--control", s->ctl, NULL});
}

/* Runs `portkit ctl --control CTL a1...` (NULL-terminated) as svt_run(). */
static inline int svt_ctl(struct sv *s, char **out, const char *a1, ...)
{
        va_list ap;
        va_start(ap, a1);
        int st = svt_vrun(svt_ctl_cmd(s), 30000, out, a1, ap);
        va_end(ap);
        return st;
}

/* Runs `portkit supervise --control CTL a1...` (NULL-terminated) to its end,
 * as svt_run_for(): for a configuration it refuses before it serves (one it
 * accepts runs until timeout_ms, a failure). */
static inline int svt_supervise_once(struct sv *s, int64_t timeout_ms, char **out, const char *a1,
                                     ...)
{
        va_list ap;
        va_start(ap, a1);
        int st =
            svt_vrun(svt_portkit((const char *const[]){"supervise", "--control", s->ctl, NULL}),
                     timeout_ms, out, a1, ap);
        va_end(ap);
        return st;
}

/* A field of `ctl status UNIT` ("pid", "active", "state"...) into buf, or "". */
static inline void svt_field(struct sv *s, const char *unit, const char *key, char *buf,
                             size_t size)
{
        char *out = NULL;
        (void)svt_ctl(s, &out, "status", unit, (const char *)NULL);
        buf[0] = '\0';
        char pat[64];
        snprintf(pat, sizeof(pat), "%s: ", key);
        const char *p = strstr(out, pat);
        if (p) {
                p += strlen(pat);
                snprintf(buf, size, "%.*s", (int)strcspn(p, "\n"), p);
        }
        free(out);
}

/* Waits (30 s at most: a hang, not a timing measure) until UNIT's key is
 * want; fails with supervise's stderr when it never is. */
static inline void svt_wait_field(struct sv *s, const char *unit, const char *key, const char *want)
{
        char buf[128] = "";
        for (int i = 0; i < 600; i++) {
                svt_field(s, unit, key, buf, sizeof(buf));
                if (strcmp(buf, want) == 0)
                        return;
                svt_nap();
        }
        char *err = tu_slurp_or_empty(s->err);
        cr_assert_fail("%s %s is '%s', not '%s'; supervisor said:\n%s", unit, key, buf, want, err);
}

/* Starts `portkit supervise --control CTL [--log-dir LOG] extra...` (extra
 * NULL-terminated), stderr into s->err, stdout to /dev/null, SIGTERM when
 * the test dies; returns once it answers `ctl ping` (30 s at most), fails
 * with its stderr when it exits first. */
static inline void svt_start(struct sv *s, const char *const *extra)
{
        struct pk_cmd *cmd =
            svt_portkit((const char *const[]){"supervise", "--control", s->ctl, NULL});
        if (s->log[0]) {
                cr_assert_eq(pk_cmd_arg(cmd, "--log-dir"), 0);
                cr_assert_eq(pk_cmd_arg(cmd, s->log), 0);
        }
        for (size_t i = 0; extra && extra[i]; i++)
                cr_assert_eq(pk_cmd_arg(cmd, extra[i]), 0);
        cr_assert_eq(pk_cmd_fd_file(cmd, 2, s->err, O_WRONLY | O_CREAT | O_TRUNC, 0644), 0);
        cr_assert_eq(pk_cmd_fd_null(cmd, 1), 0);
        if (s->cgfd > 0)
                cr_assert_eq(pk_cmd_cgroup(cmd, s->cgfd), 0);
        /* If the test dies, the supervisor shuts its services down. */
        cr_assert_eq(pk_cmd_pdeathsig(cmd, SIGTERM), 0);
        cr_assert_eq(pk_spawn(cmd, &s->p, NULL), 0);
        pk_cmd_free(cmd);
        for (int i = 0; i < 600; i++) {
                struct pk_exit ex;
                if (pk_proc_wait(s->p, 0, &ex) == 0) {
                        char *err = tu_slurp_or_empty(s->err);
                        cr_assert_fail("supervise exited %d:\n%s", pk_exit_shell(&ex), err);
                }
                if (svt_ctl(s, NULL, "ping", (const char *)NULL) == 0)
                        return;
                svt_nap();
        }
        cr_assert_fail("supervise did not answer");
}

/* `ctl shutdown`, then checks supervise exits 0 (its stderr otherwise). */
static inline void svt_stop(struct sv *s)
{
        cr_assert_eq(svt_ctl(s, NULL, "shutdown", (const char *)NULL), 0);
        struct pk_exit ex;
        cr_assert_eq(pk_proc_wait(s->p, 30000, &ex), 0);
        char *err = tu_slurp_or_empty(s->err);
        cr_assert_eq(pk_exit_shell(&ex), 0, "supervise exit %d:\n%s", pk_exit_shell(&ex), err);
        free(err);
        s->p = pk_proc_free(s->p);
}

/* A test's .fini (it runs after a failed assertion too): SIGTERM to a
 * supervise still running (30 s to end) and its folder removed. */
static inline void svt_cleanup(struct sv *s)
{
        if (s->p) {
                (void)pk_proc_signal(s->p, SIGTERM);
                (void)pk_proc_wait(s->p, 30000, NULL);
                s->p = pk_proc_free(s->p);
        }
        if (s->dir[0]) {
                char cmd[400];
                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
                (void)!system(cmd);
        }
}

#endif
