/* SPDX-License-Identifier: MIT */
/* The sup layer's log capture with real children, pipes and files: 1,000
 * restarts with no line lost or reordered (across size rotations), stdout
 * and stderr merged in write order or apart, rotation at size and by age (a
 * timer armed only while the file is non-empty), line splitting, timestamps,
 * and a counted, reported drop when the file refuses writes (a log file that
 * is a symlink to /dev/full) under a tiny buffer_max. */
#include "sup/cglog-internal.h"

#include "portkit/fd.h"
#include "portkit/loop.h"
#include "portkit/spawn.h"
#include "portkit/sup.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PROBE PK_BUILD_DIR "/tests/helpers/spawn_probe"

static char dir[64];

static void make_dir(void)
{
        snprintf(dir, sizeof(dir), "/tmp/pk-log-XXXXXX");
        cr_assert(mkdtemp(dir));
}

static void remove_dir(void)
{
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        cr_assert_eq(system(cmd), 0);
}

/* The whole file (caller frees), or NULL if it does not exist. */
static char *slurp(const char *name)
{
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        FILE *f = fopen(path, "re");
        if (!f)
                return NULL;
        size_t cap = 4096, len = 0, n;
        char *b = malloc(cap);
        while ((n = fread(b + len, 1, cap - len - 1, f)) > 0) {
                len += n;
                if (cap - len < 2)
                        b = realloc(b, cap *= 2);
        }
        b[len] = '\0';
        fclose(f);
        return b;
}

static bool exists(const char *name)
{
        char path[PATH_MAX];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        return lstat(path, &st) == 0;
}

static void put(struct pk_log *log, int stream, const char *s)
{
        size_t n = strlen(s);
        cr_assert_eq(write(pk_log_fd(log, stream), s, n), (ssize_t)n);
}

static struct pk_log_stats stats(const struct pk_log *log)
{
        struct pk_log_stats st;
        cr_assert_eq(pk_log_stats(log, &st), 0);
        return st;
}

/* Runs a probe with both streams into the log and waits for it. */
static void run_child(struct pk_log *log, const char *mode, const char *a1, const char *a2)
{
        struct pk_cmd *c;
        cr_assert_eq(pk_cmd_new(PROBE, &c), 0);
        pk_cmd_arg(c, mode);
        if (a1)
                pk_cmd_arg(c, a1);
        if (a2)
                pk_cmd_arg(c, a2);
        pk_cmd_fd(c, 1, pk_log_fd(log, 1));
        pk_cmd_fd(c, 2, pk_log_fd(log, 2));
        struct pk_proc *p;
        cr_assert_eq(pk_spawn(c, &p, NULL), 0);
        cr_assert_eq(pk_proc_wait(p, -1, NULL), 0);
        pk_proc_free(p);
        pk_cmd_free(c);
}

