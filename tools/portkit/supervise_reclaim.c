/* SPDX-License-Identifier: MIT */
/* `portkit supervise --reclaim=auto`: at start, the cgroups beside ours that a
 * supervise killed with SIGKILL left behind (`portkit-supervise.<pid>` whose
 * pid no longer runs in our cgroup) are emptied and removed, so that their
 * services never run twice.  The work is the sup layer's pk_cgroup_reclaim(). */
#include "cli.h"
#include "supervise.h"
#include "supervise_socket.h"

#include <portkit.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* How long a reclaim waits for SIGKILLed processes to be gone. */
#define SV_RECLAIM_TIMEOUT_MS 10000

/* 1 when @pid is listed in @dir's cgroup.procs, 0 when not, or a negative errno. */
static int pid_in_cgroup(const char *dir, pid_t pid)
{
        char path[PATH_MAX];
        if (snprintf(path, sizeof(path), "%s/cgroup.procs", dir) >= (int)sizeof(path))
                return -ENAMETOOLONG;
        FILE *f = fopen(path, "re");
        if (!f)
                return -errno;
        long p;
        int found = 0;
        while (!found && fscanf(f, "%ld", &p) == 1)
                found = p == (long)pid;
        int r = !found && ferror(f) ? -EIO : found;
        fclose(f);
        return r;
}

/* The pid in an instance cgroup's name as supervise writes it (decimal, no
 * leading zero), or 0 for any other name. */
static pid_t instance_pid(const char *name)
{
        size_t pl = strlen(PK_SV_INSTANCE_PREFIX);
        if (strncmp(name, PK_SV_INSTANCE_PREFIX, pl) != 0)
                return 0;
        const char *num = name + pl;
        if (num[0] < '1' || num[0] > '9' || strlen(num) > 10)
                return 0;
        char *end;
        long pid = strtol(num, &end, 10);
        return *end || pid > INT_MAX ? 0 : (pid_t)pid;
}

/* The names of the cgroups directly below @dir/@name ("supervise.nginx.service,
 * ..."), cut with "..." past @size; "none" when there are none. */
static void child_names(const char *dir, const char *name, char *buf, size_t size)
{
        char path[PATH_MAX];
        snprintf(buf, size, "none");
        if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
                return;
        DIR *d = opendir(path);
        if (!d)
                return;
        size_t o = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_type != DT_DIR || de->d_name[0] == '.')
                        continue;
                int n = snprintf(buf + o, size - o, "%s%s", o ? ", " : "", de->d_name);
                if (n < 0 || (size_t)n >= size - o) {
                        snprintf(buf + (size > 4 ? size - 4 : 0), size > 4 ? 4 : size, "...");
                        break;
                }
                o += (size_t)n;
        }
        closedir(d);
}

/* flock(LOCK_EX | LOCK_NB) on fd: 0, or -EWOULDBLOCK while another holds it. */
static int lock(int fd)
{
        while (flock(fd, LOCK_EX | LOCK_NB) < 0)
                if (errno != EINTR)
                        return -errno;
        return 0;
}

int pk_sv_instance_lock(const struct pk_cgroup *cg)
{
        int fd = pk_cgroup_dirfd(cg);
        return fd < 0 ? fd : lock(fd);
}

/* Reclaims the instance cgroup self/name of supervise pid when it is stale.
 * 0 (reclaimed, live, or gone meanwhile), or a negative error already printed. */
static int reclaim_one(const char *self, int parent_fd, const char *name, pid_t pid)
{
        /* Live: its supervise holds the lock on the directory (whatever pid
         * namespace it runs in), or, for one that takes no lock (an older
         * portkit), its pid runs in this cgroup, where it made the directory.
         * Holding the lock ourselves also keeps a second reclaimer off.  Our
         * own pid on an unlocked directory means a supervise that had our pid
         * before us died without removing it. */
        int lfd = pk_fd_openat(parent_fd, name, O_RDONLY | O_DIRECTORY, 0);
        if (lfd < 0 || lock(lfd) < 0) {
                pk_fd_close(lfd);
                return 0; /* gone meanwhile, or live */
        }
        int live = pid == getpid() ? 0 : pid_in_cgroup(self, pid);
        if (live < 0)
                logf_("%s/%s: cannot tell whether supervise %d runs: %s; left alone", self, name,
                      (int)pid, pk_strerror(live));
        int r = 0, killed = 0;
        char names[1024];
        if (live == 0) {
                child_names(self, name, names, sizeof(names));
                r = pk_cgroup_reclaim(self, name, SV_RECLAIM_TIMEOUT_MS, &killed);
        }
        pk_fd_close(lfd);
        if (live != 0 || r == -ENOENT)
                return 0;
        if (r < 0) {
                pk_cli_error("supervise",
                             "cannot reclaim %s/%s, left by supervise %d which is gone (its "
                             "services would run twice): %s",
                             self, name, (int)pid, pk_strerror(r));
                return r;
        }
        logf_("reclaimed %s/%s, left by supervise %d which is gone: killed %d processes in %s",
              self, name, (int)pid, killed, names);
        return 0;
}

int pk_sv_reclaim(void)
{
        char self[PATH_MAX];
        if (pk_cgroup_self(self, sizeof(self)) < 0)
                return 0; /* no cgroup v2 here: no instance of ours can have left one */
        DIR *d = opendir(self);
        if (!d)
                return 0;
        int rc = 0;
        struct dirent *de;
        while (rc == 0 && (de = readdir(d))) {
                pid_t pid = de->d_type == DT_DIR ? instance_pid(de->d_name) : 0;
                if (pid > 0)
                        rc = reclaim_one(self, dirfd(d), de->d_name, pid);
        }
        closedir(d);
        return rc;
}
