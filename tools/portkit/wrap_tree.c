/* SPDX-License-Identifier: MIT */
/* The child's process tree for `portkit wrap`: a cgroup v2 of its own when
 * one can be created (every descendant stays in it, even after setsid and a
 * double fork), else its process group plus this process as subreaper (so
 * orphans are re-parented here, where they can be found and killed). */
#include "wrap.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Undoes mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
        char *o = s;
        for (char *p = s; *p; p++) {
                if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
                    p[3] >= '0' && p[3] <= '7') {
                        *o++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
                        p += 3;
                } else {
                        *o++ = *p;
                }
        }
        *o = '\0';
}

/* The cgroup2 mount point and the root it shows, from /proc/self/mountinfo. */
static int find_mount(char *mnt, size_t mnt_size, char *root, size_t root_size)
{
        FILE *f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return -errno;
        char line[4096];
        int r = -ENOENT;
        while (fgets(line, sizeof(line), f)) {
                char *sep = strstr(line, " - ");
                if (!sep || strncmp(sep + 3, "cgroup2 ", 8) != 0)
                        continue;
                *sep = '\0';
                /* id parent maj:min root mountpoint ... */
                char *save = NULL, *fld[5];
                int n = 0;
                for (char *tok = strtok_r(line, " ", &save); tok && n < 5;
                     tok = strtok_r(NULL, " ", &save))
                        fld[n++] = tok;
                if (n < 5)
                        continue;
                unescape(fld[3]);
                unescape(fld[4]);
                if (strlen(fld[4]) >= mnt_size || strlen(fld[3]) >= root_size)
                        continue;
                snprintf(mnt, mnt_size, "%s", fld[4]);
                snprintf(root, root_size, "%s", fld[3]);
                r = 0;
                break;
        }
        fclose(f);
        return r;
}

/* This process's path in the v2 hierarchy ("0::/path" in /proc/self/cgroup). */
static int own_cgroup(char *path, size_t size)
{
        FILE *f = fopen("/proc/self/cgroup", "re");
        if (!f)
                return -errno;
        char line[4096];
        int r = -ENOENT;
        while (fgets(line, sizeof(line), f)) {
                if (strncmp(line, "0::", 3) != 0)
                        continue;
                line[strcspn(line, "\n")] = '\0';
                if (strlen(line + 3) < size) {
                        snprintf(path, size, "%s", line + 3);
                        r = 0;
                }
                break;
        }
        fclose(f);
        return r;
}