Test(sup_log, arguments_and_descriptors)
{
        make_dir();
        struct pk_loop *loop;
        pk_loop_new(&loop);
        struct pk_log *log = NULL;
        cr_assert_eq(pk_log_new(NULL, dir, "x", NULL, &log), -EINVAL);
        cr_assert_eq(pk_log_new(loop, dir, "a/b", NULL, &log), -EINVAL);
        cr_assert_eq(pk_log_new(loop, dir, "", NULL, &log), -EINVAL);
        cr_assert_eq(pk_log_new(loop, "/nonexistent-dir", "x", NULL, &log), -ENOENT);
        struct pk_log_opts bad = {.timestamps = 7};
        cr_assert_eq(pk_log_new(loop, dir, "x", &bad, &log), -EINVAL);
        cr_assert_null(log);

        cr_assert_eq(pk_log_new(loop, dir, "svc", NULL, &log), 0);
        int fd = pk_log_fd(log, 1);
        cr_assert_geq(fd, 0);
        cr_assert_eq(pk_log_fd(log, 2), fd, "merged: one pipe");
        cr_assert_eq(pk_log_fd(log, 3), -EINVAL);
        cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        cr_assert_eq(pk_loop_alive(loop), 0u, "a log never keeps the loop alive");
        cr_assert(!exists("svc.log"), "no file before the first line");
        cr_assert_eq(pk__log_timers_active(log), 0);
        put(log, 1, "hello\n");
        cr_assert_eq(pk_loop_run_nowait(loop), PK_LOOP_DONE);
        char *s = slurp("svc.log");
        cr_assert_str_eq(s, "hello\n", "read by the loop");
        free(s);
        char path[PATH_MAX];
        struct stat st;
        snprintf(path, sizeof(path), "%s/svc.log", dir);
        cr_assert_eq(stat(path, &st), 0);
        cr_assert_eq(st.st_mode & 0777, 0640u);
        cr_assert_null(pk_log_free(log));
        cr_assert_null(pk_log_free(NULL));
        pk_loop_free(loop);

        /* The fd layer's openat, which the log's files are opened with. */
        int dfd = pk_fd_open(dir, O_RDONLY | O_DIRECTORY, 0);
        cr_assert_geq(dfd, 0);
        int f = pk_fd_openat(dfd, "svc.log", O_RDONLY, 0);
        cr_assert_geq(f, 0);
        cr_assert(fcntl(f, F_GETFD) & FD_CLOEXEC);
        close(f);
        cr_assert_eq(pk_fd_openat(dfd, "nope", O_RDONLY, 0), -ENOENT);
        cr_assert_eq(pk_fd_openat(-5, "svc.log", O_RDONLY, 0), -EBADF);
        cr_assert_eq(pk_fd_openat(dfd, NULL, O_RDONLY, 0), -EINVAL);
        close(dfd);
        remove_dir();
}

Test(sup_log, merged_keeps_write_order_apart_separates)
{
        make_dir();
        struct pk_loop *loop;
        pk_loop_new(&loop);
        struct pk_log *log;
        cr_assert_eq(pk_log_new(loop, dir, "m", NULL, &log), 0);
        run_child(log, "interleave", "20", NULL);
        cr_assert_eq(pk_log_flush(log), 0);
        char *s = slurp("m.log");
        char want[1024] = "";
        for (int i = 0; i < 20; i++)
                snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s %d\n",
                         i % 2 ? "err" : "out", i);
        cr_assert_str_eq(s, want);
        free(s);
        pk_log_free(log);

        struct pk_log_opts o = {.apart = 1};
        cr_assert_eq(pk_log_new(loop, dir, "a", &o, &log), 0);
        cr_assert_neq(pk_log_fd(log, 1), pk_log_fd(log, 2));
        run_child(log, "interleave", "6", NULL);
        pk_log_free(log); /* flushes */
        s = slurp("a.log");
        cr_assert_str_eq(s, "out 0\nout 2\nout 4\n");
        free(s);
        s = slurp("a.err.log");
        cr_assert_str_eq(s, "err 1\nerr 3\nerr 5\n");
        free(s);
        pk_loop_free(loop);
        remove_dir();
}

/* ---- 1,000 restarts ---- */

#define RESTARTS 1000
#define LINES_PER_RUN 5

struct restarts {
        struct pk_loop *loop;
        struct pk_log *log;
        struct pk_cmd *cmd;
        struct pk_proc *proc;
        struct pk_loop_io exit_io;
        int runs;
};

static void start_run(struct restarts *r);

static void on_exit_io(struct pk_loop_io *io, unsigned revents)
{
        (void)revents;
        struct restarts *r = io->w.ctx;
        cr_assert_eq(pk_proc_wait(r->proc, 0, NULL), 0);
        pk_loop_io_stop(io);
        r->proc = pk_proc_free(r->proc);
        /* The next run starts at once: what the last one wrote may still be
         * in the pipe, which the log keeps. */
        if (++r->runs < RESTARTS)
                start_run(r);
}

