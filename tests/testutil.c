/* SPDX-License-Identifier: MIT */
/* The tests' shared helpers (tests/testutil.h). */
#include "testutil.h"

#include <portkit/spawn.h>

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PORTKIT PK_BUILD_DIR "/portkit"
#define PROBE PK_BUILD_DIR "/tests/helpers/spawn_probe"

/* ---- descriptors ---- */

int tu_count_fds_of(pid_t pid)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
        DIR *d = opendir(path);
        cr_assert(d != NULL, "opendir %s: %s", path, strerror(errno));
        int n = 0;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
                if (e->d_name[0] != '.')
                        n++;
        }
        closedir(d);
        return n;
}

int tu_count_fds(void)
{
        return tu_count_fds_of(getpid()) - 1;
}

bool tu_cloexec(int fd)
{
        int f = fcntl(fd, F_GETFD);
        return f >= 0 && (f & FD_CLOEXEC);
}

bool tu_nonblock(int fd)
{
        int f = fcntl(fd, F_GETFL);
        return f >= 0 && (f & O_NONBLOCK);
}

bool tu_fd_open(int fd)
{
        return fcntl(fd, F_GETFD) >= 0;
}

void tu_tmpdir(char *buf, size_t size)
{
        snprintf(buf, size, "/tmp/pkfd.XXXXXX");
        cr_assert(mkdtemp(buf) != NULL, "mkdtemp");
}

void tu_rmrf(const char *dir)
{
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
                cr_log_warn("could not remove %s", dir);
}

/* ---- processes and signals ---- */

