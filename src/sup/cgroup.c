/* SPDX-License-Identifier: MIT */
/* One cgroup v2 per service: find the v2 mount, create a cgroup under a
 * parent we were delegated, kill everything in it (cgroup.kill, or SIGKILL
 * pass after pass on older kernels), learn when it is empty from
 * cgroup.events (EPOLLPRI), set controller limits and say which controller is
 * missing when one is not delegated.  The directory fd is what
 * pk_cmd_cgroup() needs to place a child at birth (CLONE_INTO_CGROUP). */
#include "cglog-internal.h"

#include "portkit/fd.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#ifndef CGROUP2_SUPER_MAGIC
#        define CGROUP2_SUPER_MAGIC 0x63677270
#endif

/* A line of mountinfo or a control file longer than this is refused. */
#define PK__CG_LINE_MAX 65536
/* Fallback kill: passes over cgroup.procs, and how deep child cgroups are walked. */
#define PK__CG_KILL_PASSES 64
#define PK__CG_MAX_DEPTH 32
/* Pids the fallback kill remembers across passes (beyond it a pid counts as new). */
#define PK__CG_KILL_REMEMBER 4096

/* The descriptors are a cache, opened on first use (also through the const
 * handles of the accessors, hence the pointer): pk__cgroup_park() closes
 * them between uses, so they are -1 at times. */
struct cg_fds {
        int dir;
        int events;
};
struct pk_cgroup {
        struct cg_fds *fds; /* &own */
        struct cg_fds own;
        char *path;
};

/* The cgroup's directory descriptor, opened again if parked; or -errno. */
static int dir_fd(const struct pk_cgroup *cg)
{
        if (cg->fds->dir < 0) { /* held for a while: out of what spawns copy */
                int d = pk_fd_open(cg->path, O_RDONLY | O_DIRECTORY, 0);
                cg->fds->dir = d < 0 ? d : pk_fd_raise(d);
        }
        return cg->fds->dir;
}

/* Its cgroup.events descriptor, opened again if parked; or -errno. */
static int events_fd(const struct pk_cgroup *cg)
{
        if (cg->fds->events < 0) {
                int d = dir_fd(cg);
                if (d < 0)
                        return d;
                int e = pk_fd_openat(d, "cgroup.events", O_RDONLY, 0);
                cg->fds->events = e < 0 ? e : pk_fd_raise(e);
        }
        return cg->fds->events;
}

void pk__cgroup_park(struct pk_cgroup *cg)
{
        if (!cg)
                return;
        if (cg->fds->events >= 0)
                close(cg->fds->events);
        if (cg->fds->dir >= 0)
                close(cg->fds->dir);
        cg->fds->events = cg->fds->dir = -1;
}

/* Copies s (n bytes) into buf as a C string, or -ENAMETOOLONG. */
static int put_str(char *buf, size_t size, const char *s, size_t n)
{
        if (n >= size)
                return -ENAMETOOLONG;
        memcpy(buf, s, n);
        buf[n] = '\0';
        return 0;
}