static void start_run(struct restarts *r)
{
        char tag[32];
        snprintf(tag, sizeof(tag), "run%d", r->runs);
        pk_cmd_free(r->cmd);
        cr_assert_eq(pk_cmd_new(PROBE, &r->cmd), 0);
        pk_cmd_arg(r->cmd, "lines");
        pk_cmd_arg(r->cmd, tag);
        char n[8];
        snprintf(n, sizeof(n), "%d", LINES_PER_RUN);
        pk_cmd_arg(r->cmd, n);
        pk_cmd_fd(r->cmd, 1, pk_log_fd(r->log, 1));
        pk_cmd_fd(r->cmd, 2, pk_log_fd(r->log, 2));
        cr_assert_eq(pk_spawn(r->cmd, &r->proc, NULL), 0);
        pk_loop_io_init(r->loop, &r->exit_io, pk_proc_pidfd(r->proc));
        r->exit_io.w.ctx = r;
        cr_assert_eq(pk_loop_io_start(&r->exit_io, PK_LOOP_READ, on_exit_io), 0);
}

Test(sup_log, thousand_restarts_no_line_lost_or_reordered, .timeout = 600)
{
        make_dir();
        struct restarts r = {0};
        pk_loop_new(&r.loop);
        struct pk_log_opts o = {
            .max_bytes = 8192, .max_files = 200, .timestamps = PK_LOG_TIME_TAI64N};
        cr_assert_eq(pk_log_new(r.loop, dir, "svc", &o, &r.log), 0);
        start_run(&r);
        cr_assert_eq(pk_loop_run(r.loop), PK_LOOP_DONE);
        cr_assert_eq(r.runs, RESTARTS);
        cr_assert_eq(pk_log_flush(r.log), 0);
        struct pk_log_stats st = stats(r.log);
        cr_assert_eq(st.lines, (uint64_t)RESTARTS * LINES_PER_RUN);
        cr_assert_eq(st.dropped_lines, 0);
        cr_assert_gt(st.rotations, 10);
        cr_assert_lt(st.rotations, 200, "every rotated file kept");

        /* Oldest file first: svc.log.N .. svc.log.1, then svc.log. */
        int next_run = 0, next_line = 0;
        for (int k = (int)st.rotations; k >= 0; k--) {
                char name[64];
                if (k)
                        snprintf(name, sizeof(name), "svc.log.%d", k);
                else
                        snprintf(name, sizeof(name), "svc.log");
                char *s = slurp(name);
                cr_assert(s, "%s missing", name);
                cr_assert_leq(strlen(s), 8192u, "%s over max_bytes", name);
                char *save = NULL;
                for (char *l = strtok_r(s, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                        /* "@" + 24 hex digits + " " */
                        cr_assert_eq(l[0], '@', "%s", l);
                        cr_assert_eq(strspn(l + 1, "0123456789abcdef"), 24u, "%s", l);
                        cr_assert_eq(l[25], ' ');
                        char want[32];
                        snprintf(want, sizeof(want), "run%d %d", next_run, next_line);
                        cr_assert_str_eq(l + 26, want, "in %s", name);
                        if (++next_line == LINES_PER_RUN) {
                                next_line = 0;
                                next_run++;
                        }
                }
                free(s);
        }
        cr_assert_eq(next_run, RESTARTS);
        pk_cmd_free(r.cmd);
        pk_log_free(r.log);
        pk_loop_free(r.loop);
        remove_dir();
}

/* ---- rotation ---- */

Test(sup_log, rotation_at_size_keeps_max_files)
{
        make_dir();
        struct pk_loop *loop;
        pk_loop_new(&loop);
        struct pk_log *log;
        struct pk_log_opts o = {.max_bytes = 100, .max_files = 3};
        cr_assert_eq(pk_log_new(loop, dir, "r", &o, &log), 0);
        char all[1024] = "";
        for (int i = 0; i < 60; i++) {
                char line[16];
                snprintf(line, sizeof(line), "line %02d\n", i); /* 8 bytes */
                put(log, 1, line);
                strcat(all, line);
                if (i % 7 == 0)
                        pk_log_flush(log);
        }
        pk_log_flush(log);
        struct pk_log_stats st = stats(log);
        /* 12 lines (96 bytes) per file: 60 lines make 5 files, 4 rotations. */
        cr_assert_eq(st.rotations, 4);
        cr_assert(!exists("r.log.4"), "only max_files old files");
        char joined[1024] = "";
        static const char *const names[] = {"r.log.3", "r.log.2", "r.log.1", "r.log"};
        for (int i = 0; i < 4; i++) {
                char *s = slurp(names[i]);
                cr_assert(s, "%s", names[i]);
                cr_assert_eq(strlen(s), 96u, "%s: %zu bytes", names[i], strlen(s));
                strcat(joined, s);
                free(s);
        }
        cr_assert_str_eq(joined, all + 12 * 8, "the newest 48 lines, in order");
        pk_log_free(log);

        /* no_old_files: a full file is removed. */
        struct pk_log_opts z = {.max_bytes = 20, .no_old_files = 1};
        cr_assert_eq(pk_log_new(loop, dir, "z", &z, &log), 0);
        put(log, 1, "0123456789\n0123456789\nlast-line-is-long\n");
        pk_log_flush(log);
        char *s = slurp("z.log");
        cr_assert_str_eq(s, "last-line-is-long\n");
        free(s);
        cr_assert(!exists("z.log.1"));
        pk_log_free(log);
        pk_loop_free(loop);
        remove_dir();
}

static void on_keepalive(struct pk_loop_timer *t)
{
        (void)t;
}

Test(sup_log, rotation_by_age_timer_only_while_non_empty, .timeout = 60)
{
        make_dir();
        struct pk_loop *loop;
        pk_loop_new(&loop);
        /* A referenced, far timer so that run_once waits for the log's timer. */
        struct pk_loop_timer keep;
        pk_loop_timer_init(loop, &keep);
        pk_loop_timer_start(&keep, 600000, 0, on_keepalive);
        struct pk_log *log;
        struct pk_log_opts o = {.max_age_ms = 20};
        cr_assert_eq(pk_log_new(loop, dir, "age", &o, &log), 0);
        cr_assert_eq(pk__log_timers_active(log), 0, "no timer for an empty log");
        put(log, 1, "first\n");
        pk_log_flush(log);
        cr_assert_eq(pk__log_timers_active(log), 1, "armed once the file has a line");
        while (stats(log).rotations == 0)
                cr_assert_geq(pk_loop_run_once(loop), 0);
        cr_assert_eq(pk__log_timers_active(log), 0, "idle after rotation: no wake-ups");
        char *s = slurp("age.log.1");
        cr_assert_str_eq(s, "first\n");
        free(s);
        cr_assert(!exists("age.log"), "the next file starts with the next line");
        put(log, 1, "second\n");
        pk_log_flush(log);
        cr_assert_eq(pk__log_timers_active(log), 1);
        s = slurp("age.log");
        cr_assert_str_eq(s, "second\n");
        free(s);
        pk_log_free(log);
        pk_loop_timer_stop(&keep);
        pk_loop_free(loop);
        remove_dir();
}

/* ---- lines ---- */

Test(sup_log, long_lines_split_partial_lines_joined)
{
        make_dir();
        struct pk_loop *loop;
        pk_loop_new(&loop);
        struct pk_log *log;
        struct pk_log_opts o = {.line_max = 16};
        cr_assert_eq(pk_log_new(loop, dir, "l", &o, &log), 0);
        put(log, 1, "0123456789abcdef0123456789abcdefXYZ\n");
        put(log, 1, "exactly-16-bytes\n");
        pk_log_flush(log);
        put(log, 1, "abc");
        pk_loop_run_nowait(loop);
        put(log, 1, "def\n");
        pk_loop_run_nowait(loop);
        put(log, 1, "unterminated");
        pk_log_flush(log); /* a child exited mid-line: the line ends here */
        put(log, 1, "next\n");
        pk_log_flush(log);
        char *s = slurp("l.log");
        cr_assert_str_eq(s, "0123456789abcdef\n0123456789abcdef\nXYZ\nexactly-16-bytes\n"
                            "abcdef\nunterminated\nnext\n");
        free(s);
        struct pk_log_stats st = stats(log);
        cr_assert_eq(st.split_lines, 2);
        cr_assert_eq(st.lines, 7);
        pk_log_free(log);
        pk_loop_free(loop);
        remove_dir();
}

Test(sup_log, iso8601_timestamps)
{
        make_dir();
        struct pk_loop *loop;
        pk_loop_new(&loop);
        struct pk_log *log;
        struct pk_log_opts o = {.timestamps = PK_LOG_TIME_ISO8601};
        cr_assert_eq(pk_log_new(loop, dir, "t", &o, &log), 0);
        put(log, 1, "stamped\n");
        pk_log_free(log);
        char *s = slurp("t.log");
        /* 2026-12-03T07:45:47.123456Z stamped */
        cr_assert_eq(strlen(s), 28 + 8u, "%s", s);
        for (int i = 0; i < 27; i++) {
                char c = s[i];
                bool ok = i == 4 || i == 7     ? c == '-'
                          : i == 10            ? c == 'T'
                          : i == 13 || i == 16 ? c == ':'
                          : i == 19            ? c == '.'
                          : i == 26            ? c == 'Z'
                                               : c >= '0' && c <= '9';
                cr_assert(ok, "char %d of %s", i, s);
        }
        cr_assert_str_eq(s + 27, " stamped\n");
        free(s);

        /* TAI64N: 2^62 + 10 + the Unix time of the read, between t0 and t1. */
        struct pk_log_opts t = {.timestamps = PK_LOG_TIME_TAI64N};
        cr_assert_eq(pk_log_new(loop, dir, "tai", &t, &log), 0);
        time_t t0 = time(NULL);
        put(log, 1, "x\n");
        pk_log_flush(log);
        time_t t1 = time(NULL);
        pk_log_free(log);
        s = slurp("tai.log");
        char sec[17];
        memcpy(sec, s + 1, 16);
        sec[16] = '\0';
        unsigned long long v = strtoull(sec, NULL, 16) - 0x4000000000000000ULL - 10;
        cr_assert(v >= (unsigned long long)t0 && v <= (unsigned long long)t1, "%llu", v);
        cr_assert_str_eq(s + 25, " x\n");
        free(s);
        pk_loop_free(loop);
        remove_dir();
}

Test(sup_log, apart_rotation_names)
{
        make_dir();
        struct pk_loop *loop;
        pk_loop_new(&loop);
        struct pk_log *log;
        struct pk_log_opts o = {.apart = 1, .max_bytes = 10, .max_files = 2};
        cr_assert_eq(pk_log_new(loop, dir, "s", &o, &log), 0);
        put(log, 2, "e1-------\ne2-------\ne3-------\n");
        put(log, 1, "o1-------\no2-------\n");
        pk_log_flush(log);
        char *a = slurp("s.err.log.2"), *b = slurp("s.err.log.1"), *c = slurp("s.err.log");
        cr_assert(a && b && c);
        cr_assert_str_eq(a, "e1-------\n");
        cr_assert_str_eq(b, "e2-------\n");
        cr_assert_str_eq(c, "e3-------\n");
        free(a);
        free(b);
        free(c);
        a = slurp("s.log.1");
        b = slurp("s.log");
        cr_assert(a && b);
        cr_assert_str_eq(a, "o1-------\n");
        cr_assert_str_eq(b, "o2-------\n");
        free(a);
        free(b);
        cr_assert(!exists("s.log.2"));
        cr_assert_eq(stats(log).rotations, 3);
        pk_log_free(log);
        pk_loop_free(loop);
        remove_dir();
}

/* ---- a file that refuses writes ---- */

Test(sup_log, drops_counted_and_reported_under_tiny_buffer)
{
        make_dir();
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/d.log", dir);
        cr_assert_eq(symlink("/dev/full", path), 0); /* every write: ENOSPC */
        struct pk_loop *loop;
        pk_loop_new(&loop);
        struct pk_log *log;
        struct pk_log_opts o = {.buffer_max = 256};
        cr_assert_eq(pk_log_new(loop, dir, "d", &o, &log), 0);
        size_t total = 0;
        for (int i = 0; i < 100; i++) {
                char line[16];
                snprintf(line, sizeof(line), "drop %02d\n", i); /* 8 bytes */
                put(log, 1, line);
                total += 8;
        }
        cr_assert_eq(pk_log_flush(log), -ENOSPC);
        struct pk_log_stats st = stats(log);
        cr_assert_eq(st.lines, 0);
        cr_assert_leq(st.buffered_bytes, 256u, "bounded memory");
        cr_assert_eq(st.buffered_bytes, 256u, "the buffer holds whole lines up to its size");
        cr_assert_eq(st.dropped_lines, 100 - 256 / 8);
        cr_assert_eq(st.dropped_bytes + st.buffered_bytes, total, "every byte accounted for");
        cr_assert_gt(st.write_errors, 0);
        cr_assert_eq(st.last_error, -ENOSPC);
        cr_assert_eq(pk__log_timers_active(log), 1, "a retry is armed while lines wait");

        /* The disk works again: held lines, then the gap, then new lines. */
        cr_assert_eq(unlink(path), 0);
        put(log, 1, "after\n");
        cr_assert_eq(pk_log_flush(log), 0);
        cr_assert_eq(pk__log_timers_active(log), 0, "nothing held: no timer");
        char *s = slurp("d.log");
        char want[1024] = "";
        for (int i = 0; i < 32; i++)
                snprintf(want + strlen(want), sizeof(want) - strlen(want), "drop %02d\n", i);
        strcat(want, "pk_log: dropped 68 lines (544 bytes)\nafter\n");
        cr_assert_str_eq(s, want);
        free(s);
        st = stats(log);
        cr_assert_eq(st.buffered_bytes, 0);
        cr_assert_eq(st.dropped_lines, 68, "the count stays in the stats");
        pk_log_free(log);
        pk_loop_free(loop);
        remove_dir();
}

Test(sup_log, retry_timer_writes_held_lines, .timeout = 60)
{
        make_dir();
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/w.log", dir);
        cr_assert_eq(symlink("/dev/full", path), 0);
        struct pk_loop *loop;
        pk_loop_new(&loop);
        struct pk_loop_timer keep;
        pk_loop_timer_init(loop, &keep);
        pk_loop_timer_start(&keep, 600000, 0, on_keepalive);
        struct pk_log *log;
        cr_assert_eq(pk_log_new(loop, dir, "w", NULL, &log), 0);
        put(log, 1, "held\n");
        while (stats(log).write_errors == 0)
                cr_assert_geq(pk_loop_run_once(loop), 0);
        cr_assert_eq(unlink(path), 0);
        /* No flush: the loop's retry timer writes it. */
        while (stats(log).lines == 0)
                cr_assert_geq(pk_loop_run_once(loop), 0);
        char *s = slurp("w.log");
        cr_assert_str_eq(s, "held\n");
        free(s);
        cr_assert_eq(pk__log_timers_active(log), 0);
        pk_log_free(log);
        pk_loop_timer_stop(&keep);
        pk_loop_free(loop);
        remove_dir();
}

/* A child that never stops writing: pk_log_flush() takes what the pipe holds
 * at the call and returns (draining "until empty" would never end). */
Test(sup_log, flush_ends_under_a_flood, .timeout = 120)
{
        make_dir();
        struct pk_loop *loop;
        pk_loop_new(&loop);
        struct pk_log *log;
        struct pk_log_opts o = {.max_bytes = 1 << 16, .no_old_files = 1};
        cr_assert_eq(pk_log_new(loop, dir, "f", &o, &log), 0);
        struct pk_cmd *c;
        pk_cmd_new(PROBE, &c);
        pk_cmd_arg(c, "flood");
        pk_cmd_arg(c, "1000000000000");
        pk_cmd_fd(c, 1, pk_log_fd(log, 1));
        struct pk_proc *p;
        cr_assert_eq(pk_spawn(c, &p, NULL), 0);
        while (stats(log).bytes == 0) /* until the child has started writing */
                cr_assert_eq(pk_log_flush(log), 0);
        for (int i = 0; i < 20; i++)
                cr_assert_eq(pk_log_flush(log), 0);
        cr_assert_gt(stats(log).split_lines, 0, "no newline: split at line_max");
        pk_proc_signal(p, SIGKILL);
        pk_proc_wait(p, -1, NULL);
        pk_proc_free(p);
        pk_cmd_free(c);
        pk_log_free(log);
        pk_loop_free(loop);
        remove_dir();
}
