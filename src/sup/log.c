/* SPDX-License-Identifier: MIT */
/* Log capture without a logger process: the supervisor holds a pipe per
 * stream (both ends, for the log's whole life, so restarts lose nothing),
 * reads it on its loop, cuts lines (split at line_max), stamps them (ISO 8601
 * or TAI64N) and appends them to name.log, rotating by size and by age.  When
 * the file refuses writes the lines wait in a bounded buffer and, beyond it,
 * are dropped and counted; the gap is written into the file once it works
 * again.  Idle, a log holds no buffer and arms no timer. */
#include "cglog-internal.h"
#include "common/dynbuf.h"

#include "portkit/fd.h"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PK__LOG_MAX_BYTES (1u << 20)
#define PK__LOG_MAX_FILES 10u
#define PK__LOG_LINE_MAX 8192u
#define PK__LOG_BUFFER_MAX (64u << 10)
#define PK__LOG_MODE 0640u
#define PK__LOG_RETRY_MS 1000u
/* Bytes read per callback before yielding to the other watchers (level
 * triggered: the rest comes on the next pass). */
#define PK__LOG_READ_BURST (256u << 10)
#define PK__LOG_STAGE 32768u
#define PK__LOG_STAMP_MAX 40u

struct pk_log;

/* One file: name.log (or name.err.log). */
struct log_file {
        struct pk_log *log;
        char *name;    /* "name.log" */
        int fd;        /* -1: not open (opened at the next line) */
        uint64_t size; /* bytes in the current file */
        struct pk_loop_timer age;
        struct pk_loop_timer retry;
        struct pk__dynbuf pend;        /* formatted lines the file refused, oldest first */
        uint64_t gap_lines, gap_bytes; /* dropped and not yet reported in the file */
};

/* One pipe: stdout (and stderr when merged), or stderr apart. */
struct log_stream {
        struct pk_log *log;
        struct log_file *file;
        int rfd, wfd;
        struct pk_loop_io io;
        char *partial; /* a line without its end yet; at most line_max bytes */
        size_t plen;
};

/* A pipe and the file it feeds (stderr apart has a pair of its own). */
struct log_pair {
        struct log_stream s;
        struct log_file f;
};

struct pk_log {
        struct pk_loop *loop;
        int dirfd;
        struct pk_log_opts o;
        struct pk_log_stats st;
        int n;               /* streams and files: 1 merged, 2 apart */
        struct log_pair p[]; /* n of them: a merged log holds one */
};

/* Formatted lines on their way to one file, on the reader's stack. */
struct stage {
        struct log_file *f;
        size_t len;
        char stamp[PK__LOG_STAMP_MAX];
        size_t stamp_len;
        char buf[PK__LOG_STAGE];
};

static void error_seen(struct pk_log *log, int err)
{
        log->st.write_errors++;
        log->st.last_error = err;
}

static void stamp_now(const struct pk_log *log, char *buf, size_t *len)
{
        *len = 0;
        if (log->o.timestamps == PK_LOG_TIME_NONE)
                return;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int n;
        if (log->o.timestamps == PK_LOG_TIME_TAI64N) {
                /* TAI64N: 2^62 + TAI seconds (UTC + 10, leap seconds ignored as
                 * daemontools and s6 do), then nanoseconds, in hex. */
                uint64_t sec = UINT64_C(0x4000000000000000) + 10u + (uint64_t)ts.tv_sec;
                n = snprintf(buf, PK__LOG_STAMP_MAX, "@%016" PRIx64 "%08lx ", sec,
                             (unsigned long)ts.tv_nsec);
        } else {
                struct tm tm;
                gmtime_r(&ts.tv_sec, &tm);
                n = snprintf(buf, PK__LOG_STAMP_MAX, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ ",
                             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                             tm.tm_sec, ts.tv_nsec / 1000);
        }
        *len = n > 0 && (size_t)n < PK__LOG_STAMP_MAX ? (size_t)n : 0;
}

static size_t count_lines(const char *p, size_t n)
{
        size_t k = 0;
        for (const char *e = p + n; (p = memchr(p, '\n', (size_t)(e - p))); p++)
                k++;
        return k;
}

/* ---- the file ---- */

static void on_age(struct pk_loop_timer *t);