void tu_assert_no_children(const char *fmt, ...)
{
        siginfo_t si;
        memset(&si, 0, sizeof(si));
        int r = waitid(P_ALL, 0, &si, WEXITED | WNOHANG);
        if (r < 0 && errno == ECHILD)
                return;
        char what[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        cr_assert_fail("%s: a child is left: r=%d pid=%d", what, r, (int)si.si_pid);
}

bool tu_blocked(int sig)
{
        sigset_t m;
        pthread_sigmask(SIG_SETMASK, NULL, &m);
        return sigismember(&m, sig) == 1;
}

int tu_status_of(int ws)
{
        return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

bool tu_gone(pid_t pid)
{
        char path[64], buf[512];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return true;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return true;
        buf[n] = 0;
        const char *rp = strrchr(buf, ')');
        return rp && (rp[2] == 'Z' || rp[2] == 'X');
}

void tu_wait_gone(pid_t pid)
{
        for (int i = 0; i < 2000 && !tu_gone(pid); i++) {
                while (waitpid(-1, NULL, WNOHANG) > 0)
                        ;
                usleep(5000);
        }
        cr_assert(tu_gone(pid), "process %d is still running", (int)pid);
}

void tu_read_pids(const char *path, pid_t *pids, int n)
{
        for (int tries = 0; tries < 2000; tries++) {
                FILE *f = fopen(path, "re");
                int got = 0;
                if (f) {
                        int v;
                        while (got < n && fscanf(f, "%d", &v) == 1 && v > 0)
                                pids[got++] = v;
                        fclose(f);
                }
                if (got == n)
                        return;
                usleep(5000);
        }
        cr_assert_fail("not %d pids in %s", n, path);
}

int tu_sh(char **ret_out, const char *fmt, ...)
{
        char cmd[8192];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
        va_end(ap);
        cr_assert(n >= 0 && (size_t)n < sizeof(cmd), "command too long");
        FILE *f = popen(cmd, "re");
        cr_assert_not_null(f, "popen %s", cmd);
        size_t cap = 1 << 16, len = 0, k;
        char *out = malloc(cap);
        cr_assert_not_null(out);
        while ((k = fread(out + len, 1, cap - 1 - len, f)) > 0) {
                len += k;
                if (cap - 1 - len == 0) {
                        char *nb = realloc(out, cap *= 2);
                        cr_assert_not_null(nb);
                        out = nb;
                }
        }
        out[len] = 0;
        int ws = pclose(f);
        if (ret_out)
                *ret_out = out;
        else
                free(out);
        return tu_status_of(ws);
}

/* ---- files ---- */

char *tu_slurp_if(const char *path, size_t *len)
{
        FILE *f = fopen(path, "re");
        if (!f)
                return NULL;
        size_t cap = 4096, n = 0, k;
        char *b = malloc(cap);
        cr_assert_not_null(b);
        while ((k = fread(b + n, 1, cap - n - 1, f)) > 0) {
                n += k;
                if (cap - n < 2) {
                        char *nb = realloc(b, cap *= 2);
                        cr_assert_not_null(nb);
                        b = nb;
                }
        }
        fclose(f);
        b[n] = '\0';
        if (len)
                *len = n;
        return b;
}

char *tu_slurp(const char *path, size_t *len)
{
        char *b = tu_slurp_if(path, len);
        cr_assert_not_null(b, "open %s: %s", path, strerror(errno));
        return b;
}

char *tu_slurp_or_empty(const char *path)
{
        char *b = tu_slurp_if(path, NULL);
        if (!b) {
                b = strdup("");
                cr_assert_not_null(b);
        }
        return b;
}

void tu_write_file(const char *dir, const char *name, const char *fmt, ...)
{
        char path[512];
        int n = snprintf(path, sizeof(path), "%s/%s", dir, name);
        cr_assert(n > 0 && (size_t)n < sizeof(path), "path too long: %s/%s", dir, name);
        FILE *f = fopen(path, "we");
        cr_assert(f, "fopen %s: %s", path, strerror(errno));
        va_list ap;
        va_start(ap, fmt);
        vfprintf(f, fmt, ap);
        va_end(ap);
        cr_assert_eq(fclose(f), 0, "write %s", path);
}

char *tu_slurp_fd(int fd)
{
        off_t n = lseek(fd, 0, SEEK_END);
        cr_assert_geq(n, 0);
        char *s = malloc((size_t)n + 1);
        cr_assert_not_null(s);
        cr_assert_eq(pread(fd, s, (size_t)n, 0), n);
        s[n] = 0;
        close(fd);
        return s;
}

/* ---- record files of the interop escripts ---- */

const uint8_t *tu_next_field(const uint8_t *p, const uint8_t *end, struct tu_field *f)
{
        cr_assert(end - p >= 4, "truncated record file");
        f->n = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        cr_assert((size_t)(end - p - 4) >= f->n, "truncated record");
        f->p = p + 4;
        return p + 4 + f->n;
}

void tu_put_field(FILE *f, const void *p, size_t n)
{
        uint8_t h[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
        cr_assert_eq(fwrite(h, 1, 4, f), 4);
        cr_assert_eq(fwrite(p, 1, n, f), n);
}

bool tu_same(const void *p, size_t n, struct tu_field want)
{
        return n == want.n && memcmp(p, want.p, n) == 0;
}

void tu_count(struct tu_tally *t, bool ok, unsigned i)
{
        t->done++;
        if (!ok && t->bad++ == 0)
                t->first = i;
}

/* ---- the portkit binary ---- */

/* "portkit" and argv into full (40 slots), NULL-terminated. */
static void portkit_argv(const char *const *argv, const char **full)
{
        size_t n = 1;
        full[0] = "portkit";
        for (; argv[n - 1]; n++) {
                cr_assert_lt(n, 39, "too many arguments");
                full[n] = argv[n - 1];
        }
        full[n] = NULL;
}

pid_t tu_portkit_start(const char *const *argv, const char *input, size_t input_len, int *ret_in,
                       int *ret_out, int *ret_err)
{
        int in[2] = {-1, -1};
        if (ret_in) {
                cr_assert_eq(pipe2(in, O_CLOEXEC), 0);
        } else if (input) {
                in[0] = memfd_create("in", MFD_CLOEXEC);
                cr_assert_geq(in[0], 0);
                if (input_len)
                        cr_assert_eq(write(in[0], input, input_len), (ssize_t)input_len);
                lseek(in[0], 0, SEEK_SET);
        } else {
                in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
                cr_assert_geq(in[0], 0);
        }
        int out = memfd_create("out", MFD_CLOEXEC), err = memfd_create("err", MFD_CLOEXEC);
        cr_assert(out >= 0 && err >= 0);
        const char *full[40];
        portkit_argv(argv, full);
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                dup2(in[0], 0);
                dup2(out, 1);
                dup2(err, 2);
                execv(PORTKIT, (char **)(void *)full);
                _exit(127);
        }
        close(in[0]);
        if (ret_in)
                *ret_in = in[1];
        *ret_out = out;
        *ret_err = err;
        return pid;
}

pid_t tu_portkit_start_pty(const char *const *argv, int *ret_master)
{
        int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        cr_assert_geq(m, 0);
        cr_assert_eq(grantpt(m), 0);
        cr_assert_eq(unlockpt(m), 0);
        const char *sname = ptsname(m);
        cr_assert_not_null(sname);
        const char *full[40];
        portkit_argv(argv, full);
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                setsid();
                int s = open(sname, O_RDWR); /* becomes the controlling terminal */
                if (s < 0)
                        _exit(120);
                (void)ioctl(s, TIOCSCTTY, 0);
                dup2(s, 0);
                dup2(s, 1);
                dup2(s, 2);
                execv(PORTKIT, (char **)(void *)full);
                _exit(127);
        }
        *ret_master = m;
        return pid;
}

void tu_portkit_run(const char *const *argv, const char *input, struct tu_res *r)
{
        int out, err, ws;
        pid_t pid = tu_portkit_start(argv, input, input ? strlen(input) : 0, NULL, &out, &err);
        cr_assert_eq(waitpid(pid, &ws, 0), pid);
        r->status = tu_status_of(ws);
        r->out = tu_slurp_fd(out);
        r->err = tu_slurp_fd(err);
}

void tu_res_free(struct tu_res *r)
{
        free(r->out);
        free(r->err);
        r->out = r->err = NULL;
}

/* ---- tests/helpers/spawn_probe reports ---- */

static char report_dir[64], report_path[96];

static void report_cleanup(void)
{
        unlink(report_path);
        rmdir(report_dir);
}

struct pk_cmd *tu_probe_cmd(const char *mode)
{
        if (!report_dir[0]) {
                snprintf(report_dir, sizeof(report_dir), "/tmp/pk-spawn-probe-XXXXXX");
                cr_assert(mkdtemp(report_dir));
                chmod(report_dir, 0777);
                snprintf(report_path, sizeof(report_path), "%s/report", report_dir);
                atexit(report_cleanup);
        }
        struct pk_cmd *c;
        cr_assert_eq(pk_cmd_new(PROBE, &c), 0);
        cr_assert_eq(pk_cmd_arg(c, mode), 0);
        if (strcmp(mode, "report") == 0)
                cr_assert_eq(pk_cmd_arg(c, report_path), 0);
        return c;
}

const char *tu_probe_report_path(void)
{
        cr_assert(report_path[0], "no probe command made yet");
        return report_path;
}

char *tu_probe_take_report(void)
{
        char *rep = tu_slurp(tu_probe_report_path(), NULL);
        unlink(report_path);
        cr_assert(tu_kv(rep, "end"), "report incomplete");
        return rep;
}

const char *tu_kv(const char *rep, const char *key)
{
        static _Thread_local char val[8][8192];
        static _Thread_local unsigned next;
        size_t kl = strlen(key);
        for (const char *p = rep; p && *p;) {
                if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
                        char *out = val[next++ % 8];
                        size_t n = strcspn(p + kl + 1, "\n");
                        snprintf(out, sizeof(val[0]), "%.*s", (int)n, p + kl + 1);
                        return out;
                }
                p = strchr(p, '\n');
                if (p)
                        p++;
        }
        return NULL;
}

bool tu_has_line(const char *rep, const char *line)
{
        size_t n = strlen(line);
        for (const char *p = rep; p && *p;) {
                if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
                        return true;
                p = strchr(p, '\n');
                if (p)
                        p++;
        }
        return false;
}

const char *tu_fd_list(const char *rep)
{
        static _Thread_local char out[4096];
        int fds[1024], n = 0;
        for (const char *p = rep; p && *p && n < 1024;) {
                if (strncmp(p, "fd.", 3) == 0)
                        fds[n++] = atoi(p + 3);
                p = strchr(p, '\n');
                if (p)
                        p++;
        }
        for (int i = 1; i < n; i++)
                for (int j = i; j > 0 && fds[j - 1] > fds[j]; j--) {
                        int t = fds[j];
                        fds[j] = fds[j - 1];
                        fds[j - 1] = t;
                }
        size_t len = 0;
        out[0] = '\0';
        for (int i = 0; i < n; i++)
                len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%d", i ? "," : "", fds[i]);
        return out;
}