/* Undoes mountinfo's octal escapes (\040 for a space) in place; returns the new length. */
static size_t unescape(char *s)
{
        size_t o = 0;
        for (size_t i = 0; s[i]; i++) {
                if (s[i] == '\\' && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
                    s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
                        s[o++] =
                            (char)((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
                        i += 3;
                } else {
                        s[o++] = s[i];
                }
        }
        s[o] = '\0';
        return o;
}

int pk__cgroup_v2_mount_from(const char *mountinfo, char *buf, size_t size)
{
        if (!mountinfo || !buf || size == 0)
                return -EINVAL;
        FILE *f = fopen(mountinfo, "re");
        if (!f)
                return -errno;
        char *line = NULL, *first = NULL;
        size_t cap = 0;
        int r = -ENOENT;
        ssize_t n;
        while ((n = getline(&line, &cap, f)) > 0) {
                if (n > PK__CG_LINE_MAX)
                        continue;
                /* id parent maj:min root mountpoint options [optional...] - fstype source super */
                char *fields[6] = {0};
                char *save = NULL, *tok = strtok_r(line, " \n", &save);
                int nf = 0;
                while (tok && nf < 5) {
                        fields[nf++] = tok;
                        tok = strtok_r(NULL, " \n", &save);
                }
                while (tok && strcmp(tok, "-") != 0)
                        tok = strtok_r(NULL, " \n", &save);
                char *fstype = tok ? strtok_r(NULL, " \n", &save) : NULL;
                if (nf < 5 || !fstype || strcmp(fstype, "cgroup2") != 0)
                        continue;
                unescape(fields[4]);
                if (strcmp(fields[3], "/") == 0) {
                        free(first);
                        first = strdup(fields[4]);
                        if (!first)
                                r = -ENOMEM;
                        break;
                }
                if (!first && !(first = strdup(fields[4]))) {
                        r = -ENOMEM;
                        break;
                }
        }
        if (n < 0 && ferror(f))
                r = -EIO;
        fclose(f);
        free(line);
        if (first && r != -ENOMEM)
                r = put_str(buf, size, first, strlen(first));
        free(first);
        return r;
}

int pk_cgroup_v2_mount(char *buf, size_t size)
{
        return pk__cgroup_v2_mount_from("/proc/self/mountinfo", buf, size);
}

int pk__cgroup_self_from(const char *mountinfo, const char *proc_cgroup, char *buf, size_t size)
{
        char mnt[PATH_MAX];
        int r = pk__cgroup_v2_mount_from(mountinfo, mnt, sizeof(mnt));
        if (r < 0)
                return r;
        FILE *f = fopen(proc_cgroup, "re");
        if (!f)
                return -errno;
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        r = -ENOENT;
        while ((n = getline(&line, &cap, f)) > 0) {
                if (strncmp(line, "0::", 3) != 0)
                        continue;
                if (line[n - 1] == '\n')
                        line[--n] = '\0';
                const char *rel = line + 3;
                /* "/" is the root: the mount point itself. */
                while (*rel == '/')
                        rel++;
                if (strlen(mnt) + 1 + strlen(rel) + 1 > size) {
                        r = -ENAMETOOLONG;
                } else {
                        snprintf(buf, size, "%s%s%s", mnt, *rel ? "/" : "", rel);
                        r = 0;
                }
                break;
        }
        fclose(f);
        free(line);
        return r;
}

int pk_cgroup_self(char *buf, size_t size)
{
        if (!buf || size == 0)
                return -EINVAL;
        return pk__cgroup_self_from("/proc/self/mountinfo", "/proc/self/cgroup", buf, size);
}

static bool valid_name(const char *name)
{
        return name && *name && !strchr(name, '/') && strcmp(name, ".") != 0 &&
               strcmp(name, "..") != 0 && strlen(name) <= NAME_MAX;
}

int pk__cgroup_parent_open(const char *parent)
{
        int pfd = pk_fd_open(parent, O_RDONLY | O_DIRECTORY, 0);
        if (pfd < 0)
                return pfd;
        struct statfs sfs;
        int r = fstatfs(pfd, &sfs) < 0 ? -errno : 0;
        if (r == 0 && sfs.f_type != CGROUP2_SUPER_MAGIC)
                r = -EOPNOTSUPP;
        if (r < 0)
                pk_fd_close(pfd);
        return r < 0 ? r : pfd;
}

int pk__cgroup_make_at(int pfd, const char *parent, const char *name, bool create,
                       bool *ret_existed, struct pk_cgroup **ret)
{
        if (!ret || !valid_name(name))
                return -EINVAL;
        bool existed = !create;
        if (create && mkdirat(pfd, name, 0755) < 0) {
                if (errno != EEXIST)
                        return -errno;
                existed = true;
        }
        struct pk_cgroup *cg = calloc(1, sizeof(*cg));
        size_t pl = strlen(parent), nl = strlen(name);
        char *path = malloc(pl + 1 + nl + 1);
        if (!cg || !path) {
                free(cg);
                free(path);
                return -ENOMEM;
        }
        /* "/sys/fs/cgroup/" + name: no doubled slash. */
        while (pl > 1 && parent[pl - 1] == '/')
                pl--;
        /* parent starts with '/': one byte left means it is "/" itself. */
        snprintf(path, pl + 1 + nl + 1, "%.*s%s%s", (int)pl, parent, pl <= 1 ? "" : "/", name);
        cg->path = path;
        cg->fds = &cg->own;
        cg->fds->events = -1; /* opened when first needed (events_fd) */
        int d = pk_fd_openat(pfd, name, O_RDONLY | O_DIRECTORY, 0);
        if (d < 0) {
                cg->fds->dir = -1;
                pk_cgroup_free(cg);
                return d;
        }
        cg->fds->dir = pk_fd_raise(d);
        if (ret_existed)
                *ret_existed = existed;
        *ret = cg;
        return 0;
}

/* Opens parent/name as a held cgroup; with create, makes the directory first
 * when it is not there (else -ENOENT). */
static int open_cgroup(const char *parent, const char *name, bool create, struct pk_cgroup **ret)
{
        if (!ret || !valid_name(name) || (parent && parent[0] != '/'))
                return -EINVAL;
        char self[PATH_MAX] = "";
        if (!parent) {
                int r = pk_cgroup_self(self, sizeof(self));
                if (r < 0)
                        return r;
                parent = self;
        }
        if (parent[0] != '/')
                return -EINVAL;
        PK_CLEANUP_FD int pfd = pk__cgroup_parent_open(parent);
        if (pfd < 0)
                return pfd;
        return pk__cgroup_make_at(pfd, parent, name, create, NULL, ret);
}

int pk_cgroup_create(const char *parent, const char *name, struct pk_cgroup **ret)
{
        return open_cgroup(parent, name, true, ret);
}

int pk_cgroup_dirfd(const struct pk_cgroup *cg)
{
        return cg ? dir_fd(cg) : -EINVAL;
}

const char *pk_cgroup_path(const struct pk_cgroup *cg)
{
        return cg ? cg->path : NULL;
}

int pk_cgroup_events_fd(const struct pk_cgroup *cg)
{
        return cg ? events_fd(cg) : -EINVAL;
}

/* Reads a small control file of dirfd whole into buf (NUL-terminated). */
static ssize_t read_small(int dirfd, const char *file, char *buf, size_t size)
{
        buf[0] = '\0';
        PK_CLEANUP_FD int fd = pk_fd_openat(dirfd, file, O_RDONLY, 0);
        if (fd < 0)
                return fd;
        size_t len = 0;
        while (len + 1 < size) {
                ssize_t n = read(fd, buf + len, size - 1 - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        buf[len] = '\0';
        return (ssize_t)len;
}

/* Writes s into dirfd/file in one write (control files take one value per write). */
static int write_small(int dirfd, const char *file, const char *s)
{
        PK_CLEANUP_FD int fd = pk_fd_openat(dirfd, file, O_WRONLY, 0);
        if (fd < 0)
                return fd;
        size_t len = strlen(s);
        for (;;) {
                ssize_t n = write(fd, s, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                return (size_t)n == len ? 0 : -EIO;
        }
}

int pk_cgroup_populated(const struct pk_cgroup *cg)
{
        if (!cg)
                return -EINVAL;
        char buf[256];
        /* Read from offset 0 through the held fd: the read is what re-arms
         * the kernel's EPOLLPRI notification for this open file. */
        int fd = events_fd(cg);
        if (fd < 0)
                return fd;
        ssize_t n;
        do
                n = pread(fd, buf, sizeof(buf) - 1, 0);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        for (const char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
                if (strncmp(p, "populated ", 10) == 0) {
                        if (p[10] == '0' || p[10] == '1')
                                return p[10] - '0';
                        break;
                }
        }
        return -EIO;
}

/* What the fallback passes remember: the pids already sent SIGKILL (up to a
 * bound) and how many listed pids a pass found that were not among them. */
struct kill_state {
        pid_t killed[PK__CG_KILL_REMEMBER];
        size_t n;
        unsigned long fresh;
};

/* Counts pid as fresh unless an earlier pass already killed it. */
static void note_killed(struct kill_state *ks, pid_t pid)
{
        for (size_t i = 0; i < ks->n; i++)
                if (ks->killed[i] == pid)
                        return;
        ks->fresh++;
        if (ks->n < PK__CG_KILL_REMEMBER)
                ks->killed[ks->n++] = pid;
}

/* Calls fn(dirfd of the child, its name, depth + 1, ud) for each child
 * cgroup (subdirectory) of dirfd, until fn returns non-zero (that value is
 * returned).  A child removed meanwhile is skipped. */
static int each_child(int dirfd, int depth, int (*fn)(int, const char *, int, void *), void *ud)
{
        int dfd = pk_fd_openat(dirfd, ".", O_RDONLY | O_DIRECTORY, 0);
        if (dfd < 0)
                return dfd;
        DIR *d = fdopendir(dfd);
        if (!d) {
                int e = -errno;
                close(dfd);
                return e;
        }
        int r = 0;
        struct dirent *de;
        while (r == 0 && (de = readdir(d))) {
                if (de->d_type != DT_DIR || de->d_name[0] == '.')
                        continue;
                int sub = pk_fd_openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY, 0);
                if (sub < 0)
                        continue; /* removed meanwhile */
                r = fn(sub, de->d_name, depth + 1, ud);
                close(sub);
        }
        closedir(d);
        return r;
}

struct pass_args {
        int sig;
        struct kill_state *ks;
};

static int signal_pass(int dirfd, int depth, int sig, struct kill_state *ks);

static int signal_child(int dirfd, const char *name, int depth, void *ud)
{
        (void)name;
        const struct pass_args *a = ud;
        return signal_pass(dirfd, depth, a->sig, a->ks);
}

/* One pass over dirfd's tree: sig to every listed pid (pid 0 never), noting in
 * *ks (when not NULL) those no earlier pass had signalled. */
static int signal_pass(int dirfd, int depth, int sig, struct kill_state *ks)
{
        /* cgroup.procs, read in chunks; a pid may straddle two chunks. */
        {
                PK_CLEANUP_FD int fd = pk_fd_openat(dirfd, "cgroup.procs", O_RDONLY, 0);
                if (fd < 0)
                        return fd;
                char buf[4096];
                long pid = -1;
                for (;;) {
                        ssize_t n = read(fd, buf, sizeof(buf));
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n < 0)
                                return -errno;
                        /* n == 0 (the end) ends a last number without a newline. */
                        for (ssize_t i = 0; i < (n ? n : 1); i++) {
                                char c = n ? buf[i] : '\n';
                                if (c >= '0' && c <= '9') {
                                        pid = (pid < 0 ? 0 : pid) * 10 + (c - '0');
                                        if (pid > INT_MAX)
                                                return -EIO;
                                } else if (pid >= 0) {
                                        if (pid > 0 && kill((pid_t)pid, sig) < 0 && errno != ESRCH)
                                                return -errno;
                                        if (pid > 0 && ks)
                                                note_killed(ks, (pid_t)pid);
                                        pid = -1;
                                }
                        }
                        if (n == 0)
                                break;
                }
        }
        if (depth >= PK__CG_MAX_DEPTH)
                return 0;
        struct pass_args a = {.sig = sig, .ks = ks};
        return each_child(dirfd, depth, signal_child, &a);
}

int pk__cgroup_kill_procs(struct pk_cgroup *cg)
{
        if (!cg)
                return -EINVAL;
        /* A process that got SIGKILL cannot fork any more (copy_process fails
         * on a pending fatal signal), so each pass only meets processes forked
         * before the previous pass reached their parent.  A killed process
         * stays listed until it has exited, which on a loaded machine can take
         * longer than many passes: a pass that finds only pids already killed
         * is the end (the caller watches cgroup.events for the empty cgroup). */
        struct kill_state *ks = calloc(1, sizeof(*ks));
        if (!ks)
                return -ENOMEM;
        int r = -EAGAIN;
        for (int pass = 0; pass < PK__CG_KILL_PASSES; pass++) {
                ks->fresh = 0;
                int d = dir_fd(cg);
                int pr = d < 0 ? d : signal_pass(d, 0, SIGKILL, ks);
                if (pr < 0 || ks->fresh == 0) {
                        r = pr;
                        break;
                }
                if (pass > 0)
                        sched_yield();
        }
        free(ks);
        return r;
}

int pk_cgroup_kill(struct pk_cgroup *cg)
{
        if (!cg)
                return -EINVAL;
        int d = dir_fd(cg);
        int r = d < 0 ? d : write_small(d, "cgroup.kill", "1");
        if (r == -ENOENT)
                return pk__cgroup_kill_procs(cg);
        return r;
}

int pk_cgroup_signal(struct pk_cgroup *cg, int sig)
{
        if (!cg || sig < 0 || sig >= NSIG)
                return -EINVAL;
        /* Counted like the fallback kill, so the caller learns how many were
         * reached (a process listed twice across child cgroups counts once). */
        struct kill_state *ks = calloc(1, sizeof(*ks));
        if (!ks)
                return -ENOMEM;
        int d = dir_fd(cg);
        int r = d < 0 ? d : signal_pass(d, 0, sig, ks);
        unsigned long n = ks->fresh;
        free(ks);
        if (r < 0)
                return r;
        return n > INT_MAX ? INT_MAX : (int)n;
}

int pk_cgroup_wait_empty(const struct pk_cgroup *cg, int64_t timeout_ms)
{
        if (!cg)
                return -EINVAL;
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (;;) {
                int r = pk_cgroup_populated(cg);
                if (r <= 0)
                        return r; /* 0: empty; or the read's error */
                int wait = -1;
                if (timeout_ms >= 0) {
                        struct timespec t;
                        clock_gettime(CLOCK_MONOTONIC, &t);
                        int64_t spent = (int64_t)(t.tv_sec - t0.tv_sec) * 1000 +
                                        (t.tv_nsec - t0.tv_nsec) / 1000000;
                        if (spent >= timeout_ms)
                                return -ETIMEDOUT;
                        int64_t left = timeout_ms - spent;
                        wait = left > INT_MAX ? INT_MAX : (int)left;
                }
                /* "populated" changing raises POLLPRI on the events file (the
                 * read in pk_cgroup_populated() re-armed it). */
                struct pollfd p = {.fd = events_fd(cg), .events = POLLPRI};
                if (poll(&p, 1, wait) < 0 && errno != EINTR)
                        return -errno;
        }
}

/* Removes every child cgroup below dirfd, deepest first (they must be empty). */
static int remove_children(int dirfd, int depth);

static int remove_child(int dirfd, const char *name, int depth, void *ud)
{
        int parent = *(const int *)ud;
        int r = remove_children(dirfd, depth);
        if (r == 0 && unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                r = -errno;
        return r;
}

static int remove_children(int dirfd, int depth)
{
        if (depth >= PK__CG_MAX_DEPTH)
                return -ELOOP;
        return each_child(dirfd, depth, remove_child, &dirfd);
}

int pk_cgroup_reclaim(const char *parent, const char *name, int64_t timeout_ms, int *ret_killed)
{
        if (!parent)
                return -EINVAL;
        struct pk_cgroup *cg = NULL;
        int r = open_cgroup(parent, name, false, &cg);
        if (r < 0)
                return r;
        /* One counted pass first (what the log reports), then the kill that
         * also catches what forked meanwhile. */
        int n = pk_cgroup_signal(cg, SIGKILL);
        r = n < 0 ? n : pk_cgroup_kill(cg);
        if (r == 0)
                r = pk_cgroup_wait_empty(cg, timeout_ms);
        if (r == 0)
                r = dir_fd(cg);
        if (r >= 0)
                r = remove_children(r, 0);
        if (r == 0 && rmdir(cg->path) < 0 && errno != ENOENT)
                r = -errno;
        pk_cgroup_free(cg);
        if (r == 0 && ret_killed)
                *ret_killed = n;
        return r;
}

int pk_cgroup_controller(const char *file, char *buf, size_t size)
{
        if (!file)
                return -EINVAL;
        const char *dot = strchr(file, '.');
        if (!dot || dot == file)
                return -EINVAL;
        return snprintf(buf, size, "%.*s", (int)(dot - file), file);
}

/* Whether the space-separated list has the word w (n bytes). */
static bool has_word(const char *list, const char *w, size_t n)
{
        for (const char *p = list; *p;) {
                while (*p == ' ' || *p == '\n')
                        p++;
                size_t k = strcspn(p, " \n");
                if (k == n && memcmp(p, w, n) == 0)
                        return true;
                p += k;
        }
        return false;
}

/* Whether controller (n bytes) is enabled for cg: in its cgroup.controllers. */
static int controller_available(const struct pk_cgroup *cg, const char *name, size_t n)
{
        char list[1024];
        int d = dir_fd(cg);
        ssize_t r = d < 0 ? d : read_small(d, "cgroup.controllers", list, sizeof(list));
        if (r < 0)
                return (int)r;
        return has_word(list, name, n);
}

int pk_cgroup_set(struct pk_cgroup *cg, const char *file, const char *value)
{
        if (!cg || !value || !valid_name(file))
                return -EINVAL;
        int d = dir_fd(cg);
        int r = d < 0 ? d : write_small(d, file, value);
        if (r != -ENOENT)
                return r;
        /* The interface files of a controller exist only where the parent
         * enabled it: tell "not delegated" apart from a misspelt file. */
        const char *dot = strchr(file, '.');
        if (!dot || dot == file || strncmp(file, "cgroup.", 7) == 0)
                return r;
        int avail = controller_available(cg, file, (size_t)(dot - file));
        if (avail < 0)
                return avail;
        return avail ? -ENOENT : -EOPNOTSUPP;
}

int pk_cgroup_delegate(struct pk_cgroup *cg, const char *controllers)
{
        if (!cg || !controllers)
                return -EINVAL;
        char list[1024];
        int d = dir_fd(cg);
        ssize_t lr = d < 0 ? d : read_small(d, "cgroup.controllers", list, sizeof(list));
        if (lr < 0)
                return (int)lr;
        char req[1024];
        size_t o = 0;
        for (const char *p = controllers; *p;) {
                while (*p == ' ')
                        p++;
                size_t k = strcspn(p, " ");
                if (k == 0)
                        break;
                if (!has_word(list, p, k))
                        return -EOPNOTSUPP;
                if (o + k + 2 >= sizeof(req))
                        return -EINVAL;
                if (o)
                        req[o++] = ' ';
                req[o++] = '+';
                memcpy(req + o, p, k);
                o += k;
                p += k;
        }
        if (o == 0)
                return -EINVAL;
        req[o] = '\0';
        return d < 0 ? d : write_small(d, "cgroup.subtree_control", req);
}

struct pk_cgroup *pk_cgroup_close(struct pk_cgroup *cg)
{
        if (!cg)
                return NULL;
        pk__cgroup_park(cg);
        free(cg->path);
        free(cg);
        return NULL;
}

struct pk_cgroup *pk_cgroup_free(struct pk_cgroup *cg)
{
        if (!cg)
                return NULL;
        pk__cgroup_park(cg);
        /* Only an empty cgroup can go; a busy one (EBUSY) stays for its owner. */
        if (cg->path)
                (void)rmdir(cg->path);
        return pk_cgroup_close(cg);
}