static int write_file(const char *dir, const char *name, const char *value)
{
        char p[PATH_MAX + 64];
        snprintf(p, sizeof(p), "%s/%s", dir, name);
        int fd = open(p, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        size_t len = strlen(value);
        ssize_t w;
        do
                w = write(fd, value, len);
        while (w < 0 && errno == EINTR);
        int r = w < 0 ? -errno : (size_t)w == len ? 0 : -EIO;
        close(fd);
        return r;
}

static int file_exists(const char *dir, const char *name)
{
        char p[PATH_MAX + 64];
        snprintf(p, sizeof(p), "%s/%s", dir, name);
        return access(p, F_OK) == 0;
}

static int set_subreaper(void)
{
        return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0 ? -errno : 0;
}

int wrap_tree_init(struct wrap_tree *t, int want)
{
        memset(t, 0, sizeof(*t));
        t->mode = WRAP_TREE_PGROUP;
        /* Subreaper in both modes: in process-group mode it is how orphans are
         * found; in cgroup mode it keeps them from reaching init unkilled. */
        int sr = set_subreaper();
        if (!want)
                return sr < 0 ? sr : -ENOTSUP;
        char mnt[PATH_MAX], root[PATH_MAX], own[PATH_MAX];
        int r = find_mount(mnt, sizeof(mnt), root, sizeof(root));
        if (r == 0)
                r = own_cgroup(own, sizeof(own));
        if (r < 0)
                return r;
        /* The mount may show a subtree (a container's namespace root). */
        const char *rel = own;
        size_t rl = strlen(root);
        if (strcmp(root, "/") != 0) {
                if (strncmp(own, root, rl) != 0 || (own[rl] != '/' && own[rl] != '\0'))
                        return -ENOENT;
                rel = own + rl;
        }
        if (strcmp(rel, "/") == 0)
                rel = "";
        if ((size_t)snprintf(t->home, sizeof(t->home), "%s%s", mnt, rel) >= sizeof(t->home))
                return -ENAMETOOLONG;
        if ((size_t)snprintf(t->path, sizeof(t->path), "%s/portkit-wrap.%d", t->home,
                             (int)getpid()) >= sizeof(t->path))
                return -ENAMETOOLONG;
        if (mkdir(t->path, 0755) < 0 && errno != EEXIST)
                return -errno;
        t->mode = WRAP_TREE_CGROUP;
        t->has_kill = file_exists(t->path, "cgroup.kill");
        return 0;
}

int wrap_tree_limit(struct wrap_tree *t, const char *file, const char *value)
{
        if (t->mode != WRAP_TREE_CGROUP)
                return -ENOTSUP;
        if (!file_exists(t->path, file)) {
                char ctl[32];
                size_t n = strcspn(file, ".");
                if (n + 2 > sizeof(ctl))
                        return -EINVAL;
                ctl[0] = '+';
                memcpy(ctl + 1, file, n);
                ctl[n + 1] = '\0';
                (void)write_file(t->home, "cgroup.subtree_control", ctl);
                if (!file_exists(t->path, file))
                        return -ENODEV;
        }
        return write_file(t->path, file, value);
}

int wrap_tree_enter(struct wrap_tree *t)
{
        if (t->mode != WRAP_TREE_CGROUP)
                return 0;
        char pid[32];
        snprintf(pid, sizeof(pid), "%d", (int)getpid());
        return write_file(t->path, "cgroup.procs", pid);
}

int wrap_tree_leave(struct wrap_tree *t)
{
        if (t->mode != WRAP_TREE_CGROUP)
                return 0;
        char pid[32];
        snprintf(pid, sizeof(pid), "%d", (int)getpid());
        return write_file(t->home, "cgroup.procs", pid);
}

void wrap_tree_adopt(struct wrap_tree *t, pid_t main_pid)
{
        t->main_pid = main_pid;
        t->pgid = main_pid;
}

/* /proc/PID/stat: state, ppid and process group. */
static int proc_stat(pid_t pid, char *state, pid_t *ppid, pid_t *pgrp)
{
        char p[64], buf[1024];
        snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n;
        do
                n = read(fd, buf, sizeof(buf) - 1);
        while (n < 0 && errno == EINTR);
        close(fd);
        if (n <= 0)
                return -EIO;
        buf[n] = '\0';
        /* The command name may hold spaces and ')': the fields follow the last ')'. */
        char *rp = strrchr(buf, ')');
        int pp, pg;
        if (!rp || sscanf(rp + 1, " %c %d %d", state, &pp, &pg) != 3)
                return -EIO;
        *ppid = pp;
        *pgrp = pg;
        return 0;
}

/* Sends sig (0: none) to each live member; returns how many there were.
 * Cgroup mode reads cgroup.procs; process-group mode scans /proc for the
 * group and for orphans re-parented here, reaping zombie orphans on the way
 * (never the main child, which the loop reaps). */
static int for_each_member(struct wrap_tree *t, int sig)
{
        int count = 0;
        if (t->mode == WRAP_TREE_CGROUP) {
                char p[PATH_MAX + 64];
                snprintf(p, sizeof(p), "%s/cgroup.procs", t->path);
                FILE *f = fopen(p, "re");
                if (f) {
                        int pid;
                        while (fscanf(f, "%d", &pid) == 1) {
                                char st = 0;
                                pid_t pp = 0, pg = 0;
                                if (proc_stat(pid, &st, &pp, &pg) < 0 || st == 'Z')
                                        continue;
                                count++;
                                if (sig)
                                        kill(pid, sig);
                        }
                        fclose(f);
                        return count;
                }
                /* The cgroup is unreadable: fall back to the /proc scan. */
        }
        /* Process-group members and orphans re-parented here. */
        DIR *d = opendir("/proc");
        if (!d)
                return count;
        pid_t self = getpid();
        struct dirent *de;
        while ((de = readdir(d))) {
                if (!isdigit((unsigned char)de->d_name[0]))
                        continue;
                pid_t pid = (pid_t)atoi(de->d_name);
                char st = 0;
                pid_t pp = 0, pg = 0;
                if (pid == self || proc_stat(pid, &st, &pp, &pg) < 0)
                        continue;
                int ours = pp == self || (t->pgid > 0 && pg == t->pgid);
                if (!ours)
                        continue;
                if (st == 'Z') {
                        if (pp == self && pid != t->main_pid)
                                (void)waitpid(pid, NULL, WNOHANG);
                        continue;
                }
                count++;
                if (sig)
                        kill(pid, sig);
        }
        closedir(d);
        return count;
}

void wrap_tree_signal(struct wrap_tree *t, int sig)
{
        if (t->pgid > 0)
                kill(-t->pgid, sig);
        (void)for_each_member(t, sig);
}

void wrap_tree_kill(struct wrap_tree *t)
{
        if (t->mode == WRAP_TREE_CGROUP && t->has_kill)
                (void)write_file(t->path, "cgroup.kill", "1");
        wrap_tree_signal(t, SIGKILL);
}

int wrap_tree_alive(struct wrap_tree *t)
{
        return for_each_member(t, 0) > 0;
}

void wrap_tree_reap_orphans(struct wrap_tree *t)
{
        /* Peek (WNOWAIT) so the main child is left for the loop's pidfd
         * watcher: while it is the zombie seen first, the rest wait for the
         * next SIGCHLD after the loop has reaped it. */
        for (int i = 0; i < 4096; i++) {
                siginfo_t si;
                memset(&si, 0, sizeof(si));
                if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == 0)
                        return;
                if (si.si_pid == t->main_pid)
                        return;
                (void)waitpid(si.si_pid, NULL, WNOHANG);
        }
}

void wrap_tree_destroy(struct wrap_tree *t)
{
        if (t->mode == WRAP_TREE_CGROUP && t->path[0]) {
                if (rmdir(t->path) == 0 || errno == ENOENT)
                        t->path[0] = '\0';
        }
}
