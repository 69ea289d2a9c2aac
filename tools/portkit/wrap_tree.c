/* SPDX-License-Identifier: MIT */
/* The child's process tree for `portkit wrap`: a cgroup v2 of its own when
 * one can be created (every descendant stays in it, even after setsid and a
 * double fork) through the sup layer's pk_cgroup API, else its process group
 * plus this process as subreaper (so orphans are re-parented here, where they
 * can be found and killed). */
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
#include <sys/wait.h>
#include <unistd.h>

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
                return sr < 0 ? sr : -EOPNOTSUPP;
        char name[64];
        snprintf(name, sizeof(name), "portkit-wrap.%d", (int)getpid());
        int r = pk_cgroup_create(NULL, name, &t->cg);
        if (r < 0)
                return r;
        t->mode = WRAP_TREE_CGROUP;
        return 0;
}

int wrap_tree_limit(struct wrap_tree *t, const char *file, const char *value)
{
        if (t->mode != WRAP_TREE_CGROUP)
                return -EOPNOTSUPP;
        return pk_cgroup_set(t->cg, file, value);
}

int wrap_tree_place(struct wrap_tree *t, struct pk_cmd *cmd)
{
        if (t->mode != WRAP_TREE_CGROUP)
                return 0;
        return pk_cmd_cgroup(cmd, pk_cgroup_dirfd(t->cg));
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

/* Process-group mode: sends sig (0: none) to each live member of the
 * child's process group and each orphan re-parented here; returns how many
 * there were.  Reaps zombie orphans on the way (never the main child, which
 * the loop reaps). */
static int pgroup_members(struct wrap_tree *t, int sig)
{
        int count = 0;
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
        /* An unreadable cgroup falls back to the /proc scan. */
        if (t->mode != WRAP_TREE_CGROUP || pk_cgroup_signal(t->cg, sig) < 0)
                (void)pgroup_members(t, sig);
}

void wrap_tree_kill(struct wrap_tree *t)
{
        if (t->mode == WRAP_TREE_CGROUP && pk_cgroup_kill(t->cg) == 0) {
                /* Still SIGKILL the process group: a member may have left the
                 * cgroup only if something with the rights moved it. */
                if (t->pgid > 0)
                        kill(-t->pgid, SIGKILL);
                return;
        }
        wrap_tree_signal(t, SIGKILL);
}

int wrap_tree_alive(struct wrap_tree *t)
{
        if (t->mode == WRAP_TREE_CGROUP) {
                /* "populated" counts no zombie: an exited process leaves its
                 * cgroup before it is reaped. */
                int pop = pk_cgroup_populated(t->cg);
                if (pop >= 0)
                        return pop;
        }
        return pgroup_members(t, 0) > 0;
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
        t->cg = pk_cgroup_free(t->cg);
}