static int file_open(struct log_file *f)
{
        struct pk_log *log = f->log;
        if (f->fd >= 0)
                return 0;
        int fd =
            pk_fd_openat(log->dirfd, f->name, O_WRONLY | O_APPEND | O_CREAT, (mode_t)log->o.mode);
        if (fd < 0)
                return fd;
        fd = pk_fd_raise(fd); /* every descriptor of a log lives long: see pk_fd_raise */
        struct stat st;
        if (fstat(fd, &st) < 0) {
                int e = -errno;
                close(fd);
                return e;
        }
        f->fd = fd;
        f->size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
        /* A file left non-empty by an earlier run ages from now. */
        if (f->size > 0 && log->o.max_age_ms > 0 && !pk_loop_is_active(&f->age.w))
                pk_loop_timer_start(&f->age, log->o.max_age_ms, 0, on_age);
        return 0;
}

static void file_close(struct log_file *f)
{
        if (f->fd >= 0)
                close(f->fd);
        f->fd = -1;
        f->size = 0;
        pk_loop_timer_stop(&f->age);
}

/* name.log -> name.log.1, after name.log.K -> name.log.K+1; a new name.log
 * is opened at the next line. */
static int file_rotate(struct log_file *f)
{
        struct pk_log *log = f->log;
        file_close(f);
        log->st.rotations++;
        size_t nl = strlen(f->name);
        char from[NAME_MAX + 16], to[NAME_MAX + 16];
        if (log->o.no_old_files) {
                if (unlinkat(log->dirfd, f->name, 0) < 0 && errno != ENOENT) {
                        error_seen(log, -errno);
                        return -errno;
                }
                return 0;
        }
        for (unsigned k = log->o.max_files; k-- > 1;) {
                snprintf(from, sizeof(from), "%.*s.%u", (int)nl, f->name, k);
                snprintf(to, sizeof(to), "%.*s.%u", (int)nl, f->name, k + 1);
                if (renameat(log->dirfd, from, log->dirfd, to) < 0 && errno != ENOENT)
                        error_seen(log, -errno);
        }
        snprintf(to, sizeof(to), "%s.1", f->name);
        if (renameat(log->dirfd, f->name, log->dirfd, to) < 0 && errno != ENOENT) {
                int e = -errno;
                error_seen(log, e);
                return e;
        }
        return 0;
}

/* Writes [p, p+n) to the file (opening it), all or an error; *done gets the
 * bytes written either way.  Counts lines and bytes written. */
static int file_write(struct log_file *f, const char *p, size_t n, size_t *done)
{
        struct pk_log *log = f->log;
        *done = 0;
        int r = file_open(f);
        if (r < 0)
                return r;
        bool was_empty = f->size == 0;
        while (*done < n) {
                ssize_t w = write(f->fd, p + *done, n - *done);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0) {
                        r = w < 0 ? -errno : -EIO;
                        /* Reopen at the retry: the file may have been replaced. */
                        file_close(f);
                        break;
                }
                *done += (size_t)w;
                f->size += (uint64_t)w;
        }
        log->st.bytes += *done;
        log->st.lines += count_lines(p, *done);
        if (was_empty && f->fd >= 0 && f->size > 0 && log->o.max_age_ms > 0)
                pk_loop_timer_start(&f->age, log->o.max_age_ms, 0, on_age);
        return r;
}

static void on_retry(struct pk_loop_timer *t);

/* Keeps what the file refused, whole lines only, up to buffer_max; counts the rest. */
static void file_hold(struct log_file *f, const char *p, size_t n)
{
        struct pk_log *log = f->log;
        size_t room = log->o.buffer_max > f->pend.len ? log->o.buffer_max - f->pend.len : 0;
        size_t keep = n <= room ? n : room;
        /* Cut at a line end: a line is kept or dropped whole. */
        while (keep > 0 && keep < n && p[keep - 1] != '\n')
                keep--;
        if (keep > 0 && pk__dynbuf_add(&f->pend, p, keep) < 0) {
                /* Out of memory: nothing was added and these lines count as
                 * dropped; clear the latch so a later hold can try again. */
                keep = 0;
                f->pend.err = 0;
        }
        if (keep < n) {
                size_t lines = count_lines(p + keep, n - keep);
                log->st.dropped_lines += lines;
                log->st.dropped_bytes += n - keep;
                f->gap_lines += lines;
                f->gap_bytes += n - keep;
        }
        log->st.buffered_bytes = log->p[0].f.pend.len + (log->n > 1 ? log->p[1].f.pend.len : 0);
        if (!pk_loop_is_active(&f->retry.w))
                pk_loop_timer_start(&f->retry, PK__LOG_RETRY_MS, 0, on_retry);
}

/* Writes out what was held, then the report of a gap.  0 when nothing is held any more. */
static int file_drain(struct log_file *f)
{
        struct pk_log *log = f->log;
        int r = 0;
        if (f->pend.len) {
                size_t done;
                r = file_write(f, f->pend.p, f->pend.len, &done);
                pk__dynbuf_consume(&f->pend, done);
                if (f->pend.len == 0)
                        pk__dynbuf_free(&f->pend);
                log->st.buffered_bytes =
                    log->p[0].f.pend.len + (log->n > 1 ? log->p[1].f.pend.len : 0);
        }
        if (r == 0 && f->gap_lines) {
                char line[160], stamp[PK__LOG_STAMP_MAX];
                size_t sl;
                stamp_now(log, stamp, &sl);
                int n = snprintf(line, sizeof(line),
                                 "%.*spk_log: dropped %" PRIu64 " lines (%" PRIu64 " bytes)\n",
                                 (int)sl, stamp, f->gap_lines, f->gap_bytes);
                size_t done;
                r = file_write(f, line, (size_t)n, &done);
                if (done == (size_t)n)
                        f->gap_lines = f->gap_bytes = 0;
        }
        if (r < 0)
                error_seen(log, r);
        if (f->pend.len || f->gap_lines) {
                if (!pk_loop_is_active(&f->retry.w))
                        pk_loop_timer_start(&f->retry, PK__LOG_RETRY_MS, 0, on_retry);
                return r < 0 ? r : -EAGAIN;
        }
        pk_loop_timer_stop(&f->retry);
        return 0;
}

static void on_retry(struct pk_loop_timer *t)
{
        (void)file_drain(t->w.ctx);
}

static void on_age(struct pk_loop_timer *t)
{
        struct log_file *f = t->w.ctx;
        if (f->fd >= 0 && f->size > 0)
                (void)file_rotate(f);
}

/* Sends formatted lines to the file: behind anything held, else written. */
static int out_bytes(struct log_file *f, const char *p, size_t n)
{
        int r = 0;
        if (n == 0)
                return 0;
        if (f->pend.len || f->gap_lines)
                (void)file_drain(f);
        if (f->pend.len || f->gap_lines) {
                file_hold(f, p, n);
        } else {
                size_t done;
                r = file_write(f, p, n, &done);
                if (r < 0) {
                        error_seen(f->log, r);
                        file_hold(f, p + done, n - done);
                }
        }
        return r;
}

static int stage_flush(struct stage *sg)
{
        int r = out_bytes(sg->f, sg->buf, sg->len);
        sg->len = 0;
        return r;
}

/* Adds one line (a + b, without its '\n') to the stage, rotating by size first. */
static void stage_line(struct stage *sg, const char *a, size_t alen, const char *b, size_t blen)
{
        struct log_file *f = sg->f;
        struct pk_log *log = f->log;
        size_t need = sg->stamp_len + alen + blen + 1;
        if (sg->len + need > sizeof(sg->buf))
                stage_flush(sg);
        if (f->fd < 0 && !f->pend.len)
                (void)file_open(f); /* learn the size of a file left by an earlier run */
        if (f->fd >= 0 && f->size + sg->len > 0 && f->size + sg->len + need > log->o.max_bytes) {
                stage_flush(sg);
                if (f->fd >= 0 && f->size > 0)
                        (void)file_rotate(f);
        }
        if (need > sizeof(sg->buf)) {
                /* Only with a line_max above the stage (already flushed). */
                char *tmp = malloc(need);
                if (!tmp) {
                        log->st.dropped_lines++;
                        log->st.dropped_bytes += need;
                        f->gap_lines++;
                        f->gap_bytes += need;
                        return;
                }
                memcpy(tmp, sg->stamp, sg->stamp_len);
                if (alen)
                        memcpy(tmp + sg->stamp_len, a, alen);
                if (blen)
                        memcpy(tmp + sg->stamp_len + alen, b, blen);
                tmp[need - 1] = '\n';
                (void)out_bytes(f, tmp, need);
                free(tmp);
                return;
        }
        char *o = sg->buf + sg->len;
        memcpy(o, sg->stamp, sg->stamp_len);
        o += sg->stamp_len;
        if (alen)
                memcpy(o, a, alen);
        o += alen;
        if (blen)
                memcpy(o, b, blen);
        o += blen;
        *o = '\n';
        sg->len += need;
}

/* ---- the pipes ---- */

/* Cuts bytes into lines: complete ones go to the stage, the rest waits. */
static void stream_feed(struct log_stream *s, struct stage *sg, const char *p, size_t n)
{
        struct pk_log *log = s->log;
        size_t max = log->o.line_max;
        while (n) {
                const char *nl = memchr(p, '\n', n);
                size_t seg = nl ? (size_t)(nl - p) : n;
                if (s->plen + seg > max) {
                        size_t take = max - s->plen;
                        stage_line(sg, s->partial, s->plen, p, take);
                        log->st.split_lines++;
                        s->plen = 0;
                        p += take;
                        n -= take;
                        continue;
                }
                if (nl) {
                        stage_line(sg, s->partial, s->plen, p, seg);
                        s->plen = 0;
                        p += seg + 1;
                        n -= seg + 1;
                        continue;
                }
                if (!s->partial) {
                        s->partial = malloc(max);
                        if (!s->partial) {
                                /* No memory for the tail: it becomes a line now. */
                                stage_line(sg, p, seg, NULL, 0);
                                log->st.split_lines++;
                                return;
                        }
                }
                memcpy(s->partial + s->plen, p, seg);
                s->plen += seg;
                n = 0;
        }
        if (s->plen == 0 && s->partial) {
                free(s->partial);
                s->partial = NULL;
        }
}

/* Reads the pipe: up to a burst, or (drain) what it holds now.  Returns the
 * last error of the file writes. */
static int stream_read(struct log_stream *s, bool drain)
{
        struct pk_log *log = s->log;
        struct stage sg;
        sg.f = s->file;
        sg.len = 0;
        stamp_now(log, sg.stamp, &sg.stamp_len);
        char buf[16384];
        size_t total = 0, limit = PK__LOG_READ_BURST;
        if (drain) {
                /* What is in the pipe now, not what a writer still adds while
                 * we read: a flush ends even under a flood. */
                int avail = 0;
                limit = ioctl(s->rfd, FIONREAD, &avail) == 0 ? (size_t)avail : SIZE_MAX;
        }
        while (total < limit) {
                size_t want = limit - total < sizeof(buf) ? limit - total : sizeof(buf);
                ssize_t n = read(s->rfd, buf, want);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break; /* EAGAIN: empty (the log holds the write end: no EOF) */
                total += (size_t)n;
                stream_feed(s, &sg, buf, (size_t)n);
        }
        if (drain && s->plen) {
                stage_line(&sg, s->partial, s->plen, NULL, 0);
                s->plen = 0;
                free(s->partial);
                s->partial = NULL;
        }
        return stage_flush(&sg);
}

static void on_readable(struct pk_loop_io *io, unsigned revents)
{
        (void)revents;
        (void)stream_read(io->w.ctx, false);
}

/* ---- the API ---- */

static bool valid_name(const char *name)
{
        return name && *name && !strchr(name, '/') && strcmp(name, ".") != 0 &&
               strcmp(name, "..") != 0 && strlen(name) + 16 <= NAME_MAX;
}

int pk_log_new(struct pk_loop *loop, const char *dir, const char *name,
               const struct pk_log_opts *opts, struct pk_log **ret)
{
        if (!loop || !dir || !ret || !valid_name(name))
                return -EINVAL;
        struct pk_log_opts o = opts ? *opts : (struct pk_log_opts){0};
        if (o.max_age_ms < 0 || o.timestamps < PK_LOG_TIME_NONE ||
            o.timestamps > PK_LOG_TIME_TAI64N || o.max_files > 1000 || o.mode > 07777)
                return -EINVAL;
        if (!o.max_bytes)
                o.max_bytes = PK__LOG_MAX_BYTES;
        if (!o.max_files)
                o.max_files = PK__LOG_MAX_FILES;
        if (!o.line_max)
                o.line_max = PK__LOG_LINE_MAX;
        if (!o.buffer_max)
                o.buffer_max = PK__LOG_BUFFER_MAX;
        if (!o.mode)
                o.mode = PK__LOG_MODE;
        int nstreams = o.apart ? 2 : 1;
        struct pk_log *log = calloc(1, sizeof(*log) + (size_t)nstreams * sizeof(log->p[0]));
        if (!log)
                return -ENOMEM;
        log->loop = loop;
        log->o = o;
        log->n = nstreams;
        for (int i = 0; i < nstreams; i++) {
                log->p[i].s.rfd = log->p[i].s.wfd = -1;
                log->p[i].f.fd = -1;
        }
        int r;
        log->dirfd = pk_fd_open(dir, O_RDONLY | O_DIRECTORY, 0);
        if (log->dirfd < 0) {
                r = log->dirfd;
                goto fail;
        }
        log->dirfd = pk_fd_raise(log->dirfd);
        for (int i = 0; i < nstreams; i++) {
                struct log_file *f = &log->p[i].f;
                struct log_stream *s = &log->p[i].s;
                f->log = log;
                size_t len = strlen(name) + 9;
                f->name = malloc(len);
                if (!f->name) {
                        r = -ENOMEM;
                        goto fail;
                }
                snprintf(f->name, len, "%s%s", name, i ? ".err.log" : ".log");
                pk_loop_timer_init(loop, &f->age);
                pk_loop_timer_init(loop, &f->retry);
                f->age.w.ctx = f->retry.w.ctx = f;
                pk_loop_unref(&f->age.w);
                pk_loop_unref(&f->retry.w);

                int p[2];
                r = pk_fd_pipe(p, 0);
                if (r < 0)
                        goto fail;
                s->rfd = pk_fd_raise(p[0]);
                s->wfd = pk_fd_raise(p[1]);
                s->file = f;
                /* Only our end is non-blocking: a child writing into a full
                 * pipe waits for us (its end is a separate open file). */
                r = pk_fd_set_nonblock(s->rfd, 1);
                if (r < 0)
                        goto fail;
                pk_loop_io_init(loop, &s->io, s->rfd);
                s->log = log; /* from here on the watcher may be stopped */
                s->io.w.ctx = s;
                pk_loop_unref(&s->io.w);
                r = pk_loop_io_start(&s->io, PK_LOOP_READ, on_readable);
                if (r < 0)
                        goto fail;
        }
        *ret = log;
        return 0;
fail:
        for (int i = 0; i < nstreams; i++) {
                if (log->p[i].s.log)
                        pk_loop_io_stop(&log->p[i].s.io);
                if (log->p[i].s.rfd >= 0)
                        close(log->p[i].s.rfd);
                if (log->p[i].s.wfd >= 0)
                        close(log->p[i].s.wfd);
                free(log->p[i].f.name);
        }
        if (log->dirfd >= 0)
                close(log->dirfd);
        free(log);
        return r;
}

int pk_log_fd(const struct pk_log *log, int stream)
{
        if (!log || (stream != 1 && stream != 2))
                return -EINVAL;
        return log->p[log->n == 2 ? stream - 1 : 0].s.wfd;
}

int pk_log_flush(struct pk_log *log)
{
        if (!log)
                return -EINVAL;
        int r = 0;
        for (int i = 0; i < log->n; i++) {
                int e = stream_read(&log->p[i].s, true);
                if (e < 0)
                        r = e;
                e = file_drain(&log->p[i].f);
                if (e < 0 && e != -EAGAIN)
                        r = e;
        }
        return r;
}

int pk_log_stats(const struct pk_log *log, struct pk_log_stats *ret)
{
        if (!log || !ret)
                return -EINVAL;
        *ret = log->st;
        return 0;
}

int pk__log_timers_active(const struct pk_log *log)
{
        int n = 0;
        for (int i = 0; i < log->n; i++)
                n +=
                    pk_loop_is_active(&log->p[i].f.age.w) + pk_loop_is_active(&log->p[i].f.retry.w);
        return n;
}

struct pk_log *pk_log_free(struct pk_log *log)
{
        if (!log)
                return NULL;
        (void)pk_log_flush(log);
        for (int i = 0; i < log->n; i++) {
                struct log_stream *s = &log->p[i].s;
                struct log_file *f = &log->p[i].f;
                pk_loop_io_stop(&s->io);
                close(s->rfd);
                close(s->wfd);
                free(s->partial);
                pk_loop_timer_stop(&f->retry);
                file_close(f);
                pk__dynbuf_free(&f->pend);
                free(f->name);
        }
        close(log->dirfd);
        free(log);
        return NULL;
}
